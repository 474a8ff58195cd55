/*
 * The project handle's insides, shared by the files of src/api/.
 */
#ifndef SLUICE_API_PROJECT_H
#define SLUICE_API_PROJECT_H

#include "sluice/sluice.h"
#include "pipeline/orch.h"
#include "store/store.h"
#include "canvas/cron.h"
#include "monitor/live.h"


/*
 * sluice.yaml, read (settings.c). Every error is "sluice.yaml:LINE:COL:
 * message": an unknown key (with a suggestion), a value of the wrong type,
 * an orchestrator that is not available (SL_EUNSUP).
 */
/* A pipeline sluice.yaml's schedules: block runs on a cron expression. */
typedef struct api_schedule {
	const char *name;     /* the key under schedules: */
	const char *cron_text;
	cron_expr cron;
	const char *pipeline; /* absolute path */
	const char *const *params; /* "NAME=VALUE" */
	size_t n_params;
} api_schedule;

typedef struct api_settings {
	char *store_url; /* sqlite:ABSOLUTE-PATH or the given URL; owned (sl__free) */
	const char *store_from; /* where store_url was named, for messages (static) */
	const orch_ops *orch; /* stack.orchestrator, from the registry (orch.h) */
	orch_slurm_cfg slurm; /* stack.slurm; its strings live in slurm_mem */
	bool has_slurm;
	void *slurm_mem;      /* owned: api_settings_free */
	/* monitoring: (the loop: watch.c) */
	unsigned mon_interval_s;   /* monitoring.interval, 0 when not given */
	const char *notify_command; /* monitoring.notify.command, or NULL */
	const char *notify_webhook; /* monitoring.notify.webhook, or NULL */
	api_schedule *schedules;    /* schedules: (owned, with their params) */
	size_t n_schedules;
	json_t *mon_json;           /* owned: the file's values the strings above point into */
	canvas_alert *alerts;       /* monitoring.alert, checked as the canvas's rules are
				     * (canvas_alerts_check); owned, strings in doc */
	size_t n_alerts;
	sl__ydoc *doc;              /* owned: the file's tree, kept while it has rules */
} api_settings;
/* Frees what api_settings_parse allocated (accepts a zeroed struct). */
void api_settings_free(api_settings *s);

struct sl_project {
	char *root;      /* the project folder */
	char *state;     /* root/.sluice */
	char *art_root;  /* state/artifacts */
	api_settings set;     /* sluice.yaml, read: stack settings */
	store *st;
	char errmsg[SL__ERRMSG_MAX];
};
/* Parses text (name is the file name in messages); root and state resolve paths. */
int api_settings_parse(const char *text, size_t len, const char *name, const char *root,
		       const char *state, api_settings *out);
/* Reads ROOT/sluice.yaml (defaults when there is none). */
int api_settings_load(const char *root, const char *state, api_settings *out);
/*
 * On failure (rc != 0) copies the thread's last error into p's message, so
 * sl_project_errmsg(p) keeps it; returns rc.
 */
int api_fail(sl_project *p, int rc);
/* JSON as the text a public call hands out (sl_free); takes j. */
int api_dump(json_t *j, char **out_json);
/*
 * An artifact named by an id (or a unique prefix), or by a registered
 * model's version, NAME@REF: its bundle (registry.c).
 */
int api_artifact_ref(sl_project *p, const char *ref, char out_id[SL__HASH_HEX_SIZE]);
/* The flag beside a cancellation token's descriptor (cancel.c). */
const int *api_cancel_flag(const sl_cancel *c);

/* Adds to an artifact's JSON what its contents say (a dataset's schema,
 * row count and first rows; a small text file's beginning). */
int api_describe_content(sl_project *p, const char *id, json_t *obj, int head_rows);
/* Converts a stored artifact file to format ("csv", "jsonl") at out_path. */
int api_export_content(const char *src, const char *format, const char *out_path);
/*
 * Adds to a lineage (store_lineage_json's) what the inference log says its
 * model versions served: "served" on each node with some, "serving_log" on
 * the root (served.c).
 */
int api_lineage_served(sl_project *p, json_t *lineage);

/*
 * The monitoring engine's environment for p (monitor.c): p's store and
 * artifact store, and its canvas.yaml, read when the project has one
 * (*out_cv, the caller's: canvas_free; NULL when there is none). A canvas
 * that does not check is an error naming the place. out->log_dir is left
 * NULL: the caller names the log (the project's is STATE/inference, as
 * sl_monitor_report and the server use). out's strings live as long as p.
 */
int api_monitor_env(sl_project *p, mon_env *out, canvas **out_cv);

#endif
