/*
 * What the files of the metadata store share (store.c, store_run.c,
 * store_ops.c, store_json.c, store_lineage.c, store_registry.c,
 * store_gc.c): the handle's insides, the transaction helpers, argument
 * checks, row collectors, the JSON value builders and the text writer.
 * Nothing outside src/store includes this (but the unit tests).
 *
 * Internal functions shared between these files carry the st_ prefix.
 */
#ifndef SLUICE_STORE_INT_H
#define SLUICE_STORE_INT_H

#include <pthread.h>

#include "rng.h"
#include "store.h"

struct store {
	const store_driver *drv;
	void *conn;
	sl__rng rng;        /* jitter of st_again's backoff */
	pthread_mutex_t mu; /* recursive: a batch holds it across calls */
	int batch;          /* store_batch_begin depth; operations nest as savepoints */
	int batch_rc;       /* a savepoint of the batch could not be undone: roll it all back */
};

/* Executes one statement whose parameters are the local array p. */
#define Q(s, sql, p, fn, ud) \
	((s)->drv->exec((s)->conn, (sql), (int)SL__ARRAY_LEN(p), (p), (fn), (ud)))
#define Q0(s, sql, fn, ud) ((s)->drv->exec((s)->conn, (sql), 0, NULL, (fn), (ud)))

/* SQ_S as a function: the macro's NULL test warns when handed an array. */
static inline sq_val S(const char *v)
{
	return SQ_S(v);
}

/* A time in ms, or NULL when not set. */
static inline sq_val opt_time(int64_t ms)
{
	return ms > 0 ? SQ_I(ms) : SQ_NUL;
}

/* A positive integer, or NULL when not set. */
static inline sq_val opt_int(int64_t v)
{
	return v > 0 ? SQ_I(v) : SQ_NUL;
}

void st_lock(store *s);
void st_unlock(store *s);
/*
 * Opens a transaction, or a savepoint inside a batch (store_batch_begin),
 * so a failed operation leaves nothing behind while the batch's other work
 * stands.
 */
int st_begin(store *s, bool write);
/* Commits when rc is 0, rolls back otherwise; returns the first failure. */
int st_end(store *s, int rc);

/*
 * Running a transaction again after a conflict (store.c, design note 8).
 * Write operations loop:
 *
 *     st_retry r = {0};
 *     do {
 *             rc = st_begin(s, true);
 *             if (rc == 0)
 *                     rc = ...the statements...;
 *             rc = st_end(s, rc);
 *     } while (st_again(s, rc, &r));
 *
 * so their statements must not change anything outside the database that
 * a second pass would see.
 */
typedef struct st_retry {
	double t0;
	unsigned delay_us;
} st_retry;
/*
 * True when the transaction that ended with rc failed on a conflict the
 * driver names, outside a batch, with time left to run it again (after a
 * jittered sleep).
 */
bool st_again(store *s, int rc, st_retry *r);

bool st_known(const char *v, const char *const *set, size_t n);
int st_check_id(const char *what, const char *id);
bool st_is_hex(const char *s, size_t n);
int st_check_artifact_id(const char *id);
/* Accepts NULL; otherwise the text must parse as a JSON object. */
int st_check_json_object(const char *what, const char *text);
/* Fails with SL_ENOENT unless the query (one id parameter) returns a row. */
int st_must_exist(store *s, const char *sql, const char *what, const char *id);

/* Row collectors. Each keeps the first row it sees and ignores later ones. */
typedef struct st_one_str {
	char *v;
	bool found;
	bool nomem;
} st_one_str;
int st_row_one_str(void *ud, int ncol, const sq_val *cols);

typedef struct st_one_i64 {
	int64_t v;
	bool found;
	bool null;
} st_one_i64;
int st_row_one_i64(void *ud, int ncol, const sq_val *cols);

/* The first row's integer columns (up to 8); a NULL or text column reads 0, null set. */
typedef struct st_i64s {
	bool found;
	int64_t v[8];
	bool null[8];
} st_i64s;
int st_row_i64s(void *ud, int ncol, const sq_val *cols);

/* Id resolution with the store locked (store.c). */
int st_run_resolve(store *s, const char *prefix, char out_id[STORE_ID_SIZE]);
int st_artifact_resolve(store *s, const char *prefix, char out_id[SL__HASH_HEX_SIZE]);
/* A full artifact id as is, or a unique prefix resolved. */
int st_artifact_id_arg(store *s, const char *ref, char id[SL__HASH_HEX_SIZE]);

/*
 * "%text%" with LIKE's special characters escaped ('\\' escapes; write
 * ESCAPE '\\'), sl__free; NULL for no text (and when out of memory).
 */
char *st_like_pattern(const char *text);

/* Registers a version inside the caller's transaction (store_registry.c). */
int st_model_register(store *s, const store_version_new *v, int64_t *out_version,
		      bool *out_reused);

/* Applies a step's store ops inside its completion transaction (store_ops.c). */
int st_ops_apply(store *s, const store_steprun *sr, const json_t *ops);

/* ---- JSON values from columns (store_json.c) --------------------------------- */

json_t *st_j_text(const char *s); /* invalid UTF-8 bytes become '?' */
json_t *st_j_str(const sq_val *v);
json_t *st_j_time(const sq_val *v); /* ms since the epoch as ISO 8601 text, or null */
/* Adds key: value to o, taking the reference; non-zero on any failure. */
int st_jset(json_t *o, const char *key, json_t *v);
int st_nomem_json(void);

/*
 * Views are tables: a list of fields (JSON key, how to convert, which
 * columns), built into one object per row by st_row_view.
 */
typedef enum jv_kind {
	JV_STR,      /* text, or null */
	JV_INT,      /* integer, or null */
	JV_REAL,     /* number, or null */
	JV_BOOL,     /* true when the integer column is non-zero */
	JV_TIME,     /* ms since the epoch as ISO 8601 text, or null */
	JV_DURATION, /* col2 - col in ms, or null when either is missing */
	JV_JSON,     /* stored JSON text as a value, or null */
	JV_JSON_OBJ, /* stored JSON text as a value, {} when NULL */
	JV_ARRAY,    /* an empty array for later rows to fill */
	JV_OBJECT,   /* an empty object for later rows to fill */
	JV_NESTED    /* an object of `sub` fields when column col is not NULL, else null */
} jv_kind;

typedef struct jv_field {
	const char *key; /* NULL ends a list */
	jv_kind kind;
	int col, col2;
	const struct jv_field *sub;
} jv_field;

typedef struct jv_ctx {
	const jv_field *fields;
	json_t *arr;    /* rows are appended here, or */
	json_t *obj;    /* the first row lands here */
	json_t *index;  /* when non-NULL: column index_col's text -> the row's object */
	int index_col;
	/*
	 * Rows whose column dedup_col equals a sibling's are dropped (a lineage
	 * node reached through several step runs is one node); -1: keep all.
	 */
	int dedup_col;
} jv_ctx;

/* One object from a row, or NULL when out of memory. */
json_t *st_jv_build(const jv_field *fields, int ncol, const sq_val *c);
/* The row callback of a view: ud is a jv_ctx. */
int st_row_view(void *ud, int ncol, const sq_val *c);
/*
 * JSON as text, for views too large to build as objects (store_json.c): a
 * string, escaped (NULL: null; invalid UTF-8 bytes become '?'), and a row's
 * fields as `"key": value, ...` (no braces), after the same tables. Stored
 * JSON is written as it is. Each returns 0 or SL_ENOMEM / SL_ELIMIT.
 */
int st_jw_str(sl__buf *b, const char *s);
/* ms since the epoch as sl__fmt_time's text, quoted. */
int st_jw_time(sl__buf *b, int64_t ms);
int st_jw_fields(sl__buf *b, const jv_field *fields, int ncol, const sq_val *c);
/* Rows (tag, value) of entity/id's tags into the object dst. */
int st_tags_into(store *s, const char *entity, const char *id, json_t *dst);
/*
 * The artifact row {id, type, size, created, meta, producer} of a full id,
 * or SL_ENOENT (store locked, inside a read transaction).
 */
int st_artifact_row(store *s, const char *id, json_t **out);

#endif
