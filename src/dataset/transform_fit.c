/*
 * Fitting the operations of a transform: normalising each op object (the
 * short {OP: VALUE} form, option names, defaults, resolved column lists) and
 * learning its parameters from a table: means, medians, modes, quantile
 * bounds, scales, categories, vocabularies and idf weights.
 *
 * Everything learned is written into the op object as JSON, from which
 * transform.c compiles the operation (its design note 1). Statistics skip
 * nulls and non-finite floats; every tie is broken by value so the same data
 * always gives the same transform.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/transform.h"
#include "dataset/transform_int.h"
#include "stats.h"

/* The option each op's shorthand {OP: VALUE} sets. */
static const char *const op_main[] = {"columns", "columns", "columns", "columns", "expr",
				      "columns", "columns", "columns", "columns", "columns",
				      "column", "column", "column", "column", "columns"};

/* Allowed keys per op (besides "op"), space-separated. */
static const char *const op_keys[] = {
	"columns", "columns", "columns", "columns on_error", "expr", "columns keep",
	"columns strategy value fill", "columns min max lower_quantile upper_quantile bounds",
	"columns method scale", "columns method max_categories n_buckets prefix categories",
	"column lowercase output max_features min_df min_token_length prefix vocabulary idf",
	"column parts cyclical drop", "column columns by order_by lags",
	"column columns by order_by window agg min_periods", "columns"};

static bool key_allowed(int kind, const char *key)
{
	const char *s = op_keys[kind];
	size_t n = strlen(key);

	while (*s) {
		const char *e = strchr(s, ' ');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l == n && !strncmp(s, key, n))
			return true;
		s += l + (e ? 1 : 0);
	}
	return false;
}

const char *transform_op_options(const char *name)
{
	int kind = name ? tf_op_kind(name) : -1;

	return kind < 0 ? NULL : op_keys[kind];
}

/* ---- normalising and fitting op objects (note 1) --------------------------------- */

/*
 * Derive's mapping {name: expr, ...} as the list [{name: expr}, ...] in the
 * order written: the artifact is dumped with sorted keys, and derivations
 * read the columns derived before them, so a mapping would come back in
 * another order (and its outputs in another order than fitted).
 */
static int derive_in_order(json_t *o)
{
	const json_t *m = json_object_get(o, "columns");
	json_t *l;
	const char *key;
	json_t *v;

	if (!json_is_object(m))
		return 0;
	if (!(l = json_array()))
		return sl__oom();
	json_object_foreach((json_t *)m, key, v) {
		if (json_array_append_new(l, json_pack("{s:O}", key, v))) {
			json_decref(l);
			return sl__oom();
		}
	}
	return sl__json_set(o, "columns", l);
}

/* Turns {OP: VALUE} into {op: OP, <main option>: VALUE} and checks option names. */
int tf_normalise_op(const json_t *raw, const char *where, json_t **out)
{
	json_t *o;
	const char *name;
	int kind;

	*out = NULL;
	if (!json_is_object(raw))
		return sl__err(SL_EINVAL, "%s: expected an operation ({op: NAME, ...})", where);
	if (!json_object_get(raw, "op") && json_object_size(raw) == 1) {
		void *it = json_object_iter((json_t *)raw);
		const char *key = json_object_iter_key(it);
		if ((kind = tf_op_kind(key)) < 0)
			return sl__err(SL_EINVAL, "%s: unknown operation '%s'", where, key);
		if (!(o = json_object()))
			return sl__oom();
		if (sl__json_set(o, "op", json_string(tf_op_names[kind])) ||
		    sl__json_set_ref(o, op_main[kind], json_object_iter_value(it)) ||
		    (kind == K_DERIVE && derive_in_order(o))) {
			json_decref(o);
			return SL_ENOMEM;
		}
		*out = o;
		return 0;
	}
	name = tf_get_str(raw, "op", NULL);
	if (!name)
		return sl__err(SL_EINVAL, "%s.op: required (the operation's name)", where);
	if ((kind = tf_op_kind(name)) < 0) {
		const char *s = expr_suggest(name, tf_op_names, K_N);
		if (s)
			return sl__err(SL_EINVAL, "%s.op: unknown operation '%s'; did you mean '%s'?", where, name, s);
		return sl__err(SL_EINVAL, "%s.op: unknown operation '%s'", where, name);
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)raw, key, v) {
		(void)v;
		if (strcmp(key, "op") && !key_allowed(kind, key))
			return sl__err(SL_EINVAL, "%s.%s: unknown option of %s (it takes: %s)", where, key,
				       tf_op_names[kind], op_keys[kind]);
	}
	if (!(o = json_deep_copy(raw)))
		return sl__oom();
	if (sl__json_set(o, "op", json_string(tf_op_names[kind])) ||
	    (kind == K_DERIVE && derive_in_order(o))) {
		json_decref(o);
		return SL_ENOMEM;
	}
	*out = o;
	return 0;
}

/* Sets columns to the names of in's columns accepted by want when the option is absent. */
static int default_cols(json_t *o, const tf_schema *in, bool (*want)(ds_type))
{
	json_t *l;

	if (json_object_get(o, "columns"))
		return 0;
	if (!(l = json_array()))
		return sl__oom();
	for (size_t k = 0; k < in->n; k++)
		if (want(in->c[k].type) && sl__json_push(l, json_string(in->c[k].name))) {
			json_decref(l);
			return SL_ENOMEM;
		}
	return sl__json_set(o, "columns", l);
}

static bool any_type(ds_type t)
{
	(void)t;
	return true;
}

static bool cat_type(ds_type t)
{
	return t == DS_STRING;
}

/* The finite values of a numeric column, in a new array (sorted when sort). */
static int col_values(const ds_table *t, size_t j, bool sort, double **out, size_t *out_n)
{
	size_t nrow = ds_nrow(t), n = 0;
	double *v = sl__calloc(nrow ? nrow : 1, sizeof *v);

	if (!v)
		return sl__oom();
	for (size_t i = 0; i < nrow; i++) {
		double x;
		if (ds_get_f64(t, j, i, &x) && isfinite(x))
			v[n++] = x;
	}
	if (sort)
		qsort(v, n, sizeof *v, tf_cmp_double);
	*out = v;
	*out_n = n;
	return 0;
}

typedef struct catcount {
	const char *key;
	size_t len;
	uint64_t count;
	double num; /* numeric value for numeric modes */
} catcount;

static int by_count_then_key(const void *a, const void *b)
{
	const catcount *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return tf_cmp_bytes(x->key, x->len, y->key, y->len);
}

static int by_key(const void *a, const void *b)
{
	const catcount *x = a, *y = b;

	return tf_cmp_bytes(x->key, x->len, y->key, y->len);
}

/* Counts the category keys of column j (non-null rows) into m. */
static int count_cats(const ds_table *t, size_t j, strmap *m)
{
	size_t nrow = ds_nrow(t);
	ds_type ty = ds_col_type(t, j);
	int rc = 0;

	for (size_t i = 0; i < nrow && rc == 0; i++) {
		expr_value v;
		char buf[32];
		size_t len, k;
		tf_load(t, j, i, &v);
		if (v.null)
			continue;
		const char *key = tf_cat_key(ty, &v, buf, &len);
		if ((rc = tf_strmap_add(m, key, len, &k)) == 0)
			m->count[k]++;
	}
	return rc;
}

/* The entries of m sorted by count (descending) then key; caller frees. */
static int ranked(const strmap *m, catcount **out)
{
	catcount *cc = sl__calloc(m->n + 1, sizeof *cc);

	if (!cc)
		return sl__oom();
	for (size_t k = 0; k < m->n; k++) {
		cc[k].key = tf_strmap_key(m, k);
		cc[k].len = m->len[k];
		cc[k].count = m->count[k];
	}
	qsort(cc, m->n, sizeof *cc, by_count_then_key);
	*out = cc;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* The mode of column j: the most frequent value, ties to the smallest. */
static bool eq_f64(const void *a, const void *b)
{
	return *(const double *)a == *(const double *)b;
}

static bool eq_i64(const void *a, const void *b)
{
	return *(const int64_t *)a == *(const int64_t *)b;
}

/* Index of the first element of the longest run of equal values in a sorted
 * array (the earliest, hence smallest, on ties); 0 when n is 0. */
static size_t longest_run(const void *v, size_t n, size_t width,
			  bool (*eq)(const void *, const void *))
{
	const char *base = v;
	size_t best = 0, bestn = 0;

	for (size_t i = 0; i < n;) {
		size_t k = i;
		while (k < n && eq(base + k * width, base + i * width))
			k++;
		if (k - i > bestn) {
			bestn = k - i;
			best = i;
		}
		i = k;
	}
	return best;
}

static int col_mode(const ds_table *t, size_t j, json_t **out)
{
	ds_type ty = ds_col_type(t, j);
	int rc = 0;

	*out = NULL;
	if (ty == DS_STRING || ty == DS_BOOL) {
		strmap m;
		catcount *cc = NULL;
		tf_strmap_init(&m);
		if ((rc = count_cats(t, j, &m)) == 0 && m.n && (rc = ranked(&m, &cc)) == 0) {
			if (ty == DS_STRING)
				*out = json_stringn(cc[0].key, cc[0].len);
			else
				*out = json_boolean(cc[0].key[0] == 't');
			if (!*out)
				rc = sl__oom();
		}
		sl__free(cc);
		tf_strmap_free(&m);
		return rc;
	}
	/* Numbers: sort and count runs (exact for int64 and timestamps too). */
	size_t nrow = ds_nrow(t), n = 0;
	if (ty == DS_FLOAT64) {
		double *v;
		if ((rc = col_values(t, j, true, &v, &n)))
			return rc;
		size_t best = longest_run(v, n, sizeof *v, eq_f64);
		if (n && !(*out = json_real(v[best])))
			rc = sl__oom();
		sl__free(v);
		return rc;
	}
	int64_t *v = sl__calloc(nrow + 1, sizeof *v);
	const int64_t *x = ds_col_i64(t, j);
	const uint8_t *valid = ds_col_validity(t, j);
	if (!v)
		return sl__oom();
	for (size_t i = 0; i < nrow; i++)
		if (ds_valid(valid, i))
			v[n++] = x[i];
	qsort(v, n, sizeof *v, cmp_i64);
	size_t best = longest_run(v, n, sizeof *v, eq_i64);
	if (n) {
		expr_value ev = {.i = v[best]};
		*out = tf_value_to_json(ty, &ev);
	}
	sl__free(v);
	return 0;
}

typedef struct df_arg {
	strmap *m;
	uint32_t doc;
} df_arg;

static int df_tok(void *arg, const char *tok, size_t len)
{
	df_arg *a = arg;
	size_t k;
	int rc = tf_strmap_add(a->m, tok, len, &k);

	if (rc == 0 && a->m->last[k] != a->doc) {
		a->m->last[k] = a->doc;
		a->m->count[k]++;
	}
	return rc;
}

/* Sets o[key] to the pair [a, b] (both consumed, either may be NULL): 0 or SL_ENOMEM. */
static int pair_of(json_t *o, const char *key, json_t *a, json_t *b)
{
	json_t *pair = json_array();

	if (sl__json_push(pair, a)) {
		json_decref(b);
		json_decref(pair);
		return SL_ENOMEM;
	}
	if (sl__json_push(pair, b)) {
		json_decref(pair);
		return SL_ENOMEM;
	}
	return sl__json_set(o, key, pair);
}

/* Adds the learned fields to the normalised op o, fitted on t (schema in; t NULL: schema only). */
int tf_fit_op(json_t *o, const char *where, const tf_schema *in, const ds_table *t)
{
	int kind = tf_op_kind(tf_get_str(o, "op", "")), rc = 0;
	size_t *cols = NULL, ncols = 0;

	switch (kind) {
	case K_IMPUTE: {
		static const char *const strategies[] = {"mean", "median", "mode", "constant"};
		int st;
		json_t *fill;
		if ((rc = tf_get_choice(o, "strategy", where, strategies, 4, 0, &st)))
			break;
		if ((rc = sl__json_set(o, "strategy", json_string(strategies[st]))) ||
		    (rc = default_cols(o, in, st <= 1 ? tf_is_numeric : any_type)) ||
		    (rc = tf_get_cols(o, "columns", where, in, &cols, &ncols)))
			break;
		if (st == 3 && !json_object_get(o, "value")) {
			rc = sl__err(SL_EINVAL, "%s.value: required with strategy: constant", where);
			break;
		}
		if ((rc = sl__json_set(o, "fill", fill = json_object())))
			break;
		for (size_t q = 0; q < ncols && rc == 0; q++) {
			size_t j = cols[q];
			const char *name = in->c[j].name;
			ds_type ty = in->c[j].type;
			json_t *val = NULL;
			if (st <= 1 && !tf_is_numeric(ty)) {
				rc = sl__err(SL_EINVAL, "%s: column '%s' is %s; %s needs numbers", where, name,
					     ds_type_name(ty), strategies[st]);
				break;
			}
			if (!t)
				continue; /* schema only: nothing to learn from */
			if (st <= 1) {
				double *v, m;
				size_t n;
				if ((rc = col_values(t, j, st == 1, &v, &n)))
					break;
				if (n) {
					if (st == 0)
						sl__mean_var(v, n, 0, &m, NULL, NULL);
					else
						m = sl__quantile_sorted(v, n, 0.5);
					if (!(val = json_real(m)))
						rc = sl__oom();
				}
				sl__free(v);
				if (rc)
					break;
			} else if (st == 2) {
				if ((rc = col_mode(t, j, &val)))
					break;
			} else if (!(val = json_deep_copy(json_object_get(o, "value")))) {
				rc = sl__oom();
				break;
			}
			if (!val) {
				rc = sl__err(SL_EINVAL, "%s: column '%s' has no values to compute a %s from; use strategy: constant",
					     where, name, strategies[st]);
				break;
			}
			rc = sl__json_set(fill, name, val);
		}
		break;
	}
	case K_CLIP: {
		double lo = 0, hi = 0, ql = 0, qh = 0;
		bool hlo, hhi, hql, hqh;
		json_t *b;
		if ((rc = default_cols(o, in, tf_is_numeric)) || (rc = tf_get_cols(o, "columns", where, in, &cols, &ncols)) ||
		    (rc = tf_get_num(o, "min", where, &lo, &hlo)) || (rc = tf_get_num(o, "max", where, &hi, &hhi)) ||
		    (rc = tf_get_num(o, "lower_quantile", where, &ql, &hql)) ||
		    (rc = tf_get_num(o, "upper_quantile", where, &qh, &hqh)))
			break;
		if ((hlo && hql) || (hhi && hqh)) {
			rc = sl__err(SL_EINVAL, "%s: give min/max or lower_quantile/upper_quantile, not both", where);
			break;
		}
		if ((hql && (ql < 0 || ql > 1)) || (hqh && (qh < 0 || qh > 1))) {
			rc = sl__err(SL_EINVAL, "%s: quantiles are between 0 and 1", where);
			break;
		}
		if (!hlo && !hhi && !hql && !hqh) {
			rc = sl__err(SL_EINVAL, "%s: give min, max, lower_quantile or upper_quantile", where);
			break;
		}
		if ((rc = sl__json_set(o, "bounds", b = json_object())))
			break;
		for (size_t q = 0; q < ncols && rc == 0; q++) {
			size_t j = cols[q];
			double *v = NULL, l = lo, h = hi;
			size_t n = 0;
			if (!tf_is_numeric(in->c[j].type)) {
				rc = sl__err(SL_EINVAL, "%s: column '%s' is %s; clip needs numbers", where,
					     in->c[j].name, ds_type_name(in->c[j].type));
				break;
			}
			if (!t)
				continue;
			if ((hql || hqh) && (rc = col_values(t, j, true, &v, &n)))
				break;
			if ((hql || hqh) && n == 0) {
				sl__free(v);
				rc = sl__err(SL_EINVAL, "%s: column '%s' has no values to compute quantiles from",
					     where, in->c[j].name);
				break;
			}
			if (hql)
				l = sl__quantile_sorted(v, n, ql);
			if (hqh)
				h = sl__quantile_sorted(v, n, qh);
			sl__free(v);
			rc = pair_of(b, in->c[j].name, hlo || hql ? json_real(l) : json_null(),
				     hhi || hqh ? json_real(h) : json_null());
		}
		break;
	}
	case K_NORMALISE: {
		static const char *const methods[] = {"zscore", "minmax"};
		int m;
		json_t *s;
		if ((rc = tf_get_choice(o, "method", where, methods, 2, 0, &m)))
			break;
		if ((rc = sl__json_set(o, "method", json_string(methods[m]))) ||
		    (rc = default_cols(o, in, tf_is_numeric)) || (rc = tf_get_cols(o, "columns", where, in, &cols, &ncols)) ||
		    (rc = sl__json_set(o, "scale", s = json_object())))
			break;
		for (size_t q = 0; q < ncols && rc == 0; q++) {
			size_t j = cols[q], n;
			double *v, c0 = 0, sc = 1, sd, var;
			if (!tf_is_numeric(in->c[j].type)) {
				rc = sl__err(SL_EINVAL, "%s: column '%s' is %s; normalise needs numbers", where,
					     in->c[j].name, ds_type_name(in->c[j].type));
				break;
			}
			if (!t)
				continue;
			if ((rc = col_values(t, j, m == 1, &v, &n)))
				break;
			if (n && m == 0) {
				sl__mean_var(v, n, 0, &c0, &var, NULL);
				sd = sqrt(var); /* population std, as StandardScaler */
				sc = sd > 0 ? sd : 1; /* a constant column is centred, not scaled */
			} else if (n) {
				c0 = v[0];
				sc = v[n - 1] - v[0] > 0 ? v[n - 1] - v[0] : 1;
			}
			sl__free(v);
			rc = pair_of(s, in->c[j].name, json_real(c0), json_real(sc));
		}
		break;
	}
	case K_ENCODE: {
		static const char *const methods[] = {"onehot", "ordinal", "hashing"};
		int m;
		int64_t maxc;
		json_t *cats;
		if ((rc = tf_get_choice(o, "method", where, methods, 3, 0, &m)) ||
		    (rc = tf_get_int(o, "max_categories", where, 0, 0, &maxc)))
			break;
		if ((rc = sl__json_set(o, "method", json_string(methods[m]))) ||
		    (rc = default_cols(o, in, cat_type)) || (rc = tf_get_cols(o, "columns", where, in, &cols, &ncols)))
			break;
		if (m == 2)
			break;
		if ((rc = sl__json_set(o, "categories", cats = json_object())))
			break;
		for (size_t q = 0; q < ncols && rc == 0; q++) {
			size_t j = cols[q], keep;
			strmap mp;
			catcount *cc = NULL;
			ds_type ty = in->c[j].type;
			if (ty != DS_STRING && ty != DS_INT64 && ty != DS_BOOL) {
				rc = sl__err(SL_EINVAL, "%s: column '%s' is %s; encode needs string, int64 or bool",
					     where, in->c[j].name, ds_type_name(ty));
				break;
			}
			if (!t)
				continue;
			tf_strmap_init(&mp);
			if ((rc = count_cats(t, j, &mp)) == 0 && (rc = ranked(&mp, &cc)) == 0) {
				keep = maxc > 0 && (size_t)maxc < mp.n ? (size_t)maxc : mp.n;
				qsort(cc, keep, sizeof *cc, by_key);
				json_t *l = json_array();
				for (size_t k = 0; l && k < keep && rc == 0; k++)
					rc = sl__json_push(l, json_stringn(cc[k].key, cc[k].len));
				if (rc)
					json_decref(l);
				else
					rc = sl__json_set(cats, in->c[j].name, l);
			}
			sl__free(cc);
			tf_strmap_free(&mp);
		}
		break;
	}
	case K_TEXT: {
		static const char *const outputs[] = {"text", "tokens", "counts", "binary", "tfidf"};
		int mode;
		int64_t maxf, mindf, minlen;
		bool lower = !json_is_false(json_object_get(o, "lowercase"));
		long j;
		if ((rc = tf_get_choice(o, "output", where, outputs, 5, TX_TFIDF, &mode)) ||
		    (rc = tf_get_int(o, "max_features", where, 1000, 1, &maxf)) ||
		    (rc = tf_get_int(o, "min_df", where, 1, 1, &mindf)) ||
		    (rc = tf_get_int(o, "min_token_length", where, 2, 1, &minlen)))
			break;
		if ((rc = sl__json_set(o, "output", json_string(outputs[mode]))) ||
		    (rc = sl__json_set(o, "lowercase", json_boolean(lower))) ||
		    (rc = sl__json_set(o, "min_token_length", json_integer(minlen))) || mode <= TX_TOKENS)
			break;
		if ((rc = sl__json_set(o, "max_features", json_integer(maxf))) ||
		    (rc = sl__json_set(o, "min_df", json_integer(mindf))))
			break;
		if (!json_is_string(json_object_get(o, "column")) ||
		    (j = tf_schema_find(in, tf_get_str(o, "column", ""))) < 0 || in->c[j].type != DS_STRING ||
		    !t)
			break; /* compile_op reports it; or schema only */
		strmap m;
		catcount *cc = NULL;
		char tokbuf[TOKEN_MAX];
		size_t nrow = ds_nrow(t), keep = 0;
		tf_strmap_init(&m);
		for (size_t i = 0; i < nrow && rc == 0; i++) {
			size_t len;
			const char *s = ds_col_str(t, (size_t)j, i, &len);
			df_arg a = {&m, (uint32_t)i};
			if (s)
				rc = tf_tokenize(s, len, lower, (size_t)minlen, tokbuf, TOKEN_MAX, df_tok, &a);
		}
		if (rc == 0 && (rc = ranked(&m, &cc)) == 0) {
			/* Most frequent by document frequency, ties by term; then sorted by term. */
			while (keep < m.n && keep < (size_t)maxf && cc[keep].count >= (uint64_t)mindf)
				keep++;
			qsort(cc, keep, sizeof *cc, by_key);
			json_t *voc = json_array(), *idf = json_array();
			if (!voc || !idf)
				rc = sl__oom();
			for (size_t k = 0; k < keep && rc == 0; k++) {
				/* Smoothed idf, as scikit-learn's TfidfVectorizer. */
				if ((rc = sl__json_push(voc, json_stringn(cc[k].key, cc[k].len))) == 0)
					rc = sl__json_push(idf, json_real(log((1.0 + (double)nrow) /
									      (1.0 + (double)cc[k].count)) + 1.0));
			}
			if (rc == 0) {
				rc = sl__json_set(o, "vocabulary", voc);
				voc = NULL;
			}
			if (rc == 0 && mode == TX_TFIDF) {
				rc = sl__json_set(o, "idf", idf);
				idf = NULL;
			}
			json_decref(voc);
			json_decref(idf);
		}
		sl__free(cc);
		tf_strmap_free(&m);
		break;
	}
	case K_DEDUPE:
		if (json_object_get(o, "keep") && strcmp(tf_get_str(o, "keep", ""), "first")) {
			rc = sl__err(SL_EINVAL, "%s.keep: only 'first' is supported", where);
			break;
		}
		rc = sl__json_set(o, "keep", json_string("first"));
		break;
	default:
		break;
	}
	sl__free(cols);
	return rc;
}
