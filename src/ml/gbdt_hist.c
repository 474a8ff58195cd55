/*
 * GBDT features as bins, and histograms of gradients over them (gbdt.h).
 *
 * Cut points. A numeric feature's cut points come from its sorted values
 * (all of them, or a seeded sample of GBDT_SAMPLE rows on large data, as
 * LightGBM samples 200k): with at most (bins - 1) distinct values each gets
 * its own bin, cut at the midpoint to the next; otherwise a greedy pass
 * closes a bin once it holds its share of the remaining rows, so that a
 * heavy value (a spike of zeros) gets a bin to itself instead of wasting
 * the quantiles around it. A string feature's bins are its categories:
 * the max_cat - 1 most frequent (counted over every row) get their own
 * bins, rarer ones share one "other" bin, and codes no training row holds
 * go to the missing bin (gbdt.h invariant 3).
 *
 * Bins. bin(x) = the number of cut points <= x, so x < cut[b] exactly when
 * bin(x) <= b: a split on bins becomes the raw-value test x < cut[b]
 * (invariant 2). Training rows are kept twice: row-major for histograms
 * (one row's bytes are one cache line) and column-major for partitioning
 * (one feature's bytes for all rows fit in L2).
 *
 * Histograms. The inner loop of training: for each row, for each feature,
 * add the row's packed (g, h) integer to the cell of its bin -- a byte
 * load, an offset and one add to memory. Rows are walked in row order
 * within a node (gathered through the node's row list, prefetched ahead);
 * the row-major layout, padded to a power-of-two stride, means each row
 * costs one cache line of bins, and consecutive updates of one feature are
 * p updates apart, so a run of equal bins does not stall on its own store.
 * A job large enough to share is cut into parts (up to four a thread),
 * each summing into its own histogram, and gbdt_hist_finish adds them up;
 * the sums are integers (invariant 1), so the result does not depend on
 * which thread took which part.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ml/gbdt.h"
#include "pool.h"
#include "rng.h"
#include "sort.h"

/* Rows sampled to find a numeric feature's cut points on large data. */
#define GBDT_SAMPLE (1u << 18)
/* A histogram job of at least this many rows is split across threads. */
#define SHARE_ROWS 16384
/* Rows ahead to prefetch in the gathered histogram loop. */
#define PREFETCH 32

/* ---- cut points ----------------------------------------------------------------- */

void gbdt_cuts_free(gbdt_cuts *c)
{
	sl__free(c->off);
	sl__free(c->nval);
	sl__free(c->n_cat);
	sl__free(c->cut);
	sl__free(c->cut_at);
	sl__free(c->cat_bin);
	sl__free(c->cat_at);
	memset(c, 0, sizeof *c);
}

size_t gbdt_hist_len(const gbdt_cuts *c)
{
	return c->off[c->p];
}

/* A point strictly above a and at most b (a < b): x < point keeps a left. */
static double midpoint(double a, double b)
{
	double m = a * 0.5 + b * 0.5;

	return m > a && m <= b ? m : b;
}

/*
 * Cut points of sorted values v[0..m) into at most maxval bins: written to
 * cuts (at most maxval - 1), their number returned.
 */
static size_t numeric_cuts(const double *v, size_t m, uint32_t maxval, double *cuts)
{
	size_t d = 0, nc = 0, i, j;
	size_t bins_left = maxval, rest = m, acc = 0;
	double target;

	/* Distinct values: count them first, for the simple case. */
	for (i = 0; i < m; i++)
		if (i == 0 || v[i] != v[i - 1])
			d++;
	if (d <= maxval) {
		for (i = 1; i < m; i++)
			if (v[i] != v[i - 1])
				cuts[nc++] = midpoint(v[i - 1], v[i]);
		return nc;
	}
	target = (double)rest / (double)bins_left;
	for (i = 0; i < m; i = j) {
		size_t cnt, next;
		for (j = i; j < m && v[j] == v[i]; j++)
			;
		if (j == m)
			break;
		cnt = j - i;
		acc += cnt;
		/* The count of the next distinct value: a heavy one closes this
		 * bin early so that it gets a bin of its own. */
		for (next = j; next < m && v[next] == v[j]; next++)
			;
		if ((double)acc >= target || (double)(next - j) >= target) {
			cuts[nc++] = midpoint(v[j - 1], v[j]);
			rest -= acc;
			acc = 0;
			if (--bins_left <= 1)
				break;
			target = (double)rest / (double)bins_left;
		}
	}
	return nc;
}

/* What fitting one feature produced, before the arrays are joined. */
typedef struct feat_fit {
	double *cuts;
	size_t n_cuts;
	uint8_t *cat_bin; /* categorical */
	uint32_t n_cat;
	uint16_t nval;
} feat_fit;

typedef struct fit_job {
	const gbdt_data *d;
	uint32_t bins, max_cat;
	const size_t *sample; /* m rows, or NULL: all */
	size_t m;
	feat_fit *out;
	double **colbuf;      /* per worker: n doubles (column sources) */
	uint64_t **keys;      /* per worker: m keys */
	int rc;
} fit_job;

/* Feature j of the source: a pointer to n values with a stride. */
static const double *source_column(const gbdt_data *d, size_t j, double *buf, size_t *stride)
{
	if (d->X) {
		*stride = d->row_stride;
		return d->X + j * d->col_stride;
	}
	d->column(d->ctx, j, buf);
	*stride = 1;
	return buf;
}

typedef struct cat_count {
	size_t count;
	uint32_t code;
} cat_count;

static int by_count_desc(const void *a, const void *b)
{
	const cat_count *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->code > y->code) - (x->code < y->code);
}

static int fit_categorical(const double *col, size_t stride, size_t n, uint32_t n_cat,
			   uint32_t limit, feat_fit *ff)
{
	cat_count *cc = sl__calloc(n_cat, sizeof *cc);
	size_t used = 0, own;

	ff->cat_bin = sl__malloc(n_cat);
	if (!cc || !ff->cat_bin) {
		sl__free(cc);
		return sl__oom();
	}
	for (uint32_t c = 0; c < n_cat; c++)
		cc[c].code = c;
	for (size_t i = 0; i < n; i++) {
		double x = col[i * stride];
		if (x >= 0 && x < (double)n_cat && x == floor(x))
			cc[(size_t)x].count++;
	}
	qsort(cc, n_cat, sizeof *cc, by_count_desc);
	while (used < n_cat && cc[used].count > 0)
		used++;
	/* limit value bins: all categories, or limit - 1 and "other". */
	own = used <= limit ? used : limit - 1;
	ff->nval = (uint16_t)(used <= limit ? used : limit);
	for (size_t k = 0; k < n_cat; k++) {
		uint8_t bin;
		if (k < own)
			bin = (uint8_t)k;
		else if (k < used)
			bin = (uint8_t)own; /* other */
		else
			bin = 0xff;         /* never seen: missing, fixed below */
		ff->cat_bin[cc[k].code] = bin;
	}
	for (uint32_t c = 0; c < n_cat; c++)
		if (ff->cat_bin[c] == 0xff)
			ff->cat_bin[c] = (uint8_t)ff->nval;
	ff->n_cat = n_cat;
	sl__free(cc);
	return 0;
}

static void fit_feature(void *ctx, size_t j, unsigned worker)
{
	fit_job *fj = ctx;
	const gbdt_data *d = fj->d;
	feat_fit *ff = &fj->out[j];
	uint32_t n_cat = d->n_cat ? d->n_cat[j] : 0;
	size_t stride, m = 0;
	const double *col;
	uint64_t *keys;
	double *vals;
	int rc = 0;

	if (__atomic_load_n(&fj->rc, __ATOMIC_RELAXED))
		return;
	col = source_column(d, j, fj->colbuf ? fj->colbuf[worker] : NULL, &stride);
	if (n_cat) {
		/* bins - 1 value bins at most (one is missing), and max_cat. */
		uint32_t limit = fj->max_cat < fj->bins - 1 ? fj->max_cat : fj->bins - 1;
		rc = fit_categorical(col, stride, d->n, n_cat, limit < 2 ? 2 : limit, ff);
		goto done;
	}
	keys = fj->keys[worker];
	for (size_t k = 0; k < fj->m; k++) {
		double x = col[(fj->sample ? fj->sample[k] : k) * stride];
		if (!isnan(x))
			keys[m++] = sl__key_f64(x);
	}
	if ((rc = sl__radix_sort_u64(keys, NULL, m)))
		goto done;
	/* The keys' storage is reused for the values, in order. */
	vals = (double *)(void *)keys;
	for (size_t k = 0; k < m; k++)
		vals[k] = sl__unkey_f64(keys[k]);
	ff->cuts = sl__malloc(fj->bins * sizeof *ff->cuts);
	if (!ff->cuts) {
		rc = sl__oom();
		goto done;
	}
	ff->n_cuts = numeric_cuts(vals, m, fj->bins - 1, ff->cuts);
	ff->nval = (uint16_t)(ff->n_cuts + 1);
done:
	if (rc) {
		int zero = 0;
		__atomic_compare_exchange_n(&fj->rc, &zero, rc, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	}
}

/* Per-worker buffers: threads of count doubles (or keys) each. */
static void **worker_bufs(unsigned threads, size_t count, size_t size)
{
	void **b = sl__calloc(threads, sizeof *b);

	if (!b)
		return NULL;
	for (unsigned t = 0; t < threads; t++)
		if (!(b[t] = sl__malloc(count ? count * size : 1))) {
			for (unsigned u = 0; u < t; u++)
				sl__free(b[u]);
			sl__free(b);
			return NULL;
		}
	return b;
}

static void free_bufs(void **b, unsigned threads)
{
	if (!b)
		return;
	for (unsigned t = 0; t < threads; t++)
		sl__free(b[t]);
	sl__free(b);
}

int gbdt_cuts_fit(const gbdt_data *d, uint32_t bins, uint32_t max_cat, uint64_t seed,
		  unsigned threads, gbdt_cuts *out)
{
	fit_job fj = {d, bins, max_cat, NULL, 0, NULL, NULL, NULL, 0};
	size_t *sample = NULL, p = d->p, n_cut = 0, n_catb = 0;
	int rc = 0;

	memset(out, 0, sizeof *out);
	fj.m = d->n;
	if (d->n > GBDT_SAMPLE) {
		sl__rng r;
		sample = sl__malloc(GBDT_SAMPLE * sizeof *sample);
		if (!sample)
			return sl__oom();
		sl__rng_stream(&r, seed, UINT64_MAX); /* apart from the trees' streams */
		sl__rng_sample(&r, d->n, GBDT_SAMPLE, sample);
		fj.sample = sample;
		fj.m = GBDT_SAMPLE;
	}
	fj.out = sl__calloc(p ? p : 1, sizeof *fj.out);
	fj.keys = (uint64_t **)worker_bufs(threads, fj.m, sizeof(uint64_t));
	fj.colbuf = d->X ? NULL : (double **)worker_bufs(threads, d->n, sizeof(double));
	if (!fj.out || !fj.keys || (!d->X && !fj.colbuf)) {
		rc = sl__oom();
		goto out;
	}
	sl__parallel_for(threads, p, fit_feature, &fj);
	if ((rc = fj.rc))
		goto out;
	out->p = p;
	out->off = sl__malloc((p + 1) * sizeof *out->off);
	out->nval = sl__malloc((p ? p : 1) * sizeof *out->nval);
	out->n_cat = sl__malloc((p ? p : 1) * sizeof *out->n_cat);
	out->cut_at = sl__malloc((p ? p : 1) * sizeof *out->cut_at);
	out->cat_at = sl__malloc((p ? p : 1) * sizeof *out->cat_at);
	for (size_t j = 0; j < p; j++) {
		n_cut += fj.out[j].n_cuts;
		n_catb += fj.out[j].n_cat;
	}
	out->cut = sl__malloc((n_cut ? n_cut : 1) * sizeof *out->cut);
	out->cat_bin = sl__malloc(n_catb ? n_catb : 1);
	if (!out->off || !out->nval || !out->n_cat || !out->cut_at || !out->cat_at || !out->cut ||
	    !out->cat_bin) {
		rc = sl__oom();
		goto out;
	}
	out->off[0] = 0;
	n_cut = n_catb = 0;
	for (size_t j = 0; j < p; j++) {
		feat_fit *ff = &fj.out[j];
		out->nval[j] = ff->nval;
		out->n_cat[j] = ff->n_cat;
		out->cut_at[j] = n_cut;
		out->cat_at[j] = n_catb;
		if (ff->n_cuts)
			memcpy(out->cut + n_cut, ff->cuts, ff->n_cuts * sizeof *ff->cuts);
		if (ff->n_cat)
			memcpy(out->cat_bin + n_catb, ff->cat_bin, ff->n_cat);
		n_cut += ff->n_cuts;
		n_catb += ff->n_cat;
		out->off[j + 1] = out->off[j] + ff->nval + 1u; /* + the missing bin */
	}
out:
	if (fj.out)
		for (size_t j = 0; j < p; j++) {
			sl__free(fj.out[j].cuts);
			sl__free(fj.out[j].cat_bin);
		}
	sl__free(fj.out);
	free_bufs((void **)fj.keys, threads);
	free_bufs((void **)fj.colbuf, threads);
	sl__free(sample);
	if (rc)
		gbdt_cuts_free(out);
	return rc;
}

/* ---- binning ------------------------------------------------------------------------ */

/*
 * The number of cut points <= x. Branch-free (the comparison feeds a mask,
 * not a jump): values arrive in no order, so a branch per step would be
 * mispredicted half the time.
 */
static inline unsigned count_le(const double *c, unsigned k, double x)
{
	unsigned lo = 0, len = k;

	if (len == 0)
		return 0;
	while (len > 1) {
		unsigned half = len / 2;
		lo += half & (0u - (unsigned)(c[lo + half - 1] <= x));
		len -= half;
	}
	return lo + (c[lo] <= x);
}

uint8_t gbdt_bin_value(const gbdt_cuts *c, size_t f, double x)
{
	if (c->n_cat[f]) {
		if (!(x >= 0 && x < (double)c->n_cat[f]) || x != floor(x))
			return (uint8_t)c->nval[f];
		return c->cat_bin[c->cat_at[f] + (size_t)x];
	}
	if (isnan(x))
		return (uint8_t)c->nval[f];
	return (uint8_t)count_le(c->cut + c->cut_at[f], c->nval[f] - 1u, x);
}

void gbdt_huge(void *p, size_t len)
{
	uintptr_t a = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
	uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)((2u << 20) - 1);

	if (e > a)
		madvise((void *)a, e - a, MADV_HUGEPAGE);
}

void gbdt_binned_free(gbdt_binned *b)
{
	sl__free(b->rows_mem);
	sl__free(b->cols);
	memset(b, 0, sizeof *b);
}

typedef struct bin_job {
	const gbdt_cuts *c;
	const gbdt_data *d;
	uint8_t *cols; /* p x n */
	double **colbuf;
} bin_job;

static void bin_feature(void *ctx, size_t j, unsigned worker)
{
	bin_job *bj = ctx;
	const gbdt_cuts *c = bj->c;
	size_t n = bj->d->n, stride;
	const double *col = source_column(bj->d, j, bj->colbuf ? bj->colbuf[worker] : NULL, &stride);
	uint8_t *out = bj->cols + j * n;

	if (c->n_cat[j]) {
		for (size_t i = 0; i < n; i++)
			out[i] = gbdt_bin_value(c, j, col[i * stride]);
		return;
	}
	{
		/* Eight searches side by side: each is a chain of dependent
		 * loads, and interleaving them keeps the core busy. */
		enum { BATCH = 8 };
		const double *cut = c->cut + c->cut_at[j];
		unsigned k = c->nval[j] - 1u;
		uint8_t miss = (uint8_t)c->nval[j];
		size_t i = 0;
		for (; k > 0 && i + BATCH <= n; i += BATCH) {
			double x[BATCH];
			unsigned lo[BATCH], len = k;
			for (unsigned q = 0; q < BATCH; q++) {
				x[q] = col[(i + q) * stride];
				lo[q] = 0;
			}
			while (len > 1) {
				unsigned half = len / 2;
				for (unsigned q = 0; q < BATCH; q++)
					lo[q] += half & (0u - (unsigned)(cut[lo[q] + half - 1] <= x[q]));
				len -= half;
			}
			for (unsigned q = 0; q < BATCH; q++)
				out[i + q] = isnan(x[q]) ? miss : (uint8_t)(lo[q] + (cut[lo[q]] <= x[q]));
		}
		for (; i < n; i++) {
			double x = col[i * stride];
			out[i] = isnan(x) ? miss : (uint8_t)count_le(cut, k, x);
		}
	}
}

typedef struct transpose_job {
	const uint8_t *cols;
	uint8_t *rows;
	size_t n, p, stride;
} transpose_job;

static void transpose_block(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	transpose_job *t = ctx;

	(void)worker;
	for (size_t f = 0; f < t->p; f++) {
		const uint8_t *src = t->cols + f * t->n;
		for (size_t i = lo; i < hi; i++)
			t->rows[i * t->stride + f] = src[i];
	}
}

int gbdt_bin(const gbdt_cuts *c, const gbdt_data *d, bool with_cols, unsigned threads,
	     gbdt_binned *out)
{
	size_t n = d->n, p = d->p;
	bin_job bj = {c, d, NULL, NULL};
	transpose_job tj;

	memset(out, 0, sizeof *out);
	out->stride = 1;
	while (out->stride < p && out->stride < 64)
		out->stride *= 2;
	if (p > 64)
		out->stride = (p + 15) & ~(size_t)15;
	if (p && n > (SIZE_MAX - 64) / out->stride)
		return sl__err(SL_ELIMIT, "too many rows x features to bin");
	out->n = n;
	out->p = p;
	bj.cols = sl__malloc(n * p > 0 ? n * p : 1);
	out->rows_mem = sl__calloc(1, n * out->stride + 64);
	out->rows = out->rows_mem
			    ? (uint8_t *)(((uintptr_t)out->rows_mem + 63) & ~(uintptr_t)63)
			    : NULL;
	if (!d->X)
		bj.colbuf = (double **)worker_bufs(threads, n, sizeof(double));
	if (!bj.cols || !out->rows || (!d->X && !bj.colbuf)) {
		sl__free(bj.cols);
		free_bufs((void **)bj.colbuf, threads);
		gbdt_binned_free(out);
		return sl__oom();
	}
	gbdt_huge(bj.cols, n * p);
	gbdt_huge(out->rows, n * out->stride);
	sl__parallel_for(threads, p, bin_feature, &bj);
	free_bufs((void **)bj.colbuf, threads);
	tj = (transpose_job){bj.cols, out->rows, n, p, out->stride};
	sl__parallel_range(threads, n, 4096, transpose_block, &tj);
	if (with_cols)
		out->cols = bj.cols;
	else
		sl__free(bj.cols);
	return 0;
}

/* ---- histograms ------------------------------------------------------------------------ */

/* Adds v to the cells of one row's bins (unrolled: this is the hot loop). */
static inline void add_row(gbdt_gh *restrict out, const uint32_t *restrict off,
			   const uint8_t *restrict b, size_t p, gbdt_gh v)
{
	size_t f = 0;

	for (; f + 4 <= p; f += 4) {
		out[off[f] + b[f]] += v;
		out[off[f + 1] + b[f + 1]] += v;
		out[off[f + 2] + b[f + 2]] += v;
		out[off[f + 3] + b[f + 3]] += v;
	}
	for (; f < p; f++)
		out[off[f] + b[f]] += v;
}

/* Sums rows lo..hi (through idx when given) into out, which is zeroed first. */
static void hist_rows(const gbdt_hist_ctx *h, const uint32_t *idx, size_t lo, size_t hi,
		      gbdt_gh *restrict out)
{
	const uint8_t *restrict rows = h->bins->rows;
	const uint32_t *restrict off = h->cuts->off;
	const gbdt_gh *restrict gh = h->gh;
	const uint32_t *restrict fl = h->features;
	size_t p = h->bins->p, st = h->bins->stride, nf = h->n_features;

	memset(out, 0, gbdt_hist_len(h->cuts) * sizeof *out);
	if (!idx && !fl) {
		for (size_t i = lo; i < hi; i++)
			add_row(out, off, rows + i * st, p, gh[i]);
	} else if (!fl) {
		for (size_t k = lo; k < hi; k++) {
			size_t r = idx[k];
			const uint8_t *b = rows + r * st;
			gbdt_gh v = gh[r];
			if (k + PREFETCH < hi) {
				size_t q = idx[k + PREFETCH];
				__builtin_prefetch(rows + q * st);
				__builtin_prefetch(gh + q);
			}
			add_row(out, off, b, p, v);
		}
	} else {
		for (size_t k = lo; k < hi; k++) {
			size_t r = idx ? idx[k] : k;
			const uint8_t *b = rows + r * st;
			gbdt_gh v = gh[r];
			if (idx && k + PREFETCH < hi) {
				size_t q = idx[k + PREFETCH];
				__builtin_prefetch(rows + q * st);
				__builtin_prefetch(gh + q);
			}
			for (size_t a = 0; a < nf; a++) {
				size_t f = fl[a];
				out[off[f] + b[f]] += v;
			}
		}
	}
}

typedef struct hist_task {
	const uint32_t *idx;
	size_t lo, hi;
	gbdt_gh *out;
} hist_task;

typedef struct hist_run {
	const gbdt_hist_ctx *h;
	hist_task *tasks;
} hist_run;

static void run_task(void *ctx, size_t i, unsigned worker)
{
	hist_run *r = ctx;
	hist_task *t = &r->tasks[i];

	(void)worker;
	hist_rows(r->h, t->idx, t->lo, t->hi, t->out);
}

static int by_size_desc(const void *a, const void *b)
{
	const hist_task *x = a, *y = b;
	size_t nx = x->hi - x->lo, ny = y->hi - y->lo;

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return x->out < y->out ? -1 : x->out > y->out;
}

int gbdt_hist_build(gbdt_hist_ctx *h, gbdt_hist_job *jobs, size_t n_jobs)
{
	size_t len = gbdt_hist_len(h->cuts), n_tasks = 0, n_scratch = 0;
	unsigned parts = h->threads;
	hist_run r = {h, NULL};

	for (size_t j = 0; j < n_jobs; j++) {
		size_t rows = jobs[j].hi - jobs[j].lo;
		/* Up to four parts a thread: a thread that gets its core late
		 * (a busy machine) then holds up the others by a part, not by a
		 * whole share. */
		jobs[j].parts = 1;
		if (parts > 1 && rows >= SHARE_ROWS) {
			size_t k = rows / SHARE_ROWS;
			jobs[j].parts = (unsigned)(k < 4 * (size_t)parts ? (k > parts ? k : parts) : 4 * parts);
		}
		jobs[j].scratch = n_scratch;
		n_scratch += jobs[j].parts - 1;
	}
	if (n_scratch == 0 && (parts <= 1 || n_jobs <= 1)) {
		for (size_t j = 0; j < n_jobs; j++)
			hist_rows(h, jobs[j].idx, jobs[j].lo, jobs[j].hi, jobs[j].hist);
		return 0;
	}
	if (n_scratch > h->scratch_cap) {
		gbdt_gh *s = sl__reallocarray(h->scratch, n_scratch * len, sizeof *s);
		if (!s)
			return sl__oom();
		h->scratch = s;
		h->scratch_cap = n_scratch;
	}
	r.tasks = sl__malloc((n_jobs + n_scratch) * sizeof *r.tasks);
	if (!r.tasks)
		return sl__oom();
	for (size_t j = 0; j < n_jobs; j++) {
		gbdt_hist_job *jb = &jobs[j];
		size_t rows = jb->hi - jb->lo;
		for (unsigned k = 0; k < jb->parts; k++) {
			size_t lo = jb->lo + rows * k / jb->parts, hi = jb->lo + rows * (k + 1) / jb->parts;
			gbdt_gh *o = k == 0 ? jb->hist : h->scratch + (jb->scratch + k - 1) * len;
			r.tasks[n_tasks++] = (hist_task){jb->idx, lo, hi, o};
		}
	}
	/* Largest first, so that the small ones fill the gaps at the end. */
	qsort(r.tasks, n_tasks, sizeof *r.tasks, by_size_desc);
	sl__parallel_for(h->threads, n_tasks, run_task, &r);
	sl__free(r.tasks);
	return 0;
}

void gbdt_hist_finish(const gbdt_hist_ctx *h, const gbdt_hist_job *job, size_t lo, size_t hi)
{
	size_t len = gbdt_hist_len(h->cuts);

	for (unsigned k = 1; k < job->parts; k++) {
		const gbdt_gh *src = h->scratch + (job->scratch + k - 1) * len;
		for (size_t c = lo; c < hi; c++)
			job->hist[c] += src[c];
	}
}
