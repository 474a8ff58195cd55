/*
 * sluice store migrate --to URL [--json]: the project's history into
 * another metadata store (sl_store_migrate), most often from the project's
 * SQLite file to a team's PostgreSQL server.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice store migrate --to URL [--json]\n"
	"\n"
	"Copies the project's metadata store -- runs, step runs, artifacts, lineage,\n"
	"metrics, tags -- into the store at URL (postgresql://USER@HOST:PORT/DB, or\n"
	"sqlite:PATH), making its tables first. The database must exist. The copy is\n"
	"one transaction: it lands whole or not at all. Rows the target already holds\n"
	"are kept, so the target may hold other projects' history and a second copy\n"
	"changes nothing. Each table's row count is checked before the commit.\n"
	"It refuses while a run is going on. Artifacts stay where they are; afterwards\n"
	"point the project at the new store with stack.metadata in sluice.yaml (or\n"
	"SLUICE_STORE).\n"
	"\n"
	"  --to URL    the target store\n"
	"  --json      machine-readable output: {from, to, tables: [{table, source,\n"
	"              copied, present}], verified}\n";

static int migrate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"to", required_argument, NULL, 'T'}, {"json", no_argument, NULL, 'J'},
		CLI_HELP_OPT, {NULL, 0, NULL, 0},
	};
	const char *to = NULL;
	bool json = false;
	char *text = NULL;
	json_t *res, *t;
	sl_project *p;
	size_t i;
	int c, rc, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'T':
			to = optarg;
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return cli_help_for(&cmd_store);
		default:
			return cli_bad_option("store", argv, longopts, "h");
		}
	}
	if (optind < argc)
		return cli_usage("store", "unexpected argument '%s'", argv[optind]);
	if (!to || !*to)
		return cli_usage("store", "migrate needs --to URL (postgresql://... or sqlite:PATH)");
	status = cli_open(&p);
	if (status)
		return status;
	rc = sl_store_migrate(p, to, &text);
	status = cli_take(p, rc, text, json, &res);
	sl_project_close(p);
	if (status >= 0)
		return status;
	printf("copied %s\n    to %s\n\n%-16s  %10s  %10s  %10s\n",
	       json_string_value(json_object_get(res, "from")),
	       json_string_value(json_object_get(res, "to")), "TABLE", "ROWS", "COPIED",
	       "ALREADY");
	json_array_foreach (json_object_get(res, "tables"), i, t)
		printf("%-16s  %10lld  %10lld  %10lld\n", json_string_value(json_object_get(t, "table")),
		       (long long)json_integer_value(json_object_get(t, "source")),
		       (long long)json_integer_value(json_object_get(t, "copied")),
		       (long long)json_integer_value(json_object_get(t, "present")));
	printf("\nevery count verified; point stack.metadata in sluice.yaml at the new store\n");
	json_decref(res);
	return EXIT_OK;
}

static int store_main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "migrate"))
		return migrate(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return cli_help_for(&cmd_store);
	if (argc < 2)
		return cli_usage("store", "which subcommand? (migrate)");
	return cli_usage("store", "unknown subcommand '%s' (known: migrate)", argv[1]);
}

const cli_cmd cmd_store = {"store", store_main,
			   "the metadata store itself: migrate its history to another store",
			   help};
