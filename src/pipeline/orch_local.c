/*
 * The local orchestrator: each task is a child process of the driver, in a
 * fresh image (orch_spawn) and its own process group, so cancelling a step
 * also stops whatever its shell started (python, make, ...), and a
 * terminal's Ctrl-C reaches the driver first, which then stops the steps in
 * order and records them as cancelled.
 *
 *   built-in, plugin   sluice step-exec WORKDIR/task.json   (the sluice executable)
 *   command            /bin/sh -c COMMAND, with the environment step-exec
 *                      would give it (orch_task_env)
 *
 * A command task is exactly what `sluice step-exec` would exec after
 * reading its task.json, so the local orchestrator starts the shell
 * directly: one exec per step instead of two, which is most of the engine's
 * overhead per step, and writes no task.json for it (one file fewer to make
 * and remove per step). A cluster orchestrator writes it and runs it
 * through step-exec.
 *
 * Design notes
 *
 *  1. The driver may live in a threaded process that has children of its
 *     own, so this file waits for its own children only: each has a pidfd
 *     (pidfd_open), the wait is one poll() over them and the caller's
 *     cancel descriptor, and a child is reaped with waitpid(its pid). It
 *     never calls waitpid(-1). Where pidfds are missing (kernels before
 *     5.3, or no descriptors left), the same poll runs with a short timeout
 *     that grows from 1 ms to 50 ms, and each child is looked at with
 *     waitpid(pid, WNOHANG).
 *  2. Cancellation wakes the wait through a descriptor (the caller's
 *     eventfd), not by a signal interrupting a system call; a signal that
 *     does interrupt it is reported the same way.
 *  3. Timeouts: a task past its deadline gets SIGTERM for its whole group,
 *     then SIGKILL after a grace period; the poll's timeout is the nearest
 *     deadline, so a step that never ends cannot hold the run.
 *  4. A task's cpus count against -j (slots); a task asking for more cpus
 *     than -j allows takes all of them and runs alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline/orch.h"

#define KILL_GRACE_SEC 5.0
#define FALLBACK_MAX_NAP 0.05

extern char **environ;

typedef struct child {
	pid_t pid;
	int pidfd;       /* -1 when the kernel gave none (design note 1) */
	void *tag;
	double deadline; /* monotonic seconds; 0: none */
	bool timed_out;  /* SIGTERM sent for the timeout */
	double kill_at;  /* when SIGKILL follows; 0: sent or not due */
} child;

struct orch {
	orch_config cfg;
	char *exe;       /* the sluice executable, found at the first built-in step */
	int null_fd;     /* /dev/null, every task's stdin */
	child *kids;
	size_t n, cap;
	struct pollfd *pfds;
	size_t pfd_cap;
	double nap;      /* fallback polling interval */
};

bool orch_local_no_pidfd;

static int local_create(const orch_config *cfg, orch **out)
{
	orch *o = sl__calloc(1, sizeof *o);

	if (!o)
		return sl__err(SL_ENOMEM, "out of memory");
	o->cfg = *cfg;
	o->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (o->null_fd < 0) {
		sl__free(o);
		return sl__err(SL_ESYS, "/dev/null: %s", strerror(errno));
	}
	o->nap = 0.001;
	*out = o;
	return 0;
}

static void local_destroy(orch *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++)
		if (o->kids[i].pidfd >= 0)
			close(o->kids[i].pidfd);
	if (o->null_fd >= 0)
		close(o->null_fd);
	sl__free(o->exe);
	sl__free(o->kids);
	sl__free(o->pfds);
	sl__free(o);
}

static int local_slots(orch *o, const orch_task *t)
{
	int n = t->resources.cpus > 0 ? t->resources.cpus : 1;

	return n > o->cfg.jobs ? o->cfg.jobs : n;
}

static int local_start(orch *o, const orch_task *t, void *tag, orch_proc *out_proc)
{
	char *argv[4];
	char **env;
	orch_spawn_req req;
	pid_t pid;
	int log_fd, rc;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 8;
		child *k = sl__reallocarray(o->kids, cap, sizeof *k);
		if (!k)
			return sl__err(SL_ENOMEM, "out of memory");
		o->kids = k;
		o->cap = cap;
	}
	/* step-exec reads the task file; a command needs none (it is exec'd here). */
	if (t->kind != SPEC_RUN &&
	    ((!o->exe && (rc = orch_exe(&o->exe)) != 0) || (rc = orch_task_save(t)) != 0))
		return rc;
	env = orch_task_env(t, environ);
	if (!env)
		return SL_ENOMEM;
	log_fd = open(t->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		rc = sl__err(SL_EIO, "cannot open the step's log %s: %s", t->log_path,
			     strerror(errno));
		orch_env_free(env);
		return rc;
	}
	memset(&req, 0, sizeof req);
	if (t->kind == SPEC_RUN) {
		argv[0] = (char *)"sh";
		argv[1] = (char *)"-c";
		argv[2] = (char *)t->command;
		req.path = "/bin/sh";
		/* Commands run in the pipeline file's folder, as make runs in the
		 * Makefile's: relative paths in a pipeline mean the same everywhere. */
		req.cwd = t->pipeline_dir;
	} else {
		argv[0] = (char *)"sluice";
		argv[1] = (char *)"step-exec";
		argv[2] = (char *)t->task_path;
		req.path = o->exe;
	}
	argv[3] = NULL;
	req.argv = argv;
	req.envp = env;
	req.fd_in = o->null_fd;
	req.fd_out = log_fd;
	req.fd_err = log_fd;
	rc = orch_spawn(&req, &pid);
	close(log_fd);
	orch_env_free(env);
	if (rc)
		return rc;

	child *k = &o->kids[o->n++];
	k->pid = pid;
	k->pidfd = orch_local_no_pidfd ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
	k->tag = tag;
	k->deadline = t->timeout > 0 ? sl__mono_sec() + t->timeout : 0;
	k->timed_out = false;
	k->kill_at = 0;
	memset(out_proc, 0, sizeof *out_proc);
	out_proc->pid = pid;
	out_proc->pid_start = orch_proc_start(pid);
	return 0;
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

/* Reaps child i if it has ended: fills *out, removes it, true. */
static bool reap(orch *o, size_t i, orch_result *out)
{
	child *k = &o->kids[i];
	int status;
	pid_t got;

	do
		got = waitpid(k->pid, &status, WNOHANG);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return false;
	if (out) {
		memset(out, 0, sizeof *out);
		out->tag = k->tag;
		out->timed_out = k->timed_out;
		if (got < 0) {
			/* Someone else reaped it (a host calling waitpid(-1), or one
			 * ignoring SIGCHLD): the status is lost. */
			out->exit_code = -1;
			out->signal = 0;
		} else {
			out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
							   : 128 + WTERMSIG(status);
			out->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		}
	}
	if (k->pidfd >= 0)
		close(k->pidfd);
	o->kids[i] = o->kids[--o->n];
	return true;
}

static int grow_pfds(orch *o, size_t need)
{
	if (need <= o->pfd_cap)
		return 0;
	struct pollfd *p = sl__reallocarray(o->pfds, need, sizeof *p);
	if (!p)
		return sl__err(SL_ENOMEM, "out of memory");
	o->pfds = p;
	o->pfd_cap = need;
	return 0;
}

static int local_wait(orch *o, int cancel_fd, double timeout, orch_result *out)
{
	double until = timeout >= 0 ? sl__mono_sec() + timeout : -1;

	for (;;) {
		size_t np = 0, first_kid;
		bool fallback = false;
		double idle, wait_s;
		int ms, r;

		if (o->n == 0)
			return SL_ENOENT;
		idle = enforce_deadlines(o);
		if (grow_pfds(o, o->n + 1) != 0)
			return SL_ENOMEM;
		if (cancel_fd >= 0)
			o->pfds[np++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
		first_kid = np;
		for (size_t i = 0; i < o->n; i++) {
			o->pfds[np++] = (struct pollfd){.fd = o->kids[i].pidfd, .events = POLLIN};
			fallback |= o->kids[i].pidfd < 0; /* poll skips negative descriptors */
		}
		wait_s = idle;
		if (until >= 0) {
			double left = until - sl__mono_sec();
			if (left < 0)
				left = 0;
			if (wait_s < 0 || left < wait_s)
				wait_s = left;
		}
		if (fallback && (wait_s < 0 || wait_s > o->nap))
			wait_s = o->nap;
		ms = wait_s < 0 ? -1 : (int)ceil(wait_s * 1000.0);
		r = poll(o->pfds, np, ms);
		if (r < 0) {
			if (errno == EINTR)
				return SL_ECANCEL;
			return sl__err(SL_ESYS, "poll: %s", strerror(errno));
		}
		if (cancel_fd >= 0 && o->pfds[0].revents)
			return SL_ECANCEL;
		/* Children ended: pidfds that became readable, and in the fallback
		 * every child without one. Reaping swaps the last child into slot
		 * i, so walk from the end. */
		for (size_t i = o->n; i-- > 0;) {
			const struct pollfd *pf = &o->pfds[first_kid + i];
			if ((pf->fd < 0 || pf->revents) && reap(o, i, out)) {
				o->nap = 0.001;
				return 0;
			}
		}
		if (fallback && o->nap < FALLBACK_MAX_NAP)
			o->nap *= 2;
		if (until >= 0 && sl__mono_sec() >= until)
			return SL_EBUSY;
	}
}

static void local_cancel_all(orch *o, double grace_sec)
{
	double deadline = sl__mono_sec() + grace_sec;
	bool killed = false;

	for (size_t i = 0; i < o->n; i++)
		kill(-o->kids[i].pid, SIGTERM);
	while (o->n > 0) {
		double left = deadline - sl__mono_sec();
		orch_result res;
		int rc;

		if (left <= 0 && !killed) {
			for (size_t i = 0; i < o->n; i++)
				kill(-o->kids[i].pid, SIGKILL);
			killed = true;
		}
		rc = local_wait(o, -1, killed ? 1.0 : left, &res);
		if (rc != 0 && rc != SL_EBUSY && rc != SL_ECANCEL && rc != SL_ENOENT) {
			/* poll itself failed: wait for each child in turn instead. */
			for (size_t i = 0; i < o->n; i++)
				kill(-o->kids[i].pid, SIGKILL);
			while (o->n > 0) {
				int status;
				while (waitpid(o->kids[0].pid, &status, 0) < 0 && errno == EINTR)
					;
				if (o->kids[0].pidfd >= 0)
					close(o->kids[0].pidfd);
				o->kids[0] = o->kids[--o->n];
			}
		}
	}
	sl__err_clear();
}

const orch_ops orch_local_ops = {
	.name = "local",
	.create = local_create,
	.destroy = local_destroy,
	.slots = local_slots,
	.start = local_start,
	.wait = local_wait,
	.cancel_all = local_cancel_all,
	.end_leftover = orch_local_end_leftover,
	.end_run = orch_local_end_run,
};
