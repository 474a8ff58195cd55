/*
 * The one seeded random generator of sluice: split shuffles, GBDT row and
 * column sampling, isolation-forest subsamples, permutation importance and
 * tuning all draw from it, so that the same seed gives the same numbers on
 * every machine and with every C library (rand() differs between them).
 *
 * xoshiro256** (Blackman and Vigna), seeded by four outputs of splitmix64 as
 * its authors recommend, so that seeds 0, 1, 2 ... give unrelated streams.
 *
 * Parallel work never shares a generator: each task derives its own stream
 * with sl__rng_stream(seed, k), which depends only on the seed and the task
 * number, so results do not depend on how many threads ran or in what order.
 */
#ifndef SLUICE_RNG_H
#define SLUICE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl__rng {
	uint64_t s[4];
} sl__rng;

/* The splitmix64 step: advances *x and returns a well-mixed word. */
uint64_t sl__splitmix64(uint64_t *x);
void sl__rng_seed(sl__rng *r, uint64_t seed);
/* Stream k of seed: independent of stream j != k and of sl__rng_seed(seed). */
void sl__rng_stream(sl__rng *r, uint64_t seed, uint64_t k);
uint64_t sl__rng_next(sl__rng *r);
/* Uniform integer in [0, bound), bound > 0, without modulo bias. */
uint64_t sl__rng_below(sl__rng *r, uint64_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
double sl__rng_uniform(sl__rng *r);
/* Standard normal deviate (Marsaglia's polar method; libm's log and sqrt). */
double sl__rng_normal(sl__rng *r);
/*
 * A retry's wait: sleeps a time drawn uniformly from [d/2, d], where d is
 * *delay_us (set to first_us when 0), then doubles *delay_us up to max_us.
 * The jitter keeps processes that failed together from retrying in step.
 */
void sl__rng_backoff(sl__rng *r, unsigned *delay_us, unsigned first_us, unsigned max_us);
/* Fisher-Yates shuffle of a[0..n). */
void sl__rng_shuffle(sl__rng *r, size_t *a, size_t n);
/*
 * Chooses k distinct indices of [0, n) (k <= n) into out, in increasing
 * order: Floyd's algorithm when k is small against n, a selection pass
 * otherwise. Deterministic for a given generator state.
 */
void sl__rng_sample(sl__rng *r, size_t n, size_t k, size_t *out);

#endif
