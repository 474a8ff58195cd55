/*
 * Bundles (bundle.h): writing one from a model file and a transform, and
 * scoring raw rows through the transform into the model.
 *
 * At open, each model input is bound to its source once: a transform output
 * column (or a raw input when there is no transform), with a dictionary
 * index for string features. Scoring a row is then the transform's row
 * kernel, a copy per feature (or one index lookup for a string) and the
 * model's predict: no name lookups and no allocation per row.
 *
 * Coding a row (code()) runs in two passes planned at open:
 *
 *   transformed row (expr_value)        model inputs (double)
 *     every feature  --bulk pass-->     null ? NaN : f       (no type switch)
 *     non-float ones --fix pass-->      null ? NaN : i       (int, bool, time)
 *                                       code_cell            (strings)
 *
 * Invariants:
 *  1. code_cell is the one definition of what a value means as a model
 *     input; the bulk pass is its float64 case and the fix pass its
 *     integer case or itself, and every feature whose source is not
 *     float64 is listed in fix and coded again after the bulk pass, so the
 *     bulk pass's read of such a value's f (zero or stale) never survives.
 *  2. The two passes give the bits code_general gives cell by cell
 *     (bundle_code_values_general, which tests hold them to).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/bundle.h"

typedef struct binding {
	size_t src;          /* transform output (or raw input) feeding this feature */
	ds_type src_type;
	ml_dict_index *dict; /* string features */
} binding;

struct bundle {
	ml_model *model;
	transform *tf;       /* NULL when none */
	binding *bind;       /* per model feature */
	size_t *src;         /* per model feature: bind[j].src, for the bulk pass;
			      * NULL when feature j is source j for every j */
	size_t *fix;         /* model features whose source is not float64: those
			      * of an integer type (int64, bool, timestamp) first */
	size_t n_int, n_fix;
	size_t n_in;         /* raw inputs */
	char **in_names;     /* raw input names when there is no transform (borrowed) */
	ds_type *in_types;
	bool *in_needed;     /* per raw input: does it decide an output or a filter? */
	double threshold;    /* binary: decide the second class at P >= it */
};

struct bundle_row {
	transform_row *tr;
	expr_value *in;   /* raw row (n raw inputs) */
	expr_value *vals; /* transformed row (n transform outputs) */
};

/* ---- writing --------------------------------------------------------------------- */

int bundle_write(const char *model_path, const char *transform_path, const json_t *extra,
		 const char *out_path)
{
	mfile_writer *w = NULL;
	transform *tf = NULL;
	json_t *man = NULL, *tj = NULL;
	mfile *f = NULL;
	ml_model *m = NULL;
	bool oom;
	int rc;

	if ((rc = mfile_open(model_path, &f)))
		return rc;
	/* Loading the model proves the file is one before it is wrapped. */
	if ((rc = ml_model_load(model_path, &m)))
		goto out;
	if (transform_path) {
		char *text;
		if ((rc = transform_load(transform_path, &tf)))
			goto out;
		text = transform_dump(tf, NULL);
		tj = text ? sl__json_loadb(text, strlen(text), 0, NULL, &oom) : NULL;
		sl__free(text);
		if (!tj) {
			rc = sl__oom();
			goto out;
		}
	}
	man = json_deep_copy(mfile_manifest(f));
	if (!man || json_object_set_new(man, "kind", json_string("bundle")) ||
	    json_object_set_new(man, "bundle_format", json_integer(BUNDLE_FORMAT)) ||
	    (tj && json_object_set(man, "transform", tj)) ||
	    (extra && json_object_update(man, (json_t *)extra))) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = mfile_writer_new(&w)))
		goto out;
	for (size_t i = 0; i < mfile_n_sections(f); i++) {
		const char *name;
		const void *data;
		size_t len;
		mfile_section_at(f, i, &name, &data, &len);
		if ((rc = mfile_add(w, name, data, len)))
			goto out;
	}
	rc = mfile_write(w, man, out_path);
	/* The bundle must open as one: a transform that does not produce the
	 * model's inputs is caught when it is made, not when it is served. */
	if (rc == 0) {
		bundle *b;
		if ((rc = bundle_open(out_path, 0, &b)) == 0)
			bundle_close(b);
	}
out:
	mfile_writer_free(w);
	json_decref(man);
	json_decref(tj);
	transform_free(tf);
	ml_model_free(m);
	mfile_close(f);
	return rc;
}

/* ---- opening ---------------------------------------------------------------------- */

void bundle_close(bundle *b)
{
	if (!b)
		return;
	if (b->bind)
		for (size_t j = 0; j < b->model->sig.n_features; j++)
			ml_dict_index_free(b->bind[j].dict);
	sl__free(b->bind);
	sl__free(b->src);
	sl__free(b->fix);
	sl__free(b->in_names);
	sl__free(b->in_types);
	sl__free(b->in_needed);
	transform_free(b->tf);
	ml_model_free(b->model);
	sl__free(b);
}

static bool converts(ds_type from, ds_type to)
{
	return (from == DS_STRING) == (to == DS_STRING);
}

/* The two passes of code() (invariant 1), from the bindings. */
static int plan_code(bundle *b)
{
	size_t p = b->model->sig.n_features;
	bool ident = true;

	b->fix = sl__malloc((p ? p : 1) * sizeof *b->fix);
	if (!b->fix)
		return sl__oom();
	for (size_t j = 0; j < p; j++) {
		ident &= b->bind[j].src == j;
		if (b->bind[j].src_type != DS_FLOAT64 && b->bind[j].src_type != DS_STRING)
			b->fix[b->n_fix++] = j;
	}
	b->n_int = b->n_fix;
	for (size_t j = 0; j < p; j++)
		if (b->bind[j].src_type == DS_STRING)
			b->fix[b->n_fix++] = j;
	if (ident)
		return 0;
	b->src = sl__malloc((p ? p : 1) * sizeof *b->src);
	if (!b->src)
		return sl__oom();
	for (size_t j = 0; j < p; j++)
		b->src[j] = b->bind[j].src;
	return 0;
}

static int bind_inputs(bundle *b, const char *path)
{
	const ml_signature *sig = &b->model->sig;
	size_t nsrc = b->tf ? transform_n_outputs(b->tf) : sig->n_features;
	int rc;

	b->bind = sl__calloc(sig->n_features ? sig->n_features : 1, sizeof *b->bind);
	if (!b->bind)
		return sl__oom();
	for (size_t j = 0; j < sig->n_features; j++) {
		const ml_feature *f = &sig->features[j];
		binding *bd = &b->bind[j];
		size_t k = 0;
		if (b->tf) {
			while (k < nsrc && strcmp(transform_output_name(b->tf, k), f->name))
				k++;
			if (k == nsrc)
				return sl__err(SL_ECORRUPT,
					       "%s: the model's input '%s' is not produced by the "
					       "bundle's transform",
					       path, f->name);
			bd->src_type = transform_output_type(b->tf, k);
		} else {
			k = j;
			bd->src_type = f->type;
		}
		if (!converts(bd->src_type, f->type))
			return sl__err(SL_ECORRUPT,
				       "%s: the transform makes '%s' %s, but the model was trained on %s",
				       path, f->name, ds_type_name(bd->src_type), ds_type_name(f->type));
		bd->src = k;
		if (f->type == DS_STRING && (rc = ml_dict_index_build(f, &bd->dict)))
			return rc;
	}
	if ((rc = plan_code(b)))
		return rc;
	if (b->tf) {
		bool *used = sl__calloc(nsrc + 1, sizeof *used);
		b->n_in = transform_n_inputs(b->tf);
		b->in_needed = sl__calloc(b->n_in + 1, sizeof *b->in_needed);
		if (!used || !b->in_needed) {
			sl__free(used);
			return sl__oom();
		}
		for (size_t j = 0; j < sig->n_features; j++)
			used[b->bind[j].src] = true;
		rc = transform_needed_inputs(b->tf, used, b->in_needed);
		sl__free(used);
		return rc;
	}
	b->n_in = sig->n_features;
	b->in_names = sl__calloc(b->n_in ? b->n_in : 1, sizeof *b->in_names);
	b->in_types = sl__calloc(b->n_in ? b->n_in : 1, sizeof *b->in_types);
	b->in_needed = sl__calloc(b->n_in ? b->n_in : 1, sizeof *b->in_needed);
	if (!b->in_names || !b->in_types || !b->in_needed)
		return sl__oom();
	for (size_t k = 0; k < b->n_in; k++) {
		b->in_names[k] = sig->features[k].name;
		b->in_types[k] = sig->features[k].type;
		b->in_needed[k] = true;
	}
	return 0;
}

int bundle_open(const char *path, unsigned flags, bundle **out)
{
	bundle *b = sl__calloc(1, sizeof *b);
	const json_t *man, *tj;
	mfile *f;
	int rc;

	*out = NULL;
	if (!b)
		return sl__oom();
	if ((rc = mfile_open(path, &f)) || (rc = ml_model_load_mfile(f, &b->model))) {
		sl__free(b);
		return rc;
	}
	man = mfile_manifest(b->model->file);
	if (json_integer_value(json_object_get(man, "bundle_format")) > BUNDLE_FORMAT) {
		rc = sl__err(SL_EUNSUP, "%s: written by a newer sluice (bundle format %lld; this "
					"sluice reads up to %d)",
			     path, (long long)json_integer_value(json_object_get(man, "bundle_format")),
			     BUNDLE_FORMAT);
		goto fail;
	}
	b->threshold = 0.5;
	tj = json_object_get(man, "threshold");
	if (tj) {
		double t = json_number_value(tj);
		if (!json_is_number(tj) || !(t >= 0 && t <= 1)) {
			rc = sl__err(SL_ECORRUPT, "%s: the manifest's threshold must be a number from 0 "
						  "to 1",
				     path);
			goto fail;
		}
		b->threshold = t;
	}
	/* Built from the manifest as parsed, not printed and parsed again:
	 * the transform shares its operations' JSON with the manifest, which
	 * lives as long as the model. */
	tj = json_object_get(man, "transform");
	if (tj && (rc = transform_from_json(tj, path, &b->tf)))
		goto fail;
	if (b->tf && (flags & BUNDLE_ROWS)) {
		transform_row *probe;
		if ((rc = transform_row_new(b->tf, &probe))) {
			rc = sl__err_prefix(rc, "%s: cannot score rows one at a time", path);
			goto fail;
		}
		transform_row_free(probe);
	}
	if ((rc = bind_inputs(b, path)))
		goto fail;
	*out = b;
	return 0;
fail:
	bundle_close(b);
	return rc;
}

const ml_model *bundle_model(const bundle *b)
{
	return b->model;
}

const transform *bundle_transform(const bundle *b)
{
	return b->tf;
}

const json_t *bundle_manifest(const bundle *b)
{
	return mfile_manifest(b->model->file);
}

double bundle_threshold(const bundle *b)
{
	return b->threshold;
}

size_t bundle_n_inputs(const bundle *b)
{
	return b->n_in;
}

const char *bundle_input_name(const bundle *b, size_t k)
{
	return b->tf ? transform_input_name(b->tf, k) : b->in_names[k];
}

ds_type bundle_input_type(const bundle *b, size_t k)
{
	return b->tf ? transform_input_type(b->tf, k) : b->in_types[k];
}

bool bundle_input_needed(const bundle *b, size_t k)
{
	return b->in_needed[k];
}

/* ---- scoring rows -------------------------------------------------------------------- */

int bundle_row_new(const bundle *b, bundle_row **out)
{
	bundle_row *r = sl__calloc(1, sizeof *r);
	size_t nv = b->tf ? transform_n_outputs(b->tf) : b->n_in;
	int rc;

	*out = NULL;
	if (!r || !(r->vals = sl__calloc(nv ? nv : 1, sizeof *r->vals)) ||
	    !(r->in = sl__calloc(b->n_in ? b->n_in : 1, sizeof *r->in))) {
		if (r)
			sl__free(r->vals);
		sl__free(r);
		return sl__oom();
	}
	if (b->tf && (rc = transform_row_new(b->tf, &r->tr))) {
		bundle_row_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void bundle_row_free(bundle_row *r)
{
	if (!r)
		return;
	transform_row_free(r->tr);
	sl__free(r->in);
	sl__free(r->vals);
	sl__free(r);
}

/* What value e of a feature bound by bd is as a model input (invariant 1). */
static inline double code_cell(const binding *bd, const expr_value *e)
{
	if (e->null)
		return NAN;
	switch (bd->src_type) {
	case DS_FLOAT64:
		return e->f;
	case DS_STRING: {
		long c = ml_dict_index_find(bd->dict, e->s, e->len);
		return c < 0 ? NAN : (double)c;
	}
	default:
		return (double)e->i;
	}
}

/* code_cell's float64 case: the bulk pass's, for every feature. The value
 * is stored before the test, which leaves a missing value the branch and
 * a present one a load, a store and a compare (not a select). */
static inline void bulk_cell(const expr_value *e, double *out)
{
	*out = e->f;
	if (e->null)
		*out = NAN;
}

/* The model's inputs from a transformed row (or a raw row without a
 * transform), cell by cell: the reference the two passes are held to. */
static void code_general(const bundle *b, const expr_value *v, double *in)
{
	size_t p = b->model->sig.n_features;

	for (size_t j = 0; j < p; j++)
		in[j] = code_cell(&b->bind[j], &v[b->bind[j].src]);
}

/*
 * The same in two passes. A served row of 57 numbers (two of them int64)
 * took about 1,050 instructions cell by cell (a binding's source and type
 * and a switch per cell) and takes about 430.
 */
static void code(const bundle *b, const expr_value *v, double *in)
{
	size_t p = b->model->sig.n_features;
	const size_t *src = b->src;
	size_t j = 0;

	/* Four at a time by hand, as in glm.c's row_dense. */
	if (!src) {
		for (; j + 4 <= p; j += 4) {
			bulk_cell(&v[j], &in[j]);
			bulk_cell(&v[j + 1], &in[j + 1]);
			bulk_cell(&v[j + 2], &in[j + 2]);
			bulk_cell(&v[j + 3], &in[j + 3]);
		}
		for (; j < p; j++)
			bulk_cell(&v[j], &in[j]);
	} else {
		for (; j < p; j++)
			bulk_cell(&v[src[j]], &in[j]);
	}
	/* code_cell's integer case without its switch, then strings. */
	for (size_t m = 0; m < b->n_int; m++) {
		const expr_value *e = &v[b->bind[b->fix[m]].src];
		in[b->fix[m]] = e->null ? NAN : (double)e->i;
	}
	for (size_t m = b->n_int; m < b->n_fix; m++) {
		const binding *bd = &b->bind[b->fix[m]];
		in[b->fix[m]] = code_cell(bd, &v[bd->src]);
	}
}

int bundle_code_values(const bundle *b, bundle_row *r, const expr_value *in, double *x)
{
	if (b->tf) {
		int rc = transform_apply_row(b->tf, r->tr, in, r->vals);
		if (rc)
			return rc; /* TRANSFORM_REJECTED or an error */
		in = r->vals;
	}
	code(b, in, x);
	return 0;
}

int bundle_code_values_general(const bundle *b, bundle_row *r, const expr_value *in, double *x)
{
	if (b->tf) {
		int rc = transform_apply_row(b->tf, r->tr, in, r->vals);
		if (rc)
			return rc;
		in = r->vals;
	}
	code_general(b, in, x);
	return 0;
}

int bundle_score_values(const bundle *b, bundle_row *r, const expr_value *in, double *x,
			double *out)
{
	size_t p = b->model->sig.n_features;
	double stack[64], *row = x ? x : p <= 64 ? stack : NULL;
	int rc;

	if (!row && !(row = sl__malloc(p * sizeof *row)))
		return sl__oom();
	rc = bundle_code_values(b, r, in, row);
	if (rc == 0)
		rc = b->model->ops->predict(b->model, row, 1, out);
	if (row != x && row != stack)
		sl__free(row);
	return rc;
}

/* ---- typing request values ------------------------------------------------------------ */

const char *bundle_vkind_name(bundle_vkind k)
{
	switch (k) {
	case BV_NULL:
		return "null";
	case BV_NUMBER:
		return "a number";
	case BV_STRING:
		return "a string";
	case BV_BOOL:
		return "true or false";
	case BV_TEXT:
		return "text";
	}
	return "?";
}

static bool csv_null(const char *s, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < ds_n_default_null_values; i++)
		if (strlen(ds_default_null_values[i]) == len &&
		    !memcmp(ds_default_null_values[i], s, len))
			return true;
	return false;
}

/* The whole text of a field for messages, cut to a readable length. */
static int bad_text(ds_type t, const bundle_scalar *v)
{
	return sl__err(SL_EINVAL, "expected %s, got '%.*s'",
		       t == DS_FLOAT64     ? "a number (float64)"
		       : t == DS_INT64     ? "an integer (int64)"
		       : t == DS_BOOL      ? "true or false (bool)"
		       : t == DS_TIMESTAMP ? "an ISO 8601 time stamp"
					   : "a string",
		       v->len > 40 ? 40 : (int)v->len, v->s);
}

static int from_text(ds_type t, const bundle_scalar *v, expr_value *out)
{
	bool b;

	/* As the dataset's CSV reader reads an unquoted field: a null marker
	 * is missing whatever the column's type. */
	if (csv_null(v->s, v->len)) {
		out->null = true;
		return 0;
	}
	switch (t) {
	case DS_STRING:
		out->s = v->s;
		out->len = v->len;
		return 0;
	case DS_FLOAT64:
		if (!ds_parse_f64(v->s, v->len, &out->f))
			return bad_text(t, v);
		return 0;
	case DS_INT64: {
		double d;
		if (ds_parse_i64(v->s, v->len, &out->i))
			return 0;
		/* "61.0", as a float column prints: integral, so an integer. */
		if (!ds_parse_f64(v->s, v->len, &d) || d != floor(d) || fabs(d) >= 9007199254740992.0)
			return bad_text(t, v);
		out->i = (int64_t)d;
		return 0;
	}
	case DS_BOOL:
		if (!ds_parse_bool(v->s, v->len, &b))
			return bad_text(t, v);
		out->i = b;
		return 0;
	case DS_TIMESTAMP:
		if (!ds_parse_timestamp(v->s, v->len, &out->i))
			return bad_text(t, v);
		return 0;
	default:
		return bad_text(t, v);
	}
}

int bundle_coerce(ds_type t, const bundle_scalar *v, expr_value *out)
{
	const char *want = NULL;

	memset(out, 0, sizeof *out);
	if (v->kind == BV_NULL) {
		out->null = true;
		return 0;
	}
	if (v->kind == BV_TEXT)
		return from_text(t, v, out);
	switch (t) {
	case DS_FLOAT64:
		if (v->kind == BV_NUMBER) {
			out->f = v->num;
			return 0;
		}
		want = "a number (float64)";
		break;
	case DS_INT64:
		if (v->kind == BV_NUMBER) {
			/* The text first, so that integers past 2^53 are exact. */
			if (ds_parse_i64(v->s, v->len, &out->i))
				return 0;
			if (v->num == floor(v->num) && fabs(v->num) < 9007199254740992.0) {
				out->i = (int64_t)v->num;
				return 0;
			}
			return sl__err(SL_EINVAL, "expected an integer (int64), got %.*s",
				       v->len > 40 ? 40 : (int)v->len, v->s);
		}
		want = "an integer (int64)";
		break;
	case DS_BOOL:
		if (v->kind == BV_BOOL) {
			out->i = v->b;
			return 0;
		}
		want = "true or false (bool)";
		break;
	case DS_TIMESTAMP:
		if (v->kind == BV_STRING) {
			if (ds_parse_timestamp(v->s, v->len, &out->i))
				return 0;
			return sl__err(SL_EINVAL, "expected an ISO 8601 time stamp, got '%.*s'",
				       v->len > 40 ? 40 : (int)v->len, v->s);
		}
		want = "an ISO 8601 time stamp (a string)";
		break;
	case DS_STRING:
		if (v->kind == BV_STRING) {
			out->s = v->s;
			out->len = v->len;
			return 0;
		}
		want = "a string";
		break;
	}
	return sl__err(SL_EINVAL, "expected %s, got %s", want ? want : "?",
		       bundle_vkind_name(v->kind));
}

/* A JSON value as a bundle_scalar (numbers keep a text form for exact integers). */
static void scalar_from_json(const json_t *j, char *numbuf, size_t size, bundle_scalar *v)
{
	memset(v, 0, sizeof *v);
	if (!j || json_is_null(j)) {
		v->kind = BV_NULL;
	} else if (json_is_integer(j)) {
		v->kind = BV_NUMBER;
		v->num = (double)json_integer_value(j);
		v->len = (size_t)snprintf(numbuf, size, "%lld", (long long)json_integer_value(j));
		v->s = numbuf;
	} else if (json_is_real(j)) {
		v->kind = BV_NUMBER;
		v->num = json_real_value(j);
		v->len = ds_format_f64(v->num, numbuf);
		v->s = numbuf;
	} else if (json_is_string(j)) {
		v->kind = BV_STRING;
		v->s = json_string_value(j);
		v->len = json_string_length(j);
	} else if (json_is_boolean(j)) {
		v->kind = BV_BOOL;
		v->b = json_is_true(j);
	} else {
		v->kind = BV_TEXT; /* an object or an array: never a value */
		v->s = json_is_object(j) ? "{...}" : "[...]";
		v->len = 5;
	}
}

int bundle_score_json(const bundle *b, bundle_row *r, const json_t *row, double *x, double *out)
{
	char numbuf[DS_F64_BUF > 32 ? DS_F64_BUF : 32];

	if (!json_is_object(row))
		return sl__err(SL_EINVAL, "expected a JSON object of column values");
	for (size_t k = 0; k < b->n_in; k++) {
		const char *name = bundle_input_name(b, k);
		const json_t *j = json_object_get(row, name);
		bundle_scalar v;
		int rc;
		scalar_from_json(j, numbuf, sizeof numbuf, &v);
		if (json_is_object(j) || json_is_array(j))
			return sl__err(SL_EINVAL, "'%s': expected a single value, got %s", name,
				       json_is_object(j) ? "an object" : "an array");
		if ((rc = bundle_coerce(bundle_input_type(b, k), &v, &r->in[k])))
			return sl__err_prefix(rc, "'%s'", name);
	}
	return bundle_score_values(b, r, r->in, x, out);
}

/* ---- warming ----------------------------------------------------------------------------- */

int bundle_warm(const bundle *b)
{
	const ml_model *m = b->model;
	size_t p = m->sig.n_features, k = m->sig.n_outputs;
	size_t groups = m->ops->explain && m->ops->explain_groups ? m->ops->explain_groups(m) : 0;
	double *x = sl__calloc(p + k + groups * (p + 1) + 1, sizeof *x);
	bundle_row *r = NULL;
	int rc;

	if (!x)
		return sl__oom();
	if ((rc = bundle_row_new(b, &r)) == 0) {
		for (size_t i = 0; i < b->n_in; i++) {
			memset(&r->in[i], 0, sizeof r->in[i]);
			r->in[i].null = true;
		}
		/* A row of missing values may be rejected or refused by the
		 * transform; the model then predicts from zeros, which every
		 * family accepts. */
		if (bundle_code_values(b, r, r->in, x) != 0)
			memset(x, 0, p * sizeof *x);
		sl__err_clear();
		rc = m->ops->predict(m, x, 1, x + p);
		if (rc == 0 && groups)
			rc = m->ops->explain(m, x, 1, x + p + k);
	}
	bundle_row_free(r);
	sl__free(x);
	return rc;
}
