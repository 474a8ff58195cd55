/*
 * sluice serve --model SPEC... [--ui] [options]: the inference server, and
 * sluice ui [options]: the web UI alone (the same server with no model);
 * both until SIGTERM or SIGINT, which drain them (exit 0).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_monitor_loop.h"

static const char help[] =
	"usage: sluice serve --model SPEC [--model SPEC]... [options]\n"
	"\n"
	"Serves models over HTTP: the Open Inference Protocol (KServe V2) under /v2,\n"
	"MLflow's /invocations and /ping, feedback, /metrics. Every POST request is\n"
	"written to the inference log (.sluice/inference/) before it is answered.\n"
	"The server is ready once every model is loaded and has made one prediction;\n"
	"SIGTERM or SIGINT drain it: no new connections, requests in flight finish,\n"
	"the log is flushed, exit 0.\n"
	"\n"
	"  -m, --model SPEC          what to serve (repeat for more):\n"
	"                              NAME=PATH   a model or bundle file; when PATH comes to\n"
	"                                          name another file (one renamed over it),\n"
	"                                          that version is loaded and swapped in\n"
	"                              PATH        the same, named by the bundle's name or the\n"
	"                                          file name\n"
	"                              NAME[@REF]  a registered model: the version REF\n"
	"                                          names (an alias, default production;\n"
	"                                          a version number; latest), swapped\n"
	"                                          when the alias moves\n"
	"  -p, --port P              port (default 8080; 0: any free port, printed)\n"
	"      --host ADDR           address to bind (default 127.0.0.1); on any other\n"
	"                            address someone must have a token\n"
	"      --threads N           request threads (default: one per core it may run\n"
	"                            on: under taskset -c 1, one)\n"
	"      --max-body BYTES      larger request bodies get 413 (default 16M)\n"
	"      --max-connections N   open connections at most (default 1024)\n"
	"      --header-timeout S    a request's headers must arrive within S seconds of the\n"
	"                            connection opening or the previous response (default 10)\n"
	"      --request-timeout S   a body must arrive, and a response be taken, within S\n"
	"                            seconds (default 30)\n"
	"      --token-file FILE     a bearer token accepted beside the users' (role admin)\n"
	"      --no-auth             ask no token anywhere (loopback addresses only)\n"
	"      --auth inference      ask a token for inference too (role any)\n"
	"      --tls-cert FILE       serve HTTPS with this PEM certificate ...\n"
	"      --tls-key FILE        ... and key\n"
	"      --log-dir DIR         where the inference log goes (default .sluice/inference)\n"
	"      --log-durability L    write (default): each record reaches the operating system\n"
	"                            before its response is sent; fsync: it reaches the disk;\n"
	"                            off: nothing is logged\n"
	"      --log-policy P        block (default): a full log queue holds requests back;\n"
	"                            drop: records are dropped and counted in /metrics\n"
	"      --log-segment-size B  rotate log segments at this size (default 64M)\n"
	"      --log-segment-age S   ... or this age in seconds (default 3600)\n"
	"      --log-retention S     remove closed segments older than S seconds\n"
	"                            (default: keep all)\n"
	"      --reload-ms MS        how often model files and registry aliases are checked\n"
	"                            for a new version (default 250)\n"
	"      --drain-timeout S     how long a drain waits for requests in flight (default 30)\n"
	"      --monitor             run the monitoring loop in the server ('sluice monitor\n"
	"                            watch') for the registered models it serves: alerts,\n"
	"                            retraining, promotion; a promoted model is reloaded\n"
	"      --monitor-interval S  seconds between the loop's evaluations (default:\n"
	"                            sluice.yaml monitoring.interval, else 60)\n"
	"      --drift-interval S    evaluate drift and live metrics of each model's newest\n"
	"                            window every S seconds for /metrics (default 60; 0: off)\n"
	"      --drift-window N      requests per window (default: canvas.yaml\n"
	"                            live_monitoring.window, else 1000)\n"
	"      --ui                  also serve the project's web UI and its JSON API at /\n"
	"                            (docs/ui.md; `sluice ui` serves it alone)\n"
	"\n"
	"Tokens: every endpoint but health (/v2/health/*, /ping) and inference (infer,\n"
	"/invocations, model metadata) asks for 'Authorization: Bearer TOKEN', a token\n"
	"of `sluice users token NAME` whose role may do it (feedback, reload, read for\n"
	"/metrics), or the --token-file token. Writes are recorded in the audit log\n"
	"(sluice audit). See docs/security.md.\n"
	"\n"
	"Sizes take a K, M or G suffix. See docs/serving.md for the endpoints and the log.\n";

static const char ui_help[] =
	"usage: sluice ui [--port P] [--host ADDR] [options]\n"
	"\n"
	"Serves the project's web UI at http://HOST:PORT/ and the JSON API behind it\n"
	"under /api: runs and their DAGs (live while they run), artifacts and their\n"
	"lineage, models with their versions, aliases, promotion history and gate\n"
	"verdicts, and the ML canvas. The pages are built into sluice: nothing to\n"
	"install, nothing fetched from the internet. SIGTERM or SIGINT stop it.\n"
	"\n"
	"It is the server of `sluice serve` with no model: every option of\n"
	"`sluice serve` applies (--port, --host, --threads, --max-body,\n"
	"--max-connections, the timeouts, --token-file, --tls-cert, --tls-key), and\n"
	"`--model SPEC` serves models beside the UI, as `sluice serve --ui` does.\n"
	"\n"
	"  -p, --port P              port (default 8080; 0: any free port, printed)\n"
	"      --host ADDR           address to bind (default 127.0.0.1)\n"
	"      --no-auth             ask no token (loopback addresses only)\n"
	"      --token-file FILE     a bearer token (role admin) beside the users' tokens\n"
	"      --tls-cert FILE       serve HTTPS with this PEM certificate ...\n"
	"      --tls-key FILE        ... and key\n"
	"\n"
	"Every request under /api asks for 'Authorization: Bearer TOKEN', a token of\n"
	"`sluice users token NAME` (the page asks for it once); what the user may do\n"
	"is its role's (docs/security.md). Actions are recorded in the audit log.\n"
	"See docs/ui.md for the pages and the API.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_event(void *ud, const char *line)
{
	fprintf(stderr, "sluice %s: %s\n", (const char *)ud, line);
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mul = 1;

	if (end == s)
		return false;
	if (*end == 'k' || *end == 'K')
		mul = 1ull << 10;
	else if (*end == 'm' || *end == 'M')
		mul = 1ull << 20;
	else if (*end == 'g' || *end == 'G')
		mul = 1ull << 30;
	else if (*end)
		return false;
	if (*end && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
		return false;
	if (v > (unsigned long long)SIZE_MAX / mul)
		return false;
	*out = (size_t)(v * mul);
	return true;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/*
 * The monitor of `serve --monitor`: it watches the registered models the
 * server serves (NAME or NAME@REF; files have no registry to retrain into).
 * The names are copied into one block that lives as long as the server.
 */
static int serve_monitor(const char *const *specs, size_t n, unsigned interval_s,
			 const char *log_dir, monitor_thread **out)
{
	static char names[64][72];
	static const char *list[64];
	size_t k = 0;

	for (size_t i = 0; i < n && k < 64; i++) {
		const char *s = specs[i];
		size_t len = strcspn(s, "@");
		if (strchr(s, '=') || strchr(s, '/') || access(s, F_OK) == 0 || len >= sizeof names[k])
			continue;
		snprintf(names[k], sizeof names[k], "%.*s", (int)len, s);
		list[k] = names[k];
		k++;
	}
	if (!k) {
		fprintf(stderr, "sluice serve: --monitor needs a registered model to watch (--model "
				"NAME); files have no registry to retrain into\n");
		return EXIT_USAGE;
	}
	return monitor_thread_start(list, k, interval_s, log_dir, out);
}

static int run_server(int argc, char **argv, bool ui)
{
	enum {
		O_HOST = 256, O_THREADS, O_MAXBODY, O_MAXCONN, O_HT, O_RT, O_TOKEN, O_CERT, O_KEY,
		O_LOGDIR, O_DUR, O_POL, O_SEGSIZE, O_SEGAGE, O_RET, O_RELOAD, O_DRAIN, O_NOAUTH,
		O_AUTH, O_UI, O_MONITOR, O_MONINT, O_DRIFT_INT, O_DRIFT_WIN
	};
	const char *verb = ui ? "ui" : "serve";
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"port", required_argument, NULL, 'p'},
		{"host", required_argument, NULL, O_HOST},
		{"no-auth", no_argument, NULL, O_NOAUTH},
		{"auth", required_argument, NULL, O_AUTH},
		{"threads", required_argument, NULL, O_THREADS},
		{"max-body", required_argument, NULL, O_MAXBODY},
		{"max-connections", required_argument, NULL, O_MAXCONN},
		{"header-timeout", required_argument, NULL, O_HT},
		{"request-timeout", required_argument, NULL, O_RT},
		{"token-file", required_argument, NULL, O_TOKEN},
		{"tls-cert", required_argument, NULL, O_CERT},
		{"tls-key", required_argument, NULL, O_KEY},
		{"log-dir", required_argument, NULL, O_LOGDIR},
		{"log-durability", required_argument, NULL, O_DUR},
		{"log-policy", required_argument, NULL, O_POL},
		{"log-segment-size", required_argument, NULL, O_SEGSIZE},
		{"log-segment-age", required_argument, NULL, O_SEGAGE},
		{"log-retention", required_argument, NULL, O_RET},
		{"reload-ms", required_argument, NULL, O_RELOAD},
		{"drain-timeout", required_argument, NULL, O_DRAIN},
		{"ui", no_argument, NULL, O_UI},
		{"monitor", no_argument, NULL, O_MONITOR},
		{"monitor-interval", required_argument, NULL, O_MONINT},
		{"drift-interval", required_argument, NULL, O_DRIFT_INT},
		{"drift-window", required_argument, NULL, O_DRIFT_WIN},
		CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	const char **models = calloc((size_t)argc, sizeof *models);
	unsigned drain_s = 30, mon_interval = 0;
	bool monitor = false;
	monitor_thread *mt = NULL;
	sl_serve_opts o;
	sl_project *p = NULL;
	sl_server *s = NULL;
	sigset_t block, old;
	struct sigaction sa;
	size_t sz;
	int c, rc;

	if (!models)
		return cli_fail(SL_ENOMEM, "out of memory");
	sl_serve_opts_init(&o);
	o.ui = ui;
	o.models = models;
	o.on_event = on_event;
	o.event_ud = (void *)verb;
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			models[o.n_models++] = optarg;
			break;
		case 'p':
			if (!parse_uint(optarg, 65535, &o.port))
				goto usage_num;
			break;
		case O_HOST:
			o.host = optarg;
			break;
		case O_THREADS:
			if (!parse_uint(optarg, 1000, &o.threads))
				goto usage_num;
			break;
		case O_MAXBODY:
			if (!parse_size(optarg, &o.max_body))
				goto usage_num;
			break;
		case O_MAXCONN:
			if (!parse_uint(optarg, 1000000, &o.max_connections))
				goto usage_num;
			break;
		case O_HT:
			if (!parse_uint(optarg, 86400, &o.header_timeout_s))
				goto usage_num;
			break;
		case O_RT:
			if (!parse_uint(optarg, 86400, &o.request_timeout_s))
				goto usage_num;
			break;
		case O_TOKEN:
			o.token_file = optarg;
			break;
		case O_NOAUTH:
			o.no_auth = 1;
			break;
		case O_AUTH:
			o.auth = optarg;
			break;
		case O_CERT:
			o.tls_cert = optarg;
			break;
		case O_KEY:
			o.tls_key = optarg;
			break;
		case O_LOGDIR:
			o.log_dir = optarg;
			break;
		case O_DUR:
			o.log_durability = optarg;
			break;
		case O_POL:
			o.log_policy = optarg;
			break;
		case O_SEGSIZE:
			if (!parse_size(optarg, &sz))
				goto usage_num;
			o.log_segment_bytes = sz;
			break;
		case O_SEGAGE:
			if (!parse_uint(optarg, 100000000, &o.log_segment_s) || !o.log_segment_s)
				goto usage_num;
			break;
		case O_RET:
			if (!parse_uint(optarg, 2000000000, &o.log_retention_s))
				goto usage_num;
			break;
		case O_RELOAD:
			if (!parse_uint(optarg, 3600000, &o.reload_ms))
				goto usage_num;
			break;
		case O_DRAIN:
			if (!parse_uint(optarg, 86400, &drain_s))
				goto usage_num;
			break;
		case O_UI:
			o.ui = 1;
			break;
		case O_MONITOR:
			monitor = true;
			break;
		case O_MONINT:
			if (!parse_uint(optarg, 604800, &mon_interval) || !mon_interval)
				goto usage_num;
			monitor = true;
			break;
		case O_DRIFT_INT:
			if (!parse_uint(optarg, 86400, &o.drift_interval_s))
				goto usage_num;
			break;
		case O_DRIFT_WIN: {
			unsigned n;
			if (!parse_uint(optarg, 1000000, &n) || !n)
				goto usage_num;
			o.drift_window = n;
			break;
		}
		case 'h':
			free(models);
			return cli_help_for(ui ? &cmd_ui : &cmd_serve);
		default:
			free(models);
			return cli_usage(verb, "unknown option");
		}
	}
	if (optind < argc) {
		free(models);
		return cli_usage(verb, "unexpected argument '%s'", argv[optind]);
	}
	if (!o.n_models && !o.ui) {
		free(models);
		return cli_usage("serve", "give at least one --model (or --ui)");
	}
	/* A project is optional when the log goes elsewhere. */
	if (sl_project_open(NULL, &p) != 0) {
		p = NULL;
		if (o.ui) {
			free(models);
			return cli_fail(SL_ENOENT, "no sluice project here to show: run it inside one "
						   "(sluice init makes one)");
		}
		if (!o.log_dir && strcmp(o.log_durability, "off")) {
			free(models);
			return cli_fail(SL_ENOENT, "no sluice project here to keep the inference log in: "
						   "run 'sluice init', or give --log-dir DIR");
		}
	}
	/* Signals go to this thread only: the server's threads start with them blocked. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = sl_server_start(p, &o, &s);
	sl_project_close(p);
	if (rc) {
		free(models);
		return cli_fail(rc, sl_errmsg());
	}
	fprintf(stderr, "sluice %s: ready on %s://%s%s%s:%u\n", verb, o.tls_cert ? "https" : "http",
		strchr(o.host, ':') ? "[" : "", o.host, strchr(o.host, ':') ? "]" : "",
		sl_server_port(s));
	fflush(stderr);
	if (monitor && serve_monitor(models, o.n_models, mon_interval, o.log_dir, &mt) != EXIT_OK) {
		sl_server_stop(s, drain_s * 1000);
		sl_server_free(s);
		free(models);
		return EXIT_WORK;
	}
	while (!stop_flag)
		sigsuspend(&old);
	/* The loop first: a retraining run in flight is cancelled, no alias moves mid-drain. */
	monitor_thread_stop(mt);
	fprintf(stderr, "sluice %s: draining\n", verb);
	rc = sl_server_stop(s, drain_s * 1000);
	if (rc)
		fprintf(stderr, "sluice %s: %s\n", verb, sl_errmsg());
	sl_server_free(s);
	free(models);
	fprintf(stderr, "sluice %s: stopped\n", verb);
	return rc ? cli_exit_code(rc) : EXIT_OK;
usage_num:
	free(models);
	return cli_usage(verb, "bad value '%s' for an option", optarg);
}

static int serve_main(int argc, char **argv)
{
	return run_server(argc, argv, false);
}

static int ui_main(int argc, char **argv)
{
	return run_server(argc, argv, true);
}

const cli_cmd cmd_serve = {
	"serve", serve_main, "serve models over HTTP (V2, MLflow), logging every request", help,
};

const cli_cmd cmd_ui = {
	"ui", ui_main, "serve the project's web UI (runs, artifacts, models, canvas)", ui_help,
};
