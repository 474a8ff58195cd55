/*
 * Gradient boosting: parameters, the boosting loop, and the gbdt model
 * family (gbdt.h).
 *
 *   fit cut points, bin train (and valid) rows
 *   base score: mean (regression), log-odds of the prior (binary), log
 *     priors (multiclass) -- LightGBM's boost_from_average
 *   for each round, for each group (class) k:
 *     draw rows (subsample) and features (colsample) from stream
 *       (seed, round * groups + k) of the one generator (rng.h)
 *     gradients and hessians of the loss at the current margins, exact
 *       (for leaf values) and quantised with stochastic rounding into
 *       packed integers (gbdt.h invariant 1), as many levels as the sample
 *       allows without a histogram sum overflowing its half
 *     grow a tree (gbdt_tree.c); add its leaves to the margins of the
 *       training rows (and, on bins, of the rows left out and of valid)
 *   after the round: the validation loss, the best round, early stopping
 *   the model keeps the rounds up to the best one when early stopping is on
 *
 * Losses: squared error (regression; the curve reports RMSE), logistic
 * (binary; log loss), softmax (multiclass; one tree per class per round,
 * hessian 2p(1-p) as XGBoost uses; multiclass log loss).
 *
 * Invariants:
 *  1. Everything that could depend on the thread count is either an
 *     integer sum, an element-wise update of disjoint rows, or a sum taken
 *     serially in row order (the losses): a model file is the same bytes
 *     for any `threads` (ml.h invariant 2), and `threads` is kept out of
 *     the model's params for the same reason.
 *  2. A quantised hessian is at least 1 (the smallest step), so a bin's
 *     hessian sum is positive exactly when it holds rows, and every node
 *     has a positive cover (TreeSHAP divides by it).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/gbdt.h"
#include "pool.h"
#include "rng.h"

/* Rows per block of the element-wise parallel loops. */
#define ROW_GRAIN 16384

/* ---- parameters ---------------------------------------------------------------------- */

void gbdt_params_default(gbdt_params *p)
{
	memset(p, 0, sizeof *p);
	p->rounds = 100;
	p->learning_rate = 0.3;
	p->max_depth = 6;
	p->max_leaves = 0;
	p->min_child_weight = 1;
	p->lambda = 1;
	p->min_split_gain = 0;
	p->subsample = 1;
	p->colsample = 1;
	p->bins = 256;
	p->max_cat = 64;
	p->early_stopping = 0;
	p->seed = 0;
	p->threads = 0;
	p->growth = GBDT_DEPTHWISE;
}

int gbdt_params_check(gbdt_params *p, const char *prefix)
{
	const char *w = prefix ? prefix : "";

	if (p->rounds < 1 || p->rounds > 1000000)
		return sl__err(SL_EINVAL, "%srounds must be 1 to 1000000 (got %u)", w, p->rounds);
	if (!(p->learning_rate > 0 && p->learning_rate <= 1))
		return sl__err(SL_EINVAL, "%slearning_rate must be in (0, 1] (got %g)", w,
			       p->learning_rate);
	if (p->max_depth > GBDT_MAX_DEPTH)
		return sl__err(SL_EINVAL, "%smax_depth must be at most %d (got %u)", w,
			       GBDT_MAX_DEPTH, p->max_depth);
	if (p->max_leaves == 1 || p->max_leaves > GBDT_MAX_LEAVES)
		return sl__err(SL_EINVAL, "%smax_leaves must be 0 (no limit) or 2 to %d (got %u)",
			       w, GBDT_MAX_LEAVES, p->max_leaves);
	if (p->growth == GBDT_DEPTHWISE && p->max_depth == 0)
		return sl__err(SL_EINVAL, "%smax_depth must be 1 to %d for depth-wise growth "
					  "(0, no limit, is for growth: leafwise)",
			       w, GBDT_MAX_DEPTH);
	if (p->growth == GBDT_LEAFWISE) {
		if (p->max_leaves == 0)
			p->max_leaves = 31;
		if (p->max_depth == 0)
			p->max_depth = GBDT_MAX_DEPTH;
	}
	if (!(p->min_child_weight >= 0) || !isfinite(p->min_child_weight))
		return sl__err(SL_EINVAL, "%smin_child_weight must be >= 0 (got %g)", w,
			       p->min_child_weight);
	if (!(p->lambda >= 0) || !isfinite(p->lambda))
		return sl__err(SL_EINVAL, "%slambda must be >= 0 (got %g)", w, p->lambda);
	if (!(p->min_split_gain >= 0) || !isfinite(p->min_split_gain))
		return sl__err(SL_EINVAL, "%smin_split_gain must be >= 0 (got %g)", w,
			       p->min_split_gain);
	if (p->lambda == 0 && p->min_child_weight == 0)
		return sl__err(SL_EINVAL, "%slambda and min_child_weight cannot both be 0 (a leaf "
					  "with no hessian would have no value)",
			       w);
	if (!(p->subsample > 0 && p->subsample <= 1))
		return sl__err(SL_EINVAL, "%ssubsample must be in (0, 1] (got %g)", w,
			       p->subsample);
	if (!(p->colsample > 0 && p->colsample <= 1))
		return sl__err(SL_EINVAL, "%scolsample must be in (0, 1] (got %g)", w,
			       p->colsample);
	if (p->bins < 2 || p->bins > GBDT_MAX_BINS)
		return sl__err(SL_EINVAL, "%sbins must be 2 to %d (got %u): bins are stored in "
					  "one byte, the missing bin included",
			       w, GBDT_MAX_BINS, p->bins);
	if (p->max_cat < 2 || p->max_cat > GBDT_MAX_BINS - 1)
		return sl__err(SL_EINVAL, "%smax_cat must be 2 to %d (got %u)", w,
			       GBDT_MAX_BINS - 1, p->max_cat);
	if (p->growth != GBDT_DEPTHWISE && p->growth != GBDT_LEAFWISE)
		return sl__err(SL_EINVAL, "%sgrowth must be depthwise or leafwise", w);
	return 0;
}

json_t *gbdt_params_json(const gbdt_params *p)
{
	return json_pack("{s:s, s:I, s:f, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:s}",
			 "objective", ml_task_name(p->objective), "rounds", (json_int_t)p->rounds,
			 "learning_rate", p->learning_rate, "max_depth", (json_int_t)p->max_depth,
			 "max_leaves", (json_int_t)p->max_leaves, "min_child_weight",
			 p->min_child_weight, "lambda", p->lambda, "min_split_gain",
			 p->min_split_gain, "subsample", p->subsample, "colsample", p->colsample,
			 "bins", (json_int_t)p->bins, "max_cat", (json_int_t)p->max_cat,
			 "early_stopping", (json_int_t)p->early_stopping, "seed",
			 (json_int_t)p->seed, "growth",
			 p->growth == GBDT_LEAFWISE ? "leafwise" : "depthwise");
}

void gbdt_report_free(gbdt_report *r)
{
	sl__free(r->valid_loss);
	sl__free(r->gain);
	sl__free(r->splits);
	sl__free(r->pooled);
	memset(r, 0, sizeof *r);
}

/* ---- gradients ------------------------------------------------------------------------- */

/* The state of one training run the parallel loops share. */
typedef struct booster {
	const gbdt_params *prm;
	unsigned threads;
	size_t n, p, K;
	const double *y;
	double *margin;      /* n x K */
	double *prob;        /* multiclass: n x K softmax of the margins */
	double *grad, *hess; /* n: this tree's exact values */
	gbdt_gh *gh;         /* n: the same, quantised and packed */
	double *gmax, *hmax; /* per ROW_GRAIN block: max |g|, max h */
	double sg, sh;       /* quantisation scales: q = floor(x * s + u) */
	uint64_t key;        /* this tree's rounding stream */
	bool fused;          /* scales known in advance: quantise in the gradient pass */
	size_t k;            /* the group being grown */
	const uint8_t *in_sample;
	const gbdt_tree *tree;
	const gbdt_binned *bins;
	double *upd_margin;  /* margins the tree is added to (train or valid) */
} booster;

static void softmax_rows(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	booster *b = ctx;
	size_t K = b->K;

	(void)worker;
	for (size_t i = lo; i < hi; i++) {
		const double *m = b->margin + i * K;
		double *pr = b->prob + i * K, mx = m[0], sum = 0;
		for (size_t k = 1; k < K; k++)
			if (m[k] > mx)
				mx = m[k];
		for (size_t k = 0; k < K; k++) {
			pr[k] = exp(m[k] - mx);
			sum += pr[k];
		}
		for (size_t k = 0; k < K; k++)
			pr[k] /= sum;
	}
}

/* splitmix64's finaliser: a row's rounding noise from (tree, row) alone. */
static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * The packed integer pairs (gbdt.h invariant 1), rounded stochastically
 * (floor(x + u), u uniform in [0, 1): unbiased, so many small gradients do
 * not round away) and every hessian at least 1 (invariant 2).
 */
/* floor(x) for |x| < 2^62, without a call into libm. */
static inline int64_t ifloor(double x)
{
	int64_t q = (int64_t)x; /* toward zero */

	return q - ((double)q > x);
}

static inline gbdt_gh quantise_row(const booster *b, size_t i, double g, double h)
{
	const double k32 = 1.0 / 4294967296.0;
	uint64_t u = mix(b->key + i * 0x9e3779b97f4a7c15ull);
	int64_t qg = ifloor(g * b->sg + (double)(u >> 32) * k32);
	int64_t qh = ifloor(h * b->sh + (double)(u & 0xffffffffu) * k32);

	return qg * 4294967296 + (qh > 0 ? qh : 1);
}

static void quantise(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	booster *b = ctx;

	(void)worker;
	for (size_t i = lo; i < hi; i++)
		b->gh[i] = quantise_row(b, i, b->grad[i], b->hess[i]);
}

/*
 * Exact gradients and hessians of the loss at the margins, and block
 * maxima; quantised at once when the scales are known in advance.
 */
static void gradients(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	booster *b = ctx;
	size_t K = b->K, k = b->k;
	double gm = 0, hm = 0;

	(void)worker;
	for (size_t i = lo; i < hi; i++) {
		double g, h;
		switch (b->prm->objective) {
		case ML_REGRESSION:
			g = b->margin[i] - b->y[i];
			h = 1;
			break;
		case ML_BINARY: {
			double pr = 1.0 / (1.0 + exp(-b->margin[i]));
			g = pr - b->y[i];
			h = pr * (1.0 - pr);
			break;
		}
		default: {
			double pr = b->prob[i * K + k];
			g = pr - (b->y[i] == (double)k);
			h = 2.0 * pr * (1.0 - pr);
			break;
		}
		}
		if (h < 1e-16)
			h = 1e-16;
		b->grad[i] = g;
		b->hess[i] = h;
		if (b->fused)
			b->gh[i] = quantise_row(b, i, g, h);
		if (fabs(g) > gm)
			gm = fabs(g);
		if (h > hm)
			hm = h;
	}
	b->gmax[lo / ROW_GRAIN] = gm;
	b->hmax[lo / ROW_GRAIN] = hm;
}

/* Adds the tree's leaves to rows grown without it (left out, or valid). */
static void add_tree(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	booster *b = ctx;
	size_t st = b->bins->stride, K = b->K;

	(void)worker;
	for (size_t i = lo; i < hi; i++)
		if (!b->in_sample || !b->in_sample[i])
			b->upd_margin[i * K + b->k] +=
				gbdt_tree_bin_predict(b->tree, b->bins->rows + i * st);
}

/* ---- losses ------------------------------------------------------------------------------ */

static double loss(ml_task obj, const double *m, const double *y, size_t n, size_t K)
{
	long double s = 0;

	for (size_t i = 0; i < n; i++) {
		const double *mi = m + i * K;
		if (obj == ML_REGRESSION) {
			double d = mi[0] - y[i];
			s += d * d;
		} else if (obj == ML_BINARY) {
			/* log(1 + e^m) - y m, without overflow. */
			double x = mi[0];
			s += (x > 0 ? x : 0) + log1p(exp(-fabs(x))) - y[i] * x;
		} else {
			double mx = mi[0], sum = 0;
			for (size_t k = 1; k < K; k++)
				if (mi[k] > mx)
					mx = mi[k];
			for (size_t k = 0; k < K; k++)
				sum += exp(mi[k] - mx);
			s += mx + log(sum) - mi[(size_t)y[i]];
		}
	}
	s /= (long double)(n ? n : 1);
	return obj == ML_REGRESSION ? (double)sqrtl(s) : (double)s;
}

static const char *loss_name(ml_task obj)
{
	return obj == ML_REGRESSION ? "rmse" : obj == ML_BINARY ? "logloss" : "mlogloss";
}

/* ---- checks of the data -------------------------------------------------------------------- */

static int check_targets(const gbdt_params *p, const gbdt_data *d, const char *set)
{
	uint32_t K = p->objective == ML_REGRESSION ? 0 : p->n_classes;

	for (size_t i = 0; i < d->n; i++) {
		double y = d->y[i];
		if (!isfinite(y))
			return sl__err(SL_EINVAL, "gbdt: %s target of row %zu is not a finite number",
				       set, i + 1);
		if (K && (y < 0 || y >= K || y != floor(y)))
			return sl__err(SL_EINVAL,
				       "gbdt: %s target of row %zu is %g, not a class index 0 to %u",
				       set, i + 1, y, K - 1);
	}
	return 0;
}

static int check_data(const gbdt_params *p, const gbdt_data *tr, const gbdt_data *va)
{
	if (p->objective != ML_REGRESSION && p->objective != ML_BINARY &&
	    p->objective != ML_MULTICLASS)
		return sl__err(SL_EINVAL, "gbdt: objective must be regression, binary or multiclass");
	if (p->objective == ML_BINARY && p->n_classes != 2)
		return sl__err(SL_EINVAL, "gbdt: objective binary needs 2 classes, the target has %u "
					  "(use objective: multiclass)",
			       p->n_classes);
	if (p->objective == ML_MULTICLASS && (p->n_classes < 3 || p->n_classes > 1000))
		return sl__err(SL_EINVAL, "gbdt: objective multiclass needs 3 to 1000 classes, the "
					  "target has %u%s",
			       p->n_classes, p->n_classes == 2 ? " (use objective: binary)" : "");
	if (tr->n == 0 || tr->p == 0)
		return sl__err(SL_EINVAL, "gbdt: no training rows or no features");
	if (tr->n > GBDT_MAX_ROWS || tr->p > GBDT_NODE_FEATURE)
		return sl__err(SL_ELIMIT, "gbdt: at most %u rows and %u features", GBDT_MAX_ROWS,
			       GBDT_NODE_FEATURE);
	if (!tr->X && !tr->column)
		return sl__err(SL_EINVAL, "gbdt: the training data has neither values nor a column source");
	if (va && va->n && va->p != tr->p)
		return sl__err(SL_EINVAL, "gbdt: valid has %zu features, train %zu", va->p, tr->p);
	if (p->early_stopping && (!va || va->n == 0))
		return sl__err(SL_EINVAL, "gbdt: early_stopping needs validation rows (a `valid` input)");
	for (size_t j = 0; tr->n_cat && j < tr->p; j++)
		if (tr->n_cat[j] > (1u << 24))
			return sl__err(SL_ELIMIT, "gbdt: feature %zu has %u categories (at most %u)",
				       j + 1, tr->n_cat[j], 1u << 24);
	if (check_targets(p, tr, "train"))
		return SL_EINVAL;
	if (va && va->n && check_targets(p, va, "valid"))
		return SL_EINVAL;
	return 0;
}

/* ---- the model from the trees ----------------------------------------------------------------- */

static int build_model(const gbdt_params *p, const gbdt_cuts *c, size_t n_features,
		       const double *base, size_t K, const gbdt_tree *trees, size_t n_trees,
		       gbdt_model **out)
{
	size_t n_nodes = 0, n_words = 0;
	gbdt_model *g = sl__calloc(1, sizeof *g);
	double *b = sl__malloc(K * sizeof *b), *cover, *gain;
	uint32_t *tree = sl__malloc((n_trees + 1) * sizeof *tree), *cats;
	gbdt_node *nodes;
	int rc;

	for (size_t t = 0; t < n_trees; t++) {
		n_nodes += trees[t].n;
		for (uint32_t i = 0; i < trees[t].n; i++)
			if (trees[t].nodes[i].left && trees[t].nodes[i].categorical)
				n_words += 1 + (c->n_cat[trees[t].nodes[i].feature] + 31) / 32;
	}
	if (n_nodes >= UINT32_MAX || n_words >= UINT32_MAX) {
		sl__free(g);
		sl__free(b);
		sl__free(tree);
		return sl__err(SL_ELIMIT, "gbdt: the model is too large");
	}
	nodes = sl__calloc(n_nodes ? n_nodes : 1, sizeof *nodes);
	cover = sl__malloc((n_nodes ? n_nodes : 1) * sizeof *cover);
	gain = sl__malloc((n_nodes ? n_nodes : 1) * sizeof *gain);
	cats = sl__calloc(n_words ? n_words : 1, sizeof *cats);
	if (!g || (rc = gbdt_model_adopt(g, b, tree, nodes, cover, gain, cats))) {
		sl__free(g);
		return g ? rc : sl__oom();
	}
	if (!b || !tree || !nodes || !cover || !gain || !cats) {
		gbdt_model_free(g);
		return sl__oom();
	}
	g->objective = p->objective;
	g->n_features = (uint32_t)n_features;
	g->n_groups = (uint32_t)K;
	g->n_trees = (uint32_t)n_trees;
	g->n_nodes = (uint32_t)n_nodes;
	g->n_cat_words = (uint32_t)n_words;
	memcpy(b, base, K * sizeof *b);
	n_nodes = n_words = 0;
	for (size_t t = 0; t < n_trees; t++) {
		tree[t] = (uint32_t)n_nodes;
		for (uint32_t i = 0; i < trees[t].n; i++, n_nodes++) {
			const gbdt_tnode *tn = &trees[t].nodes[i];
			gbdt_node *nd = &nodes[n_nodes];
			uint32_t f = tn->feature;
			cover[n_nodes] = tn->cover;
			gain[n_nodes] = tn->left ? tn->gain : 0;
			if (!tn->left) {
				nd->value = tn->value;
				continue;
			}
			nd->left = tn->left - i; /* children after their parent: > 0 */
			nd->info = f | (tn->default_left ? GBDT_NODE_DEFAULT_LEFT : 0);
			if (tn->categorical) {
				uint32_t nbits = c->n_cat[f];
				const uint8_t *cb = c->cat_bin + c->cat_at[f];
				nd->info |= GBDT_NODE_CAT;
				nd->value = (double)n_words;
				cats[n_words] = nbits;
				for (uint32_t code = 0; code < nbits; code++)
					if ((tn->mask[cb[code] >> 6] >> (cb[code] & 63)) & 1)
						cats[n_words + 1 + code / 32] |= 1u << (code % 32);
				n_words += 1 + (nbits + 31) / 32;
			} else if (tn->bin + 1u >= c->nval[f]) {
				nd->value = INFINITY; /* every value left, missing right */
			} else {
				nd->value = c->cut[c->cut_at[f] + tn->bin];
			}
		}
	}
	tree[n_trees] = (uint32_t)n_nodes;
	if ((rc = gbdt_model_finish(g))) {
		gbdt_model_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* ---- the boosting loop ------------------------------------------------------------------------ */

static double base_score(const gbdt_params *p, const double *y, size_t n, size_t k)
{
	long double s = 0;
	double m;

	if (p->objective == ML_REGRESSION) {
		for (size_t i = 0; i < n; i++)
			s += y[i];
		return (double)(s / (long double)n);
	}
	for (size_t i = 0; i < n; i++)
		s += p->objective == ML_BINARY ? y[i] : (y[i] == (double)k);
	m = (double)(s / (long double)n);
	if (m < 1e-12)
		m = 1e-12;
	if (m > 1 - 1e-12)
		m = 1 - 1e-12;
	return p->objective == ML_BINARY ? log(m / (1 - m)) : log(m);
}

typedef struct fit_state {
	gbdt_cuts cuts;
	gbdt_binned tr, va;
	gbdt_grower *grower;
	double *margin, *vmargin, *prob, *gmax, *hmax, *grad, *hess;
	gbdt_gh *gh;
	size_t *sample_sz;
	uint32_t *sample, *feats;
	size_t *feats_sz;
	uint8_t *in_sample;
	gbdt_tree *trees;
	size_t n_trees, trees_cap;
	double *curve;
} fit_state;

static void fit_state_free(fit_state *s)
{
	gbdt_cuts_free(&s->cuts);
	gbdt_binned_free(&s->tr);
	gbdt_binned_free(&s->va);
	gbdt_grower_free(s->grower);
	sl__free(s->margin);
	sl__free(s->vmargin);
	sl__free(s->prob);
	sl__free(s->gmax);
	sl__free(s->hmax);
	sl__free(s->grad);
	sl__free(s->hess);
	sl__free(s->gh);
	sl__free(s->sample_sz);
	sl__free(s->sample);
	sl__free(s->feats);
	sl__free(s->feats_sz);
	sl__free(s->in_sample);
	/* Every slot: a tree that failed half-grown holds nodes too. */
	for (size_t t = 0; s->trees && t < s->trees_cap; t++)
		gbdt_tree_free(&s->trees[t]);
	sl__free(s->trees);
	sl__free(s->curve);
}

int gbdt_fit(const gbdt_params *prm, const gbdt_data *train, const gbdt_data *valid,
	     gbdt_model **out, gbdt_report *rep)
{
	gbdt_params p = *prm;
	fit_state s;
	booster b;
	size_t n = train->n, P = train->p, K, nv = valid ? valid->n : 0, rounds_run = 0;
	size_t m_rows, m_feats, kept;
	unsigned T;
	double base[1000], best_loss = INFINITY, qg, qh;
	int64_t best_round = -1;
	int rc;

	*out = NULL;
	if (rep)
		memset(rep, 0, sizeof *rep);
	memset(&s, 0, sizeof s);
	if ((rc = gbdt_params_check(&p, "gbdt: ")) || (rc = check_data(&p, train, valid)))
		return rc;
	T = p.threads ? p.threads : sl__ncpu();
	if (T > sl__ncpu())
		T = sl__ncpu(); /* never more threads than cores */
	if (T > SL__MAX_THREADS)
		T = SL__MAX_THREADS;
	K = p.objective == ML_MULTICLASS ? p.n_classes : 1;
	m_rows = p.subsample < 1 ? (size_t)llround(p.subsample * (double)n) : n;
	m_feats = p.colsample < 1 ? (size_t)llround(p.colsample * (double)P) : P;
	if (m_rows < 1)
		m_rows = 1;
	if (m_feats < 1)
		m_feats = 1;

	if ((rc = gbdt_cuts_fit(train, p.bins, p.max_cat, p.seed, T, &s.cuts)) ||
	    (rc = gbdt_bin(&s.cuts, train, true, T, &s.tr)) ||
	    (nv && (rc = gbdt_bin(&s.cuts, valid, false, T, &s.va))) ||
	    (rc = gbdt_grower_new(&p, &s.cuts, &s.tr, T, &s.grower)))
		goto fail;
	s.margin = sl__malloc(n * K * sizeof *s.margin);
	s.vmargin = sl__malloc((nv ? nv * K : 1) * sizeof *s.vmargin);
	s.prob = K > 1 ? sl__malloc(n * K * sizeof *s.prob) : NULL;
	s.gmax = sl__malloc((n / ROW_GRAIN + 1) * sizeof *s.gmax);
	s.hmax = sl__malloc((n / ROW_GRAIN + 1) * sizeof *s.hmax);
	s.grad = sl__malloc(n * sizeof *s.grad);
	s.hess = sl__malloc(n * sizeof *s.hess);
	s.gh = sl__malloc(n * sizeof *s.gh);
	s.sample_sz = sl__malloc((m_rows > m_feats ? m_rows : m_feats) * sizeof *s.sample_sz);
	s.sample = sl__malloc(m_rows * sizeof *s.sample);
	s.feats = sl__malloc(m_feats * sizeof *s.feats);
	s.in_sample = sl__malloc(n);
	s.trees = sl__calloc((size_t)p.rounds * K, sizeof *s.trees);
	s.trees_cap = s.trees ? (size_t)p.rounds * K : 0;
	s.curve = sl__malloc((size_t)p.rounds * sizeof *s.curve);
	if (!s.margin || !s.vmargin || (K > 1 && !s.prob) || !s.gmax || !s.hmax || !s.grad ||
	    !s.hess || !s.gh ||
	    !s.sample_sz || !s.sample || !s.feats || !s.in_sample || !s.trees || !s.curve) {
		rc = sl__oom();
		goto fail;
	}
	gbdt_huge(s.gh, n * sizeof *s.gh);
	gbdt_huge(s.margin, n * K * sizeof *s.margin);
	for (size_t k = 0; k < K; k++)
		base[k] = base_score(&p, train->y, n, k);
	for (size_t i = 0; i < n; i++)
		memcpy(s.margin + i * K, base, K * sizeof *base);
	for (size_t i = 0; i < nv; i++)
		memcpy(s.vmargin + i * K, base, K * sizeof *base);

	memset(&b, 0, sizeof b);
	b.prm = &p;
	b.threads = T;
	b.n = n;
	b.p = P;
	b.K = K;
	b.y = train->y;
	b.margin = s.margin;
	b.prob = s.prob;
	b.gh = s.gh;
	b.grad = s.grad;
	b.hess = s.hess;
	b.gmax = s.gmax;
	b.hmax = s.hmax;

	for (uint32_t r = 0; r < p.rounds; r++) {
		if (K > 1)
			sl__parallel_range(T, n, ROW_GRAIN, softmax_rows, &b);
		for (size_t k = 0; k < K; k++) {
			gbdt_tree *tree = &s.trees[s.n_trees];
			const uint32_t *sample = NULL, *feats = NULL;
			sl__rng rng;
			sl__rng_stream(&rng, p.seed, (uint64_t)r * K + k);
			if (m_rows < n) {
				sl__rng_sample(&rng, n, m_rows, s.sample_sz);
				memset(s.in_sample, 0, n);
				for (size_t i = 0; i < m_rows; i++) {
					s.sample[i] = (uint32_t)s.sample_sz[i];
					s.in_sample[s.sample_sz[i]] = 1;
				}
				sample = s.sample;
			}
			if (m_feats < P) {
				sl__rng_sample(&rng, P, m_feats, s.sample_sz);
				for (size_t j = 0; j < m_feats; j++)
					s.feats[j] = (uint32_t)s.sample_sz[j];
				feats = s.feats;
			}
			b.k = k;
			b.key = sl__rng_next(&rng);
			/* As many levels as m rows can sum without leaving the packed
			 * halves: m * |q| < 2^31 for g, 2^32 for h (one level spare:
			 * x * s may round up past the target). Classifiers know their
			 * bounds (|g| <= 1, h <= 1/2): one pass. Squared error needs
			 * the largest residual first. */
			qg = (double)(((int64_t)1 << 31) / (int64_t)m_rows - 2);
			qh = (double)(((int64_t)1 << 32) / (int64_t)m_rows - 2);
			b.fused = p.objective != ML_REGRESSION;
			if (b.fused) {
				b.sg = qg;
				b.sh = qh / (p.objective == ML_BINARY ? 0.25 : 0.5);
				sl__parallel_range(T, n, ROW_GRAIN, gradients, &b);
			} else {
				double gm = 0;
				sl__parallel_range(T, n, ROW_GRAIN, gradients, &b);
				for (size_t q = 0; q < (n + ROW_GRAIN - 1) / ROW_GRAIN; q++)
					gm = s.gmax[q] > gm ? s.gmax[q] : gm;
				b.sg = gm > 0 ? qg / gm : 0;
				b.sh = qh; /* h = 1 */
				sl__parallel_range(T, n, ROW_GRAIN, quantise, &b);
			}
			rc = gbdt_grow(s.grower, s.gh, b.sg > 0 ? 1 / b.sg : 0, 1 / b.sh, s.grad, s.hess,
				       sample, m_rows, feats, m_feats, tree, s.margin + k, K);
			if (rc)
				goto fail;
			s.n_trees++;
			b.tree = tree;
			if (sample) {
				b.in_sample = s.in_sample;
				b.bins = &s.tr;
				b.upd_margin = s.margin;
				sl__parallel_range(T, n, ROW_GRAIN, add_tree, &b);
			}
			if (nv) {
				b.in_sample = NULL;
				b.bins = &s.va;
				b.upd_margin = s.vmargin;
				sl__parallel_range(T, nv, ROW_GRAIN, add_tree, &b);
			}
		}
		rounds_run = r + 1;
		if (nv) {
			double l = loss(p.objective, s.vmargin, valid->y, nv, K);
			s.curve[r] = l;
			if (l < best_loss) {
				best_loss = l;
				best_round = r;
			} else if (p.early_stopping && r - best_round >= p.early_stopping) {
				break;
			}
		}
	}
	kept = p.early_stopping && best_round >= 0 ? (size_t)best_round + 1 : rounds_run;
	if ((rc = build_model(&p, &s.cuts, P, base, K, s.trees, kept * K, out)))
		goto fail;
	if (rep) {
		rep->rounds = (uint32_t)kept;
		rep->rounds_run = (uint32_t)rounds_run;
		rep->best_round = best_round;
		rep->best_loss = best_loss;
		rep->loss_name = loss_name(p.objective);
		rep->gain = sl__calloc(P, sizeof *rep->gain);
		rep->splits = sl__calloc(P, sizeof *rep->splits);
		rep->pooled = sl__calloc(P, sizeof *rep->pooled);
		if (nv) {
			rep->valid_loss = s.curve;
			s.curve = NULL;
		}
		if (!rep->gain || !rep->splits || !rep->pooled) {
			gbdt_report_free(rep);
			gbdt_model_free(*out);
			*out = NULL;
			rc = sl__oom();
			goto fail;
		}
		/* A categorical feature whose rarer categories share the last
		 * value bin: every used code maps below the missing bin. */
		for (size_t j = 0; j < P; j++) {
			uint32_t used = 0, vals = s.cuts.nval[j];
			for (uint32_t c = 0; c < s.cuts.n_cat[j]; c++)
				used += s.cuts.cat_bin[s.cuts.cat_at[j] + c] != vals;
			rep->pooled[j] = used > vals ? used - (vals - 1) : 0;
		}
		for (size_t t = 0; t < kept * K; t++)
			for (uint32_t i = 0; i < s.trees[t].n; i++) {
				const gbdt_tnode *tn = &s.trees[t].nodes[i];
				if (!tn->left)
					continue;
				rep->gain[tn->feature] += tn->gain;
				rep->splits[tn->feature] += 1;
			}
	}
	fit_state_free(&s);
	return 0;
fail:
	fit_state_free(&s);
	return rc;
}

/* ---- the family: frames in, ml_model out -------------------------------------------------------- */

static void frame_column(void *ctx, size_t j, double *out)
{
	ml_frame_column(ctx, j, out);
}

static int set_info(ml_model *m, const gbdt_model *g, const gbdt_report *rep, uint32_t max_cat)
{
	const ml_signature *sig = &m->sig;
	json_t *gain = json_object(), *split = json_object(), *imp, *base = json_array();
	json_t *warn = json_array();
	int bad = !gain || !split || !base || !warn;

	for (size_t j = 0; !bad && j < sig->n_features; j++) {
		char *w;
		if (!rep->pooled[j])
			continue;
		w = sl__asprintf("feature '%s': %u rare categories share one bin (max_cat: %u keeps "
				 "the others apart)",
				 sig->features[j].name, rep->pooled[j], max_cat);
		bad = !w || json_array_append_new(warn, json_string(w));
		sl__free(w);
	}
	if (!bad && json_array_size(warn))
		bad = json_object_set(m->info, "warnings", warn) != 0;
	json_decref(warn);

	for (size_t j = 0; !bad && j < sig->n_features; j++) {
		if (rep->splits[j] == 0)
			continue;
		bad = json_object_set_new(gain, sig->features[j].name, json_real(rep->gain[j])) ||
		      json_object_set_new(split, sig->features[j].name,
					  json_integer((json_int_t)rep->splits[j]));
	}
	for (uint32_t k = 0; !bad && k < g->n_groups; k++)
		bad = json_array_append_new(base, json_real(g->base[k]));
	imp = bad ? NULL : json_pack("{s:O, s:O}", "gain", gain, "split", split);
	bad = bad || !imp || json_object_set_new(m->info, "importance", imp) ||
	      json_object_set_new(m->info, "trees", json_integer(g->n_trees)) ||
	      json_object_set_new(m->info, "rounds", json_integer(rep->rounds)) ||
	      json_object_set_new(m->info, "base_score", json_incref(base));
	if (!bad && rep->valid_loss) {
		json_t *vals = json_array(), *curve;
		for (uint32_t r = 0; vals && r < rep->rounds_run; r++)
			if (json_array_append_new(vals, isfinite(rep->valid_loss[r])
								? json_real(rep->valid_loss[r])
								: json_null()))
				bad = 1;
		curve = vals ? json_pack("{s:s, s:o}", "metric", rep->loss_name, "valid", vals) : NULL;
		bad = bad || !curve || json_object_set_new(m->info, "curve", curve) ||
		      json_object_set_new(m->info, "rounds_trained", json_integer(rep->rounds_run)) ||
		      json_object_set_new(m->info, "best_round", json_integer(rep->best_round + 1));
	}
	json_decref(gain);
	json_decref(split);
	json_decref(base);
	return bad ? sl__oom() : 0;
}

int gbdt_train(const gbdt_params *prm, const ml_frame *fr, const double *valid_X,
	       const double *valid_y, size_t n_valid, ml_model **out)
{
	gbdt_params p = *prm;
	const ml_signature *sig = &fr->sig;
	size_t P = sig->n_features;
	uint32_t *n_cat = sl__calloc(P ? P : 1, sizeof *n_cat);
	gbdt_data tr = {0}, va = {0};
	gbdt_report rep = {0};
	gbdt_model *g = NULL;
	ml_signature sc = {0};
	json_t *pj;
	ml_model *m = NULL;
	int rc;

	*out = NULL;
	if (!n_cat)
		return sl__oom();
	if (!p.objective)
		p.objective = sig->task;
	if (p.objective != sig->task) {
		sl__free(n_cat);
		return sl__err(SL_EINVAL, "objective %s does not fit the target '%s', which has %zu "
					  "classes (use objective: %s)",
			       ml_task_name(p.objective), sig->target ? sig->target : "",
			       sig->n_classes, ml_task_name(sig->task));
	}
	p.n_classes = (uint32_t)sig->n_classes;
	for (size_t j = 0; j < P; j++)
		n_cat[j] = sig->features[j].type == DS_STRING ? sig->features[j].n_dict : 0;
	tr = (gbdt_data){fr->n, P, NULL, 0, 0, frame_column, (void *)fr, n_cat, fr->y};
	if (valid_X && valid_y && n_valid)
		va = (gbdt_data){n_valid, P, valid_X, P, 1, NULL, NULL, n_cat, valid_y};
	rc = gbdt_fit(&p, &tr, va.n ? &va : NULL, &g, &rep);
	sl__free(n_cat);
	if (rc)
		return rc;
	pj = gbdt_params_json(&p);
	if (!pj)
		rc = sl__oom();
	else if ((rc = ml_signature_copy(&sc, sig)))
		json_decref(pj);
	else
		rc = ml_model_new(&ml_gbdt_ops, &sc, pj, &m); /* takes sc and pj either way */
	if (rc) {
		ml_signature_clear(&sc);
		gbdt_model_free(g);
		gbdt_report_free(&rep);
		return rc;
	}
	m->impl = g;
	rc = set_info(m, g, &rep, p.max_cat);
	gbdt_report_free(&rep);
	if (rc) {
		ml_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* ---- ml_ops --------------------------------------------------------------------------------------- */

const gbdt_model *gbdt_of(const ml_model *m)
{
	return m && m->ops == &ml_gbdt_ops ? m->impl : NULL;
}

static int ops_predict(const ml_model *m, const double *X, size_t n, double *out)
{
	gbdt_predict(m->impl, X, n, out);
	return 0;
}

static int ops_explain(const ml_model *m, const double *X, size_t n, double *out)
{
	return gbdt_shap(m->impl, X, n, out);
}

static size_t ops_groups(const ml_model *m)
{
	return ((const gbdt_model *)m->impl)->n_groups;
}

static int ops_save(const ml_model *m, mfile_writer *w)
{
	return gbdt_model_save(m->impl, w, "gbdt.");
}

static int ops_load(ml_model *m, const mfile *f)
{
	gbdt_model *g;
	int rc = gbdt_model_load(f, "gbdt.", (uint32_t)m->sig.n_features, &g);

	if (rc)
		return rc;
	if (g->objective != m->sig.task ||
	    (g->objective == ML_BINARY && m->sig.n_classes != 2) ||
	    (g->objective == ML_MULTICLASS && g->n_groups != m->sig.n_classes) ||
	    m->sig.n_outputs != (g->objective == ML_REGRESSION ? 1 : m->sig.n_classes)) {
		gbdt_model_free(g);
		return sl__err(SL_ECORRUPT, "%s: the gbdt model does not fit its signature",
			       mfile_name(f));
	}
	m->impl = g;
	return 0;
}

static void ops_free(void *impl)
{
	gbdt_model_free(impl);
}

static int ops_emit_c(const ml_model *m, struct sl__cw *w)
{
	return gbdt_emit_c(m->impl, w);
}

const ml_ops ml_gbdt_ops = {
	.algorithm = "gbdt",
	.predict = ops_predict,
	.explain = ops_explain,
	.explain_groups = ops_groups,
	.save = ops_save,
	.load = ops_load,
	.free_impl = ops_free,
	.emit_c = ops_emit_c,
};
