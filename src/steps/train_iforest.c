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

static const step_opt opts[] = {
	{"trees", OPT_INT, false, "100", "number of trees"},
	{"sample_size", OPT_INT, false, "256",
	 "rows each tree draws (without replacement); capped at the number of rows"},
	{"contamination", OPT_ANY, false, "auto",
	 "share of training rows flagged as anomalies, in (0, 0.5]; auto: a score above 0.5"},
	{"seed", OPT_INT, false, "0", "seed of the row samples and splits"},
	{"features", OPT_STRING_LIST, false, NULL,
	 "the input columns (default: every column but those in `exclude`)"},
	{"exclude", OPT_STRING_LIST, false, NULL,
	 "columns never used as inputs (ids, labels, timestamps that only count up)"},
	{"threads", OPT_INT, false, "0", "threads building trees (0: one per CPU)"},
	{NULL, 0, false, NULL, NULL},
};

static const step_port inputs[] = {
	{"train", "dataset", false, "the rows to learn what is normal from"},
	{NULL, NULL, false, NULL},
};

static int check(const json_t *with, char *msg, size_t size)
{
	const json_t *c = json_object_get(with, "contamination");
	json_int_t trees = json_integer_value(json_object_get(with, "trees"));
	json_int_t sample = json_integer_value(json_object_get(with, "sample_size"));
	json_int_t threads = json_integer_value(json_object_get(with, "threads"));

	if (json_is_integer(json_object_get(with, "trees")) &&
	    (trees < 1 || trees > ML_IFOREST_MAX_TREES)) {
		snprintf(msg, size, "with.trees must be between 1 and %d", ML_IFOREST_MAX_TREES);
		return -1;
	}
	if (json_is_integer(json_object_get(with, "sample_size")) &&
	    (sample < 2 || sample > ML_IFOREST_MAX_SAMPLE)) {
		snprintf(msg, size, "with.sample_size must be between 2 and %u",
			 ML_IFOREST_MAX_SAMPLE);
		return -1;
	}
	if (threads < 0) {
		snprintf(msg, size, "with.threads must be 0 (one per CPU) or more");
		return -1;
	}
	if (c && !json_is_null(c) &&
	    !(json_is_string(c) && !strcmp(json_string_value(c), "auto")) &&
	    !(json_is_number(c) && json_number_value(c) > 0 && json_number_value(c) <= 0.5)) {
		snprintf(msg, size, "with.contamination must be auto or a share in (0, 0.5], "
				    "e.g. 0.05 for 5%% of the rows");
		return -1;
	}
	return 0;
}

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
	.check = check,
};
