/*
 * sluice artifacts [--json] [-n N] [--type T]
 * sluice artifacts show ID [--json] [--rows N]
 * sluice artifacts export ID -o FILE [--format raw|csv|jsonl|html]
 * sluice artifacts lineage ID [--json]
 * sluice artifacts gc [--dry-run] [--keep-runs N] [--grace DURATION] [--json]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
	"usage: sluice artifacts [-n N] [--type TYPE] [--json]\n"
	"       sluice artifacts show ID [--rows N] [--json]\n"
	"       sluice artifacts export ID -o FILE [--format raw|csv|jsonl|html] [--json]\n"
	"       sluice artifacts lineage ID [--json]\n"
	"       sluice artifacts gc [--dry-run] [--keep-runs N] [--grace DURATION] [--json]\n"
	"\n"
	"Artifacts are the immutable outputs of steps, named by the SHA-256 of their\n"
	"contents. ID may be any unique prefix of at least 4 hex digits, as in git,\n"
	"or NAME@VERSION / NAME@ALIAS for a registered model's bundle.\n"
	"\n"
	"  (no verb)   list artifacts, newest first\n"
	"  show        type, size, producer, consumers; for a dataset its schema, row\n"
	"              count and first rows; for a model its algorithm, inputs,\n"
	"              outputs and scores; for a small text file its beginning\n"
	"  export      write the artifact to FILE after checking its hash: as stored\n"
	"              (--format raw, the default), a dataset as csv or jsonl, or an\n"
	"              evaluation or tune report as html (a self-contained page)\n"
	"  lineage     what it was made from, back to the files read, and what was made\n"
	"              from it; steps that passed it on unchanged are listed as uses.\n"
	"              A model bundle goes on to the registry versions it became and\n"
	"              what they served: per MODEL@VERSION the requests in the inference\n"
	"              log (.sluice/inference/), by status class, the first and the\n"
	"              last, and the `sluice logs` command listing them (the same for\n"
	"              a model file served by path, under the version the server names it by).\n"
	"              A log of over about 128 MiB of text is read from its newest\n"
	"              segments back, and the counts say since when\n"
	"  gc          remove the files nothing references: kept are registered models'\n"
	"              bundles and everything they were made from, the artifacts of the\n"
	"              newest runs of each pipeline (--keep-runs, default 5) and of\n"
	"              running runs, and anything younger than the grace period (--grace,\n"
	"              default 1h). Records and lineage stay; only files go\n"
	"\n"
	"  -n, --limit N     list at most N (default 50; 0 for all)\n"
	"      --type TYPE   list only this type (dataset, model, file ...)\n"
	"      --rows N      rows of a dataset to show (default 10)\n"
	"  -o, --output FILE where export writes\n"
	"      --format FMT  raw (the stored bytes; default), csv or jsonl (datasets),\n"
	"                    html (evaluation and tune reports)\n"
	"      --dry-run     gc: list what would be removed, remove nothing\n"
	"      --keep-runs N gc: the newest N runs of each pipeline keep their artifacts\n"
	"      --grace D     gc: keep what is younger than D (30s, 10m, 2h, 1d; 0 for none)\n"
	"      --json        machine-readable output\n";

static int list(sl_project *p, int limit, const char *type, bool json)
{
	char *text = NULL;
	json_t *arr, *a;
	size_t i;
	int rc = sl_artifacts_list(p, limit, type, &text);
	int status = cli_take(p, rc, text, json, &arr);

	if (status >= 0)
		return status;
	if (json_array_size(arr) == 0)
		printf("no artifacts yet\n");
	else
		printf("%-12s  %-10s  %12s  %-24s  %s\n", "ID", "TYPE", "SIZE", "CREATED", "PRODUCER");
	json_array_foreach(arr, i, a) {
		json_t *prod = json_object_get(a, "producer");
		char who[128] = "-";
		if (json_is_object(prod))
			snprintf(who, sizeof who, "%s (run %s)",
				 json_string_value(json_object_get(prod, "step")),
				 cli_short(json_string_value(json_object_get(prod, "run"))));
		printf("%-12s  %-10s  %12lld  %-24s  %s\n",
		       cli_short(json_string_value(json_object_get(a, "id"))),
		       json_string_value(json_object_get(a, "type")),
		       (long long)json_integer_value(json_object_get(a, "size")),
		       json_string_value(json_object_get(a, "created")), who);
	}
	json_decref(arr);
	return EXIT_OK;
}

/*
 * The first rows of a dataset as a table. A cell never shows a wrong value:
 * floats are rounded to 10 significant digits (printf rounds correctly;
 * --json has every digit), integers are never cut, and only text is
 * shortened, with an ellipsis. Control characters in text are escaped
 * (\r, \n, \t) so a value cannot break the table.
 */
enum { CELL_MAX = 24, LINE_MAX = 120 };

typedef struct cell {
	char text[4 * CELL_MAX + 8];
	size_t width; /* in characters */
	bool number;  /* right-aligned */
} cell;

/* Characters in a UTF-8 string: the bytes that do not continue one. */
static size_t utf8_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void text_cell(const char *s, cell *c)
{
	size_t o = 0, chars = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		const char *esc = ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : ch == '\t' ? "\\t" : NULL;
		size_t need = esc ? 2 : 1;
		bool starts = (ch & 0xC0) != 0x80;
		if (starts && chars + need > CELL_MAX - 1) {
			/* Cut before a character, never inside one. */
			o += (size_t)snprintf(c->text + o, sizeof c->text - o, "\u2026");
			chars++;
			break;
		}
		if (esc) {
			memcpy(c->text + o, esc, 2);
			o += 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			c->text[o++] = '?';
		} else {
			c->text[o++] = (char)ch;
		}
		chars += starts ? need : 0;
	}
	c->text[o] = '\0';
	c->width = chars;
}

static void make_cell(json_t *v, cell *c)
{
	c->number = json_is_number(v);
	if (!v || json_is_null(v))
		snprintf(c->text, sizeof c->text, "null");
	else if (json_is_string(v))
		return text_cell(json_string_value(v), c);
	else if (json_is_real(v))
		snprintf(c->text, sizeof c->text, "%.10g", json_real_value(v));
	else if (json_is_integer(v))
		snprintf(c->text, sizeof c->text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(c->text, sizeof c->text, "%s", json_is_true(v) ? "true" : "false");
	c->width = utf8_width(c->text);
}

static void print_cell(const cell *c, size_t width, bool last)
{
	size_t pad = width > c->width ? width - c->width : 0;

	if (c->number)
		printf("%*s%s%s", (int)pad, "", c->text, last ? "" : "  ");
	else
		printf("%s%*s", c->text, last ? 0 : (int)pad + 2, "");
}

static void print_head(json_t *cols, json_t *head)
{
	size_t ncol = json_array_size(cols), nrow = json_array_size(head), shown = 0, line = 0;
	cell *cells = calloc((nrow + 1) * (ncol ? ncol : 1), sizeof *cells);
	size_t *width = calloc(ncol ? ncol : 1, sizeof *width);

	if (!cells || !width) {
		free(cells);
		free(width);
		return;
	}
	/* Row 0 holds the names; a column's width is its widest cell. */
	for (size_t j = 0; j < ncol; j++) {
		make_cell(json_object_get(json_array_get(cols, j), "name"), &cells[j]);
		cells[j].number = false;
		width[j] = cells[j].width;
		for (size_t i = 0; i < nrow; i++) {
			cell *c = &cells[(i + 1) * ncol + j];
			make_cell(json_array_get(json_array_get(head, i), j), c);
			if (c->width > width[j])
				width[j] = c->width;
		}
	}
	/* As many columns as fit a wide terminal line; --json has them all. */
	while (shown < ncol && (shown == 0 || line + width[shown] + 2 <= LINE_MAX))
		line += width[shown++] + 2;
	for (size_t i = 0; i <= nrow; i++) {
		for (size_t j = 0; j < shown; j++)
			print_cell(&cells[i * ncol + j], width[j], j + 1 == shown && shown == ncol);
		if (i == 0 && shown < ncol) {
			char more[48];
			printf("... (%s more)", cli_plural((long long)(ncol - shown), "column",
							   "columns", more, sizeof more));
		}
		printf("\n");
	}
	free(cells);
	free(width);
}

static int show(sl_project *p, const char *id, int rows, bool json)
{
	char *text = NULL;
	json_t *a, *prod, *cons, *ds, *c;
	size_t i;
	int rc = sl_artifact_show(p, id, rows, &text);
	int status = cli_take(p, rc, text, json, &a);

	if (status >= 0)
		return status;
	{
		char size[48];
		printf("artifact  %s\ntype      %s\nsize      %s\ncreated   %s\n",
		       json_string_value(json_object_get(a, "id")),
		       json_string_value(json_object_get(a, "type")),
		       cli_plural((long long)json_integer_value(json_object_get(a, "size")), "byte",
				  "bytes", size, sizeof size),
		       json_string_value(json_object_get(a, "created")));
	}
	if (json_is_false(json_object_get(a, "verified")))
		printf("integrity FAILED: the stored file is missing or does not match its id\n");
	prod = json_object_get(a, "producer");
	if (json_is_object(prod))
		printf("producer  step %s of run %s\n", json_string_value(json_object_get(prod, "step")),
		       json_string_value(json_object_get(prod, "run")));
	cons = json_object_get(a, "consumers");
	json_array_foreach(cons, i, c)
		printf("consumer  step %s of run %s (as %s)\n",
		       json_string_value(json_object_get(c, "step")),
		       json_string_value(json_object_get(c, "run")),
		       json_string_value(json_object_get(c, "input")));
	ds = json_object_get(a, "dataset");
	if (json_is_object(ds)) {
		json_t *cols = json_object_get(ds, "columns"), *head = json_object_get(ds, "head");
		printf("rows      %lld\ncolumns   %zu\n\n",
		       (long long)json_integer_value(json_object_get(ds, "rows")), json_array_size(cols));
		printf("%-24s  %-9s  %s\n", "COLUMN", "TYPE", "NULLS");
		json_array_foreach(cols, i, c)
			printf("%-24s  %-9s  %lld\n", json_string_value(json_object_get(c, "name")),
			       json_string_value(json_object_get(c, "type")),
			       (long long)json_integer_value(json_object_get(c, "nulls")));
		if (json_array_size(head)) {
			printf("\n");
			print_head(cols, head);
		}
	} else if (json_is_object(json_object_get(a, "model"))) {
		json_t *m = json_object_get(a, "model"), *v;
		const char *key;
		printf("model     %s (%s)\n", json_string_value(json_object_get(m, "algorithm")),
		       json_string_value(json_object_get(m, "task")));
		if (json_is_string(json_object_get(m, "target")))
			printf("target    %s\n", json_string_value(json_object_get(m, "target")));
		printf("inputs    %zu:", json_array_size(json_object_get(m, "inputs")));
		json_array_foreach(json_object_get(m, "inputs"), i, c)
			printf("%s %s", i ? "," : "", json_string_value(c));
		printf("\noutputs  ");
		json_array_foreach(json_object_get(m, "outputs"), i, c)
			printf("%s %s", i ? "," : "", json_string_value(c));
		printf("\n");
		json_object_foreach(json_object_get(m, "scores"), key, v)
			printf("score     %-20s %.6g\n", key, json_number_value(v));
	} else if (json_is_string(json_object_get(a, "preview"))) {
		printf("\n%s", json_string_value(json_object_get(a, "preview")));
		const char *pv = json_string_value(json_object_get(a, "preview"));
		if (*pv && pv[strlen(pv) - 1] != '\n')
			printf("\n");
	}
	json_decref(a);
	return EXIT_OK;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* "train of split (run 3f2a9c1b7e20)": who made a node, and as which output. */
static void print_maker(json_t *node)
{
	const char *step = jstr(node, "step"), *out = jstr(node, "output");

	if (!step) {
		printf("(no recorded maker: imported)");
		return;
	}
	if (out)
		printf("%s of ", out);
	printf("%s (run %s)", step, cli_short(jstr(node, "run")));
}

/* One line per file a maker read: the roots of an ingest's ancestry. */
static size_t n_sources(json_t *node)
{
	return json_array_size(json_object_get(node, "sources"));
}

static void print_sources(json_t *node, const char *prefix, bool more_after)
{
	json_t *src = json_object_get(node, "sources"), *f;
	size_t i, n = json_array_size(src);

	json_array_foreach(src, i, f) {
		const char *sha = jstr(f, "sha256");
		printf("%s%s file %s", prefix, i + 1 == n && !more_after ? "└─" : "├─", jstr(f, "path"));
		if (sha)
			printf("  sha256 %.12s", sha);
		printf("\n");
	}
}

static void print_ancestors(json_t *nodes, const char *prefix)
{
	size_t i, n = json_array_size(nodes);
	json_t *node;

	json_array_foreach(nodes, i, node) {
		bool last = i + 1 == n;
		json_t *via = json_object_get(node, "via"), *v, *kids = json_object_get(node, "inputs");
		char sub[512];
		size_t k;

		printf("%s%s %s %-9s ", prefix, last ? "└─" : "├─", cli_short(jstr(node, "id")),
		       jstr(node, "type"));
		print_maker(node);
		json_array_foreach(via, k, v)
			printf("%s %s (run %s)", k ? "," : ", passed on by", jstr(v, "step"),
			       cli_short(jstr(v, "run")));
		if (jstr(node, "ref"))
			printf(", through %s", jstr(node, "ref"));
		if (jstr(node, "input"))
			printf(" -> %s", jstr(node, "input"));
		if (json_is_true(json_object_get(node, "repeated")))
			printf(" (see above)");
		printf("\n");
		snprintf(sub, sizeof sub, "%s%s", prefix, last ? "   " : "│  ");
		if (!json_is_true(json_object_get(node, "repeated")))
			print_sources(node, sub, json_array_size(kids) > 0);
		print_ancestors(kids, sub);
	}
}

/* The steps that took a node as it was (made nothing new of it, or handed it on). */
static void print_uses(json_t *node, const char *prefix, bool more_after)
{
	json_t *uses = json_object_get(node, "uses"), *u, *models = json_object_get(node, "models");
	size_t i, n = json_array_size(uses) + json_array_size(models);

	json_array_foreach(uses, i, u) {
		printf("%s%s used by %s (run %s) as %s", prefix, i + 1 == n && !more_after ? "└─" : "├─",
		       jstr(u, "step"), cli_short(jstr(u, "run")), jstr(u, "input"));
		if (jstr(u, "passed_on_as"))
			printf(", passed on as %s", jstr(u, "passed_on_as"));
		printf("\n");
	}
	json_array_foreach(models, i, u) {
		size_t k = json_array_size(uses) + i;
		printf("%s%s registered as model %s version %lld\n", prefix,
		       k + 1 == n && !more_after ? "└─" : "├─", jstr(u, "name"),
		       (long long)json_integer_value(json_object_get(u, "version")));
	}
}

void cli_print_served(json_t *e, const char *prefix, const char *cont)
{
	static const char *const cls[] = {"2xx", "4xx", "5xx", "1xx", "3xx", "other"};
	json_t *st = json_object_get(e, "status");
	long long n = (long long)json_integer_value(json_object_get(e, "requests"));
	int k = 0;

	printf("%sserved as %s@%s: ", prefix, jstr(e, "model"), jstr(e, "version"));
	if (!n) {
		printf("no requests logged\n");
		return;
	}
	printf("%lld request%s (", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < sizeof cls / sizeof *cls; i++)
		if (json_integer_value(json_object_get(st, cls[i])))
			printf("%s%lld %s", k++ ? ", " : "",
			       (long long)json_integer_value(json_object_get(st, cls[i])), cls[i]);
	printf("), %s .. %s\n%s  list them: %s\n", jstr(e, "first"), jstr(e, "last"), cont,
	       jstr(e, "logs"));
}

/* Where the serving counts come from, when not from the whole log. */
void cli_print_log_extent(json_t *log, const char *prefix)
{
	if (jstr(log, "error"))
		printf("%s(the inference log could not be read: %s)\n", prefix, jstr(log, "error"));
	else if (json_is_false(json_object_get(log, "complete")))
		printf("%s(requests since %s: the log's newest %lld segments, some %lld MiB of text)\n", prefix,
		       jstr(log, "since"), (long long)json_integer_value(json_object_get(log, "segments")),
		       (long long)(json_integer_value(json_object_get(log, "bytes")) >> 20));
}

static void print_served(json_t *node, const char *prefix)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(node, "served"), i, e)
		cli_print_served(e, prefix, prefix);
}

static void print_descendants(json_t *nodes, const char *prefix)
{
	size_t i, n = json_array_size(nodes);
	json_t *node;

	json_array_foreach(nodes, i, node) {
		bool last = i + 1 == n;
		json_t *kids = json_object_get(node, "outputs");
		char sub[512];

		printf("%s%s %s %-9s ", prefix, last ? "└─" : "├─", cli_short(jstr(node, "id")),
		       jstr(node, "type"));
		print_maker(node);
		if (jstr(node, "input"))
			printf(" <- %s", jstr(node, "input"));
		if (json_is_true(json_object_get(node, "repeated")))
			printf(" (see above)");
		printf("\n");
		snprintf(sub, sizeof sub, "%s%s", prefix, last ? "   " : "│  ");
		print_uses(node, sub, json_array_size(kids) > 0);
		print_served(node, sub);
		print_descendants(kids, sub);
	}
}

static int lineage(sl_project *p, const char *id, bool json)
{
	char *text = NULL;
	json_t *l, *prod;
	int rc = sl_artifact_lineage(p, id, &text);
	int status = cli_take(p, rc, text, json, &l);

	if (status >= 0)
		return status;
	printf("%s %s", cli_short(jstr(l, "id")), jstr(l, "type"));
	prod = json_object_get(l, "producer");
	if (json_is_object(prod)) {
		printf("  made by %s (run %s)", jstr(prod, "step"), cli_short(jstr(prod, "run")));
		if (jstr(prod, "output"))
			printf(" as %s", jstr(prod, "output"));
	}
	printf("\nancestors (made from):\n");
	if (json_array_size(json_object_get(l, "ancestors")) == 0 && !n_sources(l))
		printf("  none\n");
	print_sources(l, "  ", json_array_size(json_object_get(l, "ancestors")) > 0);
	print_ancestors(json_object_get(l, "ancestors"), "  ");
	if (json_array_size(json_object_get(l, "uses")) || json_array_size(json_object_get(l, "models"))) {
		printf("uses (taken as it is):\n");
		print_uses(l, "  ", false);
	}
	if (json_array_size(json_object_get(l, "served"))) {
		printf("served (inference log):\n");
		print_served(l, "  ");
	}
	cli_print_log_extent(json_object_get(l, "serving_log"), "  ");
	printf("descendants (made from it):\n");
	if (json_array_size(json_object_get(l, "descendants")) == 0)
		printf("  none\n");
	print_descendants(json_object_get(l, "descendants"), "  ");
	json_decref(l);
	return EXIT_OK;
}

static const char *human_size(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

static int gc(sl_project *p, const sl_gc_opts *o, bool json)
{
	char *text = NULL, size[32];
	json_t *r, *e, *list;
	size_t i;
	int rc = sl_artifacts_gc(p, o, &text);
	int status = cli_take(p, rc, text, json, &r);

	if (status >= 0)
		return status;
	list = json_object_get(r, o->dry_run ? "would_remove" : "removed");
	json_array_foreach(list, i, e)
		printf("%s %s %-9s %s\n", o->dry_run ? "would remove" : "removed",
		       cli_short(json_string_value(json_object_get(e, "id"))),
		       json_is_string(json_object_get(e, "type"))
			       ? json_string_value(json_object_get(e, "type"))
			       : "(no record)",
		       human_size((uint64_t)json_integer_value(json_object_get(e, "size")), size,
				  sizeof size));
	json_array_foreach(json_object_get(r, "kept_but_unreferenced"), i, e)
		printf("kept %s: %s\n", cli_short(json_string_value(json_object_get(e, "id"))),
		       json_string_value(json_object_get(e, "why")));
	printf("%s %zu %s, %s; %lld kept\n", o->dry_run ? "would remove" : "removed",
	       json_array_size(list), json_array_size(list) == 1 ? "file" : "files",
	       human_size((uint64_t)json_integer_value(json_object_get(r, "freed_bytes")), size,
			  sizeof size),
	       (long long)json_integer_value(json_object_get(r, "kept")));
	json_decref(r);
	return EXIT_OK;
}

/* "90", "30s", "10m", "2h", "1d" as seconds; false when it is none of those. */
static bool parse_duration(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end), mul = 1;

	if (end == s || v < 0)
		return false;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mul = 60, end++;
	else if (*end == 'h')
		mul = 3600, end++;
	else if (*end == 'd')
		mul = 86400, end++;
	*out = v * mul;
	return *end == '\0';
}

/* Writes the artifact; with --json, says what was written. */
static int export(sl_project *p, const char *id, const char *format, const char *out, bool json)
{
	char *text = NULL;
	json_t *a = NULL, *o;
	int rc = sl_artifact_export(p, id, format, out);

	if (rc)
		return cli_fail(rc, sl_project_errmsg(p));
	if (!json)
		return EXIT_OK;
	rc = sl_artifact_show(p, id, 0, &text);
	if (rc || !(a = cli_parse(text))) {
		sl_free(text);
		return rc ? cli_fail(rc, sl_project_errmsg(p)) : EXIT_WORK;
	}
	sl_free(text);
	o = json_pack("{s:O, s:O, s:s, s:s}", "id", json_object_get(a, "id"), "type",
		      json_object_get(a, "type"), "format", format ? format : "raw", "path", out);
	char *dump = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (dump)
		printf("%s\n", dump);
	free(dump);
	json_decref(o);
	json_decref(a);
	return dump ? EXIT_OK : EXIT_WORK;
}

static int artifacts_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'},        {"limit", required_argument, NULL, 'n'},
		{"type", required_argument, NULL, 'T'},  {"rows", required_argument, NULL, 'R'},
		{"output", required_argument, NULL, 'o'}, {"format", required_argument, NULL, 'F'},
		{"dry-run", no_argument, NULL, 'D'},     {"keep-runs", required_argument, NULL, 'K'},
		{"grace", required_argument, NULL, 'G'},  CLI_HELP_OPT,
		{NULL, 0, NULL, 0},
	};
	sl_gc_opts gco = {.grace_seconds = -1};
	bool json = false;
	const char *type = NULL, *out = NULL, *format = NULL, *verb;
	int limit = 50, rows = 10, c, status, nargs;
	sl_project *p;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:o:h", longopts, NULL)) != -1) {
		char *end;
		long v;
		switch (c) {
		case 'J':
			json = true;
			break;
		case 'n':
		case 'R':
			v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 1000000)
				return cli_usage("artifacts", "wants a count, not '%s'", optarg);
			if (c == 'n')
				limit = (int)v;
			else
				rows = (int)v;
			break;
		case 'T':
			type = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "csv") && strcmp(optarg, "jsonl") && strcmp(optarg, "html") &&
			    strcmp(optarg, "raw"))
				return cli_usage("artifacts",
						 "--format is csv, jsonl, html or raw, not '%s'", optarg);
			format = optarg;
			break;
		case 'D':
			gco.dry_run = 1;
			break;
		case 'K':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 1000000)
				return cli_usage("artifacts", "--keep-runs wants a count of at least 1, "
							      "not '%s'",
						 optarg);
			gco.keep_runs = (int)v;
			break;
		case 'G':
			if (!parse_duration(optarg, &gco.grace_seconds))
				return cli_usage("artifacts",
						 "--grace wants a duration such as 30s, 10m, 2h or 1d, not "
						 "'%s'",
						 optarg);
			break;
		case 'h':
			return cli_help_for(&cmd_artifacts);
		default:
			return cli_bad_option("artifacts", argv, longopts, "n:o:h");
		}
	}
	nargs = argc - optind;
	verb = nargs ? argv[optind] : "list";
	if (strcmp(verb, "list") && strcmp(verb, "show") && strcmp(verb, "export") &&
	    strcmp(verb, "lineage") && strcmp(verb, "gc"))
		return cli_usage("artifacts", "unknown subcommand '%s'", verb);
	if (!strcmp(verb, "gc") && nargs != 1)
		return cli_usage("artifacts", "'artifacts gc' takes no arguments");
	if (strcmp(verb, "list") && strcmp(verb, "gc") && nargs != 2)
		return cli_usage("artifacts", "'artifacts %s' wants one ID", verb);
	if (!strcmp(verb, "list") && nargs > 1)
		return cli_usage("artifacts", "too many arguments");
	if (!strcmp(verb, "export") && !out)
		return cli_usage("artifacts", "export wants -o FILE");
	status = cli_open(&p);
	if (status)
		return status;
	if (!strcmp(verb, "list"))
		status = list(p, limit, type, json);
	else if (!strcmp(verb, "show"))
		status = show(p, argv[optind + 1], rows, json);
	else if (!strcmp(verb, "lineage"))
		status = lineage(p, argv[optind + 1], json);
	else if (!strcmp(verb, "gc"))
		status = gc(p, &gco, json);
	else {
		status = export(p, argv[optind + 1], format, out, json);
	}
	sl_project_close(p);
	return status;
}

const cli_cmd cmd_artifacts = {"artifacts", artifacts_main,
			       "list artifacts; show, export or trace the lineage of one", help};
