/*
 * The monitoring reference (reference.h): built from a freshly trained
 * model and its data, written into the model's manifest, read back from a
 * bundle's. Building costs one profile of the model's input columns, one
 * prediction over the reference rows and one isotonic fit.
 */
#include <math.h>
#include <string.h>

#include "core.h"
#include "monitor/reference.h"

const char *mref_class_text(const ml_signature *sig, size_t k)
{
	return k < sig->n_classes ? sig->classes[k] : "?";
}

/* The training table's columns that are model inputs, profiled. */
static int feature_profile(const ml_model *m, const ds_table *t, profile **out)
{
	profile_opts po;
	profile *p;
	int rc = 0;

	profile_opts_default(&po);
	*out = NULL;
	if (!(p = sl__calloc(1, sizeof *p)))
		return sl__oom();
	p->rows = ds_nrow(t);
	p->cols = sl__calloc(m->sig.n_features ? m->sig.n_features : 1, sizeof *p->cols);
	if (!p->cols) {
		sl__free(p);
		return sl__oom();
	}
	for (size_t f = 0; f < m->sig.n_features && !rc; f++) {
		size_t j;
		if (ds_col_find(t, m->sig.features[f].name, &j)) {
			/* A frame's feature is a column of its table; the caller
			 * broke that, which is a bug worth a clear message. */
			rc = sl__err(SL_EINVAL, "reference: the training table has no column '%s'",
				     m->sig.features[f].name);
			break;
		}
		if (!(rc = profile_col_build(t, j, &po, &p->cols[p->n_cols])))
			p->n_cols++;
	}
	if (rc) {
		profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int mref_prediction_table(const ml_signature *sig, const double *P, size_t n, ds_table **out)
{
	size_t k = sig->n_outputs, js = 0, jp = 0;
	bool cls = ml_task_is_classifier(sig->task);
	ds_builder *b = NULL;
	int rc;

	*out = NULL;
	if ((rc = ds_builder_new(&b)))
		return rc;
	if (sig->task == ML_BINARY)
		rc = ds_builder_add_col(b, "score", DS_FLOAT64, &js);
	if (!rc)
		rc = ds_builder_add_col(b, "prediction", cls ? DS_STRING : DS_FLOAT64, &jp);
	for (size_t i = 0; i < n && !rc; i++) {
		const double *row = P + i * k;
		if (sig->task == ML_BINARY)
			rc = ds_append_f64(b, js, row[1]);
		if (!rc && cls) {
			size_t best = 0;
			for (size_t c = 1; c < k; c++)
				if (row[c] > row[best])
					best = c;
			const char *lab = mref_class_text(sig, best);
			rc = ds_append_str(b, jp, lab, strlen(lab));
		} else if (!rc) {
			rc = ds_append_f64(b, jp, row[0]);
		}
	}
	if (!rc)
		rc = ds_builder_finish(b, out);
	ds_builder_free(b);
	return rc;
}

/* Isotonic calibration of a classifier's scores against y (class indices). */
static int fit_calibration(const ml_model *m, const double *P, const double *y, size_t n,
			   const char *set, json_t *obj)
{
	size_t k = m->sig.n_outputs;
	bool binary = m->sig.task == ML_BINARY;
	double *s = sl__malloc((n ? n : 1) * sizeof *s), *t = sl__malloc((n ? n : 1) * sizeof *t);
	calib c;
	json_t *cj;
	int rc;

	if (!s || !t) {
		sl__free(s);
		sl__free(t);
		return sl__oom();
	}
	for (size_t i = 0; i < n; i++) {
		const double *row = P + i * k;
		size_t best = 0;
		for (size_t j = 1; j < k; j++)
			if (row[j] > row[best])
				best = j;
		s[i] = binary ? row[1] : row[best];
		t[i] = binary ? (y[i] == 1) : ((double)best == y[i]);
	}
	rc = calib_fit(s, t, n, &c);
	sl__free(s);
	sl__free(t);
	if (rc)
		return rc;
	cj = calib_to_json(&c);
	calib_clear(&c);
	if (!cj || json_object_set_new(cj, "method", json_string("isotonic")) ||
	    json_object_set_new(cj, "set", json_string(set)) ||
	    json_object_set_new(cj, "target", json_string(binary ? "positive" : "confidence")) ||
	    json_object_set_new(obj, "calibration", cj))
		return sl__oom();
	return 0;
}

int mref_build(const ml_model *m, const ds_table *train, const double *X, const double *y,
	       size_t n, const char *set, json_t **out)
{
	profile *fp = NULL, *pp = NULL;
	ds_table *pt = NULL;
	double *P = NULL;
	json_t *obj = NULL, *j = NULL;
	int rc;

	*out = NULL;
	if ((rc = feature_profile(m, train, &fp)))
		return rc;
	if (!(obj = json_pack("{s:i, s:I}", "format", MREF_FORMAT, "rows", (json_int_t)ds_nrow(train)))) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = profile_to_json(fp, &j)) || (rc = json_object_set_new(obj, "profile", j) ? sl__oom() : 0))
		goto out;
	/* A forecaster predicts from its history, not from rows: its outputs
	 * on X mean nothing, so it has no prediction reference. */
	if (m->sig.task != ML_FORECAST && n > 0 && X) {
		if (!(P = sl__malloc(n * m->sig.n_outputs * sizeof *P))) {
			rc = sl__oom();
			goto out;
		}
		if ((rc = ml_model_predict(m, X, n, P)) || (rc = mref_prediction_table(&m->sig, P, n, &pt)))
			goto out;
		profile_opts po;
		profile_opts_default(&po);
		if ((rc = profile_build(pt, &po, &pp)) || (rc = profile_to_json(pp, &j)))
			goto out;
		if (json_object_set_new(obj, "predictions", j) ||
		    json_object_set_new(obj, "predictions_set", json_string(set))) {
			rc = sl__oom();
			goto out;
		}
		if (ml_task_is_classifier(m->sig.task) && y &&
		    (rc = fit_calibration(m, P, y, n, set, obj)))
			goto out;
	}
	*out = obj;
	obj = NULL;
out:
	json_decref(obj);
	profile_free(fp);
	profile_free(pp);
	ds_close(pt);
	sl__free(P);
	return rc;
}

void mref_free(mref *r)
{
	if (!r)
		return;
	profile_free(r->features);
	profile_free(r->predictions);
	calib_clear(&r->cal);
	sl__free(r->predictions_set);
	sl__free(r->calib_set);
	sl__free(r);
}

int mref_load(const json_t *manifest, mref **out)
{
	const json_t *mj = json_object_get(manifest, "monitoring"), *v;
	mref *r;
	int rc = 0;

	*out = NULL;
	if (!mj)
		return sl__err(SL_ENOENT, "the model carries no monitoring reference (it was "
					  "trained before monitoring existed: retrain and package it)");
	if (!json_is_object(mj) || json_integer_value(json_object_get(mj, "format")) != MREF_FORMAT)
		return sl__err(SL_EINVAL, "monitoring: not a reference of format %d", MREF_FORMAT);
	if (!(r = sl__calloc(1, sizeof *r)))
		return sl__oom();
	r->rows = (uint64_t)json_integer_value(json_object_get(mj, "rows"));
	if ((rc = profile_from_json(json_object_get(mj, "profile"), &r->features))) {
		rc = sl__err_prefix(rc, "monitoring.profile");
		goto fail;
	}
	if ((v = json_object_get(mj, "predictions"))) {
		if ((rc = profile_from_json(v, &r->predictions))) {
			rc = sl__err_prefix(rc, "monitoring.predictions");
			goto fail;
		}
		const char *set = json_string_value(json_object_get(mj, "predictions_set"));
		if (!(r->predictions_set = sl__strdup(set ? set : "?"))) {
			rc = sl__oom();
			goto fail;
		}
	}
	if ((v = json_object_get(mj, "calibration"))) {
		const char *target = json_string_value(json_object_get(v, "target"));
		const char *set = json_string_value(json_object_get(v, "set"));
		if (!target || (strcmp(target, "positive") && strcmp(target, "confidence"))) {
			rc = sl__err(SL_EINVAL, "monitoring.calibration.target: positive or confidence");
			goto fail;
		}
		if ((rc = calib_from_json(v, &r->cal))) {
			rc = sl__err_prefix(rc, "monitoring");
			goto fail;
		}
		r->has_calib = true;
		r->calib_binary = !strcmp(target, "positive");
		if (!(r->calib_set = sl__strdup(set ? set : "?"))) {
			rc = sl__oom();
			goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	mref_free(r);
	return rc;
}
