/*
 * What the tune step (tune.c) shares with the scheduler's side of a search
 * (pipeline/tune.c): reading its options, and a trial's options made as the
 * training step would get them from a pipeline file. Prefix tune_.
 */
#ifndef SLUICE_STEPS_TUNE_H
#define SLUICE_STEPS_TUNE_H

#include "ml/search.h"
#include "steps/step.h"

#define TUNE_GRID_MAX 100000  /* grid points a search may have */
#define TUNE_TRIALS_MAX 10000 /* trials a budget may ask for */
#define TUNE_DEFAULT_TRIALS 20

typedef enum tune_method { TUNE_GRID, TUNE_RANDOM, TUNE_HALVING } tune_method;

/* A tune step's options, read from its checked `with` (borrowing from it). */
typedef struct tune_opts {
	const step_def *train;    /* the training step searched */
	const json_t *template_;  /* its fixed options (an object, maybe empty) */
	ml_search_space space;    /* borrows from with.search */
	tune_method method;
	size_t trials;            /* grid: its points (capped by the budget); random: the
				   * budget; halving: configurations at rung 0 */
	double seconds;           /* the time budget; 0: none */
	uint64_t seed;
	unsigned eta;             /* halving: keep 1/eta per rung */
	const char *resource;     /* halving: "rows" or an integer option of the trainer */
	const char *metric;       /* NULL: the first of valid_auc, valid_logloss, valid_rmse */
	int direction;            /* +1 higher is better, -1 lower; 0: from the metric */
} tune_opts;

/*
 * Reads with (checked against the tune step's schema) into *o. On a
 * mistake SL_EINVAL with path (inside with) and msg set. Free o with
 * tune_opts_free.
 */
int tune_opts_read(const json_t *with, tune_opts *o, char *path, size_t path_size, char *msg,
		   size_t msg_size);
void tune_opts_free(tune_opts *o);

/*
 * A trial's options: the template with point's options over it, checked,
 * coerced and completed with defaults by the training step's own schema,
 * exactly as the parser does for a step written in the file (so the
 * trial's cache key is that step's). inputs are the tune step's connected
 * inputs. *out is the caller's; on a mistake SL_EINVAL with *pb filled in
 * (its path inside the training step's options).
 */
int tune_trial_with(const tune_opts *o, const json_t *point, const char *const *inputs,
		    size_t n_inputs, json_t **out, step_problem *pb);

/*
 * The metric a search without `metric:` optimises, from one trial's
 * metrics: the first of valid_auc, valid_logloss, valid_rmse it has, or
 * NULL.
 */
const char *tune_auto_metric(const json_t *metrics);

/* The name of trial k of tune step `step` ("tune[3]"), newly allocated. */
char *tune_trial_name(const char *step, size_t k);

#endif
