/*
 * libFuzzer target for the expression language. The input is an expression
 * text, compiled against a fixed schema of every column type. Whatever
 * compiles is evaluated over a small table (with nulls, NaN, extreme
 * integers and empty strings) both vectorised and row by row, and the two
 * results must agree bit for bit: a difference aborts, so the fuzzer checks
 * the evaluator's equivalence as well as its memory safety.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/dataset.h"
#include "dataset/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"i", "f", "b", "s", "t", "j", "long name"};
static const ds_type types[] = {DS_INT64, DS_FLOAT64, DS_BOOL, DS_STRING,
				DS_TIMESTAMP, DS_INT64, DS_STRING};
#define NCOL 7
#define NROW 6

static ds_table *table;
static expr_value rows[NROW][NCOL];

static void build_table(void)
{
	static const int64_t iv[NROW] = {0, 1, -7, INT64_MAX, INT64_MIN, 42};
	static const double fv[NROW] = {0.0, -1.5, 1e308, 0.5, 3.0, 2.0};
	static const char *sv[NROW] = {"", "Spam", "ham and eggs", "\xc3\xa9t\xc3\xa9", "x", "SPAM"};
	ds_builder *b;

	if (ds_builder_new(&b))
		abort();
	for (size_t j = 0; j < NCOL; j++)
		if (ds_builder_add_col(b, names[j], types[j], NULL))
			abort();
	for (size_t r = 0; r < NROW; r++) {
		bool null = (r + 1) % 4 == 0;
		for (size_t j = 0; j < NCOL; j++) {
			expr_value *v = &rows[r][j];
			int rc;
			memset(v, 0, sizeof *v);
			v->null = null && j != 5;
			if (v->null) {
				rc = ds_append_null(b, j);
			} else if (types[j] == DS_FLOAT64) {
				v->f = r == 5 ? NAN : fv[r];
				rc = ds_append_f64(b, j, v->f);
			} else if (types[j] == DS_STRING) {
				v->s = sv[(r + j) % NROW];
				v->len = strlen(v->s);
				rc = ds_append_str(b, j, v->s, v->len);
			} else if (types[j] == DS_BOOL) {
				v->i = r & 1;
				rc = ds_append_bool(b, j, v->i);
			} else {
				v->i = types[j] == DS_TIMESTAMP ? iv[r] / 1000 : iv[(r + j) % NROW];
				rc = ds_append_i64(b, j, v->i);
			}
			if (rc)
				abort();
		}
	}
	if (ds_builder_finish(b, &table))
		abort();
	ds_builder_free(b);
}

static void check(const expr *e)
{
	ds_type t = expr_type(e);
	ds_builder *b;
	ds_table *out;
	expr_ws *ws;
	uint8_t mask[NROW];

	if (ds_builder_new(&b) || ds_builder_add_col(b, "r", t == EXPR_TNULL ? DS_INT64 : t, NULL))
		abort();
	if (expr_eval_append(e, table, b, 0) || ds_builder_finish(b, &out))
		abort();
	ds_builder_free(b);
	if (t == DS_BOOL && expr_eval_mask(e, table, mask))
		abort();
	if (expr_ws_new(e, &ws))
		abort();
	for (size_t r = 0; r < NROW; r++) {
		expr_value v;
		if (expr_eval_row(e, ws, rows[r], &v))
			abort();
		if (v.null != !ds_valid(ds_col_validity(out, 0), r))
			abort();
		if (t == DS_BOOL && mask[r] != (!v.null && v.i))
			abort();
		if (v.null)
			continue;
		switch (t) {
		case DS_FLOAT64:
			if (memcmp(&v.f, &ds_col_f64(out, 0)[r], sizeof v.f) && !(isnan(v.f) && isnan(ds_col_f64(out, 0)[r])))
				abort();
			break;
		case DS_STRING: {
			size_t len;
			const char *s = ds_col_str(out, 0, r, &len);
			if (!s || len != v.len || (len && memcmp(s, v.s, len)))
				abort();
			break;
		}
		case DS_BOOL:
			if (v.i != ds_col_bool(out, 0)[r])
				abort();
			break;
		default:
			if (v.i != ds_col_i64(out, 0)[r])
				abort();
			break;
		}
	}
	expr_ws_free(ws);
	ds_close(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	expr *e = NULL;

	if (!table)
		build_table();
	if (size > EXPR_MAX_LEN + 16)
		return 0;
	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (expr_compile(text, "fuzz", names, types, NCOL, &e) == 0) {
		check(e);
		expr_free(e);
	}
	free(text);
	return 0;
}
