/*
 * The public monitoring API (sluice/monitor.h): the project's places for
 * the engine (its store, inference log, artifacts and canvas), option
 * checks, and the report page written beside the report. The engine is
 * src/monitor/live.c.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/project.h"
#include "monitor/live.h"

#define MON_HISTORY_DEFAULT 100

void sl_monitor_opts_init(sl_monitor_opts *o)
{
	memset(o, 0, sizeof *o);
	o->record = 1;
	o->history = MON_HISTORY_DEFAULT;
}

int api_monitor_env(sl_project *p, mon_env *out, canvas **out_cv)
{
	char *path = NULL;
	struct stat st;
	int rc = 0;

	memset(out, 0, sizeof *out);
	*out_cv = NULL;
	out->st = p->st;
	out->art_root = p->art_root;
	if (!(path = sl__path_join(p->root, "canvas.yaml")))
		return sl__oom();
	/* A project without a canvas is monitored with the defaults. */
	if (stat(path, &st) == 0 && (rc = canvas_load(path, out_cv)))
		*out_cv = NULL;
	sl__free(path);
	out->cv = *out_cv;
	return rc;
}

static int parse_time(const char *s, const char *opt, int64_t *out)
{
	int64_t us;

	*out = 0;
	if (!s)
		return 0;
	if (!ds_parse_timestamp(s, strlen(s), &us))
		return sl__err(SL_EINVAL, "%s '%s' is not an ISO 8601 time (2026-11-30 or "
					  "2026-11-30T12:00:00Z)",
			       opt, s);
	*out = us / 1000;
	return 0;
}

int sl_monitor_report(sl_project *p, const sl_monitor_opts *o, char **out_json)
{
	mon_env env;
	mon_window w;
	canvas *cv = NULL;
	char *log_dir = NULL, *html = NULL;
	json_t *rep = NULL, *hist = NULL;
	int rc;

	sl__err_clear();
	if (!p || !o || !out_json)
		return sl__err(SL_EINVAL, "sl_monitor_report: project, options and out_json are required");
	*out_json = NULL;
	if (!o->model)
		return api_fail(p, sl__err(SL_EINVAL, "name the model to monitor (--model NAME)"));
	memset(&w, 0, sizeof w);
	w.requests = o->window;
	w.version = o->version;
	w.bundle_path = o->bundle;
	if ((rc = parse_time(o->since, "--since", &w.since_ms)) ||
	    (rc = parse_time(o->until, "--until", &w.until_ms)))
		return api_fail(p, rc);
	if (w.since_ms && w.until_ms && w.since_ms > w.until_ms)
		return api_fail(p, sl__err(SL_EINVAL, "--since is after --until"));
	if ((rc = api_monitor_env(p, &env, &cv)))
		return api_fail(p, rc);
	if (o->log_dir)
		env.log_dir = o->log_dir;
	else if (!(log_dir = sl__path_join(p->state, "inference"))) {
		rc = sl__oom();
		goto out;
	} else
		env.log_dir = log_dir;
	if ((rc = mon_report(&env, o->model, &w, &rep)))
		goto out;
	if (o->record && (rc = mon_record(&env, rep, NULL)))
		goto out;
	if (o->html) {
		if (o->record && (rc = mon_history(&env, o->model, o->history, &hist)))
			goto out;
		if ((rc = mon_html(rep, hist, &html)) ||
		    (rc = sl__write_atomic(o->html, html, strlen(html))))
			goto out;
	}
	rc = api_dump(rep, out_json);
	rep = NULL;
out:
	json_decref(rep);
	json_decref(hist);
	sl__free(html);
	sl__free(log_dir);
	canvas_free(cv);
	return api_fail(p, rc);
}

int sl_monitor_history(sl_project *p, const char *model, size_t last, char **out_json)
{
	mon_env env = {0};
	json_t *hist = NULL;
	int rc;

	sl__err_clear();
	if (!p || !model || !out_json)
		return sl__err(SL_EINVAL, "sl_monitor_history: project, model and out_json are required");
	*out_json = NULL;
	env.st = p->st;
	if ((rc = mon_history(&env, model, last, &hist)))
		return api_fail(p, rc);
	return api_fail(p, api_dump(hist, out_json));
}
