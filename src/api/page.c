/*
 * Pages of the listings (sluice.h: sl_runs_page, sl_artifacts_page,
 * sl_model_show_page): what the web UI's lists ask for. The filter and the
 * window go into the store's queries (store_runs_page_json and friends);
 * this file checks the options and wraps the page in {total, offset,
 * limit, items}.
 */
#include <string.h>

#include "api/project.h"

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

typedef int (*page_fn)(store *s, const store_page *pg, json_t **out_items, int64_t *out_total);

static int page(sl_project *p, const sl_page_opts *o, page_fn fn, const char *what,
		char **out_json)
{
	store_page pg;
	json_t *items = NULL, *j;
	int64_t total = 0;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "%s: bad arguments", what);
	if ((rc = page_opts(o, what, &pg)) || (rc = fn(p->st, &pg, &items, &total)))
		return api_fail(p, rc);
	j = json_pack("{s:I, s:I, s:I, s:o}", "total", (json_int_t)total, "offset",
		      (json_int_t)pg.offset, "limit", (json_int_t)pg.limit, "items", items);
	if (!j)
		return api_fail(p, sl__err(SL_ENOMEM, "out of memory"));
	return api_fail(p, api_dump(j, out_json));
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
