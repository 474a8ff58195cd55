/*
 * Drift tests between a reference profile and current data: PSI, binned
 * two-sample Kolmogorov-Smirnov with its p-value, normed Wasserstein,
 * chi-square homogeneity with its p-value, the two-proportion Z-test,
 * Jensen-Shannon distance, and the one rule that picks which of them
 * decides (drift_choose, drift_decide). See drift.h for the rule and for
 * the approximations a profile-based reference implies.
 *
 * The special functions are implemented here from their definitions:
 *
 *   Kolmogorov survival function
 *       Q(l) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 l^2)          (l >= 1.18)
 *       Q(l) = 1 - sqrt(2 pi)/l sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 l^2))
 *       the second (Jacobi theta) form converges fast for small l, where
 *       the alternating one does not.
 *   Regularized incomplete gamma
 *       P(a, x) by its power series for x < a + 1, else Q(a, x) by its
 *       continued fraction evaluated with the modified Lentz method, so
 *       each is computed where it does not cancel.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "monitor/drift.h"

#define PSI_EPS 1e-4

static const char *const test_names[] = {"auto", "ks",   "psi", "wasserstein",
					 "chi2", "js", "none", "z"};

const char *drift_test_name(drift_test t)
{
	return (unsigned)t < SL__ARRAY_LEN(test_names) ? test_names[t] : "?";
}

bool drift_test_parse(const char *s, drift_test *out)
{
	for (size_t i = 0; s && i < SL__ARRAY_LEN(test_names); i++)
		if (!strcmp(s, test_names[i])) {
			*out = (drift_test)i;
			return true;
		}
	return false;
}

void drift_opts_default(drift_opts *o)
{
	o->psi_threshold = 0.1;
	o->ks_pvalue = 0.05;
	o->chi2_pvalue = 0.05;
	o->z_pvalue = 0.05;
	o->js_threshold = 0.1;
	o->wasserstein_threshold = 0.1;
	o->large_n = 1000;
	o->few_values = 5;
	o->numeric_test = DRIFT_AUTO;
	o->categorical_test = DRIFT_AUTO;
}

/* ---- special functions --------------------------------------------------- */

double drift_kolmogorov_sf(double l)
{
	double s = 0;

	if (isnan(l))
		return NAN;
	if (l <= 0.2)
		return 1; /* 1 - P with P below 1e-20 */
	if (l < 1.18) {
		double f = -M_PI * M_PI / (8 * l * l);
		for (int k = 1; k <= 20; k++) {
			double odd = 2.0 * k - 1;
			double t = exp(odd * odd * f);
			s += t;
			if (t < 1e-17 * s)
				break;
		}
		return 1 - sqrt(2 * M_PI) / l * s;
	}
	for (int k = 1; k <= 100; k++) {
		double t = exp(-2.0 * k * k * l * l);
		s += (k & 1) ? t : -t;
		if (t < 1e-17 * fabs(s) || t == 0)
			break;
	}
	s *= 2;
	return s < 0 ? 0 : s > 1 ? 1 : s;
}

double drift_ks_pvalue(double d, double n, double m)
{
	double en;

	if (!(n > 0) || !(m > 0) || isnan(d))
		return NAN;
	en = sqrt(n * m / (n + m));
	/* Stephens' small-sample correction of the asymptotic law. */
	return drift_kolmogorov_sf((en + 0.12 + 0.11 / en) * d);
}

#define GAMMA_EPS 1e-15
#define GAMMA_ITMAX 10000
#define LENTZ_TINY 1e-300

/* P(a, x) = gamma(a, x) / Gamma(a) from sum_n x^n / (a (a+1) ... (a+n)). */
static double gamma_p_series(double a, double x)
{
	double term = 1 / a, sum = term;

	for (int n = 1; n < GAMMA_ITMAX; n++) {
		term *= x / (a + n);
		sum += term;
		if (fabs(term) < fabs(sum) * GAMMA_EPS)
			break;
	}
	return sum * exp(-x + a * log(x) - lgamma(a));
}

/*
 * Q(a, x) from Gamma(a, x) = e^-x x^a / (x + 1 - a - 1(1 - a) / (x + 3 - a -
 * 2(2 - a) / (x + 5 - a - ...))), evaluated front to back (modified Lentz).
 */
static double gamma_q_fraction(double a, double x)
{
	double b = x + 1 - a, c = 1 / LENTZ_TINY, d = 1 / b, h = d;

	for (int i = 1; i < GAMMA_ITMAX; i++) {
		double an = -i * (i - a);
		b += 2;
		d = an * d + b;
		if (fabs(d) < LENTZ_TINY)
			d = LENTZ_TINY;
		c = b + an / c;
		if (fabs(c) < LENTZ_TINY)
			c = LENTZ_TINY;
		d = 1 / d;
		double del = d * c;
		h *= del;
		if (fabs(del - 1) < GAMMA_EPS)
			break;
	}
	return exp(-x + a * log(x) - lgamma(a)) * h;
}

double drift_gamma_q(double a, double x)
{
	if (isnan(a) || isnan(x) || a <= 0 || x < 0)
		return NAN;
	if (x == 0)
		return 1;
	if (isinf(x))
		return 0;
	if (x < a + 1) {
		double q = 1 - gamma_p_series(a, x);
		return q < 0 ? 0 : q;
	}
	return gamma_q_fraction(a, x);
}

double drift_chi2_sf(double x, double df)
{
	if (df <= 0)
		return x > 0 ? 0 : 1;
	return drift_gamma_q(df / 2, x / 2);
}

/* ---- statistics on count vectors ----------------------------------------- */

double drift_psi(const uint64_t *ref, uint64_t n_ref, const uint64_t *cur, uint64_t n_cur,
		 size_t k)
{
	double s = 0;

	if (!n_ref || !n_cur)
		return NAN;
	for (size_t i = 0; i < k; i++) {
		double r = (double)ref[i] / (double)n_ref, c = (double)cur[i] / (double)n_cur;
		if (r == 0)
			r = PSI_EPS;
		if (c == 0)
			c = PSI_EPS;
		s += (c - r) * log(c / r);
	}
	return s;
}

double drift_js(const uint64_t *ref, uint64_t n_ref, const uint64_t *cur, uint64_t n_cur,
		size_t k)
{
	double s = 0;

	if (!n_ref || !n_cur)
		return NAN;
	for (size_t i = 0; i < k; i++) {
		double p = (double)ref[i] / (double)n_ref, q = (double)cur[i] / (double)n_cur;
		double m = (p + q) / 2;
		if (p > 0)
			s += p * log2(p / m);
		if (q > 0)
			s += q * log2(q / m);
	}
	s /= 2;
	if (s < 0)
		s = 0;
	if (s > 1)
		s = 1;
	return sqrt(s);
}

double drift_chi2(const uint64_t *ref, uint64_t n_ref, const uint64_t *cur, uint64_t n_cur,
		  size_t k, double *out_df)
{
	double total = (double)n_ref + (double)n_cur, s = 0;
	size_t used = 0;

	*out_df = 0;
	if (!n_ref || !n_cur)
		return NAN;
	for (size_t i = 0; i < k; i++) {
		double t = (double)ref[i] + (double)cur[i];
		if (t == 0)
			continue;
		double er = t * (double)n_ref / total, ec = t * (double)n_cur / total;
		double dr = (double)ref[i] - er, dc = (double)cur[i] - ec;
		s += dr * dr / er + dc * dc / ec;
		used++;
	}
	*out_df = used > 1 ? (double)(used - 1) : 0;
	return s;
}

double drift_z(const uint64_t *ref, uint64_t n_ref, const uint64_t *cur, uint64_t n_cur,
	       size_t k, double *out_p)
{
	double p1, p2, pool, se, z;

	*out_p = NAN;
	if (!n_ref || !n_cur || k == 0)
		return NAN;
	p1 = (double)ref[0] / (double)n_ref;
	p2 = (double)cur[0] / (double)n_cur;
	pool = ((double)ref[0] + (double)cur[0]) / ((double)n_ref + (double)n_cur);
	se = sqrt(pool * (1 - pool) * (1 / (double)n_ref + 1 / (double)n_cur));
	if (!(se > 0)) {
		/* Both sides hold one and the same value: no evidence of change. */
		*out_p = 1;
		return 0;
	}
	z = (p1 - p2) / se;
	*out_p = erfc(fabs(z) / M_SQRT2); /* 2 (1 - Phi(|z|)) without cancellation */
	return z;
}

const char *drift_psi_band(double psi)
{
	if (isnan(psi))
		return NULL;
	return psi < 0.1 ? "none" : psi < 0.25 ? "moderate" : "major";
}

/* ---- the decision rule --------------------------------------------------- */

drift_test drift_choose(bool numeric, uint64_t n_ref, uint64_t n_values, const drift_opts *o)
{
	bool few = n_values > 0 && n_values <= o->few_values;
	bool large = n_ref > o->large_n;
	drift_test forced = numeric ? o->numeric_test : o->categorical_test;

	if (forced != DRIFT_AUTO)
		return forced;
	if (numeric && !few)
		return large ? DRIFT_WASSERSTEIN : DRIFT_KS;
	/* Categories, and numbers with few values (Evidently counts up to 5 as few). */
	if (large)
		return DRIFT_JS;
	return n_values > 0 && n_values <= 2 ? DRIFT_Z : DRIFT_CHI2;
}

void drift_decide(drift_result *r, const drift_opts *o)
{
	drift_test t = drift_choose(r->numeric, r->n_ref, r->n_values, o);
	double stat = NAN, p = NAN, thr = NAN;

	/* A categorical test on a numeric column needs its value counts; when
	 * they are unknown the numeric test of the same size decides. */
	if (r->numeric && (t == DRIFT_CHI2 || t == DRIFT_Z || t == DRIFT_JS) && isnan(r->js))
		t = r->n_ref > o->large_n ? DRIFT_WASSERSTEIN : DRIFT_KS;
	switch (t) {
	case DRIFT_KS:
		stat = r->ks, p = r->ks_pvalue, thr = o->ks_pvalue;
		break;
	case DRIFT_PSI:
		stat = r->psi, thr = o->psi_threshold;
		break;
	case DRIFT_WASSERSTEIN:
		stat = r->wasserstein_norm, thr = o->wasserstein_threshold;
		break;
	case DRIFT_CHI2:
		stat = r->chi2, p = r->chi2_pvalue, thr = o->chi2_pvalue;
		break;
	case DRIFT_Z:
		stat = r->z, p = r->z_pvalue, thr = o->z_pvalue;
		break;
	case DRIFT_JS:
		stat = r->js, thr = o->js_threshold;
		break;
	case DRIFT_AUTO:
	case DRIFT_NONE:
		return;
	}
	r->test = t;
	r->statistic = stat;
	r->p_value = p;
	r->threshold = thr;
	/* A p-value test drifts below its level; a distance at or above it. */
	if (t == DRIFT_KS || t == DRIFT_CHI2 || t == DRIFT_Z)
		r->drifted = p < thr;
	else
		r->drifted = stat >= thr;
}

/* ---- per-column drift ---------------------------------------------------- */

static void result_init(drift_result *r, const profile_col *ref)
{
	memset(r, 0, sizeof *r);
	r->column = ref->name;
	r->numeric = ref->numeric;
	r->test = DRIFT_NONE;
	r->statistic = r->p_value = r->threshold = NAN;
	r->psi = r->ks = r->ks_pvalue = r->wasserstein = r->wasserstein_norm = NAN;
	r->chi2 = r->chi2_df = r->chi2_pvalue = r->js = NAN;
	r->z = r->z_pvalue = NAN;
	r->mean_shift = r->out_of_range = NAN;
}

/*
 * The categorical statistics of k count cells (js, chi-square, and the
 * Z-test when at most two cells hold values) into r; n_values becomes the
 * number of cells that hold any.
 */
static void count_tests(drift_result *r, const uint64_t *rc, const uint64_t *cc, size_t k)
{
	uint64_t used = 0;

	for (size_t i = 0; i < k; i++)
		used += rc[i] + cc[i] > 0;
	r->n_values = used;
	r->js = drift_js(rc, r->n_ref, cc, r->n_cur, k);
	r->chi2 = drift_chi2(rc, r->n_ref, cc, r->n_cur, k, &r->chi2_df);
	r->chi2_pvalue = drift_chi2_sf(r->chi2, r->chi2_df);
	if (used <= 2) {
		/* Category 0 must be one that holds values for the test to mean
		 * anything: the first such cell against the rest. */
		size_t first = 0;
		while (first + 1 < k && rc[first] + cc[first] == 0)
			first++;
		r->z = drift_z(rc + first, r->n_ref, cc + first, r->n_cur, k - first, &r->z_pvalue);
	}
}

/*
 * A numeric column with few values is tested as categories: the value
 * counts come from both profiles' top lists, which hold every value when
 * the distinct count is at most top_k. Leaves r alone otherwise.
 */
static void few_value_counts(drift_result *r, const profile_col *ref, const profile_col *cur,
			     uint64_t few)
{
	double vals[2 * DRIFT_FEW_MAX];
	uint64_t rc[2 * DRIFT_FEW_MAX] = {0}, cc[2 * DRIFT_FEW_MAX] = {0};
	size_t k = 0;

	if (few > DRIFT_FEW_MAX)
		few = DRIFT_FEW_MAX;
	/* n_top is min(top_k, distinct): equal to distinct means all are listed. */
	if (!cur || few == 0 || ref->distinct > few || cur->distinct > few ||
	    ref->n_top != ref->distinct || cur->n_top != cur->distinct)
		return;
	for (int side = 0; side < 2; side++) {
		const profile_col *pc = side ? cur : ref;
		for (size_t i = 0; i < pc->n_top; i++) {
			size_t c = 0;
			/* Both profiles round values the same way (profile.h, invariant
			 * 2), so one value compares equal on both sides. */
			while (c < k && vals[c] != pc->top[i].num)
				c++;
			if (c == k)
				vals[k++] = pc->top[i].num;
			(side ? cc : rc)[c] += pc->top[i].count;
		}
	}
	if (k > few)
		return;
	count_tests(r, rc, cc, k);
}

/* The integral over [0, w] of |a + (b - a) t / w| dt. */
static double abs_linear_area(double a, double b, double w)
{
	if ((a >= 0) == (b >= 0))
		return w * (fabs(a) + fabs(b)) / 2;
	return w * (a * a + b * b) / (2 * (fabs(a) + fabs(b)));
}

static double scaled(double x, double std)
{
	if (std > 0)
		return x / std;
	return x == 0 ? 0 : (x > 0 ? INFINITY : -INFINITY);
}

void drift_numeric(const profile_col *ref, const uint64_t *cur_bins, const profile_col *cur,
		   const drift_opts *o, drift_result *r)
{
	size_t nb = ref->n_bins;
	uint64_t n_ref = 0, n_cur = 0;

	result_init(r, ref);
	if (nb == 0) {
		r->reason = "no values in the reference";
		return;
	}
	for (size_t i = 0; i < nb; i++)
		n_ref += ref->bins[i];
	for (size_t i = 0; i < nb + 2; i++)
		n_cur += cur_bins[i];
	r->n_ref = n_ref;
	r->n_cur = n_cur;
	if (!n_ref || !n_cur) {
		r->reason = n_ref ? "no values in the current data" : "no values in the reference";
		return;
	}

	/* PSI over the reference bins plus the two out-of-range bins (empty in
	 * the reference by invariant 3 of profile.h). */
	double ps = 0, nr = (double)n_ref, nc = (double)n_cur;
	for (size_t i = 0; i < nb + 2; i++) {
		double p = (i == 0 || i == nb + 1) ? 0 : (double)ref->bins[i - 1] / nr;
		double q = (double)cur_bins[i] / nc;
		if (p == 0)
			p = PSI_EPS;
		if (q == 0)
			q = PSI_EPS;
		ps += (q - p) * log(q / p);
	}
	r->psi = ps;

	/* The CDF gaps at the edges: after bin i the cumulative counts are the
	 * values below the next edge (the last one: at or below the last edge). */
	double d = fabs((double)cur_bins[0] / nc), area = 0;
	uint64_t cr = 0, cc = cur_bins[0];
	double prev = -(double)cur_bins[0] / nc;
	for (size_t i = 0; i < nb; i++) {
		cr += ref->bins[i];
		cc += cur_bins[i + 1];
		double gap = (double)cr / nr - (double)cc / nc;
		if (fabs(gap) > d)
			d = fabs(gap);
		area += abs_linear_area(prev, gap, ref->edges[i + 1] - ref->edges[i]);
		prev = gap;
	}
	r->ks = d;
	r->ks_pvalue = drift_ks_pvalue(d, nr, nc);
	/* Mass outside the reference range: spread linearly out to the current
	 * data's own extremes when its profile is known. */
	if (cur && cur->n_values && isfinite(cur->min) && cur->min < ref->edges[0])
		area += (double)cur_bins[0] / nc * (ref->edges[0] - cur->min) / 2;
	if (cur && cur->n_values && isfinite(cur->max) && cur->max > ref->edges[nb])
		area += (double)cur_bins[nb + 1] / nc * (cur->max - ref->edges[nb]) / 2;
	r->wasserstein = area;
	r->wasserstein_norm = scaled(area, ref->std);
	r->out_of_range = (double)(cur_bins[0] + cur_bins[nb + 1]) / nc;
	if (cur && cur->n_values && isfinite(cur->mean) && isfinite(ref->mean))
		r->mean_shift = scaled(cur->mean - ref->mean, ref->std);
	r->psi_band = drift_psi_band(r->psi);
	few_value_counts(r, ref, cur, o->few_values);
	drift_decide(r, o);
}

typedef struct cat_cell {
	const char *value;
	uint64_t ref, cur;
} cat_cell;

static int cmp_cell(const void *a, const void *b)
{
	return strcmp(((const cat_cell *)a)->value, ((const cat_cell *)b)->value);
}

int drift_categorical(const profile_col *ref, const profile_col *cur, const drift_opts *o,
		      drift_result *r)
{
	size_t k = 0, nref = ref->n_cats;
	cat_cell *cells;
	uint64_t *rc, *cc;
	uint64_t other_ref = ref->cats_other, other_cur = cur->cats_other;

	result_init(r, ref);
	r->n_ref = ref->n_values;
	r->n_cur = cur->n_values;
	if (!r->n_ref || !r->n_cur) {
		r->reason = r->n_ref ? "no values in the current data" : "no values in the reference";
		return 0;
	}
	/* Cells: the reference's categories (sorted for lookup), then the
	 * current ones it does not have, then one "other" cell. */
	cells = sl__calloc(nref + cur->n_cats + 1, sizeof *cells);
	rc = sl__calloc(nref + cur->n_cats + 1, sizeof *rc);
	cc = sl__calloc(nref + cur->n_cats + 1, sizeof *cc);
	if (!cells || !rc || !cc) {
		sl__free(cells);
		sl__free(rc);
		sl__free(cc);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < nref; i++) {
		cells[k].value = ref->cats[i].str;
		cells[k++].ref = ref->cats[i].count;
	}
	qsort(cells, nref, sizeof *cells, cmp_cell);
	for (size_t i = 0; i < cur->n_cats; i++) {
		cat_cell key = {cur->cats[i].str, 0, 0};
		cat_cell *hit = nref ? bsearch(&key, cells, nref, sizeof *cells, cmp_cell) : NULL;
		if (hit) {
			hit->cur = cur->cats[i].count;
		} else if (ref->cats_other) {
			/* The reference may have seen it among the values it
			 * did not keep: count it with them. */
			other_cur += cur->cats[i].count;
		} else {
			cells[k].value = key.value;
			cells[k++].cur = cur->cats[i].count;
			r->new_categories++;
		}
	}
	for (size_t i = 0; i < k; i++) {
		rc[i] = cells[i].ref;
		cc[i] = cells[i].cur;
	}
	rc[k] = other_ref;
	cc[k] = other_cur;
	k++;

	r->psi = drift_psi(rc, r->n_ref, cc, r->n_cur, k);
	r->psi_band = drift_psi_band(r->psi);
	count_tests(r, rc, cc, k);
	sl__free(cells);
	sl__free(rc);
	sl__free(cc);
	drift_decide(r, o);
	return 0;
}

int drift_compare(const profile *ref, const ds_table *t, const profile *cur, const drift_opts *o,
		  drift_result **out, size_t *out_n)
{
	drift_result *res;
	uint64_t *bins = NULL;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	*out_n = 0;
	res = sl__calloc(ref->n_cols ? ref->n_cols : 1, sizeof *res);
	bins = sl__calloc(PROFILE_MAX_BINS + 2, sizeof *bins);
	if (!res || !bins) {
		sl__free(res);
		sl__free(bins);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t c = 0; c < ref->n_cols && !rc; c++) {
		const profile_col *rcol = &ref->cols[c];
		const profile_col *ccol = profile_find(cur, rcol->name);
		drift_result *r = &res[n];
		size_t j;

		if (!ccol || ds_col_find(t, rcol->name, &j)) {
			sl__err_clear();
			continue; /* a missing column is the schema's business */
		}
		n++;
		if (rcol->numeric != ccol->numeric) {
			result_init(r, rcol);
			r->reason = "type changed";
		} else if (rcol->type == DS_TIMESTAMP || ccol->type == DS_TIMESTAMP) {
			result_init(r, rcol);
			r->reason = "timestamps are not tested";
		} else if (rcol->numeric) {
			if (rcol->n_bins > PROFILE_MAX_BINS) {
				rc = sl__err(SL_EINVAL, "column '%s': too many bins", rcol->name);
				break;
			}
			if (rcol->n_bins == 0) {
				result_init(r, rcol);
				r->reason = "no values in the reference";
				continue;
			}
			if ((rc = profile_rebin(rcol, t, j, bins, NULL)))
				break;
			drift_numeric(rcol, bins, ccol, o, r);
		} else {
			rc = drift_categorical(rcol, ccol, o, r);
		}
	}
	sl__free(bins);
	if (rc) {
		sl__free(res);
		return rc;
	}
	*out = res;
	*out_n = n;
	return 0;
}
