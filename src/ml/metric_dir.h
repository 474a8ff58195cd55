/*
 * Which way is better for a metric: the one table every part of sluice
 * that ranks or judges metrics reads (runs compare and --sort, the tune
 * step's choice of the best trial, gates). Prefix ml_metric_.
 */
#ifndef SLUICE_ML_METRIC_DIR_H
#define SLUICE_ML_METRIC_DIR_H

#include <stdbool.h>

/*
 * The direction of metric name: +1 when higher is better (auc, accuracy,
 * r2), -1 when lower is better (rmse, logloss, cost), 0 when neither (rows,
 * coverage) or unknown. A recorded metric's set prefix ("valid_", "train_",
 * "test_") and a step prefix ("train.", in STEP.METRIC) are looked past,
 * so valid_auc is auc and evaluate.rmse is rmse.
 */
int ml_metric_direction(const char *name);

/* As ml_metric_direction; false when the name is not in the table. */
bool ml_metric_direction_known(const char *name, int *out_direction);

/* "higher", "lower" or "neither", for messages and JSON. */
const char *ml_metric_direction_name(int direction);

#endif
