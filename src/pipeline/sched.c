/*
 * The scheduler: walks a pipeline's DAG, serves steps from the cache where
 * it can, starts the others through an orchestrator with at most `jobs`
 * slots in use at once, collects their outputs into the artifact store and
 * records everything in the metadata store.
 *
 * Design notes
 *
 *  1. A step's state moves only forward:
 *
 *        PENDING --ready, cache hit----------------------------> OK (cached)    try_cache
 *        PENDING --ready, miss, slots free--> RUNNING              start_step
 *        RUNNING --exit 0, every output, recorded--> OK            collect
 *        RUNNING --exit != 0, signal, timeout, no output--> FAILED collect, fail_step
 *        PENDING --an upstream step FAILED--> SKIPPED              skip_below
 *        PENDING, RUNNING --cancel--> CANCELLED                    cancel_everything
 *
 *     A step is ready when all its upstream steps are OK (n_waiting == 0).
 *     Ready steps wait in a heap keyed by their place in the file, so among
 *     steps ready at once the first written starts first, and finding the
 *     next one costs a log, not a walk over the pipeline. Independent
 *     branches keep running after a failure; only descendants of the failed
 *     step are skipped.
 *
 *  2. Only this process writes to the metadata store. Steps run in other
 *     processes and hand their results back as files (orch.h). Each round of
 *     the loop -- the steps that ended since the last wait, and the steps
 *     that could start or come from the cache after them -- is one store
 *     batch, one commit, except that the steps that ended commit before the
 *     round starts a process: a fully cached pipeline costs one transaction
 *     per round, a chain of steps two per step. A step's completion (status,
 *     artifacts, edges, metrics, store ops) is one savepoint inside it, so a
 *     kill -9 at any moment leaves each step either finished with all its
 *     outputs or not finished, and a step whose dependent has started is
 *     finished: a rerun takes it from the cache.
 *
 *  3. A cache hit is only a hit if every output artifact is present and
 *     hashes to its id; otherwise the step runs again. A rerun after a
 *     failure therefore resumes at the failed step: everything before it is
 *     served from the cache.
 *
 *  4. Outputs are written to .sluice/tmp/RUN/STEP-RUN.OUTPUT and renamed
 *     into the artifact store (same filesystem), so collecting a large output
 *     is a hash and a rename, not a copy. Their fsyncs wait until the run ends
 *     (art_sync): the metadata store's commits are not synced to disk either
 *     (sqlite.c, note 2), and an artifact a power failure cut short fails
 *     its hash when it is next used.
 *
 *  5. Nothing is dropped on the floor: every store write's result is looked
 *     at. A step whose completion cannot be recorded fails with the reason;
 *     when the store cannot record even that (or a batch does not commit),
 *     the run stops its steps and returns the store's error, since running
 *     on would do work nobody can find. The run's end is still recorded if
 *     the store allows (store_run_finish also closes the step runs whose
 *     end a lost batch took with it); if it does not (a database server
 *     that stays away), the run stays "running" with everything committed
 *     before intact, and the next run on this machine records it as failed
 *     (orch_recover), so no record is left half written.
 *
 *  6. A step that fails on its own (a non-zero exit) keeps the outputs it
 *     wrote and the metrics it recorded, as artifacts and metrics of the
 *     failed step run, so the reason can be read (a failed validate keeps
 *     its report). A step killed by a signal or a timeout keeps nothing: its
 *     files may be half written.
 *
 *  7. Everything a run writes outside the stores lives in .sluice/tmp/RUN/:
 *     outputs (STEP-RUN.OUTPUT) until they move into the artifact store, and
 *     work folders (wN), each empty when a step gets it and emptied when the
 *     step ends, then given to the next step. Making and removing a folder
 *     per step costs more than the rest of the engine's work per step on
 *     some filesystems (an ext4 without a journal looks past every recently
 *     freed inode for each new one); reuse makes none. The run removes the
 *     folder when it ends; a dead run's is swept by the next run.
 *
 *  8. A tune step's trials are steps of the run (pipeline/tune.c expands
 *     them before the nodes exist and removes them when the run ends), so
 *     notes 1-7 hold for each trial as for any step: it is cached, started
 *     through the orchestrator within -j, recorded in the round's batch.
 *     What differs, and only for trials:
 *
 *        PENDING --ready, the search says drop--> DROPPED         prepare, drop_trial
 *        PENDING, runnable --the time budget ran out--> DROPPED   launch, drop_trial
 *        PENDING --an upstream step FAILED--> DROPPED             skip_below
 *        PENDING --cancel, never started--> DROPPED               cancel_everything
 *        RUNNING --FAILED--> its dependents are released, not skipped   fail_step
 *
 *     A DROPPED trial is never recorded and counts as neither done nor
 *     failed: the run's steps are its other steps. A failed trial releases
 *     its dependents (the next rung, the tune step) as a completed one
 *     does and does not fail the run: the search goes on, and the tune
 *     step itself fails when no trial completed. The tune step's row is written, running, when its
 *     first trial is ready (record_search), so each trial's row (whose
 *     parent it is) follows it; its process starts only after its last
 *     trial ended, and reads the trials' results from the trials.json the
 *     scheduler leaves in its work folder (make_task).
 *
 *  9. A step whose options name columns of its inputs (step.h: columns_of,
 *     precheck) has them checked once its inputs exist and the cache has
 *     missed, before its process starts: the columns come from each dataset
 *     input's header (ds_read_columns; no data page is read), and a name
 *     that is not there fails the step as bad input at the option's
 *     FILE:LINE:COL (check_columns). When its upstream steps come from the
 *     cache this is before anything runs. Other steps, and steps served
 *     from the cache, read nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "pipeline/cache.h"
#include "pipeline/dag_heap.h"
#include "pipeline/sched.h"
#include "pipeline/tune.h"

#define CANCEL_GRACE_SEC 5.0
#define LEGACY_FLAG_POLL_SEC 0.1
#define RESULT_TEXT_MAX 4096

typedef enum nstate {
	N_PENDING, N_RUNNING, N_OK, N_FAILED, N_SKIPPED, N_CANCELLED,
	N_DROPPED /* a tune step's trial that was not needed (design note 8) */
} nstate;

typedef struct node {
	nstate state;
	bool recorded;        /* a step-run row exists */
	bool prepared;        /* inputs gathered and the cache tried */
	char id[17];          /* step-run id */
	size_t n_waiting;     /* upstream steps not yet OK */
	char key[SL__HASH_HEX_SIZE];
	bool has_key;
	char **out_ids;       /* per output: artifact id once stored */
	const char *reason;   /* RS_* once failed */
	char *error;          /* the failure's message */
	double t0;
	int64_t started_ms;
	int slots;            /* of -j, while RUNNING */
	orch_proc proc;
	/* Task data, alive from prepare() to the end of the step. */
	orch_task task;
	char *workdir;
	char *log_rel;
	char *log_abs;
	char *task_path;
	char *command;
	char *resources;      /* JSON, or NULL when none were asked for */
	const char **in_names;
	char **in_paths;
	const char **in_ids;
	const char **in_vias; /* per input: the step run whose output it is, or NULL */
	const char **in_refs; /* per input: its reference outside the pipeline, or NULL */
	size_t n_in;          /* inputs gathered (an optional reference may name nothing) */
	char **out_paths;
	cache_files files;    /* the files the cache key hashed: the step's sources */
	struct ext_in *ext;   /* per declared input: a reference outside the pipeline, resolved */
	char *params;         /* the step's options as recorded (JSON text), once asked for */
} node;

/* What an input reference outside the pipeline resolved to when the run started. */
typedef struct ext_in {
	bool present;               /* false: an optional reference that names nothing */
	char id[SL__HASH_HEX_SIZE]; /* the artifact */
	char via[STORE_ID_SIZE];    /* run: references, the step run it is an output of */
} ext_in;

typedef struct run {
	const sched_env *env;
	spec *sp;
	const sl_run_opts *opts;
	orch *orch;
	node *nodes;
	dag_heap ready;    /* inputs exist; cache not tried yet */
	dag_heap runnable; /* not in the cache; waiting for slots */
	char run_id[STORE_ID_SIZE];
	char *outdir;  /* tmp/RUN: the run's outputs and work folders (notes 4, 7) */
	char **free_wd; /* work folders free for the next step */
	size_t n_free_wd, cap_free_wd, n_wd;
	json_t *params;
	int jobs;
	int slots_used;
	int n_running;
	int n_done;
	double t0;
	bool cancelled;
	bool ends_open; /* the round's batch holds step completions (design note 2) */
	int fatal_rc;  /* design note 5: the run stops (the store or orchestrator failed) */
	char fatal_msg[SL__ERRMSG_MAX];
	char (*synced)[SL__HASH_HEX_SIZE]; /* artifacts put without fsync */
	size_t n_sync, cap_sync;
	tune_run *tune;    /* the trials of tune steps (design note 8), or NULL */
	size_t n_dropped;  /* trials dropped (design note 8) */
} run;

/* ---- small helpers ------------------------------------------------------------------- */

/*
 * Remembers the first failure that stops the run: the store could not record
 * something (design note 5), or the orchestrator lost its tasks.
 */
static int fatal(run *r, int rc)
{
	if (rc && !r->fatal_rc) {
		r->fatal_rc = rc;
		snprintf(r->fatal_msg, sizeof r->fatal_msg, "%s", sl_errmsg());
	}
	return rc;
}

static void emit(run *r, sl_event_kind kind, const char *step, const char *status,
		 const char *reason, const char *message, double seconds)
{
	sl_event ev;

	if (!r->opts || !r->opts->on_event)
		return;
	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.run_id = r->run_id;
	ev.pipeline = r->sp->name;
	ev.step = step;
	ev.status = status;
	ev.message = message;
	ev.seconds = seconds;
	ev.n_done = r->n_done;
	ev.n_running = r->n_running;
	ev.n_total = (int)(r->sp->n_steps - r->n_dropped);
	ev.reason = reason;
	r->opts->on_event(r->opts->event_ud, &ev);
}

static bool cancel_requested(const run *r)
{
	return (r->env->cancel_flag && __atomic_load_n(r->env->cancel_flag, __ATOMIC_ACQUIRE)) ||
	       (r->opts && r->opts->cancel && *r->opts->cancel);
}

static const char *step_kind(const spec_step *st, char *buf, size_t size)
{
	switch (st->kind) {
	case SPEC_USES:
		snprintf(buf, size, "uses:%s", st->uses);
		break;
	case SPEC_RUN:
		snprintf(buf, size, "run");
		break;
	case SPEC_PLUGIN:
		snprintf(buf, size, "plugin:%s", st->plugin);
		break;
	}
	return buf;
}

/* The step's resolved options as its record keeps them (owned by the node). */
static const char *params_of(run *r, size_t i)
{
	node *n = &r->nodes[i];
	const json_t *with = r->sp->steps[i].with;

	if (!n->params && with && json_object_size(with)) {
		char *t = sl__json_dumps(with, JSON_COMPACT | JSON_SORT_KEYS);
		n->params = t ? sl__strdup(t) : NULL;
		free(t);
	}
	return n->params;
}

/* A trial's parent: the step run of its tune step (design note 8), else NULL. */
static const char *parent_of(const run *r, size_t i)
{
	long p = tune_parent(r->tune, i);

	return p >= 0 ? r->nodes[p].id : NULL;
}

static void free_task(node *n, size_t n_in, size_t n_out)
{
	if (n->in_paths)
		for (size_t i = 0; i < n_in; i++)
			sl__free(n->in_paths[i]);
	if (n->out_paths)
		for (size_t i = 0; i < n_out; i++)
			sl__free(n->out_paths[i]);
	sl__free(n->in_paths);
	sl__free(n->in_names);
	sl__free(n->in_ids);
	sl__free(n->in_vias);
	sl__free(n->in_refs);
	sl__free(n->out_paths);
	cache_files_free(&n->files);
	sl__free(n->workdir);
	sl__free(n->log_rel);
	sl__free(n->log_abs);
	sl__free(n->task_path);
	sl__free(n->command);
	sl__free(n->resources);
	n->in_paths = NULL;
	n->in_names = NULL;
	n->in_ids = NULL;
	n->in_vias = NULL;
	n->in_refs = NULL;
	n->n_in = 0;
	n->out_paths = NULL;
	n->workdir = NULL;
	n->log_rel = NULL;
	n->log_abs = NULL;
	n->task_path = NULL;
	n->command = NULL;
	n->resources = NULL;
}

/*
 * Work folders are reused (design note 7): a step gets a free one of its
 * run's, empty, or a new one when none is free.
 */
static char *take_workdir(run *r)
{
	char *wd;

	if (r->n_free_wd)
		return r->free_wd[--r->n_free_wd];
	wd = sl__asprintf("%s/w%zu", r->outdir, r->n_wd);
	if (!wd) {
		sl__err(SL_ENOMEM, "out of memory");
		return NULL;
	}
	if (mkdir(wd, 0755) != 0 && errno != EEXIST) {
		sl__err(SL_EIO, "cannot create %s: %s", wd, strerror(errno));
		sl__free(wd);
		return NULL;
	}
	r->n_wd++;
	return wd;
}

/*
 * Empties a finished step's work folder (usually empty already: one
 * directory read) and puts it back for the next step; takes wd. A folder
 * that cannot be emptied is left to the run's end, which removes them all.
 */
static void give_workdir(run *r, char *wd)
{
	int dfd;
	DIR *d;
	struct dirent *e;
	bool clean = true;

	if (!wd)
		return;
	dfd = open(wd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		sl__free(wd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dfd, e->d_name, 0) != 0) {
			char *sub = sl__path_join(wd, e->d_name);
			clean = sub && sl__rm_rf(sub) == 0;
			sl__free(sub);
			sl__err_clear();
		}
	}
	closedir(d);
	if (clean && r->n_free_wd == r->cap_free_wd) {
		size_t cap = r->cap_free_wd ? r->cap_free_wd * 2 : 16;
		char **v = sl__reallocarray(r->free_wd, cap, sizeof *v);
		if (v) {
			r->free_wd = v;
			r->cap_free_wd = cap;
		}
	}
	if (clean && r->n_free_wd < r->cap_free_wd)
		r->free_wd[r->n_free_wd++] = wd;
	else
		sl__free(wd);
}

/* Removes the outputs a step wrote that were not moved into the artifact store. */
static void remove_outputs(const node *n, size_t n_outputs)
{
	for (size_t o = 0; n->out_paths && o < n_outputs; o++)
		if (n->out_paths[o] && unlink(n->out_paths[o]) != 0 && errno != ENOENT) {
			sl__rm_rf(n->out_paths[o]); /* a directory where a file was expected */
			sl__err_clear();
		}
}

/* The first size-1 bytes of workdir/name, without a trailing newline; "" when absent. */
static void read_text(const char *workdir, const char *name, char *out, size_t size)
{
	char *path = sl__path_join(workdir, name);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t n = 0;

	out[0] = '\0';
	if (fd >= 0) {
		n = read(fd, out, size - 1);
		close(fd);
	}
	sl__free(path);
	if (n < 0)
		n = 0;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		n--;
	out[n] = '\0';
}

/* The last non-empty line of a log, for a failure message. */
static void log_tail(const char *path, char *out, size_t size)
{
	sl__buf b;
	size_t end, start;

	out[0] = '\0';
	if (!path || sl__read_file(path, 1 << 20, &b) != 0) {
		sl__err_clear();
		return;
	}
	end = b.len;
	while (end > 0 && (b.data[end - 1] == '\n' || b.data[end - 1] == '\r' ||
			   b.data[end - 1] == ' '))
		end--;
	start = end;
	while (start > 0 && b.data[start - 1] != '\n')
		start--;
	if (end > start)
		snprintf(out, size, "%.*s", (int)(end - start), b.data + start);
	sl__buf_free(&b);
}

static json_t *read_json_file(const char *dir, const char *name)
{
	char *path = sl__path_join(dir, name);
	json_t *j = path ? json_load_file(path, 0, NULL) : NULL;

	sl__free(path);
	return j;
}

/* {"cpus": 2, ...}: the resources a step asked for, or NULL when none. */
static char *resources_json(const spec_resources *res)
{
	json_t *o;
	char *text, *copy;

	if (!res->cpus && !res->memory && !res->time && !res->gpus)
		return NULL;
	o = json_object();
	if (res->cpus)
		json_object_set_new(o, "cpus", json_integer(res->cpus));
	if (res->memory)
		json_object_set_new(o, "memory", json_integer((json_int_t)res->memory));
	if (res->time)
		json_object_set_new(o, "time", json_real(res->time));
	if (res->gpus)
		json_object_set_new(o, "gpus", json_integer(res->gpus));
	text = o ? sl__json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	copy = text ? sl__strdup(text) : NULL;
	free(text);
	return copy;
}

static int remember_sync(run *r, const char *id)
{
	if (r->n_sync == r->cap_sync) {
		size_t cap = r->cap_sync ? r->cap_sync * 2 : 64;
		char (*v)[SL__HASH_HEX_SIZE] = sl__reallocarray(r->synced, cap, sizeof *v);
		if (!v)
			return sl__err(SL_ENOMEM, "out of memory");
		r->synced = v;
		r->cap_sync = cap;
	}
	memcpy(r->synced[r->n_sync++], id, SL__HASH_HEX_SIZE);
	return 0;
}

/* ---- state changes ------------------------------------------------------------------- */

static void push_ready(run *r, size_t i)
{
	dag_heap_push(&r->ready, i);
}

/* Step i finished OK: its dependents wait for one step less. */
static void release_below(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];

	for (size_t d = 0; d < st->n_downstream; d++) {
		node *dn = &r->nodes[st->downstream[d]];
		if (--dn->n_waiting == 0 && dn->state == N_PENDING)
			push_ready(r, st->downstream[d]);
	}
}

/*
 * A trial that is not needed (design note 8): never recorded, it holds up
 * nothing. What its preparation gathered is freed.
 */
static void drop_trial(run *r, size_t i)
{
	node *n = &r->nodes[i];

	n->state = N_DROPPED;
	r->n_dropped++;
	tune_trial_dropped(r->tune, i);
	free_task(n, r->sp->steps[i].n_inputs, r->sp->steps[i].n_outputs);
	release_below(r, i);
}

/*
 * Tells the search that trial i ended (status completed, cached or failed):
 * its metrics as recorded (a cached trial: those of the step run that
 * computed it) and its model's path.
 */
static void note_trial(run *r, size_t i, const char *status)
{
	node *n = &r->nodes[i];
	const spec_step *st = &r->sp->steps[i];
	json_t *metrics = NULL;
	char *model = NULL;

	if (tune_parent(r->tune, i) < 0)
		return;
	if (n->recorded && fatal(r, store_steprun_metrics(r->env->st, n->id, &metrics)))
		return;
	for (size_t o = 0; n->state == N_OK && n->out_ids && o < st->n_outputs; o++)
		if (!strcmp(st->outputs[o], "model") && n->out_ids[o] &&
		    !(model = art_path(r->env->art_root, n->out_ids[o])))
			fatal(r, sl__oom());
	if (!r->fatal_rc)
		fatal(r, tune_trial_done(r->tune, i, status, n->error, metrics, model));
	json_decref(metrics);
	sl__free(model);
}

/*
 * The row of tune step t, recorded running with its inputs when its first
 * trial is ready (design note 8): its trials are recorded as its children,
 * after it, and `runs show` lists them under it.
 */
static void record_search(run *r, size_t t)
{
	node *n = &r->nodes[t];
	const spec_step *st = &r->sp->steps[t];
	store_io ins[16], *inp;
	size_t k = 0;
	char kind[256];
	int rc;

	if (n->recorded || r->fatal_rc)
		return;
	inp = st->n_inputs <= SL__ARRAY_LEN(ins) ? ins : sl__calloc(st->n_inputs, sizeof *inp);
	if (!inp) {
		fatal(r, sl__oom());
		return;
	}
	for (size_t j = 0; j < st->n_inputs; j++) {
		const spec_input *in = &st->inputs[j];
		if (in->ref != SPEC_REF_STEP) {
			const ext_in *e = &n->ext[j];
			if (e->present)
				inp[k++] = (store_io){.name = in->name, .artifact_id = e->id,
						      .via = e->via[0] ? e->via : NULL, .ref = in->text};
			continue;
		}
		const spec_step *up = &r->sp->steps[in->step_index];
		const node *un = &r->nodes[in->step_index];
		for (size_t o = 0; un->out_ids && o < up->n_outputs; o++)
			if (!strcmp(up->outputs[o], in->output) && un->out_ids[o])
				inp[k++] = (store_io){.name = in->name, .artifact_id = un->out_ids[o],
						      .via = un->id};
	}
	n->started_ms = sl__now_ms();
	n->t0 = sl__mono_sec();
	{
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind), .status = ST_RUNNING,
			.exit_code = -1, .started_ms = n->started_ms, .params_json = params_of(r, t),
		};
		rc = store_steprun_create(r->env->st, &sr, inp, k);
	}
	if (inp != ins)
		sl__free(inp);
	if (fatal(r, rc) == 0)
		n->recorded = true;
}

/*
 * Marks every pending descendant of failed step i as skipped: a walk over
 * downstream edges with an explicit stack (no recursion, so a 100,000-step
 * chain cannot exhaust the stack). A pending step never sits in a heap
 * while an upstream step has not completed, so nothing skipped is queued.
 */
static void skip_below(run *r, size_t i, const char *why)
{
	size_t *stack, n = 0, cap = r->sp->n_steps + 1;
	char kind[256];

	stack = sl__calloc(cap, sizeof *stack);
	if (!stack) {
		fatal(r, sl__err(SL_ENOMEM, "out of memory"));
		return;
	}
	stack[n++] = i;
	while (n > 0) {
		const spec_step *st = &r->sp->steps[stack[--n]];
		for (size_t d = 0; d < st->n_downstream; d++) {
			size_t j = st->downstream[d];
			node *dn = &r->nodes[j];
			const spec_step *dst = &r->sp->steps[j];
			if (dn->state != N_PENDING)
				continue;
			if (tune_parent(r->tune, j) >= 0) {
				/* Design note 8: a trial of a search that cannot start is dropped. */
				dn->state = N_DROPPED;
				r->n_dropped++;
				tune_trial_dropped(r->tune, j);
				if (n < cap)
					stack[n++] = j;
				continue;
			}
			dn->state = N_SKIPPED;
			dn->reason = RS_UPSTREAM;
			r->n_done++;
			store_steprun sr = {
				.id = dn->id, .run_id = r->run_id, .step = dst->name,
				.kind = step_kind(dst, kind, sizeof kind), .status = ST_SKIPPED,
				.exit_code = -1, .started_ms = sl__now_ms(), .ended_ms = sl__now_ms(),
				.error = why, .reason = RS_UPSTREAM, .params_json = params_of(r, j),
			};
			if (dn->recorded)
				fatal(r, store_steprun_set_status(r->env->st, dn->id, ST_SKIPPED, sl__now_ms(),
								   why, RS_UPSTREAM));
			else if (fatal(r, store_steprun_create(r->env->st, &sr, NULL, 0)) == 0)
				dn->recorded = true;
			emit(r, SL_EVENT_STEP_END, dst->name, ST_SKIPPED, RS_UPSTREAM, why, 0);
			if (n < cap)
				stack[n++] = j; /* each step is pushed once: it is no longer pending */
		}
	}
	sl__free(stack);
}

/*
 * Step i failed. res (may be NULL) holds what it left that is kept (design
 * note 6). Records it, tells the caller, skips its descendants.
 */
static void fail_step(run *r, size_t i, int exit_code, const char *reason, const char *why,
		      const store_result *res)
{
	node *n = &r->nodes[i];
	const spec_step *st = &r->sp->steps[i];
	char kind[256];
	char msg[SL__ERRMSG_MAX];
	store_steprun sr = {
		.id = n->id, .run_id = r->run_id, .step = st->name,
		.kind = step_kind(st, kind, sizeof kind), .cache_key = n->has_key ? n->key : NULL,
		.status = ST_FAILED, .exit_code = exit_code,
		.started_ms = n->started_ms ? n->started_ms : sl__now_ms(),
		.ended_ms = sl__now_ms(), .log_path = n->log_rel, .error = why, .reason = reason,
		.pid = n->proc.pid, .pid_start = n->proc.pid_start,
		.job_id = n->proc.job_id[0] ? n->proc.job_id : NULL, .resources_json = n->resources,
		.params_json = params_of(r, i), .parent = parent_of(r, i),
	};
	int rc;

	n->state = N_FAILED;
	n->reason = reason;
	sl__free(n->error);
	n->error = sl__strdup(why);
	r->n_done++;
	rc = n->recorded ? store_steprun_finish(r->env->st, &sr, res)
			 : store_steprun_record(r->env->st, &sr, NULL, 0, res);
	if (rc && res) {
		/* What it left could not be recorded; the failure itself must be. */
		rc = n->recorded ? store_steprun_finish(r->env->st, &sr, NULL)
				 : store_steprun_record(r->env->st, &sr, NULL, 0, NULL);
	}
	if (fatal(r, rc) == 0)
		n->recorded = true;
	/* A step that failed before it started (its inputs, design note 9) took no time. */
	emit(r, SL_EVENT_STEP_END, st->name, ST_FAILED, reason, why,
	     n->t0 > 0 ? sl__mono_sec() - n->t0 : 0);
	if (tune_parent(r->tune, i) >= 0) {
		/* Design note 8: a failed trial is one result of its search. */
		note_trial(r, i, ST_FAILED);
		release_below(r, i);
		return;
	}
	snprintf(msg, sizeof msg, "upstream step '%s' failed", st->name);
	skip_below(r, i, msg);
}

/* ---- preparing, the cache, starting ------------------------------------------------- */

/*
 * Gathers input names, artifact ids, paths, and where each came from, of a
 * ready step: an upstream step's output, or what a reference outside the
 * pipeline resolved to when the run started (an optional one that named
 * nothing is left out).
 */
static int gather_inputs(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	size_t k = st->n_inputs;

	n->n_in = 0;
	n->in_names = sl__calloc(k + 1, sizeof *n->in_names);
	n->in_ids = sl__calloc(k + 1, sizeof *n->in_ids);
	n->in_paths = sl__calloc(k + 1, sizeof *n->in_paths);
	n->in_vias = sl__calloc(k + 1, sizeof *n->in_vias);
	n->in_refs = sl__calloc(k + 1, sizeof *n->in_refs);
	if (!n->in_names || !n->in_ids || !n->in_paths || !n->in_vias || !n->in_refs)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t j = 0; j < k; j++) {
		const spec_input *in = &st->inputs[j];
		const char *id, *via;
		size_t m;

		if (in->ref == SPEC_REF_STEP) {
			const spec_step *up = &r->sp->steps[in->step_index];
			const node *un = &r->nodes[in->step_index];
			size_t o;
			for (o = 0; o < up->n_outputs; o++)
				if (!strcmp(up->outputs[o], in->output))
					break;
			if (o == up->n_outputs || !un->out_ids || !un->out_ids[o])
				return sl__err(SL_ESTEP, "step '%s': input '%s' (%s.%s) has no artifact",
					       st->name, in->name, in->step, in->output);
			id = un->out_ids[o];
			via = un->id;
		} else {
			const ext_in *e = &n->ext[j];
			if (!e->present)
				continue;
			id = e->id;
			via = e->via[0] ? e->via : NULL;
		}
		m = n->n_in++;
		n->in_names[m] = in->name;
		n->in_ids[m] = id;
		n->in_vias[m] = via;
		n->in_refs[m] = in->ref == SPEC_REF_STEP ? NULL : in->text;
		n->in_paths[m] = art_path(r->env->art_root, id);
		if (!n->in_paths[m])
			return sl__err(SL_ENOMEM, "out of memory");
	}
	return 0;
}

static int alloc_out_ids(run *r, size_t i)
{
	node *n = &r->nodes[i];

	if (!n->out_ids) {
		n->out_ids = sl__calloc(r->sp->steps[i].n_outputs + 1, sizeof *n->out_ids);
		if (!n->out_ids)
			return sl__err(SL_ENOMEM, "out of memory");
	}
	return 0;
}

static void drop_out_ids(run *r, size_t i)
{
	node *n = &r->nodes[i];

	for (size_t o = 0; n->out_ids && o < r->sp->steps[i].n_outputs; o++) {
		sl__free(n->out_ids[o]);
		n->out_ids[o] = NULL;
	}
}

/* Inputs as store edges, in buf when they fit, else allocated (free when != buf). */
static store_io *input_edges(const node *n, size_t k, store_io *buf, size_t buf_n)
{
	store_io *io = k <= buf_n ? buf : sl__calloc(k, sizeof *io);

	for (size_t j = 0; io && j < k; j++)
		io[j] = (store_io){.name = n->in_names[j], .artifact_id = n->in_ids[j],
				   .via = n->in_vias[j], .ref = n->in_refs[j]};
	return io;
}

/* Tries the cache for a prepared step: true (and the step is OK) on a verified hit. */
static bool try_cache(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	char *from = NULL;
	store_io *outs = NULL, ins[16], *inp = NULL;
	size_t n_outs = 0;
	bool hit = true;
	char kind[256];
	int rc;

	rc = store_cache_lookup(r->env->st, n->key, &from, &outs, &n_outs);
	if (rc) {
		if (rc != SL_ENOENT)
			fatal(r, rc);
		sl__err_clear();
		return false;
	}
	if (alloc_out_ids(r, i) != 0)
		hit = false;
	/* Every declared output must be among the cached ones, present and intact. */
	for (size_t o = 0; hit && o < st->n_outputs; o++) {
		size_t k;
		for (k = 0; k < n_outs; k++)
			if (!strcmp(outs[k].name, st->outputs[o]))
				break;
		if (k == n_outs || art_verify(r->env->art_root, outs[k].artifact_id) != 0) {
			sl__err_clear();
			hit = false;
			break;
		}
		if (!(n->out_ids[o] = sl__strdup(outs[k].artifact_id)))
			hit = false;
	}
	if (hit && !(inp = input_edges(n, n->n_in, ins, SL__ARRAY_LEN(ins))))
		hit = false;
	if (hit) {
		int64_t now = sl__now_ms();
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind), .cache_key = n->key,
			.status = ST_CACHED, .exit_code = -1, .started_ms = now, .ended_ms = now,
			.cache_hit = true, .cached_from = from, .params_json = params_of(r, i),
			.parent = parent_of(r, i),
		};
		store_result res = {.outputs = outs, .n_outputs = n_outs};
		hit = fatal(r, store_steprun_record(r->env->st, &sr, inp, n->n_in, &res)) == 0;
	}
	if (inp != ins)
		sl__free(inp);
	if (!hit)
		drop_out_ids(r, i);
	sl__free(from);
	store_io_free(outs, n_outs);
	if (hit) {
		n->recorded = true;
		n->state = N_OK;
		r->n_done++;
		emit(r, SL_EVENT_STEP_END, st->name, ST_CACHED, NULL, NULL, 0);
		note_trial(r, i, ST_CACHED);
		release_below(r, i);
	}
	return hit;
}

/*
 * Design note 9: the options of step i that name columns, against its
 * inputs' columns, before it starts. Returns 0 when it may start; otherwise
 * the step has failed (bad input, placed in the file).
 */
static int check_columns(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	step_columns cbuf[8], *cols;
	ds_columns dbuf[8] = {{0}}, *dc;
	char msg[SL__ERRMSG_MAX];
	int rc = 0;

	cols = n->n_in <= SL__ARRAY_LEN(cbuf) ? cbuf : sl__calloc(n->n_in, sizeof *cols);
	dc = n->n_in <= SL__ARRAY_LEN(dbuf) ? dbuf : sl__calloc(n->n_in, sizeof *dc);
	if (!cols || !dc)
		rc = sl__oom();
	for (size_t k = 0; rc == 0 && k < n->n_in; k++) {
		const step_port *p = st->def->inputs;
		while (p && p->name && strcmp(p->name, n->in_names[k]))
			p++;
		cols[k] = (step_columns){.input = n->in_names[k]};
		if (!p || !p->name || strcmp(p->type, "dataset"))
			continue;
		if (ds_read_columns(n->in_paths[k], &dc[k]) != 0) {
			/* Not a dataset after all: the step says what is wrong with it. */
			sl__err_clear();
			continue;
		}
		cols[k] = (step_columns){.input = n->in_names[k], .known = true,
					 .names = dc[k].names, .types = dc[k].types, .n = dc[k].n};
	}
	if (rc == 0)
		rc = step_columns_check(st->def, st->with, cols, n->n_in);
	if (rc) {
		snprintf(msg, sizeof msg, "%s", sl_errmsg());
		char *placed = rc == SL_ENOMEM ? NULL : spec_locate_msg(r->sp, i, msg);
		fail_step(r, i, -1, rc == SL_ENOMEM ? RS_ERROR : RS_INPUT, placed ? placed : msg,
			  NULL);
		sl__free(placed);
	}
	for (size_t k = 0; dc && k < n->n_in; k++)
		ds_columns_free(&dc[k]);
	if (cols != cbuf)
		sl__free(cols);
	if (dc != dbuf)
		sl__free(dc);
	return rc;
}

/*
 * Readies step i to run: its inputs, its cache key, the cache, and the
 * column names its options give (design note 9). Returns true when the
 * step is settled (served from the cache, or failed), false when it must
 * run.
 */
static bool prepare(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	int rc;

	n->prepared = true;
	if (tune_parent(r->tune, i) >= 0) {
		/* Design note 8: the search decides the trial's options, or drops it. */
		char msg[SL__ERRMSG_MAX];
		tune_verdict v;
		rc = tune_trial_ready(r->tune, r->sp, i, sl__mono_sec(), &v, msg, sizeof msg);
		if (rc) {
			fatal(r, rc);
			return true;
		}
		if (v == TUNE_DROP) {
			drop_trial(r, i);
			return true;
		}
		record_search(r, (size_t)tune_parent(r->tune, i));
		if (v == TUNE_FAIL) {
			fail_step(r, i, -1, RS_INPUT, msg, NULL);
			return true;
		}
	}
	rc = gather_inputs(r, i);
	/* The key is computed whether or not the cache is used: the files it
	 * hashes are the step's sources, recorded as the roots of its lineage. */
	if (rc == 0)
		rc = cache_key_files(r->sp, i, n->in_names, n->in_ids, n->n_in, &n->files, n->key);
	if (rc == 0 && st->cache && !(r->opts && r->opts->no_cache) &&
	    !(st->kind == SPEC_USES && st->def->cacheable && !st->def->cacheable(st->with)))
		n->has_key = true;
	if (rc) {
		fail_step(r, i, -1, RS_ERROR, sl_errmsg(), NULL);
		free_task(n, st->n_inputs, st->n_outputs);
		return true;
	}
	if ((n->has_key && try_cache(r, i)) ||
	    (st->kind == SPEC_USES && step_names_columns(st->def) && check_columns(r, i) != 0)) {
		free_task(n, st->n_inputs, st->n_outputs);
		return true;
	}
	return false;
}

/*
 * Creates the step's work folder and describes its task. The task file is
 * the orchestrator's to write (orch_task_save), when the way it starts the
 * task reads it.
 */
static int make_task(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	int rc = 0;

	n->workdir = take_workdir(r);
	n->log_rel = sl__asprintf("logs/%s/%s.log", r->run_id, st->name);
	n->log_abs = n->log_rel ? sl__path_join(r->env->state_dir, n->log_rel) : NULL;
	n->task_path = n->workdir ? sl__path_join(n->workdir, "task.json") : NULL;
	n->out_paths = sl__calloc(st->n_outputs + 1, sizeof *n->out_paths);
	if (!n->workdir)
		return SL_EIO;
	if (!n->log_abs || !n->task_path || !n->out_paths)
		return sl__err(SL_ENOMEM, "out of memory");
	/* Outputs share the run's folder, named by step run: a folder fewer to
	 * make and remove per step, and no name of theirs can meet a file of
	 * the workdir's protocol or the step's own scratch files. */
	for (size_t o = 0; rc == 0 && o < st->n_outputs; o++)
		if (!(n->out_paths[o] = sl__asprintf("%s/%s.%s", r->outdir, n->id, st->outputs[o])))
			rc = sl__err(SL_ENOMEM, "out of memory");
	if (rc)
		return rc;
	if (st->kind == SPEC_RUN) {
		/* An optional input that named nothing reads as the empty string. */
		const char **names = sl__calloc(st->n_inputs + 1, sizeof *names);
		const char **vals = sl__calloc(st->n_inputs + 1, sizeof *vals);
		for (size_t j = 0; names && vals && j < st->n_inputs; j++) {
			names[j] = st->inputs[j].name;
			vals[j] = "";
			for (size_t g = 0; g < n->n_in; g++)
				if (!strcmp(n->in_names[g], names[j]))
					vals[j] = n->in_paths[g];
		}
		n->command = names && vals ? spec_subst_io(st->run, names, vals, st->n_inputs,
							   (const char *const *)st->outputs,
							   (const char *const *)n->out_paths,
							   st->n_outputs)
					   : NULL;
		if (!names || !vals)
			sl__oom();
		sl__free(names);
		sl__free(vals);
		if (!n->command)
			return SL_ESPEC;
	}
	/* Design note 8: a tune step reads what its trials left. */
	if (r->tune && st->kind == SPEC_USES && !strcmp(st->uses, "tune") &&
	    (rc = tune_write_trials(r->tune, i, n->workdir)) != 0)
		return rc;
	n->resources = resources_json(&st->resources);
	n->task = (orch_task){
		.run_id = r->run_id, .steprun_id = n->id, .pipeline = r->sp->name,
		.pipeline_sha256 = r->sp->sha256,
		.step = st->name, .kind = st->kind, .uses = st->uses,
		.uses_version = st->kind == SPEC_USES ? st->def->version : 0,
		.command = n->command, .plugin = st->plugin, .with = st->with,
		.params = r->params, .env = st->env, .pipeline_dir = r->sp->dir,
		.workdir = n->workdir, .log_path = n->log_abs, .task_path = n->task_path,
		.n_inputs = n->n_in, .input_names = n->in_names,
		.input_paths = (const char *const *)n->in_paths, .input_ids = n->in_ids,
		.n_outputs = st->n_outputs, .output_names = (const char *const *)st->outputs,
		.output_paths = (const char *const *)n->out_paths, .timeout = st->timeout,
		.resources = st->resources,
	};
	return 0;
}

static void start_step(run *r, size_t i, int slots)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	char kind[256];
	int rc;

	if (!n->recorded) { /* a tune step started its record with its search */
		n->started_ms = sl__now_ms();
		n->t0 = sl__mono_sec();
	}
	rc = make_task(r, i);
	if (rc == 0)
		rc = r->env->orch->start(r->orch, &n->task, n, &n->proc);
	if (rc) {
		char why[SL__ERRMSG_MAX];
		snprintf(why, sizeof why, "could not start: %s", sl_errmsg());
		memset(&n->proc, 0, sizeof n->proc);
		fail_step(r, i, -1, RS_ERROR, why, NULL);
		give_workdir(r, n->workdir);
		n->workdir = NULL;
		remove_outputs(n, st->n_outputs);
		free_task(n, st->n_inputs, st->n_outputs);
		return;
	}
	n->state = N_RUNNING;
	n->slots = slots;
	r->n_running++;
	r->slots_used += slots;
	{
		/* Recorded once it runs, with what identifies its processes, so a
		 * later run can end them should this one die (orch_recover). */
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind), .cache_key = n->has_key ? n->key : NULL,
			.status = ST_RUNNING, .exit_code = -1, .started_ms = n->started_ms,
			.log_path = n->log_rel, .pid = n->proc.pid, .pid_start = n->proc.pid_start,
			.job_id = n->proc.job_id[0] ? n->proc.job_id : NULL,
			.resources_json = n->resources, .params_json = params_of(r, i),
			.parent = parent_of(r, i),
		};
		store_io ins[16], *inp = input_edges(n, n->n_in, ins, SL__ARRAY_LEN(ins));
		store_file fbuf[8], *files = n->files.n <= SL__ARRAY_LEN(fbuf)
						      ? fbuf
						      : sl__calloc(n->files.n, sizeof *files);
		for (size_t f = 0; files && f < n->files.n; f++)
			files[f] = (store_file){n->files.v[f].path, n->files.v[f].sha256};
		sr.files = files;
		sr.n_files = files ? n->files.n : 0;
		if (n->recorded) /* a tune step, recorded when its search began */
			rc = store_steprun_started(r->env->st, &sr);
		else
			rc = inp && files ? store_steprun_create(r->env->st, &sr, inp, n->n_in)
					  : sl__oom();
		if (inp != ins)
			sl__free(inp);
		if (files != fbuf)
			sl__free(files);
		if (fatal(r, rc) == 0)
			n->recorded = true;
	}
	emit(r, SL_EVENT_STEP_START, st->name, ST_RUNNING, NULL, NULL, 0);
}

/*
 * Settles every ready step it can: from the cache, or started while slots
 * are free, in file order. The caller holds the round's store batch.
 */
static void launch(run *r)
{
	while (!r->fatal_rc && !cancel_requested(r)) {
		size_t i;
		orch_task probe;
		int slots;

		while (r->ready.n && !r->fatal_rc) {
			i = dag_heap_pop(&r->ready);
			if (r->nodes[i].state == N_PENDING && !prepare(r, i) &&
			    r->nodes[i].state == N_PENDING)
				dag_heap_push(&r->runnable, i);
		}
		if (!r->runnable.n || r->fatal_rc)
			return;
		i = r->runnable.v[0];
		memset(&probe, 0, sizeof probe);
		probe.resources = r->sp->steps[i].resources;
		slots = r->env->orch->slots(r->orch, &probe);
		if (slots < 1)
			slots = 1;
		if (r->slots_used + slots > r->jobs)
			return;
		dag_heap_pop(&r->runnable);
		if (!tune_trial_in_time(r->tune, i, sl__mono_sec())) {
			drop_trial(r, i); /* design note 8: the search's time is up */
			continue;
		}
		if (r->ends_open) {
			/* Design note 2: what ended commits before anything starts. */
			r->ends_open = false;
			fatal(r, store_batch_end(r->env->st));
			if (!r->fatal_rc)
				fatal(r, store_batch_begin(r->env->st));
			if (r->fatal_rc)
				return;
		}
		start_step(r, i, slots);
	}
}

/* ---- collecting a finished step ------------------------------------------------------ */

/* What a finished step left in its workdir, ready for the store. */
typedef struct harvest {
	store_artifact *arts;
	store_io *outs;
	size_t n_outs;
	char **metas;
	store_metric *mets;
	size_t n_mets;
	double **hist;
	json_t *metrics;
	json_t *meta;
	json_t *ops;
} harvest;

static void harvest_free(harvest *h, size_t n_outputs)
{
	if (h->metas)
		for (size_t o = 0; o < n_outputs; o++)
			free(h->metas[o]);
	if (h->hist)
		for (size_t m = 0; m < h->n_mets; m++)
			sl__free(h->hist[m]);
	sl__free(h->metas);
	sl__free(h->arts);
	sl__free(h->outs);
	sl__free(h->mets);
	sl__free(h->hist);
	json_decref(h->metrics);
	json_decref(h->meta);
	json_decref(h->ops);
	memset(h, 0, sizeof *h);
}

/*
 * Stores the step's outputs as artifacts. With all_required, a missing
 * output fails (why says which); otherwise the outputs present are kept.
 */
static int harvest_outputs(run *r, size_t i, bool all_required, harvest *h, char *why,
			   size_t why_size)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];

	if (alloc_out_ids(r, i) != 0 ||
	    !(h->arts = sl__calloc(st->n_outputs + 1, sizeof *h->arts)) ||
	    !(h->outs = sl__calloc(st->n_outputs + 1, sizeof *h->outs)) ||
	    !(h->metas = sl__calloc(st->n_outputs + 1, sizeof *h->metas))) {
		snprintf(why, why_size, "out of memory collecting the step's outputs");
		return SL_ENOMEM;
	}
	h->meta = read_json_file(n->workdir, "meta.json");
	for (size_t o = 0; o < st->n_outputs; o++) {
		char id[SL__HASH_HEX_SIZE];
		uint64_t size = 0;
		const char *type = "file";
		json_t *m;
		int rc;

		if (!sl__is_file(n->out_paths[o])) {
			if (!all_required)
				continue;
			if (sl__is_dir(n->out_paths[o]))
				snprintf(why, why_size,
					 "declared output '%s' is a directory; an output is one file "
					 "(write an archive, e.g. tar -cf \"${outputs.%s}\" DIR)",
					 st->outputs[o], st->outputs[o]);
			else
				snprintf(why, why_size,
					 "declared output '%s' was not written (expected a file at %s)",
					 st->outputs[o], n->out_paths[o]);
			return SL_ESTEP;
		}
		rc = art_put_file_deferred(r->env->art_root, n->out_paths[o], id, &size);
		if (rc == 0)
			rc = remember_sync(r, id);
		if (rc) {
			snprintf(why, why_size, "storing output '%s': %s", st->outputs[o], sl_errmsg());
			return rc;
		}
		if (st->kind == SPEC_USES && st->def->outputs)
			for (const step_port *p = st->def->outputs; p->name; p++)
				if (!strcmp(p->name, st->outputs[o]))
					type = p->type;
		if (!(n->out_ids[o] = sl__strdup(id))) {
			snprintf(why, why_size, "out of memory collecting the step's outputs");
			return SL_ENOMEM;
		}
		m = json_object_get(h->meta, st->outputs[o]);
		if (json_is_object(m)) {
			json_t *t = json_object_get(m, "type");
			/* ingest.file lets the user name the type of what it ingests. */
			if (json_is_string(t))
				type = json_string_value(t);
			h->metas[o] = sl__json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
		}
		h->arts[h->n_outs] = (store_artifact){
			.id = n->out_ids[o], .type = type, .size = size, .producer = n->id,
			.created_ms = sl__now_ms(), .meta_json = h->metas[o],
		};
		h->outs[h->n_outs++] = (store_io){.name = st->outputs[o], .artifact_id = n->out_ids[o]};
	}
	return 0;
}

/*
 * Reads metrics.json: {name: number} is a metric, {name: [numbers]} a metric
 * with its history (null entries are gaps). Anything else is ignored.
 */
static int harvest_metrics(run *r, size_t i, harvest *h)
{
	const char *k;
	json_t *v;
	size_t cap;

	h->metrics = read_json_file(r->nodes[i].workdir, "metrics.json");
	cap = json_is_object(h->metrics) ? json_object_size(h->metrics) : 0;
	if (!cap)
		return 0;
	h->mets = sl__calloc(cap, sizeof *h->mets);
	h->hist = sl__calloc(cap, sizeof *h->hist);
	if (!h->mets || !h->hist)
		return sl__err(SL_ENOMEM, "out of memory reading the step's metrics");
	json_object_foreach(h->metrics, k, v) {
		store_metric *m = &h->mets[h->n_mets];
		if (json_is_number(v)) {
			*m = (store_metric){.name = k, .value = json_number_value(v)};
			h->n_mets++;
		} else if (json_is_array(v) && json_array_size(v)) {
			size_t len = json_array_size(v), j;
			json_t *e;
			double *vals = sl__calloc(len, sizeof *vals);
			if (!vals)
				return sl__err(SL_ENOMEM, "out of memory reading the step's metrics");
			json_array_foreach(v, j, e)
				vals[j] = json_is_number(e) ? json_number_value(e) : (double)NAN;
			h->hist[h->n_mets] = vals;
			*m = (store_metric){.name = k, .value = vals[len - 1], .history = vals,
					    .n_history = len};
			h->n_mets++;
		}
	}
	return 0;
}

/* Why a step whose process ended badly failed: its reason and message. */
static const char *failure(run *r, size_t i, const orch_result *res, char *why, size_t size)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	char text[RESULT_TEXT_MAX];

	if (res->detail[0]) {
		/* The orchestrator ended it (a cluster's limit, a node failure): its word. */
		snprintf(why, size, "%s", res->detail);
		return res->timed_out ? RS_TIMEOUT : RS_CRASH;
	}
	if (res->timed_out) {
		snprintf(why, size, "timed out after %gs (the step's timeout)", st->timeout);
		return RS_TIMEOUT;
	}
	if (res->exit_code < 0) {
		snprintf(why, size, "its exit status was lost (something else in this process "
				    "reaped it)");
		return RS_CRASH;
	}
	if (res->signal) {
		snprintf(why, size, "killed by signal %d (%s)", res->signal, strsignal(res->signal));
		return RS_CRASH;
	}
	read_text(n->workdir, "error.txt", text, sizeof text);
	if (text[0]) {
		/* "with.ops[3].columns: ..." is about the file: say where in it. */
		char *placed = spec_locate_msg(r->sp, i, text);
		snprintf(why, size, "%s", placed ? placed : text);
		sl__free(placed);
	} else {
		char tail[512];
		log_tail(n->log_abs, tail, sizeof tail);
		if (tail[0])
			snprintf(why, size, "exit code %d: %s", res->exit_code, tail);
		else
			snprintf(why, size, "exit code %d", res->exit_code);
	}
	read_text(n->workdir, "reason", text, 32);
	if (!strcmp(text, RS_GATE))
		return RS_GATE;
	if (!strcmp(text, RS_INPUT))
		return RS_INPUT;
	return RS_ERROR;
}

/* A step's process ended: record its completion with its outputs, or its failure. */
static void collect(run *r, const orch_result *res)
{
	node *n = res->tag;
	size_t i = (size_t)(n - r->nodes);
	const spec_step *st = &r->sp->steps[i];
	char why[SL__ERRMSG_MAX + 128];
	char kind[256];
	harvest h;
	int rc;

	memset(&h, 0, sizeof h);
	r->n_running--;
	r->slots_used -= n->slots;
	if (res->exit_code != 0 || res->timed_out) {
		const char *reason = failure(r, i, res, why, sizeof why);
		bool own = res->exit_code > 0 && !res->signal && !res->timed_out;
		char ignored[SL__ERRMSG_MAX];
		store_result kept;

		/* Design note 6: a step that ended on its own keeps what it wrote. */
		if (own && harvest_outputs(r, i, false, &h, ignored, sizeof ignored) == 0 &&
		    harvest_metrics(r, i, &h) == 0) {
			kept = (store_result){.arts = h.arts, .outputs = h.outs, .n_outputs = h.n_outs,
					      .metrics = h.mets, .n_metrics = h.n_mets};
			fail_step(r, i, res->exit_code, reason, why, &kept);
		} else {
			sl__err_clear();
			fail_step(r, i, res->exit_code, reason, why, NULL);
		}
		goto cleanup;
	}

	rc = harvest_outputs(r, i, true, &h, why, sizeof why);
	if (rc == 0 && (rc = harvest_metrics(r, i, &h)) != 0)
		snprintf(why, sizeof why, "%s", sl_errmsg());
	if (rc == 0) {
		h.ops = read_json_file(n->workdir, "store_ops.json");
		if (h.ops && (rc = store_ops_check(h.ops)) != 0)
			snprintf(why, sizeof why, "store_ops.json: %s", sl_errmsg());
	}
	if (rc == 0) {
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind), .cache_key = n->has_key ? n->key : NULL,
			.status = ST_COMPLETED, .exit_code = 0, .started_ms = n->started_ms,
			.ended_ms = sl__now_ms(), .log_path = n->log_rel,
		};
		store_result done = {.arts = h.arts, .outputs = h.outs, .n_outputs = h.n_outs,
				     .metrics = h.mets, .n_metrics = h.n_mets, .ops = h.ops};
		/* Unrecorded start: the store failed and the run is stopping. */
		rc = n->recorded ? store_steprun_finish(r->env->st, &sr, &done)
				 : sl__err(SL_ESTORE, "its start was never recorded");
		if (rc)
			snprintf(why, sizeof why, "recording the step's completion: %s", sl_errmsg());
	}
	if (rc) {
		/* The completion is not recorded; the step fails, keeping its outputs. */
		store_result kept = {.arts = h.arts, .outputs = h.outs, .n_outputs = h.n_outs,
				     .metrics = h.mets, .n_metrics = h.n_mets};
		fail_step(r, i, 0, RS_ERROR, why, h.outs ? &kept : NULL);
		goto cleanup;
	}
	n->state = N_OK;
	r->n_done++;
	{
		/* A step's note (step_note) goes with its end event: what a green
		 * run must still tell, such as bad rows left out. */
		char note[512];
		read_text(n->workdir, "note.txt", note, sizeof note);
		emit(r, SL_EVENT_STEP_END, st->name, ST_COMPLETED, NULL, note[0] ? note : NULL,
		     sl__mono_sec() - n->t0);
	}
	note_trial(r, i, ST_COMPLETED);
	release_below(r, i);
cleanup:
	harvest_free(&h, st->n_outputs);
	give_workdir(r, n->workdir);
	n->workdir = NULL;
	remove_outputs(n, st->n_outputs);
	free_task(n, st->n_inputs, st->n_outputs);
}

/* ---- stopping ------------------------------------------------------------------------- */

/* Stops everything: running steps are killed, pending ones never start. */
static void cancel_everything(run *r, const char *why)
{
	char kind[256];

	r->cancelled = true;
	r->env->orch->cancel_all(r->orch, CANCEL_GRACE_SEC);
	r->n_running = 0;
	r->slots_used = 0;
	for (size_t i = 0; i < r->sp->n_steps; i++) {
		node *n = &r->nodes[i];
		const spec_step *st = &r->sp->steps[i];
		if (n->state != N_PENDING && n->state != N_RUNNING)
			continue;
		if (n->state == N_PENDING && !n->recorded && tune_parent(r->tune, i) >= 0) {
			drop_trial(r, i); /* design note 8: never started, never recorded */
			continue;
		}
		int64_t now = sl__now_ms();
		if (n->recorded) {
			fatal(r, store_steprun_set_status(r->env->st, n->id, ST_CANCELLED, now, why,
							   RS_CANCELLED));
		} else if (!r->fatal_rc) {
			store_steprun sr = {
				.id = n->id, .run_id = r->run_id, .step = st->name,
				.kind = step_kind(st, kind, sizeof kind), .status = ST_CANCELLED,
				.exit_code = -1, .started_ms = n->started_ms ? n->started_ms : now,
				.ended_ms = now, .log_path = n->log_rel, .error = why,
				.reason = RS_CANCELLED, .params_json = params_of(r, i),
				.parent = parent_of(r, i),
			};
			fatal(r, store_steprun_create(r->env->st, &sr, NULL, 0));
		}
		if (n->state == N_RUNNING)
			emit(r, SL_EVENT_STEP_END, st->name, ST_CANCELLED, RS_CANCELLED, NULL,
			     sl__mono_sec() - n->t0);
		n->state = N_CANCELLED;
		n->reason = RS_CANCELLED;
		r->n_done++;
		give_workdir(r, n->workdir);
		n->workdir = NULL;
		remove_outputs(n, st->n_outputs);
		free_task(n, st->n_inputs, st->n_outputs);
	}
}

/* ---- references outside the pipeline -------------------------------------------------- */

/* What one reference names, into e (SL_ENOENT when it names nothing). */
static int resolve_ref(run *r, const spec_input *in, ext_in *e)
{
	store *st = r->env->st;
	int rc;

	memset(e, 0, sizeof *e);
	switch (in->ref) {
	case SPEC_REF_RUN:
		rc = store_run_output(st, r->sp->name, in->target, in->back, in->step, in->output,
				      e->id, e->via);
		break;
	case SPEC_REF_ARTIFACT:
		/* An empty id (spec_ref.c: only an optional one) names nothing. */
		rc = *in->target ? store_artifact_resolve(st, in->target, e->id)
				 : sl__err(SL_ENOENT, "no artifact id given");
		break;
	case SPEC_REF_MODEL: {
		store_model_ref m;
		rc = store_model_resolve(st, in->target, in->version, &m);
		if (rc == 0)
			memcpy(e->id, m.bundle, sizeof e->id);
		break;
	}
	default:
		return sl__err(SL_EINVAL, "not a reference outside the pipeline");
	}
	if (rc == 0 && !art_exists(r->env->art_root, e->id))
		rc = sl__err(SL_EINPUT, "it names artifact %.12s, whose file is gone (removed by "
					"`sluice artifacts gc`?)",
			     e->id);
	e->present = rc == 0;
	return rc;
}

/*
 * Resolves every input that names something outside the pipeline (an
 * earlier run's output, an artifact, a registered model) before the run is
 * recorded, so a reference that names nothing stops it before any step
 * runs, at its place in the file. An optional one ('?') that names nothing
 * is left out of its step's inputs. What they resolve to is fixed for the
 * whole run: a register step later in the same run does not change the
 * champion an earlier reference saw.
 */
static int resolve_refs(run *r)
{
	for (size_t i = 0; i < r->sp->n_steps; i++) {
		const spec_step *st = &r->sp->steps[i];
		node *n = &r->nodes[i];
		for (size_t j = 0; j < st->n_inputs; j++) {
			const spec_input *in = &st->inputs[j];
			int rc;
			if (in->ref == SPEC_REF_STEP)
				continue;
			if (!n->ext && !(n->ext = sl__calloc(st->n_inputs, sizeof *n->ext)))
				return sl__oom();
			rc = resolve_ref(r, in, &n->ext[j]);
			if (rc == SL_ENOENT && in->optional) {
				sl__err_clear();
				continue;
			}
			if (rc == SL_ENOMEM)
				return rc;
			if (rc) {
				char why[SL__ERRMSG_MAX];
				snprintf(why, sizeof why, "%s", sl_errmsg());
				return sl__err(rc == SL_ENOENT ? SL_EINPUT : rc,
					       "%s:%d:%d: input '%s' of step '%s': %s: %s%s",
					       spec_display_name(r->sp), in->pos.line, in->pos.col,
					       in->name, st->name, in->text, why,
					       rc == SL_ENOENT ? " (end the reference with '?' to run the step "
								 "without it then)"
							       : "");
			}
		}
	}
	return 0;
}

/* ---- the run --------------------------------------------------------------------------- */

static json_t *params_json(const spec *sp)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < sp->n_params; i++)
		if (json_object_set(o, sp->params[i].name, sp->params[i].value) != 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/*
 * The run's result when steps failed: the class of failure that decides the
 * exit status (sched.h) and the message of the first step of that class.
 */
static int failed_result(run *r)
{
	int rc = 0, n_failed = 0;
	const node *first = NULL;
	const spec_step *first_st = NULL;

	for (size_t i = 0; i < r->sp->n_steps; i++) {
		const node *n = &r->nodes[i];
		int c;
		if (n->state != N_FAILED || tune_parent(r->tune, i) >= 0)
			continue;
		n_failed++;
		c = !strcmp(n->reason, RS_GATE)	   ? SL_EGATE
		    : !strcmp(n->reason, RS_INPUT) ? SL_EINPUT
						   : SL_ESTEP;
		/* ESTEP outranks EGATE, which outranks EINPUT: a broken step is worse news. */
		if (!first || (c == SL_ESTEP && rc != SL_ESTEP) ||
		    (c == SL_EGATE && rc == SL_EINPUT)) {
			rc = c;
			first = n;
			first_st = &r->sp->steps[i];
		}
	}
	if (!first)
		return 0;
	return sl__err(rc, "step '%s' %s: %s%s", first_st->name,
		       rc == SL_EGATE ? "failed its gate" : rc == SL_EINPUT ? "failed on bad input"
									     : "failed",
		       first->error ? first->error : "(no message)",
		       n_failed > 1 ? " (and other steps failed)" : "");
}

/* One round: what ended, then what can start now, as one store batch (design note 2). */
static void round_of(run *r, const orch_result *first)
{
	orch_result res = {0};
	int rc = store_batch_begin(r->env->st);

	if (rc) {
		fatal(r, rc);
		return;
	}
	if (first) {
		r->ends_open = true;
		collect(r, first);
		/* Others may have ended meanwhile: record them in the same commit. */
		while (!r->fatal_rc) {
			rc = r->env->orch->wait(r->orch, -1, 0, &res);
			if (rc != 0) {
				/* Nothing more ended (or nothing runs): the loop's own wait
				 * will see an interruption again; anything else is fatal. */
				if (rc != SL_EBUSY && rc != SL_ENOENT && rc != SL_ECANCEL)
					fatal(r, rc);
				break;
			}
			collect(r, &res);
		}
	}
	/* A start that takes a round trip to a cluster is not made holding the
	 * store's write lock, which other processes' writes wait for: the
	 * round's completions commit first, and each start is its own commit. */
	if (r->env->orch->slow_start) {
		r->ends_open = false;
		fatal(r, store_batch_end(r->env->st));
		if (!r->fatal_rc)
			launch(r);
		return;
	}
	launch(r);
	r->ends_open = false;
	fatal(r, store_batch_end(r->env->st));
}

int sched_run(const sched_env *env, spec *sp, const sl_run_opts *opts, char **out_run_id)
{
	run r;
	char host[256] = "";
	char *params = NULL, *logdir = NULL;
	const char *status;
	orch_config cfg;
	double wait_limit;
	int rc, finish_rc;

	memset(&r, 0, sizeof r);
	r.env = env;
	r.sp = sp;
	r.opts = opts;
	r.t0 = sl__mono_sec();
	r.jobs = opts && opts->jobs > 0   ? opts->jobs
		 : env->orch->default_jobs ? env->orch->default_jobs
					   : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (r.jobs < 1)
		r.jobs = 1;
	if (out_run_id)
		*out_run_id = NULL;

	rc = sl__random_hex(r.run_id, 12);
	if (rc)
		return rc;
	/* Design note 8: a tune step's trials become steps of the run. */
	rc = tune_expand(sp, &r.tune);
	if (rc)
		return rc;
	r.nodes = sl__calloc(sp->n_steps + 1, sizeof *r.nodes);
	/* Each step enters each heap at most once. */
	r.ready.v = sl__calloc(sp->n_steps + 1, sizeof *r.ready.v);
	r.runnable.v = sl__calloc(sp->n_steps + 1, sizeof *r.runnable.v);
	if (!r.nodes || !r.ready.v || !r.runnable.v) {
		sl__free(r.nodes);
		sl__free(r.ready.v);
		sl__free(r.runnable.v);
		tune_run_free(r.tune, sp);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < sp->n_steps; i++) {
		rc = sl__random_hex(r.nodes[i].id, 16);
		if (rc)
			goto out;
		r.nodes[i].n_waiting = sp->steps[i].n_upstream;
	}
	/* Before the run exists: a reference that names nothing stops it here. */
	rc = resolve_refs(&r);
	if (rc)
		goto out;
	cfg = (orch_config){.state_dir = env->state_dir, .jobs = r.jobs, .slurm = env->slurm};
	rc = env->orch->create(&cfg, &r.orch);
	if (rc)
		goto out;
	r.params = params_json(sp);
	params = r.params ? sl__json_dumps(r.params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	logdir = sl__asprintf("%s/logs/%s", env->state_dir, r.run_id);
	r.outdir = sl__asprintf("%s/tmp/%s", env->state_dir, r.run_id);
	if (!params || !logdir || !r.outdir) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto out;
	}
	rc = sl__mkdir_p(logdir, 0755);
	if (rc == 0)
		rc = sl__mkdir_p(r.outdir, 0755);
	if (rc)
		goto out;
	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "localhost");
	{
		store_run sr = {
			.id = r.run_id, .pipeline = sp->name, .file = sp->path, .params_json = params,
			.orchestrator = env->orch->name, .pid = (int64_t)getpid(),
			.pid_start = orch_proc_start((int64_t)getpid()), .host = host,
			.started_ms = sl__now_ms(),
		};
		rc = store_run_create(env->st, &sr);
		if (rc)
			goto out;
	}
	if (out_run_id && !(*out_run_id = sl__strdup(r.run_id))) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto out;
	}
	emit(&r, SL_EVENT_RUN_START, NULL, ST_RUNNING, NULL, NULL, 0);

	for (size_t i = 0; i < sp->n_steps; i++)
		if (r.nodes[i].n_waiting == 0)
			push_ready(&r, i);
	/* A flag set by another thread wakes nothing: look at it now and then. */
	wait_limit = opts && opts->cancel ? LEGACY_FLAG_POLL_SEC : -1;
	round_of(&r, NULL);
	for (;;) {
		orch_result res = {0};

		if (r.fatal_rc) {
			/* Design note 5: stop the steps; record what can be recorded. */
			char why[SL__ERRMSG_MAX + 16];
			snprintf(why, sizeof why, "stopped: %s", r.fatal_msg);
			cancel_everything(&r, why);
			break;
		}
		if (cancel_requested(&r)) {
			int brc;
			/* Stopping a cluster's jobs takes a while: not under the store's
			 * write lock (cancel_everything's own call then finds none). */
			env->orch->cancel_all(r.orch, CANCEL_GRACE_SEC);
			brc = store_batch_begin(env->st);
			cancel_everything(&r, "cancelled");
			if (brc == 0)
				fatal(&r, store_batch_end(env->st));
			break;
		}
		if (r.n_running == 0)
			break;
		rc = env->orch->wait(r.orch, env->cancel_fd, wait_limit, &res);
		if (rc == SL_ECANCEL || rc == SL_EBUSY)
			continue; /* the loop head looks at the cancel state */
		if (rc == SL_ENOENT) {
			r.n_running = 0;
			continue;
		}
		if (rc) {
			/* The orchestrator lost track of its tasks: stop cleanly. */
			fatal(&r, rc);
			continue;
		}
		round_of(&r, &res);
	}
	sl__err_clear();

	/* Design note 4: the run's artifacts reach the disk before it is over. */
	if (r.n_sync) {
		const char **ids = sl__calloc(r.n_sync, sizeof *ids);
		for (size_t k = 0; ids && k < r.n_sync; k++)
			ids[k] = r.synced[k];
		fatal(&r, ids ? art_sync(env->art_root, ids, r.n_sync)
			       : sl__err(SL_ENOMEM, "out of memory"));
		sl__free(ids);
	}
	status = r.fatal_rc ? ST_FAILED : r.cancelled ? ST_CANCELLED : ST_COMPLETED;
	/* Design note 8: a failed trial is a result of its search, not a failure of the run. */
	for (size_t i = 0; i < sp->n_steps && !strcmp(status, ST_COMPLETED); i++)
		if (r.nodes[i].state != N_OK && r.nodes[i].state != N_DROPPED &&
		    !(r.nodes[i].state == N_FAILED && tune_parent(r.tune, i) >= 0))
			status = ST_FAILED;
	finish_rc = store_run_finish(env->st, r.run_id, status, sl__now_ms());
	if (finish_rc && !r.fatal_rc)
		fatal(&r, finish_rc);
	emit(&r, SL_EVENT_RUN_END, NULL, status, NULL, NULL, sl__mono_sec() - r.t0);
	if (r.fatal_rc && finish_rc)
		/* Design note 5: the store is gone; its record of the run is whole up
		 * to what it last committed, and recovery ends it later. */
		rc = sl__err(r.fatal_rc,
			     "run %s stopped: %s; the store could not record its end either, so "
			     "it stays 'running' until the next `sluice run` on this machine "
			     "finds its driver gone and records it as failed",
			     r.run_id, r.fatal_msg);
	else if (r.fatal_rc)
		rc = sl__err(r.fatal_rc, "run %s stopped: %s", r.run_id, r.fatal_msg);
	else if (r.cancelled)
		rc = sl__err(SL_ECANCEL, "run %s was cancelled", r.run_id);
	else if (strcmp(status, ST_COMPLETED) != 0)
		rc = failed_result(&r);
	else
		rc = 0;
	if (rc == 0 && strcmp(status, ST_COMPLETED) != 0)
		rc = sl__err(SL_ESTEP, "run %s failed", r.run_id);
out:
	if (r.orch)
		env->orch->destroy(r.orch);
	for (size_t k = 0; k < r.n_free_wd; k++)
		sl__free(r.free_wd[k]);
	sl__free(r.free_wd);
	if (r.outdir) {
		/* The work folders, and what a failing orchestrator left. The run's
		 * own message must survive a failure to remove them. */
		char msg[SL__ERRMSG_MAX];
		snprintf(msg, sizeof msg, "%s", sl_errmsg());
		if (sl__rm_rf(r.outdir) != 0 && rc)
			sl__err(rc, "%s", msg);
		else if (!rc)
			sl__err_clear();
	}
	sl__free(r.outdir);
	for (size_t i = 0; r.nodes && i < sp->n_steps; i++) {
		if (r.nodes[i].out_ids)
			for (size_t o = 0; o < sp->steps[i].n_outputs; o++)
				sl__free(r.nodes[i].out_ids[o]);
		sl__free(r.nodes[i].out_ids);
		sl__free(r.nodes[i].error);
		sl__free(r.nodes[i].ext);
		sl__free(r.nodes[i].params);
		free_task(&r.nodes[i], sp->steps[i].n_inputs, sp->steps[i].n_outputs);
	}
	sl__free(r.nodes);
	tune_run_free(r.tune, sp); /* after the nodes: their steps go with it */
	sl__free(r.ready.v);
	sl__free(r.runnable.v);
	sl__free(r.synced);
	sl__free(logdir);
	json_decref(r.params);
	free(params);
	return rc;
}
