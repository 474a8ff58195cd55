/*
 * Exponential smoothing in state-space form (ETS; Hyndman, Koehler, Ord and
 * Snyder, "Forecasting with Exponential Smoothing", 2008): error additive or
 * multiplicative, trend none, additive or additive damped, season none,
 * additive or multiplicative. Each admissible model is fitted by maximum
 * likelihood over its smoothing parameters and its initial states, and the
 * one of least AICc is kept, as forecast::ets and statsmodels' ETSModel do.
 *
 * The filter. With lb = l + phi b (l when there is no trend, phi = 1 when
 * the trend is not damped) and s the seasonal state of one period ago, the
 * one-step forecast is lb, lb + s or lb * s, e = y - yhat, and
 *     level   l = lb + alpha e          (/ s for a multiplicative season)
 *     trend   b = phi b + beta e        (/ s likewise)
 *     season  s = s + gamma e           (/ lb for a multiplicative season)
 * These are the updates of both error types once the error is written in
 * the data's units (a multiplicative error eps is e / yhat): the point
 * forecasts of A and M models are the same; the likelihoods differ.
 *
 * Invariants:
 *  1. Parameters are searched in an unconstrained space: each smoothing
 *     parameter is a logistic transform into its usual region (alpha in
 *     [1e-4, 0.9999], beta in [1e-4, alpha], gamma in [1e-4, 1 - alpha],
 *     phi in [0.8, 0.98], the bounds of forecast::ets), additive states are
 *     divided by the series' mean absolute value, so one simplex step means
 *     the same on every series. Out-of-region points cannot occur.
 *  2. The initial seasonal states sum to 0 (additive) or m (multiplicative):
 *     m - 1 are free, the last follows.
 *  3. A point where a multiplicative part divides by a non-positive number
 *     has an infinite objective; the search starts from a finite point
 *     (the classical-decomposition start), so it never ends on one.
 *  4. Fitting allocates nothing (the simplex and the states live on the
 *     stack) and shares nothing, so it runs on every worker at once; only
 *     the simulated intervals allocate, their paths.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/forecast.h"
#include "rng.h"
#include "stats.h"

#define ETS_MAXDIM (6 + FC_ETS_MAX_SEASON)
#define ETS_SIM_PATHS 2000
#define LO 1e-4
#define HI 0.9999
#define PHI_LO 0.8
#define PHI_HI 0.98

enum { TREND_N = 0, TREND_A = 1, TREND_AD = 2 };
enum { SEASON_N = 0, SEASON_A = 1, SEASON_M = 2 };

typedef struct ets_kind {
	int mul_err; /* 0 additive, 1 multiplicative */
	int trend;
	int season;
} ets_kind;

typedef struct ets_par {
	double alpha, beta, gamma, phi;
	double l0, b0;
	double s[FC_ETS_MAX_SEASON];
} ets_par;

typedef struct ets_prob {
	const double *y;
	size_t n, m; /* m = 1 without a season */
	ets_kind k;
	double sc;   /* scale of additive states in x */
	size_t dim;
	size_t nsmooth;
} ets_prob;

bool fc_ets_spec_parse(const char *s, fc_ets_spec *out)
{
	fc_ets_spec r = {0, 0, 0};

	switch (*s++) {
	case 'A': r.error = FC_E_ADD; break;
	case 'M': r.error = FC_E_MUL; break;
	case 'Z': r.error = FC_E_ADD | FC_E_MUL; break;
	default: return false;
	}
	switch (*s++) {
	case 'N': r.trend = FC_T_NONE; break;
	case 'A':
		if (*s == 'd') {
			s++;
			r.trend = FC_T_DAMPED;
		} else {
			r.trend = FC_T_ADD;
		}
		break;
	case 'Z': r.trend = FC_T_NONE | FC_T_ADD | FC_T_DAMPED; break;
	default: return false;
	}
	switch (*s++) {
	case 'N': r.season = FC_S_NONE; break;
	case 'A': r.season = FC_S_ADD; break;
	case 'M': r.season = FC_S_MUL; break;
	case 'Z': r.season = FC_S_NONE | FC_S_ADD | FC_S_MUL; break;
	default: return false;
	}
	if (*s)
		return false;
	*out = r;
	return true;
}

static double logistic(double u)
{
	return 1.0 / (1.0 + exp(-u));
}

static double logit(double p)
{
	if (p < 1e-9)
		p = 1e-9;
	if (p > 1 - 1e-9)
		p = 1 - 1e-9;
	return log(p / (1 - p));
}

/* x (the search space) -> parameters (invariants 1 and 2). */
static bool decode(const ets_prob *P, const double *x, ets_par *q)
{
	size_t i = 0, m = P->m;
	double sum = 0;

	q->alpha = LO + (HI - LO) * logistic(x[i++]);
	q->beta = q->gamma = 0;
	q->phi = 1;
	if (P->k.trend != TREND_N)
		q->beta = LO + (q->alpha - LO) * logistic(x[i++]);
	if (P->k.season != SEASON_N) {
		double top = 1 - q->alpha - LO;
		q->gamma = LO + (top > 0 ? top : 0) * logistic(x[i++]);
	}
	if (P->k.trend == TREND_AD)
		q->phi = PHI_LO + (PHI_HI - PHI_LO) * logistic(x[i++]);
	q->l0 = x[i++] * P->sc;
	q->b0 = P->k.trend != TREND_N ? x[i++] * P->sc : 0;
	if (P->k.season != SEASON_N) {
		double f = P->k.season == SEASON_A ? P->sc : 1;
		for (size_t j = 0; j + 1 < m; j++) {
			q->s[j] = x[i++] * f;
			sum += q->s[j];
		}
		q->s[m - 1] = P->k.season == SEASON_A ? -sum : (double)m - sum;
		if (P->k.season == SEASON_M && q->s[m - 1] <= 0)
			return false;
	}
	return true;
}

/* One step of the filter from (l, b, ring) with error e; yhat returned by
 * ets_yhat before it. */
typedef struct ets_state {
	double l, b;
	double s[FC_ETS_MAX_SEASON];
} ets_state;

static inline double lb_of(const ets_kind *k, const ets_par *q, const ets_state *st, double *phib)
{
	*phib = k->trend == TREND_AD ? q->phi * st->b : k->trend == TREND_A ? st->b : 0;
	return st->l + *phib;
}

static inline void step(const ets_kind *k, const ets_par *q, ets_state *st, size_t pos, double lb,
			double phib, double e)
{
	double s = st->s[pos];

	switch (k->season) {
	case SEASON_N:
		st->l = lb + q->alpha * e;
		st->b = phib + q->beta * e;
		break;
	case SEASON_A:
		st->l = lb + q->alpha * e;
		st->b = phib + q->beta * e;
		st->s[pos] = s + q->gamma * e;
		break;
	default:
		st->l = lb + q->alpha * e / s;
		st->b = phib + q->beta * e / s;
		st->s[pos] = s + q->gamma * e / lb;
		break;
	}
}

static inline double yhat_of(const ets_kind *k, double lb, double s)
{
	return k->season == SEASON_M ? lb * s : k->season == SEASON_A ? lb + s : lb;
}

/*
 * The filter over the series for one kind of model, written once and
 * specialised by the compiler for each (error, trend, season) so that the
 * hot loop has no branches on the model: *sse gets the sum of squared
 * errors (relative ones for a multiplicative error), *slog the sum of
 * log|yhat|. false when a multiplicative part meets a non-positive number
 * (invariant 3). The product of the yhat is kept and its log taken only
 * when it nears the range of a double: one log per hundred steps instead
 * of one per step (the log was a third of the fitting time).
 */
static inline __attribute__((always_inline)) bool
run_k(const ets_prob *P, const ets_par *q, ets_state *st, double *sse, double *slog,
      const int mul, const int trend, const int season)
{
	size_t m = P->m, pos = 0;
	double se = 0, sl = 0, prod = 1;
	const double alpha = q->alpha, beta = q->beta, gamma = q->gamma, phi = q->phi;
	double l = q->l0, b = q->b0;

	if (season != SEASON_N)
		memcpy(st->s, q->s, m * sizeof *st->s);
	for (size_t t = 0; t < P->n; t++) {
		double phib = trend == TREND_AD ? phi * b : trend == TREND_A ? b : 0;
		double lb = l + phib, s = season != SEASON_N ? st->s[pos] : 0;
		double yh = season == SEASON_M ? lb * s : season == SEASON_A ? lb + s : lb;
		double e = P->y[t] - yh;
		if (season == SEASON_M && (lb <= 0 || s <= 0))
			return false;
		if (mul) {
			double r;
			if (yh <= 0)
				return false;
			r = e / yh;
			se += r * r;
			prod *= yh;
			if (prod > 1e150 || prod < 1e-150) {
				sl += log(prod);
				prod = 1;
			}
		} else {
			se += e * e;
		}
		if (season == SEASON_M) {
			l = lb + alpha * e / s;
			if (trend != TREND_N)
				b = phib + beta * e / s;
			st->s[pos] = s + gamma * e / lb;
		} else {
			l = lb + alpha * e;
			if (trend != TREND_N)
				b = phib + beta * e;
			if (season == SEASON_A)
				st->s[pos] = s + gamma * e;
		}
		if (season != SEASON_N && ++pos == m)
			pos = 0;
	}
	if (mul)
		sl += log(prod);
	st->l = l;
	st->b = trend != TREND_N ? b : 0;
	if (season == SEASON_N)
		st->s[0] = 0;
	*sse = se;
	*slog = sl;
	return isfinite(se) && isfinite(sl);
}

static bool run(const ets_prob *P, const ets_par *q, ets_state *st, double *sse, double *slog)
{
#define RUN_CASE(E, T, S)                                                                   \
	case (E) * 9 + (T) * 3 + (S):                                                       \
		return run_k(P, q, st, sse, slog, E, T, S)
	switch (P->k.mul_err * 9 + P->k.trend * 3 + P->k.season) {
		RUN_CASE(0, 0, 0); RUN_CASE(0, 0, 1); RUN_CASE(0, 0, 2);
		RUN_CASE(0, 1, 0); RUN_CASE(0, 1, 1); RUN_CASE(0, 1, 2);
		RUN_CASE(0, 2, 0); RUN_CASE(0, 2, 1); RUN_CASE(0, 2, 2);
		RUN_CASE(1, 0, 0); RUN_CASE(1, 0, 1); RUN_CASE(1, 0, 2);
		RUN_CASE(1, 1, 0); RUN_CASE(1, 1, 1); RUN_CASE(1, 1, 2);
		RUN_CASE(1, 2, 0); RUN_CASE(1, 2, 1); RUN_CASE(1, 2, 2);
	default:
		return false;
	}
#undef RUN_CASE
}

/* The objective: -2 log-likelihood up to a constant (as forecast::ets). */
static double objective(const double *x, const ets_prob *P)
{
	ets_par q;
	ets_state st;
	double sse, slog, n = (double)P->n;

	if (!decode(P, x, &q) || !run(P, &q, &st, &sse, &slog))
		return HUGE_VAL;
	if (sse <= 0)
		sse = DBL_MIN;
	return n * log(sse) + 2 * slog;
}

/*
 * Nelder-Mead over d <= ETS_MAXDIM coordinates from x with initial steps
 * `stepv`; x receives the best point, the best value is returned. Stops when
 * the simplex's values agree to a relative 1e-8 (R's optim default) or after
 * max_eval evaluations.
 */
static double nelder_mead(const ets_prob *P, double *x, size_t d, const double *stepv,
			  size_t max_eval)
{
	double sim[ETS_MAXDIM + 1][ETS_MAXDIM], f[ETS_MAXDIM + 1];
	double c[ETS_MAXDIM], xr[ETS_MAXDIM], xe[ETS_MAXDIM];
	size_t evals = 0;

	for (size_t i = 0; i <= d; i++) {
		memcpy(sim[i], x, d * sizeof *x);
		if (i)
			sim[i][i - 1] += stepv[i - 1];
		f[i] = objective(sim[i], P);
		evals++;
	}
	for (;;) {
		size_t lo = 0, hi = 0, nh = 0;
		for (size_t i = 1; i <= d; i++) {
			if (f[i] < f[lo])
				lo = i;
			if (f[i] > f[hi])
				hi = i;
		}
		nh = hi == 0 ? 1 : 0;
		for (size_t i = 0; i <= d; i++)
			if (i != hi && f[i] > f[nh])
				nh = i;
		if (evals >= max_eval ||
		    (isfinite(f[hi]) && fabs(f[hi] - f[lo]) <= 1e-8 * (fabs(f[lo]) + 1e-8)))
			break;
		for (size_t j = 0; j < d; j++) {
			double s = 0;
			for (size_t i = 0; i <= d; i++)
				if (i != hi)
					s += sim[i][j];
			c[j] = s / (double)d;
		}
		for (size_t j = 0; j < d; j++)
			xr[j] = c[j] + (c[j] - sim[hi][j]);
		double fr = objective(xr, P);
		evals++;
		if (fr < f[lo]) {
			for (size_t j = 0; j < d; j++)
				xe[j] = c[j] + 2 * (c[j] - sim[hi][j]);
			double fe = objective(xe, P);
			evals++;
			if (fe < fr) {
				memcpy(sim[hi], xe, d * sizeof *xe);
				f[hi] = fe;
			} else {
				memcpy(sim[hi], xr, d * sizeof *xr);
				f[hi] = fr;
			}
			continue;
		}
		if (fr < f[nh]) {
			memcpy(sim[hi], xr, d * sizeof *xr);
			f[hi] = fr;
			continue;
		}
		/* Contract: outside when the reflection helped a little, else inside. */
		bool outside = fr < f[hi];
		for (size_t j = 0; j < d; j++)
			xe[j] = outside ? c[j] + 0.5 * (xr[j] - c[j]) : c[j] + 0.5 * (sim[hi][j] - c[j]);
		double fc = objective(xe, P);
		evals++;
		if (fc < (outside ? fr : f[hi])) {
			memcpy(sim[hi], xe, d * sizeof *xe);
			f[hi] = fc;
			continue;
		}
		/* Shrink towards the best point. */
		for (size_t i = 0; i <= d; i++) {
			if (i == lo)
				continue;
			for (size_t j = 0; j < d; j++)
				sim[i][j] = sim[lo][j] + 0.5 * (sim[i][j] - sim[lo][j]);
			f[i] = objective(sim[i], P);
			evals++;
		}
	}
	size_t best = 0;
	for (size_t i = 1; i <= d; i++)
		if (f[i] < f[best])
			best = i;
	memcpy(x, sim[best], d * sizeof *x);
	return f[best];
}

/* Least squares line through v[0..k) at t = 1..k: *a at t = 0, *b the slope. */
static void line_fit(const double *v, size_t k, double *a, double *b)
{
	double st = 0, sv = 0, stt = 0, stv = 0, n = (double)k;

	if (k < 2) {
		*a = k ? v[0] : 0;
		*b = 0;
		return;
	}
	for (size_t i = 0; i < k; i++) {
		double t = (double)(i + 1);
		st += t;
		sv += v[i];
		stt += t * t;
		stv += t * v[i];
	}
	*b = (n * stv - st * sv) / (n * stt - st * st);
	*a = (sv - *b * st) / n;
}

/*
 * The starting point: seasonal states from a classical decomposition of
 * the first two or three seasons, level and trend from a line through the
 * first ten seasonally adjusted values (as forecast::ets's initstate).
 */
static int start_states(const ets_prob *P, ets_par *q)
{
	size_t n = P->n, m = P->m, k;
	double ds[10], a, b;

	if (P->k.season != SEASON_N) {
		size_t nc = n >= 3 * m ? 3 * m : 2 * m;
		int rc = fc_seasonal_indices(P->y, nc, m, P->k.season == SEASON_M, q->s);
		if (rc)
			return rc;
	}
	k = n < 10 ? n : 10;
	for (size_t i = 0; i < k; i++) {
		double s = P->k.season == SEASON_N ? 0 : q->s[i % m];
		ds[i] = P->k.season == SEASON_M ? P->y[i] / s : P->y[i] - s;
	}
	if (P->k.trend != TREND_N) {
		line_fit(ds, k, &a, &b);
		q->l0 = a;
		q->b0 = b;
	} else {
		double s = 0;
		for (size_t i = 0; i < k; i++)
			s += ds[i];
		q->l0 = s / (double)k;
		q->b0 = 0;
	}
	return 0;
}

/* The search point of q, and the simplex steps. */
static size_t encode(const ets_prob *P, const ets_par *q, double *x, double *stepv)
{
	size_t i = 0, m = P->m;

	x[i] = logit((q->alpha - LO) / (HI - LO));
	stepv[i++] = 1.0;
	if (P->k.trend != TREND_N) {
		x[i] = logit(0.1);
		stepv[i++] = 1.0;
	}
	if (P->k.season != SEASON_N) {
		x[i] = logit(0.1);
		stepv[i++] = 1.0;
	}
	if (P->k.trend == TREND_AD) {
		x[i] = logit(0.9);
		stepv[i++] = 1.0;
	}
	x[i] = q->l0 / P->sc;
	stepv[i++] = 0.05;
	if (P->k.trend != TREND_N) {
		x[i] = q->b0 / P->sc;
		stepv[i++] = 0.01;
	}
	if (P->k.season != SEASON_N) {
		double f = P->k.season == SEASON_A ? P->sc : 1;
		for (size_t j = 0; j + 1 < m; j++) {
			x[i] = q->s[j] / f;
			stepv[i++] = 0.05;
		}
	}
	return i;
}

typedef struct ets_result {
	ets_kind k;
	ets_par q;
	ets_state end;
	double sse, slog, loglik, aicc, sigma2;
	size_t np;
} ets_result;

/* Fits one model; false when it is not admissible or the fit fails. */
static bool fit_one(const double *y, size_t n, size_t m, ets_kind k, ets_result *r)
{
	ets_prob P = {y, n, k.season == SEASON_N ? 1 : m, k, 0, 0, 0};
	double x[ETS_MAXDIM], stepv[ETS_MAXDIM], best, sum = 0, nn = (double)n;
	ets_par q;

	P.nsmooth = 1 + (k.trend != TREND_N) + (k.season != SEASON_N) + (k.trend == TREND_AD);
	P.dim = P.nsmooth + 1 + (k.trend != TREND_N) + (k.season != SEASON_N ? P.m - 1 : 0);
	/* The parameters and the variance, plus room to learn (forecast::ets
	 * refuses a model with n <= np + 4 likewise). */
	if (n <= P.dim + 1 + 4)
		return false;
	for (size_t i = 0; i < n; i++)
		sum += fabs(y[i]);
	P.sc = sum / nn > 0 ? sum / nn : 1;
	memset(&q, 0, sizeof q);
	q.alpha = k.season != SEASON_N ? 0.2 : 0.3;
	if (start_states(&P, &q))
		return false;
	size_t d = encode(&P, &q, x, stepv);
	best = objective(x, &P);
	if (!isfinite(best))
		return false;
	/* Restarts: a fresh simplex around the best point until a restart no
	 * longer improves (Nelder-Mead can stall on a ridge; restarting is the
	 * classic cure). */
	for (int restart = 0; restart < 2; restart++) {
		double prev = best;
		best = nelder_mead(&P, x, d, stepv, 200 + 50 * d);
		if (restart > 0 && prev - best <= 1e-7 * (fabs(prev) + 1e-8))
			break;
	}
	if (!isfinite(best) || !decode(&P, x, &r->q) || !run(&P, &r->q, &r->end, &r->sse, &r->slog))
		return false;
	r->k = k;
	r->np = d + 1;
	if (r->sse <= 0)
		r->sse = DBL_MIN;
	r->loglik = -0.5 * nn * (log(2 * M_PI * r->sse / nn) + 1) - r->slog;
	r->aicc = -2 * r->loglik + 2 * (double)r->np +
		  2 * (double)r->np * (double)(r->np + 1) / (nn - (double)r->np - 1);
	r->sigma2 = r->sse / (nn - (double)r->np);
	return isfinite(r->aicc);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Point forecasts of r for k = 1..h into out (stride FC_NOUT). */
static void point_forecasts(const ets_result *r, size_t n, size_t m, size_t h, double *out)
{
	ets_state st = r->end;
	size_t mm = r->k.season == SEASON_N ? 1 : m;

	for (size_t j = 0; j < h; j++) {
		size_t pos = (n + j) % mm;
		double phib, lb = lb_of(&r->k, &r->q, &st, &phib);
		out[j * FC_NOUT] = yhat_of(&r->k, lb, st.s[pos]);
		step(&r->k, &r->q, &st, pos, lb, phib, 0);
	}
}

/*
 * Intervals of class-1 models (additive error, no multiplicative season):
 * var_k = sigma2 (1 + sum_{j<k} c_j^2) with c_j = alpha + beta (phi + ...
 * + phi^j) + gamma [j % m == 0] (Hyndman et al. 2008, table 6.1).
 */
static void analytic_intervals(const ets_result *r, size_t m, size_t h, double *out)
{
	double acc = 0, phij = 0, phipow = 1;

	for (size_t k = 1; k <= h; k++) {
		double sd = sqrt(r->sigma2 * (1 + acc)), f = out[(k - 1) * FC_NOUT];
		double *o = out + (k - 1) * FC_NOUT;
		o[1] = f - FC_Z80 * sd;
		o[2] = f + FC_Z80 * sd;
		o[3] = f - FC_Z95 * sd;
		o[4] = f + FC_Z95 * sd;
		/* c_k for the next horizon. */
		phipow *= r->k.trend == TREND_AD ? r->q.phi : 1;
		phij += phipow;
		double c = r->q.alpha;
		if (r->k.trend != TREND_N)
			c += r->q.beta * phij;
		if (r->k.season != SEASON_N && k % m == 0)
			c += r->q.gamma;
		acc += c * c;
	}
}

/*
 * Intervals from ETS_SIM_PATHS simulated futures (quantiles 10/90 and
 * 2.5/97.5 per horizon), for the models without a closed form. Needs
 * h * ETS_SIM_PATHS doubles of scratch.
 */
static int simulated_intervals(const ets_result *r, size_t n, size_t m, size_t h,
			       uint64_t seed, uint64_t stream, double *out)
{
	size_t mm = r->k.season == SEASON_N ? 1 : m;
	double sd = sqrt(r->sigma2);
	double *paths = sl__malloc(h * ETS_SIM_PATHS * sizeof *paths);
	sl__rng rng;

	if (!paths)
		return sl__oom();
	sl__rng_stream(&rng, seed, stream);
	for (size_t p = 0; p < ETS_SIM_PATHS; p++) {
		ets_state st = r->end;
		for (size_t j = 0; j < h; j++) {
			size_t pos = (n + j) % mm;
			double phib, lb = lb_of(&r->k, &r->q, &st, &phib);
			double yh = yhat_of(&r->k, lb, st.s[pos]);
			double eps = sd * sl__rng_normal(&rng);
			double e = r->k.mul_err ? yh * eps : eps;
			paths[j * ETS_SIM_PATHS + p] = yh + e;
			step(&r->k, &r->q, &st, pos, lb, phib, e);
		}
	}
	for (size_t j = 0; j < h; j++) {
		double *v = paths + j * ETS_SIM_PATHS, *o = out + j * FC_NOUT;
		qsort(v, ETS_SIM_PATHS, sizeof *v, cmp_double);
		o[1] = sl__quantile_sorted(v, ETS_SIM_PATHS, 0.10);
		o[2] = sl__quantile_sorted(v, ETS_SIM_PATHS, 0.90);
		o[3] = sl__quantile_sorted(v, ETS_SIM_PATHS, 0.025);
		o[4] = sl__quantile_sorted(v, ETS_SIM_PATHS, 0.975);
		if (!isfinite(o[1]) || !isfinite(o[4]))
			o[1] = o[2] = o[3] = o[4] = NAN;
	}
	sl__free(paths);
	return 0;
}

int fc_ets_fit(const double *y, size_t n, size_t m, fc_ets_spec spec, size_t h,
	       uint64_t rng_seed, uint64_t stream, fc_fit *fit, double *out)
{
	static const unsigned tbits[] = {FC_T_NONE, FC_T_ADD, FC_T_DAMPED};
	static const unsigned sbits[] = {FC_S_NONE, FC_S_ADD, FC_S_MUL};
	bool positive = true, have = false;
	ets_result best = {0}, r;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (!(y[i] > 0))
			positive = false;
	for (int e = 0; e < 2; e++) {
		if (!(spec.error & (e ? FC_E_MUL : FC_E_ADD)) || (e && !positive))
			continue;
		for (int t = 0; t < 3; t++) {
			if (!(spec.trend & tbits[t]))
				continue;
			for (int s = 0; s < 3; s++) {
				if (!(spec.season & sbits[s]))
					continue;
				if (s != SEASON_N && (m < 2 || m > FC_ETS_MAX_SEASON || n < 2 * m))
					continue;
				/* Additive errors with a multiplicative season are
				 * kept (statsmodels' ETSModel fits them; forecast::ets
				 * leaves them out by default for their unbounded
				 * forecast variance): on seasonal data they often
				 * forecast best, and their intervals are simulated. */
				if (s == SEASON_M && !positive)
					continue;
				if (!fit_one(y, n, m, (ets_kind){e, t, s}, &r))
					continue;
				if (!have || r.aicc < best.aicc) {
					best = r;
					have = true;
				}
			}
		}
	}
	if (!have)
		return sl__err(SL_EINVAL,
			       "no ETS model of the family fits %zu observations (a seasonal "
			       "model needs two seasons, a multiplicative one positive values, "
			       "every model more observations than parameters)",
			       n);
	fit->method = FC_ETS;
	snprintf(fit->ets, sizeof fit->ets, "%c%s%c", best.k.mul_err ? 'M' : 'A',
		 best.k.trend == TREND_N ? "N" : best.k.trend == TREND_A ? "A" : "Ad",
		 "NAM"[best.k.season]);
	fit->alpha = best.q.alpha;
	fit->beta = best.k.trend != TREND_N ? best.q.beta : NAN;
	fit->gamma = best.k.season != SEASON_N ? best.q.gamma : NAN;
	fit->phi = best.k.trend == TREND_AD ? best.q.phi : NAN;
	fit->init[0] = best.q.l0;
	fit->init[1] = best.k.trend != TREND_N ? best.q.b0 : NAN;
	fit->n_init = 2;
	if (best.k.season != SEASON_N)
		for (size_t j = 0; j < m; j++)
			fit->init[fit->n_init++] = best.q.s[j];
	fit->sigma = sqrt(best.sigma2);
	fit->loglik = best.loglik;
	fit->aicc = best.aicc;
	point_forecasts(&best, n, m, h, out);
	if (!best.k.mul_err && best.k.season != SEASON_M) {
		analytic_intervals(&best, m, h, out);
		fit->simulated = false;
	} else {
		if ((rc = simulated_intervals(&best, n, m, h, rng_seed, stream, out)))
			return rc;
		fit->simulated = true;
	}
	return 0;
}
