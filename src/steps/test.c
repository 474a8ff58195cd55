/*
 * test: the gate between evaluation and deployment. It judges an evaluation
 * report (and, for latency, the packaged model timed on test rows) against
 * rules, writes the verdict (TFX's "blessing": every check with the number
 * measured and the limit) and fails the step when a rule is broken, so that
 * nothing after it runs: a model that fails its gates is never packaged.
 *
 *   report --+--> metric rules        metrics[NAME] against min / max, or
 *            |                        against baseline[NAME] / champion[NAME]
 *            |                        with an absolute or relative margin
 *            +--> fairness_gap rules  fairness[GAP] (or one column's) <= max
 *   bundle | model (+ transform), data
 *            +--> latency_p99_us      p99 of single-row predictions, timed
 *                                     here; else the report's latency block
 *                      |
 *                      v
 *   verdict (written first) --> all passed: done; else step_fail(SL_EGATE)
 *
 * Comparisons follow MLflow's MetricThreshold, with the direction known
 * from the metric's name (ml_eval_metric_direction): for a metric where
 * higher is better, vs a reference r the value must be >= r + min_delta
 * and >= r + min_ratio * |r| (MLflow's min_absolute_change and
 * min_relative_change; |r| so that a negative reference, an r2 below 0,
 * still asks for an improvement), and mirrored where lower is better. A
 * `vs` without a margin asks for no worse than the reference.
 *
 * Invariants:
 *  1. The verdict is written before the step fails, and lists every check,
 *     passed or not, so a failed gate can be read as well as a passed one.
 *  2. A rule the report cannot answer (a metric it lacks, no fairness
 *     section, no latency) fails with a message saying what to add; it
 *     never passes silently. The one exception is documented: `vs:
 *     champion` without a champion (the first deployment) passes with a
 *     note.
 *  3. Option mistakes are FILE:LINE:COL errors before anything runs: the
 *     tables and check() below.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/eval.h"
#include "model/score.h"
#include "canvas/canvas.h"
#include "steps/step.h"

#define FAIRNESS_GAPS                                                                     \
	"demographic_parity_difference demographic_parity_ratio equal_opportunity_difference " \
	"equalized_odds_difference metric_difference"
#define LATENCY_WARMUP 16

static const step_opt rule_fields[] = {
	{.name = "metric", .type = OPT_STRING, .choices = ML_REPORT_METRICS,
	 .help = "a metric of the report (its `metrics`)"},
	{.name = "min", .type = OPT_NUMBER, .help = "the least the measure may be"},
	{.name = "max", .type = OPT_NUMBER, .help = "the most the measure may be"},
	{.name = "vs", .type = OPT_STRING, .choices = "baseline champion",
	 .help = "compare with the baseline's or the champion's value on the same rows"},
	{.name = "min_delta", .type = OPT_NUMBER, .range = "[0,)",
	 .help = "vs: the least improvement, in the metric's units (MLflow's min_absolute_change)"},
	{.name = "min_ratio", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "vs: the least improvement as a fraction of the reference (MLflow's "
		 "min_relative_change)"},
	{.name = "fairness_gap", .type = OPT_STRING, .choices = FAIRNESS_GAPS,
	 .help = "a fairness gap of the report (evaluate's `sensitive`)"},
	{.name = "column", .type = OPT_STRING, .len = "[1,)",
	 .help = "fairness_gap: the sensitive column to judge (default: the worst of all)"},
	{.name = "latency_p99_us", .type = OPT_NUMBER, .range = "(0,)",
	 .help = "the most the 99th percentile of one row's prediction time may be, in "
		 "microseconds"},
	{.name = NULL},
};

static const step_rule rule_rules[] = {
	{.kind = RULE_ONE_OF, .names = "metric fairness_gap latency_p99_us",
	 .why = "each rule judges one measure"},
	{.kind = RULE_REQUIRES, .names = "vs", .when = "min_delta"},
	{.kind = RULE_REQUIRES, .names = "vs", .when = "min_ratio"},
	{.kind = RULE_FORBIDS, .names = "vs min_delta min_ratio", .when = "fairness_gap",
	 .why = "a fairness gap is judged against a limit"},
	{.kind = RULE_FORBIDS, .names = "min max vs min_delta min_ratio column",
	 .when = "latency_p99_us", .why = "its value is the limit"},
	{.kind = RULE_FORBIDS, .names = "column", .when = "metric"},
	{.kind = RULE_END},
};

static const step_opt rule_item = {.type = OPT_MAP, .fields = rule_fields, .rules = rule_rules,
				   .help = "a rule"};

static const step_opt opts[] = {
	{.name = "rules", .type = OPT_LIST, .len = "[1,)", .item = &rule_item,
	 .help = "the rules (default: from canvas.yaml, offline_evaluation.metric and .min, "
		 "making_predictions.latency_p99_ms)"},
	{.name = "canvas", .type = OPT_PATH,
	 .help = "the canvas file for the default rules (default: canvas.yaml at the project "
		 "root)"},
	{.name = "latency_rows", .type = OPT_INT, .def = "1000", .range = "[1, 1000000]",
	 .help = "rows of `data` to time, one prediction each"},
	{.name = NULL},
};

static const step_port inputs[] = {
	{"report", "report", false, "the evaluation report to judge (evaluate's output)"},
	{"bundle", "bundle", true, "for latency_p99_us: the packaged model to time"},
	{"model", "model", true, "for latency_p99_us: the model to time (with `transform`, "
				 "as it will be packaged)"},
	{"transform", "transform", true, "the fitted transform applied before `model`"},
	{"data", "dataset", true, "for latency_p99_us: the rows to time (raw rows for a "
				  "bundle or with `transform`)"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"verdict", "verdict", false,
	 "every check with the value measured and its limit, and passed or failed (JSON)"},
	{NULL, NULL, false, NULL},
};

/* ---- checks when the pipeline is read ---------------------------------------------- */

static int check(const step_check *c)
{
	const json_t *rules = json_object_get(c->with, "rules"), *r;
	size_t i;

	json_array_foreach(rules, i, r) {
		const char *metric = json_string_value(json_object_get(r, "metric"));
		const char *gap = json_string_value(json_object_get(r, "fairness_gap"));
		char path[32];
		int dir = 0;
		snprintf(path, sizeof path, "rules[%zu]", i);
		if (metric && !json_object_get(r, "min") && !json_object_get(r, "max") &&
		    !json_object_get(r, "vs"))
			return step_check_fail(c, path, "a metric rule needs min, max or vs");
		if (metric && json_object_get(r, "vs") &&
		    (!ml_eval_metric_direction(metric, &dir) || dir == 0))
			return step_check_fail(c, path,
					       "%s is neither better higher nor lower, so it cannot be "
					       "compared with the %s: give min or max",
					       metric, json_string_value(json_object_get(r, "vs")));
		if (json_is_number(json_object_get(r, "min")) &&
		    json_is_number(json_object_get(r, "max")) &&
		    json_number_value(json_object_get(r, "min")) >
			    json_number_value(json_object_get(r, "max")))
			return step_check_fail(c, path, "min is above max: no value could pass");
		if (gap) {
			bool ratio = !strcmp(gap, "demographic_parity_ratio");
			const char *want = ratio ? "min" : "max", *other = ratio ? "max" : "min";
			if (!json_object_get(r, want))
				return step_check_fail(c, path,
						       "%s needs %s: %s", gap, want,
						       ratio ? "a ratio of 1 is parity, lower is worse"
							     : "a gap of 0 is parity, higher is worse");
			if (json_object_get(r, other))
				return step_check_fail(c, path, "%s takes %s, not %s", gap, want,
						       other);
		}
	}
	if (step_check_has_input(c, "model") && step_check_has_input(c, "bundle"))
		return step_check_fail(c, "", "connect `model` or `bundle`, not both");
	if (step_check_has_input(c, "transform") && !step_check_has_input(c, "model"))
		return step_check_fail(c, "", "`transform` goes with `model` (a bundle has its own)");
	if ((step_check_has_input(c, "model") || step_check_has_input(c, "bundle")) !=
	    step_check_has_input(c, "data"))
		return step_check_fail(c, "", "timing predictions needs both `data` and `model` (or "
					      "`bundle`)");
	return 0;
}

/* The canvas is read only when rules are absent; naming it (a path option,
 * hashed) keeps the step cacheable then. */
static bool cacheable(const json_t *with)
{
	return json_object_get(with, "rules") || json_is_string(json_object_get(with, "canvas"));
}

/* ---- the verdict ------------------------------------------------------------------------ */

typedef struct gate {
	step_ctx *ctx;
	const json_t *rep;
	json_t *checks;   /* the verdict's "checks" */
	json_t *notes;
	sl__buf failures; /* "...; ..." for the failure message */
	size_t n_failed;
	/* latency_p99_us: measured here, or read from the report */
	bool have_latency;
	double p99;
	json_t *latency;  /* the verdict's "latency" section */
	char latency_missing[384];
} gate;

static const char *fmt_num(double v, char *buf, size_t size)
{
	snprintf(buf, size, "%.6g", v);
	return buf;
}

/* Adds key: v (stolen) to e; on failure frees e and returns NULL. NULL e passes through. */
static json_t *with_field(json_t *e, const char *key, json_t *v)
{
	if (!e) {
		json_decref(v);
		return NULL;
	}
	if (sl__json_set(e, key, v)) {
		json_decref(e);
		return NULL;
	}
	return e;
}

/*
 * Adds one check: value op limit, where ge means value >= limit passes.
 * what names the measure; why (may be NULL) says where the limit comes
 * from in the failure message. entry (stolen, also on failure; NULL: out of
 * memory making it) holds the rule's own fields.
 */
static int add_check(gate *g, json_t *entry, const char *what, double value, bool ge,
		     double limit, const char *why)
{
	bool passed = ge ? value >= limit : value <= limit;
	char a[32], b[32];

	entry = with_field(entry, "value", json_real(value));
	entry = with_field(entry, "op", json_string(ge ? ">=" : "<="));
	entry = with_field(entry, "limit", json_real(limit));
	entry = with_field(entry, "passed", json_boolean(passed));
	if (!entry || sl__json_push(g->checks, entry))
		return sl__oom();
	step_log(g->ctx, "%s %s = %s %s %s%s%s", passed ? "pass" : "FAIL", what,
		 fmt_num(value, a, sizeof a), ge ? ">=" : "<=", fmt_num(limit, b, sizeof b),
		 why ? " " : "", why ? why : "");
	if (!passed) {
		g->n_failed++;
		sl__buf_printf(&g->failures, "%s%s = %s, %s the %s %s%s%s", g->n_failed > 1 ? "; " : "",
			       what, fmt_num(value, a, sizeof a), ge ? "below" : "above",
			       ge ? "minimum" : "maximum", fmt_num(limit, b, sizeof b), why ? " " : "",
			       why ? why : "");
	}
	return 0;
}

/* A check that cannot be judged: it fails, saying why. entry as for add_check. */
static int add_unanswered(gate *g, json_t *entry, const char *what, const char *why)
{
	entry = with_field(entry, "value", json_null());
	entry = with_field(entry, "passed", json_false());
	entry = with_field(entry, "note", json_string(why));
	if (!entry || sl__json_push(g->checks, entry))
		return sl__oom();
	step_log(g->ctx, "FAIL %s: %s", what, why);
	g->n_failed++;
	sl__buf_printf(&g->failures, "%s%s: %s", g->n_failed > 1 ? "; " : "", what, why);
	return 0;
}

/* A new check entry for rule index ri ("rules[2]", or the canvas field). */
static json_t *entry_for(const char *rule, const char *measure, const char *source)
{
	return json_pack("{s:s, s:s, s:s}", "rule", rule, "measure", measure, "source", source);
}

static void list_keys(const json_t *obj, char *buf, size_t size)
{
	const char *key;
	json_t *v;
	size_t n = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)obj, key, v) {
		int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", key);
		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
}

static int metric_rule(gate *g, const json_t *r, const char *rule, const char *source)
{
	const char *name = json_string_value(json_object_get(r, "metric"));
	const json_t *metrics = json_object_get(g->rep, "metrics"), *v = json_object_get(metrics, name);
	const json_t *mn = json_object_get(r, "min"), *mx = json_object_get(r, "max");
	const char *vs = json_string_value(json_object_get(r, "vs"));
	char why[320], names[256];
	double value;
	int rc = 0;

	if (!json_is_number(v)) {
		list_keys(metrics, names, sizeof names);
		if (v)
			snprintf(why, sizeof why, "undefined on the test rows (null in the report)");
		else
			snprintf(why, sizeof why, "not in the report, whose metrics are: %s", names);
		return add_unanswered(g, entry_for(rule, name, source), name, why);
	}
	value = json_number_value(v);
	if (json_is_number(mn)) {
		snprintf(why, sizeof why, "(%s)", rule);
		rc = add_check(g, entry_for(rule, name, source), name, value, true,
			       json_number_value(mn), why);
	}
	if (!rc && json_is_number(mx)) {
		snprintf(why, sizeof why, "(%s)", rule);
		rc = add_check(g, entry_for(rule, name, source), name, value, false,
			       json_number_value(mx), why);
	}
	if (rc || !vs)
		return rc;
	const json_t *refs = json_object_get(g->rep, vs), *rv = json_object_get(refs, name);
	const json_t *md = json_object_get(r, "min_delta"), *mr = json_object_get(r, "min_ratio");
	int dir = 0;
	ml_eval_metric_direction(name, &dir);
	if (!refs && !strcmp(vs, "champion")) {
		/* The first deployment has nothing to beat (invariant 2). */
		json_t *e = with_field(entry_for(rule, name, source), "vs", json_string(vs));
		e = with_field(e, "value", json_real(value));
		e = with_field(e, "passed", json_true());
		e = with_field(e, "note", json_string("no champion to compare with"));
		if (!e || sl__json_push(g->checks, e) ||
		    sl__json_push(g->notes, json_sprintf("%s: no champion to compare with (the "
							 "report has none: a first deployment); "
							 "the rule passes",
							 rule)))
			return sl__oom();
		step_log(g->ctx, "pass %s vs champion: no champion to compare with", name);
		return 0;
	}
	if (!json_is_number(rv)) {
		snprintf(why, sizeof why, "the %s has no %s to compare with%s", vs, name,
			 rv ? " (undefined on the test rows)" : "");
		return add_unanswered(g, entry_for(rule, name, source), name, why);
	}
	double ref = json_number_value(rv);
	struct {
		const json_t *margin;
		const char *key;
	} parts[2] = {{md, "min_delta"}, {mr, "min_ratio"}};
	bool any = false;
	for (int k = 0; k < 2 && !rc; k++) {
		double m, limit;
		char a[32], b[32];
		if (!json_is_number(parts[k].margin))
			continue;
		any = true;
		m = json_number_value(parts[k].margin);
		limit = k == 0 ? ref + dir * m : ref + dir * m * fabs(ref);
		snprintf(why, sizeof why, "(%s: the %s's %s %s %s %s)", rule, vs,
			 fmt_num(ref, a, sizeof a), dir > 0 ? "+" : "-", parts[k].key,
			 fmt_num(m, b, sizeof b));
		json_t *e = with_field(entry_for(rule, name, source), "vs", json_string(vs));
		e = with_field(e, "reference", json_real(ref));
		e = with_field(e, parts[k].key, json_real(m));
		rc = add_check(g, e, name, value, dir > 0, limit, why);
	}
	if (!rc && !any) {
		char a[32];
		snprintf(why, sizeof why, "(%s: no worse than the %s's %s)", rule, vs,
			 fmt_num(ref, a, sizeof a));
		json_t *e = with_field(entry_for(rule, name, source), "vs", json_string(vs));
		e = with_field(e, "reference", json_real(ref));
		rc = add_check(g, e, name, value, dir > 0, ref, why);
	}
	return rc;
}

static int fairness_rule(gate *g, const json_t *r, const char *rule)
{
	const char *gap = json_string_value(json_object_get(r, "fairness_gap"));
	const char *column = json_string_value(json_object_get(r, "column"));
	const json_t *fair = json_object_get(g->rep, "fairness"), *scope = fair, *v;
	const json_t *mn = json_object_get(r, "min"), *mx = json_object_get(r, "max");
	char what[192], why[320];
	json_t *e;

	snprintf(what, sizeof what, "%s%s%s%s", gap, column ? " (" : "", column ? column : "",
		 column ? ")" : "");
	if (!fair)
		return add_unanswered(g, entry_for(rule, gap, "with"), what,
				      "the report has no fairness section: name the columns to "
				      "compare groups by in evaluate's `sensitive`");
	if (column) {
		const json_t *c;
		size_t i;
		scope = NULL;
		json_array_foreach(json_object_get(fair, "columns"), i, c) {
			const char *name = json_string_value(json_object_get(c, "column"));
			if (name && !strcmp(name, column))
				scope = c;
		}
		if (!scope) {
			snprintf(why, sizeof why, "the report has no fairness for column '%s' (add it "
						  "to evaluate's `sensitive`)",
				 column);
			return add_unanswered(g, entry_for(rule, gap, "with"), what, why);
		}
	}
	v = json_object_get(scope, gap);
	if (!json_is_number(v))
		return add_unanswered(g, entry_for(rule, gap, "with"), what,
				      "undefined on the test rows (a group without the rates it "
				      "needs)");
	e = entry_for(rule, gap, "with");
	if (column)
		e = with_field(e, "column", json_string(column));
	snprintf(why, sizeof why, "(%s)", rule);
	return json_is_number(mn) ? add_check(g, e, what, json_number_value(v), true,
					      json_number_value(mn), why)
				  : add_check(g, e, what, json_number_value(v), false,
					      json_number_value(mx), why);
}

static int latency_rule(gate *g, double max_us, const char *rule, const char *source)
{
	json_t *e = entry_for(rule, "latency_p99_us", source);
	char why[384];

	if (!g->have_latency)
		return add_unanswered(g, e, "latency_p99_us", g->latency_missing);
	snprintf(why, sizeof why, "(%s, %s)", rule,
		 json_string_value(json_object_get(g->latency, "source")));
	return add_check(g, e, "latency_p99_us", g->p99, false, max_us, why);
}

/* ---- latency ------------------------------------------------------------------------------ */

/* The model to time, as it will be served: the bundle, or model + transform bundled here. */
static int open_timed(step_ctx *ctx, bundle **out)
{
	const char *bpath = step_input(ctx, "bundle"), *mpath = step_input(ctx, "model");
	const char *tpath = step_input(ctx, "transform");
	char *tmp = NULL;
	int rc;

	if (!bpath && tpath) {
		tmp = sl__path_join(ctx->workdir, "timed.bundle");
		if (!tmp)
			return sl__oom();
		if ((rc = bundle_write(mpath, tpath, NULL, tmp))) {
			sl__free(tmp);
			return rc;
		}
	}
	rc = bundle_open(tmp ? tmp : bpath ? bpath : mpath, BUNDLE_ROWS, out);
	if (tmp)
		(void)remove(tmp);
	sl__free(tmp);
	return rc;
}

static int measure_latency(gate *g)
{
	step_ctx *ctx = g->ctx;
	const char *data = step_input(ctx, "data");
	const json_t *rl = json_object_get(g->rep, "latency");
	score_latency_result res;
	ds_table *t = NULL, *ct = NULL;
	bundle *b = NULL;
	int rc;

	if (!data) {
		if (json_is_number(json_object_get(rl, "p99_us"))) {
			g->have_latency = true;
			g->p99 = json_number_value(json_object_get(rl, "p99_us"));
			g->latency = json_pack("{s:s, s:O?, s:f}", "source", "the report's latency",
					       "rows", json_object_get(rl, "rows"), "p99_us", g->p99);
			return g->latency ? 0 : sl__oom();
		}
		snprintf(g->latency_missing, sizeof g->latency_missing,
			 "nothing measured it: connect `bundle` (or `model`, with its `transform`) "
			 "and `data` to this step to time predictions, or set `latency: true` on "
			 "evaluate");
		return 0;
	}
	if ((rc = open_timed(ctx, &b)))
		return step_fail(ctx, rc, "the model to time: %s", sl_errmsg());
	if ((rc = ds_open(data, 0, &t)) || (rc = score_conform(b, t, "data", &ct)) ||
	    (rc = score_latency(b, ct, (size_t)step_opt_int(ctx, "latency_rows", 1000),
				LATENCY_WARMUP, &res))) {
		rc = step_fail(ctx, rc, "timing predictions: %s", sl_errmsg());
		goto out;
	}
	g->have_latency = true;
	g->p99 = res.p99_us;
	g->latency = json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f}", "source", "timed here",
			       "rows", (json_int_t)res.rows, "rejected", (json_int_t)res.rejected,
			       "warmup", (json_int_t)LATENCY_WARMUP, "repeats",
			       (json_int_t)SCORE_LATENCY_REPEATS, "p50_us", res.p50_us, "p99_us",
			       res.p99_us, "mean_us", res.mean_us, "max_us", res.max_us);
	if (!g->latency)
		rc = step_oom(ctx);
	else
		step_log(ctx, "latency: p50 %.3g us, p99 %.3g us over %zu rows, the fastest of %d calls each",
			 res.p50_us, res.p99_us, res.rows, SCORE_LATENCY_REPEATS);
out:
	ds_close(ct);
	ds_close(t);
	bundle_close(b);
	return rc;
}

/* ---- default rules from the canvas ------------------------------------------------------- */

/* Rules from canvas.yaml (the canvas module checked its fields), each marked
 * with where it was written ("_source"), into rules. */
static int canvas_defaults(step_ctx *ctx, json_t *rules)
{
	canvas *cv = NULL;
	char where[256];
	int rc;

	if ((rc = step_canvas_load(ctx, &cv)))
		return rc;
	if (!cv)
		return step_fail(ctx, SL_EINVAL,
				 "no rules: give `rules:`, or set offline_evaluation.min or "
				 "making_predictions.latency_p99_ms in the project's canvas.yaml "
				 "(there is none)");
	if (cv->offline.min.given) {
		const char *name = cv->offline.metric.s;
		int dir = cv->offline.info ? cv->offline.info->direction : 1;
		canvas_where(cv, cv->offline.min.pos, where, sizeof where);
		if (sl__json_push(rules, json_pack("{s:s, s:f, s:s+}", "metric", name,
						   dir < 0 ? "max" : "min", cv->offline.min.v, "_source",
						   "offline_evaluation.min at ", where)))
			rc = step_oom(ctx);
	}
	if (!rc && cv->predictions.latency_p99_ms.given) {
		canvas_where(cv, cv->predictions.latency_p99_ms.pos, where, sizeof where);
		if (sl__json_push(rules, json_pack("{s:f, s:s+}", "latency_p99_us",
						   cv->predictions.latency_p99_ms.v * 1000.0, "_source",
						   "making_predictions.latency_p99_ms at ", where)))
			rc = step_oom(ctx);
	}
	if (!rc && json_array_size(rules) == 0)
		rc = step_fail(ctx, SL_EINVAL,
			       "no rules: give `rules:`, or set offline_evaluation.min or "
			       "making_predictions.latency_p99_ms in %s",
			       cv->file);
	if (!rc)
		step_log(ctx, "rules from the canvas: %s", cv->file);
	canvas_free(cv);
	return rc;
}

/* ---- the step ---------------------------------------------------------------------------- */

static int write_verdict(step_ctx *ctx, const json_t *v)
{
	char *text = sl__json_dumps(v, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
	int rc;

	if (!text)
		return step_fail(ctx, SL_ENOMEM, "writing the verdict: %s", sl_errmsg());
	rc = sl__write_atomic(step_output(ctx, "verdict"), text, strlen(text));
	sl__free(text);
	return rc ? step_fail(ctx, rc, "writing the verdict: %s", sl_errmsg()) : 0;
}

static int judge(gate *g, const json_t *rules)
{
	const json_t *r;
	size_t i;
	int rc = 0;

	json_array_foreach(rules, i, r) {
		const char *src = json_string_value(json_object_get(r, "_source"));
		char rule[96];
		if (src)
			snprintf(rule, sizeof rule, "%s", src);
		else
			snprintf(rule, sizeof rule, "rules[%zu]", i);
		if (json_object_get(r, "metric"))
			rc = metric_rule(g, r, rule, src ? "canvas" : "with");
		else if (json_object_get(r, "fairness_gap"))
			rc = fairness_rule(g, r, rule);
		else
			rc = latency_rule(g, json_number_value(json_object_get(r, "latency_p99_us")),
					  rule, src ? "canvas" : "with");
		if (rc)
			return step_fail(g->ctx, rc, "%s", sl_errmsg());
	}
	return 0;
}

static bool wants_latency(const json_t *rules)
{
	const json_t *r;
	size_t i;

	json_array_foreach(rules, i, r)
		if (json_object_get(r, "latency_p99_us"))
			return true;
	return false;
}

static int run(step_ctx *ctx)
{
	const char *rep_path = step_input(ctx, "report");
	json_t *rep = NULL, *rules = NULL, *verdict = NULL;
	json_error_t jerr;
	bool oom = false;
	gate g;
	int rc;

	memset(&g, 0, sizeof g);
	g.ctx = ctx;
	sl__buf_init(&g.failures, 64 * 1024);
	if (!(rep = sl__json_load_file(rep_path, 0, &jerr, &oom)) || !ml_report_is(rep)) {
		rc = oom ? step_oom(ctx)
			 : step_fail(ctx, SL_EINVAL, "report: %s",
				     rep ? "not an evaluation report (connect the report output of an "
					   "evaluate step)"
					 : jerr.text);
		goto out;
	}
	g.rep = rep;
	rules = step_opt_json(ctx, "rules") ? json_deep_copy(step_opt_json(ctx, "rules"))
					     : json_array();
	g.checks = json_array();
	g.notes = json_array();
	if (!rules || !g.checks || !g.notes) {
		rc = step_oom(ctx);
		goto out;
	}
	if (!step_opt_json(ctx, "rules") && (rc = canvas_defaults(ctx, rules)))
		goto out;
	if (wants_latency(rules) && (rc = measure_latency(&g)))
		goto out;
	if ((rc = judge(&g, rules)))
		goto out;
	verdict = json_pack("{s:s, s:i, s:s, s:I, s:I, s:O, s:O}", "kind", "verdict", "format", 1,
			    "verdict", g.n_failed ? "failed" : "passed", "checks",
			    (json_int_t)json_array_size(g.checks), "failed", (json_int_t)g.n_failed,
			    "rules", g.checks, "notes", g.notes);
	if (!verdict || (g.latency && json_object_set(verdict, "latency", g.latency)) ||
	    (step_input_id(ctx, "report") &&
	     json_object_set_new(verdict, "report", json_string(step_input_id(ctx, "report"))))) {
		rc = step_oom(ctx);
		goto out;
	}
	/* Invariant 1: the verdict exists before the step fails. */
	if ((rc = write_verdict(ctx, verdict)))
		goto out;
	step_metric(ctx, "gate_passed", g.n_failed ? 0 : 1);
	step_metric(ctx, "checks_failed", (double)g.n_failed);
	if (g.have_latency)
		step_metric(ctx, "latency_p99_us", g.p99);
	step_output_meta(ctx, "verdict",
			 json_pack("{s:s, s:I, s:I}", "verdict", g.n_failed ? "failed" : "passed",
				   "checks", (json_int_t)json_array_size(g.checks), "failed",
				   (json_int_t)g.n_failed));
	if (g.n_failed)
		rc = step_fail(ctx, SL_EGATE, "%zu of %zu checks failed: %s", g.n_failed,
			       json_array_size(g.checks), g.failures.data ? g.failures.data : "");
	else
		step_note(ctx, "%zu checks passed", json_array_size(g.checks));
out:
	json_decref(rep);
	json_decref(rules);
	json_decref(verdict);
	json_decref(g.checks);
	json_decref(g.notes);
	json_decref(g.latency);
	sl__buf_free(&g.failures);
	return rc;
}

const step_def step_test = {
	.name = "test",
	.version = 1,
	.summary = "the gate: judge an evaluation report (and the model's latency) against "
		   "rules, write the verdict, fail when a rule is broken",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
	.cacheable = cacheable,
};
