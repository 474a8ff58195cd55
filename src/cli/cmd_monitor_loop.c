/*
 * The monitoring loop's verbs, under `sluice monitor` (cmd_monitor.c's
 * table of subcommands):
 *
 *   sluice monitor watch [--model NAME]... [--interval S] [--once] [--json]
 *   sluice monitor events [--model NAME] [--kind K] [--run RUN] [--since T] [-n N] [--json]
 *   sluice monitor retrain --model NAME [--reason TEXT] [--json]
 *
 * Only the public API (sluice.h, watch.h).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_monitor_loop.h"

const char monitor_watch_help[] =
	"usage: sluice monitor watch [--model NAME]... [--interval S] [--once] [--json]\n"
	"\n"
	"The monitoring loop. Every interval it evaluates each watched model's newest\n"
	"window of production traffic (the version its production alias names), sends\n"
	"the alerts of sluice.yaml monitoring.alert and canvas.yaml\n"
	"live_monitoring.alert (both apply; a sluice.yaml rule overrides the canvas's\n"
	"rule of the same name), and on the triggers of building_models.retrain_on\n"
	"(drift, decay, cadence) runs the retraining pipeline\n"
	"(building_models.pipeline). A challenger whose gates pass replaces\n"
	"production when auto_promote is true: the alias moves, recorded with who\n"
	"'sluice-monitor' and the trigger as the reason, and a server following the\n"
	"alias reloads. A failed or refused run never touches production. Pipelines of\n"
	"sluice.yaml's schedules: run when their cron expression comes due. Every\n"
	"decision is an event ('sluice monitor events'). SIGTERM or SIGINT stop it\n"
	"(a retraining run in flight is cancelled); 'sluice serve --monitor' runs the\n"
	"same loop inside the server.\n"
	"\n"
	"  -m, --model NAME   watch this registered model (repeat; default: every model\n"
	"                     with a production alias)\n"
	"      --alias A      the alias that is production (default production)\n"
	"      --interval S   seconds between evaluations (default: sluice.yaml\n"
	"                     monitoring.interval, else 60)\n"
	"      --once         evaluate once (and finish a run it starts), then exit\n"
	"  -j, --jobs N       parallel steps of a retraining run (default: one per core)\n"
	"      --json         print each event as one JSON line\n"
	"\n"
	"See docs/monitoring.md.\n";

const char monitor_events_help[] =
	"usage: sluice monitor events [--model NAME] [--kind K] [--run RUN] [--since TIME]\n"
	"                             [-n N] [--json]\n"
	"\n"
	"The monitoring loop's decisions, oldest first: alerts and their resolution\n"
	"(and, for a delivery that failed, how its retries ended), triggers with their\n"
	"evidence, retraining runs, and what became of each challenger (promoted,\n"
	"candidate, refused, failed; unchanged when the run was served from the cache\n"
	"and had nothing new to learn from). An alert acknowledged (sluice monitor\n"
	"ack, or the web UI by a role that may alert.ack) is followed by a line saying\n"
	"who took it on and when. --json prints a JSON array of {seq, at, kind,\n"
	"model, detail, run, ack}, ack being {by, at, note} or null.\n"
	"\n"
	"  -m, --model NAME   one model's events\n"
	"      --kind K       one kind (alert, resolved, delivered, undelivered, trigger,\n"
	"                     coalesced, retrain, promoted, candidate, refused,\n"
	"                     unchanged, failed, schedule, error)\n"
	"      --run RUN      the events of one run\n"
	"      --since TIME   ISO 8601 (2026-11-30 or 2026-11-30T12:00:00Z)\n"
	"  -n, --limit N      the newest N (default: all)\n"
	"      --json         machine-readable output\n";

const char monitor_retrain_help[] =
	"usage: sluice monitor retrain --model NAME [--reason TEXT] [--json]\n"
	"\n"
	"Retrains now, as a trigger of the monitoring loop would: runs the retraining\n"
	"pipeline on the production window's traffic, judges the challenger and, with\n"
	"auto_promote, promotes it. Prints the decision's event. Exit 0 when a decision\n"
	"was made (see its kind), 1 when another retraining run of the model is in\n"
	"flight or the loop could not run.\n"
	"\n"
	"  -m, --model NAME   the registered model\n"
	"      --alias A      the alias that is production (default production)\n"
	"      --reason TEXT  recorded with the trigger and the promotion\n"
	"  -j, --jobs N       parallel steps of the run (default: one per core)\n"
	"      --json         print the event as JSON\n";

const char monitor_ack_help[] =
	"usage: sluice monitor ack SEQ [--note TEXT] [--json]\n"
	"\n"
	"Acknowledges alert SEQ (the seq `sluice monitor events` prints) as the OS\n"
	"user: someone has taken it on. Recorded once, with the time and the note, and\n"
	"shown by `sluice monitor events` and the web UI's monitoring page (where the\n"
	"same is done by a role that may alert.ack). Exit 2 when SEQ is no event, not\n"
	"an alert, or acknowledged already (the message says by whom).\n"
	"\n"
	"      --note TEXT    why, or what is being done about it\n"
	"      --json         print the event with its ack as JSON\n";

/* One event in a line: "2026-11-30T14:03:11Z  promoted  spam  run 3f2a9c1b7e20  ...". */
static void print_event(const json_t *e)
{
	const char *run = json_string_value(json_object_get(e, "run"));
	char *detail = json_dumps(json_object_get(e, "detail"), JSON_COMPACT);

	const json_t *ack = json_object_get(e, "ack");

	printf("%-20s  %-9s  %-12s  %-16s  %.200s\n", json_string_value(json_object_get(e, "at")),
	       json_string_value(json_object_get(e, "kind")),
	       json_string_value(json_object_get(e, "model")) ?: "-",
	       run ? cli_short(run) : "-", detail ? detail : "");
	free(detail);
	if (json_is_object(ack))
		printf("%-20s  %-9s  alert %lld acknowledged by %s%s%s\n",
		       json_string_value(json_object_get(ack, "at")), "ack",
		       (long long)json_integer_value(json_object_get(e, "seq")),
		       json_string_value(json_object_get(ack, "by")),
		       json_string_value(json_object_get(ack, "note")) ? ": " : "",
		       json_string_value(json_object_get(ack, "note")) ?: "");
}

/* ---- watch -------------------------------------------------------------------------- */

static sl_cancel *watch_cancel;

static void on_signal(int sig)
{
	(void)sig;
	sl_cancel_request(watch_cancel);
}

static void on_event(void *ud, const char *line)
{
	bool json = *(bool *)ud;
	json_t *e;

	if (json) {
		printf("%s\n", line);
	} else if ((e = json_loads(line, 0, NULL))) {
		print_event(e);
		json_decref(e);
	}
	fflush(stdout);
}

static bool parse_count(const char *s, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 0 || v > max)
		return false;
	*out = v;
	return true;
}

int monitor_watch_main(int argc, char **argv)
{
	enum { O_ALIAS = 256, O_INTERVAL, O_ONCE, O_JSON };
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"alias", required_argument, NULL, O_ALIAS},
		{"interval", required_argument, NULL, O_INTERVAL},
		{"once", no_argument, NULL, O_ONCE},
		{"jobs", required_argument, NULL, 'j'},
		{"json", no_argument, NULL, O_JSON},
		CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	const char **models = calloc((size_t)argc + 1, sizeof *models);
	sl_watch_opts o;
	sl_project *p = NULL;
	struct sigaction sa;
	bool json = false;
	long v;
	int c, rc, status;

	if (!models)
		return cli_fail(SL_ENOMEM, "out of memory");
	sl_watch_opts_init(&o);
	o.models = models;
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:j:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			models[o.n_models++] = optarg;
			break;
		case O_ALIAS:
			o.alias = optarg;
			break;
		case O_INTERVAL:
			if (!parse_count(optarg, 86400 * 7, &v) || v == 0) {
				free(models);
				return cli_usage("monitor watch", "--interval takes 1 to 604800 seconds, "
								  "not '%s'",
						 optarg);
			}
			o.interval_s = (unsigned)v;
			break;
		case O_ONCE:
			o.once = 1;
			break;
		case 'j':
			if (!parse_count(optarg, 1024, &v)) {
				free(models);
				return cli_usage("monitor watch", "bad --jobs '%s'", optarg);
			}
			o.jobs = (int)v;
			break;
		case O_JSON:
			json = true;
			break;
		case 'h':
			free(models);
			fputs(monitor_watch_help, stdout);
			return EXIT_OK;
		default:
			free(models);
			return cli_bad_option("monitor watch", argv, longopts, "m:j:");
		}
	}
	if (optind < argc) {
		free(models);
		return cli_usage("monitor watch", "unexpected argument '%s'", argv[optind]);
	}
	if ((status = cli_open(&p)) != EXIT_OK) {
		free(models);
		return status;
	}
	if ((rc = sl_cancel_create(&watch_cancel)) != 0) {
		sl_project_close(p);
		free(models);
		return cli_fail(rc, sl_errmsg());
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	o.cancel = watch_cancel;
	o.on_event = on_event;
	o.event_ud = &json;
	if (!json && !o.once)
		fprintf(stderr, "sluice monitor: watching%s\n",
			o.n_models ? "" : " every model with a production alias");
	rc = sl_monitor_watch(p, &o);
	/* A stop asked for by a signal is how the loop ends: not a failure. */
	status = rc == 0 || rc == SL_ECANCEL ? EXIT_OK : cli_fail(rc, sl_project_errmsg(p));
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sl_cancel_destroy(watch_cancel);
	watch_cancel = NULL;
	sl_project_close(p);
	free(models);
	return status;
}

/* ---- events ------------------------------------------------------------------------- */

int monitor_events_main(int argc, char **argv)
{
	enum { O_KIND = 256, O_RUN, O_SINCE, O_JSON };
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"kind", required_argument, NULL, O_KIND},
		{"run", required_argument, NULL, O_RUN},
		{"since", required_argument, NULL, O_SINCE},
		{"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, O_JSON},
		CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	sl_events_filter f;
	sl_project *p = NULL;
	char *text = NULL;
	json_t *arr = NULL, *e;
	bool json = false;
	size_t i;
	long v;
	int c, status;

	memset(&f, 0, sizeof f);
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			f.model = optarg;
			break;
		case O_KIND:
			f.kind = optarg;
			break;
		case O_RUN:
			f.run = optarg;
			break;
		case O_SINCE:
			f.since = optarg;
			break;
		case 'n':
			if (!parse_count(optarg, 100000000, &v))
				return cli_usage("monitor events", "bad --limit '%s'", optarg);
			f.limit = (size_t)v;
			break;
		case O_JSON:
			json = true;
			break;
		case 'h':
			fputs(monitor_events_help, stdout);
			return EXIT_OK;
		default:
			return cli_bad_option("monitor events", argv, longopts, "m:n:");
		}
	}
	if (optind < argc)
		return cli_usage("monitor events", "unexpected argument '%s'", argv[optind]);
	if ((status = cli_open(&p)) != EXIT_OK)
		return status;
	int rc = sl_monitor_events(p, &f, &text);
	status = cli_take(p, rc, text, json, &arr);
	if (status == -1) {
		if (json_array_size(arr) == 0)
			printf("no events\n");
		json_array_foreach(arr, i, e)
			print_event(e);
		json_decref(arr);
		status = EXIT_OK;
	}
	sl_project_close(p);
	return status;
}

/* ---- retrain ------------------------------------------------------------------------- */

/* The end of a verb that answers one event: printed as a line or as JSON; closes p. */
static int take_event(sl_project *p, int rc, char *text, bool json)
{
	json_t *e = NULL;
	int status = cli_take(p, rc, text, json, &e);

	if (status == -1) {
		print_event(e);
		json_decref(e);
		status = EXIT_OK;
	}
	sl_project_close(p);
	return status;
}

int monitor_retrain_main(int argc, char **argv)
{
	enum { O_ALIAS = 256, O_REASON, O_JSON };
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"alias", required_argument, NULL, O_ALIAS},
		{"reason", required_argument, NULL, O_REASON},
		{"jobs", required_argument, NULL, 'j'},
		{"json", no_argument, NULL, O_JSON},
		CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	const char *model = NULL, *reason = NULL;
	sl_watch_opts o;
	sl_project *p = NULL;
	char *text = NULL;
	bool json = false;
	long v;
	int c, status;

	sl_watch_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:j:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			model = optarg;
			break;
		case O_ALIAS:
			o.alias = optarg;
			break;
		case O_REASON:
			reason = optarg;
			break;
		case 'j':
			if (!parse_count(optarg, 1024, &v))
				return cli_usage("monitor retrain", "bad --jobs '%s'", optarg);
			o.jobs = (int)v;
			break;
		case O_JSON:
			json = true;
			break;
		case 'h':
			fputs(monitor_retrain_help, stdout);
			return EXIT_OK;
		default:
			return cli_bad_option("monitor retrain", argv, longopts, "m:j:");
		}
	}
	if (optind < argc)
		return cli_usage("monitor retrain", "unexpected argument '%s'", argv[optind]);
	if (!model)
		return cli_usage("monitor retrain", "give --model NAME");
	if ((status = cli_open(&p)) != EXIT_OK)
		return status;
	int rc = sl_monitor_retrain(p, model, reason, &o, &text);
	return take_event(p, rc, text, json);
}

int monitor_ack_main(int argc, char **argv)
{
	enum { O_NOTE = 256, O_JSON };
	static const struct option longopts[] = {
		{"note", required_argument, NULL, O_NOTE},
		{"json", no_argument, NULL, O_JSON},
		CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	const char *note = NULL;
	sl_project *p = NULL;
	char *text = NULL;
	bool json = false;
	long seq;
	int c, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_NOTE:
			note = optarg;
			break;
		case O_JSON:
			json = true;
			break;
		case 'h':
			fputs(monitor_ack_help, stdout);
			return EXIT_OK;
		default:
			return cli_bad_option("monitor ack", argv, longopts, "");
		}
	}
	if (optind >= argc)
		return cli_usage("monitor ack", "give the alert's SEQ (see sluice monitor events)");
	if (!parse_count(argv[optind], 1L << 62, &seq) || seq < 1)
		return cli_usage("monitor ack", "SEQ must be an event number, not '%s'", argv[optind]);
	if (optind + 1 < argc)
		return cli_usage("monitor ack", "unexpected argument '%s'", argv[optind + 1]);
	if ((status = cli_open(&p)) != EXIT_OK)
		return status;
	int rc = sl_monitor_ack(p, seq, NULL, note, &text);
	return take_event(p, rc, text, json);
}

/* ---- serve --monitor ------------------------------------------------------------------ */

struct monitor_thread {
	pthread_t tid;
	sl_project *p;
	sl_cancel *cancel;
	sl_watch_opts o;
	int rc;
	char msg[1024];
};

static void on_server_event(void *ud, const char *line)
{
	(void)ud;
	fprintf(stderr, "sluice serve: monitor: %s\n", line);
}

static void *monitor_run(void *arg)
{
	monitor_thread *t = arg;

	pthread_setname_np(pthread_self(), "sl-monitor");
	t->rc = sl_monitor_watch(t->p, &t->o);
	if (t->rc && t->rc != SL_ECANCEL) {
		snprintf(t->msg, sizeof t->msg, "%s", sl_project_errmsg(t->p));
		fprintf(stderr, "sluice serve: the monitor stopped: %s\n", t->msg);
	}
	return NULL;
}

int monitor_thread_start(const char *const *models, size_t n_models, unsigned interval_s,
			 const char *log_dir, monitor_thread **out)
{
	monitor_thread *t = calloc(1, sizeof *t);
	int rc;

	*out = NULL;
	if (!t)
		return cli_fail(SL_ENOMEM, "out of memory");
	/* A handle of its own: the loop runs beside the server's threads. */
	if ((rc = sl_project_open(NULL, &t->p)) != 0 || (rc = sl_cancel_create(&t->cancel)) != 0) {
		int status = cli_fail(rc, sl_errmsg());
		sl_project_close(t->p);
		free(t);
		return status;
	}
	sl_watch_opts_init(&t->o);
	t->o.models = models;
	t->o.n_models = n_models;
	t->o.interval_s = interval_s;
	t->o.log_dir = log_dir;
	t->o.cancel = t->cancel;
	t->o.on_event = on_server_event;
	if (pthread_create(&t->tid, NULL, monitor_run, t) != 0) {
		sl_cancel_destroy(t->cancel);
		sl_project_close(t->p);
		free(t);
		return cli_fail(SL_ESYS, "could not start the monitor's thread");
	}
	*out = t;
	return EXIT_OK;
}

void monitor_thread_stop(monitor_thread *t)
{
	if (!t)
		return;
	sl_cancel_request(t->cancel);
	pthread_join(t->tid, NULL);
	sl_cancel_destroy(t->cancel);
	sl_project_close(t->p);
	free(t);
}
