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
	{"method", OPT_STRING, false, "ols", "ols | ridge | lasso | elasticnet"},
	{"alpha", OPT_NUMBER, false, "1.0",
	 "penalty strength (>= 0): ridge as scikit-learn's Ridge, lasso and elasticnet as "
	 "its ElasticNet; ignored by ols"},
	{"l1_ratio", OPT_NUMBER, false, "0.5", "elasticnet: the L1 share of the penalty, 0 to 1"},
	{"fit_intercept", OPT_BOOL, false, "true", "fit an intercept (unpenalised)"},
	{"standardize", OPT_BOOL, false, "false",
	 "penalise the coefficients of standardised features (coefficients are still "
	 "reported on the original scale)"},
	{"max_iter", OPT_INT, false, "1000", "lasso/elasticnet: at most this many sweeps"},
	{"tol", OPT_NUMBER, false, "0.0001",
	 "lasso/elasticnet: stop when the duality gap is below tol x the target's sum of squares"},
	{"threads", OPT_INT, false, "0", "threads (0: every core); results do not depend on it"},
	{NULL, 0, false, NULL, NULL},
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

static int check(const json_t *with, char *msg, size_t size)
{
	linear_opts o;

	return read_opts(with, &o, msg, size) ? -1 : 0;
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
