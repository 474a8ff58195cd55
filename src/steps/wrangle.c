/*
 * wrangle: an ordered list of operations on a dataset (select, drop, rename,
 * cast, filter, dedupe, impute, clip, normalise, encode, text, dates, lag,
 * rolling, derive; see docs/steps/wrangle.md).
 *
 * Without a `transform` input the operations are fitted on the data (each on
 * the output of the previous one) and the fitted transform is written as an
 * output. With one, nothing is fitted: the transform's operations and
 * learned parameters are applied unchanged, and the transform output is a
 * byte-for-byte copy of the input, so a pipeline that wrangles training and
 * new data with the same transform shows one transform artifact.
 */
#include <string.h>

#include "dataset/dataset.h"
#include "dataset/transform.h"
#include "steps/step.h"

/*
 * The operations and their options, checked when the pipeline file is read
 * (src/dataset/transform_fit.c reads them when fitting; a unit test keeps
 * the two lists of option names alike). Learned fields (fill, bounds,
 * scale, categories, vocabulary, idf) belong to the transform artifact, not
 * to the file.
 */
static const step_opt col_name = {.type = OPT_STRING, .len = "[1,)"};
static const step_opt expression = {.type = OPT_EXPR, .len = "[1,)"};
static const step_opt type_name = {.type = OPT_STRING, .choices = STEP_DS_TYPES};
static const step_opt lag_k = {.type = OPT_INT, .range = "[1,)"};
static const step_opt one_derived = {.type = OPT_MAP, .len = "[1, 1]", .item = &expression,
				     .help = "{name: expression}"};

#define COLUMNS(what, req)                                                                 \
	{.name = "columns", .type = OPT_STRING_LIST, .required = req, .len = "[1,)",       \
	 .unique = true, .item = &col_name, .help = what}
#define COLUMN(what)                                                                       \
	{.name = "column", .type = OPT_STRING, .len = "[1,)", .help = what}

static const step_opt f_pick[] = {COLUMNS("the columns", true), {.name = NULL}};
static const step_opt f_rename[] = {
	{.name = "columns", .type = OPT_MAP, .required = true, .len = "[1,)", .item = &col_name,
	 .help = "old name -> new name"},
	{.name = NULL},
};
static const step_opt f_cast[] = {
	{.name = "columns", .type = OPT_MAP, .required = true, .len = "[1,)", .item = &type_name,
	 .help = "column -> type"},
	{.name = "on_error", .type = OPT_STRING, .def = "fail", .choices = "fail null",
	 .help = "a value that does not convert: fail, or null"},
	{.name = NULL},
};
static const step_opt f_filter[] = {
	{.name = "expr", .type = OPT_EXPR, .required = true, .len = "[1,)",
	 .help = "rows where this bool expression is true are kept"},
	{.name = NULL},
};
static const step_opt f_dedupe[] = {
	COLUMNS("the key (default: all columns)", false),
	{.name = "keep", .type = OPT_STRING, .def = "first", .choices = "first",
	 .help = "which of equal rows stays"},
	{.name = NULL},
};
static const step_opt f_impute[] = {
	COLUMNS("the columns (default: numbers for mean and median, all for mode and constant)", false),
	{.name = "strategy", .type = OPT_STRING, .def = "mean", .choices = "mean median mode constant",
	 .help = "what fills a missing value"},
	{.name = "value", .type = OPT_SCALAR, .help = "the fill for strategy constant"},
	{.name = NULL},
};
static const step_rule r_impute[] = {
	{.kind = RULE_REQUIRES, .names = "value", .when = "strategy=constant"},
	{.kind = RULE_END},
};
static const step_opt f_clip[] = {
	COLUMNS("the columns (default: the numeric ones)", false),
	{.name = "min", .type = OPT_NUMBER, .help = "fixed lower bound"},
	{.name = "max", .type = OPT_NUMBER, .help = "fixed upper bound"},
	{.name = "lower_quantile", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "lower bound learned as this quantile"},
	{.name = "upper_quantile", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "upper bound learned as this quantile"},
	{.name = NULL},
};
static const step_rule r_clip[] = {
	{.kind = RULE_ANY_OF, .names = "min max lower_quantile upper_quantile"},
	{.kind = RULE_EXCLUSIVE, .names = "min lower_quantile", .why = "a side is fixed or learned"},
	{.kind = RULE_EXCLUSIVE, .names = "max upper_quantile", .why = "a side is fixed or learned"},
	{.kind = RULE_END},
};
static const step_opt f_normalise[] = {
	COLUMNS("the columns (default: the numeric ones)", false),
	{.name = "method", .type = OPT_STRING, .def = "zscore", .choices = "zscore minmax",
	 .help = "zscore: (x - mean) / std; minmax: (x - min) / (max - min)"},
	{.name = NULL},
};
static const step_opt f_encode[] = {
	COLUMNS("string, int64 or bool columns (default: the string ones)", false),
	{.name = "method", .type = OPT_STRING, .def = "onehot", .choices = "onehot ordinal hashing",
	 .help = "how categories become numbers"},
	{.name = "max_categories", .type = OPT_INT, .def = "0", .range = "[0,)",
	 .help = "onehot, ordinal: keep the most frequent (0: all)"},
	{.name = "n_buckets", .type = OPT_INT, .def = "16", .range = "[1, 65536]",
	 .help = "hashing: output columns"},
	{.name = "prefix", .type = OPT_STRING, .help = "names of the new columns (default COLUMN_)"},
	{.name = NULL},
};
static const step_opt f_text[] = {
	{.name = "column", .type = OPT_STRING, .required = true, .len = "[1,)", .help = "a string column"},
	{.name = "lowercase", .type = OPT_BOOL, .def = "true", .help = "ASCII lowercase before tokenising"},
	{.name = "output", .type = OPT_STRING, .def = "tfidf",
	 .choices = "text tokens counts binary tfidf", .help = "what replaces the column"},
	{.name = "max_features", .type = OPT_INT, .def = "1000", .range = "[1,)",
	 .help = "vocabulary size"},
	{.name = "min_df", .type = OPT_INT, .def = "1", .range = "[1,)",
	 .help = "a term must occur in at least this many rows"},
	{.name = "min_token_length", .type = OPT_INT, .def = "2", .range = "[1,)",
	 .help = "shorter tokens are ignored"},
	{.name = "prefix", .type = OPT_STRING, .help = "names of the new columns (default COLUMN_)"},
	{.name = NULL},
};
static const step_opt date_part = {
	.type = OPT_STRING,
	.choices = "year quarter month day weekday dayofyear hour minute second"};
static const step_opt cyclic_part = {
	.type = OPT_STRING, .choices = "quarter month day weekday dayofyear hour minute second"};
static const step_opt f_dates[] = {
	{.name = "column", .type = OPT_STRING, .required = true, .len = "[1,)",
	 .help = "a timestamp column"},
	{.name = "parts", .type = OPT_STRING_LIST, .unique = true, .item = &date_part,
	 .help = "int columns COLUMN_part"},
	{.name = "cyclical", .type = OPT_STRING_LIST, .unique = true, .item = &cyclic_part,
	 .help = "float columns COLUMN_part_sin and _cos"},
	{.name = "drop", .type = OPT_BOOL, .def = "false", .help = "drop the timestamp column"},
	{.name = NULL},
};
#define SERIES_FIELDS                                                                      \
	COLUMN("the value column"), COLUMNS("the value columns", false),                   \
		{.name = "by", .type = OPT_STRING_LIST, .unique = true, .item = &col_name,  \
		 .help = "group key column(s): each group is its own series"},               \
		{.name = "order_by", .type = OPT_STRING, .required = true, .len = "[1,)",    \
		 .help = "the time column"}
static const step_opt f_lag[] = {
	SERIES_FIELDS,
	{.name = "lags", .type = OPT_LIST, .def = "[1]", .len = "[1,)", .unique = true, .item = &lag_k,
	 .help = "new columns COLUMN_lagK: the value K rows earlier"},
	{.name = NULL},
};
static const step_opt f_rolling[] = {
	SERIES_FIELDS,
	{.name = "window", .type = OPT_INT, .required = true, .range = "[1,)",
	 .help = "rows per window, ending at the current row"},
	{.name = "agg", .type = OPT_STRING, .def = "mean", .choices = "mean sum",
	 .help = "of the non-null values in the window"},
	{.name = "min_periods", .type = OPT_INT, .range = "[1,)",
	 .help = "fewer non-null values give null (default: window)"},
	{.name = NULL},
};
static const step_rule r_series[] = {
	{.kind = RULE_ONE_OF, .names = "column columns"},
	{.kind = RULE_END},
};
static const step_opt derive_shapes[] = {
	{.type = OPT_MAP, .len = "[1,)", .item = &expression,
	 .help = "a mapping of new column names to expressions"},
	{.type = OPT_LIST, .len = "[1,)", .item = &one_derived,
	 .help = "a list of one-entry mappings {name: expression}"},
	{.help = NULL},
};
static const step_opt f_derive[] = {
	{.name = "columns", .type = OPT_MAP, .required = true, .alts = derive_shapes,
	 .help = "new name -> expression, evaluated in order"},
	{.name = NULL},
};

static const step_variant op_variants[] = {
	{.name = "select", .shorthand = "columns", .fields = f_pick, .help = "keep these columns, in this order"},
	{.name = "drop", .shorthand = "columns", .fields = f_pick, .help = "remove these columns"},
	{.name = "rename", .shorthand = "columns", .fields = f_rename, .help = "rename in place"},
	{.name = "cast", .shorthand = "columns", .fields = f_cast, .help = "convert column types"},
	{.name = "filter", .shorthand = "expr", .fields = f_filter, .help = "keep the rows where expr is true"},
	{.name = "dedupe|drop_duplicates", .shorthand = "columns", .fields = f_dedupe,
	 .help = "drop rows whose key equals an earlier row's"},
	{.name = "impute", .shorthand = "columns", .fields = f_impute, .rules = r_impute,
	 .help = "fill missing values"},
	{.name = "clip", .shorthand = "columns", .fields = f_clip, .rules = r_clip,
	 .help = "bound values, fixed or learned as quantiles"},
	{.name = "normalise|normalize|scale", .shorthand = "columns", .fields = f_normalise,
	 .help = "centre and scale numbers"},
	{.name = "encode", .shorthand = "columns", .fields = f_encode, .help = "categories to numbers"},
	{.name = "text", .shorthand = "column", .fields = f_text, .help = "text to term features"},
	{.name = "dates", .shorthand = "column", .fields = f_dates, .help = "timestamp parts"},
	{.name = "lag", .shorthand = "column", .fields = f_lag, .rules = r_series,
	 .help = "earlier values of a series"},
	{.name = "rolling", .shorthand = "column", .fields = f_rolling, .rules = r_series,
	 .help = "window aggregates of a series"},
	{.name = "derive", .shorthand = "columns", .fields = f_derive, .help = "new columns from expressions"},
	{.name = NULL},
};

static const step_opt op = {.type = OPT_MAP, .tag = "op", .variants = op_variants, .help = "an operation"};

static const step_opt opts[] = {
	{.name = "ops", .type = OPT_LIST, .item = &op,
	 .help = "the operations in order, e.g. [{op: impute, strategy: median}, {filter: \"age >= 18\"}]"},
	{.name = NULL},
};

/* Without a transform to apply there must be operations to fit. */
static int check(const step_check *c)
{
	if (!json_object_get(c->with, "ops") && !step_check_has_input(c, "transform"))
		return step_check_fail(c, "", "give with.ops (the operations to fit) or the input "
					      "'transform' (a fitted transform to apply)");
	return 0;
}

/*
 * Before the run, the ops against the columns of the input 'data', walked
 * op by op without its rows (transform_check), so a misspelt column is
 * found before anything is fitted. With a transform input the ops are not
 * fitted, only compared with the transform's, so there is nothing to walk.
 */
static int precheck(const json_t *with, const step_columns *in, size_t n)
{
	const json_t *ops = json_object_get(with, "ops");
	const step_columns *data = NULL;

	for (size_t k = 0; k < n; k++) {
		if (!strcmp(in[k].input, "transform"))
			return 0;
		if (!strcmp(in[k].input, "data") && in[k].known)
			data = &in[k];
	}
	if (!data || !ops)
		return 0;
	return transform_check(ops, "with.ops", data->names, data->types, data->n);
}

static const step_port inputs[] = {
	{"data", "dataset", false, "the dataset to wrangle"},
	{"transform", "transform", true, "a fitted transform to apply instead of fitting the ops"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"data", "dataset", false, "the wrangled dataset"},
	{"transform", "transform", false, "the fitted transform (a copy of the input transform when given)"},
	{NULL, NULL, false, NULL},
};

/* With a transform given, with.ops (if any) must name the same operations. */
static int check_ops(step_ctx *ctx, const json_t *ops, const transform *tr)
{
	const json_t *have = transform_ops(tr);

	if (!ops || json_array_size(ops) == 0)
		return 0;
	if (json_array_size(ops) != json_array_size(have))
		return step_fail(ctx, SL_EINVAL,
				 "with.ops has %zu operations but the transform input has %zu; omit ops to apply the transform",
				 json_array_size(ops), json_array_size(have));
	for (size_t k = 0; k < json_array_size(ops); k++) {
		const json_t *o = json_array_get(ops, k);
		const char *mine = json_string_value(json_object_get(o, "op"));
		const char *theirs = json_string_value(json_object_get(json_array_get(have, k), "op"));
		if (!mine && json_object_size(o) == 1)
			mine = json_object_iter_key(json_object_iter((json_t *)o));
		if (!mine || !theirs || (strcmp(mine, theirs) && !(strcmp(theirs, "normalise") == 0 &&
								   (!strcmp(mine, "normalize") || !strcmp(mine, "scale")))))
			return step_fail(ctx, SL_EINVAL, "with.ops[%zu] is '%s' but the transform's operation %zu is '%s'",
					 k, mine ? mine : "?", k, theirs ? theirs : "?");
	}
	return 0;
}

static int run(step_ctx *ctx)
{
	const char *data_in = step_input(ctx, "data");
	const char *tr_in = step_input(ctx, "transform");
	const json_t *ops = step_opt_json(ctx, "ops");
	ds_table *t = NULL, *out = NULL;
	transform *tr = NULL;
	double t0 = sl__mono_sec();
	int rc;

	if (!data_in)
		return step_fail(ctx, SL_EINVAL, "input 'data' is required");
	if ((rc = ds_open(data_in, 0, &t)))
		return step_fail(ctx, rc, "reading data: %s", sl_errmsg());
	if (tr_in) {
		if ((rc = transform_load(tr_in, &tr))) {
			step_fail(ctx, rc, "reading transform: %s", sl_errmsg());
			goto out;
		}
		if ((rc = check_ops(ctx, ops, tr)))
			goto out;
		if ((rc = transform_apply_table(tr, t, &out))) {
			step_fail(ctx, rc, "%s", sl_errmsg());
			goto out;
		}
		step_log(ctx, "applied the given transform (%zu operations), nothing fitted",
			 json_array_size(transform_ops(tr)));
	} else {
		if ((rc = transform_fit(ops, "with.ops", t, &tr, &out))) {
			step_fail(ctx, rc, "%s", sl_errmsg());
			goto out;
		}
		step_log(ctx, "fitted %zu operations", json_array_size(ops));
	}
	if ((rc = ds_table_write(out, step_output(ctx, "data")))) {
		step_fail(ctx, rc, "writing data: %s", sl_errmsg());
		goto out;
	}
	/* A given transform is passed on byte for byte; a fitted one is serialised canonically. */
	rc = tr_in ? sl__copy_file(tr_in, step_output(ctx, "transform"))
		   : transform_save(tr, step_output(ctx, "transform"));
	if (rc) {
		step_fail(ctx, rc, "writing transform: %s", sl_errmsg());
		goto out;
	}
	step_metric(ctx, "rows_in", (double)ds_nrow(t));
	step_metric(ctx, "rows_out", (double)ds_nrow(out));
	step_metric(ctx, "columns_out", (double)ds_ncol(out));
	step_log(ctx, "%zu rows in, %zu rows and %zu columns out in %.3f s", ds_nrow(t), ds_nrow(out),
		 ds_ncol(out), sl__mono_sec() - t0);
out:
	ds_close(out);
	ds_close(t);
	transform_free(tr);
	return rc;
}

const step_def step_wrangle = {
	.name = "wrangle",
	.version = 1,
	.summary = "select, clean, encode and derive columns; fit a transform or apply one",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
	.precheck = precheck,
};
