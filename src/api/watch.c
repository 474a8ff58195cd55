/*
 * The monitoring loop (include/sluice/watch.h): `sluice monitor watch`,
 * the thread of `sluice serve --monitor`, and `sluice monitor retrain`.
 * The decisions themselves are pure functions (monitor/rules.h); this file
 * gathers their inputs (the production version, the window's report, the
 * stored state), acts on their outputs (alerts sent, a retraining run
 * started through the public run API, the alias moved through the
 * registry's) and records every decision as an event.
 *
 *   every interval, for each watched model:
 *     production version --mon_report--> report (or "no traffic yet") --mon_record
 *        (a new window joins the model's series)
 *        |--alert rules--> fire / resolve --> event + command / webhook
 *        `--triggers (drift, decay) + cadence--> fired? --claim--> one run
 *     retrain: claim (store) -> sl_run(pipeline, params) -> verdict
 *        -> promote (auto_promote; who = the watcher, reason = the trigger)
 *           or candidate / refused / failed; claim released
 *   every interval: sluice.yaml schedules that came due run their pipeline
 *
 * Invariants:
 *   1. Production moves only through sl_model_promote, and only after a
 *      run that completed and registered a version of the model whose
 *      verdict is passed: a failed or refused run leaves the alias alone.
 *   2. A model has at most one retraining run at a time, across processes
 *      sharing the store (store_mon_claim); triggers meeting a run in
 *      flight are recorded as coalesced, not started.
 *   3. Every decision is an event in the store before the loop goes on;
 *      an alert is recorded whether or not its delivery worked (the
 *      delivery's failure is in its detail).
 *   4. Nothing here prints: events go to the store and to o->on_event.
 *   5. A delivery that failed is tried again, on the channels that failed
 *      and with the alert as recorded, one interval later, then two, then
 *      four (DELIVERY_RETRIES), and ends recorded as "delivered" or
 *      "undelivered" with the last error; a newer alert of the same rule
 *      drops the retry (recorded as undelivered, superseded). Each
 *      attempt is bounded in time (notify.c), so a receiver that is down
 *      or hangs delays the loop by at most that, never stops it. The
 *      pending retry lives in the store (delivery:RULE), so a restarted
 *      watcher carries it on.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/notify.h"
#include "api/project.h"
#include "artifact/artifact.h"
#include "canvas/canvas.h"
#include "dataset/dataset.h"
#include "model/mfile.h"
#include "monitor/rules.h"

#define WATCH_DEFAULT_INTERVAL 60
#define WATCH_WHO "sluice-monitor"
#define CLAIM_RETRAIN "retrain"
/* A claim whose holder never updated it for this long is taken over. */
#define CLAIM_STALE_MS ((int64_t)24 * 3600 * 1000)
/* A failed alert delivery is tried again this many times (invariant 5). */
#define DELIVERY_RETRIES 3

typedef struct watcher {
	sl_project *p;
	const sl_watch_opts *o;
	const char *alias;
	const char *who;
	canvas *cv;        /* the project's canvas, or NULL */
	mon_env env;
	char *log_dir;     /* the inference log env reads (owned) */
	char owner[128];   /* this watcher, as a claim's holder */
	unsigned interval; /* seconds between evaluations */
} watcher;

void sl_watch_opts_init(sl_watch_opts *o)
{
	if (o)
		memset(o, 0, sizeof *o);
}

/* ---- events --------------------------------------------------------------------- */

/*
 * Records an event (invariant 3), as of at (ms), and hands it to on_event;
 * takes detail. *out_json (may be NULL; sl__free) receives the event as
 * JSON, *out_seq (may be NULL) its number.
 */
static int event_seq(watcher *w, int64_t at, const char *kind, const char *model,
		     const char *run, json_t *detail, char **out_json, int64_t *out_seq)
{
	char *text = detail ? sl__json_dumps(detail, JSON_COMPACT) : NULL;
	int64_t seq = 0;
	store_mon_event e = {.at_ms = at, .kind = kind, .model = model, .detail_json = text,
			     .run = run};
	int rc = detail && !text ? sl__oom() : store_mon_event_add(w->p->st, &e, &seq);

	if (rc == 0 && (w->o->on_event || out_json)) {
		char when[40];
		json_t *j;
		sl__fmt_time(at, when, sizeof when);
		j = json_pack("{s:I, s:s, s:s, s:s?, s:O?, s:s?}", "seq", (json_int_t)seq, "at", when,
			      "kind", kind, "model", model, "detail", detail, "run", run);
		char *line = j ? sl__json_dumps(j, JSON_COMPACT) : NULL;
		if (line && w->o->on_event)
			w->o->on_event(w->o->event_ud, line);
		if (out_json) {
			*out_json = line;
			line = NULL;
		}
		sl__free(line);
		json_decref(j);
	}
	sl__free(text);
	json_decref(detail);
	if (out_seq)
		*out_seq = seq;
	return rc;
}

static int event(watcher *w, const char *kind, const char *model, const char *run,
		 json_t *detail, char **out_json)
{
	return event_seq(w, sl__now_ms(), kind, model, run, detail, out_json, NULL);
}

/* An "error" event, only when the reason differs from the last one recorded. */
static int error_event(watcher *w, const char *model, const char *msg)
{
	store_mon_state st;
	int rc = store_mon_state_get(w->p->st, model, "error", &st);

	if (rc || (st.found && st.active && !strncmp(st.note, msg, sizeof st.note - 1)))
		return rc;
	st.active = true;
	st.updated_ms = sl__now_ms();
	snprintf(st.note, sizeof st.note, "%s", msg);
	if ((rc = store_mon_state_put(w->p->st, &st)) != 0)
		return rc;
	return event(w, "error", model, NULL, json_pack("{s:s}", "error", msg), NULL);
}

/* The error state cleared: the next failure is news again. */
static int error_clear(watcher *w, const char *model)
{
	store_mon_state st;
	int rc = store_mon_state_get(w->p->st, model, "error", &st);

	if (rc || !st.found || !st.active)
		return rc;
	st.active = false;
	st.updated_ms = sl__now_ms();
	return store_mon_state_put(w->p->st, &st);
}

/* ---- alerts ------------------------------------------------------------------------ */

/*
 * The alert rules that watch model: sluice.yaml's and the canvas's, a
 * sluice.yaml rule overriding the canvas's of the same name (rules.h,
 * invariant 5). *out (sl__free) borrows the rules.
 */
static int rules_of(const watcher *w, const char *model, const canvas_alert ***out, size_t *n)
{
	return mon_rules_for(w->p->set.alerts, w->p->set.n_alerts,
			     w->cv ? w->cv->monitoring.alerts : NULL,
			     w->cv ? w->cv->monitoring.n_alerts : 0, model, out, n);
}

/* Where rule r's alerts go: its own command and webhook, else sluice.yaml's. */
static void rule_channels(const watcher *w, const canvas_alert *r, const char **command,
			  const char **webhook)
{
	*command = r->command ? r->command : w->p->set.notify_command;
	*webhook = r->webhook ? r->webhook : w->p->set.notify_webhook;
}

static const char *channel_names(unsigned bits)
{
	return bits == (API_NOTIFY_COMMAND | API_NOTIFY_WEBHOOK) ? "command+webhook"
	       : bits == API_NOTIFY_COMMAND			  ? "command"
							  : "webhook";
}

static unsigned channel_bits(const char *names)
{
	return (strstr(names, "command") ? API_NOTIFY_COMMAND : 0) |
	       (strstr(names, "webhook") ? API_NOTIFY_WEBHOOK : 0);
}

/*
 * After alert seq of rule `name` was recorded: a retry still pending for
 * an older alert of the rule is dropped (a late "firing" after its
 * "resolved" would mislead: recorded as undelivered), and the channels
 * that failed now (failed, API_NOTIFY_* bits) are tried again after one
 * interval (invariant 5).
 */
static int delivery_after(watcher *w, const char *model, const char *name, int64_t seq,
			  unsigned failed)
{
	char key[STORE_MON_KEY_MAX];
	store_mon_state st;
	int64_t now = sl__now_ms();
	int rc;

	snprintf(key, sizeof key, "delivery:%s", name);
	if ((rc = store_mon_state_get(w->p->st, model, key, &st)) != 0)
		return rc;
	if (st.found && st.active) {
		char why[128];
		snprintf(why, sizeof why, "superseded by alert %lld of the same rule",
			 (long long)seq);
		rc = event(w, "undelivered", model, NULL,
			   json_pack("{s:s, s:I, s:I, s:s}", "rule", name, "alert",
				     (json_int_t)strtoll(st.note, NULL, 10), "attempts",
				     (json_int_t)st.streak, "error", why),
			   NULL);
		if (rc)
			return rc;
	}
	if (!failed && !(st.found && st.active))
		return 0;
	st.found = true;
	st.active = failed != 0;
	st.streak = failed ? 1 : 0;
	st.updated_ms = now;
	st.since_ms = failed ? now + (int64_t)w->interval * 1000 : 0;
	snprintf(st.note, sizeof st.note, "%lld", (long long)seq);
	snprintf(st.window, sizeof st.window, "%s", failed ? channel_names(failed) : "");
	return store_mon_state_put(w->p->st, &st);
}

/* The recorded event number seq of model (a new reference), or NULL. */
static json_t *recorded_event(watcher *w, const char *model, int64_t seq)
{
	store_mon_filter f = {.model = model, .after_seq = seq - 1, .limit = 0};
	json_t *all = NULL, *e, *found = NULL;
	size_t i;

	if (store_mon_events_json(w->p->st, &f, &all) != 0) {
		sl__err_clear();
		return NULL;
	}
	json_array_foreach(all, i, e) {
		if (json_integer_value(json_object_get(e, "seq")) == seq) {
			found = json_incref(e);
			break;
		}
	}
	json_decref(all);
	return found;
}

/* The body sent again: the alert as first sent, the recorded event without its delivery's outcome. */
static char *retry_body(const json_t *ev, const char *model)
{
	json_t *d = json_deep_copy(json_object_get(ev, "detail")), *msg;
	char *body;

	if (!d)
		return NULL;
	json_object_del(d, "delivered");
	json_object_del(d, "delivery_error");
	msg = json_pack("{s:O, s:O, s:s, s:o}", "at", json_object_get(ev, "at"), "kind",
			json_object_get(ev, "kind"), "model", model, "detail", d);
	body = msg ? sl__json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	return body;
}

/*
 * Tries again the deliveries of model's alerts that failed and whose time
 * came (invariant 5): only the channels that failed, with the alert as it
 * was recorded; "delivered" or, after DELIVERY_RETRIES more attempts,
 * "undelivered" is recorded, with the attempts and the last error.
 */
static int retry_deliveries(watcher *w, const char *model)
{
	int64_t now = sl__now_ms();
	const canvas_alert **rules = NULL;
	size_t n_rules = 0;
	int rc = rules_of(w, model, &rules, &n_rules);

	for (size_t i = 0; rc == 0 && i < n_rules; i++) {
		const canvas_alert *r = rules[i];
		char nbuf[96], key[STORE_MON_KEY_MAX], err[1024];
		const char *name = canvas_alert_name(r, nbuf, sizeof nbuf), *command, *webhook;
		store_mon_state st;
		json_t *ev;
		unsigned failed = 0;
		int64_t seq;

		snprintf(key, sizeof key, "delivery:%s", name);
		if ((rc = store_mon_state_get(w->p->st, model, key, &st)) != 0)
			break;
		if (!st.found || !st.active || now < st.since_ms)
			continue;
		seq = strtoll(st.note, NULL, 10);
		rule_channels(w, r, &command, &webhook);
		unsigned want = channel_bits(st.window);
		ev = recorded_event(w, model, seq);
		char *body = ev ? retry_body(ev, model) : NULL;
		const char *kind = json_string_value(json_object_get(ev, "kind"));
		if (!body) {
			snprintf(err, sizeof err, "alert %lld is not in the store any more",
				 (long long)seq);
			failed = want;
			st.streak = DELIVERY_RETRIES; /* nothing left to send */
		} else {
			api_alert_msg m = {.json = body, .name = name,
					   .state = kind && !strcmp(kind, "resolved") ? "resolved"
										 : "firing",
					   .model = model, .cwd = w->p->root};
			api_notify(&m, (want & API_NOTIFY_COMMAND) ? command : NULL,
				   (want & API_NOTIFY_WEBHOOK) ? webhook : NULL, err, sizeof err, &failed);
		}
		sl__free(body);
		json_decref(ev);
		st.streak++;
		st.updated_ms = now;
		if (!failed || st.streak > DELIVERY_RETRIES) {
			st.active = false;
			st.since_ms = 0;
			rc = event(w, failed ? "undelivered" : "delivered", model, NULL,
				   json_pack("{s:s, s:I, s:I, s:s, s:s*}", "rule", name, "alert",
					     (json_int_t)seq, "attempts", (json_int_t)st.streak,
					     "channels", channel_names(want), "error",
					     failed ? err : NULL),
				   NULL);
		} else {
			/* Backing off: one interval, then two, then four. */
			st.since_ms = now + ((int64_t)w->interval * 1000 << (st.streak - 1));
			snprintf(st.window, sizeof st.window, "%s", channel_names(failed));
		}
		if (rc == 0)
			rc = store_mon_state_put(w->p->st, &st);
	}
	sl__free(rules);
	return rc;
}

static int alert_rules(watcher *w, const char *model, const json_t *report, const char *window)
{
	int64_t now = sl__now_ms();
	const canvas_alert **rules = NULL;
	size_t n_rules = 0;
	int rc = rules_of(w, model, &rules, &n_rules);

	for (size_t i = 0; rc == 0 && i < n_rules; i++) {
		const canvas_alert *r = rules[i];
		char nbuf[96], key[STORE_MON_KEY_MAX], err[1024];
		const char *name = canvas_alert_name(r, nbuf, sizeof nbuf), *basis = NULL;
		store_mon_state st;
		double v = NAN;
		mon_action a;

		snprintf(key, sizeof key, "alert:%s", name);
		if ((rc = store_mon_state_get(w->p->st, model, key, &st)) != 0)
			break;
		mon_report_value(report, r->metric, &v, &basis);
		a = mon_rule_step(r, v, window, now, &st);
		if ((rc = store_mon_state_put(w->p->st, &st)) != 0 || (a != MON_FIRE && a != MON_RESOLVE))
			continue;
		json_t *d = json_pack("{s:s, s:s, s:f, s:f, s:I, s:s, s:s?, s:I}", "rule", name,
				      "metric", r->metric, "value", v, r->above ? "above" : "below",
				      r->threshold, "for", (json_int_t)r->windows, "severity",
				      canvas_severity_name(r->severity), "basis", basis, "windows",
				      (json_int_t)st.streak);
		const char *command, *webhook;
		unsigned failed = 0;
		int64_t seq = 0;
		rule_channels(w, r, &command, &webhook);
		if (!d) {
			rc = sl__oom();
			break;
		}
		if (window && sl__json_set(d, "window", json_string(window))) {
			json_decref(d);
			rc = sl__oom();
			break;
		}
		/* The body a command or webhook gets is the event as recorded. */
		if (command || webhook) {
			char when[40];
			sl__fmt_time(now, when, sizeof when);
			json_t *msg = json_pack("{s:s, s:s, s:s, s:O}", "at", when, "kind",
						a == MON_FIRE ? "alert" : "resolved", "model", model,
						"detail", d);
			char *body = msg ? sl__json_dumps(msg, JSON_COMPACT) : NULL;
			json_decref(msg);
			if (!body) {
				json_decref(d);
				rc = sl__oom();
				break;
			}
			api_alert_msg m = {.json = body, .name = name,
					   .state = a == MON_FIRE ? "firing" : "resolved",
					   .model = model, .cwd = w->p->root};
			int drc = api_notify(&m, command, webhook, err, sizeof err, &failed);
			sl__free(body);
			if (sl__json_set(d, "delivered", drc ? json_false() : json_true()) ||
			    (drc && sl__json_set(d, "delivery_error", json_string(err)))) {
				json_decref(d);
				rc = sl__oom();
				break;
			}
		}
		/* At the time the body says, so a retry sends the same body. */
		rc = event_seq(w, now, a == MON_FIRE ? "alert" : "resolved", model, NULL, d, NULL,
			       &seq);
		if (rc == 0 && (command || webhook))
			rc = delivery_after(w, model, name, seq, failed);
	}
	sl__free(rules);
	return rc;
}

/* ---- the retraining run ---------------------------------------------------------------- */

/* The names the pipeline declares under params: (into names, n at most max). */
static int pipeline_params(const char *path, const char **names, size_t max, size_t *n,
			   json_t **out_doc)
{
	json_t *doc = NULL;
	const char *k;
	json_t *v;
	int rc = sl__yaml_load_json(path, 0, &doc, NULL);

	*n = 0;
	*out_doc = NULL;
	if (rc)
		return rc;
	json_object_foreach(json_object_get(doc, "params"), k, v) {
		if (*n < max)
			names[(*n)++] = k;
	}
	*out_doc = doc;
	return 0;
}

typedef struct run_watch {
	watcher *w;
	const char *model;
	json_t *start_detail; /* recorded as the retrain event when the run's id is known */
	char run_id[STORE_ID_SIZE];
	int rc;
} run_watch;

static void on_run_event(void *ud, const sl_event *ev)
{
	run_watch *rw = ud;

	if (ev->kind != SL_EVENT_RUN_START || rw->run_id[0] || !ev->run_id)
		return;
	snprintf(rw->run_id, sizeof rw->run_id, "%s", ev->run_id);
	rw->rc = store_mon_claim_note(rw->w->p->st, rw->model, CLAIM_RETRAIN, rw->w->owner,
				      rw->run_id);
	if (rw->rc == 0)
		rw->rc = event(rw->w, "retrain", rw->model, rw->run_id, rw->start_detail, NULL);
	else
		json_decref(rw->start_detail);
	rw->start_detail = NULL;
}

/* The failed steps of a run: [{step, reason, error}]. */
static json_t *failed_steps(sl_project *p, const char *run)
{
	char *text = NULL;
	json_t *r, *out = json_array(), *s;
	bool oom = false;
	size_t i;

	if (!out || sl_run_show(p, run, &text) != 0 ||
	    !(r = sl__json_loadb(text, strlen(text), 0, NULL, &oom))) {
		sl_free(text);
		return out;
	}
	sl_free(text);
	json_array_foreach(json_object_get(r, "steps"), i, s) {
		if (strcmp(json_string_value(json_object_get(s, "status")) ?: "", "failed"))
			continue;
		sl__json_push(out, json_pack("{s:O?, s:O?, s:O?}", "step", json_object_get(s, "name"),
					     "reason", json_object_get(s, "reason"), "error",
					     json_object_get(s, "error")));
	}
	json_decref(r);
	return out;
}

/* The version of model that run registered, with its verdict: 0 when none. */
static int64_t registered_by(watcher *w, const char *model, const char *run, char *verdict,
			     size_t vsize)
{
	json_t *m = NULL, *v;
	int64_t found = 0;
	size_t i;

	if (store_model_json(w->p->st, model, NULL, &m) != 0) {
		sl__err_clear();
		return 0;
	}
	json_array_foreach(json_object_get(m, "versions"), i, v) {
		if (!strcmp(json_string_value(json_object_get(v, "run")) ?: "", run)) {
			found = json_integer_value(json_object_get(v, "version"));
			snprintf(verdict, vsize, "%s",
				 json_string_value(json_object_get(v, "verdict")) ?: VERDICT_NONE);
		}
	}
	json_decref(m);
	return found;
}

/*
 * Whether run had nothing new to learn from: it has register steps and
 * every one was served from the cache (a cached register step registers
 * nothing: register.c), so its inputs, and the model, are those of an
 * earlier run, whose id goes into from (empty when unknown).
 */
static bool nothing_new(sl_project *p, const char *run, char *from, size_t size)
{
	char *text = NULL;
	json_t *r, *s;
	bool oom = false;
	size_t i, n = 0, cached = 0;

	from[0] = '\0';
	if (sl_run_show(p, run, &text) != 0 ||
	    !(r = sl__json_loadb(text, strlen(text), 0, NULL, &oom))) {
		sl_free(text);
		sl__err_clear();
		return false;
	}
	sl_free(text);
	json_array_foreach(json_object_get(r, "steps"), i, s) {
		const char *kind = json_string_value(json_object_get(s, "kind")) ?: "";
		if (sl__str_has_prefix(kind, "uses:"))
			kind += 5; /* a step's kind is "uses:STEP" */
		if (strcmp(kind, "register"))
			continue;
		n++;
		if (json_is_true(json_object_get(s, "cache_hit")) ||
		    !strcmp(json_string_value(json_object_get(s, "status")) ?: "", "cached")) {
			cached++;
			if (!from[0])
				snprintf(from, size, "%s",
					 json_string_value(json_object_get(s, "cached_from_run")) ?: "");
		}
	}
	json_decref(r);
	return n > 0 && cached == n;
}

/*
 * The lineage block of the production bundle's manifest (a new reference),
 * where the run's train_data, valid_data and test_data come from; NULL
 * when it cannot be read, and the pipeline then gets none of them (its
 * params' defaults stand, and the retrain event's params show it).
 */
static json_t *production_lineage(watcher *w, const char *bundle_id)
{
	char *path = bundle_id ? art_path(w->p->art_root, bundle_id) : NULL;
	mfile *f = NULL;
	json_t *lin = NULL;

	if (path && mfile_open(path, &f) == 0)
		lin = json_incref(json_object_get(mfile_manifest(f), "lineage"));
	sl__err_clear();
	mfile_close(f);
	sl__free(path);
	return lin;
}

/*
 * Runs the retraining pipeline for model on the triggers named trigger
 * (invariants 1 and 2) and records the outcome. *out_json: the decision's
 * event (may be NULL).
 */
static int retrain(watcher *w, const char *model, const char *trigger, const char *reason,
		   const json_t *report, const char *version, const char *bundle_id,
		   char **out_json, const char **out_kind)
{
	char holder[STORE_MON_NOTE_MAX], pbuf[MON_RUN_PARAMS_MAX][160], verdict[16];
	char from[STORE_ID_SIZE];
	char msg[SL__ERRMSG_MAX];
	const char *declared[32], *params[MON_RUN_PARAMS_MAX];
	json_t *doc = NULL, *plist, *lineage;
	sl_run_opts ro;
	run_watch rw;
	bool claimed = false;
	size_t nd = 0, np;
	int rc, run_rc;

	if (out_json)
		*out_json = NULL;
	*out_kind = "failed";
	rc = store_mon_claim(w->p->st, model, CLAIM_RETRAIN, w->owner, sl__now_ms(), CLAIM_STALE_MS,
			     &claimed, holder);
	if (rc)
		return rc;
	if (!claimed) {
		*out_kind = "coalesced";
		rc = event(w, "coalesced", model, NULL,
			   json_pack("{s:s, s:s}", "triggers", trigger, "in_flight", holder), out_json);
		return rc ? rc : SL_EBUSY;
	}
	if (!w->cv || !w->cv->building.pipeline_path) {
		rc = event(w, "failed", model, NULL,
			   json_pack("{s:s, s:s}", "triggers", trigger, "error",
				     "canvas.yaml building_models.pipeline names no retraining "
				     "pipeline"),
			   out_json);
		store_mon_claim_note(w->p->st, model, CLAIM_RETRAIN, w->owner, NULL);
		return rc;
	}
	if ((rc = pipeline_params(w->cv->building.pipeline_path, declared, SL__ARRAY_LEN(declared),
				  &nd, &doc)) != 0) {
		snprintf(msg, sizeof msg, "%s", sl_errmsg());
		rc = event(w, "failed", model, NULL,
			   json_pack("{s:s, s:s}", "triggers", trigger, "error", msg), out_json);
		store_mon_claim_note(w->p->st, model, CLAIM_RETRAIN, w->owner, NULL);
		return rc;
	}
	lineage = production_lineage(w, bundle_id);
	np = mon_run_params(report, lineage, model, version, trigger, declared, nd, params, pbuf);
	json_decref(lineage);
	json_decref(doc);
	plist = json_array();
	for (size_t i = 0; plist && i < np; i++)
		sl__json_push(plist, json_string(params[i]));
	memset(&rw, 0, sizeof rw);
	rw.w = w;
	rw.model = model;
	rw.start_detail = json_pack("{s:s, s:s?, s:s, s:s, s:o?}", "triggers", trigger, "reason",
				    reason, "production", version, "pipeline",
				    w->cv->building.pipeline.s, "params", plist);
	memset(&ro, 0, sizeof ro);
	ro.jobs = w->o->jobs;
	ro.params = params;
	ro.n_params = np;
	ro.on_event = on_run_event;
	ro.event_ud = &rw;
	ro.cancel_token = w->o->cancel;
	char *run_id = NULL;
	run_rc = sl_run(w->p, w->cv->building.pipeline_path, &ro, &run_id);
	snprintf(msg, sizeof msg, "%s", run_rc ? sl_project_errmsg(w->p) : "");
	if (!rw.run_id[0] && run_id)
		snprintf(rw.run_id, sizeof rw.run_id, "%s", run_id);
	sl_free(run_id);
	json_decref(rw.start_detail); /* never recorded: the run did not start */
	if (rw.rc) {
		store_mon_claim_note(w->p->st, model, CLAIM_RETRAIN, w->owner, NULL);
		return rw.rc;
	}
	const char *run = rw.run_id[0] ? rw.run_id : NULL;
	int64_t ver = 0;
	if (run_rc == 0 && run)
		ver = registered_by(w, model, run, verdict, sizeof verdict);
	if (run_rc == SL_EGATE) {
		/* The gates said no: production stays (invariant 1). */
		*out_kind = "refused";
		rc = event(w, "refused", model, run,
			   json_pack("{s:s, s:s, s:s, s:o}", "triggers", trigger, "production", version,
				     "why", msg, "failed", failed_steps(w->p, run)),
			   out_json);
	} else if (run_rc) {
		rc = event(w, "failed", model, run,
			   json_pack("{s:s, s:s, s:s, s:o}", "triggers", trigger, "production", version,
				     "error", msg, "failed", run ? failed_steps(w->p, run) : json_array()),
			   out_json);
	} else if (!ver && nothing_new(w->p, run, from, sizeof from)) {
		/* The same inputs as an earlier run: an honest "nothing new", not a failure. */
		char vb[24] = "";
		int64_t was = from[0] ? registered_by(w, model, from, verdict, sizeof verdict) : 0;
		if (was)
			snprintf(vb, sizeof vb, "%lld", (long long)was);
		*out_kind = "unchanged";
		rc = event(w, "unchanged", model, run,
			   json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "triggers", trigger, "production",
				     version, "version", was ? vb : NULL, "cached_from",
				     from[0] ? from : NULL, "why",
				     "nothing new to learn from: the run was served from the cache "
				     "(the same data and pipeline as an earlier run), so it registered "
				     "no new version"),
			   out_json);
	} else if (!ver) {
		rc = event(w, "failed", model, run,
			   json_pack("{s:s, s:s, s:s}", "triggers", trigger, "production", version,
				     "error", "the run completed but registered no version of the "
					      "model: its pipeline needs a register step naming it"),
			   out_json);
	} else if (strcmp(verdict, VERDICT_PASSED)) {
		*out_kind = "refused";
		rc = event(w, "refused", model, run,
			   json_pack("{s:s, s:s, s:I, s:s, s:s}", "triggers", trigger, "production",
				     version, "version", (json_int_t)ver, "verdict", verdict, "why",
				     "its verdict is not passed"),
			   out_json);
	} else if (!w->cv->building.auto_promote) {
		*out_kind = "candidate";
		rc = event(w, "candidate", model, run,
			   json_pack("{s:s, s:s, s:I, s:s, s:s}", "triggers", trigger, "production",
				     version, "version", (json_int_t)ver, "verdict", verdict, "next",
				     "building_models.auto_promote is false: promote it with "
				     "'sluice models promote'"),
			   out_json);
	} else {
		char why[256], vtext[24], *rec = NULL;
		sl_move_opts mo = {.reason = why, .who = w->who};
		snprintf(why, sizeof why, "%s: retrained by run %.12s", reason ? reason : trigger,
			 run);
		snprintf(vtext, sizeof vtext, "%lld", (long long)ver);
		int prc = sl_model_promote(w->p, model, vtext, w->alias, &mo, &rec);
		*out_kind = prc == 0 ? "promoted" : prc == SL_EGATE ? "refused" : "failed";
		if (prc == 0)
			rc = event(w, "promoted", model, run,
				   json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "triggers", trigger,
					     "from", version, "to", (json_int_t)ver, "alias", w->alias,
					     "verdict", verdict, "reason", why),
				   out_json);
		else
			rc = event(w, prc == SL_EGATE ? "refused" : "failed", model, run,
				   json_pack("{s:s, s:s, s:I, s:s}", "triggers", trigger, "production",
					     version, "version", (json_int_t)ver, "error",
					     sl_project_errmsg(w->p)),
				   out_json);
		sl_free(rec);
	}
	store_mon_claim_note(w->p->st, model, CLAIM_RETRAIN, w->owner, NULL);
	return rc;
}

/* ---- one evaluation --------------------------------------------------------------------- */

/* The cadence's (or a schedule's) state: due since the last look? The look is recorded. */
static int cron_look(watcher *w, const char *model, const char *key, const cron_expr *e,
		     int64_t now_ms, bool *out_due, int64_t *out_at)
{
	store_mon_state st;
	int rc = store_mon_state_get(w->p->st, model, key, &st);

	*out_due = false;
	if (rc)
		return rc;
	*out_due = mon_cron_due(e, st.found ? st.updated_ms / 1000 : 0, now_ms / 1000, out_at);
	st.found = true;
	st.updated_ms = now_ms;
	if (*out_due)
		st.fired++;
	return store_mon_state_put(w->p->st, &st);
}

/*
 * A window the loop evaluated joins the model's recorded series (what
 * `sluice monitor report` charts), once: the same window looked at again
 * is not recorded twice.
 */
static int record_window(watcher *w, const char *model, const json_t *report, const char *window)
{
	store_mon_state st;
	int rc;

	if (!window)
		return 0;
	if ((rc = store_mon_state_get(w->p->st, model, "recorded", &st)) != 0 ||
	    (st.found && !strcmp(st.window, window)))
		return rc;
	if ((rc = mon_record(&w->env, report, NULL)) != 0)
		return rc;
	st.found = true;
	st.updated_ms = sl__now_ms();
	snprintf(st.window, sizeof st.window, "%s", window);
	return store_mon_state_put(w->p->st, &st);
}

static int evaluate_model(watcher *w, const char *model)
{
	store_model_ref ref;
	char version[24], wbuf[64], names[64];
	json_t *report = NULL, *evidence = NULL;
	mon_window win;
	store_mon_state drift, decay;
	unsigned fired = 0;
	int64_t now = sl__now_ms(), due_s = 0;
	bool due = false;
	int rc;

	rc = store_model_resolve(w->p->st, model, w->alias, &ref);
	if (rc) {
		char m[SL__ERRMSG_MAX];
		snprintf(m, sizeof m, "%s", sl_errmsg());
		return error_event(w, model, m);
	}
	snprintf(version, sizeof version, "%lld", (long long)ref.version);
	memset(&win, 0, sizeof win);
	win.version = version;
	rc = mon_report(&w->env, model, &win, &report);
	if (rc == SL_ENOENT) {
		report = NULL; /* no traffic yet for this version: only the cadence can fire */
		sl__err_clear();
	} else if (rc) {
		/*
		 * The window cannot be read (a bundle without a monitoring
		 * reference, say): recorded, and only the cadence can fire, since
		 * a retraining run is often what mends it.
		 */
		char m[SL__ERRMSG_MAX];
		snprintf(m, sizeof m, "%s", sl_errmsg());
		report = NULL;
		sl__err_clear();
		if ((rc = error_event(w, model, m)) != 0)
			return rc;
	} else if ((rc = error_clear(w, model)) != 0) {
		json_decref(report);
		return rc;
	}
	const char *window = report ? mon_window_key(report, wbuf, sizeof wbuf) : NULL;
	if (report && (rc = record_window(w, model, report, window)) != 0)
		goto out;
	if (report && (rc = alert_rules(w, model, report, window)) != 0)
		goto out;
	if (w->cv && w->cv->building.cadence.s && (w->cv->building.retrain_on & CANVAS_ON_CADENCE) &&
	    (rc = cron_look(w, model, "cadence", &w->cv->building.cron, now, &due, &due_s)) != 0)
		goto out;
	if ((rc = store_mon_state_get(w->p->st, model, "trigger:drift", &drift)) != 0 ||
	    (rc = store_mon_state_get(w->p->st, model, "trigger:decay", &decay)) != 0)
		goto out;
	mon_trigger_in in = {.retrain_on = w->cv ? w->cv->building.retrain_on : 0,
			     .report = report,
			     .window = window,
			     .version = version,
			     .cadence_due = due,
			     .cadence = w->cv ? w->cv->building.cadence.s : NULL,
			     .due_s = due_s};
	if (w->cv && w->cv->offline.metric.s && w->cv->offline.min.given) {
		in.metric = w->cv->offline.metric.s;
		in.direction = w->cv->offline.info ? w->cv->offline.info->direction : 1;
		in.min = w->cv->offline.min.v;
		in.has_min = true;
	}
	if ((rc = mon_triggers(&in, now, &drift, &decay, &fired, &evidence)) != 0)
		goto out;
	if ((rc = store_mon_state_put(w->p->st, &drift)) != 0 ||
	    (rc = store_mon_state_put(w->p->st, &decay)) != 0)
		goto out;
	if (!fired)
		goto out;
	mon_trigger_names(fired, names, sizeof names);
	rc = event(w, "trigger", model, NULL,
		   json_pack("{s:s, s:s, s:O}", "triggers", names, "production", version, "evidence",
			     evidence),
		   NULL);
	if (rc == 0) {
		const char *kind = "failed";
		rc = retrain(w, model, names, NULL, report, version, ref.bundle, NULL, &kind);
		if (rc == SL_EBUSY) {
			sl__err_clear();
			rc = 0;
		}
		/*
		 * A run that could not judge, or had nothing new to learn from
		 * (the same window's data), is tried again on a newer window
		 * (rules.h, 2).
		 */
		if (rc == 0 && (!strcmp(kind, "failed") || !strcmp(kind, "unchanged"))) {
			if (fired & CANVAS_ON_DRIFT) {
				mon_trigger_retry(&drift);
				rc = store_mon_state_put(w->p->st, &drift);
			}
			if (rc == 0 && (fired & CANVAS_ON_DECAY)) {
				mon_trigger_retry(&decay);
				rc = store_mon_state_put(w->p->st, &decay);
			}
		}
	}
out:
	json_decref(evidence);
	json_decref(report);
	return rc;
}

/* sluice.yaml's schedules that came due: each runs its pipeline (recorded as "schedule"). */
static int run_schedules(watcher *w)
{
	int64_t now = sl__now_ms();
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < w->p->set.n_schedules; i++) {
		const api_schedule *s = &w->p->set.schedules[i];
		char key[STORE_MON_KEY_MAX], *run_id = NULL, when[40];
		int64_t at = 0;
		bool due = false;
		sl_run_opts ro;

		snprintf(key, sizeof key, "schedule:%s", s->name);
		if ((rc = cron_look(w, "", key, &s->cron, now, &due, &at)) != 0 || !due)
			continue;
		memset(&ro, 0, sizeof ro);
		ro.jobs = w->o->jobs;
		ro.params = s->params;
		ro.n_params = s->n_params;
		ro.cancel_token = w->o->cancel;
		int run_rc = sl_run(w->p, s->pipeline, &ro, &run_id);
		sl__fmt_time(at * 1000, when, sizeof when);
		rc = event(w, "schedule", NULL, run_id,
			   json_pack("{s:s, s:s, s:s, s:s, s:s?}", "schedule", s->name, "cron",
				     s->cron_text, "due", when, "status",
				     run_rc == 0 ? "completed" : "failed", "error",
				     run_rc ? sl_project_errmsg(w->p) : NULL),
			   NULL);
		sl_free(run_id);
		if (run_rc == SL_ECANCEL)
			rc = SL_ECANCEL;
	}
	return rc;
}

/* ---- setting up ---------------------------------------------------------------------------- */

static int watcher_open(sl_project *p, const sl_watch_opts *o, watcher *w)
{
	char host[64];
	int rc;

	memset(w, 0, sizeof *w);
	w->p = p;
	w->o = o;
	w->alias = o->alias && *o->alias ? o->alias : "production";
	w->who = o->who && *o->who ? o->who : WATCH_WHO;
	if (o->alias && (rc = store_check_alias_name(o->alias)) != 0)
		return rc;
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	snprintf(w->owner, sizeof w->owner, "%s pid %ld on %s", w->who, (long)getpid(), host);
	w->interval = o->interval_s ? o->interval_s
		      : p->set.mon_interval_s ? p->set.mon_interval_s : WATCH_DEFAULT_INTERVAL;
	if ((rc = api_monitor_env(p, &w->env, &w->cv)) != 0)
		return rc;
	w->log_dir = o->log_dir ? sl__strdup(o->log_dir) : sl__path_join(p->state, "inference");
	if (!w->log_dir)
		return sl__oom();
	w->env.log_dir = w->log_dir;
	w->env.publish = true; /* a server's drift gauges take the loop's reports */
	return 0;
}

static void watcher_close(watcher *w)
{
	canvas_free(w->cv);
	w->cv = NULL;
	sl__free(w->log_dir);
	w->log_dir = NULL;
}

/* The models to watch: the options', else every model with the alias. */
static int watched(watcher *w, json_t **out)
{
	json_t *all = NULL, *m;
	size_t i;
	int rc;

	*out = json_array();
	if (!*out)
		return sl__oom();
	if (w->o->n_models) {
		for (i = 0; i < w->o->n_models; i++) {
			if ((rc = store_check_model_name(w->o->models[i])) != 0)
				return rc;
			if (sl__json_push(*out, json_string(w->o->models[i])))
				return sl__oom();
		}
		return 0;
	}
	if ((rc = store_models_json(w->p->st, &all)) != 0)
		return rc;
	json_array_foreach(all, i, m) {
		if (json_object_get(json_object_get(m, "aliases"), w->alias) &&
		    sl__json_push(*out, json_incref(json_object_get(m, "name")))) {
			json_decref(all);
			return sl__oom();
		}
	}
	json_decref(all);
	return 0;
}

static bool cancelled(const sl_watch_opts *o)
{
	return o->cancel && sl_cancel_requested(o->cancel);
}

int sl_monitor_watch(sl_project *p, const sl_watch_opts *o)
{
	sl_watch_opts none;
	watcher w;
	unsigned interval;
	int rc;

	if (!p)
		return sl__err(SL_EINVAL, "sl_monitor_watch: project is NULL");
	if (!o) {
		sl_watch_opts_init(&none);
		o = &none;
	}
	if ((rc = watcher_open(p, o, &w)) != 0) {
		watcher_close(&w);
		return api_fail(p, rc);
	}
	interval = w.interval;
	for (;;) {
		json_t *models = NULL, *m;
		size_t i;
		double t0 = sl__mono_sec();

		rc = watched(&w, &models);
		json_array_foreach(models, i, m) {
			if (rc || cancelled(o))
				break;
			rc = retry_deliveries(&w, json_string_value(m));
			if (rc == 0)
				rc = evaluate_model(&w, json_string_value(m));
		}
		json_decref(models);
		if (rc == 0 && !cancelled(o))
			rc = run_schedules(&w);
		if (rc == 0 && cancelled(o))
			rc = sl__err(SL_ECANCEL, "the monitor was stopped");
		if (rc || o->once)
			break;
		/* Sleep out the interval, waking at once on cancellation. */
		double left = interval - (sl__mono_sec() - t0);
		if (left > 0) {
			struct pollfd pf = {.fd = o->cancel ? sl_cancel_fd(o->cancel) : -1,
					    .events = POLLIN};
			poll(&pf, pf.fd >= 0 ? 1 : 0, (int)(left * 1000));
		}
		if (cancelled(o)) {
			rc = sl__err(SL_ECANCEL, "the monitor was stopped");
			break;
		}
	}
	watcher_close(&w);
	return api_fail(p, rc);
}

int sl_monitor_retrain(sl_project *p, const char *model, const char *reason,
		       const sl_watch_opts *o, char **out_json)
{
	sl_watch_opts none;
	store_model_ref ref;
	watcher w;
	json_t *report = NULL;
	char version[24], *text = NULL, why[512];
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !model)
		return sl__err(SL_EINVAL, "sl_monitor_retrain: bad arguments");
	if (!o) {
		sl_watch_opts_init(&none);
		o = &none;
	}
	if ((rc = watcher_open(p, o, &w)) != 0 || (rc = store_check_model_name(model)) != 0 ||
	    (rc = store_model_resolve(p->st, model, w.alias, &ref)) != 0) {
		watcher_close(&w);
		return api_fail(p, rc);
	}
	snprintf(version, sizeof version, "%lld", (long long)ref.version);
	mon_window win = {.version = version};
	/* The window's bounds go to the pipeline when there is traffic. */
	if (mon_report(&w.env, model, &win, &report) != 0) {
		report = NULL;
		sl__err_clear();
	}
	snprintf(why, sizeof why, "manual%s%s", reason && *reason ? ": " : "",
		 reason ? reason : "");
	rc = event(&w, "trigger", model, NULL,
		   json_pack("{s:s, s:s, s:{s:s}}", "triggers", "manual", "production", version,
			     "evidence", "manual", why),
		   NULL);
	const char *kind = NULL;
	if (rc == 0)
		rc = retrain(&w, model, "manual", why, report, version, ref.bundle, &text, &kind);
	json_decref(report);
	watcher_close(&w);
	if (rc == SL_EBUSY)
		rc = sl__err(SL_EBUSY, "a retraining run of model '%s' is already in flight", model);
	if (rc == 0 && out_json)
		*out_json = text;
	else
		sl__free(text);
	return api_fail(p, rc);
}

int sl_monitor_events(sl_project *p, const sl_events_filter *f, char **out_json)
{
	store_mon_filter sf;
	json_t *j = NULL;
	int64_t us;
	int rc;

	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_monitor_events: bad arguments");
	*out_json = NULL;
	memset(&sf, 0, sizeof sf);
	if (f) {
		sf.model = f->model;
		sf.kind = f->kind;
		sf.run = f->run;
		sf.limit = f->limit;
		if (f->since) {
			if (!ds_parse_timestamp(f->since, strlen(f->since), &us))
				return api_fail(p, sl__err(SL_EINVAL,
							   "since '%s' is not an ISO 8601 time "
							   "(2026-11-30 or 2026-11-30T12:00:00Z)",
							   f->since));
			sf.since_ms = us / 1000;
		}
	}
	rc = store_mon_events_json(p->st, &sf, &j);
	if (rc == 0)
		rc = api_dump(j, out_json);
	return api_fail(p, rc);
}
