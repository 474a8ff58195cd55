/*
 * The sluice side of bench/predict.sh: a GBDT trained on the HIGGS-like
 * problem of bench/train_gbdt.sh (train_gbdt_bench gen writes it), packaged
 * as a bundle, then:
 *
 *   predict_bench bundle DIR ROUNDS OUT      fits ROUNDS trees (depth 6, 256
 *       bins, eta 0.3, 2 threads) on DIR/train.{x,y} and writes the bundle
 *   predict_bench score DIR BUNDLE           batch scoring of DIR/test.x
 *       through the bundle as `sluice predict` and the predict step do it
 *       (score_table: the input's coding, the model on every core, the
 *       output table), and the model alone on the coded matrix, on every
 *       core (ml_model_predict) and on one (the family's predict); rows per
 *       second of each, and per CPU-second (user + system of every thread)
 *   predict_bench load BUNDLE [LOADS]        opening the bundle (map, SHA-256,
 *       manifest, the family's checks): median and best wall and CPU time
 *       of LOADS opens (default 201), and the same for the model file
 *       alone (map, SHA-256, manifest)
 *   predict_bench row DIR BUNDLE ROWS        one row per sl_model_predict call
 *       on the model, as a server answers one request (wall and CPU time)
 *
 * Each prints one JSON line.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ml/gbdt.h"
#include "model/bundle.h"
#include "model/mfile.h"
#include "model/score.h"
#include "sluice/model.h"

#define P 28

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "predict_bench: %s: %s\n", what, sl_errmsg());
	exit(1);
}

static const double *map_file(const char *dir, const char *name, size_t *n)
{
	char path[4096];
	struct stat st;
	void *m;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		die(path);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		die(path);
	*n = (size_t)st.st_size / sizeof(double);
	return m;
}

/* Fits and writes the bundle (a model file wrapped as package wraps it). */
static int make_bundle(const char *dir, unsigned rounds, const char *out)
{
	size_t nx, ny;
	const double *X = map_file(dir, "train.x", &nx), *y = map_file(dir, "train.y", &ny);
	ml_signature sig = {0};
	gbdt_params prm;
	gbdt_model *g;
	ml_model *m;
	char tmp[4096];

	gbdt_params_default(&prm);
	prm.objective = ML_BINARY;
	prm.n_classes = 2;
	prm.threads = 2;
	prm.rounds = rounds;
	gbdt_data d = {ny, P, X, 1, ny, NULL, NULL, NULL, y};
	(void)nx;
	if (gbdt_fit(&prm, &d, NULL, &g, NULL))
		die("fit");
	sig.task = ML_BINARY;
	sig.n_features = P;
	sig.features = sl__calloc(P, sizeof *sig.features);
	for (size_t j = 0; j < P; j++) {
		sig.features[j].name = sl__asprintf("f%zu", j);
		sig.features[j].type = DS_FLOAT64;
	}
	sig.target = sl__strdup("y");
	sig.target_type = DS_INT64;
	sig.n_classes = 2;
	sig.classes = sl__calloc(2, sizeof *sig.classes);
	sig.classes[0] = sl__strdup("0");
	sig.classes[1] = sl__strdup("1");
	if (ml_signature_set_outputs(&sig) ||
	    ml_model_new(&ml_gbdt_ops, &sig, gbdt_params_json(&prm), &m))
		die("model");
	m->impl = g;
	snprintf(tmp, sizeof tmp, "%s.model", out);
	if (ml_model_save(m, NULL, tmp) || bundle_write(tmp, NULL, NULL, out))
		die("bundle");
	ml_model_free(m);
	unlink(tmp);
	printf("{\"rounds\": %u}\n", rounds);
	return 0;
}

/* The test rows (column-major on disk) as a table, as a dataset input holds them. */
static ds_table *test_table(const char *dir, size_t *out_n)
{
	size_t nx, n;
	const double *X = map_file(dir, "test.x", &nx);
	ds_builder *b;
	ds_table *t;

	n = nx / P;
	if (ds_builder_new(&b))
		die("table");
	for (size_t j = 0; j < P; j++) {
		char name[16];
		snprintf(name, sizeof name, "f%zu", j);
		if (ds_builder_add_col(b, name, DS_FLOAT64, NULL) ||
		    ds_append_f64s(b, j, X + j * n, NULL, n))
			die("table");
	}
	if (ds_builder_finish(b, &t))
		die("table");
	ds_builder_free(b);
	*out_n = n;
	return t;
}

/* CPU seconds of the whole process (every thread, user + system). */
static double proc_cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct timing {
	double wall, cpu; /* of the fastest of the runs */
} timing;

static void keep(timing *best, double t0, double c0)
{
	double wall = now() - t0, cpu = proc_cpu_now() - c0;

	if (wall < best->wall)
		*best = (timing){wall, cpu};
}

static void print_timing(const char *name, timing t, size_t n, const char *sep)
{
	printf("\"%s_seconds\": %.4f, \"%s_rows_per_s\": %.0f, \"%s_cpu_seconds\": %.4f, "
	       "\"%s_rows_per_cpu_s\": %.0f%s",
	       name, t.wall, name, (double)n / t.wall, name, t.cpu, name, (double)n / t.cpu, sep);
}

/*
 * The table path (score_table, every core), then the model alone on the
 * coded rows: on every core (ml_model_predict) and on the calling thread
 * (the family's predict in one call). The fastest of RUNS runs each, with
 * the process's CPU time over that run.
 */
static int score(const char *dir, const char *path)
{
	enum { RUNS = 3 };
	size_t n;
	ds_table *t = test_table(dir, &n), *out;
	score_opts o = {false, "test"};
	bundle *b;
	const ml_model *m;
	double *X, *res, t0, c0;
	timing tab = {1e9, 0}, two = {1e9, 0}, one = {1e9, 0};

	if (bundle_open(path, 0, &b))
		die("open");
	m = bundle_model(b);
	for (int rep = 0; rep < RUNS; rep++) {
		t0 = now(), c0 = proc_cpu_now();
		if (score_table(b, t, &o, &out, NULL))
			die("score");
		ds_close(out);
		keep(&tab, t0, c0);
	}
	if (ml_frame_code(&m->sig, t, &X) || !(res = malloc(n * 2 * sizeof *res)))
		die("code");
	for (int rep = 0; rep < RUNS; rep++) {
		t0 = now(), c0 = proc_cpu_now();
		if (ml_model_predict(m, X, n, res))
			die("predict");
		keep(&two, t0, c0);
		t0 = now(), c0 = proc_cpu_now();
		if (m->ops->predict(m, X, n, res))
			die("predict");
		keep(&one, t0, c0);
	}
	printf("{\"rows\": %zu, ", n);
	print_timing("table", tab, n, ", ");
	print_timing("model", two, n, ", ");
	print_timing("model_1t", one, n, "}\n");
	free(X);
	free(res);
	bundle_close(b);
	ds_close(t);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * n opens of the bundle, each timed on the wall clock and in CPU time of
 * the whole process (any worker thread included), then n opens of the
 * model file alone (map, SHA-256, manifest: mfile_open) for where the time
 * goes. The first open is left out (it faults the file into the page cache).
 */
static int load(const char *path, int n)
{
	double *ms = malloc(4 * (size_t)n * sizeof *ms), *cpu = ms + n, *fms = cpu + n, *fcpu = fms + n;
	struct stat st;
	bundle *b;
	mfile *f;

	if (!ms || n < 1 || stat(path, &st))
		die(path);
	if (bundle_open(path, 0, &b))
		die("open");
	bundle_close(b);
	for (int i = 0; i < n; i++) {
		double t0 = now(), c0 = proc_cpu_now();
		if (bundle_open(path, 0, &b))
			die("open");
		ms[i] = (now() - t0) * 1e3;
		cpu[i] = (proc_cpu_now() - c0) * 1e3;
		bundle_close(b);
	}
	for (int i = 0; i < n; i++) {
		double t0 = now(), c0 = proc_cpu_now();
		if (mfile_open(path, &f))
			die("open");
		fms[i] = (now() - t0) * 1e3;
		fcpu[i] = (proc_cpu_now() - c0) * 1e3;
		mfile_close(f);
	}
	for (int k = 0; k < 4; k++)
		qsort(ms + k * n, (size_t)n, sizeof *ms, cmp);
	printf("{\"bytes\": %lld, \"loads\": %d, \"load_ms\": %.3f, \"load_ms_min\": %.3f, "
	       "\"load_cpu_ms\": %.3f, \"load_cpu_ms_min\": %.3f, \"file_ms\": %.3f, "
	       "\"file_cpu_ms\": %.3f}\n",
	       (long long)st.st_size, n, ms[n / 2], ms[0], cpu[n / 2], cpu[0], fms[n / 2], fcpu[n / 2]);
	free(ms);
	return 0;
}

static int row(const char *dir, const char *path, size_t rows)
{
	size_t nx, n;
	const double *X = map_file(dir, "test.x", &nx);
	double *X1, out[2], sink = 0, us = 0, cpu = 0;
	sl_model *m;

	n = nx / P;
	rows = rows < n ? rows : n;
	if (sl_model_load(path, &m) || !(X1 = malloc(rows * P * sizeof *X1)))
		die("load");
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < P; j++)
			X1[i * P + j] = X[j * n + i];
	for (int rep = 0; rep < 3; rep++) { /* warm, then keep the last */
		double t0 = now(), c0 = cpu_now();
		for (size_t i = 0; i < rows; i++) {
			sl_model_predict(m, X1 + i * P, 1, P, out, 2);
			sink += out[1];
		}
		us = (now() - t0) / (double)rows * 1e6;
		cpu = (cpu_now() - c0) / (double)rows * 1e6;
	}
	if (sink < 0)
		printf("#");
	printf("{\"rows\": %zu, \"row_us\": %.3f, \"row_cpu_us\": %.3f}\n", rows, us, cpu);
	free(X1);
	sl_model_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "bundle"))
		return make_bundle(argv[2], (unsigned)atoi(argv[3]), argv[4]);
	if (argc == 4 && !strcmp(argv[1], "score"))
		return score(argv[2], argv[3]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "load"))
		return load(argv[2], argc == 4 ? atoi(argv[3]) : 201);
	if (argc == 5 && !strcmp(argv[1], "row"))
		return row(argv[2], argv[3], strtoul(argv[4], NULL, 10));
	fprintf(stderr, "usage: predict_bench bundle DIR ROUNDS OUT | score DIR BUNDLE |\n"
			"       load BUNDLE [LOADS] | row DIR BUNDLE ROWS\n");
	return 2;
}
