/*
 * Calibration and label-free performance estimation for classifiers.
 * Prefix calib_.
 *
 *   validation rows: score s, truth t --calib_fit (isotonic, PAV)-->
 *       calib: a non-decreasing piecewise-linear map s -> P(t = 1 | s)
 *   window rows: score s, decision d --calib_apply--> q = P(t = 1 | s)
 *       --calib_estimate--> expected accuracy, F1, AUC + a band
 *
 * Confidence-based performance estimation (CBPE, as NannyML calls it):
 * when the model's probabilities are calibrated, each row's chance of
 * being right is known without its label, so the expected confusion
 * matrix - and from it accuracy, F1 and AUC - is known too. Calibration is
 * what makes that true, and isotonic regression is the calibration that
 * assumes nothing but monotonicity. It holds under covariate shift: if
 * P(y | x) does not change, a calibrated P(y | s(x)) stays calibrated
 * whatever happens to P(x). It does not hold under concept drift, which is
 * why estimates are reconciled with the realised metrics once feedback
 * labels arrive (live.c).
 *
 * What s and t are:
 *   binary        s = P(class 1) from the model, t = [truth is class 1];
 *                 the decision is class 1 when s > 0.5 (the arg max)
 *   multiclass    s = the largest class probability, t = [the arg max is
 *                 the truth]: only accuracy can be estimated
 *
 * Invariants:
 *  1. The fitted map is non-decreasing and within [0, 1]; outside the
 *     fitted range it is constant (the nearest end's value).
 *  2. The band is deterministic: the bootstrap that gives it has a fixed
 *     seed, so one window always gives one report.
 */
#ifndef SLUICE_MONITOR_CALIB_H
#define SLUICE_MONITOR_CALIB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct calib {
	size_t n;   /* knots */
	double *x;  /* strictly increasing */
	double *y;  /* non-decreasing, in [0, 1] */
	size_t rows; /* rows it was fitted on */
} calib;

/*
 * Fits the isotonic regression of t (0 or 1; weights 1) on s over n rows
 * by pool-adjacent-violators, into *out (calib_clear frees). Rows whose s
 * is not finite are left out. SL_EINVAL with no usable row; SL_ENOMEM.
 */
int calib_fit(const double *s, const double *t, size_t n, calib *out);
/* The calibrated probability of score s (invariant 1). */
double calib_apply(const calib *c, double s);
void calib_clear(calib *c); /* accepts a zeroed c */

/* {"x": [...], "y": [...], "rows": n}; a new reference, NULL when out of memory. */
json_t *calib_to_json(const calib *c);
/* The inverse; SL_EINVAL naming what is wrong ("calibration.x: ..."). */
int calib_from_json(const json_t *j, calib *out);

/* An estimate with its 95% band. NaN when it cannot be computed. */
typedef struct calib_est {
	double value, lower, upper;
} calib_est;

typedef struct calib_estimates {
	calib_est accuracy, f1, auc; /* f1 and auc: binary only */
	double tp, fp, fn, tn;       /* the expected confusion matrix (binary) */
} calib_estimates;

/*
 * Expected metrics of n rows. binary: q[i] = P(class 1) calibrated and
 * s[i] the model's own score (the decision is s > 0.5, the ranking for AUC
 * is by s); otherwise q[i] is the calibrated chance that row i's decision
 * is right and s is not read (may be NULL). The band is the 2.5 and 97.5
 * percentiles of the metrics over `draws` sets of labels drawn from q (0:
 * 200). SL_ENOMEM.
 */
int calib_estimate(const double *q, const double *s, size_t n, bool binary, size_t draws,
		   calib_estimates *out);

#endif
