/*
 * From a table to series: the panel (rows split by the `by` key columns,
 * each series sorted by time) and the time grid every series must sit on.
 *
 * The grid. Times are timestamps (or ISO text, parsed once per distinct
 * value) or integers. A timestamp grid is a calendar one when every time
 * has the same time of day and either the same day of the month (at most
 * the 28th) or the last day of its month, and no two times of a series are
 * closer than 28 days: its step is then a whole number of months (monthly,
 * quarterly, yearly ...), since months differ in length. Otherwise the
 * step is fixed (hourly, daily, weekly, any number of microseconds, or of
 * integer units). The step is the smallest one between consecutive times
 * of any series, and every series must then advance by exactly one step at
 * a time:
 *   0 steps       a duplicate time stamp
 *   k > 1 steps   a gap of k - 1 missing times
 *   not whole     an irregular grid
 * each an error naming the series, the two times and the fix.
 *
 * Invariants:
 *  1. Series are ordered by key: string keys by the byte order of their
 *     values (their codes index the sorted list of values the panel keeps,
 *     which is also the model's dictionary), integer and bool keys
 *     numerically. The panel never depends on the order of the rows.
 *  2. Integer keys are exact as doubles (|v| <= 2^53) or refused, since the
 *     model's inputs are doubles.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/forecast.h"

#define DAY_US 86400000000LL

/* ---- the calendar -------------------------------------------------------------- */

typedef struct civil_t {
	int64_t y;
	int m, d;
	int64_t sod; /* microseconds into the day */
} civil_t;

static civil_t civil_of(int64_t us)
{
	civil_t c;
	int64_t days = us / DAY_US, rem = us % DAY_US;

	if (rem < 0) {
		rem += DAY_US;
		days--;
	}
	c.sod = rem;
	ds_civil_from_days(days, &c.y, &c.m, &c.d);
	return c;
}

static int days_in_month(int64_t y, int m)
{
	int64_t a = ds_days_from_civil(y, m, 1);
	int64_t b = m == 12 ? ds_days_from_civil(y + 1, 1, 1) : ds_days_from_civil(y, m + 1, 1);
	return (int)(b - a);
}

static int64_t month_index(const civil_t *c)
{
	return c->y * 12 + (c->m - 1);
}

const char *fc_period_name(const fc_period *p, char *buf, size_t size)
{
	if (p->unit == FC_UNIT_MONTH) {
		if (p->step == 1)
			return snprintf(buf, size, "monthly"), buf;
		if (p->step == 3)
			return snprintf(buf, size, "quarterly"), buf;
		if (p->step == 12)
			return snprintf(buf, size, "yearly"), buf;
		snprintf(buf, size, "every %" PRId64 " months", p->step);
		return buf;
	}
	if (!p->timestamps) {
		snprintf(buf, size, "every %" PRId64 " (integer time)", p->step);
		return buf;
	}
	if (p->step == DAY_US)
		snprintf(buf, size, "daily");
	else if (p->step == 7 * DAY_US)
		snprintf(buf, size, "weekly");
	else if (p->step == 3600000000LL)
		snprintf(buf, size, "hourly");
	else if (p->step % 1000000 == 0)
		snprintf(buf, size, "every %" PRId64 " seconds", p->step / 1000000);
	else
		snprintf(buf, size, "every %" PRId64 " microseconds", p->step);
	return buf;
}

size_t fc_period_season(const fc_period *p)
{
	if (p->unit == FC_UNIT_MONTH)
		return p->step < 12 && 12 % p->step == 0 ? (size_t)(12 / p->step) : 1;
	if (!p->timestamps)
		return 1;
	if (p->step == DAY_US)
		return 7;
	if (p->step == 7 * DAY_US)
		return 52;
	if (p->step == 3600000000LL)
		return 24;
	return 1;
}

int64_t fc_period_add(const fc_period *p, int64_t t, int64_t k)
{
	civil_t c;
	int64_t mi, y;
	int m, d;

	if (p->unit == FC_UNIT_FIXED)
		return t + k * p->step;
	c = civil_of(t);
	mi = month_index(&c) + k * p->step;
	y = mi >= 0 ? mi / 12 : -((-mi + 11) / 12);
	m = (int)(mi - y * 12) + 1;
	d = p->month_end ? days_in_month(y, m) : c.d;
	if (d > days_in_month(y, m))
		d = days_in_month(y, m);
	return ds_days_from_civil(y, m, d) * DAY_US + c.sod;
}

int64_t fc_period_steps(const fc_period *p, int64_t from, int64_t to)
{
	if (p->unit == FC_UNIT_FIXED) {
		int64_t diff = to - from;
		return diff % p->step ? INT64_MIN : diff / p->step;
	}
	civil_t a = civil_of(from), b = civil_of(to);
	if (a.sod != b.sod)
		return INT64_MIN;
	if (p->month_end ? b.d != days_in_month(b.y, b.m) : a.d != b.d)
		return INT64_MIN;
	int64_t md = month_index(&b) - month_index(&a);
	return md % p->step ? INT64_MIN : md / p->step;
}

json_t *fc_period_json(const fc_period *p)
{
	return json_pack("{s:s, s:I, s:b, s:b}", "unit", p->unit == FC_UNIT_MONTH ? "month" : "fixed", "step",
			 (json_int_t)p->step, "timestamps", p->timestamps, "month_end",
			 p->month_end);
}

int fc_period_from_json(const json_t *j, fc_period *out)
{
	const char *unit = json_string_value(json_object_get(j, "unit"));
	json_t *step = json_object_get(j, "step");

	if (!unit || !json_is_integer(step) || json_integer_value(step) <= 0 ||
	    (strcmp(unit, "month") && strcmp(unit, "fixed")))
		return sl__err(SL_ECORRUPT, "a forecast period is malformed");
	out->unit = strcmp(unit, "month") ? FC_UNIT_FIXED : FC_UNIT_MONTH;
	out->step = json_integer_value(step);
	out->timestamps = json_is_true(json_object_get(j, "timestamps"));
	out->month_end = json_is_true(json_object_get(j, "month_end"));
	return 0;
}

json_t *fc_time_json(const fc_period *p, int64_t t)
{
	char buf[DS_TS_BUF];

	if (!p->timestamps)
		return json_integer((json_int_t)t);
	ds_format_timestamp(t, buf);
	return json_string(buf);
}

static const char *time_text(const fc_period *p, int64_t t, char *buf)
{
	if (p->timestamps)
		ds_format_timestamp(t, buf);
	else
		snprintf(buf, DS_TS_BUF, "%" PRId64, t);
	return buf;
}

/* ---- keys ------------------------------------------------------------------------ */

static const char *key_text(ds_type type, char **dict, double v, char *buf, size_t size)
{
	if (type == DS_STRING)
		return dict[(size_t)v];
	if (type == DS_BOOL)
		return v != 0 ? "true" : "false";
	snprintf(buf, size, "%.0f", v);
	return buf;
}

const char *fc_panel_label(const fc_panel *p, size_t s, char *buf, size_t size)
{
	size_t len = 0;

	if (p->nby == 0) {
		snprintf(buf, size, "(the only series)");
		return buf;
	}
	buf[0] = 0;
	for (size_t j = 0; j < p->nby && len < size; j++) {
		char num[32];
		const char *v = key_text(p->by_type[j], p->dict ? p->dict[j] : NULL,
					 p->keys[s * p->nby + j], num, sizeof num);
		int w = snprintf(buf + len, size - len, "%s%s=%s", j ? ", " : "", p->by[j], v);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	return buf;
}

json_t *fc_key_json(const char *const *by, const ds_type *types, char **const *dict,
		    size_t nby, const double *key)
{
	json_t *o;

	if (nby == 0)
		return json_null();
	o = json_object();
	for (size_t j = 0; o && j < nby; j++) {
		json_t *v = types[j] == DS_STRING ? json_string(dict[j][(size_t)key[j]])
			    : types[j] == DS_BOOL ? json_boolean(key[j] != 0)
						  : json_integer((json_int_t)key[j]);
		json_object_set_new(o, by[j], v);
	}
	return o;
}

/* ---- the panel -------------------------------------------------------------------- */

void fc_panel_free(fc_panel *p)
{
	for (size_t j = 0; j < p->nby; j++) {
		if (p->by)
			sl__free(p->by[j]);
		if (p->dict && p->dict[j] && p->n_dict) {
			for (uint32_t k = 0; k < p->n_dict[j]; k++)
				sl__free(p->dict[j][k]);
			sl__free(p->dict[j]);
		}
	}
	sl__free(p->by);
	sl__free(p->by_type);
	sl__free(p->dict);
	sl__free(p->n_dict);
	sl__free(p->keys);
	sl__free(p->start);
	sl__free(p->y);
	sl__free(p->t);
	memset(p, 0, sizeof *p);
}

static void list_columns(const ds_table *t, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t j = 0; j < ds_ncol(t) && len + 1 < size; j++) {
		int w = snprintf(buf + len, size - len, "%s%s", j ? ", " : "", ds_col_name(t, j));
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

static int find_col(const ds_table *t, const char *what, const char *name, size_t *out)
{
	char cols[512];

	if (ds_col_find(t, name, out) == 0)
		return 0;
	list_columns(t, cols, sizeof cols);
	return sl__err(SL_EINVAL, "the %s column '%s' is not in the data (its columns: %s)", what,
		       name, cols);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct sort_ctx {
	const double *rowkeys; /* n x nby */
	const int64_t *times;
	size_t nby;
} sort_ctx;

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const sort_ctx *c = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	for (size_t k = 0; k < c->nby; k++) {
		double x = c->rowkeys[i * c->nby + k], y = c->rowkeys[j * c->nby + k];
		if (x != y)
			return x < y ? -1 : 1;
	}
	if (c->times[i] != c->times[j])
		return c->times[i] < c->times[j] ? -1 : 1;
	return (i > j) - (i < j);
}

/* The key columns: names, types, sorted dictionaries, and each row's key. */
static int read_keys(const ds_table *t, const char *const *by, size_t nby, fc_panel *p,
		     double *rowkeys)
{
	size_t n = ds_nrow(t);

	for (size_t j = 0; j < nby; j++) {
		size_t c;
		int rc;
		if ((rc = find_col(t, "by", by[j], &c)))
			return rc;
		for (size_t k = 0; k < j; k++)
			if (!strcmp(by[k], by[j]))
				return sl__err(SL_EINVAL, "`by` names the column '%s' twice", by[j]);
		if (!(p->by[j] = sl__strdup(by[j])))
			return sl__oom();
		p->by_type[j] = ds_col_type(t, c);
		if (p->by_type[j] != DS_STRING && p->by_type[j] != DS_INT64 &&
		    p->by_type[j] != DS_BOOL)
			return sl__err(SL_EINVAL, "the by column '%s' is %s: a series key must be "
						  "a string, an integer or a bool",
				       by[j], ds_type_name(p->by_type[j]));
		const uint8_t *valid = ds_col_validity(t, c);
		for (size_t i = 0; i < n; i++)
			if (!ds_valid(valid, i))
				return sl__err(SL_EINVAL, "the by column '%s' is empty in row %zu: "
							  "every row needs its series key",
					       by[j], i + 1);
		if (p->by_type[j] == DS_STRING) {
			size_t nd = ds_dict_size(t, c);
			const uint32_t *codes = ds_col_codes(t, c);
			uint8_t *used = sl__calloc(nd ? nd : 1, 1);
			uint32_t *rank = sl__calloc(nd ? nd : 1, sizeof *rank);
			char **vals = NULL;
			uint32_t nu = 0;
			if (!used || !rank) {
				sl__free(used);
				sl__free(rank);
				return sl__oom();
			}
			for (size_t i = 0; i < n; i++)
				used[codes[i]] = 1;
			for (size_t k = 0; k < nd; k++)
				nu += used[k];
			vals = sl__calloc(nu ? nu : 1, sizeof *vals);
			p->dict[j] = vals;
			if (!vals) {
				sl__free(used);
				sl__free(rank);
				return sl__oom();
			}
			for (size_t k = 0; k < nd; k++)
				if (used[k]) {
					if (!(vals[p->n_dict[j]] = sl__strdup(ds_dict_str(t, c, (uint32_t)k, NULL)))) {
						sl__free(used);
						sl__free(rank);
						return sl__oom();
					}
					p->n_dict[j]++;
				}
			qsort(vals, nu, sizeof *vals, cmp_str);
			/* Rank of each table code in the sorted values: binary search. */
			for (size_t k = 0; k < nd; k++) {
				if (!used[k])
					continue;
				const char *s = ds_dict_str(t, c, (uint32_t)k, NULL);
				const char **hit = bsearch(&s, vals, nu, sizeof *vals, cmp_str);
				rank[k] = (uint32_t)(hit - (const char **)vals);
			}
			for (size_t i = 0; i < n; i++)
				rowkeys[i * nby + j] = rank[codes[i]];
			sl__free(used);
			sl__free(rank);
		} else if (p->by_type[j] == DS_BOOL) {
			const uint8_t *v = ds_col_bool(t, c);
			for (size_t i = 0; i < n; i++)
				rowkeys[i * nby + j] = v[i];
		} else {
			const int64_t *v = ds_col_i64(t, c);
			for (size_t i = 0; i < n; i++) {
				if (v[i] > (1LL << 53) || v[i] < -(1LL << 53))
					return sl__err(SL_EINVAL, "the by column '%s' holds %" PRId64
								  " in row %zu, beyond the integers a "
								  "model input keeps exactly (2^53)",
						       by[j], v[i], i + 1);
				rowkeys[i * nby + j] = (double)v[i];
			}
		}
	}
	return 0;
}

int fc_table_times(const ds_table *t, const char *time, int64_t *times, bool *out_timestamps,
		   ds_type *out_type)
{
	size_t c, n = ds_nrow(t);
	const uint8_t *valid;
	int rc;

	if ((rc = find_col(t, "time", time, &c)))
		return rc;
	*out_type = ds_col_type(t, c);
	valid = ds_col_validity(t, c);
	for (size_t i = 0; i < n; i++)
		if (!ds_valid(valid, i))
			return sl__err(SL_EINVAL, "the time column '%s' is empty in row %zu", time,
				       i + 1);
	switch (*out_type) {
	case DS_TIMESTAMP:
	case DS_INT64:
		memcpy(times, ds_col_i64(t, c), n * sizeof *times);
		*out_timestamps = *out_type == DS_TIMESTAMP;
		return 0;
	case DS_STRING: {
		size_t nd = ds_dict_size(t, c);
		const uint32_t *codes = ds_col_codes(t, c);
		int64_t *parsed = sl__malloc((nd ? nd : 1) * sizeof *parsed);
		uint8_t *ok = sl__calloc(nd ? nd : 1, 1);
		if (!parsed || !ok) {
			sl__free(parsed);
			sl__free(ok);
			return sl__oom();
		}
		for (size_t k = 0; k < nd; k++) {
			size_t len;
			const char *s = ds_dict_str(t, c, (uint32_t)k, &len);
			ok[k] = ds_parse_timestamp(s, len, &parsed[k]);
		}
		for (size_t i = 0; i < n && !rc; i++) {
			if (!ok[codes[i]])
				rc = sl__err(SL_EINVAL, "the time column '%s' has '%s' in row %zu, "
							"which is not an ISO 8601 date or time "
							"(YYYY-MM-DD[THH:MM[:SS]]): convert it",
					     time, ds_dict_str(t, c, codes[i], NULL), i + 1);
			else
				times[i] = parsed[codes[i]];
		}
		sl__free(parsed);
		sl__free(ok);
		*out_timestamps = true;
		return rc;
	}
	default:
		return sl__err(SL_EINVAL, "the time column '%s' is %s: use timestamps, ISO dates "
					  "or integers (periods)",
			       time, ds_type_name(*out_type));
	}
}

/* The grid's unit and step (see the head of the file). */
static int detect_period(fc_panel *p, size_t nrow)
{
	bool calendar = p->period.timestamps, eom = true, sameday = true;
	int64_t step = 0;
	civil_t first = {0, 0, 0, 0};

	for (size_t i = 0; calendar && i < nrow; i++) {
		civil_t c = civil_of(p->t[i]);
		if (i == 0)
			first = c;
		if (c.sod != first.sod) {
			calendar = false;
			break;
		}
		if (c.d != first.d || c.d > 28)
			sameday = false;
		if (c.d != days_in_month(c.y, c.m))
			eom = false;
	}
	if (calendar && !sameday && !eom)
		calendar = false;
	for (size_t s = 0; calendar && s < p->n_series; s++)
		for (size_t i = p->start[s] + 1; i < p->start[s + 1]; i++)
			if (p->t[i] != p->t[i - 1] && p->t[i] - p->t[i - 1] < 28 * DAY_US)
				calendar = false;
	p->period.unit = calendar ? FC_UNIT_MONTH : FC_UNIT_FIXED;
	p->period.month_end = calendar && !sameday;
	p->period.step = 1;
	for (size_t s = 0; s < p->n_series; s++)
		for (size_t i = p->start[s] + 1; i < p->start[s + 1]; i++) {
			int64_t d;
			if (calendar) {
				civil_t a = civil_of(p->t[i - 1]), b = civil_of(p->t[i]);
				d = month_index(&b) - month_index(&a);
			} else {
				d = p->t[i] - p->t[i - 1];
			}
			if (d > 0 && (step == 0 || d < step))
				step = d;
		}
	if (step == 0) {
		/* Every series has one time (or only duplicates): the check below
		 * reports duplicates; single rows leave no step to see. */
		for (size_t s = 0; s < p->n_series; s++)
			if (p->start[s + 1] - p->start[s] > 1)
				return 0;
		return sl__err(SL_EINVAL, "every series has a single row: the time step cannot "
					  "be told (a forecast needs a history)");
	}
	p->period.step = step;
	return 0;
}

static int check_grid(const fc_panel *p)
{
	for (size_t s = 0; s < p->n_series; s++)
		for (size_t i = p->start[s] + 1; i < p->start[s + 1]; i++) {
			char label[256], a[DS_TS_BUF], b[DS_TS_BUF], pn[64];
			int64_t k = p->t[i] == p->t[i - 1]
					    ? 0
					    : fc_period_steps(&p->period, p->t[i - 1], p->t[i]);
			if (k == 1)
				continue;
			fc_panel_label(p, s, label, sizeof label);
			time_text(&p->period, p->t[i - 1], a);
			time_text(&p->period, p->t[i], b);
			fc_period_name(&p->period, pn, sizeof pn);
			if (k == 0)
				return sl__err(SL_EINVAL, "series %s has two rows at %s: a duplicate "
							  "time stamp (aggregate or drop one first)",
					       label, a);
			if (k == INT64_MIN)
				return sl__err(SL_EINVAL, "series %s: from %s to %s is not a whole "
							  "number of steps of the %s grid the data "
							  "follows: an irregular time grid (resample "
							  "it to a fixed step)",
					       label, a, b, pn);
			return sl__err(SL_EINVAL, "series %s has a gap: %" PRId64 " missing %s "
						  "step%s between %s and %s (fill the missing "
						  "times, e.g. with wrangle's impute)",
				       label, k - 1, pn, k - 1 > 1 ? "s" : "", a, b);
		}
	return 0;
}

int fc_panel_build(const ds_table *t, const char *target, const char *time,
		   const char *const *by, size_t nby, fc_panel *p)
{
	size_t n = ds_nrow(t), tc, S = 0;
	double *rowkeys = NULL;
	int64_t *times = NULL;
	size_t *order = NULL;
	int rc;

	memset(p, 0, sizeof *p);
	if (n == 0)
		return sl__err(SL_EINVAL, "the training data has no rows");
	if ((rc = find_col(t, "target", target, &tc)))
		return rc;
	if (ds_col_type(t, tc) != DS_FLOAT64 && ds_col_type(t, tc) != DS_INT64)
		return sl__err(SL_EINVAL, "the target '%s' is %s: a forecast target must be a "
					  "number",
			       target, ds_type_name(ds_col_type(t, tc)));
	p->nby = nby;
	p->by = sl__calloc(nby + 1, sizeof *p->by);
	p->by_type = sl__calloc(nby + 1, sizeof *p->by_type);
	p->dict = sl__calloc(nby + 1, sizeof *p->dict);
	p->n_dict = sl__calloc(nby + 1, sizeof *p->n_dict);
	rowkeys = sl__malloc((n * nby + 1) * sizeof *rowkeys);
	times = sl__malloc(n * sizeof *times);
	order = sl__malloc(n * sizeof *order);
	p->y = sl__malloc(n * sizeof *p->y);
	p->t = sl__malloc(n * sizeof *p->t);
	if (!p->by || !p->by_type || !p->dict || !p->n_dict || !rowkeys || !times || !order ||
	    !p->y || !p->t) {
		rc = sl__oom();
		goto fail;
	}
	if ((rc = read_keys(t, by, nby, p, rowkeys)) || (rc = fc_table_times(t, time, times, &p->period.timestamps, &p->time_type)))
		goto fail;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof *order, cmp_rows, &(sort_ctx){rowkeys, times, nby});
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(rowkeys + order[i] * nby, rowkeys + order[i - 1] * nby,
				     nby * sizeof *rowkeys) != 0)
			S++;
	p->keys = sl__malloc((S * nby + 1) * sizeof *p->keys);
	p->start = sl__malloc((S + 1) * sizeof *p->start);
	if (!p->keys || !p->start) {
		rc = sl__oom();
		goto fail;
	}
	S = 0;
	for (size_t i = 0; i < n; i++) {
		size_t r = order[i];
		if (i == 0 || memcmp(rowkeys + r * nby, rowkeys + order[i - 1] * nby,
				     nby * sizeof *rowkeys) != 0) {
			memcpy(p->keys + S * nby, rowkeys + r * nby, nby * sizeof *rowkeys);
			p->start[S++] = i;
		}
		p->t[i] = times[r];
		if (!ds_get_f64(t, tc, r, &p->y[i]) || !isfinite(p->y[i])) {
			char label[256], when[DS_TS_BUF];
			p->n_series = S;
			p->start[S] = n;
			fc_panel_label(p, S - 1, label, sizeof label);
			rc = sl__err(SL_EINVAL, "series %s has no value of '%s' at %s (row %zu): "
						"fill it (wrangle's impute) or drop the row",
				     label, target, time_text(&p->period, times[r], when), r + 1);
			goto fail;
		}
	}
	p->start[S] = n;
	p->n_series = S;
	if ((rc = detect_period(p, n)) || (rc = check_grid(p)))
		goto fail;
	sl__free(rowkeys);
	sl__free(times);
	sl__free(order);
	return 0;
fail:
	sl__free(rowkeys);
	sl__free(times);
	sl__free(order);
	fc_panel_free(p);
	return rc;
}
