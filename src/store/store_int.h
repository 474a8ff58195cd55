/*
 * What the files of the metadata store share (store.c, store_run.c,
 * store_ops.c, store_json.c, store_lineage.c): the handle's insides, the
 * transaction helpers, argument checks, row collectors and the JSON value
 * builders. Nothing outside src/store includes this.
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

/* Id resolution with the store locked (store.c). */
int st_run_resolve(store *s, const char *prefix, char out_id[STORE_ID_SIZE]);
int st_artifact_resolve(store *s, const char *prefix, char out_id[SL__HASH_HEX_SIZE]);
/* A full artifact id as is, or a unique prefix resolved. */
int st_artifact_id_arg(store *s, const char *ref, char id[SL__HASH_HEX_SIZE]);

/* Applies a step's store ops inside its completion transaction (store_ops.c). */
int st_ops_apply(store *s, const store_steprun *sr, const json_t *ops);

/* ---- JSON values from columns (store_json.c) --------------------------------- */

json_t *st_j_text(const char *s); /* invalid UTF-8 bytes become '?' */
json_t *st_j_str(const sq_val *v);
/* Adds key: value to o, taking the reference; non-zero on any failure. */
int st_jset(json_t *o, const char *key, json_t *v);
int st_nomem_json(void);
/*
 * The artifact row {id, type, size, created, meta, producer} of a full id,
 * or SL_ENOENT (store locked, inside a read transaction).
 */
int st_artifact_row(store *s, const char *id, json_t **out);
/*
 * Appends to arr one lineage node per artifact: up, the inputs of step run
 * key (each with its producer); down, the outputs of every step run that
 * consumed artifact key.
 */
int st_lineage_rows(store *s, bool up, const char *key, json_t *arr);

#endif
