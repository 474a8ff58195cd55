/*
 * Who may use the UI's API, and the actions it offers (ui.h): every read
 * asks the server's access policy (a token whose role may read, unless
 * --no-auth), every action the permission of its own (access.h, the one
 * role table), and every action is written to the audit log whatever its
 * outcome, refusals included, as the server's own writes are.
 *
 *   POST /api/models/NAME/promote   {"version", "alias", "reason"?, "force"?}
 *                                   promote, or promote.production for the
 *                                   production alias; sl_model_promote
 *   POST /api/models/NAME/rollback  {"alias", "reason"?}   rollback; sl_model_rollback
 *   POST /api/models/NAME/tag       {"version", "key", "value" | null}   tag
 *   POST /api/events/SEQ/ack        {"note"?}   alert.ack; sl_monitor_ack: the
 *                                   alert event SEQ acknowledged by the user
 *   POST /api/runs                  {"pipeline": FILE, "params"?: {k: v}}   run:
 *                                   starts the run on a thread of its own and
 *                                   answers {"run": ID} once it exists
 *
 * Invariants:
 *  1. An action is checked (token, role) before anything is read from its
 *     body beyond what the check needs (the alias of a promotion), and
 *     audited after its outcome is known; an action whose audit record
 *     cannot be written answers 503 after the fact, as the server's do.
 *  2. A POST must say Content-Type: application/json: a page of another
 *     origin cannot send that without the browser asking first (CORS), and
 *     this server never says yes, so a browser is never used to act on a
 *     server on loopback with --no-auth.
 *  3. A pipeline run is started only from a file inside the project.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "serve/server.h"
#include "serve/ui_int.h"

#define RUN_START_WAIT_S 30

static const char *authorization(const ui_req *rq)
{
	return MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
}

/*
 * The token check for perm; true when the request may go on (rq->user is
 * who it is, or has an empty name when the policy asks no token).
 */
static bool gate(sl_server *s, ui_req *rq, access_perm perm)
{
	char msg[512];
	int code;

	memset(&rq->user, 0, sizeof rq->user);
	if (!access_policy_asks(&s->pol, ACCESS_PROTECTED))
		return true;
	code = access_gate(s->acc, authorization(rq), perm, &rq->user, msg, sizeof msg);
	if (code == 0)
		return true;
	ui_error(rq, code, "%s", msg);
	return false;
}

bool ui_authorized(sl_server *s, ui_req *rq)
{
	return gate(s, rq, PERM_READ);
}

/* ---- what an action asks, and its record ------------------------------------------------ */

typedef struct action {
	const char *name;   /* the audit's action: "models.promote" */
	char target[256];   /* "spam@production" */
	json_t *body;
} action;

/* Writes the audit record of a finished action (invariant 1). */
static void audit(sl_server *s, ui_req *rq, const action *a)
{
	char request[ACCESS_REQUEST_MAX];
	const char *detail = NULL;
	access_audit_rec r;
	int code = rq->code;

	snprintf(request, sizeof request, "POST %s %.*s", rq->url, (int)rq->body_len, rq->body);
	if (code >= 400 && rq->resp->data)
		detail = rq->resp->data; /* the {"error": ...} answer */
	r = (access_audit_rec){
		.who = rq->user.name[0] ? rq->user.name : NULL,
		.role = rq->user.name[0] ? access_role_name(rq->user.role) : NULL,
		.via = "ui",
		.action = a->name,
		.target = a->target[0] ? a->target : NULL,
		.request = request,
		.outcome = code < 300 ? "ok" : code == 401 ? "unauthenticated" : code == 403 ? "denied"
									 : "failed",
		.status = code,
		.detail = detail,
	};
	if (access_audit(s->acc, &r) && code < 300)
		ui_error(rq, 503, "%s was done, but its audit record could not be written: %s",
			 a->name, sl_errmsg());
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A version given as a number or as text ("3", "staging", "latest"), into buf. */
static const char *jversion(const json_t *o, char *buf, size_t size)
{
	const json_t *v = json_object_get(o, "version");

	if (json_is_integer(v)) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return json_string_value(v);
}

/* ---- models ---------------------------------------------------------------------------------- */

static int h_promote(sl_server *s, serve_worker *w, ui_req *rq, action *a, const char *model)
{
	char vbuf[32];
	const char *alias = jstr(a->body, "alias"), *version = jversion(a->body, vbuf, sizeof vbuf);
	sl_move_opts mo = {.reason = jstr(a->body, "reason"),
			   .force = json_is_true(json_object_get(a->body, "force"))};
	sl_project *p;
	char *text = NULL;
	int rc;

	snprintf(a->target, sizeof a->target, "%s@%s", model, alias ? alias : "?");
	if (!gate(s, rq, access_promote_perm(alias)))
		return rq->code;
	if (!alias || !*alias || !version || !*version)
		return ui_error(rq, 400, "a promotion names the version and the alias: "
					 "{\"version\": 3, \"alias\": \"production\"}");
	if (mo.reason && !*mo.reason)
		mo.reason = NULL;
	mo.who = rq->user.name[0] ? rq->user.name : NULL;
	if (!(p = ui_project(s, w, rq)))
		return rq->code;
	rc = sl_model_promote(p, model, version, alias, &mo, &text);
	return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
}

static int h_rollback(sl_server *s, serve_worker *w, ui_req *rq, action *a, const char *model)
{
	const char *alias = jstr(a->body, "alias");
	sl_move_opts mo = {.reason = jstr(a->body, "reason")};
	sl_project *p;
	char *text = NULL;
	int rc;

	snprintf(a->target, sizeof a->target, "%s@%s", model, alias ? alias : "?");
	if (!gate(s, rq, PERM_ROLLBACK))
		return rq->code;
	if (!alias || !*alias)
		return ui_error(rq, 400, "a rollback names the alias: {\"alias\": \"production\"}");
	if (mo.reason && !*mo.reason)
		mo.reason = NULL;
	mo.who = rq->user.name[0] ? rq->user.name : NULL;
	if (!(p = ui_project(s, w, rq)))
		return rq->code;
	rc = sl_model_rollback(p, model, alias, &mo, &text);
	return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
}

static int h_tag(sl_server *s, serve_worker *w, ui_req *rq, action *a, const char *model)
{
	char vbuf[32], ref[256];
	const char *version = jversion(a->body, vbuf, sizeof vbuf), *key = jstr(a->body, "key");
	const json_t *value = json_object_get(a->body, "value");
	sl_project *p;
	int rc;

	snprintf(a->target, sizeof a->target, "%s@%s", model, version ? version : "?");
	if (!gate(s, rq, PERM_TAG))
		return rq->code;
	if (!version || !*version || !key || !*key || (value && !json_is_string(value) &&
						       !json_is_null(value)))
		return ui_error(rq, 400, "a tag names the version, the key and a text value (null "
					 "removes it): {\"version\": 3, \"key\": \"k\", \"value\": \"v\"}");
	if (!(p = ui_project(s, w, rq)))
		return rq->code;
	snprintf(ref, sizeof ref, "%s@%s", model, version);
	rc = sl_model_tag(p, ref, key, json_string_value(value));
	if (rc)
		return ui_api_fail(rq, p, rc);
	serve_lit(rq->resp, "{\"tagged\":true}");
	rq->code = 200;
	return 200;
}

/* ---- alerts ----------------------------------------------------------------------------------- */

static int h_ack(sl_server *s, serve_worker *w, ui_req *rq, action *a, const char *seq)
{
	const json_t *note = json_object_get(a->body, "note");
	sl_project *p;
	char *text = NULL, *end;
	long long n;
	int rc;

	snprintf(a->target, sizeof a->target, "event:%s", seq);
	if (!gate(s, rq, PERM_ALERT_ACK))
		return rq->code;
	n = strtoll(seq, &end, 10);
	if (*end || n < 1 || seq[0] == '+' || seq[0] == '-')
		return ui_error(rq, 404, "no event '%s': events are numbered from 1", seq);
	if (note && !json_is_string(note) && !json_is_null(note))
		return ui_error(rq, 400, "a note is text: {\"note\": \"looking into it\"}");
	if (!(p = ui_project(s, w, rq)))
		return rq->code;
	/* Without a token (--no-auth) the acknowledgement is the server's OS user's. */
	rc = sl_monitor_ack(p, n, rq->user.name[0] ? rq->user.name : NULL, json_string_value(note),
			    &text);
	return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
}

/* ---- starting a run ------------------------------------------------------------------------------ */

/*
 * A run started from the UI: a thread of its own drives it to the end; the
 * request waits only until the run exists (its id) or the start failed.
 * Shared by the two until both let go (refs).
 */
typedef struct runjob {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool started, done;
	int rc;
	char run_id[64];
	char msg[1024];
	char *root, *file;
	char **params;
	size_t n_params;
} runjob;

static void job_release(runjob *j)
{
	bool last;

	pthread_mutex_lock(&j->mu);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	for (size_t i = 0; i < j->n_params; i++)
		sl__free(j->params[i]);
	sl__free(j->params);
	sl__free(j->root);
	sl__free(j->file);
	sl__free(j);
}

static void job_event(void *ud, const sl_event *ev)
{
	runjob *j = ud;

	if (ev->kind != SL_EVENT_RUN_START || !ev->run_id)
		return;
	pthread_mutex_lock(&j->mu);
	snprintf(j->run_id, sizeof j->run_id, "%s", ev->run_id);
	j->started = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

static void *job_main(void *arg)
{
	runjob *j = arg;
	sl_run_opts o = {.params = (const char *const *)j->params, .n_params = j->n_params,
			 .on_event = job_event, .event_ud = j};
	sl_project *p = NULL;
	char *id = NULL;
	int rc = sl_project_open(j->root, &p);

	if (rc == 0)
		rc = sl_run(p, j->file, &o, &id);
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	if (rc && !j->started)
		snprintf(j->msg, sizeof j->msg, "%s", p && *sl_project_errmsg(p) ? sl_project_errmsg(p)
										 : sl_errmsg());
	j->done = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	sl_free(id);
	sl_project_close(p);
	job_release(j);
	return NULL;
}

/* The run's parameters: {"k": v} as "k=v" texts (strings as they are, other values as JSON). */
static int job_params(runjob *j, const json_t *params)
{
	const char *k;
	json_t *v;

	if (!params || json_is_null(params))
		return 0;
	if (!json_is_object(params))
		return SL_EINVAL;
	if (!(j->params = sl__calloc(json_object_size(params) + 1, sizeof *j->params)))
		return SL_ENOMEM;
	json_object_foreach((json_t *)params, k, v) {
		char *val = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		const char *text = json_is_string(v) ? json_string_value(v) : val;
		sl__buf b;
		sl__buf_init(&b, 0);
		if (!text || sl__buf_printf(&b, "%s=%s", k, text)) {
			free(val);
			sl__buf_free(&b);
			return SL_ENOMEM;
		}
		free(val);
		j->params[j->n_params++] = sl__buf_detach(&b);
	}
	return 0;
}

static int h_run(sl_server *s, ui_req *rq, action *a)
{
	const char *file = jstr(a->body, "pipeline");
	struct timespec until;
	pthread_attr_t attr;
	pthread_t t;
	runjob *j;
	int rc;

	snprintf(a->target, sizeof a->target, "%s", file ? file : "?");
	if (!gate(s, rq, PERM_RUN))
		return rq->code;
	if (!file || !*file || file[0] == '/')
		return ui_error(rq, 400, "name the pipeline file, relative to the project: "
					 "{\"pipeline\": \"train.yaml\"}");
	if (!(j = sl__calloc(1, sizeof *j)))
		return ui_error(rq, 500, "out of memory");
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->refs = 1;
	j->root = sl__strdup(s->ui_root);
	j->file = sl__path_join(s->ui_root, file);
	rc = j->root && j->file ? job_params(j, json_object_get(a->body, "params")) : SL_ENOMEM;
	if (rc) {
		job_release(j);
		return rc == SL_EINVAL ? ui_error(rq, 400, "\"params\" is an object: {\"seed\": 7}")
				       : ui_error(rq, 500, "out of memory");
	}
	/* Invariant 3: the real file, links resolved, lies in the project. */
	if (!ui_inside(s->ui_root, j->file)) {
		job_release(j);
		return ui_error(rq, 404, "no pipeline file '%s' in the project", file);
	}
	j->refs = 2;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, job_main, j);
	pthread_attr_destroy(&attr);
	if (rc) {
		j->refs = 1;
		job_release(j);
		return ui_error(rq, 503, "cannot start a thread for the run");
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += RUN_START_WAIT_S;
	pthread_mutex_lock(&j->mu);
	while (!j->started && !j->done)
		if (pthread_cond_timedwait(&j->cv, &j->mu, &until))
			break;
	if (j->started) {
		serve_lit(rq->resp, "{\"run\":");
		serve_put_jstr(rq->resp, j->run_id, strlen(j->run_id));
		serve_lit(rq->resp, "}");
		rq->code = 200;
	} else if (j->done) {
		ui_error(rq, ui_status_of(j->rc), "%s", j->msg);
	} else {
		ui_error(rq, 503, "the run did not start within %d s", RUN_START_WAIT_S);
	}
	pthread_mutex_unlock(&j->mu);
	job_release(j);
	return rq->code;
}

/* ---- routing --------------------------------------------------------------------------------- */

static bool json_body(ui_req *rq)
{
	const char *ct = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = ct ? strcspn(ct, ";") : 0;

	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == 16 && !strncasecmp(ct, "application/json", 16);
}

int ui_act(sl_server *s, serve_worker *w, ui_req *rq, const char *top, const char *rest)
{
	action a = {0};
	char model[160], verb[16];
	json_error_t e;

	if (!strcmp(top, "runs") && !*rest) {
		a.name = "runs.start";
	} else if (!strcmp(top, "events") && ui_segment(&rest, model, sizeof model) &&
		   ui_segment(&rest, verb, sizeof verb) && !*rest && !strcmp(verb, "ack")) {
		a.name = "alerts.ack";
	} else if (!strcmp(top, "models") && ui_segment(&rest, model, sizeof model) &&
		   ui_segment(&rest, verb, sizeof verb) && !*rest &&
		   (!strcmp(verb, "promote") || !strcmp(verb, "rollback") || !strcmp(verb, "tag"))) {
		a.name = !strcmp(verb, "promote") ? "models.promote"
			 : !strcmp(verb, "rollback") ? "models.rollback"
						     : "models.tag";
		snprintf(a.target, sizeof a.target, "%s", model);
	} else {
		rq->allow = "GET, HEAD";
		return ui_error(rq, 405, "%s takes GET, not POST", rq->url);
	}
	if (!json_body(rq)) {
		/* Invariant 2. */
		if (gate(s, rq, PERM_READ))
			ui_error(rq, 415, "send the action as Content-Type: application/json");
	} else if (!(a.body = json_loadb(rq->body, rq->body_len, 0, &e)) || !json_is_object(a.body)) {
		if (gate(s, rq, PERM_READ))
			ui_error(rq, 400, "the body is not a JSON object: %s (line %d)",
				 a.body ? "another value" : e.text, e.line);
	} else if (!strcmp(a.name, "runs.start")) {
		h_run(s, rq, &a);
	} else if (!strcmp(a.name, "alerts.ack")) {
		h_ack(s, w, rq, &a, model);
	} else if (!strcmp(a.name, "models.promote")) {
		h_promote(s, w, rq, &a, model);
	} else if (!strcmp(a.name, "models.rollback")) {
		h_rollback(s, w, rq, &a, model);
	} else {
		h_tag(s, w, rq, &a, model);
	}
	audit(s, rq, &a);
	json_decref(a.body);
	return rq->code;
}

void ui_actions_json(sl_server *s, ui_req *rq)
{
	static const struct {
		const char *name;
		access_perm perm;
	} acts[] = {
		{"promote", PERM_PROMOTE},
		{"promote.production", PERM_PROMOTE_PRODUCTION},
		{"rollback", PERM_ROLLBACK},
		{"tag", PERM_TAG},
		{"run", PERM_RUN},
		{"ack", PERM_ALERT_ACK},
	};
	bool open = !access_policy_asks(&s->pol, ACCESS_PROTECTED), first = true;

	serve_lit(rq->resp, "[");
	for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
		if (!open && !access_check(rq->user.role, acts[i].perm))
			continue;
		if (!first)
			serve_lit(rq->resp, ",");
		serve_put_jstr(rq->resp, acts[i].name, strlen(acts[i].name));
		first = false;
	}
	serve_lit(rq->resp, "]");
}
