/*
 * The inference log: records appended from many threads at once all come
 * back, whole and once each, across rotated and compressed segments; the
 * fsync level syncs every record; a full queue blocks or, with the drop
 * policy, drops and counts; a torn last line is skipped; retention
 * removes old compressed segments; the range the next chunk maps is in
 * the page cache before it is mapped, and preparing it never zeroes a
 * record; a compressed segment's pages are reused for the next chunks; the
 * next segment is made ready ahead, unseen by readers, and rotations to a
 * segment not ready make their own, every record kept once and in order.
 */
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utime.h>

#include <zstd.h>

#include "core.h"
#include "serve/log.h"
#include "testutil.h"

#define THREADS 4
#define PER_THREAD 500

typedef struct writer {
	ilog *l;
	int t;
	int drops;
} writer;

static void *append_many(void *arg)
{
	writer *w = arg;
	char rec[128];

	for (int i = 0; i < PER_THREAD; i++) {
		int n = snprintf(rec, sizeof rec, "{\"t\":%d,\"i\":%d,\"pad\":\"%0*d\"}\n", w->t, i,
				 i % 40, 0);
		int rc = ilog_append(w->l, rec, (size_t)n);
		assert_true(rc == 0 || rc == ILOG_DROPPED);
		w->drops += rc == ILOG_DROPPED;
	}
	return NULL;
}

typedef struct seen {
	unsigned char got[THREADS][PER_THREAD];
	size_t n;
	size_t bad;
} seen;

static int count(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	seen *s = ud;
	int t, i;

	(void)sch;
	assert_int_equal(strlen(line), len);
	if (sscanf(line, "{\"t\":%d,\"i\":%d,", &t, &i) != 2 || t < 0 || t >= THREADS || i < 0 ||
	    i >= PER_THREAD || line[len - 1] != '}') {
		s->bad++;
		return 0;
	}
	s->got[t][i]++;
	s->n++;
	return 0;
}

/* Each writer's records in the order they were appended (scan order:
 * segments by name, records by place). */
typedef struct order {
	int last[THREADS];
	size_t n, bad, out_of_order;
	unsigned char got[THREADS][PER_THREAD];
} order;

static int check_order(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	order *o = ud;
	int t, i;

	(void)sch;
	if (sscanf(line, "{\"t\":%d,\"i\":%d,", &t, &i) != 2 || t < 0 || t >= THREADS || i < 0 ||
	    i >= PER_THREAD || line[len - 1] != '}') {
		o->bad++;
		return 0;
	}
	o->out_of_order += i <= o->last[t];
	o->last[t] = i;
	o->got[t][i]++;
	o->n++;
	return 0;
}

static void assert_all_in_order(const char *logdir)
{
	order *o = calloc(1, sizeof *o);

	for (int t = 0; t < THREADS; t++)
		o->last[t] = -1;
	assert_int_equal(ilog_scan(logdir, 0, 0, check_order, o), 0);
	assert_int_equal(o->bad, 0);
	assert_int_equal(o->n, THREADS * PER_THREAD);
	assert_int_equal(o->out_of_order, 0);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++)
			assert_int_equal(o->got[t][i], 1);
	free(o);
}

static size_t files_with(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)))
		n += sl__str_has_suffix(e->d_name, suffix);
	if (d)
		closedir(d);
	return n;
}

static void run_writers(ilog *l, writer *w)
{
	pthread_t th[THREADS];

	for (int t = 0; t < THREADS; t++) {
		w[t] = (writer){.l = l, .t = t};
		pthread_create(&th[t], NULL, append_many, &w[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
}

static void test_concurrent_rotate_compress(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	ilog_opts o = {.dir = logdir, .segment_bytes = 16384, .chunk_bytes = 4096, .maint_ms = 20};
	ilog_stats st;
	writer w[THREADS];
	seen *s = calloc(1, sizeof *s);
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	run_writers(l, w);
	ilog_stats_get(l, &st);
	assert_int_equal(st.written, THREADS * PER_THREAD);
	assert_int_equal(st.dropped, 0);
	/* Segments swapped in (the helper closes the old ones a moment later). */
	if (st.seg_ready + st.seg_unready < 3)
		fail_msg("%llu segments, %llu chunks", (unsigned long long)(st.seg_ready + st.seg_unready),
			 (unsigned long long)st.rotations);
	assert_true(st.rotations > st.seg_ready + st.seg_unready);
	assert_int_equal(ilog_close(l), 0);
	/* Whatever maintenance compressed meanwhile (it yields to everything
	 * else, so maybe nothing yet), every record reads back once. */
	assert_int_equal(ilog_scan(logdir, 0, 0, count, s), 0);
	assert_int_equal(s->bad, 0);
	assert_int_equal(s->n, THREADS * PER_THREAD);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++)
			assert_int_equal(s->got[t][i], 1);
	/* A second server compresses what the first left, its last segment
	 * included (a loaded machine may take seconds: it runs at nice 19). */
	assert_int_equal(ilog_open(&o, &l), 0);
	for (int i = 0; i < 1500 && files_with(logdir, ".jsonl") > 1; i++)
		usleep(20000);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(files_with(logdir, ".jsonl"), 0);
	memset(s, 0, sizeof *s);
	assert_int_equal(ilog_scan(logdir, 0, 0, count, s), 0);
	assert_int_equal(s->n, THREADS * PER_THREAD);
	free(s);
	free(logdir);
	tu_rmdir(dir);
}

static void test_fsync_level(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	/* Small segments: group commits meet segment rotations, which sync
	 * the segment they close before the next takes its place. */
	ilog_opts o = {.dir = logdir, .durability = ILOG_FSYNC, .segment_bytes = 16384,
		       .chunk_bytes = 4096};
	ilog_stats st;
	writer w[THREADS];
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	run_writers(l, w);
	ilog_stats_get(l, &st);
	assert_int_equal(st.fsynced, THREADS * PER_THREAD);
	assert_true(st.fsyncs >= 1 && st.fsyncs <= st.fsynced);
	assert_true(st.seg_ready + st.seg_unready >= 3);
	assert_int_equal(ilog_close(l), 0);
	assert_all_in_order(logdir);
	free(logdir);
	tu_rmdir(dir);
}

typedef struct slow {
	ilog *l;
	int rc;
} slow;

static char big[1001];

static void *append_big(void *arg)
{
	slow *s = arg;

	s->rc = ilog_append(s->l, big, sizeof big);
	return NULL;
}

/* A chunk full and its rotation under way: an append is dropped and
 * counted under the drop policy, waits for the new chunk under the
 * default. */
static void test_full_queue(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	ilog_opts o = {.dir = logdir, .chunk_bytes = 4096, .test_rotate_delay_ms = 300};
	ilog_stats st;
	pthread_t a;
	slow sa;
	ilog *l;

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[0] = '{';
	big[sizeof big - 2] = '}';
	big[sizeof big - 1] = '\n';
	for (int policy = 0; policy < 2; policy++) {
		o.policy = policy ? ILOG_BLOCK : ILOG_DROP;
		assert_int_equal(ilog_open(&o, &l), 0);
		for (int i = 0; i < 4; i++) /* 4004 of 4096 bytes */
			assert_int_equal(ilog_append(l, big, sizeof big), 0);
		sa = (slow){.l = l};
		pthread_create(&a, NULL, append_big, &sa); /* rotates, slowly */
		do {
			usleep(5000);
			ilog_stats_get(l, &st);
		} while (!st.rotating);
		{
			int rc = ilog_append(l, big, sizeof big);
			assert_int_equal(rc, o.policy == ILOG_DROP ? ILOG_DROPPED : 0);
		}
		pthread_join(a, NULL);
		assert_int_equal(sa.rc, 0);
		ilog_stats_get(l, &st);
		assert_int_equal(st.dropped, o.policy == ILOG_DROP ? 1 : 0);
		assert_int_equal(st.written, o.policy == ILOG_DROP ? 5 : 6);
		assert_int_equal(ilog_close(l), 0);
	}
	free(logdir);
	tu_rmdir(dir);
}

static int collect(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	sl__buf *b = ud;

	(void)sch;
	sl__buf_append(b, line, len);
	sl__buf_putc(b, '|');
	return 0;
}

static void test_torn_line_and_retention(void **state)
{
	const char *dir = tu_tmpdir();
	char *seg = tu_path(dir, "20250101T000000-deadbeef-000000.jsonl");
	char *old = tu_path(dir, "20200101T000000-deadbeef-000000.jsonl.zst");
	char *leftover = tu_path(dir, "20200101T000000-0badcafe-000000.jsonl.new");
	char *fresh = tu_path(dir, "20990101T000000-0badcafe-000000.jsonl.new");
	char *stale = tu_path(dir, "20200101T000000-0badcafe-000001.jsonl");
	char *stale_zst = tu_path(dir, "20200101T000000-0badcafe-000001.jsonl.zst");
	ilog_opts o = {.dir = dir, .retention_ms = 24 * 3600 * 1000, .maint_ms = 20};
	ilog_stats st;
	struct utimbuf ut = {1577836800, 1577836800};
	sl__buf b;
	ilog *l;

	(void)state;
	tu_write(seg, "{\"a\":1}\n{\"a\":2}\n{\"a\":");
	tu_write(old, "not even zstd");
	utime(old, &ut);
	sl__buf_init(&b, 0);
	assert_int_equal(ilog_scan(dir, 0, 0, collect, &b), SL_ECORRUPT);
	unlink(old);
	assert_int_equal(ilog_scan(dir, 0, 0, collect, &b), 0);
	assert_string_equal(b.data, "{\"a\":1}|{\"a\":2}|");
	/* Retention removes an old compressed segment; the torn one is
	 * compressed; a segment a crash left unnamed (made ahead: zeros)
	 * goes, one just made (not locked yet: another server's rotation)
	 * stays. Readers never take an unnamed one's text for records. */
	tu_write(leftover, "{\"a\":3}\n");
	assert_int_equal(truncate(leftover, 262144), 0);
	utime(leftover, &ut);
	tu_write(fresh, "{\"a\":4}\n");
	sl__buf_reset(&b);
	assert_int_equal(ilog_scan(dir, 0, 0, collect, &b), 0);
	assert_string_equal(b.data, "{\"a\":1}|{\"a\":2}|");
	tu_write(old, "x");
	utime(old, &ut);
	/* A closed segment past the retention that was never compressed
	 * (compression waits for idle CPU) goes without being compressed. */
	tu_write(stale, "{\"a\":5}\n");
	utime(stale, &ut);
	assert_int_equal(ilog_open(&o, &l), 0);
	for (int i = 0; i < 1500 && (access(old, F_OK) == 0 || access(seg, F_OK) == 0 ||
				     access(leftover, F_OK) == 0 || access(stale, F_OK) == 0);
	     i++)
		usleep(20000);
	ilog_stats_get(l, &st);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(st.removed, 2);
	assert_int_equal(st.compressed, 1);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(stale_zst, F_OK), -1);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(access(seg, F_OK), -1);
	assert_int_equal(access(leftover, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	unlink(fresh);
	sl__buf_reset(&b);
	assert_int_equal(ilog_scan(dir, 0, 0, collect, &b), 0);
	assert_string_equal(b.data, "{\"a\":1}|{\"a\":2}|");
	/* A time range that excludes the segment's day skips it. */
	sl__buf_reset(&b);
	assert_int_equal(ilog_scan(dir, 0, 1000, collect, &b), 0);
	assert_int_equal(b.len, 0);
	sl__buf_free(&b);
	free(leftover);
	free(fresh);
	free(stale);
	free(stale_zst);
	free(seg);
	free(old);
	tu_rmdir(dir);
}

typedef struct expanded {
	size_t n, bad;
	json_t *last;
} expanded;

static int expand_all(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	expanded *e = ud;
	json_t *rec = json_loads(line, 0, NULL);

	(void)len;
	if (!rec || ilog_expand(sch, rec)) {
		e->bad++;
	} else {
		e->n++;
		json_decref(e->last);
		e->last = rec;
		return 0;
	}
	json_decref(rec);
	return 0;
}

/* Records with rows need their schema before them in every segment: it is
 * written once per segment, and readers name the columns with it. */
static void test_schema_per_segment(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	const char *schema = "{\"schema\":1,\"model\":\"m\",\"version\":\"1\",\"inputs\":[\"a\",\"b\"],"
			     "\"outputs\":[\"y\"]}\n";
	const char *rec = "{\"id\":\"r\",\"model\":\"m\",\"version\":\"1\",\"status\":200,"
			  "\"rows\":2,\"inputs\":[[1,\"x\"],[2,null]],\"outputs\":[[0.5],[0.25]]}\n";
	ilog_opts o = {.dir = logdir, .segment_bytes = 4096, .chunk_bytes = 4096};
	_Atomic uint64_t gen = 0;
	expanded e = {0};
	ilog *l;
	size_t schemas = 0;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(ilog_append_with(l, schema, strlen(schema), &gen, rec, strlen(rec)), 0);
	assert_int_equal(ilog_close(l), 0);
	/* One schema per segment, each segment readable alone. */
	{
		DIR *d = opendir(logdir);
		struct dirent *de;
		size_t files = 0;
		while ((de = readdir(d))) {
			char *p;
			sl__buf b;
			if (!sl__str_has_suffix(de->d_name, ".jsonl"))
				continue;
			p = tu_path(logdir, de->d_name);
			assert_int_equal(sl__read_file(p, 1 << 20, &b), 0);
			assert_true(sl__str_has_prefix(b.data, "{\"schema\":1"));
			for (const char *q = b.data; (q = strstr(q, "{\"schema\"")); q++)
				schemas++;
			files++;
			sl__buf_free(&b);
			free(p);
		}
		closedir(d);
		if (files < 3)
			fail_msg("%zu segment files", files);
		assert_int_equal(schemas, files);
	}
	assert_int_equal(ilog_scan(logdir, 0, 0, expand_all, &e), 0);
	assert_int_equal(e.n, 300);
	assert_int_equal(e.bad, 0);
	assert_true(json_integer_value(json_array_get(json_object_get(json_object_get(e.last, "inputs"), "a"), 1)) == 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(e.last, "inputs"), "b"), 0)), "x");
	assert_true(json_real_value(json_array_get(json_object_get(json_object_get(e.last, "outputs"), "y"), 1)) == 0.25);
	json_decref(e.last);
	free(logdir);
	tu_rmdir(dir);
}

/* The newest plain segment of dir, the open one (newly allocated): names
 * sort oldest first, and the closed ones may wait to be compressed. */
static char *open_segment_path(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *name = NULL, *p;

	while (d && (e = readdir(d)))
		if (sl__str_has_suffix(e->d_name, ".jsonl") && (!name || strcmp(e->d_name, name) > 0)) {
			free(name);
			name = strdup(e->d_name);
		}
	if (d)
		closedir(d);
	assert_non_null(name);
	p = tu_path(dir, name);
	free(name);
	return p;
}

/* While requests fill a chunk, the range the next chunk will map is
 * already in the page cache (written as zeros by the helper), so that
 * neither the requests nor the helper fault its pages in one by one. */
static void test_next_chunk_prepared(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log"), *seg;
	const size_t chunk = 64 << 10;
	ilog_opts o = {.dir = logdir, .chunk_bytes = chunk};
	const char rec[] = "{\"a\":1}\n";
	ilog_stats st;
	struct stat sb;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = chunk / page;
	unsigned char vec[64 << 10];
	void *m;
	int fd;
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	assert_int_equal(ilog_append(l, rec, sizeof rec - 1), 0);
	for (int i = 0; i < 1000; i++) {
		ilog_stats_get(l, &st);
		if (st.prepared >= 2 * chunk)
			break;
		usleep(10000);
	}
	if (st.prepared < 2 * chunk)
		fail_msg("%llu bytes prepared, want the first chunk and the next",
			 (unsigned long long)st.prepared);
	seg = open_segment_path(logdir);
	fd = open(seg, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_true((size_t)sb.st_size >= 2 * chunk);
	m = mmap(NULL, chunk, PROT_READ, MAP_SHARED, fd, (off_t)chunk);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mincore(m, chunk, vec), 0);
	for (size_t i = 0; i < pages; i++)
		if (!(vec[i] & 1))
			fail_msg("page %zu of the next chunk is not in the page cache", i);
	munmap(m, chunk);
	close(fd);
	/* Closing cuts the zeros: the file holds its one record. */
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(stat(seg, &sb), 0);
	assert_int_equal(sb.st_size, sizeof rec - 1);
	free(seg);
	free(logdir);
	tu_rmdir(dir);
}

/* The helper writes its zeros in pieces of at most ILOG_PREP_PIECE: one
 * write of a whole chunk (or of 1 MiB) held a core for 0.3 ms that a
 * request thread woken on it waited through. */
/* The helper runs at nice 10 with a 0.1 ms slice where the kernel keeps a
 * custom slice (Linux 6.12 and later report it back; older ones report 0),
 * so that it takes its turn promptly after each pause (log.c, step_aside). */
static void test_helper_background(void **state)
{
	struct {
		uint32_t size, policy;
		uint64_t flags;
		int32_t nice;
		uint32_t priority;
		uint64_t runtime, deadline, period;
		uint32_t util_min, util_max;
	} a;
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	ilog_opts o = {.dir = logdir};
	long helper = 0;
	DIR *d;
	struct dirent *e;
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	for (int i = 0; i < 200 && !helper; i++) {
		d = opendir("/proc/self/task");
		while (d && (e = readdir(d))) {
			char path[64], comm[32] = "";
			FILE *f;
			snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
			if ((f = fopen(path, "r"))) {
				if (fgets(comm, sizeof comm, f) && !strcmp(comm, "sl-log-help\n"))
					helper = atol(e->d_name);
				fclose(f);
			}
		}
		if (d)
			closedir(d);
		if (!helper)
			usleep(5000);
	}
	assert_true(helper > 0);
	memset(&a, 0, sizeof a);
	/* The thread names itself, then sets its scheduling: wait for both. */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(syscall(SYS_sched_getattr, (pid_t)helper, &a, sizeof a, 0), 0);
		if (a.nice == 10)
			break;
		usleep(5000);
	}
	assert_int_equal(a.nice, 10);
	if (a.runtime)
		assert_int_equal(a.runtime, 100 * 1000);
	assert_int_equal(ilog_close(l), 0);
	tu_rmdir(dir);
	free(logdir);
}

static void test_prep_in_pieces(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log"), *seg;
	const size_t chunk = 1 << 20;
	ilog_opts o = {.dir = logdir, .chunk_bytes = chunk};
	const char rec[] = "{\"a\":1}\n";
	ilog_stats st;
	struct stat sb;
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	assert_int_equal(ilog_append(l, rec, sizeof rec - 1), 0);
	for (int i = 0; i < 1000; i++) {
		ilog_stats_get(l, &st);
		if (st.prepared >= 2 * chunk)
			break;
		usleep(10000);
	}
	/* The first chunk is the opening's, the next the helper's. */
	assert_true(st.prepared >= 2 * chunk);
	assert_true(st.prep_writes >= chunk / ILOG_PREP_PIECE);
	if ((st.prepared - chunk) / st.prep_writes > ILOG_PREP_PIECE)
		fail_msg("%llu bytes of zeros in %llu writes: pieces over %zu bytes",
			 (unsigned long long)(st.prepared - chunk),
			 (unsigned long long)st.prep_writes, ILOG_PREP_PIECE);
	seg = open_segment_path(logdir);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(stat(seg, &sb), 0);
	assert_int_equal(sb.st_size, sizeof rec - 1);
	free(seg);
	free(logdir);
	tu_rmdir(dir);
}

static int count_lines(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	(void)sch;
	*(size_t *)ud += len > 2000 && line[len - 1] == '}';
	return 0;
}

/* A new segment starts with a short chunk (256 KiB), which the helper
 * prepares ahead with the segment (or the rotation, when the helper is
 * behind), so that preparing it costs little; the helper prepares the
 * chunk after it as for any other. */
static void test_new_segment_short_chunk(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log"), *seg;
	const size_t mib = 1 << 20;
	ilog_opts o = {.dir = logdir, .segment_bytes = mib + 1, .chunk_bytes = mib};
	ilog_stats st;
	struct stat sb;
	char rec[2300];
	size_t n = 0, back = 0;
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	do { /* two chunks fill the first segment */
		int len = snprintf(rec, sizeof rec, "{\"i\":%zu,\"pad\":\"%0*d\"}\n", n, 2200, 0);
		assert_int_equal(ilog_append(l, rec, (size_t)len), 0);
		n++;
		ilog_stats_get(l, &st);
	} while (st.seg_ready + st.seg_unready == 0 && n < 10000);
	assert_int_equal(st.seg_ready + st.seg_unready, 1);
	/* The new segment: its short first chunk, then the next prepared. */
	seg = open_segment_path(logdir);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(stat(seg, &sb), 0);
		if ((size_t)sb.st_size >= mib / 4 + mib)
			break;
		usleep(10000);
	}
	if ((size_t)sb.st_size != mib / 4 + mib)
		fail_msg("the new segment is %lld bytes, not a short chunk and the next",
			 (long long)sb.st_size);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(ilog_scan(logdir, 0, 0, count_lines, &back), 0);
	assert_int_equal(back, n);
	free(seg);
	free(logdir);
	tu_rmdir(dir);
}

/* A rotation that catches the helper writing zeros over the range it is
 * about to map waits for it to stop (log.c, invariant 3): with a
 * preparation that sleeps before each write, records copied into the new
 * chunk would otherwise be zeroed, and come back short. */
static void test_prep_races_rotation(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	ilog_opts o = {.dir = logdir, .segment_bytes = 65536, .chunk_bytes = 4096,
		       .test_prep_delay_ms = 2};
	ilog_stats st;
	writer w[THREADS];
	seen *s = calloc(1, sizeof *s);
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	run_writers(l, w);
	ilog_stats_get(l, &st);
	assert_int_equal(st.written, THREADS * PER_THREAD);
	assert_true(st.prepared > 4096);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(ilog_scan(logdir, 0, 0, count, s), 0);
	assert_int_equal(s->bad, 0);
	assert_int_equal(s->n, THREADS * PER_THREAD);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++)
			assert_int_equal(s->got[t][i], 1);
	free(s);
	free(logdir);
	tu_rmdir(dir);
}

static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int count_seq(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	unsigned char *got = ud;
	unsigned i;

	(void)sch;
	if (sscanf(line, "{\"seq\":%u,", &i) == 1 && i < 20000 && line[len - 1] == '}')
		got[i]++;
	return 0;
}

/* Once a segment of the server's own is compressed, its pages are freed a
 * chunk at a time right before the helper prepares the next chunk (so
 * that the preparation takes pages just freed): the spare. It is no file
 * anyone sees, every record still reads back once, and closing the log
 * leaves no descriptor behind. */
static void test_spare_reused(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	const size_t chunk = 64 << 10;
	ilog_opts o = {.dir = logdir, .segment_bytes = 4 * chunk, .chunk_bytes = chunk,
		       .maint_ms = 10};
	unsigned char *got = calloc(20000, 1);
	size_t fds = open_fds(), n = 0, files = 0;
	ilog_stats st;
	DIR *d;
	struct dirent *e;
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	do {
		char rec[256];
		int len = snprintf(rec, sizeof rec, "{\"seq\":%zu,\"pad\":\"%0*d\"}\n", n, 180, 0);
		assert_int_equal(ilog_append(l, rec, (size_t)len), 0);
		n++;
		ilog_stats_get(l, &st);
		/* Slow enough for maintenance to compress a segment meanwhile,
		 * even on a loaded machine. */
		if (n % 64 == 0)
			usleep(2000);
	} while (st.reused == 0 && n < 20000);
	if (st.reused == 0)
		fail_msg("no spare reused after %zu records (%llu segments, %llu compressed)", n,
			 (unsigned long long)st.segments, (unsigned long long)st.compressed);
	assert_true(st.reused <= st.prepared);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(open_fds(), fds);
	d = opendir(logdir);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			files++;
			if (!sl__str_has_suffix(e->d_name, ".jsonl") &&
			    !sl__str_has_suffix(e->d_name, ".jsonl.zst"))
				fail_msg("unexpected file %s in the log", e->d_name);
		}
	if (d)
		closedir(d);
	assert_true(files > 1);
	assert_int_equal(ilog_scan(logdir, 0, 0, count_seq, got), 0);
	for (size_t i = 0; i < n; i++)
		if (got[i] != 1)
			fail_msg("record %zu read back %d times", i, got[i]);
	free(got);
	free(logdir);
	tu_rmdir(dir);
}

/* Every record a scan passes on, newline restored, one after another. */
struct text {
	char *p;
	size_t len, cap;
};

static int gather(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	struct text *t = ud;

	(void)sch;
	if (t->len + len + 1 > t->cap)
		return 1;
	memcpy(t->p + t->len, line, len);
	t->p[t->len + len] = '\n';
	t->len += len + 1;
	return 0;
}

/* A closed segment compresses to zstd frames of 128 KiB of text each, which
 * decompress one after another to the segment's bytes exactly (the round
 * trip readers and `zstd -d` make); readers and `zstd -d` give the records
 * back as appended. */
static void test_compressed_frames(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log"), *zpath = NULL;
	ilog_opts o = {.dir = logdir, .segment_bytes = (3 << 20) + 12345, .chunk_bytes = 1 << 20,
		       .maint_ms = 10};
	size_t cap = 8 << 20, len = 0, zlen = 0, frames = 0, got = 0;
	char *all = malloc(cap), *back = malloc(cap);
	unsigned char *z;
	unsigned seed = 7;
	ilog_stats st;
	DIR *d;
	struct dirent *e;
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	do { /* records with some entropy, as inference records have */
		char rec[512];
		int n = snprintf(rec, sizeof rec, "{\"seq\":%zu,\"inputs\":[[", len);
		for (int j = 0; j < 24; j++) {
			seed = seed * 1103515245u + 12345u;
			n += snprintf(rec + n, sizeof rec - (size_t)n, "%s%u.%u", j ? "," : "",
				      (seed >> 16) % 10, (seed >> 8) % 1000);
		}
		n += snprintf(rec + n, sizeof rec - (size_t)n, "]]}\n");
		assert_int_equal(ilog_append(l, rec, (size_t)n), 0);
		assert_true(len + (size_t)n < cap);
		memcpy(all + len, rec, (size_t)n);
		len += (size_t)n;
		ilog_stats_get(l, &st);
	} while (st.segments == 0);
	for (int i = 0; i < 1500 && st.compressed == 0; i++) {
		usleep(20000);
		ilog_stats_get(l, &st);
	}
	assert_int_equal(st.compressed, 1);
	d = opendir(logdir);
	while (d && (e = readdir(d)))
		if (sl__str_has_suffix(e->d_name, ".jsonl.zst"))
			zpath = tu_path(logdir, e->d_name);
	closedir(d);
	assert_non_null(zpath);
	z = tu_read(zpath, &zlen);
	/* Frame by frame, each one 128 KiB of text but the last. */
	for (size_t at = 0; at < zlen; frames++) {
		size_t fz = ZSTD_findFrameCompressedSize(z + at, zlen - at);
		unsigned long long text = ZSTD_getFrameContentSize(z + at, zlen - at);
		size_t r;
		assert_false(ZSTD_isError(fz));
		r = ZSTD_decompress(back + got, cap - got, z + at, fz);
		assert_false(ZSTD_isError(r));
		assert_int_equal(r, text);
		if (at + fz < zlen)
			assert_int_equal(r, 128 << 10);
		got += r;
		at += fz;
	}
	assert_true(frames >= 24);
	/* The first segment: the records appended first, whole. */
	assert_true(got >= 3 << 20 && got < len);
	assert_int_equal(back[got - 1], '\n');
	assert_memory_equal(back, all, got);
	assert_int_equal(ilog_close(l), 0);
	/* A reader: the compressed segment and the one closed by ilog_close,
	 * every record in order. */
	{
		struct text t = {malloc(cap), 0, cap};
		assert_int_equal(ilog_scan(logdir, 0, 0, gather, &t), 0);
		assert_int_equal(t.len, len);
		assert_memory_equal(t.p, all, len);
		free(t.p);
	}
	/* `zstd -d`, where the command is installed. */
	if (system("zstd --version >/dev/null 2>&1") == 0) {
		char *plain = tu_path(dir, "plain"), *cmd = NULL;
		unsigned char *d;
		size_t dlen = 0;
		assert_true(asprintf(&cmd, "zstd -q -d -c '%s' >'%s'", zpath, plain) > 0);
		assert_int_equal(system(cmd), 0);
		d = tu_read(plain, &dlen);
		assert_int_equal(dlen, got);
		assert_memory_equal(d, all, got);
		free(d);
		free(cmd);
		free(plain);
	}
	free(z);
	free(zpath);
	free(all);
	free(back);
	free(logdir);
	tu_rmdir(dir);
}

/* The size of the one file in dir ending in suffix; -1: none (or more). */
static long long size_of_one(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long long size = -1;
	int n = 0;

	while (d && (e = readdir(d)))
		if (sl__str_has_suffix(e->d_name, suffix)) {
			char *p = tu_path(dir, e->d_name);
			struct stat sb;
			if (stat(p, &sb) == 0)
				size = (long long)sb.st_size;
			free(p);
			n++;
		}
	if (d)
		closedir(d);
	return n == 1 ? size : -1;
}

/*
 * The helper makes the next segment ready ahead (a locked file under a
 * name readers skip, its first chunk prepared), and a segment rotation
 * swaps it in: counted in seg_ready. Then writers racing through many
 * segment rotations keep every record once, each writer's in the order
 * appended; closing leaves no unnamed segment behind.
 */
static void test_segment_ahead(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	ilog_opts o = {.dir = logdir, .segment_bytes = 16384, .chunk_bytes = 4096, .maint_ms = 20};
	ilog_stats st;
	writer w[THREADS];
	char rec[2100];
	uint64_t rotated = 0;
	ilog *l;

	(void)state;
	memset(rec, 'x', sizeof rec);
	memcpy(rec, "{\"x\":\"", 6);
	memcpy(rec + sizeof rec - 3, "\"}\n", 3);
	assert_int_equal(ilog_open(&o, &l), 0);
	for (int phase = 0; phase < 4; phase++) {
		/* Ready: the next segment is there, unseen by readers, its
		 * first chunk written. */
		for (int i = 0; i < 1000; i++) {
			ilog_stats_get(l, &st);
			if (st.next_ready)
				break;
			usleep(10000);
		}
		assert_true(st.next_ready);
		assert_int_equal(size_of_one(logdir, ".jsonl.new"), 4096);
		do {
			assert_int_equal(ilog_append(l, rec, sizeof rec), 0);
			ilog_stats_get(l, &st);
		} while (st.seg_ready + st.seg_unready == rotated);
		rotated = st.seg_ready + st.seg_unready;
	}
	assert_int_equal(st.seg_unready, 0);
	assert_int_equal(st.seg_ready, 4);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(files_with(logdir, ".jsonl.new"), 0);
	tu_rmdir(logdir);

	assert_int_equal(ilog_open(&o, &l), 0);
	run_writers(l, w);
	ilog_stats_get(l, &st);
	assert_int_equal(st.written, THREADS * PER_THREAD);
	assert_true(st.seg_ready + st.seg_unready >= 3);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(files_with(logdir, ".jsonl.new"), 0);
	assert_all_in_order(logdir);
	free(logdir);
	tu_rmdir(dir);
}

static int count_all(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	(void)sch;
	*(size_t *)ud += len && line[len - 1] == '}';
	return 0;
}

/* A rotation by age catches the helper preparing the next segment: it
 * stops the helper at its next piece and finishes the segment itself
 * (counted as not ready); the records are all there. */
static void test_segment_caught_half_ready(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	/* No chunk to prepare before the next segment (one chunk is more
	 * than a segment); the next segment's first chunk is two pieces, the
	 * helper sleeping a second before each; the age rotation comes first. */
	ilog_opts o = {.dir = logdir, .segment_bytes = 4096, .chunk_bytes = 1 << 20,
		       .segment_ms = 300, .maint_ms = 20, .test_prep_delay_ms = 1000};
	ilog_stats st;
	size_t back = 0;
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	assert_int_equal(ilog_append(l, "{\"i\":0}\n", 8), 0);
	for (int i = 0; i < 1000; i++) {
		ilog_stats_get(l, &st);
		if (st.seg_ready + st.seg_unready)
			break;
		usleep(10000);
	}
	assert_int_equal(st.seg_ready, 0);
	assert_int_equal(st.seg_unready, 1);
	assert_int_equal(ilog_append(l, "{\"i\":1}\n", 8), 0);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(files_with(logdir, ".jsonl.new"), 0);
	assert_int_equal(ilog_scan(logdir, 0, 0, count_all, &back), 0);
	assert_int_equal(back, 2);
	free(logdir);
	tu_rmdir(dir);
}

/* With the helper making no segment ahead (behind, or the disk full), each
 * segment rotation makes its own while the others wait, as the only path:
 * counted in seg_unready, and every record is kept once, in order. */
static void test_segment_not_ready(void **state)
{
	const char *dir = tu_tmpdir();
	char *logdir = tu_path(dir, "log");
	ilog_opts o = {.dir = logdir, .segment_bytes = 16384, .chunk_bytes = 4096,
		       .test_no_ahead = true};
	ilog_stats st;
	writer w[THREADS];
	ilog *l;

	(void)state;
	assert_int_equal(ilog_open(&o, &l), 0);
	run_writers(l, w);
	ilog_stats_get(l, &st);
	assert_int_equal(st.written, THREADS * PER_THREAD);
	assert_int_equal(st.seg_ready, 0);
	assert_true(st.seg_unready >= 3);
	assert_int_equal(ilog_close(l), 0);
	assert_int_equal(files_with(logdir, ".jsonl.new"), 0);
	assert_all_in_order(logdir);
	free(logdir);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_rotate_compress),
		cmocka_unit_test(test_fsync_level),
		cmocka_unit_test(test_full_queue),
		cmocka_unit_test(test_torn_line_and_retention),
		cmocka_unit_test(test_schema_per_segment),
		cmocka_unit_test(test_next_chunk_prepared),
		cmocka_unit_test(test_prep_in_pieces),
		cmocka_unit_test(test_prep_races_rotation),
		cmocka_unit_test(test_new_segment_short_chunk),
		cmocka_unit_test(test_spare_reused),
		cmocka_unit_test(test_compressed_frames),
		cmocka_unit_test(test_helper_background),
		cmocka_unit_test(test_segment_ahead),
		cmocka_unit_test(test_segment_not_ready),
		cmocka_unit_test(test_segment_caught_half_ready),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
