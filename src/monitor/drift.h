/*
 * Distribution drift between a reference profile and current data. Prefix
 * drift_.
 *
 * The reference is a profile (profile.h), not raw data, so every test works
 * from what a profile stores:
 *
 *   numeric columns    the current values are counted in the reference's
 *                      histogram bins (profile_rebin), with one extra bin
 *                      below the first edge and one above the last.
 *       PSI            population stability index over those bins.
 *       KS             two-sample Kolmogorov-Smirnov statistic evaluated at
 *                      the reference's bin edges, where both empirical CDFs
 *                      are known exactly. It is the largest CDF gap over
 *                      those points, so it never exceeds the exact statistic
 *                      (the approximation can only miss drift inside a bin,
 *                      never invent it); the p-value uses the asymptotic
 *                      Kolmogorov distribution with effective size nm/(n+m).
 *       Wasserstein    the area between the two CDFs with both taken as
 *                      linear within each bin, divided by the reference's
 *                      standard deviation ("normed", as Evidently reports it).
 *   categorical columns  (string, bool) value counts of both sides.
 *       chi-square     test of homogeneity on the 2 x k table of counts
 *                      (categories seen on either side; a new category
 *                      counts), p-value from the chi-square distribution.
 *       Jensen-Shannon distance (square root of the divergence, base 2, in
 *                      [0, 1]).
 *       PSI            also recorded.
 *
 *   few values     a numeric column with at most few_values distinct values
 *                  on both sides together is tested as categories, on the
 *                  value counts the profiles' top lists hold.
 *   binary         two-proportion Z-test (pooled variance, two-sided), for
 *                  columns with two values on both sides together.
 *
 * Which test decides is ONE rule, drift_choose(), used by validate and by
 * live monitoring alike. It is Evidently's default: p-value tests (KS,
 * chi-square, Z) grow so sensitive with sample size that large samples flag
 * differences nobody cares about, so when the reference has more than
 * large_n values (default 1000) a distance decides against a fixed
 * threshold (normalised Wasserstein for numbers, Jensen-Shannon for
 * categories and for numbers with few values), and otherwise the p-value
 * (KS for numbers, chi-square for categories, Z for two values). Every
 * statistic is computed and recorded whichever test decides; PSI is always
 * reported with its bands (below 0.1 none, 0.1 to 0.25 moderate, above major).
 */
#ifndef SLUICE_DRIFT_H
#define SLUICE_DRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/profile.h"

typedef enum drift_test {
	DRIFT_AUTO = 0, /* choose by sample size (above) */
	DRIFT_KS,
	DRIFT_PSI,
	DRIFT_WASSERSTEIN,
	DRIFT_CHI2,
	DRIFT_JS,
	DRIFT_NONE,    /* not tested (no values on one side, or a timestamp) */
	DRIFT_Z        /* two-proportion Z-test */
} drift_test;

/* "auto", "ks", "psi", "wasserstein", "chi2", "js", "none", "z". */
const char *drift_test_name(drift_test t);
bool drift_test_parse(const char *s, drift_test *out);

#define DRIFT_FEW_MAX 64

typedef struct drift_opts {
	double psi_threshold;         /* drift when PSI >= this (default 0.1) */
	double ks_pvalue;             /* drift when the KS p-value < this (default 0.05) */
	double chi2_pvalue;           /* drift when the chi-square p-value < this (0.05) */
	double z_pvalue;              /* drift when the Z-test p-value < this (0.05) */
	double js_threshold;          /* drift when the JS distance >= this (0.1) */
	double wasserstein_threshold; /* drift when the normed Wasserstein >= this (0.1) */
	uint64_t large_n;             /* reference size above which distances decide (1000) */
	uint64_t few_values;          /* numeric columns with at most this many distinct
				       * values are tested as categories (5; at most
				       * DRIFT_FEW_MAX) */
	drift_test numeric_test;      /* DRIFT_AUTO, or one of ks, psi, wasserstein */
	drift_test categorical_test;  /* DRIFT_AUTO, or one of chi2, js, psi */
} drift_opts;

void drift_opts_default(drift_opts *o);

/*
 * THE decision rule: the test that decides for a column of n_ref reference
 * values, numeric or not, with n_values distinct values on both sides
 * together (0 when unknown, i.e. many). A forced test in o wins; DRIFT_AUTO
 * chooses as the header says. A numeric column with few values gets a
 * categorical test (chi2, z or js).
 */
drift_test drift_choose(bool numeric, uint64_t n_ref, uint64_t n_values, const drift_opts *o);

typedef struct drift_result {
	const char *column; /* borrowed from the reference profile */
	bool numeric;
	drift_test test;    /* the test that decided */
	double statistic;   /* that test's statistic */
	double p_value;     /* that test's p-value, NaN for distance tests */
	double threshold;   /* the threshold it was compared with */
	bool drifted;
	uint64_t n_ref, n_cur;

	/* Raw values of every test that applies (NaN when it does not). */
	double psi;
	double ks, ks_pvalue;
	double wasserstein, wasserstein_norm;
	double chi2, chi2_df, chi2_pvalue;
	double js;
	double z, z_pvalue;    /* two values only */
	const char *psi_band;  /* "none", "moderate", "major"; NULL when PSI is NaN */
	uint64_t n_values;     /* distinct values on both sides when few, else 0 */
	double mean_shift;     /* (mean_cur - mean_ref) / std_ref, numeric */
	double out_of_range;   /* fraction of current values outside the reference range */
	uint64_t new_categories; /* categories the reference never saw */
	const char *reason;      /* why a column was not tested, else NULL */
} drift_result;

/*
 * Applies the rule: the test drift_choose() picks for r (its numeric,
 * n_ref and n_values) decides, from the statistics already in r. A test
 * whose statistic is NaN (a categorical test on a numeric column whose
 * values could not be counted) falls back to the numeric test of its size.
 */
void drift_decide(drift_result *r, const drift_opts *o);

/*
 * Drift of one numeric column: cur_bins are the current values counted in
 * ref's bins by profile_rebin (ref->n_bins + 2 entries), cur the current
 * column's profile (for the mean shift and the value counts of a column
 * with few values; may be NULL).
 */
void drift_numeric(const profile_col *ref, const uint64_t *cur_bins, const profile_col *cur,
		   const drift_opts *o, drift_result *out);

/*
 * Drift of one categorical column from the value counts of both profiles.
 * When either side kept only its most frequent categories, the rest form an
 * "other" category on both sides. Returns SL_ENOMEM or 0.
 */
int drift_categorical(const profile_col *ref, const profile_col *cur, const drift_opts *o,
		      drift_result *out);

/*
 * Every column of ref that t also has, in ref's order: *out (sl__free) gets
 * *out_n results. cur is t's profile. Columns whose type family differs
 * (number vs category) or that are timestamps are recorded as DRIFT_NONE
 * with a reason.
 */
int drift_compare(const profile *ref, const ds_table *t, const profile *cur, const drift_opts *o,
		  drift_result **out, size_t *out_n);

/* ---- the statistics themselves (exposed for tests and monitoring) ------- */

/*
 * PSI = sum (c_i - r_i) ln(c_i / r_i) over proportions; a proportion of zero
 * is taken as 1e-4 (as Evidently does) so that empty bins stay finite.
 */
double drift_psi(const uint64_t *ref, uint64_t n_ref, const uint64_t *cur, uint64_t n_cur,
		 size_t k);
/* Jensen-Shannon distance, base 2, of two count vectors (0 = identical, 1 = disjoint). */
double drift_js(const uint64_t *ref, uint64_t n_ref, const uint64_t *cur, uint64_t n_cur,
		size_t k);
/*
 * Chi-square test of homogeneity of two count vectors over k categories;
 * categories empty on both sides are left out. *out_df = k' - 1.
 */
double drift_chi2(const uint64_t *ref, uint64_t n_ref, const uint64_t *cur, uint64_t n_cur,
		  size_t k, double *out_df);
/* P(K > lambda) for the Kolmogorov distribution (the KS limit law). */
double drift_kolmogorov_sf(double lambda);
/*
 * Two-proportion Z-test of category 0 against the others, pooled variance:
 * returns z (NaN when a side is empty) and *out_p its two-sided p-value (1
 * when both sides hold one same value).
 */
double drift_z(const uint64_t *ref, uint64_t n_ref, const uint64_t *cur, uint64_t n_cur,
	       size_t k, double *out_p);
/* "none" below 0.1, "moderate" below 0.25, else "major"; NULL for NaN. */
const char *drift_psi_band(double psi);
/* Asymptotic two-sample KS p-value of statistic d for sample sizes n and m. */
double drift_ks_pvalue(double d, double n, double m);
/* Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a). */
double drift_gamma_q(double a, double x);
/* Survival function of the chi-square distribution with df degrees of freedom. */
double drift_chi2_sf(double x, double df);

#endif
