/*
 * Bundles: what gets deployed. A bundle is a model file (mfile.h) whose
 * manifest has "kind": "bundle" and also holds the fitted `wrangle`
 * transform the model's inputs came out of, so that serving and batch
 * scoring feed the model exactly what training fed it (no skew), plus what
 * a registry shows about a version: metrics, the gate verdict, lineage.
 * Prefix bundle_.
 *
 *   raw row (JSON object, or typed values in the bundle's input order)
 *        |  transform_apply_row / _json   (skipped when there is none)
 *        v
 *   transformed row  --code by name-->  model inputs (doubles, ml.h)
 *        |                                     |
 *        '-- TRANSFORM_REJECTED (a filter)     '--> ml predict -> outputs
 *
 * Manifest fields added to a model's (ml_model_save):
 *   "kind": "bundle", "bundle_format": 1, "name": NAME,
 *   "transform": the transform's JSON object, or absent,
 *   "metrics": {name: number}, "verdict": {...} or absent,
 *   "lineage": {"run", "pipeline_sha256", "datasets": [ids], ...}
 *
 * Invariants:
 *  1. Every model input is produced by the transform (by name, of a type
 *     that converts), or is a raw input when there is no transform; a
 *     bundle that breaks this is refused at open, not at the first request.
 *  2. bundle_row workspaces are per thread; the bundle itself is read-only
 *     after open and shared by every thread.
 *  3. What a request's value means for an input of a given type is defined
 *     once, by bundle_coerce: JSON objects (bundle_score_json), the
 *     server's tensor and dataframe codecs and CSV text all go through it,
 *     so the same value is the same input whichever way it arrived.
 */
#ifndef SLUICE_BUNDLE_H
#define SLUICE_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dataset/transform.h"
#include "ml/ml.h"

#define BUNDLE_FORMAT 1

/* bundle_open flags. */
#define BUNDLE_ROWS 1u /* will score rows one at a time: refuse a transform
			* that needs other rows (lag, rolling) at open */

typedef struct bundle bundle;

/*
 * Writes a bundle to out_path from the model file at model_path, the
 * transform artifact at transform_path (NULL: none) and extra manifest
 * fields (borrowed; "name", "metrics", "verdict", "lineage" ...). The
 * model's sections are copied unchanged.
 */
int bundle_write(const char *model_path, const char *transform_path, const json_t *extra,
		 const char *out_path);

/*
 * Opens a bundle, or a plain model file (then there is no transform and the
 * raw inputs are the model's). Checks the file (mfile.h), the format and
 * invariant 1. Errors name the file and what is wrong.
 */
int bundle_open(const char *path, unsigned flags, bundle **out);
void bundle_close(bundle *b); /* accepts NULL */

const ml_model *bundle_model(const bundle *b);
const transform *bundle_transform(const bundle *b); /* NULL when none */
const json_t *bundle_manifest(const bundle *b);
/*
 * Binary models: the probability of the second class at or above which the
 * bundle decides that class: the manifest's "threshold" (the one its
 * evaluation decided at, kept by the package step), else 0.5.
 */
double bundle_threshold(const bundle *b);

/* The raw inputs a caller supplies: the transform's inputs, else the model's. */
size_t bundle_n_inputs(const bundle *b);
const char *bundle_input_name(const bundle *b, size_t k);
ds_type bundle_input_type(const bundle *b, size_t k);
/*
 * Whether raw input k decides anything: it feeds a model input or a filter
 * reads it (transform_needed_inputs). One that does not (an id column, the
 * training target the wrangle step saw) may be missing from rows to score.
 */
bool bundle_input_needed(const bundle *b, size_t k);

/*
 * One raw value as a request carries it, before it is typed. Numbers keep
 * their text so that a 64-bit integer is read exactly, not through a double.
 */
typedef enum bundle_vkind {
	BV_NULL,   /* JSON null: a missing value */
	BV_NUMBER, /* a JSON number: text in s/len, value in num */
	BV_STRING, /* a JSON string, unescaped, in s/len */
	BV_BOOL,   /* a JSON true or false in b */
	BV_TEXT    /* a CSV field in s/len, typed by parsing it as the input's type */
} bundle_vkind;

typedef struct bundle_scalar {
	bundle_vkind kind;
	bool b;
	double num;
	const char *s;
	size_t len;
} bundle_scalar;

/*
 * Types v as a value of type t into *out (strings borrowed from v):
 *
 *   input type   accepts
 *   float64      a number; CSV: a decimal, NaN or Inf
 *   int64        an integer, or a number with an integral value below 2^53
 *   bool         true or false; CSV: true/false in any case
 *   timestamp    an ISO 8601 string (ds_parse_timestamp)
 *   string       a string; CSV: the field as it is
 *
 * A JSON null, and a CSV field (BV_TEXT, an unquoted field: the caller
 * passes a quoted one to a string input as BV_STRING) that is empty or one
 * of the default null markers (NA, N/A, NULL, null), is a missing value. Anything else is
 * SL_EINVAL with a message saying what was expected and what came ("expected
 * a number (float64), got a string"); callers prefix where it was.
 */
int bundle_coerce(ds_type t, const bundle_scalar *v, expr_value *out);

/* The JSON datatype word for messages: "a number", "a string" ... */
const char *bundle_vkind_name(bundle_vkind k);

typedef struct bundle_row bundle_row;

/* A workspace for scoring single rows (one thread at a time). SL_EUNSUP
 * naming the operation when the transform needs other rows. */
int bundle_row_new(const bundle *b, bundle_row **out);
void bundle_row_free(bundle_row *r); /* accepts NULL */

/*
 * Scores one raw row given as a JSON object keyed by input name (a missing
 * key or null is a missing value). x (may be NULL) receives the model's
 * input doubles (n_features), out the outputs (n_outputs). Returns 0,
 * TRANSFORM_REJECTED when a filter rejects the row (out untouched), or
 * SL_EINVAL naming the field that is wrong.
 */
int bundle_score_json(const bundle *b, bundle_row *r, const json_t *row, double *x, double *out);
/* The same from typed values in bundle input order (strings borrowed). */
int bundle_score_values(const bundle *b, bundle_row *r, const expr_value *in, double *x,
			double *out);

/*
 * The first half of bundle_score_values: one raw row (typed values in
 * bundle input order) through the transform and coded into the model's
 * inputs x (n_features doubles), without predicting, so that a caller with
 * many rows codes each and then predicts them all in one
 * ml_model_predict call. Returns 0, TRANSFORM_REJECTED or an error.
 */
int bundle_code_values(const bundle *b, bundle_row *r, const expr_value *in, double *x);
/*
 * bundle_code_values by the general path, cell by cell, which the planned
 * passes bundle_code_values runs must equal to the bit: kept for the tests
 * that hold them together, never used to serve.
 */
int bundle_code_values_general(const bundle *b, bundle_row *r, const expr_value *in, double *x);

/*
 * Warms a freshly opened bundle: a row of missing values through the
 * transform and one prediction (and one explanation when the family has
 * them), so that the pages a request touches are mapped and every lazy
 * initialisation has happened before the first request. Returns 0 or the
 * error of the prediction.
 */
int bundle_warm(const bundle *b);

#endif
