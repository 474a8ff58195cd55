/*
 * The HTML building blocks every report page draws with (html.h): escaped
 * text, numbers, and small inline-SVG charts. Shared by evaluate's report
 * (report_html.c), the tune report (tune_html.c) and runs compare.
 *
 * Invariants:
 *  1. Self-contained output: inline CSS and SVG; no script, font, image or
 *     URL, so a page opens offline and in a mail client.
 *  2. Every string that comes from data goes through ml_html_esc: a page
 *     cannot be made to run or load anything by what it describes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/html.h"

const char *const ml_html_palette[ML_HTML_PALETTE_N] = {"#2b6cb0", "#dd6b20", "#38a169",
					       "#805ad5", "#c53030", "#319795"};

const char ml_html_css[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1a202c;"
	"max-width:1180px;margin:24px auto;padding:0 16px}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
	"border-bottom:1px solid #e2e8f0;padding-bottom:4px}"
	".sub{color:#4a5568;margin:0 0 16px}"
	".verdict{padding:12px 16px;border-radius:6px;margin:12px 0;font-size:15px}"
	".good{background:#f0fff4;border-left:5px solid #38a169}"
	".bad{background:#fff5f5;border-left:5px solid #c53030}"
	".neutral{background:#f7fafc;border-left:5px solid #718096}"
	"table{border-collapse:collapse;margin:6px 0}"
	"th,td{padding:4px 10px;border-bottom:1px solid #edf2f7;text-align:right}"
	"th:first-child,td:first-child{text-align:left}"
	"tr.main td{font-weight:600;background:#ebf8ff}"
	".charts{display:flex;flex-wrap:wrap;gap:12px}"
	"figure{margin:0;border:1px solid #e2e8f0;border-radius:6px;padding:6px}"
	"figcaption{font-size:12px;color:#4a5568;text-align:center}"
	"svg text{font:11px system-ui,sans-serif;fill:#2d3748}"
	".axis{stroke:#a0aec0;stroke-width:1}.grid{stroke:#edf2f7;stroke-width:1}"
	".ref{stroke:#a0aec0;stroke-dasharray:4 3;fill:none}"
	"ul.notes{color:#4a5568}";

/* ---- text ---------------------------------------------------------------------- */

/* Invariant 2: the only way report text reaches the page. */
int ml_html_esc(sl__buf *b, const char *s)
{
	int rc = 0;

	for (; s && *s && !rc; s++) {
		switch (*s) {
		case '&':
			rc = sl__buf_puts(b, "&amp;");
			break;
		case '<':
			rc = sl__buf_puts(b, "&lt;");
			break;
		case '>':
			rc = sl__buf_puts(b, "&gt;");
			break;
		case '"':
			rc = sl__buf_puts(b, "&quot;");
			break;
		case '\'':
			rc = sl__buf_puts(b, "&#39;");
			break;
		default:
			rc = sl__buf_putc(b, *s);
		}
	}
	return rc;
}

/* Any JSON value as escaped text: strings as they are, the rest compact. */
int ml_html_esc_json(sl__buf *b, const json_t *v)
{
	char *t;
	int rc;

	if (!v)
		return 0; /* a field the data does not have: nothing to show */
	if (json_is_string(v))
		return ml_html_esc(b, json_string_value(v));
	t = sl__json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	rc = t ? ml_html_esc(b, t) : sl__oom();
	free(t);
	return rc;
}

int ml_html_num(sl__buf *b, const json_t *v)
{
	if (!json_is_number(v))
		return sl__buf_puts(b, "&ndash;");
	return sl__buf_printf(b, "%.4g", json_number_value(v));
}

double ml_html_dnum(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* ---- charts ------------------------------------------------------------------------ */


double ml_chart_x(const ml_chart *c, double x)
{
	return ML_CHART_ML + (x - c->x0) / (c->x1 - c->x0) * (ML_CHART_W - ML_CHART_ML - ML_CHART_MR);
}

double ml_chart_y(const ml_chart *c, double y)
{
	return ML_CHART_H - ML_CHART_MB - (y - c->y0) / (c->y1 - c->y0) * (ML_CHART_H - ML_CHART_MT - ML_CHART_MB);
}

/* A "nice" tick step for a range: 1, 2 or 5 times a power of ten. */
static double tick_step(double range)
{
	double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;

	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* Widens [lo, hi] to something drawable. */
void ml_chart_span(double *lo, double *hi)
{
	if (!isfinite(*lo) || !isfinite(*hi)) {
		*lo = 0;
		*hi = 1;
	}
	if (*hi - *lo < 1e-12 * (fabs(*lo) + 1)) {
		*lo -= 0.5;
		*hi += 0.5;
	}
}

int ml_chart_begin(ml_chart *c, sl__buf *b, const char *title, const char *xlab,
		       const char *ylab, double x0, double x1, double y0, double y1)
{
	int rc;

	ml_chart_span(&x0, &x1);
	ml_chart_span(&y0, &y1);
	c->b = b;
	c->x0 = x0;
	c->x1 = x1;
	c->y0 = y0;
	c->y1 = y1;
	rc = sl__buf_printf(b, "<figure><svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
			       "role=\"img\"><text x=\"%d\" y=\"16\" font-weight=\"600\">",
			    ML_CHART_W, ML_CHART_H, ML_CHART_W, ML_CHART_H, ML_CHART_ML);
	rc = rc ? rc : ml_html_esc(b, title);
	rc = rc ? rc : sl__buf_puts(b, "</text>");
	for (int axis = 0; !rc && axis < 2; axis++) {
		double lo = axis ? y0 : x0, hi = axis ? y1 : x1, st = tick_step(hi - lo);
		for (double t = ceil(lo / st) * st; !rc && t <= hi + st * 1e-9; t += st) {
			double tv = fabs(t) < st * 1e-9 ? 0 : t;
			if (axis)
				rc = sl__buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" "
						       "y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%d\" "
						       "y=\"%.1f\" text-anchor=\"end\">%.3g</text>",
						    ML_CHART_ML, ML_CHART_W - ML_CHART_MR, ml_chart_y(c, tv), ml_chart_y(c, tv), ML_CHART_ML - 4,
						    ml_chart_y(c, tv) + 4, tv);
			else
				rc = sl__buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" "
						       "y1=\"%d\" y2=\"%d\"/><text x=\"%.1f\" y=\"%d\" "
						       "text-anchor=\"middle\">%.3g</text>",
						    ml_chart_x(c, tv), ml_chart_x(c, tv), ML_CHART_MT, ML_CHART_H - ML_CHART_MB, ml_chart_x(c, tv),
						    ML_CHART_H - ML_CHART_MB + 14, tv);
		}
	}
	rc = rc ? rc
		: sl__buf_printf(b, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>"
				    "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>"
				    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
				 ML_CHART_ML, ML_CHART_W - ML_CHART_MR, ML_CHART_H - ML_CHART_MB, ML_CHART_H - ML_CHART_MB, ML_CHART_ML, ML_CHART_ML, ML_CHART_MT, ML_CHART_H - ML_CHART_MB, (ML_CHART_ML + ML_CHART_W - ML_CHART_MR) / 2,
				 ML_CHART_H - 8);
	rc = rc ? rc : ml_html_esc(b, xlab);
	rc = rc ? rc
		: sl__buf_printf(b, "</text><text transform=\"translate(13 %d) rotate(-90)\" "
				    "text-anchor=\"middle\">",
				 (ML_CHART_MT + ML_CHART_H - ML_CHART_MB) / 2);
	rc = rc ? rc : ml_html_esc(b, ylab);
	return rc ? rc : sl__buf_puts(b, "</text>");
}

int ml_chart_end(ml_chart *c, const char *caption)
{
	int rc = sl__buf_puts(c->b, "</svg><figcaption>");

	rc = rc ? rc : ml_html_esc(c->b, caption);
	return rc ? rc : sl__buf_puts(c->b, "</figcaption></figure>");
}

/* A polyline through [x, y] pairs of arr (pairs with a non-number skipped). */
int ml_chart_pairs(ml_chart *c, const json_t *arr, const char *color, bool dots)
{
	size_t i;
	json_t *pt;
	int rc = sl__buf_printf(c->b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
				      "points=\"",
				color);

	json_array_foreach(arr, i, pt) {
		double x = ml_html_dnum(json_array_get(pt, 0)), y = ml_html_dnum(json_array_get(pt, 1));
		if (!rc && isfinite(x) && isfinite(y))
			rc = sl__buf_printf(c->b, "%.1f,%.1f ", ml_chart_x(c, x), ml_chart_y(c, y));
	}
	rc = rc ? rc : sl__buf_puts(c->b, "\"/>");
	if (dots)
		json_array_foreach(arr, i, pt) {
			double x = ml_html_dnum(json_array_get(pt, 0)), y = ml_html_dnum(json_array_get(pt, 1));
			if (!rc && isfinite(x) && isfinite(y))
				rc = sl__buf_printf(c->b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
							  "fill=\"%s\"/>",
						    ml_chart_x(c, x), ml_chart_y(c, y), color);
		}
	return rc;
}

int ml_chart_line(ml_chart *c, double x0, double y0, double x1, double y1, const char *cls)
{
	return sl__buf_printf(c->b, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				    "y2=\"%.1f\"/>",
			      cls, ml_chart_x(c, x0), ml_chart_y(c, y0), ml_chart_x(c, x1), ml_chart_y(c, y1));
}

int ml_chart_legend(ml_chart *c, int slot, const char *color, const char *label)
{
	int y = ML_CHART_MT + 6 + 14 * slot;
	int rc = sl__buf_printf(c->b, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
				      "fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
				ML_CHART_W - ML_CHART_MR - 120, y - 9, color, ML_CHART_W - ML_CHART_MR - 106, y);

	rc = rc ? rc : ml_html_esc(c->b, label);
	return rc ? rc : sl__buf_puts(c->b, "</text>");
}

int ml_html_page_begin(sl__buf *b, const char *title)
{
	int rc = sl__buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
				 "<meta name=\"viewport\" content=\"width=device-width\"><title>");

	rc = rc ? rc : ml_html_esc(b, title);
	rc = rc ? rc : sl__buf_printf(b, "</title><style>%s</style></head><body><h1>", ml_html_css);
	rc = rc ? rc : ml_html_esc(b, title);
	return rc ? rc : sl__buf_puts(b, "</h1>");
}

int ml_html_page_end(sl__buf *b)
{
	return sl__buf_puts(b, "</body></html>\n");
}
