/*
 * The inference log read back: filtered records (`sluice logs query`) and
 * the log as a dataset, one row per scored input row joined with feedback
 * labels (`sluice logs export`, the `ingest.log` step). Prefix serve_.
 *
 * Table columns, in order:
 *   request_id, time, version, row   which request and which of its rows
 *   endpoint, latency_us             (export only)
 *   the model's raw inputs           as the request sent them
 *   every output (export), or prediction (the label for classifiers, the
 *   first output otherwise)
 *   label                            the feedback label, null without one
 *                                    (export: only when some row has one)
 * Only answered requests (status 200) have rows; types are inferred as the
 * JSON Lines reader infers them.
 */
#ifndef SLUICE_SERVE_LOGTABLE_H
#define SLUICE_SERVE_LOGTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "dataset/dataset.h"
#include "serve/codec.h"
#include "sluice/serve.h"

typedef struct serve_logq {
	const char *model, *version, *id, *endpoint;
	int64_t since_ms, until_ms; /* 0: unbounded */
	int status_kind;            /* 0 any, 1 exactly status, 2 the class status (4 for 4xx), 3 not 2xx */
	int status;
	size_t limit;               /* query: the newest `limit` (0: all) */
} serve_logq;

/* Checks and converts the public filter (times, status); opt prefixes option names in messages ("--", "with."). */
int serve_logq_from(const sl_logs_filter *f, const char *opt, serve_logq *q);
bool serve_logq_match(const serve_logq *q, json_t *rec);

/* The matching records, oldest first, as a JSON array (a new reference). */
int serve_logs_query(const char *dir, const serve_logq *q, json_t **out);

typedef enum serve_table_kind { SERVE_TABLE_EXPORT, SERVE_TABLE_TRAIN } serve_table_kind;

/*
 * The table of q->model's answered requests (see above) in a new builder.
 * labeled_only keeps rows that have a feedback label. SL_ENOENT when no
 * row matches.
 */
int serve_log_table(const char *dir, const serve_logq *q, serve_table_kind kind,
		    bool labeled_only, ds_builder **out, size_t *out_rows);

#endif
