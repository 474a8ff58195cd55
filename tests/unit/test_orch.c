/*
 * The local orchestrator and what it stands on, with real child processes:
 * spawning in a fresh image (own process group, default signals, nothing
 * inherited), dying with the spawning thread, waiting only for its own
 * children while another child of this process exists (with pidfds and
 * without), cancellation waking a blocked wait through a descriptor,
 * timeouts, task.json round trips and the task environment, a built-in
 * step run through `sluice step-exec`, and recovery after a dead driver
 * (ending a dead run's leftovers, sparing a process that reuses its pid).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "api/project.h"
#include "pipeline/orch.h"
#include "store/store.h"
#include "testutil.h"

extern char **environ;

typedef struct fixture {
	char *dir;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	f->dir = strdup(tu_tmpdir());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	orch_local_no_pidfd = false;
	tu_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* The state letter of a process, 0 when it is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	FILE *fp;
	size_t n;
	char *p;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(fp = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* True once pid is gone or a zombie, waiting up to about two seconds. */
static bool ends_soon(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		char s = proc_state(pid);
		if (s == 0 || s == 'Z' || s == 'X')
			return true;
		usleep(10000);
	}
	return false;
}

/* A command task with everything orch_task_env and the spawner need. */
typedef struct cmd_task {
	orch_task t;
	char workdir[600], log[600], task[600];
	json_t *with, *params;
} cmd_task;

static void make_cmd(cmd_task *c, const char *dir, const char *id, const char *command,
		     double timeout)
{
	memset(c, 0, sizeof *c);
	snprintf(c->workdir, sizeof c->workdir, "%s/%s", dir, id);
	snprintf(c->log, sizeof c->log, "%s/%s.log", dir, id);
	snprintf(c->task, sizeof c->task, "%s/task.json", c->workdir);
	assert_int_equal(sl__mkdir_p(c->workdir, 0755), 0);
	c->with = json_object();
	c->params = json_object();
	c->t = (orch_task){.run_id = "run1", .steprun_id = id, .pipeline = "p", .step = id,
			   .kind = SPEC_RUN, .command = command, .with = c->with,
			   .params = c->params, .pipeline_dir = dir, .workdir = c->workdir,
			   .log_path = c->log, .task_path = c->task, .timeout = timeout};
}

static void free_cmd(cmd_task *c)
{
	json_decref(c->with);
	json_decref(c->params);
}

static orch *new_orch(const char *dir, int jobs)
{
	orch_config cfg = {.state_dir = dir, .jobs = jobs};
	orch *o = NULL;

	assert_int_equal(orch_local_ops.create(&cfg, &o), 0);
	return o;
}

/* ---- spawning ------------------------------------------------------------------- */

/*
 * A spawned process leads its own process group, has no handlers, ignored
 * or blocked signals from its parent, and only descriptors 0-2.
 */
static void test_spawn_fresh_process(void **state)
{
	fixture *f = *state;
	char *out = tu_path(f->dir, "status.txt");
	char script[1024];
	char *argv[] = {"sh", "-c", script, NULL};
	orch_spawn_req req;
	sigset_t block, old;
	pid_t pid;
	int status, fd, extra;
	sl__buf b;

	/* What a host might do: ignore SIGPIPE, block SIGUSR1, hold a descriptor. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	extra = eventfd(0, 0); /* not close-on-exec */
	assert_true(extra > 2);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	snprintf(script, sizeof script,
		 "awk '{print \"pgrp\", $5}' /proc/$$/stat; pwd; ls /proc/self/fd;"
		 " exec grep -E '^Sig(Ign|Blk)' /proc/self/status");
	memset(&req, 0, sizeof req);
	req.path = "/bin/sh";
	req.argv = argv;
	req.envp = environ;
	req.cwd = f->dir;
	req.fd_in = 0;
	req.fd_out = fd;
	req.fd_err = fd;
	assert_int_equal(orch_spawn(&req, &pid), 0);
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	close(extra);

	assert_int_equal(sl__read_file(out, 4096, &b), 0);
	{
		char want[64];
		snprintf(want, sizeof want, "pgrp %d\n", (int)pid);
		assert_non_null(strstr(b.data, want));
	}
	assert_non_null(strstr(b.data, "SigIgn:\t0000000000000000"));
	assert_non_null(strstr(b.data, "SigBlk:\t0000000000000000"));
	assert_non_null(strstr(b.data, f->dir));
	/* 0, 1, 2 and the one ls opens to read the folder: nothing inherited. */
	assert_non_null(strstr(b.data, "\n0\n1\n2\n3\nSig"));
	sl__buf_free(&b);

	/* An executable that cannot run is an error, not a child that exits 127. */
	req.path = "/nonexistent/program";
	fd = open("/dev/null", O_WRONLY);
	req.fd_out = req.fd_err = fd;
	assert_int_equal(orch_spawn(&req, &pid), SL_ESYS);
	assert_non_null(strstr(sl_errmsg(), "No such file"));
	close(fd);
	free(out);
}

typedef struct spawner {
	pid_t pid;
	int rc;
} spawner;

static void *spawn_and_leave(void *arg)
{
	spawner *s = arg;
	char *argv[] = {"sleep", "30", NULL};
	orch_spawn_req req = {.path = "/bin/sleep", .argv = argv, .envp = environ,
			      .fd_in = 0, .fd_out = 1, .fd_err = 2};

	s->rc = orch_spawn(&req, &s->pid);
	return NULL; /* the thread ends: its children must follow it */
}

/* A step dies with the thread that started it (PR_SET_PDEATHSIG, set before exec). */
static void test_spawn_dies_with_thread(void **state)
{
	spawner s = {0};
	pthread_t th;
	int status;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, spawn_and_leave, &s), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(s.rc, 0);
	assert_int_equal(waitpid(s.pid, &status, 0), s.pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* ---- waiting ------------------------------------------------------------------------ */

/*
 * The orchestrator reaps its own children and leaves a foreign child of
 * the same process alone, so its owner can still collect its status.
 */
static void wait_own_only(const char *dir, bool no_pidfd)
{
	cmd_task a, b;
	orch *o = new_orch(dir, 4);
	orch_proc pa, pb;
	orch_result res;
	pid_t foreign;
	int status, tag_a, tag_b, seen = 0;

	orch_local_no_pidfd = no_pidfd;
	fflush(NULL);
	foreign = fork();
	assert_true(foreign >= 0);
	if (foreign == 0)
		_exit(7); /* ends at once: a waitpid(-1) anywhere would steal it */
	make_cmd(&a, dir, "a", "sleep 0.2; exit 3", 0);
	make_cmd(&b, dir, "b", "exit 0", 0);
	assert_int_equal(orch_local_ops.start(o, &a.t, &tag_a, &pa), 0);
	assert_int_equal(orch_local_ops.start(o, &b.t, &tag_b, &pb), 0);
	assert_true(pa.pid > 0 && pa.pid_start > 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(orch_local_ops.wait(o, -1, -1, &res), 0);
		if (res.tag == &tag_a) {
			assert_int_equal(res.exit_code, 3);
			seen |= 1;
		} else {
			assert_ptr_equal(res.tag, &tag_b);
			assert_int_equal(res.exit_code, 0);
			seen |= 2;
		}
		assert_false(res.timed_out);
	}
	assert_int_equal(seen, 3);
	assert_int_equal(orch_local_ops.wait(o, -1, -1, &res), SL_ENOENT);
	/* The foreign child is still there to be reaped by its owner. */
	assert_int_equal(waitpid(foreign, &status, 0), foreign);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	orch_local_ops.destroy(o);
	free_cmd(&a);
	free_cmd(&b);
}

static void test_wait_own_children_pidfd(void **state)
{
	fixture *f = *state;

	wait_own_only(f->dir, false);
}

static void test_wait_own_children_fallback(void **state)
{
	fixture *f = *state;

	wait_own_only(f->dir, true);
}

static void *request_later(void *arg)
{
	uint64_t one = 1;

	usleep(100000);
	assert_int_equal(write(*(int *)arg, &one, sizeof one), (ssize_t)sizeof one);
	return NULL;
}

/* Another thread wakes a wait that would block forever, through the descriptor. */
static void test_cancel_fd_wakes_wait(void **state)
{
	fixture *f = *state;
	cmd_task a;
	orch *o = new_orch(f->dir, 2);
	orch_proc p;
	orch_result res;
	pthread_t th;
	int efd = eventfd(0, EFD_CLOEXEC), tag;
	double t0;

	assert_true(efd >= 0);
	make_cmd(&a, f->dir, "sleeper", "echo $$ > sleeper.pid; exec sleep 30", 0);
	assert_int_equal(orch_local_ops.start(o, &a.t, &tag, &p), 0);
	assert_int_equal(pthread_create(&th, NULL, request_later, &efd), 0);
	t0 = sl__mono_sec();
	assert_int_equal(orch_local_ops.wait(o, efd, -1, &res), SL_ECANCEL);
	assert_true(sl__mono_sec() - t0 < 5);
	assert_int_equal(pthread_join(th, NULL), 0);
	/* A wait with a limit and nothing ending says so. */
	assert_int_equal(orch_local_ops.wait(o, -1, 0.05, &res), SL_EBUSY);
	orch_local_ops.cancel_all(o, 1.0);
	assert_int_equal(orch_local_ops.wait(o, -1, -1, &res), SL_ENOENT);
	assert_true(ends_soon((pid_t)p.pid));
	orch_local_ops.destroy(o);
	close(efd);
	free_cmd(&a);
}

/* A task past its timeout is stopped (TERM to its group) and reported as timed out. */
static void test_timeout(void **state)
{
	fixture *f = *state;
	cmd_task a;
	orch *o = new_orch(f->dir, 2);
	orch_proc p;
	orch_result res;
	int tag;
	double t0 = sl__mono_sec();

	make_cmd(&a, f->dir, "slow", "sleep 30", 0.2);
	assert_int_equal(orch_local_ops.start(o, &a.t, &tag, &p), 0);
	assert_int_equal(orch_local_ops.wait(o, -1, -1, &res), 0);
	assert_true(res.timed_out);
	assert_int_equal(res.signal, SIGTERM);
	assert_true(sl__mono_sec() - t0 < 5);
	orch_local_ops.destroy(o);
	free_cmd(&a);
}

/* A task asking for more cpus than -j allows takes all the slots. */
static void test_slots(void **state)
{
	fixture *f = *state;
	orch *o = new_orch(f->dir, 3);
	orch_task t;

	memset(&t, 0, sizeof t);
	assert_int_equal(orch_local_ops.slots(o, &t), 1);
	t.resources.cpus = 2;
	assert_int_equal(orch_local_ops.slots(o, &t), 2);
	t.resources.cpus = 16;
	assert_int_equal(orch_local_ops.slots(o, &t), 3);
	orch_local_ops.destroy(o);
	assert_ptr_equal(orch_find("local"), &orch_local_ops);
	assert_null(orch_find("slurmish"));
}

/* ---- the Slurm orchestrator's submission -------------------------------------------- */

/* The argument of argv that starts with prefix, or NULL. */
static const char *arg_with(char **argv, const char *prefix)
{
	for (size_t i = 0; argv[i]; i++)
		if (!strncmp(argv[i], prefix, strlen(prefix)))
			return argv[i];
	return NULL;
}

/*
 * A step's resources become sbatch options (memory in megabytes and time
 * in minutes, both rounded up); where the step says nothing, the cluster's
 * defaults from sluice.yaml; partition, account, qos and extra options as
 * written; the job runs step-exec on the task, quoted for the shell.
 */
static void test_slurm_sbatch_args(void **state)
{
	const char *opts[] = {"--constraint=avx2", "--exclusive"};
	orch_slurm_cfg cfg = {.partition = "gpu", .account = "ml", .qos = "low",
			      .defaults = {.cpus = 4, .memory = 2ull << 30, .time = 3600},
			      .options = opts, .n_options = 2};
	orch_task t;
	char **argv = NULL;

	(void)state;
	memset(&t, 0, sizeof t);
	t.pipeline = "spam";
	t.step = "train";
	t.steprun_id = "0123abcd";
	t.log_path = "/p/.sluice/logs/r/train.log";
	t.pipeline_dir = "/p";
	t.task_path = "/p/.sluice/tmp/r/w0/it's task.json";
	t.resources.memory = 1500ull << 20 | 1; /* a byte over 1500M: 1501M */
	t.resources.time = 90;                   /* 2 minutes */
	t.resources.gpus = 1;
	assert_int_equal(orch_slurm_sbatch_argv(&t, &cfg, "/opt/bin/sluice", &argv), 0);
	assert_string_equal(argv[0], "sbatch");
	assert_non_null(arg_with(argv, "--parsable"));
	assert_string_equal(arg_with(argv, "--job-name="), "--job-name=sluice:spam:train");
	assert_string_equal(arg_with(argv, "--comment="), "--comment=sluice:0123abcd");
	assert_string_equal(arg_with(argv, "--output="), "--output=/p/.sluice/logs/r/train.log");
	assert_string_equal(arg_with(argv, "--open-mode="), "--open-mode=append");
	assert_string_equal(arg_with(argv, "--chdir="), "--chdir=/p");
	assert_non_null(arg_with(argv, "--no-requeue"));
	assert_string_equal(arg_with(argv, "--partition="), "--partition=gpu");
	assert_string_equal(arg_with(argv, "--account="), "--account=ml");
	assert_string_equal(arg_with(argv, "--qos="), "--qos=low");
	assert_string_equal(arg_with(argv, "--cpus-per-task="), "--cpus-per-task=4");
	assert_string_equal(arg_with(argv, "--mem="), "--mem=1501M");
	assert_string_equal(arg_with(argv, "--time="), "--time=2");
	assert_string_equal(arg_with(argv, "--gpus="), "--gpus=1");
	assert_non_null(arg_with(argv, "--constraint=avx2"));
	assert_non_null(arg_with(argv, "--exclusive"));
	assert_string_equal(arg_with(argv, "--wrap="),
			    "--wrap=exec '/opt/bin/sluice' step-exec "
			    "'/p/.sluice/tmp/r/w0/it'\\''s task.json'");
	orch_slurm_argv_free(argv);

	/* No settings and no resources: no resource options at all. */
	memset(&t.resources, 0, sizeof t.resources);
	assert_int_equal(orch_slurm_sbatch_argv(&t, NULL, "sluice", &argv), 0);
	assert_null(arg_with(argv, "--mem="));
	assert_null(arg_with(argv, "--cpus-per-task="));
	assert_null(arg_with(argv, "--partition="));
	orch_slurm_argv_free(argv);
	assert_ptr_equal(orch_find("slurm"), &orch_slurm_ops);
	assert_int_equal(orch_slurm_ops.slots(NULL, &t), 1);
}

/* sluice.yaml's stack.slurm: read whole, and each mistake placed in the file. */
static void test_slurm_settings(void **state)
{
	static const char good[] = "stack:\n  orchestrator: slurm\n  slurm:\n    partition: gpu\n"
				   "    account: ml\n    resources: { cpus: 2, memory: 4G, time: 2h }\n"
				   "    options: [\"--constraint=avx2\"]\n";
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"stack:\n  slurm:\n    partitoin: x\n",
		 "sluice.yaml:3:5: unknown key 'partitoin' in stack.slurm (did you mean 'partition'?)"},
		{"stack:\n  slurm:\n    resources: { memory: lots }\n",
		 "sluice.yaml:3:26: stack.slurm.resources.memory: 'memory' must be a size"},
		{"stack:\n  slurm:\n    resources: { cpu: 2 }\n",
		 "sluice.yaml:3:18: unknown key 'cpu' in stack.slurm.resources (did you mean 'cpus'?)"},
		{"stack:\n  slurm:\n    options: [\"--output=x\"]\n",
		 "sluice.yaml:3:15: stack.slurm.options[0]: sluice sets --output itself"},
		{"stack:\n  slurm:\n    options: [exclusive]\n",
		 "sluice.yaml:3:15: stack.slurm.options[0] must be an sbatch option"},
		{"stack:\n  slurm: [a]\n", "sluice.yaml:2:10: stack.slurm must be a mapping"},
	};
	api_settings set;

	(void)state;
	assert_int_equal(api_settings_parse(good, strlen(good), "sluice.yaml", "/p", "/p/.sluice",
					    &set),
			 0);
	assert_ptr_equal(set.orch, &orch_slurm_ops);
	assert_true(set.has_slurm);
	assert_string_equal(set.slurm.partition, "gpu");
	assert_string_equal(set.slurm.account, "ml");
	assert_null(set.slurm.qos);
	assert_int_equal(set.slurm.defaults.cpus, 2);
	assert_true(set.slurm.defaults.memory == 4ull << 30);
	assert_true(set.slurm.defaults.time == 7200);
	assert_int_equal(set.slurm.n_options, 1);
	assert_string_equal(set.slurm.options[0], "--constraint=avx2");
	api_settings_free(&set);
	for (size_t i = 0; i < SL__ARRAY_LEN(bad); i++) {
		int rc = api_settings_parse(bad[i].text, strlen(bad[i].text), "sluice.yaml", "/p",
					    "/p/.sluice", &set);
		if (rc != SL_EINVAL || !strstr(sl_errmsg(), bad[i].want))
			fail_msg("case %zu: rc %d, message '%s', wanted '%s'", i, rc, sl_errmsg(),
				 bad[i].want);
		assert_null(set.slurm_mem);
	}
}

/* ---- tasks ---------------------------------------------------------------------------- */

static void test_task_roundtrip(void **state)
{
	fixture *f = *state;
	cmd_task c;
	orch_task_file *tf = NULL;
	const char *in_names[] = {"data"}, *in_paths[] = {"/a/b"},
		   *in_ids[] = {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
	const char *out_names[] = {"model", "report"}, *out_paths[] = {"/o/m", "/o/r"};
	char *bad;

	make_cmd(&c, f->dir, "rt", "echo \"${x}\"", 12.5);
	json_object_set_new(c.with, "alpha", json_real(0.5));
	json_object_set_new(c.params, "seed", json_integer(7));
	c.t.kind = SPEC_USES;
	c.t.uses = "split";
	c.t.uses_version = 3;
	c.t.n_inputs = 1;
	c.t.input_names = in_names;
	c.t.input_paths = in_paths;
	c.t.input_ids = in_ids;
	c.t.n_outputs = 2;
	c.t.output_names = out_names;
	c.t.output_paths = out_paths;
	c.t.resources = (spec_resources){.cpus = 2, .memory = 1u << 30, .time = 60, .gpus = 1};
	assert_int_equal(orch_task_save(&c.t), 0);
	assert_int_equal(orch_task_load(c.task, &tf), 0);
	assert_string_equal(tf->t.steprun_id, "rt");
	assert_string_equal(tf->t.run_id, "run1");
	assert_int_equal(tf->t.kind, SPEC_USES);
	assert_string_equal(tf->t.uses, "split");
	assert_int_equal(tf->t.uses_version, 3);
	assert_true(json_equal(tf->t.with, c.with));
	assert_true(json_equal(tf->t.params, c.params));
	assert_null(tf->t.env);
	assert_int_equal(tf->t.n_inputs, 1);
	assert_string_equal(tf->t.input_names[0], "data");
	assert_string_equal(tf->t.input_paths[0], "/a/b");
	assert_string_equal(tf->t.input_ids[0], in_ids[0]);
	assert_int_equal(tf->t.n_outputs, 2);
	assert_string_equal(tf->t.output_names[1], "report");
	assert_string_equal(tf->t.output_paths[1], "/o/r");
	assert_string_equal(tf->t.workdir, c.workdir);
	assert_string_equal(tf->t.log_path, c.log);
	assert_string_equal(tf->t.pipeline_dir, f->dir);
	assert_true(tf->t.timeout == 12.5);
	assert_int_equal(tf->t.resources.cpus, 2);
	assert_int_equal(tf->t.resources.memory, 1u << 30);
	assert_int_equal(tf->t.resources.gpus, 1);
	orch_task_file_free(tf);

	/* A task from another format, or with a field missing, is refused by name. */
	bad = tu_path(f->dir, "bad.json");
	tu_write(bad, "{\"format\": 99}");
	assert_int_equal(orch_task_load(bad, &tf), SL_EUNSUP);
	assert_null(tf);
	tu_write(bad, "{\"format\": 1, \"inputs\": [], \"outputs\": [], \"kind\": \"run\"}");
	assert_int_equal(orch_task_load(bad, &tf), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "'run_id'"));
	free(bad);
	free_cmd(&c);
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);

	for (char **p = env; p && *p; p++)
		if (!strncmp(*p, name, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

static void test_task_env(void **state)
{
	fixture *f = *state;
	cmd_task c;
	char *base[] = {"PATH=/bin", "SLUICE_STEP=stale", "KEEP=1", NULL};
	const char *in_names[] = {"my-data"}, *in_paths[] = {"/in/d"};
	const char *out_names[] = {"out"}, *out_paths[] = {"/o/out"};
	char **env;

	make_cmd(&c, f->dir, "envstep", "true", 0);
	json_object_set_new(c.params, "seed", json_integer(7));
	json_object_set_new(c.params, "name", json_string("x y"));
	json_object_set_new(c.params, "none", json_null());
	json_object_set_new(c.with, "k", json_integer(1));
	c.t.env = json_pack("{s:s}", "MINE", "yes");
	c.t.n_inputs = 1;
	c.t.input_names = in_names;
	c.t.input_paths = in_paths;
	c.t.n_outputs = 1;
	c.t.output_names = out_names;
	c.t.output_paths = out_paths;
	env = orch_task_env(&c.t, base);
	assert_non_null(env);
	assert_string_equal(env_get(env, "PATH"), "/bin");
	assert_string_equal(env_get(env, "KEEP"), "1");
	assert_string_equal(env_get(env, "SLUICE_STEP"), "envstep"); /* ours wins */
	assert_string_equal(env_get(env, "SLUICE_STEP_RUN"), "envstep");
	assert_string_equal(env_get(env, "SLUICE_INPUT_MY_DATA"), "/in/d");
	assert_string_equal(env_get(env, "SLUICE_OUTPUT_OUT"), "/o/out");
	assert_string_equal(env_get(env, "SLUICE_PARAM_SEED"), "7");
	assert_string_equal(env_get(env, "SLUICE_PARAM_NAME"), "x y");
	assert_string_equal(env_get(env, "SLUICE_PARAM_NONE"), "");
	assert_string_equal(env_get(env, "SLUICE_WITH"), "{\"k\":1}");
	assert_string_equal(env_get(env, "MINE"), "yes");
	orch_env_free(env);
	json_decref(c.t.env);
	free_cmd(&c);
}

/* A built-in step through `sluice step-exec`, started by the local orchestrator. */
static void test_builtin_through_step_exec(void **state)
{
	fixture *f = *state;
	cmd_task c;
	orch *o;
	orch_proc p;
	orch_result res;
	char *src = tu_path(f->dir, "source.txt"), *out = tu_path(f->dir, "copied");
	const char *out_names[] = {"data"}, *out_paths[] = {out};
	sl__buf b;
	int tag;

	setenv("SLUICE_EXE", SLUICE_BINARY, 1);
	o = new_orch(f->dir, 2);
	tu_write(src, "hello\n");
	make_cmd(&c, f->dir, "builtin", NULL, 0);
	c.t.kind = SPEC_USES;
	c.t.uses = "ingest.file";
	c.t.uses_version = step_find("ingest.file")->version;
	json_object_set_new(c.with, "path", json_string("source.txt"));
	c.t.n_outputs = 1;
	c.t.output_names = out_names;
	c.t.output_paths = out_paths;
	assert_int_equal(orch_task_save(&c.t), 0);
	assert_int_equal(orch_local_ops.start(o, &c.t, &tag, &p), 0);
	assert_int_equal(orch_local_ops.wait(o, -1, -1, &res), 0);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(sl__read_file(out, 100, &b), 0);
	assert_string_equal(b.data, "hello\n");
	sl__buf_free(&b);

	/* A version the executable does not have fails the step, saying why. */
	unlink(out);
	c.t.uses_version += 1;
	assert_int_equal(orch_task_save(&c.t), 0);
	assert_int_equal(orch_local_ops.start(o, &c.t, &tag, &p), 0);
	assert_int_equal(orch_local_ops.wait(o, -1, -1, &res), 0);
	assert_int_equal(res.exit_code, 1);
	{
		char *err = tu_path(c.workdir, "error.txt");
		assert_int_equal(sl__read_file(err, 4096, &b), 0);
		assert_non_null(strstr(b.data, "the task was made for version"));
		sl__buf_free(&b);
		free(err);
	}
	orch_local_ops.destroy(o);
	unsetenv("SLUICE_EXE");
	free_cmd(&c);
	free(src);
	free(out);
}

/* ---- recovery ------------------------------------------------------------------------- */

static store *open_store(const char *dir)
{
	char target[700];
	store *s = NULL;

	snprintf(target, sizeof target, "sqlite:%s/meta.db", dir);
	if (store_open(target, &s) != 0)
		fail_msg("store_open: %s", sl_errmsg());
	return s;
}

static void add_run(store *s, const char *id, int64_t pid, int64_t start, const char *host)
{
	store_run r = {.id = id, .pipeline = "p", .orchestrator = "local", .pid = pid,
		       .pid_start = start, .host = host, .started_ms = 1000};

	assert_int_equal(store_run_create(s, &r), 0);
}

static void add_step(store *s, const char *run, const char *id, int64_t pid, int64_t start)
{
	store_steprun sr = {.id = id, .run_id = run, .step = id, .status = ST_RUNNING,
			    .exit_code = -1, .started_ms = 1000, .pid = pid, .pid_start = start};

	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
}

static const char *run_status(store *s, const char *id)
{
	static char buf[32];
	json_t *j = NULL;

	assert_int_equal(store_run_json(s, id, &j), 0);
	snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(j, "status")));
	json_decref(j);
	return buf;
}

/* A leftover step process: a shell in its own group whose environment marks it. */
static pid_t leftover_of(const char *dir, const char *run, const char *steprun,
			 const char *script)
{
	cmd_task c;
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	char **env;
	orch_spawn_req req;
	pid_t pid;

	make_cmd(&c, dir, steprun, script, 0);
	c.t.run_id = run;
	env = orch_task_env(&c.t, environ);
	assert_non_null(env);
	memset(&req, 0, sizeof req);
	req.path = "/bin/sh";
	req.argv = argv;
	req.envp = env;
	req.cwd = dir;
	req.fd_in = 0;
	req.fd_out = 1;
	req.fd_err = 2;
	assert_int_equal(orch_spawn(&req, &pid), 0);
	orch_env_free(env);
	free_cmd(&c);
	return pid;
}

static pid_t leftover(const char *dir, const char *steprun, const char *script)
{
	return leftover_of(dir, "run1", steprun, script);
}

static void test_recover_dead_runs(void **state)
{
	fixture *f = *state;
	store *s = open_store(f->dir);
	pid_t dead, zombie, lead, orphan_lead, stranger;
	int status, n = -1;
	int64_t me_start = orch_proc_start(getpid());

	fflush(NULL);
	dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, &status, 0), dead);
	zombie = fork();
	assert_true(zombie >= 0);
	if (zombie == 0)
		_exit(0);
	for (int i = 0; i < 500 && proc_state(zombie) != 'Z'; i++)
		usleep(10000);
	assert_int_equal(proc_state(zombie), 'Z');

	/* Leftovers: a step leader still alive, a group whose leader is gone
	 * (only its marked member is left), and a stranger that merely has the
	 * pid a dead step had, with another start time. */
	lead = leftover(f->dir, "lead", "sleep 30");
	orphan_lead = leftover(f->dir, "orphan", "sleep 30 & echo $! > orphan.pid; exit 0");
	assert_int_equal(waitpid(orphan_lead, &status, 0), orphan_lead);
	stranger = leftover(f->dir, "stranger", "sleep 30");

	add_run(s, "dead", dead, 0, "h1");
	add_run(s, "zombie", zombie, 0, "h1");
	add_run(s, "alive", getpid(), me_start, "h1");
	add_run(s, "reused", getpid(), me_start + 1, "h1"); /* a dead driver's pid, reused by us */
	add_run(s, "elsewhere", dead, 0, "h2");
	add_step(s, "dead", "lead", lead, orch_proc_start(lead));
	add_step(s, "dead", "orphan", orphan_lead, 12345);
	add_step(s, "zombie", "strangers-pid", stranger, orch_proc_start(stranger) + 7);

	assert_int_equal(orch_recover(s, "h1", &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(run_status(s, "dead"), "failed");
	assert_string_equal(run_status(s, "zombie"), "failed");
	assert_string_equal(run_status(s, "reused"), "failed");
	assert_string_equal(run_status(s, "alive"), "running");
	assert_string_equal(run_status(s, "elsewhere"), "running"); /* another host's pids */

	assert_int_equal(waitpid(lead, &status, 0), lead);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	{
		char *pidfile = tu_path(f->dir, "orphan.pid");
		sl__buf b;
		assert_int_equal(sl__read_file(pidfile, 64, &b), 0);
		assert_true(ends_soon((pid_t)atoi(b.data)));
		sl__buf_free(&b);
		free(pidfile);
	}
	/* The stranger's start time does not match: it is left alone. */
	assert_int_equal(waitpid(stranger, &status, WNOHANG), 0);
	kill(-stranger, SIGKILL); /* its whole group: the shell and its sleep */
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	assert_int_equal(waitpid(zombie, &status, 0), zombie);

	assert_int_equal(orch_recover(s, "h1", &n), 0);
	assert_int_equal(n, 0);
	store_close(s);
}

/*
 * A driver killed after starting a step but before recording it: no step
 * record names the step, yet its processes end with the run's recovery
 * (orch_proc.c design note 5), and a live run's are left alone.
 */
static void test_recover_unrecorded_step(void **state)
{
	fixture *f = *state;
	store *s = open_store(f->dir);
	pid_t dead, step, live_step;
	int status, n = -1;

	fflush(NULL);
	dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, &status, 0), dead);
	step = leftover_of(f->dir, "unrecorded", "s1", "sleep 30");
	live_step = leftover_of(f->dir, "live", "s2", "sleep 30");
	add_run(s, "unrecorded", dead, 0, "h1");
	add_run(s, "live", getpid(), orch_proc_start(getpid()), "h1");

	assert_int_equal(orch_recover(s, "h1", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(waitpid(step, &status, 0), step);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(waitpid(live_step, &status, WNOHANG), 0);
	kill(-live_step, SIGKILL);
	assert_int_equal(waitpid(live_step, &status, 0), live_step);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spawn_fresh_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawn_dies_with_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_own_children_pidfd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_own_children_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_fd_wakes_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slurm_sbatch_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slurm_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_builtin_through_step_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_dead_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_unrecorded_step, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
