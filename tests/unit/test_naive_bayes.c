/*
 * train.naive_bayes: each kind on a six-row example worked out by hand
 * (and its probabilities against scikit-learn's), explanations that sum to
 * the log-odds (binary) or whose softmax is the probabilities (multiclass),
 * a missing value contributing nothing, save and load, row by row ==
 * batch, and the refusals (negative counts, bad options) naming the column
 * and the fix.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/nb.h"
#include "sluice/model.h"
#include "steps/step.h"
#include "testutil.h"

/* Rows (f0, f1, f2) -> class y (three classes) and yb (two):
 *   (2,0,1) 0 0   (3,1,0) 0 0   (0,4,1) 1 1
 *   (1,3,2) 1 1   (0,0,5) 2 1   (4,0,0) 0 0 */
static const double rows[6][3] = {{2, 0, 1}, {3, 1, 0}, {0, 4, 1}, {1, 3, 2}, {0, 0, 5}, {4, 0, 0}};
static const int64_t ys[6] = {0, 0, 1, 1, 2, 0}, ybs[6] = {0, 0, 1, 1, 1, 0};
static const double query[2][3] = {{1, 2, 0}, {0, 0, 3}};

static ds_table *table(bool negative)
{
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "f0", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "f1", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "f2", DS_INT64, NULL);
	ds_builder_add_col(b, "y", DS_INT64, NULL);
	ds_builder_add_col(b, "yb", DS_INT64, NULL);
	for (int i = 0; i < 6; i++) {
		ds_append_f64(b, 0, rows[i][0]);
		ds_append_f64(b, 1, negative && i == 3 ? -1.5 : rows[i][1]);
		ds_append_i64(b, 2, (int64_t)rows[i][2]);
		ds_append_i64(b, 3, ys[i]);
		ds_append_i64(b, 4, ybs[i]);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static void frame_of(const ds_table *t, const char *target, ml_frame *fr)
{
	ml_frame_opts o = {.target = target, .task = ML_MULTICLASS,
			   .features = (const char *[]){"f0", "f1", "f2"}, .n_features = 3,
			   .step = "train.naive_bayes"};

	assert_int_equal(ml_frame_build(t, &o, fr), 0);
}

static nb_opts nopts(nb_kind k)
{
	return (nb_opts){.kind = k, .alpha = 1, .var_smoothing = 1e-9, .binarize = 0, .fit_prior = true};
}

static void assert_close(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("%s: got %.15g, want %.15g (tolerance %g)", what, got, want, tol);
}

/* Softmax of three joint log likelihoods. */
static void softmax3(const double *jll, double *p)
{
	double mx = fmax(jll[0], fmax(jll[1], jll[2])), s = 0;

	for (int k = 0; k < 3; k++)
		s += (p[k] = exp(jll[k] - mx));
	for (int k = 0; k < 3; k++)
		p[k] /= s;
}

static void fit_predict(nb_kind kind, double binarize, const char *target, double *p)
{
	ds_table *t = table(false);
	ml_frame fr;
	ml_model *m;
	nb_opts o = nopts(kind);

	o.binarize = binarize;
	frame_of(t, target, &fr);
	assert_int_equal(nb_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_predict(m, &query[0][0], 2, p), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/*
 * Multinomial, alpha 1. Feature sums per class: 0: (9,1,1), 1: (1,7,3),
 * 2: (0,0,5); smoothed and normalised: theta_0 = (10,2,2)/14,
 * theta_1 = (2,8,4)/14, theta_2 = (1,1,6)/8; priors 3/6, 2/6, 1/6.
 * scikit-learn's MultinomialNB(alpha=1).predict_proba agrees:
 *   (1,2,0): 0.314663825951571, 0.671282828696685, 0.0140533453517434
 */
static void test_multinomial(void **state)
{
	double p[6], jll[3], want[3];

	(void)state;
	fit_predict(NB_MULTINOMIAL, 0, "y", p);
	jll[0] = log(0.5) + log(10.0 / 14) + 2 * log(2.0 / 14);
	jll[1] = log(1.0 / 3) + log(2.0 / 14) + 2 * log(8.0 / 14);
	jll[2] = log(1.0 / 6) + log(1.0 / 8) + 2 * log(1.0 / 8);
	softmax3(jll, want);
	for (int k = 0; k < 3; k++)
		assert_close(p[k], want[k], 1e-14, "multinomial by hand");
	assert_close(p[0], 0.314663825951571, 1e-14, "sklearn");
	assert_close(p[1], 0.671282828696685, 1e-14, "sklearn");
	assert_close(p[5], 0.883936241290446, 1e-14, "sklearn second row");
}

/*
 * Bernoulli, alpha 1, binarize 0.5. Present (x > 0.5) per class: 0: (3,1,1)
 * of 3 rows, 1: (1,2,2) of 2, 2: (0,0,1) of 1; theta = (N + 1) / (n + 2).
 * Row (1,2,0) is present, present, absent. scikit-learn's
 * BernoulliNB(alpha=1, binarize=0.5): 0.719516990908881, 0.234217770478151, ...
 */
static void test_bernoulli(void **state)
{
	double p[6], jll[3], want[3];

	(void)state;
	fit_predict(NB_BERNOULLI, 0.5, "y", p);
	jll[0] = log(0.5) + log(4.0 / 5) + log(2.0 / 5) + log(1 - 2.0 / 5);
	jll[1] = log(1.0 / 3) + log(2.0 / 4) + log(3.0 / 4) + log(1 - 3.0 / 4);
	jll[2] = log(1.0 / 6) + log(1.0 / 3) + log(1.0 / 3) + log(1 - 2.0 / 3);
	softmax3(jll, want);
	for (int k = 0; k < 3; k++)
		assert_close(p[k], want[k], 1e-14, "bernoulli by hand");
	assert_close(p[0], 0.719516990908881, 1e-14, "sklearn");
	assert_close(p[5], 0.471962478982921, 1e-14, "sklearn second row");
}

/*
 * Gaussian, two classes (yb). Class 0 rows (2,0,1), (3,1,0), (4,0,0):
 * means (3, 1/3, 1/3), variances (2/3, 2/9, 2/9); class 1 rows (0,4,1),
 * (1,3,2), (0,0,5): means (1/3, 7/3, 8/3), variances (2/9, 26/9, 26/9);
 * every variance plus 1e-9 times the largest feature variance. The
 * log-odds of class 1 is the sum of the per-feature log-likelihood ratios
 * (the contributions) and the log prior ratio (0 here: 3 rows each).
 * scikit-learn's GaussianNB(): P(1 | (1,2,0)) = 0.994698008675168.
 */
static void test_gaussian_and_explain(void **state)
{
	static const double mu[2][3] = {{3, 1.0 / 3, 1.0 / 3}, {1.0 / 3, 7.0 / 3, 8.0 / 3}};
	static const double var[2][3] = {{2.0 / 3, 2.0 / 9, 2.0 / 9}, {2.0 / 9, 26.0 / 9, 26.0 / 9}};
	ds_table *t = table(false);
	ml_frame fr;
	ml_model *m;
	nb_opts o = nopts(NB_GAUSSIAN);
	double p[4], ex[8], eps, vmax = 0, lo = 0;

	(void)state;
	/* The largest variance over all rows: f2 (0..5, mean 1.5) 2.5833. */
	for (int j = 0; j < 3; j++) {
		double s = 0, ss = 0;
		for (int i = 0; i < 6; i++)
			s += rows[i][j];
		for (int i = 0; i < 6; i++)
			ss += (rows[i][j] - s / 6) * (rows[i][j] - s / 6);
		vmax = fmax(vmax, ss / 6);
	}
	eps = 1e-9 * vmax;
	frame_of(t, "yb", &fr);
	assert_int_equal(nb_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_predict(m, &query[0][0], 2, p), 0);
	assert_int_equal(sl_model_explain_groups(m), 1);
	assert_int_equal(sl_model_explain(m, &query[0][0], 2, 3, ex, 8), 0);
	for (int j = 0; j < 3; j++) {
		double t1, t0, x = query[0][j];
		t0 = -0.5 * log(2 * M_PI * (var[0][j] + eps)) -
		     0.5 * (x - mu[0][j]) * (x - mu[0][j]) / (var[0][j] + eps);
		t1 = -0.5 * log(2 * M_PI * (var[1][j] + eps)) -
		     0.5 * (x - mu[1][j]) * (x - mu[1][j]) / (var[1][j] + eps);
		assert_close(ex[j], t1 - t0, 1e-9, "log-likelihood ratio");
		lo += t1 - t0;
	}
	assert_close(ex[3], 0, 1e-15, "base: equal priors");
	assert_close(log(p[1] / p[0]), lo, 1e-9, "log-odds = sum of contributions");
	assert_close(p[1], 0.994698008675168, 1e-12, "sklearn");
	/* A missing value is left out: its contribution is exactly 0 and the
	 * others do not change. */
	double miss[3] = {1, NAN, 0}, ex2[4];
	assert_int_equal(sl_model_explain(m, miss, 1, 3, ex2, 4), 0);
	assert_true(ex2[1] == 0 && ex2[0] == ex[0] && ex2[2] == ex[2]);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/* Multiclass explanations: the softmax of each class's contributions plus
 * base is the probabilities; the file round trip keeps every bit; row by
 * row equals the batch. */
static void test_multiclass_explain_file(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "nb.slm");
	ds_table *t = table(false);
	ml_frame fr;
	ml_model *m;
	sl_model *back;
	nb_opts o = nopts(NB_MULTINOMIAL);
	double p[6], q[6], ex[2 * 3 * 4], one[3];

	(void)state;
	frame_of(t, "y", &fr);
	assert_int_equal(nb_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, path), 0);
	assert_int_equal(ml_model_predict(m, &query[0][0], 2, p), 0);
	ml_model_free(m);
	assert_int_equal(sl_model_load(path, &back), 0);
	assert_string_equal(sl_model_algorithm(back), "naive_bayes");
	assert_int_equal(sl_model_predict(back, &query[0][0], 2, 3, q, 6), 0);
	assert_memory_equal(p, q, sizeof p);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sl_model_predict(back, query[i], 1, 3, one, 3), 0);
		assert_memory_equal(one, p + 3 * i, sizeof one);
	}
	assert_int_equal(sl_model_explain_groups(back), 3);
	assert_int_equal(sl_model_explain(back, &query[0][0], 2, 3, ex, 24), 0);
	for (int i = 0; i < 2; i++) {
		double raw[3], pk[3];
		for (int k = 0; k < 3; k++) {
			const double *e = ex + (i * 3 + k) * 4;
			raw[k] = e[0] + e[1] + e[2] + e[3];
		}
		softmax3(raw, pk);
		for (int k = 0; k < 3; k++)
			assert_close(pk[k], p[i * 3 + k], 1e-12, "softmax of explanations");
	}
	sl_model_free(back);
	ml_frame_free(&fr);
	ds_close(t);
	free(path);
	tu_rmdir(dir);
}

static void test_refusals(void **state)
{
	ds_table *t = table(true);
	ml_frame fr;
	ml_model *m;
	nb_opts o = nopts(NB_MULTINOMIAL);
	const step_def *def = step_find("train.naive_bayes");
	step_problem pb;
	json_t *with;

	(void)state;
	frame_of(t, "y", &fr);
	assert_int_equal(nb_fit(&fr, &o, &m), SL_EINVAL);
	if (!strstr(sl_errmsg(), "feature 'f1' is -1.5 in row 4") ||
	    !strstr(sl_errmsg(), "kind: gaussian"))
		fail_msg("message: %s", sl_errmsg());
	/* Gaussian takes it. */
	o = nopts(NB_GAUSSIAN);
	assert_int_equal(nb_fit(&fr, &o, &m), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	o = nopts(NB_BERNOULLI);
	o.alpha = 0;
	assert_int_equal(nb_opts_check(&o), SL_EINVAL);
	with = json_pack("{s:s, s:s}", "target", "y", "kind", "poisson");
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_non_null(strstr(pb.msg, "must be one of multinomial, gaussian or bernoulli"));
	json_decref(with);
	/* alpha > 0 depends on the kind: the step's check says so, at the block. */
	with = json_pack("{s:s, s:s, s:f}", "target", "y", "kind", "bernoulli", "alpha", 0.0);
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_string_equal(pb.path, "");
	assert_non_null(strstr(pb.msg, "alpha must be a number > 0"));
	json_decref(with);
}

/* The step end to end. */
static void test_step(void **state)
{
	const char *dir = tu_tmpdir();
	char *in = tu_path(dir, "train.ds"), *out = tu_path(dir, "model.slm");
	const char *in_names[] = {"train"}, *in_paths[] = {in};
	const char *out_names[] = {"model"}, *out_paths[] = {out};
	ds_table *t = table(false);
	tu_run r = {0};
	json_t *with;

	(void)state;
	assert_int_equal(ds_table_write(t, in), 0);
	ds_close(t);
	with = json_pack("{s:s, s:s, s:[s,s,s]}", "target", "y", "kind", "multinomial", "features",
			 "f0", "f1", "f2");
	assert_int_equal(tu_run_step(&r, "train.naive_bayes", dir, with, in_names, in_paths, 1,
				     out_names, out_paths, 1),
			 0);
	assert_non_null(json_object_get(r.metrics, "train_accuracy"));
	assert_non_null(strstr(r.log, "multinomial naive Bayes over 3 classes"));
	json_decref(with);
	tu_run_free(&r);
	free(in);
	free(out);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multinomial),
		cmocka_unit_test(test_bernoulli),
		cmocka_unit_test(test_gaussian_and_explain),
		cmocka_unit_test(test_multiclass_explain_file),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
