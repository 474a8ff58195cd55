/*
 * The monitoring loop's records (store.h, "the monitoring loop"): the
 * events `sluice monitor events` lists and the state the watcher keeps
 * between evaluations (migration 7 made both tables), and the
 * acknowledgements of alerts (migration 9's monitor_acks).
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
 *  4. An alert is acknowledged once: the check that it is an alert
 *     without an acknowledgement and the insert are one write
 *     transaction, so of two people acknowledging at once the second is
 *     told who was first (SL_EEXIST).
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

/* An alert's acknowledgement: columns 6 who, 7 at_ms, 8 note. */
static const jv_field ack_view[] = {
	{"by", JV_STR, 6, 0, NULL},
	{"at", JV_TIME, 7, 0, NULL},
	{"note", JV_STR, 8, 0, NULL},
	{NULL, 0, 0, 0, NULL},
};

/* Columns: 0 seq, 1 at_ms, 2 kind, 3 model, 4 detail, 5 run_id, 6.. the ack's. */
static const jv_field event_view[] = {
	{"seq", JV_INT, 0, 0, NULL},
	{"at", JV_TIME, 1, 0, NULL},
	{"kind", JV_STR, 2, 0, NULL},
	{"model", JV_STR, 3, 0, NULL},
	{"detail", JV_JSON_OBJ, 4, 0, NULL},
	{"run", JV_STR, 5, 0, NULL},
	{"ack", JV_NESTED, 6, 0, ack_view},
	{NULL, 0, 0, 0, NULL},
};

#define EVENT_COLS                                                                           \
	"SELECT e.seq, e.at_ms, e.kind, e.model, e.detail, e.run_id, a.who, a.at_ms, a.note "    \
	"FROM monitor_events e LEFT JOIN monitor_acks a ON a.seq = e.seq "

/* The WHERE clause of filter f into q and its parameters into p (at most 5). */
static int events_where(sl__buf *q, const store_mon_filter *f, sq_val *p, int *np)
{
	int rc = sl__buf_puts(q, "WHERE e.seq > ?");

	p[(*np)++] = SQ_I(f->after_seq > 0 ? f->after_seq : 0);
	if (rc == 0 && f->model) {
		rc = sl__buf_puts(q, " AND e.model = ?");
		p[(*np)++] = S(f->model);
	}
	if (rc == 0 && f->kind) {
		rc = sl__buf_puts(q, " AND e.kind = ?");
		p[(*np)++] = S(f->kind);
	}
	if (rc == 0 && f->run) {
		rc = sl__buf_puts(q, " AND e.run_id = ?");
		p[(*np)++] = S(f->run);
	}
	if (rc == 0 && f->since_ms > 0) {
		rc = sl__buf_puts(q, " AND e.at_ms >= ?");
		p[(*np)++] = SQ_I(f->since_ms);
	}
	return rc;
}

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
	rc = sl__buf_puts(&q, EVENT_COLS);
	if (rc == 0)
		rc = events_where(&q, f, p, &np);
	if (rc == 0 && f->limit > 0) {
		rc = sl__buf_puts(&q, " ORDER BY e.seq DESC LIMIT ?");
		p[np++] = SQ_I((int64_t)(f->limit > INT32_MAX ? INT32_MAX : f->limit));
	} else if (rc == 0) {
		rc = sl__buf_puts(&q, " ORDER BY e.seq");
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

int store_mon_events_page_json(store *s, const store_mon_filter *f, int64_t offset,
			       int64_t limit, json_t **out_items, int64_t *out_total)
{
	store_mon_filter none = {0};
	jv_ctx cx = {.fields = event_view, .dedup_col = -1};
	st_one_i64 total = {0};
	sl__buf where, count, rows;
	sq_val p[7];
	int np = 0, rc;

	if (!s || !out_items || !out_total || offset < 0 || limit < 1)
		return sl__err(SL_EINVAL, "store_mon_events_page_json: invalid argument");
	*out_items = NULL;
	*out_total = 0;
	if (!f)
		f = &none;
	sl__buf_init(&where, 0);
	sl__buf_init(&count, 0);
	sl__buf_init(&rows, 0);
	/* The count needs no join: the filter is on the events alone. */
	if (events_where(&where, f, p, &np) ||
	    sl__buf_printf(&count, "SELECT COUNT(*) FROM monitor_events e %s", where.data) ||
	    sl__buf_printf(&rows, EVENT_COLS "%s ORDER BY e.seq DESC LIMIT ? OFFSET ?",
			   where.data) ||
	    !(cx.arr = json_array())) {
		rc = sl__oom();
		goto out;
	}
	p[np] = SQ_I(limit);
	p[np + 1] = SQ_I(offset);
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = s->drv->exec(s->conn, count.data, np, p, st_row_one_i64, &total);
	if (rc == 0)
		rc = s->drv->exec(s->conn, rows.data, np + 2, p, st_row_view, &cx);
	rc = st_end(s, rc);
	st_unlock(s);
out:
	sl__buf_free(&where);
	sl__buf_free(&count);
	sl__buf_free(&rows);
	if (rc) {
		json_decref(cx.arr);
		return rc;
	}
	*out_items = cx.arr;
	*out_total = total.v;
	return 0;
}

/* ---- acknowledgements ------------------------------------------------------------------ */

/* Columns: 0 kind, 1 ack's who, 2 ack's at_ms. */
typedef struct ack_probe {
	bool found;
	char kind[EVENT_KIND_MAX + 1];
	char who[STORE_NAME_MAX + 1];
	int64_t at_ms;
} ack_probe;

static int row_ack_probe(void *ud, int ncol, const sq_val *c)
{
	ack_probe *o = ud;

	if (o->found || ncol < 3)
		return 0;
	o->found = true;
	snprintf(o->kind, sizeof o->kind, "%s", c[0].type == SQ_TEXT ? c[0].s : "");
	snprintf(o->who, sizeof o->who, "%s", c[1].type == SQ_TEXT ? c[1].s : "");
	o->at_ms = c[2].type == SQ_INT ? c[2].i : 0;
	return 0;
}

int store_mon_ack(store *s, int64_t seq, const char *who, const char *note, json_t **out_event)
{
	jv_ctx cx = {.fields = event_view, .dedup_col = -1};
	st_retry r = {0};
	ack_probe pr;
	int64_t now = sl__now_ms();
	int rc;

	if (out_event)
		*out_event = NULL;
	if (!s || seq < 1 || !who || !*who || strlen(who) > STORE_NAME_MAX)
		return sl__err(SL_EINVAL, "store_mon_ack: an event number and who acknowledges");
	if (note && strlen(note) > STORE_MON_NOTE_MAX)
		return sl__err(SL_EINVAL, "an acknowledgement's note is at most %d bytes",
			       STORE_MON_NOTE_MAX);
	st_lock(s);
	do {
		sq_val p[] = {SQ_I(seq)};
		memset(&pr, 0, sizeof pr);
		rc = st_begin(s, true);
		if (rc == 0)
			rc = Q(s,
			       "SELECT e.kind, a.who, a.at_ms FROM monitor_events e "
			       "LEFT JOIN monitor_acks a ON a.seq = e.seq WHERE e.seq = ?",
			       p, row_ack_probe, &pr);
		if (rc == 0 && !pr.found)
			rc = sl__err(SL_ENOENT, "no monitoring event %lld (sluice monitor events lists "
						"them)",
				     (long long)seq);
		else if (rc == 0 && strcmp(pr.kind, "alert"))
			rc = sl__err(SL_EINVAL, "event %lld is a '%s', not an alert: only alerts are "
						"acknowledged",
				     (long long)seq, pr.kind);
		else if (rc == 0 && pr.who[0])
			rc = sl__err(SL_EEXIST, "alert %lld was already acknowledged by %s", (long long)seq,
				     pr.who);
		if (rc == 0) {
			sq_val q[] = {SQ_I(seq), SQ_I(now), S(who), S(note && *note ? note : NULL)};
			rc = Q(s, "INSERT INTO monitor_acks (seq, at_ms, who, note) VALUES (?, ?, ?, ?)",
			       q, NULL, NULL);
		}
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	if (rc == 0 && out_event) {
		sq_val p[] = {SQ_I(seq)};
		rc = st_begin(s, false);
		if (rc == 0)
			rc = Q(s, EVENT_COLS "WHERE e.seq = ?", p, st_row_view, &cx);
		rc = st_end(s, rc);
		if (rc == 0 && !cx.obj)
			rc = sl__oom();
	}
	st_unlock(s);
	if (rc) {
		json_decref(cx.obj);
		return rc;
	}
	if (out_event)
		*out_event = cx.obj;
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
