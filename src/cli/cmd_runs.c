/*
 * sluice runs [--pipeline NAME] [--sort METRIC] [-n N] [--json]
 * sluice runs show RUN [--json] [--log STEP]
 * sluice runs compare RUN RUN... | --pipeline NAME --last N [--all] [--json] [--html FILE]
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice runs [--pipeline NAME] [--sort METRIC] [-n N] [--json]\n"
	"       sluice runs show RUN [--json] [--log STEP]\n"
	"       sluice runs compare RUN RUN... [--all] [--json] [--html FILE]\n"
	"       sluice runs compare --pipeline NAME --last N [--all] [--json] [--html FILE]\n"
	"\n"
	"Lists runs, newest first, or shows one run: its steps with status, duration,\n"
	"whether each came from the cache, the artifacts it produced, and the reason\n"
	"of each failure; a tune step's trials are listed under it. RUN is a run id,\n"
	"a unique prefix of one, 'latest', or 'latest~N' (N runs before the newest).\n"
	"\n"
	"compare puts runs side by side: the run parameters, and each step's options\n"
	"and metrics, only what differs unless --all. The best value of each metric\n"
	"is marked '*': higher is better for auc, accuracy, r2; lower for rmse,\n"
	"logloss, cost.\n"
	"\n"
	"  -n, --limit N      list at most N runs (default 20; 0 for all)\n"
	"      --pipeline NAME  only runs of this pipeline\n"
	"      --sort METRIC  rank the pipeline's runs by a step metric, best first\n"
	"                     (METRIC, or STEP.METRIC when several steps record it)\n"
	"      --last N       compare: the pipeline's N newest runs\n"
	"      --all          compare: every row, also those that are the same\n"
	"      --html FILE    compare: also write a page with a chart per metric\n"
	"      --json         machine-readable output (fields are stable)\n"
	"      --log STEP     print the log of STEP in RUN (for a cached step, the log of\n"
	"                     the run that computed it)\n";

static double ms_to_s(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) / 1000.0 : -1;
}

/* The pipeline's runs ranked by a metric, best first. */
static int list_ranked(sl_project *p, const char *pipeline, const char *metric, int limit,
		       bool json)
{
	char *text = NULL;
	json_t *arr, *r;
	size_t i;
	int rc = sl_runs_ranked(p, pipeline, metric, limit, &text);
	int status = cli_take(p, rc, text, json, &arr);

	if (status >= 0)
		return status;
	printf("%4s  %-12s  %-9s  %-24s  %-16s  %s\n", "RANK", "RUN", "STATUS", "STARTED", "STEP",
	       metric);
	json_array_foreach(arr, i, r)
		printf("%4lld  %-12s  %-9s  %-24s  %-16s  %.6g\n",
		       (long long)json_integer_value(json_object_get(r, "rank")),
		       cli_short(json_string_value(json_object_get(r, "run"))),
		       json_string_value(json_object_get(r, "status")),
		       json_string_value(json_object_get(r, "started")),
		       json_string_value(json_object_get(r, "step")),
		       json_number_value(json_object_get(r, "value")));
	if (json_array_size(arr))
		printf("(%s is better)\n", json_string_value(json_object_get(json_array_get(arr, 0),
									"direction")));
	json_decref(arr);
	return EXIT_OK;
}

static int list_runs(sl_project *p, const char *pipeline, int limit, bool json)
{
	char *text = NULL;
	json_t *arr, *r;
	size_t i;
	int rc = pipeline ? sl_runs_of(p, pipeline, limit, &text) : sl_runs_list(p, limit, &text);
	int status = cli_take(p, rc, text, json, &arr);

	if (status >= 0)
		return status;
	if (json_array_size(arr) == 0)
		printf("no runs yet\n");
	else
		printf("%-12s  %-20s  %-9s  %-24s  %8s  %s\n", "RUN", "PIPELINE", "STATUS", "STARTED",
		       "DURATION", "STEPS");
	json_array_foreach(arr, i, r) {
		char dur[32];
		printf("%-12s  %-20s  %-9s  %-24s  %8s  %lld (%lld cached, %lld failed)\n",
		       cli_short(json_string_value(json_object_get(r, "run"))),
		       json_string_value(json_object_get(r, "pipeline")),
		       json_string_value(json_object_get(r, "status")),
		       json_string_value(json_object_get(r, "started")),
		       cli_duration(ms_to_s(json_object_get(r, "duration_ms")), dur, sizeof dur),
		       (long long)json_integer_value(json_object_get(r, "steps")),
		       (long long)json_integer_value(json_object_get(r, "cached")),
		       (long long)json_integer_value(json_object_get(r, "failed")));
	}
	json_decref(arr);
	return EXIT_OK;
}

static void print_outputs(const sl_step_view *v)
{
	for (size_t i = 0; i < v->n_outputs; i++)
		printf("%s%s=%s", i ? " " : "", v->output_names[i], cli_short(v->output_ids[i]));
	if (!v->n_outputs)
		printf("-");
}

/* 4294967296 -> "4G": a size as a step's resources gave it. */
static const char *human_bytes(double v, char *buf, size_t size)
{
	static const char units[] = "KMGTP";
	int u = -1;

	while (v >= 1024 && u < 4 && fmod(v, 1024) == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%.0f%c", v, units[u]);
	return buf;
}

/* A metric's history in one line: how many steps, first, last, best. */
static void print_series(const char *name, const double *x, size_t n)
{
	size_t lo = 0, hi = 0;
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (isnan(x[i]))
			continue;
		if (!any || x[i] < x[lo])
			lo = i;
		if (!any || x[i] > x[hi])
			hi = i;
		any = true;
	}
	printf("    series: %s, %zu %s", name, n, n == 1 ? "value" : "values");
	if (any)
		printf(": first %.6g, last %.6g, min %.6g at %zu, max %.6g at %zu", x[0], x[n - 1],
		       x[lo], lo, x[hi], hi);
	printf("\n");
}

static void print_resources(const char *text)
{
	json_t *res = text ? json_loads(text, 0, NULL) : NULL;
	const char *k;
	json_t *v;
	char b[32];

	if (!json_object_size(res)) {
		json_decref(res);
		return;
	}
	printf("    resources:");
	json_object_foreach(res, k, v) {
		if (!strcmp(k, "memory"))
			printf(" %s=%s", k, human_bytes(json_number_value(v), b, sizeof b));
		else if (!strcmp(k, "time"))
			printf(" %s=%s", k, cli_duration(json_number_value(v), b, sizeof b));
		else
			printf(" %s=%.15g", k, json_number_value(v));
	}
	printf("\n");
	json_decref(res);
}

/* sl_run_steps fills the run's head before the first step: print it then. */
typedef struct show_ctx {
	char *head;
	bool printed;
	json_t *searches; /* tune step name -> its `with` (what its trials searched) */
	json_t *best;     /* tune step name -> the name of its best trial */
} show_ctx;

/* A number as a person reads it: 0.0954452, not 0.095445199999999994. */
static void print_value(const json_t *v)
{
	char *t;

	if (json_is_real(v)) {
		printf("%.6g", json_real_value(v));
		return;
	}
	if (json_is_string(v)) {
		printf("%s", json_string_value(v));
		return;
	}
	t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	printf("%s", t ? t : "?");
	free(t);
}

/*
 * A tune step's trial, one line under its parent: the options it tried
 * and the metric the search ranks by.
 */
static void print_trial(const show_ctx *c, const sl_step_view *v, const char *dur)
{
	const json_t *with = json_object_get(c->searches, v->parent);
	json_t *params = v->params ? json_loads(v->params, 0, NULL) : NULL;
	const char *metric = json_string_value(json_object_get(with, "metric")), *k;
	static const char *const auto_metrics[] = {"valid_auc", "valid_logloss", "valid_rmse"};
	json_t *sv;

	const char *best = json_string_value(json_object_get(c->best, v->parent));

	printf("  %-20s%s  %-9s  %8s  %-5s ", v->name, best && !strcmp(best, v->name) ? " *" : "  ",
	       v->status, dur, v->cache_hit ? "hit" : "-");
	json_object_foreach(json_object_get(with, "search"), k, sv) {
		printf(" %s=", k);
		print_value(json_object_get(params, k));
	}
	{
		/* A halving search's resource: the share of rows, or the option grown. */
		const char *res = json_string_value(json_object_get(with, "resource"));
		const char *method = json_string_value(json_object_get(with, "method"));
		if (!res && method && !strcmp(method, "halving"))
			res = json_object_get(params, "rounds") ? "rounds" : "rows";
		if (res && !strcmp(res, "rows"))
			res = json_object_get(params, "sample_rows") ? "sample_rows" : NULL;
		if (res && method && !strcmp(method, "halving") && json_object_get(params, res)) {
			printf(" %s=", res);
			print_value(json_object_get(params, res));
		}
	}
	for (size_t a = 0; !metric && a < 3; a++)
		for (size_t i = 0; i < v->n_metrics; i++)
			if (!strcmp(v->metric_names[i], auto_metrics[a]))
				metric = auto_metrics[a];
	for (size_t i = 0; metric && i < v->n_metrics; i++)
		if (!strcmp(v->metric_names[i], metric))
			printf("  %s=%.6g", metric, v->metric_values[i]);
	printf("\n");
	if (v->error && strcmp(v->status, "cancelled") != 0)
		printf("      %s: %s\n", v->reason ? v->reason : "error", v->error);
	json_decref(params);
}

/*
 * One step's row and the lines under it: why it did not complete, where it
 * came from, what it asked for and measured. Steps arrive one at a time
 * (sl_run_steps), so a run of any size prints without being held whole. A
 * tune step's trials follow it, one line each.
 */
static int print_step(void *ud, const sl_step_view *v)
{
	show_ctx *c = ud;
	char dur[32];
	double secs = v->started_ms > 0 && v->ended_ms > 0
			      ? (double)(v->ended_ms - v->started_ms) / 1000.0 : -1;

	cli_duration(secs, dur, sizeof dur);
	if (v->parent && c) {
		print_trial(c, v, dur);
		return 0;
	}
	if (c && v->kind && !strcmp(v->kind, "uses:tune") && v->params) {
		json_t *w = json_loads(v->params, 0, NULL);
		if (!c->searches)
			c->searches = json_object();
		if (w && c->searches)
			json_object_set_new(c->searches, v->name, w);
		else
			json_decref(w);
		for (size_t i = 0; i < v->n_metrics; i++)
			if (!strcmp(v->metric_names[i], "best_trial") && isfinite(v->metric_values[i])) {
				char name[300];
				snprintf(name, sizeof name, "%s[%.0f]", v->name, v->metric_values[i]);
				if (!c->best)
					c->best = json_object();
				if (c->best)
					json_object_set_new(c->best, v->name, json_string(name));
			}
	}
	printf("%-24s  %-9s  %8s  %-5s  ", v->name, v->status, dur, v->cache_hit ? "hit" : "-");
	print_outputs(v);
	printf("\n");
	if (v->error && strcmp(v->status, "cancelled") != 0) {
		if (v->reason && strcmp(v->reason, "upstream") != 0)
			printf("    %s: %s\n", v->reason, v->error);
		else
			printf("    %s\n", v->error);
	}
	if (v->cached_from_run)
		printf("    cached: computed by run %s\n", cli_short(v->cached_from_run));
	if (v->job_id)
		printf("    job: %s\n", v->job_id);
	print_resources(v->resources);
	if (v->n_metrics) {
		printf("    metrics:");
		for (size_t i = 0; i < v->n_metrics; i++) {
			if (isnan(v->metric_values[i]))
				printf(" %s=-", v->metric_names[i]);
			else
				printf(" %s=%.15g", v->metric_names[i], v->metric_values[i]);
		}
		printf("\n");
	}
	for (size_t i = 0; i < v->n_series; i++)
		print_series(v->series_names[i], v->series_values[i], v->series_lengths[i]);
	return 0;
}

static void print_head(json_t *r)
{
	char dur[32];
	json_t *params = json_object_get(r, "params");

	printf("run       %s\npipeline  %s (%s)\nstatus    %s\nstarted   %s\nduration  %s\n",
	       json_string_value(json_object_get(r, "run")),
	       json_string_value(json_object_get(r, "pipeline")),
	       json_string_value(json_object_get(r, "file")),
	       json_string_value(json_object_get(r, "status")),
	       json_string_value(json_object_get(r, "started")),
	       cli_duration(ms_to_s(json_object_get(r, "duration_ms")), dur, sizeof dur));
	if (json_object_size(params)) {
		char *ps = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
		printf("params    %s\n", ps ? ps : "");
		free(ps);
	}
	printf("\n%-24s  %-9s  %8s  %-5s  %s\n", "STEP", "STATUS", "DURATION", "CACHE", "OUTPUTS");
}

static int print_head_once(show_ctx *c)
{
	json_t *r;

	if (c->printed || !c->head)
		return 0;
	c->printed = true;
	if (!(r = cli_parse(c->head)))
		return SL_EPARSE;
	print_head(r);
	json_decref(r);
	return 0;
}

static int print_step_after_head(void *ud, const sl_step_view *v)
{
	int rc = print_head_once(ud);

	return rc ? rc : print_step(ud, v);
}

static int show_run(sl_project *p, const char *run, bool json)
{
	show_ctx c = {0};
	char *text = NULL;
	json_t *r;
	int rc;

	if (json) {
		rc = sl_run_show(p, run, &text);
		return cli_take(p, rc, text, true, &r);
	}
	/* Steps stream in one at a time: a run of any size shows without being
	 * held whole as JSON. */
	rc = sl_run_steps(p, run, print_step_after_head, &c, &c.head);
	if (rc == 0)
		rc = print_head_once(&c); /* a run without steps */
	sl_free(c.head);
	json_decref(c.searches);
	json_decref(c.best);
	if (rc == SL_EPARSE)
		return EXIT_WORK;
	return rc ? cli_fail(rc, sl_project_errmsg(p)) : EXIT_OK;
}

static int print_log(sl_project *p, const char *run, const char *step)
{
	char *path = NULL, *from = NULL;
	char buf[65536];
	size_t n;
	FILE *f;
	int rc = sl_run_log_find(p, run, step, &path, &from);

	if (rc)
		return cli_fail(rc, sl_project_errmsg(p));
	if (from)
		fprintf(stderr, "sluice: step '%s' came from the cache; this is the log of run %s, "
				"which computed it\n",
			step, cli_short(from));
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "sluice: the log %s is gone\n", path);
		sl_free(path);
		sl_free(from);
		return EXIT_WORK;
	}
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	sl_free(path);
	sl_free(from);
	return EXIT_OK;
}

/* One value of a comparison, as a person reads it, into buf. */
static const char *cell(const json_t *v, char *buf, size_t size)
{
	char *t;

	if (json_is_null(v) || !v)
		snprintf(buf, size, "-");
	else if (json_is_real(v))
		snprintf(buf, size, "%.6g", json_real_value(v));
	else if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else {
		t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, size, "%s", t ? t : "?");
		free(t);
	}
	return buf;
}

static bool marked_best(const json_t *row, size_t i)
{
	size_t k;
	const json_t *v;

	json_array_foreach(json_object_get(row, "best"), k, v)
		if (json_integer_value(v) == (json_int_t)i)
			return true;
	return false;
}

/* Rows grouped by step: the run's parameters first, then each step's. */
static void print_rows(const char *what, const json_t *rows, size_t n_runs)
{
	const char *last = "\x01";
	const json_t *row;
	size_t i;

	json_array_foreach(rows, i, row) {
		const char *step = json_string_value(json_object_get(row, "step"));
		const json_t *v;
		size_t k;
		if (strcmp(step ? step : "", last) != 0) {
			printf("%s%s\n", step ? step : "(run parameters)",
			       step ? what : "");
			last = step ? step : "";
		}
		printf("  %-30s", json_string_value(json_object_get(row, "name")));
		json_array_foreach(json_object_get(row, "values"), k, v) {
			char buf[64];
			printf("  %-14s%s", cell(v, buf, sizeof buf), marked_best(row, k) ? "*" : " ");
		}
		(void)n_runs;
		printf("\n");
	}
}

static int compare_runs(sl_project *p, char **runs, size_t n, const char *pipeline, int last,
			bool all, bool json, const char *html)
{
	char *text = NULL, **ids = NULL;
	const char **refs = (const char **)runs;
	json_t *cmp = NULL, *r;
	size_t i;
	int rc, status;

	if (pipeline) {
		json_t *list;
		rc = sl_runs_of(p, pipeline, last, &text);
		if (rc)
			return cli_fail(rc, sl_project_errmsg(p));
		list = cli_parse(text);
		sl_free(text);
		text = NULL;
		n = json_array_size(list);
		if (n == 0) {
			json_decref(list);
			fprintf(stderr, "sluice: pipeline '%s' has no runs\n", pipeline);
			return EXIT_USAGE;
		}
		ids = calloc(n, sizeof *ids);
		/* Oldest first, as runs given on the command line read left to right. */
		for (i = 0; ids && i < n; i++)
			ids[i] = strdup(json_string_value(json_object_get(json_array_get(list, n - 1 - i),
									  "run")));
		json_decref(list);
		if (!ids)
			return cli_fail(SL_ENOMEM, "out of memory");
		refs = (const char **)ids;
	}
	rc = sl_runs_compare(p, refs, n, all ? SL_COMPARE_ALL : 0, &text);
	for (i = 0; ids && i < n; i++)
		free(ids[i]);
	free(ids);
	if (rc == 0 && html) {
		rc = sl_runs_compare_html(text, html);
		if (rc) {
			sl_free(text);
			return cli_fail(rc, sl_errmsg());
		}
	}
	if (rc == 0 && html)
		fprintf(stderr, "sluice: wrote %s\n", html);
	status = cli_take(p, rc, text, json, &cmp);
	if (status >= 0)
		return status;
	printf("%-32s", "");
	json_array_foreach(json_object_get(cmp, "runs"), i, r)
		printf("  %-15s", cli_short(json_string_value(json_object_get(r, "run"))));
	printf("\n");
	if (json_array_size(json_object_get(cmp, "params")) == 0 &&
	    json_array_size(json_object_get(cmp, "metrics")) == 0)
		printf("(nothing differs; --all lists everything)\n");
	print_rows(" options", json_object_get(cmp, "params"), n);
	print_rows(" metrics", json_object_get(cmp, "metrics"), n);
	json_decref(cmp);
	return EXIT_OK;
}

static int runs_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'}, {"limit", required_argument, NULL, 'n'},
		{"log", required_argument, NULL, 'L'}, {"pipeline", required_argument, NULL, 'P'},
		{"sort", required_argument, NULL, 'S'}, {"last", required_argument, NULL, 'T'},
		{"all", no_argument, NULL, 'A'}, {"html", required_argument, NULL, 'H'},
		CLI_HELP_OPT, {NULL, 0, NULL, 0},
	};
	bool json = false, all = false;
	const char *log_step = NULL, *pipeline = NULL, *sort = NULL, *html = NULL, *sub;
	int limit = 20, last = 0, c, status;
	sl_project *p;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = true;
			break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0)
				return cli_usage("runs", "-n wants a count, not '%s'", optarg);
			limit = (int)v;
			break;
		}
		case 'L':
			log_step = optarg;
			break;
		case 'P':
			pipeline = optarg;
			break;
		case 'S':
			sort = optarg;
			break;
		case 'T': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1)
				return cli_usage("runs", "--last wants a count of runs, not '%s'", optarg);
			last = (int)v;
			break;
		}
		case 'A':
			all = true;
			break;
		case 'H':
			html = optarg;
			break;
		case 'h':
			return cli_help_for(&cmd_runs);
		default:
			return cli_bad_option("runs", argv, longopts, "n:h");
		}
	}
	sub = optind < argc ? argv[optind] : NULL;
	if (sub && strcmp(sub, "show") != 0 && strcmp(sub, "compare") != 0)
		return cli_usage("runs", "unknown subcommand '%s' (show or compare)", sub);
	if (sub && !strcmp(sub, "show") && argc - optind != 2)
		return cli_usage("runs", "'runs show' wants one RUN");
	if (!(sub && !strcmp(sub, "show")) && log_step)
		return cli_usage("runs", "--log goes with 'runs show RUN'");
	if (sort && (sub || !pipeline))
		return cli_usage("runs", "--sort ranks the runs of one pipeline: sluice runs "
					 "--pipeline NAME --sort METRIC");
	if ((last || all || html) && !(sub && !strcmp(sub, "compare")))
		return cli_usage("runs", "--last, --all and --html go with 'runs compare'");
	if (sub && !strcmp(sub, "compare")) {
		if (pipeline && argc - optind > 1)
			return cli_usage("runs", "compare RUN... or --pipeline NAME --last N, not both");
		if (pipeline && !last)
			return cli_usage("runs", "compare --pipeline NAME wants --last N");
		if (!pipeline && argc - optind < 2)
			return cli_usage("runs", "compare wants runs: RUN RUN..., or --pipeline NAME "
						 "--last N");
	}
	status = cli_open(&p);
	if (status)
		return status;
	if (!sub && sort)
		status = list_ranked(p, pipeline, sort, limit, json);
	else if (!sub)
		status = list_runs(p, pipeline, limit, json);
	else if (!strcmp(sub, "compare"))
		status = compare_runs(p, argv + optind + 1, (size_t)(argc - optind - 1), pipeline, last,
				      all, json, html);
	else if (log_step)
		status = print_log(p, argv[optind + 1], log_step);
	else
		status = show_run(p, argv[optind + 1], json);
	sl_project_close(p);
	return status;
}

const cli_cmd cmd_runs = {"runs", runs_main,
			  "list runs; show one run's steps, cache hits, logs; compare runs",
			  help};
