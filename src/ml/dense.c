/*
 * Dense kernels for the linear families (dense.h): the Gram matrix of a
 * tall matrix on every core with a thread-count-independent reduction,
 * blocked Cholesky with rank detection, triangular solves.
 *
 * The Gram matrix dominates a closed-form fit (n q^2 / 2 multiply-adds
 * against q^3 / 6 for the factorisation), so its kernel is the one tuned:
 * rank-4 updates of the upper triangle, four rows at a time, the inner
 * loop running along contiguous memory of both the rows and G; G's
 * columns are tiled so a tile of G and a block of rows stay in cache when
 * q is large.
 */
#include <math.h>
#include <string.h>

#include "core.h"
#include "ml/dense.h"
#include "pool.h"

#define GRAM_ROWS 64    /* rows per block: a block of rows stays in L2 */
#define GRAM_TILE 128   /* columns of G per tile */
#define CHOL_BLOCK 64   /* Cholesky panel width */
#define GRAM_PARTS 16   /* at most this many partial Gram matrices */
#define GRAM_BUDGET ((size_t)256 << 20) /* bytes of partial Gram matrices */

void dense_chunks(size_t n, size_t *out_chunk, size_t *out_n)
{
	size_t chunk = (n + 63) / 64;

	if (chunk < 2048)
		chunk = 2048;
	*out_chunk = chunk;
	*out_n = n ? (n + chunk - 1) / chunk : 0;
}

/*
 * Two doubles per operation through the compiler's vector extensions (SSE2
 * on x86-64, NEON on arm64): the build is -O2, which leaves plain loops
 * scalar, and these two kernels are the inner loops of every logistic
 * iteration. Loads go through memcpy, so any alignment is fine.
 */
typedef double v2d __attribute__((vector_size(16)));

static inline v2d load2(const double *p)
{
	v2d v;

	memcpy(&v, p, sizeof v);
	return v;
}

double dense_dot(const double *a, const double *b, size_t n)
{
	v2d s0 = {0, 0}, s1 = {0, 0}, s2 = {0, 0}, s3 = {0, 0};
	double tail = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		s0 += load2(a + i) * load2(b + i);
		s1 += load2(a + i + 2) * load2(b + i + 2);
		s2 += load2(a + i + 4) * load2(b + i + 4);
		s3 += load2(a + i + 6) * load2(b + i + 6);
	}
	for (; i + 2 <= n; i += 2)
		s0 += load2(a + i) * load2(b + i);
	for (; i < n; i++)
		tail += a[i] * b[i];
	s0 = (s0 + s1) + (s2 + s3);
	return (s0[0] + s0[1]) + tail;
}

void dense_axpy(double a, const double *x, double *y, size_t n)
{
	v2d av = {a, a};
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		v2d y0 = load2(y + i) + av * load2(x + i);
		v2d y1 = load2(y + i + 2) + av * load2(x + i + 2);
		memcpy(y + i, &y0, sizeof y0);
		memcpy(y + i + 2, &y1, sizeof y1);
	}
	for (; i < n; i++)
		y[i] += a * x[i];
}

/* ---- Gram matrix ------------------------------------------------------------ */

typedef struct gram_job {
	const double *Z, *w, *y;
	size_t n, q, part_rows, nparts;
	double *parts;   /* nparts x q x q (upper triangles) */
	double *zparts;  /* nparts x q, or NULL */
} gram_job;

/* Adds rows [lo, hi) of Z to the upper triangle of G (and to zty). */
static void gram_block(const gram_job *j, size_t lo, size_t hi, double *G, double *zty)
{
	const size_t q = j->q;
	const double *Z = j->Z, *w = j->w, *y = j->y;

	for (size_t b0 = 0; b0 < q; b0 += GRAM_TILE) {
		size_t b1 = b0 + GRAM_TILE < q ? b0 + GRAM_TILE : q;
		size_t i = lo;
		for (; i + 4 <= hi; i += 4) {
			const double *z0 = Z + i * q, *z1 = z0 + q, *z2 = z1 + q, *z3 = z2 + q;
			double w0 = w ? w[i] : 1, w1 = w ? w[i + 1] : 1;
			double w2 = w ? w[i + 2] : 1, w3 = w ? w[i + 3] : 1;
			for (size_t a = 0; a < b1; a++) {
				double c0 = w0 * z0[a], c1 = w1 * z1[a], c2 = w2 * z2[a],
				       c3 = w3 * z3[a];
				double *g = G + a * q;
				for (size_t b = a > b0 ? a : b0; b < b1; b++)
					g[b] += c0 * z0[b] + c1 * z1[b] + c2 * z2[b] + c3 * z3[b];
			}
		}
		for (; i < hi; i++) {
			const double *z0 = Z + i * q;
			double w0 = w ? w[i] : 1;
			for (size_t a = 0; a < b1; a++) {
				double c0 = w0 * z0[a], *g = G + a * q;
				for (size_t b = a > b0 ? a : b0; b < b1; b++)
					g[b] += c0 * z0[b];
			}
		}
	}
	if (zty) {
		for (size_t i = lo; i < hi; i++) {
			double c = (w ? w[i] : 1) * y[i];
			const double *z = Z + i * q;
			for (size_t a = 0; a < q; a++)
				zty[a] += c * z[a];
		}
	}
}

static void gram_part(void *ctx, size_t part, unsigned worker)
{
	const gram_job *j = ctx;
	size_t lo = part * j->part_rows, hi = lo + j->part_rows;
	double *G = j->parts + part * j->q * j->q;
	double *zty = j->zparts ? j->zparts + part * j->q : NULL;

	(void)worker;
	if (hi > j->n)
		hi = j->n;
	memset(G, 0, j->q * j->q * sizeof *G);
	if (zty)
		memset(zty, 0, j->q * sizeof *zty);
	for (size_t b = lo; b < hi; b += GRAM_ROWS)
		gram_block(j, b, b + GRAM_ROWS < hi ? b + GRAM_ROWS : hi, G, zty);
}

int dense_gram(const double *Z, size_t n, size_t q, const double *w, const double *y,
	       unsigned threads, double *G, double *zty)
{
	gram_job j = {.Z = Z, .w = w, .y = y, .n = n, .q = q};
	size_t per = q * q * sizeof(double), nparts;

	/* The number of partial sums depends on n and q only (invariant 1):
	 * enough to keep every core busy, few enough to fit the budget. */
	nparts = per ? GRAM_BUDGET / per : GRAM_PARTS;
	if (nparts > GRAM_PARTS)
		nparts = GRAM_PARTS;
	if (nparts > (n + 1023) / 1024)
		nparts = (n + 1023) / 1024;
	if (nparts < 1)
		nparts = 1;
	j.part_rows = (n + nparts - 1) / nparts;
	if (j.part_rows == 0)
		j.part_rows = 1;
	j.nparts = nparts = (n + j.part_rows - 1) / j.part_rows;
	if (nparts == 0) {
		memset(G, 0, per);
		if (zty)
			memset(zty, 0, q * sizeof *zty);
		return 0;
	}
	if (nparts == 1) {
		j.parts = G;
		j.zparts = y ? zty : NULL;
		gram_part(&j, 0, 0);
	} else {
		j.parts = sl__malloc(nparts * per);
		j.zparts = y && zty ? sl__malloc(nparts * q * sizeof(double)) : NULL;
		if (!j.parts || (y && zty && !j.zparts)) {
			sl__free(j.parts);
			sl__free(j.zparts);
			return sl__oom();
		}
		sl__parallel_for(threads, nparts, gram_part, &j);
		memcpy(G, j.parts, per);
		if (j.zparts)
			memcpy(zty, j.zparts, q * sizeof *zty);
		for (size_t p = 1; p < nparts; p++) {
			const double *src = j.parts + p * q * q;
			for (size_t a = 0; a < q; a++)
				for (size_t b = a; b < q; b++)
					G[a * q + b] += src[a * q + b];
			if (j.zparts)
				for (size_t a = 0; a < q; a++)
					zty[a] += j.zparts[p * q + a];
		}
		sl__free(j.parts);
		sl__free(j.zparts);
	}
	for (size_t a = 0; a < q; a++)
		for (size_t b = 0; b < a; b++)
			G[a * q + b] = G[b * q + a];
	return 0;
}

/* ---- Cholesky ---------------------------------------------------------------- */

long dense_cholesky(double *A, size_t q, const double *diag, double rel_tol)
{
	for (size_t k0 = 0; k0 < q; k0 += CHOL_BLOCK) {
		size_t k1 = k0 + CHOL_BLOCK < q ? k0 + CHOL_BLOCK : q;
		/* The diagonal block and the panel below it. Columns before k0
		 * have already been subtracted by earlier trailing updates, so
		 * only the block's own columns remain to subtract. */
		for (size_t j = k0; j < k1; j++) {
			double *rj = A + j * q, d = rj[j];
			for (size_t k = k0; k < j; k++)
				d -= rj[k] * rj[k];
			/* d is what is left of column j once the columns before it
			 * are projected out; next to nothing means j is one of them
			 * combined (the NaN test is the negated comparison). */
			if (!(d > rel_tol * diag[j]))
				return -1 - (long)j;
			d = sqrt(d);
			rj[j] = d;
			for (size_t i = j + 1; i < q; i++) {
				double *ri = A + i * q, s = ri[j];
				for (size_t k = k0; k < j; k++)
					s -= ri[k] * rj[k];
				ri[j] = s / d;
			}
		}
		/* Trailing update of the lower triangle: rows of the panel are
		 * contiguous, so each entry is one dot product along memory. */
		for (size_t i = k1; i < q; i++) {
			double *ri = A + i * q;
			for (size_t j = k1; j <= i; j++)
				ri[j] -= dense_dot(ri + k0, A + j * q + k0, k1 - k0);
		}
	}
	return 0;
}

void dense_chol_solve(const double *L, size_t q, double *b)
{
	for (size_t i = 0; i < q; i++)
		b[i] = (b[i] - dense_dot(L + i * q, b, i)) / L[i * q + i];
	for (size_t i = q; i-- > 0;) {
		const double *ri = L + i * q;
		b[i] /= ri[i];
		for (size_t k = 0; k < i; k++)
			b[k] -= ri[k] * b[i];
	}
}
