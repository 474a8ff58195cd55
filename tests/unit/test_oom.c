/*
 * Fault injection (the SQLite habit): fail the Nth allocation for every N
 * and check that each entry point returns an error instead of crashing or
 * leaking (the sanitizer build checks the leaks), then succeeds once
 * allocations succeed again.
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
	int failures = 0;
	long n;

	(void)state;
	for (n = 0; n < 100000; n++) {
		spec *s = NULL;
		sl__alloc_fail_after(n);
		int rc = spec_parse_string(pipeline, strlen(pipeline), "oom.yaml", dir, ov, 1, &s);
		sl__alloc_fail_after(-1);
		if (rc == 0) {
			assert_non_null(s);
			spec_free(s);
			break;
		}
		assert_null(s);
		assert_int_equal(rc, SL_ENOMEM);
		failures++;
	}
	assert_true(failures > 10); /* the parser does allocate through sl__malloc */
	assert_true(n < 100000);
	tu_rmdir(dir);
}

static void test_cache_key_under_oom(void **state)
{
	const char *dir = tu_tmpdir();
	const char *names[] = {"x"};
	const char *ids[] = {"abababababababababababababababababababababababababababababababab"};
	char key[65], ref[65];
	spec *s = NULL;
	long n;

	(void)state;
	assert_int_equal(spec_parse_string(pipeline, strlen(pipeline), "oom.yaml", dir, NULL, 0, &s), 0);
	long b = spec_step_index(s, "b");
	assert_int_equal(cache_key(s, (size_t)b, names, ids, 1, ref), 0);
	for (n = 0; n < 10000; n++) {
		sl__alloc_fail_after(n);
		int rc = cache_key(s, (size_t)b, names, ids, 1, key);
		sl__alloc_fail_after(-1);
		if (rc == 0) {
			assert_string_equal(key, ref);
			break;
		}
		assert_int_equal(rc, SL_ENOMEM);
	}
	assert_true(n < 10000);
	spec_free(s);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_parse_under_oom),
		cmocka_unit_test(test_cache_key_under_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
