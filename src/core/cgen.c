/*
 * C source text (cgen.h): exact literals and a sticky-error buffer.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cgen.h"

void sl__cw_init(sl__cw *w)
{
	sl__buf_init(&w->b, 0);
	w->rc = 0;
}

void sl__cw_free(sl__cw *w)
{
	sl__buf_free(&w->b);
}

void sl__cw_printf(sl__cw *w, const char *fmt, ...)
{
	va_list ap;

	if (w->rc)
		return;
	va_start(ap, fmt);
	w->rc = sl__buf_vprintf(&w->b, fmt, ap);
	va_end(ap);
}

void sl__cw_puts(sl__cw *w, const char *s)
{
	if (!w->rc)
		w->rc = sl__buf_puts(&w->b, s);
}

void sl__cw_cat(sl__cw *w, const sl__cw *src)
{
	if (!w->rc && src->rc)
		w->rc = src->rc;
	if (!w->rc && src->b.len)
		w->rc = sl__buf_append(&w->b, src->b.data, src->b.len);
}

void sl__cw_double(sl__cw *w, double v)
{
	char buf[40];

	if (isnan(v)) {
		sl__cw_puts(w, "NAN");
		return;
	}
	if (isinf(v)) {
		sl__cw_puts(w, v < 0 ? "-INFINITY" : "INFINITY");
		return;
	}
	snprintf(buf, sizeof buf, "%.17g", v);
	sl__cw_puts(w, buf);
	if (!strpbrk(buf, ".e"))
		sl__cw_puts(w, ".0");
}

void sl__cw_string(sl__cw *w, const char *s, size_t len)
{
	sl__cw_puts(w, "\"");
	for (size_t i = 0; i < len && !w->rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || c == '?')
			sl__cw_printf(w, "\\%c", c);
		else if (c >= 32 && c < 127)
			w->rc = sl__buf_putc(&w->b, (char)c);
		else
			sl__cw_printf(w, "\\%03o", c);
	}
	sl__cw_puts(w, "\"");
}

void sl__cw_doubles(sl__cw *w, const char *decl, const double *v, size_t n)
{
	sl__cw_printf(w, "%s = {", decl);
	for (size_t i = 0; i < n; i++) {
		sl__cw_puts(w, i % 4 ? ", " : i ? ",\n\t" : "\n\t");
		sl__cw_double(w, v[i]);
	}
	sl__cw_puts(w, n ? "\n};\n" : "0};\n");
}

void sl__cw_ints(sl__cw *w, const char *decl, const int64_t *v, size_t n)
{
	sl__cw_printf(w, "%s = {", decl);
	for (size_t i = 0; i < n; i++)
		sl__cw_printf(w, "%s%lld", i % 12 ? ", " : i ? ",\n\t" : "\n\t", (long long)v[i]);
	sl__cw_puts(w, n ? "\n};\n" : "0};\n");
}
