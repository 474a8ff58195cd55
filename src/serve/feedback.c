/*
 * Feedback (server.h): ground truth for answered requests, by request id.
 *
 *   POST /v2/models/NAME/feedback
 *   {"request_ids": ["a1", "a2"], "labels": ["spam", "ham"]}
 *   -> {"accepted": 1, "unknown": ["a2"]}
 *
 * Each worker remembers its latest requests (a ring with a chained hash
 * index whose links to reused slots are cut on reading, not on writing;
 * under a lock only feedback contends for): id, model, version and
 * the first rows' predictions. An id not among them is looked up in the
 * inference log's segments, so feedback for old requests works too, only
 * slower. Ids found for another model, or nowhere, are reported back as
 * unknown, never silently dropped. Accepted labels are written to the log
 * as a feedback record (joined with the requests by `ingest.log`) before
 * the answer, and update the live metric: accuracy for classifiers, mean
 * absolute error otherwise, over the latest SERVE_LIVE_WINDOW labels.
 *
 * A request of n rows takes one label per row: a single label when n is 1,
 * else an array of n labels, null where a row has none (yet).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "serve/server.h"

#define MAX_IDS 10000

/* The ring's hash of a request id (kept in memory only): XXH3, several
 * times cheaper than a byte-at-a-time hash for ids of 20-odd bytes, and
 * computed for every request twice (the prefetch and the entry). */
static uint64_t id_hash(const char *s)
{
	return sl__hash64(s, strlen(s));
}

int serve_recent_init(serve_worker *w, size_t cap)
{
	size_t c = 16;

	while (c < cap)
		c *= 2;
	pthread_mutex_init(&w->recent_mu, NULL);
	w->recent = sl__calloc(c, sizeof *w->recent);
	w->buckets = sl__malloc(c * sizeof *w->buckets);
	if (!w->recent || !w->buckets)
		return sl__err(SL_ENOMEM, "out of memory for %zu recent requests", c);
	for (size_t i = 0; i < c; i++)
		w->buckets[i] = -1;
	w->recent_cap = c;
	w->bucket_mask = c - 1;
	return 0;
}

void serve_recent_free(serve_worker *w)
{
	if (w->recent)
		pthread_mutex_destroy(&w->recent_mu);
	sl__free(w->recent);
	sl__free(w->buckets);
}

/* The value a label is compared with for row i. */
static double prediction(const serve_result *res, ml_task task, size_t i)
{
	if (res->label)
		return res->label[i];
	if (task == ML_ANOMALY)
		return res->out[i * res->k + 1];
	return res->out[i * res->k];
}

void serve_recent_add(serve_worker *w, const char *id, uint16_t model, serve_vstats *st,
		      const serve_result *res, ml_task task)
{
	uint64_t h = id_hash(id);
	int32_t pos;
	serve_recent *e;

	if (!w->recent)
		return;
	pthread_mutex_lock(&w->recent_mu);
	pos = (int32_t)w->recent_pos;
	e = &w->recent[pos];
	/* The entry overwritten is the oldest, so whatever its chain leads
	 * to is older still, overwritten before it: it is left linked, and
	 * lookups stop at the first link that does not lead to an older
	 * entry (serve_recent_get). Unlinking it would walk its chain: cache
	 * misses on every request. */
	{
		size_t n = strnlen(id, sizeof e->id - 1);
		memcpy(e->id, id, n);
		e->id[n] = 0;
	}
	e->hash = h;
	e->seq = ++w->recent_seq;
	e->model = model;
	e->st = st;
	e->rows = (uint16_t)(res->n > 65535 ? 65535 : res->n);
	for (size_t i = 0; i < 4 && i < res->n; i++)
		e->pred[i] = prediction(res, task, i);
	e->next = w->buckets[h & w->bucket_mask];
	w->buckets[h & w->bucket_mask] = pos;
	w->recent_pos = (w->recent_pos + 1) & (w->recent_cap - 1);
	pthread_mutex_unlock(&w->recent_mu);
}

void serve_recent_prefetch(serve_worker *w, const char *id)
{
	const serve_recent *e;

	if (!w->recent)
		return;
	/* Only w's own thread moves recent_pos: no lock for a hint. */
	e = &w->recent[w->recent_pos];
	__builtin_prefetch(&w->buckets[id_hash(id) & w->bucket_mask], 1);
	__builtin_prefetch(e, 1);
	__builtin_prefetch((const char *)e + sizeof *e - 1, 1);
}

/*
 * A chain runs from newer entries to older ones; a link to a slot the ring
 * has since reused (its entry is newer than the one linking to it, or, for
 * the bucket's head, hashes elsewhere) ends it.
 */
bool serve_recent_get(serve_worker *w, const char *id, serve_recent *out)
{
	uint64_t h = id_hash(id), newer = UINT64_MAX;
	bool found = false;

	if (!w->recent)
		return false;
	pthread_mutex_lock(&w->recent_mu);
	for (int32_t p = w->buckets[h & w->bucket_mask]; p >= 0; p = w->recent[p].next) {
		const serve_recent *e = &w->recent[p];
		if (e->seq >= newer || (e->hash & w->bucket_mask) != (h & w->bucket_mask))
			break;
		if (e->hash == h && !strcmp(e->id, id)) {
			*out = *e;
			found = true;
			break;
		}
		newer = e->seq;
	}
	pthread_mutex_unlock(&w->recent_mu);
	return found;
}

static bool recent_find(sl_server *s, const char *id, serve_recent *out)
{
	int n = atomic_load(&s->n_workers);

	for (int i = 0; i < n; i++) {
		serve_worker *w = atomic_load(&s->workers[i]);
		if (w && serve_recent_get(w, id, out))
			return true;
	}
	return false;
}

/* ---- the body -------------------------------------------------------------------------- */

typedef struct fb_item {
	char id[SERVE_ID_LEN];
	bool valid_id;       /* fits and is text */
	const char *label;   /* the label's JSON text */
	size_t label_len;
	bool found;
	uint32_t rows;
	double pred[4];
	size_t n_pred;
} fb_item;

typedef struct fb {
	fb_item *items;
	size_t n, cap;
} fb;

/* Item i, growing the array (in the arena) to hold it; NULL when out of memory. */
static fb_item *item(fb *f, size_t i, serve_arena *a)
{
	if (i >= f->cap) {
		size_t c = f->cap ? f->cap * 2 : 64;
		fb_item *n;
		while (c <= i)
			c *= 2;
		if (!(n = serve_arena_calloc(a, c * sizeof *n)))
			return NULL;
		if (f->cap)
			memcpy(n, f->items, f->cap * sizeof *n);
		f->items = n;
		f->cap = c;
	}
	return &f->items[i];
}

static int bad(sl__buf *out, const char *fmt, ...) SL__PRINTF(2, 3);
static int bad(sl__buf *out, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sl__err(SL_EINVAL, "%s", msg);
	serve_lit(out, "{\"error\":");
	serve_put_jstr(out, msg, strlen(msg));
	serve_lit(out, "}");
	return 400;
}

static int malformed(const jscan *js, sl__buf *out)
{
	char where[64];

	return bad(out, "malformed JSON at %s: %s", jscan_where(js, where, sizeof where), js->err);
}

static void skip_ws(jscan *js)
{
	while (js->p < js->end && (*js->p == ' ' || *js->p == '\n' || *js->p == '\r' || *js->p == '\t'))
		js->p++;
}

static int parse_body(const char *body, size_t len, serve_arena *a, fb *f, sl__buf *out)
{
	jscan js;
	jval k, v;
	bool first = true, have_ids = false, have_labels = false;
	size_t n_ids = 0, n_labels = 0;
	int r;

	memset(f, 0, sizeof *f);
	jscan_init(&js, body, len);
	if (jscan_value(&js, &v) != J_OBJ)
		return js.err ? malformed(&js, out)
			      : bad(out, "the feedback must be a JSON object with \"request_ids\" "
					 "and \"labels\"");
	while ((r = jscan_key(&js, &first, &k)) > 0) {
		bool ids = jscan_eq(&k, "request_ids"), labels = jscan_eq(&k, "labels");
		bool f2 = true;
		size_t i = 0;
		if (!ids && !labels) {
			if (jscan_skip(&js))
				return malformed(&js, out);
			continue;
		}
		if (jscan_value(&js, &v) != J_ARR)
			return js.err ? malformed(&js, out)
				      : bad(out, "\"%s\" must be an array", ids ? "request_ids" : "labels");
		while ((r = jscan_more(&js, &f2)) > 0) {
			if (i == MAX_IDS)
				return bad(out, "at most %d request ids per feedback", MAX_IDS);
			if (!item(f, i, a))
				return bad(out, "out of memory");
			if (ids) {
				fb_item *it = &f->items[i];
				if (jscan_value(&js, &v) != J_STR)
					return js.err ? malformed(&js, out)
						      : bad(out, "request_ids[%zu] must be a string", i);
				if (v.len < sizeof it->id) {
					size_t n = jscan_unescape(&v, it->id);
					it->id[n] = 0;
					it->valid_id = strlen(it->id) == n;
				}
				if (!it->valid_id) /* reported back as given, cut to fit */
					snprintf(it->id, sizeof it->id, "%.*s",
						 (int)(v.len < sizeof it->id ? v.len : sizeof it->id - 1),
						 v.s);
			} else {
				const char *start;
				skip_ws(&js);
				start = js.p;
				if (jscan_skip(&js))
					return malformed(&js, out);
				f->items[i].label = start;
				f->items[i].label_len = (size_t)(js.p - start);
			}
			i++;
		}
		if (r < 0)
			return malformed(&js, out);
		if (ids) {
			have_ids = true;
			n_ids = i;
		} else {
			have_labels = true;
			n_labels = i;
		}
	}
	if (r < 0 || jscan_end(&js))
		return malformed(&js, out);
	if (!have_ids || !have_labels)
		return bad(out, "the feedback needs \"request_ids\" and \"labels\" (arrays of the same "
				"length)");
	if (n_ids != n_labels)
		return bad(out, "%zu request_ids but %zu labels", n_ids, n_labels);
	if (n_ids && !item(f, n_ids - 1, a))
		return bad(out, "out of memory");
	f->n = n_ids;
	return 0;
}

/* ---- labels ---------------------------------------------------------------------------- */

/*
 * One label value (a scalar) as the number it is compared with: a class
 * index for classifiers (the label as the target's type, or its text), the
 * value otherwise. 0, or -1 with why in msg.
 */
static int label_value(const serve_sig *sig, const jval *v, double *out, char *msg, size_t size)
{
	const ml_signature *ms = &sig->m->sig;

	if (ml_task_is_classifier(sig->task)) {
		char text[DS_F64_BUF + 256];
		size_t n = 0;
		switch (v->t) {
		case J_STR:
			if (v->len >= sizeof text)
				break;
			n = jscan_unescape(v, text);
			break;
		case J_NUM:
			if (ms->target_type == DS_FLOAT64)
				n = ds_format_f64(v->num, text);
			else if (v->num == floor(v->num) && fabs(v->num) < 9e15)
				n = (size_t)snprintf(text, sizeof text, "%lld", (long long)v->num);
			break;
		case J_TRUE:
		case J_FALSE:
			n = (size_t)snprintf(text, sizeof text, "%s", v->t == J_TRUE ? "true" : "false");
			break;
		default:
			break;
		}
		for (size_t c = 0; n && c < ms->n_classes; c++)
			if (strlen(ms->classes[c]) == n && !memcmp(ms->classes[c], text, n)) {
				*out = (double)c;
				return 0;
			}
		snprintf(msg, size, "%s%.*s%s is not a class of the model (classes: %s%s%s%s)",
			 v->t == J_STR ? "'" : "", (int)(v->len > 60 ? 60 : v->len), v->s,
			 v->t == J_STR ? "'" : "", ms->classes[0],
			 ms->n_classes > 1 ? ", " : "", ms->n_classes > 1 ? ms->classes[1] : "",
			 ms->n_classes > 2 ? ", ..." : "");
		return -1;
	}
	if (v->t == J_NUM) {
		*out = v->num;
		return 0;
	}
	if (sig->task == ML_ANOMALY && (v->t == J_TRUE || v->t == J_FALSE)) {
		*out = v->t == J_TRUE;
		return 0;
	}
	snprintf(msg, size, "expected a number");
	return -1;
}

/* Checks item it's label (count rows) and adds each row's outcome to outcomes. */
static int label_outcomes(const serve_sig *sig, const fb_item *it, size_t idx, double *outcomes,
			  size_t *n_out, sl__buf *out)
{
	char msg[512];
	jscan js;
	jval v;
	size_t row = 0;

	jscan_init(&js, it->label, it->label_len);
	if (jscan_value(&js, &v) == J_ARR) {
		bool first = true;
		int r;
		while ((r = jscan_more(&js, &first)) > 0) {
			double y;
			/* null: this row has no label yet (a month not published). */
			if (jscan_value(&js, &v) == J_NULL) {
				row++;
				continue;
			}
			if (label_value(sig, &v, &y, msg, sizeof msg))
				return bad(out, "labels[%zu][%zu]: %s", idx, row, msg);
			if (row < it->n_pred && outcomes) {
				double p = it->pred[row];
				outcomes[(*n_out)++] = ml_task_is_classifier(sig->task) ? (p == y) : fabs(p - y);
			}
			row++;
		}
		if (it->found && row != it->rows)
			return bad(out, "labels[%zu] has %zu labels, request '%s' had %u rows", idx, row,
				   it->id, it->rows);
		return 0;
	}
	if (label_value(sig, &v, &outcomes[*n_out], msg, sizeof msg))
		return bad(out, "labels[%zu]: %s", idx, msg);
	if (it->found && it->rows != 1)
		return bad(out, "labels[%zu]: request '%s' had %u rows: give an array of %u labels",
			   idx, it->id, it->rows, it->rows);
	if (it->n_pred) {
		double y = outcomes[*n_out], p = it->pred[0];
		outcomes[(*n_out)++] = ml_task_is_classifier(sig->task) ? (p == y) : fabs(p - y);
	}
	return 0;
}

/* ---- looking ids up in the log ------------------------------------------------------------ */

typedef struct log_lookup {
	fb *f;
	const char *model;
	const serve_sig *sig;
	size_t missing;
} log_lookup;

static void preds_from_record(log_lookup *lk, json_t *rec, fb_item *it)
{
	const serve_sig *sig = lk->sig;
	json_t *outs = json_object_get(rec, "outputs"), *col = NULL;

	it->rows = (uint32_t)json_integer_value(json_object_get(rec, "rows"));
	if (ml_task_is_classifier(sig->task))
		col = json_object_get(outs, "predict");
	else if (sig->task == ML_ANOMALY)
		col = json_object_get(outs, "anomaly");
	else if (sig->m->sig.n_outputs)
		col = json_object_get(outs, sig->m->sig.outputs[0]);
	for (size_t i = 0; i < 4 && i < json_array_size(col); i++) {
		json_t *e = json_array_get(col, i);
		char msg[256];
		jscan js;
		jval v;
		char *text = sl__json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
		double y;
		if (!text)
			return;
		jscan_init(&js, text, strlen(text));
		if (jscan_value(&js, &v) != J_ERR && label_value(sig, &v, &y, msg, sizeof msg) == 0)
			it->pred[it->n_pred++] = y;
		sl__free(text);
	}
}

static int lookup_line(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	log_lookup *lk = ud;
	const char *q;
	size_t idlen;
	json_t *rec;

	/* Records start with their id: match it before parsing anything. */
	if (strncmp(line, "{\"id\":\"", 7))
		return 0;
	q = strchr(line + 7, '"');
	if (!q)
		return 0;
	idlen = (size_t)(q - line - 7);
	for (size_t i = 0; i < lk->f->n; i++) {
		fb_item *it = &lk->f->items[i];
		if (it->found || !it->valid_id || strlen(it->id) != idlen ||
		    memcmp(it->id, line + 7, idlen))
			continue;
		bool oom = false;
		rec = sl__json_loadb(line, len, 0, NULL, &oom);
		if (oom)
			return sl__oom();
		const char *model = json_string_value(json_object_get(rec, "model"));
		if (rec && ilog_expand(sch, rec) == 0 &&
		    json_integer_value(json_object_get(rec, "status")) == 200 &&
		    json_is_object(json_object_get(rec, "outputs")) && model &&
		    !strcmp(model, lk->model)) {
			it->found = true;
			preds_from_record(lk, rec, it);
			lk->missing--;
		}
		json_decref(rec);
	}
	return lk->missing ? 0 : 1;
}

/* ---- the handler ------------------------------------------------------------------------------ */

static size_t model_index(sl_server *s, serve_model *m)
{
	for (size_t i = 0; i < s->n_models; i++)
		if (s->models[i] == m)
			return i;
	return 0;
}

int serve_feedback(sl_server *s, serve_worker *w, serve_model *m, const char *request_id,
		   const char *body, size_t len, double t0, sl__buf *out, bool *logged)
{
	serve_version *v;
	double *outcomes;
	size_t n_out = 0, accepted = 0, missing = 0, mi = model_index(s, m);
	sl__buf *rec = &w->rec;
	fb f;
	int code, rc;

	*logged = false;
	if ((code = parse_body(body, len, &w->arena, &f, out)))
		return code;
	for (size_t i = 0; i < f.n; i++) {
		fb_item *it = &f.items[i];
		serve_recent e;
		if (it->valid_id && recent_find(s, it->id, &e) && e.model == mi) {
			it->found = true;
			it->rows = e.rows;
			it->n_pred = e.rows < 4 ? e.rows : 4;
			memcpy(it->pred, e.pred, sizeof it->pred);
		} else {
			missing += it->valid_id;
		}
	}
	v = serve_acquire(w, m);
	if (missing && s->log_dir) {
		log_lookup lk = {&f, m->name, &v->sig, missing};
		if ((rc = ilog_scan(s->log_dir, 0, 0, lookup_line, &lk)) < 0) {
			serve_release(w);
			return bad(out, "looking request ids up in the inference log failed: %s",
				   sl_errmsg());
		}
	}
	/* Every label is checked before any is accepted. */
	outcomes = serve_arena_alloc(&w->arena, (f.n * 4 + 1) * sizeof *outcomes);
	if (!outcomes) {
		serve_release(w);
		return bad(out, "out of memory");
	}
	for (size_t i = 0; i < f.n; i++)
		if ((code = label_outcomes(&v->sig, &f.items[i], i, outcomes, &n_out, out))) {
			serve_release(w);
			return code;
		}
	serve_release(w);
	/* The feedback record, durable before the answer (as every request's). */
	sl__buf_reset(rec);
	{
		serve_logrec lr = {.id = request_id, .time_ms = sl__now_ms(), .model = m->name,
				   .endpoint = "feedback", .status = 200};
		bool first = true;
		lr.latency_us = (uint64_t)((sl__mono_sec() - t0) * 1e6);
		rc = serve_log_record(&lr, &w->arena, rec);
		/* Extend the record: drop its closing "}\n". */
		rec->len -= 2;
		serve_lit(rec, ",\"request_ids\":[");
		for (size_t i = 0; i < f.n; i++)
			if (f.items[i].found) {
				if (!first)
					serve_lit(rec, ",");
				first = false;
				serve_put_jstr(rec, f.items[i].id, strlen(f.items[i].id));
			}
		serve_lit(rec, "],\"labels\":[");
		first = true;
		for (size_t i = 0; i < f.n; i++)
			if (f.items[i].found) {
				if (!first)
					serve_lit(rec, ",");
				first = false;
				serve_put(rec, f.items[i].label, f.items[i].label_len);
			}
		serve_lit(rec, "],\"unknown\":[");
		first = true;
		for (size_t i = 0; i < f.n; i++)
			if (!f.items[i].found) {
				if (!first)
					serve_lit(rec, ",");
				first = false;
				serve_put_jstr(rec, f.items[i].id, strlen(f.items[i].id));
			} else {
				accepted++;
			}
		rc = serve_lit(rec, "]}\n");
	}
	if (rc == 0 && s->log) {
		rc = ilog_append(s->log, rec->data, rec->len);
		if (rc < 0) {
			atomic_fetch_add(&s->log_errors, 1);
			sl__buf_reset(out);
			bad(out, "the inference log cannot be written, so the feedback is not accepted: %s",
			    sl_errmsg());
			return 503;
		}
	}
	*logged = true;
	pthread_mutex_lock(&m->live_mu);
	m->feedback_n += accepted;
	for (size_t i = 0; i < n_out; i++) {
		if (m->live_n == SERVE_LIVE_WINDOW)
			m->live_sum -= m->live[m->live_pos];
		else
			m->live_n++;
		m->live[m->live_pos] = outcomes[i];
		m->live_sum += outcomes[i];
		m->live_pos = (m->live_pos + 1) % SERVE_LIVE_WINDOW;
	}
	pthread_mutex_unlock(&m->live_mu);
	sl__buf_reset(out);
	serve_lit(out, "{\"accepted\":");
	serve_put_u64(out, accepted);
	serve_lit(out, ",\"unknown\":[");
	{
		bool first = true;
		for (size_t i = 0; i < f.n; i++)
			if (!f.items[i].found) {
				if (!first)
					serve_lit(out, ",");
				first = false;
				serve_put_jstr(out, f.items[i].id, strlen(f.items[i].id));
			}
	}
	serve_lit(out, "]}");
	return 200;
}
