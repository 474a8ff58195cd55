/*
 * One answered request of a monitoring window, decoded from its log line
 * into flat arrays (the inputs as JSON scalars in the schema's column
 * order, the outputs as doubles) rather than a jansson tree. Prefix lrec_.
 *
 * A window of a thousand requests for a 57-input model was 60,000 jansson
 * values to allocate, then walk, then free, on every pass (a pass every
 * few seconds for the server's drift gauges and the monitoring loop). The
 * writer's records have one fixed shape (codec.c's serve_log_record: rows
 * as arrays in the order of the segment's schema record), which the pull
 * scanner reads with one allocation per record.
 *
 *   log line + schema record --lrec_decode--> lrec: id, time, latency, rows,
 *                                             in[rows x n_in], out[rows x n_out]
 *           anything else (an escape in a string, another key, a row
 *           that does not fit, a number jansson would refuse or an old
 *           record with columns) --> lrec with json: the record as jansson
 *           reads and ilog_expand_with expands it
 *
 * Invariants:
 *  1. What a decoded record holds is what the jansson record says: the same
 *     values (an integer's text is an LREC_INT as jansson's json_integer,
 *     any other number the double jansson's strtod gives; an output that is
 *     no number is NaN, as the window reads it), and a line the jansson
 *     path skips (it does not parse, or does not fit its schema) is skipped
 *     (lrec_decode then gives NULL). Everything not of the writer's shape
 *     takes the jansson path, so the two can only differ in cost.
 *  2. A record is immutable once made and counted (lrec_ref/lrec_unref,
 *     atomic): a window carried over to the next pass is shared with the
 *     pass that made it, possibly on another thread.
 *  3. One allocation per decoded record: the struct, its cells, its
 *     outputs and the bytes of its strings.
 */
#ifndef SLUICE_MONITOR_LOGREC_H
#define SLUICE_MONITOR_LOGREC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum lrec_kind { LREC_NULL, LREC_TRUE, LREC_FALSE, LREC_INT, LREC_REAL, LREC_STR } lrec_kind;

/* One input value: a JSON scalar. */
typedef struct lrec_val {
	uint8_t kind;  /* lrec_kind */
	uint32_t len;  /* LREC_STR: its length (no escapes: invariant 1) */
	union {
		int64_t i;
		double f;
		const char *s; /* not NUL-terminated */
	} u;
} lrec_val;

typedef struct lrec {
	atomic_int refs;
	json_t *json;        /* the jansson path's record (expanded), or NULL when decoded */
	json_t *schema;      /* decoded: its schema record (a reference), names in order */
	const char *id;      /* NUL-terminated, or NULL */
	int64_t t_ms;        /* its time, -1 when it has none that reads */
	int64_t latency_us;  /* decoded only (json: read from it) */
	size_t rows, n_in, n_out; /* decoded only */
	const lrec_val *in;  /* rows x n_in */
	const double *out;   /* rows x n_out, NaN where no number */
} lrec;

/* What a decoder reuses from one line to the next (one per reading thread). */
typedef struct lrec_scratch {
	lrec_val *v;
	size_t cap_v;
	double *o;
	size_t cap_o;
	json_t *schema;      /* the last schema checked (a reference) */
	bool schema_ok;      /* ... distinct string names for inputs and outputs */
	size_t n_in, n_out;
} lrec_scratch;

void lrec_scratch_free(lrec_scratch *sc);

/*
 * The answered request on line (len bytes) whose rows follow schema (the
 * segment's schema record of its model@version, borrowed): *out is a new
 * record (one reference), or NULL when the jansson path would skip the
 * line. fast false takes the jansson path for every line (for the tests
 * that compare both). 0 or SL_ENOMEM.
 */
int lrec_decode(const char *line, size_t len, json_t *schema, lrec_scratch *sc, bool fast,
		lrec **out);
/* A record of the jansson path from rec (expanded; the reference is taken), or NULL when out of memory. */
lrec *lrec_from_json(json_t *rec);

/* The time of a record's "time" field in ms, -1 when it has none that reads. */
int64_t lrec_json_ms(const json_t *rec);

static inline lrec *lrec_ref(lrec *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}
void lrec_unref(lrec *r);

#endif
