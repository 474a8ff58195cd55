/*
 * The monitoring report page (live.h, mon_html): one self-contained HTML
 * document in the style of the evaluation report (ml/html.h), with the
 * current window's verdict and tables, and SVG charts of the recorded
 * windows over time: drift per feature, the drifted share, the live and
 * estimated metric with its band, latency and request volume.
 *
 * Everything taken from a report or the store reaches the page through
 * ml_html_esc / ml_html_num: feature names are data, not markup.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "ml/html.h"
#include "monitor/live.h"

#define MON_PAGE_MAX ((size_t)64 << 20)
#define MON_CHART_FEATURES ML_HTML_PALETTE_N

/* One series of the history as [[seq, value], ...] (finite values only). */
static json_t *series_pairs(const json_t *hist, const char *name, double *lo, double *hi)
{
	json_t *arr = json_array(), *w;
	size_t i;

	if (!arr)
		return NULL;
	json_array_foreach(hist, i, w) {
		double v = ml_html_dnum(json_object_get(json_object_get(w, "values"), name));
		double x = (double)json_integer_value(json_object_get(w, "seq"));
		if (!isfinite(v))
			continue;
		*lo = fmin(*lo, v);
		*hi = fmax(*hi, v);
		if (json_array_append_new(arr, json_pack("[f, f]", x, v))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* A chart of up to ML_HTML_PALETTE_N series over the windows; nothing when none has a point. */
static int history_chart(sl__buf *b, const json_t *hist, const char *title, const char *ylab,
			 const char *const *names, const char *const *labels, size_t n,
			 const char *caption, double ref_line)
{
	json_t *pairs[ML_HTML_PALETTE_N] = {0};
	double lo = INFINITY, hi = -INFINITY;
	double x0 = (double)json_integer_value(json_object_get(json_array_get(hist, 0), "seq"));
	double x1 = (double)json_integer_value(
		json_object_get(json_array_get(hist, json_array_size(hist) - 1), "seq"));
	bool any = false;
	ml_chart c;
	int rc = 0;

	if (n > ML_HTML_PALETTE_N)
		n = ML_HTML_PALETTE_N;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!(pairs[i] = series_pairs(hist, names[i], &lo, &hi)))
			rc = sl__oom();
		else if (json_array_size(pairs[i]))
			any = true;
	}
	if (!rc && any) {
		if (isfinite(ref_line)) {
			lo = fmin(lo, ref_line);
			hi = fmax(hi, ref_line);
		}
		if (x1 <= x0)
			x1 = x0 + 1;
		rc = ml_chart_begin(&c, b, title, "window", ylab, x0, x1, lo, hi);
		if (!rc && isfinite(ref_line))
			rc = ml_chart_line(&c, x0, ref_line, x1, ref_line, "ref");
		for (size_t i = 0; i < n && !rc; i++) {
			rc = ml_chart_pairs(&c, pairs[i], ml_html_palette[i], true);
			if (!rc)
				rc = ml_chart_legend(&c, (int)i, ml_html_palette[i], labels[i]);
		}
		if (!rc)
			rc = ml_chart_end(&c, caption);
	}
	for (size_t i = 0; i < n; i++)
		json_decref(pairs[i]);
	return rc;
}

/* The features with the largest statistics in the current report, by index (max is small). */
static size_t top_features(const json_t *feats, size_t *idx, size_t max)
{
	size_t n = 0, i;
	const json_t *f;

	while (n < max) {
		double best = -INFINITY;
		size_t pick = SIZE_MAX;
		json_array_foreach(feats, i, f) {
			double s = ml_html_dnum(json_object_get(f, "statistic"));
			bool taken = false;
			for (size_t k = 0; k < n; k++)
				taken = taken || idx[k] == i;
			if (!taken && isfinite(s) && s > best) {
				best = s;
				pick = i;
			}
		}
		if (pick == SIZE_MAX)
			break;
		idx[n++] = pick;
	}
	return n;
}

static int drift_charts(sl__buf *b, const json_t *rep, const json_t *hist)
{
	const json_t *feats = json_object_get(rep, "features");
	size_t idx[MON_CHART_FEATURES], n = top_features(feats, idx, MON_CHART_FEATURES);
	char names[MON_CHART_FEATURES][600];
	const char *np[MON_CHART_FEATURES], *lp[MON_CHART_FEATURES];
	const char *share[] = {"drift_share"}, *share_l[] = {"share of features drifted"};
	int rc;

	for (size_t i = 0; i < n; i++) {
		const char *name = json_string_value(json_object_get(json_array_get(feats, idx[i]), "name"));
		snprintf(names[i], sizeof names[i], "drift.%s.statistic", name ? name : "?");
		np[i] = names[i];
		lp[i] = name ? name : "?";
	}
	/* A distance test's threshold is on the statistic's scale: draw it when
	 * every feature charted is decided by distances at one threshold (a
	 * p-value test's threshold is not, and is left to the table). */
	double thr = NAN;
	for (size_t i = 0; i < n; i++) {
		const json_t *f = json_array_get(feats, idx[i]);
		const char *test = json_string_value(json_object_get(f, "test"));
		double t = ml_html_dnum(json_object_get(f, "threshold"));
		bool distance = test && (!strcmp(test, "wasserstein") || !strcmp(test, "js") ||
					 !strcmp(test, "psi"));
		if (!distance || (i && t != thr)) {
			thr = NAN;
			break;
		}
		thr = t;
	}
	rc = history_chart(b, hist, "Drift per feature", "statistic", np, lp, n,
			   isfinite(thr) ? "the drift test's statistic per window, for the features "
					   "that drift most now; the line is the drift threshold"
					 : "the drift test's statistic per window, for the features "
					   "that drift most now (the tests and thresholds are in the "
					   "table below)",
			   thr);
	if (!rc)
		rc = history_chart(b, hist, "Dataset drift", "share", share, share_l, 1,
				   "the share of features that drifted per window; the line is the "
				   "dataset drift threshold",
				   ml_html_dnum(json_object_get(rep, "drift_share_threshold")));
	return rc;
}

static int metric_chart(sl__buf *b, const json_t *rep, const json_t *hist)
{
	const json_t *live = json_object_get(rep, "live"), *est = json_object_get(rep, "estimated");
	const char *metric = json_object_get(est, "accuracy") || json_object_get(live, "accuracy")
				     ? "accuracy"
			     : json_object_get(live, "mae") ? "mae"
							    : NULL;
	char n[4][64];
	const char *np[4], *lp[4] = {"live (feedback)", "estimated (CBPE)", "estimate lower",
				    "estimate upper"};

	if (!metric)
		return 0;
	snprintf(n[0], sizeof n[0], "live.%s", metric);
	snprintf(n[1], sizeof n[1], "estimated.%s", metric);
	snprintf(n[2], sizeof n[2], "estimated.%s.lower", metric);
	snprintf(n[3], sizeof n[3], "estimated.%s.upper", metric);
	for (int i = 0; i < 4; i++)
		np[i] = n[i];
	return history_chart(b, hist, metric, metric, np, lp, 4,
			     "the realised metric on the window's labelled requests, and the "
			     "label-free estimate with its 95% band",
			     NAN);
}

static int ops_charts(sl__buf *b, const json_t *hist)
{
	const char *lat[] = {"latency_p50_us", "latency_p99_us"}, *lat_l[] = {"p50", "p99"};
	const char *vol[] = {"requests", "errors"}, *vol_l[] = {"answered", "errors"};
	int rc = history_chart(b, hist, "Latency", "microseconds", lat, lat_l, 2,
			       "per window, as the server measured it", NAN);

	return rc ? rc
		  : history_chart(b, hist, "Request volume", "requests", vol, vol_l, 2,
				  "answered requests in each window, and failed ones since its "
				  "first",
				  NAN);
}

static int feature_row(sl__buf *b, const json_t *f)
{
	bool drift = json_is_true(json_object_get(f, "drift"));
	int rc = sl__buf_puts(b, "<tr><td>");

	rc = rc ? rc : ml_html_esc(b, json_string_value(json_object_get(f, "name")));
	rc = rc ? rc : sl__buf_puts(b, "</td><td>");
	rc = rc ? rc : ml_html_esc(b, json_string_value(json_object_get(f, "test")));
	rc = rc ? rc : sl__buf_puts(b, "</td><td>");
	rc = rc ? rc : ml_html_num(b, json_object_get(f, "statistic"));
	rc = rc ? rc : sl__buf_puts(b, "</td><td>");
	rc = rc ? rc : ml_html_num(b, json_object_get(f, "p_value"));
	rc = rc ? rc : sl__buf_puts(b, "</td><td>");
	rc = rc ? rc : ml_html_num(b, json_object_get(f, "threshold"));
	rc = rc ? rc : sl__buf_puts(b, "</td><td>");
	rc = rc ? rc : ml_html_num(b, json_object_get(f, "psi"));
	rc = rc ? rc : sl__buf_puts(b, " ");
	rc = rc ? rc : ml_html_esc(b, json_string_value(json_object_get(f, "psi_band")));
	rc = rc ? rc : sl__buf_printf(b, "</td><td class=\"%s\">%s", drift ? "bad" : "good",
				      drift ? "drift" : "no drift");
	if (!rc && json_object_get(f, "reason")) {
		rc = sl__buf_puts(b, " (");
		rc = rc ? rc : ml_html_esc(b, json_string_value(json_object_get(f, "reason")));
		rc = rc ? rc : sl__buf_puts(b, ")");
	}
	return rc ? rc : sl__buf_puts(b, "</td></tr>");
}

static int feature_table(sl__buf *b, const json_t *rep)
{
	const json_t *f;
	size_t i;
	int rc = sl__buf_puts(b, "<h2>Features</h2><table><tr><th>feature</th><th>test</th>"
				 "<th>statistic</th><th>p-value</th><th>threshold</th><th>PSI</th>"
				 "<th></th></tr>");

	json_array_foreach(json_object_get(rep, "features"), i, f)
		rc = rc ? rc : feature_row(b, f);
	f = json_object_get(rep, "prediction_drift");
	if (!rc && json_is_object(f)) {
		rc = sl__buf_puts(b, "<tr><th colspan=\"7\">the model's output</th></tr>");
		rc = rc ? rc : feature_row(b, f);
	}
	return rc ? rc : sl__buf_puts(b, "</table>");
}

/* A flat table of an object's numbers ({a: 1} and {a: {value, lower, upper}}). */
static int metric_table(sl__buf *b, const char *title, const json_t *o)
{
	const char *k;
	const json_t *v;
	int rc;

	if (!json_object_size(o))
		return 0;
	rc = sl__buf_printf(b, "<h2>%s</h2><table><tr><th></th><th>value</th><th>95%% band</th></tr>",
			    title);
	json_object_foreach((json_t *)o, k, v) {
		if (!json_is_number(v) && !json_object_get(v, "value"))
			continue;
		rc = rc ? rc : sl__buf_puts(b, "<tr><td>");
		rc = rc ? rc : ml_html_esc(b, k);
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		rc = rc ? rc : ml_html_num(b, json_is_number(v) ? v : json_object_get(v, "value"));
		rc = rc ? rc : sl__buf_puts(b, "</td><td>");
		if (!rc && json_object_get(v, "lower")) {
			rc = ml_html_num(b, json_object_get(v, "lower"));
			rc = rc ? rc : sl__buf_puts(b, " &ndash; ");
			rc = rc ? rc : ml_html_num(b, json_object_get(v, "upper"));
		}
		rc = rc ? rc : sl__buf_puts(b, "</td></tr>");
	}
	return rc ? rc : sl__buf_puts(b, "</table>");
}

int mon_html(const json_t *rep, const json_t *hist, char **out)
{
	const json_t *win = json_object_get(rep, "window"), *ver = json_object_get(rep, "version");
	const json_t *rec = json_object_get(json_object_get(rep, "estimated"), "reconciled");
	bool drift = json_is_true(json_object_get(rep, "dataset_drift"));
	char title[400];
	sl__buf b;
	int rc;

	*out = NULL;
	if (!json_is_object(rep) || !json_is_string(json_object_get(rep, "model")))
		return sl__err(SL_EINVAL, "mon_html: not a monitoring report");
	if (json_is_integer(ver))
		snprintf(title, sizeof title, "Monitoring %s version %lld",
			 json_string_value(json_object_get(rep, "model")),
			 (long long)json_integer_value(ver));
	else
		snprintf(title, sizeof title, "Monitoring %s version %s",
			 json_string_value(json_object_get(rep, "model")),
			 json_string_value(ver) ? json_string_value(ver) : "?");
	sl__buf_init(&b, MON_PAGE_MAX);
	rc = ml_html_page_begin(&b, title);
	rc = rc ? rc : sl__buf_printf(&b, "<p class=\"sub\">the newest %lld requests (%lld rows), ",
				      (long long)json_integer_value(json_object_get(win, "requests")),
				      (long long)json_integer_value(json_object_get(win, "rows")));
	rc = rc ? rc : ml_html_esc_json(&b, json_object_get(win, "from"));
	rc = rc ? rc : sl__buf_puts(&b, " to ");
	rc = rc ? rc : ml_html_esc_json(&b, json_object_get(win, "to"));
	rc = rc ? rc : sl__buf_puts(&b, ", against the training data's profile</p>");
	rc = rc ? rc : sl__buf_printf(&b, "<div class=\"verdict %s\">%s: ", drift ? "bad" : "good",
				      drift ? "Dataset drift" : "No dataset drift");
	rc = rc ? rc : sl__buf_printf(&b, "%lld of %lld features drifted (share ",
				      (long long)json_integer_value(json_object_get(rep, "features_drifted")),
				      (long long)json_integer_value(json_object_get(rep, "features_tested")));
	rc = rc ? rc : ml_html_num(&b, json_object_get(rep, "drift_share"));
	rc = rc ? rc : sl__buf_puts(&b, ", threshold ");
	rc = rc ? rc : ml_html_num(&b, json_object_get(rep, "drift_share_threshold"));
	rc = rc ? rc : sl__buf_puts(&b, ")</div>");
	if (!rc && rec) {
		rc = sl__buf_puts(&b, "<p class=\"notes\">Estimated accuracy on the labelled requests: ");
		rc = rc ? rc : ml_html_num(&b, json_object_get(rec, "estimated_accuracy"));
		rc = rc ? rc : sl__buf_puts(&b, ", realised: ");
		rc = rc ? rc : ml_html_num(&b, json_object_get(rec, "realised_accuracy"));
		rc = rc ? rc : sl__buf_printf(&b, " (%lld labelled)</p>",
					      (long long)json_integer_value(json_object_get(rec, "labelled")));
	}
	if (!rc && json_array_size(hist)) {
		rc = sl__buf_puts(&b, "<h2>Over time</h2><div class=\"charts\">");
		rc = rc ? rc : drift_charts(&b, rep, hist);
		rc = rc ? rc : metric_chart(&b, rep, hist);
		rc = rc ? rc : ops_charts(&b, hist);
		rc = rc ? rc : sl__buf_puts(&b, "</div>");
	}
	rc = rc ? rc : feature_table(&b, rep);
	rc = rc ? rc : metric_table(&b, "Live performance (feedback labels)", json_object_get(rep, "live"));
	rc = rc ? rc : metric_table(&b, "Estimated performance (no labels needed)",
				    json_object_get(rep, "estimated"));
	rc = rc ? rc : ml_html_page_end(&b);
	if (rc) {
		sl__buf_free(&b);
		return rc;
	}
	*out = sl__buf_detach(&b);
	return 0;
}
