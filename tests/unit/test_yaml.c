/*
 * The YAML loader (core/yamltree.h): the core-schema resolver, positions of
 * keys and values, lookups and iteration, JSON with positions (paths,
 * prefixes, literals, aliases, non-finite numbers), every class of error
 * at its LINE:COL (tabs, misaligned and continued keys, duplicates,
 * aliases, tags, limits), files, and allocation failure at every point.
 * Also the "did you mean" rule every message shares (core/suggest.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "yamltree.h"

static sl__ydoc *load(const char *text)
{
	sl__yaml_opts o;
	sl__ydoc *d = NULL;

	memset(&o, 0, sizeof o);
	o.name = "t.yaml";
	if (sl__yaml_parse(text, strlen(text), &o, &d))
		fail_msg("unexpected failure: %s", sl_errmsg());
	return d;
}

/* Asserts that text fails with "t.yaml:WHERE: " followed by text containing needle. */
static void expect(const char *text, const char *where, const char *needle)
{
	sl__yaml_opts o;
	sl__yerr e;
	sl__ydoc *d = (sl__ydoc *)1;
	char want[64];
	int rc;

	memset(&o, 0, sizeof o);
	o.name = "t.yaml";
	o.err = &e;
	rc = sl__yaml_parse(text, strlen(text), &o, &d);
	if (rc != SL_EPARSE)
		fail_msg("expected SL_EPARSE, got %d for:\n%s", rc, text);
	assert_null(d);
	snprintf(want, sizeof want, "t.yaml:%s: ", where);
	if (strncmp(sl_errmsg(), want, strlen(want)) || !strstr(sl_errmsg(), needle))
		fail_msg("message\n  %s\nexpected to start with '%s' and contain '%s'", sl_errmsg(), want,
			 needle);
	/* The parts, for callers that rewrite the message. */
	assert_int_equal(e.rc, SL_EPARSE);
	assert_non_null(strstr(e.msg, needle));
}

static const sl__ynode *at(const sl__ydoc *d, const char *path)
{
	const sl__ynode *n = sl__ynode_at(sl__ydoc_root(d), path);

	if (!n)
		fail_msg("no node at '%s'", path);
	return n;
}

static void test_resolver(void **state)
{
	static const struct {
		const char *text;
		sl__ykind kind;
		double v;
	} cases[] = {
		{"~", SL__Y_NULL, 0},       {"null", SL__Y_NULL, 0},     {"NULL", SL__Y_NULL, 0},
		{"", SL__Y_NULL, 0},        {"true", SL__Y_BOOL, 1},     {"False", SL__Y_BOOL, 0},
		{"yes", SL__Y_STR, 0},      {"on", SL__Y_STR, 0},        {"42", SL__Y_INT, 42},
		{"-12", SL__Y_INT, -12},    {"+7", SL__Y_INT, 7},        {"0x10", SL__Y_INT, 16},
		{"0x1F", SL__Y_INT, 31},    {"0o17", SL__Y_INT, 15},     {"012", SL__Y_INT, 12},
		{"0x", SL__Y_STR, 0},       {"0o8", SL__Y_STR, 0},       {"-0x10", SL__Y_STR, 0},
		{"1_000", SL__Y_STR, 0},    {"1.5", SL__Y_FLOAT, 1.5},   {".5", SL__Y_FLOAT, 0.5},
		{"1e3", SL__Y_FLOAT, 1000}, {"-2.5E-1", SL__Y_FLOAT, -0.25}, {"1.", SL__Y_FLOAT, 1},
		{"e3", SL__Y_STR, 0},       {"1e", SL__Y_STR, 0},        {".", SL__Y_STR, 0},
		{"abc", SL__Y_STR, 0},      {"1.2.3", SL__Y_STR, 0},
	};
	sl__ynode n;

	(void)state;
	for (size_t k = 0; k < SL__ARRAY_LEN(cases); k++) {
		memset(&n, 0, sizeof n);
		assert_int_equal(sl__yaml_resolve(cases[k].text, &n), 0);
		if (n.kind != cases[k].kind)
			fail_msg("'%s': kind %d, expected %d", cases[k].text, n.kind, cases[k].kind);
		if (n.kind == SL__Y_INT || n.kind == SL__Y_FLOAT)
			assert_true(n.d == cases[k].v);
		if (n.kind == SL__Y_BOOL)
			assert_int_equal(n.b, cases[k].v != 0);
	}
	memset(&n, 0, sizeof n);
	assert_int_equal(sl__yaml_resolve(".inf", &n), 0);
	assert_true(n.kind == SL__Y_FLOAT && isinf(n.d) && n.d > 0);
	assert_int_equal(sl__yaml_resolve("-.Inf", &n), 0);
	assert_true(n.kind == SL__Y_FLOAT && isinf(n.d) && n.d < 0);
	assert_int_equal(sl__yaml_resolve(".NaN", &n), 0);
	assert_true(n.kind == SL__Y_FLOAT && isnan(n.d));
	assert_int_equal(sl__yaml_resolve("-.nan", &n), 0);
	assert_int_equal(n.kind, SL__Y_STR); /* NaN has no sign in the core schema */
	assert_int_equal(sl__yaml_resolve("99999999999999999999", &n), -1);
	assert_int_equal(sl__yaml_resolve("0x8000000000000000", &n), -1);
	assert_int_equal(sl__yaml_resolve("9223372036854775807", &n), 0);
	assert_int_equal(n.i, INT64_MAX);
}

/* The tree resolves as the resolver does, quoting and tags included. */
static void test_scalars_in_a_file(void **state)
{
	sl__ydoc *d = load("a: 0x10\nb: '0x10'\nc: .inf\nd: !!float 3\ne: !!str 7\nf: !\n  12\n"
			   "g: !!int 0o17\nh: \"true\"\ni:\nj: !!null ~\n");

	(void)state;
	assert_int_equal(at(d, "a")->kind, SL__Y_INT);
	assert_int_equal(at(d, "a")->i, 16);
	assert_true(at(d, "a")->plain);
	assert_int_equal(at(d, "b")->kind, SL__Y_STR);
	assert_false(at(d, "b")->plain);
	assert_int_equal(at(d, "c")->kind, SL__Y_FLOAT);
	assert_true(isinf(at(d, "c")->d));
	assert_int_equal(at(d, "d")->kind, SL__Y_FLOAT);
	assert_true(at(d, "d")->d == 3.0);
	assert_int_equal(at(d, "e")->kind, SL__Y_STR);
	assert_string_equal(at(d, "e")->text, "7");
	assert_int_equal(at(d, "f")->kind, SL__Y_STR); /* the non-specific tag: a string */
	assert_int_equal(at(d, "g")->i, 15);
	assert_int_equal(at(d, "h")->kind, SL__Y_STR);
	assert_int_equal(at(d, "i")->kind, SL__Y_NULL);
	assert_int_equal(at(d, "j")->kind, SL__Y_NULL);
	assert_string_equal(sl__ynode_kind_name(at(d, "a")), "an integer");
	assert_string_equal(sl__ynode_kind_name(sl__ydoc_root(d)), "a mapping");
	sl__ydoc_free(d);

	/* A key that does not resolve stays a string: keys are names. */
	d = load("99999999999999999999: x\n");
	assert_string_equal(sl__ymap_key_at(sl__ydoc_root(d), 0)->text, "99999999999999999999");
	sl__ydoc_free(d);
}

static void test_positions_and_lookups(void **state)
{
	const char *text = "name: demo\n"
			   "steps:\n"
			   "  prep:\n"
			   "    with:\n"
			   "      ops:\n"
			   "        - {op: impute, columns: [age, income]}\n"
			   "        - filter: 'age > 18'\n"
			   "  \"odd.name\": {x: 1}\n";
	sl__ydoc *d = load(text);
	const sl__ynode *root = sl__ydoc_root(d), *k, *ops, *v;
	size_t n = 0;

	(void)state;
	assert_int_equal(sl__ynode_count(root), 2);
	v = sl__ymap_get(root, "steps", &k);
	assert_non_null(v);
	assert_int_equal(k->pos.line, 2);
	assert_int_equal(k->pos.col, 1);
	assert_int_equal(v->pos.line, 3); /* a block mapping starts at its first key */
	assert_int_equal(v->pos.col, 3);
	assert_false(v->flow);
	assert_null(sl__ymap_get(root, "nope", &k));
	assert_null(k);
	assert_null(sl__ymap_get(sl__ymap_get(root, "name", NULL), "x", NULL)); /* not a mapping */

	ops = at(d, "steps.prep.with.ops");
	assert_int_equal(ops->kind, SL__Y_SEQ);
	assert_int_equal(sl__ynode_count(ops), 2);
	v = sl__yseq_at(ops, 0);
	assert_true(v->flow);
	assert_int_equal(v->pos.line, 6);
	assert_int_equal(v->pos.col, 11);
	v = at(d, "steps.prep.with.ops[0].columns[1]");
	assert_string_equal(v->text, "income");
	assert_int_equal(v->pos.line, 6);
	assert_int_equal(v->pos.col, 39);
	/* Characters inside a one-line scalar: quotes are counted. */
	v = at(d, "steps.prep.with.ops[1].filter");
	assert_true(v->exact);
	assert_int_equal(v->lead, 1);
	assert_int_equal(v->pos.col, 19);
	assert_int_equal(sl__ynode_pos_at(v, 6).col, 19 + 1 + 6);
	/* A key that is not a plain name is quoted in paths. */
	assert_int_equal(at(d, "steps[\"odd.name\"].x")->i, 1);
	assert_null(sl__ynode_at(root, "steps.odd.name"));
	assert_null(sl__ynode_at(root, "steps.prep.with.ops[2]"));
	assert_null(sl__ynode_at(root, "steps[")); /* malformed */
	/* Iteration in file order. */
	for (size_t i = 0; i < sl__ynode_count(at(d, "steps")); i++)
		n += strlen(sl__ymap_key_at(at(d, "steps"), i)->text);
	assert_int_equal(n, strlen("prep") + strlen("odd.name"));
	sl__ydoc_free(d);

	/* An empty stream has no root. */
	d = load("# nothing\n");
	assert_null(sl__ydoc_root(d));
	sl__ydoc_free(d);
}

static void test_json_with_positions(void **state)
{
	const char *text = "a: 1\n"
			   "b: 1.10\n"
			   "list:\n"
			   "  - x\n"
			   "  - {k: true, \"a b\": ~}\n"
			   "anchor: &A {v: 2}\n"
			   "copy: *A\n";
	sl__ydoc *d = load(text);
	sl__ypmap *pm = NULL;
	sl__yjson o;
	sl__yloc loc;
	json_t *j = NULL;

	(void)state;
	assert_int_equal(sl__ypmap_new(&pm), 0);
	memset(&o, 0, sizeof o);
	o.pmap = pm;
	assert_int_equal(sl__yaml_json(d, sl__ydoc_root(d), &o, &j), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	assert_true(json_is_null(sl__ypath_json(j, "list[1][\"a b\"]")));
	assert_true(json_is_true(sl__ypath_json(j, "list[1].k")));
	assert_int_equal(json_integer_value(sl__ypath_json(j, "copy.v")), 2);
	assert_null(sl__ypath_json(j, "list[2]"));

	/* Exact paths: the value, its key, and a plain literal's text. */
	assert_int_equal(sl__ypmap_find(pm, "b", &loc), 1);
	assert_int_equal(loc.pos.line, 2);
	assert_int_equal(loc.pos.col, 4);
	assert_int_equal(loc.key.col, 1);
	assert_string_equal(loc.literal, "1.10");
	assert_int_equal(sl__ypmap_find(pm, "list[1].k", &loc), (long)strlen("list[1].k"));
	assert_int_equal(loc.pos.line, 5);
	assert_int_equal(loc.pos.col, 9);
	assert_int_equal(loc.key.col, 6);
	assert_int_equal(sl__ypmap_find(pm, "list[0]", &loc), 7);
	assert_int_equal(loc.key.line, 0); /* an item has no key */
	assert_null(loc.literal);          /* a string: no literal needed */
	/* A missing key falls back to the nearest written value. */
	assert_int_equal(sl__ypmap_find(pm, "list[1].missing.deep", &loc), (long)strlen("list[1]"));
	assert_int_equal(loc.pos.line, 5);
	assert_int_equal(loc.pos.col, 5);
	assert_int_equal(sl__ypmap_find(pm, "zzz", &loc), 0); /* the root */
	assert_int_equal(loc.pos.line, 1);
	/* An alias's values are where the anchor wrote them. */
	assert_int_equal(sl__ypmap_find(pm, "copy.v", &loc), (long)strlen("copy.v"));
	assert_int_equal(loc.pos.line, 6);
	assert_true(sl__ypmap_count(pm) >= 9);
	json_decref(j);
	sl__ypmap_free(pm);

	/* A root path prefixes every recorded path. */
	assert_int_equal(sl__ypmap_new(&pm), 0);
	o.pmap = pm;
	o.root = "with";
	assert_int_equal(sl__yaml_json(d, at(d, "list"), &o, &j), 0);
	assert_int_equal(sl__ypmap_find(pm, "with[1].k", &loc), (long)strlen("with[1].k"));
	json_decref(j);
	sl__ypmap_free(pm);
	sl__ydoc_free(d);

	/* Paths quote what is not a plain name. */
	sl__buf b;
	sl__buf_init(&b, 0);
	assert_int_equal(sl__ypath_key(&b, "ops"), 0);
	assert_int_equal(sl__ypath_index(&b, 3), 0);
	assert_int_equal(sl__ypath_key(&b, "unit \"price\""), 0);
	assert_int_equal(sl__ypath_key(&b, "x"), 0);
	assert_string_equal(b.data, "ops[3][\"unit \\\"price\\\"\"].x");
	sl__buf_free(&b);
	assert_true(sl__ypath_plain("_a-b9"));
	assert_false(sl__ypath_plain("9a"));
	assert_false(sl__ypath_plain("a.b"));
}

/* Infinity and NaN: a positioned error where JSON must hold them, text where asked. */
static void test_nonfinite(void **state)
{
	sl__ydoc *d = load("ok: 1\nmax: .inf\nmin: -.inf\nbad: .nan\n");
	sl__yjson o;
	json_t *j = NULL;

	(void)state;
	assert_int_equal(sl__yaml_json(d, sl__ydoc_root(d), NULL, &j), SL_EPARSE);
	assert_null(j);
	assert_int_equal(sl__ydoc_errpos(d).line, 2);
	assert_int_equal(sl__ydoc_errpos(d).col, 6);
	assert_non_null(strstr(sl__ydoc_errmsg(d), "'.inf' is infinite, which cannot be used here"));
	assert_int_equal(sl__ydoc_raise(d), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "t.yaml:2:6: '.inf' is infinite"));
	sl__ydoc_clear(d);
	memset(&o, 0, sizeof o);
	o.flags = SL__YJSON_NONFINITE_TEXT;
	assert_int_equal(sl__yaml_json(d, sl__ydoc_root(d), &o, &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "max")), "Inf");
	assert_string_equal(json_string_value(json_object_get(j, "min")), "-Inf");
	assert_string_equal(json_string_value(json_object_get(j, "bad")), "NaN");
	json_decref(j);
	sl__ydoc_free(d);
}

static int upper_hook(void *arg, sl__ydoc *d, const sl__ynode *n, const char *path, json_t **out)
{
	int *calls = arg;

	(*calls)++;
	if (n->kind != SL__Y_STR)
		return 0;
	if (!strcmp(n->text, "boom"))
		return sl__ydoc_fail(d, n->pos, "no booms at %s", path);
	*out = json_string("HOOKED");
	return 1;
}

static void test_scalar_hook(void **state)
{
	sl__ydoc *d = load("a: x\nb: [1, boom]\n");
	sl__yjson o;
	json_t *j = NULL;
	int calls = 0;

	(void)state;
	memset(&o, 0, sizeof o);
	o.scalar = upper_hook;
	o.arg = &calls;
	assert_int_equal(sl__yaml_json(d, sl__ymap_get(sl__ydoc_root(d), "a", NULL), &o, &j), 0);
	assert_string_equal(json_string_value(j), "HOOKED");
	json_decref(j);
	o.root = "b";
	assert_int_equal(sl__yaml_json(d, sl__ymap_get(sl__ydoc_root(d), "b", NULL), &o, &j), SL_EPARSE);
	assert_string_equal(sl__ydoc_errmsg(d), "no booms at b[1]");
	assert_int_equal(sl__ydoc_errpos(d).col, 8);
	assert_int_equal(calls, 3);
	sl__ydoc_free(d);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	/* Tabs: the message says so, at the tab. */
	expect("a:\n\tb: 1\n", "2:1", "tab used for indentation; use spaces");
	expect("a:\n  b: 1\n  \tc: 2\n", "3:3", "tab used for indentation; use spaces");
	expect("steps:\n  a:\n    run: echo hi\n\tcache: false\n", "4:1", "tab used for indentation");
	/* A key between two indentation levels is reported at its own line. */
	expect("a:\n  b:\n    c: 1\n   d: 2\n", "4:4",
	       "bad indentation: 'd' is indented 3 spaces, which lines up with no mapping around it: "
	       "the keys at line 3 are indented 4 and those at line 2 are indented 2");
	expect("name: x\nsteps:\n  a:\n    run: echo\n b:\n", "5:2", "'b' is indented 1 space,");
	/* Under-indented first key: libyaml only complains a line later ("mapping
	 * values are not allowed"); the message names the line that is wrong. */
	expect("steps:\n  a:\n   run: echo hi\n    cache: false\n", "3:4",
	       "bad indentation: 'run' is indented 3 spaces but the keys after it (line 4) are "
	       "indented 4, so 'cache' is read as part of the value of 'run'");
	expect("steps:\n  a:\n   run: echo hi\n    cache: false\n    uses: x\n", "3:4",
	       "'run' is indented 3 spaces");
	/* Over-indented key after a plain value: this line is the wrong one. */
	expect("steps:\n  a:\n    run: echo hi\n      cache: false\n", "4:7",
	       "bad indentation: 'cache' is indented 6 spaces, more than 'run' on line 3 (4), so it "
	       "is read as part of the value of 'run'; indent it like 'run'");
	/* Other syntax errors keep libyaml's words and positions. */
	expect("a: [1, 2\n", "2:1", "invalid YAML");
	expect("a: b: c\n", "1:5", "invalid YAML: mapping values are not allowed in this context");
	expect("a: \"x\n", "2:1", "invalid YAML");
	expect("a: \xff\n", "1:4", "invalid YAML"); /* a reader error: from the byte offset */
}

static void test_structure_errors(void **state)
{
	sl__yaml_opts o;
	sl__ydoc *d = NULL;
	char *big;

	(void)state;
	expect("a: 1\nb: 2\na: 3\n", "3:1", "duplicate key 'a' (first defined at line 1, column 1)");
	expect("a: 1\n---\nb: 2\n", "2:1", "only one YAML document is allowed in a YAML file");
	expect("a: *nope\n", "1:4", "unknown or recursive alias '*nope'");
	expect("a: &x\n  b: [*x]\n", "2:7", "unknown or recursive alias");
	expect("a: {<<: {b: 1}}\n", "1:5", "merge keys ('<<') are not supported");
	expect("? [1]\n: 2\n", "1:3", "mapping keys must be scalars, not a sequence");
	expect("a: !!binary aGk=\n", "1:4", "unsupported YAML tag");
	expect("a: !!int abc\n", "1:4", "'abc' is not an integer");
	expect("a: !!float abc\n", "1:4", "'abc' is not a number");
	expect("a: !!bool yes\n", "1:4", "'yes' is not a boolean");
	expect("a: !!null x\n", "1:4", "'x' is not null");
	expect("a: 99999999999999999999\n", "1:4", "integer '99999999999999999999' is out of range");
	expect("a: \"x\\0y\"\n", "1:4", "NUL characters are not allowed");

	/* Nesting and node limits. */
	big = malloc(4096);
	assert_non_null(big);
	size_t n = 0;
	for (int i = 0; i < 70; i++)
		big[n++] = '[';
	big[n] = '\0';
	expect(big, "1:65", "nesting deeper than 64 levels");
	free(big);
	memset(&o, 0, sizeof o);
	o.name = "t.yaml";
	o.max_nodes = 5;
	assert_int_equal(sl__yaml_parse("[1, 2, 3, 4, 5, 6]", 18, &o, &d), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "too many YAML nodes (the limit is 5)"));
	/* An alias bomb is weighed, not expanded. */
	o.max_nodes = 100;
	assert_int_equal(sl__yaml_parse("a: &a [1, 1, 1, 1]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\n"
					"d: [*c, *c, *c, *c]\n",
					strlen("a: &a [1, 1, 1, 1]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\n"
					       "d: [*c, *c, *c, *c]\n"),
					&o, &d),
			 SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "too many values once aliases are expanded"));
	/* Consumers choose the code and name what the file is. */
	o.max_nodes = 0;
	o.code = SL_ESPEC;
	o.what = "a pipeline file";
	assert_int_equal(sl__yaml_parse("a: 1\n---\nb: 2\n", 14, &o, &d), SL_ESPEC);
	assert_non_null(strstr(sl_errmsg(), "only one YAML document is allowed in a pipeline file"));
}

static void test_files(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "c.yaml"), *empty = tu_path(dir, "e.yaml");
	char *missing = tu_path(dir, "none.yaml");
	sl__ypmap *pm = NULL;
	sl__yloc loc;
	sl__ydoc *d = NULL;
	json_t *j = NULL;

	(void)state;
	tu_write(path, "offline_evaluation:\n  metric: roc_auc\n  min: 0x10\n");
	tu_write(empty, "");
	assert_int_equal(sl__yaml_load_json(path, 0, &j, &pm), 0);
	assert_int_equal(json_integer_value(sl__ypath_json(j, "offline_evaluation.min")), 16);
	assert_int_equal(sl__ypmap_find(pm, "offline_evaluation.min", &loc),
			 (long)strlen("offline_evaluation.min"));
	assert_int_equal(loc.pos.line, 3);
	assert_int_equal(loc.pos.col, 8);
	json_decref(j);
	sl__ypmap_free(pm);
	assert_int_equal(sl__yaml_load_json(empty, 0, &j, NULL), 0);
	assert_true(json_is_object(j) && json_object_size(j) == 0);
	json_decref(j);
	assert_int_equal(sl__yaml_load_json(missing, 0, &j, NULL), SL_ENOENT);
	assert_null(j);
	tu_write(path, "a: [1\n");
	assert_int_equal(sl__yaml_load_file(path, NULL, &d), SL_EPARSE);
	assert_null(d);
	/* The message names the file as given. */
	assert_non_null(strstr(sl_errmsg(), "c.yaml:2:1: invalid YAML"));
	assert_int_equal(strncmp(sl_errmsg(), path, strlen(path)), 0);
	free(path);
	free(empty);
	free(missing);
	tu_rmdir(dir);
}

/* Every allocation of a parse and a conversion may fail: never a crash or a leak. */
static void test_alloc_failures(void **state)
{
	const char *text = "a: &x {b: [1, 2.5, \"three\", .inf], c: {d: e}}\nf: *x\ng: [*x, *x]\n";
	tu_oom oo = {0};

	(void)state;
	for (long n = 0; n < 100000 && !oo.done; n++) {
		sl__yaml_opts o;
		sl__ydoc *d = NULL;
		sl__ypmap *pm = NULL;
		sl__yjson jo;
		json_t *j = NULL;
		int rc;

		memset(&o, 0, sizeof o);
		tu_oom_begin(&oo, n);
		rc = sl__yaml_parse(text, strlen(text), &o, &d);
		if (rc == 0 && (rc = sl__ypmap_new(&pm)) == 0) {
			memset(&jo, 0, sizeof jo);
			jo.flags = SL__YJSON_NONFINITE_TEXT;
			jo.pmap = pm;
			rc = sl__yaml_json(d, sl__ydoc_root(d), &jo, &j);
		}
		tu_oom_end(&oo, rc);
		if (rc == 0) {
			assert_string_equal(json_string_value(sl__ypath_json(j, "g[1].b[3]")), "Inf");
		} else {
			assert_int_equal(rc, SL_ENOMEM);
		}
		json_decref(j);
		sl__ypmap_free(pm);
		sl__ydoc_free(d);
	}
	tu_oom_check(&oo, 10);
}

static void test_suggest(void **state)
{
	static const char *const steps[] = {"ingest.csv", "ingest.file", "ingest.jsonl", "ingest.sql",
					    "label",      "split",       "validate",     "wrangle"};
	static const char *const flags[] = {"--jobs", "--param", "--no-cache", "--json", "--quiet"};
	const char *out[8];
	char buf[200];

	(void)state;
	assert_int_equal(sl__edit_distance("inptus", "inputs"), 1); /* a transposition */
	assert_int_equal(sl__edit_distance("", "abc"), 3);
	assert_string_equal(sl__suggest("validation", steps, 8), "validate");
	assert_string_equal(sl__suggest("ingest.cvs", steps, 8), "ingest.csv");
	assert_string_equal(sl__suggest("--nocache", flags, 5), "--no-cache");
	assert_string_equal(sl__suggest("randm", (const char *const[]){"random", "time"}, 2), "random");
	assert_null(sl__suggest("x", (const char *const[]){"y"}, 1)); /* too short to guess */
	assert_null(sl__suggest("frobnicate", steps, 8));
	assert_null(sl__suggest("split", steps, 8)); /* itself is no suggestion */
	/* Every close name, best first; a family name matches its members. */
	assert_int_equal(sl__suggest_all("ingest", steps, 8, out, 8), 4);
	assert_string_equal(out[0], "ingest.csv");
	assert_string_equal(out[3], "ingest.sql");
	assert_true(sl__did_you_mean(buf, sizeof buf, "ingest", steps, 8));
	assert_string_equal(buf, "did you mean 'ingest.csv', 'ingest.file', 'ingest.jsonl' or "
				 "'ingest.sql'?");
	assert_true(sl__did_you_mean(buf, sizeof buf, "ingest.fil", steps, 8));
	assert_string_equal(buf, "did you mean 'ingest.file'?");
	assert_false(sl__did_you_mean(buf, sizeof buf, "zzz", steps, 8));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolver),
		cmocka_unit_test(test_scalars_in_a_file),
		cmocka_unit_test(test_positions_and_lookups),
		cmocka_unit_test(test_json_with_positions),
		cmocka_unit_test(test_nonfinite),
		cmocka_unit_test(test_scalar_hook),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_suggest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
