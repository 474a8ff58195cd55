/*
 * The isolation forest: obvious outliers score highest, the score's
 * normaliser c(n) against its closed form, determinism whatever the thread
 * count, save/load and row-by-row == batch, the contamination threshold on
 * the training rows, string and missing values, a damaged forest refused
 * at load, and the train.iforest step end to end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/iforest.h"
#include "rng.h"
#include "sluice/model.h"
#include "testutil.h"

#define N_NORMAL 300

/*
 * N_NORMAL rows from a standard normal in (a, b), a string column c drawn
 * from {x, y, z}, then the outliers: (8, 8), (-9, 0), (0, 10), each with
 * c = x. with_missing puts a null in a of every 10th normal row.
 */
static ds_table *cloud(bool with_missing, size_t *out_n)
{
	static const char *const cats[] = {"x", "y", "z"};
	static const double out[][2] = {{8, 8}, {-9, 0}, {0, 10}};
	ds_builder *b;
	ds_table *t;
	sl__rng r;

	sl__rng_seed(&r, 7);
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "a", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "b", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "c", DS_STRING, NULL), 0);
	for (size_t i = 0; i < N_NORMAL; i++) {
		const char *c = cats[sl__rng_below(&r, 3)];
		double a = sl__rng_normal(&r), bb = sl__rng_normal(&r);
		if (with_missing && i % 10 == 0)
			assert_int_equal(ds_append_null(b, 0), 0);
		else
			assert_int_equal(ds_append_f64(b, 0, a), 0);
		assert_int_equal(ds_append_f64(b, 1, bb), 0);
		assert_int_equal(ds_append_str(b, 2, c, 1), 0);
	}
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(ds_append_f64(b, 0, out[i][0]), 0);
		assert_int_equal(ds_append_f64(b, 1, out[i][1]), 0);
		assert_int_equal(ds_append_str(b, 2, "x", 1), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	*out_n = N_NORMAL + 3;
	return t;
}

static ml_model *fit(const ds_table *t, const ml_iforest_opts *o, ml_frame *fr)
{
	ml_model *m;

	assert_int_equal(ml_frame_build(t,
					&(ml_frame_opts){.task = ML_ANOMALY, .allow_missing = true,
							 .allow_strings = true},
					fr),
			 0);
	if (ml_iforest_fit(fr, o, &m) != 0)
		fail_msg("fit: %s", sl_errmsg());
	return m;
}

static double *predict_all(const ml_model *m, const ds_table *t)
{
	double *X, *out = malloc(2 * ds_nrow(t) * sizeof *out);

	assert_int_equal(ml_frame_apply(&m->sig, t, &X, NULL), 0);
	assert_int_equal(ml_model_predict(m, X, ds_nrow(t), out), 0);
	free(X);
	return out;
}

static void test_c_closed_form(void **state)
{
	(void)state;
	assert_true(ml_iforest_c(0) == 0 && ml_iforest_c(1) == 0);
	assert_true(ml_iforest_c(2) == 1);
	/* 2 (ln 2 + gamma) - 2 * 2/3 */
	assert_true(fabs(ml_iforest_c(3) - (2 * (log(2) + 0.5772156649015329) - 4.0 / 3)) < 1e-15);
	/* scikit-learn's _average_path_length(256) */
	assert_true(fabs(ml_iforest_c(256) - 10.244770920119917) < 1e-12);
}

/* The three planted outliers are the three highest scores. */
static void test_outliers_first(void **state)
{
	ml_iforest_opts o = {.trees = 100, .sample_size = 256, .seed = 1};
	size_t n;
	ds_table *t = cloud(false, &n);
	ml_frame fr;
	ml_model *m = fit(t, &o, &fr);
	double *s = predict_all(m, t), min_out = 1, max_in = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		assert_true(s[2 * i] > 0 && s[2 * i] <= 1);
		if (i >= N_NORMAL)
			min_out = fmin(min_out, s[2 * i]);
		else
			max_in = fmax(max_in, s[2 * i]);
	}
	if (!(min_out > max_in))
		fail_msg("outliers' lowest score %g, normal rows' highest %g", min_out, max_in);
	/* The paper's reading of the score: outliers well above 0.5. */
	assert_true(min_out > 0.6);
	/* auto: flagged iff above 0.5, and the outliers are. */
	for (size_t i = N_NORMAL; i < n; i++)
		assert_true(s[2 * i + 1] == 1);
	free(s);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(*len);
	assert_int_equal(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

/* Same seed: the same bytes with one thread or two; another seed differs. */
static void test_deterministic(void **state)
{
	const char *dir = tu_tmpdir();
	char *p1 = tu_path(dir, "a.slm"), *p2 = tu_path(dir, "b.slm"), *p3 = tu_path(dir, "c.slm");
	size_t n, l1, l2, l3;
	ds_table *t = cloud(true, &n);
	ml_frame fr;
	ml_model *m;
	unsigned char *b1, *b2, *b3;

	(void)state;
	m = fit(t, &(ml_iforest_opts){.trees = 50, .sample_size = 64, .seed = 3, .threads = 1}, &fr);
	assert_int_equal(ml_model_save(m, NULL, p1), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	m = fit(t, &(ml_iforest_opts){.trees = 50, .sample_size = 64, .seed = 3, .threads = 2}, &fr);
	assert_int_equal(ml_model_save(m, NULL, p2), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	m = fit(t, &(ml_iforest_opts){.trees = 50, .sample_size = 64, .seed = 4, .threads = 2}, &fr);
	assert_int_equal(ml_model_save(m, NULL, p3), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	b1 = slurp(p1, &l1);
	b2 = slurp(p2, &l2);
	b3 = slurp(p3, &l3);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	assert_true(l1 != l3 || memcmp(b1, b3, l1) != 0);
	free(b1);
	free(b2);
	free(b3);
	free(p1);
	free(p2);
	free(p3);
	ds_close(t);
	tu_rmdir(dir);
}

/* Through the file and the public API: the same outputs, one row at a time too. */
static void test_save_load_row_by_row(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "f.slm");
	size_t n;
	ds_table *t = cloud(true, &n);
	ml_frame fr;
	ml_model *m = fit(t, &(ml_iforest_opts){.trees = 40, .sample_size = 128, .seed = 9,
						.contamination = 0.05},
			  &fr);
	double *before = predict_all(m, t), *X, *after = malloc(2 * n * sizeof *after), one[2];
	sl_model *pm;

	(void)state;
	assert_int_equal(ml_model_save(m, NULL, path), 0);
	assert_int_equal(sl_model_load(path, &pm), 0);
	assert_string_equal(sl_model_algorithm(pm), "iforest");
	assert_string_equal(sl_model_task(pm), "anomaly");
	assert_string_equal(sl_model_output_name(pm, 0), "score");
	assert_string_equal(sl_model_output_name(pm, 1), "anomaly");
	assert_int_equal(ml_frame_apply(&pm->sig, t, &X, NULL), 0);
	assert_int_equal(sl_model_predict(pm, X, n, 3, after, 2 * n), 0);
	assert_memory_equal(before, after, 2 * n * sizeof *after);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(sl_model_predict(pm, X + 3 * i, 1, 3, one, 2), 0);
		assert_memory_equal(one, after + 2 * i, sizeof one);
	}
	/* A missing value is not an anomaly by itself: a typical row with a
	 * null scores below the planted outliers. */
	assert_true(isnan(X[0]));
	assert_true(after[0] < after[2 * N_NORMAL]);
	/* An unseen category (NaN code) and a nonsense code are accepted. */
	{
		double row[3] = {0, 0, NAN}, row2[3] = {0, 0, 77.5}, o1[2], o2[2];
		assert_int_equal(sl_model_predict(pm, row, 1, 3, o1, 2), 0);
		assert_int_equal(sl_model_predict(pm, row2, 1, 3, o2, 2), 0);
		assert_true(o1[0] > 0 && o1[0] < 1);
		assert_true(o1[0] == o2[0]);
	}
	free(X);
	free(before);
	free(after);
	sl_model_free(pm);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	free(path);
	tu_rmdir(dir);
}

/* round(c n) training rows flagged when the scores at the cut differ. */
static void test_contamination(void **state)
{
	static const double shares[] = {0.01, 0.05, 0.1, 0.25, 0.5};
	size_t n;
	ds_table *t = cloud(false, &n);

	(void)state;
	for (size_t k = 0; k < SL__ARRAY_LEN(shares); k++) {
		ml_frame fr;
		ml_model *m = fit(t, &(ml_iforest_opts){.trees = 60, .sample_size = 256, .seed = 2,
							.contamination = shares[k]},
				  &fr);
		double *s = predict_all(m, t);
		size_t flagged = 0, want = (size_t)llround(shares[k] * (double)n);
		for (size_t i = 0; i < n; i++)
			flagged += s[2 * i + 1] == 1;
		if (flagged != want)
			fail_msg("contamination %g: %zu of %zu flagged, want %zu", shares[k], flagged,
				 n, want);
		assert_true(fabs(json_real_value(json_object_get(m->info, "train_anomaly_rate")) -
				 (double)want / (double)n) < 1e-12);
		free(s);
		ml_model_free(m);
		ml_frame_free(&fr);
	}
	ds_close(t);
}

/* A rare category among identical numbers is what isolates a row. */
static void test_string_split(void **state)
{
	ds_builder *b;
	ds_table *t;
	ml_frame fr;
	ml_model *m;
	double *s;

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "c", DS_STRING, NULL);
	ds_builder_add_col(b, "v", DS_INT64, NULL);
	for (int i = 0; i < 200; i++) {
		const char *c = i == 100 ? "rare" : i % 2 ? "odd" : "even";
		ds_append_str(b, 0, c, strlen(c));
		ds_append_i64(b, 1, i % 4);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	m = fit(t, &(ml_iforest_opts){.trees = 100, .sample_size = 200, .seed = 5}, &fr);
	s = predict_all(m, t);
	for (size_t i = 0; i < 200; i++)
		if (i != 100 && !(s[2 * i] < s[200]))
			fail_msg("row %zu scores %g, the rare row %g", i, s[2 * i], s[200]);
	free(s);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/*
 * A forest whose digest is right but whose structure is not (written
 * through the file writer, so only the family's checks can catch it): a
 * child pointing backwards, a feature out of range.
 */
static void test_damaged_forest_refused(void **state)
{
	const char *dir = tu_tmpdir();
	char *good = tu_path(dir, "g.slm"), *bad = tu_path(dir, "b.slm");
	static const struct {
		size_t off; /* within the first split node */
		uint32_t value;
		const char *msg;
	} damage[] = {{4, 0, "points outside"}, {0, 99, "points outside"}, {8, 0xFFFFFFF0u, "category"}};
	size_t n;
	ds_table *t = cloud(false, &n);
	ml_frame fr;
	ml_model *m = fit(t, &(ml_iforest_opts){.trees = 3, .sample_size = 16, .seed = 1}, &fr);

	(void)state;
	assert_int_equal(ml_model_save(m, NULL, good), 0);
	for (size_t d = 0; d < SL__ARRAY_LEN(damage); d++) {
		static const char *const names[] = {"forest", "roots", "nodes", "cats"};
		mfile *f;
		mfile_writer *w;
		ml_model *back;
		assert_int_equal(mfile_open(good, &f), 0);
		assert_int_equal(mfile_writer_new(&w), 0);
		for (size_t k = 0; k < 4; k++) {
			const void *p;
			size_t len;
			unsigned char *copy;
			assert_int_equal(mfile_section(f, names[k], &p, &len), 0);
			copy = malloc(len + 1);
			memcpy(copy, p, len);
			if (k == 2) {
				/* node 0 is the first tree's root, a split (16 rows) */
				int32_t feature;
				memcpy(&feature, copy, 4);
				assert_true(feature >= 0);
				memcpy(copy + damage[d].off, &damage[d].value, 4);
			}
			assert_int_equal(mfile_add(w, names[k], copy, len), 0);
			free(copy);
		}
		assert_int_equal(mfile_write(w, mfile_manifest(f), bad), 0);
		mfile_writer_free(w);
		mfile_close(f);
		assert_int_equal(ml_model_load(bad, &back), SL_ECORRUPT);
		if (!strstr(sl_errmsg(), damage[d].msg))
			fail_msg("damage %zu: '%s'", d, sl_errmsg());
	}
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	free(good);
	free(bad);
	tu_rmdir(dir);
}

static void test_refusals(void **state)
{
	size_t n;
	ds_table *t = cloud(false, &n);
	ml_frame fr;
	ml_model *m;

	(void)state;
	assert_int_equal(ml_frame_build(t,
					&(ml_frame_opts){.task = ML_ANOMALY, .allow_strings = true},
					&fr),
			 0);
	assert_int_equal(ml_iforest_fit(&fr, &(ml_iforest_opts){.trees = 0, .sample_size = 8}, &m),
			 SL_EINVAL);
	assert_int_equal(ml_iforest_fit(&fr, &(ml_iforest_opts){.trees = 1, .sample_size = 1}, &m),
			 SL_EINVAL);
	assert_int_equal(ml_iforest_fit(&fr,
					&(ml_iforest_opts){.trees = 1, .sample_size = 8,
							   .contamination = 0.7},
					&m),
			 SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "contamination"));
	ml_frame_free(&fr);
	ds_close(t);
}

/* Fail the Nth allocation for every N: an error or the very same forest. */
static void test_fit_under_oom(void **state)
{
	ml_iforest_opts o = {.trees = 4, .sample_size = 32, .seed = 8, .threads = 1,
			     .contamination = 0.1};
	size_t n;
	ds_table *t = cloud(true, &n);
	ml_frame fr;
	ml_model *ref = fit(t, &o, &fr), *m;
	double *want = predict_all(ref, t), *got;
	tu_oom oo = {0};
	long k;

	(void)state;
	for (k = 0; k < 100000 && !oo.done; k++) {
		tu_oom_begin(&oo, k);
		int rc = ml_iforest_fit(&fr, &o, &m);
		tu_oom_end(&oo, rc);
		if (rc == 0) {
			got = predict_all(m, t);
			assert_memory_equal(got, want, 2 * n * sizeof *got);
			free(got);
			ml_model_free(m);
			continue;
		}
		assert_int_equal(rc, SL_ENOMEM);
		assert_null(m);
	}
	tu_oom_check(&oo, 5);
	free(want);
	ml_model_free(ref);
	ml_frame_free(&fr);
	ds_close(t);
}

/* The step: options, the model output, the metrics it records. */
static void test_step(void **state)
{
	const char *dir = tu_tmpdir();
	char *data = tu_path(dir, "train.ds"), *model = tu_path(dir, "model.slm");
	const char *in_names[] = {"train"}, *in_paths[] = {data};
	const char *out_names[] = {"model"}, *out_paths[] = {model};
	size_t n;
	ds_table *t = cloud(false, &n);
	json_t *with = json_pack("{s:i, s:f, s:[s]}", "trees", 30, "contamination", 0.1, "exclude",
				 "c");
	tu_run r = {0};
	ml_model *m;

	(void)state;
	assert_int_equal(ds_table_write(t, data), 0);
	if (tu_run_step(&r, "train.iforest", dir, with, in_names, in_paths, 1, out_names, out_paths,
			1) != 0)
		fail_msg("%s", sl_errmsg());
	json_decref(with);
	assert_true(fabs(json_real_value(json_object_get(r.metrics, "train_anomaly_rate")) -
			 30.0 / 303) < 1e-12);
	assert_int_equal(ml_model_load(model, &m), 0);
	assert_int_equal(m->sig.n_features, 2); /* c excluded */
	assert_true(json_real_value(json_object_get(m->params, "contamination")) == 0.1);
	ml_model_free(m);
	tu_run_free(&r);
	ds_close(t);
	free(data);
	free(model);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c_closed_form),
		cmocka_unit_test(test_outliers_first),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_save_load_row_by_row),
		cmocka_unit_test(test_contamination),
		cmocka_unit_test(test_string_split),
		cmocka_unit_test(test_damaged_forest_refused),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_fit_under_oom),
		cmocka_unit_test(test_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
