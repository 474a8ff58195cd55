/*
 * The monitoring loop's decisions, as pure functions of a monitoring
 * report (the JSON `sluice monitor report --json` prints) and the state
 * kept between evaluations: alert rules and their de-duplication, the
 * retraining triggers (drift, decay, cadence) and their coalescing, and
 * cron schedules. Nothing here reads the clock, the store or the log:
 * callers pass the time and the stored rows (store_mon_state), so every
 * decision is a unit test away. Prefix mon_.
 *
 *   report --mon_report_value--> number per metric --mon_rule_step--> fire / repeat / resolve
 *          --mon_triggers------> drift, decay (latched per production version)
 *   cron + last look --mon_cron_due--> cadence, schedules
 *   fired triggers --mon_trigger_names--> one retraining run ("drift+decay")
 *
 * Invariants:
 *   1. An alert fires once when its condition has held for `for` windows in
 *      a row, and is then silent (de-duplicated: MON_REPEAT) until a window
 *      where the condition does not hold resolves it. A window is counted
 *      once however often it is evaluated (its key, when the report gives
 *      one); a window where the metric cannot be measured changes nothing.
 *   2. A retraining trigger fires once per production version while its
 *      condition holds (latched); it re-arms when the condition clears or
 *      production moves to another version, so a refused challenger does
 *      not start a retraining run at every evaluation. A run that failed
 *      (not refused: it could not judge) re-arms it for the next window of
 *      traffic (mon_trigger_retry), never for the window that fired.
 *   3. Triggers that fire in one evaluation start one run, named by all of
 *      them in a fixed order (drift, decay, cadence).
 *   4. A cron schedule looked at for the first time is not due: the watcher
 *      does not fire for times before it started watching; a schedule whose
 *      time passed while no watcher ran fires once when one looks again.
 *   5. The alert rules come from two files and both apply: sluice.yaml's
 *      monitoring.alert (the operators') and canvas.yaml's
 *      live_monitoring.alert (the modellers'). A rule is known by its name,
 *      which keys its state; a sluice.yaml rule overrides the canvas's rule
 *      of the same name for the models it watches, so operators can retune
 *      a threshold or reroute an alert without editing the canvas.
 */
#ifndef SLUICE_MONITOR_RULES_H
#define SLUICE_MONITOR_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "canvas/canvas.h"
#include "canvas/cron.h"
#include "store/store.h"

/*
 * The value of metric (a canvas metric name) in a report (monitor/live.h
 * has its shape), looked up where the report keeps it: a top-level number
 * (drift_share; dataset_drift as 0 or 1), the window's serving measures
 * (latency_p50_ms, latency_p99_ms, error_rate), the `live` block (metrics
 * measured on feedback), then the `estimated` block (label-free
 * estimates; roc_auc is "auc" there). *out_basis (may be NULL) receives
 * "report", "window", "live" or "estimated". false when the report does
 * not give it as a finite number (too few labels, say).
 */
bool mon_report_value(const json_t *report, const char *metric, double *out,
		      const char **out_basis);

/*
 * The key of the report's window: its end (window.to, .end, .until or
 * .last, as text or number) written out, so the same window evaluated
 * twice is counted once; NULL when the report gives none (then every
 * evaluation counts as a window). Points into the report or buf.
 */
const char *mon_window_key(const json_t *report, char *buf, size_t size);

typedef enum mon_action {
	MON_NONE,    /* nothing to report */
	MON_FIRE,    /* the alert starts: record and send it */
	MON_REPEAT,  /* it persists: de-duplicated, neither recorded nor sent again */
	MON_RESOLVE  /* it ended: record and send the resolution */
} mon_action;

/* "none", "fire", "repeat", "resolve". */
const char *mon_action_name(mon_action a);

/*
 * Steps rule r's state by one evaluation (invariant 1): value is the
 * metric in the window (NaN: not measured), window its key or NULL. st is
 * the rule's stored row (found false the first time), updated in place;
 * the caller stores it.
 */
mon_action mon_rule_step(const canvas_alert *r, double value, const char *window, int64_t now_ms,
			 store_mon_state *st);

/*
 * The alert rules that watch model (invariant 5): sluice.yaml's
 * monitoring.alert (ops, n_ops) first, then canvas.yaml's
 * live_monitoring.alert (cv, n_cv) except those a sluice.yaml rule of the
 * same name (canvas_alert_name) overrides; in each list, only rules without
 * `model` or naming this one. *out (sl__free; the pointers borrow the
 * rules) and *out_n receive them. Returns 0 or SL_ENOMEM.
 */
int mon_rules_for(const canvas_alert *ops, size_t n_ops, const canvas_alert *cv, size_t n_cv,
		  const char *model, const canvas_alert ***out, size_t *out_n);

/* ---- retraining triggers -------------------------------------------------------- */

/* What the triggers are judged against. */
typedef struct mon_trigger_in {
	unsigned retrain_on;       /* CANVAS_ON_* */
	const json_t *report;      /* the window's report, or NULL when there is none */
	const char *window;        /* its key (mon_window_key), or NULL */
	const char *version;       /* the production version it is about (latch key) */
	const char *metric;        /* decay: the main metric (canvas offline.metric), or NULL */
	int direction;             /* its direction: +1 higher is better, -1 lower */
	double min;                /* decay: the least it may be (the most when direction < 0) */
	bool has_min;
	bool cadence_due;          /* the cadence fired since the last look */
	const char *cadence;       /* its cron text, for the evidence */
	int64_t due_s;             /* when it fired (seconds, UTC) */
} mon_trigger_in;

/*
 * Judges the triggers of in (invariants 2 and 3): drift when the report
 * says dataset_drift, decay when the main metric (live, else estimated)
 * misses the minimum, cadence when due; drift and decay pass only when
 * their latch (drift, decay: the stored rows, updated in place) lets
 * them. *out_fired receives CANVAS_ON_* bits of the triggers that fire,
 * *out_evidence (new, json_decref; an object keyed by trigger) what each
 * saw, also for conditions that held but were latched ("latched": true).
 * Returns 0 or SL_ENOMEM.
 */
int mon_triggers(const mon_trigger_in *in, int64_t now_ms, store_mon_state *drift,
		 store_mon_state *decay, unsigned *out_fired, json_t **out_evidence);

/*
 * Releases a latch whose run failed (invariant 2): the trigger may fire
 * again, for a window other than the one it fired on.
 */
void mon_trigger_retry(store_mon_state *st);

/* "drift+decay" for the bits set, in the fixed order; "" for none. */
const char *mon_trigger_names(unsigned bits, char *buf, size_t size);

#define MON_RUN_PARAMS_MAX 8

/*
 * The parameters a retraining run gets, as "NAME=VALUE" texts for those
 * the pipeline declares (declared: its params' names, n of them):
 *   model, version, trigger    the watched model, its production version,
 *                              the triggers ("drift+decay", "manual" ...)
 *   since, until               the window's bounds, when the report (may be
 *                              NULL) gives them
 *   train_data, valid_data,    the artifact ids of the datasets production
 *   test_data                  was trained, validated and tested on, from
 *                              its bundle's lineage (may be NULL; package.c
 *                              writes training.train, training.valid, test)
 * Returns how many were set, into out; the strings live in buf.
 */
size_t mon_run_params(const json_t *report, const json_t *lineage, const char *model,
		      const char *version, const char *trigger, const char *const *declared,
		      size_t n, const char *out[MON_RUN_PARAMS_MAX],
		      char buf[MON_RUN_PARAMS_MAX][160]);

/* ---- schedules ---------------------------------------------------------------------- */

/*
 * Whether e fired after last_s and at or before now_s (seconds, UTC), the
 * time of the first such firing in *out_at (may be NULL; invariant 4:
 * last_s 0, never looked, is not due). Firings missed while nobody looked
 * count as one.
 */
bool mon_cron_due(const cron_expr *e, int64_t last_s, int64_t now_s, int64_t *out_at);

#endif
