/*
 * Gradient-boosted trees (src/ml/gbdt*.c): the first split equals an
 * exhaustive search over every threshold and default direction; training
 * is deterministic (two runs, and 1 vs 2 threads, give the same file
 * bytes; split search cut into feature ranges keeps a single scan's tie
 * rule); predicting row by row equals predicting in a batch, before and
 * after save + load, and the blocked batch layout for any batch size (a
 * missing value found in any position of a wide row); TreeSHAP contributions sum to the raw score and equal
 * brute-force Shapley values on small trees (per class for multiclass);
 * missing-value directions and categorical splits are learned on data
 * that needs them; early stopping stops and keeps the best round; bad
 * options and damaged model files are refused with messages that say why.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/gbdt.h"
#include "rng.h"
#include "sluice/model.h"
#include "steps/step.h"
#include "testutil.h"

static void assert_msg_has(const char *needle)
{
	if (!strstr(sl_errmsg(), needle))
		fail_msg("message '%s' lacks '%s'", sl_errmsg(), needle);
}

static double sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

/* A fit on column-major data, asserting success. */
static gbdt_model *fit(const gbdt_params *p, const double *X, size_t n, size_t np,
		       const uint32_t *n_cat, const double *y, gbdt_report *rep)
{
	gbdt_data d = {n, np, X, 1, n, NULL, NULL, n_cat, y};
	gbdt_model *g = NULL;

	if (gbdt_fit(p, &d, NULL, &g, rep) != 0)
		fail_msg("gbdt_fit: %s", sl_errmsg());
	return g;
}

/* Row i of column-major X (n rows, np features) into row. */
static void row_of(const double *X, size_t n, size_t np, size_t i, double *row)
{
	for (size_t j = 0; j < np; j++)
		row[j] = X[j * n + i];
}

/* ---- the first split against an exhaustive search ------------------------------ */

typedef struct cand {
	double gain;
	size_t f, b;   /* left: values <= v[b] */
	int dir;       /* 1: missing left */
	double GL, HL;
} cand;

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Every threshold between distinct values, with missing rows on the right
 * and then on the left, in the order the trainer scans (feature, side,
 * threshold), keeping the first of equal gains.
 */
static cand exhaustive(const double *X, size_t n, size_t np, const double *g, const double *h,
		       double lambda, double mcw)
{
	cand best = {0};
	double G = 0, H = 0, *v = malloc(n * sizeof *v);

	for (size_t i = 0; i < n; i++) {
		G += g[i];
		H += h[i];
	}
	best.gain = 0;
	for (size_t f = 0; f < np; f++) {
		const double *x = X + f * n;
		size_t d = 0, nm = 0;
		double Gm = 0, Hm = 0;
		for (size_t i = 0; i < n; i++) {
			if (isnan(x[i])) {
				Gm += g[i];
				Hm += h[i];
				nm++;
			} else {
				v[d++] = x[i];
			}
		}
		qsort(v, d, sizeof *v, cmp_d);
		size_t u = 0;
		for (size_t i = 0; i < d; i++)
			if (i == 0 || v[i] != v[u - 1])
				v[u++] = v[i];
		for (int dir = 0; dir < (nm ? 2 : 1); dir++) {
			for (size_t b = 0; b < u; b++) {
				double GL = dir ? Gm : 0, HL = dir ? Hm : 0, gain;
				if (b + 1 == u && (dir || !nm))
					break;
				for (size_t i = 0; i < n; i++)
					if (!isnan(x[i]) && x[i] <= v[b]) {
						GL += g[i];
						HL += h[i];
					}
				if (HL < mcw || H - HL < mcw || HL <= 0 || H - HL <= 0)
					continue;
				gain = GL * GL / (HL + lambda) + (G - GL) * (G - GL) / (H - HL + lambda) -
				       G * G / (H + lambda);
				if (gain > best.gain)
					best = (cand){gain, f, b, dir, GL, HL};
			}
		}
	}
	free(v);
	return best;
}

/* The i-th smallest distinct non-NaN value of column f. */
static double distinct_value(const double *X, size_t n, size_t f, size_t b)
{
	double *v = malloc(n * sizeof *v), r;
	size_t d = 0, u = 0;

	for (size_t i = 0; i < n; i++)
		if (!isnan(X[f * n + i]))
			v[d++] = X[f * n + i];
	qsort(v, d, sizeof *v, cmp_d);
	for (size_t i = 0; i < d; i++)
		if (i == 0 || v[i] != v[u - 1])
			v[u++] = v[i];
	r = b < u ? v[b] : INFINITY;
	free(v);
	return r;
}

static void check_first_split(ml_task obj)
{
	enum { N = 300, NP = 3 };
	double *X = malloc(N * NP * sizeof *X), y[N], g[N], h[N], base, pr;
	gbdt_params p;
	gbdt_model *m;
	sl__rng r;
	cand c;

	sl__rng_seed(&r, 11);
	for (size_t i = 0; i < N; i++) {
		double a = floor(sl__rng_uniform(&r) * 20) / 20, b = (double)sl__rng_below(&r, 31);
		double e = round(sl__rng_normal(&r) * 10) / 10;
		X[i] = sl__rng_uniform(&r) < 0.1 ? NAN : a;
		X[N + i] = b;
		X[2 * N + i] = e;
		double s = 2.0 * (b > 17) + (isnan(X[i]) ? 1.5 : a) + 0.7 * e + sl__rng_normal(&r);
		y[i] = obj == ML_REGRESSION ? s : (s > 1.8);
	}
	gbdt_params_default(&p);
	p.objective = obj;
	p.n_classes = obj == ML_BINARY ? 2 : 0;
	p.rounds = 1;
	p.max_depth = 1;
	p.learning_rate = 1;
	p.threads = 1;
	m = fit(&p, X, N, NP, NULL, y, NULL);
	/* The gradients at the base score, as the trainer computes them. */
	base = m->base[0];
	pr = sigmoid(base);
	for (size_t i = 0; i < N; i++) {
		g[i] = obj == ML_REGRESSION ? base - y[i] : pr - y[i];
		h[i] = obj == ML_REGRESSION ? 1 : pr * (1 - pr);
	}
	c = exhaustive(X, N, NP, g, h, p.lambda, p.min_child_weight);
	assert_true(c.gain > 0);
	assert_int_equal(m->n_trees, 1);
	assert_int_equal(m->n_nodes, 3);
	{
		const gbdt_node *root = &m->nodes[0];
		double lo = distinct_value(X, N, c.f, c.b), hi = distinct_value(X, N, c.f, c.b + 1);
		double G = 0, H = 0;
		bool dl = (root->info & GBDT_NODE_DEFAULT_LEFT) != 0;
		bool has_missing = false;
		for (size_t i = 0; i < N; i++) {
			G += g[i];
			H += h[i];
			has_missing |= isnan(X[c.f * N + i]);
		}
		assert_int_equal(root->info & GBDT_NODE_FEATURE, c.f);
		assert_false(root->info & GBDT_NODE_CAT);
		/* Any threshold in (v[b], v[b+1]] makes the same split. */
		assert_true(root->value > lo && root->value <= hi);
		if (has_missing)
			assert_int_equal(dl, c.dir == 1);
		else
			assert_int_equal(dl, c.HL >= H - c.HL); /* the heavier side */
		/* Leaf values: the Newton step of each side, from exact gradients. */
		assert_true(fabs(m->nodes[1].value - (-c.GL / (c.HL + p.lambda))) < 1e-9);
		assert_true(fabs(m->nodes[2].value - (-(G - c.GL) / (H - c.HL + p.lambda))) < 1e-9);
		assert_true(fabs(m->gain[0] - c.gain) < 1e-6 * c.gain);
	}
	gbdt_model_free(m);
	free(X);
}

static void test_first_split_regression(void **state)
{
	(void)state;
	check_first_split(ML_REGRESSION);
}

static void test_first_split_binary(void **state)
{
	(void)state;
	check_first_split(ML_BINARY);
}

/* ---- tables through frames (the step's path) ----------------------------------- */

/*
 * n rows: x0 (float64, ~5% NaN), x1 (float64), c (string, 8 categories,
 * some nulls), k (int64), and a target: "yes"/"no" (binary), one of
 * three strings (multiclass), or a number (regression).
 */
static ds_table *mixed_table(size_t n, ml_task task, uint64_t seed)
{
	static const char *const cats[] = {"ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"};
	static const char *const three[] = {"low", "mid", "top"};
	ds_builder *b;
	ds_table *t;
	sl__rng r;

	sl__rng_seed(&r, seed);
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "x0", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "x1", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "c", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "k", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "y", task == ML_REGRESSION ? DS_FLOAT64 : DS_STRING,
					    NULL),
			 0);
	for (size_t i = 0; i < n; i++) {
		double x0 = sl__rng_normal(&r), x1 = sl__rng_uniform(&r) * 4;
		size_t c = (size_t)sl__rng_below(&r, 8);
		int64_t k = (int64_t)sl__rng_below(&r, 50);
		bool miss = sl__rng_uniform(&r) < 0.05, cnull = sl__rng_uniform(&r) < 0.03;
		double s = (miss ? 0.8 : x0) + (c == 1 || c == 4 || c == 6 ? 1.0 : -0.5) +
			   sin(2 * x1) + 0.02 * (double)k + 0.5 * sl__rng_normal(&r);
		assert_int_equal(ds_append_f64(b, 0, miss ? NAN : x0), 0);
		assert_int_equal(ds_append_f64(b, 1, x1), 0);
		if (cnull)
			assert_int_equal(ds_append_null(b, 2), 0);
		else
			assert_int_equal(ds_append_str(b, 2, cats[c], strlen(cats[c])), 0);
		assert_int_equal(ds_append_i64(b, 3, k), 0);
		if (task == ML_REGRESSION) {
			assert_int_equal(ds_append_f64(b, 4, s), 0);
		} else {
			const char *lab = task == ML_BINARY ? (s > 0.7 ? "yes" : "no")
							    : three[s < 0 ? 0 : s < 1.2 ? 1 : 2];
			assert_int_equal(ds_append_str(b, 4, lab, strlen(lab)), 0);
		}
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

static ml_model *train_frame(const ds_table *t, const gbdt_params *p, ml_frame *fr)
{
	ml_frame_opts o = {.target = "y", .task = p->objective, .allow_missing = true,
			   .allow_strings = true, .step = "train.gbdt"};
	ml_model *m;

	assert_int_equal(ml_frame_build(t, &o, fr), 0);
	if (gbdt_train(p, fr, NULL, NULL, 0, &m) != 0)
		fail_msg("gbdt_train: %s", sl_errmsg());
	return m;
}

/* Trains on t with p and returns the model file's bytes. */
static unsigned char *model_bytes(const ds_table *t, const gbdt_params *p, const char *dir,
				  size_t *len)
{
	char *path = tu_path(dir, "m.slm");
	ml_frame fr;
	ml_model *m = train_frame(t, p, &fr);
	unsigned char *b;

	assert_int_equal(ml_model_save(m, NULL, path), 0);
	b = tu_read(path, len);
	ml_model_free(m);
	ml_frame_free(&fr);
	free(path);
	return b;
}

/* Trains with 2 threads and with 1: the model files are the same bytes. */
static void assert_thread_independent(const ds_table *t, gbdt_params p, const char *dir)
{
	size_t l1, l2;
	unsigned char *a, *b;

	p.threads = 2;
	a = model_bytes(t, &p, dir, &l1);
	p.threads = 1;
	b = model_bytes(t, &p, dir, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(a, b, l1);
	free(a);
	free(b);
}

/* The fewest and most leaves of the trees of a model trained on t with p. */
static void leaf_counts(const ds_table *t, const gbdt_params *p, uint32_t *lo, uint32_t *hi)
{
	ml_frame fr;
	ml_model *m = train_frame(t, p, &fr);
	const gbdt_model *g = gbdt_of(m);

	*lo = UINT32_MAX;
	*hi = 0;
	for (uint32_t tr = 0; tr < g->n_trees; tr++) {
		uint32_t leaves = 0;
		for (uint32_t i = g->tree[tr]; i < g->tree[tr + 1]; i++)
			leaves += g->nodes[i].left == 0;
		*lo = leaves < *lo ? leaves : *lo;
		*hi = leaves > *hi ? leaves : *hi;
	}
	ml_model_free(m);
	ml_frame_free(&fr);
}

static void test_deterministic(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *t = mixed_table(30000, ML_BINARY, 5);
	gbdt_params p;
	size_t l1, l2;
	unsigned char *a, *b;
	uint32_t lo, hi;

	(void)state;
	gbdt_params_default(&p);
	p.rounds = 12;
	p.subsample = 0.8;
	p.colsample = 0.75;
	p.seed = 9;
	p.threads = 2;
	/* Two runs: the same bytes; 2 threads and 1: the same bytes. */
	a = model_bytes(t, &p, dir, &l1);
	b = model_bytes(t, &p, dir, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(a, b, l1);
	free(b);
	assert_thread_independent(t, p, dir);
	/* Another seed samples other rows: another model. */
	p.seed = 10;
	b = model_bytes(t, &p, dir, &l2);
	assert_true(l2 != l1 || memcmp(a, b, l1) != 0);
	free(a);
	free(b);
	/* Leaf-wise growth too, with a leaf budget it keeps. */
	p.growth = GBDT_LEAFWISE;
	p.max_leaves = 7;
	p.max_depth = 0;
	assert_thread_independent(t, p, dir);
	leaf_counts(t, &p, &lo, &hi);
	assert_true(lo >= 2 && hi <= 7);
	/* Trees of more leaves than the per-block leaf sums take: each leaf
	 * gathers its rows instead, deterministic all the same. */
	p.max_leaves = 3000;
	p.min_child_weight = 0.01;
	p.rounds = 2;
	assert_thread_independent(t, p, dir);
	leaf_counts(t, &p, &lo, &hi);
	assert_true(hi > 1024);
	ds_close(t);
	tu_rmdir(dir);
}

/*
 * Split search cut into feature ranges on several threads finds what one
 * scan over all features finds, ties included: with three signals each
 * copied four times, interleaved (a b c a b c ...), every range holds a
 * copy of each, and every split must still use the first copy (features
 * 0-2), the one a single scan meets first. 1 and 2 threads: the same trees.
 */
static void test_split_search_ties(void **state)
{
	enum { N = 20000, NP = 12 };
	double *X = malloc((size_t)N * NP * sizeof *X), *y = malloc(N * sizeof *y);
	sl__rng r;
	gbdt_params p;

	(void)state;
	sl__rng_seed(&r, 77);
	for (size_t i = 0; i < N; i++) {
		double a = sl__rng_normal(&r), b = sl__rng_uniform(&r), c = sl__rng_normal(&r);
		for (size_t k = 0; k < NP / 3; k++) {
			X[(3 * k) * N + i] = a;
			X[(3 * k + 1) * N + i] = b;
			X[(3 * k + 2) * N + i] = c;
		}
		y[i] = sl__rng_uniform(&r) < sigmoid(2 * a - 3 * (b > 0.5) + c * c - 1) ? 1 : 0;
	}
	for (int leafwise = 0; leafwise < 2; leafwise++) {
		gbdt_model *g[2];
		gbdt_params_default(&p);
		p.objective = ML_BINARY;
		p.n_classes = 2;
		p.rounds = 8;
		if (leafwise) {
			p.growth = GBDT_LEAFWISE;
			p.max_leaves = 15;
			p.max_depth = 0;
		}
		for (unsigned t = 0; t < 2; t++) {
			p.threads = t + 1;
			g[t] = fit(&p, X, N, NP, NULL, y, NULL);
		}
		assert_int_equal(g[0]->n_nodes, g[1]->n_nodes);
		assert_memory_equal(g[0]->nodes, g[1]->nodes, g[0]->n_nodes * sizeof *g[0]->nodes);
		assert_memory_equal(g[0]->gain, g[1]->gain, g[0]->n_nodes * sizeof *g[0]->gain);
		for (uint32_t v = 0; v < g[0]->n_nodes; v++)
			if (g[0]->nodes[v].left)
				assert_true((g[0]->nodes[v].info & GBDT_NODE_FEATURE) < 3);
		gbdt_model_free(g[0]);
		gbdt_model_free(g[1]);
	}
	free(X);
	free(y);
}

/* Row by row == batch (the batch split across the pool), and == after save + load. */
static void test_predict_rows_batch_reload(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "m.slm");
	ml_task tasks[] = {ML_BINARY, ML_MULTICLASS, ML_REGRESSION};

	(void)state;
	for (size_t ti = 0; ti < 3; ti++) {
		ds_table *t = mixed_table(6000, tasks[ti], 21 + ti);
		gbdt_params p;
		ml_frame fr;
		ml_model *m;
		sl_model *lm;
		double *X, *batch, *one, *again;
		size_t n = ds_nrow(t), k;

		gbdt_params_default(&p);
		p.rounds = 15;
		p.objective = tasks[ti];
		m = train_frame(t, &p, &fr);
		k = m->sig.n_outputs;
		assert_int_equal(ml_frame_apply(&m->sig, t, &X, NULL), 0);
		batch = malloc(n * k * sizeof *batch);
		one = malloc(n * k * sizeof *one);
		again = malloc(n * k * sizeof *again);
		assert_int_equal(ml_model_predict(m, X, n, batch), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(ml_model_predict(m, X + i * m->sig.n_features, 1, one + i * k), 0);
		assert_memory_equal(batch, one, n * k * sizeof *batch);
		if (k > 1)
			for (size_t i = 0; i < n; i++) {
				double s = 0;
				for (size_t c = 0; c < k; c++)
					s += batch[i * k + c];
				assert_true(fabs(s - 1) < 1e-12);
			}
		if (ml_model_save(m, NULL, path) != 0 || sl_model_load(path, &lm) != 0)
			fail_msg("%s: save and load: %s", ml_task_name(tasks[ti]), sl_errmsg());
		assert_string_equal(sl_model_algorithm(lm), "gbdt");
		assert_int_equal(sl_model_predict(lm, X, n, m->sig.n_features, again, n * k), 0);
		assert_memory_equal(batch, again, n * k * sizeof *batch);
		sl_model_free(lm);
		ml_model_free(m);
		ml_frame_free(&fr);
		free(X);
		free(batch);
		free(one);
		free(again);
		ds_close(t);
	}
	free(path);
	tu_rmdir(dir);
}

/* What gbdt_predict makes of one row's margins, from the node walk: the
 * reference the layouts are held to. */
static void predict_by_nodes(const gbdt_model *g, const double *row, double *out)
{
	double raw[8], mx, sum = 0;
	uint32_t K = g->n_groups;

	gbdt_predict_raw(g, row, raw);
	switch (g->objective) {
	case ML_BINARY:
		out[1] = 1.0 / (1.0 + exp(-raw[0]));
		out[0] = 1.0 - out[1];
		break;
	case ML_MULTICLASS:
		mx = raw[0];
		for (uint32_t c = 1; c < K; c++)
			mx = raw[c] > mx ? raw[c] : mx;
		for (uint32_t c = 0; c < K; c++) {
			out[c] = exp(raw[c] - mx);
			sum += out[c];
		}
		for (uint32_t c = 0; c < K; c++)
			out[c] /= sum;
		break;
	default:
		out[0] = raw[0];
	}
}

/*
 * The blocked batch path (gbdt_predict_batch: a compact layout, blocks of
 * GBDT_BLOCK rows walked tree by tree) gives the bits of the row path for
 * every batch size around the block and the batch threshold, with missing
 * values in some blocks and not others (each side of a default
 * direction), infinities, codes outside a category's dictionary (its trees
 * keep the node walk), and trees deeper than the layout takes. And one
 * row at a time (gbdt_predict below GBDT_BATCH_MIN rows: the same layout,
 * groups of GBDT_WALK trees padded to their deepest) gives the node
 * walk's bits.
 */
static void test_predict_blocked(void **state)
{
	enum { N = 400, NP = 5 };
	static const size_t sizes[] = {1, 2, 7, 8, 9, 63, 64, 65, 129, 200, 331};
	ml_task tasks[] = {ML_BINARY, ML_MULTICLASS, ML_REGRESSION};
	double *X = malloc(N * NP * sizeof *X), *R = malloc(N * NP * sizeof *R), y[N];
	double *batch = malloc(N * 3 * sizeof *batch), *one = malloc(N * 3 * sizeof *one);
	uint32_t n_cat[NP] = {0, 0, 5, 0, 0};
	sl__rng r;

	(void)state;
	sl__rng_seed(&r, 91);
	for (size_t i = 0; i < N; i++) {
		/* Missing values only in the first 150 rows: later blocks have none. */
		bool early = i < 150;
		double a = sl__rng_normal(&r), b = sl__rng_uniform(&r);
		double c = (double)sl__rng_below(&r, 5), d = sl__rng_normal(&r), e = sl__rng_normal(&r);
		X[i] = early && sl__rng_uniform(&r) < 0.2 ? NAN : a;
		X[N + i] = early && sl__rng_uniform(&r) < 0.1 ? NAN : b;
		X[2 * N + i] = early && sl__rng_uniform(&r) < 0.1 ? NAN : c;
		X[3 * N + i] = d;
		X[4 * N + i] = e;
		double s = a * (b > 0.5) + (c == 1 || c == 3) - 0.5 * d + sin(3 * e) +
			   (isnan(X[i]) ? 1.5 : 0) + 0.2 * sl__rng_normal(&r);
		y[i] = s;
	}
	for (size_t i = 0; i < N; i++)
		row_of(X, N, NP, i, R + i * NP);
	R[3 * NP + 0] = INFINITY;
	R[4 * NP + 3] = -INFINITY;
	R[200 * NP + 0] = INFINITY;
	R[201 * NP + 2] = 9;   /* a code outside the dictionary */
	R[202 * NP + 2] = 2.5; /* not a code */
	for (size_t ti = 0; ti < 3; ti++)
		for (int variant = 0; variant < 4; variant++) {
			gbdt_params p;
			gbdt_model *g;
			double yy[N];
			size_t w;
			for (size_t i = 0; i < N; i++)
				yy[i] = tasks[ti] == ML_REGRESSION ? y[i]
					: tasks[ti] == ML_BINARY   ? (y[i] > 0.3)
								   : (y[i] < -0.2 ? 0 : y[i] < 0.8 ? 1 : 2);
			gbdt_params_default(&p);
			p.objective = tasks[ti];
			p.n_classes = tasks[ti] == ML_MULTICLASS ? 3 : tasks[ti] == ML_BINARY ? 2 : 0;
			p.rounds = 9; /* not a multiple of GBDT_WALK */
			p.min_child_weight = 0.1;
			if (variant == 3) { /* whole groups of trees of unlike depths */
				p.rounds = 21;
				p.max_depth = 5;
				p.min_child_weight = 3;
			}
			if (variant == 2) { /* leaf-wise, deeper than the layout takes */
				p.growth = GBDT_LEAFWISE;
				p.max_depth = 0;
				p.max_leaves = 40;
				p.min_child_weight = 0.01;
			}
			g = fit(&p, X, N, NP, variant == 1 ? n_cat : NULL, yy, NULL);
			if (variant == 2 && g->max_depth <= GBDT_FLAT_DEPTH)
				fail_msg("%s: the leaf-wise trees are only %u deep",
					 ml_task_name(tasks[ti]), g->max_depth);
			w = tasks[ti] == ML_REGRESSION ? 1 : p.n_classes;
			for (size_t i = 0; i < N; i++) {
				double ref[3];
				gbdt_predict(g, R + i * NP, 1, one + i * w);
				predict_by_nodes(g, R + i * NP, ref);
				if (memcmp(ref, one + i * w, w * sizeof *ref))
					fail_msg("%s variant %d rounds %u: row %zu by the layout %.17g, "
						 "by the nodes %.17g",
						 ml_task_name(tasks[ti]), variant, p.rounds, i,
						 one[i * w], ref[0]);
			}
			for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
				size_t n = sizes[si];
				/* From row 0 (missing values) and from row 150 (none). */
				for (size_t from = 0; from <= 150 && from + n <= N; from += 150) {
					memset(batch, 0xff, n * w * sizeof *batch);
					assert_int_equal(gbdt_predict_batch(g, R + from * NP, n, batch), 0);
					if (memcmp(batch, one + from * w, n * w * sizeof *batch))
						fail_msg("%s variant %d: %zu rows from %zu differ from row by "
							 "row",
							 ml_task_name(tasks[ti]), variant, n, from);
					gbdt_predict(g, R + from * NP, n, batch);
					assert_memory_equal(batch, one + from * w, n * w * sizeof *batch);
				}
			}
			gbdt_model_free(g);
		}
	free(X);
	free(R);
	free(batch);
	free(one);
}

/*
 * Rows wider than the NaN check's steps of eight (19 features: two steps,
 * a pair and one left over): a missing value in any position, or none
 * with infinities of both signs (their sum is NaN, so the check looks one
 * by one), walks the layout as the node walk does, one row and in a
 * batch. Missing values were trained to go right, which a walk that
 * missed one would not do.
 */
static void test_predict_wide_nan(void **state)
{
	enum { N = 600, NP = 19, NR = NP + 3 };
	double *X = malloc(N * NP * sizeof *X), y[N], R[NR * NP], one[NR], batch[NR], ref;
	gbdt_params p;
	gbdt_model *g;
	sl__rng r;

	(void)state;
	sl__rng_seed(&r, 7);
	for (size_t i = 0; i < N; i++) {
		y[i] = 0;
		for (size_t j = 0; j < NP; j++) {
			double v = sl__rng_normal(&r);
			bool miss = sl__rng_uniform(&r) < 0.15;
			X[j * N + i] = miss ? NAN : v;
			y[i] += miss ? 2.5 : v;
		}
	}
	gbdt_params_default(&p);
	p.objective = ML_REGRESSION;
	p.rounds = 20;
	p.max_depth = 4;
	p.min_child_weight = 1;
	g = fit(&p, X, N, NP, NULL, y, NULL);
	/* Row j has feature j missing; the last three none, infinities of
	 * both signs, and both with a missing value at the end. */
	for (size_t i = 0; i < NR; i++)
		for (size_t j = 0; j < NP; j++)
			R[i * NP + j] = i == j ? NAN : 0.1 * (double)((i + j) % 7) - 0.3;
	R[(NP + 1) * NP + 2] = INFINITY;
	R[(NP + 1) * NP + 11] = -INFINITY;
	R[(NP + 2) * NP + 2] = INFINITY;
	R[(NP + 2) * NP + 11] = -INFINITY;
	R[(NP + 2) * NP + NP - 1] = NAN;
	for (size_t i = 0; i < NR; i++) {
		gbdt_predict(g, R + i * NP, 1, one + i);
		gbdt_predict_raw(g, R + i * NP, &ref);
		if (memcmp(&ref, one + i, sizeof ref))
			fail_msg("row %zu by the layout %.17g, by the nodes %.17g", i, one[i], ref);
	}
	assert_int_equal(gbdt_predict_batch(g, R, NR, batch), 0);
	assert_memory_equal(batch, one, sizeof one);
	/* Each missing value predicts unlike a low value there, which a walk
	 * that took it for no value (x >= thr false: left) would give. */
	for (size_t i = 0; i < NP; i++) {
		double low;
		R[i * NP + i] = -3;
		gbdt_predict_raw(g, R + i * NP, &low);
		if (one[i] == low)
			fail_msg("feature %zu missing predicts as a low value", i);
	}
	gbdt_model_free(g);
	free(X);
}

/* ---- TreeSHAP ------------------------------------------------------------------ */

/* v(S) of one subtree: features in S follow x, the others average their
 * children by cover (the game TreeSHAP solves). */
static double value_of(const gbdt_model *g, uint32_t t, uint32_t node, const double *x,
		       unsigned S)
{
	const gbdt_node *nd = g->nodes + g->tree[t];
	const double *cov = g->cover + g->tree[t];
	const gbdt_node *n = &nd[node];
	uint32_t f, l;

	if (!n->left)
		return n->value;
	f = n->info & GBDT_NODE_FEATURE;
	l = node + n->left;
	if (S & (1u << f))
		return value_of(g, t, l + gbdt_node_right(n, g->cats, x[f]), x, S);
	return cov[l] / cov[node] * value_of(g, t, l, x, S) +
	       cov[l + 1] / cov[node] * value_of(g, t, l + 1, x, S);
}

/* Exact Shapley values by enumerating subsets: out[k * (P + 1) + j]. */
static void brute_shap(const gbdt_model *g, const double *x, double *out)
{
	size_t P = g->n_features, K = g->n_groups;
	double fact[16];

	fact[0] = 1;
	for (size_t i = 1; i < 16; i++)
		fact[i] = fact[i - 1] * (double)i;
	memset(out, 0, K * (P + 1) * sizeof *out);
	for (uint32_t t = 0; t < g->n_trees; t++) {
		double *o = out + (t % K) * (P + 1);
		for (size_t i = 0; i < P; i++)
			for (unsigned S = 0; S < (1u << P); S++) {
				unsigned s = (unsigned)__builtin_popcount(S);
				if (S & (1u << i))
					continue;
				o[i] += fact[s] * fact[P - s - 1] / fact[P] *
					(value_of(g, t, 0, x, S | (1u << i)) - value_of(g, t, 0, x, S));
			}
		o[P] += value_of(g, t, 0, x, 0);
	}
	for (size_t k = 0; k < K; k++)
		out[k * (P + 1) + P] += g->base[k];
}

static void check_shap(ml_task obj, uint32_t classes)
{
	enum { N = 400, NP = 4 };
	double *X = malloc(N * NP * sizeof *X), y[N], row[NP], phi[3 * (NP + 1)],
	       brute[3 * (NP + 1)], raw[3];
	uint32_t n_cat[NP] = {0, 0, 5, 0};
	gbdt_params p;
	gbdt_model *g;
	sl__rng r;

	sl__rng_seed(&r, 77);
	for (size_t i = 0; i < N; i++) {
		double a = sl__rng_normal(&r), b = sl__rng_uniform(&r);
		double c = (double)sl__rng_below(&r, 5), d = sl__rng_normal(&r);
		X[i] = sl__rng_uniform(&r) < 0.1 ? NAN : a;
		X[N + i] = b;
		X[2 * N + i] = sl__rng_uniform(&r) < 0.05 ? NAN : c;
		X[3 * N + i] = d;
		double s = a * (b > 0.5) + (c == 1 || c == 3) - 0.5 * d + 0.3 * sl__rng_normal(&r);
		y[i] = obj == ML_REGRESSION ? s
		       : obj == ML_BINARY   ? (s > 0.3)
					    : (s < -0.2 ? 0 : s < 0.8 ? 1 : 2);
	}
	gbdt_params_default(&p);
	p.objective = obj;
	p.n_classes = classes;
	p.rounds = 4;
	p.max_depth = 3;
	p.min_child_weight = 0.1;
	g = fit(&p, X, N, NP, n_cat, y, NULL);
	for (size_t i = 0; i < 40; i++) {
		size_t K = g->n_groups;
		row_of(X, N, NP, i, row);
		if (i == 5)
			row[2] = 9; /* a code outside the dictionary: the default side */
		assert_int_equal(gbdt_shap(g, row, 1, phi), 0);
		gbdt_predict_raw(g, row, raw);
		brute_shap(g, row, brute);
		for (size_t k = 0; k < K; k++) {
			double s = 0;
			for (size_t j = 0; j <= NP; j++) {
				s += phi[k * (NP + 1) + j];
				if (fabs(phi[k * (NP + 1) + j] - brute[k * (NP + 1) + j]) > 1e-9)
					fail_msg("row %zu group %zu feature %zu: treeshap %.17g, brute "
						 "force %.17g",
						 i, k, j, phi[k * (NP + 1) + j], brute[k * (NP + 1) + j]);
			}
			if (fabs(s - raw[k]) > 1e-9)
				fail_msg("row %zu group %zu: contributions sum to %.17g, raw score %.17g",
					 i, k, s, raw[k]);
		}
	}
	gbdt_model_free(g);
	free(X);
}

static void test_shap_regression(void **state)
{
	(void)state;
	check_shap(ML_REGRESSION, 0);
}

static void test_shap_binary(void **state)
{
	(void)state;
	check_shap(ML_BINARY, 2);
}

static void test_shap_multiclass(void **state)
{
	(void)state;
	check_shap(ML_MULTICLASS, 3);
}

/* The sum property on a bigger model through the public API, and the global importance. */
static void test_shap_public(void **state)
{
	ds_table *t = mixed_table(5000, ML_BINARY, 3);
	gbdt_params p;
	ml_frame fr;
	ml_model *m;
	double *X, *out, imp[4], raw;
	size_t n = 300, P, W;

	(void)state;
	gbdt_params_default(&p);
	p.rounds = 40;
	m = train_frame(t, &p, &fr);
	P = m->sig.n_features;
	W = P + 1;
	assert_int_equal(sl_model_explain_groups(m), 1);
	assert_int_equal(ml_frame_apply(&m->sig, t, &X, NULL), 0);
	out = malloc(n * W * sizeof *out);
	assert_int_equal(sl_model_explain(m, X, n, P, out, n * W), 0);
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t j = 0; j < W; j++)
			s += out[i * W + j];
		gbdt_predict_raw(gbdt_of(m), X + i * P, &raw);
		assert_true(fabs(s - raw) < 1e-9);
	}
	assert_int_equal(P, 4);
	assert_int_equal(gbdt_shap_importance(m, X, n, imp), 0);
	for (size_t j = 0; j < P; j++) {
		double mean = 0;
		for (size_t i = 0; i < n; i++)
			mean += fabs(out[i * W + j]);
		assert_true(fabs(imp[j] - mean / (double)n) < 1e-9);
	}
	/* x0 and c carry the signal; k next to nothing. */
	assert_true(imp[0] > imp[3] && imp[2] > imp[3]);
	free(X);
	free(out);
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
}

/* ---- missing values and categories ---------------------------------------------- */

static void test_missing_direction(void **state)
{
	enum { N = 1000 };
	double *X = malloc(N * sizeof *X), y[N], lo, hi, nan = NAN, v;
	gbdt_params p;
	gbdt_model *g;

	(void)state;
	gbdt_params_default(&p);
	p.objective = ML_REGRESSION;
	p.rounds = 1;
	p.max_depth = 1;
	p.learning_rate = 1;
	/* Missing rows behave like the large values: the split sends NaN right. */
	for (size_t i = 0; i < N; i++) {
		bool miss = i % 4 == 0;
		X[i] = miss ? NAN : (double)(i % 100);
		y[i] = miss || X[i] >= 50 ? 10 : 0;
	}
	g = fit(&p, X, N, 1, NULL, y, NULL);
	assert_false(g->nodes[0].info & GBDT_NODE_DEFAULT_LEFT);
	assert_true(g->nodes[0].value > 49 && g->nodes[0].value <= 50);
	v = 70;
	gbdt_predict_raw(g, &v, &hi);
	gbdt_predict_raw(g, &nan, &v);
	assert_true(fabs(v - hi) < 1e-12 && hi > 9);
	gbdt_model_free(g);
	/* Now like the small values: NaN goes left. */
	for (size_t i = 0; i < N; i++)
		y[i] = isnan(X[i]) || X[i] < 50 ? 10 : 0;
	g = fit(&p, X, N, 1, NULL, y, NULL);
	assert_true(g->nodes[0].info & GBDT_NODE_DEFAULT_LEFT);
	v = 10;
	gbdt_predict_raw(g, &v, &lo);
	gbdt_predict_raw(g, &nan, &v);
	assert_true(fabs(v - lo) < 1e-12 && lo > 9);
	gbdt_model_free(g);
	/* Missing against present: every value left, missing right (threshold +inf). */
	for (size_t i = 0; i < N; i++)
		y[i] = isnan(X[i]) ? 5 : -5;
	g = fit(&p, X, N, 1, NULL, y, NULL);
	assert_true(isinf(g->nodes[0].value) && g->nodes[0].value > 0);
	assert_false(g->nodes[0].info & GBDT_NODE_DEFAULT_LEFT);
	gbdt_predict_raw(g, &nan, &hi);
	v = 1e300;
	gbdt_predict_raw(g, &v, &lo);
	assert_true(hi > 4.9 && lo < -4.9);
	gbdt_model_free(g);
	free(X);
}

static void test_categorical_split(void **state)
{
	enum { N = 1200 };
	double *X = malloc(N * sizeof *X), y[N], out[8], v;
	uint32_t n_cat = 8; /* codes 6 and 7 never appear */
	gbdt_params p;
	gbdt_report rep;
	gbdt_model *g;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		size_t c = i % 6;
		X[i] = (double)c;
		y[i] = c == 0 || c == 2 || c == 5 ? 3 : -3; /* not an interval of codes */
	}
	gbdt_params_default(&p);
	p.objective = ML_REGRESSION;
	p.rounds = 1;
	p.max_depth = 1;
	p.learning_rate = 1;
	p.lambda = 0.001;
	g = fit(&p, X, N, 1, &n_cat, y, NULL);
	assert_true(g->nodes[0].info & GBDT_NODE_CAT);
	for (size_t c = 0; c < 8; c++) {
		v = (double)c;
		gbdt_predict_raw(g, &v, &out[c]);
	}
	for (size_t c = 0; c < 6; c++)
		assert_true(fabs(out[c] - (c == 0 || c == 2 || c == 5 ? 3 : -3)) < 1e-2);
	/* Codes training never saw, a fraction and NaN all take the default side. */
	v = NAN;
	gbdt_predict_raw(g, &v, &out[6]);
	assert_true(out[6] == out[7]);
	v = 2.5;
	gbdt_predict_raw(g, &v, &out[7]);
	assert_true(out[6] == out[7]);
	v = 1e9;
	gbdt_predict_raw(g, &v, &out[7]);
	assert_true(out[6] == out[7]);
	gbdt_model_free(g);

	/* Past max_cat the rarest categories share one bin: still a model. */
	for (size_t i = 0; i < N; i++) {
		size_t c = i % 7 ? i % 5 : 5 + i % 300; /* 5 common codes, many rare */
		X[i] = (double)c;
		y[i] = c % 2 ? 1 : -1;
	}
	n_cat = 305;
	p.max_cat = 8;
	p.rounds = 3;
	p.max_depth = 2;
	g = fit(&p, X, N, 1, &n_cat, y, &rep);
	assert_true(g->nodes[0].info & GBDT_NODE_CAT);
	assert_true(g->cats[(size_t)g->nodes[0].value] == 305);
	assert_true(rep.pooled[0] > 100); /* all but 7 of the categories seen */
	gbdt_report_free(&rep);
	gbdt_model_free(g);
	free(X);
	/* Through a frame the model says so, for the step's log. */
	{
		ds_table *t = mixed_table(2000, ML_BINARY, 4);
		ml_frame fr;
		ml_model *m;
		const json_t *w;
		gbdt_params_default(&p);
		p.rounds = 2;
		p.max_cat = 4;
		m = train_frame(t, &p, &fr);
		w = json_object_get(m->info, "warnings");
		assert_int_equal(json_array_size(w), 1);
		assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
				       "feature 'c': 5 rare categories share one bin (max_cat: 4"));
		ml_model_free(m);
		ml_frame_free(&fr);
		ds_close(t);
	}
}

/* ---- early stopping ---------------------------------------------------------------- */

static void test_early_stopping(void **state)
{
	enum { N = 400, NV = 400 };
	double *X = malloc(N * 3 * sizeof *X), *V = malloc(NV * 3 * sizeof *V), y[N], yv[NV];
	gbdt_params p;
	gbdt_report rep;
	gbdt_model *g = NULL;
	gbdt_data tr = {N, 3, X, 1, N, NULL, NULL, NULL, y}, va = {NV, 3, V, 1, NV, NULL, NULL, NULL, yv};
	sl__rng r;
	double worst = 0, loss = 0;

	(void)state;
	sl__rng_seed(&r, 3);
	for (size_t i = 0; i < N + NV; i++) {
		double *M = i < N ? X : V;
		size_t n = i < N ? N : NV, k = i < N ? i : i - N;
		double a = sl__rng_normal(&r), b = sl__rng_normal(&r), c = sl__rng_normal(&r);
		M[k] = a;
		M[n + k] = b;
		M[2 * n + k] = c;
		/* A weak signal in much noise: deep trees soon overfit. */
		(i < N ? y : yv)[k] = sl__rng_uniform(&r) < sigmoid(0.8 * a) ? 1 : 0;
	}
	gbdt_params_default(&p);
	p.objective = ML_BINARY;
	p.n_classes = 2;
	p.rounds = 300;
	p.learning_rate = 0.3;
	p.early_stopping = 5;
	assert_int_equal(gbdt_fit(&p, &tr, &va, &g, &rep), 0);
	assert_true(rep.rounds_run < 300);
	assert_true(rep.best_round >= 0);
	assert_int_equal(rep.rounds, rep.best_round + 1);
	assert_int_equal(rep.rounds_run, rep.best_round + 1 + 5);
	assert_int_equal(g->n_trees, rep.rounds);
	for (uint32_t q = 0; q < rep.rounds_run; q++) {
		assert_true(rep.valid_loss[q] >= rep.best_loss);
		worst = rep.valid_loss[q] > worst ? rep.valid_loss[q] : worst;
	}
	assert_true(rep.valid_loss[rep.best_round] == rep.best_loss && worst > rep.best_loss);
	/* The kept model is the best round's: its validation loss is the best. */
	for (size_t i = 0; i < NV; i++) {
		double row[3], m;
		row_of(V, NV, 3, i, row);
		gbdt_predict_raw(g, row, &m);
		loss += (m > 0 ? m : 0) + log1p(exp(-fabs(m))) - yv[i] * m;
	}
	assert_true(fabs(loss / NV - rep.best_loss) < 1e-9);
	gbdt_report_free(&rep);
	gbdt_model_free(g);
	/* Without validation rows it is refused. */
	assert_int_equal(gbdt_fit(&p, &tr, NULL, &g, NULL), SL_EINVAL);
	assert_msg_has("early_stopping needs validation rows");
	free(X);
	free(V);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void test_refusals(void **state)
{
	const step_def *def = step_find("train.gbdt");
	ds_table *t = mixed_table(300, ML_MULTICLASS, 1);
	ml_frame fr;
	gbdt_params p;
	ml_model *m;
	step_problem pb;
	json_t *with;
	double X[4] = {1, 2, 3, 4}, y[4] = {0, 1, 2, 1};
	gbdt_model *g;

	(void)state;
	assert_non_null(def);
	/* Options, at parse time: each message names the option and the range. */
	with = json_pack("{s:s, s:i}", "target", "y", "bins", 300);
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_non_null(strstr(pb.msg, "option 'bins' of train.gbdt"));
	assert_non_null(strstr(pb.msg, "300"));
	json_decref(with);
	with = json_pack("{s:s, s:f}", "target", "y", "learning_rate", 1.5);
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_non_null(strstr(pb.msg, "learning_rate"));
	json_decref(with);
	with = json_pack("{s:s, s:s}", "target", "y", "objective", "ranking");
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_non_null(strstr(pb.msg, "regression, binary or multiclass, not 'ranking'"));
	json_decref(with);
	/* What goes together, from the check hook. */
	with = json_pack("{s:s, s:i}", "target", "y", "max_depth", 0);
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_string_equal(pb.path, "max_depth");
	assert_non_null(strstr(pb.msg, "max_depth 0 (no limit) is for growth: leafwise"));
	json_decref(with);
	with = json_pack("{s:s, s:i, s:s}", "target", "y", "max_depth", 0, "growth", "leafwise");
	assert_int_equal(step_opts_check(def, with, NULL, NULL, 0, &pb), 0);
	json_decref(with);
	/* Early stopping with nothing to watch: refused unless valid is connected. */
	with = json_pack("{s:s, s:i}", "target", "y", "early_stopping", 10);
	assert_int_equal(step_opts_check(def, with, NULL, (const char *[]){"train"}, 1, &pb),
			 SL_EINVAL);
	assert_string_equal(pb.path, "early_stopping");
	assert_non_null(strstr(pb.msg, "connect a `valid` input"));
	assert_int_equal(step_opts_check(def, with, NULL, (const char *[]){"train", "valid"}, 2, &pb),
			 0);
	json_decref(with);

	/* binary on a three-class target, through the frame and directly. */
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y", .task = ML_BINARY,
							     .allow_missing = true,
							     .allow_strings = true,
							     .step = "train.gbdt"},
					&fr),
			 SL_EINVAL);
	assert_msg_has("objective binary, but target 'y' has 3 classes");
	gbdt_params_default(&p);
	p.objective = ML_BINARY;
	p.n_classes = 3;
	assert_int_equal(gbdt_fit(&p, &(gbdt_data){4, 1, X, 1, 4, NULL, NULL, NULL, y}, NULL, &g,
				  NULL),
			 SL_EINVAL);
	assert_msg_has("objective binary needs 2 classes");
	/* A class index outside 0..K-1 names the row. */
	p.objective = ML_MULTICLASS;
	y[2] = 3;
	assert_int_equal(gbdt_fit(&p, &(gbdt_data){4, 1, X, 1, 4, NULL, NULL, NULL, y}, NULL, &g,
				  NULL),
			 SL_EINVAL);
	assert_msg_has("row 3");
	/* multiclass asked of a two-class target. */
	{
		ds_table *t2 = mixed_table(300, ML_BINARY, 2);
		p.objective = ML_MULTICLASS;
		assert_int_equal(ml_frame_build(t2, &(ml_frame_opts){.target = "y",
								      .allow_missing = true,
								      .allow_strings = true},
						&fr),
				 0);
		assert_int_equal(gbdt_train(&p, &fr, NULL, NULL, 0, &m), SL_EINVAL);
		assert_msg_has("use objective: binary");
		ml_frame_free(&fr);
		ds_close(t2);
	}
	ds_close(t);
}

/* A model file whose sections lie is refused, naming what is wrong. */
static void test_load_checks(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "bad.slm");
	enum { N = 200 };
	double X[N], y[N];
	gbdt_params p;
	gbdt_model *g, *bad;
	mfile *f;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		X[i] = (double)(i % 17);
		y[i] = (double)(i % 3 == 0);
	}
	gbdt_params_default(&p);
	p.objective = ML_REGRESSION;
	p.rounds = 2;
	p.max_depth = 2;
	g = fit(&p, X, N, 1, NULL, y, NULL);
	for (int what = 0; what < 4; what++) {
		gbdt_node *nodes = malloc(g->n_nodes * sizeof *nodes);
		gbdt_model copy = *g;
		mfile_writer *w;
		json_t *man = json_object();
		memcpy(nodes, g->nodes, g->n_nodes * sizeof *nodes);
		uint32_t sz = g->tree[1];
		if (what == 0)
			nodes[0].left = 0x7fffffff;  /* a child far outside the tree */
		else if (what == 1)
			nodes[0].info |= 5;          /* a feature the model lacks */
		else if (what == 2)
			nodes[0].left = sz - 1;      /* the right child one past the end */
		else
			nodes[0].info |= GBDT_NODE_CAT; /* a category set that is not there */
		copy.nodes = nodes;
		assert_int_equal(mfile_writer_new(&w), 0);
		assert_int_equal(gbdt_model_save(&copy, w, "gbdt."), 0);
		assert_int_equal(mfile_write(w, man, path), 0);
		assert_int_equal(mfile_open(path, &f), 0);
		assert_int_equal(gbdt_model_load(f, "gbdt.", 1, &bad), SL_ECORRUPT);
		assert_msg_has("gbdt model: tree 0");
		mfile_close(f);
		mfile_writer_free(w);
		json_decref(man);
		free(nodes);
	}
	gbdt_model_free(g);
	free(path);
	tu_rmdir(dir);
}

/* Fail the Nth allocation for every N: training, saving, loading and
 * explaining return SL_ENOMEM (the sanitizer build checks for leaks), then
 * succeed. */
static void test_out_of_memory(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "m.slm");
	ds_table *t = mixed_table(300, ML_MULTICLASS, 8);
	double *X, out[3 * 5];
	gbdt_params p;
	int failures = 0;
	long n;

	(void)state;
	gbdt_params_default(&p);
	p.rounds = 3;
	p.max_depth = 3;
	p.threads = 1;
	p.subsample = 0.9;
	p.colsample = 0.8;
	for (n = 0; n < 100000; n++) {
		ml_frame fr;
		ml_model *m = NULL, *back = NULL;
		int rc;
		sl__alloc_fail_after(n);
		rc = ml_frame_build(t, &(ml_frame_opts){.target = "y", .allow_missing = true,
							 .allow_strings = true},
				    &fr);
		if (rc == 0) {
			rc = gbdt_train(&p, &fr, NULL, NULL, 0, &m);
			ml_frame_free(&fr);
		}
		if (rc == 0)
			rc = ml_model_save(m, NULL, path);
		if (rc == 0)
			rc = ml_model_load(path, &back);
		if (rc == 0 && (rc = ml_frame_apply(&back->sig, t, &X, NULL)) == 0) {
			rc = gbdt_shap(gbdt_of(back), X, 1, out);
			sl__free(X);
		}
		sl__alloc_fail_after(-1);
		ml_model_free(m);
		ml_model_free(back);
		if (rc == 0)
			break;
		assert_int_equal(rc, SL_ENOMEM);
		failures++;
	}
	assert_true(failures > 20);
	assert_true(n < 100000);
	ds_close(t);
	free(path);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_split_regression),
		cmocka_unit_test(test_first_split_binary),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_split_search_ties),
		cmocka_unit_test(test_predict_rows_batch_reload),
		cmocka_unit_test(test_predict_blocked),
		cmocka_unit_test(test_predict_wide_nan),
		cmocka_unit_test(test_shap_regression),
		cmocka_unit_test(test_shap_binary),
		cmocka_unit_test(test_shap_multiclass),
		cmocka_unit_test(test_shap_public),
		cmocka_unit_test(test_missing_direction),
		cmocka_unit_test(test_categorical_split),
		cmocka_unit_test(test_early_stopping),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_load_checks),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
