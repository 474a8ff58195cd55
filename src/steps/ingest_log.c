/*
 * ingest.log: the inference log as a training set. Reads the requests one
 * model answered (sluice serve's log), one row per scored input row, joined
 * with the labels the feedback endpoint received for them:
 *
 *   the model's raw inputs, prediction, label, time, request_id, version, row
 *
 * so that a retraining pipeline learns from production traffic with its
 * ground truth (src/serve/logtable.h has the exact columns). The log grows
 * while nothing in the pipeline changes, so the step always runs (it is not
 * cached); its output is content-addressed, so an unchanged log still
 * leaves everything downstream cached.
 *
 * Metrics: rows, labeled (rows with a label).
 */
#include <string.h>

#include "serve/logtable.h"
#include "steps/step.h"

static const step_opt opts[] = {
	{.name = "model", .type = OPT_STRING, .required = true, .len = "[1,)",
	 .help = "the served model whose requests to read"},
	{.name = "version", .type = OPT_STRING, .help = "only the requests this version answered"},
	{.name = "since", .type = OPT_STRING,
	 .help = "only requests at or after this ISO 8601 time"},
	{.name = "until", .type = OPT_STRING,
	 .help = "only requests at or before this ISO 8601 time"},
	{.name = "labeled_only", .type = OPT_BOOL, .def = "true",
	 .help = "keep only rows the feedback endpoint gave a label (false: label is null where none)"},
	{.name = "path", .type = OPT_STRING,
	 .help = "the log directory (default: the project's .sluice/inference)"},
	{.name = NULL},
};

static const step_port inputs[] = {{NULL, NULL, false, NULL}};
static const step_port outputs[] = {
	{"data", "dataset", false, "one row per answered input row, with its prediction and label"},
	{NULL, NULL, false, NULL},
};

/* The project's log: .sluice/inference in the first folder up from dir holding .sluice. */
static char *project_log(const char *dir)
{
	char *d = sl__strdup(dir);

	while (d) {
		char *state = sl__path_join(d, ".sluice");
		bool found = state && sl__is_dir(state);
		char *up;
		if (found) {
			char *log = sl__path_join(state, "inference");
			sl__free(state);
			sl__free(d);
			return log;
		}
		sl__free(state);
		if (!strcmp(d, "/"))
			break;
		up = sl__path_dir(d);
		sl__free(d);
		d = up;
	}
	sl__free(d);
	return NULL;
}

static int run(step_ctx *ctx)
{
	const char *path = step_opt_str(ctx, "path");
	sl_logs_filter f;
	serve_logq q;
	ds_builder *b = NULL;
	size_t rows = 0, labeled = 0;
	char *dir;
	int rc;

	memset(&f, 0, sizeof f);
	f.model = step_opt_str(ctx, "model");
	f.version = step_opt_str(ctx, "version");
	f.since = step_opt_str(ctx, "since");
	f.until = step_opt_str(ctx, "until");
	if ((rc = serve_logq_from(&f, "with.", &q)))
		return step_fail(ctx, SL_EINVAL, "%s", sl_errmsg());
	dir = path ? step_resolve_path(ctx, path) : project_log(ctx->pipeline_dir);
	if (!dir)
		return step_fail(ctx, SL_ENOENT, "no project around %s to read the inference log of; "
						 "give with.path",
				 ctx->pipeline_dir);
	rc = serve_log_table(dir, &q, SERVE_TABLE_TRAIN, step_opt_bool(ctx, "labeled_only", true),
			     &b, &rows);
	if (rc) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	{
		ds_table *t = NULL;
		size_t j;
		if ((rc = ds_builder_write(b, step_output(ctx, "data"))) ||
		    (rc = ds_open(step_output(ctx, "data"), 0, &t))) {
			rc = step_fail(ctx, rc, "%s", sl_errmsg());
			goto out;
		}
		if (ds_col_find(t, "label", &j) == 0)
			labeled = ds_nrow(t) - ds_col_nulls(t, j);
		ds_close(t);
	}
	step_metric(ctx, "rows", (double)rows);
	step_metric(ctx, "labeled", (double)labeled);
	step_log(ctx, "read %zu rows of model %s from %s (%zu labeled)", rows, f.model, dir, labeled);
out:
	ds_builder_free(b);
	sl__free(dir);
	return rc;
}

static bool never_cached(const json_t *with)
{
	(void)with;
	return false;
}

const step_def step_ingest_log = {
	.name = "ingest.log",
	.version = 1,
	.summary = "read the inference log of a served model, joined with feedback labels",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.cacheable = never_cached,
};
