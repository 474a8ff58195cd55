/*
 * Two parts of the report that re-score the model on variants of the test
 * rows (eval.h):
 *
 * Fairness: the rows grouped by each `sensitive` column, every group
 * scored by ev_scores_of under the same decision rule, and the gaps
 * between groups as Fairlearn defines them:
 *   demographic_parity_difference  max - min selection rate (share decided
 *                                  positive)
 *   demographic_parity_ratio       min / max selection rate
 *   equal_opportunity_difference   max - min true positive rate
 *   equalized_odds_difference      the larger of the TPR and the FPR gaps
 *   metric_difference              max - min of the main metric
 * Groups where a rate is undefined (no actual positives: no TPR) are left
 * out of that gap. The top level holds the worst gap over all columns.
 *
 * Permutation importance: how much the main metric drops when one
 * feature's values are shuffled among the rows (Breiman 2001; as
 * scikit-learn's permutation_importance), `repeats` times per feature.
 * The feature x repeat tasks run on the pool; task t shuffles with
 * sl__rng_stream(seed, t), so the numbers do not depend on the threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/eval_int.h"
#include "pool.h"
#include "rng.h"

#define MAX_GROUPS 100
#define SMALL_GROUP 30
#define IMPORTANCE_MAX_ROWS 20000

/* ---- fairness ---------------------------------------------------------------------- */

typedef struct keyed {
	uint64_t key;
	size_t row;
} keyed;

static int by_key(const void *a, const void *b)
{
	const keyed *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

/* An order-preserving key of a value; nulls and NaN get the largest. */
static uint64_t key_of(const ds_table *t, size_t j, size_t i)
{
	uint64_t u;
	double d;

	if (!ds_valid(ds_col_validity(t, j), i))
		return UINT64_MAX;
	switch (ds_col_type(t, j)) {
	case DS_BOOL:
		return ds_col_bool(t, j)[i];
	case DS_STRING:
		return ds_col_codes(t, j)[i];
	case DS_INT64:
	case DS_TIMESTAMP:
		return (uint64_t)ds_col_i64(t, j)[i] ^ (1ull << 63);
	case DS_FLOAT64:
		d = ds_col_f64(t, j)[i];
		if (isnan(d))
			return UINT64_MAX;
		memcpy(&u, &d, sizeof u);
		return u >> 63 ? ~u : u | (1ull << 63);
	}
	return 0;
}

typedef struct group {
	char *label; /* owned */
	size_t *rows, n; /* rows point into groups.rows */
} group;

typedef struct groups {
	group *g;
	size_t n;
	size_t *rows; /* every row, grouped */
} groups;

static void groups_free(groups *gs)
{
	for (size_t a = 0; gs->g && a < gs->n; a++)
		sl__free(gs->g[a].label);
	sl__free(gs->g);
	sl__free(gs->rows);
	memset(gs, 0, sizeof *gs);
}

static int by_label(const void *a, const void *b)
{
	return strcmp(((const group *)a)->label, ((const group *)b)->label);
}

/* The groups of column j: rows with equal values, ordered by their text
 * (not by storage, so the report does not depend on dictionary order). */
static int make_groups(const ev_ctx *e, size_t j, const char *col, groups *gs)
{
	size_t n = e->n, ng = 0;
	keyed *k = sl__malloc(n * sizeof *k);
	char buf[DS_TS_BUF + DS_F64_BUF];
	int rc = 0;

	memset(gs, 0, sizeof *gs);
	if (!k)
		return sl__oom();
	for (size_t i = 0; i < n; i++) {
		k[i].key = key_of(e->t, j, i);
		k[i].row = i;
	}
	qsort(k, n, sizeof *k, by_key);
	for (size_t i = 0; i < n; i++)
		ng += i == 0 || k[i].key != k[i - 1].key;
	if (ng > MAX_GROUPS) {
		sl__free(k);
		return sl__err(SL_EINVAL,
			       "sensitive: column '%s' has %zu distinct values; fairness compares a "
			       "few groups (at most %d): bin it in a wrangle step first",
			       col, ng, MAX_GROUPS);
	}
	gs->g = sl__calloc(ng, sizeof *gs->g);
	gs->rows = sl__malloc(n * sizeof *gs->rows);
	if (!gs->g || !gs->rows) {
		rc = sl__oom();
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		gs->rows[i] = k[i].row;
		if (i == 0 || k[i].key != k[i - 1].key) {
			group *gr = &gs->g[gs->n++];
			const char *text = k[i].key == UINT64_MAX ? NULL
								   : ev_cell_text(e->t, j, k[i].row, buf);
			gr->rows = gs->rows + i;
			if (!(gr->label = sl__strdup(text ? text : "(missing)"))) {
				rc = sl__oom();
				goto out;
			}
		}
		gs->g[gs->n - 1].n++;
	}
	qsort(gs->g, gs->n, sizeof *gs->g, by_label);
out:
	sl__free(k);
	if (rc)
		groups_free(gs);
	return rc;
}

/* A gap over the groups where v is defined: max - min (or min / max). */
typedef struct gap {
	double lo, hi;
	size_t n;
} gap;

static void gap_add(gap *g, double v)
{
	if (!isfinite(v))
		return;
	if (g->n == 0 || v < g->lo)
		g->lo = v;
	if (g->n == 0 || v > g->hi)
		g->hi = v;
	g->n++;
}

static double gap_diff(const gap *g)
{
	return g->n >= 2 ? g->hi - g->lo : NAN;
}

static double gap_ratio(const gap *g)
{
	return g->n >= 2 && g->hi > 0 ? g->lo / g->hi : NAN;
}

static double max_defined(double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	return a > b ? a : b;
}

enum { G_DP_DIFF, G_DP_RATIO, G_EO_DIFF, G_EODDS_DIFF, G_METRIC_DIFF, G_N };

static const char *const gap_names[G_N] = {
	"demographic_parity_difference", "demographic_parity_ratio",
	"equal_opportunity_difference", "equalized_odds_difference", "metric_difference",
};

/* Scores one group: its rows' truths and predictions gathered, then ev_scores_of. */
static int score_group(const ev_ctx *e, const group *gr, double *y, double *P, ev_scores *s)
{
	for (size_t r = 0; r < gr->n; r++) {
		size_t i = gr->rows[r];
		if (e->y)
			y[r] = e->y[i];
		memcpy(P + r * e->k, e->P + i * e->k, e->k * sizeof *P);
	}
	return ev_scores_of(e, e->y ? y : NULL, P, gr->n, s);
}

static int fair_column(ev_ctx *e, const char *col, double worst[G_N], json_t *columns)
{
	bool rates = e->task == ML_BINARY || e->task == ML_ANOMALY;
	const char *mname = e->main_set ? ev_metrics[e->main].name : NULL;
	gap sr = {0}, tpr = {0}, fpr = {0}, met = {0};
	double *y = sl__malloc(e->n * sizeof *y), *P = sl__malloc(e->n * e->k * sizeof *P);
	double g[G_N];
	json_t *arr = json_array(), *co = NULL;
	groups gs = {0};
	size_t j, small = 0;
	int rc = 0;

	if (!y || !P || !arr) {
		rc = sl__oom();
		goto out;
	}
	if (ds_col_find(e->t, col, &j) != 0) {
		rc = sl__err(SL_EINVAL, "sensitive: column '%s' is not in the test data: keep it in "
					"the test split (it need not be a model input)",
			     col);
		goto out;
	}
	if ((rc = make_groups(e, j, col, &gs)))
		goto out;
	for (size_t a = 0; !rc && a < gs.n; a++) {
		const group *gr = &gs.g[a];
		ev_scores s;
		json_t *go;
		double selection;
		if ((rc = score_group(e, gr, y, P, &s)))
			break;
		selection = isfinite(s.v[EV_SELECTION_RATE]) ? s.v[EV_SELECTION_RATE]
							     : s.v[EV_ANOMALY_RATE];
		small += gr->n < SMALL_GROUP;
		go = json_pack("{s:s, s:I}", "group", gr->label, "count", (json_int_t)gr->n);
		if (go && rates)
			rc = json_object_set_new(go, "selection_rate", ev_num(selection)) ||
					     json_object_set_new(go, "tpr", ev_num(s.v[EV_TPR])) ||
					     json_object_set_new(go, "fpr", ev_num(s.v[EV_FPR]))
				     ? sl__oom()
				     : 0;
		if (go && !rc && mname)
			rc = json_object_set_new(go, mname, ev_num(s.v[e->main])) ? sl__oom() : 0;
		if (!go || json_array_append_new(arr, go))
			rc = sl__oom();
		gap_add(&sr, selection);
		gap_add(&tpr, s.v[EV_TPR]);
		gap_add(&fpr, s.v[EV_FPR]);
		if (mname)
			gap_add(&met, s.v[e->main]);
	}
	if (rc)
		goto out;
	g[G_DP_DIFF] = rates ? gap_diff(&sr) : NAN;
	g[G_DP_RATIO] = rates ? gap_ratio(&sr) : NAN;
	g[G_EO_DIFF] = gap_diff(&tpr);
	g[G_EODDS_DIFF] = max_defined(gap_diff(&tpr), gap_diff(&fpr));
	g[G_METRIC_DIFF] = gap_diff(&met);
	co = json_pack("{s:s, s:O}", "column", col, "groups", arr);
	for (int k = 0; co && !rc && k < G_N; k++) {
		if (!rates && k != G_METRIC_DIFF)
			continue;
		if (json_object_set_new(co, gap_names[k], ev_num(g[k])))
			rc = sl__oom();
		if (isnan(g[k]))
			continue;
		/* Worst: the largest difference, the smallest ratio. */
		if (isnan(worst[k]) || (k == G_DP_RATIO ? g[k] < worst[k] : g[k] > worst[k]))
			worst[k] = g[k];
	}
	if (!co || json_array_append_new(columns, co))
		rc = sl__oom();
	if (!rc && small)
		rc = ev_note(e, "sensitive '%s': %zu group(s) have fewer than %d rows, so their "
				"rates are noisy",
			     col, small, SMALL_GROUP);
out:
	json_decref(arr);
	groups_free(&gs);
	sl__free(y);
	sl__free(P);
	return rc;
}

int ev_fairness_section(ev_ctx *e, json_t **out)
{
	bool rates = e->task == ML_BINARY || e->task == ML_ANOMALY;
	double worst[G_N];
	json_t *f = json_object(), *columns = json_array();
	int rc = 0;

	*out = NULL;
	for (int k = 0; k < G_N; k++)
		worst[k] = NAN;
	if (!f || !columns)
		rc = sl__oom();
	for (size_t c = 0; !rc && c < e->o->n_sensitive; c++)
		rc = fair_column(e, e->o->sensitive[c], worst, columns);
	if (!rc && e->main_set &&
	    json_object_set_new(f, "metric", json_string(ev_metrics[e->main].name)))
		rc = sl__oom();
	for (int k = 0; !rc && k < G_N; k++)
		if ((rates || k == G_METRIC_DIFF) && json_object_set_new(f, gap_names[k], ev_num(worst[k])))
			rc = sl__oom();
	if (!rc && json_object_set(f, "columns", columns))
		rc = sl__oom();
	json_decref(columns);
	if (rc) {
		json_decref(f);
		return rc;
	}
	*out = f;
	return 0;
}

/* ---- permutation importance ----------------------------------------------------------- */

typedef struct imp_job {
	const ev_ctx *e;
	const double *X, *y; /* the rows scored: n x p, n */
	size_t n, p, repeats;
	double base;         /* the main metric on the intact rows */
	double *Xw, *Pw;     /* per worker: a working copy of X, predictions */
	size_t *perm;        /* per worker: n */
	double *drop;        /* per task: p x repeats */
	int rc;
} imp_job;

static void permute_one(void *ctx, size_t t, unsigned worker)
{
	imp_job *job = ctx;
	const ev_ctx *e = job->e;
	size_t n = job->n, p = job->p, j = t / job->repeats;
	double *X = job->Xw + (size_t)worker * n * p, *P = job->Pw + (size_t)worker * n * e->k;
	size_t *perm = job->perm + (size_t)worker * n;
	ev_scores s;
	sl__rng r;
	int rc;

	sl__rng_stream(&r, e->o->seed, t);
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	sl__rng_shuffle(&r, perm, n);
	for (size_t i = 0; i < n; i++)
		X[i * p + j] = job->X[perm[i] * p + j];
	rc = ml_model_predict(e->m, X, n, P);
	if (!rc)
		rc = ev_scores_of(e, job->y, P, n, &s);
	for (size_t i = 0; i < n; i++)
		X[i * p + j] = job->X[i * p + j];
	if (rc) {
		int zero = 0;
		__atomic_compare_exchange_n(&job->rc, &zero, rc, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
		return;
	}
	job->drop[t] = (job->base - s.v[e->main]) * ev_metrics[e->main].direction;
}

typedef struct ranked {
	size_t j;
	double mean, std;
} ranked;

static int by_importance(const void *a, const void *b)
{
	const ranked *x = a, *y = b;

	if (x->mean != y->mean)
		return x->mean > y->mean ? -1 : 1;
	return (x->j > y->j) - (x->j < y->j);
}

/* The rows importance uses: all of them, or a seeded sample when there
 * are many (the cost is features x repeats predictions of them). */
static int importance_rows(ev_ctx *e, double **X, double **y, size_t *n)
{
	size_t m = e->n, p = e->p, *pick;
	sl__rng r;

	*X = NULL;
	*y = NULL;
	*n = m;
	if (m <= IMPORTANCE_MAX_ROWS)
		return 0;
	m = IMPORTANCE_MAX_ROWS;
	pick = sl__malloc(m * sizeof *pick);
	*X = sl__malloc(m * p * sizeof **X + 1);
	*y = sl__malloc(m * sizeof **y);
	if (!pick || !*X || !*y) {
		sl__free(pick);
		return sl__oom();
	}
	sl__rng_seed(&r, e->o->seed);
	sl__rng_sample(&r, e->n, m, pick);
	for (size_t i = 0; i < m; i++) {
		memcpy(*X + i * p, e->X + pick[i] * p, p * sizeof **X);
		(*y)[i] = e->y[pick[i]];
	}
	sl__free(pick);
	*n = m;
	return ev_note(e, "permutation importance used %zu of the %zu test rows (a seeded sample)",
		       m, e->n);
}

int ev_importance_section(ev_ctx *e, json_t **out)
{
	size_t repeats = e->o->repeats ? e->o->repeats : 1, p = e->p, tasks = p * repeats;
	unsigned threads = sl__thread_count(e->o->threads);
	double *Xs = NULL, *ys = NULL, *Pb = NULL;
	imp_job job = {0};
	ranked *rk = NULL;
	json_t *feats = NULL, *imp = NULL;
	ev_scores s;
	int rc;

	*out = NULL;
	if (p == 0)
		return 0;
	if ((rc = importance_rows(e, &Xs, &ys, &job.n)))
		goto out;
	job.e = e;
	job.X = Xs ? Xs : e->X;
	job.y = ys ? ys : e->y;
	job.p = p;
	job.repeats = repeats;
	if (threads > tasks)
		threads = (unsigned)tasks;
	Pb = sl__malloc(job.n * e->k * sizeof *Pb);
	job.Xw = sl__malloc((size_t)threads * job.n * p * sizeof *job.Xw);
	job.Pw = sl__malloc((size_t)threads * job.n * e->k * sizeof *job.Pw);
	job.perm = sl__malloc((size_t)threads * job.n * sizeof *job.perm);
	job.drop = sl__malloc(tasks * sizeof *job.drop);
	rk = sl__malloc(p * sizeof *rk);
	if (!Pb || !job.Xw || !job.Pw || !job.perm || !job.drop || !rk) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = ml_model_predict(e->m, job.X, job.n, Pb)) ||
	    (rc = ev_scores_of(e, job.y, Pb, job.n, &s)))
		goto out;
	job.base = s.v[e->main];
	if (!isfinite(job.base)) {
		rc = ev_note(e, "permutation importance needs %s, which is undefined on these rows",
			     ev_metrics[e->main].name);
		goto out;
	}
	for (unsigned w = 0; w < threads; w++)
		memcpy(job.Xw + (size_t)w * job.n * p, job.X, job.n * p * sizeof *job.Xw);
	sl__parallel_for(threads, tasks, permute_one, &job);
	if ((rc = job.rc))
		goto out;
	for (size_t j = 0; j < p; j++) {
		long double sum = 0, ss = 0;
		for (size_t r = 0; r < repeats; r++)
			sum += job.drop[j * repeats + r];
		rk[j].j = j;
		rk[j].mean = (double)(sum / repeats);
		for (size_t r = 0; r < repeats; r++) {
			long double d = job.drop[j * repeats + r] - (long double)rk[j].mean;
			ss += d * d;
		}
		rk[j].std = (double)sqrtl(ss / repeats); /* population, as scikit-learn */
	}
	qsort(rk, p, sizeof *rk, by_importance);
	feats = json_array();
	for (size_t a = 0; feats && a < p; a++)
		if (json_array_append_new(feats, json_pack("{s:s, s:f, s:f}", "name",
							   e->m->sig.features[rk[a].j].name, "mean",
							   rk[a].mean, "std", rk[a].std))) {
			json_decref(feats);
			feats = NULL;
		}
	imp = feats ? json_pack("{s:s, s:I, s:I, s:I, s:f, s:O}", "metric",
				ev_metrics[e->main].name, "repeats", (json_int_t)repeats, "seed",
				(json_int_t)e->o->seed, "rows", (json_int_t)job.n, "baseline_score",
				job.base, "features", feats)
		    : NULL;
	if (!imp)
		rc = sl__oom();
	else
		*out = imp;
out:
	json_decref(feats);
	sl__free(Xs);
	sl__free(ys);
	sl__free(Pb);
	sl__free(job.Xw);
	sl__free(job.Pw);
	sl__free(job.perm);
	sl__free(job.drop);
	sl__free(rk);
	return rc;
}
