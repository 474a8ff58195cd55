/*
 * SQL readers: the rows of one query, against an SQLite file or a
 * PostgreSQL server (libpq), into a new ds_builder. They follow the
 * contract of the CSV and JSON Lines readers in dataset.h (same options
 * struct, same on_error modes, same reject callback, same statistics), so
 * the three ingest steps behave alike. See sql.c for the type mapping.
 *
 * Where a CSV reader names file:line:column, these name the source, the
 * 1-based row of the result and the 1-based column: "data.db: row 7, column
 * 3 (price): ...". A rejected row's raw text is the row as a JSON array of
 * the values' text forms (null for NULL), one line.
 */
#ifndef SLUICE_DATASET_SQL_H
#define SLUICE_DATASET_SQL_H

#include "dataset/dataset.h"

typedef struct ds_sql_query {
	const char *text;     /* one SQL statement that returns rows */
	const json_t *params; /* an array of scalars bound to $1, $2 ... (or ?1, ?2 ...), or NULL */
	unsigned timeout_ms;  /* the longest the query may run; 0 means no limit */
} ds_sql_query;

/*
 * Runs q against the SQLite database file at path, opened read-only. Of opt
 * only the type overrides, on_error and the reject callback are used.
 * Columns are typed from the values' storage classes, widening int64 ->
 * float64 -> string as needed, with the declared column type deciding
 * columns that hold only NULLs and turning consistent DATE/TIME text into
 * timestamps and consistent BOOLEAN 0/1 into bools.
 *
 * On success *out_b is owned by the caller; on failure it is NULL and the
 * message names the file, and for an error in the query its line and
 * column within the query text.
 */
int ds_sqlite_read(const char *path, const ds_sql_query *q, const ds_ingest_opts *opt,
		   ds_builder **out_b, ds_ingest_stats *out_stats);

/*
 * Runs q on the PostgreSQL server that conninfo names (a postgresql:// URL
 * or a libpq key=value string), in a read-only transaction, streaming the
 * result row by row so memory holds the dataset being built and one row.
 * Columns are typed by the result's type OIDs. Same contract otherwise.
 */
int ds_pg_read(const char *conninfo, const ds_sql_query *q, const ds_ingest_opts *opt,
	       ds_builder **out_b, ds_ingest_stats *out_stats);

#endif
