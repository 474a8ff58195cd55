/*
 * Growing the hash map's slot table (see hmap.h; probing is inline there).
 *
 * Growth doubles the table until it is at most half full. Slots move by
 * the tag they carry (invariant 2), so no key is read or hashed again and
 * a dictionary of long strings grows at the cost of its slot array only.
 */
#include <string.h>

#include "core.h"
#include "hmap.h"

#define HMAP_MIN_CAP 64

void sl__hmap_init(sl__hmap *m)
{
	memset(m, 0, sizeof *m);
}

void sl__hmap_free(sl__hmap *m)
{
	sl__free(m->slots);
	sl__hmap_init(m);
}

/* Moves every slot into a new table of cap slots (a power of two). */
static int rehash(sl__hmap *m, size_t cap)
{
	size_t mask = cap - 1;
	uint64_t *slots;

	if (cap > SIZE_MAX / sizeof *slots)
		return sl__oom();
	/* malloc + memset rather than calloc: calloc leaves fresh pages mapped
	 * to the shared zero page, and probes read before they write, so every
	 * page would take a second (copy-on-write) fault. */
	slots = sl__malloc(cap * sizeof *slots);
	if (!slots)
		return sl__oom();
	sl__advise_huge(slots, cap * sizeof *slots); /* random probes: fewer TLB misses */
	memset(slots, 0, cap * sizeof *slots);
	for (size_t k = 0; k < m->cap; k++) {
		uint64_t s = m->slots[k];
		size_t i;
		if (!s)
			continue;
		for (i = (uint32_t)(s >> 32) & mask; slots[i]; i = (i + 1) & mask)
			;
		slots[i] = s;
	}
	sl__free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int sl__hmap_reserve(sl__hmap *m, size_t more)
{
	size_t want, cap = m->cap ? m->cap : HMAP_MIN_CAP;

	if (more > SL__HMAP_MAX_IDS - m->n)
		return sl__err(SL_ELIMIT, "more than %zu entries in a hash map", SL__HMAP_MAX_IDS);
	want = m->n + more;
	while (cap / 2 < want) {
		if (cap > SIZE_MAX / 2)
			return sl__oom();
		cap *= 2;
	}
	return cap > m->cap ? rehash(m, cap) : 0;
}

void sl__hmap_add_distinct(sl__hmap *m, uint32_t tag, uint32_t id)
{
	size_t mask = m->cap - 1, i;

	SL__ASSERT(m->cap && (m->n + 1) * 2 <= m->cap);
	for (i = tag & mask; m->slots[i]; i = (i + 1) & mask)
		;
	sl__hmap_put_at(m, i, tag, id);
}
