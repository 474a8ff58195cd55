/*
 * Cron expressions (cron.h): the parser, the matcher and the next firing
 * time, on a calendar computed here in UTC.
 *
 * The parser walks the text once with a cursor, so every error knows its
 * byte offset; each field becomes a bit set, which makes matching a minute
 * five bit tests and lets cron_next skip whole months, days and hours that
 * cannot match instead of stepping minute by minute.
 */
#include <stdio.h>
#include <string.h>

#include "canvas/cron.h"
#include "core.h"

typedef struct field_def {
	const char *name;         /* in messages */
	int lo, hi;               /* the values the field takes */
	const char *const *names; /* three-letter names, or NULL */
	int name_base;            /* the value of names[0] */
	int n_names;
} field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
					  "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, N_FIELDS };

static const field_def fields[N_FIELDS] = {
	{"minute", 0, 59, NULL, 0, 0},
	{"hour", 0, 23, NULL, 0, 0},
	{"day-of-month", 1, 31, NULL, 0, 0},
	{"month", 1, 12, month_names, 1, 12},
	{"day-of-week", 0, 7, day_names, 0, 7},
};

static const struct {
	const char *name;
	const char *fields;
} macros[] = {
	{"yearly", "0 0 1 1 *"},  {"annually", "0 0 1 1 *"}, {"monthly", "0 0 1 * *"},
	{"weekly", "0 0 * * 0"},  {"daily", "0 0 * * *"},    {"midnight", "0 0 * * *"},
	{"hourly", "0 * * * *"},
};

static int fail(cron_error *err, size_t off, const char *fmt, ...) SL__PRINTF(3, 4);

static int(fail)(cron_error *err, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->off = off;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return SL_EINVAL;
}
/* fail never returns 0 (SL__ERR_CODE tells the static analyzer). */
#define fail(...) SL__ERR_CODE(fail(__VA_ARGS__))

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void range_words(const field_def *f, char *buf, size_t size)
{
	if (f->names)
		snprintf(buf, size, "%d-%d or %s-%s", f->lo, f->hi, f->names[0],
			 f->names[f->n_names - 1]);
	else
		snprintf(buf, size, "%d-%d", f->lo, f->hi);
}

/*
 * One value at text[*p]: a number or, in the month and weekday fields, a
 * three-letter name. Advances *p past it.
 */
static int parse_value(const char *text, size_t *p, size_t end, const field_def *f, int *out,
		       cron_error *err)
{
	size_t s = *p, q = s;
	char range[64];

	range_words(f, range, sizeof range);
	if (q < end && is_digit(text[q])) {
		long v = 0;
		while (q < end && is_digit(text[q])) {
			if (v <= 1000)
				v = v * 10 + (text[q] - '0');
			q++;
		}
		if (v < f->lo || v > f->hi)
			return fail(err, s, "the %s field takes %s, not %.*s", f->name, range, (int)(q - s),
				    text + s);
		*out = (int)v;
		*p = q;
		return 0;
	}
	if (q < end && is_alpha(text[q])) {
		char word[16];
		size_t n = 0;
		while (q < end && is_alpha(text[q])) {
			if (n < sizeof word - 1)
				word[n++] = lower(text[q]);
			q++;
		}
		word[n] = '\0';
		if (!strcmp(word, "l") || !strcmp(word, "w") || !strcmp(word, "lw"))
			return fail(err, s, "'%.*s' (last, weekday) is not supported; list the %ss instead",
				    (int)(q - s), text + s, f->name);
		if (!f->names)
			return fail(err, s, "the %s field takes numbers %s, not '%.*s'", f->name, range,
				    (int)(q - s), text + s);
		for (int i = 0; i < f->n_names; i++)
			if (!strcmp(word, f->names[i])) {
				*out = f->name_base + i;
				*p = q;
				return 0;
			}
		const char *best = sl__suggest(word, f->names, (size_t)f->n_names);
		for (int i = 0; i < f->n_names && !best && n > 3; i++)
			if (!strncmp(word, f->names[i], 3))
				best = f->names[i]; /* "monday", "january" */
		return fail(err, s, "unknown %s name '%.*s'%s%s%s (names are the first three letters: %s)",
			    f->name, (int)(q - s), text + s, best ? "; did you mean '" : "",
			    best ? best : "", best ? "'?" : "", range);
	}
	if (q >= end)
		return fail(err, s, "the %s field ends where a value (%s) is expected", f->name, range);
	switch (text[q]) {
	case '?':
		return fail(err, s, "'?' is Quartz syntax; write '*' for any %s", f->name);
	case '#':
		return fail(err, s, "'#' (the nth weekday) is not supported; list the %ss instead",
			    f->name);
	default:
		return fail(err, s, "unexpected '%c' in the %s field, where a value (%s) is expected",
			    text[q], f->name, range);
	}
}

/* One item of a list: *, N, N-M, each with an optional /STEP. */
static int parse_item(const char *text, size_t s, size_t end, const field_def *f, uint64_t *bits,
		      cron_error *err)
{
	size_t p = s;
	int lo, hi, step = 1;
	int rc;

	if (text[p] == '*') {
		lo = f->lo;
		hi = f->hi;
		p++;
	} else {
		if ((rc = parse_value(text, &p, end, f, &lo, err)))
			return rc;
		hi = lo;
		if (p < end && text[p] == '-') {
			size_t at = ++p;
			if ((rc = parse_value(text, &p, end, f, &hi, err)))
				return rc;
			if (hi < lo)
				return fail(err, at, "the range %.*s in the %s field runs backwards; "
						     "ranges do not wrap around: write it as two "
						     "ranges, e.g. %d-%d,%d-%d",
					    (int)(p - s), text + s, f->name, lo, f->hi, f->lo, hi);
		} else if (p < end && text[p] == '/') {
			hi = f->hi; /* N/STEP: from N to the top */
		}
	}
	if (p < end && text[p] == '/') {
		size_t at = ++p;
		long v = 0;
		if (p >= end || !is_digit(text[p]))
			return fail(err, at, "a step in the %s field is a number after '/', e.g. */15",
				    f->name);
		while (p < end && is_digit(text[p])) {
			if (v <= 1000)
				v = v * 10 + (text[p] - '0');
			p++;
		}
		if (v < 1 || v > f->hi)
			return fail(err, at, "the step /%.*s in the %s field must be 1 to %d", (int)(p - at),
				    text + at, f->name, f->hi);
		step = (int)v;
	}
	if (p < end)
		return fail(err, p, "unexpected '%c' in the %s field (an item is *, N, N-M, each with "
				    "an optional /STEP; items are separated by ',')",
			    text[p], f->name);
	for (int v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

static int parse_field(const char *text, size_t s, size_t end, const field_def *f, uint64_t *bits,
		       cron_error *err)
{
	size_t p = s;

	for (;;) {
		size_t q = p;
		int rc;
		while (q < end && text[q] != ',')
			q++;
		if (q == p)
			return fail(err, p, "an empty item in the %s field (two commas, or a comma at "
					    "an end)",
				    f->name);
		if ((rc = parse_item(text, p, q, f, bits, err)))
			return rc;
		if (q == end)
			return 0;
		p = q + 1;
		if (p == end)
			return fail(err, q, "an empty item in the %s field (a comma at the end)", f->name);
	}
}

/* Whether some day of the chosen months is among the chosen days of the month. */
static bool mday_possible(const cron_expr *e)
{
	for (int m = 1; m <= 12; m++) {
		if (!(e->month & (1u << m)))
			continue;
		int last = m == 2 ? 29 : cron_days_in_month(2001, m); /* Feb 29 exists in leap years */
		for (int d = 1; d <= last; d++)
			if (e->mday & (1u << d))
				return true;
	}
	return false;
}

static int parse_fields(const char *text, size_t s, size_t end, cron_expr *out, cron_error *err)
{
	size_t start[N_FIELDS + 1], stop[N_FIELDS + 1];
	uint64_t bits[N_FIELDS] = {0};
	size_t n = 0, p = s;
	int rc;

	while (p < end) {
		while (p < end && is_blank(text[p]))
			p++;
		if (p == end)
			break;
		if (n == N_FIELDS)
			return fail(err, p, "a cron expression has 5 fields (minute hour day-of-month "
					    "month day-of-week); this one has more (seconds and "
					    "years are not supported)");
		start[n] = p;
		while (p < end && !is_blank(text[p]))
			p++;
		stop[n++] = p;
	}
	if (n < N_FIELDS)
		return fail(err, n ? stop[n - 1] : s,
			    "a cron expression has 5 fields (minute hour day-of-month month "
			    "day-of-week), e.g. '0 3 * * 1' for 03:00 every Monday; this one has %zu",
			    n);
	for (size_t i = 0; i < N_FIELDS; i++)
		if ((rc = parse_field(text, start[i], stop[i], &fields[i], &bits[i], err)))
			return rc;
	memset(out, 0, sizeof *out);
	out->minute = bits[F_MINUTE];
	out->hour = (uint32_t)bits[F_HOUR];
	out->mday = (uint32_t)bits[F_MDAY];
	out->month = (uint16_t)bits[F_MONTH];
	if (bits[F_WDAY] & (1u << 7))
		bits[F_WDAY] |= 1u; /* 7 is Sunday too */
	out->wday = (uint8_t)(bits[F_WDAY] & 0x7f);
	out->mday_star = text[start[F_MDAY]] == '*';
	out->wday_star = text[start[F_WDAY]] == '*';
	/* Both restricted: either day field suffices, and weekdays occur in every month. */
	if ((out->mday_star || out->wday_star) && !mday_possible(out))
		return fail(err, start[F_MDAY], "this expression never fires: none of the chosen "
						"months has any of the chosen days of the month");
	return 0;
}

int cron_parse(const char *text, cron_expr *out, cron_error *err)
{
	size_t s = 0, end;
	cron_expr e;
	int rc;

	if (err) {
		err->off = 0;
		err->msg[0] = '\0';
	}
	if (!text || !out)
		return fail(err, 0, "no cron expression");
	end = strlen(text);
	while (s < end && is_blank(text[s]))
		s++;
	while (end > s && is_blank(text[end - 1]))
		end--;
	if (s == end)
		return fail(err, s, "an empty cron expression; write five fields, e.g. '0 3 * * 1' "
				    "(03:00 every Monday)");
	if (text[s] == '@') {
		const char *names[SL__ARRAY_LEN(macros)];
		char word[16];
		size_t n = 0;
		for (size_t p = s + 1; p < end && n < sizeof word - 1; p++)
			word[n++] = lower(text[p]);
		word[n] = '\0';
		for (size_t i = 0; i < SL__ARRAY_LEN(macros); i++) {
			names[i] = macros[i].name;
			if (end - s - 1 == strlen(macros[i].name) && !strcmp(word, macros[i].name)) {
				rc = parse_fields(macros[i].fields, 0, strlen(macros[i].fields), &e, NULL);
				SL__ASSERT(rc == 0);
				*out = e;
				return rc;
			}
		}
		if (!strcmp(word, "reboot"))
			return fail(err, s, "@reboot runs when a machine starts, not on a schedule; give "
					    "a time, e.g. '0 3 * * *' (03:00 every day)");
		const char *best = sl__suggest(word, names, SL__ARRAY_LEN(names));
		return fail(err, s, "unknown schedule '%.*s'%s%s%s (one of @yearly, @annually, "
				    "@monthly, @weekly, @daily, @midnight, @hourly)",
			    (int)(end - s), text + s, best ? "; did you mean '@" : "", best ? best : "",
			    best ? "'?" : "");
	}
	if ((rc = parse_fields(text, s, end, &e, err)))
		return rc;
	*out = e;
	return 0;
}

/* ---- the calendar -------------------------------------------------------------- *
 *
 * Dates are counted in a year that starts on March 1st, so the leap day is
 * the last day of its year and month lengths from March follow the
 * pattern 31 30 31 30 31 31 30 31 30 31 31 (28/29), which (153 m + 2) / 5
 * reproduces as cumulative days. Years here are never negative (1969 is
 * the earliest a shifted January 1970 needs), so plain division floors.
 */

static int64_t year_start(int64_t y) /* day of March 1st of shifted year y, from 0000-03-01 */
{
	return 365 * y + y / 4 - y / 100 + y / 400;
}

#define EPOCH_SHIFT INT64_C(719468) /* 1970-01-01 counted from 0000-03-01 */

int64_t cron_days_from_civil(int64_t y, int m, int d)
{
	if (m <= 2) {
		y -= 1;
		m += 12;
	}
	return year_start(y) + (153 * (m - 3) + 2) / 5 + d - 1 - EPOCH_SHIFT;
}

void cron_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + EPOCH_SHIFT;
	int64_t yy = z * 400 / 146097; /* 146097 days in 400 years */
	int64_t doy;
	int mp;

	while (year_start(yy + 1) <= z)
		yy++;
	while (year_start(yy) > z)
		yy--;
	doy = z - year_start(yy);
	mp = (int)((5 * doy + 2) / 153);
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

int cron_days_in_month(int64_t y, int m)
{
	static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return len[m - 1];
}

/* ---- matching -------------------------------------------------------------------- */

static bool day_ok(const cron_expr *e, int64_t days, int mday)
{
	bool md = (e->mday >> mday) & 1u;
	bool wd = (e->wday >> ((days + 4) % 7)) & 1u; /* 1970-01-01 was a Thursday */

	return e->mday_star || e->wday_star ? md && wd : md || wd;
}

bool cron_matches(const cron_expr *e, int64_t t)
{
	int64_t days, y;
	int m, d, h, mi;

	if (!e || t < 0 || t > CRON_MAX_TIME)
		return false;
	days = t / 86400;
	h = (int)(t % 86400 / 3600);
	mi = (int)(t % 3600 / 60);
	cron_civil_from_days(days, &y, &m, &d);
	return ((e->month >> m) & 1u) && day_ok(e, days, d) && ((e->hour >> h) & 1u) &&
	       ((e->minute >> mi) & 1u);
}

/* The lowest set bit of bits at or above from, or -1. */
static int next_bit(uint64_t bits, int from, int top)
{
	for (int i = from; i <= top; i++)
		if ((bits >> i) & 1u)
			return i;
	return -1;
}

int cron_next(const cron_expr *e, int64_t after, int64_t *out)
{
	int64_t t, days, y;
	int m, d, h, mi;

	if (!e || !out)
		return sl__err(SL_EINVAL, "cron_next: no expression or no output");
	if (after < 0 || after > CRON_MAX_TIME)
		return sl__err(SL_EINVAL, "cron_next: time %lld is outside 1970 to 9999",
			       (long long)after);
	t = after - after % 60 + 60;
	days = t / 86400;
	h = (int)(t % 86400 / 3600);
	mi = (int)(t % 3600 / 60);
	cron_civil_from_days(days, &y, &m, &d);
	/*
	 * Each pass either returns or moves (y, m, d, h, mi) forward to the
	 * first candidate of the next month, day or hour, so the loop ends by
	 * the year bound; skipping whole months and days keeps it short (a
	 * leap day takes at most a few hundred passes).
	 */
	while (y <= 9999) {
		int nh, nm;
		if (!((e->month >> m) & 1u))
			goto next_month;
		if (!day_ok(e, days, d))
			goto next_day;
		nh = next_bit(e->hour, h, 23);
		if (nh < 0)
			goto next_day;
		if (nh != h) {
			h = nh;
			mi = 0;
		}
		nm = next_bit(e->minute, mi, 59);
		if (nm < 0) {
			h++;
			mi = 0;
			if (h > 23)
				goto next_day;
			continue;
		}
		t = days * 86400 + h * 3600 + nm * 60;
		if (t > CRON_MAX_TIME)
			break;
		*out = t;
		return 0;
next_day:
		h = mi = 0;
		days++;
		if (++d <= cron_days_in_month(y, m))
			continue;
next_month:
		h = mi = 0;
		d = 1;
		if (++m > 12) {
			m = 1;
			y++;
		}
		days = cron_days_from_civil(y, m, 1);
	}
	return sl__err(SL_ENOENT, "the schedule does not fire before the year 10000");
}
