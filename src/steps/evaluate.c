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
 * Which rows each model sees: every model is scored on the rows as its own
 * fitted transform makes them, as it is (or was) served, so that a champion
 * whose `wrangle` was fitted on other data is not judged on rows another
 * transform made:
 *
 *   raw test rows --(model's transform: `transform`, or the model bundle's)--> model
 *        |
 *        '--------(the champion bundle's own transform, or none)-----------> champion
 *
 * `test` holds raw rows: the model's rows too when the model has no
 * transform. Rows another transform made (the contract broken) lack, as a
 * rule, columns the champion's transform takes; the step then refuses,
 * saying what to connect, rather than score the champion on them. A
 * transform of scalings alone cannot tell its inputs from its outputs:
 * there the contract (docs/steps/evaluate.md) is all that holds.
 *
 * Nothing is written unless every check passed (the report is written
 * atomically as the last act).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "canvas/canvas.h"
#include "ml/eval.h"
#include "model/bundle.h"
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
/* A fixed threshold, or `cost`: the one the cost spec makes cheapest. */
static const step_opt threshold_shapes[] = {
	{.type = OPT_NUMBER, .range = "[0, 1]", .help = "a number from 0 to 1"},
	{.type = OPT_STRING, .choices = "cost", .help = "'cost'"},
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
	{.name = "threshold", .type = OPT_ANY, .alts = threshold_shapes,
	 .help = "binary: decide positive when P(positive) >= threshold (default 0.5); "
		 "`cost`: the threshold of least cost on the valid rows (else the test rows)"},
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
	{"test", "dataset", false,
	 "held-out raw rows with the truth (through `transform` for the model)"},
	{"champion", "model", true,
	 "the model in production, scored on the same rows through its own transform"},
	{"transform", "transform", true,
	 "the fitted transform the model's rows come out of: `test` and `valid` are then raw "
	 "rows, and a champion bundle sees them through its own transform"},
	{"valid", "dataset", true, "rows to choose the threshold on (`threshold: cost`)"},
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
	v = json_object_get(json_object_get(rep, "model"), "threshold");
	if (json_is_number(v))
		step_metric(ctx, "threshold", json_number_value(v));
}

/*
 * `threshold: cost`: sets o->threshold to the threshold of least expected
 * cost under o->cost, found by a first, plain evaluation (no champion,
 * importance, fairness or timing) of the `valid` rows when they are
 * connected, so the test rows then judge a decision rule they did not
 * choose; of the test rows themselves otherwise, which flatters the model
 * (said in *out_choice's note). *out_choice (new, the caller's) records the
 * choice for the report.
 */
static int cost_threshold(step_ctx *ctx, const ml_model *m, const transform *tf,
			  const ds_table *test, ml_eval_opts *o, json_t **out_choice)
{
	const char *valid_path = step_input(ctx, "valid");
	ds_table *valid = NULL, *raw = NULL;
	const ds_table *rows = test;
	ml_eval_opts first = *o;
	json_t *rep = NULL, *t, *choice;
	const char *which = valid_path ? "valid" : "test";
	bool never;
	int rc;

	*out_choice = NULL;
	if (m->sig.task != ML_BINARY)
		return step_fail(ctx, SL_EINVAL,
				 "threshold: cost applies to binary classifiers; this model's task is %s "
				 "(remove the option)",
				 ml_task_name(m->sig.task));
	if (!o->cost)
		return step_fail(ctx, SL_EINVAL,
				 "threshold: cost needs the costs of mistakes: give `cost:` or fill in "
				 "decisions.cost in canvas.yaml");
	if (valid_path) {
		if ((rc = ds_open(valid_path, 0, tf ? &raw : &valid)))
			return step_fail(ctx, rc, "valid: %s", sl_errmsg());
		rc = tf ? transform_apply_table(tf, raw, &valid) : 0;
		ds_close(raw);
		if (rc)
			return step_fail(ctx, rc, "valid: through the model's transform: %s",
					 sl_errmsg());
		rows = valid;
	}
	first.threshold = NAN;
	first.importance = false;
	first.latency = false;
	first.sensitive = NULL;
	first.n_sensitive = 0;
	if ((rc = ml_evaluate(m, NULL, rows, &first, &rep))) {
		rc = step_fail(ctx, rc, "choosing the threshold on the %s rows: %s", which, sl_errmsg());
		goto out;
	}
	t = json_object_get(json_object_get(rep, "cost"), "threshold");
	if (!json_is_object(t)) {
		rc = step_fail(ctx, SL_EINVAL, "the %s rows give no threshold of least cost", which);
		goto out;
	}
	/* No threshold: deciding every row negative is cheapest; 1, the highest
	 * a probability threshold goes, comes nearest (the choice says so). */
	never = !json_is_number(json_object_get(t, "threshold"));
	o->threshold = never ? 1.0 : json_number_value(json_object_get(t, "threshold"));
	choice = json_pack("{s:s, s:s, s:I, s:f, s:O?, s:O?}", "by", "cost", "rows", which,
			   "n", (json_int_t)ds_nrow(rows), "threshold", o->threshold, "cost_per_row",
			   json_object_get(t, "cost_per_row"), "bayes_threshold",
			   json_object_get(t, "bayes_threshold"));
	if (choice && never &&
	    json_object_set_new(choice, "rule",
				json_string("never positive: deciding every row negative was "
					    "cheapest, so only a probability of 1 decides positive")))
		json_decref(choice), choice = NULL;
	if (choice && !valid_path &&
	    json_object_set_new(choice, "note",
				json_string("chosen on the test rows themselves, so the test cost "
					    "flatters the model: connect `valid` to choose it on "
					    "other rows")))
		json_decref(choice), choice = NULL;
	if (!choice) {
		rc = step_oom(ctx);
		goto out;
	}
	step_log(ctx, "threshold %.4g: the least cost per row (%.4g) on the %zu %s rows", o->threshold,
		 json_number_value(json_object_get(t, "cost_per_row")), ds_nrow(rows), which);
	*out_choice = choice;
out:
	json_decref(rep);
	ds_close(valid);
	return rc;
}

/* What run() scores: the models and the rows each sees (the top of the file). */
typedef struct ev_inputs {
	bundle *model, *champion; /* a plain model file opens as a bundle without a transform */
	transform *own_tf;        /* loaded from `transform` */
	const transform *tf;      /* the model's: own_tf, the model bundle's, or NULL */
	ds_table *raw;            /* the test rows as connected: raw */
	ds_table *test;           /* the model's rows: raw through tf (raw itself without) */
	ds_table *champ_rows;     /* raw through the champion's transform (NULL: raw) */
} ev_inputs;

static void ev_inputs_free(ev_inputs *in)
{
	if (in->test != in->raw)
		ds_close(in->test);
	ds_close(in->raw);
	ds_close(in->champ_rows);
	transform_free(in->own_tf);
	bundle_close(in->model);
	bundle_close(in->champion);
}

static int open_inputs(step_ctx *ctx, ev_inputs *in)
{
	const char *tpath = step_input(ctx, "transform"), *cpath = step_input(ctx, "champion");
	const transform *ctf;
	int rc;

	if ((rc = bundle_open(step_input(ctx, "model"), 0, &in->model)))
		return step_fail(ctx, rc, "model: %s", sl_errmsg());
	in->tf = bundle_transform(in->model);
	if (tpath && in->tf)
		return step_fail(ctx, SL_EINVAL,
				 "transform: the model is a bundle with a transform of its own; "
				 "connect `transform` only with a model that has none");
	if (tpath) {
		if ((rc = transform_load(tpath, &in->own_tf)))
			return step_fail(ctx, rc, "transform: %s", sl_errmsg());
		in->tf = in->own_tf;
	}
	if (cpath && (rc = bundle_open(cpath, 0, &in->champion)))
		return step_fail(ctx, rc, "champion: %s", sl_errmsg());
	if ((rc = ds_open(step_input(ctx, "test"), 0, &in->raw)))
		return step_fail(ctx, rc, "test: %s", sl_errmsg());
	in->test = in->raw;
	if (in->tf && (rc = transform_apply_table(in->tf, in->raw, &in->test))) {
		in->test = in->raw;
		return step_fail(ctx, rc, "test: through the model's transform: %s", sl_errmsg());
	}
	ctf = in->champion ? bundle_transform(in->champion) : NULL;
	/* Rows another transform made lack what this one takes, as a rule:
	 * the message says how to give the raw rows. */
	if (ctf && (rc = transform_apply_table(ctf, in->raw, &in->champ_rows)))
		return step_fail(ctx, rc,
				 "champion: its bundle's transform cannot take the test rows (%s): "
				 "`test` must hold raw rows; if the model's rows came out of a "
				 "transform, connect it as `transform` and give `test` (and `valid`) "
				 "raw, so that each model sees them through its own transform",
				 sl_errmsg());
	return 0;
}

static int run(step_ctx *ctx)
{
	const char *out = step_output(ctx, "report");
	const ml_model *m, *champ;
	ev_inputs in = {0};
	const char **sensitive = NULL;
	json_t *rep = NULL, *meta, *v, *choice = NULL;
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
	if ((rc = open_inputs(ctx, &in)))
		goto out;
	m = bundle_model(in.model);
	champ = in.champion ? bundle_model(in.champion) : NULL;
	/* A champion without a transform takes the raw rows as they are, as it
	 * is served (the model's rows too when the model has none). */
	o.champion_rows = in.champ_rows ? in.champ_rows : in.raw;
	if (cv)
		step_log(ctx, "canvas: %s", cv->file);
	if (in.tf)
		step_log(ctx, "test: %zu raw rows, %zu through the model's transform", ds_nrow(in.raw),
			 ds_nrow(in.test));
	if (in.champ_rows)
		step_log(ctx, "champion: %zu rows through its own transform", ds_nrow(in.champ_rows));
	if (step_opt_str(ctx, "threshold") &&
	    (rc = cost_threshold(ctx, m, in.tf, in.test, &o, &choice)))
		goto out;
	if ((rc = ml_evaluate(m, champ, in.test, &o, &rep))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	if (choice && sl__json_set(json_object_get(rep, "model"), "threshold_choice", choice)) {
		choice = NULL;
		rc = step_oom(ctx);
		goto out;
	}
	choice = NULL;
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
	json_decref(choice);
	json_decref(rep);
	ev_inputs_free(&in);
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
