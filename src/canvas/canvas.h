/*
 * The ML canvas: canvas.yaml at a project's root, read and checked once,
 * handed to the code that acts on it as typed values that remember where
 * they were written. Prefix canvas_.
 *
 *   canvas.yaml --canvas_load--> canvas (typed, positions)
 *                                   |-- offline_evaluation.metric/.min -> test (gate), evaluate
 *                                   |-- decisions.cost/.value          -> evaluate, canvas report
 *                                   |-- making_predictions.latency_p99_ms -> test, serving alerts
 *                                   |-- building_models.*              -> monitor watch (retraining)
 *                                   `-- live_monitoring.*              -> monitoring (drift, alerts)
 *
 * The ten blocks are DESIGN's: value_proposition, data_sources,
 * prediction_task, features, offline_evaluation, decisions,
 * making_predictions, data_collection, building_models, live_monitoring.
 * Five carry fields sluice acts on; every field is checked here, so a
 * consumer never checks one again and never sees a value of the wrong
 * kind. The other five (and `description` in any block) are free text,
 * lists or mappings, kept as JSON for display. docs/canvas.md is the
 * user's reference for every field.
 *
 * Invariants:
 *   1. A canvas that loads is valid in every acted-on field: types,
 *      allowed values, ranges, the cost's shape, the cron expression. What
 *      is not given is marked so (given == false) and holds sluice's
 *      default, so a consumer reads one value either way.
 *   2. Every problem is "FILE:LINE:COL: PATH ..." at the offending key or
 *      value; canvas_check collects all of them, canvas_load fails on the
 *      first. Unknown keys get a "did you mean" (keys of an older template
 *      name the block that replaced them).
 *   3. The canvas owns everything it hands out (strings, JSON, the tree);
 *      all of it lives until canvas_free. Consumers borrow.
 *   4. Nothing here depends on a project, a store or a model: the canvas
 *      says what the project wants; whether a model's classes fit its cost
 *      matrix is checked where the model is known (evaluate).
 */
#ifndef SLUICE_CANVAS_H
#define SLUICE_CANVAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "canvas/cron.h"
#include "monitor/drift.h"
#include "yamltree.h"

typedef enum canvas_block_id {
	CANVAS_VALUE_PROPOSITION,
	CANVAS_DATA_SOURCES,
	CANVAS_PREDICTION_TASK,
	CANVAS_FEATURES,
	CANVAS_OFFLINE_EVALUATION,
	CANVAS_DECISIONS,
	CANVAS_MAKING_PREDICTIONS,
	CANVAS_DATA_COLLECTION,
	CANVAS_BUILDING_MODELS,
	CANVAS_LIVE_MONITORING,
	CANVAS_N_BLOCKS
} canvas_block_id;

/* "value_proposition" ... in the order above. */
const char *canvas_block_name(canvas_block_id b);
/* True for the five blocks with fields sluice acts on. */
bool canvas_block_acted_on(canvas_block_id b);

/* One block as written. */
typedef struct canvas_block {
	bool given;       /* the key is in the file */
	bool empty;       /* not given, null, "", [] or {} (or only empty values) */
	sl__ypos pos;     /* its key ({0, 0} when not given) */
	const json_t *json; /* the block as written, for display (NULL when not given) */
} canvas_block;

/* A number the canvas gives, or sluice's default. */
typedef struct canvas_num {
	bool given;
	double v;
	sl__ypos pos; /* the value when given, else the block's key (or {0, 0}) */
} canvas_num;

/* A string, NULL when not given. */
typedef struct canvas_str {
	const char *s;
	sl__ypos pos;
} canvas_str;

/* ---- metrics ------------------------------------------------------------------ */

#define CANVAS_T_CLASS 1u    /* classification (binary, multiclass) */
#define CANVAS_T_REG 2u      /* regression */
#define CANVAS_T_FORECAST 4u /* forecasting */
#define CANVAS_T_ANOMALY 8u  /* anomaly detection */
#define CANVAS_T_LIVE 16u    /* a serving measure only: live_monitoring, alerts */

typedef struct canvas_metric {
	const char *name;
	int direction;  /* +1 higher is better, -1 lower is better, 0 neither */
	double lo, hi;  /* the values it can take (NaN: unbounded) */
	unsigned tasks; /* CANVAS_T_* where it applies */
	const char *help;
} canvas_metric;

/* The metric called name (evaluate's names, and the live ones), or NULL. */
const canvas_metric *canvas_metric_find(const char *name);
/* All of them; *out_n receives the count. */
const canvas_metric *canvas_metrics(size_t *out_n);

/* ---- decisions.cost -------------------------------------------------------------- */

typedef enum canvas_cost_kind {
	CANVAS_COST_NONE,       /* not given ({}, [] and null count as not given) */
	CANVAS_COST_MATRIX,     /* [[...], ...]: rows the actual class, columns the decision,
				 * in the model's class order */
	CANVAS_COST_LABELS,     /* {ACTUAL: {DECIDED: cost}} by class label */
	CANVAS_COST_OUTCOMES,   /* {false_positive, false_negative, true_positive,
				 * true_negative}: a binary decision */
	CANVAS_COST_OVER_UNDER  /* {over, under}: per unit of over- and under-prediction */
} canvas_cost_kind;

/* "none", "matrix", "labels", "outcomes", "over_under". */
const char *canvas_cost_kind_name(canvas_cost_kind k);

typedef struct canvas_cost {
	canvas_cost_kind kind;
	const json_t *spec;  /* as written, the form evaluate's `cost` option takes
			      * (docs/steps/evaluate.md); NULL for NONE */
	sl__ypos pos;
	size_t k;            /* MATRIX: the number of classes; LABELS: of labels named */
	double over, under;  /* OVER_UNDER (each 0 when left out) */
	const char *nothing; /* the `nothing: LABEL` decision, or NULL */
} canvas_cost;

/* ---- live_monitoring.alert ------------------------------------------------------- */

typedef enum canvas_severity { CANVAS_WARNING, CANVAS_CRITICAL } canvas_severity;

typedef struct canvas_alert {
	const char *metric;   /* a canvas_metric name (live measures included) */
	bool above;           /* fires when the metric is above threshold (else below) */
	double threshold;
	int64_t windows;      /* for this many windows in a row ("for", default 1) */
	canvas_severity severity; /* default warning */
	const char *name;     /* the rule's `name`, or NULL */
	const char *model;    /* the registered model it watches, or NULL: every watched one */
	const char *command;  /* run by /bin/sh when the alert fires or resolves, or NULL */
	const char *webhook;  /* an http(s) URL the alert is POSTed to as JSON, or NULL */
	sl__ypos pos;         /* the rule */
} canvas_alert;

/* "warning", "critical". */
const char *canvas_severity_name(canvas_severity s);

/*
 * The name rule r's state is kept and sent by: its `name`, else
 * "METRIC>THRESHOLD" (or '<'), in buf when made.
 */
const char *canvas_alert_name(const canvas_alert *r, char *buf, size_t size);


/* Retraining triggers (building_models.retrain_on), as bits. */
#define CANVAS_ON_DRIFT 1u
#define CANVAS_ON_DECAY 2u
#define CANVAS_ON_CADENCE 4u

/* Defaults of what the canvas may leave out. */
#define CANVAS_DEFAULT_WINDOW 1000
#define CANVAS_DEFAULT_DRIFT_SHARE 0.5

/* ---- the canvas -------------------------------------------------------------------- */

typedef struct canvas {
	const char *file;  /* the name in messages (the path given to canvas_load) */
	const char *dir;   /* the folder paths in the canvas are relative to */
	canvas_block blocks[CANVAS_N_BLOCKS];

	struct {
		canvas_str metric;  /* a canvas_metric name, or NULL (the task's default) */
		const canvas_metric *info; /* metric's entry, or NULL */
		canvas_num min;     /* the least the metric must reach; the most when lower
				     * is better (info->direction < 0). Needs metric. */
	} offline;

	struct {
		canvas_cost cost;
		canvas_num value;   /* of one correct decision, >= 0 */
	} decisions;

	struct {
		canvas_num latency_p99_ms; /* > 0; the SLO of one prediction */
	} predictions;

	struct {
		canvas_str pipeline;    /* the retraining pipeline, as written */
		const char *pipeline_path; /* resolved against dir, or NULL */
		canvas_str cadence;     /* the cron text, or NULL */
		cron_expr cron;         /* valid when cadence.s */
		unsigned retrain_on;    /* CANVAS_ON_* */
		sl__ypos retrain_on_pos;
		bool retrain_on_given;
		bool auto_promote;      /* default false: a human promotes */
		sl__ypos auto_promote_pos;
		bool auto_promote_given;
	} building;

	struct {
		canvas_num window;      /* requests per window, >= 1 (default 1000) */
		const char *const *metrics; /* canvas_metric names to track, in order */
		size_t n_metrics;
		sl__ypos metrics_pos;
		canvas_num drift_share; /* the dataset drifted when this share of columns
					 * did, (0, 1] (default 0.5, Evidently's) */
		drift_opts drift;       /* per-column thresholds and tests (validate's names),
					 * defaults where not given */
		bool drift_given;
		sl__ypos drift_pos;
		const char *const *drift_columns; /* test only these, or NULL: all */
		size_t n_drift_columns;
		const canvas_alert *alerts;
		size_t n_alerts;
		sl__ypos alert_pos;
	} monitoring;
} canvas;

/* One problem found (canvas_check). */
typedef struct canvas_problem {
	sl__ypos pos;
	char path[128]; /* "offline_evaluation.min", "" for the file */
	char msg[640];  /* "PATH ...", without the FILE:LINE:COL prefix */
} canvas_problem;

#define CANVAS_MAX_PROBLEMS 50

/*
 * Checks a list of alert rules, the one check canvas.yaml's
 * live_monitoring.alert and sluice.yaml's monitoring.alert go through: n is
 * the list's node, path how messages name it ("monitoring.alert"). The
 * rules without a problem go into *out (sl__free; their strings point into
 * n's document, which must outlive them), *out_n of them; the problems,
 * in file order, into *out_problems (sl__free) and *out_np, as
 * canvas_check gives them. Two rules of one list may not share a name for
 * the same model (their state is kept by name). Returns 0 or SL_ENOMEM.
 */
int canvas_alerts_check(const sl__ynode *n, const char *path, canvas_alert **out, size_t *out_n,
			canvas_problem **out_problems, size_t *out_np);

/*
 * Reads and checks the canvas at path. On success *out is the caller's
 * (canvas_free). On failure returns SL_EPARSE (not YAML) or SL_EINVAL (a
 * field is wrong), with sl_errmsg() "PATH:LINE:COL: message" for the
 * first problem in the file, or SL_ENOENT when there is no such file. *out is NULL.
 */
int canvas_load(const char *path, canvas **out);
/* The same for text; name is the file name in messages, dir resolves paths. */
int canvas_parse(const char *text, size_t len, const char *name, const char *dir, canvas **out);
/*
 * Checks like canvas_parse but collects every problem (up to
 * CANVAS_MAX_PROBLEMS, in file order) into *out_problems / *out_n (caller frees with
 * sl__free), and gives the canvas even when problems were found: the
 * fields that had none are filled in as usual (a wrong field reads as not
 * given). A YAML syntax error is one problem and *out NULL. Returns 0 or
 * SL_ENOMEM (or SL_ENOENT for canvas_check_file without the file).
 */
int canvas_check(const char *text, size_t len, const char *name, const char *dir, canvas **out,
		 canvas_problem **out_problems, size_t *out_n);
int canvas_check_file(const char *path, canvas **out, canvas_problem **out_problems,
		      size_t *out_n);
void canvas_free(canvas *cv); /* accepts NULL */

/*
 * The canvas.yaml of the project around start_dir: the folder holding
 * .sluice/, found by walking up as projects are (SLUICE_HOME overrides).
 * *out_path (sl__free) is NULL when there is no project or it has no
 * canvas.yaml; that is not an error.
 */
int canvas_find(const char *start_dir, char **out_path);

/* ---- messages that point into the canvas ------------------------------------- */

/* "canvas.yaml:12:5" of pos (just the file name when pos is unknown). */
void canvas_where(const canvas *cv, sl__ypos pos, char *buf, size_t size);
/* Where the value at path ("live_monitoring.drift.psi_threshold", "building_models")
 * was written, or {0, 0}: for messages about fields the struct has no pos for. */
sl__ypos canvas_pos(const canvas *cv, const char *path);
/*
 * Sets this thread's error to "FILE:LINE:COL: message" at pos and returns
 * code: how a gate or the monitor reports a value the canvas set ("canvas.yaml:12:5:
 * offline_evaluation.min 0.95 not reached: roc_auc is 0.93").
 */
int canvas_err(const canvas *cv, int code, sl__ypos pos, const char *fmt, ...) SL__PRINTF(4, 5);
#define canvas_err(...) SL__ERR_CODE(canvas_err(__VA_ARGS__))

/*
 * The canvas's typed values as JSON (*out new; caller json_decref), each
 * acted-on field as {"value": ..., "given": bool, "line": L, "col": C}
 * where it was written: what `sluice canvas check --json` prints under
 * "canvas".
 */
int canvas_json(const canvas *cv, json_t **out);

/*
 * Whether the main metric meets the canvas's minimum (the maximum when
 * lower is better); true when no minimum is set.
 */
bool canvas_meets_min(const canvas *cv, double value);

/*
 * Sets an evaluation report (an evaluate step's `report` output, as
 * docs/steps/evaluate.md describes it) against the canvas: the model's and
 * the baseline's cost per decision and the saving, the value of correct
 * decisions (decisions.value, else the value the step was given) and the
 * net return, whether the canvas's minimum is met, and a statement in
 * words of whether ML is worth it over the baseline. *out is new
 * (json_decref): {algorithm, task, rows, metric, cost, value, minimum,
 * worth_it, basis, statement, notes}. SL_EINVAL when report is not an
 * evaluation report.
 */
int canvas_weigh(const canvas *cv, const json_t *report, json_t **out);

/*
 * The next `cadence` firing strictly after `after` (seconds since the
 * epoch, UTC) into *out: SL_ENOENT when the canvas sets no cadence.
 */
int canvas_next_retrain(const canvas *cv, int64_t after, int64_t *out);

#endif
