/*
 * The gate (the `test` step): every kind of rule against hand-made reports
 * whose numbers are known, so each check's value, limit and outcome can be
 * asserted; MLflow's MetricThreshold semantics for `vs` (absolute and
 * relative margins, higher and lower is better, a negative reference);
 * the first deployment without a champion; fairness gaps; latency timed on
 * the packaged model or read from the report, or named as missing; the
 * canvas's default rules; and the verdict written before the step fails
 * with SL_EGATE naming each broken rule with its numbers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/transform.h"
#include "model/bundle.h"
#include "steps/step.h"
#include "testutil.h"

static const char report_text[] =
	"{\"kind\": \"evaluation_report\", \"format\": 1,"
	" \"main_metric\": {\"name\": \"roc_auc\", \"higher_is_better\": true},"
	" \"metrics\": {\"roc_auc\": 0.9, \"logloss\": 0.3, \"r2\": -0.1, \"rows\": 500, \"ece\": null},"
	" \"baseline\": {\"roc_auc\": 0.5, \"logloss\": 0.6, \"r2\": -0.5, \"rows\": 500},"
	" \"fairness\": {\"demographic_parity_difference\": 0.08, \"demographic_parity_ratio\": 0.85,"
	"   \"equal_opportunity_difference\": null,"
	"   \"columns\": [{\"column\": \"region\", \"demographic_parity_difference\": 0.08},"
	"                 {\"column\": \"age\", \"demographic_parity_difference\": 0.02}]},"
	" \"latency\": {\"rows\": 1000, \"p50_us\": 3, \"p99_us\": 40, \"mean_us\": 4}}";

typedef struct gate_run {
	int rc;
	json_t *verdict; /* NULL when none was written */
	char msg[2048];
	tu_run r;
} gate_run;

/* Runs the test step on a report (text) with options (JSON text) and extra inputs. */
static gate_run run_gate(const char *dir, const char *report, const char *with_text,
			 const char *const *more_names, const char *const *more_paths, size_t n_more)
{
	const char *in_names[8] = {"report"}, *in_paths[8], *out_names[] = {"verdict"};
	char *rep = tu_path(dir, "report.json"), *ver = tu_path(dir, "verdict.json");
	const char *out_paths[] = {ver};
	json_t *with = json_loads(with_text, 0, NULL);
	gate_run g;

	assert_non_null(with);
	memset(&g, 0, sizeof g);
	remove(ver);
	tu_write(rep, report);
	in_paths[0] = rep;
	for (size_t k = 0; k < n_more; k++) {
		in_names[1 + k] = more_names[k];
		in_paths[1 + k] = more_paths[k];
	}
	g.rc = tu_run_step(&g.r, "test", dir, with, in_names, in_paths, 1 + n_more, out_names,
			   out_paths, 1);
	snprintf(g.msg, sizeof g.msg, "%s", sl_errmsg());
	g.verdict = json_load_file(ver, 0, NULL);
	json_decref(with);
	free(rep);
	free(ver);
	return g;
}

static void gate_free(gate_run *g)
{
	json_decref(g->verdict);
	tu_run_free(&g->r);
}

static const json_t *check_at(const gate_run *g, size_t k)
{
	const json_t *c = json_array_get(json_object_get(g->verdict, "rules"), k);

	if (!c)
		fail_msg("the verdict has no check %zu", k);
	return c;
}

static double num(const json_t *c, const char *key)
{
	const json_t *v = json_object_get(c, key);

	if (!json_is_number(v))
		fail_msg("check has no number '%s'", key);
	return json_number_value(v);
}

static bool passed(const json_t *c)
{
	return json_is_true(json_object_get(c, "passed"));
}

static void test_metric_rules(void **state)
{
	const char *dir = tu_tmpdir();
	gate_run g;

	(void)state;
	g = run_gate(dir, report_text,
		     "{\"rules\": [{\"metric\": \"roc_auc\", \"min\": 0.85, \"max\": 0.99},"
		     " {\"metric\": \"roc_auc\", \"vs\": \"baseline\", \"min_delta\": 0.3, \"min_ratio\": 0.5},"
		     " {\"metric\": \"logloss\", \"vs\": \"baseline\", \"min_delta\": 0.2, \"min_ratio\": 0.4},"
		     " {\"metric\": \"r2\", \"vs\": \"baseline\", \"min_ratio\": 0.5},"
		     " {\"metric\": \"rows\", \"min\": 100}]}",
		     NULL, NULL, 0);
	if (g.rc)
		fail_msg("%s", g.msg);
	assert_string_equal(json_string_value(json_object_get(g.verdict, "verdict")), "passed");
	assert_int_equal(json_integer_value(json_object_get(g.verdict, "checks")), 8);
	/* min and max: two checks of one rule. */
	assert_true(num(check_at(&g, 0), "limit") == 0.85 && passed(check_at(&g, 0)));
	assert_string_equal(json_string_value(json_object_get(check_at(&g, 1), "op")), "<=");
	/* Higher is better: 0.5 + 0.3 and 0.5 + 0.5 * 0.5. */
	assert_true(fabs(num(check_at(&g, 2), "limit") - 0.8) < 1e-12);
	assert_true(fabs(num(check_at(&g, 3), "limit") - 0.75) < 1e-12);
	assert_true(num(check_at(&g, 3), "reference") == 0.5);
	/* Lower is better: 0.6 - 0.2 and 0.6 - 0.4 * 0.6. */
	assert_true(fabs(num(check_at(&g, 4), "limit") - 0.4) < 1e-12);
	assert_string_equal(json_string_value(json_object_get(check_at(&g, 4), "op")), "<=");
	assert_true(fabs(num(check_at(&g, 5), "limit") - 0.36) < 1e-12);
	/* A negative reference still asks for an improvement: -0.5 + 0.5 * |-0.5|. */
	assert_true(fabs(num(check_at(&g, 6), "limit") - -0.25) < 1e-12);
	assert_true(passed(check_at(&g, 6)));
	assert_true(json_real_value(json_object_get(g.r.metrics, "gate_passed")) == 1);
	gate_free(&g);

	/* Broken rules: the step fails with SL_EGATE, each named with its numbers,
	 * and the verdict is written first. */
	g = run_gate(dir, report_text,
		     "{\"rules\": [{\"metric\": \"roc_auc\", \"min\": 0.95},"
		     " {\"metric\": \"logloss\", \"vs\": \"baseline\", \"min_ratio\": 0.6},"
		     " {\"metric\": \"roc_auc\", \"vs\": \"baseline\"}]}",
		     NULL, NULL, 0);
	assert_int_equal(g.rc, SL_EGATE);
	assert_string_equal(g.msg, "2 of 3 checks failed: roc_auc = 0.9, below the minimum 0.95 "
				   "(rules[0]); logloss = 0.3, above the maximum 0.24 (rules[1]: the "
				   "baseline's 0.6 - min_ratio 0.6)");
	assert_non_null(g.verdict);
	assert_string_equal(json_string_value(json_object_get(g.verdict, "verdict")), "failed");
	assert_false(passed(check_at(&g, 0)));
	assert_true(passed(check_at(&g, 2)));
	assert_true(json_real_value(json_object_get(g.r.metrics, "checks_failed")) == 2);
	gate_free(&g);
	tu_rmdir(dir);
}

/* What the report cannot answer fails, saying what to add; no champion passes with a note. */
static void test_unanswered_and_first_deployment(void **state)
{
	const char *dir = tu_tmpdir();
	gate_run g;

	(void)state;
	g = run_gate(dir, report_text,
		     "{\"rules\": [{\"metric\": \"roc_auc\", \"vs\": \"champion\", \"min_delta\": 0.01}]}",
		     NULL, NULL, 0);
	assert_int_equal(g.rc, 0);
	assert_string_equal(json_string_value(json_object_get(check_at(&g, 0), "note")),
			    "no champion to compare with");
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(g.verdict, "notes"), 0)),
			       "no champion to compare with"));
	gate_free(&g);

	g = run_gate(dir, report_text,
		     "{\"rules\": [{\"metric\": \"rmse\", \"max\": 3}, {\"metric\": \"ece\", \"max\": 0.1},"
		     " {\"metric\": \"roc_auc\", \"vs\": \"champion\"}]}",
		     NULL, NULL, 0);
	assert_int_equal(g.rc, SL_EGATE);
	assert_non_null(strstr(g.msg, "rmse: not in the report, whose metrics are: roc_auc, logloss"));
	assert_non_null(strstr(g.msg, "ece: undefined on the test rows"));
	/* The champion rule alone passes (no champion), so two of three fail. */
	assert_non_null(strstr(g.msg, "2 of 3 checks failed"));
	gate_free(&g);
	tu_rmdir(dir);
}

static void test_fairness_and_report_latency(void **state)
{
	const char *dir = tu_tmpdir();
	gate_run g;

	(void)state;
	g = run_gate(dir, report_text,
		     "{\"rules\": [{\"fairness_gap\": \"demographic_parity_difference\", \"max\": 0.05},"
		     " {\"fairness_gap\": \"demographic_parity_difference\", \"column\": \"age\", \"max\": 0.05},"
		     " {\"fairness_gap\": \"demographic_parity_ratio\", \"min\": 0.8},"
		     " {\"fairness_gap\": \"equal_opportunity_difference\", \"max\": 0.1},"
		     " {\"latency_p99_us\": 50}]}",
		     NULL, NULL, 0);
	assert_int_equal(g.rc, SL_EGATE);
	assert_false(passed(check_at(&g, 0)));
	assert_true(passed(check_at(&g, 1)));
	assert_string_equal(json_string_value(json_object_get(check_at(&g, 1), "column")), "age");
	assert_true(passed(check_at(&g, 2)));
	assert_false(passed(check_at(&g, 3)));
	assert_true(passed(check_at(&g, 4)) && num(check_at(&g, 4), "value") == 40);
	assert_string_equal(json_string_value(json_object_get(json_object_get(g.verdict, "latency"),
							      "source")),
			    "the report's latency");
	assert_non_null(strstr(g.msg, "demographic_parity_difference = 0.08, above the maximum 0.05"));
	gate_free(&g);

	/* No latency anywhere: the rule fails naming the inputs to connect. */
	g = run_gate(dir,
		     "{\"kind\": \"evaluation_report\", \"metrics\": {\"roc_auc\": 0.9}}",
		     "{\"rules\": [{\"latency_p99_us\": 50}, {\"fairness_gap\": "
		     "\"metric_difference\", \"max\": 0.1}]}",
		     NULL, NULL, 0);
	assert_int_equal(g.rc, SL_EGATE);
	assert_non_null(strstr(g.msg, "connect `bundle` (or `model`, with its `transform`) and `data`"));
	assert_non_null(strstr(g.msg, "name the columns to compare groups by in evaluate's `sensitive`"));
	gate_free(&g);
	tu_rmdir(dir);
}

/* latency_p99_us timed here: the model and its transform bundled as they will be served. */
static void test_timed_latency(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = tu_customers(200, false), *t;
	json_t *ops = json_loads("[{\"op\": \"impute\", \"columns\": [\"amount\", \"visits\"]},"
				 " {\"filter\": \"region != 'bad'\"}]",
				 0, NULL);
	transform *tr;
	char *tf = tu_path(dir, "tf"), *train = tu_path(dir, "train"), *model = tu_path(dir, "model");
	char *raw = tu_path(dir, "raw");
	tu_run r;
	gate_run g;

	(void)state;
	assert_int_equal(transform_fit(ops, "ops", a, &tr, &t), 0);
	assert_int_equal(transform_save(tr, tf), 0);
	assert_int_equal(ds_table_write(t, train), 0);
	ds_close(t);
	t = tu_customers(300, true);
	assert_int_equal(ds_table_write(t, raw), 0);
	ds_close(t);
	memset(&r, 0, sizeof r);
	{
		const char *in_names[] = {"train"}, *in_paths[] = {train}, *out_names[] = {"model"},
			   *out_paths[] = {model};
		json_t *with = json_pack("{s:s, s:[s,s]}", "target", "y", "features", "amount", "visits");
		assert_int_equal(tu_run_step(&r, "train.linear", dir, with, in_names, in_paths, 1,
					     out_names, out_paths, 1),
				 0);
		json_decref(with);
	}
	const char *names[] = {"model", "transform", "data"}, *paths[] = {model, tf, raw};
	g = run_gate(dir, report_text,
		     "{\"rules\": [{\"latency_p99_us\": 1000000}], \"latency_rows\": 200}", names, paths,
		     3);
	if (g.rc)
		fail_msg("%s", g.msg);
	const json_t *lat = json_object_get(g.verdict, "latency");
	assert_string_equal(json_string_value(json_object_get(lat, "source")), "timed here");
	/* 200 rows asked, the filter rejects those with region 'bad'. */
	assert_int_equal(json_integer_value(json_object_get(lat, "rows")) +
				 json_integer_value(json_object_get(lat, "rejected")),
			 200);
	assert_true(json_integer_value(json_object_get(lat, "rejected")) > 0);
	assert_true(num(lat, "p99_us") >= num(lat, "p50_us"));
	assert_true(json_real_value(json_object_get(g.r.metrics, "latency_p99_us")) == num(lat, "p99_us"));
	gate_free(&g);
	/* An impossible budget fails with the number measured. */
	g = run_gate(dir, report_text, "{\"rules\": [{\"latency_p99_us\": 0.0001}]}", names, paths, 3);
	assert_int_equal(g.rc, SL_EGATE);
	assert_non_null(strstr(g.msg, "latency_p99_us = "));
	assert_non_null(strstr(g.msg, "above the maximum 0.0001 (rules[0], timed here)"));
	gate_free(&g);
	tu_run_free(&r);
	transform_free(tr);
	json_decref(ops);
	ds_close(a);
	free(tf), free(train), free(model), free(raw);
	tu_rmdir(dir);
}

/* Without rules: the canvas's minimum (a maximum where lower is better) and latency budget. */
static void test_canvas_defaults(void **state)
{
	const char *dir = tu_tmpdir();
	char *canvas = tu_path(dir, "canvas.yaml");
	gate_run g;

	(void)state;
	tu_write(canvas, "offline_evaluation:\n  metric: logloss\n  min: 0.25\n"
			 "making_predictions:\n  latency_p99_ms: 0.03\n");
	g = run_gate(dir, report_text, "{\"canvas\": \"canvas.yaml\"}", NULL, NULL, 0);
	assert_int_equal(g.rc, SL_EGATE);
	assert_string_equal(json_string_value(json_object_get(check_at(&g, 0), "op")), "<=");
	assert_string_equal(json_string_value(json_object_get(check_at(&g, 0), "source")), "canvas");
	assert_true(num(check_at(&g, 1), "limit") == 30);
	/* Each broken rule is placed where the canvas set it. */
	assert_non_null(strstr(g.msg, "logloss = 0.3, above the maximum 0.25 (offline_evaluation.min at "));
	assert_non_null(strstr(g.msg, "canvas.yaml:3:8)"));
	assert_non_null(strstr(g.msg, "latency_p99_us = 40, above the maximum 30 "
				      "(making_predictions.latency_p99_ms at "));
	gate_free(&g);
	/* A field of the wrong kind is named at its place in the file, by the canvas module. */
	tu_write(canvas, "offline_evaluation:\n  metric: roc_auc\n  min: high\n");
	g = run_gate(dir, report_text, "{\"canvas\": \"canvas.yaml\"}", NULL, NULL, 0);
	assert_int_equal(g.rc, SL_EINVAL);
	assert_non_null(strstr(g.msg, "canvas.yaml:3:8: offline_evaluation.min"));
	assert_null(g.verdict);
	gate_free(&g);
	/* Nothing to judge by is an error, not a pass. */
	tu_write(canvas, "offline_evaluation:\n  metric: ''\n");
	g = run_gate(dir, report_text, "{\"canvas\": \"canvas.yaml\"}", NULL, NULL, 0);
	assert_int_equal(g.rc, SL_EINVAL);
	assert_non_null(strstr(g.msg, "no rules"));
	gate_free(&g);
	free(canvas);
	tu_rmdir(dir);
}

/* Mistakes in the rules are found when the pipeline is read, at their place. */
static const char *const all_inputs[] = {"report", "model", "bundle", "data"};
static const char *const data_only[] = {"report", "data"};

static void test_option_checks(void **state)
{
	static const struct {
		const char *with, *path, *want;
		const char *const *inputs;
		size_t n_inputs;
	} cases[] = {
		{"{\"rules\": [{\"metric\": \"roc_auc\", \"min_delta\": 0.1}]}", "rules[0].min_delta", "vs", NULL, 0},
		{"{\"rules\": [{\"metric\": \"roc_auc\"}]}", "rules[0]", "needs min, max or vs", NULL, 0},
		{"{\"rules\": [{\"metric\": \"rows\", \"vs\": \"baseline\"}]}", "rules[0]",
		 "neither better higher nor lower", NULL, 0},
		{"{\"rules\": [{\"metric\": \"roc_auc\", \"min\": 0.9, \"max\": 0.8}]}", "rules[0]",
		 "min is above max", NULL, 0},
		{"{\"rules\": [{\"fairness_gap\": \"demographic_parity_ratio\", \"max\": 0.9}]}", "rules[0]",
		 "needs min", NULL, 0},
		{"{\"rules\": [{\"metric\": \"roc_auc\", \"min\": 1, \"latency_p99_us\": 3}]}",
		 "rules[0].latency_p99_us", "each rule judges one measure", NULL, 0},
		{"{\"rules\": [{\"metric\": \"auc\", \"min\": 1}]}", "rules[0].metric", "roc_auc", NULL, 0},
		{"{\"rules\": [{\"latency_p99_us\": 10}]}", "", "not both",
		 all_inputs, 4},
		{"{\"rules\": [{\"latency_p99_us\": 10}]}", "", "needs both",
		 data_only, 2},
	};

	(void)state;
	for (size_t k = 0; k < SL__ARRAY_LEN(cases); k++) {
		json_t *with = json_loads(cases[k].with, 0, NULL);
		const char *just_report[] = {"report"};
		step_problem pb;
		int rc = step_opts_check(step_find("test"), with, NULL,
					 cases[k].inputs ? cases[k].inputs : just_report,
					 cases[k].inputs ? cases[k].n_inputs : 1, &pb);
		if (rc != SL_EINVAL || strcmp(pb.path, cases[k].path) || !strstr(pb.msg, cases[k].want))
			fail_msg("case %zu: rc %d, %s: %s", k, rc, pb.path, pb.msg);
		json_decref(with);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_rules),
		cmocka_unit_test(test_unanswered_and_first_deployment),
		cmocka_unit_test(test_fairness_and_report_latency),
		cmocka_unit_test(test_timed_latency),
		cmocka_unit_test(test_canvas_defaults),
		cmocka_unit_test(test_option_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
