/*
 * What the inference log says a model version served: per model@version
 * the requests logged, by status class, the first and the last. Where a
 * model's lineage ends (`sluice artifacts lineage` on a bundle, `sluice
 * models show NAME@VERSION`). Prefix serve_.
 *
 * Only the head of each record is read (id, time, model, version,
 * endpoint, status: the writer's fixed order, codec.c), never its rows, so
 * a summary costs about as much as reading the log once. A log bigger than
 * the budget is read from its newest segment back as far as the budget
 * goes, and the summary says from when it counts ("since"): the counts are
 * then exactly those of the records from that time on.
 */
#ifndef SLUICE_SERVE_LOGSUM_H
#define SLUICE_SERVE_LOGSUM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A version to look for: model NULL matches any model's (a file served
 * under a name of its own, its version the file hash's first 12 digits). */
typedef struct serve_sumkey {
	const char *model;
	const char *version;
} serve_sumkey;

/* Bytes of log text a summary reads at most by default (ilog_budget): about
 * a third of a second on one core; some 500,000 one-row requests. */
#define SERVE_SUM_BUDGET ((uint64_t)128 << 20)

/*
 * Summarises the log in dir for keys (a key with a model is listed even
 * without requests; one without, once per model that served it). budget:
 * bytes of log text to read at most (0: SERVE_SUM_BUDGET; ilog_budget). *out (new
 * reference):
 *   {"served": [{"model", "version", "requests", "status": {"2xx": n, ...},
 *                "first", "last"}],
 *    "complete": bool, "since": ISO-8601 or null, "segments": n, "bytes": n}
 * "first"/"last" are null without requests; "status" counts only classes
 * that occur. A missing directory is an empty log.
 */
int serve_log_summary(const char *dir, uint64_t budget, const serve_sumkey *keys, size_t n,
		      json_t **out);

#endif
