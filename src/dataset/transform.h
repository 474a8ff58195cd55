/*
 * The fitted transform: the ordered operations of a wrangle step together
 * with everything they learned from the training data (means, medians,
 * modes, scales, bounds, categories, vocabularies, idf weights), saved as a
 * `transform` artifact and applied unchanged to new data. Prefix transform_.
 *
 * One definition serves three callers, so training and serving cannot skew:
 *
 *   transform_fit()          wrangle on training data: fits each operation
 *                            on the output of the previous one and applies it
 *   transform_apply_table()  wrangle given a transform: the same operations
 *                            with the stored parameters, nothing re-fitted
 *   transform_apply_row()    serving: one row at a time, no allocation per
 *                            call once the transform_row workspace is warm
 *
 * Every column-wise operation is compiled into "producers" whose scalar
 * kernel is the single definition of what the operation computes; the table
 * path runs the same kernels over every row (or a vectorised equivalent for
 * expressions, whose evaluator is itself shared), so a row applied alone
 * gives the same values as in a table.
 *
 * Row-dropping and history-dependent operations at serving time:
 *   filter   evaluated on the row; a false or null result makes
 *            transform_apply_row() return TRANSFORM_REJECTED
 *   dedupe   a batch operation: a single row passes unchanged
 *   lag, rolling  need the series' history, which one row does not have:
 *            transform_row_new() fails with SL_EUNSUP naming the operation
 *
 * The artifact is canonical JSON (sorted keys, no white space, reals with 17
 * significant digits, which read back exactly):
 *
 *   {"format": "sluice.transform", "version": 1,
 *    "inputs":  [{"name": "age", "type": "int64"}, ...],
 *    "outputs": [{"name": "age", "type": "float64"}, ...],
 *    "ops":     [{"op": "impute", "columns": ["age"], "strategy": "median",
 *                 "fill": {"age": 41.5}}, ...]}
 *
 * Each op object holds the user's options (normalised: every default and
 * every resolved column list written out) and its learned fields, so the
 * file documents itself. Readers reject another format or a newer version.
 */
#ifndef SLUICE_TRANSFORM_H
#define SLUICE_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dataset/dataset.h"
#include "dataset/expr.h"

#define TRANSFORM_FORMAT "sluice.transform"
#define TRANSFORM_VERSION 1
/* transform_apply_row(): the row was rejected by a filter operation. */
#define TRANSFORM_REJECTED 1

typedef struct transform transform;
typedef struct transform_row transform_row;

/*
 * Fits the operations ops (a JSON array as in wrangle's `with.ops`; see
 * docs/steps/wrangle.md) on t and applies them. where names the option in
 * messages ("with.ops" gives "with.ops[2].columns: ..."). On success
 * *out_tr is the fitted transform and *out_t the resulting table, both
 * owned by the caller; on failure both are NULL.
 */
int transform_fit(const json_t *ops, const char *where, const ds_table *t, transform **out_tr,
		  ds_table **out_t);

/*
 * Checks ops against the columns of an input (names[k] of type types[k])
 * without its data, as the scheduler does before a wrangle step runs: each
 * op is normalised and resolved against the columns the ops before it
 * leave, by the code transform_fit runs, so a column an op names that is
 * not there is the error fitting would give ("WHERE[2].columns: unknown
 * column 'amout'; did you mean 'amount'?"), and so are a column of the
 * wrong type and a bad expression. Nothing is learned, so nothing that
 * depends on the values is checked (a column with no values to average).
 * The check ends, with 0, after the first op whose output columns depend on
 * the data (encode onehot's categories, text's vocabulary), since the
 * columns after it are not known. Returns 0 or the error (SL_EINVAL).
 */
int transform_check(const json_t *ops, const char *where, const char *const *names,
		    const ds_type *types, size_t n);

/*
 * Applies a fitted transform to t. t must have every input column of the
 * transform (by name; others are ignored; an int64 column is accepted where
 * float64 is expected). *out_t has exactly the transform's output schema.
 */
int transform_apply_table(const transform *tr, const ds_table *t, ds_table **out_t);

/*
 * The same for scoring (batch prediction), where every input row must come
 * out with an answer or a mark, as transform_apply_row() treats rows one at
 * a time: a dedupe keeps every row (one row alone passes it), and a filter
 * still drops the rows it rejects from *out_t, but *out_rows (ds_nrow(*out_t)
 * entries, ascending, newly allocated; free with sl__free) gives the row of
 * t each output row came from, so the caller can mark the rows that are
 * missing as rejected. Row i of *out_t equals transform_apply_row() of row
 * out_rows[i] of t.
 */
int transform_apply_rows(const transform *tr, const ds_table *t, ds_table **out_t,
			 size_t **out_rows);

/* Reads a transform artifact (checks format and version; SL_ECORRUPT when malformed). */
int transform_load(const char *path, transform **out);
int transform_parse(const char *text, size_t len, const char *name, transform **out);
/* The same from a parsed document (borrowed; the transform takes references
 * to its parts, so it may outlive doc's owner's reference). */
int transform_from_json(const json_t *doc, const char *name, transform **out);
/* The canonical JSON text (newly allocated, NUL-terminated; free with sl__free). */
char *transform_dump(const transform *tr, size_t *out_len);
/* Writes transform_dump() to path atomically. */
int transform_save(const transform *tr, const char *path);
void transform_free(transform *tr); /* accepts NULL */

/*
 * The option names an operation's object may hold (space-separated; its
 * learned fields included), or NULL for an unknown operation. The wrangle
 * step's option schema must agree with it (a unit test checks).
 */
const char *transform_op_options(const char *op);

/* The normalised op objects with their learned fields (borrowed). */
const json_t *transform_ops(const transform *tr);

/* The input and output schemas. */
size_t transform_n_inputs(const transform *tr);
const char *transform_input_name(const transform *tr, size_t k);
ds_type transform_input_type(const transform *tr, size_t k);
size_t transform_n_outputs(const transform *tr);
const char *transform_output_name(const transform *tr, size_t k);
ds_type transform_output_type(const transform *tr, size_t k);

/*
 * Which input columns matter when only the outputs marked in out_used
 * (transform_n_outputs entries) are used: those that feed them, and those
 * a filter reads (it decides which rows are answered). in_needed gets
 * transform_n_inputs entries. An input that is not needed (an id, the
 * training target) may be absent when scoring: it is carried through or
 * dropped but decides nothing.
 */
int transform_needed_inputs(const transform *tr, const bool *out_used, bool *in_needed);

/*
 * A workspace for applying tr to single rows (one thread at a time).
 * SL_EUNSUP when tr contains an operation that needs other rows (lag,
 * rolling). Free with transform_row_free(), which accepts NULL.
 */
int transform_row_new(const transform *tr, transform_row **out);
void transform_row_free(transform_row *r);

/*
 * Applies tr to one row. in[k] is the value of input column k (typed as
 * transform_input_type(tr, k)); out receives transform_n_outputs(tr) values
 * whose strings point into r or in and stay valid until the next call with
 * r. Returns 0, TRANSFORM_REJECTED when a filter drops the row, or a
 * negative code (a cast that fails with on_error: fail) with the message.
 */
int transform_apply_row(const transform *tr, transform_row *r, const expr_value *in,
			expr_value *out);

/*
 * The same with the row given as a JSON object keyed by input column name
 * (a request body). A missing key or JSON null is a null value; numbers,
 * strings, bools and ISO 8601 timestamp strings are converted to the
 * column's type, and a value of the wrong kind is SL_EINVAL naming the
 * column. Strings are borrowed from obj, so obj must outlive the use of out.
 */
int transform_apply_json(const transform *tr, transform_row *r, const json_t *obj,
			 expr_value *out);

/* ---- C emission (`sluice models export --format c`; transform_c.c) -------- */

/*
 * The transform's row operations written as C99 (math.h only) that works
 * on a row held in two arrays, double v[] and unsigned char z[] (set for a
 * null), one entry per slot: raw input k is v[k], z[k] on entry (strings as
 * codes into that input's dictionary, -1 for a string it does not hold),
 * and output column k is in slot transform_c_out_slot(k) after. A filter
 * that rejects the row, or a cast with on_error: fail that fails, executes
 * `return -1;`. Operations that need the text (text, hashing strings,
 * casts to and from string, string functions) or other rows (lag,
 * rolling) are SL_EUNSUP naming the op.
 */
typedef struct transform_c transform_c;
struct sl__cw;

int transform_c_new(const transform *tr, transform_c **out);
void transform_c_free(transform_c *c); /* accepts NULL */
/* Writes the statements into w. */
int transform_c_emit(transform_c *c, struct sl__cw *w);
/* Writes the helpers and tables the statements use; call last, when every
 * string has its code (the tables index by code). */
int transform_c_tables(transform_c *c, struct sl__cw *w);
size_t transform_c_n_slots(const transform_c *c);
size_t transform_c_out_slot(const transform_c *c, size_t k);
/* The raw input whose dictionary codes string output k, or -1. */
int transform_c_out_dict(const transform_c *c, size_t k);
/* The code of s in raw input dict's dictionary, added when new; < 0 on failure. */
long transform_c_code(transform_c *c, int dict, const char *s, size_t len);
size_t transform_c_dict_size(const transform_c *c, int dict);
const char *transform_c_dict_str(const transform_c *c, int dict, size_t i, size_t *len);

#endif
