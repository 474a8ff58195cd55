/*
 * Evaluation: every metric against values worked out by hand (ties in AUC
 * and at precision@k included; the same numbers scikit-learn gives), the
 * baseline fitted on the training rows, business cost and the
 * cost-minimising threshold on a small example, fairness gaps by hand,
 * permutation importance ranking an informative input above noise (and
 * not depending on the thread count), champion deltas, every refusal
 * naming the column and the fix, the HTML page (self-contained, escaped),
 * and the evaluate step end to end with a canvas.
 *
 * Models here are a tiny hand-made family ("echo") whose predictions are
 * input columns, so every prediction is chosen by the test.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/project.h"
#include "ml/eval_int.h"
#include "ml/forecast.h"
#include "ml/iforest.h"
#include "rng.h"
#include "testutil.h"

#define EPS 1e-12

/* ---- tables and the echo family ------------------------------------------------ */

typedef struct col {
	const char *name;
	ds_type type;
	const double *f;         /* numbers (NaN stays a NaN value) */
	const char *const *s;    /* strings (NULL entries are nulls) */
} col;

static ds_table *table(const col *cols, size_t ncol, size_t n)
{
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	for (size_t j = 0; j < ncol; j++) {
		assert_int_equal(ds_builder_add_col(b, cols[j].name, cols[j].type, NULL), 0);
		for (size_t i = 0; i < n; i++) {
			switch (cols[j].type) {
			case DS_FLOAT64:
				assert_int_equal(ds_append_f64(b, j, cols[j].f[i]), 0);
				break;
			case DS_INT64:
				assert_int_equal(ds_append_i64(b, j, (int64_t)cols[j].f[i]), 0);
				break;
			default:
				if (cols[j].s[i])
					assert_int_equal(ds_append_str(b, j, cols[j].s[i],
								       strlen(cols[j].s[i])),
							 0);
				else
					assert_int_equal(ds_append_null(b, j), 0);
			}
		}
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

/* Predictions are inputs: binary P(class 1) = x0; multiclass the first k
 * inputs; regression x0; anomaly score x0 and flag x1. */
static int echo_predict(const ml_model *m, const double *X, size_t n, double *out)
{
	size_t p = m->sig.n_features, k = m->sig.n_outputs;

	for (size_t i = 0; i < n; i++) {
		const double *x = X + i * p;
		double *o = out + i * k;
		switch (m->sig.task) {
		case ML_BINARY:
			o[0] = 1 - x[0];
			o[1] = x[0];
			break;
		case ML_MULTICLASS:
			memcpy(o, x, k * sizeof *o);
			break;
		case ML_ANOMALY:
			o[0] = x[0];
			o[1] = x[1];
			break;
		default:
			o[0] = x[0];
		}
	}
	return 0;
}

static void echo_free(void *impl)
{
	(void)impl;
}

static const ml_ops echo_ops = {
	.algorithm = "echo",
	.predict = echo_predict,
	.free_impl = echo_free,
};

/* An echo model with train's signature (and its target summary when asked). */
static ml_model *echo_model(const ds_table *train, const char *target, ml_task task,
			    bool summary)
{
	ml_frame fr;
	ml_signature sig = {0};
	ml_model *m;

	assert_int_equal(ml_frame_build(train,
					&(ml_frame_opts){.target = target, .task = task,
							 .allow_strings = true,
							 .allow_missing = true},
					&fr),
			 0);
	assert_int_equal(ml_signature_copy(&sig, &fr.sig), 0);
	assert_int_equal(ml_model_new(&echo_ops, &sig, NULL, &m), 0);
	if (summary)
		assert_int_equal(ml_baseline_summary(&fr, m->info), 0);
	ml_frame_free(&fr);
	return m;
}

static double metric(const json_t *rep, const char *set, const char *name)
{
	const json_t *v = json_object_get(json_object_get(rep, set), name);

	if (!json_is_number(v))
		fail_msg("%s.%s is missing", set, name);
	return json_number_value(v);
}

#define NEAR(a, b)                                                                  \
	do {                                                                        \
		double a_ = (a), b_ = (b);                                          \
		if (!(fabs(a_ - b_) < EPS))                                         \
			fail_msg("%s = %.17g, want %.17g", #a, a_, b_);             \
	} while (0)

static void assert_msg_has(const char *needle)
{
	if (!strstr(sl_errmsg(), needle))
		fail_msg("message '%s' lacks '%s'", sl_errmsg(), needle);
}

/* ---- the binary example ----------------------------------------------------------- */

/*
 *   y  1    1    0    1    0    0
 *   p  0.9  0.6  0.6  0.4  0.3  0.1     (a tie at 0.6 across the classes)
 *   g  a    a    a    b    b    b
 * Training rows: 2 positives of 8, so the baseline's prior is 0.25.
 */
static const double bin_p[] = {0.9, 0.6, 0.6, 0.4, 0.3, 0.1};
static const double bin_y[] = {1, 1, 0, 1, 0, 0};
static const char *const bin_g[] = {"a", "a", "a", "b", "b", "b"};

static ml_model *binary_model(bool summary)
{
	static const double p[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
	static const double y[] = {0, 0, 0, 1, 0, 0, 0, 1};
	col c[] = {{"p", DS_FLOAT64, p, NULL}, {"y", DS_INT64, y, NULL}};
	ds_table *t = table(c, 2, 8);
	ml_model *m = echo_model(t, "y", 0, summary);

	ds_close(t);
	return m;
}

static ds_table *binary_test(void)
{
	col c[] = {{"p", DS_FLOAT64, bin_p, NULL},
		   {"y", DS_INT64, bin_y, NULL},
		   {"g", DS_STRING, NULL, bin_g}};

	return table(c, 3, 6);
}

static void test_binary_metrics(void **state)
{
	ml_model *m = binary_model(true);
	ds_table *t = binary_test();
	ml_eval_opts o;
	json_t *rep;
	const json_t *cm;

	(void)state;
	ml_eval_opts_init(&o);
	o.importance = false;
	if (ml_evaluate(m, NULL, t, &o, &rep))
		fail_msg("%s", sl_errmsg());
	/* Threshold 0.5 decides 1 1 1 0 0 0: one false positive (the 0.6
	 * negative), one false negative (the 0.4 positive). */
	NEAR(metric(rep, "metrics", "accuracy"), 4.0 / 6);
	NEAR(metric(rep, "metrics", "balanced_accuracy"), 2.0 / 3);
	NEAR(metric(rep, "metrics", "precision"), 2.0 / 3);
	NEAR(metric(rep, "metrics", "recall"), 2.0 / 3);
	NEAR(metric(rep, "metrics", "f1"), 2.0 / 3);
	NEAR(metric(rep, "metrics", "f1_macro"), 2.0 / 3);
	/* Pairs (pos, neg): 0.9 beats all 3; 0.6 ties one (1/2) and beats 2;
	 * 0.4 beats 2: 7.5 of 9. */
	NEAR(metric(rep, "metrics", "roc_auc"), 7.5 / 9);
	/* Thresholds 0.9, 0.6, 0.4 add recall 1/3 each at precision 1, 2/3, 3/4. */
	NEAR(metric(rep, "metrics", "pr_auc"), (1 + 2.0 / 3 + 3.0 / 4) / 3);
	NEAR(metric(rep, "metrics", "logloss"),
	     -(log(0.9) + log(0.6) + log(0.4) + log(0.4) + log(0.7) + log(0.9)) / 6);
	NEAR(metric(rep, "metrics", "brier"), 0.99 / 6);
	/* Bins (lo, hi]: 0.9 in (0.8, 0.9] off by 0.1; the two 0.6 in (0.5,
	 * 0.6] at 1/2 against 0.6; 0.4 off by 0.6; 0.3 by 0.3; 0.1 by 0.1. */
	NEAR(metric(rep, "metrics", "ece"), (0.1 + 2 * 0.1 + 0.6 + 0.3 + 0.1) / 6);
	NEAR(metric(rep, "metrics", "rows"), 6);
	cm = json_object_get(json_object_get(rep, "confusion_matrix"), "counts");
	assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 0), 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 0), 1)), 1);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 1), 0)), 1);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 1), 1)), 2);
	/* The baseline: the training prior 0.25 for every row, so negative
	 * decisions, AUC 1/2 (all tied), AP the prevalence, nothing right
	 * among the positives. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "baseline_info"),
								"fitted_on")),
			    "training rows");
	NEAR(metric(rep, "baseline", "roc_auc"), 0.5);
	NEAR(metric(rep, "baseline", "pr_auc"), 0.5);
	NEAR(metric(rep, "baseline", "accuracy"), 0.5);
	NEAR(metric(rep, "baseline", "precision"), 0);
	NEAR(metric(rep, "baseline", "logloss"), -(3 * log(0.25) + 3 * log(0.75)) / 6);
	NEAR(metric(rep, "baseline", "brier"), (3 * 0.5625 + 3 * 0.0625) / 6);
	/* The verdict: roc_auc 0.833 against 0.5. */
	assert_true(json_is_true(json_object_get(json_object_get(rep, "assessment"),
						 "worth_deploying")));
	assert_non_null(strstr(json_string_value(json_object_get(rep, "verdict_hint")),
			       "beats the baseline on roc_auc by 66.7%"));
	/* No timings unless asked: they would make reruns differ. */
	assert_null(json_object_get(rep, "latency"));
	json_decref(rep);
	o.latency = true;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	{
		const json_t *l = json_object_get(rep, "latency");
		assert_int_equal(json_integer_value(json_object_get(l, "rows")), 6);
		assert_true(json_real_value(json_object_get(l, "p50_us")) >= 0);
		assert_true(isfinite(json_real_value(json_object_get(l, "mean_us"))));
		assert_true(json_real_value(json_object_get(l, "p99_us")) >=
			    json_real_value(json_object_get(l, "p50_us")));
	}
	json_decref(rep);
	o.latency = false;
	/* Another threshold and positive class: 0.3 decides 1 1 1 1 1 0. */
	o.threshold = 0.3;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	NEAR(metric(rep, "metrics", "recall"), 1);
	NEAR(metric(rep, "metrics", "precision"), 3.0 / 5);
	json_decref(rep);
	o.threshold = NAN;
	o.positive = "0"; /* P(0) = 1 - p: the same ranking reversed */
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	NEAR(metric(rep, "metrics", "roc_auc"), 7.5 / 9);
	NEAR(metric(rep, "metrics", "precision"), 2.0 / 3); /* of class 0 */
	json_decref(rep);
	ml_model_free(m);
	ds_close(t);
}

/* Without the training summary the baseline falls back to the test rows, and says so. */
static void test_baseline_fallback(void **state)
{
	ml_model *m = binary_model(false);
	ds_table *t = binary_test();
	ml_eval_opts o;
	json_t *rep;
	char *notes;

	(void)state;
	ml_eval_opts_init(&o);
	o.importance = false;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "baseline_info"),
								"fitted_on")),
			    "test rows");
	notes = json_dumps(json_object_get(rep, "notes"), 0);
	assert_non_null(strstr(notes, "flatters it"));
	/* Test prior 1/2: ties at the 0.5 threshold decide positive. */
	NEAR(metric(rep, "baseline", "recall"), 1);
	free(notes);
	json_decref(rep);
	ml_model_free(m);
	ds_close(t);
}

/* The summary round trip: ml_baseline_for predicts what ml_baseline_fit does. */
static void test_baseline_summary(void **state)
{
	static const double y[] = {4, 1, 7, 2};
	static const double x[] = {1, 2, 3, 4};
	col c[] = {{"x", DS_FLOAT64, x, NULL}, {"y", DS_FLOAT64, y, NULL}};
	ds_table *t = table(c, 2, 4);
	ml_frame fr;
	ml_model *fit, *from;
	json_t *info = json_object();
	double a, b;

	(void)state;
	assert_int_equal(ml_frame_build(t, &(ml_frame_opts){.target = "y"}, &fr), 0);
	assert_int_equal(ml_baseline_summary(&fr, info), 0);
	NEAR(json_real_value(json_object_get(json_object_get(info, "training_target"), "mean")),
	     3.5);
	NEAR(json_real_value(json_object_get(json_object_get(info, "training_target"), "median")),
	     3);
	for (int s = 0; s < 2; s++) {
		const char *strategy = s ? "median" : "mean";
		assert_int_equal(ml_baseline_fit(&fr, strategy, &fit), 0);
		assert_int_equal(ml_model_new(&echo_ops, &(ml_signature){0}, NULL, &from), 0);
		ml_signature_copy(&from->sig, &fr.sig);
		json_object_update(from->info, info);
		ml_model *b2;
		assert_int_equal(ml_baseline_for(from, strategy, &b2), 0);
		assert_int_equal(ml_model_predict(fit, x, 1, &a), 0);
		assert_int_equal(ml_model_predict(b2, x, 1, &b), 0);
		assert_true(a == b);
		ml_model_free(fit);
		ml_model_free(b2);
		ml_model_free(from);
	}
	json_decref(info);
	ml_frame_free(&fr);
	ds_close(t);
}

/* ---- multiclass ----------------------------------------------------------------------- */

static void test_multiclass_metrics(void **state)
{
	static const double tp0[] = {0.2, 0.3, 0.5}, tp1[] = {0.3, 0.3, 0.2}, tp2[] = {0.5, 0.4, 0.3};
	static const char *const ty[] = {"a", "b", "c"};
	static const double p0[] = {0.7, 0.3, 0.2, 0.1, 0.5}, p1[] = {0.2, 0.4, 0.5, 0.1, 0.3},
			    p2[] = {0.1, 0.3, 0.3, 0.8, 0.2};
	static const char *const y[] = {"a", "b", "c", "c", "b"};
	col tc[] = {{"p0", DS_FLOAT64, tp0, NULL},
		    {"p1", DS_FLOAT64, tp1, NULL},
		    {"p2", DS_FLOAT64, tp2, NULL},
		    {"y", DS_STRING, NULL, ty}};
	col c[] = {{"p0", DS_FLOAT64, p0, NULL},
		   {"p1", DS_FLOAT64, p1, NULL},
		   {"p2", DS_FLOAT64, p2, NULL},
		   {"y", DS_STRING, NULL, y}};
	ds_table *train = table(tc, 4, 3), *t = table(c, 4, 5);
	ml_model *m = echo_model(train, "y", 0, true);
	ml_eval_opts o;
	json_t *rep;

	(void)state;
	assert_int_equal(m->sig.task, ML_MULTICLASS);
	ml_eval_opts_init(&o);
	o.importance = false;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	/* argmax: a b b c a against a b c c b. */
	NEAR(metric(rep, "metrics", "accuracy"), 0.6);
	/* precision 1/2, 1/2, 1; recall 1, 1/2, 1/2; F1 2/3, 1/2, 2/3. */
	NEAR(metric(rep, "metrics", "precision_macro"), 2.0 / 3);
	NEAR(metric(rep, "metrics", "recall_macro"), 2.0 / 3);
	NEAR(metric(rep, "metrics", "f1_macro"), 11.0 / 18);
	NEAR(metric(rep, "metrics", "f1"), 11.0 / 18);
	NEAR(metric(rep, "metrics", "balanced_accuracy"), 2.0 / 3);
	/* One-vs-rest AUC: 1, 4/6, 5.5/6 (a tie at 0.3 in class c). */
	NEAR(metric(rep, "metrics", "roc_auc"), (1 + 4.0 / 6 + 5.5 / 6) / 3);
	NEAR(metric(rep, "metrics", "pr_auc"), (1 + 7.0 / 12 + 5.0 / 6) / 3);
	NEAR(metric(rep, "metrics", "logloss"),
	     -(log(0.7) + log(0.4) + log(0.3) + log(0.8) + log(0.3)) / 5);
	NEAR(metric(rep, "metrics", "brier"), 2.3 / 5);
	/* Top-label confidences 0.7 0.4 0.5 0.8 0.5, right 1 1 0 1 0. */
	NEAR(metric(rep, "metrics", "ece"), (0.3 + 0.6 + 1.0 + 0.2) / 5);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "main_metric"),
								"name")),
			    "f1_macro");
	assert_int_equal(json_array_size(json_object_get(rep, "per_class")), 3);
	NEAR(json_real_value(json_object_get(json_array_get(json_object_get(rep, "per_class"), 2),
					     "recall")),
	     0.5);
	json_decref(rep);
	ml_model_free(m);
	ds_close(train);
	ds_close(t);
}

/* ---- regression and its cost --------------------------------------------------------- */

static void test_regression_metrics_and_cost(void **state)
{
	static const double tx[] = {1, 2, 3, 4}, ty[] = {0, 1, 2, 5};
	static const double x[] = {2.5, 0, 2, 1, 4}, y[] = {3, -1, 2, 0, 5};
	col tc[] = {{"x", DS_FLOAT64, tx, NULL}, {"y", DS_FLOAT64, ty, NULL}};
	col c[] = {{"x", DS_FLOAT64, x, NULL}, {"y", DS_FLOAT64, y, NULL}};
	ds_table *train = table(tc, 2, 4), *t = table(c, 2, 5);
	ml_model *m = echo_model(train, "y", 0, true);
	json_t *cost = json_pack("{s:f, s:f}", "over", 2.0, "under", 7.0), *rep;
	const json_t *cs;
	ml_eval_opts o;

	(void)state;
	ml_eval_opts_init(&o);
	o.importance = false;
	o.cost = cost;
	o.value = 10;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	/* Errors y - p: 0.5, -1, 0, -1, 1. */
	NEAR(metric(rep, "metrics", "mae"), 0.7);
	NEAR(metric(rep, "metrics", "rmse"), sqrt(0.65));
	/* y = 0 left out: (1/6 + 1 + 0 + 1/5) / 4. */
	NEAR(metric(rep, "metrics", "mape"), (1.0 / 6 + 1 + 0.2) / 4);
	NEAR(metric(rep, "metrics", "wape"), 3.5 / 11);
	NEAR(metric(rep, "metrics", "r2"), 1 - 3.25 / 22.8);
	/* Cost per row: under 0.5 x 7, over 1 x 2, 0, over 1 x 2, under 1 x 7. */
	NEAR(metric(rep, "metrics", "cost"), 14.5 / 5);
	/* The baseline: the training mean 2. */
	NEAR(metric(rep, "baseline", "mae"), 1.8);
	NEAR(metric(rep, "baseline", "rmse"), sqrt(4.6));
	NEAR(metric(rep, "baseline", "cost"), 38.0 / 5);
	cs = json_object_get(rep, "cost");
	NEAR(json_real_value(json_object_get(json_object_get(cs, "model"), "total")), 14.5);
	/* Doing nothing predicts 0: 21 + 2 + 14 + 0 + 35. */
	NEAR(json_real_value(json_object_get(json_object_get(cs, "nothing"), "per_row")), 72.0 / 5);
	NEAR(json_real_value(json_object_get(json_object_get(cs, "saving_vs_baseline"), "per_row")),
	     38.0 / 5 - 14.5 / 5);
	NEAR(json_real_value(json_object_get(json_object_get(cs, "saving_vs_nothing"), "total")),
	     72 - 14.5);
	/* Value 10 a row, cost 2.9: net 7.1, ROI 7.1 / 2.9. */
	NEAR(json_real_value(json_object_get(json_object_get(json_object_get(cs, "value"), "model"),
					     "roi")),
	     7.1 / 2.9);
	assert_non_null(json_object_get(json_object_get(rep, "residuals"), "points"));
	json_decref(rep);
	/* The main metric mae: the baseline is the training median 1.5. */
	o.metric = "mae";
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "baseline_info"),
								"strategy")),
			    "median");
	NEAR(metric(rep, "baseline", "mae"), (1.5 + 2.5 + 0.5 + 1.5 + 3.5) / 5);
	json_decref(rep);
	json_decref(cost);
	ml_model_free(m);
	ds_close(train);
	ds_close(t);
}

/* ---- binary cost, threshold, ROI -------------------------------------------------------- */

static void test_binary_cost_and_threshold(void **state)
{
	ml_model *m = binary_model(true);
	ds_table *t = binary_test();
	json_t *cost = json_pack("{s:i, s:i}", "false_positive", 1, "false_negative", 5), *rep;
	json_t *matrix = json_pack("[[i, i], [i, i]]", 0, 1, 5, 0);
	json_t *by_label = json_pack("{s:{s:i}, s:{s:i}}", "0", "1", 1, "1", "0", 5);
	json_t *specs[] = {cost, matrix, by_label};
	ml_eval_opts o;

	(void)state;
	ml_eval_opts_init(&o);
	o.importance = false;
	o.value = 10;
	for (size_t s = 0; s < 3; s++) {
		const json_t *c, *th;
		o.cost = specs[s];
		if (ml_evaluate(m, NULL, t, &o, &rep))
			fail_msg("%s", sl_errmsg());
		c = json_object_get(rep, "cost");
		/* At 0.5: one false positive (1) and one false negative (5). */
		NEAR(metric(rep, "metrics", "cost"), 1);
		/* Baseline and doing nothing: all negative, 3 x 5. */
		NEAR(metric(rep, "baseline", "cost"), 2.5);
		NEAR(json_real_value(json_object_get(json_object_get(c, "nothing"), "total")), 15);
		NEAR(json_real_value(json_object_get(json_object_get(c, "saving_vs_baseline"),
						     "per_row")),
		     1.5);
		/* Sweep: never 15, >= 0.9 10, >= 0.6 6, >= 0.4 1, >= 0.3 2, >= 0.1 3. */
		th = json_object_get(c, "threshold");
		NEAR(json_real_value(json_object_get(th, "threshold")), 0.4);
		NEAR(json_real_value(json_object_get(th, "cost_per_row")), 1.0 / 6);
		NEAR(json_real_value(json_object_get(th, "saving_per_row")), 1 - 1.0 / 6);
		/* Decision theory: c_fp / (c_fp + c_fn). */
		NEAR(json_real_value(json_object_get(th, "bayes_threshold")), 1.0 / 6);
		/* Value: 4 of 6 right at 10 each, cost 1: net 17/3 per row. */
		NEAR(json_real_value(json_object_get(json_object_get(json_object_get(c, "value"),
								     "model"),
						     "roi")),
		     (40.0 / 6 - 1) / 1);
		assert_non_null(strstr(json_string_value(json_object_get(rep, "verdict_hint")),
				       "saves 1.5 per row"));
		json_decref(rep);
	}
	/* Bad specs are refused with the shape and the classes. */
	o.cost = json_pack("[[i, i]]", 0, 1);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("a 2 x 2 matrix is needed");
	json_decref((json_t *)o.cost);
	o.cost = json_pack("{s:{s:i}}", "spam", "ham", 1);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("'spam' is not a class of the model (its classes: 0, 1)");
	json_decref((json_t *)o.cost);
	o.cost = json_pack("{s:i}", "over", 1);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("over and under apply to numbers");
	json_decref((json_t *)o.cost);
	json_decref(cost);
	json_decref(matrix);
	json_decref(by_label);
	ml_model_free(m);
	ds_close(t);
}

/* ---- fairness ----------------------------------------------------------------------------- */

static void test_fairness_by_hand(void **state)
{
	ml_model *m = binary_model(true);
	ds_table *t = binary_test();
	const char *sens[] = {"g"};
	const json_t *f, *col, *ga, *gb;
	ml_eval_opts o;
	json_t *rep;

	(void)state;
	ml_eval_opts_init(&o);
	o.importance = false;
	o.sensitive = sens;
	o.n_sensitive = 1;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	f = json_object_get(rep, "fairness");
	col = json_array_get(json_object_get(f, "columns"), 0);
	ga = json_array_get(json_object_get(col, "groups"), 0);
	gb = json_array_get(json_object_get(col, "groups"), 1);
	/* Group a: y 1 1 0, decided 1 1 1: selection 1, TPR 1, FPR 1, AUC
	 * (1 + 1/2) / 2. Group b: y 1 0 0, decided 0 0 0: 0, 0, 0, AUC 1. */
	assert_string_equal(json_string_value(json_object_get(ga, "group")), "a");
	assert_int_equal(json_integer_value(json_object_get(ga, "count")), 3);
	NEAR(json_real_value(json_object_get(ga, "selection_rate")), 1);
	NEAR(json_real_value(json_object_get(ga, "tpr")), 1);
	NEAR(json_real_value(json_object_get(ga, "fpr")), 1);
	NEAR(json_real_value(json_object_get(ga, "roc_auc")), 0.75);
	NEAR(json_real_value(json_object_get(gb, "selection_rate")), 0);
	NEAR(json_real_value(json_object_get(gb, "roc_auc")), 1);
	NEAR(json_real_value(json_object_get(f, "demographic_parity_difference")), 1);
	NEAR(json_real_value(json_object_get(f, "demographic_parity_ratio")), 0);
	NEAR(json_real_value(json_object_get(f, "equal_opportunity_difference")), 1);
	NEAR(json_real_value(json_object_get(f, "equalized_odds_difference")), 1);
	NEAR(json_real_value(json_object_get(f, "metric_difference")), 0.25);
	json_decref(rep);
	/* At threshold 0.35: a decides 1 1 1; b decides 1 0 0. Selection 1
	 * and 1/3; TPR 1 and 1; FPR 1 and 0. */
	o.threshold = 0.35;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	f = json_object_get(rep, "fairness");
	NEAR(json_real_value(json_object_get(f, "demographic_parity_difference")), 2.0 / 3);
	NEAR(json_real_value(json_object_get(f, "demographic_parity_ratio")), 1.0 / 3);
	NEAR(json_real_value(json_object_get(f, "equal_opportunity_difference")), 0);
	NEAR(json_real_value(json_object_get(f, "equalized_odds_difference")), 1);
	json_decref(rep);
	sens[0] = "gender";
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("sensitive: column 'gender' is not in the test data");
	ml_model_free(m);
	ds_close(t);
}

/* ---- anomaly ------------------------------------------------------------------------------- */

static void test_anomaly_metrics(void **state)
{
	static const double ts[] = {0.1, 0.9, 0.5}, tf[] = {0, 1, 0};
	static const double s[] = {0.9, 0.8, 0.8, 0.5, 0.3, 0.2}, fl[] = {1, 1, 1, 0, 0, 0};
	static const char *const lab[] = {"bad", "ok", "bad", "ok", "ok", "bad"};
	col tc[] = {{"s", DS_FLOAT64, ts, NULL}, {"f", DS_FLOAT64, tf, NULL}};
	col c[] = {{"s", DS_FLOAT64, s, NULL}, {"f", DS_FLOAT64, fl, NULL},
		   {"label", DS_STRING, NULL, lab}};
	ds_table *train = table(tc, 2, 3), *t = table(c, 3, 6);
	ml_model *m = echo_model(train, NULL, ML_ANOMALY, false);
	ml_eval_opts o;
	json_t *rep;

	(void)state;
	ml_eval_opts_init(&o);
	o.importance = false;
	o.target = "label";
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("name the value that marks an anomaly with `positive:`");
	o.positive = "bad";
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	/* k = 3 labelled anomalies; the top 3 hold 2. */
	NEAR(metric(rep, "metrics", "precision_at_k"), 2.0 / 3);
	NEAR(metric(rep, "metrics", "recall_at_k"), 2.0 / 3);
	/* Pairs: 0.9 beats 3, 0.8 ties one and beats 2, 0.2 beats none. */
	NEAR(metric(rep, "metrics", "roc_auc"), 5.5 / 9);
	NEAR(metric(rep, "metrics", "precision"), 2.0 / 3);
	NEAR(metric(rep, "metrics", "anomaly_rate"), 0.5);
	/* The constant baseline ranks nothing: AUC 1/2, precision at k the base rate. */
	NEAR(metric(rep, "baseline", "roc_auc"), 0.5);
	NEAR(metric(rep, "baseline", "precision_at_k"), 0.5);
	json_decref(rep);
	/* k = 2 cuts through the tie at 0.8: 1 + 1/2 hits. */
	o.k = 2;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	NEAR(metric(rep, "metrics", "precision_at_k"), 0.75);
	NEAR(metric(rep, "metrics", "recall_at_k"), 0.5);
	json_decref(rep);
	/* No labels: the scores alone, and a verdict that says why. */
	o.target = NULL;
	o.positive = NULL;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	NEAR(metric(rep, "metrics", "anomaly_rate"), 0.5);
	assert_null(json_object_get(json_object_get(rep, "metrics"), "roc_auc"));
	assert_non_null(strstr(json_string_value(json_object_get(rep, "verdict_hint")), "no labels"));
	json_decref(rep);
	ml_model_free(m);
	ds_close(train);
	ds_close(t);
}

/* Precision at k straight from a ranking: ties share the places left. */
static void test_ranking_ties(void **state)
{
	double y[] = {1, 0, 1, 0, 1}, p[] = {0.5, 0.5, 0.5, 0.5, 0.9};
	ml_ranking r;

	(void)state;
	assert_int_equal(ml_ranking_build(y, p, NULL, 5, &r), 0);
	assert_int_equal(r.n, 2);
	NEAR(ml_ranking_hits_at(&r, 1), 1);
	/* 2 places among 4 tied rows holding 2 positives: 1 expected hit. */
	NEAR(ml_ranking_hits_at(&r, 3), 2);
	NEAR(ml_ranking_hits_at(&r, 5), 3);
	/* AP: 1/3 at precision 1, then 2/3 at precision 3/5. */
	NEAR(ml_ranking_average_precision(&r), 1.0 / 3 + 2.0 / 3 * 3 / 5);
	ml_ranking_free(&r);
	NEAR(ml_metric_wape(y, p, NULL, 5), (0.5 + 0.5 + 0.5 + 0.5 + 0.1) / 3);
}

/* ---- importance ------------------------------------------------------------------------------- */

/* 400 rows: p decides the label (P = p), noise is unrelated. */
static void importance_data(ds_table **train, ds_table **test)
{
	double p[400], noise[400], y[400];
	col c[] = {{"noise", DS_FLOAT64, noise, NULL},
		   {"p", DS_FLOAT64, p, NULL},
		   {"y", DS_INT64, y, NULL}};
	sl__rng r;

	sl__rng_seed(&r, 11);
	for (size_t i = 0; i < 400; i++) {
		p[i] = sl__rng_uniform(&r);
		noise[i] = sl__rng_normal(&r);
		y[i] = sl__rng_uniform(&r) < p[i];
	}
	*train = table(c, 3, 200);
	*test = table(c, 3, 400);
}

/* The echo model reads x0: reorder so that p is input 0 and noise input 1. */
static void test_permutation_importance(void **state)
{
	ds_table *train, *t;
	ml_model *m;
	ml_eval_opts o;
	json_t *a, *b;
	const json_t *fa;

	(void)state;
	importance_data(&train, &t);
	m = echo_model(train, "y", 0, true);
	/* Signature order is the table's: noise, p. Swap them so x0 is p. */
	{
		ml_feature tmp = m->sig.features[0];
		m->sig.features[0] = m->sig.features[1];
		m->sig.features[1] = tmp;
	}
	ml_eval_opts_init(&o);
	o.repeats = 4;
	o.seed = 3;
	o.threads = 1;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &a), 0);
	o.threads = 2;
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &b), 0);
	/* The same numbers with one thread or two. */
	assert_true(json_equal(json_object_get(a, "importance"), json_object_get(b, "importance")));
	fa = json_object_get(json_object_get(a, "importance"), "features");
	assert_string_equal(json_string_value(json_object_get(json_array_get(fa, 0), "name")), "p");
	assert_true(json_real_value(json_object_get(json_array_get(fa, 0), "mean")) > 0.1);
	/* The model never reads noise: shuffling it changes nothing at all. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(fa, 1), "name")),
			    "noise");
	assert_true(json_real_value(json_object_get(json_array_get(fa, 1), "mean")) == 0);
	assert_true(json_real_value(json_object_get(json_array_get(fa, 1), "std")) == 0);
	json_decref(a);
	json_decref(b);
	ml_model_free(m);
	ds_close(train);
	ds_close(t);
}

/* ---- champion ----------------------------------------------------------------------------------- */

static void test_champion_deltas(void **state)
{
	static const double q[] = {0.4, 0.6, 0.3, 0.9, 0.1, 0.2};
	ml_model *m = binary_model(true), *champ;
	ds_table *t, *train;
	ml_eval_opts o;
	json_t *rep;
	col c[] = {{"q", DS_FLOAT64, q, NULL},
		   {"p", DS_FLOAT64, bin_p, NULL},
		   {"y", DS_INT64, bin_y, NULL}};
	col tc[] = {{"q", DS_FLOAT64, bin_p, NULL}, {"y", DS_INT64, bin_y, NULL}};

	(void)state;
	t = table(c, 3, 6);
	train = table(tc, 2, 6);
	champ = echo_model(train, "y", 0, true); /* reads q */
	ml_eval_opts_init(&o);
	o.importance = false;
	assert_int_equal(ml_evaluate(m, champ, t, &o, &rep), 0);
	/* The champion decides 0 1 0 1 0 0 against 1 1 0 1 0 0: accuracy 5/6;
	 * AUC: 0.4 beats 0.3 0.2 0.1 ... pos {0.4, 0.6, 0.9}, neg {0.3, 0.1,
	 * 0.2}: every pair, 1. */
	NEAR(metric(rep, "champion", "accuracy"), 5.0 / 6);
	NEAR(metric(rep, "champion", "roc_auc"), 1);
	NEAR(metric(rep, "champion_delta", "accuracy"), 4.0 / 6 - 5.0 / 6);
	NEAR(metric(rep, "champion_delta", "roc_auc"), 7.5 / 9 - 1);
	assert_non_null(strstr(json_string_value(json_object_get(rep, "verdict_hint")),
			       "worse than the champion"));
	json_decref(rep);
	ml_model_free(champ);
	ds_close(train);
	/* A champion of another task is refused. */
	{
		static const double tx[] = {1, 2, 3}, ty[] = {1.5, 2.5, 9};
		col rc_[] = {{"p", DS_FLOAT64, tx, NULL}, {"y", DS_FLOAT64, ty, NULL}};
		ds_table *rt = table(rc_, 2, 3);
		champ = echo_model(rt, "y", 0, true);
		assert_int_equal(ml_evaluate(m, champ, t, &o, &rep), SL_EINVAL);
		assert_msg_has("champion: it is a regression model and the model is binary");
		ml_model_free(champ);
		ds_close(rt);
	}
	ml_model_free(m);
	ds_close(t);
}

/* ---- refusals ----------------------------------------------------------------------------------- */

static void test_refusals(void **state)
{
	static const double p_nan[] = {0.9, NAN, 0.6, 0.4, 0.3, 0.1};
	static const double p_inf[] = {0.9, 0.6, INFINITY, 0.4, 0.3, 0.1};
	static const char *const s[] = {"x", "y", "x", "y", "x", "y"};
	ml_model *m = binary_model(true);
	ml_eval_opts o;
	json_t *rep = NULL;
	ds_table *t;

	(void)state;
	ml_eval_opts_init(&o);
	o.importance = false;
	/* An input of the model is missing. */
	t = table((col[]){{"q", DS_FLOAT64, bin_p, NULL}, {"y", DS_INT64, bin_y, NULL}}, 2, 6);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("column 'p', an input of the model, is missing");
	assert_msg_has("same wrangle steps");
	assert_null(rep);
	ds_close(t);
	/* A string where the model read numbers. */
	t = table((col[]){{"p", DS_STRING, NULL, s}, {"y", DS_INT64, bin_y, NULL}}, 2, 6);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("column 'p' is string here but the model was trained on float64");
	ds_close(t);
	/* No target column. */
	t = table((col[]){{"p", DS_FLOAT64, bin_p, NULL}}, 1, 6);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("the target column 'y' is not in the test data (its columns: p)");
	assert_msg_has("`target:`");
	ds_close(t);
	/* NaN and infinity in an input. */
	t = table((col[]){{"p", DS_FLOAT64, p_nan, NULL}, {"y", DS_INT64, bin_y, NULL}}, 2, 6);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("column 'p' is NaN in row 2");
	assert_msg_has("impute");
	ds_close(t);
	t = table((col[]){{"p", DS_FLOAT64, p_inf, NULL}, {"y", DS_INT64, bin_y, NULL}}, 2, 6);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("column 'p' is infinite in row 3");
	ds_close(t);
	/* A missing truth. */
	t = table((col[]){{"p", DS_FLOAT64, bin_p, NULL}, {"y", DS_STRING, NULL,
							   (const char *[]){"1", "0", NULL, "1",
									    "0", "0"}}},
		  2, 6);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("target 'y' is missing in row 3");
	ds_close(t);
	/* A class the model never saw. */
	t = table((col[]){{"p", DS_FLOAT64, bin_p, NULL},
			  {"y", DS_STRING, NULL, (const char *[]){"1", "0", "7", "1", "0", "0"}}},
		  2, 6);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("'7' in row 3, a class the model never saw");
	ds_close(t);
	/* A metric of another task; a positive class that is not one. */
	t = binary_test();
	o.metric = "rmse";
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("metric 'rmse' does not apply to this binary model (use one of: accuracy");
	o.metric = "rmse";
	o.metric_source = "canvas"; /* the canvas's choice falls back, with a note */
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	{
		char *notes = json_dumps(json_object_get(rep, "notes"), 0);
		assert_non_null(strstr(notes, "the canvas's metric 'rmse' does not apply"));
		free(notes);
	}
	json_decref(rep);
	o.metric = NULL;
	o.positive = "yes";
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), SL_EINVAL);
	assert_msg_has("positive: 'yes' is not a class of the model (its classes: 0, 1)");
	ds_close(t);
	ml_model_free(m);
}

/* ---- forecasts ----------------------------------------------------------------------------------- */

/* A forecast model from the train.forecast step (the family's own path). */
static ml_model *forecast_model(const char *dir, const ds_table *train, const char *method)
{
	char *data = tu_path(dir, "fc-train.ds"), *model = tu_path(dir, "fc.slm");
	const char *in_names[] = {"train"}, *in_paths[] = {data};
	const char *out_names[] = {"model"}, *out_paths[] = {model};
	json_t *with = json_pack("{s:s, s:s, s:i, s:i, s:s}", "target", "y", "time", "t",
				 "horizon", 3, "season", 4, "method", method);
	tu_run r = {0};
	ml_model *m;

	assert_int_equal(ds_table_write(train, data), 0);
	if (tu_run_step(&r, "train.forecast", dir, with, in_names, in_paths, 1, out_names, out_paths,
			1))
		fail_msg("%s", sl_errmsg());
	assert_int_equal(ml_model_load(model, &m), 0);
	json_decref(with);
	tu_run_free(&r);
	free(data);
	free(model);
	return m;
}

/*
 * One series with a season of 4: 10 12 14 16, 11 13 15 17, 12 14 16 18.
 * Naive forecasts 18 for t = 13, 14, 15; seasonal naive (the baseline)
 * 12, 14, 16. Actuals 13, 14, 19.
 */
static void test_forecast(void **state)
{
	static const double t_tr[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	static const double y_tr[] = {10, 12, 14, 16, 11, 13, 15, 17, 12, 14, 16, 18};
	static const double t_te[] = {13, 14, 15, 40}, y_te[] = {13, 14, 19, 1};
	const char *dir = tu_tmpdir();
	ds_table *train = table((col[]){{"t", DS_INT64, t_tr, NULL}, {"y", DS_FLOAT64, y_tr, NULL}},
				2, 12);
	ds_table *test = table((col[]){{"t", DS_INT64, t_te, NULL}, {"y", DS_FLOAT64, y_te, NULL}},
			       2, 4);
	ml_model *m = forecast_model(dir, train, "naive");
	ml_model *champ = forecast_model(dir, train, "seasonal_naive");
	json_t *cost = json_pack("{s:i, s:i}", "over", 1, "under", 2), *rep, *own;
	const json_t *c;
	ml_eval_opts o;
	char *html;

	(void)state;
	ml_eval_opts_init(&o);
	o.cost = cost;
	if (ml_evaluate(m, champ, test, &o, &rep))
		fail_msg("%s", sl_errmsg());
	/* The family's numbers, unchanged; the row beyond the horizon is counted, not scored. */
	assert_int_equal(ml_forecast_evaluate(m, test, NULL, &own), 0);
	NEAR(metric(rep, "metrics", "mase"),
	     json_real_value(json_object_get(json_object_get(own, "metrics"), "mase")));
	NEAR(metric(rep, "metrics", "rows"), 3);
	/* WAPE by hand: |13-18| + |14-18| + |19-18| over 46; the baseline's 1 + 0 + 3. */
	NEAR(metric(rep, "metrics", "wape"), 10.0 / 46);
	NEAR(metric(rep, "baseline", "wape"), 4.0 / 46);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "main_metric"),
								"name")),
			    "mase");
	/* Cost: over 5 and 4, under 1 x 2; the baseline under 1 and 3, x 2. */
	NEAR(metric(rep, "metrics", "cost"), 11.0 / 3);
	NEAR(metric(rep, "baseline", "cost"), 8.0 / 3);
	c = json_object_get(rep, "cost");
	NEAR(json_real_value(json_object_get(json_object_get(c, "nothing"), "total")), 92);
	/* The champion is seasonal naive itself: the baseline's numbers. */
	NEAR(metric(rep, "champion", "wape"), 4.0 / 46);
	NEAR(metric(rep, "champion_delta", "wape"), 6.0 / 46);
	/* Naive loses to the seasonal baseline here, and the verdict says so. */
	assert_true(json_is_false(json_object_get(json_object_get(rep, "assessment"),
						  "worth_deploying")));
	assert_non_null(strstr(json_string_value(json_object_get(rep, "verdict_hint")),
			       "the baseline is as good as the model or better on mase"));
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(rep, "forecast"), "unmatched"),
				 "beyond_horizon")),
			 1);
	assert_int_equal(ml_report_html(rep, &html), 0);
	assert_non_null(strstr(html, "<polygon"));
	sl__free(html);
	json_decref(rep);
	json_decref(own);
	/* Under fault injection: an error, or the same report. */
	assert_int_equal(ml_evaluate(m, champ, test, &o, &own), 0);
	{
		tu_oom oo = {0};
		for (long k = 0; k < 100000 && !oo.done; k++) {
			tu_oom_begin(&oo, k);
			int rc = ml_evaluate(m, champ, test, &o, &rep);
			tu_oom_end(&oo, rc);
			if (rc == 0) {
				assert_true(json_equal(rep, own));
				json_decref(rep);
			} else {
				assert_int_equal(rc, SL_ENOMEM);
			}
		}
		tu_oom_check(&oo, 20);
	}
	json_decref(own);
	/* No row after the training data: refused with the reasons. */
	o.cost = NULL;
	assert_int_equal(ml_evaluate(m, NULL, train, &o, &rep), SL_EINVAL);
	assert_msg_has("no row matched a forecast (0 of an unknown series, 12 at or before the end "
		       "of training");
	json_decref(cost);
	ml_model_free(m);
	ml_model_free(champ);
	ds_close(train);
	ds_close(test);
	tu_rmdir(dir);
}

/* The step's `metric` choices are exactly the metrics that can be main. */
static void test_metric_choices(void **state)
{
	char names[] = ML_EVAL_METRICS;
	size_t listed = 0, main_ok = 0;

	(void)state;
	for (char *tok = strtok(names, " "); tok; tok = strtok(NULL, " ")) {
		int m = ev_metric_find(tok);
		if (m < 0 || ev_metrics[m].direction == 0)
			fail_msg("'%s' cannot be a main metric", tok);
		listed++;
	}
	for (int m = 0; m < EV_N_METRICS; m++)
		main_ok += ev_metrics[m].direction != 0 && !(ev_metrics[m].tasks & EV_T_GROUP);
	assert_int_equal(listed, main_ok);
}

/* ---- allocation failures -------------------------------------------------------------------- */

/* Fail the Nth allocation for every N: an error, never a crash, a leak
 * (the sanitizer build) or a report with a number quietly missing. */
static void test_evaluate_under_oom(void **state)
{
	ml_model *m = binary_model(true), *champ = binary_model(true);
	ds_table *t = binary_test();
	const char *sens[] = {"g"};
	json_t *ref, *rep;
	ml_eval_opts o;
	tu_oom oo = {0};
	long n;

	(void)state;
	ml_eval_opts_init(&o);
	o.sensitive = sens;
	o.n_sensitive = 1;
	o.repeats = 2;
	o.threads = 1;
	o.value = 3;
	o.cost = json_pack("{s:i, s:i}", "false_positive", 1, "false_negative", 5);
	assert_int_equal(ml_evaluate(m, champ, t, &o, &ref), 0);
	for (n = 0; n < 100000 && !oo.done; n++) {
		tu_oom_begin(&oo, n);
		int rc = ml_evaluate(m, champ, t, &o, &rep);
		tu_oom_end(&oo, rc);
		if (rc == 0) {
			assert_true(json_equal(rep, ref));
			json_decref(rep);
		} else {
			assert_int_equal(rc, SL_ENOMEM);
		}
	}
	tu_oom_check(&oo, 20);
	json_decref(ref);
	json_decref((json_t *)o.cost);
	ml_model_free(m);
	ml_model_free(champ);
	ds_close(t);
}

/* ---- the HTML page --------------------------------------------------------------------------------- */

static void test_html(void **state)
{
	static const char *const evil[] = {"<script>alert(1)</script>", "b&\"'",
					   "<script>alert(1)</script>", "b&\"'", "b&\"'", "b&\"'"};
	ml_model *m = binary_model(true);
	ds_table *t;
	const char *sens[] = {"g"};
	json_t *rep, *fc;
	ml_eval_opts o;
	char *html;

	(void)state;
	t = table((col[]){{"p", DS_FLOAT64, bin_p, NULL},
			  {"y", DS_INT64, bin_y, NULL},
			  {"g", DS_STRING, NULL, evil}},
		  3, 6);
	ml_eval_opts_init(&o);
	o.sensitive = sens;
	o.n_sensitive = 1;
	o.repeats = 2;
	o.cost = json_pack("{s:i, s:i}", "false_positive", 1, "false_negative", 5);
	assert_int_equal(ml_evaluate(m, NULL, t, &o, &rep), 0);
	/* A forecast section as the forecast family writes it, to draw too. */
	fc = json_pack("{s:[{s:s, s:[{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f}, "
		       "{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f}]}]}",
		       "series", "key", "<store>", "points", "time", "2024-01", "actual", 10.0,
		       "forecast", 11.0, "lo80", 9.0, "hi80", 13.0, "lo95", 8.0, "hi95", 14.0,
		       "baseline", 12.0, "time", "2024-02", "actual", 12.0, "forecast", 12.5, "lo80",
		       10.0, "hi80", 15.0, "lo95", 9.0, "hi95", 16.0, "baseline", 10.0);
	json_object_set_new(rep, "forecast", fc);
	assert_int_equal(ml_report_html(rep, &html), 0);
	/* Charts: ROC, PR, calibration, confusion, importance, fairness, forecast bands. */
	assert_true(strstr(html, "ROC curve") && strstr(html, "Precision-recall") &&
		    strstr(html, "Calibration") && strstr(html, "Confusion matrix") &&
		    strstr(html, "Permutation importance") && strstr(html, "Fairness") &&
		    strstr(html, "<polygon") && strstr(html, "Business cost"));
	/* Self-contained: no script, no URL; every user string escaped. */
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "http"));
	assert_null(strstr(html, "src="));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "b&amp;&quot;&#39;"));
	assert_non_null(strstr(html, "Forecast: &lt;store&gt;"));
	sl__free(html);
	assert_int_equal(ml_report_html(json_object_get(rep, "metrics"), &html), SL_EINVAL);
	json_decref(rep);
	json_decref((json_t *)o.cost);
	ml_model_free(m);
	ds_close(t);
}

/* ---- the step ------------------------------------------------------------------------------------- */

/* 200 normal rows and 5 planted outliers, labelled "yes" / "no". */
static ds_table *labelled_cloud(void)
{
	double a[205], b[205];
	const char *lab[205], *grp[205];
	sl__rng r;

	sl__rng_seed(&r, 5);
	for (size_t i = 0; i < 205; i++) {
		bool out = i >= 200;
		a[i] = out ? 8 + (double)i - 200 : sl__rng_normal(&r);
		b[i] = out ? -7 : sl__rng_normal(&r);
		lab[i] = out ? "yes" : "no";
		grp[i] = i % 2 ? "north" : "south";
	}
	return table((col[]){{"a", DS_FLOAT64, a, NULL},
			     {"b", DS_FLOAT64, b, NULL},
			     {"is_odd", DS_STRING, NULL, lab},
			     {"region", DS_STRING, NULL, grp}},
		     4, 205);
}

static void test_step_with_canvas(void **state)
{
	const char *dir = tu_tmpdir();
	char *proj_state = tu_path(dir, ".sluice"), *canvas = tu_path(dir, "canvas.yaml");
	char *data = tu_path(dir, "test.ds"), *model = tu_path(dir, "m.slm");
	char *report = tu_path(dir, "report.json"), *html = tu_path(dir, "report.html");
	const char *in_names[] = {"model", "test"}, *in_paths[] = {model, data};
	const char *out_names[] = {"report"}, *out_paths[] = {report};
	ds_table *t = labelled_cloud();
	ml_frame fr;
	ml_model *m;
	json_t *with, *rep;
	tu_run r = {0};
	struct stat st;

	(void)state;
	assert_int_equal(mkdir(proj_state, 0755), 0);
	tu_write(canvas, "decisions:\n  cost: {false_positive: 1, false_negative: 20}\n"
			 "  value: 3\noffline_evaluation:\n  metric: pr_auc\n  min: 0.5\n");
	assert_int_equal(ds_table_write(t, data), 0);
	assert_int_equal(ml_frame_build(t,
					&(ml_frame_opts){.task = ML_ANOMALY,
							 .features = (const char *[]){"a", "b"},
							 .n_features = 2},
					&fr),
			 0);
	assert_int_equal(ml_iforest_fit(&fr,
					&(ml_iforest_opts){.trees = 50, .sample_size = 128,
							   .seed = 1, .contamination = 0.03},
					&m),
			 0);
	assert_int_equal(ml_model_save(m, NULL, model), 0);
	ml_model_free(m);
	ml_frame_free(&fr);

	with = json_pack("{s:s, s:s, s:[s], s:i}", "target", "is_odd", "positive", "yes",
			 "sensitive", "region", "repeats", 2);
	if (tu_run_step(&r, "evaluate", dir, with, in_names, in_paths, 2, out_names, out_paths, 1))
		fail_msg("%s\n%s", sl_errmsg(), r.log);
	rep = json_load_file(report, 0, NULL);
	assert_non_null(rep);
	assert_true(ml_report_is(rep));
	/* From the canvas: the main metric, the cost, the value, the minimum. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "main_metric"),
								"source")),
			    "canvas");
	assert_string_equal(json_string_value(json_object_get(json_object_get(rep, "cost"),
								"source")),
			    "canvas");
	assert_non_null(json_object_get(json_object_get(rep, "cost"), "value"));
	assert_true(json_real_value(json_object_get(json_object_get(rep, "assessment"), "minimum")) ==
		    0.5);
	/* The planted outliers are found; recorded as the step's metrics. */
	assert_true(metric(rep, "metrics", "roc_auc") > 0.95);
	assert_true(json_real_value(json_object_get(r.metrics, "roc_auc")) ==
		    metric(rep, "metrics", "roc_auc"));
	assert_true(json_is_number(json_object_get(r.metrics, "baseline_pr_auc")));
	assert_true(json_is_number(json_object_get(r.metrics, "fairness_demographic_parity_difference")));
	assert_true(json_is_true(json_object_get(json_object_get(r.meta, "report"),
						 "worth_deploying")));
	/* Exported as HTML through the artifact export path. */
	assert_int_equal(api_export_content(report, "html", html), 0);
	assert_int_equal(stat(html, &st), 0);
	assert_true(st.st_size > 2000);
	assert_int_equal(api_export_content(data, "html", html), SL_EINVAL);
	assert_msg_has("--format html applies to evaluation reports");
	json_decref(rep);
	json_decref(with);
	unlink(report);

	/* A bad test set: the step fails naming the column, and writes nothing. */
	with = json_pack("{s:s, s:s, s:s}", "target", "is_odd", "positive", "yes", "metric",
			 "accuracy");
	assert_int_not_equal(tu_run_step(&r, "evaluate", dir, with, in_names, in_paths, 2, out_names,
					 out_paths, 1),
			     0);
	assert_msg_has("metric 'accuracy' does not apply to this anomaly model");
	assert_int_not_equal(stat(report, &st), 0);
	json_decref(with);
	tu_write(canvas, "decisions:\n  value: lots\n");
	with = json_pack("{s:s, s:s}", "target", "is_odd", "positive", "yes");
	assert_int_not_equal(tu_run_step(&r, "evaluate", dir, with, in_names, in_paths, 2, out_names,
					 out_paths, 1),
			     0);
	assert_msg_has("canvas.yaml:2:10: decisions.value must be a number");
	json_decref(with);
	tu_write(canvas, "decisions: [unclosed\n");
	with = json_pack("{s:s, s:s}", "target", "is_odd", "positive", "yes");
	assert_int_not_equal(tu_run_step(&r, "evaluate", dir, with, in_names, in_paths, 2, out_names,
					 out_paths, 1),
			     0);
	assert_msg_has("canvas.yaml:");
	assert_int_not_equal(stat(report, &st), 0);
	json_decref(with);

	tu_run_free(&r);
	ds_close(t);
	free(proj_state);
	free(canvas);
	free(data);
	free(model);
	free(report);
	free(html);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binary_metrics),
		cmocka_unit_test(test_baseline_fallback),
		cmocka_unit_test(test_baseline_summary),
		cmocka_unit_test(test_multiclass_metrics),
		cmocka_unit_test(test_regression_metrics_and_cost),
		cmocka_unit_test(test_binary_cost_and_threshold),
		cmocka_unit_test(test_fairness_by_hand),
		cmocka_unit_test(test_anomaly_metrics),
		cmocka_unit_test(test_ranking_ties),
		cmocka_unit_test(test_permutation_importance),
		cmocka_unit_test(test_champion_deltas),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_forecast),
		cmocka_unit_test(test_metric_choices),
		cmocka_unit_test(test_evaluate_under_oom),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_step_with_canvas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
