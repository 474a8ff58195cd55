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
#include <string.h>

#include "ml/ml.h"
#include "sort.h"

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

/*
 * The area under the ROC curve as the Mann-Whitney statistic: the chance
 * that a random positive scores above a random negative, ties counting one
 * half. Rows are put in score order by the radix sort (sort.h: stable, so
 * equal scores stay in row order) and groups of equal scores are walked
 * once, which gives exactly that with weights.
 */
double ml_metric_auc(const double *y, const double *p, const double *w, size_t n)
{
	uint64_t *key = sl__malloc((n ? n : 1) * sizeof *key);
	size_t *row = sl__malloc((n ? n : 1) * sizeof *row);
	long double pos = 0, neg = 0, area = 0, neg_below = 0;

	if (!key || !row) {
		sl__free(key);
		sl__free(row);
		return NAN;
	}
	for (size_t i = 0; i < n; i++) {
		key[i] = sl__key_f64(p[i]);
		row[i] = i;
	}
	if (sl__radix_sort_u64(key, row, n)) {
		sl__free(key);
		sl__free(row);
		return NAN;
	}
	for (size_t a = 0; a < n;) {
		long double gp = 0, gn = 0;
		size_t b = a;
		while (b < n && key[b] == key[a]) {
			if (y[row[b]] > 0.5)
				gp += W(w, row[b]);
			else
				gn += W(w, row[b]);
			b++;
		}
		area += gp * (neg_below + gn / 2);
		neg_below += gn;
		pos += gp;
		neg += gn;
		a = b;
	}
	sl__free(key);
	sl__free(row);
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

/* ---- classification beyond the basics ----------------------------------------- */

double ml_metric_brier(const double *y, const double *p, const double *w, size_t n)
{
	long double s = 0, sw = 0;

	for (size_t i = 0; i < n; i++) {
		long double d = (long double)p[i] - (y[i] > 0.5 ? 1 : 0);
		s += W(w, i) * d * d;
		sw += W(w, i);
	}
	return sw > 0 ? (double)(s / sw) : NAN;
}

double ml_metric_mbrier(const double *y, const double *p, size_t k, const double *w, size_t n)
{
	long double s = 0, sw = 0;

	for (size_t i = 0; i < n; i++) {
		long double r = 0;
		for (size_t c = 0; c < k; c++) {
			long double d = (long double)p[i * k + c] - ((double)c == y[i] ? 1 : 0);
			r += d * d;
		}
		s += W(w, i) * r;
		sw += W(w, i);
	}
	return sw > 0 ? (double)(s / sw) : NAN;
}

void ml_confusion(const double *y, const double *pred, size_t k, const double *w, size_t n,
		  double *cm)
{
	memset(cm, 0, k * k * sizeof *cm);
	for (size_t i = 0; i < n; i++) {
		size_t a = (size_t)y[i], b = (size_t)pred[i];
		if (a < k && b < k)
			cm[a * k + b] += W(w, i);
	}
}

void ml_class_prf(const double *cm, size_t k, size_t c, double *out_precision,
		  double *out_recall, double *out_f1)
{
	double tp = cm[c * k + c], pred = 0, actual = 0, p, r;

	for (size_t j = 0; j < k; j++) {
		pred += cm[j * k + c];
		actual += cm[c * k + j];
	}
	p = pred > 0 ? tp / pred : NAN;
	r = actual > 0 ? tp / actual : NAN;
	*out_precision = p;
	*out_recall = r;
	/* F1 as 2 tp / (2 tp + fp + fn): defined whenever the class occurs
	 * among the actual or the predicted labels. */
	*out_f1 = pred + actual > 0 ? 2 * tp / (pred + actual) : NAN;
}

double ml_metric_balanced_accuracy(const double *cm, size_t k)
{
	double sum = 0;
	size_t seen = 0;

	for (size_t c = 0; c < k; c++) {
		double p, r, f;
		ml_class_prf(cm, k, c, &p, &r, &f);
		if (!isnan(r)) {
			sum += r;
			seen++;
		}
	}
	return seen ? sum / (double)seen : NAN;
}

/* ---- ranking: curves, average precision, precision at k ------------------------ */

void ml_ranking_free(ml_ranking *r)
{
	sl__free(r->threshold);
	sl__free(r->tp);
	sl__free(r->fp);
	memset(r, 0, sizeof *r);
}

int ml_ranking_build(const double *y, const double *p, const double *w, size_t n,
		     ml_ranking *out)
{
	uint64_t *key = sl__malloc((n ? n : 1) * sizeof *key);
	size_t *row = sl__malloc((n ? n : 1) * sizeof *row);
	long double tp = 0, fp = 0;
	size_t m = 0;

	memset(out, 0, sizeof *out);
	out->threshold = sl__malloc((n ? n : 1) * sizeof *out->threshold);
	out->tp = sl__malloc((n ? n : 1) * sizeof *out->tp);
	out->fp = sl__malloc((n ? n : 1) * sizeof *out->fp);
	if (!key || !row || !out->threshold || !out->tp || !out->fp) {
		sl__free(key);
		sl__free(row);
		ml_ranking_free(out);
		return sl__oom();
	}
	/* Rows in score order (sort.h: stable, equal scores in row order). */
	for (size_t i = 0; i < n; i++) {
		key[i] = sl__key_f64(p[i]);
		row[i] = i;
	}
	if (sl__radix_sort_u64(key, row, n)) {
		sl__free(key);
		sl__free(row);
		ml_ranking_free(out);
		return SL_ENOMEM;
	}
	/* Highest scores first: walk the ascending order backwards, one group
	 * of equal scores at a time. */
	for (size_t b = n; b > 0;) {
		size_t a = b;
		while (a > 0 && key[a - 1] == key[b - 1]) {
			a--;
			if (y[row[a]] > 0.5)
				tp += W(w, row[a]);
			else
				fp += W(w, row[a]);
		}
		out->threshold[m] = p[row[b - 1]];
		out->tp[m] = (double)tp;
		out->fp[m] = (double)fp;
		m++;
		b = a;
	}
	out->n = m;
	out->pos = (double)tp;
	out->neg = (double)fp;
	sl__free(key);
	sl__free(row);
	return 0;
}

/* The trapezoids under the ROC points: the Mann-Whitney AUC, ties half. */
double ml_ranking_auc(const ml_ranking *r)
{
	long double area = 0, prev_tp = 0, prev_fp = 0;

	if (!(r->pos > 0 && r->neg > 0))
		return NAN;
	for (size_t i = 0; i < r->n; i++) {
		area += ((long double)r->fp[i] - prev_fp) * ((long double)r->tp[i] + prev_tp) / 2;
		prev_tp = r->tp[i];
		prev_fp = r->fp[i];
	}
	return (double)(area / ((long double)r->pos * r->neg));
}

/*
 * Average precision as scikit-learn defines it: the sum over thresholds
 * of (R_i - R_{i-1}) P_i, precision weighted by the recall it adds, with
 * no interpolation. Ties form one threshold.
 */
double ml_ranking_average_precision(const ml_ranking *r)
{
	long double ap = 0, prev_recall = 0;

	if (!(r->pos > 0))
		return NAN;
	for (size_t i = 0; i < r->n; i++) {
		long double recall = r->tp[i] / (long double)r->pos;
		long double precision = r->tp[i] / ((long double)r->tp[i] + r->fp[i]);
		ap += (recall - prev_recall) * precision;
		prev_recall = recall;
	}
	return (double)ap;
}

double ml_metric_average_precision(const double *y, const double *p, const double *w, size_t n)
{
	ml_ranking r;
	double ap;

	if (ml_ranking_build(y, p, w, n, &r))
		return NAN;
	ap = ml_ranking_average_precision(&r);
	ml_ranking_free(&r);
	return ap;
}

/*
 * Positives among the k highest-scored rows (weights ignored: k counts
 * rows). Rows tied at the cut share the remaining places, each counting in
 * proportion, which is the expectation over every order of the tied rows:
 * a constant scorer gets exactly the base rate.
 */
double ml_ranking_hits_at(const ml_ranking *r, size_t k)
{
	double taken = 0, prev_tp = 0, prev_fp = 0;

	for (size_t i = 0; i < r->n && taken < (double)k; i++) {
		double gtp = r->tp[i] - prev_tp, gfp = r->fp[i] - prev_fp, g = gtp + gfp;
		double room = (double)k - taken;
		if (g <= room) {
			taken += g;
		} else {
			return prev_tp + gtp * room / g;
		}
		prev_tp = r->tp[i];
		prev_fp = r->fp[i];
	}
	return prev_tp;
}

/* ---- regression beyond the basics --------------------------------------------- */

double ml_metric_mape(const double *y, const double *p, const double *w, size_t n,
		      size_t *out_skipped)
{
	long double s = 0, sw = 0;
	size_t skipped = 0;

	for (size_t i = 0; i < n; i++) {
		if (y[i] == 0) {
			skipped++;
			continue;
		}
		s += W(w, i) * fabsl(((long double)y[i] - p[i]) / y[i]);
		sw += W(w, i);
	}
	if (out_skipped)
		*out_skipped = skipped;
	return sw > 0 ? (double)(s / sw) : NAN;
}

double ml_metric_wape(const double *y, const double *p, const double *w, size_t n)
{
	long double err = 0, tot = 0;

	for (size_t i = 0; i < n; i++) {
		err += W(w, i) * fabsl((long double)y[i] - p[i]);
		tot += W(w, i) * fabsl((long double)y[i]);
	}
	return tot > 0 ? (double)(err / tot) : NAN;
}

/* ---- calibration ---------------------------------------------------------------- */

/*
 * Bin b holds edge[b] < p <= edge[b+1] (the first bin also p == 0), with
 * edges b * (1 / bins) computed as numpy's linspace computes them: a
 * probability on an edge lands in the bin below it, where scikit-learn's
 * calibration_curve (searchsorted, side left) puts it.
 */
static size_t calib_bin(double p, size_t bins)
{
	double step = 1.0 / (double)bins;
	size_t b = 0;

	while (b + 1 < bins && p > (double)(b + 1) * step)
		b++;
	return b;
}

int ml_calibration(const double *hit, const double *conf, size_t n, size_t bins,
		   ml_calib_bin *out)
{
	long double *sc = sl__calloc(2 * bins, sizeof *sc);
	double step = 1.0 / (double)bins;

	for (size_t b = 0; b < bins; b++) {
		out[b].lo = (double)b * step;
		out[b].hi = b + 1 == bins ? 1.0 : (double)(b + 1) * step;
		out[b].count = 0;
		out[b].mean_predicted = NAN;
		out[b].fraction_positive = NAN;
	}
	if (!sc)
		return sl__oom();
	for (size_t i = 0; i < n; i++) {
		size_t b = calib_bin(conf[i], bins);
		out[b].count++;
		sc[2 * b] += conf[i];
		sc[2 * b + 1] += hit[i];
	}
	for (size_t b = 0; b < bins; b++)
		if (out[b].count) {
			out[b].mean_predicted = (double)(sc[2 * b] / out[b].count);
			out[b].fraction_positive = (double)(sc[2 * b + 1] / out[b].count);
		}
	sl__free(sc);
	return 0;
}

double ml_calibration_ece(const ml_calib_bin *bins, size_t n_bins)
{
	long double s = 0;
	size_t total = 0;

	for (size_t b = 0; b < n_bins; b++) {
		total += bins[b].count;
		if (bins[b].count)
			s += bins[b].count *
			     fabsl((long double)bins[b].fraction_positive - bins[b].mean_predicted);
	}
	return total ? (double)(s / total) : NAN;
}
