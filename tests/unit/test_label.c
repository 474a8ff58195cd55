/*
 * The label step: labels from a column (as is, renamed, mapped), from
 * ordered rules, and from a join on a key, including unmatched keys; the
 * default; unlabeled rows kept, dropped or failing; balance and unlabeled
 * metrics; byte-identical output for the same inputs; and a clear error for
 * every bad option. Each test builds small tables, runs the step through a
 * hand-made step_ctx and reads the output back with ds_open.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/dataset.h"
#include "steps/step.h"
#include "testutil.h"

typedef struct harness {
	const char *dir;
	char *in;
	char *labels;
	char *out;
	bool with_labels; /* pass the labels input */
	json_t *metrics;
	char log[8192];
	ds_table *t;      /* the output after a successful run */
} harness;

static void h_init(harness *h)
{
	memset(h, 0, sizeof *h);
	h->dir = tu_tmpdir();
	h->in = tu_path(h->dir, "in.ds");
	h->labels = tu_path(h->dir, "labels.ds");
	h->out = tu_path(h->dir, "out.ds");
}

static void h_free(harness *h)
{
	ds_close(h->t);
	tu_rmdir(h->dir);
	free(h->in);
	free(h->labels);
	free(h->out);
	json_decref(h->metrics);
}

static int run_label(harness *h, const char *with_json)
{
	static const char *const in_names[] = {"data", "labels"};
	static const char *const out_names[] = {"data"};
	const char *in_paths[] = {h->in, h->labels};
	const char *out_paths[] = {h->out};
	json_error_t jerr;
	json_t *with = json_loads(with_json, 0, &jerr);
	tu_run r = {0};
	int rc;

	if (!with)
		fail_msg("bad JSON in test: %s", jerr.text);
	rc = tu_run_step(&r, "label", h->dir, with, in_names, in_paths, h->with_labels ? 2 : 1,
			 out_names, out_paths, 1);
	memcpy(h->log, r.log, sizeof h->log - 1);
	h->log[sizeof h->log - 1] = '\0';
	json_decref(h->metrics);
	h->metrics = json_incref(r.metrics);
	tu_run_free(&r);
	json_decref(with);
	ds_close(h->t);
	h->t = NULL;
	if (rc == 0)
		assert_int_equal(ds_open(h->out, DS_OPEN_VERIFY, &h->t), 0);
	return rc;
}

static void ok(harness *h, const char *with_json)
{
	if (run_label(h, with_json) != 0)
		fail_msg("options %s failed: %s", with_json, sl_errmsg());
}

static double metric(const harness *h, const char *name)
{
	json_t *v = json_object_get(h->metrics, name);

	if (!v)
		fail_msg("no metric '%s'", name);
	return json_number_value(v);
}

static size_t col(const harness *h, const char *name)
{
	size_t j;

	if (ds_col_find(h->t, name, &j) != 0)
		fail_msg("no column '%s' in the output", name);
	return j;
}

/* The string in row i of column name, or NULL for null. */
static const char *str_at(const harness *h, const char *name, size_t i)
{
	return ds_col_str(h->t, col(h, name), i, NULL);
}

static bool is_null(const harness *h, const char *name, size_t i)
{
	return !ds_valid(ds_col_validity(h->t, col(h, name)), i);
}

static int64_t i64_at(const harness *h, const char *name, size_t i)
{
	assert_false(is_null(h, name, i));
	return ds_col_i64(h->t, col(h, name))[i];
}

/*
 * The emails table, 8 rows:
 *   id  kind     score  subject          sender
 *   1   spam     0.95   "win money"      7
 *   2   ham      0.05   "meeting"        8
 *   3   spam     0.50   "free offer"     7
 *   4   null     0.20   "lunch"          9
 *   5   ham      0.92   "free lunch"     8
 *   6   unknown  0.60   "hello"          null
 *   7   ham      0.01   "report"         8
 *   8   spam     null   "FREE"           7
 */
static void write_emails(const char *path)
{
	static const char *const kind[] = {"spam", "ham", "spam", NULL, "ham", "unknown", "ham", "spam"};
	static const double score[] = {0.95, 0.05, 0.5, 0.2, 0.92, 0.6, 0.01, -1};
	static const char *const subject[] = {"win money", "meeting", "free offer", "lunch",
					      "free lunch", "hello", "report", "FREE"};
	static const int64_t sender[] = {7, 8, 7, 9, 8, -1, 8, 7};
	ds_builder *b;

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "id", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "kind", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "score", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "subject", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "sender", DS_INT64, NULL), 0);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(ds_append_i64(b, 0, (int64_t)i + 1), 0);
		if (kind[i])
			assert_int_equal(ds_append_str(b, 1, kind[i], strlen(kind[i])), 0);
		else
			assert_int_equal(ds_append_null(b, 1), 0);
		if (score[i] >= 0)
			assert_int_equal(ds_append_f64(b, 2, score[i]), 0);
		else
			assert_int_equal(ds_append_null(b, 2), 0);
		assert_int_equal(ds_append_str(b, 3, subject[i], strlen(subject[i])), 0);
		if (sender[i] >= 0)
			assert_int_equal(ds_append_i64(b, 4, sender[i]), 0);
		else
			assert_int_equal(ds_append_null(b, 4), 0);
	}
	assert_int_equal(ds_builder_write(b, path), 0);
	ds_builder_free(b);
}

/* Checks that the input columns came through unchanged and in order. */
static void check_passthrough(const harness *h, size_t ncol_extra)
{
	assert_int_equal(ds_ncol(h->t), 5 + ncol_extra);
	assert_string_equal(ds_col_name(h->t, 0), "id");
	assert_string_equal(ds_col_name(h->t, 4), "sender");
	for (size_t i = 0; i < ds_nrow(h->t); i++)
		assert_int_equal(ds_col_i64(h->t, 0)[i], (int64_t)i + 1);
	assert_string_equal(str_at(h, "subject", 2), "free offer");
	assert_true(is_null(h, "sender", 5));
}

/* ---- from a column ---------------------------------------------------------- */

static void test_from_column(void **state)
{
	harness h;

	(void)state;
	h_init(&h);
	write_emails(h.in);
	ok(&h, "{\"from\": \"kind\"}");
	check_passthrough(&h, 1);
	assert_string_equal(ds_col_name(h.t, 5), "label");
	assert_int_equal(ds_col_type(h.t, 5), DS_STRING);
	assert_string_equal(str_at(&h, "label", 0), "spam");
	assert_string_equal(str_at(&h, "label", 5), "unknown");
	assert_true(is_null(&h, "label", 3));
	assert_true(metric(&h, "label.spam") == 3);
	assert_true(metric(&h, "label.ham") == 3);
	assert_true(metric(&h, "label.unknown") == 1);
	assert_true(metric(&h, "labels") == 3);
	assert_true(metric(&h, "unlabeled") == 1);
	assert_true(metric(&h, "rows") == 8);
	assert_non_null(strstr(h.log, "label balance (3 values): spam 3 (42.9%), ham 3 (42.9%), "
				      "unknown 1 (14.3%)"));
	if (!strstr(h.log, "1 of 8 rows have no label (the first is row 4); kept"))
		fail_msg("log: %s", h.log);

	/* A target name, and a default for the null row. */
	ok(&h, "{\"from\": \"kind\", \"target\": \"y\", \"default\": \"ham\"}");
	check_passthrough(&h, 1);
	assert_string_equal(str_at(&h, "y", 3), "ham");
	assert_true(metric(&h, "unlabeled") == 0);
	assert_true(metric(&h, "label.ham") == 4);

	/* Labelling a column with itself replaces it in place. */
	ok(&h, "{\"from\": \"kind\", \"target\": \"kind\"}");
	check_passthrough(&h, 0);
	assert_string_equal(ds_col_name(h.t, 1), "kind");
	assert_true(is_null(&h, "kind", 3));
	assert_non_null(strstr(h.log, "replacing the existing column 'kind'"));

	/* Numbers: an integer column as the label, with an integer default. */
	ok(&h, "{\"from\": \"sender\", \"default\": 0}");
	assert_int_equal(i64_at(&h, "label", 5), 0);
	assert_true(metric(&h, "label.8") == 3);
	assert_true(metric(&h, "label.0") == 1);
	h_free(&h);
}

static void test_mapping(void **state)
{
	harness h;

	(void)state;
	h_init(&h);
	write_emails(h.in);
	ok(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": 1, \"ham\": 0}}");
	check_passthrough(&h, 1);
	assert_int_equal(ds_col_type(h.t, 5), DS_INT64);
	assert_int_equal(i64_at(&h, "label", 0), 1);
	assert_int_equal(i64_at(&h, "label", 1), 0);
	assert_true(is_null(&h, "label", 3)); /* null kind */
	assert_true(is_null(&h, "label", 5)); /* "unknown" is not mapped */
	assert_true(metric(&h, "label.1") == 3);
	assert_true(metric(&h, "label.0") == 3);
	assert_true(metric(&h, "unlabeled") == 2);

	/* Unmapped values take the default; an explicit null stays null. */
	ok(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": 1, \"ham\": 0, \"unknown\": null}, "
	       "\"default\": 0}");
	assert_int_equal(i64_at(&h, "label", 3), 0);
	assert_true(is_null(&h, "label", 5));
	assert_true(metric(&h, "unlabeled") == 1);

	/* Mixed integers and reals make a float label; strings map to strings. */
	ok(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": 1, \"ham\": 0.5}}");
	assert_int_equal(ds_col_type(h.t, 5), DS_FLOAT64);
	assert_true(ds_col_f64(h.t, 5)[1] == 0.5);
	ok(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": \"bad\", \"ham\": \"good\"}, "
	       "\"target\": \"kind\"}");
	assert_string_equal(str_at(&h, "kind", 0), "bad");
	assert_true(metric(&h, "label.good") == 3);

	/* Keys of an integer column are read as integers. */
	ok(&h, "{\"from\": \"sender\", \"mapping\": {\"7\": true, \"+8\": false}}");
	assert_int_equal(ds_col_type(h.t, 5), DS_BOOL);
	assert_int_equal(ds_col_bool(h.t, 5)[0], 1);
	assert_int_equal(ds_col_bool(h.t, 5)[1], 0);
	assert_true(is_null(&h, "label", 3));
	assert_true(metric(&h, "label.true") == 3);
	h_free(&h);
}

/* ---- rules ----------------------------------------------------------------------- */

static void test_rules(void **state)
{
	harness h;

	(void)state;
	h_init(&h);
	write_emails(h.in);
	ok(&h, "{\"rules\": ["
	       "{\"when\": \"score > 0.9\", \"label\": \"spam\"},"
	       "{\"when\": \"contains(lower(subject), 'free')\", \"label\": \"spam\"},"
	       "{\"when\": \"score < 0.3\", \"label\": \"ham\"}]}");
	check_passthrough(&h, 1);
	/* Row 5 (0.92, "free lunch") matches rules 1 and 2: rule 1 wins.
	 * Row 8 (null score, "FREE"): rule 1 is null, rule 2 true. */
	assert_string_equal(str_at(&h, "label", 0), "spam");
	assert_string_equal(str_at(&h, "label", 1), "ham");
	assert_string_equal(str_at(&h, "label", 2), "spam");
	assert_string_equal(str_at(&h, "label", 3), "ham");
	assert_string_equal(str_at(&h, "label", 4), "spam");
	assert_true(is_null(&h, "label", 5));
	assert_string_equal(str_at(&h, "label", 6), "ham");
	assert_string_equal(str_at(&h, "label", 7), "spam");
	assert_true(metric(&h, "rule_1") == 2);
	assert_true(metric(&h, "rule_2") == 2); /* rows 3 and 8; row 5 went to rule 1 */
	assert_true(metric(&h, "rule_3") == 3);
	assert_true(metric(&h, "unlabeled") == 1);
	assert_true(metric(&h, "label.spam") == 4);
	assert_non_null(strstr(h.log, "rule 1 (score > 0.9): 2 rows"));

	/* Numeric labels with a default; a null label rule keeps rows unlabeled
	 * even with a default. */
	ok(&h, "{\"rules\": [{\"when\": \"score is null\", \"label\": null},"
	       "{\"when\": \"score >= 0.5\", \"label\": 1}], \"default\": 0, \"target\": \"y\"}");
	assert_int_equal(ds_col_type(h.t, 5), DS_INT64);
	assert_true(is_null(&h, "y", 7));
	assert_int_equal(i64_at(&h, "y", 0), 1);
	assert_int_equal(i64_at(&h, "y", 1), 0);
	assert_true(metric(&h, "unlabeled") == 1);
	assert_true(metric(&h, "label.1") == 4);
	assert_true(metric(&h, "label.0") == 3);
	h_free(&h);
}

/* ---- join --------------------------------------------------------------------- */

static void write_labels(const char *path, const char *keyname, const int64_t *keys,
			 const char *const *labels, size_t n)
{
	ds_builder *b;

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "note", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, keyname, DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "verdict", DS_STRING, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ds_append_str(b, 0, "x", 1), 0);
		if (keys[i] >= 0)
			assert_int_equal(ds_append_i64(b, 1, keys[i]), 0);
		else
			assert_int_equal(ds_append_null(b, 1), 0);
		if (labels[i])
			assert_int_equal(ds_append_str(b, 2, labels[i], strlen(labels[i])), 0);
		else
			assert_int_equal(ds_append_null(b, 2), 0);
	}
	assert_int_equal(ds_builder_write(b, path), 0);
	ds_builder_free(b);
}

static void test_join(void **state)
{
	harness h;
	/* Keys 8, 2, 5 (5 twice, agreeing), 42 (matches nothing), a null key,
	 * 3 with a null label. */
	const int64_t keys[] = {8, 2, 5, 42, -1, 5, 3};
	const char *const labels[] = {"spam", "ham", "spam", "ham", "spam", "spam", NULL};

	(void)state;
	h_init(&h);
	write_emails(h.in);
	write_labels(h.labels, "id", keys, labels, 7);
	h.with_labels = true;
	ok(&h, "{\"on\": \"id\", \"label_column\": \"verdict\"}");
	check_passthrough(&h, 1);
	assert_int_equal(ds_col_type(h.t, 5), DS_STRING);
	assert_string_equal(str_at(&h, "label", 1), "ham");
	assert_string_equal(str_at(&h, "label", 4), "spam");
	assert_string_equal(str_at(&h, "label", 7), "spam");
	assert_true(is_null(&h, "label", 0)); /* id 1: no such key */
	assert_true(is_null(&h, "label", 2)); /* id 3: null label */
	assert_true(metric(&h, "matched") == 4);
	assert_true(metric(&h, "unmatched") == 4);
	assert_true(metric(&h, "unlabeled") == 5);
	assert_true(metric(&h, "label.spam") == 2);
	assert_true(metric(&h, "label.ham") == 1);
	assert_non_null(strstr(h.log, "4 of 8 rows matched a key (5 keys, repeated keys agree)"));
	assert_non_null(strstr(h.log, "1 rows with a null key ignored"));

	/* A default for the rows without a label; unlabeled: fail is then happy. */
	ok(&h, "{\"on\": \"id\", \"label_column\": \"verdict\", \"default\": \"ham\", "
	       "\"unlabeled\": \"fail\"}");
	assert_string_equal(str_at(&h, "label", 0), "ham");
	assert_true(metric(&h, "unlabeled") == 0);

	/* Drop the unmatched rows instead. */
	ok(&h, "{\"on\": \"id\", \"label_column\": \"verdict\", \"unlabeled\": \"drop\", "
	       "\"target\": \"is_spam\"}");
	assert_int_equal(ds_nrow(h.t), 3);
	assert_int_equal(i64_at(&h, "id", 0), 2);
	assert_int_equal(i64_at(&h, "id", 1), 5);
	assert_int_equal(i64_at(&h, "id", 2), 8);
	assert_true(metric(&h, "unlabeled") == 5);
	assert_true(metric(&h, "rows") == 3);
	assert_non_null(strstr(h.log, "; dropped"));

	/* Key columns named differently; the label column defaults to target. */
	write_labels(h.labels, "email_id", keys, labels, 7);
	ok(&h, "{\"on\": \"id\", \"labels_on\": \"email_id\", \"target\": \"verdict\"}");
	assert_string_equal(str_at(&h, "verdict", 1), "ham");
	h_free(&h);
}

static void test_join_string_keys(void **state)
{
	harness h;
	ds_builder *b;

	(void)state;
	h_init(&h);
	write_emails(h.in);
	/* Join on the subject text: dictionaries differ between the tables. */
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "subject", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "label", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_append_str(b, 0, "zzz", 3), 0);
	assert_int_equal(ds_append_f64(b, 1, 9), 0);
	assert_int_equal(ds_append_str(b, 0, "lunch", 5), 0);
	assert_int_equal(ds_append_f64(b, 1, 0.25), 0);
	assert_int_equal(ds_append_str(b, 0, "FREE", 4), 0);
	assert_int_equal(ds_append_f64(b, 1, 1), 0);
	assert_int_equal(ds_builder_write(b, h.labels), 0);
	ds_builder_free(b);
	h.with_labels = true;
	ok(&h, "{\"on\": \"subject\"}");
	assert_int_equal(ds_col_type(h.t, 5), DS_FLOAT64);
	assert_true(ds_col_f64(h.t, 5)[3] == 0.25);
	assert_true(ds_col_f64(h.t, 5)[7] == 1);
	assert_true(is_null(&h, "label", 4)); /* "free lunch" is not "lunch" */
	assert_true(metric(&h, "label.0.25") == 1);
	h_free(&h);
}

static void test_join_errors(void **state)
{
	harness h;
	const int64_t keys[] = {1, 2, 1};
	const char *const labels[] = {"spam", "ham", "ham"};

	(void)state;
	h_init(&h);
	write_emails(h.in);
	write_labels(h.labels, "id", keys, labels, 3);
	h.with_labels = true;
	assert_true(run_label(&h, "{\"on\": \"id\", \"label_column\": \"verdict\"}") < 0);
	assert_non_null(strstr(sl_errmsg(), "labels: key '1' has two different labels (rows 1 and 3)"));
	assert_true(run_label(&h, "{\"on\": \"subject\", \"labels_on\": \"id\", "
				  "\"label_column\": \"verdict\"}") < 0);
	assert_non_null(strstr(sl_errmsg(), "the key 'subject' is string in data but 'id' is int64"));
	assert_true(run_label(&h, "{\"on\": \"id\"}") < 0);
	assert_non_null(strstr(sl_errmsg(), "with.label_column: no column 'label' in the input 'labels' "
					    "(label_column defaults to the target name) "
					    "(columns: note, id, verdict)"));
	assert_true(run_label(&h, "{\"on\": \"nope\", \"label_column\": \"verdict\"}") < 0);
	assert_non_null(strstr(sl_errmsg(), "with.on: no column 'nope' in the input 'data'"));
	assert_true(run_label(&h, "{\"on\": \"id\", \"labels_on\": \"k\", \"label_column\": \"verdict\"}") < 0);
	assert_non_null(strstr(sl_errmsg(), "with.labels_on: no column 'k' in the input 'labels'"));
	assert_true(run_label(&h, "{\"on\": \"sender\", \"labels_on\": \"id\", "
				  "\"label_column\": \"verdict\", \"default\": 1}") < 0);
	/* (the duplicate check comes first) */
	assert_non_null(strstr(sl_errmsg(), "two different labels"));
	h_free(&h);
}

/* ---- unlabeled rows, determinism ----------------------------------------------------- */

static void test_unlabeled_policies(void **state)
{
	harness h;

	(void)state;
	h_init(&h);
	write_emails(h.in);
	assert_true(run_label(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": 1, \"ham\": 0}, "
				  "\"unlabeled\": \"fail\"}") < 0);
	assert_non_null(strstr(sl_errmsg(), "2 of 8 rows have no label (the first is row 4)"));
	assert_true(metric(&h, "unlabeled") == 2); /* counted even when failing */

	ok(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": 1, \"ham\": 0}, \"unlabeled\": \"drop\"}");
	assert_int_equal(ds_nrow(h.t), 6);
	assert_int_equal(i64_at(&h, "id", 3), 5); /* rows 4 and 6 are gone, order kept */
	assert_int_equal(i64_at(&h, "id", 4), 7);
	assert_null(ds_col_validity(h.t, 5));
	assert_true(metric(&h, "unlabeled") == 2);
	assert_true(metric(&h, "rows") == 6);
	h_free(&h);
}

static bool same_file(const char *a, const char *b)
{
	sl__buf x, y;
	bool same;

	assert_int_equal(sl__read_file(a, 0, &x), 0);
	assert_int_equal(sl__read_file(b, 0, &y), 0);
	same = x.len == y.len && !memcmp(x.data, y.data, x.len);
	sl__buf_free(&x);
	sl__buf_free(&y);
	return same;
}

static void test_determinism(void **state)
{
	harness h;
	char *prev;
	const char *runs[] = {
		"{\"from\": \"kind\", \"mapping\": {\"spam\": 1, \"ham\": 0}, \"default\": 2}",
		"{\"rules\": [{\"when\": \"score > 0.5\", \"label\": \"spam\"}], \"default\": \"ham\"}",
		"{\"from\": \"subject\", \"unlabeled\": \"drop\"}",
	};

	(void)state;
	h_init(&h);
	prev = tu_path(h.dir, "prev.ds");
	write_emails(h.in);
	for (size_t r = 0; r < SL__ARRAY_LEN(runs); r++) {
		ok(&h, runs[r]);
		assert_int_equal(sl__copy_file(h.out, prev), 0);
		ok(&h, runs[r]);
		assert_true(same_file(prev, h.out));
	}
	free(prev);
	h_free(&h);
}

/* ---- bad options --------------------------------------------------------------- */

static void expect_error(harness *h, const char *with, const char *needle)
{
	int rc = run_label(h, with);

	assert_true(rc < 0);
	if (!strstr(sl_errmsg(), needle))
		fail_msg("options %s: message '%s' lacks '%s'", with, sl_errmsg(), needle);
	assert_non_null(strstr(h->log, needle));
}

/* A mistake in the options alone: caught by the schema, before run() starts. */
static void expect_bad_option(harness *h, const char *with, const char *needle)
{
	int rc = run_label(h, with);

	assert_int_equal(rc, SL_EINVAL);
	if (!strstr(sl_errmsg(), needle))
		fail_msg("options %s: message '%s' lacks '%s'", with, sl_errmsg(), needle);
	assert_string_equal(h->log, "");
}

static void test_bad_options(void **state)
{
	harness h;

	(void)state;
	h_init(&h);
	write_emails(h.in);
	expect_bad_option(&h, "{}", "with: give one of 'from', 'rules' or 'on' (the label's source");
	expect_bad_option(&h, "{\"from\": \"kind\", \"rules\": [{\"when\": \"true\", \"label\": 1}]}",
			  "with.rules: 'rules' cannot be given with 'from'");
	expect_bad_option(&h, "{\"from\": \"kind\", \"on\": \"id\"}", "with.on: 'on' cannot be given with 'from'");
	expect_bad_option(&h, "{\"rules\": [{\"when\": \"true\", \"label\": 1}], \"mapping\": {\"a\": 1}}",
			  "with.mapping: 'mapping' needs option 'from' too");
	expect_bad_option(&h, "{\"on\": \"id\"}", "with.on: with.on joins the input 'labels', which is not connected");
	expect_bad_option(&h, "{\"from\": \"kind\", \"label_column\": \"v\"}",
			  "with.label_column: 'label_column' needs option 'on' too");
	expect_bad_option(&h, "{\"from\": \"kind\", \"labels_on\": \"v\"}", "'labels_on' needs option 'on'");
	expect_bad_option(&h, "{\"from\": \"kind\", \"unlabeled\": \"ignore\"}",
			  "with.unlabeled: option 'unlabeled' of label must be one of keep, drop or fail, not 'ignore'");
	expect_bad_option(&h, "{\"from\": \"kind\", \"target\": \"\"}",
			  "with.target: option 'target' of label must not be empty");
	expect_bad_option(&h, "{\"from\": \"kind\", \"default\": [1]}",
			  "with.default: option 'default' of label must be a single value");
	expect_bad_option(&h, "{\"from\": \"kind\", \"mapping\": {}}", "option 'mapping' of label must not be empty");
	expect_bad_option(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": 1, \"ham\": \"no\"}}",
			  "with.mapping.ham: the label is a string but with.mapping.spam is an integer");
	expect_bad_option(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": [1]}}",
			  "with.mapping.spam: option 'mapping.spam' of label must be a single value");
	expect_bad_option(&h, "{\"from\": \"kind\", \"mapping\": {\"spam\": 1}, \"default\": \"x\"}",
			  "with.default: the label is a string but with.mapping.spam is an integer");
	expect_bad_option(&h, "{\"rules\": []}", "option 'rules' of label must not be empty");
	expect_bad_option(&h, "{\"rules\": [\"score > 1\"]}",
			  "with.rules[0]: option 'rules[0]' of label must be a mapping");
	expect_bad_option(&h, "{\"rules\": [{\"label\": 1}]}", "with.rules[0]: rules[0] needs option 'when'");
	expect_bad_option(&h, "{\"rules\": [{\"when\": \"true\"}]}", "with.rules[0]: the rule needs 'label'");
	expect_bad_option(&h, "{\"rules\": [{\"when\": \"true\", \"label\": 1, \"then\": 2}]}",
			  "with.rules[0].then: unknown option 'then' in rules[0] of label (did you mean 'when'?)");
	/* An expression's syntax is the file's business; its columns, the data's. */
	expect_bad_option(&h, "{\"rules\": [{\"when\": \"true\", \"label\": 1}, {\"when\": \"score >\", "
			      "\"label\": 2}]}",
			  "with.rules[1].when: ");
	expect_bad_option(&h, "{\"rules\": [{\"when\": \"true\", \"label\": 1}, {\"when\": \"false\", "
			      "\"label\": \"a\"}]}",
			  "with.rules[1].label: the label is a string but with.rules[0].label is an integer");
	expect_error(&h, "{\"rules\": [{\"when\": \"nosuch > 1\", \"label\": 1}]}", "with.rules[0].when:1:");
	expect_error(&h, "{\"rules\": [{\"when\": \"score * 2\", \"label\": 1}]}",
		     "with.rules[0].when: 'score * 2' is float64, not a condition (bool)");
	/* A number given for a string option keeps its text: column "1"/"3". */
	expect_error(&h, "{\"rules\": [{\"when\": 1, \"label\": 1}]}",
		     "with.rules[0].when: '1' is int64, not a condition (bool)");
	expect_error(&h, "{\"from\": 3}", "with.from: no column '3' in the input");
	expect_error(&h, "{\"from\": \"nope\"}",
		     "with.from: no column 'nope' in the input (columns: id, kind, score, subject, sender)");
	expect_error(&h, "{\"from\": \"sender\", \"default\": \"x\"}",
		     "with.default: a string does not fit the column 'sender', which holds int64 values");
	expect_error(&h, "{\"from\": \"sender\", \"mapping\": {\"seven\": 1}}",
		     "with.mapping: key 'seven' does not read as int64, the type of column 'sender'");
	expect_error(&h, "{\"from\": \"sender\", \"mapping\": {\"7\": 1, \"07\": 2}}",
		     "with.mapping: keys '7' and '07' are the same int64 value");
	/* A damaged input. */
	tu_write(h.in, "not a dataset");
	expect_error(&h, "{\"from\": \"kind\"}", "input 'data'");
	h_free(&h);
}

static void test_out_of_memory(void **state)
{
	harness h;
	const int64_t keys[] = {8, 2, 5};
	const char *const labels[] = {"spam", "ham", "spam"};
	const char *runs[] = {
		"{\"from\": \"kind\", \"default\": \"x\"}",
		"{\"from\": \"kind\", \"mapping\": {\"spam\": 1, \"ham\": 0}, \"unlabeled\": \"drop\"}",
		"{\"rules\": [{\"when\": \"score > 0.5\", \"label\": \"spam\"}], \"default\": \"ham\"}",
		"{\"on\": \"id\", \"label_column\": \"verdict\"}",
	};
	char *want;

	(void)state;
	h_init(&h);
	write_emails(h.in);
	write_labels(h.labels, "id", keys, labels, 3);
	want = tu_path(h.dir, "want.ds");
	for (size_t r = 0; r < SL__ARRAY_LEN(runs); r++) {
		json_t *want_metrics;
		h.with_labels = r == 3;
		assert_int_equal(run_label(&h, runs[r]), 0);
		assert_int_equal(sl__copy_file(h.out, want), 0);
		want_metrics = json_incref(h.metrics);
		/* Injection covers the step's run only (tu_oom_begin_step): the
		 * options are parsed and the output read back normally. All
		 * allocations from the Nth fail, then the Nth alone: an error, or
		 * the reference's output and metrics. */
		for (int once = 0; once < 2; once++) {
			tu_oom o = {0};
			o.once = once;
			for (long n = 0; n < 3000 && !o.done; n++) {
				tu_oom_begin_step(&o, n);
				int rc = run_label(&h, runs[r]);
				tu_oom_end(&o, rc);
				if (rc) {
					assert_int_equal(rc, SL_ENOMEM);
					continue;
				}
				assert_true(same_file(want, h.out));
				assert_true(json_equal(h.metrics, want_metrics));
			}
			tu_oom_check(&o, 5);
		}
		json_decref(want_metrics);
	}
	free(want);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_column),
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_join_string_keys),
		cmocka_unit_test(test_join_errors),
		cmocka_unit_test(test_unlabeled_policies),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
