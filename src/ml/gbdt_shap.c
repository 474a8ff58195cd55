/*
 * TreeSHAP: exact Shapley values of a tree ensemble's raw score, in
 * polynomial time (Lundberg, Erion and Lee, "Consistent individualized
 * feature attribution for tree ensembles", 2018, Algorithm 2), written
 * from the paper.
 *
 * The value of a set S of known features is the path-dependent
 * expectation: walk the tree; at a split on a feature in S follow x; at
 * any other split take both children, weighted by the share of training
 * cover each received. Shapley values of that game, summed over trees.
 *
 * The algorithm walks each tree once per row, carrying the path of unique
 * features from the root with, per feature, the fraction of zero paths
 * (cover share: the feature unknown) and one paths (1 when x went that
 * way, else 0), and for each subset size the weight of the permutations
 * that reach it:
 *
 *   extend(pz, po)   a new feature on the path: every weight w_i splits
 *                    into the part where the feature comes later
 *                    (pz * w_i * (l - i) / (l + 1)) and earlier
 *                    (po * w_i * (i + 1) / (l + 1) into w_{i+1})
 *   unwind(k)        the inverse of extend for element k: a feature seen
 *                    again is taken off the path and re-extended with its
 *                    fractions multiplied through, so each feature appears
 *                    once
 *   at a leaf        feature i gets (sum of the weights with i unwound) *
 *                    (o_i - z_i) * leaf value
 *
 * O(leaves * depth^2) per tree and row. The base value is each tree's
 * expectation with the same cover ratios (gbdt_model_finish), so the
 * contributions plus the base value give the raw score up to rounding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/gbdt.h"
#include "pool.h"

#define NO_FEATURE UINT32_MAX
/* Rows per block when a batch is spread over the pool. */
#define SHAP_GRAIN 64

typedef struct pelem {
	double z, o, w; /* zero fraction, one fraction, permutation weight */
	uint32_t d;     /* feature */
} pelem;

/* Adds element l (the path holds l before it). */
static void extend(pelem *m, unsigned l, double pz, double po, uint32_t d)
{
	m[l] = (pelem){pz, po, l == 0 ? 1.0 : 0.0, d};
	for (unsigned i = l; i-- > 0;) {
		m[i + 1].w += po * m[i].w * (double)(i + 1) / (double)(l + 1);
		m[i].w = pz * m[i].w * (double)(l - i) / (double)(l + 1);
	}
}

/* Removes element k from a path whose last element is l. */
static void unwind(pelem *m, unsigned l, unsigned k)
{
	double one = m[k].o, zero = m[k].z, next = m[l].w;

	for (unsigned i = l; i-- > 0;) {
		if (one != 0) {
			double t = m[i].w;
			m[i].w = next * (double)(l + 1) / ((double)(i + 1) * one);
			next = t - m[i].w * zero * (double)(l - i) / (double)(l + 1);
		} else {
			m[i].w = m[i].w * (double)(l + 1) / (zero * (double)(l - i));
		}
	}
	for (unsigned i = k; i < l; i++) {
		m[i].d = m[i + 1].d;
		m[i].z = m[i + 1].z;
		m[i].o = m[i + 1].o;
	}
}

/* The total weight of the path with element k unwound, without changing it. */
static double unwound_sum(const pelem *m, unsigned l, unsigned k)
{
	double one = m[k].o, zero = m[k].z, next = m[l].w, total = 0;

	for (unsigned i = l; i-- > 0;) {
		if (one != 0) {
			double t = next * (double)(l + 1) / ((double)(i + 1) * one);
			total += t;
			next = m[i].w - t * zero * (double)(l - i) / (double)(l + 1);
		} else if (zero != 0) {
			total += m[i].w * (double)(l + 1) / (zero * (double)(l - i));
		}
	}
	return total;
}

typedef struct shap_tree {
	const gbdt_node *nd;
	const double *cover;
	const uint32_t *cats;
	const double *x;
	double *phi;
	pelem *paths;  /* one path per depth, stride elements apart */
	size_t stride;
} shap_tree;

static void recurse(const shap_tree *c, uint32_t j, unsigned level, const pelem *parent,
		    unsigned l, double pz, double po, uint32_t d)
{
	pelem *m = c->paths + (size_t)level * c->stride;
	const gbdt_node *n = &c->nd[j];
	uint32_t f, hot, cold;
	double iz = 1, io = 1;
	unsigned k, ll = l;

	if (l)
		memcpy(m, parent, l * sizeof *m);
	extend(m, l, pz, po, d);
	if (!n->left) {
		for (unsigned i = 1; i <= l; i++)
			c->phi[m[i].d] += unwound_sum(m, l, i) * (m[i].o - m[i].z) * n->value;
		return;
	}
	f = n->info & GBDT_NODE_FEATURE;
	hot = j + n->left + gbdt_node_right(n, c->cats, c->x[f]);
	cold = hot == j + n->left ? hot + 1 : hot - 1;
	for (k = 1; k <= l; k++)
		if (m[k].d == f)
			break;
	if (k <= l) {
		iz = m[k].z;
		io = m[k].o;
		unwind(m, l, k);
		ll = l - 1;
	}
	recurse(c, hot, level + 1, m, ll + 1, iz * c->cover[hot] / c->cover[j], io, f);
	recurse(c, cold, level + 1, m, ll + 1, iz * c->cover[cold] / c->cover[j], 0, f);
}

typedef struct shap_job {
	const gbdt_model *g;
	const double *X;
	double *out;
	pelem **paths; /* per worker */
	size_t stride;
} shap_job;

static void shap_rows(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	shap_job *j = ctx;
	const gbdt_model *g = j->g;
	size_t P = g->n_features, K = g->n_groups, W = P + 1;
	shap_tree c;

	c.cats = g->cats;
	c.paths = j->paths[worker];
	c.stride = j->stride;
	for (size_t i = lo; i < hi; i++) {
		double *row_out = j->out + i * K * W;
		memset(row_out, 0, K * W * sizeof *row_out);
		c.x = j->X + i * P;
		for (size_t k = 0; k < K; k++)
			row_out[k * W + P] = g->base[k];
		for (uint32_t t = 0; t < g->n_trees; t++) {
			size_t k = t % K;
			c.nd = g->nodes + g->tree[t];
			c.cover = g->cover + g->tree[t];
			c.phi = row_out + k * W;
			recurse(&c, 0, 0, NULL, 0, 1, 1, NO_FEATURE);
			row_out[k * W + P] += g->expect[t];
		}
	}
}

int gbdt_shap(const gbdt_model *g, const double *X, size_t n, double *out)
{
	unsigned threads = n >= 2 * SHAP_GRAIN ? sl__ncpu() : 1;
	size_t stride = (size_t)g->max_depth + 2;
	shap_job j = {g, X, out, NULL, stride};
	int rc = 0;

	j.paths = sl__calloc(threads, sizeof *j.paths);
	if (!j.paths)
		return sl__oom();
	for (unsigned t = 0; t < threads; t++)
		if (!(j.paths[t] = sl__malloc(stride * stride * sizeof(pelem)))) {
			rc = sl__oom();
			goto out;
		}
	sl__parallel_range(threads, n, SHAP_GRAIN, shap_rows, &j);
out:
	for (unsigned t = 0; t < threads; t++)
		sl__free(j.paths[t]);
	sl__free(j.paths);
	return rc;
}

/* Rows explained at a time, to bound the scratch of a large batch. */
#define IMPORTANCE_BLOCK 1024

int gbdt_shap_importance(const ml_model *m, const double *X, size_t n, double *out)
{
	size_t P = m->sig.n_features, K, W = P + 1, block;
	long double *sum;
	double *buf;
	int rc = 0;

	if (!m->ops->explain)
		return sl__err(SL_EUNSUP, "%s models have no per-feature explanations",
			       m->ops->algorithm);
	K = m->ops->explain_groups ? m->ops->explain_groups(m) : 1;
	block = n < IMPORTANCE_BLOCK ? n : IMPORTANCE_BLOCK;
	sum = sl__calloc(P ? P : 1, sizeof *sum);
	buf = sl__malloc((block ? block : 1) * K * W * sizeof *buf);
	if (!sum || !buf) {
		rc = sl__oom();
		goto out;
	}
	for (size_t lo = 0; lo < n; lo += block) {
		size_t rows = n - lo < block ? n - lo : block;
		if ((rc = m->ops->explain(m, X + lo * P, rows, buf)))
			goto out;
		for (size_t i = 0; i < rows; i++)
			for (size_t k = 0; k < K; k++)
				for (size_t f = 0; f < P; f++)
					sum[f] += fabs(buf[(i * K + k) * W + f]);
	}
	for (size_t f = 0; f < P; f++)
		out[f] = n ? (double)(sum[f] / (long double)n) : 0;
out:
	sl__free(sum);
	sl__free(buf);
	return rc;
}
