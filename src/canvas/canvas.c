/*
 * canvas.yaml, read and checked (canvas.h).
 *
 * The file goes through the YAML loader into a tree whose nodes keep their
 * positions; one pass over the tree checks each block and fills the typed
 * struct, recording every problem it meets instead of stopping at the
 * first (canvas_check wants them all; canvas_load reports the first). A
 * field with a problem is left as not given, so the rest of the pass, and
 * a consumer of a canvas_check result, never reads a wrong value.
 *
 * The tree stays alive with the canvas: strings handed out point into it
 * (invariant 3 of canvas.h), and canvas_pos answers "where was PATH
 * written" for fields the struct keeps no position for.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canvas/canvas.h"
#include "ml/eval.h"

/* ---- the vocabulary ------------------------------------------------------------ */

static const char *const block_names[CANVAS_N_BLOCKS] = {
	"value_proposition", "data_sources",       "prediction_task", "features",
	"offline_evaluation", "decisions",         "making_predictions", "data_collection",
	"building_models",   "live_monitoring",
};

const char *canvas_block_name(canvas_block_id b)
{
	return (unsigned)b < CANVAS_N_BLOCKS ? block_names[b] : "?";
}

bool canvas_block_acted_on(canvas_block_id b)
{
	return b == CANVAS_OFFLINE_EVALUATION || b == CANVAS_DECISIONS ||
	       b == CANVAS_MAKING_PREDICTIONS || b == CANVAS_BUILDING_MODELS ||
	       b == CANVAS_LIVE_MONITORING;
}

#define T_CL CANVAS_T_CLASS
#define T_RG CANVAS_T_REG
#define T_FC CANVAS_T_FORECAST
#define T_AN CANVAS_T_ANOMALY
#define T_LV CANVAS_T_LIVE

/*
 * The metrics a canvas may name: evaluate's (their definitions are in
 * docs/steps/evaluate.md) and what serving measures live. The bounds let
 * "min: 90" for a share be caught as per cent.
 */
static const canvas_metric metrics[] = {
	{"accuracy", 1, 0, 1, T_CL, "share of correct decisions"},
	{"anomaly_rate", 0, 0, 1, T_AN, "share of rows flagged"},
	{"balanced_accuracy", 1, 0, 1, T_CL, "mean recall over the classes"},
	{"brier", -1, 0, 2, T_CL, "mean squared error of the probabilities"},
	{"cost", -1, NAN, NAN, T_CL | T_RG | T_FC | T_AN, "expected cost per decision (decisions.cost)"},
	{"coverage80", 0, 0, 1, T_FC, "share of actuals inside the 80% interval"},
	{"coverage95", 0, 0, 1, T_FC, "share of actuals inside the 95% interval"},
	{"drift_share", -1, 0, 1, T_LV, "share of input columns that drifted in the window"},
	{"ece", -1, 0, 1, T_CL, "expected calibration error"},
	{"error_rate", -1, 0, 1, T_LV, "share of requests answered with an error"},
	{"f1", 1, 0, 1, T_CL | T_AN, "F1 of the positive class (macro for multiclass)"},
	{"f1_macro", 1, 0, 1, T_CL, "unweighted mean F1 over the classes"},
	{"latency_p50_ms", -1, 0, NAN, T_LV, "median time to answer a request, ms"},
	{"latency_p99_ms", -1, 0, NAN, T_LV, "99th percentile time to answer a request, ms"},
	{"logloss", -1, 0, NAN, T_CL, "mean negative log-likelihood of the truth"},
	{"mae", -1, 0, NAN, T_RG, "mean absolute error"},
	{"mape", -1, 0, NAN, T_RG, "mean absolute percentage error, as a fraction"},
	{"mase", -1, 0, NAN, T_FC, "mean absolute scaled error (below 1 beats seasonal naive)"},
	{"pr_auc", 1, 0, 1, T_CL | T_AN, "average precision"},
	{"precision", 1, 0, 1, T_CL | T_AN, "of the positive class (macro for multiclass)"},
	{"precision_at_k", 1, 0, 1, T_AN, "labelled anomalies among the k highest scores"},
	{"precision_macro", 1, 0, 1, T_CL, "unweighted mean precision over the classes"},
	{"r2", 1, NAN, 1, T_RG, "coefficient of determination"},
	{"recall", 1, 0, 1, T_CL | T_AN, "of the positive class (macro for multiclass)"},
	{"recall_at_k", 1, 0, 1, T_AN, "share of labelled anomalies among the k highest scores"},
	{"recall_macro", 1, 0, 1, T_CL, "unweighted mean recall over the classes"},
	{"rmse", -1, 0, NAN, T_RG, "root mean squared error"},
	{"roc_auc", 1, 0, 1, T_CL | T_AN, "area under the ROC curve"},
	{"smape", -1, 0, 200, T_FC, "symmetric mean absolute percentage error, per cent"},
	{"wape", -1, 0, NAN, T_RG | T_FC, "weighted absolute percentage error"},
};

const canvas_metric *canvas_metric_find(const char *name)
{
	for (size_t i = 0; name && i < SL__ARRAY_LEN(metrics); i++)
		if (!strcmp(metrics[i].name, name))
			return &metrics[i];
	return NULL;
}

const canvas_metric *canvas_metrics(size_t *out_n)
{
	*out_n = SL__ARRAY_LEN(metrics);
	return metrics;
}

const char *canvas_cost_kind_name(canvas_cost_kind k)
{
	static const char *const names[] = {"none", "matrix", "labels", "outcomes", "over_under"};

	return (unsigned)k < SL__ARRAY_LEN(names) ? names[k] : "?";
}

const char *canvas_severity_name(canvas_severity s)
{
	return s == CANVAS_CRITICAL ? "critical" : "warning";
}

static const char *const outcome_names[] = {"false_positive", "false_negative", "true_positive",
					    "true_negative"};

/* Keys of older templates, and near-misses a suggestion cannot reach. */
static const struct {
	const char *block; /* "" for the top level */
	const char *key;
	const char *use;
} renamed[] = {
	{"", "predictions", "making_predictions"},
	{"", "retraining", "building_models"},
	{"", "monitoring", "live_monitoring"},
	{"", "evaluation", "offline_evaluation"},
	{"making_predictions", "latency_ms", "latency_p99_ms"},
	{"making_predictions", "latency", "latency_p99_ms"},
	{"building_models", "schedule", "cadence"},
	{"building_models", "retrain", "retrain_on"},
	{"building_models", "triggers", "retrain_on"},
	{"live_monitoring", "alerts", "alert"},
	{"live_monitoring", "window_size", "window"},
	{"offline_evaluation", "minimum", "min"},
	{"offline_evaluation", "threshold", "min"},
};

/* ---- the checking pass ------------------------------------------------------------- */

/* The parts of a canvas that must be freed with it. */
typedef struct canvas_own {
	canvas cv;
	sl__ydoc *doc;
	char *file, *dir, *pipeline_path;
	json_t *block_json[CANVAS_N_BLOCKS];
	const char **metric_names;
	const char **drift_columns;
	canvas_alert *alerts;
} canvas_own;

typedef struct cvx {
	canvas_own *o;
	canvas_problem *probs;
	size_t n, cap;
	bool oom;
} cvx;

static void problem(cvx *x, sl__ypos pos, const char *path, const char *fmt, ...) SL__PRINTF(4, 5);
static void sort_problems(canvas_problem *p, size_t n);

static void problem(cvx *x, sl__ypos pos, const char *path, const char *fmt, ...)
{
	canvas_problem *p;
	va_list ap;

	if (x->n >= CANVAS_MAX_PROBLEMS)
		return;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 8;
		canvas_problem *np = sl__reallocarray(x->probs, cap, sizeof *np);
		if (!np) {
			x->oom = true;
			return;
		}
		x->probs = np;
		x->cap = cap;
	}
	p = &x->probs[x->n++];
	p->pos = pos;
	snprintf(p->path, sizeof p->path, "%s", path);
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof p->msg, fmt, ap);
	va_end(ap);
}

/* A value's text for messages: scalars as written (cut), collections by kind. */
static const char *shown(const sl__ynode *n, char *buf, size_t size)
{
	if (sl__ynode_is_scalar(n) && n->text)
		snprintf(buf, size, "%s ('%.60s%s')", sl__ynode_kind_name(n), n->text,
			 n->len > 60 ? "..." : "");
	else
		snprintf(buf, size, "%s", sl__ynode_kind_name(n));
	return buf;
}

/* Empty for the canvas's purposes: null, "", [] or {}, or holding only such. */
static bool node_empty(const sl__ynode *n)
{
	if (!n || n->kind == SL__Y_NULL)
		return true;
	if (n->kind == SL__Y_STR)
		return n->len == 0;
	if (n->kind == SL__Y_SEQ) {
		for (size_t i = 0; i < n->n; i++)
			if (!node_empty(n->kids[i]))
				return false;
		return true;
	}
	if (n->kind == SL__Y_MAP) {
		for (size_t i = 0; i < sl__ynode_count(n); i++)
			if (!node_empty(sl__ymap_val_at(n, i)))
				return false;
		return true;
	}
	return false;
}

/* A value the author left as a placeholder: null, "" or an empty collection. */
static bool unset(const sl__ynode *n)
{
	return !n || n->kind == SL__Y_NULL || (n->kind == SL__Y_STR && n->len == 0) ||
	       ((n->kind == SL__Y_SEQ || n->kind == SL__Y_MAP) && n->n == 0);
}

static void join(char *buf, size_t size, const char *block, const char *key)
{
	snprintf(buf, size, "%s%s%s", block, *block ? "." : "", key);
}

/* A top-level key that is not a block: the block that replaced it, or a suggestion. */
static void unknown_block(cvx *x, const sl__ynode *key)
{
	char dym[300];

	for (size_t i = 0; i < SL__ARRAY_LEN(renamed); i++)
		if (!*renamed[i].block && !strcmp(renamed[i].key, key->text)) {
			problem(x, key->pos, key->text, "unknown block '%s': write it as '%s'", key->text,
				renamed[i].use);
			return;
		}
	sl__did_you_mean(dym, sizeof dym, key->text, block_names, CANVAS_N_BLOCKS);
	problem(x, key->pos, key->text, "unknown block '%.80s'%s%s%s (the canvas has ten blocks; see "
					"docs/canvas.md)",
		key->text, *dym ? " (" : "", dym, *dym ? ")" : "");
}

/* base.key, with the key quoted when it is not a plain name (yamltree.h's paths). */
static void keypath(char *buf, size_t size, const char *base, const char *key)
{
	sl__buf b;

	sl__buf_init(&b, size);
	if (sl__buf_puts(&b, base) == 0 && sl__ypath_key(&b, key) == 0)
		snprintf(buf, size, "%s", b.data);
	else
		snprintf(buf, size, "%s.%s", base, key);
	sl__buf_free(&b);
}

/*
 * The mapping of an acted-on block, NULL when it is not given or left
 * empty. Keys outside keys[] (and `description`, free text anywhere) are
 * problems.
 */
static const sl__ynode *block_map(cvx *x, canvas_block_id b, const char *const *keys, size_t n)
{
	const canvas_block *blk = &x->o->cv.blocks[b];
	const sl__ynode *m = sl__ymap_get(sl__ydoc_root(x->o->doc), block_names[b], NULL);
	const char *name = block_names[b];
	char list[300], buf[120];
	size_t len = 0;

	if (!blk->given || unset(m))
		return NULL;
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", keys[i]);
	if (m->kind != SL__Y_MAP) {
		problem(x, m->pos, name, "%s must be a mapping with %s (and a description), not %s",
			name, list, shown(m, buf, sizeof buf));
		return NULL;
	}
	for (size_t i = 0; i < sl__ynode_count(m); i++) {
		const sl__ynode *k = sl__ymap_key_at(m, i);
		bool ok = !strcmp(k->text, "description");
		for (size_t j = 0; j < n && !ok; j++)
			ok = !strcmp(k->text, keys[j]);
		if (ok)
			continue;
		char path[160], dym[300];
		join(path, sizeof path, name, k->text);
		bool hinted = false;
		for (size_t r = 0; r < SL__ARRAY_LEN(renamed) && !hinted; r++)
			if (!strcmp(renamed[r].block, name) && !strcmp(renamed[r].key, k->text)) {
				problem(x, k->pos, path, "unknown key '%s' in %s: write it as '%s'",
					k->text, name, renamed[r].use);
				hinted = true;
			}
		if (hinted)
			continue;
		sl__did_you_mean(dym, sizeof dym, k->text, keys, n);
		problem(x, k->pos, path, "unknown key '%s' in %s (%s%s%s: %s, description)", k->text,
			name, dym, *dym ? "; " : "", "its keys", list);
	}
	return m;
}

/* The value of key in m; NULL when absent or a placeholder (null, ""). */
static const sl__ynode *field(const sl__ynode *m, const char *key)
{
	const sl__ynode *v = m ? sl__ymap_get(m, key, NULL) : NULL;

	return v && v->kind != SL__Y_NULL && !(v->kind == SL__Y_STR && v->len == 0) ? v : NULL;
}

/*
 * A number at n: integers and floats, and strings that read as numbers
 * when unquoted ("0.9" in quotes is 0.9, as step options take it). false
 * (with a problem) for anything else or a non-finite value.
 */
static bool number(cvx *x, const sl__ynode *n, const char *path, const char *what, double *out)
{
	sl__ynode tmp;
	char buf[120];

	if (n->kind == SL__Y_INT || n->kind == SL__Y_FLOAT) {
		*out = n->d;
	} else if (n->kind == SL__Y_STR && sl__yaml_resolve(n->text, &tmp) == 0 &&
		   (tmp.kind == SL__Y_INT || tmp.kind == SL__Y_FLOAT)) {
		*out = tmp.d;
	} else {
		problem(x, n->pos, path, "%s must be a number (%s), not %s", path, what,
			shown(n, buf, sizeof buf));
		return false;
	}
	if (!isfinite(*out)) {
		problem(x, n->pos, path, "%s must be a finite number (%s), not %s", path, what, n->text);
		return false;
	}
	return true;
}

typedef struct bounds {
	double lo, hi;   /* NaN: none */
	bool lo_open;    /* lo itself excluded */
	bool integer;
} bounds;

static void bounds_words(const bounds *b, char *buf, size_t size)
{
	if (!isnan(b->lo) && !isnan(b->hi))
		snprintf(buf, size, "from %g to %g", b->lo, b->hi);
	else if (!isnan(b->lo))
		snprintf(buf, size, "%s %g", b->lo_open ? "above" : "at least", b->lo);
	else
		snprintf(buf, size, "at most %g", b->hi);
}

/* A number field of m into *out (left not given on any problem). */
static void num_field(cvx *x, const sl__ynode *m, const char *block, const char *key,
		      const char *what, bounds b, canvas_num *out)
{
	const sl__ynode *n = field(m, key);
	char path[160], words[80];
	double v;

	if (!n)
		return;
	join(path, sizeof path, block, key);
	if (!number(x, n, path, what, &v))
		return;
	if (b.integer && (v != floor(v) || fabs(v) > 9e15)) {
		problem(x, n->pos, path, "%s must be a whole number (%s), not %s", path, what, n->text);
		return;
	}
	if ((!isnan(b.lo) && (b.lo_open ? v <= b.lo : v < b.lo)) || (!isnan(b.hi) && v > b.hi)) {
		bounds_words(&b, words, sizeof words);
		problem(x, n->pos, path, "%s must be %s, not %s", path, words, n->text);
		return;
	}
	out->given = true;
	out->v = v;
	out->pos = n->pos;
}

/* A string field; a number or boolean written where text is wanted is a problem. */
static const sl__ynode *str_field(cvx *x, const sl__ynode *m, const char *block, const char *key,
				  const char *what)
{
	const sl__ynode *n = field(m, key);
	char path[160], buf[120];

	if (!n)
		return NULL;
	if (n->kind != SL__Y_STR) {
		join(path, sizeof path, block, key);
		problem(x, n->pos, path, "%s must be %s, not %s", path, what, shown(n, buf, sizeof buf));
		return NULL;
	}
	return n;
}

/*
 * Whether name is one evaluate takes as its main metric: its own list
 * (ML_EVAL_METRICS, the step's `metric` choices), so the two never differ.
 * With names, also the list's words (pointing into words, which holds a
 * copy of the list) for suggestions.
 */
static bool main_metric(const char *name, char words[sizeof ML_EVAL_METRICS], const char **names,
			size_t *n_names)
{
	static const char list[] = ML_EVAL_METRICS;
	size_t len = strlen(name), n = 0;
	bool found = false;

	for (const char *p = list; *p;) {
		size_t w = strcspn(p, " ");
		found |= w == len && !strncmp(p, name, len);
		if (names && w) {
			memcpy(words + (p - list), p, w);
			words[(p - list) + w] = '\0';
			names[n++] = words + (p - list);
		}
		p += w;
		p += *p == ' ';
	}
	if (n_names)
		*n_names = n;
	return found;
}

/*
 * A metric name with a suggestion when it is not one: the main metric
 * (is_main) one evaluate takes; otherwise any the canvas knows, live
 * measures included.
 */
static const canvas_metric *metric_name(cvx *x, const sl__ynode *n, const char *path, bool is_main)
{
	const char *names[sizeof ML_EVAL_METRICS / 2 + SL__ARRAY_LEN(metrics)];
	char words[sizeof ML_EVAL_METRICS];
	const canvas_metric *mi;
	char dym[300], buf[120];
	size_t k = 0;

	if (n->kind != SL__Y_STR) {
		problem(x, n->pos, path, "%s must be a metric name, not %s", path, shown(n, buf, sizeof buf));
		return NULL;
	}
	mi = canvas_metric_find(n->text);
	if (mi && (!is_main || main_metric(n->text, NULL, NULL, NULL)))
		return mi;
	if (mi && (mi->tasks & CANVAS_T_LIVE)) {
		problem(x, n->pos, path, "%s: '%s' is measured while serving, not by evaluate; the "
					 "main metric is one evaluate computes, e.g. roc_auc, f1, rmse, mase",
			path, n->text);
		return NULL;
	}
	if (mi) {
		problem(x, n->pos, path, "%s: '%s' describes a model but does not rank one; the main "
					 "metric is one evaluate judges by, e.g. roc_auc, f1, rmse, mase",
			path, n->text);
		return NULL;
	}
	if (is_main) {
		main_metric("", words, names, &k);
	} else {
		for (size_t i = 0; i < SL__ARRAY_LEN(metrics) && k < SL__ARRAY_LEN(names); i++)
			names[k++] = metrics[i].name;
	}
	sl__did_you_mean(dym, sizeof dym, n->text, names, k);
	problem(x, n->pos, path, "%s: unknown metric '%.80s'%s%s%s (docs/canvas.md lists them)", path,
		n->text, *dym ? " (" : "", dym, *dym ? ")" : "");
	return NULL;
}

/* ---- the blocks ------------------------------------------------------------------------ */

static void check_offline(cvx *x)
{
	static const char *const keys[] = {"metric", "min"};
	const char *b = block_names[CANVAS_OFFLINE_EVALUATION];
	const sl__ynode *m = block_map(x, CANVAS_OFFLINE_EVALUATION, keys, SL__ARRAY_LEN(keys));
	canvas *cv = &x->o->cv;
	const sl__ynode *n;

	cv->offline.min.pos = cv->offline.metric.pos = cv->blocks[CANVAS_OFFLINE_EVALUATION].pos;
	if (!m)
		return;
	if ((n = field(m, "metric"))) {
		cv->offline.info = metric_name(x, n, "offline_evaluation.metric", true);
		if (cv->offline.info) {
			cv->offline.metric.s = n->text;
			cv->offline.metric.pos = n->pos;
		}
	}
	if (!(n = field(m, "min")))
		return;
	canvas_num min = cv->offline.min;
	bounds any = {NAN, NAN, false, false};
	num_field(x, m, b, "min", "the least the main metric must reach, e.g. 0.9", any, &min);
	if (!min.given)
		return;
	if (!field(m, "metric")) {
		problem(x, n->pos, "offline_evaluation.min",
			"offline_evaluation.min needs offline_evaluation.metric: say which metric must "
			"reach %g, e.g. metric: roc_auc",
			min.v);
		return;
	}
	const canvas_metric *mi = cv->offline.info;
	if (!mi)
		return; /* the metric's own problem is reported */
	if ((!isnan(mi->lo) && min.v < mi->lo) || (!isnan(mi->hi) && min.v > mi->hi)) {
		bool percent = mi->hi == 1 && min.v > 1 && min.v <= 100;
		problem(x, n->pos, "offline_evaluation.min",
			"offline_evaluation.min %s is outside what %s can be (%g to %g)%s", n->text,
			mi->name, isnan(mi->lo) ? -INFINITY : mi->lo, isnan(mi->hi) ? INFINITY : mi->hi,
			percent ? "; it is a share, not per cent: write 0.9 for 90%" : "");
		return;
	}
	cv->offline.min = min;
}

/* [[...], ...]: k rows of k numbers. */
static void cost_matrix(cvx *x, const sl__ynode *n, canvas_cost *c)
{
	size_t k = n->n;
	bool ok = true, any = false;
	char path[160], buf[120];

	if (k < 2) {
		problem(x, n->pos, "decisions.cost", "decisions.cost as a matrix needs a row per class "
						    "(at least 2), each with a cost per decision, e.g. "
						    "[[0, 1], [5, 0]]");
		return;
	}
	for (size_t i = 0; i < k; i++) {
		const sl__ynode *row = n->kids[i];
		snprintf(path, sizeof path, "decisions.cost[%zu]", i);
		if (row->kind != SL__Y_SEQ || row->n != k) {
			if (row->kind == SL__Y_SEQ)
				snprintf(buf, sizeof buf, "%zu", row->n);
			else
				shown(row, buf, sizeof buf);
			problem(x, row->pos, path,
				"%s: a %zu x %zu matrix needs %zu costs in each row (rows: the actual "
				"class, columns: the decision, in the model's class order), not %s",
				path, k, k, k, buf);
			ok = false;
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			double v;
			snprintf(path, sizeof path, "decisions.cost[%zu][%zu]", i, j);
			if (!number(x, row->kids[j], path, "a cost; negative is a gain", &v))
				ok = false;
			else if (v != 0)
				any = true;
		}
	}
	if (ok && !any)
		problem(x, n->pos, "decisions.cost", "decisions.cost is all zeros: mistakes would cost "
						    "nothing; give what they cost, or leave cost out");
	if (ok && any) {
		c->kind = CANVAS_COST_MATRIX;
		c->k = k;
	}
}

static bool is_outcome(const char *key)
{
	for (size_t i = 0; i < SL__ARRAY_LEN(outcome_names); i++)
		if (!strcmp(key, outcome_names[i]))
			return true;
	return false;
}

/* A mapping: {over, under}, the four outcomes, or rows by label; `nothing` with the last two. */
static void cost_mapping(cvx *x, const sl__ynode *n, canvas_cost *c)
{
	size_t n_ou = 0, n_out = 0, n_lab = 0;
	const sl__ynode *first_ou = NULL, *first_other = NULL, *lab = NULL;
	bool ok = true, any = false;
	char path[160], buf[120];

	for (size_t i = 0; i < sl__ynode_count(n); i++) {
		const sl__ynode *k = sl__ymap_key_at(n, i);
		if (!strcmp(k->text, "over") || !strcmp(k->text, "under")) {
			n_ou++;
			first_ou = first_ou ? first_ou : k;
		} else if (strcmp(k->text, "nothing")) {
			if (is_outcome(k->text)) {
				n_out++;
			} else {
				n_lab++;
				lab = lab ? lab : k;
			}
			first_other = first_other ? first_other : k;
		}
	}
	if (n_ou && first_other) {
		problem(x, first_other->pos, "decisions.cost",
			"decisions.cost mixes {over, under} (costs of numbers: regression, forecasts) "
			"with '%s' (costs of classes); give one or the other",
			first_other->text);
		return;
	}
	if (n_out && lab) {
		char dym[300];
		sl__did_you_mean(dym, sizeof dym, lab->text, outcome_names, SL__ARRAY_LEN(outcome_names));
		problem(x, lab->pos, "decisions.cost",
			"decisions.cost mixes outcomes (false_positive ...) with costs by class label "
			"('%s'%s%s); give one form: {false_positive: 1, false_negative: 5} or "
			"{ACTUAL: {DECIDED: cost}}",
			lab->text, *dym ? ": " : "", dym);
		return;
	}
	for (size_t i = 0; i < sl__ynode_count(n); i++) {
		const sl__ynode *k = sl__ymap_key_at(n, i), *v = sl__ymap_val_at(n, i);
		double d;
		keypath(path, sizeof path, "decisions.cost", k->text);
		if (!strcmp(k->text, "nothing")) {
			if (n_ou || !sl__ynode_is_scalar(v) || v->kind == SL__Y_NULL) {
				problem(x, v->pos, path, "%s names the class whose decision means doing "
							 "nothing (a label)%s",
					path, n_ou ? "; {over, under} costs have none (doing nothing "
						      "is predicting 0)" : "");
				ok = false;
			} else {
				c->nothing = v->text;
			}
			continue;
		}
		if (n_ou || n_out) {
			const char *what = n_ou ? "a cost per unit, at least 0"
						: "a cost; negative is a gain";
			if (!number(x, v, path, what, &d)) {
				ok = false;
			} else if (n_ou && d < 0) {
				problem(x, v->pos, path, "%s must be at least 0 (a cost per unit), not %s",
					path, v->text);
				ok = false;
			} else {
				any |= d != 0;
				if (!strcmp(k->text, "over"))
					c->over = d;
				else if (!strcmp(k->text, "under"))
					c->under = d;
			}
			continue;
		}
		/* A row by label: {DECIDED: cost}. A number here is a misspelt outcome, or a row cut short. */
		if (v->kind == SL__Y_INT || v->kind == SL__Y_FLOAT) {
			static const char *const flat[] = {"false_positive", "false_negative",
							   "true_positive", "true_negative", "over",
							   "under"};
			char dym[300];
			if (sl__did_you_mean(dym, sizeof dym, k->text, flat, SL__ARRAY_LEN(flat))) {
				problem(x, k->pos, path, "decisions.cost: unknown outcome '%s' (%s)", k->text,
					dym);
				ok = false;
				continue;
			}
		}
		if (v->kind != SL__Y_MAP || v->n == 0) {
			problem(x, v->pos, path,
				"%s: give the cost of each decision when the actual class is '%s', e.g. "
				"{%s: {OTHER: 5}}; not %s",
				path, k->text, k->text, shown(v, buf, sizeof buf));
			ok = false;
			continue;
		}
		for (size_t j = 0; j < sl__ynode_count(v); j++) {
			const sl__ynode *k2 = sl__ymap_key_at(v, j);
			char p2[200];
			keypath(p2, sizeof p2, path, k2->text);
			if (!number(x, sl__ymap_val_at(v, j), p2, "a cost; negative is a gain", &d))
				ok = false;
			else
				any |= d != 0;
		}
	}
	if (!ok)
		return;
	if (!any) {
		problem(x, n->pos, "decisions.cost", "decisions.cost is all zeros: mistakes would cost "
						    "nothing; give what they cost, or leave cost out");
		return;
	}
	c->kind = n_ou ? CANVAS_COST_OVER_UNDER : n_out ? CANVAS_COST_OUTCOMES : CANVAS_COST_LABELS;
	c->k = n_lab;
}

static void check_decisions(cvx *x)
{
	static const char *const keys[] = {"cost", "value"};
	const sl__ynode *m = block_map(x, CANVAS_DECISIONS, keys, SL__ARRAY_LEN(keys));
	canvas *cv = &x->o->cv;
	const sl__ynode *n;
	char buf[120];

	cv->decisions.cost.pos = cv->decisions.value.pos = cv->blocks[CANVAS_DECISIONS].pos;
	if (!m)
		return;
	bounds nonneg = {0, NAN, false, false};
	num_field(x, m, "decisions", "value", "the value of one correct decision, e.g. 0.05", nonneg,
		  &cv->decisions.value);
	n = sl__ymap_get(m, "cost", NULL);
	if (unset(n))
		return;
	canvas_cost c;
	memset(&c, 0, sizeof c);
	if (n->kind == SL__Y_SEQ)
		cost_matrix(x, n, &c);
	else if (n->kind == SL__Y_MAP)
		cost_mapping(x, n, &c);
	else
		problem(x, n->pos, "decisions.cost",
			"decisions.cost must be what mistakes cost: a matrix [[0, 1], [5, 0]] (rows "
			"the actual class, columns the decision), {ACTUAL: {DECIDED: cost}}, "
			"{false_positive: 1, false_negative: 5}, or {over: 2, under: 7} for numbers; "
			"not %s",
			shown(n, buf, sizeof buf));
	if (c.kind == CANVAS_COST_NONE)
		return;
	c.pos = n->pos;
	c.spec = json_object_get(x->o->block_json[CANVAS_DECISIONS], "cost");
	cv->decisions.cost = c;
}

static void check_predictions(cvx *x)
{
	static const char *const keys[] = {"latency_p99_ms", "mode"};
	const sl__ynode *m = block_map(x, CANVAS_MAKING_PREDICTIONS, keys, SL__ARRAY_LEN(keys));
	canvas *cv = &x->o->cv;
	const sl__ynode *n;

	cv->predictions.latency_p99_ms.pos = cv->blocks[CANVAS_MAKING_PREDICTIONS].pos;
	if (!m)
		return;
	bounds pos = {0, NAN, true, false};
	num_field(x, m, "making_predictions", "latency_p99_ms",
		  "the 99th percentile latency of one prediction in milliseconds, e.g. 50", pos,
		  &cv->predictions.latency_p99_ms);
	if ((n = str_field(x, m, "making_predictions", "mode", "online or batch")) &&
	    strcmp(n->text, "online") && strcmp(n->text, "batch")) {
		static const char *const modes[] = {"online", "batch"};
		char dym[300];
		sl__did_you_mean(dym, sizeof dym, n->text, modes, 2);
		problem(x, n->pos, "making_predictions.mode",
			"making_predictions.mode is online (a served model answers requests) or batch "
			"(sluice predict scores files), not '%.60s'%s%s%s",
			n->text, *dym ? " (" : "", dym, *dym ? ")" : "");
	}
}

/* A list of names from a fixed set (or one name); bit i of *out for names[i]. */
static void names_list(cvx *x, const sl__ynode *n, const char *path, const char *const *names,
		       size_t k, unsigned *out)
{
	const sl__ynode *one[1];
	const sl__ynode *const *items = (const sl__ynode *const *)n->kids;
	size_t count = n->n;
	char buf[120], list[200];
	size_t len = 0;

	list[0] = '\0';
	for (size_t i = 0; i < k; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
	if (n->kind == SL__Y_STR) {
		one[0] = n;
		items = one;
		count = 1;
	} else if (n->kind != SL__Y_SEQ) {
		problem(x, n->pos, path, "%s must be a list of %s, not %s", path, list,
			shown(n, buf, sizeof buf));
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const sl__ynode *it = items[i];
		size_t j;
		char ipath[180];
		snprintf(ipath, sizeof ipath, n->kind == SL__Y_SEQ ? "%s[%zu]" : "%s", path, i);
		if (it->kind != SL__Y_STR) {
			problem(x, it->pos, ipath, "%s must be one of %s, not %s", ipath, list,
				shown(it, buf, sizeof buf));
			continue;
		}
		for (j = 0; j < k && strcmp(it->text, names[j]); j++)
			;
		if (j == k) {
			char dym[300];
			sl__did_you_mean(dym, sizeof dym, it->text, names, k);
			problem(x, it->pos, ipath, "%s must be one of %s, not '%.60s'%s%s%s", ipath, list,
				it->text, *dym ? " (" : "", dym, *dym ? ")" : "");
		} else if (*out & (1u << j)) {
			problem(x, it->pos, ipath, "%s: '%s' is listed twice", path, it->text);
		} else {
			*out |= 1u << j;
		}
	}
}

static void check_building(cvx *x)
{
	static const char *const keys[] = {"pipeline", "cadence", "retrain_on", "auto_promote"};
	static const char *const triggers[] = {"drift", "decay", "cadence"};
	const sl__ynode *m = block_map(x, CANVAS_BUILDING_MODELS, keys, SL__ARRAY_LEN(keys));
	canvas_own *o = x->o;
	canvas *cv = &o->cv;
	const sl__ynode *n;
	char buf[120];

	cv->building.pipeline.pos = cv->building.cadence.pos = cv->building.retrain_on_pos =
		cv->building.auto_promote_pos = cv->blocks[CANVAS_BUILDING_MODELS].pos;
	if (!m)
		return;
	if ((n = str_field(x, m, "building_models", "pipeline",
			   "the retraining pipeline file, e.g. train.yaml"))) {
		cv->building.pipeline.s = n->text;
		cv->building.pipeline.pos = n->pos;
		o->pipeline_path = n->text[0] == '/' ? sl__strdup(n->text) : sl__path_join(o->dir, n->text);
		if (!o->pipeline_path)
			x->oom = true;
		cv->building.pipeline_path = o->pipeline_path;
	}
	if ((n = str_field(x, m, "building_models", "cadence",
			   "a cron expression in quotes, e.g. '0 3 * * 1' (03:00 UTC every Monday)"))) {
		cron_error ce;
		if (cron_parse(n->text, &cv->building.cron, &ce) == 0) {
			cv->building.cadence.s = n->text;
			cv->building.cadence.pos = n->pos;
		} else {
			problem(x, sl__ynode_pos_at(n, ce.off), "building_models.cadence",
				"building_models.cadence: %s", ce.msg);
		}
	}
	if ((n = sl__ymap_get(m, "retrain_on", NULL)) && n->kind != SL__Y_NULL) {
		unsigned bits = 0;
		names_list(x, n, "building_models.retrain_on", triggers, SL__ARRAY_LEN(triggers), &bits);
		cv->building.retrain_on = (bits & 1u ? CANVAS_ON_DRIFT : 0) |
					  (bits & 2u ? CANVAS_ON_DECAY : 0) |
					  (bits & 4u ? CANVAS_ON_CADENCE : 0);
		cv->building.retrain_on_given = true;
		cv->building.retrain_on_pos = n->pos;
	}
	if ((n = field(m, "auto_promote"))) {
		if (n->kind != SL__Y_BOOL) {
			problem(x, n->pos, "building_models.auto_promote",
				"building_models.auto_promote must be true (a retrained model that passes "
				"its gates replaces production) or false (a human promotes it), not %s",
				shown(n, buf, sizeof buf));
		} else {
			cv->building.auto_promote = n->b;
			cv->building.auto_promote_given = true;
			cv->building.auto_promote_pos = n->pos;
		}
	}
}

/* A list of metric names (any, live ones included), kept in order. */
static void check_live_metrics(cvx *x, const sl__ynode *n)
{
	canvas_own *o = x->o;
	char buf[120];
	size_t k = 0;

	if (n->kind != SL__Y_SEQ) {
		problem(x, n->pos, "live_monitoring.metrics",
			"live_monitoring.metrics must be a list of metric names, e.g. [accuracy, "
			"latency_p99_ms], not %s",
			shown(n, buf, sizeof buf));
		return;
	}
	o->metric_names = sl__calloc(n->n ? n->n : 1, sizeof *o->metric_names);
	if (!o->metric_names) {
		x->oom = true;
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		const sl__ynode *it = n->kids[i];
		char path[64];
		bool dup = false;
		snprintf(path, sizeof path, "live_monitoring.metrics[%zu]", i);
		if (!metric_name(x, it, path, false))
			continue;
		for (size_t j = 0; j < k && !dup; j++)
			dup = !strcmp(o->metric_names[j], it->text);
		if (dup)
			problem(x, it->pos, path, "%s: '%s' is listed twice", path, it->text);
		else
			o->metric_names[k++] = it->text;
	}
	o->cv.monitoring.metrics = o->metric_names;
	o->cv.monitoring.n_metrics = k;
	o->cv.monitoring.metrics_pos = n->pos;
}

/* The thresholds of one drift test, in validate's names (docs/steps/validate.md). */
static const struct drift_field {
	const char *name;
	bounds b;
	size_t off; /* into drift_opts; (size_t)-1 for share */
	const char *what;
} drift_fields[] = {
	{"share", {0, 1, true, false}, (size_t)-1,
	 "the share of columns that must drift for the window to count as drifted, in (0, 1]"},
	{"psi_threshold", {0, NAN, false, false}, offsetof(drift_opts, psi_threshold),
	 "the PSI at or above which a column drifted"},
	{"ks_pvalue", {0, 1, false, false}, offsetof(drift_opts, ks_pvalue),
	 "the KS p-value below which a numeric column drifted"},
	{"chi2_pvalue", {0, 1, false, false}, offsetof(drift_opts, chi2_pvalue),
	 "the chi-square p-value below which a categorical column drifted"},
	{"z_pvalue", {0, 1, false, false}, offsetof(drift_opts, z_pvalue),
	 "the Z-test p-value below which a two-valued column drifted"},
	{"js_threshold", {0, 1, false, false}, offsetof(drift_opts, js_threshold),
	 "the Jensen-Shannon distance at or above which a column drifted"},
	{"wasserstein_threshold", {0, NAN, false, false}, offsetof(drift_opts, wasserstein_threshold),
	 "the normalised Wasserstein distance at or above which a column drifted"},
};

static void check_drift(cvx *x, const sl__ynode *n)
{
	static const char *const keys[] = {"share",		    "psi_threshold", "ks_pvalue",
					   "chi2_pvalue",	    "z_pvalue",	     "js_threshold",
					   "wasserstein_threshold", "large_n",	     "numeric_test",
					   "categorical_test",	    "columns"};
	canvas_own *o = x->o;
	canvas *cv = &o->cv;
	const sl__ynode *v;
	char buf[120];

	if (n->kind != SL__Y_MAP) {
		problem(x, n->pos, "live_monitoring.drift",
			"live_monitoring.drift must be a mapping of thresholds, e.g. {share: 0.3, "
			"psi_threshold: 0.2}, not %s",
			shown(n, buf, sizeof buf));
		return;
	}
	cv->monitoring.drift_given = true;
	cv->monitoring.drift_pos = n->pos;
	for (size_t i = 0; i < sl__ynode_count(n); i++) {
		const sl__ynode *k = sl__ymap_key_at(n, i);
		size_t j;
		for (j = 0; j < SL__ARRAY_LEN(keys) && strcmp(k->text, keys[j]); j++)
			;
		if (j == SL__ARRAY_LEN(keys)) {
			char path[160], dym[300];
			join(path, sizeof path, "live_monitoring.drift", k->text);
			sl__did_you_mean(dym, sizeof dym, k->text, keys, SL__ARRAY_LEN(keys));
			problem(x, k->pos, path, "unknown key '%s' in live_monitoring.drift%s%s%s "
						 "(docs/canvas.md lists the thresholds)",
				k->text, *dym ? " (" : "", dym, *dym ? ")" : "");
		}
	}
	for (size_t i = 0; i < SL__ARRAY_LEN(drift_fields); i++) {
		const struct drift_field *f = &drift_fields[i];
		canvas_num num = {0};
		num_field(x, n, "live_monitoring.drift", f->name, f->what, f->b, &num);
		if (!num.given)
			continue;
		if (f->off == (size_t)-1)
			cv->monitoring.drift_share = num;
		else
			*(double *)(void *)((char *)&cv->monitoring.drift + f->off) = num.v;
	}
	canvas_num large = {0};
	bounds nonneg_int = {0, 1e15, false, true};
	num_field(x, n, "live_monitoring.drift", "large_n",
		  "the reference size from which distances decide instead of p-values", nonneg_int,
		  &large);
	if (large.given)
		cv->monitoring.drift.large_n = (uint64_t)large.v;
	static const struct {
		const char *key, *choices[4];
		size_t off;
	} tests[] = {
		{"numeric_test", {"auto", "ks", "psi", "wasserstein"}, offsetof(drift_opts, numeric_test)},
		{"categorical_test", {"auto", "chi2", "js", "psi"}, offsetof(drift_opts, categorical_test)},
	};
	for (size_t i = 0; i < SL__ARRAY_LEN(tests); i++) {
		char path[80];
		snprintf(path, sizeof path, "live_monitoring.drift.%s", tests[i].key);
		if (!(v = str_field(x, n, "live_monitoring.drift", tests[i].key, "a test name")))
			continue;
		size_t j;
		for (j = 0; j < 4 && strcmp(v->text, tests[i].choices[j]); j++)
			;
		drift_test t;
		if (j == 4 || !drift_test_parse(v->text, &t)) {
			char dym[300];
			sl__did_you_mean(dym, sizeof dym, v->text, tests[i].choices, 4);
			problem(x, v->pos, path, "%s must be one of %s, %s, %s, %s, not '%.60s'%s%s%s",
				path, tests[i].choices[0], tests[i].choices[1], tests[i].choices[2],
				tests[i].choices[3], v->text, *dym ? " (" : "", dym, *dym ? ")" : "");
			continue;
		}
		*(drift_test *)(void *)((char *)&cv->monitoring.drift + tests[i].off) = t;
	}
	if ((v = field(n, "columns"))) {
		if (v->kind != SL__Y_SEQ) {
			problem(x, v->pos, "live_monitoring.drift.columns",
				"live_monitoring.drift.columns must be a list of column names, not %s",
				shown(v, buf, sizeof buf));
			return;
		}
		o->drift_columns = sl__calloc(v->n ? v->n : 1, sizeof *o->drift_columns);
		if (!o->drift_columns) {
			x->oom = true;
			return;
		}
		size_t k = 0;
		for (size_t i = 0; i < v->n; i++) {
			const sl__ynode *it = v->kids[i];
			char path[80];
			snprintf(path, sizeof path, "live_monitoring.drift.columns[%zu]", i);
			if (it->kind != SL__Y_STR || !it->len) {
				problem(x, it->pos, path, "%s must be a column name, not %s", path,
					shown(it, buf, sizeof buf));
				continue;
			}
			o->drift_columns[k++] = it->text;
		}
		cv->monitoring.drift_columns = o->drift_columns;
		cv->monitoring.n_drift_columns = k;
	}
}

/* The name a rule's state is kept by: its `name`, else "METRIC>THRESHOLD" (or '<'). */
const char *canvas_alert_name(const canvas_alert *r, char *buf, size_t size)
{
	if (r->name)
		return r->name;
	snprintf(buf, size, "%s%s%g", r->metric, r->above ? ">" : "<", r->threshold);
	return buf;
}

/*
 * A list of alert rules at n, named base in messages: the one check both
 * canvas.yaml's and sluice.yaml's rules go through. The rules without a
 * problem go into *out (n_alloc slots, the caller's), *out_n of them.
 */
static void alerts_list(cvx *x, const sl__ynode *n, const char *base, canvas_alert **out,
			size_t *out_n)
{
	static const char *const keys[] = {"metric",  "above",   "below",	"for",
					   "severity", "name",	 "command", "webhook",
					   "model",    "description"};
	char buf[120];
	size_t k = 0;

	*out = NULL;
	*out_n = 0;
	if (n->kind != SL__Y_SEQ) {
		problem(x, n->pos, base,
			"%s must be a list of rules, e.g. [{metric: error_rate, above: 0.01}], not %s",
			base, shown(n, buf, sizeof buf));
		return;
	}
	*out = sl__calloc(n->n ? n->n : 1, sizeof **out);
	if (!*out) {
		x->oom = true;
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		const sl__ynode *r = n->kids[i], *v;
		canvas_alert a;
		char path[128];
		size_t before = x->n;

		snprintf(path, sizeof path, "%s[%zu]", base, i);
		memset(&a, 0, sizeof a);
		a.pos = r->pos;
		a.windows = 1;
		if (r->kind != SL__Y_MAP) {
			problem(x, r->pos, path, "%s must be a rule such as {metric: latency_p99_ms, "
						 "above: 50}, not %s",
				path, shown(r, buf, sizeof buf));
			continue;
		}
		for (size_t j = 0; j < sl__ynode_count(r); j++) {
			const sl__ynode *key = sl__ymap_key_at(r, j);
			size_t q;
			for (q = 0; q < SL__ARRAY_LEN(keys) && strcmp(key->text, keys[q]); q++)
				;
			if (q == SL__ARRAY_LEN(keys)) {
				char kp[160], dym[300];
				join(kp, sizeof kp, path, key->text);
				sl__did_you_mean(dym, sizeof dym, key->text, keys, SL__ARRAY_LEN(keys));
				problem(x, key->pos, kp, "unknown key '%s' in an alert rule%s%s%s (its keys: "
							 "metric, above or below, for, severity, name, "
							 "command, webhook, model)",
					key->text, *dym ? " (" : "", dym, *dym ? ")" : "");
			}
		}
		char mpath[160];
		snprintf(mpath, sizeof mpath, "%s.metric", path);
		if (!(v = field(r, "metric")))
			problem(x, r->pos, mpath, "%s: an alert rule needs a metric, e.g. {metric: "
						  "error_rate, above: 0.01}",
				path);
		else if (metric_name(x, v, mpath, false))
			a.metric = v->text;
		const sl__ynode *ab = field(r, "above"), *be = field(r, "below");
		if (ab && be)
			problem(x, be->pos, path, "%s: give above or below, not both (two rules alert on "
						  "a band)",
				path);
		else if (!ab && !be)
			problem(x, r->pos, path, "%s: an alert rule needs a threshold: above: X (alerts "
						 "when the metric rises past X) or below: X",
				path);
		else {
			canvas_num t = {0};
			bounds any = {NAN, NAN, false, false};
			num_field(x, r, path, ab ? "above" : "below", "the threshold", any, &t);
			a.above = ab != NULL;
			a.threshold = t.v;
		}
		canvas_num w = {0};
		bounds windows = {1, 1e6, false, true};
		num_field(x, r, path, "for", "how many windows in a row the condition must hold, 1 or "
					     "more",
			  windows, &w);
		if (w.given)
			a.windows = (int64_t)w.v;
		if ((v = str_field(x, r, path, "severity", "warning or critical"))) {
			if (!strcmp(v->text, "critical"))
				a.severity = CANVAS_CRITICAL;
			else if (strcmp(v->text, "warning") && strcmp(v->text, "warn"))
				problem(x, v->pos, path, "%s.severity is warning or critical, not '%.60s'",
					path, v->text);
		}
		if ((v = str_field(x, r, path, "name", "a short name for the rule")))
			a.name = v->text;
		if ((v = str_field(x, r, path, "model", "the name of a registered model")))
			a.model = v->text;
		if ((v = str_field(x, r, path, "command", "a shell command run when the alert fires")))
			a.command = v->text;
		if ((v = str_field(x, r, path, "webhook", "an http:// or https:// URL")) &&
		    !sl__str_has_prefix(v->text, "http://") && !sl__str_has_prefix(v->text, "https://"))
			problem(x, v->pos, path, "%s.webhook must be an http:// or https:// URL, not "
						 "'%.80s'",
				path, v->text);
		else if (v)
			a.webhook = v->text;
		if (x->n != before)
			continue;
		/* A rule's state is kept by its name (per model): two rules sharing one would mix it. */
		char nb[2][96];
		const char *name = canvas_alert_name(&a, nb[0], sizeof nb[0]);
		size_t j;
		for (j = 0; j < k; j++)
			if (!strcmp(name, canvas_alert_name(&(*out)[j], nb[1], sizeof nb[1])) &&
			    (!a.model || !(*out)[j].model || !strcmp(a.model, (*out)[j].model)))
				break;
		if (j < k) {
			problem(x, r->pos, path, "%s: another rule (line %d) is called '%s' too; give "
						 "one of them another name",
				path, (*out)[j].pos.line, name);
			continue;
		}
		(*out)[k++] = a;
	}
	*out_n = k;
}

int canvas_alerts_check(const sl__ynode *n, const char *path, canvas_alert **out, size_t *out_n,
			canvas_problem **out_problems, size_t *out_np)
{
	cvx x;

	memset(&x, 0, sizeof x);
	alerts_list(&x, n, path, out, out_n);
	sort_problems(x.probs, x.n);
	if (x.oom) {
		sl__free(*out);
		sl__free(x.probs);
		*out = NULL;
		*out_n = 0;
		*out_problems = NULL;
		*out_np = 0;
		return sl__oom();
	}
	*out_problems = x.probs;
	*out_np = x.n;
	return 0;
}

static void check_alerts(cvx *x, const sl__ynode *n)
{
	canvas_own *o = x->o;
	size_t k = 0;

	alerts_list(x, n, "live_monitoring.alert", &o->alerts, &k);
	o->cv.monitoring.alerts = o->alerts;
	o->cv.monitoring.n_alerts = k;
	o->cv.monitoring.alert_pos = n->pos;
}

static void check_monitoring(cvx *x)
{
	static const char *const keys[] = {"window", "metrics", "drift", "alert"};
	const sl__ynode *m = block_map(x, CANVAS_LIVE_MONITORING, keys, SL__ARRAY_LEN(keys));
	canvas *cv = &x->o->cv;
	const sl__ynode *n;

	cv->monitoring.window.pos = cv->monitoring.drift_share.pos = cv->monitoring.metrics_pos =
		cv->monitoring.drift_pos = cv->monitoring.alert_pos = cv->blocks[CANVAS_LIVE_MONITORING].pos;
	if (!m)
		return;
	bounds window = {1, 1e9, false, true};
	num_field(x, m, "live_monitoring", "window", "the requests in one monitoring window, e.g. 1000",
		  window, &cv->monitoring.window);
	if ((n = sl__ymap_get(m, "metrics", NULL)) && n->kind != SL__Y_NULL)
		check_live_metrics(x, n);
	if ((n = sl__ymap_get(m, "drift", NULL)) && !unset(n))
		check_drift(x, n);
	if ((n = sl__ymap_get(m, "alert", NULL)) && n->kind != SL__Y_NULL)
		check_alerts(x, n);
}

/* ---- loading ------------------------------------------------------------------------ */

/* The top level: a mapping of the ten blocks. */
static void check_blocks(cvx *x)
{
	canvas_own *o = x->o;
	const sl__ynode *root = sl__ydoc_root(o->doc);
	char buf[120];

	if (!root || root->kind == SL__Y_NULL)
		return;
	if (root->kind != SL__Y_MAP) {
		problem(x, root->pos, "", "a canvas is a mapping of its ten blocks (value_proposition, "
					  "data_sources, ... live_monitoring), not %s",
			shown(root, buf, sizeof buf));
		return;
	}
	for (size_t i = 0; i < sl__ynode_count(root); i++) {
		const sl__ynode *k = sl__ymap_key_at(root, i), *v = sl__ymap_val_at(root, i);
		size_t b;
		for (b = 0; b < CANVAS_N_BLOCKS && strcmp(k->text, block_names[b]); b++)
			;
		if (b == CANVAS_N_BLOCKS) {
			unknown_block(x, k);
			continue;
		}
		canvas_block *blk = &o->cv.blocks[b];
		sl__yjson jo;
		json_t *j = NULL;
		blk->given = true;
		blk->empty = node_empty(v);
		blk->pos = k->pos;
		memset(&jo, 0, sizeof jo);
		jo.flags = SL__YJSON_NONFINITE_TEXT;
		if (sl__yaml_json(o->doc, v, &jo, &j)) {
			if (sl__ydoc_rc(o->doc) == SL_ENOMEM) {
				x->oom = true;
				return;
			}
			problem(x, sl__ydoc_errpos(o->doc), block_names[b], "%s: %s", block_names[b],
				sl__ydoc_errmsg(o->doc));
			sl__ydoc_clear(o->doc);
			continue;
		}
		o->block_json[b] = j;
		blk->json = j;
	}
	check_offline(x);
	check_decisions(x);
	check_predictions(x);
	check_building(x);
	check_monitoring(x);
}

void canvas_free(canvas *cv)
{
	canvas_own *o = (canvas_own *)cv;

	if (!o)
		return;
	for (size_t i = 0; i < CANVAS_N_BLOCKS; i++)
		json_decref(o->block_json[i]);
	sl__ydoc_free(o->doc);
	sl__free(o->file);
	sl__free(o->dir);
	sl__free(o->pipeline_path);
	sl__free(o->metric_names);
	sl__free(o->drift_columns);
	sl__free(o->alerts);
	sl__free(o);
}

/* In file order (stable: problems at one place keep the order they were found in). */
static void sort_problems(canvas_problem *p, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		canvas_problem t = p[i];
		size_t j = i;
		while (j > 0 && (p[j - 1].pos.line > t.pos.line ||
				 (p[j - 1].pos.line == t.pos.line && p[j - 1].pos.col > t.pos.col))) {
			p[j] = p[j - 1];
			j--;
		}
		p[j] = t;
	}
}

/* The defaults of a canvas that gives nothing. */
static void defaults(canvas *cv)
{
	for (size_t b = 0; b < CANVAS_N_BLOCKS; b++)
		cv->blocks[b].empty = true;
	cv->monitoring.window.v = CANVAS_DEFAULT_WINDOW;
	cv->monitoring.drift_share.v = CANVAS_DEFAULT_DRIFT_SHARE;
	drift_opts_default(&cv->monitoring.drift);
}

int canvas_check(const char *text, size_t len, const char *name, const char *dir, canvas **out,
		 canvas_problem **out_problems, size_t *out_n)
{
	canvas_own *o;
	sl__yaml_opts yo;
	sl__yerr ye;
	cvx x;
	int rc;

	*out = NULL;
	*out_problems = NULL;
	*out_n = 0;
	memset(&x, 0, sizeof x);
	o = sl__calloc(1, sizeof *o);
	if (!o)
		return sl__oom();
	x.o = o;
	o->file = sl__strdup(name ? name : "canvas.yaml");
	o->dir = sl__strdup(dir ? dir : ".");
	if (!o->file || !o->dir) {
		canvas_free(&o->cv);
		return sl__oom();
	}
	o->cv.file = o->file;
	o->cv.dir = o->dir;
	defaults(&o->cv);
	memset(&yo, 0, sizeof yo);
	yo.name = o->file;
	yo.what = "a canvas";
	yo.err = &ye;
	rc = sl__yaml_parse(text ? text : "", text ? len : 0, &yo, &o->doc);
	if (rc == SL_ENOMEM) {
		canvas_free(&o->cv);
		return rc;
	}
	if (rc) {
		problem(&x, ye.pos, "", "%s", ye.msg);
		canvas_free(&o->cv);
		if (x.oom)
			return sl__oom();
		*out_problems = x.probs;
		*out_n = x.n;
		sl__err_clear();
		return 0;
	}
	check_blocks(&x);
	sort_problems(x.probs, x.n);
	if (x.oom) {
		sl__free(x.probs);
		canvas_free(&o->cv);
		return sl__oom();
	}
	*out = &o->cv;
	*out_problems = x.probs;
	*out_n = x.n;
	return 0;
}

/* The first problem as this thread's error ("FILE:LINE:COL: message"). */
static int raise_first(const char *file, const canvas_problem *p)
{
	if (p->pos.line > 0)
		return sl__err(SL_EINVAL, "%s:%d:%d: %s", file, p->pos.line, p->pos.col, p->msg);
	return sl__err(SL_EINVAL, "%s: %s", file, p->msg);
}

int canvas_parse(const char *text, size_t len, const char *name, const char *dir, canvas **out)
{
	canvas_problem *probs;
	canvas *cv;
	size_t n;
	int rc;

	if (!out)
		return sl__err(SL_EINVAL, "canvas_parse: out is NULL");
	*out = NULL;
	if ((rc = canvas_check(text, len, name, dir, &cv, &probs, &n)))
		return rc;
	if (n) {
		/* A YAML syntax error keeps the loader's code, as every file's does. */
		rc = raise_first(name ? name : "canvas.yaml", &probs[0]);
		if (!cv)
			rc = SL_EPARSE;
		sl__free(probs);
		canvas_free(cv);
		return rc;
	}
	sl__free(probs);
	*out = cv;
	return 0;
}

/*
 * The name a file gets in messages: relative to the working directory when
 * it lies below it ("canvas.yaml:12:5", "sub/canvas.yaml:3:1"), else as given.
 */
static char *display_name(const char *path)
{
	char cwd[4096];
	size_t n;

	if (path[0] == '/' && getcwd(cwd, sizeof cwd)) {
		n = strlen(cwd);
		if (n > 1 && !strncmp(path, cwd, n) && path[n] == '/')
			return sl__strdup(path + n + 1);
	}
	return sl__strdup(path);
}

static int read_canvas(const char *path, sl__buf *b, char **name, char **dir)
{
	int rc;

	*name = *dir = NULL;
	if (!path)
		return sl__err(SL_EINVAL, "no canvas file named");
	if (!sl__is_file(path))
		return sl__err(SL_ENOENT, "%s: no such file (sluice init writes one; docs/canvas.md "
					  "describes it)",
			       path);
	if ((rc = sl__read_file(path, SL__YAML_MAX_FILE, b)))
		return rc;
	*name = display_name(path);
	*dir = sl__path_dir(path);
	if (!*name || !*dir) {
		sl__free(*name);
		sl__free(*dir);
		sl__buf_free(b);
		return sl__oom();
	}
	return 0;
}

int canvas_load(const char *path, canvas **out)
{
	char *name, *dir;
	sl__buf b;
	int rc;

	if (!out)
		return sl__err(SL_EINVAL, "canvas_load: out is NULL");
	*out = NULL;
	if ((rc = read_canvas(path, &b, &name, &dir)))
		return rc;
	rc = canvas_parse(b.data ? b.data : "", b.len, name, dir, out);
	sl__buf_free(&b);
	sl__free(name);
	sl__free(dir);
	return rc;
}

int canvas_check_file(const char *path, canvas **out, canvas_problem **out_problems, size_t *out_n)
{
	char *name, *dir;
	sl__buf b;
	int rc;

	*out = NULL;
	*out_problems = NULL;
	*out_n = 0;
	if ((rc = read_canvas(path, &b, &name, &dir)))
		return rc;
	rc = canvas_check(b.data ? b.data : "", b.len, name, dir, out, out_problems, out_n);
	sl__buf_free(&b);
	sl__free(name);
	sl__free(dir);
	return rc;
}

int canvas_find(const char *start_dir, char **out_path)
{
	const char *home = getenv("SLUICE_HOME");
	char *dir;

	*out_path = NULL;
	dir = sl__path_abs(home && *home ? home : start_dir ? start_dir : ".");
	while (dir) {
		char *state = sl__path_join(dir, ".sluice"), *up;
		bool found = state && sl__is_dir(state);
		sl__free(state);
		if (found) {
			char *path = sl__path_join(dir, "canvas.yaml");
			sl__free(dir);
			if (!path)
				return sl__oom();
			if (sl__is_file(path))
				*out_path = path;
			else
				sl__free(path);
			return 0;
		}
		if ((home && *home) || !strcmp(dir, "/")) {
			sl__free(dir);
			return 0;
		}
		up = sl__path_dir(dir);
		sl__free(dir);
		dir = up;
	}
	return sl__oom();
}

/* ---- for consumers ------------------------------------------------------------------- */

void canvas_where(const canvas *cv, sl__ypos pos, char *buf, size_t size)
{
	if (pos.line > 0)
		snprintf(buf, size, "%s:%d:%d", cv->file, pos.line, pos.col);
	else
		snprintf(buf, size, "%s", cv->file);
}

sl__ypos canvas_pos(const canvas *cv, const char *path)
{
	const canvas_own *o = (const canvas_own *)cv;
	const sl__ynode *root = o ? sl__ydoc_root(o->doc) : NULL;
	const sl__ynode *n = root && path ? sl__ynode_at(root, path) : NULL;
	sl__ypos none = {0, 0};

	return n ? n->pos : none;
}

int(canvas_err)(const canvas *cv, int code, sl__ypos pos, const char *fmt, ...)
{
	char where[512], msg[SL__ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	canvas_where(cv, pos, where, sizeof where);
	return sl__err(code, "%s: %s", where, msg);
}

bool canvas_meets_min(const canvas *cv, double value)
{
	if (!cv->offline.min.given || !cv->offline.info)
		return true;
	if (isnan(value))
		return false;
	return cv->offline.info->direction < 0 ? value <= cv->offline.min.v
					       : value >= cv->offline.min.v;
}

int canvas_next_retrain(const canvas *cv, int64_t after, int64_t *out)
{
	if (!cv->building.cadence.s)
		return sl__err(SL_ENOENT, "%s sets no building_models.cadence", cv->file);
	return cron_next(&cv->building.cron, after, out);
}

/* {"value": v, "given": g, "line": L, "col": C}; steals v. */
static json_t *field_json(json_t *v, bool given, sl__ypos pos)
{
	json_t *o = json_object();

	if (!o) {
		json_decref(v); /* stolen either way */
		return NULL;
	}
	if (!v || json_object_set_new(o, "value", v) ||
	    json_object_set_new(o, "given", json_boolean(given)))
		goto fail;
	if (given && pos.line > 0 &&
	    (json_object_set_new(o, "line", json_integer(pos.line)) ||
	     json_object_set_new(o, "col", json_integer(pos.col))))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *num_json(const canvas_num *n, bool has_default)
{
	return field_json(n->given || has_default ? json_real(n->v) : json_null(), n->given, n->pos);
}

static json_t *str_json(const canvas_str *s)
{
	return field_json(s->s ? json_string(s->s) : json_null(), s->s != NULL, s->pos);
}

static json_t *names_json(const char *const *names, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(names[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *drift_json(const canvas *cv)
{
	const drift_opts *d = &cv->monitoring.drift;
	json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:s, s:s}", "share",
			      cv->monitoring.drift_share.v, "psi_threshold", d->psi_threshold,
			      "ks_pvalue", d->ks_pvalue, "chi2_pvalue", d->chi2_pvalue, "z_pvalue",
			      d->z_pvalue, "js_threshold", d->js_threshold, "wasserstein_threshold",
			      d->wasserstein_threshold, "large_n", (json_int_t)d->large_n,
			      "numeric_test", drift_test_name(d->numeric_test), "categorical_test",
			      drift_test_name(d->categorical_test));

	if (o && cv->monitoring.drift_columns &&
	    json_object_set_new(o, "columns", names_json(cv->monitoring.drift_columns,
							 cv->monitoring.n_drift_columns))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *alerts_json(const canvas *cv)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < cv->monitoring.n_alerts; i++) {
		const canvas_alert *r = &cv->monitoring.alerts[i];
		json_t *o = json_pack("{s:s, s:f, s:I, s:s, s:i, s:i}", "metric", r->metric,
				      r->above ? "above" : "below", r->threshold, "for",
				      (json_int_t)r->windows, "severity", canvas_severity_name(r->severity),
				      "line", r->pos.line, "col", r->pos.col);
		if (o && ((r->name && json_object_set_new(o, "name", json_string(r->name))) ||
			  (r->model && json_object_set_new(o, "model", json_string(r->model))) ||
			  (r->command && json_object_set_new(o, "command", json_string(r->command))) ||
			  (r->webhook && json_object_set_new(o, "webhook", json_string(r->webhook))))) {
			json_decref(o);
			o = NULL;
		}
		if (!o || json_array_append_new(a, o)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *retrain_on_json(unsigned bits)
{
	static const char *const names[] = {"drift", "decay", "cadence"};
	const char *on[3];
	size_t n = 0;

	for (size_t i = 0; i < 3; i++)
		if (bits & (1u << i))
			on[n++] = names[i];
	return names_json(on, n);
}

int canvas_json(const canvas *cv, json_t **out)
{
	json_t *o, *blocks, *x;
	json_t *cost;
	int bad = 0;

	*out = NULL;
	cost = cv->decisions.cost.kind != CANVAS_COST_NONE ? json_deep_copy(cv->decisions.cost.spec)
							   : json_null();
	x = field_json(cost, cv->decisions.cost.kind != CANVAS_COST_NONE, cv->decisions.cost.pos);
	if (x)
		bad |= json_object_set_new(x, "kind",
					   json_string(canvas_cost_kind_name(cv->decisions.cost.kind)));
	o = json_pack("{s:s, s:{s:o, s:o}, s:{s:o, s:o}, s:{s:o}, s:{s:o, s:o, s:o, s:o}, "
		      "s:{s:o, s:o, s:o, s:o}}",
		      "file", cv->file,
		      "offline_evaluation", "metric", str_json(&cv->offline.metric), "min",
		      num_json(&cv->offline.min, false),
		      "decisions", "cost", x, "value", num_json(&cv->decisions.value, false),
		      "making_predictions", "latency_p99_ms",
		      num_json(&cv->predictions.latency_p99_ms, false),
		      "building_models", "pipeline", str_json(&cv->building.pipeline), "cadence",
		      str_json(&cv->building.cadence), "retrain_on",
		      field_json(retrain_on_json(cv->building.retrain_on), cv->building.retrain_on_given,
				 cv->building.retrain_on_pos),
		      "auto_promote",
		      field_json(json_boolean(cv->building.auto_promote),
				 cv->building.auto_promote_given, cv->building.auto_promote_pos),
		      "live_monitoring", "window", num_json(&cv->monitoring.window, true), "metrics",
		      field_json(names_json(cv->monitoring.metrics, cv->monitoring.n_metrics),
				 cv->monitoring.metrics != NULL, cv->monitoring.metrics_pos),
		      "drift",
		      field_json(drift_json(cv), cv->monitoring.drift_given, cv->monitoring.drift_pos),
		      "alert",
		      field_json(alerts_json(cv), cv->monitoring.alerts != NULL,
				 cv->monitoring.alert_pos));
	blocks = json_object();
	for (size_t b = 0; o && blocks && b < CANVAS_N_BLOCKS; b++) {
		const canvas_block *blk = &cv->blocks[b];
		json_t *bj = json_pack("{s:b, s:b, s:b, s:O?}", "given", blk->given, "empty", blk->empty,
				       "acted_on", canvas_block_acted_on((canvas_block_id)b), "value",
				       blk->json);
		if (bj && blk->given)
			bad |= json_object_set_new(bj, "line", json_integer(blk->pos.line)) |
			       json_object_set_new(bj, "col", json_integer(blk->pos.col));
		bad |= !bj || json_object_set_new(blocks, block_names[b], bj);
	}
	if (!o || !blocks || bad) {
		json_decref(o);
		json_decref(blocks);
		return sl__oom();
	}
	if (json_object_set_new(o, "blocks", blocks)) {
		json_decref(o);
		return sl__oom();
	}
	*out = o;
	return 0;
}
