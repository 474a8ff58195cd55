/*
 * Business cost: what the model's mistakes cost, against the baseline's
 * and against doing nothing (eval.h). The spec comes from `with: cost` or
 * the canvas's decisions.cost:
 *
 *   classes   a matrix, rows the actual class and columns the decision,
 *             in class order:          [[0, 1], [5, 0]]
 *             or by label:             {spam: {ham: 5}, ham: {spam: 1}}
 *             or, binary (and labelled anomalies), by outcome:
 *                                      {false_positive: 1, false_negative: 5,
 *                                       true_positive: 0, true_negative: 0}
 *             An absent entry costs 0. `nothing: LABEL` names the decision
 *             that means doing nothing (binary: the negative class;
 *             anomaly: normal, i.e. no alert).
 *   numbers   {over: 2, under: 7}: per unit of over- and under-prediction
 *             (regression and forecasts). Doing nothing is predicting 0
 *             (no stock, no staff).
 *
 * For a binary decision the threshold that minimises cost on the test rows
 * is found by one sweep over the distinct scores; the threshold that
 * decision theory gives for calibrated probabilities is reported beside it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/eval_int.h"

void ev_cost_free(ev_cost *c)
{
	sl__free(c->m);
	memset(c, 0, sizeof *c);
}

static const char *dec_label(const ev_ctx *e, size_t c)
{
	static const char *const anomaly[] = {"normal", "anomaly"};

	return e->task == ML_ANOMALY ? anomaly[c] : e->m->sig.classes[c];
}

static long find_label(const ev_ctx *e, const char *label)
{
	for (size_t c = 0; c < e->n_dec; c++)
		if (!strcmp(dec_label(e, c), label))
			return (long)c;
	return -1;
}

static int bad_label(const ev_ctx *e, const char *where, const char *label)
{
	char list[512];
	size_t len = 0;

	list[0] = '\0';
	for (size_t c = 0; c < e->n_dec && len < sizeof list; c++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", c ? ", " : "",
					dec_label(e, c));
	return sl__err(SL_EINVAL, "%s: '%s' is not a class of the model (its classes: %s)", where,
		       label, list);
}

static int cost_number(const json_t *v, const char *where, const char *what, double *out)
{
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return sl__err(SL_EINVAL, "%s: %s must be a number", where, what);
	*out = json_number_value(v);
	return 0;
}

/* [[...], ...]: k rows of k numbers. */
static int parse_rows(ev_ctx *e, const json_t *spec, const char *where)
{
	size_t k = e->n_dec, i, j;
	const json_t *row, *v;

	if (json_array_size(spec) != k)
		goto shape;
	json_array_foreach(spec, i, row) {
		if (json_array_size(row) != k)
			goto shape;
		json_array_foreach(row, j, v) {
			char what[64];
			snprintf(what, sizeof what, "entry [%zu][%zu]", i, j);
			int rc = cost_number(v, where, what, &e->cost.m[i * k + j]);
			if (rc)
				return rc;
		}
	}
	return 0;
shape:
	return sl__err(SL_EINVAL, "%s: a %zu x %zu matrix is needed (rows: the actual class, "
				  "columns: the decision, in the order %s, %s%s)",
		       where, k, k, dec_label(e, 0), dec_label(e, 1), k > 2 ? ", ..." : "");
}

/* {actual: {decided: cost}} by label, or the four outcomes of a binary decision. */
static int parse_map(ev_ctx *e, const json_t *spec, const char *where)
{
	static const char *const outcomes[] = {"true_negative", "false_positive",
					       "false_negative", "true_positive"};
	size_t k = e->n_dec, pos = e->pos, neg = 1 - e->pos;
	const char *key;
	const json_t *v;
	int rc;

	json_object_foreach((json_t *)spec, key, v) {
		long a;
		size_t o;
		if (!strcmp(key, "nothing")) {
			long c = json_is_string(v) ? find_label(e, json_string_value(v)) : -1;
			if (c < 0)
				return bad_label(e, where, json_is_string(v) ? json_string_value(v)
									     : "(not a label)");
			e->cost.has_nothing = true;
			e->cost.nothing = (size_t)c;
			continue;
		}
		for (o = 0; o < 4 && strcmp(outcomes[o], key); o++)
			;
		if (o < 4) {
			size_t cells[4][2] = {{neg, neg}, {neg, pos}, {pos, neg}, {pos, pos}};
			if (k != 2)
				return sl__err(SL_EINVAL, "%s: %s applies to two classes; this model "
							  "has %zu: give a matrix",
					       where, key, k);
			if ((rc = cost_number(v, where, key, &e->cost.m[cells[o][0] * 2 + cells[o][1]])))
				return rc;
			continue;
		}
		if ((a = find_label(e, key)) < 0) {
			if (!strcmp(key, "over") || !strcmp(key, "under"))
				return sl__err(SL_EINVAL, "%s: over and under apply to numbers; this "
							  "model decides between classes: give a "
							  "matrix or false_positive / false_negative",
					       where);
			return bad_label(e, where, key);
		}
		if (!json_is_object(v))
			return sl__err(SL_EINVAL, "%s.%s: give the cost of each decision for actual "
						  "class %s, e.g. {%s: 1}",
				       where, key, key, dec_label(e, a ? 0 : 1));
		const char *key2;
		const json_t *v2;
		json_object_foreach((json_t *)v, key2, v2) {
			long d = find_label(e, key2);
			char what[128];
			if (d < 0)
				return bad_label(e, where, key2);
			snprintf(what, sizeof what, "%s.%s", key, key2);
			if ((rc = cost_number(v2, where, what, &e->cost.m[(size_t)a * k + (size_t)d])))
				return rc;
		}
	}
	return 0;
}

int ev_cost_parse(ev_ctx *e, const json_t *spec, const char *source)
{
	char where[64];
	int rc = 0;

	ev_cost_free(&e->cost);
	snprintf(where, sizeof where, "cost (from %s)", source);
	e->cost.source = source;
	if (e->task == ML_REGRESSION || e->task == ML_FORECAST) {
		const char *key;
		const json_t *v;
		if (!json_is_object(spec))
			return sl__err(SL_EINVAL, "%s: a %s model takes {over: COST, under: COST}, "
						  "the cost per unit of over- and under-prediction",
				       where, ml_task_name(e->task));
		json_object_foreach((json_t *)spec, key, v) {
			double *dst = !strcmp(key, "over")    ? &e->cost.over
				      : !strcmp(key, "under") ? &e->cost.under
							      : NULL;
			if (!dst)
				return sl__err(SL_EINVAL, "%s: unknown key '%s' (a %s model takes "
							  "over and under)",
					       where, key, ml_task_name(e->task));
			if ((rc = cost_number(v, where, key, dst)))
				return rc;
			if (*dst < 0)
				return sl__err(SL_EINVAL, "%s: %s must not be negative", where, key);
		}
		e->cost.set = true;
		return 0;
	}
	e->cost.matrix = true;
	e->cost.k = e->n_dec;
	e->cost.m = sl__calloc(e->n_dec * e->n_dec, sizeof *e->cost.m);
	if (!e->cost.m)
		return sl__oom();
	if (e->task != ML_MULTICLASS) {
		/* Doing nothing: the negative class, no alert. */
		e->cost.has_nothing = true;
		e->cost.nothing = e->task == ML_ANOMALY ? 0 : 1 - e->pos;
	}
	if (json_is_array(spec))
		rc = parse_rows(e, spec, where);
	else if (json_is_object(spec))
		rc = parse_map(e, spec, where);
	else
		rc = sl__err(SL_EINVAL, "%s: give a matrix (rows: actual, columns: decided) or a "
					"mapping by class",
			     where);
	if (rc) {
		ev_cost_free(&e->cost);
		return rc;
	}
	e->cost.set = true;
	return 0;
}

static double row_cost(const ev_cost *c, double y, double d)
{
	if (c->matrix)
		return c->m[(size_t)y * c->k + (size_t)d];
	return d > y ? c->over * (d - y) : c->under * (y - d);
}

double ev_cost_mean(const ev_ctx *e, const double *y, const double *d, size_t n)
{
	long double s = 0;

	for (size_t i = 0; i < n; i++)
		s += row_cost(&e->cost, y[i], d[i]);
	return n ? (double)(s / n) : NAN;
}

static json_t *amount(double per_row, size_t n)
{
	return json_pack("{s:o, s:o}", "per_row", ev_num(per_row), "total",
			 ev_num(per_row * (double)n));
}

/* The share of correct decisions (a number's prediction is one decision). */
static double correct_share(const ev_ctx *e, const double *y, const double *d, size_t n)
{
	size_t hit = 0;

	if (!e->cost.matrix)
		return 1;
	for (size_t i = 0; i < n; i++)
		hit += d[i] == y[i];
	return n ? (double)hit / (double)n : NAN;
}

/* value and ROI of decisions d whose mean cost is cost. */
static json_t *value_of(const ev_ctx *e, const double *y, const double *d, size_t n,
			double cost)
{
	double value = e->o->value * correct_share(e, y, d, n), net = value - cost;

	return json_pack("{s:f, s:f, s:o}", "value_per_row", value, "net_per_row", net, "roi",
			 cost > 0 ? ev_num(net / cost) : json_null());
}

/*
 * The cost-minimising threshold of a binary decision ("positive iff score
 * >= t") on the test rows: one pass over the distinct scores, highest
 * first, starting from "never positive"; ties keep the higher threshold.
 */
static int best_threshold(const ev_ctx *e, const double *d, json_t **out)
{
	const double *m = e->cost.m;
	size_t pos = e->task == ML_ANOMALY ? 1 : e->pos, neg = 1 - pos;
	double c_tp = m[pos * 2 + pos], c_fn = m[pos * 2 + neg];
	double c_fp = m[neg * 2 + pos], c_tn = m[neg * 2 + neg];
	double *yb = sl__malloc(e->n * sizeof *yb), *sc = sl__malloc(e->n * sizeof *sc);
	double best, best_t = NAN, now, bayes = NAN, den;
	ml_ranking r = {0};
	json_t *o;
	int rc;

	*out = NULL;
	if (!yb || !sc) {
		sl__free(yb);
		sl__free(sc);
		return sl__oom();
	}
	for (size_t i = 0; i < e->n; i++) {
		yb[i] = ev_is_pos(e, e->y[i]);
		sc[i] = ev_score_of(e, e->P, i);
	}
	rc = ml_ranking_build(yb, sc, NULL, e->n, &r);
	sl__free(yb);
	sl__free(sc);
	if (rc)
		return rc;
	best = r.pos * c_fn + r.neg * c_tn;
	for (size_t i = 0; i < r.n; i++) {
		double c = r.tp[i] * c_tp + r.fp[i] * c_fp + (r.pos - r.tp[i]) * c_fn +
			   (r.neg - r.fp[i]) * c_tn;
		if (c < best) {
			best = c;
			best_t = r.threshold[i];
		}
	}
	ml_ranking_free(&r);
	now = ev_cost_mean(e, e->y, d, e->n);
	den = (c_fp - c_tn) + (c_fn - c_tp);
	if (e->task == ML_BINARY && c_fp - c_tn > 0 && c_fn - c_tp > 0)
		bayes = (c_fp - c_tn) / den;
	o = json_pack("{s:o, s:f, s:f, s:o, s:o, s:s}", "threshold", ev_num(best_t), "cost_per_row",
		      best / (double)e->n, "saving_per_row", now - best / (double)e->n,
		      "current_threshold",
		      e->task == ML_BINARY
			      ? json_real(e->threshold)
			      : ev_num(json_number_value(json_object_get(e->m->info, "threshold"))),
		      "bayes_threshold", ev_num(bayes), "rule",
		      isnan(best_t) ? "never positive: every decision negative is cheapest"
				    : "positive iff score >= threshold");
	if (!o)
		return sl__oom();
	*out = o;
	return 0;
}

static json_t *matrix_json(const ev_ctx *e)
{
	json_t *labels = json_array(), *rows = json_array();
	size_t k = e->cost.k;

	for (size_t a = 0; labels && rows && a < k; a++) {
		json_t *row = json_array();
		for (size_t b = 0; row && b < k; b++)
			if (json_array_append_new(row, json_real(e->cost.m[a * k + b]))) {
				json_decref(row);
				row = NULL;
			}
		if (!row || json_array_append_new(rows, row) ||
		    json_array_append_new(labels, json_string(dec_label(e, a)))) {
			json_decref(labels);
			labels = NULL;
		}
	}
	if (!labels || !rows) {
		json_decref(labels);
		json_decref(rows);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "labels", labels, "costs", rows);
}

int ev_cost_section(ev_ctx *e, const double *y, const double *d, const double *db, size_t n,
		    json_t **out)
{
	double *dn = sl__malloc((n ? n : 1) * sizeof *dn);
	double model, base = NAN, nothing = NAN;
	json_t *c = json_object(), *v;
	bool bad = !c;
	int rc = 0;

	*out = NULL;
	if (!dn || !c) {
		rc = sl__oom();
		goto out;
	}
	model = ev_cost_mean(e, y, d, n);
	if (db)
		base = ev_cost_mean(e, y, db, n);
	if (!e->cost.matrix || e->cost.has_nothing) {
		for (size_t i = 0; i < n; i++)
			dn[i] = e->cost.matrix ? (double)e->cost.nothing : 0;
		nothing = ev_cost_mean(e, y, dn, n);
	}
	bad = json_object_set_new(c, "source", json_string(e->cost.source)) ||
	      json_object_set_new(c, "kind", json_string(e->cost.matrix ? "matrix" : "over_under")) ||
	      json_object_set_new(c, "rows", json_integer((json_int_t)n)) ||
	      json_object_set_new(c, "model", amount(model, n)) ||
	      json_object_set_new(c, "baseline", db ? amount(base, n) : json_null()) ||
	      json_object_set_new(c, "nothing", isfinite(nothing) ? amount(nothing, n) : json_null()) ||
	      json_object_set_new(c, "saving_vs_baseline", db ? amount(base - model, n) : json_null()) ||
	      json_object_set_new(c, "saving_vs_nothing",
				  isfinite(nothing) ? amount(nothing - model, n) : json_null());
	if (!bad && e->cost.matrix)
		bad = json_object_set_new(c, "matrix", matrix_json(e)) != 0;
	if (!bad && !e->cost.matrix)
		bad = json_object_set_new(c, "over", json_real(e->cost.over)) ||
		      json_object_set_new(c, "under", json_real(e->cost.under));
	if (!bad && e->cost.matrix && !e->cost.has_nothing)
		rc = ev_note(e, "the cost of doing nothing needs `nothing: LABEL` in the cost: the "
				"decision that means no action");
	if (!bad && !rc && e->cost.k == 2 && (e->task == ML_BINARY || e->task == ML_ANOMALY)) {
		if (!(rc = best_threshold(e, d, &v)))
			bad = json_object_set_new(c, "threshold", v) != 0;
		if (!rc && !bad)
			rc = ev_note(e, "the cost-minimising threshold was chosen on the test rows: "
					"confirm it on fresh data before relying on it");
	}
	if (!bad && !rc && !isnan(e->o->value)) {
		/* val is consumed by c or freed here, whichever step fails. */
		json_t *val = json_object();
		if (sl__json_set(val, "per_correct_decision", json_real(e->o->value)) ||
		    sl__json_set(val, "model", value_of(e, y, d, n, model)) ||
		    (db && sl__json_set(val, "baseline", value_of(e, y, db, n, base)))) {
			json_decref(val);
			bad = true;
		} else {
			bad = json_object_set_new(c, "value", val) != 0;
		}
	}
	if (bad && !rc)
		rc = sl__oom();
	if (!rc) {
		*out = c;
		c = NULL;
	}
out:
	json_decref(c);
	sl__free(dn);
	return rc;
}
