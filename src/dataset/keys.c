/*
 * Distinct values of a column (see keys.h).
 *
 * Each distinct value is identified by a canonical 64-bit word: the integer
 * itself for int64, timestamp and bool columns, the bit pattern of the
 * double for float columns (after folding -0.0 into 0.0 and every NaN into
 * one NaN), and the source column's dictionary code for string columns,
 * whose bytes are then read from the table. The core hash map (hmap.h)
 * indexes the ids by the XXH3 of the word or of the string's bytes.
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
#include "hmap.h"

struct keys {
	const ds_table *t;
	size_t j;
	ds_type type;
	size_t nrow;
	uint32_t *ids;   /* per row */
	size_t n;        /* distinct values */
	size_t cap;      /* capacity of the per-id arrays */
	uint64_t *vals;  /* per id: canonical value, or dictionary code for strings */
	size_t *first;
	size_t *sizes;
	sl__hmap idx;    /* value -> id */
	size_t nulls;
};

/* A value being looked up: a canonical word, or bytes for strings. */
typedef struct probe {
	const keys *k;
	uint64_t v;
	const char *s;
	size_t len;
} probe;

static uint32_t word_tag(uint64_t v)
{
	return sl__hmap_tag(sl__hash64(&v, sizeof v));
}

static uint32_t str_tag(const char *s, size_t len)
{
	return sl__hmap_tag(sl__hash64(s, len));
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

static bool same(const void *ctx, uint32_t id)
{
	const probe *p = ctx;
	const keys *k = p->k;
	size_t len;
	const char *s;

	if (k->type != DS_STRING)
		return k->vals[id] == p->v;
	s = ds_dict_str(k->t, k->j, (uint32_t)k->vals[id], &len);
	return len == p->len && (len == 0 || !memcmp(s, p->s, len));
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

/*
 * The id of the value p (tag its hash), adding it as first seen in row i
 * when new (val is what the id stores: the word, or a string's code).
 */
static int intern(keys *k, uint32_t tag, const probe *p, uint64_t val, size_t i, uint32_t *out_id)
{
	int rc;

	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		if (grow_array((void **)&k->vals, cap, sizeof *k->vals) ||
		    grow_array((void **)&k->first, cap, sizeof *k->first) ||
		    grow_array((void **)&k->sizes, cap, sizeof *k->sizes))
			return sl__oom();
		k->cap = cap;
	}
	rc = sl__hmap_intern(&k->idx, tag, (uint32_t)k->n, same, p, out_id);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		k->vals[k->n] = val;
		k->first[k->n] = i;
		k->sizes[k->n] = 0;
		k->n++;
	}
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
			probe p = {k, 0, NULL, 0};
			p.s = ds_dict_str(t, k->j, code, &p.len);
			if ((rc = intern(k, str_tag(p.s, p.len), &p, code, i, &id)))
				break;
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
		probe p = {k, 0, NULL, 0};
		uint32_t id;
		int rc;

		if (!ds_valid(valid, i)) {
			k->ids[i] = KEYS_NONE;
			k->nulls++;
			continue;
		}
		p.v = canon_row(k->t, k->j, k->type, i);
		if ((rc = intern(k, word_tag(p.v), &p, p.v, i, &id)))
			return rc;
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
	sl__free(k->first);
	sl__free(k->sizes);
	sl__hmap_free(&k->idx);
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

static uint32_t lookup(const keys *k, uint32_t tag, const probe *p)
{
	uint32_t id = sl__hmap_find(&k->idx, tag, same, p);

	return id == SL__HMAP_NONE ? KEYS_NONE : id;
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
				probe p = {k, 0, NULL, 0};
				p.s = ds_dict_str(t2, j2, c, &p.len);
				memo[c] = lookup(k, str_tag(p.s, p.len), &p);
				known[c] = 1;
			}
			out_ids[i] = memo[c];
		}
		sl__free(memo);
		sl__free(known);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		probe p = {k, 0, NULL, 0};
		if (!ds_valid(valid, i)) {
			out_ids[i] = KEYS_NONE;
			continue;
		}
		p.v = canon_row(t2, j2, type, i);
		out_ids[i] = lookup(k, word_tag(p.v), &p);
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
