/*
 * Models in general: tasks, signatures, the table of model families, and a
 * model's life (new, predict, save, load, free). The families themselves
 * live one per file (gbdt.c, linear.c, ...) behind ml_ops (ml.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"
#include "pool.h"

/* ---- tasks ---------------------------------------------------------------- */

static const char *const task_names[] = {
	[ML_REGRESSION] = "regression", [ML_BINARY] = "binary",
	[ML_MULTICLASS] = "multiclass", [ML_ANOMALY] = "anomaly",
	[ML_FORECAST] = "forecast",
};

const char *ml_task_name(ml_task t)
{
	if ((size_t)t < SL__ARRAY_LEN(task_names) && task_names[t])
		return task_names[t];
	return "?";
}

bool ml_task_parse(const char *name, ml_task *out)
{
	for (size_t i = 1; i < SL__ARRAY_LEN(task_names); i++) {
		if (task_names[i] && !strcmp(task_names[i], name)) {
			*out = (ml_task)i;
			return true;
		}
	}
	return false;
}

/* ---- the families ------------------------------------------------------- */

extern const ml_ops ml_baseline_ops;
extern const ml_ops ml_forecast_ops;
extern const ml_ops ml_gbdt_ops;
extern const ml_ops ml_iforest_ops;
extern const ml_ops ml_linear_ops;
extern const ml_ops ml_logistic_ops;
extern const ml_ops ml_naive_bayes_ops;

/* Sorted by algorithm name; a new family is one line here. */
static const ml_ops *const families[] = {
	&ml_baseline_ops,
	&ml_forecast_ops,
	&ml_gbdt_ops,
	&ml_iforest_ops,
	&ml_linear_ops,
	&ml_logistic_ops,
	&ml_naive_bayes_ops,
};

const ml_ops *ml_ops_find(const char *algorithm)
{
	for (size_t i = 0; i < SL__ARRAY_LEN(families); i++)
		if (!strcmp(families[i]->algorithm, algorithm))
			return families[i];
	return NULL;
}

/* ---- signatures ------------------------------------------------------------ */

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		sl__free(v[i]);
	sl__free(v);
}

void ml_signature_clear(ml_signature *s)
{
	for (size_t j = 0; j < s->n_features; j++) {
		sl__free(s->features[j].name);
		free_strv(s->features[j].dict, s->features[j].n_dict);
	}
	sl__free(s->features);
	sl__free(s->target);
	free_strv(s->classes, s->n_classes);
	free_strv(s->outputs, s->n_outputs);
	memset(s, 0, sizeof *s);
}

static int dup_strv(char ***dst, char *const *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	*dst = sl__calloc(n, sizeof **dst);
	if (!*dst)
		return sl__oom();
	for (size_t i = 0; i < n; i++)
		if (!((*dst)[i] = sl__strdup(src[i]))) {
			/* The caller records the count only on success: free
			 * what was copied here, or it leaks. */
			free_strv(*dst, i);
			*dst = NULL;
			return sl__oom();
		}
	return 0;
}

int ml_signature_copy(ml_signature *dst, const ml_signature *src)
{
	int rc = 0;

	dst->task = src->task;
	dst->target_type = src->target_type;
	if (src->n_features) {
		dst->features = sl__calloc(src->n_features, sizeof *dst->features);
		if (!dst->features)
			return sl__oom();
		dst->n_features = src->n_features;
	}
	for (size_t j = 0; j < src->n_features && !rc; j++) {
		ml_feature *f = &dst->features[j];
		f->type = src->features[j].type;
		f->name = sl__strdup(src->features[j].name);
		if (!f->name)
			rc = sl__oom();
		else if (!(rc = dup_strv(&f->dict, src->features[j].dict, src->features[j].n_dict)))
			f->n_dict = src->features[j].n_dict;
	}
	if (!rc && src->target && !(dst->target = sl__strdup(src->target)))
		rc = sl__oom();
	if (!rc && !(rc = dup_strv(&dst->classes, src->classes, src->n_classes)))
		dst->n_classes = src->n_classes;
	if (!rc && !(rc = dup_strv(&dst->outputs, src->outputs, src->n_outputs)))
		dst->n_outputs = src->n_outputs;
	if (rc)
		ml_signature_clear(dst);
	return rc;
}

int ml_signature_set_outputs(ml_signature *s)
{
	static const char *const regression[] = {"prediction"};
	static const char *const anomaly[] = {"score", "anomaly"};
	static const char *const forecast[] = {"forecast", "lo80", "hi80", "lo95", "hi95"};
	const char *const *fixed = NULL;
	size_t n = 0;

	free_strv(s->outputs, s->n_outputs);
	s->outputs = NULL;
	s->n_outputs = 0;
	switch (s->task) {
	case ML_REGRESSION:
		fixed = regression;
		n = 1;
		break;
	case ML_ANOMALY:
		fixed = anomaly;
		n = 2;
		break;
	case ML_FORECAST:
		fixed = forecast;
		n = 5;
		break;
	case ML_BINARY:
	case ML_MULTICLASS:
		n = s->n_classes;
		break;
	}
	if (n == 0)
		return sl__err(SL_EINVAL, "a %s model has no outputs", ml_task_name(s->task));
	s->outputs = sl__calloc(n, sizeof *s->outputs);
	if (!s->outputs)
		return sl__oom();
	s->n_outputs = n;
	for (size_t k = 0; k < n; k++) {
		s->outputs[k] = fixed ? sl__strdup(fixed[k]) : sl__asprintf("proba_%s", s->classes[k]);
		if (!s->outputs[k])
			return sl__oom();
	}
	return 0;
}

long ml_signature_find(const ml_signature *s, const char *name)
{
	for (size_t j = 0; j < s->n_features; j++)
		if (!strcmp(s->features[j].name, name))
			return (long)j;
	return -1;
}

long ml_signature_code(const ml_signature *s, size_t j, const char *value, size_t len)
{
	const ml_feature *f = &s->features[j];

	/* Dictionaries are short in practice (categories, not free text), and
	 * a scan of a few dozen short strings beats building an index that
	 * every model would have to carry. */
	for (uint32_t k = 0; k < f->n_dict; k++)
		if (strlen(f->dict[k]) == len && memcmp(f->dict[k], value, len) == 0)
			return (long)k;
	return -1;
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int ml_signature_to_json(const ml_signature *s, json_t **out)
{
	json_t *o = json_object(), *feats = json_array();
	int bad = !o || !feats;

	for (size_t j = 0; !bad && j < s->n_features; j++) {
		const ml_feature *f = &s->features[j];
		json_t *fo = json_pack("{s:s, s:s}", "name", f->name, "type", ds_type_name(f->type));
		bad = !fo;
		if (!bad && f->type == DS_STRING)
			bad = json_object_set_new(fo, "categories", strv_json(f->dict, f->n_dict)) != 0;
		if (!bad)
			bad = json_array_append_new(feats, fo) != 0;
		else
			json_decref(fo);
	}
	if (!bad)
		bad = json_object_set_new(o, "task", json_string(ml_task_name(s->task))) ||
		      json_object_set(o, "inputs", feats) ||
		      json_object_set_new(o, "outputs", strv_json(s->outputs, s->n_outputs));
	if (!bad && s->target)
		bad = json_object_set_new(o, "target", json_pack("{s:s, s:s}", "name", s->target,
								 "type", ds_type_name(s->target_type)));
	if (!bad && s->n_classes)
		bad = json_object_set_new(o, "classes", strv_json(s->classes, s->n_classes));
	json_decref(feats);
	if (bad) {
		json_decref(o);
		return sl__oom();
	}
	*out = o;
	return 0;
}

/* How many outputs a task has (ml.h); classifiers one per class. */
static size_t task_outputs(const ml_signature *s)
{
	switch (s->task) {
	case ML_REGRESSION:
		return 1;
	case ML_ANOMALY:
		return 2;
	case ML_FORECAST:
		return 5;
	case ML_BINARY:
	case ML_MULTICLASS:
		return s->n_classes;
	}
	return 0;
}

static int strv_from_json(const json_t *a, const char *where, const char *what, char ***out,
			  size_t *out_n)
{
	size_t n, i;
	json_t *v;

	*out = NULL;
	*out_n = 0;
	if (!json_is_array(a))
		return sl__err(SL_ECORRUPT, "%s: signature %s is not a list", where, what);
	n = json_array_size(a);
	if (n == 0)
		return 0;
	*out = sl__calloc(n, sizeof **out);
	if (!*out)
		return sl__oom();
	*out_n = n;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return sl__err(SL_ECORRUPT, "%s: signature %s[%zu] is not a string", where, what, i);
		if (!((*out)[i] = sl__strdup(json_string_value(v))))
			return sl__oom();
	}
	return 0;
}

int ml_signature_from_json(const json_t *j, const char *where, ml_signature *s)
{
	const json_t *inputs = json_object_get(j, "inputs"), *v;
	const char *task = json_string_value(json_object_get(j, "task"));
	const json_t *target = json_object_get(j, "target");
	size_t i;
	int rc;

	memset(s, 0, sizeof *s);
	if (!task || !ml_task_parse(task, &s->task))
		return sl__err(SL_ECORRUPT, "%s: signature has no known task", where);
	if (!json_is_array(inputs))
		return sl__err(SL_ECORRUPT, "%s: signature has no inputs", where);
	if (json_array_size(inputs)) {
		s->features = sl__calloc(json_array_size(inputs), sizeof *s->features);
		if (!s->features)
			return sl__oom();
	}
	json_array_foreach(inputs, i, v) {
		ml_feature *f = &s->features[i];
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *type = json_string_value(json_object_get(v, "type"));
		size_t nd = 0;
		s->n_features = i + 1;
		if (!name || !type || !ds_type_parse(type, &f->type)) {
			ml_signature_clear(s);
			return sl__err(SL_ECORRUPT, "%s: signature input %zu is malformed", where, i);
		}
		if (!(f->name = sl__strdup(name))) {
			ml_signature_clear(s);
			return sl__oom();
		}
		if (f->type == DS_STRING) {
			rc = strv_from_json(json_object_get(v, "categories"), where, "categories",
					    &f->dict, &nd);
			f->n_dict = (uint32_t)nd;
			if (rc) {
				ml_signature_clear(s);
				return rc;
			}
		}
	}
	if (target) {
		const char *tn = json_string_value(json_object_get(target, "name"));
		const char *tt = json_string_value(json_object_get(target, "type"));
		if (!tn || !tt || !ds_type_parse(tt, &s->target_type)) {
			ml_signature_clear(s);
			return sl__err(SL_ECORRUPT, "%s: signature target is malformed", where);
		}
		if (!(s->target = sl__strdup(tn))) {
			ml_signature_clear(s);
			return sl__oom();
		}
	}
	if (json_object_get(j, "classes") &&
	    (rc = strv_from_json(json_object_get(j, "classes"), where, "classes", &s->classes,
				 &s->n_classes))) {
		ml_signature_clear(s);
		return rc;
	}
	if ((rc = strv_from_json(json_object_get(j, "outputs"), where, "outputs", &s->outputs,
				 &s->n_outputs))) {
		ml_signature_clear(s);
		return rc;
	}
	/* Every family sizes predict's output from n_outputs: a file whose
	 * outputs do not fit its task would make predict write past the
	 * caller's buffer, so the count is checked here, once for all. */
	if (s->n_outputs != task_outputs(s) || (ml_task_is_classifier(s->task) && s->n_classes < 2)) {
		ml_signature_clear(s);
		return sl__err(SL_ECORRUPT, "%s: the signature's outputs do not fit its task",
			       where);
	}
	return 0;
}

/* ---- a model's life -------------------------------------------------------- */

int ml_model_new(const ml_ops *ops, ml_signature *sig, json_t *params, ml_model **out)
{
	ml_model *m = sl__calloc(1, sizeof *m);

	*out = NULL;
	if (!m) {
		/* Ownership of both moved in, so both go: the caller's copy of
		 * sig would otherwise leak on this path alone. */
		ml_signature_clear(sig);
		json_decref(params);
		return sl__oom();
	}
	m->ops = ops;
	m->sig = *sig;
	memset(sig, 0, sizeof *sig);
	m->params = params ? params : json_object();
	m->info = json_object();
	if (!m->params || !m->info) {
		ml_model_free(m);
		return sl__oom();
	}
	*out = m;
	return 0;
}

void ml_model_free(ml_model *m)
{
	if (!m)
		return;
	if (m->impl && m->ops && m->ops->free_impl)
		m->ops->free_impl(m->impl);
	ml_signature_clear(&m->sig);
	json_decref(m->params);
	json_decref(m->info);
	mfile_close(m->file);
	sl__free(m);
}

/* Rows per block when a batch is split across the pool: large enough that
 * handing out a block costs nothing next to predicting it. */
#define PREDICT_BLOCK 2048

typedef struct predict_job {
	const ml_model *m;
	const double *X;
	double *out;
	size_t n;
	int rc; /* first failure (atomic) */
} predict_job;

static void predict_block(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	predict_job *j = ctx;
	const ml_model *m = j->m;
	int rc;

	(void)worker;
	rc = m->ops->predict(m, j->X + lo * m->sig.n_features, hi - lo,
			     j->out + lo * m->sig.n_outputs);
	if (rc) {
		int zero = 0;
		__atomic_compare_exchange_n(&j->rc, &zero, rc, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	}
}

int ml_model_predict(const ml_model *m, const double *X, size_t n, double *out)
{
	predict_job j = {m, X, out, n, 0};

	if (n <= PREDICT_BLOCK)
		return m->ops->predict(m, X, n, out);
	sl__parallel_range(0, n, PREDICT_BLOCK, predict_block, &j);
	return j.rc;
}

int ml_model_save(const ml_model *m, const json_t *extra, const char *path)
{
	return ml_model_save_with(m, extra, NULL, NULL, 0, path);
}

int ml_model_save_with(const ml_model *m, const json_t *extra, const char *section,
		       const void *data, size_t len, const char *path)
{
	mfile_writer *w = NULL;
	json_t *man = NULL, *sig = NULL;
	int rc;

	if ((rc = mfile_writer_new(&w)) || (rc = ml_signature_to_json(&m->sig, &sig)))
		goto out;
	man = json_pack("{s:s, s:i, s:s, s:s, s:O, s:O, s:O, s:s}", "kind", "model", "format", 1,
			"algorithm", m->ops->algorithm, "task", ml_task_name(m->sig.task),
			"signature", sig, "params", m->params, "info", m->info,
			"sluice_version", SLUICE_VERSION);
	if (!man) {
		rc = sl__oom();
		goto out;
	}
	if (extra && json_object_update(man, (json_t *)extra) != 0) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = m->ops->save(m, w)))
		goto out;
	if (section && (rc = mfile_add(w, section, data, len)))
		goto out;
	rc = mfile_write(w, man, path);
out:
	json_decref(sig);
	json_decref(man);
	mfile_writer_free(w);
	return rc;
}

int ml_model_load_mfile(mfile *f, ml_model **out)
{
	const json_t *man = mfile_manifest(f);
	const char *kind = json_string_value(json_object_get(man, "kind"));
	const char *algo = json_string_value(json_object_get(man, "algorithm"));
	const json_t *params = json_object_get(man, "params"), *info = json_object_get(man, "info");
	const ml_ops *ops;
	ml_signature sig;
	ml_model *m;
	int rc;

	*out = NULL;
	if (!kind || (strcmp(kind, "model") && strcmp(kind, "bundle"))) {
		rc = sl__err(SL_ECORRUPT, "%s: not a model (kind %s)", mfile_name(f),
			     kind ? kind : "missing");
		mfile_close(f);
		return rc;
	}
	if (!algo || !(ops = ml_ops_find(algo))) {
		rc = sl__err(SL_EUNSUP, "%s: unknown algorithm '%s' (written by a newer sluice?)",
			     mfile_name(f), algo ? algo : "");
		mfile_close(f);
		return rc;
	}
	if ((rc = ml_signature_from_json(json_object_get(man, "signature"), mfile_name(f), &sig))) {
		mfile_close(f);
		return rc;
	}
	if ((rc = ml_model_new(ops, &sig, json_is_object(params) ? json_deep_copy(params) : NULL,
			       &m))) {
		mfile_close(f);
		return rc;
	}
	m->file = f;
	if (json_is_object(info) && json_object_update(m->info, (json_t *)info) != 0) {
		ml_model_free(m);
		return sl__oom();
	}
	if ((rc = ops->load(m, f))) {
		ml_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int ml_model_load(const char *path, ml_model **out)
{
	mfile *f;
	int rc = mfile_open(path, &f);

	*out = NULL;
	if (rc)
		return rc;
	return ml_model_load_mfile(f, out);
}
