/*
 * HTML building blocks for report pages (html.c): escaped text, numbers,
 * and small inline-SVG charts in one style. evaluate's report, the tune
 * report and `sluice runs compare --html` draw with them; prefix ml_html_
 * and ml_chart_. Every function appends to b and returns 0 or SL_ENOMEM
 * (the buffer's maximum reached).
 */
#ifndef SLUICE_ML_HTML_H
#define SLUICE_ML_HTML_H

#include <stdbool.h>

#include <jansson.h>

#include "core.h"

/* A chart's size and margins, in pixels. */
#define ML_CHART_W 380
#define ML_CHART_H 270
#define ML_CHART_ML 52
#define ML_CHART_MR 16
#define ML_CHART_MT 28
#define ML_CHART_MB 44
#define ML_HTML_PALETTE_N 6

extern const char *const ml_html_palette[ML_HTML_PALETTE_N];
extern const char ml_html_css[];

/* The page's head (title, the shared style) and its first heading; and its end. */
int ml_html_page_begin(sl__buf *b, const char *title);
int ml_html_page_end(sl__buf *b);

/* Text from data, escaped: the only way it reaches a page. */
int ml_html_esc(sl__buf *b, const char *s);
/* Any JSON value as escaped text: strings as they are, the rest compact; NULL as nothing. */
int ml_html_esc_json(sl__buf *b, const json_t *v);
/* A number with 4 significant digits, or a dash for anything else. */
int ml_html_num(sl__buf *b, const json_t *v);
/* A JSON number's value, NaN for anything else. */
double ml_html_dnum(const json_t *v);

/* A chart being drawn: data coordinates [x0, x1] x [y0, y1] on the SVG. */
typedef struct ml_chart {
	sl__buf *b;
	double x0, x1, y0, y1;
} ml_chart;

/* Opens a chart with its title, axis labels, grid and ticks (a degenerate range is widened). */
int ml_chart_begin(ml_chart *c, sl__buf *b, const char *title, const char *xlab,
		   const char *ylab, double x0, double x1, double y0, double y1);
/* Closes it, with a caption under it. */
int ml_chart_end(ml_chart *c, const char *caption);
/* Widens [lo, hi] to something drawable (non-finite: [0, 1]; empty: +-0.5). */
void ml_chart_span(double *lo, double *hi);
/* Data coordinates to SVG pixels. */
double ml_chart_x(const ml_chart *c, double x);
double ml_chart_y(const ml_chart *c, double y);
/* A polyline through the [x, y] pairs of arr (dots at each point when asked). */
int ml_chart_pairs(ml_chart *c, const json_t *arr, const char *color, bool dots);
/* A line between two data points, of CSS class cls (axis, grid, ref). */
int ml_chart_line(ml_chart *c, double x0, double y0, double x1, double y1, const char *cls);
/* Legend entry number slot, top right. */
int ml_chart_legend(ml_chart *c, int slot, const char *color, const char *label);

#endif
