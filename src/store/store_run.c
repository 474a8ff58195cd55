/*
 * Run records (store.h): runs, step runs and their completion, cache
 * lookups, and what recovery after a dead driver needs (the process facts of
 * running runs and steps; judging them is the orchestrators' job).
 *
 * Invariants kept here:
 *
 *  1. A step run's completion -- status, reason, artifacts, "out" edges,
 *     metrics and their histories, store ops -- is one transaction
 *     (finish_locked), so it is recorded entirely or not at all.
 *  2. The indexed columns of a step run (start time, cache key) are written
 *     once at creation and only rewritten when they change: an unchanged
 *     rewrite still dirties the index page, a page write per step.
 *  3. A metric with a history keeps every value by its step index in
 *     metric_history and its last value in metrics, so readers that know
 *     nothing of histories see the final value.
 *  4. An ended run has no open step run: store_run_finish records, in the
 *     same transaction as the run's end, a step run still running as failed
 *     and one still pending as cancelled. The scheduler ends every step it
 *     knows of first, so these are only steps whose end the store lost (a
 *     batch that did not commit when the connection broke).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const char *const steprun_states[] = {ST_PENDING, ST_RUNNING, ST_COMPLETED, ST_CACHED,
					     ST_FAILED,  ST_SKIPPED, ST_CANCELLED};
static const char *const run_states[] = {ST_RUNNING, ST_COMPLETED, ST_FAILED, ST_CANCELLED};
static const char *const reasons[] = {RS_GATE,	    RS_INPUT,	 RS_ERROR,    RS_CRASH,
				      RS_TIMEOUT,   RS_CANCELLED, RS_UPSTREAM, RS_INTERRUPTED};

/* ---- runs -------------------------------------------------------------------------- */

int store_run_create(store *s, const store_run *r)
{
	int64_t now = sl__now_ms();
	int rc;

	if (!s || !r)
		return sl__err(SL_EINVAL, "store_run_create: invalid argument");
	if ((rc = st_check_id("run", r->id)) != 0)
		return rc;
	if (!r->pipeline || !*r->pipeline)
		return sl__err(SL_EINVAL, "run %s: pipeline name is missing", r->id);
	if ((rc = st_check_json_object("run parameters", r->params_json)) != 0)
		return rc;
	{
		int64_t started = r->started_ms > 0 ? r->started_ms : now;
		sq_val pp[] = {S(r->pipeline), S(r->file), SQ_I(now), SQ_I(now)};
		sq_val rp[] = {S(r->id),	   S(r->pipeline),	   S(r->file),
			       S(r->params_json),  S(r->orchestrator),	   opt_int(r->pid),
			       opt_int(r->pid_start), S(r->host),	   SQ_I(started)};

		st_retry again = {0};

		st_lock(s);
		do {
			rc = st_begin(s, true);
			if (rc == 0)
				rc = Q(s,
				       "INSERT INTO pipelines (name, file, created_ms, updated_ms) "
				       "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
				       "file = excluded.file, updated_ms = excluded.updated_ms",
				       pp, NULL, NULL);
			if (rc == 0)
				rc = Q(s,
				       "INSERT INTO runs (id, seq, pipeline, file, params, orchestrator, "
				       "status, pid, pid_start, host, started_ms) VALUES (?, "
				       "COALESCE((SELECT MAX(seq) FROM runs), 0) + 1, ?, ?, ?, ?, 'running', "
				       "?, ?, ?, ?)",
				       rp, NULL, NULL);
			rc = st_end(s, rc);
		} while (st_again(s, rc, &again));
		st_unlock(s);
	}
	if (rc == SL_EEXIST)
		return sl__err(SL_EEXIST, "run %s already exists", r->id);
	return rc ? sl__err_prefix(rc, "recording run %s", r->id) : 0;
}

#define RUN_EXISTS_SQL "SELECT 1 FROM runs WHERE id = ?"

int store_run_finish(store *s, const char *run_id, const char *status, int64_t ended_ms)
{
	int rc;

	if (!s || !status)
		return sl__err(SL_EINVAL, "store_run_finish: invalid argument");
	if ((rc = st_check_id("run", run_id)) != 0)
		return rc;
	if (!st_known(status, run_states, SL__ARRAY_LEN(run_states)))
		return sl__err(SL_EINVAL, "'%s' is not a run status", status);
	{
		/* A run set back to running has no end yet. */
		bool ends = strcmp(status, ST_RUNNING) != 0;
		int64_t end = ended_ms > 0 ? ended_ms : sl__now_ms();
		sq_val p[] = {S(status), ends ? SQ_I(end) : SQ_NUL, S(run_id)};
		sq_val fp[] = {SQ_I(end), S(run_id)};
		st_retry again = {0};

		st_lock(s);
		do {
			rc = st_begin(s, true);
			if (rc == 0)
				rc = st_must_exist(s, RUN_EXISTS_SQL, "run", run_id);
			if (rc == 0)
				rc = Q(s, "UPDATE runs SET status = ?, ended_ms = ? WHERE id = ?", p, NULL,
				       NULL);
			/* Invariant 4: nothing of an ended run stays open. */
			if (rc == 0 && ends)
				rc = Q(s,
				       "UPDATE step_runs SET status = 'failed', ended_ms = ?, reason = "
				       "'error', error = COALESCE(error, 'its end was not recorded: the "
				       "run stopped first') WHERE run_id = ? AND status = 'running'",
				       fp, NULL, NULL);
			if (rc == 0 && ends)
				rc = Q(s,
				       "UPDATE step_runs SET status = 'cancelled', ended_ms = ?, reason = "
				       "COALESCE(reason, 'cancelled') WHERE run_id = ? AND status = "
				       "'pending'",
				       fp, NULL, NULL);
			rc = st_end(s, rc);
		} while (st_again(s, rc, &again));
		st_unlock(s);
	}
	return rc;
}

/* ---- recovery facts ---------------------------------------------------------------- */

typedef struct proc_list {
	store_proc *v;
	size_t n, cap;
	int rc;
} proc_list;

/* Columns: id, pid, pid_start, then a text column (orchestrator or job id). */
static int row_proc(void *ud, int ncol, const sq_val *c)
{
	proc_list *l = ud;
	store_proc *p;

	if (ncol < 4 || c[0].type != SQ_TEXT)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		store_proc *v = sl__reallocarray(l->v, cap, sizeof *v);
		if (!v)
			return l->rc = sl__err(SL_ENOMEM, "out of memory listing running processes");
		l->v = v;
		l->cap = cap;
	}
	p = &l->v[l->n++];
	memset(p, 0, sizeof *p);
	snprintf(p->id, sizeof p->id, "%s", c[0].s);
	p->pid = c[1].type == SQ_INT ? c[1].i : 0;
	p->pid_start = c[2].type == SQ_INT ? c[2].i : 0;
	return 0;
}

static int row_run_proc(void *ud, int ncol, const sq_val *c)
{
	proc_list *l = ud;
	size_t before = l->n;
	int rc = row_proc(ud, ncol, c);

	if (rc == 0 && l->n > before && c[3].type == SQ_TEXT)
		snprintf(l->v[l->n - 1].orchestrator, sizeof l->v[0].orchestrator, "%s", c[3].s);
	return rc;
}

static int row_step_proc(void *ud, int ncol, const sq_val *c)
{
	proc_list *l = ud;
	size_t before = l->n;
	int rc = row_proc(ud, ncol, c);

	if (rc == 0 && l->n > before && c[3].type == SQ_TEXT)
		snprintf(l->v[l->n - 1].job_id, sizeof l->v[0].job_id, "%s", c[3].s);
	return rc;
}

/* The rows of sql, whose one parameter is arg (none when arg is NULL). */
static int list_procs(store *s, const char *sql, const char *arg, sq_row_fn fn,
		      store_proc **out, size_t *out_n)
{
	proc_list l = {0};
	sq_val p[] = {S(arg)};
	int rc;

	*out = NULL;
	*out_n = 0;
	st_lock(s);
	rc = s->drv->exec(s->conn, sql, arg ? 1 : 0, p, fn, &l);
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

int store_runs_running(store *s, const char *host, store_proc **out, size_t *out_n)
{
	if (!s || !out || !out_n)
		return sl__err(SL_EINVAL, "store_runs_running: invalid argument");
	if (!host)
		return list_procs(s,
				  "SELECT id, pid, pid_start, orchestrator FROM runs "
				  "WHERE status = 'running' ORDER BY seq",
				  NULL, row_run_proc, out, out_n);
	return list_procs(s,
			  "SELECT id, pid, pid_start, orchestrator FROM runs "
			  "WHERE status = 'running' AND host = ? ORDER BY seq",
			  host, row_run_proc, out, out_n);
}

int store_steps_running(store *s, const char *run_id, store_proc **out, size_t *out_n)
{
	if (!s || !run_id || !out || !out_n)
		return sl__err(SL_EINVAL, "store_steps_running: invalid argument");
	return list_procs(s,
			  "SELECT id, pid, pid_start, job_id FROM step_runs "
			  "WHERE run_id = ? AND status = 'running' ORDER BY seq",
			  run_id, row_step_proc, out, out_n);
}

int store_run_mark_lost(store *s, const char *run_id, const char *why)
{
	int64_t now = sl__now_ms();
	sq_val rp[] = {SQ_I(now), S(run_id)};
	sq_val fp[] = {SQ_I(now), S(why), S(run_id)};
	sq_val cp[] = {SQ_I(now), S(run_id)};
	int rc;

	if (!s)
		return sl__err(SL_EINVAL, "store_run_mark_lost: store is NULL");
	if ((rc = st_check_id("run", run_id)) != 0)
		return rc;
	st_retry again = {0};

	st_lock(s);
	/* The status test in each UPDATE makes a recovery racing another harmless. */
	do {
		rc = st_begin(s, true);
		if (rc == 0)
			rc = Q(s,
			       "UPDATE runs SET status = 'failed', ended_ms = ? "
			       "WHERE id = ? AND status = 'running'",
			       rp, NULL, NULL);
		if (rc == 0)
			rc = Q(s,
			       "UPDATE step_runs SET status = 'failed', ended_ms = ?, "
			       "reason = 'interrupted', error = COALESCE(error, ?) "
			       "WHERE run_id = ? AND status = 'running'",
			       fp, NULL, NULL);
		if (rc == 0)
			rc = Q(s,
			       "UPDATE step_runs SET status = 'cancelled', ended_ms = ?, "
			       "reason = 'interrupted' WHERE run_id = ? AND status = 'pending'",
			       cp, NULL, NULL);
		rc = st_end(s, rc);
	} while (st_again(s, rc, &again));
	st_unlock(s);
	return rc ? sl__err_prefix(rc, "marking run %s as failed", run_id) : 0;
}

/* ---- step runs --------------------------------------------------------------------- */

static int check_steprun(const store_steprun *sr, bool need_run)
{
	int rc;

	if (!sr)
		return sl__err(SL_EINVAL, "step run is NULL");
	if ((rc = st_check_id("step run", sr->id)) != 0)
		return rc;
	if (need_run) {
		if ((rc = st_check_id("run", sr->run_id)) != 0)
			return rc;
		if (!sr->step || !*sr->step)
			return sl__err(SL_EINVAL, "step run %s: step name is missing", sr->id);
	}
	if (!sr->status || !st_known(sr->status, steprun_states, SL__ARRAY_LEN(steprun_states)))
		return sl__err(SL_EINVAL, "step run %s: '%s' is not a step status", sr->id,
			       sr->status ? sr->status : "(null)");
	if (sr->reason && !st_known(sr->reason, reasons, SL__ARRAY_LEN(reasons)))
		return sl__err(SL_EINVAL, "step run %s: '%s' is not a reason", sr->id, sr->reason);
	if (sr->cached_from && (rc = st_check_id("cached-from step run", sr->cached_from)) != 0)
		return rc;
	if (sr->n_files && !sr->files)
		return sl__err(SL_EINVAL, "step run %s: files array is NULL", sr->id);
	for (size_t i = 0; i < sr->n_files; i++)
		if (!sr->files[i].path || st_check_artifact_id(sr->files[i].sha256) != 0)
			return sl__err(SL_EINVAL, "step run %s: file %zu needs a path and a SHA-256",
				       sr->id, i);
	if (sr->parent && (rc = st_check_id("parent step run", sr->parent)) != 0)
		return rc;
	if ((rc = st_check_json_object("step run params", sr->params_json)) != 0)
		return rc;
	return st_check_json_object("step run resources", sr->resources_json);
}

static int check_ios(const char *what, const store_io *ios, size_t n)
{
	if (n && !ios)
		return sl__err(SL_EINVAL, "%s: array is NULL", what);
	for (size_t i = 0; i < n; i++) {
		if (!ios[i].name || !*ios[i].name)
			return sl__err(SL_EINVAL, "%s %zu has no name", what, i);
		if (st_check_artifact_id(ios[i].artifact_id) != 0)
			return sl__err_prefix(SL_EINVAL, "%s '%s'", what, ios[i].name);
		if (ios[i].via && st_check_id("the step run of an input", ios[i].via) != 0)
			return sl__err_prefix(SL_EINVAL, "%s '%s'", what, ios[i].name);
	}
	return 0;
}

static int insert_steprun(store *s, const store_steprun *sr)
{
	sq_val p[] = {S(sr->id),
		      S(sr->run_id),
		      S(sr->run_id),
		      S(sr->step),
		      S(sr->kind),
		      S(sr->cache_key),
		      S(sr->status),
		      sr->exit_code >= 0 ? SQ_I(sr->exit_code) : SQ_NUL,
		      opt_time(sr->started_ms),
		      opt_time(sr->ended_ms),
		      SQ_I(sr->cache_hit ? 1 : 0),
		      S(sr->cached_from),
		      S(sr->log_path),
		      S(sr->error),
		      S(sr->reason),
		      opt_int(sr->pid),
		      opt_int(sr->pid_start),
		      S(sr->job_id),
		      S(sr->resources_json),
		      S(sr->params_json),
		      S(sr->parent)};

	return Q(s,
		 "INSERT INTO step_runs (id, run_id, seq, step, kind, cache_key, status, "
		 "exit_code, started_ms, ended_ms, cache_hit, cached_from, log_path, error, "
		 "reason, pid, pid_start, job_id, resources, params, parent) "
		 "VALUES (?, ?, COALESCE((SELECT MAX(seq) FROM step_runs WHERE run_id = ?), 0) + 1, "
		 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 p, NULL, NULL);
}

/* The files a step read (its sources), once each; ON CONFLICT: a step run
 * recorded early (a tune step) adds them when it starts. */
static int insert_files(store *s, const store_steprun *sr)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sr->n_files; i++) {
		sq_val p[] = {S(sr->id), S(sr->files[i].path), S(sr->files[i].sha256)};
		rc = Q(s,
		       "INSERT INTO step_files (step_run, path, sha256) VALUES (?, ?, ?) "
		       "ON CONFLICT (step_run, path) DO NOTHING",
		       p, NULL, NULL);
	}
	return rc;
}

static int create_locked(store *s, const store_steprun *sr, const store_io *inputs,
			 size_t n_inputs)
{
	int rc = insert_steprun(s, sr);

	for (size_t i = 0; rc == 0 && i < n_inputs; i++) {
		sq_val p[] = {S(sr->id), S(inputs[i].name), S(inputs[i].artifact_id),
			      S(inputs[i].via), S(inputs[i].ref)};
		rc = Q(s,
		       "INSERT INTO edges (step_run, direction, name, artifact, via, ref) "
		       "VALUES (?, 'in', ?, ?, ?, ?)",
		       p, NULL, NULL);
		if (rc == SL_ESTORE)
			rc = sl__err_prefix(rc, "input '%s' (artifact %.12s...) must be in the store",
					    inputs[i].name, inputs[i].artifact_id);
	}
	return rc ? rc : insert_files(s, sr);
}

int store_steprun_create(store *s, const store_steprun *sr, const store_io *inputs,
			 size_t n_inputs)
{
	int rc;

	if (!s)
		return sl__err(SL_EINVAL, "store_steprun_create: store is NULL");
	if ((rc = check_steprun(sr, true)) != 0 || (rc = check_ios("input", inputs, n_inputs)) != 0)
		return rc;
	st_retry again = {0};

	st_lock(s);
	do {
		rc = st_begin(s, true);
		if (rc == 0)
			rc = create_locked(s, sr, inputs, n_inputs);
		rc = st_end(s, rc);
	} while (st_again(s, rc, &again));
	st_unlock(s);
	if (rc == SL_EEXIST)
		return sl__err_prefix(rc, "recording step run %s of run %s (duplicate id or input name)",
				      sr->id, sr->run_id);
	return rc ? sl__err_prefix(rc, "recording step run %s of run %s", sr->id, sr->run_id) : 0;
}

static int check_artifact(const store_artifact *a, const store_io *out)
{
	if (a->id && strcmp(a->id, out->artifact_id) != 0)
		return sl__err(SL_EINVAL, "output '%s': artifact record %.12s... does not match %.12s...",
			       out->name, a->id, out->artifact_id);
	if (!a->type || !*a->type)
		return sl__err(SL_EINVAL, "output '%s': artifact type is missing", out->name);
	if (a->size > (uint64_t)INT64_MAX)
		return sl__err(SL_EINVAL, "output '%s': artifact size is out of range", out->name);
	if (a->producer && st_check_id("producer step run", a->producer) != 0)
		return SL_EINVAL;
	return st_check_json_object("artifact meta", a->meta_json);
}

/* Checks everything of a result that can be checked before the transaction. */
static int check_result(const store_steprun *sr, const store_result *res)
{
	int rc;

	if (!res)
		return 0;
	if ((rc = check_ios("output", res->outputs, res->n_outputs)) != 0)
		return rc;
	for (size_t i = 0; res->arts && i < res->n_outputs; i++)
		if ((rc = check_artifact(&res->arts[i], &res->outputs[i])) != 0)
			return rc;
	if (res->n_metrics && !res->metrics)
		return sl__err(SL_EINVAL, "step run %s: metrics array is NULL", sr->id);
	for (size_t i = 0; i < res->n_metrics; i++) {
		if (!res->metrics[i].name || !*res->metrics[i].name)
			return sl__err(SL_EINVAL, "step run %s: metric %zu has no name", sr->id, i);
		if (res->metrics[i].n_history && !res->metrics[i].history)
			return sl__err(SL_EINVAL, "step run %s: metric '%s' has no history array",
				       sr->id, res->metrics[i].name);
	}
	return res->ops ? store_ops_check(res->ops) : 0;
}

typedef struct sr_keys {
	bool found;
	int64_t started_ms;
	char cache_key[SL__HASH_HEX_SIZE + 64]; /* longer keys compare unequal: harmless */
} sr_keys;

static int row_sr_keys(void *ud, int ncol, const sq_val *c)
{
	sr_keys *k = ud;

	(void)ncol;
	k->found = true;
	k->started_ms = c[0].type == SQ_INT ? c[0].i : 0;
	if (c[1].type == SQ_TEXT)
		snprintf(k->cache_key, sizeof k->cache_key, "%s", c[1].s);
	return 0;
}

/* NaN and infinities have no portable SQL or JSON form: stored as NULL. */
static sq_val sq_finite(double v)
{
	return isfinite(v) ? SQ_D(v) : SQ_NUL;
}

static int insert_metrics(store *s, const store_steprun *sr, const store_metric *m, size_t n)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		double last = m[i].n_history ? m[i].history[m[i].n_history - 1] : m[i].value;
		sq_val p[] = {S(sr->id), S(m[i].name), sq_finite(last)};

		rc = Q(s,
		       "INSERT INTO metrics (step_run, name, value) VALUES (?, ?, ?) "
		       "ON CONFLICT (step_run, name) DO UPDATE SET value = excluded.value",
		       p, NULL, NULL);
		for (size_t k = 0; rc == 0 && k < m[i].n_history; k++) {
			sq_val h[] = {S(sr->id), S(m[i].name), SQ_I((int64_t)k),
				      sq_finite(m[i].history[k])};
			rc = Q(s,
			       "INSERT INTO metric_history (step_run, name, step, value) "
			       "VALUES (?, ?, ?, ?) ON CONFLICT (step_run, name, step) "
			       "DO UPDATE SET value = excluded.value",
			       h, NULL, NULL);
		}
	}
	return rc;
}

/*
 * Records everything of one finished step run (invariant 1). A NULL producer
 * in an artifact means this step run. An artifact that already exists keeps
 * its first producer. When the step run was never created, it is inserted
 * here; fresh says it was just inserted with its final fields (a cache hit
 * recorded in one call), so only the result remains to add.
 */
static int finish_locked(store *s, const store_steprun *sr, const store_result *res, bool fresh)
{
	static const store_result none = {0};
	sr_keys cur = {0};
	int rc = 0;

	if (!res)
		res = &none;
	if (fresh) /* just inserted with its final fields by create_locked */
		goto result;
	{
		sq_val p[] = {S(sr->id)};
		rc = Q(s, "SELECT started_ms, cache_key FROM step_runs WHERE id = ?", p, row_sr_keys,
		       &cur);
	}
	if (rc == 0 && cur.found) {
		sq_val p[] = {S(sr->status),
			      sr->exit_code >= 0 ? SQ_I(sr->exit_code) : SQ_NUL,
			      opt_time(sr->ended_ms),
			      SQ_I(sr->cache_hit ? 1 : 0),
			      S(sr->cached_from),
			      S(sr->log_path),
			      S(sr->error),
			      S(sr->reason),
			      S(sr->id)};
		bool started = sr->started_ms > 0 && sr->started_ms != cur.started_ms;
		bool keyed = sr->cache_key && strcmp(sr->cache_key, cur.cache_key) != 0;

		rc = Q(s,
		       "UPDATE step_runs SET status = ?, exit_code = ?, ended_ms = ?, "
		       "cache_hit = ?, cached_from = ?, log_path = COALESCE(?, log_path), "
		       "error = ?, reason = ? WHERE id = ?",
		       p, NULL, NULL);
		if (rc == 0 && (started || keyed)) { /* invariant 2 */
			sq_val q[] = {opt_time(sr->started_ms), S(sr->cache_key), S(sr->id)};
			rc = Q(s,
			       "UPDATE step_runs SET started_ms = COALESCE(?, started_ms), "
			       "cache_key = COALESCE(?, cache_key) WHERE id = ?",
			       q, NULL, NULL);
		}
	} else if (rc == 0) {
		if (!sr->run_id || !sr->step)
			return sl__err(SL_ENOENT,
				       "step run %s was never created (and no run or step is given)",
				       sr->id);
		rc = insert_steprun(s, sr);
	}
result:
	for (size_t i = 0; rc == 0 && i < res->n_outputs; i++) {
		const store_io *o = &res->outputs[i];
		if (res->arts) {
			const store_artifact *a = &res->arts[i];
			sq_val p[] = {S(o->artifact_id),
				      S(a->type),
				      SQ_I((int64_t)a->size),
				      S(a->producer ? a->producer : sr->id),
				      SQ_I(a->created_ms > 0 ? a->created_ms : sl__now_ms()),
				      S(a->meta_json)};
			/* A file `artifacts gc` removed is back: the row says so again.
			 * The WHERE keeps every other conflict a no-op (no page write). */
			rc = Q(s,
			       "INSERT INTO artifacts (id, type, size, producer, created_ms, meta) "
			       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
			       "removed_ms = NULL WHERE artifacts.removed_ms IS NOT NULL",
			       p, NULL, NULL);
		}
		if (rc == 0) {
			sq_val p[] = {S(sr->id), S(o->name), S(o->artifact_id)};
			/* A repeated finish re-points the output instead of failing. */
			rc = Q(s,
			       "INSERT INTO edges (step_run, direction, name, artifact) "
			       "VALUES (?, 'out', ?, ?) ON CONFLICT (step_run, direction, name) "
			       "DO UPDATE SET artifact = excluded.artifact",
			       p, NULL, NULL);
			if (rc == SL_ESTORE)
				rc = sl__err_prefix(rc, "output '%s' (artifact %.12s...)", o->name,
						    o->artifact_id);
		}
	}
	if (rc == 0)
		rc = insert_metrics(s, sr, res->metrics, res->n_metrics);
	if (rc == 0 && res->ops)
		rc = st_ops_apply(s, sr, res->ops);
	return rc;
}

int store_steprun_finish(store *s, const store_steprun *sr, const store_result *res)
{
	int rc;

	if (!s)
		return sl__err(SL_EINVAL, "store_steprun_finish: store is NULL");
	if ((rc = check_steprun(sr, false)) != 0 || (rc = check_result(sr, res)) != 0)
		return rc;
	st_retry again = {0};

	st_lock(s);
	do {
		rc = st_begin(s, true);
		if (rc == 0)
			rc = finish_locked(s, sr, res, false);
		rc = st_end(s, rc);
	} while (st_again(s, rc, &again));
	st_unlock(s);
	return rc ? sl__err_prefix(rc, "finishing step run %s", sr->id) : 0;
}

int store_steprun_record(store *s, const store_steprun *sr, const store_io *inputs,
			 size_t n_inputs, const store_result *res)
{
	int rc;

	if (!s)
		return sl__err(SL_EINVAL, "store_steprun_record: store is NULL");
	if ((rc = check_steprun(sr, true)) != 0 || (rc = check_ios("input", inputs, n_inputs)) != 0 ||
	    (rc = check_result(sr, res)) != 0)
		return rc;
	st_retry again = {0};

	st_lock(s);
	do {
		rc = st_begin(s, true);
		if (rc == 0)
			rc = create_locked(s, sr, inputs, n_inputs);
		if (rc == 0)
			rc = finish_locked(s, sr, res, true);
		rc = st_end(s, rc);
	} while (st_again(s, rc, &again));
	st_unlock(s);
	return rc ? sl__err_prefix(rc, "recording step run %s of run %s", sr->id, sr->run_id) : 0;
}

int store_steprun_set_status(store *s, const char *steprun_id, const char *status,
			     int64_t ended_ms, const char *error, const char *reason)
{
	int rc;

	if (!s || !status)
		return sl__err(SL_EINVAL, "store_steprun_set_status: invalid argument");
	if ((rc = st_check_id("step run", steprun_id)) != 0)
		return rc;
	if (!st_known(status, steprun_states, SL__ARRAY_LEN(steprun_states)))
		return sl__err(SL_EINVAL, "'%s' is not a step status", status);
	if (reason && !st_known(reason, reasons, SL__ARRAY_LEN(reasons)))
		return sl__err(SL_EINVAL, "'%s' is not a reason", reason);
	{
		sq_val p[] = {S(status), opt_time(ended_ms), S(error), S(reason), S(steprun_id)};
		st_retry again = {0};

		st_lock(s);
		do {
			rc = st_begin(s, true);
			if (rc == 0)
				rc = st_must_exist(s, "SELECT 1 FROM step_runs WHERE id = ?", "step run",
						   steprun_id);
			if (rc == 0)
				rc = Q(s,
				       "UPDATE step_runs SET status = ?, ended_ms = ?, "
				       "error = COALESCE(?, error), reason = COALESCE(?, reason) WHERE id = ?",
				       p, NULL, NULL);
			rc = st_end(s, rc);
		} while (st_again(s, rc, &again));
		st_unlock(s);
	}
	return rc;
}

/* ---- cache lookup ------------------------------------------------------------------ */

typedef struct io_list {
	store_io *v;
	size_t n, cap;
} io_list;

void store_io_free(store_io *ios, size_t n)
{
	if (!ios)
		return;
	for (size_t i = 0; i < n; i++) {
		sl__free((char *)ios[i].name);
		sl__free((char *)ios[i].artifact_id);
	}
	sl__free(ios);
}

static int row_io(void *ud, int ncol, const sq_val *cols)
{
	io_list *l = ud;
	char *name, *id;

	if (ncol < 2 || cols[0].type != SQ_TEXT || cols[1].type != SQ_TEXT)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		store_io *v = sl__reallocarray(l->v, cap, sizeof *v);
		if (!v)
			return sl__err(SL_ENOMEM, "out of memory reading cached outputs");
		l->v = v;
		l->cap = cap;
	}
	name = sl__strdup(cols[0].s);
	id = sl__strdup(cols[1].s);
	if (!name || !id) {
		sl__free(name);
		sl__free(id);
		return sl__err(SL_ENOMEM, "out of memory reading cached outputs");
	}
	l->v[l->n++] = (store_io){.name = name, .artifact_id = id};
	return 0;
}

typedef struct cache_row {
	char id[STORE_ID_SIZE];
	char from[STORE_ID_SIZE];
	bool found;
} cache_row;

static int row_cache(void *ud, int ncol, const sq_val *cols)
{
	cache_row *c = ud;

	if (c->found || ncol < 2 || cols[0].type != SQ_TEXT)
		return 0;
	c->found = true;
	snprintf(c->id, sizeof c->id, "%s", cols[0].s);
	if (cols[1].type == SQ_TEXT)
		snprintf(c->from, sizeof c->from, "%s", cols[1].s);
	return 0;
}

/*
 * On a hit, *out_steprun names the step run that originally computed the
 * outputs: the newest matching record may itself be a cache hit, and
 * following its cached_from keeps chains of reuse one link long.
 */
int store_cache_lookup(store *s, const char *cache_key, char **out_steprun,
		       store_io **out_outputs, size_t *out_n)
{
	cache_row c = {0};
	io_list l = {0};
	int rc;

	if (out_steprun)
		*out_steprun = NULL;
	if (out_outputs)
		*out_outputs = NULL;
	if (out_n)
		*out_n = 0;
	if (!s || !cache_key || !*cache_key || !out_steprun || !out_outputs || !out_n)
		return sl__err(SL_EINVAL, "store_cache_lookup: invalid argument");
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0) {
		sq_val p[] = {S(cache_key)};
		rc = Q(s,
		       "SELECT id, cached_from FROM step_runs WHERE cache_key = ? "
		       "AND status IN ('completed', 'cached') ORDER BY started_ms DESC LIMIT 1",
		       p, row_cache, &c);
	}
	if (rc == 0 && c.found) {
		sq_val p[] = {S(c.id)};
		rc = Q(s,
		       "SELECT name, artifact FROM edges WHERE step_run = ? AND direction = 'out' "
		       "ORDER BY name",
		       p, row_io, &l);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0 && !c.found)
		rc = sl__err(SL_ENOENT, "no cached result for key %.16s...", cache_key);
	if (rc == 0 && !(*out_steprun = sl__strdup(c.from[0] ? c.from : c.id)))
		rc = sl__err(SL_ENOMEM, "out of memory in cache lookup");
	if (rc) {
		store_io_free(l.v, l.n);
		return rc;
	}
	*out_outputs = l.v;
	*out_n = l.n;
	return 0;
}

/* ---- logs and status --------------------------------------------------------------- */

typedef struct log_row {
	bool found;
	char *path;
	char *run;
	bool nomem;
} log_row;

/* Columns: log_path, origin's log_path, origin's run. */
static int row_log(void *ud, int ncol, const sq_val *c)
{
	log_row *o = ud;

	(void)ncol;
	if (o->found)
		return 0;
	o->found = true;
	if (c[0].type == SQ_TEXT) {
		o->nomem = !(o->path = sl__strdup(c[0].s));
	} else if (c[1].type == SQ_TEXT && c[2].type == SQ_TEXT) {
		o->path = sl__strdup(c[1].s);
		o->run = sl__strdup(c[2].s);
		o->nomem = !o->path || !o->run;
	}
	return 0;
}

int store_steprun_log(store *s, const char *run_id, const char *step, char **out_path,
		      char **out_run)
{
	char id[STORE_ID_SIZE];
	log_row o = {0};
	int rc;

	if (out_path)
		*out_path = NULL;
	if (out_run)
		*out_run = NULL;
	if (!s || !step || !out_path)
		return sl__err(SL_EINVAL, "store_steprun_log: invalid argument");
	st_lock(s);
	rc = st_run_resolve(s, run_id, id);
	if (rc == 0) {
		sq_val p[] = {S(id), S(step)};
		/* A step has one step run per run; the newest wins should that change. */
		rc = Q(s,
		       "SELECT sr.log_path, o.log_path, o.run_id FROM step_runs sr "
		       "LEFT JOIN step_runs o ON o.id = sr.cached_from "
		       "WHERE sr.run_id = ? AND sr.step = ? ORDER BY sr.seq DESC LIMIT 1",
		       p, row_log, &o);
	}
	st_unlock(s);
	if (rc == 0 && o.nomem)
		rc = sl__err(SL_ENOMEM, "out of memory reading a log path");
	if (rc == 0 && !o.found)
		rc = sl__err(SL_ENOENT, "run %s has no step '%s'", id, step);
	if (rc == 0 && !o.path)
		rc = sl__err(SL_ENOENT, "step '%s' of run %s has no log (it did not run)", step, id);
	if (rc) {
		sl__free(o.path);
		sl__free(o.run);
		return rc;
	}
	*out_path = o.path;
	if (out_run)
		*out_run = o.run;
	else
		sl__free(o.run);
	return 0;
}

static int status_of(store *s, const char *sql, const char *what, const char *id,
		     char **out_status)
{
	st_one_str o = {0};
	int rc;

	if (out_status)
		*out_status = NULL;
	if (!s || !id || !out_status)
		return sl__err(SL_EINVAL, "store: the status of what?");
	{
		sq_val p[] = {S(id)};
		st_lock(s);
		rc = Q(s, sql, p, st_row_one_str, &o);
		st_unlock(s);
	}
	if (rc == 0 && o.nomem)
		rc = sl__err(SL_ENOMEM, "out of memory reading a status");
	if (rc == 0 && !o.found)
		rc = sl__err(SL_ENOENT, "no %s %s", what, id);
	if (rc) {
		sl__free(o.v);
		return rc;
	}
	*out_status = o.v;
	return 0;
}

int store_steprun_status(store *s, const char *steprun_id, char **out_status)
{
	return status_of(s, "SELECT status FROM step_runs WHERE id = ?", "step run", steprun_id,
			 out_status);
}

int store_run_status(store *s, const char *run_id, char **out_status)
{
	return status_of(s, "SELECT status FROM runs WHERE id = ?", "run", run_id, out_status);
}

/* ---- outputs of earlier runs --------------------------------------------------------- */

typedef struct out_row {
	bool found;
	char id[SL__HASH_HEX_SIZE];
	char steprun[STORE_ID_SIZE];
} out_row;

static int row_out(void *ud, int ncol, const sq_val *c)
{
	out_row *o = ud;

	if (o->found || ncol < 2 || c[0].type != SQ_TEXT || c[1].type != SQ_TEXT)
		return 0;
	o->found = true;
	snprintf(o->id, sizeof o->id, "%s", c[0].s);
	snprintf(o->steprun, sizeof o->steprun, "%s", c[1].s);
	return 0;
}

int store_run_output(store *s, const char *pipeline, const char *run_ref, unsigned back,
		     const char *step, const char *output, char out_id[SL__HASH_HEX_SIZE],
		     char out_steprun[STORE_ID_SIZE])
{
	out_row o = {0};
	char run[STORE_ID_SIZE];
	bool latest;
	int rc;

	if (!s || !run_ref || !step || !output || !out_id || !out_steprun)
		return sl__err(SL_EINVAL, "store_run_output: invalid argument");
	latest = !strcmp(run_ref, "latest");
	if (latest && !pipeline)
		return sl__err(SL_EINVAL, "store_run_output: latest needs the pipeline");
	st_lock(s);
	if (latest) {
		/* The runs of the pipeline whose step has the output, newest first. */
		sq_val p[] = {S(output), S(pipeline), S(step), SQ_I(back)};
		rc = Q(s,
		       "SELECT e.artifact, sr.id FROM runs r JOIN step_runs sr ON sr.run_id = r.id "
		       "JOIN edges e ON e.step_run = sr.id AND e.direction = 'out' AND e.name = ? "
		       "WHERE r.pipeline = ? AND sr.step = ? AND sr.status IN ('completed', 'cached') "
		       "ORDER BY r.started_ms DESC, r.seq DESC LIMIT 1 OFFSET ?",
		       p, row_out, &o);
		if (rc == 0 && !o.found)
			rc = back ? sl__err(SL_ENOENT,
					    "fewer than %u earlier runs of pipeline '%s' have output '%s' "
					    "of step '%s'",
					    back + 1, pipeline, output, step)
				  : sl__err(SL_ENOENT,
					    "no earlier run of pipeline '%s' has output '%s' of step '%s'",
					    pipeline, output, step);
	} else {
		rc = st_run_resolve(s, run_ref, run);
		if (rc == 0) {
			sq_val p[] = {S(output), S(run), S(step)};
			rc = Q(s,
			       "SELECT e.artifact, sr.id FROM step_runs sr JOIN edges e ON "
			       "e.step_run = sr.id AND e.direction = 'out' AND e.name = ? "
			       "WHERE sr.run_id = ? AND sr.step = ? AND sr.status IN ('completed', 'cached') "
			       "ORDER BY sr.seq DESC LIMIT 1",
			       p, row_out, &o);
			if (rc == 0 && !o.found)
				rc = sl__err(SL_ENOENT, "run %s has no output '%s' of step '%s' (did the "
							"step complete in it?)",
					     run, output, step);
		}
	}
	st_unlock(s);
	if (rc == 0) {
		memcpy(out_id, o.id, SL__HASH_HEX_SIZE);
		memcpy(out_steprun, o.steprun, STORE_ID_SIZE);
	}
	return rc;
}

/* ---- a step run started late; its metrics ------------------------------------------- */

int store_steprun_started(store *s, const store_steprun *sr)
{
	int rc;

	if (!s || !sr || st_check_id("step run", sr->id) != 0)
		return sl__err(SL_EINVAL, "store_steprun_started: invalid argument");
	if ((rc = st_check_json_object("step run resources", sr->resources_json)) != 0)
		return rc;
	st_lock(s);
	rc = st_begin(s, true);
	if (rc == 0) {
		sq_val p[] = {opt_int(sr->pid), opt_int(sr->pid_start), S(sr->job_id),
			      S(sr->log_path), S(sr->resources_json), S(sr->id)};
		rc = Q(s,
		       "UPDATE step_runs SET pid = ?, pid_start = ?, job_id = ?, "
		       "log_path = COALESCE(?, log_path), resources = ? WHERE id = ?",
		       p, NULL, NULL);
	}
	if (rc == 0)
		rc = insert_files(s, sr);
	rc = st_end(s, rc);
	st_unlock(s);
	return rc ? sl__err_prefix(rc, "recording the start of step run %s", sr->id) : 0;
}

typedef struct metric_rows {
	json_t *obj;
	bool nomem;
} metric_rows;

static int row_metric(void *ud, int ncol, const sq_val *c)
{
	metric_rows *m = ud;
	json_t *v;

	if (ncol < 2 || c[0].type != SQ_TEXT)
		return 0;
	v = c[1].type == SQ_REAL ? json_real(c[1].d)
	    : c[1].type == SQ_INT ? json_real((double)c[1].i)
				  : json_null();
	if (!v || json_object_set_new(m->obj, c[0].s, v) != 0)
		m->nomem = true;
	return 0;
}

int store_steprun_metrics(store *s, const char *steprun_id, json_t **out)
{
	metric_rows m = {0};
	int rc;

	if (!s || !out || st_check_id("step run", steprun_id) != 0)
		return sl__err(SL_EINVAL, "store_steprun_metrics: invalid argument");
	*out = NULL;
	if (!(m.obj = json_object()))
		return sl__oom();
	st_lock(s);
	{
		sq_val p[] = {S(steprun_id)};
		rc = Q(s,
		       "SELECT m.name, m.value FROM step_runs sr JOIN metrics m "
		       "ON m.step_run = COALESCE(sr.cached_from, sr.id) WHERE sr.id = ? ORDER BY m.name",
		       p, row_metric, &m);
	}
	st_unlock(s);
	if (rc == 0 && m.nomem)
		rc = sl__oom();
	if (rc) {
		json_decref(m.obj);
		return rc;
	}
	*out = m.obj;
	return 0;
}
