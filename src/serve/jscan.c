/*
 * The JSON pull scanner (jscan.h): RFC 8259 checked byte by byte, values
 * handed out as spans of the body, nothing allocated.
 */
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/core.h"
#include "dataset/dataset.h"
#include "serve/jscan.h"
#include "serve/jscan_pow5.h"

static int fail_at(jscan *s, const char *at, const char *msg)
{
	if (!s->err) {
		s->err = msg;
		s->err_at = (size_t)(at - s->base);
	}
	return -1;
}

int jscan_fail(jscan *s, const char *msg)
{
	return fail_at(s, s->p, msg);
}

void jscan_init(jscan *s, const char *text, size_t len)
{
	s->base = s->p = text;
	s->end = text + len;
	s->depth = 0;
	s->skipping = false;
	s->err = NULL;
	s->err_at = 0;
}

/* White space is at most ' ': anything above it ends the run in one test. */
static inline void ws(jscan *s)
{
	const char *p = s->p, *end = s->end;

	while (p < end && (unsigned char)*p <= ' ' &&
	       (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	s->p = p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p (which has at least 4 bytes); -1 when not. */
static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

const bool jscan_plain_char[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static __attribute__((noinline)) jtok string_slow(jscan *s, jval *v)
{
	const char *p = s->p + 1, *start = p, *end = s->end;
	bool high = false;

	v->esc = false;
	for (;;) {
		unsigned char c;
		/* The common case: plain ASCII runs. */
		while (p < end && jscan_plain_char[(unsigned char)*p])
			p++;
		if (p >= end)
			return fail_at(s, start - 1, "unterminated string");
		c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c >= 0x80) {
			high = true;
			p++;
			continue;
		}
		if (c < 0x20)
			return fail_at(s, p, "control character in a string (escape it)");
		/* A backslash. */
		v->esc = true;
		if (p + 1 >= end)
			return fail_at(s, p, "unterminated string");
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p += 2;
			break;
		case 'u': {
			long u;
			if (end - p < 6 || (u = hex4(p + 2)) < 0)
				return fail_at(s, p, "bad \\u escape (four hex digits expected)");
			if (u >= 0xDC00 && u <= 0xDFFF)
				return fail_at(s, p, "lone low surrogate in \\u escape");
			p += 6;
			if (u >= 0xD800 && u <= 0xDBFF) {
				long lo;
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    (lo = hex4(p + 2)) < 0xDC00 || lo > 0xDFFF)
					return fail_at(s, p, "high surrogate without its low half");
				p += 6;
			}
			break;
		}
		default:
			return fail_at(s, p, "bad escape in a string");
		}
	}
	v->t = J_STR;
	v->s = start;
	v->len = (size_t)(p - start);
	if (high && sl__utf8_check(start, v->len) != v->len)
		return fail_at(s, start + sl__utf8_check(start, v->len), "invalid UTF-8 in a string");
	s->p = p + 1;
	return J_STR;
}

/*
 * A string: the common one (no escape, no byte from 0x80, its closing
 * quote within sixteen bytes: keys, names, datatypes) told by one SSE2
 * step inline, without the registers the general reading saves; else
 * string_slow.
 */
static inline jtok string(jscan *s, jval *v)
{
#ifdef __SSE2__
	const char *p = s->p + 1;

	if (s->end - p >= 16) {
		/* The bytes that are not plain: a quote, a backslash, or
		 * (compared as signed) one below ' ' or from 0x80. */
		const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		int m = _mm_movemask_epi8(
			_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
						  _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
				     _mm_cmplt_epi8(x, _mm_set1_epi8(' '))));
		size_t n = m ? (size_t)__builtin_ctz((unsigned)m) : 16;
		if (n < 16 && p[n] == '"') {
			v->t = J_STR;
			v->s = p;
			v->len = n;
			v->esc = false;
			s->p = p + n + 1;
			return J_STR;
		}
	}
#endif
	return string_slow(s, v);
}

static inline bool digit(const char *p, const char *end)
{
	return p < end && (unsigned char)(*p - '0') <= 9;
}

/*
 * w * 10^q correctly rounded, for the numbers of 16 to 19 digits that
 * writers of shortest round-trip text (%.17g, Python's repr) send and that
 * the exact path below cannot take. The idea is Eisel and Lemire's: 10^q
 * is 5^q * 2^q, and a 128-bit truncation T of 5^q (scaled by 2^s, from
 * jscan_pow5.h) times w, normalised to 64 bits, gives the top bits of the
 * exact product. Here the error is bounded rather than estimated:
 *
 *   P = (w << l) * T is below the exact (w << l) * 5^q * 2^s by less than
 *   w << l < 2^64, so the exact product divided by 2^64 lies in [u, u + 2)
 *   where u = floor(P / 2^64), a 128-bit number of 127 or 128 bits.
 *
 * The 53 bits of the result are u's top 53; the bits below them (rem)
 * decide the rounding, and they do so for every value in [u, u + 2) unless
 * rem is within 2 below the halfway point. Then, and for results outside
 * the normal range, it returns false and the caller asks ds_parse_f64: an
 * exact tie (9007199254740993) always goes there. (A value that is exactly
 * a double, its digits times a negative power of ten, can come out just
 * below it, with rem near the next mantissa: rounding up gives it.)
 */
bool jscan__decimal(uint64_t w, int q, double *out)
{
	typedef unsigned __int128 u128;
	const struct jscan_pow5 *t;
	u128 u, rem, half, one;
	uint64_t mant, bits;
	int l, shift;
	long e;

	if (w == 0) {
		*out = 0;
		return true;
	}
	if (q < JSCAN_POW5_QMIN || q > JSCAN_POW5_QMAX)
		return false;
	t = &jscan_pow5[q - JSCAN_POW5_QMIN];
	l = __builtin_clzll(w);
	w <<= l;
	u = (u128)w * t->hi + (((u128)w * t->lo) >> 64);
	/* w >= 2^63 and T >= 2^127: u >= 2^126. */
	shift = (u >> 127) ? 75 : 74;
	mant = (uint64_t)(u >> shift);
	one = (u128)1 << shift;
	half = one >> 1;
	rem = u & (one - 1);
	if (rem + 2 <= half) {
		/* below the halfway point: down */
	} else if (rem > half) {
		/* Above the halfway point, or at most 2 short of the next
		 * mantissa, past which the rest is below 2: up either way. */
		if (++mant == (uint64_t)1 << 53) {
			mant >>= 1;
			shift++;
		}
	} else {
		return false;
	}
	/* The value is mant * 2^(shift + 64 + q - l - s), mant of 53 bits. */
	e = (long)shift + 64 + q - l - t->s + 52 + 1023;
	if (e < 1 || e > 2046)
		return false;
	bits = ((uint64_t)e << 52) | (mant & (((uint64_t)1 << 52) - 1));
	memcpy(out, &bits, sizeof bits);
	return true;
}

static const double pow10_exact[] = {
	1e0,  1e1,  1e2,  1e3,	1e4,  1e5,  1e6,  1e7,	1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * A number is checked and converted in one pass: the digits are gathered
 * into an integer while the grammar is checked, and when it and its power
 * of ten are both exact doubles (at most 19 digits, below 2^53, |exp| up
 * to 22) one multiplication or division rounds correctly; other numbers
 * of at most 19 significant digits (shortest round-trip text is 17) go to
 * jscan__decimal. Anything else, and what that finds ambiguous, goes to
 * ds_parse_f64 (the same answer, a second look at the text): a request's
 * numbers are nearly all of the first two kinds, and reading them with
 * strtod was a third of a one-row request's user time.
 */
static inline __attribute__((always_inline)) jtok number(jscan *s, jval *v)
{
	const char *p = s->p, *end = s->end, *start = p;
	bool neg = false;
	uint64_t m = 0;
	int nd = 0, x = 0;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!digit(p, end))
		return fail_at(s, start, "bad number");
	if (*p == '0') {
		p++;
	} else {
		for (; digit(p, end); p++)
			if (++nd <= 19)
				m = m * 10 + (uint64_t)(*p - '0');
	}
	if (p < end && *p == '.') {
		p++;
		if (!digit(p, end))
			return fail_at(s, p, "bad number: digits expected after '.'");
		/* Zeros before the first significant digit ("0.000123") only
		 * scale: they do not count against the 19 digits m holds. */
		for (; digit(p, end); p++)
			if (m == 0 && *p == '0')
				x--;
			else if (++nd <= 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				x--;
			}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false;
		int e = 0;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (!digit(p, end))
			return fail_at(s, p, "bad number: digits expected in the exponent");
		for (; digit(p, end); p++)
			if (e < 10000)
				e = e * 10 + (*p - '0');
		x += eneg ? -e : e;
	}
	v->t = J_NUM;
	v->s = start;
	v->len = (size_t)(p - start);
	v->esc = false;
	/* Skipped values are checked, not converted (the second pass does). */
	if (s->skipping) {
		v->num = 0;
	} else if (nd <= 19 && m <= ((uint64_t)1 << 53) && x >= -22 && x <= 22) {
		double d = (double)m;
		d = x < 0 ? d / pow10_exact[-x] : d * pow10_exact[x];
		v->num = neg ? -d : d;
	} else if (nd <= 19 && jscan__decimal(m, x, &v->num)) {
		if (neg)
			v->num = -v->num;
	} else if (!ds_parse_f64(start, v->len, &v->num)) {
		return fail_at(s, start, "bad number");
	}
	s->p = p;
	return J_NUM;
}

/* number() out of line, for jscan_value: inlined there it made every
 * bracket and string pay for the registers a number's reading saves. */
static __attribute__((noinline)) jtok number_value(jscan *s, jval *v)
{
	return number(s, v);
}

static jtok literal(jscan *s, jval *v, const char *word, size_t n, jtok t)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
		return fail_at(s, s->p, "expected a value");
	v->t = t;
	v->s = s->p;
	v->len = n;
	v->esc = false;
	s->p += n;
	return t;
}

jtok jscan_value(jscan *s, jval *v)
{
	if (s->err)
		return J_ERR;
	ws(s);
	if (s->p >= s->end)
		return fail_at(s, s->p, "unexpected end of the body (a value expected)");
	switch (*s->p) {
	case '{':
	case '[':
		if (s->depth >= JSCAN_MAX_DEPTH)
			return fail_at(s, s->p, "nested too deeply");
		s->depth++;
		v->t = *s->p == '{' ? J_OBJ : J_ARR;
		v->s = s->p++;
		v->len = 1;
		return v->t;
	case '"':
		return string(s, v);
	case 't':
		return literal(s, v, "true", 4, J_TRUE);
	case 'f':
		return literal(s, v, "false", 5, J_FALSE);
	case 'n':
		return literal(s, v, "null", 4, J_NULL);
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return number_value(s, v);
		return fail_at(s, s->p, "expected a value");
	}
}

int jscan_key(jscan *s, bool *first, jval *key)
{
	if (s->err)
		return -1;
	ws(s);
	if (s->p < s->end && *s->p == '}' && *first) {
		s->p++;
		s->depth--;
		return 0;
	}
	if (!*first) {
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			s->depth--;
			return 0;
		}
		if (s->p >= s->end || *s->p != ',')
			return fail_at(s, s->p, "expected ',' or '}'");
		s->p++;
		ws(s);
	}
	*first = false;
	if (s->p >= s->end || *s->p != '"')
		return fail_at(s, s->p, "expected a member name in double quotes");
	if (string(s, key) != J_STR)
		return -1;
	ws(s);
	if (s->p >= s->end || *s->p != ':')
		return fail_at(s, s->p, "expected ':'");
	s->p++;
	return 1;
}

int jscan_more(jscan *s, bool *first)
{
	if (s->err)
		return -1;
	ws(s);
	if (s->p < s->end && *s->p == ']' && *first) {
		s->p++;
		s->depth--;
		return 0;
	}
	if (!*first) {
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			s->depth--;
			return 0;
		}
		if (s->p >= s->end || *s->p != ',')
			return fail_at(s, s->p, "expected ',' or ']'");
		s->p++;
	}
	*first = false;
	return 1;
}

int jscan_next_num(jscan *s, bool *first, jval *v)
{
	const char *p, *end = s->end;

	if (s->err)
		return -1;
	ws(s);
	p = s->p;
	if (p < end && *p == ']') {
		s->p = p + 1;
		s->depth--;
		return 0;
	}
	if (!*first) {
		if (p >= end || *p != ',')
			return fail_at(s, p, "expected ',' or ']'");
		s->p = ++p;
		ws(s);
		p = s->p;
	}
	*first = false;
	if (p < end && (*p == '-' || (*p >= '0' && *p <= '9')))
		return number(s, v) == J_NUM ? 1 : -1;
	return 2;
}

/*
 * Near the end of the text the inline reader could read past it: the rest
 * (under JSCAN__PLAIN_READ bytes) is copied into zeros, which end a number
 * as the end of the text does, and read there.
 */
jscan_plain jscan__plain_tail(const char *p, const char *end, bool first)
{
	char t[2 * JSCAN__PLAIN_READ] = {0};
	size_t n = (size_t)(end - p);
	jscan_plain r;

	memcpy(t, p, n);
	r = jscan__plain(t, t + n, t + sizeof t, first);
	if (r.q) {
		r.q = p + (r.q - t);
		r.at = p + (r.at - t);
	}
	return r;
}

static int skip(jscan *s)
{
	jval v;
	bool first = true;
	int r;

	switch (jscan_value(s, &v)) {
	case J_ERR:
		return -1;
	case J_OBJ:
		while ((r = jscan_key(s, &first, &v)) > 0)
			if (skip(s))
				return -1;
		return r;
	case J_ARR:
		while ((r = jscan_more(s, &first)) > 0)
			if (skip(s))
				return -1;
		return r;
	default:
		return 0;
	}
}

int jscan_skip(jscan *s)
{
	bool was = s->skipping;
	int r;

	s->skipping = true;
	r = skip(s);
	s->skipping = was;
	return r;
}

static const bool bracket_or_quote[256] = {['['] = true, [']'] = true, ['{'] = true,
					   ['}'] = true, ['"'] = true};

/* The first bracket or quote in [p, end), or end: sixteen bytes a step
 * where SSE2 is there (a tensor's data is long runs of digits), the last
 * of them too when the text (from base) has sixteen bytes. */
static const char *next_bracket(const char *p, const char *end, const char *base)
{
#ifdef __SSE2__
	/* '[' ']' '{' '}' are 0x5b 0x5d 0x7b 0x7d: with bit 5 set, 0x7b or 0x7d. */
	const __m128i bit5 = _mm_set1_epi8(0x20), open = _mm_set1_epi8('{'),
		      close = _mm_set1_epi8('}'), quote = _mm_set1_epi8('"');
	__m128i x, y;
	int m;

	while (end - p >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)p);
		y = _mm_or_si128(x, bit5);
		m = _mm_movemask_epi8(_mm_or_si128(
			_mm_or_si128(_mm_cmpeq_epi8(y, open), _mm_cmpeq_epi8(y, close)),
			_mm_cmpeq_epi8(x, quote)));
		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
	/* The rest: the text's last sixteen bytes, those before p shifted out. */
	if (p < end && end - base >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
		y = _mm_or_si128(x, bit5);
		m = _mm_movemask_epi8(_mm_or_si128(
			_mm_or_si128(_mm_cmpeq_epi8(y, open), _mm_cmpeq_epi8(y, close)),
			_mm_cmpeq_epi8(x, quote)));
		m >>= 16 - (end - p);
		return m ? p + __builtin_ctz((unsigned)m) : end;
	}
#else
	(void)base;
#endif
	while (p < end && !bracket_or_quote[(unsigned char)*p])
		p++;
	return p;
}

int jscan_skip_brackets(jscan *s)
{
	const char *p, *end = s->end;
	int depth = 0;

	if (s->err)
		return -1;
	ws(s);
	p = s->p;
	if (p >= end || (*p != '[' && *p != '{'))
		return jscan_skip(s);
	/* Only brackets and strings (whose contents may hold brackets)
	 * matter; strings are passed with their escapes, unchecked. */
	for (; p < end; p++) {
		char c;
		p = next_bracket(p, end, s->base);
		if (p >= end)
			break;
		c = *p;
		if (c == '[' || c == '{') {
			depth++;
		} else if (c == ']' || c == '}') {
			if (--depth == 0) {
				s->p = p + 1;
				return 0;
			}
		} else if (c == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			if (p >= end)
				break;
		}
	}
	return fail_at(s, s->p, "unterminated array or object");
}

int jscan_end(jscan *s)
{
	if (s->err)
		return -1;
	ws(s);
	if (s->p != s->end)
		return fail_at(s, s->p, "unexpected text after the JSON value");
	return 0;
}

static size_t put_utf8(char *d, unsigned long u)
{
	if (u < 0x80) {
		d[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		d[0] = (char)(0xC0 | (u >> 6));
		d[1] = (char)(0x80 | (u & 0x3F));
		return 2;
	}
	if (u < 0x10000) {
		d[0] = (char)(0xE0 | (u >> 12));
		d[1] = (char)(0x80 | ((u >> 6) & 0x3F));
		d[2] = (char)(0x80 | (u & 0x3F));
		return 3;
	}
	d[0] = (char)(0xF0 | (u >> 18));
	d[1] = (char)(0x80 | ((u >> 12) & 0x3F));
	d[2] = (char)(0x80 | ((u >> 6) & 0x3F));
	d[3] = (char)(0x80 | (u & 0x3F));
	return 4;
}

size_t jscan_unescape(const jval *v, char *dst)
{
	const char *p = v->s, *end = v->s + v->len;
	char *d = dst;

	if (!v->esc) {
		memcpy(dst, v->s, v->len);
		return v->len;
	}
	while (p < end) {
		unsigned long u;
		if (*p != '\\') {
			*d++ = *p++;
			continue;
		}
		switch (p[1]) {
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'u':
			u = (unsigned long)hex4(p + 2);
			if (u >= 0xD800 && u <= 0xDBFF) {
				unsigned long lo = (unsigned long)hex4(p + 8);
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			d += put_utf8(d, u);
			p += 6;
			continue;
		default: /* " \ / */
			*d++ = p[1];
			break;
		}
		p += 2;
	}
	return (size_t)(d - dst);
}

bool jscan_eq_n(const jval *v, const char *lit, size_t n)
{
	char buf[256];

	if (!v->esc)
		return v->len == n && !memcmp(v->s, lit, n);
	if (v->len > sizeof buf)
		return false;
	return jscan_unescape(v, buf) == n && !memcmp(buf, lit, n);
}

const char *jscan_where(const jscan *s, char *buf, size_t size)
{
	size_t line = 1, col = 1;

	for (size_t i = 0; i < s->err_at && s->base + i < s->end; i++) {
		if (s->base[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(buf, size, "line %zu, column %zu", line, col);
	return buf;
}
