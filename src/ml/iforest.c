/*
 * The isolation forest: anomalies are the rows that random partitions cut
 * off first. Each tree draws sample_size rows (without replacement) and
 * splits them on a random feature at a random point until every row is
 * alone or the depth limit ceil(log2(sample_size)) is reached. A row's
 * path length h(x) is the depth of the leaf it falls into plus c(size),
 * the expected further depth of a tree over the size training rows the
 * leaf still holds; its score is
 *
 *     s(x) = 2 ^ (-E[h(x)] / c(sample_size))
 *
 * with c(n) = 2 H(n-1) - 2 (n-1) / n, H(i) = ln(i) + 0.5772156649, c(2) = 1,
 * c(1) = c(0) = 0 (Liu, Ting and Zhou 2008; the same c as scikit-learn).
 * Scores near 1 are anomalies, scores well below 0.5 are normal.
 *
 * Choices this file makes, documented for users in docs/steps/train_iforest.md:
 *  - The split feature is drawn uniformly among the features that are not
 *    constant over the node's rows; a node where every feature is constant
 *    is a leaf.
 *  - Numbers: the split point v is uniform in [min, max) of the node's
 *    values and x <= v goes left, so both sides are non-empty.
 *  - Strings (dictionary codes): each category present in the node goes
 *    left or right with probability 1/2 (redrawn until both sides have
 *    one): a random subset split, the categorical analogue of a random cut.
 *  - Missing values (null, NaN, a category training never saw, or a
 *    category absent from the node's rows) follow the side that took more
 *    of the node's rows, as training sent them. A missing value therefore
 *    never makes a row look anomalous by itself; when missingness is a
 *    signal, add an indicator column in wrangle.
 *
 * Layout (sections of the model file, little-endian):
 *   "forest"  one if_header
 *   "roots"   n_trees u32: the index of each tree's root in "nodes"
 *   "nodes"   n_nodes if_node (32 bytes each), every tree's nodes in tree
 *             order; a split's children are left and left + 1
 *   "cats"    n_cats u32: for string splits, the categories present in the
 *             node as (code << 1 | goes_left), sorted by code
 *
 * Invariants:
 *  1. A split's children have larger indices than the split (they are
 *     appended after it), so a walk always terminates; load checks this
 *     and every other index, so a damaged file cannot send a walk astray.
 *  2. Tree t draws only from sl__rng_stream(seed, t) and trees are joined
 *     in tree order, so the model is the same bytes for any thread count.
 *  3. Predict sums the leaves' path lengths in tree order: one row alone
 *     gives the same bytes as the row within a batch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "ml/iforest.h"
#include "pool.h"
#include "rng.h"

#define EULER_GAMMA 0.5772156649015329

typedef struct if_header {
	uint32_t n_trees;
	uint32_t n_nodes;
	uint32_t n_cats;
	uint32_t sample_size; /* the psi every tree drew */
	double threshold;     /* anomaly iff score > threshold */
} if_header;

typedef struct if_node {
	int32_t feature;      /* -1: a leaf */
	uint32_t left;        /* a split's left child (right = left + 1) */
	uint32_t cat_off;     /* string split: its entries in "cats" */
	uint32_t cat_n;       /* 0: a numeric split (or a leaf) */
	double value;         /* numeric split: x <= value goes left; leaf: h */
	uint8_t missing_left; /* where missing values go */
	uint8_t pad[7];
} if_node;

typedef struct forest {
	if_header h;
	const uint32_t *roots;
	const if_node *nodes;
	const uint32_t *cats;
	double c_psi;
	/* When trained here (else the arrays point into the model file). */
	uint32_t *own_roots;
	if_node *own_nodes;
	uint32_t *own_cats;
} forest;

double ml_iforest_c(double n)
{
	if (n <= 1)
		return 0;
	if (n <= 2)
		return 1;
	return 2 * (log(n - 1) + EULER_GAMMA) - 2 * (n - 1) / n;
}

/* ---- prediction ----------------------------------------------------------------- */

/* Which way a string split sends code x: 1 left, 0 right, -1 not in the node. */
static int cat_side(const uint32_t *cats, uint32_t n, double x)
{
	uint32_t code, lo = 0, hi = n;

	if (!(x >= 0 && x < 4294967296.0) || x != floor(x))
		return -1;
	code = (uint32_t)x;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, c = cats[mid] >> 1;
		if (c == code)
			return (int)(cats[mid] & 1);
		if (c < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static double path_length(const forest *f, uint32_t root, const double *row)
{
	const if_node *nd = &f->nodes[root];

	while (nd->feature >= 0) {
		double x = row[nd->feature];
		int left;
		if (nd->cat_n) {
			int side = isnan(x) ? -1 : cat_side(f->cats + nd->cat_off, nd->cat_n, x);
			left = side < 0 ? nd->missing_left : side;
		} else {
			left = isnan(x) ? nd->missing_left : x <= nd->value;
		}
		nd = &f->nodes[nd->left + (left ? 0 : 1)];
	}
	return nd->value;
}

/*
 * Rows go through the forest a block at a time, tree by tree, so each
 * tree's nodes stay in cache while the block's rows walk it. Each row
 * still adds its trees' path lengths in tree order, so one row alone gives
 * the same sum, to the bit, as the row within a block (invariant 3).
 */
#define PREDICT_ROWS 128

static int iforest_predict(const ml_model *m, const double *X, size_t n, double *out)
{
	const forest *f = m->impl;
	size_t p = m->sig.n_features;
	double sum[PREDICT_ROWS];

	for (size_t lo = 0; lo < n; lo += PREDICT_ROWS) {
		size_t hi = n - lo < PREDICT_ROWS ? n : lo + PREDICT_ROWS;
		for (size_t i = lo; i < hi; i++)
			sum[i - lo] = 0;
		for (uint32_t t = 0; t < f->h.n_trees; t++)
			for (size_t i = lo; i < hi; i++)
				sum[i - lo] += path_length(f, f->roots[t], X + i * p);
		for (size_t i = lo; i < hi; i++) {
			double s = pow(2.0, -(sum[i - lo] / f->h.n_trees) / f->c_psi);
			out[2 * i] = s;
			out[2 * i + 1] = s > f->h.threshold ? 1 : 0;
		}
	}
	return 0;
}

/* ---- the file ------------------------------------------------------------------- */

static int iforest_save(const ml_model *m, mfile_writer *w)
{
	const forest *f = m->impl;
	int rc;

	if ((rc = mfile_add(w, "forest", &f->h, sizeof f->h)) ||
	    (rc = mfile_add(w, "roots", f->roots, f->h.n_trees * sizeof *f->roots)) ||
	    (rc = mfile_add(w, "nodes", f->nodes, f->h.n_nodes * sizeof *f->nodes)))
		return rc;
	return mfile_add(w, "cats", f->cats, f->h.n_cats * sizeof *f->cats);
}

/* Invariant 1 and every index, before any walk trusts them. */
static int check_forest(const forest *f, const ml_signature *sig, const char *name)
{
	const if_header *h = &f->h;

	if (h->n_trees == 0 || h->sample_size < 2 || !(h->threshold >= 0) || h->threshold > 1)
		return sl__err(SL_ECORRUPT, "%s: the forest header is malformed", name);
	for (uint32_t t = 0; t < h->n_trees; t++)
		if (f->roots[t] >= h->n_nodes)
			return sl__err(SL_ECORRUPT, "%s: tree %u has no root", name, t);
	for (uint32_t i = 0; i < h->n_nodes; i++) {
		const if_node *nd = &f->nodes[i];
		if (nd->feature < 0) {
			if (nd->feature != -1 || !isfinite(nd->value) || nd->value < 0)
				return sl__err(SL_ECORRUPT, "%s: leaf %u is malformed", name, i);
			continue;
		}
		if ((size_t)nd->feature >= sig->n_features || nd->left <= i ||
		    nd->left >= h->n_nodes - 1)
			return sl__err(SL_ECORRUPT, "%s: node %u points outside the forest", name, i);
		if ((sig->features[nd->feature].type == DS_STRING) != (nd->cat_n > 0) ||
		    nd->cat_off > h->n_cats || nd->cat_n > h->n_cats - nd->cat_off)
			return sl__err(SL_ECORRUPT, "%s: node %u has a malformed category split", name,
				       i);
		if (!nd->cat_n && isnan(nd->value))
			return sl__err(SL_ECORRUPT, "%s: node %u splits at NaN", name, i);
		for (uint32_t k = 1; k < nd->cat_n; k++)
			if ((f->cats[nd->cat_off + k] >> 1) <= (f->cats[nd->cat_off + k - 1] >> 1))
				return sl__err(SL_ECORRUPT, "%s: node %u's categories are not sorted",
					       name, i);
	}
	return 0;
}

static void iforest_free(void *impl)
{
	forest *f = impl;

	if (!f)
		return;
	sl__free(f->own_roots);
	sl__free(f->own_nodes);
	sl__free(f->own_cats);
	sl__free(f);
}

static int iforest_load(ml_model *m, const mfile *file)
{
	forest *f = sl__calloc(1, sizeof *f);
	const void *v;
	int rc;

	if (!f)
		return sl__oom();
	if (m->sig.task != ML_ANOMALY || m->sig.n_outputs != 2) {
		rc = sl__err(SL_ECORRUPT, "%s: an isolation forest must be an anomaly model",
			     mfile_name(file));
		goto fail;
	}
	if ((rc = mfile_array(file, "forest", sizeof f->h, 1, &v)))
		goto fail;
	memcpy(&f->h, v, sizeof f->h);
	if ((rc = mfile_array(file, "roots", sizeof *f->roots, f->h.n_trees, &v)))
		goto fail;
	f->roots = v;
	if ((rc = mfile_array(file, "nodes", sizeof *f->nodes, f->h.n_nodes, &v)))
		goto fail;
	f->nodes = v;
	if ((rc = mfile_array(file, "cats", sizeof *f->cats, f->h.n_cats, &v)))
		goto fail;
	f->cats = v;
	if ((rc = check_forest(f, &m->sig, mfile_name(file))))
		goto fail;
	f->c_psi = ml_iforest_c(f->h.sample_size);
	m->impl = f;
	return 0;
fail:
	iforest_free(f);
	return rc;
}

/* The C form of cat_side, path_length and iforest_predict for one row. */
static int iforest_emit_c(const ml_model *m, sl__cw *w)
{
	const forest *f = m->impl;
	size_t nn = f->h.n_nodes;
	int64_t *iv = sl__malloc((nn + f->h.n_trees + f->h.n_cats + 1) * sizeof *iv);
	double *dv = sl__malloc((nn + 1) * sizeof *dv);

	if (!iv || !dv) {
		sl__free(iv);
		sl__free(dv);
		return sl__oom();
	}
	sl__cw_printf(w, "/*\n * An isolation forest of %u trees: score = 2^(-mean path length / c(%u)).\n"
			 " * A node splits on feature sx_feature[i] (-1: a leaf, whose value is its\n"
			 " * path length); x <= value goes to child left, else left + 1; a string\n"
			 " * split sends the codes listed in sx_cats ((code << 1) | goes_left).\n */\n",
		      f->h.n_trees, f->h.sample_size);
	for (size_t i = 0; i < nn; i++)
		iv[i] = f->nodes[i].feature;
	sl__cw_ints(w, "static const int sx_feature[]", iv, nn);
	for (size_t i = 0; i < nn; i++)
		iv[i] = f->nodes[i].left;
	sl__cw_ints(w, "static const unsigned long sx_left[]", iv, nn);
	for (size_t i = 0; i < nn; i++)
		iv[i] = f->nodes[i].cat_off;
	sl__cw_ints(w, "static const unsigned long sx_cat_off[]", iv, nn);
	for (size_t i = 0; i < nn; i++)
		iv[i] = f->nodes[i].cat_n;
	sl__cw_ints(w, "static const unsigned long sx_cat_n[]", iv, nn);
	for (size_t i = 0; i < nn; i++)
		iv[i] = f->nodes[i].missing_left;
	sl__cw_ints(w, "static const unsigned char sx_missing_left[]", iv, nn);
	for (size_t i = 0; i < nn; i++)
		dv[i] = f->nodes[i].value;
	sl__cw_doubles(w, "static const double sx_value[]", dv, nn);
	for (size_t t = 0; t < f->h.n_trees; t++)
		iv[t] = f->roots[t];
	sl__cw_ints(w, "static const unsigned long sx_roots[]", iv, f->h.n_trees);
	for (size_t k = 0; k < f->h.n_cats; k++)
		iv[k] = f->cats[k];
	sl__cw_ints(w, "static const unsigned long sx_cats[]", iv, f->h.n_cats);
	sl__cw_puts(w, "\nstatic int sx_cat_side(const unsigned long *cats, unsigned long n,\n"
		       "\t\t       double x)\n{\n"
		       "\tunsigned long code, lo = 0, hi = n;\n\n"
		       "\tif (!(x >= 0 && x < 4294967296.0) || x != floor(x))\n"
		       "\t\treturn -1;\n"
		       "\tcode = (unsigned long)x;\n"
		       "\twhile (lo < hi) {\n"
		       "\t\tunsigned long mid = lo + (hi - lo) / 2, c = cats[mid] >> 1;\n"
		       "\t\tif (c == code)\n"
		       "\t\t\treturn (int)(cats[mid] & 1);\n"
		       "\t\tif (c < code)\n"
		       "\t\t\tlo = mid + 1;\n"
		       "\t\telse\n"
		       "\t\t\thi = mid;\n"
		       "\t}\n"
		       "\treturn -1;\n"
		       "}\n\n"
		       "static double sx_path_length(unsigned long nd, const double *row)\n{\n"
		       "\twhile (sx_feature[nd] >= 0) {\n"
		       "\t\tdouble x = row[sx_feature[nd]];\n"
		       "\t\tint left;\n"
		       "\t\tif (sx_cat_n[nd]) {\n"
		       "\t\t\tint side = isnan(x) ? -1\n"
		       "\t\t\t\t   : sx_cat_side(sx_cats + sx_cat_off[nd], sx_cat_n[nd], x);\n"
		       "\t\t\tleft = side < 0 ? sx_missing_left[nd] : side;\n"
		       "\t\t} else {\n"
		       "\t\t\tleft = isnan(x) ? sx_missing_left[nd] : x <= sx_value[nd];\n"
		       "\t\t}\n"
		       "\t\tnd = sx_left[nd] + (left ? 0 : 1);\n"
		       "\t}\n"
		       "\treturn sx_value[nd];\n"
		       "}\n\n"
		       "static void sx_model(const double *x, double *out)\n{\n"
		       "\tdouble sum = 0, s;\n\n");
	sl__cw_printf(w, "\tfor (int t = 0; t < %u; t++)\n"
			 "\t\tsum += sx_path_length(sx_roots[t], x);\n"
			 "\ts = pow(2.0, -(sum / %u) / ",
		      f->h.n_trees, f->h.n_trees);
	sl__cw_double(w, f->c_psi);
	sl__cw_puts(w, ");\n\tout[0] = s;\n\tout[1] = s > ");
	sl__cw_double(w, f->h.threshold);
	sl__cw_puts(w, " ? 1 : 0;\n}\n");
	sl__free(iv);
	sl__free(dv);
	return w->rc;
}

const ml_ops ml_iforest_ops = {
	.algorithm = "iforest",
	.predict = iforest_predict,
	.save = iforest_save,
	.load = iforest_load,
	.free_impl = iforest_free,
	.emit_c = iforest_emit_c,
};

/* ---- training --------------------------------------------------------------------- */

/* One tree under construction (owned by the worker that builds it). */
typedef struct tree_build {
	if_node *nodes;
	size_t n_nodes, cap_nodes;
	uint32_t *cats;
	size_t n_cats, cap_cats;
	int rc;
} tree_build;

typedef struct fit_job {
	const double *X;   /* n x p */
	size_t n, p, psi;
	unsigned max_depth;
	uint64_t seed;
	const bool *is_string; /* per feature */
	tree_build *trees;
} fit_job;

typedef struct pending {
	uint32_t node;
	size_t lo, hi; /* its rows: idx[lo, hi) */
	unsigned depth;
} pending;

static int push_node(tree_build *tb, uint32_t *out)
{
	/* psi rows give at most 2 psi - 1 nodes: the array was sized for it. */
	SL__ASSERT(tb->n_nodes < tb->cap_nodes);
	memset(&tb->nodes[tb->n_nodes], 0, sizeof *tb->nodes);
	*out = (uint32_t)tb->n_nodes++;
	return 0;
}

static int push_cat(tree_build *tb, uint32_t v)
{
	if (tb->n_cats == tb->cap_cats) {
		size_t cap = tb->cap_cats ? tb->cap_cats * 2 : 64;
		uint32_t *c = sl__reallocarray(tb->cats, cap, sizeof *c);
		if (!c)
			return sl__oom();
		tb->cats = c;
		tb->cap_cats = cap;
	}
	tb->cats[tb->n_cats++] = v;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * The distinct codes of string feature j over rows idx[lo, hi), sorted,
 * into codes (room for hi - lo); returns their number.
 */
static size_t distinct_codes(const fit_job *job, size_t j, const size_t *idx, size_t lo,
			     size_t hi, uint32_t *codes)
{
	size_t k = 0, d = 0;

	for (size_t r = lo; r < hi; r++) {
		double x = job->X[idx[r] * job->p + j];
		if (!isnan(x))
			codes[k++] = (uint32_t)x;
	}
	qsort(codes, k, sizeof *codes, cmp_u32);
	for (size_t i = 0; i < k; i++)
		if (i == 0 || codes[i] != codes[d - 1])
			codes[d++] = codes[i];
	return d;
}

static bool numeric_range(const fit_job *job, size_t j, const size_t *idx, size_t lo, size_t hi,
			  double *out_min, double *out_max)
{
	double mn = INFINITY, mx = -INFINITY;

	for (size_t r = lo; r < hi; r++) {
		double x = job->X[idx[r] * job->p + j];
		if (isnan(x))
			continue;
		if (x < mn)
			mn = x;
		if (x > mx)
			mx = x;
	}
	*out_min = mn;
	*out_max = mx;
	return mn < mx;
}

/* Does row i go left at split nd (whose categories are cats)? Missing: -1. */
static int goes_left(const fit_job *job, const if_node *nd, const uint32_t *cats, size_t i)
{
	double x = job->X[i * job->p + (size_t)nd->feature];

	if (isnan(x))
		return -1;
	if (nd->cat_n)
		return cat_side(cats, nd->cat_n, x);
	return x <= nd->value;
}

/*
 * Tries to split node pn: draws features in random order until one varies
 * over the node's rows, then draws the split. False (a leaf) when none
 * varies. scratch holds p feature numbers and hi - lo codes.
 */
static int try_split(const fit_job *job, tree_build *tb, sl__rng *r, const pending *pn,
		     size_t *idx, size_t *order, uint32_t *codes, bool *out_split)
{
	if_node *nd = &tb->nodes[pn->node];
	size_t p = job->p;

	*out_split = false;
	for (size_t j = 0; j < p; j++)
		order[j] = j;
	for (size_t left = p; left > 0; left--) {
		/* A partial Fisher-Yates shuffle: the next feature uniformly among
		 * those not yet tried. */
		size_t pick = (size_t)sl__rng_below(r, left), j = order[pick];
		order[pick] = order[left - 1];
		if (job->is_string[j]) {
			size_t d = distinct_codes(job, j, idx, pn->lo, pn->hi, codes);
			uint64_t bits = 0;
			bool all_same;
			if (d < 2)
				continue;
			nd->feature = (int32_t)j;
			nd->cat_off = (uint32_t)tb->n_cats;
			nd->cat_n = (uint32_t)d;
			do {
				size_t lefts = 0;
				tb->n_cats = nd->cat_off;
				for (size_t k = 0; k < d; k++) {
					if (k % 64 == 0)
						bits = sl__rng_next(r);
					uint32_t side = (uint32_t)(bits & 1);
					bits >>= 1;
					lefts += side;
					int rc = push_cat(tb, codes[k] << 1 | side);
					if (rc)
						return rc;
				}
				all_same = lefts == 0 || lefts == d;
			} while (all_same);
		} else {
			double mn, mx, v;
			if (!numeric_range(job, j, idx, pn->lo, pn->hi, &mn, &mx))
				continue;
			v = mn + sl__rng_uniform(r) * (mx - mn);
			if (!(v < mx)) /* rounding: keep the max on the right */
				v = mn;
			nd->feature = (int32_t)j;
			nd->value = v;
		}
		*out_split = true;
		return 0;
	}
	return 0;
}

/*
 * Moves the rows of pn that go left to the front of idx[lo, hi) and
 * returns where the right side starts. Missing rows go to the majority
 * side of the present ones (ties left), which the node records.
 */
static size_t partition(const fit_job *job, tree_build *tb, const pending *pn, size_t *idx)
{
	if_node *nd = &tb->nodes[pn->node];
	const uint32_t *cats = tb->cats + nd->cat_off;
	size_t nl = 0, nr = 0, mid = pn->lo;

	for (size_t r = pn->lo; r < pn->hi; r++) {
		int g = goes_left(job, nd, cats, idx[r]);
		nl += g == 1;
		nr += g == 0;
	}
	nd->missing_left = nl >= nr;
	for (size_t r = pn->lo; r < pn->hi; r++) {
		int g = goes_left(job, nd, cats, idx[r]);
		if (g == 1 || (g < 0 && nd->missing_left)) {
			size_t t = idx[mid];
			idx[mid++] = idx[r];
			idx[r] = t;
		}
	}
	return mid;
}

static int build_tree(const fit_job *job, size_t t, tree_build *tb)
{
	size_t psi = job->psi, *idx = NULL, *order = NULL;
	pending *stack = NULL;
	uint32_t *codes = NULL, root;
	size_t top = 0;
	sl__rng r;
	int rc = 0;

	sl__rng_stream(&r, job->seed, t);
	tb->cap_nodes = 2 * psi - 1;
	tb->nodes = sl__calloc(tb->cap_nodes, sizeof *tb->nodes);
	idx = sl__malloc(psi * sizeof *idx);
	order = sl__malloc((job->p ? job->p : 1) * sizeof *order);
	codes = sl__malloc(psi * sizeof *codes);
	/* Depth-first with the right child pushed first: at most one pending
	 * sibling per level, plus the node being split. */
	stack = sl__calloc(2 * (size_t)job->max_depth + 2, sizeof *stack);
	if (!tb->nodes || !idx || !order || !codes || !stack) {
		rc = sl__oom();
		goto out;
	}
	sl__rng_sample(&r, job->n, psi, idx);
	push_node(tb, &root);
	stack[top++] = (pending){root, 0, psi, 0};
	while (top > 0) {
		pending pn = stack[--top];
		bool split = false;
		size_t size = pn.hi - pn.lo, mid;
		uint32_t left, right;
		if (pn.depth < job->max_depth && size > 1 &&
		    (rc = try_split(job, tb, &r, &pn, idx, order, codes, &split)))
			goto out;
		if (!split) {
			if_node *leaf = &tb->nodes[pn.node];
			leaf->feature = -1;
			leaf->value = pn.depth + ml_iforest_c((double)size);
			continue;
		}
		mid = partition(job, tb, &pn, idx);
		push_node(tb, &left);
		push_node(tb, &right);
		tb->nodes[pn.node].left = left;
		stack[top++] = (pending){right, mid, pn.hi, pn.depth + 1};
		stack[top++] = (pending){left, pn.lo, mid, pn.depth + 1};
	}
out:
	sl__free(idx);
	sl__free(order);
	sl__free(codes);
	sl__free(stack);
	return rc;
}

static void build_one(void *ctx, size_t t, unsigned worker)
{
	fit_job *job = ctx;

	(void)worker;
	job->trees[t].rc = build_tree(job, t, &job->trees[t]);
}

/* Joins the trees in tree order, shifting their indices (invariant 2). */
static int join_trees(const fit_job *job, unsigned n_trees, forest *f)
{
	size_t nodes = 0, cats = 0;

	for (unsigned t = 0; t < n_trees; t++) {
		nodes += job->trees[t].n_nodes;
		cats += job->trees[t].n_cats;
	}
	if (nodes >= UINT32_MAX || cats >= UINT32_MAX)
		return sl__err(SL_ELIMIT, "the forest is too large: use fewer trees or a smaller "
					  "sample_size");
	f->own_roots = sl__malloc(n_trees * sizeof *f->own_roots);
	f->own_nodes = sl__malloc(nodes * sizeof *f->own_nodes);
	f->own_cats = sl__malloc((cats ? cats : 1) * sizeof *f->own_cats);
	if (!f->own_roots || !f->own_nodes || !f->own_cats)
		return sl__oom();
	nodes = cats = 0;
	for (unsigned t = 0; t < n_trees; t++) {
		const tree_build *tb = &job->trees[t];
		f->own_roots[t] = (uint32_t)nodes;
		for (size_t i = 0; i < tb->n_nodes; i++) {
			if_node nd = tb->nodes[i];
			if (nd.feature >= 0) {
				nd.left += (uint32_t)nodes;
				nd.cat_off = nd.cat_n ? nd.cat_off + (uint32_t)cats : 0;
			}
			f->own_nodes[nodes + i] = nd;
		}
		if (tb->n_cats)
			memcpy(f->own_cats + cats, tb->cats, tb->n_cats * sizeof *tb->cats);
		nodes += tb->n_nodes;
		cats += tb->n_cats;
	}
	f->h.n_trees = n_trees;
	f->h.n_nodes = (uint32_t)nodes;
	f->h.n_cats = (uint32_t)cats;
	f->roots = f->own_roots;
	f->nodes = f->own_nodes;
	f->cats = f->own_cats;
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

/*
 * The threshold that flags round(c n) of the n training scores s (sorted,
 * highest first): halfway between the last flagged and the first
 * unflagged score, so new rows are judged by a cut that no training score
 * sits on. When scores tie at the cut the tied rows all stay unflagged
 * (fewer flags, never more). c == 0 is "auto": the paper's 0.5.
 */
static double contamination_threshold(const double *s, size_t n, double c)
{
	size_t k = (size_t)llround(c * (double)n);

	if (c == 0)
		return 0.5;
	if (k == 0)
		return s[0];
	if (k >= n)
		return 0;
	if (s[k - 1] == s[k])
		return s[k];
	return s[k] + (s[k - 1] - s[k]) / 2;
}

/* Scores the training rows, sets the threshold and records both in info. */
static int set_threshold(ml_model *m, const double *X, size_t n, double c)
{
	forest *f = m->impl;
	double *o = sl__malloc(2 * n * sizeof *o), *s;
	size_t flagged = 0;
	int rc;

	if (!o)
		return sl__oom();
	if ((rc = ml_model_predict(m, X, n, o))) {
		sl__free(o);
		return rc;
	}
	s = o; /* the scores, compacted into the front */
	for (size_t i = 0; i < n; i++)
		s[i] = o[2 * i];
	qsort(s, n, sizeof *s, cmp_desc);
	f->h.threshold = contamination_threshold(s, n, c);
	while (flagged < n && s[flagged] > f->h.threshold)
		flagged++;
	rc = json_object_set_new(m->info, "threshold", json_real(f->h.threshold)) ||
	     json_object_set_new(m->info, "sample_size", json_integer(f->h.sample_size)) ||
	     json_object_set_new(m->info, "train_anomaly_rate",
				 json_real((double)flagged / (double)n)) ||
	     json_object_set_new(m->info, "train_score_max", json_real(s[0])) ||
	     json_object_set_new(m->info, "train_score_median", json_real(s[n / 2]))
		     ? sl__oom()
		     : 0;
	sl__free(o);
	return rc;
}

int ml_iforest_fit(const ml_frame *fr, const ml_iforest_opts *o, ml_model **out)
{
	size_t n = fr->n, p = fr->sig.n_features, psi;
	ml_signature sig = {0};
	fit_job job = {0};
	forest *f = NULL;
	bool *is_string = NULL;
	double *X = NULL;
	json_t *params;
	ml_model *m = NULL;
	int rc;

	*out = NULL;
	if (fr->sig.task != ML_ANOMALY)
		return sl__err(SL_EINVAL, "an isolation forest detects anomalies; the frame is %s",
			       ml_task_name(fr->sig.task));
	if (o->trees < 1 || o->trees > ML_IFOREST_MAX_TREES)
		return sl__err(SL_EINVAL, "trees must be between 1 and %d", ML_IFOREST_MAX_TREES);
	if (o->sample_size < 2 || o->sample_size > ML_IFOREST_MAX_SAMPLE)
		return sl__err(SL_EINVAL, "sample_size must be between 2 and %u",
			       ML_IFOREST_MAX_SAMPLE);
	if (!(o->contamination >= 0 && o->contamination <= 0.5))
		return sl__err(SL_EINVAL, "contamination must be in (0, 0.5], or auto");
	if (n < 2)
		return sl__err(SL_EINVAL, "an isolation forest needs at least two training rows");
	psi = o->sample_size < n ? o->sample_size : n;
	if ((rc = ml_frame_matrix(fr, &X)))
		return rc;
	is_string = sl__calloc(p ? p : 1, sizeof *is_string);
	job.trees = sl__calloc(o->trees, sizeof *job.trees);
	f = sl__calloc(1, sizeof *f);
	if (!is_string || !job.trees || !f) {
		rc = sl__oom();
		goto out;
	}
	for (size_t j = 0; j < p; j++)
		is_string[j] = fr->sig.features[j].type == DS_STRING;
	job.X = X;
	job.n = n;
	job.p = p;
	job.psi = psi;
	job.max_depth = (unsigned)ceil(log2((double)psi));
	job.seed = o->seed;
	job.is_string = is_string;
	sl__parallel_for(o->threads, o->trees, build_one, &job);
	for (unsigned t = 0; t < o->trees; t++)
		if ((rc = job.trees[t].rc))
			goto out;
	if ((rc = join_trees(&job, o->trees, f)))
		goto out;
	f->h.sample_size = (uint32_t)psi;
	f->h.threshold = 0.5;
	f->c_psi = ml_iforest_c((double)psi);
	if ((rc = ml_signature_copy(&sig, &fr->sig)))
		goto out;
	params = json_pack("{s:i, s:I, s:o, s:I}", "trees", (int)o->trees, "sample_size",
			   (json_int_t)o->sample_size, "contamination",
			   o->contamination > 0 ? json_real(o->contamination) : json_string("auto"),
			   "seed", (json_int_t)o->seed);
	if ((rc = ml_model_new(&ml_iforest_ops, &sig, params, &m)))
		goto out;
	m->impl = f;
	f = NULL;
	if ((rc = set_threshold(m, X, n, o->contamination)))
		goto out;
	*out = m;
	m = NULL;
out:
	for (unsigned t = 0; job.trees && t < o->trees; t++) {
		sl__free(job.trees[t].nodes);
		sl__free(job.trees[t].cats);
	}
	sl__free(job.trees);
	sl__free(is_string);
	sl__free(X);
	iforest_free(f);
	ml_model_free(m);
	ml_signature_clear(&sig);
	return rc;
}
