/*
 * The serving summary of model versions from the inference log (logsum.h).
 *
 *   ilog_budget   which newest segments fit the byte budget -> since
 *   ilog_scan     every record of those segments (and of older segments
 *                 still written after since)
 *     head()      the record's first members, by the pull scanner; the rows
 *                 after them are never looked at; only predictions (v2,
 *                 invocations) count, not feedback or load
 *     bump()      the entry of (model, version): count, status class,
 *                 first and last time
 *
 * Invariants:
 *  1. Times are compared as the text the writer puts down (fixed-width
 *     UTC, "2026-11-30T11:22:33.123Z"), which orders as the times do; a
 *     record before since is not counted, so a bounded summary is exact
 *     from since on.
 *  2. A line that is not a request record (damaged, a feedback without a
 *     model) is passed over, never an error: the summary describes what
 *     the log holds.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "serve/jscan.h"
#include "serve/log.h"
#include "serve/logsum.h"

#define TIME_LEN 24 /* "2026-11-30T11:22:33.123Z" */

typedef struct entry {
	char *model, *version;
	uint64_t requests;
	uint64_t by_class[6]; /* [status / 100]; [0] anything outside 100-599 */
	char first[TIME_LEN + 1], last[TIME_LEN + 1];
} entry;

typedef struct sum_ctx {
	const serve_sumkey *keys;
	size_t n_keys;
	entry *e;
	size_t n, cap;
	char since[TIME_LEN + 1]; /* "" when unbounded */
	int rc;
} sum_ctx;

static bool span_eq(const jval *v, const char *s)
{
	return v->t == J_STR && jscan_eq(v, s);
}

static entry *find(sum_ctx *c, const jval *model, const jval *version)
{
	for (size_t i = 0; i < c->n; i++)
		if (span_eq(version, c->e[i].version) && span_eq(model, c->e[i].model))
			return &c->e[i];
	return NULL;
}

/* A new entry for (model, version) (copied); NULL with c->rc set when out of memory. */
static entry *add(sum_ctx *c, const char *model, size_t mlen, const char *version, size_t vlen)
{
	entry *e;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		entry *v = sl__reallocarray(c->e, cap, sizeof *v);
		if (!v) {
			c->rc = sl__oom();
			return NULL;
		}
		c->e = v;
		c->cap = cap;
	}
	e = &c->e[c->n];
	memset(e, 0, sizeof *e);
	e->model = sl__strndup(model, mlen);
	e->version = sl__strndup(version, vlen);
	if (!e->model || !e->version) {
		sl__free(e->model);
		sl__free(e->version);
		c->rc = sl__oom();
		return NULL;
	}
	c->n++;
	return e;
}

/* The entry a record of (model, version) counts in, or NULL when no key wants it. */
static entry *entry_for(sum_ctx *c, const jval *model, const jval *version)
{
	entry *e = find(c, model, version);
	char *m, *v;

	if (e || model->t != J_STR || version->t != J_STR)
		return e;
	/* A key without a model: the first record of another model that served the version. */
	for (size_t i = 0; i < c->n_keys; i++) {
		if (c->keys[i].model || !span_eq(version, c->keys[i].version))
			continue;
		m = sl__malloc(model->len + 1);
		v = sl__malloc(version->len + 1);
		if (m && v) {
			size_t ml = jscan_unescape(model, m), vl = jscan_unescape(version, v);
			e = add(c, m, ml, v, vl);
		} else {
			c->rc = sl__oom();
		}
		sl__free(m);
		sl__free(v);
		return e;
	}
	return NULL;
}

/* The head of a request record: its time, model, version, endpoint and status. */
static int head(const char *line, size_t len, jval *time, jval *model, jval *version,
		jval *endpoint, int *status)
{
	jscan s;
	jval v, k;
	bool first = true;
	int got = 0;

	jscan_init(&s, line, len);
	if (jscan_value(&s, &v) != J_OBJ)
		return -1;
	while (got < 5 && jscan_key(&s, &first, &k) == 1) {
		jval *slot = jscan_eq(&k, "time")	? time
			     : jscan_eq(&k, "model")	? model
			     : jscan_eq(&k, "version")	? version
			     : jscan_eq(&k, "endpoint") ? endpoint
							: NULL;
		if (slot) {
			if (jscan_value(&s, slot) == J_ERR)
				return -1;
			got++;
		} else if (jscan_eq(&k, "status")) {
			if (jscan_value(&s, &v) != J_NUM)
				return -1;
			*status = (int)v.num;
			got++;
		} else if (jscan_skip(&s)) {
			return -1;
		}
	}
	return got == 5 ? 0 : -1;
}

static int sum_line(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	sum_ctx *c = ud;
	jval time = {0}, model = {0}, version = {0}, endpoint = {0};
	int status = 0;
	entry *e;

	(void)sch;
	if (head(line, len, &time, &model, &version, &endpoint, &status) || time.t != J_STR ||
	    time.len != TIME_LEN)
		return 0; /* invariant 2 */
	/* Requests for predictions; feedback and load are about the model, not answered by it. */
	if (!span_eq(&endpoint, "v2") && !span_eq(&endpoint, "invocations"))
		return 0;
	if (c->since[0] && memcmp(time.s, c->since, TIME_LEN) < 0)
		return 0;
	if (!(e = entry_for(c, &model, &version)))
		return c->rc;
	e->requests++;
	e->by_class[status >= 100 && status < 600 ? status / 100 : 0]++;
	if (!e->first[0] || memcmp(time.s, e->first, TIME_LEN) < 0)
		memcpy(e->first, time.s, TIME_LEN);
	if (memcmp(time.s, e->last, TIME_LEN) > 0)
		memcpy(e->last, time.s, TIME_LEN);
	return 0;
}

static void fmt_ms(int64_t ms, char out[TIME_LEN + 1])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, TIME_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, TIME_LEN + 1 - 19, ".%03dZ", (int)(ms % 1000));
}

static json_t *entry_json(const entry *e)
{
	static const char *const cls[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	json_t *o = json_object(), *st = json_object();
	int bad = !o || !st;

	for (int i = 0; !bad && i < 6; i++)
		if (e->by_class[i])
			bad |= json_object_set_new(st, cls[i], json_integer((json_int_t)e->by_class[i]));
	bad |= !o || json_object_set_new(o, "model", json_string(e->model));
	bad |= !o || json_object_set_new(o, "version", json_string(e->version));
	bad |= !o || json_object_set_new(o, "requests", json_integer((json_int_t)e->requests));
	bad |= !o || json_object_set_new(o, "status", st);
	st = NULL;
	bad |= !o || json_object_set_new(o, "first", e->first[0] ? json_string(e->first) : json_null());
	bad |= !o || json_object_set_new(o, "last", e->last[0] ? json_string(e->last) : json_null());
	json_decref(st);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int serve_log_summary(const char *dir, uint64_t budget, const serve_sumkey *keys, size_t n,
		      json_t **out)
{
	sum_ctx c = {.keys = keys, .n_keys = n};
	int64_t since_ms;
	size_t n_segs;
	uint64_t bytes;
	json_t *res = NULL, *arr = NULL;
	int rc;

	*out = NULL;
	if (!dir || (n && !keys))
		return sl__err(SL_EINVAL, "serve_log_summary: bad arguments");
	/* Keys with a model are listed even when nothing served them. */
	for (size_t i = 0; i < n; i++) {
		jval m = {.t = J_STR, .s = keys[i].model, .len = keys[i].model ? strlen(keys[i].model) : 0};
		jval v = {.t = J_STR, .s = keys[i].version, .len = strlen(keys[i].version)};
		if (keys[i].model && !find(&c, &m, &v) &&
		    !add(&c, m.s, m.len, v.s, v.len))
			goto done;
	}
	rc = ilog_budget(dir, budget ? budget : SERVE_SUM_BUDGET, &since_ms, &n_segs, &bytes);
	if (rc) {
		c.rc = rc;
		goto done;
	}
	if (since_ms)
		fmt_ms(since_ms, c.since);
	rc = ilog_scan(dir, since_ms, 0, sum_line, &c);
	if (rc < 0) {
		c.rc = rc;
		goto done;
	}
	if (!(res = json_object()) || !(arr = json_array())) {
		c.rc = sl__oom();
		goto done;
	}
	for (size_t i = 0; i < c.n; i++) {
		json_t *o = entry_json(&c.e[i]);
		if (!o || json_array_append_new(arr, o)) {
			c.rc = sl__oom();
			goto done;
		}
	}
	if (json_object_set(res, "served", arr) ||
	    json_object_set_new(res, "complete", json_boolean(!since_ms)) ||
	    json_object_set_new(res, "since", since_ms ? json_string(c.since) : json_null()) ||
	    json_object_set_new(res, "segments", json_integer((json_int_t)n_segs)) ||
	    json_object_set_new(res, "bytes", json_integer((json_int_t)bytes)))
		c.rc = sl__oom();
done:
	json_decref(arr);
	for (size_t i = 0; i < c.n; i++) {
		sl__free(c.e[i].model);
		sl__free(c.e[i].version);
	}
	sl__free(c.e);
	if (c.rc) {
		json_decref(res);
		return c.rc;
	}
	*out = res;
	return 0;
}
