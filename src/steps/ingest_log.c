/*
 * ingest.log: the inference log as a training set. Reads the requests one
 * model answered (sluice serve's log), one row per scored input row, joined
 * with the labels the feedback endpoint received for them:
 *
 *   the model's raw inputs, prediction, label, time, request_id, version, row
 *
 * so that a retraining pipeline learns from production traffic with its
 * ground truth (src/serve/logtable.h has the exact columns; label is named
 * with.target when given, so a pipeline trains on the same target whether
 * or not it has the original data too). The log grows
 * while nothing in the pipeline changes, so the step always runs (it is not
 * cached); its output is content-addressed, so an unchanged log still
 * leaves everything downstream cached.
 *
 * Given a `data` input (the original training data), the output is that
 * dataset with the log's rows appended, in its columns and types:
 *
 *   data rows ............................ as they are
 *   log rows: column C <- the log's input C (converted to C's type)
 *             column `target` <- label
 *             a column the log lacks <- null
 *
 * Invariants: the data's rows come first and unchanged (its schema is the
 * output's); a log value that does not convert losslessly to its column's
 * type fails the step, naming the column and the request, rather than
 * becoming a null; the log's own columns (request_id, time, prediction ...)
 * never fill a data column of the same name, only model inputs do.
 *
 * Metrics: rows, labeled (rows read from the log, rows with a label);
 * with `data`, data_rows (the rows it had) too.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "serve/logtable.h"
#include "steps/step.h"

static const step_opt opts[] = {
	{.name = "model", .type = OPT_STRING, .required = true, .len = "[1,)",
	 .help = "the served model whose requests to read"},
	{.name = "version", .type = OPT_STRING, .help = "only the requests this version answered"},
	{.name = "since", .type = OPT_STRING,
	 .help = "only requests at or after this ISO 8601 time"},
	{.name = "until", .type = OPT_STRING,
	 .help = "only requests at or before this ISO 8601 time"},
	{.name = "labeled_only", .type = OPT_BOOL, .def = "true",
	 .help = "keep only rows the feedback endpoint gave a label (false: label is null where none)"},
	{.name = "path", .type = OPT_STRING,
	 .help = "the log directory (default: the project's .sluice/inference)"},
	{.name = "target", .type = OPT_STRING, .def = "label", .len = "[1,)",
	 .help = "the column the feedback labels go into (with a data input, one of its columns)"},
	{.name = NULL},
};

static const step_port inputs[] = {
	{"data", "dataset", true,
	 "rows to put first (the original training data): the log's rows are appended in its "
	 "columns"},
	{NULL, NULL, false, NULL},
};
static const step_port outputs[] = {
	{"data", "dataset", false,
	 "one row per answered input row, with its prediction and label; with a data input, "
	 "its rows then the log's"},
	{NULL, NULL, false, NULL},
};

/* The project's log: .sluice/inference in the first folder up from dir holding .sluice. */
static char *project_log(const char *dir)
{
	char *d = sl__strdup(dir);

	while (d) {
		char *state = sl__path_join(d, ".sluice");
		bool found = state && sl__is_dir(state);
		char *up;
		if (found) {
			char *log = sl__path_join(state, "inference");
			sl__free(state);
			sl__free(d);
			return log;
		}
		sl__free(state);
		if (!strcmp(d, "/"))
			break;
		up = sl__path_dir(d);
		sl__free(d);
		d = up;
	}
	sl__free(d);
	return NULL;
}

/* ---- appending the log to a dataset ---------------------------------------------------- */

/* Columns of the log's table that are not model inputs (serve/logtable.h). */
static bool log_own_column(const char *name)
{
	static const char *const own[] = {"request_id", "time", "version", "row", "prediction",
					  "label"};

	for (size_t i = 0; i < SL__ARRAY_LEN(own); i++)
		if (!strcmp(name, own[i]))
			return true;
	return false;
}

/*
 * Appends row i of column sj of the log to column j of b (type to),
 * converting only where nothing is lost: numbers between int64, float64
 * and bool when the value fits, text to a number, bool or time it spells,
 * anything to text. false when the value does not convert.
 */
static bool convert_value(ds_builder *b, size_t j, ds_type to, const ds_table *log, size_t sj,
			  size_t i, int *rc)
{
	ds_type from = ds_col_type(log, sj);
	char buf[DS_TS_BUF > DS_F64_BUF ? DS_TS_BUF : DS_F64_BUF];
	const char *str = NULL;
	size_t len = 0;
	double d = 0;

	if (from == DS_STRING) {
		str = ds_col_str(log, sj, i, &len);
	} else if (from == DS_TIMESTAMP) {
		len = ds_format_timestamp(ds_col_i64(log, sj)[i], buf);
		str = buf;
	} else {
		ds_get_f64(log, sj, i, &d);
	}
	switch (to) {
	case DS_FLOAT64:
		if (from == DS_STRING ? !ds_parse_f64(str, len, &d) : from == DS_TIMESTAMP)
			return false;
		*rc = ds_append_f64(b, j, d);
		return true;
	case DS_INT64: {
		int64_t v;
		if (from == DS_INT64)
			v = ds_col_i64(log, sj)[i];
		else if (from == DS_STRING ? !ds_parse_i64(str, len, &v) : from == DS_TIMESTAMP)
			return false;
		else if (from != DS_STRING) {
			if (!(d >= -9.2e18 && d <= 9.2e18) || d != floor(d))
				return false;
			v = (int64_t)d;
		}
		*rc = ds_append_i64(b, j, v);
		return true;
	}
	case DS_BOOL: {
		bool v;
		if (from == DS_STRING ? !ds_parse_bool(str, len, &v)
				      : from == DS_TIMESTAMP || (d != 0 && d != 1))
			return false;
		if (from != DS_STRING)
			v = d == 1;
		*rc = ds_append_bool(b, j, v);
		return true;
	}
	case DS_TIMESTAMP: {
		int64_t us;
		if (from != DS_STRING || !ds_parse_timestamp(str, len, &us))
			return false;
		*rc = ds_append_i64(b, j, us);
		return true;
	}
	case DS_STRING:
		if (from == DS_BOOL)
			len = (size_t)snprintf(buf, sizeof buf, "%s", d != 0 ? "true" : "false");
		else if (from == DS_INT64)
			len = (size_t)snprintf(buf, sizeof buf, "%" PRId64, ds_col_i64(log, sj)[i]);
		else if (from == DS_FLOAT64)
			len = ds_format_f64(d, buf);
		*rc = ds_append_str(b, j, str ? str : buf, len);
		return true;
	}
	return false;
}

/* Appends the log's column sj to column j of b (data's column `name`, type to). */
static int append_log_column(step_ctx *ctx, ds_builder *b, size_t j, const char *name, ds_type to,
			     const ds_table *log, size_t sj)
{
	const uint8_t *valid = ds_col_validity(log, sj);
	size_t n = ds_nrow(log), rid;
	int rc = 0;

	if (ds_col_type(log, sj) == to)
		rc = ds_append_from(b, j, log, sj, NULL, n);
	for (size_t i = 0; i < n && rc == 0 && ds_col_type(log, sj) != to; i++) {
		if (!ds_valid(valid, i)) {
			rc = ds_append_null(b, j);
			continue;
		}
		if (convert_value(b, j, to, log, sj, i, &rc))
			continue;
		const char *id = ds_col_find(log, "request_id", &rid) == 0
					 ? ds_col_str(log, rid, i, NULL) : NULL;
		return step_fail(ctx, SL_EINPUT,
				 "column '%s' of input data is %s, but the log's %s of request %s is "
				 "%s and does not convert to it; make the types agree (a wrangle cast "
				 "of the data, or what the clients send)",
				 name, ds_type_name(to), ds_col_name(log, sj), id ? id : "?",
				 ds_type_name(ds_col_type(log, sj)));
	}
	return rc ? step_fail(ctx, rc, "%s", sl_errmsg()) : 0;
}

/*
 * Writes data's rows, then log's (NULL: none), in data's columns (the
 * invariants above), to the output.
 */
static int append_to_data(step_ctx *ctx, const char *data_path, const ds_table *log,
			  size_t *out_data_rows)
{
	const char *target = step_opt_str(ctx, "target");
	ds_table *data = NULL;
	ds_builder *b = NULL;
	size_t matched = 0, tj, lj;
	sl__buf left;
	int rc;

	sl__buf_init(&left, 0);
	if ((rc = ds_open(data_path, 0, &data)))
		return step_fail(ctx, rc, "input data: %s", sl_errmsg());
	*out_data_rows = ds_nrow(data);
	if (ds_col_find(data, target, &tj) != 0) {
		rc = step_fail(ctx, SL_EINPUT,
			       "input data has no column '%s' to put the feedback labels in: name "
			       "its target column with with.target",
			       target);
		goto out;
	}
	for (size_t j = 0; log && j < ds_ncol(data); j++) {
		const char *name = ds_col_name(data, j);
		matched += j != tj && !log_own_column(name) && ds_col_find(log, name, &lj) == 0;
	}
	if (log && matched == 0) {
		rc = step_fail(ctx, SL_EINPUT,
			       "no column of input data is an input of model '%s' in the log: is it "
			       "the model's training data?",
			       step_opt_str(ctx, "model"));
		goto out;
	}
	if ((rc = ds_builder_new(&b)) ||
	    (rc = ds_builder_reserve(b, ds_nrow(data) + (log ? ds_nrow(log) : 0)))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	for (size_t j = 0; j < ds_ncol(data) && rc == 0; j++) {
		const char *name = ds_col_name(data, j);
		ds_type type = ds_col_type(data, j);
		bool from_log;
		if ((rc = ds_builder_add_col(b, name, type, NULL)) ||
		    (rc = ds_append_from(b, j, data, j, NULL, ds_nrow(data)))) {
			rc = step_fail(ctx, rc, "%s", sl_errmsg());
			break;
		}
		if (!log)
			continue;
		from_log = j == tj ? ds_col_find(log, "label", &lj) == 0
				   : !log_own_column(name) && ds_col_find(log, name, &lj) == 0;
		if (from_log)
			rc = append_log_column(ctx, b, j, name, type, log, lj);
		else if ((rc = ds_append_nulls(b, j, ds_nrow(log))))
			rc = step_fail(ctx, rc, "%s", sl_errmsg());
	}
	/* Model inputs the data does not have cannot be learned from its rows: said, not kept. */
	for (size_t j = 0; log && rc == 0 && j < ds_ncol(log); j++) {
		size_t dj;
		const char *name = ds_col_name(log, j);
		if (!log_own_column(name) && ds_col_find(data, name, &dj) != 0)
			sl__buf_printf(&left, "%s%s", left.len ? ", " : "", name);
	}
	if (rc == 0 && left.len)
		step_log(ctx, "left out the log's columns input data does not have: %s", left.data);
	if (rc == 0 && (rc = ds_builder_write(b, step_output(ctx, "data"))))
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
out:
	sl__buf_free(&left);
	ds_builder_free(b);
	ds_close(data);
	return rc;
}

/*
 * Writes the log's table alone as the output, its label column named
 * with.target; a model input of that name (a client that sent the target
 * along) gives way to the feedback label.
 */
static int write_log(step_ctx *ctx, ds_builder *b)
{
	const char *target = step_opt_str(ctx, "target");
	ds_table *t = NULL;
	ds_builder *out = NULL;
	size_t k = 0;
	int rc;

	if (!strcmp(target, "label"))
		return ds_builder_write(b, step_output(ctx, "data"));
	if ((rc = ds_builder_finish(b, &t)) || (rc = ds_builder_new(&out)))
		goto out;
	for (size_t j = 0; j < ds_ncol(t) && rc == 0; j++) {
		const char *name = ds_col_name(t, j);
		if (!strcmp(name, target)) {
			step_log(ctx, "the log's input '%s' gives way to the feedback label", name);
			continue;
		}
		rc = ds_builder_add_col(out, strcmp(name, "label") ? name : target, ds_col_type(t, j),
					NULL);
		if (rc == 0)
			rc = ds_append_from(out, k++, t, j, NULL, ds_nrow(t));
	}
	if (rc == 0)
		rc = ds_builder_write(out, step_output(ctx, "data"));
out:
	ds_builder_free(out);
	ds_close(t);
	return rc;
}

static int run(step_ctx *ctx)
{
	const char *path = step_opt_str(ctx, "path"), *data = step_input(ctx, "data");
	sl_logs_filter f;
	serve_logq q;
	ds_builder *b = NULL;
	size_t rows = 0, labeled = 0;
	char *dir;
	int rc;

	memset(&f, 0, sizeof f);
	f.model = step_opt_str(ctx, "model");
	f.version = step_opt_str(ctx, "version");
	f.since = step_opt_str(ctx, "since");
	f.until = step_opt_str(ctx, "until");
	if ((rc = serve_logq_from(&f, "with.", &q)))
		return step_fail(ctx, SL_EINVAL, "%s", sl_errmsg());
	dir = path ? step_resolve_path(ctx, path) : project_log(ctx->pipeline_dir);
	if (!dir)
		return step_fail(ctx, SL_ENOENT, "no project around %s to read the inference log of; "
						 "give with.path",
				 ctx->pipeline_dir);
	rc = serve_log_table(dir, &q, SERVE_TABLE_TRAIN, step_opt_bool(ctx, "labeled_only", true),
			     &b, &rows);
	if (rc == SL_ENOENT && data) {
		/* No traffic yet: the original data alone is still a training set. */
		step_log(ctx, "%s", sl_errmsg());
		sl__err_clear();
		rc = 0;
	}
	if (rc) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	if (data) {
		ds_table *log = NULL;
		size_t data_rows = 0;
		if (b && (rc = ds_builder_finish(b, &log))) {
			rc = step_fail(ctx, rc, "%s", sl_errmsg());
			goto out;
		}
		rc = append_to_data(ctx, data, log, &data_rows);
		if (rc == 0 && log) {
			size_t j;
			if (ds_col_find(log, "label", &j) == 0)
				labeled = ds_nrow(log) - ds_col_nulls(log, j);
		}
		ds_close(log);
		if (rc)
			goto out;
		step_metric(ctx, "data_rows", (double)data_rows);
		step_log(ctx, "appended %zu rows of model %s from %s (%zu labeled) to %zu rows of "
			      "input data",
			 rows, f.model, dir, labeled, data_rows);
	} else {
		ds_table *t = NULL;
		size_t j;
		if ((rc = write_log(ctx, b)) || (rc = ds_open(step_output(ctx, "data"), 0, &t))) {
			rc = step_fail(ctx, rc, "%s", sl_errmsg());
			goto out;
		}
		if (ds_col_find(t, step_opt_str(ctx, "target"), &j) == 0)
			labeled = ds_nrow(t) - ds_col_nulls(t, j);
		ds_close(t);
		step_log(ctx, "read %zu rows of model %s from %s (%zu labeled)", rows, f.model, dir,
			 labeled);
	}
	step_metric(ctx, "rows", (double)rows);
	step_metric(ctx, "labeled", (double)labeled);
out:
	ds_builder_free(b);
	sl__free(dir);
	return rc;
}

static bool never_cached(const json_t *with)
{
	(void)with;
	return false;
}

const step_def step_ingest_log = {
	.name = "ingest.log",
	.version = 1,
	.summary = "read the inference log of a served model, joined with feedback labels",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.cacheable = never_cached,
};
