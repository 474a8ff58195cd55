/*
 * The server's index of recent requests (feedback.c), which feedback looks
 * ids up in: a ring whose hash chains keep links to reused slots and cut
 * them on reading. Filled far past its size, it finds exactly the newest
 * ring-full of ids with what was stored for each, an id given again
 * resolves to its newest entry, and the ids it forgot are not found, also
 * when their chains run through slots reused by other buckets.
 */
#include <stdio.h>
#include <string.h>

#include "serve/server.h"
#include "testutil.h"

static void add(serve_worker *w, const char *id, uint16_t model, double pred)
{
	double out[2] = {pred, 1 - pred};
	serve_result res = {.n = 1, .k = 2, .out = out};

	serve_recent_add(w, id, model, NULL, &res, ML_REGRESSION);
}

static void test_ring(void **state)
{
	serve_worker w;
	serve_recent e;
	char id[32];
	/* Few buckets for the entries (the index has as many as the ring),
	 * so chains are long and run through reused slots. */
	size_t cap = 64, n = 1000;

	(void)state;
	memset(&w, 0, sizeof w);
	assert_int_equal(serve_recent_init(&w, cap), 0);
	assert_int_equal(w.recent_cap, cap);
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof id, "req-%zu", i);
		add(&w, id, (uint16_t)(i % 7), (double)i);
		/* After every add: the newest cap ids are found, with their
		 * own values; the one just pushed out is not. */
		for (size_t j = i + 1 > cap ? i + 1 - cap : 0; j <= i; j += 13) {
			snprintf(id, sizeof id, "req-%zu", j);
			assert_true(serve_recent_get(&w, id, &e));
			assert_string_equal(e.id, id);
			assert_int_equal(e.model, j % 7);
			assert_true(e.pred[0] == (double)j);
		}
		if (i >= cap) {
			snprintf(id, sizeof id, "req-%zu", i - cap);
			assert_false(serve_recent_get(&w, id, &e));
		}
	}
	for (size_t j = 0; j < n; j++) {
		snprintf(id, sizeof id, "req-%zu", j);
		assert_int_equal(serve_recent_get(&w, id, &e), j >= n - cap);
	}
	/* An id sent again (a client's own X-Request-Id): the newest wins. */
	add(&w, "again", 1, 1.5);
	add(&w, "again", 2, 2.5);
	assert_true(serve_recent_get(&w, "again", &e));
	assert_int_equal(e.model, 2);
	assert_true(e.pred[0] == 2.5);
	assert_false(serve_recent_get(&w, "never", &e));
	serve_recent_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
