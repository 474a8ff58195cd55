/*
 * The store's JSON views (store.h): runs, one run with its steps, artifacts,
 * one artifact with its consumers. What the CLI prints and what `--json`
 * users parse, so every field name here is a stable interface: fields are
 * added, never renamed.
 *
 * Views are tables, not code: a view is a list of fields (JSON key, how to
 * convert, which columns), and one row callback (st_row_view) builds an object
 * from any of them; adding a field is adding a column to a query and a line
 * to a table. The steps of a run are the exception, because a run may have
 * tens of thousands: they arrive as one ordered stream of rows, gathered one
 * step at a time into an sl_step_view (store_run_steps), which the JSON view
 * turns into objects (step_json) and listings read directly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* ---- values from columns ------------------------------------------------------------- */

/*
 * A JSON string from stored text. Text that is not valid UTF-8 (a command's
 * error output may be anything) has its offending bytes replaced by '?'
 * (sl__utf8_clean, which the PostgreSQL driver applies before storing, so
 * both backends show the same text) rather than failing the whole query.
 */
json_t *st_j_text(const char *s)
{
	json_t *j;
	char *clean = NULL;

	if (!s)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	if (sl__utf8_clean(s, &clean) != 0)
		return NULL;
	j = json_string(clean ? clean : s);
	sl__free(clean);
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

json_t *st_j_time(const sq_val *v)
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
		return st_j_time(v);
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
		return v->type == SQ_NULL ? json_null() : st_jv_build(f->sub, ncol, c);
	}
	return NULL;
}

json_t *st_jv_build(const jv_field *fields, int ncol, const sq_val *c)
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

int st_row_view(void *ud, int ncol, const sq_val *c)
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
	if (!(o = st_jv_build(x->fields, ncol, c)))
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

/* Rows (tag, value) into the object ud. */
static int row_tag(void *ud, int ncol, const sq_val *c)
{
	json_t *v;

	if (ncol < 2 || c[0].type != SQ_TEXT)
		return 0;
	if (!(v = st_j_str(&c[1])) || st_jset(ud, c[0].s, v))
		return st_nomem_json();
	return 0;
}

int st_tags_into(store *s, const char *entity, const char *id, json_t *dst)
{
	sq_val p[] = {S(entity), S(id)};

	return Q(s, "SELECT tag, value FROM tags WHERE entity = ? AND entity_id = ? ORDER BY tag",
		 p, row_tag, dst);
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
	return store_runs_of_json(s, NULL, limit, out);
}

/*
 * The rows of one query as an array of view objects (*out, the caller's).
 * A parameter tested for NULL is cast to its type: PostgreSQL cannot infer
 * the type of a bare "? IS NULL".
 */
static int view_rows(store *s, const jv_field *fields, const char *sql, const sq_val *p, int np,
		     json_t **out)
{
	jv_ctx x = {.fields = fields, .dedup_col = -1};
	int rc;

	*out = NULL;
	if (!(x.arr = json_array()))
		return st_nomem_json();
	st_lock(s);
	rc = s->drv->exec(s->conn, sql, np, p, st_row_view, &x);
	st_unlock(s);
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return 0;
}

int store_runs_of_json(store *s, const char *pipeline, int limit, json_t **out)
{
	if (!s || !out)
		return sl__err(SL_EINVAL, "store_runs_json: invalid argument");
	{
		sq_val p[] = {S(pipeline), S(pipeline), SQ_I(limit > 0 ? limit : INT64_MAX)};
		return view_rows(s, runs_view,
		       "SELECT r.id, r.pipeline, r.status, r.started_ms, r.ended_ms, "
		       "COUNT(sr.id), "
		       "COALESCE(SUM(CASE WHEN sr.status = 'cached' OR sr.cache_hit <> 0 "
		       "THEN 1 ELSE 0 END), 0), "
		       "COALESCE(SUM(CASE WHEN sr.status = 'failed' THEN 1 ELSE 0 END), 0) "
		       "FROM (SELECT id, pipeline, status, started_ms, ended_ms, seq FROM runs "
		       "WHERE CAST(? AS TEXT) IS NULL OR pipeline = ? "
		       "ORDER BY started_ms DESC, seq DESC LIMIT ?) r "
		       "LEFT JOIN step_runs sr ON sr.run_id = r.id "
		       "GROUP BY r.id, r.pipeline, r.status, r.started_ms, r.ended_ms, r.seq "
		       "ORDER BY r.started_ms DESC, r.seq DESC",
		       p, (int)SL__ARRAY_LEN(p), out);
	}
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

/* ---- the steps of a run, as a stream -------------------------------------------------
 *
 * One query brings every row a run's steps need -- the step run, its edges,
 * its metrics and their histories -- ordered by the step's place in the run
 * (UNION ALL ... ORDER BY: each part arrives in index order, so the database
 * only merges), and the rows of one step are gathered and handed over before
 * the next step's begin. Memory is one step's worth whatever the run's size,
 * and the same stream feeds the JSON view and sl_run_steps.
 */

enum { PART_STEP, PART_IN, PART_OUT, PART_METRIC, PART_HISTORY };

/*
 * Columns: 0 seq, 1 part, 2 id | name, 3 step | artifact, 4..19 step fields,
 * 20 value, 21 k.
 */
#define NUL_TEXT "CAST(NULL AS TEXT)"
#define NUL_16 NUL_TEXT ", " NUL_TEXT ", " NUL_TEXT ", " NUL_TEXT ", CAST(NULL AS BIGINT), " \
	NUL_TEXT ", " NUL_TEXT ", CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), " \
	NUL_TEXT ", " NUL_TEXT ", " NUL_TEXT ", " NUL_TEXT ", " NUL_TEXT ", " NUL_TEXT
static const char step_stream_sql[] =
	"SELECT sr.seq, 0, sr.id, sr.step, sr.kind, sr.status, sr.reason, sr.error, sr.cache_hit, "
	"sr.cached_from, o.run_id, sr.exit_code, sr.started_ms, sr.ended_ms, sr.cache_key, "
	"sr.log_path, sr.job_id, sr.resources, pa.step, sr.params, "
	"CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT) "
	"FROM step_runs sr LEFT JOIN step_runs o ON o.id = sr.cached_from "
	"LEFT JOIN step_runs pa ON pa.id = sr.parent "
	"WHERE sr.run_id = ? "
	"UNION ALL SELECT sr.seq, CASE e.direction WHEN 'in' THEN 1 ELSE 2 END, e.name, "
	"e.artifact, " NUL_16 ", NULL, NULL FROM step_runs sr JOIN edges e ON e.step_run = sr.id "
	"WHERE sr.run_id = ? "
	"UNION ALL SELECT sr.seq, 3, m.name, " NUL_TEXT ", " NUL_16 ", m.value, NULL "
	"FROM step_runs sr JOIN metrics m ON m.step_run = COALESCE(sr.cached_from, sr.id) "
	"WHERE sr.run_id = ? "
	"UNION ALL SELECT sr.seq, 4, m.name, " NUL_TEXT ", " NUL_16 ", m.value, m.step "
	"FROM step_runs sr JOIN metric_history m ON m.step_run = COALESCE(sr.cached_from, sr.id) "
	"WHERE sr.run_id = ? "
	"ORDER BY 1, 2, 3, 22";

#define SV_NONE ((size_t)-1)

/* The step's text fields, in the order of columns 2..19 that are text. */
enum { F_ID, F_NAME, F_KIND, F_STATUS, F_REASON, F_ERROR, F_FROM, F_FROM_RUN, F_KEY, F_LOG,
       F_JOB, F_RES, F_PARENT, F_PARAMS, F_COUNT };

typedef struct sv_pair {
	size_t name, val; /* arena offsets */
} sv_pair;

typedef struct sv_series {
	size_t name;  /* arena offset */
	size_t first; /* index into vals */
	size_t n;
} sv_series;

typedef struct sv_builder {
	sl_step_view_fn fn;
	void *ud;
	int64_t seq;
	bool have;
	int rc;
	sl__buf arena;        /* this step's text; offsets survive its growth */
	size_t f[F_COUNT];    /* arena offsets, SV_NONE for NULL */
	int cache_hit, exit_code;
	int64_t started, ended;
	sv_pair *ins, *outs, *mets;
	size_t n_ins, n_outs, n_mets, cap_ins, cap_outs, cap_mets;
	double *met_vals;     /* parallel to mets */
	sv_series *series;
	size_t n_series, cap_series;
	double *vals;         /* every history value of the step */
	size_t n_vals, cap_vals;
	/* Pointer arrays built at emission, reused from step to step. */
	const char **ptrs;
	size_t cap_ptrs;
	const double **sptrs;
	size_t *slens;
	size_t cap_sptrs;
} sv_builder;

static int sv_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t c;
	void *nv;

	if (need <= *cap)
		return 0;
	c = *cap ? *cap * 2 : 8;
	while (c < need)
		c *= 2;
	if (!(nv = sl__reallocarray(*v, c, size)))
		return sl__err(SL_ENOMEM, "out of memory reading a run's steps");
	*v = nv;
	*cap = c;
	return 0;
}

/* Copies a text column into the arena: its offset, or SV_NONE for NULL. */
static size_t sv_text(sv_builder *b, const sq_val *v)
{
	size_t off = b->arena.len;

	if (v->type != SQ_TEXT)
		return SV_NONE;
	if (sl__buf_append(&b->arena, v->s, strlen(v->s) + 1) != 0) {
		b->rc = SL_ENOMEM;
		return SV_NONE;
	}
	return off;
}

static const char *sv_str(const sv_builder *b, size_t off)
{
	return off == SV_NONE ? NULL : b->arena.data + off;
}

static double sv_real(const sq_val *v)
{
	return v->type == SQ_REAL ? v->d : v->type == SQ_INT ? (double)v->i : (double)NAN;
}

/* Hands the gathered step to the consumer and starts afresh. */
static int sv_emit(sv_builder *b)
{
	sl_step_view sv;
	size_t np = 2 * b->n_ins + 2 * b->n_outs + b->n_mets + b->n_series;
	const char **p;
	int rc;

	if (!b->have)
		return 0;
	if ((rc = sv_grow((void **)&b->ptrs, &b->cap_ptrs, np + 1, sizeof *b->ptrs)) != 0 ||
	    (rc = sv_grow((void **)&b->sptrs, &b->cap_sptrs, b->n_series + 1, sizeof *b->sptrs)) != 0)
		return rc;
	/* slens grows with sptrs: same capacity. */
	{
		size_t *l = sl__reallocarray(b->slens, b->cap_sptrs, sizeof *l);
		if (!l)
			return sl__err(SL_ENOMEM, "out of memory reading a run's steps");
		b->slens = l;
	}
	memset(&sv, 0, sizeof sv);
	sv.step_run = sv_str(b, b->f[F_ID]);
	sv.name = sv_str(b, b->f[F_NAME]);
	sv.kind = sv_str(b, b->f[F_KIND]);
	sv.status = sv_str(b, b->f[F_STATUS]);
	sv.reason = sv_str(b, b->f[F_REASON]);
	sv.error = sv_str(b, b->f[F_ERROR]);
	sv.cache_hit = b->cache_hit;
	sv.cached_from = sv_str(b, b->f[F_FROM]);
	sv.cached_from_run = sv_str(b, b->f[F_FROM_RUN]);
	sv.exit_code = b->exit_code;
	sv.started_ms = b->started;
	sv.ended_ms = b->ended;
	sv.cache_key = sv_str(b, b->f[F_KEY]);
	sv.log = sv_str(b, b->f[F_LOG]);
	sv.job_id = sv_str(b, b->f[F_JOB]);
	sv.resources = sv_str(b, b->f[F_RES]);
	sv.parent = sv_str(b, b->f[F_PARENT]);
	sv.params = sv_str(b, b->f[F_PARAMS]);
	p = b->ptrs;
	sv.n_inputs = b->n_ins;
	sv.input_names = p;
	for (size_t i = 0; i < b->n_ins; i++)
		*p++ = sv_str(b, b->ins[i].name);
	sv.input_ids = p;
	for (size_t i = 0; i < b->n_ins; i++)
		*p++ = sv_str(b, b->ins[i].val);
	sv.n_outputs = b->n_outs;
	sv.output_names = p;
	for (size_t i = 0; i < b->n_outs; i++)
		*p++ = sv_str(b, b->outs[i].name);
	sv.output_ids = p;
	for (size_t i = 0; i < b->n_outs; i++)
		*p++ = sv_str(b, b->outs[i].val);
	sv.n_metrics = b->n_mets;
	sv.metric_names = p;
	for (size_t i = 0; i < b->n_mets; i++)
		*p++ = sv_str(b, b->mets[i].name);
	sv.metric_values = b->met_vals;
	sv.n_series = b->n_series;
	sv.series_names = p;
	for (size_t i = 0; i < b->n_series; i++) {
		*p++ = sv_str(b, b->series[i].name);
		b->sptrs[i] = b->vals + b->series[i].first;
		b->slens[i] = b->series[i].n;
	}
	sv.series_values = b->sptrs;
	sv.series_lengths = b->slens;
	rc = b->fn(b->ud, &sv);
	sl__buf_reset(&b->arena);
	b->n_ins = b->n_outs = b->n_mets = b->n_series = b->n_vals = 0;
	b->have = false;
	return rc;
}

static int row_stream(void *ud, int ncol, const sq_val *c)
{
	sv_builder *b = ud;
	int64_t seq = c[0].type == SQ_INT ? c[0].i : 0;
	int part = c[1].type == SQ_INT ? (int)c[1].i : -1;
	int rc = 0;

	if (ncol < 22)
		return 0;
	if (b->have && seq != b->seq && (rc = sv_emit(b)) != 0)
		return rc;
	if (part == PART_STEP) {
		b->have = true;
		b->seq = seq;
		b->f[F_ID] = sv_text(b, &c[2]);
		b->f[F_NAME] = sv_text(b, &c[3]);
		b->f[F_KIND] = sv_text(b, &c[4]);
		b->f[F_STATUS] = sv_text(b, &c[5]);
		b->f[F_REASON] = sv_text(b, &c[6]);
		b->f[F_ERROR] = sv_text(b, &c[7]);
		b->cache_hit = c[8].type == SQ_INT && c[8].i != 0;
		b->f[F_FROM] = sv_text(b, &c[9]);
		b->f[F_FROM_RUN] = sv_text(b, &c[10]);
		b->exit_code = c[11].type == SQ_INT ? (int)c[11].i : -1;
		b->started = c[12].type == SQ_INT ? c[12].i : 0;
		b->ended = c[13].type == SQ_INT ? c[13].i : 0;
		b->f[F_KEY] = sv_text(b, &c[14]);
		b->f[F_LOG] = sv_text(b, &c[15]);
		b->f[F_JOB] = sv_text(b, &c[16]);
		b->f[F_RES] = sv_text(b, &c[17]);
		b->f[F_PARENT] = sv_text(b, &c[18]);
		b->f[F_PARAMS] = sv_text(b, &c[19]);
	} else if (!b->have || seq != b->seq) {
		return 0; /* rows of a step that has none: cannot happen with this query */
	} else if (part == PART_IN || part == PART_OUT) {
		sv_pair **v = part == PART_IN ? &b->ins : &b->outs;
		size_t *n = part == PART_IN ? &b->n_ins : &b->n_outs;
		size_t *cap = part == PART_IN ? &b->cap_ins : &b->cap_outs;
		if ((rc = sv_grow((void **)v, cap, *n + 1, sizeof **v)) != 0)
			return rc;
		(*v)[*n].name = sv_text(b, &c[2]);
		(*v)[*n].val = sv_text(b, &c[3]);
		(*n)++;
	} else if (part == PART_METRIC) {
		size_t cap = b->cap_mets;
		if ((rc = sv_grow((void **)&b->mets, &b->cap_mets, b->n_mets + 1, sizeof *b->mets)) != 0 ||
		    (rc = sv_grow((void **)&b->met_vals, &cap, b->n_mets + 1, sizeof *b->met_vals)) != 0)
			return rc;
		b->mets[b->n_mets].name = sv_text(b, &c[2]);
		b->met_vals[b->n_mets++] = sv_real(&c[20]);
	} else if (part == PART_HISTORY) {
		const char *name = c[2].type == SQ_TEXT ? c[2].s : "";
		sv_series *last = b->n_series ? &b->series[b->n_series - 1] : NULL;
		if (!last || strcmp(sv_str(b, last->name), name) != 0) {
			if ((rc = sv_grow((void **)&b->series, &b->cap_series, b->n_series + 1,
					  sizeof *b->series)) != 0)
				return rc;
			last = &b->series[b->n_series++];
			last->name = sv_text(b, &c[2]);
			last->first = b->n_vals;
			last->n = 0;
		}
		if ((rc = sv_grow((void **)&b->vals, &b->cap_vals, b->n_vals + 1, sizeof *b->vals)) != 0)
			return rc;
		b->vals[b->n_vals++] = sv_real(&c[20]);
		last->n++;
	}
	return b->rc ? sl__err(b->rc, "out of memory reading a run's steps") : 0;
}

static void sv_free(sv_builder *b)
{
	sl__buf_free(&b->arena);
	sl__free(b->ins);
	sl__free(b->outs);
	sl__free(b->mets);
	sl__free(b->met_vals);
	sl__free(b->series);
	sl__free(b->vals);
	sl__free(b->ptrs);
	sl__free(b->sptrs);
	sl__free(b->slens);
}

/* Streams the steps of run id (resolved, store locked, inside a transaction). */
static int stream_steps(store *s, const char *id, sl_step_view_fn fn, void *ud)
{
	sv_builder b;
	sq_val p[] = {S(id), S(id), S(id), S(id)};
	int rc;

	memset(&b, 0, sizeof b);
	b.fn = fn;
	b.ud = ud;
	sl__buf_init(&b.arena, 0);
	rc = Q(s, step_stream_sql, p, row_stream, &b);
	if (rc == 0)
		rc = sv_emit(&b);
	sv_free(&b);
	return rc;
}

static int run_head(store *s, const char *id, json_t **out)
{
	jv_ctx run = {.fields = run_view, .dedup_col = -1};
	sq_val p[] = {S(id)};
	int rc = Q(s,
		   "SELECT id, pipeline, file, status, started_ms, ended_ms, params, "
		   "orchestrator, pid, host FROM runs WHERE id = ?",
		   p, st_row_view, &run);

	if (rc == 0 && !run.obj)
		rc = sl__err(SL_ENOENT, "no run with id '%s'", id);
	if (rc == 0)
		rc = st_tags_into(s, "run", id, json_object_get(run.obj, "tags"));
	if (rc) {
		json_decref(run.obj);
		return rc;
	}
	*out = run.obj;
	return 0;
}

int store_run_steps(store *s, const char *run_ref, sl_step_view_fn fn, void *ud, json_t **out_head)
{
	char id[STORE_ID_SIZE];
	json_t *head = NULL;
	int rc;

	if (out_head)
		*out_head = NULL;
	if (!s || !fn)
		return sl__err(SL_EINVAL, "store_run_steps: invalid argument");
	st_lock(s);
	rc = st_run_resolve(s, run_ref, id);
	if (rc == 0)
		rc = st_begin(s, false);
	if (rc == 0) {
		rc = run_head(s, id, &head);
		if (rc == 0 && out_head)
			*out_head = head; /* before the first step: a listing prints it first */
		if (rc == 0)
			rc = stream_steps(s, id, fn, ud);
		rc = st_end(s, rc);
	}
	st_unlock(s);
	if (rc) {
		if (out_head)
			*out_head = NULL;
		json_decref(head);
	} else if (!out_head) {
		json_decref(head);
	}
	return rc;
}

/* ---- one run as JSON: the stream, as objects ------------------------------------- */

static json_t *j_opt_str(const char *s)
{
	return s ? st_j_text(s) : json_null();
}

static json_t *j_ms(int64_t ms)
{
	sq_val v = ms > 0 ? SQ_I(ms) : SQ_NUL;
	return st_j_time(&v);
}

/* name: value pairs as an object: text values, or numbers (non-finite: null). */
static json_t *j_pairs(size_t n, const char *const *names, const char *const *strs,
		       const double *nums)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++) {
		json_t *v;
		if (strs)
			v = j_opt_str(strs[i]);
		else if (nums && isfinite(nums[i]))
			v = json_real(nums[i]);
		else
			v = json_null();
		if (!v || st_jset(o, names[i], v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* One step object of the run view: its fields are a stable interface. */
static int step_json(void *ud, const sl_step_view *v)
{
	json_t *steps = ud, *o = json_object(), *series = json_object();
	int bad = !o || !series;

	for (size_t i = 0; !bad && i < v->n_series; i++) {
		json_t *a = json_array();
		for (size_t k = 0; a && k < v->series_lengths[i]; k++) {
			double x = v->series_values[i][k];
			if (json_array_append_new(a, isfinite(x) ? json_real(x) : json_null()) != 0) {
				json_decref(a);
				a = NULL;
			}
		}
		bad |= !a || st_jset(series, v->series_names[i], a);
	}
	if (bad) {
		json_decref(o);
		json_decref(series);
		return st_nomem_json();
	}
	bad |= st_jset(o, "name", j_opt_str(v->name));
	bad |= st_jset(o, "step_run", j_opt_str(v->step_run));
	bad |= st_jset(o, "kind", j_opt_str(v->kind));
	bad |= st_jset(o, "status", j_opt_str(v->status));
	bad |= st_jset(o, "reason", j_opt_str(v->reason));
	bad |= st_jset(o, "cache_hit", json_boolean(v->cache_hit));
	bad |= st_jset(o, "cached_from", j_opt_str(v->cached_from));
	bad |= st_jset(o, "cached_from_run", j_opt_str(v->cached_from_run));
	bad |= st_jset(o, "exit_code", v->exit_code >= 0 ? json_integer(v->exit_code) : json_null());
	bad |= st_jset(o, "started", j_ms(v->started_ms));
	bad |= st_jset(o, "ended", j_ms(v->ended_ms));
	bad |= st_jset(o, "duration_ms", v->started_ms > 0 && v->ended_ms > 0
						 ? json_integer((json_int_t)(v->ended_ms - v->started_ms))
						 : json_null());
	bad |= st_jset(o, "cache_key", j_opt_str(v->cache_key));
	bad |= st_jset(o, "log", j_opt_str(v->log));
	bad |= st_jset(o, "error", j_opt_str(v->error));
	bad |= st_jset(o, "job_id", j_opt_str(v->job_id));
	{
		sq_val r = v->resources ? (sq_val){.type = SQ_TEXT, .s = v->resources} : SQ_NUL;
		bad |= st_jset(o, "resources", j_parsed(&r));
	}
	bad |= st_jset(o, "inputs", j_pairs(v->n_inputs, v->input_names, v->input_ids, NULL));
	bad |= st_jset(o, "outputs", j_pairs(v->n_outputs, v->output_names, v->output_ids, NULL));
	bad |= st_jset(o, "metrics", j_pairs(v->n_metrics, v->metric_names, NULL, v->metric_values));
	bad |= st_jset(o, "series", series);
	{
		sq_val pv = v->params ? (sq_val){.type = SQ_TEXT, .s = v->params} : SQ_NUL;
		/* Step runs recorded before their options were kept show none. */
		bad |= st_jset(o, "params", v->params ? j_parsed(&pv) : json_object());
	}
	bad |= st_jset(o, "parent", j_opt_str(v->parent));
	if (bad || json_array_append_new(steps, o) != 0)
		return st_nomem_json();
	return 0;
}

/* run_id may be a full id, a unique prefix or "latest". */
int store_run_json(store *s, const char *run_id, json_t **out)
{
	json_t *head = NULL;
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_run_json: invalid argument");
	*out = NULL;
	/* Steps are appended to the head's own array as they stream in. */
	st_lock(s);
	{
		char id[STORE_ID_SIZE];
		rc = st_run_resolve(s, run_id, id);
		if (rc == 0)
			rc = st_begin(s, false);
		if (rc == 0) {
			rc = run_head(s, id, &head);
			if (rc == 0)
				rc = stream_steps(s, id, step_json, json_object_get(head, "steps"));
			rc = st_end(s, rc);
		}
	}
	st_unlock(s);
	if (rc) {
		json_decref(head);
		return rc;
	}
	*out = head;
	return 0;
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
		       p, st_row_view, &x);
	} else {
		sq_val p[] = {SQ_I(limit > 0 ? limit : INT64_MAX)};
		rc = Q(s,
		       "SELECT a.id, a.type, a.size, a.created_ms, a.meta, p.run_id, p.step "
		       "FROM artifacts a LEFT JOIN step_runs p ON p.id = a.producer "
		       "ORDER BY a.created_ms DESC, a.id LIMIT ?",
		       p, st_row_view, &x);
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
		   p, st_row_view, &x);

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
			     p, st_row_view, &cons);
	}
	if (rc == 0)
		rc = st_tags_into(s, "artifact", id, json_object_get(a, "tags"));
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc) {
		json_decref(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* ---- pages of the listings (the web UI's lists) --------------------------------------
 *
 * The filter and the window are in the query, so a page of 50 costs the
 * same whether 100 or 100,000 rows exist behind it; the count of matching
 * rows is read in the same read transaction, so the total and the page
 * agree. A NULL filter parameter is cast to its type (PostgreSQL needs it
 * for "? IS NULL"). A search is a LIKE pattern made literal: '%', '_' and
 * the escape character of the text are escaped.
 */

char *st_like_pattern(const char *text)
{
	size_t n = text ? strlen(text) : 0;
	char *p, *q;

	if (!text || !*text)
		return NULL;
	if (n > (SIZE_MAX - 3) / 2 || !(p = sl__malloc(2 * n + 3)))
		return NULL;
	q = p;
	*q++ = '%';
	for (; *text; text++) {
		if (*text == '%' || *text == '_' || *text == '\\')
			*q++ = '\\';
		*q++ = *text;
	}
	*q++ = '%';
	*q = '\0';
	return p;
}

/* The count query then the page query, in one read transaction. */
static int page_rows(store *s, const jv_field *fields, const char *count_sql,
		     const char *rows_sql, const sq_val *p, int np, json_t **out_items,
		     int64_t *out_total)
{
	jv_ctx x = {.fields = fields, .dedup_col = -1};
	st_one_i64 total = {0};
	int rc;

	*out_items = NULL;
	*out_total = 0;
	if (!(x.arr = json_array()))
		return st_nomem_json();
	st_lock(s);
	rc = st_begin(s, false);
	/* The count takes the filter's parameters only: the last two are the window. */
	if (rc == 0)
		rc = s->drv->exec(s->conn, count_sql, np - 2, p, st_row_one_i64, &total);
	if (rc == 0)
		rc = s->drv->exec(s->conn, rows_sql, np, p, st_row_view, &x);
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out_items = x.arr;
	*out_total = total.v;
	return 0;
}

static int page_check(const store *s, const store_page *pg, json_t **out_items,
		      int64_t *out_total, const char *what)
{
	if (!s || !pg || !out_items || !out_total || pg->offset < 0 || pg->limit < 1)
		return sl__err(SL_EINVAL, "%s: invalid argument", what);
	return 0;
}

#define RUNS_FILTER                                                                          \
	"WHERE (CAST(? AS TEXT) IS NULL OR pipeline = ?) "                                   \
	"AND (CAST(? AS TEXT) IS NULL OR status = ?) "                                       \
	"AND (CAST(? AS TEXT) IS NULL OR id LIKE ? ESCAPE '\\' OR pipeline LIKE ? ESCAPE '\\') "

int store_runs_page_json(store *s, const store_page *pg, json_t **out_items, int64_t *out_total)
{
	char *like;
	int rc;

	if ((rc = page_check(s, pg, out_items, out_total, "store_runs_page_json")))
		return rc;
	like = st_like_pattern(pg->search);
	if (pg->search && *pg->search && !like)
		return sl__oom();
	{
		sq_val p[] = {S(pg->pipeline), S(pg->pipeline), S(pg->status), S(pg->status),
			      S(like),	       S(like),		S(like),       SQ_I(pg->limit),
			      SQ_I(pg->offset)};
		rc = page_rows(s, runs_view, "SELECT COUNT(*) FROM runs " RUNS_FILTER,
			       "SELECT r.id, r.pipeline, r.status, r.started_ms, r.ended_ms, "
			       "COUNT(sr.id), "
			       "COALESCE(SUM(CASE WHEN sr.status = 'cached' OR sr.cache_hit <> 0 "
			       "THEN 1 ELSE 0 END), 0), "
			       "COALESCE(SUM(CASE WHEN sr.status = 'failed' THEN 1 ELSE 0 END), 0) "
			       "FROM (SELECT id, pipeline, status, started_ms, ended_ms, seq FROM runs "
			       RUNS_FILTER "ORDER BY started_ms DESC, seq DESC LIMIT ? OFFSET ?) r "
			       "LEFT JOIN step_runs sr ON sr.run_id = r.id "
			       "GROUP BY r.id, r.pipeline, r.status, r.started_ms, r.ended_ms, r.seq "
			       "ORDER BY r.started_ms DESC, r.seq DESC",
			       p, (int)SL__ARRAY_LEN(p), out_items, out_total);
	}
	sl__free(like);
	return rc;
}

#define ARTIFACTS_FILTER                                                                     \
	"WHERE (CAST(? AS TEXT) IS NULL OR a.type = ?) "                                     \
	"AND (CAST(? AS TEXT) IS NULL OR a.id LIKE ? ESCAPE '\\' OR p.step LIKE ? ESCAPE '\\') "

int store_artifacts_page_json(store *s, const store_page *pg, json_t **out_items,
			      int64_t *out_total)
{
	char *like;
	int rc;

	if ((rc = page_check(s, pg, out_items, out_total, "store_artifacts_page_json")))
		return rc;
	like = st_like_pattern(pg->search);
	if (pg->search && *pg->search && !like)
		return sl__oom();
	{
		sq_val p[] = {S(pg->type), S(pg->type), S(like), S(like), S(like), SQ_I(pg->limit),
			      SQ_I(pg->offset)};
		rc = page_rows(s, artifacts_view,
			       "SELECT COUNT(*) FROM artifacts a "
			       "LEFT JOIN step_runs p ON p.id = a.producer " ARTIFACTS_FILTER,
			       "SELECT a.id, a.type, a.size, a.created_ms, a.meta, p.run_id, p.step "
			       "FROM artifacts a LEFT JOIN step_runs p ON p.id = a.producer "
			       ARTIFACTS_FILTER "ORDER BY a.created_ms DESC, a.id LIMIT ? OFFSET ?",
			       p, (int)SL__ARRAY_LEN(p), out_items, out_total);
	}
	sl__free(like);
	return rc;
}

/* ---- JSON as text, for views too large to build as objects ------------------------------
 *
 * A model with 10,000 versions is one such view: building and dumping
 * objects costs ten times what writing the text does. The writer follows
 * the same field tables; stored JSON (metrics) is embedded as it is, since
 * the store only ever keeps it valid (st_check_json_object on the way in).
 */

/* Bytes that go into a JSON string as they are: printable ASCII but '"' and '\\'. */
static inline bool jw_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

int st_jw_str(sl__buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n, i = 0;
	int rc;

	if (!s)
		return sl__buf_puts(b, "null");
	n = strlen(s);
	if ((rc = sl__buf_reserve(b, n + 2)) != 0 || (rc = sl__buf_putc(b, '"')) != 0)
		return rc;
	while (i < n && rc == 0) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		size_t k = 1, j = i;

		/* Plain ASCII, the usual case, goes in one piece. */
		while (j < n && jw_plain((unsigned char)s[j]))
			j++;
		if (j > i) {
			rc = sl__buf_append(b, s + i, j - i);
			i = j;
			continue;
		}
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			rc = sl__buf_append(b, e, 2);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			rc = sl__buf_append(b, e, 6);
		} else if (len == 1) {
			rc = sl__buf_putc(b, (char)c);
		} else {
			/* Invalid UTF-8 becomes '?', as st_j_text does. */
			for (; len && k < len && i + k < n; k++)
				if (((unsigned char)s[i + k] >> 6) != 2)
					break;
			if (len == 0 || k != len) {
				rc = sl__buf_putc(b, '?');
				i++;
				continue;
			}
			rc = sl__buf_append(b, s + i, len);
			i += len;
			continue;
		}
		i++;
	}
	return rc ? rc : sl__buf_putc(b, '"');
}

/* An integer in decimal: vsnprintf costs more than the rest of a row. */
static int jw_int(sl__buf *b, int64_t v)
{
	char buf[24], *p = buf + sizeof buf;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return sl__buf_append(b, p, (size_t)(buf + sizeof buf - p));
}

/*
 * ms since the epoch as "2026-11-26T14:40:00.123Z", sl__fmt_time's text,
 * by the civil-from-days algorithm instead of gmtime and strftime.
 */
static int jw_time(sl__buf *b, int64_t ms)
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000, days, sod, z, era, doe, yoe, y, doy,
		mp, d, m;
	int frac = (int)(ms - secs * 1000);
	char t[32];

	days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	sod = secs - days * 86400;
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 0 || y > 9999) {
		sl__fmt_time(ms, t, sizeof t);
		return st_jw_str(b, t);
	}
	t[0] = '"';
	t[1] = (char)('0' + y / 1000);
	t[2] = (char)('0' + y / 100 % 10);
	t[3] = (char)('0' + y / 10 % 10);
	t[4] = (char)('0' + y % 10);
	t[5] = '-';
	t[6] = (char)('0' + m / 10);
	t[7] = (char)('0' + m % 10);
	t[8] = '-';
	t[9] = (char)('0' + d / 10);
	t[10] = (char)('0' + d % 10);
	t[11] = 'T';
	t[12] = (char)('0' + sod / 36000);
	t[13] = (char)('0' + sod / 3600 % 10);
	t[14] = ':';
	t[15] = (char)('0' + sod % 3600 / 600);
	t[16] = (char)('0' + sod % 3600 / 60 % 10);
	t[17] = ':';
	t[18] = (char)('0' + sod % 60 / 10);
	t[19] = (char)('0' + sod % 10);
	t[20] = '.';
	t[21] = (char)('0' + frac / 100);
	t[22] = (char)('0' + frac / 10 % 10);
	t[23] = (char)('0' + frac % 10);
	t[24] = 'Z';
	t[25] = '"';
	return sl__buf_append(b, t, 26);
}

int st_jw_time(sl__buf *b, int64_t ms)
{
	return jw_time(b, ms);
}

/* One value of a view's field, as text. */
static int jw_value(sl__buf *b, const jv_field *f, int ncol, const sq_val *c)
{
	static const sq_val null_val = {.type = SQ_NULL};
	const sq_val *v = f->col < ncol ? &c[f->col] : &null_val;

	switch (f->kind) {
	case JV_STR:
		return st_jw_str(b, v->type == SQ_TEXT ? v->s : NULL);
	case JV_INT:
		if (v->type == SQ_INT || v->type == SQ_REAL)
			return jw_int(b, v->type == SQ_INT ? v->i : (int64_t)v->d);
		return sl__buf_puts(b, "null");
	case JV_REAL:
		if (v->type == SQ_REAL && isfinite(v->d))
			return sl__buf_printf(b, "%.17g", v->d);
		if (v->type == SQ_INT)
			return sl__buf_printf(b, "%lld.0", (long long)v->i);
		return sl__buf_puts(b, "null");
	case JV_BOOL:
		return sl__buf_puts(b, v->type == SQ_INT && v->i ? "true" : "false");
	case JV_TIME:
		return v->type == SQ_INT ? jw_time(b, v->i) : sl__buf_puts(b, "null");
	case JV_JSON:
	case JV_JSON_OBJ:
		if (v->type == SQ_TEXT)
			return sl__buf_puts(b, v->s);
		return sl__buf_puts(b, f->kind == JV_JSON ? "null" : "{}");
	case JV_ARRAY:
		return sl__buf_puts(b, "[]");
	case JV_OBJECT:
		return sl__buf_puts(b, "{}");
	case JV_DURATION:
	case JV_NESTED:
		break;
	}
	return sl__err(SL_EINVAL, "a text view cannot write field '%s'", f->key);
}

int st_jw_fields(sl__buf *b, const jv_field *fields, int ncol, const sq_val *c)
{
	int rc = 0;

	for (const jv_field *f = fields; rc == 0 && f->key; f++) {
		/* Keys are the tables' own plain names: no escaping needed. */
		size_t n = strlen(f->key);
		rc = sl__buf_reserve(b, n + 6);
		if (rc == 0) {
			if (f != fields)
				sl__buf_append(b, ", ", 2);
			sl__buf_putc(b, '"');
			sl__buf_append(b, f->key, n);
			sl__buf_append(b, "\": ", 3);
			rc = jw_value(b, f, ncol, c);
		}
	}
	return rc;
}

/* ---- runs by a metric ------------------------------------------------------------------ */

static const jv_field metric_row_view[] = {
	{"run", JV_STR, 0, 0, NULL},
	{"pipeline", JV_STR, 1, 0, NULL},
	{"status", JV_STR, 2, 0, NULL},
	{"started", JV_TIME, 3, 0, NULL},
	{"step", JV_STR, 4, 0, NULL},
	{"value", JV_REAL, 5, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

int store_runs_metric_json(store *s, const char *pipeline, const char *step, const char *metric,
			   json_t **out)
{
	if (!s || !pipeline || !metric || !out)
		return sl__err(SL_EINVAL, "store_runs_metric_json: invalid argument");
	{
		/* The pipeline's steps only (not a tune step's trials); a cached
		 * step has the metrics of the step run that computed it. */
		sq_val p[] = {S(pipeline), S(metric), S(step), S(step)};
		return view_rows(s, metric_row_view,
				 "SELECT r.id, r.pipeline, r.status, r.started_ms, sr.step, m.value "
				 "FROM runs r JOIN step_runs sr ON sr.run_id = r.id AND sr.parent IS NULL "
				 "JOIN metrics m ON m.step_run = COALESCE(sr.cached_from, sr.id) "
				 "WHERE r.pipeline = ? AND m.name = ? AND (CAST(? AS TEXT) IS NULL OR "
				 "sr.step = ?) "
				 "ORDER BY r.started_ms DESC, r.seq DESC, sr.seq",
				 p, (int)SL__ARRAY_LEN(p), out);
	}
}
