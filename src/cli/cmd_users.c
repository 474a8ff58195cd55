/*
 * sluice users [list] [--json]
 * sluice users add NAME --role ROLE [--json]
 * sluice users remove NAME [--json]
 * sluice users token NAME [--json]
 * sluice users roles [--json]
 *
 * Every change is written to the audit log with the OS account as who.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice users [list] [--json]\n"
	"       sluice users add NAME --role ROLE [--json]\n"
	"       sluice users remove NAME [--json]\n"
	"       sluice users token NAME [--json]\n"
	"       sluice users roles [--json]\n"
	"\n"
	"The people (and programs) that may use the project's servers, each with a\n"
	"role, and their bearer tokens. `sluice serve` and `sluice ui` ask for a token\n"
	"on every endpoint but health and inference (docs/security.md). On the command\n"
	"line, a local project is used as the OS account: users and roles apply to the\n"
	"servers.\n"
	"\n"
	"  list       the users: name, role, whether it has a token, when made\n"
	"  add        add a user with a role: data_scientist, data_engineer,\n"
	"             ml_engineer, product_engineer, sre or admin\n"
	"  remove     remove a user; its token stops working at once\n"
	"  token      make a new token for the user and print it, once: only its\n"
	"             SHA-256 is kept. The user's previous token stops working\n"
	"  roles      what each role may do (the table of docs/security.md)\n"
	"\n"
	"      --role ROLE  the new user's role\n"
	"      --json       machine-readable output (fields are stable)\n"
	"\n"
	"Exit status: 2 for an unknown user or role, a bad name, or a name taken.\n";

static int print_json_obj(json_t *o)
{
	char *d = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	if (d)
		cli_print_json(d);
	free(d);
	json_decref(o);
	return d ? EXIT_OK : EXIT_WORK;
}

static const char *str(json_t *o, const char *k, const char *none)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : none;
}

static int list(sl_project *p, bool json)
{
	char *text = NULL;
	json_t *arr, *u;
	size_t i;
	int rc = sl_users_list(p, &text);
	int status = cli_take(p, rc, text, json, &arr);

	if (status >= 0)
		return status;
	if (!json_array_size(arr))
		printf("no users yet (sluice users add NAME --role ROLE)\n");
	else
		printf("%-20s  %-16s  %-24s  %-12s  %s\n", "NAME", "ROLE", "CREATED", "CREATED BY",
		       "TOKEN");
	json_array_foreach(arr, i, u) {
		printf("%-20s  %-16s  %-24s  %-12s  %s\n", str(u, "name", "-"), str(u, "role", "-"),
		       str(u, "created", "-"), str(u, "created_by", "-"),
		       json_is_true(json_object_get(u, "token")) ? str(u, "token_created", "yes")
								 : "none");
	}
	json_decref(arr);
	return EXIT_OK;
}

static int roles(bool json)
{
	char *text = NULL;
	json_t *o, *rs, *granted;
	const char *role;
	size_t i;
	int rc = sl_roles(&text);
	int status = cli_take(NULL, rc, text, json, &o);

	if (status >= 0)
		return status;
	rs = json_object_get(o, "roles");
	json_object_foreach(rs, role, granted) {
		json_t *g;
		printf("%-16s ", role);
		json_array_foreach(granted, i, g)
			printf(" %s", json_string_value(g));
		printf("\n");
	}
	json_decref(o);
	return EXIT_OK;
}

static int users_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'},
		{"role", required_argument, NULL, 'r'},
		CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	static const char *const verbs[] = {"list", "add", "remove", "token", "roles"};
	const char *role = NULL, *verb, *name;
	bool json = false;
	int c, nargs, status, rc;
	sl_project *p;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = true;
			break;
		case 'r':
			role = optarg;
			break;
		case 'h':
			return cli_help_for(&cmd_users);
		default:
			return cli_bad_option("users", argv, longopts, "h");
		}
	}
	nargs = argc - optind;
	verb = nargs ? argv[optind] : "list";
	{
		bool known = false;
		for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
			known |= !strcmp(verb, verbs[i]);
		if (!known) {
			const char *best = sl_suggest(verb, verbs, sizeof verbs / sizeof verbs[0]);
			if (best)
				return cli_usage("users", "unknown subcommand '%s' (did you mean '%s'?)",
						 verb, best);
			return cli_usage("users", "unknown subcommand '%s'", verb);
		}
	}
	if ((!strcmp(verb, "list") || !strcmp(verb, "roles")) && nargs > 1)
		return cli_usage("users", "too many arguments");
	if ((!strcmp(verb, "add") || !strcmp(verb, "remove") || !strcmp(verb, "token")) &&
	    nargs != 2)
		return cli_usage("users", "'users %s' wants one NAME", verb);
	if (!strcmp(verb, "add") && !role)
		return cli_usage("users", "'users add' wants --role ROLE (data_scientist, "
					  "data_engineer, ml_engineer, product_engineer, sre, admin)");
	if (role && strcmp(verb, "add"))
		return cli_usage("users", "--role goes with 'users add'");
	if (!strcmp(verb, "roles"))
		return roles(json);
	if ((status = cli_open(&p)))
		return status;
	name = nargs > 1 ? argv[optind + 1] : NULL;
	if (!strcmp(verb, "list")) {
		status = list(p, json);
	} else if (!strcmp(verb, "add")) {
		char target[128];
		rc = sl_user_add(p, name, role);
		if (rc)
			status = cli_fail(rc, sl_project_errmsg(p));
		else if (json)
			status = print_json_obj(json_pack("{s:s, s:s}", "name", name, "role", role));
		else {
			printf("added %s (%s); `sluice users token %s` makes its token\n", name, role,
			       name);
			status = EXIT_OK;
		}
		snprintf(target, sizeof target, "user:%s", name);
		status = cli_audit(p, "users.add", target, argc, argv, rc, status);
	} else if (!strcmp(verb, "remove")) {
		char target[128];
		rc = sl_user_remove(p, name);
		if (rc)
			status = cli_fail(rc, sl_project_errmsg(p));
		else if (json)
			status = print_json_obj(json_pack("{s:s}", "removed", name));
		else {
			printf("removed %s\n", name);
			status = EXIT_OK;
		}
		snprintf(target, sizeof target, "user:%s", name);
		status = cli_audit(p, "users.remove", target, argc, argv, rc, status);
	} else {
		char *token = NULL, target[128];
		rc = sl_user_token(p, name, &token);
		if (rc)
			status = cli_fail(rc, sl_project_errmsg(p));
		else if (json)
			status = print_json_obj(json_pack("{s:s, s:s}", "name", name, "token", token));
		else {
			printf("%s\n", token);
			if (cli_tty(stderr))
				fprintf(stderr, "the token of %s: shown once, keep it; the previous one "
						"no longer works\n",
					name);
			status = EXIT_OK;
		}
		if (token) {
			explicit_bzero(token, strlen(token));
			sl_free(token);
		}
		snprintf(target, sizeof target, "user:%s", name);
		status = cli_audit(p, "users.token", target, argc, argv, rc, status);
	}
	sl_project_close(p);
	return status;
}

const cli_cmd cmd_users = {"users", users_main, "users, their roles and bearer tokens", help};
