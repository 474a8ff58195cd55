/*
 * The one sort of numbers in sluice: numbers are mapped to unsigned 64-bit
 * keys whose order is theirs, and the keys are sorted by a stable LSD radix
 * sort that can carry an index payload (which row each key came from).
 * Profiles (exact quantiles and distinct counts), split's time order and,
 * on the ML side, quantile sketches and AUC sort this way: linear in n, and
 * ties keep their input order, so results never depend on a comparison
 * sort's whims.
 *
 * Keys:
 *   sl__key_i64   flips the sign bit: INT64_MIN -> 0, -1 < 0 < 1 as keys.
 *   sl__key_f64   the IEEE bits with negatives inverted and positives given
 *                 the sign bit, so -Inf < -1 < -0.0 = 0.0 < 1 < +Inf; -0.0
 *                 is folded into 0.0 (one value). A NaN lands beyond the
 *                 infinities (on the side of its sign bit): callers drop
 *                 NaN first, as every statistic does.
 * sl__unkey_* invert them (sl__unkey_f64 gives 0.0 for a folded -0.0).
 */
#ifndef SLUICE_SORT_H
#define SLUICE_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SL__KEY_SIGN ((uint64_t)1 << 63)

static inline uint64_t sl__key_i64(int64_t v)
{
	return (uint64_t)v ^ SL__KEY_SIGN;
}

static inline int64_t sl__unkey_i64(uint64_t k)
{
	return (int64_t)(k ^ SL__KEY_SIGN);
}

static inline uint64_t sl__key_f64(double v)
{
	uint64_t b;

	if (v == 0)
		v = 0; /* -0.0 and 0.0 are one value */
	memcpy(&b, &v, sizeof b);
	return (b & SL__KEY_SIGN) ? ~b : b | SL__KEY_SIGN;
}

static inline double sl__unkey_f64(uint64_t k)
{
	uint64_t b = (k & SL__KEY_SIGN) ? k & ~SL__KEY_SIGN : ~k;
	double v;

	memcpy(&v, &b, sizeof v);
	return v;
}

/*
 * Sorts keys[0..n) in ascending order, stably, applying the same
 * permutation to idx[0..n) when idx is not NULL: after the call idx[i] is
 * the payload that came with the i-th smallest key, and equal keys keep
 * their input order. Scratch memory (n keys, n indices, the digit
 * counters) is allocated and freed here; on SL_ENOMEM both arrays are as
 * they were.
 */
int sl__radix_sort_u64(uint64_t *keys, size_t *idx, size_t n);

#endif
