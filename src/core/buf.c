/*
 * Growable byte buffers with a hard maximum (curl's dynbuf habit): a runaway
 * input (a 10 GB "line", a request body that never ends) fails with SL_ELIMIT
 * at a known size instead of exhausting memory.
 *
 * Invariant: when data != NULL, data[len] == '\0' and len < cap.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

void sl__buf_init(sl__buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SL__BUF_DEFAULT_MAX;
}

int sl__buf_reserve(sl__buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return sl__err(SL_ELIMIT, "buffer would exceed its limit of %zu bytes", b->max);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = sl__realloc(b->data, cap);
	if (!p)
		return sl__err(SL_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

int sl__buf_append(sl__buf *b, const void *p, size_t n)
{
	int rc = sl__buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int sl__buf_puts(sl__buf *b, const char *s)
{
	return sl__buf_append(b, s, strlen(s));
}

int sl__buf_putc(sl__buf *b, char c)
{
	return sl__buf_append(b, &c, 1);
}

int sl__buf_vprintf(sl__buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return sl__err(SL_EINVAL, "bad format string");
	rc = sl__buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int sl__buf_printf(sl__buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sl__buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void sl__buf_reset(sl__buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *sl__buf_detach(sl__buf *b)
{
	char *p = b->data;

	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void sl__buf_free(sl__buf *b)
{
	sl__free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
