/*
 * Bundles: a model and the transform its inputs came from, in one file.
 * Scoring a raw row through the bundle gives the same numbers as the table
 * path (transform the table, code it, predict); a filtered row is reported
 * as rejected; a model whose inputs the transform does not make is refused
 * when the bundle is written; a transform that needs history is refused for
 * row scoring; damage is caught as in any model file. Rows coded by the
 * passes planned at open and predicted by the dense linear path give the
 * bytes of the general paths, cell by cell and feature by feature, and of
 * the whole table, with a transform (impute, normalise, one-hot) and
 * without, int, bool and category inputs, missing values and edge values.
 */
#include <math.h>
#include <stdio.h>
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

/* ---- the planned passes against the general path ------------------------------- */

enum { WN = 48, WF = 9 };

/*
 * Nine float columns f0..f8, the targets y and yb between them (so that a
 * transform's outputs are not the model's inputs in order), an int column
 * n, a bool flag and a category c. With holes (the rows to score; the
 * models learn from the table without): f0, n, flag and c with nulls, f3
 * with NaN values that are not null.
 */
static ds_table *wide_table(bool holes)
{
	static const char *const cats[] = {"a", "b", "c"};
	ds_builder *b;
	ds_table *t;
	size_t col[WF];
	char name[8];

	assert_int_equal(ds_builder_new(&b), 0);
	for (size_t j = 0; j < WF; j++) {
		if (j == 5) {
			ds_builder_add_col(b, "y", DS_FLOAT64, NULL);
			ds_builder_add_col(b, "yb", DS_INT64, NULL);
			ds_builder_add_col(b, "n", DS_INT64, NULL);
			ds_builder_add_col(b, "flag", DS_BOOL, NULL);
			ds_builder_add_col(b, "c", DS_STRING, NULL);
		}
		snprintf(name, sizeof name, "f%zu", j);
		ds_builder_add_col(b, name, DS_FLOAT64, &col[j]);
	}
	for (size_t i = 0; i < WN; i++) {
		double y = 0;
		for (size_t j = 0; j < WF; j++) {
			double v = sin((double)(i * (j + 3)) * 0.37) * (double)(j + 1);
			if (holes && j == 0 && i % 5 == 2)
				ds_append_null(b, col[j]);
			else
				ds_append_f64(b, col[j], holes && j == 3 && i % 7 == 3 ? NAN : v);
			y += (j % 2 ? -0.5 : 1.0) * (isnan(v) ? 0 : v);
		}
		y += (double)(i % 3) + 0.1 * cos((double)i);
		ds_append_f64(b, 5, y);
		ds_append_i64(b, 6, y > 1);
		if (holes && i % 6 == 1)
			ds_append_null(b, 7);
		else
			ds_append_i64(b, 7, (int64_t)(i * 37 % 11) - 5);
		if (holes && i % 9 == 4)
			ds_append_null(b, 8);
		else
			ds_append_bool(b, 8, i % 4 == 1);
		if (holes && i % 8 == 6)
			ds_append_null(b, 9);
		else
			ds_append_str(b, 9, cats[i * 7 % 3], 1);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

/* Row i of raw as the bundle's typed inputs (by name). */
static void wide_row(const bundle *b, const ds_table *raw, size_t i, expr_value *in)
{
	for (size_t k = 0; k < bundle_n_inputs(b); k++) {
		size_t j;
		const uint8_t *valid;
		memset(&in[k], 0, sizeof in[k]);
		assert_int_equal(ds_col_find(raw, bundle_input_name(b, k), &j), 0);
		valid = ds_col_validity(raw, j);
		in[k].null = !ds_valid(valid, i);
		switch (bundle_input_type(b, k)) {
		case DS_FLOAT64:
			in[k].f = ds_col_f64(raw, j)[i];
			break;
		case DS_INT64:
			in[k].i = ds_col_i64(raw, j)[i];
			break;
		case DS_BOOL:
			in[k].i = ds_col_bool(raw, j)[i];
			break;
		case DS_STRING:
			if (!in[k].null)
				in[k].s = ds_col_str(raw, j, i, &in[k].len);
			break;
		default:
			fail_msg("input %zu of an unexpected type", k);
		}
	}
}

/* Rows the table does not have: every value missing, and values at the
 * edges (-0, infinities, NaN that is not missing, an unseen category, an
 * integer past 2^53). */
static void edge_row(const bundle *b, int kind, expr_value *in)
{
	for (size_t k = 0; k < bundle_n_inputs(b); k++) {
		memset(&in[k], 0, sizeof in[k]);
		in[k].null = kind == 0;
		switch (bundle_input_type(b, k)) {
		case DS_FLOAT64:
			in[k].f = kind == 1 ? (k % 3 == 0 ? -0.0 : k % 3 == 1 ? INFINITY : -INFINITY)
					    : NAN;
			break;
		case DS_STRING:
			in[k].s = kind == 1 ? "zzz" : "b";
			in[k].len = strlen(in[k].s);
			break;
		default:
			in[k].i = kind == 1 ? 9007199254740993LL : 1;
			break;
		}
	}
}

/*
 * Every row of raw and the edge rows, coded by bundle_code_values's passes
 * and cell by cell, predicted by glm_predict and by its general path: the
 * same bytes. The rows of raw also give the bytes of the table path
 * (transform the table, ml_frame_apply, predict), the house's rule.
 */
static void check_paths(const bundle *b, const ds_table *raw)
{
	const ml_model *m = bundle_model(b);
	size_t p = m->sig.n_features, k = m->sig.n_outputs;
	double *X, *want, *x = malloc(p * sizeof *x), *xg = malloc(p * sizeof *xg);
	double out[4], outg[4];
	expr_value *in = calloc(bundle_n_inputs(b), sizeof *in);
	const ds_table *t = raw;
	ds_table *tt = NULL;
	bundle_row *r;

	assert_true(k <= 4);
	if (bundle_transform(b)) {
		assert_int_equal(transform_apply_table(bundle_transform(b), raw, &tt), 0);
		t = tt;
	}
	assert_int_equal(ml_frame_apply(&m->sig, t, &X, NULL), 0);
	want = malloc(WN * k * sizeof *want);
	assert_int_equal(ml_model_predict(m, X, WN, want), 0);
	assert_int_equal(bundle_row_new(b, &r), 0);
	for (size_t i = 0; i < WN + 3; i++) {
		if (i < WN)
			wide_row(b, raw, i, in);
		else
			edge_row(b, (int)(i - WN), in);
		memset(x, 0xa5, p * sizeof *x);
		memset(xg, 0x5a, p * sizeof *xg);
		assert_int_equal(bundle_code_values(b, r, in, x), 0);
		assert_int_equal(bundle_code_values_general(b, r, in, xg), 0);
		if (memcmp(x, xg, p * sizeof *x))
			fail_msg("row %zu: the passes code it unlike the general path", i);
		assert_int_equal(ml_model_predict(m, x, 1, out), 0);
		assert_int_equal(glm_predict_general(m, xg, 1, outg), 0);
		if (memcmp(out, outg, k * sizeof *out))
			fail_msg("row %zu: predicted %.17g, by the general path %.17g", i, out[0],
				 outg[0]);
		if (i < WN && (memcmp(x, X + i * p, p * sizeof *x) ||
			       memcmp(out, want + i * k, k * sizeof *out)))
			fail_msg("row %zu: row by row unlike the whole table", i);
	}
	bundle_row_free(r);
	free(X);
	free(want);
	free(x);
	free(xg);
	free(in);
	ds_close(tt);
}

static void test_fast_paths(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *train = wide_table(false), *raw = wide_table(true), *t;
	char *tf_path = tu_path(dir, "tf.json"), *mp = tu_path(dir, "m.slm");
	char *out = tu_path(dir, "b.slb");
	json_t *ops = json_loads("[{\"op\": \"impute\", \"columns\": [\"f0\"], \"strategy\": "
				 "\"mean\"}, {\"op\": \"normalise\", \"columns\": [\"f1\", \"f2\"]},"
				 " {\"op\": \"encode\", \"columns\": [\"c\"], \"method\": "
				 "\"onehot\"}]",
				 0, NULL);
	static const char *const not_yb[] = {"yb"}, *const not_y[] = {"y", "c"};
	static const char *const mixed[] = {"f0", "c", "n", "f5", "flag"};
	/* Ridge: the one-hot columns sum to the intercept's. */
	linear_opts lo = {.method = LINEAR_RIDGE, .alpha = 0.1, .fit_intercept = true,
			  .standardize = true, .max_iter = 1000, .tol = 1e-4};
	logistic_opts go = {.penalty = LOGISTIC_L2, .C = 1, .fit_intercept = true,
			    .max_iter = 500, .tol = 1e-8};
	transform *tr;
	ml_frame fr;
	ml_model *m;
	bundle *b;

	(void)state;
	assert_non_null(ops);
	/* A: impute, normalise and one-hot encoding before a linear model;
	 * the int and bool columns go through the transform as they are. */
	assert_int_equal(transform_fit(ops, "with.ops", train, &tr, &t), 0);
	assert_int_equal(transform_save(tr, tf_path), 0);
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .exclude = not_yb,
							      .n_exclude = 1},
					&fr),
			 0);
	assert_int_equal(linear_fit(&fr, &lo, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, mp), 0);
	assert_true(glm_is_dense(m));
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	transform_free(tr);
	assert_int_equal(bundle_write(mp, tf_path, NULL, out), 0);
	assert_int_equal(bundle_open(out, BUNDLE_ROWS, &b), 0);
	check_paths(b, raw);
	bundle_close(b);
	/* B: no transform, numbers only (int and bool among them), a
	 * logistic model: the served spam model's shape. */
	assert_int_equal(ml_frame_build(train, &(ml_frame_opts){.target = "yb", .exclude = not_y,
								  .n_exclude = 2},
					&fr),
			 0);
	assert_int_equal(logistic_fit(&fr, &go, &m), 0);
	assert_true(glm_is_dense(m));
	assert_int_equal(ml_model_save(m, NULL, mp), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	assert_int_equal(bundle_open(mp, BUNDLE_ROWS, &b), 0);
	assert_int_equal(bundle_n_inputs(b), WF + 2);
	check_paths(b, raw);
	bundle_close(b);
	/* C: a category among the model's inputs: coded after the pass by
	 * its dictionary, and a model the general path predicts. */
	assert_int_equal(ml_frame_build(train, &(ml_frame_opts){.target = "y", .features = mixed,
								  .n_features = 5,
								  .allow_strings = true},
					&fr),
			 0);
	assert_int_equal(linear_fit(&fr, &lo, &m), 0);
	assert_false(glm_is_dense(m));
	assert_int_equal(ml_model_save(m, NULL, mp), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	assert_int_equal(bundle_open(mp, BUNDLE_ROWS, &b), 0);
	check_paths(b, raw);
	bundle_close(b);
	json_decref(ops);
	ds_close(raw);
	ds_close(train);
	free(tf_path);
	free(mp);
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
		cmocka_unit_test(test_fast_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
