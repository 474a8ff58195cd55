/*
 * Live monitoring's records (schema migration 7): evaluated windows of a
 * model's traffic and their numbers as named series. What `sluice monitor
 * report` records, its page charts, alert rules and the web UI's
 * monitoring page (one page of windows, the monitored models) read back.
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

/* Windows lo..hi of model and their values into h->arr (inside a read transaction). */
static int load_range(store *s, const char *model, int64_t lo, int64_t hi, hist_ctx *h)
{
	sq_val p[] = {S(model), SQ_I(lo), SQ_I(hi)};
	int rc = Q(s,
		   "SELECT seq, version, at_ms, from_ms, to_ms, requests, dataset_drift FROM "
		   "monitor_windows WHERE model = ? AND seq >= ? AND seq <= ? ORDER BY seq",
		   p, window_row, h);

	if (rc == 0 && !h->nomem)
		rc = Q(s,
		       "SELECT seq, name, value FROM monitor_values WHERE model = ? AND seq >= ? "
		       "AND seq <= ? ORDER BY seq, name",
		       p, value_row, h);
	return rc;
}

static int hist_open(hist_ctx *h)
{
	memset(h, 0, sizeof *h);
	if (!(h->arr = json_array()) || !(h->by_seq = json_object())) {
		json_decref(h->arr);
		json_decref(h->by_seq);
		return sl__oom();
	}
	return 0;
}

/* Ends h: *out takes its windows on success (rc 0), else they are freed. */
static int hist_close(hist_ctx *h, int rc, json_t **out)
{
	json_decref(h->by_seq);
	if (rc == 0 && h->nomem)
		rc = sl__oom();
	if (rc) {
		json_decref(h->arr);
		return rc;
	}
	*out = h->arr;
	return 0;
}

int store_monitor_history(store *s, const char *model, size_t last, json_t **out)
{
	hist_ctx h;
	int64_t from = 1;
	int rc;

	*out = NULL;
	if (!s || !model)
		return sl__err(SL_EINVAL, "store_monitor_history: invalid argument");
	if ((rc = hist_open(&h)))
		return rc;
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = first_seq(s, model, last, &from);
	if (rc == 0)
		rc = load_range(s, model, from, INT64_MAX, &h);
	rc = st_end(s, rc);
	st_unlock(s);
	return hist_close(&h, rc, out);
}

/* Columns: 0 seq, 1 version, 2 at, 3 from, 4 to, 5 requests, 6 dataset_drift. */
static const jv_field window_view[] = {
	{"seq", JV_INT, 0, 0, NULL},
	{"version", JV_STR, 1, 0, NULL},
	{"at", JV_TIME, 2, 0, NULL},
	{"from", JV_TIME, 3, 0, NULL},
	{"to", JV_TIME, 4, 0, NULL},
	{"requests", JV_INT, 5, 0, NULL},
	{"dataset_drift", JV_BOOL, 6, 0, NULL},
	{NULL, 0, 0, 0, NULL},
};

/* The page's windows written as text as their rows stream in (7 name, 8 value). */
typedef struct page_writer {
	sl__buf *b;
	int64_t seq; /* the window open, 0: none yet */
	bool first_value;
	int rc;
} page_writer;

static int row_page(void *ud, int ncol, const sq_val *c)
{
	page_writer *w = ud;
	sl__buf *b = w->b;
	char num[40];
	int rc = 0;

	if (ncol < 9)
		return 0;
	if (c[0].i != w->seq) {
		if (w->seq)
			rc = sl__buf_puts(b, "}},\n");
		if (rc == 0)
			rc = sl__buf_putc(b, '{');
		if (rc == 0)
			rc = st_jw_fields(b, window_view, ncol, c);
		if (rc == 0)
			rc = sl__buf_puts(b, ", \"values\": {");
		w->seq = c[0].i;
		w->first_value = true;
	}
	if (rc == 0 && c[7].type == SQ_TEXT) {
		if (!w->first_value)
			rc = sl__buf_puts(b, ", ");
		if (rc == 0)
			rc = st_jw_str(b, c[7].s);
		if (c[8].type == SQ_REAL || c[8].type == SQ_INT) {
			/* A real stays a real to a reader (5.0, not 5), as jansson writes it. */
			int n = snprintf(num, sizeof num, ": %.17g",
					 c[8].type == SQ_REAL ? c[8].d : (double)c[8].i);
			if (n > 0 && (size_t)n + 2 < sizeof num && !strpbrk(num + 2, ".e"))
				memcpy(num + n, ".0", 3);
		} else {
			snprintf(num, sizeof num, ": null");
		}
		if (rc == 0)
			rc = sl__buf_puts(b, num);
		w->first_value = false;
	}
	w->rc = rc;
	return rc ? 1 : 0;
}

/*
 * The page's windows are found by rank (ORDER BY seq DESC LIMIT OFFSET on
 * the primary key), not by arithmetic on seq, so a gap in the numbers
 * (a window lost to a copy between stores) does not shift the page. The
 * document is written as text, not built as objects: a page of 100 windows
 * of a model of 60 features holds about 20,000 numbers, and building and
 * dumping them as objects took most of the request's time.
 */
int store_monitor_page_text(store *s, const char *model, int64_t offset, int64_t limit,
			    char **out)
{
	st_i64s span = {0};
	st_one_i64 total = {0};
	st_one_str rep = {0};
	page_writer w = {0};
	sl__buf b;
	int rc;

	if (out)
		*out = NULL;
	if (!s || !model || !out || offset < 0 || limit < 1)
		return sl__err(SL_EINVAL, "store_monitor_page_text: invalid argument");
	sl__buf_init(&b, 0);
	w.b = &b;
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0) {
		sq_val p[] = {S(model)};
		rc = Q(s, "SELECT COUNT(*) FROM monitor_windows WHERE model = ?", p, st_row_one_i64,
		       &total);
	}
	if (rc == 0) {
		sq_val p[] = {S(model), SQ_I(limit), SQ_I(offset)};
		rc = Q(s,
		       "SELECT MIN(seq), MAX(seq) FROM (SELECT seq FROM monitor_windows WHERE model = "
		       "? ORDER BY seq DESC LIMIT ? OFFSET ?) w",
		       p, st_row_i64s, &span);
	}
	if (rc == 0 && !(rc = sl__buf_puts(&b, "{\"model\": ")) && !(rc = st_jw_str(&b, model)))
		rc = sl__buf_printf(&b, ", \"total\": %lld, \"offset\": %lld, \"limit\": %lld, "
					"\"items\": [\n",
				    (long long)total.v, (long long)offset, (long long)limit);
	if (rc == 0 && span.found && !span.null[0]) {
		sq_val p[] = {S(model), SQ_I(span.v[0]), SQ_I(span.v[1])};
		rc = Q(s,
		       "SELECT w.seq, w.version, w.at_ms, w.from_ms, w.to_ms, w.requests, "
		       "w.dataset_drift, v.name, v.value FROM monitor_windows w LEFT JOIN "
		       "monitor_values v ON v.model = w.model AND v.seq = w.seq WHERE w.model = ? "
		       "AND w.seq >= ? AND w.seq <= ? ORDER BY w.seq, v.name",
		       p, row_page, &w);
		if (w.rc)
			rc = w.rc;
		if (rc == 0) {
			sq_val q[] = {S(model), SQ_I(span.v[1])};
			rc = Q(s, "SELECT report FROM monitor_windows WHERE model = ? AND seq = ?", q,
			       st_row_one_str, &rep);
			if (rc == 0 && rep.nomem)
				rc = sl__oom();
		}
	}
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0 && w.seq)
		rc = sl__buf_puts(&b, "}}");
	if (rc == 0)
		rc = sl__buf_puts(&b, "\n], \"report\": ");
	if (rc == 0 && rep.v) {
		/* Written by mon_record from a report it made: one that does not parse
		 * is a damaged store, said as such rather than passed on. */
		json_t *j = json_loads(rep.v, 0, NULL);
		if (!json_is_object(j))
			rc = sl__err(SL_ESTORE, "the report of window %lld of model '%s' is not JSON",
				     (long long)span.v[1], model);
		json_decref(j);
		if (rc == 0)
			rc = sl__buf_puts(&b, rep.v);
	} else if (rc == 0) {
		rc = sl__buf_puts(&b, "null");
	}
	if (rc == 0)
		rc = sl__buf_puts(&b, "}\n");
	sl__free(rep.v);
	if (rc == 0 && !(*out = sl__buf_detach(&b)))
		rc = sl__oom();
	if (rc)
		sl__buf_free(&b);
	return rc;
}

/* Columns: 0 model, 1 windows, 2 last at, 3 version, 4 dataset_drift, 5 alerts, 6 unacked. */
static const jv_field models_view[] = {
	{"model", JV_STR, 0, 0, NULL},
	{"windows", JV_INT, 1, 0, NULL},
	{"last_at", JV_TIME, 2, 0, NULL},
	{"version", JV_STR, 3, 0, NULL},
	{"dataset_drift", JV_BOOL, 4, 0, NULL},
	{"alerts", JV_INT, 5, 0, NULL},
	{"unacknowledged", JV_INT, 6, 0, NULL},
	{NULL, 0, 0, 0, NULL},
};

#define MONITORED                                                                            \
	"FROM (SELECT model FROM monitor_windows UNION SELECT model FROM monitor_events "      \
	"WHERE model IS NOT NULL) m WHERE (CAST(? AS TEXT) IS NULL OR m.model LIKE ? "       \
	"ESCAPE '\\') "

int store_monitor_models_page(store *s, const char *search, int64_t offset, int64_t limit,
			      json_t **out_items, int64_t *out_total)
{
	jv_ctx cx = {.fields = models_view, .dedup_col = -1};
	st_one_i64 total = {0};
	char *like = st_like_pattern(search);
	int rc;

	if (!s || !out_items || !out_total || offset < 0 || limit < 1) {
		sl__free(like);
		return sl__err(SL_EINVAL, "store_monitor_models_page: invalid argument");
	}
	*out_items = NULL;
	*out_total = 0;
	if ((search && *search && !like) || !(cx.arr = json_array())) {
		sl__free(like);
		return sl__oom();
	}
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0) {
		sq_val p[] = {S(like), S(like)};
		rc = Q(s, "SELECT COUNT(*) " MONITORED, p, st_row_one_i64, &total);
	}
	if (rc == 0) {
		sq_val p[] = {S(like), S(like), SQ_I(limit), SQ_I(offset)};
		rc = Q(s,
		       "SELECT p.model, (SELECT COUNT(*) FROM monitor_windows c WHERE c.model = "
		       "p.model), w.at_ms, w.version, w.dataset_drift, "
		       "(SELECT COUNT(*) FROM monitor_events e WHERE e.model = p.model AND e.kind = "
		       "'alert'), "
		       "(SELECT COUNT(*) FROM monitor_events e LEFT JOIN monitor_acks a ON a.seq = "
		       "e.seq WHERE e.model = p.model AND e.kind = 'alert' AND a.seq IS NULL) "
		       "FROM (SELECT m.model " MONITORED "ORDER BY m.model LIMIT ? OFFSET ?) p "
		       "LEFT JOIN monitor_windows w ON w.model = p.model AND w.seq = (SELECT "
		       "MAX(x.seq) FROM monitor_windows x WHERE x.model = p.model) ORDER BY p.model",
		       p, st_row_view, &cx);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	sl__free(like);
	if (rc) {
		json_decref(cx.arr);
		return rc;
	}
	*out_items = cx.arr;
	*out_total = total.v;
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
