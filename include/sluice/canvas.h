/*
 * sluice: the ML canvas and project templates (public API; included by
 * sluice.h).
 *
 * canvas.yaml at a project's root holds the ten blocks of the ML canvas
 * (docs/canvas.md). sluice acts on five of them: the gates and evaluate read
 * the metric, its minimum and the costs; serving the latency SLO; the
 * monitor the retraining cadence, triggers, drift thresholds and alerts.
 * The functions below are what `sluice init --template`, `sluice canvas
 * check` and `sluice canvas report` do. Conventions as in sluice.h.
 */
#ifndef SLUICE_CANVAS_API_H
#define SLUICE_CANVAS_API_H

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_project sl_project;

/*
 * Creates a project in dir as sl_project_init does, starting from a
 * template built into the library: "blank" (what sl_project_init writes: a
 * commented canvas.yaml), "spam" (spam detection) or "forecast" (sales
 * forecasting), complete example projects with their data, pipelines and
 * canvas. A template other than blank refuses to write over any existing
 * file (SL_EEXIST, naming it) and writes nothing then; blank keeps existing
 * files. SL_EINVAL for an unknown template. *out_json (may be NULL; free
 * with sl_free): {"dir", "template", "files": [paths written]}.
 */
SL_EXPORT int sl_project_init_template(const char *dir, const char *tmpl, char **out_json);

/*
 * Checks the canvas at path and says what it drives. Returns 0 with
 * *out_json whether or not the canvas is valid:
 *
 *   { "file", "valid": bool,
 *     "errors":   [ {file, line, col, path, message} ],   every problem found
 *     "warnings": [ {file, line, col, path, message} ],   blocks left empty that the
 *                                                          project's pipelines need
 *     "drives":   [ {block, fields, set: bool, summary, drives: [consumer], effect} ],
 *     "descriptive": {"filled": [block], "empty": [block]},
 *     "pipelines": [file],                                 the pipelines found beside it
 *     "canvas":   {...}                                    the typed values with positions }
 *
 * The pipelines are the YAML files with a `steps:` mapping in the canvas's
 * folder and below (hidden folders skipped), and building_models.pipeline,
 * which must exist and parse (an error otherwise). SL_ENOENT when path does
 * not exist.
 */
SL_EXPORT int sl_canvas_check(const char *path, char **out_json);

/*
 * Weighs the latest evaluation against the project's canvas: for each
 * completed `evaluate` step of run (an id, a prefix, "latest"; NULL: the
 * newest run that has one), or only the step named step (may be NULL), its
 * report's cost per decision and saving over the baseline, the value of
 * correct decisions (canvas decisions.value), the net return and ROI, and
 * whether ML is worth it over the baseline:
 *
 *   { "canvas", "run", "pipeline",
 *     "evaluations": [ {step, report, algorithm, task, rows, metric, cost, value,
 *                       minimum, worth_it, basis, statement, notes} ],
 *     "best": STEP or null }       the evaluation that nets (else saves) the most
 *
 * SL_ENOENT when no evaluate step has completed (in run); the canvas's own
 * errors as sl_canvas_check finds them (SL_EINVAL, "FILE:LINE:COL: ...").
 */
SL_EXPORT int sl_canvas_report(sl_project *p, const char *run, const char *step, char **out_json);

#ifdef __cplusplus
}
#endif
#endif
