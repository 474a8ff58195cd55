/*
 * The web UI and its JSON API (`sluice ui`, `sluice serve --ui`), served by
 * the inference server's HTTP code (server.c): the same libmicrohttpd
 * daemon, connection limits, body limit, timeouts and TLS. server.c hands
 * every request under "/", "/ui/" and "/api/" to ui_handle; ui.c answers.
 * Prefix ui_.
 *
 *   GET /                  the page (ui/index.html)
 *   GET /ui/FILE           its scripts and style sheet
 *   GET /api/...           JSON: the public API's documents (sluice.h), the
 *                          shapes the CLI prints with --json
 *
 * Invariants:
 *  1. The API reads through the public API only (sl_runs_page, sl_run_show,
 *     sl_artifact_show, sl_model_show_page ...), on a project handle of the
 *     request's own thread (serve_worker.ui_project): handles are not
 *     shared between threads.
 *  2. No endpoint reads a file outside the project: a step's log is read
 *     only when its real path lies under the project's real root.
 *  3. Every response carries a Content-Security-Policy that allows scripts
 *     from the server only (no inline script), and nosniff: the pages build
 *     their DOM with textContent, and the policy is the second wall.
 */
#ifndef SLUICE_SERVE_UI_H
#define SLUICE_SERVE_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "access/access.h"
#include "core.h"

/* A file of ui/, embedded at build time (cmake/embed_ui.cmake). */
typedef struct ui_asset {
	const char *path;  /* "/ui/app.js" */
	const char *ctype;
	const unsigned char *data;
	size_t size;
} ui_asset;

extern const ui_asset ui_assets[];
extern const size_t ui_n_assets;

struct MHD_Connection;
typedef struct sl_server sl_server;
typedef struct serve_worker serve_worker;

/* One UI request, as server.c hands it over and gets it back. */
typedef struct ui_req {
	struct MHD_Connection *c;
	const char *method;   /* GET, HEAD or POST */
	const char *url;      /* the path, decoded */
	const char *body;     /* POST: the body (never NULL), at most --max-body */
	size_t body_len;
	sl__buf *resp;        /* the response body goes here ... */
	const unsigned char *static_body; /* ... or, for an embedded file, here */
	size_t static_len;
	int code;
	const char *ctype;    /* NULL: application/json */
	const char *allow;    /* 405: the methods the endpoint takes */
	const char *cache;    /* Cache-Control */
	const char *csp;      /* Content-Security-Policy; NULL: UI_CSP */
	access_user user;     /* who asked (name "" when the policy asks no token) */
} ui_req;

/*
 * The pages' policy: scripts from the server only, no inline script. Inline
 * style is allowed for the evaluation report's page, shown in a sandboxed
 * frame (no script at all) whose document inherits this policy.
 */
#define UI_CSP                                                                              \
	"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "            \
	"img-src 'self' data:; "                                                             \
	"connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; "        \
	"frame-ancestors 'self'"
/* A report page's: shown in a frame, sandboxed, nothing runs and nothing is fetched. */
#define UI_CSP_REPORT                                                                       \
	"sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "            \
	"frame-ancestors 'self'"


/* Whether url belongs to the UI. */
bool ui_owns(const char *url);
/* Answers rq (always: errors are JSON bodies {"error": ...}); returns rq->code. */
int ui_handle(sl_server *s, serve_worker *w, ui_req *rq);
/* The headers every UI response carries besides its policy (invariant 3): name/value pairs, NULL-ended. */
extern const char *const ui_headers[];
/* Releases what a worker holds for the UI (its project handle). */
void ui_worker_free(serve_worker *w);

#endif
