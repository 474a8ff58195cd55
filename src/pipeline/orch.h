/*
 * Orchestrators: where a step's process runs.
 *
 * The scheduler (sched.c) decides *what* runs and when; an orchestrator only
 * starts a task, reports when one ends, stops them all, and ends what a
 * dead driver left behind. Orchestrators are chosen by name (`stack:
 * orchestrator:` in sluice.yaml) from a registry (orch_find): `local` runs
 * each task as a child process of the driver; a cluster orchestrator (Slurm)
 * submits the same task as a job.
 *
 * A task is self-contained. The scheduler describes everything a step needs
 * -- its kind, built-in name and version or command or plugin, resolved
 * `with`, inputs and outputs (names, paths, artifact ids), parameters,
 * environment, pipeline folder, work folder, log, timeout, resources -- in
 * an orch_task, which the orchestrator writes to workdir/task.json
 * (orch_task_save) when it starts the step through `sluice step-exec
 * TASK.json` (sl_task_exec -> orch_task_load -> orch_exec_task), in a fresh
 * process wherever that is. A task never shares memory with the driver:
 * a built-in step runs in a new image of the sluice executable
 * (orch_exe), never in a fork of a possibly threaded process.
 *
 * A task's results travel back through files, never through memory:
 *   output_paths[i]         each declared output
 *   workdir/metrics.json    {name: number | [numbers]} (a list is a history)
 *   workdir/meta.json       per-output artifact metadata ({output: {...}})
 *   workdir/error.txt       a one-line failure message
 *   workdir/reason          why it failed: gate, input or error
 *   workdir/store_ops.json  store ops to apply with its completion (store_ops.c)
 * and its stdout/stderr go to the log.
 */
#ifndef SLUICE_ORCH_H
#define SLUICE_ORCH_H

#include <signal.h>
#include <stddef.h>

#include "pipeline/spec.h"
#include "store/store.h"

#define ORCH_TASK_FORMAT 1

typedef struct orch_task {
	const char *run_id;
	const char *steprun_id;
	const char *pipeline;     /* the pipeline's name */
	const char *pipeline_sha256; /* of the pipeline file's text (lineage), or NULL */
	const char *step;         /* the step's name */
	spec_kind kind;
	const char *uses;         /* SPEC_USES: the built-in's name */
	int uses_version;         /* and its version when the task was made */
	const char *command;      /* SPEC_RUN: ${inputs/outputs} substituted */
	const char *plugin;       /* SPEC_PLUGIN: LIBRARY:FUNCTION, relative to pipeline_dir */
	json_t *with;             /* resolved options: an object (borrowed) */
	json_t *params;           /* the pipeline's parameters: an object (borrowed) */
	json_t *env;              /* the step's env: an object of strings, or NULL */
	const char *pipeline_dir; /* absolute; commands run here, relative paths resolve here */
	const char *workdir;      /* absolute, exists, private to this task */
	const char *log_path;     /* absolute */
	const char *task_path;    /* workdir/task.json */
	size_t n_inputs;
	const char *const *input_names;
	const char *const *input_paths;
	const char *const *input_ids;
	size_t n_outputs;
	const char *const *output_names;
	const char *const *output_paths;
	double timeout;           /* seconds after which the task is stopped; 0: none */
	spec_resources resources; /* zero fields: not asked for */
} orch_task;

/* Writes t as JSON to t->task_path (no fsync: it lives as long as the task). */
int orch_task_save(const orch_task *t);

/* A task read back from its file; the strings live in the JSON it holds. */
typedef struct orch_task_file {
	orch_task t;
	json_t *root;
	const char **arrays; /* one allocation behind the name/path/id arrays */
} orch_task_file;

/* Reads and checks a task.json; on failure the message names the file and field. */
int orch_task_load(const char *path, orch_task_file **out);
void orch_task_file_free(orch_task_file *f); /* accepts NULL */

/*
 * Runs a task in the current process, which it may replace (exec) for a
 * command step. Returns the exit status for the process to exit with.
 * Called by `sluice step-exec` (sl_task_exec).
 */
int orch_exec_task(const orch_task *t);

/*
 * The environment of a task's process: base (NULL-terminated, e.g. environ)
 * with the task's variables set over it -- SLUICE_STEP_RUN always (it also
 * marks the task's processes, see orch_proc.c), and for a command step
 * SLUICE_INPUT_*, SLUICE_OUTPUT_*, SLUICE_PARAM_*, SLUICE_WITH, SLUICE_STEP,
 * SLUICE_WORKDIR and the step's env. NULL-terminated and newly allocated;
 * free with orch_env_free. NULL on allocation failure (error set).
 */
char **orch_task_env(const orch_task *t, char *const *base);
void orch_env_free(char **env);

/* ---- orchestrators ---------------------------------------------------------- */

typedef struct orch orch;

/*
 * A cluster's settings, sluice.yaml's stack.slurm (api/settings.c reads and
 * checks them; the project owns the storage).
 */
typedef struct orch_slurm_cfg {
	const char *partition;      /* sbatch --partition, or NULL */
	const char *account;        /* --account, or NULL */
	const char *qos;            /* --qos, or NULL */
	spec_resources defaults;    /* what a step that does not say asks for */
	const char *const *options; /* more sbatch options, passed as written */
	size_t n_options;
} orch_slurm_cfg;

typedef struct orch_config {
	const char *state_dir; /* the project's .sluice/ */
	int jobs;              /* -j: at most this many slots in use at once */
	const orch_slurm_cfg *slurm; /* stack.slurm, or NULL when sluice.yaml has none */
} orch_config;

/* What identifies a started task's processes, recorded with its step run. */
typedef struct orch_proc {
	int64_t pid;       /* process (and process group) id, or 0 */
	int64_t pid_start; /* its start time in clock ticks since boot, or 0 */
	char job_id[64];   /* a cluster orchestrator's job id, or "" */
} orch_proc;

typedef struct orch_result {
	void *tag;       /* as given to start */
	int exit_code;   /* 0 success; 128 + signal when killed; -1 when the status was lost */
	int signal;      /* the terminating signal, or 0 */
	bool timed_out;  /* stopped for running past its timeout (or a cluster's time limit) */
	/*
	 * When the orchestrator (a cluster) ended the task itself -- its time
	 * or memory limit, a node failure, a cancellation from elsewhere --
	 * what it said, which becomes the step's failure message; "" when the
	 * task ended on its own.
	 */
	char detail[256];
} orch_result;

typedef struct orch_ops {
	const char *name;
	int (*create)(const orch_config *cfg, orch **out);
	void (*destroy)(orch *o); /* accepts NULL; tasks must have ended */
	/* How many of the run's -j slots t takes (local: its cpus, 1 to jobs). */
	int (*slots)(orch *o, const orch_task *t);
	/*
	 * Starts t (writing its task.json first when it starts it through
	 * step-exec); tag comes back from wait. *out_proc receives what
	 * identifies its processes.
	 */
	int (*start)(orch *o, const orch_task *t, void *tag, orch_proc *out_proc);
	/*
	 * Waits up to timeout seconds (< 0: without limit, 0: only looks) for a
	 * started task to end. Returns 0 with *out filled; SL_EBUSY when the
	 * time passed with nothing ended; SL_ECANCEL when cancel_fd (>= 0)
	 * became readable or a signal interrupted the wait (the caller looks
	 * at its cancel state); SL_ENOENT when no task runs. Waits for its own
	 * tasks only: other children of the process are left alone.
	 */
	int (*wait)(orch *o, int cancel_fd, double timeout, orch_result *out);
	/* Stops every running task (TERM, then KILL after grace seconds) and
	 * reaps them; their tags are not returned by wait afterwards. */
	void (*cancel_all)(orch *o, double grace_sec);
	/*
	 * Ends whatever a step run of a dead driver left running, as recorded
	 * (p). Must not touch a process that merely reuses a recorded id.
	 * Returns 0 when nothing of it is left.
	 */
	int (*end_leftover)(const store_proc *p);
	/*
	 * Optional. Ends what a dead driver's run left that no step record
	 * names: a step started moments before the driver died, whose record
	 * was never written. Called after end_leftover on every recorded step.
	 */
	int (*end_run)(const char *run_id);
	/* -j when the user gives none; 0: the machine's cores. */
	int default_jobs;
	/*
	 * start takes long (a round trip to a cluster's controller): the
	 * scheduler does not hold the store's write lock across starts.
	 */
	bool slow_start;
} orch_ops;

extern const orch_ops orch_local_ops;
extern const orch_ops orch_slurm_ops;
/*
 * The Slurm orchestrator's sbatch command line for t (orch_slurm.c):
 * argv[0] "sbatch", NULL-terminated, newly allocated (orch_slurm_argv_free).
 * Resources are the step's, where it gives none the cluster's defaults
 * (cfg may be NULL); exe is the sluice executable the job runs.
 */
int orch_slurm_sbatch_argv(const orch_task *t, const orch_slurm_cfg *cfg, const char *exe,
			   char ***out);
void orch_slurm_argv_free(char **argv);
/* The local orchestrator's end_leftover (orch_proc.c, beside the /proc readers). */
int orch_local_end_leftover(const store_proc *p);
/* The local orchestrator's end_run: every process group carrying the run's marker. */
int orch_local_end_run(const char *run_id);
/* Tests set this to run the local orchestrator's wait without pidfds. */
extern bool orch_local_no_pidfd;

/* The orchestrator called name, or NULL. */
const orch_ops *orch_find(const char *name);
/* The known names, "local, ...", for messages. */
void orch_names(char *buf, size_t size);
/* Up to max of the known names into names; returns how many. */
size_t orch_all(const char **names, size_t max);

/* ---- processes (orch_proc.c) ------------------------------------------------ */

/*
 * The sluice executable that runs built-in steps (`sluice step-exec`), newly
 * allocated. In order: $SLUICE_EXE; this process's own executable when it
 * is named `sluice` (the host is the sluice command); `../bin/sluice` next
 * to the shared library this code was loaded from (an installed prefix);
 * `sluice` on $PATH. SL_ENOENT with a message saying to set SLUICE_EXE.
 */
int orch_exe(char **out);

/* A process's start time (clock ticks since boot, /proc/PID/stat), or 0. */
int64_t orch_proc_start(int64_t pid);
/*
 * True unless the process is known to be gone: no such pid, a zombie, or a
 * different process now holding the pid (its start time is not pid_start,
 * when pid_start is known). A pid that cannot be judged counts as alive.
 */
bool orch_proc_alive(int64_t pid, int64_t pid_start);

typedef struct orch_spawn_req {
	const char *path;   /* executable */
	char *const *argv;
	char *const *envp;
	const char *cwd;    /* or NULL */
	int fd_in, fd_out, fd_err; /* become 0, 1, 2; every other descriptor is closed */
} orch_spawn_req;

/*
 * Starts a process in a fresh image (clone with a shared address space and
 * the parent suspended until exec, as posix_spawn does: no copy of a large
 * or threaded parent), in its own process group, with default signal
 * dispositions and an empty signal mask, and tied to this thread: it gets
 * SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG, set
 * before exec, which keeps it), and exits at once should this process
 * already be gone by then. SL_ESYS when the exec failed (message says why).
 */
int orch_spawn(const orch_spawn_req *r, pid_t *out_pid);

/*
 * Recovery after a dead driver: for each run still "running" on host whose
 * driving process is gone, ends what its steps left running (through the
 * run's orchestrator) and records the run as failed. *out_n (may be NULL)
 * receives how many runs were recovered.
 */
int orch_recover(store *st, const char *host, int *out_n);

#endif
