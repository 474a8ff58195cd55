/*
 * Growing one GBDT tree on binned rows and quantised gradients (gbdt.h).
 *
 *   root: rows -> histogram -> best split
 *     expand(batch of nodes with a split):
 *       partition  each node's rows into its children (stable, two passes:
 *                  count lefts per chunk, then scatter), row buffer a -> b
 *       histogram  the smaller child, built from its rows
 *       subtract   the larger child = parent - smaller (exact: integers)
 *       search     the best split of each child: one task per node, or,
 *                  when the batch has fewer nodes than twice the threads,
 *                  per node and range of features (subtraction included),
 *                  the ranges' bests taken in feature order
 *   depth-wise: the batch is every splittable node of a level (XGBoost's
 *   hist); leaf-wise: the single open node of largest gain (LightGBM).
 *
 * Invariants:
 *  1. Each live node's rows are the range [lo, hi) of row buffer `buf`;
 *     live nodes' ranges are disjoint, so partitioning a node into the other
 *     buffer overwrites only rows of its dead ancestors.
 *  2. Partitions are stable, and chunks of a node are sized from the row
 *     count alone, never from which thread runs them; together with integer
 *     histograms (gbdt.h invariant 1) every tree is the same for any thread
 *     count.
 *  3. A node's children are appended together (left, left + 1) after every
 *     node that exists when it is split, so children come after parents.
 *  4. A split is kept only when both children have a positive hessian sum
 *     of at least min_child_weight, and its gain beats min_split_gain and
 *     rounding noise (1e-10 of the parent's score).
 *
 * Split search, numeric: bins are scanned in order with the missing bin's
 * sums on the right, then on the left, and the better is the learned
 * default direction; with no missing rows in the node the default goes to
 * the child with more hessian (where unseen NaN most likely belongs).
 * Categorical: the bins present are sorted by G / (H + CAT_SMOOTH) and
 * prefixes of that order are scanned as the left set (Fisher's ordering,
 * as LightGBM does), with the missing bin on either side.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/gbdt.h"
#include "pool.h"

/* Smoothing of the category ordering (LightGBM's cat_smooth). */
#define CAT_SMOOTH 10.0
/* Rows per partition chunk when a node is shared among threads. */
#define PART_CHUNK 8192
/* The fewest features a split-search task covers. */
#define SEARCH_MIN_FEATURES 4
/* Below this many rows a batch's partition or leaf update runs serially. */
#define SERIAL_ROWS 4096
/* Rows per block of the leaf sums (fixed: the sums' order must not depend
 * on threads), and the most leaves summed that way. */
#define LEAF_BLOCK 16384
#define LEAF_TABLE_MAX 1024
#define NO_LEAF UINT32_MAX

typedef struct split {
	double gain;
	uint32_t feature;
	uint16_t bin;
	bool valid, categorical, default_left;
	uint64_t mask[4];
	int64_t GL, HL;
} split;

/*
 * One task of a batch's split search: the children of batch entry `entry`,
 * over the features features[a_lo..a_hi), each child's best among them.
 */
typedef struct stask {
	uint32_t entry, a_lo, a_hi;
	split best[2];
} stask;

/* Per node, while the tree grows. */
typedef struct work {
	int64_t G, H;
	gbdt_gh *hist; /* while the node may still split */
	split best;
} work;

typedef struct pchunk {
	uint32_t node;
	size_t lo, hi;
	size_t nl;          /* lefts in the chunk (pass 1) */
	size_t at_l, at_r;  /* where they go (pass 2) */
} pchunk;

struct gbdt_grower {
	const gbdt_params *prm;
	const gbdt_cuts *cuts;
	const gbdt_binned *bins;
	unsigned threads;
	size_t n, p, hist_len;
	uint32_t *buf[2];
	gbdt_gh **free_hist;
	size_t n_free, cap_free;
	gbdt_gh **all_hist; /* every histogram allocated, to free them */
	size_t n_all;
	gbdt_hist_ctx hc;
	/* The current tree's call. */
	gbdt_tree *t;
	double gs, hs;
	const uint32_t *features;
	size_t nf;
	uint32_t *all_features;
	work *w;
	size_t w_cap;
	pchunk *ch;
	size_t ch_cap;
	uint32_t *batch;
	size_t batch_cap;
	const gbdt_hist_job *jobs; /* expand's histogram jobs ... */
	const size_t *job_of;      /* ... and each batch entry's, or SIZE_MAX */
	stask *st;                 /* expand's search tasks, by entry then features */
	size_t st_cap;
	double *margin;
	size_t stride;
	const uint32_t *sample;   /* the tree's rows, or NULL: all */
	uint32_t *leaf_of;  /* per row: its leaf's number, or NO_LEAF */
	double *partial;    /* per row block and leaf: G and H sums */
	size_t partial_cap; /* doubles partial holds */
};

/* ---- the grower's life ----------------------------------------------------------- */

int gbdt_grower_new(const gbdt_params *p, const gbdt_cuts *c, const gbdt_binned *rows,
		    unsigned threads, gbdt_grower **out)
{
	gbdt_grower *g = sl__calloc(1, sizeof *g);

	*out = NULL;
	if (!g)
		return sl__oom();
	g->prm = p;
	g->cuts = c;
	g->bins = rows;
	g->threads = threads ? threads : 1;
	g->n = rows->n;
	g->p = rows->p;
	g->hist_len = gbdt_hist_len(c);
	g->buf[0] = sl__malloc((g->n ? g->n : 1) * sizeof(uint32_t));
	g->buf[1] = sl__malloc((g->n ? g->n : 1) * sizeof(uint32_t));
	g->leaf_of = sl__malloc((g->n ? g->n : 1) * sizeof(uint32_t));
	g->all_features = sl__malloc((g->p ? g->p : 1) * sizeof(uint32_t));
	if (!g->buf[0] || !g->buf[1] || !g->leaf_of || !g->all_features) {
		gbdt_grower_free(g);
		return sl__oom();
	}
	gbdt_huge(g->buf[0], g->n * sizeof(uint32_t));
	gbdt_huge(g->buf[1], g->n * sizeof(uint32_t));
	for (size_t j = 0; j < g->p; j++)
		g->all_features[j] = (uint32_t)j;
	g->hc.cuts = c;
	g->hc.bins = rows;
	g->hc.threads = g->threads;
	*out = g;
	return 0;
}

void gbdt_grower_free(gbdt_grower *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_all; i++)
		sl__free(g->all_hist[i]);
	sl__free(g->all_hist);
	sl__free(g->free_hist);
	sl__free(g->buf[0]);
	sl__free(g->buf[1]);
	sl__free(g->leaf_of);
	sl__free(g->partial);
	sl__free(g->all_features);
	sl__free(g->hc.scratch);
	sl__free(g->w);
	sl__free(g->ch);
	sl__free(g->batch);
	sl__free(g->st);
	sl__free(g);
}

void gbdt_tree_free(gbdt_tree *t)
{
	sl__free(t->nodes);
	memset(t, 0, sizeof *t);
}

static gbdt_gh *hist_get(gbdt_grower *g)
{
	gbdt_gh *h, **all;

	if (g->n_free)
		return g->free_hist[--g->n_free];
	all = sl__reallocarray(g->all_hist, g->n_all + 1, sizeof *all);
	if (!all)
		return NULL;
	g->all_hist = all;
	h = sl__malloc((g->hist_len ? g->hist_len : 1) * sizeof *h);
	if (!h)
		return NULL;
	g->all_hist[g->n_all++] = h;
	if (g->n_all > g->cap_free) {
		gbdt_gh **f = sl__reallocarray(g->free_hist, g->n_all, sizeof *f);
		if (!f)
			return NULL; /* h stays in all_hist and is freed with the grower */
		g->free_hist = f;
		g->cap_free = g->n_all;
	}
	return h;
}

static void hist_put(gbdt_grower *g, gbdt_gh **h)
{
	if (*h) {
		/* cap_free >= n_all > n_free: every histogram fits back. */
		g->free_hist[g->n_free++] = *h;
		*h = NULL;
	}
}

/* Room for k more nodes in the tree and their work entries. */
static int reserve_nodes(gbdt_grower *g, size_t k)
{
	gbdt_tree *t = g->t;

	if (t->n + k > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		gbdt_tnode *nn;
		while (cap < t->n + k)
			cap *= 2;
		nn = sl__reallocarray(t->nodes, cap, sizeof *nn);
		if (!nn)
			return sl__oom();
		t->nodes = nn;
		t->cap = (uint32_t)cap;
	}
	if (t->n + k > g->w_cap) {
		size_t cap = t->cap;
		work *w = sl__reallocarray(g->w, cap, sizeof *w);
		if (!w)
			return sl__oom();
		g->w = w;
		g->w_cap = cap;
	}
	return 0;
}

/* ---- split search ---------------------------------------------------------------- */

static double score(double G, double H, double lambda)
{
	return G * G / (H + lambda);
}

typedef struct cat_entry {
	double ratio;
	uint32_t bin;
} cat_entry;

static int by_ratio(const void *a, const void *b)
{
	const cat_entry *x = a, *y = b;

	if (x->ratio != y->ratio)
		return x->ratio < y->ratio ? -1 : 1;
	return (x->bin > y->bin) - (x->bin < y->bin);
}

static void mask_set(uint64_t *m, unsigned b)
{
	m[b >> 6] |= 1ull << (b & 63);
}

static bool mask_has(const uint64_t *m, unsigned b)
{
	return (m[b >> 6] >> (b & 63)) & 1;
}

/* The evaluation every candidate shares: true when it beats *best. */
typedef struct eval_ctx {
	int64_t G, H;
	double gs, hs, lambda, mcw, parent, floor;
} eval_ctx;

static inline bool better(const eval_ctx *e, int64_t GL, int64_t HL, double best, double *out_gain)
{
	int64_t GR = e->G - GL, HR = e->H - HL;
	double hl = (double)HL * e->hs, hr = (double)HR * e->hs, gain;

	if (HL <= 0 || HR <= 0 || hl < e->mcw || hr < e->mcw)
		return false;
	gain = score((double)GL * e->gs, hl, e->lambda) + score((double)GR * e->gs, hr, e->lambda) -
	       e->parent;
	if (gain > best && gain > e->floor) {
		*out_gain = gain;
		return true;
	}
	return false;
}

static void search_numeric(const eval_ctx *e, const gbdt_gh *c, unsigned nv, uint32_t f,
			   split *best)
{
	bool has_missing = c[nv] != 0; /* every row has a hessian of at least 1 */

	for (int dir = 0; dir < (has_missing ? 2 : 1); dir++) {
		gbdt_gh L = dir ? c[nv] : 0;
		for (unsigned b = 0; b < nv; b++) {
			int64_t GL, HL;
			double gain;
			L += c[b];
			GL = gbdt_gh_g(L);
			HL = gbdt_gh_h(L);
			if (b + 1 == nv && (dir == 1 || !has_missing))
				break; /* nothing would go right */
			if (!better(e, GL, HL, best->gain, &gain))
				continue;
			best->valid = true;
			best->gain = gain;
			best->feature = f;
			best->categorical = false;
			best->bin = (uint16_t)b;
			best->GL = GL;
			best->HL = HL;
			/* Without missing rows here, NaN follows the heavier side. */
			best->default_left = has_missing ? dir == 1 : HL >= e->H - HL;
			memset(best->mask, 0, sizeof best->mask);
			for (unsigned k = 0; k <= b; k++)
				mask_set(best->mask, k);
			if (best->default_left)
				mask_set(best->mask, nv);
		}
	}
}

static void search_categorical(const eval_ctx *e, const gbdt_gh *c, unsigned nv, uint32_t f,
			       cat_entry *ent, split *best)
{
	bool has_missing = c[nv] != 0;
	unsigned ne = 0, best_k = 0;
	int best_dir = -1;
	double best_gain = best->gain;
	int64_t bGL = 0, bHL = 0;

	for (unsigned b = 0; b < nv; b++)
		if (gbdt_gh_h(c[b]) > 0)
			ent[ne++] = (cat_entry){(double)gbdt_gh_g(c[b]) * e->gs /
							((double)gbdt_gh_h(c[b]) * e->hs + CAT_SMOOTH),
						b};
	if (ne == 0)
		return;
	qsort(ent, ne, sizeof *ent, by_ratio);
	for (int dir = 0; dir < (has_missing ? 2 : 1); dir++) {
		gbdt_gh L = dir ? c[nv] : 0;
		for (unsigned k = 0; k < ne; k++) {
			int64_t GL, HL;
			double gain;
			L += c[ent[k].bin];
			GL = gbdt_gh_g(L);
			HL = gbdt_gh_h(L);
			if (k + 1 == ne && (dir == 1 || !has_missing))
				break;
			if (!better(e, GL, HL, best_gain, &gain))
				continue;
			best_gain = gain;
			best_k = k;
			best_dir = dir;
			bGL = GL;
			bHL = HL;
		}
	}
	if (best_dir < 0)
		return;
	best->valid = true;
	best->gain = best_gain;
	best->feature = f;
	best->categorical = true;
	best->bin = 0;
	best->GL = bGL;
	best->HL = bHL;
	best->default_left = has_missing ? best_dir == 1 : bHL >= e->H - bHL;
	memset(best->mask, 0, sizeof best->mask);
	for (unsigned k = 0; k <= best_k; k++)
		mask_set(best->mask, ent[k].bin);
	if (best->default_left)
		mask_set(best->mask, nv);
}

/*
 * The best split of node v (its histogram and sums are set) on the features
 * features[a_lo..a_hi) into *best. A candidate must beat the best so far
 * strictly, so the first feature in order wins a tie: the best over
 * consecutive ranges, taken in range order under the same rule, is the best
 * over their union, however the features were cut.
 */
static void find_split(gbdt_grower *g, uint32_t v, size_t a_lo, size_t a_hi, split *best)
{
	work *w = &g->w[v];
	const gbdt_cuts *c = g->cuts;
	eval_ctx e;
	cat_entry ent[GBDT_MAX_BINS];

	memset(best, 0, sizeof *best);
	best->gain = g->prm->min_split_gain;
	e.G = w->G;
	e.H = w->H;
	e.gs = g->gs;
	e.hs = g->hs;
	e.lambda = g->prm->lambda;
	e.mcw = g->prm->min_child_weight;
	e.parent = score((double)w->G * g->gs, (double)w->H * g->hs, e.lambda);
	e.floor = 1e-10 * e.parent;
	for (size_t a = a_lo; a < a_hi; a++) {
		uint32_t f = g->features[a];
		const gbdt_gh *cell = w->hist + c->off[f];
		if (c->n_cat[f])
			search_categorical(&e, cell, c->nval[f], f, ent, best);
		else
			search_numeric(&e, cell, c->nval[f], f, best);
	}
}

/* Takes cand when it beats *best (strictly: the earlier range wins a tie). */
static void keep_better(split *best, const split *cand)
{
	if (cand->valid && (!best->valid || cand->gain > best->gain))
		*best = *cand;
}

/* Whether node v may be split at all (before looking at its histogram). */
static bool splittable(const gbdt_grower *g, uint32_t v)
{
	const gbdt_tnode *nd = &g->t->nodes[v];
	const gbdt_params *p = g->prm;

	if (p->max_depth && nd->depth >= p->max_depth)
		return false;
	if (nd->hi - nd->lo < 2)
		return false;
	return (double)g->w[v].H * g->hs >= 2 * p->min_child_weight;
}

/* ---- partitioning ------------------------------------------------------------------- */

/* The split's left bins as a byte table: one load per row, no shifts. */
static void left_table(const split *s, uint8_t lut[GBDT_MAX_BINS])
{
	for (unsigned b = 0; b < GBDT_MAX_BINS; b++)
		lut[b] = mask_has(s->mask, b);
}

/* What a partition chunk reads: its node's split column, rows and left table. */
typedef struct chunk_view {
	const uint8_t *col;
	const uint32_t *src;
	uint8_t lut[GBDT_MAX_BINS];
} chunk_view;

static const pchunk *view_of(const gbdt_grower *g, size_t i, chunk_view *v)
{
	const pchunk *c = &g->ch[i];
	const split *s = &g->w[c->node].best;

	v->col = g->bins->cols + (size_t)s->feature * g->n;
	v->src = g->buf[g->t->nodes[c->node].buf];
	left_table(s, v->lut);
	return c;
}

static void part_count(void *ctx, size_t i, unsigned worker)
{
	gbdt_grower *g = ctx;
	chunk_view v;
	pchunk *c = &g->ch[i];
	size_t nl = 0;

	(void)worker;
	view_of(g, i, &v);
	for (size_t k = c->lo; k < c->hi; k++)
		nl += v.lut[v.col[v.src[k]]];
	c->nl = nl;
}

static void part_scatter(void *ctx, size_t i, unsigned worker)
{
	gbdt_grower *g = ctx;
	chunk_view v;
	const pchunk *c = view_of(g, i, &v);
	uint32_t *dst = g->buf[!g->t->nodes[c->node].buf];
	size_t l = c->at_l, r = c->at_r;

	(void)worker;
	/* The side is arithmetic, not a branch: it is a coin toss per row. */
	for (size_t k = c->lo; k < c->hi; k++) {
		uint32_t row = v.src[k];
		size_t left = v.lut[v.col[row]];
		dst[r + ((l - r) & (0 - left))] = row;
		l += left;
		r += 1 - left;
	}
}

/* Partitions the rows of the nodes in batch; *lefts gets each node's left count. */
static int partition(gbdt_grower *g, const uint32_t *batch, size_t nb, size_t *lefts)
{
	size_t n_ch = 0, rows = 0, k = 0;
	unsigned threads;

	for (size_t i = 0; i < nb; i++) {
		const gbdt_tnode *nd = &g->t->nodes[batch[i]];
		size_t r = nd->hi - nd->lo;
		n_ch += r >= 2 * PART_CHUNK ? r / PART_CHUNK : 1;
		rows += r;
	}
	if (n_ch > g->ch_cap) {
		pchunk *c = sl__reallocarray(g->ch, n_ch, sizeof *c);
		if (!c)
			return sl__oom();
		g->ch = c;
		g->ch_cap = n_ch;
	}
	for (size_t i = 0; i < nb; i++) {
		const gbdt_tnode *nd = &g->t->nodes[batch[i]];
		size_t r = nd->hi - nd->lo, parts = r >= 2 * PART_CHUNK ? r / PART_CHUNK : 1;
		for (size_t q = 0; q < parts; q++)
			g->ch[k++] = (pchunk){batch[i], nd->lo + r * q / parts,
					      nd->lo + r * (q + 1) / parts, 0, 0, 0};
	}
	threads = rows < SERIAL_ROWS ? 1 : g->threads;
	sl__parallel_for(threads, n_ch, part_count, g);
	k = 0;
	for (size_t i = 0; i < nb; i++) {
		const gbdt_tnode *nd = &g->t->nodes[batch[i]];
		size_t first = k, nl = 0, l, r;
		for (; k < n_ch && g->ch[k].node == batch[i]; k++)
			nl += g->ch[k].nl;
		lefts[i] = nl;
		l = nd->lo;
		r = nd->lo + nl;
		for (size_t q = first; q < k; q++) {
			g->ch[q].at_l = l;
			g->ch[q].at_r = r;
			l += g->ch[q].nl;
			r += (g->ch[q].hi - g->ch[q].lo) - g->ch[q].nl;
		}
	}
	sl__parallel_for(threads, n_ch, part_scatter, g);
	return 0;
}

/* ---- expansion -------------------------------------------------------------------------- */

/*
 * Search task i: on the cells of its features, the smaller child's parts
 * added up and the larger child's histogram made from its parent's (in
 * place); then both children's best splits over those features. A task
 * touches only its own features' cells, so tasks of one node run side by
 * side; cells of features outside colsample's draw are never summed (zero)
 * nor read.
 */
static void subtract_and_search(void *ctx, size_t i, unsigned worker)
{
	gbdt_grower *g = ctx;
	stask *tk = &g->st[i];
	const gbdt_tnode *nodes = g->t->nodes;
	const uint32_t *off = g->cuts->off;
	uint32_t l = nodes[g->batch[tk->entry]].left;
	gbdt_gh *a = g->w[l].hist, *b = g->w[l + 1].hist, *large, *small;
	bool left_small = nodes[l].hi - nodes[l].lo <= nodes[l + 1].hi - nodes[l + 1].lo;
	const gbdt_hist_job *job;

	(void)worker;
	memset(tk->best, 0, sizeof tk->best);
	if (!a || !b)
		return; /* neither child may split */
	job = &g->jobs[g->job_of[tk->entry]];
	large = left_small ? b : a;
	small = left_small ? a : b;
	for (size_t q = tk->a_lo; q < tk->a_hi;) {
		/* A run of consecutive features is one range of cells. */
		size_t r = q + 1;
		while (r < tk->a_hi && g->features[r] == g->features[r - 1] + 1)
			r++;
		size_t lo = off[g->features[q]], hi = off[g->features[r - 1] + 1];
		gbdt_hist_finish(&g->hc, job, lo, hi);
		for (size_t c = lo; c < hi; c++)
			large[c] -= small[c];
		q = r;
	}
	for (uint32_t c = 0; c < 2; c++)
		if (splittable(g, l + c))
			find_split(g, l + c, tk->a_lo, tk->a_hi, &tk->best[c]);
}

/*
 * The search tasks of a batch of nb entries: one per entry when there are
 * enough entries to keep the threads busy, else each entry's features cut
 * into ranges (at least SEARCH_MIN_FEATURES each). The cut depends on the
 * thread count, the result does not (find_split's tie rule).
 */
static int plan_search(gbdt_grower *g, size_t nb, size_t *n_tasks)
{
	size_t per = 1, nf = g->nf, k = 0;

	if (g->threads > 1 && nb < 2 * (size_t)g->threads) {
		per = (2 * (size_t)g->threads + nb - 1) / nb;
		if (per > nf / SEARCH_MIN_FEATURES)
			per = nf / SEARCH_MIN_FEATURES;
		if (per < 1)
			per = 1;
	}
	if (nb * per > g->st_cap) {
		stask *st = sl__reallocarray(g->st, nb * per, sizeof *st);
		if (!st)
			return sl__oom();
		g->st = st;
		g->st_cap = nb * per;
	}
	for (size_t i = 0; i < nb; i++)
		for (size_t q = 0; q < per; q++, k++) {
			g->st[k].entry = (uint32_t)i;
			g->st[k].a_lo = (uint32_t)(nf * q / per);
			g->st[k].a_hi = (uint32_t)(nf * (q + 1) / per);
		}
	*n_tasks = k;
	return 0;
}

/*
 * Splits the nodes of batch (each has a valid best split): partitions their
 * rows, appends their children and, where children may split further,
 * gives them histograms and best splits. Parents' histograms are recycled.
 */
static int expand(gbdt_grower *g, const uint32_t *batch, size_t nb)
{
	gbdt_tree *t = g->t;
	size_t *lefts = NULL, *job_of = NULL, n_jobs = 0, n_tasks = 0;
	gbdt_hist_job *jobs = NULL;
	int rc;

	if ((rc = reserve_nodes(g, 2 * nb)))
		return rc;
	lefts = sl__malloc((nb ? nb : 1) * sizeof *lefts);
	jobs = sl__malloc((nb ? nb : 1) * sizeof *jobs);
	job_of = sl__malloc((nb ? nb : 1) * sizeof *job_of);
	if (!lefts || !jobs || !job_of) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = partition(g, batch, nb, lefts)))
		goto out;
	for (size_t i = 0; i < nb; i++) {
		uint32_t v = batch[i], l = t->n;
		gbdt_tnode *nd = &t->nodes[v];
		work *w = &g->w[v];
		const split *s = &w->best;
		uint32_t mid = nd->lo + (uint32_t)lefts[i];
		nd->left = l;
		nd->feature = s->feature;
		nd->categorical = s->categorical;
		nd->default_left = s->default_left;
		nd->bin = s->bin;
		memcpy(nd->mask, s->mask, sizeof nd->mask);
		nd->gain = s->gain;
		for (int side = 0; side < 2; side++) {
			gbdt_tnode *c = &t->nodes[l + side];
			work *cw = &g->w[l + side];
			memset(c, 0, sizeof *c);
			memset(cw, 0, sizeof *cw);
			c->depth = nd->depth + 1;
			c->buf = (uint8_t)!nd->buf;
			c->lo = side ? mid : nd->lo;
			c->hi = side ? nd->hi : mid;
			cw->G = side ? w->G - s->GL : s->GL;
			cw->H = side ? w->H - s->HL : s->HL;
		}
		t->n += 2;
	}
	/* Histograms: the smaller child built, the larger from its parent. */
	for (size_t i = 0; i < nb; i++) {
		uint32_t v = batch[i], l = t->nodes[v].left;
		bool sl = splittable(g, l), sr = splittable(g, l + 1);
		uint32_t small, large;
		job_of[i] = SIZE_MAX;
		if (!sl && !sr) {
			hist_put(g, &g->w[v].hist);
			continue;
		}
		small = t->nodes[l].hi - t->nodes[l].lo <= t->nodes[l + 1].hi - t->nodes[l + 1].lo
				? l
				: l + 1;
		large = small == l ? l + 1 : l;
		g->w[large].hist = g->w[v].hist;
		g->w[v].hist = NULL;
		if (!(g->w[small].hist = hist_get(g))) {
			rc = sl__oom();
			goto out;
		}
		job_of[i] = n_jobs;
		jobs[n_jobs++] = (gbdt_hist_job){g->buf[t->nodes[small].buf], t->nodes[small].lo,
						 t->nodes[small].hi, g->w[small].hist, 1, 0};
	}
	if ((rc = gbdt_hist_build(&g->hc, jobs, n_jobs)))
		goto out;
	if (g->batch_cap < nb) {
		uint32_t *bb = sl__reallocarray(g->batch, nb, sizeof *bb);
		if (!bb) {
			rc = sl__oom();
			goto out;
		}
		g->batch = bb;
		g->batch_cap = nb;
	}
	memcpy(g->batch, batch, nb * sizeof *batch);
	g->jobs = jobs;
	g->job_of = job_of;
	if ((rc = plan_search(g, nb, &n_tasks)))
		goto out;
	sl__parallel_for(n_tasks > 1 ? g->threads : 1, n_tasks, subtract_and_search, g);
	/* Each child's best over its tasks, in feature order. */
	for (size_t k = 0; k < n_tasks; k++) {
		uint32_t l = t->nodes[batch[g->st[k].entry]].left;
		for (uint32_t c = 0; c < 2; c++)
			keep_better(&g->w[l + c].best, &g->st[k].best[c]);
	}
	/* Children that cannot split give their histograms back. */
	for (size_t i = 0; i < nb; i++) {
		uint32_t l = t->nodes[batch[i]].left;
		for (uint32_t c = l; c <= l + 1; c++)
			if (g->w[c].hist && (!splittable(g, c) || !g->w[c].best.valid))
				hist_put(g, &g->w[c].hist);
	}
out:
	sl__free(lefts);
	sl__free(jobs);
	sl__free(job_of);
	return rc;
}

/* ---- growth policies ---------------------------------------------------------------------- */

static int by_gain_then_index(const void *a, const void *b, void *ctx)
{
	const work *w = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (w[x].best.gain != w[y].best.gain)
		return w[x].best.gain > w[y].best.gain ? -1 : 1;
	return (x > y) - (x < y);
}

static int by_index(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int grow_depthwise(gbdt_grower *g)
{
	gbdt_tree *t = g->t;
	uint32_t first = 0, last = 1; /* the current level: nodes [first, last) */
	size_t leaves = 1, max_leaves = g->prm->max_leaves;
	uint32_t *batch = NULL;
	int rc = 0;

	while (first < last) {
		size_t nb = 0;
		uint32_t *b = sl__reallocarray(batch, last - first, sizeof *b);
		if (!b) {
			rc = sl__oom();
			break;
		}
		batch = b;
		for (uint32_t v = first; v < last; v++)
			if (g->w[v].hist && g->w[v].best.valid)
				batch[nb++] = v;
		if (max_leaves && leaves + nb > max_leaves) {
			/* Only the best splits fit: keep them, in node order. */
			size_t room = max_leaves - leaves;
			qsort_r(batch, nb, sizeof *batch, by_gain_then_index, g->w);
			for (size_t i = room; i < nb; i++)
				hist_put(g, &g->w[batch[i]].hist);
			nb = room;
			qsort(batch, nb, sizeof *batch, by_index);
		}
		if (nb == 0)
			break;
		if ((rc = expand(g, batch, nb)))
			break;
		leaves += nb;
		first = last;
		last = t->n;
	}
	sl__free(batch);
	return rc;
}

/* A max-heap of open nodes by (gain, then lower index). */
static bool heap_before(const work *w, uint32_t a, uint32_t b)
{
	if (w[a].best.gain != w[b].best.gain)
		return w[a].best.gain > w[b].best.gain;
	return a < b;
}

static void heap_push(const work *w, uint32_t *h, size_t *n, uint32_t v)
{
	size_t i = (*n)++;

	h[i] = v;
	while (i > 0 && heap_before(w, h[i], h[(i - 1) / 2])) {
		uint32_t t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static uint32_t heap_pop(const work *w, uint32_t *h, size_t *n)
{
	uint32_t top = h[0];
	size_t i = 0;

	h[0] = h[--*n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < *n && heap_before(w, h[l], h[m]))
			m = l;
		if (r < *n && heap_before(w, h[r], h[m]))
			m = r;
		if (m == i)
			break;
		uint32_t t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
	return top;
}

static int grow_leafwise(gbdt_grower *g)
{
	size_t max_leaves = g->prm->max_leaves, leaves = 1, n_open = 0;
	uint32_t *heap = sl__malloc((max_leaves + 2) * sizeof *heap);
	int rc = 0;

	if (!heap)
		return sl__oom();
	if (g->w[0].hist && g->w[0].best.valid)
		heap_push(g->w, heap, &n_open, 0);
	while (n_open && leaves < max_leaves) {
		uint32_t v = heap_pop(g->w, heap, &n_open), l;
		if ((rc = expand(g, &v, 1)))
			break;
		leaves++;
		l = g->t->nodes[v].left;
		for (uint32_t c = l; c <= l + 1; c++)
			if (g->w[c].hist && g->w[c].best.valid)
				heap_push(g->w, heap, &n_open, c);
	}
	/* Open nodes left when the leaf budget ran out keep no histogram. */
	for (size_t i = 0; i < n_open; i++)
		hist_put(g, &g->w[heap[i]].hist);
	sl__free(heap);
	return rc;
}

/* ---- one tree ---------------------------------------------------------------------------- */

typedef struct leaf_job {
	gbdt_grower *g;
	uint32_t *leaves;
	size_t n_leaves;
	const double *grad, *hess;
	double *value;     /* per leaf */
	const uint32_t *sample;
	size_t m;
} leaf_job;

/*
 * Leaf values and covers come from the exact gradients of the leaf's rows.
 * With few leaves: each row is marked with its leaf, the sums are taken in
 * row order over fixed blocks (reads in order, sums per block added in
 * block order), and the margins updated in row order; with many, each
 * leaf gathers its own rows. Either way the order of every sum is fixed by
 * the data, never by the threads.
 */
static void mark_leaf(void *ctx, size_t i, unsigned worker)
{
	leaf_job *lj = ctx;
	gbdt_grower *g = lj->g;
	const gbdt_tnode *nd = &g->t->nodes[lj->leaves[i]];
	const uint32_t *rows = g->buf[nd->buf];

	(void)worker;
	for (size_t k = nd->lo; k < nd->hi; k++)
		g->leaf_of[rows[k]] = (uint32_t)i;
}

static void sum_block(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	leaf_job *lj = ctx;
	gbdt_grower *g = lj->g;
	double *part = g->partial + lo / LEAF_BLOCK * 2 * lj->n_leaves;
	const uint32_t *of = g->leaf_of;

	(void)worker;
	memset(part, 0, 2 * lj->n_leaves * sizeof *part);
	for (size_t i = lo; i < hi; i++)
		if (of[i] != NO_LEAF) {
			part[2 * of[i]] += lj->grad[i];
			part[2 * of[i] + 1] += lj->hess[i];
		}
}

static void add_block(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	leaf_job *lj = ctx;
	gbdt_grower *g = lj->g;
	const uint32_t *of = g->leaf_of;
	double *m = g->margin;
	size_t s = g->stride;

	(void)worker;
	for (size_t i = lo; i < hi; i++)
		if (of[i] != NO_LEAF)
			m[i * s] += lj->value[of[i]];
}

static void set_leaf(gbdt_grower *g, gbdt_tnode *nd, double G, double H)
{
	nd->cover = H;
	nd->value = -G / (H + g->prm->lambda) * g->prm->learning_rate;
}

static void gather_leaf(void *ctx, size_t i, unsigned worker)
{
	leaf_job *lj = ctx;
	gbdt_grower *g = lj->g;
	gbdt_tnode *nd = &g->t->nodes[lj->leaves[i]];
	const uint32_t *rows = g->buf[nd->buf];
	double G = 0, H = 0, *m = g->margin;
	size_t s = g->stride;

	(void)worker;
	for (size_t k = nd->lo; k < nd->hi; k++) {
		G += lj->grad[rows[k]];
		H += lj->hess[rows[k]];
	}
	set_leaf(g, nd, G, H);
	if (m)
		for (size_t k = nd->lo; k < nd->hi; k++)
			m[rows[k] * s] += nd->value;
}

static int finish_leaves(leaf_job *lj)
{
	gbdt_grower *g = lj->g;
	size_t L = lj->n_leaves, n = g->n, blocks = (n + LEAF_BLOCK - 1) / LEAF_BLOCK;
	unsigned threads = lj->m < SERIAL_ROWS ? 1 : g->threads;

	if (L > LEAF_TABLE_MAX) {
		sl__parallel_for(threads, L, gather_leaf, lj);
		return 0;
	}
	if (blocks * 2 * L > g->partial_cap) {
		double *pt = sl__reallocarray(g->partial, blocks * 2 * L, sizeof *pt);
		if (!pt)
			return sl__oom();
		g->partial = pt;
		g->partial_cap = blocks * 2 * L;
	}
	if (lj->sample)
		memset(g->leaf_of, 0xff, n * sizeof *g->leaf_of); /* NO_LEAF */
	sl__parallel_for(threads, L, mark_leaf, lj);
	sl__parallel_range(threads, n, LEAF_BLOCK, sum_block, lj);
	for (size_t l = 0; l < L; l++) {
		double G = 0, H = 0;
		for (size_t b = 0; b < blocks; b++) {
			G += g->partial[(b * L + l) * 2];
			H += g->partial[(b * L + l) * 2 + 1];
		}
		set_leaf(g, &g->t->nodes[lj->leaves[l]], G, H);
		lj->value[l] = g->t->nodes[lj->leaves[l]].value;
	}
	if (g->margin)
		sl__parallel_range(threads, n, LEAF_BLOCK, add_block, lj);
	return 0;
}

/* The root's row list: the sample, or every row. */
static void fill_rows(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	gbdt_grower *g = ctx;
	uint32_t *dst = g->buf[0];

	(void)worker;
	if (g->sample)
		memcpy(dst + lo, g->sample + lo, (hi - lo) * sizeof *dst);
	else
		for (size_t i = lo; i < hi; i++)
			dst[i] = (uint32_t)i;
}

int gbdt_grow(gbdt_grower *g, const gbdt_gh *gh, double gs, double hs, const double *grad,
	      const double *hess, const uint32_t *sample, size_t m, const uint32_t *features,
	      size_t nf, gbdt_tree *out, double *margin, size_t stride)
{
	const gbdt_params *p = g->prm;
	gbdt_hist_job root;
	size_t n_leaves = 0;
	uint32_t *leaves = NULL;
	double *values;
	leaf_job lj;
	int rc;

	out->n = 0;
	g->t = out;
	g->gs = gs;
	g->hs = hs;
	g->features = features ? features : g->all_features;
	g->nf = features ? nf : g->p;
	g->hc.gh = gh;
	g->hc.features = features;
	g->hc.n_features = nf;
	g->margin = margin;
	g->stride = stride;
	if (!sample)
		m = g->n;
	if ((rc = reserve_nodes(g, 1)))
		return rc;
	memset(&out->nodes[0], 0, sizeof out->nodes[0]);
	memset(&g->w[0], 0, sizeof g->w[0]);
	out->nodes[0].hi = (uint32_t)m;
	out->n = 1;
	g->sample = sample;
	sl__parallel_range(m < SERIAL_ROWS ? 1 : g->threads, m, LEAF_BLOCK, fill_rows, g);
	if (!(g->w[0].hist = hist_get(g)))
		return sl__oom();
	root = (gbdt_hist_job){sample ? g->buf[0] : NULL, 0, m, g->w[0].hist, 1, 0};
	if ((rc = gbdt_hist_build(&g->hc, &root, 1)))
		return rc;
	gbdt_hist_finish(&g->hc, &root, 0, g->hist_len);
	/* The root's sums: every row is in exactly one bin of any feature. */
	{
		uint32_t f = g->features[0];
		gbdt_gh sum = 0;
		for (uint32_t c = g->cuts->off[f]; c < g->cuts->off[f + 1]; c++)
			sum += g->w[0].hist[c];
		g->w[0].G = gbdt_gh_g(sum);
		g->w[0].H = gbdt_gh_h(sum);
	}
	if (splittable(g, 0))
		find_split(g, 0, 0, g->nf, &g->w[0].best);
	if (!g->w[0].best.valid)
		hist_put(g, &g->w[0].hist);
	rc = p->growth == GBDT_LEAFWISE ? grow_leafwise(g) : grow_depthwise(g);
	/* A failure can leave histograms with nodes: give them all back. */
	for (uint32_t v = 0; v < out->n; v++)
		hist_put(g, &g->w[v].hist);
	if (rc)
		return rc;
	leaves = sl__malloc(out->n * sizeof *leaves);
	values = sl__malloc(out->n * sizeof *values);
	if (!leaves || !values) {
		sl__free(leaves);
		sl__free(values);
		return sl__oom();
	}
	for (uint32_t v = 0; v < out->n; v++)
		if (!out->nodes[v].left)
			leaves[n_leaves++] = v;
	lj = (leaf_job){g, leaves, n_leaves, grad, hess, values, sample, m};
	rc = finish_leaves(&lj);
	sl__free(values);
	if (rc) {
		sl__free(leaves);
		return rc;
	}
	/* Covers of splits: their children's, bottom up (children come later). */
	for (uint32_t v = out->n; v-- > 0;) {
		gbdt_tnode *nd = &out->nodes[v];
		if (nd->left)
			nd->cover = out->nodes[nd->left].cover + out->nodes[nd->left + 1].cover;
		else
			nd->gain = 0;
	}
	sl__free(leaves);
	return 0;
}

double gbdt_tree_bin_predict(const gbdt_tree *t, const uint8_t *b)
{
	const gbdt_tnode *nd = t->nodes;
	uint32_t i = 0;

	while (nd[i].left)
		i = nd[i].left + !mask_has(nd[i].mask, b[nd[i].feature]);
	return nd[i].value;
}
