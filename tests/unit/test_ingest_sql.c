/*
 * The SQL readers against SQLite (databases made here with the sqlite3 API):
 * type mapping with declared types, NULLs, widening of mixed columns, BLOBs,
 * empty results, parameters, type overrides under every on_error mode, and
 * the errors (a bad query naming its place, a missing file, a writing
 * statement ...). Also the ingest.sql step itself and, without any server,
 * what the PostgreSQL reader says when nothing listens and how it hides
 * passwords. PostgreSQL proper is tested by integration/test_ingest_pg.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "dataset/dataset.h"
#include "dataset/sql.h"
#include "steps/step.h"
#include "testutil.h"

/* Makes dir/name as an SQLite database by running sql. Returns the path (free()). */
static char *make_db(const char *dir, const char *name, const char *sql)
{
	char *path = tu_path(dir, name);
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("setup SQL: %s", err);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	return path;
}

/* Reads query from path into a table; returns the reader's code. */
static int read_q(const char *path, const char *query, const json_t *params,
		  const ds_ingest_opts *opt, ds_table **out_t, ds_ingest_stats *st)
{
	ds_ingest_opts none;
	ds_sql_query q = {query, params, 0};
	ds_builder *b = NULL;
	int rc;

	memset(&none, 0, sizeof none);
	*out_t = NULL;
	rc = ds_sqlite_read(path, &q, opt ? opt : &none, &b, st);
	if (rc && getenv("TU_DEBUG"))
		fprintf(stderr, "read_q: %s\n", sl_errmsg());
	if (rc) {
		assert_null(b);
		return rc;
	}
	/* Not asserted: the allocation failure test needs the code back. */
	rc = ds_builder_finish(b, out_t);
	ds_builder_free(b);
	return rc;
}

static size_t col(const ds_table *t, const char *name)
{
	size_t j;

	assert_int_equal(ds_col_find(t, name, &j), 0);
	return j;
}

static const char *str_at(const ds_table *t, const char *name, size_t i)
{
	return ds_col_str(t, col(t, name), i, NULL);
}

static bool is_null(const ds_table *t, const char *name, size_t i)
{
	return !ds_valid(ds_col_validity(t, col(t, name)), i);
}

static void test_types_and_nulls(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "t.db",
		"CREATE TABLE t(id INTEGER, name TEXT, price REAL, ok BOOLEAN, at DATETIME,"
		"  day DATE, qty NUMERIC, raw BLOB, v VARCHAR(10));"
		"INSERT INTO t VALUES (1, 'apple', 1.5, 1, '2024-05-01 12:30:00', '2024-05-01', 3,"
		"  x'00ff10', 'x');"
		"INSERT INTO t VALUES (2, NULL, NULL, 0, '2024-05-02T00:00:00.25Z', NULL, NULL, NULL, NULL);"
		"INSERT INTO t VALUES (-9223372036854775808, 'été', -0.0, NULL, NULL, '1970-01-01', 4, x'', 'y');");
	ds_ingest_stats st;
	ds_table *t;

	(void)state;
	assert_int_equal(read_q(db, "SELECT * FROM t ORDER BY rowid", NULL, NULL, &t, &st), 0);
	assert_int_equal(st.rows, 3);
	assert_int_equal(st.rows_rejected, 0);
	assert_int_equal(ds_nrow(t), 3);
	assert_int_equal(ds_ncol(t), 9);
	assert_int_equal(ds_col_type(t, col(t, "id")), DS_INT64);
	assert_int_equal(ds_col_type(t, col(t, "name")), DS_STRING);
	assert_int_equal(ds_col_type(t, col(t, "price")), DS_FLOAT64);
	assert_int_equal(ds_col_type(t, col(t, "ok")), DS_BOOL);
	assert_int_equal(ds_col_type(t, col(t, "at")), DS_TIMESTAMP);
	assert_int_equal(ds_col_type(t, col(t, "day")), DS_TIMESTAMP);
	assert_int_equal(ds_col_type(t, col(t, "qty")), DS_INT64); /* NUMERIC holding integers */
	assert_int_equal(ds_col_type(t, col(t, "raw")), DS_STRING);
	assert_int_equal(ds_col_type(t, col(t, "v")), DS_STRING);

	assert_int_equal(ds_col_i64(t, col(t, "id"))[0], 1);
	assert_int_equal(ds_col_i64(t, col(t, "id"))[2], INT64_MIN);
	assert_string_equal(str_at(t, "name", 0), "apple");
	assert_true(is_null(t, "name", 1));
	assert_string_equal(str_at(t, "name", 2), "été");
	assert_true(ds_col_f64(t, col(t, "price"))[0] == 1.5);
	assert_true(is_null(t, "price", 1));
	assert_true(ds_col_f64(t, col(t, "price"))[2] == 0.0); /* SQLite keeps no -0.0 */
	assert_int_equal(ds_col_bool(t, col(t, "ok"))[0], 1);
	assert_int_equal(ds_col_bool(t, col(t, "ok"))[1], 0);
	assert_true(is_null(t, "ok", 2));
	assert_int_equal(ds_col_i64(t, col(t, "at"))[0], 1714566600LL * 1000000);
	assert_int_equal(ds_col_i64(t, col(t, "at"))[1], 1714608000LL * 1000000 + 250000);
	assert_true(is_null(t, "at", 2));
	assert_int_equal(ds_col_i64(t, col(t, "day"))[0], 1714521600LL * 1000000);
	assert_int_equal(ds_col_i64(t, col(t, "day"))[2], 0);
	assert_string_equal(str_at(t, "raw", 0), "\\x00ff10");
	assert_true(is_null(t, "raw", 1));
	assert_string_equal(str_at(t, "raw", 2), "\\x");
	assert_int_equal(ds_col_nulls(t, col(t, "id")), 0);
	assert_null(ds_col_validity(t, col(t, "id")));
	assert_int_equal(ds_col_nulls(t, col(t, "v")), 1);
	ds_close(t);
	free(db);
	tu_rmdir(dir);
}

static void test_mixed_columns_widen(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "m.db",
		"CREATE TABLE m(a, b, c, d, e, ts TIMESTAMP, flag BOOL);"
		"INSERT INTO m VALUES (NULL, 1, 1, 0.5, NULL, '2024-01-01', 1);"
		"INSERT INTO m VALUES (1, 2.5, 'x', 'y', x'41', 'not a time', 2);"
		"INSERT INTO m VALUES (2.25, NULL, 3, 7, NULL, NULL, 0);");
	ds_table *t;

	(void)state;
	assert_int_equal(read_q(db, "SELECT * FROM m ORDER BY rowid", NULL, NULL, &t, NULL), 0);
	/* a: NULL, int, real -> float64 with the leading NULL kept */
	assert_int_equal(ds_col_type(t, col(t, "a")), DS_FLOAT64);
	assert_true(is_null(t, "a", 0));
	assert_true(ds_col_f64(t, col(t, "a"))[1] == 1.0);
	assert_true(ds_col_f64(t, col(t, "a"))[2] == 2.25);
	/* b: int, real -> float64 */
	assert_int_equal(ds_col_type(t, col(t, "b")), DS_FLOAT64);
	assert_true(ds_col_f64(t, col(t, "b"))[0] == 1.0);
	assert_true(is_null(t, "b", 2));
	/* c: int, text, int -> string in decimal */
	assert_int_equal(ds_col_type(t, col(t, "c")), DS_STRING);
	assert_string_equal(str_at(t, "c", 0), "1");
	assert_string_equal(str_at(t, "c", 1), "x");
	assert_string_equal(str_at(t, "c", 2), "3");
	/* d: real, text, int -> string, floats in their shortest form */
	assert_string_equal(str_at(t, "d", 0), "0.5");
	assert_string_equal(str_at(t, "d", 2), "7");
	/* e: only a BLOB -> string */
	assert_string_equal(str_at(t, "e", 1), "\\x41");
	/* Declared TIMESTAMP but one value is not a time: stays string, text unchanged. */
	assert_int_equal(ds_col_type(t, col(t, "ts")), DS_STRING);
	assert_string_equal(str_at(t, "ts", 0), "2024-01-01");
	/* Declared BOOL but holds a 2: stays int64. */
	assert_int_equal(ds_col_type(t, col(t, "flag")), DS_INT64);
	ds_close(t);
	free(db);
	tu_rmdir(dir);
}

static void test_empty_and_null_only(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "e.db",
		"CREATE TABLE t(id INTEGER, x REAL, s TEXT, at DATETIME, ok BOOLEAN, n NUMERIC, b BLOB);"
		"INSERT INTO t VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL);");
	ds_ingest_stats st;
	ds_table *t;
	static const ds_type want[] = {DS_INT64, DS_FLOAT64, DS_STRING, DS_TIMESTAMP, DS_BOOL,
				       DS_FLOAT64, DS_STRING};

	(void)state;
	/* An empty result keeps its columns, typed by their declarations. */
	assert_int_equal(read_q(db, "SELECT * FROM t WHERE 0", NULL, NULL, &t, &st), 0);
	assert_int_equal(ds_nrow(t), 0);
	assert_int_equal(st.rows, 0);
	assert_int_equal(ds_ncol(t), 7);
	for (size_t j = 0; j < 7; j++)
		assert_int_equal(ds_col_type(t, j), want[j]);
	ds_close(t);
	/* Only NULLs: the same types, every row null. */
	assert_int_equal(read_q(db, "SELECT *, NULL AS expr FROM t", NULL, NULL, &t, NULL), 0);
	assert_int_equal(ds_nrow(t), 1);
	for (size_t j = 0; j < 7; j++) {
		assert_int_equal(ds_col_type(t, j), want[j]);
		assert_int_equal(ds_col_nulls(t, j), 1);
	}
	assert_int_equal(ds_col_type(t, col(t, "expr")), DS_STRING);
	ds_close(t);
	free(db);
	tu_rmdir(dir);
}

static void test_params(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "p.db",
		"CREATE TABLE t(id INTEGER, s TEXT);"
		"INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, NULL);");
	json_t *p = json_pack("[i, s, b, n, f]", 2, "c", 1, 0.5);
	json_t *two = json_pack("[i, i]", 1, 3);
	ds_table *t;

	(void)state;
	/* $N placeholders in any order, as in PostgreSQL. */
	assert_int_equal(read_q(db, "SELECT id, $2 AS s2, $3 AS b, $4 AS n, $5 AS f FROM t "
				    "WHERE id > $1 AND s <= $2 ORDER BY id", p, NULL, &t, NULL), 0);
	assert_int_equal(ds_nrow(t), 1);
	assert_int_equal(ds_col_i64(t, 0)[0], 3);
	assert_string_equal(str_at(t, "s2", 0), "c");
	assert_int_equal(ds_col_i64(t, col(t, "b"))[0], 1);
	assert_true(is_null(t, "n", 0));
	assert_true(ds_col_f64(t, col(t, "f"))[0] == 0.5);
	ds_close(t);
	/* ? and ?N placeholders too. */
	assert_int_equal(read_q(db, "SELECT id FROM t WHERE id BETWEEN ? AND ?", two, NULL, &t, NULL), 0);
	assert_int_equal(ds_nrow(t), 3);
	ds_close(t);
	assert_int_equal(read_q(db, "SELECT id FROM t WHERE id = ?1", two, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "params gives 2 values but the query uses"));
	assert_int_equal(read_q(db, "SELECT id FROM t WHERE id = $3", two, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "uses parameter $3 but params gives 2 values"));
	assert_int_equal(read_q(db, "SELECT id FROM t WHERE id = :x", two, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "named parameters are not supported"));
	assert_int_equal(read_q(db, "SELECT id FROM t WHERE id = ?", NULL, NULL, &t, NULL), SL_EINVAL);
	json_decref(p);
	json_decref(two);
	free(db);
	tu_rmdir(dir);
}

/* Collects rejected rows as "row:col:reason|raw" lines. */
static int collect(void *arg, const char *file, uint64_t line, uint64_t c, const char *reason,
		   const char *raw, size_t raw_len)
{
	sl__buf *b = arg;

	assert_non_null(strstr(file, "o.db"));
	return sl__buf_printf(b, "%llu:%llu:%s|%.*s\n", (unsigned long long)line,
			      (unsigned long long)c, reason, (int)raw_len, raw);
}

/* Accepts any rejected row (for the allocation failure test). */
static int collect_any(void *arg, const char *file, uint64_t line, uint64_t c, const char *reason,
		       const char *raw, size_t raw_len)
{
	(void)file;
	(void)line;
	(void)c;
	(void)reason;
	return sl__buf_append(arg, raw, raw_len);
}

static void test_overrides_and_on_error(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "o.db",
		"CREATE TABLE t(id INTEGER, price TEXT, at TEXT, flag TEXT, n INTEGER);"
		"INSERT INTO t VALUES (1, '1.5', '2024-01-01', 'true', 7);"
		"INSERT INTO t VALUES (2, 'abc', '2024-01-02', 'false', 8);"
		"INSERT INTO t VALUES (3, NULL, 'soon', 't', 9);"
		"INSERT INTO t VALUES (4, '2', NULL, 'maybe', 10);"
		"INSERT INTO t VALUES (5, '1e3', '2024-01-05T10:00:00+02:00', NULL, 11);");
	const char *cols[] = {"price", "at", "flag", "n"};
	const ds_type types[] = {DS_FLOAT64, DS_TIMESTAMP, DS_BOOL, DS_STRING};
	ds_ingest_opts o;
	ds_ingest_stats st;
	ds_table *t;
	sl__buf rej;

	(void)state;
	memset(&o, 0, sizeof o);
	o.type_cols = cols;
	o.types = types;
	o.n_types = 4;
	/* fail: the first bad row, named by row and column. */
	assert_int_equal(read_q(db, "SELECT * FROM t ORDER BY id", NULL, &o, &t, &st), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "o.db: row 2, column 2 (price): \"abc\" is not a float64"));

	/* skip: counted, left out, nothing partial left behind. */
	o.on_error = DS_ON_ERROR_SKIP;
	assert_int_equal(read_q(db, "SELECT * FROM t ORDER BY id", NULL, &o, &t, &st), 0);
	assert_int_equal(st.rows, 2);
	assert_int_equal(st.rows_rejected, 3);
	assert_int_equal(ds_nrow(t), 2);
	assert_int_equal(ds_col_i64(t, col(t, "id"))[0], 1);
	assert_int_equal(ds_col_i64(t, col(t, "id"))[1], 5);
	assert_int_equal(ds_col_type(t, col(t, "price")), DS_FLOAT64);
	assert_true(ds_col_f64(t, col(t, "price"))[1] == 1000.0);
	assert_int_equal(ds_col_type(t, col(t, "at")), DS_TIMESTAMP);
	assert_int_equal(ds_col_i64(t, col(t, "at"))[1], (1704448800LL - 7200) * 1000000);
	assert_int_equal(ds_col_type(t, col(t, "flag")), DS_BOOL);
	assert_true(is_null(t, "flag", 1));
	assert_int_equal(ds_col_type(t, col(t, "n")), DS_STRING);
	assert_string_equal(str_at(t, "n", 1), "11");
	ds_close(t);

	/* quarantine: each bad row handed over with its place, reason and values. */
	o.on_error = DS_ON_ERROR_QUARANTINE;
	sl__buf_init(&rej, 0);
	o.reject = collect;
	o.reject_arg = &rej;
	assert_int_equal(read_q(db, "SELECT * FROM t ORDER BY id", NULL, &o, &t, &st), 0);
	assert_int_equal(st.rows_rejected, 3);
	assert_string_equal(rej.data,
		"2:2:\"abc\" is not a float64|[\"2\", \"abc\", \"2024-01-02\", \"false\", \"8\"]\n"
		"3:3:\"soon\" is not an ISO 8601 timestamp (or is out of range)"
		"|[\"3\", null, \"soon\", \"t\", \"9\"]\n"
		"4:4:\"maybe\" is not a bool (true/false)|[\"4\", \"2\", null, \"maybe\", \"10\"]\n");
	sl__buf_free(&rej);
	ds_close(t);

	/* An override for a column the query does not return. */
	cols[3] = "nope";
	o.on_error = DS_ON_ERROR_FAIL;
	assert_int_equal(read_q(db, "SELECT id, price, at, flag FROM t", NULL, &o, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "column \"nope\", which the query does not return"));
	assert_non_null(strstr(sl_errmsg(), "(its columns: id, price, at, flag)"));
	free(db);
	tu_rmdir(dir);
}

/* Every allocation failure is an ordinary error: no crash, no leak, no bad row. */
static void test_out_of_memory(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "oom.db",
		"CREATE TABLE t(a, b TEXT, c DATETIME, d BLOB);"
		"INSERT INTO t VALUES (1, '1', '2024-01-01', x'01');"
		"INSERT INTO t VALUES (2.5, 'x', '2024-01-02', NULL);"
		"INSERT INTO t VALUES ('s', '3', NULL, x'02');");
	const char *cols[] = {"b"};
	const ds_type types[] = {DS_INT64};
	ds_ingest_opts o;
	sl__buf rej;
	tu_oom oom = {0};
	long n;
	int rc;

	(void)state;
	memset(&o, 0, sizeof o);
	o.type_cols = cols;
	o.types = types;
	o.n_types = 1;
	o.on_error = DS_ON_ERROR_QUARANTINE;
	o.reject = collect_any;
	o.reject_arg = &rej;
	for (n = 0; !oom.done && n < 10000; n++) {
		ds_table *t = NULL;
		sl__buf_init(&rej, 0);
		tu_oom_begin(&oom, n);
		rc = read_q(db, "SELECT * FROM t ORDER BY rowid", NULL, &o, &t, NULL);
		tu_oom_end(&oom, rc);
		if (rc == 0) {
			assert_int_equal(ds_nrow(t), 2);
			assert_int_equal(ds_col_type(t, 0), DS_STRING);
			assert_int_equal(ds_col_type(t, 2), DS_TIMESTAMP);
		} else {
			assert_int_equal(rc, SL_ENOMEM);
		}
		ds_close(t);
		sl__buf_free(&rej);
	}
	tu_oom_check(&oom, 5);
	free(db);
	tu_rmdir(dir);
}

static void test_number_overrides(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "n.db",
		"CREATE TABLE t(a, b, c);"
		"INSERT INTO t VALUES (1.0, 1, 5);"
		"INSERT INTO t VALUES (2.5, 2, 0);");
	const char *cols[] = {"a", "b", "c"};
	const ds_type types[] = {DS_INT64, DS_BOOL, DS_TIMESTAMP};
	ds_ingest_opts o;

	(void)state;
	memset(&o, 0, sizeof o);
	o.type_cols = cols;
	o.types = types;
	o.n_types = 1;
	ds_table *t;
	assert_int_equal(read_q(db, "SELECT a FROM t ORDER BY rowid", NULL, &o, &t, NULL), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "row 2, column 1 (a): 2.5 is not an int64"));
	assert_int_equal(read_q(db, "SELECT a FROM t ORDER BY rowid LIMIT 1", NULL, &o, &t, NULL), 0);
	assert_int_equal(ds_col_i64(t, 0)[0], 1);
	ds_close(t);
	o.type_cols = cols + 1;
	o.types = types + 1;
	assert_int_equal(read_q(db, "SELECT b FROM t", NULL, &o, &t, NULL), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "2 is not a bool (0 or 1)"));
	o.type_cols = cols + 2;
	o.types = types + 2;
	o.n_types = 1;
	assert_int_equal(read_q(db, "SELECT c FROM t", NULL, &o, &t, NULL), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "unixepoch"));
	free(db);
	tu_rmdir(dir);
}

static void test_errors(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "x.db", "CREATE TABLE t(id INTEGER); INSERT INTO t VALUES (1);");
	char *missing = tu_path(dir, "missing.db");
	char *junk = tu_path(dir, "junk.db");
	ds_table *t;

	(void)state;
	/* A syntax error names the line and column inside the query. */
	assert_int_equal(read_q(db, "SELECT id,\n  FROM t", NULL, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "x.db: error in the query at line 2, column 3:"));
	assert_non_null(strstr(sl_errmsg(), "near \"FROM\": syntax error"));
	assert_int_equal(read_q(db, "SELECT nosuch FROM t", NULL, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "no such column: nosuch"));
	assert_int_equal(read_q(db, "SELECT * FROM nosuch", NULL, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "no such table: nosuch"));
	/* A missing file, a file that is no database. */
	assert_int_equal(read_q(missing, "SELECT 1", NULL, NULL, &t, NULL), SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "missing.db: no such file"));
	tu_write(junk, "this is not an SQLite database, just some text that is long enough");
	assert_int_equal(read_q(junk, "SELECT 1", NULL, NULL, &t, NULL), SL_EIO);
	assert_non_null(strstr(sl_errmsg(), "junk.db: file is not a database"));
	/* Read-only, one statement, rows required. */
	assert_int_equal(read_q(db, "DELETE FROM t", NULL, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "would modify the database"));
	assert_int_equal(read_q(db, "SELECT 1; SELECT 2", NULL, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "second statement (at line 1, column 11)"));
	assert_int_equal(read_q(db, "SELECT 1 AS one; -- a comment\n", NULL, NULL, &t, NULL), 0);
	ds_close(t);
	assert_int_equal(read_q(db, "  -- nothing\n", NULL, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "the query is empty"));
	/* Column names must be distinct. */
	assert_int_equal(read_q(db, "SELECT id, id FROM t", NULL, NULL, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "two columns named \"id\" (1 and 2)"));
	/* Invalid UTF-8 text is a bad row. */
	assert_int_equal(read_q(db, "SELECT CAST(x'61ff62' AS TEXT) AS s", NULL, NULL, &t, NULL),
			 SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "row 1, column 1 (s): invalid UTF-8 at byte 2"));
	/* A runtime error after rows. */
	assert_int_equal(read_q(db, "SELECT abs(-9223372036854775807 - id) FROM t", NULL, NULL, &t,
				NULL), SL_EIO);
	assert_non_null(strstr(sl_errmsg(), "integer overflow"));
	free(db);
	free(missing);
	free(junk);
	tu_rmdir(dir);
}

static void test_timeout(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "s.db", "CREATE TABLE t(x);");
	ds_sql_query q = {"WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
			  "SELECT count(*) FROM r", NULL, 50};
	ds_ingest_opts o;
	ds_builder *b = NULL;
	double t0 = sl__mono_sec();

	(void)state;
	memset(&o, 0, sizeof o);
	assert_int_equal(ds_sqlite_read(db, &q, &o, &b, NULL), SL_ECANCEL);
	assert_non_null(strstr(sl_errmsg(), "stopped after the timeout of 0.05 s"));
	assert_true(sl__mono_sec() - t0 < 5);
	free(db);
	tu_rmdir(dir);
}

static void test_many_rows_widen_late(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "w.db",
		"CREATE TABLE t(v);"
		"WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 20000) "
		"INSERT INTO t SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE i END FROM r;"
		"INSERT INTO t VALUES (0.5);"
		"INSERT INTO t VALUES ('end');");
	ds_table *t;

	(void)state;
	assert_int_equal(read_q(db, "SELECT v FROM t ORDER BY rowid", NULL, NULL, &t, NULL), 0);
	assert_int_equal(ds_nrow(t), 20002);
	assert_int_equal(ds_col_type(t, 0), DS_STRING);
	assert_int_equal(ds_col_nulls(t, 0), 20000 / 7);
	assert_string_equal(ds_col_str(t, 0, 0, NULL), "1");
	assert_null(ds_col_str(t, 0, 6, NULL));
	assert_string_equal(ds_col_str(t, 0, 19999, NULL), "20000");
	assert_string_equal(ds_col_str(t, 0, 20000, NULL), "0.5");
	assert_string_equal(ds_col_str(t, 0, 20001, NULL), "end");
	ds_close(t);
	free(db);
	tu_rmdir(dir);
}

static void test_pg_redact(void **state)
{
	static const char *cases[][2] = {
		{"postgresql://alice:s3cret@db.example:5432/prod",
		 "postgresql://alice:***@db.example:5432/prod"},
		{"postgres://alice@host/db?sslmode=require&password=p%40ss&x=1",
		 "postgres://alice@host/db?sslmode=require&password=***&x=1"},
		{"postgresql://host/db", "postgresql://host/db"},
		{"postgresql://a:b@c:d@host/db", "postgresql://a:***@host/db"},
		{"host=h password='it\\'s x' dbname=d", "host=h password=*** dbname=d"},
		{"host = h  password = pw user=u", "host = h  password = *** user=u"},
		{"", ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *r = sl__pg_redact(cases[i][0]);
		assert_non_null(r);
		assert_string_equal(r, cases[i][1]);
		sl__free(r);
	}
}

static void test_pg_connection_refused(void **state)
{
	ds_sql_query q = {"SELECT 1", NULL, 0};
	ds_ingest_opts o;
	ds_builder *b = NULL;

	(void)state;
	memset(&o, 0, sizeof o);
	/* Port 1 on the loopback: nothing listens, the refusal is immediate. */
	assert_int_equal(ds_pg_read("postgresql://u:secret@127.0.0.1:1/db", &q, &o, &b, NULL), SL_EIO);
	assert_null(b);
	assert_non_null(strstr(sl_errmsg(), "postgresql://u:***@127.0.0.1:1/db: cannot connect:"));
	assert_non_null(strstr(sl_errmsg(), "refused"));
	assert_null(strstr(sl_errmsg(), "secret"));
	assert_null(strchr(sl_errmsg(), '\n'));
}

/* ---- the step ------------------------------------------------------------------ */

typedef struct step_run {
	char *data, *rejects;
	json_t *metrics, *meta;
	int rc;
} step_run;

static void run_step(const char *dir, json_t *with, step_run *r)
{
	const step_def *def = step_find("ingest.sql");
	const char *names[] = {"data", "rejects"};
	const char *paths[2];
	step_ctx ctx;

	assert_non_null(def);
	r->data = tu_path(dir, "out.data");
	r->rejects = tu_path(dir, "out.rejects");
	paths[0] = r->data;
	paths[1] = r->rejects;
	r->metrics = json_object();
	r->meta = json_object();
	/* The options checked and defaults filled in, as the spec parser does. */
	{
		step_problem pb;
		if ((r->rc = step_opts_check(def, with, NULL, NULL, 0, &pb))) {
			sl__err(r->rc, "with.%s: %s", pb.path, pb.msg);
			json_decref(with);
			return;
		}
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.def = def;
	ctx.step_name = "in";
	ctx.pipeline_dir = dir;
	ctx.workdir = dir;
	ctx.with = with;
	ctx.n_outputs = 2;
	ctx.output_names = names;
	ctx.output_paths = paths;
	ctx.metrics = r->metrics;
	ctx.out_meta = r->meta;
	r->rc = def->run(&ctx);
	json_decref(with);
}

static void step_run_free(step_run *r)
{
	free(r->data);
	free(r->rejects);
	json_decref(r->metrics);
	json_decref(r->meta);
}

static double metric(const step_run *r, const char *name)
{
	return json_number_value(json_object_get(r->metrics, name));
}

static void test_step_quarantine(void **state)
{
	const char *dir = tu_tmpdir();
	char *db = make_db(dir, "s.db",
		"CREATE TABLE t(id INTEGER, v TEXT);"
		"INSERT INTO t VALUES (1, '10'), (2, 'ten'), (3, '30');");
	sl__buf rej;
	ds_table *t;
	step_run r;

	(void)state;
	/* One row of three is bad: past the default max_bad_rows (1%). */
	run_step(dir, json_pack("{s:s, s:s, s:{s:s}, s:s}", "path", "s.db", "query",
				"SELECT * FROM t ORDER BY id", "types", "v", "int", "on_error",
				"quarantine"), &r);
	assert_int_equal(r.rc, SL_ESTEP);
	assert_non_null(strstr(sl_errmsg(), "1 of 3 rows (33.3%) are bad, more than max_bad_rows"));
	assert_non_null(strstr(sl_errmsg(), "s.db:2:2: \"ten\" is not an int64"));
	step_run_free(&r);
	run_step(dir, json_pack("{s:s, s:s, s:{s:s}, s:s, s:i}", "path", "s.db", "query",
				"SELECT * FROM t ORDER BY id", "types", "v", "int", "on_error",
				"quarantine", "max_bad_rows", 1), &r);
	assert_int_equal(r.rc, 0);
	assert_true(metric(&r, "rows") == 2);
	assert_true(metric(&r, "columns") == 2);
	assert_true(metric(&r, "rows_skipped") == 1);
	assert_true(metric(&r, "rows_quarantined") == 1);
	assert_int_equal(ds_open(r.data, DS_OPEN_VERIFY, &t), 0);
	assert_int_equal(ds_nrow(t), 2);
	assert_int_equal(ds_col_type(t, 1), DS_INT64);
	assert_int_equal(ds_col_i64(t, 1)[1], 30);
	ds_close(t);
	assert_int_equal(sl__read_file(r.rejects, 1 << 20, &rej), 0);
	if (getenv("TU_DEBUG"))
		fprintf(stderr, "%s", rej.data);
	assert_non_null(strstr(rej.data, "file,line,column,reason,raw\n"));
	assert_non_null(strstr(rej.data, "s.db\",2,2,\"\"\"ten\"\" is not an int64\",\"[\"\"2\"\", \"\"ten\"\"]\"\n"));
	sl__buf_free(&rej);
	step_run_free(&r);

	/* Without bad rows the rejects file is still written (header only). */
	run_step(dir, json_pack("{s:s, s:s}", "path", "s.db", "query", "SELECT id FROM t"), &r);
	assert_int_equal(r.rc, 0);
	assert_true(sl__is_file(r.rejects));
	assert_true(metric(&r, "rows") == 3);
	step_run_free(&r);
	free(db);
	tu_rmdir(dir);
}

static void test_step_option_errors(void **state)
{
	const char *dir = tu_tmpdir();
	step_run r;

	(void)state;
	run_step(dir, json_pack("{s:s}", "query", "SELECT 1"), &r);
	assert_int_equal(r.rc, SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "give one of 'path' or 'url'"));
	step_run_free(&r);
	run_step(dir, json_pack("{s:s, s:s, s:s}", "path", "a.db", "url", "postgresql://h/d",
				"query", "SELECT 1"), &r);
	assert_int_equal(r.rc, SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "with.url: 'url' cannot be given with 'path'"));
	step_run_free(&r);
	run_step(dir, json_pack("{s:s, s:s}", "url", "sqlite:a.db", "query", "SELECT 1"), &r);
	assert_int_equal(r.rc, SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "give `path: FILE`"));
	step_run_free(&r);
	run_step(dir, json_pack("{s:s, s:s}", "path", "nope.db", "query", "SELECT 1"), &r);
	assert_int_equal(r.rc, SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "nope.db: no such file"));
	step_run_free(&r);
	run_step(dir, json_pack("{s:s, s:s, s:{s:s}}", "path", "a.db", "query", "SELECT 1", "types",
				"x", "decimal"), &r);
	assert_int_equal(r.rc, SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "with.types.x"));
	step_run_free(&r);
	run_step(dir, json_pack("{s:s, s:s, s:s}", "path", "a.db", "query", "SELECT 1", "on_error",
				"ignore"), &r);
	assert_int_equal(r.rc, SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "with.on_error"));
	step_run_free(&r);
	run_step(dir, json_pack("{s:s, s:s, s:[[]]}", "path", "a.db", "query", "SELECT 1", "params"),
		 &r);
	assert_int_equal(r.rc, SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "with.params[0]"));
	step_run_free(&r);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types_and_nulls),
		cmocka_unit_test(test_mixed_columns_widen),
		cmocka_unit_test(test_empty_and_null_only),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_overrides_and_on_error),
		cmocka_unit_test(test_number_overrides),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_many_rows_widen_late),
		cmocka_unit_test(test_pg_redact),
		cmocka_unit_test(test_pg_connection_refused),
		cmocka_unit_test(test_step_quarantine),
		cmocka_unit_test(test_step_option_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
