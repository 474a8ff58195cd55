/*
 * Gradient-boosted trees: histogram boosting over 8-bit binned features
 * (the family behind train.gbdt). Prefix gbdt_.
 *
 *   gbdt_data (columns or rows of doubles, targets)
 *        |  gbdt_cuts_fit: quantile cut points / category bins per feature
 *        v  gbdt_bin: uint8 bins, row-major (histograms) and column-major (partitions)
 *   boosting loop (gbdt.c): gradients -> quantised to integers -> one tree per
 *        |  group and round (gbdt_tree.c: histograms, split search, growth)
 *        v
 *   gbdt_model: flat node arrays, saved as mfile sections and used in place
 *        from the mapping (gbdt_model.c); TreeSHAP on it (gbdt_shap.c)
 *
 * Files: gbdt.c (the boosting loop, the frame entry point, the ml_ops glue),
 * gbdt_hist.c (cut points, binning, histogram building), gbdt_tree.c (split
 * search, partitioning, depth-wise and leaf-wise growth), gbdt_model.c (the
 * model's layout, predict, save, load and its checks), gbdt_shap.c (TreeSHAP
 * and importance).
 *
 * Invariants the family keeps:
 *  1. Gradients and hessians are quantised per tree to integers (stochastic
 *     rounding, as LightGBM's quantised training) and packed into one
 *     int64, (g << 32) + h, with as many levels as the tree's row count
 *     allows without overflow: a histogram cell is then a single integer
 *     sum, the hot loop one add per feature. Integer addition is
 *     associative, so a histogram is the same whichever thread summed
 *     which rows: training is deterministic for any thread count, and the
 *     sibling histogram (parent minus the smaller child) is exact. Leaf
 *     values are then computed from the exact gradients of their rows.
 *  2. A value goes left at a numeric split when x < threshold, and the
 *     threshold is a bin's upper cut point, so prediction on raw values
 *     takes exactly the path training took on bins. NaN (and, for string
 *     features, a code outside the dictionary) takes the split's learned
 *     default direction.
 *  3. Every feature has one missing bin after its value bins (at most 255
 *     value bins: 256 per feature in all, one byte). A category training
 *     never saw is binned as missing.
 *  4. A model's nodes are stored so that a node's children come after it
 *     (at a positive offset, right = left + 1): the loader checks this, so
 *     walking a tree always ends, whatever the file holds.
 */
#ifndef SLUICE_GBDT_H
#define SLUICE_GBDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml/ml.h"

/* ---- parameters ----------------------------------------------------------- */

typedef enum gbdt_growth {
	GBDT_DEPTHWISE = 0, /* level by level, as XGBoost's hist (default) */
	GBDT_LEAFWISE = 1   /* best leaf first, as LightGBM */
} gbdt_growth;

#define GBDT_MAX_BINS 256     /* per feature, the missing bin included */
#define GBDT_MAX_DEPTH 64     /* deepest tree a model may hold */
#define GBDT_MAX_LEAVES 65536 /* leaves per tree (max_leaves) */
/* Training rows: 2^28 keeps 7 gradient levels a row in the packed sums
 * (invariant 1); at 1M rows there are about 2000. */
#define GBDT_MAX_ROWS (1u << 28)

typedef struct gbdt_params {
	ml_task objective;       /* ML_REGRESSION, ML_BINARY or ML_MULTICLASS */
	uint32_t n_classes;      /* classifiers: the number of classes (2 for binary) */
	uint32_t rounds;         /* boosting rounds: one tree per group each */
	double learning_rate;    /* shrinks each tree's leaf values */
	uint32_t max_depth;      /* 0: no limit (leaf-wise growth only) */
	uint32_t max_leaves;     /* 0: no limit (depth-wise); leaf-wise default 31 */
	double min_child_weight; /* least hessian sum a child may have */
	double lambda;           /* L2 penalty on leaf values */
	double min_split_gain;   /* a split must gain more than this */
	double subsample;        /* share of rows each tree sees, (0, 1] */
	double colsample;        /* share of features each tree may split on, (0, 1] */
	uint32_t bins;           /* bins per feature, missing included: 2..256 */
	uint32_t max_cat;        /* categories a string feature keeps as its own bins */
	uint32_t early_stopping; /* stop after this many rounds without a better
				  * validation loss, keeping the best; 0: never */
	uint64_t seed;           /* row and column sampling */
	unsigned threads;        /* 0: every core; never more than the cores */
	gbdt_growth growth;
} gbdt_params;

/* The defaults documented in docs/steps/train_gbdt.md (XGBoost's hist). */
void gbdt_params_default(gbdt_params *p);
/*
 * Checks p (ranges, and what goes together) and fills what depends on
 * others (max_leaves for leaf-wise growth). SL_EINVAL naming the option,
 * after prefix ("with." in the step), and its allowed range.
 */
int gbdt_params_check(gbdt_params *p, const char *prefix);
/* The hyperparameters as the model's "params" (threads left out: it must
 * not change the model file). */
json_t *gbdt_params_json(const gbdt_params *p);

/* ---- training data ------------------------------------------------------------ */

/*
 * A feature source. Value (i, j) is X[i * row_stride + j * col_stride]:
 * row-major n x p is strides (p, 1), column-major is (1, n). Or, when X is
 * NULL, column(ctx, j, out) writes the n values of feature j to out (a
 * frame's ml_frame_column, or a forecaster's lag builder). NaN is missing.
 * n_cat[j] > 0 marks feature j as categorical with codes 0..n_cat[j]-1
 * (anything else there is read as missing); n_cat may be NULL (all numeric).
 * y holds the targets: values (regression) or class indices 0..K-1.
 */
typedef struct gbdt_data {
	size_t n, p;
	const double *X;
	size_t row_stride, col_stride;
	void (*column)(void *ctx, size_t j, double *out);
	void *ctx;
	const uint32_t *n_cat;
	const double *y;
} gbdt_data;

/* ---- the model ------------------------------------------------------------------ */

/*
 * One node, 16 bytes, four to a cache line. A leaf has left == 0 and its
 * value in `value`. A split's children are the nodes `left` and `left + 1`
 * places after it (an offset, not an index: a walk needs only a pointer to
 * the current node): numeric, a row goes left when x < value; categorical
 * (GBDT_NODE_CAT), value is the offset in the category words of a bitset
 * [n_bits, words...] of the codes that go left.
 */
typedef struct gbdt_node {
	double value;
	uint32_t left;
	uint32_t info; /* feature (GBDT_NODE_FEATURE bits) | flags */
} gbdt_node;

#define GBDT_NODE_FEATURE 0x0fffffffu
#define GBDT_NODE_DEFAULT_LEFT 0x40000000u
#define GBDT_NODE_CAT 0x80000000u

/*
 * Whether split n sends value x right. Numeric: x >= threshold, and NaN
 * to its default side, without a branch. Categorical:
 * left when x is a code whose bit is set; NaN, fractions and codes outside
 * the bitset take the default side.
 */
static inline unsigned gbdt_node_right(const gbdt_node *n, const uint32_t *cats, double x)
{
	if (n->info & GBDT_NODE_CAT) {
		const uint32_t *set = cats + (size_t)n->value;
		uint32_t c;
		if (!(x >= 0 && x < (double)set[0]) || x != (double)(uint32_t)x)
			return !(n->info & GBDT_NODE_DEFAULT_LEFT);
		c = (uint32_t)x;
		return !((set[1 + c / 32] >> (c % 32)) & 1);
	}
	/* x >= v, except that NaN (for which it is false) goes to the default side. */
	return (x >= n->value) | ((x != x) & !(n->info & GBDT_NODE_DEFAULT_LEFT));
}

typedef struct gbdt_model {
	ml_task objective;
	uint32_t n_features;
	uint32_t n_groups;     /* 1, or the classes of a multiclass model */
	uint32_t n_trees;      /* tree t adds to group t % n_groups */
	uint32_t n_nodes;
	uint32_t n_cat_words;
	uint32_t max_depth;    /* deepest leaf over all trees (TreeSHAP's scratch) */
	const double *base;    /* n_groups: the raw score before any tree */
	const uint32_t *tree;  /* n_trees + 1: tree t is nodes[tree[t] .. tree[t+1]) */
	const gbdt_node *nodes;
	const double *cover;   /* per node: the training hessian that reached it */
	const double *gain;    /* per node: the split's gain (0 for leaves) */
	const uint32_t *cats;  /* category bitsets */
	double *expect;        /* per tree: its cover-weighted mean output (owned) */
	uint8_t *walk_depth;   /* per GBDT_WALK trees: the deepest leaf among them (owned) */
	void *own;             /* trained models: the block the arrays live in */
	struct gbdt_flat *flat; /* the batch layout, built by the first batch (owned; atomic) */
} gbdt_model;

void gbdt_model_free(gbdt_model *g); /* accepts NULL */

/*
 * Raw scores (margins; log-odds for classifiers) of one row into
 * out[n_groups]. No allocation, thread-safe.
 */
void gbdt_predict_raw(const gbdt_model *g, const double *row, double *out);
/*
 * n rows (row-major, n_features each) into out: regression n values,
 * binary n x 2 probabilities, multiclass n x K probabilities (softmax).
 * From GBDT_BATCH_MIN rows on, gbdt_predict_batch; below, row by row over
 * the same layout (each group of GBDT_WALK trees padded to its deepest and
 * walked together), with the bits of gbdt_predict_raw's node walk.
 */
void gbdt_predict(const gbdt_model *g, const double *X, size_t n, double *out);
/*
 * What gbdt_predict computes, bit for bit, on blocks of GBDT_BLOCK rows
 * walked tree by tree over a compact layout (gbdt_model.c, "batches"),
 * built on the first call and kept in g->flat. No allocation after that;
 * thread-safe. SL_ENOMEM (and nothing written) when the layout could not
 * be built: the caller scores row by row instead.
 */
int gbdt_predict_batch(const gbdt_model *g, const double *X, size_t n, double *out);
#define GBDT_BLOCK 64      /* rows walked together through one tree */
#define GBDT_BATCH_MIN 8   /* fewer rows: one at a time (no layout needed) */
#define GBDT_FLAT_DEPTH 10 /* deeper trees keep the node walk in batches */

/*
 * Writes the model's sections, each named prefix + a short name, so a
 * family embedding a GBDT (the forecaster) can hold one beside its own
 * sections; the gbdt family itself uses the prefix "gbdt.". Prefixes are
 * at most 12 bytes.
 */
int gbdt_model_save(const gbdt_model *g, mfile_writer *w, const char *prefix);
/*
 * Reads a model saved with gbdt_model_save from f, in place (the arrays
 * point into f, which must outlive *out). n_features, when non-zero, must
 * match. Checks every count, index and child reference (invariant 4):
 * SL_ECORRUPT naming the file and what is wrong.
 */
int gbdt_model_load(const mfile *f, const char *prefix, uint32_t n_features, gbdt_model **out);
/*
 * The model as C99 text for the export (ml_ops.emit_c): static tables and
 * sx_model(x, out), computing what gbdt_predict computes for one row.
 */
struct sl__cw;
int gbdt_emit_c(const gbdt_model *g, struct sl__cw *w);
/* Trees walked side by side in prediction (independent chains of loads). */
#define GBDT_WALK 8

/* Fills g->expect, g->max_depth and g->walk_depth from the nodes (after
 * training or load). */
int gbdt_model_finish(gbdt_model *g);
/*
 * Hands a trained model its arrays (sl__malloc'd; ownership moves to g,
 * also on failure, when they are freed).
 */
int gbdt_model_adopt(gbdt_model *g, double *base, uint32_t *tree, gbdt_node *nodes,
		     double *cover, double *gain, uint32_t *cats);

/* ---- training ------------------------------------------------------------------- */

/* What training learned besides the model, for the model's info. */
typedef struct gbdt_report {
	uint32_t rounds;        /* rounds kept in the model */
	uint32_t rounds_run;    /* rounds trained (more when early stopping cut back) */
	int64_t best_round;     /* 0-based round of the best validation loss; -1 without valid */
	double best_loss;
	const char *loss_name;  /* "rmse", "logloss", "mlogloss" */
	double *valid_loss;     /* rounds_run values, or NULL without valid rows */
	double *gain;           /* per feature: total gain of its splits */
	double *splits;         /* per feature: number of splits */
	uint32_t *pooled;       /* per feature: categories past max_cat sharing one bin */
} gbdt_report;

void gbdt_report_free(gbdt_report *r); /* frees the contents; accepts a zeroed r */

/*
 * Trains a model. valid (may be NULL; same features, n_cat ignored) gives
 * the validation loss per round and early stopping. *out is the caller's
 * (gbdt_model_free); rep (may be NULL) receives the report, owned by the
 * caller (gbdt_report_free). Deterministic given p->seed, whatever
 * p->threads. Errors: SL_EINVAL (the data does not fit the parameters),
 * SL_ENOMEM.
 */
int gbdt_fit(const gbdt_params *p, const gbdt_data *train, const gbdt_data *valid,
	     gbdt_model **out, gbdt_report *rep);

/*
 * The train.gbdt path: fits on a frame (string features split natively)
 * and wraps the result as an ml_model of the gbdt family, with params and
 * info (importance, the validation curve, the best round). valid_X is
 * n_valid rows coded by ml_frame_apply, valid_y their targets (both may be
 * NULL). p->objective 0 takes the frame's task. *out is the caller's.
 */
int gbdt_train(const gbdt_params *p, const ml_frame *fr, const double *valid_X,
	       const double *valid_y, size_t n_valid, ml_model **out);

/* The gbdt_model inside a model of the gbdt family (NULL for another family). */
const gbdt_model *gbdt_of(const ml_model *m);

/* ---- explanations (gbdt_shap.c) ---------------------------------------------------- */

/*
 * Path-dependent TreeSHAP (Lundberg, Erion and Lee, 2018) of n rows: per
 * row and group, n_features contributions and then the base value (the
 * expected raw score over the training cover), summing to the raw score.
 * out holds n * n_groups * (n_features + 1) doubles. Allocates scratch
 * per call; large batches run on the pool.
 */
int gbdt_shap(const gbdt_model *g, const double *X, size_t n, double *out);

/*
 * Global importance of any model with explanations (gbdt, linear, ...):
 * out[j] = mean over the n rows of |contribution of feature j|, summed over
 * the groups of a multiclass model. out holds sig.n_features doubles.
 * SL_EUNSUP for a family without explain.
 */
int gbdt_shap_importance(const ml_model *m, const double *X, size_t n, double *out);

extern const ml_ops ml_gbdt_ops;

/* ---- internals shared by the gbdt_*.c files ----------------------------------- */

/*
 * A histogram cell, or one row's quantised pair: G * 2^32 + H with H in
 * [0, 2^32) and |G| < 2^31, which sums of a tree's rows never leave
 * (invariant 1). gbdt_gh_g and gbdt_gh_h take it apart.
 */
typedef int64_t gbdt_gh;

static inline int64_t gbdt_gh_g(gbdt_gh c)
{
	return c >> 32; /* arithmetic: c - H is an exact multiple of 2^32 */
}

static inline int64_t gbdt_gh_h(gbdt_gh c)
{
	return (int64_t)(uint32_t)c;
}

/* How a feature's values become bins, fitted on the training rows. */
typedef struct gbdt_cuts {
	size_t p;
	uint32_t *off;     /* p + 1: feature f owns histogram cells [off[f], off[f+1]) */
	uint16_t *nval;    /* value bins of f; its missing bin is nval[f] */
	uint32_t *n_cat;   /* categorical: dictionary size; 0 for numeric */
	double *cut;       /* numeric: nval[f] - 1 cut points from cut[cut_at[f]] */
	size_t *cut_at;
	uint8_t *cat_bin;  /* categorical: the bin of each code, from cat_bin[cat_at[f]] */
	size_t *cat_at;
} gbdt_cuts;

void gbdt_cuts_free(gbdt_cuts *c);

/*
 * Bins of a set of rows. Row i's bins start at rows + i * stride, 64-byte
 * aligned; stride is p rounded up to a power of two (up to 64), so that no
 * row straddles two cache lines and a gathered row costs one line. cols is
 * only built for training rows.
 */
typedef struct gbdt_binned {
	size_t n, p, stride;
	uint8_t *rows;  /* n x stride */
	uint8_t *cols;  /* p x n, or NULL */
	void *rows_mem; /* the allocation rows lies in */
} gbdt_binned;

void gbdt_binned_free(gbdt_binned *b);
/* Asks for transparent huge pages over the whole 2 MiB pages of [p, p + len):
 * the gathers of training touch tens of megabytes at random. */
void gbdt_huge(void *p, size_t len);

/* Fits cut points on d (a sample of its rows when large, drawn from seed). */
int gbdt_cuts_fit(const gbdt_data *d, uint32_t bins, uint32_t max_cat, uint64_t seed,
		  unsigned threads, gbdt_cuts *out);
/* Bins d's rows with c; with_cols also builds the column-major copy. */
int gbdt_bin(const gbdt_cuts *c, const gbdt_data *d, bool with_cols, unsigned threads,
	     gbdt_binned *out);
/* The bin of value x of feature f. */
uint8_t gbdt_bin_value(const gbdt_cuts *c, size_t f, double x);

/*
 * Sums gh over rows into histograms, in one parallel loop over all jobs.
 * Each job names the rows (idx[lo..hi), or lo..hi themselves when idx is
 * NULL) and the histogram to fill; jobs may share nothing. A large job is
 * cut into parts summed apart (parts and scratch are set by the build):
 * gbdt_hist_finish adds them up, so a caller does that inside its own
 * per-node loop instead of the build paying a second one. features
 * (n_features entries; NULL: all) restricts the bins summed.
 */
typedef struct gbdt_hist_job {
	const uint32_t *idx;
	size_t lo, hi;
	gbdt_gh *hist;
	unsigned parts;  /* set by the build */
	size_t scratch;  /* set by the build: first scratch histogram of parts 1.. */
} gbdt_hist_job;

typedef struct gbdt_hist_ctx {
	const gbdt_cuts *cuts;
	const gbdt_binned *bins;
	const gbdt_gh *gh;            /* per row */
	const uint32_t *features;     /* active features, or NULL: all */
	size_t n_features;
	unsigned threads;
	gbdt_gh *scratch;             /* grown as needed; owned by the trainer */
	size_t scratch_cap;           /* histograms scratch can hold */
} gbdt_hist_ctx;

int gbdt_hist_build(gbdt_hist_ctx *h, gbdt_hist_job *jobs, size_t n_jobs);
/* Completes cells [lo, hi) of job's histogram (before the next build reuses
 * the scratch); callers that search features apart finish their own cells. */
void gbdt_hist_finish(const gbdt_hist_ctx *h, const gbdt_hist_job *job, size_t lo, size_t hi);
size_t gbdt_hist_len(const gbdt_cuts *c); /* cells per histogram */

/* One tree grown on quantised gradients (gbdt_tree.c). */
typedef struct gbdt_tnode {
	uint32_t left;          /* 0 for a leaf; else children left, left + 1 */
	uint32_t feature;
	bool categorical, default_left;
	uint16_t bin;           /* numeric: bins <= bin go left (missing aside) */
	uint64_t mask[4];       /* bins that go left, the missing bin included */
	double value;           /* leaf value (learning rate applied) */
	double cover, gain;
	uint32_t depth;
	uint8_t buf;            /* which row buffer holds [lo, hi) */
	uint32_t lo, hi;
} gbdt_tnode;

typedef struct gbdt_tree {
	gbdt_tnode *nodes;
	uint32_t n, cap;
} gbdt_tree;

typedef struct gbdt_grower gbdt_grower;

/*
 * A grower owns the scratch of tree growth (row buffers, histograms) for
 * one training run; rows holds the training rows' bins.
 */
int gbdt_grower_new(const gbdt_params *p, const gbdt_cuts *c, const gbdt_binned *rows,
		    unsigned threads, gbdt_grower **out);
void gbdt_grower_free(gbdt_grower *g);
/*
 * Grows one tree on gh (quantised gradient pairs per row; multiplying by gs
 * and hs turns the integer sums back into gradient and hessian sums) over
 * the rows sample[0..m) (NULL: all rows) and the features features[0..nf)
 * (NULL: all). grad and hess are the exact values per row: leaf values and
 * covers come from them. out is reset first. Then adds each sampled row's
 * leaf value to margin[row * stride].
 */
int gbdt_grow(gbdt_grower *g, const gbdt_gh *gh, double gs, double hs, const double *grad,
	      const double *hess, const uint32_t *sample, size_t m, const uint32_t *features,
	      size_t nf, gbdt_tree *out, double *margin, size_t stride);
void gbdt_tree_free(gbdt_tree *t);
/* The leaf value a row with bins b[0..p) gets from tree t. */
double gbdt_tree_bin_predict(const gbdt_tree *t, const uint8_t *b);

#endif
