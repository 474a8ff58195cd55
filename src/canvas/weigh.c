/*
 * An evaluation weighed against the canvas (canvas_weigh in canvas.h): what
 * `sluice canvas report` says about one evaluate step's report.
 *
 * The report (docs/steps/evaluate.md) already prices the model's mistakes
 * with a cost spec; this file sets that price against what the canvas says
 * a correct decision is worth, and against the canvas's minimum for the
 * main metric, and says in one paragraph whether the model is worth having
 * over the baseline. The arithmetic is evaluate's own definition, so both
 * agree when they are given the same value:
 *
 *   value per decision = value x share of correct decisions
 *                        (numbers: every prediction is one decision, share 1)
 *   net per decision   = value per decision - cost per decision
 *   ROI                = net / cost (none when the cost is 0)
 *
 * Worth it means: better than the baseline on the most complete basis the
 * numbers allow (net when there is a value, else cost, else the main
 * metric), and the canvas's minimum met when it sets one.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "canvas/canvas.h"

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static double num2(const json_t *o, const char *k1, const char *k2)
{
	return num(json_object_get(o, k1), k2);
}

static const char *str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A number for a sentence: 4 significant digits, whole numbers past 10,000. */
static const char *fmt(double v, char *buf, size_t size)
{
	if (isnan(v))
		snprintf(buf, size, "n/a");
	else if (fabs(v) >= 1e4)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%.4g", v == 0 ? 0.0 : v); /* no "-0" */
	return buf;
}

/* A JSON number, or null for NaN (JSON has none). */
static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

typedef struct side {
	double cost;  /* per decision */
	double share; /* of correct decisions */
	double value; /* per decision */
	double net;
	double roi;
} side;

static void settle(side *s, double value)
{
	s->value = value * s->share;
	s->net = isnan(s->cost) ? s->value : s->value - s->cost;
	s->roi = isfinite(s->cost) && s->cost > 0 ? s->net / s->cost : NAN;
}

static json_t *side_json(const side *s)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "value_per_decision", jnum(s->value),
			 "net_per_decision", jnum(s->net), "roi", jnum(s->roi), "correct_share",
			 jnum(s->share));
}

/* Names the baseline the way the report describes it. */
static const char *baseline_words(const json_t *rep)
{
	const char *s = str(json_object_get(rep, "baseline_info"), "strategy");
	const char *task = str(json_object_get(rep, "model"), "task");

	if (task && !strcmp(task, "forecast"))
		return "the seasonal naive baseline";
	if (!s)
		return "the baseline";
	if (!strcmp(s, "prior"))
		return "the baseline (the majority class)";
	if (!strcmp(s, "mean"))
		return "the baseline (the training mean)";
	if (!strcmp(s, "median"))
		return "the baseline (the training median)";
	return "the baseline (a constant score)";
}

int canvas_weigh(const canvas *cv, const json_t *rep, json_t **out)
{
	const json_t *model = json_object_get(rep, "model"), *metrics = json_object_get(rep, "metrics");
	const json_t *base = json_object_get(rep, "baseline"), *cost = json_object_get(rep, "cost");
	const json_t *mm = json_object_get(rep, "main_metric");
	const char *task, *algo, *main_name, *cost_source = NULL, *value_source = NULL;
	const char *bw = baseline_words(rep);
	side m = {NAN, 1, NAN, NAN, NAN}, b = {NAN, 1, NAN, NAN, NAN};
	double rows, value = NAN, mv, bv, minv = NAN, cmv = NAN;
	bool hib, numbers, have_cost, have_value, meets = true, better, worth;
	const char *basis, *min_metric = NULL;
	char n1[32], n2[32];
	json_t *o, *notes;
	sl__buf s;
	int rc = 0;

	*out = NULL;
	if (!json_is_object(rep) || !str(rep, "kind") || strcmp(str(rep, "kind"), "evaluation_report"))
		return sl__err(SL_EINVAL, "not an evaluation report (an evaluate step's report output)");
	task = str(model, "task");
	algo = str(model, "algorithm");
	main_name = str(mm, "name");
	hib = json_is_true(json_object_get(mm, "higher_is_better"));
	rows = num(rep, "rows");
	mv = main_name ? num(metrics, main_name) : NAN;
	bv = main_name ? num(base, main_name) : NAN;
	numbers = task && (!strcmp(task, "regression") || !strcmp(task, "forecast"));
	notes = json_array();
	if (!notes)
		return sl__oom();

	/* The canvas's minimum, on the canvas's metric as the report measured it. */
	if (cv->offline.min.given && cv->offline.metric.s) {
		min_metric = cv->offline.metric.s;
		minv = cv->offline.min.v;
		cmv = num(metrics, min_metric);
		meets = canvas_meets_min(cv, cmv);
		if (isnan(cmv))
			rc |= sl__json_push(notes, json_sprintf("the report has no %s, which the "
								"canvas's minimum is about",
								min_metric));
	}

	/* Cost per decision, as the report priced it. */
	have_cost = json_is_object(cost) && isfinite(num2(cost, "model", "per_row"));
	if (have_cost) {
		m.cost = num2(cost, "model", "per_row");
		b.cost = num2(cost, "baseline", "per_row");
		cost_source = str(cost, "source");
		if (cost_source && !strcmp(cost_source, "with") &&
		    cv->decisions.cost.kind != CANVAS_COST_NONE)
			rc |= sl__json_push(notes, json_string("the evaluate step was given its own "
							       "cost (with: cost), not the canvas's "
							       "decisions.cost"));
	}

	/* Value: the canvas's, else the one the step was given. */
	if (cv->decisions.value.given) {
		value = cv->decisions.value.v;
		value_source = "canvas";
	}
	if (isnan(value) && isfinite(num(json_object_get(cost, "value"), "per_correct_decision"))) {
		value = num(json_object_get(cost, "value"), "per_correct_decision");
		value_source = "evaluate";
	}
	have_value = isfinite(value);
	if (have_value && !numbers) {
		m.share = num(metrics, "accuracy");
		b.share = num(base, "accuracy");
		if (isnan(m.share) || isnan(b.share)) {
			rc |= sl__json_push(notes, json_string("the report has no accuracy (the share of "
							       "correct decisions), so the value of "
							       "decisions is not counted"));
			have_value = false;
		}
	}
	if (have_value) {
		settle(&m, value);
		settle(&b, value);
	}

	/* The cheapest threshold the report found, when it beats the one used. */
	const json_t *th = json_object_get(cost, "threshold");
	double best_th = NAN, best_cost = NAN;
	if (have_cost && isfinite(num(th, "saving_per_row")) && num(th, "saving_per_row") > 0) {
		best_th = num(th, "threshold");
		best_cost = num(th, "cost_per_row");
	}

	/* The verdict, on the most complete basis available. */
	if (have_value && isfinite(m.net) && isfinite(b.net)) {
		basis = "net";
		better = m.net > b.net;
	} else if (have_cost && isfinite(b.cost)) {
		basis = "cost";
		better = m.cost < b.cost;
	} else {
		basis = "metric";
		const json_t *w = json_object_get(json_object_get(rep, "assessment"), "worth_deploying");
		better = json_is_boolean(w) ? json_is_true(w)
					    : isfinite(mv) && isfinite(bv) && (hib ? mv > bv : mv < bv);
	}
	worth = better && meets;

	/* The statement. */
	sl__buf_init(&s, 0);
	rc |= sl__buf_printf(&s, "The model (%s, %s) was scored on %s test rows", algo ? algo : "?",
			     task ? task : "?", fmt(rows, n1, sizeof n1));
	if (main_name && isfinite(mv))
		rc |= sl__buf_printf(&s, ": %s %s against %s for %s", main_name, fmt(mv, n1, sizeof n1),
				     fmt(bv, n2, sizeof n2), bw);
	rc |= sl__buf_puts(&s, ".");
	if (have_cost) {
		double saving = b.cost - m.cost;
		rc |= sl__buf_printf(&s, " Its mistakes cost %s per decision against %s for the "
					 "baseline",
				     fmt(m.cost, n1, sizeof n1), fmt(b.cost, n2, sizeof n2));
		if (isfinite(num2(cost, "nothing", "per_row")))
			rc |= sl__buf_printf(&s, " and %s for doing nothing",
					     fmt(num2(cost, "nothing", "per_row"), n1, sizeof n1));
		if (saving >= 0)
			rc |= sl__buf_printf(&s, ": it saves %s per decision, %s per 1,000 decisions.",
					     fmt(saving, n1, sizeof n1), fmt(saving * 1000, n2, sizeof n2));
		else
			rc |= sl__buf_printf(&s, ": it costs %s more per decision.",
					     fmt(-saving, n1, sizeof n1));
		if (isfinite(best_cost)) {
			rc |= sl__buf_printf(&s, " At threshold %s (chosen on the test rows) it would "
						 "cost %s per decision",
					     fmt(best_th, n1, sizeof n1), fmt(best_cost, n2, sizeof n2));
			rc |= sl__buf_puts(&s, best_cost < b.cost && m.cost >= b.cost
						       ? ", less than the baseline."
						       : ".");
		}
	} else {
		rc |= sl__buf_puts(&s, " No cost was priced: fill in decisions.cost.");
	}
	if (have_value) {
		rc |= sl__buf_printf(&s, " At %s per correct decision it nets %s per decision",
				     fmt(value, n1, sizeof n1), fmt(m.net, n2, sizeof n2));
		if (isfinite(m.roi))
			rc |= sl__buf_printf(&s, " (ROI %s)", fmt(m.roi, n1, sizeof n1));
		rc |= sl__buf_printf(&s, " against %s for the baseline", fmt(b.net, n1, sizeof n1));
		if (isfinite(b.roi))
			rc |= sl__buf_printf(&s, " (ROI %s)", fmt(b.roi, n1, sizeof n1));
		rc |= sl__buf_puts(&s, ".");
	} else if (!cv->decisions.value.given) {
		rc |= sl__buf_puts(&s, " No value per correct decision: fill in decisions.value for a "
				       "return on investment.");
	}
	if (worth) {
		rc |= sl__buf_puts(&s, " ML is worth it: ");
		if (!strcmp(basis, "net"))
			rc |= sl__buf_printf(&s, "it nets %s more per decision than the baseline",
					     fmt(m.net - b.net, n1, sizeof n1));
		else if (!strcmp(basis, "cost"))
			rc |= sl__buf_printf(&s, "it costs %s less per decision than the baseline",
					     fmt(b.cost - m.cost, n1, sizeof n1));
		else
			rc |= sl__buf_printf(&s, "it beats the baseline on %s",
					     main_name ? main_name : "its main metric");
		if (min_metric)
			rc |= sl__buf_printf(&s, ", and %s %s meets the canvas's %s %s", min_metric,
					     fmt(cmv, n1, sizeof n1),
					     cv->offline.info->direction < 0 ? "maximum" : "minimum",
					     fmt(minv, n2, sizeof n2));
		rc |= sl__buf_puts(&s, ".");
	} else {
		rc |= sl__buf_puts(&s, " ML is not worth it yet: ");
		if (!better && !strcmp(basis, "net"))
			rc |= sl__buf_printf(&s, "it nets %s less per decision than the baseline",
					     fmt(b.net - m.net, n1, sizeof n1));
		else if (!better && !strcmp(basis, "cost"))
			rc |= sl__buf_printf(&s, "it costs %s more per decision than the baseline",
					     fmt(m.cost - b.cost, n1, sizeof n1));
		else if (!better)
			rc |= sl__buf_printf(&s, "it does not beat the baseline on %s",
					     main_name ? main_name : "its main metric");
		if (!better && strcmp(basis, "metric") && isfinite(best_cost) && best_cost < b.cost)
			rc |= sl__buf_printf(&s, " (set threshold: %s in the evaluate step and confirm "
						 "it on fresh rows)",
					     fmt(best_th, n1, sizeof n1));
		if (!meets)
			rc |= sl__buf_printf(&s, "%s%s %s misses the canvas's %s %s", better ? "" : "; ",
					     min_metric, fmt(cmv, n1, sizeof n1),
					     cv->offline.info->direction < 0 ? "maximum" : "minimum",
					     fmt(minv, n2, sizeof n2));
		rc |= sl__buf_puts(&s, ".");
	}
	if (rc) {
		sl__buf_free(&s);
		json_decref(notes);
		return sl__oom();
	}

	o = json_pack("{s:s?, s:s?, s:o, s:{s:s?, s:o, s:o, s:b}, s:o, s:o, s:b, s:s, s:s, s:o}",
		      "algorithm", algo, "task", task, "rows", jnum(rows),
		      "metric", "name", main_name, "model", jnum(mv), "baseline", jnum(bv),
		      "higher_is_better", hib,
		      "cost",
		      have_cost ? json_pack("{s:s?, s:o, s:o, s:o, s:o, s:o, s:o}", "source",
					    cost_source, "model", jnum(m.cost), "baseline", jnum(b.cost),
					    "nothing", jnum(num2(cost, "nothing", "per_row")),
					    "saving_vs_baseline", jnum(b.cost - m.cost),
					    "saving_per_1000", jnum((b.cost - m.cost) * 1000),
					    "cheapest_threshold",
					    isfinite(best_cost)
						    ? json_pack("{s:o, s:o}", "threshold", jnum(best_th),
								"cost", jnum(best_cost))
						    : json_null())
				: json_null(),
		      "value",
		      have_value ? json_pack("{s:s, s:f, s:o, s:o}", "source", value_source,
					     "per_correct_decision", value, "model", side_json(&m),
					     "baseline", side_json(&b))
				 : json_null(),
		      "worth_it", worth, "basis", basis, "statement", s.data, "notes", notes);
	sl__buf_free(&s);
	if (o && min_metric &&
	    json_object_set_new(o, "minimum",
				json_pack("{s:s, s:f, s:o, s:b, s:s}", "metric", min_metric, "value",
					  minv, "model", jnum(cmv), "met", meets, "direction",
					  cv->offline.info->direction < 0 ? "at most" : "at least"))) {
		json_decref(o);
		o = NULL;
	}
	if (!o)
		return sl__oom();
	*out = o;
	return 0;
}
