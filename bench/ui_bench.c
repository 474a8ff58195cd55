/*
 * Fills a project's run history for bench/ui.sh: RUNS runs of three
 * pipelines, each with STEPS step runs (every other one a cache hit, every
 * twentieth run failed), in batched transactions, through the store calls
 * the scheduler makes; with WINDOWS, as many monitoring windows of model
 * "model-0000" (60 features: a statistic, p-value and PSI each, and the
 * window's own numbers, as `sluice monitor report` records them) and 10,000
 * events of the loop (every tenth an alert).
 *
 *   ui_bench PROJECT_DIR RUNS STEPS [WINDOWS]
 *
 * The project must exist (registry_bench makes it). Prints one JSON line:
 * how long filling took.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/project.h"
#include "store/store.h"

#define BATCH 500
#define FEATURES 60
#define EVENTS 10000

static int fail(const char *what)
{
	fprintf(stderr, "ui_bench: %s: %s\n", what, sl_errmsg());
	return 1;
}

/* WINDOWS windows of model-0000 and EVENTS events, in batches. */
static int fill_monitoring(sl_project *p, long windows)
{
	static const char *const own[] = {"drift_share", "requests", "rows", "errors",
					  "latency_p50_us", "latency_p99_us", "live.accuracy",
					  "estimated.accuracy", "estimated.accuracy.lower",
					  "estimated.accuracy.upper"};
	enum { N_OWN = sizeof own / sizeof own[0], N = N_OWN + 3 * FEATURES };
	static char names_buf[N][48];
	const char *names[N];
	double vals[N];
	sl__buf rep;

	for (int i = 0; i < N_OWN; i++)
		names[i] = own[i];
	for (int f = 0; f < FEATURES; f++)
		for (int k = 0; k < 3; k++) {
			snprintf(names_buf[f * 3 + k], sizeof names_buf[0], "drift.f%02d.%s", f,
				 k == 0 ? "statistic" : k == 1 ? "p_value" : "psi");
			names[N_OWN + f * 3 + k] = names_buf[f * 3 + k];
		}
	/* A report of the shape mon_report gives, 60 features. */
	sl__buf_init(&rep, 0);
	if (sl__buf_puts(&rep, "{\"model\": \"model-0000\", \"version\": 1, \"features\": ["))
		return 1;
	for (int f = 0; f < FEATURES; f++)
		if (sl__buf_printf(&rep, "%s{\"name\": \"f%02d\", \"test\": \"ks\", \"statistic\": "
					 "0.05, \"p_value\": 0.3, \"psi\": 0.01, \"drift\": false}",
				   f ? ", " : "", f))
			return 1;
	if (sl__buf_puts(&rep, "], \"drift_share\": 0.1, \"dataset_drift\": false}"))
		return 1;
	for (long w = 0; w < windows; w++) {
		int64_t t = 1700000000000LL + w * 600000;
		store_monitor_window win = {.model = "model-0000", .version = "1", .at_ms = t,
					    .from_ms = t - 600000, .to_ms = t, .requests = 1000,
					    .report = rep.data};
		for (int i = 0; i < N; i++)
			vals[i] = (double)((w * 31 + i * 7) % 100) / 100.0;
		if (w % BATCH == 0 && store_batch_begin(p->st))
			return 1;
		if (store_monitor_add(p->st, &win, names, vals, N, NULL))
			return 1;
		if ((w % BATCH == BATCH - 1 || w == windows - 1) && store_batch_end(p->st))
			return 1;
	}
	sl__buf_free(&rep);
	for (long e = 0; e < EVENTS; e++) {
		store_mon_event ev = {.at_ms = 1700000000000LL + e * 60000,
				      .kind = e % 10 ? "coalesced" : "alert", .model = "model-0000",
				      .detail_json = "{\"rule\": \"drifting\", \"value\": 0.4}"};
		if (e % BATCH == 0 && store_batch_begin(p->st))
			return 1;
		if (store_mon_event_add(p->st, &ev, NULL))
			return 1;
		if ((e % BATCH == BATCH - 1 || e == EVENTS - 1) && store_batch_end(p->st))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const pipes[] = {"spam-train", "spam-retrain", "sales-forecast"};
	static const char *const steps[] = {"ingest", "check", "label", "split", "features",
					    "train", "evaluate", "gate", "package", "register"};
	sl_project *p = NULL;
	long runs, n_steps, windows = 0;
	double t0;

	if (argc != 4 && argc != 5)
		return fprintf(stderr, "usage: ui_bench DIR RUNS STEPS [WINDOWS]\n"), 2;
	runs = atol(argv[2]);
	n_steps = atol(argv[3]);
	if (argc == 5 && ((windows = atol(argv[4])) < 0 || windows > 1000000))
		return fprintf(stderr, "ui_bench: 0 to 1000000 windows\n"), 2;
	if (runs < 1 || runs > 1000000 || n_steps < 0 || n_steps > 10)
		return fprintf(stderr, "ui_bench: 1 to 1000000 runs of 0 to 10 steps\n"), 2;
	if (sl_project_open(argv[1], &p) != 0)
		return fail("project");
	t0 = sl__mono_sec();
	for (long i = 0; i < runs; i++) {
		char id[32], sr[48];
		int64_t t = 1700000000000LL + i * 60000;
		store_run r = {.id = id, .pipeline = pipes[i % 3], .file = "/p/train.yaml",
			       .params_json = "{\"seed\": 42}", .orchestrator = "local", .host = "h",
			       .started_ms = t};
		if (i % BATCH == 0 && store_batch_begin(p->st))
			return fail("batch");
		snprintf(id, sizeof id, "b%011ld", i);
		if (store_run_create(p->st, &r))
			return fail("run");
		for (long k = 0; k < n_steps; k++) {
			store_steprun st = {.id = sr, .run_id = id, .step = steps[k], .kind = "run",
					    .status = k % 2 ? ST_CACHED : ST_COMPLETED,
					    .cache_hit = k % 2 == 1, .exit_code = 0,
					    .started_ms = t + k * 100, .ended_ms = t + k * 100 + 90};
			snprintf(sr, sizeof sr, "%s-%ld", id, k);
			if (store_steprun_record(p->st, &st, NULL, 0, NULL))
				return fail("step run");
		}
		if (store_run_finish(p->st, id, i % 20 == 7 ? ST_FAILED : ST_COMPLETED, t + 5000))
			return fail("finish");
		if ((i % BATCH == BATCH - 1 || i == runs - 1) && store_batch_end(p->st))
			return fail("commit");
	}
	if (windows && fill_monitoring(p, windows))
		return fail("monitoring");
	printf("{\"runs\": %ld, \"steps\": %ld, \"windows\": %ld, \"events\": %d, \"fill_s\": "
	       "%.2f}\n",
	       runs, runs * n_steps, windows, windows ? EVENTS : 0, sl__mono_sec() - t0);
	sl_project_close(p);
	return 0;
}
