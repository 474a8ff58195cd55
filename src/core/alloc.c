/*
 * Allocation wrappers. They exist for one reason: tests can make the Nth
 * allocation fail and check that every caller turns that into SL_ENOMEM
 * instead of crashing (the SQLite habit). In production the counter is -1 and
 * the cost is one predictable branch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

static long fail_after = -1;

void sl__alloc_fail_after(long n)
{
	__atomic_store_n(&fail_after, n, __ATOMIC_RELAXED);
}

static bool should_fail(void)
{
	long n = __atomic_load_n(&fail_after, __ATOMIC_RELAXED);

	if (n < 0)
		return false;
	if (n == 0)
		return true;
	__atomic_fetch_sub(&fail_after, 1, __ATOMIC_RELAXED);
	return false;
}

void *sl__malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *sl__calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *sl__realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
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
