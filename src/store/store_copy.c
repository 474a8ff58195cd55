/*
 * Copying one store's history into another (store.h, store_copy): what
 * `sluice store migrate --to postgresql://...` does when a project moves
 * from its SQLite file to a team's PostgreSQL server.
 *
 * Invariants:
 *
 *  1. All or nothing: the copy is one write transaction on the target,
 *     which holds the target's write lock throughout, read from one
 *     snapshot of the source. A failure anywhere (a row the target refuses,
 *     a count that does not add up) rolls the target back untouched.
 *  2. Nothing is overwritten and nothing is doubled: each row goes in with
 *     INSERT ... ON CONFLICT DO NOTHING, so a row the target already holds
 *     (an artifact another project made with the same content, a pipeline
 *     of the same name, a run copied by an earlier migrate) keeps the
 *     target's version, and copying twice changes nothing the second time.
 *  3. Counts are verified before the commit, per table: every source row
 *     is either new in the target (the insert returned it) or already there
 *     (looked up by its key), and the target's row count grew by exactly
 *     the new ones.
 *  4. Order is what the foreign keys need: pipelines, runs, step runs (in
 *     run order, so a cached step run's origin comes first), artifacts,
 *     then what hangs off them. Sequence numbers (a run's, an audit
 *     record's) are offset past the target's highest of their table, so
 *     copied rows keep their order among themselves and sort after the
 *     target's own; a step run's number is per run and kept.
 *  5. Every table of the schema is listed in `tables` below (the test
 *     compares the list with the schema, so a table added by a migration
 *     without a line here fails it).
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/*
 * A table: its columns in the order read and written, how many of the
 * first columns are its key, and the ORDER BY of the read. seq_col is the
 * index of the table's "seq" column, offset past the target's highest, or -1.
 */
typedef struct copy_table {
	const char *name;
	const char *cols;
	int n_cols;
	int n_key;
	const char *order;
	int seq_col;
} copy_table;

static const copy_table tables[] = {
	{"pipelines", "name, file, created_ms, updated_ms", 4, 1, "name", -1},
	{"runs",
	 "id, seq, pipeline, file, params, orchestrator, status, pid, pid_start, host, "
	 "started_ms, ended_ms",
	 12, 1, "seq", 1},
	{"step_runs",
	 "id, run_id, seq, step, kind, cache_key, status, exit_code, started_ms, ended_ms, "
	 "cache_hit, cached_from, log_path, error, reason, pid, pid_start, job_id, resources, "
	 "params, parent",
	 21, 1, "(SELECT r.seq FROM runs r WHERE r.id = step_runs.run_id), seq", -1},
	{"artifacts", "id, type, size, producer, created_ms, meta, removed_ms", 7, 1, "id", -1},
	{"edges", "step_run, direction, name, artifact, via, ref", 6, 3, "step_run, direction, name",
	 -1},
	{"step_files", "step_run, path, sha256", 3, 2, "step_run, path", -1},
	{"metrics", "step_run, name, value", 3, 2, "step_run, name", -1},
	{"metric_history", "step_run, name, step, value", 4, 3, "step_run, name, step", -1},
	{"tags", "entity, entity_id, tag, value", 4, 3, "entity, entity_id, tag", -1},
	{"models", "name, last_version, changes, created_ms, updated_ms", 5, 1, "name", -1},
	{"model_versions",
	 "model, version, bundle, run_id, step_run, created_ms, created_by, algorithm, metrics, "
	 "verdict",
	 10, 2, "model, version", -1},
	{"model_aliases", "model, alias, version", 3, 2, "model, alias", -1},
	{"alias_history",
	 "model, seq, alias, from_version, to_version, at_ms, who, reason, forced, kind, undoes, "
	 "step_run",
	 12, 2, "model, seq", -1},
	{"model_tags", "model, version, tag, value", 4, 3, "model, version, tag", -1},
	{"users", "name, role, token_hash, token_ms, created_ms, created_by", 6, 1, "name", -1},
	{"audit", "id, seq, at_ms, who, role, via, action, target, request, outcome, status, detail",
	 12, 1, "seq", 1},
	{"monitor_windows",
	 "model, seq, version, at_ms, from_ms, to_ms, requests, dataset_drift, report", 9, 2,
	 "model, seq", -1},
	{"monitor_values", "model, seq, name, value", 4, 3, "model, seq, name", -1},
	{"monitor_events", "id, seq, at_ms, kind, model, detail, run_id", 7, 1, "seq", -1},
	{"monitor_state",
	 "model, name, active, streak, window_key, since_ms, updated_ms, fired, value, note", 10, 2,
	 "model, name", -1},
	{"monitor_acks", "seq, at_ms, who, note", 4, 1, "seq", -1},
};

size_t store_copy_tables(const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < SL__ARRAY_LEN(tables) && n < max; i++)
		names[n++] = tables[i].name;
	return n;
}

/* The first n names of a column list, "a = ? AND b = ?", into buf. */
static int key_where(const copy_table *t, sl__buf *b)
{
	const char *p = t->cols;
	int rc = 0;

	for (int k = 0; k < t->n_key && rc == 0; k++) {
		size_t len = strcspn(p, ",");
		rc = sl__buf_printf(b, "%s%.*s = ?", k ? " AND " : "", (int)len, p);
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return rc;
}

typedef struct copy_ctx {
	store *dst;
	const copy_table *t;
	const char *insert;
	const char *exists;
	int64_t seq_offset;
	store_copy_count *count;
	int rc;
} copy_ctx;

static int row_count(void *ud, int ncol, const sq_val *cols)
{
	(void)ncol;
	(void)cols;
	(*(int64_t *)ud)++;
	return 0;
}

/* One source row into the target (invariant 2), counted (invariant 3). */
static int copy_row(void *ud, int ncol, const sq_val *cols)
{
	copy_ctx *x = ud;
	sq_val v[32];
	int64_t inserted = 0, found = 0;
	int rc;

	if (ncol != x->t->n_cols || ncol > (int)SL__ARRAY_LEN(v))
		return x->rc = sl__err(SL_ESTORE, "copying %s: the source gave %d columns, not %d",
				       x->t->name, ncol, x->t->n_cols);
	memcpy(v, cols, (size_t)ncol * sizeof *v);
	if (x->t->seq_col >= 0 && v[x->t->seq_col].type == SQ_INT)
		v[x->t->seq_col].i += x->seq_offset;
	x->count->source++;
	rc = x->dst->drv->exec(x->dst->conn, x->insert, ncol, v, row_count, &inserted);
	if (rc == 0 && inserted == 0)
		rc = x->dst->drv->exec(x->dst->conn, x->exists, x->t->n_key, v, row_count, &found);
	if (rc)
		return x->rc = sl__err_prefix(rc, "copying a row of %s", x->t->name);
	if (inserted)
		x->count->copied++;
	else if (found)
		x->count->present++;
	else
		return x->rc = sl__err(SL_ESTORE, "copying %s: a row was neither inserted nor found "
						  "(a conflict on another unique key)",
				       x->t->name);
	return 0;
}

static int copy_table_rows(store *src, store *dst, const copy_table *t, int64_t seq_offset,
			   store_copy_count *count)
{
	sl__buf sel, ins, ex;
	int64_t before = 0, after = 0;
	copy_ctx x = {.dst = dst, .t = t, .seq_offset = seq_offset, .count = count};
	int rc = 0;

	sl__buf_init(&sel, 0);
	sl__buf_init(&ins, 0);
	sl__buf_init(&ex, 0);
	rc |= sl__buf_printf(&sel, "SELECT %s FROM %s ORDER BY %s", t->cols, t->name, t->order);
	rc |= sl__buf_printf(&ins, "INSERT INTO %s (%s) VALUES (", t->name, t->cols);
	for (int k = 0; k < t->n_cols; k++)
		rc |= sl__buf_puts(&ins, k ? ", ?" : "?");
	rc |= sl__buf_puts(&ins, ") ON CONFLICT DO NOTHING RETURNING 1");
	rc |= sl__buf_printf(&ex, "SELECT 1 FROM %s WHERE ", t->name);
	rc |= key_where(t, &ex);
	if (rc) {
		rc = sl__oom();
		goto out;
	}
	x.insert = ins.data;
	x.exists = ex.data;
	{
		char q[96];
		snprintf(q, sizeof q, "SELECT COUNT(*) FROM %s", t->name);
		st_one_i64 b = {0};
		rc = dst->drv->exec(dst->conn, q, 0, NULL, st_row_one_i64, &b);
		before = b.v;
		if (rc == 0)
			rc = src->drv->exec(src->conn, sel.data, 0, NULL, copy_row, &x);
		if (rc == 0 && x.rc)
			rc = x.rc;
		if (rc == 0) {
			st_one_i64 o = {0};
			rc = dst->drv->exec(dst->conn, q, 0, NULL, st_row_one_i64, &o);
			after = o.v;
		}
	}
	/* Invariant 3. */
	if (rc == 0 && (count->copied + count->present != count->source ||
			after - before != count->copied))
		rc = sl__err(SL_ESTORE,
			     "copying %s: the counts do not add up (%lld rows read, %lld copied, "
			     "%lld already there; the target went from %lld to %lld rows)",
			     t->name, (long long)count->source, (long long)count->copied,
			     (long long)count->present, (long long)before, (long long)after);
out:
	sl__buf_free(&sel);
	sl__buf_free(&ins);
	sl__buf_free(&ex);
	return rc;
}

int store_copy(store *src, store *dst, store_copy_count *out, size_t n_out)
{
	st_one_i64 max = {0};
	int v_src, v_dst, rc;

	if (!src || !dst || src == dst || !out || n_out < SL__ARRAY_LEN(tables))
		return sl__err(SL_EINVAL, "store_copy: invalid argument");
	memset(out, 0, n_out * sizeof *out);
	v_src = store_schema_version(src);
	v_dst = store_schema_version(dst);
	if (v_src < 0 || v_dst < 0)
		return v_src < 0 ? v_src : v_dst;
	if (v_src != v_dst)
		return sl__err(SL_EUNSUP, "the stores have schema versions %d and %d", v_src, v_dst);
	st_lock(src);
	st_lock(dst);
	rc = src->drv->begin(src->conn, false);
	if (rc == 0) {
		rc = dst->drv->begin(dst->conn, true);
		for (size_t i = 0; rc == 0 && i < SL__ARRAY_LEN(tables); i++) {
			snprintf(out[i].table, sizeof out[i].table, "%s", tables[i].name);
			max = (st_one_i64){0};
			if (tables[i].seq_col >= 0) {
				char q[96];
				snprintf(q, sizeof q, "SELECT MAX(seq) FROM %s", tables[i].name);
				rc = dst->drv->exec(dst->conn, q, 0, NULL, st_row_one_i64, &max);
			}
			if (rc == 0)
				rc = copy_table_rows(src, dst, &tables[i], max.null ? 0 : max.v,
						     &out[i]);
		}
		/* Invariant 1: the commit, or nothing. */
		if (rc == 0)
			rc = dst->drv->commit(dst->conn);
		if (rc) {
			char msg[SL__ERRMSG_MAX];
			snprintf(msg, sizeof msg, "%s", sl_errmsg());
			dst->drv->rollback(dst->conn);
			sl__err(rc, "%s", msg);
		}
		src->drv->rollback(src->conn); /* a read: nothing to keep */
	}
	st_unlock(dst);
	st_unlock(src);
	return rc ? sl__err_prefix(rc, "copying the store's history; the target is unchanged") : 0;
}
