/*
 * What `sluice artifacts gc` asks of the metadata store (store.h): which
 * artifacts are still referenced, and the removal of one that is not,
 * decided again under the write lock so a run working meanwhile keeps what
 * it uses.
 *
 * Referenced ("live") means any of:
 *
 *   a. the bundle of a registered version, and every ancestor of it (the
 *      inputs of its maker, recursively): a model in the registry keeps the
 *      data it was made from, so its lineage can still be read and the model
 *      remade;
 *   b. an input or output of a step run of the newest keep_runs runs of each
 *      pipeline, or of a run still running;
 *   c. created at or after young_ms (the gc's start minus its grace period).
 *
 * Invariants:
 *  1. The live set is read in one snapshot; a removal re-checks, in a write
 *     transaction, that the artifact is still not registered, not used by a
 *     run that is running or ended (or a step run that started or ended)
 *     since the gc began, and not young. On SQLite the scheduler records
 *     each round (outputs moved into the store, cache hits, completions)
 *     holding the same write lock, so a run either recorded its use first
 *     and the artifact stays, or finds the file gone and recomputes it.
 *  2. An artifact's row is never deleted: its metadata and lineage stay,
 *     and removed_ms says when its file went. A step that makes the same
 *     content again clears removed_ms (store_run.c).
 *  3. A file with no row at all (an output moved into the store whose
 *     completion is not recorded yet) is only removed while no run is
 *     running.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

typedef struct id_list {
	char (*v)[SL__HASH_HEX_SIZE];
	size_t n, cap;
	int rc;
} id_list;

static int row_id(void *ud, int ncol, const sq_val *c)
{
	id_list *l = ud;

	if (ncol < 1 || c[0].type != SQ_TEXT || strlen(c[0].s) != SL__HASH_HEX_LEN)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char(*v)[SL__HASH_HEX_SIZE] = sl__reallocarray(l->v, cap, sizeof *v);
		if (!v)
			return l->rc = sl__err(SL_ENOMEM, "out of memory listing live artifacts");
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n++], c[0].s, SL__HASH_HEX_SIZE);
	return 0;
}

int store_gc_live(store *s, int keep_runs, int64_t young_ms, char (**out)[SL__HASH_HEX_SIZE],
		  size_t *out_n)
{
	id_list l = {0};
	sq_val p[] = {SQ_I(keep_runs), SQ_I(young_ms)};
	int rc;

	if (!s || !out || !out_n || keep_runs < 1)
		return sl__err(SL_EINVAL, "store_gc_live: invalid argument");
	*out = NULL;
	*out_n = 0;
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		/* a, b and c of the header, sorted so the caller can search it. */
		rc = Q(s,
		       "WITH RECURSIVE anc(id) AS ("
		       "  SELECT bundle FROM model_versions"
		       "  UNION"
		       "  SELECT e.artifact FROM anc JOIN artifacts a ON a.id = anc.id"
		       "  JOIN edges e ON e.step_run = a.producer AND e.direction = 'in') "
		       "SELECT id FROM anc "
		       "UNION "
		       "SELECT e.artifact FROM edges e JOIN step_runs sr ON sr.id = e.step_run "
		       "WHERE sr.run_id IN ("
		       "  SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY pipeline "
		       "    ORDER BY started_ms DESC, seq DESC) AS k FROM runs) ranked WHERE k <= ?"
		       "  UNION SELECT id FROM runs WHERE status = 'running') "
		       "UNION "
		       "SELECT id FROM artifacts WHERE created_ms >= ? "
		       "ORDER BY 1",
		       p, row_id, &l);
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0)
		rc = l.rc;
	if (rc) {
		sl__free(l.v);
		return rc;
	}
	*out = l.v;
	*out_n = l.n;
	return 0;
}

/* Why id must stay, decided inside the write transaction; NULL when it may go. */
/* a: the artifact's row (created_ms, removed_ms), or not found. */
static int still_needed(store *s, const char *id, const store_gc_check *ck, const st_i64s *a,
			const char **why)
{
	st_one_i64 hit = {0};
	int rc;

	*why = NULL;
	if (!a->found) {
		/* Invariant 3. */
		rc = Q0(s, "SELECT 1 FROM runs WHERE status = 'running' LIMIT 1", st_row_one_i64, &hit);
		if (rc == 0 && hit.found)
			*why = "no record yet, and a run is running";
		return rc;
	}
	if (a->v[0] >= ck->young_ms) {
		*why = "younger than the grace period";
		return 0;
	}
	{
		sq_val p[] = {S(id)};
		rc = Q(s, "SELECT 1 FROM model_versions WHERE bundle = ? LIMIT 1", p, st_row_one_i64,
		       &hit);
		if (rc == 0 && hit.found) {
			*why = "the bundle of a registered version";
			return 0;
		}
	}
	if (rc == 0) {
		sq_val p[] = {S(id), SQ_I(ck->since_ms), SQ_I(ck->since_ms), SQ_I(ck->since_ms)};
		rc = Q(s,
		       "SELECT 1 FROM edges e JOIN step_runs sr ON sr.id = e.step_run "
		       "JOIN runs r ON r.id = sr.run_id WHERE e.artifact = ? AND "
		       "(r.status = 'running' OR r.ended_ms >= ? OR sr.started_ms >= ? OR "
		       "sr.ended_ms >= ? OR sr.ended_ms IS NULL) LIMIT 1",
		       p, st_row_one_i64, &hit);
		if (rc == 0 && hit.found)
			*why = "used by a run since the gc started";
	}
	return rc;
}

int store_gc_remove(store *s, const char *id, const store_gc_check *ck, bool *out_removed,
		    const char **out_why)
{
	st_i64s a = {0};
	const char *why = NULL;
	int rc;

	*out_removed = false;
	*out_why = NULL;
	if (!s || !ck || !ck->remove || st_check_artifact_id(id) != 0)
		return sl__err(SL_EINVAL, "store_gc_remove: invalid argument");
	st_lock(s);
	rc = st_begin(s, true);
	if (rc == 0) {
		sq_val p[] = {S(id)};
		rc = Q(s, "SELECT created_ms, removed_ms FROM artifacts WHERE id = ?", p, st_row_i64s,
		       &a);
	}
	if (rc == 0)
		rc = still_needed(s, id, ck, &a, &why);
	/* The file goes while the lock is held (invariant 1). */
	if (rc == 0 && !why)
		rc = ck->remove(ck->ud, id);
	if (rc == 0 && !why && a.found) {
		sq_val p[] = {SQ_I(sl__now_ms()), S(id)};
		rc = Q(s, "UPDATE artifacts SET removed_ms = ? WHERE id = ?", p, NULL, NULL);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0) {
		*out_removed = !why;
		*out_why = why;
	}
	return rc;
}

int store_gc_info(store *s, const char *id, json_t **out)
{
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_gc_info: invalid argument");
	*out = NULL;
	st_lock(s);
	rc = st_artifact_row(s, id, out);
	st_unlock(s);
	return rc;
}
