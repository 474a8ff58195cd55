/*
 * The CSV and JSON Lines readers and the ingest.csv / ingest.jsonl steps:
 * the RFC 4180 dialect, type inference and overrides, null markers, every
 * kind of bad input under fail / skip / quarantine, globs of several files,
 * results independent of threads and chunk size, determinism, and the
 * CSV -> dataset -> CSV round trip of a real data set.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "dataset/dataset.h"
#include "dataset/csv_int.h"
#include "steps/step.h"
#include "pipeline/spec.h"
#include "testutil.h"

/* Reads text as CSV with opt (NULL: defaults) into a table; returns the code. */
static int csv(const char *text, size_t len, const ds_ingest_opts *opt, ds_table **out,
	       ds_ingest_stats *st)
{
	ds_source src = {"in.csv", text, len};
	ds_builder *b = NULL;
	int rc = ds_csv_read_sources(&src, 1, opt, &b, st);

	*out = NULL;
	if (rc == 0) {
		rc = ds_builder_finish(b, out);
		ds_builder_free(b);
	}
	return rc;
}

static ds_table *csv_ok(const char *text, const ds_ingest_opts *opt)
{
	ds_table *t;
	int rc = csv(text, strlen(text), opt, &t, NULL);

	if (rc)
		fail_msg("unexpected error %s: %s", sl_err_name(rc), sl_errmsg());
	return t;
}

static const char *str(const ds_table *t, size_t j, size_t i)
{
	const char *s = ds_col_str(t, j, i, NULL);
	return s ? s : "(null)";
}

static void test_rfc4180(void **state)
{
	ds_table *t;

	(void)state;
	t = csv_ok("\xef\xbb\xbfname,quote,n\r\n"
		   "plain,\"a, b\",1\r\n"
		   "\"dou\"\"bled\",\"multi\nline\r\ntext\",2\r\n"
		   "\"\",x,3\n"
		   "last,\"\"\"\",4", NULL);
	assert_int_equal(ds_nrow(t), 4);
	assert_int_equal(ds_ncol(t), 3);
	assert_string_equal(ds_col_name(t, 0), "name"); /* the BOM is not part of it */
	assert_string_equal(str(t, 0, 1), "dou\"bled");
	assert_string_equal(str(t, 1, 0), "a, b");
	assert_string_equal(str(t, 1, 1), "multi\nline\r\ntext");
	assert_string_equal(str(t, 0, 2), ""); /* quoted empty: a value, not null */
	assert_string_equal(str(t, 1, 3), "\"");
	assert_int_equal(ds_col_type(t, 2), DS_INT64);
	assert_true(ds_col_i64(t, 2)[3] == 4);
	ds_close(t);

	/* Other delimiters; a lone CR is data; blank lines are skipped. */
	ds_ingest_opts o = {0};
	o.delimiter = ';';
	t = csv_ok("a;b\n1,5;x\ry\n\n2,5;\"p;q\"\n", &o);
	assert_int_equal(ds_nrow(t), 2);
	assert_string_equal(str(t, 0, 0), "1,5");
	assert_string_equal(str(t, 1, 0), "x\ry");
	assert_string_equal(str(t, 1, 1), "p;q");
	ds_close(t);
	o.delimiter = '\t';
	t = csv_ok("a\tb\n1\t2\n", &o);
	assert_true(ds_col_i64(t, 1)[0] == 2);
	ds_close(t);

	/* No header: names given or generated; one column keeps blank lines as nulls. */
	o.delimiter = 0;
	o.no_header = true;
	t = csv_ok("1,x\n2,y\n", &o);
	assert_string_equal(ds_col_name(t, 0), "c1");
	assert_int_equal(ds_nrow(t), 2);
	ds_close(t);
	const char *names[] = {"id", "v"};
	o.names = names;
	o.n_names = 2;
	t = csv_ok("1,x\n", &o);
	assert_string_equal(ds_col_name(t, 1), "v");
	ds_close(t);
	t = csv_ok("v\n1\n\n3\n", NULL);
	assert_int_equal(ds_nrow(t), 3);
	assert_int_equal(ds_col_nulls(t, 0), 1);
	ds_close(t);
}

static void test_inference(void **state)
{
	ds_table *t;

	(void)state;
	t = csv_ok("i,f,widen,s,b,ts,d,allnull,zip,big\n"
		   "1,1.5,1,abc,true,2024-01-02T03:04:05Z,2024-01-02,,007,1\n"
		   "-2,2,2.5,def,False,2024-01-02 03:04:05.5+01:00,2024-02-29,,12,99999999999999999999\n"
		   "3,-1e3,3,7,TRUE,2024-01-02T03:04,1999-12-31,NA,x1,3\n", NULL);
	assert_int_equal(ds_col_type(t, 0), DS_INT64);
	assert_int_equal(ds_col_type(t, 1), DS_FLOAT64);
	assert_int_equal(ds_col_type(t, 2), DS_FLOAT64);
	assert_int_equal(ds_col_type(t, 3), DS_STRING);
	assert_int_equal(ds_col_type(t, 4), DS_BOOL);
	assert_int_equal(ds_col_type(t, 5), DS_TIMESTAMP);
	assert_int_equal(ds_col_type(t, 6), DS_TIMESTAMP);
	assert_int_equal(ds_col_type(t, 7), DS_STRING); /* nothing but nulls */
	assert_int_equal(ds_col_type(t, 8), DS_STRING);
	assert_int_equal(ds_col_type(t, 9), DS_FLOAT64); /* past int64 */
	assert_true(ds_col_f64(t, 2)[0] == 1.0 && ds_col_f64(t, 2)[1] == 2.5);
	assert_true(ds_col_f64(t, 1)[2] == -1000.0);
	assert_string_equal(str(t, 3, 2), "7");
	assert_string_equal(str(t, 8, 0), "007"); /* the original text, not 7 */
	assert_int_equal(ds_col_bool(t, 4)[1], 0);
	assert_true(ds_col_i64(t, 5)[0] == 1704164645000000);
	assert_true(ds_col_i64(t, 5)[1] == 1704164645500000 - 3600000000);
	assert_true(ds_col_i64(t, 6)[1] == 1709164800000000);
	assert_int_equal(ds_col_nulls(t, 7), 3);
	ds_close(t);

	/* Widening from a later chunk: the result does not depend on chunks. */
	ds_ingest_opts o = {0};
	o.chunk_size = 4;
	o.threads = 2;
	t = csv_ok("a,b\n1,1\n2,2\n3,3.5\n4,x\n5,5\n", &o);
	assert_int_equal(ds_col_type(t, 0), DS_INT64);
	assert_int_equal(ds_col_type(t, 1), DS_STRING);
	assert_string_equal(str(t, 1, 2), "3.5");
	assert_string_equal(str(t, 1, 0), "1");
	ds_close(t);
}

/*
 * Leading zeros are text: ZIP codes, account numbers and product codes
 * come back unchanged, whatever chunk the first one is in; "0", "0.5" and
 * "-0.25" are numbers; an explicit type still reads them as numbers.
 */
static void test_leading_zeros(void **state)
{
	static const char text[] = "zip,acct,code,n,f,neg\n"
				   "90210,12,7,0,0.5,-0.25\n"
				   "08123,-007,00.5,0,0.25,-0\n"
				   "10001,3,1e3,10,1.5,-1\n";
	ds_ingest_opts o = {0};
	ds_table *t;

	(void)state;
	for (size_t chunk = 0; chunk <= 8; chunk += 8) {
		o.chunk_size = chunk;
		o.threads = chunk ? 3 : 0;
		t = csv_ok(text, &o);
		for (size_t j = 0; j < 3; j++)
			assert_int_equal(ds_col_type(t, j), DS_STRING);
		assert_string_equal(str(t, 0, 0), "90210");
		assert_string_equal(str(t, 0, 1), "08123");
		assert_string_equal(str(t, 1, 1), "-007");
		assert_string_equal(str(t, 2, 1), "00.5");
		assert_string_equal(str(t, 2, 2), "1e3");
		assert_int_equal(ds_col_type(t, 3), DS_INT64);
		assert_int_equal(ds_col_type(t, 4), DS_FLOAT64);
		assert_int_equal(ds_col_type(t, 5), DS_FLOAT64);
		ds_close(t);
	}

	/* types: wins over inference. */
	const char *cols[] = {"zip"};
	ds_type types[] = {DS_INT64};
	memset(&o, 0, sizeof o);
	o.type_cols = cols;
	o.types = types;
	o.n_types = 1;
	t = csv_ok(text, &o);
	assert_int_equal(ds_col_type(t, 0), DS_INT64);
	assert_true(ds_col_i64(t, 0)[1] == 8123);
	ds_close(t);
}

static void test_overrides_and_nulls(void **state)
{
	ds_table *t;
	ds_ingest_opts o = {0};
	const char *cols[] = {"code", "n", "flag", "when"};
	ds_type types[] = {DS_STRING, DS_FLOAT64, DS_BOOL, DS_TIMESTAMP};

	(void)state;
	o.type_cols = cols;
	o.types = types;
	o.n_types = 4;
	t = csv_ok("code,n,flag,when\n01,1,1,2024-01-01\n02,NA,false,\n", &o);
	assert_int_equal(ds_col_type(t, 0), DS_STRING);
	assert_string_equal(str(t, 0, 0), "01");
	assert_int_equal(ds_col_type(t, 1), DS_FLOAT64);
	assert_false(ds_valid(ds_col_validity(t, 1), 1));
	assert_int_equal(ds_col_bool(t, 2)[0], 1);
	assert_false(ds_valid(ds_col_validity(t, 3), 1));
	ds_close(t);

	/* NaN and Inf as text are float values, not nulls; quoted markers are text. */
	t = csv_ok("x,s\nNaN,\"NA\"\nInf,NA\n-inf,\"\"\n1.5,\n", NULL);
	assert_int_equal(ds_col_type(t, 0), DS_FLOAT64);
	assert_int_equal(ds_col_nulls(t, 0), 0);
	assert_true(isnan(ds_col_f64(t, 0)[0]));
	assert_true(isinf(ds_col_f64(t, 0)[1]) && ds_col_f64(t, 0)[1] > 0);
	assert_true(isinf(ds_col_f64(t, 0)[2]) && ds_col_f64(t, 0)[2] < 0);
	assert_string_equal(str(t, 1, 0), "NA");
	assert_string_equal(str(t, 1, 1), "(null)");
	assert_string_equal(str(t, 1, 2), "");
	assert_string_equal(str(t, 1, 3), "(null)");
	ds_close(t);

	/* Custom null markers replace the defaults. */
	const char *nulls[] = {"-", "missing"};
	memset(&o, 0, sizeof o);
	o.null_values = nulls;
	o.n_null_values = 2;
	t = csv_ok("a,b\n-,1\nmissing,\n3,-\n", &o);
	assert_int_equal(ds_col_type(t, 0), DS_INT64);
	assert_int_equal(ds_col_nulls(t, 0), 2);
	assert_int_equal(ds_col_type(t, 1), DS_STRING); /* "" is now an empty string */
	assert_int_equal(ds_col_nulls(t, 1), 1);
	ds_close(t);

	/* An override naming no column is an error. */
	const char *nope[] = {"zzz"};
	memset(&o, 0, sizeof o);
	o.type_cols = nope;
	o.types = types;
	o.n_types = 1;
	assert_int_equal(csv("a\n1\n", 4, &o, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "zzz"));
}

/* Expects text to fail with SL_EPARSE and a message containing want. */
static void expect_fail(const char *text, size_t len, const ds_ingest_opts *opt, const char *want)
{
	ds_table *t;
	int rc = csv(text, len, opt, &t, NULL);

	if (rc != SL_EPARSE || !strstr(sl_errmsg(), want))
		fail_msg("want EPARSE with '%s', got %s: '%s'", want, sl_err_name(rc), sl_errmsg());
	assert_null(t);
}

static void test_bad_input_fails(void **state)
{
	ds_ingest_opts o = {0};
	const char *cols[] = {"n"};
	ds_type types[] = {DS_INT64};

	(void)state;
	expect_fail("a,b\n1,2\n3\n", 10, NULL, "in.csv:3:2: expected 2 fields, found 1");
	expect_fail("a,b\n1,2\n3,4,5\n", 14, NULL, "in.csv:3:5: expected 2 fields, found 3");
	expect_fail("a,b\n1,\"2\n3,4\n", 13, NULL, "in.csv:2:3: unterminated quote");
	expect_fail("a,b\n1,x\"y\"\n2,3\n", 15, NULL, "in.csv:2:4: quote inside an unquoted field");
	/* A stray quote that is never closed swallows the rest of the file. */
	expect_fail("a,b\n1,x\"y\n2,3\n", 14, NULL,
		    "in.csv:2:4: quote inside an unquoted field, never closed (it runs to the end of "
		    "the file): quote the whole field, or set quote_in_field: literal");
	expect_fail("a,b\n1,\"x\"y\n", 11, NULL, "in.csv:2:6: unexpected character after a closing quote");
	expect_fail("a,b\n1,ok\n2,b\xff\n", 14, NULL, "in.csv:3:4: invalid UTF-8");
	expect_fail("a,b\n\"multi\nline\",\"x\xc3\"\n", 23, NULL, "in.csv:3:9: invalid UTF-8");
	expect_fail("", 0, NULL, "in.csv: empty file");
	expect_fail("\xef\xbb\xbf", 3, NULL, "in.csv: empty file");
	expect_fail("a,\"b\n", 5, NULL, "in.csv:1:3: unterminated quote");
	expect_fail("a,a\n1,2\n", 8, NULL, "duplicate column name 'a'");
	o.type_cols = cols;
	o.types = types;
	o.n_types = 1;
	expect_fail("n,s\n1,a\n2.5,b\n", 14, &o,
		    "in.csv:3:1: column 'n': '2.5' is not a valid int64");
	memset(&o, 0, sizeof o);
	o.max_field_size = 4;
	expect_fail("a\nabcd\nabcde\n", 13, &o, "in.csv:3:1: field of 5 bytes is larger than max_field_size (4)");

	/* Line numbers stay right across chunks and threads. */
	sl__buf b;
	sl__buf_init(&b, 0);
	sl__buf_puts(&b, "a,b\n");
	for (int i = 0; i < 5000; i++)
		sl__buf_printf(&b, "%d,\"q\n%d\"\n", i, i);
	sl__buf_puts(&b, "x\n");
	memset(&o, 0, sizeof o);
	o.chunk_size = 1000;
	o.threads = 3;
	expect_fail(b.data, b.len, &o, "in.csv:10002:2: expected 2 fields, found 1");
	sl__buf_free(&b);
}

typedef struct rejects {
	sl__buf text;
	int n;
} rejects;

static int collect(void *arg, const char *file, uint64_t line, uint64_t col, const char *reason,
		   const char *raw, size_t len)
{
	rejects *r = arg;

	r->n++;
	return sl__buf_printf(&r->text, "%s:%llu:%llu %s [%.*s]\n", file, (unsigned long long)line,
			      (unsigned long long)col, reason, (int)len, raw);
}

static void test_skip_and_quarantine(void **state)
{
	static const char text[] = "a,b\n"
				   "1,x\n"
				   "2\n"                /* ragged */
				   "3,\"y\"z\n"         /* after closing quote */
				   "4,ok\n"
				   "5,b\xc3\x28\n"      /* invalid UTF-8 */
				   "6,\"multi\nline\"\n"
				   "7,8,9\r\n"          /* extra field */
				   "8,end";
	ds_ingest_opts o = {0};
	ds_ingest_stats st;
	ds_table *t;
	rejects r = {{0}, 0};

	(void)state;
	o.on_error = DS_ON_ERROR_SKIP;
	assert_int_equal(csv(text, sizeof text - 1, &o, &t, &st), 0);
	assert_int_equal(st.rows, 4);
	assert_int_equal(st.rows_rejected, 4);
	assert_int_equal(ds_col_type(t, 0), DS_INT64);
	assert_true(ds_col_i64(t, 0)[3] == 8);
	assert_string_equal(str(t, 1, 2), "multi\nline");
	ds_close(t);

	sl__buf_init(&r.text, 0);
	o.on_error = DS_ON_ERROR_QUARANTINE;
	o.reject = collect;
	o.reject_arg = &r;
	/* Tiny chunks: rejects still come in file order. */
	o.chunk_size = 3;
	o.threads = 2;
	assert_int_equal(csv(text, sizeof text - 1, &o, &t, &st), 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.text.data,
			    "in.csv:3:2 expected 2 fields, found 1 [2]\n"
			    "in.csv:4:6 unexpected character after a closing quote [3,\"y\"z]\n"
			    "in.csv:6:4 invalid UTF-8 [5,b\xc3\x28]\n"
			    "in.csv:9:5 expected 2 fields, found 3 [7,8,9]\n");
	assert_int_equal(ds_nrow(t), 4);
	ds_close(t);
	sl__buf_free(&r.text);

	/* A bad row does not widen a type: "x" in a rejected row leaves a ints. */
	o.reject = NULL;
	o.chunk_size = 0;
	assert_int_equal(csv("a,b\n1,2\nx,2,3\n3,4\n", 19, &o, &t, &st), 0);
	assert_int_equal(ds_col_type(t, 0), DS_INT64);
	ds_close(t);
	/* An unterminated quote fails whatever on_error says. */
	assert_int_equal(csv("a\n\"x\n", 5, &o, &t, &st), SL_EPARSE);
}

/*
 * quote_in_field: literal keeps a quote inside an unquoted field as data
 * (37°36'37.8"N). Quote parity then says nothing about row starts, so the
 * result must not depend on the chunk size or the threads either.
 */
static void test_quote_literal(void **state)
{
	static const char text[] = "loc,n\n"
				   "37\xc2\xb0" "36'37.8\"N,1\n"
				   "\"quoted, \"\"as ever\"\"\",2\n"
				   "ab\"\"c,3\n"
				   "5'11\",\"multi\nline\"\n";
	ds_ingest_opts o = {0};
	ds_ingest_stats st;
	ds_table *t;

	(void)state;
	expect_fail(text, sizeof text - 1, NULL, "in.csv:2:12: quote inside an unquoted field");
	o.quote_literal = true;
	t = csv_ok(text, &o);
	assert_int_equal(ds_nrow(t), 4);
	assert_string_equal(str(t, 0, 0), "37\xc2\xb0" "36'37.8\"N");
	assert_string_equal(str(t, 0, 1), "quoted, \"as ever\"");
	assert_string_equal(str(t, 0, 2), "ab\"\"c");
	assert_string_equal(str(t, 0, 3), "5'11\"");
	assert_string_equal(str(t, 1, 3), "multi\nline");
	ds_close(t);

	/* Junk after a closing quote is still a bad row; the next row is intact. */
	o.on_error = DS_ON_ERROR_SKIP;
	assert_int_equal(csv("a,b\n\"x\"y\"z,1\n2,\"ok\"\n", 20, &o, &t, &st), 0);
	assert_int_equal(st.rows_rejected, 1);
	assert_int_equal(ds_nrow(t), 1);
	assert_string_equal(str(t, 1, 0), "ok");
	ds_close(t);

	/* Odd quote counts on every row: a chunk boundary found by parity
	 * would be wrong; the literal dialect does not cut files. */
	sl__buf b;
	sl__buf_init(&b, 0);
	sl__buf_puts(&b, "id,height\n");
	for (int i = 0; i < 20000; i++)
		sl__buf_printf(&b, "%d,%d'%d\"\n", i, 4 + i % 3, i % 12);
	o.on_error = DS_ON_ERROR_FAIL;
	o.chunk_size = 1000;
	o.threads = 3;
	assert_int_equal(csv(b.data, b.len, &o, &t, &st), 0);
	assert_int_equal(ds_nrow(t), 20000);
	assert_string_equal(str(t, 1, 12345), "4'9\"");
	assert_true(ds_col_i64(t, 0)[19999] == 19999);
	ds_close(t);
	sl__buf_free(&b);
}

/* encoding: latin1 and windows-1252 files are transcoded to UTF-8 first. */
static void test_encodings(void **state)
{
	static const char latin1[] = "name,city\nJos\xe9,M\xfcnchen\n\"\xc6gir, \xd8\",caf\xe9\n";
	static const char cp1252[] = "item,price\n\x80 sign,1\n\x93quoted\x94,2\n";
	ds_ingest_opts o = {0};
	ds_ingest_stats st;
	ds_table *t;

	(void)state;
	/* Without the option such bytes are refused, never guessed at. */
	expect_fail(latin1, sizeof latin1 - 1, NULL, "in.csv:2:4: invalid UTF-8");
	o.encoding = "latin1";
	for (size_t chunk = 0; chunk <= 7; chunk += 7) {
		o.chunk_size = chunk;
		o.threads = chunk ? 3 : 0;
		assert_int_equal(csv(latin1, sizeof latin1 - 1, &o, &t, &st), 0);
		assert_string_equal(str(t, 0, 0), "Jos\xc3\xa9");
		assert_string_equal(str(t, 1, 0), "M\xc3\xbcnchen");
		assert_string_equal(str(t, 0, 1), "\xc3\x86gir, \xc3\x98");
		assert_int_equal(st.bytes, sizeof latin1 - 1); /* the file's bytes, not UTF-8's */
		ds_close(t);
	}
	/* In latin1 0x80 is a C1 control; in windows-1252 it is the euro sign. */
	o.chunk_size = 0;
	o.threads = 0;
	o.encoding = "windows-1252";
	t = csv_ok(cp1252, &o);
	assert_string_equal(str(t, 0, 0), "\xe2\x82\xac sign");
	assert_string_equal(str(t, 0, 1), "\xe2\x80\x9cquoted\xe2\x80\x9d");
	assert_true(ds_col_i64(t, 1)[1] == 2);
	ds_close(t);
	o.encoding = "cp1252";
	t = csv_ok(cp1252, &o);
	assert_string_equal(str(t, 0, 0), "\xe2\x82\xac sign");
	ds_close(t);
	o.encoding = "latin-1";
	t = csv_ok(cp1252, &o);
	assert_string_equal(str(t, 0, 0), "\xc2\x80 sign");
	ds_close(t);

	/* A byte windows-1252 leaves undefined is named with its place. */
	o.encoding = "windows-1252";
	expect_fail("a,b\nok,1\nx\x81y,2\n", 15, &o,
		    "in.csv:3:2: byte 0x81 (offset 10) is not valid windows-1252");
	/* A UTF-8 file is not latin1. */
	o.encoding = "latin1";
	expect_fail("\xef\xbb\xbf" "a\n1\n", 7, &o, "starts with a UTF-8 byte order mark");
	o.encoding = "klingon";
	assert_int_equal(csv("a\n1\n", 4, &o, &t, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "unknown encoding 'klingon'"));
	assert_int_equal(ds_encoding_check("klingon"), SL_EINVAL);
	assert_int_equal(ds_encoding_check("ISO-8859-1"), 0);
	assert_true(ds_encoding_is_utf8("UTF-8") && ds_encoding_is_utf8(NULL));
}

static void test_big_field(void **state)
{
	size_t n = (size_t)10 << 20;
	char *text = malloc(n + 64);
	ds_table *t;
	size_t len;

	(void)state;
	assert_non_null(text);
	strcpy(text, "id,blob\n1,\"");
	size_t at = strlen(text);
	for (size_t i = 0; i < n; i++)
		text[at + i] = (char)('a' + i % 26);
	text[at + 100] = '"'; /* one doubled quote inside */
	text[at + 101] = '"';
	strcpy(text + at + n, "\"\n2,small\n");
	assert_int_equal(csv(text, strlen(text), NULL, &t, NULL), 0);
	assert_int_equal(ds_nrow(t), 2);
	const char *s = ds_col_str(t, 1, 0, &len);
	assert_int_equal(len, n - 1);
	assert_int_equal(s[100], '"');
	assert_int_equal(s[101], (char)('a' + 102 % 26));
	ds_close(t);
	free(text);
}

/* Random CSV with quotes, newlines and nulls: same result for any chunking. */
static void test_chunking_invariance(void **state)
{
	sl__buf b;
	ds_builder *ref = NULL, *other = NULL;
	const char *dir = tu_tmpdir();
	char *p1 = tu_path(dir, "a.ds"), *p2 = tu_path(dir, "b.ds");
	ds_source src;
	ds_ingest_opts o = {0};

	(void)state;
	srand(42);
	sl__buf_init(&b, 0);
	sl__buf_puts(&b, "id,name,score,ok\n");
	for (int i = 0; i < 3000; i++) {
		int k = rand() % 10;
		sl__buf_printf(&b, "%d,", i);
		if (k == 0)
			sl__buf_puts(&b, "\"he said \"\"hi\"\"\nthen, left\"");
		else if (k == 1)
			sl__buf_puts(&b, "");
		else
			sl__buf_printf(&b, "name%d", rand() % 50);
		sl__buf_printf(&b, ",%s,%s%s", k == 2 ? "NA" : k == 3 ? "7" : "3.25",
			       k == 4 ? "false" : "true", i % 17 == 0 ? "\r\n" : "\n");
		if (i % 500 == 0)
			sl__buf_puts(&b, "\n"); /* blank line */
	}
	src.name = "r.csv";
	src.data = b.data;
	src.len = b.len;
	o.threads = 1;
	o.chunk_size = (size_t)1 << 30;
	assert_int_equal(ds_csv_read_sources(&src, 1, &o, &ref, NULL), 0);
	assert_int_equal(ds_builder_write(ref, p1), 0);
	size_t sizes[] = {1, 2, 3, 7, 64, 999, 4096};
	for (size_t k = 0; k < SL__ARRAY_LEN(sizes); k++) {
		sl__buf x, y;
		o.threads = (unsigned)(k % 3 + 1);
		o.chunk_size = sizes[k];
		/* Every other run writes the file while merging (out_path), the
		 * others through the builder: the bytes must not differ. */
		o.out_path = k % 2 ? p2 : NULL;
		assert_int_equal(ds_csv_read_sources(&src, 1, &o, &other, NULL), 0);
		if (!o.out_path)
			assert_int_equal(ds_builder_write(other, p2), 0);
		ds_builder_free(other);
		assert_int_equal(sl__read_file(p1, 0, &x), 0);
		assert_int_equal(sl__read_file(p2, 0, &y), 0);
		assert_int_equal(x.len, y.len);
		assert_memory_equal(x.data, y.data, x.len);
		sl__buf_free(&x);
		sl__buf_free(&y);
	}
	ds_builder_free(ref);
	sl__buf_free(&b);
	free(p1);
	free(p2);
	tu_rmdir(dir);
}

/*
 * Raw string columns (mostly distinct values, no chunk-level lookup) give
 * the same bytes as interned ones: every chunk raw, none, or the default
 * choice, over chunkings and threads, with repeats within and across
 * chunks, nulls, escaped quotes, and a column that turns to strings late.
 */
static void test_raw_strings(void **state)
{
	sl__buf b, ref, got;
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "r.ds");
	ds_builder *out = NULL;
	ds_source src;
	ds_ingest_opts o = {0};
	size_t probe0 = csv_raw_probe;
	unsigned permille0 = csv_raw_permille;
	/* {probe, permille}: never raw, always raw, raw after 3 rows, default. */
	const size_t modes[][2] = {{1, 1000}, {1, 0}, {3, 0}, {2048, 800}};
	const size_t sizes[] = {(size_t)1 << 30, 1, 57, 999, 4096};

	(void)state;
	srand(7);
	sl__buf_init(&b, 0);
	sl__buf_puts(&b, "id,text,cat,late\n");
	for (int i = 0; i < 6000; i++) {
		int k = rand() % 20;
		sl__buf_printf(&b, "%d,", i);
		if (k == 0)
			sl__buf_puts(&b, "NA");
		else if (k == 1)
			sl__buf_puts(&b, "\"same, \"\"quoted\"\"\nvalue\"");
		else if (k == 2)
			sl__buf_printf(&b, "t%d", rand() % 100); /* repeats */
		else
			sl__buf_printf(&b, "free text %d %d", i, rand());
		sl__buf_printf(&b, ",c%d,", rand() % 5);
		if (i > 4500 && k == 3)
			sl__buf_printf(&b, "x%d\n", i);
		else if (k == 4)
			sl__buf_puts(&b, "\n");
		else
			sl__buf_printf(&b, "%d\n", rand() % 1000);
	}
	src.name = "raw.csv";
	src.data = b.data;
	src.len = b.len;
	for (size_t m = 0; m < SL__ARRAY_LEN(modes); m++) {
		csv_raw_probe = modes[m][0];
		csv_raw_permille = (unsigned)modes[m][1];
		for (size_t k = 0; k < SL__ARRAY_LEN(sizes); k++) {
			o.threads = (unsigned)((m + k) % 3 + 1);
			o.chunk_size = sizes[k];
			o.out_path = k % 2 ? path : NULL;
			assert_int_equal(ds_csv_read_sources(&src, 1, &o, &out, NULL), 0);
			if (!o.out_path)
				assert_int_equal(ds_builder_write(out, path), 0);
			ds_builder_free(out);
			assert_int_equal(sl__read_file(path, 0, m == 0 && k == 0 ? &ref : &got), 0);
			if (m == 0 && k == 0)
				continue;
			assert_int_equal(got.len, ref.len);
			assert_memory_equal(got.data, ref.data, ref.len);
			sl__buf_free(&got);
		}
	}
	csv_raw_probe = probe0;
	csv_raw_permille = permille0;
	sl__buf_free(&ref);
	sl__buf_free(&b);
	free(path);
	tu_rmdir(dir);
}

/* ---- the steps ------------------------------------------------------------------ */

typedef struct step_run {
	step_ctx ctx;
	const char *names[2];
	const char *paths[2];
	char *data, *rejects;
	json_t *with, *metrics, *meta;
} step_run;

static int run_step(step_run *r, const char *name, const char *dir, const char *with_json)
{
	const step_def *def = step_find(name);
	json_error_t err;

	assert_non_null(def);
	memset(r, 0, sizeof *r);
	/* Options resolved exactly as a pipeline run resolves them (defaults
	 * filled in and typed by the spec parser): JSON is YAML flow syntax. */
	{
		char text[4096];
		spec *sp = NULL;
		int n = snprintf(text, sizeof text, "steps:\n  s:\n    uses: %s\n    with: %s\n",
				 name, with_json);
		int rc = spec_parse_string(text, (size_t)n, "test.yaml", dir, NULL, 0, &sp);
		if (rc)
			return rc; /* a bad option: the parser's "test.yaml:LINE:COL: ..." */
		r->with = json_incref(sp->steps[0].with);
		spec_free(sp);
	}
	(void)err;
	r->data = tu_path(dir, "out.ds");
	r->rejects = tu_path(dir, "rejects.csv");
	r->names[0] = "data";
	r->names[1] = "rejects";
	r->paths[0] = r->data;
	r->paths[1] = r->rejects;
	r->metrics = json_object();
	r->meta = json_object();
	r->ctx.def = def;
	r->ctx.step_name = "ingest";
	r->ctx.pipeline_dir = dir;
	r->ctx.workdir = dir;
	r->ctx.with = r->with;
	r->ctx.n_outputs = 2;
	r->ctx.output_names = r->names;
	r->ctx.output_paths = r->paths;
	r->ctx.metrics = r->metrics;
	r->ctx.out_meta = r->meta;
	int rc = def->run(&r->ctx);
	if (rc)
		print_message("%s: %s: %s\n", name, sl_err_name(rc), sl_errmsg());
	return rc;
}

static double metric(const step_run *r, const char *name)
{
	return json_number_value(json_object_get(r->metrics, name));
}

static void step_run_free(step_run *r)
{
	json_decref(r->with);
	json_decref(r->metrics);
	json_decref(r->meta);
	free(r->data);
	free(r->rejects);
}

static void write_in(const char *dir, const char *name, const char *text)
{
	char *p = tu_path(dir, name);
	tu_write(p, text);
	free(p);
}

static void test_step_glob_and_outputs(void **state)
{
	const char *dir = tu_tmpdir();
	step_run r;
	ds_table *t;
	sl__buf b;

	(void)state;
	write_in(dir, "part-2.csv", "id,v\n3,c\n4,d\n");
	write_in(dir, "part-1.csv", "\xef\xbb\xbfid,v\r\n1,a\r\n2,b\r\n");
	write_in(dir, "part-3.csv", "id,v\n5,e\n");
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"part-*.csv\"}"), 0);
	assert_true(metric(&r, "rows") == 5);
	assert_true(metric(&r, "columns") == 2);
	assert_true(metric(&r, "files") == 3);
	assert_true(metric(&r, "rows_skipped") == 0);
	assert_true(metric(&r, "bytes") > 30);
	assert_int_equal(ds_open(r.data, DS_OPEN_VERIFY, &t), 0);
	for (size_t i = 0; i < 5; i++)
		assert_true(ds_col_i64(t, 0)[i] == (int64_t)i + 1); /* sorted file order */
	ds_close(t);
	assert_int_equal(sl__read_file(r.rejects, 0, &b), 0);
	assert_string_equal(b.data, "file,line,column,reason,raw\n");
	sl__buf_free(&b);
	step_run_free(&r);

	/* Missing and extra columns across files. */
	write_in(dir, "part-3.csv", "id\n5\n");
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"part-*.csv\"}"), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "part-3.csv:1: the header has 1 columns but"));
	step_run_free(&r);
	write_in(dir, "part-3.csv", "id,v,w\n5,e,f\n");
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"part-*.csv\"}"), SL_EPARSE);
	step_run_free(&r);
	write_in(dir, "part-3.csv", "id,w\n5,e\n");
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"part-*.csv\"}"), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "column 2 is 'w' but 'v'"));
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"nothing-*.csv\"}"), SL_ENOENT);
	step_run_free(&r);

	/* Header only: an empty dataset with the header's columns. */
	write_in(dir, "h.csv", "a,b\n");
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"h.csv\"}"), 0);
	assert_int_equal(ds_open(r.data, 0, &t), 0);
	assert_int_equal(ds_nrow(t), 0);
	assert_int_equal(ds_ncol(t), 2);
	ds_close(t);
	step_run_free(&r);
	write_in(dir, "e.csv", "");
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"e.csv\"}"), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "e.csv: empty file"));
	step_run_free(&r);
	tu_rmdir(dir);
}

static void test_step_on_error(void **state)
{
	const char *dir = tu_tmpdir();
	step_run r;
	sl__buf b;

	(void)state;
	write_in(dir, "d.csv", "n,s\n1,a\n2,b,c\n3,\"q\"\"\"\n4\n");
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"d.csv\"}"), SL_EPARSE);
	/* Named as the pipeline names it, not by the folder the project is in. */
	assert_string_equal(sl_errmsg(), "d.csv:3:5: expected 2 fields, found 3");
	step_run_free(&r);
	/* Half the rows are bad: past the default max_bad_rows (1%), the step
	 * fails naming them rather than go green on what is left. */
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"d.csv\", \"on_error\": \"skip\"}"),
			 SL_ESTEP);
	assert_non_null(strstr(sl_errmsg(), "2 of 4 rows (50%) are bad, more than max_bad_rows allows "
					    "(1% of the rows): d.csv:3:5: expected 2 fields, found 3; "
					    "d.csv:5:2: expected 2 fields, found 1."));
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.csv", dir,
				  "{\"path\": \"d.csv\", \"on_error\": \"skip\", \"max_bad_rows\": 2}"), 0);
	assert_true(metric(&r, "rows") == 2);
	assert_true(metric(&r, "rows_skipped") == 2);
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.csv", dir,
				  "{\"path\": \"d.csv\", \"on_error\": \"quarantine\", \"max_bad_rows\": \"50%\"}"), 0);
	assert_true(metric(&r, "rows_quarantined") == 2);
	assert_int_equal(sl__read_file(r.rejects, 0, &b), 0);
	/* Files are named as the pipeline names them, not by where the project lives. */
	assert_string_equal(b.data, "file,line,column,reason,raw\n"
				    "\"d.csv\",3,5,\"expected 2 fields, found 3\",\"2,b,c\"\n"
				    "\"d.csv\",5,2,\"expected 2 fields, found 1\",\"4\"\n");
	sl__buf_free(&b);
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.csv", dir,
				  "{\"path\": \"d.csv\", \"on_error\": \"skip\", \"max_bad_rows\": 1}"), SL_ESTEP);
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.csv", dir,
				  "{\"path\": \"d.csv\", \"on_error\": \"skip\", \"max_bad_rows\": 0.5}"), 0);
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.csv", dir,
				  "{\"path\": \"d.csv\", \"on_error\": \"skip\", \"max_bad_rows\": 0.49}"), SL_ESTEP);
	step_run_free(&r);
	/* A limit that is no count, fraction or percentage is the file's error. */
	for (int k = 0; k < 3; k++) {
		static const char *const bad_limits[] = {"\"lots\"", "1.5", "\"150%\""};
		char with[128];
		snprintf(with, sizeof with, "{\"path\": \"d.csv\", \"on_error\": \"skip\", \"max_bad_rows\": %s}",
			 bad_limits[k]);
		assert_int_equal(run_step(&r, "ingest.csv", dir, with), SL_ESPEC);
		assert_non_null(strstr(sl_errmsg(), "max_bad_rows is a count (100), a fraction"));
	}
	/* A bad mode is the file's error, before anything runs. */
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"d.csv\", \"on_error\": \"maybe\"}"),
			 SL_ESPEC);
	assert_non_null(strstr(sl_errmsg(), "test.yaml:4:41: option 'on_error' of ingest.csv must be "
					    "one of fail, skip or quarantine, not 'maybe'"));
	/* Options: delimiter, types, null_values, header false with columns. */
	write_in(dir, "t.tsv", "1\t-\t2024-05-01\n2\tx\t2024-05-02\n");
	assert_int_equal(run_step(&r, "ingest.csv", dir,
				  "{\"path\": \"t.tsv\", \"delimiter\": \"tab\", \"header\": false,"
				  " \"columns\": [\"id\", \"tag\", \"day\"], \"null_values\": [\"-\"],"
				  " \"types\": {\"id\": \"float\"}}"), 0);
	ds_table *t;
	assert_int_equal(ds_open(r.data, 0, &t), 0);
	assert_int_equal(ds_col_type(t, 0), DS_FLOAT64);
	assert_string_equal(ds_col_name(t, 2), "day");
	assert_int_equal(ds_col_type(t, 2), DS_TIMESTAMP);
	assert_int_equal(ds_col_nulls(t, 1), 1);
	ds_close(t);
	step_run_free(&r);
	/* quote_in_field and encoding. */
	write_in(dir, "l.csv", "loc,name\n37'N\",Jos\xe9\n");
	assert_int_equal(run_step(&r, "ingest.csv", dir,
				  "{\"path\": \"l.csv\", \"quote_in_field\": \"literal\","
				  " \"encoding\": \"latin1\"}"), 0);
	assert_int_equal(ds_open(r.data, 0, &t), 0);
	assert_string_equal(ds_col_str(t, 0, 0, NULL), "37'N\"");
	assert_string_equal(ds_col_str(t, 1, 0, NULL), "Jos\xc3\xa9");
	ds_close(t);
	step_run_free(&r);
	/* An encoding iconv does not know is the file's error, before anything runs. */
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"l.csv\", \"encoding\": \"klingon\"}"),
			 SL_ESPEC);
	assert_non_null(strstr(sl_errmsg(), "test.yaml:4:41: unknown encoding 'klingon'"));
	assert_int_equal(run_step(&r, "ingest.csv", dir, "{\"path\": \"l.csv\", \"quote_in_field\": \"maybe\"}"),
			 SL_ESPEC);
	assert_non_null(strstr(sl_errmsg(), "must be one of strict or literal, not 'maybe'"));
	tu_rmdir(dir);
}

/*
 * The case that went green: a wrong types: override under on_error: skip
 * dropped 1,982 of 2,001 rows. Now the step fails and names the first bad
 * rows; 1% (20 of 2,001) is tolerated by default, 21 are not.
 */
static void test_step_max_bad_rows(void **state)
{
	const char *dir = tu_tmpdir();
	step_run r;
	sl__buf b;

	(void)state;
	sl__buf_init(&b, 0);
	sl__buf_puts(&b, "id,zip\n");
	for (int i = 0; i < 2001; i++)
		sl__buf_printf(&b, "%d,%s\n", i, i < 19 ? "12345" : "SW1A 1AA");
	write_in(dir, "z.csv", b.data);
	assert_int_equal(run_step(&r, "ingest.csv", dir,
				  "{\"path\": \"z.csv\", \"on_error\": \"skip\", \"types\": {\"zip\": \"int\"}}"),
			 SL_ESTEP);
	assert_non_null(strstr(sl_errmsg(), "1982 of 2001 rows (99.1%) are bad"));
	assert_non_null(strstr(sl_errmsg(), "z.csv:21:4: column 'zip': 'SW1A 1AA' is not a valid int64"));
	assert_non_null(strstr(sl_errmsg(), "z.csv:23:4: "));
	assert_non_null(strstr(sl_errmsg(), "and 1979 more"));
	step_run_free(&r);
	sl__buf_free(&b);

	for (int bad = 20; bad <= 21; bad++) {
		sl__buf_init(&b, 0);
		sl__buf_puts(&b, "id,zip\n");
		for (int i = 0; i < 2001; i++)
			sl__buf_printf(&b, "%d,%s\n", i, i < bad ? "x" : "12345");
		write_in(dir, "z.csv", b.data);
		assert_int_equal(run_step(&r, "ingest.csv", dir,
					  "{\"path\": \"z.csv\", \"on_error\": \"skip\", \"types\": {\"zip\": \"int\"}}"),
				 bad == 20 ? 0 : SL_ESTEP);
		if (bad == 20) {
			assert_true(metric(&r, "rows_skipped") == 20);
			/* The progress output shows the count (the step's note). */
			char *note = tu_path(dir, "note.txt");
			sl__buf nb;
			assert_int_equal(sl__read_file(note, 0, &nb), 0);
			assert_string_equal(nb.data, "20 of 2001 rows bad, skipped");
			sl__buf_free(&nb);
			free(note);
		}
		step_run_free(&r);
		sl__buf_free(&b);
	}
	tu_rmdir(dir);
}

/* spambase: CSV -> dataset -> CSV gives the same values, and two ingests
 * give the same bytes. */
static void test_round_trip_spambase(void **state)
{
	const char *dir = tu_tmpdir();
	char *src = tu_path(SLUICE_SOURCE_DIR, "examples/spam/data/spambase.csv");
	char *out = tu_path(dir, "back.csv"), *with;
	step_run r1, r2;
	sl__buf a, b, c;

	(void)state;
	with = sl__asprintf("{\"path\": \"%s\"}", src);
	assert_int_equal(run_step(&r1, "ingest.csv", dir, with), 0);
	assert_true(metric(&r1, "rows") == 4601);
	assert_true(metric(&r1, "columns") == 58);
	assert_int_equal(ds_export(r1.data, "csv", out), 0);
	/* The original quotes every string; the export quotes only what needs
	 * it. Without the quote characters the texts are identical: every
	 * number prints as it was written. */
	assert_int_equal(sl__read_file(src, 0, &a), 0);
	assert_int_equal(sl__read_file(out, 0, &b), 0);
	size_t n = 0;
	for (size_t i = 0; i < a.len; i++)
		if (a.data[i] != '"')
			a.data[n++] = a.data[i];
	a.len = n;
	a.data[n] = '\0';
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	sl__buf_free(&a);
	sl__buf_free(&b);

	/* Determinism: a second ingest of the same file is byte-identical, and
	 * so is an ingest of the exported CSV. */
	char *d2 = tu_path(dir, "second");
	assert_int_equal(sl__mkdir_p(d2, 0755), 0);
	assert_int_equal(run_step(&r2, "ingest.csv", d2, with), 0);
	assert_int_equal(sl__read_file(r1.data, 0, &a), 0);
	assert_int_equal(sl__read_file(r2.data, 0, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	step_run_free(&r2);
	sl__free(with);
	with = sl__asprintf("{\"path\": \"%s\"}", out);
	assert_int_equal(run_step(&r2, "ingest.csv", d2, with), 0);
	assert_int_equal(sl__read_file(r2.data, 0, &c), 0);
	assert_int_equal(a.len, c.len);
	assert_memory_equal(a.data, c.data, a.len);
	sl__buf_free(&a);
	sl__buf_free(&b);
	sl__buf_free(&c);
	step_run_free(&r1);
	step_run_free(&r2);
	sl__free(with);
	free(d2);
	free(src);
	free(out);
	tu_rmdir(dir);
}

static void test_jsonl(void **state)
{
	const char *dir = tu_tmpdir();
	step_run r;
	ds_table *t;
	sl__buf b;

	(void)state;
	write_in(dir, "a.jsonl",
		 "\xef\xbb\xbf{\"id\": 1, \"x\": 1.5, \"ok\": true, \"when\": \"2024-01-01T00:00:00Z\", \"tags\": [1, 2]}\n"
		 "\n"
		 "{\"id\": 2, \"x\": 2, \"name\": \"b\", \"when\": null, \"tags\": {\"k\": \"v\"}}\r\n"
		 "{\"id\": 3, \"x\": \"NaN\", \"ok\": false, \"mixed\": 1}\n"
		 "{\"id\": 4, \"mixed\": \"one\"}\n");
	assert_int_equal(run_step(&r, "ingest.jsonl", dir, "{\"path\": \"a.jsonl\"}"), 0);
	assert_true(metric(&r, "rows") == 4);
	assert_int_equal(ds_open(r.data, DS_OPEN_VERIFY, &t), 0);
	assert_int_equal(ds_ncol(t), 7);
	size_t j;
	assert_int_equal(ds_col_find(t, "x", &j), 0);
	assert_int_equal(ds_col_type(t, j), DS_FLOAT64);
	assert_true(isnan(ds_col_f64(t, j)[2]));
	assert_false(ds_valid(ds_col_validity(t, j), 3));
	assert_int_equal(ds_col_find(t, "when", &j), 0);
	assert_int_equal(ds_col_type(t, j), DS_TIMESTAMP);
	assert_int_equal(ds_col_find(t, "tags", &j), 0);
	assert_string_equal(ds_col_str(t, j, 0, NULL), "[1,2]");
	assert_string_equal(ds_col_str(t, j, 1, NULL), "{\"k\":\"v\"}");
	assert_int_equal(ds_col_find(t, "mixed", &j), 0);
	assert_int_equal(ds_col_type(t, j), DS_STRING);
	assert_string_equal(ds_col_str(t, j, 2, NULL), "1");
	assert_int_equal(ds_col_find(t, "ok", &j), 0);
	assert_int_equal(ds_col_type(t, j), DS_BOOL);
	ds_close(t);
	step_run_free(&r);

	/* JSONL export reads back to the same dataset. */
	write_in(dir, "b.jsonl", "{\"i\": 1, \"f\": 1.0, \"s\": \"x\\ny\", \"t\": \"2024-01-01T00:00:00.5Z\"}\n"
				 "{\"i\": null, \"f\": \"-Inf\", \"s\": null, \"t\": null}\n");
	assert_int_equal(run_step(&r, "ingest.jsonl", dir, "{\"path\": \"b.jsonl\"}"), 0);
	char *exp = tu_path(dir, "c.jsonl");
	assert_int_equal(ds_export(r.data, "jsonl", exp), 0);
	assert_int_equal(sl__read_file(exp, 0, &b), 0);
	assert_string_equal(b.data, "{\"i\":1,\"f\":1.0,\"s\":\"x\\ny\",\"t\":\"2024-01-01T00:00:00.5Z\"}\n"
				    "{\"i\":null,\"f\":\"-Inf\",\"s\":null,\"t\":null}\n");
	sl__buf_free(&b);
	free(exp);
	step_run_free(&r);

	/* Bad lines: fail names file:line:col, skip counts, quarantine keeps. */
	write_in(dir, "bad.jsonl", "{\"n\": 1}\n{\"n\": 2,}\n[1]\n{\"n\": \"x\"}\n{\"n\": 5}\n");
	assert_int_equal(run_step(&r, "ingest.jsonl", dir, "{\"path\": \"bad.jsonl\"}"), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "bad.jsonl:2:"));
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.jsonl", dir,
				  "{\"path\": \"bad.jsonl\", \"on_error\": \"skip\", \"types\": {\"n\": \"int\"}}"),
			 SL_ESTEP);
	assert_non_null(strstr(sl_errmsg(), "3 of 5 rows (60%) are bad"));
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.jsonl", dir,
				  "{\"path\": \"bad.jsonl\", \"on_error\": \"skip\", \"types\": {\"n\": \"int\"},"
				  " \"max_bad_rows\": 3}"), 0);
	assert_true(metric(&r, "rows_skipped") == 3);
	assert_true(metric(&r, "rows") == 2);
	step_run_free(&r);
	assert_int_equal(run_step(&r, "ingest.jsonl", dir,
				  "{\"path\": \"bad.jsonl\", \"on_error\": \"quarantine\", \"types\": {\"n\": \"int\"},"
				  " \"max_bad_rows\": \"60%\"}"), 0);
	assert_int_equal(sl__read_file(r.rejects, 0, &b), 0);
	assert_non_null(strstr(b.data, ",3,1,\"not a JSON object\",\"[1]\"\n"));
	assert_non_null(strstr(b.data, ",4,1,\"column 'n': \"\"x\"\" is not a valid int64"));
	sl__buf_free(&b);
	step_run_free(&r);
	write_in(dir, "u.jsonl", "{\"s\": \"ok\"}\n{\"s\": \"b\xff\"}\n");
	assert_int_equal(run_step(&r, "ingest.jsonl", dir, "{\"path\": \"u.jsonl\"}"), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "u.jsonl:2:"));
	step_run_free(&r);
	write_in(dir, "e.jsonl", "");
	assert_int_equal(run_step(&r, "ingest.jsonl", dir, "{\"path\": \"e.jsonl\"}"), SL_EPARSE);
	step_run_free(&r);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4180),
		cmocka_unit_test(test_inference),
		cmocka_unit_test(test_leading_zeros),
		cmocka_unit_test(test_overrides_and_nulls),
		cmocka_unit_test(test_bad_input_fails),
		cmocka_unit_test(test_skip_and_quarantine),
		cmocka_unit_test(test_quote_literal),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_big_field),
		cmocka_unit_test(test_chunking_invariance),
		cmocka_unit_test(test_raw_strings),
		cmocka_unit_test(test_step_glob_and_outputs),
		cmocka_unit_test(test_step_on_error),
		cmocka_unit_test(test_step_max_bad_rows),
		cmocka_unit_test(test_round_trip_spambase),
		cmocka_unit_test(test_jsonl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
