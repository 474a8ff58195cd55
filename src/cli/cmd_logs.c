/*
 * sluice logs [query] [filters] [--json]
 * sluice logs export --model NAME --format csv|jsonl -o FILE [filters]
 *
 * The inference log that `sluice serve` writes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice logs [query] [--model NAME] [--version V] [--id ID] [--status S]\n"
	"                   [--endpoint E] [--since TIME] [--until TIME] [-n N] [--json]\n"
	"       sluice logs export --model NAME --format csv|jsonl -o FILE [filters]\n"
	"\n"
	"Reads the inference log (.sluice/inference/, or --log-dir): every request the\n"
	"server answered, errors included, with its inputs, outputs, latency and status.\n"
	"\n"
	"query   prints the newest matching records, oldest first: a table, or with\n"
	"        --json the records themselves (a JSON array; docs/serving.md has the\n"
	"        fields)\n"
	"export  writes one model's answered requests as a table, one row per scored\n"
	"        input row: request_id, time, version, row, endpoint, latency_us, the\n"
	"        model's inputs, its outputs, and label where feedback gave one\n"
	"\n"
	"      --model NAME      one model's records\n"
	"      --version V       one version's\n"
	"      --id ID           one request (the X-Request-Id of its response)\n"
	"      --status S        a code (200), a class (4xx) or 'error' (anything but 2xx)\n"
	"      --endpoint E      v2, invocations, feedback or load\n"
	"      --since TIME      ISO 8601 (2026-11-30 or 2026-11-30T12:00:00Z)\n"
	"      --until TIME\n"
	"  -n, --limit N         query: at most the newest N records (default 100; 0: all)\n"
	"      --json            query: machine-readable output\n"
	"      --format F        export: csv or jsonl\n"
	"  -o, --output FILE     export: where to write (atomically)\n"
	"      --log-dir DIR     the log's directory, when not the project's\n";

static void print_table(json_t *arr)
{
	size_t i;
	json_t *r;

	if (json_array_size(arr) == 0) {
		printf("no matching records\n");
		return;
	}
	printf("%-24s  %-21s  %-22s  %-11s  %6s  %9s  %5s  %s\n", "TIME", "ID", "MODEL@VERSION",
	       "ENDPOINT", "STATUS", "LATENCY", "ROWS", "ERROR");
	json_array_foreach(arr, i, r) {
		char mv[64];
		const char *model = json_string_value(json_object_get(r, "model"));
		const char *ver = json_string_value(json_object_get(r, "version"));
		json_t *rows = json_object_get(r, "rows");
		json_t *ids = json_object_get(r, "request_ids");
		snprintf(mv, sizeof mv, "%s%s%s", model ? model : "-", ver ? "@" : "", ver ? ver : "");
		printf("%-24s  %-21s  %-22s  %-11s  %6lld  %7.3fms  ", json_string_value(json_object_get(r, "time")),
		       json_string_value(json_object_get(r, "id")), mv,
		       json_string_value(json_object_get(r, "endpoint")),
		       (long long)json_integer_value(json_object_get(r, "status")),
		       (double)json_integer_value(json_object_get(r, "latency_us")) / 1000.0);
		if (rows)
			printf("%5lld  ", (long long)json_integer_value(rows));
		else if (ids)
			printf("%5zu  ", json_array_size(ids));
		else
			printf("%5s  ", "-");
		printf("%.100s\n", json_string_value(json_object_get(r, "error")) ?: "");
	}
}

static int logs_main(int argc, char **argv)
{
	enum { O_VERSION = 256, O_ID, O_STATUS, O_ENDPOINT, O_SINCE, O_UNTIL, O_JSON, O_FORMAT, O_LOGDIR };
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"version", required_argument, NULL, O_VERSION},
		{"id", required_argument, NULL, O_ID},
		{"status", required_argument, NULL, O_STATUS},
		{"endpoint", required_argument, NULL, O_ENDPOINT},
		{"since", required_argument, NULL, O_SINCE},
		{"until", required_argument, NULL, O_UNTIL},
		{"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, O_JSON},
		{"format", required_argument, NULL, O_FORMAT},
		{"output", required_argument, NULL, 'o'},
		{"log-dir", required_argument, NULL, O_LOGDIR},
		CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	const char *format = NULL, *output = NULL, *verb = "query";
	sl_logs_filter f;
	sl_project *p = NULL;
	bool json = false, export = false;
	int c, rc, status;

	memset(&f, 0, sizeof f);
	f.limit = 100;
	if (argc > 1 && argv[1][0] != '-') {
		verb = argv[1];
		if (!strcmp(verb, "export"))
			export = true;
		else if (strcmp(verb, "query"))
			return cli_usage("logs", "'%s' is not a logs command (query, export)", verb);
		argc--;
		argv++;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:n:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			f.model = optarg;
			break;
		case O_VERSION:
			f.version = optarg;
			break;
		case O_ID:
			f.id = optarg;
			break;
		case O_STATUS:
			f.status = optarg;
			break;
		case O_ENDPOINT:
			f.endpoint = optarg;
			break;
		case O_SINCE:
			f.since = optarg;
			break;
		case O_UNTIL:
			f.until = optarg;
			break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 0)
				return cli_usage("logs", "-n needs a count, not '%s'", optarg);
			f.limit = (size_t)v;
			break;
		}
		case O_JSON:
			json = true;
			break;
		case O_FORMAT:
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case O_LOGDIR:
			f.log_dir = optarg;
			break;
		case 'h':
			return cli_help_for(&cmd_logs);
		default:
			return cli_usage("logs", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("logs", "unexpected argument '%s'", argv[optind]);
	if (export && (!f.model || !format || !output))
		return cli_usage("logs", "export needs --model NAME, --format csv|jsonl and -o FILE");
	if (!export && (format || output))
		return cli_usage("logs", "--format and -o go with 'logs export'");
	if (!f.log_dir && (status = cli_open(&p)) != EXIT_OK)
		return status;
	if (export) {
		f.limit = 0;
		rc = sl_logs_export(p, &f, format, output);
		sl_project_close(p);
		return rc ? cli_fail(rc, sl_errmsg()) : EXIT_OK;
	}
	{
		char *text = NULL;
		json_t *arr;
		rc = sl_logs_query(p, &f, &text);
		sl_project_close(p);
		if (rc) {
			sl_free(text);
			return cli_fail(rc, sl_errmsg());
		}
		if (json) {
			cli_print_json(text);
			sl_free(text);
			return EXIT_OK;
		}
		arr = cli_parse(text);
		sl_free(text);
		if (!arr)
			return EXIT_WORK;
		print_table(arr);
		json_decref(arr);
	}
	return EXIT_OK;
}

const cli_cmd cmd_logs = {
	"logs", logs_main, "query and export the inference log", help,
};
