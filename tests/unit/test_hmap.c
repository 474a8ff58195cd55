/*
 * The core hash map (hmap.h): string and 64-bit keys mapped to dense ids,
 * growth keeping every id, keys whose tags all collide, many keys against
 * a sorted reference, rebuilding from stored tags, and out-of-memory while
 * growing leaving the map as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "hmap.h"
#include "rng.h"
#include "testutil.h"

/* A caller's table of string entries indexed by the map. */
typedef struct strs {
	sl__hmap m;
	char **s;
	size_t n, cap;
	bool same_tag; /* every key gets tag 7: all of them collide */
} strs;

typedef struct str_probe {
	const strs *t;
	const char *key;
} str_probe;

static bool str_eq(const void *ctx, uint32_t id)
{
	const str_probe *p = ctx;

	return strcmp(p->t->s[id], p->key) == 0;
}

static uint32_t str_tag(const strs *t, const char *key)
{
	return t->same_tag ? 7u : sl__hmap_tag(sl__hash64(key, strlen(key)));
}

/* The id of key, adding a copy when new; *added says which. */
static uint32_t str_intern(strs *t, const char *key, bool *added)
{
	str_probe p = {t, key};
	uint32_t id;
	int rc;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->s = realloc(t->s, t->cap * sizeof *t->s);
		assert_non_null(t->s);
	}
	rc = sl__hmap_intern(&t->m, str_tag(t, key), (uint32_t)t->n, str_eq, &p, &id);
	assert_true(rc == 0 || rc == 1);
	*added = rc == 0;
	if (rc == 0) {
		assert_int_equal(id, t->n);
		t->s[t->n++] = strdup(key);
	}
	return id;
}

static uint32_t str_find(const strs *t, const char *key)
{
	str_probe p = {t, key};

	return sl__hmap_find(&t->m, str_tag(t, key), str_eq, &p);
}

static void strs_free(strs *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	sl__hmap_free(&t->m);
}

static void check_shape(const sl__hmap *m, size_t n)
{
	assert_int_equal(m->n, n);
	assert_true(m->cap == 0 || (m->cap & (m->cap - 1)) == 0); /* a power of two */
	assert_true(2 * m->n <= m->cap);                         /* at most half full */
}

static void test_insert_find_grow(void **state)
{
	enum { N = 5000 };
	strs t = {0};
	char key[32];
	bool added;
	size_t caps = 0, last_cap = 0;

	(void)state;
	sl__hmap_init(&t.m);
	assert_int_equal(str_find(&t, "nothing"), SL__HMAP_NONE); /* empty: no slots */
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof key, "key-%zu", i);
		assert_int_equal(str_intern(&t, key, &added), i);
		assert_true(added);
		if (t.m.cap != last_cap) {
			caps++;
			last_cap = t.m.cap;
		}
		check_shape(&t.m, i + 1);
	}
	assert_true(caps >= 6); /* 64 -> 16384 slots: grew several times */
	/* Every id survived the growth; interning again finds, not adds. */
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof key, "key-%zu", i);
		assert_int_equal(str_find(&t, key), i);
		assert_int_equal(str_intern(&t, key, &added), i);
		assert_false(added);
	}
	assert_int_equal(str_find(&t, "key-5000"), SL__HMAP_NONE);
	assert_int_equal(str_find(&t, ""), SL__HMAP_NONE);
	check_shape(&t.m, N);
	strs_free(&t);
}

static void test_collisions(void **state)
{
	enum { N = 300 };
	strs t = {0};
	char key[32];
	bool added;

	(void)state;
	t.same_tag = true;
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof key, "%zu", i);
		assert_int_equal(str_intern(&t, key, &added), i);
		assert_true(added);
	}
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof key, "%zu", i);
		assert_int_equal(str_find(&t, key), i);
	}
	assert_int_equal(str_find(&t, "x"), SL__HMAP_NONE);
	check_shape(&t.m, N);
	strs_free(&t);
}

/* 64-bit keys: the words live in the caller's array, indexed by id. */
typedef struct words {
	sl__hmap m;
	uint64_t *v;
	size_t n;
} words;

typedef struct word_probe {
	const words *w;
	uint64_t key;
} word_probe;

static bool word_eq(const void *ctx, uint32_t id)
{
	const word_probe *p = ctx;

	return p->w->v[id] == p->key;
}

static uint32_t word_tag(uint64_t x)
{
	return sl__hmap_tag(sl__hash64(&x, sizeof x));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_many_u64_keys(void **state)
{
	enum { N = 200000 };
	uint64_t *in = malloc(N * sizeof *in), *sorted = malloc(N * sizeof *sorted);
	uint32_t *ids = malloc(N * sizeof *ids);
	words w = {0};
	sl__rng r;
	size_t distinct = 0;

	(void)state;
	assert_non_null(in);
	assert_non_null(sorted);
	assert_non_null(ids);
	w.v = malloc(N * sizeof *w.v);
	assert_non_null(w.v);
	sl__rng_seed(&r, 2024);
	/* About a third repeat an earlier key; some keys are 0 and ~0. */
	for (size_t i = 0; i < N; i++) {
		uint64_t x = sl__rng_next(&r);
		if (i && x % 3 == 0)
			x = in[sl__rng_below(&r, i)];
		if (i == 10)
			x = 0;
		if (i == 11)
			x = UINT64_MAX;
		in[i] = x;
	}
	assert_int_equal(sl__hmap_reserve(&w.m, 1000), 0); /* a hint; it still grows */
	for (size_t i = 0; i < N; i++) {
		word_probe p = {&w, in[i]};
		int rc = sl__hmap_intern(&w.m, word_tag(in[i]), (uint32_t)w.n, word_eq, &p, &ids[i]);
		assert_true(rc == 0 || rc == 1);
		if (rc == 0)
			w.v[w.n++] = in[i];
	}
	memcpy(sorted, in, N * sizeof *in);
	qsort(sorted, N, sizeof *sorted, cmp_u64);
	for (size_t i = 0; i < N; i++)
		distinct += i == 0 || sorted[i] != sorted[i - 1];
	/* One id per distinct key, dense, in order of first appearance, and
	 * equal keys (only those) share it. */
	assert_int_equal(w.n, distinct);
	check_shape(&w.m, distinct);
	for (size_t i = 0, next = 0; i < N; i++) {
		assert_true(w.v[ids[i]] == in[i]);
		if (ids[i] == next)
			next++;
		else
			assert_true(ids[i] < next);
	}
	for (size_t i = 0; i < 1000; i++) {
		uint64_t x = sl__rng_next(&r) | 1; /* almost surely absent */
		word_probe p = {&w, x};
		if (!bsearch(&x, sorted, N, sizeof *sorted, cmp_u64))
			assert_int_equal(sl__hmap_find(&w.m, word_tag(x), word_eq, &p), SL__HMAP_NONE);
	}
	free(in);
	free(sorted);
	free(ids);
	free(w.v);
	sl__hmap_free(&w.m);
}

static void test_rebuild(void **state)
{
	strs t = {0};
	bool added;
	sl__hmap again;

	(void)state;
	str_intern(&t, "a", &added);
	str_intern(&t, "b", &added);
	str_intern(&t, "c", &added);
	/* Rebuilding from stored tags (a dropped index) gives the same answers. */
	sl__hmap_init(&again);
	assert_int_equal(sl__hmap_reserve(&again, t.n), 0);
	for (size_t i = 0; i < t.n; i++)
		sl__hmap_add_distinct(&again, str_tag(&t, t.s[i]), (uint32_t)i);
	check_shape(&again, t.n);
	for (size_t i = 0; i < t.n; i++) {
		str_probe q = {&t, t.s[i]};
		assert_int_equal(sl__hmap_find(&again, str_tag(&t, t.s[i]), str_eq, &q), i);
	}
	/* The first key added sits in its home slot. */
	assert_int_equal(sl__hmap_home_id(&again, str_tag(&t, "a")), 0);
	sl__hmap_free(&again);
	strs_free(&t);
}

static void test_out_of_memory(void **state)
{
	strs t = {0};
	char key[32];
	bool added;
	uint32_t id;
	size_t i;
	int rc = 0;

	(void)state;
	for (i = 0; i < 32; i++) {
		snprintf(key, sizeof key, "k%zu", i);
		str_intern(&t, key, &added);
	}
	assert_int_equal(t.m.cap, 64);
	/* The 33rd key needs 128 slots: growing fails, nothing changes. */
	sl__alloc_fail_after(0);
	{
		str_probe p = {&t, "k32"};
		rc = sl__hmap_intern(&t.m, str_tag(&t, "k32"), (uint32_t)t.n, str_eq, &p, &id);
	}
	assert_int_equal(sl__alloc_failures(), 1);
	sl__alloc_fail_after(-1);
	assert_int_equal(rc, SL_ENOMEM);
	assert_int_equal(t.m.cap, 64);
	check_shape(&t.m, 32);
	for (i = 0; i < 32; i++) {
		snprintf(key, sizeof key, "k%zu", i);
		assert_int_equal(str_find(&t, key), i);
	}
	assert_int_equal(str_intern(&t, "k32", &added), 32);
	assert_true(added);
	assert_int_equal(sl__hmap_reserve(&t.m, SL__HMAP_MAX_IDS), SL_ELIMIT);
	strs_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find_grow),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_many_u64_keys),
		cmocka_unit_test(test_rebuild),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
