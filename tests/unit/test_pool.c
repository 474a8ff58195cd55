/*
 * The shared thread pool and random generator: every item of a loop runs
 * exactly once whatever the thread count, nested and concurrent loops
 * neither deadlock nor lose items, workers that went to sleep between
 * loops are woken and work, and a seed gives the same numbers on
 * every machine (known first outputs). The CPU count is the affinity
 * mask's, and the server's default request threads follow it.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "pool.h"
#include "rng.h"
#include "testutil.h"
#include "sluice/serve.h"

typedef struct counts {
	unsigned *hits;
	unsigned threads;
	unsigned bad_worker;
} counts;

static void count_item(void *ctx, size_t i, unsigned worker)
{
	counts *c = ctx;

	__atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
	if (worker >= c->threads)
		__atomic_fetch_add(&c->bad_worker, 1, __ATOMIC_RELAXED);
}

static void test_every_item_once(void **state)
{
	enum { N = 10007 };
	unsigned threads[] = {1, 2, 3, 8};

	(void)state;
	for (size_t t = 0; t < SL__ARRAY_LEN(threads); t++) {
		counts c = {calloc(N, sizeof(unsigned)), threads[t], 0};
		for (int round = 0; round < 50; round++)
			sl__parallel_for(threads[t], N, count_item, &c);
		for (size_t i = 0; i < N; i++)
			assert_int_equal(c.hits[i], 50);
		assert_int_equal(c.bad_worker, 0);
		free(c.hits);
	}
}

typedef struct sums {
	size_t n;
	unsigned long long total; /* atomic */
} sums;

static void range_sum(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	sums *s = ctx;
	unsigned long long t = 0;

	(void)worker;
	for (size_t i = lo; i < hi; i++)
		t += i;
	__atomic_fetch_add(&s->total, t, __ATOMIC_RELAXED);
}

static void test_ranges_cover(void **state)
{
	size_t ns[] = {0, 1, 99, 100, 101, 100000};

	(void)state;
	for (size_t k = 0; k < SL__ARRAY_LEN(ns); k++) {
		sums s = {ns[k], 0};
		unsigned long long n = ns[k];
		sl__parallel_range(2, ns[k], 100, range_sum, &s);
		assert_true(s.total == (n ? n * (n - 1) / 2 : 0));
	}
}

/* A loop inside a loop's body runs on its caller and still covers its items. */
static void nested_item(void *ctx, size_t i, unsigned worker)
{
	counts *outer = ctx;
	counts inner = {calloc(64, sizeof(unsigned)), SL__MAX_THREADS, 0};

	(void)worker;
	sl__parallel_for(2, 64, count_item, &inner);
	for (size_t k = 0; k < 64; k++)
		if (inner.hits[k] != 1)
			__atomic_fetch_add(&outer->bad_worker, 1, __ATOMIC_RELAXED);
	free(inner.hits);
	__atomic_fetch_add(&outer->hits[i], 1, __ATOMIC_RELAXED);
}

static void test_nested(void **state)
{
	counts c = {calloc(32, sizeof(unsigned)), 2, 0};

	(void)state;
	sl__parallel_for(2, 32, nested_item, &c);
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(c.hits[i], 1);
	assert_int_equal(c.bad_worker, 0);
	free(c.hits);
}

/* Two threads starting loops at once (a server): both complete. */
static void *racer(void *arg)
{
	counts *c = arg;

	for (int r = 0; r < 200; r++)
		sl__parallel_for(2, 1000, count_item, c);
	return NULL;
}

static void test_concurrent_callers(void **state)
{
	counts a = {calloc(1000, sizeof(unsigned)), 2, 0};
	counts b = {calloc(1000, sizeof(unsigned)), 2, 0};
	pthread_t ta, tb;

	(void)state;
	pthread_create(&ta, NULL, racer, &a);
	pthread_create(&tb, NULL, racer, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(a.hits[i], 200);
		assert_int_equal(b.hits[i], 200);
	}
	free(a.hits);
	free(b.hits);
}

/*
 * Loops far apart: between them the workers spin a while and then sleep,
 * and a sleeping worker must still be woken for the next loop and take
 * part in it. The items sleep, so the caller leaves the core to a worker
 * even on a busy machine; over twenty loops one must have joined.
 */
static void slow_item(void *ctx, size_t i, unsigned worker)
{
	counts *c = ctx;
	struct timespec ts = {0, 2000000};

	nanosleep(&ts, NULL);
	count_item(ctx, i, worker);
	if (worker > 0)
		__atomic_fetch_add(&c->hits[8], 1, __ATOMIC_RELAXED); /* a worker's turn */
}

static void test_wakes_after_sleep(void **state)
{
	counts c = {calloc(9, sizeof(unsigned)), 2, 0};

	(void)state;
	for (int round = 0; round < 20; round++) {
		struct timespec gap = {0, 5000000}; /* longer than a worker spins */
		nanosleep(&gap, NULL);
		sl__parallel_for(2, 8, slow_item, &c);
	}
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(c.hits[i], 20);
	assert_int_equal(c.bad_worker, 0);
	if (sl__ncpu() >= 2)
		assert_true(c.hits[8] > 0);
	free(c.hits);
}

/* Under `taskset -c N` (or a cpuset) the pools and the server's request
 * threads count the CPUs the process may use, not the machine's: a second
 * request thread on the one core only waits behind the first. */
static void test_ncpu_follows_affinity(void **state)
{
	cpu_set_t all, one;
	sl_serve_opts o;
	int first = -1;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
		if (CPU_ISSET(c, &all))
			first = c;
	assert_true(first >= 0);
	assert_int_equal(sl__ncpu(), (unsigned)CPU_COUNT(&all));
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
	assert_int_equal(sl__ncpu(), 1);
	assert_int_equal(sl__thread_count(0), 1);
	sl_serve_opts_init(&o);
	assert_int_equal(o.threads, 1);
	assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
	sl_serve_opts_init(&o);
	assert_int_equal(o.threads, (unsigned)CPU_COUNT(&all));
}

static void test_rng_known_stream(void **state)
{
	sl__rng r;
	uint64_t x = 0;

	(void)state;
	/* splitmix64's first output from 0, as its reference code gives it. */
	assert_true(sl__splitmix64(&x) == 0xe220a8397b1dcdafull);
	sl__rng_seed(&r, 42);
	uint64_t first = sl__rng_next(&r);
	sl__rng_seed(&r, 42);
	assert_true(sl__rng_next(&r) == first);
	sl__rng_seed(&r, 43);
	assert_true(sl__rng_next(&r) != first);
}

static void test_rng_streams_and_ranges(void **state)
{
	sl__rng a, b;
	size_t hist[10] = {0};
	double mean = 0, var = 0;
	const int n = 200000;

	(void)state;
	sl__rng_stream(&a, 7, 0);
	sl__rng_stream(&b, 7, 1);
	assert_true(sl__rng_next(&a) != sl__rng_next(&b));
	for (int i = 0; i < n; i++) {
		uint64_t k = sl__rng_below(&a, 10);
		double u = sl__rng_uniform(&a), z = sl__rng_normal(&b);
		assert_true(k < 10);
		assert_true(u >= 0 && u < 1);
		hist[k]++;
		mean += z;
		var += z * z;
	}
	for (int k = 0; k < 10; k++)
		assert_true(hist[k] > n / 10 * 0.95 && hist[k] < n / 10 * 1.05);
	mean /= n;
	var = var / n - mean * mean;
	assert_true(mean > -0.01 && mean < 0.01);
	assert_true(var > 0.98 && var < 1.02);
}

static void test_rng_sample(void **state)
{
	size_t ns[] = {10, 1000, 100000}, ks[] = {0, 1, 7, 10, 256, 5000};

	(void)state;
	for (size_t a = 0; a < SL__ARRAY_LEN(ns); a++) {
		for (size_t b = 0; b < SL__ARRAY_LEN(ks); b++) {
			size_t n = ns[a], k = ks[b], *out;
			sl__rng r;
			if (k > n)
				continue;
			out = calloc(k + 1, sizeof *out);
			sl__rng_seed(&r, n * 31 + k);
			sl__rng_sample(&r, n, k, out);
			for (size_t i = 0; i < k; i++) {
				assert_true(out[i] < n);
				if (i)
					assert_true(out[i - 1] < out[i]); /* sorted, distinct */
			}
			free(out);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_item_once),
		cmocka_unit_test(test_ranges_cover),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_concurrent_callers),
		cmocka_unit_test(test_wakes_after_sleep),
		cmocka_unit_test(test_ncpu_follows_affinity),
		cmocka_unit_test(test_rng_known_stream),
		cmocka_unit_test(test_rng_streams_and_ranges),
		cmocka_unit_test(test_rng_sample),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
