/*
 * sluice canvas check [FILE] [--json]
 * sluice canvas report [--run RUN] [--step STEP] [--json]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice canvas check [FILE] [--json]\n"
	"       sluice canvas report [--run RUN] [--step STEP] [--json]\n"
	"\n"
	"The ML canvas is canvas.yaml at the project's root: ten blocks that say what\n"
	"the model is for, how it is judged, what its mistakes cost, and how it is\n"
	"kept alive (docs/canvas.md). sluice acts on five of them.\n"
	"\n"
	"  check    validates the canvas (FILE, default the project's canvas.yaml) and\n"
	"           prints what each block drives: the metric and minimum -> test and\n"
	"           evaluate; the costs -> evaluate; the latency SLO -> test and serving\n"
	"           alerts; the cadence and triggers -> monitor watch; drift and alert\n"
	"           settings -> monitoring. It warns about blocks left empty that the\n"
	"           project's pipelines need (an evaluate step with no cost, say). Each\n"
	"           problem is FILE:LINE:COL; exit status 2 when the canvas is invalid.\n"
	"  report   sets the latest evaluation (every evaluate step of the newest run\n"
	"           that has one) against the canvas: the cost of mistakes per decision\n"
	"           and the saving over the baseline, the value of correct decisions\n"
	"           (decisions.value), the net return and ROI, and whether ML is worth\n"
	"           it over the baseline.\n"
	"\n"
	"      --run RUN    report on this run (an id, a prefix, or 'latest')\n"
	"      --step STEP  report on this evaluate step only\n"
	"      --json       machine-readable output (fields are stable)\n";

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* Prints text wrapped at 78 columns, each line after the first indented. */
static void wrap(FILE *f, const char *text, int first_col, int indent)
{
	int col = first_col;

	while (*text) {
		size_t w = strcspn(text, " ");
		if (col > indent && col + 1 + (int)w > 78) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, w, f);
		col += (int)w;
		text += w;
		while (*text == ' ')
			text++;
	}
	fputc('\n', f);
}

static void print_note(FILE *f, const json_t *n)
{
	long long line = json_integer_value(json_object_get(n, "line"));

	if (line > 0)
		fprintf(f, "%s:%lld:%lld: %s\n", jstr(n, "file"), line,
			(long long)json_integer_value(json_object_get(n, "col")), jstr(n, "message"));
	else
		fprintf(f, "%s: %s\n", jstr(n, "file"), jstr(n, "message"));
}

static void print_names(const char *label, const json_t *arr)
{
	size_t i;
	const json_t *v;

	if (!json_array_size(arr))
		return;
	printf("%s", label);
	json_array_foreach(arr, i, v)
		printf("%s%s", i ? ", " : " ", json_string_value(v));
	printf("\n");
}

static int check(const char *file, bool json)
{
	char *path = NULL, *text = NULL;
	json_t *r, *v;
	sl_project *p = NULL;
	size_t i, n_err, n_warn;
	int rc;

	if (!file) {
		if ((rc = cli_open(&p)))
			return rc;
		path = malloc(strlen(sl_project_root(p)) + sizeof "/canvas.yaml");
		if (!path) {
			sl_project_close(p);
			return cli_fail(SL_ENOMEM, NULL);
		}
		sprintf(path, "%s/canvas.yaml", sl_project_root(p));
		sl_project_close(p);
		file = path;
	}
	rc = sl_canvas_check(file, &text);
	free(path);
	if (rc)
		return cli_fail(rc, sl_errmsg());
	r = cli_parse(text);
	if (!r) {
		sl_free(text);
		return EXIT_WORK;
	}
	n_err = json_array_size(json_object_get(r, "errors"));
	n_warn = json_array_size(json_object_get(r, "warnings"));
	if (json) {
		cli_print_json(text);
	} else if (n_err) {
		json_array_foreach(json_object_get(r, "errors"), i, v)
			print_note(stderr, v);
		fprintf(stderr, "sluice: %s is not valid: %zu problem%s\n", jstr(r, "file"), n_err,
			n_err == 1 ? "" : "s");
	} else {
		printf("%s is valid", jstr(r, "file"));
		if (n_warn)
			printf(" (%zu warning%s)", n_warn, n_warn == 1 ? "" : "s");
		printf(".\n\nWhat it drives:\n");
		json_array_foreach(json_object_get(r, "drives"), i, v) {
			printf("  %-20s", jstr(v, "block"));
			wrap(stdout, jstr(v, "summary"), 22, 22);
			printf("%22s-> ", "");
			wrap(stdout, jstr(v, "effect"), 25, 25);
		}
		json_t *d = json_object_get(r, "descriptive");
		printf("\n");
		print_names("For people (shown, not acted on):", json_object_get(d, "filled"));
		print_names("Left empty:", json_object_get(d, "empty"));
		print_names("Pipelines:", json_object_get(r, "pipelines"));
		if (n_warn) {
			printf("\nWarnings:\n");
			json_array_foreach(json_object_get(r, "warnings"), i, v) {
				printf("  ");
				print_note(stdout, v);
			}
		}
	}
	sl_free(text);
	json_decref(r);
	return n_err ? EXIT_USAGE : EXIT_OK;
}

static void print_eval(const json_t *e)
{
	const json_t *m = json_object_get(e, "metric"), *c = json_object_get(e, "cost");
	const json_t *v = json_object_get(e, "value"), *min = json_object_get(e, "minimum");

	printf("\n%s  (%s, %s, %g rows; report %.12s)\n", jstr(e, "step"), jstr(e, "algorithm"),
	       jstr(e, "task"), json_number_value(json_object_get(e, "rows")), jstr(e, "report"));
	if (json_is_string(json_object_get(m, "name")))
		printf("  %-16s model %-10.4g baseline %.4g\n", jstr(m, "name"),
		       json_number_value(json_object_get(m, "model")),
		       json_number_value(json_object_get(m, "baseline")));
	if (json_is_object(min))
		printf("  %-16s %s %g: %s\n", "canvas minimum", jstr(min, "direction"),
		       json_number_value(json_object_get(min, "value")),
		       json_is_true(json_object_get(min, "met")) ? "met" : "missed");
	if (json_is_object(c))
		printf("  %-16s model %-10.4g baseline %-10.4g saving %.4g\n", "cost/decision",
		       json_number_value(json_object_get(c, "model")),
		       json_number_value(json_object_get(c, "baseline")),
		       json_number_value(json_object_get(c, "saving_vs_baseline")));
	if (json_is_object(v))
		printf("  %-16s model %-10.4g baseline %.4g  (at %g per correct decision)\n",
		       "net/decision",
		       json_number_value(json_object_get(json_object_get(v, "model"), "net_per_decision")),
		       json_number_value(json_object_get(json_object_get(v, "baseline"),
							 "net_per_decision")),
		       json_number_value(json_object_get(v, "per_correct_decision")));
	printf("  %-16s %s\n  ", "worth it",
	       json_is_true(json_object_get(e, "worth_it")) ? "yes" : "no");
	wrap(stdout, jstr(e, "statement"), 2, 2);
	size_t i;
	const json_t *n;
	json_array_foreach(json_object_get(e, "notes"), i, n) {
		printf("  note: ");
		wrap(stdout, json_string_value(n), 8, 8);
	}
}

static int report(const char *run, const char *step, bool json)
{
	char *text = NULL;
	sl_project *p;
	json_t *r, *e;
	size_t i;
	int status = cli_open(&p);

	if (status)
		return status;
	int rc = sl_canvas_report(p, run, step, &text);
	status = cli_take(p, rc, text, json, &r);
	sl_project_close(p);
	if (status >= 0)
		return status;
	printf("Run %.12s (%s), weighed against %s:\n", jstr(r, "run"), jstr(r, "pipeline"),
	       jstr(r, "canvas"));
	json_array_foreach(json_object_get(r, "evaluations"), i, e)
		print_eval(e);
	if (json_array_size(json_object_get(r, "evaluations")) > 1 &&
	    json_is_string(json_object_get(r, "best")))
		printf("\nbest: %s\n", jstr(r, "best"));
	json_decref(r);
	return EXIT_OK;
}

static int canvas_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'}, {"run", required_argument, NULL, 'r'},
		{"step", required_argument, NULL, 's'}, CLI_HELP_OPT, {NULL, 0, NULL, 0},
	};
	const char *run = NULL, *step = NULL, *sub;
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = true;
			break;
		case 'r':
			run = optarg;
			break;
		case 's':
			step = optarg;
			break;
		case 'h':
			return cli_help_for(&cmd_canvas);
		default:
			return cli_bad_option("canvas", argv, longopts, "h");
		}
	}
	if (optind == argc)
		return cli_usage("canvas", "say what to do: check or report");
	sub = argv[optind];
	if (!strcmp(sub, "check")) {
		if (run || step)
			return cli_usage("canvas", "--run and --step go with 'canvas report'");
		if (argc - optind > 2)
			return cli_usage("canvas", "'canvas check' takes at most one FILE");
		return check(argc - optind == 2 ? argv[optind + 1] : NULL, json);
	}
	if (!strcmp(sub, "report")) {
		if (argc - optind > 1)
			return cli_usage("canvas", "'canvas report' takes no arguments; use --run, --step");
		return report(run, step, json);
	}
	static const char *const subs[] = {"check", "report"};
	const char *best = sl_suggest(sub, subs, 2);
	return cli_usage("canvas", "unknown subcommand '%s'%s%s%s (check or report)", sub,
			 best ? "; did you mean '" : "", best ? best : "", best ? "'?" : "");
}

const cli_cmd cmd_canvas = {"canvas", canvas_main,
			    "check the ML canvas and what it drives; weigh the latest evaluation",
			    help};
