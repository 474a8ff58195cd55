/*
 * The columnar dataset engine: the internal API every data step (ingest,
 * validate, wrangle, label, split), the trainers and the serving path build
 * on. Prefix ds_.
 *
 * Two handles, one for each direction, so that each can be simple and fast:
 *
 *   ds_builder   write side. Columns are declared with a name and a type and
 *                filled by appending values (or nulls), one at a time or in
 *                bulk. ds_builder_write() produces a dataset file;
 *                ds_builder_finish() produces an in-memory ds_table.
 *
 *   ds_table     read side, immutable. ds_open() maps a dataset file with
 *                mmap and hands out typed column pointers into the mapping:
 *                reading a column never copies it. A finished builder gives a
 *                table backed by a heap image of the same bytes, so there is
 *                exactly one reader.
 *
 * Column types and their storage (the layout in memory and on disk is the
 * same, little-endian; see format.c for the file format):
 *
 *   DS_INT64      int64_t per row
 *   DS_FLOAT64    double per row (NaN and +-Inf are values, not nulls)
 *   DS_BOOL       uint8_t per row, 0 or 1
 *   DS_STRING     uint32_t dictionary code per row; the dictionary holds each
 *                 distinct string once, in order of first appearance, each
 *                 followed by a NUL so entries are usable as C strings
 *   DS_TIMESTAMP  int64_t microseconds since 1970-01-01T00:00:00Z
 *
 * Nulls: a column with at least one null has a validity bitmap, bit i (LSB
 * first) set when row i has a value (Arrow's convention). A column without
 * nulls has none (ds_col_validity() returns NULL). The value slot of a null
 * row is zero, so tables are deterministic.
 *
 * Errors: functions return 0 or a negative SL_ code and set the thread's
 * message (sl_errmsg()); a damaged file is SL_ECORRUPT naming the file.
 * Accessors that take a column index j require j < ds_ncol(t): checking is
 * the caller's job, as with an array.
 */
#ifndef SLUICE_DATASET_H
#define SLUICE_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum ds_type {
	DS_INT64 = 1,
	DS_FLOAT64 = 2,
	DS_BOOL = 3,
	DS_STRING = 4,
	DS_TIMESTAMP = 5
} ds_type;

#define DS_TYPE_MAX 5

/* "int64", "float64", "bool", "string", "timestamp"; "?" for anything else. */
const char *ds_type_name(ds_type t);
/*
 * Parses a type name as users write it in options: int, int64, integer,
 * float, float64, double, number, bool, boolean, string, str, text,
 * timestamp, datetime. Returns false when unknown.
 */
bool ds_type_parse(const char *name, ds_type *out);
/* Bytes per row of a type's value array (8, 8, 1, 4, 8). */
size_t ds_type_width(ds_type t);

/* ---- read side ------------------------------------------------------------ */

typedef struct ds_table ds_table;

/* ds_open flags. */
#define DS_OPEN_VERIFY 1u /* also check the data checksums (reads every byte) */

/*
 * Maps the dataset file at path and validates its structure: header, schema,
 * every section's bounds and alignment, dictionary offsets, string codes and
 * bool values, so that no accessor can read outside the mapping whatever the
 * file contains. With DS_OPEN_VERIFY the checksums of all column data are
 * checked too. On success *out_t owns the mapping; close it with ds_close().
 */
int ds_open(const char *path, unsigned flags, ds_table **out_t);
/* Checks the data checksums of an open table (as DS_OPEN_VERIFY does). */
int ds_verify(const ds_table *t);
/* Unmaps or frees the table. Pointers obtained from it die with it. Accepts NULL. */
void ds_close(ds_table *t);
/* True when the file at path starts with the dataset magic (cheap; no validation). */
bool ds_is_dataset(const char *path);

/*
 * The columns of a dataset file, read from its header alone: the header,
 * the column directory and the names, checked against the header's
 * checksum; no data page is read, so it costs the same for any number of
 * rows (the scheduler checks a step's options against its inputs' columns
 * before it runs). Column j is names[j] of type types[j]; everything is
 * owned by the struct: free it with ds_columns_free (which accepts a zeroed
 * one). A damaged header is SL_ECORRUPT naming the file.
 */
typedef struct ds_columns {
	size_t n;
	const char **names;
	ds_type *types;
	void *meta; /* the bytes the names point into */
} ds_columns;

int ds_read_columns(const char *path, ds_columns *out);
void ds_columns_free(ds_columns *c);

size_t ds_nrow(const ds_table *t);
size_t ds_ncol(const ds_table *t);
const char *ds_col_name(const ds_table *t, size_t j);
ds_type ds_col_type(const ds_table *t, size_t j);
/* Finds a column by name; SL_ENOENT (with a message) when there is none. */
int ds_col_find(const ds_table *t, const char *name, size_t *out_j);
size_t ds_col_nulls(const ds_table *t, size_t j);
/* The validity bitmap (bit set = value present), or NULL when the column has no nulls. */
const uint8_t *ds_col_validity(const ds_table *t, size_t j);

/* True when row i is not null, given a column's validity bitmap (NULL = no nulls). */
static inline bool ds_valid(const uint8_t *validity, size_t i)
{
	return !validity || (validity[i >> 3] >> (i & 7)) & 1;
}

/*
 * Typed value arrays of nrow entries, pointing into the table (no copy).
 * Each returns NULL when the column has another type. ds_col_i64 serves
 * DS_INT64 and DS_TIMESTAMP.
 */
const int64_t *ds_col_i64(const ds_table *t, size_t j);
const double *ds_col_f64(const ds_table *t, size_t j);
const uint8_t *ds_col_bool(const ds_table *t, size_t j);
const uint32_t *ds_col_codes(const ds_table *t, size_t j);

/* Number of dictionary entries of a string column (0 for other types). */
size_t ds_dict_size(const ds_table *t, size_t j);
/* Dictionary entry code (< ds_dict_size), NUL-terminated; *out_len (may be NULL) gets its length. */
const char *ds_dict_str(const ds_table *t, size_t j, uint32_t code, size_t *out_len);
/* The string in row i of a string column, or NULL when the row is null. */
const char *ds_col_str(const ds_table *t, size_t j, size_t i, size_t *out_len);
/*
 * Row i of a numeric column (int64, float64, bool, timestamp) as a double;
 * false when the row is null or the column is a string column.
 */
bool ds_get_f64(const ds_table *t, size_t j, size_t i, double *out);

/* Writes the table's bytes to path atomically (temp file + fsync + rename). */
int ds_table_write(const ds_table *t, const char *path);

/* ---- write side ----------------------------------------------------------- */

typedef struct ds_builder ds_builder;

int ds_builder_new(ds_builder **out_b);
void ds_builder_free(ds_builder *b); /* accepts NULL */

/*
 * Declares column number ds_builder_ncol(b) (returned in *out_j, may be NULL).
 * Names must be unique, non-empty UTF-8; SL_EEXIST for a duplicate.
 */
int ds_builder_add_col(ds_builder *b, const char *name, ds_type type, size_t *out_j);
size_t ds_builder_ncol(const ds_builder *b);
/* Rows appended so far to column j. */
size_t ds_builder_col_len(const ds_builder *b, size_t j);
/* Reserves room for n more rows in every column (an optimisation only). */
int ds_builder_reserve(ds_builder *b, size_t n);

/* Appends one value; the type must match the column's (ds_append_i64 also serves timestamps). */
int ds_append_i64(ds_builder *b, size_t j, int64_t v);
int ds_append_f64(ds_builder *b, size_t j, double v);
int ds_append_bool(ds_builder *b, size_t j, bool v);
int ds_append_str(ds_builder *b, size_t j, const char *s, size_t len);
int ds_append_null(ds_builder *b, size_t j);
/* Appends n nulls. */
int ds_append_nulls(ds_builder *b, size_t j, size_t n);
/*
 * Appends a JSON value to column j of type t: null as a missing value, and
 * otherwise only a value of that type (an int64 also from a real with an
 * integral value, a timestamp from an ISO 8601 string). Returns 0,
 * DS_JSON_MISFIT (nothing appended; the caller says why, or appends a
 * null) or SL_ENOMEM.
 */
#define DS_JSON_MISFIT 1
int ds_append_json(ds_builder *b, size_t j, ds_type t, const json_t *v);

/*
 * Bulk appends n values. validity is a bitmap (bit k for values[k]) or NULL
 * when all are present; null slots are stored as zero whatever values holds.
 * ds_append_i64s serves int64 and timestamp columns, ds_append_bools takes
 * bytes (non-zero is true).
 */
int ds_append_i64s(ds_builder *b, size_t j, const int64_t *values, const uint8_t *validity, size_t n);
int ds_append_f64s(ds_builder *b, size_t j, const double *values, const uint8_t *validity, size_t n);
int ds_append_bools(ds_builder *b, size_t j, const uint8_t *values, const uint8_t *validity, size_t n);
/*
 * Bulk appends n dictionary-coded strings: codes index a dictionary of
 * dict_n entries given as (strs[k], lens[k]). The dictionary is merged into
 * the column's own, so codes are remapped; entries no row uses are not added.
 */
int ds_append_coded(ds_builder *b, size_t j, const char *const *strs, const size_t *lens,
		    size_t dict_n, const uint32_t *codes, const uint8_t *validity, size_t n);

/*
 * Appends rows rows[0..n) of column tj of table t to column j (same type),
 * or all rows in order when rows is NULL (then n must equal ds_nrow(t)).
 * This is how split, filter and select produce tables without going through
 * values one by one.
 */
int ds_append_from(ds_builder *b, size_t j, const ds_table *t, size_t tj,
		   const size_t *rows, size_t n);

/*
 * Writes the dataset to path: a temp file beside it, fsync, rename. Every
 * column must have the same length (SL_EINVAL otherwise). The same builder
 * contents always give the same bytes. The builder stays usable.
 */
int ds_builder_write(ds_builder *b, const char *path);
/*
 * Turns the builder into an in-memory table (the file image on the heap).
 * The builder is emptied of its columns either way but must still be freed.
 */
int ds_builder_finish(ds_builder *b, ds_table **out_t);

/* ---- text forms of values (used by the readers, writers and the CLI) ----- */

/* Parses a whole decimal integer (optional sign). False on overflow or junk. */
bool ds_parse_i64(const char *s, size_t len, int64_t *out);
/*
 * Parses a whole decimal float (what strtod accepts in the C locale, minus
 * hex forms), plus NaN, Inf, Infinity in any case with optional sign.
 * Correctly rounded: a fast exact path for common forms, strtod otherwise.
 */
bool ds_parse_f64(const char *s, size_t len, double *out);
/* true/false in lower, upper or title case. */
bool ds_parse_bool(const char *s, size_t len, bool *out);
/*
 * ISO 8601: YYYY-MM-DD, optionally followed by T or a space and HH:MM,
 * HH:MM:SS or HH:MM:SS.f (1 to 9 digits; beyond microseconds truncated),
 * optionally followed by Z or an offset +HH:MM, +HHMM, +HH. No zone means
 * UTC. Out-of-range fields (month 13, Feb 30, hour 24) are rejected.
 */
bool ds_parse_timestamp(const char *s, size_t len, int64_t *out_us);

#define DS_F64_BUF 32
#define DS_TS_BUF 40
/*
 * Shortest decimal text that reads back as the same double ("0.1", "1e+300",
 * "NaN", "Inf", "-Inf"); returns the length. buf holds DS_F64_BUF bytes.
 */
size_t ds_format_f64(double v, char *buf);
/* "2024-05-01T12:30:00Z", with .ffffff (trailing zeros trimmed) when needed. */
size_t ds_format_timestamp(int64_t us, char *buf);

/* ---- ingest --------------------------------------------------------------- */

typedef enum ds_on_error {
	DS_ON_ERROR_FAIL = 0,   /* the first bad row fails the read */
	DS_ON_ERROR_SKIP,       /* bad rows are left out, counted and passed to reject() */
	DS_ON_ERROR_QUARANTINE  /* the same; the caller keeps them (a rejects file) */
} ds_on_error;

/* Parses "fail", "skip", "quarantine". */
bool ds_on_error_parse(const char *s, ds_on_error *out);

/*
 * Receives one rejected row (under skip and quarantine), in file and row
 * order: the file's name, the 1-based line and byte column where the
 * problem is, the reason, and the row's raw bytes (without its line
 * terminator). Returns 0 or an error code, which aborts the read.
 */
typedef int (*ds_reject_fn)(void *arg, const char *file, uint64_t line, uint64_t col,
			    const char *reason, const char *raw, size_t raw_len);

#define DS_DEFAULT_MAX_FIELD ((size_t)16 << 20)

typedef struct ds_ingest_opts {
	char delimiter;                  /* CSV only; 0 means ',' */
	bool no_header;                  /* CSV only: the first row is data */
	const char *const *names;        /* column names when no_header (else c1, c2, ...) */
	size_t n_names;
	const char *const *null_values;  /* CSV: unquoted texts read as null; NULL = defaults */
	size_t n_null_values;
	const char *const *type_cols;    /* per-column type overrides */
	const ds_type *types;
	size_t n_types;
	ds_on_error on_error;
	size_t max_field_size;           /* bytes; 0 means DS_DEFAULT_MAX_FIELD */
	unsigned threads;                /* 0 means the number of online CPUs */
	size_t chunk_size;               /* CSV: bytes per parallel chunk; 0 = automatic
					  * (tests use tiny chunks to exercise boundaries;
					  * the result never depends on it) */
	ds_reject_fn reject;             /* called for each bad row unless on_error is FAIL */
	void *reject_arg;
	bool quote_literal;              /* CSV: a quote inside an unquoted field is
					  * data (37°36'37.8"N), not a bad row; each
					  * file is then parsed by one thread (csv.c) */
	const char *encoding;            /* CSV: the files' encoding when it is not
					  * UTF-8 ("latin1", "windows-1252", any name
					  * iconv knows): transcoded to UTF-8 first.
					  * NULL, "utf-8" and "utf8" read bytes as is */
	const char *out_path;            /* CSV: also write the dataset file here (as
					  * ds_builder_write would, same bytes), each
					  * column as soon as it is merged, so the
					  * write overlaps the rest of the merge */
} ds_ingest_opts;

/* True for NULL, "", "utf-8" and "utf8" (any case): nothing to transcode. */
bool ds_encoding_is_utf8(const char *enc);
/* 0 when enc is UTF-8 or an encoding iconv knows, else SL_EINVAL with a message. */
int ds_encoding_check(const char *enc);

/* The default CSV null markers: "", "NA", "N/A", "NULL", "null". */
extern const char *const ds_default_null_values[];
extern const size_t ds_n_default_null_values;

typedef struct ds_ingest_stats {
	uint64_t rows;          /* rows in the dataset */
	uint64_t rows_rejected; /* bad rows left out (skip or quarantine) */
	uint64_t bytes;         /* input bytes read */
	uint64_t files;
} ds_ingest_stats;

/* One input: a name for messages and its bytes (which must outlive the call). */
typedef struct ds_source {
	const char *name;
	const char *data;
	size_t len;
} ds_source;

/*
 * Reads CSV sources (RFC 4180; see csv.c for the exact dialect) into a new
 * builder. Several sources must have the same header. Columns are typed by
 * inference over every row unless overridden. On success *out_b is owned by
 * the caller; on failure it is NULL and the message names file:line:col.
 */
int ds_csv_read_sources(const ds_source *src, size_t n, const ds_ingest_opts *opt,
			ds_builder **out_b, ds_ingest_stats *out_stats);
/* The same for files, which are mapped with mmap rather than read. */
int ds_csv_read_files(const char *const *paths, size_t n, const ds_ingest_opts *opt,
		      ds_builder **out_b, ds_ingest_stats *out_stats);

/* JSON Lines: one object per line; see jsonl.c. Same contract as the CSV readers. */
int ds_jsonl_read_sources(const ds_source *src, size_t n, const ds_ingest_opts *opt,
			  ds_builder **out_b, ds_ingest_stats *out_stats);
int ds_jsonl_read_files(const char *const *paths, size_t n, const ds_ingest_opts *opt,
			ds_builder **out_b, ds_ingest_stats *out_stats);

/*
 * Maps a file read-only for the readers (an empty file gives data == NULL,
 * len 0). ds_unmap_file releases it; it accepts a zeroed source.
 */
int ds_map_file(const char *path, ds_source *out);
void ds_unmap_file(ds_source *src);

/*
 * The files a path option names: the path itself, or what a glob pattern
 * (* ? [...]) matches, sorted by byte order so the order never depends on
 * the locale or the directory. SL_ENOENT when nothing matches. *out_paths
 * is an array of n strings; free it with ds_paths_free.
 */
int ds_glob(const char *pattern, char ***out_paths, size_t *out_n);
void ds_paths_free(char **paths, size_t n);

/*
 * A rejects file for quarantined rows: a CSV with the header
 * file,line,column,reason,raw and one row per rejected input row (raw is the
 * row's bytes as they were, quoted). Written to a temp file and renamed to
 * path by ds_rejects_close(r, true); false discards it. ds_rejects_add has
 * the signature of a ds_reject_fn with the ds_rejects as its argument.
 */
typedef struct ds_rejects ds_rejects;

int ds_rejects_open(const char *path, ds_rejects **out_r);
int ds_rejects_add(void *r, const char *file, uint64_t line, uint64_t col, const char *reason,
		   const char *raw, size_t raw_len);
uint64_t ds_rejects_count(const ds_rejects *r);
int ds_rejects_close(ds_rejects *r, bool commit);

/* ---- export and description (for the CLI) --------------------------------- */

/*
 * {"rows": N, "columns": [{"name", "type", "nulls"}...], "head": [[...]...]}
 * with the first head_rows rows as JSON values (timestamps as ISO text,
 * non-finite floats as "NaN"/"Inf"/"-Inf"). *out is a new reference.
 */
int ds_describe_json(const char *path, size_t head_rows, json_t **out);
/*
 * Writes the dataset at path as "csv" (header row, RFC 4180 quoting, nulls as
 * empty fields) or "jsonl" (one object per row, nulls as null) to out_path,
 * atomically. Reading the CSV back gives the same values.
 */
int ds_export(const char *path, const char *format, const char *out_path);
/* The same from an open table to a file descriptor-backed stream. */
int ds_export_table(const ds_table *t, const char *format, const char *out_path);

/* ---- internal helpers shared by the dataset files ------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (text.c;
 * the forecaster's calendar grids use them too). */
int64_t ds_days_from_civil(int64_t y, int64_t m, int64_t d);
void ds_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
