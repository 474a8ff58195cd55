/*
 * train.naive_bayes's fit (naive_bayes.c). Prefix nb_.
 */
#ifndef SLUICE_ML_NB_H
#define SLUICE_ML_NB_H

#include "ml/ml.h"

typedef enum nb_kind { NB_MULTINOMIAL, NB_GAUSSIAN, NB_BERNOULLI } nb_kind;

typedef struct nb_opts {
	nb_kind kind;
	double alpha;          /* additive smoothing (multinomial, bernoulli) */
	double var_smoothing;  /* gaussian: added variance, times the largest feature variance */
	double binarize;       /* bernoulli: a value above it counts as present */
	bool fit_prior;        /* false: uniform class priors */
	unsigned threads;
} nb_opts;

extern const ml_ops ml_naive_bayes_ops;

bool nb_kind_parse(const char *s, nb_kind *out);
const char *nb_kind_name(nb_kind k);
int nb_opts_check(const nb_opts *o);
/* Fits a classifier on fr (task ML_BINARY or ML_MULTICLASS, numeric features). */
int nb_fit(const ml_frame *fr, const nb_opts *o, ml_model **out);

#endif
