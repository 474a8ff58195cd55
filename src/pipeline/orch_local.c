/*
 * The local orchestrator: each task is a forked child in its own process
 * group, so that cancelling a step also stops whatever its shell started
 * (python, make, ...), and so that a terminal's Ctrl-C reaches the scheduler
 * first, which then stops the steps in order and records them as cancelled.
 *
 * Built-in steps run in the forked child directly, without exec: starting a
 * step costs one fork, which keeps the engine's overhead per step near a
 * millisecond.
 *
 * Timeouts: a task past its deadline gets SIGTERM for its whole group, then
 * SIGKILL after a grace period. While any running task has a deadline, the
 * wait polls (WNOHANG) with short sleeps instead of blocking in waitpid, so
 * a step that never ends cannot hold the run forever; without deadlines the
 * wait blocks and costs nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/orch.h"

#define KILL_GRACE_SEC 5.0

typedef struct child {
	pid_t pid;
	void *tag;
	double deadline; /* monotonic seconds; 0: none */
	bool timed_out;  /* SIGTERM sent for the timeout */
	double kill_at;  /* when SIGKILL follows */
} child;

struct orch {
	child *kids;
	size_t n, cap;
};

static int local_create(const char *state_dir, orch **out)
{
	orch *o = sl__calloc(1, sizeof *o);

	(void)state_dir;
	if (!o)
		return sl__err(SL_ENOMEM, "out of memory");
	*out = o;
	return 0;
}

static void local_destroy(orch *o)
{
	if (!o)
		return;
	sl__free(o->kids);
	sl__free(o);
}

static int local_start(orch *o, const orch_task *t, void *tag)
{
	pid_t pid;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 8;
		child *k = sl__reallocarray(o->kids, cap, sizeof *k);
		if (!k)
			return sl__err(SL_ENOMEM, "out of memory");
		o->kids = k;
		o->cap = cap;
	}
	/* Buffered output would be written twice, once by each process. */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return sl__err(SL_ESYS, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* The child: own process group, default signal dispositions. */
		setpgid(0, 0);
		/* A step must not outlive a scheduler killed with -9. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		_exit(orch_exec_task(t));
	}
	/* Set it from both sides so a kill right after fork hits the group. */
	setpgid(pid, pid);
	o->kids[o->n].pid = pid;
	o->kids[o->n].tag = tag;
	o->kids[o->n].deadline = t->timeout > 0 ? sl__mono_sec() + t->timeout : 0;
	o->kids[o->n].timed_out = false;
	o->kids[o->n].kill_at = 0;
	o->n++;
	return 0;
}

static void *take(orch *o, pid_t pid, bool *out_timed_out)
{
	for (size_t i = 0; i < o->n; i++) {
		if (o->kids[i].pid == pid) {
			void *tag = o->kids[i].tag;
			if (out_timed_out)
				*out_timed_out = o->kids[i].timed_out;
			o->kids[i] = o->kids[--o->n];
			return tag;
		}
	}
	return NULL;
}

/*
 * Signals the tasks past their deadline (TERM, then KILL after the grace
 * period) and returns how long the caller may sleep before the next
 * deadline matters, or -1 when no running task has one.
 */
static double enforce_deadlines(orch *o)
{
	double now = sl__mono_sec(), next = -1;

	for (size_t i = 0; i < o->n; i++) {
		child *k = &o->kids[i];
		double at;
		if (!k->deadline)
			continue;
		if (!k->timed_out && now >= k->deadline) {
			kill(-k->pid, SIGTERM);
			k->timed_out = true;
			k->kill_at = now + KILL_GRACE_SEC;
		} else if (k->timed_out && k->kill_at && now >= k->kill_at) {
			kill(-k->pid, SIGKILL);
			k->kill_at = 0;
		}
		at = !k->timed_out ? k->deadline : k->kill_at ? k->kill_at : 0;
		if (at && (next < 0 || at - now < next))
			next = at - now;
	}
	return next;
}

static int local_wait(orch *o, void **out_tag, int *out_exit, int *out_signal, bool *out_timed_out)
{
	for (;;) {
		int status;
		pid_t pid;
		double idle;

		if (o->n == 0)
			return SL_ENOENT;
		idle = enforce_deadlines(o);
		pid = waitpid(-1, &status, idle < 0 ? 0 : WNOHANG);
		if (pid == 0) {
			/* Deadlines pending and nothing ended: sleep a little (a
			 * signal cuts the sleep short, as it would cut waitpid). */
			struct timespec ts;
			double nap = idle < 0.05 ? (idle > 0.001 ? idle : 0.001) : 0.05;
			ts.tv_sec = 0;
			ts.tv_nsec = (long)(nap * 1e9);
			if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
				return SL_ECANCEL;
			continue;
		}
		if (pid < 0) {
			if (errno == EINTR)
				return SL_ECANCEL;
			return sl__err(SL_ESYS, "waitpid: %s", strerror(errno));
		}
		bool timed_out = false;
		void *tag = take(o, pid, &timed_out);
		if (!tag)
			continue; /* not ours (e.g. a helper reaped late) */
		*out_tag = tag;
		*out_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		*out_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		*out_timed_out = timed_out;
		return 0;
	}
}

static void local_cancel_all(orch *o, double grace_sec)
{
	double deadline = sl__mono_sec() + grace_sec;

	for (size_t i = 0; i < o->n; i++)
		kill(-o->kids[i].pid, SIGTERM);
	while (o->n > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			take(o, pid, NULL);
			continue;
		}
		if (pid < 0 && errno != EINTR)
			break;
		if (sl__mono_sec() > deadline) {
			for (size_t i = 0; i < o->n; i++)
				kill(-o->kids[i].pid, SIGKILL);
			deadline = sl__mono_sec() + 60;
		}
		usleep(10000);
	}
	o->n = 0;
}

const orch_ops orch_local_ops = {
	.name = "local",
	.create = local_create,
	.destroy = local_destroy,
	.start = local_start,
	.wait = local_wait,
	.cancel_all = local_cancel_all,
};
