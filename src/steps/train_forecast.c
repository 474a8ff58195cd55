/*
 * train.forecast: one forecasting model for every series of a table.
 *
 *   train --fc_panel_build--> series by key, on a checked time grid
 *         --fc_model_fit----> per series a method (or `auto`'s choice),
 *                             forecasts and intervals for h = 1..horizon
 *   valid (optional) --ml_forecast_evaluate--> valid_* metrics
 *         --train_finish----> the `model` output
 *
 * The options are checked before anything runs (the schema and check()),
 * so a misspelt method or ETS model is a FILE:LINE:COL error of the pipeline.
 */
#include <math.h>
#include <string.h>

#include "canvas/canvas.h"
#include "ml/forecast.h"
#include "steps/train.h"

static const step_opt opts[] = {
	{.name = "target", .type = OPT_STRING, .required = true, .len = "[1,)",
	 .columns_of = "train", .help = "the column to forecast (a number)"},
	{.name = "time", .type = OPT_STRING, .required = true, .len = "[1,)", .columns_of = "train",
	 .help = "the time column: timestamps, ISO dates or integers on a regular grid"},
	{.name = "by", .type = OPT_STRING_LIST, .unique = true, .item = &train_column,
	 .columns_of = "train",
	 .help = "the key column(s) of the series (strings, integers or bools); none: one series"},
	{.name = "horizon", .type = OPT_INT, .required = true,
	 .range = "[1, " SL__STR(FC_MAX_HORIZON) "]", .help = "how many steps ahead to forecast"},
	{.name = "season", .type = OPT_INT, .def = "0", .range = "[0, " SL__STR(FC_MAX_SEASON) "]",
	 .help = "the seasonal period in steps (1: none; 0: from the grid: monthly 12, quarterly 4, "
		 "daily 7, weekly 52, hourly 24)"},
	{.name = "method", .type = OPT_STRING, .def = "auto",
	 .choices = "auto naive seasonal_naive drift ets theta gbdt",
	 .help = "the forecasting method, or auto: the best per series on a holdout"},
	{.name = "ets_model", .type = OPT_STRING, .def = "ZZZ",
	 .help = "the ETS family: error, trend, season letters as forecast::ets (ZZZ all, AAdM, MNN, "
		 "AZZ ...)"},
	{.name = "origins", .type = OPT_INT, .def = "3", .range = "[1, 20]",
	 .help = "auto: rolling origins of the holdout contest; gbdt: sets the holdout its "
		 "intervals come from"},
	{.name = "seed", .type = OPT_INT, .def = "0",
	 .help = "seed of the simulated intervals and of gbdt's training"},
	{.name = "threads", .type = OPT_INT, .def = "0", .range = "[0,)",
	 .help = "threads fitting series (0: one per core)"},
	{.name = "point", .type = OPT_STRING, .def = "mean", .choices = "mean cost",
	 .help = "the point forecast: mean (the method's), or cost: the quantile under / (over "
		 "+ under) of each step's predictive distribution, the forecast of least expected "
		 "cost"},
	{.name = "cost", .type = OPT_MAP, .len = "[1,)",
	 .help = "point: cost: {over, under}, the cost of one unit forecast too high and too low "
		 "(default: the canvas's decisions.cost)"},
	{.name = "canvas", .type = OPT_PATH,
	 .help = "point: cost: the canvas file (default: canvas.yaml at the project root; naming "
		 "it makes the step cacheable)"},
	{.name = NULL},
};

/* A canvas found by walking up is outside the cache key (as evaluate's). */
static bool cacheable(const json_t *with)
{
	const char *point = json_string_value(json_object_get(with, "point"));

	return !point || strcmp(point, "cost") || json_object_get(with, "cost") ||
	       json_is_string(json_object_get(with, "canvas"));
}

static const step_port inputs[] = {
	{"train", "dataset", false, "the history of every series"},
	{"valid", "dataset", true, "rows after the history, to score the forecasts on"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"model", "model", false, "the forecast model (predict by key and h)"},
	{NULL, NULL, false, NULL},
};

/* What the schema cannot say: the ETS family's letters (and the method, defensively). */
static int check(const step_check *c)
{
	const char *method = json_string_value(json_object_get(c->with, "method"));
	const char *ets = json_string_value(json_object_get(c->with, "ets_model"));
	fc_method mm;
	fc_ets_spec spec;

	json_t *cost = json_object_get(c->with, "cost"), *v;
	const char *key;

	json_object_foreach(cost, key, v) {
		if (strcmp(key, "over") && strcmp(key, "under"))
			return step_check_fail(c, "cost", "cost: '%s' is not a forecast's cost: give "
							  "{over, under}",
					       key);
		if (!json_is_number(v) || json_number_value(v) < 0)
			return step_check_fail(c, "cost", "cost.%s must be a number >= 0", key);
	}
	if (method && !fc_method_parse(method, &mm))
		return step_check_fail(c, "method", "method '%s': use auto, naive, seasonal_naive, "
						    "drift, ets, theta or gbdt",
				       method);
	if (ets && !fc_ets_spec_parse(ets, &spec))
		return step_check_fail(c, "ets_model", "ets_model '%s': three letters, error A/M/Z, "
						       "trend N/A/Ad/Z, season N/A/M/Z (e.g. ZZZ, AAdM, "
						       "MNN)",
				       ets);
	return 0;
}

/* The `by` option as a borrowed array of names. */
static int by_list(step_ctx *ctx, const char ***out, size_t *n)
{
	json_t *v = step_opt_json(ctx, "by"), *e;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	*out = sl__calloc(json_is_array(v) ? json_array_size(v) + 1 : 2, sizeof **out);
	if (!*out)
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	if (json_is_string(v)) {
		(*out)[(*n)++] = json_string_value(v);
		return 0;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return step_fail(ctx, SL_EINVAL, "with.by[%zu] must be a column name", i);
		(*out)[(*n)++] = json_string_value(e);
	}
	return 0;
}

/*
 * point: cost: over and under from `cost`, else the canvas's decisions.cost
 * ({over, under}); the forecasts become the quantile of least cost.
 */
static int cost_point(step_ctx *ctx, ml_model *m)
{
	json_t *cost = step_opt_json(ctx, "cost");
	double over, under;
	const char *from = "cost";
	canvas *cv = NULL;
	int rc;

	if (cost) {
		over = json_number_value(json_object_get(cost, "over"));
		under = json_number_value(json_object_get(cost, "under"));
	} else {
		if ((rc = step_canvas_load(ctx, &cv)))
			return rc;
		if (!cv || cv->decisions.cost.kind != CANVAS_COST_OVER_UNDER) {
			canvas_free(cv);
			return step_fail(ctx, SL_EINVAL,
					 "point: cost needs the costs of a forecast too high and too "
					 "low: give `cost: {over, under}` or fill in decisions.cost "
					 "{over, under} in canvas.yaml");
		}
		over = cv->decisions.cost.over;
		under = cv->decisions.cost.under;
		from = "the canvas's decisions.cost";
		canvas_free(cv);
	}
	if ((rc = fc_model_cost_point(m, over, under)))
		return step_fail(ctx, rc, "point: cost (%s): %s", from, sl_errmsg());
	step_log(ctx, "point: cost: over %g, under %g (%s): each forecast is the %.3g quantile", over,
		 under, from, under / (over + under));
	step_metric(ctx, "point_quantile", under / (over + under));
	return 0;
}

/* Scores on `valid`, as metrics and in the model's info. */
static int score_valid(step_ctx *ctx, ml_model *m, const ds_table *valid)
{
	json_t *rep, *v;
	const char *key;
	int rc = ml_forecast_evaluate(m, valid, NULL, &rep);

	if (rc)
		return step_fail(ctx, rc, "valid: %s", sl_errmsg());
	json_object_foreach(json_object_get(rep, "metrics"), key, v) {
		char name[64];
		if (!json_is_number(v))
			continue;
		snprintf(name, sizeof name, "valid_%s", key);
		step_metric(ctx, name, json_number_value(v));
		step_log(ctx, "%s = %.6g", name, json_number_value(v));
	}
	json_object_foreach(json_object_get(rep, "baseline"), key, v) {
		char name[64];
		if (!json_is_number(v))
			continue;
		snprintf(name, sizeof name, "valid_baseline_%s", key);
		step_metric(ctx, name, json_number_value(v));
	}
	json_object_foreach(json_object_get(rep, "unmatched"), key, v) {
		if (json_integer_value(v) > 0)
			step_log(ctx, "warning: valid: %lld rows %s (not scored)",
				 (long long)json_integer_value(v), key);
	}
	json_object_del(rep, "series");
	json_object_set_new(m->info, "valid", rep);
	return 0;
}

static int run(step_ctx *ctx)
{
	const char *target = step_opt_str(ctx, "target"), *time = step_opt_str(ctx, "time");
	const char *method = step_opt_str(ctx, "method"), *ets = step_opt_str(ctx, "ets_model");
	const char *vpath = step_input(ctx, "valid");
	const char **by = NULL;
	size_t nby = 0;
	train_data d = {0};
	fc_panel p = {0};
	fc_opts o = {0};
	ml_model *m = NULL;
	char pname[64];
	int64_t season = step_opt_int(ctx, "season", 0);
	int rc;

	if (!fc_method_parse(method ? method : "auto", &o.method) ||
	    !fc_ets_spec_parse(ets ? ets : "ZZZ", &o.ets))
		return step_fail(ctx, SL_EINVAL, "bad method or ets_model");
	o.horizon = (size_t)step_opt_int(ctx, "horizon", 1);
	o.origins = (size_t)step_opt_int(ctx, "origins", 3);
	o.seed = (uint64_t)step_opt_int(ctx, "seed", 0);
	o.threads = (unsigned)step_opt_int(ctx, "threads", 0);
	if ((rc = by_list(ctx, &by, &nby)))
		return rc;
	if ((rc = ds_open(step_input(ctx, "train"), 0, &d.train_t))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	if ((rc = fc_panel_build(d.train_t, target, time, by, nby, &p))) {
		rc = step_fail(ctx, rc, "train: %s", sl_errmsg());
		goto out;
	}
	o.season = season > 0 ? (size_t)season : fc_period_season(&p.period);
	step_log(ctx, "%zu series, %zu rows, %s, season %zu, horizon %zu, method %s",
		 p.n_series, p.start[p.n_series], fc_period_name(&p.period, pname, sizeof pname),
		 o.season, o.horizon, fc_method_name(o.method));
	if ((rc = fc_model_fit(&p, target, time, &o, &m))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	if (!strcmp(step_opt_str(ctx, "point") ? step_opt_str(ctx, "point") : "mean", "cost") &&
	    (rc = cost_point(ctx, m)))
		goto out;
	step_metric(ctx, "series", (double)p.n_series);
	{
		json_t *v;
		const char *key;
		json_object_foreach(json_object_get(m->info, "auto_mean_mase"), key, v) {
			char name[64];
			snprintf(name, sizeof name, "auto_mase_%s", key);
			step_metric(ctx, name, json_real_value(v));
			step_log(ctx, "auto: mean holdout MASE of %s = %.4g", key, json_real_value(v));
		}
		json_object_foreach(json_object_get(m->info, "methods_chosen"), key, v) {
			char name[64];
			snprintf(name, sizeof name, "chosen_%s", key);
			step_metric(ctx, name, (double)json_integer_value(v));
		}
	}
	if (vpath) {
		if ((rc = ds_open(vpath, 0, &d.valid_t))) {
			rc = step_fail(ctx, rc, "%s", sl_errmsg());
			goto out;
		}
		if ((rc = score_valid(ctx, m, d.valid_t)))
			goto out;
	}
	rc = train_finish(ctx, &d, m);
	m = NULL;
out:
	ml_model_free(m);
	fc_panel_free(&p);
	train_data_free(&d);
	sl__free(by);
	return rc;
}

const step_def step_train_forecast = {
	.name = "train.forecast",
	.version = 1,
	.summary = "forecast many time series: naive, seasonal naive, drift, ETS, Theta, "
		   "gradient-boosted trees on lags, or the best of them per series on a "
		   "rolling-origin holdout",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
	.cacheable = cacheable,
};
