/*
 * LSD radix sort of 64-bit keys with an optional index payload (see
 * sort.h).
 *
 * Six passes of 11-bit digits cover the key. One read of the keys counts
 * all six digit histograms; a pass whose digit is the same in every key
 * leaves the order as it is and is skipped (the high digits of most
 * columns: small integers, doubles of one sign and magnitude). Each pass
 * scatters front to back from one buffer into the other, which is what
 * makes the sort stable. Short inputs take an insertion sort instead,
 * whose cost undercuts clearing 6 x 2048 counters.
 */
#include <stdbool.h>

#include "core.h"
#include "sort.h"

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES 6 /* ceil(64 / 11) */
#define SMALL_N 64

_Static_assert(RADIX_BITS * RADIX_PASSES >= 64, "the passes cover the key");

static void insertion_sort(uint64_t *keys, size_t *idx, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint64_t k = keys[i];
		size_t x = idx ? idx[i] : 0, j = i;
		/* Strictly greater moves right: equal keys keep their order. */
		for (; j > 0 && keys[j - 1] > k; j--) {
			keys[j] = keys[j - 1];
			if (idx)
				idx[j] = idx[j - 1];
		}
		keys[j] = k;
		if (idx)
			idx[j] = x;
	}
}

int sl__radix_sort_u64(uint64_t *keys, size_t *idx, size_t n)
{
	size_t (*count)[RADIX_SIZE];
	uint64_t *tk, *src, *dst;
	size_t *ti = NULL, *isrc = idx, *idst;

	if (n < SMALL_N) {
		insertion_sort(keys, idx, n);
		return 0;
	}
	count = sl__calloc(RADIX_PASSES, sizeof *count);
	tk = sl__reallocarray(NULL, n, sizeof *tk);
	if (idx)
		ti = sl__reallocarray(NULL, n, sizeof *ti);
	if (!count || !tk || (idx && !ti)) {
		sl__free(count);
		sl__free(tk);
		sl__free(ti);
		return sl__oom();
	}
	for (size_t i = 0; i < n; i++)
		for (unsigned p = 0; p < RADIX_PASSES; p++)
			count[p][(keys[i] >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
	src = keys;
	dst = tk;
	idst = ti;
	for (unsigned p = 0; p < RADIX_PASSES; p++) {
		unsigned shift = p * RADIX_BITS;
		size_t *c = count[p], sum = 0;

		if (c[(src[0] >> shift) & (RADIX_SIZE - 1)] == n)
			continue;
		for (size_t d = 0; d < RADIX_SIZE; d++) {
			size_t here = c[d];
			c[d] = sum;
			sum += here;
		}
		if (idx) {
			for (size_t i = 0; i < n; i++) {
				size_t at = c[(src[i] >> shift) & (RADIX_SIZE - 1)]++;
				dst[at] = src[i];
				idst[at] = isrc[i];
			}
			size_t *t = isrc;
			isrc = idst;
			idst = t;
		} else {
			for (size_t i = 0; i < n; i++)
				dst[c[(src[i] >> shift) & (RADIX_SIZE - 1)]++] = src[i];
		}
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != keys) {
		memcpy(keys, src, n * sizeof *keys);
		if (idx)
			memcpy(idx, isrc, n * sizeof *idx);
	}
	sl__free(count);
	sl__free(tk);
	sl__free(ti);
	return 0;
}
