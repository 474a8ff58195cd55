/*
 * ingest.file: makes a file an artifact, unchanged. The smallest built-in
 * step, and the proof that the interface carries a real one: its option is a
 * path, so editing the file changes the cache key and reruns the step.
 */
#include <string.h>

#include "dataset/dataset.h"
#include "steps/step.h"

static const step_opt opts[] = {
	{.name = "path", .type = OPT_PATH, .required = true,
	 .help = "the file to ingest, relative to the pipeline file"},
	{.name = "type", .type = OPT_STRING, .def = "file", .len = "[1,)",
	 .help = "artifact type to record (file, dataset, model ...)"},
	{.name = NULL},
};

static const step_port outputs[] = {
	{"data", "file", false, "the file's contents"},
	{NULL, NULL, false, NULL},
};

static const step_port no_ports[] = {{NULL, NULL, false, NULL}};

static int run(step_ctx *ctx)
{
	const char *rel = step_opt_str(ctx, "path");
	char *path = step_resolve_path(ctx, rel);
	int rc;

	if (!path)
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	if (!sl__is_file(path)) {
		step_fail(ctx, SL_ENOENT, "with.path: no such file: %s", path);
		sl__free(path);
		return SL_ENOENT;
	}
	const char *type = step_opt_str(ctx, "type");
	/* A file claimed to be a dataset must be one, or every consumer fails later. */
	if (type && !strcmp(type, "dataset") && !ds_is_dataset(path)) {
		step_fail(ctx, SL_EPARSE, "with.type is dataset but %s is not a sluice dataset file "
					  "(ingest CSV with ingest.csv)", path);
		sl__free(path);
		return SL_EPARSE;
	}
	rc = sl__copy_file(path, step_output(ctx, "data"));
	if (rc) {
		step_fail(ctx, rc, "copying %s: %s", path, sl_errmsg());
	} else {
		step_output_meta(ctx, "data", json_pack("{s:s}", "type", type ? type : "file"));
		step_log(ctx, "ingested %s", path);
	}
	sl__free(path);
	return rc;
}

const step_def step_ingest_file = {
	.name = "ingest.file",
	.version = 1,
	.summary = "make a file an artifact, unchanged",
	.opts = opts,
	.inputs = no_ports,
	.outputs = outputs,
	.run = run,
};
