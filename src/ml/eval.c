/*
 * Evaluation: a model scored on test rows beside a baseline (and a
 * champion) on the very same rows, assembled into the report (eval.h).
 *
 *   test table --ev_prepare--> ev_ctx: X (coded as training coded), y
 *        |                     (truths), P (predictions), the decision rule
 *        |                        |
 *        |          +-------------+--------------+---------------+
 *        |   ev_scores_of     baseline (fitted   cost, fairness,  champion
 *        |   (metrics)        on training rows)  importance       (its own ctx)
 *        |          +-------------+--------------+---------------+
 *        |                        v
 *        +------------------> the report (JSON) ---> verdict_hint
 *
 * Invariants:
 *  1. Every number in "metrics", "baseline" and "champion" is computed by
 *     ev_scores_of under one decision rule (threshold, positive class), so
 *     the three are comparable name by name. An undefined metric (AUC
 *     over one class) is left out, never written as a made-up number.
 *  2. Nothing is reported until every input has been checked: a refusal
 *     leaves no partial report behind.
 *  3. The report depends only on the model, the rows and the options
 *     (permutations draw from sl__rng_stream(seed, task)), so a rerun
 *     writes the same bytes.
 *
 * Conventions follow scikit-learn where it has one: precision, recall and
 * F1 that are undefined (nothing predicted or no such class) count as 0
 * (zero_division=0); macro averages run over the classes present among
 * the truths or the predictions; average precision is the step-wise sum,
 * not interpolated; the calibration curve's bins are uniform.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ml/eval_int.h"
#include "ml/forecast.h"

const ev_metric_info ev_metrics[EV_N_METRICS] = {
	[EV_ACCURACY] = {"accuracy", 1, EV_T_BIN | EV_T_MULTI},
	[EV_BALANCED_ACCURACY] = {"balanced_accuracy", 1, EV_T_BIN | EV_T_MULTI},
	[EV_PRECISION] = {"precision", 1, EV_T_BIN | EV_T_MULTI | EV_T_ANOM},
	[EV_RECALL] = {"recall", 1, EV_T_BIN | EV_T_MULTI | EV_T_ANOM},
	[EV_F1] = {"f1", 1, EV_T_BIN | EV_T_MULTI | EV_T_ANOM},
	[EV_PRECISION_MACRO] = {"precision_macro", 1, EV_T_BIN | EV_T_MULTI},
	[EV_RECALL_MACRO] = {"recall_macro", 1, EV_T_BIN | EV_T_MULTI},
	[EV_F1_MACRO] = {"f1_macro", 1, EV_T_BIN | EV_T_MULTI},
	[EV_ROC_AUC] = {"roc_auc", 1, EV_T_BIN | EV_T_MULTI | EV_T_ANOM},
	[EV_PR_AUC] = {"pr_auc", 1, EV_T_BIN | EV_T_MULTI | EV_T_ANOM},
	[EV_LOGLOSS] = {"logloss", -1, EV_T_BIN | EV_T_MULTI},
	[EV_BRIER] = {"brier", -1, EV_T_BIN | EV_T_MULTI},
	[EV_ECE] = {"ece", -1, EV_T_BIN | EV_T_MULTI},
	[EV_MAE] = {"mae", -1, EV_T_REG},
	[EV_RMSE] = {"rmse", -1, EV_T_REG},
	[EV_MAPE] = {"mape", -1, EV_T_REG},
	[EV_WAPE] = {"wape", -1, EV_T_REG | EV_T_FC},
	[EV_R2] = {"r2", 1, EV_T_REG},
	[EV_MASE] = {"mase", -1, EV_T_FC},
	[EV_SMAPE] = {"smape", -1, EV_T_FC},
	[EV_COVERAGE80] = {"coverage80", 0, EV_T_FC},
	[EV_COVERAGE95] = {"coverage95", 0, EV_T_FC},
	[EV_PRECISION_AT_K] = {"precision_at_k", 1, EV_T_ANOM},
	[EV_RECALL_AT_K] = {"recall_at_k", 1, EV_T_ANOM},
	[EV_ANOMALY_RATE] = {"anomaly_rate", 0, EV_T_ANOM | EV_T_ANOM_NOLAB},
	[EV_COST] = {"cost", -1, EV_T_BIN | EV_T_MULTI | EV_T_REG | EV_T_ANOM | EV_T_FC},
	[EV_ROWS] = {"rows", 0,
		     EV_T_BIN | EV_T_MULTI | EV_T_REG | EV_T_ANOM | EV_T_ANOM_NOLAB | EV_T_FC},
	[EV_SELECTION_RATE] = {"selection_rate", 0, EV_T_GROUP},
	[EV_TPR] = {"tpr", 1, EV_T_GROUP},
	[EV_FPR] = {"fpr", -1, EV_T_GROUP},
};

#define CALIB_BINS 10
#define CURVE_POINTS 200
#define RESIDUAL_POINTS 400
#define HIST_BINS 20
#define LATENCY_ROWS 1000
#define LATENCY_WARMUP 16

int ev_metric_find(const char *name)
{
	for (int m = 0; m < EV_N_METRICS; m++)
		if (!strcmp(ev_metrics[m].name, name))
			return m;
	return -1;
}

bool ml_eval_metric_direction(const char *name, int *out_direction)
{
	int m = ev_metric_find(name);

	if (m < 0 || (ev_metrics[m].tasks & EV_T_GROUP))
		return false;
	*out_direction = ev_metrics[m].direction;
	return true;
}

json_t *ev_num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

int ev_note(ev_ctx *e, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (!e->notes)
		return 0; /* a champion's context keeps no notes */
	return json_array_append_new(e->notes, json_string(buf)) ? sl__oom() : 0;
}

/* Sets key of obj to v (stolen); out of memory when either fails. */
static int set(json_t *obj, const char *key, json_t *v)
{
	return !v || json_object_set_new(obj, key, v) ? sl__oom() : 0;
}

void ml_eval_opts_init(ml_eval_opts *o)
{
	memset(o, 0, sizeof *o);
	o->metric_min = NAN;
	o->threshold = NAN;
	o->value = NAN;
	o->importance = true;
	o->repeats = 5;
}

bool ml_report_is(const json_t *j)
{
	const char *kind = json_string_value(json_object_get(j, "kind"));

	return kind && !strcmp(kind, ML_REPORT_KIND);
}

/* ---- preparing the rows --------------------------------------------------------- */

const char *ev_cell_text(const ds_table *t, size_t j, size_t i, char *buf)
{
	if (!ds_valid(ds_col_validity(t, j), i))
		return NULL;
	switch (ds_col_type(t, j)) {
	case DS_BOOL:
		return ds_col_bool(t, j)[i] ? "true" : "false";
	case DS_STRING:
		return ds_col_str(t, j, i, NULL);
	case DS_INT64:
		snprintf(buf, DS_F64_BUF, "%lld", (long long)ds_col_i64(t, j)[i]);
		return buf;
	case DS_TIMESTAMP:
		ds_format_timestamp(ds_col_i64(t, j)[i], buf);
		return buf;
	case DS_FLOAT64:
		ds_format_f64(ds_col_f64(t, j)[i], buf);
		return buf;
	}
	return "";
}

/* A NaN (not a null: a value that is not a number) in any model input is
 * refused; nulls are missing values, which the model's family handles. */
static int check_nan_inputs(const ev_ctx *e, const char *role)
{
	const ml_signature *sig = &e->m->sig;

	for (size_t f = 0; f < sig->n_features; f++) {
		size_t j;
		const double *v;
		const uint8_t *valid;
		if (ds_col_find(e->t, sig->features[f].name, &j) != 0 ||
		    ds_col_type(e->t, j) != DS_FLOAT64)
			continue;
		v = ds_col_f64(e->t, j);
		valid = ds_col_validity(e->t, j);
		for (size_t i = 0; i < e->n; i++)
			if (ds_valid(valid, i) && isnan(v[i]))
				return sl__err(SL_EINVAL,
					       "%s: column '%s' is NaN in row %zu: a model input must "
					       "be a number or missing (null); impute it or filter the "
					       "row in a wrangle step",
					       role, sig->features[f].name, i + 1);
	}
	return 0;
}

/* Anomaly labels from column col: 1 anomalous, 0 normal. */
static int anomaly_labels(ev_ctx *e, const char *col, const char *role)
{
	const char *positive = e->o->positive;
	char buf[DS_TS_BUF + DS_F64_BUF], cols[512];
	size_t j;

	if (ds_col_find(e->t, col, &j) != 0) {
		ml_list_columns(e->t, cols, sizeof cols);
		return sl__err(SL_EINVAL, "%s: the labels column '%s' is not in the test data (its "
					  "columns: %s); fix `target:` or leave it out to report the "
					  "scores alone",
			       role, col, cols);
	}
	if (ds_col_type(e->t, j) == DS_STRING && !positive)
		return sl__err(SL_EINVAL, "%s: the labels column '%s' holds text: name the value "
					  "that marks an anomaly with `positive:`",
			       role, col);
	e->y = sl__malloc((e->n ? e->n : 1) * sizeof *e->y);
	if (!e->y)
		return sl__oom();
	for (size_t i = 0; i < e->n; i++) {
		const char *s = ev_cell_text(e->t, j, i, buf);
		double v;
		if (!s)
			return sl__err(SL_EINVAL, "%s: label '%s' is missing in row %zu: evaluation "
						  "needs a label in every row (drop_nulls in a wrangle "
						  "step)",
				       role, col, i + 1);
		if (positive) {
			e->y[i] = !strcmp(s, positive);
			continue;
		}
		ds_get_f64(e->t, j, i, &v);
		if (isnan(v))
			return sl__err(SL_EINVAL, "%s: label '%s' is NaN in row %zu", role, col, i + 1);
		e->y[i] = v != 0;
	}
	return 0;
}

/* ml_frame_apply's refusal (which names the column), with the fix. */
static int signature_mismatch(int rc, const char *role)
{
	char msg[SL__ERRMSG_MAX];

	if (rc == SL_ENOMEM)
		return rc;
	snprintf(msg, sizeof msg, "%s", sl_errmsg());
	return sl__err(rc, "%s: %s (the %s rows need the columns and types the model was "
			   "trained on: pass them through the same wrangle steps)",
		       role, msg, role);
}

/* The truths of a classifier or regressor, through the model's signature. */
static int supervised_truths(ev_ctx *e, const char *target, const char *role)
{
	ml_signature sig = e->m->sig; /* shallow: only the target's name differs */
	char cols[512];
	size_t j;
	int rc;

	sig.target = (char *)target;
	if (ds_col_find(e->t, target, &j) != 0) {
		ml_list_columns(e->t, cols, sizeof cols);
		return sl__err(SL_EINVAL,
			       "%s: the target column '%s' is not in the test data (its columns: "
			       "%s): evaluate the labelled test split, or name the column with "
			       "`target:`",
			       role, target, cols);
	}
	if ((rc = ml_frame_apply(&sig, e->t, &e->X, &e->y)))
		return signature_mismatch(rc, role);
	for (size_t i = 0; i < e->n; i++) {
		if (isnan(e->y[i]))
			return sl__err(SL_EINVAL,
				       "%s: target '%s' is %s in row %zu: evaluation needs a truth in "
				       "every row (filter such rows in a wrangle step)",
				       role, target, ds_valid(ds_col_validity(e->t, j), i) ? "NaN" : "missing",
				       i + 1);
		if (isinf(e->y[i]))
			return sl__err(SL_EINVAL, "%s: target '%s' is infinite in row %zu", role, target,
				       i + 1);
	}
	return 0;
}

static int choose_main(ev_ctx *e)
{
	const ml_eval_opts *o = e->o;
	int m;

	e->main_set = e->tbit != EV_T_ANOM_NOLAB;
	switch (e->task) {
	case ML_BINARY:
	case ML_ANOMALY:
		e->main = EV_ROC_AUC;
		break;
	case ML_MULTICLASS:
		e->main = EV_F1_MACRO;
		break;
	case ML_FORECAST:
		e->main = EV_MASE;
		break;
	default:
		e->main = EV_RMSE;
		break;
	}
	if (!o->metric || !e->main_set)
		return 0;
	m = ev_metric_find(o->metric);
	if (m >= 0 && ev_metrics[m].direction != 0 && (ev_metrics[m].tasks & e->tbit)) {
		e->main = (ev_metric)m;
		return 0;
	}
	if (o->metric_source && !strcmp(o->metric_source, "canvas"))
		return ev_note(e, "the canvas's metric '%s' does not apply to this %s model; the "
				  "main metric is %s",
			       o->metric, ml_task_name(e->task), ev_metrics[e->main].name);
	{
		char list[512];
		size_t len = 0;
		list[0] = '\0';
		for (int k = 0; k < EV_N_METRICS; k++)
			if ((ev_metrics[k].tasks & e->tbit) && ev_metrics[k].direction != 0)
				len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0,
							"%s%s", len ? ", " : "", ev_metrics[k].name);
		return sl__err(SL_EINVAL, "metric '%s' does not apply to this %s model (use one of: %s)",
			       o->metric, ml_task_name(e->task), list);
	}
}

static void ev_free(ev_ctx *e)
{
	sl__free(e->X);
	sl__free(e->y);
	sl__free(e->P);
	json_decref(e->fc);
	ev_cost_free(&e->cost);
}

/*
 * A forecast model is scored by its family (ml_forecast_evaluate), which
 * aligns the test rows with its forecasts by series and time and scores
 * seasonal naive on the same rows. A test set none of whose rows match is
 * refused with the reasons counted.
 */
static int forecast_prepare(ev_ctx *e, const char *role)
{
	const json_t *un;
	char msg[SL__ERRMSG_MAX];
	int rc = ml_forecast_evaluate(e->m, e->t, e->o->time_col, &e->fc);

	if (rc) {
		if (rc == SL_ENOMEM)
			return rc;
		snprintf(msg, sizeof msg, "%s", sl_errmsg());
		return sl__err(rc, "%s: %s", role, msg);
	}
	if (json_integer_value(json_object_get(json_object_get(e->fc, "metrics"), "rows")) > 0)
		return 0;
	un = json_object_get(e->fc, "unmatched");
	return sl__err(SL_EINVAL,
		       "%s: no row matched a forecast (%lld of an unknown series, %lld at or "
		       "before the end of training, %lld off the time grid, %lld beyond the "
		       "horizon, %lld without a value): evaluate on the rows that follow the "
		       "training data, within the horizon",
		       role, (long long)json_integer_value(json_object_get(un, "unknown_series")),
		       (long long)json_integer_value(json_object_get(un, "not_after_training")),
		       (long long)json_integer_value(json_object_get(un, "off_grid")),
		       (long long)json_integer_value(json_object_get(un, "beyond_horizon")),
		       (long long)json_integer_value(json_object_get(un, "missing_actual")));
}

/*
 * Everything about one model on the test rows, checked (invariant 2).
 * role names the rows in messages ("test", "champion").
 */
static int ev_prepare(ev_ctx *e, const ml_model *m, const ds_table *t, const ml_eval_opts *o,
		      const char *role)
{
	const char *target = o->target ? o->target : m->sig.target;
	int rc;

	e->o = o;
	e->m = m;
	e->t = t;
	e->task = m->sig.task;
	e->n = ds_nrow(t);
	e->p = m->sig.n_features;
	e->k = m->sig.n_outputs;
	if (e->n == 0)
		return sl__err(SL_EINVAL, "%s: the test data has no rows", role);
	switch (e->task) {
	case ML_BINARY:
		e->tbit = EV_T_BIN;
		break;
	case ML_MULTICLASS:
		e->tbit = EV_T_MULTI;
		break;
	case ML_REGRESSION:
		e->tbit = EV_T_REG;
		break;
	case ML_ANOMALY:
		e->tbit = target ? EV_T_ANOM : EV_T_ANOM_NOLAB;
		break;
	case ML_FORECAST:
		e->tbit = EV_T_FC;
		if ((rc = forecast_prepare(e, role)) || (rc = choose_main(e)))
			return rc;
		if (o->cost && (rc = ev_cost_parse(e, o->cost, o->cost_source ? o->cost_source
									     : "with")))
			return rc;
		return 0;
	}
	if (e->task == ML_ANOMALY) {
		if ((rc = ml_frame_apply(&m->sig, t, &e->X, NULL)))
			return signature_mismatch(rc, role);
		if (target && (rc = anomaly_labels(e, target, role)))
			return rc;
		e->n_dec = 2;
		e->pos = 1;
	} else {
		if (!target)
			return sl__err(SL_EINVAL, "%s: the model names no target: set `target:`", role);
		if ((rc = supervised_truths(e, target, role)))
			return rc;
		e->n_dec = ml_task_is_classifier(e->task) ? m->sig.n_classes : 0;
	}
	if ((rc = check_nan_inputs(e, role)))
		return rc;
	if (e->task == ML_BINARY) {
		e->pos = 1;
		if (o->positive) {
			size_t c = 0;
			while (c < m->sig.n_classes && strcmp(m->sig.classes[c], o->positive))
				c++;
			if (c == m->sig.n_classes)
				return sl__err(SL_EINVAL, "positive: '%s' is not a class of the model "
							  "(its classes: %s, %s)",
					       o->positive, m->sig.classes[0], m->sig.classes[1]);
			e->pos = c;
		}
	}
	e->threshold = isnan(o->threshold) ? 0.5 : o->threshold;
	if (!(e->threshold >= 0 && e->threshold <= 1))
		return sl__err(SL_EINVAL, "threshold must be between 0 and 1 (a probability)");
	if (e->n > SIZE_MAX / sizeof(double) / (e->k ? e->k : 1))
		return sl__err(SL_ELIMIT, "the test data is too large");
	e->P = sl__malloc(e->n * e->k * sizeof *e->P);
	if (!e->P)
		return sl__oom();
	if ((rc = ml_model_predict(m, e->X, e->n, e->P)))
		return rc;
	for (size_t i = 0; i < e->n * e->k; i++)
		if (!isfinite(e->P[i]))
			return sl__err(SL_ECORRUPT, "%s: the model predicted %g for row %zu: its file "
						    "may be damaged",
				       role, e->P[i], i / e->k + 1);
	if ((rc = choose_main(e)))
		return rc;
	if (o->cost && e->tbit != EV_T_ANOM_NOLAB &&
	    (rc = ev_cost_parse(e, o->cost, o->cost_source ? o->cost_source : "with")))
		return rc;
	return 0;
}

/* ---- decisions and metrics -------------------------------------------------------- */

double ev_score_of(const ev_ctx *e, const double *P, size_t i)
{
	return e->task == ML_ANOMALY ? P[2 * i] : P[i * e->k + e->pos];
}

void ev_decide(const ev_ctx *e, const double *P, size_t n, double *out)
{
	size_t k = e->k;

	for (size_t i = 0; i < n; i++) {
		switch (e->task) {
		case ML_BINARY:
			out[i] = P[i * k + e->pos] >= e->threshold ? (double)e->pos
								    : (double)(1 - e->pos);
			break;
		case ML_MULTICLASS: {
			size_t best = 0;
			for (size_t c = 1; c < k; c++)
				if (P[i * k + c] > P[i * k + best])
					best = c;
			out[i] = (double)best;
			break;
		}
		case ML_ANOMALY:
			out[i] = P[2 * i + 1] > 0.5 ? 1 : 0;
			break;
		default:
			out[i] = P[i * k];
			break;
		}
	}
}

static double zero_if_nan(double v)
{
	return isnan(v) ? 0 : v;
}

/* Metrics read off a confusion matrix (classes, or normal/anomaly). */
static void from_confusion(const ev_ctx *e, const double *cm, size_t k, size_t n, ev_scores *s)
{
	double trace = 0, sp = 0, sr = 0, sf = 0, pred_pos = 0, neg = 0, fp = 0;
	size_t present = 0, pos = e->pos;

	for (size_t c = 0; c < k; c++) {
		double p, r, f, row = 0, colsum = 0;
		trace += cm[c * k + c];
		for (size_t j = 0; j < k; j++) {
			row += cm[c * k + j];
			colsum += cm[j * k + c];
		}
		if (row + colsum == 0)
			continue;
		ml_class_prf(cm, k, c, &p, &r, &f);
		sp += zero_if_nan(p);
		sr += zero_if_nan(r);
		sf += zero_if_nan(f);
		present++;
	}
	s->v[EV_ACCURACY] = n ? trace / (double)n : NAN;
	s->v[EV_BALANCED_ACCURACY] = ml_metric_balanced_accuracy(cm, k);
	if (present) {
		s->v[EV_PRECISION_MACRO] = sp / (double)present;
		s->v[EV_RECALL_MACRO] = sr / (double)present;
		s->v[EV_F1_MACRO] = sf / (double)present;
	}
	if (e->task == ML_MULTICLASS) {
		s->v[EV_PRECISION] = s->v[EV_PRECISION_MACRO];
		s->v[EV_RECALL] = s->v[EV_RECALL_MACRO];
		s->v[EV_F1] = s->v[EV_F1_MACRO];
		return;
	}
	ml_class_prf(cm, k, pos, &s->v[EV_PRECISION], &s->v[EV_RECALL], &s->v[EV_F1]);
	s->v[EV_TPR] = s->v[EV_RECALL]; /* NaN without positives: no TPR */
	s->v[EV_PRECISION] = zero_if_nan(s->v[EV_PRECISION]);
	s->v[EV_RECALL] = zero_if_nan(s->v[EV_RECALL]);
	s->v[EV_F1] = zero_if_nan(s->v[EV_F1]);
	for (size_t a = 0; a < k; a++) {
		pred_pos += cm[a * k + pos];
		if (a != pos) {
			fp += cm[a * k + pos];
			for (size_t j = 0; j < k; j++)
				neg += cm[a * k + j];
		}
	}
	s->v[EV_FPR] = neg > 0 ? fp / neg : NAN;
	s->v[EV_SELECTION_RATE] = n ? pred_pos / (double)n : NAN;
}

/* Ranking metrics of one positive-vs-rest problem. */
static int ranking_metrics(const double *yb, const double *sc, size_t n, size_t at_k,
			   double *auc, double *ap, double *p_at_k, double *r_at_k)
{
	ml_ranking r;
	int rc = ml_ranking_build(yb, sc, NULL, n, &r);

	if (rc)
		return rc;
	/* From the ranking, not ml_metric_auc, whose allocation failure would
	 * read as "undefined" instead of failing the evaluation. */
	*auc = ml_ranking_auc(&r);
	*ap = ml_ranking_average_precision(&r);
	if (p_at_k) {
		double hits = ml_ranking_hits_at(&r, at_k);
		*p_at_k = at_k ? hits / (double)at_k : NAN;
		*r_at_k = r.pos > 0 ? hits / r.pos : NAN;
	}
	ml_ranking_free(&r);
	return 0;
}

/* The k of precision at k for these rows: the option, or their positives. */
static size_t at_k_of(const ev_ctx *e, const double *y, size_t n)
{
	size_t pos = 0;

	if (e->o->k)
		return e->o->k < n ? e->o->k : n;
	for (size_t i = 0; i < n; i++)
		pos += y[i] > 0.5;
	return pos;
}

static int classifier_metrics(const ev_ctx *e, const double *y, const double *P, size_t n,
			      const double *d, ev_scores *s, double *yb, double *sc)
{
	size_t k = e->k;
	double *cm = sl__calloc(k * k, sizeof *cm);
	ml_calib_bin bins[CALIB_BINS];
	int rc = 0;

	if (!cm)
		return sl__oom();
	ml_confusion(y, d, k, NULL, n, cm);
	from_confusion(e, cm, k, n, s);
	sl__free(cm);
	if (e->task == ML_BINARY) {
		for (size_t i = 0; i < n; i++) {
			yb[i] = y[i] == (double)e->pos;
			sc[i] = P[i * k + e->pos];
		}
		if ((rc = ranking_metrics(yb, sc, n, 0, &s->v[EV_ROC_AUC], &s->v[EV_PR_AUC], NULL,
					  NULL)))
			return rc;
		s->v[EV_LOGLOSS] = ml_metric_logloss(yb, sc, NULL, n);
		s->v[EV_BRIER] = ml_metric_brier(yb, sc, NULL, n);
	} else {
		double sum_auc = 0, sum_ap = 0;
		size_t used = 0;
		for (size_t c = 0; c < k; c++) {
			double auc, ap;
			for (size_t i = 0; i < n; i++) {
				yb[i] = y[i] == (double)c;
				sc[i] = P[i * k + c];
			}
			if ((rc = ranking_metrics(yb, sc, n, 0, &auc, &ap, NULL, NULL)))
				return rc;
			if (isnan(auc))
				continue; /* the class is absent, or alone, in these rows */
			sum_auc += auc;
			sum_ap += ap;
			used++;
		}
		if (used) {
			s->v[EV_ROC_AUC] = sum_auc / (double)used;
			s->v[EV_PR_AUC] = sum_ap / (double)used;
		}
		s->v[EV_LOGLOSS] = ml_metric_mlogloss(y, P, k, NULL, n);
		s->v[EV_BRIER] = ml_metric_mbrier(y, P, k, NULL, n);
		/* Top-label calibration: the confidence in the predicted class
		 * against whether it was right. */
		for (size_t i = 0; i < n; i++) {
			sc[i] = P[i * k + (size_t)d[i]];
			yb[i] = d[i] == y[i];
		}
	}
	if ((rc = ml_calibration(yb, sc, n, CALIB_BINS, bins)))
		return rc;
	s->v[EV_ECE] = ml_calibration_ece(bins, CALIB_BINS);
	return 0;
}

int ev_scores_of(const ev_ctx *e, const double *y, const double *P, size_t n, ev_scores *s)
{
	double *d = NULL, *yb = NULL, *sc = NULL;
	int rc = 0;

	for (size_t m = 0; m < EV_N_METRICS; m++)
		s->v[m] = NAN;
	s->v[EV_ROWS] = (double)n;
	d = sl__malloc((n ? n : 1) * sizeof *d);
	yb = sl__malloc((n ? n : 1) * sizeof *yb);
	sc = sl__malloc((n ? n : 1) * sizeof *sc);
	if (!d || !yb || !sc) {
		rc = sl__oom();
		goto out;
	}
	ev_decide(e, P, n, d);
	if (e->task == ML_ANOMALY) {
		double flagged = 0;
		for (size_t i = 0; i < n; i++)
			flagged += d[i];
		s->v[EV_ANOMALY_RATE] = n ? flagged / (double)n : NAN;
	}
	if (!y)
		goto out;
	if (e->cost.set)
		s->v[EV_COST] = ev_cost_mean(e, y, d, n);
	switch (e->task) {
	case ML_BINARY:
	case ML_MULTICLASS:
		rc = classifier_metrics(e, y, P, n, d, s, yb, sc);
		break;
	case ML_REGRESSION:
		s->v[EV_MAE] = ml_metric_mae(y, d, NULL, n);
		s->v[EV_RMSE] = ml_metric_rmse(y, d, NULL, n);
		s->v[EV_MAPE] = ml_metric_mape(y, d, NULL, n, NULL);
		s->v[EV_WAPE] = ml_metric_wape(y, d, NULL, n);
		s->v[EV_R2] = ml_metric_r2(y, d, NULL, n);
		break;
	case ML_ANOMALY: {
		double cm[4];
		size_t k = at_k_of(e, y, n);
		ml_confusion(y, d, 2, NULL, n, cm);
		from_confusion(e, cm, 2, n, s);
		s->v[EV_ACCURACY] = s->v[EV_BALANCED_ACCURACY] = NAN; /* not reported */
		for (size_t i = 0; i < n; i++)
			sc[i] = P[2 * i];
		rc = ranking_metrics(y, sc, n, k, &s->v[EV_ROC_AUC], &s->v[EV_PR_AUC],
				     &s->v[EV_PRECISION_AT_K], &s->v[EV_RECALL_AT_K]);
		break;
	}
	case ML_FORECAST:
		break;
	}
out:
	sl__free(d);
	sl__free(yb);
	sl__free(sc);
	return rc;
}

int ev_scores_json(const ev_ctx *e, const ev_scores *s, json_t **out)
{
	json_t *o = json_object();

	*out = NULL;
	if (!o)
		return sl__oom();
	for (size_t m = 0; m < EV_N_METRICS; m++) {
		if (!(ev_metrics[m].tasks & e->tbit) || !isfinite(s->v[m]))
			continue;
		if (m == EV_COST && !e->cost.set)
			continue;
		if (set(o, ev_metrics[m].name, json_real(s->v[m]))) {
			json_decref(o);
			return sl__oom();
		}
	}
	*out = o;
	return 0;
}

/* ---- the report's detail sections -------------------------------------------------- */

/* Appends [x, y] to arr. */
static int push_xy(json_t *arr, double x, double y)
{
	return json_array_append_new(arr, json_pack("[f, f]", x, y)) ? sl__oom() : 0;
}

/* ROC and PR curves of a binary ranking, at most CURVE_POINTS points each. */
static int ranking_curves(ev_ctx *e, json_t *curves)
{
	double *yb = sl__malloc(e->n * sizeof *yb), *sc = sl__malloc(e->n * sizeof *sc);
	json_t *roc = json_array(), *pr = json_array();
	ml_ranking r = {0};
	size_t step;
	int rc;

	if (!yb || !sc || !roc || !pr) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < e->n; i++) {
		yb[i] = ev_is_pos(e, e->y[i]);
		sc[i] = ev_score_of(e, e->P, i);
	}
	if ((rc = ml_ranking_build(yb, sc, NULL, e->n, &r)))
		goto out;
	if (!(r.pos > 0 && r.neg > 0)) {
		rc = ev_note(e, "ROC and PR curves need both outcomes among the test rows");
		goto out;
	}
	step = (r.n + CURVE_POINTS - 1) / CURVE_POINTS;
	rc = push_xy(roc, 0, 0);
	for (size_t i = 0; !rc && i < r.n; i++) {
		if (i % step && i + 1 != r.n)
			continue;
		rc = push_xy(roc, r.fp[i] / r.neg, r.tp[i] / r.pos);
		if (!rc)
			rc = push_xy(pr, r.tp[i] / r.pos, r.tp[i] / (r.tp[i] + r.fp[i]));
	}
	if (!rc)
		rc = set(curves, "roc", json_incref(roc));
	if (!rc)
		rc = set(curves, "pr", json_incref(pr));
	if (!rc)
		rc = set(curves, "pr_prevalence", json_real(r.pos / (r.pos + r.neg)));
out:
	json_decref(roc);
	json_decref(pr);
	ml_ranking_free(&r);
	sl__free(yb);
	sl__free(sc);
	return rc;
}

static int calibration_curve(const ev_ctx *e, const double *d, json_t *curves)
{
	double *hit = sl__malloc(e->n * sizeof *hit), *conf = sl__malloc(e->n * sizeof *conf);
	ml_calib_bin bins[CALIB_BINS];
	json_t *arr = json_array();
	int rc = 0;

	if (!hit || !conf || !arr) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < e->n; i++) {
		if (e->task == ML_BINARY) {
			conf[i] = e->P[i * e->k + e->pos];
			hit[i] = e->y[i] == (double)e->pos;
		} else {
			conf[i] = e->P[i * e->k + (size_t)d[i]];
			hit[i] = d[i] == e->y[i];
		}
	}
	if ((rc = ml_calibration(hit, conf, e->n, CALIB_BINS, bins)))
		goto out;
	for (size_t b = 0; !rc && b < CALIB_BINS; b++)
		if (json_array_append_new(arr, json_pack("{s:f, s:f, s:I, s:o, s:o}", "lo", bins[b].lo,
							 "hi", bins[b].hi, "count",
							 (json_int_t)bins[b].count, "mean_predicted",
							 ev_num(bins[b].mean_predicted),
							 "fraction_positive",
							 ev_num(bins[b].fraction_positive))))
			rc = sl__oom();
	if (!rc)
		rc = set(curves, "calibration", json_pack("{s:s, s:O}", "kind",
							  e->task == ML_BINARY ? "positive_class"
									       : "top_label",
							  "bins", arr));
out:
	json_decref(arr);
	sl__free(hit);
	sl__free(conf);
	return rc;
}

/* Confusion matrix and per-class precision, recall, F1 and support. */
static int class_sections(const ev_ctx *e, const double *d, json_t *rep)
{
	static const char *const anomaly_labels_text[] = {"normal", "anomaly"};
	size_t k = e->n_dec;
	double *cm = sl__calloc(k * k, sizeof *cm);
	json_t *labels = json_array(), *rows = json_array(), *per = json_array();
	int rc = 0;

	if (!cm || !labels || !rows || !per) {
		rc = sl__oom();
		goto out;
	}
	ml_confusion(e->y, d, k, NULL, e->n, cm);
	for (size_t a = 0; !rc && a < k; a++) {
		const char *label = e->task == ML_ANOMALY ? anomaly_labels_text[a]
							  : e->m->sig.classes[a];
		json_t *row = json_array();
		double p, r, f, support = 0;
		for (size_t b = 0; row && b < k; b++) {
			support += cm[a * k + b];
			if (json_array_append_new(row, json_integer((json_int_t)cm[a * k + b])))
				rc = sl__oom();
		}
		ml_class_prf(cm, k, a, &p, &r, &f);
		if (!row || json_array_append_new(rows, row) ||
		    json_array_append_new(labels, json_string(label)) ||
		    json_array_append_new(per, json_pack("{s:s, s:I, s:f, s:f, s:f}", "class", label,
							 "support", (json_int_t)support, "precision",
							 zero_if_nan(p), "recall", zero_if_nan(r),
							 "f1", zero_if_nan(f))))
			rc = sl__oom();
	}
	if (!rc)
		rc = set(rep, "confusion_matrix",
			 json_pack("{s:O, s:O}", "labels", labels, "counts", rows));
	if (!rc)
		rc = set(rep, "per_class", json_incref(per));
out:
	json_decref(labels);
	json_decref(rows);
	json_decref(per);
	sl__free(cm);
	return rc;
}

/* A histogram of v (n values) in HIST_BINS equal bins over [lo, hi]. */
static json_t *histogram(const double *v, size_t n, double lo, double hi)
{
	size_t counts[HIST_BINS] = {0};
	json_t *c = json_array();

	for (size_t i = 0; i < n; i++) {
		size_t b = hi > lo ? (size_t)((v[i] - lo) / (hi - lo) * HIST_BINS) : 0;
		counts[b < HIST_BINS ? b : HIST_BINS - 1]++;
	}
	for (size_t b = 0; c && b < HIST_BINS; b++)
		if (json_array_append_new(c, json_integer((json_int_t)counts[b]))) {
			json_decref(c);
			return NULL;
		}
	return c ? json_pack("{s:f, s:f, s:o}", "lo", lo, "hi", hi, "counts", c) : NULL;
}

/* Residuals (truth - prediction): a sample of points and a histogram. */
static int residual_section(const ev_ctx *e, json_t *rep)
{
	double *r = sl__malloc(e->n * sizeof *r), lo = INFINITY, hi = -INFINITY;
	json_t *pts = json_array(), *h = NULL;
	size_t step = (e->n + RESIDUAL_POINTS - 1) / RESIDUAL_POINTS;
	int rc = 0;

	if (!r || !pts) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < e->n; i++) {
		r[i] = e->y[i] - e->P[i * e->k];
		lo = fmin(lo, r[i]);
		hi = fmax(hi, r[i]);
	}
	/* Evenly spaced rows: the same sample on every run. */
	for (size_t i = 0; !rc && i < e->n; i += step)
		rc = push_xy(pts, e->P[i * e->k], r[i]);
	if (!rc && !(h = histogram(r, e->n, lo, hi)))
		rc = sl__oom();
	if (!rc)
		rc = set(rep, "residuals", json_pack("{s:O, s:o}", "points", pts, "histogram", h));
	else
		json_decref(h);
out:
	json_decref(pts);
	sl__free(r);
	return rc;
}

/* Anomaly scores: their distribution (by label when there are labels). */
static int anomaly_section(const ev_ctx *e, json_t *rep)
{
	double *s = sl__malloc(e->n * sizeof *s), *lab = NULL;
	size_t n_lab = 0;
	json_t *a = NULL;
	int rc = 0;

	if (!s)
		return sl__oom();
	for (size_t i = 0; i < e->n; i++)
		s[i] = e->P[2 * i];
	a = json_pack("{s:b, s:o, s:o, s:o}", "labelled", e->y != NULL, "threshold",
		      ev_num(json_number_value(json_object_get(e->m->info, "threshold"))), "k",
		      e->y ? json_integer((json_int_t)e->at_k) : json_null(), "scores",
		      histogram(s, e->n, 0, 1));
	if (a && e->y) {
		lab = sl__malloc(e->n * sizeof *lab);
		if (!lab)
			rc = sl__oom();
		for (size_t i = 0; lab && i < e->n; i++)
			if (e->y[i] > 0.5)
				lab[n_lab++] = s[i];
		if (!rc)
			rc = set(a, "scores_of_anomalies", histogram(lab, n_lab, 0, 1));
	}
	if (!a)
		rc = sl__oom();
	if (!rc)
		rc = set(rep, "anomaly", json_incref(a));
	json_decref(a);
	sl__free(s);
	sl__free(lab);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Single-row prediction latency, the quantity the gates' latency rule
 * judges: up to LATENCY_ROWS test rows predicted one call each, after a
 * few untimed calls to warm the caches. Percentiles by nearest rank.
 */
static int latency_section(const ev_ctx *e, json_t *rep)
{
	size_t n = e->n < LATENCY_ROWS ? e->n : LATENCY_ROWS;
	double *t = sl__malloc(n * sizeof *t), *out = sl__malloc(e->k * sizeof *out);
	long double sum = 0;
	int rc = 0;

	if (!t || !out) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; !rc && i < LATENCY_WARMUP && i < n; i++)
		rc = ml_model_predict(e->m, e->X + i * e->p, 1, out);
	/* A row's time is the fastest of three calls, as score_latency's
	 * (score.h: the machine's interruptions are not the model's). */
	for (size_t i = 0; !rc && i < n; i++) {
		t[i] = INFINITY;
		for (int k = 0; !rc && k < 3; k++) {
			double t0 = sl__mono_sec();
			rc = ml_model_predict(e->m, e->X + i * e->p, 1, out);
			double d = (sl__mono_sec() - t0) * 1e6;
			if (d < t[i])
				t[i] = d;
		}
		sum += t[i];
	}
	if (rc)
		goto out;
	qsort(t, n, sizeof *t, cmp_double);
	rc = set(rep, "latency",
		 json_pack("{s:I, s:f, s:f, s:f}", "rows", (json_int_t)n, "p50_us",
			   t[(size_t)ceil(0.5 * (double)n) - 1], "p99_us",
			   t[(size_t)ceil(0.99 * (double)n) - 1], "mean_us", (double)(sum / n)));
out:
	sl__free(t);
	sl__free(out);
	return rc;
}

/* ---- forecasts ------------------------------------------------------------------------- */

/* The scores in one object of the forecast family's report (its metrics or
 * its baseline's), on rows rows. */
static void forecast_scores(const json_t *obj, double rows, ev_scores *s)
{
	for (size_t m = 0; m < EV_N_METRICS; m++) {
		const json_t *v = json_object_get(obj, ev_metrics[m].name);
		s->v[m] = (ev_metrics[m].tasks & EV_T_FC) && json_is_number(v) ? json_number_value(v)
									     : NAN;
	}
	s->v[EV_ROWS] = rows;
}

/*
 * The aligned (actual, forecast, seasonal naive) triples the family's
 * report lists. They are the rows of its first series (the report keeps
 * points for a few dozen), so costs computed from them say how many rows
 * they cover.
 */
static int forecast_points(const ev_ctx *e, double **y, double **f, double **b, size_t *n)
{
	const json_t *series = json_object_get(e->fc, "series"), *se, *pt;
	size_t i, j, count = 0;

	*y = *f = *b = NULL;
	*n = 0;
	json_array_foreach(series, i, se)
		count += json_array_size(json_object_get(se, "points"));
	*y = sl__malloc((count ? count : 1) * sizeof **y);
	*f = sl__malloc((count ? count : 1) * sizeof **f);
	*b = sl__malloc((count ? count : 1) * sizeof **b);
	if (!*y || !*f || !*b) {
		sl__free(*y);
		sl__free(*f);
		sl__free(*b);
		*y = *f = *b = NULL;
		return sl__oom();
	}
	json_array_foreach(series, i, se) {
		json_array_foreach(json_object_get(se, "points"), j, pt) {
			const json_t *a = json_object_get(pt, "actual"), *fc = json_object_get(pt, "forecast");
			const json_t *bl = json_object_get(pt, "baseline");
			if (!json_is_number(a) || !json_is_number(fc) || !json_is_number(bl))
				continue;
			(*y)[*n] = json_number_value(a);
			(*f)[*n] = json_number_value(fc);
			(*b)[*n] = json_number_value(bl);
			(*n)++;
		}
	}
	return 0;
}

/* The model's and (bs, may be NULL) seasonal naive's scores, costs included. */
static int forecast_all_scores(const ev_ctx *e, ev_scores *ms, ev_scores *bs)
{
	const json_t *mt = json_object_get(e->fc, "metrics");
	double rows = json_number_value(json_object_get(mt, "rows")), *y, *f, *b;
	size_t n;
	int rc;

	forecast_scores(mt, rows, ms);
	if (bs)
		forecast_scores(json_object_get(e->fc, "baseline"), rows, bs);
	if (!e->cost.set)
		return 0;
	if ((rc = forecast_points(e, &y, &f, &b, &n)))
		return rc;
	ms->v[EV_COST] = ev_cost_mean(e, y, f, n);
	if (bs)
		bs->v[EV_COST] = ev_cost_mean(e, y, b, n);
	sl__free(y);
	sl__free(f);
	sl__free(b);
	return 0;
}

/* ---- baseline, champion, verdict ---------------------------------------------------- */

static int baseline_scores(ev_ctx *e, double **out_P, json_t *rep, ev_scores *s)
{
	const char *strategy = NULL, *fitted_on = "training rows";
	ml_model *b = NULL;
	int rc;

	*out_P = NULL;
	if (e->task == ML_REGRESSION &&
	    (e->main == EV_MAE || e->main == EV_MAPE || e->main == EV_WAPE))
		strategy = "median"; /* the best constant under absolute error */
	rc = ml_baseline_for(e->m, strategy, &b);
	if (rc == SL_ENOENT) {
		/* No summary of the training target: anomaly models (the
		 * constant needs none), or a model from before summaries. */
		ml_frame fake = {.t = e->t, .n = e->n, .sig = e->m->sig, .y = e->y};
		fitted_on = e->task == ML_ANOMALY ? "nothing (a constant score)" : "test rows";
		if (e->task != ML_ANOMALY &&
		    (rc = ev_note(e, "the model carries no summary of its training target, so the "
				     "baseline was fitted on the test rows, which flatters it")))
			return rc;
		rc = ml_baseline_fit(&fake, strategy, &b);
	}
	if (rc)
		return rc;
	*out_P = sl__malloc(e->n * e->k * sizeof **out_P);
	if (!*out_P)
		rc = sl__oom();
	if (!rc)
		rc = ml_model_predict(b, e->X, e->n, *out_P);
	if (!rc)
		rc = ev_scores_of(e, e->y, *out_P, e->n, s);
	if (!rc)
		rc = set(rep, "baseline_info",
			 json_pack("{s:s, s:s}", "strategy",
				   json_string_value(json_object_get(b->params, "strategy")),
				   "fitted_on", fitted_on));
	ml_model_free(b);
	if (rc) {
		sl__free(*out_P);
		*out_P = NULL;
	}
	return rc;
}

static int champion_section(ev_ctx *e, const ml_model *champion, const ev_scores *ms,
			    json_t *rep, ev_scores *cs)
{
	ev_ctx c = {0};
	json_t *flat = NULL, *delta = json_object();
	int rc;

	if (!delta)
		return sl__oom();
	if (champion->sig.task != e->task) {
		json_decref(delta);
		return sl__err(SL_EINVAL, "champion: it is a %s model and the model is %s: only "
					  "models of the same task can be compared",
			       ml_task_name(champion->sig.task), ml_task_name(e->task));
	}
	rc = ev_prepare(&c, champion, e->o->champion_rows ? e->o->champion_rows : e->t, e->o,
			"champion");
	if (!rc)
		rc = c.task == ML_FORECAST ? forecast_all_scores(&c, cs, NULL)
					   : ev_scores_of(&c, c.y, c.P, c.n, cs);
	if (!rc)
		rc = ev_scores_json(&c, cs, &flat);
	for (size_t m = 0; !rc && m < EV_N_METRICS; m++)
		if ((ev_metrics[m].tasks & e->tbit) && m != EV_ROWS && isfinite(ms->v[m]) &&
		    isfinite(cs->v[m]) && (m != EV_COST || e->cost.set))
			rc = set(delta, ev_metrics[m].name, json_real(ms->v[m] - cs->v[m]));
	if (!rc)
		rc = set(rep, "champion", json_incref(flat));
	if (!rc)
		rc = set(rep, "champion_delta", json_incref(delta));
	if (!rc)
		rc = set(rep, "champion_info",
			 json_pack("{s:s, s:I}", "algorithm", champion->ops->algorithm, "features",
				   (json_int_t)champion->sig.n_features));
	json_decref(flat);
	json_decref(delta);
	ev_free(&c);
	return rc;
}

static void fmt_num(double v, char *buf, size_t size)
{
	snprintf(buf, size, "%.4g", v);
}

/*
 * The assessment in numbers and the verdict in words. The model is worth
 * deploying when it beats the baseline by more than 1% (relative) on the
 * main metric, meets the canvas's minimum if there is one, and does not
 * cost more than the baseline when a cost is known.
 */
static int assess(ev_ctx *e, const ev_scores *ms, const ev_scores *bs, const ev_scores *cs,
		  json_t *rep)
{
	const char *name = ev_metrics[e->main].name;
	int dir = ev_metrics[e->main].direction;
	double mv = ms->v[e->main], bv = bs ? bs->v[e->main] : NAN, gain, rel;
	char a[32], b[32], c[32], text[1024];
	bool worth;
	size_t len = 0;
	json_t *as;

	if (!e->main_set) {
		double rate = ms->v[EV_ANOMALY_RATE];
		snprintf(text, sizeof text,
			 "no labels: the detector flags %.3g%% of the test rows, but without "
			 "labelled rows (`target:`) nothing says whether they are the right ones",
			 100 * rate);
		return set(rep, "verdict_hint", json_string(text)) ||
			       set(rep, "assessment", json_pack("{s:n, s:b}", "metric", "worth_deploying",
								false))
			       ? sl__oom()
			       : 0;
	}
	if (!isfinite(mv) || !isfinite(bv)) {
		snprintf(text, sizeof text,
			 "%s is undefined on these test rows (does the test data hold every "
			 "outcome?): the model cannot be judged against the baseline",
			 name);
		return set(rep, "verdict_hint", json_string(text)) ||
			       set(rep, "assessment",
				   json_pack("{s:s, s:b}", "metric", name, "worth_deploying", false))
			       ? sl__oom()
			       : 0;
	}
	gain = (mv - bv) * dir;
	rel = bv != 0 ? gain / fabs(bv) : gain > 0 ? INFINITY : 0;
	fmt_num(mv, a, sizeof a);
	fmt_num(bv, b, sizeof b);
	if (gain <= 0) {
		worth = false;
		len += (size_t)snprintf(text + len, sizeof text - len,
					"the baseline is as good as the model or better on %s (%s "
					"against the model's %s): do not deploy it, a rule serves as "
					"well",
					name, b, a);
	} else if (rel < 0.01) {
		worth = false;
		len += (size_t)snprintf(text + len, sizeof text - len,
					"the baseline is within 1%% of the model on %s (%s against %s): "
					"a rule may serve as well",
					name, b, a);
	} else {
		worth = true;
		/* Past 1000% a percentage says less than the two numbers do. */
		if (rel < 10)
			len += (size_t)snprintf(text + len, sizeof text - len,
						"the model beats the baseline on %s by %.3g%% (%s against "
						"%s)",
						name, 100 * rel, a, b);
		else
			len += (size_t)snprintf(text + len, sizeof text - len,
						"the model beats the baseline on %s (%s against %s)", name,
						a, b);
	}
	if (!isnan(e->o->metric_min) && len < sizeof text) {
		bool meets = dir > 0 ? mv >= e->o->metric_min : mv <= e->o->metric_min;
		fmt_num(e->o->metric_min, c, sizeof c);
		len += (size_t)snprintf(text + len, sizeof text - len,
					meets ? "; it meets the canvas's %s of %s"
					      : "; it falls short of the canvas's %s of %s",
					dir > 0 ? "minimum" : "maximum", c);
		worth = worth && meets;
	}
	if (e->cost.set && isfinite(ms->v[EV_COST]) && isfinite(bs->v[EV_COST]) &&
	    len < sizeof text) {
		double saving = bs->v[EV_COST] - ms->v[EV_COST];
		fmt_num(fabs(saving), c, sizeof c);
		len += (size_t)snprintf(text + len, sizeof text - len,
					saving >= 0 ? "; it saves %s per row against the baseline"
						    : "; it costs %s more per row than the baseline",
					c);
		worth = worth && saving >= 0;
		if (saving < 0 && len < sizeof text) {
			/* Often the threshold, not the model, is what costs. */
			const json_t *th = json_object_get(json_object_get(rep, "cost"), "threshold");
			double t = json_number_value(json_object_get(th, "threshold"));
			double tc = json_number_value(json_object_get(th, "cost_per_row"));
			if (json_is_number(json_object_get(th, "threshold")) && tc < bs->v[EV_COST]) {
				char d2[32];
				fmt_num(t, c, sizeof c);
				fmt_num(bs->v[EV_COST] - tc, d2, sizeof d2);
				len += (size_t)snprintf(text + len, sizeof text - len,
							", but at threshold %s it would save %s per row "
							"(set `threshold:`; that threshold was chosen on "
							"the test rows)",
							c, d2);
			}
		}
	}
	if (cs && isfinite(cs->v[e->main]) && len < sizeof text) {
		double cg = (mv - cs->v[e->main]) * dir;
		fmt_num(cs->v[e->main], c, sizeof c);
		len += (size_t)snprintf(text + len, sizeof text - len,
					cg > 0	 ? "; it is better than the champion (%s: %s)"
					: cg < 0 ? "; it is worse than the champion (%s: %s)"
						 : "; it ties with the champion (%s: %s)",
					name, c);
	}
	as = json_pack("{s:s, s:s, s:f, s:f, s:o, s:b}", "metric", name, "direction",
		       dir > 0 ? "higher_is_better" : "lower_is_better", "model", mv, "baseline", bv,
		       "relative_gain", ev_num(rel), "worth_deploying", worth);
	if (as && !isnan(e->o->metric_min))
		json_object_set_new(as, "minimum", json_real(e->o->metric_min));
	if (as && cs && isfinite(cs->v[e->main]))
		json_object_set_new(as, "champion", json_real(cs->v[e->main]));
	return set(rep, "assessment", as) || set(rep, "verdict_hint", json_string(text)) ? sl__oom()
											  : 0;
}

static int model_section(const ev_ctx *e, json_t *rep)
{
	const ml_signature *sig = &e->m->sig;
	json_t *mo = json_pack("{s:s, s:s, s:I}", "algorithm", e->m->ops->algorithm, "task",
			       ml_task_name(e->task), "features", (json_int_t)sig->n_features);
	int rc = 0;

	if (!mo)
		return sl__oom();
	if (e->o->target || sig->target)
		rc = set(mo, "target", json_string(e->o->target ? e->o->target : sig->target));
	if (!rc && sig->n_classes) {
		json_t *cl = json_array();
		for (size_t c = 0; cl && c < sig->n_classes; c++)
			if (json_array_append_new(cl, json_string(sig->classes[c]))) {
				json_decref(cl);
				cl = NULL;
			}
		rc = set(mo, "classes", cl);
	}
	if (!rc && e->task == ML_BINARY)
		rc = set(mo, "positive", json_string(sig->classes[e->pos]));
	if (!rc && e->task == ML_BINARY)
		rc = set(mo, "threshold", json_real(e->threshold));
	if (!rc && e->task == ML_ANOMALY && e->o->positive)
		rc = set(mo, "positive", json_string(e->o->positive));
	if (rc) {
		json_decref(mo);
		return rc;
	}
	return set(rep, "model", mo);
}

static int forecast_sections(ev_ctx *e, json_t *rep, ev_scores *ms, ev_scores *bs)
{
	const json_t *un = json_object_get(e->fc, "unmatched"), *v;
	json_t *flat = NULL, *cost = NULL;
	double *y = NULL, *f = NULL, *b = NULL;
	long long unmatched = 0;
	const char *key;
	size_t n;
	int rc;

	if ((rc = forecast_all_scores(e, ms, bs)))
		return rc;
	rc = ev_scores_json(e, ms, &flat);
	if (!rc)
		rc = set(rep, "metrics", flat);
	if (!rc)
		rc = set(rep, "baseline_info", json_pack("{s:s, s:s}", "strategy", "seasonal_naive",
							 "fitted_on", "training rows"));
	if (!rc && !(rc = ev_scores_json(e, bs, &flat)))
		rc = set(rep, "baseline", flat);
	if (!rc)
		rc = set(rep, "forecast", json_incref(e->fc));
	json_object_foreach((json_t *)un, key, v)
		unmatched += json_integer_value(v);
	if (!rc && unmatched)
		rc = ev_note(e, "%lld test rows matched no forecast (counted by reason in "
				"forecast.unmatched) and are not scored",
			     unmatched);
	if (rc || !e->cost.set)
		return rc;
	if ((rc = forecast_points(e, &y, &f, &b, &n)))
		return rc;
	if (!(rc = ev_cost_section(e, y, f, b, n, &cost)))
		rc = set(rep, "cost", cost);
	if (!rc && (double)n < ms->v[EV_ROWS])
		rc = ev_note(e, "the cost covers the %zu rows of the series the report shows, of the "
				"%.0f scored",
			     n, ms->v[EV_ROWS]);
	sl__free(y);
	sl__free(f);
	sl__free(b);
	return rc;
}

/* Metrics, their notes and the baseline, for every task but forecasts. */
static int row_sections(ev_ctx *e, json_t *rep, ev_scores *ms, ev_scores *bs, double **Pb)
{
	json_t *flat = NULL;
	int rc = ev_scores_of(e, e->y, e->P, e->n, ms);

	if (!rc && !(rc = ev_scores_json(e, ms, &flat)))
		rc = set(rep, "metrics", flat);
	for (size_t k = 0; !rc && k < EV_N_METRICS; k++)
		if ((ev_metrics[k].tasks & e->tbit) && k != EV_COST && !isfinite(ms->v[k]) &&
		    !(ev_metrics[k].tasks & EV_T_GROUP))
			rc = ev_note(e, "%s is undefined on these test rows", ev_metrics[k].name);
	if (!rc && e->task == ML_REGRESSION) {
		size_t skipped = 0;
		ml_metric_mape(e->y, e->P, NULL, e->n, &skipped);
		if (skipped)
			rc = ev_note(e, "mape leaves out the %zu rows whose truth is 0", skipped);
	}
	if (rc || !e->main_set)
		return rc;
	rc = baseline_scores(e, Pb, rep, bs);
	if (!rc && !(rc = ev_scores_json(e, bs, &flat)))
		rc = set(rep, "baseline", flat);
	return rc;
}

/* Details for people (and the HTML page): classes, curves, residuals,
 * anomaly scores; and the cost, which needs the decisions. */
static int detail_sections(ev_ctx *e, const double *Pb, json_t *rep)
{
	double *d = NULL, *db = NULL;
	json_t *curves = json_object(), *cost = NULL;
	int rc = 0;

	if (!curves)
		return sl__oom();
	if (e->y) {
		d = sl__malloc(e->n * sizeof *d);
		if (!d) {
			rc = sl__oom();
			goto out;
		}
		ev_decide(e, e->P, e->n, d);
		if (e->n_dec)
			rc = class_sections(e, d, rep);
		if (!rc && (e->task == ML_BINARY || e->task == ML_ANOMALY))
			rc = ranking_curves(e, curves);
		if (!rc && ml_task_is_classifier(e->task))
			rc = calibration_curve(e, d, curves);
		if (!rc && json_object_size(curves))
			rc = set(rep, "curves", json_incref(curves));
		if (!rc && e->task == ML_REGRESSION)
			rc = residual_section(e, rep);
	}
	if (!rc && e->task == ML_ANOMALY)
		rc = anomaly_section(e, rep);
	if (!rc && e->cost.set) {
		if (Pb && !(db = sl__malloc(e->n * sizeof *db))) {
			rc = sl__oom();
			goto out;
		}
		if (Pb)
			ev_decide(e, Pb, e->n, db);
		if (!(rc = ev_cost_section(e, e->y, d, db, e->n, &cost)))
			rc = set(rep, "cost", cost);
	}
out:
	json_decref(curves);
	sl__free(d);
	sl__free(db);
	return rc;
}

int ml_evaluate(const ml_model *m, const ml_model *champion, const ds_table *test,
		const ml_eval_opts *o, json_t **out)
{
	bool fc = m->sig.task == ML_FORECAST;
	ev_ctx e = {0};
	ev_scores ms, bs, cs;
	json_t *rep = json_object(), *sec = NULL;
	double *Pb = NULL;
	int rc;

	*out = NULL;
	e.notes = json_array();
	if (!rep || !e.notes) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = ev_prepare(&e, m, test, o, "test")))
		goto out;
	if (e.y && e.task == ML_ANOMALY)
		e.at_k = at_k_of(&e, e.y, e.n);
	rc = set(rep, "kind", json_string(ML_REPORT_KIND));
	if (!rc)
		rc = set(rep, "format", json_integer(ML_REPORT_FORMAT));
	if (!rc)
		rc = model_section(&e, rep);
	if (!rc)
		rc = set(rep, "rows", json_integer((json_int_t)e.n));
	if (!rc && e.main_set)
		rc = set(rep, "main_metric",
			 json_pack("{s:s, s:s, s:b}", "name", ev_metrics[e.main].name, "source",
				   o->metric && (int)e.main == ev_metric_find(o->metric)
					   ? (o->metric_source ? o->metric_source : "with")
					   : "default",
				   "higher_is_better", ev_metrics[e.main].direction > 0));
	if (!rc)
		rc = fc ? forecast_sections(&e, rep, &ms, &bs) : row_sections(&e, rep, &ms, &bs, &Pb);
	if (!rc && champion)
		rc = champion_section(&e, champion, &ms, rep, &cs);
	if (!rc && !fc)
		rc = detail_sections(&e, Pb, rep);
	if (!rc && fc && (o->n_sensitive || o->latency))
		rc = ev_note(&e, "fairness and latency apply to row-by-row predictions, not to a "
				 "table of forecasts: left out");
	if (!rc && !fc && o->n_sensitive && !(rc = ev_fairness_section(&e, &sec))) {
		rc = set(rep, "fairness", sec);
		sec = NULL;
	}
	if (!rc && !fc && o->importance && e.main_set && !(rc = ev_importance_section(&e, &sec)) &&
	    sec) {
		rc = set(rep, "importance", sec);
		sec = NULL;
	}
	if (!rc && !fc && o->latency)
		rc = latency_section(&e, rep);
	if (!rc)
		rc = assess(&e, &ms, e.main_set ? &bs : NULL, champion ? &cs : NULL, rep);
	if (!rc)
		rc = set(rep, "notes", json_incref(e.notes));
	if (!rc) {
		*out = rep;
		rep = NULL;
	}
out:
	json_decref(rep);
	json_decref(e.notes);
	sl__free(Pb);
	ev_free(&e);
	return rc;
}
