/*
 * ingest.sql: the rows of one SQL query to a typed dataset, from an SQLite
 * file or a PostgreSQL server.
 *
 * The source is named by exactly one of two options, on purpose:
 *
 *   path   an SQLite database file. It is a path option, so the scheduler
 *          hashes the file into the step's cache key: changing the database
 *          reruns the step, an unchanged one is a cache hit.
 *   url    a PostgreSQL connection URL. Nothing local says whether the
 *          server's data changed, so such a step is not cacheable (see
 *          cacheable() below): it runs every time, and as artifacts are
 *          content-addressed an unchanged result still gives the same
 *          dataset id, so the steps downstream stay cached.
 *
 * An `url: sqlite:FILE` is refused with a pointer to `path`, because the
 * file would then escape the cache key.
 *
 * The reading is the dataset engine's (src/dataset/sql.c documents the type
 * mapping of both backends); this file maps the options onto it and writes
 * the outputs and metrics exactly as ingest.csv does:
 *
 *   data     the dataset
 *   rejects  CSV of the rows left out under on_error: quarantine
 *            (file,line,column,reason,raw), where file is the database,
 *            line the 1-based row of the result, column the 1-based column
 *            and raw the row as a JSON array of its values' text. Always
 *            written, header only when nothing was rejected.
 *
 * Metrics: rows, columns, rows_skipped, rows_quarantined.
 */
#include <math.h>
#include <string.h>

#include "dataset/dataset.h"
#include "dataset/sql.h"
#include "steps/ingest_common.h"

static const step_opt sql_param = {.type = OPT_SCALAR};

static const step_opt opts[] = {
	{.name = "path", .type = OPT_PATH,
	 .help = "an SQLite database file, relative to the pipeline file (give path or url)"},
	{.name = "url", .type = OPT_STRING, .len = "[1,)",
	 .help = "a PostgreSQL connection URL, postgresql://USER@HOST:PORT/DB (give path or url)"},
	{.name = "query", .type = OPT_STRING, .required = true, .len = "[1,)",
	 .help = "one SQL statement that returns rows"},
	{.name = "params", .type = OPT_LIST, .item = &sql_param,
	 .help = "values for the query's $1, $2 ... placeholders"},
	INGEST_OPT_TYPES("column"),
	INGEST_OPT_ON_ERROR("rows with a value that does not fit its column's type"),
	INGEST_OPT_MAX_BAD_ROWS("rows"),
	{.name = "timeout", .type = OPT_NUMBER, .def = "0", .range = "[0, 604800]",
	 .help = "seconds the query may run (0: no limit)"},
	{.name = NULL},
};

static const step_rule rules[] = {
	{.kind = RULE_ONE_OF, .names = "path url", .why = "an SQLite file or a postgresql:// URL"},
	{.kind = RULE_END},
};

/* Decodes types, on_error, max_bad_rows, params and timeout into o, bad and q. */
static int decode(step_ctx *ctx, ds_ingest_opts *o, ingest_bad *bad, ds_sql_query *q,
		  ingest_types *types)
{
	json_t *params = step_opt_json(ctx, "params");
	double timeout = step_opt_num(ctx, "timeout", 0);
	int rc;

	/* The parser checked every option against the schema and check(). */
	memset(o, 0, sizeof *o);
	memset(q, 0, sizeof *q);
	if ((rc = ingest_decode(ctx, types, o, bad)))
		return rc;
	q->timeout_ms = (unsigned)ceil(timeout * 1000);
	q->params = params;
	q->text = step_opt_str(ctx, "query");
	return 0;
}

static int run(step_ctx *ctx)
{
	const char *rel = step_opt_str(ctx, "path");
	const char *url = step_opt_str(ctx, "url");
	const char *data_out = step_output(ctx, "data");
	const char *rej_out = step_output(ctx, "rejects");
	ingest_types types = {0};
	ingest_bad bad;
	char *path = NULL, *shown = NULL;
	ds_rejects *rej = NULL;
	ds_builder *b = NULL;
	ds_ingest_stats st = {0};
	ds_ingest_opts o;
	ds_sql_query q;
	double t0 = sl__mono_sec();
	int rc;

	if ((rc = decode(ctx, &o, &bad, &q, &types)))
		goto done;
	if (rel && !(path = step_resolve_path(ctx, rel))) {
		rc = step_fail(ctx, SL_ENOMEM, "out of memory");
		goto done;
	}
	if (rej_out && (rc = ds_rejects_open(rej_out, &rej))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	ingest_bad_attach(&bad, &o, rej);

	if (path) {
		rc = ds_sqlite_read(path, &q, &o, &b, &st);
	} else {
		shown = sl__pg_redact(url);
		if (shown)
			step_log(ctx, "querying %s", shown);
		rc = ds_pg_read(url, &q, &o, &b, &st);
	}
	if (rc) {
		rc = ingest_fail_read(ctx, rc);
		goto done;
	}
	if ((rc = ingest_finish(&bad, &st, ds_builder_ncol(b), path ? path : shown)))
		goto done;
	if ((rc = ds_builder_write(b, data_out)) || (rc = ds_rejects_close(rej, true))) {
		rej = NULL;
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	rej = NULL;

	step_log(ctx, "read %llu rows x %zu columns from %s in %.3f s; %llu bad row%s %s",
		 (unsigned long long)st.rows, ds_builder_ncol(b), path ? path : shown ? shown : "?",
		 sl__mono_sec() - t0, (unsigned long long)st.rows_rejected,
		 st.rows_rejected == 1 ? "" : "s",
		 o.on_error == DS_ON_ERROR_QUARANTINE ? "quarantined" : "skipped");
done:
	ds_rejects_close(rej, false);
	ds_builder_free(b);
	sl__free(path);
	sl__free(shown);
	ingest_types_free(&types);
	return rc;
}

/* SQLite only through path, so that the file's contents are in the cache key. */
static int check(const step_check *c)
{
	const char *url = json_string_value(json_object_get(c->with, "url"));

	if (url && (!strncmp(url, "sqlite:", 7) || !strncmp(url, "file:", 5)))
		return step_check_fail(c, "url", "for an SQLite file give `path: FILE` instead of url, "
						 "so that the file's contents are part of the cache key");
	return ingest_check(c);
}

/* A live server's rows can change under an unchanged query. */
static bool cacheable(const json_t *with)
{
	return json_object_get(with, "url") == NULL;
}

const step_def step_ingest_sql = {
	.name = "ingest.sql",
	.version = 2,
	.summary = "read the rows of an SQL query (SQLite file or PostgreSQL) into a dataset",
	.opts = opts,
	.rules = rules,
	.inputs = ingest_no_inputs,
	.outputs = ingest_outputs,
	.run = run,
	.check = check,
	.cacheable = cacheable,
};
