/*
 * Dictionary indexes (ml.h): a feature's categories in the core hash map
 * (hmap.h), keyed by the XXH3 of their bytes, so coding a table column or
 * a request's fields costs one probe per value. The map borrows the
 * feature's strings; their lengths are kept beside them so a probe
 * compares lengths before bytes.
 *
 * Invariant: code k is the feature's dict[k]; when the dictionary repeats
 * a string (a damaged model file), the first code wins.
 */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "ml/ml.h"

struct ml_dict_index {
	sl__hmap idx;
	const char *const *s; /* the feature's dictionary, borrowed */
	size_t *len;
};

typedef struct probe {
	const ml_dict_index *ix;
	const char *s;
	size_t len;
} probe;

static bool same(const void *ctx, uint32_t code)
{
	const probe *p = ctx;

	return p->ix->len[code] == p->len && !memcmp(p->ix->s[code], p->s, p->len);
}

static uint32_t tag(const char *s, size_t len)
{
	return sl__hmap_tag(sl__hash64(s, len));
}

int ml_dict_index_build(const ml_feature *f, ml_dict_index **out)
{
	ml_dict_index *ix = sl__calloc(1, sizeof *ix);
	int rc;

	*out = NULL;
	if (!ix)
		return sl__oom();
	sl__hmap_init(&ix->idx);
	ix->s = (const char *const *)f->dict;
	ix->len = sl__calloc(f->n_dict ? f->n_dict : 1, sizeof *ix->len);
	if (!ix->len) {
		ml_dict_index_free(ix);
		return sl__oom();
	}
	if ((rc = sl__hmap_reserve(&ix->idx, f->n_dict))) {
		ml_dict_index_free(ix);
		return rc;
	}
	for (uint32_t k = 0; k < f->n_dict; k++) {
		probe p = {ix, f->dict[k], strlen(f->dict[k])};
		uint32_t code;
		ix->len[k] = p.len;
		/* Room was reserved: this cannot fail. */
		(void)sl__hmap_intern(&ix->idx, tag(p.s, p.len), k, same, &p, &code);
	}
	*out = ix;
	return 0;
}

long ml_dict_index_find(const ml_dict_index *ix, const char *s, size_t len)
{
	probe p = {ix, s, len};
	uint32_t code = sl__hmap_find(&ix->idx, tag(s, len), same, &p);

	return code == SL__HMAP_NONE ? -1 : (long)code;
}

void ml_dict_index_free(ml_dict_index *ix)
{
	if (!ix)
		return;
	sl__hmap_free(&ix->idx);
	sl__free(ix->len);
	sl__free(ix);
}
