/*
 * sluice init [DIR] [--template NAME]
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice init [DIR] [--template blank|spam|forecast]\n"
	"\n"
	"Creates a sluice project in DIR (default: the current folder), making DIR if\n"
	"needed: .sluice/ (metadata store, artifacts, logs), sluice.yaml (stack\n"
	"settings) and canvas.yaml (the ML canvas: its ten blocks, commented, to fill\n"
	"in; see 'sluice help canvas'). Existing sluice.yaml and canvas.yaml files\n"
	"are kept. Fails if DIR is already a project.\n"
	"\n"
	"  -t, --template NAME  start from a complete project built into sluice:\n"
	"        blank      the commented canvas.yaml only (the default)\n"
	"        spam       spam detection on UCI Spambase: data, schema, the training\n"
	"                   pipeline (train.yaml: three candidates, the cheapest by the\n"
	"                   canvas's costs gated and registered), the retraining one\n"
	"                   the monitoring loop runs (retrain.yaml), a simulated mail\n"
	"                   server sending traffic and feedback (mail.py) and a\n"
	"                   filled-in canvas\n"
	"        forecast   sales forecasting on a monthly turnover index: data, the\n"
	"                   forecasting pipeline (forecast.yaml: the best method against\n"
	"                   seasonal naive, gated and registered), the retraining one\n"
	"                   (retrain.yaml, run by the monitoring loop) and a filled-in\n"
	"                   canvas\n"
	"      A template other than blank writes over nothing: it fails, writing\n"
	"      nothing, when any of its files exists in DIR.\n";

/* What to type next, for the templates that carry a pipeline. */
static const char *first_pipeline(json_t *files)
{
	size_t i;
	json_t *f;

	json_array_foreach(files, i, f) {
		const char *s = json_string_value(f);
		if (s && !strchr(s, '/') && strcmp(s, "canvas.yaml") && strcmp(s, "schema.yaml") &&
		    (strstr(s, ".yaml") || strstr(s, ".yml")))
			return s;
	}
	return NULL;
}

static int init_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"template", required_argument, NULL, 't'}, CLI_HELP_OPT, {NULL, 0, NULL, 0}};
	const char *dir, *tmpl = NULL;
	char *text = NULL;
	json_t *res;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
		if (c == 'h')
			return cli_help_for(&cmd_init);
		if (c == 't') {
			tmpl = optarg;
			continue;
		}
		return cli_bad_option("init", argv, longopts, "t:h");
	}
	if (argc - optind > 1)
		return cli_usage("init", "too many arguments");
	dir = optind < argc ? argv[optind] : ".";
	if (!tmpl) {
		rc = sl_project_init(dir);
		if (rc)
			return cli_fail(rc, sl_errmsg());
		printf("initialised sluice project in %s\n", dir);
		return EXIT_OK;
	}
	rc = sl_project_init_template(dir, tmpl, &text);
	if (rc)
		return cli_fail(rc, sl_errmsg());
	res = cli_parse(text);
	sl_free(text);
	if (!res)
		return EXIT_WORK;
	const char *pipe = first_pipeline(json_object_get(res, "files"));
	printf("initialised sluice project in %s from the %s template (%zu files)\n", dir, tmpl,
	       json_array_size(json_object_get(res, "files")));
	if (pipe)
		printf("next: cd %s && sluice canvas check && sluice run %s\n", dir, pipe);
	else
		printf("next: fill in canvas.yaml, then 'sluice canvas check'\n");
	json_decref(res);
	return EXIT_OK;
}

const cli_cmd cmd_init = {"init", init_main, "create a project (.sluice/, sluice.yaml, canvas.yaml)",
			  help};
