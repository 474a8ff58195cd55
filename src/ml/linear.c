/*
 * train.linear's fits: ordinary least squares and ridge in closed form,
 * lasso and elastic net by coordinate descent. The objectives are
 * scikit-learn's, so the same alpha gives the same coefficients:
 *
 *   ols         min ||y - b - X w||^2
 *   ridge       min ||y - b - X w||^2 + alpha ||w||^2                (Ridge)
 *   lasso,      min 1/(2n) ||y - b - X w||^2 + alpha l1_ratio ||w||_1
 *   elasticnet      + alpha (1 - l1_ratio) / 2 ||w||^2          (ElasticNet)
 *
 * (lasso is elasticnet with l1_ratio 1). With standardize the penalty
 * applies to the coefficients of the standardised features instead
 * (glmnet's convention); coefficients are always reported on the original
 * scale. The intercept is never penalised.
 *
 * How:
 *  1. The design (glm.c) is standardised: z = (x - mean) / sd, so X'X
 *     becomes n times the correlation matrix, whose conditioning does not
 *     depend on the units of the features. One pass on both cores forms
 *     G = Z'Z and Z'(y - mean y) (dense.c); everything after is q x q.
 *  2. OLS and ridge solve (G + alpha P) v = Z'y by Cholesky, with P the
 *     penalty in the standardised coordinates (diag 1/sd^2 for a penalty on
 *     the original scale). Normal equations square the condition number,
 *     which the standardisation keeps in check; a column that the columns
 *     before it explain to within 1e-10 of its variance is reported as
 *     collinear, by name, rather than solved into meaningless numbers (a
 *     ridge penalty makes every such system solvable).
 *  3. Lasso and elastic net run coordinate descent on G ("covariance
 *     updates": each update costs O(q), not O(n)), in the coordinates where
 *     the penalty is the plain l1/l2 norm, so each step is sklearn's soft
 *     threshold. The stopping rule is sklearn's: the duality gap below
 *     tol * ||y - mean y||^2. A small alpha is reached along a short
 *     geometric path from the smallest alpha that zeroes every coefficient,
 *     each solution warm-starting the next (glmnet's strategy): the
 *     optimum is the same, the sweeps fewer.
 */
#include <math.h>
#include <string.h>

#include "ml/dense.h"
#include "ml/glm.h"

#define COLLINEAR_TOL 1e-10
#define MAX_DENSE_COLUMNS 8192 /* G is q^2 doubles */
#define PATH_STEPS 8

static const char *const method_names[] = {
	[LINEAR_OLS] = "ols", [LINEAR_RIDGE] = "ridge", [LINEAR_LASSO] = "lasso",
	[LINEAR_ELASTICNET] = "elasticnet",
};

bool linear_method_parse(const char *s, linear_method *out)
{
	for (size_t i = 0; i < SL__ARRAY_LEN(method_names); i++)
		if (!strcmp(s, method_names[i])) {
			*out = (linear_method)i;
			return true;
		}
	return false;
}

const char *linear_method_name(linear_method m)
{
	return (size_t)m < SL__ARRAY_LEN(method_names) ? method_names[m] : "?";
}

int linear_opts_check(const linear_opts *o)
{
	if (o->method != LINEAR_OLS && !(o->alpha >= 0 && isfinite(o->alpha)))
		return sl__err(SL_EINVAL, "alpha must be a number >= 0 (got %g); 0 is no penalty",
			       o->alpha);
	if (o->method == LINEAR_ELASTICNET && !(o->l1_ratio >= 0 && o->l1_ratio <= 1))
		return sl__err(SL_EINVAL,
			       "l1_ratio must be between 0 (ridge) and 1 (lasso), got %g",
			       o->l1_ratio);
	if (o->max_iter < 1)
		return sl__err(SL_EINVAL, "max_iter must be at least 1 (got %ld)", o->max_iter);
	if (!(o->tol > 0))
		return sl__err(SL_EINVAL, "tol must be > 0 (got %g)", o->tol);
	return 0;
}

/* The name of fit column fc, for messages (newly allocated). */
static char *fit_column_name(const ml_frame *fr, const glm_design *d, size_t fc)
{
	for (size_t c = 0; c < d->q; c++)
		if (d->fitcol[c] == (int32_t)fc)
			return glm_column_name(&fr->sig, d, c);
	return sl__strdup("?");
}

/* ---- coordinate descent on the Gram matrix ----------------------------------- */

typedef struct cd_state {
	const double *G, *zy; /* q x q Gram and Z'y in the unit-penalty coordinates */
	size_t q, n;
	double y2;            /* ||y - mean y||^2 */
	double *u, *H;        /* coefficients, and H = Z'y - G u */
	long sweeps;
	double gap;
} cd_state;

/* Duality gap of the unscaled problem
 *   0.5 ||y - Z u||^2 + l1 ||u||_1 + 0.5 l2 ||u||^2. */
static double cd_gap(const cd_state *s, double l1, double l2)
{
	double qu = 0, uGu = 0, un1 = 0, un2 = 0, dual = 0, r2, cst, gap;

	for (size_t j = 0; j < s->q; j++) {
		double u = s->u[j], xta = s->H[j] - l2 * u;
		qu += u * s->zy[j];
		uGu += u * (s->zy[j] - s->H[j]);
		un1 += fabs(u);
		un2 += u * u;
		if (fabs(xta) > dual)
			dual = fabs(xta);
	}
	r2 = s->y2 - 2 * qu + uGu;
	if (r2 < 0)
		r2 = 0;
	if (dual > l1) {
		cst = l1 / dual;
		gap = 0.5 * (r2 + r2 * cst * cst);
	} else {
		cst = 1;
		gap = r2;
	}
	return gap + l1 * un1 - cst * (s->y2 - qu) + 0.5 * l2 * (1 + cst * cst) * un2;
}

/*
 * Minimises the problem above from the current u (a warm start). Returns
 * true when the gap fell below tol_abs within max_sweeps.
 */
static bool cd_solve(cd_state *s, double l1, double l2, double tol_abs, long max_sweeps)
{
	size_t q = s->q;

	for (long it = 0; it < max_sweeps; it++) {
		double dmax = 0, umax = 0;
		s->sweeps++;
		for (size_t j = 0; j < q; j++) {
			const double *gj = s->G + j * q;
			double old = s->u[j], t, nu;
			if (gj[j] <= 0)
				continue;
			t = s->H[j] + gj[j] * old;
			nu = fabs(t) > l1 ? copysign(fabs(t) - l1, t) / (gj[j] + l2) : 0;
			if (nu != old) {
				double dl = nu - old;
				for (size_t k = 0; k < q; k++)
					s->H[k] -= gj[k] * dl;
				s->u[j] = nu;
				if (fabs(dl) > dmax)
					dmax = fabs(dl);
			}
			if (fabs(nu) > umax)
				umax = fabs(nu);
		}
		/* sklearn's rule: the gap is checked once the largest update
		 * is small against the largest coefficient. */
		if (umax == 0 || dmax / umax < tol_abs / (s->y2 > 0 ? s->y2 : 1) ||
		    it == max_sweeps - 1) {
			s->gap = cd_gap(s, l1, l2);
			if (s->gap < tol_abs)
				return true;
		}
	}
	return false;
}

const ml_ops ml_linear_ops = {
	.algorithm = "linear",
	.predict = glm_predict,
	.explain = glm_explain,
	.explain_groups = glm_explain_groups,
	.emit_c = glm_emit_c,
	.save = glm_save,
	.load = glm_load,
	.free_impl = glm_free,
};

/* ---- the fit ---------------------------------------------------------------------- */

int linear_fit(const ml_frame *fr, const linear_opts *o, ml_model **out)
{
	size_t n = fr->n, q, qf;
	bool unpenalised = o->method == LINEAR_OLS ||
			   (o->method == LINEAR_RIDGE && o->alpha == 0);
	glm_design d;
	double *Z = NULL, *yc = NULL, *G = NULL, *zy = NULL, *diag = NULL, *v = NULL;
	double *coef = NULL, *u = NULL, *H = NULL, *pen = NULL, ybar = 0, y2 = 0, icpt;
	json_t *params = NULL;
	long sweeps = 0;
	bool converged = true;
	double gap = 0;
	int rc;

	*out = NULL;
	if ((rc = linear_opts_check(o)))
		return rc;
	if (fr->sig.task != ML_REGRESSION)
		return sl__err(SL_EINVAL, "train.linear predicts numbers; target '%s' was read as "
					  "classes (use train.logistic for classes)",
			       fr->sig.target);
	if ((rc = glm_design_build(fr, unpenalised && o->fit_intercept, o->threads, &d)))
		return rc;
	q = d.q;
	qf = d.q_fit;
	if (qf > MAX_DENSE_COLUMNS) {
		rc = sl__err(SL_ELIMIT,
			     "%zu design columns (after one-hot encoding) is more than the dense "
			     "solver takes (%d): group rare categories in a wrangle step",
			     qf, MAX_DENSE_COLUMNS);
		goto out;
	}
	yc = sl__malloc((n ? n : 1) * sizeof *yc);
	G = sl__malloc((qf ? qf * qf : 1) * sizeof *G);
	zy = sl__calloc(qf ? qf : 1, sizeof *zy);
	diag = sl__malloc((qf ? qf : 1) * sizeof *diag);
	v = sl__calloc(qf ? qf : 1, sizeof *v);
	coef = sl__calloc(q ? q : 1, sizeof *coef);
	pen = sl__malloc((qf ? qf : 1) * sizeof *pen);
	if (!yc || !G || !zy || !diag || !v || !coef || !pen) {
		rc = sl__oom();
		goto out;
	}
	if (o->fit_intercept) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += fr->y[i];
		ybar = s / (double)n;
	}
	for (size_t i = 0; i < n; i++) {
		yc[i] = fr->y[i] - ybar;
		y2 += yc[i] * yc[i];
	}
	if ((rc = glm_design_matrix(fr, &d, o->fit_intercept, o->threads, &Z)) ||
	    (rc = dense_gram(Z, n, qf, NULL, yc, o->threads, G, zy)))
		goto out;
	sl__free(Z);
	Z = NULL;

	/* pen[fc]: the factor turning a standardised coefficient into the one
	 * the penalty sees (1/sd for the original scale). */
	for (size_t c = 0; c < q; c++)
		if (d.fitcol[c] >= 0)
			pen[d.fitcol[c]] = o->standardize ? 1 : 1 / d.scale[c];

	if (o->method == LINEAR_OLS || o->method == LINEAR_RIDGE) {
		double alpha = o->method == LINEAR_OLS ? 0 : o->alpha;
		long bad;
		for (size_t j = 0; j < qf; j++) {
			G[j * qf + j] += alpha * pen[j] * pen[j];
			v[j] = zy[j];
		}
		for (size_t j = 0; j < qf; j++)
			diag[j] = G[j * qf + j];
		if ((bad = dense_cholesky(G, qf, diag, COLLINEAR_TOL)) < 0) {
			char *name = fit_column_name(fr, &d, (size_t)(-1 - bad));
			rc = sl__err(SL_EINVAL,
				     "train.linear: '%s' is a linear combination of the columns "
				     "before it (collinear): the least-squares coefficients are not "
				     "unique. Leave it out (`exclude:`), or use method: ridge",
				     name ? name : "?");
			sl__free(name);
			goto out;
		}
		dense_chol_solve(G, qf, v);
	} else {
		double l1r = o->method == LINEAR_LASSO ? 1 : o->l1_ratio;
		double l1 = (double)n * o->alpha * l1r, l2 = (double)n * o->alpha * (1 - l1r);
		double tol_abs = o->tol * y2, amax = 0;
		cd_state s = {.G = G, .zy = zy, .q = qf, .n = n, .y2 = y2};
		/* Unit-penalty coordinates u = v * pen: G and Z'y scale by 1/pen. */
		for (size_t j = 0; j < qf; j++) {
			for (size_t k = 0; k < qf; k++)
				G[j * qf + k] /= pen[j] * pen[k];
			zy[j] /= pen[j];
			if (fabs(zy[j]) > amax)
				amax = fabs(zy[j]);
		}
		u = sl__calloc(qf ? qf : 1, sizeof *u);
		H = sl__malloc((qf ? qf : 1) * sizeof *H);
		if (!u || !H) {
			rc = sl__oom();
			goto out;
		}
		memcpy(H, zy, qf * sizeof *H);
		s.u = u;
		s.H = H;
		/* amax is n * alpha_max * l1_ratio: above it every coefficient is
		 * zero. Walk down to l1 geometrically, warm-starting. */
		if (l1 > 0 && amax > l1 && qf > 0) {
			double ratio = pow(l1 / amax, 1.0 / PATH_STEPS);
			double a1 = amax, a2 = l2 / l1 * amax;
			for (int k = 1; k < PATH_STEPS; k++) {
				a1 *= ratio;
				a2 *= ratio;
				cd_solve(&s, a1, a2, tol_abs, o->max_iter);
			}
		}
		s.sweeps = 0;
		converged = cd_solve(&s, l1, l2, tol_abs, o->max_iter);
		sweeps = s.sweeps;
		gap = s.gap;
		for (size_t j = 0; j < qf; j++)
			v[j] = u[j] / pen[j];
	}
	/* Back to the original scale: w = v / sd, b = mean y - w . shift. */
	icpt = ybar;
	for (size_t c = 0; c < q; c++) {
		if (d.fitcol[c] < 0)
			continue;
		coef[c] = v[d.fitcol[c]] / d.scale[c];
		if (o->fit_intercept)
			icpt -= coef[c] * d.mean[c];
	}
	params = json_pack("{s:s, s:f, s:f, s:b, s:b, s:I, s:f}", "method",
			   linear_method_name(o->method), "alpha",
			   o->method == LINEAR_OLS ? 0.0 : o->alpha, "l1_ratio",
			   o->method == LINEAR_LASSO ? 1.0 : o->l1_ratio, "fit_intercept",
			   o->fit_intercept, "standardize", o->standardize, "max_iter",
			   (json_int_t)o->max_iter, "tol", o->tol);
	if (!params) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = glm_model_new(&ml_linear_ops, fr, &d, coef, &icpt, 1, params, out)))
		goto out;
	{
		ml_model *m = *out;
		bool cd = o->method == LINEAR_LASSO || o->method == LINEAR_ELASTICNET;
		int bad = json_object_set_new(m->info, "solver",
					      json_string(cd ? "coordinate descent (covariance)"
							     : "cholesky"));
		if (cd && !bad)
			bad = json_object_set_new(m->info, "iterations", json_integer(sweeps)) ||
			      json_object_set_new(m->info, "converged", json_boolean(converged)) ||
			      json_object_set_new(m->info, "duality_gap", json_real(gap / (double)n));
		if (!bad && !converged)
			bad = glm_warn(m,
				       "coordinate descent stopped after %ld sweeps without "
				       "converging: duality gap %.3g > tol %.3g (relative to the "
				       "target's variance); raise max_iter or tol, or standardize",
				       sweeps, gap / (y2 > 0 ? y2 : 1), o->tol) != 0;
		if (bad) {
			ml_model_free(m);
			*out = NULL;
			rc = sl__oom();
		}
	}
out:
	glm_design_free(&d);
	sl__free(Z);
	sl__free(yc);
	sl__free(G);
	sl__free(zy);
	sl__free(diag);
	sl__free(v);
	sl__free(coef);
	sl__free(u);
	sl__free(H);
	sl__free(pen);
	return rc;
}
