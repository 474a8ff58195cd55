/*
 * Clocks, random identifiers, who is running, and small string parsers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <math.h>
#include <pwd.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

int64_t sl__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl__thread_name(const char *name)
{
	char b[16];

	snprintf(b, sizeof b, "%s", name);
	pthread_setname_np(pthread_self(), b);
}

/* The kernel's sched_attr (sched_setattr(2)); glibc 2.36 has no wrapper. */
struct sched_attr_ {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

void sl__thread_background(int nice)
{
	/*
	 * A higher nice alone did not get a background thread out of a
	 * request's way when it woke: under EEVDF (Linux 6.6 and later) a
	 * waking thread preempts the running one only if its deadline comes
	 * first, and a short custom slice (Linux 6.12 and later; older kernels
	 * ignore the field for this policy) gives it an early deadline while
	 * bounding what each of its turns is owed. The runs themselves stay
	 * short only by the thread's own pauses (serve/log.c, step_aside).
	 */
	struct sched_attr_ a = {.size = sizeof a, .policy = SCHED_OTHER, .nice = nice,
				.runtime = 100 * 1000};

	if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

double sl__mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int sl__random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[64] = {0};
	size_t need = (n + 1) / 2, got = 0;

	/* Callers that build temporary names ignore a failure; they get "". */
	out[0] = '\0';

	if (need > sizeof bytes)
		return sl__err(SL_EINVAL, "random id too long");
	while (got < need) {
		ssize_t r = getrandom(bytes + got, need - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return sl__err(SL_ESYS, "getrandom: %s", strerror(errno));
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = hex[(bytes[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
	out[n] = '\0';
	return 0;
}

void sl__user_name(char *out, size_t size)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	const char *env;

	/* The account, not $USER: records of who moved a model should not be
	 * whatever the environment claims when the system knows better. */
	if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name &&
	    *res->pw_name) {
		snprintf(out, size, "%s", res->pw_name);
		return;
	}
	env = getenv("USER");
	if (env && *env)
		snprintf(out, size, "%s", env);
	else
		snprintf(out, size, "uid %lu", (unsigned long)geteuid());
}

void sl__fmt_time(int64_t ms, char *out, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char tmp[32];

	gmtime_r(&secs, &tm);
	strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03dZ", tmp, (int)(ms % 1000));
}

bool sl__str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool sl__str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool sl__parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = (int64_t)v;
	return true;
}

bool sl__parse_f64(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (*end || (errno == ERANGE && isinf(v)))
		return false;
	*out = v;
	return true;
}
