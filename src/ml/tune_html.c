/*
 * The tune step's report as one HTML page (tune_html.h), drawn from its
 * JSON when exported (`sluice artifacts export ID --format html`), in the
 * style of evaluate's page (html.h): the best trial, the metric over the
 * trials, the metric against each option searched, the importance of each
 * option, and every trial in a table, best first.
 *
 * Invariants: those of html.c (self-contained, every string escaped);
 * a section the report has no data for is left out, never drawn empty.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/html.h"
#include "ml/tune_html.h"

bool ml_tune_report_is(const json_t *rep)
{
	const char *kind = json_string_value(json_object_get(rep, "kind"));

	return kind && !strcmp(kind, ML_TUNE_REPORT_KIND);
}

static int dots(ml_chart *c, double x, double y, const char *color, bool big)
{
	return sl__buf_printf(c->b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" "
				    "fill-opacity=\"0.75\"/>",
			      ml_chart_x(c, x), ml_chart_y(c, y), big ? 5 : 3, color);
}

/* The metric of each trial in order, and the best so far as a line. */
static int progress_chart(sl__buf *b, const json_t *rep, const char *metric, bool higher)
{
	const json_t *trials = json_object_get(rep, "trials"), *t;
	json_t *best_line = json_array();
	double lo = INFINITY, hi = -INFINITY, run = NAN;
	size_t i, n = json_array_size(trials);
	ml_chart c;
	int rc;

	if (!best_line)
		return sl__oom();
	json_array_foreach(trials, i, t) {
		double v = ml_html_dnum(json_object_get(t, "metric"));
		if (isfinite(v)) {
			lo = fmin(lo, v);
			hi = fmax(hi, v);
			if (!isfinite(run) || (higher ? v > run : v < run))
				run = v;
		}
		if (isfinite(run) && json_array_append_new(best_line, json_pack("[f, f]", (double)i, run))) {
			json_decref(best_line);
			return sl__oom();
		}
	}
	if (!isfinite(lo)) {
		json_decref(best_line);
		return 0;
	}
	rc = ml_chart_begin(&c, b, "The search", "trial", metric, 0, n > 1 ? (double)(n - 1) : 1, lo,
			    hi);
	json_array_foreach(trials, i, t) {
		double v = ml_html_dnum(json_object_get(t, "metric"));
		if (!rc && isfinite(v))
			rc = dots(&c, (double)i, v, ml_html_palette[0], false);
	}
	rc = rc ? rc : ml_chart_pairs(&c, best_line, ml_html_palette[1], false);
	rc = rc ? rc : ml_chart_legend(&c, 0, ml_html_palette[0], "a trial");
	rc = rc ? rc : ml_chart_legend(&c, 1, ml_html_palette[1], "best so far");
	json_decref(best_line);
	return rc ? rc : ml_chart_end(&c, "each trial's metric on valid, in the order tried");
}

/* Where a trial's value pv of an option goes on its axis: a listed value by its place, a number (log10 for a log range) as it is; NaN when it has none. */
static double option_x(const json_t *values, bool logx, const json_t *pv)
{
	size_t k;
	const json_t *e;
	double x;

	if (values) {
		json_array_foreach(values, k, e)
			if (json_equal(e, pv))
				return (double)k;
		return NAN;
	}
	x = ml_html_dnum(pv);
	return logx ? (x > 0 ? log10(x) : NAN) : x;
}

/* The metric against one option: a number on its axis (log10 for a log range), a value by its place. */
static int option_chart(sl__buf *b, const json_t *rep, const char *name, const json_t *space,
			const char *metric)
{
	const json_t *trials = json_object_get(rep, "trials"), *t;
	const json_t *values = json_object_get(space, "values");
	bool logx = json_is_true(json_object_get(space, "log"));
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	char xlab[160], cap[512];
	sl__buf capb;
	size_t i;
	ml_chart c;
	int rc;

	json_array_foreach(trials, i, t) {
		const json_t *pv = json_object_get(json_object_get(t, "params"), name);
		double y = ml_html_dnum(json_object_get(t, "metric")), x = option_x(values, logx, pv);
		if (!isfinite(y) || !pv || !isfinite(x))
			continue;
		x0 = fmin(x0, x);
		x1 = fmax(x1, x);
		y0 = fmin(y0, y);
		y1 = fmax(y1, y);
	}
	if (!isfinite(x0))
		return 0;
	if (values) {
		x0 = -0.5;
		x1 = (double)json_array_size(values) - 0.5;
	}
	snprintf(xlab, sizeof xlab, "%s%s%s%s", logx ? "log10(" : "", name, logx ? ")" : "",
		 values ? " (by its place in values)" : "");
	rc = ml_chart_begin(&c, b, name, xlab, metric, x0, x1, y0, y1);
	json_array_foreach(trials, i, t) {
		const json_t *pv = json_object_get(json_object_get(t, "params"), name);
		double y = ml_html_dnum(json_object_get(t, "metric")), x = option_x(values, logx, pv);
		if (rc || !isfinite(y) || !pv)
			continue;
		if (isfinite(x))
			rc = dots(&c, x, y, ml_html_palette[0], false);
	}
	sl__buf_init(&capb, sizeof cap - 1);
	if (!rc && values) {
		const json_t *e;
		(void)sl__buf_puts(&capb, "values: ");
		json_array_foreach(values, i, e) {
			char *txt = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
			(void)sl__buf_printf(&capb, "%s%zu = %s", i ? ", " : "", i, txt ? txt : "?");
			free(txt);
		}
	} else if (!rc) {
		(void)sl__buf_puts(&capb, "each dot a trial that completed");
	}
	snprintf(cap, sizeof cap, "%.*s", (int)capb.len, capb.data ? capb.data : "");
	sl__buf_free(&capb);
	return rc ? rc : ml_chart_end(&c, cap);
}

/* Each option's share of the metric's variance, as horizontal bars. */
static int importance_chart(sl__buf *b, const json_t *rep)
{
	const json_t *imp = json_object_get(rep, "importance"), *p = json_object_get(imp, "params");
	size_t n = json_array_size(p);
	int rows_h = 20, h = 50 + rows_h * (int)n, rc;

	if (n == 0)
		return 0;
	rc = sl__buf_printf(b, "<figure><svg width=\"560\" height=\"%d\" viewBox=\"0 0 560 %d\" "
			       "role=\"img\"><text x=\"8\" y=\"16\" font-weight=\"600\">Importance: "
			       "share of the metric's variance</text>",
			    h, h);
	for (size_t i = 0; !rc && i < n; i++) {
		const json_t *e = json_array_get(p, i);
		double share = fmin(fmax(ml_html_dnum(json_object_get(e, "share")), 0), 1);
		int y = 30 + rows_h * (int)i;
		rc = sl__buf_printf(b, "<text x=\"174\" y=\"%d\" text-anchor=\"end\">", y + 13);
		rc = rc ? rc : ml_html_esc_json(b, json_object_get(e, "name"));
		rc = rc ? rc
			: sl__buf_printf(b, "</text><rect x=\"180\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
					    "fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">%.2f</text>",
					 y + 2, share * 320, rows_h - 5, ml_html_palette[0],
					 184 + share * 320, y + 13, share);
	}
	rc = rc ? rc : sl__buf_puts(b, "</svg><figcaption>");
	rc = rc ? rc : ml_html_esc_json(b, json_object_get(imp, "method"));
	return rc ? rc : sl__buf_puts(b, "</figcaption></figure>");
}

static int cmp_metric(const void *a, const void *b, bool higher)
{
	double x = ml_html_dnum(json_object_get(*(json_t *const *)a, "metric"));
	double y = ml_html_dnum(json_object_get(*(json_t *const *)b, "metric"));

	if (isnan(x) != isnan(y))
		return isnan(x) ? 1 : -1;
	if (x != y && !isnan(x))
		return (higher ? x > y : x < y) ? -1 : 1;
	return 0;
}

static int cmp_higher(const void *a, const void *b)
{
	return cmp_metric(a, b, true);
}

static int cmp_lower(const void *a, const void *b)
{
	return cmp_metric(a, b, false);
}

/* Every trial, best first: its options, status and metric. */
static int trials_table(sl__buf *b, const json_t *rep, const char *metric, bool higher)
{
	const json_t *trials = json_object_get(rep, "trials"), *space = json_object_get(rep, "search");
	const json_t *best = json_object_get(json_object_get(rep, "best"), "trial");
	size_t n = json_array_size(trials);
	json_t **v = sl__calloc(n + 1, sizeof *v);
	const char *k;
	json_t *sv;
	int rc;

	if (!v)
		return sl__oom();
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(trials, i);
	/* qsort is not stable: ties keep the trial order through the index. */
	qsort(v, n, sizeof *v, higher ? cmp_higher : cmp_lower);
	rc = sl__buf_puts(b, "<h2>Trials</h2><table><tr><th>trial</th><th>rung</th><th>status</th>");
	json_object_foreach((json_t *)space, k, sv) {
		rc = rc ? rc : sl__buf_puts(b, "<th>");
		rc = rc ? rc : ml_html_esc(b, k);
		rc = rc ? rc : sl__buf_puts(b, "</th>");
	}
	rc = rc ? rc : sl__buf_puts(b, "<th>");
	rc = rc ? rc : ml_html_esc(b, metric);
	rc = rc ? rc : sl__buf_puts(b, "</th><th>error</th></tr>");
	for (size_t i = 0; !rc && i < n; i++) {
		const json_t *t = v[i], *params = json_object_get(t, "params");
		rc = sl__buf_printf(b, "<tr%s><td>%lld</td><td>%lld</td><td>",
				    json_equal(json_object_get(t, "trial"), best) ? " class=\"main\"" : "",
				    (long long)json_integer_value(json_object_get(t, "trial")),
				    (long long)json_integer_value(json_object_get(t, "rung")));
		rc = rc ? rc : ml_html_esc_json(b, json_object_get(t, "status"));
		rc = rc ? rc : sl__buf_puts(b, "</td>");
		json_object_foreach((json_t *)space, k, sv) {
			const json_t *pv = json_object_get(params, k);
			rc = rc ? rc : sl__buf_puts(b, "<td>");
			rc = rc ? rc : json_is_number(pv) ? ml_html_num(b, pv) : ml_html_esc_json(b, pv);
			rc = rc ? rc : sl__buf_puts(b, "</td>");
		}
		rc = rc ? rc : sl__buf_puts(b, "<td>");
		rc = rc ? rc : ml_html_num(b, json_object_get(t, "metric"));
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		if (json_is_string(json_object_get(t, "error")))
			rc = rc ? rc : ml_html_esc_json(b, json_object_get(t, "error"));
		rc = rc ? rc : sl__buf_puts(b, "</td></tr>");
	}
	sl__free(v);
	return rc ? rc : sl__buf_puts(b, "</table>");
}

int ml_tune_report_html(const json_t *rep, char **out)
{
	const json_t *best = json_object_get(rep, "best"), *counts = json_object_get(rep, "counts");
	const json_t *space = json_object_get(rep, "search"), *sv;
	const char *metric = json_string_value(json_object_get(rep, "metric")), *k;
	const char *goal = json_string_value(json_object_get(rep, "goal"));
	bool higher = !goal || strcmp(goal, "min") != 0;
	char title[300];
	sl__buf b;
	int rc;

	*out = NULL;
	if (!ml_tune_report_is(rep))
		return sl__err(SL_EINVAL, "not a tune report");
	if (!metric || !json_is_string(json_object_get(rep, "step")) ||
	    !json_is_string(json_object_get(rep, "method")))
		return sl__err(SL_EINVAL, "the tune report lacks its metric, step or method");
	snprintf(title, sizeof title, "Tuning %s (%s search)",
		 json_string_value(json_object_get(rep, "step")),
		 json_string_value(json_object_get(rep, "method")));
	sl__buf_init(&b, 64u << 20);
	rc = ml_html_page_begin(&b, title);
	rc = rc ? rc
		: sl__buf_printf(&b, "<p class=\"sub\">%lld trials &middot; %lld completed &middot; "
				     "%lld failed &middot; ",
				 (long long)json_integer_value(json_object_get(counts, "trials")),
				 (long long)json_integer_value(json_object_get(counts, "ok")),
				 (long long)json_integer_value(json_object_get(counts, "failed")));
	rc = rc ? rc : ml_html_esc(&b, metric);
	rc = rc ? rc : sl__buf_printf(&b, " on valid, %s is better</p>", higher ? "higher" : "lower");
	rc = rc ? rc
		: sl__buf_printf(&b, "<div class=\"verdict good\">Best: trial %lld, ",
				 (long long)json_integer_value(json_object_get(best, "trial")));
	rc = rc ? rc : ml_html_esc(&b, metric);
	rc = rc ? rc : sl__buf_puts(&b, " = ");
	rc = rc ? rc : ml_html_num(&b, json_object_get(best, "metric"));
	rc = rc ? rc : sl__buf_puts(&b, " with ");
	{
		const json_t *bp = json_object_get(best, "params"), *pv;
		const char *pk;
		bool first = true;
		json_object_foreach((json_t *)bp, pk, pv) {
			rc = rc ? rc : sl__buf_puts(&b, first ? "" : ", ");
			rc = rc ? rc : ml_html_esc(&b, pk);
			rc = rc ? rc : sl__buf_puts(&b, " = ");
			rc = rc ? rc : json_is_real(pv) ? sl__buf_printf(&b, "%.6g", json_real_value(pv))
							: ml_html_esc_json(&b, pv);
			first = false;
		}
	}
	rc = rc ? rc : sl__buf_puts(&b, "</div><h2>Charts</h2><div class=\"charts\">");
	rc = rc ? rc : progress_chart(&b, rep, metric, higher);
	json_object_foreach((json_t *)space, k, sv)
		rc = rc ? rc : option_chart(&b, rep, k, sv, metric);
	rc = rc ? rc : importance_chart(&b, rep);
	rc = rc ? rc : sl__buf_puts(&b, "</div>");
	rc = rc ? rc : trials_table(&b, rep, metric, higher);
	rc = rc ? rc : ml_html_page_end(&b);
	if (rc) {
		sl__buf_free(&b);
		return rc;
	}
	*out = sl__buf_detach(&b);
	return 0;
}
