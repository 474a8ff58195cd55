/*
 * A pull scanner for JSON request bodies: the server's fast path. Prefix
 * jscan_.
 *
 * jansson builds a tree with one allocation per value; a one-row request
 * for a 57-column model is some 70 allocations and frees, more time than
 * scoring it. The codecs (v2.c, mlflow.c, feedback) know the shape they
 * expect, so they walk the body with this scanner instead: no allocation,
 * every value handed out as a span of the body, the whole text still
 * checked against RFC 8259 (grammar, string escapes, UTF-8, number syntax)
 * so that what the log copies out of a body is valid JSON (a value passed
 * with jscan_skip_brackets is checked when its caller scans it again).
 *
 *   jscan_init(&s, body, len)
 *   jscan_value(&s, &v)          next value: a scalar, or J_OBJ / J_ARR with
 *                                its opening bracket consumed
 *   jscan_key(&s, &first, &k)    inside an object: 1 and the next key (colon
 *                                consumed), 0 at '}', or -1
 *   jscan_more(&s, &first)       inside an array: 1 when an element follows,
 *                                0 at ']', or -1
 *   jscan_next_num(&s, &first, &v) jscan_more and, when a number follows,
 *                                jscan_value in one call (a tensor's data)
 *   jscan_next_plain(&s, first, &at, &d) the same for a plain number only,
 *                                inline, nothing moved (the fast path)
 *   jscan_skip(&s)               skips the next value, checking it
 *   jscan_skip_brackets(&s)      skips it unchecked, to be scanned again
 *   jscan_end(&s)                only white space remains
 *
 * Invariants:
 *  1. A function that fails returns -1 (J_ERR) and leaves the message in
 *     s->err (a static string) at s->err_at; every later call fails too, so
 *     a codec can check once at the end of a loop.
 *  2. Nesting deeper than JSCAN_MAX_DEPTH is an error, not a stack overflow.
 *  3. Spans point into the body, which must outlive their use; a string's
 *     span excludes its quotes and is still escaped (jscan_unescape).
 */
#ifndef SLUICE_JSCAN_H
#define SLUICE_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JSCAN_MAX_DEPTH 64

typedef enum jtok {
	J_ERR = -1,
	J_STR = 1,
	J_NUM,
	J_TRUE,
	J_FALSE,
	J_NULL,
	J_OBJ, /* '{' consumed */
	J_ARR  /* '[' consumed */
} jtok;

typedef struct jval {
	jtok t;
	const char *s; /* J_STR: the characters between the quotes (escaped);
			* J_NUM: the number's text; J_OBJ/J_ARR: the bracket */
	size_t len;
	bool esc;      /* J_STR: holds a backslash escape */
	double num;    /* J_NUM: the value, correctly rounded */
} jval;

typedef struct jscan {
	const char *base, *p, *end;
	int depth;
	bool skipping;   /* inside jscan_skip: numbers are checked, not converted */
	const char *err; /* NULL until something is wrong */
	size_t err_at;   /* byte offset of the problem */
} jscan;

void jscan_init(jscan *s, const char *text, size_t len);
/* The next value (see above); J_ERR on error. */
jtok jscan_value(jscan *s, jval *v);
/* Object members and array elements; *first starts true after J_OBJ/J_ARR. */
int jscan_key(jscan *s, bool *first, jval *key);
int jscan_more(jscan *s, bool *first);
/*
 * jscan_more, then the element when it is a number: 1 with it in *v, 0 at
 * ']', 2 when an element follows that is not a number (read it with
 * jscan_value), or -1. The element loop of numeric data, in one call.
 */
int jscan_next_num(jscan *s, bool *first, jval *v);
/*
 * The fast path of a numeric array's elements (inline: a one-row request
 * is mostly these). When the next element (after its ',' unless first) is
 * a plain number -- an optional '-', integer digits without a leading
 * zero, optionally '.' and digits, no exponent, 19 digits in all at most
 * (after "0." and up to four zeros, 19 more) -- returns the position just past it, its text's start in *at and its value in *d. Nothing is
 * moved: a caller taking the number sets s->p to the result and its first
 * flag to false. Else NULL: jscan_next_num then reads the same element,
 * checking it. The value is correctly rounded, strtod's and jscan_next_num's:
 * up to 2^53 it is exact in a double's mantissa and divided once by an
 * exact power of ten; above (16 to 19 digits) jscan__decimal rounds it, or
 * leaves the rare ambiguous one to the checking path.
 */
static inline const char *jscan_next_plain(const jscan *s, bool first, const char **at,
					   double *d);
/*
 * The same from p in a text ending at end, for a loop that keeps its
 * position to itself (and has checked s->err): the number's end in .q
 * (NULL when there is no plain number), its start in .at, its value in .d.
 */
typedef struct jscan_plain {
	const char *q, *at;
	double d;
} jscan_plain;
static inline jscan_plain jscan_read_plain(const char *p, const char *end, bool first);
/* Skips one value (a whole object or array), checking it. 0 or -1. */
int jscan_skip(jscan *s);
/*
 * Skips the next value when it is an array or object by matching brackets
 * only (strings honoured), without checking what is inside: for a value
 * the caller scans again with the checking functions before using it, and
 * checks with jscan_skip when it is not going to. A scalar is skipped as
 * jscan_skip does. 0 or -1.
 */
int jscan_skip_brackets(jscan *s);
/* 0 when only white space is left, else -1. */
int jscan_end(jscan *s);
/* Fails the scan with a message (for shape errors found by a codec). Returns -1. */
int jscan_fail(jscan *s, const char *msg);

/* True when a key or string value equals lit (escapes are compared decoded). */
bool jscan_eq_n(const jval *v, const char *lit, size_t n);
/* Inline so that a literal's length is known where it is compared, and a
 * key without escapes (nearly every one) is compared without a call. */
static inline bool jscan_eq(const jval *v, const char *lit)
{
	size_t n = strlen(lit);

	if (!v->esc)
		return v->len == n && !memcmp(v->s, lit, n);
	return jscan_eq_n(v, lit, n);
}
/*
 * Decodes a J_STR span into dst, which must hold v->len bytes (decoding
 * never lengthens a string). Returns the decoded length. The span was
 * checked by the scanner, so this cannot fail.
 */
size_t jscan_unescape(const jval *v, char *dst);

/*
 * w * 10^q correctly rounded (w < 10^20): true with it in *out, or false
 * when it cannot say cheaply (a tie or nearly one, a result that is not a
 * normal double), and strtod must. jscan.c explains how.
 */
bool jscan__decimal(uint64_t w, int q, double *out);

/*
 * The bytes a JSON string holds as they are, read or written: not a control
 * character, a quote, a backslash or a byte of a multi-byte character.
 */
extern const bool jscan_plain_char[256];

/* "line L, column C" of the error, for messages (writes into buf). */
const char *jscan_where(const jscan *s, char *buf, size_t size);

/* ---- the inline fast path (jscan_next_plain) ---------------------------- */

/* Bytes jscan__plain may read from where it starts. */
#define JSCAN__PLAIN_READ 32

static inline bool jscan__ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The digit at p (0..9), or a larger number when *p is no digit. */
static inline unsigned jscan__digit(const char *p)
{
	return (unsigned)((unsigned char)*p - '0');
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSCAN__SWAR 1
/*
 * Eight digits at once, for the long fractions of shortest round-trip
 * text: w holds eight bytes as loaded (the first in the low byte); true
 * when all are digits. A digit is 0x30..0x39: its high nibble is 3, and
 * adding 6 keeps it 3 (0x3A + 6 is 0x40).
 */
static inline bool jscan__digits8(uint64_t w)
{
	const uint64_t hi = 0xF0F0F0F0F0F0F0F0u, three = 0x3030303030303030u;

	return (w & hi) == three && ((w + 0x0606060606060606u) & hi) == three;
}

/*
 * Their value: pairs of digits into 16-bit lanes (the first digit is the
 * low byte, so it is the one multiplied by 10), pairs of pairs into 32-bit
 * lanes, then the two halves. No lane carries into the next: 10*9+9, 100*99+99
 * and 10^4*9999+9999 fit their lanes.
 */
static inline uint64_t jscan__value8(uint64_t w)
{
	w -= 0x3030303030303030u;
	w = (w * 10 + (w >> 8)) & 0x00FF00FF00FF00FFu;
	w = (w * 100 + (w >> 16)) & 0x0000FFFF0000FFFFu;
	return (w * 10000 + (w >> 32)) & 0xFFFFFFFFu;
}
#endif

/*
 * The shapes requests carry most, one to three integer digits and perhaps
 * a point and one to three digits after it ("0.0", "0.64", "61", "278.0",
 * "3.756"), read unrolled from q, the first digit (eight bytes readable):
 * the position past the number in .q (q in .at) and its value in .d, or .q
 * NULL for any other shape (jscan__long then decides; it also rejects what
 * is no number). A loop's test and bound per digit cost more than such a
 * number's whole reading, some 30 instructions; so did one 8-byte load
 * with the point and the end found by bit tricks (about 80, with the
 * variable shifts and masks that removing the point takes). At most six
 * digits: the value is exact in a double, as its power of ten is, so one
 * division rounds it correctly (strtod's bits; a multiplication by 10^-f
 * would not be).
 */
static inline __attribute__((always_inline)) jscan_plain jscan__short(const char *q)
{
	static const double p10[4] = {1e0, 1e1, 1e2, 1e3};
	const jscan_plain none = {NULL, NULL, 0};
	const unsigned point = '.' - '0';
	unsigned m = jscan__digit(q), c, nf = 0;
	const char *e = q + 1;

	if (m > 9)
		return none;
	if ((c = jscan__digit(e)) <= 9) {
		if (!m) /* a leading zero */
			return none;
		m = m * 10 + c;
		if ((c = jscan__digit(++e)) <= 9) {
			m = m * 10 + c;
			if ((c = jscan__digit(++e)) <= 9)
				return none;
		}
	}
	if (c == point) {
		if ((c = jscan__digit(++e)) > 9)
			return none;
		m = m * 10 + c;
		nf = 1;
		if ((c = jscan__digit(++e)) <= 9) {
			m = m * 10 + c;
			nf = 2;
			if ((c = jscan__digit(++e)) <= 9) {
				m = m * 10 + c;
				nf = 3;
				if ((c = jscan__digit(++e)) <= 9)
					return none;
			}
		}
	}
	/* An exponent: 'e' and 'E' less '0' are 0x35 and 0x15. */
	if ((c | 0x20) == 0x35)
		return none;
	return (jscan_plain){e, q, (double)m / p10[nf]};
}

/*
 * Any plain number (jscan_next_plain says which) from p, its '-' or first
 * digit, with JSCAN__PLAIN_READ - 2 bytes readable there (past the text's
 * end they are not digits): the position past it in .q (p in .at) and its
 * value in .d, or .q NULL when it is none. (Returned, not stored through a
 * pointer: a loop keeps it in registers.)
 */
static inline jscan_plain jscan__long(const char *p)
{
	static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	const jscan_plain none = {NULL, NULL, 0};
	const char *q = p + (*p == '-'), *lim;
	uint64_t m;
	unsigned c, nf = 0;
	double v;

	/*
	 * Byte by byte, without a bound check per byte: a plain number reads
	 * at most 27 bytes from its start (a '-', "0.", 4 zeros, 19 digits,
	 * the byte that ends it).
	 */
	if ((m = jscan__digit(q)) > 9)
		return none;
	q++;
	/* At most 19 digits go into m, which stays below 10^19 < 2^64: lim
	 * stops the runs there (a longer one is left to the checking path). */
	lim = q + 18;
	if (m)
		while ((c = jscan__digit(q)) <= 9 && q < lim) {
			m = m * 10 + c;
			q++;
		}
	if (*q == '.') {
		const char *f = ++q;
		/* After "0." up to four zeros (what %.17g and Python's repr
		 * write down to 1e-4) only scale: 19 digits may follow them. */
		if (m == 0) {
			while (*q == '0' && q - f < 4)
				q++;
			lim = q + 19;
		} else {
			lim++;
		}
#ifdef JSCAN__SWAR
		/* Eight at a time while all eight are digits (the long
		 * fractions of shortest round-trip text), within the bytes the
		 * check above allows (q + 8 <= lim). A fraction of fewer than
		 * four digits is told by two bytes first. */
		if (jscan__digit(q + 1) <= 9 && jscan__digit(q + 3) <= 9)
			while (lim - q >= 8) {
				uint64_t w;
				memcpy(&w, q, 8);
				if (!jscan__digits8(w))
					break;
				m = m * 100000000 + jscan__value8(w);
				q += 8;
			}
#endif
		while ((c = jscan__digit(q)) <= 9 && q < lim) {
			m = m * 10 + c;
			q++;
		}
		if (!(nf = (unsigned)(q - f)))
			return none;
	}
	/* A run cut at 19 digits, a leading zero ("01"), an exponent. */
	if (jscan__digit(q) <= 9 || (*q | 0x20) == 'e')
		return none;
	if (m <= (uint64_t)1 << 53 && nf <= 22) {
		v = (double)(int64_t)m;
		if (nf)
			v /= p10[nf];
	} else if (!jscan__decimal(m, -(int)nf, &v)) {
		return none;
	}
	return (jscan_plain){q, p, *p == '-' ? -v : v};
}

/* jscan__long, the short shapes first (a '-' costs them a second look). */
static inline __attribute__((always_inline)) jscan_plain jscan__num(const char *p)
{
	jscan_plain r = jscan__short(p);

	if (r.q)
		return r;
	if (*p == '-' && (r = jscan__short(p + 1)).q) {
		r.at = p;
		r.d = -r.d;
		return r;
	}
	return jscan__long(p);
}

/*
 * jscan_next_plain's reading, from p in a text ending at end whose bytes
 * may be read up to rend (rend >= end; past end they are not digits).
 */
static inline jscan_plain jscan__plain(const char *p, const char *end, const char *rend,
				       bool first)
{
	const jscan_plain none = {NULL, NULL, 0};

	/* What leads the number here reads 2 bytes more than jscan__long. */
	if (rend - p < JSCAN__PLAIN_READ)
		return none;
	if (!first) {
		if (*p != ',') {
			while (p < end && jscan__ws(*p))
				p++;
			if (rend - p < JSCAN__PLAIN_READ || *p != ',')
				return none;
		}
		/* ", " as most writers put it, without a loop. */
		p += 1 + (p[1] == ' ');
	}
	if (jscan__ws(*p)) {
		do
			p++;
		while (p < end && jscan__ws(*p));
		if (rend - p < JSCAN__PLAIN_READ - 2)
			return none;
	}
	return jscan__num(p);
}

/* The last bytes of a text, read from a copy with room after it. */
jscan_plain jscan__plain_tail(const char *p, const char *end, bool first);

static inline jscan_plain jscan_read_plain(const char *p, const char *end, bool first)
{
	if (end - p < JSCAN__PLAIN_READ)
		return jscan__plain_tail(p, end, first);
	return jscan__plain(p, end, end, first);
}

static inline const char *jscan_next_plain(const jscan *s, bool first, const char **at,
					   double *d)
{
	jscan_plain r;

	if (s->err)
		return NULL;
	r = jscan_read_plain(s->p, s->end, first);
	*at = r.at;
	*d = r.d;
	return r.q;
}

#endif
