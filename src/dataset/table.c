/*
 * The write side of the dataset engine: the builder that columns are
 * appended to and the string dictionary it interns into (indexed by the
 * core hash map, hmap.h, over XXH3 tags).
 *
 * Invariants kept by every append:
 *   1. A column's value array has room for cap rows; rows [0, len) hold
 *      values, and a null row's slot holds zero.
 *   2. valid is NULL while the column has no null; the first null allocates
 *      it with bits [0, len) set, after which every append sets or clears its
 *      bit. nulls counts the clear bits.
 *   3. A string column's codes index its dictionary, whose entries are in
 *      order of first appearance. Null rows use code 0 and add nothing.
 */
#include <math.h>
#include <string.h>

#include "dataset/internal.h"

/* ---- types ------------------------------------------------------------------ */

const char *ds_type_name(ds_type t)
{
	switch (t) {
	case DS_INT64: return "int64";
	case DS_FLOAT64: return "float64";
	case DS_BOOL: return "bool";
	case DS_STRING: return "string";
	case DS_TIMESTAMP: return "timestamp";
	}
	return "?";
}

bool ds_type_parse(const char *name, ds_type *out)
{
	static const struct {
		const char *name;
		ds_type type;
	} names[] = {
		{"int", DS_INT64}, {"int64", DS_INT64}, {"integer", DS_INT64},
		{"float", DS_FLOAT64}, {"float64", DS_FLOAT64}, {"double", DS_FLOAT64},
		{"number", DS_FLOAT64}, {"bool", DS_BOOL}, {"boolean", DS_BOOL},
		{"string", DS_STRING}, {"str", DS_STRING}, {"text", DS_STRING},
		{"timestamp", DS_TIMESTAMP}, {"datetime", DS_TIMESTAMP},
	};

	for (size_t i = 0; i < SL__ARRAY_LEN(names); i++) {
		if (!strcmp(name, names[i].name)) {
			*out = names[i].type;
			return true;
		}
	}
	return false;
}

size_t ds_type_width(ds_type t)
{
	switch (t) {
	case DS_BOOL: return 1;
	case DS_STRING: return 4;
	default: return 8;
	}
}

bool ds_on_error_parse(const char *s, ds_on_error *out)
{
	if (!strcmp(s, "fail"))
		*out = DS_ON_ERROR_FAIL;
	else if (!strcmp(s, "skip"))
		*out = DS_ON_ERROR_SKIP;
	else if (!strcmp(s, "quarantine"))
		*out = DS_ON_ERROR_QUARANTINE;
	else
		return false;
	return true;
}

/* ---- dictionary ------------------------------------------------------------- */

void ds_dict_init(ds_dict *d)
{
	memset(d, 0, sizeof *d);
}

void ds_dict_free(ds_dict *d)
{
	sl__free(d->bytes);
	sl__free(d->offs);
	sl__free(d->hashes);
	sl__hmap_free(&d->idx);
	ds_dict_init(d);
}

/*
 * Equality of two byte strings of length n. Short keys (the common case in
 * a dictionary) are compared with overlapping word loads inside [0, n)
 * instead of a call to memcmp.
 */
static inline bool bytes_eq(const char *a, const char *b, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t a0, b0, a1, b1;
		memcpy(&a0, a, 8);
		memcpy(&b0, b, 8);
		memcpy(&a1, a + n - 8, 8);
		memcpy(&b1, b + n - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	if (n >= 4 && n < 8) {
		uint32_t a0, b0, a1, b1;
		memcpy(&a0, a, 4);
		memcpy(&b0, b, 4);
		memcpy(&a1, a + n - 4, 4);
		memcpy(&b1, b + n - 4, 4);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	return memcmp(a, b, n) == 0;
}

/* The key a probe compares entries with. */
typedef struct dict_key {
	const ds_dict *d;
	const char *s;
	size_t len;
} dict_key;

static inline bool dict_eq(const void *ctx, uint32_t id)
{
	const dict_key *k = ctx;
	const ds_dict *d = k->d;

	return d->offs[id + 1] - d->offs[id] - 1 == k->len && bytes_eq(d->bytes + d->offs[id], k->s, k->len);
}

/*
 * Makes the index cover every entry with room for `more` new ones. After
 * ds_dict_drop_index (or ds_dict_append_h) it is rebuilt from the stored
 * tags, at the size it needs, without hashing a string.
 */
static int dict_index(ds_dict *d, size_t more)
{
	int rc;

	if (d->idx.n == d->n)
		return sl__hmap_reserve(&d->idx, more);
	sl__hmap_free(&d->idx);
	if ((rc = sl__hmap_reserve(&d->idx, d->n + more)))
		return rc;
	for (size_t k = 0; k < d->n; k++)
		sl__hmap_add_distinct(&d->idx, d->hashes[k], (uint32_t)k);
	return 0;
}

void ds_dict_drop_index(ds_dict *d)
{
	sl__hmap_free(&d->idx);
}

int ds_dict_reserve_storage(ds_dict *d, size_t entries, size_t bytes)
{
	if (entries > DS_DICT_MAX || bytes > SIZE_MAX / 2)
		return sl__err(SL_ELIMIT, "dictionary too large");
	if (d->n + entries + 2 > d->ncap) {
		size_t nc = d->n + entries + 2;
		uint64_t *offs = sl__reallocarray(d->offs, nc, sizeof *offs);
		if (!offs)
			return sl__err(SL_ENOMEM, "out of memory");
		if (!d->offs)
			offs[0] = 0;
		d->offs = offs;
		uint32_t *hs = sl__reallocarray(d->hashes, nc, sizeof *hs);
		if (!hs)
			return sl__err(SL_ENOMEM, "out of memory");
		d->hashes = hs;
		d->ncap = nc;
	}
	if (bytes > d->cap - d->len) {
		char *nb = sl__realloc(d->bytes, d->len + bytes);
		if (!nb)
			return sl__err(SL_ENOMEM, "out of memory");
		d->bytes = nb;
		d->cap = d->len + bytes;
	}
	return 0;
}

int ds_dict_reserve(ds_dict *d, size_t entries, size_t bytes)
{
	if (entries > DS_DICT_MAX || bytes > SIZE_MAX / 2)
		return sl__err(SL_ELIMIT, "dictionary too large");
	if (dict_index(d, entries))
		return SL_ENOMEM;
	return ds_dict_reserve_storage(d, entries, bytes);
}

/* Stores s as entry d->n (the caller has checked that it is new). */
static inline int dict_store(ds_dict *d, const char *s, size_t len, uint32_t h)
{
	if (d->n >= DS_DICT_MAX)
		return sl__err(SL_ELIMIT, "more than %zu distinct strings in a column", DS_DICT_MAX);
	if (d->n + 2 > d->ncap) {
		size_t nc = d->ncap ? d->ncap * 2 : 64;
		uint64_t *offs = sl__reallocarray(d->offs, nc, sizeof *offs);
		if (!offs)
			return sl__err(SL_ENOMEM, "out of memory growing a dictionary");
		d->offs = offs;
		uint32_t *hs = sl__reallocarray(d->hashes, nc, sizeof *hs);
		if (!hs)
			return sl__err(SL_ENOMEM, "out of memory growing a dictionary");
		d->hashes = hs;
		d->ncap = nc;
		if (d->n == 0)
			d->offs[0] = 0;
	}
	if (len + 1 > d->cap - d->len) {
		size_t nc = d->cap ? d->cap : 256;
		while (nc - d->len < len + 1) {
			if (nc > SIZE_MAX / 2)
				return sl__err(SL_ENOMEM, "dictionary too large");
			nc *= 2;
		}
		char *bytes = sl__realloc(d->bytes, nc);
		if (!bytes)
			return sl__err(SL_ENOMEM, "out of memory growing a dictionary");
		d->bytes = bytes;
		d->cap = nc;
	}
	if (len)
		memcpy(d->bytes + d->len, s, len);
	d->bytes[d->len + len] = '\0';
	d->len += len + 1;
	d->hashes[d->n] = h;
	d->offs[d->n + 1] = d->len;
	return 0;
}

int ds_dict_intern_h32(ds_dict *d, const char *s, size_t len, uint32_t h, uint32_t *out_code)
{
	dict_key key = {d, s, len};
	size_t pos = 0;
	uint32_t code;
	int rc;

	if ((d->idx.n + 1) * 2 > d->idx.cap || d->idx.n != d->n) {
		if (dict_index(d, 1))
			return SL_ENOMEM;
	}
	code = sl__hmap_probe(&d->idx, h, dict_eq, &key, &pos);
	if (code != SL__HMAP_NONE) {
		*out_code = code;
		return 0;
	}
	if ((rc = dict_store(d, s, len, h)))
		return rc;
	sl__hmap_put_at(&d->idx, pos, h, (uint32_t)d->n);
	*out_code = (uint32_t)d->n;
	d->n++;
	return 0;
}

int ds_dict_append_h(ds_dict *d, const char *s, size_t len, uint64_t h64, uint32_t *out_code)
{
	int rc;

	if (d->idx.cap)
		ds_dict_drop_index(d);
	if ((rc = dict_store(d, s, len, sl__hmap_tag(h64))))
		return rc;
	*out_code = (uint32_t)d->n;
	d->n++;
	return 0;
}

int ds_dict_intern_h(ds_dict *d, const char *s, size_t len, uint64_t h64, uint32_t *out_code)
{
	return ds_dict_intern_h32(d, s, len, sl__hmap_tag(h64), out_code);
}

int ds_dict_intern(ds_dict *d, const char *s, size_t len, uint32_t *out_code)
{
	return ds_dict_intern_h(d, s, len, sl__hash64(s, len), out_code);
}

/* ---- bitmaps ---------------------------------------------------------------- */

void ds_bits_copy(uint8_t *dst, size_t at, const uint8_t *src, size_t n)
{
	size_t k = 0;

	if ((at & 7) == 0) {
		size_t bytes = n / 8;
		memcpy(dst + at / 8, src, bytes);
		k = bytes * 8;
	}
	for (; k < n; k++) {
		if (ds_bit_get(src, k))
			ds_bit_set(dst, at + k);
		else
			ds_bit_clear(dst, at + k);
	}
}

/* ---- builder ---------------------------------------------------------------- */

int ds_builder_new(ds_builder **out_b)
{
	ds_builder *b = sl__calloc(1, sizeof *b);

	*out_b = b;
	return b ? 0 : sl__err(SL_ENOMEM, "out of memory");
}

static void bcol_free(ds_bcol *c)
{
	sl__free(c->name);
	sl__free(c->data);
	sl__free(c->valid);
	ds_dict_free(&c->dict);
}

void ds_builder_free(ds_builder *b)
{
	if (!b)
		return;
	for (size_t j = 0; j < b->n; j++)
		bcol_free(&b->cols[j]);
	sl__free(b->cols);
	sl__free(b);
}

int ds_builder_add_col(ds_builder *b, const char *name, ds_type type, size_t *out_j)
{
	ds_bcol *c;

	if (type < DS_INT64 || type > DS_TYPE_MAX)
		return sl__err(SL_EINVAL, "column '%s': bad type %d", name, (int)type);
	if (!*name || sl__utf8_check(name, strlen(name)) != strlen(name))
		return sl__err(SL_EINVAL, "column names must be non-empty UTF-8");
	for (size_t j = 0; j < b->n; j++)
		if (!strcmp(b->cols[j].name, name))
			return sl__err(SL_EEXIST, "duplicate column name '%s'", name);
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		ds_bcol *cols = sl__reallocarray(b->cols, nc, sizeof *cols);
		if (!cols)
			return sl__err(SL_ENOMEM, "out of memory");
		b->cols = cols;
		b->cap = nc;
	}
	c = &b->cols[b->n];
	memset(c, 0, sizeof *c);
	c->name = sl__strdup(name);
	if (!c->name)
		return sl__err(SL_ENOMEM, "out of memory");
	c->type = type;
	ds_dict_init(&c->dict);
	if (out_j)
		*out_j = b->n;
	b->n++;
	return 0;
}

size_t ds_builder_ncol(const ds_builder *b)
{
	return b->n;
}

size_t ds_builder_col_len(const ds_builder *b, size_t j)
{
	return b->cols[j].len;
}

/* Makes room for extra more rows in column c. */
static int col_reserve(ds_bcol *c, size_t extra)
{
	size_t need, nc, w = ds_type_width(c->type);

	if (extra > SIZE_MAX / 16 - c->len)
		return sl__err(SL_ENOMEM, "column '%s' too long", c->name);
	need = c->len + extra;
	if (need <= c->cap)
		return 0;
	nc = c->cap ? c->cap : 256;
	while (nc < need)
		nc *= 2;
	void *data = sl__reallocarray(c->data, nc, w);
	if (!data)
		return sl__err(SL_ENOMEM, "out of memory growing column '%s'", c->name);
	c->data = data;
	sl__advise_huge(data, nc * w);
	if (c->valid) {
		uint8_t *v = sl__realloc(c->valid, (nc + 7) / 8);
		if (!v)
			return sl__err(SL_ENOMEM, "out of memory growing column '%s'", c->name);
		memset(v + (c->cap + 7) / 8, 0, (nc + 7) / 8 - (c->cap + 7) / 8);
		c->valid = v;
	}
	c->cap = nc;
	return 0;
}

/* Allocates the validity bitmap with rows [0, len) valid (invariant 2). */
static int col_need_valid(ds_bcol *c)
{
	size_t bytes = (c->cap + 7) / 8;

	if (c->valid)
		return 0;
	c->valid = sl__calloc(bytes ? bytes : 1, 1);
	if (!c->valid)
		return sl__err(SL_ENOMEM, "out of memory");
	memset(c->valid, 0xff, c->len / 8);
	for (size_t i = c->len / 8 * 8; i < c->len; i++)
		ds_bit_set(c->valid, i);
	return 0;
}

int ds_builder_reserve(ds_builder *b, size_t n)
{
	for (size_t j = 0; j < b->n; j++) {
		int rc = col_reserve(&b->cols[j], n);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_type(const ds_bcol *c, ds_type a, ds_type alt)
{
	if (c->type == a || c->type == alt)
		return 0;
	return sl__err(SL_EINVAL, "column '%s' is %s, not %s", c->name, ds_type_name(c->type),
		       ds_type_name(a));
}

static inline void mark_valid(ds_bcol *c)
{
	if (c->valid)
		ds_bit_set(c->valid, c->len);
}

int ds_append_i64(ds_builder *b, size_t j, int64_t v)
{
	ds_bcol *c = &b->cols[j];
	int rc = check_type(c, DS_INT64, DS_TIMESTAMP);

	if (rc || (rc = col_reserve(c, 1)))
		return rc;
	((int64_t *)c->data)[c->len] = v;
	mark_valid(c);
	c->len++;
	return 0;
}

int ds_append_f64(ds_builder *b, size_t j, double v)
{
	ds_bcol *c = &b->cols[j];
	int rc = check_type(c, DS_FLOAT64, DS_FLOAT64);

	if (rc || (rc = col_reserve(c, 1)))
		return rc;
	((double *)c->data)[c->len] = v;
	mark_valid(c);
	c->len++;
	return 0;
}

int ds_append_bool(ds_builder *b, size_t j, bool v)
{
	ds_bcol *c = &b->cols[j];
	int rc = check_type(c, DS_BOOL, DS_BOOL);

	if (rc || (rc = col_reserve(c, 1)))
		return rc;
	((uint8_t *)c->data)[c->len] = v ? 1 : 0;
	mark_valid(c);
	c->len++;
	return 0;
}

int ds_append_str(ds_builder *b, size_t j, const char *s, size_t len)
{
	ds_bcol *c = &b->cols[j];
	uint32_t code;
	int rc = check_type(c, DS_STRING, DS_STRING);

	if (rc || (rc = col_reserve(c, 1)) || (rc = ds_dict_intern(&c->dict, s, len, &code)))
		return rc;
	((uint32_t *)c->data)[c->len] = code;
	mark_valid(c);
	c->len++;
	return 0;
}

int ds_append_nulls(ds_builder *b, size_t j, size_t n)
{
	ds_bcol *c = &b->cols[j];
	size_t w = ds_type_width(c->type);
	int rc;

	if (n == 0)
		return 0;
	if ((rc = col_reserve(c, n)) || (rc = col_need_valid(c)))
		return rc;
	memset((char *)c->data + c->len * w, 0, n * w);
	for (size_t i = 0; i < n; i++)
		ds_bit_clear(c->valid, c->len + i);
	c->len += n;
	c->nulls += n;
	return 0;
}

int ds_append_null(ds_builder *b, size_t j)
{
	return ds_append_nulls(b, j, 1);
}

int ds_append_json(ds_builder *b, size_t j, ds_type t, const json_t *v)
{
	int64_t us;

	if (json_is_null(v))
		return ds_append_null(b, j);
	switch (t) {
	case DS_INT64:
		if (json_is_integer(v))
			return ds_append_i64(b, j, (int64_t)json_integer_value(v));
		/* 9.2e18 keeps the conversion inside int64's range. */
		if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
		    fabs(json_real_value(v)) < 9.2e18)
			return ds_append_i64(b, j, (int64_t)json_real_value(v));
		break;
	case DS_FLOAT64:
		if (json_is_number(v))
			return ds_append_f64(b, j, json_number_value(v));
		break;
	case DS_BOOL:
		if (json_is_boolean(v))
			return ds_append_bool(b, j, json_is_true(v));
		break;
	case DS_STRING:
		if (json_is_string(v))
			return ds_append_str(b, j, json_string_value(v), json_string_length(v));
		break;
	case DS_TIMESTAMP:
		if (json_is_string(v) &&
		    ds_parse_timestamp(json_string_value(v), json_string_length(v), &us))
			return ds_append_i64(b, j, us);
		break;
	}
	return DS_JSON_MISFIT;
}

/*
 * The common part of the bulk appends: copies n values of width w and the
 * validity, zeroing null slots (invariant 1).
 */
static int append_bulk(ds_bcol *c, const void *values, const uint8_t *validity, size_t n)
{
	size_t w = ds_type_width(c->type);
	char *dst;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = col_reserve(c, n)))
		return rc;
	dst = (char *)c->data + c->len * w;
	memcpy(dst, values, n * w);
	if (validity) {
		size_t nulls = 0;
		for (size_t k = 0; k < n; k++) {
			if (!ds_bit_get(validity, k)) {
				memset(dst + k * w, 0, w);
				nulls++;
			}
		}
		if (nulls) {
			if ((rc = col_need_valid(c)))
				return rc;
			c->nulls += nulls;
		}
	}
	if (c->valid) {
		if (validity) {
			ds_bits_copy(c->valid, c->len, validity, n);
		} else {
			for (size_t k = 0; k < n; k++)
				ds_bit_set(c->valid, c->len + k);
		}
	}
	c->len += n;
	return 0;
}

int ds_append_i64s(ds_builder *b, size_t j, const int64_t *values, const uint8_t *validity, size_t n)
{
	int rc = check_type(&b->cols[j], DS_INT64, DS_TIMESTAMP);

	return rc ? rc : append_bulk(&b->cols[j], values, validity, n);
}

int ds_append_f64s(ds_builder *b, size_t j, const double *values, const uint8_t *validity, size_t n)
{
	int rc = check_type(&b->cols[j], DS_FLOAT64, DS_FLOAT64);

	return rc ? rc : append_bulk(&b->cols[j], values, validity, n);
}

int ds_append_bools(ds_builder *b, size_t j, const uint8_t *values, const uint8_t *validity, size_t n)
{
	ds_bcol *c = &b->cols[j];
	size_t at = c->len;
	int rc = check_type(c, DS_BOOL, DS_BOOL);

	if (rc || (rc = append_bulk(c, values, validity, n)))
		return rc;
	for (size_t k = 0; k < n; k++) {
		uint8_t *v = (uint8_t *)c->data + at + k;
		*v = *v ? 1 : 0;
	}
	return 0;
}

/*
 * The body of ds_append_coded; hashes (may be NULL) are the entries' 32-bit
 * dictionary hashes when the caller has them (merging a ds_dict), which
 * saves hashing every string again.
 */
static int append_coded(ds_builder *b, size_t j, const char *const *strs, const size_t *lens,
			const uint32_t *hashes, size_t dict_n, const uint32_t *codes,
			const uint8_t *validity, size_t n)
{
	ds_bcol *c = &b->cols[j];
	uint32_t *map = NULL, *dst;
	int rc = check_type(c, DS_STRING, DS_STRING);

	if (rc || n == 0)
		return rc;
	/* map[k] is the column's code for entry k plus one, 0 while unseen, so
	 * only entries some row uses are interned, in order of first use. The
	 * dictionary is merged before anything is appended, so a bad code
	 * leaves the column as it was. */
	map = sl__calloc(dict_n ? dict_n : 1, sizeof *map);
	if (!map)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t k = 0; k < n; k++) {
		uint32_t code = codes[k], mapped;
		if (validity && !ds_bit_get(validity, k))
			continue;
		if (code >= dict_n) {
			rc = sl__err(SL_EINVAL, "column '%s': code %u outside a dictionary of %zu",
				     c->name, code, dict_n);
			goto done;
		}
		if (!map[code]) {
			rc = hashes ? ds_dict_intern_h32(&c->dict, strs[code], lens[code], hashes[code], &mapped)
				    : ds_dict_intern(&c->dict, strs[code], lens[code], &mapped);
			if (rc)
				goto done;
			map[code] = mapped + 1;
		}
	}
	if ((rc = append_bulk(c, codes, validity, n)))
		goto done;
	dst = (uint32_t *)c->data + (c->len - n);
	for (size_t k = 0; k < n; k++)
		if (!validity || ds_bit_get(validity, k))
			dst[k] = map[dst[k]] - 1;
done:
	sl__free(map);
	return rc;
}

int ds_append_coded(ds_builder *b, size_t j, const char *const *strs, const size_t *lens,
		    size_t dict_n, const uint32_t *codes, const uint8_t *validity, size_t n)
{
	return append_coded(b, j, strs, lens, NULL, dict_n, codes, validity, n);
}

int ds_append_dict(ds_builder *b, size_t j, const ds_dict *d, const uint32_t *codes,
		   const uint8_t *validity, size_t n)
{
	const char **strs = sl__calloc(d->n ? d->n : 1, sizeof *strs);
	size_t *lens = sl__calloc(d->n ? d->n : 1, sizeof *lens);
	int rc;

	if (!strs || !lens) {
		rc = sl__err(SL_ENOMEM, "out of memory");
	} else {
		for (size_t k = 0; k < d->n; k++)
			strs[k] = ds_dict_entry(d, (uint32_t)k, &lens[k]);
		rc = append_coded(b, j, strs, lens, d->hashes, d->n, codes, validity, n);
	}
	sl__free(strs);
	sl__free(lens);
	return rc;
}

int ds_append_from(ds_builder *b, size_t j, const ds_table *t, size_t tj,
		   const size_t *rows, size_t n)
{
	ds_bcol *c = &b->cols[j];
	ds_type type = ds_col_type(t, tj);
	const uint8_t *valid = ds_col_validity(t, tj);
	size_t nrow = ds_nrow(t), w = ds_type_width(type);
	const char *src;
	int rc;

	if (type != c->type)
		return sl__err(SL_EINVAL, "column '%s' is %s but the source column '%s' is %s",
			       c->name, ds_type_name(c->type), ds_col_name(t, tj), ds_type_name(type));
	if (!rows && n != nrow)
		return sl__err(SL_EINVAL, "ds_append_from: %zu rows asked of a table of %zu", n, nrow);
	for (size_t k = 0; rows && k < n; k++)
		if (rows[k] >= nrow)
			return sl__err(SL_EINVAL, "ds_append_from: row %zu out of %zu", rows[k], nrow);
	if (type == DS_STRING) {
		const uint32_t *codes = ds_col_codes(t, tj);
		if ((rc = col_reserve(c, n)))
			return rc;
		for (size_t k = 0; k < n; k++) {
			size_t i = rows ? rows[k] : k, len;
			if (!ds_valid(valid, i)) {
				rc = ds_append_null(b, j);
			} else {
				const char *s = ds_dict_str(t, tj, codes[i], &len);
				rc = ds_append_str(b, j, s, len);
			}
			if (rc)
				return rc;
		}
		return 0;
	}
	if (type == DS_INT64 || type == DS_TIMESTAMP)
		src = (const char *)ds_col_i64(t, tj);
	else if (type == DS_FLOAT64)
		src = (const char *)ds_col_f64(t, tj);
	else
		src = (const char *)ds_col_bool(t, tj);
	if (!rows)
		return append_bulk(c, src, valid, n);
	if ((rc = col_reserve(c, n)))
		return rc;
	for (size_t k = 0; k < n; k++) {
		size_t i = rows[k];
		if (!ds_valid(valid, i)) {
			if ((rc = ds_append_null(b, j)))
				return rc;
			continue;
		}
		memcpy((char *)c->data + c->len * w, src + i * w, w);
		mark_valid(c);
		c->len++;
	}
	return 0;
}

int ds_builder_adopt(ds_builder *b, size_t j, void *data, size_t n, uint8_t *valid, size_t nulls,
		     ds_dict *dict)
{
	ds_bcol *c = &b->cols[j];

	if (c->len) {
		sl__free(data);
		sl__free(valid);
		return sl__err(SL_EINVAL, "column '%s' is not empty", c->name);
	}
	sl__free(c->data);
	sl__free(c->valid);
	c->data = data;
	c->valid = nulls ? valid : NULL;
	if (!nulls)
		sl__free(valid);
	c->len = c->cap = n;
	c->nulls = nulls;
	if (dict) {
		ds_dict_free(&c->dict);
		c->dict = *dict;
		ds_dict_init(dict);
	}
	return 0;
}

static int check_lengths(const ds_builder *b)
{
	for (size_t j = 1; j < b->n; j++)
		if (b->cols[j].len != b->cols[0].len)
			return sl__err(SL_EINVAL, "column '%s' has %zu rows but '%s' has %zu",
				       b->cols[j].name, b->cols[j].len, b->cols[0].name, b->cols[0].len);
	return 0;
}

int ds_builder_write(ds_builder *b, const char *path)
{
	int rc = check_lengths(b);

	return rc ? rc : ds_format_write(b, path);
}

int ds_builder_finish(ds_builder *b, ds_table **out_t)
{
	uint8_t *image = NULL;
	size_t size = 0;
	int rc = check_lengths(b);

	*out_t = NULL;
	if (rc == 0)
		rc = ds_format_image(b, &image, &size);
	for (size_t j = 0; j < b->n; j++)
		bcol_free(&b->cols[j]);
	b->n = 0;
	if (rc)
		return rc;
	return ds_table_from_image(image, size, "(memory)", out_t);
}
