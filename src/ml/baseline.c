/*
 * The baseline: the model that ignores its inputs. Every evaluation scores
 * one beside the real model on the same rows, because sometimes the simple
 * answer wins and the report must say so:
 *   classifiers  the class frequencies of the training rows ("prior"); the
 *                label it predicts is the majority class
 *   regression   the training mean ("mean") or median ("median")
 *   anomaly      a constant score of 0.5 and no anomalies ("constant")
 * Forecasts have their own baseline (seasonal naive, in the forecast
 * family), which knows about time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "ml/ml.h"
#include "stats.h"

typedef struct baseline {
	const double *values; /* n_outputs: what every row gets */
	double *own;          /* the array when trained here (else in the file) */
} baseline;

static int baseline_predict(const ml_model *m, const double *X, size_t n, double *out)
{
	const baseline *b = m->impl;
	size_t k = m->sig.n_outputs;

	(void)X;
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * k, b->values, k * sizeof *out);
	return 0;
}

static int baseline_save(const ml_model *m, mfile_writer *w)
{
	const baseline *b = m->impl;

	return mfile_add(w, "values", b->values, m->sig.n_outputs * sizeof(double));
}

static int baseline_load(ml_model *m, const mfile *f)
{
	baseline *b = sl__calloc(1, sizeof *b);
	const void *v;
	int rc;

	if (!b)
		return sl__oom();
	if ((rc = mfile_array(f, "values", sizeof(double), m->sig.n_outputs, &v))) {
		sl__free(b);
		return rc;
	}
	b->values = v;
	m->impl = b;
	return 0;
}

static void baseline_free(void *impl)
{
	baseline *b = impl;

	if (b)
		sl__free(b->own);
	sl__free(b);
}

static int baseline_emit_c(const ml_model *m, sl__cw *w)
{
	const baseline *b = m->impl;
	size_t k = m->sig.n_outputs;

	sl__cw_printf(w, "/* The baseline: the same outputs for every row. */\n");
	sl__cw_doubles(w, "static const double sx_values[]", b->values, k);
	sl__cw_printf(w, "\nstatic void sx_model(const double *x, double *out)\n{\n"
			 "\t(void)x;\n"
			 "\tfor (int k = 0; k < %zu; k++)\n"
			 "\t\tout[k] = sx_values[k];\n"
			 "}\n",
		      k);
	return w->rc;
}

const ml_ops ml_baseline_ops = {
	.algorithm = "baseline",
	.predict = baseline_predict,
	.save = baseline_save,
	.load = baseline_load,
	.free_impl = baseline_free,
	.emit_c = baseline_emit_c,
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A baseline of sig's task (sig is copied) predicting values (n_outputs). */
static int baseline_new(const ml_signature *sig_src, const double *values, const char *strategy,
			ml_model **out)
{
	ml_signature sig = {0};
	baseline *b = NULL;
	size_t k;
	int rc;

	*out = NULL;
	if ((rc = ml_signature_copy(&sig, sig_src)))
		return rc;
	k = sig.n_outputs;
	b = sl__calloc(1, sizeof *b);
	if (b)
		b->own = sl__calloc(k ? k : 1, sizeof *b->own);
	if (!b || !b->own) {
		rc = sl__oom();
		goto fail;
	}
	memcpy(b->own, values, k * sizeof *values);
	b->values = b->own;
	if ((rc = ml_model_new(&ml_baseline_ops, &sig,
			       json_pack("{s:s}", "strategy", strategy), out)))
		goto fail;
	(*out)->impl = b;
	return 0;
fail:
	ml_signature_clear(&sig);
	baseline_free(b);
	return rc;
}

static double median_of(const double *y, size_t n, int *rc)
{
	double *s = sl__malloc((n ? n : 1) * sizeof *s), m;

	if (!s) {
		*rc = sl__oom();
		return NAN;
	}
	memcpy(s, y, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_double);
	/* The midpoint of the middle pair, as scikit-learn's DummyRegressor
	 * (np.median); sl__quantile_sorted at 0.5 would interpolate a + (b - a)
	 * / 2, which can differ in the last bit. */
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	sl__free(s);
	return m;
}

static double mean_of(const double *y, size_t n)
{
	double mean;

	sl__mean_var(y, n, 0, &mean, NULL, NULL);
	return mean;
}

int ml_baseline_fit(const ml_frame *fr, const char *strategy, ml_model **out)
{
	const ml_signature *sig = &fr->sig;
	size_t k = sig->n_outputs, n = fr->n;
	double *v;
	int rc = 0;

	*out = NULL;
	v = sl__calloc(k ? k : 1, sizeof *v);
	if (!v)
		return sl__oom();
	if (ml_task_is_classifier(sig->task)) {
		strategy = "prior";
		for (size_t i = 0; i < n; i++)
			v[(size_t)fr->y[i]] += 1.0 / (double)n;
	} else if (sig->task == ML_ANOMALY) {
		strategy = "constant";
		v[0] = 0.5;
	} else if (sig->task == ML_REGRESSION) {
		if (!strategy)
			strategy = "mean";
		if (!strcmp(strategy, "median"))
			v[0] = median_of(fr->y, n, &rc);
		else if (!strcmp(strategy, "mean"))
			v[0] = mean_of(fr->y, n);
		else
			rc = sl__err(SL_EINVAL, "baseline strategy '%s': use mean or median", strategy);
	} else {
		rc = sl__err(SL_EUNSUP, "no input-free baseline for a %s model",
			     ml_task_name(sig->task));
	}
	if (!rc)
		rc = baseline_new(sig, v, strategy, out);
	sl__free(v);
	return rc;
}

int ml_baseline_summary(const ml_frame *fr, json_t *info)
{
	const ml_signature *sig = &fr->sig;
	size_t n = fr->n;
	json_t *s = NULL;
	int rc = 0;

	if (!fr->y || n == 0)
		return 0;
	if (ml_task_is_classifier(sig->task)) {
		size_t *c = sl__calloc(sig->n_classes, sizeof *c);
		json_t *counts = json_array();
		bool bad = !c || !counts;
		for (size_t i = 0; !bad && i < n; i++)
			c[(size_t)fr->y[i]]++;
		for (size_t k = 0; !bad && k < sig->n_classes; k++)
			bad = json_array_append_new(counts, json_integer((json_int_t)c[k])) != 0;
		sl__free(c);
		if (!bad)
			s = json_pack("{s:I, s:o}", "rows", (json_int_t)n, "class_counts", counts);
		else
			json_decref(counts);
	} else if (sig->task == ML_REGRESSION) {
		double med = median_of(fr->y, n, &rc);
		if (rc)
			return rc;
		s = json_pack("{s:I, s:f, s:f}", "rows", (json_int_t)n, "mean", mean_of(fr->y, n),
			      "median", med);
	} else {
		return 0;
	}
	if (!s || json_object_set_new(info, "training_target", s) != 0)
		return sl__oom();
	return 0;
}

int ml_baseline_for(const ml_model *m, const char *strategy, ml_model **out)
{
	const json_t *s = json_object_get(m->info, "training_target");
	const ml_signature *sig = &m->sig;
	double *v;
	int rc = 0;

	*out = NULL;
	if (!json_is_object(s))
		return SL_ENOENT;
	v = sl__calloc(sig->n_outputs ? sig->n_outputs : 1, sizeof *v);
	if (!v)
		return sl__oom();
	if (ml_task_is_classifier(sig->task)) {
		const json_t *c = json_object_get(s, "class_counts"), *e;
		double total = 0;
		size_t k;
		strategy = "prior";
		if (json_array_size(c) != sig->n_classes || sig->n_outputs != sig->n_classes)
			rc = SL_ECORRUPT;
		json_array_foreach(c, k, e) {
			if (rc || !json_is_integer(e) || json_integer_value(e) < 0) {
				rc = SL_ECORRUPT;
				break;
			}
			v[k] = (double)json_integer_value(e);
			total += v[k];
		}
		if (!rc && !(total > 0))
			rc = SL_ECORRUPT;
		for (k = 0; !rc && k < sig->n_classes; k++)
			v[k] /= total;
	} else if (sig->task == ML_REGRESSION) {
		if (!strategy)
			strategy = "mean";
		if (strcmp(strategy, "mean") && strcmp(strategy, "median"))
			rc = sl__err(SL_EINVAL, "baseline strategy '%s': use mean or median", strategy);
		else if (!json_is_number(json_object_get(s, strategy)) ||
			 !isfinite(v[0] = json_number_value(json_object_get(s, strategy))))
			rc = SL_ECORRUPT;
	} else {
		rc = SL_ENOENT;
	}
	if (rc == SL_ECORRUPT)
		rc = sl__err(SL_ECORRUPT, "the model's training_target summary is malformed");
	if (!rc)
		rc = baseline_new(sig, v, strategy, out);
	sl__free(v);
	return rc;
}
