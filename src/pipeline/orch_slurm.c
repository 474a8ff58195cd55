/*
 * The Slurm orchestrator (`stack: { orchestrator: slurm }`): each step is a
 * batch job that runs `sluice step-exec WORKDIR/task.json`, the same code
 * path as the local orchestrator's built-in steps, on whichever node Slurm
 * picks. The driver (`sluice run` on a login node) talks to Slurm only
 * through its commands -- sbatch, squeue, scontrol, scancel -- so it needs
 * nothing but a working client configuration (SLURM_CONF or the system's).
 *
 *   start          task.json, then sbatch --parsable ... --wrap "exec SLUICE
 *                  step-exec TASK"; the job id is recorded with the step run
 *   wait           squeue for the states of the run's jobs, polled with a
 *                  backoff; a job that left the queue's live states gets
 *                  scontrol -o show job for its exit code and reason
 *   cancel_all     scancel of every job of the run, then waits (bounded)
 *                  for Slurm to end them
 *   end_leftover   scancel of a dead driver's job, if it is still queued or
 *                  running and is the one sluice submitted (its comment
 *                  names the step run)
 *
 *   job states   PENDING --> RUNNING --> COMPLETING --> COMPLETED | FAILED | ...
 *                   |           |  (the step's timeout: scancel, timed_out)
 *                   +-----------+--> CANCELLED | TIMEOUT | OUT_OF_MEMORY | NODE_FAIL ...
 *
 * Design notes
 *
 *  1. Jobs are submitted as their steps become ready, not all at once with
 *     --dependency=afterok. A step's cache key holds the content hashes of
 *     its inputs, which exist only once the steps before it have ended, and
 *     its task names the verified artifacts it reads; submitting ahead would
 *     give up the cache (a rerun could not resume from it) and the artifact
 *     store's checks, and would leave to Slurm what a failed upstream step
 *     means (sluice skips its dependents and records why). The price is the
 *     poll interval of note 2 per dependency hop.
 *  2. No tight polling. One squeue call asks for all of the run's jobs at
 *     once, at most every POLL_MIN seconds: at that pace for POLL_FAST
 *     seconds after a submission or a change (a short step, the common case
 *     in a chain, is seen within POLL_MIN of its end), then 1.5 times
 *     longer each time nothing changed, up to POLL_MAX, so a long step
 *     costs an RPC every POLL_MAX seconds. The wait sleeps in poll() on the
 *     caller's cancellation descriptor, so Ctrl-C is seen at once.
 *  3. Exit status. A job squeue shows COMPLETED exited 0. For any other
 *     end, Slurm's accounting (sacct) may be absent, as on the test cluster
 *     (accounting_storage/none); scontrol knows a finished job for
 *     MinJobAge (5 minutes by default), far longer than a poll interval,
 *     and its ExitCode=N:S gives the step's exit code or signal. A job Slurm ended
 *     itself (its time limit, memory, a node failure, a cancellation by
 *     someone else) fails its step with Slurm's state and reason as the
 *     message; one whose step failed on its own fails the usual way (its
 *     error.txt or the end of its log). A job neither squeue nor scontrol
 *     knows any more has lost its status (exit -1).
 *  4. The job's stdout and stderr are the step's log (--output, appended),
 *     so `sluice runs show RUN --log STEP` shows what the job printed.
 *  5. Shared paths. The task, the work folder, the outputs and the log live
 *     in the project's .sluice/ and the artifacts in .sluice/artifacts/:
 *     the project folder must be on a filesystem every node mounts at the
 *     same path, and the sluice executable (orch_exe) too.
 *  6. Commands run as children of the driver through orch_spawn (no fork
 *     of a possibly threaded driver), with their output read from pipes and
 *     each waited for by its pid, within CMD_TIMEOUT. A submission that
 *     meets a busy controller is tried again a few times with a backoff.
 *  7. A step's timeout is the driver's to enforce, as locally: counted from
 *     when the job is first seen running, then scancel, and the step fails
 *     with reason timeout. `resources: time` is Slurm's own limit (--time).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline/orch.h"

#define POLL_MIN 0.25
#define POLL_MAX 5.0
#define POLL_FAST 2.0 /* seconds after a change during which POLL_MIN holds */
#define CMD_TIMEOUT 120.0
#define CMD_OUTPUT_MAX ((size_t)16 << 20)
#define SUBMIT_TRIES 4
#define SQUEUE_BATCH 200 /* job ids per squeue call */
#define STATUS_LOST_SEC 600.0 /* squeue failing this long: the jobs are lost */

extern char **environ;

typedef struct job {
	char id[32];
	char steprun[STORE_ID_SIZE];
	void *tag;
	double timeout;    /* the step's timeout, seconds; 0: none */
	double deadline;   /* monotonic; set when first seen running */
	bool timed_out;    /* scancel sent for the timeout */
	bool ended;        /* result holds its end */
	bool seen;         /* listed by the last squeue */
	orch_result result;
	char state[24];
} job;

struct orch {
	orch_config cfg;
	char *exe;              /* the sluice executable */
	char *bin[4];           /* sbatch, squeue, scontrol, scancel */
	job *jobs;
	size_t n, cap;
	double interval;        /* note 2 */
	double next_poll;       /* monotonic */
	double changed_at;      /* monotonic: the last submission or change seen */
	double failing_since;   /* squeue failing since; 0 when it answers */
};

enum { SBATCH, SQUEUE, SCONTROL, SCANCEL };
static const char *const bin_names[] = {"sbatch", "squeue", "scontrol", "scancel"};

/* ---- running Slurm's commands (note 6) ----------------------------------------------- */

/* The command name on $PATH, newly allocated, or NULL. */
static char *find_on_path(const char *name)
{
	const char *path = getenv("PATH");
	char *dirs, *save = NULL, *found = NULL;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	if (!(dirs = sl__strdup(path)))
		return NULL;
	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *p = sl__path_join(*d ? d : ".", name);
		if (p && access(p, X_OK) == 0 && sl__is_file(p))
			found = p;
		else
			sl__free(p);
	}
	sl__free(dirs);
	return found;
}

/*
 * Runs argv[0] (the full path in bin) with argv, stdin from /dev/null;
 * collects stdout into out and stderr into err (both initialised here;
 * the caller frees them). *out_status: the exit status, or 128 + signal.
 */
static int run_cmd(const char *bin, char *const *argv, sl__buf *out, sl__buf *err,
		   int *out_status)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, devnull, status = 0, rc = 0;
	orch_spawn_req req;
	pid_t pid = -1;
	double until = sl__mono_sec() + CMD_TIMEOUT;

	sl__buf_init(out, CMD_OUTPUT_MAX);
	sl__buf_init(err, CMD_OUTPUT_MAX);
	*out_status = -1;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		rc = sl__err(SL_ESYS, "running %s: %s", bin, strerror(errno));
		goto out;
	}
	memset(&req, 0, sizeof req);
	req.path = bin;
	req.argv = argv;
	req.envp = environ;
	req.fd_in = devnull;
	req.fd_out = po[1];
	req.fd_err = pe[1];
	rc = orch_spawn(&req, &pid);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (rc)
		goto out;
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
		double left = until - sl__mono_sec();
		char chunk[8192];
		int r;

		if (left <= 0) {
			kill(pid, SIGKILL);
			rc = sl__err(SL_EBUSY, "%s did not answer within %.0f s", argv[0], CMD_TIMEOUT);
			break;
		}
		r = poll(pf, 2, (int)ceil(left * 1000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = sl__err(SL_ESYS, "running %s: poll: %s", argv[0], strerror(errno));
			kill(pid, SIGKILL);
			break;
		}
		for (int k = 0; k < 2; k++) {
			ssize_t got;
			if (pf[k].fd < 0 || !pf[k].revents)
				continue;
			got = read(pf[k].fd, chunk, sizeof chunk);
			if (got > 0) {
				if (sl__buf_append(k ? err : out, chunk, (size_t)got)) {
					kill(pid, SIGKILL);
					rc = sl__err(SL_ELIMIT, "%s wrote more than %zu bytes", argv[0],
						     CMD_OUTPUT_MAX);
				}
			} else if (got == 0 || errno != EINTR) {
				close(pf[k].fd);
				if (k)
					pe[0] = -1;
				else
					po[0] = -1;
				open_fds--;
			}
		}
		if (rc)
			break;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	/* NUL-terminated text, the terminator not counted. */
	for (int k = 0; k < 2 && rc == 0; k++) {
		sl__buf *b = k ? err : out;
		if (sl__buf_putc(b, '\0'))
			rc = sl__oom();
		else
			b->len--;
	}
out:
	for (int k = 0; k < 2; k++) {
		if (po[k] >= 0)
			close(po[k]);
		if (pe[k] >= 0)
			close(pe[k]);
	}
	if (devnull >= 0)
		close(devnull);
	return rc;
}

/* The first line of a command's complaint, for a message. */
static const char *first_line(const sl__buf *b, char *buf, size_t size)
{
	const char *s = b->data ? b->data : "";
	size_t n;

	while (*s == '\n' || *s == ' ')
		s++;
	n = strcspn(s, "\n");
	snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), s);
	return buf[0] ? buf : "no message";
}

/* ---- sbatch's arguments ------------------------------------------------------------- */

/* 'text' with every ' written as '\'' : a word for /bin/sh. */
static int sh_quote(sl__buf *b, const char *text)
{
	int rc = sl__buf_putc(b, '\'');

	for (const char *p = text; rc == 0 && *p; p++)
		rc = *p == '\'' ? sl__buf_puts(b, "'\\''") : sl__buf_putc(b, *p);
	return rc ? rc : sl__buf_putc(b, '\'');
}

/* The resources a job asks for: the step's, or the cluster's defaults where it says nothing. */
static spec_resources job_resources(const orch_task *t, const orch_slurm_cfg *cfg)
{
	spec_resources r = t->resources;

	if (cfg) {
		if (!r.cpus)
			r.cpus = cfg->defaults.cpus;
		if (!r.memory)
			r.memory = cfg->defaults.memory;
		if (!r.time)
			r.time = cfg->defaults.time;
		if (!r.gpus)
			r.gpus = cfg->defaults.gpus;
	}
	return r;
}

void orch_slurm_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		sl__free(argv[i]);
	sl__free(argv);
}

int orch_slurm_sbatch_argv(const orch_task *t, const orch_slurm_cfg *cfg, const char *exe,
			   char ***out)
{
	spec_resources r = job_resources(t, cfg);
	size_t n_extra = cfg ? cfg->n_options : 0, n = 0;
	char **argv = sl__calloc(24 + n_extra, sizeof *argv);
	sl__buf wrap;
	int rc = 0;

	*out = NULL;
	if (!argv)
		return sl__oom();
	sl__buf_init(&wrap, 0);
#define ARG(...)                                                        \
	do {                                                            \
		if (rc == 0 && !(argv[n++] = sl__asprintf(__VA_ARGS__))) \
			rc = sl__oom();                                 \
	} while (0)
	ARG("sbatch");
	ARG("--parsable");
	ARG("--job-name=sluice:%s:%s", t->pipeline, t->step);
	/* end_leftover knows its job by this (design note: a job id may be reused). */
	ARG("--comment=sluice:%s", t->steprun_id);
	ARG("--output=%s", t->log_path);
	ARG("--open-mode=append");
	ARG("--chdir=%s", t->pipeline_dir);
	ARG("--export=ALL");
	/* A requeued job would run the step a second time behind the driver's back. */
	ARG("--no-requeue");
	if (cfg && cfg->partition)
		ARG("--partition=%s", cfg->partition);
	if (cfg && cfg->account)
		ARG("--account=%s", cfg->account);
	if (cfg && cfg->qos)
		ARG("--qos=%s", cfg->qos);
	if (r.cpus)
		ARG("--cpus-per-task=%d", r.cpus);
	if (r.memory) /* megabytes, rounded up */
		ARG("--mem=%lluM", (unsigned long long)((r.memory + (1 << 20) - 1) >> 20));
	if (r.time) /* minutes, rounded up: Slurm's unit */
		ARG("--time=%llu", (unsigned long long)ceil(r.time / 60.0));
	if (r.gpus)
		ARG("--gpus=%d", r.gpus);
	for (size_t i = 0; i < n_extra; i++)
		ARG("%s", cfg->options[i]);
	if (rc == 0 && (sl__buf_puts(&wrap, "exec ") || sh_quote(&wrap, exe) ||
			sl__buf_puts(&wrap, " step-exec ") || sh_quote(&wrap, t->task_path)))
		rc = sl__oom();
	if (rc == 0)
		ARG("--wrap=%s", wrap.data);
#undef ARG
	sl__buf_free(&wrap);
	if (rc) {
		orch_slurm_argv_free(argv);
		return rc;
	}
	*out = argv;
	return 0;
}

/* ---- states ------------------------------------------------------------------------- */

/* A state squeue shows for a job that is still to end. */
static bool live_state(const char *s)
{
	static const char *const live[] = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING",
					   "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
					   "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
					   "RESV_DEL_HOLD"};
	for (size_t i = 0; i < SL__ARRAY_LEN(live); i++)
		if (!strcmp(s, live[i]))
			return true;
	return false;
}

/* The value of KEY= in scontrol's one-line output, into buf. */
static const char *field(const char *line, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);

	buf[0] = '\0';
	for (const char *p = line; p && *p; p = strchr(p, ' ')) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, " \n");
			snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), p + klen + 1);
			return buf;
		}
	}
	return buf;
}

/*
 * Fills j->result from what scontrol says of the ended job (note 3). state
 * is what squeue said last (used when scontrol no longer knows the job).
 */
static void job_end(orch *o, job *j)
{
	char *argv[] = {(char *)"scontrol", (char *)"-o", (char *)"show", (char *)"job", j->id, NULL};
	char st[32], reason[128], code[32], why[96];
	sl__buf out, err;
	int status = 0;
	unsigned ec = 0, sig = 0;

	memset(&j->result, 0, sizeof j->result);
	j->result.tag = j->tag;
	j->result.timed_out = j->timed_out;
	j->ended = true;
	if (!strcmp(j->state, "COMPLETED"))
		return; /* exit code 0: nothing more to ask */
	if (run_cmd(o->bin[SCONTROL], argv, &out, &err, &status) != 0 || status != 0 ||
	    !field(out.data, "JobState", st, sizeof st)[0]) {
		/* Purged already: the state squeue last showed is all there is. */
		j->result.exit_code = -1;
		snprintf(j->result.detail, sizeof j->result.detail,
			 "slurm job %s ended %s, and Slurm no longer knows how (%s)", j->id,
			 j->state[0] ? j->state : "in an unknown state", first_line(&err, why, sizeof why));
		sl__buf_free(&out);
		sl__buf_free(&err);
		sl__err_clear();
		return;
	}
	field(out.data, "Reason", reason, sizeof reason);
	field(out.data, "ExitCode", code, sizeof code);
	sl__buf_free(&out);
	sl__buf_free(&err);
	if (sscanf(code, "%u:%u", &ec, &sig) < 1)
		ec = 1;
	j->result.exit_code = sig ? 128 + (int)sig : (int)ec;
	j->result.signal = (int)sig;
	if (!strcmp(st, "COMPLETED") || (!strcmp(st, "FAILED") && !strcmp(reason, "NonZeroExitCode")))
		return; /* the step's own end: the scheduler reads why */
	if (!strcmp(st, "CANCELLED") && j->timed_out)
		return; /* ours, for the step's timeout */
	/* Slurm ended it: its word is the reason. */
	if (!strcmp(st, "TIMEOUT") || !strcmp(st, "DEADLINE"))
		j->result.timed_out = true;
	if (!j->result.exit_code)
		j->result.exit_code = 1;
	snprintf(j->result.detail, sizeof j->result.detail, "slurm job %s ended %s%s%s%s", j->id, st,
		 strcmp(reason, "None") && reason[0] ? " (" : "",
		 strcmp(reason, "None") && reason[0] ? reason : "",
		 strcmp(reason, "None") && reason[0] ? ")" : "");
	if (sig) {
		size_t len = strlen(j->result.detail);
		snprintf(j->result.detail + len, sizeof j->result.detail - len, ", signal %u", sig);
	}
}

/*
 * One squeue call for the run's jobs that have not ended (in batches of
 * SQUEUE_BATCH ids): updates their states, ends those that left the live
 * states. Returns whether anything changed.
 */
static bool poll_jobs(orch *o)
{
	bool changed = false, failed = false;

	for (size_t first = 0; first < o->n; first += SQUEUE_BATCH) {
		size_t last = first + SQUEUE_BATCH < o->n ? first + SQUEUE_BATCH : o->n;
		char *argv[] = {(char *)"squeue", (char *)"-h", (char *)"-t", (char *)"all",
				(char *)"-o", (char *)"%i|%T", NULL, NULL};
		sl__buf ids, out, err;
		int status = 0, rc;
		bool any = false;

		sl__buf_init(&ids, 0);
		for (size_t i = first; i < last; i++) {
			o->jobs[i].seen = false;
			if (!o->jobs[i].ended) {
				sl__buf_printf(&ids, "%s%s", any ? "," : "--jobs=", o->jobs[i].id);
				any = true;
			}
		}
		if (!any || !ids.data) {
			sl__buf_free(&ids);
			continue;
		}
		argv[6] = ids.data;
		rc = run_cmd(o->bin[SQUEUE], argv, &out, &err, &status);
		sl__buf_free(&ids);
		/* Every id unknown is an error for squeue: then none is in the queue. */
		if (rc || (status != 0 && !strstr(err.data ? err.data : "", "Invalid job id"))) {
			failed = true;
			sl__buf_free(&out);
			sl__buf_free(&err);
			sl__err_clear();
			continue;
		}
		for (char *line = out.data, *next; line && *line; line = next) {
			char *bar = strchr(line, '|');
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (!bar)
				continue;
			*bar = '\0';
			for (size_t i = first; i < last; i++) {
				job *j = &o->jobs[i];
				if (j->ended || strcmp(j->id, line))
					continue;
				j->seen = true;
				if (strcmp(j->state, bar + 1)) {
					snprintf(j->state, sizeof j->state, "%s", bar + 1);
					changed = true;
				}
				if (!strcmp(j->state, "RUNNING") && j->timeout > 0 && !j->deadline)
					j->deadline = sl__mono_sec() + j->timeout;
			}
		}
		sl__buf_free(&out);
		sl__buf_free(&err);
		for (size_t i = first; i < last; i++) {
			job *j = &o->jobs[i];
			if (!j->ended && (!j->seen || !live_state(j->state))) {
				job_end(o, j);
				changed = true;
			}
		}
	}
	if (failed && !o->failing_since)
		o->failing_since = sl__mono_sec();
	else if (!failed)
		o->failing_since = 0;
	return changed;
}

static int scancel(orch *o, const char *const *ids, size_t n)
{
	char **argv = sl__calloc(n + 2, sizeof *argv);
	sl__buf out, err;
	int status = 0, rc;

	if (!argv)
		return sl__oom();
	argv[0] = (char *)"scancel";
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = (char *)ids[i];
	rc = run_cmd(o->bin[SCANCEL], argv, &out, &err, &status);
	sl__free(argv);
	if (rc == 0 && status != 0) {
		char why[256];
		rc = sl__err(SL_ESTEP, "scancel: %s", first_line(&err, why, sizeof why));
	}
	sl__buf_free(&out);
	sl__buf_free(&err);
	return rc;
}

/* ---- the orchestrator ------------------------------------------------------------- */

static void slurm_destroy(orch *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < SL__ARRAY_LEN(o->bin); i++)
		sl__free(o->bin[i]);
	sl__free(o->exe);
	sl__free(o->jobs);
	sl__free(o);
}

static int slurm_create(const orch_config *cfg, orch **out)
{
	orch *o = sl__calloc(1, sizeof *o);

	if (!o)
		return sl__oom();
	o->cfg = *cfg;
	o->interval = POLL_MIN;
	for (size_t i = 0; i < SL__ARRAY_LEN(bin_names); i++)
		if (!(o->bin[i] = find_on_path(bin_names[i]))) {
			slurm_destroy(o);
			return sl__err(SL_EUNSUP,
				       "stack.orchestrator is slurm, but %s is not on PATH: run on a "
				       "machine with Slurm's client commands (a login node)",
				       bin_names[i]);
		}
	*out = o;
	return 0;
}

/* Every job is its own allocation: a step takes one of -j's submissions. */
static int slurm_slots(orch *o, const orch_task *t)
{
	(void)o;
	(void)t;
	return 1;
}

static bool transient(const char *msg)
{
	return msg && (strstr(msg, "temporarily") || strstr(msg, "timed out") ||
		       strstr(msg, "Unable to contact") || strstr(msg, "Socket timed out"));
}

static int slurm_start(orch *o, const orch_task *t, void *tag, orch_proc *out_proc)
{
	char **argv = NULL;
	sl__buf out, err;
	unsigned delay_ms = 200;
	int status = 0, rc;
	job *j;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		job *v = sl__reallocarray(o->jobs, cap, sizeof *v);
		if (!v)
			return sl__oom();
		o->jobs = v;
		o->cap = cap;
	}
	if ((!o->exe && (rc = orch_exe(&o->exe)) != 0) || (rc = orch_task_save(t)) != 0 ||
	    (rc = orch_slurm_sbatch_argv(t, o->cfg.slurm, o->exe, &argv)) != 0)
		return rc;
	for (int attempt = 1;; attempt++) {
		char why[512];
		rc = run_cmd(o->bin[SBATCH], argv, &out, &err, &status);
		if (rc == 0 && status == 0)
			break;
		if (rc == 0) {
			first_line(&err, why, sizeof why);
			if (attempt < SUBMIT_TRIES && transient(err.data)) {
				sl__buf_free(&out);
				sl__buf_free(&err);
				usleep(delay_ms * 1000);
				delay_ms *= 3;
				continue;
			}
			rc = sl__err(SL_ESTEP, "sbatch refused the job: %s", why);
		}
		break;
	}
	orch_slurm_argv_free(argv);
	if (rc == 0) {
		/* --parsable: "ID" or "ID;CLUSTER". */
		size_t n = out.data ? strspn(out.data, "0123456789_") : 0;
		if (n == 0 || n >= sizeof j->id)
			rc = sl__err(SL_ESTEP, "sbatch gave no job id (it said: %.200s)",
				     out.data ? out.data : "");
		j = &o->jobs[o->n];
		memset(j, 0, sizeof *j);
		if (rc == 0)
			snprintf(j->id, sizeof j->id, "%.*s", (int)n, out.data);
	}
	sl__buf_free(&out);
	sl__buf_free(&err);
	if (rc)
		return rc;
	j = &o->jobs[o->n++];
	snprintf(j->steprun, sizeof j->steprun, "%s", t->steprun_id);
	j->tag = tag;
	j->timeout = t->timeout;
	snprintf(j->state, sizeof j->state, "PENDING");
	memset(out_proc, 0, sizeof *out_proc);
	snprintf(out_proc->job_id, sizeof out_proc->job_id, "%s", j->id);
	/* Something new to watch: look soon (note 2). */
	o->interval = POLL_MIN;
	o->changed_at = sl__mono_sec();
	o->next_poll = o->changed_at + POLL_MIN;
	return 0;
}

/* Hands over an ended job (removing it); false when none has ended. */
static bool take_ended(orch *o, orch_result *out)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->jobs[i].ended) {
			*out = o->jobs[i].result;
			o->jobs[i] = o->jobs[--o->n];
			return true;
		}
	return false;
}

/* Cancels the jobs past their step's timeout (note 7); the nearest deadline, or -1. */
static double enforce_deadlines(orch *o)
{
	double now = sl__mono_sec(), next = -1;

	for (size_t i = 0; i < o->n; i++) {
		job *j = &o->jobs[i];
		const char *id = j->id;
		if (j->ended || !j->deadline || j->timed_out)
			continue;
		if (now >= j->deadline) {
			j->timed_out = true;
			if (scancel(o, &id, 1) != 0)
				sl__err_clear(); /* it may have ended meanwhile */
			o->interval = POLL_MIN;
			o->changed_at = now;
			o->next_poll = now;
		} else if (next < 0 || j->deadline - now < next) {
			next = j->deadline - now;
		}
	}
	return next;
}

static int slurm_wait(orch *o, int cancel_fd, double timeout, orch_result *out)
{
	double until = timeout >= 0 ? sl__mono_sec() + timeout : -1;

	for (;;) {
		double now, sleep_s, dl;
		struct pollfd pf = {.fd = cancel_fd, .events = POLLIN};
		int r;

		if (take_ended(o, out))
			return 0;
		if (o->n == 0)
			return SL_ENOENT;
		now = sl__mono_sec();
		if (now >= o->next_poll) {
			bool changed = poll_jobs(o);
			if (o->failing_since && now - o->failing_since > STATUS_LOST_SEC)
				return sl__err(SL_ESYS, "squeue has not answered for %.0f s: the run's "
							"jobs cannot be followed",
					       now - o->failing_since);
			if (changed)
				o->changed_at = now;
			o->interval = now - o->changed_at < POLL_FAST ? POLL_MIN
				      : o->interval * 1.5 > POLL_MAX ? POLL_MAX
								     : o->interval * 1.5;
			o->next_poll = sl__mono_sec() + o->interval;
			if (take_ended(o, out))
				return 0;
		}
		dl = enforce_deadlines(o);
		now = sl__mono_sec();
		sleep_s = o->next_poll - now;
		if (dl >= 0 && dl < sleep_s)
			sleep_s = dl;
		if (until >= 0) {
			if (now >= until)
				return SL_EBUSY;
			if (until - now < sleep_s)
				sleep_s = until - now;
		}
		if (sleep_s < 0)
			sleep_s = 0;
		r = poll(cancel_fd >= 0 ? &pf : NULL, cancel_fd >= 0 ? 1 : 0,
			 (int)ceil(sleep_s * 1000));
		if (r < 0 && errno == EINTR)
			return SL_ECANCEL;
		if (r > 0)
			return SL_ECANCEL;
	}
}

static void slurm_cancel_all(orch *o, double grace_sec)
{
	const char **ids = sl__calloc(o->n + 1, sizeof *ids);
	double until = sl__mono_sec() + grace_sec + 10;
	size_t n = 0;

	for (size_t i = 0; ids && i < o->n; i++)
		if (!o->jobs[i].ended)
			ids[n++] = o->jobs[i].id;
	if (n && scancel(o, ids, n) != 0)
		sl__err_clear();
	sl__free(ids);
	/* Slurm signals the jobs and kills them after its KillWait: wait for
	 * that, bounded, so the run's end does not race its jobs' last writes. */
	for (unsigned nap = 100000;;) {
		bool live = false;
		poll_jobs(o);
		for (size_t i = 0; i < o->n; i++)
			live |= !o->jobs[i].ended;
		if (!live || sl__mono_sec() >= until)
			break;
		usleep(nap);
		if (nap < 1000000)
			nap *= 2;
	}
	o->n = 0;
	sl__err_clear();
}

/* A dead driver's job: cancelled if it is still queued or running and is ours. */
static int slurm_end_leftover(const store_proc *p)
{
	char *argv[] = {(char *)"squeue", (char *)"-h", (char *)"-o", (char *)"%T|%k", NULL, NULL};
	char jobs[96], mine[STORE_ID_SIZE + 16], *bin;
	sl__buf out, err;
	int status = 0, rc;

	if (!p->job_id[0])
		return 0;
	if (!(bin = find_on_path("squeue")))
		return sl__err(SL_EUNSUP, "squeue is not on PATH: cannot end slurm job %s",
			       p->job_id);
	snprintf(jobs, sizeof jobs, "--jobs=%s", p->job_id);
	argv[4] = jobs;
	rc = run_cmd(bin, argv, &out, &err, &status);
	sl__free(bin);
	snprintf(mine, sizeof mine, "|sluice:%s", p->id);
	if (rc == 0 && status == 0 && out.data && strstr(out.data, mine)) {
		char state[32];
		snprintf(state, sizeof state, "%.*s", (int)strcspn(out.data, "|"), out.data);
		if (live_state(state)) {
			char *cancel[] = {(char *)"scancel", (char *)p->job_id, NULL};
			sl__buf o2, e2;
			int st2 = 0;
			char *sc = find_on_path("scancel");
			rc = sc ? run_cmd(sc, cancel, &o2, &e2, &st2)
				: sl__err(SL_EUNSUP, "scancel is not on PATH");
			if (sc) {
				sl__buf_free(&o2);
				sl__buf_free(&e2);
			}
			sl__free(sc);
			if (rc == 0 && st2 != 0)
				rc = sl__err(SL_ESYS, "scancel %s failed", p->job_id);
		}
	}
	sl__buf_free(&out);
	sl__buf_free(&err);
	return rc;
}

const orch_ops orch_slurm_ops = {
	.name = "slurm",
	.create = slurm_create,
	.destroy = slurm_destroy,
	.slots = slurm_slots,
	.start = slurm_start,
	.wait = slurm_wait,
	.cancel_all = slurm_cancel_all,
	.end_leftover = slurm_end_leftover,
	.default_jobs = 256,
	.slow_start = true,
};
