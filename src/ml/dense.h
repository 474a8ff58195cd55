/*
 * Small dense linear algebra for the linear model families (linear.c,
 * logistic.c): the Gram matrix Z'WZ of a tall row-major matrix, Cholesky
 * factorisation with rank detection, and triangular solves. Prefix dense_.
 *
 * Written here rather than taken from BLAS/LAPACK because the problems are
 * small (q columns, q in the tens to low thousands) and tall (n rows in the
 * hundreds of thousands), so what matters is one cache-friendly pass over
 * the rows on every core, with a reduction order that does not depend on
 * the thread count; a general BLAS gives neither guarantee.
 *
 * Invariants:
 *  1. Results depend only on the inputs, never on the number of threads:
 *     rows are cut into chunks whose size depends on n alone, each chunk's
 *     partial sum is computed in a fixed order, and partial sums are added
 *     in chunk order (dense_chunks).
 *  2. Matrices are row-major, q x q, stored in full (both triangles of a
 *     symmetric matrix are filled).
 */
#ifndef SLUICE_ML_DENSE_H
#define SLUICE_ML_DENSE_H

#include <stddef.h>

/*
 * How n rows are cut for a deterministic parallel reduction: *out_chunk
 * rows per chunk (the last may be shorter), *out_n chunks. Depends on n
 * only.
 */
void dense_chunks(size_t n, size_t *out_chunk, size_t *out_n);

/*
 * G = Z' diag(w) Z (q x q, full) and, when y and zty are non-NULL,
 * zty = Z' diag(w) y, for Z of n rows of q doubles (row-major). w may be
 * NULL (all ones). threads: 0 = every core. SL_ENOMEM on failure.
 */
int dense_gram(const double *Z, size_t n, size_t q, const double *w, const double *y,
	       unsigned threads, double *G, double *zty);

/*
 * In-place Cholesky factorisation A = L L' of the symmetric positive
 * definite q x q matrix A (only the lower triangle is read; L replaces it,
 * the strict upper triangle is left as it was). Blocked, right-looking.
 * A pivot that falls to rel_tol times diag[j] (the caller's copy of A's
 * diagonal before the factorisation) or below means the column is
 * (numerically) a linear combination of the
 * columns before it: the function returns -1 - j for the first such column
 * j and A is then undefined; 0 on success.
 */
long dense_cholesky(double *A, size_t q, const double *diag, double rel_tol);

/* Solves L L' x = b in place (b becomes x), L from dense_cholesky. */
void dense_chol_solve(const double *L, size_t q, double *b);

/* Dot product of n doubles, in a fixed order (eight partial sums). */
double dense_dot(const double *a, const double *b, size_t n);
/* y += a x over n doubles. */
void dense_axpy(double a, const double *x, double *y, size_t n);

#endif
