/*
 * Fills a project's run history for bench/ui.sh: RUNS runs of three
 * pipelines, each with STEPS step runs (every other one a cache hit, every
 * twentieth run failed), in batched transactions, through the store calls
 * the scheduler makes.
 *
 *   ui_bench PROJECT_DIR RUNS STEPS
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

static int fail(const char *what)
{
	fprintf(stderr, "ui_bench: %s: %s\n", what, sl_errmsg());
	return 1;
}

int main(int argc, char **argv)
{
	static const char *const pipes[] = {"spam-train", "spam-retrain", "sales-forecast"};
	static const char *const steps[] = {"ingest", "check", "label", "split", "features",
					    "train", "evaluate", "gate", "package", "register"};
	sl_project *p = NULL;
	long runs, n_steps;
	double t0;

	if (argc != 4)
		return fprintf(stderr, "usage: ui_bench DIR RUNS STEPS\n"), 2;
	runs = atol(argv[2]);
	n_steps = atol(argv[3]);
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
	printf("{\"runs\": %ld, \"steps\": %ld, \"fill_s\": %.2f}\n", runs, runs * n_steps,
	       sl__mono_sec() - t0);
	sl_project_close(p);
	return 0;
}
