/*
 * The `sluice` command: shared pieces of the verbs in src/cli/cmd_*.c. The
 * command uses only the public API (sluice.h).
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "sluice/sluice.h"

/* Exit statuses (DESIGN): success, a failure of the work, bad usage or input. */
enum { EXIT_OK = 0, EXIT_WORK = 1, EXIT_USAGE = 2 };

typedef struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *help; /* full text of `sluice help NAME` */
} cli_cmd;

extern const cli_cmd cmd_init, cmd_run, cmd_runs, cmd_artifacts, cmd_canvas, cmd_steps,
	cmd_predict, cmd_models, cmd_serve, cmd_ui, cmd_logs, cmd_monitor, cmd_store, cmd_users,
	cmd_audit, cmd_version, cmd_help;

const cli_cmd *cli_find(const char *name);
/* `sluice step-exec TASK.json`: runs one step's task (hidden; orchestrators call it). */
int cli_step_exec(int argc, char **argv);
/* "1 step", "2 steps": n and the noun, plural unless n is 1. */
const char *cli_plural(long long n, const char *one, const char *many, char *buf, size_t size);
const cli_cmd *const *cli_all(size_t *n);

/* Prints "sluice: MESSAGE" to stderr and returns the exit status for rc. */
int cli_fail(int rc, const char *msg);
/* The exit status a library error code maps to. */
int cli_exit_code(int rc);
/* Prints "sluice VERB: usage error MESSAGE; see sluice help VERB" and returns 2. */
int cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * After getopt_long returned '?': one line naming the bad option and what
 * is wrong with it ("sluice run: unknown option '--nocache' (did you mean
 * '--no-cache'?); see 'sluice help run'"). Returns 2.
 */
struct option;
int cli_bad_option(const char *verb, char **argv, const struct option *longopts,
		   const char *shortopts);
/* Prints the verb's help to stdout and returns 0. */
int cli_help_for(const cli_cmd *c);
/* Opens the project around the working directory, or prints why not. */
int cli_open(sl_project **out);
/* Parses JSON text from the library; NULL (and a message) if it is not JSON. */
json_t *cli_parse(const char *text);
/*
 * Takes a library call's JSON result: when rc is an error, prints it; with
 * json set, prints the text as is. Frees text. Returns the exit status the
 * verb should return, or -1 when the caller renders *out (the parsed text,
 * which it must json_decref).
 */
int cli_take(sl_project *p, int rc, char *text, bool json, json_t **out);
/* Prints JSON text followed by a newline. */
void cli_print_json(const char *text);
/* True when stdout / stderr is a terminal that understands escapes. */
bool cli_tty(FILE *f);
/* "1.23s", "45ms", "2m03s" */
const char *cli_duration(double seconds, char *buf, size_t size);
/* The first 12 characters of an id. */
const char *cli_short(const char *id);
/*
 * The file a model argument names (model_ref.c): a file path, an artifact
 * id of the project, or NAME@REF. *out_path is malloc'ed. Prints why not
 * and returns the exit status when it names nothing.
 */
/*
 * One line (prefix first, then a second after cont saying how to list
 * them) on what a model version
 * served, an entry of sl_model_served or a lineage's "served"; and a note
 * when the counts do not cover the whole log (cmd_artifacts.c).
 */
void cli_print_served(json_t *e, const char *prefix, const char *cont);
void cli_print_log_extent(json_t *log, const char *prefix);
int cli_model_ref(const char *ref, char **out_path);
/* The same, with the registry version NAME@REF named in *out_version (0 for a file or an id). */
int cli_model_ref_version(const char *ref, char **out_path, long long *out_version);
/*
 * Appends to the project's audit log what this command did (action, target)
 * and how it ended (rc, non-zero when the library refused or failed, its
 * message then on p; status, the exit status), with the command line as
 * typed as the request. The writer is the OS account. Returns status, or
 * EXIT_WORK (after a message) when the record cannot be written: a write
 * that is not in the audit log is a failure.
 */
int cli_audit(sl_project *p, const char *action, const char *target, int rc, int status);
/*
 * Checks that verb is one of a command's subcommands: EXIT_OK, or after
 * "unknown subcommand 'X' (did you mean 'Y'?)" EXIT_USAGE.
 */
int cli_subcommand(const char *cmd, const char *verb, const char *const *verbs, size_t n);
/* The string member k of o, or none when it is missing or not a string. */
const char *cli_jstr(json_t *o, const char *k, const char *none);
/* The common getopt option for --help in every verb. */
#define CLI_HELP_OPT {"help", no_argument, NULL, 'h'}

#endif
