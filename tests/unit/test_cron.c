/*
 * Cron expressions (canvas/cron.h): the fields each form sets, every error
 * at its offset, the day rule, the calendar against the C library's, and
 * cron_next against a minute-by-minute scan that shares none of its
 * skipping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canvas/cron.h"
#include "core.h"
#include "testutil.h"

static cron_expr parse(const char *text)
{
	cron_expr e;
	cron_error err;

	if (cron_parse(text, &e, &err))
		fail_msg("'%s' did not parse: %s (at %zu)", text, err.msg, err.off);
	return e;
}

/* text must fail at byte offset off with a message containing needle. */
static void bad(const char *text, size_t off, const char *needle)
{
	cron_expr e;
	cron_error err;

	if (cron_parse(text, &e, &err) != SL_EINVAL)
		fail_msg("'%s' parsed", text);
	if (err.off != off || !strstr(err.msg, needle))
		fail_msg("'%s': at %zu '%s', expected at %zu containing '%s'", text, err.off, err.msg,
			 off, needle);
}

static int64_t at(int64_t y, int mo, int d, int h, int mi)
{
	return cron_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void test_fields(void **state)
{
	cron_expr e;

	(void)state;
	e = parse("0 3 * * 1");
	assert_true(e.minute == 1);
	assert_true(e.hour == 1u << 3);
	assert_true(e.mday == 0xfffffffeu);
	assert_true(e.month == 0x1ffe);
	assert_true(e.wday == 1u << 1);
	assert_true(e.mday_star);
	assert_false(e.wday_star);

	e = parse("*/15 */6 1,15 JAN-mar sun");
	assert_true(e.minute == (1ull | 1ull << 15 | 1ull << 30 | 1ull << 45));
	assert_true(e.hour == (1u | 1u << 6 | 1u << 12 | 1u << 18));
	assert_true(e.mday == (1u << 1 | 1u << 15));
	assert_true(e.month == (1u << 1 | 1u << 2 | 1u << 3));
	assert_true(e.wday == 1);
	assert_false(e.mday_star);

	/* N/STEP runs to the top; ranges with steps; 7 is Sunday; blanks around. */
	e = parse(" \t5/20 8-18/5 * * 5-7 ");
	assert_true(e.minute == (1ull << 5 | 1ull << 25 | 1ull << 45));
	assert_true(e.hour == (1u << 8 | 1u << 13 | 1u << 18));
	assert_true(e.wday == (1u << 5 | 1u << 6 | 1u));
	e = parse("0 0 * * 7");
	assert_true(e.wday == 1);
	e = parse("59 23 31 12 *");
	assert_true(e.minute == 1ull << 59 && e.hour == 1u << 23 && e.mday == 1u << 31);

	/* Macros are the fields they stand for. */
	static const char *const same[][2] = {
		{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@MIDNIGHT", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};
	for (size_t i = 0; i < SL__ARRAY_LEN(same); i++) {
		cron_expr a = parse(same[i][0]), b = parse(same[i][1]);
		assert_memory_equal(&a, &b, sizeof a);
	}
}

static void test_errors(void **state)
{
	(void)state;
	bad("", 0, "empty cron expression");
	bad("   ", 3, "empty");
	bad("0 3 * *", 7, "has 4");
	bad("0 3 * * 1 2026", 10, "seconds and years are not supported");
	bad("60 * * * *", 0, "minute field takes 0-59, not 60");
	bad("0 24 * * *", 2, "hour field takes 0-23, not 24");
	bad("0 0 0 * *", 4, "day-of-month field takes 1-31");
	bad("0 0 * 13 *", 6, "month field takes 1-12 or jan-dec, not 13");
	bad("0 0 * * 8", 8, "day-of-week field takes 0-7");
	bad("0 0 * * 99999999999999999999", 8, "not 99999999999999999999");
	bad("5-1 * * * *", 2, "runs backwards");
	bad("0 22-2 * * *", 5, "22-23,0-2");
	bad("*/0 * * * *", 2, "step /0");
	bad("*/ * * * *", 2, "a number after '/'");
	bad("*/60 * * * *", 2, "1 to 59");
	bad("1,,2 * * * *", 2, "empty item");
	bad("1, * * * *", 1, "comma at the end");
	bad(",1 * * * *", 0, "empty item");
	bad("? * * * *", 0, "Quartz");
	bad("0 0 L * *", 4, "not supported");
	bad("0 0 * * MON#2", 11, "unexpected '#'");
	bad("0 0 * * 1-", 10, "ends where a value");
	bad("*-5 * * * *", 1, "unexpected '-'");
	bad("0 0 * FOO *", 6, "unknown month name 'FOO'");
	bad("0 0 * * MONDAY", 8, "did you mean 'mon'");
	bad("0 0 * * tues", 8, "did you mean 'tue'");
	bad("0 MON * * *", 2, "takes numbers 0-23, not 'MON'");
	bad("0 0 30 2 *", 4, "never fires");
	bad("0 0 31 4,6,9,11 *", 4, "never fires");
	bad("@reboot", 0, "not on a schedule");
	bad("@dialy", 0, "did you mean '@daily'");
	bad("@hourly 5", 0, "unknown schedule");

	/* Both day fields restricted: either suffices, so this fires (on Mondays). */
	cron_expr e;
	assert_int_equal(cron_parse("0 0 30 2 1", &e, NULL), 0);
	/* February 29th exists in leap years. */
	assert_int_equal(cron_parse("0 0 29 2 *", &e, NULL), 0);
	assert_int_equal(cron_parse(NULL, &e, NULL), SL_EINVAL);
}

/* The calendar against gmtime_r over 1970 to 2400, every 13th day and the edges. */
static void test_calendar(void **state)
{
	(void)state;
	for (int64_t days = 0; days < 157000; days += (days % 400 == 0) ? 1 : 13) {
		time_t t = (time_t)(days * 86400);
		struct tm tm;
		int64_t y;
		int m, d;
		gmtime_r(&t, &tm);
		cron_civil_from_days(days, &y, &m, &d);
		if (y != tm.tm_year + 1900 || m != tm.tm_mon + 1 || d != tm.tm_mday)
			fail_msg("day %lld: %lld-%d-%d, libc %d-%d-%d", (long long)days, (long long)y, m, d,
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		assert_int_equal(cron_days_from_civil(y, m, d), days);
	}
	assert_int_equal(cron_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(cron_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(cron_days_in_month(2024, 2), 29);
	assert_int_equal(cron_days_in_month(2100, 2), 28);
	assert_int_equal(cron_days_in_month(2000, 2), 29);
	assert_int_equal(cron_days_in_month(2026, 4), 30);
	assert_int_equal(cron_days_from_civil(9999, 12, 31) * 86400 + 86399, CRON_MAX_TIME);
}

static int64_t next(const char *text, int64_t after)
{
	cron_expr e = parse(text);
	int64_t t = -1;

	if (cron_next(&e, after, &t))
		fail_msg("'%s': %s", text, sl_errmsg());
	return t;
}

static void test_next(void **state)
{
	int64_t now = at(2026, 11, 30, 11, 52) + 30; /* a Monday */

	(void)state;
	assert_int_equal(next("0 3 * * 1", now), at(2026, 12, 7, 3, 0));
	assert_int_equal(next("0 3 * * *", now), at(2026, 12, 1, 3, 0));
	assert_int_equal(next("*/15 * * * *", now), at(2026, 11, 30, 12, 0));
	/* Strictly after: a time that fires gives the next one. */
	assert_int_equal(next("*/15 * * * *", at(2026, 11, 30, 12, 0)), at(2026, 11, 30, 12, 15));
	assert_int_equal(next("* * * * *", at(2026, 11, 30, 12, 0) + 59), at(2026, 11, 30, 12, 1));
	/* Year, month and day rollovers. */
	assert_int_equal(next("0 0 1 1 *", at(2026, 12, 31, 23, 59)), at(2027, 1, 1, 0, 0));
	assert_int_equal(next("59 23 31 12 *", at(2026, 12, 31, 23, 58)), at(2026, 12, 31, 23, 59));
	assert_int_equal(next("0 0 31 * *", at(2026, 4, 1, 0, 0)), at(2026, 5, 31, 0, 0));
	/* The leap day: the next one is two years on; 2100 is not a leap year. */
	assert_int_equal(next("0 0 29 2 *", at(2026, 3, 1, 0, 0)), at(2028, 2, 29, 0, 0));
	assert_int_equal(next("0 0 29 2 *", at(2096, 3, 1, 0, 0)), at(2104, 2, 29, 0, 0));
	/* Both day fields restricted: the first Monday of February comes before the 29th. */
	assert_int_equal(next("0 0 29 2 1", at(2026, 2, 1, 0, 0)), at(2026, 2, 2, 0, 0));
	/* "*\/2" counts as unrestricted: odd days AND Mondays (Vixie's rule). */
	assert_int_equal(next("0 0 */2 * 1", now), at(2026, 12, 7, 0, 0));
	/* Month names and a weekday range: 09:30 on weekdays in March. */
	assert_int_equal(next("30 9 * mar mon-fri", now), at(2027, 3, 1, 9, 30));
	/* The epoch itself and the end of time. */
	assert_int_equal(next("0 0 * * *", 0), at(1970, 1, 2, 0, 0));
	assert_int_equal(next("59 23 31 12 *", CRON_MAX_TIME - 120), CRON_MAX_TIME - 59);
	cron_expr e = parse("* * * * *");
	int64_t t;
	assert_int_equal(cron_next(&e, CRON_MAX_TIME - 30, &t), SL_ENOENT);
	assert_int_equal(cron_next(&e, -1, &t), SL_EINVAL);
	assert_int_equal(cron_next(&e, CRON_MAX_TIME + 1, &t), SL_EINVAL);
}

/* Whether t fires, decided from gmtime_r and the bit sets, independently of cron.c. */
static bool fires(const cron_expr *e, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	bool md, wd;

	gmtime_r(&tt, &tm);
	md = (e->mday >> tm.tm_mday) & 1u;
	wd = (e->wday >> tm.tm_wday) & 1u;
	return ((e->minute >> tm.tm_min) & 1u) && ((e->hour >> tm.tm_hour) & 1u) &&
	       ((e->month >> (tm.tm_mon + 1)) & 1u) &&
	       (e->mday_star || e->wday_star ? md && wd : md || wd);
}

/*
 * cron_next and cron_matches against a scan of every minute: from several
 * starting points, the next firing is the first minute the scan finds.
 */
static void test_next_against_scan(void **state)
{
	static const char *const exprs[] = {
		"0 3 * * 1",   "*/7 */5 * * *", "15 10 1,15 * 5",   "0 0 */3 feb-apr *",
		"0 12 13 * 5", "30 2 * * 0,6",  "0 0 31 * *",       "5 4 * * sun",
		"0 9-17/4 * * 1-5", "@monthly",  "0 0 1-7 * 1",     "45 23 28-31 * *",
	};
	static const int64_t starts[][5] = {
		{2026, 1, 30, 23, 59}, {2026, 2, 27, 12, 0}, {2027, 12, 31, 23, 0}, {2028, 2, 28, 5, 5},
	};

	(void)state;
	for (size_t i = 0; i < SL__ARRAY_LEN(exprs); i++) {
		cron_expr e = parse(exprs[i]);
		for (size_t s = 0; s < SL__ARRAY_LEN(starts); s++) {
			int64_t from = at(starts[s][0], (int)starts[s][1], (int)starts[s][2],
					  (int)starts[s][3], (int)starts[s][4]) + 17;
			int64_t got, want = -1;
			for (int64_t t = from - from % 60 + 60; t < from + 400 * 86400; t += 60)
				if (fires(&e, t)) {
					want = t;
					break;
				}
			assert_int_equal(cron_next(&e, from, &got), 0);
			if (got != want)
				fail_msg("'%s' after %lld: %lld, the scan says %lld", exprs[i],
					 (long long)from, (long long)got, (long long)want);
			assert_true(cron_matches(&e, got));
			assert_false(cron_matches(&e, got - 60) && got - 60 > from);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_next_against_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
