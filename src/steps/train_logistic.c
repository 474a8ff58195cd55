/*
 * train.logistic: a binary or multinomial logistic regression on the
 * `train` input; src/ml/logistic.c fits it. String features are one-hot
 * encoded by the model itself; a missing value in a feature is refused
 * (impute it in a wrangle step).
 */
#include <stdio.h>
#include <string.h>

#include "ml/glm.h"
#include "steps/train.h"

static const step_opt opts[] = {
	TRAIN_COMMON_OPTS,
	{.name = "penalty", .type = OPT_STRING, .def = "l2", .choices = "l2 l1 none",
	 .help = "the penalty on the coefficients"},
	{.name = "C", .type = OPT_NUMBER, .def = "1.0", .range = "(0,)",
	 .help = "inverse penalty strength, as scikit-learn's LogisticRegression"},
	{.name = "class_weight", .type = OPT_STRING, .choices = "balanced",
	 .help = "balanced: weigh each row by n / (classes x rows of its class)"},
	{.name = "fit_intercept", .type = OPT_BOOL, .def = "true", .help = "fit an intercept (unpenalised)"},
	{.name = "standardize", .type = OPT_BOOL, .def = "false",
	 .help = "penalise the coefficients of standardised features (coefficients are still "
		 "reported on the original scale)"},
	{.name = "max_iter", .type = OPT_INT, .def = "200", .range = "[1,)",
	 .help = "at most this many solver iterations"},
	{.name = "tol", .type = OPT_NUMBER, .def = "0.00001", .range = "(0,)",
	 .help = "stop when no gradient component of the objective per unit of row weight exceeds it"},
	TRAIN_OPT_THREADS,
	{.name = NULL},
};

static int read_opts(const json_t *with, logistic_opts *o, char *msg, size_t size)
{
	const char *pen = json_string_value(json_object_get(with, "penalty"));
	const char *cw = json_string_value(json_object_get(with, "class_weight"));
	const json_t *b;

	memset(o, 0, sizeof *o);
	if (!logistic_penalty_parse(pen ? pen : "l2", &o->penalty)) {
		snprintf(msg, size, "with.penalty: '%s' is not a penalty: use l2, l1 or none", pen);
		return SL_EINVAL;
	}
	if (cw && strcmp(cw, "balanced") != 0) {
		snprintf(msg, size, "with.class_weight: '%s' is not known: use balanced, or leave "
				    "it out for equal weights", cw);
		return SL_EINVAL;
	}
	o->balanced = cw != NULL;
	o->C = train_with_num(with, "C", 1.0);
	b = json_object_get(with, "fit_intercept");
	o->fit_intercept = b ? json_is_true(b) : true;
	o->standardize = json_is_true(json_object_get(with, "standardize"));
	o->max_iter = (long)train_with_num(with, "max_iter", 200);
	o->tol = train_with_num(with, "tol", 1e-5);
	o->threads = (unsigned)train_with_num(with, "threads", 0);
	if (logistic_opts_check(o)) {
		snprintf(msg, size, "train.logistic: %s", sl_errmsg());
		return SL_EINVAL;
	}
	return 0;
}

/* What the schema cannot say: the option checks of the model family itself. */
static int check(const step_check *c)
{
	logistic_opts o;
	char msg[512];

	if (read_opts(c->with, &o, msg, sizeof msg))
		return step_check_fail(c, "", "%s", msg);
	return 0;
}

static int run(step_ctx *ctx)
{
	/* Multiclass here means "a classifier": the frame settles binary or
	 * multiclass from the number of classes. */
	ml_frame_opts fo = {.task = ML_MULTICLASS, .allow_strings = true};
	logistic_opts o;
	train_data d;
	ml_model *m;
	char msg[512];
	int rc;

	if ((rc = read_opts(ctx->with, &o, msg, sizeof msg)))
		return step_fail(ctx, rc, "%s", msg);
	if ((rc = train_open(ctx, fo, NULL, 0, &d)))
		return rc;
	if ((rc = logistic_fit(&d.train, &o, &m))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		train_data_free(&d);
		return rc;
	}
	train_log_warnings(ctx, m);
	step_log(ctx, "%s penalty: %lld iterations, converged: %s",
		 logistic_penalty_name(o.penalty),
		 (long long)json_integer_value(json_object_get(m->info, "iterations")),
		 json_is_true(json_object_get(m->info, "converged")) ? "yes" : "no");
	rc = train_finish(ctx, &d, m);
	train_data_free(&d);
	return rc;
}

const step_def step_train_logistic = {
	.name = "train.logistic",
	.version = 1,
	.summary = "fit a logistic regression (binary or multinomial; l2, l1 or no penalty)",
	.opts = opts,
	.inputs = train_inputs,
	.outputs = train_outputs,
	.run = run,
	.check = check,
};
