/*
 * Team access in the metadata store (store.h): the users table (a name, a
 * role, the SHA-256 of the current token) and the audit log. What a role
 * may do, how tokens are made and checked, and who a request is, belong to
 * src/access; this file only keeps the rows.
 *
 * Invariants:
 *  1. No plain token ever reaches the store: store_user_set_token takes a
 *     hash and refuses anything but 64 hex digits.
 *  2. Setting a token replaces the hash in one UPDATE, so from its commit
 *     on the old token's hash names no user (rotation).
 *  3. The audit log is append-only: this file inserts its rows and has no
 *     statement that updates or deletes one. seq is MAX(seq) + 1 inside
 *     the write transaction (store.c, design note 5); id, random, is the
 *     key a copy into another store goes by (store_copy.c).
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define AUDIT_MAX_FILTERS 8

static int check_text(const char *what, const char *v, size_t max)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0)
		return sl__err(SL_EINVAL, "%s is empty", what);
	if (n > max)
		return sl__err(SL_EINVAL, "%s is longer than %zu bytes", what, max);
	return 0;
}

int store_user_add(store *s, const char *name, const char *role, const char *created_by)
{
	char by[128];
	st_one_i64 inserted = {0};
	st_retry r = {0};
	int rc;

	if (!s)
		return sl__err(SL_EINVAL, "store_user_add: store is NULL");
	if ((rc = check_text("a user name", name, STORE_NAME_MAX)) ||
	    (rc = check_text("a role", role, STORE_ROLE_MAX)))
		return rc;
	if (created_by)
		snprintf(by, sizeof by, "%s", created_by);
	else
		sl__user_name(by, sizeof by);
	st_lock(s);
	do {
		sq_val p[] = {S(name), S(role), SQ_I(sl__now_ms()), S(by)};
		inserted = (st_one_i64){0};
		rc = st_begin(s, true);
		if (rc == 0)
			rc = Q(s,
			       "INSERT INTO users (name, role, created_ms, created_by) "
			       "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
			       p, st_row_one_i64, &inserted);
		if (rc == 0 && !inserted.found)
			rc = sl__err(SL_EEXIST,
				     "user '%s' exists already (sluice users list shows the users; "
				     "remove it first to change its role)",
				     name);
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	st_unlock(s);
	return rc;
}

/* Runs one statement on user name's row; SL_ENOENT when there is none. */
static int user_write(store *s, const char *name, const char *sql, sq_val *p, int np)
{
	st_one_i64 hit = {0};
	st_retry r = {0};
	int rc;

	if ((rc = check_text("a user name", name, STORE_NAME_MAX)))
		return rc;
	st_lock(s);
	do {
		hit = (st_one_i64){0};
		rc = st_begin(s, true);
		if (rc == 0)
			rc = s->drv->exec(s->conn, sql, np, p, st_row_one_i64, &hit);
		if (rc == 0 && !hit.found)
			rc = sl__err(SL_ENOENT, "no user '%s' (sluice users list shows the users)",
				     name);
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	st_unlock(s);
	return rc;
}

int store_user_remove(store *s, const char *name)
{
	sq_val p[] = {S(name)};

	if (!s)
		return sl__err(SL_EINVAL, "store_user_remove: store is NULL");
	return user_write(s, name, "DELETE FROM users WHERE name = ? RETURNING 1", p,
			  (int)SL__ARRAY_LEN(p));
}

int store_user_set_token(store *s, const char *name, const char *hash)
{
	sq_val p[] = {S(hash), SQ_I(sl__now_ms()), S(name)};

	if (!s)
		return sl__err(SL_EINVAL, "store_user_set_token: store is NULL");
	/* Invariant 1. */
	if (!hash || strlen(hash) != 64 || !st_is_hex(hash, 64))
		return sl__err(SL_EINVAL, "store_user_set_token: not a SHA-256 in hex");
	return user_write(s, name,
			  "UPDATE users SET token_hash = ?, token_ms = ? WHERE name = ? RETURNING 1",
			  p, (int)SL__ARRAY_LEN(p));
}

typedef struct user_hit {
	char *name, *role;
	bool found;
} user_hit;

static int row_user(void *ud, int ncol, const sq_val *c)
{
	user_hit *h = ud;

	if (h->found || ncol < 2 || c[0].type != SQ_TEXT || c[1].type != SQ_TEXT)
		return 0;
	snprintf(h->name, STORE_NAME_MAX + 1, "%s", c[0].s);
	snprintf(h->role, STORE_ROLE_MAX + 1, "%s", c[1].s);
	h->found = true;
	return 0;
}

int store_user_by_token(store *s, const char *hash, char *out_name, char *out_role,
			bool *out_found)
{
	user_hit h = {out_name, out_role, false};
	int rc;

	if (!s || !hash || !out_name || !out_role || !out_found)
		return sl__err(SL_EINVAL, "store_user_by_token: bad arguments");
	*out_found = false;
	st_lock(s);
	{
		sq_val p[] = {S(hash)};
		rc = Q(s, "SELECT name, role FROM users WHERE token_hash = ?", p, row_user, &h);
	}
	st_unlock(s);
	*out_found = rc == 0 && h.found;
	return rc;
}

int store_users_with_token(store *s, int64_t *out)
{
	st_one_i64 n = {0};
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_users_with_token: bad arguments");
	st_lock(s);
	rc = Q0(s, "SELECT COUNT(*) FROM users WHERE token_hash IS NOT NULL", st_row_one_i64, &n);
	st_unlock(s);
	*out = n.v;
	return rc;
}

static const jv_field user_fields[] = {
	{"name", JV_STR, 0, 0, NULL},	     {"role", JV_STR, 1, 0, NULL},
	{"created", JV_TIME, 2, 0, NULL},    {"created_by", JV_STR, 3, 0, NULL},
	{"token", JV_BOOL, 4, 0, NULL},	     {"token_created", JV_TIME, 5, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

int store_users_json(store *s, json_t **out)
{
	jv_ctx x = {.fields = user_fields, .dedup_col = -1};
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_users_json: bad arguments");
	*out = NULL;
	if (!(x.arr = json_array()))
		return st_nomem_json();
	st_lock(s);
	rc = Q0(s,
		"SELECT name, role, created_ms, created_by, "
		"CASE WHEN token_hash IS NULL THEN 0 ELSE 1 END, token_ms FROM users ORDER BY name",
		st_row_view, &x);
	st_unlock(s);
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return 0;
}

/* ---- the audit log ---------------------------------------------------------------- */

int store_audit_append(store *s, const store_audit *a)
{
	char id[17];
	st_one_i64 max = {0};
	st_retry r = {0};
	int rc;

	if (!s || !a)
		return sl__err(SL_EINVAL, "store_audit_append: bad arguments");
	if ((rc = check_text("an audit record's who", a->who, 256)) ||
	    (rc = check_text("an audit record's via", a->via, 32)) ||
	    (rc = check_text("an audit record's action", a->action, 128)) ||
	    (rc = check_text("an audit record's outcome", a->outcome, 32)))
		return rc;
	if ((rc = sl__random_hex(id, 16)))
		return rc;
	st_lock(s);
	do {
		max = (st_one_i64){0};
		rc = st_begin(s, true);
		if (rc == 0)
			rc = Q0(s, "SELECT MAX(seq) FROM audit", st_row_one_i64, &max);
		if (rc == 0) {
			sq_val p[] = {S(id),	      SQ_I((max.null ? 0 : max.v) + 1),
				      SQ_I(sl__now_ms()), S(a->who),
				      S(a->role),     S(a->via),
				      S(a->action),   S(a->target),
				      S(a->request),  S(a->outcome),
				      SQ_I(a->status), S(a->detail)};
			rc = Q(s,
			       "INSERT INTO audit (id, seq, at_ms, who, role, via, action, target, "
			       "request, outcome, status, detail) "
			       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       p, NULL, NULL);
		}
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	st_unlock(s);
	return rc;
}

static const jv_field audit_fields[] = {
	{"seq", JV_INT, 0, 0, NULL},	    {"at", JV_TIME, 1, 0, NULL},
	{"who", JV_STR, 2, 0, NULL},	    {"role", JV_STR, 3, 0, NULL},
	{"via", JV_STR, 4, 0, NULL},	    {"action", JV_STR, 5, 0, NULL},
	{"target", JV_STR, 6, 0, NULL},	    {"request", JV_STR, 7, 0, NULL},
	{"outcome", JV_STR, 8, 0, NULL},    {"status", JV_INT, 9, 0, NULL},
	{"detail", JV_STR, 10, 0, NULL},    {NULL, JV_STR, 0, 0, NULL},
};

/* A condition and its parameters, added to the query being built. */
typedef struct audit_q {
	sl__buf sql;
	sq_val p[AUDIT_MAX_FILTERS * 2];
	int n;
	char hi[2][STORE_NAME_MAX * 4 + 2]; /* the upper bounds of prefix ranges */
	int n_hi;
} audit_q;

static int cond_eq(audit_q *q, const char *col, const char *v)
{
	q->p[q->n++] = S(v);
	return sl__buf_printf(&q->sql, " AND %s = ?", col);
}

/*
 * col starts with prefix: a range over the index (store.c, design note
 * 6): prefix <= col < prefix with its last byte incremented.
 */
static int cond_prefix(audit_q *q, const char *col, const char *prefix, size_t n)
{
	char *hi = q->hi[q->n_hi++];

	if (n == 0 || n >= sizeof q->hi[0])
		return sl__err(SL_EINVAL, "a %s prefix of %zu bytes", col, n);
	memcpy(hi, prefix, n);
	hi[n] = 0;
	/* A last byte of 0xff cannot be incremented; the range is then open above. */
	if ((unsigned char)hi[n - 1] == 0xff) {
		q->p[q->n++] = S(hi);
		return sl__buf_printf(&q->sql, " AND %s >= ?", col);
	}
	q->p[q->n++] = S(prefix);
	hi[n - 1] = (char)((unsigned char)hi[n - 1] + 1);
	q->p[q->n++] = S(hi);
	return sl__buf_printf(&q->sql, " AND %s >= ? AND %s < ?", col, col);
}

int store_audit_json(store *s, const store_audit_filter *f, json_t **out)
{
	jv_ctx x = {.fields = audit_fields, .dedup_col = -1};
	audit_q q;
	char *target_prefix = NULL;
	json_t *o = NULL;
	int64_t last = 0, nrows;
	int rc = 0;

	if (!s || !f || !out || f->limit <= 0)
		return sl__err(SL_EINVAL, "store_audit_json: bad arguments");
	*out = NULL;
	memset(&q, 0, sizeof q);
	sl__buf_init(&q.sql, 0);
	rc = sl__buf_puts(&q.sql,
			  "SELECT seq, at_ms, who, role, via, action, target, request, outcome, "
			  "status, detail FROM audit WHERE 1 = 1");
	if (rc == 0 && f->who)
		rc = cond_eq(&q, "who", f->who);
	if (rc == 0 && f->action) {
		size_t n = strlen(f->action);
		rc = n && f->action[n - 1] == '.' ? cond_prefix(&q, "action", f->action, n)
						  : cond_eq(&q, "action", f->action);
	}
	if (rc == 0 && f->target) {
		size_t n = strlen(f->target);
		if (n && f->target[n - 1] == '*') {
			if (!(target_prefix = sl__strndup(f->target, n - 1)))
				rc = sl__oom();
			else if (n > 1)
				rc = cond_prefix(&q, "target", target_prefix, n - 1);
		} else {
			rc = cond_eq(&q, "target", f->target);
		}
	}
	if (rc == 0 && f->outcome)
		rc = cond_eq(&q, "outcome", f->outcome);
	if (rc == 0 && f->since_ms) {
		q.p[q.n++] = SQ_I(f->since_ms);
		rc = sl__buf_puts(&q.sql, " AND at_ms >= ?");
	}
	if (rc == 0 && f->until_ms) {
		q.p[q.n++] = SQ_I(f->until_ms);
		rc = sl__buf_puts(&q.sql, " AND at_ms <= ?");
	}
	if (rc == 0 && f->before > 0) {
		q.p[q.n++] = SQ_I(f->before);
		rc = sl__buf_puts(&q.sql, " AND seq < ?");
	}
	/* One more than asked: whether a next page exists. */
	if (rc == 0) {
		q.p[q.n++] = SQ_I(f->limit + 1);
		rc = sl__buf_puts(&q.sql, " ORDER BY seq DESC LIMIT ?");
	}
	if (rc)
		goto out;
	if (!(x.arr = json_array())) {
		rc = st_nomem_json();
		goto out;
	}
	st_lock(s);
	rc = s->drv->exec(s->conn, q.sql.data, q.n, q.p, st_row_view, &x);
	st_unlock(s);
	if (rc)
		goto out;
	nrows = (int64_t)json_array_size(x.arr);
	if (nrows > f->limit) {
		json_array_remove(x.arr, (size_t)f->limit);
		last = json_integer_value(
			json_object_get(json_array_get(x.arr, (size_t)f->limit - 1), "seq"));
	}
	o = json_object();
	if (!o || st_jset(o, "records", json_incref(x.arr)) ||
	    st_jset(o, "next", last ? json_integer(last) : json_null())) {
		rc = st_nomem_json();
		goto out;
	}
	*out = o;
	o = NULL;
out:
	json_decref(o);
	json_decref(x.arr);
	sl__free(target_prefix);
	sl__buf_free(&q.sql);
	return rc;
}
