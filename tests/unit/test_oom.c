/*
 * Fault injection (the SQLite habit): fail the Nth allocation for every N
 * and check that each entry point returns an error instead of crashing or
 * leaking (the sanitizer build checks the leaks), that failures were really
 * injected, and that it succeeds once allocations succeed again. JSON
 * values are allocated through the same hook (jansson uses sl__malloc).
 */
#include <stdio.h>
#include <string.h>

#include "pipeline/cache.h"
#include "testutil.h"

static const char pipeline[] =
	"name: oom\n"
	"params: {seed: 42, who: world}\n"
	"steps:\n"
	"  ingest:\n    uses: ingest.file\n    with: {path: data.txt}\n"
	"  a:\n    run: cat \"${inputs.x}\" > \"${outputs.o}\"; echo ${params.who}\n"
	"    inputs: {x: ingest.data}\n    outputs: [o]\n"
	"  b:\n    run: cat \"${inputs.x}\" > \"${outputs.o}\"\n    inputs: {x: a.o}\n"
	"    outputs: [o]\n    env: {K: v}\n    deps: [data.txt]\n"
	"  c:\n    run: cat \"${inputs.l}\" \"${inputs.r}\" > \"${outputs.o}\"\n"
	"    inputs: {l: a.o, r: b.o}\n    outputs: [o]\n";

static void test_spec_parse_under_oom(void **state)
{
	const char *dir = tu_tmpdir();
	const char *ov[] = {"seed=7"};
	tu_oom o = {0};

	(void)state;
	for (long n = 0; n < 100000 && !o.done; n++) {
		spec *s = NULL;
		tu_oom_begin(&o, n);
		int rc = spec_parse_string(pipeline, strlen(pipeline), "oom.yaml", dir, ov, 1, &s);
		tu_oom_end(&o, rc);
		if (rc == 0) {
			assert_non_null(s);
			assert_int_equal(spec_step_index(s, "c"), 3);
			spec_free(s);
			continue;
		}
		assert_null(s);
		assert_int_equal(rc, SL_ENOMEM);
	}
	tu_oom_check(&o, 10); /* the parser does allocate through sl__malloc */
	tu_rmdir(dir);
}

static void test_cache_key_under_oom(void **state)
{
	const char *dir = tu_tmpdir();
	const char *names[] = {"x"};
	const char *ids[] = {"abababababababababababababababababababababababababababababababab"};
	char key[65], ref[65];
	spec *s = NULL;
	tu_oom o = {0};
	long n;

	(void)state;
	assert_int_equal(spec_parse_string(pipeline, strlen(pipeline), "oom.yaml", dir, NULL, 0, &s), 0);
	long b = spec_step_index(s, "b");
	assert_int_equal(cache_key(s, (size_t)b, names, ids, 1, ref), 0);
	for (n = 0; n < 10000 && !o.done; n++) {
		tu_oom_begin(&o, n);
		int rc = cache_key(s, (size_t)b, names, ids, 1, key);
		tu_oom_end(&o, rc);
		if (rc == 0)
			assert_string_equal(key, ref); /* also when a failure was absorbed */
		else
			assert_int_equal(rc, SL_ENOMEM);
	}
	tu_oom_check(&o, 3);
	spec_free(s);
	tu_rmdir(dir);
}

/* jansson allocates through sl__malloc, so JSON paths are injected too. */
static void test_json_uses_the_hook(void **state)
{
	json_t *o;

	(void)state;
	assert_true(sl__json_alloc_installed());
	sl__alloc_fail_after(0);
	o = json_object();
	assert_null(o);
	assert_true(sl__alloc_failures() >= 1);
	sl__alloc_fail_after(-1);
	o = json_object();
	assert_non_null(o);
	/* A failed set reports it and does not leak the value (ASan checks). */
	sl__alloc_fail_after(0);
	assert_int_equal(sl__json_set(o, "k", json_integer(1)), SL_ENOMEM);
	assert_int_equal(sl__json_set(o, "k", NULL), SL_ENOMEM);
	sl__alloc_fail_after(-1);
	assert_int_equal(sl__json_set(o, "k", json_integer(1)), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "k")), 1);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_uses_the_hook),
		cmocka_unit_test(test_spec_parse_under_oom),
		cmocka_unit_test(test_cache_key_under_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
