/*
 * The monitoring reference a model carries: what its training data and its
 * predictions looked like, and how to calibrate its probabilities. Made
 * once, when the model is trained (train_finish), stored in the model
 * file's manifest under "monitoring", copied into the bundle by package,
 * and read back by live monitoring. Prefix mref_.
 *
 *   "monitoring": {
 *     "format": 1,
 *     "rows": 3220,                    training rows profiled
 *     "profile": PROFILE,              the training rows' model inputs
 *                                      (profile.h's JSON form)
 *     "predictions": PROFILE,          the model's outputs on the reference
 *                                      set: "score" (binary: P(class 1)),
 *                                      "prediction" (the class label as
 *                                      text, or the predicted number)
 *     "predictions_set": "valid",      which rows those were
 *     "calibration": {                 classifiers only
 *        "method": "isotonic", "set": "valid" | "train",
 *        "target": "positive" | "confidence", "x": [...], "y": [...],
 *        "rows": n } }
 *
 * Why the model file and not only the bundle: the training rows exist
 * only while train.* runs (the bundle is made later, from the model file),
 * and a model served without a bundle is monitored the same way.
 *
 * Invariant: the profile is of the model's input columns as training saw
 * them - after the wrangle transform - so live rows are compared after the
 * bundle's transform too (live.c), never raw against transformed.
 */
#ifndef SLUICE_MONITOR_REFERENCE_H
#define SLUICE_MONITOR_REFERENCE_H

#include <stdbool.h>

#include <jansson.h>

#include "ml/ml.h"
#include "monitor/calib.h"
#include "monitor/profile.h"

#define MREF_FORMAT 1

typedef struct mref {
	uint64_t rows;
	profile *features;    /* the model inputs of the training rows */
	profile *predictions; /* may be NULL (a forecaster) */
	char *predictions_set;
	bool has_calib;
	bool calib_binary;    /* target "positive" (binary), else "confidence" */
	calib cal;
	char *calib_set;
} mref;

/*
 * The reference of model m trained on train (its frame's table) with
 * predictions and calibration from the n rows of X (with targets y; the
 * validation rows when there are any, set says which: "valid" or
 * "train"). *out is a new JSON object for the manifest's "monitoring".
 */
int mref_build(const ml_model *m, const ds_table *train, const double *X, const double *y,
	       size_t n, const char *set, json_t **out);

/*
 * Reads a manifest's "monitoring" (the whole manifest is given). SL_ENOENT
 * when it has none; SL_EINVAL naming the bad field. *out: mref_free.
 */
int mref_load(const json_t *manifest, mref **out);
void mref_free(mref *r); /* accepts NULL */

/*
 * The predictions as a table, the same for the reference and a window:
 * "score" (binary: P(class 1)), then "prediction" (classifiers: the arg
 * max's label as text; others: the first output). P is n rows of
 * sig->n_outputs. *out: ds_close.
 */
int mref_prediction_table(const ml_signature *sig, const double *P, size_t n, ds_table **out);

/* The text of class k (the model's class order) of a classifier's signature. */
const char *mref_class_text(const ml_signature *sig, size_t k);

#endif
