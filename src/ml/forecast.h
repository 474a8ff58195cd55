/*
 * Forecasting: many time series at once, each fitted on its own with one of
 * a few methods, the model a table of forecasts looked up by (series key, h).
 * Prefix fc_ inside the family, ml_forecast_ for what other subsystems call.
 *
 *   training table (by..., time, target)
 *        |  fc_panel_build (forecast_data.c): series split by key, sorted by
 *        |  time; the time grid (period) detected and checked: no gap, no
 *        |  duplicate, no irregular step, each error naming the series
 *        v
 *   fc_panel --fc_gbdt_run_panel (forecast_gbdt.c): method gbdt, or auto's
 *        |     gbdt candidate: one global model over every series, first
 *        |
 *        +--(sl__parallel_for over series)--> fc_fit_series (forecast.c)
 *        |        naive, seasonal_naive, drift   forecast.c
 *        |        gbdt                           its panel results, looked up
 *        |        ets                            ets.c  (ML fit, AICc choice)
 *        |        theta                          theta.c
 *        |        auto: rolling-origin MASE over the candidates
 *        v
 *   ml_model (family "forecast"): per series its key, last time, method,
 *   forecasts and intervals for h = 1..horizon, the last season of values
 *   and the MASE scale; predict(by..., h) is a lookup
 *        |
 *   ml_forecast_evaluate (forecast_eval.c): test rows aligned by key and
 *   time with the forecasts, scored against seasonal naive
 *
 * Invariants:
 *  1. A series' fit reads only its own values and its own random stream
 *     (sl__rng_stream(seed, series index)): results do not depend on the
 *     thread count or on the other series. The exception is gbdt, whose one
 *     model learns from every series: its forecasts depend on the panel,
 *     still not on the thread count or the row order.
 *  2. Series are ordered by key (string keys in byte order, numbers in
 *     numeric order), so the model file does not depend on row order.
 *  3. Every forecast row holds FC_NOUT doubles in the order of the
 *     signature's outputs: forecast, lo80, hi80, lo95, hi95.
 */
#ifndef SLUICE_ML_FORECAST_H
#define SLUICE_ML_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml/ml.h"

#define FC_NOUT 5
#define FC_MAX_HORIZON 10000
#define FC_MAX_SEASON 1000
/* Seasonal ETS models beyond this period are not fitted (as forecast::ets:
 * one initial state per season position makes the fit ill-posed). */
#define FC_ETS_MAX_SEASON 24

/* z quantiles of the standard normal for the two interval levels. */
#define FC_Z80 1.2815515655446004
#define FC_Z95 1.959963984540054

typedef enum fc_method {
	FC_AUTO = 0,
	FC_NAIVE = 1,
	FC_SNAIVE = 2,
	FC_DRIFT = 3,
	FC_ETS = 4,
	FC_THETA = 5,
	FC_GBDT = 6
} fc_method;
#define FC_N_METHODS 7

const char *fc_method_name(fc_method m); /* "auto", "naive", "seasonal_naive", ... */
bool fc_method_parse(const char *s, fc_method *out);

/*
 * Which ETS models a fit may choose from: bit masks over the components.
 * ets_model: "ZZZ" (all), or letters like forecast::ets ("AAdM", "MNN",
 * "AZZ"): error A/M/Z, trend N/A/Ad/Z, season N/A/M/Z.
 */
enum { FC_E_ADD = 1, FC_E_MUL = 2 };
enum { FC_T_NONE = 1, FC_T_ADD = 2, FC_T_DAMPED = 4 };
enum { FC_S_NONE = 1, FC_S_ADD = 2, FC_S_MUL = 4 };
typedef struct fc_ets_spec {
	unsigned error, trend, season;
} fc_ets_spec;
/* Parses an ets_model string; false when malformed. */
bool fc_ets_spec_parse(const char *s, fc_ets_spec *out);

typedef struct fc_opts {
	fc_method method;
	size_t horizon;   /* >= 1 */
	size_t season;    /* >= 1; 1 = no seasonality */
	fc_ets_spec ets;  /* the ETS family to choose from */
	size_t origins;   /* auto: rolling origins (>= 1) */
	uint64_t seed;    /* simulated intervals */
	unsigned threads; /* 0: every core */
} fc_opts;

/* What a fit chose and estimated, for the model's info. NaN = not used. */
typedef struct fc_fit {
	fc_method method;
	char ets[8];        /* the ETS model, "MAdM", when method is ETS */
	double alpha, beta, gamma, phi;
	double init[2 + FC_ETS_MAX_SEASON]; /* ETS: l0, b0 (NaN without trend),
					     * then the initial seasonal states,
					     * oldest first */
	size_t n_init;
	double sigma;       /* sd of the one-step errors (relative for M errors) */
	double loglik, aicc;
	double drift;       /* drift: the slope; theta: half the trend slope */
	bool seasonal;      /* theta: the series was seasonally adjusted */
	bool simulated;     /* the intervals come from simulated paths */
	double scores[FC_N_METHODS]; /* auto: mean MASE per candidate (NaN: not a candidate) */
	double scale;       /* gbdt: the series' feature scale */
} fc_fit;

void fc_fit_init(fc_fit *f);

/* ---- methods, one series (y[0..n), no missing values) ---------------------- */

/* naive, seasonal_naive, drift: point forecasts and analytic intervals. */
int fc_simple_fit(fc_method method, const double *y, size_t n, size_t m, size_t h, fc_fit *fit,
		  double *out);
/*
 * ETS: fits every model of spec that is admissible for the series (positive
 * data for multiplicative parts, n >= 2m for seasonal ones, more
 * observations than parameters) by maximum likelihood and keeps the one of
 * least AICc. out: h rows of FC_NOUT. rng_seed/stream seed the simulated
 * intervals. SL_EINVAL when no model is admissible.
 */
int fc_ets_fit(const double *y, size_t n, size_t m, fc_ets_spec spec, size_t h,
	       uint64_t rng_seed, uint64_t stream, fc_fit *fit, double *out);
/* Theta (theta.c): SES with drift on the seasonally adjusted series. */
int fc_theta_fit(const double *y, size_t n, size_t m, size_t h, fc_fit *fit, double *out);
/*
 * The Theta forecast given the SES fit (smoothing alpha, last level, the sd
 * of its one-step errors) and the slope b of the linear trend, on a series
 * of length n: forecast = level + b/2 (k - 1 + (1 - (1 - alpha)^n) / alpha)
 * for k = 1..h, intervals from the SES model. Separate so tests can check
 * the formula exactly.
 */
void fc_theta_forecast(double alpha, double level, double sigma, double b, size_t n, size_t h,
		       double *out);
/*
 * Classical multiplicative decomposition's seasonal indices (mean 1) of y,
 * m > 1, n >= 2m: a centred moving average of order m (2 x m when m is
 * even), y / trend averaged per season position. out[p] is the index of
 * positions t with t % m == p.
 */
int fc_seasonal_indices(const double *y, size_t n, size_t m, bool multiplicative, double *out);
/* Whether the ACF at lag m is significant (90% two-sided, as thetaf). */
bool fc_seasonality_test(const double *y, size_t n, size_t m);

/*
 * Fits one series with o->method (auto runs the rolling-origin contest).
 * out: o->horizon rows of FC_NOUT. stream: the series' index (its random
 * stream). Errors set the thread's message.
 */
int fc_fit_series(const double *y, size_t n, const fc_opts *o, uint64_t stream, fc_fit *fit,
		  double *out);

/* Mean absolute lag-m difference of y (the MASE scale); lag 1 when n <= m.
 * NaN when undefined (n < 2). */
double fc_mase_scale(const double *y, size_t n, size_t m);

/* ---- the time grid ---------------------------------------------------------- */

typedef enum fc_unit {
	FC_UNIT_FIXED = 1,  /* a fixed step of `step` (microseconds, or integer units) */
	FC_UNIT_MONTH = 2   /* `step` calendar months */
} fc_unit;

typedef struct fc_period {
	fc_unit unit;
	int64_t step;
	bool timestamps;   /* times are timestamps (else integers) */
	bool month_end;    /* month grid on the last day of each month */
} fc_period;

/* "monthly", "quarterly", "daily", "every 2 hours" ... into buf. */
const char *fc_period_name(const fc_period *p, char *buf, size_t size);
/* The season a period implies when the user gives none (monthly 12 ...). */
size_t fc_period_season(const fc_period *p);
/* Time t advanced by k steps of p. */
int64_t fc_period_add(const fc_period *p, int64_t t, int64_t k);
/*
 * The signed number of steps from `from` to `to`, or INT64_MIN when `to`
 * is not on the grid through `from`.
 */
int64_t fc_period_steps(const fc_period *p, int64_t from, int64_t to);
/* Period as JSON {"unit": "month"|"fixed", "step", "timestamps", "month_end"} and back. */
json_t *fc_period_json(const fc_period *p);
int fc_period_from_json(const json_t *j, fc_period *out);
/* A time as JSON: ISO text for timestamps, an integer otherwise. */
json_t *fc_time_json(const fc_period *p, int64_t t);

/* ---- many series: the panel -------------------------------------------------- */

typedef struct fc_panel {
	size_t n_series;
	size_t nby;          /* key columns */
	char **by;           /* their names */
	ds_type *by_type;    /* DS_STRING, DS_INT64 or DS_BOOL */
	char ***dict;        /* per string key column: its values, sorted (code = index) */
	uint32_t *n_dict;
	double *keys;        /* n_series x nby: codes or values */
	size_t *start;       /* n_series + 1: series s is rows start[s]..start[s+1] */
	double *y;           /* the target, series after series, in time order */
	int64_t *t;          /* the times likewise */
	fc_period period;
	ds_type time_type;
} fc_panel;

/*
 * Splits t into series by the key columns (none: one series), sorts each
 * by time, detects the period and checks the grid. Errors (SL_EINVAL) name
 * the series, the times and the fix: a missing or non-numeric target, a
 * null key or time, a duplicate time, a gap, an irregular step.
 */
int fc_panel_build(const ds_table *t, const char *target, const char *time,
		   const char *const *by, size_t nby, fc_panel *out);
void fc_panel_free(fc_panel *p); /* accepts a zeroed panel */
/*
 * Column `time` of t as int64 per row into times (nrow entries):
 * timestamps in microseconds, ISO text parsed, integers as they are.
 * *out_timestamps says which; *out_type is the column's type.
 */
int fc_table_times(const ds_table *t, const char *time, int64_t *times, bool *out_timestamps,
		   ds_type *out_type);
/* "store=12, region=north" (or "the series" without keys) into buf. */
const char *fc_panel_label(const fc_panel *p, size_t s, char *buf, size_t size);
/* Key of series s as JSON: {column: value, ...}, or null without keys. */
json_t *fc_key_json(const char *const *by, const ds_type *types, char **const *dict,
		    size_t nby, const double *key);

/* ---- gbdt on lag and calendar features (forecast_gbdt.c) --------------------------- */

/* The series a gbdt model learns from: series s is y[start[s]..start[s+1]),
 * its first time t0[s] on period's grid (t0 NULL: no times, calendar
 * features left out and the season position counted from each start). */
typedef struct fc_series_set {
	size_t S;
	const size_t *start;
	const double *y;
	const int64_t *t0;
	fc_period period;
} fc_series_set;

/* Lag window W = max(season, 4); method gbdt needs 2W values per series. */
size_t fc_gbdt_window(size_t m);
size_t fc_gbdt_min_length(size_t m);
/* The length from which a series has gbdt among auto's candidates: three
 * windows before the earliest holdout origin. */
size_t fc_gbdt_auto_length(size_t m, size_t h, size_t origins);

/* A trained global model and its feature layout (borrows in). */
typedef struct fc_gbdt fc_gbdt;
/*
 * Trains on the first len[s] values of each series s (0 or <= season: the
 * series gives no rows), deterministic given o->seed for any o->threads.
 * *out is the caller's (fc_gbdt_free). SL_EINVAL when no series gives a row.
 */
int fc_gbdt_train(const fc_series_set *in, const size_t *len, const fc_opts *o, fc_gbdt **out);
void fc_gbdt_free(fc_gbdt *g); /* accepts NULL */
/*
 * Forecasts series s recursively: buf[0..n) is its history, and step k
 * (k = 0..h-1) writes its forecast to buf[n + k], which later steps read
 * as a lag. row: scratch of fc_gbdt_n_features(g) doubles. n > season.
 */
void fc_gbdt_recurse(const fc_gbdt *g, size_t s, double *buf, size_t n, size_t h, double *row);
size_t fc_gbdt_n_features(const fc_gbdt *g);
json_t *fc_gbdt_features_json(const fc_gbdt *g); /* new reference; names in row order */

/* What the gbdt path computed for a panel, before the per-series fits. */
typedef struct fc_gbdt_run {
	bool available;   /* false: gbdt is no candidate (auto, series too short) */
	size_t S, K, h;
	uint8_t *ok;      /* S: the series has a gbdt forecast */
	double *fc;       /* S x h x FC_NOUT */
	double *holdout;  /* auto: S x K x h point forecasts at its origins (NaN: none) */
	double *scale;    /* S: each series' feature scale */
	json_t *info;     /* features, importance, interval half-widths (owned) */
} fc_gbdt_run;

/*
 * The holdout model(s), the interval pool and the final model (see
 * forecast_gbdt.c). for_auto: also forecasts at each of auto's origins and
 * only series of fc_gbdt_auto_length take part; a panel where none does
 * gives available = false, not an error. Otherwise every series takes part
 * (the caller checks fc_gbdt_min_length first, naming the series).
 */
int fc_gbdt_run_panel(const fc_series_set *in, const fc_opts *o, bool for_auto,
		      fc_gbdt_run *out);
void fc_gbdt_run_free(fc_gbdt_run *r); /* accepts a zeroed r */

/* ---- the model ----------------------------------------------------------------- */

/*
 * Fits every series of p with o and builds the model (signature: the key
 * columns, then "h"; info: per series the method, parameters, scores and
 * the time of each h). target names the target column. On failure the
 * message names the series.
 */
int fc_model_fit(const fc_panel *p, const char *target, const char *time, const fc_opts *o,
		 ml_model **out);

/*
 * point: cost (train.forecast): with unit costs over (per unit forecast
 * too high) and under (too low), the forecast of least expected cost is
 * the quantile under / (over + under) of the predictive distribution
 * (the newsvendor's critical ratio). Replaces every forecast of m (a model
 * trained in this process) by that quantile, read off its own intervals
 * (fc_quantile_from_band); the intervals stay. Records info.point.
 * SL_EINVAL for costs that bound nothing (a zero or negative sum, one of
 * them 0).
 */
int fc_model_cost_point(ml_model *m, double over, double under);
/*
 * The value at standard normal quantile z of one forecast row o (FC_NOUT):
 * o[0] plus z times the spread of z's side, that side's 80% bound (95%
 * beyond it) over its z. o[0] itself when the band is missing.
 */
double fc_quantile_from_band(const double *o, double z);

/* The forecast model's per-series view, for evaluation. */
typedef struct fc_view {
	size_t n_series, nby, horizon, window; /* window = max(season, 1) */
	size_t season;
	const double *keys;      /* n_series x nby */
	const int64_t *last;     /* last observed time */
	const double *fc;        /* n_series x horizon x FC_NOUT */
	const double *last_obs;  /* n_series x window (NaN-padded at the front) */
	const double *scale;     /* MASE scale */
	fc_period period;
} fc_view;
/* SL_EINVAL when m is not a forecast model. */
int fc_model_view(const ml_model *m, fc_view *out);
/* Series index of a key (nby doubles), or -1. */
long fc_view_find(const fc_view *v, const double *key);

/*
 * Aligns the rows of test (the key columns, time_col and the target, by
 * the names the model was trained with; time_col NULL: the model's) with
 * the model's forecasts and scores them:
 *   {"metrics": {"mase", "smape", "wape", "coverage80", "coverage95", "rows"},
 *    "baseline": {"method": "seasonal_naive", "mase", "smape", "wape"},
 *    "unmatched": {"unknown_series", "beyond_horizon", "not_after_training",
 *                  "off_grid", "missing_actual"},
 *    "series": [{"key", "label", "points": [{"time", "actual", "forecast",
 *                "lo80", "hi80", "lo95", "hi95", "baseline"}]}]}
 * (points for at most the first 20 series in key order). mase scales each
 * error by its series' in-sample scale; smape is in percent (0..200); wape
 * is sum|error| / sum|actual|. *out_report is a new reference.
 */
int ml_forecast_evaluate(const ml_model *m, const ds_table *test, const char *time_col,
			 json_t **out_report);
/*
 * Served forecasts against the actuals fed back (live monitoring): X the n
 * coded rows the model answered (key columns, then h), P their FC_NOUT
 * outputs, y the actuals. Sets in out "mase" (each error over its series'
 * in-sample scale, as ml_forecast_evaluate scores), "smape", "wape",
 * "mae", "coverage80", "coverage95" and "scored" (rows of a known series
 * with an actual and a forecast). SL_EINVAL when m is not a forecast model.
 */
int ml_forecast_live(const ml_model *m, const double *X, const double *P, const double *y,
		     size_t n, json_t *out);

#endif
