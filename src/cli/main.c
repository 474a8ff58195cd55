/*
 * sluice: the command. Dispatches `sluice VERB ...` to the verb's file and
 * holds the helpers every verb shares (error printing, exit codes, JSON).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define SL_ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

static const cli_cmd *const commands[] = {
	&cmd_init,    &cmd_run,    &cmd_runs,  &cmd_artifacts, &cmd_canvas, &cmd_steps,
	&cmd_predict, &cmd_models, &cmd_serve, &cmd_logs,      &cmd_monitor, &cmd_store,  &cmd_version,
	&cmd_help,
};

const cli_cmd *cli_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

const cli_cmd *const *cli_all(size_t *n)
{
	*n = sizeof commands / sizeof commands[0];
	return commands;
}

int cli_exit_code(int rc)
{
	switch (rc) {
	case SL_OK:
		return EXIT_OK;
	case SL_EINVAL:
	case SL_ESPEC:
	case SL_EPARSE:
	case SL_ENOENT:
	case SL_EAMBIG:
	case SL_EEXIST:
	case SL_EUNSUP:
	case SL_EINPUT:
		return EXIT_USAGE;
	default:
		return EXIT_WORK;
	}
}

int cli_fail(int rc, const char *msg)
{
	fprintf(stderr, "sluice: %s\n", msg && *msg ? msg : sl_strerror(rc));
	return cli_exit_code(rc);
}

int cli_usage(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sluice %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsee 'sluice help %s'\n", verb);
	return EXIT_USAGE;
}

int cli_bad_option(const char *verb, char **argv, const struct option *longopts,
		   const char *shortopts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	const char *names[64];
	char want[80], flag[80];
	size_t n = 0;

	if (arg && arg[0] == '-' && arg[1] == '-') {
		size_t len = strcspn(arg + 2, "=");
		const struct option *o = longopts;
		snprintf(flag, sizeof flag, "--%.*s", (int)(len < 60 ? len : 60), arg + 2);
		while (o->name && (strlen(o->name) != len || strncmp(o->name, arg + 2, len)))
			o++;
		if (o->name && o->has_arg == required_argument)
			fprintf(stderr, "sluice %s: option '%s' needs a value; see 'sluice help %s'\n",
				verb, flag, verb);
		else if (o->name)
			fprintf(stderr, "sluice %s: option '%s' takes no value; see 'sluice help %s'\n",
				verb, flag, verb);
		if (o->name)
			return EXIT_USAGE;
	} else if (optopt && strchr(shortopts, optopt)) {
		fprintf(stderr, "sluice %s: option '-%c' needs a value; see 'sluice help %s'\n", verb,
			optopt, verb);
		return EXIT_USAGE;
	} else {
		snprintf(flag, sizeof flag, "-%c", optopt ? optopt : '?');
	}
	/* Unknown: suggest among the verb's own flags, long and short. */
	static char spelled[64][40];
	for (const struct option *o = longopts; o->name && n < SL_ARRAY_N(names); o++) {
		snprintf(spelled[n], sizeof spelled[n], "--%s", o->name);
		names[n] = spelled[n];
		n++;
	}
	const char *best = sl_suggest(flag, names, n);
	if (best)
		snprintf(want, sizeof want, " (did you mean '%s'?)", best);
	else
		want[0] = '\0';
	fprintf(stderr, "sluice %s: unknown option '%s'%s; see 'sluice help %s'\n", verb, flag, want,
		verb);
	return EXIT_USAGE;
}

int cli_help_for(const cli_cmd *c)
{
	fputs(c->help, stdout);
	return EXIT_OK;
}

int cli_open(sl_project **out)
{
	int rc = sl_project_open(NULL, out);

	if (rc)
		return cli_fail(rc, sl_errmsg());
	return EXIT_OK;
}

json_t *cli_parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fprintf(stderr, "sluice: internal error: bad JSON from the library: %s\n", e.text);
	return j;
}

int cli_take(sl_project *p, int rc, char *text, bool json, json_t **out)
{
	*out = NULL;
	if (rc) {
		sl_free(text);
		return cli_fail(rc, p ? sl_project_errmsg(p) : sl_errmsg());
	}
	if (json) {
		cli_print_json(text);
		sl_free(text);
		return EXIT_OK;
	}
	*out = cli_parse(text);
	sl_free(text);
	return *out ? -1 : EXIT_WORK;
}

void cli_print_json(const char *text)
{
	fputs(text, stdout);
	fputc('\n', stdout);
}

bool cli_tty(FILE *f)
{
	const char *term = getenv("TERM");

	return isatty(fileno(f)) && term && strcmp(term, "dumb") != 0;
}

const char *cli_duration(double s, char *buf, size_t size)
{
	if (s < 0)
		snprintf(buf, size, "-");
	else if (s < 1)
		snprintf(buf, size, "%.0fms", s * 1000);
	else if (s < 60)
		snprintf(buf, size, "%.2fs", s);
	else
		snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
	return buf;
}

const char *cli_short(const char *id)
{
	static char buf[4][13];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%.12s", id ? id : "");
	return buf[k];
}

static void usage(FILE *f)
{
	size_t n;
	const cli_cmd *const *all = cli_all(&n);

	fprintf(f, "usage: sluice VERB [ARGS]\n\n"
		   "sluice runs ML pipelines and tracks every artifact they make: data, models,\n"
		   "code, with lineage and caching.\n\n"
		   "verbs:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-11s %s\n", all[i]->name, all[i]->summary);
	fprintf(f, "\n'sluice help VERB' (or 'sluice VERB --help') tells more about a verb.\n"
		   "Exit status: 0 success, 1 the work failed (a step, a gate), 2 bad usage or input.\n");
}

int main(int argc, char **argv)
{
	const cli_cmd *c;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version.fn(1, argv + 1);
	/* Hidden: what orchestrators run where a step runs (not a user's verb). */
	if (!strcmp(argv[1], "step-exec"))
		return cli_step_exec(argc - 1, argv + 1);
	/* Option errors are reported by cli_bad_option, in one line. */
	opterr = 0;
	c = cli_find(argv[1]);
	if (!c) {
		size_t n;
		const cli_cmd *const *all = cli_all(&n);
		const char *names[32];
		for (size_t i = 0; i < n && i < SL_ARRAY_N(names); i++)
			names[i] = all[i]->name;
		const char *best = sl_suggest(argv[1], names, n < SL_ARRAY_N(names) ? n : SL_ARRAY_N(names));
		if (best)
			fprintf(stderr, "sluice: '%s' is not a verb (did you mean '%s'?); see 'sluice --help'\n",
				argv[1], best);
		else
			fprintf(stderr, "sluice: '%s' is not a verb; see 'sluice --help'\n", argv[1]);
		return EXIT_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}

/* ---- step-exec ---------------------------------------------------------------------- */

int cli_step_exec(int argc, char **argv)
{
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: sluice step-exec TASK.json (run by orchestrators)\n");
		return EXIT_USAGE;
	}
	status = sl_task_exec(argv[1]);
	if (status == EXIT_USAGE)
		fprintf(stderr, "sluice step-exec: %s\n", sl_errmsg());
	return status;
}

/* ---- help and version ------------------------------------------------------------ */

static int help_main(int argc, char **argv)
{
	const cli_cmd *c;

	if (argc < 2) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cli_help_for(&cmd_help);
	c = cli_find(argv[1]);
	if (!c)
		return cli_usage("help", "'%s' is not a verb", argv[1]);
	return cli_help_for(c);
}

const cli_cmd cmd_help = {
	"help", help_main, "explain a verb",
	"usage: sluice help [VERB]\n\nPrints what VERB does and its options.\n",
};

static int version_main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help_for(&cmd_version);
	if (argc > 1)
		return cli_usage("version", "takes no arguments");
	printf("sluice %s\n", sl_version());
	return EXIT_OK;
}

const cli_cmd cmd_version = {
	"version", version_main, "print the version",
	"usage: sluice version\n\nPrints sluice's version.\n",
};

const char *cli_plural(long long n, const char *one, const char *many, char *buf, size_t size)
{
	snprintf(buf, size, "%lld %s", n, n == 1 ? one : many);
	return buf;
}
