/*
 * The scheduler: walks a pipeline's DAG, serves steps from the cache where
 * it can, starts the others through an orchestrator with at most `jobs`
 * running at once, collects their outputs into the artifact store and
 * records everything in the metadata store.
 *
 * Design notes
 *
 *  1. A step's state moves only forward:
 *
 *        PENDING --ready, cache hit--------------------------> OK (cached)
 *        PENDING --ready, start()--> RUNNING --exit 0, outputs ok--> OK
 *                                            --exit != 0 / no output--> FAILED
 *        PENDING --an upstream step FAILED--> SKIPPED          (skip_below)
 *        PENDING, RUNNING --cancel flag--> CANCELLED           (cancel_all)
 *
 *     A step is ready when all its upstream steps are OK (n_waiting == 0).
 *     Independent branches keep running after a failure; only descendants
 *     of the failed step are skipped.
 *
 *  2. Only this process writes to the metadata store. Steps run in child
 *     processes and hand their results back as files (orch.h); the
 *     completion of a step (status, artifacts, edges, metrics) is one store
 *     transaction, so a kill -9 of sluice at any moment leaves each step
 *     either finished with all its outputs or not finished.
 *
 *  3. A cache hit is only a hit if every output artifact is present and
 *     hashes to its id; otherwise the step runs again. A rerun after a
 *     failure therefore resumes at the failed step: everything before it is
 *     served from the cache.
 *
 *  4. Outputs are written under .sluice/tmp/STEP-RUN/out/ and renamed into
 *     the artifact store (same filesystem), so collecting a large output is
 *     a hash and a rename, not a copy.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "pipeline/cache.h"
#include "pipeline/sched.h"

typedef enum nstate { N_PENDING, N_RUNNING, N_OK, N_FAILED, N_SKIPPED, N_CANCELLED } nstate;

typedef struct node {
	nstate state;
	bool recorded;        /* a step-run row exists */
	char id[17];          /* step-run id */
	size_t n_waiting;     /* upstream steps not yet OK */
	char key[SL__HASH_HEX_SIZE];
	bool has_key;
	char **out_ids;       /* per output: artifact id once OK */
	double t0;
	int64_t started_ms;
	/* Task data, alive while RUNNING. */
	orch_task task;
	char *workdir;
	char *log_rel;
	char *log_abs;
	char *command;
	const char **in_names;
	char **in_paths;
	const char **in_ids;
	char **out_paths;
} node;

typedef struct run {
	const sched_env *env;
	spec *sp;
	const sl_run_opts *opts;
	orch *orch;
	node *nodes;
	char run_id[STORE_ID_SIZE];
	int jobs;
	int n_running;
	int n_done;
	double t0;
	bool any_failed;
	bool cancelled;
} run;

static void emit(run *r, sl_event_kind kind, const char *step, const char *status,
		 const char *message, double seconds)
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
	ev.n_total = (int)r->sp->n_steps;
	r->opts->on_event(r->opts->event_ud, &ev);
}

static bool cancel_requested(const run *r)
{
	return r->opts && r->opts->cancel && *r->opts->cancel;
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
	sl__free(n->out_paths);
	sl__free(n->workdir);
	sl__free(n->log_rel);
	sl__free(n->log_abs);
	sl__free(n->command);
	n->in_paths = NULL;
	n->in_names = NULL;
	n->in_ids = NULL;
	n->out_paths = NULL;
	n->workdir = NULL;
	n->log_rel = NULL;
	n->log_abs = NULL;
	n->command = NULL;
}

/* Gathers input names, artifact ids and paths of a ready step. */
static int gather_inputs(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	size_t k = st->n_inputs;

	n->in_names = sl__calloc(k, sizeof *n->in_names);
	n->in_ids = sl__calloc(k, sizeof *n->in_ids);
	n->in_paths = sl__calloc(k, sizeof *n->in_paths);
	if (!n->in_names || !n->in_ids || !n->in_paths)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t j = 0; j < k; j++) {
		const spec_input *in = &st->inputs[j];
		const spec_step *up = &r->sp->steps[in->step_index];
		const node *un = &r->nodes[in->step_index];
		size_t o;

		for (o = 0; o < up->n_outputs; o++)
			if (!strcmp(up->outputs[o], in->output))
				break;
		if (o == up->n_outputs || !un->out_ids || !un->out_ids[o])
			return sl__err(SL_ESTEP, "step '%s': input '%s' (%s.%s) has no artifact",
				       st->name, in->name, in->step, in->output);
		n->in_names[j] = in->name;
		n->in_ids[j] = un->out_ids[o];
		n->in_paths[j] = art_path(r->env->art_root, un->out_ids[o]);
		if (!n->in_paths[j])
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

/*
 * Marks every pending descendant of a failed step as skipped. One walk in
 * topological order (no recursion, so a 100,000-step chain cannot exhaust
 * the stack): a pending step with a failed or skipped upstream step is
 * skipped, and its own descendants follow later in the walk.
 */
static void skip_below(run *r, const char *why)
{
	for (size_t k = 0; k < r->sp->n_steps; k++) {
		size_t j = r->sp->order[k];
		const spec_step *st = &r->sp->steps[j];
		node *n = &r->nodes[j];
		bool blocked = false;

		if (n->state != N_PENDING)
			continue;
		for (size_t u = 0; u < st->n_upstream && !blocked; u++) {
			nstate us = r->nodes[st->upstream[u]].state;
			blocked = us == N_FAILED || us == N_SKIPPED;
		}
		if (!blocked)
			continue;
		n->state = N_SKIPPED;
		r->n_done++;
		char kind[256];
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind),
			.status = ST_SKIPPED, .exit_code = -1, .started_ms = sl__now_ms(),
			.ended_ms = sl__now_ms(), .error = why,
		};
		if (store_steprun_create(r->env->st, &sr, NULL, 0) == 0)
			n->recorded = true;
		emit(r, SL_EVENT_STEP_END, st->name, ST_SKIPPED, why, 0);
	}
}

/* Step i finished OK: its dependents wait for one step less. */
static void release_below(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];

	for (size_t d = 0; d < st->n_downstream; d++)
		r->nodes[st->downstream[d]].n_waiting--;
}

static void fail_step(run *r, size_t i, int exit_code, const char *why)
{
	node *n = &r->nodes[i];
	const spec_step *st = &r->sp->steps[i];
	char kind[256];
	char msg[SL__ERRMSG_MAX];
	store_steprun sr = {
		.id = n->id, .run_id = r->run_id, .step = st->name,
		.kind = step_kind(st, kind, sizeof kind), .cache_key = n->has_key ? n->key : NULL,
		.status = ST_FAILED, .exit_code = exit_code, .started_ms = n->started_ms,
		.ended_ms = sl__now_ms(), .log_path = n->log_rel, .error = why,
	};

	n->state = N_FAILED;
	r->any_failed = true;
	r->n_done++;
	if (n->recorded)
		store_steprun_finish(r->env->st, &sr, NULL, NULL, 0, NULL, 0);
	else if (store_steprun_create(r->env->st, &sr, NULL, 0) == 0)
		n->recorded = true;
	emit(r, SL_EVENT_STEP_END, st->name, ST_FAILED, why, sl__mono_sec() - n->t0);
	snprintf(msg, sizeof msg, "upstream step '%s' failed", st->name);
	skip_below(r, msg);
}

/*
 * Tries the cache for a ready step. Returns true (and completes the step) on
 * a verified hit.
 */
static bool try_cache(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	char *from = NULL;
	store_io *outs = NULL;
	size_t n_outs = 0;
	bool hit = true;
	char kind[256];

	if (store_cache_lookup(r->env->st, n->key, &from, &outs, &n_outs) != 0)
		return false;
	if (alloc_out_ids(r, i) != 0)
		hit = false;
	/* Every declared output must be among the cached ones, present and intact. */
	for (size_t o = 0; hit && o < st->n_outputs; o++) {
		size_t k;
		for (k = 0; k < n_outs; k++)
			if (!strcmp(outs[k].name, st->outputs[o]))
				break;
		if (k == n_outs || art_verify(r->env->art_root, outs[k].artifact_id) != 0) {
			hit = false;
			break;
		}
		n->out_ids[o] = sl__strdup(outs[k].artifact_id);
		if (!n->out_ids[o])
			hit = false;
	}
	if (hit) {
		int64_t now = sl__now_ms();
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind), .cache_key = n->key,
			.status = ST_CACHED, .exit_code = -1, .started_ms = now, .ended_ms = now,
			.cache_hit = true, .cached_from = from,
		};
		store_io ins[64];
		store_io *inp = st->n_inputs <= 64 ? ins : sl__calloc(st->n_inputs, sizeof *inp);
		hit = inp != NULL;
		for (size_t j = 0; hit && j < st->n_inputs; j++) {
			inp[j].name = n->in_names[j];
			inp[j].artifact_id = n->in_ids[j];
		}
		if (hit)
			hit = store_steprun_record(r->env->st, &sr, inp, st->n_inputs, NULL, outs,
						   n_outs, NULL, 0) == 0;
		if (hit)
			n->recorded = true;
		if (inp != ins)
			sl__free(inp);
	}
	if (!hit && n->out_ids)
		for (size_t o = 0; o < st->n_outputs; o++) {
			sl__free(n->out_ids[o]);
			n->out_ids[o] = NULL;
		}
	sl__free(from);
	store_io_free(outs, n_outs);
	if (hit) {
		n->state = N_OK;
		r->n_done++;
		emit(r, SL_EVENT_STEP_END, st->name, ST_CACHED, NULL, 0);
		release_below(r, i);
	}
	return hit;
}

static int start_step(run *r, size_t i)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	char *outdir = NULL, *logdir = NULL;
	char kind[256];
	int rc;

	n->workdir = sl__asprintf("%s/tmp/%s", r->env->state_dir, n->id);
	n->log_rel = sl__asprintf("logs/%s/%s.log", r->run_id, st->name);
	n->log_abs = n->log_rel ? sl__path_join(r->env->state_dir, n->log_rel) : NULL;
	outdir = n->workdir ? sl__path_join(n->workdir, "out") : NULL;
	logdir = sl__asprintf("%s/logs/%s", r->env->state_dir, r->run_id);
	n->out_paths = sl__calloc(st->n_outputs + 1, sizeof *n->out_paths);
	if (!n->workdir || !n->log_abs || !outdir || !logdir || !n->out_paths) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto out;
	}
	rc = sl__mkdir_p(outdir, 0755);
	if (rc == 0)
		rc = sl__mkdir_p(logdir, 0755);
	for (size_t o = 0; rc == 0 && o < st->n_outputs; o++) {
		n->out_paths[o] = sl__path_join(outdir, st->outputs[o]);
		if (!n->out_paths[o])
			rc = sl__err(SL_ENOMEM, "out of memory");
	}
	if (rc)
		goto out;
	if (st->kind == SPEC_RUN) {
		n->command = spec_subst_io(st->run, n->in_names, (const char *const *)n->in_paths,
					   st->n_inputs, (const char *const *)st->outputs,
					   (const char *const *)n->out_paths, st->n_outputs);
		if (!n->command) {
			rc = SL_ESPEC;
			goto out;
		}
	}
	n->task = (orch_task){
		.steprun_id = n->id, .sp = r->sp, .step = st, .command = n->command,
		.workdir = n->workdir, .log_path = n->log_abs, .n_inputs = st->n_inputs,
		.input_names = n->in_names, .input_paths = (const char *const *)n->in_paths,
		.n_outputs = st->n_outputs, .output_names = (const char *const *)st->outputs,
		.output_paths = (const char *const *)n->out_paths, .timeout = st->timeout,
	};

	n->started_ms = sl__now_ms();
	n->t0 = sl__mono_sec();
	{
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind), .cache_key = n->has_key ? n->key : NULL,
			.status = ST_RUNNING, .exit_code = -1, .started_ms = n->started_ms,
			.log_path = n->log_rel,
		};
		store_io ins[64];
		store_io *inp = st->n_inputs <= 64 ? ins : sl__calloc(st->n_inputs, sizeof *inp);
		if (!inp) {
			rc = sl__err(SL_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t j = 0; j < st->n_inputs; j++) {
			inp[j].name = n->in_names[j];
			inp[j].artifact_id = n->in_ids[j];
		}
		rc = store_steprun_create(r->env->st, &sr, inp, st->n_inputs);
		if (inp != ins)
			sl__free(inp);
		if (rc)
			goto out;
		n->recorded = true;
	}
	rc = r->env->orch->start(r->orch, &n->task, n);
	if (rc == 0) {
		n->state = N_RUNNING;
		r->n_running++;
		emit(r, SL_EVENT_STEP_START, st->name, ST_RUNNING, NULL, 0);
	}
out:
	sl__free(outdir);
	sl__free(logdir);
	return rc;
}

/* The last non-empty line of a log, for a failure message. */
static void log_tail(const char *path, char *out, size_t size)
{
	sl__buf b;
	size_t end, start;

	out[0] = '\0';
	if (!path || sl__read_file(path, 1 << 20, &b) != 0)
		return;
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

/* A step's process ended: record success with its outputs, or failure. */
static void collect(run *r, size_t i, int exit_code, int sig, bool timed_out)
{
	const spec_step *st = &r->sp->steps[i];
	node *n = &r->nodes[i];
	char why[SL__ERRMSG_MAX + 64];
	char kind[256];
	store_artifact *arts = NULL;
	store_io *outs = NULL;
	store_metric *mets = NULL;
	size_t n_mets = 0;
	json_t *metrics = NULL, *meta = NULL;
	char **metas = NULL;
	int rc = 0;

	r->n_running--;
	if (exit_code != 0 || timed_out) {
		char tail[512];
		sl__buf err;
		char *errpath = sl__path_join(n->workdir, "error.txt");

		if (timed_out) {
			snprintf(why, sizeof why, "timed out after %gs (the step's timeout)",
				 st->timeout);
		} else if (errpath && sl__read_file(errpath, 4096, &err) == 0) {
			snprintf(why, sizeof why, "%s", err.data);
			sl__buf_free(&err);
		} else if (sig) {
			snprintf(why, sizeof why, "killed by signal %d (%s)", sig, strsignal(sig));
		} else {
			log_tail(n->log_abs, tail, sizeof tail);
			if (tail[0])
				snprintf(why, sizeof why, "exit code %d: %s", exit_code, tail);
			else
				snprintf(why, sizeof why, "exit code %d", exit_code);
		}
		sl__free(errpath);
		fail_step(r, i, exit_code, why);
		goto cleanup;
	}

	if (alloc_out_ids(r, i) != 0)
		goto oom;
	arts = sl__calloc(st->n_outputs + 1, sizeof *arts);
	outs = sl__calloc(st->n_outputs + 1, sizeof *outs);
	metas = sl__calloc(st->n_outputs + 1, sizeof *metas);
	if (!arts || !outs || !metas)
		goto oom;
	meta = read_json_file(n->workdir, "meta.json");
	for (size_t o = 0; o < st->n_outputs; o++) {
		char id[SL__HASH_HEX_SIZE];
		uint64_t size = 0;
		const char *type = "file";

		if (!sl__is_file(n->out_paths[o])) {
			if (sl__is_dir(n->out_paths[o]))
				snprintf(why, sizeof why,
					 "declared output '%s' is a directory; an output is one file "
					 "(write an archive, e.g. tar -cf \"${outputs.%s}\" DIR)",
					 st->outputs[o], st->outputs[o]);
			else
				snprintf(why, sizeof why,
					 "declared output '%s' was not written (expected a file at %s)",
					 st->outputs[o], n->out_paths[o]);
			fail_step(r, i, exit_code, why);
			goto cleanup;
		}
		rc = art_put_file(r->env->art_root, n->out_paths[o], id, &size);
		if (rc) {
			snprintf(why, sizeof why, "storing output '%s': %s", st->outputs[o], sl_errmsg());
			fail_step(r, i, exit_code, why);
			goto cleanup;
		}
		if (st->kind == SPEC_USES && st->def->outputs)
			for (const step_port *p = st->def->outputs; p->name; p++)
				if (!strcmp(p->name, st->outputs[o]))
					type = p->type;
		n->out_ids[o] = sl__strdup(id);
		if (!n->out_ids[o])
			goto oom;
		json_t *m = json_object_get(meta, st->outputs[o]);
		if (json_is_object(m)) {
			json_t *t = json_object_get(m, "type");
			/* ingest.file lets the user name the type of what it ingests. */
			if (json_is_string(t))
				type = json_string_value(t);
			metas[o] = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
		}
		arts[o] = (store_artifact){
			.id = n->out_ids[o], .type = type, .size = size, .producer = n->id,
			.created_ms = sl__now_ms(), .meta_json = metas[o],
		};
		outs[o] = (store_io){.name = st->outputs[o], .artifact_id = n->out_ids[o]};
	}

	metrics = read_json_file(n->workdir, "metrics.json");
	if (json_is_object(metrics) && json_object_size(metrics)) {
		const char *k;
		json_t *v;
		mets = sl__calloc(json_object_size(metrics), sizeof *mets);
		if (!mets)
			goto oom;
		json_object_foreach(metrics, k, v) {
			if (json_is_number(v))
				mets[n_mets++] = (store_metric){.name = k, .value = json_number_value(v)};
		}
	}

	{
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind), .cache_key = n->has_key ? n->key : NULL,
			.status = ST_COMPLETED, .exit_code = 0, .started_ms = n->started_ms,
			.ended_ms = sl__now_ms(), .log_path = n->log_rel,
		};
		rc = store_steprun_finish(r->env->st, &sr, arts, outs, st->n_outputs, mets, n_mets);
		if (rc) {
			snprintf(why, sizeof why, "recording the step: %s", sl_errmsg());
			fail_step(r, i, 0, why);
			goto cleanup;
		}
	}
	n->state = N_OK;
	r->n_done++;
	{
		/* A step's note (step_note) goes with its end event: what a green
		 * run must still tell, such as bad rows left out. */
		char *notepath = sl__path_join(n->workdir, "note.txt");
		sl__buf note;
		bool has_note = notepath && sl__read_file(notepath, 512, &note) == 0;
		if (!has_note)
			sl__err_clear();
		emit(r, SL_EVENT_STEP_END, st->name, ST_COMPLETED, has_note ? note.data : NULL,
		     sl__mono_sec() - n->t0);
		if (has_note)
			sl__buf_free(&note);
		sl__free(notepath);
	}
	release_below(r, i);
	goto cleanup;

oom:
	fail_step(r, i, exit_code, "out of memory collecting the step's outputs");
cleanup:
	if (metas)
		for (size_t o = 0; o < st->n_outputs; o++)
			free(metas[o]);
	sl__free(metas);
	sl__free(arts);
	sl__free(outs);
	sl__free(mets);
	json_decref(metrics);
	json_decref(meta);
	if (n->workdir)
		sl__rm_rf(n->workdir);
	free_task(n, st->n_inputs, st->n_outputs);
}

/* Stops everything: running steps are killed, pending ones never start. */
static void cancel_everything(run *r)
{
	char kind[256];

	r->cancelled = true;
	r->env->orch->cancel_all(r->orch, 5.0);
	r->n_running = 0;
	for (size_t i = 0; i < r->sp->n_steps; i++) {
		node *n = &r->nodes[i];
		const spec_step *st = &r->sp->steps[i];
		if (n->state != N_PENDING && n->state != N_RUNNING)
			continue;
		store_steprun sr = {
			.id = n->id, .run_id = r->run_id, .step = st->name,
			.kind = step_kind(st, kind, sizeof kind), .status = ST_CANCELLED,
			.exit_code = -1, .started_ms = n->started_ms ? n->started_ms : sl__now_ms(),
			.ended_ms = sl__now_ms(), .log_path = n->log_rel, .error = "cancelled",
		};
		if (n->recorded)
			store_steprun_set_status(r->env->st, n->id, ST_CANCELLED, sr.ended_ms,
						 "cancelled");
		else
			store_steprun_create(r->env->st, &sr, NULL, 0);
		if (n->state == N_RUNNING)
			emit(r, SL_EVENT_STEP_END, st->name, ST_CANCELLED, NULL,
			     sl__mono_sec() - n->t0);
		n->state = N_CANCELLED;
		r->n_done++;
		if (n->workdir)
			sl__rm_rf(n->workdir);
		free_task(n, st->n_inputs, st->n_outputs);
	}
}

/*
 * Prepares and launches (or serves from cache) every ready step it can. The
 * pass is one store batch: a fully cached pipeline commits once per pass,
 * not once per step. The batch ends before the scheduler blocks in wait().
 */
static int launch_ready_pass(run *r);

static int launch_ready(run *r)
{
	int rc = store_batch_begin(r->env->st);
	int rc2;

	if (rc)
		return launch_ready_pass(r); /* without batching: slower, still correct */
	rc = launch_ready_pass(r);
	rc2 = store_batch_end(r->env->st);
	return rc ? rc : rc2;
}

static int launch_ready_pass(run *r)
{
	bool progress = true;

	while (progress && !cancel_requested(r)) {
		progress = false;
		for (size_t k = 0; k < r->sp->n_steps; k++) {
			size_t i = r->sp->order[k];
			node *n = &r->nodes[i];
			const spec_step *st = &r->sp->steps[i];
			int rc;

			if (n->state != N_PENDING || n->n_waiting > 0)
				continue;
			if (!n->in_names) {
				rc = gather_inputs(r, i);
				if (rc == 0 && st->cache && !(r->opts && r->opts->no_cache) &&
				    !(st->kind == SPEC_USES && st->def->cacheable &&
				      !st->def->cacheable(st->with))) {
					rc = cache_key(r->sp, i, n->in_names, n->in_ids, st->n_inputs, n->key);
					n->has_key = rc == 0;
				}
				if (rc) {
					fail_step(r, i, -1, sl_errmsg());
					free_task(n, st->n_inputs, st->n_outputs);
					progress = true;
					continue;
				}
				if (n->has_key && try_cache(r, i)) {
					free_task(n, st->n_inputs, st->n_outputs);
					progress = true;
					continue;
				}
			}
			if (r->n_running >= r->jobs)
				return 0;
			rc = start_step(r, i);
			if (rc) {
				char why[SL__ERRMSG_MAX];
				snprintf(why, sizeof why, "could not start: %s", sl_errmsg());
				fail_step(r, i, -1, why);
				if (n->workdir)
					sl__rm_rf(n->workdir);
				free_task(n, st->n_inputs, st->n_outputs);
			}
			progress = true;
		}
	}
	return 0;
}

static json_t *params_json(const spec *sp)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < sp->n_params; i++)
		json_object_set(o, sp->params[i].name, sp->params[i].value);
	return o;
}

int sched_run(const sched_env *env, spec *sp, const sl_run_opts *opts, char **out_run_id)
{
	run r;
	char host[256] = "";
	char *params = NULL;
	json_t *pj;
	const char *status;
	int rc;

	memset(&r, 0, sizeof r);
	r.env = env;
	r.sp = sp;
	r.opts = opts;
	r.t0 = sl__mono_sec();
	r.jobs = opts && opts->jobs > 0 ? opts->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (r.jobs < 1)
		r.jobs = 1;
	if (out_run_id)
		*out_run_id = NULL;

	rc = sl__random_hex(r.run_id, 12);
	if (rc)
		return rc;
	r.nodes = sl__calloc(sp->n_steps + 1, sizeof *r.nodes);
	if (!r.nodes)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t i = 0; i < sp->n_steps; i++) {
		rc = sl__random_hex(r.nodes[i].id, 16);
		if (rc)
			goto out;
		r.nodes[i].n_waiting = sp->steps[i].n_upstream;
	}
	rc = env->orch->create(env->state_dir, &r.orch);
	if (rc)
		goto out;

	gethostname(host, sizeof host - 1);
	pj = params_json(sp);
	params = pj ? json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(pj);
	if (!params) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto out;
	}
	{
		store_run sr = {
			.id = r.run_id, .pipeline = sp->name, .file = sp->path, .params_json = params,
			.orchestrator = env->orch->name, .pid = (int64_t)getpid(), .host = host,
			.started_ms = sl__now_ms(),
		};
		rc = store_run_create(env->st, &sr);
		if (rc)
			goto out;
	}
	if (out_run_id)
		*out_run_id = sl__strdup(r.run_id);
	emit(&r, SL_EVENT_RUN_START, NULL, ST_RUNNING, NULL, 0);

	for (;;) {
		void *tag;
		int exit_code, sig;
		bool timed_out = false;

		if (cancel_requested(&r)) {
			cancel_everything(&r);
			break;
		}
		launch_ready(&r);
		if (cancel_requested(&r))
			continue;
		if (r.n_running == 0)
			break;
		rc = env->orch->wait(r.orch, &tag, &exit_code, &sig, &timed_out);
		if (rc == SL_ECANCEL)
			continue; /* interrupted: the loop head checks the flag */
		if (rc == SL_ENOENT) {
			r.n_running = 0;
			continue;
		}
		if (rc) {
			/* The orchestrator lost track of its children: stop cleanly. */
			cancel_everything(&r);
			break;
		}
		collect(&r, (size_t)((node *)tag - r.nodes), exit_code, sig, timed_out);
	}

	status = r.cancelled ? ST_CANCELLED : r.any_failed ? ST_FAILED : ST_COMPLETED;
	/* Steps never reached (a cycle cannot exist; this is belt and braces). */
	for (size_t i = 0; i < sp->n_steps; i++)
		if (r.nodes[i].state == N_PENDING && !r.cancelled)
			status = ST_FAILED;
	rc = store_run_finish(env->st, r.run_id, status, sl__now_ms());
	emit(&r, SL_EVENT_RUN_END, NULL, status, NULL, sl__mono_sec() - r.t0);
	if (rc == 0) {
		if (r.cancelled)
			rc = sl__err(SL_ECANCEL, "run %s was cancelled", r.run_id);
		else if (strcmp(status, ST_COMPLETED) != 0)
			rc = sl__err(SL_ESTEP, "run %s failed", r.run_id);
	}
out:
	if (r.orch)
		env->orch->destroy(r.orch);
	for (size_t i = 0; r.nodes && i < sp->n_steps; i++) {
		if (r.nodes[i].out_ids)
			for (size_t o = 0; o < sp->steps[i].n_outputs; o++)
				sl__free(r.nodes[i].out_ids[o]);
		sl__free(r.nodes[i].out_ids);
		free_task(&r.nodes[i], sp->steps[i].n_inputs, sp->steps[i].n_outputs);
	}
	sl__free(r.nodes);
	free(params);
	return rc;
}
