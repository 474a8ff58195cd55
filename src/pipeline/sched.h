/*
 * The scheduler: runs a parsed pipeline against a project's stores.
 */
#ifndef SLUICE_SCHED_H
#define SLUICE_SCHED_H

#include <signal.h>

#include "sluice/sluice.h"
#include "pipeline/orch.h"
#include "pipeline/spec.h"
#include "store/store.h"

typedef struct sched_env {
	const char *state_dir; /* the project's .sluice/ */
	const char *art_root;  /* state_dir/artifacts */
	store *st;
	const orch_ops *orch;
	const orch_slurm_cfg *slurm; /* stack.slurm, or NULL */
	/*
	 * Cancellation: a descriptor that becomes readable (an eventfd) and the
	 * flag beside it, or -1 / NULL. The legacy flag of sl_run_opts.cancel is
	 * looked at as well, with waits bounded so a flag set by another thread
	 * is seen within a tenth of a second.
	 */
	int cancel_fd;
	const int *cancel_flag;
} sched_env;

/*
 * Runs sp to the end (or to cancellation). *out_run_id receives the run id
 * (newly allocated) once the run exists. Returns 0 when every step completed
 * or was cached; when steps failed, SL_EGATE if every failure was a gate,
 * SL_EINPUT if every failure was bad input, SL_ESTEP otherwise, with the
 * message of the first failed step; SL_ECANCEL when cancelled; another code
 * when the run could not be carried out or recorded at all (the store
 * failed), in which case running steps were stopped. A tune step's trials
 * are appended to sp while the run lasts and removed before it returns
 * (pipeline/tune.c; sched.c, design note 8).
 */
int sched_run(const sched_env *env, spec *sp, const sl_run_opts *opts, char **out_run_id);

#endif
