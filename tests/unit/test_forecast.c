/*
 * Forecasting: ETS against statsmodels on a textbook series, the simple
 * methods and Theta exactly on hand-made series, interval coverage on
 * simulated series, the time grid and its errors (each naming the series),
 * many series at once equal to each alone and independent of the thread
 * count, the model through save and load (row by row == batch), and the
 * evaluation's alignment of test rows with forecasts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/forecast.h"
#include "rng.h"
#include "sluice/model.h"
#include "testutil.h"

/* ---- helpers --------------------------------------------------------------- */

#define MONTH_US(y, m) (ds_days_from_civil((y), (m), 1) * 86400000000LL)

/*
 * A table (store: string, month: timestamp, y: float64) with series
 * names[s] of lens[s] monthly values from Jan 2000 taken from vals (one
 * after another). Rows are appended in reverse order, so the panel's
 * sorting is exercised.
 */
static ds_table *monthly_table(const char *const *names, const size_t *lens, size_t ns,
			       const double *vals)
{
	ds_builder *b;
	ds_table *t;
	size_t total = 0;

	for (size_t s = 0; s < ns; s++)
		total += lens[s];
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "store", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "month", DS_TIMESTAMP, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "y", DS_FLOAT64, NULL), 0);
	for (size_t r = total; r-- > 0;) {
		size_t s = 0, off = r;
		while (off >= lens[s])
			off -= lens[s++];
		assert_int_equal(ds_append_str(b, 0, names[s], strlen(names[s])), 0);
		assert_int_equal(ds_append_i64(b, 1, MONTH_US(2000 + (int64_t)off / 12,
							      (int64_t)off % 12 + 1)),
				 0);
		assert_int_equal(ds_append_f64(b, 2, vals[r]), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static void assert_msg_has(const char *needle)
{
	if (!strstr(sl_errmsg(), needle))
		fail_msg("message '%s' lacks '%s'", sl_errmsg(), needle);
}

static void assert_near(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.10g, want %.10g (tolerance %g)", got, want, tol);
}

static fc_opts opts_of(fc_method method, size_t horizon, size_t season)
{
	fc_opts o = {0};

	o.method = method;
	o.horizon = horizon;
	o.season = season;
	o.origins = 3;
	o.threads = 1;
	assert_true(fc_ets_spec_parse("ZZZ", &o.ets));
	return o;
}

/* ---- ETS against statsmodels ------------------------------------------------- */

/*
 * International tourist visitor nights in Australia, quarterly, 1999Q1 to
 * 2015Q4 (fpp2's `austourists`, Hyndman and Athanasopoulos, "Forecasting:
 * Principles and Practice", 2nd ed., section 7.6; the series statsmodels'
 * ETS example notebook fits).
 */
static const double austourists[68] = {
	30.05251300, 19.14849600, 25.31769200, 27.59143700, 32.07645600, 23.48796100,
	28.47594000, 35.12375300, 36.83848500, 25.00701700, 30.72223000, 28.69375900,
	36.64098600, 23.82460900, 29.31168300, 31.77030900, 35.17787700, 19.77524400,
	29.60175000, 34.53884200, 41.27359900, 26.65586200, 28.27985900, 35.19115300,
	42.20566386, 24.64917133, 32.66733514, 37.25735401, 45.24246027, 29.35048127,
	36.34420728, 41.78208136, 49.27659843, 31.27540139, 37.85062549, 38.83704413,
	51.23690034, 31.83855162, 41.32342126, 42.79900337, 55.70835836, 33.40714492,
	42.31663797, 45.15712257, 59.57607996, 34.83733016, 44.84168072, 46.97124960,
	60.01903094, 38.37117851, 46.97586413, 50.73379646, 61.64687319, 39.29956937,
	52.67120908, 54.33231689, 66.83435838, 40.87118847, 51.82853579, 57.49190993,
	65.25146985, 43.06120822, 54.76075713, 59.83447494, 73.25702747, 47.69662373,
	61.09776802, 66.05576122,
};

/*
 * The reference numbers come from statsmodels 0.13.5 (Debian
 * python3-statsmodels), ETSModel(y, error=..., trend=..., damped_trend=...,
 * seasonal=..., seasonal_periods=4).fit(disp=False): llf, params,
 * get_prediction(start=68, end=75) predicted_mean and summary_frame(alpha=
 * 0.05) pi_lower. statsmodels scales its intervals with sigma^2 = SSE / n
 * where forecast::ets (and sluice) use SSE / (n - np), np the number of
 * estimated parameters plus one; the test converts.
 */
static void test_ets_austourists(void **state)
{
	(void)state;
	struct {
		const char *model;
		double llf, alpha, gamma, phi;
		double fc[8];
		double lo95_1, lo95_5; /* additive-error models only */
		size_t np;
	} ref[] = {
		{"AAdA", -152.6268482320226, 0.339847, 0.401088, 0.98,
		 {75.9051, 51.4175, 63.7027, 67.9776, 78.315, 53.7792, 66.0171, 70.2457},
		 71.4302, 71.735, 10},
		{"ANA", -157.28710302361168, 0.544759, 0.390069, NAN,
		 {75.3297, 50.1768, 62.2183, 65.9044, 75.3297, 50.1768, 62.2183, 65.9044},
		 70.5373, 67.3619, 7},
		/* statsmodels' bounds let beta and gamma go to 0; forecast::ets's
		 * (and ours) stop at 1e-4, so its optimum is a hair better. */
		{"MAdM", -149.35280772442866, 0.496879, NAN, 0.98,
		 {77.9905, 48.8363, 61.0267, 66.0758, 78.9394, 49.4168, 61.7354, 66.8256},
		 NAN, NAN, 10},
		{"AAM", -142.21430994080762, 0.417805, NAN, NAN,
		 {78.871, 49.5026, 62.489, 67.4698, 81.7088, 51.2678, 64.6977, 69.8336},
		 NAN, NAN, 9},
	};

	for (size_t i = 0; i < SL__ARRAY_LEN(ref); i++) {
		fc_ets_spec spec;
		fc_fit f;
		double out[8 * FC_NOUT];
		assert_true(fc_ets_spec_parse(ref[i].model, &spec));
		fc_fit_init(&f);
		assert_int_equal(fc_ets_fit(austourists, 68, 4, spec, 8, 1, 0, &f, out), 0);
		assert_string_equal(f.ets, ref[i].model);
		assert_near(f.loglik, ref[i].llf, 0.01);
		assert_near(f.alpha, ref[i].alpha, 0.01);
		if (!isnan(ref[i].gamma))
			assert_near(f.gamma, ref[i].gamma, 0.01);
		if (!isnan(ref[i].phi))
			assert_near(f.phi, ref[i].phi, 0.001);
		for (size_t k = 0; k < 8; k++)
			assert_near(out[k * FC_NOUT], ref[i].fc[k], 0.01);
		if (!isnan(ref[i].lo95_1)) {
			double conv = sqrt((68.0 - (double)ref[i].np) / 68.0);
			assert_near((out[0] - out[3]) * conv, ref[i].fc[0] - ref[i].lo95_1, 0.005);
			assert_near((out[4 * FC_NOUT] - out[4 * FC_NOUT + 3]) * conv,
				    ref[i].fc[4] - ref[i].lo95_5, 0.005);
		}
	}
	/* The whole family: the least AICc among the 18 models is A,A,M (the
	 * season grows with the level), as among statsmodels' fits above. */
	fc_ets_spec all;
	fc_fit f;
	double out[8 * FC_NOUT];
	assert_true(fc_ets_spec_parse("ZZZ", &all));
	fc_fit_init(&f);
	assert_int_equal(fc_ets_fit(austourists, 68, 4, all, 8, 1, 0, &f, out), 0);
	assert_string_equal(f.ets, "AAM");
	assert_true(f.simulated);
	for (size_t k = 0; k < 8; k++) {
		const double *o = out + k * FC_NOUT;
		assert_true(o[3] < o[1] && o[1] < o[0] && o[0] < o[2] && o[2] < o[4]);
	}
}

/* ---- the simple methods and Theta, by hand ------------------------------------------ */

static void check_band(const double *o, double f, double sd)
{
	assert_near(o[0], f, 1e-12);
	assert_near(o[1], f - FC_Z80 * sd, 1e-9);
	assert_near(o[2], f + FC_Z80 * sd, 1e-9);
	assert_near(o[3], f - FC_Z95 * sd, 1e-9);
	assert_near(o[4], f + FC_Z95 * sd, 1e-9);
}

static void test_simple_by_hand(void **state)
{
	static const double y[8] = {1, 3, 2, 5, 4, 6, 5, 8};
	double out[5 * FC_NOUT];
	fc_fit f;

	(void)state;
	/* naive: the last value; residuals 2 -1 3 -1 2 -1 3, sum of squares 29. */
	fc_fit_init(&f);
	assert_int_equal(fc_simple_fit(FC_NAIVE, y, 8, 4, 5, &f, out), 0);
	for (size_t k = 1; k <= 5; k++)
		check_band(out + (k - 1) * FC_NOUT, 8, sqrt(29.0 / 7) * sqrt((double)k));
	/* seasonal naive, m = 4: 4 6 5 8 then 4 again; residuals all 3. */
	assert_int_equal(fc_simple_fit(FC_SNAIVE, y, 8, 4, 5, &f, out), 0);
	static const double sn[5] = {4, 6, 5, 8, 4};
	for (size_t k = 1; k <= 5; k++)
		check_band(out + (k - 1) * FC_NOUT, sn[k - 1], 3 * sqrt((double)((k - 1) / 4 + 1)));
	/* drift: slope (8 - 1) / 7 = 1; residuals 1 -2 2 -2 1 -2 2, 22 over 6. */
	assert_int_equal(fc_simple_fit(FC_DRIFT, y, 8, 4, 5, &f, out), 0);
	assert_near(f.drift, 1, 1e-15);
	for (size_t k = 1; k <= 5; k++) {
		double kk = (double)k;
		check_band(out + (k - 1) * FC_NOUT, 8 + kk, sqrt(22.0 / 6) * sqrt(kk * (1 + kk / 7)));
	}
	/* Too short: drift needs two values, seasonal naive a season. */
	assert_int_equal(fc_simple_fit(FC_DRIFT, y, 1, 4, 5, &f, out), SL_EINVAL);
	assert_int_equal(fc_simple_fit(FC_SNAIVE, y, 3, 4, 5, &f, out), SL_EINVAL);
	/* The MASE scale: mean |y_t - y_{t-4}| = 3; lag 1 when n <= m. */
	assert_near(fc_mase_scale(y, 8, 4), 3, 1e-15);
	assert_near(fc_mase_scale(y, 4, 4), (2 + 1 + 3) / 3.0, 1e-15);
}

static void test_theta_by_hand(void **state)
{
	double out[3 * FC_NOUT], idx[4], y[16];
	fc_fit f;
	sl__rng r;

	(void)state;
	/* level 10, alpha 0.5, slope 1, n = 8: drift term b/2 (k - 1 + a0),
	 * a0 = (1 - 0.5^8) / 0.5 = 1.9921875. */
	fc_theta_forecast(0.5, 10, 2, 1, 8, 3, out);
	for (size_t k = 1; k <= 3; k++)
		check_band(out + (k - 1) * FC_NOUT, 10 + 0.5 * ((double)k - 1 + 1.9921875),
			   2 * sqrt(1 + ((double)k - 1) * 0.25));
	/* A pure multiplicative season comes back exactly from the
	 * decomposition, and the test finds it. */
	static const double pat[4] = {1.2, 1.0, 0.8, 1.0};
	for (size_t t = 0; t < 16; t++)
		y[t] = 10 * pat[t % 4];
	assert_int_equal(fc_seasonal_indices(y, 16, 4, true, idx), 0);
	for (size_t p = 0; p < 4; p++)
		assert_near(idx[p], pat[p], 1e-12);
	assert_true(fc_seasonality_test(y, 16, 4));
	assert_int_equal(fc_seasonal_indices(y, 7, 4, true, idx), SL_EINVAL);
	/* Noise has no season. */
	sl__rng_seed(&r, 3);
	for (size_t t = 0; t < 16; t++)
		y[t] = 10 + sl__rng_normal(&r);
	assert_false(fc_seasonality_test(y, 16, 4));
	/* The whole method on a non-seasonal series is SES (ETS A,N,N) plus
	 * half the least-squares slope. */
	double ses[FC_NOUT], st = 0, sv = 0, stt = 0, stv = 0;
	fc_fit sf;
	for (size_t t = 0; t < 16; t++) {
		y[t] = 5 + 0.4 * (double)t + sl__rng_normal(&r);
		st += (double)t;
		sv += y[t];
		stt += (double)t * (double)t;
		stv += (double)t * y[t];
	}
	double b = (16 * stv - st * sv) / (16 * stt - st * st);
	fc_fit_init(&sf);
	assert_int_equal(fc_ets_fit(y, 16, 1, (fc_ets_spec){FC_E_ADD, FC_T_NONE, FC_S_NONE}, 1, 0,
				    0, &sf, ses),
			 0);
	fc_fit_init(&f);
	assert_int_equal(fc_theta_fit(y, 16, 1, 3, &f, out), 0);
	assert_false(f.seasonal);
	assert_near(f.drift, b / 2, 1e-12);
	double want[3 * FC_NOUT];
	fc_theta_forecast(sf.alpha, ses[0], sf.sigma, b, 16, 3, want);
	assert_memory_equal(out, want, sizeof want);
}

/* ---- intervals ----------------------------------------------------------------------- */

/*
 * Coverage on simulated series whose model is known: random walks for
 * naive (analytic), an A,N,N process for ETS (analytic) and an M,N,N one
 * (simulated intervals). Over 400 series x 6 horizons the share of future
 * values inside each band must be within 4 points of its level.
 */
static void test_interval_coverage(void **state)
{
	enum { S = 400, N = 60, H = 6 };
	struct {
		fc_method method;
		const char *ets;
		int process; /* 0 random walk, 1 ANN, 2 MNN */
	} cases[] = {{FC_NAIVE, NULL, 0}, {FC_ETS, "ANN", 1}, {FC_ETS, "MNN", 2}};
	double y[N + H], out[H * FC_NOUT];
	sl__rng r;

	(void)state;
	for (size_t c = 0; c < SL__ARRAY_LEN(cases); c++) {
		double in80 = 0, in95 = 0;
		fc_opts o = opts_of(cases[c].method, H, 1);
		if (cases[c].ets)
			assert_true(fc_ets_spec_parse(cases[c].ets, &o.ets));
		sl__rng_seed(&r, 11 + c);
		for (size_t s = 0; s < S; s++) {
			double l = 100;
			fc_fit f;
			for (size_t t = 0; t < N + H; t++) {
				double e = sl__rng_normal(&r);
				if (cases[c].process == 0) {
					l += e;
					y[t] = l;
				} else if (cases[c].process == 1) {
					y[t] = l + 2 * e;
					l += 0.3 * 2 * e;
				} else {
					y[t] = l * (1 + 0.05 * e);
					l *= 1 + 0.3 * 0.05 * e;
				}
			}
			assert_int_equal(fc_fit_series(y, N, &o, s, &f, out), 0);
			for (size_t k = 0; k < H; k++) {
				const double *b = out + k * FC_NOUT, a = y[N + k];
				in80 += a >= b[1] && a <= b[2];
				in95 += a >= b[3] && a <= b[4];
			}
		}
		in80 /= S * H;
		in95 /= S * H;
		if (fabs(in80 - 0.8) > 0.04 || fabs(in95 - 0.95) > 0.04)
			fail_msg("case %zu: coverage %.3f and %.3f, want 0.80 and 0.95", c, in80, in95);
	}
}

/* ---- many series ----------------------------------------------------------------- */

/* Three monthly series of different shapes and lengths. */
static ds_table *three_series(void)
{
	static const char *const names[] = {"north", "east", "west"};
	static const size_t lens[] = {40, 36, 30};
	static double vals[106];
	sl__rng r;

	sl__rng_seed(&r, 7);
	for (size_t i = 0; i < 106; i++) {
		size_t s = i < 40 ? 0 : i < 76 ? 1 : 2, t = i - (s == 0 ? 0 : s == 1 ? 40 : 76);
		double season = sin(2 * M_PI * (double)(t % 12) / 12.0);
		vals[i] = (s == 0 ? 100 + 0.5 * (double)t + 8 * season
			   : s == 1 ? 50 + 3 * season : 20 + 0.2 * (double)t) +
			  sl__rng_normal(&r);
	}
	return monthly_table(names, lens, 3, vals);
}

static void test_by_equals_alone(void **state)
{
	ds_table *t = three_series();
	const char *by[] = {"store"};
	fc_panel p;
	ml_model *m;
	fc_view v;
	fc_opts o = opts_of(FC_AUTO, 6, 12);

	(void)state;
	assert_int_equal(fc_panel_build(t, "y", "month", by, 1, &p), 0);
	assert_int_equal(p.n_series, 3);
	assert_int_equal(p.period.unit, FC_UNIT_MONTH);
	assert_int_equal(p.period.step, 1);
	/* Keys in byte order: east, north, west. */
	assert_string_equal(p.dict[0][(size_t)p.keys[0]], "east");
	assert_string_equal(p.dict[0][(size_t)p.keys[2]], "west");
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), 0);
	assert_int_equal(fc_model_view(m, &v), 0);
	for (size_t s = 0; s < 3; s++) {
		fc_opts o1 = o;
		fc_fit f;
		size_t n = p.start[s + 1] - p.start[s];
		double *out = malloc(6 * FC_NOUT * sizeof *out);
		/* Alone, the series keeps its own random stream (its index). */
		assert_int_equal(fc_fit_series(p.y + p.start[s], n, &o1, s, &f, out), 0);
		assert_memory_equal(out, v.fc + s * 6 * FC_NOUT, 6 * FC_NOUT * sizeof *out);
		free(out);
	}
	ml_model_free(m);
	fc_panel_free(&p);
	ds_close(t);
}

/* point: cost: the quantile read off each side of the band, every series'
 * forecast moved and nothing else; costs that bound nothing refused. */
static void test_cost_point(void **state)
{
	const double o[FC_NOUT] = {100, 90, 120, 80, 140}; /* skewed up */
	ds_table *t = three_series();
	const char *by[] = {"store"};
	fc_panel p;
	ml_model *m;
	fc_view v;
	fc_opts o6 = opts_of(FC_ETS, 6, 12);
	double *before;
	double z = 0.7647096737863871; /* the standard normal's 7/9 quantile */

	(void)state;
	assert_true(fc_quantile_from_band(o, 0) == 100);
	assert_near(fc_quantile_from_band(o, FC_Z80), 120, 1e-12);
	assert_near(fc_quantile_from_band(o, -FC_Z80), 90, 1e-12);
	assert_near(fc_quantile_from_band(o, -FC_Z95), 80, 1e-12);
	/* Beyond the 80% band its spread comes from the 95% bound. */
	assert_near(fc_quantile_from_band(o, 1.5), 100 + 1.5 * 40 / FC_Z95, 1e-12);
	const double gone[FC_NOUT] = {100, NAN, NAN, NAN, NAN};
	assert_true(fc_quantile_from_band(gone, 1) == 100);

	assert_int_equal(fc_panel_build(t, "y", "month", by, 1, &p), 0);
	assert_int_equal(fc_model_fit(&p, "y", "month", &o6, &m), 0);
	assert_int_equal(fc_model_view(m, &v), 0);
	before = malloc(3 * 6 * FC_NOUT * sizeof *before);
	memcpy(before, v.fc, 3 * 6 * FC_NOUT * sizeof *before);
	assert_int_equal(fc_model_cost_point(m, 2, 0), SL_EINVAL);
	assert_int_equal(fc_model_cost_point(m, 0, 0), SL_EINVAL);
	assert_int_equal(fc_model_cost_point(m, -1, 3), SL_EINVAL);
	assert_memory_equal(before, v.fc, 3 * 6 * FC_NOUT * sizeof *before);
	assert_int_equal(fc_model_cost_point(m, 2, 7), 0);
	for (size_t r = 0; r < 3 * 6; r++) {
		const double *a = before + r * FC_NOUT, *b = v.fc + r * FC_NOUT;
		assert_near(b[0], a[0] + z * (a[2] - a[0]) / FC_Z80, 1e-9 * fabs(a[0]));
		assert_true(b[0] > a[0] && b[0] < a[2]);
		assert_memory_equal(a + 1, b + 1, (FC_NOUT - 1) * sizeof *a);
	}
	assert_near(json_real_value(json_object_get(json_object_get(m->info, "point"),
							    "quantile")),
			    7.0 / 9, 1e-15);
	free(before);
	ml_model_free(m);
	fc_panel_free(&p);
	ds_close(t);
}

/* ---- the time grid and its errors ------------------------------------------------------- */

/* A table (k: string, t: int64 or timestamp, y) from parallel arrays. */
static ds_table *table_of(const char *const *keys, const int64_t *times, bool ts,
			  const double *ys, size_t n)
{
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "k", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "t", ts ? DS_TIMESTAMP : DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "y", DS_FLOAT64, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ds_append_str(b, 0, keys[i], strlen(keys[i])), 0);
		assert_int_equal(ds_append_i64(b, 1, times[i]), 0);
		assert_int_equal(ds_append_f64(b, 2, ys[i]), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static void test_grid(void **state)
{
	const char *by[] = {"k"};
	const char *k6[] = {"a", "a", "a", "b", "b", "b"};
	double ys[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	fc_panel p;
	ds_table *t;
	char name[64];

	(void)state;
	/* Quarterly, and its arithmetic: Nov 30 + 1 quarter on a month-end grid
	 * is Feb 28/29. */
	int64_t q[6] = {MONTH_US(2020, 1), MONTH_US(2020, 4), MONTH_US(2020, 7),
			MONTH_US(2021, 4), MONTH_US(2021, 7), MONTH_US(2021, 10)};
	t = table_of(k6, q, true, ys, 6);
	assert_int_equal(fc_panel_build(t, "y", "t", by, 1, &p), 0);
	assert_int_equal(p.period.unit, FC_UNIT_MONTH);
	assert_int_equal(p.period.step, 3);
	assert_string_equal(fc_period_name(&p.period, name, sizeof name), "quarterly");
	assert_int_equal(fc_period_season(&p.period), 4);
	assert_true(fc_period_add(&p.period, q[2], 1) == MONTH_US(2020, 10));
	assert_int_equal(fc_period_steps(&p.period, q[0], MONTH_US(2021, 1)), 4);
	assert_true(fc_period_steps(&p.period, q[0], MONTH_US(2020, 2)) == INT64_MIN);
	fc_panel_free(&p);
	ds_close(t);
	int64_t me[3] = {(ds_days_from_civil(2023, 11, 30)) * 86400000000LL,
			 (ds_days_from_civil(2023, 12, 31)) * 86400000000LL,
			 (ds_days_from_civil(2024, 1, 31)) * 86400000000LL};
	t = table_of(k6, me, true, ys, 3);
	assert_int_equal(fc_panel_build(t, "y", "t", by, 1, &p), 0);
	assert_true(p.period.month_end);
	assert_true(fc_period_add(&p.period, me[2], 1) ==
		    ds_days_from_civil(2024, 2, 29) * 86400000000LL);
	fc_panel_free(&p);
	ds_close(t);
	/* Daily: a fixed step. */
	int64_t d[3] = {0, 86400000000LL, 2 * 86400000000LL};
	t = table_of(k6, d, true, ys, 3);
	assert_int_equal(fc_panel_build(t, "y", "t", by, 1, &p), 0);
	assert_int_equal(p.period.unit, FC_UNIT_FIXED);
	assert_string_equal(fc_period_name(&p.period, name, sizeof name), "daily");
	assert_int_equal(fc_period_season(&p.period), 7);
	fc_panel_free(&p);
	ds_close(t);

	/* The errors, each naming the series: a gap, a duplicate, an
	 * irregular step, a missing value, a single row everywhere. */
	int64_t gap[6] = {1, 2, 3, 1, 2, 5};
	t = table_of(k6, gap, false, ys, 6);
	assert_int_equal(fc_panel_build(t, "y", "t", by, 1, &p), SL_EINVAL);
	assert_msg_has("series k=b has a gap: 2 missing");
	assert_msg_has("between 2 and 5");
	ds_close(t);
	int64_t dup[6] = {1, 2, 3, 1, 2, 2};
	t = table_of(k6, dup, false, ys, 6);
	assert_int_equal(fc_panel_build(t, "y", "t", by, 1, &p), SL_EINVAL);
	assert_msg_has("series k=b has two rows at 2");
	ds_close(t);
	int64_t irr[6] = {0, 2, 4, 0, 2, 5};
	t = table_of(k6, irr, false, ys, 6);
	assert_int_equal(fc_panel_build(t, "y", "t", by, 1, &p), SL_EINVAL);
	assert_msg_has("series k=b: from 2 to 5");
	assert_msg_has("irregular");
	ds_close(t);
	double withnan[6] = {1, 2, 3, 4, NAN, 6};
	t = table_of(k6, gap, false, withnan, 6);
	assert_int_equal(fc_panel_build(t, "y", "t", by, 1, &p), SL_EINVAL);
	assert_msg_has("series k=b has no value of 'y' at 2");
	ds_close(t);
	const char *k2[] = {"a", "b"};
	t = table_of(k2, gap, false, ys, 2);
	assert_int_equal(fc_panel_build(t, "y", "t", by, 1, &p), SL_EINVAL);
	assert_msg_has("single row");
	assert_int_equal(fc_panel_build(t, "y", "when", by, 1, &p), SL_EINVAL);
	assert_msg_has("the time column 'when' is not in the data (its columns: k, t, y)");
	ds_close(t);
}

/* Series too short for the method: the error names the series. */
static void test_too_short(void **state)
{
	ds_table *t = three_series(); /* west has 30 months */
	const char *by[] = {"store"};
	fc_panel p;
	ml_model *m;
	fc_opts o = opts_of(FC_SNAIVE, 6, 16);

	(void)state;
	assert_int_equal(fc_panel_build(t, "y", "month", by, 1, &p), 0);
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), SL_EINVAL);
	assert_msg_has("series store=west: 30 observations are too few for seasonal_naive with "
		       "season 16 (needs at least 32: two seasons)");
	o = opts_of(FC_GBDT, 6, 16);
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), SL_EINVAL);
	assert_msg_has("series store=west: 30 observations are too few for gbdt with season 16 "
		       "(needs at least 32: two lag windows of max(season, 4))");
	o = opts_of(FC_AUTO, 28, 12);
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), SL_EINVAL);
	assert_msg_has("series store=west: 30 observations are too few for method auto with "
		       "horizon 28");
	fc_panel_free(&p);
	ds_close(t);
}

/* ---- the model ------------------------------------------------------------------------------ */

static char *save_tmp(const ml_model *m, const char *dir, const char *name)
{
	char *path = tu_path(dir, name);
	assert_int_equal(ml_model_save(m, NULL, path), 0);
	return path;
}

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len);
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

/* Saved, loaded, predicted row by row and as a batch: the same bytes. */
static void round_trip(fc_method method, size_t season)
{
	const char *dir = tu_tmpdir();
	ds_table *t = three_series();
	const char *by[] = {"store"};
	fc_panel p;
	ml_model *m, *back;
	fc_opts o = opts_of(method, 6, season);
	enum { ROWS = 4 * 9 };
	double X[ROWS * 2], before[ROWS * FC_NOUT], after[ROWS * FC_NOUT], one[FC_NOUT];

	assert_int_equal(fc_panel_build(t, "y", "month", by, 1, &p), 0);
	o.threads = 2;
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), 0);
	assert_int_equal(m->sig.n_features, 2);
	assert_string_equal(m->sig.features[1].name, "h");
	assert_string_equal(m->sig.outputs[4], "hi95");
	/* Keys 0..2 (east, north, west) and an unknown one (NaN), h from 0 to
	 * 8: only h in 1..6 of known series has numbers. */
	for (size_t i = 0; i < ROWS; i++) {
		X[2 * i] = i / 9 < 3 ? (double)(i / 9) : NAN;
		X[2 * i + 1] = (double)(i % 9);
	}
	X[2 * 5 + 1] = 2.5;
	assert_int_equal(ml_model_predict(m, X, ROWS, before), 0);
	for (size_t i = 0; i < ROWS; i++) {
		bool known = i / 9 < 3 && i % 9 >= 1 && i % 9 <= 6 && i != 5;
		for (size_t k = 0; k < FC_NOUT; k++)
			assert_true(known ? isfinite(before[i * FC_NOUT + k])
					  : isnan(before[i * FC_NOUT + k]));
		/* Row by row gives the same bytes as the batch. */
		assert_int_equal(ml_model_predict(m, X + 2 * i, 1, one), 0);
		assert_memory_equal(one, before + i * FC_NOUT, sizeof one);
	}
	char *path = save_tmp(m, dir, "m.slm");
	assert_int_equal(ml_model_load(path, &back), 0);
	assert_int_equal(ml_model_predict(back, X, ROWS, after), 0);
	assert_memory_equal(before, after, sizeof before);
	/* The info: per series its method and the time of each h. */
	json_t *s0 = json_array_get(json_object_get(back->info, "series"), 0);
	assert_string_equal(json_string_value(json_object_get(s0, "label")), "store=east");
	assert_string_equal(json_string_value(json_array_get(json_object_get(s0, "times"), 0)),
			    "2003-01-01T00:00:00Z");
	if (method == FC_AUTO)
		assert_non_null(json_object_get(json_object_get(s0, "scores"), "ets"));
	assert_string_equal(json_string_value(json_object_get(s0, "method")),
			    method == FC_AUTO ? json_string_value(json_object_get(s0, "method"))
					      : fc_method_name(method));
	/* Through the public API, string keys coded by the model. */
	sl_model *pm;
	double code, row[2], pub[FC_NOUT];
	assert_int_equal(sl_model_load(path, &pm), 0);
	assert_string_equal(sl_model_algorithm(pm), "forecast");
	assert_int_equal(sl_model_input_code(pm, 0, "west", &code), 0);
	row[0] = code;
	row[1] = 3;
	assert_int_equal(sl_model_predict(pm, row, 1, 2, pub, FC_NOUT), 0);
	assert_memory_equal(pub, before + (2 * 9 + 3) * FC_NOUT, sizeof pub);
	sl_model_free(pm);

	/* Deterministic: one thread or two, the same file. */
	ml_model *m1;
	size_t la, lb;
	o.threads = 1;
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m1), 0);
	char *path1 = save_tmp(m1, dir, "m1.slm");
	void *a = slurp(path, &la), *b = slurp(path1, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	free(path);
	free(path1);
	ml_model_free(m1);
	ml_model_free(back);
	ml_model_free(m);
	fc_panel_free(&p);
	ds_close(t);
	tu_rmdir(dir);
}

static void test_model_round_trip(void **state)
{
	(void)state;
	round_trip(FC_AUTO, 12);
	round_trip(FC_GBDT, 12);
}

/* ---- evaluation ------------------------------------------------------------------------------- */

static void test_evaluate(void **state)
{
	ds_table *t = three_series();
	const char *by[] = {"store"};
	fc_panel p;
	ml_model *m;
	fc_opts o = opts_of(FC_NAIVE, 3, 12);
	json_t *rep;
	fc_view v;

	(void)state;
	assert_int_equal(fc_panel_build(t, "y", "month", by, 1, &p), 0);
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), 0);
	assert_int_equal(fc_model_view(m, &v), 0);
	/* west ends in 2002-06 (30 months): rows for 2002-07..2002-11 (three
	 * in the horizon, two beyond), one at its last month, one for an
	 * unknown store, one off the grid (mid-month). */
	ds_builder *b;
	ds_table *test;
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "store", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "month", DS_TIMESTAMP, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "y", DS_FLOAT64, NULL), 0);
	struct {
		const char *store;
		int64_t t;
		double y;
	} rows[] = {
		{"west", MONTH_US(2002, 7), 30},  {"west", MONTH_US(2002, 8), 31},
		{"west", MONTH_US(2002, 9), 29},  {"west", MONTH_US(2002, 10), 28},
		{"west", MONTH_US(2002, 11), 27}, {"west", MONTH_US(2002, 6), 25},
		{"south", MONTH_US(2002, 7), 1},  {"west", MONTH_US(2002, 7) + 86400000000LL * 14, 1},
	};
	for (size_t i = 0; i < SL__ARRAY_LEN(rows); i++) {
		assert_int_equal(ds_append_str(b, 0, rows[i].store, strlen(rows[i].store)), 0);
		assert_int_equal(ds_append_i64(b, 1, rows[i].t), 0);
		assert_int_equal(ds_append_f64(b, 2, rows[i].y), 0);
	}
	assert_int_equal(ds_builder_finish(b, &test), 0);
	ds_builder_free(b);
	assert_int_equal(ml_forecast_evaluate(m, test, NULL, &rep), 0);
	json_t *met = json_object_get(rep, "metrics"), *un = json_object_get(rep, "unmatched");
	assert_int_equal(json_integer_value(json_object_get(met, "rows")), 3);
	assert_int_equal(json_integer_value(json_object_get(un, "beyond_horizon")), 2);
	assert_int_equal(json_integer_value(json_object_get(un, "not_after_training")), 1);
	assert_int_equal(json_integer_value(json_object_get(un, "unknown_series")), 1);
	assert_int_equal(json_integer_value(json_object_get(un, "off_grid")), 1);
	/* naive forecasts the last value: MASE by hand. */
	double last = p.y[p.start[3] - 1], sc = v.scale[2];
	double mase = (fabs(30 - last) + fabs(31 - last) + fabs(29 - last)) / 3 / sc;
	double wape = (fabs(30 - last) + fabs(31 - last) + fabs(29 - last)) / 90;
	assert_near(json_real_value(json_object_get(met, "mase")), mase, 1e-12);
	assert_near(json_real_value(json_object_get(met, "wape")), wape, 1e-12);
	/* The baseline is seasonal naive: the values a year before. */
	json_t *pts = json_object_get(json_array_get(json_object_get(rep, "series"), 0), "points");
	assert_int_equal(json_array_size(pts), 3);
	assert_near(json_real_value(json_object_get(json_array_get(pts, 0), "baseline")),
		    p.y[p.start[3] - 12], 1e-12);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pts, 2), "time")),
			    "2002-09-01T00:00:00Z");
	json_decref(rep);
	ds_close(test);
	ml_model_free(m);
	fc_panel_free(&p);
	ds_close(t);
}

/* ---- gbdt ------------------------------------------------------------------------------------ */

enum { GS = 4, GN = 96, GH = 12 };

/* Four monthly series, 96 months each: a level, a trend, a season (of its
 * own amplitude and phase) and noise; gvals[s * GN + t]. */
static void gbdt_series(double *gvals)
{
	sl__rng r;

	sl__rng_seed(&r, 5);
	for (size_t s = 0; s < GS; s++)
		for (size_t t = 0; t < GN; t++)
			gvals[s * GN + t] = 100 * (double)(s + 1) + (0.4 + 0.3 * (double)s) * (double)t +
					    (10 + 5 * (double)s) *
						    sin(2 * M_PI * (double)t / 12 + (double)s) +
					    sl__rng_normal(&r);
}

/* A panel of the first `train` months of each gbdt_series. */
static void gbdt_panel(const double *gvals, size_t train, fc_panel *p)
{
	static const char *const names[GS] = {"a", "b", "c", "d"};
	size_t lens[GS];
	double *vals = malloc(GS * train * sizeof *vals);
	const char *by[] = {"store"};
	ds_table *t;

	for (size_t s = 0; s < GS; s++) {
		lens[s] = train;
		memcpy(vals + s * train, gvals + s * GN, train * sizeof *vals);
	}
	t = monthly_table(names, lens, GS, vals);
	assert_int_equal(fc_panel_build(t, "y", "month", by, 1, p), 0);
	ds_close(t);
	free(vals);
}

/* Mean MASE over the series of m's forecasts against the held-out months. */
static double holdout_mase(const ml_model *m, const double *gvals)
{
	fc_view v;
	double sum = 0;

	assert_int_equal(fc_model_view(m, &v), 0);
	for (size_t s = 0; s < GS; s++) {
		double e = 0;
		for (size_t k = 0; k < GH; k++)
			e += fabs(gvals[s * GN + GN - GH + k] - v.fc[(s * GH + k) * FC_NOUT]);
		sum += e / GH / v.scale[s];
	}
	return sum / GS;
}

/* On trend plus season, gbdt must beat naive clearly (and know the season:
 * seasonal naive too), its bands must widen with h and hold the forecast. */
static void test_gbdt_beats_naive(void **state)
{
	double *gvals = malloc(GS * GN * sizeof *gvals), mase[3];
	fc_method ms[3] = {FC_GBDT, FC_NAIVE, FC_SNAIVE};
	fc_panel p;
	ml_model *m;
	fc_view v;

	(void)state;
	gbdt_series(gvals);
	gbdt_panel(gvals, GN - GH, &p);
	for (size_t i = 0; i < 3; i++) {
		fc_opts o = opts_of(ms[i], GH, 12);
		assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), 0);
		mase[i] = holdout_mase(m, gvals);
		if (ms[i] == FC_GBDT) {
			json_t *g = json_object_get(m->info, "gbdt");
			json_t *s0 = json_array_get(json_object_get(m->info, "series"), 0);
			assert_non_null(g);
			assert_string_equal(json_string_value(json_array_get(
						    json_object_get(g, "features"), 0)),
					    "lag1");
			assert_string_equal(json_string_value(json_object_get(s0, "intervals")),
					    "empirical");
			assert_int_equal(fc_model_view(m, &v), 0);
			for (size_t s = 0; s < GS; s++)
				for (size_t k = 0; k < GH; k++) {
					const double *r = v.fc + (s * GH + k) * FC_NOUT;
					assert_true(r[3] < r[1] && r[1] < r[0] && r[0] < r[2] &&
						    r[2] < r[4]);
					if (k)
						assert_true(r[4] - r[3] >=
							    r[-1] - r[-2] - 1e-9 * fabs(r[0]));
				}
		}
		ml_model_free(m);
	}
	if (!(mase[0] < 0.5 * mase[1]) || !(mase[0] < mase[2]))
		fail_msg("holdout MASE: gbdt %.3f, naive %.3f, seasonal naive %.3f", mase[0],
			 mase[1], mase[2]);
	fc_panel_free(&p);
	free(gvals);
}

/* The same seed, the same model file, whatever the thread count. */
static void test_gbdt_deterministic(void **state)
{
	const char *dir = tu_tmpdir();
	double *gvals = malloc(GS * GN * sizeof *gvals);
	char *path[2];
	void *bytes[2];
	size_t len[2];
	fc_panel p;

	(void)state;
	gbdt_series(gvals);
	gbdt_panel(gvals, GN, &p);
	for (int i = 0; i < 2; i++) {
		ml_model *m;
		fc_opts o = opts_of(FC_GBDT, GH, 12);
		o.threads = (unsigned)i + 1;
		o.seed = 42;
		assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), 0);
		path[i] = save_tmp(m, dir, i ? "b.slm" : "a.slm");
		bytes[i] = slurp(path[i], &len[i]);
		ml_model_free(m);
	}
	assert_int_equal(len[0], len[1]);
	assert_memory_equal(bytes[0], bytes[1], len[0]);
	for (int i = 0; i < 2; i++) {
		free(bytes[i]);
		free(path[i]);
	}
	fc_panel_free(&p);
	free(gvals);
	tu_rmdir(dir);
}

/*
 * The recursion reads its own forecasts: forecasting 3 steps from n equals
 * forecasting 2 steps from n + 1 once the first forecast is written at n,
 * and differs when something else is written there.
 */
static void test_gbdt_recursive(void **state)
{
	double *gvals = malloc(GS * GN * sizeof *gvals), buf[GN + 3], again[GN + 3], *row;
	size_t start[GS + 1], len[GS];
	int64_t t0[GS];
	fc_panel p;
	fc_gbdt *g;
	fc_opts o = opts_of(FC_GBDT, 3, 12);

	(void)state;
	gbdt_series(gvals);
	gbdt_panel(gvals, GN, &p);
	for (size_t s = 0; s <= GS; s++)
		start[s] = p.start[s];
	for (size_t s = 0; s < GS; s++) {
		len[s] = GN;
		t0[s] = p.t[p.start[s]];
	}
	fc_series_set set = {GS, start, p.y, t0, p.period};
	assert_int_equal(fc_gbdt_train(&set, len, &o, &g), 0);
	row = malloc(fc_gbdt_n_features(g) * sizeof *row);
	memcpy(buf, p.y + p.start[1], GN * sizeof *buf);
	fc_gbdt_recurse(g, 1, buf, GN, 3, row);
	memcpy(again, buf, (GN + 1) * sizeof *buf);
	fc_gbdt_recurse(g, 1, again, GN + 1, 2, row);
	assert_memory_equal(again + GN + 1, buf + GN + 1, 2 * sizeof *buf);
	/* Step 2 reads step 1 (lag 1): another value there, another forecast. */
	again[GN] = buf[GN] + 50;
	fc_gbdt_recurse(g, 1, again, GN + 1, 1, row);
	assert_true(again[GN + 1] != buf[GN + 1]);
	free(row);
	fc_gbdt_free(g);
	fc_panel_free(&p);
	free(gvals);
}

/* auto has gbdt among its candidates from fc_gbdt_auto_length on. */
static void test_gbdt_in_auto(void **state)
{
	double *gvals = malloc(GS * GN * sizeof *gvals);
	fc_panel p;
	ml_model *m;
	fc_opts o = opts_of(FC_AUTO, GH, 12);

	(void)state;
	gbdt_series(gvals);
	assert_int_equal(fc_gbdt_auto_length(12, GH, 3), GH + 2 * 4 + 36);
	gbdt_panel(gvals, GN - GH, &p);
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), 0);
	json_t *series = json_object_get(m->info, "series");
	for (size_t s = 0; s < GS; s++) {
		json_t *sc = json_object_get(json_array_get(series, s), "scores");
		assert_true(json_is_real(json_object_get(sc, "gbdt")));
		assert_true(json_is_real(json_object_get(sc, "naive")));
	}
	assert_non_null(json_object_get(json_object_get(m->info, "auto_mean_mase"), "gbdt"));
	ml_model_free(m);
	fc_panel_free(&p);
	/* One month short of the rule: no gbdt score. */
	gbdt_panel(gvals, GH + 2 * 4 + 36 - 1, &p);
	assert_int_equal(fc_model_fit(&p, "y", "month", &o, &m), 0);
	series = json_object_get(m->info, "series");
	assert_null(json_object_get(json_object_get(json_array_get(series, 0), "scores"), "gbdt"));
	assert_null(json_object_get(m->info, "gbdt"));
	ml_model_free(m);
	fc_panel_free(&p);
	free(gvals);
}

/* ---- out of memory ------------------------------------------------------------------------------ */

/* Failing the Nth allocation for every N: an error each time, never a
 * crash (and no leak: the sanitizer build checks), then success. */
static void test_oom(void **state)
{
	ds_table *t = three_series();
	const char *by[] = {"store"};
	const fc_method methods[] = {FC_THETA, FC_GBDT};

	(void)state;
	for (size_t i = 0; i < SL__ARRAY_LEN(methods); i++) {
		tu_oom oo = {0};
		long n;
		/* gbdt's fits allocate thousands of times (trees, rounds): past the
		 * set-up, every 17th allocation is failed, to stay quick. */
		for (n = 0; n < 10000 && !oo.done; n += methods[i] == FC_GBDT && n > 400 ? 17 : 1) {
			fc_panel p;
			ml_model *m = NULL;
			json_t *rep = NULL;
			fc_opts o = opts_of(methods[i], 4, 12);
			int rc;
			tu_oom_begin(&oo, n);
			rc = fc_panel_build(t, "y", "month", by, 1, &p);
			if (!rc) {
				rc = fc_model_fit(&p, "y", "month", &o, &m);
				fc_panel_free(&p);
			}
			if (!rc)
				rc = ml_forecast_evaluate(m, t, NULL, &rep);
			tu_oom_end(&oo, rc);
			json_decref(rep);
			ml_model_free(m);
			if (rc)
				assert_int_equal(rc, SL_ENOMEM);
		}
		tu_oom_check(&oo, 10);
	}
	ds_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ets_austourists),
		cmocka_unit_test(test_simple_by_hand),
		cmocka_unit_test(test_theta_by_hand),
		cmocka_unit_test(test_interval_coverage),
		cmocka_unit_test(test_by_equals_alone),
		cmocka_unit_test(test_cost_point),
		cmocka_unit_test(test_grid),
		cmocka_unit_test(test_too_short),
		cmocka_unit_test(test_model_round_trip),
		cmocka_unit_test(test_evaluate),
		cmocka_unit_test(test_gbdt_beats_naive),
		cmocka_unit_test(test_gbdt_deterministic),
		cmocka_unit_test(test_gbdt_recursive),
		cmocka_unit_test(test_gbdt_in_auto),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
