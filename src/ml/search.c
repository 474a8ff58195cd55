/*
 * Search spaces, grid and random points, halving's rungs and the
 * importance of each option (search.h).
 *
 * Invariants:
 *  1. A point depends only on the space, the seed and its number: grid
 *     point k is the k-th of the product in itertools.product order, random
 *     point k draws from sl__rng_stream(seed, k). Raising a budget keeps
 *     every trial already tried, which is what lets the cache serve them.
 *  2. Values are written as the option would be: an int dimension gives
 *     JSON integers, a listed value is copied as listed (a string stays a
 *     string), so a trial's options read exactly like a hand-written step's
 *     and share its cache key.
 *  3. Importance never invents a number: a metric with no variance, or
 *     fewer than two trials with a metric, gives shares of 0 and says so
 *     with "trials".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/search.h"
#include "rng.h"

#define INT_VALUES_MAX 1000000

static int bad(char *path, size_t size, const char *name, const char *field, int code)
{
	if (field)
		snprintf(path, size, "%s.%s", name, field);
	else
		snprintf(path, size, "%s", name);
	return code;
}

/* The whole numbers of an int range: ceil(low) .. floor(high). */
static void int_span(const ml_search_dim *d, double *lo, double *hi)
{
	*lo = ceil(d->low);
	*hi = floor(d->high);
}

int ml_search_space_parse(const json_t *search, ml_search_space *out, char *out_path,
			  size_t path_size)
{
	const char *name;
	json_t *v;
	size_t n = json_object_size(search);

	memset(out, 0, sizeof *out);
	out_path[0] = '\0';
	if (!json_is_object(search) || n == 0)
		return sl__err(SL_EINVAL, "search names no option: give at least one, e.g. "
					  "search: {C: {low: 0.01, high: 100, log: true}}");
	if (!(out->dims = sl__calloc(n, sizeof *out->dims)))
		return sl__oom();
	json_object_foreach((json_t *)search, name, v) {
		ml_search_dim *d = &out->dims[out->n++];
		const json_t *vals = json_object_get(v, "values");
		const json_t *lo = json_object_get(v, "low"), *hi = json_object_get(v, "high");

		d->name = name;
		d->log = json_is_true(json_object_get(v, "log"));
		d->is_int = json_is_true(json_object_get(v, "int"));
		if (vals) {
			if (!json_is_array(vals) || json_array_size(vals) == 0) {
				int rc = sl__err(SL_EINVAL, "values lists no value: give at least one");
				return bad(out_path, path_size, name, "values", rc);
			}
			d->values = vals;
			continue;
		}
		if (!json_is_number(lo) || !json_is_number(hi)) {
			int rc = sl__err(SL_EINVAL, "give values: [...] or a range low: and high:");
			return bad(out_path, path_size, name, NULL, rc);
		}
		d->low = json_number_value(lo);
		d->high = json_number_value(hi);
		if (!(d->low < d->high)) {
			int rc = sl__err(SL_EINVAL,
					 "the range is %s: low (%g) must be below high (%g)%s",
					 d->low == d->high ? "empty" : "inverted", d->low, d->high,
					 d->low == d->high ? "; for one value write values: [...]" : "");
			return bad(out_path, path_size, name, "low", rc);
		}
		if (d->log && d->low <= 0) {
			int rc = sl__err(SL_EINVAL,
					 "a log range needs low above 0, not %g (log of it is undefined); "
					 "raise low or drop log: true",
					 d->low);
			return bad(out_path, path_size, name, "low", rc);
		}
	}
	return 0;
}

void ml_search_space_free(ml_search_space *s)
{
	sl__free(s->dims);
	memset(s, 0, sizeof *s);
}

/* How many grid values dimension d has (0: a real range, which has none). */
static double dim_count(const ml_search_dim *d)
{
	double lo, hi;

	if (d->values)
		return (double)json_array_size(d->values);
	if (!d->is_int)
		return 0;
	int_span(d, &lo, &hi);
	return hi >= lo ? hi - lo + 1 : 0;
}

int ml_search_grid_size(const ml_search_space *s, size_t max, size_t *out_n)
{
	double total = 1;

	for (size_t i = 0; i < s->n; i++) {
		double c = dim_count(&s->dims[i]);
		if (c == 0) {
			*out_n = 0;
			return 0;
		}
		total *= c;
		if (total > (double)max)
			break;
	}
	*out_n = total > (double)max ? max + 1 : (size_t)total;
	return 0;
}

/* Value j of dimension d on the grid. */
static json_t *grid_value(const ml_search_dim *d, size_t j)
{
	double lo, hi;

	if (d->values)
		return json_deep_copy(json_array_get(d->values, j));
	int_span(d, &lo, &hi);
	return json_integer((json_int_t)(lo + (double)j));
}

json_t *ml_search_grid_point(const ml_search_space *s, size_t k)
{
	json_t *o = json_object();

	/* itertools.product order: the last option changes fastest. */
	for (size_t i = s->n; o && i-- > 0;) {
		size_t c = (size_t)dim_count(&s->dims[i]);
		json_t *v = c ? grid_value(&s->dims[i], k % c) : NULL;
		if (!v || json_object_set_new(o, s->dims[i].name, v) != 0) {
			json_decref(o);
			return NULL;
		}
		k /= c;
	}
	if (!o)
		return NULL;
	/* Keys in the order the space lists them (insertion order is kept). */
	{
		json_t *ordered = json_object();
		for (size_t i = 0; ordered && i < s->n; i++)
			if (json_object_set(ordered, s->dims[i].name,
					    json_object_get(o, s->dims[i].name)) != 0) {
				json_decref(ordered);
				ordered = NULL;
			}
		json_decref(o);
		return ordered;
	}
}

static json_t *random_value(const ml_search_dim *d, sl__rng *rng)
{
	double u = sl__rng_uniform(rng), x;

	if (d->values)
		return json_deep_copy(
			json_array_get(d->values, (size_t)sl__rng_below(rng, json_array_size(d->values))));
	if (d->is_int) {
		double lo, hi;
		int_span(d, &lo, &hi);
		if (d->log) {
			/* Log-uniform over [lo, hi + 1), floored: each whole number gets
			 * the log-width of its unit interval. */
			x = floor(exp(log(lo) + u * (log(hi + 1) - log(lo))));
		} else {
			x = lo + floor(u * (hi - lo + 1));
		}
		return json_integer((json_int_t)fmin(fmax(x, lo), hi));
	}
	x = d->log ? exp(log(d->low) + u * (log(d->high) - log(d->low)))
		   : d->low + u * (d->high - d->low);
	/* Printed and read back with 17 significant digits by the JSON writer:
	 * rounding to 6 keeps trial options readable and their cache keys stable. */
	{
		char buf[32];
		snprintf(buf, sizeof buf, "%.6g", x);
		x = strtod(buf, NULL);
	}
	return json_real(fmin(fmax(x, d->low), d->high));
}

json_t *ml_search_random_point(const ml_search_space *s, uint64_t seed, size_t k)
{
	json_t *o = json_object();
	sl__rng rng;

	sl__rng_stream(&rng, seed, (uint64_t)k);
	for (size_t i = 0; o && i < s->n; i++) {
		json_t *v = random_value(&s->dims[i], &rng);
		if (!v || json_object_set_new(o, s->dims[i].name, v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

size_t ml_search_rungs(size_t n0, unsigned eta, size_t *sizes, size_t max_rungs)
{
	size_t r = 0, n = n0 ? n0 : 1;

	if (eta < 2)
		eta = 2;
	while (r < max_rungs) {
		sizes[r++] = n;
		if (n == 1)
			break;
		n = n / eta ? n / eta : 1;
	}
	return r;
}

/* ---- importance ------------------------------------------------------------------- */

typedef struct grp {
	double sum;
	size_t n;
	double lo, hi;      /* numeric bins: the values they hold */
	const json_t *value; /* a listed value */
} grp;

/* A value's key for grouping listed values: its compact JSON text. */
static char *value_key(const json_t *v)
{
	return sl__json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Groups the trials with a metric by dimension d: listed values (and int
 * ranges with few values) by value, other numbers into quantile bins.
 * Returns the number of groups, with g[] filled; idx maps each used trial
 * to its group. 0 with nothing set when out of memory.
 */
static size_t group_trials(const ml_search_dim *d, const json_t *const *params,
			   const double *metric, size_t n, size_t bins, grp *g, size_t *idx)
{
	size_t ng = 0;
	bool by_value = d->values != NULL;
	double *xs = NULL, *cuts = NULL;
	size_t nx = 0;

	if (!by_value) {
		xs = sl__calloc(n + 1, sizeof *xs);
		cuts = sl__calloc(bins + 1, sizeof *cuts);
		if (!xs || !cuts) {
			sl__free(xs);
			sl__free(cuts);
			return 0;
		}
		for (size_t t = 0; t < n; t++) {
			const json_t *v = json_object_get(params[t], d->name);
			if (!isnan(metric[t]) && json_is_number(v))
				xs[nx++] = json_number_value(v);
		}
		qsort(xs, nx, sizeof *xs, cmp_double);
		/* Few distinct values: group by value, as a listed option. */
		{
			size_t distinct = nx ? 1 : 0;
			for (size_t i = 1; i < nx; i++)
				distinct += xs[i] != xs[i - 1];
			by_value = distinct <= bins;
		}
		for (size_t b = 1; !by_value && b < bins; b++)
			cuts[b - 1] = xs[(nx * b) / bins];
	}
	for (size_t t = 0; t < n; t++) {
		const json_t *v = json_object_get(params[t], d->name);
		size_t k;

		idx[t] = SIZE_MAX;
		if (isnan(metric[t]) || !v)
			continue;
		if (by_value) {
			char *key = value_key(v);
			for (k = 0; key && k < ng; k++) {
				char *other = value_key(g[k].value);
				bool same = other && !strcmp(key, other);
				free(other);
				if (same)
					break;
			}
			free(key);
			if (k == ng)
				g[ng++] = (grp){.value = v};
		} else {
			double x = json_number_value(v);
			for (k = 0; k + 1 < bins && x >= cuts[k]; k++)
				;
			while (ng <= k)
				g[ng++] = (grp){.lo = INFINITY, .hi = -INFINITY};
			g[k].lo = fmin(g[k].lo, x);
			g[k].hi = fmax(g[k].hi, x);
		}
		idx[t] = k;
		g[k].sum += metric[t];
		g[k].n++;
	}
	sl__free(xs);
	sl__free(cuts);
	return ng;
}

static int cmp_share(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double sx = json_number_value(json_object_get(x, "share"));
	double sy = json_number_value(json_object_get(y, "share"));

	if (sx != sy)
		return sx > sy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "name")),
		      json_string_value(json_object_get(y, "name")));
}

json_t *ml_search_importance(const ml_search_space *s, const json_t *const *params,
			     const double *metric, size_t n, size_t bins)
{
	json_t *out = json_array(), **items = NULL;
	grp *g = NULL;
	size_t *idx = NULL, used = 0, gcap = (bins > n ? bins : n) + 1;
	double mean = 0, total = 0;

	items = sl__calloc(s->n + 1, sizeof *items);
	g = sl__calloc(gcap, sizeof *g);
	idx = sl__calloc(n + 1, sizeof *idx);
	if (!out || !items || !g || !idx)
		goto nomem;
	for (size_t t = 0; t < n; t++)
		if (!isnan(metric[t])) {
			mean += metric[t];
			used++;
		}
	mean = used ? mean / (double)used : 0;
	for (size_t t = 0; t < n; t++)
		if (!isnan(metric[t]))
			total += (metric[t] - mean) * (metric[t] - mean);
	for (size_t i = 0; i < s->n; i++) {
		size_t ng = used ? group_trials(&s->dims[i], params, metric, n, bins, g, idx) : 0;
		json_t *groups = json_array(), *it;
		double between = 0;

		if (used && ng == 0) {
			json_decref(groups);
			goto nomem;
		}
		for (size_t k = 0; groups && k < ng; k++) {
			double gm;
			json_t *e;
			if (g[k].n == 0)
				continue; /* a bin between tied cuts holds no trial */
			gm = g[k].sum / (double)g[k].n;
			between += (double)g[k].n * (gm - mean) * (gm - mean);
			e = g[k].value ? json_pack("{s:O, s:f, s:I}", "value", g[k].value, "mean", gm,
						   "trials", (json_int_t)g[k].n)
				       : json_pack("{s:f, s:f, s:f, s:I}", "low", g[k].lo, "high",
						   g[k].hi, "mean", gm, "trials", (json_int_t)g[k].n);
			if (!e || json_array_append_new(groups, e) != 0) {
				json_decref(groups);
				groups = NULL;
			}
		}
		it = groups ? json_pack("{s:s, s:f, s:o}", "name", s->dims[i].name, "share",
					total > 0 ? between / total : 0.0, "groups", groups)
			    : NULL;
		if (!it)
			goto nomem;
		items[i] = it;
	}
	qsort(items, s->n, sizeof *items, cmp_share);
	for (size_t i = 0; i < s->n; i++) {
		json_t *it = items[i];
		items[i] = NULL;
		if (json_array_append_new(out, it) != 0)
			goto nomem;
	}
	sl__free(items);
	sl__free(g);
	sl__free(idx);
	return out;
nomem:
	for (size_t i = 0; items && i < s->n; i++)
		json_decref(items[i]);
	sl__free(items);
	sl__free(g);
	sl__free(idx);
	json_decref(out);
	return NULL;
}
