/*
 * What the evaluation files share (eval.h lists them). Prefix ev_.
 *
 * One ev_ctx per model scored (the model, the champion): its coded test
 * rows, truths and predictions, and the decision rule. The baseline is
 * scored through the model's context, since it shares its signature.
 */
#ifndef SLUICE_ML_EVAL_INT_H
#define SLUICE_ML_EVAL_INT_H

#include "ml/eval.h"

/* The metrics evaluate computes. Order is the order of the report. */
typedef enum ev_metric {
	EV_ACCURACY,
	EV_BALANCED_ACCURACY,
	EV_PRECISION,
	EV_RECALL,
	EV_F1,
	EV_PRECISION_MACRO,
	EV_RECALL_MACRO,
	EV_F1_MACRO,
	EV_ROC_AUC,
	EV_PR_AUC,
	EV_LOGLOSS,
	EV_BRIER,
	EV_ECE,
	EV_MAE,
	EV_RMSE,
	EV_MAPE,
	EV_WAPE,
	EV_R2,
	EV_MASE,
	EV_SMAPE,
	EV_COVERAGE80,
	EV_COVERAGE95,
	EV_PRECISION_AT_K,
	EV_RECALL_AT_K,
	EV_ANOMALY_RATE,
	EV_COST,
	EV_ROWS,
	/* per group only (fairness) */
	EV_SELECTION_RATE,
	EV_TPR,
	EV_FPR,
	EV_N_METRICS
} ev_metric;

/* Tasks a metric applies to, as bits. */
#define EV_T_BIN (1u << 0)
#define EV_T_MULTI (1u << 1)
#define EV_T_REG (1u << 2)
#define EV_T_ANOM (1u << 3)      /* anomaly models with labels */
#define EV_T_ANOM_NOLAB (1u << 4) /* anomaly models without labels */
#define EV_T_GROUP (1u << 5)     /* reported per group only */
#define EV_T_FC (1u << 6)        /* forecasts (from ml_forecast_evaluate) */

typedef struct ev_metric_info {
	const char *name;
	int direction; /* +1 higher is better, -1 lower is better, 0 neither */
	unsigned tasks;
} ev_metric_info;

extern const ev_metric_info ev_metrics[EV_N_METRICS];

/* A metric by name (-1 when unknown). */
int ev_metric_find(const char *name);

typedef struct ev_scores {
	double v[EV_N_METRICS]; /* NaN: undefined or not computed */
} ev_scores;

typedef struct ev_cost {
	bool set;
	bool matrix;       /* a matrix over decisions (classes, or normal/anomaly) */
	size_t k;
	double *m;         /* k x k: rows actual, columns decided */
	double over, under; /* numbers: per unit of over- and under-prediction */
	bool has_nothing;  /* matrix: a decision that means doing nothing */
	size_t nothing;    /* its index */
	const char *source;
} ev_cost;

typedef struct ev_ctx {
	const ml_eval_opts *o;
	const ml_model *m;
	const ds_table *t;
	ml_task task;
	unsigned tbit;     /* EV_T_* of this evaluation */
	size_t n, p, k;    /* rows, features, outputs per row */
	size_t n_dec;      /* decisions: classes, 2 for anomaly, 0 for numbers */
	double *X;         /* n x p, as the model reads them */
	double *y;         /* truths: class index, number, 0/1 anomaly; NULL: none */
	double *P;         /* n x k predictions */
	size_t pos;        /* binary: the positive class */
	double threshold;
	size_t at_k;       /* anomaly: k of precision at k */
	ev_metric main;
	bool main_set;     /* a main metric applies (not anomaly without labels) */
	ev_cost cost;
	json_t *fc;        /* forecasts: ml_forecast_evaluate's report (owned) */
	json_t *notes;     /* array of strings for the report */
} ev_ctx;

/* Per row, the decision the predictions P imply: a class index, 0/1
 * (anomaly flag) or the predicted number. */
void ev_decide(const ev_ctx *e, const double *P, size_t n, double *out);
/* The ranking score of a row (binary: P(positive); anomaly: the score). */
double ev_score_of(const ev_ctx *e, const double *P, size_t i);
/* Whether truth y is "positive" (binary: the positive class; anomaly: 1). */
static inline bool ev_is_pos(const ev_ctx *e, double y)
{
	return e->task == ML_BINARY ? y == (double)e->pos : y > 0.5;
}

/* Every metric of predictions P (n rows) against truths y under e's rule. */
int ev_scores_of(const ev_ctx *e, const double *y, const double *P, size_t n, ev_scores *out);
/* The task's metrics as a flat object (undefined ones left out). */
int ev_scores_json(const ev_ctx *e, const ev_scores *s, json_t **out);

/* The text of row i of column j as labels are written (bool true/false,
 * numbers shortest, timestamps ISO 8601); NULL for a null. buf holds
 * DS_TS_BUF + DS_F64_BUF bytes. */
const char *ev_cell_text(const ds_table *t, size_t j, size_t i, char *buf);

int ev_note(ev_ctx *e, const char *fmt, ...) SL__PRINTF(2, 3);

/* eval_cost.c */
int ev_cost_parse(ev_ctx *e, const json_t *spec, const char *source);
void ev_cost_free(ev_cost *c);
/* Mean cost per row of decisions d against truths y. */
double ev_cost_mean(const ev_ctx *e, const double *y, const double *d, size_t n);
/* The report's "cost" section for decisions d of the model and db of the
 * baseline (may be NULL) against truths y (n rows): model, baseline,
 * doing nothing, savings, ROI, and for a binary decision (binary and
 * labelled anomaly models, whose scores are e->P) the cost-minimising
 * threshold. */
int ev_cost_section(ev_ctx *e, const double *y, const double *d, const double *db, size_t n,
		    json_t **out);

/* eval_fair.c */
int ev_fairness_section(ev_ctx *e, json_t **out);
int ev_importance_section(ev_ctx *e, json_t **out);

/* A JSON number, or null for NaN and infinities (JSON has neither). */
json_t *ev_num(double v);

#endif
