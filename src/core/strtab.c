/*
 * The string -> index table (strtab.h): entries in insertion order in two
 * arrays, indexed by the core hash map under the XXH3 of the key's bytes.
 * Invariants: entry k's key is keys[k]; the map holds every entry once; a
 * key's later put replaces its value in place.
 */
#include <stdint.h>
#include <string.h>

#include "core.h"
#include "strtab.h"

typedef struct probe {
	const sl__strtab *t;
	const char *key;
} probe;

static bool same(const void *ctx, uint32_t id)
{
	const probe *p = ctx;

	return !strcmp(p->t->keys[id], p->key);
}

static uint32_t tag(const char *key)
{
	return sl__hmap_tag(sl__hash64(key, strlen(key)));
}

void sl__strtab_free(sl__strtab *t)
{
	sl__hmap_free(&t->idx);
	sl__free(t->keys);
	sl__free(t->vals);
	memset(t, 0, sizeof *t);
}

bool sl__strtab_get(const sl__strtab *t, const char *key, size_t *out)
{
	probe p = {t, key};
	uint32_t id = sl__hmap_find(&t->idx, tag(key), same, &p);

	if (id == SL__HMAP_NONE)
		return false;
	if (out)
		*out = t->vals[id];
	return true;
}

int sl__strtab_put(sl__strtab *t, const char *key, size_t val, size_t *out_old)
{
	probe p = {t, key};
	uint32_t h = tag(key), id;
	size_t pos = 0;

	if (sl__hmap_reserve(&t->idx, 1))
		return SL_ENOMEM;
	id = sl__hmap_probe(&t->idx, h, same, &p, &pos);
	if (id != SL__HMAP_NONE) {
		if (out_old)
			*out_old = t->vals[id];
		t->vals[id] = val;
		return 1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		const char **keys = sl__reallocarray(t->keys, cap, sizeof *keys);
		if (!keys)
			return SL_ENOMEM;
		t->keys = keys;
		size_t *vals = sl__reallocarray(t->vals, cap, sizeof *vals);
		if (!vals)
			return SL_ENOMEM;
		t->vals = vals;
		t->cap = cap;
	}
	t->keys[t->n] = key;
	t->vals[t->n] = val;
	sl__hmap_put_at(&t->idx, pos, h, (uint32_t)t->n++);
	return 0;
}
