/*
 * ingest.csv: CSV files (one, or several by glob) to a typed dataset.
 *
 * The reading itself is the dataset engine's (src/dataset/csv.c documents
 * the dialect, the type inference and the bad-row rules); this file maps
 * the step's options onto it, writes the two outputs and the metrics:
 *
 *   data     the dataset
 *   rejects  a CSV of the rows left out under on_error: quarantine
 *            (file,line,column,reason,raw). It is always written, with just
 *            its header when nothing was rejected, so the outputs are the
 *            same whatever the data.
 *
 * Metrics: rows, columns, bytes, files, rows_skipped (bad rows left out,
 * by skip or quarantine; 0 under fail), rows_quarantined. More bad rows
 * than max_bad_rows fail the step (ingest_common.h).
 */
#include <string.h>

#include "dataset/dataset.h"
#include "steps/ingest_common.h"

static const step_opt column_name = {.type = OPT_STRING, .len = "[1,)"};

static const step_opt opts[] = {
	{.name = "path", .type = OPT_PATH, .required = true,
	 .help = "the CSV file, or a glob matching several with the same header (read in sorted order)"},
	{.name = "header", .type = OPT_BOOL, .def = "true", .help = "the first row holds the column names"},
	{.name = "delimiter", .type = OPT_STRING, .def = "\",\"",
	 .help = "field separator: one character other than a quote or a newline, or \\t / tab"},
	{.name = "columns", .type = OPT_STRING_LIST, .len = "[1,)", .unique = true, .item = &column_name,
	 .help = "column names when header is false (default c1, c2, ...)"},
	INGEST_OPT_TYPES("column"),
	{.name = "null_values", .type = OPT_STRING_LIST,
	 .help = "unquoted texts read as null (default: empty, NA, N/A, NULL, null)"},
	INGEST_OPT_ON_ERROR("bad rows"),
	INGEST_OPT_MAX_BAD_ROWS("rows"),
	{.name = "max_field_size", .type = OPT_INT, .def = "16777216", .range = "[1,)",
	 .help = "largest field in bytes; larger is a bad row"},
	{.name = "threads", .type = OPT_INT, .def = "0", .range = "[0, 64]",
	 .help = "parsing threads (0: one per CPU)"},
	{.name = "quote_in_field", .type = OPT_STRING, .def = "strict", .choices = "strict literal",
	 .help = "a quote inside an unquoted field: strict (a bad row) | literal (kept as data)"},
	{.name = "encoding", .type = OPT_STRING, .def = "utf-8", .len = "[1,)",
	 .help = "the files' encoding: utf-8 | latin1 | windows-1252 | any name iconv -l lists"},
	{.name = NULL},
};

static const step_rule rules[] = {
	{.kind = RULE_FORBIDS, .names = "columns", .when = "header=true",
	 .why = "the header row names the columns; set header: false to name them here"},
	{.kind = RULE_END},
};

/* The delimiter's byte: "\t" and "tab" name a tab. */
static int delimiter_of(const char *d)
{
	if (!strcmp(d, "\\t") || !strcmp(d, "tab"))
		return '\t';
	if (strlen(d) != 1 || *d == '"' || *d == '\n' || *d == '\r')
		return -1;
	return (unsigned char)*d;
}

/* What the schema cannot say: the delimiter's form, the encoding's existence. */
static int check(const step_check *c)
{
	const char *d = json_string_value(json_object_get(c->with, "delimiter"));
	const char *enc = json_string_value(json_object_get(c->with, "encoding"));
	int rc;

	if (d && delimiter_of(d) < 0)
		return step_check_fail(c, "delimiter",
				       "the delimiter must be one character other than a quote or a "
				       "newline, or \\t (tab), not '%.40s'",
				       d);
	if (enc && (rc = ds_encoding_check(enc)))
		return rc == SL_ENOMEM ? rc : step_check_fail(c, "encoding", "%s", sl_errmsg());
	return ingest_check(c);
}

/* Options that both ingest steps share, decoded from the step's `with`. */
typedef struct ingest_cfg {
	ds_ingest_opts o;
	ingest_types types;
	ingest_bad bad;
	const char **names;
	const char **nulls;
} ingest_cfg;

static void cfg_free(ingest_cfg *c)
{
	ingest_types_free(&c->types);
	sl__free(c->names);
	sl__free(c->nulls);
}

/* A string or list-of-strings option as an array of borrowed strings. */
static int str_list(step_ctx *ctx, const char *name, const char ***out, size_t *out_n)
{
	json_t *v = step_opt_json(ctx, name), *e;
	size_t i;

	*out = NULL;
	*out_n = 0;
	if (!v)
		return 0;
	if (json_is_string(v)) {
		*out = sl__calloc(1, sizeof **out);
		if (!*out)
			return step_fail(ctx, SL_ENOMEM, "out of memory");
		(*out)[0] = json_string_value(v);
		*out_n = 1;
		return 0;
	}
	/* The parser made every item a string (a plain null keeps its text). */
	*out = sl__calloc(json_array_size(v) + 1, sizeof **out);
	if (!*out)
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	json_array_foreach(v, i, e)
		(*out)[i] = json_is_string(e) ? json_string_value(e) : "";
	*out_n = json_array_size(v);
	return 0;
}

static int decode(step_ctx *ctx, ingest_cfg *c)
{
	const char *delim = step_opt_str(ctx, "delimiter");
	const char *quotes = step_opt_str(ctx, "quote_in_field");
	int64_t max_field = step_opt_int(ctx, "max_field_size", (int64_t)DS_DEFAULT_MAX_FIELD);
	int64_t threads = step_opt_int(ctx, "threads", 0);
	int rc;

	/* The parser checked every option against the schema and check(). */
	memset(c, 0, sizeof *c);
	if ((rc = ingest_decode(ctx, &c->types, &c->o, &c->bad)))
		return rc;
	if (delim)
		c->o.delimiter = (char)delimiter_of(delim);
	c->o.quote_literal = quotes && !strcmp(quotes, "literal");
	c->o.encoding = step_opt_str(ctx, "encoding");
	c->o.max_field_size = (size_t)max_field;
	c->o.threads = (unsigned)threads;
	c->o.no_header = !step_opt_bool(ctx, "header", true);
	if ((rc = str_list(ctx, "columns", &c->names, &c->o.n_names)) ||
	    (rc = str_list(ctx, "null_values", &c->nulls, &c->o.n_null_values)))
		return rc;
	c->o.names = c->names;
	c->o.null_values = step_opt_json(ctx, "null_values") ? c->nulls : NULL;
	return 0;
}

static int run(step_ctx *ctx)
{
	const char *rel = step_opt_str(ctx, "path");
	const char *data_out = step_output(ctx, "data");
	const char *rej_out = step_output(ctx, "rejects");
	char *pattern = NULL, **paths = NULL;
	size_t npaths = 0;
	ds_rejects *rej = NULL;
	ds_builder *b = NULL;
	ds_ingest_stats st = {0};
	ingest_cfg cfg;
	double t0 = sl__mono_sec();
	int rc;

	if ((rc = decode(ctx, &cfg)))
		goto done;
	pattern = step_resolve_path(ctx, rel);
	if (!pattern) {
		rc = step_fail(ctx, SL_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = ds_glob(pattern, &paths, &npaths))) {
		rc = step_fail(ctx, rc, "with.path: %s", sl_errmsg());
		goto done;
	}
	if (rej_out && (rc = ds_rejects_open(rej_out, &rej))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	ingest_bad_attach(&cfg.bad, &cfg.o, rej);
	cfg.o.out_path = data_out; /* written while the columns merge */
	rc = ds_csv_read_files((const char *const *)paths, npaths, &cfg.o, &b, &st);
	if (rc) {
		rc = ingest_fail_read(ctx, rc);
		goto done;
	}
	if ((rc = ingest_finish(&cfg.bad, &st, ds_builder_ncol(b), pattern)))
		goto done;
	if ((rc = ds_rejects_close(rej, true))) {
		rej = NULL;
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	rej = NULL;

	step_metric(ctx, "bytes", (double)st.bytes);
	step_metric(ctx, "files", (double)st.files);
	step_log(ctx, "read %llu rows x %zu columns from %zu file%s (%llu bytes) in %.3f s; %llu bad row%s %s",
		 (unsigned long long)st.rows, ds_builder_ncol(b), npaths, npaths == 1 ? "" : "s",
		 (unsigned long long)st.bytes, sl__mono_sec() - t0, (unsigned long long)st.rows_rejected,
		 st.rows_rejected == 1 ? "" : "s",
		 cfg.o.on_error == DS_ON_ERROR_QUARANTINE ? "quarantined" : "skipped");
done:
	ds_rejects_close(rej, false);
	ds_builder_free(b);
	ds_paths_free(paths, npaths);
	sl__free(pattern);
	cfg_free(&cfg);
	return rc;
}

const step_def step_ingest_csv = {
	.name = "ingest.csv",
	.version = 2,
	.summary = "read CSV files (RFC 4180, glob, type inference) into a dataset",
	.opts = opts,
	.rules = rules,
	.inputs = ingest_no_inputs,
	.outputs = ingest_outputs,
	.run = run,
	.check = check,
};
