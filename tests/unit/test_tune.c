/*
 * Search spaces and the plans drawn from them (ml/search.c), the one table
 * of metric directions (ml/metric_dir.c) held to evaluate's list, and the
 * tune step's parse-time refusals at their place in the file: a grid is
 * the product exactly, random draws are the same for the same seed and
 * trial whatever the budget, halving's rungs shrink by eta, importance
 * finds the option that moves the metric; out of memory anywhere in a plan
 * or a page is an error, never a crash or half a page.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/compare_html.h"
#include "ml/eval_int.h"
#include "ml/metric_dir.h"
#include "ml/search.h"
#include "ml/tune_html.h"
#include "pipeline/spec.h"
#include "pipeline/tune.h"
#include "testutil.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

/* ---- metric directions ------------------------------------------------------- */

static void test_metric_directions(void **state)
{
	(void)state;
	assert_int_equal(ml_metric_direction("auc"), 1);
	assert_int_equal(ml_metric_direction("valid_auc"), 1);
	assert_int_equal(ml_metric_direction("train_accuracy"), 1);
	assert_int_equal(ml_metric_direction("r2"), 1);
	assert_int_equal(ml_metric_direction("rmse"), -1);
	assert_int_equal(ml_metric_direction("test_rmse"), -1);
	assert_int_equal(ml_metric_direction("valid_logloss"), -1);
	assert_int_equal(ml_metric_direction("evaluate.cost"), -1);
	assert_int_equal(ml_metric_direction("train.valid_auc"), 1);
	assert_int_equal(ml_metric_direction("rows"), 0);
	assert_int_equal(ml_metric_direction("no_such_metric"), 0);
	assert_false(ml_metric_direction_known("valid_thing", NULL));
	assert_string_equal(ml_metric_direction_name(-1), "lower");
	/* Invariant 1 of metric_dir.c: evaluate's own list agrees name by name. */
	for (int m = 0; m < EV_N_METRICS; m++) {
		int d = 99;
		if (!ml_metric_direction_known(ev_metrics[m].name, &d))
			fail_msg("evaluate's metric '%s' is not in metric_dir.c", ev_metrics[m].name);
		if (d != ev_metrics[m].direction)
			fail_msg("'%s': metric_dir.c says %d, evaluate %d", ev_metrics[m].name, d,
				 ev_metrics[m].direction);
	}
}

/* ---- spaces ----------------------------------------------------------------- */

static void bad_space(const char *text, const char *path, const char *needle)
{
	json_t *j = parse(text);
	ml_search_space s;
	char where[128];

	assert_int_equal(ml_search_space_parse(j, &s, where, sizeof where), SL_EINVAL);
	assert_string_equal(where, path);
	if (!strstr(sl_errmsg(), needle))
		fail_msg("'%s' lacks '%s'", sl_errmsg(), needle);
	ml_search_space_free(&s);
	json_decref(j);
}

static void test_space_refusals(void **state)
{
	(void)state;
	bad_space("{\"C\": {\"low\": 10, \"high\": 1}}", "C.low", "inverted");
	bad_space("{\"C\": {\"low\": 1, \"high\": 1}}", "C.low", "empty");
	bad_space("{\"C\": {\"low\": 0, \"high\": 1, \"log\": true}}", "C.low", "above 0");
	bad_space("{\"C\": {\"low\": -2, \"high\": 1, \"log\": true}}", "C.low", "above 0");
	bad_space("{\"a\": {\"values\": []}}", "a.values", "at least one");
	bad_space("{}", "", "at least one");
}

/* Grid points in itertools.product order, every combination once. */
static void test_grid_is_the_product(void **state)
{
	json_t *j = parse("{\"a\": {\"values\": [1, 2, 3]}, \"b\": {\"values\": [\"x\", \"y\"]}, "
			  "\"c\": {\"low\": 1, \"high\": 2.5, \"int\": true}}");
	ml_search_space s;
	char where[64], seen[12][64];
	size_t n;

	(void)state;
	assert_int_equal(ml_search_space_parse(j, &s, where, sizeof where), 0);
	assert_int_equal(ml_search_grid_size(&s, 1000, &n), 0);
	assert_int_equal(n, 3 * 2 * 2);
	for (size_t k = 0; k < n; k++) {
		json_t *p = ml_search_grid_point(&s, k);
		char *t = json_dumps(p, JSON_COMPACT);
		/* The first option changes slowest, the last fastest. */
		assert_int_equal(json_integer_value(json_object_get(p, "a")), (json_int_t)(k / 4 + 1));
		assert_string_equal(json_string_value(json_object_get(p, "b")), (k / 2) % 2 ? "y" : "x");
		assert_true(json_is_integer(json_object_get(p, "c")));
		assert_int_equal(json_integer_value(json_object_get(p, "c")), (json_int_t)(k % 2 + 1));
		snprintf(seen[k], sizeof seen[k], "%s", t);
		for (size_t q = 0; q < k; q++)
			assert_string_not_equal(seen[q], seen[k]);
		free(t);
		json_decref(p);
	}
	/* A real range has no grid; the size is capped past max. */
	ml_search_space_free(&s);
	json_decref(j);
	j = parse("{\"a\": {\"values\": [1, 2]}, \"r\": {\"low\": 0.1, \"high\": 1}}");
	assert_int_equal(ml_search_space_parse(j, &s, where, sizeof where), 0);
	assert_int_equal(ml_search_grid_size(&s, 1000, &n), 0);
	assert_int_equal(n, 0);
	ml_search_space_free(&s);
	json_decref(j);
	j = parse("{\"a\": {\"low\": 1, \"high\": 1000, \"int\": true}, "
		  "\"b\": {\"low\": 1, \"high\": 1000, \"int\": true}}");
	assert_int_equal(ml_search_space_parse(j, &s, where, sizeof where), 0);
	assert_int_equal(ml_search_grid_size(&s, 5000, &n), 0);
	assert_int_equal(n, 5001);
	ml_search_space_free(&s);
	json_decref(j);
}

/* The same seed and trial give the same point, whatever else was drawn. */
static void test_random_is_reproducible(void **state)
{
	json_t *j = parse("{\"C\": {\"low\": 0.001, \"high\": 100, \"log\": true}, "
			  "\"d\": {\"low\": 2, \"high\": 9, \"int\": true}, "
			  "\"p\": {\"values\": [\"l1\", \"l2\", \"none\"]}, "
			  "\"u\": {\"low\": -1, \"high\": 1}}");
	ml_search_space s;
	char where[64];
	size_t below_one = 0, differ = 0;

	(void)state;
	assert_int_equal(ml_search_space_parse(j, &s, where, sizeof where), 0);
	for (size_t k = 0; k < 200; k++) {
		json_t *a = ml_search_random_point(&s, 42, k), *b = ml_search_random_point(&s, 42, k);
		json_t *c = ml_search_random_point(&s, 43, k);
		double C = json_real_value(json_object_get(a, "C"));
		json_int_t d = json_integer_value(json_object_get(a, "d"));
		assert_true(json_equal(a, b));
		differ += !json_equal(a, c);
		assert_true(C >= 0.001 && C <= 100);
		below_one += C < 1;
		assert_true(json_is_integer(json_object_get(a, "d")));
		assert_true(d >= 2 && d <= 9);
		assert_true(json_is_string(json_object_get(a, "p")));
		assert_true(fabs(json_real_value(json_object_get(a, "u"))) <= 1);
		json_decref(a);
		json_decref(b);
		json_decref(c);
	}
	/* Log-uniform over 1e-3..1e2: three of five decades lie below 1. */
	assert_true(below_one > 90 && below_one < 150);
	assert_true(differ > 190);
	ml_search_space_free(&s);
	json_decref(j);
}

static void test_halving_rungs(void **state)
{
	size_t sizes[16];

	(void)state;
	assert_int_equal(ml_search_rungs(27, 3, sizes, 16), 4);
	assert_int_equal(sizes[0], 27);
	assert_int_equal(sizes[1], 9);
	assert_int_equal(sizes[2], 3);
	assert_int_equal(sizes[3], 1);
	assert_int_equal(ml_search_rungs(10, 3, sizes, 16), 3);
	assert_int_equal(sizes[1], 3);
	assert_int_equal(sizes[2], 1);
	assert_int_equal(ml_search_rungs(16, 2, sizes, 3), 3);
	assert_int_equal(sizes[2], 4);
	assert_int_equal(ml_search_rungs(1, 3, sizes, 16), 1);
}

/* The metric follows a alone: a explains it, b does not. */
static void test_importance(void **state)
{
	json_t *j = parse("{\"a\": {\"low\": 0, \"high\": 1}, \"b\": {\"values\": [\"x\", \"y\"]}}");
	ml_search_space s;
	char where[64];
	json_t *params[40], *imp;
	const json_t *params_c[40];
	double metric[40];

	(void)state;
	assert_int_equal(ml_search_space_parse(j, &s, where, sizeof where), 0);
	for (size_t k = 0; k < 40; k++) {
		params[k] = ml_search_random_point(&s, 7, k);
		params_c[k] = params[k];
		metric[k] = 3 * json_real_value(json_object_get(params[k], "a"));
	}
	metric[5] = NAN; /* a failed trial is left out */
	imp = ml_search_importance(&s, params_c, metric, 40, 4);
	assert_non_null(imp);
	assert_int_equal(json_array_size(imp), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(imp, 0), "name")), "a");
	assert_true(json_real_value(json_object_get(json_array_get(imp, 0), "share")) > 0.8);
	assert_true(json_real_value(json_object_get(json_array_get(imp, 1), "share")) < 0.2);
	assert_int_equal(json_array_size(json_object_get(json_array_get(imp, 0), "groups")), 4);
	json_decref(imp);
	for (size_t k = 0; k < 40; k++)
		json_decref(params[k]);
	ml_search_space_free(&s);
	json_decref(j);

	/* Whole numbers with ties: quantile cuts fall on the same value, and the
	 * bin between them is empty (it is left out, not written as infinity). */
	j = parse("{\"d\": {\"low\": 2, \"high\": 8, \"int\": true}}");
	assert_int_equal(ml_search_space_parse(j, &s, where, sizeof where), 0);
	{
		static const int d[] = {2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8};
		for (size_t k = 0; k < 12; k++) {
			params[k] = json_pack("{s:i}", "d", d[k]);
			params_c[k] = params[k];
			metric[k] = d[k];
		}
	}
	imp = ml_search_importance(&s, params_c, metric, 12, 4);
	assert_non_null(imp);
	assert_true(json_real_value(json_object_get(json_array_get(imp, 0), "share")) > 0.5);
	json_decref(imp);
	for (size_t k = 0; k < 12; k++)
		json_decref(params[k]);
	ml_search_space_free(&s);
	json_decref(j);
}

/* ---- the tune step's options, in a pipeline file ------------------------------ */

static void bad_pipeline(const char *with, const char *where, const char *needle)
{
	char text[2048];
	spec *sp = NULL;
	int rc;

	snprintf(text, sizeof text,
		 "name: t\nsteps:\n  src:\n    run: 'true'\n    outputs: [train, valid]\n"
		 "  tune:\n    uses: tune\n    inputs: { train: src.train, valid: src.valid }\n"
		 "    with:\n%s",
		 with);
	rc = spec_parse_string(text, strlen(text), "t.yaml", "/tmp", NULL, 0, &sp);
	if (rc == 0)
		fail_msg("accepted:\n%s", with);
	assert_int_equal(rc, SL_ESPEC);
	if (!strstr(sl_errmsg(), where) || !strstr(sl_errmsg(), needle))
		fail_msg("'%s' lacks '%s' or '%s'", sl_errmsg(), where, needle);
}

static void test_bad_search_spaces_are_placed(void **state)
{
	(void)state;
	/* An inverted range: at its low bound. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n"
		     "      search:\n        C: { low: 10, high: 1 }\n",
		     "t.yaml:13:19:", "inverted");
	/* A log range at 0. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n"
		     "      search:\n        C: { low: 0, high: 1, log: true }\n",
		     "t.yaml:13:19:", "above 0");
	/* An option the training step does not have, with a suggestion. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n"
		     "      search:\n        penalti: { values: [l1, l2] }\n",
		     "t.yaml:13:18:", "did you mean 'penalty'");
	/* A value the trainer refuses, at the value. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n"
		     "      search:\n        C: { values: [1, -1] }\n",
		     "t.yaml:13:26:", "must be above 0");
	/* A bound the trainer refuses. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n"
		     "      search:\n        C: { low: -1, high: 1 }\n",
		     "t.yaml:13:19:", "must be above 0");
	/* A value not among the trainer's choices. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n"
		     "      search:\n        penalty: { values: [l2, l3] }\n",
		     "t.yaml:13:33:", "penalty");
	/* Not a training step. */
	bad_pipeline("      step: evaluate\n      template: { target: y }\n"
		     "      search:\n        C: { values: [1] }\n",
		     "t.yaml:10:13:", "not a training step");
	/* The target missing from the template. */
	bad_pipeline("      step: train.logistic\n"
		     "      search:\n        C: { values: [1] }\n",
		     "t.yaml:", "target");
	/* A grid over a real range. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n      method: grid\n"
		     "      search:\n        C: { low: 0.1, high: 1 }\n",
		     "t.yaml:14:", "grid needs the values");
	/* halving's resource must be an integer option or rows, and not searched. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n"
		     "      method: halving\n      resource: tol\n"
		     "      search:\n        C: { values: [1, 2] }\n",
		     "t.yaml:13:", "not a resource");
	/* A metric whose direction is unknown needs one. */
	bad_pipeline("      step: train.logistic\n      template: { target: y }\n"
		     "      metric: valid_thing\n"
		     "      search:\n        C: { values: [1, 2] }\n",
		     "t.yaml:12:", "direction: max or min");
}

/* ---- out of memory --------------------------------------------------------------- */

/* Everything a search plan allocates, in one call: 0, or the failure's code. */
static int plan_all(const json_t *search)
{
	ml_search_space s;
	char where[64];
	json_t *pts[6] = {0}, *imp = NULL;
	double metric[6];
	size_t n = 0;
	int rc = ml_search_space_parse(search, &s, where, sizeof where);

	for (size_t k = 0; rc == 0 && k < 6; k++) {
		pts[k] = k < 3 ? ml_search_grid_point(&s, k) : ml_search_random_point(&s, 3, k);
		metric[k] = (double)k;
		if (!pts[k])
			rc = SL_ENOMEM;
		n = k + 1;
	}
	if (rc == 0 && !(imp = ml_search_importance(&s, (const json_t *const *)pts, metric, 6, 4)))
		rc = SL_ENOMEM;
	if (rc == 0 && json_array_size(imp) != 2)
		rc = SL_EINVAL;
	json_decref(imp);
	for (size_t k = 0; k < n; k++)
		json_decref(pts[k]);
	ml_search_space_free(&s);
	return rc;
}

static void test_search_under_oom(void **state)
{
	json_t *j = parse("{\"a\": {\"values\": [1, 2, 3]}, \"b\": {\"low\": 1, \"high\": 9, \"int\": true}}");
	tu_oom o = {0};

	(void)state;
	for (long n = 0; n < 10000 && !o.done; n++) {
		tu_oom_begin(&o, n);
		int rc = plan_all(j);
		tu_oom_end(&o, rc);
	}
	tu_oom_check(&o, 5);
	json_decref(j);
}

static const char tune_report[] =
	"{\"kind\": \"sluice.tune_report\", \"version\": 1, \"step\": \"train.logistic\", "
	"\"method\": \"random\", \"metric\": \"valid_auc\", \"goal\": \"max\", "
	"\"search\": {\"C\": {\"low\": 0.01, \"high\": 10, \"log\": true}, \"p\": {\"values\": [\"l1\", \"l2\"]}}, "
	"\"trials\": [{\"trial\": 0, \"rung\": 0, \"params\": {\"C\": 0.1, \"p\": \"l1\"}, \"status\": \"ok\", \"metric\": 0.8}, "
	"{\"trial\": 1, \"rung\": 0, \"params\": {\"C\": 3, \"p\": \"l2\"}, \"status\": \"ok\", \"metric\": 0.9}, "
	"{\"trial\": 2, \"rung\": 0, \"params\": {\"C\": 5, \"p\": \"<b>\"}, \"status\": \"failed\", \"metric\": null, \"error\": \"x < y\"}], "
	"\"best\": {\"trial\": 1, \"params\": {\"C\": 3, \"p\": \"l2\"}, \"metric\": 0.9}, "
	"\"counts\": {\"trials\": 3, \"ok\": 2, \"failed\": 1}, "
	"\"importance\": {\"method\": \"m\", \"params\": [{\"name\": \"C\", \"share\": 0.5}]}}";

static const char comparison[] =
	"{\"runs\": [{\"run\": \"aaaa\", \"pipeline\": \"p\"}, {\"run\": \"bbbb\", \"pipeline\": \"p\"}], "
	"\"params\": [{\"step\": null, \"name\": \"C\", \"values\": [1, 10], \"differs\": true}], "
	"\"metrics\": [{\"step\": \"train\", \"name\": \"valid_auc\", \"values\": [0.9, 0.95], "
	"\"differs\": true, \"direction\": \"higher\", \"best\": [1]}, "
	"{\"step\": \"train\", \"name\": \"valid_rmse\", \"values\": [2, 1], "
	"\"differs\": true, \"direction\": \"lower\", \"best\": [1]}]}";

/* The pages: escaped data, and out of memory is an error, never a half page. */
static void test_pages_under_oom(void **state)
{
	json_t *rep = parse(tune_report), *cmp = parse(comparison);
	tu_oom o = {0}, c = {0};
	char *html = NULL;

	(void)state;
	assert_int_equal(ml_tune_report_html(rep, &html), 0);
	assert_non_null(strstr(html, "&lt;b&gt;"));
	assert_null(strstr(html, "<b>\""));
	assert_non_null(strstr(html, "<svg"));
	assert_non_null(strstr(html, "Best: trial 1"));
	sl__free(html);
	for (long n = 0; n < 100000 && !o.done; n++) {
		html = NULL;
		tu_oom_begin(&o, n);
		int rc = ml_tune_report_html(rep, &html);
		tu_oom_end(&o, rc);
		if (rc)
			assert_null(html);
		sl__free(html);
	}
	tu_oom_check(&o, 3);
	for (long n = 0; n < 100000 && !c.done; n++) {
		html = NULL;
		tu_oom_begin(&c, n);
		int rc = ml_compare_html(cmp, &html);
		tu_oom_end(&c, rc);
		if (rc == 0)
			assert_non_null(strstr(html, "<b>0.95</b>"));
		sl__free(html);
	}
	tu_oom_check(&c, 3);
	json_decref(rep);
	json_decref(cmp);
}

/* The scheduler's expansion of a search: under out of memory it fails whole
 * and leaves the pipeline as it was; on success the trials are steps with
 * the trainer's options and the tune step waits for all of them. */
static void test_expand_under_oom(void **state)
{
	static const char text[] =
		"name: t\nsteps:\n  src:\n    run: 'true'\n    outputs: [train, valid]\n"
		"  tune:\n    uses: tune\n    inputs: { train: src.train, valid: src.valid }\n"
		"    with:\n      step: train.logistic\n      template: { target: y }\n"
		"      method: halving\n      budget: 9\n"
		"      search: { C: { low: 0.01, high: 10, log: true }, penalty: { values: [l1, l2] } }\n";
	spec *sp = NULL;
	tu_oom o = {0};

	(void)state;
	assert_int_equal(spec_parse_string(text, strlen(text), "t.yaml", "/tmp", NULL, 0, &sp), 0);
	for (long n = 0; n < 100000 && !o.done; n++) {
		tune_run *t = NULL;
		tu_oom_begin(&o, n);
		int rc = tune_expand(sp, &t);
		tu_oom_end(&o, rc);
		if (rc) {
			assert_null(t);
			assert_int_equal(sp->n_steps, 2);
			assert_int_equal(sp->steps[1].n_upstream, 1);
			assert_int_equal(sp->steps[0].n_downstream, 1);
			continue;
		}
		/* Rungs of 9, 3 and 1 trials, after src; the tune step after all 13. */
		assert_int_equal(sp->n_steps, 2 + 13);
		assert_string_equal(sp->steps[2].name, "tune[0]");
		assert_string_equal(sp->steps[2].uses, "train.logistic");
		assert_non_null(json_object_get(sp->steps[2].with, "tol")); /* defaults filled */
		assert_true(json_real_value(json_object_get(sp->steps[2].with, "sample_rows")) < 0.12);
		assert_null(sp->steps[2 + 9].with); /* rung 1: set when rung 0 has ended */
		assert_int_equal(sp->steps[1].n_upstream, 1 + 13);
		assert_int_equal(sp->steps[2 + 9].n_upstream, 1 + 9);
		assert_int_equal(tune_parent(t, 2 + 12), 1);
		assert_int_equal(tune_parent(t, 1), -1);
		tune_run_free(t, sp);
		assert_int_equal(sp->n_steps, 2);
		assert_int_equal(sp->steps[1].n_upstream, 1);
	}
	tu_oom_check(&o, 5);
	spec_free(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_directions),
		cmocka_unit_test(test_space_refusals),
		cmocka_unit_test(test_grid_is_the_product),
		cmocka_unit_test(test_random_is_reproducible),
		cmocka_unit_test(test_halving_rungs),
		cmocka_unit_test(test_importance),
		cmocka_unit_test(test_bad_search_spaces_are_placed),
		cmocka_unit_test(test_search_under_oom),
		cmocka_unit_test(test_pages_under_oom),
		cmocka_unit_test(test_expand_under_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
