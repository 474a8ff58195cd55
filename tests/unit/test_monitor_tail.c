/*
 * The window a count read takes from the log's tail (newest segment first,
 * stopping once full) is the one a full forward scan keeps: the same
 * requests, labels and errors, on a log of several segments, compressed
 * and open, with a version change in the middle and feedback written in a
 * later segment than the request it labels. Each case also names the
 * requests it expects, so a read that loses records fails even where both
 * ways of reading would lose them alike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <zstd.h>

#include "core.h"
#include "monitor/live_int.h"
#include "testutil.h"

#define REQ(id, hms, ver, x) \
	"{\"id\":\"" id "\",\"time\":\"2026-11-30T" hms ".000Z\",\"model\":\"m\",\"version\":\"" ver \
	"\",\"endpoint\":\"v2\",\"status\":200,\"latency_us\":4,\"rows\":1,\"inputs\":[[" x "]]," \
	"\"outputs\":[[0.5]]}\n"
#define ERR(id, hms) \
	"{\"id\":\"" id "\",\"time\":\"2026-11-30T" hms ".000Z\",\"model\":\"m\",\"version\":\"1\"," \
	"\"endpoint\":\"v2\",\"status\":400,\"latency_us\":4,\"error\":\"bad\",\"body\":\"x\"}\n"
#define FB(hms, ids, labels) \
	"{\"id\":\"f\",\"time\":\"2026-11-30T" hms ".000Z\",\"model\":\"m\",\"version\":null," \
	"\"endpoint\":\"feedback\",\"status\":200,\"latency_us\":9,\"request_ids\":[" ids "]," \
	"\"labels\":[" labels "],\"unknown\":[]}\n"
#define SCHEMA(ver) \
	"{\"schema\":1,\"model\":\"m\",\"version\":\"" ver "\",\"inputs\":[\"x\"],\"outputs\":[\"score\"]}\n"

/* Oldest: version 1 only, compressed, last written at 10:10. */
static const char seg_a[] = SCHEMA("1") REQ("a1", "10:00:00", "1", "1") REQ("a2", "10:01:00", "1", "2")
	REQ("a3", "10:02:00", "1", "3") FB("10:02:30", "\"a2\"", "1") REQ("a4", "10:03:00", "1", "4")
	REQ("a5", "10:04:00", "1", "5") REQ("a6", "10:05:00", "1", "6") ERR("e1", "10:05:30");

/* Version 2 takes over in the middle; feedback for a5 (older segment). */
static const char seg_b[] = SCHEMA("1") REQ("b1", "10:11:00", "1", "7") REQ("b2", "10:12:00", "1", "8")
	SCHEMA("2") REQ("b3", "10:13:00", "2", "9") ERR("e2", "10:14:00") REQ("b4", "10:14:30", "2", "10")
	"{\"id\":\"o1\",\"time\":\"2026-11-30T10:15:00.000Z\",\"model\":\"mm\",\"version\":\"2\","
	"\"endpoint\":\"v2\",\"status\":200,\"latency_us\":4,\"rows\":1,\"inputs\":[[1]],\"outputs\":[[0]]}\n"
	REQ("b5", "10:15:00", "2", "11") FB("10:16:00", "\"a5\",\"b1\"", "1,0");

/* Newest, open: feedback for b4 and a correction for b1; a line a crash cut. */
static const char seg_c[] = SCHEMA("2") REQ("c1", "10:21:00", "2", "12") FB("10:21:30", "\"b4\",\"b1\"", "1,1")
	REQ("c2", "10:22:00", "2", "13") "{\"id\":\"c3\",\"time\":\"2026-11-30T10:2";

/* Another server's open segment, started before them all, written to late. */
static const char seg_d[] = FB("10:21:40", "\"c1\"", "0") ERR("e3", "10:21:45");

static time_t at(int h, int m)
{
	struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = 30, .tm_hour = h, .tm_min = m};
	return timegm(&tm);
}

static void put(const char *dir, const char *name, const char *text, bool zst, time_t mtime)
{
	char *path = tu_path(dir, name);
	size_t len = strlen(text), cap = ZSTD_compressBound(len);
	char *z = malloc(cap);
	struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};

	assert_non_null(z);
	if (zst) {
		size_t n = ZSTD_compress(z, cap, text, len, 3);
		assert_false(ZSTD_isError(n));
		assert_int_equal(sl__write_atomic(path, z, n), 0);
	} else {
		assert_int_equal(sl__write_atomic(path, text, len), 0);
	}
	assert_int_equal(utimes(path, tv), 0);
	free(z);
	free(path);
}

static int setup(void **state)
{
	const char *dir = tu_tmpdir();

	put(dir, "20261130T100000.000-aaaaaaaa-000000.jsonl.zst", seg_a, true, at(10, 10));
	put(dir, "20261130T101100.000-aaaaaaaa-000001.jsonl.zst", seg_b, true, at(10, 20));
	put(dir, "20261130T102100.000-aaaaaaaa-000002.jsonl", seg_c, false, time(NULL));
	put(dir, "20261130T095500.000-bbbbbbbb-000000.jsonl", seg_d, false, time(NULL));
	*state = (void *)dir;
	return 0;
}

static int teardown(void **state)
{
	tu_rmdir(*state);
	return 0;
}

/* Reads the window both ways, checks they agree and returns the tail's. */
static json_t *both(const char *dir, const char *version, size_t n)
{
	json_t *fwd = NULL, *back = NULL;

	assert_int_equal(mon_window_read(dir, "m", &(mon_window){.requests = n, .version = version}, true, &fwd), 0);
	assert_int_equal(mon_window_read(dir, "m", &(mon_window){.requests = n, .version = version}, false, &back), 0);
	if (!json_equal(fwd, back)) {
		char *a = json_dumps(fwd, JSON_SORT_KEYS), *b = json_dumps(back, JSON_SORT_KEYS);
		fail_msg("forward %s\ntail    %s", a, b);
	}
	json_decref(fwd);
	return back;
}

static void expect(json_t *got, const char *want)
{
	json_error_t e;
	json_t *w = json_loads(want, 0, &e);

	assert_non_null(w);
	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);
		fail_msg("got %s\nwant %s", g, want);
	}
	json_decref(w);
	json_decref(got);
}

static void test_newest_version(void **state)
{
	const char *dir = *state;

	/* Within the open segment; seg_b is still read (written to within
	 * the mtime slack of the window's start), seg_a is passed by, seg_d
	 * (older by name, written since) gives a label and an error. */
	expect(both(dir, NULL, 2),
	       "{\"version\":\"2\",\"ids\":[\"c1\",\"c2\"],\"labels\":{\"c1\":0},\"errors\":1}");
	/* Across the version change: feedback from the newer segment. */
	expect(both(dir, NULL, 4),
	       "{\"version\":\"2\",\"ids\":[\"b4\",\"b5\",\"c1\",\"c2\"],\"labels\":{\"b4\":1,\"c1\":0},\"errors\":1}");
	/* More than version 2 has: every segment read, nothing of version 1. */
	expect(both(dir, NULL, 100), "{\"version\":\"2\",\"ids\":[\"b3\",\"b4\",\"b5\",\"c1\",\"c2\"],"
				     "\"labels\":{\"b4\":1,\"c1\":0},\"errors\":2}");
}

static void test_older_version(void **state)
{
	const char *dir = *state;

	/* Version 1 spans two compressed segments; a5's label is in the next
	 * one, b1's is corrected in the open one; errors since a4 of any version. */
	expect(both(dir, "1", 5), "{\"version\":\"1\",\"ids\":[\"a4\",\"a5\",\"a6\",\"b1\",\"b2\"],"
				  "\"labels\":{\"a5\":1,\"b1\":1},\"errors\":3}");
	expect(both(dir, "1", 1000),
	       "{\"version\":\"1\",\"ids\":[\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\",\"b1\",\"b2\"],"
	       "\"labels\":{\"a2\":1,\"a5\":1,\"b1\":1},\"errors\":3}");
	expect(both(dir, "1", 2), "{\"version\":\"1\",\"ids\":[\"b1\",\"b2\"],\"labels\":{\"b1\":1},\"errors\":2}");
	expect(both(dir, "3", 5), "{\"version\":null,\"ids\":[],\"labels\":{},\"errors\":0}");
}

/* An empty or absent log is an empty window, not an error. */
static void test_no_log(void **state)
{
	char *dir = tu_path(*state, "none");

	expect(both(dir, NULL, 5), "{\"version\":null,\"ids\":[],\"labels\":{},\"errors\":0}");
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_newest_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_log, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
