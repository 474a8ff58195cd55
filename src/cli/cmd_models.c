/*
 * sluice models [--tag KEY[=VALUE]] [--json]
 * sluice models show NAME[@VERSION|@ALIAS] [--all] [--json]
 * sluice models promote NAME VERSION --to ALIAS [--force --reason TEXT] [--json]
 * sluice models rollback NAME [--alias ALIAS] [--reason TEXT] [--json]
 * sluice models history NAME [--alias ALIAS] [--json]
 * sluice models tag NAME@VERSION KEY=VALUE... [--remove KEY]... [--json]
 * sluice models delete NAME@VERSION [--json]
 * sluice models export MODEL --format c -o FILE.c
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SHOW_VERSIONS 20 /* versions `models show` prints without --all */
#define MAX_TAG_ARGS 64

static const char help[] =
	"usage: sluice models [--tag KEY[=VALUE]] [--json]\n"
	"       sluice models show NAME[@VERSION|@ALIAS] [--all] [--json]\n"
	"       sluice models promote NAME VERSION --to ALIAS [--force --reason TEXT] [--json]\n"
	"       sluice models rollback NAME [--alias ALIAS] [--reason TEXT] [--json]\n"
	"       sluice models history NAME [--alias ALIAS] [--json]\n"
	"       sluice models tag NAME@VERSION KEY=VALUE... [--remove KEY]... [--json]\n"
	"       sluice models delete NAME@VERSION [--json]\n"
	"       sluice models export MODEL --format c -o FILE.c\n"
	"\n"
	"The model registry. A pipeline's register step adds a bundle as the next\n"
	"version of a model (numbered from 1, never reused); aliases such as\n"
	"production or staging point at versions, and every move of an alias is\n"
	"recorded: from, to, when, who, why. VERSION is a number, an alias or latest.\n"
	"\n"
	"  (no verb)   list the models: versions, the newest, aliases; with --tag,\n"
	"              the versions carrying that tag (any value, or VALUE)\n"
	"  show        one model: aliases, versions (newest 20; --all for every one),\n"
	"              the alias history; NAME@VERSION shows that version alone,\n"
	"              with what it served (requests in the inference log)\n"
	"  promote     point ALIAS at VERSION; a version whose verdict is not passed\n"
	"              needs --force and a --reason, both recorded (exit 1 without)\n"
	"  rollback    undo the latest move of the alias (production unless --alias)\n"
	"              that was not undone already; repeat to go further back\n"
	"  history     the alias moves, oldest first\n"
	"  tag         set tags on a version; --remove KEY removes one\n"
	"  delete      delete a version (refused while an alias points at it); its\n"
	"              number is never given again, and `sluice artifacts gc` can then\n"
	"              remove its bundle file\n"
	"  export      write MODEL as one C99 file that needs only math.h: the\n"
	"              bundle's transform and the model, behind\n"
	"                int model_predict(const double *row, double *out);\n"
	"              with the input order in model_columns, the outputs in\n"
	"              model_outputs and each string column's codes in\n"
	"              model_dictionary (docs/cli.md). Operations that need a\n"
	"              string's text (text, hashing, string functions) or other\n"
	"              rows (lag, rolling) have no C form and are refused, named.\n"
	"              MODEL is a registered version (NAME@VERSION, NAME@ALIAS,\n"
	"              NAME@latest), a bundle or model file, or the id of a model\n"
	"              or bundle artifact\n"
	"\n"
	"      --to ALIAS      the alias promote moves\n"
	"      --alias ALIAS   the alias of rollback (default production) or history\n"
	"      --force         promote despite the verdict (needs --reason)\n"
	"      --reason TEXT   why, recorded with the move\n"
	"      --tag KEY[=V]   list versions by tag\n"
	"      --remove KEY    remove a tag (tag)\n"
	"      --all           show every version\n"
	"  -o, --output FILE   where export writes (atomically)\n"
	"      --format FMT    export's format: c (the only one)\n"
	"      --json          machine-readable output (fields are stable)\n"
	"\n"
	"Exit status: 2 for an unknown model, version or alias, or a refused delete;\n"
	"1 when promote refuses a version's verdict.\n";

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* "production=3 staging=4" */
static void print_aliases(json_t *aliases)
{
	const char *k;
	json_t *v;
	bool first = true;

	json_object_foreach(aliases, k, v) {
		printf("%s%s=%lld", first ? "" : " ", k, (long long)json_integer_value(v));
		first = false;
	}
	if (first)
		printf("-");
}

/* "accuracy=0.91 roc_auc=0.97" */
static void print_numbers(json_t *obj)
{
	const char *k;
	json_t *v;
	bool first = true;

	json_object_foreach(obj, k, v) {
		if (json_is_number(v))
			printf("%s%s=%.6g", first ? "" : " ", k, json_number_value(v));
		else
			printf("%s%s=%s", first ? "" : " ", k,
			       json_is_string(v) ? json_string_value(v) : "null");
		first = false;
	}
	if (first)
		printf("-");
}

static int list(sl_project *p, const char *tag, bool json)
{
	char *text = NULL;
	json_t *arr, *m;
	size_t i;
	int rc, status;

	if (tag) {
		char key[256];
		const char *eq = strchr(tag, '=');
		snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - tag) : (int)strlen(tag), tag);
		rc = sl_models_search(p, key, eq ? eq + 1 : NULL, &text);
	} else {
		rc = sl_models_list(p, &text);
	}
	status = cli_take(p, rc, text, json, &arr);
	if (status >= 0)
		return status;
	if (tag) {
		if (!json_array_size(arr))
			printf("no version has tag %s\n", tag);
		else
			printf("%-24s  %7s  %-7s  %-24s  %s\n", "MODEL", "VERSION", "VERDICT", "CREATED",
			       "TAGS");
		json_array_foreach(arr, i, m) {
			printf("%-24s  %7lld  %-7s  %-24s  ", str(m, "name"),
			       (long long)json_integer_value(json_object_get(m, "version")),
			       str(m, "verdict"), str(m, "created"));
			print_numbers(json_object_get(m, "tags"));
			printf("\n");
		}
	} else {
		if (!json_array_size(arr))
			printf("no models yet (a pipeline's register step adds them)\n");
		else
			printf("%-24s  %8s  %6s  %-24s  %s\n", "MODEL", "VERSIONS", "LATEST", "UPDATED",
			       "ALIASES");
		json_array_foreach(arr, i, m) {
			json_t *latest = json_object_get(m, "latest");
			char l[24] = "-";
			if (json_is_integer(latest))
				snprintf(l, sizeof l, "%lld", (long long)json_integer_value(latest));
			printf("%-24s  %8lld  %6s  %-24s  ", str(m, "name"),
			       (long long)json_integer_value(json_object_get(m, "versions")), l,
			       str(m, "updated"));
			print_aliases(json_object_get(m, "aliases"));
			printf("\n");
		}
	}
	json_decref(arr);
	return EXIT_OK;
}

static const char *ver_text(json_t *v, char *buf, size_t size)
{
	if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, size, "none");
	return buf;
}

/* One history record in a line. */
static void print_move(json_t *h)
{
	char from[24], to[24];
	const char *reason = json_string_value(json_object_get(h, "reason"));

	printf("  %-24s  %-12s  %s -> %s  %-8s by %s%s", str(h, "at"), str(h, "alias"),
	       ver_text(json_object_get(h, "from"), from, sizeof from),
	       ver_text(json_object_get(h, "to"), to, sizeof to), str(h, "kind"), str(h, "who"),
	       json_is_true(json_object_get(h, "forced")) ? " (forced)" : "");
	if (json_is_string(json_object_get(h, "run")))
		printf(" in run %s", cli_short(str(h, "run")));
	if (reason)
		printf(": %s", reason);
	printf("\n");
}

static void print_version_detail(json_t *m, json_t *v)
{
	json_t *al = json_object_get(v, "aliases"), *a;
	size_t i;

	printf("model      %s\nversion    %lld", str(m, "name"),
	       (long long)json_integer_value(json_object_get(v, "version")));
	json_array_foreach(al, i, a)
		printf("%s%s", i ? ", " : "  (", json_string_value(a));
	printf("%s\n", json_array_size(al) ? ")" : "");
	printf("bundle     %s\nrun        %s\ncreated    %s by %s\nalgorithm  %s\n"
	       "verdict    %s\nmetrics    ",
	       str(v, "bundle"), str(v, "run"), str(v, "created"), str(v, "created_by"),
	       str(v, "algorithm"), str(v, "verdict"));
	print_numbers(json_object_get(v, "metrics"));
	printf("\ntags       ");
	print_numbers(json_object_get(v, "tags"));
	printf("\n");
}

/* What version ref served (sl_model_served), or NULL when the log cannot say: a warning then. */
static json_t *version_served(sl_project *p, const char *ref)
{
	char *text = NULL;
	json_t *j;

	if (sl_model_served(p, ref, &text)) {
		fprintf(stderr, "sluice: warning: what %s served is unknown: %s\n", ref,
			sl_project_errmsg(p));
		return NULL;
	}
	j = cli_parse(text);
	sl_free(text);
	return j;
}

static int show(sl_project *p, const char *ref, bool all, bool json)
{
	char *text = NULL;
	json_t *m, *versions, *history, *v;
	size_t i, n, older;
	/* --json is every version (the fixed shape); the table the newest. */
	int rc = sl_model_show_newest(p, ref, json || all ? 0 : SHOW_VERSIONS, &text);
	json_t *served = rc == 0 && strchr(ref, '@') ? version_served(p, ref) : NULL;
	int status;

	if (json && served) {
		/* NAME@VERSION: the version says what it served, from the log. */
		json_t *doc = cli_parse(text);
		char *d = NULL;
		sl_free(text);
		if (doc && !json_object_set(json_array_get(json_object_get(doc, "versions"), 0),
					    "served", served))
			d = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (d)
			cli_print_json(d);
		free(d);
		json_decref(doc);
		json_decref(served);
		return d ? EXIT_OK : EXIT_WORK;
	}
	status = cli_take(p, rc, text, json, &m);
	if (status >= 0) {
		json_decref(served);
		return status;
	}
	versions = json_object_get(m, "versions");
	history = json_object_get(m, "history");
	n = json_array_size(versions);
	if (json_is_integer(json_object_get(m, "version")) && n == 1) {
		print_version_detail(m, json_array_get(versions, 0));
		if (served) {
			cli_print_served(served, "serving    ", "           ");
			cli_print_log_extent(json_object_get(served, "log"), "           ");
		}
	} else {
		size_t total = (size_t)json_integer_value(json_object_get(m, "versions_total"));
		printf("model      %s\nversions   %zu (numbers up to %lld)\naliases    ", str(m, "name"),
		       total, (long long)json_integer_value(json_object_get(m, "last_version")));
		print_aliases(json_object_get(m, "aliases"));
		printf("\n\n");
		older = total > n ? total - n : 0;
		if (n)
			printf("%7s  %-7s  %-12s  %-24s  %-12s  %-12s  %s\n", "VERSION", "VERDICT",
			       "ALGORITHM", "CREATED", "RUN", "BUNDLE", "METRICS");
		for (i = n; i-- > 0;) {
			json_t *al = json_object_get((v = json_array_get(versions, i)), "aliases"), *a;
			size_t k;
			printf("%7lld  %-7s  %-12s  %-24s  %-12s  %-12s  ",
			       (long long)json_integer_value(json_object_get(v, "version")),
			       str(v, "verdict"), str(v, "algorithm"), str(v, "created"),
			       cli_short(str(v, "run")), cli_short(str(v, "bundle")));
			print_numbers(json_object_get(v, "metrics"));
			json_array_foreach(al, k, a)
				printf("%s%s", k ? ", " : "  <- ", json_string_value(a));
			printf("\n");
		}
		if (older)
			printf("... and %zu older (--all shows them)\n", older);
	}
	if (json_array_size(history)) {
		printf("\nalias moves (oldest first):\n");
		json_array_foreach(history, i, v)
			print_move(v);
	}
	json_decref(served);
	json_decref(m);
	return EXIT_OK;
}

/* Prints a move's record (or that nothing moved). */
static int moved(sl_project *p, int rc, char *text, bool json)
{
	json_t *rec;
	int status = cli_take(p, rc, text, json, &rec);

	if (status >= 0)
		return status;
	if (json_is_false(json_object_get(rec, "moved"))) {
		char to[24];
		printf("alias %s already points at version %s; nothing moved\n", str(rec, "alias"),
		       ver_text(json_object_get(rec, "to"), to, sizeof to));
	} else {
		print_move(rec);
	}
	json_decref(rec);
	return EXIT_OK;
}

static int history(sl_project *p, const char *name, const char *alias, bool json)
{
	char *text = NULL;
	json_t *arr, *h;
	size_t i;
	int rc = sl_model_history(p, name, alias, &text);
	int status = cli_take(p, rc, text, json, &arr);

	if (status >= 0)
		return status;
	if (!json_array_size(arr))
		printf("no alias of %s has moved yet\n", name);
	json_array_foreach(arr, i, h)
		print_move(h);
	json_decref(arr);
	return EXIT_OK;
}

/* Sets and removes tags, then prints the version's tags. */
static int tag(sl_project *p, const char *ref, char **sets, int n_sets, const char **removes,
	       int n_removes, bool json)
{
	char *text = NULL;
	json_t *m, *v;
	int rc = 0, status;

	for (int i = 0; i < n_sets && rc == 0; i++) {
		char *eq = strchr(sets[i], '=');
		*eq = '\0';
		rc = sl_model_tag(p, ref, sets[i], eq + 1);
		*eq = '=';
	}
	for (int i = 0; i < n_removes && rc == 0; i++)
		rc = sl_model_tag(p, ref, removes[i], NULL);
	if (rc)
		return cli_fail(rc, sl_project_errmsg(p));
	rc = sl_model_show(p, ref, &text);
	status = cli_take(p, rc, text, false, &m);
	if (status >= 0)
		return status;
	v = json_array_get(json_object_get(m, "versions"), 0);
	if (json) {
		json_t *o = json_pack("{s:O, s:O, s:O}", "name", json_object_get(m, "name"), "version",
				      json_object_get(v, "version"), "tags", json_object_get(v, "tags"));
		char *d = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		if (d)
			cli_print_json(d);
		free(d);
		json_decref(o);
		status = d ? EXIT_OK : EXIT_WORK;
	} else {
		printf("%s@%lld tags: ", str(m, "name"),
		       (long long)json_integer_value(json_object_get(v, "version")));
		print_numbers(json_object_get(v, "tags"));
		printf("\n");
		status = EXIT_OK;
	}
	json_decref(m);
	return status;
}

static int delete(sl_project *p, const char *ref, bool json)
{
	int rc = sl_model_delete(p, ref);

	if (rc)
		return cli_fail(rc, sl_project_errmsg(p));
	if (json) {
		json_t *o = json_pack("{s:s}", "deleted", ref);
		char *d = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
		if (d)
			cli_print_json(d);
		free(d);
		json_decref(o);
		return d ? EXIT_OK : EXIT_WORK;
	}
	printf("deleted %s\n", ref);
	return EXIT_OK;
}

static int export_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'}, {"format", required_argument, NULL, 'F'},
		CLI_HELP_OPT,                             {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *format = NULL;
	char *model = NULL, source[600];
	long long version;
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
	if ((status = cli_model_ref_version(argv[optind], &model, &version)) != EXIT_OK)
		return status;
	if (version) {
		/* Named through the registry: the file's comment says by what. */
		snprintf(source, sizeof source, "%s (version %lld)", argv[optind], version);
		rc = sl_model_export_from(model, source, format, out);
	} else {
		rc = sl_model_export(model, format, out);
	}
	free(model);
	return rc ? cli_fail(rc, sl_errmsg()) : EXIT_OK;
}

static int models_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'},	  {"to", required_argument, NULL, 't'},
		{"alias", required_argument, NULL, 'a'},  {"force", no_argument, NULL, 'f'},
		{"reason", required_argument, NULL, 'r'}, {"tag", required_argument, NULL, 'T'},
		{"remove", required_argument, NULL, 'R'}, {"all", no_argument, NULL, 'A'},
		CLI_HELP_OPT,				  {NULL, 0, NULL, 0},
	};
	static const char *const verbs[] = {"list",    "show", "promote", "rollback",
					    "history", "tag",  "delete",  "export"};
	bool json = false, all = false;
	const char *to = NULL, *alias = NULL, *reason = NULL, *tag_filter = NULL, *verb;
	const char *removes[MAX_TAG_ARGS];
	int n_removes = 0, c, nargs, status;
	sl_move_opts mo = {0};
	sl_project *p;

	/* export has options of its own: it parses its arguments itself. */
	if (argc > 1 && !strcmp(argv[1], "export"))
		return export_main(argc - 1, argv + 1);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = true;
			break;
		case 't':
			to = optarg;
			break;
		case 'a':
			alias = optarg;
			break;
		case 'f':
			mo.force = 1;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'T':
			tag_filter = optarg;
			break;
		case 'R':
			if (n_removes == MAX_TAG_ARGS)
				return cli_usage("models", "at most %d --remove", MAX_TAG_ARGS);
			removes[n_removes++] = optarg;
			break;
		case 'A':
			all = true;
			break;
		case 'h':
			return cli_help_for(&cmd_models);
		default:
			return cli_bad_option("models", argv, longopts, "h");
		}
	}
	nargs = argc - optind;
	verb = nargs ? argv[optind] : "list";
	if ((status = cli_subcommand("models", verb, verbs, sizeof verbs / sizeof verbs[0])))
		return status;
	if (!strcmp(verb, "export"))
		return cli_usage("models", "export's options come after it: "
					   "sluice models export MODEL --format c -o FILE.c");
	/* What each verb takes, checked before the project is opened. */
	if (!strcmp(verb, "list") && nargs > 1)
		return cli_usage("models", "too many arguments");
	if ((!strcmp(verb, "show") || !strcmp(verb, "delete") || !strcmp(verb, "rollback") ||
	     !strcmp(verb, "history")) &&
	    nargs != 2)
		return cli_usage("models", "'models %s' wants one %s", verb,
				 !strcmp(verb, "delete") ? "NAME@VERSION" : "NAME");
	if (!strcmp(verb, "promote") && nargs != 3)
		return cli_usage("models", "'models promote' wants NAME VERSION --to ALIAS");
	if (!strcmp(verb, "promote") && !to)
		return cli_usage("models", "'models promote' wants --to ALIAS");
	if (mo.force && (!reason || !*reason))
		return cli_usage("models", "--force needs --reason TEXT (it is recorded)");
	if (!strcmp(verb, "tag")) {
		if (nargs < 2)
			return cli_usage("models", "'models tag' wants NAME@VERSION and KEY=VALUE");
		if (nargs == 2 && !n_removes)
			return cli_usage("models", "'models tag' wants KEY=VALUE or --remove KEY");
		for (int i = optind + 2; i < argc; i++)
			if (!strchr(argv[i], '=') || argv[i][0] == '=')
				return cli_usage("models", "'%s' is not KEY=VALUE", argv[i]);
	}
	mo.reason = reason;
	status = cli_open(&p);
	if (status)
		return status;
	if (!strcmp(verb, "list")) {
		status = list(p, tag_filter, json);
	} else if (!strcmp(verb, "show")) {
		status = show(p, argv[optind + 1], all, json);
	} else if (!strcmp(verb, "promote")) {
		char *text = NULL, target[256];
		int rc = sl_model_promote(p, argv[optind + 1], argv[optind + 2], to, &mo, &text);
		snprintf(target, sizeof target, "%s@%s", argv[optind + 1], to);
		status = moved(p, rc, text, json);
		status = cli_audit(p, "models.promote", target, rc, status);
	} else if (!strcmp(verb, "rollback")) {
		char *text = NULL, target[256];
		int rc = sl_model_rollback(p, argv[optind + 1], alias ? alias : "production", &mo,
					   &text);
		snprintf(target, sizeof target, "%s@%s", argv[optind + 1],
			 alias ? alias : "production");
		status = moved(p, rc, text, json);
		status = cli_audit(p, "models.rollback", target, rc, status);
	} else if (!strcmp(verb, "history")) {
		status = history(p, argv[optind + 1], alias, json);
	} else if (!strcmp(verb, "tag")) {
		status = tag(p, argv[optind + 1], argv + optind + 2, argc - optind - 2, removes,
			     n_removes, json);
		status = cli_audit(p, "models.tag", argv[optind + 1],
				   status ? SL_EINVAL : 0, status);
	} else {
		status = delete(p, argv[optind + 1], json);
		status = cli_audit(p, "models.delete", argv[optind + 1],
				   status ? SL_EINVAL : 0, status);
	}
	sl_project_close(p);
	return status;
}

const cli_cmd cmd_models = {"models", models_main,
			    "the model registry: versions, aliases, their history; export to C", help};
