/*
 * The canvas module (canvas/canvas.h): a complete canvas read into typed
 * values with their positions; every kind of problem at its exact
 * LINE:COL; all problems collected at once; the shipped canvases (the
 * blank one init writes, both examples) valid; finding a project's canvas;
 * messages that point into it; allocation failure at every point.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canvas/canvas.h"
#include "sluice/sluice.h"
#include "ml/eval_int.h"
#include "testutil.h"

static const char full[] =
	"value_proposition: Fewer spam messages, no lost mail.\n"       /* 1 */
	"data_sources: [data/spambase.csv]\n"                            /* 2 */
	"prediction_task: {type: classification, target: label}\n"      /* 3 */
	"features: [free, money]\n"                                      /* 4 */
	"offline_evaluation:\n"                                          /* 5 */
	"  description: held out 15%\n"                                  /* 6 */
	"  metric: roc_auc\n"                                            /* 7 */
	"  min: 0.95\n"                                                  /* 8 */
	"decisions:\n"                                                   /* 9 */
	"  cost: {spam: {ham: 1}, ham: {spam: 20}, nothing: ham}\n"      /* 10 */
	"  value: 0.5\n"                                                 /* 11 */
	"making_predictions:\n"                                          /* 12 */
	"  mode: online\n"                                               /* 13 */
	"  latency_p99_ms: 20\n"                                         /* 14 */
	"data_collection: feedback buttons\n"                            /* 15 */
	"building_models:\n"                                             /* 16 */
	"  pipeline: train.yaml\n"                                       /* 17 */
	"  cadence: '0 3 * * 1'\n"                                       /* 18 */
	"  retrain_on: [drift, cadence]\n"                               /* 19 */
	"  auto_promote: true\n"                                         /* 20 */
	"live_monitoring:\n"                                             /* 21 */
	"  window: 500\n"                                                /* 22 */
	"  metrics: [accuracy, latency_p99_ms]\n"                        /* 23 */
	"  drift: {share: 0.3, psi_threshold: 0.2, numeric_test: ks, columns: [free]}\n" /* 24 */
	"  alert:\n"                                                     /* 25 */
	"    - {metric: error_rate, above: 0.01, for: 3, severity: critical, name: errors}\n" /* 26 */
	"    - {metric: accuracy, below: 0.9}\n";                        /* 27 */

static canvas *parse_ok(const char *text)
{
	canvas *cv = NULL;

	if (canvas_parse(text, strlen(text), "canvas.yaml", "/proj", &cv))
		fail_msg("unexpected failure: %s", sl_errmsg());
	return cv;
}

static void pos_is(sl__ypos p, int line, int col)
{
	if (p.line != line || p.col != col)
		fail_msg("at %d:%d, expected %d:%d", p.line, p.col, line, col);
}

static void test_full(void **state)
{
	canvas *cv = parse_ok(full);

	(void)state;
	for (int b = 0; b < CANVAS_N_BLOCKS; b++) {
		assert_true(cv->blocks[b].given);
		assert_false(cv->blocks[b].empty);
		assert_non_null(cv->blocks[b].json);
	}
	pos_is(cv->blocks[CANVAS_DECISIONS].pos, 9, 1);
	assert_string_equal(json_string_value(cv->blocks[CANVAS_VALUE_PROPOSITION].json),
			    "Fewer spam messages, no lost mail.");

	assert_string_equal(cv->offline.metric.s, "roc_auc");
	pos_is(cv->offline.metric.pos, 7, 11);
	assert_int_equal(cv->offline.info->direction, 1);
	assert_true(cv->offline.min.given);
	assert_true(cv->offline.min.v == 0.95);
	pos_is(cv->offline.min.pos, 8, 8);
	assert_true(canvas_meets_min(cv, 0.95));
	assert_false(canvas_meets_min(cv, 0.9499));
	assert_false(canvas_meets_min(cv, NAN));

	assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_LABELS);
	assert_int_equal(cv->decisions.cost.k, 2);
	assert_string_equal(cv->decisions.cost.nothing, "ham");
	pos_is(cv->decisions.cost.pos, 10, 9);
	assert_true(json_is_object(cv->decisions.cost.spec));
	assert_true(json_number_value(json_object_get(json_object_get(cv->decisions.cost.spec, "ham"),
						      "spam")) == 20);
	assert_true(cv->decisions.value.given && cv->decisions.value.v == 0.5);

	assert_true(cv->predictions.latency_p99_ms.v == 20);
	pos_is(cv->predictions.latency_p99_ms.pos, 14, 19);

	assert_string_equal(cv->building.pipeline.s, "train.yaml");
	assert_string_equal(cv->building.pipeline_path, "/proj/train.yaml");
	assert_string_equal(cv->building.cadence.s, "0 3 * * 1");
	assert_true(cv->building.cron.hour == 1u << 3);
	assert_int_equal(cv->building.retrain_on, CANVAS_ON_DRIFT | CANVAS_ON_CADENCE);
	assert_true(cv->building.auto_promote && cv->building.auto_promote_given);

	assert_true(cv->monitoring.window.given && cv->monitoring.window.v == 500);
	assert_int_equal(cv->monitoring.n_metrics, 2);
	assert_string_equal(cv->monitoring.metrics[1], "latency_p99_ms");
	assert_true(cv->monitoring.drift_share.v == 0.3);
	assert_true(cv->monitoring.drift.psi_threshold == 0.2);
	assert_int_equal(cv->monitoring.drift.numeric_test, DRIFT_KS);
	assert_true(cv->monitoring.drift.ks_pvalue == 0.05); /* validate's default, untouched */
	assert_int_equal(cv->monitoring.n_drift_columns, 1);
	assert_int_equal(cv->monitoring.n_alerts, 2);
	const canvas_alert *a = &cv->monitoring.alerts[0];
	assert_string_equal(a->metric, "error_rate");
	assert_true(a->above && a->threshold == 0.01 && a->windows == 3);
	assert_int_equal(a->severity, CANVAS_CRITICAL);
	assert_string_equal(a->name, "errors");
	pos_is(a->pos, 26, 7);
	a = &cv->monitoring.alerts[1];
	assert_false(a->above);
	assert_int_equal(a->windows, 1);
	assert_int_equal(a->severity, CANVAS_WARNING);
	assert_null(a->name);

	/* The next retraining: Monday 03:00 UTC after Monday 2026-11-30 12:00. */
	int64_t t, now = cron_days_from_civil(2026, 11, 30) * 86400 + 12 * 3600;
	assert_int_equal(canvas_next_retrain(cv, now, &t), 0);
	assert_int_equal(t, cron_days_from_civil(2026, 12, 7) * 86400 + 3 * 3600);

	/* Messages that point into the canvas. */
	char where[64];
	canvas_where(cv, cv->offline.min.pos, where, sizeof where);
	assert_string_equal(where, "canvas.yaml:8:8");
	pos_is(canvas_pos(cv, "live_monitoring.drift.psi_threshold"), 24, 38);
	pos_is(canvas_pos(cv, "live_monitoring.alert[1].below"), 27, 33);
	pos_is(canvas_pos(cv, "nowhere.at.all"), 0, 0);
	assert_int_equal(canvas_err(cv, SL_EGATE, cv->offline.min.pos,
				    "offline_evaluation.min %g not reached: roc_auc is %g", 0.95, 0.93),
			 SL_EGATE);
	assert_string_equal(sl_errmsg(),
			    "canvas.yaml:8:8: offline_evaluation.min 0.95 not reached: roc_auc is 0.93");

	/* The typed values as JSON, with positions. */
	json_t *j;
	assert_int_equal(canvas_json(cv, &j), 0);
	json_t *min = json_object_get(json_object_get(j, "offline_evaluation"), "min");
	assert_true(json_number_value(json_object_get(min, "value")) == 0.95);
	assert_int_equal(json_integer_value(json_object_get(min, "line")), 8);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(j, "decisions"), "cost"), "kind")),
			    "labels");
	json_t *rules = json_object_get(json_object_get(json_object_get(j, "live_monitoring"), "alert"),
					"value");
	assert_int_equal(json_array_size(rules), 2);
	assert_true(json_number_value(json_object_get(json_array_get(rules, 1), "below")) == 0.9);
	assert_true(json_is_true(json_object_get(
		json_object_get(json_object_get(j, "blocks"), "decisions"), "acted_on")));
	json_decref(j);
	canvas_free(cv);
}

/* An empty canvas is valid: nothing given, sluice's defaults in place. */
static void test_empty(void **state)
{
	static const char *const texts[] = {"", "# nothing yet\n", "~\n",
					    "offline_evaluation:\ndecisions: {}\nlive_monitoring: ''\n"};

	(void)state;
	for (size_t i = 0; i < SL__ARRAY_LEN(texts); i++) {
		canvas *cv = parse_ok(texts[i]);
		assert_null(cv->offline.metric.s);
		assert_false(cv->offline.min.given);
		assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_NONE);
		assert_null(cv->decisions.cost.spec);
		assert_false(cv->monitoring.window.given);
		assert_true(cv->monitoring.window.v == CANVAS_DEFAULT_WINDOW);
		assert_true(cv->monitoring.drift_share.v == CANVAS_DEFAULT_DRIFT_SHARE);
		assert_true(cv->monitoring.drift.psi_threshold == 0.1);
		assert_int_equal(cv->building.retrain_on, 0);
		assert_false(cv->building.auto_promote);
		assert_true(canvas_meets_min(cv, 0));
		int64_t t;
		assert_int_equal(canvas_next_retrain(cv, 0, &t), SL_ENOENT);
		assert_true(cv->blocks[CANVAS_FEATURES].empty);
		assert_false(cv->blocks[CANVAS_FEATURES].given);
		if (i == 3) {
			assert_true(cv->blocks[CANVAS_DECISIONS].given);
			assert_true(cv->blocks[CANVAS_DECISIONS].empty);
			assert_true(cv->blocks[CANVAS_OFFLINE_EVALUATION].empty);
		}
		canvas_free(cv);
	}
}

/* The other shapes of a cost. */
static void test_costs(void **state)
{
	canvas *cv;

	(void)state;
	cv = parse_ok("decisions: {cost: [[0, 1], [20, 0]]}\n");
	assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_MATRIX);
	assert_int_equal(cv->decisions.cost.k, 2);
	assert_true(json_is_array(cv->decisions.cost.spec));
	canvas_free(cv);
	cv = parse_ok("decisions: {cost: [[0, 1, 2], [3, 0, 4], [-1, 5, 0]]}\n");
	assert_int_equal(cv->decisions.cost.k, 3);
	canvas_free(cv);
	cv = parse_ok("decisions: {cost: {false_positive: 60, false_negative: 3}}\n");
	assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_OUTCOMES);
	canvas_free(cv);
	cv = parse_ok("decisions: {cost: {over: 2, under: '7'}}\n");
	assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_OVER_UNDER);
	assert_true(cv->decisions.cost.over == 2 && cv->decisions.cost.under == 7);
	canvas_free(cv);
	cv = parse_ok("decisions: {cost: {under: 1}}\n");
	assert_true(cv->decisions.cost.over == 0 && cv->decisions.cost.under == 1);
	canvas_free(cv);
	/* Labels that are numbers, as the label step makes them. */
	cv = parse_ok("decisions: {cost: {0: {1: 60}, 1: {0: 3}}}\n");
	assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_LABELS);
	canvas_free(cv);
	cv = parse_ok("decisions: {cost: []}\n");
	assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_NONE);
	canvas_free(cv);
}

/* text must fail with "canvas.yaml:WHERE: " and a message containing needle. */
static void expect(const char *text, const char *where, const char *needle)
{
	canvas *cv = (canvas *)1;
	char want[64];
	int rc = canvas_parse(text, strlen(text), "canvas.yaml", ".", &cv);

	if (rc == 0)
		fail_msg("no error for:\n%s", text);
	assert_true(rc == SL_EINVAL || rc == SL_EPARSE);
	assert_null(cv);
	snprintf(want, sizeof want, "canvas.yaml:%s: ", where);
	if (strncmp(sl_errmsg(), want, strlen(want)) || !strstr(sl_errmsg(), needle))
		fail_msg("message\n  %s\nexpected to start with '%s' and contain '%s'", sl_errmsg(), want,
			 needle);
}

static void test_errors(void **state)
{
	(void)state;
	/* The file and its blocks. */
	expect("a: [\n", "2:1", "");
	expect("- a\n- b\n", "1:1", "a mapping of its ten blocks");
	expect("decision:\n  cost: {}\n", "1:1", "did you mean 'decisions'");
	expect("monitoring: {}\n", "1:1", "write it as 'live_monitoring'");
	expect("predictions: {}\n", "1:1", "making_predictions");
	expect("retraining: {}\n", "1:1", "building_models");
	expect("frobnicate: 1\n", "1:1", "the canvas has ten blocks");
	expect("decisions: lots\n", "1:12", "decisions must be a mapping with cost, value");
	expect("offline_evaluation:\n  minn: 0.9\n", "2:3", "did you mean 'min'");
	expect("offline_evaluation:\n  metrics: [f1]\n", "2:3", "did you mean 'metric'");
	expect("making_predictions:\n  latency_ms: 50\n", "2:3", "write it as 'latency_p99_ms'");
	expect("decisions:\n  costs: {}\n", "2:3", "did you mean 'cost'");

	/* offline_evaluation */
	expect("offline_evaluation: {metric: roc_acu}\n", "1:30", "did you mean 'roc_auc'");
	expect("offline_evaluation: {metric: 5}\n", "1:30", "must be a metric name, not an integer");
	expect("offline_evaluation: {metric: latency_p99_ms}\n", "1:30", "measured while serving");
	expect("offline_evaluation: {metric: f1, min: high}\n", "1:39",
	       "offline_evaluation.min must be a number (the least the main metric must reach");
	expect("offline_evaluation: {metric: f1, min: .inf}\n", "1:39", "finite");
	expect("offline_evaluation: {metric: roc_auc, min: 95}\n", "1:44",
	       "write 0.9 for 90%");
	expect("offline_evaluation: {metric: r2, min: 2}\n", "1:39", "outside what r2 can be");
	expect("offline_evaluation:\n  min: 0.9\n", "2:8", "needs offline_evaluation.metric");

	/* decisions */
	expect("decisions: {value: -1}\n", "1:20", "decisions.value must be at least 0");
	expect("decisions: {cost: 5}\n", "1:19", "decisions.cost must be what mistakes cost");
	expect("decisions: {cost: [[0, 1]]}\n", "1:19", "at least 2");
	expect("decisions:\n  cost:\n    - [0, 1]\n    - [2]\n", "4:7",
	       "decisions.cost[1]: a 2 x 2 matrix needs 2 costs in each row");
	expect("decisions: {cost: [[0, 1], [x, 0]]}\n", "1:29", "decisions.cost[1][0] must be a number (a cost");
	expect("decisions: {cost: [[0, 0], [0, 0]]}\n", "1:19", "all zeros");
	expect("decisions: {cost: {over: 2, spam: {ham: 1}}}\n", "1:29",
	       "mixes {over, under}");
	expect("decisions: {cost: {false_positive: 2, spam: {ham: 1}}}\n", "1:39",
	       "mixes outcomes");
	expect("decisions: {cost: {false_positve: 2, ham: {spam: 1}}}\n", "1:20",
	       "did you mean 'false_positive'");
	expect("decisions: {cost: {over: -2, under: 1}}\n", "1:26", "must be at least 0");
	expect("decisions: {cost: {spam: 5}}\n", "1:26",
	       "give the cost of each decision when the actual class is 'spam'");
	expect("decisions: {cost: {spam: {ham: lots}}}\n", "1:32", "decisions.cost.spam.ham");
	expect("decisions: {cost: {\"odd label\": {ham: x}}}\n", "1:39",
	       "decisions.cost[\"odd label\"].ham");
	expect("decisions: {cost: {over: 1, nothing: ham}}\n", "1:38", "have none");
	expect("decisions: {cost: {over: 0, under: 0}}\n", "1:19", "all zeros");

	/* making_predictions */
	expect("making_predictions: {latency_p99_ms: 0}\n", "1:38", "must be above 0");
	expect("making_predictions: {latency_p99_ms: fast}\n", "1:38", "in milliseconds");
	expect("making_predictions: {mode: onlne}\n", "1:28", "did you mean 'online'");

	/* building_models */
	expect("building_models: {pipeline: 3}\n", "1:29", "the retraining pipeline file");
	expect("building_models:\n  cadence: '0 25 * * *'\n", "2:15", "hour field takes 0-23");
	expect("building_models:\n  cadence: \"0 3 * * mon-fry\"\n", "2:25", "unknown day-of-week");
	expect("building_models:\n  cadence: 5\n", "2:12", "a cron expression in quotes");
	expect("building_models: {retrain_on: [drfit]}\n", "1:32", "did you mean 'drift'");
	expect("building_models: {retrain_on: [decay, decay]}\n", "1:39", "listed twice");
	expect("building_models: {retrain_on: {drift: 1}}\n", "1:31", "must be a list of drift");
	expect("building_models: {auto_promote: yes}\n", "1:33", "must be true");

	/* live_monitoring */
	expect("live_monitoring: {window: 0}\n", "1:27", "live_monitoring.window must be from 1");
	expect("live_monitoring: {window: 1.5}\n", "1:27", "whole number");
	expect("live_monitoring: {metrics: accuracy}\n", "1:28", "must be a list of metric names");
	expect("live_monitoring: {metrics: [acuracy]}\n", "1:29", "did you mean 'accuracy'");
	expect("live_monitoring: {metrics: [f1, f1]}\n", "1:33", "listed twice");
	expect("live_monitoring:\n  drift: {share: 0}\n", "2:18", "share must be from 0 to 1");
	expect("live_monitoring:\n  drift: {psi: 0.2}\n", "2:11", "did you mean 'psi_threshold'");
	expect("live_monitoring:\n  drift: {numeric_test: kss}\n", "2:25", "did you mean 'ks'");
	expect("live_monitoring:\n  drift: {columns: free}\n", "2:20", "list of column names");
	expect("live_monitoring:\n  drift: 0.3\n", "2:10", "mapping of thresholds");
	expect("live_monitoring:\n  alert: {metric: f1}\n", "2:10", "must be a list of rules");
	expect("live_monitoring:\n  alert:\n    - {above: 1}\n", "3:7", "needs a metric");
	expect("live_monitoring:\n  alert:\n    - {metric: f1}\n", "3:7", "needs a threshold");
	expect("live_monitoring:\n  alert:\n    - {metric: f1, above: 1, below: 0}\n", "3:37",
	       "not both");
	expect("live_monitoring:\n  alert:\n    - {metric: f1, below: 0.8, for: 0}\n", "3:37",
	       "live_monitoring.alert[0].for must be from 1");
	expect("live_monitoring:\n  alert:\n    - {metric: f1, below: 0.8, severity: loud}\n", "3:42",
	       "warning or critical");
	expect("live_monitoring:\n  alert:\n    - {metric: f1, below: 0.8, windows: 2}\n", "3:32",
	       "unknown key 'windows' in an alert rule");
	expect("live_monitoring:\n  alert:\n    - f1 < 0.8\n", "3:7", "must be a rule such as");
	expect("live_monitoring:\n  alert:\n    - {metric: f1, below: 0.8, model: 3}\n", "3:39",
	       "model must be the name of a registered model");
	/* A rule's state is kept by its name: two rules may not share one for one model. */
	expect("live_monitoring:\n  alert:\n    - {metric: f1, below: 0.8}\n"
	       "    - {metric: f1, below: 0.8, severity: critical}\n",
	       "4:7", "another rule (line 3) is called 'f1<0.8'");
	expect("live_monitoring:\n  alert:\n    - {name: x, metric: f1, below: 0.8, model: a}\n"
	       "    - {name: x, metric: f1, below: 0.7}\n",
	       "4:7", "another rule (line 3) is called 'x'");
}

/*
 * The canvas's metrics are evaluate's: the same names, directions and
 * tasks, and a main metric is exactly one the evaluate step takes.
 */
static void test_metrics_match_evaluate(void **state)
{
	static const char list[] = ML_EVAL_METRICS;
	size_t n;
	const canvas_metric *all = canvas_metrics(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const canvas_metric *m = &all[i];
		if (i > 0)
			assert_true(strcmp(all[i - 1].name, m->name) < 0); /* sorted, no repeats */
		if (m->tasks & CANVAS_T_LIVE)
			continue;
		int e = ev_metric_find(m->name);
		if (e < 0)
			fail_msg("canvas metric %s is not evaluate's", m->name);
		assert_int_equal(m->direction, ev_metrics[e].direction);
		unsigned t = ev_metrics[e].tasks, want = 0;
		if (t & (EV_T_BIN | EV_T_MULTI))
			want |= CANVAS_T_CLASS;
		if (t & EV_T_REG)
			want |= CANVAS_T_REG;
		if (t & EV_T_FC)
			want |= CANVAS_T_FORECAST;
		if (t & (EV_T_ANOM | EV_T_ANOM_NOLAB))
			want |= CANVAS_T_ANOMALY;
		if (m->tasks != want)
			fail_msg("%s: canvas tasks %#x, evaluate's %#x", m->name, m->tasks, want);
	}
	/* Every main metric evaluate takes is one offline_evaluation.metric takes, and no other. */
	for (const char *p = list; *p;) {
		char name[64], text[128];
		size_t w = strcspn(p, " ");
		snprintf(name, sizeof name, "%.*s", (int)w, p);
		snprintf(text, sizeof text, "offline_evaluation: {metric: %s}\n", name);
		canvas *cv = parse_ok(text);
		assert_string_equal(cv->offline.metric.s, name);
		canvas_free(cv);
		p += w;
		p += *p == ' ';
	}
	expect("offline_evaluation: {metric: coverage95}\n", "1:30", "does not rank one");
	expect("offline_evaluation: {metric: error_rate}\n", "1:30", "measured while serving");
}

/* canvas_check collects every problem, and keeps the fields that had none. */
static void test_all_problems(void **state)
{
	static const char text[] =
		"offline_evaluation: {metric: roc_auc, min: 2}\n"
		"decisions: {cost: {over: 1, under: 2}, value: x}\n"
		"building_models: {cadence: '61 * * * *', retrain_on: [drift]}\n"
		"live_monitoring: {window: 0, alert: [{metric: nope, above: 1}, {metric: f1, below: 0.5}]}\n"
		"extra: 1\n";
	canvas_problem *p;
	canvas *cv;
	size_t n;

	(void)state;
	assert_int_equal(canvas_check(text, strlen(text), "c.yaml", ".", &cv, &p, &n), 0);
	assert_non_null(cv);
	assert_int_equal(n, 6);
	/* In file order, though the top level is read first. */
	assert_string_equal(p[0].path, "offline_evaluation.min");
	assert_string_equal(p[1].path, "decisions.value");
	assert_string_equal(p[2].path, "building_models.cadence");
	pos_is(p[2].pos, 3, 29);
	assert_string_equal(p[3].path, "live_monitoring.window");
	assert_string_equal(p[4].path, "live_monitoring.alert[0].metric");
	assert_string_equal(p[5].path, "extra");
	pos_is(p[5].pos, 5, 1);
	/* What had no problem is there; what had one reads as not given. */
	assert_string_equal(cv->offline.metric.s, "roc_auc");
	assert_false(cv->offline.min.given);
	assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_OVER_UNDER);
	assert_false(cv->decisions.value.given);
	assert_null(cv->building.cadence.s);
	assert_int_equal(cv->building.retrain_on, CANVAS_ON_DRIFT);
	assert_false(cv->monitoring.window.given);
	assert_int_equal(cv->monitoring.n_alerts, 1);
	assert_string_equal(cv->monitoring.alerts[0].metric, "f1");
	sl__free(p);
	canvas_free(cv);

	/* A YAML syntax error is one problem and no canvas. */
	assert_int_equal(canvas_check("a: [\n", 5, "c.yaml", ".", &cv, &p, &n), 0);
	assert_null(cv);
	assert_int_equal(n, 1);
	pos_is(p[0].pos, 2, 1);
	assert_non_null(strstr(p[0].msg, "invalid YAML"));
	sl__free(p);
}

/* The canvases sluice ships: init's blank one and the two examples. */
static void test_shipped(void **state)
{
	static const char *const files[] = {"src/canvas/blank/canvas.yaml",
					    "examples/spam/canvas.yaml",
					    "examples/sales/canvas.yaml"};

	(void)state;
	for (size_t i = 0; i < SL__ARRAY_LEN(files); i++) {
		char path[1024];
		canvas *cv = NULL;
		snprintf(path, sizeof path, "%s/%s", SLUICE_SOURCE_DIR, files[i]);
		if (canvas_load(path, &cv))
			fail_msg("%s: %s", files[i], sl_errmsg());
		for (int b = 0; b < CANVAS_N_BLOCKS; b++)
			assert_true(cv->blocks[b].given);
		if (i == 0) {
			/* Blank: every block there, nothing acted on yet. */
			assert_null(cv->offline.metric.s);
			assert_int_equal(cv->decisions.cost.kind, CANVAS_COST_NONE);
			assert_true(cv->blocks[CANVAS_VALUE_PROPOSITION].empty);
			assert_null(cv->building.pipeline.s);
		} else {
			assert_non_null(cv->offline.metric.s);
			assert_true(cv->offline.min.given);
			assert_int_not_equal(cv->decisions.cost.kind, CANVAS_COST_NONE);
			assert_true(cv->decisions.value.given);
			assert_true(cv->predictions.latency_p99_ms.given);
			assert_non_null(cv->building.cadence.s);
			assert_true(cv->building.retrain_on & CANVAS_ON_CADENCE);
			assert_true(cv->monitoring.n_alerts >= 3);
			for (int b = 0; b < CANVAS_N_BLOCKS; b++)
				assert_false(cv->blocks[b].empty);
		}
		canvas_free(cv);
	}
}

static void test_files(void **state)
{
	const char *dir = tu_tmpdir();
	char *proj = tu_path(dir, "proj"), *sub, *cvpath, *state_dir, *found = NULL;
	canvas *cv = (canvas *)1;

	(void)state;
	assert_int_equal(canvas_load("/nonexistent/canvas.yaml", &cv), SL_ENOENT);
	assert_null(cv);
	assert_non_null(strstr(sl_errmsg(), "no such file"));

	/* A project: canvas_find walks up from a subfolder. */
	state_dir = tu_path(proj, ".sluice");
	sub = tu_path(proj, "a/b");
	assert_int_equal(sl__mkdir_p(state_dir, 0755), 0);
	assert_int_equal(sl__mkdir_p(sub, 0755), 0);
	unsetenv("SLUICE_HOME");
	assert_int_equal(canvas_find(sub, &found), 0);
	assert_null(found); /* a project without a canvas */
	cvpath = tu_path(proj, "canvas.yaml");
	tu_write(cvpath, "offline_evaluation:\n  metric: f1\n  min: 2\n");
	assert_int_equal(canvas_find(sub, &found), 0);
	assert_string_equal(found, cvpath);
	/* Its errors name the file as given, at the line. */
	assert_int_equal(canvas_load(found, &cv), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "canvas.yaml:3:8: offline_evaluation.min 2 is outside"));
	sl__free(found);
	assert_int_equal(canvas_find(dir, &found), 0);
	assert_null(found); /* outside any project */

	tu_write(cvpath, "building_models: {pipeline: retrain.yaml}\n");
	assert_int_equal(canvas_load(cvpath, &cv), 0);
	char *want = tu_path(proj, "retrain.yaml");
	assert_string_equal(cv->building.pipeline_path, want);
	free(want);
	canvas_free(cv);
	free(cvpath);
	free(sub);
	free(state_dir);
	free(proj);
	tu_rmdir(dir);
}

/* A report as the evaluate step writes it (docs/steps/evaluate.md), cut to what is read. */
static json_t *report(const char *task, double acc_m, double acc_b, double cost_m, double cost_b)
{
	json_t *r = json_pack("{s:s, s:i, s:{s:s, s:s}, s:f, s:{s:s, s:b}, s:{s:f}, "
			      "s:{s:f}, s:{s:s}, s:{s:b}}",
			      "kind", "evaluation_report", "format", 1, "model", "algorithm", "logistic",
			      "task", task, "rows", 690.0, "main_metric", "name", "roc_auc",
			      "higher_is_better", 1, "metrics", "roc_auc", 0.97, "baseline", "roc_auc",
			      0.5, "baseline_info", "strategy", "prior", "assessment",
			      "worth_deploying", 1);

	assert_non_null(r);
	if (!isnan(acc_m)) {
		json_object_set_new(json_object_get(r, "metrics"), "accuracy", json_real(acc_m));
		json_object_set_new(json_object_get(r, "baseline"), "accuracy", json_real(acc_b));
	}
	if (!isnan(cost_m))
		json_object_set_new(r, "cost",
				    json_pack("{s:s, s:s, s:{s:f}, s:{s:f}, s:{s:f}, s:{s:f, s:f, s:f}}",
					      "source", "canvas", "kind", "matrix", "model", "per_row",
					      cost_m, "baseline", "per_row", cost_b, "nothing",
					      "per_row", cost_b, "threshold", "threshold", 0.31,
					      "cost_per_row", cost_m - 0.04, "saving_per_row", 0.04));
	return r;
}

static double jget(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);
	return json_number_value(b ? json_object_get(v, b) : v);
}

/* An evaluation weighed against the canvas: numbers, the verdict and its basis, the words. */
static void test_weigh(void **state)
{
	canvas *cv;
	json_t *rep, *w;
	const char *st;

	(void)state;
	/* Cost and value: the net return decides. */
	cv = parse_ok("offline_evaluation: {metric: roc_auc, min: 0.95}\n"
		      "decisions: {cost: [[0, 1], [20, 0]], value: 3}\n");
	rep = report("binary", 0.93, 0.61, 0.21, 1.6);
	assert_int_equal(canvas_weigh(cv, rep, &w), 0);
	assert_true(fabs(jget(json_object_get(w, "cost"), "saving_vs_baseline", NULL) - 1.39) < 1e-12);
	assert_true(fabs(jget(json_object_get(w, "cost"), "saving_per_1000", NULL) - 1390) < 1e-9);
	const json_t *v = json_object_get(w, "value");
	assert_string_equal(json_string_value(json_object_get(v, "source")), "canvas");
	assert_true(fabs(jget(v, "model", "value_per_decision") - 2.79) < 1e-12);
	assert_true(fabs(jget(v, "model", "net_per_decision") - 2.58) < 1e-12);
	assert_true(fabs(jget(v, "model", "roi") - 2.58 / 0.21) < 1e-12);
	assert_true(fabs(jget(v, "baseline", "net_per_decision") - (1.83 - 1.6)) < 1e-12);
	assert_true(json_is_true(json_object_get(w, "worth_it")));
	assert_string_equal(json_string_value(json_object_get(w, "basis")), "net");
	assert_true(json_is_true(json_object_get(json_object_get(w, "minimum"), "met")));
	st = json_string_value(json_object_get(w, "statement"));
	assert_non_null(strstr(st, "it saves 1.39 per decision, 1390 per 1,000 decisions"));
	assert_non_null(strstr(st, "At threshold 0.31"));
	assert_non_null(strstr(st, "ML is worth it: it nets 2.35 more per decision than the baseline, "
				   "and roc_auc 0.97 meets the canvas's minimum 0.95."));
	json_decref(w);
	json_decref(rep);
	canvas_free(cv);

	/* The minimum missed: not worth it, whatever it saves. */
	cv = parse_ok("offline_evaluation: {metric: roc_auc, min: 0.99}\n"
		      "decisions: {value: 3}\n");
	rep = report("binary", 0.93, 0.61, 0.21, 1.6);
	assert_int_equal(canvas_weigh(cv, rep, &w), 0);
	assert_false(json_is_true(json_object_get(w, "worth_it")));
	st = json_string_value(json_object_get(w, "statement"));
	assert_non_null(strstr(st, "ML is not worth it yet: roc_auc 0.97 misses the canvas's minimum 0.99"));
	json_decref(w);
	json_decref(rep);
	canvas_free(cv);

	/* Cost only, and the model costs more than the baseline. */
	cv = parse_ok("decisions: {cost: {false_positive: 5, false_negative: 1}}\n");
	rep = report("binary", 0.93, 0.61, 0.9, 0.6);
	assert_int_equal(canvas_weigh(cv, rep, &w), 0);
	assert_string_equal(json_string_value(json_object_get(w, "basis")), "cost");
	assert_false(json_is_true(json_object_get(w, "worth_it")));
	assert_true(json_is_null(json_object_get(w, "value")));
	st = json_string_value(json_object_get(w, "statement"));
	assert_non_null(strstr(st, "it costs 0.3 more per decision."));
	assert_non_null(strstr(st, "fill in decisions.value"));
	json_decref(w);
	json_decref(rep);
	canvas_free(cv);

	/* Dearer than the baseline at its threshold, cheaper at the one the report found. */
	cv = parse_ok("decisions: {cost: {false_positive: 60, false_negative: 3}, value: 1}\n");
	rep = report("binary", 0.93, 0.61, 2.16, 1.18);
	json_t *th = json_object_get(json_object_get(rep, "cost"), "threshold");
	json_object_set_new(th, "threshold", json_real(0.91));
	json_object_set_new(th, "cost_per_row", json_real(0.85));
	json_object_set_new(th, "saving_per_row", json_real(1.31));
	assert_int_equal(canvas_weigh(cv, rep, &w), 0);
	assert_false(json_is_true(json_object_get(w, "worth_it")));
	assert_true(jget(json_object_get(json_object_get(w, "cost"), "cheapest_threshold"),
			 "threshold", NULL) == 0.91);
	st = json_string_value(json_object_get(w, "statement"));
	assert_non_null(strstr(st, "At threshold 0.91 (chosen on the test rows) it would cost 0.85 "
				   "per decision, less than the baseline."));
	assert_non_null(strstr(st, "(set threshold: 0.91 in the evaluate step and confirm it on fresh "
				   "rows)"));
	json_decref(w);
	json_decref(rep);
	canvas_free(cv);

	/* Neither: the report's own verdict on the main metric. */
	cv = parse_ok("");
	rep = report("binary", 0.93, 0.61, NAN, NAN);
	assert_int_equal(canvas_weigh(cv, rep, &w), 0);
	assert_string_equal(json_string_value(json_object_get(w, "basis")), "metric");
	assert_true(json_is_true(json_object_get(w, "worth_it")));
	assert_non_null(strstr(json_string_value(json_object_get(w, "statement")),
			       "No cost was priced: fill in decisions.cost."));
	json_decref(w);
	json_decref(rep);

	/* Numbers: every prediction is one decision; the step's own value when the canvas has none. */
	rep = report("forecast", NAN, NAN, 3.5, 6.0);
	json_object_set_new(json_object_get(rep, "cost"), "value",
			    json_pack("{s:f}", "per_correct_decision", 20.0));
	assert_int_equal(canvas_weigh(cv, rep, &w), 0);
	v = json_object_get(w, "value");
	assert_string_equal(json_string_value(json_object_get(v, "source")), "evaluate");
	assert_true(jget(v, "model", "correct_share") == 1);
	assert_true(fabs(jget(v, "model", "net_per_decision") - 16.5) < 1e-12);
	assert_true(json_is_true(json_object_get(w, "worth_it")));
	assert_non_null(strstr(json_string_value(json_object_get(w, "statement")),
			       "the seasonal naive baseline"));
	json_decref(w);

	/* Not a report. */
	json_object_set_new(rep, "kind", json_string("something_else"));
	assert_int_equal(canvas_weigh(cv, rep, &w), SL_EINVAL);
	assert_null(w);
	json_decref(rep);
	canvas_free(cv);
}

/* Every allocation failing in turn: SL_ENOMEM or a complete canvas, never a leak. */
static void test_alloc_failures(void **state)
{
	json_t *rep = report("binary", 0.93, 0.61, 0.21, 1.6);
	tu_oom oo = {0};

	(void)state;
	json_object_set_new(json_object_get(rep, "cost"), "source", json_string("with"));
	for (long n = 0; n < 100000 && !oo.done; n++) {
		canvas *cv = NULL;
		canvas_problem *p = NULL;
		json_t *j = NULL, *w = NULL;
		size_t np = 0;
		int rc;
		tu_oom_begin(&oo, n);
		rc = canvas_check(full, strlen(full), "canvas.yaml", "/proj", &cv, &p, &np);
		if (rc == 0)
			rc = canvas_json(cv, &j);
		if (rc == 0)
			rc = canvas_weigh(cv, rep, &w);
		tu_oom_end(&oo, rc);
		if (rc == 0) {
			assert_true(json_is_true(json_object_get(w, "worth_it")));
			assert_int_equal(json_array_size(json_object_get(w, "notes")), 1);
			assert_int_equal(np, 0);
			assert_int_equal(cv->monitoring.n_alerts, 2);
			assert_int_equal(json_array_size(json_object_get(
						 json_object_get(json_object_get(j, "live_monitoring"), "alert"),
						 "value")),
					 2);
		} else {
			assert_int_equal(rc, SL_ENOMEM);
			if (!cv)
				assert_null(p);
		}
		json_decref(w);
		json_decref(j);
		sl__free(p);
		canvas_free(cv);
	}
	json_decref(rep);
	tu_oom_check(&oo, 20);
}

/*
 * The public entry points under allocation failure: sl_canvas_check (canvas,
 * pipelines beside it, the retraining pipeline parsed) and a template laid
 * down. Each returns SL_ENOMEM or succeeds; never a crash, a leak (the
 * sanitizer build checks) or an answer with parts missing.
 */
static void test_api_alloc_failures(void **state)
{
	const char *dir = tu_tmpdir();
	char *cvpath = tu_path(dir, "canvas.yaml"), *pipe = tu_path(dir, "train.yaml");
	char *sub = tu_path(dir, "more"), *pipe2 = tu_path(dir, "more/eval.yaml");
	tu_oom oo = {0};

	(void)state;
	/* The full canvas less its value: the evaluate step below gets a warning. */
	char *text = strdup(full), *v = strstr(text, "  value: 0.5\n");
	assert_non_null(v);
	memmove(v, v + strlen("  value: 0.5\n"), strlen(v + strlen("  value: 0.5\n")) + 1);
	tu_write(cvpath, text);
	free(text);
	tu_write(pipe, "name: t\nsteps:\n  a:\n    run: echo > ${outputs.o}\n    outputs: [o]\n");
	assert_int_equal(sl__mkdir_p(sub, 0755), 0);
	tu_write(pipe2, "name: e\nsteps:\n  s:\n    uses: evaluate\n    inputs: {model: a.m, test: a.t}\n");
	for (long n = 0; n < 100000 && !oo.done; n++) {
		char *json = NULL;
		tu_oom_begin(&oo, n);
		int rc = sl_canvas_check(cvpath, &json);
		tu_oom_end(&oo, rc);
		if (rc == 0) {
			json_t *j = json_loads(json, 0, NULL);
			assert_non_null(j);
			assert_true(json_is_true(json_object_get(j, "valid")));
			assert_int_equal(json_array_size(json_object_get(j, "pipelines")), 2);
			assert_int_equal(json_array_size(json_object_get(j, "warnings")), 1);
			json_decref(j);
		} else {
			assert_int_equal(rc, SL_ENOMEM);
			assert_null(json);
		}
		sl_free(json);
	}
	tu_oom_check(&oo, 20);

	tu_oom ot = {0};
	for (long n = 0; n < 100000 && !ot.done; n++) {
		char name[32], *proj;
		snprintf(name, sizeof name, "p%ld", n);
		proj = tu_path(dir, name);
		tu_oom_begin(&ot, n);
		int rc = sl_project_init_template(proj, "forecast", NULL);
		tu_oom_end(&ot, rc);
		if (rc == 0) {
			char *f = tu_path(proj, "data/elec_equip.csv");
			assert_true(sl__is_file(f));
			free(f);
		} else {
			assert_int_equal(rc, SL_ENOMEM);
		}
		free(proj);
	}
	tu_oom_check(&ot, 5);
	free(cvpath);
	free(pipe);
	free(pipe2);
	free(sub);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),	       cmocka_unit_test(test_empty),
		cmocka_unit_test(test_costs),	       cmocka_unit_test(test_errors),
		cmocka_unit_test(test_metrics_match_evaluate),
		cmocka_unit_test(test_all_problems),   cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_files),	       cmocka_unit_test(test_weigh),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_api_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
