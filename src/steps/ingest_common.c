/*
 * Options, bad rows and reporting shared by the ingest steps (see
 * ingest_common.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "steps/ingest_common.h"

const step_port ingest_outputs[] = {
	{"data", "dataset", false, "the typed dataset"},
	{"rejects", "file", false,
	 "rows left out by on_error: quarantine, as CSV (file,line,column,reason,raw; header only when none)"},
	{NULL, NULL, false, NULL},
};

const step_port ingest_no_inputs[] = {{NULL, NULL, false, NULL}};

const step_opt ingest_type_name = {.type = OPT_STRING, .choices = STEP_DS_TYPES};

/*
 * max_bad_rows: a count (0, 100), a fraction of the rows read (0.01), or a
 * percentage ("1%"). A number below 1 that is not a whole number is a
 * fraction; 1 and above must be whole (a count). False when v is none of
 * these.
 */
static bool limit_parse(const json_t *v, bool *is_fraction, double *limit)
{
	bool pct = false;
	double x;

	*is_fraction = true;
	*limit = 0.01;
	if (!v)
		return true;
	if (json_is_number(v)) {
		x = json_number_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		x = strtod(s, &end);
		while (end > s && *end == ' ')
			end++;
		pct = end > s && *end == '%';
		if (end == s || end[pct] != '\0')
			return false;
	} else {
		return false;
	}
	if (!isfinite(x) || x < 0 || (pct && x > 100))
		return false;
	if (pct) {
		*limit = x / 100;
	} else if (x < 1 && !json_is_integer(v) && x != floor(x)) {
		*limit = x;
	} else if (x == floor(x)) {
		*is_fraction = false;
		*limit = x;
	} else {
		return false;
	}
	return true;
}

int ingest_check(const step_check *c)
{
	bool frac;
	double limit;

	if (!limit_parse(json_object_get(c->with, "max_bad_rows"), &frac, &limit))
		return step_check_fail(c, "max_bad_rows", "max_bad_rows is a count (100), a fraction "
							  "of the rows (0.01) or a percentage "
							  "(\"1%%\")");
	return 0;
}

int ingest_decode(step_ctx *ctx, ingest_types *t, ds_ingest_opts *o, ingest_bad *bad)
{
	const char *on_error = step_opt_str(ctx, "on_error");
	json_t *m = step_opt_json(ctx, "types"), *v;
	const char *key;
	size_t k = 0;

	t->cols = NULL;
	t->types = NULL;
	memset(bad, 0, sizeof *bad);
	bad->ctx = ctx;
	if (on_error && !ds_on_error_parse(on_error, &o->on_error))
		return step_fail(ctx, SL_EINVAL, "with.on_error: unknown mode '%s'", on_error);
	bad->mode = o->on_error;
	if (!limit_parse(step_opt_json(ctx, "max_bad_rows"), &bad->limit_is_fraction, &bad->limit))
		return step_fail(ctx, SL_EINVAL, "with.max_bad_rows: not a count, fraction or "
						 "percentage");
	if (!json_is_object(m))
		return 0;
	t->cols = sl__calloc(json_object_size(m) + 1, sizeof *t->cols);
	t->types = sl__calloc(json_object_size(m) + 1, sizeof *t->types);
	if (!t->cols || !t->types)
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	json_object_foreach(m, key, v) {
		if (!json_is_string(v) || !ds_type_parse(json_string_value(v), &t->types[k]))
			return step_fail(ctx, SL_EINVAL, "with.types.%s: unknown type", key);
		t->cols[k++] = key;
	}
	o->type_cols = t->cols;
	o->types = t->types;
	o->n_types = k;
	return 0;
}

void ingest_types_free(ingest_types *t)
{
	sl__free(t->cols);
	sl__free(t->types);
	t->cols = NULL;
	t->types = NULL;
}

void ingest_bad_attach(ingest_bad *bad, ds_ingest_opts *o, ds_rejects *rej)
{
	bad->rej = rej;
	o->reject = ingest_bad_row;
	o->reject_arg = bad;
}

/*
 * A file as the pipeline names it: relative to the pipeline's folder when
 * it is inside it. What goes into an artifact must not depend on where the
 * project happens to live, or the same data gets a new id in every clone.
 */
static const char *rel_name(const step_ctx *ctx, const char *file)
{
	const char *dir = ctx->pipeline_dir;
	size_t n = dir ? strlen(dir) : 0;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n && !strncmp(file, dir, n) && file[n] == '/')
		return file + n + 1;
	return file;
}

int ingest_fail_read(step_ctx *ctx, int rc)
{
	const char *msg = sl_errmsg(), *dir = ctx->pipeline_dir;
	size_t n = dir ? strlen(dir) : 0;
	char out[SL__ERRMSG_MAX];
	size_t o = 0;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	/* The reader names files by their full paths; the user wrote them
	 * relative to the pipeline: drop every "DIR/" (rel_name's rule). */
	while (*msg && o + 1 < sizeof out) {
		if (n > 1 && !strncmp(msg, dir, n) && msg[n] == '/') {
			msg += n + 1;
			continue;
		}
		out[o++] = *msg++;
	}
	out[o] = '\0';
	return step_fail(ctx, rc, "%s", out);
}

int ingest_bad_row(void *arg, const char *file, uint64_t line, uint64_t col, const char *reason,
		   const char *raw, size_t raw_len)
{
	ingest_bad *bad = arg;
	const char *name = rel_name(bad->ctx, file);

	if (bad->n < INGEST_FIRST_BAD)
		snprintf(bad->first[bad->n], sizeof bad->first[0], "%s:%llu:%llu: %.200s", name,
			 (unsigned long long)line, (unsigned long long)col, reason);
	bad->n++;
	if (bad->mode == DS_ON_ERROR_QUARANTINE && bad->rej)
		return ds_rejects_add(bad->rej, name, line, col, reason, raw, raw_len);
	return 0;
}

/* "a.csv:2:7: why; a.csv:3:7: why" of the first bad rows, into buf. */
static const char *first_text(const ingest_bad *bad, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint64_t i = 0; i < bad->n && i < INGEST_FIRST_BAD && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s", i ? "; " : "", bad->first[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (bad->n > INGEST_FIRST_BAD && used < size)
		snprintf(buf + used, size - used, "; and %llu more",
			 (unsigned long long)(bad->n - INGEST_FIRST_BAD));
	return buf;
}

int ingest_finish(ingest_bad *bad, const ds_ingest_stats *st, size_t ncol, const char *source)
{
	step_ctx *ctx = bad->ctx;
	uint64_t n = st->rows_rejected, total = st->rows + n;
	bool quarantine = bad->mode == DS_ON_ERROR_QUARANTINE;
	char first[INGEST_FIRST_BAD * 330 + 32], limit[48];
	bool over;

	if (bad->limit_is_fraction) {
		over = (double)n > bad->limit * (double)total;
		snprintf(limit, sizeof limit, "%g%% of the rows", bad->limit * 100);
	} else {
		over = (double)n > bad->limit;
		snprintf(limit, sizeof limit, "%.0f row%s", bad->limit, bad->limit == 1 ? "" : "s");
	}
	if (n) {
		first_text(bad, first, sizeof first);
		step_log(ctx, "%llu bad row%s %s; the first: %s", (unsigned long long)n,
			 n == 1 ? "" : "s", quarantine ? "quarantined" : "skipped", first);
	}
	if (over)
		return step_fail(ctx, SL_ESTEP,
				 "%llu of %llu rows (%.3g%%) are bad, more than max_bad_rows allows "
				 "(%s): %s. Fix the data or the options (types, delimiter, encoding ...), "
				 "or raise max_bad_rows",
				 (unsigned long long)n, (unsigned long long)total,
				 100.0 * (double)n / (double)total, limit, first);

	/* Quarantined rows are left out of the dataset too, so they count as
	 * skipped as well; rows_quarantined says how many went to rejects. */
	step_metric(ctx, "rows", (double)st->rows);
	step_metric(ctx, "columns", (double)ncol);
	step_metric(ctx, "rows_skipped", (double)n);
	step_metric(ctx, "rows_quarantined", quarantine ? (double)n : 0);
	step_output_meta(ctx, "data", json_pack("{sI sI ss?}", "rows", (json_int_t)st->rows,
						"columns", (json_int_t)ncol, "source", source));
	if (n)
		step_note(ctx, "%llu of %llu rows bad, %s%s", (unsigned long long)n,
			  (unsigned long long)total, quarantine ? "quarantined" : "skipped",
			  quarantine ? " (see the rejects output)" : "");
	return 0;
}
