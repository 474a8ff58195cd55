/*
 * train.logistic: L-BFGS on a function whose minimum is known; binary,
 * class-weighted and multinomial L2 fits and L1 fits against
 * scikit-learn's optima (constants below, with how they were obtained);
 * the gradient at the optimum; probabilities and contributions; the same
 * model whatever the thread count; bad options named; a model of numeric
 * features predicts the general path's bytes by the dense one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/glm.h"
#include "sluice/model.h"
#include "steps/step.h"
#include "testutil.h"

/* The data set of test_linear.c (same formulas; see there). */
static ds_table *shared_table(void)
{
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "x1", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "x2", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "c", DS_STRING, NULL);
	ds_builder_add_col(b, "yb", DS_INT64, NULL);
	ds_builder_add_col(b, "ym", DS_INT64, NULL);
	for (int i = 0; i < 40; i++) {
		double x1 = sin(i * 0.7) * 3, x2 = cos(i * 1.3) + i / 40.0, noise = sin(i * 2.1) * 1.5;
		char c = "abc"[i % 3];
		double s = x1 - x2 + noise;
		ds_append_f64(b, 0, x1);
		ds_append_f64(b, 1, x2);
		ds_append_str(b, 2, &c, 1);
		ds_append_i64(b, 3, x1 + 0.5 * x2 + (c == 'b') + noise > 0);
		ds_append_i64(b, 4, s < -1 ? 0 : s < 1.2 ? 1 : 2);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static const char *const feats[] = {"x1", "x2", "c"};
static const char *const names[] = {"x1", "x2", "c=a", "c=b", "c=c"};

static void frame_of(const ds_table *t, const char *target, ml_frame *fr)
{
	ml_frame_opts o = {.target = target, .task = ML_MULTICLASS, .features = feats,
			   .n_features = 3, .allow_strings = true, .step = "train.logistic"};

	assert_int_equal(ml_frame_build(t, &o, fr), 0);
}

static logistic_opts lopts(logistic_penalty p, double C)
{
	return (logistic_opts){.penalty = p, .C = C, .fit_intercept = true, .max_iter = 10000,
			       .tol = 1e-11};
}

static void assert_close(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("%s: got %.12g, want %.12g (tolerance %g)", what, got, want, tol);
}

static void assert_msg_has(const char *needle)
{
	if (!strstr(sl_errmsg(), needle))
		fail_msg("message '%s' lacks '%s'", sl_errmsg(), needle);
}

/* Coefficient `name` of class cls (NULL: the binary model's only vector). */
static double coef_of(const ml_model *m, const char *cls, const char *name)
{
	json_t *c = json_object_get(m->info, "coefficients");
	json_t *v = json_object_get(cls ? json_object_get(c, cls) : c, name);

	if (!json_is_number(v))
		fail_msg("no coefficient '%s'", name);
	return json_number_value(v);
}

static double intercept_of(const ml_model *m, const char *cls)
{
	json_t *v = json_object_get(m->info, "intercept");

	return json_number_value(cls ? json_object_get(v, cls) : v);
}

/* ---- the solver on its own ---------------------------------------------------- */

/* A convex quadratic plus a quartic with its minimum at (1, -2, 0.5):
 * f = sum_i d_i (x_i - c_i)^2 + (x_0 - 1)^4, badly scaled on purpose. */
static double quartic(void *ctx, const double *x, double *g)
{
	static const double d[] = {1, 100, 0.01}, c[] = {1, -2, 0.5};
	double f = 0;

	(void)ctx;
	for (int i = 0; i < 3; i++) {
		f += d[i] * (x[i] - c[i]) * (x[i] - c[i]);
		g[i] = 2 * d[i] * (x[i] - c[i]);
	}
	f += pow(x[0] - 1, 4);
	g[0] += 4 * pow(x[0] - 1, 3);
	return f;
}

static void test_lbfgs(void **state)
{
	double x[3] = {10, 10, 10}, f;
	long it;
	bool conv;

	(void)state;
	assert_int_equal(glm_lbfgs(quartic, NULL, x, 3, 500, 1e-10, &it, &conv, &f), 0);
	assert_true(conv);
	/* A quartic term is flat at its minimum: x0 is found to the cube root
	 * of the tolerance (about 1e-4), the quadratic coordinates exactly. */
	assert_close(x[0], 1, 1e-3, "x0");
	assert_close(x[1], -2, 1e-9, "x1");
	assert_close(x[2], 0.5, 1e-7, "x2");
	assert_true(f < 1e-12);
}

/* ---- against scikit-learn -------------------------------------------------------- */

/*
 * Constants from scikit-learn 1.2.1 on the shared set with
 * X = [x1, x2, c==a, c==b, c==c] (full one-hot), computed once:
 *   LogisticRegression(C=0.5, solver='newton-cg', tol=1e-14, max_iter=100000).fit(X, yb)
 *   LogisticRegression(C=2, class_weight='balanced', solver='newton-cg', ...).fit(X, yb)
 *   LogisticRegression(C=1, solver='newton-cg', ...).fit(X, ym)   (multinomial)
 * newton-cg rather than lbfgs because scipy's L-BFGS-B stops on its
 * relative-decrease rule (ftol = 64 eps) about 1e-6 short of the optimum
 * even with tol=1e-12; both minimise the same objective.
 *   LogisticRegression(C=0.3, penalty='l1', solver='saga', tol=1e-12,
 *                      max_iter=1000000).fit(X, yb) and .fit(X, ym)
 */
static void test_binary_l2(void **state)
{
	static const double want[] = {1.27460203837, 0.250103237968, 0.251194571948,
				      0.467158246885, -0.718352817292};
	static const double bal[] = {1.74688021642, 0.610321918062, 0.395660520221,
				     1.11573739536, -1.51139791559};
	ds_table *t = shared_table();
	ml_frame fr;
	ml_model *m;
	logistic_opts o = lopts(LOGISTIC_L2, 0.5);

	(void)state;
	frame_of(t, "yb", &fr);
	assert_int_equal(fr.sig.task, ML_BINARY);
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	assert_true(json_is_true(json_object_get(m->info, "converged")));
	/* The gradient at the optimum (per unit of row weight) is zero to the
	 * tolerance asked for. */
	assert_true(json_real_value(json_object_get(m->info, "gradient_max")) <= 1e-10);
	for (size_t k = 0; k < 5; k++)
		assert_close(coef_of(m, NULL, names[k]), want[k], 1e-8, names[k]);
	assert_close(intercept_of(m, NULL), 0.953870958087, 1e-8, "intercept");
	ml_model_free(m);
	o = lopts(LOGISTIC_L2, 2);
	o.balanced = true;
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	for (size_t k = 0; k < 5; k++)
		assert_close(coef_of(m, NULL, names[k]), bal[k], 1e-8, names[k]);
	assert_close(intercept_of(m, NULL), 0.997890301178, 1e-8, "balanced intercept");
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

static void test_multinomial_l2(void **state)
{
	static const double want[3][5] = {
		{-1.18415159233, 0.853443568513, -0.258789474077, -0.707400664105, 0.96619013551},
		{0.0996822550062, 0.224207650754, 0.466478217608, -0.440269768783, -0.026208447075},
		{1.08446933733, -1.07765121927, -0.207688743531, 1.14767043289, -0.939981688435}};
	static const double icpt[] = {-0.602105611331, 0.544966193881, 0.0571394174495};
	static const char *const cls[] = {"0", "1", "2"};
	ds_table *t = shared_table();
	ml_frame fr;
	ml_model *m;
	logistic_opts o = lopts(LOGISTIC_L2, 1);
	double *X, p[40 * 3], ex[40 * 3 * 4];

	(void)state;
	frame_of(t, "ym", &fr);
	assert_int_equal(fr.sig.task, ML_MULTICLASS);
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	for (size_t k = 0; k < 3; k++) {
		for (size_t j = 0; j < 5; j++)
			assert_close(coef_of(m, cls[k], names[j]), want[k][j], 1e-8, names[j]);
		assert_close(intercept_of(m, cls[k]), icpt[k], 1e-8, "intercept");
	}
	/* Probabilities sum to 1; per class, contributions + base = the
	 * class's margin, whose softmax is the probabilities. */
	assert_int_equal(ml_frame_matrix(&fr, &X), 0);
	assert_int_equal(ml_model_predict(m, X, 40, p), 0);
	assert_int_equal(sl_model_explain_groups(m), 3);
	assert_int_equal(sl_model_explain(m, X, 40, 3, ex, 40 * 3 * 4), 0);
	for (int i = 0; i < 40; i++) {
		double mg[3], mx = -INFINITY, s = 0;
		assert_close(p[i * 3] + p[i * 3 + 1] + p[i * 3 + 2], 1, 1e-12, "sum of p");
		for (int k = 0; k < 3; k++) {
			const double *e = ex + (i * 3 + k) * 4;
			mg[k] = e[0] + e[1] + e[2] + e[3];
			mx = fmax(mx, mg[k]);
		}
		for (int k = 0; k < 3; k++)
			s += exp(mg[k] - mx);
		for (int k = 0; k < 3; k++)
			assert_close(exp(mg[k] - mx) / s, p[i * 3 + k], 1e-12, "softmax of margins");
	}
	free(X);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/*
 * A model of numeric features only predicts by the dense path, which gives
 * the general path's bytes for every class, with missing values, infinities
 * and -0 among the inputs; a model with a category takes the general path.
 */
static void test_dense_path(void **state)
{
	static const char *const nums[] = {"x1", "x2"};
	static const char *const targets[] = {"yb", "ym"};
	ds_table *t = shared_table();
	double X[44 * 2], got[44 * 3], want[44 * 3];

	(void)state;
	for (size_t ti = 0; ti < 2; ti++) {
		ml_frame_opts fo = {.target = targets[ti], .task = ti ? ML_MULTICLASS : ML_BINARY,
				    .features = nums, .n_features = 2, .step = "train.logistic"};
		logistic_opts o = lopts(LOGISTIC_L2, 1);
		ml_frame fr;
		ml_model *m;
		double *F;
		size_t k;
		assert_int_equal(ml_frame_build(t, &fo, &fr), 0);
		assert_int_equal(logistic_fit(&fr, &o, &m), 0);
		assert_true(glm_is_dense(m));
		k = m->sig.n_outputs;
		assert_int_equal(ml_frame_matrix(&fr, &F), 0);
		memcpy(X, F, 40 * 2 * sizeof *X);
		free(F);
		X[2 * 3] = NAN;
		X[2 * 5 + 1] = NAN;
		X[2 * 40] = NAN;
		X[2 * 40 + 1] = NAN;
		X[2 * 41] = INFINITY;
		X[2 * 41 + 1] = -0.0;
		X[2 * 42] = -INFINITY;
		X[2 * 42 + 1] = 1e300;
		X[2 * 43] = -0.0;
		X[2 * 43 + 1] = -0.0;
		assert_int_equal(ml_model_predict(m, X, 44, got), 0);
		assert_int_equal(glm_predict_general(m, X, 44, want), 0);
		for (size_t i = 0; i < 44; i++)
			if (memcmp(got + i * k, want + i * k, k * sizeof *got))
				fail_msg("%s row %zu: %.17g by the dense path, %.17g by the general",
					 targets[ti], i, got[i * k], want[i * k]);
		ml_model_free(m);
		ml_frame_free(&fr);
	}
	{
		ml_frame fr;
		ml_model *m;
		logistic_opts o = lopts(LOGISTIC_L2, 1);
		frame_of(t, "ym", &fr);
		assert_int_equal(logistic_fit(&fr, &o, &m), 0);
		assert_false(glm_is_dense(m));
		ml_model_free(m);
		ml_frame_free(&fr);
	}
	ds_close(t);
}

static void test_l1(void **state)
{
	static const double bin[] = {1.22761811252, 0, 0, 0, 0};
	static const double multi[3][5] = {{-1.03698781469, 0, 0, 0, 0},
					   {0, 0, 0, 0, 0},
					   {0.416226626617, -0.347869682707, 0, 0.287873138354, 0}};
	static const double micpt[] = {-0.147526286783, 0.121929597825, 0.0255966889578};
	static const char *const cls[] = {"0", "1", "2"};
	ds_table *t = shared_table();
	ml_frame fr;
	ml_model *m;
	logistic_opts o = lopts(LOGISTIC_L1, 0.3);

	(void)state;
	frame_of(t, "yb", &fr);
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	assert_true(json_is_true(json_object_get(m->info, "converged")));
	for (size_t k = 0; k < 5; k++) {
		double c = coef_of(m, NULL, names[k]);
		assert_close(c, bin[k], 1e-7, names[k]);
		if (bin[k] == 0)
			assert_true(c == 0); /* exactly zero, not small */
	}
	assert_close(intercept_of(m, NULL), 0.935775256053, 1e-7, "l1 intercept");
	ml_model_free(m);
	ml_frame_free(&fr);
	frame_of(t, "ym", &fr);
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	for (size_t k = 0; k < 3; k++) {
		for (size_t j = 0; j < 5; j++)
			assert_close(coef_of(m, cls[k], names[j]), multi[k][j], 1e-6, names[j]);
		assert_close(intercept_of(m, cls[k]), micpt[k], 1e-6, "l1 multinomial intercept");
	}
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/* ---- behaviour ---------------------------------------------------------------------- */

/* Binary: contributions + base = log-odds of class 1 to 1e-9; the
 * probabilities are its sigmoid; one and two threads give the same bytes. */
static void test_explain_and_threads(void **state)
{
	const char *dir = tu_tmpdir();
	char *p1 = tu_path(dir, "1.slm"), *p2 = tu_path(dir, "2.slm");
	ds_table *t = shared_table();
	ml_frame fr;
	ml_model *m;
	logistic_opts o = lopts(LOGISTIC_L2, 1);
	double *X, p[80], ex[160], one[2];

	(void)state;
	frame_of(t, "yb", &fr);
	o.tol = 1e-6;
	o.threads = 1;
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, p1), 0);
	assert_int_equal(ml_frame_matrix(&fr, &X), 0);
	assert_int_equal(ml_model_predict(m, X, 40, p), 0);
	assert_int_equal(sl_model_explain(m, X, 40, 3, ex, 160), 0);
	for (int i = 0; i < 40; i++) {
		double r = ex[i * 4] + ex[i * 4 + 1] + ex[i * 4 + 2] + ex[i * 4 + 3];
		assert_close(r, log(p[i * 2 + 1] / p[i * 2]), 1e-9, "log-odds");
		assert_int_equal(ml_model_predict(m, X + 3 * i, 1, one), 0);
		assert_memory_equal(one, p + 2 * i, sizeof one);
	}
	ml_model_free(m);
	o.threads = 2;
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, p2), 0);
	ml_model_free(m);
	{
		FILE *a = fopen(p1, "rb"), *b = fopen(p2, "rb");
		int ca, cb;
		assert_non_null(a);
		assert_non_null(b);
		do {
			ca = fgetc(a);
			cb = fgetc(b);
			assert_int_equal(ca, cb);
		} while (ca != EOF);
		fclose(a);
		fclose(b);
	}
	free(X);
	ml_frame_free(&fr);
	ds_close(t);
	free(p1);
	free(p2);
	tu_rmdir(dir);
}

/* Separable classes without a penalty: the solver cannot converge and
 * says so, with the numbers and the fix. */
static void test_separable_warning(void **state)
{
	ds_builder *b;
	ds_table *t;
	ml_frame fr;
	ml_model *m;
	logistic_opts o = lopts(LOGISTIC_NONE, 1);

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "x", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "y", DS_BOOL, NULL);
	for (int i = 0; i < 20; i++) {
		ds_append_f64(b, 0, i);
		ds_append_bool(b, 1, i >= 10);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .task = ML_MULTICLASS},
					&fr),
			 0);
	o.max_iter = 30;
	assert_int_equal(logistic_fit(&fr, &o, &m), 0);
	assert_true(json_is_false(json_object_get(m->info, "converged")));
	assert_non_null(strstr(json_string_value(json_array_get(
					   json_object_get(m->info, "warnings"), 0)),
			       "use penalty: l2"));
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

static void test_refusals(void **state)
{
	logistic_opts o = lopts(LOGISTIC_L2, 0);
	const step_def *def = step_find("train.logistic");
	step_problem pb;
	json_t *with;

	(void)state;
	assert_int_equal(logistic_opts_check(&o), SL_EINVAL);
	assert_msg_has("C must be a number > 0");
	with = json_pack("{s:s, s:s}", "target", "y", "class_weight", "balancd");
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_non_null(strstr(pb.msg, "not 'balancd' (did you mean 'balanced'?)"));
	json_decref(with);
	with = json_pack("{s:s, s:s}", "target", "y", "penalty", "l3");
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_non_null(strstr(pb.msg, "must be one of l2, l1 or none, not 'l3'"));
	json_decref(with);
	with = json_pack("{s:s, s:f}", "target", "y", "C", -2.0);
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_non_null(strstr(pb.msg, "option 'C' of train.logistic must be above 0, not -2"));
	json_decref(with);
}

/* The step end to end, with a validation input. */
static void test_step(void **state)
{
	const char *dir = tu_tmpdir();
	char *in = tu_path(dir, "train.ds"), *out = tu_path(dir, "model.slm");
	const char *in_names[] = {"train", "valid"}, *in_paths[] = {in, in};
	const char *out_names[] = {"model"}, *out_paths[] = {out};
	ds_table *t = shared_table();
	tu_run r = {0};
	sl_model *m;
	json_t *with;

	(void)state;
	assert_int_equal(ds_table_write(t, in), 0);
	ds_close(t);
	with = json_pack("{s:s, s:f, s:[s,s,s], s:f}", "target", "yb", "C", 0.5, "features", "x1",
			 "x2", "c", "tol", 1e-11);
	assert_int_equal(tu_run_step(&r, "train.logistic", dir, with, in_names, in_paths, 2,
				     out_names, out_paths, 1),
			 0);
	assert_true(json_real_value(json_object_get(r.metrics, "valid_auc")) > 0.8);
	assert_non_null(strstr(r.log, "converged: yes"));
	assert_int_equal(sl_model_load(out, &m), 0);
	assert_string_equal(sl_model_algorithm(m), "logistic");
	assert_close(coef_of(m, NULL, "x1"), 1.27460203837, 1e-8, "step x1");
	sl_model_free(m);
	json_decref(with);
	tu_run_free(&r);
	free(in);
	free(out);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lbfgs),
		cmocka_unit_test(test_binary_l2),
		cmocka_unit_test(test_multinomial_l2),
		cmocka_unit_test(test_dense_path),
		cmocka_unit_test(test_l1),
		cmocka_unit_test(test_explain_and_threads),
		cmocka_unit_test(test_separable_warning),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
