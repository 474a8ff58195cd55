/*
 * A GBDT model's layout, prediction, and its sections in a model file
 * (gbdt.h).
 *
 * Sections (each name after the caller's prefix, "gbdt." for the family):
 *
 *   head   8 x u32: layout version (1), objective (ml_task), features,
 *          groups, trees, nodes, category words, 0
 *   base   groups x f64: the raw score before any tree
 *   trees  (trees + 1) x u32: tree t is nodes [trees[t], trees[t + 1])
 *   nodes  nodes x 16 bytes (gbdt_node): the flat arrays predict walks
 *   cover  nodes x f64: hessian that reached each node (TreeSHAP)
 *   gain   nodes x f64: each split's gain (importance)
 *   cats   words x u32: bitsets of categorical splits, [n_bits, words...]
 *
 * Every section starts 64-byte aligned in the file (mfile.h), so nodes and
 * doubles are used in place from the mapping: loading a model is checking
 * it, not copying it. The checks (ml.h invariant 4): counts agree with the
 * section sizes, tree offsets rise, every split names an existing feature
 * and children inside its tree after itself (so a walk ends), every
 * category bitset lies inside `cats`, covers are positive and values
 * finite, and no tree is deeper than GBDT_MAX_DEPTH.
 *
 * Prediction of one row walks each tree from its root with no allocation
 * and no state (gbdt_node_right in gbdt.h decides each step). Batches walk
 * a second, compact layout of the same trees, built from the nodes on
 * first use (see "batches" below); both add the same leaves in the same
 * order, so they agree to the bit.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "ml/gbdt.h"

#define LAYOUT_VERSION 1u
#define HEAD_WORDS 8

_Static_assert(sizeof(gbdt_node) == 16, "a node is 16 bytes");

/* The arrays of a trained model, owned by it. */
typedef struct owned {
	double *base, *cover, *gain;
	uint32_t *tree, *cats;
	gbdt_node *nodes;
} owned;

static void flat_free(struct gbdt_flat *f);

void gbdt_model_free(gbdt_model *g)
{
	if (!g)
		return;
	if (g->own) {
		owned *o = g->own;
		sl__free(o->base);
		sl__free(o->cover);
		sl__free(o->gain);
		sl__free(o->tree);
		sl__free(o->cats);
		sl__free(o->nodes);
		sl__free(o);
	}
	sl__free(g->expect);
	sl__free(g->walk_depth);
	flat_free(g->flat);
	sl__free(g);
}

/* ---- prediction ------------------------------------------------------------------- */

static inline double walk(const gbdt_node *n, const uint32_t *cats, const double *row)
{
	while (n->left)
		n += n->left + gbdt_node_right(n, cats, row[n->info & GBDT_NODE_FEATURE]);
	return n->value;
}

/* One step of a walk: a leaf (left == 0) stays where it is. */
#define STEP(p)                                                                              \
	do {                                                                                 \
		const gbdt_node *n_ = (p);                                                   \
		unsigned r_ = gbdt_node_right(n_, cats, row[n_->info & GBDT_NODE_FEATURE]); \
		(p) = n_->left ? n_ + n_->left + r_ : n_;                                    \
	} while (0)

/*
 * GBDT_WALK (8) trees at a time, each walked for as many steps as the
 * deepest of them: the walks are independent chains of dependent loads,
 * and interleaving them keeps the core busy where walking one tree at a
 * time would wait on each load. Written out by hand so that the eight
 * node pointers stay in registers. Leaves are added in tree order either
 * way, so the sums are the same as one tree after another.
 */
void gbdt_predict_raw(const gbdt_model *g, const double *row, double *out)
{
	const gbdt_node *nodes = g->nodes;
	const uint32_t *tree = g->tree, *cats = g->cats;
	uint32_t K = g->n_groups, T = g->n_trees, t = 0, k = 0;

	_Static_assert(GBDT_WALK == 8, "the walk below is written out for eight trees");
	for (uint32_t c = 0; c < K; c++)
		out[c] = g->base[c];
	for (; t + GBDT_WALK <= T; t += GBDT_WALK) {
		const gbdt_node *p0 = nodes + tree[t], *p1 = nodes + tree[t + 1];
		const gbdt_node *p2 = nodes + tree[t + 2], *p3 = nodes + tree[t + 3];
		const gbdt_node *p4 = nodes + tree[t + 4], *p5 = nodes + tree[t + 5];
		const gbdt_node *p6 = nodes + tree[t + 6], *p7 = nodes + tree[t + 7];
		const gbdt_node *leaf[GBDT_WALK];
		for (unsigned s = g->walk_depth[t / GBDT_WALK]; s > 0; s--) {
			STEP(p0);
			STEP(p1);
			STEP(p2);
			STEP(p3);
			STEP(p4);
			STEP(p5);
			STEP(p6);
			STEP(p7);
		}
		leaf[0] = p0, leaf[1] = p1, leaf[2] = p2, leaf[3] = p3;
		leaf[4] = p4, leaf[5] = p5, leaf[6] = p6, leaf[7] = p7;
		for (unsigned j = 0; j < GBDT_WALK; j++) {
			out[k] += leaf[j]->value;
			if (++k == K)
				k = 0;
		}
	}
	for (; t < T; t++) {
		out[k] += walk(nodes + tree[t], cats, row);
		if (++k == K)
			k = 0;
	}
}

static void softmax(double *v, size_t k)
{
	double mx = v[0], sum = 0;

	for (size_t i = 1; i < k; i++)
		if (v[i] > mx)
			mx = v[i];
	for (size_t i = 0; i < k; i++) {
		v[i] = exp(v[i] - mx);
		sum += v[i];
	}
	for (size_t i = 0; i < k; i++)
		v[i] /= sum;
}

/* Raw scores to what gbdt_predict hands out, one row (out as gbdt_predict's). */
static inline void finish_row(const gbdt_model *g, const double *raw, double *out)
{
	switch (g->objective) {
	case ML_BINARY: {
		double pr = 1.0 / (1.0 + exp(-raw[0]));
		out[0] = 1.0 - pr;
		out[1] = pr;
		break;
	}
	case ML_MULTICLASS:
		if (out != raw)
			memcpy(out, raw, g->n_groups * sizeof *out);
		softmax(out, g->n_groups);
		break;
	default:
		out[0] = raw[0];
		break;
	}
}

/* The batch layout (below) and the row walk over it. */
static const struct gbdt_flat *flat_of(const gbdt_model *g);
static void flat_row_raw(const gbdt_model *g, const struct gbdt_flat *f, const double *row,
			 double *out);

void gbdt_predict(const gbdt_model *g, const double *X, size_t n, double *out)
{
	size_t p = g->n_features, K = g->n_groups, w = g->objective == ML_BINARY ? 2 : K;

	const struct gbdt_flat *f;

	if (n >= GBDT_BATCH_MIN && gbdt_predict_batch(g, X, n, out) == 0)
		return;
	f = flat_of(g);
	for (size_t i = 0; i < n; i++) {
		double m;
		double *raw = g->objective == ML_BINARY ? &m : out + i * w;
		if (f)
			flat_row_raw(g, f, X + i * p, raw);
		else
			gbdt_predict_raw(g, X + i * p, raw);
		finish_row(g, raw, out + i * w);
	}
}

/* ---- batches ------------------------------------------------------------------------ */

/*
 * The batch layout. Each tree of numeric splits no deeper than
 * GBDT_FLAT_DEPTH is laid out as a complete tree of its depth d: split i
 * (0 .. 2^d - 2, breadth first) has children 2i + 1 and 2i + 2, and leaf j
 * (0 .. 2^d - 1) is reached after exactly d steps. A leaf of the model
 * above the last level becomes splits that send everything left (threshold
 * NaN: x >= NaN is false for every x, and NaN keeps to the left), with its
 * value copied to every leaf below. A walk is then d steps of
 *
 *     i = 2i + 1 + ((x >= thr[i]) | (x is NaN & the split's default is right))
 *
 * with no test for leaves and no branch, exactly gbdt_node_right's
 * decision; trees with categorical splits or deeper ones keep the node
 * walk. The trees of a whole group of GBDT_WALK that are all laid out
 * take the group's deepest depth and are interleaved (flat_build), so
 * that one row walks the eight together (flat_row_raw). In a batch, rows
 * are taken GBDT_BLOCK at a time and every tree is walked by the whole
 * block, level by level (independent steps, the tree's few hundred bytes
 * in L1). Either way leaves are added in tree order from the base, as
 * gbdt_predict_raw adds them: the sums, and so the predictions, are the
 * same bits.
 */
#define FLAT_NODE_WALK UINT32_MAX

typedef struct gbdt_flat {
	uint32_t *split; /* per tree: its first split in thr/feat, or FLAT_NODE_WALK */
	uint32_t *leaf;  /* per tree: its first leaf in value */
	uint8_t *depth;  /* per tree */
	uint8_t *group;  /* per GBDT_WALK trees: their common depth (row walk), or 0 */
	uint8_t *shift;  /* per tree: 3 when its group is interleaved (below), else 0 */
	double *thr;
	uint32_t *feat;  /* the split's feature */
	uint8_t *right;  /* whether NaN goes right (read only for rows with one) */
	double *value;
} gbdt_flat;

static void flat_free(gbdt_flat *f)
{
	if (!f)
		return;
	sl__free(f->split);
	sl__free(f->leaf);
	sl__free(f->depth);
	sl__free(f->group);
	sl__free(f->shift);
	sl__free(f->thr);
	sl__free(f->feat);
	sl__free(f->right);
	sl__free(f->value);
	sl__free(f);
}

/* Node nd of a model tree at position i, level l of a complete tree of
 * depth d, whose positions are sh to the left (its group interleaved). */
static void flat_fill(gbdt_flat *f, const gbdt_node *nd, uint32_t split, uint32_t leaf,
		      unsigned sh, unsigned d, unsigned l, uint32_t i)
{
	if (l == d) {
		f->value[leaf + ((i - ((1u << d) - 1)) << sh)] = nd->value;
		return;
	}
	if (nd->left == 0) {
		f->thr[split + (i << sh)] = NAN;
		f->feat[split + (i << sh)] = 0;
		f->right[split + (i << sh)] = 0;
		flat_fill(f, nd, split, leaf, sh, d, l + 1, 2 * i + 1);
		flat_fill(f, nd, split, leaf, sh, d, l + 1, 2 * i + 2);
		return;
	}
	f->thr[split + (i << sh)] = nd->value;
	f->feat[split + (i << sh)] = nd->info & GBDT_NODE_FEATURE;
	f->right[split + (i << sh)] = !(nd->info & GBDT_NODE_DEFAULT_LEFT);
	flat_fill(f, nd + nd->left, split, leaf, sh, d, l + 1, 2 * i + 1);
	flat_fill(f, nd + nd->left + 1, split, leaf, sh, d, l + 1, 2 * i + 2);
}

static gbdt_flat *flat_build(const gbdt_model *g)
{
	gbdt_flat *f = sl__calloc(1, sizeof *f);
	uint32_t T = g->n_trees;
	size_t ns = 0, nl = 0;
	uint32_t *depth = sl__malloc((g->n_nodes ? g->n_nodes : 1) * sizeof *depth);

	if (!f || !depth || !(f->split = sl__malloc((T + 1) * sizeof *f->split)) ||
	    !(f->leaf = sl__malloc((T + 1) * sizeof *f->leaf)) ||
	    !(f->depth = sl__calloc(T + 1, 1)) || !(f->group = sl__calloc(T / GBDT_WALK + 1, 1)) ||
	    !(f->shift = sl__calloc(T + 1, 1)))
		goto fail;
	for (uint32_t t = 0; t < T; t++) {
		const gbdt_node *nd = g->nodes + g->tree[t];
		uint32_t sz = g->tree[t + 1] - g->tree[t], d = 0;
		bool cat = false;
		depth[0] = 0;
		for (uint32_t i = 0; i < sz; i++)
			if (nd[i].left) {
				depth[i + nd[i].left] = depth[i + nd[i].left + 1] = depth[i] + 1;
				d = depth[i] + 1 > d ? depth[i] + 1 : d;
				cat |= (nd[i].info & GBDT_NODE_CAT) != 0;
			}
		f->depth[t] = (uint8_t)(d > GBDT_FLAT_DEPTH ? 0 : d);
		f->split[t] = cat || d > GBDT_FLAT_DEPTH ? FLAT_NODE_WALK : 0;
	}
	/* A whole group of laid-out trees takes its deepest tree's depth
	 * (the shallower padded as leaves above the last level are), so that
	 * the row walk steps its eight trees together, and its nodes are
	 * interleaved: position i of the group's tree j at 8i + j, so that the
	 * row walk needs one base pointer for the eight and each step's next
	 * position is 2a + 8 - j + 8c (from a = 8i + j, i' = 2i + 1 + c). */
	_Static_assert(GBDT_WALK == 8, "the interleaving shifts by 3");
	for (uint32_t t = 0; t + GBDT_WALK <= T; t += GBDT_WALK) {
		uint8_t d = 0;
		for (uint32_t j = t; j < t + GBDT_WALK; j++) {
			if (f->split[j] == FLAT_NODE_WALK) {
				d = 0;
				break;
			}
			d = f->depth[j] > d ? f->depth[j] : d;
		}
		f->group[t / GBDT_WALK] = d;
		for (uint32_t j = t; d && j < t + GBDT_WALK; j++)
			f->depth[j] = d;
	}
	for (uint32_t t = 0, gs = 0, gl = 0; t < T; t++) {
		uint32_t d = f->depth[t], j = t % GBDT_WALK;
		if (f->split[t] == FLAT_NODE_WALK)
			continue;
		if (f->group[t / GBDT_WALK]) {
			if (j == 0) {
				gs = (uint32_t)ns, gl = (uint32_t)nl;
				ns += (size_t)GBDT_WALK * ((1u << d) - 1);
				nl += (size_t)GBDT_WALK << d;
			}
			f->split[t] = gs + j;
			f->leaf[t] = gl + j;
			f->shift[t] = 3;
			continue;
		}
		f->split[t] = (uint32_t)ns;
		f->leaf[t] = (uint32_t)nl;
		ns += (1u << d) - 1;
		nl += 1u << d;
	}
	if (ns + nl >= UINT32_MAX || !(f->thr = sl__malloc((ns ? ns : 1) * sizeof *f->thr)) ||
	    !(f->feat = sl__malloc((ns ? ns : 1) * sizeof *f->feat)) ||
	    !(f->right = sl__malloc(ns ? ns : 1)) ||
	    !(f->value = sl__malloc((nl ? nl : 1) * sizeof *f->value)))
		goto fail;
	for (uint32_t t = 0; t < T; t++)
		if (f->split[t] != FLAT_NODE_WALK)
			flat_fill(f, g->nodes + g->tree[t], f->split[t], f->leaf[t], f->shift[t],
				  f->depth[t], 0, 0);
	sl__free(depth);
	return f;
fail:
	sl__free(depth);
	flat_free(f);
	return NULL;
}

/* g's batch layout, built by the first caller (a racing builder frees its copy). */
static const gbdt_flat *flat_of(const gbdt_model *g)
{
	gbdt_flat *f = __atomic_load_n(&g->flat, __ATOMIC_ACQUIRE), *none = NULL;

	if (f)
		return f;
	if (!(f = flat_build(g)))
		return NULL;
	/* g is const to its readers; the cache is the one field they may fill. */
	if (__atomic_compare_exchange_n(&((gbdt_model *)g)->flat, &none, f, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return f;
	flat_free(f);
	return none;
}

/*
 * One row through a group of GBDT_WALK laid-out trees of common depth d,
 * interleaved: the eight walks step together (independent chains of
 * loads, as in gbdt_predict_raw), each step a compare and an index, the
 * eight positions in registers.
 *
 * Why not one vector for the eight: a walk that gathers the eight
 * features, values and thresholds of a level (AVX2: five gathers;
 * AVX-512: three) ran a served row's 100 trees in 2.7k fewer instructions
 * but three to five times the time (1.08 us a row -> 4.90 with AVX2, 3.34
 * with AVX-512), on a host where a gather costs about 25 cycles whatever
 * its width (as under the microcode fix for gather data sampling) and a
 * level needs two dependent ones. See this file's history before trying
 * again on another host.
 */
static void flat_group(const gbdt_flat *f, uint32_t t, unsigned d, const double *row, bool nan,
		       double *leaf)
{
	const double *thr = f->thr + f->split[t];
	const uint32_t *feat = f->feat + f->split[t];
	const uint8_t *right = f->right + f->split[t];
	const double *value = f->value;
	size_t a[GBDT_WALK], off = f->leaf[t] - ((size_t)((1u << d) - 1) << 3);

	for (unsigned j = 0; j < GBDT_WALK; j++)
		a[j] = j;
	if (nan)
		for (unsigned l = d; l > 0; l--) {
#pragma GCC unroll 8
			for (unsigned j = 0; j < GBDT_WALK; j++) {
				double x = row[feat[a[j]]];
				size_t c = (x >= thr[a[j]]) | ((x != x) & right[a[j]]);
				a[j] = 2 * a[j] + GBDT_WALK - j + (c << 3);
			}
		}
	else
		for (unsigned l = d; l > 0; l--) {
#pragma GCC unroll 8
			for (unsigned j = 0; j < GBDT_WALK; j++) {
				/* 8c as 8 + 8(c - 1): c - 1 is 0 or all ones, which
				 * x86 takes from the compare's carry in one
				 * instruction (sbb) where c itself takes two */
				size_t m = -(size_t) !(row[feat[a[j]]] >= thr[a[j]]);
				a[j] = 2 * a[j] + 2 * GBDT_WALK - j + (m << 3);
			}
		}
	/* Leaf i of tree j is at 8i + j from the group's first leaf, and the
	 * walk ends at a = 8(2^d - 1 + i) + j: one offset for the eight
	 * (unsigned, so wrapping below the first leaf is defined; every a is
	 * past it). */
#pragma GCC unroll 8
	for (unsigned j = 0; j < GBDT_WALK; j++)
		leaf[j] = value[off + a[j]];
}

/*
 * One row through laid-out tree t, alone: one of the trees after the last
 * whole group, which flat_build never interleaves (shift 0), so positions
 * are the tree's own. Like flat_group, without the NaN term for a row
 * without a NaN.
 */
static double flat_tree(const gbdt_flat *f, uint32_t t, const double *row, bool nan)
{
	const double *thr = f->thr + f->split[t];
	const uint32_t *feat = f->feat + f->split[t];
	const uint8_t *right = f->right + f->split[t];
	unsigned d = f->depth[t];
	uint32_t i = 0;

	if (nan)
		for (unsigned l = d; l > 0; l--) {
			double x = row[feat[i]];
			i = 2 * i + 1 + ((x >= thr[i]) | ((x != x) & right[i]));
		}
	else
		for (unsigned l = d; l > 0; l--)
			i = 2 * i + 1 + (row[feat[i]] >= thr[i]);
	return f->value[f->leaf[t] + i - ((1u << d) - 1)];
}

/*
 * Whether any of x[0 .. n) is NaN, which decides between the walks with
 * and without the NaN term. A sum is NaN when a term is, so the row is
 * summed two doubles an add through the compiler's vector extensions (SSE2
 * on x86-64, as in dense.c) and only a NaN sum is looked at one by one: it
 * can also come of opposite infinities (given, or reached by overflow)
 * without a NaN in the row. A served row of 57 features took about 400
 * instructions one at a time and takes about 110.
 */
typedef double nan_v2d __attribute__((vector_size(16)));

static inline nan_v2d load2(const double *p)
{
	nan_v2d v;

	memcpy(&v, p, sizeof v);
	return v;
}

static bool has_nan(const double *x, size_t n)
{
	nan_v2d s0 = {0, 0}, s1 = {0, 0}, s2 = {0, 0}, s3 = {0, 0};
	double s;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		s0 += load2(x + i);
		s1 += load2(x + i + 2);
		s2 += load2(x + i + 4);
		s3 += load2(x + i + 6);
	}
	for (; i + 2 <= n; i += 2)
		s0 += load2(x + i);
	s0 += s1 + s2 + s3;
	s = s0[0] + s0[1];
	for (; i < n; i++)
		s += x[i];
	if (!isnan(s))
		return false;
	for (i = 0; i < n; i++)
		if (isnan(x[i]))
			return true;
	return false;
}

/*
 * gbdt_predict_raw over the layout: the same leaves added in the same
 * order, so the same bits. A step of the node walk decides a leaf, a
 * category and a missing value at every node (about 25 instructions); here
 * the leaves are at a known depth and the categorical trees keep the node
 * walk, so a step is a few instructions (6 with the eight positions in
 * registers and no NaN in the row). A served request's 100 trees of depth
 * 6 took 6.9k instructions instead of 15.4k, and a row of
 * bench/predict.sh's 100-tree model 0.97 us of CPU instead of 1.73
 * (medians of five, a loaded host); the 6-instruction step, the leaves
 * read from one offset and the trees after the last group walked without
 * the NaN term then took a call of gbdt_predict from 6.66k instructions
 * to 5.33k.
 */
static void flat_row_raw(const gbdt_model *g, const gbdt_flat *f, const double *row, double *out)
{
	const gbdt_node *nodes = g->nodes;
	const uint32_t *tree = g->tree;
	uint32_t K = g->n_groups, T = g->n_trees, t = 0, k = 0;
	bool nan = has_nan(row, g->n_features);

	for (uint32_t c = 0; c < K; c++)
		out[c] = g->base[c];
	for (; t + GBDT_WALK <= T; t += GBDT_WALK) {
		double leaf[GBDT_WALK];
		unsigned d = f->group[t / GBDT_WALK];
		if (d)
			flat_group(f, t, d, row, nan, leaf);
		else
			for (unsigned j = 0; j < GBDT_WALK; j++)
				leaf[j] = walk(nodes + tree[t + j], g->cats, row);
		if (K == 1) {
			/* unrolled: counting the loop cost more than its adds */
#pragma GCC unroll 8
			for (unsigned j = 0; j < GBDT_WALK; j++)
				out[0] += leaf[j];
			continue;
		}
		for (unsigned j = 0; j < GBDT_WALK; j++) {
			out[k] += leaf[j];
			if (++k == K)
				k = 0;
		}
	}
	for (; t < T; t++) {
		out[k] += f->split[t] == FLAT_NODE_WALK ? walk(nodes + tree[t], g->cats, row)
							 : flat_tree(f, t, row, nan);
		if (++k == K)
			k = 0;
	}
}

/* Raw scores of nb <= GBDT_BLOCK rows into raw (stride K). */
static void block_raw(const gbdt_model *g, const gbdt_flat *f, const double *X, size_t nb,
		      double *raw)
{
	const size_t p = g->n_features;
	const uint32_t K = g->n_groups;
	uint32_t idx[GBDT_BLOCK], k = 0;
	bool nan = has_nan(X, nb * p);

	for (size_t r = 0; r < nb; r++)
		for (uint32_t c = 0; c < K; c++)
			raw[r * K + c] = g->base[c];
	for (uint32_t t = 0; t < g->n_trees; t++) {
		if (f->split[t] == FLAT_NODE_WALK) {
			const gbdt_node *root = g->nodes + g->tree[t];
			for (size_t r = 0; r < nb; r++)
				raw[r * K + k] += walk(root, g->cats, X + r * p);
		} else {
			const double *thr = f->thr + f->split[t];
			const uint32_t *feat = f->feat + f->split[t];
			const uint8_t *right = f->right + f->split[t];
			const double *value = f->value + f->leaf[t];
			uint32_t inner = (1u << f->depth[t]) - 1;
			unsigned sh = f->shift[t];
			for (size_t r = 0; r < nb; r++)
				idx[r] = 0;
			if (nan)
				for (unsigned l = f->depth[t]; l > 0; l--)
					for (size_t r = 0; r < nb; r++) {
						uint32_t i = idx[r];
						double x = X[r * p + feat[i << sh]];
						idx[r] = 2 * i + 1 +
							 ((x >= thr[i << sh]) | ((x != x) & right[i << sh]));
					}
			else /* the same steps without the NaN term, for blocks without one */
				for (unsigned l = f->depth[t]; l > 0; l--)
					for (size_t r = 0; r < nb; r++) {
						uint32_t i = idx[r];
						double x = X[r * p + feat[i << sh]];
						idx[r] = 2 * i + 1 + (x >= thr[i << sh]);
					}
			for (size_t r = 0; r < nb; r++)
				raw[r * K + k] += value[(idx[r] - inner) << sh];
		}
		if (++k == K)
			k = 0;
	}
}

int gbdt_predict_batch(const gbdt_model *g, const double *X, size_t n, double *out)
{
	const gbdt_flat *f = flat_of(g);
	size_t p = g->n_features, K = g->n_groups, w = g->objective == ML_BINARY ? 2 : K;
	double margin[GBDT_BLOCK];

	if (!f)
		return SL_ENOMEM;
	for (size_t lo = 0; lo < n; lo += GBDT_BLOCK) {
		size_t nb = n - lo < GBDT_BLOCK ? n - lo : GBDT_BLOCK;
		double *o = out + lo * w;
		/* Binary rows hand out two numbers from one margin: margins aside. */
		double *raw = g->objective == ML_BINARY ? margin : o;
		block_raw(g, f, X + lo * p, nb, raw);
		for (size_t r = 0; r < nb; r++)
			finish_row(g, raw + r * K, o + r * w);
	}
	return 0;
}

/* ---- expected values and depth --------------------------------------------------- */

/* The scratch of gbdt_model_finish and the loader: per-node depths and
 * expectations of one tree at a time, sized for the largest. */
typedef struct finish_scratch {
	uint32_t *depth;
	double *e;
} finish_scratch;

static int finish_begin(gbdt_model *g, finish_scratch *s)
{
	uint32_t most = 1;

	for (uint32_t t = 0; t < g->n_trees; t++)
		if (g->tree[t + 1] - g->tree[t] > most)
			most = g->tree[t + 1] - g->tree[t];
	sl__free(g->expect);
	sl__free(g->walk_depth);
	flat_free(g->flat); /* the nodes changed: the next batch lays them out again */
	g->flat = NULL;
	s->depth = sl__malloc(most * sizeof *s->depth);
	s->e = sl__malloc(most * sizeof *s->e);
	g->expect = sl__malloc((g->n_trees ? g->n_trees : 1) * sizeof *g->expect);
	g->walk_depth = sl__calloc(g->n_trees / GBDT_WALK + 1, sizeof *g->walk_depth);
	g->max_depth = 0;
	if (!s->depth || !s->e || !g->expect || !g->walk_depth) {
		sl__free(s->depth);
		sl__free(s->e);
		return sl__oom();
	}
	return 0;
}

static void finish_end(finish_scratch *s)
{
	sl__free(s->depth);
	sl__free(s->e);
}

/* Tree t's depth and expectation; its nodes are checked (or trained) already. */
static void finish_tree(gbdt_model *g, uint32_t t, const finish_scratch *s)
{
	const gbdt_node *nd = g->nodes + g->tree[t];
	const double *cov = g->cover + g->tree[t];
	uint32_t sz = g->tree[t + 1] - g->tree[t], deepest = 0, *depth = s->depth;
	uint8_t *wd = &g->walk_depth[t / GBDT_WALK];
	double *e = s->e;

	depth[0] = 0;
	for (uint32_t i = 0; i < sz; i++)
		if (nd[i].left) {
			uint32_t d = depth[i] + 1;
			depth[i + nd[i].left] = depth[i + nd[i].left + 1] = d;
			deepest = d > deepest ? d : deepest;
		}
	if (deepest > g->max_depth)
		g->max_depth = deepest;
	/* Deeper than a byte is refused by the loader anyway. */
	if (deepest > *wd)
		*wd = deepest > 255 ? 255 : (uint8_t)deepest;
	/* Children come after parents: one backward pass. The weights are
	 * the cover ratios TreeSHAP uses, so that contributions plus this
	 * expectation give the raw score exactly (up to rounding); one
	 * division per split rather than one per child. */
	for (uint32_t i = sz; i-- > 0;) {
		uint32_t l = i + nd[i].left;
		e[i] = nd[i].left ? (cov[l] * e[l] + cov[l + 1] * e[l + 1]) / cov[i] : nd[i].value;
	}
	g->expect[t] = e[0];
}

int gbdt_model_finish(gbdt_model *g)
{
	finish_scratch s;
	int rc = finish_begin(g, &s);

	if (rc)
		return rc;
	for (uint32_t t = 0; t < g->n_trees; t++)
		finish_tree(g, t, &s);
	finish_end(&s);
	return 0;
}

/* ---- saving ------------------------------------------------------------------------ */

static int add(mfile_writer *w, const char *prefix, const char *name, const void *data,
	       size_t len)
{
	char full[MFILE_NAME_MAX];

	if (snprintf(full, sizeof full, "%s%s", prefix, name) >= (int)sizeof full)
		return sl__err(SL_EINVAL, "section prefix '%s' is too long", prefix);
	return mfile_add(w, full, data, len);
}

int gbdt_model_save(const gbdt_model *g, mfile_writer *w, const char *prefix)
{
	uint32_t head[HEAD_WORDS] = {LAYOUT_VERSION, (uint32_t)g->objective, g->n_features,
				     g->n_groups, g->n_trees, g->n_nodes, g->n_cat_words, 0};
	int rc;

	if ((rc = add(w, prefix, "head", head, sizeof head)) ||
	    (rc = add(w, prefix, "base", g->base, g->n_groups * sizeof *g->base)) ||
	    (rc = add(w, prefix, "trees", g->tree, (g->n_trees + 1) * sizeof *g->tree)) ||
	    (rc = add(w, prefix, "nodes", g->nodes, g->n_nodes * sizeof *g->nodes)) ||
	    (rc = add(w, prefix, "cover", g->cover, g->n_nodes * sizeof *g->cover)) ||
	    (rc = add(w, prefix, "gain", g->gain, g->n_nodes * sizeof *g->gain)) ||
	    (rc = add(w, prefix, "cats", g->cats, g->n_cat_words * sizeof *g->cats)))
		return rc;
	return 0;
}

/* ---- loading ----------------------------------------------------------------------- */

static int section(const mfile *f, const char *prefix, const char *name, size_t size,
		   size_t count, const void **out)
{
	char full[MFILE_NAME_MAX];

	if (snprintf(full, sizeof full, "%s%s", prefix, name) >= (int)sizeof full)
		return sl__err(SL_EINVAL, "section prefix '%s' is too long", prefix);
	return mfile_array(f, full, size, count, out);
}

static int bad(const mfile *f, const char *fmt, ...) SL__PRINTF(2, 3);

static int bad(const mfile *f, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return sl__err(SL_ECORRUPT, "%s: gbdt model: %s", mfile_name(f), what);
}

/* Checks the nodes of tree t (nd[0..sz)). */
static int check_tree(const mfile *f, const gbdt_model *g, uint32_t t, const gbdt_node *nd,
		      const double *cov, const double *gain, uint32_t sz)
{
	for (uint32_t i = 0; i < sz; i++) {
		const gbdt_node *n = &nd[i];
		uint32_t feat = n->info & GBDT_NODE_FEATURE;
		if (!(cov[i] > 0) || !isfinite(cov[i]) || !(gain[i] >= 0) || !isfinite(gain[i]))
			return bad(f, "tree %u node %u has a bad cover or gain", t, i);
		if (!n->left) {
			if (n->info != 0 || !isfinite(n->value))
				return bad(f, "tree %u leaf %u is malformed", t, i);
			continue;
		}
		/* Invariant 4 of gbdt.h: children after the node, inside the tree. */
		if ((uint64_t)i + n->left + 1 >= sz)
			return bad(f, "tree %u node %u has a child outside the tree", t, i);
		if (feat >= g->n_features || (n->info & ~(GBDT_NODE_FEATURE | GBDT_NODE_CAT |
							  GBDT_NODE_DEFAULT_LEFT)))
			return bad(f, "tree %u node %u names no feature of the model", t, i);
		if (n->info & GBDT_NODE_CAT) {
			double off = n->value;
			uint32_t o, words;
			if (!(off >= 0 && off < (double)g->n_cat_words) || off != floor(off))
				return bad(f, "tree %u node %u has no category set", t, i);
			o = (uint32_t)off;
			words = (uint32_t)(((uint64_t)g->cats[o] + 31) / 32);
			if ((uint64_t)o + 1 + words > g->n_cat_words)
				return bad(f, "tree %u node %u's category set overruns", t, i);
		} else if (isnan(n->value)) {
			return bad(f, "tree %u node %u has no threshold", t, i);
		}
	}
	return 0;
}

int gbdt_model_load(const mfile *f, const char *prefix, uint32_t n_features, gbdt_model **out)
{
	finish_scratch fs;
	const uint32_t *head;
	const void *v;
	gbdt_model *g;
	int rc;

	*out = NULL;
	if ((rc = section(f, prefix, "head", sizeof(uint32_t), HEAD_WORDS, &v)))
		return rc;
	head = v;
	if (head[0] != LAYOUT_VERSION)
		return sl__err(SL_EUNSUP, "%s: gbdt model layout %u (this sluice reads %u)",
			       mfile_name(f), head[0], LAYOUT_VERSION);
	g = sl__calloc(1, sizeof *g);
	if (!g)
		return sl__oom();
	g->objective = (ml_task)head[1];
	g->n_features = head[2];
	g->n_groups = head[3];
	g->n_trees = head[4];
	g->n_nodes = head[5];
	g->n_cat_words = head[6];
	rc = 0;
	if (g->objective != ML_REGRESSION && g->objective != ML_BINARY &&
	    g->objective != ML_MULTICLASS)
		rc = bad(f, "unknown objective %u", head[1]);
	else if ((g->objective == ML_MULTICLASS) != (g->n_groups > 1) || g->n_groups == 0 ||
		 g->n_groups > 1000)
		rc = bad(f, "%u groups do not fit the objective", g->n_groups);
	else if (g->n_features == 0 || g->n_features > GBDT_NODE_FEATURE ||
		 (n_features && g->n_features != n_features))
		rc = bad(f, "%u features where the signature has %u", g->n_features, n_features);
	else if (g->n_trees % g->n_groups)
		rc = bad(f, "%u trees do not make whole rounds of %u groups", g->n_trees,
			 g->n_groups);
	if (!rc && !(rc = section(f, prefix, "base", sizeof(double), g->n_groups, &v)))
		g->base = v;
	if (!rc && !(rc = section(f, prefix, "trees", sizeof(uint32_t), (size_t)g->n_trees + 1, &v)))
		g->tree = v;
	if (!rc && !(rc = section(f, prefix, "nodes", sizeof(gbdt_node), g->n_nodes, &v)))
		g->nodes = v;
	if (!rc && !(rc = section(f, prefix, "cover", sizeof(double), g->n_nodes, &v)))
		g->cover = v;
	if (!rc && !(rc = section(f, prefix, "gain", sizeof(double), g->n_nodes, &v)))
		g->gain = v;
	if (!rc && !(rc = section(f, prefix, "cats", sizeof(uint32_t), g->n_cat_words, &v)))
		g->cats = v;
	for (uint32_t k = 0; !rc && k < g->n_groups; k++)
		if (!isfinite(g->base[k]))
			rc = bad(f, "base score %u is not finite", k);
	if (!rc && g->tree[0] != 0)
		rc = bad(f, "the first tree starts at node %u", g->tree[0]);
	/* The extents first, so that finish_begin can size its scratch; then
	 * each tree is checked and finished while its nodes are in cache: one
	 * pass over the nodes after the digest's. */
	for (uint32_t t = 0; !rc && t < g->n_trees; t++)
		if (g->tree[t + 1] <= g->tree[t] || g->tree[t + 1] > g->n_nodes)
			rc = bad(f, "tree %u has a bad extent (ends at %u)", t, g->tree[t + 1]);
	if (!rc && g->tree[g->n_trees] != g->n_nodes)
		rc = bad(f, "the trees hold %u of %u nodes", g->tree[g->n_trees], g->n_nodes);
	if (!rc && (rc = finish_begin(g, &fs)) == 0) {
		for (uint32_t t = 0; !rc && t < g->n_trees; t++) {
			uint32_t a = g->tree[t], b = g->tree[t + 1];
			rc = check_tree(f, g, t, g->nodes + a, g->cover + a, g->gain + a, b - a);
			if (!rc)
				finish_tree(g, t, &fs);
		}
		finish_end(&fs);
	}
	if (!rc && g->max_depth > GBDT_MAX_DEPTH)
		rc = bad(f, "a tree is %u deep (at most %u)", g->max_depth, GBDT_MAX_DEPTH);
	if (rc) {
		gbdt_model_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* ---- a trained model's arrays ------------------------------------------------------- */

int gbdt_model_adopt(gbdt_model *g, double *base, uint32_t *tree, gbdt_node *nodes,
		     double *cover, double *gain, uint32_t *cats)
{
	owned *o = sl__calloc(1, sizeof *o);

	if (!o) {
		sl__free(base);
		sl__free(tree);
		sl__free(nodes);
		sl__free(cover);
		sl__free(gain);
		sl__free(cats);
		return sl__oom();
	}
	*o = (owned){base, cover, gain, tree, cats, nodes};
	g->own = o;
	g->base = base;
	g->tree = tree;
	g->nodes = nodes;
	g->cover = cover;
	g->gain = gain;
	g->cats = cats;
	return 0;
}

/* ---- export to C ------------------------------------------------------------------ */

/*
 * The C form of gbdt_node_right, walk and gbdt_predict for one row: the
 * nodes as one static table of {value, left, info}, tree by tree, the
 * leaves added in tree order (as the eight-way walk adds them).
 */
int gbdt_emit_c(const gbdt_model *g, sl__cw *w)
{
	int64_t *iv = sl__malloc(((size_t)g->n_trees + g->n_cat_words + 2) * sizeof *iv);

	if (!iv)
		return sl__oom();
	sl__cw_printf(w, "/*\n * Gradient-boosted trees: %u trees in %u group%s. A node is {value, left,\n"
			 " * info}: a leaf has left 0 and its value; a split sends x to node\n"
			 " * left + (x >= value) places after it (NaN: the default side, info bit 30), or\n"
			 " * for a category split (info bit 31) left when the code's bit is set in the\n"
			 " * bitset at sx_cats[value]. The feature is info's low 28 bits.\n */\n",
		      g->n_trees, g->n_groups, g->n_groups > 1 ? "s" : "");
	sl__cw_doubles(w, "static const double sx_base[]", g->base, g->n_groups);
	for (uint32_t t = 0; t <= g->n_trees; t++)
		iv[t] = g->tree[t];
	sl__cw_ints(w, "static const unsigned long sx_tree[]", iv, (size_t)g->n_trees + 1);
	for (uint32_t k = 0; k < g->n_cat_words; k++)
		iv[k] = g->cats[k];
	if (g->n_cat_words)
		sl__cw_ints(w, "static const unsigned long sx_cats[]", iv, g->n_cat_words);
	sl__free(iv);
	sl__cw_puts(w, "static const struct sx_node {\n\tdouble value;\n\tunsigned long left, info;\n"
		       "} sx_nodes[] = {");
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const gbdt_node *n = &g->nodes[i];
		sl__cw_puts(w, i % 3 ? " {" : i ? ",\n\t{" : "\n\t{");
		sl__cw_double(w, n->value);
		sl__cw_printf(w, ", %lu, %lu}%s", (unsigned long)n->left, (unsigned long)n->info,
			      i % 3 == 2 || i + 1 == g->n_nodes ? "" : ",");
	}
	sl__cw_puts(w, g->n_nodes ? "\n};\n" : "{0, 0, 0}};\n");
	/* Without category splits there is no bitset to read (and no branch for one). */
	sl__cw_puts(w, "\nstatic unsigned sx_right(const struct sx_node *n, double x)\n{\n");
	if (g->n_cat_words)
		sl__cw_puts(w, "\tif (n->info & 0x80000000UL) {\n"
			       "\t\tconst unsigned long *set = sx_cats + (unsigned long)n->value;\n"
			       "\t\tunsigned long c;\n"
			       "\t\tif (!(x >= 0 && x < (double)set[0]) || x != (double)(unsigned long)x)\n"
			       "\t\t\treturn !(n->info & 0x40000000UL);\n"
			       "\t\tc = (unsigned long)x;\n"
			       "\t\treturn !((set[1 + c / 32] >> (c % 32)) & 1);\n"
			       "\t}\n");
	sl__cw_puts(w, "\treturn (x >= n->value) | ((x != x) & !(n->info & 0x40000000UL));\n"
		       "}\n\n");
	sl__cw_printf(w,
		      "static void sx_model(const double *x, double *out)\n{\n"
		      "\tdouble raw[%u];\n"
		      "\tunsigned long k = 0;\n\n"
		      "\tfor (int c = 0; c < %u; c++)\n"
		      "\t\traw[c] = sx_base[c];\n"
		      "\tfor (unsigned long t = 0; t < %uUL; t++) {\n"
		      "\t\tconst struct sx_node *n = sx_nodes + sx_tree[t];\n"
		      "\t\twhile (n->left)\n"
		      "\t\t\tn += n->left + sx_right(n, x[n->info & 0x0fffffffUL]);\n"
		      "\t\traw[k] += n->value;\n"
		      "\t\tif (++k == %uUL)\n"
		      "\t\t\tk = 0;\n"
		      "\t}\n",
		      g->n_groups, g->n_groups, g->n_trees, g->n_groups);
	switch (g->objective) {
	case ML_BINARY:
		sl__cw_puts(w, "\t{\n\t\tdouble pr = 1.0 / (1.0 + exp(-raw[0]));\n"
			       "\t\tout[0] = 1.0 - pr;\n\t\tout[1] = pr;\n\t}\n");
		break;
	case ML_MULTICLASS:
		sl__cw_printf(w, "\t{\n\t\tdouble mx = raw[0], sum = 0;\n"
				 "\t\tfor (int i = 1; i < %u; i++)\n"
				 "\t\t\tif (raw[i] > mx)\n"
				 "\t\t\t\tmx = raw[i];\n"
				 "\t\tfor (int i = 0; i < %u; i++) {\n"
				 "\t\t\tout[i] = exp(raw[i] - mx);\n"
				 "\t\t\tsum += out[i];\n"
				 "\t\t}\n"
				 "\t\tfor (int i = 0; i < %u; i++)\n"
				 "\t\t\tout[i] /= sum;\n"
				 "\t}\n",
			      g->n_groups, g->n_groups, g->n_groups);
		break;
	default:
		sl__cw_puts(w, "\tout[0] = raw[0];\n");
		break;
	}
	sl__cw_puts(w, "}\n");
	return w->rc;
}

