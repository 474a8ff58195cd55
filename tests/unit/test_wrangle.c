/*
 * The wrangle step and the fitted transform: every operation on small
 * tables, fit-then-apply equivalence with hand-computed statistics, single
 * row application against table application, determinism and the
 * byte-identical transform output, and messages that name their option.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/dataset.h"
#include "dataset/transform.h"
/* The transform's internal schema type and the data schema are distinct
 * types: a file can include both (this one does, to keep it so). */
#include "dataset/transform_int.h"
#include "monitor/schema.h"
#include "steps/step.h"
#include "testutil.h"

extern const step_def step_wrangle;

/* Table A: training data. Nulls in age, income and city; one NaN income. */
static ds_table *table_a(void)
{
	static const int64_t age[] = {30, 40, -1, 50, 20, 40};
	static const double income[] = {100.0, 200.0, 300.0, -1, NAN, 600.0};
	static const char *city[] = {"paris", "Berlin", "paris", NULL, "rome", "paris"};
	static const char *body[] = {"Free money NOW", "meeting at noon", "free free offer",
				     "", "Noon meeting moved", "win money"};
	static const char *ts[] = {"2024-01-01T00:00:00Z", "2024-01-02T06:00:00Z", "2024-01-03T12:00:00Z",
				   "2024-03-04T18:30:00Z", "2024-12-31T23:59:59Z", "2024-06-15T08:00:00Z"};
	ds_builder *b;
	ds_table *t;

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "age", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "income", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "city", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "body", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "ts", DS_TIMESTAMP, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "flag", DS_BOOL, NULL), 0);
	for (int i = 0; i < 6; i++) {
		int64_t us;
		assert_int_equal(age[i] < 0 ? ds_append_null(b, 0) : ds_append_i64(b, 0, age[i]), 0);
		assert_int_equal(income[i] < 0 ? ds_append_null(b, 1) : ds_append_f64(b, 1, income[i]), 0);
		assert_int_equal(city[i] ? ds_append_str(b, 2, city[i], strlen(city[i])) : ds_append_null(b, 2), 0);
		assert_int_equal(ds_append_str(b, 3, body[i], strlen(body[i])), 0);
		assert_true(ds_parse_timestamp(ts[i], strlen(ts[i]), &us));
		assert_int_equal(ds_append_i64(b, 4, us), 0);
		assert_int_equal(ds_append_bool(b, 5, i % 2 == 0), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

/* Table B: new data with the same schema, unseen categories and nulls. */
static ds_table *table_b(void)
{
	ds_builder *b;
	ds_table *t;
	static const char *city[] = {"rome", "tokyo", NULL, "paris"};
	static const char *body[] = {"free offer", "MONEY money", "unrelated words", "noon"};

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "age", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "income", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "city", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "body", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "ts", DS_TIMESTAMP, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "flag", DS_BOOL, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(i == 1 ? ds_append_null(b, 0) : ds_append_i64(b, 0, 25 + 10 * i), 0);
		assert_int_equal(i == 2 ? ds_append_null(b, 1) : ds_append_f64(b, 1, 50.0 * i), 0);
		assert_int_equal(city[i] ? ds_append_str(b, 2, city[i], strlen(city[i])) : ds_append_null(b, 2), 0);
		assert_int_equal(ds_append_str(b, 3, body[i], strlen(body[i])), 0);
		assert_int_equal(ds_append_i64(b, 4, (int64_t)i * 86400000000LL * 40), 0);
		assert_int_equal(ds_append_bool(b, 5, i == 3), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

typedef struct run_result {
	int rc;
	ds_table *out;
	char *data_path, *tr_path;
	double rows_in, rows_out, cols_out;
	char msg[1024];
} run_result;

/* Runs the step on t with options ops (JSON text) and an optional transform file. */
static run_result run_step(const char *dir, const char *tag, const ds_table *t, const char *ops,
			   const char *transform_path)
{
	run_result r;
	char name[128];
	json_error_t err;
	step_ctx ctx;
	const char *in_names[2] = {"data", "transform"}, *in_paths[2];
	const char *out_names[2] = {"data", "transform"}, *out_paths[2];

	memset(&r, 0, sizeof r);
	snprintf(name, sizeof name, "%s.in", tag);
	in_paths[0] = tu_path(dir, name);
	assert_int_equal(ds_table_write(t, in_paths[0]), 0);
	in_paths[1] = transform_path;
	snprintf(name, sizeof name, "%s.data", tag);
	r.data_path = tu_path(dir, name);
	snprintf(name, sizeof name, "%s.transform", tag);
	r.tr_path = tu_path(dir, name);
	out_paths[0] = r.data_path;
	out_paths[1] = r.tr_path;

	memset(&ctx, 0, sizeof ctx);
	ctx.def = &step_wrangle;
	ctx.step_name = "w";
	ctx.pipeline_dir = dir;
	ctx.workdir = dir;
	ctx.with = json_object();
	if (ops) {
		json_t *o = json_loads(ops, 0, &err);
		if (!o)
			fail_msg("bad test JSON: %s: %s", ops, err.text);
		json_object_set_new(ctx.with, "ops", o);
	}
	ctx.n_inputs = transform_path ? 2 : 1;
	ctx.input_names = in_names;
	ctx.input_paths = in_paths;
	ctx.n_outputs = 2;
	ctx.output_names = out_names;
	ctx.output_paths = out_paths;
	ctx.metrics = json_object();
	ctx.out_meta = json_object();
	ctx.log = NULL;
	r.rc = step_wrangle.run(&ctx);
	snprintf(r.msg, sizeof r.msg, "%s", sl_errmsg());
	if (r.rc == 0) {
		assert_int_equal(ds_open(r.data_path, DS_OPEN_VERIFY, &r.out), 0);
		r.rows_in = json_real_value(json_object_get(ctx.metrics, "rows_in"));
		r.rows_out = json_real_value(json_object_get(ctx.metrics, "rows_out"));
		r.cols_out = json_real_value(json_object_get(ctx.metrics, "columns_out"));
	}
	json_decref(ctx.with);
	json_decref(ctx.metrics);
	json_decref(ctx.out_meta);
	free((void *)in_paths[0]);
	return r;
}

static void result_free(run_result *r)
{
	ds_close(r->out);
	free(r->data_path);
	free(r->tr_path);
}

static run_result ok_run(const char *dir, const char *tag, const ds_table *t, const char *ops)
{
	run_result r = run_step(dir, tag, t, ops, NULL);

	if (r.rc)
		fail_msg("wrangle %s failed: %s", ops, r.msg);
	return r;
}

static size_t col(const ds_table *t, const char *name)
{
	size_t j;

	if (ds_col_find(t, name, &j))
		fail_msg("no column '%s'", name);
	return j;
}

static double f64(const ds_table *t, const char *name, size_t i)
{
	double v;

	if (!ds_get_f64(t, col(t, name), i, &v))
		return NAN;
	return v;
}

static bool is_null(const ds_table *t, const char *name, size_t i)
{
	return !ds_valid(ds_col_validity(t, col(t, name)), i);
}

static const char *str(const ds_table *t, const char *name, size_t i)
{
	const char *s = ds_col_str(t, col(t, name), i, NULL);

	return s ? s : "(null)";
}

static void assert_near(double a, double b)
{
	if (!(fabs(a - b) <= 1e-9 * (1 + fabs(b))))
		fail_msg("expected %.17g, got %.17g", b, a);
}

static void test_select_drop_rename_cast(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a();
	run_result r;

	(void)state;
	r = ok_run(dir, "s", a, "[{\"select\": [\"city\", \"age\"]}, {\"rename\": {\"city\": \"town\"}},"
				 " {\"op\": \"cast\", \"columns\": {\"age\": \"string\"}}]");
	assert_int_equal(ds_ncol(r.out), 2);
	assert_string_equal(ds_col_name(r.out, 0), "town");
	assert_int_equal(ds_col_type(r.out, 1), DS_STRING);
	assert_string_equal(str(r.out, "age", 1), "40");
	assert_true(is_null(r.out, "age", 2));
	assert_int_equal(r.cols_out, 2);
	result_free(&r);

	r = ok_run(dir, "d", a, "[{\"drop\": \"body\"}, {\"op\": \"cast\", \"columns\": {\"city\": \"float\"}, \"on_error\": \"null\"}]");
	assert_int_equal(ds_ncol(r.out), 5);
	assert_true(is_null(r.out, "city", 0));
	result_free(&r);

	r = run_step(dir, "e", a, "[{\"op\": \"cast\", \"columns\": {\"city\": \"int\"}}]", NULL);
	assert_int_equal(r.rc, SL_EPARSE);
	assert_non_null(strstr(r.msg, "with.ops[0]: column 'city', row 1"));
	result_free(&r);
	ds_close(a);
	tu_rmdir(dir);
}

static void test_filter_dedupe_derive(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a();
	run_result r;

	(void)state;
	/* Nulls are dropped by a filter (null is not true). */
	r = ok_run(dir, "f", a, "[{\"filter\": \"age >= 30 and city != 'rome'\"}]");
	assert_int_equal(ds_nrow(r.out), 3);
	assert_int_equal(r.rows_in, 6);
	assert_int_equal(r.rows_out, 3);
	result_free(&r);

	r = ok_run(dir, "u", a, "[{\"op\": \"dedupe\", \"columns\": [\"city\"]}]");
	assert_int_equal(ds_nrow(r.out), 4); /* paris, Berlin, null, rome */
	assert_string_equal(str(r.out, "city", 3), "rome");
	assert_near(f64(r.out, "age", 1), 40);
	result_free(&r);

	r = ok_run(dir, "g", a, "[{\"dedupe\": null}]");
	assert_int_equal(ds_nrow(r.out), 6);
	result_free(&r);

	r = ok_run(dir, "v", a,
		   "[{\"derive\": {\"ratio\": \"income / age\", \"age\": \"coalesce(age, 0) * 2\", "
		   "\"big\": \"ratio > 4\"}}]");
	assert_int_equal(ds_ncol(r.out), 8);
	assert_string_equal(ds_col_name(r.out, 0), "age"); /* replaced in place */
	assert_int_equal(ds_col_type(r.out, 0), DS_INT64);
	assert_near(f64(r.out, "age", 2), 0);
	assert_near(f64(r.out, "ratio", 1), 5.0);
	assert_true(is_null(r.out, "ratio", 2));
	assert_near(f64(r.out, "big", 1), 1);
	result_free(&r);

	r = run_step(dir, "x", a, "[{\"select\": [\"age\"]}, {\"filter\": \"agee > 3\"}]", NULL);
	assert_int_equal(r.rc, SL_EINVAL);
	assert_string_equal(r.msg, "with.ops[1].expr:1:1: unknown column 'agee'; did you mean 'age'?");
	result_free(&r);
	r = run_step(dir, "y", a, "[{\"op\": \"impute\", \"columns\": [\"incme\"]}]", NULL);
	assert_string_equal(r.msg, "with.ops[0].columns[0]: unknown column 'incme'; did you mean 'income'?");
	result_free(&r);
	r = run_step(dir, "z", a, "[{\"op\": \"imputer\"}]", NULL);
	assert_string_equal(r.msg, "with.ops[0].op: unknown operation 'imputer'; did you mean 'impute'?");
	result_free(&r);
	r = run_step(dir, "w", a, "[{\"op\": \"clip\", \"minimum\": 3}]", NULL);
	assert_non_null(strstr(r.msg, "with.ops[0].minimum: unknown option of clip"));
	result_free(&r);
	ds_close(a);
	tu_rmdir(dir);
}

static void test_impute_clip_normalise(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a();
	run_result r;

	(void)state;
	/* age: 30 40 null 50 20 40 -> mean 36, median 40, mode 40. income: NaN is missing too. */
	r = ok_run(dir, "m", a, "[{\"op\": \"impute\", \"columns\": [\"age\", \"income\"]}]");
	assert_int_equal(ds_col_type(r.out, col(r.out, "age")), DS_FLOAT64);
	assert_near(f64(r.out, "age", 2), 36);
	assert_near(f64(r.out, "income", 3), 300);
	assert_near(f64(r.out, "income", 4), 300);
	result_free(&r);
	r = ok_run(dir, "md", a, "[{\"op\": \"impute\", \"strategy\": \"median\", \"columns\": \"age\"}]");
	assert_near(f64(r.out, "age", 2), 40);
	result_free(&r);
	r = ok_run(dir, "mo", a, "[{\"op\": \"impute\", \"strategy\": \"mode\", \"columns\": [\"age\", \"city\"]}]");
	assert_int_equal(ds_col_type(r.out, col(r.out, "age")), DS_INT64);
	assert_near(f64(r.out, "age", 2), 40);
	assert_string_equal(str(r.out, "city", 3), "paris");
	result_free(&r);
	r = ok_run(dir, "c", a, "[{\"op\": \"impute\", \"strategy\": \"constant\", \"value\": \"?\", \"columns\": [\"city\"]}]");
	assert_string_equal(str(r.out, "city", 3), "?");
	result_free(&r);

	r = ok_run(dir, "cl", a, "[{\"op\": \"clip\", \"columns\": [\"age\", \"income\"], \"min\": 25.5, \"max\": 45}]");
	assert_near(f64(r.out, "age", 4), 26); /* int bounds round inward */
	assert_near(f64(r.out, "age", 3), 45);
	assert_near(f64(r.out, "income", 0), 45);
	assert_true(is_null(r.out, "age", 2));
	result_free(&r);
	r = ok_run(dir, "cq", a, "[{\"op\": \"clip\", \"columns\": [\"income\"], \"upper_quantile\": 0.5}]");
	/* finite incomes 100 200 300 600: median 250 */
	assert_near(f64(r.out, "income", 2), 250);
	assert_near(f64(r.out, "income", 0), 100);
	result_free(&r);

	r = ok_run(dir, "z", a, "[{\"normalise\": [\"age\"]}]");
	{
		double sd = sqrt(((30 - 36) * (30 - 36) + 16 + 196 + 256 + 16) / 5.0);
		assert_near(f64(r.out, "age", 0), (30 - 36) / sd);
		assert_true(is_null(r.out, "age", 2));
	}
	result_free(&r);
	r = ok_run(dir, "mm", a, "[{\"op\": \"normalize\", \"method\": \"minmax\", \"columns\": [\"age\"]}]");
	assert_near(f64(r.out, "age", 0), 1.0 / 3);
	assert_near(f64(r.out, "age", 3), 1.0);
	result_free(&r);

	r = run_step(dir, "bad", a, "[{\"op\": \"impute\", \"columns\": [\"city\"]}]", NULL);
	assert_int_equal(r.rc, SL_EINVAL);
	assert_string_equal(r.msg, "with.ops[0]: column 'city' is string; mean needs numbers");
	result_free(&r);
	ds_close(a);
	tu_rmdir(dir);
}

static void test_encode(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a();
	run_result r;

	(void)state;
	r = ok_run(dir, "oh", a, "[{\"op\": \"encode\", \"columns\": [\"city\"]}]");
	/* Categories sorted: Berlin, paris, rome; the columns replace city in place. */
	assert_string_equal(ds_col_name(r.out, 2), "city_Berlin");
	assert_string_equal(ds_col_name(r.out, 3), "city_paris");
	assert_string_equal(ds_col_name(r.out, 4), "city_rome");
	assert_near(f64(r.out, "city_paris", 0), 1);
	assert_near(f64(r.out, "city_Berlin", 0), 0);
	assert_near(f64(r.out, "city_paris", 3) + f64(r.out, "city_rome", 3) + f64(r.out, "city_Berlin", 3), 0);
	result_free(&r);

	r = ok_run(dir, "top", a, "[{\"op\": \"encode\", \"columns\": [\"city\"], \"max_categories\": 1, \"prefix\": \"c=\"}]");
	assert_string_equal(ds_col_name(r.out, 2), "c=paris");
	assert_string_equal(ds_col_name(r.out, 3), "body");
	result_free(&r);

	r = ok_run(dir, "ord", a, "[{\"op\": \"encode\", \"method\": \"ordinal\", \"columns\": [\"city\", \"age\"]}]");
	assert_near(f64(r.out, "city", 0), 1);
	assert_near(f64(r.out, "city", 1), 0);
	assert_true(is_null(r.out, "city", 3));
	assert_near(f64(r.out, "age", 4), 0); /* "20" < "30" < "40" < "50" */
	result_free(&r);

	r = ok_run(dir, "h", a, "[{\"op\": \"encode\", \"method\": \"hashing\", \"n_buckets\": 4, \"columns\": [\"city\"]}]");
	assert_non_null(strstr(ds_col_name(r.out, 2), "city_hash0"));
	for (size_t i = 0; i < 6; i++) {
		double s = 0;
		for (int k = 0; k < 4; k++)
			s += ds_col_f64(r.out, 2 + (size_t)k)[i];
		assert_near(s, i == 3 ? 0 : 1);
	}
	/* paris rows hash alike */
	for (int k = 0; k < 4; k++)
		assert_near(ds_col_f64(r.out, 2 + (size_t)k)[0], ds_col_f64(r.out, 2 + (size_t)k)[5]);
	/* The buckets are 64-bit FNV-1a mod n_buckets, as documented, and a
	 * saved transform depends on them: paris and rome (FNV-1a ...5af2 and
	 * ...acca) go to bucket 2, Berlin (...a60b) to bucket 3. */
	assert_near(f64(r.out, "city_hash2", 0), 1);
	assert_near(f64(r.out, "city_hash2", 4), 1);
	assert_near(f64(r.out, "city_hash3", 1), 1);
	result_free(&r);
	ds_close(a);
	tu_rmdir(dir);
}

static void test_text(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a();
	run_result r;

	(void)state;
	r = ok_run(dir, "cnt", a, "[{\"op\": \"text\", \"column\": \"body\", \"output\": \"counts\", \"max_features\": 3}]");
	/*
	 * Document frequencies: free 2, money 2, meeting 2, noon 2, at 0 (too
	 * short), now 1, offer 1, moved 1, win 1. Top 3 by df, ties by term:
	 * free, meeting, money; columns sorted by term.
	 */
	assert_int_equal(ds_ncol(r.out), 8);
	assert_string_equal(ds_col_name(r.out, 3), "body_free");
	assert_string_equal(ds_col_name(r.out, 4), "body_meeting");
	assert_string_equal(ds_col_name(r.out, 5), "body_money");
	assert_near(f64(r.out, "body_free", 2), 2);
	assert_near(f64(r.out, "body_free", 0), 1);
	assert_near(f64(r.out, "body_money", 5), 1);
	result_free(&r);

	r = ok_run(dir, "tfidf", a, "[{\"op\": \"text\", \"column\": \"body\", \"max_features\": 2, \"prefix\": \"w_\"}]");
	{
		/* free and meeting; idf = ln(7/3) + 1 for both; row 0 has only free -> 1.0 after l2. */
		assert_near(f64(r.out, "w_free", 0), 1.0);
		assert_near(f64(r.out, "w_meeting", 0), 0.0);
		assert_near(f64(r.out, "w_free", 3), 0.0);
	}
	result_free(&r);

	r = ok_run(dir, "tok", a, "[{\"op\": \"text\", \"column\": \"body\", \"output\": \"tokens\", \"min_token_length\": 1}]");
	assert_string_equal(str(r.out, "body", 0), "free money now");
	assert_string_equal(str(r.out, "body", 1), "meeting at noon");
	result_free(&r);
	r = ok_run(dir, "low", a, "[{\"op\": \"text\", \"column\": \"body\", \"output\": \"text\"}]");
	assert_string_equal(str(r.out, "body", 0), "free money now");
	result_free(&r);
	ds_close(a);
	tu_rmdir(dir);
}

static void test_dates_and_series(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a();
	run_result r;

	(void)state;
	r = ok_run(dir, "dt", a, "[{\"op\": \"dates\", \"column\": \"ts\", \"parts\": [\"year\", \"month\", \"day\", \"weekday\", \"hour\", \"dayofyear\"],"
				  " \"cyclical\": [\"hour\"], \"drop\": true}]");
	assert_int_equal(ds_col_type(r.out, col(r.out, "ts_year")), DS_INT64);
	assert_near(f64(r.out, "ts_year", 0), 2024);
	assert_near(f64(r.out, "ts_weekday", 0), 0); /* 2024-01-01 was a Monday */
	assert_near(f64(r.out, "ts_month", 3), 3);
	assert_near(f64(r.out, "ts_day", 3), 4);
	assert_near(f64(r.out, "ts_hour", 3), 18);
	assert_near(f64(r.out, "ts_dayofyear", 4), 366);
	assert_near(f64(r.out, "ts_hour_sin", 1), 1.0); /* 06:00 is a quarter turn */
	assert_near(f64(r.out, "ts_hour_cos", 2), -1.0);
	assert_int_equal(ds_col_find(r.out, "ts", &(size_t){0}), SL_ENOENT);
	result_free(&r);

	/* Per city (null is a group), ordered by ts: rows 0, 2, 5 are paris in time order. */
	r = ok_run(dir, "lag", a, "[{\"op\": \"lag\", \"column\": \"income\", \"by\": \"city\", \"order_by\": \"ts\", \"lags\": [1, 2]},"
				   " {\"op\": \"rolling\", \"column\": \"income\", \"by\": [\"city\"], \"order_by\": \"ts\", \"window\": 2, \"agg\": \"sum\", \"min_periods\": 1}]");
	assert_true(is_null(r.out, "income_lag1", 0));
	assert_near(f64(r.out, "income_lag1", 2), 100);
	assert_near(f64(r.out, "income_lag1", 5), 300);
	assert_near(f64(r.out, "income_lag2", 5), 100);
	assert_true(is_null(r.out, "income_lag1", 1));
	assert_near(f64(r.out, "income_rolling_sum2", 0), 100);
	assert_near(f64(r.out, "income_rolling_sum2", 2), 400);
	assert_near(f64(r.out, "income_rolling_sum2", 5), 900);
	result_free(&r);
	ds_close(a);
	tu_rmdir(dir);
}

static const char *pipeline_ops =
	"[{\"op\": \"impute\", \"columns\": [\"age\", \"income\"], \"strategy\": \"mean\"},"
	" {\"op\": \"normalise\", \"columns\": [\"income\"]},"
	" {\"op\": \"encode\", \"columns\": [\"city\"]},"
	" {\"op\": \"text\", \"column\": \"body\", \"max_features\": 4},"
	" {\"op\": \"dates\", \"column\": \"ts\", \"parts\": [\"month\"], \"cyclical\": [\"weekday\"]},"
	" {\"derive\": {\"older\": \"age > 35 and flag\", \"tag\": \"upper(if(flag, 'y', 'n'))\"}},"
	" {\"filter\": \"age < 60\"}]";

static void test_fit_then_apply(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a(), *b = table_b();
	run_result fa, fb;

	(void)state;
	fa = ok_run(dir, "a", a, pipeline_ops);
	fb = run_step(dir, "b", b, NULL, fa.tr_path);
	if (fb.rc)
		fail_msg("apply: %s", fb.msg);
	/* Statistics of A: age mean 36; income mean 300 and population std of 100 200 300 600 (+ 300 imputed twice). */
	{
		double v[] = {100, 200, 300, 300, 300, 600}, m = 300, ss = 0;
		for (int i = 0; i < 6; i++)
			ss += (v[i] - m) * (v[i] - m);
		double sd = sqrt(ss / 6);
		assert_near(f64(fb.out, "age", 1), 36);              /* B's null age gets A's mean */
		assert_near(f64(fb.out, "income", 1), (50 - m) / sd);
		assert_near(f64(fb.out, "income", 2), 0);           /* null -> A's mean -> 0 */
	}
	/* tokyo is unseen: all zeros; city null likewise. */
	assert_near(f64(fb.out, "city_paris", 3), 1);
	assert_near(f64(fb.out, "city_paris", 1) + f64(fb.out, "city_rome", 1) + f64(fb.out, "city_Berlin", 1), 0);
	assert_near(f64(fb.out, "city_rome", 0), 1);
	/* Same output schema as the fitted run. */
	assert_int_equal(ds_ncol(fb.out), ds_ncol(fa.out));
	for (size_t j = 0; j < ds_ncol(fa.out); j++) {
		assert_string_equal(ds_col_name(fb.out, j), ds_col_name(fa.out, j));
		assert_int_equal(ds_col_type(fb.out, j), ds_col_type(fa.out, j));
	}
	/* The transform output is the input, byte for byte. */
	{
		sl__buf x, y;
		assert_int_equal(sl__read_file(fa.tr_path, 0, &x), 0);
		assert_int_equal(sl__read_file(fb.tr_path, 0, &y), 0);
		assert_int_equal(x.len, y.len);
		assert_memory_equal(x.data, y.data, x.len);
		sl__buf_free(&x);
		sl__buf_free(&y);
	}
	/* Applying the transform to A itself gives exactly the fitted run's data. */
	{
		run_result again = run_step(dir, "aa", a, NULL, fa.tr_path);
		sl__buf x, y;
		assert_int_equal(again.rc, 0);
		assert_int_equal(sl__read_file(fa.data_path, 0, &x), 0);
		assert_int_equal(sl__read_file(again.data_path, 0, &y), 0);
		assert_int_equal(x.len, y.len);
		assert_memory_equal(x.data, y.data, x.len);
		sl__buf_free(&x);
		sl__buf_free(&y);
		result_free(&again);
	}
	/* Given ops must match the transform's. */
	{
		run_result bad = run_step(dir, "bad", b, "[{\"op\": \"clip\", \"min\": 0}]", fa.tr_path);
		assert_int_equal(bad.rc, SL_EINVAL);
		result_free(&bad);
	}
	result_free(&fa);
	result_free(&fb);
	ds_close(a);
	ds_close(b);
	tu_rmdir(dir);
}

static void row_of(const ds_table *t, size_t i, expr_value *row)
{
	for (size_t j = 0; j < ds_ncol(t); j++) {
		memset(&row[j], 0, sizeof row[j]);
		row[j].null = !ds_valid(ds_col_validity(t, j), i);
		if (row[j].null)
			continue;
		switch (ds_col_type(t, j)) {
		case DS_INT64: case DS_TIMESTAMP: row[j].i = ds_col_i64(t, j)[i]; break;
		case DS_FLOAT64: row[j].f = ds_col_f64(t, j)[i]; break;
		case DS_BOOL: row[j].i = ds_col_bool(t, j)[i]; break;
		case DS_STRING: row[j].s = ds_col_str(t, j, i, &row[j].len); break;
		}
	}
}

static void test_row_equals_table(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a(), *b = table_b(), *tb;
	run_result fa;
	transform *tr;
	transform_row *r;
	expr_value in[8], out[64];
	size_t k = 0;

	(void)state;
	fa = ok_run(dir, "a", a, pipeline_ops);
	assert_int_equal(transform_load(fa.tr_path, &tr), 0);
	assert_true(transform_n_outputs(tr) <= 64);
	assert_int_equal(transform_apply_table(tr, b, &tb), 0);
	assert_int_equal(transform_row_new(tr, &r), 0);
	for (size_t i = 0; i < ds_nrow(b); i++) {
		int rc;
		row_of(b, i, in);
		rc = transform_apply_row(tr, r, in, out);
		assert_true(rc == 0 || rc == TRANSFORM_REJECTED);
		if (rc == TRANSFORM_REJECTED)
			continue;
		/* Row i of B is row k of the table output (the filter keeps order). */
		expr_value all[64];
		row_of(tb, k, all);
		for (size_t j = 0; j < transform_n_outputs(tr); j++) {
			expr_value want = all[j];
			assert_int_equal(out[j].null, want.null);
			if (want.null)
				continue;
			switch (transform_output_type(tr, j)) {
			case DS_FLOAT64: assert_memory_equal(&out[j].f, &want.f, sizeof want.f); break;
			case DS_STRING:
				assert_int_equal(out[j].len, want.len);
				assert_memory_equal(out[j].s, want.s, want.len);
				break;
			default: assert_int_equal(out[j].i, want.i); break;
			}
		}
		k++;
	}
	assert_int_equal(k, ds_nrow(tb));
	/* A filter rejects a row at serving time. */
	{
		json_t *obj = json_pack("{s:i,s:f,s:s,s:s,s:s,s:b}", "age", 70, "income", 5.0, "city", "rome",
					"body", "free", "ts", "2024-02-03T04:05:06Z", "flag", 1);
		assert_int_equal(transform_apply_json(tr, r, obj, out), TRANSFORM_REJECTED);
		json_object_set_new(obj, "age", json_integer(41));
		assert_int_equal(transform_apply_json(tr, r, obj, out), 0);
		assert_near(out[0].f, 41);
		json_object_set_new(obj, "age", json_string("x"));
		assert_int_equal(transform_apply_json(tr, r, obj, out), SL_EINVAL);
		assert_string_equal(sl_errmsg(), "column 'age': expected int64");
		json_decref(obj);
	}
	/* Per-row application allocates nothing once warm. */
	{
		row_of(b, 0, in);
		assert_int_equal(transform_apply_row(tr, r, in, out), 0);
		sl__alloc_fail_after(0);
		for (int q = 0; q < 100; q++)
			assert_int_equal(transform_apply_row(tr, r, in, out), 0);
		/* Not one allocation was even tried (each would have failed). */
		assert_int_equal(sl__alloc_failures(), 0);
		sl__alloc_fail_after(-1);
	}
	transform_row_free(r);
	ds_close(tb);
	transform_free(tr);
	/* Series ops cannot be applied to one row. */
	{
		run_result s = ok_run(dir, "s", a, "[{\"op\": \"lag\", \"column\": \"age\", \"order_by\": \"ts\"}]");
		assert_int_equal(transform_load(s.tr_path, &tr), 0);
		assert_int_equal(transform_row_new(tr, &r), SL_EUNSUP);
		transform_free(tr);
		result_free(&s);
	}
	result_free(&fa);
	ds_close(a);
	ds_close(b);
	tu_rmdir(dir);
}

/*
 * Scoring a table (transform_apply_rows) answers for every input row as
 * the row path does: a dedupe keeps every row, and each output row says
 * which input row it came from, so the rows a filter rejected are known.
 */
static void test_scoring_rows(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a(), *ta, *tr_out;
	run_result fa;
	transform *tr;
	transform_row *r;
	expr_value in[8], out[64], want[64];
	size_t *rows, k = 0;

	(void)state;
	fa = ok_run(dir, "a", a,
		    "[{\"filter\": \"age is not null\"},"
		    " {\"op\": \"dedupe\", \"columns\": [\"city\"]},"
		    " {\"op\": \"impute\", \"columns\": [\"income\"], \"strategy\": \"median\"},"
		    " {\"filter\": \"age < 45\"}]");
	assert_int_equal(transform_load(fa.tr_path, &tr), 0);
	/* Training drops row 6, a second paris; the filters drop rows 3 and 4. */
	assert_int_equal(transform_apply_table(tr, a, &ta), 0);
	assert_int_equal(ds_nrow(ta), 3);
	/* Scoring keeps row 6 (1-based) and says which rows came through. */
	assert_int_equal(transform_apply_rows(tr, a, &tr_out, &rows), 0);
	assert_int_equal(ds_nrow(tr_out), 4);
	assert_int_equal(rows[0], 0);
	assert_int_equal(rows[1], 1);
	assert_int_equal(rows[2], 4);
	assert_int_equal(rows[3], 5);
	assert_int_equal(transform_row_new(tr, &r), 0);
	for (size_t i = 0; i < ds_nrow(a); i++) {
		row_of(a, i, in);
		int rc = transform_apply_row(tr, r, in, out);
		assert_int_equal(rc, k < ds_nrow(tr_out) && rows[k] == i ? 0 : TRANSFORM_REJECTED);
		if (rc)
			continue;
		row_of(tr_out, k, want);
		for (size_t j = 0; j < transform_n_outputs(tr); j++) {
			assert_int_equal(out[j].null, want[j].null);
			if (!want[j].null && transform_output_type(tr, j) == DS_FLOAT64)
				assert_memory_equal(&out[j].f, &want[j].f, sizeof want[j].f);
			else if (!want[j].null && transform_output_type(tr, j) != DS_STRING)
				assert_int_equal(out[j].i, want[j].i);
		}
		k++;
	}
	assert_int_equal(k, 4);
	sl__free(rows);
	transform_row_free(r);
	ds_close(tr_out);
	ds_close(ta);
	transform_free(tr);
	result_free(&fa);
	ds_close(a);
	tu_rmdir(dir);
}

/*
 * A derive written as a mapping keeps its order through the artifact
 * (dumped with sorted keys): a later expression reads an earlier column.
 */
static void test_derive_order_survives_the_artifact(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a(), *t1, *t2;
	run_result fa;
	transform *tr;

	(void)state;
	fa = ok_run(dir, "d", a, "[{\"derive\": {\"z\": \"age + 1\", \"b\": \"z * 2\"}}]");
	assert_int_equal(transform_load(fa.tr_path, &tr), 0);
	assert_string_equal(transform_output_name(tr, transform_n_outputs(tr) - 2), "z");
	assert_string_equal(transform_output_name(tr, transform_n_outputs(tr) - 1), "b");
	assert_int_equal(transform_apply_table(tr, a, &t1), 0);
	assert_near(f64(t1, "b", 0), 62);
	transform_free(tr);
	t2 = fa.out;
	assert_near(f64(t2, "b", 1), 82);
	ds_close(t1);
	result_free(&fa);
	ds_close(a);
	tu_rmdir(dir);
}

static void test_determinism_and_format(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a();
	run_result x, y;
	sl__buf bx, by;
	transform *tr;

	(void)state;
	x = ok_run(dir, "x", a, pipeline_ops);
	y = ok_run(dir, "y", a, pipeline_ops);
	assert_int_equal(sl__read_file(x.data_path, 0, &bx), 0);
	assert_int_equal(sl__read_file(y.data_path, 0, &by), 0);
	assert_int_equal(bx.len, by.len);
	assert_memory_equal(bx.data, by.data, bx.len);
	sl__buf_free(&bx);
	sl__buf_free(&by);
	assert_int_equal(sl__read_file(x.tr_path, 0, &bx), 0);
	assert_int_equal(sl__read_file(y.tr_path, 0, &by), 0);
	assert_string_equal(bx.data, by.data);
	assert_non_null(strstr(bx.data, "\"format\":\"sluice.transform\""));
	assert_non_null(strstr(bx.data, "\"fill\":{\"age\":36.0,\"income\":300.0}"));
	/* Load and dump round-trips to the same bytes. */
	assert_int_equal(transform_parse(bx.data, bx.len, "t", &tr), 0);
	{
		size_t len;
		char *s = transform_dump(tr, &len);
		assert_string_equal(s, bx.data);
		sl__free(s);
	}
	transform_free(tr);
	/* A newer version or another format is refused. */
	{
		char *v2 = strdup(bx.data);
		char *p = strstr(v2, "\"version\":1");
		p[10] = '9';
		assert_int_equal(transform_parse(v2, strlen(v2), "t", &tr), SL_EUNSUP);
		assert_int_equal(transform_parse("{\"format\":\"x\"}", 14, "t", &tr), SL_ECORRUPT);
		assert_int_equal(transform_parse("{", 1, "t", &tr), SL_ECORRUPT);
		free(v2);
	}
	sl__buf_free(&bx);
	sl__buf_free(&by);
	result_free(&x);
	result_free(&y);
	ds_close(a);
	tu_rmdir(dir);
}

/* Row apply's outputs, the transform's saved form and both tables as CSV, in one text. */
static char *fingerprint(const char *dir, const transform *tr, const ds_table *o1, const ds_table *o2,
			 int row_rc, const expr_value *out)
{
	char *p1 = tu_path(dir, "fp1.csv"), *p2 = tu_path(dir, "fp2.csv"), *dump;
	sl__buf b, f1, f2;

	sl__buf_init(&b, 0);
	assert_int_equal(ds_export_table(o1, "csv", p1), 0);
	assert_int_equal(ds_export_table(o2, "csv", p2), 0);
	assert_int_equal(sl__read_file(p1, 0, &f1), 0);
	assert_int_equal(sl__read_file(p2, 0, &f2), 0);
	assert_non_null(dump = transform_dump(tr, NULL));
	assert_int_equal(sl__buf_printf(&b, "%s\n%s\n%s\nrow %d", dump, f1.data, f2.data, row_rc), 0);
	for (size_t j = 0; row_rc == 0 && j < transform_n_outputs(tr); j++)
		assert_int_equal(sl__buf_printf(&b, " %d:%lld:%.17g", out[j].null, (long long)out[j].i, out[j].f), 0);
	sl__free(dump);
	sl__buf_free(&f1);
	sl__buf_free(&f2);
	free(p1);
	free(p2);
	return sl__buf_detach(&b);
}

/* transform_check of ops (JSON text) against t's columns, without its rows. */
static int check_schema(const ds_table *t, const char *ops_text)
{
	const char *names[16];
	ds_type types[16];
	json_t *ops = json_loads(ops_text, 0, NULL);
	int rc;

	assert_non_null(ops);
	assert_true(ds_ncol(t) <= 16);
	for (size_t j = 0; j < ds_ncol(t); j++) {
		names[j] = ds_col_name(t, j);
		types[j] = ds_col_type(t, j);
	}
	rc = transform_check(ops, "with.ops", names, types, ds_ncol(t));
	json_decref(ops);
	return rc;
}

/* The check refuses ops_text with msg, and fitting on the data says the same. */
static void check_refuses(const ds_table *t, const char *ops_text, const char *msg)
{
	json_t *ops = json_loads(ops_text, 0, NULL);
	transform *tr = NULL;
	ds_table *out = NULL;

	if (check_schema(t, ops_text) != SL_EINVAL)
		fail_msg("%s: the check passed", ops_text);
	assert_string_equal(sl_errmsg(), msg);
	assert_int_equal(transform_fit(ops, "with.ops", t, &tr, &out), SL_EINVAL);
	assert_string_equal(sl_errmsg(), msg);
	json_decref(ops);
}

static void test_schema_only_walk(void **state)
{
	ds_table *a = table_a();
	static const char *const fine[] = {
		/* A renamed column is used by its new name. */
		"[{\"rename\": {\"city\": \"town\"}}, {\"select\": [\"town\", \"age\", \"income\"]},"
		" {\"impute\": [\"age\"]}, {\"filter\": \"town != 'rome' and age > 1\"}]",
		/* Derived and date-part columns exist for the ops after them. */
		"[{\"derive\": {\"ratio\": \"income / age\"}}, {\"op\": \"dates\", \"column\": \"ts\","
		" \"parts\": [\"month\"]}, {\"select\": [\"ratio\", \"ts_month\"]}]",
		/* Statistics need values, which the check does not have: not its business. */
		"[{\"op\": \"clip\", \"columns\": [\"income\"], \"lower_quantile\": 0.1},"
		" {\"op\": \"impute\", \"strategy\": \"mode\", \"columns\": [\"city\"]}]",
		/* onehot's columns are the data's categories: the walk ends there. */
		"[{\"encode\": [\"city\"]}, {\"select\": [\"city_paris\", \"city_nowhere\"]}]",
		"[]",
	};

	(void)state;
	for (size_t k = 0; k < SL__ARRAY_LEN(fine); k++)
		if (check_schema(a, fine[k]) != 0)
			fail_msg("case %zu: %s", k, sl_errmsg());
	/* A typo, a column used after it was dropped, or by its old name after a
	 * rename: the message fitting gives, with the op's path. */
	check_refuses(a, "[{\"select\": [\"age\", \"incme\"]}]",
		      "with.ops[0].columns[1]: unknown column 'incme'; did you mean 'income'?");
	check_refuses(a, "[{\"drop\": [\"income\"]}, {\"op\": \"clip\", \"columns\": [\"income\"], \"min\": 0}]",
		      "with.ops[1].columns[0]: unknown column 'income'");
	check_refuses(a, "[{\"rename\": {\"city\": \"town\"}}, {\"dedupe\": [\"city\"]}]",
		      "with.ops[1].columns[0]: unknown column 'city'");
	check_refuses(a, "[{\"rename\": {\"cty\": \"town\"}}]",
		      "with.ops[0].columns: unknown column 'cty'; did you mean 'city'?");
	/* Types as fitting sees them: a mean makes age a float, which encode refuses. */
	check_refuses(a, "[{\"impute\": [\"age\"]}, {\"encode\": [\"age\"]}]",
		      "with.ops[1]: column 'age' is float64; encode needs string, int64 or bool");
	/* An expression over a column a select dropped. */
	assert_int_equal(check_schema(a, "[{\"select\": [\"age\"]}, {\"filter\": \"income > 0\"}]"),
			 SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "with.ops[1].expr"));
	assert_non_null(strstr(sl_errmsg(), "income"));
	/* Out of memory anywhere in the walk is SL_ENOMEM, never a crash or a leak. */
	{
		const char *names[] = {"age", "income", "city", "ts", "flag"};
		const ds_type types[] = {DS_INT64, DS_FLOAT64, DS_STRING, DS_TIMESTAMP, DS_BOOL};
		json_t *ops = json_loads(fine[1], 0, NULL);
		tu_oom o = {0};
		assert_non_null(ops);
		for (long n = 0; !o.done && n < 100000; n++) {
			int rc;
			tu_oom_begin(&o, n);
			rc = transform_check(ops, "with.ops", names, types, 5);
			tu_oom_end(&o, rc);
			if (rc && rc != SL_ENOMEM)
				fail_msg("run %ld: %s", n, sl_errmsg());
		}
		tu_oom_check(&o, 5);
		json_decref(ops);
	}
	ds_close(a);
}

static void test_alloc_failures(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = table_a(), *b = table_b();
	json_t *ops = json_loads(pipeline_ops, 0, NULL);
	char *want = NULL;

	(void)state;
	assert_non_null(ops);
	/*
	 * Every allocation failure in fit, apply and row apply is an error,
	 * never a crash or a leak; with all allocations failing from the Nth,
	 * then the Nth alone, in which case a success must give exactly what
	 * the first, uninjected run gave. The first pass of the loop (once = -1)
	 * makes that reference.
	 */
	for (int once = -1; once < 2; once++) {
		tu_oom o = {0};
		o.once = once == 1;
		for (long n = 0; !o.done && n < 100000; n += 1 + n / 50) {
			transform *tr = NULL;
			transform_row *r = NULL;
			ds_table *o1 = NULL, *o2 = NULL;
			expr_value in[8], out[64];
			int rc, row_rc = 0;
			tu_oom_begin(&o, once < 0 ? -1 : n);
			rc = transform_fit(ops, "with.ops", a, &tr, &o1);
			if (rc == 0)
				rc = transform_apply_table(tr, b, &o2);
			if (rc == 0)
				rc = transform_row_new(tr, &r);
			if (rc == 0) {
				row_of(b, 0, in);
				rc = row_rc = transform_apply_row(tr, r, in, out);
			}
			if (rc == TRANSFORM_REJECTED) /* the filter's verdict on that row: a success */
				rc = 0;
			tu_oom_end(&o, rc);
			if (rc && rc != SL_ENOMEM)
				fail_msg("run %ld: %s: %s", n, sl_err_name(rc), sl_errmsg());
			if (rc == 0) {
				char *got = fingerprint(dir, tr, o1, o2, row_rc, out);
				if (!want)
					want = got;
				else if (strcmp(got, want))
					fail_msg("run %ld succeeded with results unlike the reference's", n);
				if (got != want)
					sl__free(got);
			}
			transform_row_free(r);
			ds_close(o1);
			ds_close(o2);
			transform_free(tr);
		}
		if (once >= 0)
			tu_oom_check(&o, 20);
	}
	sl__free(want);
	json_decref(ops);
	ds_close(a);
	ds_close(b);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_drop_rename_cast),
		cmocka_unit_test(test_filter_dedupe_derive),
		cmocka_unit_test(test_impute_clip_normalise),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_dates_and_series),
		cmocka_unit_test(test_fit_then_apply),
		cmocka_unit_test(test_row_equals_table),
		cmocka_unit_test(test_scoring_rows),
		cmocka_unit_test(test_derive_order_survives_the_artifact),
		cmocka_unit_test(test_determinism_and_format),
		cmocka_unit_test(test_schema_only_walk),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
