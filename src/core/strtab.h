/*
 * A string -> index table: borrowed C-string keys mapped to size_t values,
 * over the core hash map (hmap.h). Keys are borrowed: they must outlive the
 * table (the callers key it by names that live in the structure the table
 * indexes). Used where a parser must not be quadratic in hostile input:
 * YAML anchors and duplicate keys, pipeline step and parameter names.
 */
#ifndef SLUICE_STRTAB_H
#define SLUICE_STRTAB_H

#include <stdbool.h>
#include <stddef.h>

#include "hmap.h"

typedef struct sl__strtab {
	sl__hmap idx;      /* key -> entry */
	const char **keys; /* per entry, borrowed */
	size_t *vals;      /* per entry */
	size_t n, cap;     /* entries, room */
} sl__strtab;

/* A zeroed table is empty and ready; free releases the arrays (not the keys). */
void sl__strtab_free(sl__strtab *t);
/* True when key is present; *out (may be NULL) receives its value. */
bool sl__strtab_get(const sl__strtab *t, const char *key, size_t *out);
/*
 * Sets key to val. Returns 1 when the key was present (its value is
 * replaced and *out_old, which may be NULL, receives the previous one), 0
 * when added, SL_ENOMEM when the table could not grow.
 */
int sl__strtab_put(sl__strtab *t, const char *key, size_t val, size_t *out_old);

#endif
