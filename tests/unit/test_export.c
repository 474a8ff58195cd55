/*
 * sluice models export --format c, for real: for each model family (and a
 * transform that uses every operation with a C form) the exported file is
 * compiled with cc, run over new rows by a small program as a device would
 * run it (export_main.c), and its outputs compared with sluice's own batch
 * scoring of the same rows (score_table), which the predict tests tie to
 * the row path. Rejected rows must agree too. What has no C form is
 * refused with a message naming it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "core.h"
#include "dataset/transform.h"
#include "ml/ml.h"
#include "model/bundle.h"
#include "model/export_c.h"
#include "model/score.h"
#include "testutil.h"

static char *path_in(const char *dir, const char *name)
{
	return tu_path(dir, name);
}

/* Fits ops on a, saving the transform and the transformed table; returns the table's path. */
static char *fit(const char *dir, const char *tag, const ds_table *a, const char *ops,
		 char **out_tf)
{
	json_error_t err;
	json_t *j = json_loads(ops, 0, &err);
	transform *tr;
	ds_table *out;
	char name[64];
	char *data;

	if (!j)
		fail_msg("bad ops JSON: %s", err.text);
	if (transform_fit(j, "ops", a, &tr, &out))
		fail_msg("fit %s: %s", tag, sl_errmsg());
	snprintf(name, sizeof name, "%s.transform", tag);
	*out_tf = path_in(dir, name);
	assert_int_equal(transform_save(tr, *out_tf), 0);
	snprintf(name, sizeof name, "%s.train", tag);
	data = path_in(dir, name);
	assert_int_equal(ds_table_write(out, data), 0);
	transform_free(tr);
	ds_close(out);
	json_decref(j);
	return data;
}

/* Trains step on the dataset at data; returns the model's path. */
static char *train(const char *dir, const char *tag, const char *step, const char *data,
		   const char *with_json)
{
	const char *in_names[] = {"train"}, *out_names[] = {"model"};
	const char *in_paths[] = {data}, *out_paths[1];
	json_error_t err;
	json_t *with = json_loads(with_json, 0, &err);
	char name[64];
	char *model;
	tu_run r;

	if (!with)
		fail_msg("bad options JSON: %s", err.text);
	memset(&r, 0, sizeof r);
	snprintf(name, sizeof name, "%s.model", tag);
	model = path_in(dir, name);
	out_paths[0] = model;
	if (tu_run_step(&r, step, dir, with, in_names, in_paths, 1, out_names, out_paths, 1))
		fail_msg("%s: %s", step, sl_errmsg());
	json_decref(with);
	tu_run_free(&r);
	return model;
}

static char *bundle_of(const char *dir, const char *tag, const char *model, const char *tf)
{
	char name[64];
	char *path;

	snprintf(name, sizeof name, "%s.bundle", tag);
	path = path_in(dir, name);
	if (bundle_write(model, tf, NULL, path))
		fail_msg("bundle %s: %s", tag, sl_errmsg());
	return path;
}

/* The rows as a device holds them: strings as text, timestamps in microseconds. */
static void device_csv(const ds_table *t, const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t j = 0; j < ds_ncol(t); j++)
		fprintf(f, "%s%s", j ? "," : "", ds_col_name(t, j));
	fputc('\n', f);
	for (size_t i = 0; i < ds_nrow(t); i++) {
		for (size_t j = 0; j < ds_ncol(t); j++) {
			if (j)
				fputc(',', f);
			if (!ds_valid(ds_col_validity(t, j), i))
				continue;
			switch (ds_col_type(t, j)) {
			case DS_STRING: fputs(ds_col_str(t, j, i, NULL), f); break;
			case DS_BOOL: fputs(ds_col_bool(t, j)[i] ? "true" : "false", f); break;
			case DS_FLOAT64: {
				double v = ds_col_f64(t, j)[i];
				if (isnan(v))
					fputs("nan", f);
				else
					fprintf(f, "%.17g", v);
				break;
			}
			default: fprintf(f, "%lld", (long long)ds_col_i64(t, j)[i]); break;
			}
		}
		fputc('\n', f);
	}
	fclose(f);
}

static bool have_cc(void)
{
	return system("cc --version >/dev/null 2>&1") == 0;
}

/*
 * Exports the bundle, compiles it with export_main.c, runs it on rows and
 * compares with score_table. Returns the number of rows rejected.
 */
static size_t export_and_compare(const char *dir, const char *tag, const char *bundle_path,
				 const ds_table *rows)
{
	char name[64], cmd[4096];
	char *c_path, *exe, *csv, *outp;
	bundle *b;
	ds_table *want;
	score_opts so = {false, "rows"};
	FILE *f;
	char line[8192];
	size_t rejected = 0;

	snprintf(name, sizeof name, "%s.c", tag);
	c_path = path_in(dir, name);
	snprintf(name, sizeof name, "%s.exe", tag);
	exe = path_in(dir, name);
	snprintf(name, sizeof name, "%s.rows.csv", tag);
	csv = path_in(dir, name);
	snprintf(name, sizeof name, "%s.out", tag);
	outp = path_in(dir, name);
	if (export_c_file(bundle_path, NULL, c_path))
		fail_msg("export %s: %s", tag, sl_errmsg());
	snprintf(cmd, sizeof cmd,
		 "cc -std=c99 -O2 -Wall -Wextra -pedantic -Werror -o '%s' '%s' '%s/tests/unit/export_main.c' -lm"
		 " 2>'%s.err'",
		 exe, c_path, SLUICE_SOURCE_DIR, c_path);
	if (system(cmd) != 0) {
		char *err = NULL;
		size_t n = 0;
		FILE *ef;
		snprintf(cmd, sizeof cmd, "%s.err", c_path);
		ef = fopen(cmd, "r");
		if (ef) {
			err = calloc(1, 4096);
			n = err ? fread(err, 1, 4095, ef) : 0;
			fclose(ef);
		}
		fail_msg("%s: the exported file does not compile:\n%.*s", tag, (int)n, err ? err : "");
	}
	device_csv(rows, csv);
	snprintf(cmd, sizeof cmd, "'%s' < '%s' > '%s'", exe, csv, outp);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(bundle_open(bundle_path, 0, &b), 0);
	if (score_table(b, rows, &so, &want, NULL))
		fail_msg("%s: score_table: %s", tag, sl_errmsg());
	const ml_signature *sig = &bundle_model(b)->sig;
	size_t rej, *col = calloc(sig->n_outputs, sizeof *col);
	assert_int_equal(ds_col_find(want, "rejected", &rej), 0);
	for (size_t k = 0; k < sig->n_outputs; k++)
		assert_int_equal(ds_col_find(want, sig->outputs[k], &col[k]), 0);
	f = fopen(outp, "r");
	assert_non_null(f);
	for (size_t i = 0; i < ds_nrow(rows); i++) {
		if (!fgets(line, sizeof line, f))
			fail_msg("%s: the program answered %zu rows of %zu", tag, i, ds_nrow(rows));
		line[strcspn(line, "\n")] = '\0';
		bool is_rej = ds_col_bool(want, rej)[i] != 0;
		if (is_rej != !strcmp(line, "rejected"))
			fail_msg("%s row %zu: sluice %s, the C file says '%s'", tag, i + 1,
				 is_rej ? "rejects it" : "scores it", line);
		if (is_rej) {
			rejected++;
			continue;
		}
		char *p = line;
		for (size_t k = 0; k < sig->n_outputs; k++) {
			char *end;
			double got = strtod(p, &end), exp;
			bool has = ds_get_f64(want, col[k], i, &exp);
			if (!has)
				exp = NAN;
			if (isnan(exp) != isnan(got) ||
			    (!isnan(exp) && !(fabs(got - exp) <= 1e-9 * (1 + fabs(exp)))))
				fail_msg("%s row %zu, %s: sluice %.17g, the C file %.17g", tag, i + 1,
					 sig->outputs[k], exp, got);
			p = *end == ',' ? end + 1 : end;
		}
	}
	fclose(f);
	free(col);
	ds_close(want);
	bundle_close(b);
	free(c_path);
	free(exe);
	free(csv);
	free(outp);
	return rejected;
}

/* Every operation with a C form, in front of a linear regression. */
static const char *const rich_ops =
	"[{\"filter\": \"(region is null or region != 'bad') and (visits is null or visits >= 0)\"},"
	" {\"op\": \"cast\", \"columns\": {\"vip\": \"int\"}},"
	" {\"op\": \"impute\", \"columns\": [\"amount\"], \"strategy\": \"median\"},"
	" {\"op\": \"impute\", \"columns\": [\"visits\"], \"strategy\": \"mode\"},"
	" {\"op\": \"impute\", \"columns\": [\"region\"], \"strategy\": \"constant\", \"value\": \"north\"},"
	" {\"op\": \"impute\", \"columns\": [\"vip\"], \"strategy\": \"constant\", \"value\": 0},"
	" {\"op\": \"clip\", \"columns\": [\"visits\"], \"min\": 0, \"max\": 12},"
	" {\"derive\": {\"ratio\": \"if(visits > 0, amount / visits, amount)\","
	"   \"big\": \"amount > 50 and region in ['north', 'east']\","
	"   \"lvis\": \"log(visits + 1)\", \"r\": \"round(amount / 3, 1) + sqrt(abs(amount))\","
	"   \"m\": \"max(visits, 3) % 5\", \"east\": \"region == 'east' or tier == 'gold'\","
	"   \"vip2\": \"coalesce(vip, 0) * 2 - min(visits, 4)\", \"fl\": \"floor(amount / 7) - ceil(amount / 9)\"}},"
	" {\"op\": \"cast\", \"columns\": {\"big\": \"float\", \"east\": \"float\", \"r\": \"int\"}},"
	" {\"op\": \"dates\", \"column\": \"signup\", \"parts\": [\"month\", \"weekday\", \"hour\", \"year\"],"
	"   \"cyclical\": [\"dayofyear\", \"hour\"], \"drop\": true},"
	" {\"op\": \"normalise\", \"columns\": [\"amount\", \"ratio\"]},"
	" {\"op\": \"encode\", \"columns\": [\"plan\"]},"
	" {\"op\": \"encode\", \"columns\": [\"tier\"], \"method\": \"ordinal\"},"
	" {\"op\": \"encode\", \"columns\": [\"visits\"], \"method\": \"onehot\"},"
	" {\"op\": \"encode\", \"columns\": [\"m\"], \"method\": \"hashing\", \"n_buckets\": 4},"
	" {\"op\": \"rename\", \"columns\": {\"lvis\": \"log_visits\"}},"
	" {\"op\": \"drop\", \"columns\": [\"id\"]}]";

static void test_linear_with_every_op(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = tu_customers(300, false), *b = tu_customers(120, true);
	char *tf, *data, *model, *bund;

	(void)state;
	if (!have_cc()) {
		tu_rmdir(dir);
		skip();
	}
	data = fit(dir, "rich", a, rich_ops, &tf);
	model = train(dir, "rich", "train.linear", data,
		      "{\"target\": \"y\", \"exclude\": [\"label\", \"kind\"], \"method\": \"ridge\","
		      " \"alpha\": 0.1}");
	bund = bundle_of(dir, "rich", model, tf);
	/* Rows 6, 25, 27, 44 ... are rejected: region 'bad' or negative visits. */
	size_t rej = export_and_compare(dir, "rich", bund, b);
	assert_true(rej >= 5 && rej < 20);
	free(tf);
	free(data);
	free(model);
	free(bund);
	ds_close(a);
	ds_close(b);
	tu_rmdir(dir);
}

static void test_classifiers(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = tu_customers(300, false), *b = tu_customers(120, true);
	char *tf, *data, *model, *bund, *raw;

	(void)state;
	if (!have_cc()) {
		tu_rmdir(dir);
		skip();
	}
	raw = path_in(dir, "raw.train");
	assert_int_equal(ds_table_write(a, raw), 0);
	/* Binary logistic behind a transform, the label a string. */
	data = fit(dir, "bin", a,
		   "[{\"op\": \"impute\", \"columns\": [\"amount\", \"visits\"], \"strategy\": \"mean\"},"
		   " {\"op\": \"encode\", \"columns\": [\"region\"]},"
		   " {\"op\": \"normalise\", \"columns\": [\"amount\"], \"method\": \"minmax\"}]",
		   &tf);
	model = train(dir, "bin", "train.logistic", data,
		      "{\"target\": \"label\", \"features\": [\"amount\", \"visits\", \"region_north\","
		      " \"region_east\", \"plan\"]}");
	bund = bundle_of(dir, "bin", model, tf);
	assert_int_equal(export_and_compare(dir, "bin", bund, b), 0);
	free(tf), free(data), free(model), free(bund);
	/* Multiclass logistic without a transform: a string input as the model's own code. */
	b = (ds_close(b), tu_customers(120, false));
	model = train(dir, "multi", "train.logistic", raw,
		      "{\"target\": \"kind\", \"features\": [\"amount\", \"visits\", \"region\"]}");
	export_and_compare(dir, "multi", model, b);
	free(model);
	/* Naive Bayes, gaussian (missing values left out of the sum) and bernoulli. */
	model = train(dir, "gnb", "train.naive_bayes", raw,
		      "{\"target\": \"kind\", \"kind\": \"gaussian\", \"features\": [\"amount\", \"visits\"]}");
	export_and_compare(dir, "gnb", model, b);
	free(model);
	model = train(dir, "bnb", "train.naive_bayes", raw,
		      "{\"target\": \"label\", \"kind\": \"bernoulli\", \"features\": [\"amount\", \"visits\"],"
		      " \"binarize\": 40}");
	export_and_compare(dir, "bnb", model, b);
	free(model);
	free(raw);
	ds_close(a);
	ds_close(b);
	tu_rmdir(dir);
}

static void test_anomaly_forecast_baseline(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = tu_customers(300, false), *b = tu_customers(120, true), *panel, *ask;
	char *raw, *model, *pp;
	ds_builder *bld;

	(void)state;
	if (!have_cc()) {
		tu_rmdir(dir);
		skip();
	}
	raw = path_in(dir, "raw.train");
	assert_int_equal(ds_table_write(a, raw), 0);
	/* An isolation forest with string splits; new rows with unseen and missing values. */
	model = train(dir, "if", "train.iforest", raw,
		      "{\"features\": [\"amount\", \"visits\", \"region\", \"tier\"], \"trees\": 30,"
		      " \"seed\": 7}");
	export_and_compare(dir, "if", model, b);
	free(model);

	/* Forecasts: a lookup by (store, h), with unknown stores and hs out of range. */
	assert_int_equal(ds_builder_new(&bld), 0);
	assert_int_equal(ds_builder_add_col(bld, "store", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(bld, "t", DS_TIMESTAMP, NULL), 0);
	assert_int_equal(ds_builder_add_col(bld, "sales", DS_FLOAT64, NULL), 0);
	for (int s = 0; s < 3; s++)
		for (int m = 0; m < 36; m++) {
			char st[2] = {(char)('a' + s), 0};
			int64_t us;
			char when[32];
			snprintf(when, sizeof when, "%04d-%02d-01", 2020 + m / 12, m % 12 + 1);
			assert_true(ds_parse_timestamp(when, strlen(when), &us));
			assert_int_equal(ds_append_str(bld, 0, st, 1), 0);
			assert_int_equal(ds_append_i64(bld, 1, us), 0);
			assert_int_equal(ds_append_f64(bld, 2, 100 + 10 * s + 5 * sin(m * 0.52) + m), 0);
		}
	assert_int_equal(ds_builder_finish(bld, &panel), 0);
	ds_builder_free(bld);
	pp = path_in(dir, "panel");
	assert_int_equal(ds_table_write(panel, pp), 0);
	model = train(dir, "fc", "train.forecast", pp,
		      "{\"target\": \"sales\", \"time\": \"t\", \"by\": \"store\", \"horizon\": 6,"
		      " \"season\": 12, \"method\": \"auto\"}");
	assert_int_equal(ds_builder_new(&bld), 0);
	assert_int_equal(ds_builder_add_col(bld, "store", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(bld, "h", DS_INT64, NULL), 0);
	static const char *const stores[] = {"a", "b", "c", "z"};
	for (int s = 0; s < 4; s++)
		for (int h = -1; h <= 8; h++) {
			assert_int_equal(ds_append_str(bld, 0, stores[s], 1), 0);
			assert_int_equal(ds_append_i64(bld, 1, h), 0);
		}
	assert_int_equal(ds_builder_finish(bld, &ask), 0);
	ds_builder_free(bld);
	export_and_compare(dir, "fc", model, ask);
	free(model);

	/* The baseline: the same answer for every row. */
	{
		ml_frame fr;
		ml_frame_opts fo = {.target = "y", .features = (const char *const[]){"amount"},
				    .n_features = 1, .step = "test"};
		ml_model *bm;
		char *bp = path_in(dir, "base.model");
		assert_int_equal(ml_frame_build(a, &fo, &fr), 0);
		assert_int_equal(ml_baseline_fit(&fr, "median", &bm), 0);
		assert_int_equal(ml_model_save(bm, NULL, bp), 0);
		export_and_compare(dir, "base", bp, b);
		ml_model_free(bm);
		ml_frame_free(&fr);
		free(bp);
	}
	free(pp);
	free(raw);
	ds_close(panel);
	ds_close(ask);
	ds_close(a);
	ds_close(b);
	tu_rmdir(dir);
}

/* Gradient-boosted trees: numeric and categorical splits, missing values to their side. */
static void test_gbdt(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = tu_customers(300, false), *b = tu_customers(120, true);
	char *raw, *tf, *data, *model, *bund;

	(void)state;
	if (!have_cc()) {
		tu_rmdir(dir);
		skip();
	}
	raw = path_in(dir, "raw.train");
	assert_int_equal(ds_table_write(a, raw), 0);
	/* Binary, behind a transform, with a string feature split by category. */
	data = fit(dir, "gb", a, "[{\"op\": \"clip\", \"columns\": [\"visits\"], \"max\": 12}]",
		   &tf);
	model = train(dir, "gb", "train.gbdt", data,
		      "{\"target\": \"label\", \"features\": [\"amount\", \"visits\", \"region\","
		      " \"tier\"], \"rounds\": 25, \"max_depth\": 4}");
	bund = bundle_of(dir, "gb", model, tf);
	export_and_compare(dir, "gb", bund, b);
	free(tf), free(data), free(model), free(bund);
	/* Multiclass and regression on the raw table. */
	model = train(dir, "gm", "train.gbdt", raw,
		      "{\"target\": \"kind\", \"features\": [\"amount\", \"visits\", \"plan\"],"
		      " \"rounds\": 10, \"max_depth\": 3}");
	export_and_compare(dir, "gm", model, b);
	free(model);
	model = train(dir, "gr", "train.gbdt", raw,
		      "{\"target\": \"y\", \"features\": [\"amount\", \"visits\", \"region\"],"
		      " \"rounds\": 30, \"growth\": \"leafwise\", \"max_leaves\": 12}");
	export_and_compare(dir, "gr", model, b);
	free(model);
	free(raw);
	ds_close(a);
	ds_close(b);
	tu_rmdir(dir);
}

/* What has no C form is refused, named; nothing is written. */
static void test_refusals(void **state)
{
	const char *dir = tu_tmpdir();
	ds_table *a = tu_customers(120, false);
	static const struct {
		const char *ops, *want;
	} cases[] = {
		{"[{\"op\": \"text\", \"column\": \"tier\", \"output\": \"counts\"}]", "text"},
		{"[{\"op\": \"lag\", \"column\": \"amount\", \"order_by\": \"signup\"}]", "lag and rolling"},
		{"[{\"derive\": {\"up\": \"len(region) * 1.0\"}}]", "len has no C form"},
		{"[{\"op\": \"encode\", \"columns\": [\"region\"], \"method\": \"hashing\"}]",
		 "hashing strings"},
		{"[{\"op\": \"cast\", \"columns\": {\"visits\": \"string\"}},"
		 " {\"op\": \"encode\", \"columns\": [\"visits\"]}]",
		 "cast to or from string"},
		{"[{\"filter\": \"region < 'm'\"}]", "ordering strings"},
	};

	(void)state;
	for (size_t k = 0; k < SL__ARRAY_LEN(cases); k++) {
		char tag[16], *tf, *data, *model, *bund, *c_path;
		snprintf(tag, sizeof tag, "r%zu", k);
		data = fit(dir, tag, a, cases[k].ops, &tf);
		model = train(dir, tag, "train.linear", data,
			      "{\"target\": \"y\", \"features\": [\"amount\"]}");
		bund = bundle_of(dir, tag, model, tf);
		c_path = path_in(dir, "refused.c");
		assert_int_equal(export_c_file(bund, NULL, c_path), SL_EUNSUP);
		if (!strstr(sl_errmsg(), cases[k].want))
			fail_msg("case %zu: '%s' does not name '%s'", k, sl_errmsg(), cases[k].want);
		assert_false(sl__is_file(c_path));
		free(tf), free(data), free(model), free(bund), free(c_path);
	}
	ds_close(a);
	tu_rmdir(dir);
}

/* Literals read back exactly; strings escape what C would misread. */
static void test_literals(void **state)
{
	static const double vals[] = {0.1, -0.0, 1.0, 1e-310, 1.7976931348623157e308, 3.0 / 7};
	sl__cw w;

	(void)state;
	sl__cw_init(&w);
	for (size_t i = 0; i < SL__ARRAY_LEN(vals); i++) {
		sl__buf_reset(&w.b);
		sl__cw_double(&w, vals[i]);
		assert_true(strpbrk(w.b.data, ".e") != NULL);
		double back = strtod(w.b.data, NULL);
		assert_memory_equal(&back, &vals[i], sizeof back);
	}
	sl__buf_reset(&w.b);
	sl__cw_double(&w, -INFINITY);
	assert_string_equal(w.b.data, "-INFINITY");
	sl__buf_reset(&w.b);
	sl__cw_string(&w, "a\"b\\c?\?=\n\xc3\xa9", 11);
	assert_string_equal(w.b.data, "\"a\\\"b\\\\c\\?\\?=\\012\\303\\251\"");
	assert_int_equal(w.rc, 0);
	sl__cw_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_linear_with_every_op),
		cmocka_unit_test(test_classifiers),
		cmocka_unit_test(test_anomaly_forecast_baseline),
		cmocka_unit_test(test_gbdt),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
