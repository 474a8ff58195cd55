/*
 * train.iforest: an isolation forest (src/ml/iforest.c) over the `train`
 * rows. Unsupervised: there is no target; a label column, if the data has
 * one, belongs in `exclude` (evaluate reads it to score the detector).
 * Strings and missing values are accepted (random category subsets; a
 * missing value follows the majority side of each split).
 */
#include <math.h>
#include <string.h>

#include "ml/iforest.h"
#include "steps/train.h"

static const step_opt contamination_shapes[] = {
	{.type = OPT_STRING, .choices = "auto", .help = "auto"},
	{.type = OPT_NUMBER, .range = "(0, 0.5]", .help = "a share of the rows in (0, 0.5]"},
	{.help = NULL},
};

/* The ranges are ML_IFOREST_MAX_TREES and ML_IFOREST_MAX_SAMPLE (iforest.h). */
static const step_opt opts[] = {
	{.name = "trees", .type = OPT_INT, .def = "100", .range = "[1, 10000]",
	 .help = "number of trees"},
	{.name = "sample_size", .type = OPT_INT, .def = "256", .range = "[2, 1048576]",
	 .help = "rows each tree draws (without replacement); capped at the number of rows"},
	{.name = "contamination", .type = OPT_ANY, .def = "auto", .alts = contamination_shapes,
	 .help = "share of training rows flagged as anomalies; auto: a score above 0.5"},
	{.name = "seed", .type = OPT_INT, .def = "0", .help = "seed of the row samples and splits"},
	{.name = "features", .type = OPT_STRING_LIST, .len = "[1,)", .unique = true,
	 .item = &train_column, .columns_of = "train",
	 .help = "the input columns (default: every column but those in `exclude`)"},
	{.name = "exclude", .type = OPT_STRING_LIST, .unique = true, .item = &train_column,
	 .help = "columns never used as inputs (ids, labels, timestamps that only count up)"},
	TRAIN_OPT_THREADS,
	{.name = NULL},
};

static const step_port inputs[] = {
	{"train", "dataset", false, "the rows to learn what is normal from"},
	{NULL, NULL, false, NULL},
};

static int run(step_ctx *ctx)
{
	const json_t *c = step_opt_json(ctx, "contamination");
	ml_iforest_opts o = {
		.trees = (unsigned)step_opt_int(ctx, "trees", 100),
		.sample_size = (size_t)step_opt_int(ctx, "sample_size", 256),
		.contamination = json_is_number(c) ? json_number_value(c) : 0,
		.seed = (uint64_t)step_opt_int(ctx, "seed", 0),
		.threads = (unsigned)step_opt_int(ctx, "threads", 0),
	};
	ml_frame_opts fo = {.task = ML_ANOMALY, .allow_missing = true, .allow_strings = true};
	train_data d;
	ml_model *m;
	int rc;

	if ((rc = train_open(ctx, fo, NULL, 0, &d)))
		return rc;
	rc = ml_iforest_fit(&d.train, &o, &m);
	if (rc) {
		train_data_free(&d);
		return step_fail(ctx, rc, "%s", sl_errmsg());
	}
	step_log(ctx, "%u trees of %lld rows each; threshold %.6g flags %.4g%% of the training rows",
		 o.trees, (long long)json_integer_value(json_object_get(m->info, "sample_size")),
		 json_real_value(json_object_get(m->info, "threshold")),
		 100 * json_real_value(json_object_get(m->info, "train_anomaly_rate")));
	step_metric(ctx, "train_anomaly_rate",
		    json_real_value(json_object_get(m->info, "train_anomaly_rate")));
	step_metric(ctx, "threshold", json_real_value(json_object_get(m->info, "threshold")));
	rc = train_finish(ctx, &d, m);
	train_data_free(&d);
	return rc;
}

const step_def step_train_iforest = {
	.name = "train.iforest",
	.version = 1,
	.summary = "isolation forest: an anomaly score and flag per row, without labels",
	.opts = opts,
	.inputs = inputs,
	.outputs = train_outputs,
	.run = run,
};
