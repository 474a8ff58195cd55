/*
 * Live monitoring: a window of served traffic, read back from the
 * inference log, set against what the model saw in training. Prefix mon_.
 * This is the engine under `sluice monitor report`, the server's drift
 * gauges and `sluice monitor watch`; it never prints and never exits.
 *
 *   inference log --mon_window--> the window's table (raw inputs, outputs,
 *        |                        feedback labels), one model version
 *        |        bundle --> reference: the training data's profile, the
 *        |                   predictions' profile, the calibration
 *        v                   (reference.h; written by train.*, kept by package)
 *   mon_report --> JSON report (shape below; docs/monitoring.md)
 *        |           per-feature drift (drift.h's one rule), prediction
 *        |           drift, live metrics from feedback, label-free
 *        |           estimates (CBPE), latency and volume
 *        +--mon_record--> the store: one row per window and its raw numbers
 *        |                as time series (monitor_windows, monitor_values)
 *        +--mon_history--> those series back, for charts and alert rules
 *        `--mon_html--> a self-contained page with SVG charts over time
 *
 * The report (fields are added, never renamed):
 *
 *   { "model": "spam", "version": 3, "bundle": "ARTIFACT-ID|PATH",
 *     "window": { "requests": 1000, "rows": 1000, "from": ISO, "to": ISO,
 *                 "errors": 2, "latency_p50_us": .., "latency_p99_us": .. },
 *     "reference": { "rows": 3220, "source": "train" },
 *     "dataset_drift": false, "drift_share": 0.1, "drift_share_threshold": 0.5,
 *     "features": [ { "name", "test", "statistic", "p_value", "threshold",
 *                     "drift", "psi", "psi_band", "n_cur", "reason"? } ],
 *     "prediction_drift": { the same fields, over the model's output },
 *     "live": { "labelled": 120, "accuracy", "auc", "f1" | "mae", "rmse", "mase" },
 *     "estimated": { "method": "cbpe", "calibration": "isotonic",
 *                    "accuracy": { "value", "lower", "upper" }, "f1": {..},
 *                    "auc": {..},
 *                    "reconciled": { "labelled", "estimated_accuracy",
 *                                    "realised_accuracy", "error" } } }
 *
 * Numbers that cannot be computed are null (a p-value of a distance test,
 * AUC with one class); "live" and "estimated" are {} when they do not
 * apply (no labels yet; a regressor has no confidence to estimate from).
 *
 * Invariants:
 *  1. One window is one model version: drift against another version's
 *     reference would be noise. The version is the window's newest
 *     request's unless the caller names one.
 *  2. Thresholds and tests are drift.h's rule with the canvas's
 *     live_monitoring.drift overrides; there is no second rule here.
 *  3. A report is a pure function of (log contents, bundle, canvas,
 *     window): evaluating the same window twice gives the same JSON except
 *     "at" (the bootstrap of the confidence band has a fixed seed).
 */
#ifndef SLUICE_MONITOR_LIVE_H
#define SLUICE_MONITOR_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "canvas/canvas.h"
#include "store/store.h"

/*
 * Where the engine reads and writes. Everything is borrowed.
 *   st        the metadata store: resolves a version to its bundle and
 *             receives mon_record's rows; may be NULL when every window
 *             names its bundle_path and nothing is recorded (the server)
 *   log_dir   the inference log directory (.sluice/inference)
 *   art_root  the artifact store (bundles by id); NULL with st NULL
 *   cv        the project's canvas (live_monitoring.window, .drift,
 *             .drift_share, .metrics), or NULL for the defaults
 */
typedef struct mon_env {
	store *st;
	const char *log_dir;
	const char *art_root;
	const canvas *cv;
	/* Keep each count window's report for mon_report_recent (the
	 * monitoring loop, in a server whose drift gauges can take it). */
	bool publish;
} mon_env;

/*
 * Which traffic. By count (the default) or by time span:
 *   requests       the newest N answered requests (0: the canvas's
 *                  live_monitoring.window, else 1000)
 *   since_ms,      a time span in ms since the epoch instead (either
 *   until_ms       non-zero selects it; 0 is unbounded on that side)
 *   version        the model version: a registered version's number ("3",
 *                  found in the log by that label or, for a server that
 *                  serves the bundle's file, by the file's digest), or the
 *                  label the server logged; NULL: the newest request's
 *   bundle_path    the reference bundle when there is no registry to ask
 *                  (the server); NULL: the registry's bundle of version
 */
typedef struct mon_window {
	size_t requests;
	int64_t since_ms, until_ms;
	const char *version;
	const char *bundle_path;
} mon_window;

/*
 * Evaluates one window of model's traffic. *out (a new reference) is the
 * report above. SL_ENOENT when the log holds no answered request of the
 * model (or of that version, or in that span); SL_EINVAL when the bundle
 * carries no reference (a model trained before monitoring existed: the
 * message says to retrain and package it).
 */
int mon_report(const mon_env *env, const char *model, const mon_window *w, json_t **out);

/*
 * The report a publishing mon_report of this process gave for the same
 * window at most max_age_ms ago (a new reference), or SL_ENOENT: the
 * newest w->requests of version w->version (required) of model, from the
 * same log directory, against the same bundle file (w->bundle_path,
 * required), with the same drift settings. The same window because the
 * publisher's window was of that version alone (its served_as): a count
 * window's records are those of one version (the newest one's). So one
 * evaluation serves the loop and the server's gauges; its time is the
 * report's "at".
 */
int mon_report_recent(const mon_env *env, const char *model, const mon_window *w,
		      int64_t max_age_ms, json_t **out);

/*
 * Records a report in env->st: the window (model, version, span, request
 * count, dataset drift, the report itself) and its raw numbers as series
 * named
 *   drift.FEATURE.statistic   drift.FEATURE.p_value   drift.FEATURE.psi
 *   prediction.statistic      prediction.p_value      prediction.psi
 *   drift_share               requests   errors   latency_p99_us
 *   live.METRIC               estimated.METRIC  (+ .lower / .upper)
 * *out_seq (may be NULL) receives the window's number (1, 2, ... per model).
 */
int mon_record(const mon_env *env, const json_t *report, int64_t *out_seq);

/*
 * The newest `last` recorded windows of model (0: all), oldest first, as a
 * JSON array of {"seq", "at", "version", "requests", "dataset_drift",
 * "values": {SERIES: number|null}}. An empty array when none.
 */
int mon_history(const mon_env *env, const char *model, size_t last, json_t **out);

/*
 * One series of model over its recorded windows, oldest first: a JSON
 * array of {"seq", "at", "value"}. For alert rules that look back.
 */
int mon_series(const mon_env *env, const char *model, const char *name, size_t last,
	       json_t **out);

/*
 * The report page: the current report and the history's charts over time
 * (drift per feature, live and estimated metric, latency, request volume)
 * as one self-contained HTML document (*out, sl__free). history may be
 * NULL or empty.
 */
int mon_html(const json_t *report, const json_t *history, char **out);

/* The drift options in force: drift.h's defaults with the canvas's overrides. */
void mon_drift_opts(const mon_env *env, drift_opts *out, double *out_share);

#endif
