/*
 * Profiles and drift tests: the special functions against reference values
 * (computed once with SciPy and written down here), profile statistics
 * against hand-computed numbers, the JSON round trip, and the drift
 * decisions of the one rule (Evidently's default): identical data, a
 * shifted mean, a 0.3 standard deviation shift over 4,000 rows against
 * 5,000 (flagged by the normalised Wasserstein distance although PSI stays
 * under 0.1), a tiny shift on a large sample (p-value tiny, distance test
 * not alarmed), small samples decided by KS, chi-square and the Z-test,
 * numbers with few values tested as categories, categories with a new value.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "rng.h"
#include "dataset/dataset.h"
#include "monitor/drift.h"
#include "monitor/profile.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static sl__rng rng;

static ds_table *normal_table(size_t n, double mean, uint64_t seed)
{
	ds_builder *b;
	ds_table *t;

	sl__rng_seed(&rng, seed);
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "x", DS_FLOAT64, NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ds_append_f64(b, 0, mean + sl__rng_normal(&rng)), 0);
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

/* A string column with the given categories repeated counts[k] times each. */
static ds_table *cat_table(const char *const *cats, const size_t *counts, size_t k)
{
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "c", DS_STRING, NULL), 0);
	for (size_t i = 0; i < k; i++)
		for (size_t r = 0; r < counts[i]; r++)
			assert_int_equal(ds_append_str(b, 0, cats[i], strlen(cats[i])), 0);
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static void drift_of(ds_table *rt, ds_table *ct, const drift_opts *o, drift_result *out)
{
	profile *ref, *cur;
	drift_result *res;
	size_t n;

	assert_int_equal(profile_build(rt, NULL, &ref), 0);
	assert_int_equal(profile_build(ct, NULL, &cur), 0);
	/* Through JSON, as a stored reference is: must not change anything. */
	char *text = profile_dump(ref);
	json_t *j = json_loads(text, 0, NULL);
	profile *back;
	assert_non_null(j);
	assert_int_equal(profile_from_json(j, &back), 0);
	json_decref(j);
	sl__free(text);
	assert_int_equal(drift_compare(back, ct, cur, o, &res, &n), 0);
	assert_int_equal(n, 1);
	*out = res[0];
	out->column = NULL; /* borrowed from back, which dies here */
	sl__free(res);
	profile_free(back);
	profile_free(ref);
	profile_free(cur);
}

/* ---- special functions --------------------------------------------------- */

static void test_kolmogorov(void **state)
{
	static const double l[] = {0.3, 0.5, 0.8, 1.0, 1.18, 1.5, 2.0, 3.0};
	static const double want[] = {0.9999906941986655,    0.9639452436648751,
				      0.5441424115741981,    0.26999967167735456,
				      0.1234538094297657,    0.022217962616525127,
				      0.0006709252557796953, 3.045995948942526e-08};

	(void)state;
	for (size_t i = 0; i < SL__ARRAY_LEN(l); i++)
		assert_true(fabs(drift_kolmogorov_sf(l[i]) - want[i]) <= 1e-10 * (1 + want[i] * 1e3));
	assert_true(drift_kolmogorov_sf(0) == 1);
	assert_true(drift_kolmogorov_sf(40) == 0);
	/* Two-sample p-value with Stephens' correction, n = 100, m = 150, D = 0.2. */
	assert_true(fabs(drift_ks_pvalue(0.2, 100, 150) - 0.013917384897842758) < 1e-10);
}

static void test_chi2_and_gamma(void **state)
{
	static const double x[] = {0.5, 3.84, 10, 25, 100, 1e-3, 200, 5.5};
	static const double df[] = {1, 1, 3, 10, 50, 2, 3, 7};
	static const double want[] = {0.47950012218695337,   0.05004352124870519,
				      0.01856613546304325,   0.005345505487134069,
				      3.454931382984871e-05, 0.9995001249791693,
				      4.218541107192018e-43, 0.5991838706663558};

	(void)state;
	for (size_t i = 0; i < SL__ARRAY_LEN(x); i++) {
		double got = drift_chi2_sf(x[i], df[i]);
		assert_true(fabs(got - want[i]) <= 1e-9 * want[i] + 1e-14);
	}
	assert_true(fabs(drift_gamma_q(0.5, 0.1) - 0.6547208460185768) < 1e-12);
	assert_true(fabs(drift_gamma_q(2.5, 1.0) - 0.8491450360846096) < 1e-12);
	assert_true(fabs(drift_gamma_q(10, 12) - 0.24239216167051245) < 1e-12);
	assert_true(fabs(drift_gamma_q(3, 30) - 4.501016648012131e-11) < 1e-20);
	assert_true(isnan(drift_gamma_q(-1, 1)));
	assert_true(drift_chi2_sf(0, 0) == 1);
}

static void test_count_statistics(void **state)
{
	const uint64_t a[] = {300, 500, 200}, b[] = {400, 350, 250};
	double df;

	(void)state;
	/* scipy.stats.chi2_contingency(correction=False), jensenshannon(base=2). */
	assert_true(fabs(drift_chi2(a, 1000, b, 1000, 3, &df) - 46.31185807656396) < 1e-9);
	assert_true(df == 2);
	assert_true(fabs(drift_chi2_sf(46.31185807656396, 2) - 8.780268470212761e-11) < 1e-20);
	assert_true(fabs(drift_js(a, 1000, b, 1000, 3) - 0.1295201392638965) < 1e-12);
	assert_true(drift_js(a, 1000, a, 1000, 3) == 0);
	assert_true(drift_psi(a, 1000, a, 1000, 3) == 0);
	/* PSI by hand: sum (q - p) ln(q / p). */
	double psi = (0.4 - 0.3) * log(0.4 / 0.3) + (0.35 - 0.5) * log(0.35 / 0.5) +
		     (0.25 - 0.2) * log(0.25 / 0.2);
	assert_true(fabs(drift_psi(a, 1000, b, 1000, 3) - psi) < 1e-12);
	const uint64_t c[] = {10, 0}, d[] = {0, 10};
	assert_true(fabs(drift_js(c, 10, d, 10, 2) - 1) < 1e-12);
}

/* ---- profiles ------------------------------------------------------------ */

static void test_profile_numbers(void **state)
{
	ds_builder *b;
	ds_table *t;
	profile *p;
	profile_opts o;

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "x", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "f", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "s", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "b", DS_BOOL, NULL), 0);
	for (int i = 10; i >= 1; i--) /* out of order on purpose */
		assert_int_equal(ds_append_i64(b, 0, i), 0);
	assert_int_equal(ds_append_null(b, 0), 0);
	assert_int_equal(ds_append_null(b, 0), 0);
	double fv[] = {1.5, NAN, INFINITY, -1, 2, 2, 2, 0.5, 1.5, 3, 4, -INFINITY};
	const char *sv[] = {"b", "a", "b", "c", "b", "a", NULL, "b", "d", "a", "b", "c"};
	for (size_t i = 0; i < 12; i++) {
		assert_int_equal(ds_append_f64(b, 1, fv[i]), 0);
		if (sv[i])
			assert_int_equal(ds_append_str(b, 2, sv[i], strlen(sv[i])), 0);
		else
			assert_int_equal(ds_append_null(b, 2), 0);
		assert_int_equal(ds_append_bool(b, 3, i % 3 == 0), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	profile_opts_default(&o);
	o.bins = 5;
	o.top_k = 3;
	assert_int_equal(profile_build(t, &o, &p), 0);
	assert_int_equal(p->rows, 12);

	const profile_col *x = profile_find(p, "x");
	assert_non_null(x);
	assert_int_equal(x->count, 12);
	assert_int_equal(x->missing, 2);
	assert_int_equal(x->n_values, 10);
	assert_int_equal(x->distinct, 10);
	assert_true(x->mean == 5.5 && x->min == 1 && x->max == 10);
	assert_true(fabs(x->std - 3.0276503540974917) < 1e-13);
	/* numpy.percentile(range(1, 11), [1, 5, 25, 50, 75, 95, 99]) */
	const double q[] = {1.09, 1.45, 3.25, 5.5, 7.75, 9.55, 9.91};
	for (size_t i = 0; i < PROFILE_NQ; i++)
		assert_true(fabs(x->q[i] - q[i]) < 1e-12);
	assert_int_equal(x->n_bins, 5);
	const double e[] = {1, 2.8, 4.6, 6.4, 8.2, 10};
	for (size_t i = 0; i <= 5; i++)
		assert_true(x->edges[i] == e[i]);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(x->bins[i], 2);
	assert_int_equal(x->n_top, 3); /* all counts 1: the smallest values first */
	assert_true(x->top[0].num == 1 && x->top[1].num == 2 && x->top[2].num == 3);

	const profile_col *f = profile_find(p, "f");
	assert_int_equal(f->missing, 1);  /* the NaN */
	assert_int_equal(f->infinite, 2);
	assert_int_equal(f->n_values, 9);
	assert_int_equal(f->distinct, 6); /* -1 0.5 1.5 2 3 4 */
	assert_true(f->min == -1 && f->max == 4);
	assert_true(fabs(f->mean - 15.5 / 9) < 1e-14);
	assert_true(f->top[0].num == 2 && f->top[0].count == 3);
	assert_true(f->top[1].num == 1.5 && f->top[1].count == 2);
	assert_true(f->top[2].num == -1 && f->top[2].count == 1);

	const profile_col *s = profile_find(p, "s");
	assert_int_equal(s->missing, 1);
	assert_int_equal(s->distinct, 4);
	assert_int_equal(s->n_cats, 4);
	assert_string_equal(s->cats[0].str, "b");
	assert_int_equal(s->cats[0].count, 5);
	assert_string_equal(s->cats[1].str, "a");
	assert_string_equal(s->cats[2].str, "c");
	assert_string_equal(s->cats[3].str, "d");
	assert_int_equal(s->cats_other, 0);

	const profile_col *bc = profile_find(p, "b");
	assert_int_equal(bc->distinct, 2);
	assert_true(fabs(bc->mean - 4.0 / 12) < 1e-14);
	assert_string_equal(bc->cats[0].str, "false");
	assert_int_equal(bc->cats[0].count, 8);

	/* Round trip: the same text again. */
	char *t1 = profile_dump(p);
	json_t *j = json_loads(t1, 0, NULL);
	profile *back;
	assert_int_equal(profile_from_json(j, &back), 0);
	char *t2 = profile_dump(back);
	assert_string_equal(t1, t2);
	assert_non_null(strstr(t1, "\"p50\": 5.5"));
	assert_non_null(strstr(t1, "\"infinite\": 2"));

	/* A damaged profile is refused with the field named. */
	json_t *cols = json_object_get(j, "columns");
	json_t *h = json_object_get(json_array_get(cols, 0), "histogram");
	json_array_set_new(json_object_get(h, "counts"), 0, json_integer(-3));
	profile *bad;
	assert_int_equal(profile_from_json(j, &bad), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "columns[0].histogram.counts[0]"));
	assert_null(bad);
	json_decref(j);
	sl__free(t1);
	sl__free(t2);
	profile_free(back);
	profile_free(p);
	ds_close(t);
}

static void test_profile_edge_cases(void **state)
{
	ds_builder *b;
	ds_table *t;
	profile *p;

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "const", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "empty", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "tiny", DS_FLOAT64, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(ds_append_f64(b, 0, 0.1), 0);
		assert_int_equal(ds_append_null(b, 1), 0);
		assert_int_equal(ds_append_f64(b, 2, 1 + i * 1e-16), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	assert_int_equal(profile_build(t, NULL, &p), 0);
	assert_int_equal(p->cols[0].n_bins, 1);
	assert_int_equal(p->cols[0].bins[0], 4);
	assert_true(p->cols[0].std == 0);
	assert_int_equal(p->cols[1].n_bins, 0);
	assert_true(isnan(p->cols[1].mean));
	assert_true(p->cols[2].n_bins >= 1);
	uint64_t total = 0;
	for (size_t i = 0; i < p->cols[2].n_bins; i++)
		total += p->cols[2].bins[i];
	assert_int_equal(total, 4);
	char *text = profile_dump(p);
	json_t *j = json_loads(text, 0, NULL);
	profile *back;
	assert_int_equal(profile_from_json(j, &back), 0);
	json_decref(j);
	sl__free(text);
	profile_free(back);
	profile_free(p);
	ds_close(t);
}

/* ---- drift decisions ----------------------------------------------------- */

static void test_drift_identical(void **state)
{
	ds_table *a = normal_table(800, 0, 1);
	drift_opts o;
	drift_result r;

	(void)state;
	drift_opts_default(&o);
	drift_of(a, a, &o, &r);
	assert_int_equal(r.test, DRIFT_KS);
	assert_false(r.drifted);
	assert_true(r.ks == 0 && r.psi == 0 && r.wasserstein == 0);
	assert_true(r.ks_pvalue == 1);
	assert_true(r.out_of_range == 0);
	ds_close(a);

	/* Two samples of one distribution: no alarm either. */
	a = normal_table(800, 0, 1);
	ds_table *b = normal_table(600, 0, 2);
	drift_of(a, b, &o, &r);
	assert_false(r.drifted);
	assert_true(r.ks_pvalue > 0.05);
	ds_close(a);
	ds_close(b);
}

static void test_drift_shifted(void **state)
{
	ds_table *a = normal_table(500, 0, 3), *b = normal_table(500, 1, 4);
	drift_opts o;
	drift_result r;

	(void)state;
	drift_opts_default(&o);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_KS); /* small samples: the p-value decides */
	assert_true(r.drifted);
	assert_true(r.ks_pvalue < 1e-10);
	assert_true(r.ks > 0.3);
	assert_true(r.mean_shift > 0.8 && r.mean_shift < 1.2);
	assert_true(r.wasserstein_norm > 0.7 && r.wasserstein_norm < 1.3);
	ds_close(a);
	ds_close(b);

	/* Large samples: the normalised Wasserstein distance decides, and a
	 * real shift still is drift. */
	a = normal_table(5000, 0, 5);
	b = normal_table(5000, 1, 6);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_WASSERSTEIN);
	assert_true(r.drifted);
	assert_true(r.psi > 0.5);
	assert_string_equal(r.psi_band, "major");
	assert_true(isnan(r.p_value));
	assert_true(r.out_of_range > 0);
	ds_close(a);
	ds_close(b);
}

static void test_drift_large_sample_tiny_shift(void **state)
{
	ds_table *a = normal_table(100000, 0, 7), *b = normal_table(100000, 0.05, 8);
	drift_opts o;
	drift_result r;

	(void)state;
	drift_opts_default(&o);
	drift_of(a, b, &o, &r);
	/* The KS p-value alone would call this drift ... */
	assert_true(r.ks_pvalue < 1e-6);
	/* ... but a 0.05 sd shift is not one worth an alarm: the distance decides. */
	assert_int_equal(r.test, DRIFT_WASSERSTEIN);
	assert_true(r.wasserstein_norm < 0.1);
	assert_true(r.psi < 0.02);
	assert_string_equal(r.psi_band, "none");
	assert_false(r.drifted);

	/* Forcing the p-value test shows the false alarm it would raise. */
	o.numeric_test = DRIFT_KS;
	drift_of(a, b, &o, &r);
	assert_true(r.drifted);
	ds_close(a);
	ds_close(b);
}

static void test_drift_categories(void **state)
{
	const char *cats[] = {"a", "b", "c", "d"};
	const size_t ra[] = {300, 500, 200}, rb[] = {400, 350, 250};
	ds_table *a = cat_table(cats, ra, 3), *b = cat_table(cats, rb, 3);
	drift_opts o;
	drift_result r;

	(void)state;
	drift_opts_default(&o);
	drift_of(a, a, &o, &r);
	assert_false(r.drifted);
	assert_true(r.chi2 == 0 && r.js == 0 && r.chi2_pvalue == 1);

	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_CHI2);
	assert_true(r.drifted);
	assert_true(fabs(r.chi2 - 46.31185807656396) < 1e-9);
	assert_true(fabs(r.chi2_pvalue - 8.780268470212761e-11) < 1e-19);
	assert_true(fabs(r.js - 0.1295201392638965) < 1e-12);
	ds_close(b);

	/* A category the reference never saw. */
	const size_t rc[] = {300, 500, 150, 50};
	b = cat_table(cats, rc, 4);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.new_categories, 1);
	assert_true(r.drifted);
	assert_true(fabs(r.chi2 - 57.142857142857146) < 1e-9);
	assert_true(fabs(r.chi2_df - 3) < 1e-12);
	assert_true(fabs(r.chi2_pvalue - 2.3956164095351736e-12) < 1e-20);
	assert_true(fabs(r.js - 0.16608755580718873) < 1e-12);

	/* Large n: JS decides; the same proportions are over its threshold. */
	const size_t big_a[] = {3000, 5000, 2000}, big_b[] = {3020, 4990, 1990};
	ds_close(a);
	ds_close(b);
	a = cat_table(cats, big_a, 3);
	b = cat_table(cats, big_b, 3);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_JS);
	assert_false(r.drifted);
	assert_true(r.js < 0.01);
	ds_close(a);
	ds_close(b);
}

/*
 * The case that PSI misses: the mean moved by 0.3 standard deviations, 4,000
 * rows against a reference of 5,000. PSI stays near 0.1 (moderate at most),
 * the KS p-value is ~0, the normalised Wasserstein distance is ~0.3: with a
 * large reference the distance decides, and it is drift. The same sizes
 * with no shift are not.
 */
static void test_drift_moderate_shift_large(void **state)
{
	ds_table *a = normal_table(5000, 0, 15), *b = normal_table(4000, 0.3, 16);
	drift_opts o;
	drift_result r;

	(void)state;
	drift_opts_default(&o);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_WASSERSTEIN);
	assert_true(r.drifted);
	assert_true(r.wasserstein_norm > 0.25 && r.wasserstein_norm < 0.35);
	assert_true(r.statistic == r.wasserstein_norm && r.threshold == 0.1);
	assert_true(r.ks_pvalue < 1e-10);
	/* PSI alone (the rule before) would have missed it. */
	assert_true(r.psi < 0.1);
	assert_string_equal(r.psi_band, "none");
	assert_int_equal(r.n_ref, 5000);
	assert_int_equal(r.n_cur, 4000);
	ds_close(b);

	b = normal_table(4000, 0, 17);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_WASSERSTEIN);
	assert_false(r.drifted);
	assert_true(r.wasserstein_norm < 0.1);
	assert_string_equal(r.psi_band, "none");
	ds_close(a);
	ds_close(b);
}

/* A bool (or any two-valued) column of a small reference: the Z-test. */
static ds_table *bool_table(size_t n, size_t n_true)
{
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "flag", DS_BOOL, NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ds_append_bool(b, 0, i < n_true), 0);
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

/* An int column holding the values 0..k-1, value v count[v] times. */
static ds_table *small_int_table(const size_t *count, size_t k)
{
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "n", DS_INT64, NULL), 0);
	for (size_t v = 0; v < k; v++)
		for (size_t i = 0; i < count[v]; i++)
			assert_int_equal(ds_append_i64(b, 0, (int64_t)v), 0);
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static void test_drift_rule(void **state)
{
	drift_opts o;

	(void)state;
	drift_opts_default(&o);
	/* Evidently's default: reference <= 1000 p-values, else distances. */
	assert_int_equal(drift_choose(true, 1000, 0, &o), DRIFT_KS);
	assert_int_equal(drift_choose(true, 1001, 0, &o), DRIFT_WASSERSTEIN);
	assert_int_equal(drift_choose(false, 1000, 7, &o), DRIFT_CHI2);
	assert_int_equal(drift_choose(false, 1000, 2, &o), DRIFT_Z);
	assert_int_equal(drift_choose(false, 1001, 2, &o), DRIFT_JS);
	assert_int_equal(drift_choose(false, 5000, 0, &o), DRIFT_JS);
	/* Numbers with at most five values are categories. */
	assert_int_equal(drift_choose(true, 500, 5, &o), DRIFT_CHI2);
	assert_int_equal(drift_choose(true, 500, 6, &o), DRIFT_KS);
	assert_int_equal(drift_choose(true, 500, 2, &o), DRIFT_Z);
	assert_int_equal(drift_choose(true, 5000, 3, &o), DRIFT_JS);
	/* The caller's settings win. */
	o.large_n = 10000;
	assert_int_equal(drift_choose(true, 5000, 0, &o), DRIFT_KS);
	o.numeric_test = DRIFT_PSI;
	assert_int_equal(drift_choose(true, 5000, 0, &o), DRIFT_PSI);
	o.categorical_test = DRIFT_JS;
	assert_int_equal(drift_choose(false, 10, 2, &o), DRIFT_JS);

	/* The two-proportion Z-test (statsmodels' proportions_ztest, pooled). */
	const uint64_t ra[] = {30, 70}, ca[] = {45, 55};
	double p;
	assert_true(fabs(drift_z(ra, 100, ca, 100, 2, &p) + 2.1908902300206647) < 1e-12);
	assert_true(fabs(p - 0.02845973691631057) < 1e-14);
	const uint64_t rb[] = {120, 280}, cb[] = {90, 160};
	assert_true(fabs(drift_z(rb, 400, cb, 250, 2, &p) + 1.5913728452086682) < 1e-12);
	assert_true(fabs(p - 0.11152569176875184) < 1e-14);
	const uint64_t one[] = {50, 0};
	assert_true(drift_z(one, 50, one, 50, 2, &p) == 0 && p == 1);
	assert_string_equal(drift_psi_band(0.0997), "none");
	assert_string_equal(drift_psi_band(0.1), "moderate");
	assert_string_equal(drift_psi_band(0.25), "major");
	assert_null(drift_psi_band(NAN));
}

/* Small references: KS for numbers, chi-square for categories, Z for two values. */
static void test_drift_small_samples(void **state)
{
	drift_opts o;
	drift_result r;
	ds_table *a, *b;

	(void)state;
	drift_opts_default(&o);
	/* Booleans: 30% true against 45% true, 100 rows each. */
	a = bool_table(100, 30);
	b = bool_table(100, 45);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_Z);
	assert_int_equal(r.n_values, 2);
	assert_true(fabs(fabs(r.z) - 2.1908902300206647) < 1e-9);
	assert_true(fabs(r.p_value - 0.02845973691631057) < 1e-9);
	assert_true(r.drifted);
	ds_close(b);
	b = bool_table(100, 33);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_Z);
	assert_false(r.drifted);
	ds_close(a);
	ds_close(b);

	/* Numbers with few values are tested on their value counts. */
	const size_t c3[] = {300, 500, 200}, d3[] = {400, 350, 250};
	a = small_int_table(c3, 3);
	b = small_int_table(d3, 3);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_CHI2);
	assert_int_equal(r.n_values, 3);
	assert_true(fabs(r.chi2 - 46.31185807656396) < 1e-9);
	assert_true(r.drifted);
	assert_false(isnan(r.ks)); /* the numeric statistics are still there */
	ds_close(a);
	ds_close(b);
	const size_t c2[] = {70, 30}, d2[] = {55, 45};
	a = small_int_table(c2, 2);
	b = small_int_table(d2, 2);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_Z);
	assert_true(fabs(r.p_value - 0.02845973691631057) < 1e-9);
	assert_true(r.drifted);
	ds_close(a);
	ds_close(b);
	/* A large reference: Jensen-Shannon on the value counts. */
	const size_t e3[] = {3000, 5000, 2000}, f3[] = {3020, 4990, 1990};
	a = small_int_table(e3, 3);
	b = small_int_table(f3, 3);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_JS);
	assert_false(r.drifted);
	ds_close(a);
	ds_close(b);

	/* Many values, small reference: KS, shifted by 0.3 sd over 800 rows. */
	a = normal_table(800, 0, 21);
	b = normal_table(700, 0.3, 22);
	drift_of(a, b, &o, &r);
	assert_int_equal(r.test, DRIFT_KS);
	assert_true(r.p_value < 0.05 && r.drifted);
	ds_close(a);
	ds_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kolmogorov),
		cmocka_unit_test(test_chi2_and_gamma),
		cmocka_unit_test(test_count_statistics),
		cmocka_unit_test(test_profile_numbers),
		cmocka_unit_test(test_profile_edge_cases),
		cmocka_unit_test(test_drift_identical),
		cmocka_unit_test(test_drift_shifted),
		cmocka_unit_test(test_drift_large_sample_tiny_shift),
		cmocka_unit_test(test_drift_categories),
		cmocka_unit_test(test_drift_moderate_shift_large),
		cmocka_unit_test(test_drift_rule),
		cmocka_unit_test(test_drift_small_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
