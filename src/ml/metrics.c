/*
 * The metric functions training and evaluation share (ml.h). Each takes
 * optional row weights and returns NaN where the metric is undefined, so a
 * report can say "undefined" instead of printing a number that means
 * nothing (AUC over one class, R^2 of a constant target).
 *
 * Sums are accumulated in long double: an 800k-row log loss summed in
 * double drifts in the 12th digit, enough to make a metric differ between
 * a batch and a row-by-row evaluation.
 */
#include <math.h>
#include <stdlib.h>

#include "ml/ml.h"

#define W(w, i) ((w) ? (w)[i] : 1.0)

double ml_metric_rmse(const double *y, const double *p, const double *w, size_t n)
{
	long double s = 0, sw = 0;

	for (size_t i = 0; i < n; i++) {
		long double d = (long double)y[i] - p[i];
		s += W(w, i) * d * d;
		sw += W(w, i);
	}
	return sw > 0 ? (double)sqrtl(s / sw) : NAN;
}

double ml_metric_mae(const double *y, const double *p, const double *w, size_t n)
{
	long double s = 0, sw = 0;

	for (size_t i = 0; i < n; i++) {
		s += W(w, i) * fabsl((long double)y[i] - p[i]);
		sw += W(w, i);
	}
	return sw > 0 ? (double)(s / sw) : NAN;
}

double ml_metric_r2(const double *y, const double *p, const double *w, size_t n)
{
	long double sw = 0, mean = 0, ss_res = 0, ss_tot = 0;

	for (size_t i = 0; i < n; i++) {
		sw += W(w, i);
		mean += W(w, i) * y[i];
	}
	if (sw <= 0)
		return NAN;
	mean /= sw;
	for (size_t i = 0; i < n; i++) {
		long double r = (long double)y[i] - p[i], d = (long double)y[i] - mean;
		ss_res += W(w, i) * r * r;
		ss_tot += W(w, i) * d * d;
	}
	return ss_tot > 0 ? (double)(1 - ss_res / ss_tot) : NAN;
}

typedef struct scored {
	double p;
	size_t i;
} scored;

static int by_score(const void *a, const void *b)
{
	const scored *x = a, *y = b;

	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/*
 * The area under the ROC curve as the Mann-Whitney statistic: the chance
 * that a random positive scores above a random negative, ties counting one
 * half. Sorting once and walking groups of equal scores gives exactly that
 * with weights, in O(n log n).
 */
double ml_metric_auc(const double *y, const double *p, const double *w, size_t n)
{
	scored *s = sl__malloc((n ? n : 1) * sizeof *s);
	long double pos = 0, neg = 0, area = 0, neg_below = 0;

	if (!s)
		return NAN;
	for (size_t i = 0; i < n; i++) {
		s[i].p = p[i];
		s[i].i = i;
	}
	qsort(s, n, sizeof *s, by_score);
	for (size_t a = 0; a < n;) {
		long double gp = 0, gn = 0;
		size_t b = a;
		while (b < n && s[b].p == s[a].p) {
			if (y[s[b].i] > 0.5)
				gp += W(w, s[b].i);
			else
				gn += W(w, s[b].i);
			b++;
		}
		area += gp * (neg_below + gn / 2);
		neg_below += gn;
		pos += gp;
		neg += gn;
		a = b;
	}
	sl__free(s);
	if (pos <= 0 || neg <= 0)
		return NAN;
	return (double)(area / (pos * neg));
}

/* Probabilities are clipped as scikit-learn clips them, so one confident
 * mistake costs a large but finite amount. */
#define EPS 1e-15

double ml_metric_logloss(const double *y, const double *p, const double *w, size_t n)
{
	long double s = 0, sw = 0;

	for (size_t i = 0; i < n; i++) {
		double q = p[i] < EPS ? EPS : p[i] > 1 - EPS ? 1 - EPS : p[i];
		s -= W(w, i) * (y[i] > 0.5 ? logl(q) : logl(1 - q));
		sw += W(w, i);
	}
	return sw > 0 ? (double)(s / sw) : NAN;
}

double ml_metric_mlogloss(const double *y, const double *p, size_t k, const double *w, size_t n)
{
	long double s = 0, sw = 0;

	for (size_t i = 0; i < n; i++) {
		size_t c = (size_t)y[i];
		double q = c < k ? p[i * k + c] : 0;
		q = q < EPS ? EPS : q > 1 - EPS ? 1 - EPS : q;
		s -= W(w, i) * logl(q);
		sw += W(w, i);
	}
	return sw > 0 ? (double)(s / sw) : NAN;
}

double ml_metric_accuracy(const double *y, const double *p, size_t k, const double *w, size_t n)
{
	long double hit = 0, sw = 0;

	for (size_t i = 0; i < n; i++) {
		size_t best = 0;
		for (size_t c = 1; c < k; c++)
			if (p[i * k + c] > p[i * k + best])
				best = c;
		if ((double)best == y[i])
			hit += W(w, i);
		sw += W(w, i);
	}
	return sw > 0 ? (double)(hit / sw) : NAN;
}
