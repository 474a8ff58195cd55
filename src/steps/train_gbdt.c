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

/* The ranges are those of gbdt_params_check (gbdt.h); what goes together
 * (max_depth 0 only with leafwise growth, ...) is check()'s. */
static const step_opt opts[] = {
	TRAIN_COMMON_OPTS,
	{.name = "objective", .type = OPT_STRING, .choices = "regression binary multiclass",
	 .help = "the loss (default: inferred from the target)"},
	{.name = "rounds", .type = OPT_INT, .def = "100", .range = "[1, 1000000]",
	 .help = "boosting rounds (trees per class)"},
	{.name = "learning_rate", .type = OPT_NUMBER, .def = "0.3", .range = "(0, 1]",
	 .help = "shrinkage of each tree"},
	{.name = "max_depth", .type = OPT_INT, .def = "6", .range = "[0, 64]",
	 .help = "deepest split level (0: no limit, leafwise only)"},
	{.name = "max_leaves", .type = OPT_INT, .def = "0", .range = "[0, 65536]",
	 .help = "most leaves per tree (0: no limit; leafwise defaults to 31)"},
	{.name = "growth", .type = OPT_STRING, .def = "depthwise", .choices = "depthwise leafwise",
	 .help = "depthwise: level by level; leafwise: best leaf first"},
	{.name = "min_child_weight", .type = OPT_NUMBER, .def = "1", .range = "[0,)",
	 .help = "least hessian sum in a child"},
	{.name = "lambda", .type = OPT_NUMBER, .def = "1", .range = "[0,)",
	 .help = "L2 penalty on leaf values"},
	{.name = "min_split_gain", .type = OPT_NUMBER, .def = "0", .range = "[0,)",
	 .help = "least gain a split must bring (XGBoost's gamma)"},
	{.name = "subsample", .type = OPT_NUMBER, .def = "1", .range = "(0, 1]",
	 .help = "share of rows each tree sees"},
	{.name = "colsample", .type = OPT_NUMBER, .def = "1", .range = "(0, 1]",
	 .help = "share of features each tree may use"},
	{.name = "bins", .type = OPT_INT, .def = "256", .range = "[2, 256]",
	 .help = "histogram bins per feature, the missing bin included (one byte)"},
	{.name = "max_cat", .type = OPT_INT, .def = "64", .range = "[2, 255]",
	 .help = "categories a string column keeps as its own bins; rarer ones share one"},
	{.name = "early_stopping", .type = OPT_INT, .def = "0", .range = "[0, 1000000]",
	 .help = "stop after this many rounds without a better validation loss (needs valid)"},
	{.name = "seed", .type = OPT_INT, .def = "0", .range = "[0,)",
	 .help = "seed of row and column sampling"},
	TRAIN_OPT_THREADS,
	{.name = NULL},
};

/* The options as gbdt_params (the schema has checked each value's range),
 * then what goes together. */
static int read_params(const json_t *with, gbdt_params *p, char *msg, size_t size)
{
	const char *obj = json_string_value(json_object_get(with, "objective"));
	const char *growth = json_string_value(json_object_get(with, "growth"));

	gbdt_params_default(p);
	if (obj && !ml_task_parse(obj, &p->objective)) {
		snprintf(msg, size, "with.objective: '%s' is not regression, binary or multiclass", obj);
		return SL_EINVAL;
	}
	p->growth = growth && !strcmp(growth, "leafwise") ? GBDT_LEAFWISE : GBDT_DEPTHWISE;
	p->rounds = (uint32_t)train_with_num(with, "rounds", p->rounds);
	p->learning_rate = train_with_num(with, "learning_rate", p->learning_rate);
	p->max_depth = (uint32_t)train_with_num(with, "max_depth", p->max_depth);
	p->max_leaves = (uint32_t)train_with_num(with, "max_leaves", p->max_leaves);
	p->min_child_weight = train_with_num(with, "min_child_weight", p->min_child_weight);
	p->lambda = train_with_num(with, "lambda", p->lambda);
	p->min_split_gain = train_with_num(with, "min_split_gain", p->min_split_gain);
	p->subsample = train_with_num(with, "subsample", p->subsample);
	p->colsample = train_with_num(with, "colsample", p->colsample);
	p->bins = (uint32_t)train_with_num(with, "bins", p->bins);
	p->max_cat = (uint32_t)train_with_num(with, "max_cat", p->max_cat);
	p->early_stopping = (uint32_t)train_with_num(with, "early_stopping", 0);
	p->seed = (uint64_t)json_integer_value(json_object_get(with, "seed"));
	p->threads = (unsigned)train_with_num(with, "threads", 0);
	if (gbdt_params_check(p, "with.") != 0) {
		snprintf(msg, size, "%s", sl_errmsg());
		return SL_EINVAL;
	}
	return 0;
}

/* What the schema cannot say: options that go together, and early stopping
 * without validation rows to watch. */
static int check(const step_check *c)
{
	const char *growth = json_string_value(json_object_get(c->with, "growth"));
	gbdt_params p;
	char msg[512];

	/* Pointed at the option to change; gbdt_params_check below holds the
	 * same rules for every other caller. */
	if (train_with_num(c->with, "max_depth", 6) == 0 && (!growth || strcmp(growth, "leafwise")))
		return step_check_fail(c, "max_depth",
				       "max_depth 0 (no limit) is for growth: leafwise; depth-wise "
				       "growth needs a depth of 1 to %d",
				       GBDT_MAX_DEPTH);
	if (train_with_num(c->with, "max_leaves", 0) == 1)
		return step_check_fail(c, "max_leaves", "max_leaves 1 cannot be: a split makes 2 "
							"leaves (0: no limit)");
	if (train_with_num(c->with, "lambda", 1) == 0 &&
	    train_with_num(c->with, "min_child_weight", 1) == 0)
		return step_check_fail(c, "lambda", "lambda and min_child_weight cannot both be 0: a "
						    "leaf with no hessian would have no value");
	if (read_params(c->with, &p, msg, sizeof msg))
		return step_check_fail(c, "", "%s", msg);
	if (p.early_stopping && !step_check_has_input(c, "valid"))
		return step_check_fail(c, "early_stopping",
				       "early stopping watches the validation loss: connect a "
				       "`valid` input, or set early_stopping: 0");
	return 0;
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
		/* The validation loss per round, as a series (MLflow's metric
		 * history): `runs show --json` and run comparisons read it. */
		const json_t *curve = json_object_get(m->info, "curve");
		const json_t *vals = json_object_get(curve, "valid");
		size_t nv = json_array_size(vals);
		double *v = sl__malloc((nv ? nv : 1) * sizeof *v);
		if (v) {
			char name[64];
			for (size_t k = 0; k < nv; k++)
				v[k] = json_is_number(json_array_get(vals, k))
					       ? json_number_value(json_array_get(vals, k))
					       : NAN;
			snprintf(name, sizeof name, "valid_%s_curve",
				 json_string_value(json_object_get(curve, "metric")));
			step_metric_series(ctx, name, v, nv);
			sl__free(v);
		}
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
