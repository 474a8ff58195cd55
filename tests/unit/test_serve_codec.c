/*
 * The serving codecs: the JSON scanner agrees with jansson on what is JSON;
 * a V2 request in either layout and every MLflow format (JSON and CSV)
 * decode to the same raw rows and score to the bytes the bundle gives row
 * by row; responses carry exactly the protocol's fields; every bad request
 * names its field; the log record is JSON holding what was asked and
 * answered.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "ml/glm.h"
#include "serve/codec.h"
#include "testutil.h"

/* ---- the scanner ------------------------------------------------------------------- */

static int scan_all(const char *text, size_t len)
{
	jscan js;

	jscan_init(&js, text, len);
	if (jscan_skip(&js) || jscan_end(&js))
		return -1;
	return 0;
}

static void test_jscan_vs_jansson(void **state)
{
	static const char *const cases[] = {
		"{}", "[]", "0", "-0", "1.5e10", "-1.25E-3", "\"a\"", "true", "false", "null",
		"{\"a\":[1,2,{\"b\":null}]}", " [ 1 , 2 ] ", "\"\\u00e9\\n\\\"\"",
		"\"\\ud83d\\ude00\"", "\"caf\xc3\xa9\"", "[1,]", "{\"a\":1,}", "[01]", "[1.]",
		"[.5]", "[1e]", "[+1]", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\tb\"",
		"\"\xff\"", "\"\xc3\"", "[1 2]", "{\"a\" 1}", "{a:1}", "[\"a\"", "", "[]]", "nul",
		"[true,false,null]", "{\"\":0}", "[[[[[[[[[[1]]]]]]]]]]", "[-]", "[1e+5,2E-5]",
		"\"\\/\"", "[\"\\u12\"]", "{\"a\":1 \"b\":2}", "123abc",
		"{\"datatype\": \"FP64\"}", "[\"fifteen bytes..\"]", "[\"sixteen bytes...\"]",
		"[\"a\x7f\"]", "[\"a\x01b\"]", "[\"caf\xc3\xa9 au lait\"]", "[\"\xc3\x28\"]",
		"[\"a\\\"b\"]", "[\"a\"b\"]",
	};
	char padded[128];

	(void)state;
	/* As they are, and with white space after them: strings with sixteen
	 * bytes after their quote are read by the one-step path first. */
	for (size_t t = 0; t < 2 * SL__ARRAY_LEN(cases); t++) {
		size_t i = t / 2;
		int n = snprintf(padded, sizeof padded, "%s%s", cases[i], t % 2 ? "                    " : "");
		json_error_t e;
		json_t *j = json_loadb(padded, (size_t)n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
		int ours = scan_all(padded, (size_t)n);
		if ((j != NULL) != (ours == 0))
			fail_msg("case %zu '%s': jansson %s, jscan %s", i, padded,
				 j ? "accepts" : "rejects", ours ? "rejects" : "accepts");
		json_decref(j);
	}
}

static void test_jscan_depth_and_unescape(void **state)
{
	char deep[200], buf[64];
	jscan js;
	jval v;

	(void)state;
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(scan_all(deep, 200), -1);
	jscan_init(&js, "\"a\\u00e9\\ud83d\\ude00\\\\\"", 24);
	assert_int_equal(jscan_value(&js, &v), J_STR);
	assert_true(v.esc);
	assert_int_equal(jscan_unescape(&v, buf), 1 + 2 + 4 + 1);
	assert_memory_equal(buf, "a\xc3\xa9\xf0\x9f\x98\x80\\", 8);
	jscan_init(&js, "{\"na\\u006de\": 1}", 16);
	assert_int_equal(jscan_value(&js, &v), J_OBJ);
	{
		bool first = true;
		assert_int_equal(jscan_key(&js, &first, &v), 1);
		assert_true(jscan_eq(&v, "name"));
	}
}

/* The value jscan gives a number is strtod's (correctly rounded), on the
 * one-pass path and on the fallback alike. */
static void check_number(const char *text)
{
	jscan js;
	jval v;
	double want = strtod(text, NULL);

	jscan_init(&js, text, strlen(text));
	if (jscan_value(&js, &v) != J_NUM)
		fail_msg("'%s' did not scan as a number: %s", text, js.err ? js.err : "?");
	if (memcmp(&v.num, &want, sizeof want))
		fail_msg("'%s': jscan %.17g, strtod %.17g", text, v.num, want);
	assert_int_equal(v.len, strlen(text));
}

static void test_jscan_numbers(void **state)
{
	static const char *const cases[] = {
		"0", "-0", "0.0", "-0.0", "1", "0.64", "278.0", "3.756", "61.0", "1.29",
		"9007199254740992", "9007199254740993", "9007199254740993.0",
		"1234567890123456789", "12345678901234567890", "0.1e-22", "1e22", "1e23",
		"1e-22", "1e-23", "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308",
		"1e309", "-1e309", "0.00000000000000000001", "0.30000000000000004",
		"123456789012345678901234567890", "1.5E+3", "2e-0", "7E00022",
		"0.000000000000000000000000000001", "1e99999999999",
	};
	char buf[64];
	sl__rng r;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_number(cases[i]);
	/* Random decimals of 1 to 20 digits and random exponents: both paths. */
	sl__rng_seed(&r, 9);
	for (int i = 0; i < 20000; i++) {
		int nd = 1 + (int)sl__rng_below(&r, 20), dot = (int)sl__rng_below(&r, (uint64_t)nd + 1);
		size_t n = 0;
		if (sl__rng_below(&r, 2))
			buf[n++] = '-';
		for (int d = 0; d < nd; d++) {
			if (d == dot && d > 0)
				buf[n++] = '.';
			buf[n++] = (char)('0' + (d == 0 && nd > 1 && dot != 1 ? 1 + sl__rng_below(&r, 9)
									     : sl__rng_below(&r, 10)));
		}
		if (sl__rng_below(&r, 3) == 0)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "e%d",
					      (int)sl__rng_below(&r, 61) - 30);
		buf[n] = 0;
		check_number(buf);
	}
}

/*
 * The same text read the way a request's data is read: jscan_next_plain
 * when it takes it, and jscan_value always; both must give strtod's bits.
 * Returns whether the inline path took it.
 */
static bool check_both(const char *num, size_t *decimal_ok)
{
	char text[96];
	double want = strtod(num, NULL), d = 0;
	int n = snprintf(text, sizeof text, "[%s]", num);
	const char *q, *at;
	jscan js;
	jval v;
	bool took;

	jscan_init(&js, text, (size_t)n);
	assert_int_equal(jscan_value(&js, &v), J_ARR);
	took = (q = jscan_next_plain(&js, true, &at, &d)) != NULL;
	if (took && (memcmp(&d, &want, 8) || at != text + 1 || q != text + n - 1))
		fail_msg("'%s': inline %.17g, strtod %.17g", num, d, want);
	assert_int_equal(jscan_next_num(&js, &(bool){true}, &v), 1);
	if (memcmp(&v.num, &want, 8) || v.len != strlen(num))
		fail_msg("'%s': jscan_value %.17g, strtod %.17g", num, v.num, want);
	/* Which way it went: for the counts that keep the test honest. */
	if (decimal_ok) {
		const char *p = num + (*num == '-');
		uint64_t m = 0;
		int x = 0, nd = 0;
		bool frac = false;
		for (; *p && *p != 'e'; p++) {
			if (*p == '.') {
				frac = true;
				continue;
			}
			if (m == 0 && *p == '0') {
				x -= frac;
				continue;
			}
			if (++nd > 19)
				return took;
			m = m * 10 + (uint64_t)(*p - '0');
			x -= frac;
		}
		if (*p == 'e')
			x += atoi(p + 1);
		if (m > (uint64_t)1 << 53 && jscan__decimal(m, x, &d))
			++*decimal_ok;
	}
	return took;
}

/*
 * jscan__decimal against strtod, bit for bit: every w * 10^q it answers
 * (w of up to 19 digits, q over and past the range of doubles) is
 * strtod's; and the texts clients send -- shortest round-trip (%.17g,
 * %.16g) of random doubles across the whole range, random digit strings,
 * and the texts nearest the halfway points between neighbouring doubles,
 * where a sloppy rounding shows -- read to strtod's bits on the inline
 * path and on jscan_value. Most of them must take the new path, or this
 * tested nothing.
 */
static void test_jscan_decimal(void **state)
{
	static const char *const cases[] = {
		"9007199254740993", "9007199254740995", "9007199254740993.0000000001",
		"0.30000000000000004", "0.12345678901234568", "1.7976931348623157e308",
		"2.2250738585072014e-308", "2.2250738585072011e-308", "4.9406564584124654e-324",
		"9999999999999999999", "1000000000000000000", "18446744073709551615",
		"0.1000000000000000055511151231257827", "7.2057594037927933e16",
		"-0.0000000000000000000000000001234567890123456789", "1e-400", "1e400",
		"3.0517578125e-05", "123456789012345678e-5", "0.00012345678901234567",
	};
	char num[80];
	sl__rng r;
	size_t took = 0, total = 0, dec = 0, big = 0;

	(void)state;
	for (size_t i = 0; i < SL__ARRAY_LEN(cases); i++)
		check_both(cases[i], NULL);
	sl__rng_seed(&r, 23);
	/* The conversion alone, over its whole domain and past it. */
	for (int i = 0; i < 1000000; i++) {
		uint64_t w = sl__rng_next(&r) % 10000000000000000000u;
		int q = (int)sl__rng_below(&r, 700) - 370;
		double got, want;
		if (sl__rng_below(&r, 2))
			w >>= sl__rng_below(&r, 64);
		snprintf(num, sizeof num, "%llue%d", (unsigned long long)w, q);
		want = strtod(num, NULL);
		if (jscan__decimal(w, q, &got) && memcmp(&got, &want, 8))
			fail_msg("%s: jscan__decimal %.17g, strtod %.17g", num, got, want);
	}
	for (int i = 0; i < 1500000; i++) {
		uint64_t bits = sl__rng_next(&r);
		double d;
		int kind = (int)sl__rng_below(&r, 5);
		/* Mostly values requests carry (magnitudes 1e-6 to 1e6, where
		 * %.17g writes them positionally), else any finite double. */
		if (kind < 3) {
			d = sl__rng_uniform(&r) * pow(10, (double)sl__rng_below(&r, 13) - 6);
			if (bits & 1)
				d = -d;
		} else {
			memcpy(&d, &bits, 8);
			if (!isfinite(d))
				continue;
		}
		if (kind == 4) {
			/* Halfway to the next double, written with 19 to 21
			 * significant digits and nudged a unit either way. */
			double up = nextafter(d, INFINITY);
			long double mid = ((long double)d + (long double)up) / 2;
			if (!isfinite(up))
				continue;
			snprintf(num, sizeof num, "%.*Le", 18 + (int)sl__rng_below(&r, 3), mid);
		} else {
			snprintf(num, sizeof num, kind == 0 ? "%.16g" : "%.17g", d);
		}
		if (strchr(num, 'e') == NULL)
			big += check_both(num, &dec) && strlen(num) > 16;
		else
			check_both(num, &dec);
		total++;
	}
	/* What repr writes from 1e-4 to 1e-2 ("0.00" and 17 digits) and from
	 * 1e-2 to 1e19: the inline path takes every one. */
	for (int i = 0; i < 50000; i++) {
		double d = pow(10, -4 + 23 * sl__rng_uniform(&r));
		snprintf(num, sizeof num, i % 2 ? "%.17g" : "%.16g", d);
		if (!strchr(num, 'e') && !check_both(num, NULL))
			fail_msg("'%s' was left to the checking path", num);
	}
	/* Random digit strings of up to 21 digits, any point. */
	for (int i = 0; i < 500000; i++) {
		int nd = 1 + (int)sl__rng_below(&r, 21), dot = (int)sl__rng_below(&r, (uint64_t)nd + 1);
		size_t n = 0;
		if (sl__rng_below(&r, 2))
			num[n++] = '-';
		for (int k = 0; k < nd; k++) {
			if (k == dot && k > 0)
				num[n++] = '.';
			num[n++] = (char)('0' + (k == 0 && dot != 1 ? 1 + sl__rng_below(&r, 9)
								   : sl__rng_below(&r, 10)));
		}
		if (sl__rng_below(&r, 3) == 0)
			n += (size_t)snprintf(num + n, sizeof num - n, "e%d",
					      (int)sl__rng_below(&r, 700) - 360);
		num[n] = 0;
		took += check_both(num, NULL);
	}
	if (dec < total / 2 || big < total / 10 || took < 100000)
		fail_msg("of %zu doubles jscan__decimal took %zu, the inline path %zu of more than "
			 "16 digits; %zu digit strings inline",
			 total, dec, big, took);
}

/* What reading an array's elements gave: each number's value bits and
 * span, a marker per other element, and where and how the scan ended. */
typedef struct elems {
	uint64_t got[96][3];
	size_t n, end, err_at;
	const char *err;
	int r;
	size_t plain; /* numbers the fast path took */
} elems;

static void read_elems(const char *text, size_t len, bool use_plain, elems *e)
{
	jscan js;
	jval v;
	bool first = true;

	memset(e, 0, sizeof *e);
	jscan_init(&js, text, len);
	if (jscan_value(&js, &v) != J_ARR)
		fail_msg("'%s' does not start an array", text);
	for (;;) {
		const char *q, *at;
		double d;
		while (use_plain && e->n < 96 && (q = jscan_next_plain(&js, first, &at, &d))) {
			memcpy(&e->got[e->n][0], &d, 8);
			e->got[e->n][1] = (uint64_t)(at - text);
			e->got[e->n++][2] = (uint64_t)(q - at);
			js.p = q;
			first = false;
			e->plain++;
		}
		e->r = jscan_next_num(&js, &first, &v);
		if (e->r <= 0 || e->n == 96)
			break;
		if (e->r == 1) {
			memcpy(&e->got[e->n][0], &v.num, 8);
			e->got[e->n][1] = (uint64_t)(v.s - text);
			e->got[e->n++][2] = v.len;
		} else {
			e->got[e->n++][1] = UINT64_MAX;
			if (jscan_skip(&js))
				break;
		}
	}
	e->end = (size_t)(js.p - text);
	e->err = js.err;
	e->err_at = js.err_at;
}

/*
 * The inline fast path reads an array's numbers as the checking path
 * does: the same values to the bit, the same spans, and the same end or
 * error at the same place, whatever the mix of plain numbers, numbers it
 * leaves (exponents, 20 digits and more, leading zeros), other values,
 * white space, damage, and distance from the end of the text.
 */
static void test_jscan_plain(void **state)
{
	static const char *const other[] = {
		"1e5", "-2.5E-3", "01", "1.", "-", "00.5", "12345678901234567890", "0.12345678901234567890",
		"123456789012345.5", "\"7\"", "null", "[1, 2]", "true", "{}", "-0", "1.5x", "+1",
		".5", "1..2", "9007199254740993", "0.000000000000001", "1e", "--1",
	};
	static const char *const seps[] = {",", ", ", " ,", ",\n\t ", " , ", ",  "};
	char text[2048], num[64];
	sl__rng r;
	size_t plain = 0, total = 0;

	(void)state;
	sl__rng_seed(&r, 17);
	for (int t = 0; t < 20000; t++) {
		size_t n = 0, k = sl__rng_below(&r, 40);
		elems a, b;
		bool damaged = false;
		text[n++] = '[';
		if (sl__rng_below(&r, 4) == 0)
			text[n++] = ' ';
		for (size_t i = 0; i < k; i++) {
			if (i)
				n += (size_t)snprintf(text + n, sizeof text - n, "%s",
						      seps[sl__rng_below(&r, 6) ? 0 + (sl__rng_below(&r, 2))
									   : sl__rng_below(&r, 6)]);
			if (sl__rng_below(&r, 8) == 0) {
				const char *o = other[sl__rng_below(&r, SL__ARRAY_LEN(other))];
				n += (size_t)snprintf(text + n, sizeof text - n, "%s", o);
				continue;
			}
			/* A plain number: a sign, "0" or 1 to 9 digits, and mostly a
			 * fraction, up to 22 digits in all (the fast path takes 19). */
			if (sl__rng_below(&r, 4) == 0)
				text[n++] = '-';
			{
				int ni = sl__rng_below(&r, 3) ? 0 : 1 + (int)sl__rng_below(&r, 9), nf = 0;
				if (ni == 0)
					text[n++] = '0';
				for (int d = 0; d < ni; d++)
					text[n++] = (char)('0' + (d ? sl__rng_below(&r, 10)
								    : 1 + sl__rng_below(&r, 9)));
				if (sl__rng_below(&r, 3)) {
					nf = 1 + (int)sl__rng_below(&r, sl__rng_below(&r, 2) ? 4 : 21);
					text[n++] = '.';
				}
				for (int d = 0; d < nf; d++)
					text[n++] = (char)('0' + sl__rng_below(&r, 10));
			}
		}
		if (sl__rng_below(&r, 10) == 0 && n > 2) {
			/* Damage: one byte anywhere past the bracket. */
			static const char junk[] = ",.e-]x 0[\"";
			text[1 + sl__rng_below(&r, n - 1)] = junk[sl__rng_below(&r, sizeof junk - 1)];
			damaged = true;
		}
		if (sl__rng_below(&r, 5))
			text[n++] = ']';
		/* What follows: nothing, or up to 40 bytes of a body's end. */
		for (size_t pad = sl__rng_below(&r, 3) ? sl__rng_below(&r, 41) : 0; pad > 0; pad--)
			text[n++] = "]}"[pad % 2];
		text[n] = 0;
		read_elems(text, n, false, &a);
		read_elems(text, n, true, &b);
		if (a.n != b.n || memcmp(a.got, b.got, a.n * sizeof a.got[0]) || a.r != b.r ||
		    a.end != b.end || a.err != b.err || a.err_at != b.err_at)
			fail_msg("'%s'%s: checking path %zu elements, end %zu (%s at %zu); fast path "
				 "%zu, end %zu (%s at %zu)",
				 text, damaged ? " (damaged)" : "", a.n, a.end, a.err ? a.err : "-",
				 a.err_at, b.n, b.end, b.err ? b.err : "-", b.err_at);
		for (size_t i = 0; i < a.n; i++) {
			double d;
			if (a.got[i][1] == UINT64_MAX)
				continue;
			memcpy(&d, &a.got[i][0], 8);
			snprintf(num, sizeof num, "%.*s", (int)a.got[i][2], text + a.got[i][1]);
			if (strtod(num, NULL) != d || signbit(d) != (num[0] == '-'))
				fail_msg("'%s': element %zu '%s' is %.17g", text, i, num, d);
		}
		plain += b.plain;
		total += b.n;
	}
	/* Most numbers went the fast way, or this tested nothing. */
	if (plain < total / 2)
		fail_msg("the fast path took %zu of %zu elements", plain, total);
}

/* The shapes jscan__short must take: one to three integer digits (no
 * leading zero), perhaps a point and one to three digits, then a byte that
 * is no digit and no exponent. Their length in *len. */
static bool short_shape(const char *s, size_t *len)
{
	size_t i = 0, f = 0;

	while (i < 4 && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || i > 3 || (i > 1 && s[0] == '0'))
		return false;
	if (s[i] == '.') {
		while (f < 4 && s[i + 1 + f] >= '0' && s[i + 1 + f] <= '9')
			f++;
		if (f == 0 || f > 3)
			return false;
		i += 1 + f;
	}
	if ((s[i] >= '0' && s[i] <= '9') || s[i] == 'e' || s[i] == 'E')
		return false;
	*len = i;
	return true;
}

/*
 * The short shapes read unrolled (jscan__short) give strtod's bits and end
 * where their text ends, and every other shape is handed over: random
 * digits of every shape around the boundaries (three and four digits each
 * side of the point, none after it, leading zeros), signed or not, before
 * whatever may end them (an exponent, a second point, white space, the end
 * of the text). The same texts in an array read the same through
 * jscan_next_plain as through the checking path, from a buffer that ends
 * where the text does (a read past it shows under a sanitizer).
 */
static void test_jscan_short(void **state)
{
	static const char *const ends[] = {"",	 ",",	"]",  " ",    "\n", "}",   "e",	   "E",
					   "e5", "E-3", ".",  ".5",   "x",  ", 1", ",\n\t2", " ,3",
					   "0",	 "00",	"\t]", ",  -4", "-"};
	char num[64], text[96], buf[64];
	sl__rng r;
	size_t took = 0, total = 0;

	(void)state;
	sl__rng_seed(&r, 41);
	for (int t = 0; t < 400000; t++) {
		/* Mostly one to three digits each side, else zero to five. */
		int ni = sl__rng_below(&r, 2) ? 1 + (int)sl__rng_below(&r, 3) : (int)sl__rng_below(&r, 6);
		int nf = sl__rng_below(&r, 2) ? (int)sl__rng_below(&r, 4) : (int)sl__rng_below(&r, 7) - 1;
		size_t n = 0, len = 0;
		bool neg = sl__rng_below(&r, 3) == 0, want;
		const char *end = ends[sl__rng_below(&r, SL__ARRAY_LEN(ends))];
		jscan_plain got;
		double d;
		if (neg)
			num[n++] = '-';
		for (int i = 0; i < ni; i++)
			num[n++] = (char)('0' + (i == 0 && sl__rng_below(&r, 4) == 0 ? 0
										   : sl__rng_below(&r, 10)));
		if (nf >= 0)
			num[n++] = '.';
		for (int i = 0; i < nf; i++)
			num[n++] = (char)('0' + sl__rng_below(&r, 10));
		n += (size_t)snprintf(num + n, sizeof num - n, "%s", end);
		/* Room after the text: jscan__short reads up to eight bytes. */
		memset(buf, 0, sizeof buf);
		memcpy(buf, num, n);
		want = short_shape(buf + neg, &len);
		got = jscan__short(buf + neg);
		if (want != (got.q != NULL))
			fail_msg("'%s': jscan__short %s it", buf, got.q ? "took" : "left");
		if (got.q) {
			double s = strtod(buf + neg, NULL);
			if (got.q != buf + neg + len || memcmp(&got.d, &s, 8))
				fail_msg("'%s': jscan__short %.17g to %td, strtod %.17g", buf, got.d,
					 got.q - buf, s);
			took++;
		}
		/* Through the whole reader: a sign, and the checking path's verdict. */
		got = jscan__num(buf);
		d = strtod(buf, NULL);
		if (got.q && (memcmp(&got.d, &d, 8) || got.at != buf))
			fail_msg("'%s': jscan__num %.17g, strtod %.17g", buf, got.d, d);
		{
			int tl = snprintf(text, sizeof text, "[%s", buf);
			char *exact = malloc((size_t)tl);
			elems a, b;
			assert_non_null(exact);
			memcpy(exact, text, (size_t)tl);
			read_elems(exact, (size_t)tl, false, &a);
			read_elems(exact, (size_t)tl, true, &b);
			if (a.n != b.n || memcmp(a.got, b.got, a.n * sizeof a.got[0]) || a.r != b.r ||
			    a.end != b.end || a.err != b.err || a.err_at != b.err_at)
				fail_msg("'%s': checking path %zu elements, end %zu (%s); fast path %zu, "
					 "end %zu (%s)",
					 text, a.n, a.end, a.err ? a.err : "-", b.n, b.end,
					 b.err ? b.err : "-");
			free(exact);
		}
		total++;
	}
	/* Each side of every boundary, and what clients write most. */
	{
		static const char *const edge[] = {
			"0", "-0", "0.0", "-0.0", "9.999", "-999.999", "999", "1000", "999.9999",
			"0.123", "0.1234", "123.4567", "5", "61.0", "278.0", "3.756", "0.778",
			"9007199254740993", "1234567890123456789", "0.00012345678901234567",
		};
		for (size_t i = 0; i < SL__ARRAY_LEN(edge); i++)
			check_both(edge[i], NULL);
	}
	/* Most of the random texts were of the short shapes, or this tested little. */
	if (took < total / 4)
		fail_msg("jscan__short took %zu of %zu", took, total);
}

/* Skipping by brackets alone ends where the checking skip ends, wherever
 * in a sixteen-byte step the brackets and quotes fall. */
static void test_jscan_skip_brackets(void **state)
{
	static const char *const atoms[] = {"0.0", "12.5", "-3", "\"a]\"", "\"[{\"", "\"q\\\"]\"",
					    "[]", "{}", "{\"k\":[1,{\"x\":\"}\"}]}", "true", "null"};
	char text[512];
	sl__rng r;

	(void)state;
	sl__rng_seed(&r, 3);
	for (int t = 0; t < 3000; t++) {
		size_t n = 0, k = 1 + sl__rng_below(&r, 24);
		jscan a, b;
		int depth = 0;
		n += (size_t)snprintf(text + n, sizeof text - n, "%*s[", (int)sl__rng_below(&r, 17), "");
		for (size_t i = 0; i < k; i++) {
			if (i)
				text[n++] = ',';
			if (depth < 3 && sl__rng_below(&r, 4) == 0) {
				text[n++] = '[';
				depth++;
				n += (size_t)snprintf(text + n, sizeof text - n, "%s",
						      atoms[sl__rng_below(&r, SL__ARRAY_LEN(atoms))]);
				continue;
			}
			n += (size_t)snprintf(text + n, sizeof text - n, "%s",
					      atoms[sl__rng_below(&r, SL__ARRAY_LEN(atoms))]);
			if (depth && sl__rng_below(&r, 3) == 0) {
				text[n++] = ']';
				depth--;
			}
		}
		while (depth-- >= 0)
			text[n++] = ']';
		n += (size_t)snprintf(text + n, sizeof text - n, ",%*s1]", (int)sl__rng_below(&r, 20), "");
		jscan_init(&a, text, n);
		jscan_init(&b, text, n);
		if (jscan_skip(&a))
			fail_msg("not JSON: %s", text);
		assert_int_equal(jscan_skip_brackets(&b), 0);
		if (a.p != b.p)
			fail_msg("'%.*s': skip ends at %td, skip_brackets at %td", (int)n, text,
				 a.p - text, b.p - text);
	}
	/* An unterminated one is an error, not a read past the end. */
	{
		jscan c;
		memset(text, '1', 100);
		text[0] = '[';
		jscan_init(&c, text, 100);
		assert_int_equal(jscan_skip_brackets(&c), -1);
	}
}

/* ---- a model to serve ------------------------------------------------------------------ */

static char *make_model_as(const char *dir, const char *file, bool reversed);

/* x float, n int, c string, flag bool; label yes/no from x + (c == "b"). */
static char *make_model(const char *dir)
{
	return make_model_as(dir, "m.slm", false);
}

/* The same, its inputs in the order flag, c, n, x when reversed. */
static char *make_model_as(const char *dir, const char *file, bool reversed)
{
	static const double x[] = {0.1, 0.4, 0.2, 0.9, 0.8, 0.7, 0.3, 0.95, 0.05, 0.6, 0.5, 0.85};
	static const char *const c[] = {"a", "b", "a", "b", "a", "b", "a", "b", "a", "a", "b", "b"};
	ds_builder *b;
	ds_table *t;
	ml_frame fr;
	ml_model *m;
	char *path = tu_path(dir, file);
	logistic_opts o = {.penalty = LOGISTIC_L2, .C = 1.0, .fit_intercept = true,
			   .standardize = true, .max_iter = 200, .tol = 1e-6, .threads = 1};
	/* The builder's column of x, n, c and flag. */
	const size_t X = reversed ? 3 : 0, N = reversed ? 2 : 1, C = reversed ? 1 : 2,
		     FL = reversed ? 0 : 3;

	assert_int_equal(ds_builder_new(&b), 0);
	for (size_t k = 0; k < 4; k++) {
		if (k == X)
			ds_builder_add_col(b, "x", DS_FLOAT64, NULL);
		else if (k == N)
			ds_builder_add_col(b, "n", DS_INT64, NULL);
		else if (k == C)
			ds_builder_add_col(b, "c", DS_STRING, NULL);
		else
			ds_builder_add_col(b, "flag", DS_BOOL, NULL);
	}
	ds_builder_add_col(b, "label", DS_STRING, NULL);
	for (size_t i = 0; i < 12; i++) {
		bool yes = x[i] + (c[i][0] == 'b') * 0.3 > 0.7;
		if (i == 2 || i == 9)
			yes = !yes; /* not separable, so the fit is finite */
		ds_append_f64(b, X, x[i]);
		ds_append_i64(b, N, (int64_t)(i % 4));
		ds_append_str(b, C, c[i], 1);
		ds_append_bool(b, FL, i % 3 == 0);
		ds_append_str(b, 4, yes ? "yes" : "no", yes ? 3 : 2);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "label", .allow_strings = true},
					&fr),
			 0);
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, path), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	return path;
}

typedef struct fixture {
	const char *dir;
	char *path;
	bundle *b;
	serve_sig sig;
	bundle_row *row;
	serve_arena a;
	sl__buf out;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	f->dir = tu_tmpdir();
	f->path = make_model(f->dir);
	assert_int_equal(bundle_open(f->path, BUNDLE_ROWS, &f->b), 0);
	assert_int_equal(serve_sig_build(f->b, &f->sig), 0);
	assert_int_equal(bundle_row_new(f->b, &f->row), 0);
	sl__buf_init(&f->out, 1 << 20);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	sl__buf_free(&f->out);
	serve_arena_free(&f->a);
	bundle_row_free(f->row);
	serve_sig_free(&f->sig);
	bundle_close(f->b);
	tu_rmdir(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* The rows every test sends, and what the bundle answers for them one at a time. */
static const struct {
	double x;
	int64_t n;
	const char *c;
	bool flag;
} rows3[] = {{0.25, 1, "a", true}, {0.9, 3, "b", false}, {0.6, 0, "zzz", true}};

static void expect_rows(fixture *f, const serve_batch *b)
{
	assert_int_equal(b->n, 3);
	assert_int_equal(b->k, 4);
	for (size_t i = 0; i < 3; i++) {
		const expr_value *v = b->v + i * 4;
		double want[2], got[2];
		expr_value in[4];
		serve_result res;
		/* Signature order: x, n, c, flag. */
		assert_true(v[0].f == rows3[i].x);
		assert_true(v[1].i == rows3[i].n);
		assert_int_equal(v[2].len, strlen(rows3[i].c));
		assert_memory_equal(v[2].s, rows3[i].c, v[2].len);
		assert_true(v[3].i == rows3[i].flag);
		memcpy(in, v, sizeof in);
		assert_int_equal(bundle_score_values(f->b, f->row, in, NULL, want), 0);
		(void)res;
		(void)got;
	}
}

static json_t *score_v2(fixture *f, const char *body, v2_request *req)
{
	serve_result res;
	json_error_t e;
	json_t *j;

	serve_arena_reset(&f->a);
	sl__buf_reset(&f->out);
	if (v2_parse(&f->sig, body, strlen(body), &f->a, req))
		fail_msg("v2_parse: %s", sl_errmsg());
	expect_rows(f, &req->batch);
	assert_int_equal(serve_score(&f->sig, f->row, &req->batch, req->explain, &f->a, &res), 0);
	assert_int_equal(v2_encode(&f->sig, "spam", "3", req, "rid-1", &res, &f->a, &f->out), 0);
	j = json_loads(f->out.data, 0, &e);
	if (!j)
		fail_msg("not JSON (%s): %s", e.text, f->out.data);
	return j;
}

static const char *v2_columns =
	"{\"id\": \"42\", \"inputs\": ["
	"{\"name\": \"c\", \"shape\": [3], \"datatype\": \"BYTES\", \"data\": [\"a\", \"b\", \"zzz\"]},"
	"{\"datatype\": \"FP64\", \"name\": \"x\", \"shape\": [3, 1], \"data\": [[0.25], [0.9], [0.6]]},"
	"{\"name\": \"n\", \"shape\": [3], \"datatype\": \"INT32\", \"data\": [1, 3, 0]},"
	"{\"name\": \"flag\", \"shape\": [3], \"datatype\": \"BOOL\", \"data\": [true, false, true]}]}";

static const char *v2_matrix =
	"{\"inputs\": [{\"name\": \"input-0\", \"shape\": [3, 4], \"datatype\": \"BYTES\","
	" \"data\": [[0.25, 1, \"a\", true], [0.9, 3, \"b\", false], [0.6, 0, \"zzz\", true]]}],"
	" \"outputs\": [{\"name\": \"predict\"}], \"parameters\": {\"explain\": true}}";

static void test_v2_layouts(void **state)
{
	fixture *f = *state;
	v2_request req;
	json_t *a, *b, *out;
	double want[3][2];

	for (size_t i = 0; i < 3; i++) {
		expr_value in[4] = {{.f = rows3[i].x}, {.i = rows3[i].n},
				    {.s = rows3[i].c, .len = strlen(rows3[i].c)}, {.i = rows3[i].flag}};
		assert_int_equal(bundle_score_values(f->b, f->row, in, NULL, want[i]), 0);
	}
	a = score_v2(f, v2_columns, &req);
	assert_string_equal(json_string_value(json_object_get(a, "model_name")), "spam");
	assert_string_equal(json_string_value(json_object_get(a, "model_version")), "3");
	assert_string_equal(json_string_value(json_object_get(a, "id")), "42");
	out = json_object_get(a, "outputs");
	assert_int_equal(json_array_size(out), 2);
	{
		json_t *pred = json_array_get(out, 0), *proba = json_array_get(out, 1);
		assert_string_equal(json_string_value(json_object_get(pred, "name")), "predict");
		assert_string_equal(json_string_value(json_object_get(pred, "datatype")), "BYTES");
		assert_int_equal(json_integer_value(json_array_get(json_object_get(pred, "shape"), 0)), 3);
		assert_string_equal(json_string_value(json_object_get(proba, "datatype")), "FP64");
		assert_int_equal(json_integer_value(json_array_get(json_object_get(proba, "shape"), 1)), 2);
		for (size_t i = 0; i < 3; i++) {
			const char *lab = json_string_value(json_array_get(json_object_get(pred, "data"), i));
			/* Exactly the bundle's numbers (shortest text reads back the same double). */
			for (size_t c = 0; c < 2; c++)
				assert_true(json_real_value(json_array_get(json_object_get(proba, "data"),
									   2 * i + c)) == want[i][c]);
			assert_string_equal(lab, want[i][1] > want[i][0] ? "yes" : "no");
		}
	}
	/* One [n, k] input of mixed values, selected output, explanations. */
	b = score_v2(f, v2_matrix, &req);
	out = json_object_get(b, "outputs");
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "name")), "predict");
	assert_true(json_equal(json_object_get(json_array_get(out, 0), "data"),
			       json_object_get(json_array_get(json_object_get(a, "outputs"), 0), "data")));
	{
		json_t *ct = json_array_get(out, 1);
		double sum = 0;
		assert_string_equal(json_string_value(json_object_get(ct, "name")), "contributions");
		/* Per row the contributions and base value sum to the log-odds. */
		for (size_t j = 0; j < f->sig.p + 1; j++)
			sum += json_number_value(json_array_get(json_object_get(ct, "data"), j));
		assert_true(fabs(sum - log(want[0][1] / want[0][0])) < 1e-9);
	}
	/* Without an id the request id stands in. */
	assert_string_equal(json_string_value(json_object_get(b, "id")), "rid-1");
	json_decref(a);
	json_decref(b);
}

/*
 * Long float and integer columns sent as FP64 (where the fast path reads
 * them): every cell is strtod's value of its text, or its integer, and its
 * span is its text; a fractional number in the integer column is refused
 * naming its row, as one value at a time refuses it.
 */
static void test_v2_plain_cells(void **state)
{
	fixture *f = *state;
	enum { ROWS = 60 };
	static const char *const xs[] = {"0.0", "0.64", "-3.756", "278", "1e-3", "0.30000000000000004",
					 "12345.678901234", "-0", "7.5E2", "100000000000000000000"};
	/* Integers past 2^53 are read from their text, exactly. */
	static const char *const ns[] = {"3",	"-2", "4.0", "1e1", "0", "-0.0", "123456",
					 "1234567890123456789", "-9007199254740993"};
	static const int64_t nv[] = {3, -2, 4, 10, 0, 0, 123456, 1234567890123456789,
				     -9007199254740993};
	char body[16384];
	size_t n = 0;
	v2_request req;

	n += (size_t)snprintf(body + n, sizeof body - n,
			      "{\"inputs\": [{\"name\": \"x\", \"shape\": [%d], \"datatype\": \"FP64\", "
			      "\"data\": [",
			      ROWS);
	for (int i = 0; i < ROWS; i++)
		n += (size_t)snprintf(body + n, sizeof body - n, "%s%s", i ? (i % 3 ? ", " : ",") : "",
				      xs[i % SL__ARRAY_LEN(xs)]);
	n += (size_t)snprintf(body + n, sizeof body - n,
			      "]}, {\"name\": \"n\", \"shape\": [%d, 1], \"datatype\": \"FP64\", "
			      "\"data\": [",
			      ROWS);
	for (int i = 0; i < ROWS; i++)
		n += (size_t)snprintf(body + n, sizeof body - n, "%s[%s]", i ? ", " : "",
				      ns[i % SL__ARRAY_LEN(ns)]);
	n += (size_t)snprintf(body + n, sizeof body - n,
			      "]}, {\"name\": \"c\", \"shape\": [%d], \"datatype\": \"BYTES\", \"data\": [",
			      ROWS);
	for (int i = 0; i < ROWS; i++)
		n += (size_t)snprintf(body + n, sizeof body - n, "%s\"a\"", i ? "," : "");
	n += (size_t)snprintf(body + n, sizeof body - n,
			      "]}, {\"name\": \"flag\", \"shape\": [%d], \"datatype\": \"BOOL\", "
			      "\"data\": [",
			      ROWS);
	for (int i = 0; i < ROWS; i++)
		n += (size_t)snprintf(body + n, sizeof body - n, "%strue", i ? "," : "");
	n += (size_t)snprintf(body + n, sizeof body - n, "]}]}");
	serve_arena_reset(&f->a);
	if (v2_parse(&f->sig, body, n, &f->a, &req))
		fail_msg("v2_parse: %s", sl_errmsg());
	for (int i = 0; i < ROWS; i++) {
		const expr_value *v = req.batch.v + i * 4;
		const uint32_t *sp = req.batch.span + 2 * i * 4;
		const char *xt = xs[i % SL__ARRAY_LEN(xs)], *nt = ns[i % SL__ARRAY_LEN(ns)];
		double want = strtod(xt, NULL);
		if (memcmp(&v[0].f, &want, sizeof want) || v[0].null)
			fail_msg("row %d: x '%s' read as %.17g", i, xt, v[0].f);
		if (sp[1] != strlen(xt) || memcmp(body + sp[0], xt, sp[1]))
			fail_msg("row %d: x's span is '%.*s'", i, (int)sp[1], body + sp[0]);
		if (v[1].i != nv[i % SL__ARRAY_LEN(ns)] || v[1].null)
			fail_msg("row %d: n '%s' read as %lld", i, nt, (long long)v[1].i);
		if (sp[3] != strlen(nt) || memcmp(body + sp[2], nt, sp[3]))
			fail_msg("row %d: n's span is '%.*s'", i, (int)sp[3], body + sp[2]);
	}
	/* The same body with row 51 of n fractional. */
	{
		char *at = strstr(body, "[123456]"); /* rows 6, 15, ..., 51 */
		for (int k = 0; k < 5; k++)
			at = strstr(at + 1, "[123456]");
		memcpy(at, "[12.500]", 8);
		serve_arena_reset(&f->a);
		if (v2_parse(&f->sig, body, n, &f->a, &req) != SL_EINVAL)
			fail_msg("%s", sl_errmsg());
		if (!strstr(sl_errmsg(), "inputs[1] 'n', row 51: expected an integer (int64), got 12.500"))
			fail_msg("%s", sl_errmsg());
	}
}

/*
 * A response from the head built once per loaded version is byte for byte
 * the one written piece by piece, with and without the request's id, for
 * a name and version that need escapes; other name or version strings
 * than the head's are written afresh.
 */
static void test_v2_cached_head(void **state)
{
	fixture *f = *state;
	static const char name[] = "sp\"am\\x", version[] = "3\u00e9";
	char other[] = "other";
	const char *bodies[] = {v2_columns, v2_matrix};
	sl__buf fresh;

	sl__buf_init(&fresh, 1 << 20);
	for (size_t t = 0; t < 2; t++) {
		v2_request req;
		serve_result res;
		serve_arena_reset(&f->a);
		assert_int_equal(v2_parse(&f->sig, bodies[t], strlen(bodies[t]), &f->a, &req), 0);
		assert_int_equal(serve_score(&f->sig, f->row, &req.batch, req.explain, &f->a, &res), 0);
		sl__buf_reset(&fresh);
		assert_null(f->sig.v2_head);
		assert_int_equal(v2_encode(&f->sig, name, version, &req, "rid-1", &res, &f->a, &fresh), 0);
		assert_int_equal(serve_sig_v2_head(&f->sig, name, version), 0);
		sl__buf_reset(&f->out);
		assert_int_equal(v2_encode(&f->sig, name, version, &req, "rid-1", &res, &f->a, &f->out), 0);
		assert_string_equal(f->out.data, fresh.data);
		{
			json_t *j = json_loads(f->out.data, 0, NULL);
			assert_non_null(j);
			assert_string_equal(json_string_value(json_object_get(j, "model_name")), name);
			assert_string_equal(json_string_value(json_object_get(j, "model_version")), version);
			json_decref(j);
		}
		/* Not the head's strings: written as they are. */
		sl__buf_reset(&f->out);
		assert_int_equal(v2_encode(&f->sig, other, version, &req, "rid-1", &res, &f->a, &f->out), 0);
		assert_non_null(strstr(f->out.data, "{\"model_name\":\"other\",\"model_version\":\"3"));
		sl__free(f->sig.v2_head);
		f->sig.v2_head = NULL;
	}
	sl__buf_free(&fresh);
}

/*
 * A model of numeric inputs only takes one [n, k] tensor of any numeric
 * datatype without a per-column check (serve_sig.all_numeric), the values
 * as they are; BOOL and BYTES tensors are still refused naming the column.
 */
static void test_v2_numeric_matrix(void **state)
{
	const char *dir = tu_tmpdir(), *err;
	char *path = tu_path(dir, "num.slm");
	ds_builder *db;
	ds_table *t;
	ml_frame fr;
	ml_model *m;
	bundle *b;
	serve_sig sig;
	serve_arena a = {0};
	v2_request req;
	logistic_opts o = {.penalty = LOGISTIC_L2, .C = 1.0, .fit_intercept = true,
			   .standardize = true, .max_iter = 200, .tol = 1e-6, .threads = 1};
	static const char *const good[] = {"FP64", "FP32", "INT64", "UINT8"};
	static const char *const bad[] = {"BOOL", "BYTES"};
	char body[512];

	(void)state;
	assert_int_equal(ds_builder_new(&db), 0);
	ds_builder_add_col(db, "x", DS_FLOAT64, NULL);
	ds_builder_add_col(db, "n", DS_INT64, NULL);
	ds_builder_add_col(db, "label", DS_STRING, NULL);
	for (int i = 0; i < 12; i++) {
		bool yes = (i * 7) % 12 > 5;
		ds_append_f64(db, 0, (double)((i * 5) % 12) / 12 + (i == 3));
		ds_append_i64(db, 1, i % 4);
		ds_append_str(db, 2, yes ? "yes" : "no", yes ? 3 : 2);
	}
	assert_int_equal(ds_builder_finish(db, &t), 0);
	ds_builder_free(db);
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "label"}, &fr), 0);
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, path), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	assert_int_equal(bundle_open(path, BUNDLE_ROWS, &b), 0);
	assert_int_equal(serve_sig_build(b, &sig), 0);
	assert_true(sig.all_numeric);
	assert_false(sig.any_text);
	for (size_t i = 0; i < SL__ARRAY_LEN(good); i++) {
		snprintf(body, sizeof body,
			 "{\"inputs\": [{\"name\": \"all\", \"shape\": [2, 2], \"datatype\": \"%s\", "
			 "\"data\": [[0.5, 2], [1, 3.0]]}]}",
			 good[i]);
		bool ints = good[i][0] != 'F';
		serve_arena_reset(&a);
		/* Integer tensors hold integers. */
		if (ints)
			memcpy(strstr(body, "0.5"), "7  ", 3);
		if (v2_parse(&sig, body, strlen(body), &a, &req))
			fail_msg("%s: %s", good[i], sl_errmsg());
		assert_true(req.batch.v[0].f == (ints ? 7 : 0.5));
		assert_true(req.batch.v[1].i == 2 && req.batch.v[3].i == 3 && req.batch.v[2].f == 1);
	}
	for (size_t i = 0; i < SL__ARRAY_LEN(bad); i++) {
		snprintf(body, sizeof body,
			 "{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"%s\", "
			 "\"data\": [[true, false]]}]}",
			 bad[i]);
		serve_arena_reset(&a);
		assert_int_equal(v2_parse(&sig, body, strlen(body), &a, &req), SL_EINVAL);
		err = sl_errmsg();
		if (!strstr(err, "cannot carry column 'x'"))
			fail_msg("%s: %s", bad[i], err);
	}
	/*
	 * The tensor read in the first pass (its data after its name, shape and
	 * datatype) is what two passes read, or refuse: a shape, datatype or
	 * data given again after it, a second input, bad data or text after it.
	 */
	{
		static const struct {
			const char *body, *err; /* err NULL: accepted */
			double x;
			int64_t n;
		} cases[] = {
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2]]}]}", NULL, 0.5, 2},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2]], \"data\": [[1.5, 3]]}]}", NULL, 1.5, 3},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2]], \"shape\": [2, 2]}]}", "data holds 2 values, its shape 4"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2]], \"datatype\": \"BOOL\"}]}", "cannot carry column 'x'"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2]], \"name\": \"x\"}]}", "shape must be [n] or [n, 1]"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2]]}, {\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", "
			 "\"data\": [1]}]}", "is not an input of the model"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5]]}]}", "data holds 1 values, its shape 2"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2x]]}]}", "malformed JSON at line 1, column 82"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2.5]]}]}", "expected an integer"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, 2]]}] \"id\": 1}", "malformed JSON"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, \"2\"]]}] \"id\": 7}", "malformed JSON"},
			{"{\"inputs\": [{\"name\": \"all\", \"shape\": [1, 2], \"datatype\": \"FP64\", "
			 "\"data\": [[0.5, \"2\"]], \"id\": 7}]}", "column 'n': expected an integer"},
		};
		for (size_t i = 0; i < SL__ARRAY_LEN(cases); i++) {
			int rc;
			serve_arena_reset(&a);
			rc = v2_parse(&sig, cases[i].body, strlen(cases[i].body), &a, &req);
			if (!cases[i].err) {
				if (rc)
					fail_msg("case %zu: %s", i, sl_errmsg());
				if (req.batch.n != 1 || req.batch.v[0].f != cases[i].x ||
				    req.batch.v[1].i != cases[i].n)
					fail_msg("case %zu: %.17g, %lld", i, req.batch.v[0].f,
						 (long long)req.batch.v[1].i);
			} else if (!rc || !strstr(sl_errmsg(), cases[i].err)) {
				fail_msg("case %zu: %d '%s', expected '%s'", i, rc, rc ? sl_errmsg() : "",
					 cases[i].err);
			}
		}
	}
	/*
	 * Many rows of a float and an integer column, nested or flat, with the
	 * separators clients write, and the body's end anywhere after them
	 * (its last numbers are read from a copy): every cell is strtod's
	 * value of its text (the integer's integer), its span that text.
	 */
	{
		static const char *const xs[] = {"0.0",	 "0.64", "-3.756", "278", "61.0", "-0",	 "1e-3",
						 "12.5", "7",	 "0.30000000000000004", "-999.999", "0.1234"};
		static const char *const ns[] = {"3", "-2", "4.0", "0", "123456", "-0.0", "1e1", "999"};
		static const char *const seps[] = {",", ", ", " , ", ",\n  ", "\t,"};
		sl__rng r;
		sl__rng_seed(&r, 29);
		for (int t = 0; t < 400; t++) {
			size_t rows = 1 + sl__rng_below(&r, 30), n = 0, xi[30], ni[30];
			bool flat = sl__rng_below(&r, 2);
			char text[4096], *exact;
			n += (size_t)snprintf(text + n, sizeof text - n,
					      "{\"inputs\": [{\"name\": \"all\", \"shape\": [%zu, 2], "
					      "\"datatype\": \"FP64\", \"data\": [",
					      rows);
			for (size_t i = 0; i < rows; i++) {
				xi[i] = sl__rng_below(&r, SL__ARRAY_LEN(xs));
				ni[i] = sl__rng_below(&r, SL__ARRAY_LEN(ns));
				n += (size_t)snprintf(text + n, sizeof text - n, flat ? "%s%s%s%s" : "%s[%s%s%s]",
						      i ? seps[sl__rng_below(&r, SL__ARRAY_LEN(seps))] : "",
						      xs[xi[i]], seps[sl__rng_below(&r, SL__ARRAY_LEN(seps))],
						      ns[ni[i]]);
			}
			n += (size_t)snprintf(text + n, sizeof text - n, "]}]}%*s",
					      (int)sl__rng_below(&r, 3) * (int)sl__rng_below(&r, 20), "");
			exact = malloc(n);
			assert_non_null(exact);
			memcpy(exact, text, n);
			serve_arena_reset(&a);
			if (v2_parse(&sig, exact, n, &a, &req))
				fail_msg("'%.*s': %s", (int)n, text, sl_errmsg());
			for (size_t i = 0; i < rows; i++) {
				const expr_value *v = req.batch.v + 2 * i;
				const uint32_t *sp = req.batch.span + 4 * i;
				double want = strtod(xs[xi[i]], NULL);
				if (memcmp(&v[0].f, &want, 8) || v[0].null ||
				    v[1].i != (int64_t)strtod(ns[ni[i]], NULL) || v[1].null)
					fail_msg("'%.*s': row %zu read as %.17g, %lld", (int)n, text, i,
						 v[0].f, (long long)v[1].i);
				if (sp[1] != strlen(xs[xi[i]]) || memcmp(exact + sp[0], xs[xi[i]], sp[1]) ||
				    sp[3] != strlen(ns[ni[i]]) || memcmp(exact + sp[2], ns[ni[i]], sp[3]))
					fail_msg("'%.*s': row %zu's spans are '%.*s', '%.*s'", (int)n, text, i,
						 (int)sp[1], exact + sp[0], (int)sp[3], exact + sp[2]);
			}
			free(exact);
		}
	}
	serve_arena_free(&a);
	serve_sig_free(&sig);
	bundle_close(b);
	tu_rmdir(dir);
	free(path);
}

static void expect_error(fixture *f, int (*parse)(fixture *, const char *), const char *body,
			 int code, const char *needle)
{
	serve_arena_reset(&f->a);
	assert_int_equal(parse(f, body), code);
	if (!strstr(sl_errmsg(), needle))
		fail_msg("body %s: expected '%s' in '%s'", body, needle, sl_errmsg());
}

static int parse_v2(fixture *f, const char *body)
{
	v2_request req;
	return v2_parse(&f->sig, body, strlen(body), &f->a, &req);
}

static void test_v2_errors(void **state)
{
	fixture *f = *state;
#define IN(x) "{\"inputs\": [" x "]}"
#define X "{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [1]}"
#define N "{\"name\": \"n\", \"shape\": [1], \"datatype\": \"INT64\", \"data\": [1]}"
#define C "{\"name\": \"c\", \"shape\": [1], \"datatype\": \"BYTES\", \"data\": [\"a\"]}"
#define FL "{\"name\": \"flag\", \"shape\": [1], \"datatype\": \"BOOL\", \"data\": [true]}"
	expect_error(f, parse_v2, "{\"inputs\": [", SL_EPARSE, "malformed JSON at line 1, column 13");
	expect_error(f, parse_v2, "[1]", SL_EINVAL, "JSON object");
	expect_error(f, parse_v2, "{}", SL_EINVAL, "no \"inputs\"");
	expect_error(f, parse_v2, IN(X "," N "," C), SL_EINVAL, "missing input 'flag'");
	expect_error(f, parse_v2, IN(X "," N "," C "," FL "," X), SL_EINVAL, "'x' is given twice");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"BYTES\", \"data\": [\"1\"]},"
			N "," C "," FL),
		     SL_EINVAL, "inputs[0] 'x': datatype BYTES, but the model takes FP64");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [2], \"datatype\": \"FP64\", \"data\": [1]}," N
			"," C "," FL),
		     SL_EINVAL, "inputs[1] 'n' has 1 rows, inputs[0] 'x' 2");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [1, 2]},"
			N "," C "," FL),
		     SL_EINVAL, "inputs[0] 'x': data holds more than the 1 values of its shape");
	expect_error(f, parse_v2,
		     IN(N "," C "," FL ",{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", "
			"\"data\": []}"),
		     SL_EINVAL, "inputs[3] 'x': data holds 0 values, its shape 1");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [\"a\"]},"
			N "," C "," FL),
		     SL_EINVAL, "inputs[0] 'x', row 0: expected a number (float64), got a string");
	expect_error(f, parse_v2,
		     IN(X ",{\"name\": \"n\", \"shape\": [1], \"datatype\": \"INT64\", \"data\": [1.5]},"
			C "," FL),
		     SL_EINVAL, "1.5 in a INT64 tensor");
	expect_error(f, parse_v2, IN(X "," N "," C "," FL ",{\"name\": \"zz\", \"shape\": [1], "
						"\"datatype\": \"FP64\", \"data\": [1]}"),
		     SL_EINVAL, "inputs[4] 'zz' is not an input of the model");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"all\", \"shape\": [1, 3], \"datatype\": \"FP64\", \"data\": [1,2,3]}"),
		     SL_EINVAL, "must have shape [n, 4]");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"all\", \"shape\": [1, 4], \"datatype\": \"FP64\", \"data\": [1,2,3,4]}"),
		     SL_EINVAL, "datatype FP64 cannot carry column 'c'");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP99\", \"data\": [1]}"),
		     SL_EINVAL, "unknown datatype 'FP99'");
	expect_error(f, parse_v2, "{\"outputs\": [{\"name\": \"nope\"}], \"inputs\": [" X "]}",
		     SL_EINVAL, "outputs[0]: the model has no output 'nope' (it has predict, "
				"predict_proba, contributions)");
	expect_error(f, parse_v2, "{\"parameters\": {\"explain\": 1}, \"inputs\": [" X "]}",
		     SL_EINVAL, "parameters.explain must be true or false");
	/* The data arrays are found by their brackets first and checked
	 * when read; a body that is not JSON is still told so, also when
	 * something else is wrong with it too. */
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [1,, 2]},"
			N "," C "," FL),
		     SL_EPARSE, "malformed JSON at line 1, column 72: expected a value");
	expect_error(f, parse_v2,
		     IN(X "," N "," C "," FL ",{\"name\": \"zz\", \"shape\": [1], "
			"\"datatype\": \"FP64\", \"data\": [tru]}"),
		     SL_EPARSE, "malformed JSON");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [1}," N
			"," C "," FL),
		     SL_EPARSE, "malformed JSON");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [[1]"),
		     SL_EPARSE, "malformed JSON");
	/* Brackets in strings do not end the data. */
	expect_error(f, parse_v2,
		     IN(X "," N ",{\"name\": \"c\", \"shape\": [2], \"datatype\": \"BYTES\", "
			"\"data\": [\"]\\\"}\", \"[\"]}," FL),
		     SL_EINVAL, "inputs[2] 'c' has 2 rows, inputs[0] 'x' 1");
	/* A shape that promises more than the body holds sizes nothing. */
	expect_error(f, parse_v2,
		     IN("{\"name\": \"x\", \"shape\": [100000000000], \"datatype\": \"FP64\", \"data\": [1]},"
			N "," C "," FL),
		     SL_EINVAL, "inputs[1] 'n' has 1 rows");
	expect_error(f, parse_v2,
		     IN("{\"name\": \"all\", \"shape\": [100000000000, 4], \"datatype\": \"BYTES\", "
			"\"data\": [1]}"),
		     SL_EINVAL, "more than the body can hold");
#undef IN
#undef X
#undef N
#undef C
#undef FL
}

/* The one pass and the two checked passes give the same code and message. */
static int parse_mlflow(fixture *f, const char *body)
{
	serve_batch b;
	char msg[512];
	int rc = mlflow__parse_checked(&f->sig, body, strlen(body), NULL, &f->a, &b);

	snprintf(msg, sizeof msg, "%s", rc ? sl_errmsg() : "");
	assert_int_equal(mlflow_parse_json(&f->sig, body, strlen(body), NULL, &f->a, &b), rc);
	if (rc && strcmp(msg, sl_errmsg()))
		fail_msg("%s: checked '%s', one pass '%s'", body, msg, sl_errmsg());
	return rc;
}

static int parse_csv(fixture *f, const char *body)
{
	serve_batch b;
	return mlflow_parse_csv(&f->sig, body, strlen(body), &f->a, &b);
}

static void test_mlflow_formats(void **state)
{
	static const char *const bodies[] = {
		"{\"dataframe_split\": {\"columns\": [\"flag\", \"c\", \"x\", \"extra\", \"n\"],"
		" \"index\": [7, 8, 9], \"data\": [[true, \"a\", 0.25, 1, 1], [false, \"b\", 0.9, 2, 3],"
		" [true, \"zzz\", 0.6, 3, 0]]}, \"params\": {}}",
		"{\"dataframe_records\": [{\"x\": 0.25, \"n\": 1, \"c\": \"a\", \"flag\": true},"
		" {\"flag\": false, \"c\": \"b\", \"n\": 3, \"x\": 0.9, \"other\": [1]},"
		" {\"x\": 0.6, \"n\": 0, \"c\": \"zzz\", \"flag\": true}]}",
		"{\"instances\": [[0.25, 1, \"a\", true], [0.9, 3, \"b\", false], [0.6, 0, \"zzz\", true]]}",
		"{\"instances\": [{\"x\": 0.25, \"n\": 1, \"c\": \"a\", \"flag\": true},"
		" {\"x\": 0.9, \"n\": 3, \"c\": \"b\", \"flag\": false},"
		" {\"x\": 0.6, \"n\": 0, \"c\": \"z\\u007az\", \"flag\": true}]}",
		"{\"inputs\": {\"x\": [0.25, 0.9, 0.6], \"n\": [1, 3, 0], \"c\": [\"a\", \"b\", \"zzz\"],"
		" \"flag\": [true, false, true]}}",
		"{\"inputs\": [[0.25, 1, \"a\", true], [0.9, 3, \"b\", false], [0.6, 0, \"zzz\", true]]}",
	};
	fixture *f = *state;
	serve_batch b;

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		serve_arena_reset(&f->a);
		if (mlflow_parse_json(&f->sig, bodies[i], strlen(bodies[i]), NULL, &f->a, &b))
			fail_msg("body %zu: %s", i, sl_errmsg());
		expect_rows(f, &b);
	}
	serve_arena_reset(&f->a);
	{
		const char *csv = "c,x,flag,n,other\r\na,0.25,true,1,q\n\"b\",0.9,FALSE,3,\"r,s\"\n"
				  "\"z\"\"z\",0.6,True,0,\n";
		assert_int_equal(mlflow_parse_csv(&f->sig, csv, strlen(csv), &f->a, &b), 0);
		assert_int_equal(b.n, 3);
		assert_int_equal(b.v[2 * 4 + 2].len, 3);
		assert_memory_equal(b.v[2 * 4 + 2].s, "z\"z", 3);
		assert_true(b.v[1 * 4 + 0].f == 0.9 && b.v[1 * 4 + 3].i == 0 && b.v[1 * 4 + 1].i == 3);
	}
	/* The response: labels for a classifier. */
	{
		serve_result res;
		json_t *j;
		serve_arena_reset(&f->a);
		sl__buf_reset(&f->out);
		assert_int_equal(mlflow_parse_json(&f->sig, bodies[0], strlen(bodies[0]), NULL, &f->a, &b), 0);
		assert_int_equal(serve_score(&f->sig, f->row, &b, false, &f->a, &res), 0);
		assert_int_equal(mlflow_encode(&f->sig, &res, &f->a, &f->out), 0);
		j = json_loads(f->out.data, 0, NULL);
		assert_non_null(j);
		assert_int_equal(json_array_size(json_object_get(j, "predictions")), 3);
		assert_true(json_is_string(json_array_get(json_object_get(j, "predictions"), 0)));
		json_decref(j);
	}
}

static void test_mlflow_errors(void **state)
{
	fixture *f = *state;

	expect_error(f, parse_mlflow, "[1, 2]", SL_EINVAL, "received a list");
	expect_error(f, parse_mlflow, "{\"data\": 1}", SL_EINVAL, "exactly one of dataframe_split");
	expect_error(f, parse_mlflow, "{\"instances\": [], \"inputs\": []}", SL_EINVAL,
		     "received instances and inputs");
	expect_error(f, parse_mlflow, "{\"dataframe_split\": {\"columns\": [\"x\", \"n\", \"c\"], "
				      "\"data\": [[1, 2, \"a\"]]}}",
		     SL_EINVAL, "dataframe_split.columns: missing column 'flag'");
	/* Rows are counted by their brackets and checked when read; a body
	 * that is not JSON is told so, also when something else is wrong. */
	expect_error(f, parse_mlflow, "{\"dataframe_split\": {\"columns\": [\"x\", \"n\", \"c\"], "
				      "\"data\": [[1, 2, \"a\", tru]]}}",
		     SL_EPARSE, "malformed JSON");
	expect_error(f, parse_mlflow, "{\"instances\": [{\"x\": 1, \"n\": 2,, \"c\": \"a\"}]}",
		     SL_EPARSE, "malformed JSON");
	expect_error(f, parse_mlflow, "{\"inputs\": {\"x\": [1, 2], \"n\": [1, 2}}", SL_EPARSE,
		     "malformed JSON");
	expect_error(f, parse_mlflow, "{\"instances\": [[1, 2, \"]\", true], [1]]}", SL_EINVAL,
		     "instances[1] has 1 values, the model takes 4 columns");
	expect_error(f, parse_mlflow, "{\"dataframe_split\": {\"columns\": [\"x\", \"n\", \"c\", \"flag\"], "
				      "\"data\": [[1, 2, \"a\"]]}}",
		     SL_EINVAL, "dataframe_split.data[0] has 3 values, columns has 4");
	expect_error(f, parse_mlflow, "{\"dataframe_records\": [{\"x\": 1, \"n\": 2, \"c\": \"a\", "
				      "\"flag\": \"yes\"}]}",
		     SL_EINVAL, "dataframe_records[0] 'flag': expected true or false (bool), got a string");
	expect_error(f, parse_mlflow, "{\"dataframe_records\": [{\"x\": 1, \"n\": 2, \"c\": \"a\"}]}",
		     SL_EINVAL, "missing column 'flag'");
	expect_error(f, parse_mlflow, "{\"instances\": [1, 2]}", SL_EINVAL,
		     "instances[0] is a single value, but the model takes 4 columns");
	expect_error(f, parse_mlflow, "{\"inputs\": {\"x\": [1, 2], \"n\": [1]}}", SL_EINVAL,
		     "column 'n' has 1 values, others 2");
	expect_error(f, parse_mlflow, "{\"instances\": [[1, 2, \"a\", true], {\"x\": 1}]}",
		     SL_EINVAL, "rows must all be objects");
	expect_error(f, parse_mlflow, "{\"inputs\": [[1, 2, \"a\"", SL_EPARSE, "malformed JSON");
	/* What comes after a format that reads well still counts, in order. */
	expect_error(f, parse_mlflow, "{\"instances\": [[1, 2, \"a\", true]], \"inputs\": 5}",
		     SL_EINVAL, "received instances and inputs");
	expect_error(f, parse_mlflow, "{\"instances\": [[1, 2, \"a\", 7]], \"inputs\": 5}",
		     SL_EINVAL, "received instances and inputs");
	expect_error(f, parse_mlflow, "{\"instances\": [[1, 2, \"a\", true]], \"x\": [1,]}",
		     SL_EPARSE, "malformed JSON at line 1, column 44");
	expect_error(f, parse_mlflow, "{\"instances\": [[1, 2, \"a\", 7]], \"x\": [1,]}",
		     SL_EPARSE, "malformed JSON at line 1, column 41");
	expect_error(f, parse_mlflow, "{\"instances\": [[1, 2, \"a\", true]]} x", SL_EPARSE,
		     "unexpected text after the JSON value");
	expect_error(f, parse_mlflow, "{\"x\": tru, \"instances\": [[1, 2, \"a\", true]]}",
		     SL_EPARSE, "malformed JSON at line 1, column 7");
	expect_error(f, parse_mlflow, "{\"dataframe_split\": {\"columns\": [\"x\", \"n\", \"c\", "
				      "\"flag\"], \"data\": [[1, 2, \"a\", 5]], \"columns\": 5}}",
		     SL_EINVAL, "dataframe_split.columns must be an array");
	expect_error(f, parse_mlflow, "{\"dataframe_split\": {\"columns\": [\"x\", \"n\", \"c\", "
				      "\"flag\"], \"data\": [[1, 2, \"a\", true], 3]}}",
		     SL_EINVAL, "dataframe_split.data[1] must be an array");
	expect_error(f, parse_mlflow, "{\"dataframe_split\": {\"data\": [[1, 2, \"a\"]]}}", SL_EINVAL,
		     "dataframe_split.data[0] has 3 values, the model takes 4");
	expect_error(f, parse_csv, "x,n,c\n1,2,a\n", SL_EINVAL, "CSV header: missing column 'flag'");
	expect_error(f, parse_csv, "x,n,c,flag\n1,2,a\n", SL_EINVAL, "CSV record 1 has 3 fields");
	expect_error(f, parse_csv, "x,n,c,flag\nabc,2,a,true\n", SL_EINVAL,
		     "CSV record 1, column 'x': expected a number (float64), got 'abc'");
	expect_error(f, parse_csv, "x,n,c,flag\n1,2,\"a,true\n", SL_EPARSE, "CSV record 1");
	expect_error(f, parse_csv, "", SL_EINVAL, "CSV body is empty");
}

/* Two batches are the same: every cell's value (a string's text) and span. */
static void same_batch(const serve_batch *a, const serve_batch *b, const char *what)
{
	if (a->n != b->n || a->k != b->k)
		fail_msg("%s: %zu x %zu against %zu x %zu", what, a->n, a->k, b->n, b->k);
	for (size_t c = 0; c < a->n * a->k; c++) {
		const expr_value *x = &a->v[c], *y = &b->v[c];
		if (x->null != y->null || x->i != y->i || memcmp(&x->f, &y->f, sizeof x->f) ||
		    x->len != y->len || (x->len && memcmp(x->s, y->s, x->len)) ||
		    a->span[2 * c] != b->span[2 * c] || a->span[2 * c + 1] != b->span[2 * c + 1])
			fail_msg("%s: cell %zu differs", what, c);
	}
}

/*
 * dataframe_split's columns served from the cache give the batch a fresh
 * reading gives; a columns array that differs from the kept one in any
 * byte (its order, a name, white space) is read afresh, and so is the same
 * array for another signature, even one built at the same address.
 */
static void test_mlflow_colcache(void **state)
{
	fixture *f = *state;
	static const char *const bodies[] = {
		/* The kept array, then the same again. */
		"{\"dataframe_split\": {\"columns\": [\"flag\", \"c\", \"x\", \"extra\", \"n\"],"
		" \"data\": [[true, \"a\", 0.25, 1, 1], [false, \"b\", 0.9, 2, 3],"
		" [true, \"zzz\", 0.6, 3, 0]]}}",
		/* Reordered (with the data). */
		"{\"dataframe_split\": {\"columns\": [\"x\", \"c\", \"flag\", \"extra\", \"n\"],"
		" \"data\": [[0.25, \"a\", true, 1, 1], [0.9, \"b\", false, 2, 3],"
		" [0.6, \"zzz\", true, 3, 0]]}}",
		/* One name renamed: an ignored column, another name. */
		"{\"dataframe_split\": {\"columns\": [\"x\", \"c\", \"flag\", \"extra2\", \"n\"],"
		" \"data\": [[0.25, \"a\", true, 1, 1], [0.9, \"b\", false, 2, 3],"
		" [0.6, \"zzz\", true, 3, 0]]}}",
		/* White space changed, and an escape that reads "flag". */
		"{\"dataframe_split\": {\"columns\":[ \"x\",\"c\", \"fl\\u0061g\", \"extra2\", \"n\"],"
		" \"data\": [[0.25, \"a\", true, 1, 1], [0.9, \"b\", false, 2, 3],"
		" [0.6, \"zzz\", true, 3, 0]]}}",
	};
	serve_colcache cc = {0};
	serve_arena fresh_a = {0};
	serve_batch got, want;
	char *path2;
	bundle *b2;

	/* Each body twice: a miss that keeps its array, then a hit. */
	for (size_t i = 0; i < SL__ARRAY_LEN(bodies); i++) {
		for (int t = 0; t < 2; t++) {
			uint64_t hits = cc.hits;
			serve_arena_reset(&f->a);
			serve_arena_reset(&fresh_a);
			if (mlflow_parse_json(&f->sig, bodies[i], strlen(bodies[i]), &cc, &f->a, &got))
				fail_msg("body %zu: %s", i, sl_errmsg());
			assert_int_equal(mlflow_parse_json(&f->sig, bodies[i], strlen(bodies[i]), NULL,
							   &fresh_a, &want),
					 0);
			expect_rows(f, &got);
			same_batch(&got, &want, bodies[i]);
			if (cc.hits != hits + (uint64_t)t)
				fail_msg("body %zu, time %d: %s", i, t, t ? "not served from the cache"
									  : "served from the cache");
		}
	}
	/* A kept array followed by its rows cut short, another "columns", or a
	 * missing column is refused as without the cache. */
	{
		static const char *const bad[] = {
			"{\"dataframe_split\": {\"columns\": [\"x\", \"c\", \"flag\", \"extra2\", \"n\"],"
			" \"data\": [[0.25, \"a\", true, 1]]}}",
			"{\"dataframe_split\": {\"columns\": [\"x\", \"c\", \"flag\", \"extra2\", \"n\"],"
			" \"columns\": [\"x\"], \"data\": [[0.25]]}}",
			"{\"dataframe_split\": {\"columns\": [\"x\", \"c\", \"flag\", \"extra2\", \"n\"],"
			" \"data\": [[0.25, \"a\", true, 1, 1]], \"x\": }}",
			"{\"dataframe_split\": {\"columns\": [\"x\", \"c\", \"flag\", \"extra2\"],"
			" \"data\": [[0.25, \"a\", true, 1]]}}",
		};
		for (size_t i = 0; i < SL__ARRAY_LEN(bad); i++) {
			char msg[512];
			int rc;
			serve_arena_reset(&f->a);
			rc = mlflow_parse_json(&f->sig, bad[i], strlen(bad[i]), &cc, &f->a, &got);
			snprintf(msg, sizeof msg, "%s", sl_errmsg());
			assert_int_not_equal(rc, 0);
			assert_int_equal(mlflow_parse_json(&f->sig, bad[i], strlen(bad[i]), NULL, &f->a,
							   &want),
					 rc);
			assert_string_equal(msg, sl_errmsg());
		}
	}
	/*
	 * "columns" twice: each input named in one of them, the data following
	 * the last; the cells of the others are missing, with or without the
	 * first array served from the cache.
	 */
	for (int t = 0; t < 2; t++) {
		static const char body[] =
			"{\"dataframe_split\": {\"columns\": [\"x\", \"c\", \"flag\", \"extra2\", \"n\"],"
			" \"columns\": [], \"data\": [[], []]}}";
		static const char body2[] =
			"{\"dataframe_split\": {\"columns\": [\"flag\", \"c\", \"n\"],"
			" \"columns\": [\"x\"], \"data\": [[0.5], [1]]}}";
		const char *b = t ? body2 : body;
		serve_arena_reset(&f->a);
		if (mlflow_parse_json(&f->sig, b, strlen(b), &cc, &f->a, &got))
			fail_msg("%s: %s", b, sl_errmsg());
		assert_int_equal(got.n, 2);
		for (size_t c = 0; c < 8; c++) {
			bool set = t && c % 4 == 0;
			if (got.v[c].null == set || (set && got.v[c].f != (c ? 1 : 0.5)) ||
			    (!set && got.span[2 * c + 1] != 0))
				fail_msg("%s: cell %zu", b, c);
		}
	}
	/*
	 * The model reloaded with its inputs in another order, its signature
	 * built where the old one was: the kept map (x first) would put x's
	 * value into flag; the array is read again for the new signature.
	 */
	path2 = make_model_as(f->dir, "r.slm", true);
	assert_int_equal(bundle_open(path2, BUNDLE_ROWS, &b2), 0);
	{
		const void *at = &f->sig;
		uint64_t old = f->sig.id, hits;
		/* Kept for the old signature (and served from the cache). */
		for (int t = 0; t < 2; t++) {
			serve_arena_reset(&f->a);
			assert_int_equal(mlflow_parse_json(&f->sig, bodies[3], strlen(bodies[3]), &cc,
							   &f->a, &got),
					 0);
		}
		hits = cc.hits;
		assert_true(cc.e[0].sig == old || cc.e[1].sig == old || cc.e[2].sig == old ||
			    cc.e[3].sig == old);
		serve_arena_reset(&f->a);
		assert_int_equal(mlflow_parse_json(&f->sig, bodies[3], strlen(bodies[3]), &cc, &f->a,
						   &got),
				 0);
		assert_int_equal(cc.hits, ++hits);
		serve_sig_free(&f->sig);
		assert_int_equal(serve_sig_build(b2, &f->sig), 0);
		assert_ptr_equal(at, &f->sig);
		assert_true(f->sig.id != old && f->sig.id != 0);
		assert_string_equal(f->sig.in_names[0], "flag");
		serve_arena_reset(&f->a);
		if (mlflow_parse_json(&f->sig, bodies[3], strlen(bodies[3]), &cc, &f->a, &got))
			fail_msg("reloaded: %s", sl_errmsg());
		assert_int_equal(cc.hits, hits);
		/* Signature order: flag, c, n, x. */
		for (size_t i = 0; i < 3; i++) {
			const expr_value *v = got.v + i * 4;
			assert_true(v[3].f == rows3[i].x);
			assert_true(v[2].i == rows3[i].n);
			assert_int_equal(v[1].len, strlen(rows3[i].c));
			assert_true(v[0].i == rows3[i].flag);
		}
		/* And now from the cache, for the new signature. */
		serve_arena_reset(&fresh_a);
		assert_int_equal(mlflow_parse_json(&f->sig, bodies[3], strlen(bodies[3]), &cc, &fresh_a,
						   &want),
				 0);
		assert_int_equal(cc.hits, hits + 1);
		same_batch(&want, &got, "reloaded");
		/* The fixture's signature back, for teardown. */
		serve_sig_free(&f->sig);
		assert_int_equal(serve_sig_build(f->b, &f->sig), 0);
	}
	bundle_close(b2);
	free(path2);
	serve_colcache_free(&cc);
	serve_colcache_free(&cc); /* emptied: freeing again is harmless */
	serve_arena_free(&fresh_a);
}

/*
 * Numbers in dataframe_split's rows, of every shape (long mantissas,
 * exponents, negative zero, integers past 2^53, leading-zero fractions),
 * between the separators clients write and up to the body's last byte:
 * each float cell holds strtod's bits of its text, each integer cell the
 * integer, and each span is the number's text.
 */
static void test_mlflow_numbers(void **state)
{
	fixture *f = *state;
	enum { ROWS = 1000, BODIES = 400 };
	static const char *const seps[] = {",", ", ", " , ", ",\n  ", "\t,", ",  "};
	static const char *const fixed[] = {"-0", "-0.0", "0", "0.0", "9007199254740993",
					    "-9007199254740993", "18446744073709551617",
					    "123456789012345678901234567890", "4.9e-324",
					    "2.2250738585072014e-308", "1.7976931348623157e308",
					    "0.30000000000000004", "1e23", "8.98846567431158e307",
					    "0.000012345678901234567", "5e-1", "1E+2", "-0e-0"};
	const size_t len_max = (size_t)ROWS * 128 + 256;
	char *body = malloc(len_max), (*xs)[64] = malloc(ROWS * sizeof *xs);
	int64_t *ns = malloc(ROWS * sizeof *ns);
	serve_colcache cc = {0};
	sl__rng r;

	assert_non_null(body);
	assert_non_null(xs);
	assert_non_null(ns);
	sl__rng_seed(&r, 53);
	for (int t = 0; t < BODIES; t++) {
		size_t n = 0;
		serve_batch b;
		char *exact;
		n += (size_t)snprintf(body + n, len_max - n,
				      "{\"dataframe_split\": {\"columns\": [\"c\", \"flag\", \"x\", \"n\"], "
				      "\"data\": [");
		for (size_t i = 0; i < ROWS; i++) {
			char *x = xs[i];
			size_t k = 0;
			if (sl__rng_below(&r, 16) == 0) {
				k = (size_t)snprintf(x, sizeof xs[0], "%s",
						     fixed[sl__rng_below(&r, SL__ARRAY_LEN(fixed))]);
			} else {
				/* Integer digits (1 to 22, or a zero alone), a
				 * fraction (1 to 22 digits, zeros often), an exponent. */
				int ni = 1 + (int)sl__rng_below(&r, sl__rng_below(&r, 2) ? 4 : 22);
				int nf = sl__rng_below(&r, 3) ? (int)sl__rng_below(&r, 23) : 0;
				if (sl__rng_below(&r, 3) == 0)
					x[k++] = '-';
				if (sl__rng_below(&r, 3) == 0) {
					x[k++] = '0';
				} else {
					x[k++] = (char)('1' + sl__rng_below(&r, 9));
					for (int d = 1; d < ni; d++)
						x[k++] = (char)('0' + sl__rng_below(&r, 10));
				}
				if (nf > 0) {
					x[k++] = '.';
					for (int d = 0; d < nf; d++)
						x[k++] = (char)('0' + (sl__rng_below(&r, 3) ? sl__rng_below(&r, 10)
											    : 0));
				}
				x[k] = 0;
				if (sl__rng_below(&r, 4) == 0)
					snprintf(x + k, sizeof xs[0] - k, "%s%s%d",
						 sl__rng_below(&r, 2) ? "e" : "E",
						 sl__rng_below(&r, 2) ? "-" : (sl__rng_below(&r, 2) ? "+" : ""),
						 (int)sl__rng_below(&r, 280));
			}
			/* Integers to 19 digits, past 2^53 often. */
			ns[i] = (int64_t)(sl__rng_below(&r, 2) ? sl__rng_below(&r, 1000)
							      : sl__rng_below(&r, (uint64_t)INT64_MAX));
			if (sl__rng_below(&r, 2))
				ns[i] = -ns[i];
			n += (size_t)snprintf(body + n, len_max - n, "%s[\"a\"%strue%s%s%s%lld]",
					      i ? seps[sl__rng_below(&r, SL__ARRAY_LEN(seps))] : "",
					      seps[sl__rng_below(&r, SL__ARRAY_LEN(seps))],
					      seps[sl__rng_below(&r, SL__ARRAY_LEN(seps))], x,
					      seps[sl__rng_below(&r, SL__ARRAY_LEN(seps))], (long long)ns[i]);
		}
		/* The last numbers close to the body's end, read from a copy. */
		n += (size_t)snprintf(body + n, len_max - n, "]}}%*s", (int)sl__rng_below(&r, 3), "");
		exact = malloc(n);
		assert_non_null(exact);
		memcpy(exact, body, n);
		serve_arena_reset(&f->a);
		if (mlflow_parse_json(&f->sig, exact, n, t % 2 ? &cc : NULL, &f->a, &b))
			fail_msg("body %d: %s", t, sl_errmsg());
		assert_int_equal(b.n, ROWS);
		for (size_t i = 0; i < ROWS; i++) {
			const expr_value *v = b.v + 4 * i;
			const uint32_t *sp = b.span + 8 * i;
			double want = strtod(xs[i], NULL);
			if (memcmp(&v[0].f, &want, sizeof want) || v[0].null)
				fail_msg("'%s' read as %.17g, strtod %.17g", xs[i], v[0].f, want);
			if (sp[1] != strlen(xs[i]) || memcmp(exact + sp[0], xs[i], sp[1]))
				fail_msg("'%s': span '%.*s'", xs[i], (int)sp[1], exact + sp[0]);
			if (v[1].i != ns[i] || v[1].null)
				fail_msg("%lld read as %lld", (long long)ns[i], (long long)v[1].i);
		}
		free(exact);
	}
	free(body);
	free(xs);
	free(ns);
	serve_colcache_free(&cc);
}

/* The log record is JSON with the request's raw values and the answer. */
static void test_log_record(void **state)
{
	fixture *f = *state;
	v2_request req;
	serve_result res;
	sl__buf rec;
	json_t *j, *in;
	serve_logrec r;

	serve_arena_reset(&f->a);
	assert_int_equal(v2_parse(&f->sig, v2_columns, strlen(v2_columns), &f->a, &req), 0);
	assert_int_equal(serve_score(&f->sig, f->row, &req.batch, false, &f->a, &res), 0);
	memset(&r, 0, sizeof r);
	r.id = "abc-1";
	r.time_ms = 1764501753123;
	r.model = "spam";
	r.version = "3";
	r.endpoint = "v2";
	r.status = 200;
	r.latency_us = 77;
	r.sig = &f->sig;
	r.batch = &req.batch;
	r.res = &res;
	sl__buf_init(&rec, 0);
	assert_int_equal(serve_log_record(&r, &f->a, &rec), 0);
	assert_true(rec.len > 0 && rec.data[rec.len - 1] == '\n');
	j = json_loads(rec.data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "time")), "2025-11-30T11:22:33.123Z");
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), 3);
	/* Rows in the schema's order: x, n, c, flag; outputs predict, proba_no, proba_yes. */
	in = json_object_get(j, "inputs");
	assert_true(json_real_value(json_array_get(json_array_get(in, 1), 0)) == 0.9);
	assert_string_equal(json_string_value(json_array_get(json_array_get(in, 2), 2)), "zzz");
	assert_true(json_is_true(json_array_get(json_array_get(in, 0), 3)));
	assert_int_equal(json_array_size(json_object_get(j, "outputs")), 3);
	assert_int_equal(json_array_size(json_array_get(json_object_get(j, "outputs"), 0)), 3);
	assert_true(json_is_string(json_array_get(json_array_get(json_object_get(j, "outputs"), 0), 0)));
	json_decref(j);
	{
		char *schema = serve_log_schema(&f->sig, "spam", "3");
		json_t *sj = json_loads(schema, 0, NULL);
		assert_non_null(sj);
		assert_true(schema[strlen(schema) - 1] == '\n');
		assert_int_equal(json_integer_value(json_object_get(sj, "schema")), 1);
		assert_string_equal(json_string_value(json_array_get(json_object_get(sj, "inputs"), 3)), "flag");
		assert_string_equal(json_string_value(json_array_get(json_object_get(sj, "outputs"), 0)), "predict");
		assert_string_equal(json_string_value(json_array_get(json_object_get(sj, "outputs"), 2)), "proba_yes");
		json_decref(sj);
		sl__free(schema);
	}
	/* An error keeps the body, escaped, cut at the limit. */
	sl__buf_reset(&rec);
	memset(&r, 0, sizeof r);
	r.id = "abc-2";
	r.endpoint = "invocations";
	r.status = 400;
	r.error = "bad \"thing\"";
	r.body = "{\"x\": \n\x01 \xff";
	r.body_len = strlen(r.body);
	r.body_max = 5;
	assert_int_equal(serve_log_record(&r, &f->a, &rec), 0);
	j = json_loads(rec.data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "error")), "bad \"thing\"");
	assert_string_equal(json_string_value(json_object_get(j, "body")), "{\"x\":");
	assert_true(json_is_true(json_object_get(j, "body_truncated")));
	assert_true(json_is_null(json_object_get(j, "model")));
	json_decref(j);
	sl__buf_free(&rec);
}

#define Z30 "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
#define Z300 Z30 Z30 Z30 Z30 Z30 Z30 Z30 Z30 Z30 Z30

/* The record's exact bytes, for value texts of every length the copy
 * treats apart (1-3, 4-7, 8-16 and longer, one longer than the room
 * guessed for the inputs), escapes in strings, rows sent as columns, and
 * header strings with and without escapes: readers of older logs and of
 * this one see the same text. */
static void test_log_record_bytes(void **state)
{
	fixture *f = *state;
	static const char body[] =
		"{\"inputs\": [{\"name\": \"c\", \"shape\": [3], \"datatype\": \"BYTES\","
		" \"data\": [\"a\\\"b\", \"\\u00e9t\u00e9\", \"" Z300 "\"]},"
		"{\"name\": \"x\", \"shape\": [3], \"datatype\": \"FP64\","
		" \"data\": [0.123456789012345678, -1.5e-7, 3.25]},"
		"{\"name\": \"n\", \"shape\": [3], \"datatype\": \"INT64\", \"data\": [1234567, 12345678, 7]},"
		"{\"name\": \"flag\", \"shape\": [3], \"datatype\": \"BOOL\", \"data\": [true,false,true]}]}";
	static const struct {
		const char *id, *model, *version;
		int status;
		uint64_t lat;
		const char *want;
	} cases[] = {
		{"abc-1", "spam", "3", 200, 0, "{\"id\":\"abc-1\",\"time\":\"2025-11-30T11:22:33.123Z\",\"model\":\"spam\",\"version\":\"3\",\"endpoint\":\"v2\",\"status\":200,\"latency_us\":0,\"rows\":3,"
		  "\"inputs\":[[0.123456789012345678,1234567,\"a\\\"b\",true],[-1.5e-7,12345678,\"\\u00e9t\xc3\xa9\",false],[3.25,7,\"" Z300 "\",true]],"
		  "\"outputs\":[[\"yes\",0,1],[\"yes\",0,1],[\"yes\",8.547105101275034e-07,0.9999991452894899]]}\n"},
		{"q\"\n\\", "sp\xc3\xa9m", "v\x01", 200, 18446744073709551615u, "{\"id\":\"q\\\"\\n\\\\\",\"time\":\"2025-11-30T11:22:33.123Z\",\"model\":\"sp\xc3\xa9m\",\"version\":\"v\\u0001\",\"endpoint\":\"v2\",\"status\":200,\"latency_us\":18446744073709551615,\"rows\":3,"
		  "\"inputs\":[[0.123456789012345678,1234567,\"a\\\"b\",true],[-1.5e-7,12345678,\"\\u00e9t\xc3\xa9\",false],[3.25,7,\"" Z300 "\",true]],"
		  "\"outputs\":[[\"yes\",0,1],[\"yes\",0,1],[\"yes\",8.547105101275034e-07,0.9999991452894899]]}\n"},
	};
	v2_request req;
	serve_result res;
	sl__buf rec;

	serve_arena_reset(&f->a);
	if (v2_parse(&f->sig, body, strlen(body), &f->a, &req))
		fail_msg("v2_parse: %s", sl_errmsg());
	assert_int_equal(serve_score(&f->sig, f->row, &req.batch, false, &f->a, &res), 0);
	sl__buf_init(&rec, 0);
	/* Written piece by piece; from the head built once for the model and
	 * version strings (serve_sig_v2_head), byte for byte the same; and
	 * piece by piece again for other strings than the head's. */
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
			char model[32], version[32];
			serve_logrec r = {.id = cases[i].id, .time_ms = 1764501753123,
					  .model = cases[i].model, .version = cases[i].version,
					  .endpoint = "v2", .status = cases[i].status,
					  .latency_us = cases[i].lat, .sig = &f->sig,
					  .batch = &req.batch, .res = &res};
			if (pass == 0)
				assert_null(f->sig.log_head);
			else
				assert_int_equal(serve_sig_v2_head(&f->sig, cases[i].model,
								   cases[i].version),
						 0);
			if (pass == 2) {
				snprintf(model, sizeof model, "%s", cases[i].model);
				snprintf(version, sizeof version, "%s", cases[i].version);
				r.model = model;
				r.version = version;
			}
			sl__buf_reset(&rec);
			assert_int_equal(serve_log_record(&r, &f->a, &rec), 0);
			assert_int_equal(strlen(rec.data), rec.len);
			assert_string_equal(rec.data, cases[i].want);
		}
	sl__buf_free(&rec);
}

/* Rows sent as a matrix without spaces are copied a row at a time: the
 * record's bytes are those of the same rows sent with spaces (copied value
 * by value), a row that outgrows the room guessed for the inputs included. */
static void test_log_record_rows(void **state)
{
	fixture *f = *state;
	static const char *bodies[] = {
		"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[3,4],\"datatype\":\"BYTES\",\"data\":"
		"[[0.25,1,\"a\\\"b\",true],[-1.5e-7,12345678,\"\\u00e9tÃ©\",false],[0.123456789012345678,7,\"" Z300 "\",true]]}]}",
		"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[3,4],\"datatype\":\"BYTES\",\"data\":"
		"[[0.25, 1, \"a\\\"b\", true], [-1.5e-7,12345678, \"\\u00e9tÃ©\",false],[0.123456789012345678 ,7,\"" Z300 "\",true]]}]}",
		"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[3,4],\"datatype\":\"BYTES\",\"data\":"
		"[[0.25,1,\"a\\\"b\",true],[-1.5e-7,12345678,\"\\u00e9tÃ©\",false] , [ 0.123456789012345678,7,\"" Z300 "\",true ]]}]}",
	};
	static const char want_inputs[] =
		"\"inputs\":[[0.25,1,\"a\\\"b\",true],[-1.5e-7,12345678,\"\\u00e9tÃ©\",false],"
		"[0.123456789012345678,7,\"" Z300 "\",true]],\"outputs\":";
	char *first = NULL;

	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		serve_logrec r = {.id = "abc-1", .time_ms = 1764501753123, .model = "spam", .version = "3",
				  .endpoint = "v2", .status = 200, .sig = &f->sig};
		v2_request req;
		serve_result res;
		sl__buf rec;

		serve_arena_reset(&f->a);
		if (v2_parse(&f->sig, bodies[i], strlen(bodies[i]), &f->a, &req))
			fail_msg("v2_parse of body %zu: %s", i, sl_errmsg());
		if (serve_score(&f->sig, f->row, &req.batch, false, &f->a, &res))
			fail_msg("serve_score of body %zu: %s", i, sl_errmsg());
		r.batch = &req.batch;
		r.res = &res;
		/* A new buffer: the long row's copy grows it. */
		sl__buf_init(&rec, 0);
		assert_int_equal(serve_log_record(&r, &f->a, &rec), 0);
		assert_int_equal(strlen(rec.data), rec.len);
		if (!strstr(rec.data, want_inputs))
			fail_msg("body %zu: the inputs are not as sent: %s", i, rec.data);
		if (!first)
			first = strdup(rec.data);
		else
			assert_string_equal(rec.data, first);
		sl__buf_free(&rec);
	}
	free(first);
}

/*
 * A one-row response opens each output with the text built at load (its
 * shape included): byte for byte what the pieces give, for a request id
 * of plain characters (copied at once) and one needing escapes.
 */
static void test_v2_one_row_bytes(void **state)
{
	fixture *f = *state;
	static const char body[] =
		"{\"inputs\": [{\"name\": \"input-0\", \"shape\": [1, 4], \"datatype\": \"BYTES\","
		" \"data\": [[0.25, 1, \"a\", true]]}]}";
	static const char *ids[] = {"rid-1", "0123456789abcdef-0123", "q\"\\\n\x01\xc3\xa9"};
	static const char *ids_json[] = {"\"rid-1\"", "\"0123456789abcdef-0123\"",
					 "\"q\\\"\\\\\\n\\u0001\xc3\xa9\""};

	for (size_t t = 0; t < 3; t++) {
		v2_request req;
		serve_result res;
		char want[1024], p0[DS_F64_BUF], p1[DS_F64_BUF];
		const char *label;

		serve_arena_reset(&f->a);
		assert_int_equal(v2_parse(&f->sig, body, strlen(body), &f->a, &req), 0);
		assert_int_equal(serve_score(&f->sig, f->row, &req.batch, false, &f->a, &res), 0);
		ds_format_f64(res.out[0], p0);
		ds_format_f64(res.out[1], p1);
		label = f->sig.class_json[res.label[0]];
		snprintf(want, sizeof want,
			 "{\"model_name\":\"spam\",\"model_version\":\"3\",\"id\":%s,\"outputs\":["
			 "{\"name\":\"predict\",\"datatype\":\"%s\",\"shape\":[1],\"data\":[%s]},"
			 "{\"name\":\"predict_proba\",\"datatype\":\"FP64\",\"shape\":[1,2],\"data\":[%s,%s]}]}",
			 ids_json[t], f->sig.label_type, label, p0, p1);
		sl__buf_reset(&f->out);
		assert_int_equal(v2_encode(&f->sig, "spam", "3", &req, ids[t], &res, &f->a, &f->out), 0);
		assert_string_equal(f->out.data, want);
		/* From an empty buffer (every piece grows it): the same. */
		{
			sl__buf b;
			sl__buf_init(&b, 0);
			assert_int_equal(v2_encode(&f->sig, "spam", "3", &req, ids[t], &res, &f->a, &b), 0);
			assert_string_equal(b.data, want);
			sl__buf_free(&b);
		}
	}
	/* Three rows: the shapes written for the count. */
	{
		v2_request req;
		serve_result res;
		serve_arena_reset(&f->a);
		assert_int_equal(v2_parse(&f->sig, v2_matrix, strlen(v2_matrix), &f->a, &req), 0);
		req.want = ~0u;
		req.explain = false;
		assert_int_equal(serve_score(&f->sig, f->row, &req.batch, false, &f->a, &res), 0);
		sl__buf_reset(&f->out);
		assert_int_equal(v2_encode(&f->sig, "spam", "3", &req, "rid-1", &res, &f->a, &f->out), 0);
		assert_non_null(strstr(f->out.data, "{\"name\":\"predict\",\"datatype\":\"BYTES\",\"shape\":[3],\"data\":["));
		assert_non_null(strstr(f->out.data, "{\"name\":\"predict_proba\",\"datatype\":\"FP64\",\"shape\":[3,2],\"data\":["));
	}
}

/*
 * JSON strings of every length up to 24 with one byte of each kind at
 * each place: written at once when nothing needs an escape (the check
 * takes eight bytes at a time), else piece by piece; either way the text
 * is each byte's own escape in turn, whatever room the buffer has.
 */
static void test_jstr_escapes(void **state)
{
	static const unsigned char kinds[] = {'a', 0x00, 0x01, 0x1f, ' ', '!', '"', '#', '[', '\\', ']', 0x7f, 0x80, 0xff, '\n'};
	sl__buf b, one;

	(void)state;
	sl__buf_init(&b, 0);
	sl__buf_init(&one, 0);
	for (size_t n = 1; n <= 24; n++)
		for (size_t at = 0; at < n; at++)
			for (size_t k = 0; k < sizeof kinds; k++)
				for (int room = 0; room < 2; room++) {
					char str[32];
					sl__buf want;
					memset(str, 'a', n);
					str[at] = (char)kinds[k];
					sl__buf_init(&want, 0);
					assert_int_equal(serve_lit(&want, "\""), 0);
					for (size_t i = 0; i < n; i++) {
						sl__buf_reset(&one);
						assert_int_equal(serve_put_jstr(&one, str + i, 1), 0);
						assert_int_equal(serve_put(&want, one.data + 1, one.len - 2), 0);
					}
					assert_int_equal(serve_lit(&want, "\""), 0);
					sl__buf_free(&b);
					sl__buf_init(&b, 0);
					if (room)
						assert_int_equal(sl__buf_reserve(&b, 256), 0);
					assert_int_equal(serve_put_jstr(&b, str, n), 0);
					assert_int_equal(b.len, want.len);
					assert_memory_equal(b.data, want.data, want.len);
					assert_int_equal(b.data[b.len], 0);
					sl__buf_free(&want);
				}
	sl__buf_free(&b);
	sl__buf_free(&one);
}

/*
 * Many rows sent with spaces, copied value by value in runs checked
 * against the room once a run, into a buffer that starts empty and grows
 * on the way: the same record as the rows sent without spaces (copied a
 * row at a time), values near the body's end and filled-in ones included.
 */
static void test_log_record_many_rows(void **state)
{
	fixture *f = *state;
	sl__buf spaced, tight;
	char *first = NULL;

	sl__buf_init(&spaced, 0);
	sl__buf_init(&tight, 0);
	for (int form = 0; form < 2; form++) {
		sl__buf *body = form ? &tight : &spaced;
		assert_int_equal(serve_lit(body, "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[300,4],"
					   "\"datatype\":\"BYTES\",\"data\":["), 0);
		for (int i = 0; i < 300; i++) {
			char row[160];
			if (form)
				snprintf(row, sizeof row, "%s[%d.%d,%d,\"%.*s\",%s]", i ? "," : "", i, i * 7,
					 i % 13, i % 40 + 1, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
					 i % 2 ? "true" : "false");
			else
				snprintf(row, sizeof row, "%s[%d.%d, %d,  \"%.*s\" , %s]", i ? ", " : "", i, i * 7,
					 i % 13, i % 40 + 1, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
					 i % 2 ? "true" : "false");
			assert_int_equal(serve_puts(body, row), 0);
		}
		assert_int_equal(serve_lit(body, "]}]}"), 0);
	}
	for (int form = 0; form < 2; form++) {
		sl__buf *body = form ? &tight : &spaced;
		serve_logrec r = {.id = "abc-1", .time_ms = 1764501753123, .model = "spam", .version = "3",
				  .endpoint = "v2", .status = 200, .sig = &f->sig};
		v2_request req;
		serve_result res;
		sl__buf rec;

		serve_arena_reset(&f->a);
		if (v2_parse(&f->sig, body->data, body->len, &f->a, &req))
			fail_msg("v2_parse of form %d: %s", form, sl_errmsg());
		assert_int_equal(serve_score(&f->sig, f->row, &req.batch, false, &f->a, &res), 0);
		r.batch = &req.batch;
		r.res = &res;
		sl__buf_init(&rec, 0);
		assert_int_equal(serve_log_record(&r, &f->a, &rec), 0);
		assert_int_equal(strlen(rec.data), rec.len);
		assert_non_null(strstr(rec.data, "\"inputs\":[[0.0,0,\"a\",false],[1.7,1,\"ab\",true],"));
		assert_non_null(strstr(rec.data, ",[299.2093,0,\"abcdefghijklmnopqrst\",true]],\"outputs\":"));
		if (!first)
			first = strdup(rec.data);
		else
			assert_string_equal(rec.data, first);
		sl__buf_free(&rec);
	}
	free(first);
	sl__buf_free(&spaced);
	sl__buf_free(&tight);
}

static void test_metadata(void **state)
{
	fixture *f = *state;
	char *m = serve_sig_metadata(&f->sig, "spam", "3", NULL, 0);
	json_t *j = json_loads(m, 0, NULL);

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "spam");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "versions"), 0)), "3");
	assert_int_equal(json_array_size(json_object_get(j, "inputs")), 4);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "inputs"), 2), "datatype")),
			    "BYTES");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "outputs"), 1), "name")),
			    "predict_proba");
	json_decref(j);
	sl__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jscan_vs_jansson),
		cmocka_unit_test(test_jscan_depth_and_unescape),
		cmocka_unit_test(test_jscan_numbers),
		cmocka_unit_test(test_jscan_plain),
		cmocka_unit_test(test_jscan_short),
		cmocka_unit_test(test_jscan_decimal),
		cmocka_unit_test(test_jscan_skip_brackets),
		cmocka_unit_test(test_v2_numeric_matrix),
		cmocka_unit_test_setup_teardown(test_v2_layouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_plain_cells, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_cached_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mlflow_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mlflow_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mlflow_colcache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mlflow_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_record_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_record_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_record_many_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_one_row_bytes, setup, teardown),
		cmocka_unit_test(test_jstr_escapes),
		cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
