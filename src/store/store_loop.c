/*
 * The monitoring loop's records (store.h, "the monitoring loop"): the
 * events `sluice monitor events` lists and the state the watcher keeps
 * between evaluations (migration 7 made both tables).
 *
 * Invariants:
 *
 *  1. Events are append-only: inserted with seq = MAX(seq) + 1 inside a
 *     write transaction, which holds the store's write lock from its first
 *     statement, so two watchers sharing a store never take one number
 *     twice and the order of seq is the order of the decisions.
 *  2. A state row is written whole (INSERT ... ON CONFLICT DO UPDATE): a
 *     reader sees the previous row or the new one, never a mix.
 *  3. A claim is taken by a read and a write in one write transaction, so
 *     of two watchers asking at once exactly one gets it; the other sees
 *     the holder's note. What makes a claim free (not active, its run
 *     ended, stale) is decided here from the rows alone: the store never
 *     judges whether a process is alive.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define EVENT_KIND_MAX 32

/* ---- events ------------------------------------------------------------------------ */

int store_mon_event_add(store *s, const store_mon_event *e, int64_t *out_seq)
{
	char id[17];
	int64_t at;
	st_retry r = {0};
	int rc;

	if (!s || !e || !e->kind || !*e->kind || strlen(e->kind) > EVENT_KIND_MAX)
		return sl__err(SL_EINVAL, "store_mon_event_add: an event needs a kind of 1 to %d "
					  "characters",
			       EVENT_KIND_MAX);
	if ((rc = st_check_json_object("an event's detail", e->detail_json)) != 0)
		return rc;
	if (e->model && (rc = store_check_model_name(e->model)) != 0)
		return rc;
	if ((rc = sl__random_hex(id, 16)) != 0)
		return rc;
	at = e->at_ms > 0 ? e->at_ms : sl__now_ms();
	st_lock(s);
	do {
		st_one_i64 mx = {0};
		rc = st_begin(s, true);
		if (rc == 0)
			rc = Q0(s, "SELECT MAX(seq) FROM monitor_events", st_row_one_i64, &mx);
		if (rc == 0) {
			sq_val p[] = {S(id),	  SQ_I(mx.null ? 1 : mx.v + 1), SQ_I(at), S(e->kind),
				      S(e->model), S(e->detail_json),		  S(e->run)};
			rc = Q(s,
			       "INSERT INTO monitor_events (id, seq, at_ms, kind, model, detail, run_id) "
			       "VALUES (?, ?, ?, ?, ?, ?, ?)",
			       p, NULL, NULL);
			if (rc == 0 && out_seq)
				*out_seq = mx.null ? 1 : mx.v + 1;
		}
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	st_unlock(s);
	return rc;
}

/* Columns: 0 seq, 1 at_ms, 2 kind, 3 model, 4 detail, 5 run_id. */
static const jv_field event_view[] = {
	{"seq", JV_INT, 0, 0, NULL},
	{"at", JV_TIME, 1, 0, NULL},
	{"kind", JV_STR, 2, 0, NULL},
	{"model", JV_STR, 3, 0, NULL},
	{"detail", JV_JSON_OBJ, 4, 0, NULL},
	{"run", JV_STR, 5, 0, NULL},
	{NULL, 0, 0, 0, NULL},
};

int store_mon_events_json(store *s, const store_mon_filter *f, json_t **out)
{
	store_mon_filter none = {0};
	jv_ctx cx = {.fields = event_view, .dedup_col = -1};
	sl__buf q;
	sq_val p[6];
	int np = 0, rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_mon_events_json: invalid argument");
	*out = NULL;
	if (!f)
		f = &none;
	if (!(cx.arr = json_array()))
		return st_nomem_json();
	sl__buf_init(&q, 0);
	/* The newest `limit` are taken by seq descending, then put back in order. */
	rc = sl__buf_puts(&q, "SELECT seq, at_ms, kind, model, detail, run_id FROM monitor_events "
			      "WHERE seq > ?");
	p[np++] = SQ_I(f->after_seq > 0 ? f->after_seq : 0);
	if (rc == 0 && f->model) {
		rc = sl__buf_puts(&q, " AND model = ?");
		p[np++] = S(f->model);
	}
	if (rc == 0 && f->kind) {
		rc = sl__buf_puts(&q, " AND kind = ?");
		p[np++] = S(f->kind);
	}
	if (rc == 0 && f->run) {
		rc = sl__buf_puts(&q, " AND run_id = ?");
		p[np++] = S(f->run);
	}
	if (rc == 0 && f->since_ms > 0) {
		rc = sl__buf_puts(&q, " AND at_ms >= ?");
		p[np++] = SQ_I(f->since_ms);
	}
	if (rc == 0 && f->limit > 0) {
		rc = sl__buf_puts(&q, " ORDER BY seq DESC LIMIT ?");
		p[np++] = SQ_I((int64_t)(f->limit > INT32_MAX ? INT32_MAX : f->limit));
	} else if (rc == 0) {
		rc = sl__buf_puts(&q, " ORDER BY seq");
	}
	if (rc) {
		sl__buf_free(&q);
		json_decref(cx.arr);
		return sl__oom();
	}
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = s->drv->exec(s->conn, q.data, np, p, st_row_view, &cx);
	rc = st_end(s, rc);
	st_unlock(s);
	sl__buf_free(&q);
	if (rc) {
		json_decref(cx.arr);
		return rc;
	}
	if (f->limit > 0) {
		/* Newest first from the query; the view is oldest first. */
		size_t n = json_array_size(cx.arr);
		for (size_t i = 0; i < n / 2; i++) {
			json_t *a = json_incref(json_array_get(cx.arr, i));
			json_t *b = json_incref(json_array_get(cx.arr, n - 1 - i));
			if (json_array_set_new(cx.arr, i, b) || json_array_set_new(cx.arr, n - 1 - i, a)) {
				json_decref(cx.arr);
				return st_nomem_json();
			}
		}
	}
	*out = cx.arr;
	return 0;
}

/* ---- state ------------------------------------------------------------------------- */

/* model "" holds the project's own state (sluice.yaml's schedules). */
static int check_key(const char *model, const char *name)
{
	int rc = model && !*model ? 0 : store_check_model_name(model);

	if (rc)
		return rc;
	if (!name || !*name || strlen(name) >= STORE_MON_KEY_MAX)
		return sl__err(SL_EINVAL, "a monitoring state name is 1 to %d characters",
			       STORE_MON_KEY_MAX - 1);
	return 0;
}

/* Columns: 0 active, 1 streak, 2 window_key, 3 since_ms, 4 updated_ms, 5 fired, 6 value, 7 note. */
static int row_state(void *ud, int ncol, const sq_val *c)
{
	store_mon_state *o = ud;

	if (o->found || ncol < 8)
		return 0;
	o->found = true;
	o->active = c[0].type == SQ_INT && c[0].i != 0;
	o->streak = c[1].type == SQ_INT ? c[1].i : 0;
	snprintf(o->window, sizeof o->window, "%s", c[2].type == SQ_TEXT ? c[2].s : "");
	o->since_ms = c[3].type == SQ_INT ? c[3].i : 0;
	o->updated_ms = c[4].type == SQ_INT ? c[4].i : 0;
	o->fired = c[5].type == SQ_INT ? c[5].i : 0;
	o->value = c[6].type == SQ_REAL ? c[6].d : c[6].type == SQ_INT ? (double)c[6].i : NAN;
	snprintf(o->note, sizeof o->note, "%s", c[7].type == SQ_TEXT ? c[7].s : "");
	return 0;
}

static int state_read(store *s, const char *model, const char *name, store_mon_state *out)
{
	sq_val p[] = {S(model), S(name)};

	memset(out, 0, sizeof *out);
	out->value = NAN;
	snprintf(out->model, sizeof out->model, "%s", model);
	snprintf(out->name, sizeof out->name, "%s", name);
	return Q(s,
		 "SELECT active, streak, window_key, since_ms, updated_ms, fired, value, note "
		 "FROM monitor_state WHERE model = ? AND name = ?",
		 p, row_state, out);
}

static int state_write(store *s, const store_mon_state *st)
{
	sq_val p[] = {S(st->model),
		      S(st->name),
		      SQ_I(st->active ? 1 : 0),
		      SQ_I(st->streak),
		      S(st->window[0] ? st->window : NULL),
		      opt_time(st->since_ms),
		      SQ_I(st->updated_ms > 0 ? st->updated_ms : sl__now_ms()),
		      SQ_I(st->fired),
		      isfinite(st->value) ? SQ_D(st->value) : SQ_NUL,
		      S(st->note[0] ? st->note : NULL)};

	return Q(s,
		 "INSERT INTO monitor_state (model, name, active, streak, window_key, since_ms, "
		 "updated_ms, fired, value, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		 "ON CONFLICT (model, name) DO UPDATE SET active = excluded.active, "
		 "streak = excluded.streak, window_key = excluded.window_key, "
		 "since_ms = excluded.since_ms, updated_ms = excluded.updated_ms, "
		 "fired = excluded.fired, value = excluded.value, note = excluded.note",
		 p, NULL, NULL);
}

int store_mon_state_get(store *s, const char *model, const char *name, store_mon_state *out)
{
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_mon_state_get: invalid argument");
	if ((rc = check_key(model, name)) != 0)
		return rc;
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = state_read(s, model, name, out);
	rc = st_end(s, rc);
	st_unlock(s);
	return rc;
}

int store_mon_state_put(store *s, const store_mon_state *st)
{
	st_retry r = {0};
	int rc;

	if (!s || !st)
		return sl__err(SL_EINVAL, "store_mon_state_put: invalid argument");
	if ((rc = check_key(st->model, st->name)) != 0)
		return rc;
	st_lock(s);
	do {
		rc = st_begin(s, true);
		if (rc == 0)
			rc = state_write(s, st);
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	st_unlock(s);
	return rc;
}

/*
 * A claim's row: note is its holder, window the run it started ("" until
 * then). Free when not active, when that run has ended, or when stale.
 */
static int claim_free(store *s, const store_mon_state *st, int64_t now_ms, int64_t stale_ms,
		      bool *out_free)
{
	*out_free = !st->found || !st->active || (stale_ms > 0 && st->updated_ms < now_ms - stale_ms);
	if (!*out_free && st->window[0]) {
		st_one_str o = {0};
		sq_val p[] = {S(st->window)};
		int rc = Q(s, "SELECT status FROM runs WHERE id = ?", p, st_row_one_str, &o);
		if (rc == 0 && o.nomem)
			rc = sl__oom();
		if (rc == 0)
			*out_free = !o.v || strcmp(o.v, ST_RUNNING) != 0;
		sl__free(o.v);
		return rc;
	}
	return 0;
}

int store_mon_claim(store *s, const char *model, const char *name, const char *owner,
		    int64_t now_ms, int64_t stale_ms, bool *out_claimed, char *out_holder)
{
	st_retry r = {0};
	int rc;

	if (!s || !owner || !*owner || strlen(owner) >= STORE_MON_NOTE_MAX || !out_claimed)
		return sl__err(SL_EINVAL, "store_mon_claim: invalid argument");
	if ((rc = check_key(model, name)) != 0)
		return rc;
	st_lock(s);
	do {
		store_mon_state st;
		bool is_free = false;
		*out_claimed = false;
		rc = st_begin(s, true);
		if (rc == 0)
			rc = state_read(s, model, name, &st);
		if (rc == 0)
			rc = claim_free(s, &st, now_ms, stale_ms, &is_free);
		if (rc == 0 && is_free) {
			st.active = true;
			st.since_ms = now_ms;
			st.updated_ms = now_ms;
			st.fired++;
			st.window[0] = '\0';
			snprintf(st.note, sizeof st.note, "%s", owner);
			rc = state_write(s, &st);
			if (rc == 0)
				*out_claimed = true;
		} else if (rc == 0 && out_holder) {
			snprintf(out_holder, STORE_MON_NOTE_MAX, "%s%s%s", st.note,
				 st.window[0] ? " (run " : "", st.window[0] ? st.window : "");
			if (st.window[0])
				strncat(out_holder, ")", STORE_MON_NOTE_MAX - strlen(out_holder) - 1);
		}
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	st_unlock(s);
	return rc;
}

int store_mon_claim_note(store *s, const char *model, const char *name, const char *owner,
			 const char *run)
{
	st_retry r = {0};
	int rc;

	if (!s || !owner)
		return sl__err(SL_EINVAL, "store_mon_claim_note: invalid argument");
	if ((rc = check_key(model, name)) != 0)
		return rc;
	if (run && strlen(run) >= STORE_MON_KEY_MAX)
		return sl__err(SL_EINVAL, "store_mon_claim_note: run id too long");
	st_lock(s);
	do {
		store_mon_state st;
		rc = st_begin(s, true);
		if (rc == 0)
			rc = state_read(s, model, name, &st);
		if (rc == 0 && st.found && st.active && !strcmp(st.note, owner)) {
			st.updated_ms = sl__now_ms();
			if (run)
				snprintf(st.window, sizeof st.window, "%s", run);
			else
				st.active = false;
			rc = state_write(s, &st);
		}
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	st_unlock(s);
	return rc;
}
