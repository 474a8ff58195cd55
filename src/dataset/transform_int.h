/*
 * Internals shared by transform.c (compiling and applying op objects) and
 * transform_fit.c (normalising op objects and learning their parameters).
 * Nothing else in the library includes this header. Prefix tf_, types
 * included (tf_schema is the columns an op sees; the data schema that
 * validate checks is monitor/schema.h's schema).
 */
#ifndef SLUICE_TRANSFORM_INT_H
#define SLUICE_TRANSFORM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"
#include "hmap.h"
#include "dataset/dataset.h"
#include "dataset/expr.h"
#include "dataset/transform.h"

/* The operations, in the order of tf_op_names. */
enum { K_SELECT, K_DROP, K_RENAME, K_CAST, K_FILTER, K_DEDUPE, K_IMPUTE, K_CLIP, K_NORMALISE,
       K_ENCODE, K_TEXT, K_DATES, K_LAG, K_ROLLING, K_DERIVE, K_N };
extern const char *const tf_op_names[];
/* The kind of an op name (aliases included), or -1. */
int tf_op_kind(const char *name);

/* text outputs. */
enum { TX_TEXT, TX_TOKENS, TX_COUNTS, TX_BINARY, TX_TFIDF };

/* A string -> index map with keys copied into one arena (offsets, so growth is safe). */
typedef struct strmap {
	sl__buf keys;      /* key bytes */
	size_t *off, *len;
	uint64_t *count;   /* a counter per key for callers that count */
	uint32_t *last;    /* last document that counted the key (df counting) */
	size_t n, cap;
	sl__hmap idx;      /* key -> index */
} strmap;

typedef struct tf_scol {
	char *name;
	ds_type type;
	size_t slot;
} tf_scol;

typedef struct tf_schema {
	tf_scol *c;
	size_t n, cap;
} tf_schema;

void tf_strmap_init(strmap *m);
void tf_strmap_free(strmap *m);
const char *tf_strmap_key(const strmap *m, size_t k);
/* The index of s, or -1. */
long tf_strmap_find(const strmap *m, const char *s, size_t n);
/* The index of s, adding it (count 0) when new. */
int tf_strmap_add(strmap *m, const char *s, size_t n, size_t *out);

long tf_schema_find(const tf_schema *s, const char *name);

static inline bool tf_is_numeric(ds_type t)
{
	return t == DS_INT64 || t == DS_FLOAT64;
}

/* Bytewise order, shorter first on a common prefix. */
int tf_cmp_bytes(const char *a, size_t la, const char *b, size_t lb);
/* qsort comparator for doubles. */
int tf_cmp_double(const void *a, const void *b);
/* Reads row i of column j of t as a value (strings borrowed from t). */
void tf_load(const ds_table *t, size_t j, size_t i, expr_value *v);
/* The text key of a category value (string, int64 or bool), in buf (>= 32 bytes) or borrowed. */
const char *tf_cat_key(ds_type t, const expr_value *v, char *buf, size_t *len);
json_t *tf_value_to_json(ds_type t, const expr_value *v);

/*
 * Option readers: each names the option as "WHERE.KEY: ..." in its message.
 * tf_get_cols reads a column name or a list of names as indices of s
 * (absent: *out NULL and *out_n 0).
 */
int tf_get_cols(const json_t *o, const char *key, const char *where, const tf_schema *s,
		size_t **out, size_t *out_n);
const char *tf_get_str(const json_t *o, const char *key, const char *def);
int tf_get_choice(const json_t *o, const char *key, const char *where, const char *const *names,
		  size_t n, int def, int *out);
int tf_get_int(const json_t *o, const char *key, const char *where, int64_t def, int64_t min,
	       int64_t *out);
int tf_get_num(const json_t *o, const char *key, const char *where, double *out, bool *present);
/* "WHERE.KEY: unknown column 'x'; did you mean 'y'?" Returns SL_EINVAL. */
int tf_bad_col(const char *where, const char *key, const tf_schema *s, const char *name);

/*
 * Calls fn for each token of s: maximal runs of letters, digits, '_' and
 * non-ASCII bytes, at least min_len bytes, ASCII-lowercased into tmp (tmpcap
 * bytes, longer tokens cut) when lower.
 */
#define TOKEN_MAX 256
typedef int (*tok_fn)(void *arg, const char *tok, size_t len);
int tf_tokenize(const char *s, size_t n, bool lower, size_t min_len, char *tmp, size_t tmpcap,
		tok_fn fn, void *arg);

/* ---- compiled operations (transform.c; read by transform_c.c) ---------------- */

/*
 * A producer: one column-wise kernel of an op (transform.c, note 2). Its
 * scalar kernel is kern() in transform.c; transform_c.c writes the same
 * computation as C, so the two must change together.
 */
enum {
	P_PASS, P_CAST, P_IMPUTE, P_CLIP, P_AFFINE, P_ONEHOT, P_ORDINAL, P_HASH,
	P_TEXT, P_DATEPART, P_CYCLIC, P_EXPR, P_LAG, P_ROLL
};

enum { D_YEAR, D_QUARTER, D_MONTH, D_DAY, D_WEEKDAY, D_DAYOFYEAR, D_HOUR, D_MINUTE, D_SECOND,
       TF_N_DATE_PARTS };

extern const char *const tf_date_parts[TF_N_DATE_PARTS];
/* The period of each part for cyclical encodings (0 = not cyclical). */
extern const double tf_date_period[TF_N_DATE_PARTS];

typedef struct prod {
	int kind;
	size_t in;            /* input column (schema index of the op's input); P_EXPR:
			       * its place in the derivation order */
	ds_type itype, otype;
	size_t out0, nout;    /* output columns out0 .. out0+nout-1 of the op's output */
	expr_value fill;      /* P_IMPUTE */
	char *fill_str;
	double lo, hi;        /* P_CLIP (+-inf when absent); P_AFFINE center, scale */
	int64_t ilo, ihi;
	bool fail;            /* P_CAST: on_error fail */
	strmap cats;          /* P_ONEHOT, P_ORDINAL, P_TEXT: category / vocabulary -> index */
	uint64_t buckets;     /* P_HASH */
	int mode;             /* P_TEXT mode; P_DATEPART / P_CYCLIC part; P_ROLL: 1 = mean */
	bool lower;           /* P_TEXT */
	size_t min_len;       /* P_TEXT */
	double *idf;          /* P_TEXT tfidf */
	bool cos;             /* P_CYCLIC */
	expr *e;              /* P_EXPR */
	int64_t k;            /* P_LAG: lag; P_ROLL: window */
	int64_t min_periods;  /* P_ROLL */
} prod;

enum { O_COLS, O_FILTER, O_DEDUPE };

typedef struct op {
	int kind;
	char *where;
	prod *p;
	size_t np;
	tf_schema out;
	expr *filter;
	size_t *keys;        /* O_DEDUPE; P_LAG/P_ROLL group keys */
	size_t nkeys;
	size_t order;        /* P_LAG/P_ROLL: the time column */
	bool series;         /* contains P_LAG or P_ROLL */
} op;

struct transform {
	json_t *ops_json;     /* normalised, fitted op objects */
	tf_schema in;
	op *ops;
	size_t nops;
	size_t nslots;
	size_t width;         /* widest schema, for gathering a row */
};

/* True for a derive op (its producers are P_EXPR, applied in order). */
bool tf_op_is_derive(const op *o);
/* encode's hashing trick: a value's text goes to bucket tf_bucket_hash % n_buckets
 * (FNV-1a; frozen, since saved transforms rely on it). */
uint64_t tf_bucket_hash(const char *s, size_t n);

/* transform_fit.c: turns {OP: VALUE} into {op: OP, ...} and checks option names. */
int tf_normalise_op(const json_t *raw, const char *where, json_t **out);
/*
 * transform_fit.c: adds the learned fields to normalised op o, fitted on t
 * (schema in). With t NULL (transform_check) only the options are
 * normalised and checked against in: defaults, columns, their types;
 * nothing is learned.
 */
int tf_fit_op(json_t *o, const char *where, const tf_schema *in, const ds_table *t);

#endif
