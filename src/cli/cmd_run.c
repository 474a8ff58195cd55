/*
 * sluice run PIPELINE.yaml [-j N] [-p k=v]... [--no-cache] [--json]
 *
 * Progress: on a terminal, one line per finished step and a status line
 * rewritten in place; otherwise plain lines, one per event, for logs and CI.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice run PIPELINE.yaml [-j N] [-p NAME=VALUE]... [--no-cache] [--json] [-q]\n"
	"\n"
	"Runs a pipeline. Steps run in parallel as their inputs become ready, each in\n"
	"its own process; a step whose definition, code and inputs are unchanged is\n"
	"served from the cache instead of running.\n"
	"\n"
	"  -j, --jobs N        run at most N steps at once (default: number of cores)\n"
	"  -p, --param K=V     override parameter K (repeatable); V is read as YAML\n"
	"      --no-cache      run every step, ignoring the cache\n"
	"      --json          when the run ends, print it as 'sluice runs show RUN --json' does\n"
	"  -q, --quiet         no progress output; failures are still reported\n"
	"\n"
	"Ctrl-C (SIGINT) or SIGTERM stops the running steps and records the run as\n"
	"cancelled. Exit status: 0 all steps completed, 1 a step failed (an error, a\n"
	"crash, a timeout or a failed gate) or the run was cancelled, 2 the pipeline\n"
	"file is invalid (nothing ran) or the steps that failed failed on bad input\n"
	"(a missing or malformed file).\n";

static sl_cancel *cancel_token;

static void on_signal(int sig)
{
	(void)sig;
	sl_cancel_request(cancel_token); /* async-signal-safe: one write */
}

typedef struct progress {
	bool tty;
	bool quiet;
	bool status_shown;
	char **running; /* names of the steps running now, for the status line */
	size_t n_running, cap;
} progress;

static void track(progress *pg, const char *step, bool started)
{
	if (started) {
		if (pg->n_running == pg->cap) {
			size_t cap = pg->cap ? pg->cap * 2 : 8;
			char **r = realloc(pg->running, cap * sizeof *r);
			if (!r)
				return;
			pg->running = r;
			pg->cap = cap;
		}
		char *name = strdup(step);
		if (name)
			pg->running[pg->n_running++] = name;
		return;
	}
	for (size_t i = 0; i < pg->n_running; i++) {
		if (!strcmp(pg->running[i], step)) {
			free(pg->running[i]);
			pg->running[i] = pg->running[--pg->n_running];
			return;
		}
	}
}

static void clear_status(progress *pg)
{
	if (pg->status_shown) {
		fputs("\r\033[K", stderr);
		pg->status_shown = false;
	}
}

/* " (gate)": the reason of a failure, when it says more than "failed". */
static const char *reason_note(const sl_event *ev, char *buf, size_t size)
{
	buf[0] = '\0';
	if (ev->reason && strcmp(ev->reason, "upstream") != 0 && strcmp(ev->reason, "cancelled") != 0)
		snprintf(buf, size, " (%s)", ev->reason);
	return buf;
}

static void on_event(void *ud, const sl_event *ev)
{
	progress *pg = ud;
	char dur[32], note[48], count[32];
	const char *mark, *color = "", *reset = "";

	if (pg->quiet) {
		/* Quiet is about progress, not about failures. */
		if (ev->kind == SL_EVENT_STEP_END && !strcmp(ev->status, "failed"))
			fprintf(stderr, "step %s: failed%s: %s\n", ev->step,
				reason_note(ev, note, sizeof note), ev->message ? ev->message : "");
		return;
	}
	if (!pg->tty) {
		switch (ev->kind) {
		case SL_EVENT_RUN_START:
			fprintf(stderr, "run %s: pipeline %s, %s\n", cli_short(ev->run_id),
				ev->pipeline, cli_plural(ev->n_total, "step", "steps", count, sizeof count));
			break;
		case SL_EVENT_STEP_START:
			fprintf(stderr, "step %s: started\n", ev->step);
			break;
		case SL_EVENT_STEP_END:
			if (!strcmp(ev->status, "cached") || !strcmp(ev->status, "skipped"))
				fprintf(stderr, "step %s: %s%s%s\n", ev->step, ev->status,
					ev->message ? ": " : "", ev->message ? ev->message : "");
			else
				fprintf(stderr, "step %s: %s%s in %s%s%s\n", ev->step, ev->status,
					reason_note(ev, note, sizeof note),
					cli_duration(ev->seconds, dur, sizeof dur), ev->message ? ": " : "",
					ev->message ? ev->message : "");
			break;
		case SL_EVENT_RUN_END:
			fprintf(stderr, "run %s: %s in %s\n", cli_short(ev->run_id), ev->status,
				cli_duration(ev->seconds, dur, sizeof dur));
			break;
		}
		fflush(stderr);
		return;
	}

	clear_status(pg);
	if (ev->kind == SL_EVENT_STEP_START || ev->kind == SL_EVENT_STEP_END)
		track(pg, ev->step, ev->kind == SL_EVENT_STEP_START);
	switch (ev->kind) {
	case SL_EVENT_RUN_START:
		fprintf(stderr, "\033[1mrun %s\033[0m  %s, %s\n", cli_short(ev->run_id),
			ev->pipeline, cli_plural(ev->n_total, "step", "steps", count, sizeof count));
		break;
	case SL_EVENT_STEP_START:
		break;
	case SL_EVENT_STEP_END:
		reset = "\033[0m";
		if (!strcmp(ev->status, "completed")) {
			mark = "✓";
			color = "\033[32m";
		} else if (!strcmp(ev->status, "cached")) {
			mark = "↺";
			color = "\033[36m";
		} else if (!strcmp(ev->status, "failed")) {
			mark = "✗";
			color = "\033[31m";
		} else {
			mark = "–";
			color = "\033[33m";
		}
		fprintf(stderr, "  %s%s %-24s %-9s%s %8s%s%s%s\n", color, mark, ev->step, ev->status,
			reset,
			strcmp(ev->status, "completed") && strcmp(ev->status, "failed")
				? ""
				: cli_duration(ev->seconds, dur, sizeof dur),
			reason_note(ev, note, sizeof note), ev->message ? "  " : "",
			ev->message ? ev->message : "");
		break;
	case SL_EVENT_RUN_END:
		fprintf(stderr, "\033[1m%s\033[0m in %s\n", ev->status,
			cli_duration(ev->seconds, dur, sizeof dur));
		return;
	}
	if (ev->kind != SL_EVENT_RUN_END && ev->n_done < ev->n_total && pg->n_running) {
		/* One line, cut to a terminal's width, naming what runs now. */
		char line[100];
		size_t n = (size_t)snprintf(line, sizeof line, "  [%d/%d] running:", ev->n_done,
					    ev->n_total);
		for (size_t i = 0; i < pg->n_running && n < sizeof line; i++)
			n += (size_t)snprintf(line + n, sizeof line - n, "%s %s", i ? "," : "",
					      pg->running[i]);
		fputs(line, stderr);
		pg->status_shown = true;
	}
	fflush(stderr);
}

static int run_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"jobs", required_argument, NULL, 'j'}, {"param", required_argument, NULL, 'p'},
		{"no-cache", no_argument, NULL, 'N'},   {"json", no_argument, NULL, 'J'},
		{"quiet", no_argument, NULL, 'q'},      CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	const char **params = NULL;
	size_t n_params = 0;
	sl_run_opts opts;
	progress pg = {0};
	bool json = false;
	sl_project *p = NULL;
	char *run_id = NULL;
	struct sigaction sa;
	int c, rc, status;

	memset(&opts, 0, sizeof opts);
	params = calloc((size_t)argc + 1, sizeof *params);
	if (!params)
		return cli_fail(SL_ENOMEM, NULL);
	optind = 1;
	while ((c = getopt_long(argc, argv, "j:p:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': {
			char *end;
			long j = strtol(optarg, &end, 10);
			if (*end || j < 1 || j > 1024) {
				free(params);
				return cli_usage("run", "-j wants a number from 1 to 1024, not '%s'",
						 optarg);
			}
			opts.jobs = (int)j;
			break;
		}
		case 'p':
			if (!strchr(optarg, '=')) {
				free(params);
				return cli_usage("run", "-p wants NAME=VALUE, not '%s'", optarg);
			}
			params[n_params++] = optarg;
			break;
		case 'N':
			opts.no_cache = 1;
			break;
		case 'J':
			json = true;
			break;
		case 'q':
			pg.quiet = true;
			break;
		case 'h':
			free(params);
			return cli_help_for(&cmd_run);
		default:
			free(params);
			return cli_bad_option("run", argv, longopts, "j:p:qh");
		}
	}
	if (argc - optind != 1) {
		free(params);
		return cli_usage("run", argc - optind ? "one pipeline file at a time"
						       : "which pipeline file?");
	}
	status = cli_open(&p);
	if (status) {
		free(params);
		return status;
	}

	rc = sl_cancel_create(&cancel_token);
	if (rc) {
		sl_project_close(p);
		free(params);
		return cli_fail(rc, sl_errmsg());
	}
	/* The handler only writes to the token's descriptor, which wakes the run. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	pg.tty = cli_tty(stderr);
	opts.params = params;
	opts.n_params = n_params;
	opts.on_event = on_event;
	opts.event_ud = &pg;
	opts.cancel_token = cancel_token;
	rc = sl_run(p, argv[optind], &opts, &run_id);
	clear_status(&pg);
	switch (rc) {
	case SL_OK:
		status = EXIT_OK;
		break;
	case SL_ESTEP:
	case SL_EGATE:
	case SL_EINPUT:
		/* Said even under -q: a failing run is never silent. */
		fprintf(stderr, "sluice: %s; see 'sluice runs show %s'\n", sl_project_errmsg(p),
			cli_short(run_id));
		status = rc == SL_EINPUT ? EXIT_USAGE : EXIT_WORK;
		break;
	case SL_ECANCEL:
		status = EXIT_WORK;
		break;
	default:
		status = cli_fail(rc, sl_project_errmsg(p));
		/* A run that started and then stopped failed as work, not as usage. */
		if (run_id && status == EXIT_USAGE)
			status = EXIT_WORK;
		break;
	}
	if (json && run_id) {
		char *out = NULL;
		if (sl_run_show(p, run_id, &out) == 0)
			cli_print_json(out);
		sl_free(out);
	}
	sl_free(run_id);
	sl_project_close(p);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sl_cancel_destroy(cancel_token);
	cancel_token = NULL;
	free(params);
	for (size_t i = 0; i < pg.n_running; i++)
		free(pg.running[i]);
	free(pg.running);
	return status;
}

const cli_cmd cmd_run = {"run", run_main, "run a pipeline", help};
