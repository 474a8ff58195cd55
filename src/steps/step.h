/*
 * The built-in step interface. A built-in step is a C function plus a
 * description of what it takes and gives:
 *
 *   name      "ingest.csv" (what `uses:` names)
 *   version   bumped whenever the step's output for the same input changes;
 *             it is part of the cache key, so old cache entries stop matching
 *   options   the `with:` schema (step_opt below): type, required, default,
 *             help, and what the value may be: allowed values, a range, a
 *             length, the shape of list items and nested mappings, rules
 *             among options. The spec parser checks all of it, and the
 *             step's check hook, with FILE:LINE:COL before anything runs;
 *             run() reads its options without checking them again.
 *   inputs    named artifact inputs with their artifact type
 *   outputs   named artifact outputs with their artifact type
 *   run       does the work
 *
 * run() executes in a child process (the orchestrator forks for it, as it
 * does for a command step), so it may use memory freely and a crash is a
 * failed step, not a failed scheduler. It reads its inputs from
 * step_input(), writes each output to the path step_output() gives, records
 * metrics with step_metric(), and returns 0 or calls step_fail(). It never
 * touches the metadata store: the scheduler hashes and records the outputs
 * after the child exits, which keeps every database write in one process.
 *
 * Adding a step: write src/steps/NAME.c defining `const step_def step_NAME`
 * and add it to the table in registry.c.
 *
 * An option table, for example a gradient-boosting trainer's (DESIGN.md's
 * train.gbdt, evaluate and test in one, for the sake of the example):
 *
 *   static const step_opt nonneg = {.type = OPT_NUMBER, .range = "[0,)"};
 *   static const step_opt cost_row = {.type = OPT_LIST, .item = &nonneg};
 *   static const step_opt over_under[] = {
 *       {.name = "over", .type = OPT_NUMBER, .required = true, .range = "[0,)",
 *        .help = "cost of predicting one unit too high"},
 *       {.name = "under", .type = OPT_NUMBER, .required = true, .range = "[0,)",
 *        .help = "cost of predicting one unit too low"},
 *       {.name = NULL},
 *   };
 *   static const step_opt cost_shapes[] = {        // chosen by the value's kind
 *       {.type = OPT_LIST, .len = "[2,)", .item = &cost_row, .help = "a cost matrix"},
 *       {.type = OPT_MAP, .fields = over_under, .help = "{over, under} unit costs"},
 *       {.help = NULL},
 *   };
 *   static const step_opt rule_fields[] = {
 *       {.name = "metric", .type = OPT_STRING, .required = true, .help = "the metric"},
 *       {.name = "min", .type = OPT_NUMBER, .help = "lowest allowed"},
 *       {.name = "max", .type = OPT_NUMBER, .help = "highest allowed"},
 *       {.name = "vs", .type = OPT_STRING, .choices = "baseline champion", .help = "..."},
 *       {.name = "min_delta", .type = OPT_NUMBER, .help = "absolute improvement"},
 *       {.name = "min_ratio", .type = OPT_NUMBER, .range = "(0,)", .help = "relative"},
 *       {.name = NULL},
 *   };
 *   static const step_rule rule_rules[] = {
 *       {.kind = RULE_ANY_OF, .names = "min max vs"},
 *       {.kind = RULE_EXCLUSIVE, .names = "min_delta min_ratio"},
 *       {.kind = RULE_REQUIRES, .names = "vs", .when = "min_delta"},
 *       {.kind = RULE_REQUIRES, .names = "vs", .when = "min_ratio"},
 *       {.kind = RULE_END},
 *   };
 *   static const step_opt rule = {.type = OPT_MAP, .fields = rule_fields,
 *                                 .rules = rule_rules, .help = "a rule"};
 *   static const step_opt opts[] = {
 *       {.name = "target", .type = OPT_STRING, .required = true, .len = "[1,)",
 *        .help = "the column to predict"},
 *       {.name = "objective", .type = OPT_STRING,
 *        .choices = "regression binary multiclass", .help = "inferred when left out"},
 *       {.name = "learning_rate", .type = OPT_NUMBER, .def = "0.3", .range = "(0,)",
 *        .help = "shrinkage of each tree"},
 *       {.name = "subsample", .type = OPT_NUMBER, .def = "1", .range = "(0, 1]",
 *        .help = "share of rows each tree sees"},
 *       {.name = "rounds", .type = OPT_INT, .def = "100", .range = "[1, 100000]",
 *        .help = "trees"},
 *       {.name = "cost", .type = OPT_ANY, .alts = cost_shapes, .help = "..."},
 *       {.name = "rules", .type = OPT_LIST, .len = "[1,)", .item = &rule, .help = "..."},
 *       {.name = NULL},
 *   };
 *   static const step_rule rules[] = {   // among the top-level options
 *       {.kind = RULE_FORBIDS, .names = "subsample", .when = "objective=multiclass",
 *        .why = "an example of a value-dependent rule"},
 *       {.kind = RULE_END},
 *   };
 *   const step_def step_train_gbdt = {.name = "train.gbdt", .version = 1,
 *       .summary = "...", .opts = opts, .rules = rules, ...};
 *
 * `learning_rate: 0` is then "FILE:LINE:COL: option 'learning_rate' of
 * train.gbdt must be above 0, not 0", `objective: multi` suggests
 * multiclass, `rules[1].min_delta` without `vs` is named at its key, and
 * `sluice steps train.gbdt` lists every constraint. A search space (tune's
 * `search`) is an OPT_MAP whose .item is a mapping with fields values, low,
 * high, log, int and the rules ONE_OF "values low", REQUIRES high when low.
 * tests/unit/test_opts.c checks a table of this shape.
 */
#ifndef SLUICE_STEP_H
#define SLUICE_STEP_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "core.h"
#include "dataset/dataset.h"

typedef enum step_opt_type {
	OPT_STRING,
	OPT_INT,
	OPT_NUMBER,
	OPT_BOOL,
	OPT_LIST,   /* a YAML sequence */
	OPT_MAP,    /* a YAML mapping */
	OPT_ANY,
	OPT_PATH,   /* a string naming files (a glob is allowed); their contents
		     * are hashed into the cache key, so editing the file reruns
		     * the step. Relative to the pipeline file's directory. */
	OPT_STRING_LIST, /* a string or a list of strings */
	OPT_SCALAR, /* one value: a string, number or boolean (a label) */
	OPT_EXPR    /* a string holding an expression (docs/steps/wrangle.md);
		     * its syntax is checked when the file is read */
} step_opt_type;

typedef struct step_opt step_opt;
typedef struct step_rule step_rule;
typedef struct step_variant step_variant;

/*
 * One option of a step's `with:` (or, nested, one key of a mapping inside
 * it, or the shape of a list's items). Every constraint is checked when
 * the pipeline file is read, so a mistake is "FILE:LINE:COL: ..." at the
 * offending node and nothing runs; run() can trust what it reads. Zero
 * fields mean "no constraint".
 *
 *   name      the key ("" or NULL for an item or alternative schema)
 *   type      what the value must be; strings are coerced as YAML would
 *             read them unquoted ("42" -> 42 for OPT_INT), and a number or
 *             boolean written where a string is wanted keeps its text
 *   required  it must be given (and not null)
 *   def       the default as YAML text ("0.5", "[a, b]"); filled into
 *             `with` at the top level, shown in `sluice steps` everywhere
 *   choices   OPT_STRING (or a list's items): the allowed values,
 *             space-separated; "a|b" makes b an alias of a. A miss says
 *             "did you mean ...?"
 *   range     OPT_INT / OPT_NUMBER: an interval, "[0, 1]", "(0, 1]",
 *             "(0,)" (above 0), "[1,)" (at least 1), "(,10]"
 *   len       the same interval for a string's length, a list's items or
 *             a mapping's entries: "[1,)" is "not empty", "[2, 3]"
 *   unique    lists: no item twice
 *   item      OPT_LIST (and OPT_STRING_LIST): each item's schema; OPT_MAP
 *             without fields: each value's schema (keys are free)
 *   fields    OPT_MAP: the keys it takes (terminated by name == NULL);
 *             others are errors with a suggestion
 *   rules     OPT_MAP with fields: constraints among them (step_rule)
 *   alts      the value may take several shapes: the first alternative
 *             whose type fits the value's kind checks it ("a matrix or
 *             {over, under}")
 *   tag, variants  OPT_MAP: a mapping whose key `tag` names its variant,
 *             each with its own fields (wrangle's `op:`); see step_variant
 *   columns_of  a top-level OPT_STRING or OPT_STRING_LIST that names
 *             columns of this dataset input (split's `by` of "data"): once
 *             the input exists, before the step runs, the scheduler checks
 *             each name against its columns (step_columns_check), so a
 *             typo fails at FILE:LINE:COL with "did you mean" and nothing
 *             is started. Mark only options whose every name the step
 *             requires to be there: the check must refuse nothing that
 *             the step accepts
 */
struct step_opt {
	const char *name;
	step_opt_type type;
	bool required;
	const char *def;
	const char *help; /* one line, shown by `sluice steps` and the docs */
	const char *choices;
	const char *range;
	const char *len;
	bool unique;
	const step_opt *item;
	const step_opt *fields;
	const step_rule *rules;
	const step_opt *alts; /* each alternative's help names its shape in messages
			       * ("a cost matrix"); terminated by help == NULL */
	const char *tag;
	const step_variant *variants; /* terminated by name == NULL */
	const char *columns_of;
};

/*
 * Constraints among the options of one mapping (the step's `with`, or a
 * nested one). names is a space-separated list. "Given" means written in
 * the file and not null; a `when` condition sees defaults too.
 *
 *   RULE_ONE_OF     exactly one of names is given
 *   RULE_ANY_OF     at least one of names is given
 *   RULE_EXCLUSIVE  at most one of names is given
 *   RULE_REQUIRES   when `when` holds, every one of names is given
 *   RULE_FORBIDS    when `when` holds, none of names is given
 *
 * when: "NAME" (given) or "NAME=V1|V2" (its value, or default, is one of).
 * why, optional, is added to the message.
 */
typedef enum step_rule_kind {
	RULE_END = 0,
	RULE_ONE_OF,
	RULE_ANY_OF,
	RULE_EXCLUSIVE,
	RULE_REQUIRES,
	RULE_FORBIDS
} step_rule_kind;

struct step_rule {
	step_rule_kind kind; /* RULE_END terminates a list */
	const char *names;
	const char *when;
	const char *why;
};

/*
 * One variant of a tagged mapping: {TAG: NAME, ...fields}. With shorthand
 * set, the one-key mapping {NAME: V} stands for {TAG: NAME, shorthand: V}
 * (wrangle's {filter: "x > 0"}).
 */
struct step_variant {
	const char *name; /* "normalise|normalize|scale": the first is the name, others aliases */
	const char *shorthand;
	const step_opt *fields;
	const step_rule *rules;
	const char *help;
};

/*
 * The column types a step option may name (ds_type_parse's names; the
 * first of each group is the canonical one, the others its aliases).
 */
#define STEP_DS_TYPES \
	"int|int64|integer float|float64|double|number bool|boolean string|str|text " \
	"timestamp|datetime"

typedef struct step_port {
	const char *name;
	const char *type;  /* artifact type: dataset, schema, profile, transform, report, model, file */
	bool optional;
	const char *help;
} step_port;

typedef struct step_ctx step_ctx;

/*
 * One connected input of a step as step_columns_check sees it: a dataset's
 * columns, read from its file's header before the step runs, or known =
 * false (not a dataset, or its header could not be read: the step itself
 * then says what is wrong with it).
 */
typedef struct step_columns {
	const char *input;          /* the input's name */
	bool known;
	const char *const *names;   /* n column names and their types */
	const ds_type *types;
	size_t n;
} step_columns;

/*
 * A problem with a step's options: where it is, as a path inside `with`
 * ("ops[3].columns", "" for the block itself; see yamltree.h for the syntax),
 * and what it is. The parser turns the path into FILE:LINE:COL.
 */
typedef struct step_problem {
	char path[256];
	bool at_key;   /* point at the key (an unknown or unwanted option), not its value */
	int inner;     /* > 0: the character inside the value's text (1-based), for
			* expressions */
	char msg[768];
} step_problem;

/* What a `check` hook sees. */
typedef struct step_check {
	const struct step_def *def;
	const json_t *with;         /* checked against the schema, defaults filled in */
	const char *const *inputs;  /* the names of the inputs the pipeline connects */
	size_t n_inputs;
	step_problem *problem;      /* where step_check_fail writes */
} step_check;

typedef struct step_def {
	const char *name;
	int version;
	const char *summary;
	const step_opt *opts;     /* terminated by an entry with name == NULL */
	const step_rule *rules;   /* constraints among opts, or NULL */
	const step_port *inputs;  /* terminated likewise */
	const step_port *outputs; /* terminated likewise */
	int (*run)(step_ctx *ctx);
	/*
	 * Optional, for what the schema cannot say (the options against the
	 * inputs that are connected, a value's inner structure). Called by the
	 * parser after the schema checks pass, so a mistake is a FILE:LINE:COL
	 * error and nothing runs. Returns 0, or step_check_fail(c, PATH, ...)
	 * naming the offending value by its path inside `with`.
	 */
	int (*check)(const step_check *c);
	/*
	 * Optional. False when the step's output can change although its
	 * definition, inputs and files did not (a query against a live server):
	 * the scheduler then always runs it. Its output is still content-
	 * addressed, so unchanged results keep everything downstream cached.
	 */
	bool (*cacheable)(const json_t *with);
	/*
	 * Optional, for options that name columns in ways a columns_of mark
	 * cannot say (wrangle's ops, whose columns change op by op). Called
	 * by the scheduler with the columns of the step's inputs (every
	 * connected one, in any order) before the step runs, after the
	 * columns_of checks passed. Returns 0, or SL_EINVAL whose message
	 * starts with the value's path ("with.ops[2].columns: unknown column
	 * 'x'; did you mean 'y'?"), which the scheduler places in the file.
	 * Like columns_of, it must refuse nothing the step's run accepts.
	 */
	int (*precheck)(const json_t *with, const step_columns *in, size_t n);
} step_def;

/* Records a problem at path (printf-formatted message); returns SL_EINVAL. */
int step_check_fail(const step_check *c, const char *path, const char *fmt, ...) SL__PRINTF(3, 4);
#define step_check_fail(...) SL__ERR_CODE(step_check_fail(__VA_ARGS__))
/* True when the pipeline connects input `name` of the step. */
bool step_check_has_input(const step_check *c, const char *name);

/*
 * Checks `with` (an object; coerced in place, top-level defaults filled
 * in, nulls at the top level removed) against def's schema and rules, then
 * def->check. src, when not NULL, gives the literal text of plain scalars
 * by path (yamltree.h), so `version: 1.10` stays "1.10" for a string option.
 * inputs are the connected input names. Returns 0, SL_EINVAL with *pb
 * filled in, or SL_ENOMEM.
 */
struct sl__ypmap;
int step_opts_check(const step_def *def, json_t *with, const struct sl__ypmap *src,
		    const char *const *inputs, size_t n_inputs, step_problem *pb);

/*
 * The schema of one step (name, version, summary, options with their
 * constraints, rules, inputs, outputs) as JSON, for `sluice steps`. *out is
 * owned by the caller.
 */
int step_def_json(const step_def *def, json_t **out);
/*
 * Checks a step's tables themselves (the registry test runs it on every
 * built-in): intervals and choices parse, rules name real options and
 * choices, variants have unique names, nested schemas make sense, and
 * every default passes its option's own checks. Returns 0, or SL_EINVAL
 * with what is wrong in msg.
 */
int step_def_lint(const step_def *d, char *msg, size_t size);
/* One option's constraints in words ("one of a, b or c; in (0, 1]"), into b. */
int step_opt_describe(const step_opt *o, sl__buf *b);

/*
 * True when def has options naming columns of its inputs (columns_of, or a
 * precheck hook): the scheduler reads its inputs' headers only then, so
 * other steps cost nothing.
 */
bool step_names_columns(const step_def *def);
/*
 * Checks with (the step's resolved options) against the columns of its
 * inputs before it runs: each name of an option marked columns_of must be
 * a column of that input (inputs not in `in`, or not known, are not
 * checked), then def->precheck. Returns 0, or SL_EINVAL with a message
 * starting with the path inside `with` ("with.by: unknown column 'amout';
 * did you mean 'amount'?"), or SL_ENOMEM.
 */
int step_columns_check(const step_def *def, const json_t *with, const step_columns *in,
		       size_t n);

/* The registry of built-in steps. */
const step_def *step_find(const char *name);
/* All built-in steps, sorted by name; *out_n receives the count. */
const step_def *const *step_all(size_t *out_n);
const step_opt *step_find_opt(const step_def *def, const char *name);

/*
 * What run() receives. Owned by the orchestrator; valid during run().
 */
struct step_ctx {
	const step_def *def;
	const char *step_name;   /* the step's name in the pipeline */
	/* Where the run comes from, for lineage (package records it in the
	 * bundle); NULL when a step runs outside a pipeline (tests). */
	const char *run_id;
	const char *pipeline_name;
	const char *pipeline_sha256; /* of the pipeline file's text, hex */
	const char *pipeline_dir; /* absolute directory of the pipeline file */
	const char *workdir;      /* scratch directory private to this step run */
	json_t *with;             /* resolved options with defaults filled in (an object) */

	size_t n_inputs;
	const char *const *input_names;
	const char *const *input_paths; /* artifact files, read-only */
	const char *const *input_ids;   /* their artifact ids, or NULL (tests) */

	size_t n_outputs;
	const char *const *output_names;
	const char *const *output_paths; /* where run() must write each output */

	json_t *metrics;   /* name -> number or [numbers]; written out by the orchestrator */
	json_t *out_meta;  /* output name -> small JSON object stored with the artifact */
	json_t *store_ops; /* store ops asked for (step_store_op), an array */
	FILE *log;         /* the step's log (also its stderr) */
	/* Set by step_metric, step_metric_series, step_store_op and
	 * step_output_meta when a value could not be recorded (out of
	 * memory): step_call then fails the run, so a step never succeeds
	 * with part of its record silently missing. */
	int lost;
};

/*
 * Runs fn (a built-in step's run, or a plugin's function) on ctx, which the
 * caller has zeroed and filled. Returns fn's code, or SL_ENOMEM when fn
 * succeeded but something it recorded was lost (ctx->lost).
 */
int step_call(step_ctx *ctx, int (*fn)(step_ctx *ctx));

/* Path of input NAME, or NULL when the step has no such (optional) input. */
const char *step_input(const step_ctx *ctx, const char *name);
/* The artifact id of input NAME, or NULL when it is not connected or not known. */
const char *step_input_id(const step_ctx *ctx, const char *name);
/* Path where output NAME must be written; NULL if the step declares none. */
const char *step_output(const step_ctx *ctx, const char *name);
/* A path option resolved against the pipeline directory (newly allocated). */
char *step_resolve_path(const step_ctx *ctx, const char *path);
/*
 * The canvas of a step with a `canvas` path option: the file it names, else
 * the project's canvas.yaml (canvas_find); *out is NULL when there is none
 * (canvas_free it). The canvas module has checked every field, at
 * FILE:LINE:COL; on failure the step has failed with its message. A canvas
 * found by walking up is outside the step's cache key: such a step is
 * cacheable only when its options name the file.
 */
struct canvas;
int step_canvas_load(step_ctx *ctx, struct canvas **out);

/* Option accessors: the value of `with.NAME` (defaults already filled in). */
const char *step_opt_str(const step_ctx *ctx, const char *name);   /* NULL if absent */
int64_t step_opt_int(const step_ctx *ctx, const char *name, int64_t def);
double step_opt_num(const step_ctx *ctx, const char *name, double def);
bool step_opt_bool(const step_ctx *ctx, const char *name, bool def);
json_t *step_opt_json(const step_ctx *ctx, const char *name);       /* borrowed, or NULL */
/*
 * A string or list-of-strings option (OPT_STRING_LIST) as an array of
 * borrowed strings (*out NULL and *out_n 0 when absent). *out is the
 * caller's to free with sl__free, also when this fails (the step has then
 * failed, naming the entry that is not a string).
 */
int step_opt_strings(step_ctx *ctx, const char *name, const char ***out, size_t *out_n);

/*
 * Records a numeric metric of this step run (shown by `sluice runs show`).
 * Out of memory is not returned but remembered: see step_call.
 */
void step_metric(step_ctx *ctx, const char *name, double value);
/*
 * Records a metric with a history: values[k] is its value at step k (a
 * boosting round, an epoch), kept as MLflow keeps a metric's history; the
 * metric itself is the last value. n == 0 records nothing. Non-finite
 * values are kept as gaps (null).
 */
void step_metric_series(step_ctx *ctx, const char *name, const double *values, size_t n);
/*
 * Asks for a change to the metadata store, applied in the same transaction
 * as this step run's completion, and only if it completes (store_ops.c lists
 * the ops and their fields). Steals op, a JSON object such as
 *   {"op": "tag", "on": "output.model", "key": "stage", "value": "candidate"}
 * A malformed op fails the step when its completion is recorded.
 */
void step_store_op(step_ctx *ctx, json_t *op);
/*
 * Attaches a small JSON object to an output's artifact record (steals meta;
 * NULL, from a constructor that failed, is remembered as lost).
 */
void step_output_meta(step_ctx *ctx, const char *output, json_t *meta);
/*
 * A one-line summary the run's progress output shows beside the step when
 * it completes ("3 bad rows skipped"), for what a user must not miss in a
 * green run. The last call wins; a note that cannot be written is lost
 * (it is advice, not a result).
 */
void step_note(step_ctx *ctx, const char *fmt, ...) SL__PRINTF(2, 3);
/* Writes a line to the step's log. */
void step_log(step_ctx *ctx, const char *fmt, ...) SL__PRINTF(2, 3);
/*
 * Sets the step's failure message (also written to the log) and returns code
 * (default SL_ESTEP), for `return step_fail(ctx, SL_EPARSE, "...")`. The
 * code says why the step failed, as `sluice runs show` reports it:
 *   SL_EGATE              reason gate: a check of the data or model failed
 *                         (the run exits 1 with the message)
 *   SL_EINPUT, SL_ENOENT  reason input: a file the step was told to read is
 *                         missing or unusable (the run exits 2, as for bad usage)
 *   anything else         reason error: the work failed (exit 1)
 */
int step_fail(step_ctx *ctx, int code, const char *fmt, ...) SL__PRINTF(3, 4);
/* step_fail never returns 0: see SL__ERR_CODE. */
#define step_fail(...) SL__ERR_CODE(step_fail(__VA_ARGS__))
/* step_fail for an allocation that failed: sl__oom()'s message, SL_ENOMEM. */
int step_oom(step_ctx *ctx);
#define step_oom(ctx) SL__ERR_CODE(step_oom(ctx))

#endif
