/*
 * How late a thread wakes beside the log helper's writes of zeros
 * (src/serve/log.c, prepare), by the size of each write.
 *
 *   writer (nice 10, CPU 1)              sleeper (CPU 1)
 *   every 0.1 s: fallocate 4 MiB,        loop: sleep 0.1 ms, note how
 *   write zeros over it PIECE at a       much later than asked it woke
 *   time (the helper's pattern)
 *
 * A request thread woken while the helper is inside a write waits for the
 * write to return on a kernel without full preemption; the sleeper stands
 * in for it. Prints one JSON line: the piece, the wakeups, the share woken
 * more than 0.5 ms late, and the 99th and 99.9th percentile lateness in
 * microseconds. PIECE 0 runs the sleeper alone (the machine's floor).
 *
 *   prep_wake_bench DIR PIECE SECONDS
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CHUNK ((size_t)4 << 20)
#define MAX_WAKES 2000000

static size_t piece;
static atomic_int stop;
static char zeros[1 << 16];
static char path[4096];

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void pin_cpu1(void)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(1, &s);
	sched_setaffinity(0, sizeof s, &s);
}

static void *writer(void *arg)
{
	off_t off = 0;
	int fd;

	(void)arg;
	pin_cpu1();
	/* The helper's own priority (log.c, help_main). */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return NULL;
	unlink(path);
	while (!atomic_load(&stop)) {
		posix_fallocate(fd, off, (off_t)CHUNK);
		for (size_t at = 0; at < CHUNK;) {
			struct iovec iov[64];
			size_t p = 0;
			int k = 0;
			ssize_t w;
			for (; k < 64 && p < piece && at + p < CHUNK; k++) {
				size_t m = piece - p < sizeof zeros ? piece - p : sizeof zeros;
				iov[k] = (struct iovec){zeros, m};
				p += m;
			}
			w = pwritev(fd, iov, k, off + (off_t)at);
			if (w <= 0)
				break;
			at += (size_t)w;
		}
		off += (off_t)CHUNK;
		if (off >= (off_t)256 << 20) { /* keep the file (and the page cache) small */
			ftruncate(fd, 0);
			off = 0;
		}
		usleep(100000);
	}
	close(fd);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	pthread_t t;
	double secs, end, *late;
	size_t n = 0, over = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: prep_wake_bench DIR PIECE SECONDS\n");
		return 2;
	}
	piece = strtoul(argv[2], NULL, 0);
	secs = atof(argv[3]);
	if (piece > sizeof zeros * 64) {
		fprintf(stderr, "prep_wake_bench: PIECE is at most %zu\n", sizeof zeros * 64);
		return 2;
	}
	snprintf(path, sizeof path, "%s/prep-wake-%d", argv[1], (int)getpid());
	late = malloc(MAX_WAKES * sizeof *late);
	if (!late)
		return 1;
	if (piece && pthread_create(&t, NULL, writer, NULL))
		return 1;
	pin_cpu1();
	end = now_s() + secs;
	while (now_s() < end && n < MAX_WAKES) {
		struct timespec d = {0, 100000};
		double t0 = now_s();
		nanosleep(&d, NULL);
		late[n++] = (now_s() - t0) * 1e6 - 100;
	}
	atomic_store(&stop, 1);
	if (piece)
		pthread_join(t, NULL);
	qsort(late, n, sizeof *late, cmp);
	for (size_t i = 0; i < n; i++)
		over += late[i] > 500;
	printf("{\"piece\":%zu,\"wakes\":%zu,\"late_500us_pct\":%.3f,\"p99_us\":%.0f,\"p999_us\":%.0f}\n",
	       piece, n, 100.0 * (double)over / (double)n, late[n * 99 / 100], late[n * 999 / 1000]);
	free(late);
	return 0;
}
