/*
 * The one hash map of sluice: an open-addressing index from keys to dense
 * ids (0, 1, 2 ... in the order the caller numbers its entries). String
 * dictionaries and interning tables, distinct values of a column, the
 * spec's name tables and the transforms' category maps all use it.
 *
 * The map holds no keys. The caller keeps its entries in arrays indexed by
 * id (a string arena, a column of 64-bit words ...) and answers "is entry
 * id equal to the key I am looking for?" through an equality callback. So
 * one map serves string keys, 64-bit keys and composite keys without
 * copying them, and a dictionary whose bytes are a file's layout can be
 * indexed in place.
 *
 *   slot = 0                         empty
 *   slot = (uint64_t)tag << 32 | (id + 1)
 *
 * Invariants:
 *  1. cap is 0 or a power of two, and at most half the slots are used, so
 *     a probe (linear, from slot tag & (cap - 1)) always ends at an empty
 *     slot, after about 1.5 slots on a hit and 2.5 on a miss.
 *  2. A slot keeps its key's 32-bit tag: a probe compares keys only when
 *     the tags agree (one memory access per miss), and growing moves slots
 *     by their tags without touching or rehashing a key.
 *  3. Ids are below SL__HMAP_MAX_IDS and chosen by the caller; the map only
 *     stores them. There is no delete: tables are built, then read (a
 *     caller that redefines a key updates what its entry holds).
 *
 * The tag is 32 bits of the key's 64-bit hash (sl__hmap_tag of sl__hash64,
 * normally); equal keys must have equal tags. The probing functions are
 * inline so that the equality callback, passed as a constant, is inlined
 * into the caller's loop: the CSV reader interns millions of strings.
 */
#ifndef SLUICE_HMAP_H
#define SLUICE_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define SL__HMAP_NONE UINT32_MAX
#define SL__HMAP_MAX_IDS ((size_t)UINT32_MAX - 1)

typedef struct sl__hmap {
	uint64_t *slots;
	size_t cap; /* slots: 0 or a power of two */
	size_t n;   /* ids held */
} sl__hmap;

/* Is the caller's entry id equal to the key being looked up (in ctx)? */
typedef bool (*sl__hmap_eq)(const void *ctx, uint32_t id);

void sl__hmap_init(sl__hmap *m);
/* Frees the slots and empties the map (accepts a zeroed map). */
void sl__hmap_free(sl__hmap *m);
/*
 * Makes room for `more` further ids without growing during the inserts.
 * SL_ENOMEM when the slots cannot be allocated (the map is unchanged) or
 * would exceed the address space, SL_ELIMIT past SL__HMAP_MAX_IDS.
 */
int sl__hmap_reserve(sl__hmap *m, size_t more);

/* Folds a 64-bit hash into the 32-bit tag the map keeps. */
static inline uint32_t sl__hmap_tag(uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32));
}

/*
 * Probes for the key whose tag is `tag`. Returns the id of the entry eq
 * accepts, or SL__HMAP_NONE; then, when out_pos is not NULL, *out_pos is
 * the empty slot where that key belongs (valid until the map next grows:
 * reserve first, then probe, then sl__hmap_put_at).
 */
static inline __attribute__((always_inline)) uint32_t
sl__hmap_probe(const sl__hmap *m, uint32_t tag, sl__hmap_eq eq, const void *ctx, size_t *out_pos)
{
	size_t mask, i;

	if (!m->cap)
		return SL__HMAP_NONE;
	mask = m->cap - 1;
	for (i = tag & mask;; i = (i + 1) & mask) {
		uint64_t s = m->slots[i];
		if (!s)
			break;
		if ((uint32_t)(s >> 32) == tag && eq(ctx, (uint32_t)s - 1))
			return (uint32_t)s - 1;
	}
	if (out_pos)
		*out_pos = i;
	return SL__HMAP_NONE;
}

/* The id of the key, or SL__HMAP_NONE. */
static inline __attribute__((always_inline)) uint32_t
sl__hmap_find(const sl__hmap *m, uint32_t tag, sl__hmap_eq eq, const void *ctx)
{
	return sl__hmap_probe(m, tag, eq, ctx, NULL);
}

/* Fills the empty slot pos that sl__hmap_probe gave for tag with id. */
static inline void sl__hmap_put_at(sl__hmap *m, size_t pos, uint32_t tag, uint32_t id)
{
	m->slots[pos] = (uint64_t)tag << 32 | ((uint64_t)id + 1);
	m->n++;
}

/*
 * Finds the key, or adds it with id new_id (which the caller then stores:
 * nothing can fail after this returns 0). *out_id is the key's id either
 * way; the return is 1 when it was found, 0 when added, or a negative
 * error from growing (the map unchanged).
 */
static inline __attribute__((always_inline)) int
sl__hmap_intern(sl__hmap *m, uint32_t tag, uint32_t new_id, sl__hmap_eq eq, const void *ctx,
		uint32_t *out_id)
{
	size_t pos = 0;
	uint32_t id;

	if ((m->n + 1) * 2 > m->cap) {
		int rc = sl__hmap_reserve(m, 1);
		if (rc)
			return SL__ERR_CODE(rc); /* negative: *out_id is set whenever 0 or 1 */
	}
	id = sl__hmap_probe(m, tag, eq, ctx, &pos);
	if (id != SL__HMAP_NONE) {
		*out_id = id;
		return 1;
	}
	sl__hmap_put_at(m, pos, tag, new_id);
	*out_id = new_id;
	return 0;
}

/*
 * Adds id under tag without looking for an equal key: for rebuilding an
 * index over entries known to be distinct. Room must have been reserved.
 */
void sl__hmap_add_distinct(sl__hmap *m, uint32_t tag, uint32_t id);

/* For loops that look many keys up: start loading tag's home slot. */
static inline void sl__hmap_prefetch(const sl__hmap *m, uint32_t tag)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[tag & (m->cap - 1)]);
}

/*
 * The id in tag's home slot when that slot holds tag (where most probes
 * end), else SL__HMAP_NONE: a hint for prefetching the entry itself, not a
 * lookup (the key is not compared).
 */
static inline uint32_t sl__hmap_home_id(const sl__hmap *m, uint32_t tag)
{
	uint64_t s;

	if (!m->cap)
		return SL__HMAP_NONE;
	s = m->slots[tag & (m->cap - 1)];
	return s && (uint32_t)(s >> 32) == tag ? (uint32_t)s - 1 : SL__HMAP_NONE;
}

#endif
