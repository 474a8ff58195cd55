/*
 * The local orchestrator: each task is a forked child in its own process
 * group, so that cancelling a step also stops whatever its shell started
 * (python, make, ...), and so that a terminal's Ctrl-C reaches the scheduler
 * first, which then stops the steps in order and records them as cancelled.
 *
 * Built-in steps run in the forked child directly, without exec: starting a
 * step costs one fork, which keeps the engine's overhead per step near a
 * millisecond.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline/orch.h"

typedef struct child {
	pid_t pid;
	void *tag;
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
	o->n++;
	return 0;
}

static void *take(orch *o, pid_t pid)
{
	for (size_t i = 0; i < o->n; i++) {
		if (o->kids[i].pid == pid) {
			void *tag = o->kids[i].tag;
			o->kids[i] = o->kids[--o->n];
			return tag;
		}
	}
	return NULL;
}

static int local_wait(orch *o, void **out_tag, int *out_exit, int *out_signal)
{
	for (;;) {
		int status;
		pid_t pid;

		if (o->n == 0)
			return SL_ENOENT;
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				return SL_ECANCEL;
			return sl__err(SL_ESYS, "waitpid: %s", strerror(errno));
		}
		void *tag = take(o, pid);
		if (!tag)
			continue; /* not ours (e.g. a helper reaped late) */
		*out_tag = tag;
		*out_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		*out_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
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
			take(o, pid);
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
