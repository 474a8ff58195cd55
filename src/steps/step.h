/*
 * The built-in step interface. A built-in step is a C function plus a
 * description of what it takes and gives:
 *
 *   name      "ingest.csv" (what `uses:` names)
 *   version   bumped whenever the step's output for the same input changes;
 *             it is part of the cache key, so old cache entries stop matching
 *   options   the `with:` schema: name, type, required, default, help. The spec
 *             parser rejects unknown and missing required options and values
 *             of the wrong type with FILE:LINE:COL before anything runs.
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
 */
#ifndef SLUICE_STEP_H
#define SLUICE_STEP_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "core.h"

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
	OPT_STRING_LIST /* a string or a list of strings */
} step_opt_type;

typedef struct step_opt {
	const char *name;
	step_opt_type type;
	bool required;
	const char *def;  /* default as YAML text ("0.5", "true", "[a, b]"), or NULL */
	const char *help; /* one line, shown by `sluice help steps` and the docs */
} step_opt;

typedef struct step_port {
	const char *name;
	const char *type;  /* artifact type: dataset, schema, profile, transform, report, model, file */
	bool optional;
	const char *help;
} step_port;

typedef struct step_ctx step_ctx;

typedef struct step_def {
	const char *name;
	int version;
	const char *summary;
	const step_opt *opts;     /* terminated by an entry with name == NULL */
	const step_port *inputs;  /* terminated likewise */
	const step_port *outputs; /* terminated likewise */
	int (*run)(step_ctx *ctx);
	/*
	 * Optional. Checks the resolved options together, for what one option's
	 * type cannot say ("exactly one of path and url"). Called by the parser,
	 * so a mistake is a FILE:LINE:COL error and nothing runs. Returns 0, or
	 * non-zero with a message in msg.
	 */
	int (*check)(const json_t *with, char *msg, size_t size);
	/*
	 * Optional. False when the step's output can change although its
	 * definition, inputs and files did not (a query against a live server):
	 * the scheduler then always runs it. Its output is still content-
	 * addressed, so unchanged results keep everything downstream cached.
	 */
	bool (*cacheable)(const json_t *with);
} step_def;

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
	const char *pipeline_dir; /* absolute directory of the pipeline file */
	const char *workdir;      /* scratch directory private to this step run */
	json_t *with;             /* resolved options with defaults filled in (an object) */

	size_t n_inputs;
	const char *const *input_names;
	const char *const *input_paths; /* artifact files, read-only */

	size_t n_outputs;
	const char *const *output_names;
	const char *const *output_paths; /* where run() must write each output */

	json_t *metrics;   /* name -> number; written out by the orchestrator */
	json_t *out_meta;  /* output name -> small JSON object stored with the artifact */
	FILE *log;         /* the step's log (also its stderr) */
};

/* Path of input NAME, or NULL when the step has no such (optional) input. */
const char *step_input(const step_ctx *ctx, const char *name);
/* Path where output NAME must be written; NULL if the step declares none. */
const char *step_output(const step_ctx *ctx, const char *name);
/* A path option resolved against the pipeline directory (newly allocated). */
char *step_resolve_path(const step_ctx *ctx, const char *path);

/* Option accessors: the value of `with.NAME` (defaults already filled in). */
const char *step_opt_str(const step_ctx *ctx, const char *name);   /* NULL if absent */
int64_t step_opt_int(const step_ctx *ctx, const char *name, int64_t def);
double step_opt_num(const step_ctx *ctx, const char *name, double def);
bool step_opt_bool(const step_ctx *ctx, const char *name, bool def);
json_t *step_opt_json(const step_ctx *ctx, const char *name);       /* borrowed, or NULL */

/* Records a numeric metric of this step run (shown by `sluice runs show`). */
void step_metric(step_ctx *ctx, const char *name, double value);
/* Attaches a small JSON object to an output's artifact record (steals meta). */
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
 * (default SL_ESTEP), for `return step_fail(ctx, SL_EPARSE, "...")`.
 */
int step_fail(step_ctx *ctx, int code, const char *fmt, ...) SL__PRINTF(3, 4);
/* step_fail never returns 0: see SL__ERR_CODE. */
#define step_fail(...) SL__ERR_CODE(step_fail(__VA_ARGS__))

#endif
