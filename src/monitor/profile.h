/*
 * Column statistics profiles: what a dataset looks like, in a form small
 * enough to store as an artifact and rich enough to compare other data
 * against. The validate step saves one per run; monitoring compares live
 * traffic (a table built from logged requests) against it. Prefix profile_.
 *
 * Per column a profile holds: row count, missing values, and then
 *
 *   numeric (int64, float64, timestamp)
 *       mean, sample standard deviation, min, max, the exact quantiles
 *       p01 p05 p25 p50 p75 p95 p99 (linear interpolation between closest
 *       ranks, numpy's default), a fixed-width histogram whose edges are
 *       stored so that other data can be counted in the same bins, the
 *       number of infinities, the exact distinct count and the top-k values
 *   categorical (string, bool)
 *       value counts (all of them when there are at most max_categories
 *       distinct values, else the most frequent max_categories and an
 *       "other" count), the exact distinct count, top-k values; for bool
 *       also the mean (the fraction of true)
 *
 * Invariants the rest of the code relies on:
 *
 *   1. Missing = nulls, plus NaN for float64. Statistics of numbers are
 *      over the finite values only; infinities are counted in `infinite`.
 *   2. Every double a profile holds has been rounded to 15 significant
 *      digits (profile_round15), and the JSON form prints 15 significant
 *      digits, so a profile read back from its JSON is bit-identical to the
 *      one that was written: data binned against a loaded profile's edges
 *      lands exactly where it landed when the profile was built.
 *   3. Histogram edges are strictly increasing; the first edge is at or
 *      below the column's smallest finite value and the last at or above its
 *      largest (rounding is directed outwards), so every finite value of the
 *      profiled data falls in a bin. A bin is [e_i, e_i+1), the last one
 *      closed. A constant column has one bin.
 *   4. Arrays (categories, top) are in a deterministic order that does not
 *      depend on dictionary order: count descending, then value ascending.
 *
 * Building costs one pass over the column to gather its finite values, a
 * radix sort (linear in the number of rows), and one pass over the sorted
 * values for every statistic; string columns are one pass over the
 * dictionary codes.
 */
#ifndef SLUICE_PROFILE_H
#define SLUICE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dataset/dataset.h"

#define PROFILE_NQ 7
/* The quantile levels, and their names in JSON ("p01" ... "p99"). */
extern const double profile_q_levels[PROFILE_NQ];
extern const char *const profile_q_names[PROFILE_NQ];

#define PROFILE_MAX_BINS 1000
#define PROFILE_MAX_TOP_K 1000

typedef struct profile_opts {
	size_t bins;           /* histogram bins for numbers (default 20) */
	size_t top_k;          /* most frequent values kept (default 10) */
	size_t max_categories; /* category counts kept before "other" (default 1000) */
} profile_opts;

void profile_opts_default(profile_opts *o);

/* One value with its count; str for categorical columns, num otherwise. */
typedef struct profile_value {
	char *str;  /* owned; NULL for numeric columns */
	double num;
	uint64_t count;
} profile_value;

typedef struct profile_col {
	char *name;
	ds_type type;
	bool numeric;       /* int64, float64, timestamp */
	uint64_t count;     /* rows */
	uint64_t missing;   /* nulls (+ NaN) */
	uint64_t infinite;  /* numeric: +-Inf values */
	uint64_t n_values;  /* values the statistics are over (finite, non-missing) */
	uint64_t distinct;  /* exact distinct non-missing values */
	double mean, std, min, max; /* NaN when n_values == 0 (min/max only for numeric) */
	double q[PROFILE_NQ];       /* numeric only; NaN when n_values == 0 */

	size_t n_bins;      /* numeric: histogram bins (0 when n_values == 0) */
	double *edges;      /* n_bins + 1 */
	uint64_t *bins;     /* n_bins */

	size_t n_top;
	profile_value *top;

	size_t n_cats;      /* categorical: kept category counts */
	profile_value *cats;
	uint64_t cats_other; /* count of values not among cats */
} profile_col;

typedef struct profile {
	uint64_t rows;
	size_t n_cols;
	profile_col *cols;
} profile;

/*
 * Profiles every column of t. *out is owned by the caller (profile_free).
 * Returns 0, SL_EINVAL for bad options, or SL_ENOMEM.
 */
int profile_build(const ds_table *t, const profile_opts *o, profile **out);
/* Profiles column j of t into *out (zeroed by the callee; free with profile_col_clear). */
int profile_col_build(const ds_table *t, size_t j, const profile_opts *o, profile_col *out);
void profile_col_clear(profile_col *c);
void profile_free(profile *p); /* accepts NULL */

/* The column named name, or NULL. */
const profile_col *profile_find(const profile *p, const char *name);

/*
 * Counts the values of column j of t in the histogram bins of ref (a numeric
 * profile column): counts[0] receives the values below the first edge,
 * counts[1..n_bins] the bins, counts[n_bins + 1] the values above the last
 * edge. counts has ref->n_bins + 2 entries and is overwritten. Missing and
 * infinite values are not counted (+Inf and -Inf would be out of range in
 * any case; they are reported through `infinite`). *out_n receives the
 * number of values counted. SL_EINVAL when column j is not numeric or ref
 * has no histogram. Monitoring can add such counts window by window.
 */
int profile_rebin(const profile_col *ref, const ds_table *t, size_t j, uint64_t *counts,
		  uint64_t *out_n);

/*
 * The JSON form (see docs/steps/validate.md); *out is a new reference.
 * Dump it with profile_dump_flags for the canonical text.
 */
int profile_to_json(const profile *p, json_t **out);
#define PROFILE_DUMP_FLAGS (JSON_SORT_KEYS | JSON_INDENT(1) | JSON_REAL_PRECISION(15))
/* Canonical JSON text of p, newly allocated (sl__free). */
char *profile_dump(const profile *p);
/*
 * Reads a profile back from JSON. Every field is checked; a bad one is
 * SL_EPARSE with a message naming it ("columns[2].histogram.edges: ...").
 */
int profile_from_json(const json_t *j, profile **out);
/* Reads a profile file; messages are prefixed with the path. */
int profile_load_file(const char *path, profile **out);

/* Rounds x to 15 significant digits (non-finite values unchanged). */
double profile_round15(double x);

/*
 * A JSON number for a double, or null when it is NaN, and the strings
 * "Inf" / "-Inf" for infinities (JSON has no such numbers). New reference.
 */
json_t *profile_json_num(double x);
/* The inverse: a number, null (NaN) or "Inf"/"-Inf"/"NaN". False otherwise. */
bool profile_json_get_num(const json_t *v, double *out);

#endif
