/*
 * Frames: a dataset table seen as a model's inputs and target (ml.h).
 *
 * ml_frame_build reads a training table once to check it and to fix the
 * signature (features, their dictionaries, the target and its classes);
 * it copies nothing but the target, so an 800k x 28 table costs its target
 * column, not a second table. Trainers pull features column by column
 * (ml_frame_column) or as one matrix (ml_frame_matrix) as suits them.
 *
 * ml_frame_apply is the other direction: new rows, by column name, coded
 * exactly as the training rows were, so evaluation, batch scoring and the
 * server all feed a model what it learned from.
 *
 * Every refusal is SL_EINVAL with a message that names the column (and the
 * row where one is to blame) and says what to do about it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

#define MAX_CLASSES 1000

static int add_warning(ml_frame *fr, char *msg)
{
	char **w;

	if (!msg)
		return sl__oom();
	w = sl__reallocarray(fr->warnings, fr->n_warnings + 1, sizeof *w);
	if (!w) {
		sl__free(msg);
		return sl__oom();
	}
	fr->warnings = w;
	fr->warnings[fr->n_warnings++] = msg;
	return 0;
}

void ml_frame_free(ml_frame *fr)
{
	ml_signature_clear(&fr->sig);
	sl__free(fr->cols);
	sl__free(fr->y);
	for (size_t i = 0; i < fr->n_warnings; i++)
		sl__free(fr->warnings[i]);
	sl__free(fr->warnings);
	memset(fr, 0, sizeof *fr);
}

void ml_list_columns(const ds_table *t, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t j = 0; j < ds_ncol(t) && len + 1 < size; j++) {
		int n = snprintf(buf + len, size - len, "%s%s", j ? ", " : "", ds_col_name(t, j));
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (len >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

/* ---- the target ------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_f64(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

typedef struct dict_ref {
	const char *s;
	size_t len;
	uint32_t code;
} dict_ref;

static int cmp_dict_ref(const void *a, const void *b)
{
	const dict_ref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

static bool is_numeric(ds_type t)
{
	return t == DS_INT64 || t == DS_FLOAT64 || t == DS_BOOL || t == DS_TIMESTAMP;
}

/* Sets sig->classes to the n distinct labels as text, in class order. */
static int set_classes(ml_signature *sig, size_t n, const char *(*text)(void *, size_t, char *),
		       void *ctx)
{
	char buf[DS_F64_BUF + 8];

	sig->classes = sl__calloc(n, sizeof *sig->classes);
	if (!sig->classes)
		return sl__oom();
	sig->n_classes = n;
	for (size_t k = 0; k < n; k++)
		if (!(sig->classes[k] = sl__strdup(text(ctx, k, buf))))
			return sl__oom();
	return 0;
}

static const char *i64_text(void *ctx, size_t k, char *buf)
{
	snprintf(buf, DS_F64_BUF, "%lld", (long long)((const int64_t *)ctx)[k]);
	return buf;
}

static const char *f64_text(void *ctx, size_t k, char *buf)
{
	ds_format_f64(((const double *)ctx)[k], buf);
	return buf;
}

static const char *ref_text(void *ctx, size_t k, char *buf)
{
	(void)buf;
	return ((const dict_ref *)ctx)[k].s;
}

static const char *bool_text(void *ctx, size_t k, char *buf)
{
	(void)ctx;
	(void)buf;
	return k ? "true" : "false";
}

/* Distinct values of a numeric target, sorted, into *out (at most MAX_CLASSES + 1). */
static int distinct_numeric(const ds_table *t, size_t tj, bool as_f64, void **out, size_t *out_n)
{
	size_t n = ds_nrow(t), w = as_f64 ? sizeof(double) : sizeof(int64_t), k = 0;
	unsigned char *v = sl__malloc(n ? n * w : 1);

	if (!v)
		return sl__oom();
	if (as_f64)
		memcpy(v, ds_col_f64(t, tj), n * w);
	else
		memcpy(v, ds_col_i64(t, tj), n * w);
	qsort(v, n, w, as_f64 ? cmp_f64 : cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(v + i * w, v + (k - 1) * w, w) != 0)
			memmove(v + k++ * w, v + i * w, w);
	*out = v;
	*out_n = k;
	return 0;
}

static size_t lower_bound_i64(const int64_t *v, size_t n, int64_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t lower_bound_f64(const double *v, size_t n, double x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int build_classes(const ds_table *t, size_t tj, const char *step, ml_frame *fr)
{
	ds_type type = ds_col_type(t, tj);
	const char *name = ds_col_name(t, tj);
	size_t n = ds_nrow(t), k = 0;
	void *vals = NULL;
	int rc = 0;

	switch (type) {
	case DS_BOOL: {
		const uint8_t *b = ds_col_bool(t, tj);
		bool seen[2] = {false, false};
		for (size_t i = 0; i < n; i++) {
			seen[b[i]] = true;
			fr->y[i] = b[i];
		}
		k = (size_t)seen[0] + (size_t)seen[1];
		if (k == 2)
			rc = set_classes(&fr->sig, 2, bool_text, NULL);
		break;
	}
	case DS_STRING: {
		const uint32_t *codes = ds_col_codes(t, tj);
		size_t nd = ds_dict_size(t, tj);
		dict_ref *refs = sl__calloc(nd ? nd : 1, sizeof *refs);
		uint32_t *cls = sl__malloc((nd ? nd : 1) * sizeof *cls);
		bool *used = sl__calloc(nd ? nd : 1, sizeof *used);
		if (!refs || !cls || !used) {
			rc = sl__oom();
		} else {
			for (size_t i = 0; i < n; i++)
				used[codes[i]] = true;
			for (size_t c = 0; c < nd; c++)
				if (used[c]) {
					refs[k].s = ds_dict_str(t, tj, (uint32_t)c, &refs[k].len);
					refs[k].code = (uint32_t)c;
					k++;
				}
			/* Byte order: the same labels give the same classes
			 * whatever order the rows came in. */
			qsort(refs, k, sizeof *refs, cmp_dict_ref);
			for (size_t c = 0; c < k; c++)
				cls[refs[c].code] = (uint32_t)c;
			for (size_t i = 0; i < n; i++)
				fr->y[i] = cls[codes[i]];
			if (k >= 2 && k <= MAX_CLASSES)
				rc = set_classes(&fr->sig, k, ref_text, refs);
		}
		sl__free(refs);
		sl__free(cls);
		sl__free(used);
		break;
	}
	case DS_INT64:
	case DS_TIMESTAMP: {
		const int64_t *v = ds_col_i64(t, tj);
		if ((rc = distinct_numeric(t, tj, false, &vals, &k)))
			break;
		if (k >= 2 && k <= MAX_CLASSES) {
			for (size_t i = 0; i < n; i++)
				fr->y[i] = (double)lower_bound_i64(vals, k, v[i]);
			rc = set_classes(&fr->sig, k, i64_text, vals);
		}
		break;
	}
	case DS_FLOAT64: {
		const double *v = ds_col_f64(t, tj);
		if ((rc = distinct_numeric(t, tj, true, &vals, &k)))
			break;
		if (k >= 2 && k <= MAX_CLASSES) {
			for (size_t i = 0; i < n; i++)
				fr->y[i] = (double)lower_bound_f64(vals, k, v[i]);
			rc = set_classes(&fr->sig, k, f64_text, vals);
		}
		break;
	}
	}
	sl__free(vals);
	if (rc)
		return rc;
	if (k < 2)
		return sl__err(SL_EINVAL,
			       "%s: target '%s' has a single class in the training rows: a "
			       "classifier needs at least two (check the split, or the label step)",
			       step, name);
	if (k > MAX_CLASSES)
		return sl__err(SL_EINVAL,
			       "%s: target '%s' has more than %d distinct values: that looks like a "
			       "number to predict (use objective: regression) or an id, not a class",
			       step, name, MAX_CLASSES);
	fr->sig.task = k == 2 ? ML_BINARY : ML_MULTICLASS;
	return 0;
}

static ml_task infer_task(const ds_table *t, size_t tj)
{
	ds_type type = ds_col_type(t, tj);

	if (type == DS_BOOL || type == DS_STRING)
		return ML_BINARY; /* or multiclass: build_classes counts */
	if (type == DS_INT64) {
		const int64_t *v = ds_col_i64(t, tj);
		for (size_t i = 0; i < ds_nrow(t); i++)
			if (v[i] != 0 && v[i] != 1)
				return ML_REGRESSION;
		return ML_BINARY;
	}
	return ML_REGRESSION;
}

static int build_target(const ds_table *t, const ml_frame_opts *o, ml_frame *fr)
{
	const char *step = o->step ? o->step : "train";
	size_t tj, n = ds_nrow(t);
	ml_task task = o->task;
	ds_type type;
	char cols[512];

	if (ds_col_find(t, o->target, &tj) != 0) {
		ml_list_columns(t, cols, sizeof cols);
		return sl__err(SL_EINVAL, "%s: target column '%s' is not in the training data "
					  "(its columns: %s)",
			       step, o->target, cols);
	}
	type = ds_col_type(t, tj);
	if (ds_col_nulls(t, tj))
		return sl__err(SL_EINVAL,
			       "%s: target '%s' is missing in %zu of %zu rows: rows without a label "
			       "cannot teach (drop them in a wrangle step: op: drop_nulls)",
			       step, o->target, ds_col_nulls(t, tj), n);
	if (!task)
		task = infer_task(t, tj);
	fr->sig.target = sl__strdup(o->target);
	fr->y = sl__malloc((n ? n : 1) * sizeof *fr->y);
	if (!fr->sig.target || !fr->y)
		return sl__oom();
	fr->sig.target_type = type;
	if (ml_task_is_classifier(task)) {
		int rc = build_classes(t, tj, step, fr);
		if (rc)
			return rc;
		if (o->task == ML_BINARY && fr->sig.task != ML_BINARY)
			return sl__err(SL_EINVAL,
				       "%s: objective binary, but target '%s' has %zu classes (use "
				       "objective: multiclass)",
				       step, o->target, fr->sig.n_classes);
		return 0;
	}
	if (!is_numeric(type))
		return sl__err(SL_EINVAL,
			       "%s: target '%s' is a string column and cannot be regressed on; "
			       "for classes use a classifier (objective: binary or multiclass)",
			       step, o->target);
	fr->sig.task = task;
	for (size_t i = 0; i < n; i++) {
		double v = 0;
		ds_get_f64(t, tj, i, &v);
		if (!isfinite(v))
			return sl__err(SL_EINVAL,
				       "%s: target '%s' is %s in row %zu: a model cannot learn from "
				       "it (filter the row out in a wrangle step)",
				       step, o->target, isnan(v) ? "NaN" : "infinite", i + 1);
		fr->y[i] = v;
	}
	return 0;
}

/* ---- features ---------------------------------------------------------------- */

/* What a scan of a feature column found. */
typedef struct col_scan {
	size_t nan_row;  /* first NaN row + 1, 0 when none */
	size_t inf_row;  /* first infinite row + 1 */
	bool constant;   /* every present value equal (or none present) */
} col_scan;

static void scan_column(const ds_table *t, size_t tj, col_scan *s)
{
	size_t n = ds_nrow(t), first = SIZE_MAX;
	const uint8_t *valid = ds_col_validity(t, tj);

	memset(s, 0, sizeof *s);
	s->constant = true;
	switch (ds_col_type(t, tj)) {
	case DS_FLOAT64: {
		const double *v = ds_col_f64(t, tj);
		for (size_t i = 0; i < n; i++) {
			if (!ds_valid(valid, i))
				continue;
			if (isnan(v[i])) {
				if (!s->nan_row)
					s->nan_row = i + 1;
				continue;
			}
			if (isinf(v[i]) && !s->inf_row)
				s->inf_row = i + 1;
			if (first == SIZE_MAX)
				first = i;
			else if (v[i] != v[first])
				s->constant = false;
		}
		break;
	}
	case DS_INT64:
	case DS_TIMESTAMP: {
		const int64_t *v = ds_col_i64(t, tj);
		for (size_t i = 0; i < n && s->constant; i++) {
			if (!ds_valid(valid, i))
				continue;
			if (first == SIZE_MAX)
				first = i;
			else if (v[i] != v[first])
				s->constant = false;
		}
		break;
	}
	case DS_BOOL: {
		const uint8_t *v = ds_col_bool(t, tj);
		for (size_t i = 0; i < n && s->constant; i++) {
			if (!ds_valid(valid, i))
				continue;
			if (first == SIZE_MAX)
				first = i;
			else if (v[i] != v[first])
				s->constant = false;
		}
		break;
	}
	case DS_STRING: {
		const uint32_t *v = ds_col_codes(t, tj);
		for (size_t i = 0; i < n && s->constant; i++) {
			if (!ds_valid(valid, i))
				continue;
			if (first == SIZE_MAX)
				first = i;
			else if (v[i] != v[first])
				s->constant = false;
		}
		break;
	}
	}
}

static int add_feature(ml_frame *fr, const ds_table *t, size_t tj)
{
	ml_feature *f = &fr->sig.features[fr->sig.n_features];
	size_t nd;

	f->name = sl__strdup(ds_col_name(t, tj));
	f->type = ds_col_type(t, tj);
	if (!f->name)
		return sl__oom();
	fr->cols[fr->sig.n_features++] = tj;
	if (f->type != DS_STRING)
		return 0;
	/* The table's own dictionary, codes unchanged: training reads the
	 * codes in place. */
	nd = ds_dict_size(t, tj);
	if (nd > UINT32_MAX)
		return sl__err(SL_ELIMIT, "column '%s' has too many categories", f->name);
	f->dict = sl__calloc(nd ? nd : 1, sizeof *f->dict);
	if (!f->dict)
		return sl__oom();
	f->n_dict = (uint32_t)nd;
	for (size_t c = 0; c < nd; c++)
		if (!(f->dict[c] = sl__strdup(ds_dict_str(t, tj, (uint32_t)c, NULL))))
			return sl__oom();
	return 0;
}

static int check_feature(ml_frame *fr, const ds_table *t, size_t tj, const ml_frame_opts *o,
			 bool *out_keep)
{
	const char *step = o->step ? o->step : "train", *name = ds_col_name(t, tj);
	size_t nulls = ds_col_nulls(t, tj), n = ds_nrow(t);
	ds_type type = ds_col_type(t, tj);
	col_scan s;

	*out_keep = false;
	if (type == DS_STRING && !o->allow_strings)
		return sl__err(SL_EINVAL,
			       "%s: feature '%s' is a string column, which this model cannot use: "
			       "encode it in a wrangle step (op: onehot or ordinal), or leave it "
			       "out with `features:`",
			       step, name);
	if (nulls == n)
		return add_warning(fr, sl__asprintf("feature '%s' is empty in every row: dropped",
						    name));
	scan_column(t, tj, &s);
	if (s.inf_row)
		return sl__err(SL_EINVAL,
			       "%s: feature '%s' is infinite in row %zu: clip it or filter the row "
			       "in a wrangle step",
			       step, name, s.inf_row);
	if (!o->allow_missing && (nulls || s.nan_row)) {
		if (nulls) {
			const uint8_t *valid = ds_col_validity(t, tj);
			size_t row = 0;
			while (row < n && ds_valid(valid, row))
				row++;
			return sl__err(SL_EINVAL,
				       "%s: feature '%s' is missing in %zu of %zu rows (first in row "
				       "%zu): this model needs a value in every row; impute it in a "
				       "wrangle step (op: impute)",
				       step, name, nulls, n, row + 1);
		}
		return sl__err(SL_EINVAL,
			       "%s: feature '%s' is NaN in row %zu: this model needs a number in "
			       "every row; impute it in a wrangle step (op: impute)",
			       step, name, s.nan_row);
	}
	if (s.constant)
		return add_warning(fr, sl__asprintf("feature '%s' has the same value in every row: "
						    "dropped (it cannot tell rows apart)",
						    name));
	*out_keep = true;
	return 0;
}

int ml_frame_build(const ds_table *t, const ml_frame_opts *o, ml_frame *fr)
{
	const char *step = o->step ? o->step : "train";
	size_t ncol = ds_ncol(t);
	int rc;

	memset(fr, 0, sizeof *fr);
	fr->t = t;
	fr->n = ds_nrow(t);
	if (fr->n == 0)
		return sl__err(SL_EINVAL, "%s: the training data has no rows", step);
	if (o->task == ML_ANOMALY || o->task == ML_FORECAST) {
		fr->sig.task = o->task;
		if (o->target && (rc = build_target(t, &(ml_frame_opts){.target = o->target,
									  .task = ML_REGRESSION,
									  .step = o->step},
						    fr)))
			goto fail;
		fr->sig.task = o->task;
	} else {
		if (!o->target) {
			rc = sl__err(SL_EINVAL, "%s: no target column (set `target:`)", step);
			goto fail;
		}
		if ((rc = build_target(t, o, fr)))
			goto fail;
	}
	fr->sig.features = sl__calloc(ncol ? ncol : 1, sizeof *fr->sig.features);
	fr->cols = sl__calloc(ncol ? ncol : 1, sizeof *fr->cols);
	if (!fr->sig.features || !fr->cols) {
		rc = sl__oom();
		goto fail;
	}
	if (o->features) {
		for (size_t k = 0; k < o->n_features; k++) {
			size_t tj;
			bool keep;
			char cols[512];
			if (ds_col_find(t, o->features[k], &tj) != 0) {
				ml_list_columns(t, cols, sizeof cols);
				rc = sl__err(SL_EINVAL, "%s: feature '%s' is not in the training data "
							"(its columns: %s)",
					     step, o->features[k], cols);
				goto fail;
			}
			if (o->target && !strcmp(o->features[k], o->target)) {
				rc = sl__err(SL_EINVAL, "%s: the target '%s' cannot also be a feature",
					     step, o->target);
				goto fail;
			}
			if (in_list(o->features[k], o->features, k))
				continue;
			if ((rc = check_feature(fr, t, tj, o, &keep)) ||
			    (keep && (rc = add_feature(fr, t, tj))))
				goto fail;
		}
	} else {
		for (size_t tj = 0; tj < ncol; tj++) {
			const char *name = ds_col_name(t, tj);
			bool keep;
			if ((o->target && !strcmp(name, o->target)) ||
			    in_list(name, o->exclude, o->n_exclude))
				continue;
			if ((rc = check_feature(fr, t, tj, o, &keep)) ||
			    (keep && (rc = add_feature(fr, t, tj))))
				goto fail;
		}
	}
	if (fr->sig.n_features == 0 && o->task != ML_FORECAST) {
		rc = sl__err(SL_EINVAL, "%s: no usable feature columns remain (constant or empty "
					"columns are dropped)",
			     step);
		goto fail;
	}
	if ((rc = ml_signature_set_outputs(&fr->sig)))
		goto fail;
	return 0;
fail:
	ml_frame_free(fr);
	return rc;
}

/* ---- pulling values out ------------------------------------------------------ */

/* Rows [lo, hi) of column tj of t as model input doubles, row i at
 * out[(i - lo) * stride]; codes maps table codes to model codes (NULL: the
 * same), missing -> NaN. */
static void column_values(const ds_table *t, size_t tj, const int64_t *codes, size_t lo,
			  size_t hi, double *out, size_t stride)
{
	const uint8_t *valid = ds_col_validity(t, tj);

	out -= lo * stride;
	switch (ds_col_type(t, tj)) {
	case DS_FLOAT64: {
		const double *v = ds_col_f64(t, tj);
		if (!valid) { /* the common case: a copy */
			for (size_t i = lo; i < hi; i++)
				out[i * stride] = v[i];
			break;
		}
		for (size_t i = lo; i < hi; i++)
			out[i * stride] = ds_valid(valid, i) ? v[i] : NAN;
		break;
	}
	case DS_INT64:
	case DS_TIMESTAMP: {
		const int64_t *v = ds_col_i64(t, tj);
		for (size_t i = lo; i < hi; i++)
			out[i * stride] = ds_valid(valid, i) ? (double)v[i] : NAN;
		break;
	}
	case DS_BOOL: {
		const uint8_t *v = ds_col_bool(t, tj);
		for (size_t i = lo; i < hi; i++)
			out[i * stride] = ds_valid(valid, i) ? (double)v[i] : NAN;
		break;
	}
	case DS_STRING: {
		const uint32_t *v = ds_col_codes(t, tj);
		for (size_t i = lo; i < hi; i++) {
			int64_t c = codes ? codes[v[i]] : (int64_t)v[i];
			out[i * stride] = ds_valid(valid, i) && c >= 0 ? (double)c : NAN;
		}
		break;
	}
	}
}

void ml_frame_column(const ml_frame *fr, size_t j, double *out)
{
	column_values(fr->t, fr->cols[j], NULL, 0, fr->n, out, 1);
}

int ml_frame_matrix(const ml_frame *fr, double **out)
{
	size_t p = fr->sig.n_features;

	if (p && fr->n > SIZE_MAX / sizeof(double) / p)
		return sl__err(SL_ELIMIT, "the feature matrix is too large");
	*out = sl__malloc(fr->n * p * sizeof **out + 1);
	if (!*out)
		return sl__oom();
	for (size_t j = 0; j < p; j++)
		column_values(fr->t, fr->cols[j], NULL, 0, fr->n, *out + j, p);
	return 0;
}

/* ---- new rows for a trained signature --------------------------------------- */

/*
 * Maps each dictionary code of table column tj to the model's code for the
 * same string (-1 when the model never saw it).
 */
static int recode(const ml_feature *f, const ds_table *t, size_t tj, int64_t **out)
{
	size_t nd = ds_dict_size(t, tj);
	int64_t *map = sl__malloc((nd ? nd : 1) * sizeof *map);
	ml_dict_index *ix = NULL;
	int rc;

	if (!map)
		return sl__oom();
	if ((rc = ml_dict_index_build(f, &ix))) {
		sl__free(map);
		return rc;
	}
	for (size_t c = 0; c < nd; c++) {
		size_t len;
		const char *str = ds_dict_str(t, tj, (uint32_t)c, &len);
		map[c] = ml_dict_index_find(ix, str, len);
	}
	ml_dict_index_free(ix);
	*out = map;
	return 0;
}

/* The text of row i of a target column as classes are written. */
static const char *target_text(const ds_table *t, size_t tj, size_t i, char *buf)
{
	switch (ds_col_type(t, tj)) {
	case DS_BOOL:
		return ds_col_bool(t, tj)[i] ? "true" : "false";
	case DS_STRING:
		return ds_col_str(t, tj, i, NULL);
	case DS_INT64:
	case DS_TIMESTAMP:
		snprintf(buf, DS_F64_BUF, "%lld", (long long)ds_col_i64(t, tj)[i]);
		return buf;
	case DS_FLOAT64:
		ds_format_f64(ds_col_f64(t, tj)[i], buf);
		return buf;
	}
	return "";
}

static int apply_target(const ml_signature *sig, const ds_table *t, size_t tj, double *y)
{
	size_t n = ds_nrow(t), nc = sig->n_classes;
	const uint8_t *valid = ds_col_validity(t, tj);
	dict_ref *sorted;
	char buf[DS_F64_BUF + 8];

	if (!ml_task_is_classifier(sig->task)) {
		if (!is_numeric(ds_col_type(t, tj)))
			return sl__err(SL_EINVAL, "target '%s' is a string column here; the model "
						  "predicts numbers",
				       sig->target);
		for (size_t i = 0; i < n; i++)
			if (!ds_get_f64(t, tj, i, &y[i]))
				y[i] = NAN;
		return 0;
	}
	sorted = sl__calloc(nc, sizeof *sorted);
	if (!sorted)
		return sl__oom();
	for (size_t k = 0; k < nc; k++) {
		sorted[k].s = sig->classes[k];
		sorted[k].len = strlen(sig->classes[k]);
		sorted[k].code = (uint32_t)k;
	}
	qsort(sorted, nc, sizeof *sorted, cmp_dict_ref);
	for (size_t i = 0; i < n; i++) {
		dict_ref key, *hit;
		if (!ds_valid(valid, i)) {
			y[i] = NAN;
			continue;
		}
		key.s = target_text(t, tj, i, buf);
		key.len = strlen(key.s);
		hit = bsearch(&key, sorted, nc, sizeof *sorted, cmp_dict_ref);
		if (!hit) {
			sl__free(sorted);
			return sl__err(SL_EINVAL,
				       "target '%s' is '%s' in row %zu, a class the model never saw "
				       "in training",
				       sig->target, key.s, i + 1);
		}
		y[i] = hit->code;
	}
	sl__free(sorted);
	return 0;
}

/* A table's columns found and checked for a signature, ready to code rows. */
struct ml_coder {
	const ds_table *t;
	size_t p;
	size_t *cols;     /* per feature: its column in t */
	int64_t **codes;  /* per feature: table code -> model code (string features), or NULL */
};

void ml_coder_free(ml_coder *c)
{
	if (!c)
		return;
	for (size_t j = 0; c->codes && j < c->p; j++)
		sl__free(c->codes[j]);
	sl__free(c->codes);
	sl__free(c->cols);
	sl__free(c);
}

static int coder_new(const ml_signature *sig, const ds_table *t, bool allow_inf, ml_coder **out)
{
	size_t n = ds_nrow(t), p = sig->n_features, tj;
	ml_coder *c = sl__calloc(1, sizeof *c);
	int rc = 0;

	*out = NULL;
	if (!c || !(c->cols = sl__calloc(p + 1, sizeof *c->cols)) ||
	    !(c->codes = sl__calloc(p + 1, sizeof *c->codes))) {
		ml_coder_free(c);
		return sl__oom();
	}
	c->t = t;
	c->p = p;
	for (size_t j = 0; j < p && !rc; j++) {
		const ml_feature *f = &sig->features[j];
		ds_type have;
		if (ds_col_find(t, f->name, &tj) != 0) {
			rc = sl__err(SL_EINVAL, "column '%s', an input of the model, is missing",
				     f->name);
			break;
		}
		have = ds_col_type(t, tj);
		if ((f->type == DS_STRING) != (have == DS_STRING)) {
			rc = sl__err(SL_EINVAL, "column '%s' is %s here but the model was trained on %s",
				     f->name, ds_type_name(have), ds_type_name(f->type));
			break;
		}
		if (have == DS_FLOAT64 && !allow_inf) {
			const double *v = ds_col_f64(t, tj);
			for (size_t i = 0; i < n; i++)
				if (isinf(v[i])) {
					rc = sl__err(SL_EINVAL, "column '%s' is infinite in row %zu",
						     f->name, i + 1);
					break;
				}
			if (rc)
				break;
		}
		c->cols[j] = tj;
		if (have == DS_STRING)
			rc = recode(f, t, tj, &c->codes[j]);
	}
	if (rc) {
		ml_coder_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ml_coder_new(const ml_signature *sig, const ds_table *t, ml_coder **out)
{
	return coder_new(sig, t, true, out);
}

void ml_coder_rows(const ml_coder *c, size_t lo, size_t hi, double *X)
{
	for (size_t j = 0; j < c->p; j++)
		column_values(c->t, c->cols[j], c->codes[j], lo, hi, X + j, c->p);
}

static int frame_apply(const ml_signature *sig, const ds_table *t, bool allow_inf, double **out_X,
		       double **out_y)
{
	size_t n = ds_nrow(t), p = sig->n_features, tj;
	ml_coder *c = NULL;
	double *X = NULL, *y = NULL;
	int rc;

	*out_X = NULL;
	if (out_y)
		*out_y = NULL;
	if (p && n > SIZE_MAX / sizeof(double) / p)
		return sl__err(SL_ELIMIT, "the feature matrix is too large");
	if ((rc = coder_new(sig, t, allow_inf, &c)))
		return rc;
	if (!(X = sl__malloc(n * p * sizeof *X + 1))) {
		rc = sl__oom();
		goto out;
	}
	ml_coder_rows(c, 0, n, X);
	if (out_y && sig->target && ds_col_find(t, sig->target, &tj) == 0) {
		y = sl__malloc((n ? n : 1) * sizeof *y);
		rc = y ? apply_target(sig, t, tj, y) : sl__oom();
	}
out:
	ml_coder_free(c);
	if (rc) {
		sl__free(X);
		sl__free(y);
		return rc;
	}
	*out_X = X;
	if (out_y)
		*out_y = y;
	return 0;
}

int ml_frame_apply(const ml_signature *sig, const ds_table *t, double **out_X, double **out_y)
{
	return frame_apply(sig, t, false, out_X, out_y);
}

int ml_frame_code(const ml_signature *sig, const ds_table *t, double **out_X)
{
	return frame_apply(sig, t, true, out_X, NULL);
}
