/*
 * The serving codecs: request bodies (Open Inference Protocol V2, MLflow's
 * four JSON formats and CSV) decoded into one batch of raw rows, scored
 * through the bundle, and encoded back; plus the inference log's record.
 * Prefix serve_ (v2_ and mlflow_ for the protocol files).
 *
 *   body --v2_parse / mlflow_parse_json / mlflow_parse_csv--> serve_batch
 *        (raw values typed by bundle_coerce, and where each came from)
 *                                   |
 *                   serve_score: bundle_code_values per row, one
 *                   ml_model_predict for the batch (and explain)
 *                                   v
 *                              serve_result --v2_encode / mlflow_encode--> body
 *                                   |
 *                              serve_log_record --> one JSON line
 *
 * Everything a request needs lives in a serve_arena that the worker resets
 * between requests: once the arena has grown to a request's size, serving
 * the next one allocates nothing.
 *
 * Invariants:
 *  1. A parser fails with SL_EPARSE (the body is not JSON or CSV), or
 *     SL_EINVAL (it does not fit the model: a shape, a datatype, a missing
 *     column), with sl_errmsg() naming the field ("inputs[1] 'x': ...");
 *     the server turns both into 400.
 *  2. A batch's values are in the signature's raw input order whatever
 *     order or layout the request used, so scoring and the log never look at
 *     the protocol.
 *  3. serve_sig is immutable after serve_sig_build and shared by threads.
 */
#ifndef SLUICE_SERVE_CODEC_H
#define SLUICE_SERVE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core.h"
#include "hmap.h"
#include "ml/forecast.h"
#include "model/bundle.h"
#include "serve/jscan.h"

/* ---- the arena -------------------------------------------------------------- */

typedef struct serve_arena {
	char *block;
	size_t cap, used;
	char **old;   /* blocks outgrown during this request, freed at reset */
	size_t n_old, cap_old;
	size_t peak;  /* bytes this request used, so the next block fits all */
} serve_arena;

/* 16-byte aligned memory valid until the next reset; NULL when out of memory. */
void *serve_arena_alloc(serve_arena *a, size_t n);
/* The same, zeroed. */
void *serve_arena_calloc(serve_arena *a, size_t n);
/* Forgets everything allocated; keeps one block big enough for the largest request. */
void serve_arena_reset(serve_arena *a);
void serve_arena_free(serve_arena *a);

/* ---- what a model looks like to a client ------------------------------------ */

typedef enum serve_okind {
	SO_LABEL,   /* classifiers: the predicted class */
	SO_PROBA,   /* classifiers: every class's probability, [n, classes] */
	SO_COLUMN,  /* one model output column as a vector */
	SO_CONTRIB, /* explanations (only with "explain": true) */
	SO_TIME     /* forecasters: the time each forecast is for */
} serve_okind;

typedef struct serve_output {
	char *name;           /* "predict", "predict_proba", "score", "lo80" ... */
	const char *datatype; /* "FP64", "INT64", "BOOL", "BYTES" */
	serve_okind kind;
	size_t col;           /* SO_COLUMN: the model output */
	char *v2_head;        /* {"name":...,"datatype":"...", as V2 responses open it */
	size_t v2_head_len;
	/* v2_head is followed by "shape":[1],"data":[ (with the classes for
	 * SO_PROBA): the output's opening up to its values for one row. */
	size_t v2_head1_len;
} serve_output;

#define SERVE_MAX_OUTPUTS 16

typedef struct serve_sig {
	/* Unique for the process's life, never 0 once built (a signature
	 * built later may get a freed one's address, never its id): what a
	 * cache of per-signature results keys on (serve_colcache). */
	uint64_t id;
	const bundle *b;
	const ml_model *m;
	ml_task task;
	size_t n_in;             /* raw inputs */
	const char **in_names;   /* borrowed from the bundle */
	size_t *in_len;
	ds_type *in_types;
	bool any_text;           /* some input is a string or a time stamp */
	bool all_numeric;        /* every input is a float or an integer */
	char **in_keys;          /* "\"name\":" ready for the log */
	size_t *in_key_len;
	sl__hmap ix;             /* input names -> index */
	size_t p, k;             /* model features and outputs */
	size_t groups;           /* explanation groups, 0 when the family has none */
	serve_output outs[SERVE_MAX_OUTPUTS];
	size_t n_outs;
	const char *label_type;  /* datatype of the label */
	char **class_json;       /* each class as a JSON value ("\"spam\"", "1", "true") */
	size_t *class_json_len;
	char **out_keys;         /* model output names as "\"proba_x\":" for the log */
	size_t *out_key_len;
	char *features_param;    /* the contributions' column names, comma-joined */
	long fc_h;               /* forecasters: the raw input "h" (filled by the server,
				  * never sent); -1 for every other model */
	fc_view fc;              /* forecasters: the model's series, horizon and grid */
	/* {"model_name":...,"model_version":...,"id": for the name and version
	 * strings it was built for (serve_sig_v2_head), or NULL. */
	char *v2_head;
	size_t v2_head_len;
	const char *v2_head_name, *v2_head_version;
	/* ","model":...,"version":...,"endpoint":" for the same two strings:
	 * the part of a log record between its time and its endpoint. */
	char *log_head;
	size_t log_head_len;
} serve_sig;

int serve_sig_build(const bundle *b, serve_sig *out);
/* Appends an output (name copied) to s; SL_EUNSUP beyond SERVE_MAX_OUTPUTS. */
int serve_sig_add_out(serve_sig *s, const char *name, const char *dt, serve_okind kind, size_t col);
/*
 * Builds s's V2 response head for the model name and version strings, which
 * must stay as they are while s is used: v2_encode copies the head instead
 * of writing it when it is given these same two pointers (a loaded version
 * answers every request with the same name and version), and so does
 * serve_log_record with the record's model and version.
 */
int serve_sig_v2_head(serve_sig *s, const char *name, const char *version);
/* The V2 datatype of an input type: FP64, INT64, BOOL, BYTES (strings, time stamps). */
const char *serve_v2_datatype(ds_type t);
void serve_sig_free(serve_sig *s); /* accepts a zeroed s */
/* The raw input named s (len bytes), or -1. */
long serve_sig_find(const serve_sig *s, const char *name, size_t len);
/*
 * The V2 model metadata body: {"name", "versions", "platform", "inputs",
 * "outputs", "parameters"} (newly allocated, sl__free). versions may be
 * NULL (then only version is listed).
 */
char *serve_sig_metadata(const serve_sig *s, const char *name, const char *version,
			 const char *const *versions, size_t n_versions);

/* ---- a batch of raw rows ----------------------------------------------------- */

typedef struct serve_batch {
	size_t n;          /* rows */
	size_t k;          /* raw inputs (serve_sig.n_in) */
	expr_value *v;     /* n x k, row-major, signature order */
	uint32_t *span;    /* 2 x n x k: offset and length of each value's JSON
			    * text in src (a string's with its quotes), or NULL
			    * when the values did not come as JSON (CSV) */
	const char *src;
	size_t src_len;    /* src's length, or 0 when not known (the log then
			    * copies no more of src than each value) */
} serve_batch;

/* Checks v against type t and stores it in cell (row i, input j) of b. */
int serve_batch_set_any(serve_batch *b, const serve_sig *s, size_t i, size_t j, const jval *v,
			serve_arena *a);
/* The same, with the common cell (a number for a float column, stored as
 * bundle_coerce stores it) inline: a one-row request is mostly these. */
static inline int serve_batch_set(serve_batch *b, const serve_sig *s, size_t i, size_t j,
				  const jval *v, serve_arena *a)
{
	size_t c = i * b->k + j;

	if (v->t != J_NUM || s->in_types[j] != DS_FLOAT64)
		return serve_batch_set_any(b, s, i, j, v, a);
	b->v[c] = (expr_value){.f = v->num};
	if (b->span) {
		b->span[2 * c] = (uint32_t)(v->s - b->src);
		b->span[2 * c + 1] = (uint32_t)v->len;
	}
	return 0;
}

/* ---- scoring ---------------------------------------------------------------- */

typedef struct serve_result {
	size_t n, k, p, groups;
	double *out;       /* n x k */
	double *contrib;   /* n x groups x (p + 1), or NULL */
	uint32_t *label;   /* classifiers: the argmax class per row, or NULL */
	const double *X;   /* n x p: the coded rows the model saw */
	size_t rejected;   /* serve_score returned TRANSFORM_REJECTED: this row */
	/* Numbers formatted once, used by both the response and the log. */
	char *txt;         /* n x k texts of out, each at txt + off[i] */
	uint32_t *off, *len;
} serve_result;

/*
 * Scores a batch: each row through the transform and coded (r is the
 * calling thread's workspace), then one prediction for all rows (and the
 * contributions when explain is set and the family has them; SL_EUNSUP
 * naming the algorithm when not). TRANSFORM_REJECTED with res->rejected
 * set when a row is filtered out by the transform; 0; or an error.
 */
int serve_score(const serve_sig *s, bundle_row *r, const serve_batch *in, bool explain,
		serve_arena *a, serve_result *res);

/* ---- JSON writing (into a bounded sl__buf) ---------------------------------- */

/* n bytes, the buffer kept terminated. Inline: a response and a log
 * record are written in a few dozen of these, most of them literals the
 * compiler then copies in a move or two. */
static inline int serve_put(sl__buf *b, const char *s, size_t n)
{
	if (b->len + n < b->cap) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len] = 0;
		return 0;
	}
	return sl__buf_append(b, s, n);
}
/* A string literal (only: sizeof gives its length), known at compile time. */
#define serve_lit(b, lit) serve_put((b), "" lit, sizeof(lit) - 1)
int serve_puts(sl__buf *b, const char *s);
/* A JSON string with escapes. */
int serve_put_jstr(sl__buf *b, const char *s, size_t n);
/* A double as the shortest text that reads back the same; null when not finite. */
int serve_put_f64(sl__buf *b, double v);
int serve_put_u64(sl__buf *b, uint64_t v);
/* Output column k of row i of res as JSON (formatted once, then copied). */
int serve_put_out(sl__buf *b, serve_result *res, size_t i, size_t k, serve_arena *a);
/* A value of a batch as JSON: its original text when there is one. */
int serve_put_cell(sl__buf *b, const serve_batch *in, const serve_sig *s, size_t i, size_t j);

/* ---- Open Inference Protocol V2 ----------------------------------------------- */

typedef struct v2_request {
	const char *id;    /* the request's "id" as JSON text (quotes included), or NULL */
	size_t id_len;
	bool explain;      /* parameters.explain */
	uint32_t want;     /* bit i: outs[i] requested (all when "outputs" is absent);
			    * bit SERVE_MAX_OUTPUTS: contributions */
	size_t horizon;    /* parameters.horizon, 0 when not given (forecasters) */
	size_t n_series;   /* forecasters: the series asked for; the batch holds
			    * horizon rows per series, h = 1..horizon */
	serve_batch batch;
} v2_request;

/*
 * Decodes an inference request for the model s: one input per raw column
 * (shape [n] or [n, 1]) or one input of shape [n, k] whose columns follow
 * the signature; "outputs" selects; parameters.explain adds contributions.
 */
int v2_parse(const serve_sig *s, const char *body, size_t len, serve_arena *a, v2_request *out);
/* {"model_name", "model_version", "id" of a response, left open for more members. */
int v2_put_response_head(sl__buf *out, const char *name, const char *version,
			 const v2_request *req, const char *request_id);
/* {"name", "datatype" of an output, left open (a comma last) for its shape and data. */
int v2_put_output_head(sl__buf *b, const serve_output *o);
/* The inference response; request_id names the request when it gave no "id". */
int v2_encode(const serve_sig *s, const char *name, const char *version, const v2_request *req,
	      const char *request_id, serve_result *res, serve_arena *a, sl__buf *out);

/* ---- forecasters over V2 (forecast.c) ------------------------------------------ */

/* Fills s->fc_h, s->fc and the outputs of a forecast model (serve_sig_build). */
int serve_fc_sig(serve_sig *s);
/*
 * Turns the parsed request (one row per series, its key columns) into
 * horizon rows per series with h = 1..horizon; SL_EINVAL naming
 * parameters.horizon when it is beyond the model's.
 */
int serve_fc_expand(const serve_sig *s, serve_arena *a, v2_request *req);
/* SL_EINVAL naming the input and value of the first series the model lacks. */
int serve_fc_check(const serve_sig *s, const v2_request *req, const serve_result *res);
/* The response: every output of shape [horizon], or [series, horizon] with key columns. */
int serve_fc_encode(const serve_sig *s, const char *name, const char *version,
		    const v2_request *req, const char *request_id, serve_result *res,
		    serve_arena *a, sl__buf *out);

/* ---- MLflow scoring protocol ---------------------------------------------------- */

/*
 * The "columns" of dataframe_split as a client last sent them for a
 * signature, and the column map they gave: clients send the same array
 * request after request, and reading its names (unescaping, hashing and
 * looking up each) was a third of such a request. One per request thread
 * (serve_worker), so nothing is locked; a few signatures at a time, each
 * entry keyed by serve_sig.id, so a reloaded model, even at a freed one's
 * address, is never given another's map. Only an array that gave every
 * input of the model once, of at most SERVE_COLMAP_MAX bytes, is kept.
 */
#define SERVE_COLMAPS 4
#define SERVE_COLMAP_MAX (64 * 1024)

typedef struct serve_colmap {
	uint64_t sig;     /* serve_sig.id it was read for; 0: empty */
	uint64_t used;    /* the cache's clock when last filled or hit */
	char *text;       /* the array as sent, '[' to ']' */
	size_t len, text_cap;
	long *map;        /* element -> raw input, or -1 (ignored) */
	size_t width, map_cap;
} serve_colmap;

typedef struct serve_colcache {
	serve_colmap e[SERVE_COLMAPS];
	uint64_t clock;
	uint64_t hits, misses; /* for tests and the curious */
} serve_colcache;

/* Frees what c holds and empties it (a zeroed c is an empty cache). */
void serve_colcache_free(serve_colcache *c);

/*
 * {"dataframe_split" | "dataframe_records" | "instances" | "inputs": ...}.
 * cc, when not NULL, is the calling thread's cache of column arrays
 * (serve_colcache): it serves dataframe_split's "columns" and learns from it.
 */
int mlflow_parse_json(const serve_sig *s, const char *body, size_t len, serve_colcache *cc,
		      serve_arena *a, serve_batch *out);
/*
 * The same in two passes, the format's value skipped by its brackets and
 * then read (what mlflow_parse_json falls back on when anything is wrong):
 * for tests, which hold the two to the same answers.
 */
int mlflow__parse_checked(const serve_sig *s, const char *body, size_t len, serve_colcache *cc,
			  serve_arena *a, serve_batch *out);
/* text/csv with a header row naming the columns. */
int mlflow_parse_csv(const serve_sig *s, const char *body, size_t len, serve_arena *a,
		     serve_batch *out);
/* {"predictions": [...]}: the label of classifiers, the first output otherwise. */
int mlflow_encode(const serve_sig *s, serve_result *res, serve_arena *a, sl__buf *out);

/* ---- the inference log's record ---------------------------------------------------- */

typedef struct serve_logrec {
	const char *id;         /* request id */
	int64_t time_ms;
	const char *model;      /* NULL when the request named no served model */
	const char *version;
	const char *endpoint;   /* "v2", "invocations", "feedback" */
	int status;
	uint64_t latency_us;
	const serve_sig *sig;   /* with batch and res: what was asked and answered */
	const serve_batch *batch;
	serve_result *res;
	const char *error;      /* the error message, or NULL */
	const char *body;       /* errors: the request body as received */
	size_t body_len;
	size_t body_max;        /* at most this much of it is kept */
} serve_logrec;

/*
 * One record as a JSON object followed by a newline (docs/serving.md). An
 * answered request's inputs and outputs are arrays of rows, in the order
 * of its version's schema record.
 */
int serve_log_record(const serve_logrec *r, serve_arena *a, sl__buf *out);
/*
 * The schema record of a served version: {"schema": 1, "model", "version",
 * "inputs": [names], "outputs": [names]} and a newline (newly allocated).
 * The log holds it in every segment before the version's first record.
 */
char *serve_log_schema(const serve_sig *s, const char *model, const char *version);

#endif
