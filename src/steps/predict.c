/*
 * predict: batch scoring in a pipeline. The rows of `data` through a
 * bundle (its transform, then its model) or a plain model, into a dataset
 * holding the input's columns, `rejected`, the predictions and, with
 * `explain`, the contributions (model/score.h has the columns; the work is
 * score_table's, the same as `sluice predict`'s) and, as the step's
 * metrics importance_<input>, each input's global importance: the mean
 * |contribution| over the scored rows.
 */
#include <stdio.h>
#include <string.h>

#include "model/score.h"
#include "steps/step.h"

static const step_opt opts[] = {
	{.name = "explain", .type = OPT_BOOL, .def = "false",
	 .help = "add contrib_<input> per model input and contrib_base (each input's share of "
		 "the raw score); the mean |contrib_<input>| becomes the metric importance_<input>"},
	{.name = NULL},
};

static const step_port inputs[] = {
	{"bundle", "bundle", true, "the packaged model (package's output): raw rows in"},
	{"model", "model", true, "a trained model (a train.* output): its input columns in"},
	{"data", "dataset", false, "the rows to score"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"data", "dataset", false, "the input's columns, rejected, the predictions"},
	{NULL, NULL, false, NULL},
};

static int check(const step_check *c)
{
	bool m = step_check_has_input(c, "model"), b = step_check_has_input(c, "bundle");

	if (m == b)
		return step_check_fail(c, "", "connect one of `bundle` and `model`%s",
				       m ? ", not both" : "");
	return 0;
}

static int run(step_ctx *ctx)
{
	const char *mpath = step_input(ctx, "bundle") ? step_input(ctx, "bundle")
						      : step_input(ctx, "model");
	score_opts o = {step_opt_bool(ctx, "explain", false), "data"};
	score_stats st = {0, 0, NULL};
	const ml_signature *sig = NULL;
	ds_table *in = NULL, *out = NULL;
	bundle *b = NULL;
	int rc;

	if ((rc = bundle_open(mpath, 0, &b))) {
		rc = step_fail(ctx, rc, "%s: %s", step_input(ctx, "bundle") ? "bundle" : "model",
			       sl_errmsg());
		goto done;
	}
	if ((rc = ds_open(step_input(ctx, "data"), 0, &in))) {
		rc = step_fail(ctx, rc, "data: %s", sl_errmsg());
		goto done;
	}
	sig = &bundle_model(b)->sig;
	if (o.explain && !(st.importance = sl__calloc(sig->n_features ? sig->n_features : 1,
						      sizeof *st.importance))) {
		rc = step_fail(ctx, sl__oom(), "%s", sl_errmsg());
		goto done;
	}
	if ((rc = score_table(b, in, &o, &out, &st))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	if ((rc = ds_table_write(out, step_output(ctx, "data")))) {
		rc = step_fail(ctx, rc, "writing the predictions: %s", sl_errmsg());
		goto done;
	}
	step_metric(ctx, "rows", (double)st.rows);
	step_metric(ctx, "rejected", (double)st.rejected);
	/* Global importance: the mean |contribution| of each input. */
	for (size_t j = 0; st.importance && j < sig->n_features; j++) {
		char name[300];
		snprintf(name, sizeof name, "importance_%s", sig->features[j].name);
		step_metric(ctx, name, st.importance[j]);
	}
	step_log(ctx, "%zu rows scored by a %s model, %zu rejected by the transform's filters",
		 st.rows, bundle_model(b)->ops->algorithm, st.rejected);
	if (st.rejected)
		step_note(ctx, "%zu of %zu rows rejected by the transform's filters", st.rejected,
			  st.rows);
done:
	sl__free(st.importance);
	ds_close(out);
	ds_close(in);
	bundle_close(b);
	return rc;
}

const step_def step_predict = {
	.name = "predict",
	.version = 1,
	.summary = "score rows with a bundle or a model: predictions, probabilities, "
		   "contributions on request, rejected rows marked",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
};
