/*
 * The string -> index table (strtab.h). Invariants: cap is 0 or a power of
 * two; n * 4 <= cap * 3 after every put, so a probe always ends at an empty
 * slot; every key sits in the probe run starting at its hash.
 */
#include <stdint.h>
#include <string.h>

#include "core.h"
#include "strtab.h"

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void sl__strtab_free(sl__strtab *t)
{
	sl__free(t->keys);
	sl__free(t->vals);
	memset(t, 0, sizeof *t);
}

static int grow(sl__strtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	const char **keys;
	size_t *vals;

	if (cap > SIZE_MAX / sizeof *vals / 2)
		return SL_ENOMEM;
	keys = sl__calloc(cap, sizeof *keys);
	vals = sl__calloc(cap, sizeof *vals);
	if (!keys || !vals) {
		sl__free(keys);
		sl__free(vals);
		return SL_ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->keys[i])
			continue;
		size_t j = (size_t)str_hash(t->keys[i]) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = t->keys[i];
		vals[j] = t->vals[i];
	}
	sl__free(t->keys);
	sl__free(t->vals);
	t->keys = keys;
	t->vals = vals;
	t->cap = cap;
	return 0;
}

bool sl__strtab_get(const sl__strtab *t, const char *key, size_t *out)
{
	if (!t->cap)
		return false;
	for (size_t j = (size_t)str_hash(key) & (t->cap - 1); t->keys[j]; j = (j + 1) & (t->cap - 1)) {
		if (!strcmp(t->keys[j], key)) {
			if (out)
				*out = t->vals[j];
			return true;
		}
	}
	return false;
}

int sl__strtab_put(sl__strtab *t, const char *key, size_t val, size_t *out_old)
{
	size_t j;

	if ((t->n + 1) * 4 > t->cap * 3 && grow(t))
		return SL_ENOMEM;
	for (j = (size_t)str_hash(key) & (t->cap - 1); t->keys[j]; j = (j + 1) & (t->cap - 1)) {
		if (!strcmp(t->keys[j], key)) {
			if (out_old)
				*out_old = t->vals[j];
			t->vals[j] = val;
			return 1;
		}
	}
	t->keys[j] = key;
	t->vals[j] = val;
	t->n++;
	return 0;
}
