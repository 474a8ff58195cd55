/*
 * Bundles: a model and the transform its inputs came from, in one file.
 * Scoring a raw row through the bundle gives the same numbers as the table
 * path (transform the table, code it, predict); a filtered row is reported
 * as rejected; a model whose inputs the transform does not make is refused
 * when the bundle is written; a transform that needs history is refused for
 * row scoring; damage is caught as in any model file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/glm.h"
#include "model/bundle.h"
#include "testutil.h"

/* x with a gap, c a category, y = 2x + (c == "b") + 1 exactly. */
static ds_table *raw_table(void)
{
	static const double x[] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const char *const c[] = {"a", "b", "a", "b", "a", "b", "a", "b"};
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "x", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "c", DS_STRING, NULL);
	ds_builder_add_col(b, "y", DS_FLOAT64, NULL);
	for (size_t i = 0; i < 8; i++) {
		if (i == 3)
			ds_append_null(b, 0);
		else
			ds_append_f64(b, 0, x[i]);
		ds_append_str(b, 1, c[i], 1);
		ds_append_f64(b, 2, 2 * x[i] + (c[i][0] == 'b') + 1);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

/* Fits ops on the raw table, trains OLS on the result; writes both files. */
static void make_parts(const char *dir, const char *ops_text, char **model_path, char **tf_path)
{
	json_t *ops = json_loads(ops_text, 0, NULL);
	ds_table *raw = raw_table(), *t;
	transform *tr;
	ml_frame fr;
	ml_model *m;
	linear_opts o = {.method = LINEAR_OLS, .fit_intercept = true, .standardize = true,
			 .max_iter = 1000, .tol = 1e-4};

	assert_non_null(ops);
	assert_int_equal(transform_fit(ops, "with.ops", raw, &tr, &t), 0);
	*tf_path = tu_path(dir, "tf.json");
	assert_int_equal(transform_save(tr, *tf_path), 0);
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .allow_strings = true},
					&fr),
			 0);
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	*model_path = tu_path(dir, "model.slm");
	assert_int_equal(ml_model_save(m, NULL, *model_path), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	transform_free(tr);
	ds_close(t);
	ds_close(raw);
	json_decref(ops);
}

static void test_rows_equal_table(void **state)
{
	const char *dir = tu_tmpdir();
	char *model_path, *tf_path, *out = tu_path(dir, "b.slb");
	json_t *extra = json_pack("{s:s, s:{s:f}}", "name", "sales", "metrics", "rmse", 0.5);
	bundle *b;
	bundle_row *r;
	ds_table *raw = raw_table(), *t;
	double *X, *want, got[1], x[2];

	(void)state;
	make_parts(dir, "[{\"op\": \"impute\", \"columns\": [\"x\"], \"strategy\": \"mean\"}]",
		   &model_path, &tf_path);
	assert_int_equal(bundle_write(model_path, tf_path, extra, out), 0);
	assert_int_equal(bundle_open(out, BUNDLE_ROWS, &b), 0);
	assert_string_equal(json_string_value(json_object_get(bundle_manifest(b), "kind")),
			    "bundle");
	assert_string_equal(json_string_value(json_object_get(bundle_manifest(b), "name")),
			    "sales");
	assert_int_equal(bundle_n_inputs(b), 3);
	/* The table path. */
	assert_int_equal(transform_apply_table(bundle_transform(b), raw, &t), 0);
	assert_int_equal(ml_frame_apply(&bundle_model(b)->sig, t, &X, NULL), 0);
	want = malloc(8 * sizeof *want);
	assert_int_equal(ml_model_predict(bundle_model(b), X, 8, want), 0);
	/* Row by row from JSON, as a server receives them. */
	assert_int_equal(bundle_row_new(b, &r), 0);
	for (size_t i = 0; i < 8; i++) {
		double xv;
		json_t *row = json_object();
		if (ds_get_f64(raw, 0, i, &xv))
			json_object_set_new(row, "x", json_real(xv));
		json_object_set_new(row, "c", json_string(ds_col_str(raw, 1, i, NULL)));
		assert_int_equal(bundle_score_json(b, r, row, x, got), 0);
		assert_memory_equal(got, want + i, sizeof got);
		assert_memory_equal(x, X + 2 * i, sizeof x);
		json_decref(row);
	}
	/* The gap in row 4 was filled with the mean of x, in both paths. */
	assert_true(fabs(X[2 * 3] - 32.0 / 7) < 1e-12);
	/* A field of the wrong kind names itself. */
	{
		json_t *row = json_pack("{s:s, s:s}", "x", "many", "c", "a");
		assert_int_equal(bundle_score_json(b, r, row, NULL, got), SL_EINVAL);
		assert_non_null(strstr(sl_errmsg(), "x"));
		json_decref(row);
	}
	bundle_row_free(r);
	bundle_close(b);
	free(X);
	free(want);
	ds_close(t);
	ds_close(raw);
	json_decref(extra);
	free(model_path);
	free(tf_path);
	free(out);
	tu_rmdir(dir);
}

static void test_filter_rejects(void **state)
{
	const char *dir = tu_tmpdir();
	char *model_path, *tf_path, *out = tu_path(dir, "b.slb");
	bundle *b;
	bundle_row *r;
	double got[1] = {-1};
	json_t *row;

	(void)state;
	make_parts(dir,
		   "[{\"op\": \"impute\", \"columns\": [\"x\"], \"strategy\": \"mean\"},"
		   " {\"op\": \"filter\", \"expr\": \"x < 100\"}]",
		   &model_path, &tf_path);
	assert_int_equal(bundle_write(model_path, tf_path, NULL, out), 0);
	assert_int_equal(bundle_open(out, BUNDLE_ROWS, &b), 0);
	assert_int_equal(bundle_row_new(b, &r), 0);
	row = json_pack("{s:f, s:s}", "x", 500.0, "c", "a");
	assert_int_equal(bundle_score_json(b, r, row, NULL, got), TRANSFORM_REJECTED);
	assert_true(got[0] == -1);
	json_decref(row);
	bundle_row_free(r);
	bundle_close(b);
	free(model_path);
	free(tf_path);
	free(out);
	tu_rmdir(dir);
}

/* A transform that does not make the model's inputs is refused when the
 * bundle is written; a damaged bundle is refused on open. */
static void test_refusals(void **state)
{
	const char *dir = tu_tmpdir();
	char *model_path, *tf_path, *other_model, *other_tf, *out = tu_path(dir, "b.slb");
	bundle *b;
	FILE *f;

	(void)state;
	make_parts(dir, "[{\"op\": \"impute\", \"columns\": [\"x\"], \"strategy\": \"mean\"}]",
		   &model_path, &tf_path);
	other_model = tu_path(dir, "m2.slm");
	other_tf = tu_path(dir, "t2.json");
	rename(model_path, other_model);
	rename(tf_path, other_tf);
	free(model_path);
	free(tf_path);
	make_parts(dir,
		   "[{\"op\": \"impute\", \"columns\": [\"x\"], \"strategy\": \"mean\"},"
		   " {\"op\": \"rename\", \"columns\": {\"x\": \"x2\"}}]",
		   &model_path, &tf_path);
	/* model trained on x2, transform making x: refused. */
	assert_int_equal(bundle_write(model_path, other_tf, NULL, out), SL_ECORRUPT);
	assert_non_null(strstr(sl_errmsg(), "'x2' is not produced"));
	assert_int_equal(bundle_write(other_model, other_tf, NULL, out), 0);
	f = fopen(out, "r+b");
	fseek(f, 100, SEEK_SET);
	fputc('#', f);
	fclose(f);
	assert_int_equal(bundle_open(out, 0, &b), SL_ECORRUPT);
	assert_non_null(strstr(sl_errmsg(), "damaged"));
	free(model_path);
	free(tf_path);
	free(other_model);
	free(other_tf);
	free(out);
	tu_rmdir(dir);
}

/* The one definition of what a request value means for each input type. */
static void test_coerce(void **state)
{
	expr_value e;
	bundle_scalar v;

	(void)state;
#define NUM(t) (v = (bundle_scalar){.kind = BV_NUMBER, .num = strtod(t, NULL), .s = t, .len = strlen(t)})
#define STR(t) (v = (bundle_scalar){.kind = BV_STRING, .s = t, .len = strlen(t)})
#define TXT(t) (v = (bundle_scalar){.kind = BV_TEXT, .s = t, .len = strlen(t)})
	NUM("2.5");
	assert_int_equal(bundle_coerce(DS_FLOAT64, &v, &e), 0);
	assert_true(e.f == 2.5 && !e.null);
	/* Integers from their text: exact past 2^53. */
	NUM("9007199254740993");
	assert_int_equal(bundle_coerce(DS_INT64, &v, &e), 0);
	assert_true(e.i == 9007199254740993LL);
	NUM("3.0");
	assert_int_equal(bundle_coerce(DS_INT64, &v, &e), 0);
	assert_true(e.i == 3);
	NUM("3.5");
	assert_int_equal(bundle_coerce(DS_INT64, &v, &e), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "integer"));
	STR("3.5");
	assert_int_equal(bundle_coerce(DS_FLOAT64, &v, &e), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "got a string"));
	NUM("1");
	assert_int_equal(bundle_coerce(DS_STRING, &v, &e), SL_EINVAL);
	assert_int_equal(bundle_coerce(DS_BOOL, &v, &e), SL_EINVAL);
	v = (bundle_scalar){.kind = BV_BOOL, .b = true};
	assert_int_equal(bundle_coerce(DS_BOOL, &v, &e), 0);
	assert_true(e.i == 1);
	STR("2024-05-01T12:00:00Z");
	assert_int_equal(bundle_coerce(DS_TIMESTAMP, &v, &e), 0);
	assert_true(e.i == 1714564800000000LL);
	STR("yesterday");
	assert_int_equal(bundle_coerce(DS_TIMESTAMP, &v, &e), SL_EINVAL);
	v = (bundle_scalar){.kind = BV_NULL};
	assert_int_equal(bundle_coerce(DS_INT64, &v, &e), 0);
	assert_true(e.null);
	/* CSV text is parsed as the input's type; empty and NA are missing. */
	TXT("");
	assert_int_equal(bundle_coerce(DS_FLOAT64, &v, &e), 0);
	assert_true(e.null);
	TXT("NA");
	assert_int_equal(bundle_coerce(DS_INT64, &v, &e), 0);
	assert_true(e.null);
	TXT("NA");
	assert_int_equal(bundle_coerce(DS_STRING, &v, &e), 0);
	assert_true(e.null);
	TXT("NAB");
	assert_int_equal(bundle_coerce(DS_STRING, &v, &e), 0);
	assert_true(!e.null && e.len == 3);
	TXT("TRUE");
	assert_int_equal(bundle_coerce(DS_BOOL, &v, &e), 0);
	assert_true(e.i == 1);
	TXT("1e3");
	assert_int_equal(bundle_coerce(DS_FLOAT64, &v, &e), 0);
	assert_true(e.f == 1000);
	TXT("61.0");
	assert_int_equal(bundle_coerce(DS_INT64, &v, &e), 0);
	assert_true(e.i == 61);
	TXT("61.5");
	assert_int_equal(bundle_coerce(DS_INT64, &v, &e), SL_EINVAL);
	TXT("12x");
	assert_int_equal(bundle_coerce(DS_INT64, &v, &e), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "'12x'"));
#undef NUM
#undef STR
#undef TXT
}

/* Coding rows one at a time and predicting them together gives the bytes
 * of scoring each alone; warming predicts once without failing. */
static void test_code_batch(void **state)
{
	const char *dir = tu_tmpdir();
	char *model_path, *tf_path, *out = tu_path(dir, "b.slb");
	bundle *b;
	bundle_row *r;
	ds_table *raw = raw_table();
	double X[8 * 2], batch[8], one[1];
	expr_value in[3];

	(void)state;
	make_parts(dir, "[{\"op\": \"impute\", \"columns\": [\"x\"], \"strategy\": \"mean\"}]",
		   &model_path, &tf_path);
	assert_int_equal(bundle_write(model_path, tf_path, NULL, out), 0);
	assert_int_equal(bundle_open(out, BUNDLE_ROWS, &b), 0);
	assert_int_equal(bundle_warm(b), 0);
	assert_int_equal(bundle_row_new(b, &r), 0);
	for (size_t i = 0; i < 8; i++) {
		memset(in, 0, sizeof in);
		for (size_t k = 0; k < bundle_n_inputs(b); k++) {
			const char *name = bundle_input_name(b, k);
			if (!strcmp(name, "x"))
				in[k].null = !ds_get_f64(raw, 0, i, &in[k].f);
			else if (!strcmp(name, "c"))
				in[k].s = ds_col_str(raw, 1, i, &in[k].len);
			else
				in[k].f = 0; /* y: the target is among the raw inputs */
		}
		assert_int_equal(bundle_code_values(b, r, in, X + 2 * i), 0);
	}
	assert_int_equal(ml_model_predict(bundle_model(b), X, 8, batch), 0);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(ml_model_predict(bundle_model(b), X + 2 * i, 1, one), 0);
		assert_memory_equal(one, batch + i, sizeof one);
	}
	bundle_row_free(r);
	bundle_close(b);
	ds_close(raw);
	free(model_path);
	free(tf_path);
	free(out);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_equal_table),
		cmocka_unit_test(test_filter_rejects),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_coerce),
		cmocka_unit_test(test_code_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
