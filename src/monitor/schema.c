/*
 * Data schemas: parsing the schema file, the canonical JSON form, inference
 * from a profile, and checking a table against the rules. See schema.h for
 * the format.
 *
 * Checking reads what it can from the table's profile (missing fractions,
 * extremes, distinct counts) and scans the column only for what a profile
 * cannot answer: how many rows break a range, which values are not allowed
 * categories, which do not match a pattern. For string columns those last
 * two are decided once per dictionary entry, not once per row, so a
 * million-row column with a thousand distinct values runs a regex a
 * thousand times.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "monitor/schema.h"
#include "sort.h"
#include "yamltree.h"

#define MAX_LISTED 5 /* offending values named in a message */

/*
 * The path (yamltree.h syntax) of the value the last parse error is about,
 * so that schema_load_file can name its FILE:LINE:COL. Per thread, as the
 * error message itself.
 */
static _Thread_local char err_path[300];
static _Thread_local bool err_at_key; /* the error is about the key, not its value */

static int vbad(bool at_key, const char *path, const char *key, const char *fmt, va_list ap)
	SL__PRINTF(4, 0);

static int vbad(bool at_key, const char *path, const char *key, const char *fmt, va_list ap)
{
	char msg[SL__ERRMSG_MAX];

	vsnprintf(msg, sizeof msg, fmt, ap);
	snprintf(err_path, sizeof err_path, "%s%s%s", path, key && *path ? "." : "", key ? key : "");
	err_at_key = at_key;
	if (!*err_path)
		return sl__err(SL_EPARSE, "%s", msg);
	return sl__err(SL_EPARSE, "%s: %s", err_path, msg);
}

/* "PATH.KEY: message" as the error, remembering PATH.KEY. Returns SL_EPARSE. */
static int bad(const char *path, const char *key, const char *fmt, ...) SL__PRINTF(3, 4);

static int bad(const char *path, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbad(false, path, key, fmt, ap);
	va_end(ap);
	return rc;
}
#define bad(...) SL__ERR_CODE(bad(__VA_ARGS__))

/* The same about the key PATH.KEY itself (an unknown one). */
static int bad_key(const char *path, const char *key, const char *fmt, ...) SL__PRINTF(3, 4);

static int bad_key(const char *path, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbad(true, path, key, fmt, ap);
	va_end(ap);
	return rc;
}
#define bad_key(...) SL__ERR_CODE(bad_key(__VA_ARGS__))

/* The same for item i of list key. */
static int bad_item(const char *path, const char *key, size_t i, const char *msg)
{
	char k[64];

	snprintf(k, sizeof k, "%s[%zu]", key, i);
	return bad(path, k, "%s", msg);
}

static const char *const sev_names[] = {"ignore", "warn", "error"};

const char *schema_sev_name(schema_sev s)
{
	return (unsigned)s < SL__ARRAY_LEN(sev_names) ? sev_names[s] : "?";
}

bool schema_sev_parse(const char *s, schema_sev *out)
{
	if (!s)
		return false;
	if (!strcmp(s, "error"))
		*out = SCHEMA_ERROR;
	else if (!strcmp(s, "warn") || !strcmp(s, "warning"))
		*out = SCHEMA_WARN;
	else if (!strcmp(s, "ignore") || !strcmp(s, "off") || !strcmp(s, "none"))
		*out = SCHEMA_IGNORE;
	else
		return false;
	return true;
}

static void col_clear(schema_col *c)
{
	sl__free(c->name);
	json_decref(c->categories);
	for (size_t i = 0; i < c->n_cat_strs; i++)
		sl__free(c->cat_strs[i]);
	sl__free(c->cat_strs);
	sl__free(c->cat_nums);
	if (c->pattern)
		regfree(&c->re);
	sl__free(c->pattern);
	memset(c, 0, sizeof *c);
}

void schema_free(schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_cols; i++)
		col_clear(&s->cols[i]);
	sl__free(s->cols);
	sl__free(s);
}

/* ---- parsing ------------------------------------------------------------- */

/*
 * Unwraps {value: V, severity: S}; otherwise the value is v itself and the
 * severity the column's. *out_val is borrowed.
 */
static int rule_value(const json_t *v, const char *path, const char *key, schema_sev colsev,
		      const json_t **out_val, schema_sev *out_sev)
{
	*out_val = v;
	*out_sev = colsev;
	if (!json_is_object(v) || !json_object_get(v, "value"))
		return 0;
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)v, k, x) {
		char k2[200];
		if (!strcmp(k, "value") || !strcmp(k, "severity"))
			continue;
		snprintf(k2, sizeof k2, "%s.%s", key, k);
		return bad_key(path, k2, "unknown key '%s' (expected value, severity)", k);
	}
	*out_val = json_object_get(v, "value");
	x = json_object_get(v, "severity");
	if (x && !schema_sev_parse(json_string_value(x), out_sev)) {
		char k2[100];
		snprintf(k2, sizeof k2, "%s.severity", key);
		return bad(path, k2, "expected error, warn or ignore");
	}
	return 0;
}

static char *scalar_text(const json_t *v)
{
	char num[DS_F64_BUF];

	if (json_is_string(v))
		return sl__strdup(json_string_value(v));
	if (json_is_integer(v))
		return sl__asprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v)) {
		ds_format_f64(json_real_value(v), num);
		return sl__strdup(num);
	}
	if (json_is_boolean(v))
		return sl__strdup(json_is_true(v) ? "true" : "false");
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int parse_categories(schema_col *c, const json_t *v, const char *path)
{
	size_t n;

	if (!json_is_array(v) || !(n = json_array_size(v)))
		return bad(path, "categories", "expected a non-empty list of values");
	c->cat_strs = sl__calloc(n, sizeof *c->cat_strs);
	c->cat_nums = sl__calloc(n, sizeof *c->cat_nums);
	if (!c->cat_strs || !c->cat_nums)
		return sl__oom();
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		double d;
		if (!json_is_string(e) && !json_is_number(e) && !json_is_boolean(e))
			return bad_item(path, "categories", i, "expected a string, number or boolean");
		if (!(c->cat_strs[c->n_cat_strs] = scalar_text(e)))
			return sl__oom();
		c->n_cat_strs++;
		if (json_is_number(e))
			c->cat_nums[c->n_cat_nums++] = json_number_value(e);
		else if (json_is_string(e) && sl__parse_f64(json_string_value(e), &d) && !isnan(d))
			c->cat_nums[c->n_cat_nums++] = d;
	}
	qsort(c->cat_strs, c->n_cat_strs, sizeof *c->cat_strs, cmp_str);
	qsort(c->cat_nums, c->n_cat_nums, sizeof *c->cat_nums, cmp_dbl);
	c->categories = json_deep_copy(v);
	return c->categories ? 0 : sl__oom();
}

/* A bound: a number, or for timestamp columns (or any column) an ISO 8601 text. */
static int parse_bound(const json_t *v, const char *path, const char *key, schema_num_rule *r)
{
	const char *s = json_string_value(v);
	int64_t us;

	if (json_is_number(v)) {
		r->v = json_number_value(v);
	} else if (s && (!strcmp(s, "Inf") || !strcmp(s, "-Inf"))) {
		/* .inf in a YAML file, "Inf" in the canonical form: no bound on that side. */
		profile_json_get_num(v, &r->v);
	} else if (s && !strcmp(s, "NaN")) {
		return bad(path, key, "a bound cannot be NaN");
	} else if (s && ds_parse_timestamp(s, strlen(s), &us)) {
		r->v = (double)us;
	} else {
		return bad(path, key, "expected a number (or an ISO 8601 time)");
	}
	r->set = true;
	return 0;
}

static int parse_col(schema_col *c, const char *name, const json_t *spec, const char *path,
		     schema_sev def)
{
	static const char *const keys[] = {"type", "required", "max_missing", "min",
					   "max", "unique", "categories", "pattern",
					   "severity", "description", "name"};
	schema_sev colsev = def;
	const json_t *v;
	const char *k;
	json_t *x;
	int rc;

	memset(c, 0, sizeof *c);
	c->required = true;
	c->required_sev = def;
	if (!(c->name = sl__strdup(name)))
		return sl__oom();
	if (!json_is_object(spec))
		return bad(path, NULL, "expected a map of rules");
	json_object_foreach((json_t *)spec, k, x) {
		size_t i = 0;
		while (i < SL__ARRAY_LEN(keys) && strcmp(k, keys[i]))
			i++;
		if (i == SL__ARRAY_LEN(keys))
			return bad_key(path, k, "unknown rule '%s' (expected type, required, max_missing, "
				   "min, max, unique, categories, pattern, severity)",
				   k);
	}
	if ((x = json_object_get(spec, "severity")) &&
	    !schema_sev_parse(json_string_value(x), &colsev))
		return bad(path, "severity", "expected error, warn or ignore");
	c->required_sev = colsev;

	if ((x = json_object_get(spec, "type"))) {
		if ((rc = rule_value(x, path, "type", colsev, &v, &c->type_sev)))
			return rc;
		if (!json_is_string(v) || !ds_type_parse(json_string_value(v), &c->type))
			return bad(path, "type", "unknown type %s%s%s (expected int64, float64, bool, "
				   "string or timestamp)",
				   json_is_string(v) ? "'" : "",
				   json_is_string(v) ? json_string_value(v) : "(not a string)",
				   json_is_string(v) ? "'" : "");
		c->has_type = true;
	}
	if ((x = json_object_get(spec, "required"))) {
		if ((rc = rule_value(x, path, "required", colsev, &v, &c->required_sev)))
			return rc;
		if (!json_is_boolean(v))
			return bad(path, "required", "expected true or false");
		c->required = json_is_true(v);
	}
	if ((x = json_object_get(spec, "max_missing"))) {
		if ((rc = rule_value(x, path, "max_missing", colsev, &v, &c->max_missing.sev)))
			return rc;
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
			return bad(path, "max_missing", "expected a fraction between 0 and 1");
		c->max_missing.set = true;
		c->max_missing.v = json_number_value(v);
	}
	if ((x = json_object_get(spec, "min"))) {
		if ((rc = rule_value(x, path, "min", colsev, &v, &c->min.sev)) ||
		    (rc = parse_bound(v, path, "min", &c->min)))
			return rc;
	}
	if ((x = json_object_get(spec, "max"))) {
		if ((rc = rule_value(x, path, "max", colsev, &v, &c->max.sev)) ||
		    (rc = parse_bound(v, path, "max", &c->max)))
			return rc;
	}
	if (c->min.set && c->max.set && c->min.v > c->max.v)
		return bad(path, "max", "max is less than min");
	if ((x = json_object_get(spec, "unique"))) {
		if ((rc = rule_value(x, path, "unique", colsev, &v, &c->unique_sev)))
			return rc;
		if (!json_is_boolean(v))
			return bad(path, "unique", "expected true or false");
		c->unique = json_is_true(v);
	}
	if ((x = json_object_get(spec, "categories"))) {
		if ((rc = rule_value(x, path, "categories", colsev, &v, &c->categories_sev)) ||
		    (rc = parse_categories(c, v, path)))
			return rc;
	}
	if ((x = json_object_get(spec, "pattern"))) {
		char *full;
		if ((rc = rule_value(x, path, "pattern", colsev, &v, &c->pattern_sev)))
			return rc;
		if (!json_is_string(v))
			return bad(path, "pattern", "expected a regular expression (a string)");
		if (!(full = sl__asprintf("^(%s)$", json_string_value(v))))
			return sl__oom();
		int e = regcomp(&c->re, full, REG_EXTENDED | REG_NOSUB);
		sl__free(full);
		if (e) {
			char msg[256];
			regerror(e, &c->re, msg, sizeof msg);
			return bad(path, "pattern", "invalid regular expression '%s': %s",
				   json_string_value(v), msg);
		}
		if (!(c->pattern = sl__strdup(json_string_value(v)))) {
			regfree(&c->re);
			return sl__oom();
		}
	}
	return 0;
}

int schema_from_json(const json_t *j, schema_sev def, schema **out)
{
	const json_t *cols, *v;
	schema *s;
	const char *k;
	json_t *x;
	int rc = 0;

	*out = NULL;
	err_path[0] = '\0';
	if (!json_is_object(j))
		return bad("", NULL, "expected a map with a 'columns' key");
	json_object_foreach((json_t *)j, k, x) {
		if (strcmp(k, "columns") && strcmp(k, "severity") && strcmp(k, "extra_columns") &&
		    strcmp(k, "format") && strcmp(k, "version") && strcmp(k, "description"))
			return bad_key(k, NULL, "unknown key '%s' (expected columns, severity, extra_columns)", k);
	}
	if ((v = json_object_get(j, "format")) &&
	    (!json_is_string(v) || strcmp(json_string_value(v), "sluice.schema")))
		return bad("format", NULL, "expected \"sluice.schema\"");
	if ((v = json_object_get(j, "version")) &&
	    (!json_is_integer(v) || json_integer_value(v) != 1))
		return bad("version", NULL, "unsupported schema version");
	if (!(s = sl__calloc(1, sizeof *s)))
		return sl__oom();
	s->severity = def;
	s->extra_columns = SCHEMA_ERROR;
	if ((v = json_object_get(j, "severity")) && !schema_sev_parse(json_string_value(v), &s->severity)) {
		rc = bad("severity", NULL, "expected error, warn or ignore");
		goto fail;
	}
	if ((v = json_object_get(j, "extra_columns")) &&
	    !schema_sev_parse(json_string_value(v), &s->extra_columns)) {
		rc = bad("extra_columns", NULL, "expected error, warn or ignore");
		goto fail;
	}
	cols = json_object_get(j, "columns");
	if (!json_is_object(cols) && !json_is_array(cols)) {
		rc = bad("columns", NULL, "expected a map of column name to rules (or a list)");
		goto fail;
	}
	size_t n = json_is_object(cols) ? json_object_size(cols) : json_array_size(cols);
	if (!(s->cols = sl__calloc(n ? n : 1, sizeof *s->cols))) {
		rc = sl__oom();
		goto fail;
	}
	if (json_is_object(cols)) {
		json_object_foreach((json_t *)cols, k, x) {
			char path[300];
			sl__buf pb;
			sl__buf_init(&pb, sizeof path - 1);
			if (sl__buf_puts(&pb, "columns") || sl__ypath_key(&pb, k))
				sl__buf_reset(&pb);
			snprintf(path, sizeof path, "%s", pb.data ? pb.data : "columns");
			sl__buf_free(&pb);
			s->n_cols++;
			if ((rc = parse_col(&s->cols[s->n_cols - 1], k, x, path, s->severity)))
				goto fail;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			const json_t *e = json_array_get(cols, i);
			const char *name = json_string_value(json_object_get(e, "name"));
			char path[64];
			snprintf(path, sizeof path, "columns[%zu]", i);
			if (!name || !*name) {
				rc = bad(path, "name", "expected the column's name");
				goto fail;
			}
			s->n_cols++;
			if ((rc = parse_col(&s->cols[i], name, e, path, s->severity)))
				goto fail;
			for (size_t p = 0; p < i; p++)
				if (!strcmp(s->cols[p].name, name)) {
					rc = bad(path, "name", "column '%s' listed twice", name);
					goto fail;
				}
		}
	}
	*out = s;
	return 0;
fail:
	schema_free(s);
	return rc;
}

/* Reads a loaded file's JSON; its errors are placed through the positions. */
static int from_json_at(const json_t *j, const sl__ypmap *pm, const char *name, schema_sev def,
			schema **out)
{
	sl__yloc loc;
	int rc = schema_from_json(j, def, out);

	if (rc == SL_EPARSE && sl__ypmap_find(pm, err_path, &loc) >= 0) {
		char msg[SL__ERRMSG_MAX];
		snprintf(msg, sizeof msg, "%s", sl_errmsg());
		sl__yaml_err_at(rc, name, err_at_key && loc.key.line ? loc.key : loc.pos, "%s", msg);
	} else if (rc) {
		sl__err_prefix(rc, "%s", name);
	}
	return rc;
}

int schema_load_file(const char *path, schema_sev def, schema **out)
{
	sl__ypmap *pm = NULL;
	json_t *j = NULL;
	int rc;

	*out = NULL;
	/* .inf and -.inf become "Inf" and "-Inf", which bounds accept. */
	if ((rc = sl__yaml_load_json(path, SL__YJSON_NONFINITE_TEXT, &j, &pm)))
		return rc; /* already "FILE:LINE:COL: ..." */
	rc = from_json_at(j, pm, path, def, out);
	json_decref(j);
	sl__ypmap_free(pm);
	return rc;
}

int schema_parse_yaml(const char *text, size_t len, const char *name, schema_sev def,
		      schema **out)
{
	sl__yaml_opts yo;
	sl__ypmap *pm = NULL;
	json_t *j = NULL;
	int rc;

	*out = NULL;
	memset(&yo, 0, sizeof yo);
	yo.name = name ? name : "<schema>";
	if ((rc = sl__yaml_parse_json(text, len, &yo, SL__YJSON_NONFINITE_TEXT, &j, &pm)))
		return rc;
	rc = from_json_at(j, pm, yo.name, def, out);
	json_decref(j);
	sl__ypmap_free(pm);
	return rc;
}

/* ---- canonical form ------------------------------------------------------ */

static int put(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v))
		return sl__oom();
	return 0;
}

/* A rule's value, wrapped with its severity when that differs from the file's. */
static int put_rule(json_t *o, const char *key, json_t *v, schema_sev sev, schema_sev def)
{
	json_t *w;

	if (!v || sev == def)
		return put(o, key, v);
	if (!(w = json_object())) {
		json_decref(v);
		return sl__oom();
	}
	if (put(w, "value", v) || put(w, "severity", json_string(schema_sev_name(sev)))) {
		json_decref(w);
		return sl__oom();
	}
	return put(o, key, w);
}

/* A value of a column of type t as JSON: timestamps as ISO text, integers as integers. */
static json_t *typed_num(bool has_type, ds_type t, double x)
{
	char buf[DS_TS_BUF];

	if (has_type && t == DS_TIMESTAMP && isfinite(x) && fabs(x) < 9.2e18) {
		ds_format_timestamp((int64_t)x, buf);
		return json_string(buf);
	}
	if ((!has_type || t != DS_FLOAT64) && isfinite(x) && x == floor(x) &&
	    fabs(x) < 9007199254740992.0)
		return json_integer((json_int_t)x);
	return profile_json_num(x);
}

static json_t *col_json(const schema *s, const schema_col *c)
{
	json_t *o = json_object();
	schema_sev d = s->severity;
	int rc;

	if (!o)
		return NULL;
	rc = put_rule(o, "required", json_boolean(c->required), c->required_sev, d);
	if (!rc && c->has_type)
		rc = put_rule(o, "type", json_string(ds_type_name(c->type)), c->type_sev, d);
	if (!rc && c->max_missing.set)
		rc = put_rule(o, "max_missing", json_real(profile_round15(c->max_missing.v)),
			      c->max_missing.sev, d);
	if (!rc && c->min.set)
		rc = put_rule(o, "min", typed_num(c->has_type, c->type, c->min.v), c->min.sev, d);
	if (!rc && c->max.set)
		rc = put_rule(o, "max", typed_num(c->has_type, c->type, c->max.v), c->max.sev, d);
	if (!rc && c->unique)
		rc = put_rule(o, "unique", json_true(), c->unique_sev, d);
	if (!rc && c->categories)
		rc = put_rule(o, "categories", json_deep_copy(c->categories), c->categories_sev, d);
	if (!rc && c->pattern)
		rc = put_rule(o, "pattern", json_string(c->pattern), c->pattern_sev, d);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int schema_to_json(const schema *s, json_t **out)
{
	json_t *o = json_object(), *cols = json_object();
	int rc;

	*out = NULL;
	if (!o || !cols) {
		json_decref(o);
		json_decref(cols);
		return sl__oom();
	}
	rc = put(o, "columns", cols);
	rc = rc ? rc : put(o, "format", json_string("sluice.schema"));
	rc = rc ? rc : put(o, "version", json_integer(1));
	rc = rc ? rc : put(o, "severity", json_string(schema_sev_name(s->severity)));
	rc = rc ? rc : put(o, "extra_columns", json_string(schema_sev_name(s->extra_columns)));
	for (size_t i = 0; i < s->n_cols && !rc; i++)
		rc = put(cols, s->cols[i].name, col_json(s, &s->cols[i]));
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* ---- inference ----------------------------------------------------------- */

void schema_infer_opts_default(schema_infer_opts *o)
{
	o->severity = SCHEMA_ERROR;
	o->max_missing = NAN;
	o->max_categories = 20;
	o->unique_min_rows = 20;
}

static int infer_col(schema_col *c, const profile_col *p, const schema_infer_opts *o)
{
	schema_sev sev = o->severity;

	memset(c, 0, sizeof *c);
	if (!(c->name = sl__strdup(p->name)))
		return sl__oom();
	c->has_type = true;
	c->type = p->type;
	c->type_sev = sev;
	c->required = true;
	c->required_sev = sev;
	c->max_missing.set = true;
	c->max_missing.sev = sev;
	if (!isnan(o->max_missing)) {
		c->max_missing.v = o->max_missing;
	} else if (p->missing == 0 || p->count == 0) {
		c->max_missing.v = 0;
	} else {
		/* Twice what was seen, rounded up to a hundredth: room for
		 * ordinary variation, not for a column going empty. */
		double f = 2.0 * (double)p->missing / (double)p->count;
		f = ceil(f * 100 - 1e-9) / 100;
		c->max_missing.v = f > 1 ? 1 : f;
	}
	if (p->numeric && p->n_values) {
		/* Observed ranges, not widened, as warnings: a new extreme is
		 * worth a line in the report, rarely a reason to stop. */
		c->min = (schema_num_rule){true, p->min, SCHEMA_WARN};
		c->max = (schema_num_rule){true, p->max, SCHEMA_WARN};
	}
	if (p->type == DS_STRING && p->distinct && p->distinct <= o->max_categories &&
	    p->cats_other == 0 && p->n_cats == p->distinct && 2 * p->distinct <= p->n_values) {
		json_t *a = json_array();
		if (!a)
			return sl__oom();
		/* Sorted by value: the file reads better than by count. */
		char **v = sl__calloc(p->n_cats, sizeof *v);
		if (!v) {
			json_decref(a);
			return sl__oom();
		}
		for (size_t i = 0; i < p->n_cats; i++)
			v[i] = p->cats[i].str;
		qsort(v, p->n_cats, sizeof *v, cmp_str);
		int rc = 0;
		for (size_t i = 0; i < p->n_cats && !rc; i++)
			if (json_array_append_new(a, json_string(v[i])))
				rc = sl__oom();
		sl__free(v);
		if (!rc)
			rc = parse_categories(c, a, c->name);
		json_decref(a);
		if (rc)
			return rc;
		c->categories_sev = sev;
	}
	if ((p->type == DS_STRING || p->type == DS_INT64) && p->n_values >= o->unique_min_rows &&
	    p->distinct == p->n_values) {
		c->unique = true;
		c->unique_sev = sev;
	}
	return 0;
}

int schema_infer(const profile *p, const schema_infer_opts *o, schema **out)
{
	schema_infer_opts def;
	schema *s;
	int rc = 0;

	*out = NULL;
	if (!o) {
		schema_infer_opts_default(&def);
		o = &def;
	}
	if (!(s = sl__calloc(1, sizeof *s)) ||
	    !(s->cols = sl__calloc(p->n_cols ? p->n_cols : 1, sizeof *s->cols))) {
		sl__free(s);
		return sl__oom();
	}
	s->severity = o->severity;
	s->extra_columns = o->severity;
	for (size_t i = 0; i < p->n_cols && !rc; i++) {
		s->n_cols++;
		rc = infer_col(&s->cols[i], &p->cols[i], o);
	}
	if (rc) {
		schema_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* ---- checking ------------------------------------------------------------ */

int schema_results_add(schema_results *r, const char *rule, const char *column,
		       schema_sev sev, bool passed, json_t *observed, json_t *expected,
		       uint64_t violations, const char *fmt, ...)
{
	schema_result *e;
	sl__buf msg;
	va_list ap;
	int rc;

	/* Not applicable is json_null(), never NULL: NULL is a constructor
	 * that ran out of memory. */
	if (!observed || !expected) {
		json_decref(observed);
		json_decref(expected);
		return sl__oom();
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;
		schema_result *v = sl__reallocarray(r->v, cap, sizeof *v);
		if (!v) {
			json_decref(observed);
			json_decref(expected);
			return sl__oom();
		}
		r->v = v;
		r->cap = cap;
	}
	sl__buf_init(&msg, 4096);
	va_start(ap, fmt);
	rc = sl__buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	e = &r->v[r->n];
	memset(e, 0, sizeof *e);
	e->rule = rule;
	e->severity = sev;
	e->passed = passed;
	e->observed = observed;
	e->expected = expected;
	e->violations = violations;
	e->column = column ? sl__strdup(column) : NULL;
	e->message = rc ? NULL : sl__buf_detach(&msg);
	sl__buf_free(&msg);
	r->n++;
	if ((column && !e->column) || !e->message)
		return sl__oom();
	if (!passed && sev == SCHEMA_ERROR)
		r->errors++;
	else if (!passed && sev == SCHEMA_WARN)
		r->warnings++;
	return 0;
}

void schema_results_free(schema_results *r)
{
	for (size_t i = 0; i < r->n; i++) {
		sl__free(r->v[i].column);
		sl__free(r->v[i].message);
		json_decref(r->v[i].observed);
		json_decref(r->v[i].expected);
		json_decref(r->v[i].rows);
	}
	sl__free(r->v);
	memset(r, 0, sizeof *r);
}

/* The first offending rows of a rule, numbered from 1. */
typedef struct row_list {
	uint64_t v[SCHEMA_MAX_ROWS];
	size_t n;
} row_list;

static inline void row_note(row_list *l, size_t i)
{
	if (l->n < SCHEMA_MAX_ROWS)
		l->v[l->n++] = (uint64_t)i + 1;
}

/* "; rows 3, 7 and 12" (or "; row 3", or "" when none) for a message. */
static const char *rows_text(const row_list *l, uint64_t total, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < l->n && used < size; k++) {
		int w = snprintf(buf + used, size - used, "%s%" PRIu64,
				 k == 0 ? (total == 1 ? "; row " : "; rows ")
				 : k + 1 == l->n && total == l->n ? " and " : ", ",
				 l->v[k]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (total > l->n && used < size)
		snprintf(buf + used, size - used, " ...");
	return buf;
}

/* Attaches l to the result just added (its JSON `rows`). */
static int rows_attach(schema_results *r, const row_list *l)
{
	json_t *a;

	if (!l->n)
		return 0;
	if (!(a = json_array()))
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t k = 0; k < l->n; k++)
		if (json_array_append_new(a, json_integer((json_int_t)l->v[k]))) {
			json_decref(a);
			return sl__err(SL_ENOMEM, "out of memory");
		}
	r->v[r->n - 1].rows = a;
	return 0;
}

/* Text of a number for messages (timestamps as ISO text). */
static const char *num_text(ds_type t, double x, char *buf)
{
	if (t == DS_TIMESTAMP && isfinite(x) && fabs(x) < 9.2e18)
		ds_format_timestamp((int64_t)x, buf);
	else
		ds_format_f64(x, buf);
	return buf;
}

/* Counts the rows below lo (dir < 0) or above hi (dir > 0) and the extreme. */
static uint64_t count_outside(const ds_table *t, size_t j, double bound, int dir, double *extreme,
			      row_list *rows)
{
	size_t n = ds_nrow(t);
	const uint8_t *valid = ds_col_validity(t, j);
	uint64_t bad = 0;
	double ext = NAN;

	const double *f = ds_col_f64(t, j);
	const int64_t *iv = f ? NULL : ds_col_i64(t, j);

	for (size_t i = 0; i < n; i++) {
		double x;
		if (!ds_valid(valid, i))
			continue;
		x = f ? f[i] : (double)iv[i];
		if (isnan(x))
			continue;
		if (isnan(ext) || (dir < 0 ? x < ext : x > ext))
			ext = x;
		if (dir < 0 ? x < bound : x > bound) {
			bad++;
			row_note(rows, i);
		}
	}
	*extreme = ext;
	return bad;
}

/* The first missing rows: null, or NaN in a float column. */
static void missing_rows(const ds_table *t, size_t j, row_list *rows)
{
	const uint8_t *valid = ds_col_validity(t, j);
	const double *f = ds_col_f64(t, j);

	for (size_t i = 0, n = ds_nrow(t); i < n && rows->n < SCHEMA_MAX_ROWS; i++)
		if (!ds_valid(valid, i) || (f && isnan(f[i])))
			row_note(rows, i);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The first rows that repeat the value of an earlier row, over the finite,
 * non-missing values the profile counts as distinct. Only a failed rule
 * asks, so the work numbers need (a radix sort of their keys to find the
 * repeated values, then one pass in row order) costs nothing on clean data.
 */
static int repeat_rows(const ds_table *t, size_t j, row_list *rows)
{
	size_t n = ds_nrow(t), m = 0, nd = 0;
	const uint8_t *valid = ds_col_validity(t, j);
	ds_type ty = ds_col_type(t, j);
	uint8_t *seen;

	if (ty == DS_STRING || ty == DS_BOOL) {
		size_t k = ty == DS_BOOL ? 2 : ds_dict_size(t, j);
		const uint32_t *codes = ty == DS_STRING ? ds_col_codes(t, j) : NULL;
		const uint8_t *b = ty == DS_BOOL ? ds_col_bool(t, j) : NULL;
		if (!codes && !b)
			return 0; /* cannot happen: the type says which one there is */
		if (!(seen = sl__calloc(k ? k : 1, 1)))
			return sl__err(SL_ENOMEM, "out of memory");
		for (size_t i = 0; i < n && rows->n < SCHEMA_MAX_ROWS; i++) {
			size_t v = codes ? codes[i] : b[i];
			if (!ds_valid(valid, i))
				continue;
			if (seen[v])
				row_note(rows, i);
			seen[v] = 1;
		}
		sl__free(seen);
		return 0;
	}
	const double *f = ds_col_f64(t, j);
	const int64_t *iv = f ? NULL : ds_col_i64(t, j);
	uint64_t *keys = sl__calloc(n ? n : 1, sizeof *keys), *tmp = sl__calloc(n ? n : 1, sizeof *tmp);
	if (!f && !iv) {
		sl__free(keys);
		sl__free(tmp);
		return 0;
	}
	if (!keys || !tmp) {
		sl__free(keys);
		sl__free(tmp);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		if (ds_valid(valid, i) && (!f || isfinite(f[i])))
			keys[m++] = f ? sl__key_f64(f[i]) : sl__key_i64(iv[i]);
	if (sl__radix_sort_u64(keys, NULL, m)) {
		sl__free(keys);
		sl__free(tmp);
		return SL_ENOMEM;
	}
	/* The values that occur more than once, each once, sorted (in keys). */
	for (size_t a = 1; a < m; a++)
		if (keys[a] == keys[a - 1] && (nd == 0 || keys[nd - 1] != keys[a]))
			keys[nd++] = keys[a];
	/* tmp now flags, per repeated value, that a row has shown it. */
	memset(tmp, 0, nd * sizeof *tmp);
	for (size_t i = 0; i < n && rows->n < SCHEMA_MAX_ROWS; i++) {
		const uint64_t *hit;
		uint64_t key;
		if (!ds_valid(valid, i) || (f && !isfinite(f[i])))
			continue;
		key = f ? sl__key_f64(f[i]) : sl__key_i64(iv[i]);
		if (!nd || !(hit = bsearch(&key, keys, nd, sizeof *keys, cmp_u64)))
			continue;
		if (tmp[hit - keys])
			row_note(rows, i);
		tmp[hit - keys] = 1;
	}
	sl__free(keys);
	sl__free(tmp);
	return 0;
}

static bool in_sorted_strs(char *const *v, size_t n, const char *s)
{
	return n && bsearch(&s, v, n, sizeof *v, cmp_str) != NULL;
}

static bool in_sorted_nums(const double *v, size_t n, double x)
{
	return n && bsearch(&x, v, n, sizeof *v, cmp_dbl) != NULL;
}

/*
 * Rows of a string or bool column whose value fails a per-value test, decided
 * once per distinct value. The first MAX_LISTED offending values (most
 * frequent first, as the profile orders them) go to *listed as a JSON array.
 */
typedef bool (*value_ok_fn)(const schema_col *c, const char *s);

static bool cat_ok(const schema_col *c, const char *s)
{
	return in_sorted_strs(c->cat_strs, c->n_cat_strs, s);
}

static bool pattern_ok(const schema_col *c, const char *s)
{
	return regexec(&c->re, s, 0, NULL, 0) == 0;
}

static int scan_values(const schema_col *c, const ds_table *t, size_t j, const profile_col *pc,
		       value_ok_fn ok, uint64_t *out_bad, json_t **listed, row_list *rows)
{
	size_t n = ds_nrow(t);
	const uint8_t *valid = ds_col_validity(t, j);
	uint64_t bad = 0;

	*listed = json_array();
	if (!*listed)
		return sl__oom();
	if (ds_col_type(t, j) == DS_BOOL) {
		const uint8_t *v = ds_col_bool(t, j);
		bool ok0 = ok(c, "false"), ok1 = ok(c, "true");
		for (size_t i = 0; i < n; i++)
			if (ds_valid(valid, i) && !(v[i] ? ok1 : ok0)) {
				bad++;
				row_note(rows, i);
			}
	} else {
		size_t k = ds_dict_size(t, j);
		const uint32_t *codes = ds_col_codes(t, j);
		uint8_t *flag = sl__calloc(k ? k : 1, 1);
		if (!flag)
			return sl__oom();
		for (size_t d = 0; d < k; d++)
			flag[d] = ok(c, ds_dict_str(t, j, (uint32_t)d, NULL)) ? 0 : 1;
		for (size_t i = 0; i < n; i++)
			if (ds_valid(valid, i) && flag[codes[i]]) {
				bad++;
				row_note(rows, i);
			}
		sl__free(flag);
	}
	/* Name offending values in the profile's order (count, then value). */
	for (size_t i = 0; bad && i < pc->n_cats && json_array_size(*listed) < MAX_LISTED; i++)
		if (!ok(c, pc->cats[i].str) && json_array_append_new(*listed, json_string(pc->cats[i].str)))
			return sl__oom();
	*out_bad = bad;
	return 0;
}

static void list_text(const json_t *a, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < json_array_size(a) && used < size; i++) {
		const json_t *e = json_array_get(a, i);
		char num[DS_F64_BUF];
		const char *s = json_string_value(e);
		if (!s) {
			ds_format_f64(json_number_value(e), num);
			s = num;
		}
		int w = snprintf(buf + used, size - used, "%s'%s'", i ? ", " : "", s);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int check_numeric_categories(const schema_col *c, const ds_table *t, size_t j,
				    uint64_t *out_bad, json_t **listed, row_list *rows)
{
	size_t n = ds_nrow(t);
	const uint8_t *valid = ds_col_validity(t, j);
	const double *f = ds_col_f64(t, j);
	const int64_t *iv = f ? NULL : ds_col_i64(t, j);
	uint64_t bad = 0;

	*listed = json_array();
	if (!*listed)
		return sl__oom();
	for (size_t i = 0; i < n; i++) {
		double x;
		if (!ds_valid(valid, i))
			continue;
		x = f ? f[i] : (double)iv[i];
		if (isnan(x) || in_sorted_nums(c->cat_nums, c->n_cat_nums, x))
			continue;
		bad++;
		row_note(rows, i);
		bool seen = false;
		for (size_t k = 0; k < json_array_size(*listed); k++)
			seen |= json_number_value(json_array_get(*listed, k)) == x;
		if (!seen && json_array_size(*listed) < MAX_LISTED &&
		    json_array_append_new(*listed, profile_json_num(x)))
			return sl__oom();
	}
	*out_bad = bad;
	return 0;
}

static int check_col(const schema_col *c, const ds_table *t, const profile *p,
		     schema_results *r)
{
	const char *name = c->name;
	const profile_col *pc;
	char a[DS_TS_BUF], b[DS_TS_BUF], rt[128];
	size_t j;
	int rc;

	if (ds_col_find(t, name, &j)) {
		sl__err_clear();
		if (!c->required)
			return 0;
		return schema_results_add(r, "required", name, c->required_sev, false,
					  json_string("absent"), json_string("present"), 1,
					  "column '%s' is missing", name);
	}
	pc = &p->cols[j];
	ds_type ty = ds_col_type(t, j);
	bool numeric = ty == DS_INT64 || ty == DS_FLOAT64 || ty == DS_TIMESTAMP;
	if (c->required &&
	    (rc = schema_results_add(r, "required", name, c->required_sev, true,
				     json_string("present"), json_string("present"), 0,
				     "column '%s' is present", name)))
		return rc;
	if (c->has_type) {
		bool ok = ty == c->type || (c->type == DS_FLOAT64 && ty == DS_INT64);
		if ((rc = schema_results_add(r, "type", name, c->type_sev, ok,
					     json_string(ds_type_name(ty)),
					     json_string(ds_type_name(c->type)), ok ? 0 : 1,
					     "column '%s' is %s%s%s", name, ds_type_name(ty),
					     ok ? "" : ", expected ", ok ? "" : ds_type_name(c->type))))
			return rc;
		if (!ok)
			numeric = false; /* value rules below would compare apples and pears */
	}
	if (c->max_missing.set) {
		double f = pc->count ? (double)pc->missing / (double)pc->count : 0;
		bool ok = f <= c->max_missing.v;
		row_list rows = {{0}, 0};
		if (!ok)
			missing_rows(t, j, &rows);
		if ((rc = schema_results_add(r, "max_missing", name, c->max_missing.sev, ok,
					     json_real(profile_round15(f)),
					     json_real(c->max_missing.v), ok ? 0 : pc->missing,
					     "column '%s': %" PRIu64 " of %" PRIu64
					     " values missing (%.4g) %s maximum %.4g%s",
					     name, pc->missing, pc->count, f, ok ? "within" : "exceeds",
					     c->max_missing.v, rows_text(&rows, pc->missing, rt, sizeof rt))) ||
		    (rc = rows_attach(r, &rows)))
			return rc;
	}
	if (c->has_type && ty != c->type && !(c->type == DS_FLOAT64 && ty == DS_INT64))
		return 0;
	for (int side = -1; side <= 1; side += 2) {
		const schema_num_rule *nr = side < 0 ? &c->min : &c->max;
		double ext = NAN;
		uint64_t bad;
		row_list rows = {{0}, 0};
		if (!nr->set)
			continue;
		if (!numeric) {
			if ((rc = schema_results_add(r, side < 0 ? "min" : "max", name, nr->sev, false,
						     json_string(ds_type_name(ty)),
						     json_string("a numeric column"), 0,
						     "column '%s': %s needs a number or timestamp "
						     "column, not %s",
						     name, side < 0 ? "min" : "max", ds_type_name(ty))))
				return rc;
			continue;
		}
		bad = count_outside(t, j, nr->v, side, &ext, &rows);
		if ((rc = schema_results_add(
			     r, side < 0 ? "min" : "max", name, nr->sev, bad == 0,
			     typed_num(true, ty, ext), typed_num(true, ty, nr->v), bad,
			     "column '%s': %" PRIu64 " values %s %s (%s %s)%s", name, bad,
			     side < 0 ? "below the minimum" : "above the maximum",
			     num_text(ty, nr->v, a), side < 0 ? "smallest" : "largest",
			     isnan(ext) ? "none" : num_text(ty, ext, b),
			     rows_text(&rows, bad, rt, sizeof rt))) ||
		    (rc = rows_attach(r, &rows)))
			return rc;
	}
	if (c->unique) {
		/* Over the finite values: infinities are counted apart (profile.h). */
		uint64_t dup = pc->n_values - pc->distinct;
		row_list rows = {{0}, 0};
		if (dup && (rc = repeat_rows(t, j, &rows)))
			return rc;
		if ((rc = schema_results_add(r, "unique", name, c->unique_sev, dup == 0,
					     json_integer((json_int_t)pc->distinct),
					     json_integer((json_int_t)(pc->n_values)), dup,
					     "column '%s': %" PRIu64 " distinct of %" PRIu64
					     " values (%" PRIu64 " repeated)%s",
					     name, pc->distinct, pc->n_values, dup,
					     rows_text(&rows, dup, rt, sizeof rt))) ||
		    (rc = rows_attach(r, &rows)))
			return rc;
	}
	if (c->categories) {
		uint64_t bad = 0;
		json_t *listed = NULL;
		char text[300];
		row_list rows = {{0}, 0};
		if (ty == DS_STRING || ty == DS_BOOL)
			rc = scan_values(c, t, j, pc, cat_ok, &bad, &listed, &rows);
		else
			rc = check_numeric_categories(c, t, j, &bad, &listed, &rows);
		if (rc) {
			json_decref(listed);
			return rc;
		}
		list_text(listed, text, sizeof text);
		if ((rc = schema_results_add(r, "categories", name, c->categories_sev, bad == 0,
					     listed, json_deep_copy(c->categories), bad,
					     bad ? "column '%s': %" PRIu64 " values not among the %zu "
						   "allowed categories: %s%s"
						 : "column '%s': %" PRIu64 " values outside the %zu "
						   "allowed categories%s%s",
					     name, bad, json_array_size(c->categories), text,
					     rows_text(&rows, bad, rt, sizeof rt))) ||
		    (rc = rows_attach(r, &rows)))
			return rc;
	}
	if (c->pattern) {
		uint64_t bad = 0;
		json_t *listed = NULL;
		char text[300];
		row_list rows = {{0}, 0};
		if (ty != DS_STRING)
			return schema_results_add(r, "pattern", name, c->pattern_sev, false,
						  json_string(ds_type_name(ty)),
						  json_string(c->pattern), 0,
						  "column '%s': pattern needs a string column, not %s",
						  name, ds_type_name(ty));
		if ((rc = scan_values(c, t, j, pc, pattern_ok, &bad, &listed, &rows))) {
			json_decref(listed);
			return rc;
		}
		list_text(listed, text, sizeof text);
		if ((rc = schema_results_add(r, "pattern", name, c->pattern_sev, bad == 0, listed,
					     json_string(c->pattern), bad,
					     "column '%s': %" PRIu64 " values do not match '%s'%s%s%s",
					     name, bad, c->pattern, bad ? ": " : "", text,
					     rows_text(&rows, bad, rt, sizeof rt))) ||
		    (rc = rows_attach(r, &rows)))
			return rc;
	}
	return 0;
}

int schema_check(const schema *s, const ds_table *t, const profile *p, schema_results *r)
{
	int rc;

	for (size_t i = 0; i < s->n_cols; i++)
		if ((rc = check_col(&s->cols[i], t, p, r)))
			return rc;
	if (s->extra_columns == SCHEMA_IGNORE)
		return 0;
	for (size_t j = 0; j < ds_ncol(t); j++) {
		const char *name = ds_col_name(t, j);
		bool known = false;
		for (size_t i = 0; i < s->n_cols && !known; i++)
			known = !strcmp(s->cols[i].name, name);
		if (!known && (rc = schema_results_add(r, "extra_column", name, s->extra_columns,
						       false, json_string("present"),
						       json_string("absent"), 1,
						       "column '%s' is not in the schema", name)))
			return rc;
	}
	return 0;
}
