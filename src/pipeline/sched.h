/*
 * The scheduler: runs a parsed pipeline against a project's stores.
 */
#ifndef SLUICE_SCHED_H
#define SLUICE_SCHED_H

#include "sluice/sluice.h"
#include "pipeline/orch.h"
#include "pipeline/spec.h"
#include "store/store.h"

typedef struct sched_env {
	const char *state_dir; /* the project's .sluice/ */
	const char *art_root;  /* state_dir/artifacts */
	store *st;
	const orch_ops *orch;
} sched_env;

/*
 * Runs sp to the end (or to cancellation). *out_run_id receives the run id
 * (newly allocated) once the run exists. Returns 0 when every step completed
 * or was cached, SL_ESTEP when some step failed, SL_ECANCEL when cancelled,
 * or another code when the run could not be carried out at all.
 */
int sched_run(const sched_env *env, spec *sp, const sl_run_opts *opts, char **out_run_id);

#endif
