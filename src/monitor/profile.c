/*
 * Column statistics profiles: building one from a table, counting other data
 * in a profile's bins, and the JSON form. See profile.h for what a profile
 * holds and the invariants kept here.
 *
 * Numbers are mapped to order-preserving unsigned keys and radix sorted
 * (sort.h); every statistic (moments, quantiles, histogram, distinct
 * count, top-k) is then read from one pass over the sorted keys. Sorting makes the quantiles
 * and the distinct count exact at a cost linear in the rows, which beats a
 * sketch's error bars at the sizes a step sees; monitoring windows are
 * smaller still.
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "monitor/profile.h"
#include "sort.h"
#include "stats.h"

const double profile_q_levels[PROFILE_NQ] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
const char *const profile_q_names[PROFILE_NQ] = {"p01", "p05", "p25", "p50",
						 "p75", "p95", "p99"};

void profile_opts_default(profile_opts *o)
{
	o->bins = 20;
	o->top_k = 10;
	o->max_categories = 1000;
}

/* ---- rounding ------------------------------------------------------------ */

/*
 * Rounds to 15 significant digits: nearest when dir == 0, else towards
 * -Inf (dir < 0) or +Inf (dir > 0). Fifteen digits survive any
 * decimal -> double -> decimal round trip (DBL_DIG), which is what makes the
 * JSON form exact (invariant 2).
 */
static double round15_dir(double x, int dir)
{
	char buf[48];
	double r;

	if (!isfinite(x) || x == 0)
		return x == 0 ? 0 : x;
	snprintf(buf, sizeof buf, "%.14e", x);
	r = strtod(buf, NULL);
	if ((dir < 0 && r > x) || (dir > 0 && r < x)) {
		const char *e = strchr(buf, 'e');
		double step = pow(10, (double)(atoi(e + 1) - 14));
		double s = dir < 0 ? r - step : r + step;

		if (isfinite(s)) {
			snprintf(buf, sizeof buf, "%.14e", s);
			r = strtod(buf, NULL);
		}
	}
	return r == 0 ? 0 : r;
}

double profile_round15(double x)
{
	return round15_dir(x, 0);
}

/* ---- building ------------------------------------------------------------ */

void profile_col_clear(profile_col *c)
{
	if (!c)
		return;
	sl__free(c->name);
	sl__free(c->edges);
	sl__free(c->bins);
	for (size_t i = 0; i < c->n_top; i++)
		sl__free(c->top[i].str);
	sl__free(c->top);
	for (size_t i = 0; i < c->n_cats; i++)
		sl__free(c->cats[i].str);
	sl__free(c->cats);
	memset(c, 0, sizeof *c);
}

void profile_free(profile *p)
{
	if (!p)
		return;
	for (size_t j = 0; j < p->n_cols; j++)
		profile_col_clear(&p->cols[j]);
	sl__free(p->cols);
	sl__free(p);
}

const profile_col *profile_find(const profile *p, const char *name)
{
	for (size_t j = 0; j < p->n_cols; j++)
		if (!strcmp(p->cols[j].name, name))
			return &p->cols[j];
	return NULL;
}

/* The bin of v: -1 below the first edge, nb above the last, else 0..nb-1. */
static long bin_of(const double *edges, size_t nb, double v)
{
	double lo = edges[0], hi = edges[nb];
	long k;

	if (v < lo)
		return -1;
	if (v > hi)
		return (long)nb;
	if (nb == 1)
		return 0;
	/* Guess arithmetically (the bins are of equal width up to rounding),
	 * then settle against the stored edges, which are the truth. */
	k = (long)((v - lo) / (hi - lo) * (double)nb);
	if (k < 0)
		k = 0;
	if (k > (long)nb - 1)
		k = (long)nb - 1;
	while (k > 0 && v < edges[k])
		k--;
	while (k < (long)nb - 1 && v >= edges[k + 1])
		k++;
	return k;
}

static int make_edges(profile_col *c, double min, double max, size_t nb)
{
	double lo = round15_dir(min, -1), hi = round15_dir(max, +1);

	if (lo == hi)
		nb = 1;
	c->edges = sl__calloc(nb + 1, sizeof *c->edges);
	c->bins = sl__calloc(nb, sizeof *c->bins);
	if (!c->edges || !c->bins)
		return sl__oom();
	c->n_bins = nb;
	c->edges[0] = lo;
	c->edges[nb] = hi;
	if (nb == 1)
		return 0;
	double w = (hi - lo) / (double)nb;
	bool ok = isfinite(w);
	for (size_t i = 1; i < nb && ok; i++) {
		c->edges[i] = profile_round15(lo + (double)i * w);
		ok = c->edges[i] > c->edges[i - 1];
	}
	if (!ok || !(hi > c->edges[nb - 1])) {
		/* A range too narrow for 15 digits to split: one bin. */
		c->n_bins = 1;
		c->edges[1] = hi;
	}
	return 0;
}

/* Inserts (num, count) into the top list of at most k entries; values come in
 * ascending order, so on equal counts the earlier (smaller) one stays first. */
static void top_offer(profile_value *top, size_t *n, size_t k, double num, uint64_t count)
{
	size_t at;

	if (k == 0 || (*n == k && count <= top[k - 1].count))
		return;
	at = *n < k ? *n : k - 1;
	while (at > 0 && top[at - 1].count < count)
		at--;
	size_t move = (*n < k ? *n : k - 1) - at;
	memmove(&top[at + 1], &top[at], move * sizeof *top);
	top[at].str = NULL;
	top[at].num = num;
	top[at].count = count;
	if (*n < k)
		(*n)++;
}

static int build_numeric(const ds_table *t, size_t j, const profile_opts *o, profile_col *c)
{
	size_t n = ds_nrow(t);
	const uint8_t *valid = ds_col_validity(t, j);
	bool is_int = c->type != DS_FLOAT64;
	uint64_t *keys = sl__reallocarray(NULL, n ? n : 1, sizeof *keys);
	double *x = NULL, mean, var;
	size_t m = 0;
	int rc = 0;

	if (!keys) {
		rc = sl__oom();
		goto out;
	}
	if (is_int) {
		const int64_t *v = ds_col_i64(t, j);
		for (size_t i = 0; i < n; i++) {
			if (!ds_valid(valid, i)) {
				c->missing++;
				continue;
			}
			keys[m++] = sl__key_i64(v[i]);
		}
	} else {
		const double *v = ds_col_f64(t, j);
		for (size_t i = 0; i < n; i++) {
			if (!ds_valid(valid, i) || isnan(v[i])) {
				c->missing++;
				continue;
			}
			if (isinf(v[i])) {
				c->infinite++;
				continue;
			}
			keys[m++] = sl__key_f64(v[i]);
		}
	}
	c->n_values = m;
	if (m == 0)
		goto out;
	if ((rc = sl__radix_sort_u64(keys, NULL, m)))
		goto out;
	/* The values in order, as doubles, for the statistics (stats.h); the
	 * keys still tell equal values apart exactly (int64 beyond 2^53). */
	x = sl__reallocarray(NULL, m, sizeof *x);
	if (!x) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < m; i++)
		x[i] = is_int ? (double)sl__unkey_i64(keys[i]) : sl__unkey_f64(keys[i]);
	if ((rc = make_edges(c, x[0], x[m - 1], o->bins)))
		goto out;
	c->top = sl__calloc(o->top_k ? o->top_k : 1, sizeof *c->top);
	if (!c->top) {
		rc = sl__oom();
		goto out;
	}

	/* One pass over the sorted values: histogram, and runs of equal
	 * values for the distinct count and the top-k. */
	size_t run = 0;
	for (size_t i = 0; i < m; i++) {
		long b = bin_of(c->edges, c->n_bins, x[i]);
		if (b < 0)
			b = 0;
		if (b >= (long)c->n_bins)
			b = (long)c->n_bins - 1;
		c->bins[b]++;
		run++;
		if (i + 1 == m || keys[i + 1] != keys[i]) {
			c->distinct++;
			top_offer(c->top, &c->n_top, o->top_k, x[i], run);
			run = 0;
		}
	}
	/* Rounded here rather than per run: formatting a double costs more
	 * than everything else in the pass. */
	for (size_t i = 0; i < c->n_top; i++)
		c->top[i].num = profile_round15(c->top[i].num);
	sl__mean_var(x, m, 1, &mean, &var, NULL);
	c->mean = profile_round15(mean);
	c->std = m > 1 ? profile_round15(sqrt(var)) : 0;
	c->min = profile_round15(x[0]);
	c->max = profile_round15(x[m - 1]);
	for (size_t q = 0; q < PROFILE_NQ; q++)
		c->q[q] = profile_round15(sl__quantile_sorted(x, m, profile_q_levels[q]));
out:
	sl__free(keys);
	sl__free(x);
	return rc;
}

typedef struct cat_entry {
	const char *s;
	size_t len;
	uint64_t count;
} cat_entry;

static int cmp_cat(const void *a, const void *b)
{
	const cat_entry *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	c = memcmp(x->s, y->s, n);
	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* *out_n is set once the array exists, so a failure half-way frees cleanly. */
static int copy_values(const cat_entry *e, size_t n, profile_value **out, size_t *out_n)
{
	profile_value *v = sl__calloc(n ? n : 1, sizeof *v);

	*out = v;
	*out_n = 0;
	if (!v)
		return sl__oom();
	*out_n = n;
	for (size_t i = 0; i < n; i++) {
		v[i].num = NAN;
		v[i].count = e[i].count;
		if (!(v[i].str = sl__strndup(e[i].s, e[i].len)))
			return sl__oom();
	}
	return 0;
}

static int build_categorical(const ds_table *t, size_t j, const profile_opts *o, profile_col *c)
{
	size_t n = ds_nrow(t), k;
	const uint8_t *valid = ds_col_validity(t, j);
	uint64_t *counts;
	cat_entry *e = NULL;
	size_t ne = 0;
	int rc = 0;

	if (c->type == DS_BOOL) {
		const uint8_t *v = ds_col_bool(t, j);
		k = 2;
		counts = sl__calloc(k, sizeof *counts);
		if (!counts)
			return sl__oom();
		for (size_t i = 0; i < n; i++) {
			if (ds_valid(valid, i))
				counts[v[i] ? 1 : 0]++;
			else
				c->missing++;
		}
	} else {
		const uint32_t *codes = ds_col_codes(t, j);
		k = ds_dict_size(t, j);
		counts = sl__calloc(k ? k : 1, sizeof *counts);
		if (!counts)
			return sl__oom();
		for (size_t i = 0; i < n; i++) {
			if (ds_valid(valid, i))
				counts[codes[i]]++;
			else
				c->missing++;
		}
	}
	c->n_values = c->count - c->missing;
	e = sl__calloc(k ? k : 1, sizeof *e);
	if (!e) {
		rc = sl__oom();
		goto out;
	}
	for (size_t code = 0; code < k; code++) {
		if (!counts[code])
			continue;
		if (c->type == DS_BOOL) {
			e[ne].s = code ? "true" : "false";
			e[ne].len = strlen(e[ne].s);
		} else {
			e[ne].s = ds_dict_str(t, j, (uint32_t)code, &e[ne].len);
		}
		e[ne++].count = counts[code];
	}
	qsort(e, ne, sizeof *e, cmp_cat);
	c->distinct = ne;
	size_t keep = ne < o->max_categories ? ne : o->max_categories;
	for (size_t i = keep; i < ne; i++)
		c->cats_other += e[i].count;
	if ((rc = copy_values(e, keep, &c->cats, &c->n_cats)))
		goto out;
	if ((rc = copy_values(e, ne < o->top_k ? ne : o->top_k, &c->top, &c->n_top)))
		goto out;
	if (c->type == DS_BOOL && c->n_values) {
		double p = (double)counts[1] / (double)c->n_values;
		c->mean = profile_round15(p);
		c->std = c->n_values > 1 ? profile_round15(sqrt(p * (1 - p) * (double)c->n_values /
								(double)(c->n_values - 1)))
					 : 0;
		c->min = counts[0] ? 0 : 1;
		c->max = counts[1] ? 1 : 0;
	}
out:
	sl__free(counts);
	sl__free(e);
	return rc;
}

static int check_opts(const profile_opts *o)
{
	if (o->bins < 1 || o->bins > PROFILE_MAX_BINS)
		return sl__err(SL_EINVAL, "bins must be between 1 and %d", PROFILE_MAX_BINS);
	if (o->top_k > PROFILE_MAX_TOP_K)
		return sl__err(SL_EINVAL, "top_k must be at most %d", PROFILE_MAX_TOP_K);
	return 0;
}

int profile_col_build(const ds_table *t, size_t j, const profile_opts *o, profile_col *c)
{
	profile_opts def;
	int rc;

	memset(c, 0, sizeof *c);
	if (!o) {
		profile_opts_default(&def);
		o = &def;
	}
	if ((rc = check_opts(o)))
		return rc;
	c->type = ds_col_type(t, j);
	c->numeric = c->type == DS_INT64 || c->type == DS_FLOAT64 || c->type == DS_TIMESTAMP;
	c->count = ds_nrow(t);
	c->mean = c->std = c->min = c->max = NAN;
	for (size_t q = 0; q < PROFILE_NQ; q++)
		c->q[q] = NAN;
	if (!(c->name = sl__strdup(ds_col_name(t, j))))
		return sl__oom();
	rc = c->numeric ? build_numeric(t, j, o, c) : build_categorical(t, j, o, c);
	if (rc)
		profile_col_clear(c);
	return rc;
}

int profile_build(const ds_table *t, const profile_opts *o, profile **out)
{
	profile *p;
	int rc = 0;

	*out = NULL;
	if (!(p = sl__calloc(1, sizeof *p)))
		return sl__oom();
	p->rows = ds_nrow(t);
	p->cols = sl__calloc(ds_ncol(t) ? ds_ncol(t) : 1, sizeof *p->cols);
	if (!p->cols) {
		sl__free(p);
		return sl__oom();
	}
	for (size_t j = 0; j < ds_ncol(t) && !rc; j++) {
		rc = profile_col_build(t, j, o, &p->cols[j]);
		if (!rc)
			p->n_cols++;
	}
	if (rc) {
		profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int profile_rebin(const profile_col *ref, const ds_table *t, size_t j, uint64_t *counts,
		  uint64_t *out_n)
{
	size_t n = ds_nrow(t), nb = ref->n_bins;
	ds_type type = ds_col_type(t, j);
	const uint8_t *valid = ds_col_validity(t, j);
	uint64_t used = 0;

	if (out_n)
		*out_n = 0;
	if (!ref->numeric || nb == 0 || !ref->edges)
		return sl__err(SL_EINVAL, "column '%s': the reference has no histogram", ref->name);
	if (type != DS_INT64 && type != DS_FLOAT64 && type != DS_TIMESTAMP)
		return sl__err(SL_EINVAL, "column '%s' is %s, not numeric", ds_col_name(t, j),
			       ds_type_name(type));
	memset(counts, 0, (nb + 2) * sizeof *counts);
	if (type == DS_FLOAT64) {
		const double *v = ds_col_f64(t, j);
		for (size_t i = 0; i < n; i++) {
			if (!ds_valid(valid, i) || !isfinite(v[i]))
				continue;
			counts[bin_of(ref->edges, nb, v[i]) + 1]++;
			used++;
		}
	} else {
		const int64_t *v = ds_col_i64(t, j);
		for (size_t i = 0; i < n; i++) {
			if (!ds_valid(valid, i))
				continue;
			counts[bin_of(ref->edges, nb, (double)v[i]) + 1]++;
			used++;
		}
	}
	if (out_n)
		*out_n = used;
	return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

json_t *profile_json_num(double x)
{
	if (isnan(x))
		return json_null();
	if (isinf(x))
		return json_string(x > 0 ? "Inf" : "-Inf");
	return json_real(x);
}

bool profile_json_get_num(const json_t *v, double *out)
{
	const char *s;

	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	if (json_is_null(v)) {
		*out = NAN;
		return true;
	}
	if (!(s = json_string_value(v)))
		return false;
	if (!strcmp(s, "Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN")) {
		*out = !strcmp(s, "NaN") ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
		return true;
	}
	return false;
}

/* Integers of int64 and timestamp columns print as JSON integers. */
static json_t *col_num(const profile_col *c, double x)
{
	if (c->type != DS_FLOAT64 && isfinite(x) && x == floor(x) && fabs(x) < 9007199254740992.0)
		return json_integer((json_int_t)x);
	return profile_json_num(x);
}

static int put(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v))
		return sl__oom();
	return 0;
}

static int push(json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v))
		return sl__oom();
	return 0;
}

static json_t *values_json(const profile_col *c, const profile_value *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		json_t *e = json_object();
		if (!e || put(e, "value", v[i].str ? json_string(v[i].str) : col_num(c, v[i].num)) ||
		    put(e, "count", json_integer((json_int_t)v[i].count))) {
			json_decref(e);
			json_decref(a);
			return NULL;
		}
		if (push(a, e)) { /* push consumed e */
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *col_to_json(const profile_col *c)
{
	json_t *o = json_object();
	int rc;

	if (!o)
		return NULL;
	rc = put(o, "name", json_string(c->name));
	rc = rc ? rc : put(o, "type", json_string(ds_type_name(c->type)));
	rc = rc ? rc : put(o, "count", json_integer((json_int_t)c->count));
	rc = rc ? rc : put(o, "missing", json_integer((json_int_t)c->missing));
	rc = rc ? rc : put(o, "distinct", json_integer((json_int_t)c->distinct));
	rc = rc ? rc : put(o, "top", values_json(c, c->top, c->n_top));
	if (!rc && (c->numeric || c->type == DS_BOOL)) {
		rc = put(o, "mean", profile_json_num(c->mean));
		rc = rc ? rc : put(o, "std", profile_json_num(c->std));
		rc = rc ? rc : put(o, "min", col_num(c, c->min));
		rc = rc ? rc : put(o, "max", col_num(c, c->max));
	}
	if (!rc && c->numeric) {
		json_t *q = NULL, *h = NULL, *e = NULL, *b = NULL;
		/* put() consumes what it is given, even on failure, and each
		 * container is made only when the previous step succeeded. */
		rc = put(o, "infinite", json_integer((json_int_t)c->infinite));
		rc = rc ? rc : put(o, "quantiles", q = json_object());
		rc = rc ? rc : put(o, "histogram", h = json_object());
		rc = rc ? rc : put(h, "edges", e = json_array());
		rc = rc ? rc : put(h, "counts", b = json_array());
		for (size_t i = 0; i < PROFILE_NQ && !rc; i++)
			rc = put(q, profile_q_names[i], profile_json_num(c->q[i]));
		for (size_t i = 0; i <= c->n_bins && c->n_bins && !rc; i++)
			rc = push(e, profile_json_num(c->edges[i]));
		for (size_t i = 0; i < c->n_bins && !rc; i++)
			rc = push(b, json_integer((json_int_t)c->bins[i]));
	}
	if (!rc && !c->numeric) {
		rc = put(o, "categories", values_json(c, c->cats, c->n_cats));
		rc = rc ? rc : put(o, "categories_other", json_integer((json_int_t)c->cats_other));
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int profile_to_json(const profile *p, json_t **out)
{
	json_t *o = json_object(), *cols = json_array();
	int rc = 0;

	*out = NULL;
	if (!o || !cols) {
		json_decref(o);
		json_decref(cols);
		return sl__oom();
	}
	rc = put(o, "columns", cols);
	rc = rc ? rc : put(o, "format", json_string("sluice.profile"));
	rc = rc ? rc : put(o, "version", json_integer(1));
	rc = rc ? rc : put(o, "rows", json_integer((json_int_t)p->rows));
	for (size_t j = 0; j < p->n_cols && !rc; j++)
		rc = push(cols, col_to_json(&p->cols[j]));
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

char *profile_dump(const profile *p)
{
	json_t *j;
	char *s, *r;

	if (profile_to_json(p, &j))
		return NULL;
	s = sl__json_dumps(j, PROFILE_DUMP_FLAGS);
	json_decref(j);
	if (!s) {
		sl__oom();
		return NULL;
	}
	/* Hand back memory the caller frees with sl__free, as everywhere else. */
	r = sl__asprintf("%s\n", s);
	free(s);
	return r;
}

/* ---- reading back -------------------------------------------------------- */

#define BAD(...) sl__err(SL_EPARSE, __VA_ARGS__)

static int get_count(const json_t *o, const char *key, const char *where, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return BAD("%s.%s: expected a non-negative integer", where, key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_num(const json_t *o, const char *key, const char *where, double *out)
{
	if (!profile_json_get_num(json_object_get(o, key), out))
		return BAD("%s.%s: expected a number", where, key);
	return 0;
}

static int values_from_json(const json_t *a, const profile_col *c, const char *where,
			    const char *key, profile_value **out, size_t *out_n)
{
	size_t n;

	*out = NULL;
	*out_n = 0;
	if (!json_is_array(a))
		return BAD("%s.%s: expected an array", where, key);
	n = json_array_size(a);
	if (!(*out = sl__calloc(n ? n : 1, sizeof **out)))
		return sl__oom();
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(a, i), *v = json_object_get(e, "value");
		profile_value *pv = &(*out)[i];
		char at[256];
		int rc;

		snprintf(at, sizeof at, "%s.%s[%zu]", where, key, i);
		if (!json_is_object(e))
			return BAD("%s: expected an object", at);
		if ((rc = get_count(e, "count", at, &pv->count)))
			return rc;
		(*out_n)++;
		if (c->numeric) {
			if (!profile_json_get_num(v, &pv->num))
				return BAD("%s.value: expected a number", at);
		} else {
			if (!json_is_string(v))
				return BAD("%s.value: expected a string", at);
			pv->num = NAN;
			if (!(pv->str = sl__strdup(json_string_value(v))))
				return sl__oom();
		}
	}
	return 0;
}

static int col_from_json(const json_t *o, const char *where, profile_col *c)
{
	const json_t *v;
	int rc;

	c->mean = c->std = c->min = c->max = NAN;
	for (size_t q = 0; q < PROFILE_NQ; q++)
		c->q[q] = NAN;
	if (!json_is_object(o))
		return BAD("%s: expected an object", where);
	if (!json_is_string(v = json_object_get(o, "name")) || !json_string_length(v))
		return BAD("%s.name: expected a non-empty string", where);
	if (!(c->name = sl__strdup(json_string_value(v))))
		return sl__oom();
	if (!json_is_string(v = json_object_get(o, "type")) ||
	    !ds_type_parse(json_string_value(v), &c->type))
		return BAD("%s.type: expected a column type", where);
	c->numeric = c->type == DS_INT64 || c->type == DS_FLOAT64 || c->type == DS_TIMESTAMP;
	if ((rc = get_count(o, "count", where, &c->count)) ||
	    (rc = get_count(o, "missing", where, &c->missing)) ||
	    (rc = get_count(o, "distinct", where, &c->distinct)))
		return rc;
	if (c->missing > c->count)
		return BAD("%s.missing: more than count", where);
	if ((rc = values_from_json(json_object_get(o, "top"), c, where, "top", &c->top, &c->n_top)))
		return rc;
	if (c->numeric || c->type == DS_BOOL) {
		if ((rc = get_num(o, "mean", where, &c->mean)) ||
		    (rc = get_num(o, "std", where, &c->std)) ||
		    (rc = get_num(o, "min", where, &c->min)) ||
		    (rc = get_num(o, "max", where, &c->max)))
			return rc;
	}
	if (!c->numeric) {
		c->n_values = c->count - c->missing;
		if ((rc = values_from_json(json_object_get(o, "categories"), c, where, "categories",
					   &c->cats, &c->n_cats)))
			return rc;
		return get_count(o, "categories_other", where, &c->cats_other);
	}

	const json_t *q = json_object_get(o, "quantiles"), *h = json_object_get(o, "histogram");
	if ((rc = get_count(o, "infinite", where, &c->infinite)))
		return rc;
	if (c->missing + c->infinite > c->count)
		return BAD("%s.infinite: missing + infinite exceed count", where);
	c->n_values = c->count - c->missing - c->infinite;
	if (!json_is_object(q))
		return BAD("%s.quantiles: expected an object", where);
	for (size_t i = 0; i < PROFILE_NQ; i++) {
		char at[256];
		snprintf(at, sizeof at, "%s.quantiles", where);
		if ((rc = get_num(q, profile_q_names[i], at, &c->q[i])))
			return rc;
	}
	const json_t *e = json_object_get(h, "edges"), *b = json_object_get(h, "counts");
	if (!json_is_object(h) || !json_is_array(e) || !json_is_array(b))
		return BAD("%s.histogram: expected {edges: [...], counts: [...]}", where);
	size_t nb = json_array_size(b);
	if (nb > PROFILE_MAX_BINS || (nb ? json_array_size(e) != nb + 1 : json_array_size(e) != 0))
		return BAD("%s.histogram: %zu edges for %zu bins", where, json_array_size(e), nb);
	if (nb == 0) {
		if (c->n_values)
			return BAD("%s.histogram: no bins for %" PRIu64 " values", where, c->n_values);
		return 0;
	}
	c->edges = sl__calloc(nb + 1, sizeof *c->edges);
	c->bins = sl__calloc(nb, sizeof *c->bins);
	if (!c->edges || !c->bins)
		return sl__oom();
	c->n_bins = nb;
	uint64_t total = 0;
	for (size_t i = 0; i <= nb; i++) {
		if (!json_is_number(json_array_get(e, i)) ||
		    !isfinite(c->edges[i] = json_number_value(json_array_get(e, i))))
			return BAD("%s.histogram.edges[%zu]: expected a finite number", where, i);
		if (i > 0 && (nb > 1 ? !(c->edges[i] > c->edges[i - 1])
				     : !(c->edges[i] >= c->edges[i - 1])))
			return BAD("%s.histogram.edges[%zu]: edges must increase", where, i);
	}
	for (size_t i = 0; i < nb; i++) {
		const json_t *x = json_array_get(b, i);
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return BAD("%s.histogram.counts[%zu]: expected a non-negative integer", where,
				   i);
		c->bins[i] = (uint64_t)json_integer_value(x);
		total += c->bins[i];
	}
	if (total != c->n_values)
		return BAD("%s.histogram: counts sum to %" PRIu64 ", expected %" PRIu64, where, total,
			   c->n_values);
	return 0;
}

int profile_from_json(const json_t *j, profile **out)
{
	const json_t *cols, *v;
	profile *p;
	int rc = 0;

	*out = NULL;
	if (!json_is_object(j))
		return BAD("profile: expected an object");
	v = json_object_get(j, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), "sluice.profile"))
		return BAD("format: expected \"sluice.profile\" (is this a profile artifact?)");
	v = json_object_get(j, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return BAD("version: unsupported profile version");
	cols = json_object_get(j, "columns");
	if (!json_is_array(cols))
		return BAD("columns: expected an array");
	if (!(p = sl__calloc(1, sizeof *p)))
		return sl__oom();
	if ((rc = get_count(j, "rows", "profile", &p->rows)))
		goto fail;
	p->cols = sl__calloc(json_array_size(cols) ? json_array_size(cols) : 1, sizeof *p->cols);
	if (!p->cols) {
		rc = sl__oom();
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(cols); i++) {
		char where[64];
		snprintf(where, sizeof where, "columns[%zu]", i);
		p->n_cols++;
		if ((rc = col_from_json(json_array_get(cols, i), where, &p->cols[i])))
			goto fail;
		if (p->cols[i].count != p->rows) {
			rc = BAD("%s.count: %" PRIu64 " but the profile has %" PRIu64 " rows", where,
				 p->cols[i].count, p->rows);
			goto fail;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(p->cols[k].name, p->cols[i].name)) {
				rc = BAD("%s.name: duplicate column '%s'", where, p->cols[i].name);
				goto fail;
			}
	}
	*out = p;
	return 0;
fail:
	profile_free(p);
	return rc;
}

int profile_load_file(const char *path, profile **out)
{
	json_error_t e;
	bool oom;
	json_t *j;
	int rc;

	*out = NULL;
	j = sl__json_load_file(path, 0, &e, &oom);
	if (!j) {
		if (oom)
			return sl__err(SL_ENOMEM, "%s: out of memory", path);
		if (!sl__is_file(path))
			return sl__err(SL_ENOENT, "%s: no such file", path);
		return sl__err(SL_EPARSE, "%s:%d:%d: %s", path, e.line, e.column, e.text);
	}
	rc = profile_from_json(j, out);
	json_decref(j);
	if (rc)
		sl__err_prefix(rc, "%s", path);
	return rc;
}
