/*
 * Live monitoring's records (schema migration 6): evaluated windows of a
 * model's traffic and their numbers as named series. What `sluice monitor
 * report` records, its page charts and alert rules read back.
 *
 * Invariants:
 *  1. A window's seq is one more than the model's highest, taken inside
 *     the write transaction (which holds the store's write lock on every
 *     backend), so two monitors recording at once never share a number.
 *  2. A window and its values are one transaction: a series never has a
 *     point whose window is missing, nor a window with half its values.
 *  3. NaN is stored as NULL (SQL has no NaN, and PostgreSQL would refuse
 *     it in DOUBLE PRECISION arithmetic); it reads back as JSON null.
 */
#include <math.h>
#include <string.h>

#include "store_int.h"

#define MON_NAME_MAX 512

int store_monitor_add(store *s, const store_monitor_window *w, const char *const *names,
		      const double *values, size_t n, int64_t *out_seq)
{
	st_retry r = {0};
	st_one_i64 top;
	int rc;

	if (!s || !w || !w->model || !w->report || (n && (!names || !values)))
		return sl__err(SL_EINVAL, "store_monitor_add: invalid argument");
	for (size_t i = 0; i < n; i++)
		if (!names[i] || !*names[i] || strlen(names[i]) > MON_NAME_MAX)
			return sl__err(SL_EINVAL, "series %zu: a name of 1 to %d bytes", i,
				       MON_NAME_MAX);
	st_lock(s);
	do {
		memset(&top, 0, sizeof top);
		rc = st_begin(s, true);
		if (rc == 0) {
			sq_val p[] = {S(w->model)};
			rc = Q(s, "SELECT MAX(seq) FROM monitor_windows WHERE model = ?", p,
			       st_row_one_i64, &top);
		}
		if (rc == 0) {
			sq_val p[] = {S(w->model),       SQ_I(top.v + 1),     S(w->version),
				      SQ_I(w->at_ms),    opt_time(w->from_ms), opt_time(w->to_ms),
				      SQ_I(w->requests), SQ_I(w->dataset_drift ? 1 : 0),
				      S(w->report)};
			rc = Q(s,
			       "INSERT INTO monitor_windows (model, seq, version, at_ms, from_ms, "
			       "to_ms, requests, dataset_drift, report) VALUES (?, ?, ?, ?, ?, ?, ?, "
			       "?, ?)",
			       p, NULL, NULL);
		}
		for (size_t i = 0; rc == 0 && i < n; i++) {
			sq_val p[] = {S(w->model), SQ_I(top.v + 1), S(names[i]),
				      isfinite(values[i]) ? SQ_D(values[i]) : SQ_NUL};
			rc = Q(s,
			       "INSERT INTO monitor_values (model, seq, name, value) VALUES (?, ?, ?, "
			       "?) ON CONFLICT (model, seq, name) DO NOTHING",
			       p, NULL, NULL);
		}
		rc = st_end(s, rc);
	} while (st_again(s, rc, &r));
	st_unlock(s);
	if (rc == 0 && out_seq)
		*out_seq = top.v + 1;
	return rc;
}

/* ---- reading ------------------------------------------------------------------------ */

typedef struct hist_ctx {
	json_t *arr;  /* windows, oldest first */
	json_t *by_seq; /* "seq" -> the window's values object (borrowed from arr) */
	bool nomem;
} hist_ctx;

static int window_row(void *ud, int ncol, const sq_val *c)
{
	hist_ctx *h = ud;
	json_t *o = json_object(), *vals = json_object();
	char key[32];

	(void)ncol;
	if (!o || !vals || st_jset(o, "seq", json_integer(c[0].i)) ||
	    st_jset(o, "version", st_j_str(&c[1])) || st_jset(o, "at", st_j_time(&c[2])) ||
	    st_jset(o, "from", st_j_time(&c[3])) || st_jset(o, "to", st_j_time(&c[4])) ||
	    st_jset(o, "requests", json_integer(c[5].i)) ||
	    st_jset(o, "dataset_drift", json_boolean(c[6].i != 0)) ||
	    json_object_set(o, "values", vals) || json_array_append(h->arr, o)) {
		json_decref(o);
		json_decref(vals);
		h->nomem = true;
		return 1;
	}
	snprintf(key, sizeof key, "%lld", (long long)c[0].i);
	if (json_object_set(h->by_seq, key, vals))
		h->nomem = true;
	json_decref(o);
	json_decref(vals);
	return h->nomem;
}

static int value_row(void *ud, int ncol, const sq_val *c)
{
	hist_ctx *h = ud;
	char key[32];
	json_t *vals;

	(void)ncol;
	snprintf(key, sizeof key, "%lld", (long long)c[0].i);
	if (!(vals = json_object_get(h->by_seq, key)) || c[1].type != SQ_TEXT)
		return 0;
	if (json_object_set_new(vals, c[1].s, c[2].type == SQ_NULL ? json_null() : json_real(c[2].d))) {
		h->nomem = true;
		return 1;
	}
	return 0;
}

/* The seq from which the newest `last` windows start (1 when last is 0 or covers all). */
static int first_seq(store *s, const char *model, size_t last, int64_t *out)
{
	st_one_i64 top = {0};
	sq_val p[] = {S(model)};
	int rc = Q(s, "SELECT MAX(seq) FROM monitor_windows WHERE model = ?", p, st_row_one_i64,
		   &top);

	*out = 1;
	if (rc == 0 && last && top.v > (int64_t)last)
		*out = top.v - (int64_t)last + 1;
	return rc;
}

int store_monitor_history(store *s, const char *model, size_t last, json_t **out)
{
	hist_ctx h = {0};
	int64_t from = 1;
	int rc;

	*out = NULL;
	if (!s || !model)
		return sl__err(SL_EINVAL, "store_monitor_history: invalid argument");
	if (!(h.arr = json_array()) || !(h.by_seq = json_object())) {
		json_decref(h.arr);
		json_decref(h.by_seq);
		return sl__oom();
	}
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = first_seq(s, model, last, &from);
	if (rc == 0) {
		sq_val p[] = {S(model), SQ_I(from)};
		rc = Q(s,
		       "SELECT seq, version, at_ms, from_ms, to_ms, requests, dataset_drift FROM "
		       "monitor_windows WHERE model = ? AND seq >= ? ORDER BY seq",
		       p, window_row, &h);
	}
	if (rc == 0 && !h.nomem) {
		sq_val p[] = {S(model), SQ_I(from)};
		rc = Q(s,
		       "SELECT seq, name, value FROM monitor_values WHERE model = ? AND seq >= ? "
		       "ORDER BY seq, name",
		       p, value_row, &h);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	json_decref(h.by_seq);
	if (rc == 0 && h.nomem)
		rc = sl__oom();
	if (rc) {
		json_decref(h.arr);
		return rc;
	}
	*out = h.arr;
	return 0;
}

static int series_row(void *ud, int ncol, const sq_val *c)
{
	hist_ctx *h = ud;
	json_t *o = json_object();

	(void)ncol;
	if (!o || st_jset(o, "seq", json_integer(c[0].i)) || st_jset(o, "at", st_j_time(&c[1])) ||
	    st_jset(o, "value", c[2].type == SQ_NULL ? json_null() : json_real(c[2].d)) ||
	    json_array_append_new(h->arr, o)) {
		h->nomem = true;
		return 1;
	}
	return 0;
}

int store_monitor_series(store *s, const char *model, const char *name, size_t last,
			 json_t **out)
{
	hist_ctx h = {0};
	int64_t from = 1;
	int rc;

	*out = NULL;
	if (!s || !model || !name)
		return sl__err(SL_EINVAL, "store_monitor_series: invalid argument");
	if (!(h.arr = json_array()))
		return sl__oom();
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = first_seq(s, model, last, &from);
	if (rc == 0) {
		sq_val p[] = {S(model), S(name), SQ_I(from)};
		rc = Q(s,
		       "SELECT v.seq, w.at_ms, v.value FROM monitor_values v JOIN monitor_windows w "
		       "ON w.model = v.model AND w.seq = v.seq WHERE v.model = ? AND v.name = ? AND "
		       "v.seq >= ? ORDER BY v.seq",
		       p, series_row, &h);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0 && h.nomem)
		rc = sl__oom();
	if (rc) {
		json_decref(h.arr);
		return rc;
	}
	*out = h.arr;
	return 0;
}
