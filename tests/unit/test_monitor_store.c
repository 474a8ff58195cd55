/*
 * Live monitoring's records in the metadata store (store_monitor.c and
 * live.h's mon_record / mon_history / mon_series), on SQLite and, in the
 * suite's PostgreSQL variant, on PostgreSQL: windows numbered per model
 * from 1, a report's raw numbers as series (NaN and null as NULL, read
 * back as null), the newest N windows oldest first, and bad arguments
 * refused before anything is written.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "monitor/live.h"
#include "store/store.h"
#include "testutil.h"

typedef struct fixture {
	char *dir, *target;
	store *st;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	f->dir = strdup(tu_tmpdir());
	f->target = tu_store_target(f->dir);
	if (store_open(f->target, &f->st))
		fail_msg("store_open: %s", sl_errmsg());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	store_close(f->st);
	tu_store_drop(f->target);
	tu_rmdir(f->dir);
	free(f->dir);
	free(f->target);
	free(f);
	return 0;
}

/* A report as mon_report writes it, with statistic s for feature "x". */
static json_t *report(const char *model, double s, bool drift)
{
	json_t *r = json_pack("{s:s, s:i, s:{s:i, s:i, s:s, s:s, s:i, s:f, s:n}, s:b, s:f,"
			      " s:[{s:s, s:s, s:f, s:n, s:f, s:b, s:f}],"
			      " s:{s:s, s:f, s:f, s:b, s:f}, s:{s:i, s:f}, s:{s:{s:f, s:f, s:f}}}",
			      "model", model, "version", 2, "window", "requests", 1000, "rows", 1000,
			      "from", "2026-11-30T10:00:00Z", "to", "2026-11-30T11:00:00Z", "errors", 3,
			      "latency_p50_us", 40.0, "latency_p99_us", "dataset_drift", drift,
			      "drift_share", drift ? 1.0 : 0.0, "features", "name", "x", "test",
			      "wasserstein", "statistic", s, "p_value", "threshold", 0.1, "drift", drift,
			      "psi", s / 2, "prediction_drift", "name", "score", "statistic", 0.01,
			      "p_value", 0.5, "drift", 0, "psi", 0.0, "live", "labelled", 10, "accuracy",
			      0.9, "estimated", "accuracy", "value", 0.88, "lower", 0.85, "upper", 0.91);
	assert_non_null(r);
	return r;
}

static void test_record_and_read(void **state)
{
	fixture *f = *state;
	mon_env env = {.st = f->st};
	json_t *hist, *ser, *w, *r;
	int64_t seq;

	for (int i = 0; i < 3; i++) {
		r = report("spam", 0.05 * (i + 1), i == 2);
		assert_int_equal(mon_record(&env, r, &seq), 0);
		assert_int_equal(seq, i + 1);
		json_decref(r);
	}
	r = report("other", 0.5, true);
	assert_int_equal(mon_record(&env, r, &seq), 0);
	assert_int_equal(seq, 1); /* numbered per model */
	json_decref(r);

	assert_int_equal(mon_history(&env, "spam", 2, &hist), 0);
	assert_int_equal(json_array_size(hist), 2);
	w = json_array_get(hist, 0);
	assert_int_equal(json_integer_value(json_object_get(w, "seq")), 2);
	assert_string_equal(json_string_value(json_object_get(w, "version")), "2");
	assert_int_equal(json_integer_value(json_object_get(w, "requests")), 1000);
	assert_false(json_is_true(json_object_get(w, "dataset_drift")));
	assert_string_equal(json_string_value(json_object_get(w, "from")), "2026-11-30T10:00:00.000Z");
	json_t *vals = json_object_get(w, "values");
	assert_true(fabs(json_real_value(json_object_get(vals, "drift.x.statistic")) - 0.1) < 1e-12);
	assert_true(fabs(json_real_value(json_object_get(vals, "drift.x.psi")) - 0.05) < 1e-12);
	assert_true(json_is_null(json_object_get(vals, "drift.x.p_value")));
	assert_true(json_is_null(json_object_get(vals, "latency_p99_us")));
	assert_true(fabs(json_real_value(json_object_get(vals, "errors")) - 3) < 1e-12);
	assert_true(fabs(json_real_value(json_object_get(vals, "prediction.p_value")) - 0.5) < 1e-12);
	assert_true(fabs(json_real_value(json_object_get(vals, "live.accuracy")) - 0.9) < 1e-12);
	assert_true(fabs(json_real_value(json_object_get(vals, "estimated.accuracy.lower")) - 0.85) <
		    1e-12);
	assert_true(json_is_true(json_object_get(json_array_get(hist, 1), "dataset_drift")));
	json_decref(hist);

	assert_int_equal(mon_series(&env, "spam", "drift.x.statistic", 0, &ser), 0);
	assert_int_equal(json_array_size(ser), 3);
	for (size_t i = 0; i < 3; i++) {
		w = json_array_get(ser, i);
		assert_int_equal(json_integer_value(json_object_get(w, "seq")), (json_int_t)i + 1);
		assert_true(fabs(json_real_value(json_object_get(w, "value")) - 0.05 * (double)(i + 1)) <
			    1e-12);
		assert_non_null(json_string_value(json_object_get(w, "at")));
	}
	json_decref(ser);

	/* Nothing recorded is an empty history, not an error. */
	assert_int_equal(mon_history(&env, "nobody", 0, &hist), 0);
	assert_int_equal(json_array_size(hist), 0);
	json_decref(hist);
}

static void test_bad_arguments(void **state)
{
	fixture *f = *state;
	mon_env env = {.st = f->st}, none = {0};
	json_t *r = report("spam", 0.1, false), *hist;
	const char *names[] = {""};
	double vals[] = {1};
	store_monitor_window w = {.model = "spam", .report = "{}"};

	assert_int_equal(mon_record(&none, r, NULL), SL_EINVAL);
	json_object_del(r, "model");
	assert_int_equal(mon_record(&env, r, NULL), SL_EINVAL);
	assert_int_equal(store_monitor_add(f->st, &w, names, vals, 1, NULL), SL_EINVAL);
	assert_int_equal(mon_history(&env, "spam", 0, &hist), 0);
	assert_int_equal(json_array_size(hist), 0); /* nothing was written */
	json_decref(hist);
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
