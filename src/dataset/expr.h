/*
 * The expression language of wrangle (filter, derive), label rules and
 * serving's derived columns. Prefix expr_.
 *
 *   spam_score > 0.5 and not whitelisted
 *   if(`unit price` is null, 0, `unit price` * qty)
 *   lower(country) in ['fr', 'de'] or contains(subject, 'free')
 *
 * An expression is compiled once against a schema (column names and types):
 * parsing builds a flat postfix program (children before their parent, each
 * subtree contiguous), and binding resolves column names and checks types,
 * so every error is found before any row is touched and names its place as
 * "WHERE:LINE:COL: message" (WHERE is given by the caller, typically the
 * option path "with.ops[2].expr"). Evaluation never fails on data: what
 * would be a run-time error (division by zero, log of a negative number,
 * integer overflow) yields null.
 *
 * Types are the dataset's (int64, float64, bool, string, timestamp) with
 * nulls. Nulls propagate through arithmetic, comparisons and functions;
 * and/or/not use SQL's three-valued logic. A filter keeps the rows where
 * the expression is true (null and false are dropped). The full language
 * reference is docs/steps/wrangle.md.
 *
 * Evaluation is the same code for a table and for one row: the program runs
 * over vectors of up to EXPR_CHUNK rows held in a workspace (expr_ws), one
 * chunk at a time for a table and a vector of length one for a row. A
 * workspace is allocated once and reused, so evaluating a row allocates
 * nothing once warm (only string functions may grow its text arena, which
 * keeps its high-water mark). A compiled expr is immutable and may be shared
 * by threads; a workspace belongs to one thread at a time.
 */
#ifndef SLUICE_EXPR_H
#define SLUICE_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset/dataset.h"

/* Longest accepted expression text, in bytes. */
#define EXPR_MAX_LEN 65536
/* Deepest nesting of parentheses, operators and calls. */
#define EXPR_MAX_DEPTH 128
/* Rows per vector in table evaluation. */
#define EXPR_CHUNK 1024

/*
 * The type of an expression: a ds_type, or EXPR_TNULL for an expression that
 * is null whatever the row (the literal null, or null + 1).
 */
#define EXPR_TNULL ((ds_type)0)

typedef struct expr expr;
typedef struct expr_ws expr_ws;

/*
 * One value. Which field holds it depends on the type: i for int64,
 * timestamp (microseconds since the epoch) and bool (0 or 1), f for
 * float64, s/len for string (bytes, not necessarily NUL-terminated). When
 * null is true the other fields are meaningless.
 */
typedef struct expr_value {
	bool null;
	int64_t i;
	double f;
	const char *s;
	size_t len;
} expr_value;

/*
 * Compiles text against the schema (names[k], types[k]) for k < ncol.
 * where prefixes error messages ("with.ops[2].expr"; NULL means "expr").
 * On failure returns SL_EPARSE (syntax), SL_EINVAL (unknown column, types),
 * SL_ELIMIT (too long or too deep) or SL_ENOMEM, with the message
 * "WHERE:LINE:COL: ..." (1-based; columns count bytes), and *out is NULL.
 * names and types are not kept: the caller may free them afterwards.
 * The caller frees *out with expr_free().
 */
int expr_compile(const char *text, const char *where, const char *const *names,
		 const ds_type *types, size_t ncol, expr **out);
/* The same against the columns of a table. */
int expr_compile_table(const char *text, const char *where, const ds_table *t, expr **out);
void expr_free(expr *e); /* accepts NULL */
/*
 * Checks text's syntax alone (tokens, operators, function names), as
 * expr_compile would before it looks at any column: what can be checked
 * before the data is known. Returns 0 or expr_compile's error.
 */
int expr_check_syntax(const char *text, const char *where);

/* The result type (EXPR_TNULL when always null). */
ds_type expr_type(const expr *e);
/* The source text (a copy owned by e). */
const char *expr_text(const expr *e);
/* The number of schema columns e was compiled against, and whether it reads column k. */
size_t expr_ncol(const expr *e);
bool expr_uses_col(const expr *e, size_t k);

/*
 * A workspace for evaluating e (or any expression compiled from the same
 * text and schema shape). Free with expr_ws_free(), which accepts NULL.
 */
int expr_ws_new(const expr *e, expr_ws **out);
void expr_ws_free(expr_ws *ws);

/*
 * Evaluates e on one row: row[k] is the value of schema column k (only the
 * columns e uses are read; their type is the schema's). *out receives the
 * result; a string result points into ws or into row and lives until the
 * next evaluation with ws. Returns 0, or SL_EINVAL when ws does not fit e.
 */
int expr_eval_row(const expr *e, expr_ws *ws, const expr_value *row, expr_value *out);

/*
 * Evaluates a bool expression over every row of t: out[i] = 1 when row i is
 * true, 0 when false or null. t must have e's schema: column k of t has the
 * name and type of schema column k for every column e uses (a table e was
 * compiled against qualifies), SL_EINVAL otherwise. out has ds_nrow(t) bytes.
 */
int expr_eval_mask(const expr *e, const ds_table *t, uint8_t *out);

/*
 * Evaluates e over every row of t (same schema rule) and appends the
 * ds_nrow(t) results to column j of b, whose type must be expr_type(e)
 * (for EXPR_TNULL any type: all rows are null).
 */
int expr_eval_append(const expr *e, const ds_table *t, ds_builder *b, size_t j);

/* ---- C emission (`sluice models export --format c`) ------------------------ */

/*
 * How schema column k of an expression reads in the emitted C: the lvalues
 * of its value and of its null flag ("v[3]", "z[3]"), and for a string
 * column the dictionary whose codes it holds (-1 for other types; an
 * unknown string is code -1).
 */
typedef struct expr_c_col {
	char v[32], z[32];
	int dict;
} expr_c_col;

/* The code of string s (len bytes) in dictionary dict, added when new; < 0 on failure. */
typedef long (*expr_c_code_fn)(void *arg, int dict, const char *s, size_t len);

/* Helpers the emitted code calls, which the caller must define (see expr_emit_c). */
#define EXPR_C_ROUND 1u /* double sx_round_digits(double x, double digits) */

struct sl__cw;
/*
 * Writes a C99 block computing e for one row, as expr_eval_row would, that
 * leaves the value (a double: numbers, 0/1, microseconds) in out_v and the
 * null flag (an int) in out_z. Strings are dictionary codes, so only what
 * codes can answer has a C form: a string column against a literal with ==
 * or !=, in and not in a list, is null. Anything else on strings (lower,
 * len, contains ..., ordering, two columns compared, a string result) is
 * SL_EUNSUP "WHERE:LINE:COL: ..." naming it. Sets the EXPR_C_* bits of
 * helpers used in *needs. Integers are held as doubles, exact to 2^53.
 */
int expr_emit_c(const expr *e, struct sl__cw *w, const expr_c_col *cols, expr_c_code_fn code,
		void *arg, const char *out_v, const char *out_z, unsigned *needs);

/*
 * The candidate closest to name by edit distance when it is close enough to
 * be a likely typo ("spma" -> "spam"), else NULL. NULL entries are skipped.
 * Used for "did you mean" in messages about unknown names.
 */
const char *expr_suggest(const char *name, const char *const *cands, size_t n);

#endif
