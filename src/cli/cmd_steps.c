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
	"its options (with:), their allowed values and ranges, the rules among them,\n"
	"and its inputs and outputs. --json gives the same as a machine-readable schema.\n";

/* "requires 'by' when method is stratified|time|group (why)" */
static void print_rule(const json_t *r, int indent)
{
	const char *kind = json_string_value(json_object_get(r, "kind"));
	const char *when = json_string_value(json_object_get(r, "when"));
	const char *why = json_string_value(json_object_get(r, "why"));
	const json_t *names = json_object_get(r, "options"), *v;
	size_t k;

	printf("%*s%s:", indent, "", !strcmp(kind, "one_of")      ? "exactly one of"
				     : !strcmp(kind, "any_of")    ? "at least one of"
				     : !strcmp(kind, "exclusive") ? "at most one of"
				     : !strcmp(kind, "requires")  ? "needs"
								  : "refuses");
	json_array_foreach (names, k, v)
		printf("%s %s", k ? "," : "", json_string_value(v));
	if (when) {
		const char *eq = strchr(when, '=');
		if (eq)
			printf(" when %.*s is %s", (int)(eq - when), when, eq + 1);
		else
			printf(" with %s", when);
	}
	printf("%s%s%s\n", why ? " (" : "", why ? why : "", why ? ")" : "");
}

/* One option per line, with its constraints; nested mappings indented. */
static void print_opts(const json_t *opts, int indent)
{
	size_t j;
	json_t *o;

	json_array_foreach (opts, j, o) {
		const char *def = json_string_value(json_object_get(o, "default"));
		const char *cons = json_string_value(json_object_get(o, "constraints"));
		const json_t *fields = json_object_get(o, "fields"), *items = json_object_get(o, "items");
		const json_t *variants, *rules = json_object_get(o, "rules"), *r;
		size_t k;
		const char *name = json_string_value(json_object_get(o, "name"));
		int w = 18 - indent;
		if ((int)strlen(name) >= w)
			w = (int)strlen(name) + 1;
		printf("%*s%-*s %-14s %s%s%s%s%s%s\n", indent, "", w, name,
		       json_string_value(json_object_get(o, "type")),
		       json_is_true(json_object_get(o, "required")) ? "(required) " : "",
		       json_string_value(json_object_get(o, "help")), cons ? "; " : "", cons ? cons : "",
		       def ? "; default " : "", def ? def : "");
		if (!fields && items)
			fields = json_object_get(items, "fields");
		if (!rules && items)
			rules = json_object_get(items, "rules");
		if (fields)
			print_opts(fields, indent + 2);
		json_array_foreach (rules, k, r)
			print_rule(r, indent + 2);
		variants = json_object_get(o, "variants");
		if (!variants && items)
			variants = json_object_get(items, "variants");
		json_array_foreach (variants, k, r) {
			const json_t *al = json_object_get(r, "aliases"), *a, *vr;
			const char *tag = json_string_value(json_object_get(o, "tag"));
			size_t q;
			if (!tag && items)
				tag = json_string_value(json_object_get(items, "tag"));
			printf("%*s%s: %s", indent + 2, "", tag ? tag : "variant",
			       json_string_value(json_object_get(r, "name")));
			json_array_foreach (al, q, a)
				printf(q ? ", %s" : " (also %s", json_string_value(a));
			printf("%s  %s\n", json_array_size(al) ? ")" : "",
			       json_string_value(json_object_get(r, "help")));
			print_opts(json_object_get(r, "fields"), indent + 4);
			json_array_foreach (json_object_get(r, "rules"), q, vr)
				print_rule(vr, indent + 4);
		}
	}
}

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
		print_opts(json_object_get(s, "options"), 2);
		if (json_array_size(json_object_get(s, "rules")))
			printf("rules:\n");
		json_array_foreach(json_object_get(s, "rules"), j, o)
			print_rule(o, 2);
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
