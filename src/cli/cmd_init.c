/*
 * sluice init [DIR]
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char help[] =
	"usage: sluice init [DIR]\n"
	"\n"
	"Creates a sluice project in DIR (default: the current folder), making DIR if\n"
	"needed: .sluice/ (metadata store, artifacts, logs), sluice.yaml (stack\n"
	"settings) and canvas.yaml (the ML canvas). Existing sluice.yaml and\n"
	"canvas.yaml files are kept. Fails if DIR is already a project.\n";

static int init_main(int argc, char **argv)
{
	static const struct option longopts[] = {CLI_HELP_OPT, {NULL, 0, NULL, 0}};
	const char *dir;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h')
			return cli_help_for(&cmd_init);
		return cli_bad_option("init", argv, longopts, "h");
	}
	if (argc - optind > 1)
		return cli_usage("init", "too many arguments");
	dir = optind < argc ? argv[optind] : ".";
	rc = sl_project_init(dir);
	if (rc)
		return cli_fail(rc, sl_errmsg());
	printf("initialised sluice project in %s\n", dir);
	return EXIT_OK;
}

const cli_cmd cmd_init = {"init", init_main, "create a project (.sluice/, sluice.yaml, canvas.yaml)",
			  help};
