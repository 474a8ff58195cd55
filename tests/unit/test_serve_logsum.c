/*
 * The serving summary of model versions from the inference log: requests
 * counted per model@version by status class, with the first and the last;
 * only predictions count (not feedback, not load); damaged and torn lines
 * are passed over; a key without a model finds every model that served
 * the version; a budget smaller than the log reads the newest segments and
 * counts exactly the records from the oldest one's start on.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"
#include "serve/logsum.h"
#include "testutil.h"

static const char seg_a[] =
	"{\"schema\":1,\"model\":\"spam\",\"version\":\"1\",\"inputs\":[\"x\"],\"outputs\":[\"p\"]}\n"
	"{\"id\":\"a1\",\"time\":\"2026-11-30T10:00:01.000Z\",\"model\":\"spam\",\"version\":\"1\","
	"\"endpoint\":\"v2\",\"status\":200,\"latency_us\":4,\"rows\":1,\"inputs\":[[1]],\"outputs\":[[0]]}\n"
	"{\"id\":\"a2\",\"time\":\"2026-11-30T10:00:02.000Z\",\"model\":\"sp\\u0061m\",\"version\":\"1\","
	"\"endpoint\":\"invocations\",\"status\":200,\"latency_us\":4,\"rows\":1,\"inputs\":[[1]],\"outputs\":[[0]]}\n"
	"{\"id\":\"a3\",\"time\":\"2026-11-30T10:00:03.000Z\",\"model\":\"spam\",\"version\":\"1\","
	"\"endpoint\":\"v2\",\"status\":400,\"latency_us\":4,\"error\":\"bad\",\"body\":\"x\"}\n"
	"{\"id\":\"a4\",\"time\":\"2026-11-30T10:00:04.000Z\",\"model\":\"spam\",\"version\":null,"
	"\"endpoint\":\"feedback\",\"status\":200,\"latency_us\":4,\"request_ids\":[\"a1\"],\"labels\":[1],\"unknown\":[]}\n"
	"{\"id\":\"a5\",\"time\":\"2026-11-30T10:00:05.000Z\",\"model\":\"spam\",\"version\":\"1\","
	"\"endpoint\":\"load\",\"status\":200,\"latency_us\":4}\n"
	"{\"id\":\"a6\",\"time\":\"2026-11-30T10:0\n"
	"{\"id\":\"a7\",\"time\":\"2026-11-30T10:00:07.000Z\",\"model\":\"spam\",\"version\":\"1\","
	"\"endpoint\":\"v2\",\"status\":200,\"lat";

static const char seg_b[] =
	"{\"id\":\"b1\",\"time\":\"2026-11-30T11:00:05.000Z\",\"model\":\"spam\",\"version\":\"1\","
	"\"endpoint\":\"v2\",\"status\":200,\"latency_us\":4,\"rows\":1,\"inputs\":[[1]],\"outputs\":[[0]]}\n"
	"{\"id\":\"b2\",\"time\":\"2026-11-30T11:00:06.000Z\",\"model\":\"spam\",\"version\":\"1\","
	"\"endpoint\":\"v2\",\"status\":503,\"latency_us\":4,\"error\":\"log full\",\"body\":\"x\"}\n"
	"{\"id\":\"b3\",\"time\":\"2026-11-30T11:00:07.000Z\",\"model\":\"spam\",\"version\":\"2\","
	"\"endpoint\":\"v2\",\"status\":200,\"latency_us\":4,\"rows\":1,\"inputs\":[[1]],\"outputs\":[[0]]}\n"
	"{\"id\":\"b4\",\"time\":\"2026-11-30T11:00:08.000Z\",\"model\":\"copy\",\"version\":\"abcdef012345\","
	"\"endpoint\":\"v2\",\"status\":200,\"latency_us\":4,\"rows\":1,\"inputs\":[[1]],\"outputs\":[[0]]}\n"
	"{\"id\":\"b5\",\"time\":\"2026-11-30T11:00:09.000Z\",\"model\":\"other\",\"version\":\"abcdef012345\","
	"\"endpoint\":\"v2\",\"status\":200,\"latency_us\":4,\"rows\":1,\"inputs\":[[1]],\"outputs\":[[0]]}\n";

static char *write_seg(const char *dir, const char *name, const char *text)
{
	char *path = sl__path_join(dir, name);

	assert_non_null(path);
	assert_int_equal(sl__write_atomic(path, text, strlen(text)), 0);
	return path;
}

/* The entry of (model, version) in a summary, or NULL. */
static json_t *entry(json_t *sum, const char *model, const char *version)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(sum, "served"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "model")), model) &&
		    !strcmp(json_string_value(json_object_get(e, "version")), version))
			return e;
	return NULL;
}

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void test_summary(void **state)
{
	const char *dir = tu_tmpdir();
	char *a, *b, *missing;
	serve_sumkey keys[] = {{"spam", "1"}, {NULL, "abcdef012345"}, {"ghost", "9"}};
	struct stat st;
	json_t *sum, *e;

	(void)state;
	a = write_seg(dir, "20261130T100000-aaaaaaaa-000000.jsonl", seg_a);
	b = write_seg(dir, "20261130T110000-aaaaaaaa-000001.jsonl", seg_b);

	/* The whole log. */
	assert_int_equal(serve_log_summary(dir, 0, keys, 3, &sum), 0);
	assert_true(json_is_true(json_object_get(sum, "complete")));
	assert_true(json_is_null(json_object_get(sum, "since")));
	assert_int_equal(json_array_size(json_object_get(sum, "served")), 4);
	e = entry(sum, "spam", "1");
	assert_non_null(e);
	/* a1, a2 (escaped name), a3 (400), b1, b2 (503); not the feedback, the
	 * load, the torn or the damaged line, nor version 2. */
	assert_int_equal(num(e, "requests"), 5);
	assert_int_equal(num(json_object_get(e, "status"), "2xx"), 3);
	assert_int_equal(num(json_object_get(e, "status"), "4xx"), 1);
	assert_int_equal(num(json_object_get(e, "status"), "5xx"), 1);
	assert_int_equal(json_object_size(json_object_get(e, "status")), 3);
	assert_string_equal(str(e, "first"), "2026-11-30T10:00:01.000Z");
	assert_string_equal(str(e, "last"), "2026-11-30T11:00:06.000Z");
	/* A key without a model: every model that served the version. */
	assert_int_equal(num(entry(sum, "copy", "abcdef012345"), "requests"), 1);
	assert_int_equal(num(entry(sum, "other", "abcdef012345"), "requests"), 1);
	/* A key with a model is listed without requests. */
	e = entry(sum, "ghost", "9");
	assert_non_null(e);
	assert_int_equal(num(e, "requests"), 0);
	assert_true(json_is_null(json_object_get(e, "first")));
	assert_null(entry(sum, "spam", "2"));
	json_decref(sum);

	/* A budget the newest segment alone fits: from its start on, exactly. */
	assert_int_equal(stat(b, &st), 0);
	assert_int_equal(serve_log_summary(dir, (uint64_t)st.st_size, keys, 1, &sum), 0);
	assert_true(json_is_false(json_object_get(sum, "complete")));
	assert_string_equal(str(sum, "since"), "2026-11-30T11:00:00.000Z");
	assert_int_equal(num(sum, "segments"), 1);
	e = entry(sum, "spam", "1");
	assert_int_equal(num(e, "requests"), 2);
	assert_string_equal(str(e, "first"), "2026-11-30T11:00:05.000Z");
	assert_null(json_object_get(json_object_get(e, "status"), "4xx"));
	json_decref(sum);

	/* No log yet: nothing served, and no error. */
	missing = sl__path_join(dir, "none");
	assert_int_equal(serve_log_summary(missing, 0, keys, 3, &sum), 0);
	assert_int_equal(num(entry(sum, "spam", "1"), "requests"), 0);
	assert_null(entry(sum, "copy", "abcdef012345"));
	assert_true(json_is_true(json_object_get(sum, "complete")));
	json_decref(sum);

	free(missing);
	free(a);
	free(b);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
