/*
 * The sluice side of bench/monitor.sh: drift of one window of served
 * traffic against a training reference, as `sluice monitor report` and the
 * server's gauges compute it (mon_drift_table: the window's profile, then
 * the one rule's tests per feature, PSI beside). The reference profile is
 * built once, as training does; the window's drift is timed.
 *
 *   monitor_bench REF.f64 REF_ROWS WINDOW.f64 WINDOW_ROWS COLS REPEATS
 *
 * Prints one line of JSON: the fastest repeat in seconds of wall clock and
 * of CPU (all threads; on a loaded machine the wall clock includes waiting
 * for a core), the features tested and how many drifted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sluice/error.h"
#include "monitor/live_int.h"

static double clock_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ds_table *load(const char *path, size_t n, size_t p)
{
	double *m = malloc(n * p * sizeof *m);
	FILE *f = fopen(path, "rb");
	ds_builder *b;
	ds_table *t;

	if (!m || !f || fread(m, sizeof *m, n * p, f) != n * p) {
		fprintf(stderr, "monitor_bench: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	ds_builder_new(&b);
	for (size_t j = 0; j < p; j++) {
		char name[32];
		snprintf(name, sizeof name, "f%zu", j);
		ds_builder_add_col(b, name, DS_FLOAT64, NULL);
	}
	for (size_t j = 0; j < p; j++)
		for (size_t i = 0; i < n; i++)
			ds_append_f64(b, j, m[i * p + j]);
	if (ds_builder_finish(b, &t)) {
		fprintf(stderr, "monitor_bench: %s\n", sl_errmsg());
		exit(1);
	}
	ds_builder_free(b);
	free(m);
	return t;
}

int main(int argc, char **argv)
{
	size_t nr, nw, p, reps, tested = 0, drifted = 0;
	ds_table *rt, *wt;
	profile *ref;
	drift_opts o;
	double best = 1e9, best_cpu = 1e9;

	if (argc < 7) {
		fprintf(stderr, "usage: monitor_bench REF.f64 REF_ROWS WINDOW.f64 WINDOW_ROWS COLS "
				"REPEATS\n");
		return 2;
	}
	nr = (size_t)atoll(argv[2]);
	nw = (size_t)atoll(argv[4]);
	p = (size_t)atoll(argv[5]);
	reps = (size_t)atoll(argv[6]);
	rt = load(argv[1], nr, p);
	wt = load(argv[3], nw, p);
	if (profile_build(rt, NULL, &ref)) {
		fprintf(stderr, "monitor_bench: %s\n", sl_errmsg());
		return 1;
	}
	drift_opts_default(&o);
	for (size_t r = 0; r < reps; r++) {
		json_t *feats;
		double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		if (mon_drift_table(ref, wt, &o, NULL, 0, &feats, &tested, &drifted)) {
			fprintf(stderr, "monitor_bench: %s\n", sl_errmsg());
			return 1;
		}
		double t = clock_s(CLOCK_MONOTONIC) - t0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
		if (t < best)
			best = t;
		if (c < best_cpu)
			best_cpu = c;
		json_decref(feats);
	}
	printf("{\"seconds\": %.6f, \"cpu_seconds\": %.6f, \"tested\": %zu, \"drifted\": %zu}\n",
	       best, best_cpu, tested, drifted);
	profile_free(ref);
	ds_close(rt);
	ds_close(wt);
	return 0;
}
