/*
 * The expression language: parsing, types, null logic, functions, error
 * messages with positions, limits, and the equivalence of table (vectorised)
 * and single-row evaluation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/dataset.h"
#include "dataset/expr.h"
#include "testutil.h"

/* The schema of the single-row tests and one row of values. */
static const char *const names[] = {"a", "b", "x", "s", "flag", "ts", "n", "unit price"};
static const ds_type types[] = {DS_INT64, DS_INT64, DS_FLOAT64, DS_STRING,
				DS_BOOL, DS_TIMESTAMP, DS_INT64, DS_FLOAT64};
#define NCOL 8

static expr_value row[NCOL];

static void set_row(void)
{
	memset(row, 0, sizeof row);
	row[0].i = 7;
	row[1].i = -2;
	row[2].f = 2.5;
	row[3].s = "Hello World";
	row[3].len = 11;
	row[4].i = 1;
	assert_true(ds_parse_timestamp("2024-05-01T12:00:00Z", 20, &row[5].i));
	row[6].null = true; /* n is null */
	row[7].f = 3.0;
}

/* Evaluates text on the row; asserts that it compiles. */
static expr_value ev(const char *text, ds_type *out_type)
{
	expr *e = NULL;
	expr_ws *ws = NULL;
	expr_value v;
	int rc = expr_compile(text, "t", names, types, NCOL, &e);

	if (rc)
		fail_msg("compile '%s': %s", text, sl_errmsg());
	assert_int_equal(expr_ws_new(e, &ws), 0);
	assert_int_equal(expr_eval_row(e, ws, row, &v), 0);
	if (out_type)
		*out_type = expr_type(e);
	/* String results may point into ws: copy them to a static buffer first. */
	if (!v.null && expr_type(e) == DS_STRING) {
		static char keep[256];
		assert_true(v.len < sizeof keep);
		memcpy(keep, v.s, v.len);
		keep[v.len] = '\0';
		v.s = keep;
	}
	expr_ws_free(ws);
	expr_free(e);
	return v;
}

static void assert_int_result(const char *text, int64_t want)
{
	ds_type t;
	expr_value v = ev(text, &t);

	if (v.null || (t != DS_INT64 && t != DS_BOOL))
		fail_msg("'%s': expected int %lld, got null=%d type=%d", text, (long long)want, v.null, t);
	if (v.i != want)
		fail_msg("'%s': expected %lld, got %lld", text, (long long)want, (long long)v.i);
}

static void assert_f64_result(const char *text, double want)
{
	ds_type t;
	expr_value v = ev(text, &t);

	if (v.null || t != DS_FLOAT64)
		fail_msg("'%s': expected float %g, got null=%d type=%d", text, want, v.null, t);
	if (fabs(v.f - want) > 1e-12 * (1 + fabs(want)))
		fail_msg("'%s': expected %.17g, got %.17g", text, want, v.f);
}

static void assert_null_result(const char *text)
{
	expr_value v = ev(text, NULL);

	if (!v.null)
		fail_msg("'%s': expected null", text);
}

static void assert_str_result(const char *text, const char *want)
{
	ds_type t;
	expr_value v = ev(text, &t);

	assert_int_equal(t, DS_STRING);
	assert_false(v.null);
	if (v.len != strlen(want) || memcmp(v.s, want, v.len))
		fail_msg("'%s': expected '%s', got '%.*s'", text, want, (int)v.len, v.s);
}

static void assert_error(const char *text, int code, const char *msg)
{
	expr *e = NULL;
	int rc = expr_compile(text, "with.ops[2].expr", names, types, NCOL, &e);

	if (rc != code)
		fail_msg("'%s': expected %s, got %s (%s)", text, sl_err_name(code), sl_err_name(rc),
			 sl_errmsg());
	assert_null(e);
	if (msg && strcmp(sl_errmsg(), msg))
		fail_msg("'%s': expected message\n  %s\ngot\n  %s", text, msg, sl_errmsg());
}

static void test_arithmetic(void **state)
{
	(void)state;
	set_row();
	assert_int_result("a + b * 3", 1);
	assert_int_result("(a + b) * 3", 15);
	assert_int_result("a % 3", 1);
	assert_int_result("-a", -7);
	assert_int_result("- -a", 7);
	assert_f64_result("a / 2", 3.5);
	assert_f64_result("a + x", 9.5);
	assert_f64_result("x * 2 - 1", 4.0);
	assert_f64_result("`unit price` * a", 21.0);
	assert_f64_result("1e3 + .5", 1000.5);
	assert_int_result("-9223372036854775807 - 1 < 0", 1);
	/* Run-time faults are nulls. */
	assert_null_result("a / 0");
	assert_null_result("a % 0");
	assert_null_result("9223372036854775807 + a");
	assert_null_result("x / 0.0");
	assert_null_result("n + 1");
	assert_null_result("null * 2");
}

static void test_logic_and_nulls(void **state)
{
	(void)state;
	set_row();
	assert_int_result("a > 5 and flag", 1);
	assert_int_result("a > 5 and not flag", 0);
	assert_int_result("a > 5 or n > 0", 1);     /* true or null = true */
	assert_null_result("a < 5 or n > 0");        /* false or null = null */
	assert_int_result("a < 5 and n > 0", 0);    /* false and null = false */
	assert_null_result("a > 5 and n > 0");       /* true and null = null */
	assert_null_result("not (n > 0)");
	assert_int_result("n is null", 1);
	assert_int_result("n is not null", 0);
	assert_int_result("a is not null", 1);
	assert_int_result("(n > 0) is null", 1);
	assert_null_result("n == null");
	assert_int_result("a > 5 AND TRUE", 1);
}

static void test_comparisons_and_in(void **state)
{
	(void)state;
	set_row();
	assert_int_result("a == 7", 1);
	assert_int_result("a != 7", 0);
	assert_int_result("a >= 7.0", 1);
	assert_int_result("x < 3", 1);
	assert_int_result("s == 'Hello World'", 1);
	assert_int_result("s < \"Z\"", 1);
	assert_int_result("flag == true", 1);
	assert_int_result("a in [1, 7, 9]", 1);
	assert_int_result("a not in [1, 7, 9]", 0);
	assert_int_result("a in [1, 2.5]", 0);
	assert_int_result("b in [-2]", 1);
	assert_null_result("a in [1, null]");       /* SQL: no match with a null in the list */
	assert_int_result("a in [7, null]", 1);
	assert_null_result("n in [1, 2]");
	assert_int_result("s in ['x', 'Hello World']", 1);
	assert_int_result("a in []", 0);
	/* Timestamps compare with ISO 8601 literals. */
	assert_int_result("ts > '2024-01-01'", 1);
	assert_int_result("ts == '2024-05-01T12:00:00Z'", 1);
	assert_int_result("ts in ['2024-05-01 12:00:00']", 1);
}

static void test_functions(void **state)
{
	(void)state;
	set_row();
	assert_int_result("abs(b)", 2);
	assert_f64_result("abs(-x)", 2.5);
	assert_f64_result("log(exp(x))", 2.5);
	assert_f64_result("sqrt(16)", 4.0);
	assert_null_result("sqrt(-1)");
	assert_null_result("log(0)");
	assert_int_result("min(a, b, 3)", -2);
	assert_f64_result("max(a, x)", 7.0);
	assert_int_result("min(n, a)", 7); /* nulls are skipped */
	assert_null_result("max(n, null)");
	assert_f64_result("round(x)", 3.0);
	assert_f64_result("round(2.345, 2)", 2.35);
	assert_int_result("round(1234, -2)", 1200);
	assert_f64_result("floor(-x)", -3.0);
	assert_f64_result("ceil(x)", 3.0);
	assert_int_result("len(s)", 11);
	assert_int_result("len('h\xc3\xa9')", 2); /* code points, not bytes */
	assert_str_result("lower(s)", "hello world");
	assert_str_result("upper(s)", "HELLO WORLD");
	assert_int_result("contains(lower(s), 'world')", 1);
	assert_int_result("startswith(s, 'Hell')", 1);
	assert_int_result("endswith(s, 'x')", 0);
	assert_int_result("coalesce(n, b, a)", -2);
	assert_f64_result("coalesce(n, x)", 2.5);
	assert_int_result("if(a > 5, 1, 2)", 1);
	assert_int_result("if(n > 5, 1, 2)", 2); /* a null condition takes the else branch */
	assert_f64_result("if(flag, 1, 2.5)", 1.0);
	assert_str_result("if(not flag, 'it', s)", "Hello World");
	assert_str_result("'a\\'b'", "a'b");
	assert_str_result("\"q\\\"\"", "q\"");
}

static void test_errors_with_positions(void **state)
{
	(void)state;
	assert_error("x > 0.5 and not flga", SL_EINVAL,
		     "with.ops[2].expr:1:17: unknown column 'flga'; did you mean 'flag'?");
	assert_error("unit_price > 1", SL_EINVAL,
		     "with.ops[2].expr:1:1: unknown column 'unit_price'; did you mean 'unit price'?");
	assert_error("lenn(s)", SL_EINVAL,
		     "with.ops[2].expr:1:1: unknown function 'lenn'; did you mean 'len'?");
	assert_error("a +\n  s", SL_EINVAL, "with.ops[2].expr:1:3: cannot add int64 and string");
	assert_error("a > 1 and\n  (b < ", SL_EPARSE,
		     "with.ops[2].expr:2:8: expected a value, a name or '(', found end of expression");
	assert_error("s == 'abc", SL_EPARSE, "with.ops[2].expr:1:6: unterminated string");
	assert_error("a = 1", SL_EPARSE, "with.ops[2].expr:1:3: use '==' to compare");
	assert_error("1 < a < 3", SL_EPARSE,
		     "with.ops[2].expr:1:7: comparisons cannot be chained; use 'and'");
	assert_error("not a", SL_EINVAL, "with.ops[2].expr:1:1: 'not' needs a bool, not int64");
	assert_error("flag and a", SL_EINVAL, "with.ops[2].expr:1:10: 'and' needs bools, not int64");
	assert_error("if(a, 1, 2)", SL_EINVAL,
		     "with.ops[2].expr:1:4: if() condition must be bool, not int64");
	assert_error("coalesce(a, s)", SL_EINVAL,
		     "with.ops[2].expr:1:13: coalesce() arguments must have one type: int64 and string");
	assert_error("abs(1, 2)", SL_EINVAL, "with.ops[2].expr:1:1: abs() takes 1 argument, not 2");
	assert_error("ts > 'yesterday'", SL_EINVAL,
		     "with.ops[2].expr:1:6: 'yesterday' is not an ISO 8601 timestamp");
	assert_error("(a + 1", SL_EPARSE, "with.ops[2].expr:1:7: expected ')', found end of expression");
	assert_error("a + 1)", SL_EPARSE, "with.ops[2].expr:1:6: unbalanced ')'");
	assert_error("", SL_EPARSE, "with.ops[2].expr:1:1: empty expression");
	assert_error("a $ b", SL_EPARSE, "with.ops[2].expr:1:3: unexpected character '$'");
	assert_error("99999999999999999999", SL_EPARSE,
		     "with.ops[2].expr:1:1: integer literal out of range");
	assert_error("flag < true", SL_EINVAL,
		     "with.ops[2].expr:1:6: bools can only be compared with == and !=");
	assert_error("``", SL_EPARSE, "with.ops[2].expr:1:1: empty quoted name");
	assert_error("a in [b]", SL_EPARSE, NULL);
	assert_error("s == 'ab\\", SL_EPARSE, "with.ops[2].expr:1:6: unterminated string");
}

static void test_limits(void **state)
{
	char *deep = malloc(4 * EXPR_MAX_DEPTH + 16), *longx;
	size_t k = 0;

	(void)state;
	for (int i = 0; i < EXPR_MAX_DEPTH + 5; i++)
		deep[k++] = '(';
	deep[k++] = 'a';
	for (int i = 0; i < EXPR_MAX_DEPTH + 5; i++)
		deep[k++] = ')';
	deep[k] = '\0';
	assert_error(deep, SL_ELIMIT, NULL);
	memset(deep, '-', 2 * EXPR_MAX_DEPTH);
	strcpy(deep + 2 * EXPR_MAX_DEPTH, "a");
	assert_error(deep, SL_ELIMIT, NULL);
	free(deep);

	longx = malloc(EXPR_MAX_LEN + 2);
	memset(longx, ' ', EXPR_MAX_LEN + 1);
	longx[0] = 'a';
	longx[EXPR_MAX_LEN + 1] = '\0';
	assert_error(longx, SL_ELIMIT, NULL);
	/* A long flat sum is fine: it needs no recursion and a stack of two. */
	k = 0;
	for (int i = 0; i < 5000; i++) {
		memcpy(longx + k, "a + ", 4);
		k += 4;
	}
	strcpy(longx + k, "1");
	{
		expr *e;
		assert_int_equal(expr_compile(longx, NULL, names, types, NCOL, &e), 0);
		expr_free(e);
	}
	free(longx);
}

/* A table of 3000 rows (several chunks) with nulls in every column. */
static ds_table *make_table(void)
{
	ds_builder *b;
	ds_table *t;
	static const char *words[] = {"spam", "Ham", "eggs", "", "SPAM and eggs"};

	assert_int_equal(ds_builder_new(&b), 0);
	for (int j = 0; j < 5; j++)
		assert_int_equal(ds_builder_add_col(b, names[j], types[j], NULL), 0);
	for (int i = 0; i < 3000; i++) {
		if (i % 11 == 0)
			assert_int_equal(ds_append_null(b, 0), 0);
		else
			assert_int_equal(ds_append_i64(b, 0, (i * 37) % 101 - 50), 0);
		assert_int_equal(ds_append_i64(b, 1, i % 7 - 3), 0);
		if (i % 13 == 0)
			assert_int_equal(ds_append_null(b, 2), 0);
		else
			assert_int_equal(ds_append_f64(b, 2, (double)((i * 53) % 97) / 7.0 - 5), 0);
		if (i % 17 == 0)
			assert_int_equal(ds_append_null(b, 3), 0);
		else
			assert_int_equal(ds_append_str(b, 3, words[i % 5], strlen(words[i % 5])), 0);
		if (i % 19 == 0)
			assert_int_equal(ds_append_null(b, 4), 0);
		else
			assert_int_equal(ds_append_bool(b, 4, i % 3 == 0), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static void table_row(const ds_table *t, size_t i, expr_value *r)
{
	memset(r, 0, NCOL * sizeof *r);
	for (size_t j = 0; j < 5; j++) {
		const uint8_t *v = ds_col_validity(t, j);
		r[j].null = !ds_valid(v, i);
		if (r[j].null)
			continue;
		switch (types[j]) {
		case DS_INT64: r[j].i = ds_col_i64(t, j)[i]; break;
		case DS_FLOAT64: r[j].f = ds_col_f64(t, j)[i]; break;
		case DS_BOOL: r[j].i = ds_col_bool(t, j)[i]; break;
		case DS_STRING: r[j].s = ds_col_str(t, j, i, &r[j].len); break;
		default: break;
		}
	}
}

static void test_table_equals_rows(void **state)
{
	static const char *exprs[] = {
		"a * 2 + b",
		"a / b",
		"x * a - 1",
		"coalesce(a, b * 100)",
		"a > 0 and (flag or x < 0)",
		"not flag or a is null",
		"lower(s)",
		"upper(s) == 'SPAM' or contains(s, 'egg')",
		"if(flag, x, a)",
		"len(s) + a % 5",
		"s in ['spam', 'Ham'] and x > -1",
		"min(a, x, b)",
		"round(x, 1)",
		"sqrt(x) + log(a)",
		"null + a",
	};
	ds_table *t = make_table();
	size_t nrow = ds_nrow(t);

	(void)state;
	for (size_t q = 0; q < SL__ARRAY_LEN(exprs); q++) {
		expr *e;
		expr_ws *ws;
		ds_builder *b;
		ds_table *out;
		ds_type ty;
		uint8_t *mask = malloc(nrow);

		assert_int_equal(expr_compile_table(exprs[q], "q", t, &e), 0);
		ty = expr_type(e);
		assert_int_equal(ds_builder_new(&b), 0);
		assert_int_equal(ds_builder_add_col(b, "r", ty == EXPR_TNULL ? DS_FLOAT64 : ty, NULL), 0);
		assert_int_equal(expr_eval_append(e, t, b, 0), 0);
		assert_int_equal(ds_builder_finish(b, &out), 0);
		ds_builder_free(b);
		if (ty == DS_BOOL)
			assert_int_equal(expr_eval_mask(e, t, mask), 0);
		assert_int_equal(expr_ws_new(e, &ws), 0);
		for (size_t i = 0; i < nrow; i++) {
			expr_value r[NCOL], v;
			const uint8_t *valid = ds_col_validity(out, 0);
			table_row(t, i, r);
			assert_int_equal(expr_eval_row(e, ws, r, &v), 0);
			if (v.null != !ds_valid(valid, i))
				fail_msg("%s row %zu: null %d vs table", exprs[q], i, v.null);
			if (ty == DS_BOOL)
				assert_int_equal(mask[i], !v.null && v.i);
			if (v.null)
				continue;
			switch (ty) {
			case DS_INT64: assert_int_equal(v.i, ds_col_i64(out, 0)[i]); break;
			case DS_BOOL: assert_int_equal(v.i, ds_col_bool(out, 0)[i]); break;
			case DS_FLOAT64: {
				double w = ds_col_f64(out, 0)[i];
				assert_memory_equal(&v.f, &w, sizeof w);
				break;
			}
			case DS_STRING: {
				size_t len;
				const char *s = ds_col_str(out, 0, i, &len);
				assert_int_equal(len, v.len);
				assert_memory_equal(s, v.s, len);
				break;
			}
			default: break;
			}
		}
		expr_ws_free(ws);
		expr_free(e);
		ds_close(out);
		free(mask);
	}
	ds_close(t);
}

static void test_schema_mismatch(void **state)
{
	ds_table *t = make_table();
	expr *e;
	uint8_t m[1];

	(void)state;
	/* Compiled against a schema whose column 0 is not the table's. */
	{
		const char *nm[] = {"zz"};
		ds_type ty[] = {DS_INT64};
		assert_int_equal(expr_compile("zz > 0", "q", nm, ty, 1, &e), 0);
	}
	assert_int_equal(expr_eval_mask(e, t, m), SL_EINVAL);
	expr_free(e);
	ds_close(t);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	/* Every allocation failure during compile and evaluation is an error, never a crash. */
	tu_oom o = {0};

	set_row();
	for (long n = 0; n < 200 && !o.done; n++) {
		expr *e = NULL;
		expr_ws *ws = NULL;
		expr_value v;
		int rc;
		tu_oom_begin(&o, n);
		rc = expr_compile("coalesce(n, a) > 1 and lower(s) in ['x', 'hello world']", "q", names,
				  types, NCOL, &e);
		if (rc == 0)
			rc = expr_ws_new(e, &ws);
		if (rc == 0)
			rc = expr_eval_row(e, ws, row, &v);
		tu_oom_end(&o, rc);
		expr_ws_free(ws);
		expr_free(e);
		if (rc == 0) {
			assert_false(v.null);
			assert_int_equal(v.i, 1);
		} else {
			assert_int_equal(rc, SL_ENOMEM);
		}
	}
	tu_oom_check(&o, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arithmetic),
		cmocka_unit_test(test_logic_and_nulls),
		cmocka_unit_test(test_comparisons_and_in),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_errors_with_positions),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_table_equals_rows),
		cmocka_unit_test(test_schema_mismatch),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
