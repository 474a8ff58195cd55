/*
 * Naive Bayes classifiers, as scikit-learn's MultinomialNB, GaussianNB and
 * BernoulliNB compute them. For class k and a row x the joint log
 * likelihood is
 *
 *   jll_k(x) = log P(k) + sum_j t_kj(x_j)
 *   multinomial  t_kj = x_j log theta_kj,
 *                theta_kj = (N_kj + alpha) / (N_k + alpha p), N_kj the sum of
 *                feature j over the rows of class k (counts, tf-idf weights)
 *   bernoulli    t_kj = log theta_kj if x_j > binarize, else log(1 - theta_kj),
 *                theta_kj = (N_kj + alpha) / (n_k + 2 alpha), N_kj the rows of
 *                class k where x_j > binarize
 *   gaussian     t_kj = -1/2 log(2 pi s2_kj) - (x_j - mu_kj)^2 / (2 s2_kj),
 *                s2_kj the class variance plus var_smoothing times the
 *                largest variance of any feature
 *
 * and the probabilities are the softmax of jll over the classes. A missing
 * input (NaN) is left out of the sum: the naive model marginalises it
 * exactly.
 *
 * Explanations. Because jll is a sum over features, per-feature terms are
 * exact contributions:
 *   binary      one group, the log-odds of class 1:
 *               contrib_j = t_1j - t_0j (the feature's log-likelihood ratio),
 *               base = log P(1) - log P(0)
 *   multiclass  a group per class, the centred joint log likelihood (whose
 *               softmax is the probabilities):
 *               contrib_kj = t_kj - mean_k' t_k'j, base_k = log P(k) - mean_k' log P(k')
 * They sum to the raw score exactly as predict computes it.
 *
 * Model file sections:
 *   nb_dims   uint64[3]  kind, classes K, features p
 *   nb_prior  double[K]  log P(k)
 *   nb_a      double[K*p] multinomial and bernoulli: log theta; gaussian: mu
 *   nb_b      double[K*p] bernoulli: log(1 - theta); gaussian: s2 (> 0);
 *                         absent for multinomial
 *   nb_thr    double[1]  bernoulli: the binarize threshold
 */
#include <math.h>
#include <string.h>

#include "cgen.h"
#include "ml/nb.h"
#include "pool.h"

typedef struct nb {
	nb_kind kind;
	size_t K, p;
	const double *prior, *a, *b;
	double thr;
	double *own; /* prior, a, b in one block when fitted here */
} nb;

static const char *const kind_names[] = {
	[NB_MULTINOMIAL] = "multinomial", [NB_GAUSSIAN] = "gaussian", [NB_BERNOULLI] = "bernoulli",
};

bool nb_kind_parse(const char *s, nb_kind *out)
{
	for (size_t i = 0; i < SL__ARRAY_LEN(kind_names); i++)
		if (!strcmp(s, kind_names[i])) {
			*out = (nb_kind)i;
			return true;
		}
	return false;
}

const char *nb_kind_name(nb_kind k)
{
	return (size_t)k < SL__ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

int nb_opts_check(const nb_opts *o)
{
	if (o->kind != NB_GAUSSIAN && !(o->alpha > 0 && isfinite(o->alpha)))
		return sl__err(SL_EINVAL,
			       "alpha must be a number > 0 (got %g): it is the pseudo-count that "
			       "keeps an unseen feature from ruling a class out (1 is Laplace "
			       "smoothing)",
			       o->alpha);
	if (o->kind == NB_GAUSSIAN && !(o->var_smoothing >= 0 && isfinite(o->var_smoothing)))
		return sl__err(SL_EINVAL, "var_smoothing must be a number >= 0 (got %g)",
			       o->var_smoothing);
	if (o->kind == NB_BERNOULLI && !isfinite(o->binarize))
		return sl__err(SL_EINVAL, "binarize must be a finite number (got %g)", o->binarize);
	return 0;
}

/* ---- predict and explain -------------------------------------------------------- */

/* Feature j's term of class k for value v (not NaN). */
static double term(const nb *m, size_t k, size_t j, double v)
{
	size_t at = k * m->p + j;

	switch (m->kind) {
	case NB_MULTINOMIAL:
		/* 0 * log(theta) is 0 even when theta underflows. */
		return v != 0 ? v * m->a[at] : 0;
	case NB_BERNOULLI:
		return v > m->thr ? m->a[at] : m->b[at];
	case NB_GAUSSIAN: {
		double dv = v - m->a[at];
		return -0.5 * log(2 * M_PI * m->b[at]) - 0.5 * dv * dv / m->b[at];
	}
	}
	return 0;
}

/*
 * Raw scores of one row (groups of them) and, when contrib is non-NULL,
 * the per-feature contributions (groups x (p + 1), the base last); t is
 * scratch for K doubles. Predict and explain both come here, so they add
 * the same terms in the same order.
 */
static void row_scores(const nb *m, const double *x, double *raw, double *contrib, double *t)
{
	size_t K = m->K, p = m->p, groups = K == 2 ? 1 : K;
	double pmean = 0;

	for (size_t k = 0; k < K; k++)
		pmean += m->prior[k];
	pmean /= (double)K;
	for (size_t g = 0; g < groups; g++)
		raw[g] = 0;
	for (size_t j = 0; j < p; j++) {
		double v = x[j], mean = 0;
		if (isnan(v)) {
			for (size_t k = 0; k < K; k++)
				t[k] = 0;
		} else {
			for (size_t k = 0; k < K; k++)
				mean += (t[k] = term(m, k, j, v));
			mean /= (double)K;
		}
		for (size_t g = 0; g < groups; g++) {
			double c = K == 2 ? t[1] - t[0] : t[g] - mean;
			if (isnan(v))
				c = 0;
			raw[g] += c;
			if (contrib)
				contrib[g * (p + 1) + j] = c;
		}
	}
	for (size_t g = 0; g < groups; g++) {
		double base = K == 2 ? m->prior[1] - m->prior[0] : m->prior[g] - pmean;
		raw[g] = base + raw[g];
		if (contrib)
			contrib[g * (p + 1) + p] = base;
	}
}

static int nb_predict(const ml_model *mm, const double *X, size_t n, double *out)
{
	const nb *m = mm->impl;
	size_t K = m->K, p = m->p;
	double *t = sl__malloc(2 * K * sizeof *t), *raw;

	if (!t)
		return sl__oom();
	raw = t + K;
	for (size_t i = 0; i < n; i++) {
		double *o = out + i * K;
		row_scores(m, X + i * p, raw, NULL, t);
		if (K == 2) {
			double r = raw[0], e = exp(-fabs(r)), big = 1 / (1 + e), small = e / (1 + e);
			o[0] = r >= 0 ? small : big;
			o[1] = r >= 0 ? big : small;
			continue;
		}
		double mx = -INFINITY, s = 0;
		for (size_t k = 0; k < K; k++)
			mx = fmax(mx, raw[k]);
		for (size_t k = 0; k < K; k++)
			s += (o[k] = exp(raw[k] - mx));
		for (size_t k = 0; k < K; k++)
			o[k] /= s;
	}
	sl__free(t);
	return 0;
}

static size_t nb_groups(const ml_model *mm)
{
	const nb *m = mm->impl;

	return m->K == 2 ? 1 : m->K;
}

static int nb_explain(const ml_model *mm, const double *X, size_t n, double *out)
{
	const nb *m = mm->impl;
	size_t K = m->K, p = m->p, groups = nb_groups(mm);
	double *t = sl__malloc(2 * K * sizeof *t);

	if (!t)
		return sl__oom();
	for (size_t i = 0; i < n; i++)
		row_scores(m, X + i * p, t + K, out + i * groups * (p + 1), t);
	sl__free(t);
	return 0;
}

/* ---- save and load --------------------------------------------------------------- */

static int nb_save(const ml_model *mm, mfile_writer *w)
{
	const nb *m = mm->impl;
	uint64_t dims[3] = {(uint64_t)m->kind, m->K, m->p};
	size_t kp = m->K * m->p * sizeof(double);
	int rc;

	if ((rc = mfile_add(w, "nb_dims", dims, sizeof dims)) ||
	    (rc = mfile_add(w, "nb_prior", m->prior, m->K * sizeof(double))) ||
	    (rc = mfile_add(w, "nb_a", m->a, kp)))
		return rc;
	if (m->kind != NB_MULTINOMIAL && (rc = mfile_add(w, "nb_b", m->b, kp)))
		return rc;
	if (m->kind == NB_BERNOULLI && (rc = mfile_add(w, "nb_thr", &m->thr, sizeof m->thr)))
		return rc;
	return 0;
}

static int nb_load(ml_model *mm, const mfile *f)
{
	const ml_signature *sig = &mm->sig;
	const uint64_t *dims;
	const void *v;
	nb *m;
	int rc;

	if ((rc = mfile_array(f, "nb_dims", sizeof(uint64_t), 3, &v)))
		return rc;
	dims = v;
	if (dims[0] > NB_BERNOULLI || !ml_task_is_classifier(sig->task) ||
	    dims[1] != sig->n_classes || dims[2] != sig->n_features || dims[1] < 2 ||
	    sig->n_outputs != sig->n_classes)
		return sl__err(SL_ECORRUPT,
			       "%s: naive Bayes sections (kind %llu, %llu classes, %llu features) "
			       "do not fit the signature",
			       mfile_name(f), (unsigned long long)dims[0],
			       (unsigned long long)dims[1], (unsigned long long)dims[2]);
	if (!(m = sl__calloc(1, sizeof *m)))
		return sl__oom();
	m->kind = (nb_kind)dims[0];
	m->K = sig->n_classes;
	m->p = sig->n_features;
	if ((rc = mfile_array(f, "nb_prior", sizeof(double), m->K, &v)))
		goto fail;
	m->prior = v;
	if ((rc = mfile_array(f, "nb_a", sizeof(double), m->K * m->p, &v)))
		goto fail;
	m->a = v;
	if (m->kind != NB_MULTINOMIAL) {
		if ((rc = mfile_array(f, "nb_b", sizeof(double), m->K * m->p, &v)))
			goto fail;
		m->b = v;
	}
	if (m->kind == NB_BERNOULLI) {
		if ((rc = mfile_array(f, "nb_thr", sizeof(double), 1, &v)))
			goto fail;
		memcpy(&m->thr, v, sizeof m->thr);
	}
	mm->impl = m;
	return 0;
fail:
	sl__free(m);
	return rc;
}

static void nb_free(void *impl)
{
	nb *m = impl;

	if (m)
		sl__free(m->own);
	sl__free(m);
}

/* The C form of term, row_scores and nb_predict: the same operations in the same order. */
static int nb_emit_c(const ml_model *mm, sl__cw *w)
{
	const nb *m = mm->impl;
	size_t K = m->K, p = m->p, groups = K == 2 ? 1 : K;

	sl__cw_printf(w, "/* %s naive Bayes: the softmax of log P(k) + sum_j t_kj(x_j). */\n"
			 "#define SX_PI 3.14159265358979323846\n",
		      nb_kind_name(m->kind));
	sl__cw_doubles(w, "static const double sx_prior[]", m->prior, K);
	sl__cw_doubles(w, "static const double sx_a[]", m->a, K * p);
	if (m->kind != NB_MULTINOMIAL)
		sl__cw_doubles(w, "static const double sx_b[]", m->b, K * p);
	sl__cw_printf(w, "\nstatic double sx_term(int k, int j, double v)\n{\n"
			 "\tint at = k * %zu + j;\n\n",
		      p);
	switch (m->kind) {
	case NB_MULTINOMIAL:
		sl__cw_puts(w, "\treturn v != 0 ? v * sx_a[at] : 0;\n");
		break;
	case NB_BERNOULLI:
		sl__cw_puts(w, "\treturn v > ");
		sl__cw_double(w, m->thr);
		sl__cw_puts(w, " ? sx_a[at] : sx_b[at];\n");
		break;
	case NB_GAUSSIAN:
		sl__cw_puts(w, "\tdouble dv = v - sx_a[at];\n\n"
			       "\treturn -0.5 * log(2 * SX_PI * sx_b[at]) - 0.5 * dv * dv / sx_b[at];\n");
		break;
	}
	sl__cw_printf(w,
		      "}\n\n"
		      "static void sx_model(const double *x, double *out)\n{\n"
		      "\tdouble t[%zu], raw[%zu], pmean = 0;\n\n"
		      "\tfor (int k = 0; k < %zu; k++)\n"
		      "\t\tpmean += sx_prior[k];\n"
		      "\tpmean /= (double)%zu;\n"
		      "\tfor (int g = 0; g < %zu; g++)\n"
		      "\t\traw[g] = 0;\n"
		      "\tfor (int j = 0; j < %zu; j++) {\n"
		      "\t\tdouble v = x[j], mean = 0;\n"
		      "\t\tif (isnan(v)) {\n"
		      "\t\t\tfor (int k = 0; k < %zu; k++)\n"
		      "\t\t\t\tt[k] = 0;\n"
		      "\t\t} else {\n"
		      "\t\t\tfor (int k = 0; k < %zu; k++)\n"
		      "\t\t\t\tmean += (t[k] = sx_term(k, j, v));\n"
		      "\t\t\tmean /= (double)%zu;\n"
		      "\t\t}\n"
		      "\t\tfor (int g = 0; g < %zu; g++) {\n"
		      "\t\t\tdouble c = %s;\n"
		      "\t\t\tif (isnan(v))\n"
		      "\t\t\t\tc = 0;\n"
		      "\t\t\traw[g] += c;\n"
		      "\t\t}\n"
		      "\t}\n"
		      "\tfor (int g = 0; g < %zu; g++)\n"
		      "\t\traw[g] = (%s) + raw[g];\n",
		      K, groups, K, K, groups, p, K, K, K, groups,
		      K == 2 ? "t[1] - t[0]" : "t[g] - mean", groups,
		      K == 2 ? "sx_prior[1] - sx_prior[0]" : "sx_prior[g] - pmean");
	if (K == 2)
		sl__cw_puts(w, "\t(void)pmean;\n"
			       "\t{\n"
			       "\t\tdouble r = raw[0], e = exp(-fabs(r)), big = 1 / (1 + e), small = e / (1 + e);\n"
			       "\t\tout[0] = r >= 0 ? small : big;\n"
			       "\t\tout[1] = r >= 0 ? big : small;\n"
			       "\t}\n"
			       "}\n");
	else
		sl__cw_printf(w, "\t{\n"
				 "\t\tdouble mx = -INFINITY, s = 0;\n"
				 "\t\tfor (int k = 0; k < %zu; k++)\n"
				 "\t\t\tmx = fmax(mx, raw[k]);\n"
				 "\t\tfor (int k = 0; k < %zu; k++)\n"
				 "\t\t\ts += (out[k] = exp(raw[k] - mx));\n"
				 "\t\tfor (int k = 0; k < %zu; k++)\n"
				 "\t\t\tout[k] /= s;\n"
				 "\t}\n"
				 "}\n",
			      K, K, K);
	return w->rc;
}

const ml_ops ml_naive_bayes_ops = {
	.algorithm = "naive_bayes",
	.predict = nb_predict,
	.explain = nb_explain,
	.explain_groups = nb_groups,
	.save = nb_save,
	.load = nb_load,
	.free_impl = nb_free,
	.emit_c = nb_emit_c,
};

/* ---- the fit ----------------------------------------------------------------------- */

typedef struct fit_job {
	const ml_frame *fr;
	const nb_opts *o;
	const size_t *count;  /* rows per class */
	double *a, *b;        /* K x p being filled */
	double *fvar;         /* p: variance of each feature over all rows (gaussian) */
	double *scratch;      /* threads x n */
	size_t bad_row;       /* multinomial: first negative value, row + 1 */
	size_t bad_col;
} fit_job;

/* One feature's sufficient statistics per class, in a fixed row order. */
static void fit_feature(void *ctx, size_t j, unsigned worker)
{
	fit_job *fj = ctx;
	const ml_frame *fr = fj->fr;
	size_t n = fr->n, K = fr->sig.n_classes, p = fr->sig.n_features;
	double *v = fj->scratch + (size_t)worker * n;

	ml_frame_column(fr, j, v);
	for (size_t k = 0; k < K; k++)
		fj->a[k * p + j] = fj->b[k * p + j] = 0;
	switch (fj->o->kind) {
	case NB_MULTINOMIAL:
		for (size_t i = 0; i < n; i++) {
			if (v[i] < 0) {
				/* Marks the feature as refused, with the row: class
				 * 0's sum is otherwise >= 0. The caller reports the
				 * first refused feature, whichever thread saw it. */
				fj->a[j] = -(double)(i + 1);
				return;
			}
			fj->a[(size_t)fr->y[i] * p + j] += v[i];
		}
		break;
	case NB_BERNOULLI:
		for (size_t i = 0; i < n; i++)
			fj->a[(size_t)fr->y[i] * p + j] += v[i] > fj->o->binarize;
		break;
	case NB_GAUSSIAN: {
		double s = 0, ss = 0, m;
		for (size_t i = 0; i < n; i++) {
			fj->a[(size_t)fr->y[i] * p + j] += v[i];
			s += v[i];
		}
		m = s / (double)n;
		for (size_t k = 0; k < K; k++)
			fj->a[k * p + j] /= (double)fj->count[k];
		for (size_t i = 0; i < n; i++) {
			double dv = v[i] - fj->a[(size_t)fr->y[i] * p + j];
			fj->b[(size_t)fr->y[i] * p + j] += dv * dv;
			ss += (v[i] - m) * (v[i] - m);
		}
		for (size_t k = 0; k < K; k++)
			fj->b[k * p + j] /= (double)fj->count[k];
		fj->fvar[j] = ss / (double)n;
		break;
	}
	}
}

static json_t *per_class(const ml_signature *sig, const double *v, size_t stride)
{
	json_t *o = json_object();

	for (size_t k = 0; o && k < sig->n_classes; k++) {
		json_t *row = json_object();
		for (size_t j = 0; row && j < sig->n_features; j++)
			if (json_object_set_new(row, sig->features[j].name, json_real(v[k * stride + j])))
				row = (json_decref(row), NULL);
		if (!row || json_object_set_new(o, sig->classes[k], row)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int nb_fit(const ml_frame *fr, const nb_opts *o, ml_model **out)
{
	const ml_signature *fsig = &fr->sig;
	size_t n = fr->n, K = fsig->n_classes, p = fsig->n_features, nt;
	fit_job fj = {.fr = fr, .o = o};
	ml_signature sig = {0};
	size_t *count = NULL;
	nb *m = NULL;
	json_t *params, *info = NULL;
	int rc;

	*out = NULL;
	if ((rc = nb_opts_check(o)))
		return rc;
	if (!ml_task_is_classifier(fsig->task))
		return sl__err(SL_EINVAL, "train.naive_bayes predicts classes; target '%s' was read "
					  "as numbers",
			       fsig->target);
	nt = sl__thread_count(o->threads);
	if (nt > p)
		nt = p ? p : 1;
	count = sl__calloc(K, sizeof *count);
	m = sl__calloc(1, sizeof *m);
	if (m)
		m->own = sl__calloc(K + 2 * K * p + p, sizeof *m->own);
	fj.scratch = sl__malloc(nt * (n ? n : 1) * sizeof *fj.scratch);
	if (!count || !m || !m->own || !fj.scratch) {
		rc = sl__oom();
		goto fail;
	}
	m->kind = o->kind;
	m->K = K;
	m->p = p;
	m->thr = o->binarize;
	m->prior = m->own;
	m->a = fj.a = m->own + K;
	m->b = fj.b = m->own + K + K * p;
	fj.fvar = m->own + K + 2 * K * p;
	for (size_t i = 0; i < n; i++)
		count[(size_t)fr->y[i]]++;
	fj.count = count;
	sl__parallel_for((unsigned)nt, p, fit_feature, &fj);
	if (o->kind == NB_MULTINOMIAL)
		for (size_t j = 0; j < p; j++)
			if (fj.a[j] < 0) {
				double x;
				size_t row = (size_t)-fj.a[j];
				ml_frame_column(fr, j, fj.scratch);
				x = fj.scratch[row - 1];
				rc = sl__err(SL_EINVAL,
					     "train.naive_bayes: feature '%s' is %g in row %zu: kind "
					     "multinomial takes counts or tf-idf weights (>= 0); for "
					     "measurements use kind: gaussian",
					     fsig->features[j].name, x, row);
				goto fail;
			}
	/* From statistics to parameters. */
	for (size_t k = 0; k < K; k++) {
		double *a = fj.a + k * p, *b = fj.b + k * p;
		m->own[k] = o->fit_prior ? log((double)count[k] / (double)n) : -log((double)K);
		if (o->kind == NB_MULTINOMIAL) {
			double tot = 0;
			for (size_t j = 0; j < p; j++)
				tot += a[j] + o->alpha;
			for (size_t j = 0; j < p; j++)
				a[j] = log(a[j] + o->alpha) - log(tot);
		} else if (o->kind == NB_BERNOULLI) {
			double den = log((double)count[k] + 2 * o->alpha);
			for (size_t j = 0; j < p; j++) {
				double c = a[j];
				a[j] = log(c + o->alpha) - den;
				b[j] = log((double)count[k] - c + o->alpha) - den;
			}
		}
	}
	if (o->kind == NB_GAUSSIAN) {
		double vmax = 0, eps;
		for (size_t j = 0; j < p; j++)
			vmax = fmax(vmax, fj.fvar[j]);
		eps = o->var_smoothing * vmax;
		for (size_t k = 0; k < K * p; k++) {
			fj.b[k] += eps;
			if (!(fj.b[k] > 0)) {
				rc = sl__err(SL_EINVAL,
					     "train.naive_bayes: feature '%s' has no spread within "
					     "class '%s' and var_smoothing is 0: set var_smoothing > 0",
					     fsig->features[k % p].name, fsig->classes[k / p]);
				goto fail;
			}
		}
	}
	if ((rc = ml_signature_copy(&sig, fsig)))
		goto fail;
	params = json_pack("{s:s, s:f, s:f, s:f, s:b}", "kind", nb_kind_name(o->kind), "alpha",
			   o->alpha, "var_smoothing", o->var_smoothing, "binarize", o->binarize,
			   "fit_prior", o->fit_prior);
	if ((rc = ml_model_new(&ml_naive_bayes_ops, &sig, params, out)))
		goto fail;
	(*out)->impl = m;
	m = NULL;
	/* What users read: priors and the per-class parameters by name. */
	info = (*out)->info;
	{
		const nb *fm = (*out)->impl;
		json_t *pri = json_object();
		for (size_t k = 0; pri && k < K; k++)
			if (json_object_set_new(pri, fsig->classes[k], json_real(exp(fm->prior[k]))))
				pri = (json_decref(pri), NULL);
		int bad = !pri || json_object_set_new(info, "class_prior", pri);
		if (!bad && o->kind == NB_GAUSSIAN)
			bad = json_object_set_new(info, "mean", per_class(fsig, fm->a, p)) ||
			      json_object_set_new(info, "variance", per_class(fsig, fm->b, p));
		else if (!bad)
			bad = json_object_set_new(info, "feature_log_prob", per_class(fsig, fm->a, p));
		if (bad) {
			ml_model_free(*out);
			*out = NULL;
			rc = sl__oom();
		}
	}
	sl__free(count);
	sl__free(fj.scratch);
	return rc;
fail:
	ml_signature_clear(&sig);
	nb_free(m);
	sl__free(count);
	sl__free(fj.scratch);
	return rc;
}
