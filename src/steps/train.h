/*
 * What every train.* step shares (train.c): reading the `train` and
 * optional `valid` inputs into frames, the options every trainer has
 * (target, features, exclude), the validation scores recorded as the step's
 * metrics, and writing the `model` output. A trainer step is then: declare
 * options, call train_open, fit, call train_finish. Prefix train_.
 */
#ifndef SLUICE_STEPS_TRAIN_H
#define SLUICE_STEPS_TRAIN_H

#include "ml/ml.h"
#include "steps/step.h"

/* The options every train.* step declares first in its table (macro, so
 * each table stays one static array). */
extern const step_opt train_column; /* a column name: a non-empty string */
#define TRAIN_COMMON_OPTS                                                                   \
	{.name = "target", .type = OPT_STRING, .required = true, .len = "[1,)",              \
	 .columns_of = "train", .help = "the column to predict"},                            \
	{.name = "features", .type = OPT_STRING_LIST, .len = "[1,)", .unique = true,         \
	 .item = &train_column, .columns_of = "train",                                       \
	 .help = "the input columns (default: every column but the target and `exclude`)"},  \
	{.name = "exclude", .type = OPT_STRING_LIST, .unique = true, .item = &train_column,  \
	 .help = "columns never used as inputs (ids, free text, leaks of the target)"},       \
	{.name = "sample_rows", .type = OPT_NUMBER, .range = "(0, 1]",                        \
	 .help = "train on this share of the rows, a fixed sample (the rows of a smaller "      \
		 "share are among those of a larger one; tune's halving over rows sets it)"}

/* The option every trainer has last: threads, whose count never changes results. */
#define TRAIN_OPT_THREADS                                                                   \
	{.name = "threads", .type = OPT_INT, .def = "0", .range = "[0,)",                    \
	 .help = "threads (0: every core); results do not depend on it"}

typedef struct train_data {
	ds_table *train_t;  /* the `train` input */
	ds_table *valid_t;  /* the `valid` input, or NULL */
	ml_frame train;     /* frame of train_t */
	double *valid_X;    /* valid_t coded for the signature (n_valid x p), or NULL */
	double *valid_y;    /* its targets, or NULL */
	size_t n_valid;
} train_data;

/*
 * Opens the inputs and builds the frames. fo gives what the family accepts
 * (task, allow_missing, allow_strings); target, features and exclude are
 * read from the step's options, and extra_exclude (may be NULL) adds
 * columns the family uses otherwise (a forecaster's time and by). Frame
 * warnings go to the step's log. On failure the step has failed (message
 * set) and d is cleared.
 */
int train_open(step_ctx *ctx, ml_frame_opts fo, const char *const *extra_exclude,
	       size_t n_extra, train_data *d);
void train_data_free(train_data *d); /* accepts a zeroed d */

/*
 * Scores m on the validation rows (when there are any) and on the training
 * rows, and records task-appropriate metrics as the step's metrics:
 * classifiers "<set>_accuracy", "<set>_logloss" and, binary, "<set>_auc";
 * regression "<set>_rmse", "<set>_mae", "<set>_r2"; set is train or valid.
 * Then adds the training target's summary to m's info (for evaluate's
 * baseline, ml_baseline_summary) and writes m to the `model` output with a
 * summary of it as the artifact's metadata. Takes ownership of m.
 */
int train_finish(step_ctx *ctx, train_data *d, ml_model *m);

/* The ports of a supervised trainer: inputs `train` and optional `valid`,
 * output `model` (each terminated as step.h asks). */
extern const step_port train_inputs[];
extern const step_port train_outputs[];

/* A number from a `with` object (for option checks before a ctx exists),
 * def when absent. */
double train_with_num(const json_t *with, const char *name, double def);

/* Writes each of the model's info "warnings" to the step's log. */
void train_log_warnings(step_ctx *ctx, const ml_model *m);

/* Task-appropriate metrics of predictions p (n x outputs) against y, into obj. */
int train_score_into(const ml_signature *sig, const double *y, const double *p, size_t n,
		     const char *prefix, json_t *obj);

#endif
