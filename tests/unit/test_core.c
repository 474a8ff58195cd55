/*
 * Core utilities: error table, buffers and their limits, SHA-256 and XXH3
 * against known vectors, atomic writes, path helpers, allocation failure
 * handling.
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
	assert_int_equal(sl__oom(), SL_ENOMEM);
	assert_string_equal(sl_errmsg(), "out of memory");
}

/*
 * XXH3_64bits against the published sanity vectors of xxHash: the input
 * is the first len bytes of a buffer whose byte i is the top byte of
 * 2654435761 * 11400714785074694797^i (mod 2^64). The lengths reach each
 * of XXH3's code paths (0, 1-3, 4-8, 9-16, 17-128, 129-240, > 240).
 */
static void test_xxh3_vectors(void **state)
{
	static const uint64_t p32 = 2654435761u, p64 = 11400714785074694797ull;
	static const struct {
		size_t len;
		uint64_t seed, want;
	} v[] = {
		{0, 0, 0x2D06800538D394C2ull},	 {0, p64, 0xA8A6B918B2F0364Aull},
		{1, 0, 0xC44BDFF4074EECDBull},	 {1, p64, 0x032BE332DD766EF8ull},
		{6, 0, 0x27B56A84CD2D7325ull},	 {6, p64, 0x84589C116AB59AB9ull},
		{12, 0, 0xA713DAF0DFBB77E7ull},	 {12, p64, 0xE7303E1B2336DE0Eull},
		{24, 0, 0xA3FE70BF9D3510EBull},	 {24, p64, 0x850E80FC35BDD690ull},
		{48, 0, 0x397DA259ECBA1F11ull},	 {48, p64, 0xADC2CBAA44ACC616ull},
		{80, 0, 0xBCDEFBBB2C47C90Aull},	 {80, p64, 0xC6DD0CB699532E73ull},
		{195, 0, 0xCD94217EE362EC3Aull}, {195, p64, 0xBA68003D370CB3D9ull},
		{403, 0, 0xCDEB804D65C6DEA4ull}, {403, p64, 0x6259F6ECFD6443FDull},
	};
	unsigned char buf[403];
	uint64_t g = p32;

	(void)state;
	for (size_t i = 0; i < sizeof buf; i++) {
		buf[i] = (unsigned char)(g >> 56);
		g *= p64;
	}
	for (size_t k = 0; k < SL__ARRAY_LEN(v); k++) {
		uint64_t got = v[k].seed ? sl__hash64_seed(buf, v[k].len, v[k].seed)
					 : sl__hash64(buf, v[k].len);
		if (got != v[k].want)
			fail_msg("XXH3 of %zu bytes, seed %llu: %016llx, expected %016llx", v[k].len,
				 (unsigned long long)v[k].seed, (unsigned long long)got,
				 (unsigned long long)v[k].want);
		/* Seed 0 is the unseeded function. */
		if (!v[k].seed)
			assert_true(sl__hash64_seed(buf, v[k].len, 0) == got);
	}
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
	assert_int_equal(sl__alloc_failures(), 2);
	/* Held off on this thread: allocations succeed and nothing is counted. */
	sl__alloc_inject_hold(true);
	char *kept = sl__strdup("y");
	sl__alloc_inject_hold(false);
	assert_non_null(kept);
	sl__free(kept);
	assert_int_equal(sl__alloc_failures(), 2);
	sl__alloc_fail_after(-1);
	assert_int_equal(sl__alloc_failures(), 0);
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
		cmocka_unit_test(test_xxh3_vectors),
		cmocka_unit_test(test_atomic_write_and_read),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_random_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
