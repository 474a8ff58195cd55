/*
 * Alert rules, retraining triggers and schedules as pure functions of a
 * report and stored state (rules.h has the invariants).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "monitor/rules.h"

/* ---- reading a report ------------------------------------------------------------- */

static bool finite_number(const json_t *v, double *out)
{
	double d;

	if (json_is_boolean(v))
		d = json_is_true(v) ? 1 : 0;
	else if (json_is_number(v))
		d = json_number_value(v);
	else
		return false;
	if (!isfinite(d))
		return false;
	*out = d;
	return true;
}

/* The canvas's metric names the report spells differently. */
static const char *report_name(const char *metric)
{
	static const char *const pairs[][2] = {{"roc_auc", "auc"}};

	for (size_t i = 0; i < SL__ARRAY_LEN(pairs); i++)
		if (!strcmp(metric, pairs[i][0]))
			return pairs[i][1];
	return NULL;
}

/* Serving measures, from the window block: latency in ms, the error rate. */
static bool window_value(const json_t *report, const char *metric, double *out)
{
	const json_t *w = json_object_get(report, "window");
	double a, b;

	if (!strcmp(metric, "latency_p99_ms") || !strcmp(metric, "latency_p50_ms")) {
		const char *us = metric[9] == '9' ? "latency_p99_us" : "latency_p50_us";
		if (!finite_number(json_object_get(w, us), &a))
			return false;
		*out = a / 1000.0;
		return true;
	}
	if (!strcmp(metric, "error_rate")) {
		if (!finite_number(json_object_get(w, "errors"), &a) ||
		    !finite_number(json_object_get(w, "requests"), &b) || b <= 0)
			return false;
		*out = a / b;
		return true;
	}
	return false;
}

bool mon_report_value(const json_t *report, const char *metric, double *out,
		      const char **out_basis)
{
	static const char *const blocks[] = {"live", "estimated"};
	const char *alt;

	if (!report || !metric)
		return false;
	if (finite_number(json_object_get(report, metric), out)) {
		if (out_basis)
			*out_basis = "report";
		return true;
	}
	if (window_value(report, metric, out)) {
		if (out_basis)
			*out_basis = "window";
		return true;
	}
	alt = report_name(metric);
	for (size_t i = 0; i < SL__ARRAY_LEN(blocks); i++) {
		const json_t *b = json_object_get(report, blocks[i]);
		const json_t *v = json_object_get(b, metric);
		if (!v && alt)
			v = json_object_get(b, alt);
		/* An estimate carries its band: {"value": v, "lower": .., "upper": ..}. */
		if (json_is_object(v))
			v = json_object_get(v, "value");
		if (finite_number(v, out)) {
			if (out_basis)
				*out_basis = blocks[i];
			return true;
		}
	}
	return false;
}

const char *mon_window_key(const json_t *report, char *buf, size_t size)
{
	static const char *const ends[] = {"to", "end", "until", "last"};
	const json_t *w = json_object_get(report, "window");

	for (size_t i = 0; json_is_object(w) && i < SL__ARRAY_LEN(ends); i++) {
		const json_t *v = json_object_get(w, ends[i]);
		if (json_is_string(v) && *json_string_value(v))
			return json_string_value(v);
		if (json_is_integer(v)) {
			snprintf(buf, size, "%lld", (long long)json_integer_value(v));
			return buf;
		}
		if (json_is_real(v)) {
			snprintf(buf, size, "%.17g", json_real_value(v));
			return buf;
		}
	}
	return NULL;
}

/* ---- alert rules ------------------------------------------------------------------ */

const char *mon_action_name(mon_action a)
{
	static const char *const names[] = {"none", "fire", "repeat", "resolve"};

	return (unsigned)a < SL__ARRAY_LEN(names) ? names[a] : "?";
}

/* Whether rule r watches model (a rule without `model` watches every one). */
static bool rule_applies(const canvas_alert *r, const char *model)
{
	return !r->model || (model && !strcmp(r->model, model));
}

int mon_rules_for(const canvas_alert *ops, size_t n_ops, const canvas_alert *cv, size_t n_cv,
		  const char *model, const canvas_alert ***out, size_t *out_n)
{
	const canvas_alert **list;
	size_t k = 0;

	*out = NULL;
	*out_n = 0;
	if (!(list = sl__calloc(n_ops + n_cv + 1, sizeof *list)))
		return sl__oom();
	for (size_t i = 0; i < n_ops; i++)
		if (rule_applies(&ops[i], model))
			list[k++] = &ops[i];
	size_t n_own = k;
	for (size_t i = 0; i < n_cv; i++) {
		char a[96], b[96];
		const char *name = canvas_alert_name(&cv[i], a, sizeof a);
		size_t j;
		if (!rule_applies(&cv[i], model))
			continue;
		for (j = 0; j < n_own && strcmp(name, canvas_alert_name(list[j], b, sizeof b)); j++)
			;
		if (j == n_own) /* not overridden by sluice.yaml's rule of the same name */
			list[k++] = &cv[i];
	}
	*out = list;
	*out_n = k;
	return 0;
}

mon_action mon_rule_step(const canvas_alert *r, double value, const char *window, int64_t now_ms,
			 store_mon_state *st)
{
	bool cond;

	/* Invariant 1: a window already counted is not counted again. */
	if (window && st->found && !strcmp(st->window, window))
		return st->active ? MON_REPEAT : MON_NONE;
	if (!isfinite(value))
		return st->active ? MON_REPEAT : MON_NONE;
	st->found = true;
	snprintf(st->window, sizeof st->window, "%s", window ? window : "");
	st->value = value;
	st->updated_ms = now_ms;
	cond = r->above ? value > r->threshold : value < r->threshold;
	if (!cond) {
		st->streak = 0;
		if (!st->active)
			return MON_NONE;
		st->active = false;
		st->since_ms = 0;
		return MON_RESOLVE;
	}
	st->streak++;
	if (st->active)
		return MON_REPEAT;
	if (st->streak < (r->windows > 0 ? r->windows : 1))
		return MON_NONE;
	st->active = true;
	st->since_ms = now_ms;
	st->fired++;
	return MON_FIRE;
}

/* ---- retraining triggers ------------------------------------------------------------ */

const char *mon_trigger_names(unsigned bits, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *name;
	} order[] = {{CANVAS_ON_DRIFT, "drift"}, {CANVAS_ON_DECAY, "decay"}, {CANVAS_ON_CADENCE, "cadence"}};
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < SL__ARRAY_LEN(order); i++)
		if ((bits & order[i].bit) && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "+" : "",
						order[i].name);
	return buf;
}

/*
 * Invariant 2: a latch passes a condition once per version. The row's
 * note holds the version it last fired for.
 */
static bool latch(bool cond, const char *version, const char *window, int64_t now_ms,
		  store_mon_state *st)
{
	const char *v = version ? version : "";

	st->found = true;
	st->updated_ms = now_ms;
	if (!cond) {
		st->active = false;
		st->since_ms = 0;
		st->window[0] = '\0';
		return false;
	}
	if (st->active && !strcmp(st->note, v))
		return false;
	/* Released by a failed run (mon_trigger_retry): only a newer window fires. */
	if (!st->active && st->window[0] && window && !strcmp(st->window, window))
		return false;
	st->active = true;
	st->since_ms = now_ms;
	st->fired++;
	snprintf(st->note, sizeof st->note, "%s", v);
	snprintf(st->window, sizeof st->window, "%s", window ? window : "");
	return true;
}

void mon_trigger_retry(store_mon_state *st)
{
	st->active = false;
	st->since_ms = 0;
}

/* The drifted features of a report, as {name, test, statistic, p_value}. */
static json_t *drifted_features(const json_t *report)
{
	const json_t *fs = json_object_get(report, "features"), *f;
	json_t *out = json_array();
	size_t i;

	if (!out)
		return NULL;
	json_array_foreach(fs, i, f) {
		static const char *const keep[] = {"name", "test", "statistic", "p_value"};
		json_t *o;
		if (!json_is_true(json_object_get(f, "drift")))
			continue;
		if (!(o = json_object()) || sl__json_push(out, o)) {
			json_decref(out);
			return NULL;
		}
		for (size_t k = 0; k < SL__ARRAY_LEN(keep); k++) {
			json_t *v = json_object_get(f, keep[k]);
			if (v && sl__json_set_ref(o, keep[k], v)) {
				json_decref(out);
				return NULL;
			}
		}
	}
	return out;
}

static int drift_evidence(const json_t *report, bool latched, json_t **out)
{
	json_t *e = json_object(), *w = json_object_get(report, "window");
	double share;

	*out = e;
	if (!e)
		return sl__oom();
	if (sl__json_set(e, "dataset_drift", json_true()) ||
	    (mon_report_value(report, "drift_share", &share, NULL) &&
	     sl__json_set(e, "drift_share", json_real(share))) ||
	    (w && sl__json_set_ref(e, "window", w)) ||
	    sl__json_set(e, "features", drifted_features(report)) ||
	    (latched && sl__json_set(e, "latched", json_true())))
		return sl__oom();
	return 0;
}

static int decay_evidence(const mon_trigger_in *in, double value, const char *basis,
			  bool latched, json_t **out)
{
	json_t *e = json_object(), *w = json_object_get(in->report, "window");

	*out = e;
	if (!e)
		return sl__oom();
	if (sl__json_set(e, "metric", json_string(in->metric)) ||
	    sl__json_set(e, "value", json_real(value)) ||
	    sl__json_set(e, in->direction < 0 ? "max" : "min", json_real(in->min)) ||
	    sl__json_set(e, "basis", json_string(basis)) ||
	    (w && sl__json_set_ref(e, "window", w)) ||
	    (latched && sl__json_set(e, "latched", json_true())))
		return sl__oom();
	return 0;
}

int mon_triggers(const mon_trigger_in *in, int64_t now_ms, store_mon_state *drift,
		 store_mon_state *decay, unsigned *out_fired, json_t **out_evidence)
{
	json_t *ev = json_object(), *e = NULL;
	unsigned fired = 0;
	int rc = 0;

	*out_fired = 0;
	*out_evidence = NULL;
	if (!ev)
		return sl__oom();
	if ((in->retrain_on & CANVAS_ON_DRIFT) && in->report) {
		bool cond = json_is_true(json_object_get(in->report, "dataset_drift"));
		bool pass = latch(cond, in->version, in->window, now_ms, drift);
		if (cond) {
			rc = drift_evidence(in->report, !pass, &e);
			if (rc == 0 && sl__json_set(ev, "drift", e))
				rc = sl__oom();
			else if (rc)
				json_decref(e);
			if (pass)
				fired |= CANVAS_ON_DRIFT;
		}
	}
	if (rc == 0 && (in->retrain_on & CANVAS_ON_DECAY) && in->report && in->metric &&
	    in->has_min) {
		double v;
		const char *basis = NULL;
		bool measured = mon_report_value(in->report, in->metric, &v, &basis);
		bool cond = measured && (in->direction < 0 ? v > in->min : v < in->min);
		bool pass;
		/* Nothing measured says nothing: the latch keeps its state. */
		pass = measured && latch(cond, in->version, in->window, now_ms, decay);
		if (cond) {
			rc = decay_evidence(in, v, basis, !pass, &e);
			if (rc == 0 && sl__json_set(ev, "decay", e))
				rc = sl__oom();
			else if (rc)
				json_decref(e);
			if (pass)
				fired |= CANVAS_ON_DECAY;
		}
	}
	if (rc == 0 && (in->retrain_on & CANVAS_ON_CADENCE) && in->cadence_due) {
		char at[32];
		sl__fmt_time(in->due_s * 1000, at, sizeof at);
		if (sl__json_set(ev, "cadence",
				 json_pack("{s:s, s:s}", "cadence", in->cadence ? in->cadence : "",
					   "due", at)))
			rc = sl__oom();
		else
			fired |= CANVAS_ON_CADENCE;
	}
	if (rc) {
		json_decref(ev);
		return rc;
	}
	*out_fired = fired;
	*out_evidence = ev;
	return 0;
}

/* ---- a retraining run's parameters ------------------------------------------------ */

static bool declared_has(const char *const *declared, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(declared[i], name))
			return true;
	return false;
}

/* A window bound as text: an ISO time as is, a number of ms since the epoch formatted. */
static const char *bound(const json_t *w, const char *const *keys, size_t n, char *buf,
			 size_t size)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(w, keys[i]);
		if (json_is_string(v) && *json_string_value(v))
			return json_string_value(v);
		if (json_is_integer(v) && json_integer_value(v) > 0) {
			sl__fmt_time(json_integer_value(v), buf, size);
			return buf;
		}
	}
	return NULL;
}

size_t mon_run_params(const json_t *report, const json_t *lineage, const char *model,
		      const char *version, const char *trigger, const char *const *declared,
		      size_t n, const char *out[MON_RUN_PARAMS_MAX],
		      char buf[MON_RUN_PARAMS_MAX][160])
{
	static const char *const starts[] = {"from", "since", "start", "first"};
	static const char *const ends[] = {"to", "until", "end", "last"};
	const json_t *w = json_object_get(report, "window");
	const json_t *training = json_object_get(lineage, "training");
	char since[64], until[64];
	const char *names[MON_RUN_PARAMS_MAX] = {"model", "version", "trigger", "since",
						 "until", "train_data", "valid_data", "test_data"};
	const char *vals[MON_RUN_PARAMS_MAX] = {NULL};
	size_t k = 0;

	vals[0] = model;
	vals[1] = version;
	vals[2] = trigger;
	vals[3] = bound(w, starts, SL__ARRAY_LEN(starts), since, sizeof since);
	vals[4] = bound(w, ends, SL__ARRAY_LEN(ends), until, sizeof until);
	/* The production version's data, as its bundle's lineage names it (package.c). */
	vals[5] = json_string_value(json_object_get(training, "train"));
	vals[6] = json_string_value(json_object_get(training, "valid"));
	vals[7] = json_string_value(json_object_get(lineage, "test"));
	for (size_t i = 0; i < MON_RUN_PARAMS_MAX && names[i]; i++) {
		if (!vals[i] || !*vals[i] || !declared_has(declared, n, names[i]))
			continue;
		snprintf(buf[k], sizeof buf[k], "%s=%s", names[i], vals[i]);
		out[k] = buf[k];
		k++;
	}
	return k;
}

/* ---- schedules ------------------------------------------------------------------------ */

bool mon_cron_due(const cron_expr *e, int64_t last_s, int64_t now_s, int64_t *out_at)
{
	int64_t next;

	if (last_s <= 0 || now_s <= last_s)
		return false;
	if (cron_next(e, last_s, &next) != 0 || next > now_s)
		return false;
	if (out_at)
		*out_at = next;
	return true;
}
