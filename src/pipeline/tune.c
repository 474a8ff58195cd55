/*
 * A tune step's search, on the scheduler's side (tune.h).
 *
 * Design: the scheduler does not call a training function per trial, nor
 * let the tune step's process drive them: a search is expanded, when the
 * run starts, into ordinary steps of the run, one per trial, so each trial
 * is cached, recorded, started through the orchestrator (a task, `sluice
 * step-exec`, a batch job on a cluster) and counted against -j exactly as
 * a step written in the file:
 *
 *     split ──> tune[0] ─┐           grid / random: every trial after the
 *       │  ──> tune[1] ─┼──> tune    tune step's inputs; the tune step
 *       │  ──> ...     ─┘            (its selection) after every trial
 *       │
 *       └──> rung 0: tune[0..8] ──> rung 1: tune[9..11] ──> rung 2: tune[12] ──> tune
 *            halving: a rung's trials after every trial of the rung before
 *
 * Invariants:
 *  1. A trial is the training step with the trial's options, checked and
 *     completed by that step's schema, and the tune step's inputs: its
 *     definition and so its cache key are those of the same step written
 *     in the file. A rerun finds every trial tried before in the cache.
 *  2. Grid and random trials have their options from the start (search.c,
 *     invariant 1). A halving trial of rung r > 0 gets its options when it
 *     is ready, which is when every trial of rung r-1 has ended: the j-th
 *     best of that rung, with eta times its resource. A rung with fewer
 *     survivors than trials drops the rest.
 *  3. A trial that is not needed (the time budget ran out before it
 *     started, no survivor for it, the run stopped before it) is dropped:
 *     never recorded, never started, and it does not hold up the tune
 *     step. A trial that failed releases the tune step as one that
 *     completed: the search goes on.
 *  4. The search's time budget counts from its first trial being ready;
 *     a trial already running when it runs out finishes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/metric_dir.h"
#include "pipeline/tune.h"

#define MAX_RUNGS 32

typedef enum tstate { T_WAIT, T_READY, T_DONE, T_DROPPED } tstate;

typedef struct trial {
	size_t rung;
	json_t *params;     /* the searched options (with the resource, halving) */
	tstate state;
	char status[16];    /* completed, cached or failed */
	char *error;
	json_t *metrics;
	char *model;        /* the model's artifact path */
} trial;

typedef struct search {
	size_t step;        /* the tune step's index */
	tune_opts o;        /* borrows from the tune step's `with` */
	size_t first, n;    /* its trials: steps first .. first + n - 1 */
	trial *trials;
	size_t rung_n[MAX_RUNGS], rung_first[MAX_RUNGS], n_rungs;
	double full;        /* halving on an integer option: its full value */
	double t0;          /* when its first trial was ready; < 0: not yet */
	const char **in_names;
	size_t n_in;
} search;

struct tune_run {
	search *v;
	size_t n;
	size_t n_steps0;    /* steps before the trials were appended */
};

/* ---- expanding ------------------------------------------------------------------ */

static int add_index(size_t **v, size_t *n, size_t x)
{
	size_t *nv = sl__reallocarray(*v, *n + 1, sizeof *nv);

	if (!nv)
		return sl__oom();
	nv[(*n)++] = x;
	*v = nv;
	return 0;
}

/* An edge from step a to step b: b waits for a. */
static int link(spec *sp, size_t a, size_t b)
{
	int rc = add_index(&sp->steps[b].upstream, &sp->steps[b].n_upstream, a);

	return rc ? rc : add_index(&sp->steps[a].downstream, &sp->steps[a].n_downstream, b);
}

/* The resource of rung r of R + 1 rungs, as a share of the full one. */
static double rung_share(const search *s, size_t r)
{
	return pow((double)s->o.eta, (double)r - (double)(s->n_rungs - 1));
}

/*
 * The searched options of a trial at rung r with point's options: halving
 * adds its resource (nothing at the last rung over rows, which trains on
 * every row, as the step written without it would).
 */
static json_t *with_resource(const search *s, const json_t *point, size_t r)
{
	json_t *p = json_deep_copy(point);

	if (!p || s->o.method != TUNE_HALVING)
		return p;
	if (!strcmp(s->o.resource, "rows")) {
		if (r + 1 < s->n_rungs &&
		    json_object_set_new(p, "sample_rows", json_real(rung_share(s, r))) != 0) {
			json_decref(p);
			return NULL;
		}
		return p;
	}
	if (json_object_set_new(p, s->o.resource,
				json_integer((json_int_t)fmax(1, round(s->full * rung_share(s, r))))) !=
	    0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* The full value of halving's integer resource: the template's, else the default. */
static double full_resource(const search *s)
{
	const json_t *v = json_object_get(s->o.template_, s->o.resource);
	const step_opt *opt = step_find_opt(s->o.train, s->o.resource);

	if (json_is_number(v))
		return json_number_value(v);
	return opt && opt->def ? strtod(opt->def, NULL) : 100;
}

/* Sets trial k's options (its with) from its searched options. */
static int set_with(search *s, spec *sp, size_t k, char *msg, size_t size)
{
	step_problem pb;
	json_t *w;
	int rc;

	memset(&pb, 0, sizeof pb);
	rc = tune_trial_with(&s->o, s->trials[k].params, s->in_names, s->n_in, &w, &pb);
	if (rc == SL_EINVAL) {
		snprintf(msg, size, "the trial's options were refused: %s%s%s", pb.path,
			 pb.path[0] ? ": " : "", pb.msg);
		return rc;
	}
	if (rc)
		return rc;
	json_decref(sp->steps[s->first + k].with);
	sp->steps[s->first + k].with = w;
	return 0;
}

/* Fills trial step `at` as the training step with the tune step's inputs. */
static int make_step(spec *sp, const search *s, size_t at, size_t k)
{
	const spec_step *tu = &sp->steps[s->step];
	spec_step *st = &sp->steps[at];
	size_t n_out = 0;

	for (const step_port *p = s->o.train->outputs; p && p->name; p++)
		n_out++;
	st->name = tune_trial_name(tu->name, k);
	st->kind = SPEC_USES;
	st->uses = sl__strdup(s->o.train->name);
	st->def = s->o.train;
	st->cache = tu->cache;
	st->timeout = tu->timeout;
	st->resources = tu->resources;
	st->inputs = sl__calloc(tu->n_inputs + 1, sizeof *st->inputs);
	st->outputs = sl__calloc(n_out + 1, sizeof *st->outputs);
	if (!st->name || !st->uses || !st->inputs || !st->outputs)
		return sl__oom();
	for (size_t j = 0; j < tu->n_inputs; j++) {
		spec_input *in = &st->inputs[st->n_inputs++];
		in->name = sl__strdup(tu->inputs[j].name);
		in->step = sl__strdup(tu->inputs[j].step);
		in->output = sl__strdup(tu->inputs[j].output);
		in->step_index = tu->inputs[j].step_index;
		in->pos = tu->inputs[j].pos;
		if (!in->name || !in->step || !in->output)
			return sl__oom();
	}
	for (const step_port *p = s->o.train->outputs; p && p->name; p++)
		if (!(st->outputs[st->n_outputs++] = sl__strdup(p->name)))
			return sl__oom();
	return 0;
}

/* Plans search s (its trials and rungs) and appends its steps to sp. */
static int expand_one(spec *sp, search *s)
{
	size_t n = s->o.trials, first, n_up;
	int rc;

	if (s->o.method == TUNE_HALVING) {
		s->n_rungs = ml_search_rungs(s->o.trials, s->o.eta, s->rung_n, MAX_RUNGS);
		n = 0;
		for (size_t r = 0; r < s->n_rungs; r++) {
			s->rung_first[r] = n;
			n += s->rung_n[r];
		}
		if (strcmp(s->o.resource, "rows") != 0)
			s->full = full_resource(s);
	} else {
		s->n_rungs = 1;
		s->rung_n[0] = n;
	}
	if (!(s->trials = sl__calloc(n + 1, sizeof *s->trials)))
		return sl__oom();
	s->n = n;
	s->t0 = -1;
	for (size_t k = 0, r = 0; k < n; k++) {
		while (r + 1 < s->n_rungs && k >= s->rung_first[r + 1])
			r++;
		s->trials[k].rung = r;
		if (r == 0) {
			json_t *pt = s->o.method == TUNE_GRID ? ml_search_grid_point(&s->o.space, k)
							      : ml_search_random_point(&s->o.space,
										       s->o.seed, k);
			s->trials[k].params = pt ? with_resource(s, pt, 0) : NULL;
			json_decref(pt);
			if (!s->trials[k].params)
				return sl__oom();
		}
	}
	first = sp->n_steps;
	if ((rc = spec_steps_append(sp, n, s->step)))
		return rc;
	s->first = first;
	/* The tune step's own upstream steps, before its trials join the list. */
	n_up = sp->steps[s->step].n_upstream;
	for (size_t k = 0; k < n; k++) {
		if ((rc = make_step(sp, s, first + k, k)))
			return rc;
		/* Invariant 2: a rung-0 trial's options are known now. */
		if (s->trials[k].rung == 0) {
			char msg[SL__ERRMSG_MAX];
			rc = set_with(s, sp, k, msg, sizeof msg);
			if (rc == SL_EINVAL)
				rc = 0; /* fails when it is ready (tune_trial_ready), not the run */
			if (rc)
				return rc;
		}
		for (size_t u = 0; u < n_up; u++)
			if ((rc = link(sp, sp->steps[s->step].upstream[u], first + k)))
				return rc;
		if (s->trials[k].rung > 0) {
			size_t pr = s->trials[k].rung - 1;
			for (size_t j = 0; j < s->rung_n[pr]; j++)
				if ((rc = link(sp, first + s->rung_first[pr] + j, first + k)))
					return rc;
		}
		if ((rc = link(sp, first + k, s->step)))
			return rc;
	}
	return 0;
}

int tune_expand(spec *sp, tune_run **out)
{
	tune_run *t;
	size_t n_tune = 0;
	int rc = 0;

	*out = NULL;
	for (size_t i = 0; i < sp->n_steps; i++)
		n_tune += sp->steps[i].kind == SPEC_USES && !strcmp(sp->steps[i].uses, "tune");
	if (!n_tune)
		return 0;
	if (!(t = sl__calloc(1, sizeof *t)) || !(t->v = sl__calloc(n_tune, sizeof *t->v))) {
		sl__free(t);
		return sl__oom();
	}
	t->n_steps0 = sp->n_steps;
	for (size_t i = 0; rc == 0 && i < t->n_steps0; i++) {
		const spec_step *st = &sp->steps[i];
		search *s;
		char path[256], msg[768];
		if (st->kind != SPEC_USES || strcmp(st->uses, "tune") != 0)
			continue;
		s = &t->v[t->n++];
		s->step = i;
		if (tune_opts_read(st->with, &s->o, path, sizeof path, msg, sizeof msg)) {
			rc = sl__err(SL_ESPEC, "step '%s': with.%s: %s", st->name, path, msg);
			break;
		}
		s->in_names = sl__calloc(st->n_inputs + 1, sizeof *s->in_names);
		if (!s->in_names) {
			rc = sl__oom();
			break;
		}
		for (size_t j = 0; j < st->n_inputs; j++)
			s->in_names[s->n_in++] = st->inputs[j].name;
		rc = expand_one(sp, s);
	}
	if (rc) {
		tune_run_free(t, sp);
		return rc;
	}
	*out = t;
	return 0;
}

void tune_run_free(tune_run *t, spec *sp)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		search *s = &t->v[i];
		for (size_t k = 0; s->trials && k < s->n; k++) {
			json_decref(s->trials[k].params);
			json_decref(s->trials[k].metrics);
			sl__free(s->trials[k].error);
			sl__free(s->trials[k].model);
		}
		sl__free(s->trials);
		sl__free(s->in_names);
		tune_opts_free(&s->o);
	}
	if (sp)
		spec_steps_truncate(sp, t->n_steps0);
	sl__free(t->v);
	sl__free(t);
}

/* ---- during the run ------------------------------------------------------------- */

/* The search trial step i belongs to, with k its number; NULL when none. */
static search *find(const tune_run *t, size_t i, size_t *k)
{
	for (size_t s = 0; t && i >= t->n_steps0 && s < t->n; s++)
		if (i >= t->v[s].first && i < t->v[s].first + t->v[s].n) {
			*k = i - t->v[s].first;
			return &t->v[s];
		}
	return NULL;
}

long tune_parent(const tune_run *t, size_t i)
{
	size_t k;
	const search *s = find(t, i, &k);

	return s ? (long)s->step : -1;
}

static bool out_of_time(const search *s, double now)
{
	return s->o.seconds > 0 && s->t0 >= 0 && now - s->t0 > s->o.seconds;
}

/* The metric ranking a rung: the option, else the first the rung's trials record. */
static const char *rank_metric(const search *s, size_t r)
{
	const char *m = s->o.metric;

	for (size_t k = 0; !m && k < s->n; k++)
		if (s->trials[k].rung == r && s->trials[k].metrics)
			m = tune_auto_metric(s->trials[k].metrics);
	return m;
}

typedef struct ranked {
	size_t k;
	double v;
} ranked;

/* Best first in direction dir, ties to the lower trial: an insertion sort (a rung is small). */
static void rank_sort(ranked *v, size_t n, int dir)
{
	for (size_t i = 1; i < n; i++) {
		ranked x = v[i];
		size_t j = i;
		while (j > 0 && (x.v - v[j - 1].v) * dir > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/*
 * Invariant 2: trial k of rung r > 0 takes the options of the j-th best
 * trial of rung r-1 (j = its place in its rung). Returns 1 when there is
 * no such survivor.
 */
static int promote(search *s, size_t k)
{
	size_t r = s->trials[k].rung, j = k - s->rung_first[r], n = 0;
	const char *metric = rank_metric(s, r - 1);
	ranked *v;
	json_t *p;
	int dir;

	if (!metric)
		return 1;
	dir = s->o.direction ? s->o.direction : ml_metric_direction(metric);
	if (!(v = sl__calloc(s->rung_n[r - 1] + 1, sizeof *v)))
		return sl__oom();
	for (size_t q = 0; q < s->rung_n[r - 1]; q++) {
		const trial *tr = &s->trials[s->rung_first[r - 1] + q];
		const json_t *mv = json_object_get(tr->metrics, metric);
		if (tr->state == T_DONE && strcmp(tr->status, "failed") != 0 && json_is_number(mv))
			v[n++] = (ranked){s->rung_first[r - 1] + q, json_number_value(mv)};
	}
	rank_sort(v, n, dir >= 0 ? 1 : -1);
	if (j >= n) {
		sl__free(v);
		return 1;
	}
	p = json_deep_copy(s->trials[v[j].k].params);
	sl__free(v);
	if (!p)
		return sl__oom();
	/* The survivor's searched options, with this rung's resource. */
	json_object_del(p, "sample_rows");
	if (strcmp(s->o.resource, "rows") != 0)
		json_object_del(p, s->o.resource);
	json_decref(s->trials[k].params);
	s->trials[k].params = with_resource(s, p, r);
	json_decref(p);
	return s->trials[k].params ? 0 : sl__oom();
}

int tune_trial_ready(tune_run *t, spec *sp, size_t i, double now, tune_verdict *out, char *msg,
		     size_t msg_size)
{
	size_t k;
	search *s = find(t, i, &k);
	int rc;

	*out = TUNE_GO;
	msg[0] = '\0';
	if (!s)
		return 0;
	if (s->t0 < 0)
		s->t0 = now;
	if (out_of_time(s, now)) {
		*out = TUNE_DROP;
		return 0;
	}
	if (s->trials[k].rung > 0) {
		rc = promote(s, k);
		if (rc == 1) {
			*out = TUNE_DROP;
			return 0;
		}
		if (rc)
			return rc;
	}
	if (!sp->steps[i].with || s->trials[k].rung > 0) {
		rc = set_with(s, sp, k, msg, msg_size);
		if (rc == SL_EINVAL) {
			*out = TUNE_FAIL;
			return 0;
		}
		if (rc)
			return rc;
	}
	s->trials[k].state = T_READY;
	return 0;
}

bool tune_trial_in_time(const tune_run *t, size_t i, double now)
{
	size_t k;
	const search *s = find(t, i, &k);

	return !s || !out_of_time(s, now);
}

int tune_trial_done(tune_run *t, size_t i, const char *status, const char *error,
		    const json_t *metrics, const char *model_path)
{
	size_t k;
	search *s = find(t, i, &k);
	trial *tr;

	if (!s)
		return 0;
	tr = &s->trials[k];
	tr->state = T_DONE;
	snprintf(tr->status, sizeof tr->status, "%s", status);
	sl__free(tr->error);
	sl__free(tr->model);
	json_decref(tr->metrics);
	tr->error = error ? sl__strdup(error) : NULL;
	tr->model = model_path ? sl__strdup(model_path) : NULL;
	tr->metrics = metrics ? json_deep_copy(metrics) : json_object();
	if ((error && !tr->error) || (model_path && !tr->model) || !tr->metrics)
		return sl__oom();
	return 0;
}

void tune_trial_dropped(tune_run *t, size_t i)
{
	size_t k;
	search *s = find(t, i, &k);

	if (s)
		s->trials[k].state = T_DROPPED;
}

int tune_write_trials(const tune_run *t, size_t step, const char *workdir)
{
	const search *s = NULL;
	json_t *doc, *arr, *rungs;
	char *path, *text;
	int rc;

	for (size_t i = 0; t && i < t->n; i++)
		if (t->v[i].step == step)
			s = &t->v[i];
	if (!s)
		return sl__err(SL_EINVAL, "step %zu is not a tune step of this run", step);
	arr = json_array();
	rungs = json_array();
	doc = json_pack("{s:o, s:o}", "trials", arr, "rungs", rungs);
	if (!doc)
		return sl__oom();
	if (s->o.method == TUNE_HALVING)
		json_object_set_new(doc, "resource", json_string(s->o.resource));
	for (size_t r = 0; s->o.method == TUNE_HALVING && r < s->n_rungs; r++) {
		size_t ran = 0;
		for (size_t q = 0; q < s->rung_n[r]; q++)
			ran += s->trials[s->rung_first[r] + q].state == T_DONE;
		json_t *o = json_pack("{s:I, s:I, s:I, s:f}", "rung", (json_int_t)r, "planned",
				      (json_int_t)s->rung_n[r], "ran", (json_int_t)ran, "share",
				      rung_share(s, r));
		if (!o || json_array_append_new(rungs, o) != 0) {
			json_decref(doc);
			return sl__oom();
		}
	}
	for (size_t k = 0; k < s->n; k++) {
		const trial *tr = &s->trials[k];
		json_t *o;
		if (tr->state != T_DONE)
			continue;
		o = json_pack("{s:I, s:I, s:O, s:s, s:s?, s:O, s:s?}", "trial", (json_int_t)k, "rung",
			      (json_int_t)tr->rung, "params", tr->params, "status", tr->status,
			      "error", tr->error, "metrics", tr->metrics, "model", tr->model);
		if (!o || json_array_append_new(arr, o) != 0) {
			json_decref(doc);
			return sl__oom();
		}
	}
	text = sl__json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	path = sl__path_join(workdir, "trials.json");
	rc = text && path ? sl__write_atomic(path, text, strlen(text)) : sl__oom();
	free(text);
	sl__free(path);
	return rc;
}
