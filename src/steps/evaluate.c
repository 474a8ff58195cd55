/*
 * evaluate: scores a model on test rows beside a baseline (and a champion),
 * with business cost, fairness and permutation importance, and writes the
 * report (src/ml/eval.h; its shape in docs/steps/evaluate.md). The work is
 * the library's; this file resolves the options against the project's ML
 * canvas and records the metrics on the step run.
 *
 * Option precedence: `with:` first, then canvas.yaml (decisions.cost,
 * decisions.value, offline_evaluation.metric and .min). The canvas is the
 * one at the project root (the folder holding .sluice/, found by walking
 * up from the pipeline's folder), or the file `canvas:` names. Because a
 * canvas found by walking up is not part of the cache key, the step is
 * cacheable only when `canvas:` names the file (a path option, hashed).
 * The canvas is read through the canvas module (canvas/canvas.h), which has
 * checked every field at FILE:LINE:COL, as `sluice canvas check` does.
 *
 * Nothing is written unless every check passed (the report is written
 * atomically as the last act).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "canvas/canvas.h"
#include "ml/eval.h"
#include "steps/step.h"

static const step_opt column = {.type = OPT_STRING, .len = "[1,)"};
static const step_opt cost_cell = {.type = OPT_NUMBER};
static const step_opt cost_row = {.type = OPT_LIST, .len = "[2,)", .item = &cost_cell};
/* The shape only: which classes a matrix or mapping must name is known once
 * the model is read, and evaluate checks it then. */
static const step_opt cost_shapes[] = {
	{.type = OPT_LIST, .len = "[2,)", .item = &cost_row,
	 .help = "a cost matrix (rows: the actual class, columns: the decision)"},
	{.type = OPT_MAP, .len = "[1,)",
	 .help = "a mapping ({false_positive, false_negative}, {over, under}, or by class label)"},
	{.help = NULL},
};

static const step_opt opts[] = {
	{.name = "target", .type = OPT_STRING, .len = "[1,)", .columns_of = "test",
	 .help = "the test column holding the truth (default: the model's target; anomaly "
		 "models: the labels, optional)"},
	{.name = "metric", .type = OPT_STRING, .choices = ML_EVAL_METRICS,
	 .help = "the main metric (default: the canvas's offline_evaluation.metric, else "
		 "roc_auc, f1_macro, rmse, mase by task)"},
	{.name = "cost", .type = OPT_ANY, .alts = cost_shapes,
	 .help = "what mistakes cost (default: the canvas's decisions.cost)"},
	{.name = "value", .type = OPT_NUMBER,
	 .help = "the value of one correct decision, for ROI (default: the canvas's "
		 "decisions.value)"},
	{.name = "sensitive", .type = OPT_STRING_LIST, .unique = true, .item = &column,
	 .columns_of = "test",
	 .help = "columns to compare groups by (fairness)"},
	{.name = "importance", .type = OPT_BOOL, .def = "true",
	 .help = "permutation importance of every input"},
	{.name = "repeats", .type = OPT_INT, .def = "5", .range = "[1, 1000]",
	 .help = "permutations per input"},
	{.name = "seed", .type = OPT_INT, .def = "0", .help = "seed of the permutations"},
	{.name = "threshold", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "binary: decide positive when P(positive) >= threshold (default 0.5)"},
	{.name = "positive", .type = OPT_STRING, .len = "[1,)",
	 .help = "binary: the positive class (default: the second class); anomaly: the label "
		 "value marking an anomaly"},
	{.name = "time", .type = OPT_STRING, .len = "[1,)", .columns_of = "test",
	 .help = "forecast models: the time column of the test rows (default: the model's)"},
	{.name = "k", .type = OPT_INT, .range = "[1,)",
	 .help = "anomaly: precision and recall at k (default: the number of labelled anomalies)"},
	{.name = "canvas", .type = OPT_PATH,
	 .help = "the canvas file (default: canvas.yaml at the project root; naming it makes "
		 "the step cacheable)"},
	{.name = "latency", .type = OPT_BOOL, .def = "false",
	 .help = "time single-row predictions (p50, p99 in microseconds); the report then "
		 "differs between runs"},
	{.name = "threads", .type = OPT_INT, .def = "0", .range = "[0,)",
	 .help = "threads for importance (0: one per CPU); results do not depend on it"},
	{.name = NULL},
};

static const step_port inputs[] = {
	{"model", "model", false, "the model to evaluate"},
	{"test", "dataset", false, "held-out rows with the truth"},
	{"champion", "model", true, "the model in production, scored on the same rows"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"report", "report", false,
	 "the evaluation report (JSON; `sluice artifacts export ID --format html` renders it)"},
	{NULL, NULL, false, NULL},
};

/* A canvas found by walking up is outside the cache key (see above). */
static bool cacheable(const json_t *with)
{
	return json_is_string(json_object_get(with, "canvas"));
}

/* ---- the step ------------------------------------------------------------------------- */

/* The report's numbers as the step run's metrics, for `sluice runs show`. */
static void record_metrics(step_ctx *ctx, const json_t *rep)
{
	static const char *const sets[][2] = {{"metrics", ""}, {"baseline", "baseline_"},
					      {"champion", "champion_"}};
	static const char *const gaps[] = {"demographic_parity_difference",
					   "demographic_parity_ratio", "equal_opportunity_difference",
					   "equalized_odds_difference", "metric_difference"};
	const json_t *cost = json_object_get(rep, "cost"), *fair = json_object_get(rep, "fairness");
	const char *key;
	json_t *v;
	char name[160];

	for (size_t s = 0; s < SL__ARRAY_LEN(sets); s++)
		json_object_foreach(json_object_get(rep, sets[s][0]), key, v) {
			snprintf(name, sizeof name, "%s%s", sets[s][1], key);
			step_metric(ctx, name, json_number_value(v));
		}
	for (size_t g = 0; g < SL__ARRAY_LEN(gaps); g++)
		if (json_is_number(json_object_get(fair, gaps[g]))) {
			snprintf(name, sizeof name, "fairness_%s", gaps[g]);
			step_metric(ctx, name, json_number_value(json_object_get(fair, gaps[g])));
		}
	v = json_object_get(json_object_get(cost, "saving_vs_baseline"), "per_row");
	if (json_is_number(v))
		step_metric(ctx, "cost_saving_vs_baseline", json_number_value(v));
	v = json_object_get(json_object_get(rep, "latency"), "p99_us");
	if (json_is_number(v))
		step_metric(ctx, "latency_p99_us", json_number_value(v));
	v = json_object_get(json_object_get(cost, "threshold"), "threshold");
	if (json_is_number(v))
		step_metric(ctx, "cost_optimal_threshold", json_number_value(v));
}

static int run(step_ctx *ctx)
{
	const char *model_path = step_input(ctx, "model"), *test_path = step_input(ctx, "test");
	const char *champ_path = step_input(ctx, "champion"), *out = step_output(ctx, "report");
	ml_model *m = NULL, *champ = NULL;
	ds_table *test = NULL;
	const char **sensitive = NULL;
	json_t *rep = NULL, *meta, *v;
	ml_eval_opts o;
	canvas *cv = NULL;
	char *text = NULL;
	size_t i;
	int rc;

	ml_eval_opts_init(&o);
	if ((rc = step_canvas_load(ctx, &cv)))
		goto out;
	o.target = step_opt_str(ctx, "target");
	o.metric = step_opt_str(ctx, "metric");
	o.metric_source = "with";
	if (!o.metric && cv && cv->offline.metric.s) {
		o.metric = cv->offline.metric.s;
		o.metric_source = "canvas";
	}
	o.metric_min = cv && cv->offline.min.given ? cv->offline.min.v : NAN;
	o.cost = step_opt_json(ctx, "cost");
	o.cost_source = "with";
	if (!o.cost && cv && cv->decisions.cost.spec) {
		o.cost = cv->decisions.cost.spec;
		o.cost_source = "canvas";
	}
	o.value = step_opt_num(ctx, "value",
			       cv && cv->decisions.value.given ? cv->decisions.value.v : NAN);
	o.positive = step_opt_str(ctx, "positive");
	o.threshold = step_opt_num(ctx, "threshold", NAN);
	o.k = (size_t)step_opt_int(ctx, "k", 0);
	o.importance = step_opt_bool(ctx, "importance", true);
	o.repeats = (unsigned)step_opt_int(ctx, "repeats", 5);
	o.seed = (uint64_t)step_opt_int(ctx, "seed", 0);
	o.threads = (unsigned)step_opt_int(ctx, "threads", 0);
	o.latency = step_opt_bool(ctx, "latency", false);
	o.time_col = step_opt_str(ctx, "time");
	if ((rc = step_opt_strings(ctx, "sensitive", &sensitive, &o.n_sensitive)))
		goto out;
	o.sensitive = sensitive;
	if ((rc = ml_model_load(model_path, &m))) {
		rc = step_fail(ctx, rc, "model: %s", sl_errmsg());
		goto out;
	}
	if (champ_path && (rc = ml_model_load(champ_path, &champ))) {
		rc = step_fail(ctx, rc, "champion: %s", sl_errmsg());
		goto out;
	}
	if ((rc = ds_open(test_path, 0, &test))) {
		rc = step_fail(ctx, rc, "test: %s", sl_errmsg());
		goto out;
	}
	if (cv)
		step_log(ctx, "canvas: %s", cv->file);
	if ((rc = ml_evaluate(m, champ, test, &o, &rep))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	/* Which rows and models were scored, by artifact id, for a bundle's lineage. */
	if (step_input_id(ctx, "test")) {
		json_t *lin = json_pack("{s:s}", "test", step_input_id(ctx, "test"));
		if (lin && step_input_id(ctx, "model"))
			json_object_set_new(lin, "model", json_string(step_input_id(ctx, "model")));
		if (lin && step_input_id(ctx, "champion"))
			json_object_set_new(lin, "champion",
					    json_string(step_input_id(ctx, "champion")));
		if (sl__json_set(rep, "lineage", lin)) {
			rc = step_oom(ctx);
			goto out;
		}
	}
	json_array_foreach(json_object_get(rep, "notes"), i, v)
		step_log(ctx, "note: %s", json_string_value(v));
	step_log(ctx, "%s", json_string_value(json_object_get(rep, "verdict_hint")));
	text = sl__json_dumps(rep, JSON_INDENT(1));
	if (!text) {
		rc = step_fail(ctx, SL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = sl__write_atomic(out, text, strlen(text)))) {
		rc = step_fail(ctx, rc, "writing the report: %s", sl_errmsg());
		goto out;
	}
	record_metrics(ctx, rep);
	meta = json_pack("{s:s}", "task", ml_task_name(m->sig.task));
	v = json_object_get(json_object_get(rep, "assessment"), "worth_deploying");
	if (meta && v)
		json_object_set(meta, "worth_deploying", v);
	v = json_object_get(json_object_get(rep, "main_metric"), "name");
	if (meta && v)
		json_object_set(meta, "main_metric", v);
	if (meta)
		step_output_meta(ctx, "report", meta);
out:
	free(text);
	json_decref(rep);
	ds_close(test);
	ml_model_free(m);
	ml_model_free(champ);
	sl__free(sensitive);
	canvas_free(cv);
	return rc;
}

const step_def step_evaluate = {
	.name = "evaluate",
	.version = 1,
	.summary = "score a model on test rows against a baseline: metrics, cost, fairness, "
		   "importance, a verdict",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.cacheable = cacheable,
};
