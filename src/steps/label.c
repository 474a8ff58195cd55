/*
 * label: adds the label column (`target`, default "label") to a dataset,
 * taken from one of three sources:
 *
 *   from: COLUMN [mapping: {VALUE: LABEL, ...}]   a column, optionally mapped
 *   rules: [{when: EXPR, label: LABEL}, ...]       the first true rule wins
 *   input `labels` + on: KEY [label_column: C]     a join on a key column
 *
 * `default:` labels the rows the source leaves without one. Rows still
 * without a label are kept with a null label, dropped, or fail the step
 * (`unlabeled: keep | drop | fail`); they are always counted (`unlabeled`)
 * and the label balance is reported as metrics and in the log.
 *
 * How the column is built. Every source is reduced to the same form: a
 * source table and column holding label values, and for each data row the
 * source row that labels it, or SRC_NONE (no label: the default applies)
 * or SRC_NULL (an explicit null label from `mapping` or `rules`: no
 * default). For `from` the source is the data itself, for a join the labels
 * dataset, and for `mapping` and `rules` a small table of the label values
 * written in the options, typed by inference (all integers: int64; numbers:
 * float64; all strings: string; all booleans: bool). The column is then
 * appended in runs with ds_append_from, so labels are copied, never
 * re-parsed, and the output depends only on the inputs and the options.
 *
 * Invariants: every input row is in the output, in order, unless
 * `unlabeled: drop` removes it (and counts it); the input columns are
 * unchanged except a column named `target`, which is replaced in place;
 * otherwise the label column comes last.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"
#include "dataset/expr.h"
#include "dataset/keys.h"
#include "steps/step.h"
#include "yamltree.h"

#define SRC_NONE SIZE_MAX
#define SRC_NULL (SIZE_MAX - 1)
/* Label values beyond these are summarised: such a column is not a class label. */
#define MAX_LABEL_METRICS 100
#define MAX_LABEL_LOG 20

static const step_opt label_value = {.type = OPT_SCALAR};

static const step_opt rule_fields[] = {
	{.name = "when", .type = OPT_EXPR, .required = true,
	 .help = "the condition: a bool expression over the columns"},
	{.name = "label", .type = OPT_SCALAR,
	 .help = "the label of the rows it matches (null: no label, and no later rule applies)"},
	{.name = NULL},
};

static const step_opt rule = {.type = OPT_MAP, .fields = rule_fields, .help = "a rule"};

static const step_opt opts[] = {
	{.name = "from", .type = OPT_STRING, .len = "[1,)", .columns_of = "data",
	 .help = "take the label from this column"},
	{.name = "mapping", .type = OPT_MAP, .len = "[1,)", .item = &label_value,
	 .help = "with from: column value -> label, e.g. {spam: 1, ham: 0}; values not listed get no label"},
	{.name = "rules", .type = OPT_LIST, .len = "[1,)", .item = &rule,
	 .help = "ordered [{when: EXPR, label: VALUE}, ...]; the first true rule labels the row"},
	{.name = "on", .type = OPT_STRING, .len = "[1,)", .columns_of = "data",
	 .help = "with input labels: the key column joining the two"},
	{.name = "labels_on", .type = OPT_STRING, .len = "[1,)", .columns_of = "labels",
	 .help = "the key column of labels when its name differs from on"},
	{.name = "label_column", .type = OPT_STRING, .len = "[1,)", .columns_of = "labels",
	 .help = "the column of labels holding the label (default: the target name)"},
	{.name = "default", .type = OPT_SCALAR, .help = "the label of rows the source leaves without one"},
	{.name = "target", .type = OPT_STRING, .def = "label", .len = "[1,)",
	 .help = "the name of the label column written"},
	{.name = "unlabeled", .type = OPT_STRING, .def = "keep", .choices = "keep drop fail",
	 .help = "rows without a label: keep (null label), drop, or fail"},
	{.name = NULL},
};

static const step_rule label_rules[] = {
	{.kind = RULE_ONE_OF, .names = "from rules on",
	 .why = "the label's source: a column, ordered rules, or a join with the input 'labels'"},
	{.kind = RULE_REQUIRES, .names = "from", .when = "mapping"},
	{.kind = RULE_REQUIRES, .names = "on", .when = "labels_on"},
	{.kind = RULE_REQUIRES, .names = "on", .when = "label_column"},
	{.kind = RULE_END},
};

static const step_port inputs[] = {
	{"data", "dataset", false, "the rows to label"},
	{"labels", "dataset", true, "labels to join on a key (with on:)"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"data", "dataset", false, "the rows with their label column"},
	{NULL, NULL, false, NULL},
};

enum mode { MODE_FROM, MODE_RULES, MODE_JOIN };
enum unlabeled { UNL_KEEP, UNL_DROP, UNL_FAIL };

typedef struct label_job {
	step_ctx *ctx;
	enum mode mode;
	enum unlabeled unlabeled;
	const char *target;
	json_t *def;          /* with.default, or NULL */
	ds_table *t;          /* the data */
	ds_table *labels;     /* the labels input (join) */
	size_t n;             /* data rows */
	/* The reduced source (see the file comment). */
	const ds_table *src;
	size_t src_col;
	size_t *src_rows;     /* per data row */
	ds_table *values;     /* mapping/rules: the label values written in the options */
	ds_table *def_table;  /* the default as a one-row table, or NULL */
} label_job;

/* Finds a column, failing with the list of columns there are. */
static int find_col(step_ctx *ctx, const ds_table *t, const char *opt, const char *what,
		    const char *name, size_t *out_j)
{
	sl__buf cols;

	if (ds_col_find(t, name, out_j) == 0)
		return 0;
	sl__buf_init(&cols, 4096);
	for (size_t j = 0; j < ds_ncol(t); j++)
		if (sl__buf_printf(&cols, "%s%s", j ? ", " : "", ds_col_name(t, j)))
			break;
	step_fail(ctx, SL_ENOENT, "with.%s: no column '%s' in %s (columns: %s)", opt, name, what,
		  cols.data ? cols.data : "none");
	sl__buf_free(&cols);
	return SL_ENOENT;
}

/* ---- label values written in the options ------------------------------------ */


/*
 * The type of a set of label values (nulls aside): int64 when all are
 * integers, float64 when all are numbers, string, or bool. names[k] names
 * value k in messages ("rules[2].label").
 */
static int infer_type(step_ctx *ctx, json_t *const *vals, char *const *names, size_t n,
		      ds_type *out)
{
	ds_type type = (ds_type)0;
	size_t first = 0;

	for (size_t k = 0; k < n; k++) {
		json_t *v = vals[k];
		ds_type vt;
		if (json_is_null(v))
			continue;
		if (json_is_integer(v))
			vt = DS_INT64;
		else if (json_is_real(v))
			vt = DS_FLOAT64;
		else if (json_is_string(v))
			vt = DS_STRING;
		else if (json_is_boolean(v))
			vt = DS_BOOL;
		else
			return step_fail(ctx, SL_EINVAL, "with.%s: a label must be a single value, not %s",
					 names[k], sl__json_kind(v));
		if (!type) {
			type = vt;
			first = k;
		} else if (type != vt) {
			bool numeric = (type == DS_INT64 || type == DS_FLOAT64) &&
				       (vt == DS_INT64 || vt == DS_FLOAT64);
			if (!numeric)
				return step_fail(ctx, SL_EINVAL,
						 "with.%s: the label is %s but with.%s is %s; all labels "
						 "must have one type",
						 names[k], sl__json_kind(v), names[first], sl__json_kind(vals[first]));
			type = DS_FLOAT64;
		}
	}
	*out = type ? type : DS_STRING;
	return 0;
}

/* Appends one option value to column j (of type type), converting it strictly. */
static int append_json(step_ctx *ctx, ds_builder *b, size_t j, ds_type type, json_t *v,
		       const char *name, const char *col_what)
{
	int rc = ds_append_json(b, j, type, v);

	if (rc != DS_JSON_MISFIT)
		return rc;
	return step_fail(ctx, SL_EINVAL, "with.%s: %s does not fit %s, which holds %s values", name,
			 sl__json_kind(v), col_what, ds_type_name(type));
}

/* A one-column table of the given values, typed type. */
static int values_table(step_ctx *ctx, json_t *const *vals, char *const *names, size_t n,
			ds_type type, const char *col_what, ds_table **out)
{
	ds_builder *b = NULL;
	int rc;

	*out = NULL;
	if ((rc = ds_builder_new(&b)) || (rc = ds_builder_add_col(b, "label", type, NULL))) {
		ds_builder_free(b);
		return step_fail(ctx, rc, "%s", sl_errmsg());
	}
	for (size_t k = 0; k < n; k++)
		if ((rc = append_json(ctx, b, 0, type, vals[k], names[k], col_what))) {
			if (rc == SL_ENOMEM)
				step_oom(ctx);
			ds_builder_free(b);
			return rc;
		}
	rc = ds_builder_finish(b, out);
	ds_builder_free(b);
	return rc ? step_fail(ctx, rc, "%s", sl_errmsg()) : 0;
}

/* The default as a one-row table of the label column's type (NULL when none). */
static int make_default(label_job *L, ds_type type, const char *col_what)
{
	char name[] = "default";
	char *names[] = {name};

	if (!L->def)
		return 0;
	return values_table(L->ctx, &L->def, names, 1, type, col_what, &L->def_table);
}

/* ---- the three sources ----------------------------------------------------------- */

static int alloc_src_rows(label_job *L)
{
	L->src_rows = sl__malloc((L->n ? L->n : 1) * sizeof *L->src_rows);
	if (!L->src_rows)
		return step_oom(L->ctx);
	for (size_t i = 0; i < L->n; i++)
		L->src_rows[i] = SRC_NONE;
	return 0;
}

/* Parses a mapping key as a value of the from column's type and appends it. */
static int append_key(step_ctx *ctx, ds_builder *b, ds_type type, const char *key,
		      const char *from)
{
	size_t len = strlen(key);
	int64_t i;
	double d;
	bool v;

	switch (type) {
	case DS_STRING:
		return ds_append_str(b, 0, key, len);
	case DS_INT64:
		if (ds_parse_i64(key, len, &i))
			return ds_append_i64(b, 0, i);
		break;
	case DS_TIMESTAMP:
		if (ds_parse_timestamp(key, len, &i))
			return ds_append_i64(b, 0, i);
		break;
	case DS_FLOAT64:
		if (ds_parse_f64(key, len, &d))
			return ds_append_f64(b, 0, d);
		break;
	case DS_BOOL:
		if (ds_parse_bool(key, len, &v))
			return ds_append_bool(b, 0, v);
		break;
	}
	return step_fail(ctx, SL_EINVAL,
			 "with.mapping: key '%s' does not read as %s, the type of column '%s'", key,
			 ds_type_name(type), from);
}

static int source_from(label_job *L)
{
	step_ctx *ctx = L->ctx;
	const char *from = step_opt_str(ctx, "from");
	json_t *mapping = step_opt_json(ctx, "mapping"), *v;
	ds_type ftype, ltype;
	size_t fj, nmap, k = 0;
	ds_builder *b = NULL;
	ds_table *keyt = NULL;
	keys *ks = NULL;
	json_t **vals = NULL;
	char **names = NULL;
	uint32_t *ids = NULL;
	const char *key;
	int rc;

	if ((rc = find_col(ctx, L->t, "from", "the input", from, &fj)))
		return rc;
	ftype = ds_col_type(L->t, fj);
	if ((rc = alloc_src_rows(L)))
		return rc;
	if (!mapping) {
		char what[300];
		/* The column itself is the label (copied, perhaps renamed). */
		L->src = L->t;
		L->src_col = fj;
		for (size_t i = 0; i < L->n; i++)
			L->src_rows[i] = i;
		snprintf(what, sizeof what, "the column '%s'", from);
		step_log(ctx, "labels from column '%s'", from);
		return make_default(L, ftype, what);
	}

	/* The mapping's keys become a table of the column's type, so that
	 * keys_match compares values (1 and 01 are one integer) rather than
	 * texts, and its values a table of labels. */
	nmap = json_object_size(mapping);
	vals = sl__calloc(nmap + 1, sizeof *vals);
	names = sl__calloc(nmap + 1, sizeof *names);
	ids = sl__malloc((L->n ? L->n : 1) * sizeof *ids);
	if (!vals || !names || !ids) {
		rc = step_oom(ctx);
		goto done;
	}
	if ((rc = ds_builder_new(&b)) || (rc = ds_builder_add_col(b, "key", ftype, NULL))) {
		step_fail(ctx, rc, "%s", sl_errmsg());
		goto done;
	}
	json_object_foreach (mapping, key, v) {
		vals[k] = v;
		if (!(names[k] = sl__asprintf("mapping.%s", key))) {
			rc = step_oom(ctx);
			goto done;
		}
		k++;
		if ((rc = append_key(ctx, b, ftype, key, from))) {
			if (rc == SL_ENOMEM)
				step_oom(ctx);
			goto done;
		}
	}
	if ((rc = ds_builder_finish(b, &keyt)) || (rc = keys_build(keyt, 0, &ks))) {
		step_fail(ctx, rc, "with.mapping: %s", sl_errmsg());
		goto done;
	}
	if (keys_count(ks) != nmap) {
		/* Two keys parsed to one value: name the first pair. */
		const uint32_t *kid = keys_ids(ks);
		for (size_t a = 0; a < nmap; a++)
			if (kid[a] != a) {
				rc = step_fail(ctx, SL_EINVAL,
					       "with.mapping: keys '%s' and '%s' are the same %s value",
					       names[keys_first_row(ks, kid[a])] + 8, names[a] + 8,
					       ds_type_name(ftype));
				goto done;
			}
	}
	vals[nmap] = L->def;
	if (!(names[nmap] = sl__strdup("default"))) {
		rc = step_oom(ctx);
		goto done;
	}
	if ((rc = infer_type(ctx, vals, names, L->def ? nmap + 1 : nmap, &ltype)) ||
	    (rc = values_table(ctx, vals, names, nmap, ltype, "the mapping's labels", &L->values)) ||
	    (rc = make_default(L, ltype, "the mapping's labels")))
		goto done;
	if ((rc = keys_match(ks, L->t, fj, ids))) {
		step_fail(ctx, rc, "with.mapping: %s", sl_errmsg());
		goto done;
	}
	L->src = L->values;
	L->src_col = 0;
	for (size_t i = 0; i < L->n; i++) {
		uint32_t id = ids[i];
		if (id == KEYS_NONE)
			continue;
		L->src_rows[i] = json_is_null(vals[id]) ? SRC_NULL : id;
	}
	step_log(ctx, "labels from column '%s' through a mapping of %zu values", from, nmap);
	rc = 0;
done:
	for (size_t m = 0; names && m <= nmap; m++)
		sl__free(names[m]);
	sl__free(names);
	sl__free(vals);
	sl__free(ids);
	ds_builder_free(b);
	keys_free(ks);
	ds_close(keyt);
	return rc;
}

static int source_rules(label_job *L)
{
	step_ctx *ctx = L->ctx;
	json_t *rules = step_opt_json(ctx, "rules"), *r;
	size_t nr = json_array_size(rules), idx;
	json_t **vals = NULL;
	char **names = NULL;
	expr **ex = NULL;
	uint8_t *mask = NULL;
	ds_type ltype;
	int rc;

	vals = sl__calloc(nr + 1, sizeof *vals);
	names = sl__calloc(nr + 1, sizeof *names);
	ex = sl__calloc(nr, sizeof *ex);
	mask = sl__malloc(L->n ? L->n : 1);
	if (!vals || !names || !ex || !mask) {
		rc = step_oom(ctx);
		goto done;
	}
	/* The parser checked the rules' shape and each expression's syntax;
	 * here every expression is bound to the columns before any row is
	 * evaluated. */
	json_array_foreach (rules, idx, r) {
		json_t *when = json_object_get(r, "when");
		char where[64];

		vals[idx] = json_object_get(r, "label");
		if (!(names[idx] = sl__asprintf("rules[%zu].label", idx))) {
			rc = step_oom(ctx);
			goto done;
		}
		snprintf(where, sizeof where, "with.rules[%zu].when", idx);
		if ((rc = expr_compile_table(json_string_value(when), where, L->t, &ex[idx]))) {
			step_fail(ctx, rc, "%s", sl_errmsg());
			goto done;
		}
		if (expr_type(ex[idx]) != DS_BOOL && expr_type(ex[idx]) != EXPR_TNULL) {
			rc = step_fail(ctx, SL_EINVAL,
				       "with.rules[%zu].when: '%s' is %s, not a condition (bool)", idx,
				       json_string_value(when), ds_type_name(expr_type(ex[idx])));
			goto done;
		}
	}
	vals[nr] = L->def;
	if (!(names[nr] = sl__strdup("default"))) {
		rc = step_oom(ctx);
		goto done;
	}
	if ((rc = infer_type(ctx, vals, names, L->def ? nr + 1 : nr, &ltype)) ||
	    (rc = values_table(ctx, vals, names, nr, ltype, "the rules' labels", &L->values)) ||
	    (rc = make_default(L, ltype, "the rules' labels")) || (rc = alloc_src_rows(L)))
		goto done;
	L->src = L->values;
	L->src_col = 0;
	for (size_t k = 0; k < nr; k++) {
		size_t hits = 0;
		char name[32];
		if ((rc = expr_eval_mask(ex[k], L->t, mask))) {
			step_fail(ctx, rc, "%s", sl_errmsg());
			goto done;
		}
		/* First match wins: a row already labelled keeps its label. */
		for (size_t i = 0; i < L->n; i++)
			if (mask[i] && L->src_rows[i] == SRC_NONE) {
				L->src_rows[i] = json_is_null(vals[k]) ? SRC_NULL : k;
				hits++;
			}
		snprintf(name, sizeof name, "rule_%zu", k + 1);
		step_metric(ctx, name, (double)hits);
		step_log(ctx, "rule %zu (%s): %zu rows", k + 1, expr_text(ex[k]), hits);
	}
	rc = 0;
done:
	for (size_t k = 0; names && k <= nr; k++)
		sl__free(names[k]);
	for (size_t k = 0; ex && k < nr; k++)
		expr_free(ex[k]);
	sl__free(names);
	sl__free(vals);
	sl__free(ex);
	sl__free(mask);
	return rc;
}

/* True when rows a and b of column j hold the same value (nulls equal). */
static bool same_value(const ds_table *t, size_t j, size_t a, size_t b)
{
	const uint8_t *valid = ds_col_validity(t, j);
	size_t la, lb;
	const char *sa, *sb;

	if (ds_valid(valid, a) != ds_valid(valid, b))
		return false;
	if (!ds_valid(valid, a))
		return true;
	switch (ds_col_type(t, j)) {
	case DS_STRING:
		sa = ds_col_str(t, j, a, &la);
		sb = ds_col_str(t, j, b, &lb);
		return la == lb && (la == 0 || !memcmp(sa, sb, la));
	case DS_FLOAT64: {
		double x = ds_col_f64(t, j)[a], y = ds_col_f64(t, j)[b];
		return x == y || (isnan(x) && isnan(y));
	}
	case DS_BOOL:
		return ds_col_bool(t, j)[a] == ds_col_bool(t, j)[b];
	default:
		return ds_col_i64(t, j)[a] == ds_col_i64(t, j)[b];
	}
}

static int source_join(label_job *L)
{
	step_ctx *ctx = L->ctx;
	const char *on = step_opt_str(ctx, "on");
	const char *lon = step_opt_str(ctx, "labels_on");
	const char *lcol = step_opt_str(ctx, "label_column");
	size_t dj, kj, lj, matched = 0, dups = 0;
	keys *ks = NULL;
	uint32_t *ids = NULL;
	const uint32_t *kid;
	char what[300];
	int rc;

	if (!lon)
		lon = on;
	if (!lcol)
		lcol = L->target;
	if ((rc = find_col(ctx, L->t, "on", "the input 'data'", on, &dj)) ||
	    (rc = find_col(ctx, L->labels, step_opt_str(ctx, "labels_on") ? "labels_on" : "on",
			   "the input 'labels'", lon, &kj)) ||
	    (rc = find_col(ctx, L->labels, "label_column",
			   step_opt_str(ctx, "label_column")
				   ? "the input 'labels'"
				   : "the input 'labels' (label_column defaults to the target name)",
			   lcol, &lj)))
		return rc;
	if (ds_col_type(L->t, dj) != ds_col_type(L->labels, kj))
		return step_fail(ctx, SL_EINVAL,
				 "with.on: the key '%s' is %s in data but '%s' is %s in labels; cast "
				 "one with wrangle first",
				 on, ds_type_name(ds_col_type(L->t, dj)), lon,
				 ds_type_name(ds_col_type(L->labels, kj)));
	if ((rc = keys_build(L->labels, kj, &ks))) {
		step_fail(ctx, rc, "labels: %s", sl_errmsg());
		goto done;
	}
	/* A key listed twice must carry the same label both times. */
	kid = keys_ids(ks);
	for (size_t r = 0; r < ds_nrow(L->labels); r++) {
		size_t first;
		if (kid[r] == KEYS_NONE || (first = keys_first_row(ks, kid[r])) == r)
			continue;
		if (!same_value(L->labels, lj, first, r)) {
			char key[128];
			keys_text(ks, kid[r], key, sizeof key);
			rc = step_fail(ctx, SL_EINVAL,
				       "labels: key '%s' has two different labels (rows %zu and %zu)",
				       key, first + 1, r + 1);
			goto done;
		}
		dups++;
	}
	if ((rc = alloc_src_rows(L)))
		goto done;
	ids = sl__malloc((L->n ? L->n : 1) * sizeof *ids);
	if (!ids) {
		rc = step_oom(ctx);
		goto done;
	}
	if ((rc = keys_match(ks, L->t, dj, ids))) {
		step_fail(ctx, rc, "with.on: %s", sl_errmsg());
		goto done;
	}
	for (size_t i = 0; i < L->n; i++)
		if (ids[i] != KEYS_NONE) {
			L->src_rows[i] = keys_first_row(ks, ids[i]);
			matched++;
		}
	L->src = L->labels;
	L->src_col = lj;
	step_metric(ctx, "matched", (double)matched);
	step_metric(ctx, "unmatched", (double)(L->n - matched));
	step_log(ctx, "joined labels on '%s': %zu of %zu rows matched a key (%zu keys%s)", on,
		 matched, L->n, keys_count(ks), dups ? ", repeated keys agree" : "");
	if (keys_nulls(ks))
		step_log(ctx, "labels: %zu rows with a null key ignored", keys_nulls(ks));
	snprintf(what, sizeof what, "the labels column '%s'", lcol);
	rc = make_default(L, ds_col_type(L->labels, lj), what);
done:
	sl__free(ids);
	keys_free(ks);
	return rc;
}

/* ---- output ------------------------------------------------------------------- */

/* Appends the label column: source rows in runs, the default or null between. */
static int append_target(label_job *L, ds_builder *b, size_t jt)
{
	const uint8_t *valid = ds_col_validity(L->src, L->src_col);
	size_t *batch = sl__malloc((L->n ? L->n : 1) * sizeof *batch), m = 0, zero = 0;
	int rc = 0;

	if (!batch)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t i = 0; i < L->n && !rc; i++) {
		size_t s = L->src_rows[i];
		if (s != SRC_NONE && s != SRC_NULL && ds_valid(valid, s)) {
			batch[m++] = s;
			continue;
		}
		if (m && (rc = ds_append_from(b, jt, L->src, L->src_col, batch, m)))
			break;
		m = 0;
		if (s != SRC_NULL && L->def_table)
			rc = ds_append_from(b, jt, L->def_table, 0, &zero, 1);
		else
			rc = ds_append_null(b, jt);
	}
	if (!rc && m)
		rc = ds_append_from(b, jt, L->src, L->src_col, batch, m);
	sl__free(batch);
	return rc;
}

/* The input's columns with the label column in place; an in-memory table. */
static int build_output(label_job *L, size_t *out_target_j, ds_table **out)
{
	ds_builder *b = NULL;
	size_t ncol = ds_ncol(L->t), jt = ncol;
	ds_type ttype = ds_col_type(L->src, L->src_col);
	int rc;

	*out = NULL;
	if (ds_col_find(L->t, L->target, &jt) != 0)
		jt = ncol;
	else
		step_log(L->ctx, "replacing the existing column '%s'", L->target);
	if ((rc = ds_builder_new(&b)))
		return rc;
	for (size_t j = 0; j < ncol && !rc; j++)
		rc = ds_builder_add_col(b, ds_col_name(L->t, j), j == jt ? ttype : ds_col_type(L->t, j),
					NULL);
	if (!rc && jt == ncol)
		rc = ds_builder_add_col(b, L->target, ttype, NULL);
	for (size_t j = 0; j < ncol && !rc; j++)
		if (j != jt)
			rc = ds_append_from(b, j, L->t, j, NULL, L->n);
	if (!rc)
		rc = append_target(L, b, jt);
	if (!rc)
		rc = ds_builder_finish(b, out);
	ds_builder_free(b);
	*out_target_j = jt;
	return rc;
}

/* Label balance: counts per value, most frequent first (ties: first seen). */
typedef struct balance_entry {
	size_t count;
	uint32_t id;
} balance_entry;

static int by_count(const void *a, const void *b)
{
	const balance_entry *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int report_balance(label_job *L, const ds_table *out, size_t jt)
{
	keys *ks = NULL;
	balance_entry *e = NULL;
	size_t nv, labelled;
	sl__buf line;
	int rc;

	if ((rc = keys_build(out, jt, &ks)))
		return step_fail(L->ctx, rc, "%s", sl_errmsg());
	nv = keys_count(ks);
	labelled = ds_nrow(out) - keys_nulls(ks);
	e = sl__malloc((nv ? nv : 1) * sizeof *e);
	if (!e) {
		keys_free(ks);
		return step_oom(L->ctx);
	}
	for (size_t k = 0; k < nv; k++)
		e[k] = (balance_entry){keys_sizes(ks)[k], (uint32_t)k};
	qsort(e, nv, sizeof *e, by_count);
	step_metric(L->ctx, "labels", (double)nv);
	sl__buf_init(&line, 8192);
	sl__buf_printf(&line, "label balance (%zu values):", nv);
	for (size_t k = 0; k < nv; k++) {
		char text[64];
		keys_text(ks, e[k].id, text, sizeof text);
		if (k < MAX_LABEL_METRICS) {
			char name[80];
			snprintf(name, sizeof name, "label.%s", text);
			step_metric(L->ctx, name, (double)e[k].count);
		}
		if (k < MAX_LABEL_LOG)
			sl__buf_printf(&line, "%s %s %zu (%.1f%%)", k ? "," : "", text, e[k].count,
				       100.0 * (double)e[k].count / (double)labelled);
		else if (k == MAX_LABEL_LOG)
			sl__buf_printf(&line, ", ... %zu more", nv - MAX_LABEL_LOG);
	}
	step_log(L->ctx, "%s", line.data ? line.data : "label balance:");
	sl__buf_free(&line);
	sl__free(e);
	keys_free(ks);
	return 0;
}

/* A new table with the rows of t whose column jt is not null. */
static int drop_unlabeled(const ds_table *t, size_t jt, ds_table **out)
{
	const uint8_t *valid = ds_col_validity(t, jt);
	size_t n = ds_nrow(t), m = 0, *rows = sl__malloc((n ? n : 1) * sizeof *rows);
	ds_builder *b = NULL;
	int rc;

	*out = NULL;
	if (!rows)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (ds_valid(valid, i))
			rows[m++] = i;
	rc = ds_builder_new(&b);
	for (size_t j = 0; j < ds_ncol(t) && !rc; j++)
		rc = ds_builder_add_col(b, ds_col_name(t, j), ds_col_type(t, j), NULL);
	for (size_t j = 0; j < ds_ncol(t) && !rc; j++)
		rc = ds_append_from(b, j, t, j, rows, m);
	if (!rc)
		rc = ds_builder_finish(b, out);
	ds_builder_free(b);
	sl__free(rows);
	return rc;
}

/* ---- options and run ---------------------------------------------------------- */

/* The kind of a label value for the one-type rule; 0 for null. */
static int label_kind(const json_t *v)
{
	if (json_is_integer(v) || json_is_real(v))
		return 1;
	if (json_is_string(v))
		return 2;
	if (json_is_boolean(v))
		return 3;
	return 0;
}

/* Checks one label value against the first one seen (path and value). */
static int same_kind(const step_check *c, const json_t *v, const char *path, const json_t **first,
		     char *first_path, size_t size)
{
	if (!label_kind(v))
		return 0;
	if (!*first) {
		*first = v;
		snprintf(first_path, size, "%s", path);
		return 0;
	}
	if (label_kind(v) != label_kind(*first))
		return step_check_fail(c, path, "the label is %s but with.%s is %s; all labels must have "
						"one type",
				       sl__json_kind(v), first_path, sl__json_kind(*first));
	return 0;
}

/* What the schema cannot say: the join against the inputs, and one label type. */
static int check(const step_check *c)
{
	const json_t *rl = json_object_get(c->with, "rules"), *mp = json_object_get(c->with, "mapping");
	const json_t *first = NULL, *v;
	bool labels = step_check_has_input(c, "labels");
	char first_path[300], path[300];
	const char *key;
	size_t k;
	int rc;

	if (json_object_get(c->with, "on") && !labels)
		return step_check_fail(c, "on", "with.on joins the input 'labels', which is not "
						"connected (add it under inputs:)");
	if (labels && !json_object_get(c->with, "on"))
		return step_check_fail(c, "", "the input 'labels' is joined on a key: give with.on "
					      "(or leave the input out)");
	json_array_foreach (rl, k, v) {
		snprintf(path, sizeof path, "rules[%zu]", k);
		if (!json_object_get(v, "label"))
			return step_check_fail(c, path, "the rule needs 'label' (the label of the rows "
							"it matches; null for none)");
		snprintf(path, sizeof path, "rules[%zu].label", k);
		if ((rc = same_kind(c, json_object_get(v, "label"), path, &first, first_path,
				    sizeof first_path)))
			return rc;
	}
	json_object_foreach ((json_t *)mp, key, v) {
		sl__buf b;
		sl__buf_init(&b, 0);
		if (sl__buf_puts(&b, "mapping") || sl__ypath_key(&b, key)) {
			sl__buf_free(&b);
			return step_check_fail(c, "", "out of memory");
		}
		rc = same_kind(c, v, b.data, &first, first_path, sizeof first_path);
		sl__buf_free(&b);
		if (rc)
			return rc;
	}
	if ((v = json_object_get(c->with, "default")) && (rl || mp))
		return same_kind(c, v, "default", &first, first_path, sizeof first_path);
	return 0;
}

/* The parser checked the options against the schema, rules and check(). */
static void parse_opts(label_job *L)
{
	step_ctx *ctx = L->ctx;
	const char *u = step_opt_str(ctx, "unlabeled");

	L->target = step_opt_str(ctx, "target");
	if (!L->target)
		L->target = "label";
	L->unlabeled = u && !strcmp(u, "drop") ? UNL_DROP : u && !strcmp(u, "fail") ? UNL_FAIL
										   : UNL_KEEP;
	L->def = step_opt_json(ctx, "default");
	L->mode = step_opt_json(ctx, "from")    ? MODE_FROM
		  : step_opt_json(ctx, "rules") ? MODE_RULES
						: MODE_JOIN;
}

static int run(step_ctx *ctx)
{
	const char *in = step_input(ctx, "data"), *lab = step_input(ctx, "labels");
	const char *out_path = step_output(ctx, "data");
	label_job L;
	ds_table *out = NULL, *kept = NULL;
	size_t jt = 0, unlabeled;
	int rc;

	memset(&L, 0, sizeof L);
	L.ctx = ctx;
	parse_opts(&L);
	if (!in || !out_path)
		return step_fail(ctx, SL_EINVAL, "the input and output 'data' are required");
	if ((rc = ds_open(in, 0, &L.t)))
		return step_fail(ctx, rc, "input 'data': %s", sl_errmsg());
	L.n = ds_nrow(L.t);
	if (L.mode == MODE_JOIN && (rc = ds_open(lab, 0, &L.labels))) {
		step_fail(ctx, rc, "input 'labels': %s", sl_errmsg());
		goto done;
	}
	rc = L.mode == MODE_FROM ? source_from(&L) : L.mode == MODE_RULES ? source_rules(&L)
									  : source_join(&L);
	if (rc)
		goto done;
	if ((rc = build_output(&L, &jt, &out))) {
		step_fail(ctx, rc, "building the output: %s", sl_errmsg());
		goto done;
	}
	unlabeled = ds_col_nulls(out, jt);
	step_metric(ctx, "unlabeled", (double)unlabeled);
	if ((rc = report_balance(&L, out, jt)))
		goto done;
	if (unlabeled) {
		const uint8_t *valid = ds_col_validity(out, jt);
		size_t first = 0;
		while (ds_valid(valid, first))
			first++;
		step_log(ctx, "%zu of %zu rows have no label (the first is row %zu)%s", unlabeled, L.n,
			 first + 1,
			 L.unlabeled == UNL_DROP   ? "; dropped"
			 : L.unlabeled == UNL_KEEP ? "; kept with a null label"
						   : "");
		if (L.unlabeled == UNL_FAIL) {
			rc = step_fail(ctx, SL_EINVAL,
				       "%zu of %zu rows have no label (the first is row %zu); give "
				       "with.default, or unlabeled: keep or drop",
				       unlabeled, L.n, first + 1);
			goto done;
		}
		if (L.unlabeled == UNL_DROP) {
			if ((rc = drop_unlabeled(out, jt, &kept))) {
				step_fail(ctx, rc, "dropping unlabeled rows: %s", sl_errmsg());
				goto done;
			}
			ds_close(out);
			out = kept;
		}
	}
	step_metric(ctx, "rows", (double)ds_nrow(out));
	if ((rc = ds_table_write(out, out_path)))
		step_fail(ctx, rc, "writing output 'data': %s", sl_errmsg());
done:
	ds_close(out);
	ds_close(L.values);
	ds_close(L.def_table);
	ds_close(L.labels);
	ds_close(L.t);
	sl__free(L.src_rows);
	return rc;
}

const step_def step_label = {
	.name = "label",
	.version = 1,
	.summary = "add a label column: from a column, by ordered rules, or by joining labels",
	.opts = opts,
	.rules = label_rules,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
};
