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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "core.h"
#include "rng.h"
#include "monitor/live_int.h"
#include "monitor/logrec.h"
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

/*
 * ---- random logs: the tail read against the full forward scan ------------------------
 *
 * Three servers write one directory, one after another and at once (the
 * first dies with a record half copied, the third starts meanwhile); each
 * rotates its segments, closed ones compressed except each server's last
 * closed one; the open ones end with a line being written and the zeros
 * of their preallocation. Two models, two versions of m (the second taking
 * over in the middle), errors, and feedback for requests of any age (a
 * label corrected later, a request labelled twice in one record, labels
 * for requests of the other model). Record times wander up to 0.9 s
 * behind the order of writing (log.h: at most ILOG_ORDER_SLACK_MS);
 * feedback is never older than what it labels.
 */
#define RSERVERS 3
#define RMAX 1200

typedef struct rlog {
	const char *dir;
	sl__rng rng;
	int64_t clock;   /* ms */
	sl__buf seg[RSERVERS];
	char name[RSERVERS][128];
	int n_seg[RSERVERS], left[RSERVERS];
	bool schema[RSERVERS][4];
	char ids[RMAX][16];
	size_t n_ids;
} rlog;

static void rname(rlog *g, int srv)
{
	static const char *const inst[RSERVERS] = {"aaaaaaaa", "cccccccc", "bbbbbbbb"};
	time_t t = (time_t)(g->clock / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(g->name[srv], sizeof g->name[srv], "%04d%02d%02dT%02d%02d%02d.%03d-%s-%06d.jsonl",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(g->clock % 1000), inst[srv], g->n_seg[srv]++);
	memset(g->schema[srv], 0, sizeof g->schema[srv]);
	g->left[srv] = 20 + (int)sl__rng_below(&g->rng, 60);
}

/* Writes server srv's segment as it is now: closed (compressed or not), or open. */
static void rflush(rlog *g, int srv, bool open, bool zst)
{
	sl__buf *b = &g->seg[srv];

	if (open) {
		/* A line being written, then the rest of the chunk. */
		sl__buf_puts(b, "{\"id\":\"w\",\"time\":\"2026-11-30T1");
		for (int i = 0; i < 300; i++)
			sl__buf_putc(b, 0);
	}
	if (zst)
		strcat(g->name[srv], ".zst");
	{
		char *path = tu_path(g->dir, g->name[srv]);
		struct timeval tv[2];
		int64_t m = open ? (int64_t)time(NULL) * 1000 : g->clock + 1000;
		if (zst) {
			size_t cap = ZSTD_compressBound(b->len), n;
			char *z = malloc(cap);
			assert_non_null(z);
			n = ZSTD_compress(z, cap, b->data, b->len, 1);
			assert_false(ZSTD_isError(n));
			assert_int_equal(sl__write_atomic(path, z, n), 0);
			free(z);
		} else {
			assert_int_equal(sl__write_atomic(path, b->data, b->len), 0);
		}
		tv[0].tv_sec = tv[1].tv_sec = (time_t)(m / 1000);
		tv[0].tv_usec = tv[1].tv_usec = 0;
		assert_int_equal(utimes(path, tv), 0);
		free(path);
	}
	sl__buf_reset(b);
}

static void rtime(int64_t ms, char *buf)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	sprintf(buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* One record of server srv at the clock. */
static void rrecord(rlog *g, int srv, long i, bool v2_live)
{
	sl__buf *b = &g->seg[srv];
	uint64_t k = sl__rng_below(&g->rng, 100);
	/* Behind the order of writing, but feedback never before what it labels. */
	int64_t t = g->clock - (k < 70 && sl__rng_below(&g->rng, 4) == 0 ? (int64_t)sl__rng_below(&g->rng, 900) : 0);
	char when[32];

	rtime(t, when);
	if (k < 70) {
		const char *model = k < 55 ? "m" : "mm";
		const char *ver = k < 55 && v2_live && sl__rng_below(&g->rng, 3) ? "2" : "1";
		int s = (model[1] ? 2 : 0) + (ver[0] - '1');
		if (!g->schema[srv][s]) {
			sl__buf_printf(b, "{\"schema\":1,\"model\":\"%s\",\"version\":\"%s\",\"inputs\":[\"x\"],"
					  "\"outputs\":[\"score\"]}\n", model, ver);
			g->schema[srv][s] = true;
		}
		if (k >= 65) {
			sl__buf_printf(b, "{\"id\":\"e%ld\",\"time\":\"%s\",\"model\":\"%s\",\"version\":\"%s\","
					  "\"endpoint\":\"v2\",\"status\":%d,\"latency_us\":4,\"error\":\"bad\"}\n",
				       i, when, model, ver, k & 1 ? 400 : 503);
			return;
		}
		sl__buf_printf(b, "{\"id\":\"r%ld\",\"time\":\"%s\",\"model\":\"%s\",\"version\":\"%s\","
				  "\"endpoint\":\"v2\",\"status\":200,\"latency_us\":%d,\"rows\":1,"
				  "\"inputs\":[[%ld]],\"outputs\":[[0.%ld]]}\n",
			       i, when, model, ver, (int)k, i, i % 10);
		if (g->n_ids < RMAX)
			snprintf(g->ids[g->n_ids++], sizeof g->ids[0], "r%ld", i);
		return;
	}
	if (!g->n_ids)
		return;
	/* Feedback: for a recent request or one of any age, now and then two
	 * labels for one request in one record. */
	size_t a = k < 85 ? g->n_ids - 1 - sl__rng_below(&g->rng, g->n_ids < 20 ? g->n_ids : 20)
			  : sl__rng_below(&g->rng, g->n_ids);
	size_t c = sl__rng_below(&g->rng, g->n_ids);
	const char *model = k < 97 ? "m" : "mm";
	if (k % 5 == 0)
		sl__buf_printf(b, "{\"id\":\"f%ld\",\"time\":\"%s\",\"model\":\"%s\",\"version\":null,"
				  "\"endpoint\":\"feedback\",\"status\":200,\"latency_us\":9,"
				  "\"request_ids\":[\"%s\",\"%s\",\"%s\"],\"labels\":[%d,\"x%d\",%d],\"unknown\":[]}\n",
			       i, when, model, g->ids[a], g->ids[c], g->ids[a], (int)(k & 1), (int)k, (int)(k >> 1 & 1));
	else
		sl__buf_printf(b, "{\"id\":\"f%ld\",\"time\":\"%s\",\"model\":\"%s\",\"version\":null,"
				  "\"endpoint\":\"feedback\",\"status\":200,\"latency_us\":9,"
				  "\"request_ids\":[\"%s\"],\"labels\":[%d],\"unknown\":[]}\n",
			       i, when, model, g->ids[a], (int)(k & 1));
}

static void rlog_make(rlog *g, const char *dir, uint64_t seed, long n)
{
	bool alive[RSERVERS] = {true, false, false}, closed_zst[RSERVERS] = {false};

	memset(g, 0, sizeof *g);
	g->dir = dir;
	sl__rng_seed(&g->rng, seed);
	g->clock = (int64_t)at(10, 0) * 1000;
	for (int s = 0; s < RSERVERS; s++)
		sl__buf_init(&g->seg[s], 0);
	rname(g, 0);
	for (long i = 0; i < n; i++) {
		int srv;
		g->clock += 1 + (int64_t)sl__rng_below(&g->rng, 400);
		if (i == n / 3) {
			/* The first server dies with a record half copied; the
			 * second starts, and later a third beside it. */
			sl__buf_puts(&g->seg[0], "{\"id\":\"cut\",\"time\":\"2026-11-30T10:");
			for (int z = 0; z < 40; z++)
				sl__buf_putc(&g->seg[0], 0);
			rflush(g, 0, false, false);
			alive[0] = false;
			alive[1] = true;
			rname(g, 1);
		}
		if (i == n / 2) {
			alive[2] = true;
			rname(g, 2);
		}
		srv = alive[2] && sl__rng_below(&g->rng, 3) == 0 ? 2 : alive[1] ? 1 : 0;
		rrecord(g, srv, i, i > n / 2);
		if (--g->left[srv] == 0) {
			/* Rotation: the segment before the one closing now is compressed. */
			rflush(g, srv, false, closed_zst[srv]);
			closed_zst[srv] = true;
			rname(g, srv);
		}
	}
	rflush(g, 1, true, false);
	rflush(g, 2, true, false);
	for (int s = 0; s < RSERVERS; s++)
		sl__buf_free(&g->seg[s]);
}

static void same(const char *dir, const char *model, const mon_window *w)
{
	json_t *fwd = NULL, *back = NULL;

	assert_int_equal(mon_window_read(dir, model, w, true, &fwd), 0);
	assert_int_equal(mon_window_read(dir, model, w, false, &back), 0);
	if (!json_equal(fwd, back)) {
		char *a = json_dumps(fwd, JSON_SORT_KEYS), *b = json_dumps(back, JSON_SORT_KEYS);
		fail_msg("%s version %s, %zu requests, span %lld..%lld:\nforward %s\ntail    %s", model,
			 w->version ? w->version : "(newest)", w->requests, (long long)w->since_ms,
			 (long long)w->until_ms, a, b);
	}
	json_decref(fwd);
	json_decref(back);
}

static void test_random_logs(void **state)
{
	static const char *const versions[] = {NULL, "1", "2", "3"};
	static const size_t sizes[] = {1, 2, 7, 30, 100, 400, 5000};

	for (uint64_t seed = 1; seed <= 6; seed++) {
		char sub[32];
		rlog g;
		snprintf(sub, sizeof sub, "r%llu", (unsigned long long)seed);
		char *dir = tu_path(*state, sub);
		assert_int_equal(sl__mkdir_p(dir, 0777), 0);
		rlog_make(&g, dir, seed, 900);
		int64_t t0 = (int64_t)at(10, 0) * 1000, span = g.clock - t0;
		for (size_t v = 0; v < SL__ARRAY_LEN(versions); v++) {
			for (size_t k = 0; k < SL__ARRAY_LEN(sizes); k++) {
				same(dir, "m", &(mon_window){.requests = sizes[k], .version = versions[v]});
				if (v < 2)
					same(dir, "mm", &(mon_window){.requests = sizes[k], .version = versions[v]});
			}
			/* Time spans: the last minutes, one in the middle, one open at the start. */
			for (int q = 0; q < 4; q++) {
				int64_t a = t0 + span * q / 5, b = q == 3 ? 0 : t0 + span * (q + 2) / 5;
				same(dir, "m", &(mon_window){.since_ms = a, .until_ms = b, .version = versions[v]});
			}
			same(dir, "m", &(mon_window){.until_ms = t0 + span / 2, .version = versions[v]});
		}
		free(dir);
	}
}

/*
 * One server appending between passes: each pass carries the previous
 * one's window over and reads only what came since (live.c), and must
 * still give what a full forward scan gives, after every batch of
 * records, across rotations, with a copy under way at the end (a record
 * whose bytes are not all there yet, after a whole one) and passes that
 * find nothing new.
 */
static void test_carried_over(void **state)
{
	static const size_t sizes[] = {1, 7, 60};
	char *dir = tu_path(*state, "inc");
	rlog g;

	assert_int_equal(sl__mkdir_p(dir, 0777), 0);
	memset(&g, 0, sizeof g);
	g.dir = dir;
	sl__rng_seed(&g.rng, 42);
	g.clock = (int64_t)at(11, 0) * 1000;
	sl__buf_init(&g.seg[0], 0);
	rname(&g, 0);
	g.left[0] = 150;
	for (long i = 0, batch = 0; batch < 40; batch++) {
		long n = (long)sl__rng_below(&g.rng, batch % 7 == 3 ? 1 : 12);
		for (long k = 0; k < n; k++, i++) {
			g.clock += 1 + (int64_t)sl__rng_below(&g.rng, 400);
			rrecord(&g, 0, i, batch > 20);
			if (--g.left[0] == 0) {
				/* Rotation: closed and compressed at once. */
				char *open_path = tu_path(dir, g.name[0]);
				unlink(open_path);
				free(open_path);
				rflush(&g, 0, false, true);
				rname(&g, 0);
				g.left[0] = 150;
			}
		}
		/* The open segment as a reader finds it now; now and then a
		 * record still being copied before the last whole one. */
		char *path = tu_path(dir, g.name[0]);
		sl__buf f;
		sl__buf_init(&f, 0);
		sl__buf_append(&f, g.seg[0].data, g.seg[0].len);
		if (batch % 5 == 4) {
			sl__buf_puts(&f, "{\"id\":\"r9999\",\"time\":\"2026-11-30T11:");
			for (int z = 0; z < 30; z++)
				sl__buf_putc(&f, 0);
			sl__buf_puts(&f, "{\"id\":\"e9998\",\"time\":\"2026-11-30T11:00:00.000Z\",\"model\":\"m\","
					 "\"version\":\"1\",\"endpoint\":\"v2\",\"status\":400,\"latency_us\":4}\n");
		}
		sl__buf_puts(&f, "{\"id\":\"w\",\"ti");
		for (int z = 0; z < 200; z++)
			sl__buf_putc(&f, 0);
		assert_int_equal(sl__write_atomic(path, f.data, f.len), 0);
		sl__buf_free(&f);
		free(path);
		/* Seven windows: each keeps its pass (live.c keeps eight). */
		for (size_t k = 0; k < SL__ARRAY_LEN(sizes); k++) {
			same(dir, "m", &(mon_window){.requests = sizes[k]});
			same(dir, "m", &(mon_window){.requests = sizes[k], .version = "1"});
		}
		same(dir, "mm", &(mon_window){.requests = 40});
	}
	sl__buf_free(&g.seg[0]);
	free(dir);
}

/*
 * As a server leaves its files: the open segment grows in place (one file
 * all along), a closed one is cut to its records and compressed, at once
 * or later (left plain, waiting, beside the next one), and then unlinked;
 * several rotations may come between two passes. A pass that carried a
 * window over reads a segment compressed since from the file it kept open
 * (log.h, read_fd) and reads the newer segments whole: the windows must
 * still be the forward scan's.
 */
static void put_in_place(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "r+b");

	if (!f)
		f = fopen(path, "w+b");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fflush(f), 0);
	assert_int_equal(ftruncate(fileno(f), (off_t)len), 0);
	fclose(f);
}

static void compress_closed(const char *path, const sl__buf *text, int64_t clock)
{
	char *z = sl__asprintf("%s.zst", path);
	size_t cap = ZSTD_compressBound(text->len), n;
	char *buf = malloc(cap);
	struct timeval tv[2] = {{(time_t)(clock / 1000) + 1, 0}, {(time_t)(clock / 1000) + 1, 0}};

	assert_non_null(buf);
	n = ZSTD_compress(buf, cap, text->data, text->len, 1);
	assert_false(ZSTD_isError(n));
	assert_int_equal(sl__write_atomic(z, buf, n), 0);
	assert_int_equal(utimes(z, tv), 0);
	assert_int_equal(unlink(path), 0);
	free(buf);
	sl__free(z);
}

static void test_carried_in_place(void **state)
{
	static const size_t sizes[] = {1, 7, 60};
	char *dir = tu_path(*state, "inplace"), *waiting = NULL;
	sl__buf wait_text;
	rlog g;

	assert_int_equal(sl__mkdir_p(dir, 0777), 0);
	memset(&g, 0, sizeof g);
	g.dir = dir;
	sl__rng_seed(&g.rng, 7);
	g.clock = (int64_t)at(12, 0) * 1000;
	sl__buf_init(&g.seg[0], 0);
	sl__buf_init(&wait_text, 0);
	rname(&g, 0);
	g.left[0] = 25;
	for (long i = 0, batch = 0; batch < 60; batch++) {
		long n = (long)sl__rng_below(&g.rng, batch % 9 == 4 ? 90 : 12);
		for (long k = 0; k < n; k++, i++) {
			g.clock += 1 + (int64_t)sl__rng_below(&g.rng, 400);
			rrecord(&g, 0, i, batch > 30);
			if (--g.left[0])
				continue;
			/* Rotation: the segment is cut to its records in place; the
			 * one waiting before it is compressed first. */
			char *path = tu_path(dir, g.name[0]);
			put_in_place(path, g.seg[0].data, g.seg[0].len);
			if (waiting) {
				compress_closed(waiting, &wait_text, g.clock);
				free(waiting);
				waiting = NULL;
			}
			if (sl__rng_below(&g.rng, 2)) {
				compress_closed(path, &g.seg[0], g.clock);
				free(path);
			} else {
				waiting = path;
				sl__buf_reset(&wait_text);
				sl__buf_append(&wait_text, g.seg[0].data, g.seg[0].len);
			}
			sl__buf_reset(&g.seg[0]);
			rname(&g, 0);
			g.left[0] = 25;
		}
		if (waiting && sl__rng_below(&g.rng, 3) == 0) {
			compress_closed(waiting, &wait_text, g.clock);
			free(waiting);
			waiting = NULL;
		}
		/* The open segment in place: a line being written, the chunk's zeros. */
		char *path = tu_path(dir, g.name[0]);
		sl__buf f;
		sl__buf_init(&f, 0);
		sl__buf_append(&f, g.seg[0].data, g.seg[0].len);
		sl__buf_puts(&f, "{\"id\":\"w\",\"ti");
		for (int z = 0; z < 200; z++)
			sl__buf_putc(&f, 0);
		put_in_place(path, f.data, f.len);
		sl__buf_free(&f);
		free(path);
		for (size_t k = 0; k < SL__ARRAY_LEN(sizes); k++) {
			same(dir, "m", &(mon_window){.requests = sizes[k]});
			same(dir, "m", &(mon_window){.requests = sizes[k], .version = "1"});
		}
		same(dir, "mm", &(mon_window){.requests = 40});
	}
	free(waiting);
	sl__buf_free(&wait_text);
	sl__buf_free(&g.seg[0]);
	free(dir);
}

/*
 * ---- the decoder: the pull scanner's window is the jansson one -----------------------------
 *
 * A random log of multi-row requests whose cells are every kind of JSON
 * scalar (integers and reals of every spelling, -0, a subnormal, the
 * largest integers, strings with and without escapes, timestamps, bools,
 * nulls, arrays, numbers jansson refuses), under two schemas that order
 * the columns differently and lack some of the window's, with now and
 * then a record of another shape (another key, a row too short, rows that
 * disagree with "rows", an escaped id, no outputs). The window's tables
 * (raw columns typed as a bundle types them, outputs, labels, latency
 * and span) must be the same bit for bit read forward through jansson,
 * read from the tail by the scanner, and read from the tail with every
 * record through jansson.
 */
static const char *const plain_cells[] = {"1", "-0", "0", "2.5", "2.0", "-3e2", "0.1", "1E5", "-7",
					  "true", "false", "null", "\"x\"", "\"2026-11-30T10:00:00Z\""};
static const char *const odd_cells[] = {
	"1e-320", "123456789012345678", "-123456789012345678", "1234567890123456789",
	"99999999999999999999", "\"2026-11-30 10:00:00.5\"", "\"caf\xc3\xa9\"", "\"q\\\"q\"",
	"\"\\u00e9\"", "[1]", "{}", "\"\"", "1e400", "4.0e0", "-0.0", "1.5e300"};
static const char *const out_cells[] = {"0.25", "1", "-0", "null", "1e-320", "0.5", "\"x\"", "3"};

static const char *rcell(sl__rng *g)
{
	if (sl__rng_below(g, 100) < 80)
		return plain_cells[sl__rng_below(g, SL__ARRAY_LEN(plain_cells))];
	return odd_cells[sl__rng_below(g, SL__ARRAY_LEN(odd_cells))];
}

static void drecord(sl__buf *b, sl__rng *g, long i, int64_t clock, const char *ver, int n_in)
{
	int64_t t = clock - (sl__rng_below(g, 4) == 0 ? (int64_t)sl__rng_below(g, 900) : 0);
	uint64_t odd = sl__rng_below(g, 40);
	int rows = 1 + (int)sl__rng_below(g, 3);
	char when[32];

	rtime(t, when);
	sl__buf_printf(b, "{\"id\":\"%sr%ld\",\"time\":\"%s\",\"model\":\"m\",\"version\":\"%s\","
			  "\"endpoint\":\"v2\",\"status\":200,\"latency_us\":%s,\"rows\":%d,",
		       odd == 0 ? "\\u0078" : "", i, when, ver, odd == 1 ? "4.5" : odd == 2 ? "7" : "12",
		       rows + (odd == 3));
	if (odd == 4)
		sl__buf_puts(b, "\"extra\":{\"a\":[1]},");
	sl__buf_puts(b, "\"inputs\":[");
	for (int r = 0; r < rows; r++) {
		sl__buf_puts(b, r ? ",[" : "[");
		for (int j = 0; j < n_in - (odd == 5 && r == rows - 1); j++)
			sl__buf_printf(b, "%s%s", j ? "," : "", rcell(g));
		sl__buf_puts(b, "]");
	}
	sl__buf_puts(b, "]");
	if (odd != 6) {
		sl__buf_puts(b, ",\"outputs\":[");
		for (int r = 0; r < rows; r++)
			sl__buf_printf(b, "%s[\"spam\",%s,%s]", r ? "," : "",
				       out_cells[sl__rng_below(g, SL__ARRAY_LEN(out_cells))],
				       out_cells[sl__rng_below(g, SL__ARRAY_LEN(out_cells))]);
		sl__buf_puts(b, "]");
	}
	sl__buf_puts(b, "}\n");
}

/* Version 1's schema lacks h; 2's orders the columns the other way and lacks c. */
#define DSCHEMA1 \
	"{\"schema\":1,\"model\":\"m\",\"version\":\"1\",\"inputs\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"g\"]," \
	"\"outputs\":[\"predict\",\"p0\",\"p1\"]}\n"
#define DSCHEMA2 \
	"{\"schema\":1,\"model\":\"m\",\"version\":\"2\",\"inputs\":[\"h\",\"g\",\"e\",\"d\",\"b\",\"a\"]," \
	"\"outputs\":[\"predict\",\"p1\",\"p0\"]}\n"

static void dlog_make(const char *dir, uint64_t seed, long n)
{
	sl__rng g;
	sl__buf b;
	int64_t clock = (int64_t)at(10, 0) * 1000;
	char name[128], ids[64][16];
	size_t n_ids = 0;

	sl__rng_seed(&g, seed);
	sl__buf_init(&b, 0);
	for (int seg = 0; seg < 2; seg++) {
		time_t st = (time_t)(clock / 1000);
		struct tm tm;
		gmtime_r(&st, &tm);
		snprintf(name, sizeof name, "20261130T%02d%02d%02d.%03d-aaaaaaaa-%06d.jsonl%s", tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (int)(clock % 1000), seg, seg ? "" : ".zst");
		sl__buf_puts(&b, DSCHEMA1 DSCHEMA2);
		for (long i = seg * n / 2; i < (seg + 1) * n / 2; i++) {
			clock += 1 + (int64_t)sl__rng_below(&g, 400);
			if (sl__rng_below(&g, 5) == 0 && n_ids) {
				/* Feedback: one label, or one per row. */
				char when[32];
				rtime(clock, when);
				const char *id = ids[sl__rng_below(&g, n_ids)];
				sl__buf_printf(&b, "{\"id\":\"f%ld\",\"time\":\"%s\",\"model\":\"m\",\"version\":null,"
						   "\"endpoint\":\"feedback\",\"status\":200,\"latency_us\":9,"
						   "\"request_ids\":[\"%s\"],\"labels\":[%s]}\n",
					       i, when, id, sl__rng_below(&g, 2) ? "\"spam\"" : "[1,null,\"0\"]");
				continue;
			}
			const char *ver = i > n / 3 && sl__rng_below(&g, 2) ? "2" : "1";
			drecord(&b, &g, i, clock, ver, 6);
			snprintf(ids[n_ids % 64], sizeof ids[0], "r%ld", i);
			n_ids += n_ids < 64;
		}
		put(dir, name, b.data, seg == 0, seg ? time(NULL) : (time_t)(clock / 1000) + 1);
		sl__buf_reset(&b);
	}
	sl__buf_free(&b);
}

static void same_tables(const char *dir, const mon_window *w)
{
	static const char *const names[] = {"g", "a", "b", "c", "d", "e", "f", "h"};
	static const ds_type types[] = {DS_STRING, DS_FLOAT64, DS_INT64, DS_STRING,
					DS_BOOL,   DS_TIMESTAMP, DS_FLOAT64, DS_INT64};
	static const char *const outs[] = {"p1", "zz", "p0"};
	json_t *got[3] = {NULL, NULL, NULL};
	static const char *const how[] = {"forward, jansson", "tail, scanner", "tail, jansson"};

	for (int k = 0; k < 3; k++) {
		mon_decode_jansson = k == 2;
		assert_int_equal(mon_window_tables(dir, "m", w, k == 0, SL__ARRAY_LEN(names), names, types,
						   SL__ARRAY_LEN(outs), outs, &got[k]),
				 0);
		mon_decode_jansson = false;
	}
	for (int k = 1; k < 3; k++)
		if (!json_equal(got[0], got[k])) {
			char *a = json_dumps(got[0], JSON_SORT_KEYS), *b = json_dumps(got[k], JSON_SORT_KEYS);
			fail_msg("version %s, %zu requests:\n%s %s\n%s %s", w->version ? w->version : "(newest)",
				 w->requests, how[0], a, how[k], b);
		}
	/* The window holds values: a read that lost them all would agree too. */
	assert_true(json_integer_value(json_object_get(got[0], "rows")) > 0);
	for (int k = 0; k < 3; k++)
		json_decref(got[k]);
}

static void test_decode_random(void **state)
{
	static const size_t sizes[] = {1, 5, 40, 300, 5000};
	static const char *const versions[] = {NULL, "1", "2"};

	for (uint64_t seed = 1; seed <= 4; seed++) {
		char sub[32];
		snprintf(sub, sizeof sub, "d%llu", (unsigned long long)seed);
		char *dir = tu_path(*state, sub);
		assert_int_equal(sl__mkdir_p(dir, 0777), 0);
		dlog_make(dir, seed, 700);
		for (size_t v = 0; v < SL__ARRAY_LEN(versions); v++)
			for (size_t k = 0; k < SL__ARRAY_LEN(sizes); k++)
				same_tables(dir, &(mon_window){.requests = sizes[k], .version = versions[v]});
		free(dir);
	}
}

/* The scanner takes the writer's shape itself and leaves the rest to jansson (logrec.h). */
#define MV "\"model\":\"m\",\"version\":\"1\","
static void test_decode_shapes(void **state)
{
	json_error_t e;
	json_t *schema = json_loads("{\"schema\":1,\"model\":\"m\",\"version\":\"1\",\"inputs\":[\"a\",\"b\"],"
				    "\"outputs\":[\"predict\",\"p\"]}", 0, &e);
	json_t *dup = json_loads("{\"schema\":1,\"model\":\"m\",\"version\":\"1\",\"inputs\":[\"a\",\"a\"],"
				 "\"outputs\":[\"predict\",\"p\"]}", 0, &e);
	static const struct {
		const char *line;
		int want; /* 0 skipped, 1 decoded, 2 through jansson */
	} cases[] = {
		{"{\"id\":\"r1\",\"time\":\"2026-11-30T10:00:00.250Z\",\"model\":\"m\",\"version\":\"1\","
		 "\"endpoint\":\"v2\",\"status\":200,\"latency_us\":7,\"rows\":2,\"inputs\":[[1,\"s\"],[-0,null]],"
		 "\"outputs\":[[\"x\",0.5],[\"y\",2]]}", 1},
		{"{\"id\":\"r\\u0031\",\"time\":\"2026-11-30T10:00:00Z\"," MV "\"rows\":1,\"inputs\":[[1,2]],"
		 "\"outputs\":[[0,1]]}", 2},
		{"{\"id\":\"r1\",\"time\":\"2026-11-30T10:00:00Z\"," MV "\"rows\":1,\"inputs\":[[1,\"\\n\"]],"
		 "\"outputs\":[[0,1]]}", 2},
		{"{\"id\":\"r1\",\"time\":\"2026-11-30T10:00:00Z\"," MV "\"rows\":1,\"inputs\":[[1,2]],"
		 "\"outputs\":[[0,1]],\"more\":1}", 2},
		{"{\"id\":\"r1\",\"time\":\"2026-11-30T10:00:00Z\"," MV "\"rows\":1,\"inputs\":[[1]],"
		 "\"outputs\":[[0,1]]}", 0},
		{"{\"id\":\"r1\",\"time\":\"2026-11-30T10:00:00Z\"," MV "\"rows\":1,\"inputs\":[[1,1e400]],"
		 "\"outputs\":[[0,1]]}", 0},
		{"{\"id\":\"r1\",\"time\":\"2026-11-30T10:00:00Z\"," MV "\"rows\":1,\"inputs\":{\"a\":[1],\"b\":[2]}}", 2},
		{"{\"id\":\"r1\",\"time\":\"2026-11-30T10:00:00Z\"," MV "\"rows\":1,\"inputs\":[[1,2]],"
		 "\"outputs\":[[0,1]]} x", 0},
	};
	lrec_scratch sc = {0};

	assert_non_null(schema);
	assert_non_null(dup);
	for (size_t i = 0; i < SL__ARRAY_LEN(cases); i++) {
		lrec *r = NULL;
		assert_int_equal(lrec_decode(cases[i].line, strlen(cases[i].line), schema, &sc, true, &r), 0);
		if (cases[i].want == 0) {
			assert_null(r);
			continue;
		}
		if (!r)
			fail_msg("case %zu skipped", i);
		assert_non_null(r);
		assert_int_equal(r->json != NULL, cases[i].want == 2);
		assert_string_equal(r->id, "r1");
		if (i == 0) {
			assert_int_equal(r->rows, 2);
			assert_int_equal(r->latency_us, 7);
			assert_int_equal(r->t_ms % 1000, 250);
			assert_int_equal(r->in[0].kind, LREC_INT);
			assert_int_equal(r->in[1].kind, LREC_STR);
			assert_memory_equal(r->in[1].u.s, "s", 1);
			assert_int_equal(r->in[2].kind, LREC_INT);
			assert_int_equal(r->in[2].u.i, 0);
			assert_int_equal(r->in[3].kind, LREC_NULL);
			assert_true(isnan(r->out[0]));
			assert_true(r->out[1] == 0.5 && r->out[3] == 2);
		}
		lrec_unref(r);
	}
	/* A schema whose names repeat is left to jansson too. */
	lrec *r = NULL;
	assert_int_equal(lrec_decode(cases[0].line, strlen(cases[0].line), dup, &sc, true, &r), 0);
	assert_non_null(r);
	assert_non_null(r->json);
	lrec_unref(r);
	lrec_scratch_free(&sc);
	json_decref(schema);
	json_decref(dup);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_newest_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_carried_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_carried_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_random, setup, teardown),
		cmocka_unit_test(test_decode_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
