/*
 * The validate step, run as the orchestrator runs it (a step_ctx built by
 * hand, inputs and outputs in a temporary directory): schema inference,
 * each rule type passing and failing with both severities, missing and
 * extra columns, bad schema files and options, drift against a reference
 * profile from an earlier run, and byte-identical outputs on a rerun.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/dataset.h"
#include "steps/step.h"
#include "testutil.h"

typedef struct vres {
	int rc;
	char *log;
	char *err;
	json_t *report;
	json_t *schema;
	json_t *metrics;
} vres;

static char *slurp(const char *path)
{
	sl__buf b;

	if (sl__read_file(path, 0, &b))
		return NULL;
	return sl__buf_detach(&b);
}

/*
 * Runs validate on data with optional schema and reference inputs and the
 * options in with_json; outputs go to DIR/TAG.{data,schema,profile,report}.
 */
static vres run_validate(const char *dir, const char *tag, const char *data,
			 const char *schema_in, const char *ref_in, const char *with_json)
{
	const step_def *def = step_find("validate");
	const char *in_names[3], *in_paths[3];
	const char *out_names[] = {"data", "schema", "profile", "report"};
	char *out_paths[4];
	size_t n_in = 0;
	step_ctx ctx;
	vres r;
	size_t loglen = 0;
	json_error_t je;

	memset(&r, 0, sizeof r);
	assert_non_null(def);
	in_names[n_in] = "data";
	in_paths[n_in++] = data;
	if (schema_in) {
		in_names[n_in] = "schema";
		in_paths[n_in++] = schema_in;
	}
	if (ref_in) {
		in_names[n_in] = "reference";
		in_paths[n_in++] = ref_in;
	}
	for (size_t i = 0; i < 4; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s.%s", tag, out_names[i]);
		out_paths[i] = tu_path(dir, name);
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.def = def;
	ctx.step_name = "check";
	ctx.pipeline_dir = dir;
	ctx.workdir = dir;
	ctx.with = json_loads(with_json ? with_json : "{}", 0, &je);
	assert_non_null(ctx.with);
	ctx.n_inputs = n_in;
	ctx.input_names = in_names;
	ctx.input_paths = in_paths;
	ctx.n_outputs = 4;
	ctx.output_names = out_names;
	ctx.output_paths = (const char *const *)out_paths;
	ctx.metrics = json_object();
	ctx.out_meta = json_object();
	ctx.log = open_memstream(&r.log, &loglen);
	assert_non_null(ctx.log);

	/* The options checked and defaults filled in, as the spec parser does. */
	{
		step_problem pb;
		r.rc = step_opts_check(def, ctx.with, NULL, in_names, n_in, &pb);
		if (r.rc)
			sl__err(r.rc, "with.%s: %s", pb.path, pb.msg);
	}
	if (!r.rc)
		r.rc = tu_step_call(&ctx);
	r.err = strdup(sl_errmsg());
	fclose(ctx.log);
	r.report = json_load_file(out_paths[3], 0, NULL);
	r.schema = json_load_file(out_paths[1], 0, NULL);
	r.metrics = ctx.metrics;
	json_decref(ctx.with);
	json_decref(ctx.out_meta);
	for (size_t i = 0; i < 4; i++)
		free(out_paths[i]);
	return r;
}

static void vres_free(vres *r)
{
	free(r->log);
	free(r->err);
	json_decref(r->report);
	json_decref(r->schema);
	json_decref(r->metrics);
}

/* The report's entry for (rule, column), or NULL. */
static json_t *find_rule(const vres *r, const char *rule, const char *column)
{
	json_t *rules = json_object_get(r->report, "rules"), *e;
	size_t i;

	json_array_foreach(rules, i, e) {
		if (!strcmp(json_string_value(json_object_get(e, "rule")), rule) &&
		    json_is_string(json_object_get(e, "column")) &&
		    !strcmp(json_string_value(json_object_get(e, "column")), column))
			return e;
	}
	return NULL;
}

static bool rule_passed(const vres *r, const char *rule, const char *column)
{
	json_t *e = find_rule(r, rule, column);

	if (!e)
		fail_msg("no rule %s on %s", rule, column);
	return json_is_true(json_object_get(e, "passed"));
}

static json_int_t report_int(const vres *r, const char *key)
{
	return json_integer_value(json_object_get(r->report, key));
}

static double metric(const vres *r, const char *key)
{
	return json_number_value(json_object_get(r->metrics, key));
}

/* ---- data ---------------------------------------------------------------- */

/* 40 rows: id unique, x float with 4 nulls, cat of three values, flag. */
static char *write_basic(const char *dir, const char *name, double shift, const char *extra_cat)
{
	char *path = tu_path(dir, name);
	ds_builder *b;
	const char *cats[] = {"a", "b", "c"};

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "id", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "x", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "cat", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "flag", DS_BOOL, NULL), 0);
	for (int i = 0; i < 40; i++) {
		const char *c = (extra_cat && i % 4 == 0) ? extra_cat : cats[i % 3];
		assert_int_equal(ds_append_i64(b, 0, i), 0);
		if (i % 10 == 3)
			assert_int_equal(ds_append_null(b, 1), 0);
		else
			assert_int_equal(ds_append_f64(b, 1, shift + (double)((i * 7) % 40) / 4), 0);
		assert_int_equal(ds_append_str(b, 2, c, strlen(c)), 0);
		assert_int_equal(ds_append_bool(b, 3, i % 5 == 0), 0);
	}
	assert_int_equal(ds_builder_write(b, path), 0);
	ds_builder_free(b);
	return path;
}

static char *write_rules_data(const char *dir)
{
	char *path = tu_path(dir, "rules.ds");
	ds_builder *b;
	const int64_t id[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 9};
	const int64_t age[] = {10, 20, -1, 30, 130, 40, 50, 60, 70, 80};
	const char *color[] = {"red", "green", "blue", "red", "purple",
			       "red", "green", "blue", "red", "green"};

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "id", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "age", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "email", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "color", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "score", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "junk", DS_INT64, NULL), 0);
	for (int i = 0; i < 10; i++) {
		const char *email = i == 6 ? "not-an-email" : "ann@example.com";
		assert_int_equal(ds_append_i64(b, 0, id[i]), 0);
		assert_int_equal(ds_append_i64(b, 1, age[i]), 0);
		assert_int_equal(ds_append_str(b, 2, email, strlen(email)), 0);
		assert_int_equal(ds_append_str(b, 3, color[i], strlen(color[i])), 0);
		if (i % 2)
			assert_int_equal(ds_append_null(b, 4), 0);
		else
			assert_int_equal(ds_append_f64(b, 4, i * 0.5), 0);
		assert_int_equal(ds_append_i64(b, 5, 0), 0);
	}
	assert_int_equal(ds_builder_write(b, path), 0);
	ds_builder_free(b);
	return path;
}

static const char rules_schema[] =
	"extra_columns: warn\n"
	"columns:\n"
	"  id: {type: int64, unique: true}\n"
	"  age: {type: int64, min: 0, max: 120}\n"
	"  email:\n"
	"    type: string\n"
	"    pattern: '[a-z]+@[a-z]+\\.com'\n"
	"  color: {categories: [red, green, blue]}\n"
	"  score: {type: float, max_missing: {value: 0.1, severity: warn}}\n"
	"  zip: {type: string}\n"
	"  note: {type: string, required: false}\n";

/* ---- tests --------------------------------------------------------------- */

static void test_infer(void **state)
{
	const char *dir = tu_tmpdir();
	char *data = write_basic(dir, "a.ds", 0, NULL);
	char *copy = tu_path(dir, "a.data");
	vres r;

	(void)state;
	r = run_validate(dir, "a", data, NULL, NULL, NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(r.report);
	assert_true(json_is_true(json_object_get(r.report, "passed")));
	assert_int_equal(report_int(&r, "errors"), 0);
	assert_int_equal(report_int(&r, "rows"), 40);
	assert_string_equal(json_string_value(json_object_get(r.report, "schema")), "inferred");
	assert_true(metric(&r, "rows") == 40 && metric(&r, "columns") == 4);
	assert_true(metric(&r, "errors") == 0 && metric(&r, "drifted_columns") == 0);

	/* The data output is the input, byte for byte. */
	char *x = slurp(data), *y = slurp(copy);
	sl__buf bx;
	assert_int_equal(sl__read_file(data, 0, &bx), 0);
	assert_non_null(y);
	assert_memory_equal(x, y, bx.len);
	sl__buf_free(&bx);
	sl__free(x);
	sl__free(y);

	/* What inference decided. */
	json_t *cols = json_object_get(r.schema, "columns");
	json_t *id = json_object_get(cols, "id"), *xc = json_object_get(cols, "x");
	json_t *cat = json_object_get(cols, "cat");
	assert_string_equal(json_string_value(json_object_get(r.schema, "format")), "sluice.schema");
	assert_string_equal(json_string_value(json_object_get(id, "type")), "int64");
	assert_true(json_is_true(json_object_get(id, "unique")));
	assert_true(json_number_value(json_object_get(id, "max_missing")) == 0);
	assert_true(json_number_value(json_object_get(xc, "max_missing")) == 0.2); /* 2 x 4/40 */
	json_t *xmin = json_object_get(xc, "min");
	assert_string_equal(json_string_value(json_object_get(xmin, "severity")), "warn");
	assert_true(json_number_value(json_object_get(xmin, "value")) == 0);
	json_t *cv = json_object_get(cat, "categories");
	assert_int_equal(json_array_size(cv), 3);
	assert_string_equal(json_string_value(json_array_get(cv, 0)), "a");
	assert_null(json_object_get(cat, "unique"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(cols, "flag"), "type")),
			    "bool");

	/* The readable report is in the log. */
	assert_non_null(strstr(r.log, "rules:"));
	assert_non_null(strstr(r.log, "all rules passed"));
	assert_non_null(strstr(r.log, "profile:"));
	vres_free(&r);
	free(copy);
	free(data);
	tu_rmdir(dir);
}

static void test_rules(void **state)
{
	const char *dir = tu_tmpdir();
	char *data = write_rules_data(dir);
	char *sch = tu_path(dir, "schema.yaml");
	vres r;

	(void)state;
	tu_write(sch, rules_schema);
	r = run_validate(dir, "r", data, NULL, NULL, "{\"schema\": \"schema.yaml\"}");
	assert_int_equal(r.rc, SL_EGATE);
	assert_non_null(r.report);
	assert_false(json_is_true(json_object_get(r.report, "passed")));
	assert_int_equal(report_int(&r, "errors"), 6);
	assert_int_equal(report_int(&r, "warnings"), 2);
	assert_true(metric(&r, "errors") == 6 && metric(&r, "warnings") == 2);

	assert_true(rule_passed(&r, "type", "id"));
	assert_false(rule_passed(&r, "unique", "id"));
	assert_true(rule_passed(&r, "type", "age"));
	assert_false(rule_passed(&r, "min", "age"));
	assert_false(rule_passed(&r, "max", "age"));
	assert_false(rule_passed(&r, "pattern", "email"));
	assert_false(rule_passed(&r, "categories", "color"));
	assert_false(rule_passed(&r, "max_missing", "score"));
	assert_true(rule_passed(&r, "type", "score")); /* float accepts float64 */
	assert_false(rule_passed(&r, "required", "zip"));
	assert_false(rule_passed(&r, "extra_column", "junk"));
	assert_null(find_rule(&r, "required", "note")); /* optional and absent */

	/* Observed and expected numbers. */
	json_t *mn = find_rule(&r, "min", "age");
	assert_int_equal(json_integer_value(json_object_get(mn, "observed")), -1);
	assert_int_equal(json_integer_value(json_object_get(mn, "expected")), 0);
	assert_int_equal(json_integer_value(json_object_get(mn, "violations")), 1);
	assert_string_equal(json_string_value(json_object_get(mn, "severity")), "error");
	json_t *mm = find_rule(&r, "max_missing", "score");
	assert_string_equal(json_string_value(json_object_get(mm, "severity")), "warn");
	assert_true(json_number_value(json_object_get(mm, "observed")) == 0.5);
	json_t *cat = find_rule(&r, "categories", "color");
	assert_string_equal(json_string_value(json_array_get(json_object_get(cat, "observed"), 0)),
			    "purple");
	json_t *un = find_rule(&r, "unique", "id");
	assert_int_equal(json_integer_value(json_object_get(un, "violations")), 1);

	/* Each failed value rule names the first offending rows (from 1). */
	static const struct {
		const char *rule, *col;
		int rows[5];
	} want[] = {{"unique", "id", {10}},       {"min", "age", {3}},
		    {"max", "age", {5}},          {"pattern", "email", {7}},
		    {"categories", "color", {5}}, {"max_missing", "score", {2, 4, 6, 8, 10}}};
	for (size_t k = 0; k < SL__ARRAY_LEN(want); k++) {
		json_t *rows = json_object_get(find_rule(&r, want[k].rule, want[k].col), "rows");
		size_t n = 0;
		while (n < 5 && want[k].rows[n])
			n++;
		assert_int_equal(json_array_size(rows), n);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(json_integer_value(json_array_get(rows, i)), want[k].rows[i]);
	}
	assert_null(json_object_get(find_rule(&r, "type", "age"), "rows"));
	assert_non_null(strstr(r.log, "5 of 10 values missing (0.5) exceeds maximum 0.1; rows 2, 4, 6, 8 and 10"));

	/* The failure names every violated error rule with its numbers. */
	assert_non_null(strstr(r.err, "6 errors"));
	assert_non_null(strstr(r.err, "[unique] column 'id': 9 distinct of 10 values (1 repeated); row 10"));
	assert_non_null(strstr(r.err, "1 values below the minimum 0 (smallest -1); row 3"));
	assert_non_null(strstr(r.err, "1 values above the maximum 120 (largest 130); row 5"));
	assert_non_null(strstr(r.err, "'not-an-email'; row 7"));
	assert_non_null(strstr(r.err, "'not-an-email'"));
	assert_non_null(strstr(r.err, "'purple'"));
	assert_non_null(strstr(r.err, "column 'zip' is missing"));
	assert_null(strstr(r.err, "score")); /* a warning, not an error */
	assert_non_null(strstr(r.log, "WARN  max_missing"));
	assert_non_null(strstr(r.log, "ERROR pattern"));
	vres_free(&r);

	/* The same rules as warnings: the step passes and reports them. */
	r = run_validate(dir, "w", data, NULL, NULL,
			 "{\"schema\": \"schema.yaml\", \"severity\": \"warn\"}");
	assert_int_equal(r.rc, 0);
	assert_int_equal(report_int(&r, "errors"), 0);
	assert_int_equal(report_int(&r, "warnings"), 8);
	assert_true(json_is_true(json_object_get(r.report, "passed")));
	vres_free(&r);

	/* The global max_missing fills in columns without their own. */
	tu_write(sch, "extra_columns: ignore\ncolumns:\n  score: {}\n  id: {max_missing: 1}\n");
	r = run_validate(dir, "m", data, NULL, NULL,
			 "{\"schema\": \"schema.yaml\", \"max_missing\": 0.2}");
	assert_int_equal(r.rc, SL_EGATE);
	assert_false(rule_passed(&r, "max_missing", "score"));
	assert_true(rule_passed(&r, "max_missing", "id"));
	assert_null(find_rule(&r, "extra_column", "junk"));
	vres_free(&r);
	free(sch);
	free(data);
	tu_rmdir(dir);
}

/* unique names the rows that repeat an earlier value, for text and floats too. */
static void test_repeated_rows(void **state)
{
	const char *dir = tu_tmpdir();
	char *data = tu_path(dir, "u.ds"), *sch = tu_path(dir, "u.yaml");
	const char *sv[] = {"a", "b", "a", "c", "b", "d"};
	const double fv[] = {1.5, NAN, 2, 1.5, NAN, -0.0};
	ds_builder *b;
	vres r;

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "s", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "f", DS_FLOAT64, NULL), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(ds_append_str(b, 0, sv[i], 1), 0);
		assert_int_equal(ds_append_f64(b, 1, i == 2 ? 0.0 : fv[i]), 0);
	}
	assert_int_equal(ds_builder_write(b, data), 0);
	ds_builder_free(b);
	tu_write(sch, "columns:\n  s: {unique: true}\n  f: {unique: true}\n");
	r = run_validate(dir, "u", data, NULL, NULL, "{\"schema\": \"u.yaml\"}");
	assert_int_equal(r.rc, SL_EGATE);
	json_t *rs = json_object_get(find_rule(&r, "unique", "s"), "rows");
	assert_int_equal(json_array_size(rs), 2);
	assert_int_equal(json_integer_value(json_array_get(rs, 0)), 3);
	assert_int_equal(json_integer_value(json_array_get(rs, 1)), 5);
	/* 1.5 again in row 4, and -0 equals the 0 of row 3; NaN is missing. */
	json_t *rf = json_object_get(find_rule(&r, "unique", "f"), "rows");
	assert_int_equal(json_array_size(rf), 2);
	assert_int_equal(json_integer_value(json_array_get(rf, 0)), 4);
	assert_int_equal(json_integer_value(json_array_get(rf, 1)), 6);
	assert_non_null(strstr(r.err, "(2 repeated); rows 3 and 5"));
	vres_free(&r);
	free(data);
	free(sch);
	tu_rmdir(dir);
}

static void test_type_and_timestamps(void **state)
{
	const char *dir = tu_tmpdir();
	char *data = tu_path(dir, "t.ds"), *sch = tu_path(dir, "s.json");
	ds_builder *b;
	vres r;

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "when", DS_TIMESTAMP, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "n", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "code", DS_INT64, NULL), 0);
	for (int i = 0; i < 5; i++) {
		int64_t us;
		char ts[32];
		snprintf(ts, sizeof ts, "2024-05-0%dT00:00:00Z", i + 1);
		assert_true(ds_parse_timestamp(ts, strlen(ts), &us));
		assert_int_equal(ds_append_i64(b, 0, us), 0);
		assert_int_equal(ds_append_f64(b, 1, i), 0);
		assert_int_equal(ds_append_i64(b, 2, i % 3), 0);
	}
	assert_int_equal(ds_builder_write(b, data), 0);
	ds_builder_free(b);
	tu_write(sch, "{\"columns\": {\"when\": {\"type\": \"timestamp\", \"min\": \"2024-05-02\","
		      " \"max\": \"2024-06-01T00:00:00Z\"}, \"n\": {\"type\": \"int\"},"
		      " \"code\": {\"categories\": [0, 1]}}}");
	r = run_validate(dir, "t", data, NULL, NULL, "{\"schema\": \"s.json\"}");
	assert_int_equal(r.rc, SL_EGATE);
	assert_false(rule_passed(&r, "min", "when"));
	assert_true(rule_passed(&r, "max", "when"));
	json_t *mn = find_rule(&r, "min", "when");
	assert_string_equal(json_string_value(json_object_get(mn, "observed")), "2024-05-01T00:00:00Z");
	assert_false(rule_passed(&r, "type", "n")); /* float64 is not int64 */
	assert_false(rule_passed(&r, "categories", "code"));
	json_t *cat = find_rule(&r, "categories", "code");
	assert_int_equal(json_integer_value(json_object_get(cat, "violations")), 1);
	assert_non_null(strstr(r.err, "column 'n' is float64, expected int64"));
	/* The checked schema is written back in canonical form. */
	json_t *when = json_object_get(json_object_get(r.schema, "columns"), "when");
	assert_string_equal(json_string_value(json_object_get(when, "min")), "2024-05-02T00:00:00Z");
	vres_free(&r);
	free(sch);
	free(data);
	tu_rmdir(dir);
}

static void expect_bad(const char *dir, const char *data, const char *schema_text,
		       const char *with, const char *needle)
{
	char *sch = tu_path(dir, "bad.yaml");
	vres r;

	if (schema_text)
		tu_write(sch, schema_text);
	r = run_validate(dir, "bad", data, NULL, NULL, with);
	assert_true(r.rc < 0);
	if (!strstr(r.err, needle))
		fail_msg("expected '%s' in: %s", needle, r.err);
	assert_non_null(strstr(r.log, needle));
	vres_free(&r);
	free(sch);
}

static void expect_bad_option(const char *dir, const char *data, const char *with,
			      const char *needle)
{
	vres r = run_validate(dir, "bad", data, NULL, NULL, with);

	assert_int_equal(r.rc, SL_EINVAL);
	if (!strstr(r.err, needle))
		fail_msg("expected '%s' in: %s", needle, r.err);
	assert_string_equal(r.log ? r.log : "", "");
	vres_free(&r);
}

static void test_bad_input(void **state)
{
	const char *dir = tu_tmpdir();
	char *data = write_basic(dir, "a.ds", 0, NULL);
	const char *w = "{\"schema\": \"bad.yaml\"}";

	(void)state;
	/* Schema files: every error at its FILE:LINE:COL. */
	expect_bad(dir, data, "columns:\n  x: [unclosed\n", w, "bad.yaml:3:1");
	expect_bad(dir, data, "columns:\n  x: {minimum: 3}\n", w,
		   "bad.yaml:2:7: columns.x.minimum: unknown rule 'minimum'");
	expect_bad(dir, data, "columns:\n  x: {type: integr}\n", w,
		   "bad.yaml:2:13: columns.x.type: unknown type 'integr'");
	expect_bad(dir, data, "columns:\n  cat: {pattern: 'a(b'}\n", w,
		   "bad.yaml:2:18: columns.cat.pattern: invalid regular expression 'a(b'");
	expect_bad(dir, data, "columns:\n  x: {max_missing: 2}\n", w,
		   "bad.yaml:2:20: columns.x.max_missing: expected a fraction");
	expect_bad(dir, data, "columns:\n  x: {min: 5, max: 1}\n", w,
		   "bad.yaml:2:20: columns.x.max: max is less than min");
	expect_bad(dir, data, "colums: {}\n", w, "bad.yaml:1:1: colums: unknown key 'colums'");
	expect_bad(dir, data, "columns:\n  x: {min: {value: 1, severity: loud}}\n", w,
		   "bad.yaml:2:33: columns.x.min.severity: expected error, warn or ignore");
	expect_bad(dir, data, "columns:\n  \"a.b\": {min: .nan}\n", w,
		   "bad.yaml:2:16: columns[\"a.b\"].min: a bound cannot be NaN");
	expect_bad(dir, data, NULL, "{\"schema\": \"missing.yaml\"}", "missing.yaml");
	/* Options: caught before the step runs. */
	expect_bad_option(dir, data, "{\"drift\": {\"psi\": 1}}",
			  "with.drift.psi: unknown option 'psi' in drift of validate (did you mean "
			  "'psi_threshold'?)");
	expect_bad_option(dir, data, "{\"drift\": {\"ks_pvalue\": 3}}",
			  "with.drift.ks_pvalue: option 'drift.ks_pvalue' of validate must be in [0, 1], "
			  "not 3");
	expect_bad_option(dir, data, "{\"severity\": \"fatal\"}",
			  "with.severity: option 'severity' of validate must be one of error or warn, not "
			  "'fatal'");
	expect_bad_option(dir, data, "{\"bins\": 0}",
			  "with.bins: option 'bins' of validate must be in [1, 1000], not 0");
	expect_bad_option(dir, data, "{\"drift\": {\"numeric_test\": \"kss\"}}",
			  "not 'kss' (did you mean 'ks'?)");

	/* A data input that is not a dataset. */
	char *junk = tu_path(dir, "junk.ds");
	tu_write(junk, "this is not a dataset");
	vres r = run_validate(dir, "j", junk, NULL, NULL, NULL);
	assert_true(r.rc < 0);
	assert_non_null(strstr(r.err, "inputs.data"));
	vres_free(&r);

	/* A reference that is not a profile. */
	r = run_validate(dir, "p", data, NULL, junk, NULL);
	assert_true(r.rc < 0);
	assert_non_null(strstr(r.err, "inputs.reference"));
	vres_free(&r);
	free(junk);
	free(data);
	tu_rmdir(dir);
}

static void test_schema_input_and_drift(void **state)
{
	const char *dir = tu_tmpdir();
	char *ref = write_basic(dir, "ref.ds", 0, NULL);
	char *same = write_basic(dir, "same.ds", 0, NULL);
	char *moved = write_basic(dir, "moved.ds", 8, "zzz");
	char *schema_out = tu_path(dir, "ref.schema"), *profile_out = tu_path(dir, "ref.profile");
	vres r;

	(void)state;
	r = run_validate(dir, "ref", ref, NULL, NULL, NULL);
	assert_int_equal(r.rc, 0);
	vres_free(&r);

	/* Same data against its own schema and profile: nothing to report. */
	r = run_validate(dir, "same", same, schema_out, profile_out, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(json_string_value(json_object_get(r.report, "schema")), "input");
	assert_int_equal(report_int(&r, "warnings"), 0);
	json_t *drift = json_object_get(r.report, "drift");
	assert_int_equal(json_array_size(drift), 4);
	json_t *d0 = json_array_get(drift, 0);
	assert_string_equal(json_string_value(json_object_get(d0, "column")), "id");
	assert_false(json_is_true(json_object_get(d0, "drifted")));
	assert_true(json_number_value(json_object_get(json_object_get(d0, "distances"), "psi")) == 0);
	assert_non_null(strstr(r.log, "drift against the reference: 4 columns tested, 0 drifted"));
	vres_free(&r);

	/* Shifted numbers and a new category: the schema fails (categories,
	 * range warnings) and drift is reported as warnings by default. */
	r = run_validate(dir, "moved", moved, schema_out, profile_out, NULL);
	assert_int_equal(r.rc, SL_EGATE);
	assert_false(rule_passed(&r, "categories", "cat"));
	assert_false(rule_passed(&r, "max", "x"));
	assert_false(rule_passed(&r, "drift", "x"));
	assert_false(rule_passed(&r, "drift", "cat"));
	assert_true(rule_passed(&r, "drift", "id"));
	assert_true(metric(&r, "drifted_columns") == 2);
	json_t *dx = json_array_get(json_object_get(r.report, "drift"), 1);
	assert_string_equal(json_string_value(json_object_get(dx, "column")), "x");
	assert_string_equal(json_string_value(json_object_get(dx, "test")), "ks");
	assert_true(json_is_true(json_object_get(dx, "drifted")));
	assert_true(json_number_value(json_object_get(dx, "p_value")) < 0.05);
	json_t *dc = json_array_get(json_object_get(r.report, "drift"), 2);
	assert_string_equal(json_string_value(json_object_get(dc, "test")), "chi2");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(dc, "distances"),
							    "new_categories")), 1);
	assert_non_null(strstr(r.err, "'zzz'"));
	assert_null(strstr(r.err, "drift")); /* drift is a warning by default */
	vres_free(&r);

	/* Drift as an error, limited to one column. */
	r = run_validate(dir, "moved2", moved, NULL, profile_out,
			 "{\"infer\": false, \"drift\": {\"severity\": \"error\", \"columns\": [\"x\"]}}");
	assert_int_equal(r.rc, SL_EGATE);
	assert_int_equal(json_array_size(json_object_get(r.report, "drift")), 1);
	assert_int_equal(report_int(&r, "errors"), 1);
	assert_non_null(strstr(r.err, "[drift] column 'x': ks p-value"));
	vres_free(&r);

	/* Unknown drift column, and two schemas at once. */
	r = run_validate(dir, "bad", moved, NULL, profile_out,
			 "{\"drift\": {\"columns\": [\"nope\"]}}");
	assert_true(r.rc < 0);
	assert_non_null(strstr(r.err, "unknown column 'nope'"));
	vres_free(&r);
	char *sch = tu_path(dir, "s.yaml");
	tu_write(sch, "columns: {}\n");
	r = run_validate(dir, "two", moved, schema_out, NULL, "{\"schema\": \"s.yaml\"}");
	assert_true(r.rc < 0);
	assert_non_null(strstr(r.err, "not both"));
	vres_free(&r);
	free(sch);
	free(schema_out);
	free(profile_out);
	free(ref);
	free(same);
	free(moved);
	tu_rmdir(dir);
}

static void test_deterministic(void **state)
{
	const char *dir = tu_tmpdir();
	char *data = write_basic(dir, "a.ds", 0, "q");
	const char *ext[] = {"schema", "profile", "report", "data"};
	vres r;

	(void)state;
	r = run_validate(dir, "one", data, NULL, NULL, "{\"bins\": 7}");
	assert_int_equal(r.rc, 0);
	vres_free(&r);
	char *prof = tu_path(dir, "one.profile");
	r = run_validate(dir, "two", data, NULL, NULL, "{\"bins\": 7}");
	vres_free(&r);
	for (size_t i = 0; i < SL__ARRAY_LEN(ext); i++) {
		char a[64], b[64];
		snprintf(a, sizeof a, "one.%s", ext[i]);
		snprintf(b, sizeof b, "two.%s", ext[i]);
		char *pa = tu_path(dir, a), *pb = tu_path(dir, b);
		char ha[SL__HASH_HEX_SIZE], hb[SL__HASH_HEX_SIZE];
		assert_int_equal(sl__sha256_file(pa, ha, NULL), 0);
		assert_int_equal(sl__sha256_file(pb, hb, NULL), 0);
		assert_string_equal(ha, hb);
		free(pa);
		free(pb);
	}
	/* And with drift in the report. */
	r = run_validate(dir, "three", data, NULL, prof, NULL);
	vres_free(&r);
	r = run_validate(dir, "four", data, NULL, prof, NULL);
	vres_free(&r);
	char *p3 = tu_path(dir, "three.report"), *p4 = tu_path(dir, "four.report");
	char *t3 = slurp(p3), *t4 = slurp(p4);
	assert_non_null(t3);
	assert_string_equal(t3, t4);
	sl__free(t3);
	sl__free(t4);
	free(p3);
	free(p4);
	free(prof);
	free(data);
	tu_rmdir(dir);
}

/* Every allocation failure is an ordinary error: no crash, no leak (ASan). */
static void test_out_of_memory(void **state)
{
	const char *dir = tu_fast_tmpdir();
	char *data = write_basic(dir, "a.ds", 0, "q");
	char *prof = tu_path(dir, "ref.profile");
	vres r, want;
	long n;

	(void)state;
	r = run_validate(dir, "ref", data, NULL, NULL, NULL);
	assert_int_equal(r.rc, 0);
	vres_free(&r);
	want = run_validate(dir, "want", data, NULL, prof, NULL);
	assert_int_equal(want.rc, 0);
	/* Every allocation from the Nth on fails, then only the Nth: each run
	 * is an error, or a success with exactly the reference's results (a
	 * failure that was ignored would show as a missing piece). */
	for (int once = 0; once < 2; once++) {
		tu_oom o = {0};
		o.once = once;
		for (n = 0; n < 100000 && !o.done; n++) {
			tu_oom_begin_step(&o, n);
			r = run_validate(dir, "oom", data, NULL, prof, NULL);
			tu_oom_end(&o, r.rc);
			if (r.rc && r.rc != SL_ENOMEM)
				fail_msg("run %ld: %s: %s", n, sl_err_name(r.rc), r.err);
			if (r.rc == 0 && (!json_equal(r.report, want.report) || !json_equal(r.schema, want.schema) ||
					  !json_equal(r.metrics, want.metrics)))
				fail_msg("run %ld succeeded with results unlike the reference's", n);
			vres_free(&r);
		}
		tu_oom_check(&o, 10);
	}
	vres_free(&want);
	free(prof);
	free(data);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_infer),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_repeated_rows),
		cmocka_unit_test(test_type_and_timestamps),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_schema_input_and_drift),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
