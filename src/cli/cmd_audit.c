/*
 * sluice audit [--user NAME] [--action A] [--target T] [--outcome O]
 *              [--since TIME] [--until TIME] [--limit N] [--before SEQ] [--json]
 *
 * The audit log, newest first, a page at a time.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice audit [--user NAME] [--action ACTION] [--target TARGET]\n"
	"                    [--outcome OUTCOME] [--since TIME] [--until TIME]\n"
	"                    [--limit N] [--before SEQ] [--json]\n"
	"\n"
	"The append-only audit log: every write through a server (promote, rollback,\n"
	"tag, a run started, an alert acknowledged, feedback, a reload), refused ones\n"
	"included, and the command line's writes to the registry and to the users.\n"
	"Each record says who (the token's user, or the OS account on the command\n"
	"line), with which role, what (action and target), the request, the outcome\n"
	"and when. Newest first, 100 a page; the last line names the next page.\n"
	"\n"
	"      --user NAME      records of one user\n"
	"      --action A       one action (models.promote), or all of a kind with a\n"
	"                       trailing dot (models.)\n"
	"      --target T       one target (spam@production), or a prefix ending in *\n"
	"                       (spam@*)\n"
	"      --outcome O      ok, failed, denied (403) or unauthenticated (401)\n"
	"      --since TIME     ISO 8601 (2026-11-30 or 2026-11-30T12:00:00Z)\n"
	"      --until TIME     a date alone takes in the whole day\n"
	"      --limit N        records a page (default 100, at most 10000)\n"
	"      --before SEQ     the page of records older than SEQ (the \"next\" of the\n"
	"                       page before)\n"
	"      --json           {\"records\": [...], \"next\": SEQ or null} (stable fields)\n"
	"\n"
	"Exit status: 2 for a bad option value.\n";

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static bool parse_count(const char *text, long long max, long long *out)
{
	char *end;
	long long v = strtoll(text, &end, 10);

	if (!*text || *end || v <= 0 || v > max)
		return false;
	*out = v;
	return true;
}

static int audit_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'},	   {"user", required_argument, NULL, 'u'},
		{"action", required_argument, NULL, 'a'},  {"target", required_argument, NULL, 't'},
		{"outcome", required_argument, NULL, 'O'}, {"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'U'},   {"limit", required_argument, NULL, 'n'},
		{"before", required_argument, NULL, 'b'},  CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	sl_audit_filter f = {0};
	bool json = false;
	long long v;
	char *text = NULL;
	json_t *o, *r;
	size_t i;
	int c, status, rc;
	sl_project *p;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = true;
			break;
		case 'u':
			f.who = optarg;
			break;
		case 'a':
			f.action = optarg;
			break;
		case 't':
			f.target = optarg;
			break;
		case 'O':
			f.outcome = optarg;
			break;
		case 's':
			f.since = optarg;
			break;
		case 'U':
			f.until = optarg;
			break;
		case 'n':
			if (!parse_count(optarg, 10000, &v))
				return cli_usage("audit", "--limit '%s': a whole number from 1 to 10000",
						 optarg);
			f.limit = (size_t)v;
			break;
		case 'b':
			if (!parse_count(optarg, (long long)1 << 62, &v))
				return cli_usage("audit", "--before '%s': a record number (SEQ)",
						 optarg);
			f.before = v;
			break;
		case 'h':
			return cli_help_for(&cmd_audit);
		default:
			return cli_bad_option("audit", argv, longopts, "h");
		}
	}
	if (optind < argc)
		return cli_usage("audit", "unexpected argument '%s'", argv[optind]);
	if ((status = cli_open(&p)))
		return status;
	rc = sl_audit_query(p, &f, &text);
	status = cli_take(p, rc, text, json, &o);
	sl_project_close(p);
	if (status >= 0)
		return status;
	if (!json_array_size(json_object_get(o, "records")))
		printf("no audit records%s\n",
		       f.who || f.action || f.target || f.outcome || f.since || f.until || f.before
			       ? " match"
			       : " yet");
	else
		printf("%6s  %-24s  %-16s  %-6s  %-18s  %-24s  %s\n", "SEQ", "AT", "WHO", "VIA",
		       "ACTION", "TARGET", "OUTCOME");
	json_array_foreach(json_object_get(o, "records"), i, r) {
		const char *detail = json_string_value(json_object_get(r, "detail"));
		printf("%6lld  %-24s  %-16s  %-6s  %-18s  %-24s  %s %lld",
		       (long long)json_integer_value(json_object_get(r, "seq")), str(r, "at"),
		       str(r, "who"), str(r, "via"), str(r, "action"), str(r, "target"),
		       str(r, "outcome"), (long long)json_integer_value(json_object_get(r, "status")));
		if (detail)
			printf(": %s", detail);
		printf("\n");
	}
	if (json_is_integer(json_object_get(o, "next")))
		printf("older records: the same with --before %lld\n",
		       (long long)json_integer_value(json_object_get(o, "next")));
	json_decref(o);
	return EXIT_OK;
}

const cli_cmd cmd_audit = {"audit", audit_main, "the audit log: who did what, when", help};
