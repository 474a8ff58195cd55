/*
 * method: gbdt — gradient-boosted trees on lag and calendar features,
 * forecast recursively. One global model learns from every series of the
 * panel (series of different levels and scales share what they have in
 * common: the shape of a season, the persistence of a shock), as is usual
 * for tree forecasters on panels; the series id is one of its features.
 *
 *   series y_s, its scale sigma_s (mean absolute seasonal difference)
 *      |  one training row per position i >= m (m = max(season, 1)):
 *      |    anchor a = y[i - m] (the value a season before)
 *      |    target (y[i] - a) / sigma_s
 *      |    features (y[i - j] - a) / sigma_s for the lags j (below),
 *      |      (mean of the last W values - a) / sigma_s,
 *      |      season position, month / day of week / hour (as the grid
 *      |      allows), series id (categorical, panels only)
 *      v
 *   gbdt_fit (the train.gbdt core, regression, fixed parameters below)
 *      |
 *   recursive forecast: step k builds its row from the history and the
 *   forecasts of steps < k (written into the same buffer), then
 *   y^ = a + sigma_s * f(row)
 *
 * Lags: 1..W with W = max(m, 4), the anchor m left out (it is 0 by
 * construction), and 2m when m > 1 and 2m > W (the previous seasonal
 * difference at the same position). Lags before the series' start are
 * missing (NaN), which the trees route by their learned default side.
 * Modelling the seasonal difference, scaled, is what lets trees (which
 * cannot extrapolate a level) follow a trend and share one model across
 * series of any scale.
 *
 * Intervals: the holdout model (trained on every series cut at the
 * earliest of `origins` rolling origins, n - h - (K - 1) d, as `auto`
 * sets them) forecasts recursively from every origin between that cut and
 * the end; each error at step k, divided by its series' scale, joins the
 * pool of step k (all series). The 80% and 95% half-widths at step k are
 * the empirical quantiles (linear interpolation) of the absolute scaled
 * errors when the pool holds at least FC_GBDT_MIN_POOL of them, else the
 * normal ones from their root mean square; then made non-decreasing in k.
 * A series' band is forecast +- half-width x sigma_s: symmetric,
 * distribution-free, and honest about the recursion's error growth since
 * the errors come from recursive forecasts themselves.
 *
 * Invariants:
 *  1. The training rows and the forecast rows come from one function
 *     (build_row), so a forecast reads its history exactly as training did.
 *  2. Results do not depend on the thread count: gbdt_fit is deterministic
 *     for any, and the parallel loops write only their own series' slots;
 *     pools are gathered in series order after the loop.
 *  3. Unlike the per-series methods, a series' gbdt forecast depends on the
 *     other series of the panel (they train the same model).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/forecast.h"
#include "ml/gbdt.h"
#include "pool.h"
#include "stats.h"

#define DAY_US 86400000000LL
/* Below this many errors at a step, intervals come from their RMS. */
#define FC_GBDT_MIN_POOL 20

struct fc_gbdt {
	const fc_series_set *in;
	size_t m, W;
	size_t nlag;
	uint32_t *lags;
	size_t p;                      /* features */
	bool f_pos, f_month, f_dow, f_hour, f_id;
	double *sigma;                 /* per series: the scale its rows were built with */
	gbdt_model *model;
	gbdt_report rep;
	size_t rows;                   /* training rows */
};

size_t fc_gbdt_window(size_t m)
{
	return m > 4 ? m : 4;
}

size_t fc_gbdt_min_length(size_t m)
{
	return 2 * fc_gbdt_window(m);
}

size_t fc_gbdt_auto_length(size_t m, size_t h, size_t origins)
{
	size_t K = origins ? origins : 1, d = (h + K - 1) / K;

	return h + (K - 1) * (d ? d : 1) + 3 * fc_gbdt_window(m);
}

/* ---- features ------------------------------------------------------------------------ */

static int64_t floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;
	return r < 0 ? r + b : r;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return (a - floor_mod(a, b)) / b;
}

/* The time of position i of series s (the grid has no gap). */
static int64_t time_at(const fc_series_set *in, size_t s, size_t i)
{
	return fc_period_add(&in->period, in->t0[s], (int64_t)i);
}

/*
 * Row of features predicting position i of series s from buf[0..i) (its
 * history, then its own forecasts). Returns the anchor a.
 */
static double build_row(const fc_gbdt *g, size_t s, const double *buf, size_t i, double *row)
{
	const fc_series_set *in = g->in;
	double a = buf[i - g->m], sc = g->sigma[s], sum = 0;
	size_t q = 0, cnt = 0;

	for (size_t l = 0; l < g->nlag; l++) {
		size_t j = g->lags[l];
		row[q++] = i >= j ? (buf[i - j] - a) / sc : NAN;
	}
	for (size_t j = 1; j <= g->W && j <= i; j++, cnt++)
		sum += buf[i - j];
	row[q++] = (sum / (double)cnt - a) / sc;
	if (g->f_pos || g->f_month || g->f_dow || g->f_hour) {
		int64_t t = in->t0 ? time_at(in, s, i) : (int64_t)i;
		const fc_period *pd = &in->period;
		if (g->f_pos) {
			int64_t k;
			if (!in->t0)
				k = t;
			else if (pd->unit == FC_UNIT_MONTH) {
				int64_t y;
				int mo, d;
				ds_civil_from_days(floor_div(t, DAY_US), &y, &mo, &d);
				k = floor_div(y * 12 + mo - 1, pd->step);
			} else {
				k = floor_div(t, pd->step);
			}
			row[q++] = (double)floor_mod(k, (int64_t)g->m);
		}
		if (g->f_month || g->f_dow) {
			int64_t y, days = floor_div(t, DAY_US);
			int mo, d;
			ds_civil_from_days(days, &y, &mo, &d);
			if (g->f_month)
				row[q++] = mo;
			if (g->f_dow)
				row[q++] = (double)floor_mod(days + 3, 7); /* Monday 0 */
		}
		if (g->f_hour)
			row[q++] = (double)(floor_mod(t, DAY_US) / 3600000000LL);
	}
	if (g->f_id)
		row[q++] = (double)s;
	return a;
}

/* The feature layout for the period and season (see the head of the file). */
static int layout(fc_gbdt *g, const fc_series_set *in, size_t season)
{
	const fc_period *pd = &in->period;
	bool ts = in->t0 && pd->timestamps;

	g->in = in;
	g->m = season > 1 ? season : 1;
	g->W = fc_gbdt_window(g->m);
	g->lags = sl__malloc((g->W + 1) * sizeof *g->lags);
	if (!g->lags)
		return sl__oom();
	for (size_t j = 1; j <= g->W; j++)
		if (j != g->m)
			g->lags[g->nlag++] = (uint32_t)j;
	if (g->m > 1 && 2 * g->m > g->W)
		g->lags[g->nlag++] = (uint32_t)(2 * g->m);
	g->f_pos = g->m > 1;
	g->f_month = ts && ((pd->unit == FC_UNIT_MONTH && pd->step < 12) ||
			    (pd->unit == FC_UNIT_FIXED && pd->step < 28 * DAY_US));
	g->f_dow = ts && pd->unit == FC_UNIT_FIXED && pd->step < 7 * DAY_US;
	g->f_hour = ts && pd->unit == FC_UNIT_FIXED && pd->step < DAY_US;
	g->f_id = in->S > 1;
	g->p = g->nlag + 1 + g->f_pos + g->f_month + g->f_dow + g->f_hour + g->f_id;
	return 0;
}

json_t *fc_gbdt_features_json(const fc_gbdt *g)
{
	json_t *a = json_array();
	char name[32];

	for (size_t l = 0; a && l < g->nlag; l++) {
		snprintf(name, sizeof name, "lag%u", g->lags[l]);
		json_array_append_new(a, json_string(name));
	}
	snprintf(name, sizeof name, "mean%zu", g->W);
	json_array_append_new(a, json_string(name));
	if (g->f_pos)
		json_array_append_new(a, json_string("season_position"));
	if (g->f_month)
		json_array_append_new(a, json_string("month"));
	if (g->f_dow)
		json_array_append_new(a, json_string("day_of_week"));
	if (g->f_hour)
		json_array_append_new(a, json_string("hour"));
	if (g->f_id)
		json_array_append_new(a, json_string("series"));
	return a;
}

/* The fixed boosting parameters: shallow-ish trees and a small step, enough
 * for a few hundred to a few hundred thousand rows. */
static void forecast_params(gbdt_params *gp, const fc_opts *o)
{
	gbdt_params_default(gp);
	gp->objective = ML_REGRESSION;
	gp->rounds = 100;
	gp->learning_rate = 0.1;
	gp->max_depth = 6;
	gp->min_child_weight = 3;
	gp->seed = o->seed;
	gp->threads = o->threads;
}

void fc_gbdt_free(fc_gbdt *g)
{
	if (!g)
		return;
	sl__free(g->lags);
	sl__free(g->sigma);
	gbdt_model_free(g->model);
	gbdt_report_free(&g->rep);
	sl__free(g);
}

int fc_gbdt_train(const fc_series_set *in, const size_t *len, const fc_opts *o, fc_gbdt **out)
{
	fc_gbdt *g = sl__calloc(1, sizeof *g);
	double *X = NULL, *y = NULL;
	uint32_t *n_cat = NULL;
	gbdt_params gp;
	size_t r = 0;
	int rc;

	*out = NULL;
	if (!g)
		return sl__oom();
	if ((rc = layout(g, in, o->season)))
		goto out;
	g->sigma = sl__malloc((in->S ? in->S : 1) * sizeof *g->sigma);
	if (!g->sigma) {
		rc = sl__oom();
		goto out;
	}
	for (size_t s = 0; s < in->S; s++) {
		const double *ys = in->y + in->start[s];
		double sc = len[s] > g->m ? fc_mase_scale(ys, len[s], g->m) : NAN;
		if (!(sc > 0)) {
			/* A flat history: scale by its level, or 1. */
			sc = 0;
			for (size_t i = 0; i < len[s]; i++)
				sc += fabs(ys[i]) / (double)len[s];
			if (!(sc > 0))
				sc = 1;
		}
		g->sigma[s] = sc;
		if (len[s] > g->m)
			g->rows += len[s] - g->m;
	}
	if (g->rows == 0) {
		rc = sl__err(SL_EINVAL, "gbdt: no series has more than %zu values to learn from", g->m);
		goto out;
	}
	X = sl__malloc(g->rows * g->p * sizeof *X);
	y = sl__malloc(g->rows * sizeof *y);
	n_cat = sl__calloc(g->p, sizeof *n_cat);
	if (!X || !y || !n_cat) {
		rc = sl__oom();
		goto out;
	}
	if (g->f_id)
		n_cat[g->p - 1] = (uint32_t)in->S;
	for (size_t s = 0; s < in->S; s++) {
		const double *ys = in->y + in->start[s];
		for (size_t i = g->m; i < len[s]; i++, r++) {
			double a = build_row(g, s, ys, i, X + r * g->p);
			y[r] = (ys[i] - a) / g->sigma[s];
		}
	}
	forecast_params(&gp, o);
	gbdt_data d = {.n = g->rows, .p = g->p, .X = X, .row_stride = g->p, .col_stride = 1,
		       .n_cat = n_cat, .y = y};
	if ((rc = gbdt_fit(&gp, &d, NULL, &g->model, &g->rep)))
		goto out;
	*out = g;
	g = NULL;
out:
	sl__free(X);
	sl__free(y);
	sl__free(n_cat);
	fc_gbdt_free(g);
	return rc;
}

void fc_gbdt_recurse(const fc_gbdt *g, size_t s, double *buf, size_t n, size_t h, double *row)
{
	for (size_t k = 0; k < h; k++) {
		double f, a = build_row(g, s, buf, n + k, row);
		gbdt_predict(g->model, row, 1, &f); /* a regression: its raw score */
		buf[n + k] = a + g->sigma[s] * f;
	}
}

size_t fc_gbdt_n_features(const fc_gbdt *g)
{
	return g->p;
}

/* ---- the panel: holdout models, intervals, the final model ------------------------------- */

typedef struct run_job {
	const fc_series_set *in;
	const fc_gbdt *g;
	const size_t *len;      /* where the model's training stops, per series */
	size_t h, B;            /* horizon; backtest origins per series */
	size_t K, origin;       /* holdout forecasts: slot origin of K */
	double *holdout;        /* S x K x h, or NULL */
	double *errs;           /* S x h x B scaled errors (NaN: none), or NULL */
	double *fc;             /* S x h final forecasts (point), or NULL */
	int *codes;
} run_job;

static void run_series(void *ctx, size_t s, unsigned worker)
{
	run_job *j = ctx;
	const fc_series_set *in = j->in;
	const double *y = in->y + in->start[s];
	size_t n = in->start[s + 1] - in->start[s], L = j->len[s], h = j->h;
	double *buf, *row;

	(void)worker;
	if (L <= j->g->m)
		return; /* the series is not in this model */
	buf = sl__malloc((n + h) * sizeof *buf);
	row = sl__malloc(j->g->p * sizeof *row);
	if (!buf || !row) {
		j->codes[s] = SL_ENOMEM;
		goto out;
	}
	memcpy(buf, y, n * sizeof *buf);
	if (j->holdout) {
		fc_gbdt_recurse(j->g, s, buf, L, h, row);
		memcpy(j->holdout + (s * j->K + j->origin) * h, buf + L, h * sizeof *buf);
	}
	if (j->errs) {
		double *e = j->errs + s * h * j->B;
		for (size_t o = L; o < n; o++) {
			size_t steps = n - o < h ? n - o : h;
			memcpy(buf + o, y + o, (n - o) * sizeof *buf);
			fc_gbdt_recurse(j->g, s, buf, o, steps, row);
			for (size_t k = 0; k < steps; k++)
				e[k * j->B + (o - L)] = (y[o + k] - buf[o + k]) / j->g->sigma[s];
		}
	}
	if (j->fc) {
		memcpy(buf, y, n * sizeof *buf);
		fc_gbdt_recurse(j->g, s, buf, n, h, row);
		memcpy(j->fc + s * h, buf + n, h * sizeof *buf);
	}
out:
	sl__free(buf);
	sl__free(row);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Half-widths per step (q80[k], q95[k]) from the pooled errors. */
static int half_widths(const double *errs, size_t S, size_t h, size_t B, double *q80, double *q95,
		       size_t *pool_min)
{
	double *v = sl__malloc((S * B > 0 ? S * B : 1) * sizeof *v);

	if (!v)
		return sl__oom();
	*pool_min = SIZE_MAX;
	for (size_t k = 0; k < h; k++) {
		size_t c = 0;
		double ss = 0;
		for (size_t s = 0; s < S; s++)
			for (size_t b = 0; b < B; b++) {
				double e = errs[(s * h + k) * B + b];
				if (isfinite(e)) {
					v[c++] = fabs(e);
					ss += e * e;
				}
			}
		if (c < *pool_min)
			*pool_min = c;
		if (c == 0) {
			q80[k] = k ? q80[k - 1] : NAN;
			q95[k] = k ? q95[k - 1] : NAN;
		} else if (c < FC_GBDT_MIN_POOL) {
			double rms = sqrt(ss / (double)c);
			q80[k] = FC_Z80 * rms;
			q95[k] = FC_Z95 * rms;
		} else {
			qsort(v, c, sizeof *v, cmp_double);
			q80[k] = sl__quantile_sorted(v, c, 0.8);
			q95[k] = sl__quantile_sorted(v, c, 0.95);
		}
		if (k && !(q80[k] >= q80[k - 1]))
			q80[k] = q80[k - 1];
		if (k && !(q95[k] >= q95[k - 1]))
			q95[k] = q95[k - 1];
	}
	sl__free(v);
	return 0;
}

void fc_gbdt_run_free(fc_gbdt_run *r)
{
	sl__free(r->ok);
	sl__free(r->fc);
	sl__free(r->holdout);
	sl__free(r->scale);
	json_decref(r->info);
	memset(r, 0, sizeof *r);
}

/* Trains on len and runs j over the series; the model is freed after. */
static int train_and_run(const fc_series_set *in, const size_t *len, const fc_opts *o,
			 run_job *j, fc_gbdt **keep)
{
	fc_gbdt *g;
	int rc = fc_gbdt_train(in, len, o, &g);

	if (rc)
		return rc;
	j->g = g;
	j->len = len;
	memset(j->codes, 0, in->S * sizeof *j->codes);
	sl__parallel_for(o->threads, in->S, run_series, j);
	for (size_t s = 0; s < in->S; s++)
		if (j->codes[s]) {
			fc_gbdt_free(g);
			return sl__oom();
		}
	if (keep)
		*keep = g;
	else
		fc_gbdt_free(g);
	return 0;
}

int fc_gbdt_run_panel(const fc_series_set *in, const fc_opts *o, bool for_auto, fc_gbdt_run *out)
{
	size_t S = in->S, h = o->horizon, K = o->origins ? o->origins : 1;
	size_t d = (h + K - 1) / K, B, need, minlen = fc_gbdt_min_length(o->season), pool_min = 0;
	size_t *len = NULL, *eligible_n = NULL;
	double *errs = NULL, *point = NULL, *q80 = NULL, *q95;
	int *codes = NULL;
	fc_gbdt *final = NULL;
	run_job j = {0};
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (d < 1)
		d = 1;
	B = h + (K - 1) * d;
	need = for_auto ? fc_gbdt_auto_length(o->season, h, K) : minlen;
	out->S = S;
	out->K = K;
	out->h = h;
	len = sl__malloc(S * sizeof *len);
	eligible_n = sl__malloc(S * sizeof *eligible_n);
	codes = sl__malloc(S * sizeof *codes);
	errs = sl__malloc(S * h * B * sizeof *errs);
	point = sl__malloc(S * h * sizeof *point);
	q80 = sl__malloc(2 * h * sizeof *q80);
	out->ok = sl__calloc(S, 1);
	out->fc = sl__malloc(S * h * FC_NOUT * sizeof *out->fc);
	out->scale = sl__malloc(S * sizeof *out->scale);
	out->holdout = for_auto ? sl__malloc(S * K * h * sizeof *out->holdout) : NULL;
	if (!len || !eligible_n || !codes || !errs || !point || !q80 || !out->ok || !out->fc ||
	    !out->scale || (for_auto && !out->holdout)) {
		rc = sl__oom();
		goto out;
	}
	q95 = q80 + h;
	for (size_t s = 0; s < S; s++) {
		size_t n = in->start[s + 1] - in->start[s];
		eligible_n[s] = n >= need ? n : 0;
	}
	for (size_t i = 0; i < S * h * B; i++)
		errs[i] = NAN;
	for (size_t i = 0; for_auto && i < S * K * h; i++)
		out->holdout[i] = NAN;
	j.in = in;
	j.h = h;
	j.B = B;
	j.K = K;
	j.codes = codes;
	/* The holdout models: auto scores every origin; the earliest also
	 * gives the interval pool (for method gbdt, it is the only one). */
	for (size_t i = for_auto ? 0 : K - 1; i < K; i++) {
		size_t cut = h + i * d;
		for (size_t s = 0; s < S; s++)
			len[s] = eligible_n[s] > cut && eligible_n[s] - cut >= minlen
					 ? eligible_n[s] - cut
					 : 0;
		j.holdout = for_auto ? out->holdout : NULL;
		j.origin = i;
		j.errs = i == K - 1 ? errs : NULL;
		j.fc = NULL;
		rc = train_and_run(in, len, o, &j, NULL);
		if (rc == SL_EINVAL && !for_auto)
			rc = sl__err(SL_EINVAL,
				     "method gbdt: no series is long enough for the holdout that sets "
				     "its intervals: at least one needs %zu values (%zu before the "
				     "earliest of %zu origins, horizon %zu)",
				     minlen + cut, minlen, K, h);
		if (rc == SL_EINVAL && for_auto) {
			/* No series qualifies for gbdt in auto: it is simply not a candidate. */
			rc = 0;
			goto out;
		}
		if (rc)
			goto out;
	}
	if ((rc = half_widths(errs, S, h, B, q80, q95, &pool_min)))
		goto out;
	if (!isfinite(q80[0])) {
		if (for_auto)
			goto out; /* no pool: leave gbdt out of the contest */
		rc = sl__err(SL_EINVAL, "method gbdt: the holdout left no error to set the "
					"intervals from (a series needs %zu values)",
			     minlen + B);
		goto out;
	}
	for (size_t s = 0; s < S; s++)
		len[s] = eligible_n[s];
	j.holdout = NULL;
	j.errs = NULL;
	j.fc = point;
	if ((rc = train_and_run(in, len, o, &j, &final)))
		goto out;
	for (size_t s = 0; s < S; s++) {
		if (len[s] <= final->m)
			continue;
		out->ok[s] = 1;
		out->scale[s] = final->sigma[s];
		for (size_t k = 0; k < h; k++) {
			double *r = out->fc + (s * h + k) * FC_NOUT, f = point[s * h + k];
			double w80 = q80[k] * final->sigma[s], w95 = q95[k] * final->sigma[s];
			r[0] = f;
			r[1] = f - w80;
			r[2] = f + w80;
			r[3] = f - w95;
			r[4] = f + w95;
		}
	}
	{
		json_t *info = json_object(), *imp = json_object(), *feats = fc_gbdt_features_json(final);
		json_t *w = json_array();
		if (!info || !imp || !feats || !w) {
			json_decref(info);
			json_decref(imp);
			json_decref(feats);
			json_decref(w);
			rc = sl__oom();
			goto out;
		}
		for (size_t f = 0; f < final->p; f++)
			json_object_set_new(imp, json_string_value(json_array_get(feats, f)),
					    json_real(final->rep.gain ? final->rep.gain[f] : 0));
		for (size_t k = 0; k < h; k++)
			json_array_append_new(w, json_pack("[f, f]", q80[k], q95[k]));
		json_object_set_new(info, "features", feats);
		json_object_set_new(info, "importance_gain", imp);
		json_object_set_new(info, "training_rows", json_integer((json_int_t)final->rows));
		json_object_set_new(info, "rounds", json_integer(final->rep.rounds));
		json_object_set_new(info, "learning_rate", json_real(0.1));
		json_object_set_new(info, "max_depth", json_integer(6));
		json_object_set_new(info, "interval_pool_min", json_integer((json_int_t)pool_min));
		json_object_set_new(info, "scaled_half_widths", w);
		out->info = info;
	}
	out->available = true;
out:
	fc_gbdt_free(final);
	sl__free(len);
	sl__free(eligible_n);
	sl__free(codes);
	sl__free(errs);
	sl__free(point);
	sl__free(q80);
	if (rc)
		fc_gbdt_run_free(out);
	return rc;
}
