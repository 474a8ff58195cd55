/*
 * Cron expressions: canvas.yaml's building_models.cadence, and the "when
 * does it fire next" that the monitoring loop asks. Prefix cron_.
 *
 * The dialect is the five-field one of Vixie cron (what crontab(5) on
 * Debian documents), read in UTC:
 *
 *   minute  hour  day-of-month  month  day-of-week
 *   0-59    0-23  1-31          1-12   0-7 (0 and 7 are Sunday)
 *                               JAN-DEC SUN-SAT (any case)
 *
 *   each field is a list of items separated by ',';
 *   an item is  *   N   N-M   with an optional /STEP   (N/STEP: N to the top)
 *   @yearly @annually @monthly @weekly @daily @midnight @hourly stand for
 *   the usual five fields.
 *
 * Days: when both day fields are restricted (neither begins with '*'), a
 * day matches when EITHER matches ("0 0 1,15 * 1": the 1st, the 15th and
 * every Monday); otherwise both must. This is Vixie cron's rule, including
 * its corner: a field written "*\/2" begins with '*' and so counts as
 * unrestricted for that choice.
 *
 * Invariants:
 *   1. A parsed expression fires at least once: one that can never fire
 *      ("0 0 30 2 *", February has no 30th) is rejected when parsed, so
 *      cron_next always finds a time for expressions that cron_parse accepted.
 *   2. Times are whole seconds since the epoch, UTC; the calendar is the
 *      proleptic Gregorian one computed here, never the process's time zone.
 *   3. Errors name the byte offset in the text where they are, so a caller
 *      holding the text's position in a file can say FILE:LINE:COL.
 */
#ifndef SLUICE_CRON_H
#define SLUICE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cron_expr {
	uint64_t minute; /* bit m: minute m, 0-59 */
	uint32_t hour;   /* bit h: hour h, 0-23 */
	uint32_t mday;   /* bit d: day d of the month, 1-31 */
	uint16_t month;  /* bit m: month m, 1-12 */
	uint8_t wday;    /* bit d: weekday d, 0 Sunday - 6 Saturday (7 folded into 0) */
	bool mday_star;  /* the day-of-month field begins with '*' */
	bool wday_star;  /* the day-of-week field begins with '*' */
} cron_expr;

typedef struct cron_error {
	size_t off;    /* byte offset in the text where the problem is */
	char msg[256]; /* what is wrong and what to write instead */
} cron_error;

/* The latest time cron_next accepts or returns: 9999-12-31T23:59:59Z. */
#define CRON_MAX_TIME INT64_C(253402300799)

/*
 * Parses text (NUL-terminated; leading and trailing blanks ignored).
 * Returns 0, or SL_EINVAL with err filled in (err may be NULL). Never
 * allocates.
 */
int cron_parse(const char *text, cron_expr *out, cron_error *err);

/*
 * The first time strictly after `after` (seconds since the epoch, UTC, in
 * [0, CRON_MAX_TIME]) at which e fires, into *out; always a whole minute.
 * SL_EINVAL for a time out of range, SL_ENOENT when e does not fire before
 * CRON_MAX_TIME (only for an expression cron_parse did not produce).
 */
int cron_next(const cron_expr *e, int64_t after, int64_t *out);

/* True when e fires at minute t (seconds are ignored). */
bool cron_matches(const cron_expr *e, int64_t t);

/* ---- the civil calendar (UTC), shared with the canvas's messages ----------- */

/* Days since 1970-01-01 of a Gregorian date (month 1-12, day 1-31). */
int64_t cron_days_from_civil(int64_t y, int m, int d);
/* The date of a day number (the inverse of cron_days_from_civil). */
void cron_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 28 to 31. */
int cron_days_in_month(int64_t y, int m);

#endif
