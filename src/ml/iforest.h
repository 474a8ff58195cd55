/*
 * The isolation forest (iforest.c): anomaly detection by random
 * partitioning (Liu, Ting and Zhou, 2008). Its model is an ml_model of
 * task ML_ANOMALY whose outputs are "score" (in (0, 1], higher is more
 * anomalous) and "anomaly" (0 or 1 from the contamination threshold).
 */
#ifndef SLUICE_ML_IFOREST_H
#define SLUICE_ML_IFOREST_H

#include "ml/ml.h"

#define ML_IFOREST_MAX_TREES 10000
#define ML_IFOREST_MAX_SAMPLE (1u << 20)

typedef struct ml_iforest_opts {
	unsigned trees;       /* 1 .. ML_IFOREST_MAX_TREES */
	size_t sample_size;   /* rows per tree, >= 2; more than the data has is capped */
	double contamination; /* share of training rows flagged, (0, 0.5]; 0: "auto",
			       * the paper's rule: a score above 0.5 is an anomaly */
	uint64_t seed;
	unsigned threads;     /* 0: one per CPU */
} ml_iforest_opts;

/*
 * Fits a forest to the frame's rows (fr->sig.task must be ML_ANOMALY; the
 * frame may hold missing values and string features). *out is a new model
 * (free with ml_model_free); its info records the threshold, the sample
 * size used and the share of training rows flagged.
 */
int ml_iforest_fit(const ml_frame *fr, const ml_iforest_opts *o, ml_model **out);

/* c(n): the average path length of an unsuccessful search in a binary
 * search tree of n keys, the normaliser of the score. */
double ml_iforest_c(double n);

#endif
