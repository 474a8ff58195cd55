/*
 * The Theta method (Assimakopoulos and Nikolopoulos, 2000) in its standard
 * form (Hyndman and Billah, 2003; forecast::thetaf, statsmodels'
 * ThetaModel): simple exponential smoothing with a drift equal to half the
 * slope of the series' linear trend, on the seasonally adjusted series when
 * a seasonality test says so, reseasonalised afterwards. Also the classical
 * decomposition and the seasonality test, which ETS uses for its start.
 *
 *   y --(ACF at lag m significant? and y > 0)--> y / seasonal index
 *     --> SES by maximum likelihood (ETS A,N,N: alpha and the initial level)
 *     --> level + b/2 (k - 1 + (1 - (1 - alpha)^n) / alpha), k = 1..h
 *     --> times the seasonal index of T + k
 *
 * Intervals are those of the SES model (sigma^2 (1 + (k - 1) alpha^2)) on
 * the adjusted scale, reseasonalised, as thetaf computes them.
 */
#include <math.h>
#include <string.h>

#include "ml/forecast.h"

int fc_seasonal_indices(const double *y, size_t n, size_t m, bool multiplicative, double *out)
{
	double sum[FC_MAX_SEASON], mean = 0;
	size_t cnt[FC_MAX_SEASON], half = m / 2;

	if (m < 2 || m > FC_MAX_SEASON || n < 2 * m)
		return sl__err(SL_EINVAL, "a decomposition with season %zu needs at least %zu values",
			       m, 2 * m);
	memset(sum, 0, m * sizeof *sum);
	memset(cnt, 0, m * sizeof *cnt);
	for (size_t t = half; t + half < n; t++) {
		double ma = 0;
		if (m % 2) {
			for (size_t j = t - half; j <= t + half; j++)
				ma += y[j];
		} else {
			ma = 0.5 * (y[t - half] + y[t + half]);
			for (size_t j = t - half + 1; j < t + half; j++)
				ma += y[j];
		}
		ma /= (double)m;
		if (multiplicative) {
			if (!(ma > 0))
				return sl__err(SL_EINVAL, "a multiplicative decomposition needs "
							  "positive values");
			sum[t % m] += y[t] / ma;
		} else {
			sum[t % m] += y[t] - ma;
		}
		cnt[t % m]++;
	}
	for (size_t p = 0; p < m; p++) {
		out[p] = cnt[p] ? sum[p] / (double)cnt[p] : (multiplicative ? 1 : 0);
		mean += out[p] / (double)m;
	}
	for (size_t p = 0; p < m; p++) {
		if (multiplicative)
			out[p] /= mean;
		else
			out[p] -= mean;
	}
	return 0;
}

bool fc_seasonality_test(const double *y, size_t n, size_t m)
{
	double mean = 0, den = 0, acc = 0, r = 0;

	if (m < 2 || n < 2 * m)
		return false;
	for (size_t t = 0; t < n; t++)
		mean += y[t] / (double)n;
	for (size_t t = 0; t < n; t++)
		den += (y[t] - mean) * (y[t] - mean);
	if (!(den > 0))
		return false;
	for (size_t k = 1; k <= m; k++) {
		double num = 0;
		for (size_t t = k; t < n; t++)
			num += (y[t] - mean) * (y[t - k] - mean);
		r = num / den;
		if (k < m)
			acc += r * r;
	}
	/* qnorm(0.95): the one-sided 5% of thetaf (a 90% two-sided band). */
	return fabs(r) > 1.6448536269514722 / sqrt((double)n) * sqrt(1 + 2 * acc);
}

void fc_theta_forecast(double alpha, double level, double sigma, double b, size_t n, size_t h,
		       double *out)
{
	double a0 = (1 - pow(1 - alpha, (double)n)) / alpha;

	for (size_t k = 1; k <= h; k++) {
		double *o = out + (k - 1) * FC_NOUT;
		double f = level + b / 2 * ((double)(k - 1) + a0);
		double sd = sigma * sqrt(1 + (double)(k - 1) * alpha * alpha);
		o[0] = f;
		o[1] = f - FC_Z80 * sd;
		o[2] = f + FC_Z80 * sd;
		o[3] = f - FC_Z95 * sd;
		o[4] = f + FC_Z95 * sd;
	}
}

int fc_theta_fit(const double *y, size_t n, size_t m, size_t h, fc_fit *fit, double *out)
{
	double idx[FC_MAX_SEASON], one[FC_NOUT], st = 0, sv = 0, stt = 0, stv = 0, b = 0;
	double *ds;
	bool positive = true, seasonal;
	fc_fit ses;
	int rc;

	if (n < 3)
		return sl__err(SL_EINVAL, "theta needs at least 3 observations, the series has %zu",
			       n);
	for (size_t t = 0; t < n; t++)
		if (!(y[t] > 0))
			positive = false;
	seasonal = positive && m > 1 && m <= FC_MAX_SEASON && fc_seasonality_test(y, n, m);
	ds = sl__malloc(n * sizeof *ds);
	if (!ds)
		return sl__oom();
	if (seasonal && fc_seasonal_indices(y, n, m, true, idx) != 0)
		seasonal = false; /* a non-positive moving average: leave it unadjusted */
	for (size_t t = 0; t < n; t++)
		ds[t] = seasonal ? y[t] / idx[t % m] : y[t];
	for (size_t t = 0; t < n; t++) {
		double x = (double)t;
		st += x;
		sv += ds[t];
		stt += x * x;
		stv += x * ds[t];
	}
	b = ((double)n * stv - st * sv) / ((double)n * stt - st * st);
	fc_fit_init(&ses);
	rc = fc_ets_fit(ds, n, 1, (fc_ets_spec){FC_E_ADD, FC_T_NONE, FC_S_NONE}, 1, 0, 0, &ses,
			one);
	sl__free(ds);
	if (rc)
		return rc;
	fc_theta_forecast(ses.alpha, one[0], ses.sigma, b, n, h, out);
	if (seasonal)
		for (size_t k = 0; k < h; k++)
			for (size_t c = 0; c < FC_NOUT; c++)
				out[k * FC_NOUT + c] *= idx[(n + k) % m];
	fit->method = FC_THETA;
	fit->alpha = ses.alpha;
	fit->init[0] = ses.init[0];
	fit->n_init = 1;
	fit->sigma = ses.sigma;
	fit->drift = b / 2;
	fit->seasonal = seasonal;
	fit->simulated = false;
	return 0;
}
