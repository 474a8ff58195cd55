/*
 * What the ingest steps (ingest.csv, ingest.jsonl, ingest.sql) share: the
 * `types`, `on_error` and `max_bad_rows` options, the handling of bad rows,
 * and the metrics and artifact metadata they report, so the three behave
 * and read alike.
 *
 * Bad rows under skip or quarantine go through ingest_bad_row (the readers
 * call it for each): it counts them, keeps the first few for messages,
 * writes them to the rejects file under quarantine, and names their file
 * relative to the pipeline's folder, so that an artifact holds the same
 * bytes wherever the project lives. ingest_finish then fails the step when
 * more rows were bad than max_bad_rows allows (default 1%), naming the
 * first ones: a wrong `types:` override must not quietly drop most of a
 * file.
 */
#ifndef SLUICE_INGEST_COMMON_H
#define SLUICE_INGEST_COMMON_H

#include "dataset/dataset.h"
#include "steps/step.h"

/* The option arrays decoded into a ds_ingest_opts, owned here. */
typedef struct ingest_types {
	const char **cols;
	ds_type *types;
} ingest_types;

#define INGEST_FIRST_BAD 3

/* The bad-row side of an ingest: see the header comment. */
typedef struct ingest_bad {
	step_ctx *ctx;
	ds_rejects *rej;       /* the rejects file (quarantine), or NULL */
	ds_on_error mode;
	bool limit_is_fraction;
	double limit;          /* max_bad_rows: a count, or a fraction of the rows read */
	uint64_t n;            /* bad rows seen */
	char first[INGEST_FIRST_BAD][320]; /* "file:line:col: reason" of the first ones */
} ingest_bad;

/*
 * Decodes with.on_error, with.max_bad_rows and with.types (a map column ->
 * type name) into o and bad, whose other fields are left alone. The parser
 * has checked them (the schema below and ingest_check); only running out
 * of memory fails, through step_fail. Free t with ingest_types_free
 * whatever the result.
 */
int ingest_decode(step_ctx *ctx, ingest_types *t, ds_ingest_opts *o, ingest_bad *bad);
void ingest_types_free(ingest_types *t);

/*
 * Routes o's bad rows through bad (o->reject, o->reject_arg); rej is the
 * open rejects file, or NULL. Call after ingest_decode.
 */
void ingest_bad_attach(ingest_bad *bad, ds_ingest_opts *o, ds_rejects *rej);
/*
 * Fails the step with the reader's message (sl_errmsg()), its files named
 * relative to the pipeline's folder as the user wrote them. Returns rc.
 */
int ingest_fail_read(step_ctx *ctx, int rc);
/* A ds_reject_fn whose arg is an ingest_bad. */
int ingest_bad_row(void *arg, const char *file, uint64_t line, uint64_t col, const char *reason,
		   const char *raw, size_t raw_len);

/*
 * After a successful read: fails the step (SL_ESTEP) when the bad rows are
 * past max_bad_rows, naming the first ones; else logs them, records the
 * metrics every ingest step reports (rows, columns, rows_skipped,
 * rows_quarantined), the `data` output's metadata (rows, columns, and
 * source: where it was read from, which is metadata and not content), and
 * a progress note when rows were left out.
 */
int ingest_finish(ingest_bad *bad, const ds_ingest_stats *st, size_t ncol, const char *source);

/*
 * The schema of the options every ingest step shares: `types` (a map of
 * column -> type name), `on_error` and `max_bad_rows`. Spelled out as
 * macros so that each step's table lists its options in one place.
 */
extern const step_opt ingest_type_name;
#define INGEST_OPT_TYPES(what)                                                      \
	{.name = "types", .type = OPT_MAP, .item = &ingest_type_name,                \
	 .help = "per-" what " types overriding inference: {" what ": "             \
		 "int|float|bool|string|timestamp}"}
#define INGEST_OPT_ON_ERROR(what)                                                   \
	{.name = "on_error", .type = OPT_STRING, .def = "fail",                      \
	 .choices = "fail skip quarantine", .help = what ": fail | skip | quarantine"}
#define INGEST_OPT_MAX_BAD_ROWS(what)                                               \
	{.name = "max_bad_rows", .type = OPT_SCALAR, .def = "1%",                    \
	 .help = "skip and quarantine fail the step past this many bad " what         \
		 ": a count, a fraction or \"1%\""}

/*
 * What the schema cannot say of the shared options: max_bad_rows is a
 * count (100), a fraction (0.01) or a percentage ("1%"). For a step's
 * check hook; returns 0 or step_check_fail naming the option.
 */
int ingest_check(const step_check *c);

/* The outputs every ingest step declares, and its (empty) inputs. */
extern const step_port ingest_outputs[];
extern const step_port ingest_no_inputs[];

#endif
