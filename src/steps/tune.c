/*
 * tune: a hyperparameter search over a train.* step. The trials are not run
 * here: the scheduler expands the step into one trial step per point
 * (pipeline/tune.c), each a train.* step run with its own options, cached,
 * recorded and started through the orchestrator like any step. This
 * process runs last, when every trial has ended, and reads what they left
 * (WORKDIR/trials.json, written by the scheduler): it picks the best trial
 * by the metric on `valid`, writes its model as the `model` output, and
 * writes the `report` (every trial, the best, the importance of each
 * option, the rungs of a halving search).
 *
 * Invariants:
 *  1. A search space is checked against the training step's own option
 *     schema when the file is read: an option it does not have, a value or
 *     a bound it would refuse, an empty or inverted range or a log range at
 *     or below 0 is FILE:LINE:COL before anything runs.
 *  2. The report depends only on the trials' options, statuses and metrics,
 *     never on times or ids, so a rerun whose trials all come from the
 *     cache writes the same bytes and keeps what follows cached too. The
 *     step itself always runs (cacheable: false): it costs a copy.
 *  3. The best is the trial with the best metric in its direction; ties go
 *     to the later halving rung (trained on more), then to the lowest trial
 *     number. The step fails only when no trial completed with the metric.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/metric_dir.h"
#include "ml/tune_html.h"
#include "steps/tune.h"

/* ---- options ------------------------------------------------------------------- */

static const step_opt space_fields[] = {
	{.name = "values", .type = OPT_LIST, .len = "[1,)", .help = "the values to try"},
	{.name = "low", .type = OPT_NUMBER, .help = "the range's lowest value"},
	{.name = "high", .type = OPT_NUMBER, .help = "the range's highest value"},
	{.name = "log", .type = OPT_BOOL, .help = "draw uniformly on a log scale (low above 0)"},
	{.name = "int", .type = OPT_BOOL,
	 .help = "whole numbers only (implied for an integer option)"},
	{.name = NULL},
};
static const step_rule space_rules[] = {
	{.kind = RULE_ONE_OF, .names = "values low"},
	{.kind = RULE_REQUIRES, .names = "high", .when = "low"},
	{.kind = RULE_FORBIDS, .names = "log int", .when = "values"},
	{.kind = RULE_END},
};
static const step_opt space = {.type = OPT_MAP, .fields = space_fields, .rules = space_rules,
			       .help = "{values: [...]} or {low, high, log, int}"};
static const step_opt budget_fields[] = {
	{.name = "trials", .type = OPT_INT, .range = "[1, 10000]",
	 .help = "at most this many trials (halving: configurations at the first rung)"},
	{.name = "seconds", .type = OPT_NUMBER, .range = "(0,)",
	 .help = "start no trial after this long (trials already running finish)"},
	{.name = NULL},
};
static const step_rule budget_rules[] = {
	{.kind = RULE_ANY_OF, .names = "trials seconds"},
	{.kind = RULE_END},
};
static const step_opt budget_shapes[] = {
	{.type = OPT_INT, .range = "[1, 10000]", .help = "a number of trials"},
	{.type = OPT_MAP, .fields = budget_fields, .rules = budget_rules,
	 .help = "{trials, seconds}"},
	{.help = NULL},
};

static const step_opt opts[] = {
	{.name = "step", .type = OPT_STRING, .required = true, .len = "[1,)",
	 .help = "the training step searched (a train.* step)"},
	{.name = "template", .type = OPT_MAP, .help = "its fixed options (target, ...)"},
	{.name = "search", .type = OPT_MAP, .required = true, .len = "[1,)", .item = &space,
	 .help = "per option: {values: [...]} or {low, high, log, int}"},
	{.name = "method", .type = OPT_STRING, .def = "random", .choices = "grid random halving",
	 .help = "grid: every combination; random: independent draws; halving: successive "
		 "halving of random draws over rungs of growing resource"},
	{.name = "budget", .type = OPT_ANY, .alts = budget_shapes,
	 .help = "trials, or {trials, seconds} (default: 20 trials; grid: every point)"},
	{.name = "metric", .type = OPT_STRING, .len = "[1,)",
	 .help = "the trials' metric on `valid` to optimise (default: valid_auc, else "
		 "valid_logloss, else valid_rmse)"},
	{.name = "direction", .type = OPT_STRING, .choices = "max|maximize|higher min|minimize|lower",
	 .help = "max or min (default: the metric's own: higher AUC, lower RMSE is better)"},
	{.name = "seed", .type = OPT_INT, .def = "0", .range = "[0,)",
	 .help = "seed of the random draws"},
	{.name = "eta", .type = OPT_INT, .def = "3", .range = "[2, 16]",
	 .help = "halving: each rung keeps the best 1/eta and gives them eta times the resource"},
	{.name = "resource", .type = OPT_STRING, .len = "[1,)",
	 .help = "halving: rows, or an integer option of the training step (rounds, max_iter; "
		 "default: rounds when it has one, else rows)"},
	{.name = NULL},
};

static const step_port inputs[] = {
	{"train", "dataset", false, "the rows every trial trains on"},
	{"valid", "dataset", false, "the rows every trial is scored on (the metric)"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"model", "model", false, "the best trial's model"},
	{"report", "report", false, "every trial, the best, the importance of each option (JSON; "
				    "artifacts export --format html draws it)"},
	{NULL, NULL, false, NULL},
};

char *tune_trial_name(const char *step, size_t k)
{
	return sl__asprintf("%s[%zu]", step, k);
}

static int fail_at(char *path, size_t ps, char *msg, size_t ms, const char *where, const char *text)
{
	snprintf(path, ps, "%s", where);
	snprintf(msg, ms, "%s", text);
	return SL_EINVAL;
}

/* The train.* steps, for a message. */
static void train_steps(char *buf, size_t size)
{
	size_t n, len = 0;
	const step_def *const *all = step_all(&n);

	buf[0] = '\0';
	for (size_t i = 0; i < n && len + 1 < size; i++)
		if (!strncmp(all[i]->name, "train.", 6))
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
						all[i]->name);
}

int tune_opts_read(const json_t *with, tune_opts *o, char *path, size_t ps, char *msg, size_t ms)
{
	const char *step = json_string_value(json_object_get(with, "step"));
	const char *method = json_string_value(json_object_get(with, "method"));
	const char *dir = json_string_value(json_object_get(with, "direction"));
	const json_t *budget = json_object_get(with, "budget");
	char sub[200];
	int rc;

	memset(o, 0, sizeof *o);
	o->train = step ? step_find(step) : NULL;
	if (!o->train || strncmp(o->train->name, "train.", 6) != 0) {
		char list[512], text[768];
		train_steps(list, sizeof list);
		snprintf(text, sizeof text, "'%s' is not a training step: name one of %s",
			 step ? step : "", list);
		return fail_at(path, ps, msg, ms, "step", text);
	}
	o->template_ = json_object_get(with, "template");
	o->method = method && !strcmp(method, "grid")	   ? TUNE_GRID
		    : method && !strcmp(method, "halving") ? TUNE_HALVING
							   : TUNE_RANDOM;
	o->seed = (uint64_t)json_integer_value(json_object_get(with, "seed"));
	o->eta = json_is_integer(json_object_get(with, "eta"))
			 ? (unsigned)json_integer_value(json_object_get(with, "eta"))
			 : 3;
	o->metric = json_string_value(json_object_get(with, "metric"));
	o->direction = !dir ? 0 : (!strcmp(dir, "max") || !strcmp(dir, "maximize") ||
				   !strcmp(dir, "higher"))
				      ? 1
				      : -1;
	if (o->metric && !o->direction && !ml_metric_direction(o->metric)) {
		snprintf(sub, sizeof sub,
			 "which way is better for '%s' is not known: add direction: max or min",
			 o->metric);
		return fail_at(path, ps, msg, ms, "metric", sub);
	}
	if (json_is_integer(budget))
		o->trials = (size_t)json_integer_value(budget);
	else if (json_is_object(budget)) {
		const json_t *t = json_object_get(budget, "trials"), *s = json_object_get(budget, "seconds");
		o->trials = json_is_integer(t) ? (size_t)json_integer_value(t) : 0;
		o->seconds = json_is_number(s) ? json_number_value(s) : 0;
	}
	rc = ml_search_space_parse(json_object_get(with, "search"), &o->space, sub, sizeof sub);
	if (rc) {
		snprintf(path, ps, "search.%s", sub);
		snprintf(msg, ms, "%s", sl_errmsg());
		tune_opts_free(o);
		return rc;
	}
	for (size_t i = 0; i < o->space.n; i++) {
		ml_search_dim *d = &o->space.dims[i];
		const step_opt *opt = step_find_opt(o->train, d->name);
		char where[300], text[700];

		snprintf(where, sizeof where, "search.%s", d->name);
		if (!opt || !strcmp(d->name, "target")) {
			const char *names[128];
			size_t n = 0;
			char hint[200] = "";
			for (const step_opt *p = o->train->opts; p && p->name && n < 128; p++)
				names[n++] = p->name;
			if (!strcmp(d->name, "target"))
				snprintf(text, sizeof text, "the target is not a hyperparameter: set it "
							    "in template");
			else if (sl__did_you_mean(hint, sizeof hint, d->name, names, n))
				snprintf(text, sizeof text, "%s has no option '%s' to search; %s",
					 o->train->name, d->name, hint);
			else
				snprintf(text, sizeof text, "%s has no option '%s' to search (`sluice "
							    "steps %s` lists them)",
					 o->train->name, d->name, o->train->name);
			tune_opts_free(o);
			return fail_at(path, ps, msg, ms, where, text);
		}
		if (opt->type == OPT_INT)
			d->is_int = true;
		if (!d->values && opt->type != OPT_INT && opt->type != OPT_NUMBER) {
			snprintf(text, sizeof text, "option '%s' of %s is not a number: list its "
						    "values instead (values: [...])",
				 d->name, o->train->name);
			tune_opts_free(o);
			return fail_at(path, ps, msg, ms, where, text);
		}
		if (d->is_int && !d->values && ceil(d->low) > floor(d->high)) {
			snprintf(text, sizeof text, "no whole number lies in [%g, %g]", d->low, d->high);
			tune_opts_free(o);
			return fail_at(path, ps, msg, ms, where, text);
		}
	}
	if (o->method == TUNE_GRID) {
		size_t n;
		ml_search_grid_size(&o->space, TUNE_GRID_MAX, &n);
		if (n == 0) {
			for (size_t i = 0; i < o->space.n; i++)
				if (!o->space.dims[i].values && !o->space.dims[i].is_int)
					snprintf(sub, sizeof sub, "search.%s", o->space.dims[i].name);
			tune_opts_free(o);
			return fail_at(path, ps, msg, ms, sub,
				       "a grid needs the values of every option: a real range has "
				       "none (list values: [...], or use method: random)");
		}
		if (n > TUNE_GRID_MAX) {
			tune_opts_free(o);
			return fail_at(path, ps, msg, ms, "search",
				       "the grid has more than 100000 points: list fewer values, or "
				       "use method: random with a budget");
		}
		o->trials = o->trials && o->trials < n ? o->trials : n;
	} else if (!o->trials) {
		o->trials = o->method == TUNE_HALVING ? 27 : TUNE_DEFAULT_TRIALS;
		if (o->seconds > 0 && o->method == TUNE_RANDOM)
			o->trials = 1000; /* the time decides; this bounds the plan */
	}
	if (o->method == TUNE_HALVING) {
		const char *res = json_string_value(json_object_get(with, "resource"));
		const step_opt *ro;
		if (!res)
			res = step_find_opt(o->train, "rounds") ? "rounds" : "rows";
		o->resource = res;
		ro = strcmp(res, "rows") != 0 ? step_find_opt(o->train, res) : NULL;
		if (strcmp(res, "rows") != 0 && (!ro || ro->type != OPT_INT)) {
			snprintf(sub, sizeof sub,
				 "'%s' is not a resource of %s: use rows, or an integer option "
				 "(rounds, max_iter, trees)",
				 res, o->train->name);
			tune_opts_free(o);
			return fail_at(path, ps, msg, ms, "resource", sub);
		}
		for (size_t i = 0; i < o->space.n; i++)
			if (!strcmp(o->space.dims[i].name, res)) {
				snprintf(sub, sizeof sub, "'%s' is halving's resource: it cannot also "
							  "be searched",
					 res);
				tune_opts_free(o);
				return fail_at(path, ps, msg, ms, "resource", sub);
			}
	}
	return 0;
}

void tune_opts_free(tune_opts *o)
{
	ml_search_space_free(&o->space);
}

int tune_trial_with(const tune_opts *o, const json_t *point, const char *const *in_names,
		    size_t n_inputs, json_t **out, step_problem *pb)
{
	json_t *w = o->template_ ? json_deep_copy(o->template_) : json_object();
	int rc;

	*out = NULL;
	if (!w || (point && json_object_update(w, (json_t *)point) != 0)) {
		json_decref(w);
		return sl__oom();
	}
	rc = step_opts_check(o->train, w, NULL, in_names, n_inputs, pb);
	if (rc) {
		json_decref(w);
		return rc;
	}
	*out = w;
	return 0;
}

/*
 * Parse-time checks (invariant 1): the options, then the template with a
 * point of the space, then each listed value and each bound on its own.
 */
static int check(const step_check *c)
{
	tune_opts o;
	char path[256], msg[768];
	step_problem pb;
	json_t *point, *w;
	int rc;

	if (tune_opts_read(c->with, &o, path, sizeof path, msg, sizeof msg))
		return step_check_fail(c, path, "%s", msg);
	point = o.method == TUNE_GRID ? ml_search_grid_point(&o.space, 0)
				      : ml_search_random_point(&o.space, o.seed, 0);
	if (!point) {
		tune_opts_free(&o);
		return sl__oom();
	}
	memset(&pb, 0, sizeof pb);
	rc = tune_trial_with(&o, point, c->inputs, c->n_inputs, &w, &pb);
	json_decref(point);
	json_decref(w);
	if (rc == SL_EINVAL) {
		const char *dot = strchr(pb.path, '.'), *br = strchr(pb.path, '[');
		size_t head = dot && (!br || dot < br) ? (size_t)(dot - pb.path)
			      : br ? (size_t)(br - pb.path)
				   : strlen(pb.path);
		bool searched = false;
		for (size_t i = 0; i < o.space.n; i++)
			searched |= strlen(o.space.dims[i].name) == head &&
				    !strncmp(o.space.dims[i].name, pb.path, head);
		tune_opts_free(&o);
		if (searched)
			return step_check_fail(c, "search", "a trial's options: %s", pb.msg);
		if (!pb.path[0])
			return step_check_fail(c, json_object_get(c->with, "template") ? "template" : "",
					       "%s (set it in template)", pb.msg);
		return step_check_fail(c, "", "template.%s: %s", pb.path, pb.msg);
	}
	if (rc) {
		tune_opts_free(&o);
		return rc;
	}
	/* Every listed value and both bounds, each on its own, as the trainer
	 * would take it: a C of -1 is refused here, at its place. */
	for (size_t i = 0; i < o.space.n; i++) {
		const ml_search_dim *d = &o.space.dims[i];
		size_t nv = d->values ? json_array_size(d->values) : 2;
		for (size_t k = 0; k < nv; k++) {
			json_t *v = d->values ? json_incref(json_array_get(d->values, k))
				    : json_real(k ? d->high : d->low);
			json_t *pt = json_object();
			char where[300];
			if (!v || !pt || json_object_set_new(pt, d->name, v) != 0) {
				json_decref(pt);
				tune_opts_free(&o);
				return sl__oom();
			}
			if (d->is_int && !d->values)
				json_object_set_new(pt, d->name,
						    json_integer((json_int_t)(k ? floor(d->high)
										: ceil(d->low))));
			memset(&pb, 0, sizeof pb);
			rc = tune_trial_with(&o, pt, c->inputs, c->n_inputs, &w, &pb);
			json_decref(pt);
			json_decref(w);
			if (rc == SL_EINVAL) {
				if (d->values)
					snprintf(where, sizeof where, "search.%s.values[%zu]", d->name, k);
				else
					snprintf(where, sizeof where, "search.%s.%s", d->name,
						 k ? "high" : "low");
				tune_opts_free(&o);
				return step_check_fail(c, where, "%s", pb.msg);
			}
			if (rc) {
				tune_opts_free(&o);
				return rc;
			}
		}
	}
	tune_opts_free(&o);
	return 0;
}

/* The selection always runs: it is a copy, and it reads what the trials left. */
static bool cacheable(const json_t *with)
{
	(void)with;
	return false;
}

/* ---- the selection ------------------------------------------------------------- */

static const char *const auto_metrics[] = {"valid_auc", "valid_logloss", "valid_rmse"};

const char *tune_auto_metric(const json_t *metrics)
{
	for (size_t m = 0; m < SL__ARRAY_LEN(auto_metrics); m++)
		if (json_is_number(json_object_get(metrics, auto_metrics[m])))
			return auto_metrics[m];
	return NULL;
}

/* The metric the search optimises: the option, or the first the trials record. */
static const char *pick_metric(const tune_opts *o, const json_t *trials)
{
	const char *best = NULL;
	size_t i, rank = SL__ARRAY_LEN(auto_metrics);
	json_t *t;

	if (o->metric)
		return o->metric;
	json_array_foreach(trials, i, t) {
		const char *m = tune_auto_metric(json_object_get(t, "metrics"));
		for (size_t r = 0; m && r < rank; r++)
			if (!strcmp(m, auto_metrics[r])) {
				best = m;
				rank = r;
			}
	}
	return best;
}

/* Every metric name the trials record, for a message. */
static void metric_names(const json_t *trials, char *buf, size_t size)
{
	size_t i, len = 0;
	json_t *t, *v;
	const char *k;

	buf[0] = '\0';
	json_array_foreach(trials, i, t)
		json_object_foreach(json_object_get(t, "metrics"), k, v)
			if (!strstr(buf, k) && len + strlen(k) + 3 < size)
				len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", k);
}

/* One trial of the report: what it tried and what it measured (invariant 2). */
static json_t *report_trial(const json_t *t, const char *metric)
{
	const char *status = json_string_value(json_object_get(t, "status"));
	bool ok = status && (!strcmp(status, "completed") || !strcmp(status, "cached"));
	const json_t *mv = json_object_get(json_object_get(t, "metrics"), metric);
	json_t *o = json_pack("{s:O*, s:O*, s:O*, s:s, s:O, s:O*}", "trial", json_object_get(t, "trial"),
			      "rung", json_object_get(t, "rung"), "params",
			      json_object_get(t, "params"), "status", ok ? "ok" : "failed",
			      "metric", json_is_number(mv) ? mv : json_null(), "metrics",
			      json_object_get(t, "metrics"));

	if (o && json_object_get(t, "resource"))
		json_object_set(o, "resource", json_object_get(t, "resource"));
	if (o && !ok)
		json_object_set(o, "error", json_object_get(t, "error"));
	return o;
}

static int run(step_ctx *ctx)
{
	tune_opts o;
	char path[256], msg[768], names[512];
	char *tp = sl__path_join(ctx->workdir, "trials.json");
	json_error_t jerr;
	bool oom = false;
	json_t *doc = tp ? sl__json_load_file(tp, 0, &jerr, &oom) : NULL, *trials, *rep = NULL, *arr;
	json_t *t, *params_list = NULL;
	const char *metric, *best_model = NULL;
	double best = NAN, *vals = NULL;
	long best_k = -1;
	json_int_t best_rung = -1;
	size_t i, n, n_ok = 0;
	int dir, rc;
	char *text = NULL;

	sl__free(tp);
	if (oom || !tp)
		return step_oom(ctx);
	if (tune_opts_read(ctx->with, &o, path, sizeof path, msg, sizeof msg)) {
		json_decref(doc);
		return step_fail(ctx, SL_EINVAL, "with.%s: %s", path, msg);
	}
	trials = json_object_get(doc, "trials");
	if (!json_is_array(trials)) {
		json_decref(doc);
		tune_opts_free(&o);
		return step_fail(ctx, SL_EINPUT, "the trials' results are missing (%s/trials.json): "
						 "a tune step runs under `sluice run`, which runs its "
						 "trials first",
				 ctx->workdir);
	}
	n = json_array_size(trials);
	if (n == 0) {
		rc = step_fail(ctx, SL_ESTEP, "no trial ran (the time budget ran out before the "
					      "first could start)");
		goto out;
	}
	metric = pick_metric(&o, trials);
	dir = o.direction ? o.direction : metric ? ml_metric_direction(metric) : 0;
	json_array_foreach(trials, i, t) {
		const char *st = json_string_value(json_object_get(t, "status"));
		const json_t *mv = json_object_get(json_object_get(t, "metrics"), metric ? metric : "");
		if (!st || (strcmp(st, "completed") && strcmp(st, "cached")))
			continue;
		n_ok++;
		if (!json_is_number(mv) || !json_is_string(json_object_get(t, "model")))
			continue;
		/* Invariant 3: strictly better, or as good on more of the resource
		 * (a later halving rung); other ties keep the lowest trial. */
		json_int_t rung = json_integer_value(json_object_get(t, "rung"));
		if (best_k < 0 || json_number_value(mv) * dir > best * dir ||
		    (json_number_value(mv) == best && rung > best_rung)) {
			best = json_number_value(mv);
			best_k = (long)i;
			best_rung = rung;
			best_model = json_string_value(json_object_get(t, "model"));
		}
	}
	if (n_ok == 0) {
		const char *first = NULL;
		json_array_foreach(trials, i, t)
			if (!first)
				first = json_string_value(json_object_get(t, "error"));
		rc = step_fail(ctx, SL_ESTEP, "every trial failed (%zu of %zu)%s%s", n, n,
			       first ? "; the first: " : "", first ? first : "");
		goto out;
	}
	if (best_k < 0) {
		metric_names(trials, names, sizeof names);
		rc = step_fail(ctx, SL_EINVAL, "no trial recorded the metric %s%s%s%s",
			       metric ? metric : "(none of valid_auc, valid_logloss, valid_rmse: "
						 "connect `valid`, or name one with metric:)",
			       names[0] ? "; the trials record " : "", names,
			       metric ? " (set metric: to one of them)" : "");
		goto out;
	}
	if ((rc = sl__copy_file(best_model, step_output(ctx, "model")))) {
		rc = step_fail(ctx, rc, "copying the best trial's model: %s", sl_errmsg());
		goto out;
	}

	/* The report (invariant 2). */
	vals = sl__calloc(n + 1, sizeof *vals);
	arr = json_array();
	params_list = json_array();
	rep = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:o}", "kind",
			ML_TUNE_REPORT_KIND, "version", 1, "step", o.train->name, "method",
			o.method == TUNE_GRID ? "grid" : o.method == TUNE_HALVING ? "halving" : "random",
			"metric", metric, "direction", ml_metric_direction_name(dir), "goal",
			dir > 0 ? "max" : "min", "seed", (json_int_t)o.seed, "search",
			json_object_get(ctx->with, "search"), "trials", arr);
	if (!vals || !rep || !params_list) {
		json_decref(params_list);
		rc = step_oom(ctx);
		goto out;
	}
	json_array_foreach(trials, i, t) {
		json_t *rt = report_trial(t, metric);
		const json_t *mv = json_object_get(rt, "metric");
		bool ok = !strcmp(json_string_value(json_object_get(rt, "status")), "ok");
		if (!rt || json_array_append_new(arr, rt) != 0 ||
		    json_array_append(params_list, json_object_get(t, "params")) != 0) {
			json_decref(params_list);
			rc = step_oom(ctx);
			goto out;
		}
		vals[i] = ok && json_is_number(mv) ? json_number_value(mv) : NAN;
	}
	{
		const json_t **pp = sl__calloc(n + 1, sizeof *pp);
		json_t *imp, *bt = json_array_get(trials, (size_t)best_k);
		for (i = 0; pp && i < n; i++)
			pp[i] = json_array_get(params_list, i);
		imp = pp ? ml_search_importance(&o.space, (const json_t *const *)pp, vals, n, 4) : NULL;
		sl__free(pp);
		if (!imp || json_object_set_new(rep, "importance",
						json_pack("{s:s, s:o}", "method",
							  "main-effect share of the metric's variance "
							  "(eta squared; numbers in up to 4 quantile "
							  "bins)",
							  "params", imp)) != 0 ||
		    json_object_set_new(rep, "best",
					json_pack("{s:O, s:O, s:f}", "trial",
						  json_object_get(bt, "trial"), "params",
						  json_object_get(bt, "params"), "metric", best)) != 0 ||
		    json_object_set_new(rep, "counts",
					json_pack("{s:I, s:I, s:I}", "trials", (json_int_t)n, "ok",
						  (json_int_t)n_ok, "failed", (json_int_t)(n - n_ok))) !=
			    0) {
			json_decref(params_list);
			rc = step_oom(ctx);
			goto out;
		}
		if (json_array_size(json_object_get(doc, "rungs")))
			json_object_set(rep, "rungs", json_object_get(doc, "rungs"));
		if (json_object_get(doc, "resource"))
			json_object_set(rep, "resource", json_object_get(doc, "resource"));
	}
	json_decref(params_list);
	/* 15 digits: a drawn 0.0954452 reads as written, and round-trips. */
	text = sl__json_dumps(rep, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	if (!text) {
		rc = step_oom(ctx);
		goto out;
	}
	if ((rc = sl__write_atomic(step_output(ctx, "report"), text, strlen(text)))) {
		rc = step_fail(ctx, rc, "writing the report: %s", sl_errmsg());
		goto out;
	}
	step_metric(ctx, metric, best);
	step_metric(ctx, "trials", (double)n);
	step_metric(ctx, "trials_failed", (double)(n - n_ok));
	step_metric(ctx, "best_trial",
		    (double)json_integer_value(json_object_get(json_array_get(trials, (size_t)best_k),
							       "trial")));
	step_output_meta(ctx, "report",
			 json_pack("{s:s, s:I, s:s}", "kind", "tune_report", "trials", (json_int_t)n,
				   "metric", metric));
	{
		char *ps = sl__json_dumps(json_object_get(json_array_get(trials, (size_t)best_k), "params"),
					  JSON_COMPACT | JSON_REAL_PRECISION(6));
		step_note(ctx, "best of %zu trials: %s %.6g with %s%s", n, metric, best,
			  ps ? ps : "?",
			  n > n_ok ? " (some trials failed; see runs show)" : "");
		free(ps);
	}
	step_log(ctx, "best trial %ld: %s = %.6g", best_k, metric, best);
	rc = 0;
out:
	free(text);
	json_decref(rep);
	json_decref(doc);
	sl__free(vals);
	tune_opts_free(&o);
	return rc;
}

const step_def step_tune = {
	.name = "tune",
	.version = 1,
	.summary = "search a training step's options (grid, random, successive halving); trials "
		   "run as cached steps in parallel; the best model and a report",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
	.cacheable = cacheable,
};
