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

#include "ml/ml.h"

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
		return sl__err(SL_ENOMEM, "out of memory");
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

const ml_ops ml_baseline_ops = {
	.algorithm = "baseline",
	.predict = baseline_predict,
	.save = baseline_save,
	.load = baseline_load,
	.free_impl = baseline_free,
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int ml_baseline_fit(const ml_frame *fr, const char *strategy, ml_model **out)
{
	ml_signature sig = {0};
	size_t k, n = fr->n;
	baseline *b = NULL;
	json_t *params;
	int rc;

	*out = NULL;
	if ((rc = ml_signature_copy(&sig, &fr->sig)))
		return rc;
	k = sig.n_outputs;
	b = sl__calloc(1, sizeof *b);
	if (b)
		b->own = sl__calloc(k ? k : 1, sizeof *b->own);
	if (!b || !b->own) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto fail;
	}
	if (ml_task_is_classifier(sig.task)) {
		strategy = "prior";
		for (size_t i = 0; i < n; i++)
			b->own[(size_t)fr->y[i]] += 1.0 / (double)n;
	} else if (sig.task == ML_ANOMALY) {
		strategy = "constant";
		b->own[0] = 0.5;
	} else if (sig.task == ML_REGRESSION) {
		if (!strategy)
			strategy = "mean";
		if (!strcmp(strategy, "median")) {
			double *s = sl__malloc((n ? n : 1) * sizeof *s);
			if (!s) {
				rc = sl__err(SL_ENOMEM, "out of memory");
				goto fail;
			}
			memcpy(s, fr->y, n * sizeof *s);
			qsort(s, n, sizeof *s, cmp_double);
			b->own[0] = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
			sl__free(s);
		} else if (!strcmp(strategy, "mean")) {
			long double sum = 0;
			for (size_t i = 0; i < n; i++)
				sum += fr->y[i];
			b->own[0] = (double)(sum / (long double)n);
		} else {
			rc = sl__err(SL_EINVAL, "baseline strategy '%s': use mean or median", strategy);
			goto fail;
		}
	} else {
		rc = sl__err(SL_EUNSUP, "no input-free baseline for a %s model",
			     ml_task_name(sig.task));
		goto fail;
	}
	b->values = b->own;
	params = json_pack("{s:s}", "strategy", strategy);
	if ((rc = ml_model_new(&ml_baseline_ops, &sig, params, out)))
		goto fail;
	(*out)->impl = b;
	return 0;
fail:
	ml_signature_clear(&sig);
	baseline_free(b);
	return rc;
}
