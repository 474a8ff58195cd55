/*
 * The one implementation of descriptive statistics in sluice: mean,
 * variance and quantiles. Profiles, fitted transforms (impute, clip,
 * normalise) and the ML code compute them here, so that "the median" or
 * "the standard deviation" means one thing everywhere.
 *
 * Definitions:
 *   mean      sum / count over the values that are not NaN (NaN means
 *             missing; an infinity is a value and makes the mean infinite
 *             or NaN, as arithmetic says).
 *   variance  sum of squared deviations from the mean / (count - ddof):
 *             ddof 0 is the population variance (scikit-learn's
 *             StandardScaler), ddof 1 the sample variance (pandas' std).
 *             Computed in two passes with long double accumulators, so a
 *             large mean does not cancel the deviations away (the naive
 *             sum-of-squares formula loses every digit on data like
 *             1e9 + small noise).
 *   quantile  linear interpolation between order statistics, Hyndman and
 *             Fan's type 7 (R's default, numpy's "linear", pandas'
 *             default): for sorted v[0..n) and level q in [0, 1],
 *             h = (n - 1) q, and the quantile is v[floor h] + (h - floor h)
 *             (v[floor h + 1] - v[floor h]). q = 0.5 of an even count is
 *             the mean of the two middle values.
 */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stddef.h>

/*
 * Mean and variance (divisor count - ddof) of the non-NaN values among
 * x[0..n). *out_count (may be NULL) receives how many there were. With no
 * value the mean is NaN; with count <= ddof the variance is NaN.
 */
void sl__mean_var(const double *x, size_t n, unsigned ddof, double *out_mean, double *out_var,
		  size_t *out_count);

/*
 * The type 7 quantile at level q of v[0..n), sorted ascending and free of
 * NaN. q below 0 or above 1 is taken as 0 or 1; NaN when n is 0 or q is
 * NaN. Two neighbours whose difference overflows are interpolated as
 * (1 - t) a + t b instead, which stays finite.
 */
double sl__quantile_sorted(const double *v, size_t n, double q);

#endif
