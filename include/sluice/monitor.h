/*
 * sluice monitoring: a window of a served model's traffic, read from the
 * inference log, set against what the model saw in training - per-feature
 * drift, prediction drift, live metrics from feedback labels, label-free
 * estimates - and recorded so that it can be charted over time. What
 * `sluice monitor report` is built on; docs/monitoring.md describes the
 * report's fields.
 *
 *   sl_monitor_opts o;
 *   sl_monitor_opts_init(&o);
 *   o.model = "spam";
 *   char *json;
 *   if (sl_monitor_report(project, &o, &json) == 0) { ...; sl_free(json); }
 */
#ifndef SLUICE_MONITOR_PUBLIC_H
#define SLUICE_MONITOR_PUBLIC_H

#include <stddef.h>

#include "sluice/error.h"

typedef struct sl_project sl_project;

typedef struct sl_monitor_opts {
	const char *model;   /* required */
	const char *version; /* the version to look at; NULL: the newest request's */
	size_t window;       /* the newest N answered requests; 0: canvas.yaml's
			      * live_monitoring.window, else 1000 */
	const char *since;   /* or a time span (ISO 8601); either one selects it */
	const char *until;
	const char *bundle;  /* the reference bundle's file, instead of the registry's */
	const char *log_dir; /* NULL: the project's inference log */
	int record;          /* record the window in the store (default 1) */
	const char *html;    /* also write the report page here (atomically), or NULL */
	size_t history;      /* windows the page charts (default 100) */
} sl_monitor_opts;

SL_EXPORT void sl_monitor_opts_init(sl_monitor_opts *o);

/*
 * Evaluates one window and gives the report as JSON text (*out_json:
 * sl_free). SL_ENOENT when the log has no answered request of the model;
 * SL_EINVAL for bad options or a bundle without a monitoring reference.
 */
SL_EXPORT int sl_monitor_report(sl_project *p, const sl_monitor_opts *o, char **out_json);

/*
 * The newest `last` recorded windows of model (0: all), oldest first, as a
 * JSON array (*out_json: sl_free); docs/monitoring.md has the fields.
 */
SL_EXPORT int sl_monitor_history(sl_project *p, const char *model, size_t last,
				 char **out_json);

#endif
