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

static const step_opt opts[] = {
	{"path", OPT_PATH, true, NULL,
	 "the CSV file, or a glob matching several with the same header (read in sorted order)"},
	{"header", OPT_BOOL, false, "true", "the first row holds the column names"},
	{"delimiter", OPT_STRING, false, "\",\"", "field separator: one character, or \\t / tab"},
	{"columns", OPT_STRING_LIST, false, NULL, "column names when header is false (default c1, c2, ...)"},
	{"types", OPT_MAP, false, NULL,
	 "per-column types overriding inference: {col: int|float|bool|string|timestamp}"},
	{"null_values", OPT_STRING_LIST, false, NULL,
	 "unquoted texts read as null (default: empty, NA, N/A, NULL, null)"},
	{"on_error", OPT_STRING, false, "fail", "bad rows: fail | skip | quarantine"},
	{"max_bad_rows", OPT_ANY, false, "1%",
	 "skip and quarantine fail the step past this many bad rows: a count, a fraction or \"1%\""},
	{"max_field_size", OPT_INT, false, "16777216", "largest field in bytes; larger is a bad row"},
	{"threads", OPT_INT, false, "0", "parsing threads (0: one per CPU)"},
	{"quote_in_field", OPT_STRING, false, "strict",
	 "a quote inside an unquoted field: strict (a bad row) | literal (kept as data)"},
	{"encoding", OPT_STRING, false, "utf-8",
	 "the files' encoding: utf-8 | latin1 | windows-1252 | any name iconv -l lists"},
	{NULL, 0, false, NULL, NULL},
};

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
	if (!json_is_array(v))
		return step_fail(ctx, SL_EINVAL, "with.%s: expected a string or a list of strings", name);
	*out = sl__calloc(json_array_size(v) + 1, sizeof **out);
	if (!*out)
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	json_array_foreach(v, i, e) {
		if (json_is_null(e)) {
			(*out)[i] = "null"; /* YAML's bare null in a null_values list */
			continue;
		}
		if (!json_is_string(e))
			return step_fail(ctx, SL_EINVAL, "with.%s[%zu]: expected a string", name, i);
		(*out)[i] = json_string_value(e);
	}
	*out_n = json_array_size(v);
	return 0;
}

static int decode(step_ctx *ctx, ingest_cfg *c)
{
	const char *delim = step_opt_str(ctx, "delimiter");
	const char *quotes = step_opt_str(ctx, "quote_in_field");
	const char *enc = step_opt_str(ctx, "encoding");
	int64_t max_field = step_opt_int(ctx, "max_field_size", (int64_t)DS_DEFAULT_MAX_FIELD);
	int64_t threads = step_opt_int(ctx, "threads", 0);
	int rc;

	memset(c, 0, sizeof *c);
	if ((rc = ingest_decode(ctx, &c->types, &c->o, &c->bad)))
		return rc;
	if (delim) {
		if (!strcmp(delim, "\\t") || !strcmp(delim, "tab"))
			delim = "\t";
		if (strlen(delim) != 1 || *delim == '"' || *delim == '\n' || *delim == '\r')
			return step_fail(ctx, SL_EINVAL,
					 "with.delimiter: expected one character other than a quote or a newline");
		c->o.delimiter = *delim;
	}
	if (quotes && strcmp(quotes, "strict") && strcmp(quotes, "literal"))
		return step_fail(ctx, SL_EINVAL, "with.quote_in_field: expected strict or literal, not '%s'",
				 quotes);
	c->o.quote_literal = quotes && !strcmp(quotes, "literal");
	if ((rc = ds_encoding_check(enc)))
		return step_fail(ctx, rc, "with.encoding: %s", sl_errmsg());
	c->o.encoding = enc;
	if (max_field < 1)
		return step_fail(ctx, SL_EINVAL, "with.max_field_size: must be positive");
	if (threads < 0 || threads > 64)
		return step_fail(ctx, SL_EINVAL, "with.threads: expected 0 to 64");
	c->o.max_field_size = (size_t)max_field;
	c->o.threads = (unsigned)threads;
	c->o.no_header = !step_opt_bool(ctx, "header", true);
	if ((rc = str_list(ctx, "columns", &c->names, &c->o.n_names)) ||
	    (rc = str_list(ctx, "null_values", &c->nulls, &c->o.n_null_values)))
		return rc;
	if (c->o.n_names && !c->o.no_header)
		return step_fail(ctx, SL_EINVAL, "with.columns: only used with header: false");
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
	.inputs = ingest_no_inputs,
	.outputs = ingest_outputs,
	.run = run,
};
