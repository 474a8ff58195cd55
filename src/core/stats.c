/*
 * Mean, variance and type 7 quantiles (see stats.h for the definitions).
 *
 * The two-pass variance subtracts the mean rounded to double, in long
 * double: the deviations are then exact to the precision of the data and
 * their squares accumulate with 64 bits of mantissa, which keeps a column
 * of a million values around 1e9 with unit noise correct to about 15
 * digits, where a one-pass sum of squares would keep none.
 */
#include <math.h>

#include "stats.h"

void sl__mean_var(const double *x, size_t n, unsigned ddof, double *out_mean, double *out_var,
		  size_t *out_count)
{
	long double sum = 0, ss = 0;
	size_t count = 0;
	double mean;

	for (size_t i = 0; i < n; i++) {
		if (isnan(x[i]))
			continue;
		sum += x[i];
		count++;
	}
	mean = count ? (double)(sum / (long double)count) : NAN;
	for (size_t i = 0; out_var && count && i < n; i++) {
		long double d;
		if (isnan(x[i]))
			continue;
		d = (long double)x[i] - mean;
		ss += d * d;
	}
	if (out_mean)
		*out_mean = mean;
	if (out_var)
		*out_var = count > ddof ? (double)(ss / (long double)(count - ddof)) : NAN;
	if (out_count)
		*out_count = count;
}

double sl__quantile_sorted(const double *v, size_t n, double q)
{
	double h, t, a, b, d;
	size_t lo;

	if (n == 0 || isnan(q))
		return NAN;
	if (q <= 0)
		return v[0];
	if (q >= 1)
		return v[n - 1];
	h = (double)(n - 1) * q;
	lo = (size_t)h; /* floor: h >= 0 */
	t = h - (double)lo;
	a = v[lo];
	if (t == 0 || lo + 1 >= n)
		return a;
	b = v[lo + 1];
	d = b - a;
	return isfinite(d) ? a + t * d : (1 - t) * a + t * b;
}
