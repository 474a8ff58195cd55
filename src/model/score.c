/*
 * Batch scoring (score.h): conforming raw rows to a bundle's inputs, the
 * table path through the transform and the model, the output table, the
 * single-row timing of the gates, and the file-to-file form behind
 * `sluice predict`.
 *
 * Design notes:
 *  1. Rows are scored where they stand: the transform hands back which
 *     input row each of its output rows came from (transform_apply_rows),
 *     predictions are made for those rows only, and the results are
 *     scattered back to the input's row order, rejected rows left null.
 *  2. The model's work (coding, predict, explain) runs on blocks of rows
 *     across the thread pool; everything else is column-at-a-time bulk
 *     appends, so no per-row allocation happens on the table path.
 *  3. A value that must change type goes through its text, once per row,
 *     only for the columns that need it; a column of the right type (the
 *     common case) is copied in bulk.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/expr.h"
#include "model/score.h"
#include "pool.h"

/* ---- conforming the input ---------------------------------------------------------- */

static const char *type_words(ds_type t)
{
	switch (t) {
	case DS_FLOAT64: return "a number (float64)";
	case DS_INT64: return "an integer (int64)";
	case DS_BOOL: return "true or false (bool)";
	case DS_TIMESTAMP: return "an ISO 8601 time (timestamp)";
	case DS_STRING: return "a string";
	}
	return "?";
}

/* Row i of column j as text (buf holds DS_TS_BUF + DS_F64_BUF bytes); NULL for a null. */
static const char *cell_text(const ds_table *t, size_t j, size_t i, char *buf, size_t *len)
{
	double f;

	if (!ds_valid(ds_col_validity(t, j), i))
		return NULL;
	switch (ds_col_type(t, j)) {
	case DS_STRING:
		return ds_col_str(t, j, i, len);
	case DS_INT64:
		*len = (size_t)snprintf(buf, DS_F64_BUF, "%lld", (long long)ds_col_i64(t, j)[i]);
		return buf;
	case DS_FLOAT64:
		f = ds_col_f64(t, j)[i];
		*len = ds_format_f64(f, buf);
		return buf;
	case DS_BOOL:
		*len = ds_col_bool(t, j)[i] ? 4 : 5;
		return ds_col_bool(t, j)[i] ? "true" : "false";
	case DS_TIMESTAMP:
		*len = ds_format_timestamp(ds_col_i64(t, j)[i], buf);
		return buf;
	}
	return NULL;
}

/* Appends text s as a value of type want; false when it is not one. */
static int append_parsed(ds_builder *b, size_t k, ds_type want, const char *s, size_t len,
			 bool *ok)
{
	int64_t i;
	double f;
	bool v;

	*ok = true;
	switch (want) {
	case DS_STRING:
		return ds_append_str(b, k, s, len);
	case DS_FLOAT64:
		if ((*ok = ds_parse_f64(s, len, &f)))
			return ds_append_f64(b, k, f);
		return 0;
	case DS_INT64:
		if ((*ok = ds_parse_i64(s, len, &i)))
			return ds_append_i64(b, k, i);
		return 0;
	case DS_BOOL:
		if ((*ok = ds_parse_bool(s, len, &v)))
			return ds_append_bool(b, k, v);
		return 0;
	case DS_TIMESTAMP:
		if ((*ok = ds_parse_timestamp(s, len, &i)))
			return ds_append_i64(b, k, i);
		return 0;
	}
	*ok = false;
	return 0;
}

static int convert_col(ds_builder *b, size_t k, ds_type want, const ds_table *t, size_t j,
		       const char *source, const char *name)
{
	size_t n = ds_nrow(t);
	ds_type have = ds_col_type(t, j);
	char buf[DS_TS_BUF + DS_F64_BUF];
	int rc = 0;

	if (have == want)
		return ds_append_from(b, k, t, j, NULL, n);
	if (have == DS_INT64 && want == DS_FLOAT64) {
		const int64_t *v = ds_col_i64(t, j);
		double *f = sl__malloc((n ? n : 1) * sizeof *f);
		if (!f)
			return sl__oom();
		for (size_t i = 0; i < n; i++)
			f[i] = (double)v[i];
		rc = ds_append_f64s(b, k, f, ds_col_validity(t, j), n);
		sl__free(f);
		return rc;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t len = 0;
		const char *s = cell_text(t, j, i, buf, &len);
		bool ok;
		if (!s) {
			rc = ds_append_null(b, k);
			continue;
		}
		if ((rc = append_parsed(b, k, want, s, len, &ok)) == 0 && !ok)
			rc = sl__err(SL_EINVAL,
				     "%s: column '%s', row %zu: '%.*s%s' is not %s, which the model "
				     "takes in '%s'",
				     source, name, i + 1, (int)(len > 40 ? 40 : len), s,
				     len > 40 ? "..." : "", type_words(want), name);
	}
	return rc;
}

int score_conform(const bundle *b, const ds_table *t, const char *source, ds_table **out)
{
	size_t nin = bundle_n_inputs(b);
	ds_builder *bld;
	int rc;

	*out = NULL;
	source = source ? source : "the input";
	if ((rc = ds_builder_new(&bld)))
		return rc;
	for (size_t k = 0; k < nin && rc == 0; k++) {
		const char *name = bundle_input_name(b, k);
		size_t j;
		if (ds_col_find(t, name, &j) != 0 && !bundle_input_needed(b, k)) {
			/* It decides nothing (an id, the training target): absent is null. */
			if ((rc = ds_builder_add_col(bld, name, bundle_input_type(b, k), NULL)) == 0)
				rc = ds_append_nulls(bld, k, ds_nrow(t));
			continue;
		}
		if (ds_col_find(t, name, &j) != 0) {
			const char **names = sl__calloc(ds_ncol(t) + 1, sizeof *names);
			char cols[512];
			const char *sug = NULL;
			for (size_t c = 0; names && c < ds_ncol(t); c++)
				names[c] = ds_col_name(t, c);
			if (names)
				sug = expr_suggest(name, names, ds_ncol(t));
			ml_list_columns(t, cols, sizeof cols);
			rc = sl__err(SL_EINVAL,
				     "%s: no column '%s', which the model needs%s%s%s (the columns are: "
				     "%s)",
				     source, name, sug ? "; did you mean '" : "", sug ? sug : "",
				     sug ? "'?" : "", cols);
			sl__free(names);
			break;
		}
		if ((rc = ds_builder_add_col(bld, name, bundle_input_type(b, k), NULL)) == 0)
			rc = convert_col(bld, k, bundle_input_type(b, k), t, j, source, name);
	}
	if (rc == 0)
		rc = ds_builder_finish(bld, out);
	ds_builder_free(bld);
	return rc;
}

/* ---- the model on blocks of rows ------------------------------------------------------ */

/* Rows per block: coded, predicted (and explained) while the block's
 * coded rows are still in cache, and a large enough piece of work that
 * handing it out costs nothing. */
#define SCORE_BLOCK 1024

typedef struct score_job {
	const ml_model *m;
	const ml_coder *coder;
	double **scratch; /* per worker: SCORE_BLOCK coded rows */
	double *P;        /* n_outputs per row */
	double *C;        /* per_row contributions per row, or NULL */
	size_t per_row;   /* groups * (p + 1) */
	int rc;           /* the first failure (atomic) */
} score_job;

static void score_block(void *ctx, size_t lo, size_t hi, unsigned worker)
{
	score_job *j = ctx;
	const ml_model *m = j->m;
	double *X = j->scratch[worker];
	int rc;

	ml_coder_rows(j->coder, lo, hi, X);
	rc = m->ops->predict(m, X, hi - lo, j->P + lo * m->sig.n_outputs);
	if (rc == 0 && j->C)
		rc = m->ops->explain(m, X, hi - lo, j->C + lo * j->per_row);
	if (rc) {
		int zero = 0;
		__atomic_compare_exchange_n(&j->rc, &zero, rc, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	}
}

/*
 * P (and C when explaining) for every row of t, coded as ml_frame_code
 * codes, block by block on every core: the whole coded matrix never
 * exists, each worker codes its block into its own scratch rows.
 */
static int score_rows(const ml_model *m, const ds_table *t, double *P, double *C, size_t per_row)
{
	size_t n = ds_nrow(t), p = m->sig.n_features, nw = sl__thread_count(0);
	double *scratch[SL__MAX_THREADS] = {0};
	score_job j = {m, NULL, scratch, P, C, per_row, 0};
	ml_coder *coder = NULL;
	int rc;

	if ((rc = ml_coder_new(&m->sig, t, &coder)))
		return rc;
	j.coder = coder;
	if (n <= SCORE_BLOCK)
		nw = 1;
	for (size_t w = 0; w < nw && rc == 0; w++)
		if (!(scratch[w] = sl__malloc(SCORE_BLOCK * (p ? p : 1) * sizeof **scratch)))
			rc = sl__oom();
	if (rc == 0 && n) {
		if (nw == 1)
			score_block(&j, 0, n, 0);
		else
			sl__parallel_range(0, n, SCORE_BLOCK, score_block, &j);
		rc = j.rc;
	}
	for (size_t w = 0; w < nw; w++)
		sl__free(scratch[w]);
	ml_coder_free(coder);
	return rc;
}

static size_t explain_groups(const ml_model *m)
{
	return m->ops->explain_groups ? m->ops->explain_groups(m) : 1;
}

/* ---- the output table ---------------------------------------------------------------- */

typedef struct outb {
	ds_builder *b;
	size_t n;            /* output rows (= input rows) */
	size_t nk;           /* rows that came through the transform */
	const size_t *rows;  /* their input rows (NULL: every row, in order) */
	double *vals;        /* n scratch values */
	uint8_t *valid;      /* n / 8 + 1 scratch bitmap */
} outb;

static size_t row_of(const outb *o, size_t k)
{
	return o->rows ? o->rows[k] : k;
}

/* Column name of type t; SL_EINVAL when the input already has it. */
static int add_out_col(outb *o, const ds_table *in, const char *name, ds_type t, size_t *out_j)
{
	size_t j;

	if (ds_col_find(in, name, &j) == 0)
		return sl__err(SL_EINVAL,
			       "the input has a column '%s', which the predictions add: rename or "
			       "drop it first",
			       name);
	return ds_builder_add_col(o->b, name, t, out_j);
}

/* Appends src[k * stride] of each scored row k at its input row (NaN and rejected rows null). */
static int put_doubles(outb *o, size_t j, const double *src, size_t stride)
{
	memset(o->valid, 0, o->n / 8 + 1);
	for (size_t i = 0; i < o->n; i++)
		o->vals[i] = 0;
	for (size_t k = 0; k < o->nk; k++) {
		size_t i = row_of(o, k);
		double v = src[k * stride];
		if (isnan(v))
			continue;
		o->vals[i] = v;
		o->valid[i >> 3] = (uint8_t)(o->valid[i >> 3] | (1u << (i & 7)));
	}
	return ds_append_f64s(o->b, j, o->vals, o->valid, o->n);
}

/* The class decided for each scored row: binary, the second class iff its
 * probability is at least the bundle's threshold (bundle_threshold: 0.5,
 * evaluate's default, unless the package step kept another); otherwise the
 * most probable class, the first on a tie. */
static size_t decide(const double *p, size_t k, double threshold)
{
	size_t best = 0;

	if (k == 2)
		return p[1] >= threshold ? 1 : 0;
	for (size_t c = 1; c < k; c++)
		if (p[c] > p[best])
			best = c;
	return best;
}

/* The label column: the decided class, typed as the model's target was. */
static int put_label(outb *o, size_t j, const ml_signature *sig, const double *P,
		     double threshold)
{
	size_t k = sig->n_outputs, nc = sig->n_classes;
	uint32_t *codes = sl__calloc(o->n + 1, sizeof *codes);
	int64_t *iv = sl__calloc(nc + 1, sizeof *iv);
	size_t *lens = sl__calloc(nc + 1, sizeof *lens);
	int rc = 0;

	if (!codes || !iv || !lens) {
		rc = sl__oom();
		goto out;
	}
	memset(o->valid, 0, o->n / 8 + 1);
	for (size_t kk = 0; kk < o->nk; kk++) {
		size_t i = row_of(o, kk);
		codes[i] = (uint32_t)decide(P + kk * k, k, threshold);
		o->valid[i >> 3] = (uint8_t)(o->valid[i >> 3] | (1u << (i & 7)));
	}
	for (size_t c = 0; c < nc; c++) {
		const char *s = sig->classes[c];
		bool bv = false;
		lens[c] = strlen(s);
		if (sig->target_type == DS_INT64 && !ds_parse_i64(s, lens[c], &iv[c]))
			rc = sl__err(SL_ECORRUPT, "the model's class '%s' is not an integer", s);
		else if (sig->target_type == DS_BOOL && !ds_parse_bool(s, lens[c], &bv))
			rc = sl__err(SL_ECORRUPT, "the model's class '%s' is not true or false", s);
		if (sig->target_type == DS_BOOL)
			iv[c] = bv;
	}
	if (rc)
		goto out;
	if (sig->target_type == DS_STRING) {
		rc = ds_append_coded(o->b, j, (const char *const *)sig->classes, lens, nc, codes,
				     o->valid, o->n);
	} else if (sig->target_type == DS_BOOL) {
		uint8_t *u = (uint8_t *)o->vals; /* n bytes fit in n doubles */
		for (size_t i = 0; i < o->n; i++)
			u[i] = (uint8_t)iv[codes[i]];
		rc = ds_append_bools(o->b, j, u, o->valid, o->n);
	} else {
		int64_t *v = (int64_t *)o->vals;
		for (size_t i = 0; i < o->n; i++)
			v[i] = iv[codes[i]];
		rc = ds_append_i64s(o->b, j, v, o->valid, o->n);
	}
out:
	sl__free(codes);
	sl__free(iv);
	sl__free(lens);
	return rc;
}

static int put_flag(outb *o, size_t j, const double *src, size_t stride)
{
	uint8_t *u = (uint8_t *)o->vals;

	memset(o->valid, 0, o->n / 8 + 1);
	memset(u, 0, o->n);
	for (size_t k = 0; k < o->nk; k++) {
		size_t i = row_of(o, k);
		double v = src[k * stride];
		if (isnan(v))
			continue;
		u[i] = v != 0;
		o->valid[i >> 3] = (uint8_t)(o->valid[i >> 3] | (1u << (i & 7)));
	}
	return ds_append_bools(o->b, j, u, o->valid, o->n);
}

static int build_output(const ml_model *m, const ds_table *in, outb *o, const double *P,
			const double *C, double threshold, ds_table **out)
{
	const ml_signature *sig = &m->sig;
	size_t nin = ds_ncol(in), k = sig->n_outputs, p = sig->n_features, j, col;
	int rc = 0;

	for (j = 0; j < nin && rc == 0; j++)
		if ((rc = ds_builder_add_col(o->b, ds_col_name(in, j), ds_col_type(in, j), NULL)) == 0)
			rc = ds_append_from(o->b, j, in, j, NULL, o->n);
	if (rc == 0 && (rc = add_out_col(o, in, "rejected", DS_BOOL, &col)) == 0) {
		uint8_t *u = (uint8_t *)o->vals;
		memset(u, 1, o->n);
		for (size_t kk = 0; kk < o->nk; kk++)
			u[row_of(o, kk)] = 0;
		rc = ds_append_bools(o->b, col, u, NULL, o->n);
	}
	if (rc == 0 && ml_task_is_classifier(sig->task) &&
	    (rc = add_out_col(o, in, "prediction", sig->target_type, &col)) == 0)
		rc = put_label(o, col, sig, P, threshold);
	for (size_t q = 0; q < k && rc == 0; q++) {
		bool flag = sig->task == ML_ANOMALY && q == 1;
		if ((rc = add_out_col(o, in, sig->outputs[q], flag ? DS_BOOL : DS_FLOAT64, &col)))
			break;
		rc = flag ? put_flag(o, col, P + q, k) : put_doubles(o, col, P + q, k);
	}
	if (C) {
		size_t groups = explain_groups(m), per = groups * (p + 1);
		for (size_t g = 0; g < groups && rc == 0; g++)
			for (size_t f = 0; f <= p && rc == 0; f++) {
				const char *fname = f < p ? sig->features[f].name : "base";
				char *name = groups > 1 ? sl__asprintf("contrib_%s_%s", sig->classes[g], fname)
							: sl__asprintf("contrib_%s", fname);
				if (!name)
					rc = sl__oom();
				else if ((rc = add_out_col(o, in, name, DS_FLOAT64, &col)) == 0)
					rc = put_doubles(o, col, C + g * (p + 1) + f, per);
				sl__free(name);
			}
	}
	if (rc == 0)
		rc = ds_builder_finish(o->b, out);
	return rc;
}

/*
 * Global importance from the contributions C (nk rows of groups * (p + 1):
 * per group the p inputs, then the base): mean |contribution| per input,
 * summed over groups, as gbdt_shap_importance defines it for any family.
 */
static void importance(const double *C, size_t nk, size_t p, size_t groups, double *out)
{
	size_t per = groups * (p + 1);

	for (size_t j = 0; j < p; j++)
		out[j] = 0;
	for (size_t i = 0; i < nk; i++)
		for (size_t g = 0; g < groups; g++)
			for (size_t j = 0; j < p; j++)
				out[j] += fabs(C[i * per + g * (p + 1) + j]);
	for (size_t j = 0; nk && j < p; j++)
		out[j] /= (double)nk;
}

/* Whether t already holds every input of the bundle under its type (the
 * common case, and then conforming it would only copy it). */
static bool conforms(const bundle *b, const ds_table *t)
{
	for (size_t k = 0; k < bundle_n_inputs(b); k++) {
		size_t j;
		if (ds_col_find(t, bundle_input_name(b, k), &j) != 0 ||
		    ds_col_type(t, j) != bundle_input_type(b, k))
			return false;
	}
	return true;
}

int score_table(const bundle *b, const ds_table *t, const score_opts *o, ds_table **out,
		score_stats *st)
{
	const ml_model *m = bundle_model(b);
	const transform *tf = bundle_transform(b);
	size_t n = ds_nrow(t), k = m->sig.n_outputs, p = m->sig.n_features, nk;
	size_t per_row = explain_groups(m) * (p + 1);
	ds_table *ct = NULL, *tt = NULL;
	size_t *rows = NULL;
	double *P = NULL, *C = NULL;
	outb ob;
	int rc;

	*out = NULL;
	memset(&ob, 0, sizeof ob);
	if (o->explain && !m->ops->explain)
		return sl__err(SL_EUNSUP, "%s models have no per-feature explanations",
			       m->ops->algorithm);
	if ((tf || !conforms(b, t)) && (rc = score_conform(b, t, o->source, &ct)))
		return rc;
	if (tf && (rc = transform_apply_rows(tf, ct, &tt, &rows)))
		goto out;
	nk = tf ? ds_nrow(tt) : n;
	if (nk > SIZE_MAX / sizeof(double) / (k ? k : 1) / (o->explain ? per_row : 1) ||
	    !(P = sl__malloc((nk ? nk : 1) * k * sizeof *P)) ||
	    (o->explain && !(C = sl__malloc((nk ? nk : 1) * per_row * sizeof *C)))) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = score_rows(m, tf ? tt : ct ? ct : t, P, C, per_row)))
		goto out;
	ob.n = n;
	ob.nk = nk;
	ob.rows = rows;
	ob.vals = sl__malloc((n ? n : 1) * sizeof *ob.vals);
	ob.valid = sl__malloc(n / 8 + 1);
	if (!ob.vals || !ob.valid) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = ds_builder_new(&ob.b)))
		goto out;
	if ((rc = build_output(m, t, &ob, P, C, bundle_threshold(b), out)))
		goto out;
	if (st) {
		st->rows = n;
		st->rejected = n - nk;
	}
	if (st && st->importance && C)
		importance(C, nk, p, explain_groups(m), st->importance);
out:
	ds_builder_free(ob.b);
	sl__free(ob.vals);
	sl__free(ob.valid);
	sl__free(P);
	sl__free(C);
	sl__free(rows);
	ds_close(tt);
	ds_close(ct);
	return rc;
}

/* ---- single-row timing ------------------------------------------------------------------ */

/* Row i of a conformed table as the bundle's raw input values (strings borrowed). */
static void load_row(const ds_table *t, size_t i, expr_value *v)
{
	for (size_t j = 0; j < ds_ncol(t); j++) {
		expr_value *e = &v[j];
		memset(e, 0, sizeof *e);
		if (!ds_valid(ds_col_validity(t, j), i)) {
			e->null = true;
			continue;
		}
		switch (ds_col_type(t, j)) {
		case DS_FLOAT64: e->f = ds_col_f64(t, j)[i]; break;
		case DS_BOOL: e->i = ds_col_bool(t, j)[i]; break;
		case DS_STRING: e->s = ds_col_str(t, j, i, &e->len); break;
		default: e->i = ds_col_i64(t, j)[i]; break;
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int score_latency(const bundle *b, const ds_table *t, size_t max_rows, size_t warmup,
		  score_latency_result *out)
{
	const ml_model *m = bundle_model(b);
	size_t n = ds_nrow(t) < max_rows ? ds_nrow(t) : max_rows, nt = 0;
	expr_value *vals = sl__calloc(ds_ncol(t) + 1, sizeof *vals);
	double *res = sl__malloc((m->sig.n_outputs + 1) * sizeof *res);
	double *us = sl__malloc((n ? n : 1) * sizeof *us);
	bundle_row *r = NULL;
	long double sum = 0;
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (!vals || !res || !us) {
		rc = sl__oom();
		goto done;
	}
	if ((rc = bundle_row_new(b, &r)))
		goto done;
	for (size_t w = 0; w < warmup && n; w++) {
		load_row(t, w % n, vals);
		rc = bundle_score_values(b, r, vals, NULL, res);
		if (rc < 0)
			goto done;
	}
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		double dt = INFINITY;
		load_row(t, i, vals);
		/* The fastest of SCORE_LATENCY_REPEATS calls (score.h). */
		for (int k = 0; k < SCORE_LATENCY_REPEATS; k++) {
			double t0 = sl__mono_sec();
			rc = bundle_score_values(b, r, vals, NULL, res);
			double d = (sl__mono_sec() - t0) * 1e6;
			if (rc)
				break;
			if (d < dt)
				dt = d;
		}
		if (rc == TRANSFORM_REJECTED) {
			out->rejected++;
			rc = 0;
			continue;
		}
		if (rc)
			goto done;
		us[nt++] = dt;
		sum += dt;
	}
	if (nt == 0) {
		rc = sl__err(SL_EINVAL, "no row to time: %s",
			     n ? "the transform's filters rejected every row" : "the data has no rows");
		goto done;
	}
	qsort(us, nt, sizeof *us, cmp_double);
	out->rows = nt;
	out->p50_us = us[(size_t)ceil(0.5 * (double)nt) - 1];
	out->p99_us = us[(size_t)ceil(0.99 * (double)nt) - 1];
	out->max_us = us[nt - 1];
	out->mean_us = (double)(sum / (long double)nt);
done:
	bundle_row_free(r);
	sl__free(vals);
	sl__free(res);
	sl__free(us);
	return rc;
}

/* ---- files --------------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* "csv", "jsonl" or "dataset" for a path, or NULL. */
static const char *format_of(const char *path, bool reading)
{
	if (reading && ds_is_dataset(path))
		return "dataset";
	if (ends_with(path, ".csv"))
		return "csv";
	if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
		return "jsonl";
	return NULL;
}

static int read_text(const char *path, const char *format, const ds_ingest_opts *opt,
		     ds_table **out)
{
	ds_builder *bld = NULL;
	int rc = !strcmp(format, "csv") ? ds_csv_read_files(&path, 1, opt, &bld, NULL)
					: ds_jsonl_read_files(&path, 1, opt, &bld, NULL);

	if (rc == 0)
		rc = ds_builder_finish(bld, out);
	ds_builder_free(bld);
	return rc;
}

/*
 * Reads the rows to score. CSV types are inferred, so a string input whose
 * values look like numbers ("02139") came back as a number: such columns
 * are read again as strings, keeping their text.
 */
static int read_input(const bundle *b, const char *path, const char *format, ds_table **out)
{
	const char **cols = NULL;
	ds_type *types = NULL;
	ds_ingest_opts opt;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!strcmp(format, "dataset"))
		return ds_open(path, 0, out);
	memset(&opt, 0, sizeof opt);
	if ((rc = read_text(path, format, &opt, out)) || strcmp(format, "csv"))
		return rc;
	cols = sl__calloc(bundle_n_inputs(b) + 1, sizeof *cols);
	types = sl__calloc(bundle_n_inputs(b) + 1, sizeof *types);
	if (!cols || !types) {
		rc = sl__oom();
		goto out;
	}
	for (size_t k = 0; k < bundle_n_inputs(b); k++) {
		size_t j;
		if (bundle_input_type(b, k) != DS_STRING ||
		    ds_col_find(*out, bundle_input_name(b, k), &j) != 0 ||
		    ds_col_type(*out, j) == DS_STRING)
			continue;
		cols[n] = bundle_input_name(b, k);
		types[n++] = DS_STRING;
	}
	if (n) {
		ds_close(*out);
		*out = NULL;
		opt.type_cols = cols;
		opt.types = types;
		opt.n_types = n;
		rc = read_text(path, format, &opt, out);
	}
out:
	sl__free(cols);
	sl__free(types);
	return rc;
}

int score_file(const char *model_path, const char *in_path, const char *in_format,
	       const char *out_path, const char *out_format, bool explain, score_stats *st)
{
	bundle *b = NULL;
	ds_table *in = NULL, *out = NULL;
	score_opts o = {explain, in_path};
	int rc;

	if (!in_format && !(in_format = format_of(in_path, true)))
		return sl__err(SL_EINVAL, "%s: cannot tell the format: name it .csv or .jsonl, or "
					  "pass a dataset file",
			       in_path);
	if (!out_format && !(out_format = format_of(out_path, false)))
		return sl__err(SL_EINVAL, "%s: cannot tell the format to write: name it .csv or "
					  ".jsonl",
			       out_path);
	if (strcmp(in_format, "csv") && strcmp(in_format, "jsonl") && strcmp(in_format, "dataset"))
		return sl__err(SL_EINVAL, "input format '%s': use csv, jsonl or dataset", in_format);
	if (strcmp(out_format, "csv") && strcmp(out_format, "jsonl") &&
	    strcmp(out_format, "dataset"))
		return sl__err(SL_EINVAL, "output format '%s': use csv, jsonl or dataset",
			       out_format);
	if ((rc = bundle_open(model_path, 0, &b)))
		return rc;
	if ((rc = read_input(b, in_path, in_format, &in)))
		goto done;
	if ((rc = score_table(b, in, &o, &out, st)))
		goto done;
	rc = !strcmp(out_format, "dataset") ? ds_table_write(out, out_path)
					    : ds_export_table(out, out_format, out_path);
done:
	ds_close(out);
	ds_close(in);
	bundle_close(b);
	return rc;
}
