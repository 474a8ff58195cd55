/*
 * The table of built-in steps and the helpers run() functions use to read
 * their options, find their inputs and outputs and report metrics.
 *
 * The table is kept sorted by name in this source, so `sluice steps` lists
 * it in order and lookup is a binary search; a new step is one line here,
 * in its place (test_registry fails on a line out of order).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "canvas/canvas.h"
#include "steps/step.h"

extern const step_def step_evaluate;
extern const step_def step_ingest_csv;
extern const step_def step_ingest_file;
extern const step_def step_ingest_jsonl;
extern const step_def step_ingest_log;
extern const step_def step_ingest_sql;
extern const step_def step_label;
extern const step_def step_package;
extern const step_def step_predict;
extern const step_def step_register;
extern const step_def step_split;
extern const step_def step_test;
extern const step_def step_train_forecast;
extern const step_def step_train_gbdt;
extern const step_def step_train_iforest;
extern const step_def step_train_linear;
extern const step_def step_train_logistic;
extern const step_def step_train_naive_bayes;
extern const step_def step_tune;
extern const step_def step_validate;
extern const step_def step_wrangle;

static const step_def *const registry[] = {
	&step_evaluate,
	&step_ingest_csv,
	&step_ingest_file,
	&step_ingest_jsonl,
	&step_ingest_log,
	&step_ingest_sql,
	&step_label,
	&step_package,
	&step_predict,
	&step_register,
	&step_split,
	&step_test,
	&step_train_forecast,
	&step_train_gbdt,
	&step_train_iforest,
	&step_train_linear,
	&step_train_logistic,
	&step_train_naive_bayes,
	&step_tune,
	&step_validate,
	&step_wrangle,
};

const step_def *step_find(const char *name)
{
	size_t lo = 0, hi = SL__ARRAY_LEN(registry);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, registry[mid]->name);
		if (c == 0)
			return registry[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const step_def *const *step_all(size_t *out_n)
{
	*out_n = SL__ARRAY_LEN(registry);
	return registry;
}

const step_opt *step_find_opt(const step_def *def, const char *name)
{
	for (const step_opt *o = def->opts; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

const char *step_input(const step_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->n_inputs; i++)
		if (!strcmp(ctx->input_names[i], name))
			return ctx->input_paths[i];
	return NULL;
}

const char *step_input_id(const step_ctx *ctx, const char *name)
{
	for (size_t i = 0; ctx->input_ids && i < ctx->n_inputs; i++)
		if (!strcmp(ctx->input_names[i], name))
			return ctx->input_ids[i];
	return NULL;
}

const char *step_output(const step_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->n_outputs; i++)
		if (!strcmp(ctx->output_names[i], name))
			return ctx->output_paths[i];
	return NULL;
}

char *step_resolve_path(const step_ctx *ctx, const char *path)
{
	return sl__path_join(ctx->pipeline_dir, path);
}

int step_canvas_load(step_ctx *ctx, canvas **out)
{
	const char *named = step_opt_str(ctx, "canvas");
	char *path = NULL;
	int rc;

	*out = NULL;
	if (named && !(path = step_resolve_path(ctx, named)))
		return step_oom(ctx);
	if (!named && (rc = canvas_find(ctx->pipeline_dir, &path)))
		return step_fail(ctx, rc, "canvas: %s", sl_errmsg());
	if (!path)
		return 0;
	rc = canvas_load(path, out);
	sl__free(path);
	return rc ? step_fail(ctx, rc, "canvas: %s", sl_errmsg()) : 0;
}

json_t *step_opt_json(const step_ctx *ctx, const char *name)
{
	json_t *v = json_object_get(ctx->with, name);

	return json_is_null(v) ? NULL : v;
}

const char *step_opt_str(const step_ctx *ctx, const char *name)
{
	return json_string_value(step_opt_json(ctx, name));
}

int64_t step_opt_int(const step_ctx *ctx, const char *name, int64_t def)
{
	json_t *v = step_opt_json(ctx, name);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return def;
}

double step_opt_num(const step_ctx *ctx, const char *name, double def)
{
	json_t *v = step_opt_json(ctx, name);

	return json_is_number(v) ? json_number_value(v) : def;
}

bool step_opt_bool(const step_ctx *ctx, const char *name, bool def)
{
	json_t *v = step_opt_json(ctx, name);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

int step_opt_strings(step_ctx *ctx, const char *name, const char ***out, size_t *out_n)
{
	json_t *v = step_opt_json(ctx, name), *e;
	size_t i;

	*out = NULL;
	*out_n = 0;
	if (!v)
		return 0;
	*out = sl__calloc(json_is_array(v) ? json_array_size(v) + 1 : 1, sizeof **out);
	if (!*out)
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	if (json_is_string(v)) {
		(*out)[(*out_n)++] = json_string_value(v);
		return 0;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return step_fail(ctx, SL_EINVAL, "with.%s[%zu] must be a column name", name, i);
		(*out)[(*out_n)++] = json_string_value(e);
	}
	return 0;
}

void step_metric(step_ctx *ctx, const char *name, double value)
{
	if (json_object_set_new(ctx->metrics, name, json_real(value)))
		ctx->lost = SL_ENOMEM;
}

void step_metric_series(step_ctx *ctx, const char *name, const double *values, size_t n)
{
	json_t *arr;

	if (n == 0)
		return;
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		/* json_real refuses NaN and infinities: they become null, a gap. */
		if (json_array_append_new(arr, isfinite(values[i]) ? json_real(values[i])
								   : json_null()) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	if (json_object_set_new(ctx->metrics, name, arr))
		ctx->lost = SL_ENOMEM;
}

void step_store_op(step_ctx *ctx, json_t *op)
{
	if (!ctx->store_ops) {
		json_decref(op);
		return;
	}
	if (!op || json_array_append_new(ctx->store_ops, op))
		ctx->lost = SL_ENOMEM;
}

void step_output_meta(step_ctx *ctx, const char *output, json_t *meta)
{
	if (!meta || json_object_set_new(ctx->out_meta, output, meta))
		ctx->lost = SL_ENOMEM;
}

int step_call(step_ctx *ctx, int (*fn)(step_ctx *ctx))
{
	int rc = fn(ctx);

	if (rc == 0 && ctx->lost)
		rc = step_fail(ctx, ctx->lost, "out of memory recording the step's metrics or store ops");
	return rc;
}

void step_log(step_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->log)
		return;
	va_start(ap, fmt);
	vfprintf(ctx->log, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->log);
	fflush(ctx->log);
}

void step_note(step_ctx *ctx, const char *fmt, ...)
{
	char msg[512], *path;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Beside metrics.json: the scheduler reads it when the step ends. */
	path = ctx->workdir ? sl__path_join(ctx->workdir, "note.txt") : NULL;
	if (path)
		(void)sl__write_atomic(path, msg, strlen(msg));
	sl__free(path);
}

/* Parenthesised: step.h wraps the name in a macro for the analyzer. */
int (step_fail)(step_ctx *ctx, int code, const char *fmt, ...)
{
	char msg[SL__ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sl__err(code ? code : SL_ESTEP, "%s", msg);
	if (ctx->log) {
		fprintf(ctx->log, "error: %s\n", msg);
		fflush(ctx->log);
	}
	return code ? code : SL_ESTEP;
}

int (step_oom)(step_ctx *ctx)
{
	int code = sl__oom();

	return step_fail(ctx, code, "%s", sl_errmsg());
}
