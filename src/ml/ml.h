/*
 * The machine-learning layer's internal interface: what every model family
 * (gbdt, linear, logistic, naive_bayes, iforest, forecast, baseline) and
 * every step that trains, evaluates or scores shares. Prefix ml_.
 *
 *          training table (ds_table)                 new rows (a table, a
 *                  |                                 request, a CSV file)
 *     ml_frame_build: checks, target,                        |
 *     signature, feature columns                  ml_frame_apply: columns by
 *                  |                              name, types, string codes
 *     family trainer (gbdt_train, ...)                       |
 *                  |                                         v
 *               ml_model  --ml_model_save-->  model file  --ml_model_load-->
 *                  |                          (mfile.h)          ml_model
 *                  +---- ml_model_predict(X: n x p doubles) -> n x k doubles
 *
 * A model sees its inputs as doubles, one row after another, in signature
 * order (the XGBoost C API's convention, and what `sluice models export
 * --format c` exposes):
 *   float64, int64   the value
 *   bool             0 or 1
 *   timestamp        microseconds since the epoch
 *   string           the code of the value in the feature's dictionary (the
 *                    categories seen in training, code = index); a value
 *                    training never saw is NaN, i.e. missing
 *   missing          NaN. Families that cannot handle it (linear, logistic)
 *                    refuse missing values at training time with a message
 *                    naming the column and the fix; at prediction time they
 *                    treat NaN as the feature's contribution being zero.
 *
 * Outputs (n_outputs doubles per row, names in the signature):
 *   regression   "prediction"
 *   binary,      "proba_<class>" for every class, in class order (the
 *   multiclass   probabilities sum to 1)
 *   anomaly      "score" (higher is more anomalous) and "anomaly" (0 or 1
 *                from the model's contamination threshold)
 *   forecast     "forecast", "lo80", "hi80", "lo95", "hi95"
 *
 * Invariants every family keeps:
 *  1. predict is a pure function of (model, row): thread-safe on one model,
 *     no state between calls, and predicting rows one at a time gives the
 *     same bytes as predicting them all at once (tests check both).
 *  2. Training is deterministic given the seed: the same data and options
 *     give the same model file, byte for byte, whatever the thread count.
 *  3. A model file holds everything predict needs; nothing is read from the
 *     training data or the environment at prediction time.
 *  4. What a family reads from a model file it checks (counts, indices,
 *     node references) before use: a damaged or hostile file is an error,
 *     never a crash. The digest (mfile.h) catches accidents; the checks
 *     catch the rest.
 */
#ifndef SLUICE_ML_H
#define SLUICE_ML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"
#include "dataset/dataset.h"
#include "model/mfile.h"

struct sl__cw;

/* ---- tasks and signatures --------------------------------------------- */

typedef enum ml_task {
	ML_REGRESSION = 1,
	ML_BINARY = 2,
	ML_MULTICLASS = 3,
	ML_ANOMALY = 4,
	ML_FORECAST = 5
} ml_task;

/* "regression", "binary", "multiclass", "anomaly", "forecast". */
const char *ml_task_name(ml_task t);
bool ml_task_parse(const char *name, ml_task *out);
static inline bool ml_task_is_classifier(ml_task t)
{
	return t == ML_BINARY || t == ML_MULTICLASS;
}

typedef struct ml_feature {
	char *name;
	ds_type type;   /* the column's type in the training table */
	char **dict;    /* DS_STRING: categories seen in training; code = index */
	uint32_t n_dict;
} ml_feature;

typedef struct ml_signature {
	ml_task task;
	ml_feature *features;
	size_t n_features;
	char *target;          /* NULL for anomaly detection */
	ds_type target_type;
	char **classes;        /* classifiers: the class labels as text, in class order */
	size_t n_classes;
	char **outputs;        /* names of the predict outputs (see above) */
	size_t n_outputs;
} ml_signature;

void ml_signature_clear(ml_signature *s); /* frees the contents; accepts a zeroed s */
/* Deep copy; *dst must be zeroed. */
int ml_signature_copy(ml_signature *dst, const ml_signature *src);
/*
 * Fills s->outputs from s->task and s->classes (the names above). Called by
 * ml_frame_build. The count is fixed by the task (a loaded signature with
 * another count is refused), so the names are the only freedom.
 */
int ml_signature_set_outputs(ml_signature *s);
/* Index of feature name, or -1. */
long ml_signature_find(const ml_signature *s, const char *name);
/*
 * The code of value in feature j's dictionary, or -1 when training never
 * saw it (the model reads that as missing). A linear scan: dictionaries are
 * categories, not free text; a caller that codes many values (a table, a
 * server) builds its own index once (ml_frame_apply does).
 */
long ml_signature_code(const ml_signature *s, size_t j, const char *value, size_t len);

/*
 * An index of one string feature's dictionary for coding many values (a
 * table's dictionary, a server's requests): one hash probe per lookup. Built once
 * per feature; read-only afterwards, so threads may share it.
 */
typedef struct ml_dict_index ml_dict_index;
int ml_dict_index_build(const ml_feature *f, ml_dict_index **out);
/* The code of s (len bytes), or -1 when the feature never saw it. */
long ml_dict_index_find(const ml_dict_index *ix, const char *s, size_t len);
void ml_dict_index_free(ml_dict_index *ix); /* accepts NULL */

/* The signature as JSON (manifest "signature") and back (checked). */
int ml_signature_to_json(const ml_signature *s, json_t **out);
int ml_signature_from_json(const json_t *j, const char *where, ml_signature *out);

/* ---- models ------------------------------------------------------------ */

typedef struct sl_model ml_model; /* the public sl_model is this */

typedef struct ml_ops {
	const char *algorithm; /* "gbdt", "linear", ... : the manifest's "algorithm" */
	/*
	 * X: n rows of sig.n_features doubles (row-major); out: n rows of
	 * sig.n_outputs doubles. Thread-safe; may allocate scratch per call.
	 * Called on blocks of rows: ml_model_predict splits large batches
	 * across the pool, so a family need not parallelise its predict.
	 */
	int (*predict)(const ml_model *m, const double *X, size_t n, double *out);
	/*
	 * Optional (NULL: the family has no explanations). Per row, for each
	 * of explain_groups(m) groups (1, or the number of classes of a
	 * multiclass model), n_features contributions followed by the base
	 * value, in the model's raw score space (margin / log-odds for
	 * classifiers), summing to the raw score.
	 */
	int (*explain)(const ml_model *m, const double *X, size_t n, double *out);
	size_t (*explain_groups)(const ml_model *m);
	/* Writes the family's sections (the manifest is written by the caller). */
	int (*save)(const ml_model *m, mfile_writer *w);
	/* Reads the sections of f into m->impl (which may point into f: the
	 * model keeps f open as long as it lives). m->sig and m->params are
	 * already loaded. */
	int (*load)(ml_model *m, const mfile *f);
	void (*free_impl)(void *impl);
	/*
	 * Optional (NULL: the family has no C export). Writes C99 text that
	 * needs only math.h to w: static tables and
	 *     static void sx_model(const double *x, double *out)
	 * computing for one row exactly what predict computes (x: the
	 * sig.n_features inputs, out: sig.n_outputs), every identifier of its
	 * own starting with sx_. The same operations in the same order, so the
	 * compiled file agrees with predict to the last bits that the C
	 * library's functions (exp, log, pow) allow. src/model/export_c.c
	 * writes the rest of the file around it.
	 */
	int (*emit_c)(const ml_model *m, struct sl__cw *w);
} ml_ops;

struct sl_model {
	const ml_ops *ops;
	ml_signature sig;
	json_t *params; /* hyperparameters as resolved (the step's options): an object */
	json_t *info;   /* what training learned for users to read: importance,
			 * chosen method, per-round curves ... : an object */
	void *impl;     /* the family's fitted state */
	mfile *file;    /* the file the model was loaded from, or NULL */
};

/* The family implementing algorithm name, or NULL. */
const ml_ops *ml_ops_find(const char *algorithm);

/*
 * A new model of a family. It takes ownership of sig's contents (moved out;
 * *sig is zeroed) and of params (a reference is stolen; NULL = {}), also
 * when it fails. info starts as {}. Free with ml_model_free.
 */
int ml_model_new(const ml_ops *ops, ml_signature *sig, json_t *params, ml_model **out);
void ml_model_free(ml_model *m); /* accepts NULL */

/*
 * Predicts n rows (see above). Checks nothing per row: callers build X with
 * ml_frame_apply or the public API's boundary checks. Batches of a few
 * thousand rows and more are split across the thread pool.
 */
int ml_model_predict(const ml_model *m, const double *X, size_t n, double *out);

/*
 * Writes a model file: manifest {"kind": "model", "format": 1,
 * "algorithm", "task", "signature", "params", "info", "sluice_version"}
 * plus the family's sections. extra (borrowed, may be NULL) is merged into
 * the manifest (bundles add their lineage and transform this way).
 */
int ml_model_save(const ml_model *m, const json_t *extra, const char *path);
/*
 * The same with one more section, `section` holding len bytes of data
 * (what is not the family's but travels with the model: training's
 * monitoring reference, monitor/reference.h). A bundle keeps it.
 */
int ml_model_save_with(const ml_model *m, const json_t *extra, const char *section,
		       const void *data, size_t len, const char *path);
/* Reads a model file written by ml_model_save (kind "model" or "bundle"). */
int ml_model_load(const char *path, ml_model **out);
int ml_model_load_mfile(mfile *f, ml_model **out); /* takes ownership of f, also on failure */

/* ---- frames: tables turned into model inputs -------------------------- */

typedef struct ml_frame_opts {
	const char *target;            /* required unless task is ML_ANOMALY */
	ml_task task;                  /* 0: inferred from the target (see ml_frame_build) */
	const char *const *features;   /* explicit feature columns, or NULL: every column */
	size_t n_features;             /* not excluded and not the target */
	const char *const *exclude;    /* columns never used as features (time, by, ids) */
	size_t n_exclude;
	bool allow_missing;            /* false: a null or NaN in a feature is an error */
	bool allow_strings;            /* false: a string feature is an error naming it */
	const char *step;              /* for messages: "train.logistic" */
} ml_frame_opts;

typedef struct ml_frame {
	const ds_table *t;    /* borrowed */
	size_t n;             /* rows */
	ml_signature sig;     /* owned until moved into a model */
	size_t *cols;         /* per feature: its column in t */
	double *y;            /* per row: the target value (regression), the class
			       * index (classifiers); NULL without a target */
	char **warnings;      /* e.g. dropped constant columns; for the step's log */
	size_t n_warnings;
} ml_frame;

/*
 * Builds a training frame from t. Checks, each an SL_EINVAL whose message
 * names the column and the fix:
 *   - the target exists (else the columns there are, with a did-you-mean);
 *   - the task fits the target: a classifier's target has at least two
 *     classes and at most 1000 (more looks like a regression target or an
 *     id); a regression target is numeric (a string target is refused);
 *     the target has no nulls (rows without a label cannot teach);
 *   - features: a string feature when !allow_strings, a null or NaN when
 *     !allow_missing, an infinite value always; a timestamp feature is
 *     used as a number.
 * A feature that is constant or entirely null is dropped with a warning.
 * Inferred task (opts->task == 0): bool or string target -> binary or
 * multiclass by its number of classes; an integer target with at most 20
 * distinct values, all of them >= 0 -> classification likewise; otherwise
 * regression. Class order: false < true for bools, numeric order for
 * integers, byte order for strings, so a model does not depend on the
 * order rows arrive in.
 */
int ml_frame_build(const ds_table *t, const ml_frame_opts *opts, ml_frame *out);
void ml_frame_free(ml_frame *fr); /* frees the contents; accepts a zeroed frame */
/* "a, b, c": the table's column names for "there is no column x" messages,
 * cut with "..." to fit size. */
void ml_list_columns(const ds_table *t, char *buf, size_t size);

/*
 * Feature j of the frame's rows as doubles (the encoding above) into out
 * (fr->n entries). Column-at-a-time access for trainers that bin or scale
 * per feature without building the whole matrix.
 */
void ml_frame_column(const ml_frame *fr, size_t j, double *out);
/* The whole row-major matrix n x p (newly allocated; free with sl__free). */
int ml_frame_matrix(const ml_frame *fr, double **out);

/*
 * New rows for an existing signature: finds each feature of sig in t by
 * name and builds the row-major matrix (newly allocated, *out_X). Numeric
 * types convert among themselves (int64 where float64 was trained and so
 * on); a string column where a number was trained, or the reverse, is an
 * error naming the column; a missing column is an error naming it. A
 * string value unseen in training becomes NaN. When out_y is non-NULL and
 * t has the target column, *out_y gets the targets as ml_frame_build
 * encodes them (a class training never saw is an error naming the value
 * and its row); otherwise *out_y is NULL.
 */
int ml_frame_apply(const ml_signature *sig, const ds_table *t, double **out_X, double **out_y);
/*
 * The same coding for scoring rows (batch prediction), where an infinite
 * value is an input like any other, as it is for a single row served: it
 * reaches the model as is instead of being refused.
 */
int ml_frame_code(const ml_signature *sig, const ds_table *t, double **out_X);
/*
 * ml_frame_code in pieces, for scoring a large table block by block on
 * every core without the whole matrix: ml_coder_new finds and checks the
 * columns (the same errors) and builds the string features' code maps
 * (*out owned by the caller, ml_coder_free; t must outlive it);
 * ml_coder_rows codes rows [lo, hi) into X, row-major, (hi - lo) x
 * n_features, with no allocation (safe from several threads at once).
 */
typedef struct ml_coder ml_coder;
int ml_coder_new(const ml_signature *sig, const ds_table *t, ml_coder **out);
void ml_coder_rows(const ml_coder *c, size_t lo, size_t hi, double *X);
void ml_coder_free(ml_coder *c); /* accepts NULL */

/*
 * The baseline model of a frame's task (baseline.c): class priors for
 * classifiers, the mean or median (strategy; NULL: mean) for regression.
 */
int ml_baseline_fit(const ml_frame *fr, const char *strategy, ml_model **out);
/*
 * What a baseline needs of the training target, added to info as
 * "training_target": {"rows", "class_counts": [per class]} for classifiers,
 * {"rows", "mean", "median"} for regression; nothing for other tasks.
 * train_finish records it in every trained model, because evaluation only
 * has the model and its baseline must be fitted on the training rows.
 */
int ml_baseline_summary(const ml_frame *fr, json_t *info);
/*
 * The baseline of model m fitted on m's training rows, from its info's
 * training_target: class priors, or the mean or median (strategy; NULL:
 * mean). SL_ENOENT without a message when m carries no summary (or its
 * task has none); SL_ECORRUPT when the summary is malformed.
 */
int ml_baseline_for(const ml_model *m, const char *strategy, ml_model **out);

/* ---- metrics ------------------------------------------------------------ */

/*
 * The metric functions shared by training (validation scores, early
 * stopping) and evaluation. y holds targets as frames encode them; p holds
 * predictions: for binary tasks the probability of class 1, for
 * multiclass n x k probabilities, for regression the values. w are row
 * weights or NULL. Each returns NaN when undefined (AUC with one class).
 */
double ml_metric_rmse(const double *y, const double *p, const double *w, size_t n);
double ml_metric_mae(const double *y, const double *p, const double *w, size_t n);
double ml_metric_r2(const double *y, const double *p, const double *w, size_t n);
/* Binary: AUC of the ROC curve, ties counted half (Mann-Whitney). */
double ml_metric_auc(const double *y, const double *p, const double *w, size_t n);
double ml_metric_logloss(const double *y, const double *p, const double *w, size_t n);
/* Multiclass log loss: p is n x k. */
double ml_metric_mlogloss(const double *y, const double *p, size_t k, const double *w, size_t n);
/* Accuracy of argmax over n x k probabilities. */
double ml_metric_accuracy(const double *y, const double *p, size_t k, const double *w, size_t n);
/* Brier score: binary, mean (p - y)^2 (scikit-learn's brier_score_loss);
 * multiclass (p n x k), mean over rows of the sum over classes, Brier's
 * original form (twice the binary one on two classes). */
double ml_metric_brier(const double *y, const double *p, const double *w, size_t n);
double ml_metric_mbrier(const double *y, const double *p, size_t k, const double *w, size_t n);
/* Mean |y - p| / |y| over rows with y != 0 (a fraction, not percent);
 * *out_skipped (may be NULL) counts the rows left out. */
double ml_metric_mape(const double *y, const double *p, const double *w, size_t n,
		      size_t *out_skipped);
/* Sum |y - p| / sum |y|: the error in units of the total. */
double ml_metric_wape(const double *y, const double *p, const double *w, size_t n);
/* Binary: average precision (the area under the PR curve, as scikit-learn). */
double ml_metric_average_precision(const double *y, const double *p, const double *w, size_t n);

/* Confusion matrix cm (k x k, rows actual, columns predicted) of class
 * indices y against pred. */
void ml_confusion(const double *y, const double *pred, size_t k, const double *w, size_t n,
		  double *cm);
/* Precision, recall and F1 of class c from a confusion matrix; NaN where
 * undefined (no row predicted c: precision; no row of class c: recall). */
void ml_class_prf(const double *cm, size_t k, size_t c, double *out_precision,
		  double *out_recall, double *out_f1);
/* The mean recall over the classes present (scikit-learn's balanced_accuracy_score). */
double ml_metric_balanced_accuracy(const double *cm, size_t k);

/*
 * A binary ranking: the distinct scores, highest first, and the
 * cumulative weight of positives (tp) and negatives (fp) scoring at least
 * each: "positive iff score >= threshold[i]" catches tp[i] and fp[i]. ROC
 * and PR curves, average precision and precision at k all read it.
 */
typedef struct ml_ranking {
	double *threshold, *tp, *fp;
	size_t n;        /* distinct scores */
	double pos, neg; /* totals */
} ml_ranking;

int ml_ranking_build(const double *y, const double *p, const double *w, size_t n,
		     ml_ranking *out);
void ml_ranking_free(ml_ranking *r); /* accepts a zeroed r */
double ml_ranking_average_precision(const ml_ranking *r);
/* The area under the ROC curve (as ml_metric_auc, from the ranking). */
double ml_ranking_auc(const ml_ranking *r);
/* Positives among the k top-scored rows; ties at the cut count in proportion. */
double ml_ranking_hits_at(const ml_ranking *r, size_t k);

/* One bin of a calibration curve. */
typedef struct ml_calib_bin {
	double lo, hi;
	size_t count;
	double mean_predicted;    /* NaN when empty */
	double fraction_positive; /* NaN when empty */
} ml_calib_bin;

/*
 * The calibration curve of confidences conf against outcomes hit (1 or
 * 0), in bins equal-width bins over [0, 1] (scikit-learn's
 * calibration_curve, strategy uniform, with empty bins kept).
 */
int ml_calibration(const double *hit, const double *conf, size_t n, size_t bins,
		   ml_calib_bin *out);
/* Expected calibration error: sum over bins of count / n * |fraction - mean|. */
double ml_calibration_ece(const ml_calib_bin *bins, size_t n_bins);

#endif
