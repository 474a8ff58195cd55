/*
 * train.logistic's fits: binary and multinomial logistic regression with an
 * L2 penalty (L-BFGS), an L1 penalty (proximal Newton with coordinate
 * descent on the quadratic model) or none. The objective is scikit-learn's
 * LogisticRegression's, so the same C gives the same coefficients:
 *
 *   min  C sum_i s_i loss_i + R(W)
 *   loss_i  binary:      log(1 + exp(m_i)) - y_i m_i,  m_i = b + w . x_i
 *           multinomial: log sum_k exp(m_ik) - m_i,y_i,  m_ik = b_k + w_k . x_i
 *   R       l2: 1/2 sum_k ||w_k||^2    l1: sum_k ||w_k||_1    none: 0
 *   s_i     1, or with class_weight balanced n / (K n_{y_i})
 *
 * Binary problems have one coefficient vector (sklearn's binary case),
 * multiclass ones a vector per class (sklearn's multinomial; the intercepts,
 * which only their differences identify, are centred to sum to zero). The
 * intercepts are not penalised (as sklearn's lbfgs and saga solvers; its
 * liblinear solver penalises the intercept, so compare L1 fits with saga).
 *
 * How:
 *  1. The design (glm.c) is standardised, and the penalty is written in the
 *     standardised coordinates (1/2 sum v^2 / sd^2 for a penalty on the
 *     original scale): the optimum is sklearn's exactly, but the problem
 *     the solver sees is well scaled, which is what L-BFGS needs to take
 *     full steps. The objective is divided by C sum_i s_i, so the gradient
 *     tolerance means the same thing for any data size.
 *  2. One pass over the rows gives the loss and its gradient; the rows are
 *     cut into chunks whose partial sums are added in chunk order
 *     (dense_chunks), so the result does not depend on the thread count.
 *  3. L2 and none: L-BFGS (10 pairs), backtracking Armijo line search,
 *     stopping when the largest gradient component falls below tol.
 *  4. L1: proximal Newton (glmnet's approach, with a line search): the
 *     loss's quadratic model with the exact Hessian Z'DZ (per class for
 *     multinomial: a block-diagonal model), minimised with the penalty by
 *     coordinate descent in q dimensions, then a step along the result
 *     that decreases the true objective. Stops when the optimality
 *     violation (the minimum-norm subgradient) falls below tol.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ml/dense.h"
#include "ml/glm.h"
#include "pool.h"

#define LBFGS_M 10

const ml_ops ml_logistic_ops = {
	.algorithm = "logistic",
	.predict = glm_predict,
	.explain = glm_explain,
	.explain_groups = glm_explain_groups,
	.emit_c = glm_emit_c,
	.save = glm_save,
	.load = glm_load,
	.free_impl = glm_free,
};

static const char *const penalty_names[] = {
	[LOGISTIC_L2] = "l2", [LOGISTIC_L1] = "l1", [LOGISTIC_NONE] = "none",
};

bool logistic_penalty_parse(const char *s, logistic_penalty *out)
{
	for (size_t i = 0; i < SL__ARRAY_LEN(penalty_names); i++)
		if (!strcmp(s, penalty_names[i])) {
			*out = (logistic_penalty)i;
			return true;
		}
	return false;
}

const char *logistic_penalty_name(logistic_penalty p)
{
	return (size_t)p < SL__ARRAY_LEN(penalty_names) ? penalty_names[p] : "?";
}

int logistic_opts_check(const logistic_opts *o)
{
	if (o->penalty != LOGISTIC_NONE && !(o->C > 0 && isfinite(o->C)))
		return sl__err(SL_EINVAL,
			       "C must be a number > 0 (got %g): it is the inverse of the "
			       "penalty's strength; for no penalty use penalty: none",
			       o->C);
	if (o->max_iter < 1)
		return sl__err(SL_EINVAL, "max_iter must be at least 1 (got %ld)", o->max_iter);
	if (!(o->tol > 0))
		return sl__err(SL_EINVAL, "tol must be > 0 (got %g)", o->tol);
	return 0;
}

/* ---- L-BFGS ---------------------------------------------------------------------- */

static double inf_norm(const double *v, size_t n)
{
	double m = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs(v[i]) > m)
			m = fabs(v[i]);
	return m;
}

int glm_lbfgs(glm_fg_fn fg, void *ctx, double *x, size_t dim, long max_iter, double gtol,
	      long *out_iter, bool *out_converged, double *out_f)
{
	double *buf = sl__malloc((4 + 2 * LBFGS_M) * (dim ? dim : 1) * sizeof(double));
	double *g, *d, *xn, *gn, *S, *Y, rho[LBFGS_M], al[LBFGS_M], f;
	size_t head = 0, used = 0;
	bool conv = false;
	long it = 0;

	if (!buf)
		return sl__oom();
	g = buf;
	d = g + dim;
	xn = d + dim;
	gn = xn + dim;
	S = gn + dim;
	Y = S + LBFGS_M * dim;
	f = fg(ctx, x, g);
	conv = inf_norm(g, dim) <= gtol;
	while (!conv && it < max_iter && isfinite(f)) {
		double dg = 0, t = 1, fn = f, gamma = 1;
		size_t k;
		it++;
		/* Two-loop recursion: d = -H g from the last `used` pairs. */
		memcpy(d, g, dim * sizeof *d);
		for (size_t c = 0; c < used; c++) {
			k = (head + LBFGS_M - 1 - c) % LBFGS_M;
			al[k] = rho[k] * dense_dot(S + k * dim, d, dim);
			for (size_t i = 0; i < dim; i++)
				d[i] -= al[k] * Y[k * dim + i];
		}
		if (used) {
			k = (head + LBFGS_M - 1) % LBFGS_M;
			gamma = 1 / (rho[k] * dense_dot(Y + k * dim, Y + k * dim, dim));
		} else {
			/* No curvature yet: a first step of unit length. */
			double gn2 = sqrt(dense_dot(g, g, dim));
			gamma = gn2 > 0 ? 1 / gn2 : 1;
		}
		for (size_t i = 0; i < dim; i++)
			d[i] *= gamma;
		for (size_t c = used; c-- > 0;) {
			k = (head + LBFGS_M - 1 - c) % LBFGS_M;
			double beta = rho[k] * dense_dot(Y + k * dim, d, dim);
			for (size_t i = 0; i < dim; i++)
				d[i] += S[k * dim + i] * (al[k] - beta);
		}
		for (size_t i = 0; i < dim; i++)
			d[i] = -d[i];
		dg = dense_dot(d, g, dim);
		if (!(dg < 0)) {
			/* Not a descent direction (curvature information gone
			 * stale): restart from steepest descent. */
			used = 0;
			double gn2 = sqrt(dense_dot(g, g, dim));
			for (size_t i = 0; i < dim; i++)
				d[i] = -g[i] / (gn2 > 0 ? gn2 : 1);
			dg = dense_dot(d, g, dim);
		}
		/* Backtracking with a safeguarded quadratic step. */
		int ls;
		for (ls = 0; ls < 40; ls++) {
			for (size_t i = 0; i < dim; i++)
				xn[i] = x[i] + t * d[i];
			fn = fg(ctx, xn, gn);
			if (isfinite(fn) && fn <= f + 1e-4 * t * dg)
				break;
			/* Near the optimum the decrease drowns in the rounding of
			 * f; a step that keeps f within it and shrinks the
			 * gradient is progress all the same. */
			if (isfinite(fn) && fn <= f + 8 * DBL_EPSILON * fabs(f) &&
			    inf_norm(gn, dim) < inf_norm(g, dim))
				break;
			double tq = isfinite(fn) ? -dg * t * t / (2 * (fn - f - t * dg)) : 0.1 * t;
			t = tq < 0.1 * t ? 0.1 * t : tq > 0.5 * t ? 0.5 * t : tq;
		}
		if (ls == 40)
			break; /* no decrease along d: at the limit of precision */
		for (size_t i = 0; i < dim; i++) {
			S[head * dim + i] = xn[i] - x[i];
			Y[head * dim + i] = gn[i] - g[i];
		}
		double sy = dense_dot(S + head * dim, Y + head * dim, dim);
		if (sy > DBL_EPSILON * dense_dot(Y + head * dim, Y + head * dim, dim)) {
			rho[head] = 1 / sy;
			head = (head + 1) % LBFGS_M;
			if (used < LBFGS_M)
				used++;
		}
		memcpy(x, xn, dim * sizeof *x);
		memcpy(g, gn, dim * sizeof *g);
		f = fn;
		conv = inf_norm(g, dim) <= gtol;
	}
	sl__free(buf);
	*out_iter = it;
	*out_converged = conv;
	*out_f = f;
	return 0;
}

/* ---- the loss over the rows ---------------------------------------------------------- */

typedef struct lr_problem {
	const double *Z;   /* n x qf, standardised */
	const double *y;   /* class index per row */
	const double *sw;  /* row weights */
	size_t n, qf, G;   /* G: coefficient groups (1 binary, K multinomial) */
	size_t dim;        /* G * (qf + 1): per group the intercept, then qf */
	bool intercept;
	double norm;       /* 1 / (C sum_i s_i) ... the objective's scale */
	double l2;         /* l2 penalty factor (1/C for l2, 0 otherwise) */
	const double *pen; /* qf: sd factor of the penalty (1/sd, or 1) */
	unsigned threads;
	size_t chunk, nchunks;
	double *parts;     /* nchunks x (1 + dim) */
	double *margins;   /* nchunks x G: a chunk's scratch for one row's margins */
	double *P;         /* n x G probabilities of the last evaluation, or NULL */
	const double *theta;
	long evals;
} lr_problem;

static void lr_chunk(void *ctx, size_t c, unsigned worker)
{
	lr_problem *pb = ctx;
	size_t lo = c * pb->chunk, hi = lo + pb->chunk, qf = pb->qf, G = pb->G, st = qf + 1;
	double *part = pb->parts + c * (1 + pb->dim), *gr = part + 1, loss = 0;
	const double *th = pb->theta;
	double *mv = pb->margins + c * G;

	(void)worker;
	if (hi > pb->n)
		hi = pb->n;
	memset(part, 0, (1 + pb->dim) * sizeof *part);
	for (size_t i = lo; i < hi; i++) {
		const double *z = pb->Z + i * qf;
		double w = pb->sw[i];
		size_t yi = (size_t)pb->y[i];
		if (G == 1) {
			double t = th[0] + dense_dot(th + 1, z, qf), yv = (double)yi;
			/* One exp serves the loss and the probability:
			 * log(1 + e^t) = max(t, 0) + log1p(e^-|t|). */
			double e = exp(-fabs(t)), p = t >= 0 ? 1 / (1 + e) : e / (1 + e);
			loss += w * (fmax(t, 0) + log1p(e) - yv * t);
			double r = w * (p - yv);
			gr[0] += r;
			dense_axpy(r, z, gr + 1, qf);
			if (pb->P)
				pb->P[i] = p;
			continue;
		}
		double mx = -INFINITY, se = 0;
		for (size_t k = 0; k < G; k++) {
			double t = th[k * st] + dense_dot(th + k * st + 1, z, qf);
			mv[k] = t;
			if (t > mx)
				mx = t;
		}
		for (size_t k = 0; k < G; k++)
			se += exp(mv[k] - mx);
		/* se >= 1: the largest margin contributes exp(0) (G >= 3 here). */
		// cppcheck-suppress invalidFunctionArg
		double lse = mx + log(se);
		loss += w * (lse - mv[yi]);
		for (size_t k = 0; k < G; k++) {
			double p = exp(mv[k] - lse), r = w * (p - (k == yi ? 1.0 : 0.0));
			double *g = gr + k * st;
			g[0] += r;
			dense_axpy(r, z, g + 1, qf);
			if (pb->P)
				pb->P[i * G + k] = p;
		}
	}
	part[0] = loss;
}

/* The normalised smooth objective (loss + l2 term) at theta and its gradient. */
static double lr_eval(void *ctx, const double *theta, double *grad)
{
	lr_problem *pb = ctx;
	size_t dim = pb->dim, st = pb->qf + 1;
	double f;

	pb->theta = theta;
	pb->evals++;
	sl__parallel_for(pb->threads, pb->nchunks, lr_chunk, pb);
	f = 0;
	memset(grad, 0, dim * sizeof *grad);
	for (size_t c = 0; c < pb->nchunks; c++) {
		const double *part = pb->parts + c * (1 + dim);
		f += part[0];
		for (size_t i = 0; i < dim; i++)
			grad[i] += part[1 + i];
	}
	for (size_t k = 0; k < pb->G; k++) {
		if (!pb->intercept)
			grad[k * st] = 0;
		for (size_t j = 0; j < pb->qf; j++) {
			double v = theta[k * st + 1 + j], a = pb->pen[j] * pb->pen[j] * pb->l2;
			f += 0.5 * a * v * v;
			grad[k * st + 1 + j] += a * v;
		}
	}
	for (size_t i = 0; i < dim; i++)
		grad[i] *= pb->norm;
	return f * pb->norm;
}

/* ---- L1: proximal Newton ------------------------------------------------------------ */

static double l1_term(const lr_problem *pb, const double *theta, double lam)
{
	size_t st = pb->qf + 1;
	double s = 0;

	for (size_t k = 0; k < pb->G; k++)
		for (size_t j = 0; j < pb->qf; j++)
			s += pb->pen[j] * fabs(theta[k * st + 1 + j]);
	return lam * s;
}

/* The largest optimality violation: the minimum-norm subgradient. */
static double l1_violation(const lr_problem *pb, const double *theta, const double *g,
			   double lam)
{
	size_t st = pb->qf + 1;
	double m = 0;

	for (size_t k = 0; k < pb->G; k++) {
		m = fmax(m, fabs(g[k * st]));
		for (size_t j = 0; j < pb->qf; j++) {
			double v = theta[k * st + 1 + j], gj = g[k * st + 1 + j];
			double a = lam * pb->pen[j];
			m = fmax(m, v != 0 ? fabs(gj + copysign(a, v)) : fmax(fabs(gj) - a, 0));
		}
	}
	return m;
}

/*
 * Coordinate descent on the quadratic model of group k:
 *   min_d g'd + 1/2 d'Hd + lam sum_j pen_j |v_j + d_j|
 * over (intercept, v) of the group; H is (qf+1)^2 with the intercept first.
 */
static void l1_subproblem(const lr_problem *pb, const double *H, const double *g,
			  const double *v, double lam, double *dlt, double *Hd)
{
	size_t D = pb->qf + 1;

	memset(dlt, 0, D * sizeof *dlt);
	memset(Hd, 0, D * sizeof *Hd);
	for (int sweep = 0; sweep < 200; sweep++) {
		double dmax = 0, vmax = 0;
		for (size_t j = 0; j < D; j++) {
			double hjj = H[j * D + j], old = dlt[j], nw;
			if (j == 0 && !pb->intercept)
				continue;
			if (hjj <= 0)
				continue;
			/* Minimise over d_j with the others fixed. */
			double gj = g[j] + Hd[j] - hjj * old;
			if (j == 0) {
				nw = -gj / hjj;
			} else {
				double a = lam * pb->pen[j - 1], cur = v[j - 1];
				double t = hjj * cur - gj; /* unpenalised optimum of v+d, times hjj */
				double vn = fabs(t) > a ? copysign(fabs(t) - a, t) / hjj : 0;
				nw = vn - cur;
				vmax = fmax(vmax, fabs(vn));
			}
			if (nw != old) {
				double dl = nw - old;
				for (size_t i = 0; i < D; i++)
					Hd[i] += H[i * D + j] * dl;
				dlt[j] = nw;
				dmax = fmax(dmax, fabs(dl));
			}
		}
		if (dmax <= 1e-10 * fmax(vmax, 1))
			break;
	}
}

static int fit_l1(lr_problem *pb, double *theta, double lam, long max_iter, double tol,
		  long *out_iter, bool *out_conv)
{
	size_t dim = pb->dim, qf = pb->qf, D = qf + 1, n = pb->n, st = D;
	double *g = sl__malloc(dim * sizeof *g), *tn = sl__malloc(dim * sizeof *tn);
	double *gn = sl__malloc(dim * sizeof *gn), *H = sl__malloc(D * D * sizeof *H);
	double *Hvv = sl__malloc((qf ? qf * qf : 1) * sizeof *Hvv);
	double *h0 = sl__malloc((qf ? qf : 1) * sizeof *h0), *dlt = sl__malloc(D * sizeof *dlt);
	double *Hd = sl__malloc(D * sizeof *Hd), *hw = sl__malloc((n ? n : 1) * sizeof *hw);
	double *ones = sl__malloc((n ? n : 1) * sizeof *ones);
	double *P = sl__malloc((n ? n : 1) * pb->G * sizeof *P), f;
	bool conv = false;
	long it = 0;
	int rc = 0;

	if (!g || !tn || !gn || !H || !Hvv || !h0 || !dlt || !Hd || !hw || !ones || !P) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ones[i] = 1;
	pb->P = P;
	f = lr_eval(pb, theta, g) + l1_term(pb, theta, lam);
	conv = l1_violation(pb, theta, g, lam) <= tol;
	while (!conv && it < max_iter) {
		it++;
		for (size_t k = 0; k < pb->G && rc == 0; k++) {
			/* The Hessian of group k's block: Z' diag(s p (1-p)) Z
			 * bordered by the intercept's row, scaled as the objective. */
			double h00 = 0;
			for (size_t i = 0; i < n; i++) {
				double p = P[i * pb->G + k];
				hw[i] = pb->sw[i] * p * (1 - p) * pb->norm;
				h00 += hw[i];
			}
			if ((rc = dense_gram(pb->Z, n, qf, hw, ones, pb->threads, Hvv, h0)))
				break;
			H[0] = h00;
			for (size_t j = 0; j < qf; j++) {
				H[1 + j] = H[(1 + j) * D] = h0[j];
				memcpy(H + (1 + j) * D + 1, Hvv + j * qf, qf * sizeof *H);
			}
			l1_subproblem(pb, H, g + k * st, theta + k * st + 1, lam, dlt, Hd);
			/* Line search on the true objective along the step
			 * (Tseng and Yun's sufficient decrease). */
			double pen_old = 0, pen_new = 0, gd = 0;
			for (size_t j = 0; j < D; j++)
				gd += g[k * st + j] * dlt[j];
			for (size_t j = 0; j < qf; j++) {
				pen_old += pb->pen[j] * fabs(theta[k * st + 1 + j]);
				pen_new += pb->pen[j] * fabs(theta[k * st + 1 + j] + dlt[1 + j]);
			}
			double delta = gd + lam * (pen_new - pen_old), t = 1, fn = f;
			int ls;
			for (ls = 0; ls < 30; ls++) {
				memcpy(tn, theta, dim * sizeof *tn);
				for (size_t j = 0; j < D; j++)
					tn[k * st + j] += t * dlt[j];
				fn = lr_eval(pb, tn, gn) + l1_term(pb, tn, lam);
				if (fn <= f + 1e-4 * t * delta || !(delta < 0))
					break;
				t *= 0.5;
			}
			if (ls == 30 || !(fn <= f)) {
				/* No decrease: at the limit of precision. Restore
				 * P and g for the current theta. */
				f = lr_eval(pb, theta, g) + l1_term(pb, theta, lam);
				continue;
			}
			memcpy(theta, tn, dim * sizeof *theta);
			memcpy(g, gn, dim * sizeof *g);
			f = fn;
		}
		if (rc)
			break;
		conv = l1_violation(pb, theta, g, lam) <= tol;
	}
out:
	pb->P = NULL;
	sl__free(g);
	sl__free(tn);
	sl__free(gn);
	sl__free(H);
	sl__free(Hvv);
	sl__free(h0);
	sl__free(dlt);
	sl__free(Hd);
	sl__free(hw);
	sl__free(ones);
	sl__free(P);
	*out_iter = it;
	*out_conv = conv;
	return rc;
}

/* ---- the fit ------------------------------------------------------------------------ */

int logistic_fit(const ml_frame *fr, const logistic_opts *o, ml_model **out)
{
	size_t n = fr->n, K = fr->sig.n_classes, G, q, qf, st, dim;
	glm_design d;
	lr_problem pb = {0};
	double *Z = NULL, *sw = NULL, *theta = NULL, *pen = NULL, *coef = NULL, *icpt = NULL;
	double *gbuf = NULL, wsum = 0, fval = 0, viol = 0;
	size_t *count = NULL;
	json_t *params;
	long iters = 0;
	bool conv = false;
	int rc;

	*out = NULL;
	if ((rc = logistic_opts_check(o)))
		return rc;
	if (!ml_task_is_classifier(fr->sig.task))
		return sl__err(SL_EINVAL, "train.logistic predicts classes; target '%s' was read as "
					  "numbers (use train.linear for numbers)",
			       fr->sig.target);
	G = fr->sig.task == ML_BINARY ? 1 : K;
	if ((rc = glm_design_build(fr, o->penalty == LOGISTIC_NONE && o->fit_intercept && G == 1,
				   o->threads, &d)))
		return rc;
	q = d.q;
	qf = d.q_fit;
	st = qf + 1;
	dim = G * st;
	sw = sl__malloc((n ? n : 1) * sizeof *sw);
	count = sl__calloc(K, sizeof *count);
	theta = sl__calloc(dim, sizeof *theta);
	pen = sl__malloc((qf ? qf : 1) * sizeof *pen);
	coef = sl__calloc((q ? q : 1) * G, sizeof *coef);
	icpt = sl__calloc(G, sizeof *icpt);
	gbuf = sl__malloc(dim * sizeof *gbuf);
	if (!sw || !count || !theta || !pen || !coef || !icpt || !gbuf) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		count[(size_t)fr->y[i]]++;
	for (size_t i = 0; i < n; i++) {
		size_t c = (size_t)fr->y[i];
		sw[i] = o->balanced ? (double)n / ((double)K * (double)count[c]) : 1;
		wsum += sw[i];
	}
	for (size_t c = 0; c < q; c++)
		if (d.fitcol[c] >= 0)
			pen[d.fitcol[c]] = o->standardize ? 1 : 1 / d.scale[c];
	if ((rc = glm_design_matrix(fr, &d, o->fit_intercept, o->threads, &Z)))
		goto out;
	pb.Z = Z;
	pb.y = fr->y;
	pb.sw = sw;
	pb.n = n;
	pb.qf = qf;
	pb.G = G;
	pb.dim = dim;
	pb.intercept = o->fit_intercept;
	pb.pen = pen;
	pb.threads = o->threads;
	pb.l2 = o->penalty == LOGISTIC_L2 ? 1 / o->C : 0;
	pb.norm = 1 / wsum;
	dense_chunks(n, &pb.chunk, &pb.nchunks);
	pb.parts = sl__malloc(pb.nchunks * (1 + dim) * sizeof *pb.parts);
	pb.margins = sl__malloc(pb.nchunks * G * sizeof *pb.margins);
	if (!pb.parts || !pb.margins) {
		rc = sl__oom();
		goto out;
	}
	if (o->penalty == LOGISTIC_L1) {
		double lam = 1 / (o->C * wsum);
		if ((rc = fit_l1(&pb, theta, lam, o->max_iter, o->tol, &iters, &conv)))
			goto out;
		fval = lr_eval(&pb, theta, gbuf) + l1_term(&pb, theta, lam);
		viol = l1_violation(&pb, theta, gbuf, lam);
	} else {
		if ((rc = glm_lbfgs(lr_eval, &pb, theta, dim, o->max_iter, o->tol, &iters, &conv,
				    &fval)))
			goto out;
		lr_eval(&pb, theta, gbuf);
		viol = inf_norm(gbuf, dim);
	}
	/* Without a penalty only differences between the multinomial
	 * coefficient vectors are identified: centre them. */
	if (G > 1 && o->penalty == LOGISTIC_NONE) {
		for (size_t j = 1; j < st; j++) {
			double mean = 0;
			for (size_t k = 0; k < G; k++)
				mean += theta[k * st + j];
			mean /= (double)G;
			for (size_t k = 0; k < G; k++)
				theta[k * st + j] -= mean;
		}
	}
	for (size_t k = 0; k < G; k++) {
		icpt[k] = theta[k * st];
		for (size_t c = 0; c < q; c++) {
			if (d.fitcol[c] < 0)
				continue;
			double w = theta[k * st + 1 + (size_t)d.fitcol[c]] / d.scale[c];
			coef[k * q + c] = w;
			if (o->fit_intercept)
				icpt[k] -= w * d.mean[c];
		}
	}
	/* Likewise the multinomial intercepts, on the original scale (as
	 * sklearn's solvers leave them, summing to zero). */
	if (G > 1) {
		double mean = 0;
		for (size_t k = 0; k < G; k++)
			mean += icpt[k] / (double)G;
		for (size_t k = 0; k < G; k++)
			icpt[k] -= mean;
	}
	params = json_pack("{s:s, s:f, s:s?, s:b, s:b, s:I, s:f}", "penalty",
			   logistic_penalty_name(o->penalty), "C", o->C, "class_weight",
			   o->balanced ? "balanced" : NULL, "fit_intercept", o->fit_intercept,
			   "standardize", o->standardize, "max_iter", (json_int_t)o->max_iter, "tol",
			   o->tol);
	if (!params) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = glm_model_new(&ml_logistic_ops, fr, &d, coef, icpt, G, params, out)))
		goto out;
	{
		ml_model *m = *out;
		int bad = json_object_set_new(m->info, "solver",
					      json_string(o->penalty == LOGISTIC_L1
								  ? "proximal newton"
								  : "lbfgs")) ||
			  json_object_set_new(m->info, "iterations", json_integer(iters)) ||
			  json_object_set_new(m->info, "evaluations", json_integer(pb.evals)) ||
			  json_object_set_new(m->info, "converged", json_boolean(conv)) ||
			  json_object_set_new(m->info, "objective", json_real(fval)) ||
			  json_object_set_new(m->info, "gradient_max", json_real(viol));
		if (!bad && !conv)
			bad = glm_warn(m,
				       "the %s solver stopped after %ld iterations without "
				       "converging: largest gradient %.3g > tol %.3g%s; raise "
				       "max_iter or tol",
				       o->penalty == LOGISTIC_L1 ? "proximal Newton" : "L-BFGS", iters,
				       viol, o->tol,
				       o->penalty == LOGISTIC_NONE
					       ? " (without a penalty, classes that a line separates "
						 "drive the coefficients to infinity: use penalty: l2)"
					       : "") != 0;
		if (bad) {
			ml_model_free(m);
			*out = NULL;
			rc = sl__oom();
		}
	}
out:
	glm_design_free(&d);
	sl__free(Z);
	sl__free(sw);
	sl__free(count);
	sl__free(theta);
	sl__free(pen);
	sl__free(coef);
	sl__free(icpt);
	sl__free(gbuf);
	sl__free(pb.parts);
	sl__free(pb.margins);
	return rc;
}
