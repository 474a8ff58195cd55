/*
 * How long a log rotation holds the other writers (src/serve/log.c), by
 * kind: a chunk after one of the same segment, or a new segment's first,
 * with the next segment made ready ahead by the helper or (AHEAD 0) made by
 * the rotation itself, as when the helper is behind.
 *
 *   writer (CPU 1, with the log's threads)
 *   RATE records of 300 bytes a second, spinning between them (a request
 *   thread kept busy), for SECONDS, into a log of SEGMENT-byte segments
 *
 * Prints one JSON line: the rotations of each kind, the share of them
 * within 128 us, their median and 90th percentile (upper bounds of the
 * log's histogram buckets, in microseconds) and their mean, and how many
 * new segments were found ready.
 *
 *   log_rotate_bench DIR SEGMENT RATE SECONDS AHEAD
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/log.h"

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The upper bound (us) of the bucket holding quantile q; 1e9: past the last. */
static long long quantile(const uint64_t *h, double q)
{
	uint64_t total = 0, cum = 0;

	for (int b = 0; b < ILOG_ROT_BUCKETS; b++)
		total += h[b];
	for (int b = 0; b < ILOG_ROT_BUCKETS; b++) {
		cum += h[b];
		if (total && (double)cum >= q * (double)total)
			return b + 1 < ILOG_ROT_BUCKETS ? (long long)ILOG_ROT_US(b) : 1000000000;
	}
	return 0;
}

static void kind(const char *name, const ilog_stats *st, int k)
{
	uint64_t n = 0, fast = 0;

	for (int b = 0; b < ILOG_ROT_BUCKETS; b++) {
		n += st->rot_hist[k][b];
		if (ILOG_ROT_US(b) <= 128)
			fast += st->rot_hist[k][b];
	}
	printf("\"%s\":{\"n\":%llu,\"within_128us\":%.3f,\"p50_us\":%lld,\"p90_us\":%lld,"
	       "\"mean_us\":%.1f}",
	       name, (unsigned long long)n, n ? (double)fast / (double)n : 0, quantile(st->rot_hist[k], 0.5),
	       quantile(st->rot_hist[k], 0.9), n ? (double)st->rot_ns[k] / (double)n / 1e3 : 0);
}

int main(int argc, char **argv)
{
	ilog_opts o = {0};
	ilog_stats st;
	cpu_set_t cpus;
	char rec[300];
	double rate, secs, t0, due;
	ilog *l;

	if (argc != 6) {
		fprintf(stderr, "usage: log_rotate_bench DIR SEGMENT RATE SECONDS AHEAD\n");
		return 2;
	}
	o.dir = argv[1];
	o.segment_bytes = strtoull(argv[2], NULL, 10);
	rate = atof(argv[3]);
	secs = atof(argv[4]);
	o.test_no_ahead = atoi(argv[5]) == 0;
	/* The log's threads inherit the writer's core: a server on one core. */
	CPU_ZERO(&cpus);
	CPU_SET(1, &cpus);
	sched_setaffinity(0, sizeof cpus, &cpus);
	memset(rec, 'x', sizeof rec);
	memcpy(rec, "{\"x\":\"", 6);
	memcpy(rec + sizeof rec - 3, "\"}\n", 3);
	if (ilog_open(&o, &l)) {
		fprintf(stderr, "log_rotate_bench: cannot open the log in %s\n", o.dir);
		return 1;
	}
	t0 = due = now_s();
	while (due - t0 < secs) {
		while (now_s() < due)
			;
		if (ilog_append(l, rec, sizeof rec)) {
			fprintf(stderr, "log_rotate_bench: an append failed\n");
			return 1;
		}
		due += 1 / rate;
	}
	ilog_stats_get(l, &st);
	printf("{\"ahead\":%d,", !o.test_no_ahead);
	kind("chunk", &st, 0);
	putchar(',');
	kind("segment", &st, 1);
	printf(",\"seg_ready\":%llu,\"seg_unready\":%llu}\n", (unsigned long long)st.seg_ready,
	       (unsigned long long)st.seg_unready);
	return ilog_close(l) ? 1 : 0;
}
