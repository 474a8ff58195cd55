/*
 * train.linear and what the linear families share (glm.c, dense.c):
 * closed-form OLS and ridge against exactly known coefficients and against
 * scikit-learn, lasso and elastic net against the soft-threshold solution
 * of an orthonormal design and against scikit-learn; collinear columns and
 * missing values refused by name; contributions that sum to the raw score;
 * the one-hot mapping through save and load; row by row == batch; the same
 * model file whatever the thread count; the step end to end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/dense.h"
#include "ml/glm.h"
#include "sluice/model.h"
#include "steps/step.h"
#include "testutil.h"

/* ---- the shared data set ------------------------------------------------- */

/*
 * 40 rows: x1, x2 (float64), c (string a/b/c), yb (binary int), ym (three
 * classes, int), yr (float64), all from closed formulas that the scikit-
 * learn script which produced the reference constants evaluated too:
 *   x1 = 3 sin(0.7 i), x2 = cos(1.3 i) + i / 40, c = "abc"[i % 3],
 *   noise = 1.5 sin(2.1 i)
 *   yb = x1 + x2 / 2 + [c == b] + noise > 0
 *   ym = 0, 1, 2 as x1 - x2 + noise is < -1, < 1.2, else
 *   yr = 1.5 + 2 x1 - 0.7 x2 + {a: 0.9, b: 0, c: -0.4} + 0.3 noise
 * The one-hot columns of c come in dictionary order a, b, c.
 */
static ds_table *shared_table(bool null_in_x2)
{
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "x1", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "x2", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "c", DS_STRING, NULL);
	ds_builder_add_col(b, "yb", DS_INT64, NULL);
	ds_builder_add_col(b, "ym", DS_INT64, NULL);
	ds_builder_add_col(b, "yr", DS_FLOAT64, NULL);
	for (int i = 0; i < 40; i++) {
		double x1 = sin(i * 0.7) * 3, x2 = cos(i * 1.3) + i / 40.0, noise = sin(i * 2.1) * 1.5;
		char c = "abc"[i % 3];
		double s = x1 - x2 + noise;
		assert_int_equal(ds_append_f64(b, 0, x1), 0);
		if (null_in_x2 && i == 6)
			assert_int_equal(ds_append_null(b, 1), 0);
		else
			assert_int_equal(ds_append_f64(b, 1, x2), 0);
		assert_int_equal(ds_append_str(b, 2, &c, 1), 0);
		assert_int_equal(ds_append_i64(b, 3, x1 + 0.5 * x2 + (c == 'b') + noise > 0), 0);
		assert_int_equal(ds_append_i64(b, 4, s < -1 ? 0 : s < 1.2 ? 1 : 2), 0);
		assert_int_equal(ds_append_f64(b, 5,
					       1.5 + 2 * x1 - 0.7 * x2 +
						       (c == 'a' ? 0.9 : c == 'c' ? -0.4 : 0) +
						       0.3 * noise),
				 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static const char *const feats[] = {"x1", "x2", "c"};

static void frame_of(const ds_table *t, const char *target, ml_task task, ml_frame *fr)
{
	ml_frame_opts o = {.target = target, .task = task, .features = feats, .n_features = 3,
			   .allow_strings = true, .step = "train.linear"};

	assert_int_equal(ml_frame_build(t, &o, fr), 0);
}

static double coef_of(const ml_model *m, const char *name)
{
	json_t *v = json_object_get(json_object_get(m->info, "coefficients"), name);

	if (!json_is_number(v))
		fail_msg("no coefficient '%s'", name);
	return json_number_value(v);
}

static double intercept_of(const ml_model *m)
{
	return json_number_value(json_object_get(m->info, "intercept"));
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

static linear_opts lopts(linear_method m, double alpha)
{
	return (linear_opts){.method = m, .alpha = alpha, .l1_ratio = 0.5, .fit_intercept = true,
			     .max_iter = 100000, .tol = 1e-12};
}

/* ---- dense kernels ------------------------------------------------------------ */

/* The Gram matrix against the naive sum, and Cholesky solving a system
 * whose solution is known, across a block boundary (q = 70 > 64). */
static void test_dense_kernels(void **state)
{
	enum { N = 301, Q = 70 };
	double *Z = malloc(N * Q * sizeof *Z), *G = malloc(Q * Q * sizeof *G);
	double *w = malloc(N * sizeof *w), *y = malloc(N * sizeof *y), zy[Q], diag[Q], x[Q], b[Q];

	(void)state;
	for (size_t i = 0; i < N; i++) {
		for (size_t j = 0; j < Q; j++)
			Z[i * Q + j] = (double)((i * 2654435761u + j * 40503u) % 1009) / 1009.0 +
				       (i % 7 == j % 5);
		w[i] = 0.5 + (double)(i % 3);
		y[i] = cos((double)i);
	}
	assert_int_equal(dense_gram(Z, N, Q, w, y, 2, G, zy), 0);
	for (size_t a = 0; a < Q; a += 7)
		for (size_t c = 0; c < Q; c += 5) {
			double s = 0;
			for (size_t i = 0; i < N; i++)
				s += w[i] * Z[i * Q + a] * Z[i * Q + c];
			assert_close(G[a * Q + c], s, 1e-9, "gram");
		}
	/* Solve G x = G 1: x = 1. */
	for (size_t a = 0; a < Q; a++) {
		b[a] = 0;
		for (size_t c = 0; c < Q; c++)
			b[a] += G[a * Q + c];
		diag[a] = G[a * Q + a];
	}
	memcpy(x, b, sizeof x);
	assert_int_equal(dense_cholesky(G, Q, diag, 1e-12), 0);
	dense_chol_solve(G, Q, x);
	for (size_t a = 0; a < Q; a++)
		assert_close(x[a], 1, 1e-8, "cholesky solve");
	/* A column equal to another plus a third: rank deficient at it. */
	for (size_t i = 0; i < N; i++)
		Z[i * Q + 66] = Z[i * Q + 3] - 2 * Z[i * Q + 65];
	assert_int_equal(dense_gram(Z, N, Q, NULL, NULL, 1, G, NULL), 0);
	for (size_t a = 0; a < Q; a++)
		diag[a] = G[a * Q + a];
	assert_int_equal(dense_cholesky(G, Q, diag, 1e-10), -1 - 66);
	free(Z);
	free(G);
	free(w);
	free(y);
}

/* ---- closed form --------------------------------------------------------------- */

/* y is exactly 2 + 3 x1 - 0.5 x2 + {a: 0, b: 1.25, c: -2}: OLS recovers it
 * (the reference level a is the one left out, coefficient 0). */
static void test_ols_exact(void **state)
{
	ds_table *t;
	ds_builder *b;
	ml_frame fr;
	ml_model *m;
	linear_opts o = lopts(LINEAR_OLS, 0);

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "x1", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "x2", DS_INT64, NULL);
	ds_builder_add_col(b, "c", DS_STRING, NULL);
	ds_builder_add_col(b, "y", DS_FLOAT64, NULL);
	for (int i = 0; i < 12; i++) {
		double x1 = i * 0.5 - 1;
		int64_t x2 = (i * 7) % 5;
		const char *c = i % 3 == 0 ? "b" : i % 3 == 1 ? "c" : "a";
		ds_append_f64(b, 0, x1);
		ds_append_i64(b, 1, x2);
		ds_append_str(b, 2, c, 1);
		ds_append_f64(b, 3, 2 + 3 * x1 - 0.5 * (double)x2 +
					    (*c == 'b' ? 1.25 : *c == 'c' ? -2 : 0));
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .task = ML_REGRESSION,
							     .allow_strings = true},
					&fr),
			 0);
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	assert_close(intercept_of(m), 2, 1e-12, "intercept");
	assert_close(coef_of(m, "x1"), 3, 1e-12, "x1");
	assert_close(coef_of(m, "x2"), -0.5, 1e-12, "x2");
	assert_true(coef_of(m, "c=a") == 0);
	assert_close(coef_of(m, "c=b"), 1.25, 1e-12, "c=b");
	assert_close(coef_of(m, "c=c"), -2, 1e-12, "c=c");
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/*
 * Ridge with one feature has w = Sxy / (Sxx + alpha) (centred sums); on the
 * shared set with one-hot columns it matches scikit-learn's Ridge(alpha=2):
 *   Ridge(alpha=2.0).fit(X, yr), X = [x1, x2, c==a, c==b, c==c]
 */
static void test_ridge(void **state)
{
	ds_table *t = shared_table(false);
	static const double want[] = {1.97829787241, -0.644685055153, 0.680581476396,
				      0.168431823839, -0.849013300235};
	static const char *const names[] = {"x1", "x2", "c=a", "c=b", "c=c"};
	ml_frame fr;
	ml_model *m;
	linear_opts o = lopts(LINEAR_RIDGE, 2);

	(void)state;
	frame_of(t, "yr", ML_REGRESSION, &fr);
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	for (size_t k = 0; k < 5; k++)
		assert_close(coef_of(m, names[k]), want[k], 1e-9, names[k]);
	assert_close(intercept_of(m), 1.64476965322, 1e-9, "intercept");
	ml_model_free(m);
	ml_frame_free(&fr);
	/* One feature, by hand. */
	{
		double sx = 0, sy = 0, sxx = 0, sxy = 0, col[40];
		ml_frame_opts fo = {.target = "yr", .task = ML_REGRESSION,
				    .features = (const char *[]){"x1"}, .n_features = 1};
		assert_int_equal(ml_frame_build(t, &fo, &fr), 0);
		ml_frame_column(&fr, 0, col);
		for (int i = 0; i < 40; i++) {
			sx += col[i];
			sy += fr.y[i];
		}
		for (int i = 0; i < 40; i++) {
			sxx += (col[i] - sx / 40) * (col[i] - sx / 40);
			sxy += (col[i] - sx / 40) * (fr.y[i] - sy / 40);
		}
		o.alpha = 7.5;
		assert_int_equal(linear_fit(&fr, &o, &m), 0);
		assert_close(coef_of(m, "x1"), sxy / (sxx + 7.5), 1e-12, "one-feature ridge");
		assert_close(intercept_of(m), sy / 40 - sxy / (sxx + 7.5) * sx / 40, 1e-12,
			     "one-feature intercept");
		ml_model_free(m);
		ml_frame_free(&fr);
	}
	ds_close(t);
}

/* ---- coordinate descent ------------------------------------------------------------ */

/*
 * An orthonormal design: centred columns with X'X / n = I. The elastic net
 * solution is then w_j = S(x_j'y / n, alpha l1_ratio) / (1 + alpha (1 -
 * l1_ratio)), S the soft threshold.
 */
static void test_orthonormal_soft_threshold(void **state)
{
	/* Four rows, Hadamard columns (centred, norm^2 = n = 4). */
	static const double h1[] = {1, -1, 1, -1}, h2[] = {1, 1, -1, -1}, h3[] = {1, -1, -1, 1};
	static const double y[] = {3.0, -1.0, 0.5, 2.0};
	ds_builder *b;
	ds_table *t;
	ml_frame fr;
	ml_model *m;

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "a", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "b", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "c", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "y", DS_FLOAT64, NULL);
	for (int i = 0; i < 4; i++) {
		ds_append_f64(b, 0, h1[i]);
		ds_append_f64(b, 1, h2[i]);
		ds_append_f64(b, 2, h3[i]);
		ds_append_f64(b, 3, y[i]);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .task = ML_REGRESSION},
					&fr),
			 0);
	static const struct {
		linear_method m;
		double alpha, l1;
	} cases[] = {{LINEAR_LASSO, 0.3, 1}, {LINEAR_LASSO, 1.0, 1}, {LINEAR_ELASTICNET, 0.4, 0.5},
		     {LINEAR_ELASTICNET, 2.0, 0.2}, {LINEAR_LASSO, 5.0, 1}};
	for (size_t k = 0; k < SL__ARRAY_LEN(cases); k++) {
		linear_opts o = lopts(cases[k].m, cases[k].alpha);
		const double *cols[] = {h1, h2, h3};
		const char *names[] = {"a", "b", "c"};
		o.l1_ratio = cases[k].l1;
		assert_int_equal(linear_fit(&fr, &o, &m), 0);
		for (size_t j = 0; j < 3; j++) {
			double z = 0, th = cases[k].alpha * cases[k].l1, want;
			for (int i = 0; i < 4; i++)
				z += cols[j][i] * y[i] / 4;
			want = fabs(z) > th ? copysign(fabs(z) - th, z) : 0;
			want /= 1 + cases[k].alpha * (1 - cases[k].l1);
			assert_close(coef_of(m, names[j]), want, 1e-10, names[j]);
		}
		assert_close(intercept_of(m), 1.125, 1e-12, "intercept (mean of y)");
		assert_true(json_is_true(json_object_get(m->info, "converged")));
		ml_model_free(m);
	}
	ml_frame_free(&fr);
	ds_close(t);
}

/*
 * Against scikit-learn on the shared set, X = [x1, x2, c==a, c==b, c==c]:
 *   Lasso(alpha=0.1, tol=1e-12, max_iter=100000).fit(X, yr)
 *   ElasticNet(alpha=0.2, l1_ratio=0.3, tol=1e-12, max_iter=100000).fit(X, yr)
 */
static void test_lasso_enet_sklearn(void **state)
{
	static const char *const names[] = {"x1", "x2", "c=a", "c=b", "c=c"};
	static const double lasso[] = {1.97825971274, -0.527053907097, 0.290878336392, 0,
				       -0.868672946789};
	static const double enet[] = {1.9266573986, -0.483769631193, 0.365572806839, 0,
				      -0.615734452939};
	ds_table *t = shared_table(false);
	ml_frame fr;
	ml_model *m;
	linear_opts o = lopts(LINEAR_LASSO, 0.1);

	(void)state;
	frame_of(t, "yr", ML_REGRESSION, &fr);
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	for (size_t k = 0; k < 5; k++)
		assert_close(coef_of(m, names[k]), lasso[k], 1e-9, names[k]);
	assert_close(intercept_of(m), 1.78133921463, 1e-9, "lasso intercept");
	ml_model_free(m);
	o = lopts(LINEAR_ELASTICNET, 0.2);
	o.l1_ratio = 0.3;
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	for (size_t k = 0; k < 5; k++)
		assert_close(coef_of(m, names[k]), enet[k], 1e-9, names[k]);
	assert_close(intercept_of(m), 1.66043853897, 1e-9, "enet intercept");
	ml_model_free(m);
	/* Too few sweeps: not converged, and the warning says so with numbers. */
	o.max_iter = 1;
	o.tol = 1e-15;
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	assert_true(json_is_false(json_object_get(m->info, "converged")));
	assert_non_null(strstr(json_string_value(json_array_get(
					   json_object_get(m->info, "warnings"), 0)),
			       "without converging: duality gap"));
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/* ---- refusals ----------------------------------------------------------------------- */

static void test_refusals(void **state)
{
	ds_table *t = shared_table(true);
	ml_frame_opts fo = {.target = "yr", .task = ML_REGRESSION, .features = feats,
			    .n_features = 3, .allow_strings = true, .step = "train.linear"};
	ds_builder *b;
	ml_frame fr;
	ml_model *m;
	linear_opts o = lopts(LINEAR_OLS, 0);

	(void)state;
	/* A null in a feature: named, with the fix. */
	assert_int_equal(ml_frame_build(t, &fo, &fr), SL_EINVAL);
	assert_msg_has("feature 'x2' is missing in 1 of 40 rows (first in row 7)");
	assert_msg_has("impute");
	ds_close(t);
	/* Bad options. */
	o = lopts(LINEAR_RIDGE, -1);
	assert_int_equal(linear_opts_check(&o), SL_EINVAL);
	assert_msg_has("alpha must be a number >= 0");
	o = lopts(LINEAR_ELASTICNET, 1);
	o.l1_ratio = 1.5;
	assert_int_equal(linear_opts_check(&o), SL_EINVAL);
	assert_msg_has("l1_ratio must be between 0");
	/* Collinear: z = 2 x - y' exactly. */
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "x", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "w", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "z", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "y", DS_FLOAT64, NULL);
	for (int i = 0; i < 10; i++) {
		ds_append_f64(b, 0, i);
		ds_append_f64(b, 1, (i * i) % 7);
		ds_append_f64(b, 2, 2.0 * i - (i * i) % 7);
		ds_append_f64(b, 3, sin(i));
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .task = ML_REGRESSION},
					&fr),
			 0);
	o = lopts(LINEAR_OLS, 0);
	assert_int_equal(linear_fit(&fr, &o, &m), SL_EINVAL);
	assert_msg_has("'z' is a linear combination of the columns before it");
	assert_msg_has("method: ridge");
	/* Ridge solves it. */
	o = lopts(LINEAR_RIDGE, 0.5);
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/* ---- explanations, file, determinism ------------------------------------------------ */

/* Contributions + base = raw score to 1e-9; a missing value or an unseen
 * category contributes exactly 0; the base is the mean prediction. */
static void test_explain_sums(void **state)
{
	ds_table *t = shared_table(false);
	ml_frame fr;
	ml_model *m;
	double *X, out[40], ex[40 * 4], meanp = 0;
	linear_opts o = lopts(LINEAR_RIDGE, 0.3);

	(void)state;
	frame_of(t, "yr", ML_REGRESSION, &fr);
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_frame_matrix(&fr, &X), 0);
	assert_int_equal(ml_model_predict(m, X, 40, out), 0);
	assert_int_equal(sl_model_explain_groups(m), 1);
	assert_int_equal(sl_model_explain(m, X, 40, 3, ex, 40 * 4), 0);
	for (int i = 0; i < 40; i++) {
		double s = ex[i * 4 + 3];
		for (int j = 0; j < 3; j++)
			s += ex[i * 4 + j];
		assert_close(s, out[i], 1e-9, "contributions + base");
		meanp += out[i] / 40;
	}
	assert_close(ex[3], meanp, 1e-9, "base value = mean training prediction");
	/* Row 0 with x2 missing and c unseen (code 7 and NaN). */
	double row[3] = {X[0], NAN, 7}, one[4];
	assert_int_equal(sl_model_explain(m, row, 1, 3, one, 4), 0);
	assert_true(one[1] == 0 && one[2] == 0);
	row[2] = NAN;
	assert_int_equal(sl_model_explain(m, row, 1, 3, one, 4), 0);
	assert_true(one[2] == 0);
	assert_close(one[0], ex[0], 1e-15, "x1 unchanged");
	free(X);
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
	b = malloc(*len + 1);
	assert_int_equal(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

/* The one-hot mapping through save and load: a new table whose string
 * dictionary is in another order predicts the same; row by row equals the
 * batch; one and two threads give the same file, byte for byte. */
static void test_file_round_trip(void **state)
{
	const char *dir = tu_tmpdir();
	char *p1 = tu_path(dir, "a.slm"), *p2 = tu_path(dir, "b.slm");
	ds_table *t = shared_table(false), *u;
	ds_builder *b;
	ml_frame fr;
	ml_model *m;
	sl_model *lm;
	double *X, *XU, out[40], back[40], one[1], code;
	linear_opts o = lopts(LINEAR_ELASTICNET, 0.05);
	size_t l1, l2;

	(void)state;
	frame_of(t, "yr", ML_REGRESSION, &fr);
	o.threads = 1;
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, p1), 0);
	assert_int_equal(ml_frame_matrix(&fr, &X), 0);
	assert_int_equal(ml_model_predict(m, X, 40, out), 0);
	ml_model_free(m);
	o.threads = 2;
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	assert_int_equal(ml_model_save(m, NULL, p2), 0);
	ml_model_free(m);
	unsigned char *b1 = slurp(p1, &l1), *b2 = slurp(p2, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	free(b1);
	free(b2);

	assert_int_equal(sl_model_load(p1, &lm), 0);
	assert_string_equal(sl_model_algorithm(lm), "linear");
	assert_int_equal(sl_model_input_code(lm, 2, "c", &code), 0);
	assert_true(code == 2);
	/* The same rows, c's dictionary built in reverse order. */
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "c", DS_STRING, NULL);
	ds_builder_add_col(b, "x2", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "x1", DS_FLOAT64, NULL);
	ds_append_str(b, 0, "c", 1);
	ds_append_f64(b, 1, 0);
	ds_append_f64(b, 2, 0);
	for (int i = 0; i < 40; i++) {
		char c = "abc"[i % 3];
		ds_append_str(b, 0, &c, 1);
		ds_append_f64(b, 1, X[i * 3 + 1]);
		ds_append_f64(b, 2, X[i * 3 + 0]);
	}
	assert_int_equal(ds_builder_finish(b, &u), 0);
	ds_builder_free(b);
	assert_int_equal(ml_frame_apply(&lm->sig, u, &XU, NULL), 0);
	assert_int_equal(sl_model_predict(lm, XU + 3, 40, 3, back, 40), 0);
	assert_memory_equal(back, out, sizeof out);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(sl_model_predict(lm, XU + 3 * (i + 1), 1, 3, one, 1), 0);
		assert_memory_equal(one, &out[i], sizeof one);
	}
	free(XU);
	ds_close(u);
	free(X);
	sl_model_free(lm);
	ml_frame_free(&fr);
	ds_close(t);
	free(p1);
	free(p2);
	tu_rmdir(dir);
}

/* A damaged column index in the file is refused, not followed. */
static void test_load_checks(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "m.slm");
	ds_table *t = shared_table(false);
	ml_frame fr;
	ml_model *m;
	linear_opts o = lopts(LINEAR_RIDGE, 1);
	mfile_writer *w;
	int32_t col[3] = {0, 9, -1};

	(void)state;
	frame_of(t, "yr", ML_REGRESSION, &fr);
	assert_int_equal(linear_fit(&fr, &o, &m), 0);
	/* Rewrite the sections with a column index out of range. */
	assert_int_equal(mfile_writer_new(&w), 0);
	assert_int_equal(glm_save(m, w), 0);
	mfile_writer_free(w);
	{
		json_t *man = json_pack("{s:s, s:s}", "kind", "model", "algorithm", "linear");
		json_t *sig;
		const void *v;
		mfile *f;
		ml_model *back;
		assert_int_equal(ml_signature_to_json(&m->sig, &sig), 0);
		json_object_set_new(man, "signature", sig);
		assert_int_equal(mfile_writer_new(&w), 0);
		uint64_t dims[2] = {5, 1};
		double zeros[5] = {0};
		int32_t cat[3] = {2, 3, 4};
		mfile_add(w, "glm_dims", dims, sizeof dims);
		mfile_add(w, "glm_col", col, sizeof col);
		mfile_add(w, "glm_cat", cat, sizeof cat);
		mfile_add(w, "glm_mean", zeros, sizeof zeros);
		mfile_add(w, "glm_coef", zeros, sizeof zeros);
		mfile_add(w, "glm_base", zeros, sizeof(double));
		assert_int_equal(mfile_write(w, man, path), 0);
		mfile_writer_free(w);
		json_decref(man);
		assert_int_equal(ml_model_load(path, &back), SL_ECORRUPT);
		assert_msg_has("feature 1 has column 9 of 5");
		(void)v;
		(void)f;
	}
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	free(path);
	tu_rmdir(dir);
}

/* ---- the step ------------------------------------------------------------------------ */

static void test_step(void **state)
{
	const char *dir = tu_tmpdir();
	char *in = tu_path(dir, "train.ds"), *out = tu_path(dir, "model.slm");
	const char *in_names[] = {"train"}, *in_paths[] = {in};
	const char *out_names[] = {"model"}, *out_paths[] = {out};
	ds_table *t = shared_table(false);
	tu_run r = {0};
	sl_model *m;
	json_t *with;

	(void)state;
	assert_int_equal(ds_table_write(t, in), 0);
	ds_close(t);
	with = json_pack("{s:s, s:s, s:f, s:[s,s,s]}", "target", "yr", "method", "ridge", "alpha",
			 2.0, "features", "x1", "x2", "c");
	assert_int_equal(tu_run_step(&r, "train.linear", dir, with, in_names, in_paths, 1,
				     out_names, out_paths, 1),
			 0);
	assert_true(json_real_value(json_object_get(r.metrics, "train_r2")) > 0.95);
	assert_int_equal(sl_model_load(out, &m), 0);
	assert_close(coef_of(m, "x1"), 1.97829787241, 1e-9, "step ridge x1");
	sl_model_free(m);
	json_decref(with);
	/* A method that does not exist, caught by the parse-time check. */
	{
		const step_def *def = step_find("train.linear");
		step_problem pb;
		with = json_pack("{s:s, s:s}", "target", "yr", "method", "ridgid");
		assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
		assert_string_equal(pb.path, "method");
		assert_non_null(strstr(pb.msg, "not 'ridgid' (did you mean 'ridge'?)"));
		json_decref(with);
		with = json_pack("{s:s, s:s, s:f}", "target", "yr", "method", "ridge", "alpha", -1.0);
		assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
		assert_string_equal(pb.path, "alpha");
		assert_non_null(strstr(pb.msg, "must be at least 0, not -1"));
		json_decref(with);
	}
	tu_run_free(&r);
	free(in);
	free(out);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense_kernels),
		cmocka_unit_test(test_ols_exact),
		cmocka_unit_test(test_ridge),
		cmocka_unit_test(test_orthonormal_soft_threshold),
		cmocka_unit_test(test_lasso_enet_sklearn),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_explain_sums),
		cmocka_unit_test(test_file_round_trip),
		cmocka_unit_test(test_load_checks),
		cmocka_unit_test(test_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
