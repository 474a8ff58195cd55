/*
 * The inference log read back (logtable.h): records filtered for
 * `sluice logs query`, and the log as a table - one row per scored input
 * row, joined with the labels feedback gave - for `sluice logs export` and
 * the `ingest.log` step.
 *
 * The table goes through the dataset's JSON Lines reader: each scored row
 * becomes one flat JSON object (metadata, the request's inputs as they
 * arrived, the outputs, the label), so column types are inferred exactly
 * as for any JSONL file and the result is an ordinary dataset. Two scans of
 * the log: the first collects the feedback labels (small), the second
 * emits the rows with their labels.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "serve/logtable.h"
#include "serve/log.h"


int serve_logq_from(const sl_logs_filter *f, const char *opt, serve_logq *q)
{
	memset(q, 0, sizeof *q);
	q->model = f->model;
	q->version = f->version;
	q->id = f->id;
	q->endpoint = f->endpoint;
	q->limit = f->limit;
	if (f->since && !ds_parse_timestamp(f->since, strlen(f->since), &q->since_ms))
		return sl__err(SL_EINVAL, "%ssince '%s' is not an ISO 8601 time (2026-11-30 or "
					  "2026-11-30T12:00:00Z)",
			       opt, f->since);
	if (f->until && !ds_parse_timestamp(f->until, strlen(f->until), &q->until_ms))
		return sl__err(SL_EINVAL, "%suntil '%s' is not an ISO 8601 time", opt, f->until);
	/* Microseconds from the parser, milliseconds in the log. */
	q->since_ms /= 1000;
	q->until_ms /= 1000;
	if (f->status) {
		const char *s = f->status;
		if (!strcmp(s, "error")) {
			q->status_kind = 3;
		} else if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && s[1] == 'x' && s[2] == 'x') {
			q->status_kind = 2;
			q->status = s[0] - '0';
		} else {
			int64_t v;
			if (!sl__parse_i64(s, &v) || v < 100 || v > 599)
				return sl__err(SL_EINVAL, "%sstatus '%s': give a code (200), a class (4xx) "
							  "or 'error'",
					       opt, s);
			q->status_kind = 1;
			q->status = (int)v;
		}
	}
	return 0;
}

/* The record's time in ms since the epoch, or -1. */
static int64_t rec_time(json_t *rec)
{
	const char *t = json_string_value(json_object_get(rec, "time"));
	int64_t us;

	if (!t || !ds_parse_timestamp(t, strlen(t), &us))
		return -1;
	return us / 1000;
}

bool serve_logq_match(const serve_logq *q, json_t *rec)
{
	const char *s;
	int status = (int)json_integer_value(json_object_get(rec, "status"));
	int64_t t;

	if (q->model && (!(s = json_string_value(json_object_get(rec, "model"))) || strcmp(s, q->model)))
		return false;
	if (q->version &&
	    (!(s = json_string_value(json_object_get(rec, "version"))) || strcmp(s, q->version)))
		return false;
	if (q->id && (!(s = json_string_value(json_object_get(rec, "id"))) || strcmp(s, q->id)))
		return false;
	if (q->endpoint &&
	    (!(s = json_string_value(json_object_get(rec, "endpoint"))) || strcmp(s, q->endpoint)))
		return false;
	if (q->status_kind == 1 && status != q->status)
		return false;
	if (q->status_kind == 2 && status / 100 != q->status)
		return false;
	if (q->status_kind == 3 && status < 300)
		return false;
	if (q->since_ms || q->until_ms) {
		t = rec_time(rec);
		if (t < 0 || (q->since_ms && t < q->since_ms) || (q->until_ms && t > q->until_ms))
			return false;
	}
	return true;
}

/* Cheap tests on the text before parsing: most lines of a big log fail them. */
static bool may_match(const serve_logq *q, const char *line)
{
	char pat[128];

	if (q->model) {
		snprintf(pat, sizeof pat, "\"model\":\"%s\"", q->model);
		if (!strstr(line, pat))
			return false;
	}
	if (q->id) {
		snprintf(pat, sizeof pat, "{\"id\":\"%s\"", q->id);
		if (strncmp(line, pat, strlen(pat)))
			return false;
	}
	return true;
}

/* ---- query ------------------------------------------------------------------------------ */

typedef struct query_ctx {
	const serve_logq *q;
	json_t **ring;   /* the newest `limit` matches when limited */
	size_t n, pos;
	json_t *all;     /* every match when not */
} query_ctx;

static int query_line(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	query_ctx *c = ud;
	bool oom = false;
	json_t *rec;

	if (!may_match(c->q, line))
		return 0;
	rec = sl__json_loadb(line, len, 0, NULL, &oom);
	if (!rec)
		return oom ? sl__oom() : 0; /* a damaged line is no query result */
	if (!serve_logq_match(c->q, rec)) {
		json_decref(rec);
		return 0;
	}
	/* A record whose schema is missing is shown as written, rows and all. */
	ilog_expand(sch, rec);
	if (!c->q->limit)
		return json_array_append_new(c->all, rec) ? sl__oom() : 0;
	json_decref(c->ring[c->pos]);
	c->ring[c->pos] = rec;
	c->pos = (c->pos + 1) % c->q->limit;
	if (c->n < c->q->limit)
		c->n++;
	return 0;
}

int serve_logs_query(const char *dir, const serve_logq *q, json_t **out)
{
	query_ctx c = {.q = q};
	int rc;

	*out = NULL;
	if (!(c.all = json_array()))
		return sl__oom();
	if (q->limit && !(c.ring = sl__calloc(q->limit, sizeof *c.ring))) {
		json_decref(c.all);
		return sl__oom();
	}
	rc = ilog_scan(dir, q->since_ms, q->until_ms, query_line, &c);
	if (q->limit) {
		size_t start = c.n < q->limit ? 0 : c.pos;
		for (size_t i = 0; i < c.n; i++) {
			json_t *r = c.ring[(start + i) % q->limit];
			c.ring[(start + i) % q->limit] = NULL;
			if (rc == 0 && json_array_append_new(c.all, r))
				rc = sl__oom();
		}
		for (size_t i = 0; i < q->limit; i++)
			json_decref(c.ring[i]);
		sl__free(c.ring);
	}
	if (rc < 0) {
		json_decref(c.all);
		return rc;
	}
	*out = c.all;
	return 0;
}

/* ---- the table ---------------------------------------------------------------------------- */

typedef struct table_ctx {
	const serve_logq *q;
	serve_table_kind kind;
	bool labeled_only;
	json_t *labels;  /* request id -> label (a value, or an array per row) */
	sl__buf rows;    /* the flattened JSON Lines */
	size_t n_rows;
	int err;
} table_ctx;

static int label_line(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	table_ctx *c = ud;
	json_t *rec, *ids, *labels;
	const char *model;
	bool oom = false;

	(void)sch;
	if (!strstr(line, "\"endpoint\":\"feedback\"") || !may_match(&(serve_logq){.model = c->q->model}, line))
		return 0;
	rec = sl__json_loadb(line, len, 0, NULL, &oom);
	if (!rec)
		return oom ? sl__oom() : 0;
	model = json_string_value(json_object_get(rec, "model"));
	ids = json_object_get(rec, "request_ids");
	labels = json_object_get(rec, "labels");
	if (model && !strcmp(model, c->q->model) && json_array_size(ids) == json_array_size(labels))
		for (size_t i = 0; i < json_array_size(ids); i++) {
			const char *id = json_string_value(json_array_get(ids, i));
			/* A later label for the same request corrects an earlier one. */
			if (id && json_object_set(c->labels, id, json_array_get(labels, i))) {
				json_decref(rec);
				return sl__oom();
			}
		}
	json_decref(rec);
	return 0;
}

/* "key": value, into the row being built. */
static int put_kv(sl__buf *b, const char *key, json_t *v, bool *first)
{
	char *text = sl__json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
	int rc = 0;

	if (!text)
		return sl__oom();
	if (!*first)
		rc = serve_lit(b, ",");
	*first = false;
	if (!rc)
		rc = serve_put_jstr(b, key, strlen(key));
	if (!rc)
		rc = serve_lit(b, ":");
	if (!rc)
		rc = serve_puts(b, text);
	sl__free(text);
	return rc;
}

/* The prediction column of a training table: the label for classifiers, else the first output. */
static json_t *prediction_of(json_t *outs)
{
	json_t *p = json_object_get(outs, "predict");
	const char *k;
	json_t *v;

	if (p)
		return p;
	json_object_foreach(outs, k, v)
		return v;
	return NULL;
}

static int row_line(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	table_ctx *c = ud;
	bool oom = false;
	json_t *rec, *ins, *outs, *label, *pred = NULL;
	size_t rows;
	const char *id, *k;
	json_t *v;
	int rc = 0;

	if (!may_match(c->q, line) || strstr(line, "\"endpoint\":\"feedback\""))
		return 0;
	rec = sl__json_loadb(line, len, 0, NULL, &oom);
	if (!rec)
		return oom ? sl__oom() : 0;
	if (ilog_expand(sch, rec)) {
		json_decref(rec);
		c->err = SL_ECORRUPT;
		return SL_ECORRUPT;
	}
	ins = json_object_get(rec, "inputs");
	outs = json_object_get(rec, "outputs");
	id = json_string_value(json_object_get(rec, "id"));
	if (!serve_logq_match(c->q, rec) || !json_is_object(ins) || !json_is_object(outs) || !id ||
	    json_integer_value(json_object_get(rec, "status")) != 200) {
		json_decref(rec);
		return 0;
	}
	rows = (size_t)json_integer_value(json_object_get(rec, "rows"));
	label = json_object_get(c->labels, id);
	if (c->labeled_only && !label) {
		json_decref(rec);
		return 0;
	}
	if (c->kind == SERVE_TABLE_TRAIN)
		pred = prediction_of(outs);
	for (size_t i = 0; i < rows && rc == 0; i++) {
		json_t *lab = json_is_array(label) ? json_array_get(label, i) : i == 0 ? label : NULL;
		json_t *rowv = json_integer((json_int_t)i);
		bool first = true;
		rc = serve_lit(&c->rows, "{");
		if (!rc)
			rc = put_kv(&c->rows, "request_id", json_object_get(rec, "id"), &first);
		if (!rc)
			rc = put_kv(&c->rows, "time", json_object_get(rec, "time"), &first);
		if (!rc)
			rc = put_kv(&c->rows, "version", json_object_get(rec, "version"), &first);
		if (!rc)
			rc = put_kv(&c->rows, "row", rowv, &first);
		if (!rc && c->kind == SERVE_TABLE_EXPORT) {
			rc = put_kv(&c->rows, "endpoint", json_object_get(rec, "endpoint"), &first);
			if (!rc)
				rc = put_kv(&c->rows, "latency_us", json_object_get(rec, "latency_us"), &first);
		}
		json_decref(rowv);
		json_object_foreach(ins, k, v) {
			if (rc)
				break;
			if (!strcmp(k, "request_id") || !strcmp(k, "time") || !strcmp(k, "version") ||
			    !strcmp(k, "row") || !strcmp(k, "label") || !strcmp(k, "prediction")) {
				/* A bundle's training target the request left out (it
				 * decides nothing, so the server logs it as null) is not
				 * an input: the feedback's label takes its place. */
				if (json_is_null(json_array_get(v, i)))
					continue;
				c->err = sl__err(SL_EINVAL,
						 "the model has an input named '%s', which the log's table "
						 "uses for itself",
						 k);
				rc = c->err;
				break;
			}
			rc = put_kv(&c->rows, k, json_array_get(v, i), &first);
		}
		if (c->kind == SERVE_TABLE_EXPORT) {
			json_object_foreach(outs, k, v) {
				if (rc)
					break;
				if (json_object_get(ins, k))
					continue; /* an input's name wins */
				rc = put_kv(&c->rows, k, json_array_get(v, i), &first);
			}
		} else if (!rc && pred) {
			rc = put_kv(&c->rows, "prediction", json_array_get(pred, i), &first);
		}
		if (!rc && (lab || c->kind == SERVE_TABLE_TRAIN))
			rc = put_kv(&c->rows, "label", lab ? lab : json_null(), &first);
		if (!rc)
			rc = serve_lit(&c->rows, "}\n");
		c->n_rows++;
	}
	json_decref(rec);
	return rc;
}

int serve_log_table(const char *dir, const serve_logq *q, serve_table_kind kind,
		    bool labeled_only, ds_builder **out, size_t *out_rows)
{
	static const char *const meta[] = {"request_id", "time", "version", "row"};
	static const ds_type meta_t[] = {DS_STRING, DS_TIMESTAMP, DS_STRING, DS_INT64};
	table_ctx c = {.q = q, .kind = kind, .labeled_only = labeled_only};
	ds_ingest_opts o;
	ds_ingest_stats st;
	ds_source src;
	int rc;

	*out = NULL;
	*out_rows = 0;
	if (!q->model)
		return sl__err(SL_EINVAL, "the log's table is per model: name one");
	if (!(c.labels = json_object()))
		return sl__oom();
	sl__buf_init(&c.rows, 0);
	rc = ilog_scan(dir, 0, 0, label_line, &c);
	if (rc == 0)
		rc = ilog_scan(dir, q->since_ms, q->until_ms, row_line, &c);
	if (rc == 0 && c.n_rows == 0)
		rc = sl__err(SL_ENOENT, "the inference log in %s has no %srequests answered by "
					"model '%s'%s",
			     dir, labeled_only ? "labelled " : "", q->model,
			     q->since_ms || q->until_ms || q->version ? " that match" : "");
	if (rc == 0) {
		memset(&o, 0, sizeof o);
		o.type_cols = meta;
		o.types = meta_t;
		o.n_types = 4;
		o.threads = 1;
		src = (ds_source){.name = "inference log", .data = c.rows.data, .len = c.rows.len};
		rc = ds_jsonl_read_sources(&src, 1, &o, out, &st);
		*out_rows = c.n_rows;
	}
	json_decref(c.labels);
	sl__buf_free(&c.rows);
	return rc;
}
