/*
 * The HTTP side of the inference server (server.h): libmicrohttpd in epoll
 * mode with one thread per core, an accepting thread that deals them the
 * connections, routing, the handlers, the request timeouts, and draining.
 *
 * A request, on the thread that owns its connection:
 *
 *   headers in    on_request 1st call: begin() - worker, request id,
 *                 clock; an announced body over the limit gets 413 at once
 *   body chunks   on_request with data: appended to the connection's
 *                 buffer (kept between requests), 413 past the limit
 *   body done     on_request last call: dispatch() - the handler parses,
 *                 scores and encodes into the connection's response buffer,
 *                 then finish() writes the log record (the response waits
 *                 for it), counts, queues the response, releases the model
 *   sent          on_completed: the connection is idle again
 *
 * The first call only records state and returns: queueing a response in it
 * would cost the connection its keep-alive (libmicrohttpd 0.9.75).
 *
 * Slow clients hold no thread (the event loop multiplexes them) but do hold
 * a connection slot, so a reaper thread closes, with shutdown(2) on the
 * socket (libmicrohttpd then closes it on its own thread), connections
 * idle past the header timeout - a request's headers must arrive within it
 * of the connection opening or the previous response - and requests whose
 * body or response transfer outlasts the request timeout. Connections are
 * listed under a lock that the close notification takes too, and that
 * notification comes before libmicrohttpd closes the descriptor, so the
 * reaper never shuts a descriptor that has been reused.
 *
 * Invariants:
 *  1. Every request to a POST endpoint gets a log record before its
 *     response is queued (unless logging is off); when the record cannot
 *     be written the response is replaced by a 503.
 *  2. A handler holds at most one version (its hazard) and releases it
 *     after the log record, which names the version's inputs, is built.
 *  3. No error a client can cause ends the server: every path answers.
 *  4. Every request to a write endpoint (feedback, reload) whose body
 *     arrived within the limit gets an audit record, refused ones included,
 *     before its response is queued; when a successful write's record
 *     cannot be written the answer is a 503.
 *     Which endpoints ask for a token is the access policy's (admitted).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "canvas/canvas.h"
#include "serve/server.h"

enum { C_IDLE, C_RECEIVING, C_PROCESSING, C_SENDING };

struct serve_conn {
	serve_conn *prev, *next;
	int fd;
	/* Monotonic milliseconds (mono_ms), so that a step of the wall clock
	 * reaps nothing; req_ms comes from the request's own clock reading. */
	atomic_llong phase_ms; /* opened, or its last response done */
	atomic_llong req_ms;   /* the current request's headers arrived */
	atomic_int state;
	bool reaped;
	/* The current request. */
	serve_worker *w;
	double t0;
	bool responded;
	bool refuse;        /* its body outgrew the limit */
	bool oom;           /* its body could not be stored */
	char id[SERVE_ID_LEN];
	sl__buf body, resp;
};

typedef enum rkind {
	R_NONE,
	R_LIVE,
	R_READY,
	R_SERVER_META,
	R_MODEL_META,
	R_MODEL_READY,
	R_INFER,
	R_FEEDBACK,
	R_LOAD,
	R_INVOCATIONS,
	R_PING,
	R_VERSION,
	R_METRICS
} rkind;

typedef struct route {
	rkind kind;
	const char *name, *version;
	size_t name_len, version_len;
} route;

/* What a handler decided, for finish(). */
typedef struct outcome {
	int code;
	const char *ctype;
	const char *endpoint;   /* logged under this name; NULL: not logged */
	const char *model;      /* for the log (the requested name when unknown) */
	const char *version;
	serve_vstats *st;       /* counted here; NULL: the no-model stats */
	serve_version *v;       /* the version that answered (its schema goes to the log) */
	const serve_sig *sig;   /* with batch and res: logged inputs and outputs */
	const serve_batch *batch;
	serve_result *res;
	const char *error;
	bool logged;            /* the handler wrote its own record (feedback) */
	const char *allow;      /* 405: the methods the endpoint takes */
	serve_model *recent_model; /* remember the request for feedback */
	ml_task task;
	bool ui;                /* a UI request: not counted, the UI's headers */
	const unsigned char *static_body; /* an embedded file, sent as it is */
	size_t static_len;
	const char *cache;      /* Cache-Control, or NULL */
	const char *csp;        /* a UI response's policy, NULL: UI_CSP */
	const char *audit;      /* a write: audited under this action (invariant 4) */
	const char *target;     /* ... naming this model */
	const char *url;
	access_user user;       /* who asked (name "" when no token was checked) */
} outcome;

static _Thread_local serve_worker *tls_worker;

static long long mono_ms(void)
{
	return (long long)(sl__mono_sec() * 1000);
}
static _Thread_local sl_server *tls_server;

/* ---- workers ------------------------------------------------------------------------ */

static serve_worker *worker(sl_server *s)
{
	serve_worker *w;
	int id;

	if (tls_worker && tls_server == s)
		return tls_worker;
	id = atomic_fetch_add(&s->n_workers, 1);
	if (id >= SERVE_MAX_WORKERS)
		return NULL;
	w = sl__calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->id = id;
	sl__buf_init(&w->rec, 0);
	if (serve_recent_init(w, s->o.feedback_window)) {
		serve_recent_free(w);
		sl__free(w);
		return NULL;
	}
	atomic_store(&s->workers[id], w);
	tls_worker = w;
	tls_server = s;
	return w;
}

serve_worker *serve_worker_self(sl_server *s)
{
	return worker(s);
}

static void workers_free(sl_server *s)
{
	int n = atomic_load(&s->n_workers);

	for (int i = 0; i < n && i < SERVE_MAX_WORKERS; i++) {
		serve_worker *w = atomic_load(&s->workers[i]);
		if (!w)
			continue;
		serve_arena_free(&w->arena);
		serve_colcache_free(&w->colmaps);
		sl__buf_free(&w->rec);
		serve_recent_free(w);
		ui_worker_free(w);
		sl__free(w);
		atomic_store(&s->workers[i], NULL);
	}
}

/* ---- routing ------------------------------------------------------------------------ */

/* The next path segment after *p (which points at '/'), advancing *p. */
static bool segment(const char **p, const char **seg, size_t *len)
{
	const char *s = *p, *e;

	if (*s != '/' || !s[1])
		return false;
	s++;
	e = strchr(s, '/');
	if (!e)
		e = s + strlen(s);
	*seg = s;
	*len = (size_t)(e - s);
	*p = e;
	return *len > 0;
}

static bool seg_is(const char *seg, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(seg, lit, len);
}

static void route_parse(const char *url, route *r)
{
	const char *p = url, *seg;
	size_t len;

	memset(r, 0, sizeof *r);
	/* Inference is nearly every request: past the exact names at once,
	 * and /v2/models/NAME/infer told in one look for its two slashes. */
	if (!strncmp(url, "/v2/models/", 11)) {
		const char *name = url + 11, *e = strchr(name, '/');
		if (e && e > name && !strcmp(e, "/infer")) {
			r->kind = R_INFER;
			r->name = name;
			r->name_len = (size_t)(e - name);
			return;
		}
		goto models;
	}
	if (!strcmp(url, "/invocations"))
		r->kind = R_INVOCATIONS;
	else if (!strcmp(url, "/ping") || !strcmp(url, "/health"))
		r->kind = R_PING;
	else if (!strcmp(url, "/version"))
		r->kind = R_VERSION;
	else if (!strcmp(url, "/metrics"))
		r->kind = R_METRICS;
	else if (!strcmp(url, "/v2") || !strcmp(url, "/v2/"))
		r->kind = R_SERVER_META;
	else if (!strcmp(url, "/v2/health/live"))
		r->kind = R_LIVE;
	else if (!strcmp(url, "/v2/health/ready"))
		r->kind = R_READY;
	if (r->kind || strncmp(url, "/v2/", 4))
		return;
	p = url + 3;
	if (!segment(&p, &seg, &len))
		return;
	if (seg_is(seg, len, "repository")) {
		/* /v2/repository/models/NAME/load */
		if (segment(&p, &seg, &len) && seg_is(seg, len, "models") &&
		    segment(&p, &r->name, &r->name_len) && segment(&p, &seg, &len) &&
		    seg_is(seg, len, "load") && !*p)
			r->kind = R_LOAD;
		return;
	}
	if (!seg_is(seg, len, "models"))
		return;
models:
	p = url + 10;
	if (!segment(&p, &r->name, &r->name_len))
		return;
	if (!*p) {
		r->kind = R_MODEL_META;
		return;
	}
	if (!segment(&p, &seg, &len))
		return;
	if (seg_is(seg, len, "versions")) {
		if (!segment(&p, &r->version, &r->version_len))
			return;
		if (!*p) {
			r->kind = R_MODEL_META;
			return;
		}
		if (!segment(&p, &seg, &len))
			return;
	}
	if (*p)
		return;
	if (seg_is(seg, len, "infer"))
		r->kind = R_INFER;
	else if (seg_is(seg, len, "ready"))
		r->kind = R_MODEL_READY;
	else if (seg_is(seg, len, "feedback") && !r->version)
		r->kind = R_FEEDBACK;
}

static bool is_post(rkind k)
{
	return k == R_INFER || k == R_FEEDBACK || k == R_LOAD || k == R_INVOCATIONS;
}

/* ---- responses ------------------------------------------------------------------------- */

/* An error body {"error": msg} into the connection's response; msg is copied into the arena for the log. */
static int fail(serve_conn *cn, serve_worker *w, outcome *o, int code, const char *fmt, ...)
	SL__PRINTF(5, 6);
static int fail(serve_conn *cn, serve_worker *w, outcome *o, int code, const char *fmt, ...)
{
	char msg[2048];
	char *copy;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	n = strlen(msg);
	sl__buf_reset(&cn->resp);
	serve_lit(&cn->resp, "{\"error\":");
	serve_put_jstr(&cn->resp, msg, n);
	serve_lit(&cn->resp, "}");
	copy = serve_arena_alloc(&w->arena, n + 1);
	if (copy)
		memcpy(copy, msg, n + 1);
	o->error = copy ? copy : "out of memory";
	o->code = code;
	o->ctype = "application/json";
	o->res = NULL;
	return code;
}

static void models_list(sl_server *s, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < s->n_models && n + 1 < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", s->models[i]->name);
}

static int no_model(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o, const route *r)
{
	char list[512];
	char *name = serve_arena_alloc(&w->arena, r->name_len + 1);

	if (name) {
		memcpy(name, r->name, r->name_len);
		name[r->name_len] = 0; /* the arena is not zeroed: an old request's bytes follow */
		o->model = name;
	}
	models_list(s, list, sizeof list);
	return fail(cn, w, o, 404, "no model '%.*s' is served here (models: %s)", (int)r->name_len,
		    r->name, list);
}

/*
 * The version a request names: the model's current one, or when the path
 * names a version, the served model of that name serving it. On success
 * the worker's hazard holds the returned version.
 */
static serve_version *pick(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o,
			   const route *r)
{
	serve_model *m = serve_find_model(s, r->name, r->name_len);
	serve_version *v = NULL;

	if (!m) {
		no_model(s, cn, w, o, r);
		return NULL;
	}
	o->model = m->name;
	for (size_t i = 0; i < s->n_models; i++) {
		serve_model *x = s->models[i];
		if (strcmp(x->name, m->name))
			continue;
		v = serve_acquire(w, x);
		if (v && (!r->version || (strlen(v->label) == r->version_len &&
					  !memcmp(v->label, r->version, r->version_len))))
			break;
		serve_release(w);
		v = NULL;
		if (!r->version)
			break;
	}
	if (!v) {
		serve_version *cur = serve_acquire(w, m);
		char *ver = serve_arena_alloc(&w->arena, r->version_len + 1);
		if (ver && r->version) {
			memcpy(ver, r->version, r->version_len);
			ver[r->version_len] = 0;
			o->version = ver;
		}
		if (!cur)
			fail(cn, w, o, 503, "model '%s' is not loaded", m->name);
		else
			fail(cn, w, o, 404, "model '%s' has no version '%.*s' loaded (it serves version %s)",
			     m->name, (int)r->version_len, r->version, cur->label);
		serve_release(w);
		return NULL;
	}
	o->version = v->label;
	o->st = v->st;
	o->v = v;
	return v;
}

/* The class of an endpoint for the token policy (access.h). */
static access_class route_class(rkind k)
{
	switch (k) {
	case R_LIVE:
	case R_READY:
	case R_PING:
		return ACCESS_HEALTH;
	case R_INFER:
	case R_INVOCATIONS:
	case R_SERVER_META:
	case R_MODEL_META:
	case R_MODEL_READY:
		return ACCESS_INFERENCE;
	default:
		return ACCESS_PROTECTED;
	}
}

static access_perm route_perm(rkind k)
{
	switch (k) {
	case R_FEEDBACK:
		return PERM_FEEDBACK;
	case R_LOAD:
		return PERM_RELOAD;
	default:
		return route_class(k) == ACCESS_INFERENCE ? PERM_INFER : PERM_READ;
	}
}

/*
 * The token check of a request, when the policy asks one for its endpoint:
 * true when it may go on (o->user is then who it is), else answered with
 * 401, 403 or 503 and a JSON error.
 */
static bool admitted(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o,
		     struct MHD_Connection *c, rkind k)
{
	char msg[512];
	int code;

	if (!access_policy_asks(&s->pol, route_class(k)))
		return true;
	code = access_gate(s->acc,
			   MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_AUTHORIZATION),
			   route_perm(k), &o->user, msg, sizeof msg);
	if (code == 0)
		return true;
	fail(cn, w, o, code, "%s", msg);
	return false;
}

/* ---- handlers ------------------------------------------------------------------------ */

static int h_infer(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o, const route *r)
{
	serve_version *v = pick(s, cn, w, o, r);
	v2_request *req;
	serve_result *res;
	bundle_row *row;
	int rc;

	if (!v)
		return o->code;
	o->sig = &v->sig;
	req = serve_arena_alloc(&w->arena, sizeof *req);
	res = serve_arena_alloc(&w->arena, sizeof *res);
	if (!req || !res)
		return fail(cn, w, o, 500, "out of memory");
	if ((rc = v2_parse(&v->sig, cn->body.data ? cn->body.data : "", cn->body.len, &w->arena, req)))
		return fail(cn, w, o, rc == SL_ENOMEM ? 500 : 400, "%s", sl_errmsg());
	o->batch = &req->batch;
	if (!(row = serve_row(v, w)))
		return fail(cn, w, o, 500, "%s", sl_errmsg());
	rc = serve_score(&v->sig, row, &req->batch, req->explain, &w->arena, res);
	if (rc == TRANSFORM_REJECTED)
		return fail(cn, w, o, 422, "row %zu was rejected by the model's transform (a filter)",
			    res->rejected);
	if (!rc && v->sig.fc_h >= 0)
		rc = serve_fc_check(&v->sig, req, res);
	if (rc)
		return fail(cn, w, o, rc == SL_EUNSUP || rc == SL_EINVAL ? 400 : 500, "%s", sl_errmsg());
	sl__buf_reset(&cn->resp);
	if (v2_encode(&v->sig, v->model->name, v->label, req, cn->id, res, &w->arena, &cn->resp))
		return fail(cn, w, o, 500, "%s", sl_errmsg());
	o->res = res;
	o->recent_model = v->model;
	o->task = v->sig.task;
	o->code = 200;
	return 200;
}

/* MLflow's content type rules: JSON or CSV, charset utf-8 if any, no other parameter. */
static int content_type(const char *ct, bool *csv, char *why, size_t size)
{
	const char *semi;
	size_t n;

	if (!ct) {
		snprintf(why, size, "no Content-Type: send application/json or text/csv");
		return -1;
	}
	semi = strchr(ct, ';');
	n = semi ? (size_t)(semi - ct) : strlen(ct);
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 16 && !strncasecmp(ct, "application/json", 16))
		*csv = false;
	else if (n == 8 && !strncasecmp(ct, "text/csv", 8))
		*csv = true;
	else {
		snprintf(why, size,
			 "unsupported Content-Type '%.*s': /invocations takes application/json or "
			 "text/csv",
			 (int)(n > 80 ? 80 : n), ct);
		return -1;
	}
	while (semi) {
		const char *p = semi + 1, *next = strchr(p, ';');
		size_t len = next ? (size_t)(next - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len >= 8 && !strncasecmp(p, "charset=", 8)) {
			const char *cs = p + 8;
			size_t cl = len - 8;
			if (cl >= 2 && cs[0] == '"' && cs[cl - 1] == '"') {
				cs++;
				cl -= 2;
			}
			if (!((cl == 5 && !strncasecmp(cs, "utf-8", 5)) ||
			      (cl == 4 && !strncasecmp(cs, "utf8", 4)))) {
				snprintf(why, size, "unsupported charset '%.*s': only UTF-8",
					 (int)(cl > 40 ? 40 : cl), cs);
				return -1;
			}
		} else if (len) {
			snprintf(why, size, "unrecognized Content-Type parameter '%.*s'",
				 (int)(len > 40 ? 40 : len), p);
			return -1;
		}
		semi = next;
	}
	return 0;
}

static int h_invocations(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o,
			 struct MHD_Connection *c)
{
	const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
	serve_version *v;
	serve_batch *b;
	serve_result *res;
	bundle_row *row;
	route r;
	char why[256];
	bool csv = false;
	int rc;

	memset(&r, 0, sizeof r);
	if (name) {
		r.name = name;
		r.name_len = strlen(name);
	} else if (s->n_models == 1) {
		r.name = s->models[0]->name;
		r.name_len = strlen(r.name);
	} else {
		char list[512];
		models_list(s, list, sizeof list);
		return fail(cn, w, o, 400,
			    "several models are served (%s): name one with /invocations?model=NAME", list);
	}
	if (content_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
			 &csv, why, sizeof why)) {
		serve_model *m = serve_find_model(s, r.name, r.name_len);
		o->model = m ? m->name : NULL;
		return fail(cn, w, o, 415, "%s", why);
	}
	if (!(v = pick(s, cn, w, o, &r)))
		return o->code;
	o->sig = &v->sig;
	b = serve_arena_alloc(&w->arena, sizeof *b);
	res = serve_arena_alloc(&w->arena, sizeof *res);
	if (!b || !res)
		return fail(cn, w, o, 500, "out of memory");
	rc = csv ? mlflow_parse_csv(&v->sig, cn->body.data ? cn->body.data : "", cn->body.len,
				    &w->arena, b)
		 : mlflow_parse_json(&v->sig, cn->body.data ? cn->body.data : "", cn->body.len,
				     &w->colmaps, &w->arena, b);
	if (rc)
		return fail(cn, w, o, rc == SL_ENOMEM ? 500 : 400, "%s", sl_errmsg());
	o->batch = b;
	if (!(row = serve_row(v, w)))
		return fail(cn, w, o, 500, "%s", sl_errmsg());
	rc = serve_score(&v->sig, row, b, false, &w->arena, res);
	if (rc == TRANSFORM_REJECTED)
		return fail(cn, w, o, 422, "row %zu was rejected by the model's transform (a filter)",
			    res->rejected);
	if (rc)
		return fail(cn, w, o, 500, "%s", sl_errmsg());
	sl__buf_reset(&cn->resp);
	if (mlflow_encode(&v->sig, res, &w->arena, &cn->resp))
		return fail(cn, w, o, 500, "%s", sl_errmsg());
	o->res = res;
	o->recent_model = v->model;
	o->task = v->sig.task;
	o->code = 200;
	return 200;
}

/* What the write endpoints share: the model. NULL when answered. */
static serve_model *write_target(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o,
				 const route *r)
{
	serve_model *m;

	if (!(m = serve_find_model(s, r->name, r->name_len))) {
		no_model(s, cn, w, o, r);
		return NULL;
	}
	o->model = m->name;
	return m;
}

static int h_feedback(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o, const route *r)
{
	serve_model *m = write_target(s, cn, w, o, r);
	int code;

	if (!m)
		return o->code;
	sl__buf_reset(&cn->resp);
	code = serve_feedback(s, w, m, cn->id, cn->body.data ? cn->body.data : "", cn->body.len,
			      cn->t0, &cn->resp, &o->logged);
	o->code = code;
	if (code != 200) {
		const char *msg = sl_errmsg();
		char *copy = serve_arena_alloc(&w->arena, strlen(msg) + 1);
		if (copy)
			strcpy(copy, msg);
		o->error = copy;
	}
	return code;
}

static int h_load(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o, const route *r)
{
	serve_model *m = write_target(s, cn, w, o, r);
	serve_version *v;
	char msg[600];
	int rc;

	if (!m)
		return o->code;
	rc = serve_reload_now(s, m, 60000, msg, sizeof msg);
	v = serve_acquire(w, m);
	o->version = v ? v->label : NULL;
	if (rc) {
		fail(cn, w, o, rc == SL_EBUSY ? 503 : 422, "%s; still serving version %s", msg,
		     v ? v->label : "(none)");
		serve_release(w);
		return o->code;
	}
	o->st = v->st;
	sl__buf_reset(&cn->resp);
	serve_lit(&cn->resp, "{\"name\":");
	serve_put_jstr(&cn->resp, m->name, strlen(m->name));
	serve_lit(&cn->resp, ",\"version\":");
	serve_put_jstr(&cn->resp, v->label, strlen(v->label));
	serve_lit(&cn->resp, "}");
	o->code = 200;
	return 200;
}

static int h_get(sl_server *s, serve_conn *cn, serve_worker *w, outcome *o, const route *r)
{
	bool ready = atomic_load(&s->ready) && !atomic_load(&s->draining);
	serve_version *v;

	sl__buf_reset(&cn->resp);
	o->code = 200;
	switch (r->kind) {
	case R_LIVE:
		serve_lit(&cn->resp, "{\"live\":true}");
		break;
	case R_READY:
		o->code = ready ? 200 : 503;
		if (ready)
			serve_lit(&cn->resp, "{\"ready\":true}");
		else
			serve_lit(&cn->resp, "{\"ready\":false}");
		break;
	case R_PING:
		o->code = ready ? 200 : 503;
		serve_lit(&cn->resp, "\n");
		break;
	case R_VERSION:
		o->ctype = "text/plain";
		serve_puts(&cn->resp, sl_version());
		serve_lit(&cn->resp, "\n");
		break;
	case R_SERVER_META:
		serve_lit(&cn->resp, "{\"name\":\"sluice\",\"version\":");
		serve_put_jstr(&cn->resp, sl_version(), strlen(sl_version()));
		serve_lit(&cn->resp, ",\"extensions\":[]}");
		break;
	case R_METRICS:
		o->ctype = "text/plain; version=0.0.4; charset=utf-8";
		if (serve_metrics(s, w, &cn->resp))
			return fail(cn, w, o, 500, "%s", sl_errmsg());
		break;
	case R_MODEL_META:
	case R_MODEL_READY:
		if (!(v = pick(s, cn, w, o, r)))
			return o->code;
		if (r->kind == R_MODEL_META) {
			serve_put(&cn->resp, v->meta, v->meta_len);
		} else {
			serve_lit(&cn->resp, "{\"name\":");
			serve_put_jstr(&cn->resp, v->model->name, strlen(v->model->name));
			serve_lit(&cn->resp, ",\"ready\":true}");
		}
		break;
	default:
		break;
	}
	return o->code;
}

/* ---- finishing a request -------------------------------------------------------------------- */

static enum MHD_Result queue(sl_server *s, serve_conn *cn, struct MHD_Connection *c, const outcome *o)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (o->static_body)
		r = MHD_create_response_from_buffer(o->static_len, (void *)o->static_body,
						    MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer(cn->resp.len,
						    cn->resp.data ? cn->resp.data : (void *)"",
						    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	if (o->ui) {
		MHD_add_response_header(r, "Content-Security-Policy", o->csp ? o->csp : UI_CSP);
		for (size_t i = 0; ui_headers[i]; i += 2)
			MHD_add_response_header(r, ui_headers[i], ui_headers[i + 1]);
	}
	if (o->cache)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, o->cache);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, o->ctype ? o->ctype : "application/json");
	MHD_add_response_header(r, "X-Request-Id", cn->id);
	if (atomic_load(&s->draining))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (o->code == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (o->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, o->allow);
	ret = MHD_queue_response(c, (unsigned)o->code, r);
	MHD_destroy_response(r);
	cn->responded = true;
	atomic_store(&cn->state, C_SENDING);
	return ret;
}

/* The audit record of a write (invariant 4): who, what, the request's start, how it ended. */
static int audit(sl_server *s, serve_conn *cn, const outcome *o)
{
	char req[640];
	size_t n = cn->body.len < 512 ? cn->body.len : 512;
	access_audit_rec r;

	snprintf(req, sizeof req, "POST %s %.*s", o->url ? o->url : "", (int)n,
		 cn->body.data ? cn->body.data : "");
	r = (access_audit_rec){
		.who = o->user.name[0] ? o->user.name : NULL,
		.role = o->user.name[0] ? access_role_name(o->user.role) : NULL,
		.via = "server",
		.action = o->audit,
		.target = o->target,
		.request = req,
		.outcome = o->code == 200   ? "ok"
			   : o->code == 401 ? "unauthenticated"
			   : o->code == 403 ? "denied"
					    : "failed",
		.status = o->code,
		.detail = o->code == 200 ? NULL : o->error,
	};
	return access_audit(s->acc, &r);
}

/* Logs (invariant 1), counts, queues, releases. */
static enum MHD_Result finish(sl_server *s, serve_conn *cn, serve_worker *w,
			      struct MHD_Connection *c, outcome *o)
{
	uint64_t lat = (uint64_t)((sl__mono_sec() - cn->t0) * 1e6);
	enum MHD_Result ret;

	if (o->audit && audit(s, cn, o) != 0 && o->code == 200) {
		atomic_fetch_add(&s->log_errors, 1);
		fail(cn, w, o, 503, "the audit log cannot be written, so the write is not "
				    "confirmed: %s",
		     sl_errmsg());
	}
	if (o->endpoint && !o->logged && s->log) {
		serve_logrec r = {.id = cn->id, .time_ms = sl__now_ms(), .model = o->model,
				  .version = o->version, .endpoint = o->endpoint, .status = o->code,
				  .latency_us = lat, .error = o->error, .body = cn->body.data,
				  .body_len = cn->body.len, .body_max = s->o.log_max_body};
		int rc;
		if (o->code == 200) {
			r.sig = o->sig;
			r.batch = o->batch;
			r.res = o->res;
		}
		sl__buf_reset(&w->rec);
		rc = serve_log_record(&r, &w->arena, &w->rec);
		if (rc == 0 && r.batch && o->v)
			rc = ilog_append_with(s->log, o->v->log_schema, o->v->log_schema_len,
					      &o->v->log_gen, w->rec.data, w->rec.len);
		else if (rc == 0)
			rc = ilog_append(s->log, w->rec.data, w->rec.len);
		if (rc < 0) {
			atomic_fetch_add(&s->log_errors, 1);
			fail(cn, w, o, 503, "the inference log cannot be written, so no answer is given: %s",
			     sl_errmsg());
		}
	}
	if (o->code == 200 && o->res && o->recent_model) {
		size_t mi = 0;
		while (mi < s->n_models && s->models[mi] != o->recent_model)
			mi++;
		serve_recent_add(w, cn->id, (uint16_t)mi, o->st, o->res, o->task);
	}
	if (!o->ui)
		serve_count(w, o->st ? o->st : s->nomodel, o->code, lat,
			    o->code == 200 ? o->res : NULL);
	ret = queue(s, cn, c, o);
	serve_release(w);
	return ret;
}

static enum MHD_Result dispatch(sl_server *s, serve_conn *cn, struct MHD_Connection *c,
				const char *url, const char *method)
{
	serve_worker *w = cn->w;
	bool post = method[0] == 'P' && !strcmp(method, "POST");
	bool get = !post && (!strcmp(method, "GET") || !strcmp(method, "HEAD"));
	outcome o;
	route r;

	memset(&o, 0, sizeof o);
	serve_arena_reset(&w->arena);
	if (s->ui_root && ui_owns(url)) {
		ui_req q = {.c = c, .method = method, .url = url,
			    .body = cn->body.data ? cn->body.data : "", .body_len = cn->body.len,
			    .resp = &cn->resp};
		sl__buf_reset(&cn->resp);
		ui_handle(s, w, &q);
		o.ui = true;
		o.code = q.code;
		o.ctype = q.ctype;
		o.allow = q.allow;
		o.cache = q.cache;
		o.csp = q.csp;
		o.static_body = q.static_body;
		o.static_len = q.static_len;
		return finish(s, cn, w, c, &o);
	}
	route_parse(url, &r);
	if (post)
		o.endpoint = r.kind == R_INVOCATIONS ? "invocations"
			     : r.kind == R_FEEDBACK  ? "feedback"
			     : r.kind == R_LOAD	     ? "load"
						     : "v2";
	if (post && (r.kind == R_FEEDBACK || r.kind == R_LOAD)) {
		char *t = serve_arena_alloc(&w->arena, r.name_len + 1);
		o.audit = r.kind == R_FEEDBACK ? "serve.feedback" : "serve.reload";
		o.url = url;
		if (t) {
			memcpy(t, r.name, r.name_len);
			t[r.name_len] = 0;
		}
		o.target = t;
	}
	if (r.kind == R_NONE) {
		fail(cn, w, &o, 404, "no endpoint %s %s (see the serving documentation)", method, url);
	} else if (is_post(r.kind) != post || (!post && !get)) {
		o.allow = is_post(r.kind) ? "POST" : "GET, HEAD";
		fail(cn, w, &o, 405, "%s takes %s, not %s", url, o.allow, method);
	} else if (!admitted(s, cn, w, &o, c, r.kind)) {
		/* Answered: 401, 403 or 503. */
	} else {
		switch (r.kind) {
		case R_INFER:
			h_infer(s, cn, w, &o, &r);
			break;
		case R_INVOCATIONS:
			h_invocations(s, cn, w, &o, c);
			break;
		case R_FEEDBACK:
			h_feedback(s, cn, w, &o, &r);
			break;
		case R_LOAD:
			h_load(s, cn, w, &o, &r);
			break;
		default:
			h_get(s, cn, w, &o, &r);
			break;
		}
	}
	return finish(s, cn, w, c, &o);
}

/* ---- libmicrohttpd callbacks ---------------------------------------------------------------- */

static bool good_id(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++) {
		char c = id[n];
		if (n >= SERVE_ID_LEN - 1 ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			return false;
	}
	return n > 0;
}

/* The two hex digits of each byte value. */
static const char hex_pairs[513] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

static void make_id(sl_server *s, serve_worker *w, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t seq = ++w->seq;
	char *p = out;

	/* INSTANCE-WWSSSSSSSSSS: unique across restarts (a random instance),
	 * across threads (the worker) and in time (its sequence, its low 40
	 * bits in hex, two digits a byte from a table built once). */
	memcpy(p, s->instance, 8);
	p += 8;
	*p++ = '-';
	*p++ = hex[(w->id >> 4) & 15];
	*p++ = hex[w->id & 15];
	for (int i = 8; i >= 0; i -= 2) {
		memcpy(p + i, hex_pairs + 2 * (seq & 255), 2);
		seq >>= 8;
	}
	p[10] = 0;
}

/* The two request headers every request's first call reads. */
typedef struct req_heads {
	const char *rid; /* X-Request-Id */
	const char *cl;  /* Content-Length */
} req_heads;

/*
 * a (n bytes, 8 to 16) equals lower, a name of letters and '-' in lower
 * case, in ASCII without regard to case, as libmicrohttpd compares header
 * names: its first and last eight bytes against lower's, with the case bit
 * (0x20) set where lower has a letter. Letters have 0x40 and '-' has not,
 * so lower shifted right by one and masked gives that bit at the letters'
 * places only: a letter's two cases match it, the dashes only a dash.
 */
static bool name_is(const char *a, const char *lower, size_t n)
{
	const uint64_t bit = 0x2020202020202020ULL;
	uint64_t x, y, u, v;

	memcpy(&x, a, 8);
	memcpy(&y, a + n - 8, 8);
	memcpy(&u, lower, 8);
	memcpy(&v, lower + n - 8, 8);
	return (x | ((u >> 1) & bit)) == u && (y | ((v >> 1) & bit)) == v;
}

/* One pass over the headers for both (the first of each name, as a
 * look-up by name finds it), instead of one look-up a name. */
static enum MHD_Result head_of(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
			       const char *value, size_t value_size)
{
	req_heads *h = cls;

	(void)kind;
	(void)value_size;
	if (key_size == 12 && !h->rid && name_is(key, "x-request-id", 12))
		h->rid = value;
	else if (key_size == 14 && !h->cl && name_is(key, "content-length", 14))
		h->cl = value;
	return MHD_YES;
}

static void begin(sl_server *s, serve_conn *cn, serve_worker *w, const char *rid)
{
	cn->w = w;
	cn->t0 = sl__mono_sec();
	cn->responded = false;
	cn->refuse = false;
	cn->oom = false;
	sl__buf_reset(&cn->body);
	atomic_fetch_add(&w->started, 1);
	atomic_store(&cn->req_ms, (long long)(cn->t0 * 1000));
	atomic_store(&cn->state, C_RECEIVING);
	if (rid && good_id(rid))
		snprintf(cn->id, sizeof cn->id, "%s", rid);
	else
		make_id(s, w, cn->id);
	serve_recent_prefetch(w, cn->id);
}

static enum MHD_Result too_large(sl_server *s, serve_conn *cn, struct MHD_Connection *c,
				 const char *url, const char *method)
{
	outcome o;
	route r;

	memset(&o, 0, sizeof o);
	route_parse(url, &r);
	o.endpoint = !strcmp(method, "POST") ? (r.kind == R_INVOCATIONS ? "invocations" : "v2") : NULL;
	if (s->ui_root && ui_owns(url)) {
		/* The UI's requests are not inference: no log record. */
		o.endpoint = NULL;
		o.ui = true;
	}
	serve_arena_reset(&cn->w->arena);
	fail(cn, cn->w, &o, 413, "the body is larger than the limit of %zu bytes (--max-body)",
	     s->o.max_body);
	/* The body is not kept: the record holds what arrived of it. */
	return finish(s, cn, cn->w, c, &o);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	sl_server *s = cls;
	serve_conn *cn = *con_cls;

	(void)version;
	if (!cn) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		serve_worker *w = worker(s);
		req_heads h = {NULL, NULL};
		const char *cl;
		cn = ci ? ci->socket_context : NULL;
		if (!cn || !w)
			return MHD_NO;
		*con_cls = cn;
		MHD_get_connection_values_n(c, MHD_HEADER_KIND, head_of, &h);
		begin(s, cn, w, h.rid);
		cl = h.cl;
		if (cl) {
			const char *end = cl;
			unsigned long long n = 0;
			/* Up to 19 digits (what libmicrohttpd lets through) read
			 * here, anything else as strtoull reads it. */
			while ((unsigned)(*end - '0') <= 9 && end - cl < 19)
				n = n * 10 + (unsigned)(*end++ - '0');
			if (*end)
				n = strtoull(cl, (char **)&end, 10);
			/* An announced body over the limit is refused before it is
			 * read (this first call is the one where libmicrohttpd
			 * takes a response and discards the body). */
			if (*end == 0 && n > s->o.max_body)
				return too_large(s, cn, c, url, method);
		}
		return MHD_YES;
	}
	if (cn->responded) {
		*size = 0;
		return MHD_YES;
	}
	if (*size) {
		/* A chunked body outgrowing the limit is read and dropped (no
		 * response can be queued while a body arrives) and refused at
		 * its end; the request timeout bounds how long that takes. */
		if (!cn->refuse && !cn->oom && cn->body.len + *size > s->o.max_body)
			cn->refuse = true;
		if (!cn->refuse && !cn->oom && sl__buf_append(&cn->body, data, *size))
			cn->oom = true;
		*size = 0;
		return MHD_YES;
	}
	if (cn->refuse)
		return too_large(s, cn, c, url, method);
	if (cn->oom) {
		outcome o;
		memset(&o, 0, sizeof o);
		o.endpoint = "v2";
		serve_arena_reset(&cn->w->arena);
		fail(cn, cn->w, &o, 503, "out of memory receiving the body");
		return finish(s, cn, cn->w, c, &o);
	}
	atomic_store(&cn->state, C_PROCESSING);
	return dispatch(s, cn, c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	serve_conn *cn = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!cn)
		return;
	if (cn->w)
		atomic_fetch_add(&cn->w->finished, 1);
	cn->w = NULL;
	*con_cls = NULL;
	/* A one-off huge request does not pin its buffers to the connection. */
	if (cn->body.cap > ((size_t)1 << 20))
		sl__buf_free(&cn->body);
	if (cn->resp.cap > ((size_t)1 << 20))
		sl__buf_free(&cn->resp);
	atomic_store(&cn->phase_ms, mono_ms());
	atomic_store(&cn->state, C_IDLE);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	sl_server *s = cls;
	serve_conn *cn;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		cn = sl__calloc(1, sizeof *cn);
		*socket_context = cn;
		if (!cn)
			return; /* on_request refuses the connection's requests */
		cn->fd = ci ? ci->connect_fd : -1;
		sl__buf_init(&cn->body, 0);
		sl__buf_init(&cn->resp, 0);
		atomic_store(&cn->phase_ms, mono_ms());
		pthread_mutex_lock(&s->conns_mu);
		cn->next = s->conns;
		if (s->conns)
			s->conns->prev = cn;
		s->conns = cn;
		pthread_mutex_unlock(&s->conns_mu);
		return;
	}
	atomic_fetch_sub(&s->n_open, 1);
	cn = *socket_context;
	if (!cn)
		return;
	pthread_mutex_lock(&s->conns_mu);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		s->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	pthread_mutex_unlock(&s->conns_mu);
	sl__buf_free(&cn->body);
	sl__buf_free(&cn->resp);
	sl__free(cn);
	*socket_context = NULL;
}

/* What libmicrohttpd's own unescaping does (%HH sequences decoded in
 * place), after a look for a '%': a path without one, nearly every
 * request's, is left as it is without the decoding pass. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	if (!strchr(s, '%'))
		return strlen(s);
	return MHD_http_unescape(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	sl_server *s = cls;
	char line[256];
	size_t n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	snprintf(s->mhd_err, sizeof s->mhd_err, "%s", line);
	if (atomic_load(&s->ready))
		serve_event(s, "http: %s", line);
}

/* ---- timeouts --------------------------------------------------------------------------------- */

static void *reaper_main(void *arg)
{
	sl_server *s = arg;
	long long header_ms = (long long)s->o.header_timeout_s * 1000;
	long long request_ms = (long long)s->o.request_timeout_s * 1000;

	sl__thread_name("sl-reaper");
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		long long now;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->mu);
		now = mono_ms();
		pthread_mutex_lock(&s->conns_mu);
		for (serve_conn *cn = s->conns; cn; cn = cn->next) {
			int st = atomic_load(&cn->state);
			bool late = st == C_IDLE ? now - atomic_load(&cn->phase_ms) > header_ms
				  : st == C_PROCESSING ? false
						       : now - atomic_load(&cn->req_ms) > request_ms;
			if (late && !cn->reaped && cn->fd >= 0) {
				shutdown(cn->fd, SHUT_RDWR);
				cn->reaped = true;
			}
		}
		pthread_mutex_unlock(&s->conns_mu);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- accepting ---------------------------------------------------------------------------------- */

/*
 * Connections are accepted by a thread of ours, not by libmicrohttpd's
 * request threads. In its pool the thread that wakes first accepts a
 * whole burst (up to ten at a time), so a client's few keep-alive
 * connections - a proxy's, a load generator's - often all landed on one
 * thread (8 of 8, 7 of 8, 32 of 32 were seen) and the other cores idled
 * for the connections' lives. Handed over with MHD_add_connection they are
 * dealt across the pool by descriptor (descriptor modulo threads), and
 * descriptors are handed out lowest first, so the threads get alike and a
 * closed connection's place goes to the next one. --max-connections is
 * counted here (below), not by the library.
 */
static void *acceptor_main(void *arg)
{
	sl_server *s = arg;
	double quiet_until = 0;

	sl__thread_name("sl-accept");
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof sa;
		int fd = accept4(s->listen_fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int e = errno;
			/* sl_server_stop shuts the socket: accept fails, EINVAL. */
			if (atomic_load(&s->draining))
				break;
			if (e == EINTR || e == EAGAIN || e == ECONNABORTED || e == EPROTO)
				continue;
			/* Out of descriptors or memory: the connection waits in the
			 * backlog; say so once a second, not once a try. */
			if (sl__mono_sec() >= quiet_until) {
				serve_event(s, "http: cannot accept a connection: %s", strerror(e));
				quiet_until = sl__mono_sec() + 1;
			}
			usleep(10000);
			continue;
		}
		/*
		 * --max-connections is kept here, not by the library: with
		 * connections handed to it, libmicrohttpd 0.9.75 that reached
		 * its own limit once stopped releasing closed ones, and served
		 * nothing more. Its limit is set past ours (serve_start) so
		 * that it never does. A connection counts from here to its
		 * close notification (on_connection).
		 */
		if (atomic_load(&s->n_open) >= s->o.max_connections) {
			close(fd);
			if (sl__mono_sec() >= quiet_until) {
				serve_event(s, "http: %u connections are open (--max-connections): "
					       "closing new ones", s->o.max_connections);
				quiet_until = sl__mono_sec() + 1;
			}
			continue;
		}
		atomic_fetch_add(&s->n_open, 1);
		/* Refused all the same (no memory): the library has closed it. */
		if (MHD_add_connection(s->mhd, fd, (struct sockaddr *)&sa, len) != MHD_YES)
			atomic_fetch_sub(&s->n_open, 1);
	}
	return NULL;
}

/* The listening socket for ai, or -1 (errno set). */
static int listen_on(const struct addrinfo *ai)
{
	int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* SO_REUSEADDR: a restart binds while the last run's connections are
	 * in TIME_WAIT. Not SO_REUSEPORT: a second server on the port is an
	 * error, not a silent half of its traffic. An IPv6 address is that
	 * address alone (IPv4 clients need an IPv4 --host). */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- start and stop ----------------------------------------------------------------------------- */

int serve_start(sl_server *s)
{
	struct addrinfo hints, *ai = NULL;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			 MHD_USE_NO_LISTEN_SOCKET;
	struct MHD_OptionItem opts[16];
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	size_t n = 0;
	char port[16];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof port, "%u", s->o.port);
	if ((rc = getaddrinfo(s->host, port, &hints, &ai)) || !ai)
		return sl__err(SL_EINVAL, "--host %s: %s", s->host, gai_strerror(rc));
	s->listen_fd = listen_on(ai);
	freeaddrinfo(ai);
	if (s->listen_fd < 0)
		return sl__err(SL_ESYS, "cannot listen on %s:%u: %s", s->host, s->o.port,
			       strerror(errno));
	if (getsockname(s->listen_fd, (struct sockaddr *)&bound, &blen))
		return sl__err(SL_ESYS, "cannot listen on %s:%u: %s", s->host, s->o.port,
			       strerror(errno));
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						    : ((struct sockaddr_in *)&bound)->sin_port);
	if (s->tls_cert_pem) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return sl__err(SL_EUNSUP, "this libmicrohttpd was built without TLS");
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key_pem};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert_pem};
	}
	if (s->o.threads > 1)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->o.threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	/* The library's limit, per thread a share of it, past what the
	 * acceptor lets in (acceptor_main): each thread could hold them all. */
	s->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(s->o.max_connections + 1) * (s->o.threads > 1 ? s->o.threads : 1),
		/* Each connection's pool holds its request line, headers and
		 * the response's headers, and libmicrohttpd clears all of it
		 * for every request (and the unused half of its read buffer
		 * when the headers are in): 32 KiB by default would be most of
		 * a small request's user time, 16 KiB was a tenth of it. The
		 * body does not need the room: it is handed over in chunks of
		 * whatever the buffer holds. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_CONN_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.request_timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!s->mhd)
		return sl__err(SL_ESYS, "cannot start the HTTP threads: %s",
			       s->mhd_err[0] ? s->mhd_err : strerror(errno));
	if (pthread_create(&s->acceptor, NULL, acceptor_main, s))
		return sl__err(SL_ESYS, "cannot start the accepting thread");
	s->acceptor_started = true;
	if (pthread_create(&s->reaper, NULL, reaper_main, s))
		return sl__err(SL_ESYS, "cannot start the timeout thread");
	if ((rc = serve_reloader_start(s))) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->reaper, NULL);
		return rc;
	}
	s->threads_started = true;
	if ((rc = serve_monitor_start(s)))
		return rc;
	atomic_store(&s->ready, true);
	return 0;
}

unsigned sl_server_port(const sl_server *s)
{
	return s ? s->port : 0;
}

static uint64_t in_flight(sl_server *s)
{
	uint64_t n = 0;
	int nw = atomic_load(&s->n_workers);

	for (int i = 0; i < nw && i < SERVE_MAX_WORKERS; i++) {
		serve_worker *w = atomic_load(&s->workers[i]);
		if (w)
			n += atomic_load(&w->started) - atomic_load(&w->finished);
	}
	return n;
}

int sl_server_stop(sl_server *s, unsigned timeout_ms)
{
	double deadline;
	int rc = 0;

	if (!s)
		return sl__err(SL_EINVAL, "sl_server_stop: NULL server");
	if (atomic_exchange(&s->stopped, true))
		return 0;
	atomic_store(&s->draining, true);
	atomic_store(&s->ready, false);
	/* Refuse new connections now rather than leave them in the backlog;
	 * the acceptor's accept fails on the shut socket and it ends. */
	if (s->listen_fd >= 0)
		shutdown(s->listen_fd, SHUT_RDWR);
	if (s->acceptor_started) {
		pthread_join(s->acceptor, NULL);
		s->acceptor_started = false;
	}
	if (s->mhd) {
		deadline = sl__mono_sec() + timeout_ms / 1000.0;
		while (in_flight(s) && sl__mono_sec() < deadline)
			usleep(2000);
		if (in_flight(s))
			rc = sl__err(SL_EBUSY, "%llu requests were still running after %u ms",
				     (unsigned long long)in_flight(s), timeout_ms);
		MHD_stop_daemon(s->mhd);
		s->mhd = NULL;
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	if (s->threads_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->reaper, NULL);
		serve_monitor_stop(s);
		serve_reloader_stop(s);
		s->threads_started = false;
	}
	if (s->log) {
		int lrc = ilog_close(s->log);
		s->log = NULL;
		if (lrc && !rc)
			rc = lrc;
	}
	return rc;
}

void sl_server_free(sl_server *s)
{
	if (!s)
		return;
	sl_server_stop(s, 0);
	serve_models_free(s);
	workers_free(s);
	serve_stats_free(s);
	pthread_mutex_destroy(&s->conns_mu);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->stats_mu);
	pthread_mutex_destroy(&s->mon_mu);
	sl__free(s->mon_text);
	canvas_free(s->mon_cv);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->reload_done);
	sl__free(s->host);
	sl__free(s->log_dir);
	access_close(s->acc);
	sl__free(s->tls_cert_pem);
	sl__free(s->tls_key_pem);
	sl__free(s->ui_root);
	for (size_t i = 0; i < s->o.n_models; i++)
		sl__free((char *)s->o.models[i]);
	sl__free((void *)s->o.models);
	sl__free(s);
}
