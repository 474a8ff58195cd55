/*
 * The PostgreSQL backend of the store's SQL driver interface
 * (store_pg_driver, see store.h), over libpq. Like sqlite.c it executes
 * single statements with bound parameters, hands rows to a callback and
 * manages transactions; it knows nothing of runs or artifacts. A team
 * points several machines' `sluice` at one server and shares one history.
 *
 * Design notes (the invariants this file keeps):
 *
 *  1. One blocking libpq connection per store handle; the store serialises
 *     its calls with its own mutex. libpq's notices (CREATE TABLE IF NOT
 *     EXISTS says "skipping") are dropped: nothing below the CLI prints.
 *  2. Writers are serialised as SQLite serialises them, so the store's
 *     portable SQL keeps one meaning on both backends. A write transaction
 *     is BEGIN ISOLATION LEVEL READ COMMITTED followed, in the same round
 *     trip, by pg_advisory_xact_lock(PG_WRITE_LOCK): the store's write lock,
 *     held until COMMIT or ROLLBACK and released by the server when a
 *     client dies. Because every writer holds it from its first statement,
 *     a sequence number taken as MAX(seq) + 1 inside a write transaction
 *     cannot be taken twice (each statement of a READ COMMITTED transaction
 *     sees everything committed before it, and nothing else commits while
 *     the lock is held), and no two writers can deadlock on rows. Readers
 *     take no lock: a read transaction is REPEATABLE READ, READ ONLY, one
 *     snapshot for all its statements, which never waits and never fails
 *     on a conflict.
 *  3. Conflicts are still possible with writers that do not follow note 2
 *     (an administrator's session, a tool of the user's): a statement that
 *     fails with a serialization failure (40001) or a deadlock (40P01)
 *     outside a transaction is retried here with a jittered backoff; inside
 *     one, conflict() says so and the store runs the whole transaction
 *     again (st_txn in store.c).
 *  4. Ordering is byte-wise whatever the database's collation: schema
 *     scripts are portable SQL, and exec_script declares every TEXT column
 *     COLLATE "C" (pg_ddl), so ORDER BY, id prefix ranges (store.c, note 6)
 *     and comparisons give the same answers as SQLite's BINARY collation.
 *  5. "?" placeholders are rewritten to $1, $2 ... outside quotes and
 *     comments, and each statement text is prepared once per connection
 *     and cached (an LRU of PG_CACHE_SLOTS): an exec is one round trip.
 *     Parameter types are left to the server, which infers them from the
 *     statement; values travel as text.
 *  6. A result is read whole before the first row is handed over, so a row
 *     callback may call exec again on the same connection. Column values
 *     are typed by the result's type OIDs: integers and booleans as
 *     SQ_INT, floats as SQ_REAL, a numeric with no fraction (SUM over
 *     BIGINT) as SQ_INT as SQLite gives it, everything else as text.
 *  7. A lost connection is never healed inside a transaction: the server
 *     rolled it back, so every later statement of it fails, and COMMIT
 *     says the outcome is unknown. Outside a transaction (at BEGIN, or
 *     before an autocommit statement) the connection is re-established,
 *     waiting up to SLUICE_STORE_WAIT seconds (default 60) counted from the
 *     first failure, so a restarted server costs a delay, not a run; once
 *     the wait is used up, each call tries once more at most every
 *     PG_RETRY_GAP seconds and fails at once in between, so a run that
 *     stops because its store is gone stops promptly. An autocommit SELECT
 *     cut off by a lost connection is run again on the new one; any other
 *     statement is not, since it may have been applied.
 *  8. Messages carry the server's own text and SQLSTATE, the connection
 *     URL with its password hidden (sl__pg_redact) and the statement.
 *     Codes: a duplicate key is SL_EEXIST, a conflict or a lock wait that
 *     timed out SL_EBUSY, everything else SL_ESTORE.
 *  9. Text goes in as UTF-8 (sl__utf8_clean: each byte that starts no valid
 *     sequence becomes '?'), which a UTF8 database demands; a step's error
 *     output may be any bytes. sqlite.c stores the same, so both backends
 *     answer with the same text.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "rng.h"
#include "store.h"

#define PG_CACHE_SLOTS 64
#define PG_MAX_COLS 64
#define PG_MAX_PARAMS 256
#define PG_RETRY_LIMIT_SEC 30.0  /* conflicts of autocommit statements */
#define PG_DEFAULT_WAIT_SEC 60.0 /* SLUICE_STORE_WAIT */
#define PG_RETRY_GAP 5.0
/* The store's write lock (note 2): "sluice" in ASCII, then 1. */
#define PG_WRITE_LOCK "8317151707346042881"

/* Type OIDs (pg_type.dat; stable across releases). */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
       OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

typedef struct pg_slot {
	char *sql;     /* the statement as the store wrote it; NULL when empty */
	uint64_t hash; /* sl__hash64 of sql */
	int nparams;
	uint64_t used; /* LRU clock */
	char name[24]; /* the prepared statement's name on this connection */
} pg_slot;

typedef struct pg_conn {
	PGconn *pc;
	char *shown;      /* the target with its password hidden, for messages */
	bool txn;         /* begin() succeeded and no commit/rollback yet */
	bool conflict;    /* the last failure was 40001 or 40P01 */
	double wait_sec;  /* SLUICE_STORE_WAIT */
	double down_since; /* monotonic time of the first failed reconnect, 0 when up */
	double last_try;   /* of the last reconnect attempt */
	uint64_t clock, names;
	sl__rng rng;       /* backoff jitter */
	pg_slot slots[PG_CACHE_SLOTS];
	sl__buf sql;       /* a rewritten statement */
	char (*num)[32];   /* text of numeric parameters */
	const char **vals;
	char **clean;      /* cleaned copies of text parameters (note 9), or NULL */
	size_t cap;
} pg_conn;

/* ---- errors ------------------------------------------------------------------- */

static void pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int pg_fail_text(pg_conn *c, int code, const char *what, const char *text,
			const char *sql)
{
	sl__buf b;

	sl__buf_init(&b, SL__ERRMSG_MAX);
	sl__fold_lines(&b, text && *text ? text : "unknown error");
	while (b.len > 0 && (b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '.'))
		b.data[--b.len] = '\0';
	if (sql)
		sl__err(code, "postgresql %s: %s%s%s (in \"%.60s%s\")", c->shown, what ? what : "",
			what ? ": " : "", b.data ? b.data : "", sql, strlen(sql) > 60 ? "..." : "");
	else
		sl__err(code, "postgresql %s: %s%s%s", c->shown, what ? what : "", what ? ": " : "",
			b.data ? b.data : "");
	sl__buf_free(&b);
	return code;
}

/* The failure of a statement: its result's SQLSTATE decides the code (note 8). */
static int pg_fail(pg_conn *c, const PGresult *res, const char *sql)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char text[SL__ERRMSG_MAX];
	int code = SL_ESTORE;

	c->conflict = false;
	if (!state || PQstatus(c->pc) == CONNECTION_BAD) {
		/* No answer from the server: the connection broke (note 7). */
		return pg_fail_text(c, SL_ESTORE, c->txn ? "the connection was lost; the server "
						  "rolled the transaction back"
						: "the connection was lost",
				    PQerrorMessage(c->pc), sql);
	}
	if (!strcmp(state, "23505"))
		code = SL_EEXIST;
	else if (!strcmp(state, "40001") || !strcmp(state, "40P01")) {
		c->conflict = true;
		code = SL_EBUSY;
	} else if (!strcmp(state, "55P03"))
		code = SL_EBUSY;
	snprintf(text, sizeof text, "%s (SQLSTATE %s)%s%s", msg ? msg : PQresultErrorMessage(res),
		 state, detail ? "; " : "", detail ? detail : "");
	if (!strcmp(state, "55P03"))
		return pg_fail_text(c, code, "another process has held the metadata store's write "
					     "lock for longer than lock_timeout", text, sql);
	return pg_fail_text(c, code, NULL, text, sql);
}

/* ---- backoff and reconnection ------------------------------------------------- */

/*
 * After a conflict outside a transaction: waits (note 3) and says whether
 * to try again, until PG_RETRY_LIMIT_SEC after the first (*start == 0).
 */
static bool pg_again(pg_conn *c, double *start, unsigned *delay_us)
{
	double now = sl__mono_sec();

	if (*start == 0)
		*start = now;
	if (now - *start >= PG_RETRY_LIMIT_SEC)
		return false;
	sl__rng_backoff(&c->rng, delay_us, 1000, 100000);
	return true;
}

static void pg_slots_forget(pg_conn *c)
{
	for (size_t i = 0; i < PG_CACHE_SLOTS; i++) {
		sl__free(c->slots[i].sql);
		memset(&c->slots[i], 0, sizeof c->slots[i]);
	}
}

/* The session's settings, after every (re)connection. */
static int pg_session(pg_conn *c)
{
	/* lock_timeout bounds the wait for the write lock (note 2); an idle
	 * transaction (a client stopped while holding the lock) is ended by the
	 * server after five minutes. */
	PGresult *res = PQexec(c->pc, "SET lock_timeout = '60s'; "
				      "SET idle_in_transaction_session_timeout = '300s'; "
				      "SET client_min_messages = warning");
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_fail(c, res, "session settings");

	PQclear(res);
	return rc;
}

/*
 * Brings a broken connection back (note 7). Called only outside a
 * transaction, so nothing of the store's is lost by it.
 */
static int pg_reconnect(pg_conn *c)
{
	unsigned delay = 0;
	double now = sl__mono_sec();

	if (c->down_since && now - c->down_since > c->wait_sec && now - c->last_try < PG_RETRY_GAP)
		return pg_fail_text(c, SL_ESTORE, "the server is unreachable",
				    PQerrorMessage(c->pc), NULL);
	for (;;) {
		c->last_try = sl__mono_sec();
		PQreset(c->pc);
		if (PQstatus(c->pc) == CONNECTION_OK) {
			pg_slots_forget(c);
			c->down_since = 0;
			return pg_session(c);
		}
		if (!c->down_since)
			c->down_since = c->last_try;
		if (sl__mono_sec() - c->down_since > c->wait_sec) {
			char what[96];
			snprintf(what, sizeof what, "the server has been unreachable for %.0f s",
				 sl__mono_sec() - c->down_since);
			return pg_fail_text(c, SL_ESTORE, what, PQerrorMessage(c->pc), NULL);
		}
		sl__rng_backoff(&c->rng, &delay, 1000, 2000000);
	}
}

/* ---- statements ---------------------------------------------------------------- */

/*
 * Rewrites "?" placeholders to $1, $2 ... into c->sql, leaving quoted text,
 * quoted names and comments alone. *out_n receives the count.
 */
static int pg_rewrite(pg_conn *c, const char *sql, int *out_n)
{
	int n = 0, rc = 0;

	sl__buf_reset(&c->sql);
	for (const char *p = sql; *p && rc == 0;) {
		const char *q = p;

		if (*p == '\'' || *p == '"') {
			char quote = *p;
			for (q = p + 1; *q; q++)
				if (*q == quote) {
					if (q[1] != quote)
						break;
					q++; /* a doubled quote stands for itself */
				}
			q += *q ? 1 : 0;
		} else if (p[0] == '-' && p[1] == '-') {
			q = p + strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			q = end ? end + 2 : p + strlen(p);
		} else if (*p == '?') {
			rc = sl__buf_printf(&c->sql, "$%d", ++n);
			p++;
			continue;
		} else {
			q = p + 1;
		}
		rc = sl__buf_append(&c->sql, p, (size_t)(q - p));
		p = q;
	}
	if (rc == 0)
		rc = sl__buf_putc(&c->sql, '\0');
	if (rc)
		return sl__oom();
	*out_n = n;
	return 0;
}

/*
 * The prepared statement for sql: from the cache, or prepared now in the
 * least recently used slot (whose statement is deallocated first).
 */
static int pg_prepare(pg_conn *c, const char *sql, pg_slot **out)
{
	uint64_t h = sl__hash64(sql, strlen(sql));
	pg_slot *victim = &c->slots[0];
	PGresult *res;
	int n = 0, rc;

	for (size_t i = 0; i < PG_CACHE_SLOTS; i++) {
		pg_slot *sl = &c->slots[i];
		if (sl->sql && sl->hash == h && !strcmp(sl->sql, sql)) {
			sl->used = ++c->clock;
			*out = sl;
			return 0;
		}
		if (!sl->sql || (victim->sql && sl->used < victim->used))
			victim = sl;
	}
	if ((rc = pg_rewrite(c, sql, &n)) != 0)
		return rc;
	if (victim->sql) {
		char dealloc[48];
		snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", victim->name);
		PQclear(PQexec(c->pc, dealloc)); /* a failure leaves an unused name behind: harmless */
		sl__free(victim->sql);
		memset(victim, 0, sizeof *victim);
	}
	snprintf(victim->name, sizeof victim->name, "sl%llu", (unsigned long long)++c->names);
	res = PQprepare(c->pc, victim->name, c->sql.data, n, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = pg_fail(c, res, sql);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	if (!(victim->sql = sl__strdup(sql))) {
		/* The statement stays prepared under a name nobody will use. */
		return sl__oom();
	}
	victim->hash = h;
	victim->nparams = n;
	victim->used = ++c->clock;
	*out = victim;
	return 0;
}

static void pg_params_free(pg_conn *c)
{
	for (size_t i = 0; c->clean && i < c->cap; i++) {
		sl__free(c->clean[i]);
		c->clean[i] = NULL;
	}
}

/* The text of each parameter in c->vals (NULL for SQL NULL). */
static int pg_params(pg_conn *c, int n, const sq_val *params)
{
	if ((size_t)n > c->cap) {
		size_t cap = (size_t)n;
		char(*num)[32] = sl__reallocarray(c->num, cap, sizeof *num);
		const char **vals;
		char **clean;
		if (!num)
			return sl__oom();
		c->num = num;
		vals = sl__reallocarray(c->vals, cap, sizeof *vals);
		if (!vals)
			return sl__oom();
		c->vals = vals;
		clean = sl__reallocarray(c->clean, cap, sizeof *clean);
		if (!clean)
			return sl__oom();
		memset(clean + c->cap, 0, (cap - c->cap) * sizeof *clean);
		c->clean = clean;
		c->cap = cap;
	}
	for (int i = 0; i < n; i++) {
		const sq_val *v = &params[i];
		switch (v->type) {
		case SQ_INT:
			snprintf(c->num[i], sizeof c->num[i], "%lld", (long long)v->i);
			c->vals[i] = c->num[i];
			break;
		case SQ_REAL:
			if (isnan(v->d))
				snprintf(c->num[i], sizeof c->num[i], "NaN");
			else if (isinf(v->d))
				snprintf(c->num[i], sizeof c->num[i], "%sInfinity", v->d < 0 ? "-" : "");
			else
				snprintf(c->num[i], sizeof c->num[i], "%.17g", v->d);
			c->vals[i] = c->num[i];
			break;
		case SQ_TEXT:
			/* The server refuses bytes that are not UTF-8 (note 9). */
			if (v->s && sl__utf8_clean(v->s, &c->clean[i]) != 0)
				return SL_ENOMEM;
			c->vals[i] = c->clean[i] ? c->clean[i] : v->s;
			break;
		case SQ_NULL:
			c->vals[i] = NULL;
			break;
		default:
			return sl__err(SL_EINVAL, "postgresql: parameter %d has unknown type %d", i + 1,
				       v->type);
		}
	}
	return 0;
}

/* A numeric's text as an integer when it has no fraction and fits (note 6). */
static bool pg_integral(const char *s, int64_t *out)
{
	const char *p = s + (*s == '-');

	if (!*p || strspn(p, "0123456789") != strlen(p))
		return false;
	return sl__parse_i64(s, out);
}

/* Hands each row of res to fn (note 6). */
static int pg_rows(const PGresult *res, sq_row_fn fn, void *ud)
{
	int nrow = PQntuples(res), ncol = PQnfields(res);
	sq_val cols[PG_MAX_COLS];
	Oid types[PG_MAX_COLS];

	if (!fn || nrow == 0)
		return 0;
	if (ncol > PG_MAX_COLS)
		return sl__err(SL_ELIMIT, "postgresql: more than %d result columns", PG_MAX_COLS);
	for (int j = 0; j < ncol; j++)
		types[j] = PQftype(res, j);
	for (int r = 0; r < nrow; r++) {
		int rc;
		for (int j = 0; j < ncol; j++) {
			const char *s = PQgetvalue(res, r, j);
			sq_val *v = &cols[j];

			memset(v, 0, sizeof *v);
			if (PQgetisnull(res, r, j)) {
				v->type = SQ_NULL;
				continue;
			}
			switch (types[j]) {
			case OID_INT2:
			case OID_INT4:
			case OID_INT8:
			case OID_OID:
				v->type = SQ_INT;
				v->i = strtoll(s, NULL, 10);
				break;
			case OID_BOOL:
				v->type = SQ_INT;
				v->i = s[0] == 't';
				break;
			case OID_NUMERIC:
				if (pg_integral(s, &v->i)) {
					v->type = SQ_INT;
				} else { /* a fraction, or too large */
					v->type = SQ_REAL;
					v->d = strtod(s, NULL);
				}
				break;
			case OID_FLOAT4:
			case OID_FLOAT8:
				v->type = SQ_REAL;
				v->d = strtod(s, NULL); /* "NaN", "Infinity" included */
				break;
			default:
				v->type = SQ_TEXT;
				v->s = s;
				break;
			}
		}
		if ((rc = fn(ud, ncol, cols)) != 0)
			return rc;
	}
	return 0;
}

/* True for a statement that only reads, so running it again is harmless (note 7). */
static bool pg_is_select(const char *sql)
{
	while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '(')
		sql++;
	return !strncasecmp(sql, "SELECT", 6) || !strncasecmp(sql, "WITH", 4);
}

static int pg_exec_bound(pg_conn *c, const char *sql, int nparams, sq_row_fn fn, void *ud);

static int pg_exec(void *conn, const char *sql, int nparams, const sq_val *params, sq_row_fn fn,
		   void *ud)
{
	pg_conn *c = conn;
	int rc;

	if (!c || !sql || nparams < 0 || nparams > PG_MAX_PARAMS || (nparams > 0 && !params))
		return sl__err(SL_EINVAL, "postgresql: exec: invalid argument");
	c->conflict = false;
	rc = pg_params(c, nparams, params);
	if (rc == 0)
		rc = pg_exec_bound(c, sql, nparams, fn, ud);
	pg_params_free(c);
	return rc;
}

/* Runs sql with the parameters pg_params left in c->vals (notes 5-7). */
static int pg_exec_bound(pg_conn *c, const char *sql, int nparams, sq_row_fn fn, void *ud)
{
	double start = 0;
	unsigned delay = 0;
	bool replanned = false;
	int rc;

	for (;;) {
		pg_slot *sl = NULL;
		PGresult *res;
		ExecStatusType st;
		char state[8];

		if (PQstatus(c->pc) != CONNECTION_OK) {
			if (c->txn)
				return pg_fail_text(c, SL_ESTORE, "the connection was lost; the server "
								  "rolled the transaction back",
						    PQerrorMessage(c->pc), sql);
			if ((rc = pg_reconnect(c)) != 0)
				return rc;
		}
		if ((rc = pg_prepare(c, sql, &sl)) != 0) {
			if (PQstatus(c->pc) == CONNECTION_BAD && !c->txn)
				continue; /* nothing ran: reconnect and prepare again */
			return rc;
		}
		if (!sl || sl->nparams != nparams)
			return sl__err(SL_EINVAL, "postgresql: statement wants %d parameters, got %d "
						  "(\"%.60s\")", sl ? sl->nparams : -1, nparams, sql);
		res = PQexecPrepared(c->pc, sl->name, nparams, c->vals, NULL, NULL, 0);
		st = PQresultStatus(res);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			rc = pg_rows(res, fn, ud);
			PQclear(res);
			return rc;
		}
		snprintf(state, sizeof state, "%s",
			 res && PQresultErrorField(res, PG_DIAG_SQLSTATE)
				 ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				 : "");
		rc = pg_fail(c, res, sql);
		PQclear(res);
		if (!c->txn && c->conflict) {
			if (pg_again(c, &start, &delay))
				continue;
		} else if (!c->txn && PQstatus(c->pc) == CONNECTION_BAD && pg_is_select(sql)) {
			continue;
		} else if (!strcmp(state, "0A000") && !replanned && !c->txn) {
			/* "cached plan must not change result type": a migration by
			 * another process changed a table under our prepared statement. */
			replanned = true;
			pg_slots_forget(c);
			PQclear(PQexec(c->pc, "DEALLOCATE ALL"));
			continue;
		}
		return rc;
	}
}

/* ---- schema scripts ------------------------------------------------------------ */

/* The next token of a script: a word, or one character; comments and quotes skipped. */
static const char *pg_token(const char *p, const char **tok, size_t *len)
{
	for (;;) {
		while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
			p++;
		if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
			continue;
		}
		if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			p = end ? end + 2 : p + strlen(p);
			continue;
		}
		break;
	}
	*tok = p;
	if (*p == '\'' || *p == '"') {
		char quote = *p;
		const char *q = p + 1;
		while (*q && !(*q == quote && q[1] != quote))
			q += *q == quote ? 2 : 1;
		*len = (size_t)(q - p) + (*q ? 1 : 0);
	} else if (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
		const char *q = p;
		while (*q == '_' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		       (*q >= '0' && *q <= '9'))
			q++;
		*len = (size_t)(q - p);
	} else {
		*len = *p ? 1 : 0;
	}
	return p + *len;
}

static bool tok_is(const char *tok, size_t len, const char *word)
{
	return len == strlen(word) && !strncasecmp(tok, word, len);
}

static bool tok_word(const char *tok, size_t len)
{
	return len > 0 && (*tok == '_' || (*tok >= 'a' && *tok <= 'z') || (*tok >= 'A' && *tok <= 'Z'));
}

/*
 * A schema script with every TEXT column declared COLLATE "C" (note 4): a
 * TEXT that follows a column name, which follows "(", "," or COLUMN, as in
 * CREATE TABLE t (a TEXT, ...) and ALTER TABLE t ADD COLUMN a TEXT. A TEXT
 * anywhere else (CAST(x AS TEXT)) is left alone. Newly allocated.
 */
static char *pg_ddl(const char *script)
{
	sl__buf b;
	const char *p = script, *tok, *t1 = NULL, *t2 = NULL;
	size_t len, l1 = 0, l2 = 0;
	int rc = 0;

	sl__buf_init(&b, 0);
	while (rc == 0) {
		const char *next = pg_token(p, &tok, &len);
		if (len == 0)
			break;
		rc = sl__buf_append(&b, p, (size_t)(next - p));
		if (rc == 0 && tok_is(tok, len, "TEXT") && t1 && tok_word(t1, l1) &&
		    !tok_is(t1, l1, "AS") && t2 &&
		    (tok_is(t2, l2, "(") || tok_is(t2, l2, ",") || tok_is(t2, l2, "COLUMN")))
			rc = sl__buf_puts(&b, " COLLATE \"C\"");
		t2 = t1;
		l2 = l1;
		t1 = tok;
		l1 = len;
		p = next;
	}
	if (rc == 0)
		rc = sl__buf_puts(&b, p);
	if (rc) {
		sl__buf_free(&b);
		return NULL;
	}
	return b.data ? sl__buf_detach(&b) : sl__strdup("");
}

static int pg_exec_script(void *conn, const char *script)
{
	pg_conn *c = conn;
	PGresult *res;
	char *sql;
	int rc;

	if (!c || !script)
		return sl__err(SL_EINVAL, "postgresql: exec_script: invalid argument");
	if (!c->txn && PQstatus(c->pc) != CONNECTION_OK && (rc = pg_reconnect(c)) != 0)
		return rc;
	if (!(sql = pg_ddl(script)))
		return sl__oom();
	res = PQexec(c->pc, sql);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK
		     ? 0
		     : pg_fail(c, res, "schema script");
	PQclear(res);
	sl__free(sql);
	return rc;
}

/* ---- transactions ---------------------------------------------------------------- */

static int pg_begin(void *conn, bool write)
{
	pg_conn *c = conn;
	const char *sql = write ? "BEGIN ISOLATION LEVEL READ COMMITTED; "
				  "SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK ")"
				: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
	double start = 0;
	unsigned delay = 0;

	if (!c)
		return sl__err(SL_EINVAL, "postgresql: begin: invalid argument");
	if (c->txn)
		return sl__err(SL_EINVAL, "postgresql: begin inside a transaction");
	c->conflict = false;
	for (;;) {
		PGresult *res;
		ExecStatusType st;
		int rc;

		if (PQstatus(c->pc) != CONNECTION_OK && (rc = pg_reconnect(c)) != 0)
			return rc;
		res = PQexec(c->pc, sql);
		st = PQresultStatus(res);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			PQclear(res);
			c->txn = true;
			return 0;
		}
		rc = pg_fail(c, res, write ? "BEGIN (write)" : "BEGIN");
		PQclear(res);
		if (PQstatus(c->pc) == CONNECTION_BAD)
			continue; /* nothing of ours ran: connect again */
		/* BEGIN went through and the lock did not: end that transaction. */
		PQclear(PQexec(c->pc, "ROLLBACK"));
		if (c->conflict && pg_again(c, &start, &delay))
			continue;
		return rc;
	}
}

static int pg_commit(void *conn)
{
	pg_conn *c = conn;
	PGresult *res;
	int rc = 0;

	if (!c || !c->txn)
		return sl__err(SL_EINVAL, "postgresql: commit without a transaction");
	c->conflict = false;
	res = PQexec(c->pc, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (PQstatus(c->pc) == CONNECTION_BAD)
			rc = pg_fail_text(c, SL_ESTORE, "the connection was lost while committing; "
							"whether the last change was recorded is unknown",
					  PQerrorMessage(c->pc), NULL);
		else
			rc = pg_fail(c, res, "COMMIT");
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* A transaction aborted by an earlier error "commits" as a rollback. */
		rc = pg_fail_text(c, SL_ESTORE, "the server rolled the transaction back",
				  "a statement in it had failed", NULL);
	}
	PQclear(res);
	/* A failed COMMIT still ends the transaction on the server. */
	c->txn = false;
	return rc;
}

static int pg_rollback(void *conn)
{
	pg_conn *c = conn;
	PGresult *res;
	int rc = 0;

	if (!c)
		return 0;
	c->txn = false;
	if (PQstatus(c->pc) != CONNECTION_OK)
		return 0; /* the server rolled it back when the connection broke */
	res = PQexec(c->pc, "ROLLBACK");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(c, res, "ROLLBACK");
	PQclear(res);
	return rc;
}

static bool pg_conflict(void *conn)
{
	return conn && ((pg_conn *)conn)->conflict;
}

/* ---- open and close ------------------------------------------------------------------ */

static void pg_close(void *conn)
{
	pg_conn *c = conn;

	if (!c)
		return;
	PQfinish(c->pc);
	pg_slots_forget(c);
	sl__buf_free(&c->sql);
	pg_params_free(c);
	sl__free(c->clean);
	sl__free(c->num);
	sl__free(c->vals);
	sl__free(c->shown);
	sl__free(c);
}

static double pg_wait_setting(void)
{
	const char *v = getenv("SLUICE_STORE_WAIT");
	double d;

	if (v && *v && sl__parse_f64(v, &d) && d >= 0 && d < 1e7)
		return d;
	return PG_DEFAULT_WAIT_SEC;
}

/*
 * target is the whole URL (postgresql://...) or a libpq key=value string.
 * The first connection is not retried: a wrong address or password is
 * reported at once.
 */
static int pg_open(const char *target, void **out_conn)
{
	/* Ours first: the target's own settings (a connect_timeout in the URL)
	 * override them; keepalives and a user timeout notice a server that
	 * vanished without closing the connection. */
	const char *kw[] = {"connect_timeout", "fallback_application_name", "keepalives",
			    "keepalives_idle", "keepalives_interval", "keepalives_count",
			    "tcp_user_timeout", "dbname", "client_encoding", NULL};
	const char *val[] = {"10", "sluice", "1", "30", "10", "3", "60000", target, "UTF8", NULL};
	pg_conn *c;
	int rc;

	*out_conn = NULL;
	if (!target || !*target)
		return sl__err(SL_EINVAL, "postgresql: empty connection URL");
	c = sl__calloc(1, sizeof *c);
	if (!c || !(c->shown = sl__pg_redact(target))) {
		sl__free(c);
		return sl__oom();
	}
	sl__buf_init(&c->sql, 0);
	c->wait_sec = pg_wait_setting();
	sl__rng_seed(&c->rng, (uint64_t)getpid() << 32 ^ (uint64_t)sl__now_ms());
	c->pc = PQconnectdbParams(kw, val, 1);
	if (!c->pc) {
		pg_close(c);
		return sl__oom();
	}
	PQsetNoticeProcessor(c->pc, pg_notice, NULL);
	if (PQstatus(c->pc) != CONNECTION_OK) {
		rc = pg_fail_text(c, SL_ESTORE, "cannot connect", PQerrorMessage(c->pc), NULL);
		pg_close(c);
		return rc;
	}
	if ((rc = pg_session(c)) != 0) {
		pg_close(c);
		return rc;
	}
	*out_conn = c;
	return 0;
}

const store_driver store_pg_driver = {
	.scheme = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.exec_script = pg_exec_script,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.conflict = pg_conflict,
};
