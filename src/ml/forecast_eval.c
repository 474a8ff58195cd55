/*
 * Scoring a forecast model on rows that came after its training data: the
 * `evaluate` step calls ml_forecast_evaluate for forecast models, and
 * train.forecast for its `valid` input.
 *
 * Each test row is matched to a forecast by its series key and the number
 * of grid steps from the series' last training time (its h). A row that
 * cannot be matched is counted under the reason, never dropped silently:
 *   unknown_series      no series of the model has its key
 *   not_after_training  its time is at or before the last training time
 *   off_grid            its time is not on the model's time grid
 *   beyond_horizon      h > the model's horizon
 *   missing_actual      its target is empty or not a number
 * The seasonal naive baseline is scored on the same rows from the last
 * season of values the model keeps, so the two are always comparable.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/forecast.h"

#define EVAL_CHART_SERIES 20

typedef struct point {
	size_t s, row;
	int64_t k;
	double actual, base;
} point;

typedef struct acc {
	double mase, abs_err, abs_act, smape;
	size_t n_mase, n;
} acc;

static void acc_add(acc *a, double y, double f, double scale)
{
	double e = fabs(y - f), den = fabs(y) + fabs(f);

	a->abs_err += e;
	a->abs_act += fabs(y);
	a->smape += den > 0 ? 200 * e / den : 0;
	a->n++;
	if (scale > 0 && isfinite(scale)) {
		a->mase += e / scale;
		a->n_mase++;
	}
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static void acc_json(const acc *a, json_t *o)
{
	json_object_set_new(o, "mase", num(a->n_mase ? a->mase / (double)a->n_mase : NAN));
	json_object_set_new(o, "smape", num(a->n ? a->smape / (double)a->n : NAN));
	json_object_set_new(o, "wape", num(a->abs_act > 0 ? a->abs_err / a->abs_act : NAN));
}

static int cmp_point(const void *a, const void *b)
{
	const point *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

/* Each test row's key as the model codes it (NaN: a value it never saw). */
static int code_keys(const ml_model *m, const fc_view *v, const ds_table *t, double *keys)
{
	size_t n = ds_nrow(t);

	for (size_t j = 0; j < v->nby; j++) {
		const ml_feature *f = &m->sig.features[j];
		size_t c;
		if (ds_col_find(t, f->name, &c) != 0)
			return sl__err(SL_EINVAL, "the test data has no column '%s' (a series key "
						  "of the model)",
				       f->name);
		ds_type ty = ds_col_type(t, c);
		const uint8_t *valid = ds_col_validity(t, c);
		if ((f->type == DS_STRING) != (ty == DS_STRING))
			return sl__err(SL_EINVAL, "the key column '%s' is %s in the test data but "
						  "was %s in training",
				       f->name, ds_type_name(ty), ds_type_name(f->type));
		if (ty == DS_STRING) {
			size_t nd = ds_dict_size(t, c);
			const uint32_t *codes = ds_col_codes(t, c);
			double *map = sl__malloc((nd ? nd : 1) * sizeof *map);
			if (!map)
				return sl__oom();
			for (size_t k = 0; k < nd; k++) {
				size_t len;
				const char *s = ds_dict_str(t, c, (uint32_t)k, &len);
				long code = ml_signature_code(&m->sig, j, s, len);
				map[k] = code < 0 ? NAN : (double)code;
			}
			for (size_t i = 0; i < n; i++)
				keys[i * v->nby + j] = ds_valid(valid, i) ? map[codes[i]] : NAN;
			sl__free(map);
		} else {
			for (size_t i = 0; i < n; i++) {
				double x;
				keys[i * v->nby + j] = ds_get_f64(t, c, i, &x) ? x : NAN;
			}
		}
	}
	return 0;
}

int ml_forecast_evaluate(const ml_model *m, const ds_table *test, const char *time_col,
			 json_t **out_report)
{
	size_t n = ds_nrow(test), tc, np = 0;
	size_t unknown = 0, before = 0, offgrid = 0, beyond = 0, missing = 0;
	double *keys = NULL, cov80 = 0, cov95 = 0;
	int64_t *times = NULL;
	point *pts = NULL;
	acc model = {0}, base = {0};
	json_t *rep = NULL, *metrics, *bl, *un, *series;
	bool ts;
	ds_type tt;
	fc_view v;
	int rc;

	*out_report = NULL;
	if ((rc = fc_model_view(m, &v)))
		return rc;
	if (!time_col)
		time_col = json_string_value(json_object_get(m->params, "time"));
	if (!time_col)
		return sl__err(SL_EINVAL, "the model does not name its time column: pass one");
	if (!m->sig.target || ds_col_find(test, m->sig.target, &tc) != 0)
		return sl__err(SL_EINVAL, "the test data has no column '%s' (the target)",
			       m->sig.target ? m->sig.target : "?");
	keys = sl__malloc((n * v.nby + 1) * sizeof *keys);
	times = sl__malloc((n ? n : 1) * sizeof *times);
	pts = sl__malloc((n ? n : 1) * sizeof *pts);
	if (!keys || !times || !pts) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = code_keys(m, &v, test, keys)) ||
	    (n && (rc = fc_table_times(test, time_col, times, &ts, &tt))))
		goto out;
	if (n && ts != v.period.timestamps) {
		rc = sl__err(SL_EINVAL, "the time column '%s' holds %s but the model was trained "
					"on %s",
			     time_col, ts ? "timestamps" : "integers",
			     v.period.timestamps ? "timestamps" : "integers");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		long s = fc_view_find(&v, keys + i * v.nby);
		double y, b;
		if (s < 0) {
			unknown++;
			continue;
		}
		if (!ds_get_f64(test, tc, i, &y) || !isfinite(y)) {
			missing++;
			continue;
		}
		int64_t k = fc_period_steps(&v.period, v.last[s], times[i]);
		if (k == INT64_MIN) {
			offgrid++;
			continue;
		}
		if (k <= 0) {
			before++;
			continue;
		}
		if (k > (int64_t)v.horizon) {
			beyond++;
			continue;
		}
		const double *f = v.fc + ((size_t)s * v.horizon + (size_t)(k - 1)) * FC_NOUT;
		const double *obs = v.last_obs + (size_t)s * v.window;
		/* Seasonal naive: the value one (or more) seasons before; naive
		 * when the series was shorter than a season. */
		b = v.season > 1 ? obs[(size_t)(k - 1) % v.season] : obs[v.window - 1];
		if (isnan(b))
			b = obs[v.window - 1];
		acc_add(&model, y, f[0], v.scale[s]);
		acc_add(&base, y, b, v.scale[s]);
		cov80 += y >= f[1] && y <= f[2];
		cov95 += y >= f[3] && y <= f[4];
		if ((size_t)s < EVAL_CHART_SERIES)
			pts[np++] = (point){(size_t)s, i, k, y, b};
	}
	qsort(pts, np, sizeof *pts, cmp_point);
	rep = json_object();
	metrics = json_object();
	bl = json_pack("{s:s}", "method", "seasonal_naive");
	un = json_pack("{s:I, s:I, s:I, s:I, s:I}", "unknown_series", (json_int_t)unknown,
		       "not_after_training", (json_int_t)before, "off_grid", (json_int_t)offgrid,
		       "beyond_horizon", (json_int_t)beyond, "missing_actual", (json_int_t)missing);
	series = json_array();
	if (!rep || !metrics || !bl || !un || !series) {
		json_decref(metrics);
		json_decref(bl);
		json_decref(un);
		json_decref(series);
		rc = sl__oom();
		goto out;
	}
	acc_json(&model, metrics);
	json_object_set_new(metrics, "coverage80", num(model.n ? cov80 / (double)model.n : NAN));
	json_object_set_new(metrics, "coverage95", num(model.n ? cov95 / (double)model.n : NAN));
	json_object_set_new(metrics, "rows", json_integer((json_int_t)model.n));
	acc_json(&base, bl);
	json_object_set_new(rep, "metrics", metrics);
	json_object_set_new(rep, "baseline", bl);
	json_object_set_new(rep, "unmatched", un);
	json_object_set_new(rep, "series", series);
	char **by = sl__calloc(v.nby + 1, sizeof *by);
	ds_type *types = sl__calloc(v.nby + 1, sizeof *types);
	char ***dicts = sl__calloc(v.nby + 1, sizeof *dicts);
	if (!by || !types || !dicts) {
		sl__free(by);
		sl__free(types);
		sl__free(dicts);
		rc = sl__oom();
		goto out;
	}
	for (size_t j = 0; j < v.nby; j++) {
		by[j] = m->sig.features[j].name;
		types[j] = m->sig.features[j].type;
		dicts[j] = m->sig.features[j].dict;
	}
	for (size_t i = 0; i < np;) {
		size_t s = pts[i].s;
		json_t *e = json_object(), *arr = json_array();
		char label[256];
		size_t len = 0;
		label[0] = 0;
		for (size_t j = 0; j < v.nby; j++) {
			const double kv = v.keys[s * v.nby + j];
			int w = types[j] == DS_STRING
					? snprintf(label + len, sizeof label - len, "%s%s=%s",
						   j ? ", " : "", by[j], dicts[j][(size_t)kv])
					: snprintf(label + len, sizeof label - len, "%s%s=%.0f",
						   j ? ", " : "", by[j], kv);
			if (w > 0 && (size_t)w < sizeof label - len)
				len += (size_t)w;
		}
		json_object_set_new(e, "key", fc_key_json((const char *const *)by, types, dicts,
							 v.nby, v.keys + s * v.nby));
		json_object_set_new(e, "label", json_string(label));
		for (; i < np && pts[i].s == s; i++) {
			const double *f = v.fc + (s * v.horizon + (size_t)(pts[i].k - 1)) * FC_NOUT;
			json_t *pt = json_object();
			json_object_set_new(pt, "time", fc_time_json(&v.period, times[pts[i].row]));
			json_object_set_new(pt, "h", json_integer((json_int_t)pts[i].k));
			json_object_set_new(pt, "actual", num(pts[i].actual));
			json_object_set_new(pt, "forecast", num(f[0]));
			json_object_set_new(pt, "lo80", num(f[1]));
			json_object_set_new(pt, "hi80", num(f[2]));
			json_object_set_new(pt, "lo95", num(f[3]));
			json_object_set_new(pt, "hi95", num(f[4]));
			json_object_set_new(pt, "baseline", num(pts[i].base));
			json_array_append_new(arr, pt);
		}
		json_object_set_new(e, "points", arr);
		json_array_append_new(series, e);
	}
	sl__free(by);
	sl__free(types);
	sl__free(dicts);
	*out_report = rep;
	rep = NULL;
out:
	json_decref(rep);
	sl__free(keys);
	sl__free(times);
	sl__free(pts);
	return rc;
}

int ml_forecast_live(const ml_model *m, const double *X, const double *P, const double *y,
		     size_t n, json_t *out)
{
	fc_view v;
	acc a = {0};
	double cov80 = 0, cov95 = 0;
	int rc;

	if ((rc = fc_model_view(m, &v)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		const double *o = P + i * FC_NOUT;
		long s = fc_view_find(&v, X + i * (v.nby + 1));
		if (s < 0 || !isfinite(y[i]) || !isfinite(o[0]))
			continue;
		acc_add(&a, y[i], o[0], v.scale[s]);
		cov80 += y[i] >= o[1] && y[i] <= o[2];
		cov95 += y[i] >= o[3] && y[i] <= o[4];
	}
	acc_json(&a, out);
	json_object_set_new(out, "mae", num(a.n ? a.abs_err / (double)a.n : NAN));
	json_object_set_new(out, "coverage80", num(a.n ? cov80 / (double)a.n : NAN));
	json_object_set_new(out, "coverage95", num(a.n ? cov95 / (double)a.n : NAN));
	json_object_set_new(out, "scored", json_integer((json_int_t)a.n));
	return 0;
}
