/*
 * Options and reporting shared by the ingest steps (see ingest_common.h).
 */
#include "steps/ingest_common.h"

const step_port ingest_outputs[] = {
	{"data", "dataset", false, "the typed dataset"},
	{"rejects", "file", false,
	 "rows left out by on_error: quarantine, as CSV (file,line,column,reason,raw; header only when none)"},
	{NULL, NULL, false, NULL},
};

const step_port ingest_no_inputs[] = {{NULL, NULL, false, NULL}};

int ingest_decode(step_ctx *ctx, ingest_types *t, ds_ingest_opts *o)
{
	const char *on_error = step_opt_str(ctx, "on_error");
	json_t *m = step_opt_json(ctx, "types"), *v;
	const char *key;
	size_t k = 0;

	t->cols = NULL;
	t->types = NULL;
	if (on_error && !ds_on_error_parse(on_error, &o->on_error))
		return step_fail(ctx, SL_EINVAL, "with.on_error: expected fail, skip or quarantine, "
						 "not '%s'", on_error);
	if (!m)
		return 0;
	if (!json_is_object(m))
		return step_fail(ctx, SL_EINVAL, "with.types: expected a map of column: type");
	t->cols = sl__calloc(json_object_size(m) + 1, sizeof *t->cols);
	t->types = sl__calloc(json_object_size(m) + 1, sizeof *t->types);
	if (!t->cols || !t->types)
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	json_object_foreach(m, key, v) {
		if (!json_is_string(v) || !ds_type_parse(json_string_value(v), &t->types[k]))
			return step_fail(ctx, SL_EINVAL, "with.types.%s: expected one of int, float, "
							 "bool, string, timestamp", key);
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

void ingest_report(step_ctx *ctx, const ds_ingest_stats *st, size_t ncol, ds_on_error mode)
{
	/* Quarantined rows are left out of the dataset too, so they count as
	 * skipped as well; rows_quarantined says how many went to rejects. */
	step_metric(ctx, "rows", (double)st->rows);
	step_metric(ctx, "columns", (double)ncol);
	step_metric(ctx, "rows_skipped", (double)st->rows_rejected);
	step_metric(ctx, "rows_quarantined",
		    mode == DS_ON_ERROR_QUARANTINE ? (double)st->rows_rejected : 0);
	step_output_meta(ctx, "data", json_pack("{sI sI}", "rows", (json_int_t)st->rows, "columns",
						(json_int_t)ncol));
}
