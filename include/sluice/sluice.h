/*
 * sluice: the public C API.
 *
 * One handle, sl_project, stands for a project folder (sluice.yaml,
 * canvas.yaml, pipeline files, and the state in .sluice/). Everything the
 * `sluice` command does goes through the functions below; the command has no
 * private door into the library, which keeps this API honest (curl's habit).
 *
 * Conventions:
 *  - Functions return 0 or a negative SL_E* code (error.h). The detailed
 *    message is sl_project_errmsg(p) for calls on a project, sl_errmsg()
 *    otherwise.
 *  - Results that are documents (listings, run reports) come back as JSON
 *    text in *out_json, allocated by the library and freed with sl_free().
 *    Their fields are a stable interface: fields are added, never renamed.
 *  - Output parameters are out_* and last. Nothing here prints or exits.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/access.h"
#include "sluice/canvas.h"
#include "sluice/error.h"
#include "sluice/model.h"
#include "sluice/monitor.h"
#include "sluice/serve.h"
#include "sluice/watch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" */
SL_EXPORT const char *sl_version(void);

/* ---- projects --------------------------------------------------------------- */

typedef struct sl_project sl_project;

/*
 * Creates a project in dir (made if missing): .sluice/ with an empty
 * metadata store, and sluice.yaml and canvas.yaml unless they exist.
 * SL_EEXIST if dir already holds a project.
 */
SL_EXPORT int sl_project_init(const char *dir);

/*
 * Opens the project containing start_dir (NULL: the working directory),
 * found by walking up to the first folder with a .sluice/ directory, as git
 * finds .git. The environment variable SLUICE_HOME, when set, names the
 * project folder directly. SL_ENOENT when there is none.
 */
SL_EXPORT int sl_project_open(const char *start_dir, sl_project **out);
SL_EXPORT void sl_project_close(sl_project *p); /* accepts NULL */
/* The message of the last failure on p ("" when none). */
SL_EXPORT const char *sl_project_errmsg(const sl_project *p);
/* The project folder's absolute path. */
SL_EXPORT const char *sl_project_root(const sl_project *p);

/* ---- running pipelines ------------------------------------------------------ */

typedef enum sl_event_kind {
	SL_EVENT_RUN_START,  /* run_id, n_total */
	SL_EVENT_STEP_START, /* step */
	SL_EVENT_STEP_END,   /* step, status, seconds, message (on failure, or a
			      * completed step's note such as bad rows left out) */
	SL_EVENT_RUN_END     /* status, seconds */
} sl_event_kind;

typedef struct sl_event {
	sl_event_kind kind;
	const char *run_id;
	const char *pipeline;
	const char *step;    /* STEP_* events */
	const char *status;  /* completed, cached, failed, skipped, cancelled */
	const char *message; /* why a step failed or was skipped, what a completed
			      * step wants shown ("3 of 2001 rows bad, skipped"), or NULL */
	double seconds;      /* duration of the step or run */
	int n_done;          /* steps finished so far, any status */
	int n_running;
	int n_total;
	/*
	 * STEP_END of a step that did not complete: gate, input, error, crash,
	 * timeout, cancelled, upstream (skipped); NULL otherwise.
	 */
	const char *reason;
} sl_event;

typedef void (*sl_event_fn)(void *ud, const sl_event *ev);

/*
 * A cancellation token: a way to stop a run from a signal handler or
 * another thread. The run waits on the token's file descriptor together
 * with its steps, so a request wakes it at once, whatever the host does
 * with signals (no reliance on a signal interrupting a system call).
 */
typedef struct sl_cancel sl_cancel;

SL_EXPORT int sl_cancel_create(sl_cancel **out);
SL_EXPORT void sl_cancel_destroy(sl_cancel *c); /* accepts NULL; no run may use it */
/*
 * Requests cancellation of every run using c: running steps are stopped
 * (TERM, then KILL), the run is recorded as cancelled and sl_run returns
 * SL_ECANCEL. Async-signal-safe and thread-safe (one write to an eventfd);
 * repeating it is harmless. Accepts NULL.
 */
SL_EXPORT void sl_cancel_request(sl_cancel *c);
/* Non-zero once requested (until sl_cancel_reset). */
SL_EXPORT int sl_cancel_requested(const sl_cancel *c);
/* Makes c usable for another run. Not while a run is using it. */
SL_EXPORT void sl_cancel_reset(sl_cancel *c);
/* The descriptor that becomes readable on a request, for the caller's own poll loop. */
SL_EXPORT int sl_cancel_fd(const sl_cancel *c);

typedef struct sl_run_opts {
	int jobs;                  /* parallel steps; 0 = number of cores */
	const char *const *params; /* "NAME=VALUE" overrides */
	size_t n_params;
	int no_cache;              /* non-zero: run every step */
	sl_event_fn on_event;      /* progress callback, or NULL */
	void *event_ud;
	/*
	 * Superseded by cancel_token, kept for existing callers: when non-NULL
	 * and it becomes non-zero, the run stops its steps and is recorded as
	 * cancelled. The run looks at it at least every tenth of a second.
	 */
	volatile sig_atomic_t *cancel;
	/* Cancels the run when requested (sl_cancel_request); NULL for none. */
	sl_cancel *cancel_token;
} sl_run_opts;

/*
 * Runs a pipeline file. *out_run_id (may be NULL; free with sl_free) gets the
 * run's id as soon as it exists, also on failure. Returns 0 when every step
 * completed or came from the cache. When steps failed: SL_EGATE if each
 * failed a gate (a check such as `test` rules), SL_EINPUT if each failed on
 * bad input (a missing or malformed file), SL_ESTEP otherwise; the message
 * names the first such step and why. SL_ECANCEL when cancelled; SL_ESPEC
 * (message "FILE:LINE:COL: ...") when the file is invalid, in which case
 * nothing ran.
 *
 * The run may be called from any thread of a threaded process. Its steps
 * run in new processes (never a fork of the caller), each in its own process
 * group, and die with the calling thread should it end or the process be
 * killed. It waits for its own child processes only; the process must not
 * ignore SIGCHLD (children would vanish before their status is read).
 * Built-in steps run in the sluice executable (see docs/architecture.md for
 * how it is found; SLUICE_EXE overrides).
 */
SL_EXPORT int sl_run(sl_project *p, const char *pipeline_file, const sl_run_opts *opts,
		     char **out_run_id);

/*
 * The steps of a pipeline file and how they depend on each other, without
 * running anything: {"name", "file", "steps": [{"name", "kind" (uses, run,
 * plugin), "uses" (a built-in's name), "needs": [steps it consumes from],
 * "feeds": [steps consuming from it], "outputs": [names]}]} in file order.
 * The file's errors as sl_run reports them (SL_ESPEC, "FILE:LINE:COL: ...").
 */
SL_EXPORT int sl_pipeline_graph(const char *file, char **out_json);

/* Runs newest first: a JSON array (see docs/cli.md for the fields). */
SL_EXPORT int sl_runs_list(sl_project *p, int limit, char **out_json);
/* One run with its steps; run is an id, a unique prefix, "latest" or "latest~N". */
SL_EXPORT int sl_run_show(sl_project *p, const char *run, char **out_json);
/* The runs of one pipeline, newest first (as sl_runs_list; limit 0: all). */
SL_EXPORT int sl_runs_of(sl_project *p, const char *pipeline, int limit, char **out_json);

/* sl_runs_compare: list every row, not only those that differ between the runs. */
#define SL_COMPARE_ALL 1u
/*
 * Runs side by side (docs/experiments.md): the runs' parameters, each
 * step's options and metrics as rows {step, name, values: [one per run],
 * differs}, metrics also with their direction and "best" (the indices of
 * the best value: higher AUC, lower RMSE or cost; none when the metric's
 * direction is not known). Only rows that differ unless SL_COMPARE_ALL.
 * runs are ids, unique prefixes, "latest" or "latest~N" (1 to 64 of them).
 */
SL_EXPORT int sl_runs_compare(sl_project *p, const char *const *runs, size_t n, unsigned flags,
			      char **out_json);
/*
 * sl_runs_compare's JSON as one self-contained HTML page with a chart per
 * metric, written (atomically) to out_path.
 */
SL_EXPORT int sl_runs_compare_html(const char *compare_json, const char *out_path);
/*
 * The runs of pipeline that recorded metric (METRIC, or STEP.METRIC when
 * several steps record it), best first by the metric's direction, at most
 * limit (0: all): [ {rank, run, status, started, step, metric, value,
 * direction} ]. SL_EINVAL when the metric's direction is not known.
 */
SL_EXPORT int sl_runs_ranked(sl_project *p, const char *pipeline, const char *metric, int limit,
			     char **out_json);

/*
 * One step of a run, as sl_run_steps hands it over: the fields of a step in
 * sl_run_show's JSON (docs/cli.md), borrowed for the duration of the call.
 * Fields are only ever added at the end.
 */
typedef struct sl_step_view {
	const char *name;
	const char *step_run;
	const char *kind;            /* "uses:split", "run", "plugin:..." */
	const char *status;          /* completed, cached, failed, skipped, cancelled, running */
	const char *reason;          /* why it did not complete, or NULL */
	const char *error;           /* the failure's message, or NULL */
	int cache_hit;
	const char *cached_from;     /* the step run that computed a cached step, or NULL */
	const char *cached_from_run; /* and its run, or NULL */
	int exit_code;               /* -1 when none */
	int64_t started_ms;          /* ms since the epoch; 0 when not set */
	int64_t ended_ms;
	const char *cache_key;       /* or NULL */
	const char *log;             /* relative to .sluice/, or NULL */
	const char *job_id;          /* an orchestrator's job id, or NULL */
	const char *resources;       /* JSON object text, or NULL */
	size_t n_inputs;
	const char *const *input_names;
	const char *const *input_ids;
	size_t n_outputs;
	const char *const *output_names;
	const char *const *output_ids;
	size_t n_metrics;            /* a cached step: the computing step run's */
	const char *const *metric_names;
	const double *metric_values; /* NaN where the value was not finite */
	size_t n_series;             /* metrics with a history */
	const char *const *series_names;
	const double *const *series_values;
	const size_t *series_lengths;
	const char *parent;          /* the step a child step run belongs to (a tune
				      * step's trial, named STEP[K]), or NULL */
	const char *params;          /* the step's resolved options (JSON object text), or NULL */
} sl_step_view;

typedef int (*sl_step_view_fn)(void *ud, const sl_step_view *step);

/*
 * The steps of a run in their order, one call of fn each, without building
 * the whole run as JSON: what a listing of a run with many steps uses. fn
 * must not call into p; a non-zero return stops the walk and is returned.
 * *out_run_json (may be NULL; sl_free) receives the run object of
 * sl_run_show with an empty "steps" array, before the first call of fn, so
 * fn can print it first.
 */
SL_EXPORT int sl_run_steps(sl_project *p, const char *run, sl_step_view_fn fn, void *ud,
			   char **out_run_json);
/*
 * Absolute path of the log of one step of a run. A cached step did not run:
 * its log is the one of the run that computed its outputs.
 */
SL_EXPORT int sl_run_log_path(sl_project *p, const char *run, const char *step, char **out_path);
/*
 * The same, and when the step was served from the cache, *out_run (may be
 * NULL; free with sl_free) names the run whose log this is, the one that
 * computed the outputs; otherwise *out_run is NULL.
 */
SL_EXPORT int sl_run_log_find(sl_project *p, const char *run, const char *step, char **out_path,
			      char **out_run);

/*
 * Runs one step's task file (the hidden `sluice step-exec TASK.json`): what
 * every orchestrator runs where the step runs. Its output goes to the
 * task's log. For a command step the process becomes /bin/sh (on success
 * this does not return); otherwise returns the exit status for the process
 * to exit with: 0 when the step completed, 1 when it failed (its reason
 * left in the task's folder), 2 when the task file cannot be read.
 */
SL_EXPORT int sl_task_exec(const char *task_path);

/* ---- artifacts -------------------------------------------------------------- */

/* Artifacts newest first; type filters when non-NULL. */
SL_EXPORT int sl_artifacts_list(sl_project *p, int limit, const char *type, char **out_json);
/* One artifact (id or a prefix of at least 4 hex digits, or NAME@REF for a
 * registered model's bundle), with producer and consumers; for datasets also
 * schema, row count and head_rows first rows. The calls below take the same. */
SL_EXPORT int sl_artifact_show(sl_project *p, const char *id, int head_rows, char **out_json);
/* Ancestors and descendants of an artifact, as trees. */
SL_EXPORT int sl_artifact_lineage(sl_project *p, const char *id, char **out_json);
/*
 * Writes an artifact to out_path (atomically), after verifying its hash.
 * format: NULL for the bytes as stored, "csv" / "jsonl" for datasets, or
 * "html" for an evaluation report (a self-contained page).
 */
SL_EXPORT int sl_artifact_export(sl_project *p, const char *id, const char *format,
				 const char *out_path);
/* Verified absolute path of the stored artifact file (read-only). */
SL_EXPORT int sl_artifact_path(sl_project *p, const char *id, char **out_path);

/* ---- the model registry ----------------------------------------------------- */

/*
 * Registered models (docs/registry.md). A reference is NAME@VERSION,
 * NAME@ALIAS or NAME@latest; where a whole model is meant, NAME alone.
 * An unknown model, version or alias is SL_ENOENT with a message naming
 * what exists instead. Moves of an alias are recorded with the account
 * running the process as "who".
 */

/* Every registered model: a JSON array of {name, versions, latest, aliases, ...}. */
SL_EXPORT int sl_models_list(sl_project *p, char **out_json);
/*
 * One model: {name, aliases, versions, history, ...} (the shape in
 * docs/cli.md). With NAME@REF, "version" names the version REF resolved to,
 * and versions and history hold only that version and its moves.
 */
SL_EXPORT int sl_model_show(sl_project *p, const char *ref, char **out_json);
/* The same with only the newest versions (newest 0: all); "versions_total" counts all. */
SL_EXPORT int sl_model_show_newest(sl_project *p, const char *ref, size_t newest,
				   char **out_json);
/* Versions with tag key (set to value, or to anything when value is NULL). */
SL_EXPORT int sl_models_search(sl_project *p, const char *key, const char *value,
			       char **out_json);

/* Why an alias moves. */
typedef struct sl_move_opts {
	const char *reason; /* recorded in the alias's history; NULL: none */
	int force;          /* promote a version whose verdict is not passed (needs reason) */
	const char *who;    /* recorded as who moved it; NULL: the account running this
			     * process (a server passes its authenticated user) */
} sl_move_opts;

/*
 * Points alias at the version that version (a number, an alias or "latest")
 * names, and records the move. SL_EGATE when the version's verdict is not
 * passed and o->force is not set. *out_json (may be NULL) is the history
 * record, or {"moved": false, ...} when the alias already pointed there.
 */
SL_EXPORT int sl_model_promote(sl_project *p, const char *name, const char *version,
			       const char *alias, const sl_move_opts *o, char **out_json);
/*
 * Undoes the latest move of alias that has not been undone (repeated
 * rollbacks walk back through the history); recorded as a move.
 */
SL_EXPORT int sl_model_rollback(sl_project *p, const char *name, const char *alias,
				const sl_move_opts *o, char **out_json);
/* The alias moves of a model, oldest first; alias NULL for all its aliases. */
SL_EXPORT int sl_model_history(sl_project *p, const char *name, const char *alias,
			       char **out_json);
/* Sets tag key of the version ref names to value; NULL removes the tag. */
SL_EXPORT int sl_model_tag(sl_project *p, const char *ref, const char *key, const char *value);
/* Deletes the version ref names; SL_EINVAL while an alias points at it. */
SL_EXPORT int sl_model_delete(sl_project *p, const char *ref);
/*
 * The verified absolute path of the bundle file of the version ref names
 * (sl_free), and its version number in *out_version (may be NULL): what
 * `sluice predict NAME@REF` and `sluice models export NAME@REF` load.
 */
SL_EXPORT int sl_model_path(sl_project *p, const char *ref, char **out_path,
			    long long *out_version);
/*
 * The version number ref (NAME@VERSION, NAME@ALIAS or NAME@latest) names
 * now, read from the registry alone (the bundle file is not opened): what a
 * server asks after sl_model_changes moved, to tell an alias move from a
 * change that leaves its version where it was (a tag, another alias).
 */
SL_EXPORT int sl_model_resolve(sl_project *p, const char *ref, long long *out_version);
/*
 * What the version ref (NAME@VERSION, NAME@ALIAS, NAME@latest) served,
 * from the project's inference log: {model, version, requests, status:
 * {"2xx": n, "4xx": n ...}, first, last, logs (the command listing them),
 * log: {complete, since, segments, bytes}}. A log too big to read whole
 * is read from its newest segments back (about 128 MiB of text) and "since"
 * says from when the counts are. Newly allocated; free with sl_free.
 */
SL_EXPORT int sl_model_served(sl_project *p, const char *ref, char **out_json);
/*
 * A number that grows with every change to model name (a new version, an
 * alias moved, a tag, a delete): a server that saw the same number has
 * nothing to reload. One indexed lookup, cheap to poll.
 */
SL_EXPORT int sl_model_changes(sl_project *p, const char *name, long long *out);

/* ---- pages of listings (what the web UI's lists ask for) ------------------------ */

/*
 * One page of a listing, filtered and cut in the metadata store's query, so
 * a page costs the same at 100 rows as at 100,000. Fields left NULL or 0
 * do not filter; search is a plain substring (no wildcards).
 */
typedef struct sl_page_opts {
	size_t offset;        /* rows to skip, newest first */
	size_t limit;         /* rows on the page, 1 to 1000; 0: 50 */
	const char *pipeline; /* runs: of this pipeline */
	const char *status;   /* runs: in this status (running, completed, failed ...) */
	const char *type;     /* artifacts: of this type (dataset, model, report ...) */
	const char *search;   /* runs: in the id or pipeline; artifacts: in the id or
			       * the producing step's name */
} sl_page_opts;

/*
 * {"total": N, "offset": O, "limit": L, "items": [...]}: total counts every
 * row that matches; items are in the shape of sl_runs_list's elements.
 */
SL_EXPORT int sl_runs_page(sl_project *p, const sl_page_opts *o, char **out_json);
/* The same for artifacts; items as sl_artifacts_list's elements. */
SL_EXPORT int sl_artifacts_page(sl_project *p, const sl_page_opts *o, char **out_json);
/*
 * sl_model_show of model name with only one page of versions: those ranked
 * o->offset .. offset+limit-1 from the newest (listed oldest first, as
 * sl_model_show lists them), the whole alias history, and "versions_total",
 * "offset" and "limit". Only o->offset and o->limit are used.
 */
SL_EXPORT int sl_model_show_page(sl_project *p, const char *name, const sl_page_opts *o,
				 char **out_json);
/*
 * One page of the registered models by name (o->search: in the name; only
 * offset, limit and search are used); items as sl_models_list's elements.
 */
SL_EXPORT int sl_models_page(sl_project *p, const sl_page_opts *o, char **out_json);

/*
 * The monitored models (with recorded windows or loop events), by name,
 * o->search in the name: items {model, windows, last_at, version,
 * dataset_drift, alerts, unacknowledged}.
 */
SL_EXPORT int sl_monitor_models_page(sl_project *p, const sl_page_opts *o, char **out_json);
/*
 * One page of model's recorded windows (`sluice monitor report`), newest
 * first by page, oldest first within it (what a chart draws):
 * {"model", "total", "offset", "limit", "items": [sl_monitor_history's
 * windows], "report": the newest window's report on the page, or null}.
 */
SL_EXPORT int sl_monitor_page(sl_project *p, const char *model, const sl_page_opts *o,
			      char **out_json);
/*
 * One page of the loop's events matching f (f->limit unused; f may be
 * NULL), newest first; items as sl_monitor_events's, each with "ack":
 * {by, at, note} once acknowledged, else null.
 */
SL_EXPORT int sl_monitor_events_page(sl_project *p, const sl_events_filter *f,
				     const sl_page_opts *o, char **out_json);
/*
 * Acknowledges the alert event number seq (`sluice monitor events`' seq)
 * on behalf of who (NULL: the OS user), with an optional note: recorded
 * once, with the time. SL_ENOENT: no such event; SL_EINVAL: not an alert;
 * SL_EEXIST: acknowledged already (the message says by whom). *out_json
 * (may be NULL; sl_free): the event with its "ack".
 */
SL_EXPORT int sl_monitor_ack(sl_project *p, long long seq, const char *who, const char *note,
			     char **out_json);

/* ---- removing what nothing references ------------------------------------------ */

typedef struct sl_gc_opts {
	int keep_runs;        /* the newest runs of each pipeline keep their artifacts; <= 0: 5 */
	double grace_seconds; /* files and artifacts younger than this stay; < 0: an hour */
	int dry_run;          /* non-zero: list what would go, remove nothing */
} sl_gc_opts;

/*
 * Removes artifact files that nothing references (docs/cli.md says what
 * does: registered bundles and their ancestors, the newest runs of each
 * pipeline, running runs, young artifacts), safely while runs work: each
 * removal is decided again under the metadata store's write lock. Rows and
 * lineage stay; only files go. *out_json: {dry_run, removed: [{id, type,
 * size}], would_remove, kept_but_unreferenced: [{id, type, size, why}], kept,
 * freed_bytes, keep_runs, grace_seconds}.
 */
SL_EXPORT int sl_artifacts_gc(sl_project *p, const sl_gc_opts *o, char **out_json);

/* ---- built-in steps --------------------------------------------------------- */

/*
 * Copies the project's metadata store -- its whole history: pipelines,
 * runs, step runs, artifacts, lineage, metrics, tags -- into the store at
 * to_url (a postgresql:// URL, or sqlite:PATH), making its schema there
 * first. The copy is one transaction on the target: on any failure the
 * target is left as it was. Rows the target already holds are kept as they
 * are, so a second copy changes nothing, and the target may hold other
 * projects' history. Every table's row count is verified before the
 * commit. Refuses while a run of the project is going on (runs whose driver
 * died are first recorded as failed, as `sluice run` does). The project
 * keeps using its own store until sluice.yaml (or SLUICE_STORE) names the
 * new one. *out_json (sl_free): {"from": URL, "to": URL (passwords hidden),
 * "tables": [{"table", "source", "copied", "present"}], "verified": true}.
 */
SL_EXPORT int sl_store_migrate(sl_project *p, const char *to_url, char **out_json);

/* Every built-in step with its options, inputs and outputs: a JSON array. */
SL_EXPORT int sl_steps_list(char **out_json);

/* ---- messages --------------------------------------------------------------- */

/*
 * The candidate closest to word when it is close enough to be a typo, else
 * NULL (borrowed from cands; NULL entries are skipped). The same rule as
 * every "did you mean" of the library, for the command's own messages.
 */
SL_EXPORT const char *sl_suggest(const char *word, const char *const *cands, size_t n);

#ifdef __cplusplus
}
#endif
#endif
