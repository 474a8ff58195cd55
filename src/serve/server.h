/*
 * The inference server's insides, shared by its files: server.c (HTTP,
 * routing, the handlers), model.c (model sources, loading, hot reload and
 * the lifetime of versions), metrics.c (counters and /metrics) and
 * feedback.c (recent requests, feedback, the live metric). Prefix serve_.
 *
 *   --model spec --serve_source_open--> serve_source (a file, or a registry ref)
 *                                            | poll every reload period
 *                                            v
 *   serve_model (one per --model) --cur--> serve_version (bundle, serve_sig,
 *        ^                                   metadata, stats, workspaces)
 *        | name lookup                             ^ hazard pointer while used
 *   request (a worker thread) --------------------'
 *
 * Invariants:
 *  1. A version is immutable once published; a request uses at most one,
 *     announced in its worker's hazard slot before use, so a version
 *     swapped out is freed only when no hazard names it: in-flight
 *     requests finish on the version they started with, and the first
 *     request after a swap sees the new one.
 *  2. Each request thread has its own serve_worker (arena, buffers, stats
 *     slots, recent-request index): the hot path shares no writable memory
 *     between threads except the log's lock and the model pointers.
 *  3. Counters are written only by their worker (relaxed atomics) and
 *     summed by /metrics; a version's stats outlive it, so counters never
 *     go back.
 */
#ifndef SLUICE_SERVE_SERVER_H
#define SLUICE_SERVE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "access/access.h"
#include "serve/codec.h"
#include "serve/log.h"
#include "serve/ui.h"
#include "sluice/serve.h"
#include "sluice/sluice.h"

#define SERVE_MAX_WORKERS 64
#define SERVE_CODES 14
#define SERVE_LAT_BUCKETS 15
#define SERVE_PRED_BUCKETS 11
#define SERVE_LIVE_WINDOW 1000
#define SERVE_ID_LEN 48 /* room for a request id and its NUL */
#define SERVE_CONN_MEMORY 8192 /* per connection: request line and headers (431 past it; docs/serving.md) */

/* ---- model sources ------------------------------------------------------------------ */

/*
 * Where a served model's versions come from. The server polls each source
 * every reload period; when it names a new version, the server loads that
 * bundle beside the one serving, warms it and swaps it in (model.c). The
 * file source follows a path; a registry source follows an alias of a
 * registered model.
 */
typedef struct serve_ref {
	char version[64]; /* the label clients see ("3"); "" lets the server use
			   * the loaded file's digest (its first 12 hex digits) */
	char *path;       /* the bundle to load (newly allocated; the server frees it) */
} serve_ref;

typedef struct serve_source serve_source;

typedef struct serve_source_ops {
	const char *kind; /* "file", "registry" */
	/*
	 * What the source names now. When nothing changed since the last
	 * successful poll (and force is false) sets *changed = false and leaves
	 * out alone; it is called every reload period, so it must be cheap
	 * then (a stat, an indexed query). Returns 0 or an error whose message
	 * says why; the server reports it and keeps serving what it has.
	 * Called from one thread at a time.
	 */
	int (*poll)(serve_source *s, bool force, bool *changed, serve_ref *out);
	void (*free)(serve_source *s);
} serve_source_ops;

struct serve_source {
	const serve_source_ops *ops;
	char *name; /* the model's name in URLs; set by the opener */
	/* What it follows, telling apart models served under one name in
	 * /metrics: the registry reference's REF, or the file's path. Borrowed
	 * from the source. */
	const char *ref;
};

/*
 * The source a --model argument names: "NAME=PATH" or "PATH" (a file that
 * exists) make a file source; "NAME[@REF]" a registry source following REF
 * (an alias, production by default, a version number or latest) of the
 * model NAME in p's registry. The source opens a project handle of its own
 * (p is only used during the call). The name of a bare PATH is the bundle's
 * manifest "name", else the file name without its extension.
 */
int serve_source_open(sl_project *p, const char *spec, serve_source **out);
void serve_source_free(serve_source *s); /* accepts NULL */

/* ---- stats -------------------------------------------------------------------------- */

/* One worker's counters for one version (a cache line apart from the next worker's). */
typedef struct serve_wstats {
	uint64_t req[SERVE_CODES];
	uint64_t lat[SERVE_LAT_BUCKETS];
	uint64_t lat_sum_us;
	uint64_t pred[SERVE_PRED_BUCKETS];
	double pred_sum;
	uint64_t pred_n;
} __attribute__((aligned(64))) serve_wstats;

typedef struct serve_vstats {
	struct serve_vstats *next;
	void *mem;              /* the allocation the aligned struct lives in */
	char *model, *version;  /* NULL for requests that named no served model */
	bool proba;             /* the first output is a probability */
	size_t n_classes;
	char **classes;         /* borrowed from the version while it lives, then copied */
	uint64_t *class_counts; /* SERVE_MAX_WORKERS x n_classes */
	serve_wstats w[SERVE_MAX_WORKERS];
} serve_vstats;

/* ---- versions and models ------------------------------------------------------------ */

typedef struct serve_model serve_model;

typedef struct serve_version {
	serve_model *model;
	char *label;
	char *path;
	bundle *b;
	serve_sig sig;
	char *meta;  /* the V2 metadata body */
	size_t meta_len;
	char *log_schema; /* its schema record for the log */
	size_t log_schema_len;
	_Atomic uint64_t log_gen; /* the log segment that last got it */
	_Atomic(bundle_row *) rows[SERVE_MAX_WORKERS]; /* made by each worker on first use */
	serve_vstats *st;
	int64_t loaded_ms;
} serve_version;

struct serve_model {
	char *name;
	serve_source *src;
	_Atomic(serve_version *) cur;
	atomic_uint_fast64_t loads, failures;
	char last_error[512];   /* written by the reload thread (and start) only */
	bool reload_now;        /* a reload request waits (under the server's mu) */
	uint64_t reload_gen;    /* completed requested reloads (under mu) */
	int reload_rc;          /* the result of the last one */
	/* The live metric over the latest feedback (under live_mu). */
	pthread_mutex_t live_mu;
	double live[SERVE_LIVE_WINDOW];
	size_t live_n, live_pos;
	double live_sum;
	uint64_t feedback_n;
	char mon_error[256];    /* the monitoring thread's last message, said once */
};

/* ---- workers ------------------------------------------------------------------------- */

/* One remembered request (feedback.c). */
typedef struct serve_recent {
	char id[SERVE_ID_LEN];
	uint64_t hash;
	uint64_t seq;         /* when it was added (the worker's count, from 1) */
	int32_t next;         /* chain in the bucket to an older entry, -1 ends */
	uint16_t model;       /* index in the server's models */
	uint16_t rows;
	serve_vstats *st;     /* the version that answered */
	double pred[4];       /* the first rows' predictions: class index or value */
} serve_recent;

typedef struct serve_worker {
	int id;
	_Atomic(serve_version *) hazard;
	serve_arena arena;
	serve_colcache colmaps; /* dataframe_split's columns, as last sent per model */
	sl__buf rec;          /* the log record being built */
	uint64_t seq;         /* requests this worker has numbered */
	atomic_uint_fast64_t started, finished;
	/* Recent requests for feedback: a ring with a chained hash index. */
	pthread_mutex_t recent_mu;
	serve_recent *recent;
	int32_t *buckets;
	size_t recent_cap, recent_pos, bucket_mask;
	uint64_t recent_seq;  /* entries ever added */
	/* The UI's handle on the project, opened on the thread's first UI request (ui.c). */
	sl_project *ui_project;
} serve_worker;

/* ---- the server ------------------------------------------------------------------------- */

typedef struct serve_conn serve_conn;

struct sl_server {
	sl_serve_opts o;
	char *host;
	unsigned port;
	serve_model **models;
	size_t n_models;
	ilog *log;
	char *log_dir;
	bool log_off;
	struct MHD_Daemon *mhd;
	int listen_fd;       /* ours: the acceptor deals its connections (server.c) */
	pthread_t acceptor;
	bool acceptor_started;
	atomic_uint n_open;  /* connections handed to the library, not yet closed */
	access_ctx *acc;     /* who a token is, and the audit log (access.h) */
	access_policy pol;   /* which endpoints ask for a token */
	char *tls_cert_pem, *tls_key_pem;
	char *ui_root;      /* the project the UI shows (o.ui), its absolute path */
	char instance[9];
	atomic_bool ready, draining, stopped;
	/* Connections, for the timeouts (server.c). */
	pthread_mutex_t conns_mu;
	serve_conn *conns;
	/* The reload thread and the timeouts' reaper. */
	pthread_mutex_t mu;
	pthread_cond_t cv, reload_done;
	bool stop;
	pthread_t reloader, reaper;
	bool threads_started;
	/* Workers, made by each request thread on its first request. */
	_Atomic(serve_worker *) workers[SERVE_MAX_WORKERS];
	atomic_int n_workers;
	/* Stats of every version ever served, and of requests for no model. */
	pthread_mutex_t stats_mu;
	serve_vstats *stats;
	serve_vstats *nomodel;
	atomic_uint_fast64_t log_errors;
	double start_mono;
	char mhd_err[256]; /* libmicrohttpd's last message (start failures) */
	/* Live monitoring's gauges (monitor.c), refreshed off the request path. */
	pthread_t monitor;
	bool monitor_started;
	pthread_mutex_t mon_mu;
	char *mon_text;           /* the gauges' exposition text, or NULL (under mon_mu) */
	struct canvas *mon_cv;    /* the project's canvas, or NULL; owned */
};

/* server.c: starts serving with the options in s->o (models loaded, log
 * opened by the caller); sl_server_stop and sl_server_free undo it. */
int serve_start(sl_server *s);

/* server.c: the calling thread's worker (made on first use; NULL past SERVE_MAX_WORKERS). */
serve_worker *serve_worker_self(sl_server *s);

/* monitor.c: the thread that evaluates each model's window every drift_interval_s. */
int serve_monitor_start(sl_server *s);
void serve_monitor_stop(sl_server *s);
/* Appends the last evaluation's gauges to a /metrics body. */
int serve_monitor_metrics(sl_server *s, sl__buf *o);

/* model.c */
int serve_models_load(sl_server *s, sl_project *p);
int serve_reloader_start(sl_server *s);
void serve_reloader_stop(sl_server *s);
/*
 * Asks the reload thread for an immediate reload of m (the source polled
 * even if unchanged) and waits for it, at most timeout_ms. The result is
 * the attempt's; msg gets its message.
 */
int serve_reload_now(sl_server *s, serve_model *m, unsigned timeout_ms, char *msg, size_t size);
void serve_models_free(sl_server *s);
/* The version of m a request uses (invariant 1); NULL before the first load. */
serve_version *serve_acquire(serve_worker *w, serve_model *m);
void serve_release(serve_worker *w);
/* The calling worker's workspace for v (made on first use). */
bundle_row *serve_row(serve_version *v, serve_worker *w);
/* The served model named name (len bytes), the default one of that name when several. */
serve_model *serve_find_model(sl_server *s, const char *name, size_t len);
void serve_event(sl_server *s, const char *fmt, ...) SL__PRINTF(2, 3);

/* metrics.c */
/* The stats of a model's version: made once per (model, version), kept to the end. */
serve_vstats *serve_stats_new(sl_server *s, const char *model, const char *version,
			      const serve_sig *sig);
/* Counts one finished request: its code, latency and the first output of each row. */
void serve_count(serve_worker *w, serve_vstats *st, int code, uint64_t latency_us,
		 const serve_result *res);
/* The /metrics body (Prometheus text format 0.0.4) into out. */
int serve_metrics(sl_server *s, serve_worker *w, sl__buf *out);
void serve_stats_free(sl_server *s);

/* feedback.c */
int serve_recent_init(serve_worker *w, size_t cap);
void serve_recent_free(serve_worker *w);
void serve_recent_add(serve_worker *w, const char *id, uint16_t model, serve_vstats *st,
		      const serve_result *res, ml_task task);
/* Copies w's remembered request id into out; false when w does not remember it. */
bool serve_recent_get(serve_worker *w, const char *id, serve_recent *out);
/*
 * Fetches into the cache what serve_recent_add(w, id, ...) will write (its
 * bucket, a random one of a large table, and the ring's next slot), so that
 * the misses overlap the request's work. Called by w's own thread.
 */
void serve_recent_prefetch(serve_worker *w, const char *id);
/*
 * Handles a feedback body for model m: checks it, looks every id up (recent
 * requests, then the log), logs a feedback record and updates the live
 * metric. Returns the HTTP status and the body in out; *logged says whether
 * a record was written (else the caller logs the error). t0 is when the
 * request began (sl__mono_sec).
 */
int serve_feedback(sl_server *s, serve_worker *w, serve_model *m, const char *request_id,
		   const char *body, size_t len, double t0, sl__buf *out, bool *logged);

#endif
