/*
 * train.gbdt: gradient-boosted trees on the `train` input (ml/gbdt.h),
 * scored on `valid` when given (which also drives early stopping and the
 * validation curve), written to `model`. Missing values and string columns
 * are used as they are: each split learns where missing values go, and
 * string columns split on sets of categories.
 *
 * Options are checked at parse time (check(), the same code run() uses),
 * so a learning_rate of 2 is a FILE:LINE:COL error before anything runs.
 *
 * Besides the common train metrics (train.h) the step records
 * best_round and rounds, and the share of total split gain of the ten
 * features with the most ("importance.<column>"); the whole importance
 * table and the curve are in the model's info.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/gbdt.h"
#include "steps/train.h"

static const step_opt opts[] = {
	TRAIN_COMMON_OPTS,
	{"objective", OPT_STRING, false, NULL,
	 "regression | binary | multiclass (default: inferred from the target)"},
	{"rounds", OPT_INT, false, "100", "boosting rounds (trees per class)"},
	{"learning_rate", OPT_NUMBER, false, "0.3", "shrinkage of each tree, (0, 1]"},
	{"max_depth", OPT_INT, false, "6", "deepest split level (0: no limit, leafwise only)"},
	{"max_leaves", OPT_INT, false, "0",
	 "most leaves per tree (0: no limit; leafwise defaults to 31)"},
	{"min_child_weight", OPT_NUMBER, false, "1", "least hessian sum in a child"},
	{"lambda", OPT_NUMBER, false, "1", "L2 penalty on leaf values"},
	{"min_split_gain", OPT_NUMBER, false, "0", "least gain a split must bring (XGBoost's gamma)"},
	{"subsample", OPT_NUMBER, false, "1", "share of rows each tree sees, (0, 1]"},
	{"colsample", OPT_NUMBER, false, "1", "share of features each tree may use, (0, 1]"},
	{"bins", OPT_INT, false, "256", "histogram bins per feature, the missing bin included (2-256)"},
	{"max_cat", OPT_INT, false, "64",
	 "categories a string column keeps as its own bins; rarer ones share one"},
	{"early_stopping", OPT_INT, false, "0",
	 "stop after this many rounds without a better validation loss (needs valid; 0: off)"},
	{"growth", OPT_STRING, false, "depthwise", "depthwise (level by level) | leafwise (best leaf first)"},
	{"seed", OPT_INT, false, "0", "seed of row and column sampling"},
	{"threads", OPT_INT, false, "0", "threads (0: every core); the model is the same for any"},
	{NULL, 0, false, NULL, NULL},
};

/* An integer option in [0, hi] into *out (gbdt_params_check knows the real
 * ranges); false with msg set otherwise. */
static bool int_opt(const json_t *with, const char *name, int64_t hi, uint64_t *out, char *msg,
		    size_t size)
{
	json_t *v = json_object_get(with, name);
	int64_t x;

	if (!v)
		return true;
	if (!json_is_integer(v)) {
		snprintf(msg, size, "with.%s: expected a whole number", name);
		return false;
	}
	x = (int64_t)json_integer_value(v);
	if (x < 0 || x > hi) {
		snprintf(msg, size, "with.%s: expected a whole number from 0 to %lld (got %lld)", name,
			 (long long)hi, (long long)x);
		return false;
	}
	*out = (uint64_t)x;
	return true;
}

static bool num_opt(const json_t *with, const char *name, double *out, char *msg, size_t size)
{
	json_t *v = json_object_get(with, name);

	if (!v)
		return true;
	if (!json_is_number(v)) {
		snprintf(msg, size, "with.%s: expected a number", name);
		return false;
	}
	*out = json_number_value(v);
	return true;
}

/* The options as gbdt_params, checked (defaults for absent ones). */
static int read_params(const json_t *with, gbdt_params *p, char *msg, size_t size)
{
	const char *obj = json_string_value(json_object_get(with, "objective"));
	const char *growth = json_string_value(json_object_get(with, "growth"));
	uint64_t rounds, depth, leaves, bins, max_cat, es, seed, threads;
	bool ok;

	gbdt_params_default(p);
	rounds = p->rounds;
	depth = p->max_depth;
	leaves = p->max_leaves;
	bins = p->bins;
	max_cat = p->max_cat;
	es = p->early_stopping;
	seed = p->seed;
	threads = p->threads;
	if (obj) {
		if (!ml_task_parse(obj, &p->objective) ||
		    (p->objective != ML_REGRESSION && p->objective != ML_BINARY &&
		     p->objective != ML_MULTICLASS)) {
			snprintf(msg, size, "with.objective: '%s' is not regression, binary or "
					    "multiclass",
				 obj);
			return -1;
		}
	}
	if (growth) {
		if (!strcmp(growth, "depthwise"))
			p->growth = GBDT_DEPTHWISE;
		else if (!strcmp(growth, "leafwise"))
			p->growth = GBDT_LEAFWISE;
		else {
			snprintf(msg, size, "with.growth: '%s' is not depthwise or leafwise", growth);
			return -1;
		}
	}
	ok = int_opt(with, "rounds", UINT32_MAX, &rounds, msg, size) &&
	     int_opt(with, "max_depth", UINT32_MAX, &depth, msg, size) &&
	     int_opt(with, "max_leaves", UINT32_MAX, &leaves, msg, size) &&
	     int_opt(with, "bins", UINT32_MAX, &bins, msg, size) &&
	     int_opt(with, "max_cat", UINT32_MAX, &max_cat, msg, size) &&
	     int_opt(with, "early_stopping", UINT32_MAX, &es, msg, size) &&
	     int_opt(with, "seed", INT64_MAX, &seed, msg, size) &&
	     int_opt(with, "threads", 4096, &threads, msg, size) &&
	     num_opt(with, "learning_rate", &p->learning_rate, msg, size) &&
	     num_opt(with, "min_child_weight", &p->min_child_weight, msg, size) &&
	     num_opt(with, "lambda", &p->lambda, msg, size) &&
	     num_opt(with, "min_split_gain", &p->min_split_gain, msg, size) &&
	     num_opt(with, "subsample", &p->subsample, msg, size) &&
	     num_opt(with, "colsample", &p->colsample, msg, size);
	if (!ok)
		return -1;
	p->rounds = (uint32_t)rounds;
	p->max_depth = (uint32_t)depth;
	p->max_leaves = (uint32_t)leaves;
	p->bins = (uint32_t)bins;
	p->max_cat = (uint32_t)max_cat;
	p->early_stopping = (uint32_t)es;
	p->seed = seed;
	p->threads = (unsigned)threads;
	if (gbdt_params_check(p, "with.") != 0) {
		snprintf(msg, size, "%s", sl_errmsg());
		return -1;
	}
	return 0;
}

static int check(const json_t *with, char *msg, size_t size)
{
	gbdt_params p;

	return read_params(with, &p, msg, size);
}

typedef struct ranked {
	double gain;
	size_t j;
} ranked;

static int by_gain(const void *a, const void *b)
{
	const ranked *x = a, *y = b;

	if (x->gain != y->gain)
		return x->gain > y->gain ? -1 : 1;
	return (x->j > y->j) - (x->j < y->j);
}

/* Metrics and log lines from what training recorded in the model's info. */
static void report(step_ctx *ctx, const ml_model *m)
{
	const json_t *gain = json_object_get(json_object_get(m->info, "importance"), "gain");
	const json_t *best = json_object_get(m->info, "best_round");
	size_t P = m->sig.n_features, n = 0;
	ranked *r = sl__calloc(P ? P : 1, sizeof *r);
	double total = 0;

	step_metric(ctx, "rounds", (double)json_integer_value(json_object_get(m->info, "rounds")));
	if (best) {
		step_metric(ctx, "best_round", (double)json_integer_value(best));
		step_log(ctx, "best validation round %lld of %lld",
			 (long long)json_integer_value(best),
			 (long long)json_integer_value(json_object_get(m->info, "rounds_trained")));
	}
	if (!r)
		return;
	for (size_t j = 0; j < P; j++) {
		json_t *v = json_object_get(gain, m->sig.features[j].name);
		if (v) {
			r[n++] = (ranked){json_real_value(v), j};
			total += json_real_value(v);
		}
	}
	qsort(r, n, sizeof *r, by_gain);
	for (size_t k = 0; k < n && k < 10 && total > 0; k++) {
		char name[256];
		snprintf(name, sizeof name, "importance.%s", m->sig.features[r[k].j].name);
		step_metric(ctx, name, r[k].gain / total);
		step_log(ctx, "importance %-24s %.4f", m->sig.features[r[k].j].name,
			 r[k].gain / total);
	}
	sl__free(r);
}

static int run(step_ctx *ctx)
{
	ml_frame_opts fo = {0};
	train_data d;
	gbdt_params p;
	ml_model *m = NULL;
	char msg[512];
	int rc;

	if (read_params(ctx->with, &p, msg, sizeof msg))
		return step_fail(ctx, SL_EINVAL, "%s", msg);
	fo.task = p.objective;
	fo.allow_missing = true;
	fo.allow_strings = true;
	if ((rc = train_open(ctx, fo, NULL, 0, &d)))
		return rc;
	if (p.early_stopping && d.n_valid == 0) {
		train_data_free(&d);
		return step_fail(ctx, SL_EINVAL,
				 "with.early_stopping: needs validation rows (connect a `valid` input)");
	}
	rc = gbdt_train(&p, &d.train, d.valid_X, d.valid_y, d.n_valid, &m);
	if (rc) {
		train_data_free(&d);
		return step_fail(ctx, rc, "%s: %s", ctx->def->name, sl_errmsg());
	}
	train_log_warnings(ctx, m);
	step_log(ctx, "%u trees", gbdt_of(m)->n_trees);
	report(ctx, m);
	rc = train_finish(ctx, &d, m);
	train_data_free(&d);
	return rc;
}

const step_def step_train_gbdt = {
	.name = "train.gbdt",
	.version = 1,
	.summary = "gradient-boosted trees (histograms, missing values and categories handled)",
	.opts = opts,
	.inputs = train_inputs,
	.outputs = train_outputs,
	.run = run,
	.check = check,
};
