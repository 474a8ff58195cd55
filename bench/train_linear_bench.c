/*
 * The sluice side of bench/train_linear.sh: reads a CSV into a table (not
 * timed), then times building the training frame and fitting, as the
 * train.logistic and train.linear steps do, and prints one line of JSON:
 * seconds, iterations, the training AUC (logistic) and the coefficients by
 * feature name.
 *
 *   train_linear_bench logistic|ridge DATA.csv [THREADS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset/dataset.h"
#include "ml/glm.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *what, *path;
	ds_ingest_opts io = {0};
	ds_ingest_stats st;
	ds_builder *b;
	ds_table *t;
	ml_frame fr;
	ml_model *m = NULL;
	double t0, t1, auc = -1;
	unsigned threads;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: train_linear_bench logistic|ridge DATA.csv [THREADS]\n");
		return 2;
	}
	what = argv[1];
	path = argv[2];
	threads = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	if (ds_csv_read_files(&path, 1, &io, &b, &st) || ds_builder_finish(b, &t)) {
		fprintf(stderr, "train_linear_bench: %s\n", sl_errmsg());
		return 1;
	}
	ds_builder_free(b);
	bool logistic = !strcmp(what, "logistic");
	ml_frame_opts fo = {.target = "label", .task = logistic ? ML_MULTICLASS : ML_REGRESSION,
			    .allow_strings = true};
	t0 = now();
	rc = ml_frame_build(t, &fo, &fr);
	if (!rc && logistic) {
		logistic_opts o = {.penalty = LOGISTIC_L2, .C = 1, .fit_intercept = true,
				   .max_iter = 200, .tol = 1e-5, .threads = threads};
		rc = logistic_fit(&fr, &o, &m);
	} else if (!rc) {
		linear_opts o = {.method = LINEAR_RIDGE, .alpha = 1, .fit_intercept = true,
				 .max_iter = 1000, .tol = 1e-4, .threads = threads};
		rc = linear_fit(&fr, &o, &m);
	}
	t1 = now();
	if (rc) {
		fprintf(stderr, "train_linear_bench: %s\n", sl_errmsg());
		return 1;
	}
	if (logistic) {
		double *X, *p, *p1;
		ml_frame_matrix(&fr, &X);
		p = malloc(fr.n * 2 * sizeof *p);
		p1 = malloc(fr.n * sizeof *p1);
		ml_model_predict(m, X, fr.n, p);
		for (size_t i = 0; i < fr.n; i++)
			p1[i] = p[2 * i + 1];
		auc = ml_metric_auc(fr.y, p1, NULL, fr.n);
		free(X);
		free(p);
		free(p1);
	}
	json_t *out = json_pack("{s:f, s:O, s:O, s:f, s:O}", "seconds", t1 - t0, "coefficients",
				json_object_get(m->info, "coefficients"), "intercept",
				json_object_get(m->info, "intercept"), "auc", auc, "iterations",
				json_object_get(m->info, "iterations") ? json_object_get(m->info, "iterations")
								       : json_null());
	char *s = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(17));
	puts(s);
	free(s);
	json_decref(out);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	return 0;
}
