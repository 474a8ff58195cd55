/*
 * What the ingest steps (ingest.csv, ingest.jsonl, ingest.sql) share: the
 * `types` and `on_error` options, and the metrics and artifact metadata they
 * report, so the three behave and read alike.
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

/*
 * Decodes with.on_error and with.types (a map column -> type name) into o,
 * whose other fields are left alone. Failures go through step_fail.
 * Free t with ingest_types_free whatever the result.
 */
int ingest_decode(step_ctx *ctx, ingest_types *t, ds_ingest_opts *o);
void ingest_types_free(ingest_types *t);

/*
 * Records the metrics every ingest step reports (rows, columns,
 * rows_skipped, rows_quarantined) and the `data` output's metadata.
 */
void ingest_report(step_ctx *ctx, const ds_ingest_stats *st, size_t ncol, ds_on_error mode);

/* The outputs every ingest step declares, and its (empty) inputs. */
extern const step_port ingest_outputs[];
extern const step_port ingest_no_inputs[];

#endif
