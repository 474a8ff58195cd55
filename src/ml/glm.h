/*
 * What the two linear families share (glm.c): the design that turns a row
 * of model inputs into the vector a linear model weighs (one-hot columns
 * for string features), the fitted model's state, and its predict,
 * explain, save and load. linear.c and logistic.c only fit. Prefixes
 * glm_, linear_, logistic_.
 *
 *   model inputs x (signature order)          design columns c = 0 .. q-1
 *     numeric feature j    ------------->     one column: x_j
 *     string feature j     ------------->     one column per category seen in
 *       (x_j = dictionary code)               training: [x_j == code]
 *
 * The raw score of group g (the prediction of a regression, the log-odds of
 * class 1 of a binary classifier, the margin of class g of a multinomial
 * one) is
 *
 *   raw_g(x) = base_g + sum_j contrib_gj(x)
 *   contrib_gj = coef_g[c] * (x_j - mean[c])              numeric j, column c
 *              = coef_g[c] - sum_{c' of j} coef_g[c'] mean[c']
 *                                                         string j, category c
 *              = 0                                        x_j missing (NaN, or
 *                                                         a category training
 *                                                         never saw)
 *   base_g     = intercept_g + sum_c coef_g[c] mean[c]
 *
 * where mean[c] is the column's mean over the training rows (for a one-hot
 * column: the category's frequency). This is the same function as
 * intercept_g + sum_c coef_g[c] z_c, written relative to the training mean:
 * the contributions are exactly SHAP's linear explanation with the training
 * mean as the background (independent features), base_g is the average raw
 * score over the training rows, and a missing input is taken at its
 * reference, so it contributes exactly zero.
 *
 * Invariants:
 *  1. predict and explain add the same terms in the same order, so the
 *     contributions plus the base value give the raw score up to the
 *     rounding of one sum.
 *  2. Every index read from a model file is checked against q and the
 *     signature before use (ml.h invariant 4).
 */
#ifndef SLUICE_ML_GLM_H
#define SLUICE_ML_GLM_H

#include "ml/ml.h"

/* ---- the design ---------------------------------------------------------- */

typedef struct glm_design {
	size_t p;          /* signature features */
	size_t q;          /* design columns */
	int32_t *col;      /* p: a numeric feature's column; -1 for a string feature */
	int32_t *cat;      /* per string feature, per dictionary code: its column,
			    * or -1 for a category absent from the training rows */
	size_t *cat_off;   /* p: where feature j's codes start in cat */
	size_t n_cat;
	uint32_t *owner;   /* q: the feature a column belongs to */
	uint32_t *level;   /* q: a one-hot column's dictionary code */
	double *mean;      /* q: mean over the training rows (the reference) */
	double *scale;     /* q: standard deviation over the training rows (> 0) */
	int32_t *fitcol;   /* q: the column's index in the fit matrix, or -1 for
			    * the reference level an unpenalised fit leaves out */
	size_t q_fit;      /* columns in the fit matrix */
} glm_design;

/*
 * The design of a training frame: one column per numeric feature, one per
 * category present in the training rows of a string feature. With
 * drop_first, each string feature's first category in byte order is the
 * reference level and gets no column in the fit (its coefficient is 0),
 * which an unpenalised fit with an intercept needs to be identifiable.
 */
int glm_design_build(const ml_frame *fr, bool drop_first, unsigned threads, glm_design *d);
void glm_design_free(glm_design *d); /* accepts a zeroed d */

/* "x" for a numeric column, "col=value" for a one-hot column (newly allocated). */
char *glm_column_name(const ml_signature *sig, const glm_design *d, size_t c);

/*
 * The fit matrix: fr->n rows of d->q_fit doubles (row-major; newly
 * allocated, free with sl__free): every column not dropped, standardised as
 * (x - shift) / scale with shift the mean when center, else 0.
 */
int glm_design_matrix(const ml_frame *fr, const glm_design *d, bool center, unsigned threads,
		      double **out_Z);

/* ---- the fitted model ------------------------------------------------------- */

/*
 * Makes the model of a fit: coef (groups x d->q, on the original scale,
 * dropped columns 0) and intercept (groups). Copies the frame's signature;
 * takes ownership of d's contents and of params (stolen); coef and
 * intercept stay the caller's. Records in info what users read: the
 * intercept and coefficients by column name, the reference values and the
 * base value. Groups: 1 for regression and binary, the number of classes
 * for multiclass.
 */
int glm_model_new(const ml_ops *ops, const ml_frame *fr, glm_design *d, const double *coef,
		  const double *intercept, size_t groups, json_t *params, ml_model **out);

/* The ml_ops members both linear families use. */
int glm_predict(const ml_model *m, const double *X, size_t n, double *out);
int glm_explain(const ml_model *m, const double *X, size_t n, double *out);
size_t glm_explain_groups(const ml_model *m);
int glm_save(const ml_model *m, mfile_writer *w);
int glm_load(ml_model *m, const mfile *f);
void glm_free(void *impl);
struct sl__cw;
int glm_emit_c(const ml_model *m, struct sl__cw *w);

/*
 * glm_predict by the general path (a column look-up and a string test per
 * feature), which the path for models of numeric features only must equal
 * to the bit: kept for the tests that hold them together, never used to
 * serve. glm_is_dense tells whether glm_predict takes that path for m.
 */
int glm_predict_general(const ml_model *m, const double *X, size_t n, double *out);
bool glm_is_dense(const ml_model *m);

/* Raw scores (groups per row) of n rows, the scores predict transforms. */
void glm_raw(const ml_model *m, const double *X, size_t n, double *out);

/* Appends a warning to info "warnings" (for the step's log). */
int glm_warn(ml_model *m, const char *fmt, ...) SL__PRINTF(2, 3);

extern const ml_ops ml_linear_ops;
extern const ml_ops ml_logistic_ops;

/* ---- the families' fits ------------------------------------------------------- */

typedef enum linear_method { LINEAR_OLS, LINEAR_RIDGE, LINEAR_LASSO, LINEAR_ELASTICNET } linear_method;

typedef struct linear_opts {
	linear_method method;
	double alpha;        /* ridge: sklearn Ridge's alpha; lasso/elasticnet: ElasticNet's */
	double l1_ratio;     /* elasticnet */
	bool fit_intercept;
	bool standardize;    /* penalise the coefficients of standardised features */
	long max_iter;       /* coordinate descent sweeps */
	double tol;          /* coordinate descent: duality gap, relative to ||y - mean||^2 */
	unsigned threads;
} linear_opts;

/* Parses "ols", "ridge", "lasso", "elasticnet". */
bool linear_method_parse(const char *s, linear_method *out);
const char *linear_method_name(linear_method m);
/* Checks option values; SL_EINVAL naming the option and the allowed range. */
int linear_opts_check(const linear_opts *o);
/* Fits a regression on fr (task ML_REGRESSION). */
int linear_fit(const ml_frame *fr, const linear_opts *o, ml_model **out);

typedef enum logistic_penalty { LOGISTIC_L2, LOGISTIC_L1, LOGISTIC_NONE } logistic_penalty;

typedef struct logistic_opts {
	logistic_penalty penalty;
	double C;            /* inverse regularisation strength, sklearn's C */
	bool balanced;       /* class_weight: balanced */
	bool fit_intercept;
	bool standardize;
	long max_iter;
	double tol;          /* on the gradient of the objective per unit of weight */
	unsigned threads;
} logistic_opts;

bool logistic_penalty_parse(const char *s, logistic_penalty *out);
const char *logistic_penalty_name(logistic_penalty p);
int logistic_opts_check(const logistic_opts *o);
/* Fits a classifier on fr (task ML_BINARY or ML_MULTICLASS). */
int logistic_fit(const ml_frame *fr, const logistic_opts *o, ml_model **out);

/* The solver of logistic.c's L2 fit, shared for its tests: minimises f from x. */
typedef double (*glm_fg_fn)(void *ctx, const double *x, double *grad);
int glm_lbfgs(glm_fg_fn fg, void *ctx, double *x, size_t dim, long max_iter, double gtol,
	      long *out_iter, bool *out_converged, double *out_f);

#endif
