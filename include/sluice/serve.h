/*
 * sluice serving: an HTTP inference server for models and bundles, and the
 * inference log it writes. What `sluice serve` and `sluice logs` are built
 * on; docs/serving.md describes the endpoints, the log and the metrics.
 *
 *   sl_serve_opts o;
 *   sl_serve_opts_init(&o);
 *   o.models = (const char *[]){"spam=model.slb"};
 *   o.n_models = 1;
 *   sl_server *s;
 *   if (sl_server_start(project, &o, &s) != 0)       // loads, warms, binds
 *           fprintf(stderr, "%s\n", sl_errmsg());
 *   ... until SIGTERM ...
 *   sl_server_stop(s, 30000);                         // drains, flushes the log
 *   sl_server_free(s);
 *
 * Endpoints: the Open Inference Protocol (KServe V2) REST API, MLflow's
 * /invocations and /ping, feedback, reload, /metrics. Every request to a
 * POST endpoint is written to the inference log before its response is
 * sent (with the default durability), errors included.
 */
#ifndef SLUICE_SERVE_H
#define SLUICE_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_project sl_project;
typedef struct sl_server sl_server;

typedef struct sl_serve_opts {
	/*
	 * What to serve, each one of:
	 *   NAME=PATH     the model or bundle file at PATH under NAME; when the
	 *                 path comes to name another file (a new file renamed
	 *                 over it), that file is loaded and swapped in
	 *   PATH          the same, named by the bundle's "name" or the file name
	 *   NAME[@REF]    a registered model: REF is an alias (default
	 *                 "production") or a version number
	 */
	const char *const *models;
	size_t n_models;
	const char *host;          /* NULL: 127.0.0.1 */
	unsigned port;             /* 0: any free port (sl_server_port tells) */
	unsigned threads;          /* request threads (default: one per core it may run on) */
	size_t max_body;           /* bytes; larger bodies get 413 */
	unsigned max_connections;
	unsigned header_timeout_s; /* headers (and an idle keep-alive) within this */
	unsigned request_timeout_s;/* a body arriving, and a response taken, within this */
	const char *token_file;    /* a bearer token (role admin) beside the users' */
	const char *tls_cert;      /* PEM files; both or neither */
	const char *tls_key;
	/* The inference log. */
	const char *log_dir;       /* NULL: the project's .sluice/inference */
	const char *log_durability;/* "write" (default), "fsync", or "off" (not logged) */
	const char *log_policy;    /* "block" (default) or "drop" when the queue is full */
	uint64_t log_segment_bytes;
	unsigned log_segment_s;
	unsigned log_retention_s;  /* 0: keep every segment */
	size_t log_max_body;       /* bytes of a failed request's body kept in its record */
	unsigned reload_ms;        /* how often sources are checked for a new version */
	size_t feedback_window;    /* recent requests remembered per thread for feedback */
	/* Live monitoring's gauges in /metrics (docs/monitoring.md): each model's
	 * newest drift_window requests (0: canvas.yaml's live_monitoring.window,
	 * else 1000) evaluated every drift_interval_s seconds (0: never). */
	unsigned drift_interval_s;
	size_t drift_window;
	/* Server events (loads, reloads, failures), one line each, from any thread. */
	void (*on_event)(void *ud, const char *line);
	void *event_ud;
	/*
	 * Tokens (docs/security.md): every endpoint but health and inference
	 * asks for one (a user's, from `sluice users token`, or the token of
	 * token_file), unless no_auth, which only a loopback host may set;
	 * auth "inference" makes inference ask too.
	 */
	int no_auth;
	const char *auth;          /* NULL or "inference" */
	/*
	 * Non-zero: also serve the web UI of the project p given to
	 * sl_server_start, and the JSON API behind it (docs/ui.md), on the same
	 * port. models may then be empty (`sluice ui`).
	 */
	int ui;
} sl_serve_opts;

/* The defaults documented in docs/serving.md. */
SL_EXPORT void sl_serve_opts_init(sl_serve_opts *o);

/*
 * Loads and warms every model (one prediction each), opens the log, binds
 * and starts serving; returns once the server is ready, so a first request
 * never meets a cold model. p (may be NULL when o->log_dir is set and every
 * model is a file) is only used during the call. The message of a failure
 * is sl_errmsg(): a model that does not load (SL_ENOENT, SL_ECORRUPT ...),
 * a bad option (SL_EINVAL), a port in use (SL_ESYS).
 */
SL_EXPORT int sl_server_start(sl_project *p, const sl_serve_opts *o, sl_server **out);
/* The port the server listens on. */
SL_EXPORT unsigned sl_server_port(const sl_server *s);
/*
 * Drains: stops accepting connections and reports not ready, lets the
 * requests in flight finish (at most timeout_ms), closes the connections
 * and flushes the log. SL_EBUSY when requests were still running at the
 * deadline (they are cut off).
 */
SL_EXPORT int sl_server_stop(sl_server *s, unsigned timeout_ms);
/* Stops if needed and frees. Accepts NULL. */
SL_EXPORT void sl_server_free(sl_server *s);

/* ---- the inference log ---------------------------------------------------------- */

typedef struct sl_logs_filter {
	const char *log_dir;   /* NULL: the project's .sluice/inference */
	const char *model;     /* NULL: any */
	const char *version;
	const char *id;        /* a request id */
	const char *since;     /* ISO 8601 times, NULL: unbounded */
	const char *until;
	const char *status;    /* "200", "4xx", "error" (not 2xx), NULL: any */
	const char *endpoint;  /* "v2", "invocations", "feedback" */
	size_t limit;          /* 0: no limit (query: the newest `limit` records) */
} sl_logs_filter;

/*
 * The records matching f, oldest first, as a JSON array of the records
 * themselves (docs/serving.md has their fields). *out_json: sl_free.
 */
SL_EXPORT int sl_logs_query(sl_project *p, const sl_logs_filter *f, char **out_json);

/*
 * Writes the matching requests of one model (f->model is required) as a
 * table to out_path ("csv" or "jsonl"), one row per scored input row:
 * request_id, row, time, version, status, latency_us, the model's inputs,
 * its outputs, and label when feedback gave one. Written atomically.
 */
SL_EXPORT int sl_logs_export(sl_project *p, const sl_logs_filter *f, const char *format,
			     const char *out_path);

#ifdef __cplusplus
}
#endif
#endif
