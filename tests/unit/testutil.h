/*
 * Helpers shared by unit tests: a fresh temporary directory per test and
 * small file utilities. Each test binary is its own process (ctest), so a
 * crash in one cannot hide failures in another.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

/* Creates a new empty directory under $TMPDIR (or /tmp); returns a static path. */
const char *tu_tmpdir(void);
/* Removes the directory made by tu_tmpdir (call in teardown). */
void tu_rmdir(const char *dir);
/* Writes a file (creating it) with the given contents; asserts success. */
void tu_write(const char *path, const char *contents);
/* A newly allocated (malloc) "dir/name". */
char *tu_path(const char *dir, const char *name);

/* What one in-process run of a built-in step left behind. */
typedef struct tu_run {
	json_t *metrics; /* owned; replaced by each run */
	json_t *meta;    /* per-output artifact metadata; owned */
	char log[16384]; /* the step's log, truncated to fit */
} tu_run;

/*
 * Runs built-in step `name` in this process through a hand-made step_ctx,
 * as the orchestrator's child would: `with` first checked against the
 * step's schema as the parser checks it (coerced, defaults filled in; a
 * problem returns SL_EINVAL with "with.PATH: message"), the inputs and
 * outputs as paths, dir as the pipeline and work directory. Captures the step's log and metrics into r (zero it before the
 * first run). Returns run()'s code, with sl_errmsg() set on failure.
 */
int tu_run_step(tu_run *r, const char *name, const char *dir, json_t *with,
		const char *const *in_names, const char *const *in_paths, size_t n_in,
		const char *const *out_names, const char *const *out_paths, size_t n_out);
void tu_run_free(tu_run *r);

#endif
