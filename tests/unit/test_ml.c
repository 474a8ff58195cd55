/*
 * The ML layer's common parts: the sectioned model file (round trip, and
 * the three ways a file is refused), frames (every refusal names the column
 * and the fix; classes come out in a fixed order; new rows are coded as the
 * training rows were), the baseline model through save and load and the
 * public API, and the shared metrics against values worked out by hand.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ml/ml.h"
#include "rng.h"
#include "sluice/model.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

/* A table: x (float64), n (int64, with a null in row 2 when with_null),
 * c (string), k (constant int), y (string label). */
static ds_table *small_table(bool with_null)
{
	static const double x[] = {1, 2, 3, 4, 5, 6};
	static const char *const c[] = {"red", "blue", "red", "green", "blue", "red"};
	static const char *const y[] = {"spam", "ham", "spam", "ham", "ham", "spam"};
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "x", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "n", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "c", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "k", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "y", DS_STRING, NULL), 0);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(ds_append_f64(b, 0, x[i]), 0);
		if (with_null && i == 2)
			assert_int_equal(ds_append_null(b, 1), 0);
		else
			assert_int_equal(ds_append_i64(b, 1, (int64_t)(10 * i)), 0);
		assert_int_equal(ds_append_str(b, 2, c[i], strlen(c[i])), 0);
		assert_int_equal(ds_append_i64(b, 3, 7), 0);
		assert_int_equal(ds_append_str(b, 4, y[i], strlen(y[i])), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static void assert_msg_has(const char *needle)
{
	if (!strstr(sl_errmsg(), needle))
		fail_msg("message '%s' lacks '%s'", sl_errmsg(), needle);
}

/* ---- the model file ------------------------------------------------------- */

static char *write_sample(const char *dir)
{
	char *path = tu_path(dir, "m.slm");
	double v[] = {1.5, -2, 1e300};
	mfile_writer *w;
	json_t *man = json_pack("{s:s, s:i}", "kind", "model", "answer", 42);

	assert_int_equal(mfile_writer_new(&w), 0);
	assert_int_equal(mfile_add(w, "values", v, sizeof v), 0);
	assert_int_equal(mfile_add(w, "empty", NULL, 0), 0);
	assert_int_equal(mfile_add(w, "values", v, sizeof v), SL_EEXIST);
	assert_int_equal(mfile_write(w, man, path), 0);
	mfile_writer_free(w);
	json_decref(man);
	return path;
}

static void test_mfile_round_trip(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = write_sample(dir);
	const double *v;
	const void *p;
	size_t len;
	mfile *f;

	(void)state;
	assert_int_equal(mfile_open(path, &f), 0);
	assert_int_equal(json_integer_value(json_object_get(mfile_manifest(f), "answer")), 42);
	assert_int_equal(mfile_array(f, "values", sizeof(double), 3, &p), 0);
	v = p;
	assert_true(v[0] == 1.5 && v[1] == -2 && v[2] == 1e300);
	assert_int_equal((uintptr_t)p % MFILE_ALIGN, 0);
	assert_int_equal(mfile_section(f, "empty", &p, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(mfile_array(f, "values", sizeof(double), 4, &p), SL_ECORRUPT);
	assert_int_equal(mfile_section(f, "nope", &p, &len), SL_ECORRUPT);
	assert_msg_has("missing section 'nope'");
	mfile_close(f);
	free(path);
	tu_rmdir(dir);
}

/* A flipped byte anywhere, a truncated file and a newer version are each
 * refused with a message that says which. */
static void test_mfile_refusals(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = write_sample(dir);
	size_t len;
	unsigned char *img = tu_read(path, &len);
	mfile *f;

	(void)state;
	for (size_t at = 40; at < len; at += 7) {
		img[at] ^= 0x20;
		assert_int_equal(mfile_open_mem(img, len, "m.slm", &f), SL_ECORRUPT);
		assert_msg_has("damaged");
		img[at] ^= 0x20;
	}
	assert_int_equal(mfile_open_mem(img, len - 1, "m.slm", &f), SL_ECORRUPT);
	assert_msg_has("truncated");
	assert_int_equal(mfile_open_mem(img, 20, "m.slm", &f), SL_ECORRUPT);
	assert_msg_has("truncated");
	img[8] = 99; /* version 99 */
	assert_int_equal(mfile_open_mem(img, len, "m.slm", &f), SL_EUNSUP);
	assert_msg_has("newer sluice");
	img[8] = 1;
	img[0] = 'X';
	assert_int_equal(mfile_open_mem(img, len, "m.slm", &f), SL_ECORRUPT);
	assert_msg_has("not a sluice model file");
	img[0] = 'S';
	assert_int_equal(mfile_open_mem(img, len, "m.slm", &f), 0);
	mfile_close(f);
	free(img);
	free(path);
	tu_rmdir(dir);
}

/* ---- frames -------------------------------------------------------------------- */

static void test_frame_build(void **state)
{
	ds_table *t = small_table(false);
	ml_frame_opts o = {.target = "y", .allow_strings = true, .step = "train.test"};
	ml_frame fr;
	double col[6];

	(void)state;
	assert_int_equal(ml_frame_build(t, &o, &fr), 0);
	assert_int_equal(fr.sig.task, ML_BINARY);
	/* Classes in byte order, whatever order the rows gave them in. */
	assert_string_equal(fr.sig.classes[0], "ham");
	assert_string_equal(fr.sig.classes[1], "spam");
	assert_string_equal(fr.sig.outputs[1], "proba_spam");
	assert_true(fr.y[0] == 1 && fr.y[1] == 0);
	/* k is constant: dropped, with a warning that says so. */
	assert_int_equal(fr.sig.n_features, 3);
	assert_int_equal(fr.n_warnings, 1);
	assert_non_null(strstr(fr.warnings[0], "'k'"));
	ml_frame_column(&fr, 2, col);
	assert_true(col[0] == 0 && col[1] == 1 && col[3] == 2); /* red blue red green */
	ml_frame_free(&fr);
	ds_close(t);
}

static void test_frame_refusals(void **state)
{
	ds_table *t = small_table(true);
	ml_frame fr;

	(void)state;
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "label", .step = "s"}, &fr),
			 SL_EINVAL);
	assert_msg_has("target column 'label' is not in the training data");
	assert_msg_has("x, n, c, k, y");
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .task = ML_REGRESSION,
							     .allow_strings = true},
					&fr),
			 SL_EINVAL);
	assert_msg_has("string column and cannot be regressed");
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y",
							     .features = (const char *[]){"x", "c"},
							     .n_features = 2},
					&fr),
			 SL_EINVAL);
	assert_msg_has("feature 'c' is a string column");
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .allow_strings = true},
					&fr),
			 SL_EINVAL);
	assert_msg_has("feature 'n' is missing in 1 of 6 rows (first in row 3)");
	assert_msg_has("op: impute");
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "k", .task = ML_BINARY,
							     .allow_strings = true,
							     .allow_missing = true},
					&fr),
			 SL_EINVAL);
	assert_msg_has("single class");
	/* Missing values allowed: builds. */
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .allow_strings = true,
							     .allow_missing = true},
					&fr),
			 0);
	ml_frame_free(&fr);
	ds_close(t);
}

static void test_frame_apply(void **state)
{
	ds_table *t = small_table(false), *u;
	ml_frame fr;
	double *X, *y;
	ds_builder *b;

	(void)state;
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .allow_strings = true},
					&fr),
			 0);
	/* The training table itself comes back coded as training saw it. */
	assert_int_equal(ml_frame_apply(&fr.sig, t, &X, &y), 0);
	for (size_t i = 0; i < 6; i++)
		assert_true(y[i] == fr.y[i]);
	assert_true(X[0 * 3 + 2] == 0 && X[3 * 3 + 2] == 2);
	free(X);
	free(y);
	/* New rows: columns in another order, an unseen category (NaN), an
	 * int column where float was trained. */
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "c", DS_STRING, NULL);
	ds_builder_add_col(b, "n", DS_INT64, NULL);
	ds_builder_add_col(b, "x", DS_INT64, NULL);
	ds_append_str(b, 0, "purple", 6);
	ds_append_i64(b, 1, 5);
	ds_append_i64(b, 2, 9);
	ds_append_str(b, 0, "green", 5);
	ds_append_i64(b, 1, 6);
	ds_append_i64(b, 2, 8);
	assert_int_equal(ds_builder_finish(b, &u), 0);
	ds_builder_free(b);
	assert_int_equal(ml_frame_apply(&fr.sig, u, &X, &y), 0);
	assert_null(y); /* no target column */
	assert_true(X[0] == 9 && X[1] == 5 && isnan(X[2]));
	assert_true(X[3] == 8 && X[5] == 2);
	free(X);
	ds_close(u);
	/* A missing column is named. */
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "x", DS_FLOAT64, NULL);
	ds_append_f64(b, 0, 1);
	assert_int_equal(ds_builder_finish(b, &u), 0);
	ds_builder_free(b);
	assert_int_equal(ml_frame_apply(&fr.sig, u, &X, NULL), SL_EINVAL);
	assert_msg_has("column 'n', an input of the model, is missing");
	ds_close(u);
	ml_frame_free(&fr);
	ds_close(t);
}

/* ---- the baseline through the file and the public API ---------------------------- */

static void test_baseline_round_trip(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "base.slm");
	ds_table *t = small_table(false);
	ml_frame fr;
	ml_model *m;
	sl_model *pm;
	double *X, out[12], one[2], code;
	char *desc;

	(void)state;
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .allow_strings = true},
					&fr),
			 0);
	assert_int_equal(ml_baseline_fit(&fr, NULL, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, path), 0);
	ml_model_free(m);
	assert_int_equal(sl_model_load(path, &pm), 0);
	assert_string_equal(sl_model_algorithm(pm), "baseline");
	assert_string_equal(sl_model_task(pm), "binary");
	assert_int_equal(sl_model_n_inputs(pm), 3);
	assert_string_equal(sl_model_input_type(pm, 2), "string");
	assert_int_equal(sl_model_input_code(pm, 2, "green", &code), 0);
	assert_true(code == 2);
	assert_int_equal(sl_model_input_code(pm, 2, "mauve", &code), 0);
	assert_true(isnan(code));
	assert_int_equal(sl_model_input_code(pm, 0, "x", &code), SL_EINVAL);
	assert_int_equal(ml_frame_apply(&pm->sig, t, &X, NULL), 0);
	assert_int_equal(sl_model_predict(pm, X, 6, 3, out, 12), 0);
	assert_true(out[0] == 0.5 && out[1] == 0.5); /* 3 ham, 3 spam */
	/* Row by row equals the batch. */
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(sl_model_predict(pm, X + 3 * i, 1, 3, one, 2), 0);
		assert_memory_equal(one, out + 2 * i, sizeof one);
	}
	assert_int_equal(sl_model_predict(pm, X, 6, 3, out, 11), SL_EINVAL);
	assert_int_equal(sl_model_predict(pm, X, 6, 2, out, 12), SL_EINVAL);
	assert_int_equal(sl_model_explain(pm, X, 1, 3, out, 12), SL_EUNSUP);
	assert_int_equal(sl_model_describe(pm, &desc), 0);
	assert_non_null(strstr(desc, "\"strategy\": \"prior\""));
	sl_free(desc);
	free(X);
	sl_model_free(pm);
	ml_frame_free(&fr);
	ds_close(t);
	free(path);
	tu_rmdir(dir);
}

/* ---- metrics ---------------------------------------------------------------------- */

/*
 * AUC on many rows with heavy ties (scores on a coarse grid, -0.0 among
 * them) against the Mann-Whitney count over every (positive, negative)
 * pair, weighted.
 */
static void test_auc_against_pairs(void **state)
{
	enum { N = 1500 };
	double *y = malloc(N * sizeof *y), *p = malloc(N * sizeof *p), *w = malloc(N * sizeof *w);
	long double num = 0, wp = 0, wn = 0;
	sl__rng r;

	(void)state;
	assert_non_null(y);
	assert_non_null(p);
	assert_non_null(w);
	sl__rng_seed(&r, 77);
	for (size_t i = 0; i < N; i++) {
		y[i] = (double)sl__rng_below(&r, 2);
		p[i] = (double)sl__rng_below(&r, 40) / 8.0 - 2.0 + 0.3 * y[i];
		if (p[i] == 0 && sl__rng_below(&r, 2))
			p[i] = -0.0; /* ties with 0.0 */
		w[i] = 0.5 + (double)sl__rng_below(&r, 4);
	}
	for (size_t i = 0; i < N; i++) {
		if (y[i] < 0.5)
			continue;
		for (size_t j = 0; j < N; j++)
			if (y[j] < 0.5)
				num += (long double)w[i] * w[j] * (p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0);
	}
	for (size_t i = 0; i < N; i++)
		*(y[i] > 0.5 ? &wp : &wn) += w[i];
	assert_true(fabs(ml_metric_auc(y, p, w, N) - (double)(num / (wp * wn))) < 1e-12);
	free(y);
	free(p);
	free(w);
}

static void test_metrics_by_hand(void **state)
{
	/* Positives score 0.8, 0.4, 0.4; negatives 0.4, 0.1. Pairs (pos, neg):
	 * (0.8,0.4) 1, (0.8,0.1) 1, (0.4,0.4) 1/2 twice, (0.4,0.1) 1 twice:
	 * 5 of 6. */
	double y[] = {1, 1, 1, 0, 0}, p[] = {0.8, 0.4, 0.4, 0.4, 0.1};
	double yr[] = {1, 2, 3, 4}, pr[] = {1, 2, 4, 2};
	double pm[] = {0.7, 0.2, 0.1, 0.1, 0.1, 0.8}, ym[] = {0, 1};
	double w[] = {1, 1, 1, 2, 0};

	(void)state;
	assert_true(fabs(ml_metric_auc(y, p, NULL, 5) - 5.0 / 6) < 1e-15);
	/* Weights: the 0.1 negative weighs nothing, the tied negative twice:
	 * (1*2 + 0.5*2*2) / (3 * 2) = 4/6. */
	assert_true(fabs(ml_metric_auc(y, p, w, 5) - 4.0 / 6) < 1e-15);
	assert_true(isnan(ml_metric_auc(y, p, NULL, 3)));
	assert_true(fabs(ml_metric_rmse(yr, pr, NULL, 4) - sqrt(5.0 / 4)) < 1e-15);
	assert_true(fabs(ml_metric_mae(yr, pr, NULL, 4) - 0.75) < 1e-15);
	/* R^2 = 1 - 5 / 5 = 0. */
	assert_true(fabs(ml_metric_r2(yr, pr, NULL, 4)) < 1e-15);
	assert_true(fabs(ml_metric_logloss(y, p, NULL, 5) -
			 -(log(0.8) + 2 * log(0.4) + log(0.6) + log(0.9)) / 5) < 1e-15);
	assert_true(fabs(ml_metric_mlogloss(ym, pm, 3, NULL, 2) - -(log(0.7) + log(0.1)) / 2) <
		    1e-15);
	assert_true(ml_metric_accuracy(ym, pm, 3, NULL, 2) == 0.5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mfile_round_trip),
		cmocka_unit_test(test_mfile_refusals),
		cmocka_unit_test(test_frame_build),
		cmocka_unit_test(test_frame_refusals),
		cmocka_unit_test(test_frame_apply),
		cmocka_unit_test(test_baseline_round_trip),
		cmocka_unit_test(test_metrics_by_hand),
		cmocka_unit_test(test_auc_against_pairs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
