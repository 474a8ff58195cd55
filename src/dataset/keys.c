/*
 * Distinct values of a column (see keys.h).
 *
 * Each distinct value is identified by a canonical 64-bit word: the integer
 * itself for int64, timestamp and bool columns, the bit pattern of the
 * double for float columns (after folding -0.0 into 0.0 and every NaN into
 * one NaN), and the source column's dictionary code for string columns,
 * whose bytes are then read from the table. An open addressing table of
 * id + 1 (0 = empty), linear probing, at most half full, finds a value's id;
 * each id's hash is kept so that growing the table never rehashes strings.
 *
 * Invariants: ids are dense, 0 .. n-1, in order of first appearance in the
 * column; first[id] is the first row holding the value; sizes[id] counts
 * its rows; the sum of sizes plus nulls is the column's row count.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "dataset/keys.h"

struct keys {
	const ds_table *t;
	size_t j;
	ds_type type;
	size_t nrow;
	uint32_t *ids;   /* per row */
	size_t n;        /* distinct values */
	size_t cap;      /* capacity of the per-id arrays */
	uint64_t *vals;  /* per id: canonical value, or dictionary code for strings */
	uint64_t *hashes;
	size_t *first;
	size_t *sizes;
	uint32_t *slots;
	size_t nslots;   /* a power of two */
	size_t nulls;
};

/* A value being looked up: a canonical word, or bytes for strings. */
typedef struct probe {
	uint64_t v;
	const char *s;
	size_t len;
} probe;

/* The finaliser of splitmix64: a cheap, well-mixing hash of one word. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t canon_f64(double d)
{
	uint64_t bits;

	if (d == 0.0)
		return 0;
	if (isnan(d))
		return 0x7ff8000000000000ull;
	memcpy(&bits, &d, sizeof bits);
	return bits;
}

/* The canonical word of row i of a non-string column (the row is not null). */
static uint64_t canon_row(const ds_table *t, size_t j, ds_type type, size_t i)
{
	switch (type) {
	case DS_FLOAT64:
		return canon_f64(ds_col_f64(t, j)[i]);
	case DS_BOOL:
		return ds_col_bool(t, j)[i] ? 1 : 0;
	default:
		return (uint64_t)ds_col_i64(t, j)[i];
	}
}

static bool same(const keys *k, uint32_t id, const probe *p)
{
	size_t len;
	const char *s;

	if (k->type != DS_STRING)
		return k->vals[id] == p->v;
	s = ds_dict_str(k->t, k->j, (uint32_t)k->vals[id], &len);
	return len == p->len && (len == 0 || !memcmp(s, p->s, len));
}

static uint32_t find(const keys *k, uint64_t h, const probe *p)
{
	size_t mask = k->nslots - 1;

	for (size_t s = (size_t)h & mask;; s = (s + 1) & mask) {
		uint32_t slot = k->slots[s];
		if (!slot)
			return KEYS_NONE;
		if (k->hashes[slot - 1] == h && same(k, slot - 1, p))
			return slot - 1;
	}
}

static int grow_slots(keys *k)
{
	size_t n = k->nslots ? k->nslots * 2 : 64, mask = n - 1;
	uint32_t *slots;

	if (n > SIZE_MAX / sizeof *slots)
		return sl__oom();
	slots = sl__calloc(n, sizeof *slots);
	if (!slots)
		return sl__oom();
	for (size_t id = 0; id < k->n; id++) {
		size_t s = (size_t)k->hashes[id] & mask;
		while (slots[s])
			s = (s + 1) & mask;
		slots[s] = (uint32_t)id + 1;
	}
	sl__free(k->slots);
	k->slots = slots;
	k->nslots = n;
	return 0;
}

/* Reallocates *p to cap elements; *p is unchanged on failure. */
static int grow_array(void **p, size_t cap, size_t size)
{
	void *q = sl__reallocarray(*p, cap, size);

	if (!q)
		return SL_ENOMEM;
	*p = q;
	return 0;
}

/* Adds a value first seen in row i; its id is k->n before the call. */
static int add(keys *k, uint64_t h, uint64_t val, size_t i)
{
	size_t mask, s;

	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		if (grow_array((void **)&k->vals, cap, sizeof *k->vals) ||
		    grow_array((void **)&k->hashes, cap, sizeof *k->hashes) ||
		    grow_array((void **)&k->first, cap, sizeof *k->first) ||
		    grow_array((void **)&k->sizes, cap, sizeof *k->sizes))
			return sl__oom();
		k->cap = cap;
	}
	if (2 * (k->n + 1) > k->nslots) {
		int rc = grow_slots(k);
		if (rc)
			return rc;
	}
	k->vals[k->n] = val;
	k->hashes[k->n] = h;
	k->first[k->n] = i;
	k->sizes[k->n] = 0;
	mask = k->nslots - 1;
	for (s = (size_t)h & mask; k->slots[s]; s = (s + 1) & mask)
		;
	k->slots[s] = (uint32_t)k->n + 1;
	k->n++;
	return 0;
}

static int build_strings(keys *k)
{
	const ds_table *t = k->t;
	const uint32_t *codes = ds_col_codes(t, k->j);
	const uint8_t *valid = ds_col_validity(t, k->j);
	size_t nd = ds_dict_size(t, k->j);
	uint32_t *code2id = sl__malloc((nd ? nd : 1) * sizeof *code2id);
	int rc = 0;

	if (!code2id)
		return sl__oom();
	for (size_t c = 0; c < nd; c++)
		code2id[c] = KEYS_NONE;
	for (size_t i = 0; i < k->nrow; i++) {
		uint32_t code, id;
		if (!ds_valid(valid, i)) {
			k->ids[i] = KEYS_NONE;
			k->nulls++;
			continue;
		}
		code = codes[i];
		id = code2id[code];
		if (id == KEYS_NONE) {
			/* A dictionary holds each string once, but a lookup by
			 * bytes costs one probe per distinct code and keeps the
			 * ids right even for a dictionary that repeats one. */
			probe p = {0, NULL, 0};
			uint64_t h;
			p.s = ds_dict_str(t, k->j, code, &p.len);
			h = ds_hash64(p.s, p.len, 0);
			id = k->nslots ? find(k, h, &p) : KEYS_NONE;
			if (id == KEYS_NONE) {
				id = (uint32_t)k->n;
				if ((rc = add(k, h, code, i)))
					break;
			}
			code2id[code] = id;
		}
		k->ids[i] = id;
		k->sizes[id]++;
	}
	sl__free(code2id);
	return rc;
}

static int build_words(keys *k)
{
	const uint8_t *valid = ds_col_validity(k->t, k->j);

	for (size_t i = 0; i < k->nrow; i++) {
		probe p = {0, NULL, 0};
		uint64_t h;
		uint32_t id;

		if (!ds_valid(valid, i)) {
			k->ids[i] = KEYS_NONE;
			k->nulls++;
			continue;
		}
		p.v = canon_row(k->t, k->j, k->type, i);
		h = mix64(p.v);
		id = k->nslots ? find(k, h, &p) : KEYS_NONE;
		if (id == KEYS_NONE) {
			int rc = add(k, h, p.v, i);
			if (rc)
				return rc;
			id = (uint32_t)k->n - 1;
		}
		k->ids[i] = id;
		k->sizes[id]++;
	}
	return 0;
}

int keys_build(const ds_table *t, size_t j, keys **out_k)
{
	keys *k;
	int rc;

	*out_k = NULL;
	if (ds_nrow(t) >= (size_t)UINT32_MAX - 2)
		return sl__err(SL_ELIMIT, "column '%s': more rows (%zu) than keys can number",
			       ds_col_name(t, j), ds_nrow(t));
	k = sl__calloc(1, sizeof *k);
	if (!k)
		return sl__oom();
	k->t = t;
	k->j = j;
	k->type = ds_col_type(t, j);
	k->nrow = ds_nrow(t);
	k->ids = sl__malloc((k->nrow ? k->nrow : 1) * sizeof *k->ids);
	if (!k->ids) {
		keys_free(k);
		return sl__oom();
	}
	rc = k->type == DS_STRING ? build_strings(k) : build_words(k);
	if (rc) {
		keys_free(k);
		return rc;
	}
	*out_k = k;
	return 0;
}

void keys_free(keys *k)
{
	if (!k)
		return;
	sl__free(k->ids);
	sl__free(k->vals);
	sl__free(k->hashes);
	sl__free(k->first);
	sl__free(k->sizes);
	sl__free(k->slots);
	sl__free(k);
}

size_t keys_count(const keys *k)
{
	return k->n;
}

size_t keys_nulls(const keys *k)
{
	return k->nulls;
}

const uint32_t *keys_ids(const keys *k)
{
	return k->ids;
}

const size_t *keys_sizes(const keys *k)
{
	return k->sizes;
}

size_t keys_first_row(const keys *k, uint32_t id)
{
	return k->first[id];
}

static uint32_t lookup(const keys *k, uint64_t h, const probe *p)
{
	return k->nslots ? find(k, h, p) : KEYS_NONE;
}

int keys_match(const keys *k, const ds_table *t2, size_t j2, uint32_t *out_ids)
{
	ds_type type = ds_col_type(t2, j2);
	const uint8_t *valid = ds_col_validity(t2, j2);
	size_t n = ds_nrow(t2);

	if (type != k->type)
		return sl__err(SL_EINVAL, "column '%s' is %s but column '%s' is %s",
			       ds_col_name(t2, j2), ds_type_name(type), ds_col_name(k->t, k->j),
			       ds_type_name(k->type));
	if (type == DS_STRING) {
		/* Each dictionary entry is looked up once: once known[c] is
		 * set, memo[c] holds its id or KEYS_NONE. */
		const uint32_t *codes = ds_col_codes(t2, j2);
		size_t nd = ds_dict_size(t2, j2);
		uint32_t *memo = sl__malloc((nd ? nd : 1) * sizeof *memo);
		uint8_t *known = sl__calloc(nd ? nd : 1, 1);

		if (!memo || !known) {
			sl__free(memo);
			sl__free(known);
			return sl__oom();
		}
		for (size_t i = 0; i < n; i++) {
			uint32_t c;
			if (!ds_valid(valid, i)) {
				out_ids[i] = KEYS_NONE;
				continue;
			}
			c = codes[i];
			if (!known[c]) {
				probe p = {0, NULL, 0};
				p.s = ds_dict_str(t2, j2, c, &p.len);
				memo[c] = lookup(k, ds_hash64(p.s, p.len, 0), &p);
				known[c] = 1;
			}
			out_ids[i] = memo[c];
		}
		sl__free(memo);
		sl__free(known);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		probe p = {0, NULL, 0};
		if (!ds_valid(valid, i)) {
			out_ids[i] = KEYS_NONE;
			continue;
		}
		p.v = canon_row(t2, j2, type, i);
		out_ids[i] = lookup(k, mix64(p.v), &p);
	}
	return 0;
}

size_t keys_text(const keys *k, uint32_t id, char *buf, size_t size)
{
	char tmp[DS_TS_BUF > DS_F64_BUF ? DS_TS_BUF : DS_F64_BUF];
	const char *s = tmp;
	size_t len;
	double d;

	switch (k->type) {
	case DS_STRING:
		s = ds_dict_str(k->t, k->j, (uint32_t)k->vals[id], &len);
		break;
	case DS_FLOAT64:
		memcpy(&d, &k->vals[id], sizeof d);
		len = ds_format_f64(d, tmp);
		break;
	case DS_BOOL:
		s = k->vals[id] ? "true" : "false";
		len = strlen(s);
		break;
	case DS_TIMESTAMP:
		len = ds_format_timestamp((int64_t)k->vals[id], tmp);
		break;
	default:
		len = (size_t)snprintf(tmp, sizeof tmp, "%" PRId64, (int64_t)k->vals[id]);
		break;
	}
	if (size) {
		size_t m = len < size - 1 ? len : size - 1;
		memcpy(buf, s, m);
		buf[m] = '\0';
	}
	return len;
}
