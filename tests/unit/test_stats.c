/*
 * Descriptive statistics (stats.h) against values worked out by hand (and
 * numpy's defaults, which use the same definitions): mean, population and
 * sample variance, NaN as missing, the empty and one-value cases, large
 * offsets that cancel a naive formula, and type 7 quantiles including
 * their ends, out-of-range levels, infinities and overflow.
 */
#include <math.h>
#include <stdlib.h>

#include "core.h"
#include "stats.h"
#include "testutil.h"

static void near(double got, double want)
{
	if (!(fabs(got - want) <= 1e-12 * (fabs(want) > 1 ? fabs(want) : 1)))
		fail_msg("got %.17g, expected %.17g", got, want);
}

static void test_mean_var(void **state)
{
	static const double v[] = {2, 4, 4, 4, 5, 5, 7, 9};
	double mean, var;
	size_t n;

	(void)state;
	/* Sum 40 over 8: mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32. */
	sl__mean_var(v, 8, 0, &mean, &var, &n);
	assert_int_equal(n, 8);
	near(mean, 5);
	near(var, 4);
	sl__mean_var(v, 8, 1, &mean, &var, NULL);
	near(var, 32.0 / 7);
}

static void test_nan_is_missing(void **state)
{
	const double v[] = {NAN, 1, NAN, 3, NAN};
	double mean, var;
	size_t n;

	(void)state;
	sl__mean_var(v, 5, 1, &mean, &var, &n);
	assert_int_equal(n, 2);
	near(mean, 2);
	near(var, 2); /* (1 + 1) / (2 - 1) */
	/* Nothing but NaN: no mean, no variance. */
	sl__mean_var(v, 1, 0, &mean, &var, &n);
	assert_int_equal(n, 0);
	assert_true(isnan(mean) && isnan(var));
	sl__mean_var(NULL, 0, 0, &mean, &var, &n);
	assert_int_equal(n, 0);
	assert_true(isnan(mean) && isnan(var));
	/* One value: population variance 0, sample variance undefined. */
	sl__mean_var(&v[1], 1, 0, &mean, &var, NULL);
	near(mean, 1);
	near(var, 0);
	sl__mean_var(&v[1], 1, 1, &mean, &var, NULL);
	assert_true(isnan(var));
	/* An infinity is a value, not missing. */
	{
		const double w[] = {1, INFINITY};
		sl__mean_var(w, 2, 0, &mean, &var, &n);
		assert_int_equal(n, 2);
		assert_true(isinf(mean));
	}
}

static void test_no_cancellation(void **state)
{
	enum { N = 100000 };
	double *v = malloc(N * sizeof *v), mean, var;

	(void)state;
	assert_non_null(v);
	/* 1e9 + 1, 2, 3, 4 repeated: mean 1e9 + 2.5, population variance 1.25
	 * exactly. E[x^2] - E[x]^2 in doubles would be off by thousands. */
	for (size_t i = 0; i < N; i++)
		v[i] = 1e9 + (double)(i % 4 + 1);
	sl__mean_var(v, N, 0, &mean, &var, NULL);
	near(mean, 1e9 + 2.5);
	near(var, 1.25);
	sl__mean_var(v, 4, 1, &mean, &var, NULL);
	near(var, 5.0 / 3);
	free(v);
}

static void test_quantiles(void **state)
{
	static const double v[] = {-1, 0, 0, 2, 3.5, 7.25, 8};
	static const double four[] = {1, 2, 3, 4};

	(void)state;
	/* h = 6q: q 0.5 -> v[3]; 0.9 -> h 5.4: 7.25 + 0.4 * 0.75; 0.01 -> h
	 * 0.06: -1 + 0.06 * 1; 0.3 -> h 1.8 between the two zeros. */
	near(sl__quantile_sorted(v, 7, 0.5), 2);
	near(sl__quantile_sorted(v, 7, 0.9), 7.55);
	near(sl__quantile_sorted(v, 7, 0.95), 7.775);
	near(sl__quantile_sorted(v, 7, 0.01), -0.94);
	near(sl__quantile_sorted(v, 7, 0.3), 0);
	/* An even count: the median is the mean of the middle two. */
	near(sl__quantile_sorted(four, 4, 0.5), 2.5);
	near(sl__quantile_sorted(four, 4, 0.25), 1.75);
	/* The ends, and levels outside [0, 1] taken as the ends. */
	near(sl__quantile_sorted(four, 4, 0), 1);
	near(sl__quantile_sorted(four, 4, 1), 4);
	near(sl__quantile_sorted(four, 4, -0.5), 1);
	near(sl__quantile_sorted(four, 4, 7), 4);
	near(sl__quantile_sorted(four, 1, 0.7), 1);
	assert_true(isnan(sl__quantile_sorted(four, 0, 0.5)));
	assert_true(isnan(sl__quantile_sorted(four, 4, NAN)));
}

static void test_quantile_extremes(void **state)
{
	const double wide[] = {-1e308, 1e308};
	const double inf[] = {-INFINITY, 1, INFINITY};

	(void)state;
	/* b - a overflows: interpolated without it, so the middle is 0. */
	near(sl__quantile_sorted(wide, 2, 0.5), 0);
	near(sl__quantile_sorted(wide, 2, 0.75), 5e307);
	/* Towards an infinite neighbour the quantile is infinite. */
	assert_true(sl__quantile_sorted(inf, 3, 0.25) == -INFINITY);
	assert_true(sl__quantile_sorted(inf, 3, 0.75) == INFINITY);
	near(sl__quantile_sorted(inf, 3, 0.5), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mean_var),
		cmocka_unit_test(test_nan_is_missing),
		cmocka_unit_test(test_no_cancellation),
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_quantile_extremes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
