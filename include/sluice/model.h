/*
 * sluice models: load a trained model (a `model` artifact of a train.*
 * step, or a bundle) and predict from C, as XGBoost's and LightGBM's C APIs
 * do: rows x columns of doubles in, a caller-sized array of doubles out.
 *
 *   sl_model *m;
 *   if (sl_model_load("model.slm", &m) != 0)
 *           fprintf(stderr, "%s\n", sl_errmsg());
 *   size_t p = sl_model_n_inputs(m), k = sl_model_n_outputs(m);
 *   double row[p], out[k];
 *   ... fill row in sl_model_input_name() order ...
 *   sl_model_predict(m, row, 1, p, out, k);
 *   sl_model_free(m);
 *
 * Inputs, one double per signature column, in signature order:
 *   numbers          the value; bool 0 or 1; timestamps as microseconds
 *                    since 1970-01-01T00:00:00Z
 *   string columns   the value's code (sl_model_input_code); a value the
 *                    model never saw in training codes as NaN
 *   missing          NaN
 * Outputs per row (names from sl_model_output_name):
 *   regression       "prediction"
 *   classification   "proba_<class>" for each class (sl_model_class), summing to 1
 *   anomaly          "score" (higher is more anomalous), "anomaly" (0 or 1)
 *   forecast         "forecast", "lo80", "hi80", "lo95", "hi95"
 *
 * A model handle is immutable once loaded: sl_model_predict may be called
 * from any number of threads at once on the same handle.
 */
#ifndef SLUICE_MODEL_H
#define SLUICE_MODEL_H

#include <stddef.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_model sl_model;

/*
 * Loads a model file, checking its format version and its SHA-256 checksum
 * (a truncated or damaged file is SL_ECORRUPT saying which; a file from a
 * newer sluice is SL_EUNSUP). *out is freed with sl_model_free.
 */
SL_EXPORT int sl_model_load(const char *path, sl_model **out);
SL_EXPORT void sl_model_free(sl_model *m); /* accepts NULL */

/* "gbdt", "linear", "logistic", "naive_bayes", "iforest", "forecast", "baseline". */
SL_EXPORT const char *sl_model_algorithm(const sl_model *m);
/* "regression", "binary", "multiclass", "anomaly", "forecast". */
SL_EXPORT const char *sl_model_task(const sl_model *m);

SL_EXPORT size_t sl_model_n_inputs(const sl_model *m);
/* Name and type ("float64", "int64", "bool", "string", "timestamp") of input j. */
SL_EXPORT const char *sl_model_input_name(const sl_model *m, size_t j);
SL_EXPORT const char *sl_model_input_type(const sl_model *m, size_t j);
/*
 * The code of string value for string input j: 0 and *out_code set (NaN
 * when the model never saw the value). SL_EINVAL when input j is not a
 * string column.
 */
SL_EXPORT int sl_model_input_code(const sl_model *m, size_t j, const char *value,
				  double *out_code);

SL_EXPORT size_t sl_model_n_outputs(const sl_model *m);
SL_EXPORT const char *sl_model_output_name(const sl_model *m, size_t k);
/* Classifiers: the number of classes and each class label as text (else 0 / NULL). */
SL_EXPORT size_t sl_model_n_classes(const sl_model *m);
SL_EXPORT const char *sl_model_class(const sl_model *m, size_t k);

/*
 * Predicts nrow rows of ncol doubles each (row-major; ncol must equal
 * sl_model_n_inputs) into out, which holds out_len doubles: at least
 * nrow * sl_model_n_outputs(m), else SL_EINVAL and nothing is written.
 * Large batches use every core.
 */
SL_EXPORT int sl_model_predict(const sl_model *m, const double *rows, size_t nrow, size_t ncol,
			       double *out, size_t out_len);

/*
 * Per-feature contributions of each row's prediction, in the model's raw
 * score space (log-odds for binary classifiers, per class for multiclass):
 * for every row and every group (sl_model_explain_groups: 1, or the number
 * of classes), ncol contributions and then the base value; they sum to the
 * raw score. out_len must be at least nrow * groups * (ncol + 1).
 * SL_EUNSUP for an algorithm without explanations.
 */
SL_EXPORT size_t sl_model_explain_groups(const sl_model *m);
SL_EXPORT int sl_model_explain(const sl_model *m, const double *rows, size_t nrow, size_t ncol,
			       double *out, size_t out_len);

/* ---- batch scoring -------------------------------------------------------------- */

/* Options of sl_predict_file; zero (or NULL) fields mean the default. */
typedef struct sl_predict_opts {
	int explain;               /* non-zero: add contribution columns */
	const char *input_format;  /* "csv", "jsonl" or "dataset"; NULL: a dataset
				    * file by its contents, else the extension */
	const char *output_format; /* "csv", "jsonl" or "dataset"; NULL: the extension */
} sl_predict_opts;

typedef struct sl_predict_stats {
	size_t rows;     /* rows scored, rejected ones included */
	size_t rejected; /* rows the bundle's transform rejected (a filter) */
} sl_predict_stats;

/*
 * Scores every row of in_path with the model or bundle at model_path and
 * writes out_path (atomically): the input's columns as they came, then
 * `rejected` (true for a row the bundle's filters reject, whose outputs
 * are null), then the predictions: `prediction` (a classifier's label, or
 * a regression's value), `proba_<class>` per class, `score` and `anomaly`,
 * or `forecast` and its intervals; with opts->explain, `contrib_<input>`
 * per model input and `contrib_base`. A bundle's transform is applied
 * first, so in_path holds raw rows as they come to the server. Errors name
 * the place: a missing input column, a value of the wrong type by column
 * and row. opts and out_stats may be NULL.
 */
SL_EXPORT int sl_predict_file(const char *model_path, const char *in_path, const char *out_path,
			      const sl_predict_opts *opts, sl_predict_stats *out_stats);

/* ---- export --------------------------------------------------------------------- */

/*
 * Writes the model or bundle at model_path to out_path in format "c": one
 * C99 file needing only math.h that defines model_columns,
 * model_n_columns, model_outputs, model_n_outputs, the string columns'
 * model_dictionary and model_predict(row, out), which applies the bundle's
 * transform and the model to one row (docs/cli.md, `sluice models
 * export`). SL_EUNSUP naming what has no C form (an operation that needs a
 * string's text or other rows, a family without an exporter); SL_EINVAL
 * for another format.
 */
SL_EXPORT int sl_model_export(const char *model_path, const char *format, const char *out_path);
/*
 * The same, the file's comment naming the model by source (what the user
 * asked for: "spam@production (version 3)"; NULL: the file's name) and by
 * its artifact id (the file's SHA-256).
 */
SL_EXPORT int sl_model_export_from(const char *model_path, const char *source, const char *format,
				   const char *out_path);

/*
 * The model's manifest as JSON text: algorithm, task, signature,
 * hyperparameters, what training recorded (importance, curves) and, for
 * bundles, metrics and lineage. Newly allocated; free with sl_free.
 */
SL_EXPORT int sl_model_describe(const sl_model *m, char **out_json);

#ifdef __cplusplus
}
#endif
#endif
