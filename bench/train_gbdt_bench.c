/*
 * The sluice side of bench/train_gbdt.sh.
 *
 *   gbdt_bench gen DIR N_TRAIN N_TEST SEED
 *       writes a HIGGS-like binary problem: DIR/{train,test}.x (float64,
 *       column-major: feature 0's values for every row, then feature 1's
 *       ...), DIR/{train,test}.y (float64 0/1). 28 features: 21 "low-level"
 *       (momenta, angles, tags; some pure noise) and 7 "high-level" ones
 *       computed from them (invariant-mass-like), with a nonlinear signal.
 *   gbdt_bench csv CSV DIR
 *       converts a numeric CSV whose last column is the label (spambase)
 *       into the same files, every 5th row (from the 1st) to test.
 *   gbdt_bench train DIR THREADS ROUNDS DEPTH BINS ETA [PREDICT_ROWS]
 *       trains on train.x (read in place from a mapping, as the train step
 *       reads a dataset), scores test.x, and prints one JSON line: fit
 *       seconds (wall and CPU of all threads), test AUC, peak RSS and the
 *       RSS before training; with
 *       PREDICT_ROWS, also the mean time of one-row sl_model_predict calls
 *       on a model saved and loaded back (the serving path).
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ml/gbdt.h"
#include "rng.h"
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

/* CPU time of every thread of the process: with the wall time, how much the
 * second thread added in work rather than in waiting. */
static double process_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static void die(const char *what)
{
	fprintf(stderr, "gbdt_bench: %s: %s\n", what, sl_errmsg());
	exit(1);
}

static void write_file(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "gbdt_bench: cannot write %s\n", path);
		exit(1);
	}
}

static const double *map_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	struct stat st;
	void *m;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "gbdt_bench: cannot open %s\n", path);
		exit(1);
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		fprintf(stderr, "gbdt_bench: cannot map %s\n", path);
		exit(1);
	}
	*len = (size_t)st.st_size;
	return m;
}

/* ---- the synthetic problem ---------------------------------------------------------- */

static void gen_row(sl__rng *r, double *x, double *y)
{
	/* Low level: three "particles" (pT, eta, phi, tag), missing energy and
	 * its angle, and a few noise features. */
	double pt[3], eta[3], phi[3], f;
	for (int k = 0; k < 3; k++) {
		pt[k] = -log(1 - sl__rng_uniform(r)) * (1.0 + 0.3 * k) + 0.2;
		eta[k] = sl__rng_normal(r) * 1.2;
		phi[k] = (sl__rng_uniform(r) * 2 - 1) * M_PI;
	}
	double met = -log(1 - sl__rng_uniform(r)) * 0.9, met_phi = (sl__rng_uniform(r) * 2 - 1) * M_PI;
	double signal_hint = sl__rng_normal(r);
	int n = 0;
	for (int k = 0; k < 3; k++) {
		x[n++] = pt[k];
		x[n++] = eta[k];
		x[n++] = phi[k];
		/* b-tag: 0, 1 or 2, more often high when the latent hint is high */
		x[n++] = floor(fmin(2.0, fmax(0.0, 1.0 + 0.6 * signal_hint + sl__rng_normal(r))));
	}
	x[n++] = met;
	x[n++] = met_phi;
	for (; n < 21; n++)
		x[n] = sl__rng_normal(r); /* noise */
	/* High level: pairwise "masses" and combinations. */
	double m01 = sqrt(2 * pt[0] * pt[1] * (cosh(eta[0] - eta[1]) - cos(phi[0] - phi[1])));
	double m12 = sqrt(2 * pt[1] * pt[2] * (cosh(eta[1] - eta[2]) - cos(phi[1] - phi[2])));
	double m02 = sqrt(2 * pt[0] * pt[2] * (cosh(eta[0] - eta[2]) - cos(phi[0] - phi[2])));
	double mt = sqrt(2 * pt[0] * met * (1 - cos(phi[0] - met_phi)));
	x[21] = m01;
	x[22] = m12;
	x[23] = m02;
	x[24] = mt;
	x[25] = m01 + m12 + m02;
	x[26] = pt[0] + pt[1] + pt[2] + met;
	x[27] = fabs(eta[0] - eta[1]) + 0.5 * sl__rng_normal(r);
	f = 1.2 * tanh(m01 - 1.5) - 0.8 * fabs(m12 - 2.0) + 0.6 * tanh(mt - 1.0) +
	    0.5 * signal_hint + 0.3 * x[3] * x[7] - 0.4 * (fabs(eta[0]) > 1.5) +
	    0.25 * sin(3 * phi[0]) * pt[0] - 0.2;
	*y = sl__rng_uniform(r) < 1.0 / (1.0 + exp(-f)) ? 1.0 : 0.0;
	/* A few values missing, as real data has. */
	if (sl__rng_uniform(r) < 0.02)
		x[27] = NAN;
}

static void gen_set(sl__rng *r, const char *dir, const char *name, size_t n)
{
	double *x = malloc(n * P * sizeof *x), *y = malloc(n * sizeof *y), row[P];
	char fn[64];

	if (!x || !y) {
		fprintf(stderr, "gbdt_bench: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		gen_row(r, row, &y[i]);
		for (size_t j = 0; j < P; j++)
			x[j * n + i] = row[j];
	}
	snprintf(fn, sizeof fn, "%s.x", name);
	write_file(dir, fn, x, n * P * sizeof *x);
	snprintf(fn, sizeof fn, "%s.y", name);
	write_file(dir, fn, y, n * sizeof *y);
	free(x);
	free(y);
}

/* ---- a CSV of numbers (spambase) ---------------------------------------------------- */

static void from_csv(const char *csv, const char *dir)
{
	FILE *f = fopen(csv, "r");
	char line[65536];
	size_t cap = 8192, n = 0, p = 0;
	double *rows = malloc(cap * 64 * sizeof *rows);

	if (!f || !rows || !fgets(line, sizeof line, f)) { /* header */
		fprintf(stderr, "gbdt_bench: cannot read %s\n", csv);
		exit(1);
	}
	for (char *c = line; *c; c++)
		p += *c == ',';
	if (p + 1 > 64) {
		fprintf(stderr, "gbdt_bench: too many columns\n");
		exit(1);
	}
	while (fgets(line, sizeof line, f)) {
		char *s = line, *e;
		if (n == cap) {
			cap *= 2;
			rows = realloc(rows, cap * 64 * sizeof *rows);
		}
		for (size_t j = 0; j <= p; j++) {
			double v = strtod(s, &e);
			if (e == s) /* a text label: spam / nonspam, maybe quoted */
				v = strncmp(s + (*s == '"'), "spam", 4) == 0;
			rows[n * 64 + j] = v;
			s = strchr(e, ',');
			s = s ? s + 1 : e;
		}
		n++;
	}
	fclose(f);
	for (int test = 0; test < 2; test++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			m += (i % 5 == 0) == test;
		double *x = malloc(m * p * sizeof *x), *y = malloc(m * sizeof *y);
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if ((i % 5 == 0) != test)
				continue;
			for (size_t j = 0; j < p; j++)
				x[j * m + k] = rows[i * 64 + j];
			y[k++] = rows[i * 64 + p];
		}
		write_file(dir, test ? "test.x" : "train.x", x, m * p * sizeof *x);
		write_file(dir, test ? "test.y" : "train.y", y, m * sizeof *y);
		free(x);
		free(y);
	}
	char meta[32];
	snprintf(meta, sizeof meta, "%zu\n", p);
	write_file(dir, "features", meta, strlen(meta));
	free(rows);
}

/* ---- training ---------------------------------------------------------------------------- */

static size_t features_of(const char *dir)
{
	char path[4096];
	FILE *f;
	size_t p = P;

	snprintf(path, sizeof path, "%s/features", dir);
	if ((f = fopen(path, "r"))) {
		if (fscanf(f, "%zu", &p) != 1)
			p = P;
		fclose(f);
	}
	return p;
}

static ml_model *as_model(gbdt_model *g, size_t p, const gbdt_params *prm)
{
	ml_signature sig = {0};
	ml_model *m;

	sig.task = ML_BINARY;
	sig.n_features = p;
	sig.features = calloc(p, sizeof *sig.features);
	for (size_t j = 0; j < p; j++) {
		sig.features[j].name = sl__asprintf("f%zu", j);
		sig.features[j].type = DS_FLOAT64;
	}
	sig.target = sl__strdup("y");
	sig.target_type = DS_INT64;
	sig.n_classes = 2;
	sig.classes = sl__calloc(2, sizeof *sig.classes);
	sig.classes[0] = sl__strdup("0");
	sig.classes[1] = sl__strdup("1");
	if (ml_signature_set_outputs(&sig) || ml_model_new(&ml_gbdt_ops, &sig, gbdt_params_json(prm), &m))
		die("model");
	m->impl = g;
	return m;
}

static int train(int argc, char **argv)
{
	const char *dir = argv[2];
	size_t p = features_of(dir), lx, ly, tx, ty, n, nt, rows = argc > 8 ? strtoul(argv[8], NULL, 10) : 0;
	const double *X = map_file(dir, "train.x", &lx), *y = map_file(dir, "train.y", &ly);
	const double *Xt = map_file(dir, "test.x", &tx), *yt = map_file(dir, "test.y", &ty);
	gbdt_params prm;
	gbdt_data d;
	gbdt_model *g;
	struct rusage ru;
	double t0, t1, cpu0, cpu1, *pr, *buf, auc, us = 0, cpu_us = 0;
	long rss0;

	n = ly / sizeof(double);
	nt = ty / sizeof(double);
	gbdt_params_default(&prm);
	prm.objective = ML_BINARY;
	prm.n_classes = 2;
	prm.threads = (unsigned)atoi(argv[3]);
	prm.rounds = (uint32_t)atoi(argv[4]);
	prm.max_depth = (uint32_t)atoi(argv[5]);
	prm.bins = (uint32_t)atoi(argv[6]);
	prm.learning_rate = atof(argv[7]);
	d = (gbdt_data){n, p, X, 1, n, NULL, NULL, NULL, y};
	(void)lx;
	rss0 = rss_kb();
	cpu0 = process_cpu();
	t0 = now();
	if (gbdt_fit(&prm, &d, NULL, &g, NULL))
		die("fit");
	t1 = now();
	cpu1 = process_cpu();
	getrusage(RUSAGE_SELF, &ru);
	/* Score the test rows one row-buffer at a time (they are column-major). */
	pr = malloc(nt * sizeof *pr);
	buf = malloc(p * sizeof *buf);
	for (size_t i = 0; i < nt; i++) {
		double m;
		for (size_t j = 0; j < p; j++)
			buf[j] = Xt[j * nt + i];
		gbdt_predict_raw(g, buf, &m);
		pr[i] = m;
	}
	(void)tx;
	auc = ml_metric_auc(yt, pr, NULL, nt);
	if (rows) {
		/* The serving path: save, load (mapped), one row per call. */
		ml_model *m = as_model(g, p, &prm);
		char path[4096];
		sl_model *lm;
		double out[2], *X1 = malloc(rows * p * sizeof *X1), sink = 0, t2, c2;
		snprintf(path, sizeof path, "%s/model.slm", dir);
		if (ml_model_save(m, NULL, path) || sl_model_load(path, &lm))
			die("save/load");
		if (rows > nt)
			rows = nt;
		for (size_t i = 0; i < rows; i++)
			for (size_t j = 0; j < p; j++)
				X1[i * p + j] = Xt[j * nt + i];
		for (int rep = 0; rep < 3; rep++) { /* warm, then measure the last */
			t2 = now();
			c2 = cpu_now();
			for (size_t i = 0; i < rows; i++) {
				sl_model_predict(lm, X1 + i * p, 1, p, out, 2);
				sink += out[1];
			}
			us = (now() - t2) / (double)rows * 1e6;
			cpu_us = (cpu_now() - c2) / (double)rows * 1e6;
		}
		if (sink < 0)
			printf("#");
		sl_model_free(lm);
		ml_model_free(m);
		free(X1);
	} else {
		gbdt_model_free(g);
	}
	printf("{\"seconds\": %.3f, \"cpu_seconds\": %.3f, \"auc\": %.6f, \"peak_rss_kb\": %ld, "
	       "\"rss_before_kb\": %ld, \"rows\": %zu, \"threads\": %s, \"predict_us\": %.3f, "
	       "\"predict_cpu_us\": %.3f}\n",
	       t1 - t0, cpu1 - cpu0, auc, ru.ru_maxrss, rss0, n, argv[3], us, cpu_us);
	free(pr);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && !strcmp(argv[1], "gen")) {
		sl__rng r;
		size_t ntr = strtoul(argv[3], NULL, 10), nte = strtoul(argv[4], NULL, 10);
		sl__rng_seed(&r, strtoull(argv[5], NULL, 10));
		gen_set(&r, argv[2], "train", ntr);
		gen_set(&r, argv[2], "test", nte);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "csv")) {
		from_csv(argv[2], argv[3]);
		return 0;
	}
	if (argc >= 8 && !strcmp(argv[1], "train"))
		return train(argc, argv);
	fprintf(stderr, "usage: gbdt_bench gen DIR N_TRAIN N_TEST SEED | csv CSV DIR |\n"
			"       train DIR THREADS ROUNDS DEPTH BINS ETA [PREDICT_ROWS]\n");
	return 2;
}
