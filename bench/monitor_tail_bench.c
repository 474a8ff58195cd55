/*
 * One monitoring window read from a large inference log: the newest N
 * requests of the served version, read from the log's tail (what `sluice
 * monitor report` and the server's drift gauges do) against the full
 * forward scan every evaluation did before (kept as mon_window_read's
 * forward mode: it is the reference the tail must equal). The log is
 * spambase-wide (57 inputs, 2 outputs), with feedback for half of the
 * requests and a version change near its end; closed segments compressed
 * as the server leaves them.
 *
 *   monitor_tail_bench DIR RECORDS SEGMENT_BYTES WINDOW REPEATS
 * prints one JSON line: the fastest wall and CPU ms of each way.
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

static void make_log(const char *dir, long n, size_t seg_bytes)
{
	sl__buf b;
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
		if (!vseen[v]) {
			k = snprintf(line, sizeof line, "{\"schema\":1,\"model\":\"spam\",\"version\":\"%s\",\"inputs\":[", ver);
			for (int j = 0; j < P; j++)
				k += snprintf(line + k, sizeof line - k, "%s\"f%d\"", j ? "," : "", j);
			k += snprintf(line + k, sizeof line - k, "],\"outputs\":[\"predict\",\"proba\"]}\n");
			sl__buf_append(&b, line, (size_t)k);
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
		sl__buf_append(&b, line, (size_t)k);
		if (i % 2 == 1) {
			k = snprintf(line, sizeof line,
				     "{\"id\":\"f%ld\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.000Z\",\"model\":\"spam\","
				     "\"version\":null,\"endpoint\":\"feedback\",\"status\":200,\"latency_us\":90,"
				     "\"request_ids\":[\"r%ld\"],\"labels\":[%d],\"unknown\":[]}\n",
				     i, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
				     tm.tm_sec, i - 1, (int)(x >> 5 & 1));
			sl__buf_append(&b, line, (size_t)k);
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
	sl__buf_free(&b);
}

int main(int argc, char **argv)
{
	double best[2][2] = {{1e18, 1e18}, {1e18, 1e18}};
	json_t *got[2] = {NULL, NULL};
	char stamp[4200];
	struct stat st;

	if (argc != 6)
		die("usage: monitor_tail_bench DIR RECORDS SEGMENT_BYTES WINDOW REPEATS");
	long n = atol(argv[2]), w = atol(argv[4]), reps = atol(argv[5]);
	snprintf(stamp, sizeof stamp, "%s/.made", argv[1]);
	if (stat(stamp, &st) != 0) {
		make_log(argv[1], n, (size_t)atol(argv[3]));
		FILE *f = fopen(stamp, "w");
		if (f)
			fclose(f);
	}
	for (long r = 0; r < reps; r++)
		for (int way = 0; way < 2; way++) {
			json_t *o = NULL;
			double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
			if (mon_window_read(argv[1], "spam", &(mon_window){.requests = (size_t)w}, way == 0, &o))
				die(sl_errmsg());
			double t = now_ms(CLOCK_MONOTONIC) - t0, c = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
			if (t < best[way][0])
				best[way][0] = t;
			if (c < best[way][1])
				best[way][1] = c;
			json_decref(got[way]);
			got[way] = o;
		}
	if (!json_equal(got[0], got[1]) || json_array_size(json_object_get(got[1], "ids")) != (size_t)w)
		die("the tail's window differs from the full scan's");
	printf("{\"records\":%ld,\"window\":%ld,\"full_ms\":%.1f,\"full_cpu_ms\":%.1f,\"tail_ms\":%.1f,"
	       "\"tail_cpu_ms\":%.1f,\"labelled\":%zu}\n",
	       n, w, best[0][0], best[0][1], best[1][0], best[1][1],
	       json_object_size(json_object_get(got[1], "labels")));
	json_decref(got[0]);
	json_decref(got[1]);
	return 0;
}
