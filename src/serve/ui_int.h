/*
 * What the UI's files share (ui.c: pages and reads, ui_act.c: who may do
 * what, and the actions). Prefix ui_.
 */
#ifndef SLUICE_SERVE_UI_INT_H
#define SLUICE_SERVE_UI_INT_H

#include <stdarg.h>
#include <stdbool.h>

#include "serve/ui.h"
#include "sluice/sluice.h"

/* Answers {"error": message} with code; returns code. */
int ui_error(ui_req *rq, int code, const char *fmt, ...) SL__PRINTF(3, 4);
/* The HTTP status for an SL_E* code. */
int ui_status_of(int rc);
/* Answers a failed public call: p's message (or the thread's) with ui_status_of(rc). */
int ui_api_fail(ui_req *rq, sl_project *p, int rc);
/* Answers 200 with text, which it takes (sl_free). */
int ui_json(ui_req *rq, char *text);
/* A query argument, decoded, or NULL. */
const char *ui_arg(const ui_req *rq, const char *name);
/* The calling thread's project handle; NULL when it cannot be opened (answered). */
sl_project *ui_project(sl_server *s, serve_worker *w, ui_req *rq);
/* Copies the next path segment after *p into buf; false when none or too long. */
bool ui_segment(const char **p, char *buf, size_t size);
/* Whether path's real location lies inside root's. */
bool ui_inside(const char *root, const char *path);

/* ui_act.c */
/* Whether the request may read; false when answered (401). */
bool ui_authorized(sl_server *s, ui_req *rq);
/* A POST under /api/TOP/REST. */
int ui_act(sl_server *s, serve_worker *w, ui_req *rq, const char *top, const char *rest);
/* The actions this server offers, as a JSON array, appended to rq->resp. */
void ui_actions_json(sl_server *s, ui_req *rq);

#endif
