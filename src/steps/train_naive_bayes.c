/*
 * train.naive_bayes: a multinomial, Gaussian or Bernoulli naive Bayes
 * classifier on the `train` input; src/ml/naive_bayes.c fits it. Features
 * are numbers (counts or tf-idf weights from wrangle's text op for
 * multinomial); string features are refused with the fix.
 */
#include <stdio.h>
#include <string.h>

#include "ml/nb.h"
#include "steps/train.h"

static const step_opt opts[] = {
	TRAIN_COMMON_OPTS,
	{.name = "kind", .type = OPT_STRING, .def = "multinomial",
	 .choices = "multinomial gaussian bernoulli", .help = "the distribution of the features"},
	{.name = "alpha", .type = OPT_NUMBER, .def = "1.0",
	 .help = "multinomial, bernoulli: additive (Laplace/Lidstone) smoothing, > 0"},
	{.name = "var_smoothing", .type = OPT_NUMBER, .def = "1e-9", .range = "[0,)",
	 .help = "gaussian: add this share of the largest feature variance to every variance"},
	{.name = "binarize", .type = OPT_NUMBER, .def = "0.0",
	 .help = "bernoulli: a value above it counts as present"},
	{.name = "fit_prior", .type = OPT_BOOL, .def = "true", .help = "learn class priors (false: uniform)"},
	TRAIN_OPT_THREADS,
	{.name = NULL},
};

static int read_opts(const json_t *with, nb_opts *o, char *msg, size_t size)
{
	const char *kind = json_string_value(json_object_get(with, "kind"));
	const json_t *b;

	memset(o, 0, sizeof *o);
	if (!nb_kind_parse(kind ? kind : "multinomial", &o->kind)) {
		snprintf(msg, size, "with.kind: '%s' is not a kind: use multinomial, gaussian or "
				    "bernoulli", kind);
		return SL_EINVAL;
	}
	o->alpha = train_with_num(with, "alpha", 1.0);
	o->var_smoothing = train_with_num(with, "var_smoothing", 1e-9);
	o->binarize = train_with_num(with, "binarize", 0.0);
	b = json_object_get(with, "fit_prior");
	o->fit_prior = b ? json_is_true(b) : true;
	o->threads = (unsigned)train_with_num(with, "threads", 0);
	if (nb_opts_check(o)) {
		snprintf(msg, size, "train.naive_bayes: %s", sl_errmsg());
		return SL_EINVAL;
	}
	return 0;
}

/* What the schema cannot say: the option checks of the model family itself. */
static int check(const step_check *c)
{
	nb_opts o;
	char msg[512];

	if (read_opts(c->with, &o, msg, sizeof msg))
		return step_check_fail(c, "", "%s", msg);
	return 0;
}

static int run(step_ctx *ctx)
{
	ml_frame_opts fo = {.task = ML_MULTICLASS};
	nb_opts o;
	train_data d;
	ml_model *m;
	char msg[512];
	int rc;

	if ((rc = read_opts(ctx->with, &o, msg, sizeof msg)))
		return step_fail(ctx, rc, "%s", msg);
	if ((rc = train_open(ctx, fo, NULL, 0, &d)))
		return rc;
	if ((rc = nb_fit(&d.train, &o, &m))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		train_data_free(&d);
		return rc;
	}
	step_log(ctx, "%s naive Bayes over %zu classes", nb_kind_name(o.kind), m->sig.n_classes);
	rc = train_finish(ctx, &d, m);
	train_data_free(&d);
	return rc;
}

const step_def step_train_naive_bayes = {
	.name = "train.naive_bayes",
	.version = 1,
	.summary = "fit a naive Bayes classifier: multinomial, gaussian or bernoulli",
	.opts = opts,
	.inputs = train_inputs,
	.outputs = train_outputs,
	.run = run,
	.check = check,
};
