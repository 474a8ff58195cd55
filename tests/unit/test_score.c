/*
 * Batch scoring (model/score.h), the predict step and the package step:
 * a table scored at once equals its rows scored one at a time through the
 * bundle, rejected rows are marked in place, contributions add up to the
 * raw score, bad input is named by column and row, files in and out keep
 * a string's text; the bundle package writes carries its metrics, verdict
 * and lineage, and its loader refuses a flipped byte, a truncated file, a
 * newer format and, for single rows, a transform that needs history.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "dataset/transform.h"
#include "ml/ml.h"
#include "model/bundle.h"
#include "model/export_c.h"
#include "model/mfile.h"
#include "model/score.h"
#include "sluice/sluice.h"
#include "steps/step.h"
#include "testutil.h"

static const char *const ops_text =
	"[{\"filter\": \"(region is null or region != 'bad') and (visits is null or visits >= 0)\"},"
	" {\"op\": \"impute\", \"columns\": [\"amount\", \"visits\"], \"strategy\": \"median\"},"
	" {\"op\": \"encode\", \"columns\": [\"region\", \"plan\"]},"
	" {\"derive\": {\"per_visit\": \"amount / (visits + 1)\"}},"
	" {\"op\": \"dedupe\", \"columns\": [\"id\"]}]";

static const char *const ids[] = {
	"1111111111111111111111111111111111111111111111111111111111111111",
	"2222222222222222222222222222222222222222222222222222222222222222",
	"3333333333333333333333333333333333333333333333333333333333333333",
	"4444444444444444444444444444444444444444444444444444444444444444",
	"5555555555555555555555555555555555555555555555555555555555555555",
};

typedef struct parts {
	char *raw, *train, *tf, *model, *bundle;
} parts;

/* A transform fitted on the customer table and a model trained on its output, bundled. */
static parts make(const char *dir, const char *tag, const char *ops, const char *step,
		  const char *with_text)
{
	const char *in_names[] = {"train"}, *out_names[] = {"model"};
	ds_table *a = tu_customers(300, false), *out;
	json_t *j = json_loads(ops, 0, NULL), *with = json_loads(with_text, 0, NULL);
	transform *tr;
	tu_run r;
	parts p;
	char name[64];

	assert_non_null(j);
	assert_non_null(with);
	snprintf(name, sizeof name, "%s.raw", tag);
	p.raw = tu_path(dir, name);
	assert_int_equal(ds_table_write(a, p.raw), 0);
	if (transform_fit(j, "ops", a, &tr, &out))
		fail_msg("fit: %s", sl_errmsg());
	snprintf(name, sizeof name, "%s.tf", tag);
	p.tf = tu_path(dir, name);
	assert_int_equal(transform_save(tr, p.tf), 0);
	snprintf(name, sizeof name, "%s.train", tag);
	p.train = tu_path(dir, name);
	assert_int_equal(ds_table_write(out, p.train), 0);
	snprintf(name, sizeof name, "%s.model", tag);
	p.model = tu_path(dir, name);
	snprintf(name, sizeof name, "%s.bundle", tag);
	p.bundle = tu_path(dir, name);
	memset(&r, 0, sizeof r);
	r.in_ids = ids; /* the model records the dataset it learned from */
	const char *in_paths[] = {p.train}, *out_paths[] = {p.model};
	if (tu_run_step(&r, step, dir, with, in_names, in_paths, 1, out_names, out_paths, 1))
		fail_msg("%s: %s", step, sl_errmsg());
	if (bundle_write(p.model, p.tf, NULL, p.bundle))
		fail_msg("bundle: %s", sl_errmsg());
	tu_run_free(&r);
	transform_free(tr);
	ds_close(out);
	ds_close(a);
	json_decref(j);
	json_decref(with);
	return p;
}

static void parts_free(parts *p)
{
	free(p->raw);
	free(p->train);
	free(p->tf);
	free(p->model);
	free(p->bundle);
}

static size_t col(const ds_table *t, const char *name)
{
	size_t j;

	if (ds_col_find(t, name, &j))
		fail_msg("no column '%s'", name);
	return j;
}

/* Row i of a conformed table as values in the bundle's input order. */
static void row_values(const ds_table *t, size_t i, expr_value *v)
{
	for (size_t j = 0; j < ds_ncol(t); j++) {
		memset(&v[j], 0, sizeof v[j]);
		if (!ds_valid(ds_col_validity(t, j), i)) {
			v[j].null = true;
			continue;
		}
		switch (ds_col_type(t, j)) {
		case DS_FLOAT64: v[j].f = ds_col_f64(t, j)[i]; break;
		case DS_BOOL: v[j].i = ds_col_bool(t, j)[i]; break;
		case DS_STRING: v[j].s = ds_col_str(t, j, i, &v[j].len); break;
		default: v[j].i = ds_col_i64(t, j)[i]; break;
		}
	}
}

/* The table scored at once equals its rows scored one at a time, to the bit. */
static void test_batch_equals_rows(void **state)
{
	const char *dir = tu_tmpdir();
	parts p = make(dir, "lg", ops_text, "train.logistic",
		       "{\"target\": \"label\", \"exclude\": [\"id\", \"kind\", \"y\", \"tier\"]}");
	ds_table *rows = tu_customers(150, true), *ct, *out;
	score_opts o = {false, "rows"};
	score_stats st;
	bundle *b;
	bundle_row *r;
	expr_value v[32];
	double res[8];
	size_t rejected = 0;

	(void)state;
	assert_int_equal(bundle_open(p.bundle, BUNDLE_ROWS, &b), 0);
	assert_int_equal(score_table(b, rows, &o, &out, &st), 0);
	assert_int_equal(st.rows, 150);
	assert_int_equal(ds_nrow(out), 150);
	assert_int_equal(score_conform(b, rows, "rows", &ct), 0);
	assert_int_equal(bundle_row_new(b, &r), 0);
	size_t jrej = col(out, "rejected"), jno = col(out, "proba_no"), jyes = col(out, "proba_yes");
	size_t jpred = col(out, "prediction"), jid = col(out, "id");
	assert_int_equal(ds_col_type(out, jpred), DS_STRING);
	for (size_t i = 0; i < ds_nrow(rows); i++) {
		int rc;
		row_values(ct, i, v);
		rc = bundle_score_values(b, r, v, NULL, res);
		assert_true(rc == 0 || rc == TRANSFORM_REJECTED);
		/* Invariant 1: row i stays row i. */
		assert_int_equal(ds_col_i64(out, jid)[i], (int64_t)i);
		assert_int_equal(ds_col_bool(out, jrej)[i], rc == TRANSFORM_REJECTED);
		if (rc) {
			rejected++;
			assert_false(ds_valid(ds_col_validity(out, jyes), i));
			assert_null(ds_col_str(out, jpred, i, NULL));
			continue;
		}
		assert_memory_equal(&ds_col_f64(out, jno)[i], &res[0], sizeof res[0]);
		assert_memory_equal(&ds_col_f64(out, jyes)[i], &res[1], sizeof res[1]);
		assert_string_equal(ds_col_str(out, jpred, i, NULL), res[1] >= 0.5 ? "yes" : "no");
	}
	/* Rejected by the filter; a dedupe drops nothing when scoring. */
	assert_int_equal(st.rejected, rejected);
	assert_true(rejected >= 5 && rejected < 30);
	bundle_row_free(r);
	bundle_close(b);
	ds_close(ct);
	ds_close(out);
	ds_close(rows);
	parts_free(&p);
	tu_rmdir(dir);
}

/*
 * The same on a table of several blocks scored on every core, with a GBDT
 * (the blocked tree walk) classifying into three classes: through the
 * transform, and through a bundle without one whose input already
 * conforms (scored in place, not copied).
 */
static void test_blocks_equal_rows(void **state)
{
	const char *dir = tu_tmpdir();
	parts p = make(dir, "gb", ops_text, "train.gbdt",
		       "{\"target\": \"tier\", \"exclude\": [\"id\", \"label\", \"y\"], "
		       "\"rounds\": 7}");
	char *bare = tu_path(dir, "bare.bundle");
	ds_table *raw = tu_customers(2600, true), *coded = NULL;
	score_opts o = {false, "rows"};

	(void)state;
	if (bundle_write(p.model, NULL, NULL, bare))
		fail_msg("bundle: %s", sl_errmsg());
	for (int with_tf = 1; with_tf >= 0; with_tf--) {
		bundle *b;
		bundle_row *r;
		ds_table *rows, *ct, *out;
		expr_value v[32];
		double res[8];
		size_t scored = 0;
		assert_int_equal(bundle_open(with_tf ? p.bundle : bare, BUNDLE_ROWS, &b), 0);
		if (!with_tf) /* the transform's output: what the model takes */
			assert_int_equal(score_table(b, coded, &o, &out, NULL), 0);
		rows = with_tf ? raw : coded;
		if (with_tf)
			assert_int_equal(score_table(b, rows, &o, &out, NULL), 0);
		assert_int_equal(ds_nrow(out), ds_nrow(rows));
		assert_int_equal(score_conform(b, rows, "rows", &ct), 0);
		assert_int_equal(bundle_row_new(b, &r), 0);
		size_t k = bundle_model(b)->sig.n_outputs, jrej = col(out, "rejected");
		assert_int_equal(k, 3);
		for (size_t i = 0; i < ds_nrow(rows); i++) {
			int rc;
			row_values(ct, i, v);
			rc = bundle_score_values(b, r, v, NULL, res);
			assert_true(rc == 0 || rc == TRANSFORM_REJECTED);
			assert_int_equal(ds_col_bool(out, jrej)[i], rc == TRANSFORM_REJECTED);
			if (rc)
				continue;
			scored++;
			for (size_t c = 0; c < k; c++) {
				const char *name = bundle_model(b)->sig.outputs[c];
				assert_memory_equal(&ds_col_f64(out, col(out, name))[i], &res[c],
						    sizeof res[c]);
			}
		}
		assert_true(scored > 2 * 1024);
		if (with_tf) { /* the rows that came through, for the bundle without it */
			transform *tf;
			assert_int_equal(transform_load(p.tf, &tf), 0);
			assert_int_equal(transform_apply_table(tf, ct, &coded), 0);
			transform_free(tf);
		}
		bundle_row_free(r);
		bundle_close(b);
		ds_close(ct);
		ds_close(out);
	}
	ds_close(coded);
	ds_close(raw);
	free(bare);
	parts_free(&p);
	tu_rmdir(dir);
}

/* Contributions and the base value add up to the raw score; names per class. */
static void test_explain(void **state)
{
	const char *dir = tu_tmpdir();
	parts p = make(dir, "lg", ops_text, "train.logistic",
		       "{\"target\": \"label\", \"exclude\": [\"id\", \"kind\", \"y\", \"tier\"]}");
	parts q = make(dir, "nb", "[{\"op\": \"impute\", \"columns\": [\"amount\", \"visits\"]}]",
		       "train.naive_bayes",
		       "{\"target\": \"kind\", \"kind\": \"gaussian\", \"features\": [\"amount\", \"visits\"]}");
	ds_table *rows = tu_customers(60, true), *out;
	score_opts o = {true, "rows"};
	bundle *b;

	(void)state;
	assert_int_equal(bundle_open(p.bundle, 0, &b), 0);
	assert_int_equal(score_table(b, rows, &o, &out, NULL), 0);
	const ml_signature *sig = &bundle_model(b)->sig;
	size_t checked = 0;
	for (size_t i = 0; i < ds_nrow(out); i++) {
		double pn, py, sum = 0, c;
		if (!ds_get_f64(out, col(out, "proba_yes"), i, &py))
			continue;
		ds_get_f64(out, col(out, "proba_no"), i, &pn);
		if (!(pn > 1e-12 && py > 1e-12)) /* saturated (amount 1e6): no log-odds to compare */
			continue;
		for (size_t j = 0; j < sig->n_features; j++) {
			char name[128];
			snprintf(name, sizeof name, "contrib_%s", sig->features[j].name);
			assert_true(ds_get_f64(out, col(out, name), i, &c));
			sum += c;
		}
		assert_true(ds_get_f64(out, col(out, "contrib_base"), i, &c));
		sum += c;
		if (!(fabs(sum - log(py / pn)) <= 1e-9 * (1 + fabs(sum))))
			fail_msg("row %zu: contributions sum to %.17g, log-odds %.17g", i, sum,
				 log(py / pn));
		checked++;
	}
	assert_true(checked > 20);
	ds_close(out);
	bundle_close(b);
	/* Multiclass: a group per class. */
	assert_int_equal(bundle_open(q.bundle, 0, &b), 0);
	assert_int_equal(score_table(b, rows, &o, &out, NULL), 0);
	col(out, "contrib_mid_amount");
	col(out, "contrib_high_base");
	ds_close(out);
	bundle_close(b);
	ds_close(rows);
	parts_free(&p);
	parts_free(&q);
	tu_rmdir(dir);
}

/* A table with column name of type t holding the given texts (NULL: null). */
static ds_table *with_column(const ds_table *base, const char *drop, const char *name,
			     const char *const *texts)
{
	ds_builder *b;
	ds_table *t;
	size_t n = ds_nrow(base), k = 0;

	assert_int_equal(ds_builder_new(&b), 0);
	for (size_t j = 0; j < ds_ncol(base); j++) {
		if (drop && !strcmp(ds_col_name(base, j), drop))
			continue;
		assert_int_equal(ds_builder_add_col(b, ds_col_name(base, j), ds_col_type(base, j), NULL), 0);
		assert_int_equal(ds_append_from(b, k++, base, j, NULL, n), 0);
	}
	if (name) {
		assert_int_equal(ds_builder_add_col(b, name, DS_STRING, NULL), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(texts[i] ? ds_append_str(b, k, texts[i], strlen(texts[i]))
						  : ds_append_null(b, k),
					 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

/* Bad input is named: the missing column, the column, row and value that do not convert. */
static void test_bad_input(void **state)
{
	const char *dir = tu_tmpdir();
	parts p = make(dir, "lg", ops_text, "train.logistic",
		       "{\"target\": \"label\", \"exclude\": [\"id\", \"kind\", \"y\", \"tier\"]}");
	ds_table *rows = tu_customers(4, true), *t, *out;
	score_opts o = {false, "in.csv"};
	bundle *b;
	const char *good[] = {"12.5", "NaN", NULL, "7"}, *bad[] = {"12.5", "1", "abc", "7"};

	(void)state;
	assert_int_equal(bundle_open(p.bundle, 0, &b), 0);
	/* A column the model needs. */
	t = with_column(rows, "amount", NULL, NULL);
	assert_int_equal(score_table(b, t, &o, &out, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "in.csv: no column 'amount', which the model needs"));
	ds_close(t);
	/* Columns it does not need (an id, the training target) may be absent. */
	t = with_column(rows, "label", NULL, NULL);
	assert_int_equal(score_table(b, t, &o, &out, NULL), 0);
	ds_close(out);
	ds_close(t);
	/* Text where a number was trained: converted when it reads as one ... */
	t = with_column(rows, "amount", "amount", good);
	assert_int_equal(score_table(b, t, &o, &out, NULL), 0);
	ds_close(out);
	ds_close(t);
	/* ... else the column, the row and the value are named. */
	t = with_column(rows, "amount", "amount", bad);
	assert_int_equal(score_table(b, t, &o, &out, NULL), SL_EINVAL);
	assert_string_equal(sl_errmsg(), "in.csv: column 'amount', row 3: 'abc' is not a number "
					 "(float64), which the model takes in 'amount'");
	ds_close(t);
	/* An input column the output would add. */
	t = with_column(rows, NULL, "prediction", bad);
	assert_int_equal(score_table(b, t, &o, &out, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "column 'prediction', which the predictions add"));
	ds_close(t);
	/* Contributions from a family without them. */
	{
		score_opts e = {true, "x"};
		parts f = make(dir, "if", "[]", "train.iforest", "{\"features\": [\"amount\", \"visits\"]}");
		bundle *fb;
		assert_int_equal(bundle_open(f.bundle, 0, &fb), 0);
		assert_int_equal(score_table(fb, rows, &e, &out, NULL), SL_EUNSUP);
		assert_non_null(strstr(sl_errmsg(), "iforest models have no per-feature explanations"));
		bundle_close(fb);
		parts_free(&f);
	}
	bundle_close(b);
	ds_close(rows);
	parts_free(&p);
	tu_rmdir(dir);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	n = fread(s, 1, (1 << 20) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Files in and out; a string input's text survives a CSV that looks numeric. */
static void test_files(void **state)
{
	const char *dir = tu_tmpdir();
	char *csv = tu_path(dir, "in.csv"), *out = tu_path(dir, "out.csv");
	char *jsonl = tu_path(dir, "out.jsonl"), *train = tu_path(dir, "zip.train");
	char *model = tu_path(dir, "zip.model"), *text;
	const char *in_names[] = {"train"}, *out_names[] = {"model"};
	ds_builder *b;
	ds_table *t;
	score_stats st;
	tu_run r;

	(void)state;
	/* A model on a zip code (a string that looks like a number) and a number. */
	assert_int_equal(ds_builder_new(&b), 0);
	ds_builder_add_col(b, "zip", DS_STRING, NULL);
	ds_builder_add_col(b, "x", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "y", DS_FLOAT64, NULL);
	for (int i = 0; i < 60; i++) {
		const char *z = i % 3 == 0 ? "02139" : i % 3 == 1 ? "2139" : "10001";
		ds_append_str(b, 0, z, strlen(z));
		ds_append_f64(b, 1, i);
		ds_append_f64(b, 2, (i % 3) * 10 + 0.5 * i);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	assert_int_equal(ds_table_write(t, train), 0);
	ds_close(t);
	memset(&r, 0, sizeof r);
	{
		const char *in_paths[] = {train}, *out_paths[] = {model};
		json_t *with = json_pack("{s:s}", "target", "y");
		assert_int_equal(tu_run_step(&r, "train.linear", dir, with, in_names, in_paths, 1,
					     out_names, out_paths, 1),
				 0);
		json_decref(with);
	}
	tu_write(csv, "x,zip\n3,02139\n3,2139\n3,99999\n");
	assert_int_equal(score_file(model, csv, NULL, out, NULL, false, &st), 0);
	assert_int_equal(st.rows, 3);
	text = slurp(out);
	/* "02139" and "2139" are two categories: different predictions. */
	assert_non_null(strstr(text, "x,zip,rejected,prediction\n3,02139,false,1.5"));
	assert_non_null(strstr(text, "\n3,2139,false,11.5"));
	free(text);
	assert_int_equal(score_file(model, csv, NULL, jsonl, NULL, true, &st), 0);
	text = slurp(jsonl);
	assert_non_null(strstr(text, "\"zip\":\"02139\""));
	assert_non_null(strstr(text, "\"contrib_zip\":"));
	free(text);
	assert_int_equal(score_file(model, csv, NULL, "out.txt", NULL, false, &st), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "name it .csv or .jsonl"));
	tu_run_free(&r);
	free(csv), free(out), free(jsonl), free(train), free(model);
	tu_rmdir(dir);
}

/* Single-row timing: every row not rejected is timed once. */
static void test_latency(void **state)
{
	const char *dir = tu_tmpdir();
	parts p = make(dir, "lg", ops_text, "train.logistic",
		       "{\"target\": \"label\", \"exclude\": [\"id\", \"kind\", \"y\", \"tier\"]}");
	ds_table *rows = tu_customers(200, true), *ct;
	score_latency_result res;
	bundle *b;

	(void)state;
	assert_int_equal(bundle_open(p.bundle, BUNDLE_ROWS, &b), 0);
	assert_int_equal(score_conform(b, rows, "rows", &ct), 0);
	assert_int_equal(score_latency(b, ct, 150, 8, &res), 0);
	assert_int_equal(res.rows + res.rejected, 150);
	assert_true(res.rejected > 0);
	assert_true(res.p50_us > 0 && res.p50_us <= res.p99_us && res.p99_us <= res.max_us);
	assert_true(res.mean_us <= res.max_us);
	ds_close(ct);
	bundle_close(b);
	ds_close(rows);
	parts_free(&p);
	tu_rmdir(dir);
}

/* The predict step: a dataset in, a dataset out; one of bundle and model. */
static void test_predict_step(void **state)
{
	const char *dir = tu_tmpdir();
	parts p = make(dir, "lg", ops_text, "train.logistic",
		       "{\"target\": \"label\", \"exclude\": [\"id\", \"kind\", \"y\", \"tier\"]}");
	ds_table *rows = tu_customers(50, true), *out;
	char *data = tu_path(dir, "rows"), *res = tu_path(dir, "res");
	const char *in_names[] = {"bundle", "data"}, *out_names[] = {"data"};
	const char *in_paths[] = {p.bundle, data}, *out_paths[] = {res};
	json_t *with = json_pack("{s:b}", "explain", 1);
	tu_run r;
	step_problem pb;

	(void)state;
	assert_int_equal(ds_table_write(rows, data), 0);
	memset(&r, 0, sizeof r);
	assert_int_equal(tu_run_step(&r, "predict", dir, with, in_names, in_paths, 2, out_names,
				     out_paths, 1),
			 0);
	assert_int_equal(ds_open(res, 0, &out), 0);
	assert_int_equal(ds_nrow(out), 50);
	assert_true(json_real_value(json_object_get(r.metrics, "rejected")) >= 1);
	assert_true(json_real_value(json_object_get(r.metrics, "rows")) == 50);
	/* Global importance: the mean |contribution| over the rows that came through. */
	{
		size_t jc = col(out, "contrib_amount"), jrej = col(out, "rejected"), n = 0;
		double sum = 0;
		json_t *imp = json_object_get(r.metrics, "importance_amount");
		for (size_t i = 0; i < ds_nrow(out); i++)
			if (!ds_col_bool(out, jrej)[i]) {
				sum += fabs(ds_col_f64(out, jc)[i]);
				n++;
			}
		assert_non_null(imp);
		assert_true(sum > 0);
		assert_true(fabs(json_real_value(imp) - sum / (double)n) < 1e-12 * (1 + sum));
	}
	ds_close(out);
	/* The check when the pipeline is read: one of the two. */
	{
		const char *both[] = {"bundle", "model", "data"};
		json_t *w = json_object();
		assert_int_equal(step_opts_check(step_find("predict"), w, NULL, both, 3, &pb), SL_EINVAL);
		assert_non_null(strstr(pb.msg, "not both"));
		assert_int_equal(step_opts_check(step_find("predict"), w, NULL, both + 2, 1, &pb),
				 SL_EINVAL);
		json_decref(w);
	}
	json_decref(with);
	tu_run_free(&r);
	free(data);
	free(res);
	ds_close(rows);
	parts_free(&p);
	tu_rmdir(dir);
}

static json_t *manifest_of(const char *path)
{
	mfile *f;
	json_t *m;

	assert_int_equal(mfile_open(path, &f), 0);
	m = json_deep_copy(mfile_manifest(f));
	mfile_close(f);
	return m;
}

static void put_byte(const char *path, long at, int c)
{
	FILE *f = fopen(path, "r+b");

	assert_non_null(f);
	fseek(f, at, SEEK_SET);
	fputc(c, f);
	fclose(f);
}

/* package: the manifest's metrics, verdict and lineage; the loader's refusals. */
static void test_package(void **state)
{
	const char *dir = tu_tmpdir();
	parts p = make(dir, "lg", ops_text, "train.logistic",
		       "{\"target\": \"label\", \"exclude\": [\"id\", \"kind\", \"y\", \"tier\"]}");
	char *rep = tu_path(dir, "report.json"), *ver = tu_path(dir, "verdict.json");
	char *out = tu_path(dir, "pkg.bundle"), *copy = tu_path(dir, "copy.bundle");
	const char *in_names[] = {"model", "transform", "report", "verdict"}, *out_names[] = {"bundle"};
	const char *in_paths[] = {p.model, p.tf, rep, ver}, *out_paths[] = {out};
	json_t *with = json_object(), *m, *lin;
	bundle *b;
	tu_run r;

	(void)state;
	tu_write(rep, "{\"kind\": \"evaluation_report\", \"format\": 1,"
		      " \"metrics\": {\"roc_auc\": 0.91, \"rows\": 120},"
		      " \"main_metric\": {\"name\": \"roc_auc\", \"higher_is_better\": true},"
		      " \"lineage\": {\"test\": \"6666666666666666666666666666666666666666666666666666666666666666\"}}");
	tu_write(ver, "{\"kind\": \"verdict\", \"format\": 1, \"verdict\": \"passed\", \"checks\": 1,"
		      " \"failed\": 0, \"rules\": [{\"rule\": \"rules[0]\", \"measure\": \"roc_auc\","
		      " \"value\": 0.91, \"op\": \">=\", \"limit\": 0.9, \"passed\": true}]}");
	memset(&r, 0, sizeof r);
	r.in_ids = ids;
	r.run_id = "0123456789ab";
	r.pipeline_sha256 = "abababababababababababababababababababababababababababababababab";
	assert_int_equal(tu_run_step(&r, "package", dir, with, in_names, in_paths, 4, out_names,
				     out_paths, 1),
			 0);
	m = manifest_of(out);
	assert_string_equal(json_string_value(json_object_get(m, "kind")), "bundle");
	assert_string_equal(json_string_value(json_object_get(m, "name")), "test");
	assert_string_equal(json_string_value(json_object_get(m, "verdict")), "passed");
	assert_string_equal(json_string_value(json_object_get(m, "main_metric")), "roc_auc");
	assert_true(json_real_value(json_object_get(json_object_get(m, "metrics"), "roc_auc")) == 0.91);
	assert_int_equal(json_array_size(json_object_get(json_object_get(m, "gate"), "checks")), 1);
	lin = json_object_get(m, "lineage");
	assert_string_equal(json_string_value(json_object_get(lin, "run")), "0123456789ab");
	assert_string_equal(json_string_value(json_object_get(lin, "pipeline_sha256")),
			    r.pipeline_sha256);
	assert_string_equal(json_string_value(json_object_get(lin, "model")), ids[0]);
	assert_string_equal(json_string_value(json_object_get(lin, "transform")), ids[1]);
	assert_string_equal(json_string_value(json_object_get(lin, "report")), ids[2]);
	assert_string_equal(json_string_value(json_object_get(lin, "verdict")), ids[3]);
	assert_string_equal(json_string_value(json_object_get(lin, "sluice_version")), sl_version());
	/* The datasets: the model's training set (recorded by train.*) and the report's test set. */
	assert_int_equal(json_array_size(json_object_get(lin, "datasets")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(lin, "datasets"), 0)), ids[0]);
	assert_string_equal(json_string_value(json_object_get(json_object_get(lin, "training"), "train")),
			    ids[0]);
	assert_non_null(json_object_get(m, "transform"));
	json_decref(m);
	assert_int_equal(bundle_open(out, BUNDLE_ROWS, &b), 0);
	bundle_close(b);

	/* The loader's refusals, each saying which. */
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", out, copy);
	assert_int_equal(system(cmd), 0);
	put_byte(copy, 200, 'x' ^ 0x20);
	assert_int_equal(bundle_open(copy, 0, &b), SL_ECORRUPT);
	assert_non_null(strstr(sl_errmsg(), "damaged"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(truncate(copy, 300), 0);
	assert_int_equal(bundle_open(copy, 0, &b), SL_ECORRUPT);
	assert_non_null(strstr(sl_errmsg(), "truncated"));
	assert_int_equal(system(cmd), 0);
	put_byte(copy, 8, 9); /* the file format version: 9 */
	assert_int_equal(bundle_open(copy, 0, &b), SL_EUNSUP);
	assert_non_null(strstr(sl_errmsg(), "newer"));
	{
		json_t *extra = json_pack("{s:i}", "bundle_format", 99);
		assert_int_equal(bundle_write(p.model, p.tf, extra, copy), SL_EUNSUP);
		assert_int_equal(bundle_open(copy, 0, &b), SL_EUNSUP);
		assert_non_null(strstr(sl_errmsg(), "bundle format 99"));
		json_decref(extra);
	}

	/* No verdict: "none"; a file that is not a verdict is refused. */
	assert_int_equal(tu_run_step(&r, "package", dir, with, in_names, in_paths, 3, out_names,
				     out_paths, 1),
			 0);
	m = manifest_of(out);
	assert_string_equal(json_string_value(json_object_get(m, "verdict")), "none");
	json_decref(m);
	in_paths[3] = rep;
	assert_int_equal(tu_run_step(&r, "package", dir, with, in_names, in_paths, 4, out_names,
				     out_paths, 1),
			 SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "verdict: not a verdict"));

	/* History: packaged (tables can be scored) but refused for single rows. */
	{
		parts s = make(dir, "lag",
			       "[{\"op\": \"lag\", \"column\": \"amount\", \"order_by\": \"signup\"},"
			       " {\"op\": \"impute\", \"columns\": [\"amount_lag1\"]}]",
			       "train.linear", "{\"target\": \"y\", \"features\": [\"amount_lag1\"]}");
		const char *sp[] = {s.model, s.tf}, *sn[] = {"model", "transform"};
		assert_int_equal(tu_run_step(&r, "package", dir, with, sn, sp, 2, out_names, out_paths, 1), 0);
		assert_non_null(strstr(r.log, "cannot score single rows"));
		assert_int_equal(bundle_open(out, 0, &b), 0);
		bundle_close(b);
		assert_int_equal(bundle_open(out, BUNDLE_ROWS, &b), SL_EUNSUP);
		assert_non_null(strstr(sl_errmsg(), "lag and rolling need the series' history"));
		parts_free(&s);
	}
	json_decref(with);
	tu_run_free(&r);
	free(rep), free(ver), free(out), free(copy);
	parts_free(&p);
	tu_rmdir(dir);
}

/* Out of memory anywhere: an error (SL_ENOMEM), never a crash or a leak, or the same result. */
static void test_out_of_memory(void **state)
{
	const char *dir = tu_fast_tmpdir();
	parts p = make(dir, "lg", ops_text, "train.logistic",
		       "{\"target\": \"label\", \"exclude\": [\"id\", \"kind\", \"y\", \"tier\"]}");
	ds_table *rows = tu_customers(30, true), *ref, *out;
	score_opts o = {true, "rows"};
	char *ref_c, *c;
	bundle *b;
	tu_oom oo = {0};

	(void)state;
	assert_int_equal(bundle_open(p.bundle, 0, &b), 0);
	assert_int_equal(score_table(b, rows, &o, &ref, NULL), 0);
	for (long n = 0; n < 100000 && !oo.done; n++) {
		tu_oom_begin(&oo, n);
		int rc = score_table(b, rows, &o, &out, NULL);
		tu_oom_end(&oo, rc);
		if (rc) {
			assert_int_equal(rc, SL_ENOMEM);
			continue;
		}
		assert_int_equal(ds_ncol(out), ds_ncol(ref));
		for (size_t j = 0; j < ds_ncol(ref); j++)
			if (ds_col_type(ref, j) == DS_FLOAT64)
				assert_memory_equal(ds_col_f64(out, j), ds_col_f64(ref, j),
						    ds_nrow(ref) * sizeof(double));
		ds_close(out);
	}
	tu_oom_check(&oo, 10);
	ds_close(ref);

	assert_int_equal(export_c(b, "x", &ref_c), 0);
	memset(&oo, 0, sizeof oo);
	for (long n = 0; n < 100000 && !oo.done; n++) {
		tu_oom_begin(&oo, n);
		int rc = export_c(b, "x", &c);
		tu_oom_end(&oo, rc);
		if (rc) {
			assert_int_equal(rc, SL_ENOMEM);
			continue;
		}
		assert_string_equal(c, ref_c);
		sl__free(c);
	}
	tu_oom_check(&oo, 10);
	sl__free(ref_c);
	bundle_close(b);

	/* The steps: package and the gate under injection in their run(). */
	{
		char *rep = tu_path(dir, "report.json"), *ver = tu_path(dir, "verdict.json");
		char *pkg = tu_path(dir, "pkg");
		const char *pn[] = {"model", "transform", "report"}, *pp[] = {p.model, p.tf, rep};
		const char *po[] = {"bundle"}, *pop[] = {pkg};
		const char *gn[] = {"report"}, *gp[] = {rep}, *go[] = {"verdict"}, *gop[] = {ver};
		json_t *none = json_object();
		json_t *rules = json_loads("{\"rules\": [{\"metric\": \"roc_auc\", \"min\": 0.5},"
					   " {\"metric\": \"roc_auc\", \"vs\": \"champion\"}]}", 0, NULL);
		tu_run r;
		memset(&r, 0, sizeof r);
		tu_write(rep, "{\"kind\": \"evaluation_report\", \"metrics\": {\"roc_auc\": 0.9}}");
		memset(&oo, 0, sizeof oo);
		for (long n = 0; n < 100000 && !oo.done; n++) {
			tu_oom_begin_step(&oo, n);
			int rc = tu_run_step(&r, "package", dir, none, pn, pp, 3, po, pop, 1);
			tu_oom_end(&oo, rc);
			if (rc)
				assert_int_equal(rc, SL_ENOMEM);
		}
		tu_oom_check(&oo, 10);
		memset(&oo, 0, sizeof oo);
		for (long n = 0; n < 100000 && !oo.done; n++) {
			tu_oom_begin_step(&oo, n);
			int rc = tu_run_step(&r, "test", dir, rules, gn, gp, 1, go, gop, 1);
			tu_oom_end(&oo, rc);
			if (rc)
				assert_int_equal(rc, SL_ENOMEM);
		}
		tu_oom_check(&oo, 5);
		json_decref(none);
		json_decref(rules);
		tu_run_free(&r);
		free(rep), free(ver), free(pkg);
	}
	ds_close(rows);
	parts_free(&p);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_equals_rows),
		cmocka_unit_test(test_blocks_equal_rows),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_latency),
		cmocka_unit_test(test_predict_step),
		cmocka_unit_test(test_package),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
