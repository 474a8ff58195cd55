/*
 * The SQLite backend of the store's SQL driver interface (store_sqlite_driver,
 * see store.h). It executes single statements with bound parameters, hands
 * rows to a callback and manages transactions; it knows nothing of runs or
 * artifacts.
 *
 * Design notes (the invariants this file keeps):
 *
 *  1. One connection per store handle. The store serialises its calls with
 *     its own mutex, so the connection is opened SQLITE_OPEN_NOMUTEX.
 *  2. The database runs in WAL mode. A kill -9 at any moment leaves it
 *     consistent: the WAL is append-only and a commit is a single frame with
 *     the commit flag, so an interrupted transaction is simply not replayed.
 *     That holds for synchronous=NORMAL as well as FULL, because a process
 *     crash does not lose what write() handed to the kernel. We choose NORMAL:
 *     FULL adds an fsync of the WAL to every commit (about a millisecond or
 *     more per step-run record here), and the only thing NORMAL gives up is the
 *     last few commits after a power failure -- never consistency. Losing the
 *     record of a just-finished step costs at most a cache miss and a rerun;
 *     the artifact contents themselves are written durably by the artifact
 *     store.
 *  3. Writers take the write lock at BEGIN (BEGIN IMMEDIATE). A deferred
 *     transaction that reads and then writes must upgrade its snapshot, and in
 *     WAL mode that fails with SQLITE_BUSY_SNAPSHOT without ever calling the
 *     busy handler; taking the lock first makes writers queue instead.
 *  4. busy_timeout covers ordinary lock waits. Some SQLITE_BUSY results are
 *     returned without consulting the busy handler (a reader that finds the
 *     WAL index being rebuilt after a crash, a fresh database whose journal
 *     mode is being switched by another process), so BEGIN, COMMIT and a
 *     statement's first step are additionally retried on SQLITE_BUSY with a
 *     jittered exponential backoff for a bounded time (SQ_RETRY_LIMIT_MS).
 *     A step is only retried before it has produced a row, so the callback
 *     never sees a row twice.
 *  5. Prepared statements are cached by SQL text in a small LRU table
 *     (SQ_CACHE_SLOTS). The store uses a fixed set of statement texts, so in
 *     steady state every exec is a hash, a strcmp, bind, step and reset. A row
 *     callback may call exec again with the same text: a statement that is
 *     being stepped is marked active and the nested call prepares a private,
 *     uncached copy.
 *  6. Schema scripts are portable SQL; SQLite-only table options ride in
 *     SQL comments whose text starts with "sqlite:", which exec_script
 *     switches on (sq_apply_hints) and every other backend ignores.
 *  7. SQLite result codes map to sluice codes in one place (sq_fail): busy
 *     and locked to SL_EBUSY, a duplicate key to SL_EEXIST, corruption to
 *     SL_ECORRUPT, out-of-memory to SL_ENOMEM, everything else to SL_ESTORE.
 *     The message always carries SQLite's own text and the database path.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "rng.h"

#define SQ_CACHE_SLOTS 48
#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_RETRY_LIMIT_MS 30000
#define SQ_MAX_COLS 64

typedef struct sq_slot {
	char *sql;      /* owned copy of the statement text; NULL when empty */
	uint64_t hash;  /* sl__hash64 of sql */
	sqlite3_stmt *st;
	uint64_t used;  /* LRU clock value of the last use */
	bool active;    /* being stepped; a nested exec must not reuse it */
} sq_slot;

typedef struct sq_conn {
	sqlite3 *db;
	char *path;
	uint64_t clock;
	sl__rng rnd; /* backoff jitter */
	sq_slot slots[SQ_CACHE_SLOTS];
} sq_conn;

/* ---- errors and backoff ------------------------------------------------------ */

static int sq_fail(sq_conn *c, int rc, const char *sql)
{
	int code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = SL_EBUSY;
		break;
	case SQLITE_NOMEM:
		code = SL_ENOMEM;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = SL_ECORRUPT;
		break;
	case SQLITE_CONSTRAINT:
		code = (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			       ? SL_EEXIST
			       : SL_ESTORE;
		break;
	default:
		code = SL_ESTORE;
		break;
	}
	/* errmsg is about the last failing call on this connection, which is ours. */
	return sl__err(code, "sqlite %s: %s (in \"%.60s%s\")", c->path, sqlite3_errmsg(c->db),
		       sql, strlen(sql) > 60 ? "..." : "");
}

/* Busy results worth waiting for. BUSY_SNAPSHOT never clears by waiting. */
static bool sq_retryable(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY && rc != SQLITE_BUSY_SNAPSHOT;
}

/*
 * Sleeps before the next attempt; false once SQ_RETRY_LIMIT_MS has passed
 * since the first call (*start == 0 on the first call). The jitter keeps
 * several processes that failed together from retrying in lockstep.
 */
static bool sq_backoff(sq_conn *c, double *start, unsigned *delay_us)
{
	double now = sl__mono_sec();

	if (*start == 0)
		*start = now;
	if ((now - *start) * 1000.0 > SQ_RETRY_LIMIT_MS)
		return false;
	sl__rng_backoff(&c->rnd, delay_us, 200, 51200);
	return true;
}

/* ---- the statement cache --------------------------------------------------------- */

static void sq_slot_clear(sq_slot *sl)
{
	sqlite3_finalize(sl->st);
	sl__free(sl->sql);
	memset(sl, 0, sizeof *sl);
}

/*
 * Hands out a ready statement for sql: from the cache, or freshly prepared
 * into the least recently used slot. *out_slot is NULL for a private statement
 * that sq_stmt_put finalizes.
 */
static int sq_stmt_get(sq_conn *c, const char *sql, sq_slot **out_slot, sqlite3_stmt **out)
{
	uint64_t h = sl__hash64(sql, strlen(sql));
	sq_slot *victim = NULL;
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	bool nested = false;
	int rc;

	*out_slot = NULL;
	for (size_t i = 0; i < SQ_CACHE_SLOTS; i++) {
		sq_slot *sl = &c->slots[i];
		if (sl->sql && sl->hash == h && strcmp(sl->sql, sql) == 0) {
			if (sl->active) {
				nested = true;
				break;
			}
			sl->active = true;
			sl->used = ++c->clock;
			*out_slot = sl;
			*out = sl->st;
			return 0;
		}
		if (!sl->active && (!victim || sl->used < victim->used))
			victim = sl;
	}

	rc = sqlite3_prepare_v3(c->db, sql, -1, nested ? 0 : SQLITE_PREPARE_PERSISTENT, &st, &tail);
	if (rc != SQLITE_OK)
		return sq_fail(c, rc, sql);
	if (!st) /* only whitespace or a comment */
		return sl__err(SL_EINVAL, "sqlite: empty statement");
	while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';'))
		tail++;
	if (tail && *tail) {
		sqlite3_finalize(st);
		return sl__err(SL_EINVAL, "sqlite: exec takes one statement (\"%.60s\")", sql);
	}
	if (!nested && victim) {
		char *copy = sl__strdup(sql);
		if (copy) {
			sq_slot_clear(victim);
			victim->sql = copy;
			victim->hash = h;
			victim->st = st;
			victim->used = ++c->clock;
			victim->active = true;
			*out_slot = victim;
		}
		/* Without memory for the key the statement simply stays private. */
	}
	*out = st;
	return 0;
}

static void sq_stmt_put(sq_slot *sl, sqlite3_stmt *st)
{
	if (!sl) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sl->active = false;
}

/* ---- statements ------------------------------------------------------------------- */

static int sq_bind(sq_conn *c, sqlite3_stmt *st, const char *sql, int n, const sq_val *params)
{
	int want = sqlite3_bind_parameter_count(st);

	if (want != n)
		return sl__err(SL_EINVAL, "sqlite: statement wants %d parameters, got %d (\"%.60s\")",
			       want, n, sql);
	for (int i = 0; i < n; i++) {
		const sq_val *v = &params[i];
		int rc;

		switch (v->type) {
		case SQ_INT:
			rc = sqlite3_bind_int64(st, i + 1, v->i);
			break;
		case SQ_REAL:
			rc = sqlite3_bind_double(st, i + 1, v->d);
			break;
		case SQ_TEXT: {
			/* Stored text is UTF-8 on every backend (store.h, driver). The
			 * caller's strings outlive the statement's use (reset at the end
			 * of exec); a cleaned copy is SQLite's to copy. */
			char *clean = NULL;
			if (v->s && sl__utf8_clean(v->s, &clean) != 0)
				return SL_ENOMEM;
			rc = clean  ? sqlite3_bind_text(st, i + 1, clean, -1, SQLITE_TRANSIENT)
			     : v->s ? sqlite3_bind_text(st, i + 1, v->s, -1, SQLITE_STATIC)
				    : sqlite3_bind_null(st, i + 1);
			sl__free(clean);
			break;
		}
		case SQ_NULL:
			rc = sqlite3_bind_null(st, i + 1);
			break;
		default:
			return sl__err(SL_EINVAL, "sqlite: parameter %d has unknown type %d", i + 1,
				       v->type);
		}
		if (rc != SQLITE_OK)
			return sq_fail(c, rc, sql);
	}
	return 0;
}

static int sq_row(sqlite3_stmt *st, sq_row_fn fn, void *ud)
{
	sq_val cols[SQ_MAX_COLS];
	int n = sqlite3_column_count(st);

	if (n > SQ_MAX_COLS)
		return sl__err(SL_ELIMIT, "sqlite: more than %d result columns", SQ_MAX_COLS);
	for (int i = 0; i < n; i++) {
		memset(&cols[i], 0, sizeof cols[i]);
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			cols[i].type = SQ_INT;
			cols[i].i = sqlite3_column_int64(st, i);
			break;
		case SQLITE_FLOAT:
			cols[i].type = SQ_REAL;
			cols[i].d = sqlite3_column_double(st, i);
			break;
		case SQLITE_NULL:
			cols[i].type = SQ_NULL;
			break;
		default: /* TEXT, and BLOB read as text: the store writes no blobs */
			cols[i].type = SQ_TEXT;
			cols[i].s = (const char *)sqlite3_column_text(st, i);
			if (!cols[i].s)
				return sl__err(SL_ENOMEM, "sqlite: out of memory reading a column");
			break;
		}
	}
	return fn(ud, n, cols);
}

static int sq_exec(void *conn, const char *sql, int nparams, const sq_val *params, sq_row_fn fn,
		   void *ud)
{
	sq_conn *c = conn;
	sq_slot *sl = NULL;
	sqlite3_stmt *st = NULL;
	double start = 0;
	unsigned delay = 0;
	bool got_row = false;
	int rc;

	if (!c || !sql || (nparams > 0 && !params))
		return sl__err(SL_EINVAL, "sqlite: exec: invalid argument");
	rc = sq_stmt_get(c, sql, &sl, &st);
	if (rc)
		return rc;
	rc = sq_bind(c, st, sql, nparams, params);
	while (rc == 0) {
		int src = sqlite3_step(st);

		if (src == SQLITE_ROW) {
			got_row = true;
			if (fn)
				rc = sq_row(st, fn, ud);
			continue;
		}
		if (src == SQLITE_DONE)
			break;
		if (!got_row && sq_retryable(src) && sq_backoff(c, &start, &delay)) {
			sqlite3_reset(st);
			continue;
		}
		rc = sq_fail(c, src, sql);
	}
	sq_stmt_put(sl, st);
	return rc;
}

/*
 * Copies a schema script with its SQLite hints switched on: a block comment
 * whose text starts with "sqlite:" is replaced by the rest of its text.
 * Portable scripts carry SQLite-only table options this way (WITHOUT ROWID
 * saves a separate primary-key b-tree, so one page write per table and
 * transaction); every other backend reads them as comments.
 */
static char *sq_apply_hints(const char *sql)
{
	static const char hint[] = "/*sqlite:";
	size_t n = strlen(sql);
	char *out = sl__malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	while (*sql) {
		const char *end;

		if (strncmp(sql, hint, sizeof hint - 1) == 0 && (end = strstr(sql, "*/")) != NULL) {
			size_t len = (size_t)(end - sql) - (sizeof hint - 1);
			memcpy(o, sql + sizeof hint - 1, len);
			o += len;
			sql = end + 2;
			continue;
		}
		*o++ = *sql++;
	}
	*o = '\0';
	return out;
}

static int sq_exec_script(void *conn, const char *script)
{
	sq_conn *c = conn;
	char *msg = NULL, *sql;
	int rc;

	if (!c || !script)
		return sl__err(SL_EINVAL, "sqlite: exec_script: invalid argument");
	if (!(sql = sq_apply_hints(script)))
		return sl__err(SL_ENOMEM, "sqlite: out of memory preparing a schema script");
	rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
	sl__free(sql);
	if (rc != SQLITE_OK) {
		int code = (rc & 0xff) == SQLITE_BUSY ? SL_EBUSY
			   : (rc & 0xff) == SQLITE_NOMEM ? SL_ENOMEM
							  : SL_ESTORE;
		sl__err(code, "sqlite %s: %s (in schema script)", c->path,
			msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return code;
	}
	return 0;
}

/* ---- transactions ------------------------------------------------------------------ */

static int sq_begin(void *conn, bool write)
{
	/* sq_exec retries SQLITE_BUSY on BEGIN (design note 4). */
	return sq_exec(conn, write ? "BEGIN IMMEDIATE" : "BEGIN", 0, NULL, NULL, NULL);
}

static int sq_commit(void *conn)
{
	/* A COMMIT that fails with SQLITE_BUSY leaves the transaction open, so retrying is sound. */
	return sq_exec(conn, "COMMIT", 0, NULL, NULL, NULL);
}

static int sq_rollback(void *conn)
{
	sq_conn *c = conn;

	/* Some errors (I/O, out of memory) have already rolled the transaction back. */
	if (!c || sqlite3_get_autocommit(c->db))
		return 0;
	return sq_exec(conn, "ROLLBACK", 0, NULL, NULL, NULL);
}

/* ---- open and close ---------------------------------------------------------------- */

static int sq_text_row(void *ud, int ncol, const sq_val *cols)
{
	char *out = ud;

	if (ncol > 0 && cols[0].type == SQ_TEXT)
		snprintf(out, 16, "%s", cols[0].s);
	return 0;
}

static void sq_close(void *conn)
{
	sq_conn *c = conn;

	if (!c)
		return;
	for (size_t i = 0; i < SQ_CACHE_SLOTS; i++)
		sq_slot_clear(&c->slots[i]);
	sqlite3_close_v2(c->db);
	sl__free(c->path);
	sl__free(c);
}

static int sq_open(const char *target, void **out_conn)
{
	sq_conn *c;
	char mode[16] = "";
	int rc;

	*out_conn = NULL;
	if (!target || !*target)
		return sl__err(SL_EINVAL, "sqlite: empty database path");
	c = sl__calloc(1, sizeof *c);
	if (!c || !(c->path = sl__strdup(target))) {
		sl__free(c);
		return sl__err(SL_ENOMEM, "sqlite: out of memory opening %s", target);
	}
	/* Processes that collide must draw different delays: seeded per
	 * process, time and connection, not reproducibly. */
	sl__rng_seed(&c->rnd, (uint64_t)getpid() * 2654435761u ^ (uint64_t)sl__now_ms() ^
				      (uint64_t)(uintptr_t)c);

	rc = sqlite3_open_v2(target, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (c->db)
			sq_fail(c, rc, "open");
		else
			sl__err(SL_ENOMEM, "sqlite %s: %s", target, sqlite3_errstr(rc));
		rc = (rc & 0xff) == SQLITE_NOMEM ? SL_ENOMEM : SL_ESTORE;
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, SQ_BUSY_TIMEOUT_MS);

	/*
	 * The journal mode is persistent in the file; setting it on an existing
	 * WAL database is a no-op. On a fresh file that two processes open at once
	 * the switch needs a brief exclusive lock, which sq_exec waits for.
	 */
	rc = sq_exec(c, "PRAGMA journal_mode=WAL", 0, NULL, sq_text_row, mode);
	if (rc)
		goto fail;
	if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
		rc = sl__err(SL_ESTORE, "sqlite %s: cannot use WAL journal mode (got \"%s\")",
			     target, mode);
		goto fail;
	}
	if ((rc = sq_exec(c, "PRAGMA synchronous=NORMAL", 0, NULL, NULL, NULL)) != 0 ||
	    (rc = sq_exec(c, "PRAGMA foreign_keys=ON", 0, NULL, NULL, NULL)) != 0)
		goto fail;
	*out_conn = c;
	return 0;

fail:
	sq_close(c);
	return rc;
}

const store_driver store_sqlite_driver = {
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.exec_script = sq_exec_script,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
};
