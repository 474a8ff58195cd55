/*
 * Writers for other tools: a dataset as CSV or JSON Lines, and a JSON
 * description (schema, row count, first rows) for `sluice artifacts show`.
 *
 * The CSV is written so that the CSV reader gives back the same values:
 *   - a null is an empty unquoted field;
 *   - a string is quoted when it is empty, equals a default null marker, or
 *     contains the delimiter, a quote, CR or LF (quotes are doubled);
 *   - floats use the shortest text that reads back as the same double, with
 *     NaN, Inf and -Inf spelled so; timestamps are ISO 8601 in UTC (Z);
 *     bools are true and false.
 * JSON Lines writes one object per row with the columns in order; nulls
 * are null, non-finite floats are the strings "NaN", "Inf" and "-Inf" (JSON
 * has no such numbers; the JSONL reader reads them back into a float
 * column), and floats with an integral value keep a ".0" so their type
 * survives a round trip.
 *
 * Output goes to a temp file beside out_path, fsync, rename.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dataset/internal.h"

typedef struct outfile {
	FILE *f;
	char *tmp;
	const char *path;
} outfile;

static int out_open(outfile *o, const char *path)
{
	char rnd[9];

	memset(o, 0, sizeof *o);
	o->path = path;
	sl__random_hex(rnd, 8);
	o->tmp = sl__asprintf("%s.tmp-%s", path, rnd);
	if (!o->tmp)
		return sl__err(SL_ENOMEM, "out of memory");
	o->f = fopen(o->tmp, "wbx");
	if (!o->f) {
		int rc = sl__err(SL_EIO, "%s: create: %s", o->tmp, strerror(errno));
		sl__free(o->tmp);
		o->tmp = NULL;
		return rc;
	}
	setvbuf(o->f, NULL, _IOFBF, (size_t)1 << 20);
	return 0;
}

static int out_close(outfile *o, int rc)
{
	if (o->f) {
		if (ferror(o->f) && rc == 0)
			rc = sl__err(SL_EIO, "%s: write failed", o->tmp);
		if (fclose(o->f) != 0 && rc == 0)
			rc = sl__err(SL_EIO, "%s: close: %s", o->tmp, strerror(errno));
		o->f = NULL;
		if (rc == 0)
			rc = sl__commit_file(o->tmp, o->path);
		if (rc)
			unlink(o->tmp);
	}
	sl__free(o->tmp);
	o->tmp = NULL;
	return rc;
}

/* ---- CSV ---------------------------------------------------------------------- */

static bool csv_needs_quotes(const char *s, size_t len)
{
	if (len == 0)
		return true;
	for (size_t k = 0; k < ds_n_default_null_values; k++)
		if (strlen(ds_default_null_values[k]) == len && !memcmp(ds_default_null_values[k], s, len))
			return true;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == ',' || c == '"' || c == '\n' || c == '\r')
			return true;
	}
	return false;
}

static void csv_put_str(FILE *f, const char *s, size_t len)
{
	if (!csv_needs_quotes(s, len)) {
		fwrite(s, 1, len, f);
		return;
	}
	putc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			putc('"', f);
		putc(s[i], f);
	}
	putc('"', f);
}

/* Writes row i of column j as text (not for strings or nulls). */
static size_t format_value(const ds_table *t, size_t j, size_t i, char *buf)
{
	switch (ds_col_type(t, j)) {
	case DS_INT64:
		return (size_t)snprintf(buf, DS_TS_BUF, "%lld", (long long)ds_col_i64(t, j)[i]);
	case DS_FLOAT64:
		return ds_format_f64(ds_col_f64(t, j)[i], buf);
	case DS_BOOL:
		strcpy(buf, ds_col_bool(t, j)[i] ? "true" : "false");
		return strlen(buf);
	case DS_TIMESTAMP:
		return ds_format_timestamp(ds_col_i64(t, j)[i], buf);
	case DS_STRING:
		break;
	}
	buf[0] = '\0';
	return 0;
}

static void write_csv(const ds_table *t, FILE *f)
{
	size_t nrow = ds_nrow(t), ncol = ds_ncol(t);
	char buf[DS_TS_BUF + DS_F64_BUF];

	for (size_t j = 0; j < ncol; j++) {
		const char *name = ds_col_name(t, j);
		if (j)
			putc(',', f);
		csv_put_str(f, name, strlen(name));
	}
	putc('\n', f);
	for (size_t i = 0; i < nrow; i++) {
		for (size_t j = 0; j < ncol; j++) {
			if (j)
				putc(',', f);
			if (!ds_valid(ds_col_validity(t, j), i))
				continue;
			if (ds_col_type(t, j) == DS_STRING) {
				size_t len;
				const char *s = ds_col_str(t, j, i, &len);
				csv_put_str(f, s, len);
			} else {
				size_t n = format_value(t, j, i, buf);
				fwrite(buf, 1, n, f);
			}
		}
		putc('\n', f);
	}
}

/* ---- JSON Lines ---------------------------------------------------------------- */

static void json_put_str(FILE *f, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	putc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20) {
				fputs("\\u00", f);
				putc(hex[c >> 4], f);
				putc(hex[c & 15], f);
			} else {
				putc(c, f);
			}
		}
	}
	putc('"', f);
}

static void write_jsonl(const ds_table *t, FILE *f)
{
	size_t nrow = ds_nrow(t), ncol = ds_ncol(t);
	char buf[DS_TS_BUF + DS_F64_BUF];

	for (size_t i = 0; i < nrow; i++) {
		putc('{', f);
		for (size_t j = 0; j < ncol; j++) {
			const char *name = ds_col_name(t, j);
			ds_type type = ds_col_type(t, j);
			size_t n;
			if (j)
				putc(',', f);
			json_put_str(f, name, strlen(name));
			putc(':', f);
			if (!ds_valid(ds_col_validity(t, j), i)) {
				fputs("null", f);
				continue;
			}
			switch (type) {
			case DS_STRING: {
				const char *s = ds_col_str(t, j, i, &n);
				json_put_str(f, s, n);
				break;
			}
			case DS_TIMESTAMP:
				n = format_value(t, j, i, buf);
				json_put_str(f, buf, n);
				break;
			case DS_FLOAT64: {
				double v = ds_col_f64(t, j)[i];
				n = format_value(t, j, i, buf);
				if (!isfinite(v)) {
					json_put_str(f, buf, n);
					break;
				}
				fwrite(buf, 1, n, f);
				if (!strpbrk(buf, ".e"))
					fputs(".0", f);
				break;
			}
			default:
				n = format_value(t, j, i, buf);
				fwrite(buf, 1, n, f);
			}
		}
		fputs("}\n", f);
	}
}

int ds_export_table(const ds_table *t, const char *format, const char *out_path)
{
	outfile o;
	int rc;
	bool csv = !strcmp(format, "csv");

	if (!csv && strcmp(format, "jsonl"))
		return sl__err(SL_EINVAL, "unknown export format '%s' (csv or jsonl)", format);
	if ((rc = out_open(&o, out_path)))
		return rc;
	if (csv)
		write_csv(t, o.f);
	else
		write_jsonl(t, o.f);
	return out_close(&o, 0);
}

int ds_export(const char *path, const char *format, const char *out_path)
{
	ds_table *t;
	int rc = ds_open(path, DS_OPEN_VERIFY, &t);

	if (rc)
		return rc;
	rc = ds_export_table(t, format, out_path);
	ds_close(t);
	return rc;
}

/* ---- description ---------------------------------------------------------------- */

static json_t *cell(const ds_table *t, size_t j, size_t i)
{
	char buf[DS_TS_BUF + DS_F64_BUF];
	size_t len;

	if (!ds_valid(ds_col_validity(t, j), i))
		return json_null();
	switch (ds_col_type(t, j)) {
	case DS_INT64:
		return json_integer((json_int_t)ds_col_i64(t, j)[i]);
	case DS_FLOAT64: {
		double v = ds_col_f64(t, j)[i];
		if (isfinite(v))
			return json_real(v);
		ds_format_f64(v, buf);
		return json_string(buf);
	}
	case DS_BOOL:
		return json_boolean(ds_col_bool(t, j)[i]);
	case DS_TIMESTAMP:
		ds_format_timestamp(ds_col_i64(t, j)[i], buf);
		return json_string(buf);
	case DS_STRING: {
		const char *s = ds_col_str(t, j, i, &len);
		return json_stringn(s, len);
	}
	}
	return json_null();
}

int ds_describe_json(const char *path, size_t head_rows, json_t **out)
{
	ds_table *t;
	json_t *o = NULL, *cols, *head;
	int rc;

	*out = NULL;
	if ((rc = ds_open(path, DS_OPEN_VERIFY, &t)))
		return rc;
	o = json_object();
	cols = json_array();
	head = json_array();
	if (!o || !cols || !head) {
		json_decref(o);
		json_decref(cols);
		json_decref(head);
		ds_close(t);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	json_object_set_new(o, "rows", json_integer((json_int_t)ds_nrow(t)));
	for (size_t j = 0; j < ds_ncol(t); j++) {
		json_t *c = json_object();
		json_object_set_new(c, "name", json_string(ds_col_name(t, j)));
		json_object_set_new(c, "type", json_string(ds_type_name(ds_col_type(t, j))));
		json_object_set_new(c, "nulls", json_integer((json_int_t)ds_col_nulls(t, j)));
		json_array_append_new(cols, c);
	}
	for (size_t i = 0; i < head_rows && i < ds_nrow(t); i++) {
		json_t *row = json_array();
		for (size_t j = 0; j < ds_ncol(t); j++)
			json_array_append_new(row, cell(t, j, i));
		json_array_append_new(head, row);
	}
	json_object_set_new(o, "columns", cols);
	json_object_set_new(o, "head", head);
	ds_close(t);
	*out = o;
	return 0;
}
