/*
 * sluice steps [NAME] [--json]: the built-in steps and their options.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice steps [NAME] [--json]\n"
	"\n"
	"Lists the built-in steps a pipeline can use with 'uses:', or shows one with\n"
	"its options (with:), inputs and outputs.\n";

static int steps_main(int argc, char **argv)
{
	static const struct option longopts[] = {{"json", no_argument, NULL, 'J'}, CLI_HELP_OPT,
						 {NULL, 0, NULL, 0}};
	bool json = false, found = false;
	char *text = NULL;
	json_t *arr, *s, *o;
	size_t i, j;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'J')
			json = true;
		else if (c == 'h')
			return cli_help_for(&cmd_steps);
		else
			return cli_bad_option("steps", argv, longopts, "h");
	}
	rc = sl_steps_list(&text);
	if (rc)
		return cli_fail(rc, sl_errmsg());
	if (json && optind == argc) {
		cli_print_json(text);
		sl_free(text);
		return EXIT_OK;
	}
	arr = cli_parse(text);
	sl_free(text);
	if (!arr)
		return EXIT_WORK;
	json_array_foreach(arr, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		if (optind < argc && strcmp(name, argv[optind]) != 0)
			continue;
		found = true;
		if (json) {
			char *d = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			if (d)
				printf("%s\n", d);
			free(d);
			continue;
		}
		if (optind == argc) {
			printf("%-16s %s\n", name, json_string_value(json_object_get(s, "summary")));
			continue;
		}
		printf("%s (version %lld): %s\n\noptions (with:):\n", name,
		       (long long)json_integer_value(json_object_get(s, "version")),
		       json_string_value(json_object_get(s, "summary")));
		json_array_foreach(json_object_get(s, "options"), j, o) {
			const char *def = json_string_value(json_object_get(o, "default"));
			printf("  %-16s %-14s %s%s%s%s\n", json_string_value(json_object_get(o, "name")),
			       json_string_value(json_object_get(o, "type")),
			       json_is_true(json_object_get(o, "required")) ? "(required) " : "",
			       json_string_value(json_object_get(o, "help")), def ? "; default " : "",
			       def ? def : "");
		}
		printf("inputs:\n");
		if (!json_array_size(json_object_get(s, "inputs")))
			printf("  none\n");
		json_array_foreach(json_object_get(s, "inputs"), j, o)
			printf("  %-16s %-14s %s%s\n", json_string_value(json_object_get(o, "name")),
			       json_string_value(json_object_get(o, "type")),
			       json_is_true(json_object_get(o, "optional")) ? "(optional) " : "",
			       json_string_value(json_object_get(o, "help")));
		printf("outputs:\n");
		json_array_foreach(json_object_get(s, "outputs"), j, o)
			printf("  %-16s %-14s %s\n", json_string_value(json_object_get(o, "name")),
			       json_string_value(json_object_get(o, "type")),
			       json_string_value(json_object_get(o, "help")));
	}
	json_decref(arr);
	if (optind < argc && !found)
		return cli_usage("steps", "no built-in step '%s'", argv[optind]);
	return EXIT_OK;
}

const cli_cmd cmd_steps = {"steps", steps_main, "list the built-in steps and their options", help};
