/*
 * Model evaluation: the report the `evaluate` step writes and the gates
 * (`test`), the registry and `sluice artifacts export --format html` read.
 * Prefix ml_ (the interface) and ev_ (eval_int.h, between its files).
 *
 *   eval.c         preparing the rows, the metrics of every task, curves,
 *                  the baseline and champion, the verdict; ml_evaluate
 *   eval_cost.c    business cost: matrices, over/under, the cost-minimising
 *                  threshold, ROI
 *   eval_fair.c    fairness by group and permutation importance (both
 *                  re-score subsets or perturbed copies of the test rows)
 *   report_html.c  the report as one self-contained HTML page
 *
 * The report's JSON shape is documented in docs/steps/evaluate.md; the
 * fields the gates read are stable: "metrics", "baseline", "champion"
 * (flat objects name -> number, the same names in each), "cost",
 * "fairness" (gaps by name), "verdict_hint".
 */
#ifndef SLUICE_ML_EVAL_H
#define SLUICE_ML_EVAL_H

#include "ml/ml.h"

#define ML_REPORT_KIND "evaluation_report"
#define ML_REPORT_FORMAT 1

/* The names a main metric may have (the step's `metric` choices; which of
 * them apply depends on the model's task). */
#define ML_EVAL_METRICS                                                                   \
	"accuracy balanced_accuracy precision recall f1 precision_macro recall_macro "      \
	"f1_macro roc_auc pr_auc logloss brier ece mae rmse mape wape r2 mase smape "       \
	"precision_at_k recall_at_k cost"

typedef struct ml_eval_opts {
	/* The column of the test rows holding the truth; NULL: the model's
	 * target. For anomaly models, the labels (optional). */
	const char *target;
	/* The main metric (it decides the verdict and importance); NULL: the
	 * task's default (binary roc_auc, multiclass f1_macro, regression
	 * rmse, anomaly roc_auc, forecast mase). metric_source says where it came from
	 * ("with", "canvas") for the report. */
	const char *metric;
	const char *metric_source;
	double metric_min;     /* canvas offline_evaluation.min; NaN: none */
	const char *positive;  /* binary: the positive class label; anomaly:
				* the anomalous label value. NULL: the default */
	double threshold;      /* binary: positive iff P(positive) >= it; NaN: 0.5 */
	size_t k;              /* anomaly: precision and recall at k; 0: the number
				* of labelled anomalies */
	const json_t *cost;    /* cost spec (docs/steps/evaluate.md) or NULL */
	const char *cost_source;
	double value;          /* value of one correct decision; NaN: none */
	const char *const *sensitive; /* columns of the test rows to compare groups by */
	size_t n_sensitive;
	bool importance;       /* permutation importance */
	unsigned repeats;      /* permutations per feature (>= 1) */
	uint64_t seed;
	unsigned threads;      /* 0: one per CPU */
	bool latency;          /* time single-row predictions (the report then
				* differs between runs: opt-in) */
	const char *time_col;  /* forecasts: the test rows' time column; NULL:
				* the model's */
	/* The rows the champion is scored on, when its own transform makes
	 * them differently from the model's (the same rows raw, through the
	 * champion bundle's transform; a filter may keep fewer); NULL: the
	 * test rows. They hold the truth under the same target name. */
	const ds_table *champion_rows;
} ml_eval_opts;

/* Defaults for every field (NaN where NaN means none). */
void ml_eval_opts_init(ml_eval_opts *o);

/*
 * Evaluates model m on the rows of test (and champion, may be NULL, on the
 * same rows, or on o->champion_rows) and builds the report (*out, a new JSON object). Every
 * refusal is SL_EINVAL with a message naming the column (and row) and the
 * fix: test columns that do not match the signature, a missing target, a
 * NaN or infinite value, a cost matrix of the wrong shape, a sensitive
 * column that is not there.
 */
int ml_evaluate(const ml_model *m, const ml_model *champion, const ds_table *test,
		const ml_eval_opts *o, json_t **out);

/*
 * Every name the report's "metrics" may hold (the gates' `metric:` choices):
 * the main metrics plus what is reported beside them.
 */
#define ML_REPORT_METRICS ML_EVAL_METRICS " coverage80 coverage95 anomaly_rate rows"

/*
 * Whether more of metric name is better: +1 (roc_auc, r2, ...), -1 (rmse,
 * logloss, cost, ...), 0 when neither (rows, anomaly_rate, coverage80: a
 * coverage is best near its level). Returns false for an unknown name.
 */
bool ml_eval_metric_direction(const char *name, int *out_direction);

/* True when j is an evaluation report (its "kind"). */
bool ml_report_is(const json_t *j);

/*
 * The report as one self-contained HTML page (inline CSS and SVG, no
 * script, no external URL; every string from the report escaped). *out is
 * newly allocated (sl__free).
 */
int ml_report_html(const json_t *report, char **out);

#endif
