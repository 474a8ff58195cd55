/*
 * The fitted transform (see transform.h): compiling op objects, the artifact
 * format, and application to tables and to single rows. Learning the
 * parameters of each op is transform_fit.c; what the two share is in
 * transform_int.h.
 *
 * Design notes:
 *
 *  1. Fitting an operation only adds learned fields to its (normalised) op
 *     object; applying always starts from that object. So fit-then-apply in
 *     wrangle and apply-from-artifact run the same code on the same JSON, and
 *     the artifact cannot disagree with what produced the training data.
 *  2. An op object is compiled against its input schema into an output
 *     schema and a list of producers. A producer reads one input column (or,
 *     for derive, an expression over all of them) and makes one or more
 *     output columns; untouched columns are P_PASS producers.
 *  3. Each producer kind has one scalar kernel (kern()) used by both paths:
 *     the table path calls it for every row of the column, the row path
 *     once. Only P_PASS (a bulk copy), P_EXPR (the expression evaluator,
 *     itself shared between the paths) and the history-dependent P_LAG and
 *     P_ROLL (table only) take other routes.
 *  4. For the row path every schema column has a slot in the workspace.
 *     Input column k is slot k; P_PASS outputs reuse their input's slot, so a
 *     column that flows through untouched is never copied; every other
 *     output gets a fresh slot at compile time. String outputs own a buffer
 *     per slot that keeps its capacity, so a warm workspace allocates nothing.
 *  5. Missing values: null everywhere, and for the statistics and for impute
 *     also NaN and +-Inf in float columns, since they cannot be averaged and
 *     JSON cannot hold them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/transform.h"
#include "hmap.h"
#include "dataset/transform_int.h"

const char *const tf_date_parts[TF_N_DATE_PARTS] = {"year", "quarter", "month", "day", "weekday",
							"dayofyear", "hour", "minute", "second"};
const double tf_date_period[TF_N_DATE_PARTS] = {0, 4, 12, 31, 7, 366, 24, 60, 60};

/* ---- small helpers --------------------------------------------------------- */

/*
 * The bucket of a value under encode's hashing trick (method: hash): FNV-1a
 * of its text. A fitted transform stores only the bucket count, so this
 * function is part of what every saved transform means: changing it would
 * silently move users' categories to other columns. It is frozen here for
 * that one purpose; everything else hashes with sl__hash64.
 */
uint64_t tf_bucket_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

void tf_strmap_init(strmap *m)
{
	memset(m, 0, sizeof *m);
	sl__buf_init(&m->keys, 0);
	sl__hmap_init(&m->idx);
}

void tf_strmap_free(strmap *m)
{
	sl__buf_free(&m->keys);
	sl__free(m->off);
	sl__free(m->len);
	sl__free(m->count);
	sl__free(m->last);
	sl__hmap_free(&m->idx);
	memset(m, 0, sizeof *m);
}

const char *tf_strmap_key(const strmap *m, size_t k)
{
	return m->keys.data + m->off[k];
}

typedef struct strmap_probe {
	const strmap *m;
	const char *s;
	size_t n;
} strmap_probe;

static bool strmap_eq(const void *ctx, uint32_t id)
{
	const strmap_probe *p = ctx;

	return p->m->len[id] == p->n && (p->n == 0 || !memcmp(tf_strmap_key(p->m, id), p->s, p->n));
}

static uint32_t strmap_tag(const char *s, size_t n)
{
	return sl__hmap_tag(sl__hash64(s, n));
}

long tf_strmap_find(const strmap *m, const char *s, size_t n)
{
	strmap_probe p = {m, s, n};
	uint32_t id = sl__hmap_find(&m->idx, strmap_tag(s, n), strmap_eq, &p);

	return id == SL__HMAP_NONE ? -1 : (long)id;
}

/* The index of s, adding it (count 0) when new. */
int tf_strmap_add(strmap *m, const char *s, size_t n, size_t *out)
{
	strmap_probe p = {m, s, n};
	uint32_t tag = strmap_tag(s, n), id;
	size_t pos = 0;
	int rc;

	if ((rc = sl__hmap_reserve(&m->idx, 1)))
		return rc;
	id = sl__hmap_probe(&m->idx, tag, strmap_eq, &p, &pos);
	if (id != SL__HMAP_NONE) {
		*out = id;
		return 0;
	}
	if (m->n >= UINT32_MAX - 1)
		return sl__err(SL_ELIMIT, "too many distinct values");
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		size_t *o = sl__reallocarray(m->off, nc, sizeof *o);
		if (o)
			m->off = o;
		size_t *l = o ? sl__reallocarray(m->len, nc, sizeof *l) : NULL;
		if (l)
			m->len = l;
		uint64_t *c = l ? sl__reallocarray(m->count, nc, sizeof *c) : NULL;
		if (c)
			m->count = c;
		uint32_t *la = c ? sl__reallocarray(m->last, nc, sizeof *la) : NULL;
		if (!la)
			return sl__oom();
		m->last = la;
		m->cap = nc;
	}
	m->off[m->n] = m->keys.len;
	m->len[m->n] = n;
	m->count[m->n] = 0;
	m->last[m->n] = UINT32_MAX;
	if ((rc = sl__buf_append(&m->keys, s, n)) || (rc = sl__buf_putc(&m->keys, '\0')))
		return rc;
	sl__hmap_put_at(&m->idx, pos, tag, (uint32_t)m->n);
	*out = m->n++;
	return 0;
}

int tf_cmp_bytes(const char *a, size_t la, const char *b, size_t lb)
{
	size_t m = la < lb ? la : lb;
	int c = m ? memcmp(a, b, m) : 0;

	if (c)
		return c;
	return la < lb ? -1 : (la > lb ? 1 : 0);
}

int tf_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Reads row i of column j of t as a value. */
void tf_load(const ds_table *t, size_t j, size_t i, expr_value *v)
{
	memset(v, 0, sizeof *v);
	if (!ds_valid(ds_col_validity(t, j), i)) {
		v->null = true;
		return;
	}
	switch (ds_col_type(t, j)) {
	case DS_INT64:
	case DS_TIMESTAMP: v->i = ds_col_i64(t, j)[i]; break;
	case DS_FLOAT64: v->f = ds_col_f64(t, j)[i]; break;
	case DS_BOOL: v->i = ds_col_bool(t, j)[i]; break;
	case DS_STRING: v->s = ds_col_str(t, j, i, &v->len); break;
	}
}

static int put(ds_builder *b, size_t j, ds_type t, const expr_value *v)
{
	if (v->null)
		return ds_append_null(b, j);
	switch (t) {
	case DS_INT64:
	case DS_TIMESTAMP: return ds_append_i64(b, j, v->i);
	case DS_FLOAT64: return ds_append_f64(b, j, v->f);
	case DS_BOOL: return ds_append_bool(b, j, v->i != 0);
	case DS_STRING: return ds_append_str(b, j, v->s ? v->s : "", v->s ? v->len : 0);
	}
	return sl__err(SL_EINVAL, "bad column type");
}

/* The text key of a category value (string, int64 or bool), in buf (>= 32 bytes) or borrowed. */
const char *tf_cat_key(ds_type t, const expr_value *v, char *buf, size_t *len)
{
	if (t == DS_STRING) {
		*len = v->len;
		return v->s ? v->s : "";
	}
	if (t == DS_BOOL) {
		*len = v->i ? 4 : 5;
		return v->i ? "true" : "false";
	}
	*len = (size_t)snprintf(buf, 32, "%lld", (long long)v->i);
	return buf;
}

/* ---- schema and producers --------------------------------------------------- */

static void tf_schema_free(tf_schema *s)
{
	for (size_t k = 0; k < s->n; k++)
		sl__free(s->c[k].name);
	sl__free(s->c);
	memset(s, 0, sizeof *s);
}

static int tf_schema_add(tf_schema *s, const char *name, ds_type type, size_t slot)
{
	for (size_t k = 0; k < s->n; k++)
		if (!strcmp(s->c[k].name, name))
			return sl__err(SL_EEXIST, "column '%s' would exist twice", name);
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		tf_scol *c = sl__reallocarray(s->c, nc, sizeof *c);
		if (!c)
			return sl__oom();
		s->c = c;
		s->cap = nc;
	}
	if (!(s->c[s->n].name = sl__strdup(name)))
		return sl__oom();
	s->c[s->n].type = type;
	s->c[s->n].slot = slot;
	s->n++;
	return 0;
}

long tf_schema_find(const tf_schema *s, const char *name)
{
	for (size_t k = 0; k < s->n; k++)
		if (!strcmp(s->c[k].name, name))
			return (long)k;
	return -1;
}

static void op_free(op *o)
{
	for (size_t k = 0; k < o->np; k++) {
		prod *p = &o->p[k];
		sl__free(p->fill_str);
		tf_strmap_free(&p->cats);
		sl__free(p->idf);
		expr_free(p->e);
	}
	sl__free(o->p);
	tf_schema_free(&o->out);
	expr_free(o->filter);
	sl__free(o->keys);
	sl__free(o->where);
	memset(o, 0, sizeof *o);
}

void transform_free(transform *tr)
{
	if (!tr)
		return;
	for (size_t k = 0; k < tr->nops; k++)
		op_free(&tr->ops[k]);
	sl__free(tr->ops);
	tf_schema_free(&tr->in);
	json_decref(tr->ops_json);
	sl__free(tr);
}

static const tf_schema *final_schema(const transform *tr)
{
	return tr->nops ? &tr->ops[tr->nops - 1].out : &tr->in;
}

/* ---- option reading --------------------------------------------------------- */

const char *const tf_op_names[] = {"select", "drop", "rename", "cast", "filter", "dedupe",
				       "impute", "clip", "normalise", "encode", "text", "dates",
				       "lag", "rolling", "derive"};

int tf_op_kind(const char *name)
{
	if (!strcmp(name, "normalize") || !strcmp(name, "scale"))
		return K_NORMALISE;
	if (!strcmp(name, "drop_duplicates"))
		return K_DEDUPE;
	for (int k = 0; k < K_N; k++)
		if (!strcmp(name, tf_op_names[k]))
			return k;
	return -1;
}

int tf_bad_col(const char *where, const char *key, const tf_schema *s, const char *name)
{
	const char **names = sl__calloc(s->n ? s->n : 1, sizeof *names);
	const char *sug = NULL;

	if (names) {
		for (size_t k = 0; k < s->n; k++)
			names[k] = s->c[k].name;
		sug = expr_suggest(name, names, s->n);
	}
	if (sug) {
		sl__err(SL_EINVAL, "%s.%s: unknown column '%s'; did you mean '%s'?", where, key, name, sug);
	} else {
		sl__err(SL_EINVAL, "%s.%s: unknown column '%s'", where, key, name);
	}
	sl__free(names);
	return SL_EINVAL;
}

/*
 * Reads option key (a string or a list of strings) as column indices of s.
 * Absent: *out_n = 0 and *out = NULL (callers decide the default).
 */
int tf_get_cols(const json_t *o, const char *key, const char *where, const tf_schema *s,
		    size_t **out, size_t *out_n)
{
	const json_t *v = json_object_get(o, key);
	size_t n, *idx;

	*out = NULL;
	*out_n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		n = 1;
	else if (json_is_array(v))
		n = json_array_size(v);
	else
		return sl__err(SL_EINVAL, "%s.%s: expected a column name or a list of names", where, key);
	if (!(idx = sl__calloc(n ? n : 1, sizeof *idx)))
		return sl__oom();
	for (size_t k = 0; k < n; k++) {
		const json_t *x = json_is_string(v) ? v : json_array_get(v, k);
		long j;
		if (!json_is_string(x)) {
			sl__free(idx);
			return sl__err(SL_EINVAL, "%s.%s[%zu]: expected a column name", where, key, k);
		}
		if ((j = tf_schema_find(s, json_string_value(x))) < 0) {
			/* Name the item, so that the message points at it in the file. */
			char item[128];
			if (json_is_array(v))
				snprintf(item, sizeof item, "%s[%zu]", key, k);
			sl__free(idx);
			return tf_bad_col(where, json_is_array(v) ? item : key, s, json_string_value(x));
		}
		for (size_t q = 0; q < k; q++) {
			if (idx[q] == (size_t)j) {
				sl__free(idx);
				return sl__err(SL_EINVAL, "%s.%s: column '%s' listed twice", where, key,
					       json_string_value(x));
			}
		}
		idx[k] = (size_t)j;
	}
	*out = idx;
	*out_n = n;
	return 0;
}

const char *tf_get_str(const json_t *o, const char *key, const char *def)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : def;
}

int tf_get_choice(const json_t *o, const char *key, const char *where, const char *const *names,
		      size_t n, int def, int *out)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	for (size_t k = 0; json_is_string(v) && k < n; k++) {
		if (!strcmp(json_string_value(v), names[k])) {
			*out = (int)k;
			return 0;
		}
	}
	sl__buf b;
	sl__buf_init(&b, 4096);
	for (size_t k = 0; k < n; k++)
		sl__buf_printf(&b, "%s%s", k ? ", " : "", names[k]);
	sl__err(SL_EINVAL, "%s.%s: expected one of %s", where, key, b.data ? b.data : "");
	sl__buf_free(&b);
	return SL_EINVAL;
}

int tf_get_int(const json_t *o, const char *key, const char *where, int64_t def, int64_t min,
		   int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
	    fabs(json_real_value(v)) < 9e15)
		*out = (int64_t)json_real_value(v);
	else if (json_is_integer(v))
		*out = (int64_t)json_integer_value(v);
	else
		return sl__err(SL_EINVAL, "%s.%s: expected an integer", where, key);
	if (*out < min)
		return sl__err(SL_EINVAL, "%s.%s: must be at least %lld", where, key, (long long)min);
	return 0;
}

int tf_get_num(const json_t *o, const char *key, const char *where, double *out, bool *present)
{
	const json_t *v = json_object_get(o, key);

	*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return sl__err(SL_EINVAL, "%s.%s: expected a number", where, key);
	*out = json_number_value(v);
	*present = true;
	return 0;
}

/* A JSON value as a typed value of type t (for impute fills); false when it does not fit. */
static bool json_to_value(const json_t *v, ds_type t, expr_value *out, char **out_str)
{
	memset(out, 0, sizeof *out);
	*out_str = NULL;
	switch (t) {
	case DS_INT64:
		if (json_is_integer(v)) {
			out->i = (int64_t)json_integer_value(v);
			return true;
		}
		if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
		    fabs(json_real_value(v)) < 9e15) {
			out->i = (int64_t)json_real_value(v);
			return true;
		}
		return false;
	case DS_FLOAT64:
		if (!json_is_number(v))
			return false;
		out->f = json_number_value(v);
		return true;
	case DS_BOOL:
		if (!json_is_boolean(v))
			return false;
		out->i = json_is_true(v);
		return true;
	case DS_TIMESTAMP:
		return json_is_string(v) &&
		       ds_parse_timestamp(json_string_value(v), json_string_length(v), &out->i);
	case DS_STRING:
		if (!json_is_string(v) || !(*out_str = sl__strndup(json_string_value(v), json_string_length(v))))
			return false;
		out->s = *out_str;
		out->len = json_string_length(v);
		return true;
	}
	return false;
}

json_t *tf_value_to_json(ds_type t, const expr_value *v)
{
	char buf[DS_TS_BUF];

	if (v->null)
		return json_null();
	switch (t) {
	case DS_INT64: return json_integer((json_int_t)v->i);
	case DS_FLOAT64: return json_real(v->f);
	case DS_BOOL: return json_boolean(v->i);
	case DS_TIMESTAMP:
		ds_format_timestamp(v->i, buf);
		return json_string(buf);
	case DS_STRING: return json_stringn(v->s, v->len);
	}
	return json_null();
}

/* ---- kernels (note 3) --------------------------------------------------------- */

static void civil(int64_t us, int64_t *y, int *m, int *d, int64_t *days_out, int64_t *sod)
{
	int64_t days = us / 86400000000LL, rem = us % 86400000000LL;

	if (rem < 0) {
		rem += 86400000000LL;
		days--;
	}
	*days_out = days;
	*sod = rem / 1000000;
	/* Days to civil date (proleptic Gregorian), era-based. */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t date_part(int64_t us, int part)
{
	int64_t y, days, sod;
	int m, d;

	civil(us, &y, &m, &d, &days, &sod);
	switch (part) {
	case D_YEAR: return y;
	case D_QUARTER: return (m - 1) / 3 + 1;
	case D_MONTH: return m;
	case D_DAY: return d;
	case D_WEEKDAY: return ((days % 7) + 7 + 3) % 7; /* Monday = 0; 1970-01-01 was a Thursday */
	case D_DAYOFYEAR: {
		static const int cum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		return cum[m - 1] + d + (leap && m > 2);
	}
	case D_HOUR: return sod / 3600;
	case D_MINUTE: return sod / 60 % 60;
	default: return sod % 60;
	}
}

static bool tok_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c >= 0x80;
}

/*
 * Calls fn for each token of s (maximal runs of letters, digits, '_' and
 * non-ASCII bytes of at least min_len bytes), lowercased into tmp when lower.
 */
int tf_tokenize(const char *s, size_t n, bool lower, size_t min_len, char *tmp, size_t tmpcap,
		    tok_fn fn, void *arg)
{
	size_t i = 0;
	int rc;

	while (i < n) {
		while (i < n && !tok_char((unsigned char)s[i]))
			i++;
		size_t st = i;
		while (i < n && tok_char((unsigned char)s[i]))
			i++;
		size_t len = i - st;
		if (len == 0 || len < min_len)
			continue;
		const char *t = s + st;
		if (lower) {
			if (len > tmpcap)
				len = tmpcap; /* tokens longer than the buffer are cut, consistently */
			for (size_t k = 0; k < len; k++) {
				char c = s[st + k];
				tmp[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
			}
			t = tmp;
		}
		if ((rc = fn(arg, t, len)))
			return rc;
	}
	return 0;
}

typedef struct text_acc {
	const prod *p;
	expr_value *out;
	sl__buf *sb;
} text_acc;

static int text_count_tok(void *arg, const char *tok, size_t len)
{
	text_acc *a = arg;
	long k = tf_strmap_find(&a->p->cats, tok, len);

	if (k >= 0) {
		if (a->p->mode == TX_BINARY)
			a->out[k].f = 1;
		else
			a->out[k].f += 1;
	}
	return 0;
}

static int text_join_tok(void *arg, const char *tok, size_t len)
{
	text_acc *a = arg;
	int rc = 0;

	if (a->sb->len)
		rc = sl__buf_putc(a->sb, ' ');
	return rc ? rc : sl__buf_append(a->sb, tok, len);
}

static int cast_fail(const prod *p, const char *what)
{
	return sl__err(SL_EPARSE, "cannot cast %s to %s", what, ds_type_name(p->otype));
}

/*
 * The single definition of what a producer computes for one value (note 3).
 * out has p->nout entries; string results are written to sb (reset here) or
 * point into in or into p.
 */
static int kern(const prod *p, const expr_value *in, expr_value *out, sl__buf *sb)
{
	char tmp[DS_TS_BUF > 64 ? DS_TS_BUF : 64];

	switch (p->kind) {
	case P_PASS:
		*out = *in;
		return 0;
	case P_CAST:
		memset(out, 0, sizeof *out);
		if (in->null || p->itype == p->otype) {
			*out = *in;
			return 0;
		}
		switch (p->otype) {
		case DS_STRING: {
			size_t n;
			sl__buf_reset(sb);
			if (p->itype == DS_FLOAT64)
				n = ds_format_f64(in->f, tmp);
			else if (p->itype == DS_TIMESTAMP)
				n = ds_format_timestamp(in->i, tmp);
			else if (p->itype == DS_BOOL)
				n = (size_t)snprintf(tmp, sizeof tmp, "%s", in->i ? "true" : "false");
			else
				n = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)in->i);
			if (sl__buf_append(sb, tmp, n))
				return SL_ENOMEM;
			out->s = sb->data;
			out->len = n;
			return 0;
		}
		case DS_FLOAT64:
			if (p->itype == DS_STRING) {
				if (!ds_parse_f64(in->s, in->len, &out->f))
					goto bad;
			} else {
				out->f = (double)in->i;
			}
			return 0;
		case DS_INT64:
		case DS_TIMESTAMP:
			if (p->itype == DS_STRING) {
				bool ok = p->otype == DS_INT64 ? ds_parse_i64(in->s, in->len, &out->i)
							       : ds_parse_timestamp(in->s, in->len, &out->i);
				if (!ok)
					goto bad;
			} else if (p->itype == DS_FLOAT64) {
				if (!(in->f >= -9.2e18 && in->f <= 9.2e18))
					goto bad;
				out->i = (int64_t)in->f; /* toward zero, as astype(int) */
			} else {
				out->i = in->i;
			}
			return 0;
		case DS_BOOL:
			if (p->itype == DS_STRING) {
				bool b;
				if (!ds_parse_bool(in->s, in->len, &b))
					goto bad;
				out->i = b;
			} else if (p->itype == DS_FLOAT64) {
				if (isnan(in->f))
					goto bad;
				out->i = in->f != 0;
			} else {
				out->i = in->i != 0;
			}
			return 0;
		}
	bad:
		if (p->fail) {
			if (p->itype == DS_STRING)
				return cast_fail(p, in->len > 40 ? "a long string" : "this value");
			return cast_fail(p, ds_type_name(p->itype));
		}
		memset(out, 0, sizeof *out);
		out->null = true;
		return 0;
	case P_IMPUTE: {
		bool missing = in->null || (p->itype == DS_FLOAT64 && !isfinite(in->f));
		if (missing) {
			*out = p->fill;
		} else {
			*out = *in;
			if (p->itype == DS_INT64 && p->otype == DS_FLOAT64)
				out->f = (double)in->i;
		}
		return 0;
	}
	case P_CLIP:
		*out = *in;
		if (in->null)
			return 0;
		if (p->itype == DS_INT64) {
			out->i = in->i < p->ilo ? p->ilo : (in->i > p->ihi ? p->ihi : in->i);
		} else if (!isnan(in->f)) {
			out->f = in->f < p->lo ? p->lo : (in->f > p->hi ? p->hi : in->f);
		}
		return 0;
	case P_AFFINE:
		memset(out, 0, sizeof *out);
		out->null = in->null;
		if (!in->null)
			out->f = ((p->itype == DS_INT64 ? (double)in->i : in->f) - p->lo) / p->hi;
		return 0;
	case P_ONEHOT:
	case P_ORDINAL:
	case P_HASH: {
		size_t len;
		const char *key;
		for (size_t k = 0; k < p->nout; k++) {
			memset(&out[k], 0, sizeof out[k]);
			out[k].null = p->kind == P_ORDINAL;
		}
		if (in->null)
			return 0;
		key = tf_cat_key(p->itype, in, tmp, &len);
		if (p->kind == P_HASH) {
			out[tf_bucket_hash(key, len) % p->buckets].f = 1;
			return 0;
		}
		long c = tf_strmap_find(&p->cats, key, len);
		if (c < 0)
			return 0;
		if (p->kind == P_ORDINAL) {
			out[0].null = false;
			out[0].i = c;
		} else {
			out[c].f = 1;
		}
		return 0;
	}
	case P_TEXT: {
		char tokbuf[TOKEN_MAX];
		text_acc a = {p, out, sb};
		int rc;
		if (p->mode == TX_TEXT || p->mode == TX_TOKENS) {
			memset(out, 0, sizeof *out);
			out->null = in->null;
			if (in->null)
				return 0;
			sl__buf_reset(sb);
			if (p->mode == TX_TEXT) {
				if (sl__buf_reserve(sb, in->len + 1))
					return SL_ENOMEM;
				for (size_t i = 0; i < in->len; i++) {
					char c = in->s[i];
					sb->data[i] = p->lower && c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
				}
				sb->len = in->len;
				sb->data[sb->len] = '\0';
			} else if ((rc = tf_tokenize(in->s, in->len, p->lower, p->min_len, tokbuf, TOKEN_MAX,
						  text_join_tok, &a))) {
				return rc;
			}
			out->s = sb->data ? sb->data : "";
			out->len = sb->len;
			return 0;
		}
		for (size_t k = 0; k < p->nout; k++)
			memset(&out[k], 0, sizeof out[k]);
		if (in->null)
			return 0;
		tf_tokenize(in->s, in->len, p->lower, p->min_len, tokbuf, TOKEN_MAX, text_count_tok, &a);
		if (p->mode == TX_TFIDF) {
			double ss = 0;
			for (size_t k = 0; k < p->nout; k++) {
				out[k].f *= p->idf[k];
				ss += out[k].f * out[k].f;
			}
			if (ss > 0) {
				double inv = 1.0 / sqrt(ss);
				for (size_t k = 0; k < p->nout; k++)
					out[k].f *= inv;
			}
		}
		return 0;
	}
	case P_DATEPART:
		memset(out, 0, sizeof *out);
		out->null = in->null;
		if (!in->null)
			out->i = date_part(in->i, p->mode);
		return 0;
	case P_CYCLIC: {
		memset(out, 0, sizeof *out);
		out->null = in->null;
		if (in->null)
			return 0;
		int64_t v = date_part(in->i, p->mode);
		/* One-based parts start the cycle at zero. */
		if (p->mode == D_MONTH || p->mode == D_DAY || p->mode == D_DAYOFYEAR || p->mode == D_QUARTER)
			v -= 1;
		double ang = 2 * M_PI * (double)v / tf_date_period[p->mode];
		out->f = p->cos ? cos(ang) : sin(ang);
		return 0;
	}
	}
	return sl__err(SL_EINVAL, "producer has no scalar kernel");
}

/* ---- compiling an op object (note 2) ------------------------------------------- */

typedef struct cctx {
	transform *tr;
	const tf_schema *in;
	op *o;
	const json_t *j;
	const char *where;
	/* Schema only (transform_check) when not NULL: the op has no learned
	 * fields, and *open is set when its output columns depend on the data
	 * (onehot's categories, a vocabulary), so they are not known. */
	bool *open;
} cctx;

static int new_prod(cctx *c, int kind, size_t in, prod **out)
{
	op *o = c->o;
	prod *np = sl__reallocarray(o->p, o->np + 1, sizeof *np);

	if (!np)
		return sl__oom();
	o->p = np;
	*out = &o->p[o->np++];
	memset(*out, 0, sizeof **out);
	(*out)->kind = kind;
	(*out)->in = in;
	(*out)->itype = in < c->in->n ? c->in->c[in].type : EXPR_TNULL;
	(*out)->out0 = o->out.n;
	tf_strmap_init(&(*out)->cats);
	return 0;
}

/* Adds output column name of type t for producer p (a new slot, or the input's for P_PASS). */
static int add_out(cctx *c, prod *p, const char *name, ds_type t)
{
	size_t slot = p->kind == P_PASS ? c->in->c[p->in].slot : c->tr->nslots++;
	int rc = tf_schema_add(&c->o->out, name, t, slot);

	if (rc == SL_EEXIST)
		return sl__err_prefix(rc, "%s", c->where);
	if (rc == 0)
		p->nout++;
	return rc;
}

static int pass(cctx *c, size_t j)
{
	prod *p;
	int rc = new_prod(c, P_PASS, j, &p);

	if (rc == 0) {
		p->otype = c->in->c[j].type;
		rc = add_out(c, p, c->in->c[j].name, p->otype);
	}
	return rc;
}

static bool in_list(const size_t *l, size_t n, size_t j)
{
	for (size_t k = 0; k < n; k++)
		if (l[k] == j)
			return true;
	return false;
}

/* The learned object `key` of op, holding column name -> value. */
static const json_t *learned(cctx *c, const char *key, const char *col, int *rc)
{
	const json_t *v = json_object_get(json_object_get(c->j, key), col);

	if (!v)
		*rc = sl__err(SL_ECORRUPT, "%s.%s: no learned value for column '%s'", c->where, key, col);
	return v;
}

static int compile_cols_op(cctx *c, int kind)
{
	const tf_schema *in = c->in;
	size_t *cols = NULL, ncols = 0;
	int rc;

	if ((rc = tf_get_cols(c->j, "columns", c->where, in, &cols, &ncols)))
		return rc;
	for (size_t j = 0; j < in->n && rc == 0; j++) {
		prod *p;
		const char *name = in->c[j].name;
		ds_type t = in->c[j].type;
		if (!in_list(cols, ncols, j)) {
			rc = pass(c, j);
			continue;
		}
		switch (kind) {
		case K_IMPUTE: {
			const json_t *v = c->open ? NULL : learned(c, "fill", name, &rc);
			if (rc || (rc = new_prod(c, P_IMPUTE, j, &p)))
				break;
			const char *st = tf_get_str(c->j, "strategy", "mean");
			p->otype = (t == DS_INT64 && (!strcmp(st, "mean") || !strcmp(st, "median"))) ? DS_FLOAT64 : t;
			if (!c->open && !json_to_value(v, p->otype, &p->fill, &p->fill_str)) {
				rc = sl__err(SL_EINVAL, "%s.fill: value for column '%s' is not a %s", c->where,
					     name, ds_type_name(p->otype));
				break;
			}
			rc = add_out(c, p, name, p->otype);
			break;
		}
		case K_CLIP: {
			const json_t *v = c->open ? NULL : learned(c, "bounds", name, &rc);
			if (rc || (rc = new_prod(c, P_CLIP, j, &p)))
				break;
			if (!tf_is_numeric(t) || (!c->open && (!json_is_array(v) || json_array_size(v) != 2))) {
				rc = sl__err(SL_EINVAL, "%s: column '%s' is %s; clip needs numbers", c->where,
					     name, ds_type_name(t));
				break;
			}
			const json_t *l = json_array_get(v, 0), *h = json_array_get(v, 1);
			p->lo = json_is_number(l) ? json_number_value(l) : -INFINITY;
			p->hi = json_is_number(h) ? json_number_value(h) : INFINITY;
			p->ilo = json_is_number(l) ? (int64_t)fmax(ceil(p->lo), -9.2e18) : INT64_MIN;
			p->ihi = json_is_number(h) ? (int64_t)fmin(floor(p->hi), 9.2e18) : INT64_MAX;
			p->otype = t;
			rc = add_out(c, p, name, t);
			break;
		}
		case K_NORMALISE: {
			const json_t *v = c->open ? NULL : learned(c, "scale", name, &rc);
			if (rc || (rc = new_prod(c, P_AFFINE, j, &p)))
				break;
			if (!tf_is_numeric(t) ||
			    (!c->open && (!json_is_array(v) || json_array_size(v) != 2 ||
					  !json_is_number(json_array_get(v, 0)) ||
					  !json_is_number(json_array_get(v, 1)) ||
					  json_number_value(json_array_get(v, 1)) == 0))) {
				rc = sl__err(SL_EINVAL, "%s: column '%s' is %s; normalise needs numbers",
					     c->where, name, ds_type_name(t));
				break;
			}
			p->lo = json_number_value(json_array_get(v, 0));
			p->hi = json_number_value(json_array_get(v, 1));
			p->otype = DS_FLOAT64;
			rc = add_out(c, p, name, DS_FLOAT64);
			break;
		}
		case K_ENCODE: {
			static const char *const methods[] = {"onehot", "ordinal", "hashing"};
			int m;
			const char *prefix = tf_get_str(c->j, "prefix", NULL);
			char *pre = NULL;
			if ((rc = tf_get_choice(c->j, "method", c->where, methods, 3, 0, &m)))
				break;
			if (t != DS_STRING && t != DS_INT64 && t != DS_BOOL) {
				rc = sl__err(SL_EINVAL, "%s: column '%s' is %s; encode needs string, int64 or bool",
					     c->where, name, ds_type_name(t));
				break;
			}
			if ((rc = new_prod(c, m == 0 ? P_ONEHOT : m == 1 ? P_ORDINAL : P_HASH, j, &p)))
				break;
			pre = prefix ? sl__strdup(prefix) : sl__asprintf("%s_", name);
			if (!pre) {
				rc = sl__oom();
				break;
			}
			if (m == 2) {
				int64_t nb;
				if ((rc = tf_get_int(c->j, "n_buckets", c->where, 16, 1, &nb)) == 0 && nb > 65536)
					rc = sl__err(SL_EINVAL, "%s.n_buckets: at most 65536", c->where);
				p->buckets = (uint64_t)nb;
				p->otype = DS_FLOAT64;
				for (int64_t k = 0; k < nb && rc == 0; k++) {
					char *on = sl__asprintf("%shash%lld", pre, (long long)k);
					rc = on ? add_out(c, p, on, DS_FLOAT64) : sl__oom();
					sl__free(on);
				}
			} else if (c->open) {
				/* Schema only: ordinal keeps the column, onehot's are the data's. */
				if (m == 1) {
					p->otype = DS_INT64;
					rc = add_out(c, p, name, DS_INT64);
				} else {
					*c->open = true;
				}
			} else {
				const json_t *cats = learned(c, "categories", name, &rc);
				size_t idx;
				if (rc == 0 && !json_is_array(cats))
					rc = sl__err(SL_EINVAL, "%s.categories.%s: expected a list", c->where, name);
				for (size_t k = 0; rc == 0 && k < json_array_size(cats); k++) {
					const json_t *x = json_array_get(cats, k);
					if (!json_is_string(x)) {
						rc = sl__err(SL_EINVAL, "%s.categories.%s[%zu]: expected a string",
							     c->where, name, k);
						break;
					}
					if ((rc = tf_strmap_add(&p->cats, json_string_value(x), json_string_length(x), &idx)))
						break;
					if (idx != k)
						rc = sl__err(SL_EINVAL, "%s.categories.%s: '%s' listed twice", c->where,
							     name, json_string_value(x));
				}
				if (rc == 0 && m == 1) {
					p->otype = DS_INT64;
					rc = add_out(c, p, name, DS_INT64);
				}
				for (size_t k = 0; rc == 0 && m == 0 && k < p->cats.n; k++) {
					char *on = sl__asprintf("%s%s", pre, tf_strmap_key(&p->cats, k));
					p->otype = DS_FLOAT64;
					rc = on ? add_out(c, p, on, DS_FLOAT64) : sl__oom();
					sl__free(on);
				}
			}
			sl__free(pre);
			break;
		}
		}
	}
	sl__free(cols);
	return rc;
}

static int compile_text(cctx *c)
{
	static const char *const outputs[] = {"text", "tokens", "counts", "binary", "tfidf"};
	const tf_schema *in = c->in;
	size_t *cols = NULL, ncols = 0;
	int64_t minlen;
	int mode, rc;

	if ((rc = tf_get_cols(c->j, "column", c->where, in, &cols, &ncols)))
		return rc;
	if (ncols != 1) {
		sl__free(cols);
		return sl__err(SL_EINVAL, "%s.column: expected one column name", c->where);
	}
	size_t col = cols[0];
	sl__free(cols);
	if (in->c[col].type != DS_STRING)
		return sl__err(SL_EINVAL, "%s.column: '%s' is %s; text needs a string column", c->where,
			       in->c[col].name, ds_type_name(in->c[col].type));
	if ((rc = tf_get_choice(c->j, "output", c->where, outputs, 5, TX_TFIDF, &mode)) ||
	    (rc = tf_get_int(c->j, "min_token_length", c->where, 2, 1, &minlen)))
		return rc;
	for (size_t j = 0; j < in->n && rc == 0; j++) {
		prod *p;
		if (j != col) {
			rc = pass(c, j);
			continue;
		}
		if ((rc = new_prod(c, P_TEXT, j, &p)))
			return rc;
		p->mode = mode;
		p->lower = !json_is_false(json_object_get(c->j, "lowercase"));
		p->min_len = (size_t)minlen;
		if (mode == TX_TEXT || mode == TX_TOKENS) {
			p->otype = DS_STRING;
			rc = add_out(c, p, in->c[j].name, DS_STRING);
			continue;
		}
		if (c->open) {
			*c->open = true; /* one column per term of the data's vocabulary */
			continue;
		}
		const json_t *voc = json_object_get(c->j, "vocabulary");
		const json_t *idf = json_object_get(c->j, "idf");
		const char *prefix = tf_get_str(c->j, "prefix", NULL);
		char *pre = prefix ? sl__strdup(prefix) : sl__asprintf("%s_", in->c[j].name);
		if (!pre)
			return sl__oom();
		if (!json_is_array(voc))
			rc = sl__err(SL_ECORRUPT, "%s.vocabulary: missing", c->where);
		if (rc == 0 && mode == TX_TFIDF &&
		    (!json_is_array(idf) || json_array_size(idf) != json_array_size(voc)))
			rc = sl__err(SL_ECORRUPT, "%s.idf: expected one weight per vocabulary term", c->where);
		if (rc == 0 && mode == TX_TFIDF &&
		    !(p->idf = sl__calloc(json_array_size(voc) + 1, sizeof *p->idf)))
			rc = sl__oom();
		p->otype = DS_FLOAT64;
		for (size_t k = 0; rc == 0 && k < json_array_size(voc); k++) {
			const json_t *x = json_array_get(voc, k);
			size_t idx;
			if (!json_is_string(x) || json_string_length(x) == 0 ||
			    json_string_length(x) > TOKEN_MAX) {
				rc = sl__err(SL_EINVAL, "%s.vocabulary[%zu]: expected a term", c->where, k);
				break;
			}
			if ((rc = tf_strmap_add(&p->cats, json_string_value(x), json_string_length(x), &idx)))
				break;
			if (idx != k) {
				rc = sl__err(SL_EINVAL, "%s.vocabulary: '%s' listed twice", c->where,
					     json_string_value(x));
				break;
			}
			if (p->idf) {
				const json_t *w = json_array_get(idf, k);
				if (!json_is_number(w)) {
					rc = sl__err(SL_EINVAL, "%s.idf[%zu]: expected a number", c->where, k);
					break;
				}
				p->idf[k] = json_number_value(w);
			}
			char *on = sl__asprintf("%s%s", pre, json_string_value(x));
			rc = on ? add_out(c, p, on, DS_FLOAT64) : sl__oom();
			sl__free(on);
		}
		sl__free(pre);
	}
	return rc;
}

static int get_parts(cctx *c, const char *key, bool cyc, int *parts, size_t *n)
{
	const json_t *v = json_object_get(c->j, key);

	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return sl__err(SL_EINVAL, "%s.%s: expected a list of date parts", c->where, key);
	for (size_t k = 0; k < json_array_size(v); k++) {
		const char *s = json_string_value(json_array_get(v, k));
		size_t q = 0;
		while (q < TF_N_DATE_PARTS && (!s || strcmp(s, tf_date_parts[q])))
			q++;
		if (q == TF_N_DATE_PARTS || (cyc && tf_date_period[q] == 0) || *n >= 16)
			return sl__err(SL_EINVAL, "%s.%s[%zu]: '%s' is not a%s date part", c->where, key, k,
				       s ? s : "?", cyc ? " cyclical" : "");
		parts[(*n)++] = (int)q;
	}
	return 0;
}

static int compile_dates(cctx *c)
{
	const tf_schema *in = c->in;
	size_t *cols = NULL, ncols = 0, np, nc;
	int parts[16], cyc[16], rc;
	bool drop = json_is_true(json_object_get(c->j, "drop"));

	if ((rc = tf_get_cols(c->j, "column", c->where, in, &cols, &ncols)))
		return rc;
	size_t col = ncols == 1 ? cols[0] : 0;
	sl__free(cols);
	if (ncols != 1)
		return sl__err(SL_EINVAL, "%s.column: expected one column name", c->where);
	if (in->c[col].type != DS_TIMESTAMP)
		return sl__err(SL_EINVAL, "%s.column: '%s' is %s; dates needs a timestamp column (cast it first)",
			       c->where, in->c[col].name, ds_type_name(in->c[col].type));
	if ((rc = get_parts(c, "parts", false, parts, &np)) || (rc = get_parts(c, "cyclical", true, cyc, &nc)))
		return rc;
	for (size_t j = 0; j < in->n && rc == 0; j++) {
		if (j != col || !drop)
			rc = pass(c, j);
		if (j != col)
			continue;
		for (size_t k = 0; k < np + 2 * nc && rc == 0; k++) {
			prod *p;
			bool isc = k >= np;
			int part = isc ? cyc[(k - np) / 2] : parts[k];
			if ((rc = new_prod(c, isc ? P_CYCLIC : P_DATEPART, j, &p)))
				break;
			p->mode = part;
			p->cos = isc && (k - np) % 2 == 1;
			p->otype = isc ? DS_FLOAT64 : DS_INT64;
			char *on = isc ? sl__asprintf("%s_%s_%s", in->c[j].name, tf_date_parts[part], p->cos ? "cos" : "sin")
				       : sl__asprintf("%s_%s", in->c[j].name, tf_date_parts[part]);
			rc = on ? add_out(c, p, on, p->otype) : sl__oom();
			sl__free(on);
		}
	}
	return rc;
}

static int compile_series(cctx *c, int kind)
{
	const tf_schema *in = c->in;
	const char *ckey = json_object_get(c->j, "columns") ? "columns" : "column";
	size_t *cols = NULL, ncols = 0, *ord = NULL, nord = 0;
	int64_t lags_buf[64];
	size_t nlags = 0;
	int64_t window = 0, minp = 0;
	int agg = 0, rc;

	c->o->series = true;
	if ((rc = tf_get_cols(c->j, ckey, c->where, in, &cols, &ncols)) ||
	    (rc = tf_get_cols(c->j, "by", c->where, in, &c->o->keys, &c->o->nkeys)) ||
	    (rc = tf_get_cols(c->j, "order_by", c->where, in, &ord, &nord)))
		goto out;
	if (ncols == 0) {
		rc = sl__err(SL_EINVAL, "%s.%s: which columns?", c->where, ckey);
		goto out;
	}
	if (nord != 1) {
		rc = sl__err(SL_EINVAL, "%s.order_by: expected one column (the time column)", c->where);
		goto out;
	}
	c->o->order = ord[0];
	if (kind == K_LAG) {
		const json_t *l = json_object_get(c->j, "lags");
		if (!l || json_is_null(l)) {
			lags_buf[nlags++] = 1;
		} else if (json_is_integer(l)) {
			lags_buf[nlags++] = (int64_t)json_integer_value(l);
		} else if (json_is_array(l) && json_array_size(l) <= 64) {
			for (size_t k = 0; k < json_array_size(l); k++) {
				if (!json_is_integer(json_array_get(l, k))) {
					rc = sl__err(SL_EINVAL, "%s.lags[%zu]: expected an integer", c->where, k);
					goto out;
				}
				lags_buf[nlags++] = (int64_t)json_integer_value(json_array_get(l, k));
			}
		} else {
			rc = sl__err(SL_EINVAL, "%s.lags: expected an integer or a list of up to 64", c->where);
			goto out;
		}
		for (size_t k = 0; k < nlags; k++) {
			if (lags_buf[k] < 1 || lags_buf[k] > 1000000) {
				rc = sl__err(SL_EINVAL, "%s.lags: each lag must be between 1 and 1000000", c->where);
				goto out;
			}
		}
	} else {
		static const char *const aggs[] = {"sum", "mean"};
		if ((rc = tf_get_int(c->j, "window", c->where, 0, 1, &window)) ||
		    (rc = tf_get_choice(c->j, "agg", c->where, aggs, 2, 1, &agg)) ||
		    (rc = tf_get_int(c->j, "min_periods", c->where, window, 1, &minp)))
			goto out;
		if (window == 0) {
			rc = sl__err(SL_EINVAL, "%s.window: required (rows per window)", c->where);
			goto out;
		}
	}
	for (size_t j = 0; j < in->n && rc == 0; j++)
		rc = pass(c, j);
	for (size_t q = 0; q < ncols && rc == 0; q++) {
		size_t j = cols[q];
		ds_type t = in->c[j].type;
		if (kind == K_ROLLING && !tf_is_numeric(t)) {
			rc = sl__err(SL_EINVAL, "%s: column '%s' is %s; rolling needs numbers", c->where,
				     in->c[j].name, ds_type_name(t));
			break;
		}
		for (size_t k = 0; k < (kind == K_LAG ? nlags : 1) && rc == 0; k++) {
			prod *p;
			char *on;
			if ((rc = new_prod(c, kind == K_LAG ? P_LAG : P_ROLL, j, &p)))
				break;
			p->k = kind == K_LAG ? lags_buf[k] : window;
			p->mode = agg;
			p->min_periods = minp;
			p->otype = kind == K_LAG ? t : DS_FLOAT64;
			on = kind == K_LAG ? sl__asprintf("%s_lag%lld", in->c[j].name, (long long)p->k)
					   : sl__asprintf("%s_rolling_%s%lld", in->c[j].name, agg ? "mean" : "sum",
							  (long long)window);
			rc = on ? add_out(c, p, on, p->otype) : sl__oom();
			sl__free(on);
		}
	}
out:
	sl__free(cols);
	sl__free(ord);
	return rc;
}

/* derive: {columns: {name: expr, ...}} or {columns: [{name: expr}, ...]}, in order. */
static int compile_derive(cctx *c)
{
	const json_t *m = json_object_get(c->j, "columns");
	tf_schema cur;
	int rc = 0;

	if (!json_is_object(m) && !json_is_array(m))
		return sl__err(SL_EINVAL, "%s.columns: expected a mapping of new column name to expression",
			       c->where);
	/* Expressions see the input columns and the columns derived before them. */
	memset(&cur, 0, sizeof cur);
	for (size_t j = 0; j < c->in->n && rc == 0; j++)
		rc = tf_schema_add(&cur, c->in->c[j].name, c->in->c[j].type, j);
	size_t n = json_is_object(m) ? json_object_size(m) : json_array_size(m);
	void *it = json_is_object(m) ? json_object_iter((json_t *)m) : NULL;
	/* The derived columns in order; an existing name is replaced in place. */
	for (size_t q = 0; q < n && rc == 0; q++) {
		const char *name;
		const json_t *v;
		if (json_is_object(m)) {
			name = json_object_iter_key(it);
			v = json_object_iter_value(it);
			it = json_object_iter_next((json_t *)m, it);
		} else {
			const json_t *x = json_array_get(m, q);
			if (!json_is_object(x) || json_object_size(x) != 1) {
				rc = sl__err(SL_EINVAL, "%s.columns[%zu]: expected {name: expression}", c->where, q);
				break;
			}
			void *i2 = json_object_iter((json_t *)x);
			name = json_object_iter_key(i2);
			v = json_object_iter_value(i2);
		}
		char *w = sl__asprintf("%s.columns.%s", c->where, name);
		const char **names = sl__calloc(cur.n + 1, sizeof *names);
		ds_type *types = sl__calloc(cur.n + 1, sizeof *types);
		expr *e = NULL;
		if (!w || !names || !types) {
			rc = sl__oom();
		} else if (!json_is_string(v) || !*name) {
			rc = sl__err(SL_EINVAL, "%s: expected an expression (a string)", w);
		} else {
			for (size_t k = 0; k < cur.n; k++) {
				names[k] = cur.c[k].name;
				types[k] = cur.c[k].type;
			}
			rc = expr_compile(json_string_value(v), w, names, types, cur.n, &e);
			if (rc == 0 && expr_type(e) == EXPR_TNULL)
				rc = sl__err(SL_EINVAL, "%s: the expression is always null; its type is unknown", w);
		}
		sl__free(names);
		sl__free(types);
		sl__free(w);
		if (rc) {
			expr_free(e);
			break;
		}
		long at = tf_schema_find(&cur, name);
		SL__ASSERT(at < 0 || (size_t)at < cur.n);
		if (at >= 0 && cur.c[at].slot >= c->in->n) {
			rc = sl__err(SL_EINVAL, "%s.columns: '%s' is derived twice", c->where, name);
			expr_free(e);
			break;
		}
		if (at >= 0) {
			cur.c[at].type = expr_type(e);
			cur.c[at].slot = SIZE_MAX - (size_t)q; /* marks "derived number q" */
		} else if ((rc = tf_schema_add(&cur, name, expr_type(e), SIZE_MAX - (size_t)q))) {
			expr_free(e);
			break;
		}
		prod *p;
		if ((rc = new_prod(c, P_EXPR, 0, &p))) {
			expr_free(e);
			break;
		}
		p->e = e;
		p->otype = expr_type(e);
	}
	/*
	 * Each derive expression is compiled against the schema as it stands
	 * before it (input plus earlier derived columns). To evaluate them in
	 * order on a table, wrangle applies a derive op one expression at a
	 * time; here the op's output schema is cur, and producers are laid out
	 * as: P_PASS for untouched input columns, and the P_EXPR producers in
	 * derivation order, each with the schema index it writes.
	 */
	if (rc == 0) {
		size_t nexpr = c->o->np;
		prod *exprs = c->o->p;
		c->o->p = NULL;
		c->o->np = 0;
		for (size_t k = 0; k < cur.n && rc == 0; k++) {
			if (cur.c[k].slot < c->in->n) {
				rc = pass(c, cur.c[k].slot);
			} else {
				size_t q = SIZE_MAX - cur.c[k].slot;
				prod *p;
				if ((rc = new_prod(c, P_EXPR, 0, &p)))
					break;
				*p = exprs[q];
				exprs[q].e = NULL;
				tf_strmap_init(&exprs[q].cats);
				p->in = q; /* the derivation order, for evaluation */
				p->out0 = c->o->out.n;
				p->nout = 0;
				rc = add_out(c, p, cur.c[k].name, p->otype);
			}
		}
		for (size_t q = 0; q < nexpr; q++)
			expr_free(exprs[q].e);
		sl__free(exprs);
	}
	tf_schema_free(&cur);
	return rc;
}

static int compile_op(transform *tr, const json_t *j, const tf_schema *in, const char *where, op *o,
		      bool *open)
{
	cctx c = {tr, in, o, j, where, open};
	const char *name = tf_get_str(j, "op", "");
	int kind = tf_op_kind(name), rc = 0;
	size_t *cols = NULL, ncols = 0;

	memset(o, 0, sizeof *o);
	if (!(o->where = sl__strdup(where)))
		return sl__oom();
	o->kind = O_COLS;
	switch (kind) {
	case K_SELECT:
	case K_DROP:
		if ((rc = tf_get_cols(j, "columns", where, in, &cols, &ncols)))
			break;
		if (kind == K_SELECT) {
			for (size_t k = 0; k < ncols && rc == 0; k++)
				rc = pass(&c, cols[k]);
		} else {
			for (size_t k = 0; k < in->n && rc == 0; k++)
				if (!in_list(cols, ncols, k))
					rc = pass(&c, k);
		}
		break;
	case K_RENAME: {
		const json_t *m = json_object_get(j, "columns");
		const char *key;
		const json_t *v;
		if (!json_is_object(m)) {
			rc = sl__err(SL_EINVAL, "%s.columns: expected a mapping of old name to new name", where);
			break;
		}
		json_object_foreach((json_t *)m, key, v) {
			if (tf_schema_find(in, key) < 0) {
				rc = tf_bad_col(where, "columns", in, key);
				break;
			}
			if (!json_is_string(v) || !json_string_length(v)) {
				rc = sl__err(SL_EINVAL, "%s.columns.%s: expected the new name", where, key);
				break;
			}
		}
		for (size_t k = 0; k < in->n && rc == 0; k++) {
			const json_t *nn = json_object_get(m, in->c[k].name);
			prod *p;
			if ((rc = new_prod(&c, P_PASS, k, &p)))
				break;
			p->otype = in->c[k].type;
			rc = add_out(&c, p, nn ? json_string_value(nn) : in->c[k].name, p->otype);
		}
		break;
	}
	case K_CAST: {
		static const char *const modes[] = {"fail", "null"};
		const json_t *m = json_object_get(j, "columns"), *v;
		const char *key;
		int oe = 0;
		if (!json_is_object(m)) {
			rc = sl__err(SL_EINVAL, "%s.columns: expected a mapping of column name to type", where);
			break;
		}
		json_object_foreach((json_t *)m, key, v) {
			(void)v;
			if (tf_schema_find(in, key) < 0) {
				rc = tf_bad_col(where, "columns", in, key);
				break;
			}
		}
		if (rc || (rc = tf_get_choice(j, "on_error", where, modes, 2, 0, &oe)))
			break;
		for (size_t q = 0; q < in->n && rc == 0; q++) {
			const json_t *tj = json_object_get(m, in->c[q].name);
			const char *tn = json_string_value(tj);
			ds_type to, t = in->c[q].type;
			prod *p;
			if (!tj) {
				rc = pass(&c, q);
				continue;
			}
			if (!tn || !ds_type_parse(tn, &to)) {
				rc = sl__err(SL_EINVAL, "%s.columns.%s: unknown type '%s'", where, in->c[q].name,
					     tn ? tn : "?");
				break;
			}
			if ((t == DS_BOOL && to == DS_TIMESTAMP) || (t == DS_TIMESTAMP && to == DS_BOOL) ||
			    (t == DS_FLOAT64 && to == DS_TIMESTAMP)) {
				rc = sl__err(SL_EINVAL, "%s.columns.%s: cannot cast %s to %s", where, in->c[q].name,
					     ds_type_name(t), ds_type_name(to));
				break;
			}
			if ((rc = new_prod(&c, P_CAST, q, &p)))
				break;
			p->otype = to;
			p->fail = oe == 0;
			rc = add_out(&c, p, in->c[q].name, to);
		}
		break;
	}
	case K_FILTER: {
		const char *text = tf_get_str(j, "expr", NULL);
		char *w = sl__asprintf("%s.expr", where);
		const char **names = sl__calloc(in->n + 1, sizeof *names);
		ds_type *types = sl__calloc(in->n + 1, sizeof *types);
		o->kind = O_FILTER;
		if (!w || !names || !types) {
			rc = sl__oom();
		} else if (!text) {
			rc = sl__err(SL_EINVAL, "%s: expected an expression (a string)", w);
		} else {
			for (size_t k = 0; k < in->n; k++) {
				names[k] = in->c[k].name;
				types[k] = in->c[k].type;
			}
			rc = expr_compile(text, w, names, types, in->n, &o->filter);
			if (rc == 0 && expr_type(o->filter) != DS_BOOL && expr_type(o->filter) != EXPR_TNULL)
				rc = sl__err(SL_EINVAL, "%s:1:1: a filter must be a bool expression, not %s", w,
					     ds_type_name(expr_type(o->filter)));
		}
		sl__free(w);
		sl__free(names);
		sl__free(types);
		for (size_t k = 0; k < in->n && rc == 0; k++)
			rc = pass(&c, k);
		break;
	}
	case K_DEDUPE:
		o->kind = O_DEDUPE;
		if ((rc = tf_get_cols(j, "columns", where, in, &o->keys, &o->nkeys)))
			break;
		if (o->nkeys == 0) {
			sl__free(o->keys);
			o->nkeys = in->n;
			if (!(o->keys = sl__calloc(in->n + 1, sizeof *o->keys))) {
				rc = sl__oom();
				break;
			}
			for (size_t k = 0; k < in->n; k++)
				o->keys[k] = k;
		}
		for (size_t k = 0; k < in->n && rc == 0; k++)
			rc = pass(&c, k);
		break;
	case K_IMPUTE:
	case K_CLIP:
	case K_NORMALISE:
	case K_ENCODE:
		rc = compile_cols_op(&c, kind);
		break;
	case K_TEXT:
		rc = compile_text(&c);
		break;
	case K_DATES:
		rc = compile_dates(&c);
		break;
	case K_LAG:
	case K_ROLLING:
		rc = compile_series(&c, kind);
		break;
	case K_DERIVE:
		rc = compile_derive(&c);
		break;
	default:
		rc = sl__err(SL_EINVAL, "%s.op: unknown operation '%s'", where, name);
		break;
	}
	sl__free(cols);
	if (rc == 0 && o->out.n == 0 && !(open && *open))
		rc = sl__err(SL_EINVAL, "%s: no columns left", where);
	if (rc == 0 && o->out.n > tr->width)
		tr->width = o->out.n;
	if (rc)
		op_free(o);
	return rc;
}

/* ---- applying to tables ------------------------------------------------------------ */

static int table_schema(const ds_table *t, tf_schema *s)
{
	int rc = 0;

	memset(s, 0, sizeof *s);
	for (size_t j = 0; j < ds_ncol(t) && rc == 0; j++)
		rc = tf_schema_add(s, ds_col_name(t, j), ds_col_type(t, j), j);
	if (rc)
		tf_schema_free(s);
	return rc;
}

/* Hash of row i over the key columns (for dedupe). */
static uint64_t row_hash(const ds_table *t, const size_t *keys, size_t nk, size_t i)
{
	uint64_t h = 0;

	for (size_t q = 0; q < nk; q++) {
		expr_value v;
		uint64_t x;
		tf_load(t, keys[q], i, &v);
		if (v.null)
			x = 0x9e3779b97f4a7c15ull;
		else if (ds_col_type(t, keys[q]) == DS_STRING)
			x = sl__hash64(v.s, v.len);
		else if (ds_col_type(t, keys[q]) == DS_FLOAT64) {
			/* Values that compare equal hash alike: every NaN, and -0 with 0. */
			double f = isnan(v.f) ? NAN : (v.f == 0 ? 0.0 : v.f);
			memcpy(&x, &f, sizeof x);
		}
		else
			x = (uint64_t)v.i;
		h = sl__hash64_seed(&x, sizeof x, h);
	}
	return h;
}

static int cmp_val(ds_type t, const expr_value *a, const expr_value *b)
{
	if (a->null || b->null)
		return a->null == b->null ? 0 : (a->null ? -1 : 1);
	if (t == DS_STRING)
		return tf_cmp_bytes(a->s, a->len, b->s, b->len);
	if (t == DS_FLOAT64) {
		if (isnan(a->f) || isnan(b->f))
			return isnan(a->f) == isnan(b->f) ? 0 : (isnan(a->f) ? 1 : -1);
		return a->f < b->f ? -1 : (a->f > b->f ? 1 : 0);
	}
	return a->i < b->i ? -1 : (a->i > b->i ? 1 : 0);
}

static bool rows_equal(const ds_table *t, const size_t *keys, size_t nk, size_t a, size_t b)
{
	for (size_t q = 0; q < nk; q++) {
		expr_value x, y;
		tf_load(t, keys[q], a, &x);
		tf_load(t, keys[q], b, &y);
		if (cmp_val(ds_col_type(t, keys[q]), &x, &y))
			return false;
	}
	return true;
}

typedef struct dedupe_probe {
	const ds_table *t;
	const op *o;
	const size_t *keep; /* id k is kept row keep[k] */
	size_t row;
} dedupe_probe;

static bool dedupe_eq(const void *ctx, uint32_t id)
{
	const dedupe_probe *p = ctx;

	return rows_equal(p->t, p->o->keys, p->o->nkeys, p->keep[id], p->row);
}

/* Rows to keep for a dedupe (first of each key). */
static int dedupe_rows(const ds_table *t, const op *o, size_t **out, size_t *out_n)
{
	size_t nrow = ds_nrow(t), n = 0;
	size_t *keep = sl__calloc(nrow + 1, sizeof *keep);
	dedupe_probe p = {t, o, keep, 0};
	sl__hmap seen;
	int rc;

	sl__hmap_init(&seen);
	if (!keep)
		return sl__oom();
	/* Room for every row up front: the probes below cannot fail. */
	if ((rc = sl__hmap_reserve(&seen, nrow))) {
		sl__free(keep);
		return rc;
	}
	for (size_t i = 0; i < nrow; i++) {
		uint32_t tag = sl__hmap_tag(row_hash(t, o->keys, o->nkeys, i));
		size_t pos = 0;
		p.row = i;
		if (sl__hmap_probe(&seen, tag, dedupe_eq, &p, &pos) == SL__HMAP_NONE) {
			sl__hmap_put_at(&seen, pos, tag, (uint32_t)n);
			keep[n++] = i;
		}
	}
	sl__hmap_free(&seen);
	*out = keep;
	*out_n = n;
	return 0;
}

typedef struct sort_ctx {
	const ds_table *t;
	const op *o;
} sort_ctx;

static int by_group_time(const void *a, const void *b, void *arg)
{
	const sort_ctx *s = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c;

	for (size_t q = 0; q <= s->o->nkeys; q++) {
		size_t j = q < s->o->nkeys ? s->o->keys[q] : s->o->order;
		expr_value u, v;
		tf_load(s->t, j, x, &u);
		tf_load(s->t, j, y, &v);
		if ((c = cmp_val(ds_col_type(s->t, j), &u, &v)))
			return c;
	}
	return x < y ? -1 : (x > y ? 1 : 0); /* stable: ties keep row order */
}

static bool same_group(const ds_table *t, const op *o, size_t a, size_t b)
{
	return rows_equal(t, o->keys, o->nkeys, a, b);
}

/* Computes a P_LAG or P_ROLL producer into output column j of b. */
static int series_col(const ds_table *t, const op *o, const prod *p, const size_t *ord, ds_builder *b,
		      size_t j)
{
	size_t nrow = ds_nrow(t);
	expr_value *res = sl__calloc(nrow + 1, sizeof *res);
	int rc = 0;

	if (!res)
		return sl__oom();
	for (size_t g0 = 0; g0 < nrow;) {
		size_t g1 = g0 + 1;
		while (g1 < nrow && same_group(t, o, ord[g0], ord[g1]))
			g1++;
		long double sum = 0;
		int64_t cnt = 0;
		for (size_t q = g0; q < g1; q++) {
			size_t i = ord[q];
			expr_value v;
			if (p->kind == P_LAG) {
				if (q - g0 >= (size_t)p->k)
					tf_load(t, p->in, ord[q - (size_t)p->k], &res[i]);
				else
					res[i].null = true;
				continue;
			}
			tf_load(t, p->in, i, &v);
			bool ok = !v.null && (p->itype != DS_FLOAT64 || !isnan(v.f));
			if (ok) {
				sum += p->itype == DS_INT64 ? (long double)v.i : (long double)v.f;
				cnt++;
			}
			if (q - g0 >= (size_t)p->k) {
				tf_load(t, p->in, ord[q - (size_t)p->k], &v);
				if (!v.null && (p->itype != DS_FLOAT64 || !isnan(v.f))) {
					sum -= p->itype == DS_INT64 ? (long double)v.i : (long double)v.f;
					cnt--;
				}
			}
			res[i].null = cnt < p->min_periods;
			res[i].f = p->mode ? (double)(sum / (long double)(cnt ? cnt : 1)) : (double)sum;
		}
		g0 = g1;
	}
	for (size_t i = 0; i < nrow && rc == 0; i++)
		rc = put(b, j, p->otype, &res[i]);
	sl__free(res);
	return rc;
}

#define KCHUNK 1024

/*
 * Copies rows (all when rows is NULL) of column tj to column j of b. String
 * columns go through the dictionary in bulk (each distinct string interned
 * once) rather than row by row.
 */
static int pass_col(ds_builder *b, size_t j, const ds_table *t, size_t tj, const size_t *rows, size_t n)
{
	size_t dn = ds_dict_size(t, tj);
	const uint32_t *codes = ds_col_codes(t, tj);
	const uint8_t *valid = ds_col_validity(t, tj);
	const char **strs = NULL;
	size_t *lens = NULL;
	uint32_t *sel = NULL;
	uint8_t *bm = NULL;
	int rc = 0;

	if (ds_col_type(t, tj) != DS_STRING)
		return ds_append_from(b, j, t, tj, rows, n);
	if (!(strs = sl__calloc(dn + 1, sizeof *strs)) || !(lens = sl__calloc(dn + 1, sizeof *lens)))
		rc = sl__oom();
	for (size_t c = 0; rc == 0 && c < dn; c++)
		strs[c] = ds_dict_str(t, tj, (uint32_t)c, &lens[c]);
	if (rc == 0 && rows) {
		if (!(sel = sl__calloc(n + 1, sizeof *sel)) || (valid && !(bm = sl__calloc(n / 8 + 1, 1))))
			rc = sl__oom();
		for (size_t k = 0; rc == 0 && k < n; k++) {
			sel[k] = codes[rows[k]];
			if (valid && ds_valid(valid, rows[k]))
				bm[k >> 3] = (uint8_t)(bm[k >> 3] | (1u << (k & 7)));
		}
	}
	if (rc == 0)
		rc = ds_append_coded(b, j, strs, lens, dn, rows ? sel : codes, rows ? bm : valid, n);
	sl__free(strs);
	sl__free(lens);
	sl__free(sel);
	sl__free(bm);
	return rc;
}

/*
 * Runs producer p's kernel over every row of its input column, appending
 * the results to b. Column pointers are taken once and numeric results are
 * appended a chunk at a time, so the per-row cost is the kernel itself.
 */
static int kern_column(const op *o, const prod *p, const ds_table *t, ds_builder *b,
		       expr_value *vals, sl__buf *sb)
{
	size_t nrow = ds_nrow(t), j = p->in, dn = ds_dict_size(t, j);
	ds_type it = ds_col_type(t, j);
	const uint8_t *valid = ds_col_validity(t, j);
	const int64_t *ci = (it == DS_INT64 || it == DS_TIMESTAMP) ? ds_col_i64(t, j) : NULL;
	const double *cf = it == DS_FLOAT64 ? ds_col_f64(t, j) : NULL;
	const uint8_t *cb = it == DS_BOOL ? ds_col_bool(t, j) : NULL;
	const uint32_t *cc = it == DS_STRING ? ds_col_codes(t, j) : NULL;
	bool str_out = p->otype == DS_STRING;
	size_t nout = p->nout;
	int64_t *acc = NULL;   /* nout * KCHUNK values (int64 / double / byte) */
	uint8_t *bits = NULL;  /* nout * KCHUNK / 8 validity */
	const char **ds = NULL;
	size_t *dl = NULL;
	int rc = 0;

	if (!str_out && (!(acc = sl__reallocarray(NULL, nout * KCHUNK, sizeof *acc)) ||
			 !(bits = sl__calloc(nout, KCHUNK / 8))))
		rc = sl__oom();
	if (rc == 0 && cc && (!(ds = sl__calloc(dn + 1, sizeof *ds)) || !(dl = sl__calloc(dn + 1, sizeof *dl))))
		rc = sl__oom();
	/* Only string columns have dictionary entries. */
	for (size_t c = 0; rc == 0 && cc && c < dn; c++)
		ds[c] = ds_dict_str(t, j, (uint32_t)c, &dl[c]);
	for (size_t r0 = 0; rc == 0 && r0 < nrow; r0 += KCHUNK) {
		size_t n = nrow - r0 < KCHUNK ? nrow - r0 : KCHUNK;
		bool any_null = false;
		if (!str_out)
			memset(bits, 0, nout * KCHUNK / 8);
		for (size_t r = 0; r < n && rc == 0; r++) {
			size_t i = r0 + r;
			expr_value v;
			memset(&v, 0, sizeof v);
			v.null = !ds_valid(valid, i);
			if (!v.null) {
				if (ci)
					v.i = ci[i];
				else if (cf)
					v.f = cf[i];
				else if (cb)
					v.i = cb[i];
				else if (cc && cc[i] < dn) {
					v.s = ds[cc[i]];
					v.len = dl[cc[i]];
				}
			}
			if ((rc = kern(p, &v, vals, sb))) {
				if (rc == SL_EPARSE)
					sl__err_prefix(rc, "%s: column '%s', row %zu", o->where, ds_col_name(t, j), i + 1);
				break;
			}
			if (str_out) {
				rc = put(b, p->out0, p->otype, &vals[0]);
				continue;
			}
			for (size_t k = 0; k < nout; k++) {
				int64_t *slot = &acc[k * KCHUNK + r];
				if (vals[k].null) {
					any_null = true;
					*slot = 0;
					continue;
				}
				bits[k * (KCHUNK / 8) + (r >> 3)] |= (uint8_t)(1u << (r & 7));
				if (p->otype == DS_FLOAT64)
					memcpy(slot, &vals[k].f, sizeof vals[k].f);
				else
					*slot = vals[k].i;
			}
		}
		for (size_t k = 0; rc == 0 && !str_out && k < nout; k++) {
			const uint8_t *vb = any_null ? bits + k * (KCHUNK / 8) : NULL;
			int64_t *a = acc + k * KCHUNK;
			size_t jj = p->out0 + k;
			if (p->otype == DS_FLOAT64) {
				double d[KCHUNK];
				memcpy(d, a, n * sizeof *d);
				rc = ds_append_f64s(b, jj, d, vb, n);
			} else if (p->otype == DS_BOOL) {
				uint8_t u[KCHUNK];
				for (size_t r = 0; r < n; r++)
					u[r] = a[r] != 0;
				rc = ds_append_bools(b, jj, u, vb, n);
			} else {
				rc = ds_append_i64s(b, jj, a, vb, n);
			}
		}
	}
	sl__free(acc);
	sl__free(bits);
	sl__free(ds);
	sl__free(dl);
	return rc;
}

/*
 * Applies one op to a table. Scoring (transform_apply_rows) keeps every
 * row through a dedupe, as one row alone passes it, and hands back which
 * rows a filter kept (*out_kept, ascending, when out_kept is not NULL).
 */
static int apply_op_table(const op *o, const ds_table *t, bool scoring, ds_table **out,
			  size_t **out_kept, size_t *out_nkept)
{
	ds_builder *b = NULL;
	size_t nrow = ds_nrow(t), *rows = NULL, nkeep = nrow, *ord = NULL;
	uint8_t *mask = NULL;
	sl__buf sb;
	expr_value *vals = NULL;
	int rc;

	*out = NULL;
	sl__buf_init(&sb, 0);
	if ((rc = ds_builder_new(&b)))
		return rc;
	if (o->kind == O_FILTER) {
		if (!(mask = sl__malloc(nrow + 1)) || !(rows = sl__calloc(nrow + 1, sizeof *rows))) {
			rc = sl__oom();
			goto out;
		}
		if ((rc = expr_eval_mask(o->filter, t, mask)))
			goto out;
		nkeep = 0;
		for (size_t i = 0; i < nrow; i++)
			if (mask[i])
				rows[nkeep++] = i;
	} else if (o->kind == O_DEDUPE && !scoring) {
		if ((rc = dedupe_rows(t, o, &rows, &nkeep)))
			goto out;
	}
	if (o->series) {
		sort_ctx sc = {t, o};
		if (!(ord = sl__calloc(nrow + 1, sizeof *ord))) {
			rc = sl__oom();
			goto out;
		}
		for (size_t i = 0; i < nrow; i++)
			ord[i] = i;
		qsort_r(ord, nrow, sizeof *ord, by_group_time, &sc);
	}
	for (size_t k = 0; k < o->out.n && rc == 0; k++)
		rc = ds_builder_add_col(b, o->out.c[k].name, o->out.c[k].type, NULL);
	if (rc == 0)
		rc = ds_builder_reserve(b, nkeep);
	if (rc == 0 && !(vals = sl__calloc(o->out.n + 1, sizeof *vals)))
		rc = sl__oom();
	for (size_t q = 0; q < o->np && rc == 0; q++) {
		const prod *p = &o->p[q];
		switch (p->kind) {
		case P_PASS:
			rc = pass_col(b, p->out0, t, p->in, rows, nkeep);
			break;
		case P_EXPR:
			rc = expr_eval_append(p->e, t, b, p->out0);
			break;
		case P_LAG:
		case P_ROLL:
			SL__ASSERT(ord); /* these producers make the op a series op */
			rc = series_col(t, o, p, ord, b, p->out0);
			break;
		default:
			rc = kern_column(o, p, t, b, vals, &sb);
			break;
		}
	}
	if (rc == 0)
		rc = ds_builder_finish(b, out);
	if (rc == 0 && out_kept && o->kind == O_FILTER) {
		*out_kept = rows;
		*out_nkept = nkeep;
		rows = NULL;
	}
out:
	ds_builder_free(b);
	sl__free(rows);
	sl__free(mask);
	sl__free(ord);
	sl__free(vals);
	sl__buf_free(&sb);
	return rc;
}

/*
 * Derive ops: each expression was compiled against the schema before it, so
 * on a table they are applied one at a time, each on a table that holds the
 * input plus the columns derived so far.
 */
static int copy_table(const ds_table *t, ds_table **out);

static int apply_derive_table(const op *o, const ds_table *t, ds_table **out)
{
	ds_table *cur = (ds_table *)t;
	size_t nexpr = 0;
	int rc = 0;

	for (size_t q = 0; q < o->np; q++)
		nexpr += o->p[q].kind == P_EXPR;
	for (size_t d = 0; d < nexpr && rc == 0; d++) {
		const prod *p = NULL;
		ds_builder *b;
		ds_table *nt = NULL;
		long at;
		for (size_t q = 0; q < o->np; q++)
			if (o->p[q].kind == P_EXPR && o->p[q].in == d)
				p = &o->p[q];
		if (!p) {
			rc = sl__err(SL_EINVAL, "%s: derived column %zu missing", o->where, d);
			break;
		}
		const char *name = o->out.c[p->out0].name;
		if ((rc = ds_builder_new(&b)))
			break;
		at = -1;
		for (size_t j = 0; j < ds_ncol(cur) && rc == 0; j++) {
			bool repl = !strcmp(ds_col_name(cur, j), name);
			if (repl)
				at = (long)j;
			rc = ds_builder_add_col(b, name && repl ? name : ds_col_name(cur, j),
						repl ? p->otype : ds_col_type(cur, j), NULL);
		}
		if (rc == 0 && at < 0)
			rc = ds_builder_add_col(b, name, p->otype, NULL);
		for (size_t j = 0; j < ds_ncol(cur) && rc == 0; j++)
			rc = (long)j == at ? expr_eval_append(p->e, cur, b, j)
					   : pass_col(b, j, cur, j, NULL, ds_nrow(cur));
		if (rc == 0 && at < 0)
			rc = expr_eval_append(p->e, cur, b, ds_ncol(cur));
		if (rc == 0)
			rc = ds_builder_finish(b, &nt);
		ds_builder_free(b);
		if (cur != t)
			ds_close(cur);
		cur = nt;
	}
	if (rc) {
		if (cur != t)
			ds_close(cur);
		return rc;
	}
	if (cur == t && (rc = copy_table(t, &cur)))
		return rc;
	*out = cur;
	return 0;
}

static int copy_table(const ds_table *t, ds_table **out)
{
	ds_builder *b;
	int rc;

	if ((rc = ds_builder_new(&b)))
		return rc;
	for (size_t j = 0; j < ds_ncol(t) && rc == 0; j++)
		if ((rc = ds_builder_add_col(b, ds_col_name(t, j), ds_col_type(t, j), NULL)) == 0)
			rc = pass_col(b, j, t, j, NULL, ds_nrow(t));
	if (rc == 0)
		rc = ds_builder_finish(b, out);
	ds_builder_free(b);
	return rc;
}

bool tf_op_is_derive(const op *o)
{
	for (size_t q = 0; q < o->np; q++)
		if (o->p[q].kind == P_EXPR)
			return true;
	return false;
}

static int run_op(const op *o, const ds_table *t, ds_table **out)
{
	return tf_op_is_derive(o) ? apply_derive_table(o, t, out)
			    : apply_op_table(o, t, false, out, NULL, NULL);
}

/* ---- fit / apply / load / save --------------------------------------------------------- */

static int new_transform(const tf_schema *in, transform **out)
{
	transform *tr = sl__calloc(1, sizeof *tr);
	int rc = 0;

	*out = NULL;
	if (!tr || !(tr->ops_json = json_array())) {
		sl__free(tr);
		return sl__oom();
	}
	for (size_t k = 0; k < in->n && rc == 0; k++)
		rc = tf_schema_add(&tr->in, in->c[k].name, in->c[k].type, k);
	tr->nslots = in->n;
	tr->width = in->n;
	if (rc) {
		transform_free(tr);
		return rc;
	}
	*out = tr;
	return 0;
}

/* Compiles op j after the others (open: schema only, as compile_op). */
static int push_op(transform *tr, json_t *j, const char *where, bool *open)
{
	op *no = sl__reallocarray(tr->ops, tr->nops + 1, sizeof *no);
	int rc;

	if (!no)
		return sl__oom();
	/* The input schema lives in the previous op, which the realloc may have moved. */
	tr->ops = no;
	if ((rc = compile_op(tr, j, final_schema(tr), where, &tr->ops[tr->nops], open)))
		return rc;
	tr->nops++;
	return 0;
}

int transform_fit(const json_t *ops, const char *where, const ds_table *t, transform **out_tr,
		  ds_table **out_t)
{
	transform *tr = NULL;
	tf_schema in;
	ds_table *cur = NULL;
	int rc;

	*out_tr = NULL;
	*out_t = NULL;
	where = where ? where : "ops";
	if (!json_is_array(ops))
		return sl__err(SL_EINVAL, "%s: expected a list of operations", where);
	if ((rc = table_schema(t, &in)))
		return rc;
	rc = new_transform(&in, &tr);
	tf_schema_free(&in);
	if (rc)
		return rc;
	for (size_t k = 0; k < json_array_size(ops) && rc == 0; k++) {
		char w[64 + 32];
		json_t *o = NULL;
		ds_table *nt = NULL;
		const ds_table *src = cur ? cur : t;
		snprintf(w, sizeof w, "%.64s[%zu]", where, k);
		if ((rc = tf_normalise_op(json_array_get(ops, k), w, &o)))
			break;
		if ((rc = tf_fit_op(o, w, final_schema(tr), src)) || (rc = push_op(tr, o, w, NULL))) {
			json_decref(o);
			break;
		}
		/* The op is compiled in: it must be in the saved form too. */
		if ((rc = sl__json_push(tr->ops_json, o)) ||
		    (rc = run_op(&tr->ops[tr->nops - 1], src, &nt)))
			break;
		if (cur)
			ds_close(cur);
		cur = nt;
	}
	if (rc == 0 && !cur) {
		/* No operations: the output is the input, copied. */
		rc = copy_table(t, &cur);
	}
	if (rc) {
		ds_close(cur);
		transform_free(tr);
		return rc;
	}
	*out_tr = tr;
	*out_t = cur;
	return 0;
}

/*
 * The schema-only walk (transform.h): each op normalised and compiled as
 * transform_fit does, against the columns the ops before it leave, with
 * nothing learned. The walk ends at an op whose output columns the data
 * decides.
 */
int transform_check(const json_t *ops, const char *where, const char *const *names,
		    const ds_type *types, size_t n)
{
	transform *tr = NULL;
	tf_schema in;
	bool open = false;
	int rc = 0;

	where = where ? where : "ops";
	if (!json_is_array(ops))
		return sl__err(SL_EINVAL, "%s: expected a list of operations", where);
	memset(&in, 0, sizeof in);
	for (size_t k = 0; k < n && rc == 0; k++)
		rc = tf_schema_add(&in, names[k], types[k], k);
	if (rc == 0)
		rc = new_transform(&in, &tr);
	tf_schema_free(&in);
	for (size_t k = 0; rc == 0 && !open && k < json_array_size(ops); k++) {
		char w[64 + 32];
		json_t *o = NULL;
		snprintf(w, sizeof w, "%.64s[%zu]", where, k);
		if ((rc = tf_normalise_op(json_array_get(ops, k), w, &o)) == 0 &&
		    (rc = tf_fit_op(o, w, final_schema(tr), NULL)) == 0 &&
		    (rc = push_op(tr, o, w, &open)) == 0) {
			rc = sl__json_push(tr->ops_json, o); /* the transform owns its ops */
			o = NULL;
		}
		json_decref(o);
	}
	transform_free(tr);
	return rc;
}

/* Composes the rows a filter kept with the map so far (rows of the input). */
static void compose_rows(size_t **map, size_t *kept, size_t nkept)
{
	if (*map)
		for (size_t k = 0; k < nkept; k++)
			kept[k] = (*map)[kept[k]];
	sl__free(*map);
	*map = kept;
}

static int apply_table(const transform *tr, const ds_table *t, bool scoring, ds_table **out_t,
		       size_t **out_rows)
{
	ds_builder *b = NULL;
	ds_table *cur = NULL;
	size_t *map = NULL;
	int rc;

	*out_t = NULL;
	/* The input schema first: the transform's input columns, in its order. */
	if ((rc = ds_builder_new(&b)))
		return rc;
	for (size_t k = 0; k < tr->in.n && rc == 0; k++) {
		size_t j;
		ds_type want = tr->in.c[k].type;
		if (ds_col_find(t, tr->in.c[k].name, &j)) {
			rc = sl__err(SL_EINVAL, "the data has no column '%s', which the transform takes",
				     tr->in.c[k].name);
			break;
		}
		ds_type have = ds_col_type(t, j);
		if ((rc = ds_builder_add_col(b, tr->in.c[k].name, want, NULL)))
			break;
		if (have == want) {
			rc = pass_col(b, k, t, j, NULL, ds_nrow(t));
		} else if (have == DS_INT64 && want == DS_FLOAT64) {
			for (size_t i = 0; i < ds_nrow(t) && rc == 0; i++) {
				expr_value v;
				tf_load(t, j, i, &v);
				v.f = (double)v.i;
				rc = put(b, k, want, &v);
			}
		} else {
			rc = sl__err(SL_EINVAL, "column '%s' is %s but the transform expects %s",
				     tr->in.c[k].name, ds_type_name(have), ds_type_name(want));
		}
	}
	if (rc == 0)
		rc = ds_builder_finish(b, &cur);
	ds_builder_free(b);
	for (size_t k = 0; k < tr->nops && rc == 0; k++) {
		const op *o = &tr->ops[k];
		ds_table *nt = NULL;
		size_t *kept = NULL, nkept = 0;
		if (tf_op_is_derive(o))
			rc = apply_derive_table(o, cur, &nt);
		else
			rc = apply_op_table(o, cur, scoring, &nt, out_rows ? &kept : NULL, &nkept);
		if (rc == 0 && kept)
			compose_rows(&map, kept, nkept);
		ds_close(cur);
		cur = nt;
	}
	if (rc == 0 && out_rows && !map) {
		/* No filter: every row, in order. */
		size_t n = ds_nrow(cur);
		if (!(map = sl__malloc((n ? n : 1) * sizeof *map)))
			rc = sl__oom();
		for (size_t i = 0; rc == 0 && i < n; i++)
			map[i] = i;
	}
	if (rc) {
		ds_close(cur);
		sl__free(map);
		return rc;
	}
	*out_t = cur;
	if (out_rows)
		*out_rows = map;
	return 0;
}

int transform_apply_table(const transform *tr, const ds_table *t, ds_table **out_t)
{
	return apply_table(tr, t, false, out_t, NULL);
}

int transform_apply_rows(const transform *tr, const ds_table *t, ds_table **out_t,
			 size_t **out_rows)
{
	*out_rows = NULL;
	return apply_table(tr, t, true, out_t, out_rows);
}

/* The columns as [{name, type}, ...], or NULL when out of memory. */
static json_t *schema_json(const tf_schema *s)
{
	json_t *a = json_array();

	for (size_t k = 0; a && k < s->n; k++) {
		if (sl__json_push(a, json_pack("{s:s,s:s}", "name", s->c[k].name, "type",
					       ds_type_name(s->c[k].type)))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char *transform_dump(const transform *tr, size_t *out_len)
{
	json_t *doc = json_object();
	char *s, *r;

	if (!doc) {
		sl__oom();
		return NULL;
	}
	if (sl__json_set(doc, "format", json_string(TRANSFORM_FORMAT)) ||
	    sl__json_set(doc, "version", json_integer(TRANSFORM_VERSION)) ||
	    sl__json_set(doc, "inputs", schema_json(&tr->in)) ||
	    sl__json_set(doc, "outputs", schema_json(final_schema(tr))) ||
	    sl__json_set_ref(doc, "ops", tr->ops_json)) {
		json_decref(doc);
		return NULL;
	}
	s = sl__json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	json_decref(doc);
	if (!s) {
		sl__oom();
		return NULL;
	}
	r = sl__asprintf("%s\n", s);
	free(s);
	if (r && out_len)
		*out_len = strlen(r);
	if (!r)
		sl__oom();
	return r;
}

int transform_save(const transform *tr, const char *path)
{
	size_t len;
	char *s = transform_dump(tr, &len);
	int rc;

	if (!s)
		return SL_ENOMEM;
	rc = sl__write_atomic(path, s, len);
	sl__free(s);
	return rc;
}

int transform_parse(const char *text, size_t len, const char *name, transform **out)
{
	json_error_t err;
	bool oom;
	json_t *doc = sl__json_loadb(text, len, JSON_REJECT_DUPLICATES, &err, &oom);
	int rc;

	*out = NULL;
	name = name ? name : "transform";
	if (!doc && oom)
		return sl__err(SL_ENOMEM, "%s: out of memory", name);
	if (!doc)
		return sl__err(SL_ECORRUPT, "%s:%d:%d: %s", name, err.line, err.column, err.text);
	rc = transform_from_json(doc, name, out);
	json_decref(doc);
	return rc;
}

int transform_from_json(const json_t *doc, const char *name, transform **out)
{
	const json_t *ins, *ops;
	transform *tr = NULL;
	tf_schema in;
	int rc = 0;

	*out = NULL;
	name = name ? name : "transform";
	if (!json_is_object(doc) || strcmp(tf_get_str(doc, "format", ""), TRANSFORM_FORMAT))
		return sl__err(SL_ECORRUPT, "%s: not a sluice transform", name);
	if (!json_is_integer(json_object_get(doc, "version")) ||
	    json_integer_value(json_object_get(doc, "version")) != TRANSFORM_VERSION) {
		return sl__err(SL_EUNSUP, "%s: transform format version %lld is not supported (this is %d)",
			       name, (long long)json_integer_value(json_object_get(doc, "version")),
			       TRANSFORM_VERSION);
	}
	ins = json_object_get(doc, "inputs");
	ops = json_object_get(doc, "ops");
	memset(&in, 0, sizeof in);
	if (!json_is_array(ins) || !json_is_array(ops))
		rc = sl__err(SL_ECORRUPT, "%s: inputs and ops must be lists", name);
	for (size_t k = 0; rc == 0 && k < json_array_size(ins); k++) {
		const json_t *c = json_array_get(ins, k);
		ds_type t;
		if (!json_is_string(json_object_get(c, "name")) ||
		    !ds_type_parse(tf_get_str(c, "type", ""), &t))
			rc = sl__err(SL_ECORRUPT, "%s: inputs[%zu]: expected {name, type}", name, k);
		else
			rc = tf_schema_add(&in, tf_get_str(c, "name", ""), t, k);
	}
	if (rc == 0)
		rc = new_transform(&in, &tr);
	tf_schema_free(&in);
	for (size_t k = 0; rc == 0 && k < json_array_size(ops); k++) {
		char w[128];
		json_t *o = json_array_get(ops, k);
		snprintf(w, sizeof w, "%.64s: ops[%zu]", name, k);
		if (!json_is_object(o) || tf_op_kind(tf_get_str(o, "op", "")) < 0) {
			rc = sl__err(SL_ECORRUPT, "%s: not an operation", w);
			break;
		}
		if ((rc = push_op(tr, o, w, NULL)) == 0)
			rc = json_array_append(tr->ops_json, o) ? sl__oom() : 0;
	}
	/* The stored output schema must be what the ops produce. */
	if (rc == 0) {
		const json_t *outs = json_object_get(doc, "outputs");
		const tf_schema *fs = final_schema(tr);
		bool same = json_is_array(outs) && json_array_size(outs) == fs->n;
		for (size_t k = 0; same && k < fs->n; k++) {
			const json_t *c = json_array_get(outs, k);
			same = !strcmp(tf_get_str(c, "name", ""), fs->c[k].name) &&
			       !strcmp(tf_get_str(c, "type", ""), ds_type_name(fs->c[k].type));
		}
		if (!same)
			rc = sl__err(SL_ECORRUPT, "%s: outputs do not match what the operations produce", name);
	}
	if (rc) {
		transform_free(tr);
		return rc == SL_EINVAL ? SL_ECORRUPT : rc;
	}
	*out = tr;
	return 0;
}

int transform_load(const char *path, transform **out)
{
	sl__buf b;
	int rc;

	*out = NULL;
	if ((rc = sl__read_file(path, (size_t)256 << 20, &b)))
		return rc;
	rc = transform_parse(b.data ? b.data : "", b.len, path, out);
	sl__buf_free(&b);
	return rc;
}

const json_t *transform_ops(const transform *tr)
{
	return tr->ops_json;
}

size_t transform_n_inputs(const transform *tr)
{
	return tr->in.n;
}

const char *transform_input_name(const transform *tr, size_t k)
{
	return tr->in.c[k].name;
}

ds_type transform_input_type(const transform *tr, size_t k)
{
	return tr->in.c[k].type;
}

size_t transform_n_outputs(const transform *tr)
{
	return final_schema(tr)->n;
}

const char *transform_output_name(const transform *tr, size_t k)
{
	return final_schema(tr)->c[k].name;
}

ds_type transform_output_type(const transform *tr, size_t k)
{
	return final_schema(tr)->c[k].type;
}

/* ---- which inputs matter ------------------------------------------------------------ */

/*
 * Derive's dependencies: for derivation d, the schema columns its
 * expression reads resolved to where their values come from (an input
 * column c, or an earlier derivation, coded as in->n + d'), as
 * transform_apply_row lays the gathered row out.
 */
static int derive_needs(const op *o, const tf_schema *in, bool *need_in, bool *need_out)
{
	size_t nexpr = 0, width = in->n;
	size_t *src, *order;
	bool *need_d;
	int rc = 0;

	for (size_t q = 0; q < o->np; q++)
		nexpr += o->p[q].kind == P_EXPR;
	src = sl__calloc(in->n + nexpr + 1, sizeof *src);
	order = sl__calloc(nexpr + 1, sizeof *order);
	need_d = sl__calloc(nexpr + 1, sizeof *need_d);
	if (!src || !order || !need_d) {
		rc = sl__oom();
		goto out;
	}
	for (size_t k = 0; k < in->n; k++)
		src[k] = k;
	for (size_t q = 0; q < o->np; q++) {
		const prod *p = &o->p[q];
		if (p->kind == P_PASS) {
			if (need_out[p->out0])
				need_in[p->in] = true;
		} else if (p->kind == P_EXPR) {
			order[p->in] = q;
			need_d[p->in] = need_out[p->out0];
		}
	}
	/* Forward: where each gathered column comes from when derivation d runs. */
	size_t *deps = sl__calloc((in->n + nexpr) * (nexpr ? nexpr : 1) + 1, sizeof *deps);
	if (!deps) {
		rc = sl__oom();
		goto out;
	}
	for (size_t d = 0; d < nexpr; d++) {
		const prod *p = &o->p[order[d]];
		const char *name = o->out.c[p->out0].name;
		size_t at = width;
		for (size_t k = 0; k < width; k++)
			deps[d * (in->n + nexpr) + k] = expr_uses_col(p->e, k) ? src[k] + 1 : 0;
		for (size_t k = 0; k < in->n; k++)
			if (!strcmp(in->c[k].name, name)) {
				at = k;
				break;
			}
		if (at == width)
			at = width++;
		src[at] = in->n + d;
	}
	/* Backward: a needed derivation needs what it read. */
	for (size_t d = nexpr; d-- > 0;) {
		if (!need_d[d])
			continue;
		for (size_t k = 0; k < in->n + nexpr; k++) {
			size_t s = deps[d * (in->n + nexpr) + k];
			if (!s)
				continue;
			if (s - 1 < in->n)
				need_in[s - 1] = true;
			else
				need_d[s - 1 - in->n] = true;
		}
	}
	sl__free(deps);
out:
	sl__free(src);
	sl__free(order);
	sl__free(need_d);
	return rc;
}

int transform_needed_inputs(const transform *tr, const bool *out_used, bool *in_needed)
{
	size_t width = tr->width + 1;
	bool *need = sl__calloc(width, sizeof *need), *prev = sl__calloc(width, sizeof *prev);
	const tf_schema *fin = final_schema(tr);
	int rc = 0;

	if (!need || !prev) {
		sl__free(need);
		sl__free(prev);
		return sl__oom();
	}
	for (size_t k = 0; k < fin->n; k++)
		need[k] = out_used[k];
	for (size_t k = tr->nops; k-- > 0 && rc == 0;) {
		const op *o = &tr->ops[k];
		const tf_schema *in = k ? &tr->ops[k - 1].out : &tr->in;
		memset(prev, 0, width * sizeof *prev);
		/* A filter decides which rows are answered: what it reads matters. */
		for (size_t c = 0; o->filter && c < in->n; c++)
			if (expr_uses_col(o->filter, c))
				prev[c] = true;
		if (tf_op_is_derive(o)) {
			rc = derive_needs(o, in, prev, need);
		} else {
			for (size_t q = 0; q < o->np; q++) {
				const prod *p = &o->p[q];
				bool any = false;
				for (size_t c = 0; c < p->nout; c++)
					any = any || need[p->out0 + c];
				if (!any)
					continue;
				prev[p->in] = true;
				if (p->kind == P_LAG || p->kind == P_ROLL) {
					for (size_t g = 0; g < o->nkeys; g++)
						prev[o->keys[g]] = true;
					prev[o->order] = true;
				}
			}
		}
		bool *t = need;
		need = prev;
		prev = t;
	}
	for (size_t k = 0; rc == 0 && k < tr->in.n; k++)
		in_needed[k] = need[k];
	sl__free(need);
	sl__free(prev);
	return rc;
}

/* ---- single rows (note 4) ------------------------------------------------------------- */

struct transform_row {
	expr_value *slots;
	sl__buf *bufs;       /* one per slot, for string outputs */
	expr_value *gather;  /* a row in some op's input order, for expressions */
	expr_value *outs;    /* a producer's outputs before they go to slots */
	expr_ws **ws;        /* per op, per producer: expression workspaces */
	size_t nws;
	size_t nslots;
};

void transform_row_free(transform_row *r)
{
	if (!r)
		return;
	for (size_t k = 0; r->bufs && k < r->nslots; k++)
		sl__buf_free(&r->bufs[k]);
	for (size_t k = 0; r->ws && k < r->nws; k++)
		expr_ws_free(r->ws[k]);
	sl__free(r->ws);
	sl__free(r->bufs);
	sl__free(r->slots);
	sl__free(r->gather);
	sl__free(r->outs);
	sl__free(r);
}

int transform_row_new(const transform *tr, transform_row **out)
{
	transform_row *r;
	size_t nws = 0, maxout = 1;
	int rc = 0;

	*out = NULL;
	for (size_t k = 0; k < tr->nops; k++) {
		if (tr->ops[k].series)
			return sl__err(SL_EUNSUP, "%s: lag and rolling need the series' history and cannot be applied to one row",
				       tr->ops[k].where);
		nws += 1 + tr->ops[k].np;
		for (size_t q = 0; q < tr->ops[k].np; q++)
			if (tr->ops[k].p[q].nout > maxout)
				maxout = tr->ops[k].p[q].nout;
	}
	if (!(r = sl__calloc(1, sizeof *r)))
		return sl__oom();
	r->nslots = tr->nslots;
	r->slots = sl__calloc(tr->nslots + 1, sizeof *r->slots);
	r->bufs = sl__calloc(tr->nslots + 1, sizeof *r->bufs);
	r->gather = sl__calloc(tr->width + 1, sizeof *r->gather);
	r->outs = sl__calloc(maxout, sizeof *r->outs);
	r->ws = sl__calloc(nws + 1, sizeof *r->ws);
	if (!r->slots || !r->bufs || !r->gather || !r->outs || !r->ws) {
		transform_row_free(r);
		return sl__oom();
	}
	for (size_t k = 0; k < tr->nslots; k++)
		sl__buf_init(&r->bufs[k], 0);
	r->nws = nws;
	nws = 0;
	for (size_t k = 0; k < tr->nops && rc == 0; k++) {
		const op *o = &tr->ops[k];
		if (o->filter)
			rc = expr_ws_new(o->filter, &r->ws[nws]);
		nws++;
		for (size_t q = 0; q < o->np && rc == 0; q++, nws++)
			if (o->p[q].e)
				rc = expr_ws_new(o->p[q].e, &r->ws[nws]);
	}
	if (rc) {
		transform_row_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Copies a string value into the slot's own buffer, so later ops can reuse the source buffer. */
static int own_string(transform_row *r, size_t slot, expr_value *v)
{
	sl__buf *b = &r->bufs[slot];

	if (v->null || !v->s || v->s == b->data)
		return 0;
	sl__buf_reset(b);
	if (sl__buf_append(b, v->s, v->len))
		return sl__oom();
	v->s = b->data;
	return 0;
}

int transform_apply_row(const transform *tr, transform_row *r, const expr_value *in, expr_value *out)
{
	const tf_schema *cur = &tr->in;
	size_t wsi = 0;
	int rc;

	if (r->nslots != tr->nslots)
		return sl__err(SL_EINVAL, "transform_apply_row: workspace made for another transform");
	for (size_t k = 0; k < tr->in.n; k++)
		r->slots[k] = in[k];
	for (size_t k = 0; k < tr->nops; k++) {
		const op *o = &tr->ops[k];
		if (o->filter || tf_op_is_derive(o)) {
			for (size_t c = 0; c < cur->n; c++)
				r->gather[c] = r->slots[cur->c[c].slot];
		}
		if (o->filter) {
			expr_value v;
			if ((rc = expr_eval_row(o->filter, r->ws[wsi], r->gather, &v)))
				return rc;
			if (v.null || !v.i)
				return TRANSFORM_REJECTED;
		}
		wsi++;
		if (tf_op_is_derive(o)) {
			/* In derivation order, each seeing the input and the earlier derived columns. */
			size_t nexpr = 0, width = cur->n;
			for (size_t q = 0; q < o->np; q++)
				nexpr += o->p[q].kind == P_EXPR;
			for (size_t d = 0; d < nexpr; d++) {
				size_t q = 0;
				while (o->p[q].kind != P_EXPR || o->p[q].in != d)
					q++;
				const prod *p = &o->p[q];
				const tf_scol *oc = &o->out.c[p->out0];
				expr_value v;
				if ((rc = expr_eval_row(p->e, r->ws[wsi + q], r->gather, &v)))
					return rc;
				if ((rc = own_string(r, oc->slot, &v)))
					return rc;
				r->slots[oc->slot] = v;
				/* Replace in place or append, as compile_derive laid the schema out. */
				size_t at = width;
				for (size_t c = 0; c < width; c++) {
					if (c < cur->n && !strcmp(cur->c[c].name, oc->name)) {
						at = c;
						break;
					}
				}
				if (at == width) {
					/* Appended derived columns follow in the order they were made. */
					at = width++;
				}
				r->gather[at] = v;
			}
			wsi += o->np;
			cur = &o->out;
			continue;
		}
		for (size_t q = 0; q < o->np; q++) {
			const prod *p = &o->p[q];
			if (p->kind == P_PASS)
				continue;
			const expr_value *iv = &r->slots[cur->c[p->in].slot];
			size_t s0 = o->out.c[p->out0].slot;
			if ((rc = kern(p, iv, r->outs, &r->bufs[s0]))) {
				if (rc == SL_EPARSE)
					sl__err_prefix(rc, "%s: column '%s'", o->where, cur->c[p->in].name);
				return rc;
			}
			for (size_t c = 0; c < p->nout; c++) {
				expr_value v = r->outs[c];
				size_t s = o->out.c[p->out0 + c].slot;
				if (p->otype == DS_STRING && c == 0 && (rc = own_string(r, s, &v)))
					return rc;
				r->slots[s] = v;
			}
		}
		wsi += o->np;
		cur = &o->out;
	}
	for (size_t k = 0; k < cur->n; k++)
		out[k] = r->slots[cur->c[k].slot];
	return 0;
}

int transform_apply_json(const transform *tr, transform_row *r, const json_t *obj, expr_value *out)
{
	expr_value *in;
	int rc = 0;

	if (!json_is_object(obj))
		return sl__err(SL_EINVAL, "expected a JSON object of column values");
	/* The first nin slots double as the input row: they are overwritten by apply anyway. */
	in = r->slots;
	for (size_t k = 0; k < tr->in.n && rc == 0; k++) {
		const json_t *v = json_object_get(obj, tr->in.c[k].name);
		expr_value *x = &in[k];
		memset(x, 0, sizeof *x);
		if (!v || json_is_null(v)) {
			x->null = true;
			continue;
		}
		switch (tr->in.c[k].type) {
		case DS_INT64:
			if (json_is_integer(v))
				x->i = (int64_t)json_integer_value(v);
			else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
				 fabs(json_real_value(v)) < 9e15)
				x->i = (int64_t)json_real_value(v);
			else
				rc = SL_EINVAL;
			break;
		case DS_FLOAT64:
			if (json_is_number(v))
				x->f = json_number_value(v);
			else if (!json_is_string(v) || !ds_parse_f64(json_string_value(v), json_string_length(v), &x->f))
				rc = SL_EINVAL;
			break;
		case DS_BOOL:
			if (json_is_boolean(v))
				x->i = json_is_true(v);
			else
				rc = SL_EINVAL;
			break;
		case DS_TIMESTAMP:
			if (!json_is_string(v) || !ds_parse_timestamp(json_string_value(v), json_string_length(v), &x->i))
				rc = SL_EINVAL;
			break;
		case DS_STRING:
			if (json_is_string(v)) {
				x->s = json_string_value(v);
				x->len = json_string_length(v);
			} else {
				rc = SL_EINVAL;
			}
			break;
		}
		if (rc)
			return sl__err(rc, "column '%s': expected %s", tr->in.c[k].name,
				       ds_type_name(tr->in.c[k].type));
	}
	return transform_apply_row(tr, r, in, out);
}
