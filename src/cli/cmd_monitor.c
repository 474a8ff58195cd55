/*
 * sluice monitor SUBCOMMAND ...
 *
 * Live monitoring of served models: drift, live and estimated performance
 * (docs/monitoring.md). Each subcommand is one entry of `subs` below, with
 * its own options and help; `sluice monitor` alone lists them.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_monitor_loop.h"

typedef struct monitor_sub {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the subcommand's name */
	const char *summary;
} monitor_sub;

static int report_main(int argc, char **argv);

/* Kept in the order `sluice monitor` lists them. */
static const monitor_sub subs[] = {
	{"report", report_main, "drift and performance of a window of served traffic"},
	{"watch", monitor_watch_main, "the loop: alerts, retraining on drift, decay and cadence"},
	{"events", monitor_events_main, "the loop's decisions: alerts, triggers, runs, promotions"},
	{"retrain", monitor_retrain_main, "retrain now, as a trigger of the loop would"},
	{"ack", monitor_ack_main, "acknowledge an alert: someone has taken it on"},
	{NULL, NULL, NULL},
};

static const char help[] =
	"usage: sluice monitor report --model NAME [--window N | --since T [--until T]]\n"
	"                             [--version V] [--bundle FILE] [--html FILE] [--json]\n"
	"\n"
	"Live monitoring of served models, from the inference log the server writes.\n"
	"\n"
	"report   evaluates one window of a model's answered requests against the data\n"
	"         the model was trained on: per-feature drift (KS, chi-square or Z-test\n"
	"         at p < 0.05 for a reference of up to 1000 rows, else normalised\n"
	"         Wasserstein or Jensen-Shannon at 0.1, PSI beside; thresholds from\n"
	"         canvas.yaml live_monitoring.drift), dataset drift (at least half the\n"
	"         features drifted), prediction drift, live metrics from feedback labels\n"
	"         and, for classifiers, estimated accuracy, F1 and AUC without labels.\n"
	"         The window is recorded in the store, so reports chart it over time.\n"
	"\n"
	"  -m, --model NAME      the served model (required)\n"
	"  -w, --window N        the newest N answered requests (default: canvas.yaml\n"
	"                        live_monitoring.window, else 1000)\n"
	"      --since TIME      a time span instead (ISO 8601)\n"
	"      --until TIME\n"
	"      --version V       that version's requests: a registered version's number,\n"
	"                        or the label the log names it by (default: the newest\n"
	"                        request's)\n"
	"      --bundle FILE     the reference bundle, when the model is not registered\n"
	"      --log-dir DIR     the log's directory, when not the project's\n"
	"      --html FILE       also write a self-contained HTML page with charts over\n"
	"                        the recorded windows\n"
	"      --history N       windows the page charts (default 100)\n"
	"      --no-record       do not record the window in the store\n"
	"      --json            the report as JSON (docs/monitoring.md has the fields)\n"
	"\n"
	"Exit status: 0 evaluated (drift or not: see dataset_drift); 2 bad usage, or\n"
	"nothing to evaluate (no answered request in the log, a bundle without a\n"
	"monitoring reference); 1 anything else that failed.\n"
	"\n"
	"       sluice monitor watch [--model NAME]... [--interval S] [--once] [--json]\n"
	"       sluice monitor events [--model NAME] [--kind K] [--run RUN] [-n N] [--json]\n"
	"       sluice monitor retrain --model NAME [--reason TEXT] [--json]\n"
	"       sluice monitor ack SEQ [--note TEXT] [--json]\n"
	"\n"
	"watch    the monitoring loop: the alert rules of sluice.yaml and canvas.yaml,\n"
	"         and on canvas.yaml's triggers (drift, decay, cadence) the retraining\n"
	"         pipeline, the challenger gated against production and promoted\n"
	"         (auto_promote); 'sluice serve --monitor' runs it in the server\n"
	"events   the loop's decisions, oldest first\n"
	"retrain  retrain now, as a trigger would\n"
	"ack      acknowledge an alert: someone has taken it on\n"
	"\n"
	"'sluice monitor SUBCOMMAND --help' describes each.\n";

/* ---- report ------------------------------------------------------------------------- */

static const char *fnum(const json_t *v, char *buf, size_t size)
{
	if (json_is_number(v))
		snprintf(buf, size, "%.4g", json_number_value(v));
	else if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else
		snprintf(buf, size, "-");
	return buf;
}

static void print_drift_row(const json_t *f)
{
	char a[32], b[32], c[32], d[32];

	printf("  %-24.24s %-12s %10s %10s %10s %8s %-9s %s\n",
	       json_string_value(json_object_get(f, "name")),
	       json_string_value(json_object_get(f, "test")),
	       fnum(json_object_get(f, "statistic"), a, sizeof a),
	       fnum(json_object_get(f, "p_value"), b, sizeof b),
	       fnum(json_object_get(f, "threshold"), c, sizeof c),
	       fnum(json_object_get(f, "psi"), d, sizeof d),
	       json_string_value(json_object_get(f, "psi_band")) ?: "-",
	       json_is_true(json_object_get(f, "drift"))       ? "DRIFT"
	       : json_object_get(f, "reason")                 ? json_string_value(json_object_get(f, "reason"))
							      : "ok");
}

static void print_metrics(const char *title, const json_t *o)
{
	const char *k;
	const json_t *v;
	char a[32], b[32], c[32];

	if (!json_object_size(o))
		return;
	printf("%s:\n", title);
	json_object_foreach((json_t *)o, k, v) {
		if (json_is_number(v))
			printf("  %-22s %s\n", k, fnum(v, a, sizeof a));
		else if (json_is_object(v) && json_object_get(v, "value"))
			printf("  %-22s %s  [%s, %s]\n", k, fnum(json_object_get(v, "value"), a, sizeof a),
			       fnum(json_object_get(v, "lower"), b, sizeof b),
			       fnum(json_object_get(v, "upper"), c, sizeof c));
		else if (json_is_string(v))
			printf("  %-22s %s\n", k, json_string_value(v));
	}
}

static void print_report(const json_t *r)
{
	const json_t *win = json_object_get(r, "window"), *f, *rec, *ver = json_object_get(r, "version");
	char a[32], b[32];
	size_t i;

	printf("model %s version %s: %lld requests (%lld rows) from %s to %s\n",
	       json_string_value(json_object_get(r, "model")), fnum(ver, a, sizeof a),
	       (long long)json_integer_value(json_object_get(win, "requests")),
	       (long long)json_integer_value(json_object_get(win, "rows")),
	       json_string_value(json_object_get(win, "from")) ?: "-",
	       json_string_value(json_object_get(win, "to")) ?: "-");
	printf("%s: %lld of %lld features drifted (share %s, threshold %s)\n",
	       json_is_true(json_object_get(r, "dataset_drift")) ? "DATASET DRIFT" : "no dataset drift",
	       (long long)json_integer_value(json_object_get(r, "features_drifted")),
	       (long long)json_integer_value(json_object_get(r, "features_tested")),
	       fnum(json_object_get(r, "drift_share"), a, sizeof a),
	       fnum(json_object_get(r, "drift_share_threshold"), b, sizeof b));
	printf("  %-24s %-12s %10s %10s %10s %8s %-9s %s\n", "FEATURE", "TEST", "STATISTIC",
	       "P-VALUE", "THRESHOLD", "PSI", "PSI BAND", "");
	json_array_foreach(json_object_get(r, "features"), i, f)
		print_drift_row(f);
	if (json_is_object((f = json_object_get(r, "prediction_drift")))) {
		printf("prediction drift:\n");
		print_drift_row(f);
	}
	print_metrics("live (feedback labels)", json_object_get(r, "live"));
	print_metrics("estimated (no labels)", json_object_get(r, "estimated"));
	rec = json_object_get(json_object_get(r, "estimated"), "reconciled");
	if (rec)
		printf("  reconciled on %lld labelled rows: estimated %s, realised %s\n",
		       (long long)json_integer_value(json_object_get(rec, "labelled")),
		       fnum(json_object_get(rec, "estimated_accuracy"), a, sizeof a),
		       fnum(json_object_get(rec, "realised_accuracy"), b, sizeof b));
	printf("latency p50 %s us, p99 %s us; %lld failed requests\n",
	       fnum(json_object_get(win, "latency_p50_us"), a, sizeof a),
	       fnum(json_object_get(win, "latency_p99_us"), b, sizeof b),
	       (long long)json_integer_value(json_object_get(win, "errors")));
}

static int parse_count(const char *opt, const char *s, size_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (end == s || *end || v < 1)
		return cli_usage("monitor", "%s needs a count of at least 1, not '%s'", opt, s);
	*out = (size_t)v;
	return EXIT_OK;
}

static int report_main(int argc, char **argv)
{
	enum { O_SINCE = 256, O_UNTIL, O_VERSION, O_BUNDLE, O_LOGDIR, O_HTML, O_HISTORY, O_NOREC,
	       O_JSON };
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"window", required_argument, NULL, 'w'},
		{"since", required_argument, NULL, O_SINCE},
		{"until", required_argument, NULL, O_UNTIL},
		{"version", required_argument, NULL, O_VERSION},
		{"bundle", required_argument, NULL, O_BUNDLE},
		{"log-dir", required_argument, NULL, O_LOGDIR},
		{"html", required_argument, NULL, O_HTML},
		{"history", required_argument, NULL, O_HISTORY},
		{"no-record", no_argument, NULL, O_NOREC},
		{"json", no_argument, NULL, O_JSON},
		CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	sl_monitor_opts o;
	sl_project *p = NULL;
	char *text = NULL;
	json_t *rep;
	bool json = false;
	int c, rc, status;

	sl_monitor_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.model = optarg;
			break;
		case 'w':
			if ((status = parse_count("--window", optarg, &o.window)) != EXIT_OK)
				return status;
			break;
		case O_SINCE:
			o.since = optarg;
			break;
		case O_UNTIL:
			o.until = optarg;
			break;
		case O_VERSION:
			o.version = optarg;
			break;
		case O_BUNDLE:
			o.bundle = optarg;
			break;
		case O_LOGDIR:
			o.log_dir = optarg;
			break;
		case O_HTML:
			o.html = optarg;
			break;
		case O_HISTORY:
			if ((status = parse_count("--history", optarg, &o.history)) != EXIT_OK)
				return status;
			break;
		case O_NOREC:
			o.record = 0;
			break;
		case O_JSON:
			json = true;
			break;
		case 'h':
			return cli_help_for(&cmd_monitor);
		default:
			return cli_bad_option("monitor", argv, longopts, "m:w:h");
		}
	}
	if (optind < argc)
		return cli_usage("monitor", "unexpected argument '%s'", argv[optind]);
	if (!o.model)
		return cli_usage("monitor", "report needs --model NAME");
	if (o.window && (o.since || o.until))
		return cli_usage("monitor", "give --window or --since/--until, not both");
	if ((status = cli_open(&p)) != EXIT_OK)
		return status;
	rc = sl_monitor_report(p, &o, &text);
	status = cli_take(p, rc, text, json, &rep);
	sl_project_close(p);
	if (status >= 0)
		return status;
	print_report(rep);
	if (o.html)
		printf("report page: %s\n", o.html);
	json_decref(rep);
	return EXIT_OK;
}

/* ---- dispatch ----------------------------------------------------------------------- */

static int monitor_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		if (argc < 2) {
			printf("usage: sluice monitor SUBCOMMAND [options]; subcommands:\n");
			for (const monitor_sub *s = subs; s->name; s++)
				printf("  %-10s %s\n", s->name, s->summary);
			printf("see 'sluice help monitor'\n");
			return EXIT_USAGE;
		}
		return cli_help_for(&cmd_monitor);
	}
	for (const monitor_sub *s = subs; s->name; s++)
		if (!strcmp(s->name, argv[1]))
			return s->fn(argc - 1, argv + 1);
	return cli_usage("monitor", "'%s' is not a monitor subcommand", argv[1]);
}

const cli_cmd cmd_monitor = {
	"monitor", monitor_main, "drift, performance, alerts and the retraining loop", help,
};
