/*
 * The part every train.* step shares (train.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "steps/train.h"
#include "monitor/reference.h"

const step_opt train_column = {.type = OPT_STRING, .len = "[1,)"};

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

const step_port train_inputs[] = {
	{"train", "dataset", false, "the training rows"},
	{"valid", "dataset", true, "rows to score the model on (metrics valid_*)"},
	{NULL, NULL, false, NULL},
};

const step_port train_outputs[] = {
	{"model", "model", false, "the fitted model"},
	{NULL, NULL, false, NULL},
};

/*
 * The first ceil(share * n) rows of one fixed shuffle of the training rows,
 * kept in their order: a smaller share's rows are among a larger one's, so
 * successive halving over rows gives each rung more of the same data.
 */
static int sample_rows(ds_table **t, double share)
{
	size_t n = ds_nrow(*t), k = (size_t)ceil(share * (double)n), *perm;
	ds_builder *b = NULL;
	ds_table *out = NULL;
	sl__rng rng;
	int rc = 0;

	if (k >= n)
		return 0;
	if (k == 0)
		k = 1;
	if (!(perm = sl__malloc(n * sizeof *perm)))
		return sl__oom();
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	sl__rng_seed(&rng, 0x73616d706c65ULL);
	sl__rng_shuffle(&rng, perm, n);
	qsort(perm, k, sizeof *perm, cmp_size);
	rc = ds_builder_new(&b);
	for (size_t j = 0; rc == 0 && j < ds_ncol(*t); j++) {
		size_t bj;
		rc = ds_builder_add_col(b, ds_col_name(*t, j), ds_col_type(*t, j), &bj);
		if (rc == 0)
			rc = ds_append_from(b, bj, *t, j, perm, k);
	}
	if (rc == 0)
		rc = ds_builder_finish(b, &out);
	ds_builder_free(b);
	sl__free(perm);
	if (rc)
		return rc;
	ds_close(*t);
	*t = out;
	return 0;
}

double train_with_num(const json_t *with, const char *name, double def)
{
	const json_t *v = json_object_get(with, name);

	return json_is_number(v) ? json_number_value(v) : def;
}

void train_log_warnings(step_ctx *ctx, const ml_model *m)
{
	json_t *w = json_object_get(m->info, "warnings"), *v;
	size_t i;

	json_array_foreach(w, i, v)
		step_log(ctx, "warning: %s", json_string_value(v));
}

void train_data_free(train_data *d)
{
	ml_frame_free(&d->train);
	ds_close(d->train_t);
	ds_close(d->valid_t);
	sl__free(d->valid_X);
	sl__free(d->valid_y);
	memset(d, 0, sizeof *d);
}

int train_open(step_ctx *ctx, ml_frame_opts fo, const char *const *extra_exclude,
	       size_t n_extra, train_data *d)
{
	const char *train_path = step_input(ctx, "train"), *valid_path = step_input(ctx, "valid");
	const char **feats = NULL, **excl = NULL, **all_excl = NULL;
	size_t n_feats = 0, n_excl = 0;
	int rc;

	memset(d, 0, sizeof *d);
	if ((rc = step_opt_strings(ctx, "features", &feats, &n_feats)) ||
	    (rc = step_opt_strings(ctx, "exclude", &excl, &n_excl)))
		goto out;
	all_excl = sl__calloc(n_excl + n_extra + 1, sizeof *all_excl);
	if (!all_excl) {
		rc = step_fail(ctx, SL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_excl; i++)
		all_excl[i] = excl[i];
	for (size_t i = 0; i < n_extra; i++)
		all_excl[n_excl + i] = extra_exclude[i];
	fo.target = step_opt_str(ctx, "target");
	fo.features = feats;
	fo.n_features = n_feats;
	fo.exclude = all_excl;
	fo.n_exclude = n_excl + n_extra;
	fo.step = ctx->def->name;
	if ((rc = ds_open(train_path, 0, &d->train_t)) ||
	    (valid_path && (rc = ds_open(valid_path, 0, &d->valid_t)))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	if (step_opt_json(ctx, "sample_rows") &&
	    (rc = sample_rows(&d->train_t, step_opt_num(ctx, "sample_rows", 1)))) {
		rc = step_fail(ctx, rc, "sampling the training rows: %s", sl_errmsg());
		goto out;
	}
	if ((rc = ml_frame_build(d->train_t, &fo, &d->train))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	for (size_t i = 0; i < d->train.n_warnings; i++)
		step_log(ctx, "warning: %s", d->train.warnings[i]);
	step_log(ctx, "%zu training rows, %zu features, task %s", d->train.n,
		 d->train.sig.n_features, ml_task_name(d->train.sig.task));
	if (d->valid_t && ds_nrow(d->valid_t) > 0) {
		rc = ml_frame_apply(&d->train.sig, d->valid_t, &d->valid_X,
				    d->train.sig.target ? &d->valid_y : NULL);
		if (rc) {
			rc = step_fail(ctx, rc, "valid: %s", sl_errmsg());
			goto out;
		}
		d->n_valid = ds_nrow(d->valid_t);
		if (d->train.sig.target && !d->valid_y) {
			rc = step_fail(ctx, SL_EINVAL, "valid: the target column '%s' is missing",
				       d->train.sig.target);
			goto out;
		}
	}
out:
	sl__free(feats);
	sl__free(excl);
	sl__free(all_excl);
	if (rc)
		train_data_free(d);
	return rc;
}

static int set_num(json_t *obj, const char *prefix, const char *name, double v)
{
	char key[128];

	if (!isfinite(v))
		return 0; /* undefined (one class in the rows): not recorded */
	snprintf(key, sizeof key, "%s_%s", prefix, name);
	return json_object_set_new(obj, key, json_real(v)) ? sl__err(SL_ENOMEM, "out of memory")
							   : 0;
}

int train_score_into(const ml_signature *sig, const double *y, const double *p, size_t n,
		     const char *prefix, json_t *obj)
{
	size_t k = sig->n_outputs;
	int rc = 0;

	switch (sig->task) {
	case ML_BINARY: {
		double *p1 = sl__malloc((n ? n : 1) * sizeof *p1);
		if (!p1)
			return sl__err(SL_ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			p1[i] = p[i * k + 1];
		rc = set_num(obj, prefix, "auc", ml_metric_auc(y, p1, NULL, n));
		if (!rc)
			rc = set_num(obj, prefix, "logloss", ml_metric_logloss(y, p1, NULL, n));
		sl__free(p1);
		if (!rc)
			rc = set_num(obj, prefix, "accuracy", ml_metric_accuracy(y, p, k, NULL, n));
		break;
	}
	case ML_MULTICLASS:
		rc = set_num(obj, prefix, "logloss", ml_metric_mlogloss(y, p, k, NULL, n));
		if (!rc)
			rc = set_num(obj, prefix, "accuracy", ml_metric_accuracy(y, p, k, NULL, n));
		break;
	case ML_REGRESSION:
		rc = set_num(obj, prefix, "rmse", ml_metric_rmse(y, p, NULL, n));
		if (!rc)
			rc = set_num(obj, prefix, "mae", ml_metric_mae(y, p, NULL, n));
		if (!rc)
			rc = set_num(obj, prefix, "r2", ml_metric_r2(y, p, NULL, n));
		break;
	case ML_ANOMALY:
	case ML_FORECAST:
		break; /* scored by evaluate, which knows about labels and time */
	}
	return rc;
}

/* Predicts X (n rows) with m and adds the scores to obj. */
static int score(const ml_model *m, const double *X, const double *y, size_t n,
		 const char *prefix, json_t *obj)
{
	double *p;
	int rc;

	if (n == 0 || !y)
		return 0;
	p = sl__malloc(n * m->sig.n_outputs * sizeof *p);
	if (!p)
		return sl__err(SL_ENOMEM, "out of memory");
	rc = ml_model_predict(m, X, n, p);
	if (!rc)
		rc = train_score_into(&m->sig, y, p, n, prefix, obj);
	sl__free(p);
	return rc;
}

int train_finish(step_ctx *ctx, train_data *d, ml_model *m)
{
	const char *out = step_output(ctx, "model");
	json_t *scores = json_object(), *meta, *v;
	double *X = NULL;
	const char *key;
	int rc;

	if (!scores) {
		ml_model_free(m);
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	}
	rc = score(m, d->valid_X, d->valid_y, d->n_valid, "valid", scores);
	if (!rc && d->train.y && !(rc = ml_frame_matrix(&d->train, &X)))
		rc = score(m, X, d->train.y, d->train.n, "train", scores);
	sl__free(X);
	X = NULL;
	/* evaluate's baseline must be fitted on the training rows, and it only
	 * has the model: the training target travels in its info. */
	if (!rc)
		rc = ml_baseline_summary(&d->train, m->info);
	if (rc) {
		json_decref(scores);
		ml_model_free(m);
		return step_fail(ctx, rc, "scoring the model: %s", sl_errmsg());
	}
	json_object_foreach(scores, key, v) {
		step_metric(ctx, key, json_real_value(v));
		step_log(ctx, "%s = %.6g", key, json_real_value(v));
	}
	/* The scores travel with the model: a bundle made from it shows them. */
	json_object_set_new(m->info, "scores", scores);
	/* So do the datasets it learned from, by artifact id: a bundle's lineage
	 * starts here (ids are content hashes, so the file stays deterministic). */
	json_t *lin = NULL, *mon = NULL;
	if (step_input_id(ctx, "train")) {
		json_t *ds = json_pack("{s:s}", "train", step_input_id(ctx, "train"));
		if (ds && step_input_id(ctx, "valid"))
			json_object_set_new(ds, "valid", json_string(step_input_id(ctx, "valid")));
		lin = ds ? json_pack("{s:{s:o}}", "lineage", "datasets", ds) : NULL;
		if (!lin) {
			ml_model_free(m);
			return step_oom(ctx);
		}
	}
	/* Live monitoring's reference: the training rows' profile, the
	 * predictions' and the calibration, from the validation rows when there
	 * are any (monitor/reference.h). Only training has these rows. */
	if (d->n_valid && d->valid_X)
		rc = mref_build(m, d->train_t, d->valid_X, d->valid_y, d->n_valid, "valid", &mon);
	else if (!(rc = ml_frame_matrix(&d->train, &X)))
		rc = mref_build(m, d->train_t, X, d->train.y, d->train.n, "train", &mon);
	sl__free(X);
	if (!rc && !lin && !(lin = json_object()))
		rc = SL_ENOMEM;
	if (!rc && json_object_set_new(lin, "monitoring", mon))
		rc = SL_ENOMEM;
	if (rc) {
		json_decref(lin);
		ml_model_free(m);
		return step_fail(ctx, rc, "the monitoring reference: %s", sl_errmsg());
	}
	rc = ml_model_save(m, lin, out);
	json_decref(lin);
	if (rc) {
		ml_model_free(m);
		return step_fail(ctx, rc, "writing the model: %s", sl_errmsg());
	}
	meta = json_pack("{s:s, s:s, s:I}", "algorithm", m->ops->algorithm, "task",
			 ml_task_name(m->sig.task), "inputs", (json_int_t)m->sig.n_features);
	if (meta && m->sig.target)
		json_object_set_new(meta, "target", json_string(m->sig.target));
	if (meta)
		step_output_meta(ctx, "model", meta);
	ml_model_free(m);
	return 0;
}
