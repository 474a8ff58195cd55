/*
 * The store's JSON views (store.h): runs, one run with its steps, artifacts,
 * one artifact with its consumers. What the CLI prints and what `--json`
 * users parse, so every field name here is a stable interface: fields are
 * added, never renamed.
 *
 * Views are tables, not code: a view is a list of fields (JSON key, how to
 * convert, which columns), and one row callback (row_view) builds an object
 * from any of them. Rows that belong inside another object -- a step run's
 * inputs, outputs, metrics and metric histories -- are filed under it by a
 * second generic callback (row_file) through an index of step-run id to
 * object. Adding a field is adding a column to a query and a line to a
 * table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* ---- values from columns ------------------------------------------------------------- */

/*
 * A JSON string from stored text. Text that is not valid UTF-8 (a command's
 * error output may be anything) has its offending bytes replaced by '?'
 * rather than failing the whole query.
 */
json_t *st_j_text(const char *s)
{
	json_t *j;
	char *copy;
	size_t n;

	if (!s)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	n = strlen(s);
	if (!(copy = sl__strndup(s, n)))
		return NULL;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)copy[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		size_t k = 1;

		for (; len && k < len && i + k < n; k++)
			if (((unsigned char)copy[i + k] >> 6) != 2)
				break;
		if (len == 0 || k != len) {
			copy[i++] = '?';
			continue;
		}
		i += len;
	}
	j = json_string(copy);
	if (!j) /* overlong forms or surrogates: give up on the text, not the query */
		j = json_string("?");
	sl__free(copy);
	return j;
}

json_t *st_j_str(const sq_val *v)
{
	return v->type == SQ_TEXT ? st_j_text(v->s) : json_null();
}

static json_t *j_int(const sq_val *v)
{
	if (v->type == SQ_INT)
		return json_integer((json_int_t)v->i);
	if (v->type == SQ_REAL)
		return json_integer((json_int_t)v->d);
	return json_null();
}

static json_t *j_real(const sq_val *v)
{
	if (v->type == SQ_REAL)
		return json_real(v->d);
	if (v->type == SQ_INT)
		return json_real((double)v->i);
	return json_null();
}

static json_t *j_time(const sq_val *v)
{
	char buf[40];

	if (v->type != SQ_INT)
		return json_null();
	sl__fmt_time(v->i, buf, sizeof buf);
	return json_string(buf);
}

static json_t *j_duration(const sq_val *start, const sq_val *end)
{
	if (start->type != SQ_INT || end->type != SQ_INT)
		return json_null();
	return json_integer((json_int_t)(end->i - start->i));
}

/* Stored JSON text (params, meta) as a value; unparsable text becomes a string. */
static json_t *j_parsed(const sq_val *v)
{
	json_t *j;

	if (v->type != SQ_TEXT)
		return json_null();
	j = json_loads(v->s, 0, NULL);
	return j ? j : st_j_text(v->s);
}

int st_jset(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) != 0;
}

int st_nomem_json(void)
{
	return sl__err(SL_ENOMEM, "out of memory building JSON");
}

/* ---- views --------------------------------------------------------------------------- */

typedef enum jv_kind {
	JV_STR,      /* text, or null */
	JV_INT,      /* integer, or null */
	JV_REAL,     /* number, or null */
	JV_BOOL,     /* true when the integer column is non-zero */
	JV_TIME,     /* ms since the epoch as ISO 8601 text, or null */
	JV_DURATION, /* col2 - col in ms, or null when either is missing */
	JV_JSON,     /* stored JSON text as a value, or null */
	JV_JSON_OBJ, /* stored JSON text as a value, {} when NULL */
	JV_ARRAY,    /* an empty array for later rows to fill */
	JV_OBJECT,   /* an empty object for later rows to fill */
	JV_NESTED    /* an object of `sub` fields when column col is not NULL, else null */
} jv_kind;

typedef struct jv_field {
	const char *key; /* NULL ends a list */
	jv_kind kind;
	int col, col2;
	const struct jv_field *sub;
} jv_field;

static json_t *jv_build(const jv_field *f, int ncol, const sq_val *c);

static json_t *jv_value(const jv_field *f, int ncol, const sq_val *c)
{
	/* A column past the row's end reads as NULL: a view may outlive its query. */
	static const sq_val null_val = {.type = SQ_NULL};
	const sq_val *v = f->col < ncol ? &c[f->col] : &null_val;
	const sq_val *v2 = f->col2 < ncol ? &c[f->col2] : &null_val;

	switch (f->kind) {
	case JV_STR:
		return st_j_str(v);
	case JV_INT:
		return j_int(v);
	case JV_REAL:
		return j_real(v);
	case JV_BOOL:
		return json_boolean(v->type == SQ_INT && v->i != 0);
	case JV_TIME:
		return j_time(v);
	case JV_DURATION:
		return j_duration(v, v2);
	case JV_JSON:
		return j_parsed(v);
	case JV_JSON_OBJ:
		return v->type == SQ_TEXT ? j_parsed(v) : json_object();
	case JV_ARRAY:
		return json_array();
	case JV_OBJECT:
		return json_object();
	case JV_NESTED:
		return v->type == SQ_NULL ? json_null() : jv_build(f->sub, ncol, c);
	}
	return NULL;
}

/* One object from a row, or NULL when out of memory. */
static json_t *jv_build(const jv_field *fields, int ncol, const sq_val *c)
{
	json_t *o = json_object();

	for (const jv_field *f = fields; o && f->key; f++) {
		json_t *v = jv_value(f, ncol, c);
		if (!v || st_jset(o, f->key, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

typedef struct jv_ctx {
	const jv_field *fields;
	json_t *arr;    /* rows are appended here, or */
	json_t *obj;    /* the first row lands here */
	json_t *index;  /* when non-NULL: column index_col's text -> the row's object */
	int index_col;
	/*
	 * Rows whose column dedup_col equals a sibling's are dropped (a lineage
	 * node reached through several step runs is one node); -1: keep all.
	 */
	int dedup_col;
} jv_ctx;

static bool seen_sibling(const jv_ctx *x, const char *key, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(x->arr, i, v)
	{
		const char *s = json_string_value(json_object_get(v, key));
		if (s && strcmp(s, id) == 0)
			return true;
	}
	return false;
}

static int row_view(void *ud, int ncol, const sq_val *c)
{
	jv_ctx *x = ud;
	json_t *o;

	if (x->dedup_col >= 0 && x->arr) {
		if (x->dedup_col >= ncol || c[x->dedup_col].type != SQ_TEXT)
			return 0;
		if (seen_sibling(x, x->fields[0].key, c[x->dedup_col].s))
			return 0;
	}
	if (!x->arr && x->obj)
		return 0; /* a single-row view keeps its first row */
	if (!(o = jv_build(x->fields, ncol, c)))
		return st_nomem_json();
	if (x->index && x->index_col < ncol && c[x->index_col].type == SQ_TEXT &&
	    json_object_set(x->index, c[x->index_col].s, o) != 0) {
		json_decref(o);
		return st_nomem_json();
	}
	if (x->arr) {
		if (json_array_append_new(x->arr, o) != 0)
			return st_nomem_json();
	} else {
		x->obj = o;
	}
	return 0;
}

/*
 * Rows (owner id, [direction,] key, value) filed into the owner's member
 * object `field`: value is set under key, or, with append, added to the
 * array under key (metric histories, ordered by step).
 */
typedef struct jv_file {
	json_t *index;     /* owner id -> object */
	const char *field; /* NULL: column 1 says ("in" -> inputs, else outputs) */
	jv_kind kind;      /* of the value column */
	bool append;
} jv_file;

static int row_file(void *ud, int ncol, const sq_val *c)
{
	jv_file *f = ud;
	const char *field = f->field;
	json_t *owner, *dst, *v, *arr;
	const jv_field vf = {"", f->kind, ncol - 1, 0, NULL};

	if (ncol < 3 || c[0].type != SQ_TEXT || c[ncol - 2].type != SQ_TEXT ||
	    !(owner = json_object_get(f->index, c[0].s)))
		return 0;
	if (!field)
		field = (c[1].type == SQ_TEXT && strcmp(c[1].s, "in") == 0) ? "inputs" : "outputs";
	if (!(dst = json_object_get(owner, field)))
		return 0;
	if (!(v = jv_value(&vf, ncol, c)))
		return st_nomem_json();
	if (!f->append)
		return st_jset(dst, c[ncol - 2].s, v) ? st_nomem_json() : 0;
	arr = json_object_get(dst, c[ncol - 2].s);
	if (!arr) {
		if (!(arr = json_array()) || st_jset(dst, c[ncol - 2].s, arr)) {
			json_decref(v);
			return st_nomem_json();
		}
	}
	return json_array_append_new(arr, v) ? st_nomem_json() : 0;
}

static int tags_into(store *s, const char *entity, const char *id, json_t *dst)
{
	jv_file f = {.field = "tags", .kind = JV_STR};
	json_t *holder = json_pack("{s:O}", "tags", dst);
	json_t *index = json_object();
	sq_val p[] = {S(id), S(entity), S(id)};
	int rc;

	/* Filed like a step's metrics, under a one-entry index. */
	if (!holder || !index || json_object_set(index, id, holder)) {
		json_decref(holder);
		json_decref(index);
		return st_nomem_json();
	}
	f.index = index;
	rc = Q(s, "SELECT ?, tag, value FROM tags WHERE entity = ? AND entity_id = ? ORDER BY tag",
	       p, row_file, &f);
	json_decref(holder);
	json_decref(index);
	return rc;
}

/* ---- runs ---------------------------------------------------------------------------- */

static const jv_field runs_view[] = {
	{"run", JV_STR, 0, 0, NULL},
	{"pipeline", JV_STR, 1, 0, NULL},
	{"status", JV_STR, 2, 0, NULL},
	{"started", JV_TIME, 3, 0, NULL},
	{"ended", JV_TIME, 4, 0, NULL},
	{"duration_ms", JV_DURATION, 3, 4, NULL},
	{"steps", JV_INT, 5, 0, NULL},
	{"cached", JV_INT, 6, 0, NULL},
	{"failed", JV_INT, 7, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

int store_runs_json(store *s, int limit, json_t **out)
{
	jv_ctx x = {.fields = runs_view, .dedup_col = -1};
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_runs_json: invalid argument");
	*out = NULL;
	if (!(x.arr = json_array()))
		return st_nomem_json();
	{
		sq_val p[] = {SQ_I(limit > 0 ? limit : INT64_MAX)};
		st_lock(s);
		rc = Q(s,
		       "SELECT r.id, r.pipeline, r.status, r.started_ms, r.ended_ms, "
		       "COUNT(sr.id), "
		       "COALESCE(SUM(CASE WHEN sr.status = 'cached' OR sr.cache_hit <> 0 "
		       "THEN 1 ELSE 0 END), 0), "
		       "COALESCE(SUM(CASE WHEN sr.status = 'failed' THEN 1 ELSE 0 END), 0) "
		       "FROM (SELECT id, pipeline, status, started_ms, ended_ms, seq FROM runs "
		       "ORDER BY started_ms DESC, seq DESC LIMIT ?) r "
		       "LEFT JOIN step_runs sr ON sr.run_id = r.id "
		       "GROUP BY r.id, r.pipeline, r.status, r.started_ms, r.ended_ms, r.seq "
		       "ORDER BY r.started_ms DESC, r.seq DESC",
		       p, row_view, &x);
		st_unlock(s);
	}
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return 0;
}

static const jv_field run_view[] = {
	{"run", JV_STR, 0, 0, NULL},
	{"pipeline", JV_STR, 1, 0, NULL},
	{"file", JV_STR, 2, 0, NULL},
	{"status", JV_STR, 3, 0, NULL},
	{"started", JV_TIME, 4, 0, NULL},
	{"ended", JV_TIME, 5, 0, NULL},
	{"duration_ms", JV_DURATION, 4, 5, NULL},
	{"params", JV_JSON_OBJ, 6, 0, NULL},
	{"orchestrator", JV_STR, 7, 0, NULL},
	{"pid", JV_INT, 8, 0, NULL},
	{"host", JV_STR, 9, 0, NULL},
	{"steps", JV_ARRAY, 0, 0, NULL},
	{"tags", JV_OBJECT, 0, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

static const jv_field step_view[] = {
	{"name", JV_STR, 1, 0, NULL},
	{"step_run", JV_STR, 0, 0, NULL},
	{"kind", JV_STR, 2, 0, NULL},
	{"status", JV_STR, 3, 0, NULL},
	{"reason", JV_STR, 12, 0, NULL},
	{"cache_hit", JV_BOOL, 4, 0, NULL},
	{"cached_from", JV_STR, 5, 0, NULL},
	{"cached_from_run", JV_STR, 15, 0, NULL},
	{"exit_code", JV_INT, 6, 0, NULL},
	{"started", JV_TIME, 7, 0, NULL},
	{"ended", JV_TIME, 8, 0, NULL},
	{"duration_ms", JV_DURATION, 7, 8, NULL},
	{"cache_key", JV_STR, 9, 0, NULL},
	{"log", JV_STR, 10, 0, NULL},
	{"error", JV_STR, 11, 0, NULL},
	{"job_id", JV_STR, 13, 0, NULL},
	{"resources", JV_JSON, 14, 0, NULL},
	{"inputs", JV_OBJECT, 0, 0, NULL},
	{"outputs", JV_OBJECT, 0, 0, NULL},
	{"metrics", JV_OBJECT, 0, 0, NULL},
	{"series", JV_OBJECT, 0, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

/*
 * A cached step shows the metrics of the step run that computed its outputs
 * (cached_from), filed under the cached step run's id.
 */
#define METRIC_OWNER_SQL                                                                   \
	"FROM step_runs sr JOIN %s m ON m.step_run = COALESCE(sr.cached_from, sr.id) " \
	"WHERE sr.run_id = ? "

static int run_json_locked(store *s, const char *run_ref, json_t **out)
{
	char id[STORE_ID_SIZE];
	jv_ctx run = {.fields = run_view, .dedup_col = -1};
	jv_ctx steps = {.fields = step_view, .index_col = 0, .dedup_col = -1};
	jv_file edges = {.kind = JV_STR};
	jv_file metrics = {.field = "metrics", .kind = JV_REAL};
	jv_file series = {.field = "series", .kind = JV_REAL, .append = true};
	int rc = st_run_resolve(s, run_ref, id);
	sq_val p[] = {S(id)};

	if (rc)
		return rc;
	if (!(steps.index = json_object()))
		return st_nomem_json();
	rc = st_begin(s, false);
	if (rc == 0) {
		rc = Q(s,
		       "SELECT id, pipeline, file, status, started_ms, ended_ms, params, "
		       "orchestrator, pid, host FROM runs WHERE id = ?",
		       p, row_view, &run);
		if (rc == 0 && !run.obj)
			rc = sl__err(SL_ENOENT, "no run with id '%s'", id);
	}
	if (rc == 0) {
		steps.arr = json_object_get(run.obj, "steps");
		rc = Q(s,
		       "SELECT sr.id, sr.step, sr.kind, sr.status, sr.cache_hit, sr.cached_from, "
		       "sr.exit_code, sr.started_ms, sr.ended_ms, sr.cache_key, sr.log_path, "
		       "sr.error, sr.reason, sr.job_id, sr.resources, o.run_id FROM step_runs sr "
		       "LEFT JOIN step_runs o ON o.id = sr.cached_from "
		       "WHERE sr.run_id = ? ORDER BY sr.seq",
		       p, row_view, &steps);
	}
	if (rc == 0) {
		edges.index = steps.index;
		/* Ordered as the indexes deliver rows: only the last keys get sorted. */
		rc = Q(s,
		       "SELECT e.step_run, e.direction, e.name, e.artifact FROM step_runs sr "
		       "JOIN edges e ON e.step_run = sr.id WHERE sr.run_id = ? "
		       "ORDER BY sr.seq, e.direction, e.name",
		       p, row_file, &edges);
	}
	if (rc == 0) {
		char sql[512];
		snprintf(sql, sizeof sql, "SELECT sr.id, m.name, m.value " METRIC_OWNER_SQL
			 "ORDER BY sr.seq, m.name", "metrics");
		metrics.index = steps.index;
		rc = Q(s, sql, p, row_file, &metrics);
	}
	if (rc == 0) {
		char sql[512];
		snprintf(sql, sizeof sql, "SELECT sr.id, m.name, m.value " METRIC_OWNER_SQL
			 "ORDER BY sr.seq, m.name, m.step", "metric_history");
		series.index = steps.index;
		rc = Q(s, sql, p, row_file, &series);
	}
	if (rc == 0)
		rc = tags_into(s, "run", id, json_object_get(run.obj, "tags"));
	rc = st_end(s, rc);
	json_decref(steps.index);
	if (rc) {
		json_decref(run.obj);
		return rc;
	}
	*out = run.obj;
	return 0;
}

/* run_id may be a full id, a unique prefix or "latest". */
int store_run_json(store *s, const char *run_id, json_t **out)
{
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_run_json: invalid argument");
	*out = NULL;
	st_lock(s);
	rc = run_json_locked(s, run_id, out);
	st_unlock(s);
	return rc;
}

/* ---- artifacts ----------------------------------------------------------------------- */

static const jv_field producer_short[] = {
	{"run", JV_STR, 5, 0, NULL},
	{"step", JV_STR, 6, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

static const jv_field producer_long[] = {
	{"run", JV_STR, 5, 0, NULL},
	{"step", JV_STR, 6, 0, NULL},
	{"step_run", JV_STR, 7, 0, NULL},
	{"output", JV_STR, 8, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

/* Columns: id, type, size, created_ms, meta, run, step[, step_run, output]. */
static const jv_field artifacts_view[] = {
	{"id", JV_STR, 0, 0, NULL},
	{"type", JV_STR, 1, 0, NULL},
	{"size", JV_INT, 2, 0, NULL},
	{"created", JV_TIME, 3, 0, NULL},
	{"producer", JV_NESTED, 5, 0, producer_short},
	{"meta", JV_JSON, 4, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

static const jv_field artifact_view[] = {
	{"id", JV_STR, 0, 0, NULL},
	{"type", JV_STR, 1, 0, NULL},
	{"size", JV_INT, 2, 0, NULL},
	{"created", JV_TIME, 3, 0, NULL},
	{"producer", JV_NESTED, 5, 0, producer_long},
	{"meta", JV_JSON, 4, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

static const jv_field consumer_view[] = {
	{"run", JV_STR, 0, 0, NULL},
	{"step", JV_STR, 1, 0, NULL},
	{"step_run", JV_STR, 2, 0, NULL},
	{"input", JV_STR, 3, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

int store_artifacts_json(store *s, int limit, const char *type, json_t **out)
{
	jv_ctx x = {.fields = artifacts_view, .dedup_col = -1};
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_artifacts_json: invalid argument");
	*out = NULL;
	if (!(x.arr = json_array()))
		return st_nomem_json();
	st_lock(s);
	if (type) {
		sq_val p[] = {S(type), SQ_I(limit > 0 ? limit : INT64_MAX)};
		rc = Q(s,
		       "SELECT a.id, a.type, a.size, a.created_ms, a.meta, p.run_id, p.step "
		       "FROM artifacts a LEFT JOIN step_runs p ON p.id = a.producer "
		       "WHERE a.type = ? ORDER BY a.created_ms DESC, a.id LIMIT ?",
		       p, row_view, &x);
	} else {
		sq_val p[] = {SQ_I(limit > 0 ? limit : INT64_MAX)};
		rc = Q(s,
		       "SELECT a.id, a.type, a.size, a.created_ms, a.meta, p.run_id, p.step "
		       "FROM artifacts a LEFT JOIN step_runs p ON p.id = a.producer "
		       "ORDER BY a.created_ms DESC, a.id LIMIT ?",
		       p, row_view, &x);
	}
	st_unlock(s);
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return 0;
}

int st_artifact_row(store *s, const char *id, json_t **out)
{
	jv_ctx x = {.fields = artifact_view, .dedup_col = -1};
	sq_val p[] = {S(id)};
	int rc = Q(s,
		   "SELECT a.id, a.type, a.size, a.created_ms, a.meta, p.run_id, p.step, p.id, "
		   "e.name FROM artifacts a LEFT JOIN step_runs p ON p.id = a.producer "
		   "LEFT JOIN edges e ON e.step_run = a.producer AND e.artifact = a.id "
		   "AND e.direction = 'out' WHERE a.id = ?",
		   p, row_view, &x);

	if (rc == 0 && !x.obj)
		rc = sl__err(SL_ENOENT, "no artifact with id %s", id);
	if (rc) {
		json_decref(x.obj);
		return rc;
	}
	*out = x.obj;
	return 0;
}

int store_artifact_json(store *s, const char *artifact_id, json_t **out)
{
	char id[SL__HASH_HEX_SIZE];
	jv_ctx cons = {.fields = consumer_view, .dedup_col = -1};
	json_t *a = NULL;
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_artifact_json: invalid argument");
	*out = NULL;
	st_lock(s);
	rc = st_artifact_id_arg(s, artifact_id, id);
	if (rc) {
		st_unlock(s);
		return rc;
	}
	rc = st_begin(s, false);
	if (rc == 0)
		rc = st_artifact_row(s, id, &a);
	if (rc == 0) {
		sq_val p[] = {S(id)};
		int bad = st_jset(a, "consumers", json_array());
		bad |= st_jset(a, "tags", json_object());
		cons.arr = json_object_get(a, "consumers");
		rc = bad ? st_nomem_json()
			 : Q(s,
			     "SELECT c.run_id, c.step, c.id, e.name FROM edges e "
			     "JOIN step_runs c ON c.id = e.step_run "
			     "WHERE e.artifact = ? AND e.direction = 'in' ORDER BY c.started_ms, c.seq",
			     p, row_view, &cons);
	}
	if (rc == 0)
		rc = tags_into(s, "artifact", id, json_object_get(a, "tags"));
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc) {
		json_decref(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* ---- lineage nodes ------------------------------------------------------------------- */

/* Columns: artifact, edge name, type, step_run, step, run. */
static const jv_field lineage_up_view[] = {
	{"id", JV_STR, 0, 0, NULL},
	{"type", JV_STR, 2, 0, NULL},
	{"step", JV_STR, 4, 0, NULL},
	{"run", JV_STR, 5, 0, NULL},
	{"step_run", JV_STR, 3, 0, NULL},
	{"input", JV_STR, 1, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

static const jv_field lineage_down_view[] = {
	{"id", JV_STR, 0, 0, NULL},
	{"type", JV_STR, 2, 0, NULL},
	{"step", JV_STR, 4, 0, NULL},
	{"run", JV_STR, 5, 0, NULL},
	{"step_run", JV_STR, 3, 0, NULL},
	{"output", JV_STR, 1, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

int st_lineage_rows(store *s, bool up, const char *key, json_t *arr)
{
	/* One node per artifact among siblings, however many step runs lead to it. */
	jv_ctx x = {.fields = up ? lineage_up_view : lineage_down_view, .arr = arr, .dedup_col = 0};
	sq_val p[] = {S(key)};

	if (up)
		return Q(s,
			 "SELECT e.artifact, e.name, a.type, p.id, p.step, p.run_id FROM edges e "
			 "JOIN artifacts a ON a.id = e.artifact "
			 "LEFT JOIN step_runs p ON p.id = a.producer "
			 "WHERE e.step_run = ? AND e.direction = 'in' ORDER BY e.name",
			 p, row_view, &x);
	return Q(s,
		 "SELECT o.artifact, o.name, a.type, c.id, c.step, c.run_id FROM edges i "
		 "JOIN step_runs c ON c.id = i.step_run "
		 "JOIN edges o ON o.step_run = i.step_run AND o.direction = 'out' "
		 "JOIN artifacts a ON a.id = o.artifact "
		 "WHERE i.artifact = ? AND i.direction = 'in' "
		 "ORDER BY c.started_ms, c.seq, o.name",
		 p, row_view, &x);
}
