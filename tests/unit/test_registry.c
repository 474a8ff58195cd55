/*
 * Every built-in step is well formed: sorted unique names (the table as
 * written in registry.c: nothing sorts it at run time, so a step added out
 * of order fails here), a run function,
 * documented options and ports, and defaults that parse as YAML of the
 * option's type (checked by parsing a pipeline that uses the step with only
 * its required options).
 */
#include <stdio.h>
#include <string.h>

#include "dataset/transform.h"
#include "pipeline/spec.h"
#include "testutil.h"

static const char *dummy(step_opt_type t)
{
	switch (t) {
	case OPT_INT:
		return "1";
	case OPT_NUMBER:
		return "1.5";
	case OPT_BOOL:
		return "true";
	case OPT_LIST:
		return "[]";
	case OPT_MAP:
		return "{}";
	default:
		return "x";
	}
}

static void test_steps_are_well_formed(void **state)
{
	size_t n;
	const step_def *const *all = step_all(&n);

	(void)state;
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		const step_def *d = all[i];
		assert_non_null(d->name);
		assert_non_null(d->run);
		assert_non_null(d->summary);
		assert_true(d->version >= 1);
		if (i > 0 && strcmp(all[i - 1]->name, d->name) >= 0)
			fail_msg("registry.c: step '%s' is listed after '%s'; keep the table sorted by name",
				 d->name, all[i - 1]->name);
		assert_ptr_equal(step_find(d->name), d);
		for (const step_opt *o = d->opts; o && o->name; o++)
			assert_non_null(o->help);
		/* The schema itself: intervals, choices, rules, variants, defaults. */
		char msg[512];
		if (step_def_lint(d, msg, sizeof msg))
			fail_msg("%s", msg);
		for (const step_port *p = d->outputs; p && p->name; p++)
			assert_non_null(p->type);
		for (const step_port *p = d->inputs; p && p->name; p++)
			assert_non_null(p->type);
	}
	assert_null(step_find("no.such.step"));
}

/* Options some steps need together (their check() rejects them apart). */
static const char *extra_options(const char *step)
{
	if (!strcmp(step, "ingest.sql"))
		return "path: x.db, ";
	if (!strcmp(step, "label"))
		return "from: x, ";
	if (!strcmp(step, "wrangle"))
		return "ops: [], ";
	if (!strcmp(step, "tune"))
		return "step: train.logistic, template: {target: y}, search: {C: {low: 0.1, high: 10}}, ";
	return "";
}

/* Inputs some steps need one of (their check() rejects none). */
static const char *extra_inputs(const char *step)
{
	if (!strcmp(step, "predict"))
		return "bundle: src.o, ";
	return "";
}

static void test_defaults_parse(void **state)
{
	size_t n;
	const step_def *const *all = step_all(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const step_def *d = all[i];
		char text[8192];
		size_t len = 0;
		spec *s = NULL;

		len += (size_t)snprintf(text + len, sizeof text - len,
					"name: t\nsteps:\n  src:\n    run: 'true'\n    outputs: [o]\n"
					"  s:\n    uses: %s\n    with: {%s", d->name,
					extra_options(d->name));
		for (const step_opt *o = d->opts; o && o->name; o++) {
			char given[80];
			snprintf(given, sizeof given, "%s: ", o->name);
			if (o->required && !strstr(extra_options(d->name), given))
				len += (size_t)snprintf(text + len, sizeof text - len, "%s: %s, ", o->name,
							dummy(o->type));
		}
		len += (size_t)snprintf(text + len, sizeof text - len, "}\n    inputs: {%s",
					extra_inputs(d->name));
		for (const step_port *p = d->inputs; p && p->name; p++)
			if (!p->optional)
				len += (size_t)snprintf(text + len, sizeof text - len, "%s: src.o, ", p->name);
		len += (size_t)snprintf(text + len, sizeof text - len, "}\n");
		int rc = spec_parse_string(text, len, "t.yaml", "/tmp", NULL, 0, &s);
		if (rc)
			fail_msg("step %s: %s", d->name, sl_errmsg());
		spec_free(s);
	}
}

/*
 * wrangle's schema of operations (checked when the file is read) and the
 * transform's own list (read when fitting) name the same options, but for
 * the fields a transform learns, which a pipeline file does not write.
 */
static void test_wrangle_ops_match_the_transform(void **state)
{
	static const char *const learned[] = {"fill", "bounds", "scale", "categories", "vocabulary",
					      "idf"};
	const step_def *w = step_find("wrangle");
	const step_opt *op = w->opts[0].item;
	size_t n = 0;

	(void)state;
	assert_non_null(op);
	assert_non_null(op->variants);
	for (const step_variant *v = op->variants; v->name; v++, n++) {
		char name[64], keys[512];
		const char *have;
		snprintf(name, sizeof name, "%.*s", (int)strcspn(v->name, "|"), v->name);
		have = transform_op_options(name);
		if (!have)
			fail_msg("wrangle's op '%s' is not a transform operation", name);
		/* Every schema field is a transform option. */
		for (const step_opt *f = v->fields; f && f->name; f++) {
			snprintf(keys, sizeof keys, " %s ", have);
			char want[80];
			snprintf(want, sizeof want, " %s ", f->name);
			if (!strstr(keys, want))
				fail_msg("op %s: the schema's '%s' is not an option of the transform (%s)", name,
					 f->name, have);
		}
		/* Every transform option the user writes is in the schema. */
		snprintf(keys, sizeof keys, "%s", have);
		for (char *k = strtok(keys, " "); k; k = strtok(NULL, " ")) {
			bool found = false, skip = false;
			for (size_t q = 0; q < SL__ARRAY_LEN(learned); q++)
				skip |= !strcmp(k, learned[q]);
			for (const step_opt *f = v->fields; f && f->name && !found; f++)
				found = !strcmp(f->name, k);
			if (!found && !skip)
				fail_msg("op %s: the transform's option '%s' is missing from the schema", name, k);
		}
	}
	assert_int_equal(n, 15); /* every operation the transform knows */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps_are_well_formed),
		cmocka_unit_test(test_defaults_parse),
		cmocka_unit_test(test_wrangle_ops_match_the_transform),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
