/*
 * The content-addressed artifact store: ids are content hashes, puts are
 * deduplicated and atomic, verification catches missing and altered files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact/artifact.h"
#include "testutil.h"

static void test_put_buf_and_verify(void **state)
{
	const char *dir = tu_tmpdir();
	char id[SL__HASH_HEX_SIZE], id2[SL__HASH_HEX_SIZE];
	char *p;

	(void)state;
	assert_int_equal(art_put_buf(dir, "abc", 3, id), 0);
	assert_string_equal(id, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	p = art_path(dir, id);
	assert_non_null(strstr(p, "/ba/7816bf"));
	assert_true(art_exists(dir, id));
	assert_int_equal(art_verify(dir, id), 0);
	/* Deduplicated: the same contents give the same id, nothing new. */
	assert_int_equal(art_put_buf(dir, "abc", 3, id2), 0);
	assert_string_equal(id, id2);
	sl__free(p);
	tu_rmdir(dir);
}

static void test_put_file_moves(void **state)
{
	const char *dir = tu_tmpdir();
	char *src = tu_path(dir, "out.txt");
	char *src2 = tu_path(dir, "again.txt");
	char id[SL__HASH_HEX_SIZE], id2[SL__HASH_HEX_SIZE];
	uint64_t size = 0;
	struct stat st;
	char *p;

	(void)state;
	tu_write(src, "hello\n");
	assert_int_equal(art_put_file(dir, src, id, &size), 0);
	assert_int_equal(size, 6);
	assert_false(sl__is_file(src)); /* moved, not copied */
	p = art_path(dir, id);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0222, 0); /* stored read-only */
	tu_write(src2, "hello\n");
	assert_int_equal(art_put_file(dir, src2, id2, NULL), 0);
	assert_string_equal(id, id2);
	assert_false(sl__is_file(src2));
	sl__free(p);
	free(src);
	free(src2);
	tu_rmdir(dir);
}

static void test_verify_detects_damage(void **state)
{
	const char *dir = tu_tmpdir();
	char id[SL__HASH_HEX_SIZE];
	char *p;

	(void)state;
	assert_int_equal(art_put_buf(dir, "payload", 7, id), 0);
	p = art_path(dir, id);
	chmod(p, 0644);
	tu_write(p, "tampered");
	assert_int_equal(art_verify(dir, id), SL_ECORRUPT);
	assert_non_null(strstr(sl_errmsg(), "corrupt"));
	assert_non_null(strstr(sl_errmsg(), "239f59ed55e7")); /* names the artifact (prefix of its id) */
	unlink(p);
	assert_int_equal(art_verify(dir, id), SL_ENOENT);
	assert_int_equal(art_verify(dir, "nothex"), SL_EINVAL);
	sl__free(p);
	tu_rmdir(dir);
}

static void test_missing_source(void **state)
{
	const char *dir = tu_tmpdir();
	char *src = tu_path(dir, "nope");
	char id[SL__HASH_HEX_SIZE];

	(void)state;
	assert_int_equal(art_put_file(dir, src, id, NULL), SL_ENOENT);
	free(src);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_buf_and_verify),
		cmocka_unit_test(test_put_file_moves),
		cmocka_unit_test(test_verify_detects_damage),
		cmocka_unit_test(test_missing_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
