/*
 * The pipeline file parser: a valid pipeline read in full, every class of
 * error with its exact FILE:LINE:COL, YAML typing, ${...} substitution,
 * -p overrides, option coercion, canonical JSON for cache keys, the DAG and
 * its order, large and hostile inputs, and allocation failure at every point.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/schema.h"
#include "pipeline/spec.h"
#include "testutil.h"

static spec *parse_ov(const char *yaml, const char *const *ov, size_t n_ov)
{
	spec *s = NULL;
	int rc = spec_parse_string(yaml, strlen(yaml), "t.yaml", "/proj", ov, n_ov, &s);

	if (rc)
		fail_msg("unexpected failure: %s", sl_errmsg());
	assert_non_null(s);
	return s;
}

static spec *parse(const char *yaml)
{
	return parse_ov(yaml, NULL, 0);
}

/* Asserts that yaml fails with SL_ESPEC and a message "t.yaml:" where + text. */
static void expect_ov(const char *yaml, const char *const *ov, size_t n_ov, const char *where,
		      const char *text)
{
	spec *s = (spec *)1;
	char want[256];
	int rc = spec_parse_string(yaml, strlen(yaml), "t.yaml", "/proj", ov, n_ov, &s);

	if (rc != SL_ESPEC)
		fail_msg("expected SL_ESPEC, got %d (%s) for:\n%s", rc, sl_errmsg(), yaml);
	assert_null(s);
	snprintf(want, sizeof want, "t.yaml:%s: ", where);
	if (strncmp(sl_errmsg(), want, strlen(want)) || !strstr(sl_errmsg(), text))
		fail_msg("message\n  %s\nexpected to start with '%s' and contain '%s'", sl_errmsg(),
			 want, text);
}

static void expect(const char *yaml, const char *where, const char *text)
{
	expect_ov(yaml, NULL, 0, where, text);
}

static const char *const valid =
	"name: spam-train\n"
	"description: trains the spam model\n"
	"params:                 # overridable\n"
	"  seed: 42\n"
	"  rate: 0.5\n"
	"  tag: nightly\n"
	"steps:\n"
	"  report:\n"
	"    run: python3 report.py \"${inputs.model}\" \"${outputs.summary}\" --seed ${params.seed}\n"
	"    inputs: { model: train.model }\n"
	"    outputs: [summary]\n"
	"    env: { RUN_TAG: \"${params.tag}\", N: 3 }\n"
	"    deps: [report.py, \"conf/${params.tag}.json\"]\n"
	"    cache: false\n"
	"  ingest:\n"
	"    uses: ingest.file\n"
	"    with: { path: data/emails.csv }\n"
	"  train:\n"
	"    run: ./train --in ${inputs.data} --out ${outputs.model} ${HOME}\n"
	"    inputs: { data: ingest.data }\n"
	"    outputs: [model, metrics]\n"
	"    with: { seed: \"${params.seed}\", rate: \"${params.rate}\", note: \"s=${params.seed}\" }\n"
	"    description: the trainer\n";

static void test_valid_pipeline(void **state)
{
	spec *s = parse(valid);
	const spec_step *st;

	(void)state;
	assert_string_equal(s->name, "spam-train");
	assert_string_equal(s->description, "trains the spam model");
	assert_string_equal(s->path, "<string>");
	assert_string_equal(s->dir, "/proj");
	assert_int_equal(s->n_params, 3);
	assert_string_equal(s->params[0].name, "seed");
	assert_int_equal(json_integer_value(s->params[0].value), 42);
	assert_true(json_is_real(s->params[1].value));
	assert_int_equal(s->params[1].pos.line, 5);
	assert_int_equal(s->params[1].pos.col, 9);
	assert_int_equal(s->n_steps, 3);

	st = &s->steps[0];
	assert_string_equal(st->name, "report");
	assert_int_equal(st->pos.line, 8);
	assert_int_equal(st->pos.col, 3);
	assert_int_equal(st->kind, SPEC_RUN);
	assert_string_equal(st->run,
			    "python3 report.py \"${inputs.model}\" \"${outputs.summary}\" --seed 42");
	assert_int_equal(st->n_inputs, 1);
	assert_string_equal(st->inputs[0].name, "model");
	assert_string_equal(st->inputs[0].step, "train");
	assert_string_equal(st->inputs[0].output, "model");
	assert_int_equal(st->inputs[0].step_index, 2);
	assert_int_equal(st->inputs[0].pos.line, 10);
	assert_int_equal(st->inputs[0].pos.col, 22);
	assert_int_equal(st->n_outputs, 1);
	assert_string_equal(st->outputs[0], "summary");
	assert_string_equal(json_string_value(json_object_get(st->env, "RUN_TAG")), "nightly");
	assert_string_equal(json_string_value(json_object_get(st->env, "N")), "3");
	assert_int_equal(st->n_deps, 2);
	assert_string_equal(st->deps[1], "conf/nightly.json");
	assert_false(st->cache);
	assert_int_equal(json_object_size(st->with), 0);

	st = &s->steps[1];
	assert_int_equal(st->kind, SPEC_USES);
	assert_string_equal(st->uses, "ingest.file");
	assert_non_null(st->def);
	assert_true(st->cache);
	assert_string_equal(json_string_value(json_object_get(st->with, "path")), "data/emails.csv");
	assert_string_equal(json_string_value(json_object_get(st->with, "type")), "file");
	assert_int_equal(st->n_outputs, 1);
	assert_string_equal(st->outputs[0], "data");
	assert_null(st->env);

	st = &s->steps[2];
	assert_string_equal(st->run, "./train --in ${inputs.data} --out ${outputs.model} ${HOME}");
	assert_int_equal(json_integer_value(json_object_get(st->with, "seed")), 42);
	assert_true(json_is_real(json_object_get(st->with, "rate")));
	assert_string_equal(json_string_value(json_object_get(st->with, "note")), "s=42");
	assert_string_equal(st->description, "the trainer");

	/* ingest -> train -> report */
	assert_int_equal(s->order[0], 1);
	assert_int_equal(s->order[1], 2);
	assert_int_equal(s->order[2], 0);
	assert_int_equal(s->steps[2].n_upstream, 1);
	assert_int_equal(s->steps[2].upstream[0], 1);
	assert_int_equal(s->steps[2].n_downstream, 1);
	assert_int_equal(s->steps[2].downstream[0], 0);
	assert_int_equal(s->steps[1].n_upstream, 0);

	assert_int_equal(spec_step_index(s, "train"), 2);
	assert_int_equal(spec_step_index(s, "nope"), -1);
	spec_free(s);
	spec_free(NULL);
}

static void test_parse_file(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "sub/pipe.yml");
	char *sub = tu_path(dir, "sub");
	spec *s;

	(void)state;
	assert_int_equal(sl__mkdir_p(sub, 0755), 0);
	tu_write(path, "steps:\n  a:\n    run: echo hi\n");
	assert_int_equal(spec_parse_file(path, NULL, 0, &s), 0);
	assert_string_equal(s->path, path);
	assert_string_equal(s->dir, sub);
	assert_string_equal(s->name, "pipe"); /* defaults to the file's name */
	spec_free(s);

	tu_write(path, "steps:\n  a:\n    run: echo hi\n    bogus: 1\n");
	assert_int_equal(spec_parse_file(path, NULL, 0, &s), SL_ESPEC);
	assert_null(s);
	assert_true(sl__str_has_prefix(sl_errmsg(), path));
	assert_non_null(strstr(sl_errmsg(), ":4:5: unknown key 'bogus'"));

	free(path);
	path = tu_path(dir, "missing.yaml");
	assert_int_equal(spec_parse_file(path, NULL, 0, &s), SL_ENOENT);
	assert_null(s);
	free(path);
	free(sub);
	tu_rmdir(dir);
}

static void test_yaml_errors(void **state)
{
	(void)state;
	expect("steps:\n  a: [1, 2\n", "3:1", "invalid YAML");
	expect("steps:\n  a:\n    run: x\n  b: : :\n", "4:6", "invalid YAML");
	expect("steps: {a: {run: \"x}}\n", "2:1", "invalid YAML");
	expect("a: 1\n---\nb: 2\n", "2:1", "only one YAML document");
	expect("", "1:1", "empty");
	expect("# only a comment\n", "1:1", "empty");
	expect("- a\n- b\n", "1:1", "must be a mapping with 'steps', not a sequence");
	expect("hello\n", "1:1", "not a string");
	expect("steps:\n  a:\n    run: !!binary aGk=\n", "3:10", "unsupported YAML tag");
	expect("steps:\n  a:\n    run: x\n    with: { n: !!int abc }\n", "4:16", "is not an integer");
	expect("steps:\n  a:\n    run: x\n    with: { n: 99999999999999999999 }\n", "4:16",
	       "out of range");
	expect("steps:\n  a:\n    run: x\n    with: { n: .inf }\n", "4:16", "infinite and NaN");
	expect("steps:\n  a:\n    run: x\n    with: { n: \"a\\0b\" }\n", "4:16", "NUL");
	expect("steps:\n  a:\n    run: x\n    with: { <<: {a: 1} }\n", "4:13", "merge keys");
	expect("steps:\n  a:\n    run: x\n    with: { [1]: 2 }\n", "4:13", "keys must be scalars");
	/* Invalid UTF-8 is a reader error: the position comes from the byte offset. */
	expect("name: ok\nsteps: \xff\n", "2:8", "invalid YAML");
	expect("steps:\n  a: *nope\n", "2:6", "unknown or recursive alias");
	expect("steps: &x\n  a: [*x]\n", "2:7", "unknown or recursive alias");
}

static void test_duplicate_keys(void **state)
{
	char *big;
	size_t off = 0, cap = 64 * 1024;

	(void)state;
	expect("steps:\n  a:\n    run: x\nsteps: {}\n", "4:1",
	       "duplicate key 'steps' (first defined at line 1, column 1)");
	expect("steps:\n  a:\n    run: x\n  a:\n    run: y\n", "4:3", "duplicate key 'a'");
	expect("steps:\n  a:\n    run: x\n    run: y\n", "4:5", "duplicate key 'run'");
	expect("steps:\n  a:\n    run: x\n    with: {k: 1, \"k\": 2}\n", "4:18", "duplicate key 'k'");

	/* A large mapping takes the hashed path. */
	big = malloc(cap);
	assert_non_null(big);
	off += (size_t)snprintf(big + off, cap - off, "steps:\n  a:\n    run: x\n    with:\n");
	for (int i = 0; i < 40; i++)
		off += (size_t)snprintf(big + off, cap - off, "      k%d: %d\n", i, i);
	off += (size_t)snprintf(big + off, cap - off, "      k7: dup\n");
	expect(big, "45:7", "duplicate key 'k7' (first defined at line 12, column 7)");
	free(big);
}

static void test_structure_errors(void **state)
{
	(void)state;
	expect("name: x\nstepz:\n  a: {run: x}\n", "2:1",
	       "unknown key 'stepz' in the pipeline file (did you mean 'steps'?)");
	expect("name: x\nfoo: 1\nsteps:\n  a: {run: x}\n", "2:1", "valid keys: name, description, params, steps");
	expect("name: x\n", "1:1", "missing 'steps'");
	expect("steps:\n", "1:1", "'steps' is empty");
	expect("steps: {}\n", "1:1", "'steps' is empty");
	expect("steps: [a, b]\n", "1:8", "'steps' must be a mapping, not a sequence");
	expect("name: [x]\nsteps:\n  a: {run: x}\n", "1:7", "'name' must be a string");
	expect("steps:\n  a: echo\n", "2:6", "step 'a' must be a mapping");
	expect("steps:\n  a:\n    run: x\n    inptus: {}\n", "4:5",
	       "unknown key 'inptus' in a step (did you mean 'inputs'?)");
	expect("steps:\n  a:\n    with: {}\n", "2:3", "step 'a' needs one of 'uses', 'run' or 'plugin'");
	expect("steps:\n  a:\n    run: x\n    uses: ingest.file\n", "4:5",
	       "step 'a' has both 'run' and 'uses'");
	expect("steps:\n  a:\n    plugin: lib.so:f\n    run: x\n", "4:5", "has both 'plugin' and 'run'");
	expect("steps:\n  a:\n    uses: ingest.fil\n", "3:11",
	       "unknown built-in step 'ingest.fil' (did you mean 'ingest.file'? `sluice steps` lists them all)");
	expect("steps:\n  a:\n    uses: frobnicate\n", "3:11",
	       "unknown built-in step 'frobnicate' (`sluice steps` lists them)");
	/* Every close name, and the command that lists them all. */
	expect("steps:\n  a:\n    uses: validation\n", "3:11",
	       "unknown built-in step 'validation' (did you mean 'validate'? `sluice steps` lists "
	       "them all)");
	expect("steps:\n  a:\n    uses: ingest\n", "3:11",
	       "(did you mean 'ingest.csv', 'ingest.file', 'ingest.jsonl', 'ingest.log' or 'ingest.sql'?");
	expect("steps:\n  a:\n    run: [x]\n", "3:10", "'run' must be a command");
	expect("steps:\n  a:\n    plugin: nocolon\n", "3:13", "LIBRARY:FUNCTION");
	expect("steps:\n  1a:\n    run: x\n", "2:3", "step name '1a' is not valid");
	expect("steps:\n  a.b:\n    run: x\n", "2:3", "step name 'a.b' is not valid");
	expect("steps:\n  a:\n    run: x\n    outputs: [ok, not-ok]\n", "4:19",
	       "output name 'not-ok' is not an identifier");
	expect("steps:\n  a:\n    run: x\n    outputs: [o, o]\n", "4:18", "duplicate output 'o'");
	expect("steps:\n  a:\n    run: x\n    outputs: o\n", "4:14", "'outputs' must be a sequence");
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {path: x}\n    outputs: [data]\n", "5:5",
	       "'outputs' cannot be given to a 'uses:' step; ingest.file's outputs are: data");
	expect("steps:\n  a:\n    run: x\n    cache: maybe\n", "4:12", "'cache' must be true or false");
	expect("steps:\n  a:\n    run: x\n    env: {1X: y}\n", "4:11", "environment variable name");
	expect("steps:\n  a:\n    run: x\n    env: {X: [y]}\n", "4:14", "env 'X' must be a scalar");
	expect("steps:\n  a:\n    run: x\n    deps: {a: b}\n", "4:11", "'deps' must be a sequence");
	expect("steps:\n  a:\n    run: x\n    with: [1]\n", "4:11", "'with' must be a mapping");
	expect("params: [1]\nsteps:\n  a: {run: x}\n", "1:9", "'params' must be a mapping");
	expect("params: {p: [1]}\nsteps:\n  a: {run: x}\n", "1:13", "parameter 'p' must be a scalar");
	expect("params: {p.q: 1}\nsteps:\n  a: {run: x}\n", "1:10", "parameter name 'p.q' is not valid");
}

static void test_reference_errors(void **state)
{
	(void)state;
	expect("steps:\n  a:\n    run: x\n    inputs: {d: b}\n", "4:17",
	       "'b' is not a reference of the form STEP.OUTPUT");
	expect("steps:\n  a:\n    run: x\n    inputs: {d: b.c.d}\n", "4:17", "not a reference");
	expect("steps:\n  a:\n    run: x\n    inputs: {d: [b.c]}\n", "4:17", "must be a reference");
	expect("steps:\n  a:\n    run: x\n    inputs: {d-x: b.c}\n", "4:14", "input name 'd-x'");
	expect("steps:\n  a:\n    run: x\n    inputs: {d: ingets.data}\n"
	       "  ingest:\n    uses: ingest.file\n    with: {path: p}\n",
	       "4:17", "refers to a missing step 'ingets' (did you mean 'ingest'?)");
	expect("steps:\n  a:\n    run: x\n    inputs: {d: zzz.data}\n", "4:17",
	       "refers to a missing step 'zzz'");
	expect("steps:\n  a:\n    run: x\n    inputs: {d: ingest.dat}\n"
	       "  ingest:\n    uses: ingest.file\n    with: {path: p}\n",
	       "4:17", "step 'ingest' has no output 'dat' (did you mean 'data'? it has: data)");
	expect("steps:\n  a:\n    run: x\n    outputs: [m, n]\n  b:\n    run: y\n    inputs: {d: a.zz}\n",
	       "7:17", "step 'a' has no output 'zz' (it has: m, n)");
	expect("steps:\n  a:\n    run: x\n  b:\n    run: y\n    inputs: {d: a.o}\n", "6:17",
	       "step 'a' has no outputs");
	expect("steps:\n  a:\n    run: x\n    outputs: [o]\n    inputs: {d: a.o}\n", "5:17",
	       "step 'a' cannot consume its own output 'o'");
	/* A uses: step's inputs are the built-in's: ingest.file has none. */
	expect("steps:\n  a:\n    run: x\n    outputs: [o]\n  b:\n    uses: ingest.file\n"
	       "    with: {path: p}\n    inputs: {x: a.o}\n",
	       "8:14", "ingest.file takes no inputs");
}

/*
 * Inputs from outside the pipeline: what each kind parses into, that they
 * add no DAG edge and enter the canonical form as written, and their errors
 * at the value's place.
 */
static void test_outside_references(void **state)
{
	spec *s;
	const spec_step *st;
	char *canon;

	(void)state;
	s = parse("steps:\n"
		  "  a:\n"
		  "    run: x\n"
		  "    outputs: [o]\n"
		  "    inputs:\n"
		  "      r: \"run:latest/check.profile?\"\n"
		  "      b: run:latest~3/check.profile\n"
		  "      c: run:3f2a9c/prep.data\n"
		  "      d: artifact:3F2A9c1b\n"
		  "      m: \"model:spam@production?\"\n"
		  "      v: model:spam@12\n"
		  "  z:\n"
		  "    run: y\n"
		  "    inputs: { o: a.o }\n");
	st = &s->steps[spec_step_index(s, "a")];
	assert_int_equal(st->n_inputs, 6);
	assert_int_equal(st->n_upstream, 0);
	assert_int_equal(st->inputs[0].ref, SPEC_REF_RUN);
	assert_true(st->inputs[0].optional);
	assert_string_equal(st->inputs[0].text, "run:latest/check.profile");
	assert_string_equal(st->inputs[0].target, "latest");
	assert_string_equal(st->inputs[0].step, "check");
	assert_string_equal(st->inputs[0].output, "profile");
	assert_int_equal(st->inputs[1].back, 3);
	assert_false(st->inputs[1].optional);
	assert_string_equal(st->inputs[2].target, "3f2a9c");
	assert_int_equal(st->inputs[3].ref, SPEC_REF_ARTIFACT);
	assert_string_equal(st->inputs[3].target, "3F2A9c1b");
	assert_int_equal(st->inputs[4].ref, SPEC_REF_MODEL);
	assert_string_equal(st->inputs[4].target, "spam");
	assert_string_equal(st->inputs[4].version, "production");
	assert_true(st->inputs[4].optional);
	assert_string_equal(st->inputs[5].version, "12");
	assert_int_equal(st->inputs[0].pos.line, 6);
	assert_int_equal(st->inputs[0].pos.col, 10);
	canon = spec_step_canonical(s, (size_t)spec_step_index(s, "a"));
	assert_non_null(strstr(canon, "\"m\":\"model:spam@production?\""));
	assert_non_null(strstr(canon, "\"b\":\"run:latest~3/check.profile\""));
	sl__free(canon);
	/* The DAG still orders what is inside the pipeline. */
	assert_int_equal(s->steps[spec_step_index(s, "z")].n_upstream, 1);
	spec_free(s);

	expect("steps:\n  a:\n    run: x\n    inputs: {m: model:spam}\n", "4:17", "names no version");
	expect("steps:\n  a:\n    run: x\n    inputs: {m: \"model:spam@\"}\n", "4:17",
	       "after '@' comes a version number");
	expect("steps:\n  a:\n    run: x\n    inputs: {m: \"model:spam@1x\"}\n", "4:17",
	       "after '@' comes a version number");
	expect("steps:\n  a:\n    run: x\n    inputs: {m: \"model:a b@1\"}\n", "4:17",
	       "may hold only letters");
	expect("steps:\n  a:\n    run: x\n    inputs: {r: run:latest/check}\n", "4:17",
	       "after the run comes STEP.OUTPUT");
	expect("steps:\n  a:\n    run: x\n    inputs: {r: run:latest}\n", "4:17",
	       "not run:RUN/STEP.OUTPUT");
	expect("steps:\n  a:\n    run: x\n    inputs: {r: run:ID~2/s.o}\n", "4:17",
	       "only latest takes ~N");
	expect("steps:\n  a:\n    run: x\n    inputs: {r: run:latest~x/s.o}\n", "4:17",
	       "~N wants a number");
	expect("steps:\n  a:\n    run: x\n    inputs: {r: run:Ab$/s.o}\n", "4:17",
	       "a run is latest, latest~N or a run id");
	expect("steps:\n  a:\n    run: x\n    inputs: {r: artifact:abc}\n", "4:17", "4 to 64 hex");
	expect("steps:\n  a:\n    run: x\n    inputs: {r: artifact:abcz}\n", "4:17",
	       "is hexadecimal");
	expect("steps:\n  a:\n    run: x\n    outputs: [o]\n  b:\n    run: y\n"
	       "    inputs: {d: \"a.o?\"}\n",
	       "7:17", "cannot be optional");
	/* An optional reference only where the built-in can do without the input. */
	expect("steps:\n  v:\n    uses: validate\n    inputs: {data: \"artifact:abcd?\"}\n", "4:20",
	       "input 'data' of validate is required");
	s = parse("steps:\n  v:\n    uses: validate\n"
		  "    inputs: {data: artifact:abcd, reference: \"run:latest/v.profile?\"}\n");
	spec_free(s);
}

/* ${params.X} in references outside the pipeline: the caller chooses what they name. */
static void test_reference_params(void **state)
{
	const char *yaml = "params: {m: spam, d: \"\"}\n"
			   "steps:\n"
			   "  a:\n"
			   "    run: x\n"
			   "    inputs:\n"
			   "      d: \"artifact:${params.d}?\"\n"
			   "      m: \"model:${params.m}@production?\"\n";
	const char *ov[] = {"d=3f2a9c1b", "m=ham"};
	spec *s;
	const spec_step *st;

	(void)state;
	s = parse(yaml);
	st = &s->steps[0];
	/* An empty id in an optional reference names nothing (resolved as absent). */
	assert_int_equal(st->inputs[0].ref, SPEC_REF_ARTIFACT);
	assert_true(st->inputs[0].optional);
	assert_string_equal(st->inputs[0].target, "");
	assert_string_equal(st->inputs[1].target, "spam");
	assert_string_equal(st->inputs[1].version, "production");
	spec_free(s);
	s = parse_ov(yaml, ov, 2);
	st = &s->steps[0];
	assert_string_equal(st->inputs[0].target, "3f2a9c1b");
	assert_string_equal(st->inputs[1].target, "ham");
	spec_free(s);
	/* Not optional, an empty id is still an error; an unknown parameter is named. */
	expect("params: {d: \"\"}\nsteps:\n  a:\n    run: x\n    inputs: {r: \"artifact:${params.d}\"}\n",
	       "5:17", "4 to 64 hex");
	expect("steps:\n  a:\n    run: x\n    inputs: {r: \"artifact:${params.d}?\"}\n", "4:27",
	       "unknown parameter 'd'");
	/* A STEP.OUTPUT is the file's graph: no parameter in it. */
	expect("params: {s: a}\nsteps:\n  a:\n    run: x\n    outputs: [o]\n  b:\n    run: y\n"
	       "    inputs: {i: \"${params.s}.o\"}\n",
	       "8:17", "only in a run:, artifact: or model: reference");
}

static void test_cycles(void **state)
{
	(void)state;
	expect("steps:\n"
	       "  a:\n    run: x\n    outputs: [o]\n    inputs: {i: c.o}\n"
	       "  b:\n    run: x\n    outputs: [o]\n    inputs: {i: a.o}\n"
	       "  c:\n    run: x\n    outputs: [o]\n    inputs: {i: b.o}\n",
	       "5:17", "cycle: a -> b -> c -> a");
	/* A step hanging off a cycle is not named; the cycle starts at its first step. */
	expect("steps:\n"
	       "  z:\n    run: x\n    outputs: [o]\n    inputs: {i: y.o}\n"
	       "  x:\n    run: x\n    outputs: [o]\n    inputs: {i: z.o}\n"
	       "  y:\n    run: x\n    outputs: [o]\n    inputs: {i: x.o, j: w.o}\n"
	       "  w:\n    run: x\n    outputs: [o]\n",
	       "5:17", "cycle: z -> x -> y -> z");
	expect("steps:\n"
	       "  a:\n    run: x\n    outputs: [o]\n    inputs: {i: b.o}\n"
	       "  b:\n    run: x\n    outputs: [o]\n    inputs: {i: a.o}\n",
	       "5:17", "cycle: a -> b -> a");
}

static void test_substitution_errors(void **state)
{
	(void)state;
	expect("params: {seed: 1}\nsteps:\n  a:\n    run: echo ${params.sed}\n", "4:15",
	       "unknown parameter 'sed' in '${params.sed}' (did you mean 'seed'?)");
	expect("steps:\n  a:\n    run: echo ${params.x}\n", "3:15", "the file declares no params");
	expect("steps:\n  a:\n    run: echo ${inputs.x}\n", "3:15",
	       "step 'a' has no input 'x' in '${inputs.x}' (its inputs: none)");
	expect("steps:\n  a:\n    run: echo ${outputs.y}\n    outputs: [o]\n", "3:15",
	       "step 'a' has no output 'y' in '${outputs.y}' (its outputs: o)");
	expect("steps:\n  a:\n    run: echo ${steps.x}\n", "3:15", "unknown namespace 'steps'");
	expect("steps:\n  a:\n    run: echo ${params.x\n", "3:15", "unterminated '${'");
	/* Quoted single-line scalars point inside the quotes; escapes fall back to the start. */
	expect("steps:\n  a:\n    run: 'echo ${nope.x}'\n", "3:16", "unknown namespace 'nope'");
	expect("steps:\n  a:\n    run: \"\\techo ${nope.x}\"\n", "3:10", "unknown namespace");
	expect("steps:\n  a:\n    run: |\n      echo ${nope.x}\n", "3:10", "unknown namespace");
	expect("steps:\n  a:\n    run: x\n    with: {k: [\"${params.q}\"]}\n", "4:17",
	       "unknown parameter 'q'");
	expect("steps:\n  a:\n    run: x\n    env: {K: \"${params.q}\"}\n", "4:15", "unknown parameter");
	expect("steps:\n  a:\n    run: x\n    deps: [\"${inputs.q}\"]\n", "4:13", "has no input 'q'");
	/* A uses: step's outputs are the built-in's. */
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {path: \"${outputs.nope}\"}\n", "4:19",
	       "(its outputs: data)");
}

static void test_option_errors(void **state)
{
	(void)state;
	expect("steps:\n  a:\n    uses: ingest.file\n", "3:5",
	       "step 'a': missing required option 'path' of ingest.file");
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {type: x}\n", "4:5",
	       "missing required option 'path'");
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {pth: x}\n", "4:12",
	       "unknown option 'pth' for ingest.file (did you mean 'path'?)");
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {zzzzzz: x}\n", "4:12",
	       "(its options: path, type)");
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {path: 42}\n", "4:18",
	       "option 'path' of ingest.file must be a path (a string), not an integer");
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {path: ''}\n", "4:18", "must not be empty");
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {path: ~}\n", "4:18",
	       "is required and cannot be null");
	expect("steps:\n  a:\n    uses: ingest.file\n    with: {path: p, type: [a]}\n", "4:27",
	       "option 'type' of ingest.file must be a string, not a sequence");
}

static void test_override_errors(void **state)
{
	const char *y = "name: x\nparams:\n  seed: 1\nsteps:\n  a: {run: x}\n";
	const char *const bad_shape[] = {"seed"};
	const char *const no_name[] = {"=3"};
	const char *const unknown[] = {"sed=3"};
	const char *const unknown2[] = {"zzzz=3"};
	const char *const not_scalar[] = {"seed=[1, 2]"};
	const char *const bad_yaml[] = {"seed=\"open"};
	const char *const bad_int[] = {"seed=99999999999999999999"};

	(void)state;
	expect_ov(y, bad_shape, 1, "2:1", "-p seed: expected NAME=VALUE");
	expect_ov(y, no_name, 1, "2:1", "expected NAME=VALUE");
	expect_ov(y, unknown, 1, "2:1", "-p sed: no parameter 'sed' is declared (did you mean 'seed'?)");
	expect_ov(y, unknown2, 1, "2:1", "(declared: seed)");
	expect_ov(y, not_scalar, 1, "2:1", "-p seed: the value must be a scalar, not a sequence");
	expect_ov(y, bad_yaml, 1, "2:1", "-p seed: bad value: invalid YAML");
	expect_ov(y, bad_int, 1, "2:1", "-p seed: bad value: integer '99999999999999999999' is out of range");
	/* Without params the error points at the start of the file. */
	expect_ov("steps:\n  a: {run: x}\n", unknown, 1, "1:1", "(declared: none)");
}

static void test_scalar_typing(void **state)
{
	spec *s = parse("params:\n"
			"  a: true\n  b: False\n  c: yes\n  d: ~\n  e: null\n  f: 0x1F\n  g: 0o17\n"
			"  h: -12\n  i: 1.5e3\n  j: .5\n  k: \"42\"\n  l: '1.0'\n  m: 012\n  n: 1_000\n"
			"  o: !!str 7\n  p: !!float 3\n  q:\n  r: +7\n"
			"steps:\n  s: {run: x}\n");
	json_t *v;

	(void)state;
	assert_int_equal(s->n_params, 18);
	assert_true(json_is_true(s->params[0].value));
	assert_true(json_is_false(s->params[1].value));
	assert_string_equal(json_string_value(s->params[2].value), "yes"); /* YAML 1.2 */
	assert_true(json_is_null(s->params[3].value));
	assert_true(json_is_null(s->params[4].value));
	assert_int_equal(json_integer_value(s->params[5].value), 31);
	assert_int_equal(json_integer_value(s->params[6].value), 15);
	assert_int_equal(json_integer_value(s->params[7].value), -12);
	v = s->params[8].value;
	assert_true(json_is_real(v) && json_real_value(v) == 1500.0);
	assert_true(json_real_value(s->params[9].value) == 0.5);
	assert_string_equal(json_string_value(s->params[10].value), "42");
	assert_string_equal(json_string_value(s->params[11].value), "1.0");
	assert_int_equal(json_integer_value(s->params[12].value), 12);
	assert_string_equal(json_string_value(s->params[13].value), "1_000");
	assert_string_equal(json_string_value(s->params[14].value), "7");
	assert_true(json_is_real(s->params[15].value) && json_real_value(s->params[15].value) == 3.0);
	assert_true(json_is_null(s->params[16].value));
	assert_int_equal(json_integer_value(s->params[17].value), 7);
	spec_free(s);

	/* Anchors and aliases resolve; nested structures become JSON. */
	s = parse("steps:\n"
		  "  a:\n    run: x\n    with: &w {list: [1, two, {k: v}], flag: true}\n"
		  "  b:\n    run: y\n    with: *w\n");
	assert_true(json_equal(s->steps[0].with, s->steps[1].with));
	v = json_object_get(s->steps[1].with, "list");
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_array_get(v, 1)), "two");
	spec_free(s);
}

static void test_substitution(void **state)
{
	const char *y = "params: {n: 3, r: 0.25, f: 2.0, b: false, z: ~, s: \"a b\"}\n"
			"steps:\n"
			"  a:\n"
			"    run: \"x ${params.n} ${params.r} ${params.f} ${params.b} [${params.z}] ${params.s}\"\n"
			"    with:\n"
			"      n: ${params.n}\n"
			"      r: \"${params.r}\"\n"
			"      b: ${params.b}\n"
			"      z: ${params.z}\n"
			"      s: \"${params.s}!\"\n"
			"      nested: {deep: [\"${params.n}\"]}\n"
			"      shell: \"${HOME} ${1} ${x:-a.b} $$ ${\"\n";
	spec *s;
	json_t *w;

	(void)state;
	/* "${" alone in `with` of a run step is unterminated. */
	expect(y, "12:41", "unterminated");
	char *fixed = strdup(y);
	assert_non_null(fixed);
	char *bad = strstr(fixed, " ${\"\n");
	memcpy(bad, "   \"\n", 5);
	s = parse(fixed);
	free(fixed);
	assert_string_equal(s->steps[0].run, "x 3 0.25 2.0 false [] a b");
	w = s->steps[0].with;
	assert_true(json_is_integer(json_object_get(w, "n")));
	assert_true(json_is_real(json_object_get(w, "r")));
	assert_true(json_is_false(json_object_get(w, "b")));
	assert_true(json_is_null(json_object_get(w, "z")));
	assert_string_equal(json_string_value(json_object_get(w, "s")), "a b!");
	assert_int_equal(json_integer_value(json_array_get(
				 json_object_get(json_object_get(w, "nested"), "deep"), 0)),
			 3);
	assert_string_equal(json_string_value(json_object_get(w, "shell")), "${HOME} ${1} ${x:-a.b} $$   ");
	spec_free(s);
}

static void test_subst_io(void **state)
{
	const char *in_n[] = {"model", "data"}, *in_v[] = {"/a/m.bin", "/a/d.csv"};
	const char *out_n[] = {"summary"}, *out_v[] = {"/o/s.txt"};
	char *r;

	(void)state;
	r = spec_subst_io("r \"${inputs.model}\" ${inputs.data} > ${outputs.summary} ${HOME} ${",
			  in_n, in_v, 2, out_n, out_v, 1);
	assert_non_null(r);
	assert_string_equal(r, "r \"/a/m.bin\" /a/d.csv > /o/s.txt ${HOME} ${");
	sl__free(r);
	r = spec_subst_io("", NULL, NULL, 0, NULL, NULL, 0);
	assert_string_equal(r, "");
	sl__free(r);
	assert_null(spec_subst_io("${inputs.nope}", in_n, in_v, 2, out_n, out_v, 1));
	assert_non_null(strstr(sl_errmsg(), "no input 'nope'"));
	assert_null(spec_subst_io("${outputs.model}", in_n, in_v, 2, out_n, out_v, 1));
}

static void test_overrides(void **state)
{
	const char *y = "params:\n  seed: 1\n  name: a\nsteps:\n  s:\n    run: echo ${params.seed}\n"
			"    with: {seed: \"${params.seed}\", name: \"${params.name}\"}\n";
	const char *const ov1[] = {"seed=7", "name=hello world"};
	const char *const ov2[] = {"seed='7'", "name="};
	const char *const ov3[] = {"seed=2.5", "seed=true"};
	spec *s;

	(void)state;
	s = parse_ov(y, ov1, 2);
	assert_int_equal(json_integer_value(s->params[0].value), 7);
	assert_string_equal(s->steps[0].run, "echo 7");
	assert_int_equal(json_integer_value(json_object_get(s->steps[0].with, "seed")), 7);
	assert_string_equal(json_string_value(json_object_get(s->steps[0].with, "name")), "hello world");
	spec_free(s);

	s = parse_ov(y, ov2, 2);
	assert_string_equal(json_string_value(json_object_get(s->steps[0].with, "seed")), "7");
	assert_true(json_is_null(json_object_get(s->steps[0].with, "name")));
	spec_free(s);

	s = parse_ov(y, ov3, 2); /* the last override of a name wins */
	assert_true(json_is_true(s->params[0].value));
	assert_string_equal(s->steps[0].run, "echo true");
	spec_free(s);
}

/* Coercion itself is test_opts.c's; here, what only a file can show. */
static void test_option_coercion(void **state)
{
	(void)state;
	/* In a file, literal scalars given to string options keep their text. */
	spec *s = parse("steps:\n  a:\n    uses: ingest.file\n    with: {path: x, type: 1.10}\n");
	assert_string_equal(json_string_value(json_object_get(s->steps[0].with, "type")), "1.10");
	spec_free(s);
	/* An explicit null means "use the default". */
	s = parse("steps:\n  a:\n    uses: ingest.file\n    with: {path: x, type: ~}\n");
	assert_string_equal(json_string_value(json_object_get(s->steps[0].with, "type")), "file");
	spec_free(s);
}

static char *canon(const char *yaml, const char *step)
{
	spec *s = parse(yaml);
	long i = spec_step_index(s, step);
	char *c;

	assert_true(i >= 0);
	c = spec_step_canonical(s, (size_t)i);
	assert_non_null(c);
	spec_free(s);
	return c;
}

static void test_canonical(void **state)
{
	const char *base = "params: {seed: 42, unused: 1}\n"
			   "steps:\n"
			   "  in:\n    uses: ingest.file\n    with: {path: d.csv}\n"
			   "  t:\n"
			   "    run: train --seed ${params.seed} ${inputs.d}\n"
			   "    inputs: {d: in.data, e: in.data}\n"
			   "    outputs: [m, n]\n"
			   "    env: {A: '1', B: x}\n"
			   "    deps: [a.py, b.py]\n"
			   "    with: {k: 1, j: [1, 2], seed: \"${params.seed}\"}\n";
	/* The same pipeline: other key order, flow/block style, comments, quoting
	 * of plain strings, output and dep order, other unused params. */
	const char *same = "# a comment\n"
			   "steps:\n"
			   "  t:\n"
			   "    with:\n      seed: ${params.seed}   # comment\n      j:\n        - 1\n        - 2\n      k: 1\n"
			   "    deps: [b.py, \"a.py\"]\n"
			   "    outputs:\n      - n\n      - m\n"
			   "    env: {B: \"x\", A: 1}\n"
			   "    inputs: {e: in.data, d: in.data}\n"
			   "    run: 'train --seed ${params.seed} ${inputs.d}'\n"
			   "    cache: false\n"
			   "    description: ignored\n"
			   "  in: {with: {path: d.csv, type: file}, uses: ingest.file}\n"
			   "params: {seed: 42}\n"
			   "name: other\n";
	const char *const changes[][2] = {
		{"--seed ${params.seed} ${inputs.d}", "--seed ${params.seed}  ${inputs.d}"},
		{"seed: 42, unused", "seed: 43, unused"},
		{"{d: in.data, e: in.data}", "{d: in.data, f: in.data}"},
		{"[m, n]", "[m, n, o]"},
		{"{A: '1', B: x}", "{A: '2', B: x}"},
		{"[a.py, b.py]", "[a.py, c.py]"},
		{"{k: 1, j", "{k: '1', j"},
		{"{k: 1, j", "{k: 1.0, j"},
	};
	char *a = canon(base, "t"), *b = canon(same, "t"), *c;

	(void)state;
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\"kind\":\"run\""));
	assert_non_null(strstr(a, "\"run\":\"train --seed 42 ${inputs.d}\""));
	assert_null(strstr(a, "ignored"));
	assert_null(strstr(a, "\"cache\""));
	sl__free(b);
	c = canon(base, "in");
	b = canon(same, "in"); /* a default given explicitly is the same definition */
	assert_string_equal(c, b);
	assert_string_equal(c, "{\"deps\":[],\"env\":{},\"inputs\":{},\"kind\":\"uses\",\"outputs\":"
			       "[\"data\"],\"uses\":\"ingest.file\",\"with\":{\"path\":\"d.csv\","
			       "\"type\":\"file\"}}");
	sl__free(b);
	sl__free(c);

	for (size_t k = 0; k < sizeof changes / sizeof changes[0]; k++) {
		char *y = malloc(strlen(base) + 64);
		const char *at = strstr(base, changes[k][0]);
		assert_non_null(y);
		assert_non_null(at);
		sprintf(y, "%.*s%s%s", (int)(at - base), base, changes[k][1], at + strlen(changes[k][0]));
		b = canon(y, "t");
		if (!strcmp(a, b))
			fail_msg("change %zu did not change the canonical form", k);
		sl__free(b);
		free(y);
	}
	/* Input wiring to another producer changes it. */
	b = canon("steps:\n  in: {uses: ingest.file, with: {path: d.csv}}\n"
		  "  in2: {uses: ingest.file, with: {path: d.csv}}\n"
		  "  t: {run: x, inputs: {d: in2.data}}\n",
		  "t");
	c = canon("steps:\n  in: {uses: ingest.file, with: {path: d.csv}}\n"
		  "  in2: {uses: ingest.file, with: {path: d.csv}}\n"
		  "  t: {run: x, inputs: {d: in.data}}\n",
		  "t");
	assert_string_not_equal(b, c);
	sl__free(b);
	sl__free(c);
	sl__free(a);
	assert_null(spec_step_canonical(NULL, 0));
}

static void test_topological_order(void **state)
{
	/* Two independent chains interleaved in the file, plus a join. */
	spec *s = parse("steps:\n"
			"  join: {run: j, inputs: {a: a2.o, b: b2.o, c: a2.o}}\n"
			"  b2: {run: x, inputs: {i: b1.o}, outputs: [o]}\n"
			"  a1: {run: x, outputs: [o]}\n"
			"  a2: {run: x, inputs: {i: a1.o}, outputs: [o]}\n"
			"  b1: {run: x, outputs: [o]}\n"
			"  lone: {run: x}\n");
	const size_t want[] = {2, 3, 4, 1, 0, 5};

	(void)state;
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(s->order[i], want[i]);
	assert_int_equal(s->steps[0].n_upstream, 2); /* a2 once, though consumed twice */
	assert_int_equal(s->steps[0].upstream[0], 3);
	assert_int_equal(s->steps[0].upstream[1], 1);
	assert_int_equal(s->steps[3].n_downstream, 1);
	assert_int_equal(s->steps[3].downstream[0], 0);
	assert_int_equal(s->steps[5].n_upstream, 0);
	assert_int_equal(s->steps[5].n_downstream, 0);
	spec_free(s);
}

/* A chain of n steps, written last step first so ordering has work to do. */
static char *chain(size_t n, bool cycle)
{
	size_t cap = n * 128 + 256, off = 0;
	char *y = malloc(cap);

	assert_non_null(y);
	off += (size_t)snprintf(y + off, cap - off, "name: chain\nparams: {seed: 1}\nsteps:\n");
	for (size_t i = n; i-- > 0;) {
		if (i == 0 && !cycle)
			off += (size_t)snprintf(y + off, cap - off,
						"  s0:\n    uses: ingest.file\n    with: {path: p}\n");
		else if (i == 0)
			off += (size_t)snprintf(y + off, cap - off,
						"  s0:\n    run: x\n    outputs: [data]\n    inputs: {i: s%zu.data}\n",
						n - 1);
		else
			off += (size_t)snprintf(y + off, cap - off,
						"  s%zu:\n    run: step ${params.seed} ${inputs.i}\n"
						"    inputs: {i: s%zu.data}\n    outputs: [data]\n",
						i, i - 1);
	}
	return y;
}

/*
 * Large files parse correctly: a 10,000-step chain orders every step and a
 * cycle through all of them is named in short. How fast they parse is a
 * benchmark's business (bench/pipeline_overhead.sh), not a test's: these
 * machines are shared, and a wall-clock limit here fails under load.
 */
static void test_large_pipelines(void **state)
{
	char *y = chain(10000, false);
	spec *s;

	(void)state;
	s = parse(y);
	assert_int_equal(s->n_steps, 10000);
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(s->order[i], 9999 - i);
	spec_free(s);
	free(y);

	y = chain(10000, true);
	expect(y, "6:17", "cycle: s9999 -> s0 -> s1 -> s2 -> s3 -> ... -> s9995 -> s9996 -> s9997 -> "
			  "s9998 -> s9999 (10000 steps)");
	free(y);
}

static void test_hostile_input(void **state)
{
	char buf[4096];
	unsigned seed = 12345;
	spec *s;

	(void)state;
	/* Alias bomb: each level doubles ten times. */
	const char *bomb = "steps:\n"
			   "  a:\n    run: x\n    with:\n"
			   "      l0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
			   "      l1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n"
			   "      l2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\n"
			   "      l3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\n"
			   "      l4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]\n"
			   "      l5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]\n"
			   "      l6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]\n"
			   "      l7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]\n"
			   "      l8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]\n";
	assert_int_equal(spec_parse_string(bomb, strlen(bomb), "t.yaml", NULL, NULL, 0, &s), SL_ESPEC);
	assert_true(sl__str_has_prefix(sl_errmsg(), "t.yaml:10:11: too many values once aliases are expanded"));

	/* Deep nesting. */
	memset(buf, '[', 200);
	buf[200] = '\0';
	assert_int_equal(spec_parse_string(buf, 200, "t.yaml", NULL, NULL, 0, &s), SL_ESPEC);
	assert_non_null(strstr(sl_errmsg(), "nesting deeper than 64"));
	assert_true(sl__str_has_prefix(sl_errmsg(), "t.yaml:1:65: "));

	/* Malformed UTF-8 inside otherwise valid YAML, and a UTF-16 file. */
	const char *bad[] = {"name: \xc3\x28\nsteps: {}\n", "name: \xed\xa0\x80\n", "\xef\xbb\xbf\xfe\xff",
			     "name: \"\\ud800\"\n", "steps:\n  a:\n    run: \xf4\x90\x80\x80\n"};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		assert_int_equal(spec_parse_string(bad[k], strlen(bad[k]), "t.yaml", NULL, NULL, 0, &s),
				 SL_ESPEC);
		assert_null(s);
	}
	const char u16[] = "\xff\xfes\0t\0e\0p\0s\0:\0 \0{\0a\0:\0 \0{\0r\0u\0n\0:\0 \0x\0}\0}\0\n\0";
	assert_int_equal(spec_parse_string(u16, sizeof u16 - 1, "t.yaml", NULL, NULL, 0, &s), 0);
	assert_string_equal(s->steps[0].run, "x");
	spec_free(s);

	/* Binary garbage, and garbage spliced into a valid file: no crash, no leak. */
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand_r(&seed) % (sizeof buf - 1));
		if (round % 2) {
			size_t vl = strlen(valid);
			n = vl;
			memcpy(buf, valid, vl);
			for (int k = 0; k < 4; k++)
				buf[(size_t)rand_r(&seed) % vl] = (char)(rand_r(&seed) & 0xff);
		} else {
			for (size_t i = 0; i < n; i++)
				buf[i] = (char)(rand_r(&seed) & 0xff);
		}
		int rc = spec_parse_string(buf, n, "t.yaml", NULL, NULL, 0, &s);
		assert_true(rc == 0 || rc == SL_ESPEC);
		if (rc == 0)
			spec_free(s);
		else
			assert_true(sl__str_has_prefix(sl_errmsg(), "t.yaml:"));
	}
}

static void test_alloc_failures(void **state)
{
	const char *const ov[] = {"seed=9"};
	tu_oom o = {0};

	(void)state;
	/* Fail every allocation in turn: each run must fail cleanly or succeed. */
	for (long n = 0; !o.done && n < 100000; n++) {
		spec *s = (spec *)1;
		tu_oom_begin(&o, n);
		int rc = spec_parse_string(valid, strlen(valid), "t.yaml", "/proj", ov, 1, &s);
		tu_oom_end(&o, rc);
		if (rc) {
			assert_int_equal(rc, SL_ENOMEM);
			assert_null(s);
		} else {
			spec_free(s);
		}
	}
	tu_oom_check(&o, 20);
}

static void test_bad_arguments(void **state)
{
	spec *s = (spec *)1;

	(void)state;
	assert_int_equal(spec_parse_string(NULL, 0, NULL, NULL, NULL, 0, &s), SL_EINVAL);
	assert_null(s);
	assert_int_equal(spec_parse_file(NULL, NULL, 0, &s), SL_EINVAL);
	assert_int_equal(spec_step_index(NULL, "x"), -1);
	assert_null(spec_subst_io(NULL, NULL, NULL, 0, NULL, NULL, 0));
}

/* Tabs and misaligned keys say what is wrong, at the line that is. */
static void test_indentation_errors(void **state)
{
	(void)state;
	expect("steps:\n  a:\n\trun: echo hi\n", "3:1", "tab used for indentation; use spaces");
	expect("steps:\n  a:\n    run: echo hi\n  \tcache: false\n", "4:3",
	       "tab used for indentation; use spaces");
	/* The key that is under-indented, not the line after it where libyaml stops. */
	expect("steps:\n  a:\n   run: echo hi\n    cache: false\n", "3:4",
	       "bad indentation: 'run' is indented 3 spaces but the keys after it (line 4) are "
	       "indented 4");
	expect("steps:\n  a:\n    uses: split\n    with:\n      method: random\n     seed: 2\n", "6:6",
	       "bad indentation: 'seed' is indented 5 spaces, which lines up with no mapping around "
	       "it: the keys at line 5 are indented 6 and those at line 3 are indented 4");
	expect("name: x\nsteps:\n  a:\n    run: echo\n b:\n    run: echo\n", "5:2",
	       "bad indentation: 'b' is indented 1 space");
	expect("steps:\n  a:\n    run: echo hi\n      cache: false\n", "4:7",
	       "'cache' is indented 6 spaces, more than 'run' on line 3 (4)");
}

/* Every option is checked before anything runs, each problem at its node. */
static void test_nested_option_errors(void **state)
{
	const char *ingest = "  ingest:\n    uses: ingest.csv\n    with: {path: d.csv}\n";
	char y[2048];

	(void)state;
	/* The acceptance case: an enum with a suggestion, at the value. */
	snprintf(y, sizeof y, "steps:\n%s  split:\n    uses: split\n    inputs: {data: ingest.data}\n"
			      "    with: {method: randm, seed: 1}\n", ingest);
	expect(y, "8:20", "option 'method' of split must be one of random, stratified, time or group, "
			  "not 'randm' (did you mean 'random'?)");
	/* Rules among options. */
	snprintf(y, sizeof y, "steps:\n%s  split:\n    uses: split\n    inputs: {data: ingest.data}\n"
			      "    with:\n      method: stratified\n", ingest);
	expect(y, "9:15", "method stratified needs option 'by'");
	snprintf(y, sizeof y, "steps:\n%s  split:\n    uses: split\n    inputs: {data: ingest.data}\n"
			      "    with: {by: label}\n", ingest);
	expect(y, "8:12", "'by' cannot be given with method random");
	snprintf(y, sizeof y, "steps:\n%s  split:\n    uses: split\n    inputs: {data: ingest.data}\n"
			      "    with: {fractions: [0.7, 1.5]}\n", ingest);
	expect(y, "8:29", "option 'fractions[1]' of split must be in [0, 1], not 1.5");
	snprintf(y, sizeof y, "steps:\n%s  split:\n    uses: split\n    inputs: {data: ingest.data}\n"
			      "    with: {fractions: [0.5, 0.2]}\n", ingest);
	expect(y, "8:23", "the fractions sum to 0.7, not 1");
	/* Ranges, and exclusive options. */
	expect("steps:\n  a:\n    uses: ingest.csv\n    with: {path: d.csv, threads: 65}\n", "4:34",
	       "option 'threads' of ingest.csv must be in [0, 64], not 65");
	expect("steps:\n  a:\n    uses: ingest.sql\n    with: {path: a.db, url: \"postgresql://h/d\", "
	       "query: x}\n",
	       "4:24", "'url' cannot be given with 'path' (give only one of 'path' and 'url'");
	expect("steps:\n  a:\n    uses: ingest.csv\n    with: {path: d.csv, columns: [a, b]}\n", "4:25",
	       "'columns' cannot be given with header true");
	/* wrangle's operations: the exact line and column of the nested node. */
	snprintf(y, sizeof y,
		 "steps:\n%s  prep:\n    uses: wrangle\n    inputs: {data: ingest.data}\n    with:\n"
		 "      ops:\n"
		 "        - {op: drop, columns: [id]}\n"
		 "        - op: impute\n"
		 "          strategy: meen\n",
		 ingest);
	expect(y, "12:21", "option 'ops[1].strategy' of wrangle must be one of mean, median, mode or "
			   "constant, not 'meen' (did you mean 'mean'?)");
	snprintf(y, sizeof y,
		 "steps:\n%s  prep:\n    uses: wrangle\n    inputs: {data: ingest.data}\n    with:\n"
		 "      ops:\n        - {op: impute, colums: [age]}\n",
		 ingest);
	expect(y, "10:24", "unknown option 'colums' in op impute (ops[0]) of wrangle (did you mean "
			  "'columns'?)");
	snprintf(y, sizeof y,
		 "steps:\n%s  prep:\n    uses: wrangle\n    inputs: {data: ingest.data}\n    with:\n"
		 "      ops:\n        - {select: [a, b]}\n        - {op: imput}\n",
		 ingest);
	expect(y, "11:16", "unknown op 'imput'; did you mean 'impute'?");
	snprintf(y, sizeof y,
		 "steps:\n%s  prep:\n    uses: wrangle\n    inputs: {data: ingest.data}\n    with:\n"
		 "      ops:\n        - {drop: [a, a]}\n",
		 ingest);
	expect(y, "10:22", "'a' is listed twice");
	snprintf(y, sizeof y,
		 "steps:\n%s  prep:\n    uses: wrangle\n    inputs: {data: ingest.data}\n    with:\n"
		 "      ops:\n        - {op: text}\n",
		 ingest);
	expect(y, "10:11", "ops[0] needs option 'column'");
	snprintf(y, sizeof y,
		 "steps:\n%s  prep:\n    uses: wrangle\n    inputs: {data: ingest.data}\n    with:\n"
		 "      ops:\n        - {op: clip, columns: [a], min: 0, lower_quantile: 0.1}\n",
		 ingest);
	expect(y, "10:44", "'lower_quantile' cannot be given with 'min'");
	/* An expression's syntax, at the character that is wrong. */
	snprintf(y, sizeof y,
		 "steps:\n%s  prep:\n    uses: wrangle\n    inputs: {data: ingest.data}\n    with:\n"
		 "      ops:\n        - {filter: \"age >> 18\"}\n",
		 ingest);
	expect(y, "10:26", "expected a value, a name or '(', found '>'");
	snprintf(y, sizeof y,
		 "steps:\n%s  prep:\n    uses: wrangle\n    inputs: {data: ingest.data}\n", ingest);
	expect(y, "6:5", "step 'prep': give with.ops (the operations to fit) or the input 'transform'");
	/* A built-in's check against the inputs the pipeline connects. */
	snprintf(y, sizeof y, "steps:\n%s  lab:\n    uses: label\n    inputs: {data: ingest.data}\n"
			      "    with: {on: id}\n", ingest);
	expect(y, "8:16", "with.on joins the input 'labels', which is not connected");
	snprintf(y, sizeof y, "steps:\n%s  lab:\n    uses: label\n    inputs: {data: ingest.data}\n"
			      "    with:\n      rules:\n        - {when: \"x > 1\", label: a}\n"
			      "        - {when: \"true\", label: 2}\n", ingest);
	expect(y, "11:33", "the label is an integer but with.rules[0].label is a string");
	snprintf(y, sizeof y, "steps:\n%s  v:\n    uses: validate\n    inputs: {data: ingest.data}\n"
			      "    with: {drift: {ks_pvalue: 2}}\n", ingest);
	expect(y, "8:31", "option 'drift.ks_pvalue' of validate must be in [0, 1], not 2");
}

/* The same text resolves the same way in a pipeline file and a schema file. */
static void test_scalars_alike(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "s.yaml");
	schema *sc = NULL;
	json_t *j = NULL;
	spec *s;

	(void)state;
	s = parse("params: {a: 0x10, b: 0o17, c: 012}\nsteps:\n  x:\n    run: echo\n"
		  "    with: {n: 0x10}\n");
	assert_int_equal(json_integer_value(s->params[0].value), 16);
	assert_int_equal(json_integer_value(s->params[1].value), 15);
	assert_int_equal(json_integer_value(s->params[2].value), 12);
	assert_int_equal(json_integer_value(json_object_get(s->steps[0].with, "n")), 16);
	spec_free(s);
	/* An integer option and a number option read 0x10 as 16 too. */
	s = parse("steps:\n  x:\n    uses: split\n    inputs: {data: y.o}\n    with: {seed: 0x10}\n"
		  "  y:\n    run: echo\n    outputs: [o]\n");
	assert_int_equal(json_integer_value(json_object_get(s->steps[0].with, "seed")), 16);
	spec_free(s);
	/* .inf cannot be an option's value (JSON has no infinity): said where. */
	expect("steps:\n  x:\n    run: echo\n    with: {n: .inf}\n", "4:15",
	       "'.inf' is infinite, which cannot be used here");
	expect("params: {p: -.inf}\nsteps:\n  x:\n    run: echo\n", "1:13", "is infinite");
	/* A schema reads the same texts: 0x10 is 16, .inf an open bound. */
	tu_write(path, "columns:\n  n: {type: int64, min: 0x10, max: .inf}\n  f: {min: -.inf}\n");
	assert_int_equal(schema_load_file(path, SCHEMA_ERROR, &sc), 0);
	assert_true(sc->cols[0].min.v == 16);
	assert_true(isinf(sc->cols[0].max.v) && sc->cols[0].max.v > 0);
	assert_true(isinf(sc->cols[1].min.v) && sc->cols[1].min.v < 0);
	assert_int_equal(schema_to_json(sc, &j), 0);
	assert_string_equal(json_string_value(sl__ypath_json(j, "columns.n.max")), "Inf");
	json_decref(j);
	schema_free(sc);
	tu_write(path, "columns:\n  n: {max: .nan}\n");
	assert_int_equal(schema_load_file(path, SCHEMA_ERROR, &sc), SL_EPARSE);
	assert_non_null(strstr(sl_errmsg(), "s.yaml:2:12: columns.n.max: a bound cannot be NaN"));
	free(path);
	tu_rmdir(dir);
}

static void test_resources(void **state)
{
	spec *s = parse("params: {n: 8}\nsteps:\n"
			"  a:\n    run: echo\n    resources: {cpus: 4, memory: 512M, time: 90, gpus: 1}\n"
			"  b:\n    run: echo\n    resources: {cpus: \"${params.n}\", memory: 1.5GiB, time: 30m}\n"
			"  c:\n    run: echo\n    resources: {memory: 4G, time: \"1:30:00\"}\n"
			"  d:\n    run: echo\n    resources: {time: 2h, memory: 100KB}\n"
			"  e:\n    run: echo\n    resources: {time: 1d}\n"
			"  f:\n    run: echo\n");

	(void)state;
	assert_int_equal(s->steps[0].resources.cpus, 4);
	assert_true(s->steps[0].resources.memory == 512ull << 20);
	assert_true(s->steps[0].resources.time == 90);
	assert_int_equal(s->steps[0].resources.gpus, 1);
	assert_int_equal(s->steps[1].resources.cpus, 8);
	assert_true(s->steps[1].resources.memory == 3ull << 29);
	assert_true(s->steps[1].resources.time == 1800);
	assert_true(s->steps[2].resources.memory == 4ull << 30);
	assert_true(s->steps[2].resources.time == 5400);
	assert_true(s->steps[3].resources.time == 7200);
	assert_true(s->steps[3].resources.memory == 100ull << 10);
	assert_true(s->steps[4].resources.time == 86400);
	assert_int_equal(s->steps[5].resources.cpus, 0); /* not set: the orchestrator's default */
	assert_true(s->steps[5].resources.memory == 0 && s->steps[5].resources.time == 0);
	/* What a step asks of the machine does not change what it makes. */
	char *c1 = spec_step_canonical(s, 0), *c2 = spec_step_canonical(s, 5);
	assert_string_equal(c1, c2);
	sl__free(c1);
	sl__free(c2);
	spec_free(s);

	expect("steps:\n  a:\n    run: x\n    resources: {cpu: 2}\n", "4:17",
	       "unknown key 'cpu' in 'resources' (did you mean 'cpus'?)");
	expect("steps:\n  a:\n    run: x\n    resources: {cpus: 0}\n", "4:23",
	       "resources: 'cpus' must be a whole number from 1 to 4096, not 0");
	expect("steps:\n  a:\n    run: x\n    resources: {cpus: 2.5}\n", "4:23", "not 2.5");
	expect("steps:\n  a:\n    run: x\n    resources: {gpus: -1}\n", "4:23", "from 0 to 1024");
	expect("steps:\n  a:\n    run: x\n    resources: {memory: 4096}\n", "4:25",
	       "'memory' must be a size with a unit, such as 512M or 4G (K, M, G, T: powers of 1024), "
	       "not 4096");
	expect("steps:\n  a:\n    run: x\n    resources: {memory: 4X}\n", "4:25", "not '4X'");
	expect("steps:\n  a:\n    run: x\n    resources: {memory: -1G}\n", "4:25", "not '-1G'");
	expect("steps:\n  a:\n    run: x\n    resources: {time: soon}\n", "4:23",
	       "'time' must be a duration above 0 and at most 366 days: seconds (90), 90s, 30m, 2h, 1d "
	       "or H:MM:SS (1:30:00), not 'soon'");
	expect("steps:\n  a:\n    run: x\n    resources: {time: 0}\n", "4:23", "not 0");
	expect("steps:\n  a:\n    run: x\n    resources: {time: \"1:75:00\"}\n", "4:23", "not '1:75:00'");
	expect("steps:\n  a:\n    run: x\n    resources: {time: 400d}\n", "4:23", "at most 366 days");
	expect("steps:\n  a:\n    run: x\n    resources: [4]\n", "4:16", "'resources' must be a mapping");
	expect("steps:\n  a:\n    run: x\n    resources: {cpus: [4]}\n", "4:23", "must be a scalar");
}

/* Where a with: value was written, for messages from a running step. */
static void test_with_positions(void **state)
{
	const char *y = "steps:\n"
			"  in:\n    run: echo\n    outputs: [data]\n"
			"  prep:\n"
			"    uses: wrangle\n"
			"    inputs: {data: in.data}\n"
			"    with:\n"
			"      ops:\n"
			"        - {op: impute, columns: [age, incme]}\n"
			"        - {filter: \"age > ageX\"}\n"
			"  last:\n    uses: split\n    inputs: {data: prep.data}\n";
	spec *s = parse(y);
	spec_pos pos;
	char *m;

	(void)state;
	assert_int_equal(spec_with_pos(s, 1, "ops[0].columns[1]", &pos), 0);
	assert_int_equal(pos.line, 10);
	assert_int_equal(pos.col, 39);
	assert_int_equal(spec_with_pos(s, 1, "with.ops[0].columns", &pos), 0);
	assert_int_equal(pos.col, 33);
	/* Not written (a default, a missing key): the nearest written value. */
	assert_int_equal(spec_with_pos(s, 1, "ops[0].strategy", &pos), 0);
	assert_int_equal(pos.line, 10);
	assert_int_equal(pos.col, 11);
	/* The block itself, and a step without with: its uses key. */
	assert_int_equal(spec_with_pos(s, 1, "", &pos), 0);
	assert_int_equal(pos.line, 8);
	assert_int_equal(pos.col, 5);
	assert_int_equal(spec_with_pos(s, 2, "method", &pos), 0);
	assert_int_equal(pos.line, 13);
	assert_int_equal(pos.col, 5);
	assert_int_equal(spec_with_pos(s, 9, "", &pos), SL_EINVAL);

	m = spec_locate_msg(s, 1, "with.ops[0].columns[1]: unknown column 'incme'; did you mean 'income'?");
	assert_string_equal(m, "t.yaml:10:39: with.ops[0].columns[1]: unknown column 'incme'; did you "
			       "mean 'income'?");
	sl__free(m);
	/* An expression's own position moves inside the value; a short form is found by its key. */
	m = spec_locate_msg(s, 1, "with.ops[1].expr:1:7: unknown column 'ageX'; did you mean 'age'?");
	assert_string_equal(m, "t.yaml:11:27: with.ops[1].filter: unknown column 'ageX'; did you mean "
			       "'age'?");
	sl__free(m);
	m = spec_locate_msg(s, 1, "reading data: no such file");
	assert_string_equal(m, "reading data: no such file");
	sl__free(m);
	assert_string_equal(spec_display_name(s), "t.yaml");
	spec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_pipeline),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_reference_errors),
		cmocka_unit_test(test_outside_references),
		cmocka_unit_test(test_reference_params),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_substitution_errors),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_override_errors),
		cmocka_unit_test(test_scalar_typing),
		cmocka_unit_test(test_substitution),
		cmocka_unit_test(test_subst_io),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_option_coercion),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_topological_order),
		cmocka_unit_test(test_large_pipelines),
		cmocka_unit_test(test_hostile_input),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_indentation_errors),
		cmocka_unit_test(test_nested_option_errors),
		cmocka_unit_test(test_scalars_alike),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_with_positions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
