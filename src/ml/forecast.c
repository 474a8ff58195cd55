/*
 * The forecast family: the simple methods (naive, seasonal naive, drift),
 * the choice of a method per series (`auto`: a rolling-origin contest
 * scored by MASE, gbdt's holdout forecasts computed across the panel
 * beforehand), fitting every series of a panel in parallel, and the model
 * that serves the result (ml_ops "forecast"). A gbdt series is stored like
 * any other: its recursive forecasts and intervals in the table.
 *
 * The model is a table, so predict is a lookup and cannot disagree with
 * what training computed:
 *
 *   section   type       shape                     what
 *   dims      u64        5                         series, key columns, horizon,
 *                                                  window, season
 *   period    i64        4                         unit, step, timestamps, month end
 *   keys      f64        series x keys             sorted (forecast.h invariant 2)
 *   last      i64        series                    last observed time
 *   fc        f64        series x horizon x 5      forecast, lo80, hi80, lo95, hi95
 *   lastobs   f64        series x window           the last season of values,
 *                                                  NaN-padded at the front
 *   scale     f64        series                    in-sample MASE scale
 *
 * predict(key..., h): the row of series `key` at step h; an unknown key, or
 * an h that is not a whole number in 1..horizon, gives NaN in every output
 * (a forecast the model does not have is missing, not an error, so a batch
 * with one bad row still scores the others).
 *
 * Invariants:
 *  1. Loading checks every count against every section's length and that
 *     the keys are strictly increasing (the binary search relies on it).
 *  2. The parallel fit writes only the slots of its own series; errors are
 *     reported for the first failing series in key order, so the message
 *     does not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "ml/forecast.h"
#include "pool.h"

static const char *const method_names[FC_N_METHODS] = {
	[FC_AUTO] = "auto", [FC_NAIVE] = "naive", [FC_SNAIVE] = "seasonal_naive",
	[FC_DRIFT] = "drift", [FC_ETS] = "ets", [FC_THETA] = "theta", [FC_GBDT] = "gbdt",
};

const char *fc_method_name(fc_method m)
{
	return (unsigned)m < FC_N_METHODS ? method_names[m] : "?";
}

bool fc_method_parse(const char *s, fc_method *out)
{
	for (int i = 0; i < FC_N_METHODS; i++)
		if (!strcmp(s, method_names[i])) {
			*out = (fc_method)i;
			return true;
		}
	return false;
}

void fc_fit_init(fc_fit *f)
{
	memset(f, 0, sizeof *f);
	f->alpha = f->beta = f->gamma = f->phi = NAN;
	f->sigma = f->loglik = f->aicc = f->drift = f->scale = NAN;
	for (int i = 0; i < FC_N_METHODS; i++)
		f->scores[i] = NAN;
}

double fc_mase_scale(const double *y, size_t n, size_t m)
{
	size_t lag = n > m ? m : 1;
	double s = 0;

	if (lag < 1)
		lag = 1;
	if (n <= lag)
		return NAN;
	for (size_t t = lag; t < n; t++)
		s += fabs(y[t] - y[t - lag]);
	return s / (double)(n - lag);
}

/* ---- the simple methods ------------------------------------------------------ */

static void normal_band(double *o, double f, double sd)
{
	o[0] = f;
	if (!isfinite(sd)) {
		o[1] = o[2] = o[3] = o[4] = NAN;
		return;
	}
	o[1] = f - FC_Z80 * sd;
	o[2] = f + FC_Z80 * sd;
	o[3] = f - FC_Z95 * sd;
	o[4] = f + FC_Z95 * sd;
}

/*
 * Forecasts and intervals of the benchmark methods (Hyndman and
 * Athanasopoulos, FPP3 section 5.5): sigma from the one-step residuals of
 * the method itself (mean square; drift's has n - 2 degrees of freedom), the
 * h-step sd sigma sqrt(h) (naive), sigma sqrt(floor((h - 1) / m) + 1)
 * (seasonal naive), sigma sqrt(h (1 + h / (n - 1))) (drift).
 */
int fc_simple_fit(fc_method method, const double *y, size_t n, size_t m, size_t h, fc_fit *fit,
		  double *out)
{
	double s2 = 0, sigma = NAN;

	if (m < 1)
		m = 1;
	switch (method) {
	case FC_NAIVE:
		if (n < 1)
			return sl__err(SL_EINVAL, "naive needs at least one observation");
		for (size_t t = 1; t < n; t++)
			s2 += (y[t] - y[t - 1]) * (y[t] - y[t - 1]);
		if (n > 1)
			sigma = sqrt(s2 / (double)(n - 1));
		for (size_t k = 1; k <= h; k++)
			normal_band(out + (k - 1) * FC_NOUT, y[n - 1], sigma * sqrt((double)k));
		break;
	case FC_SNAIVE:
		if (n < m)
			return sl__err(SL_EINVAL, "seasonal naive needs a whole season (%zu values)", m);
		for (size_t t = m; t < n; t++)
			s2 += (y[t] - y[t - m]) * (y[t] - y[t - m]);
		if (n > m)
			sigma = sqrt(s2 / (double)(n - m));
		for (size_t k = 1; k <= h; k++)
			normal_band(out + (k - 1) * FC_NOUT, y[n - m + (k - 1) % m],
				    sigma * sqrt((double)((k - 1) / m + 1)));
		break;
	case FC_DRIFT: {
		double c;
		if (n < 2)
			return sl__err(SL_EINVAL, "drift needs at least two observations");
		c = (y[n - 1] - y[0]) / (double)(n - 1);
		for (size_t t = 1; t < n; t++) {
			double e = y[t] - y[t - 1] - c;
			s2 += e * e;
		}
		if (n > 2)
			sigma = sqrt(s2 / (double)(n - 2));
		for (size_t k = 1; k <= h; k++) {
			double kk = (double)k;
			normal_band(out + (k - 1) * FC_NOUT, y[n - 1] + kk * c,
				    sigma * sqrt(kk * (1 + kk / (double)(n - 1))));
		}
		fit->drift = c;
		break;
	}
	default:
		return sl__err(SL_EINVAL, "%s is not a simple method", fc_method_name(method));
	}
	fit->method = method;
	fit->sigma = sigma;
	fit->simulated = false;
	return 0;
}

/* ---- one series ----------------------------------------------------------------- */

/* The smallest series a method accepts (seasonal naive: two seasons). */
static size_t min_length(fc_method method, size_t m)
{
	switch (method) {
	case FC_SNAIVE: return m > 1 ? 2 * m : 1;
	case FC_DRIFT: return 2;
	case FC_THETA: return 3;
	case FC_GBDT: return fc_gbdt_min_length(m);
	default: return 1;
	}
}

static int too_short(fc_method method, size_t n, size_t m)
{
	const char *why = method == FC_SNAIVE ? ": two seasons"
			  : method == FC_GBDT ? ": two lag windows of max(season, 4)"
					      : "";
	return sl__err(SL_EINVAL, "%zu observations are too few for %s with season %zu "
				  "(needs at least %zu%s)",
		       n, fc_method_name(method), m, min_length(method, m), why);
}

/* The gbdt results of the series being fitted (computed across the panel
 * first: its model is global), or NULL. */
typedef struct gb_ref {
	const fc_gbdt_run *run;
	size_t s;
} gb_ref;

static bool gb_has(const gb_ref *gb)
{
	return gb && gb->run && gb->run->available && gb->run->ok[gb->s];
}

static int fit_method(fc_method method, const double *y, size_t n, const fc_opts *o, size_t h,
		      uint64_t stream, const gb_ref *gb, fc_fit *fit, double *out)
{
	switch (method) {
	case FC_GBDT:
		if (!gb_has(gb) || h != gb->run->h)
			return sl__err(SL_EINVAL, "gbdt has no forecast for this series");
		memcpy(out, gb->run->fc + gb->s * h * FC_NOUT, h * FC_NOUT * sizeof *out);
		fit->method = FC_GBDT;
		fit->scale = gb->run->scale[gb->s];
		fit->simulated = false;
		return 0;
	case FC_NAIVE:
	case FC_SNAIVE:
	case FC_DRIFT:
		return fc_simple_fit(method, y, n, o->season, h, fit, out);
	case FC_ETS:
		return fc_ets_fit(y, n, o->season, o->ets, h, o->seed, stream, fit, out);
	case FC_THETA:
		return fc_theta_fit(y, n, o->season, h, fit, out);
	default:
		return sl__err(SL_EUNSUP, "method %s: no such method in this build",
			       fc_method_name(method));
	}
}

/* The candidates of `auto`, simplest first: a tie goes to the simpler one. */
static const fc_method candidates[] = {FC_NAIVE, FC_SNAIVE, FC_DRIFT, FC_THETA, FC_ETS, FC_GBDT};

/*
 * The rolling-origin contest: origins i = 0..K-1 at n - h - i d (d = the
 * horizon over K, at least 1); at each, every candidate is fitted on the
 * values before the origin and scored by MASE on the h after it (scaled
 * by the seasonal-naive error of those training values). A candidate's
 * score is its mean over the origins where it could be fitted; the least
 * wins and is refitted on the whole series.
 */
static int fit_auto(const double *y, size_t n, const fc_opts *o, uint64_t stream,
		    const gb_ref *gb, fc_fit *fit, double *out)
{
	size_t h = o->horizon, m = o->season, K = o->origins ? o->origins : 1;
	size_t d = (h + K - 1) / K;
	double sum[FC_N_METHODS] = {0}, *tmp;
	size_t cnt[FC_N_METHODS] = {0};
	fc_method best = FC_NAIVE;
	double best_score = INFINITY;
	fc_fit scratch;
	int rc;

	if (d < 1)
		d = 1;
	tmp = sl__malloc(h * FC_NOUT * sizeof *tmp);
	if (!tmp)
		return sl__oom();
	for (size_t i = 0; i < K; i++) {
		if (n < h + i * d + 3)
			break;
		size_t len = n - h - i * d;
		double scale = fc_mase_scale(y, len, m);
		if (!(scale > 0))
			scale = 1; /* a constant history: rank by absolute error */
		for (size_t c = 0; c < SL__ARRAY_LEN(candidates); c++) {
			fc_method cm = candidates[c];
			double err = 0;
			if (cm == FC_SNAIVE && m < 2)
				continue;
			if (len < min_length(cm, m))
				continue;
			if (cm == FC_GBDT) {
				/* Forecast at this origin by the global holdout model. */
				const double *hf;
				if (!gb_has(gb) || i >= gb->run->K)
					continue;
				hf = gb->run->holdout + (gb->s * gb->run->K + i) * h;
				for (size_t k = 0; k < h; k++)
					err += fabs(y[len + k] - hf[k]);
				err /= (double)h * scale;
				if (isfinite(err)) {
					sum[cm] += err;
					cnt[cm]++;
				}
				continue;
			}
			fc_fit_init(&scratch);
			rc = fit_method(cm, y, len, o, h, stream, NULL, &scratch, tmp);
			if (rc == SL_ENOMEM) {
				sl__free(tmp);
				return rc;
			}
			if (rc)
				continue; /* not fittable at this origin (e.g. ETS too short) */
			for (size_t k = 0; k < h; k++)
				err += fabs(y[len + k] - tmp[k * FC_NOUT]);
			err /= (double)h * scale;
			if (!isfinite(err))
				continue;
			sum[cm] += err;
			cnt[cm]++;
		}
	}
	sl__free(tmp);
	for (size_t c = 0; c < SL__ARRAY_LEN(candidates); c++) {
		fc_method cm = candidates[c];
		if (!cnt[cm])
			continue;
		fit->scores[cm] = sum[cm] / (double)cnt[cm];
		if (fit->scores[cm] < best_score) {
			best_score = fit->scores[cm];
			best = cm;
		}
	}
	if (!isfinite(best_score))
		return sl__err(SL_EINVAL,
			       "method auto: %zu observations leave no origin for a holdout of "
			       "horizon %zu (needs at least %zu)",
			       n, h, h + 3);
	double scores[FC_N_METHODS];
	memcpy(scores, fit->scores, sizeof scores);
	if ((rc = fit_method(best, y, n, o, h, stream, gb, fit, out)))
		return rc;
	memcpy(fit->scores, scores, sizeof scores);
	return 0;
}

static int fit_series(const double *y, size_t n, const fc_opts *o, uint64_t stream,
		      const gb_ref *gb, fc_fit *fit, double *out)
{
	size_t need;

	fc_fit_init(fit);
	if (o->method == FC_AUTO) {
		if (n < o->horizon + 3)
			return sl__err(SL_EINVAL,
				       "%zu observations are too few for method auto with horizon "
				       "%zu: the holdout needs at least %zu (lower `horizon`, or "
				       "choose a method)",
				       n, o->horizon, o->horizon + 3);
		return fit_auto(y, n, o, stream, gb, fit, out);
	}
	need = min_length(o->method, o->season);
	if (n < need)
		return too_short(o->method, n, o->season);
	return fit_method(o->method, y, n, o, o->horizon, stream, gb, fit, out);
}

/* The gbdt path on one series alone (a panel of one, without times). */
int fc_fit_series(const double *y, size_t n, const fc_opts *o, uint64_t stream, fc_fit *fit,
		  double *out)
{
	size_t start[2] = {0, n};
	fc_series_set one = {1, start, y, NULL, {FC_UNIT_FIXED, 1, false, false}};
	fc_gbdt_run run = {0};
	gb_ref gb = {&run, 0};
	int rc;

	if (o->method == FC_GBDT && n < min_length(FC_GBDT, o->season))
		return fc_fit_init(fit), too_short(FC_GBDT, n, o->season);
	if ((o->method == FC_GBDT ||
	     (o->method == FC_AUTO && n >= fc_gbdt_auto_length(o->season, o->horizon, o->origins))) &&
	    (rc = fc_gbdt_run_panel(&one, o, o->method == FC_AUTO, &run)))
		return fc_fit_init(fit), rc;
	rc = fit_series(y, n, o, stream, &gb, fit, out);
	fc_gbdt_run_free(&run);
	return rc;
}

/* ---- the model ------------------------------------------------------------------ */

typedef struct fc_impl {
	fc_view v;
	/* The arrays when the model was trained here (else they point into
	 * the model file). */
	double *keys, *fc, *obs, *scale;
	int64_t *last;
} fc_impl;

extern const ml_ops ml_forecast_ops;

static int key_cmp(const double *a, const double *b, size_t k)
{
	for (size_t j = 0; j < k; j++) {
		if (a[j] < b[j])
			return -1;
		if (a[j] > b[j])
			return 1;
	}
	return 0;
}

long fc_view_find(const fc_view *v, const double *key)
{
	size_t lo = 0, hi = v->n_series;

	for (size_t j = 0; j < v->nby; j++)
		if (isnan(key[j]))
			return -1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(key, v->keys + mid * v->nby, v->nby);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static int fc_predict(const ml_model *m, const double *X, size_t n, double *out)
{
	const fc_view *v = &((const fc_impl *)m->impl)->v;
	size_t p = v->nby + 1;

	for (size_t i = 0; i < n; i++) {
		const double *row = X + i * p;
		double h = row[v->nby], *o = out + i * FC_NOUT;
		long s = fc_view_find(v, row);
		if (s < 0 || !(h >= 1 && h <= (double)v->horizon) || h != floor(h)) {
			for (size_t k = 0; k < FC_NOUT; k++)
				o[k] = NAN;
			continue;
		}
		memcpy(o, v->fc + ((size_t)s * v->horizon + (size_t)h - 1) * FC_NOUT,
		       FC_NOUT * sizeof *o);
	}
	return 0;
}

static int fc_save(const ml_model *m, mfile_writer *w)
{
	const fc_view *v = &((const fc_impl *)m->impl)->v;
	uint64_t dims[5] = {v->n_series, v->nby, v->horizon, v->window, v->season};
	int64_t per[4] = {v->period.unit, v->period.step, v->period.timestamps,
			  v->period.month_end};
	size_t S = v->n_series;
	int rc;

	if ((rc = mfile_add(w, "dims", dims, sizeof dims)) ||
	    (rc = mfile_add(w, "period", per, sizeof per)) ||
	    (rc = mfile_add(w, "keys", v->keys, S * v->nby * sizeof *v->keys)) ||
	    (rc = mfile_add(w, "last", v->last, S * sizeof *v->last)) ||
	    (rc = mfile_add(w, "fc", v->fc, S * v->horizon * FC_NOUT * sizeof *v->fc)) ||
	    (rc = mfile_add(w, "lastobs", v->last_obs, S * v->window * sizeof *v->last_obs)))
		return rc;
	return mfile_add(w, "scale", v->scale, S * sizeof *v->scale);
}

static void fc_free_impl(void *p)
{
	fc_impl *im = p;

	if (!im)
		return;
	sl__free(im->keys);
	sl__free(im->fc);
	sl__free(im->obs);
	sl__free(im->scale);
	sl__free(im->last);
	sl__free(im);
}

static int fc_load(ml_model *m, const mfile *f)
{
	const char *name = mfile_name(f);
	const void *dims_p, *per_p, *keys, *last, *fc, *obs, *scale;
	uint64_t dims[5];
	int64_t per[4];
	fc_impl *im;
	size_t S, nby, H, W;
	int rc;

	if ((rc = mfile_array(f, "dims", sizeof(uint64_t), 5, &dims_p)) ||
	    (rc = mfile_array(f, "period", sizeof(int64_t), 4, &per_p)))
		return rc;
	memcpy(dims, dims_p, sizeof dims);
	memcpy(per, per_p, sizeof per);
	S = (size_t)dims[0];
	nby = (size_t)dims[1];
	H = (size_t)dims[2];
	W = (size_t)dims[3];
	if (S == 0 || S > ((size_t)1 << 32) || nby + 1 != m->sig.n_features || H == 0 ||
	    H > FC_MAX_HORIZON || dims[4] == 0 || dims[4] > FC_MAX_SEASON || W != dims[4] ||
	    m->sig.n_outputs != FC_NOUT || (per[0] != FC_UNIT_FIXED && per[0] != FC_UNIT_MONTH) ||
	    per[1] <= 0 || (uint64_t)per[2] > 1 || (uint64_t)per[3] > 1)
		return sl__err(SL_ECORRUPT, "%s: forecast model dimensions are inconsistent", name);
	if ((rc = mfile_array(f, "keys", sizeof(double), S * nby, &keys)) ||
	    (rc = mfile_array(f, "last", sizeof(int64_t), S, &last)) ||
	    (rc = mfile_array(f, "fc", sizeof(double) * FC_NOUT, S * H, &fc)) ||
	    (rc = mfile_array(f, "lastobs", sizeof(double), S * W, &obs)) ||
	    (rc = mfile_array(f, "scale", sizeof(double), S, &scale)))
		return rc;
	for (size_t s = 0; s < S; s++) {
		const double *k = (const double *)keys + s * nby;
		for (size_t j = 0; j < nby; j++)
			if (isnan(k[j]))
				return sl__err(SL_ECORRUPT, "%s: series %zu has a missing key", name, s);
		if (s && key_cmp(k - nby, k, nby) >= 0)
			return sl__err(SL_ECORRUPT, "%s: series keys are not in order", name);
	}
	im = sl__calloc(1, sizeof *im);
	if (!im)
		return sl__oom();
	im->v = (fc_view){S, nby, H, W, (size_t)dims[4], keys, last, fc, obs, scale,
			  {(fc_unit)per[0], per[1], per[2] != 0, per[3] != 0}};
	m->impl = im;
	return 0;
}

/* The C form of fc_view_find and fc_predict: the lookup, as a table and a binary search. */
static int fc_emit_c(const ml_model *m, sl__cw *w)
{
	const fc_view *v = &((const fc_impl *)m->impl)->v;
	size_t S = v->n_series, nby = v->nby, H = v->horizon;

	sl__cw_printf(w, "/*\n * Forecasts of %zu series for h = 1..%zu: the inputs are the series key\n"
			 " * (%zu values, in sx_keys' order) and h; an unknown series or an h that is\n"
			 " * not a whole number in 1..%zu gives NaN.\n */\n",
		      S, H, nby, H);
	sl__cw_doubles(w, "static const double sx_keys[]", v->keys, S * nby);
	sl__cw_doubles(w, "static const double sx_fc[]", v->fc, S * H * FC_NOUT);
	sl__cw_printf(w,
		      "\nstatic int sx_key_cmp(const double *a, const double *b)\n{\n"
		      "\tfor (int j = 0; j < %zu; j++) {\n"
		      "\t\tif (a[j] < b[j])\n"
		      "\t\t\treturn -1;\n"
		      "\t\tif (a[j] > b[j])\n"
		      "\t\t\treturn 1;\n"
		      "\t}\n"
		      "\treturn 0;\n"
		      "}\n\n"
		      "static void sx_model(const double *x, double *out)\n{\n"
		      "\tlong lo = 0, hi = %zu, s = -1;\n"
		      "\tdouble h = x[%zu];\n\n"
		      "\tfor (int j = 0; j < %zu; j++)\n"
		      "\t\tif (isnan(x[j]))\n"
		      "\t\t\tlo = hi;\n"
		      "\twhile (lo < hi) {\n"
		      "\t\tlong mid = lo + (hi - lo) / 2;\n"
		      "\t\tint c = sx_key_cmp(x, sx_keys + mid * %zu);\n"
		      "\t\tif (c == 0) {\n"
		      "\t\t\ts = mid;\n"
		      "\t\t\tbreak;\n"
		      "\t\t}\n"
		      "\t\tif (c < 0)\n"
		      "\t\t\thi = mid;\n"
		      "\t\telse\n"
		      "\t\t\tlo = mid + 1;\n"
		      "\t}\n"
		      "\tif (s < 0 || !(h >= 1 && h <= %zu.0) || h != floor(h)) {\n"
		      "\t\tfor (int k = 0; k < %d; k++)\n"
		      "\t\t\tout[k] = NAN;\n"
		      "\t\treturn;\n"
		      "\t}\n"
		      "\tfor (int k = 0; k < %d; k++)\n"
		      "\t\tout[k] = sx_fc[(s * %zu + (long)h - 1) * %d + k];\n"
		      "}\n",
		      nby, S, nby, nby, nby, H, FC_NOUT, FC_NOUT, H, FC_NOUT);
	return w->rc;
}

const ml_ops ml_forecast_ops = {
	.algorithm = "forecast",
	.predict = fc_predict,
	.save = fc_save,
	.load = fc_load,
	.free_impl = fc_free_impl,
	.emit_c = fc_emit_c,
};

int fc_model_view(const ml_model *m, fc_view *out)
{
	if (!m || m->ops != &ml_forecast_ops || !m->impl)
		return sl__err(SL_EINVAL, "not a forecast model (algorithm %s)",
			       m && m->ops ? m->ops->algorithm : "?");
	*out = ((const fc_impl *)m->impl)->v;
	return 0;
}

/* ---- the point of least expected cost ----------------------------------------------- */

/* The standard normal quantile of q in (0, 1), by bisection on erfc (exact
 * to a double's resolution; called once per model). */
static double normal_quantile(double q)
{
	double lo = -40, hi = 40;

	for (int i = 0; i < 200 && hi - lo > 1e-15; i++) {
		double mid = 0.5 * (lo + hi);
		if (0.5 * erfc(-mid / M_SQRT2) < q)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

double fc_quantile_from_band(const double *o, double z)
{
	/* The bound on z's side that is nearest beyond it (the 80% one while
	 * |z| is within it) gives that side's spread: a split normal, so an
	 * asymmetric (simulated) band keeps its skew. */
	bool up = z >= 0, near = fabs(z) <= FC_Z80;
	double bound = up ? o[near ? 2 : 4] : o[near ? 1 : 3], zb = near ? FC_Z80 : FC_Z95;
	double sd = fabs(bound - o[0]) / zb;

	return isfinite(sd) ? o[0] + z * sd : o[0];
}

int fc_model_cost_point(ml_model *m, double over, double under)
{
	fc_impl *im = m && m->ops == &ml_forecast_ops ? m->impl : NULL;
	double q, z;
	json_t *pt;

	if (!im || !im->fc)
		return sl__err(SL_EINVAL, "the point of least cost is set on a forecast model "
					  "being trained");
	if (!(over >= 0) || !(under >= 0) || !(over + under > 0) || !isfinite(over + under))
		return sl__err(SL_EINVAL, "over and under costs must be non-negative numbers, not "
					  "both 0 (got over %g, under %g)",
			       over, under);
	q = under / (over + under);
	if (q <= 0 || q >= 1)
		return sl__err(SL_EINVAL, "with over %g and under %g the cheapest forecast is %s "
					  "bound: give both costs",
			       over, under, q <= 0 ? "no lower" : "no upper");
	z = normal_quantile(q);
	for (size_t r = 0; r < im->v.n_series * im->v.horizon; r++) {
		double *o = im->fc + r * FC_NOUT;
		o[0] = fc_quantile_from_band(o, z);
	}
	pt = json_pack("{s:s, s:f, s:f, s:f, s:f}", "point", "cost", "over", over, "under", under,
		       "quantile", q, "z", z);
	if (!pt || json_object_set_new(m->info, "point", pt))
		return sl__oom();
	return 0;
}

/* ---- fitting a panel --------------------------------------------------------------- */

typedef struct panel_job {
	const fc_panel *p;
	const fc_opts *o;
	const fc_gbdt_run *gb;
	fc_impl *im;
	fc_fit *fits;
	int *codes;
	char **msgs;
} panel_job;

static void fit_one_series(void *ctx, size_t s, unsigned worker)
{
	panel_job *j = ctx;
	const fc_panel *p = j->p;
	const fc_view *v = &j->im->v;
	const double *y = p->y + p->start[s];
	size_t n = p->start[s + 1] - p->start[s], W = v->window;
	double *obs = j->im->obs + s * W;
	int rc;

	(void)worker;
	j->im->last[s] = p->t[p->start[s + 1] - 1];
	for (size_t k = 0; k < W; k++)
		obs[k] = k + n >= W ? y[n - W + k] : NAN;
	j->im->scale[s] = fc_mase_scale(y, n, v->season);
	rc = fit_series(y, n, j->o, s, &(gb_ref){j->gb, s}, &j->fits[s],
			j->im->fc + s * v->horizon * FC_NOUT);
	if (rc) {
		j->codes[s] = rc;
		j->msgs[s] = sl__strdup(sl_errmsg());
	}
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* One series' entry of info.series. */
static json_t *series_info(const fc_panel *p, const fc_opts *o, const fc_impl *im, size_t s,
			   const fc_fit *f)
{
	char label[256];
	json_t *e = json_object(), *par = json_object(), *times = json_array();
	size_t n = p->start[s + 1] - p->start[s];

	if (!e || !par || !times) {
		json_decref(e);
		json_decref(par);
		json_decref(times);
		return NULL;
	}
	json_object_set_new(e, "key", fc_key_json((const char *const *)p->by, p->by_type, p->dict,
						 p->nby, p->keys + s * p->nby));
	json_object_set_new(e, "label", json_string(fc_panel_label(p, s, label, sizeof label)));
	json_object_set_new(e, "n", json_integer((json_int_t)n));
	json_object_set_new(e, "first", fc_time_json(&p->period, p->t[p->start[s]]));
	json_object_set_new(e, "last", fc_time_json(&p->period, im->last[s]));
	json_object_set_new(e, "method", json_string(fc_method_name(f->method)));
	if (f->method == FC_ETS)
		json_object_set_new(e, "ets", json_string(f->ets));
	json_object_set_new(e, "intervals", json_string(f->method == FC_GBDT ? "empirical"
							: f->simulated     ? "simulated"
									   : "analytic"));
	if (isfinite(f->alpha))
		json_object_set_new(par, "alpha", json_real(f->alpha));
	if (isfinite(f->beta))
		json_object_set_new(par, "beta", json_real(f->beta));
	if (isfinite(f->gamma))
		json_object_set_new(par, "gamma", json_real(f->gamma));
	if (isfinite(f->phi))
		json_object_set_new(par, "phi", json_real(f->phi));
	if (isfinite(f->drift))
		json_object_set_new(par, "drift", json_real(f->drift));
	if (f->method == FC_ETS) {
		json_t *init = json_array();
		for (size_t k = 0; init && k < f->n_init; k++)
			json_array_append_new(init, num(f->init[k]));
		json_object_set_new(par, "initial_states", init);
		json_object_set_new(par, "loglik", num(f->loglik));
		json_object_set_new(par, "aicc", num(f->aicc));
	}
	if (f->method == FC_THETA)
		json_object_set_new(par, "seasonally_adjusted", json_boolean(f->seasonal));
	if (f->method == FC_GBDT)
		json_object_set_new(par, "scale", num(f->scale));
	json_object_set_new(par, "sigma", num(f->sigma));
	json_object_set_new(e, "params", par);
	json_object_set_new(e, "mase_scale", num(im->scale[s]));
	if (o->method == FC_AUTO) {
		json_t *sc = json_object();
		for (size_t c = 0; sc && c < SL__ARRAY_LEN(candidates); c++)
			if (isfinite(f->scores[candidates[c]]))
				json_object_set_new(sc, fc_method_name(candidates[c]),
						    json_real(f->scores[candidates[c]]));
		json_object_set_new(e, "scores", sc);
	}
	for (size_t k = 1; k <= o->horizon; k++)
		json_array_append_new(times, fc_time_json(&p->period,
							  fc_period_add(&p->period, im->last[s],
									(int64_t)k)));
	json_object_set_new(e, "times", times);
	return e;
}

/* The signature: the key columns (strings with their sorted values), then h. */
static int build_signature(const fc_panel *p, const char *target, ml_signature *sig)
{
	memset(sig, 0, sizeof *sig);
	sig->task = ML_FORECAST;
	sig->features = sl__calloc(p->nby + 1, sizeof *sig->features);
	if (!sig->features)
		return sl__oom();
	sig->n_features = p->nby + 1;
	for (size_t j = 0; j < p->nby; j++) {
		ml_feature *f = &sig->features[j];
		f->type = p->by_type[j];
		if (!(f->name = sl__strdup(p->by[j])))
			return sl__oom();
		if (f->type == DS_STRING && p->n_dict[j]) {
			f->dict = sl__calloc(p->n_dict[j], sizeof *f->dict);
			if (!f->dict)
				return sl__oom();
			f->n_dict = p->n_dict[j];
			for (uint32_t k = 0; k < p->n_dict[j]; k++)
				if (!(f->dict[k] = sl__strdup(p->dict[j][k])))
					return sl__oom();
		}
	}
	sig->features[p->nby].type = DS_INT64;
	if (!(sig->features[p->nby].name = sl__strdup("h")) || !(sig->target = sl__strdup(target)))
		return sl__oom();
	sig->target_type = DS_FLOAT64;
	return ml_signature_set_outputs(sig);
}

int fc_model_fit(const fc_panel *p, const char *target, const char *time, const fc_opts *o,
		 ml_model **out)
{
	size_t S = p->n_series, H = o->horizon, W = o->season > 1 ? o->season : 1;
	fc_impl *im = NULL;
	panel_job job = {0};
	ml_signature sig = {0};
	json_t *params = NULL, *series = NULL, *chosen = NULL, *mean = NULL;
	fc_gbdt_run gbr = {0};
	int64_t *t0 = NULL;
	double sums[FC_N_METHODS] = {0};
	size_t cnts[FC_N_METHODS] = {0};
	char pname[64];
	ml_model *m = NULL;
	int rc = 0;

	*out = NULL;
	if (H < 1 || H > FC_MAX_HORIZON || o->season < 1 || o->season > FC_MAX_SEASON)
		return sl__err(SL_EINVAL, "horizon must be in 1..%d and season in 1..%d",
			       FC_MAX_HORIZON, FC_MAX_SEASON);
	for (size_t j = 0; j < p->nby; j++)
		if (!strcmp(p->by[j], "h"))
			return sl__err(SL_EINVAL, "a `by` column may not be named 'h' (the model's "
						  "steps-ahead input): rename it with wrangle");
	if (S > SIZE_MAX / (H * FC_NOUT * sizeof(double)) || S > SIZE_MAX / (W * sizeof(double)))
		return sl__err(SL_ELIMIT, "too many series");
	im = sl__calloc(1, sizeof *im);
	if (!im)
		return sl__oom();
	im->keys = sl__malloc(((S * p->nby) + 1) * sizeof *im->keys);
	im->fc = sl__malloc(S * H * FC_NOUT * sizeof *im->fc);
	im->obs = sl__malloc(S * W * sizeof *im->obs);
	im->scale = sl__malloc(S * sizeof *im->scale);
	im->last = sl__malloc(S * sizeof *im->last);
	job.fits = sl__calloc(S, sizeof *job.fits);
	job.codes = sl__calloc(S, sizeof *job.codes);
	job.msgs = sl__calloc(S, sizeof *job.msgs);
	if (!im->keys || !im->fc || !im->obs || !im->scale || !im->last || !job.fits ||
	    !job.codes || !job.msgs) {
		rc = sl__oom();
		goto out;
	}
	memcpy(im->keys, p->keys, S * p->nby * sizeof *im->keys);
	im->v = (fc_view){S, p->nby, H, W, o->season, im->keys, im->last, im->fc, im->obs,
			  im->scale, p->period};
	job.p = p;
	job.o = o;
	job.im = im;
	if (o->method == FC_GBDT || o->method == FC_AUTO) {
		/* gbdt's one model learns from every series: it runs first, and
		 * the per-series fits (auto's contest) read its results. */
		fc_series_set set = {S, p->start, p->y, NULL, p->period};
		if (o->method == FC_GBDT)
			for (size_t s = 0; s < S; s++) {
				size_t n = p->start[s + 1] - p->start[s];
				if (n < min_length(FC_GBDT, o->season)) {
					char label[256], msg[512];
					too_short(FC_GBDT, n, o->season);
					snprintf(msg, sizeof msg, "%s", sl_errmsg());
					rc = sl__err(SL_EINVAL, "series %s: %s",
						     fc_panel_label(p, s, label, sizeof label), msg);
					goto out;
				}
			}
		if (!(t0 = sl__malloc(S * sizeof *t0))) {
			rc = sl__oom();
			goto out;
		}
		for (size_t s = 0; s < S; s++)
			t0[s] = p->t[p->start[s]];
		set.t0 = t0;
		if ((rc = fc_gbdt_run_panel(&set, o, o->method == FC_AUTO, &gbr)))
			goto out;
		job.gb = &gbr;
	}
	sl__parallel_for(o->threads, S, fit_one_series, &job);
	for (size_t s = 0; s < S; s++) {
		if (job.codes[s]) {
			char label[256];
			rc = sl__err(job.codes[s], "series %s: %s",
				     fc_panel_label(p, s, label, sizeof label),
				     job.msgs[s] ? job.msgs[s] : "out of memory");
			goto out;
		}
	}
	if ((rc = build_signature(p, target, &sig)))
		goto out;
	params = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:s}", "target", target,
			   "time", time, "method", fc_method_name(o->method), "horizon",
			   (json_int_t)H, "season", (json_int_t)o->season, "origins",
			   (json_int_t)o->origins, "period", fc_period_name(&p->period, pname, sizeof pname),
			   "seed", (json_int_t)o->seed, "ets_model", "");
	if (!params) {
		rc = sl__oom();
		goto out;
	}
	{
		json_t *by = json_array();
		for (size_t j = 0; by && j < p->nby; j++)
			json_array_append_new(by, json_string(p->by[j]));
		json_object_set_new(params, "by", by);
		char e[8], *q = e;
		*q++ = o->ets.error == FC_E_ADD ? 'A' : o->ets.error == FC_E_MUL ? 'M' : 'Z';
		if (o->ets.trend == FC_T_NONE)
			*q++ = 'N';
		else if (o->ets.trend == FC_T_ADD)
			*q++ = 'A';
		else if (o->ets.trend == FC_T_DAMPED)
			*q++ = 'A', *q++ = 'd';
		else
			*q++ = 'Z';
		*q++ = o->ets.season == FC_S_NONE ? 'N' : o->ets.season == FC_S_ADD  ? 'A'
						     : o->ets.season == FC_S_MUL ? 'M' : 'Z';
		*q = 0;
		json_object_set_new(params, "ets_model", json_string(e));
	}
	/* ml_model_new takes params whether it succeeds or not. */
	rc = ml_model_new(&ml_forecast_ops, &sig, params, &m);
	params = NULL;
	if (rc)
		goto out;
	m->impl = im;
	im = NULL;
	series = json_array();
	chosen = json_object();
	mean = json_object();
	if (!series || !chosen || !mean) {
		rc = sl__oom();
		goto out;
	}
	for (size_t s = 0; s < S; s++) {
		const fc_fit *f = &job.fits[s];
		json_t *e = series_info(p, o, m->impl, s, f);
		json_t *c = json_object_get(chosen, fc_method_name(f->method));
		if (!e || json_array_append_new(series, e)) {
			rc = sl__oom();
			goto out;
		}
		json_object_set_new(chosen, fc_method_name(f->method),
				    json_integer((c ? json_integer_value(c) : 0) + 1));
		for (int k = 0; k < FC_N_METHODS; k++)
			if (isfinite(f->scores[k])) {
				sums[k] += f->scores[k];
				cnts[k]++;
			}
	}
	for (size_t c = 0; c < SL__ARRAY_LEN(candidates); c++)
		if (cnts[candidates[c]])
			json_object_set_new(mean, fc_method_name(candidates[c]),
					    json_real(sums[candidates[c]] /
						      (double)cnts[candidates[c]]));
	json_object_set_new(m->info, "period", json_string(pname));
	json_object_set_new(m->info, "period_spec", fc_period_json(&p->period));
	json_object_set_new(m->info, "series_count", json_integer((json_int_t)S));
	json_object_set_new(m->info, "methods_chosen", chosen);
	chosen = NULL;
	if (o->method == FC_AUTO) {
		json_object_set_new(m->info, "auto_mean_mase", mean);
		mean = NULL;
	}
	json_object_set_new(m->info, "series", series);
	series = NULL;
	if (gbr.available && cnts[FC_GBDT] + (o->method == FC_GBDT)) {
		json_object_set_new(m->info, "gbdt", gbr.info);
		gbr.info = NULL;
	}
	*out = m;
	m = NULL;
out:
	for (size_t s = 0; job.msgs && s < S; s++)
		sl__free(job.msgs[s]);
	sl__free(job.msgs);
	sl__free(job.codes);
	sl__free(job.fits);
	fc_free_impl(im);
	fc_gbdt_run_free(&gbr);
	sl__free(t0);
	ml_signature_clear(&sig);
	json_decref(params);
	json_decref(series);
	json_decref(chosen);
	json_decref(mean);
	ml_model_free(m);
	return rc;
}
