/*
 * The pipeline file: parsing, validation and the resolved in-memory form.
 *
 *   name: spam-train
 *   description: optional text
 *   params: { seed: 42 }
 *   steps:
 *     NAME:
 *       uses: BUILTIN | run: COMMAND | plugin: LIB.so:FUNCTION   (exactly one)
 *       with: { ... }            options of a built-in (or plugin) step
 *       inputs: { local: STEP.OUTPUT, ... }
 *       outputs: [a, b]          declared outputs of run/plugin steps
 *       deps: [files...]         files a run step reads; hashed into its cache key
 *       env: { K: V }            extra environment for a run step
 *       cache: true|false
 *       timeout: SECONDS         stop the step (and fail it) after this long
 *       resources: { cpus: 4, memory: 8G, time: 2h, gpus: 1 }   what it asks of the machine
 *       description: text
 *
 * Every error names its place as "FILE:LINE:COL: message" (1-based) and
 * nothing runs: invalid YAML, unknown keys, an unknown built-in step, a
 * reference to a missing step or output, a cycle (naming its steps), a bad
 * ${...} substitution, a missing required option, an option of the wrong
 * type or outside its allowed values, a broken rule among options, an
 * unknown parameter override, a bad resource request.
 *
 * Substitution: ${params.X} is replaced at parse time everywhere in `with`
 * values, `run`, `env` and `deps`. ${inputs.X} and ${outputs.X} are checked
 * at parse time (X must be declared) and replaced when the step runs. Any
 * other ${NAME} without a dot is left alone for the shell (${HOME}); a
 * ${a.b} whose namespace is not params/inputs/outputs is an error. A `with`
 * value that is exactly "${params.X}" takes the parameter's YAML type, and
 * string values are coerced to the option's declared type ("42" -> 42 for
 * an int option).
 */
#ifndef SLUICE_SPEC_H
#define SLUICE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"
#include "steps/step.h"
#include "yamltree.h"

/* A position in the file: line and column, 1-based (columns in characters). */
typedef sl__ypos spec_pos;

typedef struct spec_param {
	char *name;
	json_t *value; /* scalar: string, integer, real, boolean or null */
	spec_pos pos;
} spec_param;

/*
 * What an input names (docs/pipeline.md, "Inputs from earlier runs and the
 * registry"):
 *
 *   STEP.OUTPUT                  an output of a step of this pipeline
 *   run:latest/STEP.OUTPUT       that output in the newest earlier run of this
 *   run:latest~N/STEP.OUTPUT     pipeline that has it (~N: N such runs before),
 *   run:ID/STEP.OUTPUT           or in the run with that id (a unique prefix)
 *   artifact:ID                  an artifact (a unique prefix of 4+ hex digits)
 *   model:NAME@REF               the bundle of a registered model's version
 *                                (REF: a version number, an alias or latest)
 *
 * A trailing '?' on the last three makes the input optional: when the
 * reference names nothing (no earlier run, no such alias yet), the step
 * runs without it (also artifact:? with no id, what artifact:${params.X}?
 * gives when X is empty). The last three may contain ${params.X}. They are
 * resolved by the scheduler before the run starts; the artifact they
 * resolve to is part of the step's cache key.
 */
typedef enum spec_ref_kind { SPEC_REF_STEP, SPEC_REF_RUN, SPEC_REF_ARTIFACT, SPEC_REF_MODEL } spec_ref_kind;

typedef struct spec_input {
	char *name;        /* local name inside the consuming step */
	char *step;        /* producing step (STEP and RUN references) */
	char *output;      /* the producing step's output name (STEP and RUN) */
	size_t step_index; /* STEP: index of the producing step in spec.steps; else SIZE_MAX */
	spec_pos pos;
	spec_ref_kind ref;
	char *text;        /* the reference as written, without '?' (not STEP) */
	char *target;      /* RUN: "latest" or a run id; ARTIFACT: the id; MODEL: the model */
	char *version;     /* MODEL: the version reference */
	unsigned back;     /* RUN: the N of latest~N */
	bool optional;     /* '?': left out when the reference names nothing */
} spec_input;

/*
 * Parses text as a reference other than STEP.OUTPUT into in's ref, text,
 * target, version, back, step, output and optional (allocated; spec_free
 * frees them). Returns 1 when it is one, 0 when text is not (no "run:",
 * "artifact:" or "model:" prefix), -1 with msg filled when it is one but
 * malformed (in is then left for spec_free).
 */
int spec_ref_parse(const char *text, spec_input *in, char *msg, size_t size);

typedef enum spec_kind { SPEC_USES, SPEC_RUN, SPEC_PLUGIN } spec_kind;

/*
 * A step's `resources:` (what it asks of the machine that runs it). Zero
 * means "not set": the orchestrator's defaults apply. The local
 * orchestrator uses cpus to count a step against -j; a cluster
 * orchestrator maps each field to its own options (sbatch --cpus-per-task,
 * --mem, --time, --gpus).
 */
typedef struct spec_resources {
	int cpus;
	uint64_t memory;    /* bytes ("512M", "4G" in the file) */
	double time;        /* seconds ("90", "30m", "2h", "1:30:00") */
	int gpus;
} spec_resources;

#define SPEC_RESOURCE_KEYS 4
extern const char *const spec_resource_keys[SPEC_RESOURCE_KEYS]; /* cpus, memory, time, gpus */
/*
 * Checks one resource value as written (key one of spec_resource_keys, j a
 * number or a string such as "4G" or "2h") and sets it in r. SL_EINVAL with
 * why (no position; the caller knows where the value was) when it is not a
 * valid value for key. Shared by a step's `resources:` and sluice.yaml's
 * default resources (stack.slurm.resources).
 */
int spec_resource_set(spec_resources *r, const char *key, const json_t *j, char *why,
		      size_t size);

typedef struct spec_step {
	char *name;
	spec_pos pos;
	spec_kind kind;
	char *uses;         /* SPEC_USES: the built-in's name */
	const step_def *def; /* SPEC_USES: the built-in */
	char *run;          /* SPEC_RUN: the command, ${params.X} substituted */
	char *plugin;       /* SPEC_PLUGIN: "path/lib.so:function" */
	json_t *with;       /* resolved options: an object (defaults filled in for built-ins) */
	spec_input *inputs;
	size_t n_inputs;
	char **outputs;     /* output names: the built-in's declared outputs, or `outputs:` */
	size_t n_outputs;
	char **deps;        /* `deps:` files, ${params.X} substituted */
	size_t n_deps;
	json_t *env;        /* `env:` object of strings, or NULL */
	bool cache;
	double timeout;     /* seconds; 0 means none */
	spec_resources resources;
	char *description;
	size_t *upstream;   /* distinct indices of the steps this one consumes from */
	size_t n_upstream;
	size_t *downstream; /* distinct indices of the steps consuming from this one */
	size_t n_downstream;
} spec_step;

typedef struct spec {
	char *path;         /* absolute path of the file ("<string>" when parsed from memory) */
	char *dir;          /* absolute directory relative paths in the file resolve against */
	char *name;
	char *description;
	char sha256[65];    /* SHA-256 (hex) of the text parsed: a bundle's lineage
			     * names the pipeline file it came from by it */
	spec_param *params;
	size_t n_params;
	spec_step *steps;   /* in file order */
	size_t n_steps;
	size_t *order;      /* a topological order of step indices; ties in file order */
} spec;

/*
 * Parses and validates a pipeline file. overrides are "NAME=VALUE" strings
 * (from -p); VALUE is read as a YAML scalar, so "-p seed=7" is an integer.
 * On failure returns SL_ESPEC (or SL_ENOENT, SL_ENOMEM ...) with the message
 * "FILE:LINE:COL: ..." and *out is NULL. The caller frees with spec_free.
 */
int spec_parse_file(const char *path, const char *const *overrides, size_t n_overrides,
		    spec **out);
/* The same from memory; display_name is used in messages, dir for relative paths. */
int spec_parse_string(const char *text, size_t len, const char *display_name, const char *dir,
		      const char *const *overrides, size_t n_overrides, spec **out);
void spec_free(spec *s); /* accepts NULL */

/* Index of the step with this name, or -1. */
long spec_step_index(const spec *s, const char *name);

/*
 * The step's resolved definition as canonical JSON text (sorted keys, no
 * white space): kind, uses/run/plugin, with, inputs (name -> STEP.OUTPUT),
 * outputs, env, deps. Input *contents* are not part of it: the scheduler
 * adds their hashes to the cache key. Newly allocated; free with sl__free.
 */
char *spec_step_canonical(const spec *s, size_t i);

/*
 * Replaces ${inputs.X} and ${outputs.X} in text using the given name/value
 * pairs (run time). Newly allocated, or NULL on failure (error set).
 */
char *spec_subst_io(const char *text, const char *const *in_names, const char *const *in_vals,
		    size_t n_in, const char *const *out_names, const char *const *out_vals,
		    size_t n_out);

/*
 * Steps the scheduler adds for a run (a tune step's trials; pipeline/tune.c)
 * and removes when the run ends. spec_steps_append adds n zeroed steps at
 * the end (indices of existing steps stay; pointers into s->steps do not):
 * the caller fills them as the parser would (every string and array
 * allocated with sl__malloc, which spec_free frees), and messages about
 * their options are placed at step `like`'s `with:`. spec_steps_truncate
 * frees the steps from index n on and drops them from the other steps'
 * upstream and downstream lists.
 */
int spec_steps_append(spec *s, size_t n, size_t like);
void spec_steps_truncate(spec *s, size_t n);

/* The file name as given to the parser, as messages name it. */
const char *spec_display_name(const spec *s);

/*
 * Where a value of step `step`'s `with:` was written. json_path is a path
 * inside `with` ("ops[3].columns"; a leading "with." is allowed; syntax in
 * yamltree.h). A path that was not written (a default, a missing key) gives the
 * nearest enclosing value that was, and the empty path the `with:` key (or
 * the step's uses/run key when it has no `with:`). The scheduler uses it to
 * place a step's run-time errors about its options in the file.
 */
int spec_with_pos(const spec *s, size_t step, const char *json_path, spec_pos *out);

/*
 * A step's failure message, placed in the file when it starts with a path
 * into `with` ("with.ops[3].columns: unknown column 'x'" becomes
 * "FILE:LINE:COL: with.ops[3].columns: unknown column 'x'"; an expression's
 * own ":LINE:COL" after the path moves the column inside the value). Other
 * messages come back unchanged. Newly allocated (sl__free), NULL when out
 * of memory.
 */
char *spec_locate_msg(const spec *s, size_t step, const char *msg);

/*
 * Internal, called by the parser (dag.c): fills each step's upstream and
 * downstream lists and s->order (Kahn's algorithm, ties broken by file
 * order). Inputs must already carry their step_index. On a cycle returns
 * SL_ESPEC with *out_pos and msg naming one cycle ("cycle: a -> b -> a",
 * where "a -> b" means b consumes an output of a); SL_ENOMEM on allocation
 * failure. Either way the sluice error message is left untouched.
 */
int dag_build(spec *s, spec_pos *out_pos, char *msg, size_t msg_size);

#endif
