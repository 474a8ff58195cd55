/*
 * One monitoring window read from a large inference log: the newest N
 * requests of the served version, read from the log's tail (what `sluice
 * monitor report` and the server's drift gauges do) against the full
 * forward scan (mon_window_read's forward mode: the reference the tail
 * must equal): a first pass, the next with nothing new (the pass carried
 * over), and one after APPEND more requests reached the open segment.
 * The log is spambase-wide (57 inputs, 2 outputs), with feedback for half
 * of the requests and a version change near its end; closed segments
 * compressed as the server leaves them.
 *
 *   monitor_tail_bench DIR RECORDS SEGMENT_BYTES WINDOW REPEATS APPEND
 * prints one JSON line: wall and CPU ms of each (the fastest of REPEATS
 * for the full scan and the pass with nothing new).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>
#include <zstd.h>

#include "core.h"
#include "monitor/live_int.h"

#define P 57

static double now_ms(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "monitor_tail_bench: %s\n", what);
	exit(2);
}

static void close_seg(const char *dir, const char *name, sl__buf *b, bool zst, time_t mtime)
{
	char path[4096];
	struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};

	snprintf(path, sizeof path, "%s/%s%s", dir, name, zst ? ".zst" : "");
	if (zst) {
		size_t cap = ZSTD_compressBound(b->len), n;
		char *z = malloc(cap);
		if (!z || ZSTD_isError(n = ZSTD_compress(z, cap, b->data, b->len, 3)) ||
		    sl__write_atomic(path, z, n))
			die("cannot write a segment");
		free(z);
	} else if (sl__write_atomic(path, b->data, b->len)) {
		die("cannot write a segment");
	}
	utimes(path, tv);
	sl__buf_reset(b);
}

/* The log of n requests; the last hold of them go to *held instead (appended later). */
static void make_log(const char *dir, long n, size_t seg_bytes, long hold, sl__buf *held, char *open_name)
{
	sl__buf b, *to = &b;
	char name[128], line[4096];
	time_t t0 = time(NULL) - n / 100 - 60, t = t0, seg_t = t0;
	unsigned long long x = 88172645463325252ull;
	int seg = 0, vseen[3] = {0, 0, 0};

	mkdir(dir, 0777);
	sl__buf_init(&b, 0);
	for (long i = 0; i < n; i++) {
		const char *ver = i < n * 9 / 10 ? "1" : "2";
		int v = ver[0] - '0', k;
		struct tm tm;
		t = t0 + i / 100;
		if (i == n - hold)
			to = held;
		if (!vseen[v]) {
			k = snprintf(line, sizeof line, "{\"schema\":1,\"model\":\"spam\",\"version\":\"%s\",\"inputs\":[", ver);
			for (int j = 0; j < P; j++)
				k += snprintf(line + k, sizeof line - k, "%s\"f%d\"", j ? "," : "", j);
			k += snprintf(line + k, sizeof line - k, "],\"outputs\":[\"predict\",\"proba\"]}\n");
			sl__buf_append(to, line, (size_t)k);
			vseen[v] = 1;
		}
		gmtime_r(&t, &tm);
		k = snprintf(line, sizeof line,
			     "{\"id\":\"r%ld\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"model\":\"spam\","
			     "\"version\":\"%s\",\"endpoint\":\"v2\",\"status\":200,\"latency_us\":41,\"rows\":1,"
			     "\"inputs\":[[",
			     i, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     (i % 100) * 10, ver);
		for (int j = 0; j < P; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			k += snprintf(line + k, sizeof line - k, "%s%.4g", j ? "," : "", (double)(x % 100000) / 997.0);
		}
		k += snprintf(line + k, sizeof line - k, "]],\"outputs\":[[%d,%.6f]]}\n", (int)(x & 1),
			      (double)(x % 1000) / 1000);
		sl__buf_append(to, line, (size_t)k);
		if (i % 2 == 1) {
			k = snprintf(line, sizeof line,
				     "{\"id\":\"f%ld\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.000Z\",\"model\":\"spam\","
				     "\"version\":null,\"endpoint\":\"feedback\",\"status\":200,\"latency_us\":90,"
				     "\"request_ids\":[\"r%ld\"],\"labels\":[%d],\"unknown\":[]}\n",
				     i, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
				     tm.tm_sec, i - 1, (int)(x >> 5 & 1));
			sl__buf_append(to, line, (size_t)k);
		}
		if (b.len >= seg_bytes) {
			struct tm st;
			gmtime_r(&seg_t, &st);
			snprintf(name, sizeof name, "%04d%02d%02dT%02d%02d%02d.000-00c0ffee-%06d.jsonl",
				 st.tm_year + 1900, st.tm_mon + 1, st.tm_mday, st.tm_hour, st.tm_min,
				 st.tm_sec, seg++);
			close_seg(dir, name, &b, true, t);
			seg_t = t + 1;
			vseen[1] = vseen[2] = 0;
		}
	}
	struct tm st;
	gmtime_r(&seg_t, &st);
	snprintf(name, sizeof name, "%04d%02d%02dT%02d%02d%02d.000-00c0ffee-%06d.jsonl", st.tm_year + 1900,
		 st.tm_mon + 1, st.tm_mday, st.tm_hour, st.tm_min, st.tm_sec, seg);
	close_seg(dir, name, &b, false, time(NULL));
	strcpy(open_name, name);
	sl__buf_free(&b);
}

/* One read of the window, timed: wall and CPU ms into t[0], t[1]. */
static json_t *read_once(const char *dir, long w, bool forward, double *t)
{
	json_t *o = NULL;
	double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);

	if (mon_window_read(dir, "spam", &(mon_window){.requests = (size_t)w}, forward, &o))
		die(sl_errmsg());
	t[0] = now_ms(CLOCK_MONOTONIC) - t0;
	t[1] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	return o;
}

static void same(json_t *a, json_t *b, long w)
{
	if (!json_equal(a, b) || json_array_size(json_object_get(b, "ids")) != (size_t)w)
		die("the tail's window differs from the full scan's");
}

int main(int argc, char **argv)
{
	double full[2] = {1e18, 1e18}, cold[2], again[2] = {1e18, 1e18}, grown[2], t[2];
	json_t *fwd, *tail;
	sl__buf held;
	char name[128], path[4200];

	if (argc != 7)
		die("usage: monitor_tail_bench DIR RECORDS SEGMENT_BYTES WINDOW REPEATS APPEND");
	long n = atol(argv[2]), w = atol(argv[4]), reps = atol(argv[5]), hold = atol(argv[6]);
	sl__buf_init(&held, 0);
	make_log(argv[1], n, (size_t)atol(argv[3]), hold, &held, name);
	/* The first read of the tail, then the same again (nothing new: the
	 * pass carried over), then after the server appended `hold` more. */
	tail = read_once(argv[1], w, false, cold);
	for (long r = 0; r < reps; r++) {
		fwd = read_once(argv[1], w, true, t);
		if (t[1] < full[1])
			full[0] = t[0], full[1] = t[1];
		same(fwd, tail, w);
		json_decref(fwd);
		json_decref(tail);
		tail = read_once(argv[1], w, false, t);
		if (t[1] < again[1])
			again[0] = t[0], again[1] = t[1];
	}
	snprintf(path, sizeof path, "%s/%s", argv[1], name);
	FILE *f = fopen(path, "a");
	if (!f || fwrite(held.data, 1, held.len, f) != held.len || fclose(f))
		die("cannot append to the open segment");
	json_decref(tail);
	tail = read_once(argv[1], w, false, grown);
	fwd = read_once(argv[1], w, true, t);
	same(fwd, tail, w);
	printf("{\"records\":%ld,\"window\":%ld,\"appended\":%ld,\"full_ms\":%.1f,\"full_cpu_ms\":%.1f,"
	       "\"cold_ms\":%.1f,\"cold_cpu_ms\":%.1f,\"again_ms\":%.2f,\"again_cpu_ms\":%.2f,"
	       "\"grown_ms\":%.1f,\"grown_cpu_ms\":%.1f,\"labelled\":%zu}\n",
	       n, w, hold, full[0], full[1], cold[0], cold[1], again[0], again[1], grown[0], grown[1],
	       json_object_size(json_object_get(tail, "labels")));
	json_decref(fwd);
	json_decref(tail);
	sl__buf_free(&held);
	return 0;
}
