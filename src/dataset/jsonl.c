/*
 * The JSON Lines reader: one JSON object per line into a typed builder.
 *
 * Format. Lines end with LF (a CR before it is ignored); blank lines are
 * skipped; a UTF-8 byte order mark at the start of a file is skipped. Each
 * other line must be one JSON object without duplicate keys (jansson does
 * the parsing and the UTF-8 validation).
 *
 * Columns are the keys, in order of first appearance over all files; a key
 * missing from a line is null there, as is a JSON null.
 *
 * Types, per column, widening as values arrive like the CSV reader's:
 *   integer -> int64, real -> float64 (int64 + float64 -> float64),
 *   true/false -> bool,
 *   a string that is an ISO 8601 timestamp -> timestamp,
 *   a string "NaN", "Inf", "-Inf", "Infinity" -> float64 (JSON has no
 *     literal for them; this is how the JSONL export writes them),
 *   any other string -> string, and an object or array -> string holding its
 *     compact JSON text.
 * Anything else mixed -> string, each value in its JSON text form (strings
 * unquoted). Overrides fix the type: int accepts integers and integer text,
 * float numbers and numeric text, bool true/false and "true"/"false",
 * timestamp ISO text, string anything.
 *
 * Two passes: the first parses every line, finds the bad ones (not JSON,
 * not an object, a value against an override) and infers the types; the
 * second parses the good lines again and appends their values. Memory holds
 * the dataset being built, not the parsed documents.
 */
#include <math.h>
#include <string.h>

#include "dataset/internal.h"

#define J_NONE 0
#define J_NONFINITE 100 /* a "NaN"/"Inf" string: float unless mixed with text */

typedef struct jl_reader {
	const ds_ingest_opts *opt;
	ds_dict keys;  /* column names; code = column index */
	int *type;     /* per column: inferred type (J_NONE, J_NONFINITE or ds_type) */
	int *override; /* per column: ds_type or J_NONE */
	size_t ncols, cap;
	uint64_t *bad; /* global line ordinals of bad lines, ascending */
	size_t nbad, badcap;
	uint64_t ordinal; /* lines seen over all sources */
} jl_reader;

static int join(int a, int b)
{
	if (a == b || b == J_NONE)
		return a;
	if (a == J_NONE)
		return b;
	if ((a == DS_INT64 || a == DS_FLOAT64 || a == J_NONFINITE) &&
	    (b == DS_INT64 || b == DS_FLOAT64 || b == J_NONFINITE))
		return DS_FLOAT64;
	return DS_STRING;
}

static bool nonfinite_text(const char *s, size_t len, double *out)
{
	double d;

	if (!ds_parse_f64(s, len, &d) || isfinite(d))
		return false;
	if (out)
		*out = d;
	return true;
}

static int classify(const json_t *v)
{
	int64_t ts;

	switch (json_typeof(v)) {
	case JSON_NULL: return J_NONE;
	case JSON_TRUE:
	case JSON_FALSE: return DS_BOOL;
	case JSON_INTEGER: return DS_INT64;
	case JSON_REAL: return DS_FLOAT64;
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		if (len >= 10 && ds_parse_timestamp(s, len, &ts))
			return DS_TIMESTAMP;
		if (nonfinite_text(s, len, NULL))
			return J_NONFINITE;
		return DS_STRING;
	}
	default: return DS_STRING;
	}
}

/* Does v fit an overridden type? Fills the parsed value for numbers. */
static bool fits(ds_type t, const json_t *v, int64_t *iv, double *dv)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	bool b;

	switch (t) {
	case DS_INT64:
		if (json_is_integer(v)) {
			*iv = (int64_t)json_integer_value(v);
			return true;
		}
		return s && ds_parse_i64(s, len, iv);
	case DS_FLOAT64:
		if (json_is_number(v)) {
			*dv = json_number_value(v);
			return true;
		}
		return s && ds_parse_f64(s, len, dv);
	case DS_BOOL:
		if (json_is_boolean(v)) {
			*iv = json_is_true(v);
			return true;
		}
		if (s && ds_parse_bool(s, len, &b)) {
			*iv = b;
			return true;
		}
		return false;
	case DS_TIMESTAMP:
		return s && ds_parse_timestamp(s, len, iv);
	case DS_STRING:
		return true;
	}
	return false;
}

static int add_column(jl_reader *r, const char *key, size_t *out_j)
{
	size_t before = r->keys.n;
	uint32_t code;
	int rc = ds_dict_intern(&r->keys, key, strlen(key), &code);

	if (rc)
		return rc;
	*out_j = code;
	if (r->keys.n == before)
		return 0;
	if (r->ncols == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 16;
		int *t = sl__reallocarray(r->type, nc, sizeof *t);
		if (!t)
			return sl__err(SL_ENOMEM, "out of memory");
		r->type = t;
		int *o = sl__reallocarray(r->override, nc, sizeof *o);
		if (!o)
			return sl__err(SL_ENOMEM, "out of memory");
		r->override = o;
		r->cap = nc;
	}
	r->type[r->ncols] = J_NONE;
	r->override[r->ncols] = J_NONE;
	for (size_t k = 0; k < r->opt->n_types; k++)
		if (!strcmp(r->opt->type_cols[k], key))
			r->override[r->ncols] = (int)r->opt->types[k];
	r->ncols++;
	return 0;
}

/* Iterates the lines of a source: *p advances; returns false at the end. */
static bool next_line(const char **p, const char *end, const char **ls, size_t *len)
{
	const char *s = *p, *nl;

	if (s >= end)
		return false;
	nl = memchr(s, '\n', (size_t)(end - s));
	*ls = s;
	*len = (size_t)((nl ? nl : end) - s);
	*p = nl ? nl + 1 : end;
	if (*len && s[*len - 1] == '\r')
		(*len)--;
	return true;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

static const char *data_start(const ds_source *s)
{
	if (s->len >= 3 && memcmp(s->data, "\xef\xbb\xbf", 3) == 0)
		return s->data + 3;
	return s->data;
}

static int reject(jl_reader *r, const ds_source *s, uint64_t line, uint64_t col, const char *why,
		  const char *raw, size_t len)
{
	if (r->opt->on_error == DS_ON_ERROR_FAIL)
		return sl__err(SL_EPARSE, "%s:%llu:%llu: %s", s->name, (unsigned long long)line,
			       (unsigned long long)col, why);
	if (r->nbad == r->badcap) {
		size_t nc = r->badcap ? r->badcap * 2 : 16;
		uint64_t *b = sl__reallocarray(r->bad, nc, sizeof *b);
		if (!b)
			return sl__err(SL_ENOMEM, "out of memory");
		r->bad = b;
		r->badcap = nc;
	}
	r->bad[r->nbad++] = r->ordinal;
	if (r->opt->reject)
		return r->opt->reject(r->opt->reject_arg, s->name, line, col, why, raw, len);
	return 0;
}

/* Pass 1 over one line: checks it and widens the column types. */
static int infer_line(jl_reader *r, const ds_source *s, uint64_t line, const char *ls, size_t len)
{
	json_error_t err;
	bool oom;
	json_t *o = sl__json_loadb(ls, len, JSON_REJECT_DUPLICATES, &err, &oom);
	const char *key;
	json_t *v;
	char why[256];
	int rc = 0;

	if (!o && oom) /* not the line's fault: never a rejected row */
		return sl__err(SL_ENOMEM, "out of memory parsing %s", s->name);
	if (!o) {
		snprintf(why, sizeof why, "invalid JSON: %s", err.text);
		return reject(r, s, line, err.column > 0 ? (uint64_t)err.column : 1, why, ls, len);
	}
	if (!json_is_object(o)) {
		json_decref(o);
		return reject(r, s, line, 1, "not a JSON object", ls, len);
	}
	/* Overrides first, so that a rejected line changes no column's type. */
	json_object_foreach(o, key, v) {
		size_t j;
		int64_t iv;
		double dv;
		if ((rc = add_column(r, key, &j)))
			break;
		if (r->override[j] != J_NONE && !json_is_null(v) && !fits((ds_type)r->override[j], v, &iv, &dv)) {
			char *text = sl__json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			snprintf(why, sizeof why, "column '%s': %.60s is not a valid %s (the column's type is set in types)",
				 key, text ? text : "value", ds_type_name((ds_type)r->override[j]));
			free(text);
			json_decref(o);
			return reject(r, s, line, 1, why, ls, len);
		}
	}
	if (rc == 0) {
		json_object_foreach(o, key, v) {
			size_t j;
			if ((rc = add_column(r, key, &j)))
				break;
			if (r->override[j] == J_NONE)
				r->type[j] = join(r->type[j], classify(v));
		}
	}
	json_decref(o);
	return rc;
}

/* Appends value v (or null) to column j of type t. */
static int append_value(ds_builder *b, size_t j, ds_type t, const json_t *v)
{
	int64_t iv = 0;
	double dv = 0;
	char *text;
	int rc;

	if (!v || json_is_null(v))
		return ds_append_null(b, j);
	switch (t) {
	case DS_STRING:
		if (json_is_string(v))
			return ds_append_str(b, j, json_string_value(v), json_string_length(v));
		text = sl__json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (!text)
			return sl__err(SL_ENOMEM, "out of memory");
		rc = ds_append_str(b, j, text, strlen(text));
		free(text);
		return rc;
	case DS_FLOAT64:
		if (!json_is_number(v))
			(void)fits(DS_FLOAT64, v, &iv, &dv);
		else
			dv = json_number_value(v);
		return ds_append_f64(b, j, dv);
	case DS_BOOL:
		(void)fits(DS_BOOL, v, &iv, &dv);
		return ds_append_bool(b, j, iv != 0);
	default: /* int64, timestamp */
		(void)fits(t, v, &iv, &dv);
		return ds_append_i64(b, j, iv);
	}
}

static int read_jsonl(const ds_source *src, size_t n, const ds_ingest_opts *opt,
		      ds_builder **out_b, ds_ingest_stats *out_stats)
{
	static const ds_ingest_opts defaults;
	jl_reader r;
	ds_builder *b = NULL;
	ds_ingest_stats st = {0};
	size_t bi = 0;
	int rc = 0;

	*out_b = NULL;
	if (!opt)
		opt = &defaults;
	if (n == 0)
		return sl__err(SL_EINVAL, "no input files");
	memset(&r, 0, sizeof r);
	r.opt = opt;
	ds_dict_init(&r.keys);

	for (size_t s = 0; s < n && rc == 0; s++) {
		const char *p, *end = src[s].data + src[s].len, *ls;
		size_t len;
		uint64_t line = 0, lines = 0;
		if (!src[s].len || data_start(&src[s]) == end) {
			rc = sl__err(SL_EPARSE, "%s: empty file (expected JSON objects, one per line)", src[s].name);
			break;
		}
		p = data_start(&src[s]);
		st.bytes += src[s].len;
		while (rc == 0 && next_line(&p, end, &ls, &len)) {
			line++;
			if (blank(ls, len))
				continue;
			lines++;
			rc = infer_line(&r, &src[s], line, ls, len);
			r.ordinal++;
		}
		if (rc == 0 && lines == 0)
			rc = sl__err(SL_EPARSE, "%s: no JSON objects (only blank lines)", src[s].name);
	}
	for (size_t k = 0; rc == 0 && k < opt->n_types; k++) {
		size_t j = 0;
		while (j < r.ncols && strcmp(r.keys.bytes + r.keys.offs[j], opt->type_cols[k]))
			j++;
		if (j == r.ncols)
			rc = sl__err(SL_EINVAL, "types: no key named '%s' in any line", opt->type_cols[k]);
	}
	if (rc == 0)
		rc = ds_builder_new(&b);
	for (size_t j = 0; rc == 0 && j < r.ncols; j++) {
		int t = r.override[j] != J_NONE ? r.override[j] : r.type[j];
		if (t == J_NONE)
			t = DS_STRING;
		if (t == J_NONFINITE)
			t = DS_FLOAT64;
		r.type[j] = t;
		rc = ds_builder_add_col(b, r.keys.bytes + r.keys.offs[j], (ds_type)t, NULL);
	}

	/* Pass 2: the good lines again, appending. */
	r.ordinal = 0;
	for (size_t s = 0; s < n && rc == 0; s++) {
		const char *p = data_start(&src[s]), *end = src[s].data + src[s].len, *ls;
		size_t len;
		while (rc == 0 && next_line(&p, end, &ls, &len)) {
			json_t *o;
			bool oom;
			if (blank(ls, len))
				continue;
			if (bi < r.nbad && r.bad[bi] == r.ordinal) {
				bi++;
				r.ordinal++;
				continue;
			}
			r.ordinal++;
			o = sl__json_loadb(ls, len, JSON_REJECT_DUPLICATES, NULL, &oom);
			if (!o) {
				rc = sl__err(SL_ENOMEM, "out of memory parsing %s", src[s].name);
				break;
			}
			for (size_t j = 0; rc == 0 && j < r.ncols; j++)
				rc = append_value(b, j, (ds_type)r.type[j],
						  json_object_get(o, r.keys.bytes + r.keys.offs[j]));
			json_decref(o);
			st.rows++;
		}
	}
	st.rows_rejected = r.nbad;
	st.files = n;
	ds_dict_free(&r.keys);
	sl__free(r.type);
	sl__free(r.override);
	sl__free(r.bad);
	if (rc) {
		ds_builder_free(b);
		return rc;
	}
	*out_b = b;
	if (out_stats)
		*out_stats = st;
	return 0;
}

int ds_jsonl_read_sources(const ds_source *src, size_t n, const ds_ingest_opts *opt,
			  ds_builder **out_b, ds_ingest_stats *out_stats)
{
	return read_jsonl(src, n, opt, out_b, out_stats);
}

int ds_jsonl_read_files(const char *const *paths, size_t n, const ds_ingest_opts *opt,
			ds_builder **out_b, ds_ingest_stats *out_stats)
{
	ds_source *src = sl__calloc(n ? n : 1, sizeof *src);
	int rc = 0;

	*out_b = NULL;
	if (!src)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = ds_map_file(paths[i], &src[i]);
	if (rc == 0)
		rc = read_jsonl(src, n, opt, out_b, out_stats);
	for (size_t i = 0; i < n; i++)
		ds_unmap_file(&src[i]);
	sl__free(src);
	return rc;
}
