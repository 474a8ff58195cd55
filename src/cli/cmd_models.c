/*
 * sluice models SUBCOMMAND ...
 *
 * The registered models' verb. Subcommands are a table, one entry each;
 * the model registry adds its own (list, show, promote, rollback, history,
 * tag, delete) beside export.
 *
 *   sluice models export MODEL --format c -o FILE.c
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice models export MODEL --format c -o FILE.c\n"
	"\n"
	"  export   write MODEL as one C99 file that needs only math.h: the bundle's\n"
	"           transform and the model, behind\n"
	"             int model_predict(const double *row, double *out);\n"
	"           with the input order in model_columns, the outputs in\n"
	"           model_outputs and each string column's codes in\n"
	"           model_dictionary (docs/cli.md). Operations that need a\n"
	"           string's text (text, hashing, string functions) or other rows\n"
	"           (lag, rolling) have no C form and are refused, named.\n"
	"\n"
	"MODEL is a bundle or model file, or the id of a model or bundle artifact.\n"
	"\n"
	"  -o, --output FILE   where to write (atomically)\n"
	"      --format FMT    c (the only one)\n";

static int export_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'}, {"format", required_argument, NULL, 'F'},
		CLI_HELP_OPT,                             {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *format = NULL;
	char *model = NULL;
	int c, status, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'h':
			return cli_help_for(&cmd_models);
		default:
			return cli_bad_option("models export", argv, longopts, "o:");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("models", optind >= argc ? "export: which model? give MODEL"
							  : "export takes one MODEL");
	if (!out)
		return cli_usage("models", "export needs -o FILE");
	if (!format)
		return cli_usage("models", "export needs --format c");
	if (strcmp(format, "c"))
		return cli_usage("models", "export: format '%s' is not one there is (c)", format);
	if ((status = cli_model_ref(argv[optind], &model)) != EXIT_OK)
		return status;
	rc = sl_model_export(model, format, out);
	free(model);
	return rc ? cli_fail(rc, sl_errmsg()) : EXIT_OK;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} subcommands[] = {
	{"export", export_main},
};

static int models_main(int argc, char **argv)
{
	const char *names[8];
	size_t n = sizeof subcommands / sizeof subcommands[0];

	if (argc < 2)
		return cli_usage("models", "which subcommand? (export)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cli_help_for(&cmd_models);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
		names[i] = subcommands[i].name;
	}
	const char *best = sl_suggest(argv[1], names, n);
	return cli_usage("models", "'%s' is not a subcommand%s%s%s", argv[1],
			 best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
}

const cli_cmd cmd_models = {"models", models_main, "registered models: export to C", help};
