/*
 * Hyperparameter search spaces and the plans drawn from them (search.c):
 * what the tune step and the scheduler share. Prefix ml_search_.
 *
 *   search: { C: {low: 0.01, high: 100, log: true},     a range
 *             penalty: {values: [l1, l2]},             a list of values
 *             max_iter: {low: 50, high: 400, int: true} }
 *
 * A space is read from the `search` mapping (already checked against the
 * option schema: one of values or low/high per option). Grid points are
 * numbered in the order of itertools.product (the first option slowest);
 * random points are drawn from stream k of the seed (rng.h), so trial k
 * is the same whatever the budget and whichever trials ran before it.
 */
#ifndef SLUICE_ML_SEARCH_H
#define SLUICE_ML_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"

typedef struct ml_search_dim {
	const char *name;     /* the option (borrowed from the JSON) */
	const json_t *values; /* an array: the values listed; NULL for a range */
	double low, high;     /* a range */
	bool log;             /* drawn uniformly in log space */
	bool is_int;          /* whole numbers (written `int: true`, or an integer option) */
} ml_search_dim;

typedef struct ml_search_space {
	ml_search_dim *dims; /* in the order the mapping lists them */
	size_t n;
} ml_search_space;

/*
 * Reads search (an object of {values} or {low, high, log, int}) into *out,
 * which borrows from search (keep it alive). A mistake (an empty or
 * inverted range, a log range with low <= 0, an int range without a whole
 * number in it, no values) is SL_EINVAL with *out_path set to where it is
 * inside search ("C.low") and the message saying what to write instead.
 */
int ml_search_space_parse(const json_t *search, ml_search_space *out, char *out_path,
			  size_t path_size);
void ml_search_space_free(ml_search_space *s); /* accepts a zeroed s */

/*
 * Grid points: the product of every option's values (an int range counts
 * as the whole numbers in it; a real range has no grid and makes the size
 * 0). At most max points are counted: *out_n is then max + 1 ("too many").
 */
int ml_search_grid_size(const ml_search_space *s, size_t max, size_t *out_n);
/* Grid point k (< the size) as {option: value}; NULL when out of memory. */
json_t *ml_search_grid_point(const ml_search_space *s, size_t k);
/* Random point k of seed as {option: value}; NULL when out of memory. */
json_t *ml_search_random_point(const ml_search_space *s, uint64_t seed, size_t k);

/*
 * Successive halving's rungs: n0 configurations at rung 0, each rung keeping
 * the best 1/eta of the one before (at least one), until one is left or
 * max_rungs are planned. sizes[r] receives rung r's count; returns the
 * number of rungs.
 */
size_t ml_search_rungs(size_t n0, unsigned eta, size_t *sizes, size_t max_rungs);

/*
 * The importance of each option for the metric, fANOVA-lite: the share of
 * the metric's variance over the trials that the option's main effect
 * explains (the correlation ratio eta^2 of the metric grouped by the
 * option's value; a numeric option with more than `bins` distinct values
 * is grouped into that many quantile bins). Interactions are not
 * attributed, so the shares need not sum to one. params[t] is trial t's
 * {option: value}, metric[t] its value (NaN: failed, left out). Returns
 * [{name, share, groups: [{value | low/high, mean, trials}]}] sorted by
 * share, largest first, or NULL when out of memory.
 */
json_t *ml_search_importance(const ml_search_space *s, const json_t *const *params,
			     const double *metric, size_t n, size_t bins);

#endif
