/*
 * validate: checks a dataset against a schema, profiles it, and compares it
 * with a reference profile for drift (the step TFDV and Great Expectations
 * users know). docs/steps/validate.md is the user's reference.
 *
 *   inputs   data (dataset), schema (optional schema artifact),
 *            reference (optional profile artifact)
 *   outputs  data (the input, byte for byte, so its artifact id is the
 *            same), schema (the checked one, or the inferred one), profile,
 *            report (JSON); the readable report goes to the step log
 *
 * Order of work: open the table, profile it (every later stage reads the
 * profile), pick the schema (option file > schema input > inferred), check
 * the rules, test drift, write the outputs, then fail when an error-severity
 * rule failed. The outputs are written before failing so the report of a
 * failed run can still be read from its workdir.
 *
 * Everything written is a function of the inputs and options only (sorted
 * keys, fixed float precision, deterministic ordering), so reruns give
 * byte-identical artifacts and the cache holds.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"
#include "monitor/drift.h"
#include "monitor/profile.h"
#include "monitor/schema.h"
#include "steps/step.h"

#define DUMP_FLAGS PROFILE_DUMP_FLAGS
#define FAIL_MSG_MAX 900

#define SEVERITIES "error warn|warning ignore|off|none"

static const step_opt column_name = {.type = OPT_STRING, .len = "[1,)"};

static const step_opt drift_fields[] = {
	{.name = "psi_threshold", .type = OPT_NUMBER, .range = "[0, 1e9]",
	 .help = "population stability index at or above which a column drifted (default 0.1)"},
	{.name = "ks_pvalue", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "Kolmogorov-Smirnov p-value below which a numeric column drifted (default 0.05)"},
	{.name = "chi2_pvalue", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "chi-squared p-value below which a categorical column drifted (default 0.05)"},
	{.name = "z_pvalue", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "two-proportion Z-test p-value below which a two-valued column drifted (default 0.05)"},
	{.name = "js_threshold", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "Jensen-Shannon distance at or above which a column drifted (default 0.1)"},
	{.name = "wasserstein_threshold", .type = OPT_NUMBER, .range = "[0, 1e9]",
	 .help = "normalised Wasserstein distance at or above which a column drifted (default 0.1)"},
	{.name = "large_n", .type = OPT_INT, .range = "[0, 1e18]",
	 .help = "from this many rows on, auto tests use distances instead of p-values (default 1000)"},
	{.name = "numeric_test", .type = OPT_STRING, .choices = "auto ks psi wasserstein",
	 .help = "the test for numeric columns (default auto)"},
	{.name = "categorical_test", .type = OPT_STRING, .choices = "auto chi2 js psi",
	 .help = "the test for categorical columns (default auto)"},
	{.name = "severity", .type = OPT_STRING, .choices = SEVERITIES,
	 .help = "severity of a drifted column (default warn)"},
	{.name = "columns", .type = OPT_LIST, .item = &column_name, .unique = true,
	 .help = "test only these columns (default: all)"},
	{.name = NULL},
};

static const step_opt opts[] = {
	{.name = "schema", .type = OPT_PATH,
	 .help = "schema file (YAML or JSON) to check the data against, instead of the schema input"},
	{.name = "infer", .type = OPT_BOOL, .def = "true",
	 .help = "when no schema is given, check the data against a schema inferred from it"},
	{.name = "severity", .type = OPT_STRING, .def = "error", .choices = "error warn|warning",
	 .help = "severity of rules that do not name one: error (fails the step) or warn"},
	{.name = "max_missing", .type = OPT_NUMBER, .range = "[0, 1]",
	 .help = "largest missing fraction allowed in any column without its own max_missing"},
	{.name = "bins", .type = OPT_INT, .def = "20", .range = "[1, " SL__STR(PROFILE_MAX_BINS) "]",
	 .help = "histogram bins per numeric column in the profile"},
	{.name = "top_k", .type = OPT_INT, .def = "10", .range = "[0, " SL__STR(PROFILE_MAX_TOP_K) "]",
	 .help = "most frequent values kept per column in the profile"},
	{.name = "max_categories", .type = OPT_INT, .def = "1000", .range = "[1, 1000000]",
	 .help = "category counts kept per column in the profile before the rest count as other"},
	{.name = "infer_categories", .type = OPT_INT, .def = "20", .range = "[0, 1000000]",
	 .help = "inference: string columns with at most this many distinct values get a categories rule"},
	{.name = "drift", .type = OPT_MAP, .fields = drift_fields,
	 .help = "drift settings against the reference input (see below)"},
	{.name = NULL},
};

/* The schema comes from one place: the option or the input. */
static int check(const step_check *c)
{
	if (json_object_get(c->with, "schema") && step_check_has_input(c, "schema"))
		return step_check_fail(c, "schema", "give the schema either as with.schema or as the "
						    "input 'schema', not both");
	return 0;
}

static const step_port inputs[] = {
	{"data", "dataset", false, "the dataset to validate"},
	{"schema", "schema", true, "a schema to check against (e.g. from an earlier validate run)"},
	{"reference", "profile", true, "a profile to test drift against"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"data", "dataset", false, "the input dataset, unchanged"},
	{"schema", "schema", false, "the schema checked, or inferred when none was given"},
	{"profile", "profile", false, "column statistics of the data"},
	{"report", "report", false, "rule verdicts and drift tests (JSON)"},
	{NULL, NULL, false, NULL},
};

typedef struct vconf {
	profile_opts popts;
	schema_infer_opts iopts;
	drift_opts dopts;
	schema_sev severity;
	schema_sev drift_severity;
	bool infer;
	double max_missing; /* NaN when not set */
	json_t *drift_columns; /* borrowed array of names, or NULL */
} vconf;

typedef struct vrun {
	step_ctx *ctx;
	vconf conf;
	ds_table *table;
	profile *prof;
	profile *ref;
	schema *schema;
	const char *schema_source; /* "file", "input", "inferred" */
	schema_results results;
	drift_result *drift;
	size_t n_drift;
	size_t drifted;
	size_t tested;
} vrun;

/* ---- options ------------------------------------------------------------- */

/* The parser checked every option against the schema above. */
static void parse_drift(step_ctx *ctx, vconf *c)
{
	const json_t *d = step_opt_json(ctx, "drift"), *v;

	if (!d)
		return;
	if ((v = json_object_get(d, "psi_threshold")))
		c->dopts.psi_threshold = json_number_value(v);
	if ((v = json_object_get(d, "ks_pvalue")))
		c->dopts.ks_pvalue = json_number_value(v);
	if ((v = json_object_get(d, "chi2_pvalue")))
		c->dopts.chi2_pvalue = json_number_value(v);
	if ((v = json_object_get(d, "z_pvalue")))
		c->dopts.z_pvalue = json_number_value(v);
	if ((v = json_object_get(d, "js_threshold")))
		c->dopts.js_threshold = json_number_value(v);
	if ((v = json_object_get(d, "wasserstein_threshold")))
		c->dopts.wasserstein_threshold = json_number_value(v);
	if ((v = json_object_get(d, "large_n")))
		c->dopts.large_n = (uint64_t)json_integer_value(v);
	if ((v = json_object_get(d, "numeric_test")))
		drift_test_parse(json_string_value(v), &c->dopts.numeric_test);
	if ((v = json_object_get(d, "categorical_test")))
		drift_test_parse(json_string_value(v), &c->dopts.categorical_test);
	if ((v = json_object_get(d, "severity")))
		schema_sev_parse(json_string_value(v), &c->drift_severity);
	if ((v = json_object_get(d, "columns")))
		c->drift_columns = (json_t *)v;
}

static void parse_opts(step_ctx *ctx, vconf *c)
{
	const char *sev = step_opt_str(ctx, "severity");

	profile_opts_default(&c->popts);
	schema_infer_opts_default(&c->iopts);
	drift_opts_default(&c->dopts);
	c->severity = SCHEMA_ERROR;
	c->drift_severity = SCHEMA_WARN;
	c->infer = step_opt_bool(ctx, "infer", true);
	c->max_missing = step_opt_num(ctx, "max_missing", NAN);
	c->drift_columns = NULL;
	if (sev)
		schema_sev_parse(sev, &c->severity);
	c->popts.bins = (size_t)step_opt_int(ctx, "bins", 20);
	c->popts.top_k = (size_t)step_opt_int(ctx, "top_k", 10);
	c->popts.max_categories = (size_t)step_opt_int(ctx, "max_categories", 1000);
	c->iopts.max_categories = (size_t)step_opt_int(ctx, "infer_categories", 20);
	c->iopts.severity = c->severity;
	c->iopts.max_missing = c->max_missing;
	parse_drift(ctx, c);
}

/* ---- stages -------------------------------------------------------------- */

static int load_schema(vrun *v)
{
	step_ctx *ctx = v->ctx;
	const char *file = step_opt_str(ctx, "schema");
	const char *input = step_input(ctx, "schema");
	int rc;

	if (file) {
		char *path = step_resolve_path(ctx, file);
		if (!path)
			return step_oom(ctx);
		rc = schema_load_file(path, v->conf.severity, &v->schema);
		sl__free(path);
		if (rc)
			return step_fail(ctx, rc, "with.schema: %s", sl_errmsg());
		v->schema_source = "file";
	} else if (input) {
		if ((rc = schema_load_file(input, v->conf.severity, &v->schema)))
			return step_fail(ctx, rc, "inputs.schema: %s", sl_errmsg());
		v->schema_source = "input";
	} else {
		if ((rc = schema_infer(v->prof, &v->conf.iopts, &v->schema)))
			return step_fail(ctx, rc, "inferring a schema: %s", sl_errmsg());
		v->schema_source = v->conf.infer ? "inferred" : NULL;
		return 0;
	}
	/* The max_missing option fills in columns that do not set their own. */
	if (!isnan(v->conf.max_missing))
		for (size_t i = 0; i < v->schema->n_cols; i++) {
			schema_col *c = &v->schema->cols[i];
			if (!c->max_missing.set)
				c->max_missing = (schema_num_rule){true, v->conf.max_missing,
								   v->schema->severity};
		}
	return 0;
}

static bool drift_wanted(const vconf *c, const char *name)
{
	if (!c->drift_columns)
		return true;
	for (size_t i = 0; i < json_array_size(c->drift_columns); i++)
		if (!strcmp(json_string_value(json_array_get(c->drift_columns, i)), name))
			return true;
	return false;
}

static int run_drift(vrun *v)
{
	step_ctx *ctx = v->ctx;
	const char *path = step_input(ctx, "reference");
	size_t keep = 0;
	int rc;

	if (!path)
		return 0;
	if ((rc = profile_load_file(path, &v->ref)))
		return step_fail(ctx, rc, "inputs.reference: %s", sl_errmsg());
	for (size_t i = 0; v->conf.drift_columns && i < json_array_size(v->conf.drift_columns); i++) {
		const char *name = json_string_value(json_array_get(v->conf.drift_columns, i));
		size_t j;
		if (!profile_find(v->ref, name))
			return step_fail(ctx, SL_EINVAL,
					 "with.drift.columns: unknown column '%s' (not in the "
					 "reference profile)", name);
		if (ds_col_find(v->table, name, &j))
			return step_fail(ctx, SL_EINVAL,
					 "with.drift.columns: unknown column '%s' (not in the data)",
					 name);
	}
	if ((rc = drift_compare(v->ref, v->table, v->prof, &v->conf.dopts, &v->drift, &v->n_drift)))
		return step_fail(ctx, rc, "drift: %s", sl_errmsg());
	for (size_t i = 0; i < v->n_drift; i++)
		if (drift_wanted(&v->conf, v->drift[i].column))
			v->drift[keep++] = v->drift[i];
	v->n_drift = keep;
	for (size_t i = 0; i < v->n_drift; i++) {
		const drift_result *d = &v->drift[i];
		char st[DS_F64_BUF], th[DS_F64_BUF];
		if (d->test == DRIFT_NONE)
			continue;
		v->tested++;
		v->drifted += d->drifted;
		if (v->conf.drift_severity == SCHEMA_IGNORE)
			continue;
		snprintf(st, sizeof st, "%.4g", isnan(d->p_value) ? d->statistic : d->p_value);
		snprintf(th, sizeof th, "%.4g", d->threshold);
		rc = schema_results_add(&v->results, "drift", d->column, v->conf.drift_severity,
					!d->drifted, profile_json_num(profile_round15(d->statistic)),
					profile_json_num(d->threshold), d->drifted,
					"column '%s': %s %s %s %s %s", d->column,
					drift_test_name(d->test),
					isnan(d->p_value) ? "distance" : "p-value", st,
					isnan(d->p_value) ? (d->drifted ? ">=" : "<")
							  : (d->drifted ? "<" : ">="),
					th);
		if (rc)
			return step_fail(ctx, rc, "%s", sl_errmsg());
	}
	return 0;
}

/* ---- the report ---------------------------------------------------------- */

static json_t *num(double x)
{
	return profile_json_num(profile_round15(x));
}

static int put(json_t *o, const char *k, json_t *v)
{
	return (!v || json_object_set_new(o, k, v)) ? SL_ENOMEM : 0;
}

static json_t *rule_json(const schema_result *r)
{
	json_t *o = json_object();

	if (!o || put(o, "rule", json_string(r->rule)) ||
	    put(o, "column", r->column ? json_string(r->column) : json_null()) ||
	    put(o, "severity", json_string(schema_sev_name(r->severity))) ||
	    put(o, "passed", json_boolean(r->passed)) || put(o, "observed", json_incref(r->observed)) ||
	    put(o, "expected", json_incref(r->expected)) ||
	    put(o, "violations", json_integer((json_int_t)r->violations)) ||
	    (r->rows && put(o, "rows", json_incref(r->rows))) ||
	    put(o, "message", json_string(r->message))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *drift_json(const drift_result *d)
{
	json_t *o = json_object(), *x = json_object();
	int rc = 0;

	if (!o || !x) {
		json_decref(o);
		json_decref(x);
		return NULL;
	}
	rc = put(o, "distances", x);
	rc = rc ? rc : put(o, "column", json_string(d->column));
	rc = rc ? rc : put(o, "test", json_string(drift_test_name(d->test)));
	rc = rc ? rc : put(o, "statistic", num(d->statistic));
	rc = rc ? rc : put(o, "p_value", num(d->p_value));
	rc = rc ? rc : put(o, "threshold", num(d->threshold));
	rc = rc ? rc : put(o, "drifted", json_boolean(d->drifted));
	rc = rc ? rc : put(o, "n_reference", json_integer((json_int_t)d->n_ref));
	rc = rc ? rc : put(o, "n_current", json_integer((json_int_t)d->n_cur));
	if (!rc && d->reason)
		rc = put(o, "reason", json_string(d->reason));
	if (!rc && d->test != DRIFT_NONE) {
		rc = put(x, "psi", num(d->psi));
		rc = rc ? rc : put(x, "psi_band", d->psi_band ? json_string(d->psi_band) : json_null());
		if (!rc && d->numeric) {
			rc = put(x, "ks", num(d->ks));
			rc = rc ? rc : put(x, "ks_pvalue", num(d->ks_pvalue));
			rc = rc ? rc : put(x, "wasserstein", num(d->wasserstein));
			rc = rc ? rc : put(x, "wasserstein_norm", num(d->wasserstein_norm));
			rc = rc ? rc : put(x, "mean_shift", num(d->mean_shift));
			rc = rc ? rc : put(x, "out_of_range", num(d->out_of_range));
		} else if (!rc) {
			rc = put(x, "new_categories", json_integer((json_int_t)d->new_categories));
		}
		/* Value-count tests: categories, and numbers with few values. */
		if (!rc && (!d->numeric || d->n_values)) {
			rc = put(x, "js", num(d->js));
			rc = rc ? rc : put(x, "chi2", num(d->chi2));
			rc = rc ? rc : put(x, "chi2_df", num(d->chi2_df));
			rc = rc ? rc : put(x, "chi2_pvalue", num(d->chi2_pvalue));
			rc = rc ? rc : put(x, "z", num(d->z));
			rc = rc ? rc : put(x, "z_pvalue", num(d->z_pvalue));
		}
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *report_json(const vrun *v)
{
	json_t *o = json_object(), *rules = json_array(), *drift = json_array();
	int rc = 0;

	if (!o || !rules || !drift) {
		json_decref(o);
		json_decref(rules);
		json_decref(drift);
		return NULL;
	}
	rc = put(o, "rules", rules);
	if (rc)
		json_decref(drift); /* put consumed rules, not drift */
	else
		rc = put(o, "drift", drift);
	rc = rc ? rc : put(o, "format", json_string("sluice.validation"));
	rc = rc ? rc : put(o, "version", json_integer(1));
	rc = rc ? rc : put(o, "passed", json_boolean(v->results.errors == 0));
	rc = rc ? rc : put(o, "errors", json_integer((json_int_t)v->results.errors));
	rc = rc ? rc : put(o, "warnings", json_integer((json_int_t)v->results.warnings));
	rc = rc ? rc : put(o, "rows", json_integer((json_int_t)ds_nrow(v->table)));
	rc = rc ? rc : put(o, "columns", json_integer((json_int_t)ds_ncol(v->table)));
	rc = rc ? rc : put(o, "schema", v->schema_source ? json_string(v->schema_source)
							 : json_null());
	rc = rc ? rc : put(o, "drifted_columns", json_integer((json_int_t)v->drifted));
	for (size_t i = 0; i < v->results.n && !rc; i++) {
		json_t *r = rule_json(&v->results.v[i]);
		rc = (!r || json_array_append_new(rules, r)) ? SL_ENOMEM : 0;
	}
	for (size_t i = 0; i < v->n_drift && !rc; i++) {
		json_t *d = drift_json(&v->drift[i]);
		rc = (!d || json_array_append_new(drift, d)) ? SL_ENOMEM : 0;
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int write_json(step_ctx *ctx, const char *output, json_t *j)
{
	const char *path = step_output(ctx, output);
	char *s;
	int rc;

	if (!j)
		return step_oom(ctx);
	s = sl__json_dumps(j, DUMP_FLAGS);
	json_decref(j);
	if (!s)
		return step_oom(ctx);
	if (!path) {
		free(s);
		return 0;
	}
	rc = sl__write_atomic(path, s, strlen(s));
	free(s);
	if (rc)
		return step_fail(ctx, rc, "writing the %s output: %s", output, sl_errmsg());
	return 0;
}

/* ---- the text report ----------------------------------------------------- */

static const char *fmt_num(double x, char *buf)
{
	if (isnan(x))
		return "-";
	ds_format_f64(profile_round15(x), buf);
	if (strlen(buf) > 12)
		snprintf(buf, DS_F64_BUF, "%.6g", x);
	return buf;
}

static void log_report(vrun *v)
{
	step_ctx *ctx = v->ctx;
	size_t failed = 0;
	char a[DS_F64_BUF], b[DS_F64_BUF], c[DS_F64_BUF], d[DS_F64_BUF], e[DS_F64_BUF];
	char w[DS_F64_BUF];

	step_log(ctx, "validate: %zu rows x %zu columns; schema: %s", ds_nrow(v->table),
		 ds_ncol(v->table),
		 !v->schema_source ? "none checked (infer: false)"
		 : !strcmp(v->schema_source, "inferred") ? "inferred from this data"
		 : !strcmp(v->schema_source, "file") ? "with.schema file"
						      : "schema input");
	step_log(ctx, "rules: %zu checked, %zu error%s, %zu warning%s", v->results.n,
		 v->results.errors, v->results.errors == 1 ? "" : "s", v->results.warnings,
		 v->results.warnings == 1 ? "" : "s");
	for (size_t i = 0; i < v->results.n; i++) {
		const schema_result *r = &v->results.v[i];
		if (r->passed || r->severity == SCHEMA_IGNORE)
			continue;
		failed++;
		step_log(ctx, "  %-5s %-12s %s", r->severity == SCHEMA_ERROR ? "ERROR" : "WARN",
			 r->rule, r->message);
	}
	if (!failed)
		step_log(ctx, "  all rules passed");
	if (v->ref) {
		step_log(ctx, "drift against the reference: %zu columns tested, %zu drifted",
			 v->tested, v->drifted);
		step_log(ctx, "  %-20s %-11s %12s %12s %10s  %-7s  %s", "column", "test",
			 "statistic", "p-value", "threshold", "drifted", "distances");
		for (size_t i = 0; i < v->n_drift; i++) {
			const drift_result *r = &v->drift[i];
			if (r->test == DRIFT_NONE) {
				step_log(ctx, "  %-20s %-11s (%s)", r->column, "none", r->reason);
				continue;
			}
			if (r->numeric)
				step_log(ctx, "  %-20s %-11s %12s %12s %10s  %-7s  psi %s (%s) ks %s "
					      "wasserstein %s",
					 r->column, drift_test_name(r->test), fmt_num(r->statistic, a),
					 fmt_num(r->p_value, b), fmt_num(r->threshold, c),
					 r->drifted ? "YES" : "no", fmt_num(r->psi, d),
					 r->psi_band ? r->psi_band : "-", fmt_num(r->ks, e),
					 fmt_num(r->wasserstein_norm, w));
			else
				step_log(ctx, "  %-20s %-11s %12s %12s %10s  %-7s  js %s chi2 p %s "
					      "new categories %" PRIu64,
					 r->column, drift_test_name(r->test), fmt_num(r->statistic, a),
					 fmt_num(r->p_value, b), fmt_num(r->threshold, c),
					 r->drifted ? "YES" : "no", fmt_num(r->js, d),
					 fmt_num(r->chi2_pvalue, e), r->new_categories);
		}
	}
	step_log(ctx, "profile:");
	step_log(ctx, "  %-20s %-9s %9s %9s %12s %12s %12s %12s %12s", "column", "type", "missing",
		 "distinct", "mean", "std", "min", "p50|top", "max");
	for (size_t j = 0; j < v->prof->n_cols; j++) {
		const profile_col *p = &v->prof->cols[j];
		char f[DS_TS_BUF], g[DS_TS_BUF], h[DS_TS_BUF];
		if (p->type == DS_TIMESTAMP && p->n_values) {
			/* Microseconds mean nothing to a reader: print times. */
			ds_format_timestamp((int64_t)p->min, f);
			ds_format_timestamp((int64_t)p->q[3], g);
			ds_format_timestamp((int64_t)p->max, h);
			step_log(ctx, "  %-20s %-9s %9" PRIu64 " %9" PRIu64 " %12s %12s %s %s %s",
				 p->name, ds_type_name(p->type), p->missing, p->distinct, "-", "-",
				 f, g, h);
			continue;
		}
		step_log(ctx, "  %-20s %-9s %9" PRIu64 " %9" PRIu64 " %12s %12s %12s %12s %12s",
			 p->name, ds_type_name(p->type), p->missing, p->distinct, fmt_num(p->mean, a),
			 fmt_num(p->std, b), fmt_num(p->min, c),
			 p->numeric ? fmt_num(p->q[3], d) : (p->n_top ? p->top[0].str : "-"),
			 fmt_num(p->max, e));
	}
}

/* "validation failed: N errors: msg; msg; ..." within FAIL_MSG_MAX bytes. */
static int fail_summary(vrun *v)
{
	sl__buf b;
	size_t listed = 0;
	int rc;

	sl__buf_init(&b, 0);
	sl__buf_printf(&b, "validation failed: %zu error%s: ", v->results.errors,
		       v->results.errors == 1 ? "" : "s");
	for (size_t i = 0; i < v->results.n; i++) {
		const schema_result *r = &v->results.v[i];
		if (r->passed || r->severity != SCHEMA_ERROR)
			continue;
		if (b.len + strlen(r->message) + 16 > FAIL_MSG_MAX)
			break;
		sl__buf_printf(&b, "%s[%s] %s", listed ? "; " : "", r->rule, r->message);
		listed++;
	}
	if (listed < v->results.errors)
		sl__buf_printf(&b, "; and %zu more (see the report)", v->results.errors - listed);
	rc = step_fail(v->ctx, SL_EGATE, "%s", b.data ? b.data : "validation failed");
	sl__buf_free(&b);
	return rc;
}

/* ---- run ----------------------------------------------------------------- */

static int run(step_ctx *ctx)
{
	vrun v;
	const char *in = step_input(ctx, "data");
	json_t *j;
	int rc;

	memset(&v, 0, sizeof v);
	v.ctx = ctx;
	parse_opts(ctx, &v.conf);
	if (!in)
		return step_fail(ctx, SL_EINVAL, "inputs.data: required");
	if ((rc = ds_open(in, 0, &v.table))) {
		step_fail(ctx, rc, "inputs.data: %s", sl_errmsg());
		goto out;
	}
	if ((rc = profile_build(v.table, &v.conf.popts, &v.prof))) {
		step_fail(ctx, rc, "profiling: %s", sl_errmsg());
		goto out;
	}
	if ((rc = load_schema(&v)))
		goto out;
	if (v.schema_source && (rc = schema_check(v.schema, v.table, v.prof, &v.results))) {
		step_fail(ctx, rc, "checking the schema: %s", sl_errmsg());
		goto out;
	}
	if ((rc = run_drift(&v)))
		goto out;

	if (step_output(ctx, "data") && (rc = sl__copy_file(in, step_output(ctx, "data")))) {
		step_fail(ctx, rc, "writing the data output: %s", sl_errmsg());
		goto out;
	}
	if ((rc = schema_to_json(v.schema, &j))) {
		step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	if ((rc = write_json(ctx, "schema", j)))
		goto out;
	if ((rc = profile_to_json(v.prof, &j))) {
		step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	if ((rc = write_json(ctx, "profile", j)) || (rc = write_json(ctx, "report", report_json(&v))))
		goto out;
	step_output_meta(ctx, "report",
			 json_pack("{s:b, s:I, s:I}", "passed", v.results.errors == 0, "errors",
				   (json_int_t)v.results.errors, "warnings",
				   (json_int_t)v.results.warnings));

	log_report(&v);
	step_metric(ctx, "rows", (double)ds_nrow(v.table));
	step_metric(ctx, "columns", (double)ds_ncol(v.table));
	step_metric(ctx, "errors", (double)v.results.errors);
	step_metric(ctx, "warnings", (double)v.results.warnings);
	step_metric(ctx, "drifted_columns", (double)v.drifted);
	if (v.results.errors)
		rc = fail_summary(&v);
out:
	schema_results_free(&v.results);
	sl__free(v.drift);
	profile_free(v.ref);
	profile_free(v.prof);
	schema_free(v.schema);
	ds_close(v.table);
	return rc;
}

const step_def step_validate = {
	.name = "validate",
	.version = 2,
	.summary = "check data against a schema, profile it, and test drift against a reference",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
};
