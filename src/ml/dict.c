/*
 * Dictionary indexes (ml.h): a feature's categories sorted by their bytes,
 * searched by bisection. Sorting once costs O(n log n); each lookup then
 * compares a handful of strings, which is what coding a table column or a
 * request's fields needs.
 */
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

typedef struct entry {
	const char *s;
	size_t len;
	uint32_t code;
} entry;

struct ml_dict_index {
	entry *e;
	size_t n;
};

static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);

	return c ? c : (na > nb) - (na < nb);
}

static int cmp_entry(const void *a, const void *b)
{
	const entry *x = a, *y = b;

	return cmp_bytes(x->s, x->len, y->s, y->len);
}

int ml_dict_index_build(const ml_feature *f, ml_dict_index **out)
{
	ml_dict_index *ix = sl__calloc(1, sizeof *ix);

	*out = NULL;
	if (!ix || !(ix->e = sl__calloc(f->n_dict ? f->n_dict : 1, sizeof *ix->e))) {
		sl__free(ix);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (uint32_t k = 0; k < f->n_dict; k++) {
		ix->e[k].s = f->dict[k];
		ix->e[k].len = strlen(f->dict[k]);
		ix->e[k].code = k;
	}
	ix->n = f->n_dict;
	qsort(ix->e, ix->n, sizeof *ix->e, cmp_entry);
	*out = ix;
	return 0;
}

long ml_dict_index_find(const ml_dict_index *ix, const char *s, size_t len)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_bytes(ix->e[mid].s, ix->e[mid].len, s, len);
		if (c == 0)
			return (long)ix->e[mid].code;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void ml_dict_index_free(ml_dict_index *ix)
{
	if (!ix)
		return;
	sl__free(ix->e);
	sl__free(ix);
}
