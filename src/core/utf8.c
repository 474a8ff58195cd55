/*
 * UTF-8: a strict check (what PostgreSQL and JSON accept: no overlong
 * forms, no surrogates, nothing past U+10FFFF) and a cleaner that makes any
 * text pass it, for text that comes from anywhere (a command's error
 * output) and must go where only UTF-8 may (a JSON view, a PostgreSQL
 * column).
 */
#include <stdint.h>
#include <string.h>

#include "core.h"

size_t sl__utf8_check(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		/* Eight ASCII bytes at a time. */
		if (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080ull) == 0) {
				i += 8;
				continue;
			}
		}
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f; /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return i;
		}
		if (len - i < n)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += n;
	}
	return len;
}

int sl__utf8_clean(const char *s, char **out_clean)
{
	size_t len = strlen(s), at = sl__utf8_check(s, len);
	char *out, *o;

	*out_clean = NULL;
	if (at == len)
		return 0;
	if (!(out = sl__malloc(len + 1)))
		return sl__oom();
	o = out;
	for (;;) {
		memcpy(o, s, at);
		o += at;
		s += at;
		len -= at;
		if (!len)
			break;
		*o++ = '?'; /* one byte that starts no valid sequence */
		s++;
		len--;
		at = sl__utf8_check(s, len);
	}
	*o = '\0';
	*out_clean = out;
	return 0;
}
