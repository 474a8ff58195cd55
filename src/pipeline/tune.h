/*
 * The scheduler's side of a tune step (tune.c): the search expanded into
 * trial steps, and what the scheduler asks and tells about them while the
 * run goes on. Prefix tune_. The step's own side (options, the selection
 * and the report) is steps/tune.c.
 */
#ifndef SLUICE_PIPELINE_TUNE_H
#define SLUICE_PIPELINE_TUNE_H

#include "pipeline/spec.h"
#include "steps/tune.h"

typedef struct tune_run tune_run;

/*
 * Appends each tune step's trials to sp as steps named STEP[K] (the
 * training step, the tune step's inputs, its cache, timeout and resources)
 * with their dependencies: a trial after the tune step's inputs (and, in a
 * halving search, after every trial of the rung before), the tune step
 * after all its trials. *out is NULL when sp has no tune step; otherwise
 * the caller ends with tune_run_free, which removes the trials from sp.
 */
int tune_expand(spec *sp, tune_run **out);
void tune_run_free(tune_run *t, spec *sp); /* accepts NULL */

/* The index of the tune step whose trial step i is, or -1 (also when t is NULL). */
long tune_parent(const tune_run *t, size_t i);

typedef enum tune_verdict {
	TUNE_GO,   /* the trial's options are set (sp->steps[i].with): prepare it */
	TUNE_DROP, /* not needed: the time is up, or a rung has fewer survivors */
	TUNE_FAIL  /* its options were refused: fail it with msg */
} tune_verdict;

/*
 * Trial i is ready (its inputs exist). Sets its options when they depend on
 * the rung before (halving), or says to drop it. now is a monotonic time
 * in seconds: the search's time budget counts from its first call.
 */
int tune_trial_ready(tune_run *t, spec *sp, size_t i, double now, tune_verdict *out, char *msg,
		     size_t msg_size);
/* Trial i, not in the cache, is about to start: false when the time is up. */
bool tune_trial_in_time(const tune_run *t, size_t i, double now);
/*
 * Trial i ended: status completed, cached or failed; error (failed), its
 * metrics ({name: value}, borrowed; NULL when none) and its model's
 * artifact path (NULL when none).
 */
int tune_trial_done(tune_run *t, size_t i, const char *status, const char *error,
		    const json_t *metrics, const char *model_path);
/* Trial i will not run (dropped, or the run stopped before it). */
void tune_trial_dropped(tune_run *t, size_t i);

/*
 * Writes workdir/trials.json, what tune step `step` reads when it runs
 * (steps/tune.c): every trial that ran, its options, status, error,
 * metrics and model path, and the rungs of a halving search.
 */
int tune_write_trials(const tune_run *t, size_t step, const char *workdir);

#endif
