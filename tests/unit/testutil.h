/*
 * Helpers shared by unit tests: a fresh temporary directory per test and
 * small file utilities. Each test binary is its own process (ctest), so a
 * crash in one cannot hide failures in another.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

/* Creates a new empty directory under $TMPDIR (or /tmp); returns a static path. */
const char *tu_tmpdir(void);
/*
 * The same on tmpfs when the machine has one (/dev/shm): for loops that
 * write and fsync files thousands of times (fault injection), where a
 * loaded disk makes each fsync cost milliseconds. Same removal.
 */
const char *tu_fast_tmpdir(void);
/* Removes the directory made by tu_tmpdir (call in teardown). */
void tu_rmdir(const char *dir);
/* Writes a file (creating it) with the given contents; asserts success. */
void tu_write(const char *path, const char *contents);
/* A newly allocated (malloc) "dir/name". */
char *tu_path(const char *dir, const char *name);
/* The whole file at path (malloc'd, freed by the caller); *len its size. Asserts. */
unsigned char *tu_read(const char *path, size_t *len);

/*
 * The metadata store a test opens. By default "sqlite:DIR/meta.db". In the
 * suite's PostgreSQL variants (ctest names them unit/NAME@postgresql) the
 * environment's SLUICE_TEST_PG_URL_FILE names a file holding the URL of the
 * server the fixture started (tests/pg_fixture.sh); each call then creates
 * a fresh database on it, from the fixture's template (a non-C collation,
 * so tests see byte-wise ordering kept by the store, not by the server),
 * and returns its URL. Newly allocated (free); drop with tu_store_drop.
 */
char *tu_store_target(const char *dir);
/* Drops a database tu_store_target made (nothing for SQLite). */
void tu_store_drop(const char *target);
/* True in the PostgreSQL variant. */
bool tu_store_pg(void);

/* What one in-process run of a built-in step left behind. */
typedef struct tu_run {
	json_t *metrics; /* owned; replaced by each run */
	json_t *meta;    /* per-output artifact metadata; owned */
	char log[16384]; /* the step's log, truncated to fit */
	/* Lineage the orchestrator would give the step (NULL: none). */
	const char *run_id;
	const char *pipeline_sha256;
	const char *const *in_ids;
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

/*
 * For tests with their own step harness: runs ctx->def->run through
 * step_call as the orchestrator does, inside the injection window that
 * tu_oom_begin_step armed (if any).
 */
struct step_ctx;
int tu_step_call(struct step_ctx *ctx);

/*
 * Fault injection, the SQLite way: a loop runs a call with its Nth
 * allocation failing for N = 0, 1, 2 ... until the call succeeds with no
 * failure injected.
 *
 *   tu_oom o = {0};
 *   for (long n = 0; !o.done && n < LIMIT; n++) {
 *           tu_oom_begin(&o, n);          (or tu_oom_begin_step)
 *           rc = call();
 *           tu_oom_end(&o, rc);
 *           ... the test's own checks of rc ...
 *   }
 *   tu_oom_check(&o, 5);
 *
 * tu_oom_begin fails allocations from now on (all of them from the Nth,
 * or with o.once set only the Nth: then a call that ignores the failure
 * succeeds, and the test must compare its result with a reference);
 * tu_oom_begin_step arms the
 * injection for the run() of the next step that tu_run_step starts, so the
 * test's own set-up and checks (JSON options, reading outputs) allocate
 * normally. tu_oom_end stops injecting and asserts that a failed call had
 * failures injected (else its error has another cause); a call may also
 * succeed despite them (a fallback absorbed the failure), and the test
 * must then check its result like any other. tu_oom_check
 * asserts that errors were injected at all and that the loop ended with a
 * success untouched by injection (TU_OOM_DEBUG=1 in the environment prints
 * its counts).
 */
typedef struct tu_oom {
	long runs;              /* calls made */
	long failed;            /* calls that returned an error */
	long absorbed;          /* calls that succeeded although failures were injected */
	unsigned long injected; /* allocations failed, over all calls */
	bool step;              /* armed for the next tu_run_step */
	bool done;              /* a call succeeded with nothing injected */
	bool once;              /* set by the test: fail only the Nth allocation */
} tu_oom;

void tu_oom_begin(tu_oom *o, long n);
void tu_oom_begin_step(tu_oom *o, long n);
/* Returns o->done. */
bool tu_oom_end(tu_oom *o, int rc);
void tu_oom_check(const tu_oom *o, long min_failed);

/*
 * A small customer table for the scoring, export and gate tests: id,
 * amount, visits, region, tier, plan, signup, vip, y (a number), label
 * (yes/no), kind (low/mid/high). scoring adds what training never saw: an
 * unseen region "west", a region "bad", nulls, a NaN, amounts of 1e6,
 * negative visits. Deterministic.
 */
struct ds_table;
struct ds_table *tu_customers(size_t n, bool scoring);

#endif
