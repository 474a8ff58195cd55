/*
 * The scheduler, against a fake orchestrator that plays each step's part
 * from a script (exit code, signal, timeout, files it leaves) and records
 * what was started when: ready steps start in file order, -j and a step's
 * cpus bound what runs at once, a failure skips exactly its descendants,
 * cancellation arrives through the descriptor, every reason is recorded and
 * decides sched_run's result, a failed step keeps what it wrote, metric
 * histories and store ops reach the store with the completion, a rerun
 * comes from the cache, and a store that fails mid-run stops the run
 * instead of being ignored. (The local orchestrator itself, with real
 * processes, is test_orch's.)
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core.h"
#include "pipeline/sched.h"
#include "testutil.h"

/* ---- the fake orchestrator -------------------------------------------------------- */

typedef struct script {
	const char *step;
	int exit_code;
	int signal;
	bool timed_out;
	bool no_outputs;     /* leaves its outputs unwritten */
	const char *error;   /* error.txt */
	const char *reason;  /* reason */
	const char *metrics; /* metrics.json */
	const char *ops;     /* store_ops.json */
	bool cancel_on_start;
	const char *sql_before; /* run on a second connection before it ends */
} script;

#define MAX_TASKS 64

typedef struct fake {
	const script *scripts;
	size_t n_scripts;
	const char *db;            /* what the backend's driver opens (tu_store_target) */
	const store_driver *drv;
	const char *after_sql; /* run once the run is over, before it is read back */
	int cancel_fd;
	int cancel_flag;
	/* What happened. */
	char started[MAX_TASKS][32];
	int n_started;
	int slots_now, slots_max;
	/* Running, in start order. */
	const orch_task *task[MAX_TASKS];
	void *tag[MAX_TASKS];
	int slots[MAX_TASKS];
	int n;
} fake;

static fake F;

struct orch {
	int jobs;
};

static const script *script_for(const char *step)
{
	for (size_t i = 0; i < F.n_scripts; i++)
		if (!strcmp(F.scripts[i].step, step))
			return &F.scripts[i];
	return NULL;
}

static int fake_create(const orch_config *cfg, orch **out)
{
	orch *o = calloc(1, sizeof *o);

	assert_non_null(o);
	o->jobs = cfg->jobs;
	*out = o;
	return 0;
}

static void fake_destroy(orch *o)
{
	free(o);
}

static int fake_slots(orch *o, const orch_task *t)
{
	int n = t->resources.cpus > 0 ? t->resources.cpus : 1;

	return n > o->jobs ? o->jobs : n;
}

static int fake_start(orch *o, const orch_task *t, void *tag, orch_proc *out)
{
	const script *sc = script_for(t->step);

	assert_true(F.n < MAX_TASKS && F.n_started < MAX_TASKS);
	/* A cluster orchestrator writes the task file; it must hold the task. */
	{
		orch_task_file *tf = NULL;
		assert_int_equal(orch_task_save(t), 0);
		assert_int_equal(orch_task_load(t->task_path, &tf), 0);
		assert_string_equal(tf->t.step, t->step);
		assert_int_equal(tf->t.n_outputs, t->n_outputs);
		orch_task_file_free(tf);
	}
	snprintf(F.started[F.n_started++], sizeof F.started[0], "%s", t->step);
	F.task[F.n] = t;
	F.tag[F.n] = tag;
	F.slots[F.n] = fake_slots(o, t);
	F.slots_now += F.slots[F.n];
	if (F.slots_now > F.slots_max)
		F.slots_max = F.slots_now;
	F.n++;
	memset(out, 0, sizeof *out);
	out->pid = 1000 + F.n_started;
	snprintf(out->job_id, sizeof out->job_id, "job-%s", t->step);
	if (sc && sc->cancel_on_start) {
		uint64_t one = 1;
		__atomic_store_n(&F.cancel_flag, 1, __ATOMIC_RELEASE);
		assert_int_equal(write(F.cancel_fd, &one, sizeof one), (ssize_t)sizeof one);
	}
	return 0;
}

static void put(const char *dir, const char *name, const char *text)
{
	char *p = tu_path(dir, name);

	tu_write(p, text);
	free(p);
}

static void raw_sql(const char *sql)
{
	void *conn = NULL;

	assert_int_equal(F.drv->open(F.db, &conn), 0);
	if (F.drv->exec_script(conn, sql) != 0)
		fail_msg("%s: %s", sql, sl_errmsg());
	F.drv->close(conn);
}

static int fake_wait(orch *o, int cancel_fd, double timeout, orch_result *out)
{
	struct pollfd pf = {.fd = cancel_fd, .events = POLLIN};
	const orch_task *t;
	const script *sc;

	(void)o;
	if (cancel_fd >= 0 && poll(&pf, 1, 0) == 1)
		return SL_ECANCEL;
	if (F.n == 0)
		return SL_ENOENT;
	if (timeout == 0)
		return SL_EBUSY; /* one completion per round: the order stays the script's */
	t = F.task[0];
	sc = script_for(t->step);
	if (sc && sc->sql_before)
		raw_sql(sc->sql_before);
	for (size_t i = 0; i < t->n_outputs && !(sc && sc->no_outputs); i++) {
		char text[128];
		snprintf(text, sizeof text, "%s.%s\n", t->step, t->output_names[i]);
		tu_write(t->output_paths[i], text);
	}
	if (sc && sc->error)
		put(t->workdir, "error.txt", sc->error);
	if (sc && sc->reason)
		put(t->workdir, "reason", sc->reason);
	if (sc && sc->metrics)
		put(t->workdir, "metrics.json", sc->metrics);
	if (sc && sc->ops)
		put(t->workdir, "store_ops.json", sc->ops);
	memset(out, 0, sizeof *out);
	out->tag = F.tag[0];
	out->exit_code = sc ? (sc->signal ? 128 + sc->signal : sc->exit_code) : 0;
	out->signal = sc ? sc->signal : 0;
	out->timed_out = sc && sc->timed_out;
	F.slots_now -= F.slots[0];
	memmove(F.task, F.task + 1, (size_t)(F.n - 1) * sizeof F.task[0]);
	memmove(F.tag, F.tag + 1, (size_t)(F.n - 1) * sizeof F.tag[0]);
	memmove(F.slots, F.slots + 1, (size_t)(F.n - 1) * sizeof F.slots[0]);
	F.n--;
	return 0;
}

static void fake_cancel_all(orch *o, double grace)
{
	(void)o;
	(void)grace;
	F.n = 0;
	F.slots_now = 0;
}

static int fake_end_leftover(const store_proc *p)
{
	(void)p;
	return 0;
}

static const orch_ops fake_ops = {
	.name = "fake",
	.create = fake_create,
	.destroy = fake_destroy,
	.slots = fake_slots,
	.start = fake_start,
	.wait = fake_wait,
	.cancel_all = fake_cancel_all,
	.end_leftover = fake_end_leftover,
};

/* ---- a project around it ------------------------------------------------------------ */

typedef struct proj {
	char *dir, *state, *art, *target;
	store *st;
	json_t *run; /* the last run, as runs show --json has it */
	char *run_id;
} proj;

static int setup(void **state)
{
	proj *p = calloc(1, sizeof *p);

	assert_non_null(p);
	p->dir = strdup(tu_tmpdir());
	p->state = tu_path(p->dir, ".sluice");
	p->art = tu_path(p->state, "artifacts");
	p->target = tu_store_target(p->state);
	assert_int_equal(sl__mkdir_p(p->art, 0755), 0);
	{
		char *tmp = tu_path(p->state, "tmp");
		assert_int_equal(sl__mkdir_p(tmp, 0755), 0);
		free(tmp);
	}
	if (store_open(p->target, &p->st) != 0)
		fail_msg("store_open %s: %s", p->target, sl_errmsg());
	memset(&F, 0, sizeof F);
	F.drv = tu_store_pg() ? &store_pg_driver : &store_sqlite_driver;
	F.db = tu_store_pg() ? p->target : p->target + strlen("sqlite:");
	F.cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(F.cancel_fd >= 0);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	proj *p = *state;

	store_close(p->st);
	json_decref(p->run);
	sl__free(p->run_id);
	close(F.cancel_fd);
	tu_store_drop(p->target);
	tu_rmdir(p->dir);
	free(p->dir);
	free(p->state);
	free(p->art);
	free(p->target);
	free(p);
	return 0;
}

/*
 * Parses yaml, lets tweak adjust the parsed pipeline, runs it with jobs and
 * the scripts; keeps the run's JSON in p->run. Returns sched_run's code.
 */
static int run_with(proj *p, const char *yaml, int jobs, const script *scripts, size_t n_scripts,
		    void (*tweak)(spec *), bool no_cache)
{
	spec *sp = NULL;
	sl_run_opts opts;
	sched_env env = {.state_dir = p->state, .art_root = p->art, .st = p->st, .orch = &fake_ops,
			 .cancel_fd = F.cancel_fd, .cancel_flag = &F.cancel_flag};
	int rc;

	if (spec_parse_string(yaml, strlen(yaml), "p.yaml", p->dir, NULL, 0, &sp) != 0)
		fail_msg("parse: %s", sl_errmsg());
	if (tweak)
		tweak(sp);
	F.scripts = scripts;
	F.n_scripts = n_scripts;
	F.n_started = 0;
	F.slots_max = 0;
	memset(&opts, 0, sizeof opts);
	opts.jobs = jobs;
	opts.no_cache = no_cache;
	json_decref(p->run);
	p->run = NULL;
	sl__free(p->run_id);
	p->run_id = NULL;
	rc = sched_run(&env, sp, &opts, &p->run_id);
	spec_free(sp);
	if (F.after_sql)
		raw_sql(F.after_sql);
	assert_non_null(p->run_id);
	assert_int_equal(store_run_json(p->st, p->run_id, &p->run), 0);
	assert_int_equal(F.n, 0); /* nothing left running */
	return rc;
}

static json_t *step_of(proj *p, const char *name)
{
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(p->run, "steps"), i, s)
		if (!strcmp(json_string_value(json_object_get(s, "name")), name))
			return s;
	fail_msg("no step %s in the run", name);
	return NULL;
}

static const char *field(proj *p, const char *step, const char *key)
{
	return json_string_value(json_object_get(step_of(p, step), key));
}

/* The started steps, space separated. */
static const char *started(void)
{
	static char buf[MAX_TASKS * 33];
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < F.n_started; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? " " : "", F.started[i]);
	return buf;
}

#define STEP(name, extra) "  " name ":\n    run: make-it\n    outputs: [o]\n" extra
#define FROM(x) "    inputs: {x: " x ".o}\n"

/* ---- tests ------------------------------------------------------------------------- */

/* Among steps ready at once the first in the file starts first, whatever their names. */
static void test_ready_order(void **state)
{
	proj *p = *state;
	const char *yaml = "name: order\nsteps:\n" STEP("zeta", "") STEP("join", FROM("right"))
		STEP("alpha", "") STEP("right", FROM("zeta")) STEP("left", FROM("zeta"));

	assert_int_equal(run_with(p, yaml, 1, NULL, 0, NULL, true), 0);
	/* zeta and alpha are ready first; zeta's end readies right and left,
	 * right's end readies join, which is written before left. */
	assert_string_equal(started(), "zeta alpha right join left");
	assert_int_equal(F.slots_max, 1);
	assert_string_equal(json_string_value(json_object_get(p->run, "status")), "completed");
}

static void cpus_two(spec *sp)
{
	sp->steps[spec_step_index(sp, "big")].resources.cpus = 2;
}

/* -j bounds the slots in use; a step's cpus take that many slots. */
static void test_jobs_limit(void **state)
{
	proj *p = *state;
	const char *yaml = "name: jobs\nsteps:\n" STEP("a", "") STEP("b", "") STEP("c", "")
		STEP("d", "") STEP("e", "") STEP("f", "");
	const char *big = "name: big\nsteps:\n" STEP("a", "") STEP("big", "") STEP("c", "");

	assert_int_equal(run_with(p, yaml, 2, NULL, 0, NULL, true), 0);
	assert_int_equal(F.slots_max, 2);
	assert_int_equal(F.n_started, 6);
	assert_int_equal(run_with(p, yaml, 4, NULL, 0, NULL, true), 0);
	assert_int_equal(F.slots_max, 4);

	/* big asks for 2 cpus under -j 3: it waits until a's slot... and
	 * never runs beside more than one slot's worth of others. */
	assert_int_equal(run_with(p, big, 3, NULL, 0, cpus_two, true), 0);
	assert_int_equal(F.slots_max, 3);
	json_t *res = json_object_get(step_of(p, "big"), "resources");
	assert_int_equal(json_integer_value(json_object_get(res, "cpus")), 2);
	assert_int_equal(run_with(p, big, 2, NULL, 0, cpus_two, true), 0);
	assert_int_equal(F.slots_max, 2);
}

/* A failure skips its descendants and nothing else; the run says which and why. */
static void test_failure_skips_descendants(void **state)
{
	proj *p = *state;
	const char *yaml = "name: fail\nsteps:\n" STEP("a", "") STEP("b", FROM("a"))
		STEP("c", FROM("b")) STEP("d", "") STEP("e", FROM("d"))
		"  f:\n    run: x\n    inputs: {x: a.o, y: d.o}\n    outputs: [o]\n";
	script sc[] = {{.step = "a", .exit_code = 3, .error = "a broke"}};

	assert_int_equal(run_with(p, yaml, 1, sc, 1, NULL, true), SL_ESTEP);
	assert_non_null(strstr(sl_errmsg(), "step 'a' failed: a broke"));
	assert_string_equal(field(p, "a", "status"), "failed");
	assert_string_equal(field(p, "a", "reason"), "error");
	assert_string_equal(field(p, "a", "error"), "a broke");
	assert_int_equal(json_integer_value(json_object_get(step_of(p, "a"), "exit_code")), 3);
	assert_string_equal(field(p, "a", "job_id"), "job-a");
	for (const char *const *s = (const char *const[]){"b", "c", "f", NULL}; *s; s++) {
		assert_string_equal(field(p, *s, "status"), "skipped");
		assert_string_equal(field(p, *s, "reason"), "upstream");
	}
	assert_non_null(strstr(field(p, "c", "error"), "upstream step 'a' failed"));
	assert_string_equal(field(p, "d", "status"), "completed");
	assert_string_equal(field(p, "e", "status"), "completed");
	assert_string_equal(started(), "a d e");
	assert_string_equal(json_string_value(json_object_get(p->run, "status")), "failed");
}

/* Cancellation through the descriptor stops the running and the pending steps. */
static void test_cancel_through_fd(void **state)
{
	proj *p = *state;
	const char *yaml = "name: cancel\nsteps:\n" STEP("a", "") STEP("b", FROM("a"))
		STEP("c", FROM("b")) STEP("d", "");
	script sc[] = {{.step = "b", .cancel_on_start = true}};

	assert_int_equal(run_with(p, yaml, 1, sc, 1, NULL, true), SL_ECANCEL);
	assert_string_equal(json_string_value(json_object_get(p->run, "status")), "cancelled");
	assert_string_equal(field(p, "a", "status"), "completed");
	assert_string_equal(field(p, "b", "status"), "cancelled");
	assert_string_equal(field(p, "b", "reason"), "cancelled");
	assert_string_equal(field(p, "c", "status"), "cancelled");
	assert_string_equal(started(), "a b");
}

/* Each way of failing has its reason; the run's result follows the worst. */
static void test_reasons(void **state)
{
	proj *p = *state;
	const char *yaml = "name: reasons\nsteps:\n" STEP("gate", "") STEP("input", "")
		STEP("crash", "") STEP("slow", "") STEP("plain", "") STEP("lazy", "");
	script all[] = {
		{.step = "gate", .exit_code = 1, .error = "auc 0.6 < 0.8", .reason = "gate"},
		{.step = "input", .exit_code = 1, .error = "no file x.csv", .reason = "input"},
		{.step = "crash", .signal = 11},
		{.step = "slow", .timed_out = true, .signal = 15},
		{.step = "plain", .exit_code = 2, .reason = "nonsense"},
		{.step = "lazy", .no_outputs = true},
	};

	assert_int_equal(run_with(p, yaml, 2, all, SL__ARRAY_LEN(all), NULL, true), SL_ESTEP);
	assert_string_equal(field(p, "gate", "reason"), "gate");
	assert_string_equal(field(p, "input", "reason"), "input");
	assert_string_equal(field(p, "crash", "reason"), "crash");
	assert_non_null(strstr(field(p, "crash", "error"), "killed by signal 11"));
	assert_string_equal(field(p, "slow", "reason"), "timeout");
	assert_string_equal(field(p, "plain", "reason"), "error"); /* an unknown word is an error */
	assert_non_null(strstr(field(p, "plain", "error"), "exit code 2"));
	assert_string_equal(field(p, "lazy", "reason"), "error");
	assert_non_null(strstr(field(p, "lazy", "error"), "declared output 'o' was not written"));

	/* Only gates failed: SL_EGATE with the gate's message. */
	assert_int_equal(run_with(p, yaml, 2, all, 2, NULL, true), SL_EGATE);
	assert_non_null(strstr(sl_errmsg(), "step 'gate' failed its gate: auc 0.6 < 0.8"));
	/* Only bad input: SL_EINPUT. */
	assert_int_equal(run_with(p, yaml, 2, all + 1, 1, NULL, true), SL_EINPUT);
	assert_non_null(strstr(sl_errmsg(), "failed on bad input: no file x.csv"));
}

/* A step that fails on its own keeps its outputs and metrics; one killed keeps nothing. */
static void test_failed_step_keeps_outputs(void **state)
{
	proj *p = *state;
	const char *yaml = "name: keep\nsteps:\n"
		"  check:\n    run: x\n    outputs: [report, profile]\n"
		"  killed:\n    run: x\n    outputs: [o]\n";
	script sc[] = {
		{.step = "check", .exit_code = 1, .reason = "gate", .error = "rule broken",
		 .metrics = "{\"errors\": 2}"},
		{.step = "killed", .signal = 9, .metrics = "{\"x\": 1}"},
	};

	assert_int_equal(run_with(p, yaml, 1, sc, 2, NULL, true), SL_ESTEP);
	json_t *outs = json_object_get(step_of(p, "check"), "outputs");
	assert_int_equal(json_object_size(outs), 2);
	assert_non_null(json_object_get(outs, "report"));
	assert_true(json_number_value(json_object_get(
			    json_object_get(step_of(p, "check"), "metrics"), "errors")) == 2);
	assert_int_equal(json_object_size(json_object_get(step_of(p, "killed"), "outputs")), 0);
	assert_int_equal(json_object_size(json_object_get(step_of(p, "killed"), "metrics")), 0);
	/* A failed step's outputs are never a cache hit. */
	assert_int_equal(run_with(p, yaml, 1, NULL, 0, NULL, false), 0);
	assert_string_equal(field(p, "check", "status"), "completed");
}

/* Histories are kept by step with the last value as the metric; store ops apply. */
static void test_series_and_store_ops(void **state)
{
	proj *p = *state;
	const char *yaml = "name: series\nsteps:\n" STEP("train", "") STEP("bad_op", "");
	script sc[] = {
		{.step = "train",
		 .metrics = "{\"auc\": 0.91, \"valid_loss\": [0.69, 0.5, null, 0.31]}",
		 .ops = "[{\"op\": \"tag\", \"on\": \"output.o\", \"key\": \"stage\", "
			"\"value\": \"candidate\"}, {\"op\": \"tag\", \"on\": \"run\", "
			"\"key\": \"best\", \"value\": \"train\"}]"},
		{.step = "bad_op", .ops = "[{\"op\": \"tag\", \"on\": \"output.o\", \"kye\": \"x\"}]"},
	};
	json_t *train, *series, *art = NULL;

	assert_int_equal(run_with(p, yaml, 1, sc, 2, NULL, true), SL_ESTEP);
	train = step_of(p, "train");
	assert_string_equal(field(p, "train", "status"), "completed");
	assert_true(json_number_value(json_object_get(json_object_get(train, "metrics"),
						      "valid_loss")) == 0.31);
	series = json_object_get(json_object_get(train, "series"), "valid_loss");
	assert_int_equal(json_array_size(series), 4);
	assert_true(json_number_value(json_array_get(series, 0)) == 0.69);
	assert_true(json_is_null(json_array_get(series, 2)));
	assert_null(json_object_get(json_object_get(train, "series"), "auc"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(p->run, "tags"), "best")),
			    "train");
	assert_int_equal(store_artifact_json(p->st,
					     json_string_value(json_object_get(
						     json_object_get(train, "outputs"), "o")),
					     &art),
			 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(art, "tags"), "stage")),
			    "candidate");
	json_decref(art);
	/* A malformed op fails its step, naming the op and the field. */
	assert_string_equal(field(p, "bad_op", "status"), "failed");
	assert_non_null(strstr(field(p, "bad_op", "error"), "store op 1 (tag): unknown field 'kye'"));
}

static void test_rerun_from_cache(void **state)
{
	proj *p = *state;
	const char *yaml = "name: cached\nsteps:\n" STEP("a", "") STEP("b", FROM("a"))
		STEP("c", FROM("b"));
	script sc[] = {{.step = "a", .metrics = "{\"rows\": 5, \"curve\": [1, 2]}"}};
	json_t *a;

	assert_int_equal(run_with(p, yaml, 2, sc, 1, NULL, false), 0);
	char first[STORE_ID_SIZE];
	snprintf(first, sizeof first, "%s", p->run_id);
	assert_int_equal(run_with(p, yaml, 2, NULL, 0, NULL, false), 0);
	assert_int_equal(F.n_started, 0);
	assert_string_equal(field(p, "c", "status"), "cached");
	/* A cached step shows the metrics of the run that computed it. */
	a = step_of(p, "a");
	assert_string_equal(json_string_value(json_object_get(a, "cached_from_run")), first);
	assert_true(json_number_value(json_object_get(json_object_get(a, "metrics"), "rows")) == 5);
	assert_int_equal(json_array_size(json_object_get(json_object_get(a, "series"), "curve")), 2);
}

/*
 * A store that fails mid-run stops the run with the store's error. Here it
 * stays broken, so it cannot record the run's end either: the run stays
 * "running", whole up to its last commit, until a recovery ends it.
 */
static void test_store_failure_stops_the_run(void **state)
{
	proj *p = *state;
	const char *yaml = "name: broken\nsteps:\n" STEP("a", "") STEP("b", FROM("a"))
		STEP("c", "") STEP("d", "");
	script sc[] = {{.step = "a", .sql_before = "ALTER TABLE step_runs RENAME TO gone"}};
	int rc;

	F.after_sql = "ALTER TABLE gone RENAME TO step_runs";
	rc = run_with(p, yaml, 1, sc, 1, NULL, true);
	assert_int_equal(rc, SL_ESTORE);
	assert_non_null(strstr(sl_errmsg(), "stopped"));
	assert_non_null(strstr(sl_errmsg(), "stays 'running'"));
	assert_string_equal(json_string_value(json_object_get(p->run, "status")), "running");
	/* Nothing started after the store failed. */
	assert_string_equal(started(), "a");
	/* What recovery does once the store is back: nothing stays open. */
	json_decref(p->run);
	p->run = NULL;
	assert_int_equal(store_run_mark_lost(p->st, p->run_id, "gone"), 0);
	assert_int_equal(store_run_json(p->st, p->run_id, &p->run), 0);
	assert_string_equal(json_string_value(json_object_get(p->run, "status")), "failed");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(p->run, "steps"), 0),
						  "status")),
		"failed");
}

/*
 * A run that ends leaves no step run open: one whose end the store lost
 * (its batch did not commit) is closed with the run's end.
 */
static void test_run_end_closes_steps(void **state)
{
	proj *p = *state;
	store_run r = {.id = "r0", .pipeline = "p", .started_ms = 1000};
	store_steprun sr = {.id = "s0", .run_id = "r0", .step = "a", .status = ST_RUNNING,
			    .exit_code = -1, .started_ms = 1000};
	store_steprun pend = {.id = "s1", .run_id = "r0", .step = "b", .status = ST_PENDING,
			      .exit_code = -1};
	json_t *j, *steps;

	assert_int_equal(store_run_create(p->st, &r), 0);
	assert_int_equal(store_steprun_create(p->st, &sr, NULL, 0), 0);
	assert_int_equal(store_steprun_create(p->st, &pend, NULL, 0), 0);
	assert_int_equal(store_run_finish(p->st, "r0", ST_FAILED, 2000), 0);
	assert_int_equal(store_run_json(p->st, "r0", &j), 0);
	steps = json_object_get(j, "steps");
	assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 0), "status")),
			    "failed");
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(steps, 0), "error")),
			       "not recorded"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 1), "status")),
			    "cancelled");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ready_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jobs_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_skips_descendants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_through_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_step_keeps_outputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series_and_store_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rerun_from_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_failure_stops_the_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_end_closes_steps, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
