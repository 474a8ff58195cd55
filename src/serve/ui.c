/*
 * The web UI's pages and its read API (ui.h): routing under "/", "/ui/"
 * and "/api/", the embedded files, and the GET endpoints, each a thin
 * wrapper over one public API call whose JSON it hands on unchanged (the
 * shapes `sluice ... --json` prints). The actions (POST) are in ui_act.c.
 *
 *   GET /api/info                      {version, project, monitoring, ...}
 *   GET /api/runs?offset&limit&pipeline&status&q     sl_runs_page
 *   GET /api/runs/RUN                  sl_run_show
 *   GET /api/runs/RUN/log?step=STEP    the step's log (its last 256 KiB), text
 *   GET /api/runs/RUN/graph            sl_pipeline_graph of the run's file
 *   GET /api/artifacts?offset&limit&type&q           sl_artifacts_page
 *   GET /api/artifacts/ID              sl_artifact_show with 20 rows
 *   GET /api/artifacts/ID/lineage      sl_artifact_lineage
 *   GET /api/artifacts/ID/report       an evaluation report as its HTML page,
 *                                      sandboxed (no script, no requests)
 *   GET /api/models?offset&limit&q     sl_models_page
 *   GET /api/models/NAME?offset&limit  sl_model_show_page
 *   GET /api/monitoring?offset&limit&q sl_monitor_models_page
 *   GET /api/monitoring/MODEL?offset&limit   sl_monitor_page (windows, newest report)
 *   GET /api/events?offset&limit&model&kind&run&since   sl_monitor_events_page
 *   GET /api/canvas                    sl_canvas_check of canvas.yaml
 *   POST ...                           the actions (ui_act.c)
 *
 * Every endpoint asks for a token whose role may read (access.h), unless
 * the server runs with --no-auth. Errors are {"error": "..."}: 400 bad
 * parameters, 401 no valid token, 403 a role that may not, 404 nothing of
 * that name, 405 wrong method, 409 a refused move (a failing verdict), 500.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve/server.h"
#include "serve/ui_int.h"

#define LOG_TAIL ((off_t)256 << 10)

const char *const ui_headers[] = {
	"X-Content-Type-Options", "nosniff",
	"Referrer-Policy", "no-referrer",
	NULL,
};

bool ui_owns(const char *url)
{
	return !strcmp(url, "/") || !strncmp(url, "/ui/", 4) || !strcmp(url, "/api") ||
	       !strncmp(url, "/api/", 5);
}

void ui_worker_free(serve_worker *w)
{
	sl_project_close(w->ui_project);
	w->ui_project = NULL;
}

/* ---- answers ---------------------------------------------------------------------------- */

int ui_error(ui_req *rq, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sl__buf_reset(rq->resp);
	rq->static_body = NULL;
	rq->ctype = NULL;
	serve_lit(rq->resp, "{\"error\":");
	serve_put_jstr(rq->resp, msg, strlen(msg));
	serve_lit(rq->resp, "}");
	rq->code = code;
	return code;
}

int ui_status_of(int rc)
{
	switch (rc) {
	case SL_ENOENT:
		return 404;
	case SL_EINVAL:
	case SL_EAMBIG:
	case SL_ESPEC:
	case SL_EPARSE:
	case SL_EINPUT:
		return 400;
	case SL_EGATE:
	case SL_EEXIST:
		return 409;
	case SL_EBUSY:
		return 503;
	default:
		return 500;
	}
}

int ui_api_fail(ui_req *rq, sl_project *p, int rc)
{
	const char *msg = p ? sl_project_errmsg(p) : "";

	if (!*msg)
		msg = *sl_errmsg() ? sl_errmsg() : sl_strerror(rc);
	return ui_error(rq, ui_status_of(rc), "%s", msg);
}

/* Takes text (sl_free) as the 200 body. */
int ui_json(ui_req *rq, char *text)
{
	int rc = serve_puts(rq->resp, text);

	sl_free(text);
	if (rc)
		return ui_error(rq, 500, "out of memory");
	rq->code = 200;
	rq->cache = "no-store";
	return 200;
}

const char *ui_arg(const ui_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND, name);
}

/* A non-negative integer argument; false (and a 400 answered) when malformed. */
static bool arg_size(ui_req *rq, const char *name, size_t max, size_t *out)
{
	const char *v = ui_arg(rq, name);
	char *end;
	unsigned long long n;

	*out = 0;
	if (!v || !*v)
		return true;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno || v[0] == '-' || n > max) {
		ui_error(rq, 400, "'%s' must be a whole number from 0 to %zu, not '%.40s'", name, max,
			 v);
		return false;
	}
	*out = (size_t)n;
	return true;
}

static bool page_args(ui_req *rq, sl_page_opts *o)
{
	memset(o, 0, sizeof *o);
	if (!arg_size(rq, "offset", (size_t)1 << 40, &o->offset) ||
	    !arg_size(rq, "limit", 1000, &o->limit))
		return false;
	o->pipeline = ui_arg(rq, "pipeline");
	o->status = ui_arg(rq, "status");
	o->type = ui_arg(rq, "type");
	o->search = ui_arg(rq, "q");
	return true;
}

/* The project handle of the calling thread (invariant 1), opened on first use. */
sl_project *ui_project(sl_server *s, serve_worker *w, ui_req *rq)
{
	int rc;

	if (w->ui_project)
		return w->ui_project;
	if ((rc = sl_project_open(s->ui_root, &w->ui_project))) {
		w->ui_project = NULL;
		ui_error(rq, 500, "cannot open the project %s: %s", s->ui_root, sl_errmsg());
		return NULL;
	}
	return w->ui_project;
}

/* The next path segment after *p (at '/'): a copy into buf, false when none or too long. */
bool ui_segment(const char **p, char *buf, size_t size)
{
	const char *s = *p, *e;
	size_t n;

	if (*s != '/' || !s[1])
		return false;
	s++;
	e = strchr(s, '/');
	n = e ? (size_t)(e - s) : strlen(s);
	if (!n || n >= size)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	*p = s + n;
	return true;
}

/* ---- files: the pages, and a step's log ----------------------------------------------- */

static int h_asset(ui_req *rq)
{
	const char *path = !strcmp(rq->url, "/") ? "/ui/index.html" : rq->url;

	for (size_t i = 0; i < ui_n_assets; i++) {
		if (strcmp(ui_assets[i].path, path))
			continue;
		rq->static_body = ui_assets[i].data;
		rq->static_len = ui_assets[i].size;
		rq->ctype = ui_assets[i].ctype;
		rq->cache = "no-cache";
		rq->code = 200;
		return 200;
	}
	return ui_error(rq, 404, "no page %s", rq->url);
}

/*
 * True when path's real location is inside root's (invariant 2): a log
 * path recorded in the store could have been made to point anywhere by a
 * symbolic link planted in the project's state.
 */
bool ui_inside(const char *root, const char *path)
{
	char rr[PATH_MAX], rp[PATH_MAX];
	size_t n;

	if (!realpath(root, rr) || !realpath(path, rp))
		return false;
	n = strlen(rr);
	return !strncmp(rr, rp, n) && (rp[n] == '/' || rp[n] == 0);
}

static int h_log(sl_server *s, ui_req *rq, sl_project *p, const char *run)
{
	const char *step = ui_arg(rq, "step");
	char *path = NULL, *from = NULL;
	struct stat st;
	off_t start = 0;
	ssize_t got;
	int fd, rc;

	if (!step || !*step)
		return ui_error(rq, 400, "name the step: /api/runs/RUN/log?step=STEP");
	if ((rc = sl_run_log_find(p, run, step, &path, &from)))
		return ui_api_fail(rq, p, rc);
	sl_free(from);
	if (!ui_inside(s->ui_root, path)) {
		sl_free(path);
		return ui_error(rq, 404, "step '%s' of run %s has no log in the project", step, run);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	sl_free(path);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return ui_error(rq, 404, "step '%s' of run %s has no log (yet)", step, run);
	}
	if (st.st_size > LOG_TAIL) {
		start = st.st_size - LOG_TAIL;
		serve_lit(rq->resp, "[... the beginning of the log is left out ...]\n");
	}
	if (sl__buf_reserve(rq->resp, (size_t)(st.st_size - start) + 1)) {
		close(fd);
		return ui_error(rq, 500, "out of memory");
	}
	got = pread(fd, rq->resp->data + rq->resp->len, (size_t)(st.st_size - start), start);
	close(fd);
	if (got < 0)
		return ui_error(rq, 500, "cannot read the log: %s", strerror(errno));
	rq->resp->len += (size_t)got;
	rq->ctype = "text/plain; charset=utf-8";
	rq->cache = "no-store";
	rq->code = 200;
	return 200;
}

/*
 * An evaluation report as its page: written by sl_artifact_export into the
 * project's state folder, read back, removed. Sent with a policy of its own
 * that sandboxes it (no script, nothing fetched), shown in a frame.
 */
static int h_report(sl_server *s, serve_worker *w, ui_req *rq, sl_project *p, const char *id)
{
	char name[64], hex[17];
	char *dir, *path;
	sl__buf b;
	int rc;

	if (sl__random_hex(hex, 16))
		return ui_error(rq, 500, "no random bytes");
	snprintf(name, sizeof name, ".ui-report-%d-%s.html", w->id, hex);
	dir = sl__path_join(s->ui_root, ".sluice");
	path = dir ? sl__path_join(dir, name) : NULL;
	sl__free(dir);
	if (!path)
		return ui_error(rq, 500, "out of memory");
	rc = sl_artifact_export(p, id, "html", path);
	if (rc) {
		sl__free(path);
		return ui_api_fail(rq, p, rc);
	}
	rc = sl__read_file(path, (size_t)64 << 20, &b);
	unlink(path);
	sl__free(path);
	if (rc)
		return ui_error(rq, 500, "%s", sl_errmsg());
	rc = serve_put(rq->resp, b.data, b.len);
	sl__buf_free(&b);
	if (rc)
		return ui_error(rq, 500, "out of memory");
	rq->ctype = "text/html; charset=utf-8";
	rq->cache = "no-store";
	rq->csp = UI_CSP_REPORT;
	rq->code = 200;
	return 200;
}

/* ---- the read endpoints ------------------------------------------------------------------ */

static int h_info(sl_server *s, ui_req *rq)
{
	const char *base = strrchr(s->ui_root, '/');

	serve_lit(rq->resp, "{\"version\":");
	serve_put_jstr(rq->resp, sl_version(), strlen(sl_version()));
	serve_lit(rq->resp, ",\"project\":");
	base = base && base[1] ? base + 1 : s->ui_root;
	serve_put_jstr(rq->resp, base, strlen(base));
	serve_lit(rq->resp, ",\"monitoring\":true");
	if (rq->user.name[0]) {
		const char *role = access_role_name(rq->user.role);
		serve_lit(rq->resp, ",\"user\":{\"name\":");
		serve_put_jstr(rq->resp, rq->user.name, strlen(rq->user.name));
		serve_lit(rq->resp, ",\"role\":");
		serve_put_jstr(rq->resp, role, strlen(role));
		serve_lit(rq->resp, "}");
	}
	serve_lit(rq->resp, ",\"actions\":");
	ui_actions_json(s, rq);
	serve_lit(rq->resp, "}");
	rq->code = 200;
	rq->cache = "no-store";
	return 200;
}

static int no_step(void *ud, const sl_step_view *v)
{
	(void)ud;
	(void)v;
	return 0;
}

/*
 * The graph of the pipeline file a run was made from, when it is in the
 * project. Only the run's head is needed (its file): its steps are walked,
 * not built as JSON (a step with 10,000 outputs made this cost as much as
 * the run's own page).
 */
static int h_graph(sl_server *s, ui_req *rq, sl_project *p, const char *run)
{
	char *head = NULL, *text = NULL;
	json_t *j;
	const char *file;
	int rc;

	if ((rc = sl_run_steps(p, run, no_step, NULL, &head)))
		return ui_api_fail(rq, p, rc);
	j = json_loads(head, 0, NULL);
	sl_free(head);
	file = j ? json_string_value(json_object_get(j, "file")) : NULL;
	if (!file || !ui_inside(s->ui_root, file)) {
		json_decref(j);
		return ui_error(rq, 404, "run %s's pipeline file is not in the project (any more)", run);
	}
	rc = sl_pipeline_graph(file, &text);
	json_decref(j);
	return rc ? ui_api_fail(rq, NULL, rc) : ui_json(rq, text);
}

static int h_runs(sl_server *s, ui_req *rq, sl_project *p, const char *rest)
{
	char run[128], what[16];
	char *text = NULL;
	int rc;

	(void)s;
	if (!*rest) {
		sl_page_opts o;
		if (!page_args(rq, &o))
			return rq->code;
		rc = sl_runs_page(p, &o, &text);
		return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
	}
	if (!ui_segment(&rest, run, sizeof run))
		return ui_error(rq, 404, "no endpoint %s", rq->url);
	if (!*rest) {
		rc = sl_run_show(p, run, &text);
		return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
	}
	if (!ui_segment(&rest, what, sizeof what) || *rest)
		return ui_error(rq, 404, "no endpoint %s", rq->url);
	if (!strcmp(what, "log"))
		return h_log(s, rq, p, run);
	if (!strcmp(what, "graph"))
		return h_graph(s, rq, p, run);
	return ui_error(rq, 404, "no endpoint %s", rq->url);
}

static int h_artifacts(sl_server *s, serve_worker *w, ui_req *rq, sl_project *p, const char *rest)
{
	char id[200], what[16];
	char *text = NULL;
	int rc;

	if (!*rest) {
		sl_page_opts o;
		if (!page_args(rq, &o))
			return rq->code;
		rc = sl_artifacts_page(p, &o, &text);
		return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
	}
	if (!ui_segment(&rest, id, sizeof id))
		return ui_error(rq, 404, "no endpoint %s", rq->url);
	if (!*rest) {
		rc = sl_artifact_show(p, id, 20, &text);
		return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
	}
	if (!ui_segment(&rest, what, sizeof what) || *rest)
		return ui_error(rq, 404, "no endpoint %s", rq->url);
	if (!strcmp(what, "lineage")) {
		rc = sl_artifact_lineage(p, id, &text);
		return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
	}
	if (!strcmp(what, "report"))
		return h_report(s, w, rq, p, id);
	return ui_error(rq, 404, "no endpoint %s", rq->url);
}

static int models_page(ui_req *rq, sl_project *p)
{
	sl_page_opts o;
	char *text = NULL;
	int rc;

	if (!page_args(rq, &o))
		return rq->code;
	rc = sl_models_page(p, &o, &text);
	return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
}

static int h_models(sl_server *s, serve_worker *w, ui_req *rq, sl_project *p, const char *rest)
{
	char name[160];
	char *text = NULL;
	sl_page_opts o;
	int rc;

	(void)s;
	(void)w;
	if (!*rest)
		return models_page(rq, p);
	if (!ui_segment(&rest, name, sizeof name) || *rest)
		return ui_error(rq, 404, "no endpoint %s", rq->url);
	if (!page_args(rq, &o))
		return rq->code;
	rc = sl_model_show_page(p, name, &o, &text);
	return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
}

static int h_monitoring(ui_req *rq, sl_project *p, const char *rest)
{
	char model[160];
	char *text = NULL;
	sl_page_opts o;
	int rc;

	if (!page_args(rq, &o))
		return rq->code;
	if (!*rest) {
		rc = sl_monitor_models_page(p, &o, &text);
		return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
	}
	if (!ui_segment(&rest, model, sizeof model) || *rest)
		return ui_error(rq, 404, "no endpoint %s", rq->url);
	rc = sl_monitor_page(p, model, &o, &text);
	return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
}

static int h_events(ui_req *rq, sl_project *p, const char *rest)
{
	sl_events_filter f = {0};
	char *text = NULL;
	sl_page_opts o;
	int rc;

	if (*rest)
		return ui_error(rq, 404, "no endpoint %s", rq->url);
	if (!page_args(rq, &o))
		return rq->code;
	f.model = ui_arg(rq, "model");
	f.kind = ui_arg(rq, "kind");
	f.run = ui_arg(rq, "run");
	f.since = ui_arg(rq, "since");
	rc = sl_monitor_events_page(p, &f, &o, &text);
	return rc ? ui_api_fail(rq, p, rc) : ui_json(rq, text);
}

static int h_canvas(sl_server *s, ui_req *rq)
{
	char *path = sl__path_join(s->ui_root, "canvas.yaml");
	char *text = NULL;
	int rc;

	if (!path)
		return ui_error(rq, 500, "out of memory");
	rc = sl_canvas_check(path, &text);
	sl__free(path);
	if (rc == SL_ENOENT)
		return ui_error(rq, 404, "the project has no canvas.yaml (sluice init writes one)");
	return rc ? ui_api_fail(rq, NULL, rc) : ui_json(rq, text);
}

/* ---- routing ---------------------------------------------------------------------------------- */

static int api(sl_server *s, serve_worker *w, ui_req *rq)
{
	const char *rest = rq->url + 4;
	bool get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
	bool post = !strcmp(rq->method, "POST");
	char top[32];
	sl_project *p;

	if (!ui_segment(&rest, top, sizeof top))
		return ui_error(rq, 404, "no endpoint %s (see docs/ui.md)", rq->url);
	/* An action checks the permission it needs itself (and audits it). */
	if (post)
		return ui_act(s, w, rq, top, rest);
	if (!ui_authorized(s, rq))
		return rq->code;
	if (!get) {
		rq->allow = "GET, HEAD, POST";
		return ui_error(rq, 405, "%s takes GET or POST, not %s", rq->url, rq->method);
	}
	if (!strcmp(top, "info") && !*rest)
		return h_info(s, rq);
	if (!strcmp(top, "canvas") && !*rest)
		return h_canvas(s, rq);
	if (!(p = ui_project(s, w, rq)))
		return rq->code;
	if (!strcmp(top, "runs"))
		return h_runs(s, rq, p, rest);
	if (!strcmp(top, "artifacts"))
		return h_artifacts(s, w, rq, p, rest);
	if (!strcmp(top, "models"))
		return h_models(s, w, rq, p, rest);
	if (!strcmp(top, "monitoring"))
		return h_monitoring(rq, p, rest);
	if (!strcmp(top, "events"))
		return h_events(rq, p, rest);
	return ui_error(rq, 404, "no endpoint %s (see docs/ui.md)", rq->url);
}

int ui_handle(sl_server *s, serve_worker *w, ui_req *rq)
{
	rq->code = 500;
	if (!strncmp(rq->url, "/api", 4))
		return api(s, w, rq);
	if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
		rq->allow = "GET, HEAD";
		return ui_error(rq, 405, "%s takes GET, not %s", rq->url, rq->method);
	}
	return h_asset(rq);
}
