/*
 * Allocation wrappers. They exist for one reason: tests can make the Nth
 * allocation fail and check that every caller turns that into SL_ENOMEM
 * instead of crashing (the SQLite habit). In production the counter is -1 and
 * the cost is one predictable branch.
 * jansson allocates through them too (json.c).
 *
 * Injection is global (a test fails "the Nth allocation" whichever code
 * makes it) but can be held off on one thread for a stretch of code that
 * is known not to survive it: see sl__alloc_inject_hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

static long fail_after = -1;
static bool fail_once;         /* only allocation number fail_after fails */
static unsigned long failures; /* injected since the last sl__alloc_fail_* */

void sl__alloc_fail_after(long n)
{
	__atomic_store_n(&failures, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fail_once, false, __ATOMIC_RELAXED);
	__atomic_store_n(&fail_after, n, __ATOMIC_RELAXED);
}

void sl__alloc_fail_nth(long n)
{
	__atomic_store_n(&failures, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fail_once, true, __ATOMIC_RELAXED);
	__atomic_store_n(&fail_after, n, __ATOMIC_RELAXED);
}

unsigned long sl__alloc_failures(void)
{
	return __atomic_load_n(&failures, __ATOMIC_RELAXED);
}

/* Allocations this thread asked for and did not get (injected or real). */
static _Thread_local unsigned long denied;

/* sl__alloc_inject_hold depth on this thread: no injection while > 0. */
static _Thread_local unsigned held;

void sl__alloc_inject_hold(bool hold)
{
	if (hold)
		held++;
	else if (held)
		held--;
}

static bool should_fail(void)
{
	long n = __atomic_load_n(&fail_after, __ATOMIC_RELAXED);

	if (n < 0 || held)
		return false;
	if (n == 0) {
		if (__atomic_load_n(&fail_once, __ATOMIC_RELAXED))
			__atomic_store_n(&fail_after, -1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
		denied++;
		return true;
	}
	__atomic_fetch_sub(&fail_after, 1, __ATOMIC_RELAXED);
	return false;
}

/* Counts a real failure (the injected ones are counted in should_fail). */
static void *got(void *p)
{
	if (!p)
		denied++;
	return p;
}

unsigned long sl__alloc_mark(void)
{
	return denied;
}

bool sl__alloc_failed_since(unsigned long mark)
{
	return denied != mark;
}

void *sl__malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return got(malloc(n ? n : 1));
}

void *sl__calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return got(calloc(count ? count : 1, size ? size : 1));
}

void *sl__realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return got(realloc(p, n ? n : 1));
}

void *sl__reallocarray(void *p, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	return sl__realloc(p, count * size);
}

void sl__free(void *p)
{
	free(p);
}

char *sl__strdup(const char *s)
{
	return sl__strndup(s, strlen(s));
}

char *sl__strndup(const char *s, size_t n)
{
	char *d = sl__malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *sl__asprintf(const char *fmt, ...)
{
	va_list ap;
	sl__buf b;

	sl__buf_init(&b, 0);
	va_start(ap, fmt);
	int rc = sl__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc) {
		sl__buf_free(&b);
		return NULL;
	}
	if (!b.data)
		return sl__strdup("");
	return sl__buf_detach(&b);
}

void sl__advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	uintptr_t page = 4096, a = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t z = ((uintptr_t)p + n) & ~(page - 1);

	if (n >= ((size_t)4 << 20) && z > a)
		madvise((void *)a, z - a, MADV_HUGEPAGE); /* advice only: failure is harmless */
#else
	(void)p;
	(void)n;
#endif
}
