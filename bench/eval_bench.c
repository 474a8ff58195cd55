/*
 * The sluice side of bench/evaluate.sh: the binary classification metrics
 * of the evaluate step (accuracy, balanced accuracy, precision, recall, F1
 * and their macro averages, ROC AUC, average precision, log loss, Brier,
 * the calibration curve and ECE, the confusion matrix, the ROC and PR
 * curves) plus the baseline beside them, over given probabilities and
 * labels. The model is an "identity" family whose P(positive) is its one
 * input, so only evaluation is timed. Prints one line of JSON.
 *
 *   eval_bench MATRIX.f64 ROWS      (rows of: probability, label)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "ml/eval.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int identity_predict(const ml_model *m, const double *X, size_t n, double *out)
{
	(void)m;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = 1 - X[i];
		out[2 * i + 1] = X[i];
	}
	return 0;
}

static void identity_free(void *impl)
{
	(void)impl;
}

static const ml_ops identity_ops = {
	.algorithm = "identity", .predict = identity_predict, .free_impl = identity_free};

int main(int argc, char **argv)
{
	size_t n;
	double *m, t0, t1;
	ds_builder *b;
	ds_table *t;
	ml_frame fr;
	ml_signature sig = {0};
	ml_model *model;
	ml_eval_opts o;
	json_t *rep;
	struct rusage ru;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: eval_bench MATRIX.f64 ROWS\n");
		return 2;
	}
	n = (size_t)atoll(argv[2]);
	m = malloc(2 * n * sizeof *m);
	f = fopen(argv[1], "rb");
	if (!m || !f || fread(m, sizeof *m, 2 * n, f) != 2 * n) {
		fprintf(stderr, "eval_bench: cannot read %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	ds_builder_new(&b);
	ds_builder_add_col(b, "p", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "y", DS_INT64, NULL);
	for (size_t i = 0; i < n; i++) {
		ds_append_f64(b, 0, m[2 * i]);
		ds_append_i64(b, 1, (int64_t)m[2 * i + 1]);
	}
	if (ds_builder_finish(b, &t) ||
	    ml_frame_build(t, &(ml_frame_opts){.target = "y"}, &fr) ||
	    ml_signature_copy(&sig, &fr.sig) || ml_model_new(&identity_ops, &sig, NULL, &model) ||
	    ml_baseline_summary(&fr, model->info)) {
		fprintf(stderr, "eval_bench: %s\n", sl_errmsg());
		return 1;
	}
	ds_builder_free(b);
	ml_eval_opts_init(&o);
	o.importance = false;
	t0 = now();
	if (ml_evaluate(model, NULL, t, &o, &rep)) {
		fprintf(stderr, "eval_bench: %s\n", sl_errmsg());
		return 1;
	}
	t1 = now();
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"seconds\": %.3f, \"roc_auc\": %.10f, \"pr_auc\": %.10f, \"logloss\": %.10f, "
	       "\"peak_rss_kb\": %ld}\n",
	       t1 - t0, json_real_value(json_object_get(json_object_get(rep, "metrics"), "roc_auc")),
	       json_real_value(json_object_get(json_object_get(rep, "metrics"), "pr_auc")),
	       json_real_value(json_object_get(json_object_get(rep, "metrics"), "logloss")),
	       ru.ru_maxrss);
	return 0;
}
