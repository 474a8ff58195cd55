/*
 * Orchestrators: where a step's process runs.
 *
 * The scheduler (sched.c) decides *what* runs and when; an orchestrator only
 * starts a task, reports when one ends, and stops them all. `local` forks a
 * child on this machine; a Slurm orchestrator submits the same task as a
 * batch job that runs `sluice step-exec`. Both end in orch_exec_task(),
 * which is the whole of what happens inside a step's process, so a step
 * behaves identically wherever it runs.
 *
 * A task's results travel through its workdir, never through memory:
 *   workdir/out/NAME     each declared output
 *   workdir/metrics.json metrics a built-in recorded ({name: number})
 *   workdir/meta.json    per-output artifact metadata ({output: {...}})
 *   workdir/error.txt    a built-in's one-line failure message
 * and its stdout/stderr go to log_path.
 */
#ifndef SLUICE_ORCH_H
#define SLUICE_ORCH_H

#include <stddef.h>

#include "pipeline/spec.h"

typedef struct orch_task {
	const char *steprun_id;
	const spec *sp;
	const spec_step *step;
	const char *command;  /* SPEC_RUN: ${inputs/outputs} substituted; else NULL */
	const char *workdir;  /* absolute, exists, private to this task */
	const char *log_path; /* absolute */
	size_t n_inputs;
	const char *const *input_names;
	const char *const *input_paths;
	size_t n_outputs;
	const char *const *output_names;
	const char *const *output_paths;
	double timeout;       /* seconds after which the task is stopped; 0: none */
} orch_task;

typedef struct orch orch;

typedef struct orch_ops {
	const char *name;
	int (*create)(const char *state_dir, orch **out);
	void (*destroy)(orch *o);
	/* Starts t; tag is handed back by wait() when it ends. */
	int (*start)(orch *o, const orch_task *t, void *tag);
	/*
	 * Blocks until a started task ends: its tag, exit code (0 success),
	 * terminating signal (0 if none), and whether it was stopped for running
	 * past its timeout. SL_ECANCEL when interrupted by a signal (the caller
	 * checks its cancel flag), SL_ENOENT when nothing runs.
	 */
	int (*wait)(orch *o, void **out_tag, int *out_exit, int *out_signal, bool *out_timed_out);
	/* Terminates every running task (TERM, then KILL after grace seconds)
	 * and reaps them; their tags are not returned by wait afterwards. */
	void (*cancel_all)(orch *o, double grace_sec);
} orch_ops;

extern const orch_ops orch_local_ops;

/*
 * Runs a task in the current process, which it may replace (exec) for a
 * command step. Returns the exit status for the process to exit with. Called
 * in the forked child by the local orchestrator and by `sluice step-exec`.
 */
int orch_exec_task(const orch_task *t);

#endif
