/*
 * sluice runs [--json] [-n N]
 * sluice runs show RUN [--json] [--log STEP]
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice runs [-n N] [--json]\n"
	"       sluice runs show RUN [--json] [--log STEP]\n"
	"\n"
	"Lists runs, newest first, or shows one run: its steps with status, duration,\n"
	"whether each came from the cache, the artifacts it produced, and the reason\n"
	"of each failure. RUN is a run id, a unique prefix of one, or 'latest'.\n"
	"\n"
	"  -n, --limit N   list at most N runs (default 20; 0 for all)\n"
	"      --json      machine-readable output (fields are stable)\n"
	"      --log STEP  print the log of STEP in RUN (for a cached step, the log of\n"
	"                  the run that computed it)\n";

static double ms_to_s(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) / 1000.0 : -1;
}

static int list_runs(sl_project *p, int limit, bool json)
{
	char *text = NULL;
	json_t *arr, *r;
	size_t i;
	int rc = sl_runs_list(p, limit, &text);
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

/*
 * One step's row and the lines under it: why it did not complete, where it
 * came from, what it asked for and measured. Steps arrive one at a time
 * (sl_run_steps), so a run of any size prints without being held whole.
 */
static int print_step(void *ud, const sl_step_view *v)
{
	char dur[32];
	double secs = v->started_ms > 0 && v->ended_ms > 0
			      ? (double)(v->ended_ms - v->started_ms) / 1000.0 : -1;

	(void)ud;
	printf("%-24s  %-9s  %8s  %-5s  ", v->name, v->status, cli_duration(secs, dur, sizeof dur),
	       v->cache_hit ? "hit" : "-");
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

/* sl_run_steps fills the run's head before the first step: print it then. */
typedef struct show_ctx {
	char *head;
	bool printed;
} show_ctx;

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

	return rc ? rc : print_step(NULL, v);
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

static int runs_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'}, {"limit", required_argument, NULL, 'n'},
		{"log", required_argument, NULL, 'L'}, CLI_HELP_OPT, {NULL, 0, NULL, 0},
	};
	bool json = false;
	const char *log_step = NULL;
	int limit = 20, c, status;
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
		case 'h':
			return cli_help_for(&cmd_runs);
		default:
			return cli_bad_option("runs", argv, longopts, "n:h");
		}
	}
	if (optind < argc && strcmp(argv[optind], "show") != 0)
		return cli_usage("runs", "unknown subcommand '%s'", argv[optind]);
	if (optind < argc && argc - optind != 2)
		return cli_usage("runs", "'runs show' wants one RUN");
	if (optind == argc && log_step)
		return cli_usage("runs", "--log goes with 'runs show RUN'");
	status = cli_open(&p);
	if (status)
		return status;
	if (optind == argc)
		status = list_runs(p, limit, json);
	else if (log_step)
		status = print_log(p, argv[optind + 1], log_step);
	else
		status = show_run(p, argv[optind + 1], json);
	sl_project_close(p);
	return status;
}

const cli_cmd cmd_runs = {"runs", runs_main, "list runs; show one run's steps, cache hits, logs",
			  help};
