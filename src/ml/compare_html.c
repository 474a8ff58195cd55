/*
 * Runs compared, as one HTML page (compare_html.h): a chart of each metric
 * across the runs (the best marked), then the table of options and metrics
 * that differ, best values in bold. The dashboard draws the same charts.
 *
 * Invariants: those of html.c (self-contained, every string escaped).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ml/compare_html.h"
#include "ml/html.h"

static bool is_best(const json_t *row, size_t i)
{
	size_t k;
	const json_t *v;

	json_array_foreach(json_object_get(row, "best"), k, v)
		if (json_integer_value(v) == (json_int_t)i)
			return true;
	return false;
}

static const char *short_id(const json_t *run, char *buf, size_t size)
{
	snprintf(buf, size, "%.12s", json_string_value(json_object_get(run, "run")) ?: "?");
	return buf;
}

/* One metric across the runs: a dot per run joined by a line, the best ringed. */
static int metric_chart(sl__buf *b, const json_t *row, size_t n_runs)
{
	const json_t *vals = json_object_get(row, "values"), *v;
	json_t *pts = json_array();
	double lo = INFINITY, hi = -INFINITY;
	char title[600];
	size_t i;
	ml_chart c;
	int rc;

	if (!pts)
		return sl__oom();
	json_array_foreach(vals, i, v)
		if (json_is_number(v)) {
			lo = fmin(lo, json_number_value(v));
			hi = fmax(hi, json_number_value(v));
			if (json_array_append_new(pts, json_pack("[f, f]", (double)i,
								 json_number_value(v))) != 0) {
				json_decref(pts);
				return sl__oom();
			}
		}
	if (!isfinite(lo)) {
		json_decref(pts);
		return 0;
	}
	snprintf(title, sizeof title, "%s%s%s",
		 json_string_value(json_object_get(row, "step")) ?: "",
		 json_is_string(json_object_get(row, "step")) ? "." : "",
		 json_string_value(json_object_get(row, "name")) ?: "");
	rc = ml_chart_begin(&c, b, title, "run (in the order given)", "value", -0.5,
			    (double)n_runs - 0.5, lo, hi);
	rc = rc ? rc : ml_chart_pairs(&c, pts, ml_html_palette[0], true);
	json_array_foreach(vals, i, v)
		if (!rc && json_is_number(v) && is_best(row, i))
			rc = sl__buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"7\" fill=\"none\" "
					       "stroke=\"%s\" stroke-width=\"2\"/>",
					    ml_chart_x(&c, (double)i),
					    ml_chart_y(&c, json_number_value(v)), ml_html_palette[2]);
	json_decref(pts);
	snprintf(title, sizeof title, "%s is better; the best ringed",
		 json_string_value(json_object_get(row, "direction")) ?: "neither");
	if (!strcmp(json_string_value(json_object_get(row, "direction")) ?: "", "neither"))
		snprintf(title, sizeof title, "no direction is known for this metric");
	return rc ? rc : ml_chart_end(&c, title);
}

static int rows_table(sl__buf *b, const char *heading, const json_t *rows, const json_t *runs)
{
	const json_t *row, *v;
	size_t i, k;
	char id[16];
	int rc;

	if (json_array_size(rows) == 0)
		return 0;
	rc = sl__buf_puts(b, "<h2>");
	rc = rc ? rc : ml_html_esc(b, heading);
	rc = rc ? rc : sl__buf_puts(b, "</h2><table><tr><th>step</th><th>name</th>");
	json_array_foreach(runs, k, v) {
		rc = rc ? rc : sl__buf_puts(b, "<th>");
		rc = rc ? rc : ml_html_esc(b, short_id(v, id, sizeof id));
		rc = rc ? rc : sl__buf_puts(b, "</th>");
	}
	rc = rc ? rc : sl__buf_puts(b, "</tr>");
	json_array_foreach(rows, i, row) {
		const json_t *step = json_object_get(row, "step");
		rc = rc ? rc : sl__buf_puts(b, "<tr><td>");
		rc = rc ? rc : json_is_string(step) ? ml_html_esc_json(b, step) : sl__buf_puts(b, "(run)");
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		rc = rc ? rc : ml_html_esc_json(b, json_object_get(row, "name"));
		rc = rc ? rc : sl__buf_puts(b, "</td>");
		json_array_foreach(json_object_get(row, "values"), k, v) {
			bool best = is_best(row, k);
			rc = rc ? rc : sl__buf_puts(b, best ? "<td><b>" : "<td>");
			rc = rc ? rc : json_is_number(v) ? ml_html_num(b, v) : ml_html_esc_json(b, v);
			rc = rc ? rc : sl__buf_puts(b, best ? "</b></td>" : "</td>");
		}
		rc = rc ? rc : sl__buf_puts(b, "</tr>");
	}
	return rc ? rc : sl__buf_puts(b, "</table>");
}

int ml_compare_html(const json_t *cmp, char **out)
{
	const json_t *runs = json_object_get(cmp, "runs"), *metrics = json_object_get(cmp, "metrics");
	const json_t *row, *r;
	size_t i, n = json_array_size(runs);
	char title[64], id[16];
	sl__buf b;
	int rc;

	*out = NULL;
	if (!json_is_array(runs) || !json_is_array(metrics) ||
	    !json_is_array(json_object_get(cmp, "params")))
		return sl__err(SL_EINVAL, "not a comparison of runs (runs, params, metrics)");
	snprintf(title, sizeof title, "%zu runs compared", n);
	sl__buf_init(&b, 64u << 20);
	rc = ml_html_page_begin(&b, title);
	rc = rc ? rc : sl__buf_puts(&b, "<p class=\"sub\">");
	json_array_foreach(runs, i, r) {
		rc = rc ? rc : sl__buf_printf(&b, "%s%zu: ", i ? " &middot; " : "", i);
		rc = rc ? rc : ml_html_esc(&b, short_id(r, id, sizeof id));
		rc = rc ? rc : sl__buf_puts(&b, " (");
		rc = rc ? rc : ml_html_esc_json(&b, json_object_get(r, "pipeline"));
		rc = rc ? rc : sl__buf_puts(&b, ", ");
		rc = rc ? rc : ml_html_esc_json(&b, json_object_get(r, "started"));
		rc = rc ? rc : sl__buf_puts(&b, ")");
	}
	rc = rc ? rc : sl__buf_puts(&b, "</p>");
	if (json_array_size(metrics)) {
		rc = rc ? rc : sl__buf_puts(&b, "<h2>Metrics across the runs</h2><div class=\"charts\">");
		json_array_foreach(metrics, i, row)
			rc = rc ? rc : metric_chart(&b, row, n);
		rc = rc ? rc : sl__buf_puts(&b, "</div>");
	}
	rc = rc ? rc : rows_table(&b, "Metrics (best in bold)", metrics, runs);
	rc = rc ? rc : rows_table(&b, "Parameters and options", json_object_get(cmp, "params"), runs);
	rc = rc ? rc : ml_html_page_end(&b);
	if (rc) {
		sl__buf_free(&b);
		return rc;
	}
	*out = sl__buf_detach(&b);
	return 0;
}
