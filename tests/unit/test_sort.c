/*
 * The radix sort and order-preserving keys (sort.h): key order equals
 * number order (negative doubles, zeros, infinities, int64 extremes), and
 * the sort agrees with qsort on random data with many ties, stably, with
 * the index payload following its key; short inputs (insertion sort) and
 * long ones (radix) alike.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "rng.h"
#include "sort.h"
#include "testutil.h"

static void test_keys_keep_order(void **state)
{
	static const double f[] = {-INFINITY, -1e300, -2.5, -1e-310, -0.0, 0.0, 1e-310, 3, 1e300,
				   INFINITY};
	static const int64_t i[] = {INT64_MIN, INT64_MIN + 1, -7, -1, 0, 1, 42, INT64_MAX};

	(void)state;
	for (size_t k = 0; k + 1 < SL__ARRAY_LEN(f); k++) {
		if (f[k] == f[k + 1])
			assert_true(sl__key_f64(f[k]) == sl__key_f64(f[k + 1])); /* -0.0 and 0.0 */
		else
			assert_true(sl__key_f64(f[k]) < sl__key_f64(f[k + 1]));
	}
	for (size_t k = 0; k < SL__ARRAY_LEN(f); k++)
		assert_true(sl__unkey_f64(sl__key_f64(f[k])) == f[k]);
	assert_false(signbit(sl__unkey_f64(sl__key_f64(-0.0)))); /* folded into 0.0 */
	for (size_t k = 0; k + 1 < SL__ARRAY_LEN(i); k++)
		assert_true(sl__key_i64(i[k]) < sl__key_i64(i[k + 1]));
	for (size_t k = 0; k < SL__ARRAY_LEN(i); k++)
		assert_true(sl__unkey_i64(sl__key_i64(i[k])) == i[k]);
}

typedef struct pair {
	uint64_t key;
	size_t idx;
} pair;

/* Key, then input position: the order a stable sort must give. */
static int cmp_pair(const void *a, const void *b)
{
	const pair *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sorts n keys made by gen with and without payload and checks both against qsort. */
static void check_against_qsort(size_t n, uint64_t (*gen)(sl__rng *r, size_t i), uint64_t seed)
{
	uint64_t *k = malloc((n + 1) * sizeof *k), *k2 = malloc((n + 1) * sizeof *k2);
	size_t *idx = malloc((n + 1) * sizeof *idx);
	pair *ref = malloc((n + 1) * sizeof *ref);
	sl__rng r;

	assert_non_null(k);
	assert_non_null(k2);
	assert_non_null(idx);
	assert_non_null(ref);
	sl__rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++) {
		k[i] = k2[i] = gen(&r, i);
		idx[i] = i;
		ref[i] = (pair){k[i], i};
	}
	qsort(ref, n, sizeof *ref, cmp_pair);
	assert_int_equal(sl__radix_sort_u64(k, idx, n), 0);
	assert_int_equal(sl__radix_sort_u64(k2, NULL, n), 0);
	for (size_t i = 0; i < n; i++) {
		if (k[i] != ref[i].key || idx[i] != ref[i].idx)
			fail_msg("n=%zu, position %zu: key %llu from row %zu, expected %llu from row %zu", n,
				 i, (unsigned long long)k[i], idx[i], (unsigned long long)ref[i].key,
				 ref[i].idx);
		assert_true(k2[i] == ref[i].key);
	}
	free(k);
	free(k2);
	free(idx);
	free(ref);
}

/* Doubles of both signs and many magnitudes, a third of them repeats. */
static uint64_t gen_doubles(sl__rng *r, size_t i)
{
	double x = (sl__rng_uniform(r) - 0.5) * pow(10, (double)sl__rng_below(r, 40) - 20);

	(void)i;
	if (sl__rng_below(r, 3) == 0)
		x = (double)sl__rng_below(r, 50) - 25; /* ties, -0 vs 0 among them */
	if (sl__rng_below(r, 100) == 0)
		x = -0.0;
	return sl__key_f64(x);
}

/* Small integers: only the low digits vary, the high passes are skipped. */
static uint64_t gen_small_ints(sl__rng *r, size_t i)
{
	(void)i;
	return sl__key_i64((int64_t)sl__rng_below(r, 1000) - 500);
}

/* Full 64-bit words: every pass runs. */
static uint64_t gen_words(sl__rng *r, size_t i)
{
	(void)i;
	return sl__rng_next(r);
}

/* All equal: every pass is skipped and the order must stay. */
static uint64_t gen_same(sl__rng *r, size_t i)
{
	(void)r;
	(void)i;
	return 77;
}

/* Already sorted, descending. */
static uint64_t gen_descending(sl__rng *r, size_t i)
{
	(void)r;
	return sl__key_i64(-(int64_t)i);
}

static void test_against_qsort(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 5, 63, 64, 65, 1000, 100000};

	(void)state;
	for (size_t s = 0; s < SL__ARRAY_LEN(sizes); s++) {
		check_against_qsort(sizes[s], gen_doubles, 1 + s);
		check_against_qsort(sizes[s], gen_small_ints, 100 + s);
		check_against_qsort(sizes[s], gen_words, 200 + s);
		check_against_qsort(sizes[s], gen_same, 300 + s);
		check_against_qsort(sizes[s], gen_descending, 400 + s);
	}
}

static void test_out_of_memory(void **state)
{
	enum { N = 1000 };
	uint64_t k[N];
	size_t idx[N];
	sl__rng r;

	(void)state;
	sl__rng_seed(&r, 5);
	for (size_t i = 0; i < N; i++) {
		k[i] = sl__rng_next(&r) % 100;
		idx[i] = i;
	}
	sl__alloc_fail_after(1);
	assert_int_equal(sl__radix_sort_u64(k, idx, N), SL_ENOMEM);
	assert_true(sl__alloc_failures() >= 1);
	sl__alloc_fail_after(-1);
	for (size_t i = 0; i < N; i++) /* untouched */
		assert_int_equal(idx[i], i);
	assert_int_equal(sl__radix_sort_u64(k, idx, N), 0);
	for (size_t i = 1; i < N; i++)
		assert_true(k[i - 1] < k[i] || (k[i - 1] == k[i] && idx[i - 1] < idx[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_keep_order),
		cmocka_unit_test(test_against_qsort),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
