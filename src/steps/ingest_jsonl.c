/*
 * ingest.jsonl: JSON Lines files (one, or several by glob) to a typed
 * dataset. src/dataset/jsonl.c documents the format and the type rules; the
 * outputs, bad-row handling and metrics are those of ingest.csv:
 *
 *   data     the dataset
 *   rejects  CSV of quarantined lines (file,line,column,reason,raw), always
 *            written, header only when nothing was rejected
 *
 * Metrics: rows, columns, bytes, files, rows_skipped, rows_quarantined.
 */
#include <string.h>

#include "dataset/dataset.h"
#include "steps/ingest_common.h"

static const step_opt opts[] = {
	{.name = "path", .type = OPT_PATH, .required = true,
	 .help = "the JSONL file, or a glob matching several (read in sorted order)"},
	INGEST_OPT_TYPES("key"),
	INGEST_OPT_ON_ERROR("bad lines"),
	INGEST_OPT_MAX_BAD_ROWS("lines"),
	{.name = NULL},
};

static int run(step_ctx *ctx)
{
	const char *rej_out = step_output(ctx, "rejects");
	ingest_types types = {0};
	ingest_bad bad;
	char *pattern = NULL, **paths = NULL;
	size_t npaths = 0;
	ds_rejects *rej = NULL;
	ds_builder *b = NULL;
	ds_ingest_stats st = {0};
	ds_ingest_opts o;
	int rc = 0;

	memset(&o, 0, sizeof o);
	if ((rc = ingest_decode(ctx, &types, &o, &bad)))
		goto done;
	pattern = step_resolve_path(ctx, step_opt_str(ctx, "path"));
	if (!pattern) {
		rc = step_fail(ctx, SL_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = ds_glob(pattern, &paths, &npaths))) {
		rc = step_fail(ctx, rc, "with.path: %s", sl_errmsg());
		goto done;
	}
	if (rej_out && (rc = ds_rejects_open(rej_out, &rej))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	ingest_bad_attach(&bad, &o, rej);
	if ((rc = ds_jsonl_read_files((const char *const *)paths, npaths, &o, &b, &st))) {
		rc = ingest_fail_read(ctx, rc);
		goto done;
	}
	if ((rc = ingest_finish(&bad, &st, ds_builder_ncol(b), pattern)))
		goto done;
	if ((rc = ds_builder_write(b, step_output(ctx, "data")))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	rc = ds_rejects_close(rej, true);
	rej = NULL;
	if (rc) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	step_metric(ctx, "bytes", (double)st.bytes);
	step_metric(ctx, "files", (double)st.files);
	step_log(ctx, "read %llu rows x %zu columns from %zu file%s; %llu bad line%s",
		 (unsigned long long)st.rows, ds_builder_ncol(b), npaths, npaths == 1 ? "" : "s",
		 (unsigned long long)st.rows_rejected, st.rows_rejected == 1 ? "" : "s");
done:
	ds_rejects_close(rej, false);
	ds_builder_free(b);
	ds_paths_free(paths, npaths);
	sl__free(pattern);
	ingest_types_free(&types);
	return rc;
}

const step_def step_ingest_jsonl = {
	.name = "ingest.jsonl",
	.version = 2,
	.summary = "read JSON Lines files (one object per line, glob) into a dataset",
	.opts = opts,
	.inputs = ingest_no_inputs,
	.outputs = ingest_outputs,
	.run = run,
	.check = ingest_check,
};
