/*
 * Fills a project's model registry for bench/registry.sh: `models` model
 * names with `versions` versions each (bundle artifacts made by one step
 * run, metrics, a verdict, a tag on every tenth version, production and
 * staging aliases moved along), in batched transactions, through the same
 * store calls the register step's store op uses.
 *
 *   registry_bench PROJECT_DIR MODELS VERSIONS
 *
 * Prints one JSON line: how long filling took.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/project.h"
#include "store/store.h"

#define BATCH 500

static int fail(const char *what)
{
	fprintf(stderr, "registry_bench: %s: %s\n", what, sl_errmsg());
	return 1;
}

int main(int argc, char **argv)
{
	sl_project *p = NULL;
	long models, versions, total;
	double t0;
	char (*ids)[SL__HASH_HEX_SIZE];
	char(*names)[16];
	store_artifact *arts;
	store_io *outs;

	if (argc != 4)
		return fprintf(stderr, "usage: registry_bench DIR MODELS VERSIONS\n"), 2;
	models = atol(argv[2]);
	versions = atol(argv[3]);
	total = models * versions;
	if (models < 1 || versions < 1 || total > 1000000)
		return fprintf(stderr, "registry_bench: 1 to 1000000 versions in all\n"), 2;
	if (sl_project_init(argv[1]) != 0 || sl_project_open(argv[1], &p) != 0)
		return fail("project");
	ids = calloc((size_t)total, sizeof *ids);
	names = calloc((size_t)total, sizeof *names);
	arts = calloc((size_t)total, sizeof *arts);
	outs = calloc((size_t)total, sizeof *outs);
	if (!ids || !names || !arts || !outs)
		return fail("memory");
	t0 = sl__mono_sec();
	/* The bundles: outputs of one step run, as package's would be. */
	for (long i = 0; i < total; i++) {
		char label[32];
		snprintf(label, sizeof label, "bundle %ld", i);
		sl__sha256_hex(label, strlen(label), ids[i]);
		snprintf(names[i], sizeof names[i], "b%ld", i);
		arts[i] = (store_artifact){.type = "bundle", .size = 4096};
		outs[i] = (store_io){.name = names[i], .artifact_id = ids[i]};
	}
	{
		store_run r = {.id = "benchrun", .pipeline = "bench"};
		store_steprun sr = {.id = "benchpkg", .run_id = "benchrun", .step = "package",
				    .kind = "uses:package", .status = ST_COMPLETED, .exit_code = 0};
		store_result res = {.arts = arts, .outputs = outs, .n_outputs = (size_t)total};
		if (store_run_create(p->st, &r) || store_steprun_record(p->st, &sr, NULL, 0, &res))
			return fail("bundles");
	}
	for (long i = 0; i < total; i++) {
		char model[32], metrics[128], ver[24];
		long m = i % models, v = i / models + 1;
		store_version_new nv;

		if (i % BATCH == 0 && store_batch_begin(p->st))
			return fail("batch");
		snprintf(model, sizeof model, "model-%04ld", m);
		snprintf(metrics, sizeof metrics, "{\"roc_auc\": %.4f, \"accuracy\": %.4f}",
			 0.9 + (double)(v % 97) / 1000.0, 0.8 + (double)(v % 89) / 1000.0);
		nv = (store_version_new){.model = model, .bundle = ids[i], .run_id = "benchrun",
					 .algorithm = "gbdt", .metrics_json = metrics,
					 .verdict = v % 5 ? VERDICT_PASSED : VERDICT_FAILED,
					 .alias = v % 5 && v % 50 == 1 ? "production" : NULL,
					 .move = {.who = "bench"}};
		if (store_model_register(p->st, &nv, NULL, NULL))
			return fail("register");
		snprintf(ver, sizeof ver, "%ld", v);
		if (v % 10 == 0 && store_model_tag(p->st, model, ver, "dataset", "2026-11"))
			return fail("tag");
		if (v % 5 && v % 50 == 7) {
			store_move mv = {.who = "bench", .reason = "canary"};
			if (store_model_promote(p->st, model, ver, "staging", &mv, NULL))
				return fail("promote");
		}
		if ((i + 1) % BATCH == 0 || i + 1 == total)
			if (store_batch_end(p->st))
				return fail("commit");
	}
	printf("{\"models\": %ld, \"versions\": %ld, \"fill_seconds\": %.2f}\n", models, total,
	       sl__mono_sec() - t0);
	free(ids);
	free(names);
	free(arts);
	free(outs);
	sl_project_close(p);
	return 0;
}
