/*
 * Core utilities: error table, buffers and their limits, SHA-256 against
 * known vectors, atomic writes, path helpers, allocation failure handling.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"
#include "testutil.h"

static void test_error_table(void **state)
{
	(void)state;
	assert_string_equal(sl_err_name(SL_ENOENT), "SL_ENOENT");
	assert_string_equal(sl_strerror(SL_ENOMEM), "out of memory");
	assert_string_equal(sl_err_name(12345), "SL_EUNKNOWN");
	assert_int_equal(sl__err(SL_EIO, "disk %d", 7), SL_EIO);
	assert_string_equal(sl_errmsg(), "disk 7");
	sl__err_prefix(SL_EIO, "reading %s", "x");
	assert_string_equal(sl_errmsg(), "reading x: disk 7");
}

static void test_buf_limit(void **state)
{
	sl__buf b;

	(void)state;
	sl__buf_init(&b, 10);
	assert_int_equal(sl__buf_puts(&b, "hello"), 0);
	assert_int_equal(sl__buf_printf(&b, "%d", 1234), 0);
	assert_string_equal(b.data, "hello1234");
	assert_int_equal(sl__buf_puts(&b, "xy"), SL_ELIMIT);
	assert_string_equal(b.data, "hello1234");
	assert_int_equal(sl__buf_putc(&b, '!'), 0);
	assert_int_equal(b.len, 10);
	sl__buf_free(&b);
}

static void test_sha256_vectors(void **state)
{
	char hex[SL__HASH_HEX_SIZE];

	(void)state;
	assert_int_equal(sl__sha256_hex("", 0, hex), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(sl__sha256_hex("abc", 3, hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_atomic_write_and_read(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "a/b/file.txt");
	char *sub = tu_path(dir, "a/b");
	char hex[SL__HASH_HEX_SIZE];
	uint64_t size = 0;
	sl__buf b;

	(void)state;
	assert_int_equal(sl__mkdir_p(sub, 0755), 0);
	assert_int_equal(sl__write_atomic(path, "abc", 3), 0);
	assert_int_equal(sl__write_atomic(path, "abc", 3), 0); /* replaces */
	assert_int_equal(sl__read_file(path, 0, &b), 0);
	assert_string_equal(b.data, "abc");
	sl__buf_free(&b);
	assert_int_equal(sl__read_file(path, 2, &b), SL_ELIMIT);
	assert_int_equal(sl__sha256_file(path, hex, &size), 0);
	assert_int_equal(size, 3);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(sl__read_file("/nonexistent/x", 0, &b), SL_ENOENT);
	free(path);
	free(sub);
	tu_rmdir(dir);
}

static void test_paths(void **state)
{
	char *p;

	(void)state;
	p = sl__path_abs("/a/./b//c/../d");
	assert_string_equal(p, "/a/b/d");
	sl__free(p);
	p = sl__path_dir("x/y/z.txt");
	assert_string_equal(p, "x/y");
	sl__free(p);
	p = sl__path_dir("z.txt");
	assert_string_equal(p, ".");
	sl__free(p);
	p = sl__path_join("/a/", "b");
	assert_string_equal(p, "/a/b");
	sl__free(p);
}

static void test_alloc_failure(void **state)
{
	sl__buf b;

	(void)state;
	sl__buf_init(&b, 0);
	sl__alloc_fail_after(0);
	assert_int_equal(sl__buf_puts(&b, "x"), SL_ENOMEM);
	assert_null(sl__strdup("x"));
	sl__alloc_fail_after(-1);
	assert_int_equal(sl__buf_puts(&b, "x"), 0);
	sl__buf_free(&b);
}

static void test_parse_numbers(void **state)
{
	int64_t i;
	double d;

	(void)state;
	assert_true(sl__parse_i64("-42", &i) && i == -42);
	assert_false(sl__parse_i64("42x", &i));
	assert_false(sl__parse_i64("", &i));
	assert_true(sl__parse_f64("1e3", &d) && d == 1000.0);
	assert_false(sl__parse_f64("1e999", &d));
}

static void test_random_hex(void **state)
{
	char a[13], b[13];

	(void)state;
	assert_int_equal(sl__random_hex(a, 12), 0);
	assert_int_equal(sl__random_hex(b, 12), 0);
	assert_int_equal(strlen(a), 12);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_atomic_write_and_read),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_random_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
