/*
 * The table of metric directions (metric_dir.h).
 *
 * Invariants:
 *  1. One table: evaluate's metrics (eval.c), the train.* scores (train.c)
 *     and the forecast and anomaly metrics are all here, and the unit test
 *     holds evaluate's own list to it name by name, so a metric added there
 *     without a direction here fails the build's tests.
 *  2. Unknown names have no direction (0), never a guessed one: ranking by
 *     a metric nobody classified is refused by the callers, not done wrong.
 */
#include <string.h>

#include "ml/metric_dir.h"

typedef struct metric_dir {
	const char *name;
	int direction;
} metric_dir;

/* Sorted by name (binary search; the unit test checks the order). */
static const metric_dir table[] = {
	{"accuracy", 1},
	{"anomaly_rate", 0},
	{"auc", 1},
	{"balanced_accuracy", 1},
	{"brier", -1},
	{"cost", -1},
	{"coverage80", 0},
	{"coverage95", 0},
	{"ece", -1},
	{"f1", 1},
	{"f1_macro", 1},
	{"fpr", -1},
	{"logloss", -1},
	{"mae", -1},
	{"mape", -1},
	{"mase", -1},
	{"mse", -1},
	{"pr_auc", 1},
	{"precision", 1},
	{"precision_at_k", 1},
	{"precision_macro", 1},
	{"r2", 1},
	{"recall", 1},
	{"recall_at_k", 1},
	{"recall_macro", 1},
	{"rmse", -1},
	{"roc_auc", 1},
	{"rows", 0},
	{"selection_rate", 0},
	{"smape", -1},
	{"tpr", 1},
	{"wape", -1},
};

static const metric_dir *find(const char *name)
{
	size_t lo = 0, hi = sizeof table / sizeof table[0];

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, table[mid].name);
		if (c == 0)
			return &table[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The metric's own name: past "STEP." and a set prefix. */
static const char *bare(const char *name)
{
	static const char *const sets[] = {"valid_", "train_", "test_"};
	const char *dot = strrchr(name, '.');

	if (dot)
		name = dot + 1;
	if (find(name))
		return name;
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
		size_t n = strlen(sets[i]);
		if (!strncmp(name, sets[i], n) && find(name + n))
			return name + n;
	}
	return name;
}

bool ml_metric_direction_known(const char *name, int *out_direction)
{
	const metric_dir *m = name ? find(bare(name)) : NULL;

	if (!m)
		return false;
	if (out_direction)
		*out_direction = m->direction;
	return true;
}

int ml_metric_direction(const char *name)
{
	int d = 0;

	return ml_metric_direction_known(name, &d) ? d : 0;
}

const char *ml_metric_direction_name(int direction)
{
	return direction > 0 ? "higher" : direction < 0 ? "lower" : "neither";
}
