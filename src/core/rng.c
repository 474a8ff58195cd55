/*
 * xoshiro256** with splitmix64 seeding (see rng.h). Written out here rather
 * than taken from a library because every machine must produce the same
 * stream for a seed: a split or a model must not change with the platform.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include <time.h>

#include "rng.h"

uint64_t sl__splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sl__rng_seed(sl__rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = sl__splitmix64(&seed);
}

void sl__rng_stream(sl__rng *r, uint64_t seed, uint64_t k)
{
	/* Mixing the stream number through splitmix64 first keeps stream k
	 * of seed s from being stream k-1 of seed s+1. */
	uint64_t x = k ^ 0x6a09e667f3bcc909ull;
	uint64_t mixed = sl__splitmix64(&x);

	sl__rng_seed(r, seed ^ mixed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sl__rng_next(sl__rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/*
 * Draws below 2^64 mod bound are rejected, which leaves a multiple of bound
 * equally likely values.
 */
uint64_t sl__rng_below(sl__rng *r, uint64_t bound)
{
	uint64_t threshold = (0 - bound) % bound, x;

	SL__ASSERT(bound > 0);
	do
		x = sl__rng_next(r);
	while (x < threshold);
	return x % bound;
}

double sl__rng_uniform(sl__rng *r)
{
	return (double)(sl__rng_next(r) >> 11) * 0x1.0p-53;
}

double sl__rng_normal(sl__rng *r)
{
	double u, v, s;

	do {
		u = 2.0 * sl__rng_uniform(r) - 1.0;
		v = 2.0 * sl__rng_uniform(r) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	return u * sqrt(-2.0 * log(s) / s);
}

void sl__rng_shuffle(sl__rng *r, size_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)sl__rng_below(r, i);
		size_t t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

void sl__rng_sample(sl__rng *r, size_t n, size_t k, size_t *out)
{
	size_t got = 0;

	SL__ASSERT(k <= n);
	if (k <= 2048 && k * 16 < n) {
		/*
		 * Floyd's algorithm: k draws whatever n is. Membership is a
		 * linear scan of what was taken, which for k this small costs
		 * less than the O(n) pass below would.
		 */
		for (size_t j = n - k; j < n; j++) {
			size_t t = (size_t)sl__rng_below(r, j + 1), i;
			for (i = 0; i < got && out[i] != t; i++)
				;
			/* t taken already: j itself cannot be, so take it. */
			out[got] = i < got ? j : t;
			got++;
		}
		qsort(out, k, sizeof *out, cmp_size);
		return;
	}
	/*
	 * Selection sampling (Knuth's algorithm S): one pass over [0, n), each
	 * index taken with probability (needed / remaining). The result comes
	 * out sorted, which is what row subsampling wants for locality, and
	 * it needs no memory beyond out.
	 */
	for (size_t i = 0; i < n && got < k; i++) {
		if (sl__rng_below(r, n - i) < k - got)
			out[got++] = i;
	}
}

void sl__rng_backoff(sl__rng *r, unsigned *delay_us, unsigned first_us, unsigned max_us)
{
	struct timespec ts;
	unsigned d;

	if (*delay_us == 0)
		*delay_us = first_us ? first_us : 1;
	d = *delay_us / 2 + (unsigned)sl__rng_below(r, *delay_us / 2 + 1);
	ts.tv_sec = d / 1000000;
	ts.tv_nsec = (long)(d % 1000000) * 1000;
	nanosleep(&ts, NULL);
	if (*delay_us < max_us)
		*delay_us = *delay_us * 2 > max_us ? max_us : *delay_us * 2;
}
