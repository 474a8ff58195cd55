/*
 * Live monitoring's statistics: the isotonic calibration (pool-adjacent-
 * violators by hand-computed blocks, interpolation, the JSON round trip and
 * its checks), the confidence-based estimates (exact when the
 * probabilities are certain; within 0.03 of the realised accuracy under
 * covariate shift with P(y|x) fixed, as the issue asks), and the window
 * drift of mon_drift_table through the one rule of drift.h: no dataset
 * drift in at least 95 of 100 windows drawn from the training
 * distribution, with a large reference (distances decide) and a small one
 * (p-values decide), and a 0.5 standard deviation shift of three features
 * caught in one window of 1,000 requests. The page escapes what it shows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "rng.h"
#include "dataset/dataset.h"
#include "monitor/calib.h"
#include "monitor/live.h"
#include "monitor/live_int.h"
#include "monitor/profile.h"
#include "testutil.h"

/* ---- calibration ---------------------------------------------------------------------- */

static void test_isotonic_blocks(void **state)
{
	/* Scores 1..6 with truths 0 1 0 1 1 0: PAV pools (1 0) -> 0.5 at 2..3
	 * and (1 1 0) -> 2/3 at 4..6; the first stays 0. */
	const double s[] = {1, 2, 3, 4, 5, 6}, t[] = {0, 1, 0, 1, 1, 0};
	calib c;

	(void)state;
	assert_int_equal(calib_fit(s, t, 6, &c), 0);
	assert_int_equal(c.rows, 6);
	assert_true(fabs(calib_apply(&c, 1) - 0) < 1e-12);
	assert_true(fabs(calib_apply(&c, 2) - 0.5) < 1e-12);
	assert_true(fabs(calib_apply(&c, 3) - 0.5) < 1e-12);
	assert_true(fabs(calib_apply(&c, 5) - 2.0 / 3) < 1e-12);
	/* Linear between knots, constant outside. */
	assert_true(fabs(calib_apply(&c, 1.5) - 0.25) < 1e-12);
	assert_true(fabs(calib_apply(&c, 3.5) - (0.5 + 2.0 / 3) / 2) < 1e-12);
	assert_true(fabs(calib_apply(&c, -10) - 0) < 1e-12);
	assert_true(fabs(calib_apply(&c, 99) - 2.0 / 3) < 1e-12);
	for (size_t i = 1; i < c.n; i++) {
		assert_true(c.x[i] > c.x[i - 1]);
		assert_true(c.y[i] >= c.y[i - 1]);
	}

	/* Through JSON, and what the reader refuses. */
	json_t *j = calib_to_json(&c);
	calib back;
	assert_non_null(j);
	assert_int_equal(calib_from_json(j, &back), 0);
	assert_int_equal(back.n, c.n);
	for (size_t i = 0; i < c.n; i++)
		assert_true(back.x[i] == c.x[i] && back.y[i] == c.y[i]);
	calib_clear(&back);
	json_array_set_new(json_object_get(j, "y"), 0, json_real(0.9)); /* now decreasing */
	assert_int_equal(calib_from_json(j, &back), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "knot 1"));
	json_decref(j);
	calib_clear(&c);

	/* Ties form one block; a non-finite score is left out; none left is an error. */
	const double s2[] = {0.3, 0.3, NAN, 0.7}, t2[] = {1, 0, 1, 1};
	assert_int_equal(calib_fit(s2, t2, 4, &c), 0);
	assert_int_equal(c.rows, 3);
	assert_true(fabs(calib_apply(&c, 0.3) - 0.5) < 1e-12);
	calib_clear(&c);
	const double s3[] = {NAN};
	assert_int_equal(calib_fit(s3, t2, 1, &c), SL_EINVAL);
}

static void test_estimate_exact(void **state)
{
	/* With certain probabilities the expected metrics are the realised ones. */
	const double q[] = {1, 1, 0, 0, 1, 0}, s[] = {0.9, 0.4, 0.6, 0.1, 0.8, 0.2};
	calib_estimates e;

	(void)state;
	assert_int_equal(calib_estimate(q, s, 6, true, 50, &e), 0);
	/* Decisions 1 0 1 0 1 0 against truths 1 1 0 0 1 0: 4 right, tp 2, fp 1, fn 1. */
	assert_true(fabs(e.accuracy.value - 4.0 / 6) < 1e-12);
	assert_true(fabs(e.f1.value - 2.0 * 2 / (2 * 2 + 1 + 1)) < 1e-12);
	/* Positives' scores 0.9 0.4 0.8 against negatives' 0.6 0.1 0.2: 8 of 9 pairs. */
	assert_true(fabs(e.auc.value - 8.0 / 9) < 1e-12);
	assert_true(e.accuracy.lower == e.accuracy.value && e.accuracy.upper == e.accuracy.value);

	/* Uncertain rows widen the band around the value; multiclass reads only q. */
	const double q2[] = {0.7, 0.9, 0.6, 0.8};
	assert_int_equal(calib_estimate(q2, NULL, 4, false, 0, &e), 0);
	assert_true(fabs(e.accuracy.value - 0.75) < 1e-12);
	assert_true(e.accuracy.lower < e.accuracy.value && e.accuracy.upper > e.accuracy.value);
	assert_true(isnan(e.f1.value) && isnan(e.auc.value));
}

static double sigmoid(double z)
{
	return 1 / (1 + exp(-z));
}

/*
 * The label-free estimate under covariate shift: P(y | x) fixed (a
 * logistic law), the model's score deliberately miscalibrated (too
 * timid), the calibration fitted on validation rows from the training
 * distribution, and the window's features shifted. Calibration holds per
 * score, so the estimated accuracy must stay within 0.03 of the realised.
 */
static void test_estimate_covariate_shift(void **state)
{
	const size_t nv = 5000, nw = 5000;
	const double w[3] = {1.2, -0.8, 0.5};
	double *s = malloc(nv * sizeof *s), *t = malloc(nv * sizeof *t);
	double *ws = malloc(nw * sizeof *ws), *q = malloc(nw * sizeof *q);
	sl__rng r;
	calib c;

	(void)state;
	for (int trial = 0; trial < 5; trial++) {
		sl__rng_seed(&r, 100 + (uint64_t)trial);
		for (size_t i = 0; i < nv; i++) {
			double z = 0;
			for (int k = 0; k < 3; k++)
				z += w[k] * sl__rng_normal(&r);
			s[i] = sigmoid(0.5 * z); /* the model: right order, wrong scale */
			t[i] = sl__rng_uniform(&r) < sigmoid(z);
		}
		assert_int_equal(calib_fit(s, t, nv, &c), 0);
		double right = 0;
		for (size_t i = 0; i < nw; i++) {
			double z = 0;
			for (int k = 0; k < 3; k++)
				z += w[k] * (sl__rng_normal(&r) + (k == 0 ? 0.8 : k == 1 ? -0.5 : 0));
			ws[i] = sigmoid(0.5 * z);
			q[i] = calib_apply(&c, ws[i]);
			bool y = sl__rng_uniform(&r) < sigmoid(z);
			right += y == (ws[i] > 0.5);
		}
		calib_estimates e;
		assert_int_equal(calib_estimate(q, ws, nw, true, 100, &e), 0);
		double realised = right / (double)nw;
		if (fabs(e.accuracy.value - realised) >= 0.03)
			fail_msg("trial %d: estimated %.4f, realised %.4f", trial, e.accuracy.value,
				 realised);
		assert_true(e.accuracy.lower <= e.accuracy.value && e.accuracy.value <= e.accuracy.upper);
		calib_clear(&c);
	}
	free(s);
	free(t);
	free(ws);
	free(q);
}

/* ---- window drift -------------------------------------------------------------------------- */

#define NUM_COLS 10

/*
 * A table like the training data: NUM_COLS numbers N(0, 1) (the first
 * `shifted` of them moved by `shift` standard deviations) and a category
 * of three values.
 */
static ds_table *traffic(sl__rng *r, size_t n, size_t shifted, double shift)
{
	static const char *const cats[] = {"a", "b", "c"};
	ds_builder *b;
	ds_table *t;
	char name[16];

	assert_int_equal(ds_builder_new(&b), 0);
	for (int k = 0; k < NUM_COLS; k++) {
		snprintf(name, sizeof name, "x%d", k);
		assert_int_equal(ds_builder_add_col(b, name, DS_FLOAT64, NULL), 0);
	}
	assert_int_equal(ds_builder_add_col(b, "kind", DS_STRING, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < NUM_COLS; k++)
			assert_int_equal(ds_append_f64(b, k, sl__rng_normal(r) + (k < shifted ? shift : 0)),
					 0);
		double u = sl__rng_uniform(r);
		const char *c = cats[u < 0.5 ? 0 : u < 0.8 ? 1 : 2];
		assert_int_equal(ds_append_str(b, NUM_COLS, c, 1), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static profile *reference(sl__rng *r, size_t n)
{
	ds_table *t = traffic(r, n, 0, 0);
	profile *p;

	assert_int_equal(profile_build(t, NULL, &p), 0);
	ds_close(t);
	return p;
}

/* Windows of 1,000 rows from the training distribution: dataset drift in at most 5 of 100. */
static void false_alarms(size_t ref_rows, const char *want_test)
{
	sl__rng r;
	drift_opts o;
	profile *ref;
	int alarms = 0;

	sl__rng_seed(&r, 2026 + ref_rows);
	drift_opts_default(&o);
	ref = reference(&r, ref_rows);
	for (int w = 0; w < 100; w++) {
		ds_table *t = traffic(&r, 1000, 0, 0);
		json_t *feats;
		size_t tested, drifted;
		assert_int_equal(mon_drift_table(ref, t, &o, NULL, 0, &feats, &tested, &drifted), 0);
		assert_int_equal(tested, NUM_COLS + 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(feats, 0), "test")),
				    want_test);
		alarms += (double)drifted / (double)tested >= 0.5;
		json_decref(feats);
		ds_close(t);
	}
	profile_free(ref);
	if (alarms > 5)
		fail_msg("reference of %zu rows: dataset drift in %d of 100 windows", ref_rows, alarms);
}

static void test_no_false_alarms(void **state)
{
	(void)state;
	false_alarms(5000, "wasserstein"); /* a large reference: distances decide */
	false_alarms(800, "ks");           /* a small one: p-values decide */
}

/* A 0.5 sd shift of three features is caught within one window of 1,000 requests. */
static void detection(size_t ref_rows)
{
	sl__rng r;
	drift_opts o;
	profile *ref;
	ds_table *t;
	json_t *feats, *f;
	size_t tested, drifted, i;

	sl__rng_seed(&r, 7 + ref_rows);
	drift_opts_default(&o);
	ref = reference(&r, ref_rows);
	t = traffic(&r, 1000, 3, 0.5);
	assert_int_equal(mon_drift_table(ref, t, &o, NULL, 0, &feats, &tested, &drifted), 0);
	json_array_foreach(feats, i, f) {
		bool want = i < 3;
		if (json_is_true(json_object_get(f, "drift")) != want)
			fail_msg("reference %zu rows, %s: drift %d, statistic %g", ref_rows,
				 json_string_value(json_object_get(f, "name")),
				 json_is_true(json_object_get(f, "drift")),
				 json_number_value(json_object_get(f, "statistic")));
	}
	assert_int_equal(drifted, 3);
	json_decref(feats);

	/* Only the listed columns are reported (canvas live_monitoring.drift columns). */
	const char *only[] = {"x0", "kind"};
	assert_int_equal(mon_drift_table(ref, t, &o, only, 2, &feats, &tested, &drifted), 0);
	assert_int_equal(json_array_size(feats), 2);
	assert_int_equal(tested, 2);
	assert_int_equal(drifted, 1);
	json_decref(feats);
	ds_close(t);
	profile_free(ref);
}

static void test_detection(void **state)
{
	(void)state;
	detection(5000);
	detection(800);
}

/* ---- the page ----------------------------------------------------------------------------- */

static void test_html(void **state)
{
	json_t *rep = json_pack(
		"{s:s, s:i, s:{s:i, s:i, s:s, s:s}, s:b, s:f, s:f, s:i, s:i,"
		" s:[{s:s, s:s, s:f, s:n, s:f, s:b, s:f, s:s}], s:n, s:{}, s:{}}",
		"model", "spam", "version", 3, "window", "requests", 1000, "rows", 1000, "from",
		"2026-11-30T10:00:00Z", "to", "2026-11-30T11:00:00Z", "dataset_drift", 1, "drift_share",
		1.0, "drift_share_threshold", 0.5, "features_tested", 1, "features_drifted", 1,
		"features", "name", "<script>x</script>", "test", "wasserstein", "statistic", 0.4,
		"p_value", "threshold", 0.1, "drift", 1, "psi", 0.3, "psi_band", "major",
		"prediction_drift", "live", "estimated");
	json_t *hist = json_pack("[{s:i, s:{s:f, s:f}}, {s:i, s:{s:f, s:f}}]", "seq", 1, "values",
				 "drift.<script>x</script>.statistic", 0.05, "requests", 1000.0,
				 "seq", 2, "values", "drift.<script>x</script>.statistic", 0.4,
				 "requests", 1000.0);
	char *html;

	(void)state;
	assert_non_null(rep);
	assert_non_null(hist);
	assert_int_equal(mon_html(rep, hist, &html), 0);
	assert_non_null(strstr(html, "<svg"));
	assert_non_null(strstr(html, "Dataset drift"));
	assert_non_null(strstr(html, "&lt;script&gt;"));
	assert_null(strstr(html, "<script>"));
	sl__free(html);
	assert_int_equal(mon_html(hist, NULL, &html), SL_EINVAL);
	json_decref(rep);
	json_decref(hist);
}

/* A file server's version label (12 hex digits of the bundle's digest)
 * is no registry number even when every digit is decimal (it once was
 * read as version 119316812070 of a model with one version). */
static void test_registry_number(void **state)
{
	int64_t n = 0;

	(void)state;
	assert_true(mon_registry_number("3", &n));
	assert_int_equal(n, 3);
	assert_true(mon_registry_number("1234567890123", &n));
	assert_false(mon_registry_number("119316812070", &n));
	assert_false(mon_registry_number("11931681207a", &n));
	assert_false(mon_registry_number("0", &n));
	assert_false(mon_registry_number("-2", &n));
	assert_false(mon_registry_number("", &n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isotonic_blocks),
		cmocka_unit_test(test_estimate_exact),
		cmocka_unit_test(test_estimate_covariate_shift),
		cmocka_unit_test(test_no_false_alarms),
		cmocka_unit_test(test_detection),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_registry_number),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
