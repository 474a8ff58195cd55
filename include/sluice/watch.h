/*
 * sluice: the monitoring loop (public API; included by sluice.h).
 *
 * The watcher evaluates each watched model's production traffic on a
 * schedule, sends alerts, and on the triggers the canvas names
 * (building_models.retrain_on: drift, decay, cadence) runs the retraining
 * pipeline; when the challenger passes its gates and auto_promote is set,
 * the production alias moves to it, and a server following the alias
 * reloads. Every decision is recorded as an event (docs/monitoring.md):
 *
 *   kind       when
 *   alert      an alert rule's condition started to hold (sent once)
 *   resolved   it stopped holding
 *   trigger    retraining triggers fired; detail: triggers, evidence
 *   coalesced  triggers fired while a retraining run was in flight: no new run
 *   retrain    a retraining run started (run: its id); detail: triggers, params
 *   promoted   the challenger passed and the alias moved to it
 *   candidate  it passed, auto_promote is off: a human promotes it
 *   refused    it failed its gates (or its verdict is not passed): production kept
 *   unchanged  the run was served from the cache (nothing new to learn
 *              from): it registered no new version; production kept
 *   failed     the run failed otherwise: production kept
 *   schedule   a pipeline of sluice.yaml's schedules ran
 *   error      the model could not be evaluated (recorded when the reason changes;
 *              the cadence still fires)
 *
 * Conventions as in sluice.h.
 */
#ifndef SLUICE_WATCH_H
#define SLUICE_WATCH_H

#include <stddef.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_project sl_project;
typedef struct sl_cancel sl_cancel;

typedef struct sl_watch_opts {
	/* Registered models to watch; none: every model that has the alias. */
	const char *const *models;
	size_t n_models;
	const char *alias;    /* the alias that is production (NULL: "production") */
	unsigned interval_s;  /* between evaluations; 0: sluice.yaml monitoring.interval, else 60 */
	int once;             /* evaluate once (finishing any run it starts), then return */
	const char *who;      /* who moves the alias, in its history (NULL: "sluice-monitor") */
	int jobs;             /* parallel steps of a retraining run (0: one per core) */
	const char *log_dir;  /* the inference log; NULL: the project's .sluice/inference */
	sl_cancel *cancel;    /* ends the loop, and a retraining run in flight; NULL: none */
	/* Each event as it is recorded: its JSON {at, kind, model, detail, run}. */
	void (*on_event)(void *ud, const char *json);
	void *event_ud;
} sl_watch_opts;

/* Zeroes o: the defaults above. */
SL_EXPORT void sl_watch_opts_init(sl_watch_opts *o);

/*
 * Runs the loop until o->cancel is requested (returns SL_ECANCEL) or, with
 * o->once, after one evaluation. Evaluation problems of one model (no
 * traffic, a model without the alias) are recorded as events and do not
 * stop the loop; a canvas or sluice.yaml that does not check does
 * (SL_EINVAL, "FILE:LINE:COL: ..."). May run on any thread of a threaded
 * process (a server's monitor), with a project handle of its own.
 */
SL_EXPORT int sl_monitor_watch(sl_project *p, const sl_watch_opts *o);

/*
 * Retrains model now, as a trigger would (kind "manual", with reason):
 * runs the retraining pipeline, judges and promotes as the loop does.
 * *out_json (may be NULL; sl_free): the decision's event. Returns 0 when
 * the decision was made (promoted, candidate, refused: see the event's
 * kind), SL_EBUSY when a retraining run of model is already in flight.
 */
SL_EXPORT int sl_monitor_retrain(sl_project *p, const char *model, const char *reason,
				 const sl_watch_opts *o, char **out_json);

typedef struct sl_events_filter {
	const char *model; /* NULL: any */
	const char *kind;  /* NULL: any */
	const char *run;   /* NULL: any */
	const char *since; /* an ISO 8601 time, or NULL */
	size_t limit;      /* 0: all; else the newest `limit` */
} sl_events_filter;

/*
 * The loop's events, oldest first: a JSON array of {seq, at, kind, model,
 * detail, run} (*out_json: sl_free).
 */
SL_EXPORT int sl_monitor_events(sl_project *p, const sl_events_filter *f, char **out_json);

#ifdef __cplusplus
}
#endif
#endif
