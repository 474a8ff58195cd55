/*
 * train.linear: a linear regression (ordinary least squares, ridge, lasso
 * or elastic net) on the `train` input; src/ml/linear.c fits it.
 * String features are one-hot encoded by the model itself; a missing
 * value in a feature is refused (impute it in a wrangle step).
 */
#include <stdio.h>
#include <string.h>

#include "ml/glm.h"
#include "steps/train.h"

static const step_opt opts[] = {
	TRAIN_COMMON_OPTS,
	{.name = "method", .type = OPT_STRING, .def = "ols", .choices = "ols ridge lasso elasticnet",
	 .help = "ordinary least squares, or a penalised fit"},
	{.name = "alpha", .type = OPT_NUMBER, .def = "1.0", .range = "[0,)",
	 .help = "penalty strength: ridge as scikit-learn's Ridge, lasso and elasticnet as "
		 "its ElasticNet; ignored by ols"},
	{.name = "l1_ratio", .type = OPT_NUMBER, .def = "0.5", .range = "[0, 1]",
	 .help = "elasticnet: the L1 share of the penalty"},
	{.name = "fit_intercept", .type = OPT_BOOL, .def = "true", .help = "fit an intercept (unpenalised)"},
	{.name = "standardize", .type = OPT_BOOL, .def = "false",
	 .help = "penalise the coefficients of standardised features (coefficients are still "
		 "reported on the original scale)"},
	{.name = "max_iter", .type = OPT_INT, .def = "1000", .range = "[1,)",
	 .help = "lasso/elasticnet: at most this many sweeps"},
	{.name = "tol", .type = OPT_NUMBER, .def = "0.0001", .range = "(0,)",
	 .help = "lasso/elasticnet: stop when the duality gap is below tol x the target's sum of squares"},
	TRAIN_OPT_THREADS,
	{.name = NULL},
};

/* Options from `with` (absent ones at their defaults); SL_EINVAL with msg. */
static int read_opts(const json_t *with, linear_opts *o, char *msg, size_t size)
{
	const char *method = json_string_value(json_object_get(with, "method"));
	const json_t *b;

	memset(o, 0, sizeof *o);
	if (!linear_method_parse(method ? method : "ols", &o->method)) {
		snprintf(msg, size, "with.method: '%s' is not a method: use ols, ridge, lasso or "
				    "elasticnet", method);
		return SL_EINVAL;
	}
	o->alpha = train_with_num(with, "alpha", 1.0);
	o->l1_ratio = train_with_num(with, "l1_ratio", 0.5);
	b = json_object_get(with, "fit_intercept");
	o->fit_intercept = b ? json_is_true(b) : true;
	o->standardize = json_is_true(json_object_get(with, "standardize"));
	o->max_iter = (long)train_with_num(with, "max_iter", 1000);
	o->tol = train_with_num(with, "tol", 1e-4);
	o->threads = (unsigned)train_with_num(with, "threads", 0);
	if (linear_opts_check(o)) {
		snprintf(msg, size, "train.linear: %s", sl_errmsg());
		return SL_EINVAL;
	}
	return 0;
}

/* What the schema cannot say: the option checks of the model family itself. */
static int check(const step_check *c)
{
	linear_opts o;
	char msg[512];

	if (read_opts(c->with, &o, msg, sizeof msg))
		return step_check_fail(c, "", "%s", msg);
	return 0;
}

static int run(step_ctx *ctx)
{
	ml_frame_opts fo = {.task = ML_REGRESSION, .allow_strings = true};
	linear_opts o;
	train_data d;
	ml_model *m;
	char msg[512];
	int rc;

	if ((rc = read_opts(ctx->with, &o, msg, sizeof msg)))
		return step_fail(ctx, rc, "%s", msg);
	if ((rc = train_open(ctx, fo, NULL, 0, &d)))
		return rc;
	if ((rc = linear_fit(&d.train, &o, &m))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		train_data_free(&d);
		return rc;
	}
	train_log_warnings(ctx, m);
	step_log(ctx, "%s fit of %zu coefficients (%zu features)", linear_method_name(o.method),
		 json_object_size(json_object_get(m->info, "coefficients")), m->sig.n_features);
	rc = train_finish(ctx, &d, m);
	train_data_free(&d);
	return rc;
}

const step_def step_train_linear = {
	.name = "train.linear",
	.version = 1,
	.summary = "fit a linear regression: ols, ridge, lasso or elastic net",
	.opts = opts,
	.inputs = train_inputs,
	.outputs = train_outputs,
	.run = run,
	.check = check,
};
