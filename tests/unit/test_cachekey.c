/*
 * Cache keys (pipeline/cache.h): equal for semantically equal steps, and
 * different whenever the definition, code, inputs or a read file change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cache.h"
#include "testutil.h"

static const char *dir;

static spec *parse(const char *text)
{
	spec *s = NULL;
	int rc = spec_parse_string(text, strlen(text), "test.yaml", dir, NULL, 0, &s);

	if (rc)
		fail_msg("parse failed: %s", sl_errmsg());
	return s;
}

/* Key of step `name` with the given single input id (or none). */
static void key_of(const char *text, const char *name, const char *in_id, char out[65])
{
	spec *s = parse(text);
	long i = spec_step_index(s, name);
	const char *in_names[1] = {"x"};
	const char *in_ids[1] = {in_id};

	assert_true(i >= 0);
	assert_int_equal(cache_key(s, (size_t)i, in_names, in_ids, in_id ? 1 : 0, out), 0);
	spec_free(s);
}

static int setup(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmdir(dir);
	return 0;
}

static void test_layout_does_not_matter(void **state)
{
	char a[65], b[65];

	(void)state;
	key_of("name: p\nsteps:\n  s:\n    run: echo hi > \"${outputs.o}\"\n    outputs: [o]\n"
	       "    env: {A: '1', B: '2'}\n",
	       "s", NULL, a);
	key_of("# a comment\nname: p\nsteps:\n  s: { outputs: [o], env: {B: '2', A: '1'},\n"
	       "       run: 'echo hi > \"${outputs.o}\"' }\n",
	       "s", NULL, b);
	assert_string_equal(a, b);
}

/* Option names are unordered; the order inside an option's value is kept
 * (wrangle's derive: {b: ..., a: ...} makes columns in that order). */
static void test_option_order(void **state)
{
	char a[65], b[65], c[65], d[65];

	(void)state;
	key_of("name: p\nsteps:\n  s:\n    run: 'true'\n    with: {x: 1, y: 2}\n", "s", NULL, a);
	key_of("name: p\nsteps:\n  s:\n    run: 'true'\n    with: {y: 2, x: 1}\n", "s", NULL, b);
	assert_string_equal(a, b);
	key_of("name: p\nsteps:\n  s:\n    run: 'true'\n    with: {m: {b: 1, a: 2}}\n", "s", NULL, c);
	key_of("name: p\nsteps:\n  s:\n    run: 'true'\n    with: {m: {a: 2, b: 1}}\n", "s", NULL, d);
	assert_string_not_equal(c, d);
}

static void test_definition_changes_key(void **state)
{
	char a[65], b[65], c[65];

	(void)state;
	key_of("name: p\nsteps:\n  s:\n    run: echo 1 > \"${outputs.o}\"\n    outputs: [o]\n", "s",
	       NULL, a);
	key_of("name: p\nsteps:\n  s:\n    run: echo 2 > \"${outputs.o}\"\n    outputs: [o]\n", "s",
	       NULL, b);
	key_of("name: p\nsteps:\n  s:\n    run: echo 1 > \"${outputs.o}\"\n    outputs: [o, p]\n",
	       "s", NULL, c);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
}

static void test_params_change_only_users(void **state)
{
	const char *t1 = "name: p\nparams: {n: 1}\nsteps:\n"
			 "  uses_n:\n    run: echo ${params.n} > \"${outputs.o}\"\n    outputs: [o]\n"
			 "  other:\n    run: echo x > \"${outputs.o}\"\n    outputs: [o]\n";
	const char *t2 = "name: p\nparams: {n: 2}\nsteps:\n"
			 "  uses_n:\n    run: echo ${params.n} > \"${outputs.o}\"\n    outputs: [o]\n"
			 "  other:\n    run: echo x > \"${outputs.o}\"\n    outputs: [o]\n";
	char a[65], b[65];

	(void)state;
	key_of(t1, "uses_n", NULL, a);
	key_of(t2, "uses_n", NULL, b);
	assert_string_not_equal(a, b);
	key_of(t1, "other", NULL, a);
	key_of(t2, "other", NULL, b);
	assert_string_equal(a, b);
}

static void test_inputs_change_key(void **state)
{
	const char *t = "name: p\nsteps:\n  a:\n    run: echo > \"${outputs.o}\"\n    outputs: [o]\n"
			"  s:\n    run: cat \"${inputs.x}\" > \"${outputs.o}\"\n    inputs: {x: a.o}\n"
			"    outputs: [o]\n";
	char a[65], b[65], c[65];

	(void)state;
	key_of(t, "s", "1111111111111111111111111111111111111111111111111111111111111111", a);
	key_of(t, "s", "2222222222222222222222222222222222222222222222222222222222222222", b);
	key_of(t, "s", "1111111111111111111111111111111111111111111111111111111111111111", c);
	assert_string_not_equal(a, b);
	assert_string_equal(a, c);
}

static void test_path_option_hashes_contents(void **state)
{
	const char *t = "name: p\nsteps:\n  in:\n    uses: ingest.file\n    with: {path: data.txt}\n";
	char *f = tu_path(dir, "data.txt");
	char a[65], b[65], c[65], d[65];

	(void)state;
	key_of(t, "in", NULL, a); /* file missing: still a key */
	tu_write(f, "one");
	key_of(t, "in", NULL, b);
	tu_write(f, "two");
	key_of(t, "in", NULL, c);
	tu_write(f, "one");
	key_of(t, "in", NULL, d);
	assert_string_not_equal(a, b);
	assert_string_not_equal(b, c);
	assert_string_equal(b, d); /* contents, not time stamps */
	free(f);
}

static void test_deps_hash_contents(void **state)
{
	const char *t = "name: p\nsteps:\n  s:\n    run: ./tool.sh > \"${outputs.o}\"\n"
			"    deps: [tool.sh]\n    outputs: [o]\n";
	char *f = tu_path(dir, "tool.sh");
	char a[65], b[65];

	(void)state;
	tu_write(f, "echo 1");
	key_of(t, "s", NULL, a);
	tu_write(f, "echo 2");
	key_of(t, "s", NULL, b);
	assert_string_not_equal(a, b);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_does_not_matter),
		cmocka_unit_test(test_option_order),
		cmocka_unit_test(test_definition_changes_key),
		cmocka_unit_test(test_params_change_only_users),
		cmocka_unit_test(test_inputs_change_key),
		cmocka_unit_test(test_path_option_hashes_contents),
		cmocka_unit_test(test_deps_hash_contents),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
