/*
 * The sluice side of bench/iforest.sh: an isolation forest fitted to a raw
 * matrix (n rows of p little-endian doubles, the last column a 0/1 label
 * left out of the inputs), then every row scored. Prints one line of JSON:
 * seconds to fit (with the contamination threshold, which scores the
 * training rows once), seconds to score the rows again, ROC AUC of the
 * scores against the labels, and peak resident memory.
 *
 *   iforest_bench MATRIX.f64 ROWS COLS TREES SAMPLE THREADS
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "ml/iforest.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t n, p;
	double *m, *X, *out, *score, *y, t0, t1, t2;
	ds_builder *b;
	ds_table *t;
	ml_frame fr;
	ml_model *model;
	struct rusage ru;
	FILE *f;

	if (argc < 7) {
		fprintf(stderr, "usage: iforest_bench MATRIX.f64 ROWS COLS TREES SAMPLE THREADS\n");
		return 2;
	}
	n = (size_t)atoll(argv[2]);
	p = (size_t)atoll(argv[3]);
	m = malloc(n * p * sizeof *m);
	f = fopen(argv[1], "rb");
	if (!m || !f || fread(m, sizeof *m, n * p, f) != n * p) {
		fprintf(stderr, "iforest_bench: cannot read %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	ds_builder_new(&b);
	for (size_t j = 0; j + 1 < p; j++) {
		char name[32];
		snprintf(name, sizeof name, "x%zu", j);
		ds_builder_add_col(b, name, DS_FLOAT64, NULL);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j + 1 < p; j++)
			ds_append_f64(b, j, m[i * p + j]);
	if (ds_builder_finish(b, &t) ||
	    ml_frame_build(t, &(ml_frame_opts){.task = ML_ANOMALY}, &fr)) {
		fprintf(stderr, "iforest_bench: %s\n", sl_errmsg());
		return 1;
	}
	ds_builder_free(b);
	t0 = now();
	if (ml_iforest_fit(&fr,
			   &(ml_iforest_opts){.trees = (unsigned)atoi(argv[4]),
					      .sample_size = (size_t)atoll(argv[5]),
					      .contamination = 0.01, .seed = 1,
					      .threads = (unsigned)atoi(argv[6])},
			   &model)) {
		fprintf(stderr, "iforest_bench: %s\n", sl_errmsg());
		return 1;
	}
	t1 = now();
	ml_frame_matrix(&fr, &X);
	out = malloc(2 * n * sizeof *out);
	score = malloc(n * sizeof *score);
	y = malloc(n * sizeof *y);
	t2 = now();
	ml_model_predict(model, X, n, out);
	t2 = now() - t2;
	for (size_t i = 0; i < n; i++) {
		score[i] = out[2 * i];
		y[i] = m[i * p + p - 1];
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"fit_seconds\": %.3f, \"score_seconds\": %.3f, \"auc\": %.4f, \"peak_rss_kb\": %ld}\n",
	       t1 - t0, t2, ml_metric_auc(y, score, NULL, n), ru.ru_maxrss);
	return 0;
}
