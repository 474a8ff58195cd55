/*
 * Structures shared by the files of the dataset engine and nothing else:
 * the string dictionary, the builder's columns and the table's view of a
 * file image. Code outside src/dataset/ uses dataset.h only.
 */
#ifndef SLUICE_DATASET_INTERNAL_H
#define SLUICE_DATASET_INTERNAL_H

#include "core.h"
#include "dataset/dataset.h"
#include "hmap.h"

/*
 * An interning string dictionary: entry k is bytes[offs[k] .. offs[k+1]-1),
 * followed by a NUL at offs[k+1]-1, so offs[n] == len and the byte blob is
 * exactly the on-disk dictionary section. Lookups go through the core hash
 * map (hmap.h) over the entries, whose tags (32 bits of sl__hash64 of the
 * string) are kept per entry: merging one dictionary into another and
 * rebuilding a dropped index never hash a string again.
 */
typedef struct ds_dict {
	char *bytes;
	size_t len, cap;
	uint64_t *offs; /* n + 1 entries once anything is interned */
	uint32_t *hashes; /* per entry: its hmap tag */
	size_t n, ncap;
	sl__hmap idx; /* entry codes; covers every entry unless dropped (idx.n < n) */
} ds_dict;

#define DS_DICT_MAX ((size_t)UINT32_MAX - 1)

void ds_dict_init(ds_dict *d);
void ds_dict_free(ds_dict *d);
/*
 * Frees the lookup table (half the dictionary's overhead) once no more
 * interning is expected; the next intern rebuilds it.
 */
void ds_dict_drop_index(ds_dict *d);
/* Makes room for entries more entries of bytes more bytes (NULs included). */
int ds_dict_reserve(ds_dict *d, size_t entries, size_t bytes);
/* Same, without sizing the lookup table. */
int ds_dict_reserve_storage(ds_dict *d, size_t entries, size_t bytes);
/* The code of s, adding it when new. */
int ds_dict_intern(ds_dict *d, const char *s, size_t len, uint32_t *out_code);
/* Same with a precomputed sl__hash64(s, len). */
int ds_dict_intern_h(ds_dict *d, const char *s, size_t len, uint64_t h, uint32_t *out_code);
/* Same with the 32-bit entry hash another dictionary stored (d->hashes[k]). */
int ds_dict_intern_h32(ds_dict *d, const char *s, size_t len, uint32_t h, uint32_t *out_code);
/*
 * Adds s (hash as for ds_dict_intern_h) as a new entry without looking it
 * up, and drops the lookup table: the dictionary may then hold duplicates,
 * so it is only a list of strings with their hashes (a CSV chunk's column
 * of mostly distinct values, interned into the column's dictionary later).
 * Interning into it again is not allowed.
 */
int ds_dict_append_h(ds_dict *d, const char *s, size_t len, uint64_t h64, uint32_t *out_code);

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

/*
 * Gives an empty column its contents: n values in data (width of the type,
 * allocated with sl__malloc), a validity bitmap of n bits with the bits past
 * n clear (or NULL), the null count, and for a string column its dictionary
 * (moved out of *dict). Ownership passes to the builder, even on failure.
 */
int ds_builder_adopt(ds_builder *b, size_t j, void *data, size_t n, uint8_t *valid, size_t nulls,
		     ds_dict *dict);

/* ds_append_coded from a ds_dict, reusing its stored hashes. */
int ds_append_dict(ds_builder *b, size_t j, const ds_dict *d, const uint32_t *codes,
		   const uint8_t *validity, size_t n);

/* ---- encodings (transcode.c) ---- */

/*
 * Transcodes data[0..len) from enc to UTF-8 into *out (sl__malloc'd, owned
 * by the caller), *out_len bytes. A byte the encoding does not define is
 * SL_EPARSE naming name:line:col (of the UTF-8 text) and the byte's offset.
 */
int ds_transcode(const char *name, const char *data, size_t len, const char *enc, char **out,
		 size_t *out_len);

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

/*
 * format.c: a dataset written column by column (see the layout there).
 * ds_stream_open takes the shape: names, types and null counts (a column
 * has a validity section when its count is non-zero); path NULL builds an
 * in-memory image instead of a file. ds_stream_column writes column j
 * (valid may be NULL when it has no nulls); different columns may be
 * written from different threads at once. Image mode keeps the pointers
 * until the end. ds_stream_finish takes each string column's dictionary
 * (dicts[j]; others ignored), writes the rest, commits the file (fsync,
 * rename) or returns the image, and frees the stream either way.
 * ds_stream_abort discards it (accepts NULL).
 */
typedef struct ds_stream ds_stream;

int ds_stream_open(const char *path, size_t nrows, size_t ncols, const char *const *names,
		   const ds_type *types, const size_t *nulls, ds_stream **out_s);
int ds_stream_column(ds_stream *s, size_t j, const uint8_t *valid, const void *data);
int ds_stream_finish(ds_stream *s, const ds_dict *const *dicts, uint8_t **out_image,
		     size_t *out_size);
void ds_stream_abort(ds_stream *s);

/* format.c: serialises a builder into a file image. */
int ds_format_write(const ds_builder *b, const char *path);
int ds_format_image(const ds_builder *b, uint8_t **out_image, size_t *out_size);
/* format.c: a table over a heap image (takes ownership of image). */
int ds_table_from_image(uint8_t *image, size_t size, const char *name, ds_table **out_t);

#endif
