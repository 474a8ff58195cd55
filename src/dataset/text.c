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
 * What snprintf("%.*g", prec, v) writes, from v's 17 significant digits
 * (dig, from "%.16e": d.dddd...e+x) and exponent x, or -1 when they cannot
 * tell. ds_format_f64 tries up to three precisions, and printf's conversion
 * of a double is a multi-precision computation each time (a tenth of the
 * server's user time on a one-row request); rounding the 17 digits instead
 * gives printf's answer whenever the digits dropped are not exactly a half:
 * the 17 digits are v rounded, within half a unit of their last digit, so a
 * dropped part above (below) one half means v is above (below) it too. At
 * exactly a half (5 then zeros), v may lie either side and the caller asks
 * printf. The layout is %g's: style e when the rounded exponent is below -4
 * or not below prec, else style f; trailing zeros and a bare point dropped.
 */
static int g_from_digits(const char *dig, int x, int prec, bool neg, char *buf)
{
	char d[17];
	int nd = prec, n = 0;

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
 * The 17 significant digits of v (finite, not zero) and its decimal
 * exponent, what "%.16e" writes, without printf's multi-precision
 * arithmetic: v is m * 2^e with m below 2^53, and m * 10^k stays below
 * 2^127 for k up to 22, so q = floor(v * 10^k) and the rest are exact in
 * 128 bits; q is rounded as printf rounds (to nearest, a tie to even).
 * False when |v| is outside [1e-6, 1e17) (k would leave 0..22, or the
 * shift 127 bits), where the caller asks printf.
 */
static bool digits17(double v, char *dig, int *x)
{
	static const uint64_t p10[20] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
		100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
		10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
		10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
		10000000000000000000ULL,
	};
	double a = fabs(v);
	int e2, x10;
	uint64_t m;

	if (!(a >= 1e-6 && a < 1e17))
		return false;
	m = (uint64_t)ldexp(frexp(a, &e2), 53);
	e2 -= 53;
	x10 = (int)floor(log10(a));
	/* log10 may land one off next to a power of ten: the digit count of q
	 * says so, and the second try has it right. */
	for (int tries = 0; tries < 3; tries++) {
		int k = 16 - x10;
		unsigned __int128 n, q, r = 0, half = 0;
		if (k < 0 || k > 22)
			return false;
		n = (unsigned __int128)m * (k > 19 ? p10[19] : p10[k]);
		if (k > 19)
			n *= p10[k - 19];
		if (e2 >= 0) {
			q = n << e2;
		} else {
			int sh = -e2;
			if (sh > 127)
				return false;
			q = n >> sh;
			r = n - (q << sh);
			half = (unsigned __int128)1 << (sh - 1);
		}
		if (q < p10[16]) {
			x10--;
			continue;
		}
		if (q >= p10[17]) {
			x10++;
			continue;
		}
		if (e2 < 0 && (r > half || (r == half && (q & 1))))
			q++;
		if (q == p10[17]) {
			q = p10[16];
			x10++;
		}
		/* Below 10^17 now: 64-bit divisions from here. */
		for (uint64_t d = (uint64_t)q, i = 17; i-- > 0; d /= 10)
			dig[i] = (char)('0' + (int)(d % 10));
		*x = x10;
		return true;
	}
	return false;
}

size_t ds_format_f64(double v, char *buf)
{
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
	/* Integers that doubles hold exactly print without an exponent. */
	if (v == floor(v) && fabs(v) < 1e15) {
		n = snprintf(buf, DS_F64_BUF, "%.0f", v);
		return (size_t)n;
	}
	{
		char e[DS_F64_BUF], dig[17];
		const char *p = e + (v < 0);
		int x;

		/* The 17 significant digits and the exponent, from one conversion. */
		if (!digits17(v, dig, &x)) {
			snprintf(e, sizeof e, "%.16e", v);
			dig[0] = p[0];
			memcpy(dig + 1, p + 2, 16);
			x = atoi(p + 19);
		}
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

