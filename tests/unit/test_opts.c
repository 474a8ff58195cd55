/*
 * The option schema and its checker (steps/step.h, steps/opts.c): type
 * coercion, allowed values with suggestions, ranges, lengths, list items,
 * nested mappings, tagged variants with short forms, alternative shapes,
 * rules among options, expressions, defaults, check hooks, and the
 * problem's path for every one. A schema shaped like the ML steps of
 * DESIGN.md (train.gbdt, evaluate, test, tune) shows the tables can say
 * what those steps need. Also the tables' own lint and their description,
 * and the check of column names against the inputs' columns before a run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps/step.h"
#include "testutil.h"
#include "yamltree.h"

/* Checks `with` given as YAML (positions and literals as the parser has
 * them). Returns the checker's code; *out (may be NULL) gets the result. */
static int check_yaml(const step_def *def, const char *yaml, step_problem *pb, json_t **out)
{
	sl__ypmap *pm = NULL;
	json_t *with = NULL;
	int rc;

	if (sl__yaml_parse_json(yaml, strlen(yaml), NULL, 0, &with, &pm))
		fail_msg("bad YAML in test: %s", sl_errmsg());
	rc = step_opts_check(def, with, pm, NULL, 0, pb);
	sl__ypmap_free(pm);
	if (out)
		*out = with;
	else
		json_decref(with);
	return rc;
}

static void ok(const step_def *def, const char *yaml)
{
	step_problem pb;

	if (check_yaml(def, yaml, &pb, NULL))
		fail_msg("%s: unexpected problem at '%s': %s", yaml, pb.path, pb.msg);
}

/* Asserts a problem at path whose message contains needle. */
static void bad(const step_def *def, const char *yaml, const char *path, const char *needle)
{
	step_problem pb;
	int rc = check_yaml(def, yaml, &pb, NULL);

	if (rc != SL_EINVAL)
		fail_msg("%s: expected a problem, got %d", yaml, rc);
	if (strcmp(pb.path, path) || !strstr(pb.msg, needle))
		fail_msg("%s:\n  problem at '%s': %s\n  expected at '%s' with '%s'", yaml, pb.path, pb.msg,
			 path, needle);
}

/* ---- coercion ---------------------------------------------------------------------- */

static const step_opt typed[] = {
	{.name = "s", .type = OPT_STRING, .help = "s"},       {.name = "i", .type = OPT_INT, .help = "i"},
	{.name = "n", .type = OPT_NUMBER, .help = "n"},       {.name = "b", .type = OPT_BOOL, .help = "b"},
	{.name = "l", .type = OPT_LIST, .help = "l"},         {.name = "m", .type = OPT_MAP, .help = "m"},
	{.name = "p", .type = OPT_PATH, .help = "p"},         {.name = "sl", .type = OPT_STRING_LIST, .help = "sl"},
	{.name = "a", .type = OPT_ANY, .help = "a"},          {.name = "v", .type = OPT_SCALAR, .help = "v"},
	{.name = NULL},
};
static const step_def typed_def = {.name = "fake.step", .opts = typed};

static void test_coercion(void **state)
{
	static const struct {
		const char *opt;
		const char *in;  /* JSON */
		const char *out; /* JSON, or NULL for a problem */
	} cases[] = {
		{"s", "\"x\"", "\"x\""},     {"s", "42", "\"42\""},         {"s", "true", "\"true\""},
		{"s", "[1]", NULL},          {"i", "42", "42"},             {"i", "\"42\"", "42"},
		{"i", "\"-0x10\"", NULL},    {"i", "\"0x10\"", "16"},       {"i", "4.0", "4"},
		{"i", "4.5", NULL},          {"i", "\"four\"", NULL},       {"i", "true", NULL},
		{"n", "5", "5.0"},           {"n", "\"5\"", "5.0"},         {"n", "\"1e3\"", "1000.0"},
		{"n", "0.25", "0.25"},       {"n", "\"abc\"", NULL},        {"n", "\".inf\"", NULL},
		{"n", "\"0x10\"", "16.0"},   {"b", "true", "true"},         {"b", "\"false\"", "false"},
		{"b", "\"yes\"", NULL},      {"b", "1", NULL},              {"l", "[1]", "[1]"},
		{"l", "{}", NULL},           {"m", "{}", "{}"},             {"m", "[]", NULL},
		{"p", "\"a/b\"", "\"a/b\""}, {"p", "3", NULL},              {"p", "\"\"", NULL},
		{"sl", "\"a\"", "\"a\""},    {"sl", "[\"a\", \"b\"]", "[\"a\", \"b\"]"},
		{"sl", "[\"a\", [1]]", NULL}, {"sl", "{}", NULL},           {"a", "{\"x\": [1]}", "{\"x\": [1]}"},
		{"v", "1.5", "1.5"},         {"v", "\"x\"", "\"x\""},       {"v", "[1]", NULL},
	};

	(void)state;
	for (size_t k = 0; k < SL__ARRAY_LEN(cases); k++) {
		char text[256];
		json_t *with;
		step_problem pb;
		int rc;
		snprintf(text, sizeof text, "{\"%s\": %s}", cases[k].opt, cases[k].in);
		with = json_loads(text, 0, NULL);
		assert_non_null(with);
		rc = step_opts_check(&typed_def, with, NULL, NULL, 0, &pb);
		if (!cases[k].out) {
			if (rc != SL_EINVAL)
				fail_msg("case %zu (%s): expected a problem", k, text);
			/* The option, or the item of it that is wrong. */
			assert_int_equal(strncmp(pb.path, cases[k].opt, strlen(cases[k].opt)), 0);
			assert_non_null(strstr(pb.msg, "option '"));
		} else {
			json_t *want = json_loads(cases[k].out, JSON_DECODE_ANY, NULL);
			json_t *got = json_object_get(with, cases[k].opt);
			if (rc || !json_equal(got, want) || json_typeof(got) != json_typeof(want))
				fail_msg("case %zu (%s): rc %d (%s), got %s", k, text, rc, pb.msg,
					 json_dumps(got, JSON_ENCODE_ANY));
			json_decref(want);
		}
		json_decref(with);
	}
	/* In a file, plain scalars keep their text where a string is wanted. */
	json_t *with;
	step_problem pb;
	assert_int_equal(check_yaml(&typed_def, "{s: 1.10, sl: [NA, ~, 007, true]}", &pb, &with), 0);
	assert_string_equal(json_string_value(json_object_get(with, "s")), "1.10");
	assert_string_equal(json_string_value(json_array_get(json_object_get(with, "sl"), 1)), "~");
	assert_string_equal(json_string_value(json_array_get(json_object_get(with, "sl"), 2)), "007");
	json_decref(with);
	/* An explicit null at the top means "not set". */
	assert_int_equal(check_yaml(&typed_def, "{i: ~}", &pb, &with), 0);
	assert_null(json_object_get(with, "i"));
	json_decref(with);
	bad(&typed_def, "{zz: 1}", "zz", "unknown option 'zz' for fake.step (its options: s, i, n");
	bad(&typed_def, "{sll: 1}", "sll", "unknown option 'sll' for fake.step (did you mean 'sl'?)");
	bad(&typed_def, "{ii: 1}", "ii", "(its options: "); /* one letter is too little to guess from */
	bad(&typed_def, "[1]", "", "the options must be a mapping");
}

/* ---- constraints on one value ------------------------------------------------------- */

static const step_opt one_item = {.type = OPT_NUMBER, .range = "(0, 1]"};
static const step_opt col = {.type = OPT_STRING, .len = "[1,)"};
static const step_opt constrained[] = {
	{.name = "method", .type = OPT_STRING, .def = "random", .help = "m",
	 .choices = "random stratified time|chronological group"},
	{.name = "mode", .type = OPT_STRING, .choices = "fail null", .help = "m"},
	{.name = "rate", .type = OPT_NUMBER, .range = "(0, 1]", .help = "r"},
	{.name = "rounds", .type = OPT_INT, .def = "100", .range = "[1,)", .help = "r"},
	{.name = "delta", .type = OPT_NUMBER, .range = "(,0)", .help = "d"},
	{.name = "fracs", .type = OPT_LIST, .len = "[2, 3]", .item = &one_item, .help = "f"},
	{.name = "cols", .type = OPT_STRING_LIST, .len = "[1,)", .unique = true, .item = &col, .help = "c"},
	{.name = "name", .type = OPT_STRING, .len = "[1, 8]", .help = "n"},
	{.name = "when", .type = OPT_EXPR, .help = "w"},
	{.name = NULL},
};
static const step_def constrained_def = {.name = "fake.step", .opts = constrained};

static void test_constraints(void **state)
{
	json_t *with;
	step_problem pb;

	(void)state;
	ok(&constrained_def, "{method: stratified, rate: 1, fracs: [0.5, 0.5], cols: a}");
	ok(&constrained_def, "{method: chronological}"); /* an alias */
	bad(&constrained_def, "{method: randm}", "method",
	    "option 'method' of fake.step must be one of random, stratified, time or group, not "
	    "'randm' (did you mean 'random'?)");
	bad(&constrained_def, "{method: chronologic}", "method", "(did you mean 'chronological'?)");
	bad(&constrained_def, "{method: kfold}", "method", "not 'kfold'");
	/* A plain null is the text "null" where a choice is named so. */
	assert_int_equal(check_yaml(&constrained_def, "{mode: null}", &pb, &with), 0);
	assert_string_equal(json_string_value(json_object_get(with, "mode")), "null");
	json_decref(with);
	bad(&constrained_def, "{rate: 0}", "rate", "must be in (0, 1], not 0");
	bad(&constrained_def, "{rate: 1.5}", "rate", "must be in (0, 1], not 1.5");
	bad(&constrained_def, "{rounds: 0}", "rounds", "must be at least 1, not 0");
	bad(&constrained_def, "{delta: 0}", "delta", "must be below 0, not 0");
	ok(&constrained_def, "{delta: -0.5}");
	bad(&constrained_def, "{fracs: [0.5]}", "fracs", "must have 2 or 3 items, not 1");
	bad(&constrained_def, "{fracs: [0.5, 0, 0.5]}", "fracs[1]", "option 'fracs[1]' of fake.step must be in (0, 1], not 0");
	bad(&constrained_def, "{fracs: [0.5, x]}", "fracs[1]", "must be a number, not 'x'");
	bad(&constrained_def, "{cols: []}", "cols", "must not be empty");
	bad(&constrained_def, "{cols: [a, b, a]}", "cols[2]", "'a' is listed twice (items 0 and 2)");
	bad(&constrained_def, "{cols: [a, '']}", "cols[1]", "must not be empty");
	bad(&constrained_def, "{name: ''}", "name", "must have 1 to 8 characters, not 0");
	bad(&constrained_def, "{name: abcdefghi}", "name", "must have 1 to 8 characters, not 9");
	/* An expression's syntax, with the column of the mistake inside the value. */
	ok(&constrained_def, "{when: \"a > 1 and lower(b) in ['x', 'y']\"}");
	assert_int_equal(check_yaml(&constrained_def, "{when: \"a > > 1\"}", &pb, NULL), SL_EINVAL);
	assert_string_equal(pb.path, "when");
	assert_int_equal(pb.inner, 5);
	if (!strstr(pb.msg, "expected"))
		fail_msg("message: %s", pb.msg);
	assert_int_equal(check_yaml(&constrained_def, "{when: \"nosuchfn(a)\"}", &pb, NULL), SL_EINVAL);
	assert_non_null(strstr(pb.msg, "nosuchfn"));
	/* Defaults are filled in at the top level, and checked like values. */
	assert_int_equal(check_yaml(&constrained_def, "{}", &pb, &with), 0);
	assert_string_equal(json_string_value(json_object_get(with, "method")), "random");
	assert_int_equal(json_integer_value(json_object_get(with, "rounds")), 100);
	assert_null(json_object_get(with, "rate"));
	json_decref(with);
}

/* ---- rules ---------------------------------------------------------------------------- */

static const step_opt ruled[] = {
	{.name = "path", .type = OPT_STRING, .help = "p"},
	{.name = "url", .type = OPT_STRING, .help = "u"},
	{.name = "method", .type = OPT_STRING, .def = "random", .choices = "random stratified group",
	 .help = "m"},
	{.name = "by", .type = OPT_STRING, .help = "b"},
	{.name = "min", .type = OPT_NUMBER, .help = "m"},
	{.name = "max", .type = OPT_NUMBER, .help = "m"},
	{.name = "low_q", .type = OPT_NUMBER, .help = "l"},
	{.name = "mapping", .type = OPT_MAP, .help = "m"},
	{.name = "from", .type = OPT_STRING, .help = "f"},
	{.name = NULL},
};
static const step_rule rules[] = {
	{.kind = RULE_ONE_OF, .names = "path url", .why = "a file or a server"},
	{.kind = RULE_REQUIRES, .names = "by", .when = "method=stratified|group", .why = "the column"},
	{.kind = RULE_FORBIDS, .names = "by", .when = "method=random"},
	{.kind = RULE_EXCLUSIVE, .names = "min low_q"},
	{.kind = RULE_REQUIRES, .names = "from", .when = "mapping"},
	{.kind = RULE_END},
};
static const step_opt any_rule_opts[] = {
	{.name = "a", .type = OPT_INT, .help = "a"},
	{.name = "b", .type = OPT_INT, .help = "b"},
	{.name = NULL},
};
static const step_rule any_rules[] = {{.kind = RULE_ANY_OF, .names = "a b"}, {.kind = RULE_END}};
static const step_def ruled_def = {.name = "fake.step", .opts = ruled, .rules = rules};
static const step_def any_def = {.name = "fake.any", .opts = any_rule_opts, .rules = any_rules};

static void test_rules(void **state)
{
	(void)state;
	ok(&ruled_def, "{path: a}");
	bad(&ruled_def, "{}", "", "give one of 'path' or 'url' (a file or a server)");
	bad(&ruled_def, "{path: a, url: b}", "url",
	    "'url' cannot be given with 'path' (give only one of 'path' and 'url': a file or a server)");
	bad(&ruled_def, "{path: a, method: group}", "method", "method group needs option 'by' (the column)");
	ok(&ruled_def, "{path: a, method: group, by: g}");
	/* The condition sees the default: method random refuses by. */
	bad(&ruled_def, "{path: a, by: g}", "by", "'by' cannot be given with method random");
	bad(&ruled_def, "{path: a, min: 1, low_q: 0.1}", "low_q", "'low_q' cannot be given with 'min'");
	ok(&ruled_def, "{path: a, min: 1, max: 2}");
	bad(&ruled_def, "{path: a, mapping: {x: 1}}", "mapping", "'mapping' needs option 'from' too");
	/* A null is not "given". */
	ok(&ruled_def, "{path: a, url: ~}");
	bad(&any_def, "{}", "", "give at least one of 'a' or 'b'");
	ok(&any_def, "{b: 1}");
}

/* ---- variants and alternatives -------------------------------------------------------- */

static const step_opt v_cols[] = {
	{.name = "columns", .type = OPT_STRING_LIST, .required = true, .item = &col, .help = "c"},
	{.name = NULL},
};
static const step_opt v_impute[] = {
	{.name = "columns", .type = OPT_STRING_LIST, .item = &col, .help = "c"},
	{.name = "strategy", .type = OPT_STRING, .def = "mean", .choices = "mean median constant", .help = "s"},
	{.name = "value", .type = OPT_SCALAR, .help = "v"},
	{.name = NULL},
};
static const step_rule v_impute_rules[] = {
	{.kind = RULE_REQUIRES, .names = "value", .when = "strategy=constant"},
	{.kind = RULE_END},
};
static const step_opt v_lag[] = {
	{.name = "column", .type = OPT_STRING, .help = "c"},
	{.name = "order_by", .type = OPT_STRING, .required = true, .help = "o"},
	{.name = NULL},
};
static const step_opt v_filter[] = {
	{.name = "expr", .type = OPT_EXPR, .required = true, .help = "e"},
	{.name = NULL},
};
static const step_variant variants[] = {
	{.name = "select", .shorthand = "columns", .fields = v_cols, .help = "s"},
	{.name = "impute", .shorthand = "columns", .fields = v_impute, .rules = v_impute_rules, .help = "i"},
	{.name = "normalise|normalize|scale", .shorthand = "columns", .fields = v_cols, .help = "n"},
	{.name = "lag", .shorthand = "column", .fields = v_lag, .help = "l"},
	{.name = "filter", .shorthand = "expr", .fields = v_filter, .help = "f"},
	{.name = NULL},
};
static const step_opt op = {.type = OPT_MAP, .tag = "op", .variants = variants, .help = "an operation"};
static const step_opt ops_opts[] = {
	{.name = "ops", .type = OPT_LIST, .item = &op, .help = "o"},
	{.name = NULL},
};
static const step_def ops_def = {.name = "fake.ops", .opts = ops_opts};

static void test_variants(void **state)
{
	(void)state;
	ok(&ops_def, "{ops: [{op: select, columns: [a]}, {select: a}, {impute: [a, b]}, "
		     "{op: scale, columns: x}, {filter: \"a > 1\"}, {op: impute, strategy: constant, value: 0}]}");
	bad(&ops_def, "{ops: [{select: a}, {op: imputer}]}", "ops[1].op",
	    "unknown op 'imputer'; did you mean 'impute'? (one of select, impute, normalise, lag or filter)");
	bad(&ops_def, "{ops: [{imputer: a}]}", "ops[0].imputer", "unknown op 'imputer'; did you mean 'impute'?");
	bad(&ops_def, "{ops: [{columns: a, strategy: mean}]}", "ops[0]", "missing 'op'");
	bad(&ops_def, "{ops: [{op: impute, colums: [a]}]}", "ops[0].colums",
	    "unknown option 'colums' in op impute (ops[0]) of fake.ops (did you mean 'columns'?)");
	bad(&ops_def, "{ops: [{op: select}]}", "ops[0]", "ops[0] needs option 'columns'");
	bad(&ops_def, "{ops: [{op: impute, strategy: constant}]}", "ops[0].strategy",
	    "strategy constant needs option 'value'");
	bad(&ops_def, "{ops: [{op: impute, strategy: meen}]}", "ops[0].strategy", "(did you mean 'mean'?)");
	/* A short form sets the main option; others that are required need the long form. */
	bad(&ops_def, "{ops: [{lag: x}]}", "ops[0]", "op lag needs option 'order_by'");
	bad(&ops_def, "{ops: [{select: [a, 1.5, []]}]}", "ops[0].select[2]", "item 2 is a sequence");
	bad(&ops_def, "{ops: [{filter: \"a >\"}]}", "ops[0].filter", "");
	bad(&ops_def, "{ops: [{op: 3}]}", "ops[0].op", "'op' must name an operation, not an integer");
	bad(&ops_def, "{ops: [x]}", "ops[0]", "must be a mapping, not 'x'");
}

/* ---- the ML steps of DESIGN.md, as tables ----------------------------------------- */

static const step_opt nonneg = {.type = OPT_NUMBER, .range = "[0,)"};
static const step_opt cost_row = {.type = OPT_LIST, .len = "[2,)", .item = &nonneg};
static const step_opt over_under[] = {
	{.name = "over", .type = OPT_NUMBER, .required = true, .range = "[0,)", .help = "cost of one unit over"},
	{.name = "under", .type = OPT_NUMBER, .required = true, .range = "[0,)", .help = "cost of one unit under"},
	{.name = NULL},
};
static const step_opt cost_shapes[] = {
	{.type = OPT_LIST, .len = "[2,)", .item = &cost_row, .help = "a cost matrix (rows of numbers)"},
	{.type = OPT_MAP, .fields = over_under, .help = "{over, under} unit costs"},
	{.help = NULL},
};
static const step_opt test_rule_fields[] = {
	{.name = "metric", .type = OPT_STRING, .required = true, .len = "[1,)", .help = "the metric"},
	{.name = "min", .type = OPT_NUMBER, .help = "lowest allowed"},
	{.name = "max", .type = OPT_NUMBER, .help = "highest allowed"},
	{.name = "vs", .type = OPT_STRING, .choices = "baseline champion", .help = "compared with"},
	{.name = "min_delta", .type = OPT_NUMBER, .help = "absolute improvement"},
	{.name = "min_ratio", .type = OPT_NUMBER, .range = "(0,)", .help = "relative improvement"},
	{.name = NULL},
};
static const step_rule test_rule_rules[] = {
	{.kind = RULE_ANY_OF, .names = "min max vs"},
	{.kind = RULE_EXCLUSIVE, .names = "min_delta min_ratio"},
	{.kind = RULE_REQUIRES, .names = "vs", .when = "min_delta"},
	{.kind = RULE_REQUIRES, .names = "vs", .when = "min_ratio"},
	{.kind = RULE_END},
};
static const step_opt test_rule = {.type = OPT_MAP, .fields = test_rule_fields, .rules = test_rule_rules,
				   .help = "a rule"};
static const step_opt search_values_fields[] = {
	{.name = "values", .type = OPT_LIST, .len = "[1,)", .help = "the values tried"},
	{.name = "low", .type = OPT_NUMBER, .help = "lowest"},
	{.name = "high", .type = OPT_NUMBER, .help = "highest"},
	{.name = "log", .type = OPT_BOOL, .def = "false", .help = "sample on a log scale"},
	{.name = "int", .type = OPT_BOOL, .def = "false", .help = "whole numbers only"},
	{.name = NULL},
};
static const step_rule search_rules[] = {
	{.kind = RULE_ONE_OF, .names = "values low"},
	{.kind = RULE_REQUIRES, .names = "high", .when = "low"},
	{.kind = RULE_FORBIDS, .names = "log int", .when = "values"},
	{.kind = RULE_END},
};
static const step_opt search_space = {.type = OPT_MAP, .fields = search_values_fields,
				      .rules = search_rules, .help = "{values} or {low, high, log, int}"};
static const step_opt ml_opts[] = {
	{.name = "target", .type = OPT_STRING, .required = true, .len = "[1,)", .help = "the column"},
	{.name = "objective", .type = OPT_STRING, .choices = "regression binary multiclass",
	 .help = "inferred from the target when left out"},
	{.name = "learning_rate", .type = OPT_NUMBER, .def = "0.3", .range = "(0,)", .help = "shrinkage"},
	{.name = "subsample", .type = OPT_NUMBER, .def = "1", .range = "(0, 1]", .help = "row share"},
	{.name = "rounds", .type = OPT_INT, .def = "100", .range = "[1, 100000]", .help = "trees"},
	{.name = "cost", .type = OPT_ANY, .alts = cost_shapes, .help = "the cost of mistakes"},
	{.name = "rules", .type = OPT_LIST, .len = "[1,)", .item = &test_rule, .help = "the gates"},
	{.name = "search", .type = OPT_MAP, .item = &search_space, .help = "per option"},
	{.name = NULL},
};
static const step_def ml_def = {.name = "train.fake", .opts = ml_opts};

static void test_ml_shaped_schema(void **state)
{
	char msg[300];

	(void)state;
	assert_int_equal(step_def_lint(&ml_def, msg, sizeof msg), 0);
	ok(&ml_def, "{target: y, objective: binary, learning_rate: 0.1, subsample: 0.8, "
		    "cost: [[0, 5], [1, 0]], rules: [{metric: roc_auc, min: 0.9}, "
		    "{metric: f1, vs: champion, min_delta: 0.01}], "
		    "search: {rounds: {values: [50, 100]}, learning_rate: {low: 0.01, high: 0.3, log: true}}}");
	ok(&ml_def, "{target: y, cost: {over: 1, under: 3}}");
	bad(&ml_def, "{}", "", "missing required option 'target' of train.fake (the column)");
	bad(&ml_def, "{target: y, objective: multi}", "objective", "(did you mean 'multiclass'?)");
	bad(&ml_def, "{target: y, learning_rate: 0}", "learning_rate", "must be above 0, not 0");
	bad(&ml_def, "{target: y, subsample: 1.01}", "subsample", "must be in (0, 1], not 1.01");
	bad(&ml_def, "{target: y, cost: 3}", "cost",
	    "must be a cost matrix (rows of numbers) or {over, under} unit costs, not an integer");
	bad(&ml_def, "{target: y, cost: [[0, -1], [1, 0]]}", "cost[0][1]", "must be at least 0, not -1");
	bad(&ml_def, "{target: y, cost: {over: 1}}", "cost", "cost needs option 'under'");
	bad(&ml_def, "{target: y, rules: [{metric: auc}]}", "rules[0]", "give at least one of 'min', 'max' or 'vs'");
	bad(&ml_def, "{target: y, rules: [{metric: auc, max: 1, min_delta: 0.1}]}", "rules[0].min_delta",
	    "'min_delta' needs option 'vs' too");
	bad(&ml_def, "{target: y, rules: [{metric: auc, vs: baseline, min_delta: 0.1, min_ratio: 1.1}]}",
	    "rules[0].min_ratio", "'min_ratio' cannot be given with 'min_delta'");
	bad(&ml_def, "{target: y, search: {rounds: {low: 1}}}", "search.rounds.low", "'low' needs option 'high' too");
	bad(&ml_def, "{target: y, search: {rounds: {values: [1], log: true}}}", "search.rounds.log",
	    "'log' cannot be given with 'values'");
	bad(&ml_def, "{target: y, search: {rounds: {}}}", "search.rounds", "give one of 'values' or 'low'");
}

/* ---- hooks, tables and descriptions ------------------------------------------------- */

static int hook(const step_check *c)
{
	if (json_object_get(c->with, "p") && !step_check_has_input(c, "data"))
		return step_check_fail(c, "p", "p needs the input 'data' (%d inputs)", (int)c->n_inputs);
	return 0;
}

static const step_def hooked_def = {.name = "fake.hook", .opts = typed, .check = hook};

static void test_check_hook(void **state)
{
	const char *const names[] = {"data"};
	json_t *with = json_pack("{s:s}", "p", "x");
	step_problem pb;

	(void)state;
	/* The hook runs after the schema, sees the inputs, and names a path. */
	assert_int_equal(step_opts_check(&hooked_def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_string_equal(pb.path, "p");
	assert_string_equal(pb.msg, "p needs the input 'data' (0 inputs)");
	assert_int_equal(step_opts_check(&hooked_def, with, NULL, names, 1, &pb), 0);
	json_decref(with);
	/* A schema problem comes first: the hook never sees unchecked options. */
	with = json_pack("{s:s, s:i}", "p", "x", "b", 3);
	assert_int_equal(step_opts_check(&hooked_def, with, NULL, NULL, 0, &pb), SL_EINVAL);
	assert_string_equal(pb.path, "b");
	json_decref(with);
}

static const step_opt col_item = {.type = OPT_STRING, .len = "[1,)"};
static const step_opt col_opts[] = {
	{.name = "by", .type = OPT_STRING, .columns_of = "data", .help = "a column of data"},
	{.name = "keys", .type = OPT_STRING_LIST, .item = &col_item, .columns_of = "labels",
	 .help = "columns of labels"},
	{.name = "other", .type = OPT_STRING, .help = "not a column"},
	{.name = NULL},
};
static const step_port col_inputs[] = {
	{"data", "dataset", false, "d"},
	{"labels", "dataset", true, "l"},
	{"model", "model", true, "m"},
	{NULL, NULL, false, NULL},
};
static int col_hook_calls;
static int col_hook(const json_t *with, const step_columns *in, size_t n)
{
	(void)with;
	(void)in;
	col_hook_calls++;
	return n == 3 ? 0 : sl__err(SL_EINVAL, "with: the hook sees every input (%zu)", n);
}
static const step_def col_def = {.name = "cols", .opts = col_opts, .inputs = col_inputs,
				 .precheck = col_hook};
static const step_def plain_def = {.name = "plain", .opts = col_opts + 2, .inputs = col_inputs};

static void test_columns_check(void **state)
{
	static const char *const data_cols[] = {"id", "label", "amount"};
	static const char *const label_cols[] = {"id", "tag"};
	static const ds_type data_types[] = {DS_INT64, DS_STRING, DS_FLOAT64};
	static const ds_type label_types[] = {DS_INT64, DS_STRING};
	step_columns in[] = {
		{.input = "data", .known = true, .names = data_cols, .types = data_types, .n = 3},
		{.input = "labels", .known = true, .names = label_cols, .types = label_types, .n = 2},
		{.input = "model"},
	};
	json_t *with;

	(void)state;
	assert_true(step_names_columns(&col_def));
	assert_false(step_names_columns(&plain_def));
	with = json_pack("{s:s, s:[s,s], s:s}", "by", "label", "keys", "id", "tag", "other", "x");
	assert_int_equal(step_columns_check(&col_def, with, in, 3), 0);
	assert_int_equal(col_hook_calls, 1);
	json_decref(with);
	/* A typo: its path and the column meant. */
	with = json_pack("{s:s}", "by", "lable");
	assert_int_equal(step_columns_check(&col_def, with, in, 3), SL_EINVAL);
	assert_string_equal(sl_errmsg(), "with.by: unknown column 'lable'; did you mean 'label'?");
	json_decref(with);
	/* A list's item, checked against its own input; nothing close: the columns there are. */
	with = json_pack("{s:[s,s]}", "keys", "id", "amount");
	assert_int_equal(step_columns_check(&col_def, with, in, 3), SL_EINVAL);
	assert_string_equal(sl_errmsg(), "with.keys[1]: unknown column 'amount' (input 'labels' "
					 "has id, tag)");
	json_decref(with);
	/* A string for a string list; an input whose columns are not known is not checked. */
	with = json_pack("{s:s}", "keys", "tog");
	assert_int_equal(step_columns_check(&col_def, with, in, 3), SL_EINVAL);
	assert_string_equal(sl_errmsg(), "with.keys: unknown column 'tog'; did you mean 'tag'?");
	in[1].known = false;
	col_hook_calls = 0;
	assert_int_equal(step_columns_check(&col_def, with, in, 3), 0);
	assert_int_equal(col_hook_calls, 1);
	/* The hook runs last and its message is the check's. */
	assert_int_equal(step_columns_check(&col_def, with, in, 2), SL_EINVAL);
	assert_string_equal(sl_errmsg(), "with: the hook sees every input (2)");
	json_decref(with);
}

static const step_opt bad_range[] = {{.name = "x", .type = OPT_INT, .range = "[1, 0]", .help = "x"}, {.name = NULL}};
static const step_opt bad_choice[] = {{.name = "x", .type = OPT_INT, .choices = "a b", .help = "x"}, {.name = NULL}};
static const step_opt bad_default[] = {
	{.name = "x", .type = OPT_STRING, .choices = "a b", .def = "c", .help = "x"}, {.name = NULL}};
static const step_opt no_help[] = {{.name = "x", .type = OPT_INT}, {.name = NULL}};
static const step_rule bad_rule[] = {{.kind = RULE_ONE_OF, .names = "s nope"}, {.kind = RULE_END}};
static const step_rule bad_when[] = {{.kind = RULE_REQUIRES, .names = "x", .when = "x=zz"}, {.kind = RULE_END}};
static const step_opt choice_x[] = {{.name = "x", .type = OPT_STRING, .choices = "a b", .help = "x"}, {.name = NULL}};
static const step_opt cols_of_model[] = {
	{.name = "x", .type = OPT_STRING, .columns_of = "model", .help = "x"}, {.name = NULL}};
static const step_opt cols_of_int[] = {
	{.name = "x", .type = OPT_INT, .columns_of = "data", .help = "x"}, {.name = NULL}};

static void test_lint(void **state)
{
	const struct {
		step_def def;
		const char *needle;
	} cases[] = {
		{{.name = "l1", .opts = bad_range}, "bad range"},
		{{.name = "l2", .opts = bad_choice}, "choices on a non-string"},
		{{.name = "l3", .opts = bad_default}, "bad default for option 'x'"},
		{{.name = "l4", .opts = no_help}, "no help text"},
		{{.name = "l5", .opts = typed, .rules = bad_rule}, "'nope', which is not an option"},
		{{.name = "l6", .opts = choice_x, .rules = bad_when}, "'zz' is not a choice of 'x'"},
		{{.name = "l7", .opts = cols_of_model, .inputs = col_inputs}, "'model', which is not a dataset input"},
		{{.name = "l8", .opts = cols_of_int, .inputs = col_inputs}, "not a top-level string"},
	};
	char msg[300];

	(void)state;
	for (size_t k = 0; k < SL__ARRAY_LEN(cases); k++) {
		if (step_def_lint(&cases[k].def, msg, sizeof msg) != SL_EINVAL || !strstr(msg, cases[k].needle))
			fail_msg("lint case %zu: '%s' lacks '%s'", k, msg, cases[k].needle);
	}
	assert_int_equal(step_def_lint(&ops_def, msg, sizeof msg), 0);
	assert_int_equal(step_def_lint(&ruled_def, msg, sizeof msg), 0);
	assert_int_equal(step_def_lint(&col_def, msg, sizeof msg), 0);
}

static void test_describe(void **state)
{
	json_t *j = NULL, *o;
	sl__buf b;

	(void)state;
	assert_int_equal(step_def_json(&constrained_def, &j), 0);
	o = json_array_get(json_object_get(j, "options"), 0);
	assert_string_equal(json_string_value(json_object_get(o, "name")), "method");
	assert_int_equal(json_array_size(json_object_get(o, "choices")), 4);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "aliases"), "chronological")),
			    "time");
	assert_string_equal(json_string_value(json_object_get(o, "constraints")),
			    "one of random, stratified, time or group");
	o = json_array_get(json_object_get(j, "options"), 5);
	assert_string_equal(json_string_value(json_object_get(o, "constraints")),
			    "2 or 3 items; each item number in (0, 1]");
	json_decref(j);
	assert_int_equal(step_def_json(&ops_def, &j), 0);
	o = json_object_get(json_array_get(json_object_get(j, "options"), 0), "items");
	assert_string_equal(json_string_value(json_object_get(o, "tag")), "op");
	assert_int_equal(json_array_size(json_object_get(o, "variants")), 5);
	json_decref(j);
	sl__buf_init(&b, 0);
	assert_int_equal(step_opt_describe(&ml_opts[4], &b), 0);
	assert_string_equal(b.data, "in [1, 100000]");
	sl__buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coercion),      cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_rules),         cmocka_unit_test(test_variants),
		cmocka_unit_test(test_ml_shaped_schema), cmocka_unit_test(test_check_hook),
		cmocka_unit_test(test_lint),          cmocka_unit_test(test_describe),
		cmocka_unit_test(test_columns_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
