/*
 * The evaluation report as one HTML page (eval.h): rendered from the
 * report's JSON when it is exported, so the artifact stays the JSON the
 * gates read and the page can improve without re-running anything.
 *
 * Invariants:
 *  1. Self-contained: inline CSS and inline SVG; no script, no font, no
 *     image, no URL of any kind, so it opens offline and in a mail client.
 *  2. Every string that comes from the report (class labels, column and
 *     feature names, group values, notes) goes through ml_html_esc(): the page
 *     cannot be made to run or load anything by the data it describes.
 *  3. Missing sections are skipped, never drawn empty: the page shows what
 *     the report holds for the task at hand.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/eval.h"
#include "ml/html.h"

/* ---- sections ----------------------------------------------------------------------- */

static int metrics_table(sl__buf *b, const json_t *rep)
{
	const json_t *m = json_object_get(rep, "metrics"), *base = json_object_get(rep, "baseline");
	const json_t *champ = json_object_get(rep, "champion");
	const json_t *delta = json_object_get(rep, "champion_delta");
	const char *main_name = json_string_value(
		json_object_get(json_object_get(rep, "main_metric"), "name"));
	const char *key;
	json_t *v;
	int rc = sl__buf_puts(b, "<h2>Metrics</h2><table><tr><th>metric</th><th>model</th>");

	if (!rc && base)
		rc = sl__buf_puts(b, "<th>baseline</th>");
	if (!rc && champ)
		rc = sl__buf_puts(b, "<th>champion</th><th>model &minus; champion</th>");
	rc = rc ? rc : sl__buf_puts(b, "</tr>");
	json_object_foreach((json_t *)m, key, v) {
		if (rc)
			break;
		rc = sl__buf_printf(b, "<tr%s><td>",
				    main_name && !strcmp(key, main_name) ? " class=\"main\"" : "");
		rc = rc ? rc : ml_html_esc(b, key);
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		rc = rc ? rc : ml_html_num(b, v);
		if (!rc && base) {
			rc = sl__buf_puts(b, "</td><td>");
			rc = rc ? rc : ml_html_num(b, json_object_get(base, key));
		}
		if (!rc && champ) {
			rc = sl__buf_puts(b, "</td><td>");
			rc = rc ? rc : ml_html_num(b, json_object_get(champ, key));
			rc = rc ? rc : sl__buf_puts(b, "</td><td>");
			rc = rc ? rc : ml_html_num(b, json_object_get(delta, key));
		}
		rc = rc ? rc : sl__buf_puts(b, "</td></tr>");
	}
	return rc ? rc : sl__buf_puts(b, "</table>");
}

static int curve_charts(sl__buf *b, const json_t *rep)
{
	const json_t *cv = json_object_get(rep, "curves"), *roc = json_object_get(cv, "roc");
	const json_t *pr = json_object_get(cv, "pr");
	const json_t *cal = json_object_get(json_object_get(cv, "calibration"), "bins");
	const json_t *m = json_object_get(rep, "metrics");
	char cap[96];
	ml_chart c;
	int rc = 0;

	if (json_array_size(roc)) {
		snprintf(cap, sizeof cap, "ROC AUC %.4g", ml_html_dnum(json_object_get(m, "roc_auc")));
		rc = ml_chart_begin(&c, b, "ROC curve", "false positive rate", "true positive rate", 0, 1,
				 0, 1);
		rc = rc ? rc : ml_chart_line(&c, 0, 0, 1, 1, "ref");
		rc = rc ? rc : ml_chart_pairs(&c, roc, ml_html_palette[0], false);
		rc = rc ? rc : ml_chart_end(&c, cap);
	}
	if (!rc && json_array_size(pr)) {
		double prev = ml_html_dnum(json_object_get(cv, "pr_prevalence"));
		snprintf(cap, sizeof cap, "average precision %.4g", ml_html_dnum(json_object_get(m, "pr_auc")));
		rc = ml_chart_begin(&c, b, "Precision-recall curve", "recall", "precision", 0, 1, 0, 1);
		if (!rc && isfinite(prev))
			rc = ml_chart_line(&c, 0, prev, 1, prev, "ref");
		rc = rc ? rc : ml_chart_pairs(&c, pr, ml_html_palette[1], false);
		rc = rc ? rc : ml_chart_end(&c, cap);
	}
	if (!rc && json_array_size(cal)) {
		json_t *pts = json_array(), *bin;
		size_t i;
		json_array_foreach(cal, i, bin) {
			double x = ml_html_dnum(json_object_get(bin, "mean_predicted"));
			double y = ml_html_dnum(json_object_get(bin, "fraction_positive"));
			if (pts && isfinite(x) && isfinite(y))
				json_array_append_new(pts, json_pack("[f, f]", x, y));
		}
		snprintf(cap, sizeof cap, "expected calibration error %.4g",
			 ml_html_dnum(json_object_get(m, "ece")));
		rc = pts ? ml_chart_begin(&c, b, "Calibration", "mean predicted probability",
				       "observed frequency", 0, 1, 0, 1)
			 : sl__oom();
		rc = rc ? rc : ml_chart_line(&c, 0, 0, 1, 1, "ref");
		rc = rc ? rc : ml_chart_pairs(&c, pts, ml_html_palette[2], true);
		rc = rc ? rc : ml_chart_end(&c, cap);
		json_decref(pts);
	}
	return rc;
}

/* The confusion matrix as a grid of squares shaded by each row's share. */
static int confusion_chart(sl__buf *b, const json_t *rep)
{
	const json_t *cm = json_object_get(rep, "confusion_matrix");
	const json_t *labels = json_object_get(cm, "labels"), *counts = json_object_get(cm, "counts");
	size_t k = json_array_size(labels);
	int cell, size, rc;

	if (k == 0 || k > 30 || json_array_size(counts) != k)
		return 0;
	cell = (int)(260 / k);
	size = 110 + cell * (int)k;
	rc = sl__buf_printf(b, "<figure><svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
			       "role=\"img\"><text x=\"8\" y=\"16\" font-weight=\"600\">Confusion "
			       "matrix</text><text x=\"%d\" y=\"40\" text-anchor=\"middle\">"
			       "predicted</text>",
			    size, size, size, size, 100 + cell * (int)k / 2);
	for (size_t a = 0; !rc && a < k; a++) {
		const json_t *row = json_array_get(counts, a);
		double tot = 0;
		for (size_t j = 0; j < k; j++)
			tot += ml_html_dnum(json_array_get(row, j));
		rc = sl__buf_printf(b, "<text x=\"96\" y=\"%d\" text-anchor=\"end\">",
				    62 + cell * (int)a + cell / 2 + 4);
		rc = rc ? rc : ml_html_esc_json(b, json_array_get(labels, a));
		rc = rc ? rc : sl__buf_printf(b, "</text><text x=\"%d\" y=\"56\" "
						 "text-anchor=\"middle\">",
					      100 + cell * (int)a + cell / 2);
		rc = rc ? rc : ml_html_esc_json(b, json_array_get(labels, a));
		rc = rc ? rc : sl__buf_puts(b, "</text>");
		for (size_t j = 0; !rc && j < k; j++) {
			double v = ml_html_dnum(json_array_get(row, j)), share = tot > 0 ? v / tot : 0;
			rc = sl__buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
					       "fill=\"%s\" fill-opacity=\"%.3f\" stroke=\"#fff\"/>"
					       "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.0f</text>",
					    100 + cell * (int)j, 62 + cell * (int)a, cell, cell,
					    a == j ? ml_html_palette[2] : ml_html_palette[4], 0.08 + 0.8 * share,
					    100 + cell * (int)j + cell / 2, 62 + cell * (int)a + cell / 2 + 4,
					    v);
		}
	}
	rc = rc ? rc : sl__buf_puts(b, "</svg><figcaption>rows: actual; shade: share of the "
				       "row</figcaption></figure>");
	return rc;
}

static int per_class_table(sl__buf *b, const json_t *rep)
{
	const json_t *pc = json_object_get(rep, "per_class"), *c;
	size_t i;
	int rc;

	if (!json_array_size(pc))
		return 0;
	rc = sl__buf_puts(b, "<table><tr><th>class</th><th>support</th><th>precision</th>"
			     "<th>recall</th><th>F1</th></tr>");
	json_array_foreach(pc, i, c) {
		rc = rc ? rc : sl__buf_puts(b, "<tr><td>");
		rc = rc ? rc : ml_html_esc_json(b, json_object_get(c, "class"));
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		rc = rc ? rc : ml_html_num(b, json_object_get(c, "support"));
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		rc = rc ? rc : ml_html_num(b, json_object_get(c, "precision"));
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		rc = rc ? rc : ml_html_num(b, json_object_get(c, "recall"));
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		rc = rc ? rc : ml_html_num(b, json_object_get(c, "f1"));
		rc = rc ? rc : sl__buf_puts(b, "</td></tr>");
	}
	return rc ? rc : sl__buf_puts(b, "</table>");
}

/* Bars of a histogram {lo, hi, counts}; a second one (may be NULL) overlaid. */
static int histogram_chart(sl__buf *b, const char *title, const char *xlab, const json_t *h,
			   const json_t *h2, const char *l1, const char *l2)
{
	const json_t *counts = json_object_get(h, "counts");
	double lo = ml_html_dnum(json_object_get(h, "lo")), hi = ml_html_dnum(json_object_get(h, "hi")), top = 0;
	size_t nb = json_array_size(counts);
	ml_chart c;
	int rc;

	if (nb == 0)
		return 0;
	for (size_t i = 0; i < nb; i++)
		top = fmax(top, ml_html_dnum(json_array_get(counts, i)));
	ml_chart_span(&lo, &hi);
	rc = ml_chart_begin(&c, b, title, xlab, "rows", lo, hi, 0, top > 0 ? top * 1.05 : 1);
	for (int s = 0; !rc && s < (h2 ? 2 : 1); s++) {
		const json_t *cn = json_object_get(s ? h2 : h, "counts");
		for (size_t i = 0; !rc && i < nb; i++) {
			double v = ml_html_dnum(json_array_get(cn, i)), w = (hi - lo) / (double)nb;
			double x = lo + w * (double)i;
			if (!(v > 0))
				continue;
			rc = sl__buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
					       "height=\"%.1f\" fill=\"%s\" fill-opacity=\"%s\"/>",
					    ml_chart_x(&c, x), ml_chart_y(&c, v), ml_chart_x(&c, x + w) - ml_chart_x(&c, x) - 1,
					    ml_chart_y(&c, 0) - ml_chart_y(&c, v), ml_html_palette[s ? 4 : 0], s ? "0.8" : "0.5");
		}
	}
	if (!rc && h2)
		rc = ml_chart_legend(&c, 0, ml_html_palette[0], l1);
	if (!rc && h2)
		rc = ml_chart_legend(&c, 1, ml_html_palette[4], l2);
	return rc ? rc : ml_chart_end(&c, "");
}

static int residual_charts(sl__buf *b, const json_t *rep)
{
	const json_t *r = json_object_get(rep, "residuals"), *pts = json_object_get(r, "points"), *pt;
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	ml_chart c;
	size_t i;
	int rc = 0;

	if (!json_array_size(pts))
		return 0;
	json_array_foreach(pts, i, pt) {
		double x = ml_html_dnum(json_array_get(pt, 0)), y = ml_html_dnum(json_array_get(pt, 1));
		x0 = fmin(x0, x);
		x1 = fmax(x1, x);
		y0 = fmin(y0, y);
		y1 = fmax(y1, y);
	}
	rc = ml_chart_begin(&c, b, "Residuals", "predicted", "actual - predicted", x0, x1, y0, y1);
	if (!rc && y0 <= 0 && y1 >= 0)
		rc = ml_chart_line(&c, c.x0, 0, c.x1, 0, "ref");
	json_array_foreach(pts, i, pt) {
		double x = ml_html_dnum(json_array_get(pt, 0)), y = ml_html_dnum(json_array_get(pt, 1));
		if (!rc && isfinite(x) && isfinite(y))
			rc = sl__buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\" "
					       "fill-opacity=\"0.6\"/>",
					    ml_chart_x(&c, x), ml_chart_y(&c, y), ml_html_palette[0]);
	}
	rc = rc ? rc : ml_chart_end(&c, "a sample of the test rows");
	return rc ? rc
		  : histogram_chart(b, "Residuals, distribution", "actual - predicted",
				    json_object_get(r, "histogram"), NULL, NULL, NULL);
}

/* One series of a forecast: actual and forecast lines over the 80% and 95% bands. */
static int forecast_chart(sl__buf *b, const json_t *series)
{
	const json_t *pts = json_object_get(series, "points"), *pt;
	static const char *const band[2][2] = {{"lo95", "hi95"}, {"lo80", "hi80"}};
	static const char *const lines[] = {"actual", "forecast", "baseline"};
	size_t n = json_array_size(pts), i;
	double y0 = INFINITY, y1 = -INFINITY;
	sl__buf title;
	ml_chart c;
	int rc;

	if (n == 0)
		return 0;
	json_array_foreach(pts, i, pt) {
		static const char *const keys[] = {"actual", "forecast", "lo95", "hi95", "baseline"};
		for (size_t k = 0; k < SL__ARRAY_LEN(keys); k++) {
			double v = ml_html_dnum(json_object_get(pt, keys[k]));
			if (isfinite(v)) {
				y0 = fmin(y0, v);
				y1 = fmax(y1, v);
			}
		}
	}
	sl__buf_init(&title, 4096);
	rc = sl__buf_puts(&title, "Forecast");
	if (!rc && json_is_string(json_object_get(series, "label")) &&
	    *json_string_value(json_object_get(series, "label"))) {
		rc = sl__buf_printf(&title, ": %s", json_string_value(json_object_get(series, "label")));
	} else if (!rc && json_object_get(series, "key") &&
		   !json_is_null(json_object_get(series, "key"))) {
		char *k = sl__json_dumps(json_object_get(series, "key"), JSON_COMPACT | JSON_ENCODE_ANY);
		rc = k ? sl__buf_printf(&title, ": %s", json_is_string(json_object_get(series, "key"))
							    ? json_string_value(json_object_get(series, "key"))
							    : k)
		       : sl__oom();
		free(k);
	}
	rc = rc ? rc
		: ml_chart_begin(&c, b, title.data, "time step", "value", 0,
			      n > 1 ? (double)(n - 1) : 1, y0, y1);
	sl__buf_free(&title);
	for (int bd = 0; !rc && bd < 2; bd++) {
		/* The band as one polygon: up along hi, back along lo. */
		rc = sl__buf_printf(b, "<polygon fill=\"%s\" fill-opacity=\"%s\" stroke=\"none\" "
				       "points=\"",
				    ml_html_palette[0], bd ? "0.25" : "0.12");
		for (size_t a = 0; !rc && a < 2 * n; a++) {
			size_t idx = a < n ? a : 2 * n - 1 - a;
			double v = ml_html_dnum(json_object_get(json_array_get(pts, idx), band[bd][a < n ? 1 : 0]));
			if (isfinite(v))
				rc = sl__buf_printf(b, "%.1f,%.1f ", ml_chart_x(&c, (double)idx), ml_chart_y(&c, v));
		}
		rc = rc ? rc : sl__buf_puts(b, "\"/>");
	}
	for (size_t l = 0; !rc && l < SL__ARRAY_LEN(lines); l++) {
		json_t *xy = json_array();
		json_array_foreach(pts, i, pt) {
			double v = ml_html_dnum(json_object_get(pt, lines[l]));
			if (xy && isfinite(v))
				json_array_append_new(xy, json_pack("[f, f]", (double)i, v));
		}
		if (!xy)
			rc = sl__oom();
		if (!rc && json_array_size(xy)) {
			rc = ml_chart_pairs(&c, xy, l == 0 ? "#1a202c" : l == 1 ? ml_html_palette[0] : ml_html_palette[1],
					 l == 0);
			rc = rc ? rc : ml_chart_legend(&c, (int)l, l == 0 ? "#1a202c" : l == 1 ? ml_html_palette[0] : ml_html_palette[1], lines[l]);
		}
		json_decref(xy);
	}
	return rc ? rc : ml_chart_end(&c, "shaded: 80% and 95% prediction intervals");
}

static int forecast_charts(sl__buf *b, const json_t *rep)
{
	const json_t *series = json_object_get(json_object_get(rep, "forecast"), "series"), *s;
	size_t i;
	int rc = 0;

	json_array_foreach(series, i, s) {
		if (rc || i >= 6) /* the first few: the page is a summary */
			break;
		rc = forecast_chart(b, s);
	}
	return rc;
}

static int importance_chart(sl__buf *b, const json_t *rep)
{
	const json_t *imp = json_object_get(rep, "importance"), *f = json_object_get(imp, "features");
	size_t n = json_array_size(f), shown = n < 20 ? n : 20;
	double top = 0, bottom = 0;
	int rows_h = 18, h, rc;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < shown; i++) {
		const json_t *e = json_array_get(f, i);
		double m = ml_html_dnum(json_object_get(e, "mean")), s = ml_html_dnum(json_object_get(e, "std"));
		top = fmax(top, m + (isfinite(s) ? s : 0));
		bottom = fmin(bottom, m - (isfinite(s) ? s : 0));
	}
	if (!(top > bottom))
		top = bottom + 1;
	h = 50 + rows_h * (int)shown;
	rc = sl__buf_printf(b, "<figure><svg width=\"560\" height=\"%d\" viewBox=\"0 0 560 %d\" "
			       "role=\"img\"><text x=\"8\" y=\"16\" font-weight=\"600\">Permutation "
			       "importance (drop in ",
			    h, h);
	rc = rc ? rc : ml_html_esc_json(b, json_object_get(imp, "metric"));
	rc = rc ? rc : sl__buf_puts(b, ")</text>");
	for (size_t i = 0; !rc && i < shown; i++) {
		const json_t *e = json_array_get(f, i);
		double m = ml_html_dnum(json_object_get(e, "mean")), s = ml_html_dnum(json_object_get(e, "std"));
		double x0 = 180 + (0 - bottom) / (top - bottom) * 340;
		double xm = 180 + (m - bottom) / (top - bottom) * 340;
		int y = 30 + rows_h * (int)i;
		rc = sl__buf_printf(b, "<text x=\"174\" y=\"%d\" text-anchor=\"end\">", y + 12);
		rc = rc ? rc : ml_html_esc_json(b, json_object_get(e, "name"));
		rc = rc ? rc
			: sl__buf_printf(b, "</text><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
					    "height=\"%d\" fill=\"%s\"/>",
					 fmin(x0, xm), y + 2, fabs(xm - x0), rows_h - 5,
					 m >= 0 ? ml_html_palette[0] : ml_html_palette[4]);
		if (!rc && isfinite(s) && s > 0)
			rc = sl__buf_printf(b, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" "
					       "y2=\"%d\"/>",
					    180 + (m - s - bottom) / (top - bottom) * 340,
					    180 + (m + s - bottom) / (top - bottom) * 340,
					    y + rows_h / 2, y + rows_h / 2);
		rc = rc ? rc
			: sl__buf_printf(b, "<text x=\"%.1f\" y=\"%d\">%.3g</text>", fmax(x0, xm) + 4,
					 y + 12, m);
	}
	rc = rc ? rc
		: sl__buf_printf(b, "</svg><figcaption>mean over %lld repeats; whiskers: one "
				    "standard deviation%s</figcaption></figure>",
				 (long long)json_integer_value(json_object_get(imp, "repeats")),
				 n > shown ? "; the 20 largest" : "");
	return rc;
}

static int fairness_section(sl__buf *b, const json_t *rep)
{
	static const char *const gaps[] = {"demographic_parity_difference",
					   "demographic_parity_ratio", "equal_opportunity_difference",
					   "equalized_odds_difference", "metric_difference"};
	const json_t *f = json_object_get(rep, "fairness"), *cols = json_object_get(f, "columns"), *col;
	const char *metric = json_string_value(json_object_get(f, "metric"));
	size_t i;
	int rc;

	if (!json_array_size(cols))
		return 0;
	rc = sl__buf_puts(b, "<h2>Fairness</h2>");
	json_array_foreach(cols, i, col) {
		static const char *const rates[] = {"selection_rate", "tpr", "fpr"};
		const json_t *groups = json_object_get(col, "groups"), *g;
		size_t ng = json_array_size(groups), j;
		bool has_rates = json_object_get(json_array_get(groups, 0), "selection_rate") != NULL;
		int h = 60 + 22 * (int)ng;
		rc = rc ? rc : sl__buf_puts(b, "<h3>");
		rc = rc ? rc : ml_html_esc_json(b, json_object_get(col, "column"));
		rc = rc ? rc : sl__buf_puts(b, "</h3><table><tr><th>group</th><th>count</th>");
		for (size_t r = 0; !rc && has_rates && r < 3; r++)
			rc = sl__buf_printf(b, "<th>%s</th>", rates[r]);
		if (!rc && metric) {
			rc = sl__buf_puts(b, "<th>");
			rc = rc ? rc : ml_html_esc(b, metric);
			rc = rc ? rc : sl__buf_puts(b, "</th>");
		}
		rc = rc ? rc : sl__buf_puts(b, "</tr>");
		json_array_foreach(groups, j, g) {
			rc = rc ? rc : sl__buf_puts(b, "<tr><td>");
			rc = rc ? rc : ml_html_esc_json(b, json_object_get(g, "group"));
			rc = rc ? rc : sl__buf_puts(b, "</td><td>");
			rc = rc ? rc : ml_html_num(b, json_object_get(g, "count"));
			for (size_t r = 0; !rc && has_rates && r < 3; r++) {
				rc = sl__buf_puts(b, "</td><td>");
				rc = rc ? rc : ml_html_num(b, json_object_get(g, rates[r]));
			}
			if (!rc && metric) {
				rc = sl__buf_puts(b, "</td><td>");
				rc = rc ? rc : ml_html_num(b, json_object_get(g, metric));
			}
			rc = rc ? rc : sl__buf_puts(b, "</td></tr>");
		}
		rc = rc ? rc : sl__buf_puts(b, "</table><table>");
		for (size_t k = 0; !rc && k < SL__ARRAY_LEN(gaps); k++) {
			if (!json_object_get(col, gaps[k]))
				continue;
			rc = sl__buf_printf(b, "<tr><td>%s</td><td>", gaps[k]);
			rc = rc ? rc : ml_html_num(b, json_object_get(col, gaps[k]));
			rc = rc ? rc : sl__buf_puts(b, "</td></tr>");
		}
		rc = rc ? rc : sl__buf_puts(b, "</table>");
		if (rc || ng == 0 || ng > 40)
			continue;
		/* Bars per group: the rates side by side on a 0 to 1 scale, or
		 * the main metric against the largest group's. */
		double scale = 1;
		if (!has_rates)
			json_array_foreach(groups, j, g) {
				double v = fabs(ml_html_dnum(json_object_get(g, metric)));
				if (isfinite(v) && v > scale)
					scale = v;
			}
		rc = sl__buf_printf(b, "<figure><svg width=\"560\" height=\"%d\" viewBox=\"0 0 560 %d\" "
				       "role=\"img\">",
				    h, h);
		json_array_foreach(groups, j, g) {
			int y = 30 + 22 * (int)j, nbar = has_rates ? 3 : 1;
			rc = rc ? rc : sl__buf_printf(b, "<text x=\"134\" y=\"%d\" text-anchor=\"end\">", y + 14);
			rc = rc ? rc : ml_html_esc_json(b, json_object_get(g, "group"));
			rc = rc ? rc : sl__buf_puts(b, "</text>");
			for (int r = 0; !rc && r < nbar; r++) {
				double v = ml_html_dnum(json_object_get(g, has_rates ? rates[r] : metric));
				if (!isfinite(v))
					continue;
				rc = sl__buf_printf(b, "<rect x=\"140\" y=\"%d\" width=\"%.1f\" "
						       "height=\"%d\" fill=\"%s\"/>",
						    y + 2 + r * (18 / nbar), fmax(0, fmin(1, v / scale)) * 360,
						    18 / nbar - 1, ml_html_palette[r]);
			}
		}
		for (int r = 0; !rc && has_rates && r < 3; r++)
			rc = sl__buf_printf(b, "<rect x=\"%d\" y=\"8\" width=\"10\" height=\"10\" "
					       "fill=\"%s\"/><text x=\"%d\" y=\"17\">%s</text>",
					    140 + 120 * r, ml_html_palette[r], 154 + 120 * r, rates[r]);
		rc = rc ? rc
			: sl__buf_printf(b, "</svg><figcaption>bars on a 0 to %.3g scale"
					    "</figcaption></figure>",
					 scale);
	}
	return rc;
}

static int amount_cell(sl__buf *b, const json_t *a)
{
	int rc = sl__buf_puts(b, "<td>");

	rc = rc ? rc : ml_html_num(b, json_object_get(a, "per_row"));
	rc = rc ? rc : sl__buf_puts(b, "</td><td>");
	rc = rc ? rc : ml_html_num(b, json_object_get(a, "total"));
	return rc ? rc : sl__buf_puts(b, "</td>");
}

static int cost_section(sl__buf *b, const json_t *rep)
{
	static const char *const rows[][2] = {{"model", "the model"},
					      {"baseline", "the baseline"},
					      {"nothing", "doing nothing"},
					      {"saving_vs_baseline", "saving against the baseline"},
					      {"saving_vs_nothing", "saving against doing nothing"}};
	const json_t *c = json_object_get(rep, "cost"), *t = json_object_get(c, "threshold");
	const json_t *val = json_object_get(c, "value");
	const json_t *ch = json_object_get(json_object_get(rep, "model"), "threshold_choice");
	int rc;

	if (!json_is_object(c))
		return 0;
	rc = sl__buf_puts(b, "<h2>Business cost</h2><p>source: ");
	rc = rc ? rc : ml_html_esc_json(b, json_object_get(c, "source"));
	rc = rc ? rc : sl__buf_puts(b, "</p><table><tr><th></th><th>per row</th><th>total</th></tr>");
	for (size_t r = 0; !rc && r < SL__ARRAY_LEN(rows); r++) {
		const json_t *a = json_object_get(c, rows[r][0]);
		if (!json_is_object(a))
			continue;
		rc = sl__buf_printf(b, "<tr><td>%s</td>", rows[r][1]);
		rc = rc ? rc : amount_cell(b, a);
		rc = rc ? rc : sl__buf_puts(b, "</tr>");
	}
	rc = rc ? rc : sl__buf_puts(b, "</table>");
	if (!rc && json_is_object(ch)) {
		rc = sl__buf_puts(b, "<p><strong>Decision threshold ");
		rc = rc ? rc : ml_html_num(b, json_object_get(ch, "threshold"));
		rc = rc ? rc : sl__buf_puts(b, "</strong>, chosen by these costs as the cheapest on the ");
		rc = rc ? rc : ml_html_num(b, json_object_get(ch, "n"));
		rc = rc ? rc : sl__buf_puts(b, " ");
		rc = rc ? rc : ml_html_esc_json(b, json_object_get(ch, "rows"));
		rc = rc ? rc : sl__buf_puts(b, " rows (cost per row there ");
		rc = rc ? rc : ml_html_num(b, json_object_get(ch, "cost_per_row"));
		rc = rc ? rc : sl__buf_puts(b, "); every number above is at that threshold.</p>");
	}
	if (!rc && json_is_object(t)) {
		rc = sl__buf_puts(b, "<p>Cheapest threshold on the test rows: ");
		rc = rc ? rc : ml_html_num(b, json_object_get(t, "threshold"));
		rc = rc ? rc : sl__buf_puts(b, " (cost per row ");
		rc = rc ? rc : ml_html_num(b, json_object_get(t, "cost_per_row"));
		rc = rc ? rc : sl__buf_puts(b, ", saving ");
		rc = rc ? rc : ml_html_num(b, json_object_get(t, "saving_per_row"));
		rc = rc ? rc : sl__buf_puts(b, " per row against the current ");
		rc = rc ? rc : ml_html_num(b, json_object_get(t, "current_threshold"));
		rc = rc ? rc : sl__buf_puts(b, "); for calibrated probabilities decision theory gives ");
		rc = rc ? rc : ml_html_num(b, json_object_get(t, "bayes_threshold"));
		rc = rc ? rc : sl__buf_puts(b, ".</p>");
	}
	if (!rc && json_is_object(val)) {
		const json_t *mv = json_object_get(val, "model");
		rc = sl__buf_puts(b, "<p>With a value of ");
		rc = rc ? rc : ml_html_num(b, json_object_get(val, "per_correct_decision"));
		rc = rc ? rc : sl__buf_puts(b, " per correct decision: net value per row ");
		rc = rc ? rc : ml_html_num(b, json_object_get(mv, "net_per_row"));
		rc = rc ? rc : sl__buf_puts(b, ", ROI ");
		rc = rc ? rc : ml_html_num(b, json_object_get(mv, "roi"));
		rc = rc ? rc : sl__buf_puts(b, ".</p>");
	}
	return rc;
}

int ml_report_html(const json_t *rep, char **out)
{
	const json_t *model = json_object_get(rep, "model"), *as = json_object_get(rep, "assessment");
	const json_t *notes = json_object_get(rep, "notes"), *an = json_object_get(rep, "anomaly"), *v;
	const json_t *worth = json_object_get(as, "worth_deploying");
	sl__buf b;
	size_t i;
	int rc;

	*out = NULL;
	if (!ml_report_is(rep))
		return sl__err(SL_EINVAL, "not an evaluation report");
	sl__buf_init(&b, 64u << 20);
	rc = sl__buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
				"<meta name=\"viewport\" content=\"width=device-width\">"
				"<title>Evaluation: ");
	rc = rc ? rc : ml_html_esc_json(&b, json_object_get(model, "algorithm"));
	rc = rc ? rc : sl__buf_printf(&b, "</title><style>%s</style></head><body><h1>Evaluation of a ",
				      ml_html_css);
	rc = rc ? rc : ml_html_esc_json(&b, json_object_get(model, "task"));
	rc = rc ? rc : sl__buf_puts(&b, " model (");
	rc = rc ? rc : ml_html_esc_json(&b, json_object_get(model, "algorithm"));
	rc = rc ? rc : sl__buf_puts(&b, ")</h1><p class=\"sub\">");
	if (!rc && json_object_get(model, "target")) {
		rc = sl__buf_puts(&b, "target ");
		rc = rc ? rc : ml_html_esc_json(&b, json_object_get(model, "target"));
		rc = rc ? rc : sl__buf_puts(&b, " &middot; ");
	}
	rc = rc ? rc
		: sl__buf_printf(&b, "%lld test rows &middot; %lld inputs</p>",
				 (long long)json_integer_value(json_object_get(rep, "rows")),
				 (long long)json_integer_value(json_object_get(model, "features")));
	rc = rc ? rc
		: sl__buf_printf(&b, "<div class=\"verdict %s\">",
				 json_is_true(worth) ? "good" : json_is_false(worth) ? "bad" : "neutral");
	rc = rc ? rc : ml_html_esc_json(&b, json_object_get(rep, "verdict_hint"));
	rc = rc ? rc : sl__buf_puts(&b, "</div>");
	rc = rc ? rc : metrics_table(&b, rep);
	if (!rc && json_array_size(notes)) {
		rc = sl__buf_puts(&b, "<ul class=\"notes\">");
		json_array_foreach(notes, i, v) {
			rc = rc ? rc : sl__buf_puts(&b, "<li>");
			rc = rc ? rc : ml_html_esc_json(&b, v);
			rc = rc ? rc : sl__buf_puts(&b, "</li>");
		}
		rc = rc ? rc : sl__buf_puts(&b, "</ul>");
	}
	rc = rc ? rc : sl__buf_puts(&b, "<h2>Charts</h2><div class=\"charts\">");
	rc = rc ? rc : curve_charts(&b, rep);
	rc = rc ? rc : confusion_chart(&b, rep);
	rc = rc ? rc : residual_charts(&b, rep);
	if (!rc && json_is_object(an))
		rc = histogram_chart(&b, "Anomaly scores", "score", json_object_get(an, "scores"),
				     json_object_get(an, "scores_of_anomalies"), "all rows",
				     "labelled anomalies");
	rc = rc ? rc : forecast_charts(&b, rep);
	rc = rc ? rc : importance_chart(&b, rep);
	rc = rc ? rc : sl__buf_puts(&b, "</div>");
	if (!rc && json_array_size(json_object_get(rep, "per_class"))) {
		rc = sl__buf_puts(&b, "<h2>Per class</h2>");
		rc = rc ? rc : per_class_table(&b, rep);
	}
	rc = rc ? rc : cost_section(&b, rep);
	rc = rc ? rc : fairness_section(&b, rep);
	rc = rc ? rc : sl__buf_puts(&b, "</body></html>\n");
	if (rc) {
		sl__buf_free(&b);
		return rc;
	}
	*out = sl__buf_detach(&b);
	return 0;
}
