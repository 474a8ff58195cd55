/*
 * Isotonic calibration (pool-adjacent-violators) and confidence-based
 * performance estimates with a bootstrap band. See calib.h.
 *
 * The fitted map is kept as knots: each pooled block contributes its
 * smallest and largest score at the block's value, and the map is linear
 * between knots (as scikit-learn's IsotonicRegression predicts), so two
 * scores in one block get one value and scores between blocks are
 * interpolated rather than snapped.
 *
 * The expected AUC is the ratio of expectations E[concordant pairs] /
 * E[positive-negative pairs] with row i positive with probability q_i,
 * independently: the numerator sums q_i (1 - q_j) over pairs with
 * s_i > s_j (half for ties), the denominator over all pairs i != j. One
 * sort by s and running sums make both linear after the sort.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "rng.h"
#include "sort.h"
#include "monitor/calib.h"

#define CALIB_SEED 0x6d6f6e69746f72ULL /* "monitor" */
#define CALIB_MAX_KNOTS 100000

void calib_clear(calib *c)
{
	if (!c)
		return;
	sl__free(c->x);
	sl__free(c->y);
	memset(c, 0, sizeof *c);
}

/* The scores' order (finite ones only): *out_idx (sl__free) of *out_n rows. */
static int order_by(const double *s, size_t n, size_t **out_idx, size_t *out_n)
{
	uint64_t *keys = sl__malloc((n ? n : 1) * sizeof *keys);
	size_t *idx = sl__malloc((n ? n : 1) * sizeof *idx);
	size_t m = 0;

	if (!keys || !idx) {
		sl__free(keys);
		sl__free(idx);
		return sl__oom();
	}
	for (size_t i = 0; i < n; i++)
		if (isfinite(s[i])) {
			keys[m] = sl__key_f64(s[i]);
			idx[m++] = i;
		}
	if (sl__radix_sort_u64(keys, idx, m)) {
		sl__free(keys);
		sl__free(idx);
		return sl__oom();
	}
	sl__free(keys);
	*out_idx = idx;
	*out_n = m;
	return 0;
}

int calib_fit(const double *s, const double *t, size_t n, calib *out)
{
	size_t *idx = NULL, m = 0, nb = 0;
	double *bsum = NULL, *bw = NULL, *blo = NULL, *bhi = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = order_by(s, n, &idx, &m)))
		return rc;
	if (m == 0) {
		sl__free(idx);
		return sl__err(SL_EINVAL, "calibration: no row with a finite score");
	}
	bsum = sl__malloc(m * sizeof *bsum);
	bw = sl__malloc(m * sizeof *bw);
	blo = sl__malloc(m * sizeof *blo);
	bhi = sl__malloc(m * sizeof *bhi);
	if (!bsum || !bw || !blo || !bhi) {
		rc = sl__oom();
		goto out;
	}
	/* Equal scores first form one block (a tie cannot be ordered), then
	 * blocks pool while a block's mean is below its predecessor's. */
	for (size_t k = 0; k < m; k++) {
		double x = s[idx[k]], y = t[idx[k]] > 0.5 ? 1 : 0;
		if (nb && blo[nb - 1] == x && bhi[nb - 1] == x) {
			bsum[nb - 1] += y;
			bw[nb - 1] += 1;
		} else {
			bsum[nb] = y;
			bw[nb] = 1;
			blo[nb] = bhi[nb] = x;
			nb++;
		}
		while (nb > 1 && bsum[nb - 1] * bw[nb - 2] <= bsum[nb - 2] * bw[nb - 1]) {
			/* mean(last) <= mean(previous): pool (<= also merges equal
			 * means, which gives fewer knots and the same map). */
			bsum[nb - 2] += bsum[nb - 1];
			bw[nb - 2] += bw[nb - 1];
			bhi[nb - 2] = bhi[nb - 1];
			nb--;
		}
	}
	out->x = sl__malloc(2 * nb * sizeof *out->x);
	out->y = sl__malloc(2 * nb * sizeof *out->y);
	if (!out->x || !out->y) {
		calib_clear(out);
		rc = sl__oom();
		goto out;
	}
	for (size_t b = 0; b < nb; b++) {
		double v = bsum[b] / bw[b];
		out->x[out->n] = blo[b];
		out->y[out->n++] = v;
		if (bhi[b] > blo[b]) {
			out->x[out->n] = bhi[b];
			out->y[out->n++] = v;
		}
	}
	out->rows = m;
out:
	sl__free(idx);
	sl__free(bsum);
	sl__free(bw);
	sl__free(blo);
	sl__free(bhi);
	return rc;
}

double calib_apply(const calib *c, double s)
{
	size_t lo = 0, hi;

	if (!c->n || isnan(s))
		return NAN;
	if (s <= c->x[0])
		return c->y[0];
	if (s >= c->x[c->n - 1])
		return c->y[c->n - 1];
	/* The last knot at or below s: x[lo] <= s < x[hi]. */
	hi = c->n - 1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->x[mid] <= s)
			lo = mid;
		else
			hi = mid;
	}
	return c->y[lo] + (c->y[hi] - c->y[lo]) * (s - c->x[lo]) / (c->x[hi] - c->x[lo]);
}

json_t *calib_to_json(const calib *c)
{
	json_t *x = json_array(), *y = json_array(), *o;

	for (size_t i = 0; x && y && i < c->n; i++)
		if (json_array_append_new(x, json_real(c->x[i])) ||
		    json_array_append_new(y, json_real(c->y[i])))
			break;
	if (!x || !y || json_array_size(x) != c->n || json_array_size(y) != c->n) {
		json_decref(x);
		json_decref(y);
		return NULL;
	}
	o = json_pack("{s:o, s:o, s:I}", "x", x, "y", y, "rows", (json_int_t)c->rows);
	return o;
}

int calib_from_json(const json_t *j, calib *out)
{
	const json_t *x = json_object_get(j, "x"), *y = json_object_get(j, "y");
	size_t n = json_array_size(x);

	memset(out, 0, sizeof *out);
	if (!json_is_array(x) || !json_is_array(y) || n != json_array_size(y) || n == 0)
		return sl__err(SL_EINVAL, "calibration: x and y must be arrays of one non-zero length");
	if (n > CALIB_MAX_KNOTS)
		return sl__err(SL_EINVAL, "calibration: %zu knots, at most %d", n, CALIB_MAX_KNOTS);
	out->x = sl__malloc(n * sizeof *out->x);
	out->y = sl__malloc(n * sizeof *out->y);
	if (!out->x || !out->y) {
		calib_clear(out);
		return sl__oom();
	}
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		const json_t *xi = json_array_get(x, i), *yi = json_array_get(y, i);
		double a = json_number_value(xi), b = json_number_value(yi);
		if (!json_is_number(xi) || !json_is_number(yi) || !isfinite(a) || !(b >= 0 && b <= 1) ||
		    (i && !(a > out->x[i - 1])) || (i && b < out->y[i - 1])) {
			calib_clear(out);
			return sl__err(SL_EINVAL, "calibration: knot %zu is not a finite, increasing x "
						  "with a non-decreasing y in [0, 1]",
				       i);
		}
		out->x[i] = a;
		out->y[i] = b;
	}
	out->rows = (size_t)json_integer_value(json_object_get(j, "rows"));
	return 0;
}

/* ---- estimates -------------------------------------------------------------------- */

/* Accuracy, F1 and AUC of labels y (0/1) for decisions d and average ranks r. */
static void realised(const unsigned char *y, const unsigned char *d, const double *r, size_t n,
		     bool binary, double *acc, double *f1, double *auc)
{
	double right = 0, tp = 0, fp = 0, fn = 0, pos = 0, rank_sum = 0;

	for (size_t i = 0; i < n; i++) {
		if (!binary) {
			right += y[i];
			continue;
		}
		right += y[i] == d[i];
		tp += y[i] && d[i];
		fp += !y[i] && d[i];
		fn += y[i] && !d[i];
		if (y[i]) {
			pos++;
			rank_sum += r[i];
		}
	}
	*acc = right / (double)n;
	if (!binary)
		return;
	*f1 = 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : NAN;
	double neg = (double)n - pos;
	*auc = pos > 0 && neg > 0 ? (rank_sum - pos * (pos + 1) / 2) / (pos * neg) : NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The 2.5 and 97.5 percentiles of v's finite values (sorted in place). */
static void band(double *v, size_t n, calib_est *e)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[m++] = v[i];
	if (m == 0) {
		e->lower = e->upper = NAN;
		return;
	}
	qsort(v, m, sizeof *v, cmp_double);
	e->lower = v[(size_t)floor(0.025 * (double)(m - 1))];
	e->upper = v[(size_t)ceil(0.975 * (double)(m - 1))];
}

int calib_estimate(const double *q, const double *s, size_t n, bool binary, size_t draws,
		   calib_estimates *out)
{
	size_t *idx = NULL, m = 0;
	double *rank = NULL, *acc = NULL, *f1 = NULL, *auc = NULL;
	unsigned char *y = NULL, *d = NULL;
	sl__rng rng;
	int rc = 0;

	out->accuracy = out->f1 = out->auc = (calib_est){NAN, NAN, NAN};
	out->tp = out->fp = out->fn = out->tn = NAN;
	if (n == 0)
		return 0;
	if (!draws)
		draws = 200;
	y = sl__malloc(n);
	d = sl__calloc(n, 1);
	rank = sl__calloc(n, sizeof *rank);
	acc = sl__malloc(draws * sizeof *acc);
	f1 = sl__malloc(draws * sizeof *f1);
	auc = sl__malloc(draws * sizeof *auc);
	if (!y || !d || !rank || !acc || !f1 || !auc) {
		rc = sl__oom();
		goto out;
	}

	if (!binary) {
		double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += q[i];
		out->accuracy.value = sum / (double)n;
	} else {
		double tp = 0, fp = 0, fn = 0, tn = 0, qsum = 0, qq = 0;
		for (size_t i = 0; i < n; i++) {
			d[i] = s[i] > 0.5;
			if (d[i]) {
				tp += q[i];
				fp += 1 - q[i];
			} else {
				fn += q[i];
				tn += 1 - q[i];
			}
			qsum += q[i];
			qq += q[i] * (1 - q[i]);
		}
		out->tp = tp, out->fp = fp, out->fn = fn, out->tn = tn;
		out->accuracy.value = (tp + tn) / (double)n;
		out->f1.value = 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : NAN;

		/* Expected AUC, and the average ranks the draws use. */
		if ((rc = order_by(s, n, &idx, &m)))
			goto out;
		double below_neg = 0, num = 0, den = qsum * ((double)n - qsum) - qq;
		for (size_t a = 0; a < m;) {
			size_t b = a;
			double gq = 0, gn = 0, gqq = 0;
			while (b < m && s[idx[b]] == s[idx[a]])
				b++;
			for (size_t k = a; k < b; k++) {
				double qi = q[idx[k]];
				gq += qi;
				gn += 1 - qi;
				gqq += qi * (1 - qi);
				rank[idx[k]] = ((double)a + (double)b + 1) / 2; /* 1-based average */
			}
			num += gq * below_neg + 0.5 * (gq * gn - gqq);
			below_neg += gn;
			a = b;
		}
		out->auc.value = m == n && den > 0 ? num / den : NAN;
	}

	sl__rng_seed(&rng, CALIB_SEED);
	for (size_t k = 0; k < draws; k++) {
		for (size_t i = 0; i < n; i++)
			y[i] = sl__rng_uniform(&rng) < q[i];
		f1[k] = auc[k] = NAN;
		realised(y, d, rank, n, binary, &acc[k], &f1[k], &auc[k]);
	}
	band(acc, draws, &out->accuracy);
	if (binary) {
		band(f1, draws, &out->f1);
		if (isfinite(out->auc.value))
			band(auc, draws, &out->auc);
	}
out:
	sl__free(idx);
	sl__free(rank);
	sl__free(acc);
	sl__free(f1);
	sl__free(auc);
	sl__free(y);
	sl__free(d);
	return rc;
}
