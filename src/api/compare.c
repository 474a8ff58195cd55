/*
 * Comparing runs (sl_runs_compare) and ranking them by a metric
 * (sl_runs_ranked): what MLflow's run comparison and `search_runs
 * order_by` give, over the store's run views.
 *
 * Invariants:
 *  1. The best value of a metric is judged by the one table of metric
 *     directions (ml/metric_dir.h); a metric whose direction is not known
 *     gets no best mark, and ranking by one is refused, never guessed.
 *  2. Rows are compared by their JSON values, so 1 and 1.0 are the same
 *     and a missing value (the step did not run, the metric was not
 *     recorded) is null, which differs from any value.
 *  3. A tune step's trials are not compared as steps of their own: the
 *     tune step's metrics (its best) and options stand for its search.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/project.h"
#include "ml/compare_html.h"
#include "ml/metric_dir.h"

#define COMPARE_MAX_RUNS 64

/* ---- rows ---------------------------------------------------------------------- */

/* The row (scope, name) of rows, added with n nulls when absent. */
static json_t *row_of(json_t *rows, json_t *index, const char *step, const char *name, size_t n)
{
	char key[1024];
	json_t *row, *vals;

	snprintf(key, sizeof key, "%s\x1f%s", step ? step : "", name);
	if ((row = json_object_get(index, key)))
		return row;
	if (!(vals = json_array()))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(vals, json_null()) != 0) {
			json_decref(vals);
			return NULL;
		}
	row = json_pack("{s:s?, s:s, s:o}", "step", step, "name", name, "values", vals);
	if (!row || json_array_append_new(rows, row) != 0 || json_object_set(index, key, row) != 0)
		return NULL;
	return row;
}

/* Options as rows: nested mappings by their dotted path, anything else as one value. */
static int add_params(json_t *rows, json_t *index, const char *step, const char *prefix,
		      const json_t *obj, size_t col, size_t n)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		char name[512];
		json_t *row;
		snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", k);
		if (json_is_object(v) && json_object_size(v)) {
			int rc = add_params(rows, index, step, name, v, col, n);
			if (rc)
				return rc;
			continue;
		}
		if (!(row = row_of(rows, index, step, name, n)) ||
		    json_array_set(json_object_get(row, "values"), col, v) != 0)
			return sl__oom();
	}
	return 0;
}

/* Invariant 2: every value the same (numbers by value). */
static bool all_same(const json_t *vals)
{
	const json_t *a = json_array_get(vals, 0), *b;
	size_t i;

	json_array_foreach(vals, i, b) {
		if (json_is_number(a) && json_is_number(b)) {
			if (json_number_value(a) != json_number_value(b))
				return false;
		} else if (!json_equal(a, b)) {
			return false;
		}
	}
	return true;
}

/* Marks the best value(s) of a metric row by its direction (invariant 1). */
static int mark_best(json_t *row)
{
	const char *name = json_string_value(json_object_get(row, "name"));
	const json_t *vals = json_object_get(row, "values"), *v;
	int dir = ml_metric_direction(name);
	double best = NAN;
	json_t *idx = json_array();
	size_t i;

	if (!idx || json_object_set_new(row, "direction",
					json_string(ml_metric_direction_name(dir))) != 0) {
		json_decref(idx);
		return sl__oom();
	}
	json_array_foreach(vals, i, v)
		if (dir && json_is_number(v) &&
		    (isnan(best) || json_number_value(v) * dir > best * dir))
			best = json_number_value(v);
	json_array_foreach(vals, i, v)
		if (dir && json_is_number(v) && json_number_value(v) == best &&
		    json_array_append_new(idx, json_integer((json_int_t)i)) != 0) {
			json_decref(idx);
			return sl__oom();
		}
	return json_object_set_new(row, "best", idx) ? sl__oom() : 0;
}

/* Keeps the rows that differ (or all), each marked with "differs". */
static int finish_rows(json_t *rows, bool all, bool metrics, json_t **out)
{
	json_t *kept = json_array(), *row;
	size_t i;

	if (!kept)
		return sl__oom();
	json_array_foreach(rows, i, row) {
		bool differs = !all_same(json_object_get(row, "values"));
		if (json_object_set_new(row, "differs", json_boolean(differs)) != 0 ||
		    (metrics && mark_best(row) != 0)) {
			json_decref(kept);
			return sl__oom();
		}
		if ((differs || all) && json_array_append(kept, row) != 0) {
			json_decref(kept);
			return sl__oom();
		}
	}
	*out = kept;
	return 0;
}

int sl_runs_compare(sl_project *p, const char *const *runs, size_t n, unsigned flags,
		    char **out_json)
{
	json_t *heads = NULL, *params = NULL, *metrics = NULL, *pidx = NULL, *midx = NULL;
	json_t *kp = NULL, *km = NULL, *out;
	int rc = 0;

	if (!p || !runs || !out_json)
		return sl__err(SL_EINVAL, "sl_runs_compare: bad arguments");
	*out_json = NULL;
	if (n < 1 || n > COMPARE_MAX_RUNS)
		return api_fail(p, sl__err(SL_EINVAL, "compare 1 to %d runs, not %zu", COMPARE_MAX_RUNS, n));
	heads = json_array();
	params = json_array();
	metrics = json_array();
	pidx = json_object();
	midx = json_object();
	if (!heads || !params || !metrics || !pidx || !midx) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char id[STORE_ID_SIZE];
		json_t *r = NULL, *st;
		size_t k;

		rc = store_run_resolve(p->st, runs[i], id);
		if (rc == 0)
			rc = store_run_json(p->st, id, &r);
		if (rc) {
			rc = sl__err_prefix(rc, "run '%s'", runs[i]);
			break;
		}
		if (json_array_append_new(heads, json_pack("{s:O, s:O, s:O, s:O}", "run",
							   json_object_get(r, "run"), "pipeline",
							   json_object_get(r, "pipeline"), "status",
							   json_object_get(r, "status"), "started",
							   json_object_get(r, "started"))) != 0)
			rc = sl__oom();
		if (rc == 0)
			rc = add_params(params, pidx, NULL, "", json_object_get(r, "params"), i, n);
		json_array_foreach(json_object_get(r, "steps"), k, st) {
			const char *name = json_string_value(json_object_get(st, "name")), *mk;
			json_t *mv;
			if (rc || !json_is_null(json_object_get(st, "parent")) || !name)
				continue; /* invariant 3 */
			rc = add_params(params, pidx, name, "", json_object_get(st, "params"), i, n);
			json_object_foreach(json_object_get(st, "metrics"), mk, mv) {
				json_t *row = rc ? NULL : row_of(metrics, midx, name, mk, n);
				if (!rc && (!row || json_array_set(json_object_get(row, "values"), i, mv)))
					rc = sl__oom();
			}
		}
		json_decref(r);
	}
	if (rc == 0)
		rc = finish_rows(params, flags & SL_COMPARE_ALL, false, &kp);
	if (rc == 0)
		rc = finish_rows(metrics, flags & SL_COMPARE_ALL, true, &km);
	if (rc == 0) {
		out = json_pack("{s:O, s:O, s:O}", "runs", heads, "params", kp, "metrics", km);
		rc = out ? api_dump(out, out_json) : sl__oom();
	}
out:
	json_decref(heads);
	json_decref(params);
	json_decref(metrics);
	json_decref(pidx);
	json_decref(midx);
	json_decref(kp);
	json_decref(km);
	return api_fail(p, rc);
}

int sl_runs_compare_html(const char *compare_json, const char *out_path)
{
	json_t *cmp;
	char *html = NULL;
	int rc;

	if (!compare_json || !out_path)
		return sl__err(SL_EINVAL, "sl_runs_compare_html: bad arguments");
	if (!(cmp = json_loads(compare_json, 0, NULL)))
		return sl__err(SL_EINVAL, "sl_runs_compare_html: not the JSON of sl_runs_compare");
	rc = ml_compare_html(cmp, &html);
	json_decref(cmp);
	if (rc == 0)
		rc = sl__write_atomic(out_path, html, strlen(html));
	sl__free(html);
	return rc;
}

int sl_runs_of(sl_project *p, const char *pipeline, int limit, char **out_json)
{
	json_t *j;
	int rc;

	if (!p || !pipeline || !out_json)
		return sl__err(SL_EINVAL, "sl_runs_of: bad arguments");
	rc = store_runs_of_json(p->st, pipeline, limit, &j);
	return api_fail(p, rc ? rc : api_dump(j, out_json));
}

/* Rows of metric `name` (of step `step` when not NULL); SL_ENOENT when none. */
static int metric_rows(sl_project *p, const char *pipeline, const char *step, const char *name,
		       json_t **out)
{
	int rc = store_runs_metric_json(p->st, pipeline, step, name, out);

	if (rc == 0 && json_array_size(*out) == 0) {
		json_decref(*out);
		*out = NULL;
		return SL_ENOENT;
	}
	return rc;
}

static int cmp_value_desc(const void *a, const void *b)
{
	double x = json_number_value(json_object_get(*(json_t *const *)a, "value"));
	double y = json_number_value(json_object_get(*(json_t *const *)b, "value"));

	return x > y ? -1 : x < y;
}

int sl_runs_ranked(sl_project *p, const char *pipeline, const char *metric, int limit,
		   char **out_json)
{
	json_t *rows = NULL, *ranked = NULL, **v = NULL, *row;
	char step[256] = "";
	const char *m = metric;
	size_t i, n = 0;
	int dir, rc;

	if (!p || !pipeline || !metric || !out_json)
		return sl__err(SL_EINVAL, "sl_runs_ranked: bad arguments");
	*out_json = NULL;
	/* METRIC first (a metric's name may hold a dot), then STEP.METRIC. */
	rc = metric_rows(p, pipeline, NULL, metric, &rows);
	if (rc == SL_ENOENT && strchr(metric, '.')) {
		const char *dot = strchr(metric, '.');
		snprintf(step, sizeof step, "%.*s", (int)(dot - metric), metric);
		m = dot + 1;
		rc = metric_rows(p, pipeline, step, m, &rows);
	}
	if (rc == SL_ENOENT)
		return api_fail(p, sl__err(SL_ENOENT, "no run of pipeline '%s' recorded a metric '%s'",
				       pipeline, metric));
	if (rc)
		return api_fail(p, rc);
	dir = ml_metric_direction(m);
	if (!dir) {
		json_decref(rows);
		return api_fail(p, sl__err(SL_EINVAL, "which way is better for '%s' is not known, so runs "
						  "cannot be ranked by it (auc, accuracy, r2 rank "
						  "high first; rmse, logloss, cost low first)",
				       m));
	}
	/* Each run once: a metric several steps record needs its step named. */
	json_array_foreach(rows, i, row) {
		json_t *prev = i ? json_array_get(rows, i - 1) : NULL;
		if (prev && json_equal(json_object_get(prev, "run"), json_object_get(row, "run")) &&
		    !step[0]) {
			rc = sl__err(SL_EINVAL, "steps %s and %s both record '%s': name one, as "
						"%s.%s",
				     json_string_value(json_object_get(prev, "step")),
				     json_string_value(json_object_get(row, "step")), m,
				     json_string_value(json_object_get(row, "step")), m);
			json_decref(rows);
			return api_fail(p, rc);
		}
	}
	v = sl__calloc(json_array_size(rows) + 1, sizeof *v);
	ranked = json_array();
	if (!v || !ranked) {
		rc = sl__oom();
		goto out;
	}
	json_array_foreach(rows, i, row)
		if (json_is_number(json_object_get(row, "value")))
			v[n++] = row;
	/* Stable on the newest-first order: ties keep the newer run first. */
	for (size_t a = 1; a < n; a++) {
		json_t *x = v[a];
		size_t b = a;
		while (b > 0 && (dir > 0 ? cmp_value_desc(&x, &v[b - 1]) < 0
					 : cmp_value_desc(&x, &v[b - 1]) > 0)) {
			v[b] = v[b - 1];
			b--;
		}
		v[b] = x;
	}
	for (i = 0; i < n && (limit <= 0 || (int)i < limit); i++) {
		json_t *o = json_deep_copy(v[i]);
		if (!o || json_object_set_new(o, "rank", json_integer((json_int_t)i + 1)) != 0 ||
		    json_object_set_new(o, "metric", json_string(m)) != 0 ||
		    json_object_set_new(o, "direction", json_string(ml_metric_direction_name(dir))) != 0 ||
		    json_array_append_new(ranked, o) != 0) {
			rc = sl__oom();
			goto out;
		}
	}
	rc = api_dump(ranked, out_json);
	ranked = NULL;
out:
	sl__free(v);
	json_decref(rows);
	json_decref(ranked);
	return api_fail(p, rc);
}
