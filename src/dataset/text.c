/*
 * Text forms of values: the parsers the readers call once per field (so
 * they are written for speed and never allocate on the common path) and the
 * formatters the writers use (chosen so that text -> value -> text -> value
 * gives the same value: floats print with the fewest digits that read back
 * exactly).
 *
 * Floats: a decimal with at most 19 significant digits and a power of ten
 * within +-22 whose mantissa fits in 53 bits is exact as a double, and one
 * IEEE multiply or divide by an exact power of ten then rounds correctly
 * (Clinger's fast path). Everything else goes to strtod after this file's
 * own grammar check, so hex floats and "nan(...)" stay text. The C locale is
 * assumed: the library never calls setlocale.
 *
 * Floats out: the text of %.15g, else %.16g, else %.17g, the first that
 * reads back as the same double (printf's text, digit for digit). For
 * |v| in [1e-6, 1e17), where models' outputs are, the rounding and the
 * read-back test are done exactly in 128-bit integers (f64_exact): no
 * printf and no parse, which cost a server some 1,600 instructions per
 * number. Elsewhere printf gives the digits and a parse tests them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/internal.h"

static inline bool is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

bool ds_parse_i64(const char *s, size_t len, int64_t *out)
{
	const char *p = s, *end = s + len;
	bool neg = false;
	uint64_t v = 0;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == end || end - p > 19)
		return false;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

static bool eq_nocase(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static bool parse_f64_slow(const char *s, size_t len, double *out)
{
	char small[128];
	char *buf = small, *end;
	bool ok;

	if (len >= sizeof small) {
		buf = sl__strndup(s, len);
		if (!buf)
			return false;
	} else {
		memcpy(small, s, len);
		small[len] = '\0';
	}
	*out = strtod(buf, &end);
	ok = end == buf + len;
	if (buf != small)
		sl__free(buf);
	return ok;
}

bool ds_parse_f64(const char *s, size_t len, double *out)
{
	const char *p = s, *end = s + len;
	bool neg = false, any = false, inexact = false;
	uint64_t m = 0;
	int digits = 0;
	long exp10 = 0;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == end)
		return false;
	if (!is_digit(*p) && *p != '.') {
		size_t n = (size_t)(end - p);
		if (eq_nocase(p, n, "nan"))
			*out = neg ? -NAN : NAN;
		else if (eq_nocase(p, n, "inf") || eq_nocase(p, n, "infinity"))
			*out = neg ? -INFINITY : INFINITY;
		else
			return false;
		return true;
	}
	for (; p < end && is_digit(*p); p++) {
		int d = *p - '0';
		any = true;
		if (digits < 19) {
			m = m * 10 + (uint64_t)d;
			digits += m != 0;
		} else {
			exp10++;
			inexact |= d != 0;
		}
	}
	if (p < end && *p == '.') {
		for (p++; p < end && is_digit(*p); p++) {
			int d = *p - '0';
			any = true;
			if (digits < 19) {
				m = m * 10 + (uint64_t)d;
				digits += m != 0;
				exp10--;
			} else {
				inexact |= d != 0;
			}
		}
	}
	if (!any)
		return false;
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false;
		long e = 0;
		p++;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		if (p == end || !is_digit(*p))
			return false;
		for (; p < end && is_digit(*p); p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		exp10 += eneg ? -e : e;
	}
	if (p != end)
		return false;
	if (!inexact && m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
		double v = (double)m;
		v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
		*out = neg ? -v : v;
		return true;
	}
	return parse_f64_slow(s, len, out);
}

bool ds_parse_bool(const char *s, size_t len, bool *out)
{
	if (len == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))) {
		*out = true;
		return true;
	}
	if (len == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))) {
		*out = false;
		return true;
	}
	return false;
}

/* ---- timestamps ------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic). */
int64_t ds_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void ds_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool digits_n(const char *p, const char *end, int n, int *out)
{
	int v = 0;

	if (end - p < n)
		return false;
	for (int i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

bool ds_parse_timestamp(const char *s, size_t len, int64_t *out_us)
{
	const char *p = s, *end = s + len;
	int y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0;
	int64_t frac = 0, off = 0;

	if (len < 10 || !digits_n(p, end, 4, &y) || p[4] != '-' || !digits_n(p + 5, end, 2, &mo) ||
	    p[7] != '-' || !digits_n(p + 8, end, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	p += 10;
	if (p < end && (*p == 'T' || *p == ' ')) {
		p++;
		if (!digits_n(p, end, 2, &h) || p + 2 >= end || p[2] != ':' || !digits_n(p + 3, end, 2, &mi))
			return false;
		p += 5;
		if (p < end && *p == ':') {
			if (!digits_n(p + 1, end, 2, &se))
				return false;
			p += 3;
			if (p < end && *p == '.') {
				int nd = 0;
				for (p++; p < end && is_digit(*p); p++, nd++)
					if (nd < 6)
						frac = frac * 10 + (*p - '0');
				if (nd == 0 || nd > 9)
					return false;
				for (int k = nd; k < 6; k++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || se > 59)
			return false;
		if (p < end && *p == 'Z') {
			p++;
		} else if (p < end && (*p == '+' || *p == '-')) {
			int sign = *p == '-' ? -1 : 1;
			p++;
			if (!digits_n(p, end, 2, &oh))
				return false;
			p += 2;
			if (p < end && *p == ':')
				p++;
			if (p < end) {
				if (!digits_n(p, end, 2, &om))
					return false;
				p += 2;
			}
			if (oh > 23 || om > 59)
				return false;
			off = sign * ((int64_t)oh * 3600 + om * 60);
		}
	}
	if (p != end)
		return false;
	int64_t secs = ds_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	*out_us = secs * 1000000 + frac;
	return true;
}

size_t ds_format_timestamp(int64_t us, char *buf)
{
	int64_t secs = us / 1000000, frac = us % 1000000, days, y;
	int m, d, n;

	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	days = secs / 86400;
	secs %= 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	ds_civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, DS_TS_BUF, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d,
		     (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	if (frac) {
		int width = 6;
		while (frac % 10 == 0) {
			frac /= 10;
			width--;
		}
		n += snprintf(buf + n, (size_t)(DS_TS_BUF - n), ".%0*lld", width, (long long)frac);
	}
	buf[n++] = 'Z';
	buf[n] = '\0';
	return (size_t)n;
}

/* ---- floats out --------------------------------------------------------------- */

/*
 * The text of %g at precision prec for the digits d[0..prec) (d[0] not
 * zero) and decimal exponent x: style e when x is below -4 or not below
 * prec, else style f; trailing zeros and a bare point dropped.
 */
static int g_layout(const char *d, int x, int prec, bool neg, char *buf)
{
	int nd = prec, n = 0;

	while (nd > 1 && d[nd - 1] == '0')
		nd--;
	if (neg)
		buf[n++] = '-';
	if (x < -4 || x >= prec) {
		int ax = x < 0 ? -x : x;
		buf[n++] = d[0];
		if (nd > 1) {
			buf[n++] = '.';
			memcpy(buf + n, d + 1, (size_t)(nd - 1));
			n += nd - 1;
		}
		buf[n++] = 'e';
		buf[n++] = x < 0 ? '-' : '+';
		if (ax >= 100)
			buf[n++] = (char)('0' + ax / 100);
		buf[n++] = (char)('0' + ax / 10 % 10);
		buf[n++] = (char)('0' + ax % 10);
	} else if (x >= 0) {
		for (int i = 0; i <= x; i++)
			buf[n++] = i < nd ? d[i] : '0';
		if (nd > x + 1) {
			buf[n++] = '.';
			memcpy(buf + n, d + x + 1, (size_t)(nd - x - 1));
			n += nd - x - 1;
		}
	} else {
		buf[n++] = '0';
		buf[n++] = '.';
		for (int i = 0; i < -x - 1; i++)
			buf[n++] = '0';
		memcpy(buf + n, d, (size_t)nd);
		n += nd;
	}
	buf[n] = 0;
	return n;
}

/*
 * What snprintf("%.*g", prec, v) writes, from v's 17 significant digits
 * (dig, from "%.16e": d.dddd...e+x) and exponent x, or -1 when they cannot
 * tell: rounding the 17 digits gives printf's answer whenever the digits
 * dropped are not exactly a half: the 17 digits are v rounded, within half
 * a unit of their last digit, so a dropped part above (below) one half
 * means v is above (below) it too. At exactly a half (5 then zeros), v may
 * lie either side and the caller asks printf. Only for doubles outside
 * the exact path's range (f64_exact).
 */
static int g_from_digits(const char *dig, int x, int prec, bool neg, char *buf)
{
	char d[17];

	memcpy(d, dig, (size_t)prec);
	if (prec < 17) {
		bool half = dig[prec] == '5';
		for (int i = prec + 1; i < 17 && half; i++)
			half = dig[i] == '0';
		if (half)
			return -1;
		if (dig[prec] >= '5') {
			int i = prec - 1;
			while (i >= 0 && d[i] == '9')
				d[i--] = '0';
			if (i >= 0) {
				d[i]++;
			} else {
				/* 9.99..9 rounded up to 10.0..0: one digit more to the left. */
				d[0] = '1';
				x++;
			}
		}
	}
	return g_layout(d, x, prec, neg, buf);
}

static const uint64_t p10u[20] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
	100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
	10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
	10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
	10000000000000000000ULL,
};

/* The n decimal digits of c (below 10^n), leading zeros included. */
static void put_digits(uint64_t c, int n, char *d)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	/* Eight digits a division of the 64-bit value, split in 32 bits. */
	while (n >= 8) {
		uint32_t g = (uint32_t)(c % 100000000), hi = g / 10000, lo = g % 10000;
		c /= 100000000;
		memcpy(d + n - 2, pairs + 2 * (lo % 100), 2);
		memcpy(d + n - 4, pairs + 2 * (lo / 100), 2);
		memcpy(d + n - 6, pairs + 2 * (hi % 100), 2);
		memcpy(d + n - 8, pairs + 2 * (hi / 100), 2);
		n -= 8;
	}
	while (n >= 2) {
		memcpy(d + n - 2, pairs + 2 * (c % 100), 2);
		c /= 100;
		n -= 2;
	}
	if (n)
		d[0] = (char)('0' + c);
}

/*
 * ds_format_f64 for |v| in [1e-6, 1e17), exactly and without printf or a
 * parse: the text of %.15g if it reads back as v, else of %.16g if it
 * does, else %.17g (which always does). False outside that range.
 *
 * v = m * 2^e2 with m below 2^53; for k = 16 - floor(log10 |v|), v * 10^k
 * = m * 10^k * 2^e2 lies in [10^16, 10^17) and is exact in 128 bits:
 * q + r / 2^sh (sh = -e2 when e2 < 0, else r = 0). A precision p keeps
 * c = q / 10^(17-p) rounded as printf rounds (to nearest, a tie to even,
 * the tie decided by r exactly). That text reads back as v when it lies
 * within half of v's gap to each neighbour (a tie goes to the even
 * mantissa, as strtod rounds); the gap below is half as wide when m is a
 * power of two. In units of q's last digit, half the gap above is
 * 10^k * 2^(e2-1), so comparing at the scale 2^(sh+1) keeps everything an
 * integer: |(C - q) * 2^(sh+1) - 2r| against 10^k (C = c * 10^(17-p)).
 * sh stays below 74 (10^k / 2^sh is at least 1 for q to have 17 digits),
 * so these products fit in 128 bits.
 */
static bool f64_exact(double v, char *buf, size_t *out_n)
{
	uint64_t bits, m;
	int e2, x10, k = 0, sh;
	unsigned __int128 n, q = 0, r = 0, tenk;
	double h, h_up, h_dn, two_sh, f;
	bool neg = v < 0;
	char d[17];
	double a = fabs(v);

	if (!(a >= 1e-6 && a < 1e17))
		return false;
	memcpy(&bits, &a, sizeof bits);
	/* Normal here (1e-6 is far above the subnormals). */
	m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
	e2 = (int)(bits >> 52) - 1075;
	/* floor(log10(2^(e2+52))), the smallest log10 |v| can have: the
	 * exponent is that or one more, which q's digit count tells. */
	x10 = (int)(((int64_t)(e2 + 52) * 78913) >> 18);
	for (int tries = 0;; tries++) {
		if (tries == 2)
			return false;
		k = 16 - x10;
		if (k < 0 || k > 22)
			return false;
		tenk = k > 19 ? (unsigned __int128)p10u[19] * p10u[k - 19] : p10u[k];
		n = (unsigned __int128)m * tenk;
		if (e2 >= 0) {
			q = n << e2;
			r = 0;
		} else {
			q = n >> -e2;
			r = n - (q << -e2);
		}
		if (q >= p10u[17]) {
			x10++;
			continue;
		}
		if (q < p10u[16])
			return false;
		break;
	}
	sh = e2 < 0 ? -e2 : 0;
	if (sh > 100)
		return false;
	/* Half of v's gap to its neighbours in units of q's last digit is
	 * (q + f) / 2m above v and half of that below when m is a power of
	 * two, f = r / 2^sh below 1: about h and f in doubles (within a few
	 * parts in 10^16, f from r's top 64 bits). */
	h = (double)(uint64_t)q / (2.0 * (double)m);
	h_up = h * (1 + 1e-9) + 1e-9;
	h_dn = (m == (1ULL << 52) ? h / 2 : h) * (1 + 1e-9) + 1e-9;
	f = 0;
	if (sh > 64) {
		uint64_t top = (uint64_t)(r >> (sh - 64)), scale = (uint64_t)(1023 - 64) << 52;
		memcpy(&two_sh, &scale, sizeof two_sh);
		f = (double)top * two_sh;
	} else if (sh > 0) {
		uint64_t scale = (uint64_t)(1023 - sh) << 52;
		memcpy(&two_sh, &scale, sizeof two_sh);
		f = (double)(uint64_t)r * two_sh;
	}
	for (int p = 15; p <= 16; p++) {
		uint64_t unit = p10u[17 - p], c = (uint64_t)q / unit, rem = (uint64_t)q % unit;
		unsigned __int128 lhs, rhs, half;
		__int128 diff;
		bool even = !(m & 1), ok, up;
		double dist, gap;
		int x = x10;

		/*
		 * The text keeps the multiple of unit nearest v * 10^k = q + f:
		 * the one above when the dropped part rem + f is over a half
		 * (unit is even, so 2 rem is at most unit - 2 below a half and
		 * a tie needs r = 0), its distance unit - rem - f, else the one
		 * below, rem + f. Clearly farther than the gap on its side
		 * allows: not this precision; clearly nearer: this one. Only
		 * within a few parts in 10^9 of the edge is the exact test
		 * needed.
		 */
		up = 2 * rem > unit || (2 * rem == unit && (r != 0 || (c & 1)));
		dist = up ? (double)(unit - rem) - f : (double)rem + f;
		gap = up ? h_up : h_dn;
		if (dist > gap)
			continue;
		if (dist < (gap - 2e-9) * (1 - 3e-9)) {
			c += up;
			goto emit;
		}
		/* Round: the dropped part (rem + r / 2^sh) / unit against a half. */
		if (e2 < 0) {
			lhs = (((unsigned __int128)rem << sh) + r) * 2;
			rhs = (unsigned __int128)unit << sh;
		} else {
			lhs = (unsigned __int128)rem * 2;
			rhs = unit;
		}
		if (lhs > rhs || (lhs == rhs && (c & 1)))
			c++;
		/* The text's distance from v, at the scale 2^(sh+1) (2 when e2 >= 0). */
		if (e2 < 0)
			diff = ((__int128)c * unit - (__int128)q) * ((__int128)1 << (sh + 1)) -
			       (__int128)(r * 2);
		else
			diff = ((__int128)c * unit - (__int128)q) * 2;
		half = e2 < 0 ? tenk : tenk << e2;
		if (diff >= 0) {
			ok = (unsigned __int128)diff < half || ((unsigned __int128)diff == half && even);
		} else {
			unsigned __int128 ad = (unsigned __int128)(-diff);
			if (m == (1ULL << 52))
				ad *= 2;
			ok = ad < half || (ad == half && even);
		}
		if (!ok)
			continue;
emit:
		if (c == p10u[p]) {
			/* 9.99..9 rounded up to 10.0..0. */
			c = p10u[p - 1];
			x++;
		}
		put_digits(c, p, d);
		*out_n = (size_t)g_layout(d, x, p, neg, buf);
		return true;
	}
	{
		/* 17 digits: q rounded, to nearest, a tie to even. */
		uint64_t c = (uint64_t)q;
		int x = x10;
		if (e2 < 0) {
			unsigned __int128 halfr = (unsigned __int128)1 << (sh - 1);
			if (r > halfr || (r == halfr && (c & 1)))
				c++;
		}
		if (c == p10u[17]) {
			c = p10u[16];
			x++;
		}
		put_digits(c, 17, d);
		*out_n = (size_t)g_layout(d, x, 17, neg, buf);
		return true;
	}
}

/*
 * The 17 significant digits of v and its decimal exponent, what "%.16e"
 * writes (the fallback's first step, outside f64_exact's range).
 */
static void digits17(double v, char *dig, int *x)
{
	char e[DS_F64_BUF];
	const char *p = e + (v < 0);

	snprintf(e, sizeof e, "%.16e", v);
	dig[0] = p[0];
	memcpy(dig + 1, p + 2, 16);
	*x = atoi(p + 19);
}

size_t ds_format_f64(double v, char *buf)
{
	size_t len;
	int n;

	if (isnan(v)) {
		memcpy(buf, "NaN", 4);
		return 3;
	}
	if (isinf(v)) {
		strcpy(buf, v < 0 ? "-Inf" : "Inf");
		return v < 0 ? 4 : 3;
	}
	if (v == 0) {
		strcpy(buf, signbit(v) ? "-0" : "0");
		return signbit(v) ? 2 : 1;
	}
	/* Integers that doubles hold exactly print without an exponent ("%.0f"). */
	if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
		int64_t i = (int64_t)v;
		uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
		int nd = 1;
		n = 0;
		while (nd < 15 && u >= p10u[nd])
			nd++;
		if (i < 0)
			buf[n++] = '-';
		put_digits(u, nd, buf + n);
		n += nd;
		buf[n] = 0;
		return (size_t)n;
	}
	if (f64_exact(v, buf, &len))
		return len;
	{
		char dig[17];
		int x;

		digits17(v, dig, &x);
		for (int prec = 15; prec <= 16; prec++) {
			double back;
			n = g_from_digits(dig, x, prec, v < 0, buf);
			if (n < 0)
				n = snprintf(buf, DS_F64_BUF, "%.*g", prec, v);
			if (ds_parse_f64(buf, (size_t)n, &back) && back == v)
				return (size_t)n;
		}
		return (size_t)g_from_digits(dig, x, 17, v < 0, buf);
	}
}
