/*
 * The part of the linear families that does not depend on how they were
 * fitted (glm.h): building the design (one-hot columns, means and scales)
 * from a training frame, the standardised fit matrix, and the fitted
 * model's predict, explain, save and load.
 *
 * Model file sections (all little-endian, checked on load):
 *   glm_dims    uint64[2]         q (design columns), groups
 *   glm_col     int32[p]          per feature: its column (numeric) or -1 (string)
 *   glm_cat     int32[sum n_dict] per string feature, per dictionary code:
 *                                 its column, or -1 (not seen in training)
 *   glm_mean    double[q]         the reference: training mean of each column
 *   glm_coef    double[groups*q]  coefficients on the original scale
 *   glm_base    double[groups]    base values (intercept + coef . mean)
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "ml/glm.h"
#include "pool.h"

typedef struct glm {
	size_t q, groups;
	const int32_t *col, *cat;
	const double *mean, *coef, *base;
	size_t *cat_off;  /* p: where feature j's codes start in cat */
	double *catoff;   /* groups x p: sum of a string feature's coef * mean */
	bool dense;       /* no string features and col[j] == j: row_dense */
	/* What the model owns when it was fitted here rather than loaded. */
	int32_t *own_col, *own_cat;
	double *own_mean, *own_coef, *own_base;
} glm;

/* ---- the design ---------------------------------------------------------------- */

void glm_design_free(glm_design *d)
{
	sl__free(d->col);
	sl__free(d->cat);
	sl__free(d->cat_off);
	sl__free(d->owner);
	sl__free(d->level);
	sl__free(d->mean);
	sl__free(d->scale);
	sl__free(d->fitcol);
	memset(d, 0, sizeof *d);
}

/* Per feature, what one pass over its column found. */
typedef struct feat_stats {
	double mean, sd;   /* numeric */
	size_t *count;     /* string: rows per dictionary code */
} feat_stats;

typedef struct stats_job {
	const ml_frame *fr;
	feat_stats *st;
	double *scratch;   /* threads x n */
	int rc;
} stats_job;

static void stats_one(void *ctx, size_t j, unsigned worker)
{
	stats_job *s = ctx;
	const ml_frame *fr = s->fr;
	const ml_feature *f = &fr->sig.features[j];
	double *v = s->scratch + (size_t)worker * fr->n;
	size_t n = fr->n;

	ml_frame_column(fr, j, v);
	if (f->type == DS_STRING) {
		size_t *cnt = s->st[j].count;
		for (size_t i = 0; i < n; i++)
			if (v[i] >= 0 && v[i] < (double)f->n_dict)
				cnt[(size_t)v[i]]++;
		return;
	}
	/* Two passes: the mean, then squared deviations from it, which keeps
	 * the variance accurate when the mean is large against the spread. */
	double sum = 0, ss = 0, m;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	m = sum / (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - m) * (v[i] - m);
	s->st[j].mean = m;
	s->st[j].sd = sqrt(ss / (double)n);
}

typedef struct name_ref {
	const char *s;
	uint32_t code;
} name_ref;

int glm_design_build(const ml_frame *fr, bool drop_first, unsigned threads, glm_design *d)
{
	const ml_signature *sig = &fr->sig;
	size_t p = sig->n_features, n = fr->n, q = 0, nt = sl__thread_count(threads);
	feat_stats *st = sl__calloc(p ? p : 1, sizeof *st);
	stats_job job = {.fr = fr, .st = st};
	int rc = 0;

	memset(d, 0, sizeof *d);
	d->p = p;
	if (!st)
		return sl__oom();
	if (nt > p)
		nt = p ? p : 1;
	job.scratch = sl__malloc(nt * (n ? n : 1) * sizeof(double));
	d->col = sl__malloc((p ? p : 1) * sizeof *d->col);
	d->cat_off = sl__calloc(p ? p : 1, sizeof *d->cat_off);
	if (!job.scratch || !d->col || !d->cat_off) {
		rc = sl__oom();
		goto out;
	}
	for (size_t j = 0; j < p; j++) {
		const ml_feature *f = &sig->features[j];
		d->cat_off[j] = d->n_cat;
		if (f->type == DS_STRING) {
			d->n_cat += f->n_dict;
			if (!(st[j].count = sl__calloc(f->n_dict ? f->n_dict : 1, sizeof(size_t)))) {
				rc = sl__oom();
				goto out;
			}
		}
	}
	sl__parallel_for((unsigned)nt, p, stats_one, &job);
	/* Count the columns, then lay them out in feature order. */
	for (size_t j = 0; j < p; j++) {
		const ml_feature *f = &sig->features[j];
		if (f->type != DS_STRING) {
			q++;
			continue;
		}
		for (uint32_t k = 0; k < f->n_dict; k++)
			q += st[j].count[k] > 0;
	}
	if (q > INT32_MAX) {
		rc = sl__err(SL_ELIMIT, "too many one-hot columns (%zu)", q);
		goto out;
	}
	d->q = q;
	d->cat = sl__malloc((d->n_cat ? d->n_cat : 1) * sizeof *d->cat);
	d->owner = sl__malloc((q ? q : 1) * sizeof *d->owner);
	d->level = sl__calloc(q ? q : 1, sizeof *d->level);
	d->mean = sl__malloc((q ? q : 1) * sizeof *d->mean);
	d->scale = sl__malloc((q ? q : 1) * sizeof *d->scale);
	d->fitcol = sl__malloc((q ? q : 1) * sizeof *d->fitcol);
	if (!d->cat || !d->owner || !d->level || !d->mean || !d->scale || !d->fitcol) {
		rc = sl__oom();
		goto out;
	}
	q = 0;
	for (size_t j = 0; j < p; j++) {
		const ml_feature *f = &sig->features[j];
		if (f->type != DS_STRING) {
			d->col[j] = (int32_t)q;
			d->owner[q] = (uint32_t)j;
			d->mean[q] = st[j].mean;
			d->scale[q] = st[j].sd > 0 ? st[j].sd : 1;
			d->fitcol[q] = 0;
			q++;
			continue;
		}
		d->col[j] = -1;
		/* The reference level is the first category in byte order, as
		 * drop='first' over sorted categories does elsewhere. */
		const char *first = NULL;
		for (uint32_t k = 0; k < f->n_dict; k++)
			if (st[j].count[k] && (!first || strcmp(f->dict[k], first) < 0))
				first = f->dict[k];
		for (uint32_t k = 0; k < f->n_dict; k++) {
			int32_t *slot = &d->cat[d->cat_off[j] + k];
			if (!st[j].count[k]) {
				*slot = -1;
				continue;
			}
			double fr1 = (double)st[j].count[k] / (double)n;
			*slot = (int32_t)q;
			d->owner[q] = (uint32_t)j;
			d->level[q] = k;
			d->mean[q] = fr1;
			d->scale[q] = fr1 < 1 ? sqrt(fr1 * (1 - fr1)) : 1;
			d->fitcol[q] = drop_first && f->dict[k] == first ? -1 : 0;
			q++;
		}
	}
	for (size_t c = 0; c < q; c++)
		if (d->fitcol[c] == 0)
			d->fitcol[c] = (int32_t)d->q_fit++;
out:
	for (size_t j = 0; j < p; j++)
		sl__free(st[j].count);
	sl__free(st);
	sl__free(job.scratch);
	if (rc)
		glm_design_free(d);
	return rc;
}

char *glm_column_name(const ml_signature *sig, const glm_design *d, size_t c)
{
	const ml_feature *f = &sig->features[d->owner[c]];

	if (f->type != DS_STRING)
		return sl__strdup(f->name);
	return sl__asprintf("%s=%s", f->name, f->dict[d->level[c]]);
}

typedef struct matrix_job {
	const ml_frame *fr;
	const glm_design *d;
	bool center;
	double *Z, *scratch;
} matrix_job;

static void matrix_one(void *ctx, size_t j, unsigned worker)
{
	matrix_job *mj = ctx;
	const ml_frame *fr = mj->fr;
	const glm_design *d = mj->d;
	const ml_feature *f = &fr->sig.features[j];
	size_t n = fr->n, qf = d->q_fit;
	double *v = mj->scratch + (size_t)worker * n, *Z = mj->Z;

	ml_frame_column(fr, j, v);
	if (f->type != DS_STRING) {
		size_t c = (size_t)d->col[j], fc = (size_t)d->fitcol[c];
		double shift = mj->center ? d->mean[c] : 0, inv = 1 / d->scale[c];
		for (size_t i = 0; i < n; i++)
			Z[i * qf + fc] = (v[i] - shift) * inv;
		return;
	}
	/* One-hot: every column of the feature gets its "absent" value, then
	 * the row's own category its "present" value. */
	for (uint32_t k = 0; k < f->n_dict; k++) {
		int32_t c = d->cat[d->cat_off[j] + k];
		if (c < 0 || d->fitcol[c] < 0)
			continue;
		double shift = mj->center ? d->mean[c] : 0, z0 = -shift / d->scale[c];
		for (size_t i = 0; i < n; i++)
			Z[i * qf + (size_t)d->fitcol[c]] = z0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] >= 0 && v[i] < (double)f->n_dict))
			continue;
		int32_t c = d->cat[d->cat_off[j] + (size_t)v[i]];
		if (c < 0 || d->fitcol[c] < 0)
			continue;
		double shift = mj->center ? d->mean[c] : 0;
		Z[i * qf + (size_t)d->fitcol[c]] = (1 - shift) / d->scale[c];
	}
}

int glm_design_matrix(const ml_frame *fr, const glm_design *d, bool center, unsigned threads,
		      double **out_Z)
{
	size_t n = fr->n, qf = d->q_fit, p = d->p, nt = sl__thread_count(threads);
	matrix_job mj = {.fr = fr, .d = d, .center = center};

	*out_Z = NULL;
	if (qf && n > SIZE_MAX / sizeof(double) / qf)
		return sl__err(SL_ELIMIT, "the design matrix is too large (%zu rows x %zu columns)",
			       n, qf);
	if (nt > p)
		nt = p ? p : 1;
	mj.Z = sl__malloc(n * qf * sizeof(double) + 1);
	mj.scratch = sl__malloc(nt * (n ? n : 1) * sizeof(double));
	if (!mj.Z || !mj.scratch) {
		sl__free(mj.Z);
		sl__free(mj.scratch);
		return sl__oom();
	}
	sl__parallel_for((unsigned)nt, p, matrix_one, &mj);
	sl__free(mj.scratch);
	*out_Z = mj.Z;
	return 0;
}

/* ---- the fitted model -------------------------------------------------------------- */

void glm_free(void *impl)
{
	glm *g = impl;

	if (!g)
		return;
	sl__free(g->cat_off);
	sl__free(g->catoff);
	sl__free(g->own_col);
	sl__free(g->own_cat);
	sl__free(g->own_mean);
	sl__free(g->own_coef);
	sl__free(g->own_base);
	sl__free(g);
}

/* Fills cat_off and catoff from col, cat, mean and coef (fit and load). */
static int glm_derive(glm *g, const ml_signature *sig)
{
	size_t p = sig->n_features, off = 0;

	g->dense = p == g->q;
	for (size_t j = 0; j < p; j++)
		g->dense &= sig->features[j].type != DS_STRING && g->col[j] == (int32_t)j;
	g->cat_off = sl__calloc(p ? p : 1, sizeof *g->cat_off);
	g->catoff = sl__calloc((p ? p : 1) * g->groups, sizeof *g->catoff);
	if (!g->cat_off || !g->catoff)
		return sl__oom();
	for (size_t j = 0; j < p; j++) {
		const ml_feature *f = &sig->features[j];
		g->cat_off[j] = off;
		if (f->type != DS_STRING)
			continue;
		for (size_t gr = 0; gr < g->groups; gr++) {
			double s = 0;
			for (uint32_t k = 0; k < f->n_dict; k++) {
				int32_t c = g->cat[off + k];
				if (c >= 0)
					s += g->coef[gr * g->q + (size_t)c] * g->mean[c];
			}
			g->catoff[gr * p + j] = s;
		}
		off += f->n_dict;
	}
	return 0;
}

static json_t *named_values(const ml_signature *sig, const glm_design *d, const double *v)
{
	json_t *o = json_object();

	for (size_t c = 0; o && c < d->q; c++) {
		char *name = glm_column_name(sig, d, c);
		if (!name || json_object_set_new(o, name, json_real(v[c])) != 0) {
			sl__free(name);
			json_decref(o);
			return NULL;
		}
		sl__free(name);
	}
	return o;
}

/* The info users read: intercept and coefficients by column name, the
 * reference values and the base value (per class for multiclass). */
static int glm_info(ml_model *m, const glm_design *d, const double *intercept)
{
	const glm *g = m->impl;
	const ml_signature *sig = &m->sig;
	json_t *coefs, *icpt, *base, *ref = named_values(sig, d, g->mean);
	bool multi = g->groups > 1;
	int bad = !ref;

	coefs = multi ? json_object() : NULL;
	icpt = multi ? json_object() : NULL;
	base = multi ? json_object() : NULL;
	if (!multi) {
		coefs = named_values(sig, d, g->coef);
		icpt = json_real(intercept[0]);
		base = json_real(g->base[0]);
	}
	bad |= !coefs || !icpt || !base;
	for (size_t gr = 0; multi && !bad && gr < g->groups; gr++) {
		const char *cls = sig->classes[gr];
		bad |= json_object_set_new(coefs, cls, named_values(sig, d, g->coef + gr * g->q)) ||
		       json_object_set_new(icpt, cls, json_real(intercept[gr])) ||
		       json_object_set_new(base, cls, json_real(g->base[gr]));
	}
	if (!bad)
		bad = json_object_set_new(m->info, "intercept", icpt) ||
		      json_object_set_new(m->info, "coefficients", coefs) ||
		      json_object_set_new(m->info, "reference", ref) ||
		      json_object_set_new(m->info, "base_value", base);
	else {
		json_decref(coefs);
		json_decref(icpt);
		json_decref(base);
		json_decref(ref);
	}
	return bad ? sl__oom() : 0;
}

int glm_model_new(const ml_ops *ops, const ml_frame *fr, glm_design *d, const double *coef,
		  const double *intercept, size_t groups, json_t *params, ml_model **out)
{
	ml_signature sig = {0};
	glm *g = sl__calloc(1, sizeof *g);
	size_t q = d->q;
	int rc;

	*out = NULL;
	if (!g || (rc = ml_signature_copy(&sig, &fr->sig)) != 0) {
		rc = g ? rc : sl__oom();
		sl__free(g);
		json_decref(params);
		glm_design_free(d);
		return rc;
	}
	g->q = q;
	g->groups = groups;
	g->own_col = d->col;
	g->own_cat = d->cat;
	g->own_mean = d->mean;
	d->col = NULL;
	d->cat = NULL;
	d->mean = NULL;
	g->own_coef = sl__malloc((q ? q : 1) * groups * sizeof(double));
	g->own_base = sl__malloc(groups * sizeof(double));
	if (!g->own_coef || !g->own_base) {
		rc = sl__oom();
		goto fail;
	}
	memcpy(g->own_coef, coef, q * groups * sizeof(double));
	for (size_t gr = 0; gr < groups; gr++) {
		double s = intercept[gr];
		for (size_t c = 0; c < q; c++)
			s += coef[gr * q + c] * g->own_mean[c];
		g->own_base[gr] = s;
	}
	g->col = g->own_col;
	g->cat = g->own_cat;
	g->mean = g->own_mean;
	g->coef = g->own_coef;
	g->base = g->own_base;
	if ((rc = glm_derive(g, &sig)))
		goto fail;
	rc = ml_model_new(ops, &sig, params, out);
	params = NULL;
	if (rc)
		goto fail;
	(*out)->impl = g;
	g = NULL;
	rc = glm_info(*out, d, intercept);
	if (rc) {
		ml_model_free(*out);
		*out = NULL;
	}
	glm_design_free(d);
	return rc;
fail:
	ml_signature_clear(&sig);
	json_decref(params);
	glm_free(g);
	glm_design_free(d);
	return rc;
}

int glm_warn(ml_model *m, const char *fmt, ...)
{
	json_t *w = json_object_get(m->info, "warnings");
	char *msg;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(msg = sl__malloc((size_t)n + 1)))
		return sl__oom();
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (!w) {
		w = json_array();
		if (!w || json_object_set_new(m->info, "warnings", w) != 0) {
			sl__free(msg);
			return sl__oom();
		}
	}
	n = json_array_append_new(w, json_string(msg));
	sl__free(msg);
	return n ? sl__oom() : 0;
}

/* ---- predict and explain ------------------------------------------------------------- */

/*
 * Raw score of group gr for one row; the terms into contrib when non-NULL
 * (invariant 1: the same terms in the same order either way).
 */
static double row_raw(const glm *g, const ml_signature *sig, const double *x, size_t gr,
		      double *contrib)
{
	const double *coef = g->coef + gr * g->q;
	size_t p = sig->n_features;
	double s = 0;

	for (size_t j = 0; j < p; j++) {
		double v = x[j], t = 0;
		int32_t c = g->col[j];
		if (c >= 0) {
			if (!isnan(v))
				t = coef[c] * (v - g->mean[c]);
		} else if (v >= 0 && v < (double)sig->features[j].n_dict) {
			/* A code is an integer; anything else is not a category
			 * the model knows, hence missing. */
			uint32_t k = (uint32_t)v;
			int32_t cc = (double)k == v ? g->cat[g->cat_off[j] + k] : -1;
			if (cc >= 0)
				t = coef[cc] - g->catoff[gr * p + j];
		}
		if (contrib)
			contrib[j] = t;
		s += t;
	}
	return g->base[gr] + s;
}

/*
 * row_raw for a model whose every feature is numeric and its own column
 * (g->dense): the same terms, the same zero for a missing value and the
 * same sum in the same order, so the same bits, without the column look-up
 * and the string test per feature. A logistic row of 57 numbers took 940
 * instructions by row_raw and takes about 400 here.
 */
static inline double dense_term(const double *coef, const double *mean, const double *x,
				size_t j)
{
	double v = x[j], t = 0;

	if (!isnan(v))
		t = coef[j] * (v - mean[j]);
	return t;
}

static double row_dense(const glm *g, size_t p, const double *x, size_t gr)
{
	const double *coef = g->coef + gr * g->q, *mean = g->mean;
	double s = 0;
	size_t j = 0;

	/* Four at a time by hand: the loop's own instructions were a fifth
	 * of a feature's, and the compiler's unrolling kept one per copy. */
	for (; j + 4 <= p; j += 4) {
		s += dense_term(coef, mean, x, j);
		s += dense_term(coef, mean, x, j + 1);
		s += dense_term(coef, mean, x, j + 2);
		s += dense_term(coef, mean, x, j + 3);
	}
	for (; j < p; j++)
		s += dense_term(coef, mean, x, j);
	return g->base[gr] + s;
}

static inline double raw_of(const glm *g, const ml_signature *sig, const double *x, size_t gr,
			    bool general)
{
	return g->dense && !general ? row_dense(g, sig->n_features, x, gr)
				    : row_raw(g, sig, x, gr, NULL);
}

void glm_raw(const ml_model *m, const double *X, size_t n, double *out)
{
	const glm *g = m->impl;
	size_t p = m->sig.n_features;

	for (size_t i = 0; i < n; i++)
		for (size_t gr = 0; gr < g->groups; gr++)
			out[i * g->groups + gr] = raw_of(g, &m->sig, X + i * p, gr, false);
}

static void predict_with(const ml_model *m, const double *X, size_t n, double *out, bool general)
{
	const glm *g = m->impl;
	size_t p = m->sig.n_features, k = m->sig.n_outputs;

	for (size_t i = 0; i < n; i++) {
		const double *x = X + i * p;
		double *o = out + i * k;
		if (m->sig.task == ML_REGRESSION) {
			o[0] = raw_of(g, &m->sig, x, 0, general);
		} else if (m->sig.task == ML_BINARY) {
			/* Both probabilities from one exp, each without
			 * cancellation. */
			double r = raw_of(g, &m->sig, x, 0, general), e = exp(-fabs(r));
			double big = 1 / (1 + e), small = e / (1 + e);
			o[0] = r >= 0 ? small : big;
			o[1] = r >= 0 ? big : small;
		} else {
			double mx = -INFINITY, sum = 0;
			for (size_t gr = 0; gr < k; gr++) {
				o[gr] = raw_of(g, &m->sig, x, gr, general);
				if (o[gr] > mx)
					mx = o[gr];
			}
			for (size_t gr = 0; gr < k; gr++)
				sum += (o[gr] = exp(o[gr] - mx));
			for (size_t gr = 0; gr < k; gr++)
				o[gr] /= sum;
		}
	}
}

int glm_predict(const ml_model *m, const double *X, size_t n, double *out)
{
	predict_with(m, X, n, out, false);
	return 0;
}

int glm_predict_general(const ml_model *m, const double *X, size_t n, double *out)
{
	predict_with(m, X, n, out, true);
	return 0;
}

bool glm_is_dense(const ml_model *m)
{
	return ((const glm *)m->impl)->dense;
}

size_t glm_explain_groups(const ml_model *m)
{
	return ((const glm *)m->impl)->groups;
}

int glm_explain(const ml_model *m, const double *X, size_t n, double *out)
{
	const glm *g = m->impl;
	size_t p = m->sig.n_features, per = p + 1;

	for (size_t i = 0; i < n; i++)
		for (size_t gr = 0; gr < g->groups; gr++) {
			double *o = out + (i * g->groups + gr) * per;
			row_raw(g, &m->sig, X + i * p, gr, o);
			o[p] = g->base[gr];
		}
	return 0;
}

/* ---- save and load ------------------------------------------------------------------- */

static size_t n_cat_of(const ml_signature *sig)
{
	size_t n = 0;

	for (size_t j = 0; j < sig->n_features; j++)
		if (sig->features[j].type == DS_STRING)
			n += sig->features[j].n_dict;
	return n;
}

int glm_save(const ml_model *m, mfile_writer *w)
{
	const glm *g = m->impl;
	uint64_t dims[2] = {g->q, g->groups};
	size_t p = m->sig.n_features;
	int rc;

	if ((rc = mfile_add(w, "glm_dims", dims, sizeof dims)) ||
	    (rc = mfile_add(w, "glm_col", g->col, p * sizeof *g->col)) ||
	    (rc = mfile_add(w, "glm_cat", g->cat, n_cat_of(&m->sig) * sizeof *g->cat)) ||
	    (rc = mfile_add(w, "glm_mean", g->mean, g->q * sizeof *g->mean)) ||
	    (rc = mfile_add(w, "glm_coef", g->coef, g->q * g->groups * sizeof *g->coef)) ||
	    (rc = mfile_add(w, "glm_base", g->base, g->groups * sizeof *g->base)))
		return rc;
	return 0;
}

int glm_load(ml_model *m, const mfile *f)
{
	const ml_signature *sig = &m->sig;
	size_t p = sig->n_features, ncat = n_cat_of(sig), want;
	const char *name = mfile_name(f);
	const uint64_t *dims;
	const void *v;
	glm *g;
	int rc;

	if ((rc = mfile_array(f, "glm_dims", sizeof(uint64_t), 2, &v)))
		return rc;
	dims = v;
	want = sig->task == ML_MULTICLASS ? sig->n_classes : 1;
	/* predict writes one value per output: the outputs must be what the
	 * task makes (a prediction, or a probability per class). */
	if (dims[1] != want || sig->task == ML_ANOMALY || sig->task == ML_FORECAST ||
	    sig->n_outputs != (sig->task == ML_REGRESSION ? 1 : sig->n_classes) ||
	    (sig->task == ML_BINARY && sig->n_classes != 2))
		return sl__err(SL_ECORRUPT, "%s: %llu coefficient groups for a %s model", name,
			       (unsigned long long)dims[1], ml_task_name(sig->task));
	if (dims[0] > INT32_MAX)
		return sl__err(SL_ECORRUPT, "%s: %llu design columns", name,
			       (unsigned long long)dims[0]);
	if (!(g = sl__calloc(1, sizeof *g)))
		return sl__oom();
	g->q = (size_t)dims[0];
	g->groups = want;
	if ((rc = mfile_array(f, "glm_col", sizeof(int32_t), p, &v)))
		goto fail;
	g->col = v;
	if ((rc = mfile_array(f, "glm_cat", sizeof(int32_t), ncat, &v)))
		goto fail;
	g->cat = v;
	if ((rc = mfile_array(f, "glm_mean", sizeof(double), g->q, &v)))
		goto fail;
	g->mean = v;
	if ((rc = mfile_array(f, "glm_coef", sizeof(double), g->q * g->groups, &v)))
		goto fail;
	g->coef = v;
	if ((rc = mfile_array(f, "glm_base", sizeof(double), g->groups, &v)))
		goto fail;
	g->base = v;
	/* Invariant 2: every column index in range, numeric features with a
	 * column and string features without one. */
	for (size_t j = 0; j < p; j++) {
		bool str = sig->features[j].type == DS_STRING;
		if (str ? g->col[j] != -1 : (g->col[j] < 0 || (size_t)g->col[j] >= g->q)) {
			rc = sl__err(SL_ECORRUPT, "%s: feature %zu has column %d of %zu", name, j,
				     (int)g->col[j], g->q);
			goto fail;
		}
	}
	for (size_t k = 0; k < ncat; k++)
		if (g->cat[k] < -1 || (g->cat[k] >= 0 && (size_t)g->cat[k] >= g->q)) {
			rc = sl__err(SL_ECORRUPT, "%s: category %zu has column %d of %zu", name, k,
				     (int)g->cat[k], g->q);
			goto fail;
		}
	if ((rc = glm_derive(g, sig)))
		goto fail;
	m->impl = g;
	return 0;
fail:
	glm_free(g);
	return rc;
}

/* ---- export to C ------------------------------------------------------------------------ */

/* Copies n int32 values into an int64 array for sl__cw_ints (NULL on failure). */
static int64_t *widen32(const int32_t *v, size_t n)
{
	int64_t *w = sl__malloc((n ? n : 1) * sizeof *w);

	for (size_t i = 0; w && i < n; i++)
		w[i] = v[i];
	return w;
}

/* The C form of row_raw and glm_predict: the same terms in the same order. */
int glm_emit_c(const ml_model *m, sl__cw *w)
{
	const glm *g = m->impl;
	const ml_signature *sig = &m->sig;
	size_t p = sig->n_features, ncat = n_cat_of(sig);
	int64_t *col = widen32(g->col, p), *cat = widen32(g->cat, ncat);
	int64_t *off = sl__malloc((p ? p : 1) * sizeof *off), *nd = sl__malloc((p ? p : 1) * sizeof *nd);
	char decl[96];

	if (!col || !cat || !off || !nd) {
		sl__free(col);
		sl__free(cat);
		sl__free(off);
		sl__free(nd);
		return sl__oom();
	}
	for (size_t j = 0; j < p; j++) {
		off[j] = (int64_t)g->cat_off[j];
		nd[j] = sig->features[j].n_dict;
	}
	sl__cw_printf(w, "/*\n * A %s model: raw_g = base_g + sum_j contrib_gj, contributions taken\n"
			 " * against the training means (a numeric input: coef * (x - mean); a\n"
			 " * category: its coefficient less the category block's mean; missing: 0).\n"
			 " */\n",
		      m->ops->algorithm);
	sl__cw_ints(w, "static const int sx_col[]", col, p);
	sl__cw_ints(w, "static const int sx_ndict[]", nd, p);
	sl__cw_ints(w, "static const int sx_cat_off[]", off, p);
	sl__cw_ints(w, "static const int sx_cat[]", cat, ncat);
	sl__cw_doubles(w, "static const double sx_mean[]", g->mean, g->q);
	sl__cw_doubles(w, "static const double sx_coef[]", g->coef, g->q * g->groups);
	sl__cw_doubles(w, "static const double sx_base[]", g->base, g->groups);
	snprintf(decl, sizeof decl, "static const double sx_catsum[]");
	sl__cw_doubles(w, decl, g->catoff, p * g->groups);
	sl__cw_printf(w,
		      "\nstatic double sx_raw(const double *x, int g)\n{\n"
		      "\tconst double *coef = sx_coef + g * %zu;\n"
		      "\tdouble s = 0;\n\n"
		      "\tfor (int j = 0; j < %zu; j++) {\n"
		      "\t\tdouble v = x[j], t = 0;\n"
		      "\t\tint c = sx_col[j];\n"
		      "\t\tif (c >= 0) {\n"
		      "\t\t\tif (!isnan(v))\n"
		      "\t\t\t\tt = coef[c] * (v - sx_mean[c]);\n"
		      "\t\t} else if (v >= 0 && v < (double)sx_ndict[j]) {\n"
		      "\t\t\tunsigned k = (unsigned)v;\n"
		      "\t\t\tint cc = (double)k == v ? sx_cat[sx_cat_off[j] + (int)k] : -1;\n"
		      "\t\t\tif (cc >= 0)\n"
		      "\t\t\t\tt = coef[cc] - sx_catsum[g * %zu + j];\n"
		      "\t\t}\n"
		      "\t\ts += t;\n"
		      "\t}\n"
		      "\treturn sx_base[g] + s;\n"
		      "}\n\n"
		      "static void sx_model(const double *x, double *out)\n{\n",
		      g->q, p, p);
	if (sig->task == ML_REGRESSION) {
		sl__cw_puts(w, "\tout[0] = sx_raw(x, 0);\n");
	} else if (sig->task == ML_BINARY) {
		sl__cw_puts(w, "\tdouble r = sx_raw(x, 0), e = exp(-fabs(r));\n"
			       "\tdouble big = 1 / (1 + e), small = e / (1 + e);\n\n"
			       "\tout[0] = r >= 0 ? small : big;\n"
			       "\tout[1] = r >= 0 ? big : small;\n");
	} else {
		sl__cw_printf(w, "\tdouble mx = -INFINITY, sum = 0;\n\n"
				 "\tfor (int g = 0; g < %zu; g++) {\n"
				 "\t\tout[g] = sx_raw(x, g);\n"
				 "\t\tif (out[g] > mx)\n"
				 "\t\t\tmx = out[g];\n"
				 "\t}\n"
				 "\tfor (int g = 0; g < %zu; g++)\n"
				 "\t\tsum += (out[g] = exp(out[g] - mx));\n"
				 "\tfor (int g = 0; g < %zu; g++)\n"
				 "\t\tout[g] /= sum;\n",
			      g->groups, g->groups, g->groups);
	}
	sl__cw_puts(w, "}\n");
	sl__free(col);
	sl__free(cat);
	sl__free(off);
	sl__free(nd);
	return w->rc;
}

