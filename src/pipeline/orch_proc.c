/*
 * Processes, for the orchestrators: starting a task's process without
 * forking the driver, finding the sluice executable, judging whether a
 * recorded process is still the one we started, recovering after a dead
 * driver, and the registry of orchestrators.
 *
 * Design notes
 *
 *  1. The driver may be a threaded process (a model server retraining).
 *     fork() there copies one thread and whatever locks the others held, so
 *     nothing here forks: orch_spawn clones with a shared address space and
 *     the parent suspended until the child has exec'd (what posix_spawn
 *     does inside glibc), running only system calls in between. It does
 *     what posix_spawn cannot: PR_SET_PDEATHSIG before exec (the setting
 *     survives exec), so a step dies with the thread driving it.
 *  2. Between clone and prctl the driver may already have died; the child
 *     then compares getppid() with the pid it was started from and exits.
 *  3. A pid is not an identity: after a crash and some time the number may
 *     belong to anything. A recorded process is ours only if its start time
 *     (field 22 of /proc/PID/stat, clock ticks since boot) matches the one
 *     recorded when it was started. A step's process group outlives its
 *     leader; its members carry SLUICE_STEP_RUN=<id> in their environment
 *     (orch_task_env), which identifies them when the leader is gone, and a
 *     process group id cannot be reused while any member lives.
 *  5. A step is recorded once it has started (its pid is known only then),
 *     so a driver killed in between leaves a step no record names. Its
 *     processes carry SLUICE_RUN=<run id> as well: recovery ends every
 *     process group with the dead run's marker, except its own (a `sluice
 *     run` inside a step inherits the outer run's marker).
 *  4. The store only records these facts; judging them happens here.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline/orch.h"

/* ---- the registry ----------------------------------------------------------------- */

static const orch_ops *const registry[] = {&orch_local_ops, &orch_slurm_ops};

const orch_ops *orch_find(const char *name)
{
	for (size_t i = 0; name && i < SL__ARRAY_LEN(registry); i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

size_t orch_all(const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < SL__ARRAY_LEN(registry) && n < max; i++)
		names[n++] = registry[i]->name;
	return n;
}

void orch_names(char *buf, size_t size)
{
	size_t n = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < SL__ARRAY_LEN(registry) && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", registry[i]->name);
}

/* ---- the sluice executable ------------------------------------------------------- */

static bool executable(const char *path)
{
	return path && access(path, X_OK) == 0 && sl__is_file(path);
}

/* This process's executable when it is the sluice command. */
static char *self_if_sluice(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	const char *base;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	return strcmp(base, "sluice") == 0 ? sl__strdup(buf) : NULL;
}

/* PREFIX/bin/sluice when this code was loaded from PREFIX/lib*\/libsluice.so. */
static char *beside_library(void)
{
	Dl_info info;
	char *lib, *dir, *prefix, *exe;

	if (!dladdr((void *)&orch_exe, &info) || !info.dli_fname || !strchr(info.dli_fname, '/'))
		return NULL;
	lib = sl__path_abs(info.dli_fname);
	dir = lib ? sl__path_dir(lib) : NULL;
	prefix = dir ? sl__path_dir(dir) : NULL;
	exe = prefix ? sl__asprintf("%s/bin/sluice", prefix) : NULL;
	sl__free(lib);
	sl__free(dir);
	sl__free(prefix);
	if (exe && !executable(exe)) {
		sl__free(exe);
		exe = NULL;
	}
	return exe;
}

static char *on_path(void)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *exe = NULL;

	if (!path || !(copy = sl__strdup(path)))
		return NULL;
	for (char *d = strtok_r(copy, ":", &save); d && !exe; d = strtok_r(NULL, ":", &save)) {
		char *c = sl__asprintf("%s/sluice", *d ? d : ".");
		if (c && executable(c))
			exe = sl__path_abs(c);
		sl__free(c);
	}
	sl__free(copy);
	return exe;
}

int orch_exe(char **out)
{
	const char *env = getenv("SLUICE_EXE");
	char *exe;

	*out = NULL;
	if (env && *env) {
		if (!executable(env))
			return sl__err(SL_ENOENT, "SLUICE_EXE=%s is not an executable file", env);
		exe = sl__strdup(env);
	} else if (!(exe = self_if_sluice()) && !(exe = beside_library()) && !(exe = on_path())) {
		return sl__err(SL_ENOENT, "cannot find the sluice executable that runs built-in "
					  "steps: put it on PATH or set SLUICE_EXE to its path");
	}
	if (!exe)
		return sl__err(SL_ENOMEM, "out of memory");
	*out = exe;
	return 0;
}

/* ---- process facts ---------------------------------------------------------------- */

/* Reads /proc/PID/stat; fills *state and *start. False when it cannot. */
static bool read_stat(int64_t pid, char *state, int64_t *start, int64_t *pgid)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "PID (COMM) STATE PPID PGRP ...": COMM may hold ')' so take the last one. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return false;
	p += 2;
	*state = *p;
	/* Fields after COMM: 3 state, 4 ppid, 5 pgrp, ..., 22 starttime. */
	for (int field = 3; field < 22 && *p; field++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
		if (field + 1 == 5 && pgid)
			*pgid = strtoll(p, NULL, 10);
	}
	*start = strtoll(p, NULL, 10);
	return true;
}

int64_t orch_proc_start(int64_t pid)
{
	char state;
	int64_t start = 0;

	if (pid <= 0 || !read_stat(pid, &state, &start, NULL))
		return 0;
	return start;
}

bool orch_proc_alive(int64_t pid, int64_t pid_start)
{
	char state = 0;
	int64_t start = 0;

	if (pid <= 0 || pid > INT_MAX)
		return true; /* nothing recorded: cannot judge */
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return false;
	if (!read_stat(pid, &state, &start, NULL))
		return errno != ENOENT;
	if (state == 'Z' || state == 'X')
		return false;
	return pid_start <= 0 || start == pid_start;
}

/* ---- spawning -------------------------------------------------------------------- */

typedef struct spawn_args {
	const orch_spawn_req *r;
	pid_t parent;
	volatile int err; /* errno of a failure in the child (the memory is shared) */
} spawn_args;

/*
 * The child, between clone and exec: system calls only (no allocation, no
 * locks), since it runs on the parent's memory.
 */
/*
 * The kernel's struct sigaction for rt_sigaction. The child calls the
 * kernel directly for signals: libc's and sanitizers' wrappers keep state
 * of their own, which belongs to the parent whose memory the child shares.
 */
typedef struct k_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
} k_sigaction;

static int spawn_child(void *arg)
{
	spawn_args *a = arg;
	const orch_spawn_req *r = a->r;
	k_sigaction dfl = {SIG_DFL, 0, NULL, 0};
	unsigned long none = 0;

	/* Handlers belong to the driver; ignored signals must not be inherited by
	 * a step either (a server ignoring SIGPIPE would pass that on). */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
	if (setpgid(0, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		goto fail;
	if (getppid() != a->parent)
		_exit(127); /* design note 2: the driver is already gone */
	if (dup2(r->fd_in, 0) < 0 || dup2(r->fd_out, 1) < 0 || dup2(r->fd_err, 2) < 0)
		goto fail;
	/* Whatever else the host had open (sockets, databases) stays with it. */
	close_range(3, ~0U, 0);
	if (r->cwd && chdir(r->cwd) != 0)
		goto fail;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
	execve(r->path, r->argv, r->envp);
fail:
	a->err = errno;
	_exit(127);
}

#define SPAWN_STACK (64 * 1024)

int orch_spawn(const orch_spawn_req *r, pid_t *out_pid)
{
	spawn_args a = {.r = r, .parent = getpid()};
	sigset_t all, old;
	char *stack = sl__malloc(SPAWN_STACK);
	pid_t pid;
	int err;

	if (!stack)
		return sl__err(SL_ENOMEM, "out of memory starting %s", r->path);
	/* No handler of the driver may run on the child's side before exec. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pid = clone(spawn_child, stack + SPAWN_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sl__free(stack);
	if (pid < 0)
		return sl__err(SL_ESYS, "starting %s: %s", r->path, strerror(err));
	if (a.err) {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return sl__err(SL_ESYS, "starting %s: %s", r->path, strerror(a.err));
	}
	*out_pid = pid;
	return 0;
}

/* ---- recovery after a dead driver ------------------------------------------------ */

int orch_recover(store *st, const char *host, int *out_n)
{
	store_proc *runs = NULL;
	size_t n_runs = 0;
	int recovered = 0, rc;

	if (out_n)
		*out_n = 0;
	rc = store_runs_running(st, host, &runs, &n_runs);
	for (size_t i = 0; rc == 0 && i < n_runs; i++) {
		const orch_ops *ops = orch_find(runs[i].orchestrator);
		store_proc *steps = NULL;
		size_t n_steps = 0;
		char why[128];

		if (orch_proc_alive(runs[i].pid, runs[i].pid_start))
			continue;
		rc = store_steps_running(st, runs[i].id, &steps, &n_steps);
		/* A leftover that cannot be ended is reported, but the run is still
		 * recorded as failed: it is over either way. */
		for (size_t k = 0; rc == 0 && ops && k < n_steps; k++)
			ops->end_leftover(&steps[k]);
		if (rc == 0 && ops && ops->end_run)
			ops->end_run(runs[i].id);
		sl__free(steps);
		snprintf(why, sizeof why, "the process driving the run (pid %lld) is gone",
			 (long long)runs[i].pid);
		if (rc == 0)
			rc = store_run_mark_lost(st, runs[i].id, why);
		if (rc == 0)
			recovered++;
	}
	sl__free(runs);
	if (out_n)
		*out_n = recovered;
	return rc ? sl__err_prefix(rc, "recovering runs whose driver died") : 0;
}

/* ---- leftovers of a local step ---------------------------------------------------- */

/* True when /proc/PID/environ holds the variable marker ("NAME=value"). */
static bool environ_has(pid_t pid, const char *marker)
{
	char path[64];
	sl__buf b;
	bool found = false;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	if (sl__read_file(path, 1 << 20, &b) != 0) {
		sl__err_clear();
		return false;
	}
	for (size_t i = 0; i < b.len && !found; i += strlen(b.data + i) + 1)
		found = strcmp(b.data + i, marker) == 0;
	sl__buf_free(&b);
	return found;
}

/*
 * Ends a local step's leftovers (design note 3): its process group, when
 * the leader is still the process started for it, or when a member of the
 * group carries the step run's marker.
 */
/*
 * The next live process of the /proc listing d carrying marker in its
 * environment and, when pgid_want > 0, in that process group; 0 at the end.
 * Its process group goes to *pgid.
 */
static long next_marked(DIR *d, const char *marker, int64_t pgid_want, int64_t *pgid)
{
	struct dirent *e;

	while ((e = readdir(d)) != NULL) {
		char state, *end;
		int64_t start;
		long pid = strtol(e->d_name, &end, 10);

		*pgid = 0;
		if (*end || pid <= 0 || !read_stat(pid, &state, &start, pgid) || state == 'Z')
			continue;
		if ((pgid_want <= 0 || *pgid == pgid_want) && environ_has((pid_t)pid, marker))
			return pid;
	}
	return 0;
}

int orch_local_end_leftover(const store_proc *p)
{
	char marker[STORE_ID_SIZE + 32];
	int64_t pgid;
	bool ours = false;
	DIR *d;

	if (p->pid <= 0 || p->pid > INT_MAX)
		return 0;
	if (orch_proc_alive(p->pid, p->pid_start) && orch_proc_start(p->pid) == p->pid_start)
		ours = true;
	snprintf(marker, sizeof marker, "SLUICE_STEP_RUN=%s", p->id);
	if (!ours && (d = opendir("/proc")) != NULL) {
		ours = next_marked(d, marker, p->pid, &pgid) != 0;
		closedir(d);
	}
	if (!ours)
		return 0;
	if (kill(-(pid_t)p->pid, SIGKILL) != 0 && errno != ESRCH)
		return sl__err(SL_ESYS, "ending the processes left by step run %s (group %lld): %s",
			       p->id, (long long)p->pid, strerror(errno));
	return 0;
}

/* Design note 5. */
int orch_local_end_run(const char *run_id)
{
	char marker[STORE_ID_SIZE + 32];
	pid_t own = getpgrp();
	int64_t pgid;
	DIR *d;
	int rc = 0;

	snprintf(marker, sizeof marker, "SLUICE_RUN=%s", run_id);
	if (!(d = opendir("/proc")))
		return 0;
	while (next_marked(d, marker, 0, &pgid)) {
		if (pgid <= 1 || pgid == own)
			continue;
		if (kill(-(pid_t)pgid, SIGKILL) != 0 && errno != ESRCH && !rc)
			rc = sl__err(SL_ESYS, "ending the processes left by run %s (group %lld): %s",
				     run_id, (long long)pgid, strerror(errno));
	}
	closedir(d);
	return rc;
}
