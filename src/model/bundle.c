/*
 * Bundles (bundle.h): writing one from a model file and a transform, and
 * scoring raw rows through the transform into the model.
 *
 * At open, each model input is bound to its source once: a transform output
 * column (or a raw input when there is no transform), with a dictionary
 * index for string features. Scoring a row is then the transform's row
 * kernel, a copy per feature (or one index lookup for a string) and the
 * model's predict: no name lookups and no allocation per row.
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
	size_t n_in;         /* raw inputs */
	char **in_names;     /* raw input names when there is no transform (borrowed) */
	ds_type *in_types;
	bool *in_needed;     /* per raw input: does it decide an output or a filter? */
};

struct bundle_row {
	transform_row *tr;
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

static int bind_inputs(bundle *b, const char *path)
{
	const ml_signature *sig = &b->model->sig;
	size_t nsrc = b->tf ? transform_n_outputs(b->tf) : sig->n_features;

	b->bind = sl__calloc(sig->n_features ? sig->n_features : 1, sizeof *b->bind);
	if (!b->bind)
		return sl__oom();
	for (size_t j = 0; j < sig->n_features; j++) {
		const ml_feature *f = &sig->features[j];
		binding *bd = &b->bind[j];
		size_t k = 0;
		int rc;
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
	if (b->tf) {
		bool *used = sl__calloc(nsrc + 1, sizeof *used);
		int rc;
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
	tj = json_object_get(man, "transform");
	if (tj) {
		char *text = sl__json_dumps(tj, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
		if (!text) {
			rc = sl__oom();
			goto fail;
		}
		rc = transform_parse(text, strlen(text), path, &b->tf);
		free(text);
		if (rc)
			goto fail;
	}
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
	if (!r || !(r->vals = sl__calloc(nv ? nv : 1, sizeof *r->vals))) {
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
	sl__free(r->vals);
	sl__free(r);
}

/* The model's inputs from a transformed row, then the prediction. */
static int finish(const bundle *b, const expr_value *v, double *x, double *out)
{
	const ml_signature *sig = &b->model->sig;
	size_t p = sig->n_features;
	double stack[64], *in = x ? x : p <= 64 ? stack : NULL;
	int rc;

	if (!in && !(in = sl__malloc(p * sizeof *in)))
		return sl__oom();
	for (size_t j = 0; j < p; j++) {
		const binding *bd = &b->bind[j];
		const expr_value *e = &v[bd->src];
		if (e->null) {
			in[j] = NAN;
			continue;
		}
		switch (bd->src_type) {
		case DS_FLOAT64:
			in[j] = e->f;
			break;
		case DS_STRING: {
			long c = ml_dict_index_find(bd->dict, e->s, e->len);
			in[j] = c < 0 ? NAN : (double)c;
			break;
		}
		default:
			in[j] = (double)e->i;
			break;
		}
	}
	rc = b->model->ops->predict(b->model, in, 1, out);
	if (in != x && in != stack)
		sl__free(in);
	return rc;
}

int bundle_score_values(const bundle *b, bundle_row *r, const expr_value *in, double *x,
			double *out)
{
	int rc;

	if (!b->tf)
		return finish(b, in, x, out);
	rc = transform_apply_row(b->tf, r->tr, in, r->vals);
	if (rc)
		return rc; /* TRANSFORM_REJECTED or an error */
	return finish(b, r->vals, x, out);
}

/* A raw row without a transform: the JSON fields typed as the model's inputs. */
static int values_from_json(const bundle *b, const json_t *row, expr_value *v)
{
	if (!json_is_object(row))
		return sl__err(SL_EINVAL, "expected a JSON object of column values");
	for (size_t k = 0; k < b->n_in; k++) {
		const json_t *j = json_object_get(row, b->in_names[k]);
		expr_value *e = &v[k];
		memset(e, 0, sizeof *e);
		if (!j || json_is_null(j)) {
			e->null = true;
			continue;
		}
		switch (b->in_types[k]) {
		case DS_STRING:
			if (!json_is_string(j))
				return sl__err(SL_EINVAL, "'%s' must be a string", b->in_names[k]);
			e->s = json_string_value(j);
			e->len = json_string_length(j);
			break;
		case DS_FLOAT64:
			if (!json_is_number(j))
				return sl__err(SL_EINVAL, "'%s' must be a number", b->in_names[k]);
			e->f = json_number_value(j);
			break;
		case DS_BOOL:
			if (!json_is_boolean(j))
				return sl__err(SL_EINVAL, "'%s' must be true or false", b->in_names[k]);
			e->i = json_is_true(j);
			break;
		case DS_TIMESTAMP:
			if (!json_is_string(j) ||
			    !ds_parse_timestamp(json_string_value(j), json_string_length(j), &e->i))
				return sl__err(SL_EINVAL, "'%s' must be an ISO 8601 time stamp",
					       b->in_names[k]);
			break;
		case DS_INT64:
			if (!json_is_integer(j))
				return sl__err(SL_EINVAL, "'%s' must be an integer", b->in_names[k]);
			e->i = (int64_t)json_integer_value(j);
			break;
		}
	}
	return 0;
}

int bundle_score_json(const bundle *b, bundle_row *r, const json_t *row, double *x, double *out)
{
	int rc;

	if (b->tf) {
		rc = transform_apply_json(b->tf, r->tr, row, r->vals);
		return rc ? rc : finish(b, r->vals, x, out);
	}
	rc = values_from_json(b, row, r->vals);
	return rc ? rc : finish(b, r->vals, x, out);
}
