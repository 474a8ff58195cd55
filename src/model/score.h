/*
 * Batch scoring: tables of raw rows through a bundle (or a plain model) to
 * predictions. The work behind `sluice predict` and the `predict` step, and
 * the single-row timing the gates judge (`test`'s latency_p99_us). Prefix
 * score_.
 *
 *   raw rows (a CSV or JSONL file, a dataset)
 *      |  score_conform: the bundle's raw inputs found by name and typed as
 *      |  the bundle takes them; a value that does not convert is named by
 *      |  column, row and value
 *      v
 *   transform_apply_rows: a dedupe keeps every row, a filter drops the rows
 *      |  it rejects and the row map says which came through
 *      v
 *   ml_frame_code -> ml_model_predict (and the family's explain) on the
 *      |  rows that came through, on every core
 *      v
 *   the output table: every input column as it came, `rejected`, the
 *   outputs (null on rejected rows), contributions on request
 *
 * Output columns after the input's (docs/steps/predict.md):
 *   rejected              bool: a filter of the bundle's transform rejected
 *                         the row (its outputs are null)
 *   classifiers           prediction (the class label, typed as the target
 *                         was), proba_<class> for each class
 *   regression            prediction
 *   anomaly               score, anomaly (bool)
 *   forecast              forecast, lo80, hi80, lo95, hi95
 *   explain               contrib_<feature> for each model input and
 *                         contrib_base (multiclass: contrib_<class>_<feature>
 *                         and contrib_<class>_base), in the model's raw
 *                         score space; they sum to the raw score
 * A NaN output (a forecast the model does not have) is null.
 *
 * Invariants:
 *  1. Output row i is input row i: nothing is dropped or reordered.
 *  2. A row's outputs are bundle_score_values() of that row alone: the
 *     transform's table path equals its row path, and a family predicts a
 *     row alone as within a batch (ml.h invariant 1). Batch scoring,
 *     serving and the C export therefore agree (tests check all three).
 */
#ifndef SLUICE_MODEL_SCORE_H
#define SLUICE_MODEL_SCORE_H

#include <stdbool.h>
#include <stddef.h>

#include "model/bundle.h"

typedef struct score_opts {
	bool explain;        /* add the contribution columns */
	const char *source;  /* the input's name in messages ("in.csv") */
} score_opts;

typedef struct score_stats {
	size_t rows;         /* rows scored, rejected ones included */
	size_t rejected;     /* rows a filter rejected */
	/* In: NULL, or room for the model's n_features doubles. Out, with
	 * explain: each input's global importance, the mean |contribution|
	 * over the rows that came through (summed over the classes of a
	 * multiclass model); 0 when none did. Owned by the caller. */
	double *importance;
} score_stats;

/*
 * The bundle's raw inputs from t, in bundle input order and typed exactly as
 * the bundle takes them (*out, a new table). A column of another type is
 * converted value by value (int64 to float64 directly, anything else
 * through its text: "12" in a string column is the number 12); the first
 * value that does not convert is SL_EINVAL naming the column, the row
 * (1-based) and the value. A missing column the bundle needs is SL_EINVAL
 * naming it and the columns there are; one it does not need
 * (bundle_input_needed: an id, the training target) is all null. source
 * names t in messages.
 */
int score_conform(const bundle *b, const ds_table *t, const char *source, ds_table **out);

/*
 * Scores every row of t (raw rows; columns the bundle does not take are
 * carried through) and builds the output table above (*out, new). The
 * output's column names must not be taken by t's (SL_EINVAL naming the
 * clash). st may be NULL.
 */
int score_table(const bundle *b, const ds_table *t, const score_opts *o, ds_table **out,
		score_stats *st);

/* Timing of single-row predictions (score_latency). */
typedef struct score_latency_result {
	size_t rows;       /* rows timed */
	size_t rejected;   /* rows a filter rejected (not timed: no prediction) */
	double p50_us, p99_us, mean_us, max_us;
} score_latency_result;

/*
 * Times bundle_score_values() on up to max_rows rows of t (conformed by
 * score_conform), one row per call, after warmup untimed calls, as a
 * server answers one request: the transform's row path, the coding and the
 * family's predict. A row's time is the fastest of SCORE_LATENCY_REPEATS
 * calls: the machine's interruptions (a preemption, a neighbour's burst)
 * land on some calls, and one of milliseconds in 1% of the rows would be
 * read as the model's p99, which no change to the model can cut (serving's
 * live latency histogram is where the whole of it shows); the rows' own
 * differences (paths, lengths) stay. Percentiles by nearest rank.
 * SL_EINVAL when no row could be timed (every row rejected, or t empty).
 */
#define SCORE_LATENCY_REPEATS 3
int score_latency(const bundle *b, const ds_table *t, size_t max_rows, size_t warmup,
		  score_latency_result *out);

/*
 * The file-to-file form (`sluice predict`): reads in_path (CSV or JSONL by
 * in_format, "csv", "jsonl" or "dataset", or NULL: a dataset file by its
 * magic, else by the extension), scores it with the model or bundle at
 * model_path and writes out_path (out_format likewise, NULL: by the
 * extension) atomically. CSV input keeps a string input's text as written
 * (a zip code "02139" stays a string even when it looks like a number).
 */
int score_file(const char *model_path, const char *in_path, const char *in_format,
	       const char *out_path, const char *out_format, bool explain, score_stats *st);

#endif
