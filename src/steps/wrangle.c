/*
 * wrangle: an ordered list of operations on a dataset (select, drop, rename,
 * cast, filter, dedupe, impute, clip, normalise, encode, text, dates, lag,
 * rolling, derive; see docs/steps/wrangle.md).
 *
 * Without a `transform` input the operations are fitted on the data (each on
 * the output of the previous one) and the fitted transform is written as an
 * output. With one, nothing is fitted: the transform's operations and
 * learned parameters are applied unchanged, and the transform output is a
 * byte-for-byte copy of the input, so a pipeline that wrangles training and
 * new data with the same transform shows one transform artifact.
 */
#include <string.h>

#include "dataset/dataset.h"
#include "dataset/transform.h"
#include "steps/step.h"

static const step_opt opts[] = {
	{"ops", OPT_LIST, false, NULL,
	 "the operations in order, e.g. [{op: impute, strategy: median}, {filter: \"age >= 18\"}]"},
	{NULL, 0, false, NULL, NULL},
};

static const step_port inputs[] = {
	{"data", "dataset", false, "the dataset to wrangle"},
	{"transform", "transform", true, "a fitted transform to apply instead of fitting the ops"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"data", "dataset", false, "the wrangled dataset"},
	{"transform", "transform", false, "the fitted transform (a copy of the input transform when given)"},
	{NULL, NULL, false, NULL},
};

/* With a transform given, with.ops (if any) must name the same operations. */
static int check_ops(step_ctx *ctx, const json_t *ops, const transform *tr)
{
	const json_t *have = transform_ops(tr);

	if (!ops || json_array_size(ops) == 0)
		return 0;
	if (json_array_size(ops) != json_array_size(have))
		return step_fail(ctx, SL_EINVAL,
				 "with.ops has %zu operations but the transform input has %zu; omit ops to apply the transform",
				 json_array_size(ops), json_array_size(have));
	for (size_t k = 0; k < json_array_size(ops); k++) {
		const json_t *o = json_array_get(ops, k);
		const char *mine = json_string_value(json_object_get(o, "op"));
		const char *theirs = json_string_value(json_object_get(json_array_get(have, k), "op"));
		if (!mine && json_object_size(o) == 1)
			mine = json_object_iter_key(json_object_iter((json_t *)o));
		if (!mine || !theirs || (strcmp(mine, theirs) && !(strcmp(theirs, "normalise") == 0 &&
								   (!strcmp(mine, "normalize") || !strcmp(mine, "scale")))))
			return step_fail(ctx, SL_EINVAL, "with.ops[%zu] is '%s' but the transform's operation %zu is '%s'",
					 k, mine ? mine : "?", k, theirs ? theirs : "?");
	}
	return 0;
}

static int run(step_ctx *ctx)
{
	const char *data_in = step_input(ctx, "data");
	const char *tr_in = step_input(ctx, "transform");
	const json_t *ops = step_opt_json(ctx, "ops");
	ds_table *t = NULL, *out = NULL;
	transform *tr = NULL;
	double t0 = sl__mono_sec();
	int rc;

	if (!data_in)
		return step_fail(ctx, SL_EINVAL, "input 'data' is required");
	if (!tr_in && !json_is_array(ops))
		return step_fail(ctx, SL_EINVAL, "with.ops: required (a list of operations) unless a transform input is given");
	if ((rc = ds_open(data_in, 0, &t)))
		return step_fail(ctx, rc, "reading data: %s", sl_errmsg());
	if (tr_in) {
		if ((rc = transform_load(tr_in, &tr))) {
			step_fail(ctx, rc, "reading transform: %s", sl_errmsg());
			goto out;
		}
		if ((rc = check_ops(ctx, ops, tr)))
			goto out;
		if ((rc = transform_apply_table(tr, t, &out))) {
			step_fail(ctx, rc, "%s", sl_errmsg());
			goto out;
		}
		step_log(ctx, "applied the given transform (%zu operations), nothing fitted",
			 json_array_size(transform_ops(tr)));
	} else {
		if ((rc = transform_fit(ops, "with.ops", t, &tr, &out))) {
			step_fail(ctx, rc, "%s", sl_errmsg());
			goto out;
		}
		step_log(ctx, "fitted %zu operations", json_array_size(ops));
	}
	if ((rc = ds_table_write(out, step_output(ctx, "data")))) {
		step_fail(ctx, rc, "writing data: %s", sl_errmsg());
		goto out;
	}
	/* A given transform is passed on byte for byte; a fitted one is serialised canonically. */
	rc = tr_in ? sl__copy_file(tr_in, step_output(ctx, "transform"))
		   : transform_save(tr, step_output(ctx, "transform"));
	if (rc) {
		step_fail(ctx, rc, "writing transform: %s", sl_errmsg());
		goto out;
	}
	step_metric(ctx, "rows_in", (double)ds_nrow(t));
	step_metric(ctx, "rows_out", (double)ds_nrow(out));
	step_metric(ctx, "columns_out", (double)ds_ncol(out));
	step_log(ctx, "%zu rows in, %zu rows and %zu columns out in %.3f s", ds_nrow(t), ds_nrow(out),
		 ds_ncol(out), sl__mono_sec() - t0);
out:
	ds_close(out);
	ds_close(t);
	transform_free(tr);
	return rc;
}

const step_def step_wrangle = {
	.name = "wrangle",
	.version = 1,
	.summary = "select, clean, encode and derive columns; fit a transform or apply one",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
};
