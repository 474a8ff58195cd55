/*
 * Who may use the UI's API, and what it may change. The reads ask for the
 * server's bearer token when it has one (--token-file); the UI offers no
 * action (promote, rollback, tag, start a run) until users with roles
 * decide who may take it, so every POST is refused with 405.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "serve/server.h"
#include "serve/ui_int.h"

bool ui_authorized(sl_server *s, ui_req *rq)
{
	if (serve_authorized(s, rq->c))
		return true;
	ui_error(rq, 401, "this server asks for 'Authorization: Bearer TOKEN' (its --token-file)");
	return false;
}

int ui_act(sl_server *s, serve_worker *w, ui_req *rq, const char *top, const char *rest)
{
	(void)s;
	(void)w;
	(void)top;
	(void)rest;
	rq->allow = "GET, HEAD";
	return ui_error(rq, 405, "%s: this server's UI is read-only", rq->url);
}

void ui_actions_json(sl_server *s, ui_req *rq)
{
	(void)s;
	serve_lit(rq->resp, "[]");
}
