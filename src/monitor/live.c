/*
 * The live monitoring engine (live.h): a window of one model version's
 * served requests, read from the inference log in one pass, turned into
 * tables and set against the bundle's reference.
 *
 *   ilog_scan_rev (newest record first, see "the log's tail" below;
 *   mon_window_read's forward mode: ilog_scan, oldest first, every record)
 *     feedback records  -> labels: request id -> label(s)
 *     answered requests -> a ring per version of the newest N (count mode)
 *                          or of everything in the span (time mode)
 *     failed requests   -> their times, to count the window's errors
 *   the chosen ring -> raw table (the bundle's raw inputs, typed as the
 *                      bundle types them), outputs (n x k), labels
 *     raw --bundle transform--> model inputs --drift_compare--> features
 *     outputs --mref_prediction_table--> predictions --drift_compare-->
 *     outputs + labels -> live metrics; outputs + calibration -> estimates
 *
 * The ring keeps memory bounded by the window, not by the log, and the
 * time is bounded by it too: only the records that hold the window (and
 * feedback and errors written since its start) are read, and only the
 * requests that stay in it are decoded (logrec.h: by the pull scanner
 * into flat cells, jansson only for a record of another shape). The
 * forward scan reads every record through jansson: the reference the
 * tests hold the decoder to. The opened bundle and its reference are kept
 * between passes while the file is the same (ref_open).
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "pool.h"
#include "artifact/artifact.h"
#include "ml/forecast.h"
#include "model/bundle.h"
#include "model/mfile.h"
#include "monitor/live.h"
#include "monitor/live_int.h"
#include "monitor/logrec.h"
#include "monitor/reference.h"
#include "serve/jscan.h"
#include "serve/log.h"

#define MON_DEFAULT_WINDOW 1000
#define MON_MAX_REQUESTS 1000000 /* a time span keeps at most this many requests */
#define MON_MAX_VERSIONS 64

void mon_drift_opts(const mon_env *env, drift_opts *o, double *share)
{
	drift_opts_default(o);
	*share = CANVAS_DEFAULT_DRIFT_SHARE;
	if (env && env->cv) {
		*o = env->cv->monitoring.drift;
		if (env->cv->monitoring.drift_share.given)
			*share = env->cv->monitoring.drift_share.v;
	}
}

/* ---- reading the window ------------------------------------------------------------- */

typedef struct ring {
	char *version;
	lrec **recs;   /* decoded records; the oldest at pos once full */
	size_t n, alloc, pos, cap;
} ring;

/* A count window's pass, kept for the next one ("carrying a count window over" below). */
typedef struct tail_cache {
	char *key;         /* dir, model, version, alias, size; NULL: a free slot */
	uint64_t listing;  /* the segment listing it was read from */
	char *seg;         /* its newest segment */
	uint64_t end;      /* where that segment's records ended */
	char *target;      /* the window's version (NULL: no request yet) */
	lrec **win;        /* newest first (shared with the pass that kept it) */
	size_t n_win;
	json_t *labels;    /* of the window's requests */
	int64_t *err_ms;
	size_t n_err;
	int fd;            /* seg kept open (has_fd): its text once it is compressed */
	bool has_fd;
	double at;         /* sl__mono_sec() when it was kept */
	json_t *report;    /* the report made of this window, or NULL */
	char *report_key;  /* ... and what it depends on besides (share_key) */
	uint64_t used;     /* also the entry's identity while it is kept */
} tail_cache;

typedef struct scan_ctx {
	const char *model;
	size_t model_len;
	const mon_window *w;
	size_t cap;
	char pat[256];   /* "model":"NAME" */
	ring rings[MON_MAX_VERSIONS];
	size_t n_rings;
	json_t *labels;  /* request id -> label, or an array of one per row */
	int64_t *err_ms; /* failed requests' times */
	size_t n_err, cap_err;
	const char *newest; /* the newest answered request's version (in rings) */
	char alias[16];     /* the asked version's digest label, when a number was asked
			     * (a server that serves the file logs that), or "" */
	/* Read newest record first (scan_rev). */
	char *target;        /* the window's version, once known */
	lrec **win;          /* the window, decoded, newest first */
	lrec_scratch scratch; /* the decoder's */
	size_t n_win;
	int64_t min_ms;      /* the oldest time in it */
	/* The previous pass's window carried over (a count window): */
	tail_cache *prev;    /* what it left, or NULL */
	bool started;        /* a segment was offered */
	bool first_seg;      /* the newest segment is being read */
	bool carry;          /* prev may continue: only its server wrote since */
	bool in_prev;        /* ... and its segment is being read: stop where prev ended */
	bool merged;         /* stopped there */
	bool cacheable;      /* the newest segment was plain, its server the only writer, and whole */
	int keep_fd;         /* the newest segment, kept open for the next pass (keep_open) */
	bool keep_open;
	/* The window is prev's, unchanged (nothing of it read since): prev's
	 * report, taken over (its key too), stands for this pass's. */
	bool unchanged;
	json_t *prev_report;
	char *prev_report_key;
	uint64_t kept;       /* the entry this pass left (tail_cache.used), or 0 */
	uint64_t listing;    /* the listing read */
	char seg_name[128];  /* the newest segment's name */
	char day[10];        /* the date of the last record time read (time_ms) */
	int64_t day_ms;      /* ... its start */
	bool day_ok;
	uint64_t seg_end;    /* where its records ended */
} scan_ctx;

static int take_feedback(scan_ctx *c, json_t *rec)
{
	json_t *ids = json_object_get(rec, "request_ids"), *labels = json_object_get(rec, "labels");

	if (json_array_size(ids) != json_array_size(labels))
		return 0;
	for (size_t i = 0; i < json_array_size(ids); i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		/* A later label for the same request corrects an earlier one. */
		if (id && json_object_set(c->labels, id, json_array_get(labels, i)))
			return sl__oom();
	}
	return 0;
}

static void ring_clear(ring *r)
{
	for (size_t i = 0; i < r->n; i++)
		lrec_unref(r->recs[i]);
	sl__free(r->recs);
	sl__free(r->version);
	memset(r, 0, sizeof *r);
}

static ring *ring_for(scan_ctx *c, const char *version)
{
	ring *r;

	for (size_t i = 0; i < c->n_rings; i++)
		if (!strcmp(c->rings[i].version, version))
			return &c->rings[i];
	if (c->n_rings == MON_MAX_VERSIONS) {
		/* Versions come and go: the first one seen goes (it is not the
		 * newest, which is the last one seen or this one). */
		ring_clear(&c->rings[0]);
		memmove(c->rings, c->rings + 1, (MON_MAX_VERSIONS - 1) * sizeof *c->rings);
		c->n_rings--;
	}
	r = &c->rings[c->n_rings];
	memset(r, 0, sizeof *r);
	if (!(r->version = sl__strdup(version)))
		return NULL;
	r->cap = c->cap;
	c->n_rings++;
	return r;
}

/* Keeps rec (taking the reference), dropping the oldest when the ring is full. */
static int ring_push(ring *r, lrec *rec)
{
	if (r->n < r->cap) {
		if (r->n == r->alloc) {
			size_t a = r->alloc ? r->alloc * 2 : 64;
			lrec **g;
			if (a > r->cap)
				a = r->cap;
			if (!(g = sl__reallocarray(r->recs, a, sizeof *g)))
				return sl__oom();
			r->recs = g;
			r->alloc = a;
		}
		r->recs[r->n++] = rec;
		return 0;
	}
	lrec_unref(r->recs[r->pos]);
	r->recs[r->pos] = rec;
	r->pos = (r->pos + 1) % r->cap;
	return 0;
}

/* The i-th oldest record of r. */
static lrec *ring_get(const ring *r, size_t i)
{
	return r->recs[(r->pos + i) % r->n];
}

static int push_err(scan_ctx *c, int64_t t)
{
	if (c->n_err == c->cap_err) {
		size_t nc = c->cap_err ? c->cap_err * 2 : 64;
		int64_t *e = sl__reallocarray(c->err_ms, nc, sizeof *e);
		if (!e)
			return sl__oom();
		c->err_ms = e;
		c->cap_err = nc;
	}
	c->err_ms[c->n_err++] = t;
	return 0;
}

static int scan_line(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	scan_ctx *c = ud;
	bool oom = false, feedback;
	json_t *rec;
	const char *model, *version;
	int64_t t;
	int rc = 0;

	if (!strstr(line, c->pat))
		return 0;
	if (!(rec = sl__json_loadb(line, len, 0, NULL, &oom)))
		return oom ? sl__oom() : 0; /* a damaged line is no request */
	model = json_string_value(json_object_get(rec, "model"));
	feedback = !strcmp(json_string_value(json_object_get(rec, "endpoint")) ?: "", "feedback");
	if (!model || strcmp(model, c->model))
		goto out;
	if (feedback) {
		rc = take_feedback(c, rec);
		goto out;
	}
	t = lrec_json_ms(rec);
	if ((c->w->since_ms && t < c->w->since_ms) || (c->w->until_ms && t > c->w->until_ms))
		goto out;
	if (json_integer_value(json_object_get(rec, "status")) != 200) {
		rc = push_err(c, t);
		goto out;
	}
	version = json_string_value(json_object_get(rec, "version"));
	if (!version || (c->w->version && strcmp(version, c->w->version) &&
			 (!c->alias[0] || strcmp(version, c->alias))))
		goto out;
	/* A record whose schema was not seen cannot be read by name: skip it
	 * (a crash can cut a segment's schema record, never a later one). */
	if (ilog_expand(sch, rec) || !json_is_object(json_object_get(rec, "inputs")))
		goto out;
	ring *r = ring_for(c, version);
	lrec *lr;
	if (!r) {
		rc = sl__oom();
		goto out;
	}
	lr = lrec_from_json(rec);
	rec = NULL; /* lr holds it */
	if (!lr || (rc = ring_push(r, lr))) {
		lrec_unref(lr);
		rc = rc ? rc : sl__oom();
		goto out;
	}
	c->newest = r->version;
out:
	json_decref(rec);
	return rc;
}

static void scan_free(scan_ctx *c)
{
	for (size_t i = 0; i < c->n_rings; i++)
		ring_clear(&c->rings[i]);
	for (size_t i = 0; i < c->n_win; i++)
		lrec_unref(c->win[i]);
	sl__free(c->win);
	lrec_scratch_free(&c->scratch);
	sl__free(c->target);
	json_decref(c->labels);
	sl__free(c->err_ms);
	if (c->keep_open)
		close(c->keep_fd);
	json_decref(c->prev_report);
	sl__free(c->prev_report_key);
}

/*
 * ---- the log's tail, newest record first ------------------------------------------------
 *
 * Both kinds of window are read from the log's end backwards
 * (ilog_scan_rev), so that an evaluation costs what the window holds, not
 * what the log holds; the result is the one a forward scan of the whole
 * log gives (mon_window_read's forward mode, which the tests and
 * bench/monitor_tail compare it with):
 *
 *   record (newest first; only its head is read, as rec_head below)
 *     feedback          -> labels: a request's first label met is its
 *                          newest (a later label corrects an earlier one);
 *                          only request_ids and labels are scanned, and a
 *                          label parsed only when it is the request's first
 *     failed request    -> err_ms, when in the span
 *     answered request  -> of the window's version (the asked one, else the
 *                          newest answered one's) and while the window has
 *                          room: decoded by its segment's schema record
 *                          (found reading that segment forward from its
 *                          start, once), kept; min_ms its oldest time
 *     anything older than min_ms once the window is full: only its time
 *                          is read (head_time), to know where to stop
 *
 * The bound (rev_bound): nothing older than it can change the result. A
 * full window's requests are all at least min_ms old, feedback comes after
 * the request it labels and errors count from the window's first request,
 * so once the window is full the bound is min_ms; a time span's is its
 * start. A segment is left at its first record older than the bound by
 * ILOG_ORDER_SLACK_MS (log.h: the order of times within a segment), and
 * passed by unread when its server opened its next segment before the
 * bound or it was compressed before it. So a pass reads the window, the
 * feedback and errors written since its first request, and a second of
 * records before it.
 */

/* What a record is to the window, read from its head (the fields
 * serve_log_record writes first) without parsing its rows. */
enum { REC_SKIP, REC_FEEDBACK, REC_ERROR, REC_ANSWER };

typedef struct rec_head {
	int kind;
	int64_t t;
	char version[256];
} rec_head;

/* The head by the JSON scanner; -1 when the record does not read that way. */
static int head_scan(const scan_ctx *c, const char *line, size_t len, rec_head *h)
{
	jscan s;
	jval k, v, model = {0}, version = {0}, endpoint = {0}, tm = {0};
	bool first = true, has_status = false;
	double status = 0;

	jscan_init(&s, line, len);
	if (jscan_value(&s, &v) != J_OBJ)
		return -1;
	while (!(model.s && version.s && endpoint.s && tm.s && has_status)) {
		int more = jscan_key(&s, &first, &k);
		if (more <= 0)
			break;
		if (jscan_eq(&k, "model") || jscan_eq(&k, "version") || jscan_eq(&k, "endpoint") ||
		    jscan_eq(&k, "time") || jscan_eq(&k, "status")) {
			jtok t = jscan_value(&s, &v);
			if (t == J_OBJ || t == J_ARR)
				return -1;
			if (jscan_eq(&k, "model"))
				model = v;
			else if (jscan_eq(&k, "version"))
				version = v;
			else if (jscan_eq(&k, "endpoint"))
				endpoint = v;
			else if (jscan_eq(&k, "time"))
				tm = v;
			else if (t == J_NUM) {
				status = v.num;
				has_status = true;
			}
		} else if (jscan_skip(&s)) {
			return -1;
		}
	}
	if (s.err)
		return -1;
	h->kind = REC_SKIP;
	h->t = -1;
	if (tm.t == J_STR && !tm.esc && ds_parse_timestamp(tm.s, tm.len, &h->t))
		h->t /= 1000;
	else
		h->t = -1;
	if (model.t != J_STR || !jscan_eq(&model, c->model))
		return 0;
	if (endpoint.t == J_STR && jscan_eq(&endpoint, "feedback")) {
		h->kind = REC_FEEDBACK;
		return 0;
	}
	if (!has_status || status != 200) {
		h->kind = REC_ERROR;
		return 0;
	}
	if (version.t != J_STR || version.esc || version.len >= sizeof h->version)
		return -1;
	memcpy(h->version, version.s, version.len);
	h->version[version.len] = 0;
	h->kind = REC_ANSWER;
	return 0;
}

/* The head by jansson, for records of another shape. */
static int head_parse(const scan_ctx *c, const char *line, size_t len, rec_head *h)
{
	bool oom = false;
	json_t *rec = sl__json_loadb(line, len, 0, NULL, &oom);
	const char *model, *version;

	h->kind = REC_SKIP;
	h->t = -1;
	if (!rec)
		return oom ? sl__oom() : 0; /* a damaged line is no request */
	h->t = lrec_json_ms(rec);
	model = json_string_value(json_object_get(rec, "model"));
	version = json_string_value(json_object_get(rec, "version"));
	if (model && !strcmp(model, c->model)) {
		if (!strcmp(json_string_value(json_object_get(rec, "endpoint")) ?: "", "feedback")) {
			h->kind = REC_FEEDBACK;
		} else if (json_integer_value(json_object_get(rec, "status")) != 200) {
			h->kind = REC_ERROR;
		} else if (version && strlen(version) < sizeof h->version) {
			h->kind = REC_ANSWER;
			strcpy(h->version, version);
		}
	}
	json_decref(rec);
	return 0;
}

static bool version_wanted(const scan_ctx *c, const char *version)
{
	if (c->target)
		return !strcmp(version, c->target);
	return !c->w->version || !strcmp(version, c->w->version) ||
	       (c->alias[0] && !strcmp(version, c->alias));
}

/* Whether two segment names ("START-SERVER-SEQ.jsonl[.zst]") are one server's. */
static bool same_server(const char *a, const char *b)
{
	const char *x = strchr(a, '-'), *y = strchr(b, '-');
	size_t n = x ? strcspn(x + 1, "-") : 0;

	return x && y && n && strcspn(y + 1, "-") == n && !memcmp(x + 1, y + 1, n) &&
	       x[1 + n] == '-' && y[1 + n] == '-';
}

/* Segment names in time order, a compressed copy's ".zst" left out. */
static int seg_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 4 && !strcmp(a + la - 4, ".zst"))
		la -= 4;
	if (lb > 4 && !strcmp(b + lb - 4, ".zst"))
		lb -= 4;
	int c = memcmp(a, b, la < lb ? la : lb);
	return c ? c : la < lb ? -1 : la > lb;
}

/* The bound below which no record matters any more (rev_segment), or INT64_MIN. */
static int64_t rev_bound(const scan_ctx *c)
{
	int64_t b = c->w->since_ms ? c->w->since_ms : INT64_MIN;

	if (c->n_win == c->cap && c->min_ms > b)
		b = c->min_ms;
	return b;
}

/*
 * Before each segment: the whole-segment skips of a forward scan of a time
 * span (so that both read the same records), then the ones the bound
 * allows: a segment whose server opened its next one before the bound, or
 * a compressed one last written before it, holds nothing newer.
 */
static int rev_segment(void *ud, ilog_seginfo *si)
{
	scan_ctx *c = ud;
	int64_t b = rev_bound(c);

	if (!c->started) {
		/* The newest segment: the previous pass's window continues when
		 * only its server wrote since (every segment not compressed is
		 * that server's), in the segment it ended in and newer ones. */
		c->started = true;
		c->first_seg = true;
		c->listing = si->listing;
		c->cacheable = !si->zst && si->one_writer && strlen(si->name) < sizeof c->seg_name;
		if (c->cacheable) {
			snprintf(c->seg_name, sizeof c->seg_name, "%s", si->name);
			/* Kept open for the next pass: once this segment is closed
			 * and compressed, its text is still this file (log.h). */
			c->keep_fd = fcntl(si->fd, F_DUPFD_CLOEXEC, 0);
			c->keep_open = c->keep_fd >= 0;
		}
		c->carry = c->cacheable && c->prev && same_server(si->name, c->prev->seg) &&
			   strcmp(si->name, c->prev->seg) >= 0;
	} else {
		c->first_seg = false;
	}
	c->in_prev = false;
	if (c->carry) {
		int cmp = seg_cmp(si->name, c->prev->seg);
		if (cmp == 0) {
			c->in_prev = true;
			if (si->zst && c->prev->has_fd)
				si->read_fd = c->prev->fd;
		} else if (cmp < 0 || !same_server(si->name, c->prev->seg)) {
			/* Its segment is gone (retention), or another server wrote
			 * since: read on, as a first pass does. */
			c->carry = false;
		}
	}

	if (c->w->until_ms && si->start_ms > c->w->until_ms)
		return ILOG_SKIP;
	if (c->w->since_ms && si->last_write_ms < c->w->since_ms)
		return ILOG_SKIP;
	if (b != INT64_MIN && ((si->closed_ms && si->closed_ms < b) || (si->zst && si->last_write_ms < b)))
		return ILOG_SKIP;
	return 0;
}

/* One label, unless a newer one for the request was met first. */
static int take_label(scan_ctx *c, const char *id, size_t id_len, const char *text, size_t len)
{
	char buf[256];
	json_t *l;

	if (id_len >= sizeof buf)
		return 1;
	memcpy(buf, id, id_len);
	buf[id_len] = 0;
	if (json_object_get(c->labels, buf))
		return 0;
	if (!(l = json_loadb(text, len, JSON_DECODE_ANY, NULL)))
		return 1;
	return json_object_set_new(c->labels, buf, l) ? sl__oom() : 0;
}

/*
 * A feedback record read newest first: its labels, those of a request
 * seen in it twice from the last (a later label corrects an earlier one,
 * as in a forward scan). Only its request_ids and labels are looked at,
 * and a label is parsed only for a request not labelled yet; a record of
 * another shape (escaped ids, many labels) goes through jansson.
 */
#define FB_MAX 64
static int rev_feedback(scan_ctx *c, const char *line, size_t len)
{
	jscan s;
	jval k, v, ids[FB_MAX];
	const char *lab[FB_MAX], *lab_end[FB_MAX];
	size_t n_ids = 0, n_lab = 0;
	bool first = true, have_ids = false, have_lab = false, fast = true;
	int more, rc = 0;

	jscan_init(&s, line, len);
	if (jscan_value(&s, &v) != J_OBJ)
		return 0;
	while (fast && !(have_ids && have_lab) && (more = jscan_key(&s, &first, &k)) > 0) {
		bool is_ids = jscan_eq(&k, "request_ids"), is_lab = !is_ids && jscan_eq(&k, "labels");
		if (!is_ids && !is_lab) {
			fast = !jscan_skip(&s);
			continue;
		}
		if (jscan_value(&s, &v) != J_ARR) {
			fast = false;
			break;
		}
		bool afirst = true;
		while ((more = jscan_more(&s, &afirst)) > 0) {
			if (is_ids) {
				if (n_ids == FB_MAX || jscan_value(&s, &ids[n_ids]) != J_STR || ids[n_ids].esc) {
					fast = false;
					break;
				}
				n_ids++;
			} else {
				if (n_lab == FB_MAX) {
					fast = false;
					break;
				}
				lab[n_lab] = s.p;
				if (jscan_skip(&s)) {
					fast = false;
					break;
				}
				lab_end[n_lab++] = s.p;
			}
		}
		fast = fast && more == 0;
		have_ids |= is_ids;
		have_lab |= is_lab;
	}
	if (fast && !s.err) {
		if (n_ids != n_lab)
			return 0;
		for (size_t i = n_ids; i-- > 0 && rc <= 0;)
			rc = take_label(c, ids[i].s, ids[i].len, lab[i], (size_t)(lab_end[i] - lab[i]));
		if (rc <= 0)
			return rc;
	}
	/* Another shape: the whole record, to the same effect. */
	bool oom = false;
	json_t *rec = sl__json_loadb(line, len, 0, NULL, &oom);
	json_t *jids = json_object_get(rec, "request_ids"), *jlab = json_object_get(rec, "labels");
	if (!rec)
		return oom ? sl__oom() : 0;
	if (json_array_size(jids) == json_array_size(jlab))
		for (size_t i = json_array_size(jids); i-- > 0 && !rc;) {
			const char *id = json_string_value(json_array_get(jids, i));
			if (id && !json_object_get(c->labels, id) &&
			    json_object_set(c->labels, id, json_array_get(jlab, i)))
				rc = sl__oom();
		}
	json_decref(rec);
	return rc;
}

/* For tests: every window record through jansson (live_int.h). */
bool mon_decode_jansson;

/* An answered request of the window's version, newest first: decoded and kept while the window has room. */
static int rev_answer(scan_ctx *c, const rec_head *h, const char *line, size_t len, ilog_rseg *seg)
{
	json_t *schema;
	lrec *rec;
	int rc;

	if (c->n_win == c->cap || !version_wanted(c, h->version))
		return 0;
	if ((rc = ilog_rseg_schema(seg, c->model, h->version, &schema)))
		return rc;
	/* A record whose schema was not seen cannot be read by name: skip it
	 * (a crash can cut a segment's schema record, never a later one). */
	if (!schema)
		return 0;
	if ((rc = lrec_decode(line, len, schema, &c->scratch, !mon_decode_jansson, &rec)) || !rec)
		return rc;
	if (!c->target && !(c->target = sl__strdup(h->version))) {
		lrec_unref(rec);
		return sl__oom();
	}
	if (!c->n_win || rec->t_ms < c->min_ms)
		c->min_ms = rec->t_ms;
	c->win[c->n_win++] = rec;
	return 0;
}

static bool digits2(const char *p, int *out)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return false;
	*out = (p[0] - '0') * 10 + (p[1] - '0');
	return true;
}

/*
 * A record time's text in ms (-1 when it does not read), as
 * ds_parse_timestamp reads it: the writer's "YYYY-MM-DDTHH:MM:SS.mmmZ"
 * with the day's start kept from the last record (the same day, nearly
 * always), anything else by ds_parse_timestamp itself. A pass reads the
 * time of every record of the second before its window.
 */
static int64_t time_ms(scan_ctx *c, const char *v, size_t n)
{
	int h, mi, se, m1, m2;
	int64_t us;

	if (n == 24 && v[10] == 'T' && v[13] == ':' && v[16] == ':' && v[19] == '.' && v[23] == 'Z' &&
	    digits2(v + 11, &h) && digits2(v + 14, &mi) && digits2(v + 17, &se) && digits2(v + 20, &m1) &&
	    v[22] >= '0' && v[22] <= '9' && h <= 23 && mi <= 59 && se <= 59) {
		m2 = v[22] - '0';
		if (!c->day_ok || memcmp(v, c->day, 10)) {
			c->day_ok = ds_parse_timestamp(v, 10, &us) && us >= 0;
			if (!c->day_ok)
				goto slow;
			memcpy(c->day, v, 10);
			c->day_ms = us / 1000;
		}
		return c->day_ms + ((int64_t)h * 3600 + mi * 60 + se) * 1000 + m1 * 10 + m2;
	}
slow:
	return ds_parse_timestamp(v, n, &us) ? us / 1000 : -1;
}

/*
 * The time a record's head gives without scanning it: the writer puts it
 * second ({"id":..,"time":"..",...}). A structural key is one after '{'
 * or ',' with no object or array opened before it; a value with an escape
 * is left to head_scan. -1 when the head reads otherwise.
 */
static int64_t head_time(scan_ctx *c, const char *line, size_t len)
{
	const char *end = line + (len < 256 ? len : 256), *v = NULL, *q;

	if (!len || line[0] != '{')
		return -1;
	/* The writer's {"id":"ID","time":" first, then any other order. */
	if (end - line > 7 && !memcmp(line, "{\"id\":\"", 7) &&
	    (q = memchr(line + 7, '"', (size_t)(end - line - 7))) && end - q > 10 &&
	    !memcmp(q, "\",\"time\":\"", 10))
		v = q + 2;
	if (!v) {
		if (!(v = memmem(line, (size_t)(end - line), "\"time\":\"", 8)) ||
		    (v[-1] != ',' && v - 1 != line))
			return -1;
		for (const char *p = line + 1; p < v; p++)
			if (*p == '{' || *p == '[')
				return -1;
	}
	v += 8;
	if (!(q = memchr(v, '"', (size_t)(end - v))) || memchr(v, '\\', (size_t)(q - v)))
		return -1;
	return time_ms(c, v, (size_t)(q - v));
}

/*
 * Another model's record told from the head the writer puts first
 * ({"id":..,"time":..,"model":"NAME",...}) without scanning it: most of
 * what a window of one model reads back through, in a log of several, is
 * the others' records. True with its time in *t (when want_t, else -1);
 * false when it is the model's or its head reads otherwise (head_scan then
 * decides).
 */
static bool other_model(scan_ctx *c, const char *line, size_t len, bool want_t, int64_t *t)
{
	const char *end = line + (len < 512 ? len : 512), *m, *v, *q;

	m = memmem(line, (size_t)(end - line), "\"model\":\"", 9);
	if (!m || m == line || (m[-1] != ',' && m[-1] != '{'))
		return false;
	for (const char *p = line + 1; p < m; p++)
		if (*p == '{' || *p == '[')
			return false;
	v = m + 9;
	if (!(q = memchr(v, '"', (size_t)(end - v))) || memchr(v, '\\', (size_t)(q - v)) ||
	    ((size_t)(q - v) == c->model_len && !memcmp(v, c->model, c->model_len)))
		return false;
	*t = want_t ? head_time(c, line, (size_t)(m - line)) : -1;
	return true;
}

static int rev_line(void *ud, const char *line, size_t len, ilog_rseg *seg)
{
	scan_ctx *c = ud;
	const mon_window *w = c->w;
	int64_t b = rev_bound(c);
	rec_head h;
	int rc;

	if (c->first_seg) {
		uint64_t pos = ilog_rseg_pos(seg);
		if (ilog_rseg_cut(seg)) {
			c->cacheable = c->carry = false; /* a copy under way: read it whole next time */
			c->in_prev = false;
		}
		if (pos + len + 1 > c->seg_end)
			c->seg_end = pos + len + 1;
	}
	if (c->in_prev) {
		uint64_t pos = ilog_rseg_pos(seg);
		if (c->carry && pos < c->prev->end) {
			/* What the previous pass read: its window goes on from here,
			 * unless what came since filled it or changed its version. */
			if (c->n_win < c->cap &&
			    (!c->target || !c->prev->target || !strcmp(c->target, c->prev->target))) {
				c->merged = true;
				return ILOG_STOP;
			}
			c->carry = c->in_prev = false;
		}
	}
	/* A full window: a record older than its oldest request cannot
	 * matter (feedback comes after what it labels, errors count from the
	 * window's first request), and most of what is read past the window
	 * is such records of the same model; its time alone decides. */
	if (c->cap && c->n_win == c->cap && (h.t = head_time(c, line, len)) >= 0 && h.t < b)
		return h.t < b - ILOG_ORDER_SLACK_MS ? ILOG_SKIP : 0;
	if (other_model(c, line, len, b != INT64_MIN, &h.t))
		h.kind = REC_SKIP;
	else if (head_scan(c, line, len, &h) && (rc = head_parse(c, line, len, &h)))
		return rc;
	/* Older than the bound by more than the slack: so is everything
	 * before it in this segment (log.h). */
	if (b != INT64_MIN && h.t >= 0 && h.t < b - ILOG_ORDER_SLACK_MS)
		return ILOG_SKIP;
	if (h.kind == REC_FEEDBACK)
		return rev_feedback(c, line, len);
	if (h.kind != REC_ERROR && h.kind != REC_ANSWER)
		return 0;
	if ((w->since_ms && h.t < w->since_ms) || (w->until_ms && h.t > w->until_ms))
		return 0;
	return h.kind == REC_ERROR ? push_err(c, h.t) : rev_answer(c, &h, line, len, seg);
}

/*
 * ---- carrying a count window over to the next pass --------------------------------------
 *
 * An evaluation every few seconds of a log that one server appends to:
 * what a pass found is kept, by window (log directory, model, version,
 * size), and the next pass reads back only to where the kept one's newest
 * segment ended, then goes on with the kept window (tail_merge), as long
 * as one server wrote the log since (every segment not compressed, then
 * and now, and every segment newer than the kept one is that server's),
 * and what came since neither filled the window nor changed its version
 * (then the pass simply reads on, as a first one does). Segments the
 * server opened since are read whole; the kept segment, compressed since,
 * is read from the file the pass kept open (the server cut it to its
 * records, compressed it, then unlinked it: the same text), not
 * decompressed whole: under heavy traffic a segment closes every few
 * seconds, and a model without new requests had its window read back
 * through the compressed segment at every pass. The result is the same:
 * the kept window, labels and errors are those of the records before that
 * point, and the window's first request is still one of the kept ones, so
 * no label or error older than the kept ones counts. Kept: the window
 * (decoded), the labels of its requests, the errors since its oldest time,
 * the newest segment's file, and the report made of the window (a pass
 * that reads nothing of it gives that report again). A pass takes its
 * entry out while it reads, so passes on other threads never share one.
 */
#define TAIL_CACHE 8
#define TAIL_FD_IDLE_S 120 /* a kept segment's file is let go after this long unused */

static pthread_mutex_t tail_mu = PTHREAD_MUTEX_INITIALIZER;
static tail_cache tail_slots[TAIL_CACHE];
static uint64_t tail_clock;

static void tail_free(tail_cache *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_win; i++)
		lrec_unref(e->win[i]);
	sl__free(e->win);
	json_decref(e->labels);
	sl__free(e->err_ms);
	if (e->has_fd)
		close(e->fd);
	json_decref(e->report);
	sl__free(e->report_key);
	sl__free(e->seg);
	sl__free(e->target);
	sl__free(e->key);
	sl__free(e);
}

static char *tail_key(const scan_ctx *c, const char *dir)
{
	/* The two decoders' windows are kept apart (the tests compare them). */
	return sl__asprintf("%s\x1f%s\x1f%s\x1f%s\x1f%zu%s", dir, c->model,
			    c->w->version ? c->w->version : "", c->alias, c->cap,
			    mon_decode_jansson ? "j" : "");
}

/* The kept entry of key, taken out of the cache (the caller's), or NULL. */
static tail_cache *tail_take(const char *key)
{
	tail_cache *e = NULL;

	pthread_mutex_lock(&tail_mu);
	for (size_t i = 0; i < TAIL_CACHE && !e; i++)
		if (tail_slots[i].key && !strcmp(tail_slots[i].key, key) &&
		    (e = sl__malloc(sizeof *e))) {
			*e = tail_slots[i];
			memset(&tail_slots[i], 0, sizeof tail_slots[i]);
		}
	pthread_mutex_unlock(&tail_mu);
	return e;
}

/* Keeps e (taking it), in a free slot or the least recently used one; its identity. */
static uint64_t tail_put(tail_cache *e)
{
	uint64_t id;
	tail_cache old;
	size_t at = 0;

	int stale[TAIL_CACHE];
	size_t n_stale = 0;
	double now = sl__mono_sec();

	pthread_mutex_lock(&tail_mu);
	for (size_t i = 0; i < TAIL_CACHE; i++) {
		/* An entry nobody took for a while lets its file go: a segment
		 * compressed and unlinked since would hold its disk space. */
		if (tail_slots[i].key && tail_slots[i].has_fd && now - tail_slots[i].at > TAIL_FD_IDLE_S) {
			stale[n_stale++] = tail_slots[i].fd;
			tail_slots[i].has_fd = false;
		}
	}
	for (size_t i = 0; i < TAIL_CACHE; i++) {
		if (!tail_slots[i].key) {
			at = i;
			break;
		}
		if (tail_slots[i].used < tail_slots[at].used)
			at = i;
	}
	old = tail_slots[at];
	e->at = now;
	id = e->used = ++tail_clock;
	tail_slots[at] = *e;
	pthread_mutex_unlock(&tail_mu);
	/* The evicted entry goes as a taken one does. */
	*e = old;
	if (e->key)
		tail_free(e);
	else
		sl__free(e);
	for (size_t i = 0; i < n_stale; i++)
		close(stale[i]);
	return id;
}

/* Leaves report (a copy) and its key with the kept entry id, if it is still kept. */
static void tail_report(uint64_t id, const json_t *report, const char *key)
{
	json_t *copy = json_deep_copy(report);
	char *k = sl__strdup(key);

	pthread_mutex_lock(&tail_mu);
	for (size_t i = 0; i < TAIL_CACHE && copy && k; i++)
		if (tail_slots[i].key && tail_slots[i].used == id) {
			json_decref(tail_slots[i].report);
			sl__free(tail_slots[i].report_key);
			tail_slots[i].report = copy;
			tail_slots[i].report_key = k;
			copy = NULL;
			k = NULL;
		}
	pthread_mutex_unlock(&tail_mu);
	json_decref(copy);
	sl__free(k);
}

/* The kept window after what this pass read (newest first): c's window,
 * labels and errors become the whole pass's. */
static int tail_merge(scan_ctx *c, tail_cache *p)
{
	int rc = 0;

	if (!c->target && p->target && !(c->target = sl__strdup(p->target)))
		return sl__oom();
	for (size_t i = 0; i < p->n_win; i++) {
		if (c->n_win < c->cap) {
			int64_t t = p->win[i]->t_ms;
			if (!c->n_win || t < c->min_ms)
				c->min_ms = t;
			c->win[c->n_win++] = p->win[i];
		} else {
			lrec_unref(p->win[i]);
		}
	}
	p->n_win = 0;
	if (c->unchanged) {
		c->prev_report = p->report;
		c->prev_report_key = p->report_key;
		p->report = NULL;
		p->report_key = NULL;
	}
	if (json_object_update_missing(c->labels, p->labels))
		return sl__oom();
	for (size_t i = 0; i < p->n_err && !rc; i++)
		rc = push_err(c, p->err_ms[i]);
	return rc;
}

/* What this pass leaves to the next (key taken): c's window (still c's
 * too), the labels of its requests, its errors since its oldest time.
 * NULL when out of memory. */
static tail_cache *tail_keep(scan_ctx *c, char *key)
{
	tail_cache *e = sl__calloc(1, sizeof *e);
	bool bad = !e;

	if (!bad) {
		e->key = key;
		key = NULL;
		e->listing = c->listing;
		e->end = c->seg_end;
		e->fd = c->keep_fd;
		e->has_fd = c->keep_open;
		c->keep_open = false;
		bad = !(e->seg = sl__strdup(c->seg_name)) || !(e->labels = json_object()) ||
		      (c->target && !(e->target = sl__strdup(c->target))) ||
		      !(e->win = sl__calloc(c->n_win ? c->n_win : 1, sizeof *e->win)) ||
		      !(e->err_ms = sl__calloc(c->n_err ? c->n_err : 1, sizeof *e->err_ms));
	}
	for (size_t i = 0; !bad && i < c->n_win; i++) {
		const char *id = c->win[i]->id;
		json_t *l = id ? json_object_get(c->labels, id) : NULL;
		e->win[e->n_win++] = lrec_ref(c->win[i]);
		bad = l && json_object_set(e->labels, id, l);
	}
	for (size_t i = 0; !bad && i < c->n_err; i++)
		if (!c->n_win || c->err_ms[i] >= c->min_ms)
			e->err_ms[e->n_err++] = c->err_ms[i];
	sl__free(key);
	if (bad) {
		tail_free(e);
		return NULL;
	}
	return e;
}

/* The window read newest record first, as the one ring mon_report chooses from. */
static int scan_rev(scan_ctx *c, const char *dir)
{
	ring *r;
	int rc;

	char *key = NULL;

	if (!(c->win = sl__calloc(c->cap ? c->cap : 1, sizeof *c->win)))
		return sl__oom();
	if (!c->w->since_ms && !c->w->until_ms) {
		if (!(key = tail_key(c, dir)))
			return sl__oom();
		c->prev = tail_take(key);
	}
	rc = ilog_scan_rev(dir, rev_segment, rev_line, c);
	if (rc >= 0 && c->merged) {
		c->unchanged = !c->n_win && !c->n_err && !json_object_size(c->labels) &&
			       c->prev->report;
		rc = tail_merge(c, c->prev);
	}
	tail_free(c->prev);
	c->prev = NULL;
	if (rc < 0) {
		sl__free(key);
		return rc;
	}
	if (key && c->cacheable) {
		tail_cache *e = tail_keep(c, key);
		if (e && c->unchanged) {
			/* The next pass may take the report over again. */
			e->report = c->prev_report;
			e->report_key = c->prev_report_key;
			c->prev_report = json_deep_copy(e->report);
			c->prev_report_key = sl__strdup(e->report_key);
			if (!c->prev_report || !c->prev_report_key)
				c->unchanged = false;
		}
		if (e)
			c->kept = tail_put(e);
	} else {
		sl__free(key);
	}
	if (!c->n_win)
		return 0;
	r = &c->rings[0];
	if (!(r->version = sl__strdup(c->target)) ||
	    !(r->recs = sl__calloc(c->n_win, sizeof *r->recs)))
		return sl__oom();
	c->n_rings = 1;
	for (size_t i = 0; i < c->n_win; i++)
		r->recs[i] = c->win[c->n_win - 1 - i]; /* oldest first */
	r->n = r->alloc = r->cap = c->n_win;
	c->n_win = 0; /* the ring holds them */
	c->newest = r->version;
	return 0;
}

/* ---- drift of a table ---------------------------------------------------------------- */

static json_t *num(double x)
{
	return profile_json_num(x);
}

json_t *mon_drift_json(const drift_result *r)
{
	json_t *o = json_object();
	bool bad = !o;

	bad = bad || json_object_set_new(o, "name", json_string(r->column));
	bad = bad || json_object_set_new(o, "test", json_string(drift_test_name(r->test)));
	bad = bad || json_object_set_new(o, "statistic", num(r->statistic));
	bad = bad || json_object_set_new(o, "p_value", num(r->p_value));
	bad = bad || json_object_set_new(o, "threshold", num(r->threshold));
	bad = bad || json_object_set_new(o, "drift", json_boolean(r->drifted));
	bad = bad || json_object_set_new(o, "psi", num(r->psi));
	bad = bad || json_object_set_new(o, "psi_band", r->psi_band ? json_string(r->psi_band) : json_null());
	bad = bad || json_object_set_new(o, "n_ref", json_integer((json_int_t)r->n_ref));
	bad = bad || json_object_set_new(o, "n_cur", json_integer((json_int_t)r->n_cur));
	if (r->numeric)
		bad = bad || json_object_set_new(o, "mean_shift", num(r->mean_shift));
	if (r->reason)
		bad = bad || json_object_set_new(o, "reason", json_string(r->reason));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

typedef struct prof_job {
	const ds_table *t;
	const profile *ref;
	uint64_t few;
	const profile_opts *po;
	profile *p;
	int *rc;
} prof_job;

/*
 * What the drift tests read of a window's numeric column whose reference
 * has many values: counts, mean, standard deviation, min and max, in one
 * pass. The rest of a profile (quantiles, its own histogram, distinct
 * values, top values) costs a sort per column and no test reads it then:
 * the values are counted in the reference's bins (profile_rebin), and only
 * a column with few values is tested on value counts. distinct is set to
 * UINT64_MAX (unknown) and n_top to 0, which the few-values path of
 * drift.c never takes for a reference with many values.
 */
static int moments(const ds_table *t, size_t j, profile_col *c)
{
	size_t n = ds_nrow(t);
	const uint8_t *valid = ds_col_validity(t, j);
	const double *f = ds_col_f64(t, j);
	const int64_t *iv = f ? NULL : ds_col_i64(t, j);
	double mean = 0, m2 = 0, lo = INFINITY, hi = -INFINITY;
	uint64_t k = 0, missing = 0, inf = 0;

	memset(c, 0, sizeof *c);
	if (!(c->name = sl__strdup(ds_col_name(t, j))))
		return sl__oom();
	c->type = ds_col_type(t, j);
	c->numeric = true;
	c->count = n;
	for (size_t i = 0; i < n; i++) {
		if (!ds_valid(valid, i)) {
			missing++;
			continue;
		}
		double x = f ? f[i] : (double)iv[i];
		if (isnan(x)) {
			missing++;
			continue;
		}
		if (isinf(x)) {
			inf++;
			continue;
		}
		/* Welford: one pass, no cancellation. */
		k++;
		double d = x - mean;
		mean += d / (double)k;
		m2 += d * (x - mean);
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	c->missing = missing;
	c->infinite = inf;
	c->n_values = k;
	c->distinct = UINT64_MAX;
	c->mean = k ? mean : NAN;
	c->std = k > 1 ? sqrt(m2 / (double)(k - 1)) : NAN;
	c->min = k ? lo : NAN;
	c->max = k ? hi : NAN;
	for (size_t q = 0; q < PROFILE_NQ; q++)
		c->q[q] = NAN;
	return 0;
}

static void prof_one(void *ud, size_t j, unsigned worker)
{
	prof_job *job = ud;
	const profile_col *rc = profile_find(job->ref, ds_col_name(job->t, j));
	ds_type ty = ds_col_type(job->t, j);
	bool num = ty == DS_FLOAT64 || ty == DS_INT64;

	(void)worker;
	if (rc && rc->numeric && num && rc->distinct > job->few)
		job->rc[j] = moments(job->t, j, &job->p->cols[j]);
	else
		job->rc[j] = profile_col_build(job->t, j, job->po, &job->p->cols[j]);
}

/* What the drift tests need of t's columns against ref, one column per task on the pool. */
static int profile_parallel(const ds_table *t, const profile *ref, uint64_t few, profile **out)
{
	size_t nc = ds_ncol(t);
	profile_opts po;
	prof_job job;
	int rc = 0;

	profile_opts_default(&po);
	*out = NULL;
	job.t = t;
	job.ref = ref;
	job.few = few;
	job.po = &po;
	job.p = sl__calloc(1, sizeof *job.p);
	job.rc = sl__calloc(nc ? nc : 1, sizeof *job.rc);
	if (!job.p || !job.rc || !(job.p->cols = sl__calloc(nc ? nc : 1, sizeof *job.p->cols))) {
		if (job.p)
			sl__free(job.p->cols);
		sl__free(job.p);
		sl__free(job.rc);
		return sl__oom();
	}
	job.p->rows = ds_nrow(t);
	job.p->n_cols = nc;
	sl__parallel_for(0, nc, prof_one, &job);
	for (size_t j = 0; j < nc && !rc; j++)
		rc = job.rc[j];
	sl__free(job.rc);
	if (rc) {
		profile_free(job.p);
		return sl__err(rc, "profiling the window: %s", sl_errmsg());
	}
	*out = job.p;
	return 0;
}

static bool listed(const char *name, const char *const *only, size_t n_only)
{
	if (!n_only)
		return true;
	for (size_t i = 0; i < n_only; i++)
		if (!strcmp(only[i], name))
			return true;
	return false;
}

int mon_drift_table(const profile *ref, const ds_table *t, const drift_opts *o,
		    const char *const *only, size_t n_only, json_t **out, size_t *out_tested,
		    size_t *out_drifted)
{
	profile *cur = NULL;
	drift_result *res = NULL;
	size_t n = 0;
	json_t *arr = NULL;
	int rc;

	*out = NULL;
	*out_tested = *out_drifted = 0;
	if ((rc = profile_parallel(t, ref, o->few_values, &cur)) || (rc = drift_compare(ref, t, cur, o, &res, &n)))
		goto out;
	if (!(arr = json_array())) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!listed(res[i].column, only, n_only))
			continue;
		if (json_array_append_new(arr, mon_drift_json(&res[i]))) {
			rc = sl__oom();
			goto out;
		}
		if (res[i].test != DRIFT_NONE) {
			(*out_tested)++;
			*out_drifted += res[i].drifted;
		}
	}
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	sl__free(res);
	profile_free(cur);
	return rc;
}

/* ---- the window's tables --------------------------------------------------------------- */

typedef struct window {
	const ring *r;
	size_t n_req, n_rows;
	ds_table *raw;     /* the bundle's raw inputs */
	double *P;         /* n_rows x k outputs (NaN where missing) */
	size_t k;
	json_t **label;    /* n_rows: the row's label (borrowed), or NULL */
	size_t n_labelled;
	int64_t from_ms, to_ms;
	double lat_p50, lat_p99;
} window;

static void window_free(window *w)
{
	ds_close(w->raw);
	sl__free(w->P);
	sl__free(w->label);
}

/* Appends one JSON value to column j of type t; what does not fit is a null. */
static int append_value(ds_builder *b, size_t j, ds_type t, const json_t *v)
{
	int rc = ds_append_json(b, j, t, v);

	/* The server typed every value it answered, so a misfit is a value
	 * the log cannot have held; it counts as missing rather than failing
	 * the window. */
	return rc == DS_JSON_MISFIT ? ds_append_null(b, j) : rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double pct(const double *v, size_t n, double q)
{
	size_t k;

	if (!n)
		return NAN;
	k = (size_t)ceil(q * (double)n);
	return v[k ? k - 1 : 0];
}

/* What a window's tables hold: the raw inputs (names and types) and the outputs (names). */
typedef struct win_cols {
	size_t n_in, k;
	const char *const *in_names;
	const ds_type *in_types;
	const char *const *outputs;
} win_cols;

/* One decoded value into column j of type t, as ds_append_json takes its JSON value. */
static int append_val(ds_builder *b, size_t j, ds_type t, const lrec_val *v)
{
	int64_t us;

	if (!v || v->kind == LREC_NULL)
		return ds_append_null(b, j);
	switch (t) {
	case DS_INT64:
		if (v->kind == LREC_INT)
			return ds_append_i64(b, j, v->u.i);
		/* 9.2e18 keeps the conversion inside int64's range. */
		if (v->kind == LREC_REAL && v->u.f == floor(v->u.f) && fabs(v->u.f) < 9.2e18)
			return ds_append_i64(b, j, (int64_t)v->u.f);
		break;
	case DS_FLOAT64:
		if (v->kind == LREC_INT)
			return ds_append_f64(b, j, (double)v->u.i);
		if (v->kind == LREC_REAL)
			return ds_append_f64(b, j, v->u.f);
		break;
	case DS_BOOL:
		if (v->kind == LREC_TRUE || v->kind == LREC_FALSE)
			return ds_append_bool(b, j, v->kind == LREC_TRUE);
		break;
	case DS_STRING:
		if (v->kind == LREC_STR)
			return ds_append_str(b, j, v->u.s, v->len);
		break;
	case DS_TIMESTAMP:
		if (v->kind == LREC_STR && ds_parse_timestamp(v->u.s, v->len, &us))
			return ds_append_i64(b, j, us);
		break;
	}
	/* A misfit, as append_value counts it. */
	return ds_append_null(b, j);
}

/* Where each of names sits in the schema record's list key (-1: not there). */
static void schema_map(const json_t *schema, const char *key, const char *const *names, size_t n,
		       long *map)
{
	const json_t *list = json_object_get(schema, key);

	for (size_t j = 0; j < n; j++) {
		map[j] = -1;
		for (size_t i = 0; i < json_array_size(list) && map[j] < 0; i++)
			if (!strcmp(names[j], json_string_value(json_array_get(list, i))))
				map[j] = (long)i;
	}
}

/* The rows of a request the jansson path read: rows into b and w->P from row on. */
static int rows_json(const win_cols *cols, ds_builder *b, const json_t *rec, size_t nr, window *w,
		     size_t row)
{
	json_t *ins = json_object_get(rec, "inputs"), *outs = json_object_get(rec, "outputs");
	int rc = 0;

	for (size_t j = 0; j < cols->n_in && !rc; j++) {
		json_t *col = json_object_get(ins, cols->in_names[j]);
		for (size_t q = 0; q < nr && !rc; q++)
			rc = append_value(b, j, cols->in_types[j], json_array_get(col, q));
	}
	for (size_t q = 0; q < nr; q++, row++) {
		for (size_t c = 0; c < w->k; c++) {
			json_t *v = json_array_get(json_object_get(outs, cols->outputs[c]), q);
			w->P[row * w->k + c] = json_is_number(v) ? json_number_value(v) : NAN;
		}
	}
	return rc;
}

static int window_build(const win_cols *cols, const ring *r, json_t *labels, window *w)
{
	size_t ni = cols->n_in, row = 0;
	ds_builder *b = NULL;
	double *lat = NULL;
	long *in_map = NULL, *out_map = NULL;
	const json_t *mapped = NULL;
	int rc;

	memset(w, 0, sizeof *w);
	w->r = r;
	w->n_req = r->n;
	w->k = cols->k;
	for (size_t i = 0; i < r->n; i++) {
		const lrec *rec = ring_get(r, i);
		w->n_rows += rec->json ? (size_t)json_integer_value(json_object_get(rec->json, "rows"))
				       : rec->rows;
	}
	if ((rc = ds_builder_new(&b)))
		return rc;
	for (size_t j = 0; j < ni && !rc; j++)
		rc = ds_builder_add_col(b, cols->in_names[j], cols->in_types[j], NULL);
	if (!rc)
		rc = ds_builder_reserve(b, w->n_rows);
	w->P = sl__malloc((w->n_rows ? w->n_rows : 1) * (w->k ? w->k : 1) * sizeof *w->P);
	w->label = sl__calloc(w->n_rows ? w->n_rows : 1, sizeof *w->label);
	lat = sl__malloc((r->n ? r->n : 1) * sizeof *lat);
	in_map = sl__malloc((ni ? ni : 1) * sizeof *in_map);
	out_map = sl__malloc((w->k ? w->k : 1) * sizeof *out_map);
	if (!rc && (!w->P || !w->label || !lat || !in_map || !out_map))
		rc = sl__oom();
	for (size_t i = 0; i < r->n && !rc; i++) {
		const lrec *rec = ring_get(r, i);
		json_t *lab = rec->id ? json_object_get(labels, rec->id) : NULL;
		size_t nr;

		if (rec->json) {
			nr = (size_t)json_integer_value(json_object_get(rec->json, "rows"));
			lat[i] = (double)json_integer_value(json_object_get(rec->json, "latency_us"));
			rc = rows_json(cols, b, rec->json, nr, w, row);
		} else {
			nr = rec->rows;
			lat[i] = (double)rec->latency_us;
			if (rec->schema != mapped) {
				/* Records of one segment share their schema record. */
				schema_map(rec->schema, "inputs", cols->in_names, ni, in_map);
				schema_map(rec->schema, "outputs", cols->outputs, w->k, out_map);
				mapped = rec->schema;
			}
			for (size_t j = 0; j < ni && !rc; j++)
				for (size_t q = 0; q < nr && !rc; q++)
					rc = append_val(b, j, cols->in_types[j],
							in_map[j] < 0 ? NULL : &rec->in[q * rec->n_in + (size_t)in_map[j]]);
			for (size_t q = 0; q < nr; q++)
				for (size_t c = 0; c < w->k; c++)
					w->P[(row + q) * w->k + c] =
						out_map[c] < 0 ? NAN : rec->out[q * rec->n_out + (size_t)out_map[c]];
		}
		if (i == 0)
			w->from_ms = rec->t_ms;
		w->to_ms = rec->t_ms;
		for (size_t q = 0; q < nr && !rc; q++, row++) {
			json_t *l = json_is_array(lab) ? json_array_get(lab, q) : q == 0 ? lab : NULL;
			if (l && !json_is_null(l)) {
				w->label[row] = l;
				w->n_labelled++;
			}
		}
	}
	if (!rc)
		rc = ds_builder_finish(b, &w->raw);
	ds_builder_free(b);
	if (!rc) {
		qsort(lat, r->n, sizeof *lat, cmp_double);
		w->lat_p50 = pct(lat, r->n, 0.5);
		w->lat_p99 = pct(lat, r->n, 0.99);
	}
	sl__free(lat);
	sl__free(in_map);
	sl__free(out_map);
	if (rc)
		window_free(w);
	return rc;
}

/* The window's tables with the bundle's raw inputs and the model's outputs. */
static int bundle_window(const bundle *bd, const ring *r, json_t *labels, window *w)
{
	const ml_signature *sig = &bundle_model(bd)->sig;
	size_t ni = bundle_n_inputs(bd);
	const char **names = sl__malloc((ni ? ni : 1) * sizeof *names);
	ds_type *types = sl__malloc((ni ? ni : 1) * sizeof *types);
	int rc;

	if (!names || !types) {
		rc = sl__oom();
	} else {
		for (size_t j = 0; j < ni; j++) {
			names[j] = bundle_input_name(bd, j);
			types[j] = bundle_input_type(bd, j);
		}
		win_cols cols = {.n_in = ni, .k = sig->n_outputs, .in_names = names, .in_types = types,
				 .outputs = (const char *const *)sig->outputs};
		rc = window_build(&cols, r, labels, w);
	}
	sl__free(names);
	sl__free(types);
	return rc;
}

/* ---- performance --------------------------------------------------------------------- */

/* A label as the class index of sig, or -1 when it names no class. */
static long class_of(const ml_signature *sig, const json_t *l)
{
	char buf[64];
	const char *text = buf;

	if (json_is_string(l))
		text = json_string_value(l);
	else if (json_is_integer(l))
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(l));
	else if (json_is_real(l))
		ds_format_f64(json_real_value(l), buf);
	else if (json_is_boolean(l))
		snprintf(buf, sizeof buf, "%s", json_is_true(l) ? "true" : "false");
	else
		return -1;
	for (size_t c = 0; c < sig->n_classes; c++)
		if (!strcmp(sig->classes[c], text))
			return (long)c;
	return -1;
}

static size_t argmax(const double *p, size_t k)
{
	size_t best = 0;

	for (size_t c = 1; c < k; c++)
		if (p[c] > p[best])
			best = c;
	return best;
}

static int set_num(json_t *o, const char *key, double v)
{
	return json_object_set_new(o, key, num(v)) ? sl__oom() : 0;
}

/* Realised metrics over the window's labelled rows into live. */
static int live_metrics(const ml_signature *sig, const window *w, json_t *live)
{
	size_t n = 0, k = w->k;
	double *y = sl__malloc((w->n_labelled ? w->n_labelled : 1) * sizeof *y);
	double *P = sl__malloc((w->n_labelled ? w->n_labelled : 1) * (k ? k : 1) * sizeof *P);
	int rc = 0;

	if (!y || !P) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < w->n_rows; i++) {
		if (!w->label[i])
			continue;
		if (ml_task_is_classifier(sig->task)) {
			long c = class_of(sig, w->label[i]);
			if (c < 0)
				continue; /* a label the model cannot have predicted */
			y[n] = (double)c;
		} else if (json_is_number(w->label[i])) {
			y[n] = json_number_value(w->label[i]);
		} else {
			continue;
		}
		memcpy(P + n * k, w->P + i * k, k * sizeof *P);
		n++;
	}
	if ((rc = json_object_set_new(live, "labelled", json_integer((json_int_t)n)) ? sl__oom() : 0))
		goto out;
	if (n == 0)
		goto out;
	if (ml_task_is_classifier(sig->task)) {
		rc = set_num(live, "accuracy", ml_metric_accuracy(y, P, k, NULL, n));
		if (!rc && sig->task == ML_BINARY) {
			double cm[4] = {0}, pr, re, f1, *p1 = sl__malloc(n * sizeof *p1),
			       *pred = sl__malloc(n * sizeof *pred);
			if (!p1 || !pred) {
				sl__free(p1);
				sl__free(pred);
				rc = sl__oom();
				goto out;
			}
			for (size_t i = 0; i < n; i++) {
				p1[i] = P[i * k + 1];
				pred[i] = (double)argmax(P + i * k, k);
			}
			ml_confusion(y, pred, 2, NULL, n, cm);
			ml_class_prf(cm, 2, 1, &pr, &re, &f1);
			rc = set_num(live, "f1", f1);
			if (!rc)
				rc = set_num(live, "auc", ml_metric_auc(y, p1, NULL, n));
			sl__free(p1);
			sl__free(pred);
		}
	} else if (sig->task == ML_REGRESSION) {
		double *p = sl__malloc(n * sizeof *p), naive = 0;
		if (!p) {
			rc = sl__oom();
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			p[i] = P[i * k];
		/* MASE's scale: the one-step naive forecast's error over the same
		 * labelled rows in time order (the window is in time order). */
		for (size_t i = 1; i < n; i++)
			naive += fabs(y[i] - y[i - 1]);
		naive = n > 1 ? naive / (double)(n - 1) : NAN;
		double mae = ml_metric_mae(y, p, NULL, n);
		rc = set_num(live, "mae", mae);
		if (!rc)
			rc = set_num(live, "rmse", ml_metric_rmse(y, p, NULL, n));
		if (!rc)
			rc = set_num(live, "mase", naive > 0 ? mae / naive : NAN);
		sl__free(p);
	}
out:
	sl__free(y);
	sl__free(P);
	return rc;
}

/*
 * A forecaster's realised metrics: each labelled row (a series and its h)
 * scored as evaluate scores the held-out months, its error over the
 * series' own in-sample scale, so the live MASE is comparable with the
 * canvas's bound. inputs: the model's input columns of the window's rows.
 */
static int live_forecast(const ml_model *m, const ds_table *inputs, const window *w,
			 json_t *live)
{
	size_t p = m->sig.n_features, k = w->k, n = 0;
	size_t cap = w->n_labelled ? w->n_labelled : 1;
	double *X = NULL, *Xl = sl__malloc(cap * (p ? p : 1) * sizeof *Xl);
	double *P = sl__malloc(cap * (k ? k : 1) * sizeof *P), *y = sl__malloc(cap * sizeof *y);
	int rc = !Xl || !P || !y ? sl__oom() : ml_frame_code(&m->sig, inputs, &X);

	for (size_t i = 0; !rc && i < w->n_rows; i++) {
		if (!w->label[i] || !json_is_number(w->label[i]) || n == cap)
			continue;
		y[n] = json_number_value(w->label[i]);
		memcpy(Xl + n * p, X + i * p, p * sizeof *Xl);
		memcpy(P + n * k, w->P + i * k, k * sizeof *P);
		n++;
	}
	if (!rc && json_object_set_new(live, "labelled", json_integer((json_int_t)n)))
		rc = sl__oom();
	if (!rc && n)
		rc = ml_forecast_live(m, Xl, P, y, n, live);
	sl__free(X);
	sl__free(Xl);
	sl__free(P);
	sl__free(y);
	return rc;
}

static json_t *est_json(const calib_est *e)
{
	return json_pack("{s:o, s:o, s:o}", "value", num(e->value), "lower", num(e->lower), "upper",
			 num(e->upper));
}

/* Label-free estimates from the calibrated probabilities, reconciled with the labels there are. */
static int estimates(const ml_signature *sig, const mref *ref, const window *w, json_t *est)
{
	bool binary = ref->calib_binary && sig->task == ML_BINARY;
	size_t n = w->n_rows, k = w->k, nl = 0;
	double *q = sl__malloc((n ? n : 1) * sizeof *q), *s = sl__malloc((n ? n : 1) * sizeof *s);
	double est_right = 0, real_right = 0;
	calib_estimates ce;
	int rc = 0;

	if (!q || !s) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const double *p = w->P + i * k;
		size_t best = argmax(p, k);
		s[i] = binary ? p[1] : p[best];
		q[i] = calib_apply(&ref->cal, s[i]);
		if (isnan(q[i]))
			q[i] = binary ? 0.5 : 0; /* an unscored row: no information */
		/* The chance this row's decision is right, for reconciliation. */
		double right = binary ? (s[i] > 0.5 ? q[i] : 1 - q[i]) : q[i];
		long c = w->label[i] ? class_of(sig, w->label[i]) : -1;
		if (c >= 0) {
			nl++;
			est_right += right;
			real_right += (size_t)c == (binary ? (size_t)(s[i] > 0.5) : best);
		}
	}
	if ((rc = calib_estimate(q, s, n, binary, 0, &ce)))
		goto out;
	if (json_object_set_new(est, "method", json_string("cbpe")) ||
	    json_object_set_new(est, "calibration", json_string("isotonic")) ||
	    json_object_set_new(est, "calibrated_on", json_string(ref->calib_set)) ||
	    json_object_set_new(est, "accuracy", est_json(&ce.accuracy)) ||
	    (binary && json_object_set_new(est, "f1", est_json(&ce.f1))) ||
	    (binary && json_object_set_new(est, "auc", est_json(&ce.auc)))) {
		rc = sl__oom();
		goto out;
	}
	if (nl) {
		double e = est_right / (double)nl, r = real_right / (double)nl;
		json_t *rec = json_pack("{s:I, s:o, s:o, s:o}", "labelled", (json_int_t)nl,
					"estimated_accuracy", num(e), "realised_accuracy", num(r),
					"error", num(e - r));
		if (!rec || json_object_set_new(est, "reconciled", rec))
			rc = sl__oom();
	}
out:
	sl__free(q);
	sl__free(s);
	return rc;
}

/* ---- the report ------------------------------------------------------------------------ */

static json_t *iso(int64_t ms)
{
	char buf[DS_TS_BUF];

	if (ms < 0)
		return json_null();
	ds_format_timestamp(ms * 1000, buf);
	return json_string(buf);
}

/*
 * The registered version whose bundle a server logged as label: a server
 * that serves a file names the version by the file's digest (a prefix of
 * it), so each registered bundle's digest is compared. *out_version 0 and
 * *out_id NULL when none matches.
 */
static int find_by_digest(const mon_env *env, const char *model, const char *label,
			  int64_t *out_version, char **out_id)
{
	json_t *mj = NULL, *v;
	size_t i, len = strlen(label);
	int rc;

	*out_version = 0;
	*out_id = NULL;
	if ((rc = store_model_json(env->st, model, NULL, &mj)))
		return rc;
	json_array_foreach(json_object_get(mj, "versions"), i, v) {
		const char *id = json_string_value(json_object_get(v, "bundle"));
		char *path = id ? art_path(env->art_root, id) : NULL, digest[65];
		mfile *f = NULL;
		if (!path)
			continue;
		if (mfile_open(path, &f) == 0) {
			mfile_digest_hex(f, digest);
			if (len <= 64 && !strncmp(digest, label, len)) {
				*out_version = (int64_t)json_integer_value(json_object_get(v, "version"));
				*out_id = sl__strdup(id);
			}
			mfile_close(f);
		}
		sl__err_clear();
		sl__free(path);
		if (*out_id)
			break;
	}
	json_decref(mj);
	return *out_version && !*out_id ? sl__oom() : 0;
}

/*
 * ---- the reference, kept between passes ----------------------------------------------------
 *
 * A pass every few seconds opens the same bundle and loads the same
 * reference (its profiles parsed from JSON; an artifact's digest checked
 * first): about as much work as reading the window. An opened bundle and
 * its reference are kept by the file's identity (path, device, inode,
 * size, modification time), so a file replaced (a new version served, a
 * hot reload) is a new entry and the old one ages out. An artifact is
 * verified when it is first opened, not again while it is the same file.
 * A pass takes its entry out while it uses it (as the tail cache does):
 * two passes never share a bundle.
 */
#define REF_CACHE 4

typedef struct ref_entry {
	char *key; /* NULL: a free slot */
	bundle *bd;
	mref *ref;
	uint64_t used;
} ref_entry;

static pthread_mutex_t ref_mu = PTHREAD_MUTEX_INITIALIZER;
static ref_entry ref_slots[REF_CACHE];
static uint64_t ref_clock;

static char *ref_key(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return NULL;
	return sl__asprintf("%s\x1f%llu\x1f%llu\x1f%lld\x1f%lld.%09ld", path, (unsigned long long)st.st_dev,
			    (unsigned long long)st.st_ino, (long long)st.st_size,
			    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static bool ref_take(const char *key, bundle **bd, mref **ref)
{
	bool hit = false;

	pthread_mutex_lock(&ref_mu);
	for (size_t i = 0; i < REF_CACHE && !hit; i++)
		if (ref_slots[i].key && !strcmp(ref_slots[i].key, key)) {
			*bd = ref_slots[i].bd;
			*ref = ref_slots[i].ref;
			sl__free(ref_slots[i].key);
			memset(&ref_slots[i], 0, sizeof ref_slots[i]);
			hit = true;
		}
	pthread_mutex_unlock(&ref_mu);
	return hit;
}

/* Keeps bd and ref under key (taking all three), in a free slot or the least recently used one. */
static void ref_put(char *key, bundle *bd, mref *ref)
{
	ref_entry old;
	size_t at = 0;

	pthread_mutex_lock(&ref_mu);
	for (size_t i = 0; i < REF_CACHE; i++) {
		if (!ref_slots[i].key) {
			at = i;
			break;
		}
		if (ref_slots[i].used < ref_slots[at].used)
			at = i;
	}
	old = ref_slots[at];
	ref_slots[at] = (ref_entry){.key = key, .bd = bd, .ref = ref, .used = ++ref_clock};
	pthread_mutex_unlock(&ref_mu);
	sl__free(old.key);
	mref_free(old.ref);
	bundle_close(old.bd);
}

/*
 * The bundle at path and its reference (*key: what to keep them under
 * afterwards, or NULL): the kept ones when the file is the same, else
 * opened (the artifact art_id verified first, when given).
 */
static int ref_open(const mon_env *env, const char *path, const char *art_id, const char *model,
		    const char *version, bundle **bd, mref **ref, char **key)
{
	int rc;

	*key = ref_key(path);
	if (*key && ref_take(*key, bd, ref))
		return 0;
	if (art_id && (rc = art_verify(env->art_root, art_id)))
		return sl__err_prefix(rc, "the bundle of version %s of model '%s'", version, model);
	if ((rc = bundle_open(path, 0, bd)))
		return rc;
	if ((rc = mref_load(bundle_model(*bd)->file, ref)))
		return sl__err_prefix(rc == SL_ENOENT ? SL_EINVAL : rc,
				      "the bundle of model '%s' version %s", model, version);
	return 0;
}

/*
 * Whether a logged version label is a registry version number (*n), not
 * the 12 hex digits of a bundle digest a file server logs: about one
 * digest in 280 has only decimal digits among its first 12, and a registry
 * holds no version that long.
 */
bool mon_registry_number(const char *v, int64_t *n)
{
	return strlen(v) != 12 && sl__parse_i64(v, n) && *n > 0;
}

/*
 * The bundle of the window's version and its reference: the caller's
 * path, or the registry's (by version number, or by the digest a file
 * server logged). *out_version is the registry's number when known, else
 * 0. *key as ref_open's.
 */
static int open_bundle(const mon_env *env, const char *model, const char *version,
		       const mon_window *w, bundle **out, mref **ref, char **key, char **out_id,
		       int64_t *out_version)
{
	store_model_ref mr;
	char *path;
	int rc;

	*out_id = NULL;
	*out_version = 0;
	if (w->bundle_path) {
		if ((rc = ref_open(env, w->bundle_path, NULL, model, version, out, ref, key)))
			return rc;
		return (*out_id = sl__strdup(w->bundle_path)) ? 0 : sl__oom();
	}
	if (!env->st || !env->art_root)
		return sl__err(SL_EINVAL, "no registry to find version %s of model '%s' in: give "
					  "its bundle",
			       version, model);
	int64_t number;
	if (!mon_registry_number(version, &number)) {
		if ((rc = find_by_digest(env, model, version, out_version, out_id)))
			return sl__err_prefix(rc, "the log's version %s of model '%s'", version, model);
		if (!*out_id)
			return sl__err(SL_ENOENT, "the log's version %s of model '%s' is no registered "
						  "bundle of that model: give the bundle it served "
						  "(--bundle FILE)",
				       version, model);
		memcpy(mr.bundle, *out_id, SL__HASH_HEX_SIZE);
		sl__free(*out_id);
		*out_id = NULL;
	} else if ((rc = store_model_resolve(env->st, model, version, &mr))) {
		return sl__err_prefix(rc, "the log's version %s of model '%s'", version, model);
	} else {
		*out_version = mr.version;
	}
	if (!(path = art_path(env->art_root, mr.bundle)))
		return sl__oom();
	rc = ref_open(env, path, mr.bundle, model, version, out, ref, key);
	sl__free(path);
	if (rc)
		return rc;
	return (*out_id = sl__strdup(mr.bundle)) ? 0 : sl__oom();
}

#define DIGEST_SLOTS 4

static pthread_mutex_t digest_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char *key; /* ref_key of the bundle file; NULL: free */
	char digest[65];
} digest_slots[DIGEST_SLOTS];
static size_t digest_next;

/*
 * The label a file server gives registered version `version` of model (its
 * bundle's digest, first 12 hex digits) into buf; "" when version is no
 * number. SL_ENOENT naming the model or version when there is no such one.
 */
static int digest_label(const mon_env *env, const char *model, const char *version, char *buf,
			size_t size)
{
	store_model_ref mr;
	char *path, digest[65];
	mfile *f = NULL;
	int64_t number;
	int rc;

	buf[0] = 0;
	if (!mon_registry_number(version, &number))
		return 0;
	if ((rc = store_model_resolve(env->st, model, version, &mr)))
		return rc;
	if (!(path = art_path(env->art_root, mr.bundle)))
		return sl__oom();
	/* The digest of a file still the same (ref_key) is not computed again:
	 * the loop asks every pass, and a GBDT's bundle is megabytes. */
	char *key = ref_key(path);
	bool hit = false;
	pthread_mutex_lock(&digest_mu);
	for (size_t i = 0; key && i < DIGEST_SLOTS && !hit; i++)
		if (digest_slots[i].key && !strcmp(digest_slots[i].key, key)) {
			memcpy(digest, digest_slots[i].digest, sizeof digest);
			hit = true;
		}
	pthread_mutex_unlock(&digest_mu);
	if (!hit) {
		rc = mfile_open(path, &f);
		if (rc) {
			sl__free(path);
			sl__free(key);
			return sl__err_prefix(rc, "the bundle of version %s of model '%s'", version, model);
		}
		mfile_digest_hex(f, digest);
		mfile_close(f);
		if (key) {
			pthread_mutex_lock(&digest_mu);
			size_t at = digest_next++ % DIGEST_SLOTS;
			sl__free(digest_slots[at].key);
			digest_slots[at].key = key;
			memcpy(digest_slots[at].digest, digest, sizeof digest);
			key = NULL;
			pthread_mutex_unlock(&digest_mu);
		}
	}
	sl__free(key);
	sl__free(path);
	snprintf(buf, size, "%.12s", digest);
	return 0;
}

/* "3" as 3, anything else as the string. */
static json_t *version_json(const char *v)
{
	int64_t n;

	if (mon_registry_number(v, &n))
		return json_integer((json_int_t)n);
	return json_string(v);
}

/* Reads the window of c's model (a time span forward, a count from the
 * tail unless forward) into c; *r is its ring, NULL when it has none. */
static int read_window(scan_ctx *c, const char *dir, bool forward, ring **r)
{
	const mon_window *w = c->w;
	int rc;

	*r = NULL;
	rc = forward ? ilog_scan(dir, w->since_ms, w->until_ms, scan_line, c) : scan_rev(c, dir);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c->n_rings; i++)
		if (w->version ? !strcmp(c->rings[i].version, w->version) ||
					 (c->alias[0] && !strcmp(c->rings[i].version, c->alias))
			       : c->newest && !strcmp(c->rings[i].version, c->newest))
			*r = &c->rings[i];
	return 0;
}

/* The scan of mon_window_read and mon_window_tables. */
static int test_read(scan_ctx *c, const char *dir, const char *model, const mon_window *w,
		     bool forward, ring **r)
{
	memset(c, 0, sizeof *c);
	c->model = model;
	c->model_len = strlen(model);
	c->w = w;
	c->cap = w->since_ms || w->until_ms ? MON_MAX_REQUESTS : w->requests;
	snprintf(c->pat, sizeof c->pat, "\"model\":\"%s\"", model);
	if (!(c->labels = json_object()))
		return sl__oom();
	return read_window(c, dir, forward, r);
}

/* A double exactly, NaN and the sign of zero included. */
static json_t *exact(double x)
{
	char buf[64];

	snprintf(buf, sizeof buf, "%a", x);
	return json_string(buf);
}

/* Column j of t as a JSON array (doubles by exact()). */
static json_t *col_json(const ds_table *t, size_t j)
{
	json_t *a = json_array();
	const uint8_t *valid = ds_col_validity(t, j);
	ds_type ty = ds_col_type(t, j);

	for (size_t i = 0; a && i < ds_nrow(t); i++) {
		json_t *v;
		size_t len;
		const char *sv;
		if (!ds_valid(valid, i))
			v = json_null();
		else if (ty == DS_FLOAT64)
			v = exact(ds_col_f64(t, j)[i]);
		else if (ty == DS_INT64 || ty == DS_TIMESTAMP)
			v = json_integer((json_int_t)ds_col_i64(t, j)[i]);
		else if (ty == DS_BOOL)
			v = json_boolean(ds_col_bool(t, j)[i]);
		else
			v = (sv = ds_col_str(t, j, i, &len)) ? json_stringn(sv, len) : NULL;
		if (json_array_append_new(a, v)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int mon_window_tables(const char *dir, const char *model, const mon_window *w, bool forward,
		      size_t n_in, const char *const *names, const ds_type *types, size_t k,
		      const char *const *outputs, json_t **out)
{
	scan_ctx c;
	ring *r;
	window win;
	bool have = false;
	json_t *o = NULL, *raw, *P, *lab;
	int rc;

	*out = NULL;
	if ((rc = test_read(&c, dir, model, w, forward, &r)))
		goto out;
	if (!r) {
		rc = sl__err(SL_ENOENT, "no window");
		goto out;
	}
	win_cols cols = {.n_in = n_in, .k = k, .in_names = names, .in_types = types, .outputs = outputs};
	if ((rc = window_build(&cols, r, c.labels, &win)))
		goto out;
	have = true;
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:{}, s:[], s:[]}", "version",
		      r->version, "requests", (json_int_t)win.n_req, "rows", (json_int_t)win.n_rows,
		      "from", (json_int_t)win.from_ms, "to", (json_int_t)win.to_ms, "p50",
		      exact(win.lat_p50), "p99", exact(win.lat_p99), "labelled",
		      (json_int_t)win.n_labelled, "raw", "P", "labels");
	raw = json_object_get(o, "raw");
	P = json_object_get(o, "P");
	lab = json_object_get(o, "labels");
	for (size_t j = 0; o && j < n_in; j++)
		if (json_object_set_new(raw, names[j], col_json(win.raw, j)))
			rc = sl__oom();
	for (size_t i = 0; o && i < win.n_rows * k; i++)
		if (json_array_append_new(P, exact(win.P[i])))
			rc = sl__oom();
	for (size_t i = 0; o && i < win.n_rows; i++)
		if (json_array_append_new(lab, win.label[i] ? json_incref(win.label[i]) : json_null()))
			rc = sl__oom();
	if (!o)
		rc = sl__oom();
	if (!rc) {
		*out = o;
		o = NULL;
	}
out:
	json_decref(o);
	if (have)
		window_free(&win);
	scan_free(&c);
	return rc;
}

int mon_window_read(const char *dir, const char *model, const mon_window *w, bool forward,
		    json_t **out)
{
	scan_ctx c;
	ring *r;
	json_t *o = NULL, *ids, *labels;
	size_t errors = 0;
	int rc;

	if ((rc = test_read(&c, dir, model, w, forward, &r)))
		goto out;
	o = json_pack("{s:s?, s:[], s:{}}", "version", r ? r->version : NULL, "ids", "labels");
	ids = json_object_get(o, "ids");
	labels = json_object_get(o, "labels");
	for (size_t i = 0; r && o && i < r->n; i++) {
		const char *id = ring_get(r, i)->id;
		json_t *l;
		json_array_append_new(ids, id ? json_string(id) : NULL);
		if (id && (l = json_object_get(c.labels, id)))
			json_object_set(labels, id, l);
	}
	for (size_t i = 0; r && r->n && i < c.n_err; i++)
		errors += c.err_ms[i] >= ring_get(r, 0)->t_ms;
	if (!o || json_object_set_new(o, "errors", json_integer((json_int_t)errors)) ||
	    json_array_size(ids) != (r ? r->n : 0)) {
		rc = sl__oom();
		goto out;
	}
	*out = o;
	o = NULL;
out:
	json_decref(o);
	scan_free(&c);
	return rc;
}

/* A count window's size: w's, else the canvas's, else MON_DEFAULT_WINDOW. */
static size_t count_cap(const mon_env *env, const mon_window *w)
{
	if (w->requests)
		return w->requests;
	return env->cv && env->cv->monitoring.window.v >= 1 ? (size_t)env->cv->monitoring.window.v
							     : MON_DEFAULT_WINDOW;
}

/*
 * ---- one evaluation for two readers ------------------------------------------------------
 *
 * A server with the monitoring loop and drift gauges evaluated every
 * window twice, on two threads, a few seconds apart: the same reading,
 * decoding and tests. A publishing pass (the loop) leaves its report here,
 * under what decides it: the log directory (its identity), the model, the
 * window's size, the bundle file (ref_key) and the drift settings; the
 * gauges take it while it is younger than their interval. Only a report
 * whose window is of the version the reader asks for matches (served_as):
 * then both windows are that version's newest requests, so the values are
 * those the reader's own pass would give for the window at that time.
 */
#define SHARE_SLOTS 8

typedef struct shared_rep {
	char *key; /* NULL: a free slot */
	char *served_as;
	json_t *rep; /* a copy of its own: never changed, copied out */
	double at;   /* sl__mono_sec() when it was made */
} shared_rep;

static pthread_mutex_t share_mu = PTHREAD_MUTEX_INITIALIZER;
static shared_rep share_slots[SHARE_SLOTS];

static char *share_key(const mon_env *env, const char *model, size_t cap, const char *bundle_key)
{
	drift_opts o;
	double thr;
	struct stat st;
	sl__buf b;
	int bad;

	if (stat(env->log_dir, &st))
		return NULL;
	mon_drift_opts(env, &o, &thr);
	sl__buf_init(&b, 0);
	bad = sl__buf_printf(&b, "%llu:%llu\x1f%s\x1f%zu\x1f%s\x1f%.17g %.17g %.17g %.17g %.17g %.17g %llu %llu %d %d %.17g",
		       (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, model, cap,
		       bundle_key, o.psi_threshold, o.ks_pvalue, o.chi2_pvalue, o.z_pvalue,
		       o.js_threshold, o.wasserstein_threshold, (unsigned long long)o.large_n,
		       (unsigned long long)o.few_values, (int)o.numeric_test, (int)o.categorical_test,
		       thr);
	if (env->cv)
		for (size_t i = 0; i < env->cv->monitoring.n_drift_columns; i++)
			bad = bad || sl__buf_printf(&b, "\x1f%s", env->cv->monitoring.drift_columns[i]);
	if (bad || !b.data) {
		sl__buf_free(&b);
		return NULL;
	}
	return sl__buf_detach(&b);
}

/* Keeps a copy of rep under key (taking key), replacing the same key's or the oldest. */
static void share_put(char *key, const json_t *rep)
{
	const char *served = json_string_value(json_object_get(rep, "served_as"));
	json_t *copy = json_deep_copy(rep);
	char *sv = served ? sl__strdup(served) : NULL;
	shared_rep old = {0};
	size_t at = 0;

	if (!copy || !sv) {
		json_decref(copy);
		sl__free(sv);
		sl__free(key);
		return;
	}
	pthread_mutex_lock(&share_mu);
	for (size_t i = 0; i < SHARE_SLOTS; i++) {
		if (share_slots[i].key && !strcmp(share_slots[i].key, key)) {
			at = i;
			break;
		}
		if (!share_slots[i].key || (share_slots[at].key && share_slots[i].at < share_slots[at].at))
			at = i;
	}
	old = share_slots[at];
	share_slots[at] = (shared_rep){.key = key, .served_as = sv, .rep = copy, .at = sl__mono_sec()};
	pthread_mutex_unlock(&share_mu);
	sl__free(old.key);
	sl__free(old.served_as);
	json_decref(old.rep);
}

int mon_report_recent(const mon_env *env, const char *model, const mon_window *w,
		      int64_t max_age_ms, json_t **out)
{
	char *bkey, *key;

	*out = NULL;
	if (!env || !env->log_dir || !model || !w || !w->version || !w->bundle_path ||
	    w->since_ms || w->until_ms)
		return sl__err(SL_EINVAL, "mon_report_recent: invalid argument");
	if (!(bkey = ref_key(w->bundle_path)))
		return SL_ENOENT;
	key = share_key(env, model, count_cap(env, w), bkey);
	sl__free(bkey);
	if (!key)
		return SL_ENOENT;
	pthread_mutex_lock(&share_mu);
	for (size_t i = 0; i < SHARE_SLOTS && !*out; i++) {
		const shared_rep *e = &share_slots[i];
		if (e->key && !strcmp(e->key, key) && !strcmp(e->served_as, w->version) &&
		    (sl__mono_sec() - e->at) * 1000 <= (double)max_age_ms)
			*out = json_deep_copy(e->rep);
	}
	pthread_mutex_unlock(&share_mu);
	sl__free(key);
	return *out ? 0 : SL_ENOENT;
}

int mon_report(const mon_env *env, const char *model, const mon_window *w, json_t **out)
{
	scan_ctx c;
	ring *r = NULL;
	bundle *bd = NULL;
	mref *ref = NULL;
	char *bundle_id = NULL, *ref_k = NULL, *sk = NULL;
	bool reused = false;
	window win = {0};
	bool have_win = false;
	ds_table *mt = NULL, *pt = NULL;
	json_t *rep = NULL, *feats = NULL, *live = NULL, *est = NULL, *pred = NULL;
	drift_opts o;
	double share_thr;
	size_t tested = 0, drifted = 0, errors = 0;
	int64_t reg_version = 0;
	int rc;

	*out = NULL;
	if (!env || !model || !w || !env->log_dir)
		return sl__err(SL_EINVAL, "mon_report: invalid argument");
	mon_drift_opts(env, &o, &share_thr);
	memset(&c, 0, sizeof c);
	c.model = model;
	c.model_len = strlen(model);
	c.w = w;
	c.cap = w->since_ms || w->until_ms ? MON_MAX_REQUESTS : count_cap(env, w);
	if (c.cap > MON_MAX_REQUESTS)
		return sl__err(SL_EINVAL, "a window holds at most %d requests", MON_MAX_REQUESTS);
	snprintf(c.pat, sizeof c.pat, "\"model\":\"%s\"", model);
	if (w->version && !w->bundle_path && env->st && env->art_root &&
	    (rc = digest_label(env, model, w->version, c.alias, sizeof c.alias)))
		return rc;
	if (!(c.labels = json_object()))
		return sl__oom();
	if ((rc = read_window(&c, env->log_dir, false, &r)) < 0)
		goto out;
	rc = 0;
	if (!r || !r->n) {
		rc = sl__err(SL_ENOENT, "the inference log in %s has no answered request of model "
					"'%s'%s%s%s",
			     env->log_dir, model, w->version ? " version " : "",
			     w->version ? w->version : "",
			     w->since_ms || w->until_ms ? " in that time span" : "");
		goto out;
	}
	if ((rc = open_bundle(env, model, r->version, w, &bd, &ref, &ref_k, &bundle_id, &reg_version)))
		goto out;
	if (ref_k && !w->since_ms && !w->until_ms)
		sk = share_key(env, model, c.cap, ref_k);
	if (sk && c.unchanged && !strcmp(sk, c.prev_report_key)) {
		/* Nothing of the window was read since its report was made
		 * (no request, label or error), and the bundle and settings
		 * are the same: the same report, at this time. */
		if (!(rep = json_deep_copy(c.prev_report)) ||
		    json_object_set_new(rep, "at", iso(sl__now_ms()))) {
			rc = sl__oom();
			goto out;
		}
		*out = rep;
		rep = NULL;
		reused = true;
		goto out;
	}
	if ((rc = bundle_window(bd, r, c.labels, &win)))
		goto out;
	have_win = true;
	for (size_t i = 0; i < c.n_err; i++)
		errors += c.err_ms[i] >= win.from_ms;

	/* Features: after the bundle's transform, as training saw them. */
	if (bundle_transform(bd)) {
		if ((rc = transform_apply_table(bundle_transform(bd), win.raw, &mt))) {
			rc = sl__err_prefix(rc, "applying the bundle's transform to the window");
			goto out;
		}
	}
	if ((rc = mon_drift_table(ref->features, mt ? mt : win.raw, &o,
				  env->cv ? env->cv->monitoring.drift_columns : NULL,
				  env->cv ? env->cv->monitoring.n_drift_columns : 0, &feats, &tested,
				  &drifted)))
		goto out;

	/* Prediction drift: the score of a binary classifier, else the prediction. */
	const ml_signature *sig = &bundle_model(bd)->sig;
	if (ref->predictions && win.n_rows) {
		json_t *parr = NULL;
		size_t pt_n = 0, pd_n = 0;
		const char *col = sig->task == ML_BINARY ? "score" : "prediction";
		if ((rc = mref_prediction_table(sig, win.P, win.n_rows, &pt)) ||
		    (rc = mon_drift_table(ref->predictions, pt, &o, &col, 1, &parr, &pt_n, &pd_n)))
			goto out;
		pred = json_incref(json_array_get(parr, 0));
		json_decref(parr);
	}

	if (!(live = json_object()) || !(est = json_object())) {
		rc = sl__oom();
		goto out;
	}
	if (win.n_labelled &&
	    (rc = sig->task == ML_FORECAST ? live_forecast(bundle_model(bd), mt ? mt : win.raw, &win, live)
					   : live_metrics(sig, &win, live)))
		goto out;
	if (ref->has_calib && ml_task_is_classifier(sig->task) && win.n_rows &&
	    (rc = estimates(sig, ref, &win, est)))
		goto out;

	double share = tested ? (double)drifted / (double)tested : 0;
	rep = json_object();
	json_t *wj = json_pack("{s:I, s:I, s:o, s:o, s:I, s:o, s:o}", "requests", (json_int_t)win.n_req,
			       "rows", (json_int_t)win.n_rows, "from", iso(win.from_ms), "to",
			       iso(win.to_ms), "errors", (json_int_t)errors, "latency_p50_us",
			       num(win.lat_p50), "latency_p99_us", num(win.lat_p99));
	json_t *rj = json_pack("{s:I, s:s?}", "rows", (json_int_t)ref->rows, "predictions_set",
			       ref->predictions_set);
	/* Every value is handed over whatever happens (json_object_set_new
	 * takes it also when it fails), so no step short-circuits. */
	int bad = 0;
	bad |= json_object_set_new(rep, "model", json_string(model));
	/* The registry's number when the log named the version by its digest. */
	bad |= json_object_set_new(rep, "version", reg_version ? json_integer((json_int_t)reg_version)
							       : version_json(r->version));
	bad |= json_object_set_new(rep, "served_as", json_string(r->version));
	bad |= json_object_set_new(rep, "bundle", json_string(bundle_id));
	bad |= json_object_set_new(rep, "at", iso(sl__now_ms()));
	bad |= json_object_set_new(rep, "window", wj);
	bad |= json_object_set_new(rep, "reference", rj);
	bad |= json_object_set_new(rep, "dataset_drift", json_boolean(tested > 0 && share >= share_thr));
	bad |= json_object_set_new(rep, "drift_share", json_real(share));
	bad |= json_object_set_new(rep, "drift_share_threshold", json_real(share_thr));
	bad |= json_object_set_new(rep, "features_tested", json_integer((json_int_t)tested));
	bad |= json_object_set_new(rep, "features_drifted", json_integer((json_int_t)drifted));
	bad |= json_object_set(rep, "features", feats);
	bad |= json_object_set_new(rep, "prediction_drift", pred ? pred : json_null());
	pred = NULL;
	bad |= json_object_set(rep, "live", live);
	bad |= json_object_set(rep, "estimated", est);
	if (bad) {
		rc = sl__oom();
		goto out;
	}
	*out = rep;
	rep = NULL;
out:
	json_decref(rep);
	json_decref(feats);
	json_decref(live);
	json_decref(est);
	json_decref(pred);
	ds_close(mt);
	ds_close(pt);
	if (have_win)
		window_free(&win);
	if (rc == 0 && sk && c.kept && !reused)
		tail_report(c.kept, *out, sk); /* for a pass that finds the window unchanged */
	if (rc == 0 && sk && env->publish) {
		share_put(sk, *out);
		sk = NULL;
	}
	sl__free(sk);
	if (rc == 0 && ref_k && bd && ref) {
		ref_put(ref_k, bd, ref); /* for the next pass */
	} else {
		sl__free(ref_k);
		mref_free(ref);
		bundle_close(bd);
	}
	sl__free(bundle_id);
	scan_free(&c);
	return rc;
}

/* ---- recording ------------------------------------------------------------------------- */

typedef struct series {
	char **names;
	double *values;
	size_t n, cap;
	bool nomem;
} series;

static double dval(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void put(series *s, double v, const char *fmt, ...) SL__PRINTF(3, 4);
static void put(series *s, double v, const char *fmt, ...)
{
	va_list ap;
	char buf[640], *name;

	if (s->nomem)
		return;
	if (s->n == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 64;
		char **nn = sl__reallocarray(s->names, c, sizeof *nn);
		if (nn)
			s->names = nn;
		double *nv = nn ? sl__reallocarray(s->values, c, sizeof *nv) : NULL;
		if (!nv) {
			s->nomem = true;
			return;
		}
		s->values = nv;
		s->cap = c;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	name = sl__strdup(buf);
	if (!name) {
		s->nomem = true;
		return;
	}
	s->names[s->n] = name;
	s->values[s->n++] = v;
}

/* The series of one drift result: PREFIX.statistic, .p_value, .psi. */
static void put_drift(series *s, const json_t *f, const char *prefix)
{
	put(s, dval(json_object_get(f, "statistic")), "%s.statistic", prefix);
	put(s, dval(json_object_get(f, "p_value")), "%s.p_value", prefix);
	put(s, dval(json_object_get(f, "psi")), "%s.psi", prefix);
}

int mon_record(const mon_env *env, const json_t *rep, int64_t *out_seq)
{
	const json_t *win = json_object_get(rep, "window"), *v, *f;
	const char *key;
	series s = {0};
	store_monitor_window w = {0};
	char vbuf[32], *text = NULL, prefix[600];
	int64_t us;
	size_t i;
	int rc;

	if (!env || !env->st || !json_is_object(rep) || !json_is_object(win))
		return sl__err(SL_EINVAL, "mon_record: invalid argument");
	w.model = json_string_value(json_object_get(rep, "model"));
	v = json_object_get(rep, "version");
	if (json_is_integer(v)) {
		snprintf(vbuf, sizeof vbuf, "%lld", (long long)json_integer_value(v));
		w.version = vbuf;
	} else {
		w.version = json_string_value(v);
	}
	w.at_ms = sl__now_ms();
	key = json_string_value(json_object_get(win, "from"));
	if (key && ds_parse_timestamp(key, strlen(key), &us))
		w.from_ms = us / 1000;
	key = json_string_value(json_object_get(win, "to"));
	if (key && ds_parse_timestamp(key, strlen(key), &us))
		w.to_ms = us / 1000;
	w.requests = (int64_t)json_integer_value(json_object_get(win, "requests"));
	w.dataset_drift = json_is_true(json_object_get(rep, "dataset_drift"));
	if (!w.model)
		return sl__err(SL_EINVAL, "mon_record: the report names no model");

	put(&s, dval(json_object_get(rep, "drift_share")), "drift_share");
	put(&s, (double)w.requests, "requests");
	put(&s, dval(json_object_get(win, "rows")), "rows");
	put(&s, dval(json_object_get(win, "errors")), "errors");
	put(&s, dval(json_object_get(win, "latency_p50_us")), "latency_p50_us");
	put(&s, dval(json_object_get(win, "latency_p99_us")), "latency_p99_us");
	json_array_foreach(json_object_get(rep, "features"), i, f) {
		snprintf(prefix, sizeof prefix, "drift.%s",
			 json_string_value(json_object_get(f, "name")) ?: "?");
		put_drift(&s, f, prefix);
	}
	if (json_is_object(json_object_get(rep, "prediction_drift")))
		put_drift(&s, json_object_get(rep, "prediction_drift"), "prediction");
	json_object_foreach((json_t *)json_object_get(rep, "live"), key, v)
		if (json_is_number(v) || json_is_null(v))
			put(&s, dval(v), "live.%s", key);
	json_object_foreach((json_t *)json_object_get(rep, "estimated"), key, v) {
		if (!json_is_object(v) || !strcmp(key, "reconciled"))
			continue;
		put(&s, dval(json_object_get(v, "value")), "estimated.%s", key);
		put(&s, dval(json_object_get(v, "lower")), "estimated.%s.lower", key);
		put(&s, dval(json_object_get(v, "upper")), "estimated.%s.upper", key);
	}
	v = json_object_get(json_object_get(rep, "estimated"), "reconciled");
	if (v)
		put(&s, dval(json_object_get(v, "error")), "estimated.reconciled_error");

	if (s.nomem || !(text = sl__json_dumps(rep, JSON_COMPACT | JSON_REAL_PRECISION(17))))
		rc = sl__oom();
	else {
		w.report = text;
		rc = store_monitor_add(env->st, &w, (const char *const *)s.names, s.values, s.n,
				       out_seq);
	}
	sl__free(text);
	for (i = 0; i < s.n; i++)
		sl__free(s.names[i]);
	sl__free(s.names);
	sl__free(s.values);
	return rc;
}

int mon_history(const mon_env *env, const char *model, size_t last, json_t **out)
{
	if (!env || !env->st || !model || !out)
		return sl__err(SL_EINVAL, "mon_history: invalid argument");
	return store_monitor_history(env->st, model, last, out);
}

int mon_series(const mon_env *env, const char *model, const char *name, size_t last,
	       json_t **out)
{
	if (!env || !env->st || !model || !name || !out)
		return sl__err(SL_EINVAL, "mon_series: invalid argument");
	return store_monitor_series(env->st, model, name, last, out);
}
