/*
 * SQL readers: one query against an SQLite file (sqlite3) or a PostgreSQL
 * server (libpq), its rows into a typed, columnar builder.
 *
 * Both backends hand every row to one shared path (row_accept) as cells:
 * a NULL, an integer, a float, or text. Each column either has a fixed type
 * (an override, or for PostgreSQL the type its OID maps to) and every cell
 * is converted to it, or (SQLite without an override) its type is inferred
 * from the cells seen. A cell that cannot be converted makes its row bad,
 * and bad rows follow on_error exactly as in the CSV reader: fail names the
 * row and column, skip counts, quarantine counts and passes the row to the
 * reject callback. A row is converted whole before anything is appended, so
 * a bad row leaves no partial trace in the dataset.
 *
 * SQLite types. SQLite types values, not columns, so a column's type is
 * inferred over the rows from each value's storage class:
 *
 *     (only NULLs) --INTEGER--> int64 --REAL--> float64 --TEXT--> string
 *          |                                                 ^
 *          +-----------------REAL / TEXT / BLOB--------------+  (joins)
 *
 * int64 joins REAL to float64; anything joins TEXT or BLOB to string, and
 * numbers then appear in their text form (integers in decimal, floats in
 * the shortest text that reads back exactly). A BLOB becomes the string
 * "\x" followed by lowercase hex digits, PostgreSQL's text form of bytea,
 * so both backends give the same text for binary data. Widening rebuilds
 * the column once per step of the lattice (at most twice). The declared
 * type of a result column (its affinity, by SQLite's own rules) decides
 * what inference cannot: a column of only NULLs (or of an empty result)
 * takes the declared type (string when there is none), a column declared
 * DATE/DATETIME/TIMESTAMP whose values are all ISO 8601 text becomes a
 * timestamp column, and one declared BOOL/BOOLEAN whose values are all 0
 * or 1 becomes a bool column. Text must be valid UTF-8.
 *
 * PostgreSQL types, by the result's type OID:
 *
 *     int2 int4 int8 oid           -> int64
 *     float4 float8 numeric        -> float64 (numeric rounded to the nearest
 *                                     double: about 15-17 significant digits)
 *     bool                         -> bool
 *     date timestamp timestamptz   -> timestamp (UTC microseconds; a date is
 *                                     its midnight UTC; timestamp without a
 *                                     zone is read as UTC)
 *     anything else                -> string, PostgreSQL's text form (text,
 *                                     varchar, char, name, uuid, json, jsonb,
 *                                     arrays, intervals, bytea as \x...)
 *
 * A value the mapped type cannot hold ('infinity'::date, a date BC, a year
 * past 9999, a numeric past the range of a double) is a bad value and its
 * row follows on_error.
 *
 * PostgreSQL session. The connection uses client_encoding UTF8, DateStyle
 * ISO (so dates parse whatever the server's default) and a read-only
 * default transaction: ingest reads, and a cached step must not have side
 * effects. The query is sent with the extended protocol (one statement,
 * parameters out of band) in single-row mode, so a million-row result is
 * never held whole: each row's PGresult is freed once appended.
 *
 * Invariants:
 *   1. Once row_accept returns 0 for a row, every column has exactly one
 *      more value; on a bad row none has.
 *   2. stats.rows + stats.rows_rejected is the number of rows the query
 *      returned so far; rd->row is that number for the row in hand.
 *   3. A builder handed out always has every column at stats.rows rows.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "core.h"
#include "dataset/sql.h"

/* PostgreSQL type OIDs (stable: pg_type.dat of every release). */
enum {
	PG_BOOL = 16,
	PG_INT8 = 20,
	PG_INT2 = 21,
	PG_INT4 = 23,
	PG_OID = 26,
	PG_FLOAT4 = 700,
	PG_FLOAT8 = 701,
	PG_DATE = 1082,
	PG_TIMESTAMP = 1114,
	PG_TIMESTAMPTZ = 1184,
	PG_NUMERIC = 1700
};

enum { K_NULL, K_INT, K_FLOAT, K_TEXT };

/* One value as the source gives it, and after conversion. */
typedef struct sql_cell {
	int kind;
	int64_t i;
	double f;
	const char *s;
	size_t len;
} sql_cell;

typedef struct sql_col {
	char *name;
	ds_type fixed;     /* an override or PostgreSQL's mapped type; 0 = inferred */
	ds_type declared;  /* SQLite: the declared type's hint, or 0 */
	int type;          /* inferred columns: 0 while only NULLs were seen */
	size_t lead_nulls; /* inferred columns: NULLs seen while type == 0 */
	ds_builder *b;     /* SQLite: this column's own builder (NULL while type == 0) */
	sl__buf text;      /* the text of a converted value (numbers, BLOB hex) */
} sql_col;

typedef struct sql_reader {
	const char *source; /* the file, or the redacted URL, for messages */
	const ds_ingest_opts *opt;
	sql_col *cols;
	size_t ncol;
	sql_cell *in, *out;  /* per column: the row as read, and converted */
	ds_builder *final;   /* PostgreSQL: the builder appended to directly */
	uint64_t row;
	ds_ingest_stats stats;
	sl__buf raw;         /* a rejected row rendered for the reject callback */
} sql_reader;

/* ---- shared: columns, conversions, bad rows --------------------------------- */

static void reader_free(sql_reader *rd)
{
	for (size_t j = 0; j < rd->ncol; j++) {
		sl__free(rd->cols[j].name);
		ds_builder_free(rd->cols[j].b);
		sl__buf_free(&rd->cols[j].text);
	}
	sl__free(rd->cols);
	sl__free(rd->in);
	sl__free(rd->out);
	ds_builder_free(rd->final);
	sl__buf_free(&rd->raw);
	rd->cols = NULL;
	rd->ncol = 0;
	rd->final = NULL;
}

/*
 * Sets up ncol columns named by name(arg, j): checks that names are
 * non-empty and distinct and that every override names a column, and
 * applies the overrides. Types (fixed) are filled in by the caller after.
 */
static int reader_cols(sql_reader *rd, size_t ncol, const char *(*name)(void *arg, size_t j),
		       void *arg)
{
	const ds_ingest_opts *o = rd->opt;

	rd->cols = sl__calloc(ncol ? ncol : 1, sizeof *rd->cols);
	rd->in = sl__calloc(ncol ? ncol : 1, sizeof *rd->in);
	rd->out = sl__calloc(ncol ? ncol : 1, sizeof *rd->out);
	if (!rd->cols || !rd->in || !rd->out)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t j = 0; j < ncol; j++) {
		const char *n = name(arg, j);
		sl__buf_init(&rd->cols[j].text, 0);
		rd->ncol = j + 1;
		if (!n || !*n)
			return sl__err(SL_EINVAL, "%s: column %zu of the result has no name; name it "
						  "with AS", rd->source, j + 1);
		for (size_t k = 0; k < j; k++)
			if (!strcmp(rd->cols[k].name, n))
				return sl__err(SL_EINVAL, "%s: the result has two columns named \"%s\" "
							  "(%zu and %zu); give them distinct names with AS",
					       rd->source, n, k + 1, j + 1);
		rd->cols[j].name = sl__strdup(n);
		if (!rd->cols[j].name)
			return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t t = 0; t < o->n_types; t++) {
		size_t j = 0;
		while (j < ncol && strcmp(rd->cols[j].name, o->type_cols[t]) != 0)
			j++;
		if (j == ncol) {
			sl__buf names;
			sl__buf_init(&names, 4096);
			for (size_t k = 0; k < ncol; k++)
				sl__buf_printf(&names, "%s%s", k ? ", " : "", rd->cols[k].name);
			sl__err(SL_EINVAL, "%s: a type is given for column \"%s\", which the query does "
					   "not return (its columns: %s)", rd->source, o->type_cols[t],
				names.data ? names.data : "");
			sl__buf_free(&names);
			return SL_EINVAL;
		}
		rd->cols[j].fixed = o->types[t];
	}
	return 0;
}

/* Appends s as a JSON string, replacing bytes that are not UTF-8 with U+FFFD. */
static int json_quote(sl__buf *b, const char *s, size_t len)
{
	int rc = sl__buf_putc(b, '"');

	while (rc == 0 && len > 0) {
		size_t ok = sl__utf8_check(s, len);
		for (size_t i = 0; rc == 0 && i < ok; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '"' || c == '\\')
				rc = sl__buf_printf(b, "\\%c", c);
			else if (c < 0x20)
				rc = sl__buf_printf(b, "\\u%04x", c);
			else
				rc = sl__buf_putc(b, (char)c);
		}
		if (rc == 0 && ok < len) {
			rc = sl__buf_puts(b, "\\ufffd");
			ok++;
		}
		s += ok;
		len -= ok;
	}
	return rc ? rc : sl__buf_putc(b, '"');
}

/* The text form of a cell as it was read (for rejected rows). */
static int cell_text(sl__buf *b, const sql_cell *c)
{
	char num[DS_F64_BUF];

	switch (c->kind) {
	case K_NULL:
		return sl__buf_puts(b, "null");
	case K_INT:
		return sl__buf_printf(b, "\"%" PRId64 "\"", c->i);
	case K_FLOAT:
		ds_format_f64(c->f, num);
		return sl__buf_printf(b, "\"%s\"", num);
	default:
		return json_quote(b, c->s, c->len);
	}
}

/*
 * Handles the bad row in rd->in: column j (0-based) could not be read for
 * reason. Fail mode returns the error; the others count the row and pass
 * it on to the reject callback. Returns 0 when the read goes on.
 */
static int bad_row(sql_reader *rd, size_t j, const char *reason)
{
	const ds_ingest_opts *o = rd->opt;
	int rc = 0;

	if (o->on_error == DS_ON_ERROR_FAIL)
		return sl__err(SL_EPARSE, "%s: row %" PRIu64 ", column %zu (%s): %s", rd->source,
			       rd->row, j + 1, rd->cols[j].name, reason);
	rd->stats.rows_rejected++;
	if (!o->reject)
		return 0;
	sl__buf_reset(&rd->raw);
	rc = sl__buf_putc(&rd->raw, '[');
	for (size_t k = 0; rc == 0 && k < rd->ncol; k++) {
		if (k)
			rc = sl__buf_puts(&rd->raw, ", ");
		if (rc == 0)
			rc = cell_text(&rd->raw, &rd->in[k]);
	}
	if (rc == 0)
		rc = sl__buf_putc(&rd->raw, ']');
	if (rc)
		return rc;
	return o->reject(o->reject_arg, rd->source, rd->row, (uint64_t)j + 1, reason, rd->raw.data,
			 rd->raw.len);
}

/*
 * Parses a timestamp in PostgreSQL's ISO output too: besides what
 * ds_parse_timestamp reads, a zone offset with seconds ("+05:53:28", the
 * local mean time of old dates), which it does not.
 */
static bool parse_ts(const char *s, size_t len, int64_t *out)
{
	const char *z;
	int64_t sec;

	if (ds_parse_timestamp(s, len, out))
		return true;
	if (len < 10)
		return false;
	z = s + len - 9; /* "+HH:MM:SS" */
	if ((z[0] != '+' && z[0] != '-') || z[3] != ':' || z[6] != ':' || !isdigit((unsigned char)z[7]) ||
	    !isdigit((unsigned char)z[8]))
		return false;
	if (!ds_parse_timestamp(s, len - 3, out))
		return false;
	sec = (z[7] - '0') * 10 + (z[8] - '0');
	*out += (z[0] == '+' ? -sec : sec) * 1000000;
	return true;
}

/* Text forms of booleans: SQL's true/false and PostgreSQL's t/f. */
static bool parse_bool(const char *s, size_t len, bool *out)
{
	if (len == 1 && (*s == 't' || *s == 'f')) {
		*out = *s == 't';
		return true;
	}
	return ds_parse_bool(s, len, out);
}

static void excerpt(char *dst, size_t size, const char *s, size_t len)
{
	size_t n = len < 40 ? len : 40;

	/* Do not cut a UTF-8 sequence in half. */
	while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	snprintf(dst, size, "\"%.*s%s\"", (int)n, s, n < len ? "..." : "");
}

/*
 * Converts cell in (column c) to type t into *out. Returns 0, or CONV_BAD
 * with the reason in why when the value does not fit, or SL_ENOMEM. String
 * results may point into c->text.
 */
#define CONV_BAD 1

static int convert(sql_col *c, const sql_cell *in, ds_type t, sql_cell *out, char *why,
		    size_t why_size)
{
	char ex[64];
	bool b;

	*out = *in;
	if (in->kind == K_NULL)
		return 0;
	switch (t) {
	case DS_INT64:
		out->kind = K_INT;
		if (in->kind == K_INT)
			return 0;
		if (in->kind == K_FLOAT) {
			/* Exactly integral and inside the range only: 2^63 is not. */
			if (in->f == floor(in->f) && in->f >= -9223372036854775808.0 &&
			    in->f < 9223372036854775808.0) {
				out->i = (int64_t)in->f;
				return 0;
			}
			snprintf(why, why_size, "%.17g is not an int64", in->f);
			return CONV_BAD;
		}
		if (ds_parse_i64(in->s, in->len, &out->i))
			return 0;
		excerpt(ex, sizeof ex, in->s, in->len);
		snprintf(why, why_size, "%s is not an int64", ex);
		return CONV_BAD;
	case DS_FLOAT64:
		out->kind = K_FLOAT;
		if (in->kind == K_INT) {
			out->f = (double)in->i;
			return 0;
		}
		if (in->kind == K_FLOAT)
			return 0;
		if (ds_parse_f64(in->s, in->len, &out->f)) {
			/* Inf from digits is a number too large for a double
			 * (a numeric of 400 digits), not the same value. */
			if (isfinite(out->f) || !isdigit((unsigned char)in->s[in->len - 1]))
				return 0;
			excerpt(ex, sizeof ex, in->s, in->len);
			snprintf(why, why_size, "%s is out of the range of a float64", ex);
			return CONV_BAD;
		}
		excerpt(ex, sizeof ex, in->s, in->len);
		snprintf(why, why_size, "%s is not a float64", ex);
		return CONV_BAD;
	case DS_BOOL:
		out->kind = K_INT;
		if (in->kind == K_INT && (in->i == 0 || in->i == 1)) {
			out->i = in->i;
			return 0;
		}
		if (in->kind == K_TEXT && parse_bool(in->s, in->len, &b)) {
			out->i = b;
			return 0;
		}
		if (in->kind == K_TEXT) {
			excerpt(ex, sizeof ex, in->s, in->len);
			snprintf(why, why_size, "%s is not a bool (true/false)", ex);
		} else if (in->kind == K_INT) {
			snprintf(why, why_size, "%" PRId64 " is not a bool (0 or 1)", in->i);
		} else {
			snprintf(why, why_size, "%.17g is not a bool (0 or 1)", in->f);
		}
		return CONV_BAD;
	case DS_TIMESTAMP:
		out->kind = K_INT;
		if (in->kind == K_TEXT && parse_ts(in->s, in->len, &out->i))
			return 0;
		if (in->kind == K_TEXT) {
			excerpt(ex, sizeof ex, in->s, in->len);
			snprintf(why, why_size, "%s is not an ISO 8601 timestamp (or is out of range)",
				 ex);
		} else {
			snprintf(why, why_size, "a number is not a timestamp (convert it in the query, "
						"e.g. datetime(x, 'unixepoch') in SQLite)");
		}
		return CONV_BAD;
	case DS_STRING:
		out->kind = K_TEXT;
		if (in->kind == K_TEXT)
			return 0;
		sl__buf_reset(&c->text);
		if (in->kind == K_INT) {
			if (sl__buf_printf(&c->text, "%" PRId64, in->i) != 0)
				goto nomem;
		} else {
			char num[DS_F64_BUF];
			size_t n = ds_format_f64(in->f, num);
			if (sl__buf_append(&c->text, num, n) != 0)
				goto nomem;
		}
		out->s = c->text.data;
		out->len = c->text.len;
		return 0;
	}
	snprintf(why, why_size, "unknown type");
	return CONV_BAD;
nomem:
	return sl__err(SL_ENOMEM, "out of memory");
}

/* The inferred type of a source cell. */
static ds_type kind_type(int kind)
{
	return kind == K_INT ? DS_INT64 : kind == K_FLOAT ? DS_FLOAT64 : DS_STRING;
}

/*
 * Rebuilds inferred column c as type t (a wider type in the lattice):
 * int64 -> float64, int64 or float64 -> string.
 */
static int widen(sql_col *c, ds_type t)
{
	ds_table *old = NULL;
	ds_builder *nb = NULL;
	char num[DS_F64_BUF];
	int rc;

	rc = ds_builder_finish(c->b, &old);
	ds_builder_free(c->b);
	c->b = NULL;
	if (rc == 0)
		rc = ds_builder_new(&nb);
	if (rc == 0)
		rc = ds_builder_add_col(nb, c->name, t, NULL);
	if (rc == 0)
		rc = ds_builder_reserve(nb, ds_nrow(old) + 1);
	for (size_t i = 0, n = rc == 0 ? ds_nrow(old) : 0; rc == 0 && i < n; i++) {
		const uint8_t *valid = ds_col_validity(old, 0);
		if (!ds_valid(valid, i)) {
			rc = ds_append_null(nb, 0);
		} else if (c->type == DS_INT64 && t == DS_FLOAT64) {
			rc = ds_append_f64(nb, 0, (double)ds_col_i64(old, 0)[i]);
		} else if (c->type == DS_INT64) {
			int len = snprintf(num, sizeof num, "%" PRId64, ds_col_i64(old, 0)[i]);
			rc = ds_append_str(nb, 0, num, (size_t)len);
		} else {
			size_t len = ds_format_f64(ds_col_f64(old, 0)[i], num);
			rc = ds_append_str(nb, 0, num, len);
		}
	}
	ds_close(old);
	if (rc) {
		ds_builder_free(nb);
		return rc;
	}
	c->b = nb;
	c->type = (int)t;
	return 0;
}

/* Appends converted cell v to column j of b (whose type v was converted to). */
static int append_cell(ds_builder *b, size_t j, ds_type t, const sql_cell *v)
{
	if (v->kind == K_NULL)
		return ds_append_null(b, j);
	switch (t) {
	case DS_INT64:
	case DS_TIMESTAMP:
		return ds_append_i64(b, j, v->i);
	case DS_FLOAT64:
		return ds_append_f64(b, j, v->f);
	case DS_BOOL:
		return ds_append_bool(b, j, v->i != 0);
	case DS_STRING:
		return ds_append_str(b, j, v->s, v->len);
	}
	return sl__err(SL_EINVAL, "unknown type");
}

/* Appends v (a source cell) to inferred column c, widening it when needed. */
static int infer_append(sql_col *c, const sql_cell *v)
{
	ds_type want;
	sql_cell conv;
	char why[160];
	int rc;

	if (v->kind == K_NULL) {
		if (!c->type) {
			c->lead_nulls++;
			return 0;
		}
		return ds_append_null(c->b, 0);
	}
	want = kind_type(v->kind);
	/* The join in the lattice: int64 and float64 give float64, anything
	 * and string give string. */
	if (c->type && (int)want != c->type)
		want = want == DS_STRING || c->type == DS_STRING ? DS_STRING : DS_FLOAT64;
	if (!c->type) {
		rc = ds_builder_new(&c->b);
		if (rc == 0)
			rc = ds_builder_add_col(c->b, c->name, want, NULL);
		if (rc == 0)
			rc = ds_append_nulls(c->b, 0, c->lead_nulls);
		if (rc)
			return rc;
		c->type = (int)want;
	} else if ((int)want != c->type) {
		rc = widen(c, want);
		if (rc)
			return rc;
	}
	/* Widening made every value fit: only running out of memory fails. */
	rc = convert(c, v, (ds_type)c->type, &conv, why, sizeof why);
	if (rc)
		return rc < 0 ? rc : sl__err(SL_EINVAL, "%s", why);
	return append_cell(c->b, 0, (ds_type)c->type, &conv);
}

/*
 * Takes the row in rd->in: converts every cell, then appends them all, or
 * handles the row as bad. Text from SQLite is checked to be UTF-8 here.
 */
static int row_accept(sql_reader *rd, bool check_utf8)
{
	char why[256];
	int rc = 0;

	for (size_t j = 0; j < rd->ncol; j++) {
		sql_col *c = &rd->cols[j];
		const sql_cell *in = &rd->in[j];
		if (check_utf8 && in->kind == K_TEXT) {
			size_t bad = sl__utf8_check(in->s, in->len);
			if (bad < in->len) {
				snprintf(why, sizeof why, "invalid UTF-8 at byte %zu of the text", bad + 1);
				return bad_row(rd, j, why);
			}
		}
		if (c->fixed) {
			rc = convert(c, in, c->fixed, &rd->out[j], why, sizeof why);
			if (rc)
				return rc < 0 ? rc : bad_row(rd, j, why);
		}
	}
	for (size_t j = 0; rc == 0 && j < rd->ncol; j++) {
		sql_col *c = &rd->cols[j];
		if (!c->fixed)
			rc = infer_append(c, &rd->in[j]);
		else if (rd->final)
			rc = append_cell(rd->final, j, c->fixed, &rd->out[j]);
		else if (!c->b) {
			rc = ds_builder_new(&c->b);
			if (rc == 0)
				rc = ds_builder_add_col(c->b, c->name, c->fixed, NULL);
			c->type = (int)c->fixed;
			if (rc == 0)
				rc = append_cell(c->b, 0, c->fixed, &rd->out[j]);
		} else
			rc = append_cell(c->b, 0, c->fixed, &rd->out[j]);
	}
	if (rc == 0)
		rd->stats.rows++;
	return rc;
}

/* Byte offset of the 1-based character position pos in UTF-8 text s. */
static size_t char_to_byte(const char *s, long pos)
{
	size_t i = 0;

	for (long k = 1; k < pos && s[i]; k++) {
		i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

/* The 1-based line and column (in characters) of byte offset off in s. */
static void line_col(const char *s, size_t off, unsigned long *line, unsigned long *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && s[i]; i++) {
		if (s[i] == '\n') {
			++*line;
			*col = 1;
		} else if (((unsigned char)s[i] & 0xC0) != 0x80) {
			++*col;
		}
	}
}

/* ---- SQLite -------------------------------------------------------------------- */

/*
 * The hint a declared column type gives, by SQLite's affinity rules (in
 * their order: INT, then CHAR/CLOB/TEXT, then BLOB, then REAL/FLOA/DOUB,
 * else NUMERIC), refined for the names that mean booleans and times.
 */
static ds_type declared_hint(const char *decl)
{
	char up[64];
	size_t n = 0;

	if (!decl)
		return 0;
	for (; n < sizeof up - 1 && decl[n]; n++)
		up[n] = (char)toupper((unsigned char)decl[n]);
	up[n] = '\0';
	if (strstr(up, "INT"))
		return DS_INT64;
	if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
		return DS_STRING;
	if (strstr(up, "BLOB") || n == 0)
		return 0;
	if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
		return DS_FLOAT64;
	if (strstr(up, "BOOL"))
		return DS_BOOL;
	if (strstr(up, "DATE") || strstr(up, "TIME"))
		return DS_TIMESTAMP;
	return DS_FLOAT64; /* NUMERIC, DECIMAL ... */
}

static const char *sqlite_col_name(void *arg, size_t j)
{
	return sqlite3_column_name(arg, (int)j);
}

/* The query's error at the position SQLite reports, if any. */
static int sqlite_query_error(sqlite3 *db, const char *path, const char *query, int code)
{
	int off = sqlite3_error_offset(db);
	unsigned long line, col;

	if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT || code == SQLITE_CANTOPEN ||
	    code == SQLITE_IOERR)
		return sl__err(SL_EIO, "%s: %s", path, sqlite3_errmsg(db));
	if (off < 0)
		return sl__err(SL_EINVAL, "%s: error in the query: %s", path, sqlite3_errmsg(db));
	line_col(query, (size_t)off, &line, &col);
	return sl__err(SL_EINVAL, "%s: error in the query at line %lu, column %lu: %s", path, line,
		       col, sqlite3_errmsg(db));
}

/*
 * Binds params to the statement. Placeholders may be ?, ?N or $N (so a
 * query reads the same in both backends); named ones (:x, @x, $x) are not
 * supported, since params is a list.
 */
static int sqlite_bind(sqlite3_stmt *st, const char *path, const json_t *params)
{
	size_t np = json_array_size(params), used = 0;
	int n = sqlite3_bind_parameter_count(st);

	for (int i = 1; i <= n; i++) {
		const char *name = sqlite3_bind_parameter_name(st, i);
		const json_t *v;
		int64_t k = i;
		int rc;

		if (name && !(name[0] == '?' || name[0] == '$') )
			return sl__err(SL_EINVAL, "%s: parameter %s in the query: named parameters are "
						  "not supported; use $1, $2 ... with params: [...]",
				       path, name);
		if (name && (!sl__parse_i64(name + 1, &k) || k < 1))
			return sl__err(SL_EINVAL, "%s: parameter %s in the query: named parameters are "
						  "not supported; use $1, $2 ... with params: [...]",
				       path, name);
		if ((size_t)k > np)
			return sl__err(SL_EINVAL, "%s: the query uses parameter $%" PRId64 " but params "
						  "gives %zu value%s", path, k, np, np == 1 ? "" : "s");
		if ((size_t)k > used)
			used = (size_t)k;
		v = json_array_get(params, (size_t)k - 1);
		switch (json_typeof(v)) {
		case JSON_INTEGER:
			rc = sqlite3_bind_int64(st, i, (sqlite3_int64)json_integer_value(v));
			break;
		case JSON_REAL:
			rc = sqlite3_bind_double(st, i, json_real_value(v));
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			rc = sqlite3_bind_int(st, i, json_is_true(v));
			break;
		case JSON_STRING:
			rc = sqlite3_bind_text64(st, i, json_string_value(v), json_string_length(v),
						 SQLITE_STATIC, SQLITE_UTF8);
			break;
		case JSON_NULL:
			rc = sqlite3_bind_null(st, i);
			break;
		default:
			return sl__err(SL_EINVAL, "params[%" PRId64 "]: a parameter must be a number, "
						  "string, boolean or null", k - 1);
		}
		if (rc != SQLITE_OK)
			return sl__err(SL_ENOMEM, "%s: binding parameter %d: %s", path, i,
				       sqlite3_errstr(rc));
	}
	if (used < np)
		return sl__err(SL_EINVAL, "%s: params gives %zu value%s but the query uses %zu", path,
			       np, np == 1 ? "" : "s", used);
	return 0;
}

typedef struct sqlite_deadline {
	double at; /* monotonic seconds */
} sqlite_deadline;

static int sqlite_progress(void *arg)
{
	const sqlite_deadline *d = arg;

	return sl__mono_sec() > d->at;
}

/* Decides each inferred column's final type and moves all columns into one builder. */
static int sqlite_assemble(sql_reader *rd, ds_builder **out_b)
{
	ds_builder *b = NULL;
	int rc = ds_builder_new(&b);
	size_t nrow = (size_t)rd->stats.rows;

	for (size_t j = 0; rc == 0 && j < rd->ncol; j++) {
		sql_col *c = &rd->cols[j];
		ds_table *t = NULL;
		ds_type final;
		int64_t *ts = NULL;

		if (!c->type) {
			/* Nothing but NULLs: the declared type, else string. */
			final = c->fixed ? c->fixed : c->declared ? c->declared : DS_STRING;
			rc = ds_builder_add_col(b, c->name, final, NULL);
			if (rc == 0)
				rc = ds_append_nulls(b, j, nrow);
			continue;
		}
		rc = ds_builder_finish(c->b, &t);
		ds_builder_free(c->b);
		c->b = NULL;
		if (rc)
			break;
		final = (ds_type)c->type;
		if (!c->fixed && c->declared == DS_TIMESTAMP && final == DS_STRING) {
			/* Every distinct text must read as a timestamp. */
			size_t nd = ds_dict_size(t, 0), k = 0;
			ts = sl__calloc(nd ? nd : 1, sizeof *ts);
			if (!ts)
				rc = sl__err(SL_ENOMEM, "out of memory");
			while (ts && k < nd) {
				size_t len;
				const char *s = ds_dict_str(t, 0, (uint32_t)k, &len);
				if (!parse_ts(s, len, &ts[k]))
					break;
				k++;
			}
			if (ts && k == nd)
				final = DS_TIMESTAMP;
		} else if (!c->fixed && c->declared == DS_BOOL && final == DS_INT64) {
			const int64_t *v = ds_col_i64(t, 0);
			const uint8_t *valid = ds_col_validity(t, 0);
			final = DS_BOOL;
			for (size_t i = 0; i < nrow; i++)
				if (ds_valid(valid, i) && v[i] != 0 && v[i] != 1) {
					final = DS_INT64;
					break;
				}
		}
		if (rc == 0)
			rc = ds_builder_add_col(b, c->name, final, NULL);
		if (rc == 0 && final == (ds_type)c->type) {
			rc = ds_append_from(b, j, t, 0, NULL, nrow);
		} else if (rc == 0) {
			const uint8_t *valid = ds_col_validity(t, 0);
			const uint32_t *codes = ds_col_codes(t, 0);
			const int64_t *v = ds_col_i64(t, 0);
			for (size_t i = 0; rc == 0 && i < nrow; i++) {
				if (!ds_valid(valid, i))
					rc = ds_append_null(b, j);
				else if (final == DS_TIMESTAMP && ts)
					rc = ds_append_i64(b, j, ts[codes[i]]);
				else
					rc = ds_append_bool(b, j, v[i] != 0);
			}
		}
		sl__free(ts);
		ds_close(t);
	}
	if (rc) {
		ds_builder_free(b);
		return rc;
	}
	*out_b = b;
	return 0;
}

int ds_sqlite_read(const char *path, const ds_sql_query *q, const ds_ingest_opts *opt,
		   ds_builder **out_b, ds_ingest_stats *out_stats)
{
	sql_reader rd;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *st2 = NULL;
	const char *tail = NULL;
	sqlite_deadline deadline;
	int rc = 0, src;

	*out_b = NULL;
	if (out_stats)
		memset(out_stats, 0, sizeof *out_stats);
	if (!path || !q || !q->text || !opt)
		return sl__err(SL_EINVAL, "ds_sqlite_read: missing argument");
	memset(&rd, 0, sizeof rd);
	rd.source = path;
	rd.opt = opt;
	sl__buf_init(&rd.raw, 0);

	if (!sl__is_file(path))
		return sl__err(SL_ENOENT, "%s: no such file", path);
	src = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		rc = sl__err(src == SQLITE_NOMEM ? SL_ENOMEM : SL_EIO, "%s: %s", path,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
		goto out;
	}
	sqlite3_extended_result_codes(db, 0);
	/* A writer holding the lock is waited for, up to the timeout. */
	sqlite3_busy_timeout(db, q->timeout_ms ? (int)(q->timeout_ms > 600000 ? 600000 : q->timeout_ms)
						: 30000);
	if (q->timeout_ms) {
		deadline.at = sl__mono_sec() + q->timeout_ms / 1000.0;
		sqlite3_progress_handler(db, 10000, sqlite_progress, &deadline);
	}

	/* Read the schema now, so a file that is not a database says so
	 * even when the query names no table. */
	src = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
	if (src != SQLITE_OK) {
		rc = sqlite_query_error(db, path, q->text, src);
		goto out;
	}
	src = sqlite3_prepare_v2(db, q->text, -1, &st, &tail);
	if (src != SQLITE_OK) {
		rc = sqlite_query_error(db, path, q->text, src);
		goto out;
	}
	if (!st) {
		rc = sl__err(SL_EINVAL, "%s: the query is empty", path);
		goto out;
	}
	/* Only one statement: preparing the rest must give nothing but comments. */
	if (tail && *tail) {
		const char *tail2 = NULL;
		if (sqlite3_prepare_v2(db, tail, -1, &st2, &tail2) != SQLITE_OK || st2) {
			unsigned long line, col;
			tail += strspn(tail, " \t\r\n;");
			line_col(q->text, (size_t)(tail - q->text), &line, &col);
			rc = sl__err(SL_EINVAL, "%s: the query has a second statement (at line %lu, "
						"column %lu); give one statement", path, line, col);
			goto out;
		}
	}
	if (!sqlite3_stmt_readonly(st)) {
		rc = sl__err(SL_EINVAL, "%s: the query would modify the database; ingest.sql runs "
					"read-only statements (SELECT, WITH ... SELECT, VALUES)", path);
		goto out;
	}
	if (sqlite3_column_count(st) == 0) {
		rc = sl__err(SL_EINVAL, "%s: the statement returns no rows; give a SELECT", path);
		goto out;
	}
	rc = sqlite_bind(st, path, q->params);
	if (rc == 0)
		rc = reader_cols(&rd, (size_t)sqlite3_column_count(st), sqlite_col_name, st);
	if (rc)
		goto out;
	for (size_t j = 0; j < rd.ncol; j++)
		rd.cols[j].declared = declared_hint(sqlite3_column_decltype(st, (int)j));

	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		rd.row++;
		for (size_t j = 0; j < rd.ncol; j++) {
			sql_cell *c = &rd.in[j];
			int ji = (int)j;
			memset(c, 0, sizeof *c);
			switch (sqlite3_column_type(st, ji)) {
			case SQLITE_INTEGER:
				c->kind = K_INT;
				c->i = sqlite3_column_int64(st, ji);
				break;
			case SQLITE_FLOAT:
				c->kind = K_FLOAT;
				c->f = sqlite3_column_double(st, ji);
				break;
			case SQLITE_TEXT:
				c->kind = K_TEXT;
				c->s = (const char *)sqlite3_column_text(st, ji);
				c->len = (size_t)sqlite3_column_bytes(st, ji);
				if (!c->s)
					c->s = "";
				break;
			case SQLITE_BLOB: {
				static const char hex[] = "0123456789abcdef";
				const unsigned char *p = sqlite3_column_blob(st, ji);
				size_t n = (size_t)sqlite3_column_bytes(st, ji);
				sl__buf *t = &rd.cols[j].text;
				sl__buf_reset(t);
				rc = sl__buf_puts(t, "\\x");
				if (rc == 0)
					rc = sl__buf_reserve(t, 2 * n);
				for (size_t k = 0; rc == 0 && k < n; k++) {
					t->data[t->len++] = hex[p[k] >> 4];
					t->data[t->len++] = hex[p[k] & 15];
				}
				if (rc)
					goto out;
				t->data[t->len] = '\0';
				c->kind = K_TEXT;
				c->s = t->data;
				c->len = t->len;
				break;
			}
			default:
				c->kind = K_NULL;
			}
		}
		rc = row_accept(&rd, true);
		if (rc)
			goto out;
	}
	if (src == SQLITE_INTERRUPT) {
		rc = sl__err(SL_ECANCEL, "%s: the query was stopped after the timeout of %.3g s, "
					 "at row %" PRIu64, path, q->timeout_ms / 1000.0, rd.row);
		goto out;
	}
	if (src != SQLITE_DONE) {
		rc = sl__err(src == SQLITE_NOMEM ? SL_ENOMEM : SL_EIO, "%s: the query failed at row "
				"%" PRIu64 ": %s", path, rd.row + 1, sqlite3_errmsg(db));
		goto out;
	}
	rc = sqlite_assemble(&rd, out_b);
	rd.stats.files = 1;
	if (rc == 0 && out_stats)
		*out_stats = rd.stats;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(st2);
	sqlite3_close(db);
	reader_free(&rd);
	return rc;
}

/* ---- PostgreSQL ----------------------------------------------------------------- */

/* The query's error from the server, with its position, SQLSTATE, detail and hint. */
static int pg_result_error(sql_reader *rd, const char *query, const PGresult *res)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	int64_t p = 0;
	sl__buf b;
	int code = SL_EINVAL;

	sl__buf_init(&b, SL__ERRMSG_MAX);
	sl__buf_printf(&b, "%s: ", rd->source);
	if (pos && sl__parse_i64(pos, &p) && p > 0) {
		unsigned long line, col;
		line_col(query, char_to_byte(query, (long)p), &line, &col);
		sl__buf_printf(&b, "error in the query at line %lu, column %lu: ", line, col);
	} else if (rd->row > 0) {
		sl__buf_printf(&b, "the query failed at row %" PRIu64 ": ", rd->row + 1);
	} else {
		sl__buf_puts(&b, "the query failed: ");
	}
	sl__fold_lines(&b, primary ? primary : PQresultErrorMessage(res));
	if (state) {
		sl__buf_printf(&b, " (SQLSTATE %s)", state);
		/* Class 08 is a connection problem; 57014 a cancelled statement. */
		if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))
			code = SL_EIO;
		else if (!strcmp(state, "57014"))
			code = SL_ECANCEL;
	}
	if (detail) {
		sl__buf_puts(&b, "; detail: ");
		sl__fold_lines(&b, detail);
	}
	if (hint) {
		sl__buf_puts(&b, "; hint: ");
		sl__fold_lines(&b, hint);
	}
	sl__err(code, "%s", b.data ? b.data : "the query failed");
	sl__buf_free(&b);
	return code;
}

static int pg_conn_error(sql_reader *rd, PGconn *conn, const char *what)
{
	sl__buf b;

	sl__buf_init(&b, SL__ERRMSG_MAX);
	sl__fold_lines(&b, PQerrorMessage(conn));
	sl__err(SL_EIO, "%s: %s: %s", rd->source, what, b.data ? b.data : "unknown error");
	sl__buf_free(&b);
	return SL_EIO;
}

static const char *pg_col_name(void *arg, size_t j)
{
	return PQfname(arg, (int)j);
}

static ds_type pg_type(Oid oid)
{
	switch (oid) {
	case PG_INT2:
	case PG_INT4:
	case PG_INT8:
	case PG_OID:
		return DS_INT64;
	case PG_FLOAT4:
	case PG_FLOAT8:
	case PG_NUMERIC:
		return DS_FLOAT64;
	case PG_BOOL:
		return DS_BOOL;
	case PG_DATE:
	case PG_TIMESTAMP:
	case PG_TIMESTAMPTZ:
		return DS_TIMESTAMP;
	default:
		return DS_STRING;
	}
}

/* Declares the result's columns (from the first result of the query). */
static int pg_columns(sql_reader *rd, const PGresult *res)
{
	size_t n = (size_t)PQnfields(res);
	int rc;

	if (n == 0)
		return sl__err(SL_EINVAL, "%s: the query returns no columns", rd->source);
	rc = reader_cols(rd, n, pg_col_name, (void *)res);
	if (rc == 0)
		rc = ds_builder_new(&rd->final);
	for (size_t j = 0; rc == 0 && j < n; j++) {
		sql_col *c = &rd->cols[j];
		if (!c->fixed)
			c->fixed = pg_type(PQftype(res, (int)j));
		rc = ds_builder_add_col(rd->final, c->name, c->fixed, NULL);
	}
	return rc;
}

/* The text form libpq sends for a parameter; *out is NULL for SQL NULL. */
static int pg_param(const json_t *v, size_t k, char **out)
{
	*out = NULL;
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		*out = sl__asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: {
		double d = json_real_value(v);
		char num[DS_F64_BUF];
		ds_format_f64(d, num);
		*out = sl__strdup(isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : num);
		break;
	}
	case JSON_TRUE:
		*out = sl__strdup("true");
		break;
	case JSON_FALSE:
		*out = sl__strdup("false");
		break;
	case JSON_STRING:
		*out = sl__strdup(json_string_value(v));
		break;
	case JSON_NULL:
		return 0;
	default:
		return sl__err(SL_EINVAL, "params[%zu]: a parameter must be a number, string, "
					  "boolean or null", k);
	}
	return *out ? 0 : sl__err(SL_ENOMEM, "out of memory");
}

int ds_pg_read(const char *conninfo, const ds_sql_query *q, const ds_ingest_opts *opt,
	       ds_builder **out_b, ds_ingest_stats *out_stats)
{
	sql_reader rd;
	PGconn *conn = NULL;
	PGresult *res;
	char **values = NULL, timeout[32], setup[160];
	char *redacted = NULL;
	size_t np = json_array_size(q ? q->params : NULL);
	bool described = false, failed = false;
	int rc = 0;

	*out_b = NULL;
	if (out_stats)
		memset(out_stats, 0, sizeof *out_stats);
	if (!conninfo || !q || !q->text || !opt)
		return sl__err(SL_EINVAL, "ds_pg_read: missing argument");
	if (np > 65535)
		return sl__err(SL_ELIMIT, "params: at most 65535 values");
	memset(&rd, 0, sizeof rd);
	rd.opt = opt;
	sl__buf_init(&rd.raw, 0);
	redacted = sl__pg_redact(conninfo);
	if (!redacted)
		return sl__err(SL_ENOMEM, "out of memory");
	rd.source = redacted;

	values = sl__calloc(np ? np : 1, sizeof *values);
	if (!values) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t k = 0; rc == 0 && k < np; k++)
		rc = pg_param(json_array_get(q->params, k), k, &values[k]);
	if (rc)
		goto out;

	{
		/* Keywords are read in order, the last setting winning: a
		 * connect_timeout in the URL overrides ours, and nothing in it
		 * can change the encoding we parse. */
		unsigned secs = q->timeout_ms ? (q->timeout_ms + 999) / 1000 : 30;
		const char *kw[] = {"connect_timeout", "fallback_application_name", "dbname",
				    "client_encoding", NULL};
		const char *val[] = {timeout, "sluice", conninfo, "UTF8", NULL};
		snprintf(timeout, sizeof timeout, "%u", secs < 2 ? 2 : secs);
		conn = PQconnectdbParams(kw, val, 1);
	}
	if (!conn) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto out;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		rc = pg_conn_error(&rd, conn, "cannot connect");
		goto out;
	}
	snprintf(setup, sizeof setup, "SET DateStyle = ISO; SET default_transaction_read_only = on; "
				      "SET statement_timeout = %u", q->timeout_ms);
	res = PQexec(conn, setup);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = res ? pg_result_error(&rd, setup, res) : pg_conn_error(&rd, conn, "session setup");
	PQclear(res);
	if (rc)
		goto out;

	if (!PQsendQueryParams(conn, q->text, (int)np, NULL, (const char *const *)values, NULL, NULL,
			       0)) {
		rc = pg_conn_error(&rd, conn, "sending the query");
		goto out;
	}
	if (!PQsetSingleRowMode(conn)) {
		rc = pg_conn_error(&rd, conn, "single-row mode");
		goto out;
	}
	/* Every result must be collected until NULL, also after an error the
	 * server reported; an error of ours instead cancels the query and
	 * closes the connection (see below). */
	while (!failed && (res = PQgetResult(conn)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			if (!described) {
				rc = pg_columns(&rd, res);
				described = rc == 0;
			}
			if (rc == 0) {
				rd.row++;
				for (size_t j = 0; j < rd.ncol; j++) {
					sql_cell *c = &rd.in[j];
					memset(c, 0, sizeof *c);
					if (PQgetisnull(res, 0, (int)j))
						continue;
					c->kind = K_TEXT;
					c->s = PQgetvalue(res, 0, (int)j);
					c->len = (size_t)PQgetlength(res, 0, (int)j);
				}
				rc = row_accept(&rd, false);
			}
			failed = rc != 0;
			break;
		case PGRES_TUPLES_OK:
			/* The end of the rows; the only result of an empty one. */
			if (!described && rc == 0) {
				rc = pg_columns(&rd, res);
				described = rc == 0;
			}
			break;
		case PGRES_COMMAND_OK:
			if (rc == 0)
				rc = sl__err(SL_EINVAL, "%s: the statement returns no rows (%s); give a "
							"SELECT", rd.source, PQcmdStatus(res));
			break;
		case PGRES_EMPTY_QUERY:
			if (rc == 0)
				rc = sl__err(SL_EINVAL, "%s: the query is empty", rd.source);
			break;
		default:
			if (rc == 0)
				rc = pg_result_error(&rd, q->text, res);
			break;
		}
		PQclear(res);
	}
	if (failed) {
		/* Stop the server sending the rest; closing the connection
		 * below ends the query in any case. */
		PGcancel *cancel = PQgetCancel(conn);
		if (cancel) {
			char ignored[256];
			PQcancel(cancel, ignored, sizeof ignored);
			PQfreeCancel(cancel);
		}
	}
	if (rc == 0 && !described)
		rc = sl__err(SL_EIO, "%s: the server sent no result", rd.source);
	if (rc == 0) {
		*out_b = rd.final;
		rd.final = NULL;
		rd.stats.files = 1;
		if (out_stats)
			*out_stats = rd.stats;
	}
out:
	PQfinish(conn);
	for (size_t k = 0; values && k < np; k++)
		sl__free(values[k]);
	sl__free(values);
	reader_free(&rd);
	sl__free(redacted);
	return rc;
}
