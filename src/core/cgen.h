/*
 * Writing C source (`sluice models export --format c`): literals that a C
 * compiler reads back as exactly the value written, and a text buffer whose
 * first failure sticks, so an emitter writes hundreds of pieces and checks
 * once. Prefix sl__cw_.
 *
 * Invariants:
 *  1. A double is written with 17 significant digits and always as a
 *     floating literal (1.0, not 1): the compiler's correctly rounded
 *     conversion gives back the same bits, and no integer arithmetic
 *     creeps into an expression by accident. Infinities and NaN are the
 *     C99 macros of math.h.
 *  2. A string literal escapes every byte that is not printable ASCII (and
 *     '?', against trigraphs), so any UTF-8 name compiles.
 */
#ifndef SLUICE_CGEN_H
#define SLUICE_CGEN_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

typedef struct sl__cw {
	sl__buf b;
	int rc; /* the first failure; later writes do nothing */
} sl__cw;

void sl__cw_init(sl__cw *w);
void sl__cw_free(sl__cw *w);
void sl__cw_printf(sl__cw *w, const char *fmt, ...) SL__PRINTF(2, 3);
void sl__cw_puts(sl__cw *w, const char *s);
/* Appends another writer's text (and its failure). */
void sl__cw_cat(sl__cw *w, const sl__cw *src);
/* A double literal (invariant 1). */
void sl__cw_double(sl__cw *w, double v);
/* A string literal of len bytes (invariant 2). */
void sl__cw_string(sl__cw *w, const char *s, size_t len);
/* "DECL = {v0, v1, ...};" with DECL such as "static const double sx_coef[12]"
 * (n == 0 writes a single 0, since C has no empty initialiser). */
void sl__cw_doubles(sl__cw *w, const char *decl, const double *v, size_t n);
void sl__cw_ints(sl__cw *w, const char *decl, const int64_t *v, size_t n);

#endif
