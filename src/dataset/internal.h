/*
 * Structures shared by the files of the dataset engine and nothing else:
 * the string dictionary, the builder's columns and the table's view of a
 * file image. Code outside src/dataset/ uses dataset.h only.
 */
#ifndef SLUICE_DATASET_INTERNAL_H
#define SLUICE_DATASET_INTERNAL_H

#include "core.h"
#include "dataset/dataset.h"

/*
 * An interning string dictionary: entry k is bytes[offs[k] .. offs[k+1]-1),
 * followed by a NUL at offs[k+1]-1, so offs[n] == len and the byte blob is
 * exactly the on-disk dictionary section. Lookups go through an open
 * addressing table of code+1 (0 = empty) with linear probing, kept at most
 * half full; each entry's 32-bit hash is kept so that growing never rehashes
 * strings and most mismatches cost one compare.
 */
typedef struct ds_dict {
	char *bytes;
	size_t len, cap;
	uint64_t *offs; /* n + 1 entries once anything is interned */
	uint32_t *hashes;
	size_t n, ncap;
	uint32_t *slots;
	size_t nslots; /* a power of two, or 0 */
} ds_dict;

#define DS_DICT_MAX ((size_t)UINT32_MAX - 1)

void ds_dict_init(ds_dict *d);
void ds_dict_free(ds_dict *d);
/* The code of s, adding it when new. */
int ds_dict_intern(ds_dict *d, const char *s, size_t len, uint32_t *out_code);
/* Same with a precomputed ds_hash64(s, len, 0). */
int ds_dict_intern_h(ds_dict *d, const char *s, size_t len, uint64_t h, uint32_t *out_code);

static inline const char *ds_dict_entry(const ds_dict *d, uint32_t code, size_t *out_len)
{
	*out_len = (size_t)(d->offs[code + 1] - d->offs[code] - 1);
	return d->bytes + d->offs[code];
}

typedef struct ds_bcol {
	char *name;
	ds_type type;
	size_t len, cap; /* rows */
	void *data;      /* cap * width bytes */
	uint8_t *valid;  /* NULL until the first null, then cap bits */
	size_t nulls;
	ds_dict dict;
} ds_bcol;

struct ds_builder {
	ds_bcol *cols;
	size_t n, cap;
};

/* Bitmap helpers. */
static inline void ds_bit_set(uint8_t *bm, size_t i)
{
	bm[i >> 3] = (uint8_t)(bm[i >> 3] | (1u << (i & 7)));
}

static inline void ds_bit_clear(uint8_t *bm, size_t i)
{
	bm[i >> 3] = (uint8_t)(bm[i >> 3] & ~(1u << (i & 7)));
}

static inline bool ds_bit_get(const uint8_t *bm, size_t i)
{
	return (bm[i >> 3] >> (i & 7)) & 1;
}

/* Copies n bits from src (starting at bit 0) to dst starting at bit at. */
void ds_bits_copy(uint8_t *dst, size_t at, const uint8_t *src, size_t n);

/* format.c: serialises a builder into a file image. */
int ds_format_write(const ds_builder *b, const char *path);
int ds_format_image(const ds_builder *b, uint8_t **out_image, size_t *out_size);
/* format.c: a table over a heap image (takes ownership of image). */
int ds_table_from_image(uint8_t *image, size_t size, const char *name, ds_table **out_t);

#endif
