/*
 * Pages of the listings (sluice.h: sl_runs_page, sl_artifacts_page,
 * sl_models_page, sl_model_show_page, and the monitoring page's
 * sl_monitor_models_page, sl_monitor_page, sl_monitor_events_page): what
 * the web UI's lists ask for. The filter and the window go into the
 * store's queries (store_runs_page_json and friends), never a slice of a
 * whole listing loaded; this file checks the options and wraps the page in
 * {total, offset, limit, items}. Also the one write of the monitoring page,
 * sl_monitor_ack.
 */
#include <stdio.h>
#include <string.h>

#include "api/project.h"
#include "dataset/dataset.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 1000

static int page_opts(const sl_page_opts *o, const char *what, store_page *out)
{
	memset(out, 0, sizeof *out);
	if (!o)
		return sl__err(SL_EINVAL, "%s: no page options", what);
	if (o->limit > PAGE_MAX)
		return sl__err(SL_EINVAL, "%s: a page holds at most %d rows, not %zu", what, PAGE_MAX,
			       o->limit);
	if (o->offset > (size_t)INT64_MAX / 2)
		return sl__err(SL_EINVAL, "%s: offset %zu is too large", what, o->offset);
	out->offset = (int64_t)o->offset;
	out->limit = o->limit ? (int64_t)o->limit : PAGE_DEFAULT;
	/* An empty filter is no filter: a form's blank field means "any". */
	out->pipeline = o->pipeline && *o->pipeline ? o->pipeline : NULL;
	out->status = o->status && *o->status ? o->status : NULL;
	out->type = o->type && *o->type ? o->type : NULL;
	out->search = o->search && *o->search ? o->search : NULL;
	return 0;
}

/* {total, offset, limit, items}, taking items. */
static int page_wrap(sl_project *p, const store_page *pg, json_t *items, int64_t total,
		     char **out_json)
{
	json_t *j = json_pack("{s:I, s:I, s:I, s:o}", "total", (json_int_t)total, "offset",
			      (json_int_t)pg->offset, "limit", (json_int_t)pg->limit, "items", items);

	if (!j)
		return api_fail(p, sl__err(SL_ENOMEM, "out of memory"));
	return api_fail(p, api_dump(j, out_json));
}

typedef int (*page_fn)(store *s, const store_page *pg, json_t **out_items, int64_t *out_total);

static int page(sl_project *p, const sl_page_opts *o, page_fn fn, const char *what,
		char **out_json)
{
	store_page pg;
	json_t *items = NULL;
	int64_t total = 0;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "%s: bad arguments", what);
	if ((rc = page_opts(o, what, &pg)) || (rc = fn(p->st, &pg, &items, &total)))
		return api_fail(p, rc);
	return page_wrap(p, &pg, items, total, out_json);
}

int sl_runs_page(sl_project *p, const sl_page_opts *o, char **out_json)
{
	return page(p, o, store_runs_page_json, "sl_runs_page", out_json);
}

int sl_artifacts_page(sl_project *p, const sl_page_opts *o, char **out_json)
{
	return page(p, o, store_artifacts_page_json, "sl_artifacts_page", out_json);
}

int sl_model_show_page(sl_project *p, const char *name, const sl_page_opts *o, char **out_json)
{
	store_page pg;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !name || !out_json)
		return sl__err(SL_EINVAL, "sl_model_show_page: bad arguments");
	if ((rc = page_opts(o, "sl_model_show_page", &pg)))
		return api_fail(p, rc);
	return api_fail(p, store_model_page_text(p->st, name, (size_t)pg.offset, (size_t)pg.limit,
						  out_json));
}

int sl_models_page(sl_project *p, const sl_page_opts *o, char **out_json)
{
	store_page pg;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_models_page: bad arguments");
	if ((rc = page_opts(o, "sl_models_page", &pg)))
		return api_fail(p, rc);
	return api_fail(p, store_models_page_text(p->st, pg.search, pg.offset, pg.limit, out_json));
}

int sl_monitor_models_page(sl_project *p, const sl_page_opts *o, char **out_json)
{
	store_page pg;
	json_t *items = NULL;
	int64_t total = 0;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_monitor_models_page: bad arguments");
	if ((rc = page_opts(o, "sl_monitor_models_page", &pg)) ||
	    (rc = store_monitor_models_page(p->st, pg.search, pg.offset, pg.limit, &items, &total)))
		return api_fail(p, rc);
	return page_wrap(p, &pg, items, total, out_json);
}

int sl_monitor_page(sl_project *p, const char *model, const sl_page_opts *o, char **out_json)
{
	store_page pg;
	char *text = NULL;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !model || !out_json)
		return sl__err(SL_EINVAL, "sl_monitor_page: bad arguments");
	if ((rc = page_opts(o, "sl_monitor_page", &pg)) ||
	    (rc = store_monitor_page_text(p->st, model, pg.offset, pg.limit, &text)))
		return api_fail(p, rc);
	*out_json = text; /* sl__malloc'd: sl_free releases it */
	return 0;
}

/* f's since (ISO 8601) into sf, and the rest of f; SL_EINVAL naming a bad time. */
static int events_filter(const sl_events_filter *f, store_mon_filter *sf)
{
	int64_t us;

	memset(sf, 0, sizeof *sf);
	if (!f)
		return 0;
	sf->model = f->model && *f->model ? f->model : NULL;
	sf->kind = f->kind && *f->kind ? f->kind : NULL;
	sf->run = f->run && *f->run ? f->run : NULL;
	if (f->since && *f->since) {
		if (!ds_parse_timestamp(f->since, strlen(f->since), &us))
			return sl__err(SL_EINVAL, "since '%s' is not an ISO 8601 time (2026-11-30 or "
						  "2026-11-30T12:00:00Z)",
				       f->since);
		sf->since_ms = us / 1000;
	}
	return 0;
}

int sl_monitor_events_page(sl_project *p, const sl_events_filter *f, const sl_page_opts *o,
			   char **out_json)
{
	store_mon_filter sf;
	store_page pg;
	json_t *items = NULL;
	int64_t total = 0;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_monitor_events_page: bad arguments");
	if ((rc = page_opts(o, "sl_monitor_events_page", &pg)) || (rc = events_filter(f, &sf)) ||
	    (rc = store_mon_events_page_json(p->st, &sf, pg.offset, pg.limit, &items, &total)))
		return api_fail(p, rc);
	return page_wrap(p, &pg, items, total, out_json);
}

int sl_monitor_ack(sl_project *p, long long seq, const char *who, const char *note,
		   char **out_json)
{
	char user[128];
	json_t *e = NULL;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p)
		return sl__err(SL_EINVAL, "sl_monitor_ack: bad arguments");
	if (seq < 1)
		return api_fail(p, sl__err(SL_EINVAL, "an event number is 1 or more, not %lld", seq));
	if (who && *who)
		snprintf(user, sizeof user, "%s", who);
	else
		sl__user_name(user, sizeof user);
	rc = store_mon_ack(p->st, (int64_t)seq, user, note, out_json ? &e : NULL);
	if (rc == 0 && out_json)
		rc = api_dump(e, out_json);
	return api_fail(p, rc);
}
