/*
 * What live.c shares with its page (live_html.c), its tests and its
 * benchmark: the drift of one table against a reference profile, as the
 * report's "features" array. Prefix mon_.
 */
#ifndef SLUICE_MONITOR_LIVE_INT_H
#define SLUICE_MONITOR_LIVE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dataset/dataset.h"
#include "monitor/drift.h"
#include "monitor/live.h"
#include "monitor/profile.h"

/*
 * Drift of every column of ref that t has (only the columns named in only,
 * when n_only > 0), by drift.h's rule: *out (new) is the report's array of
 * {"name", "test", "statistic", "p_value", "threshold", "drift", "psi",
 * "psi_band", "n_ref", "n_cur", "mean_shift", "reason"?}; *out_tested
 * counts the columns a test decided, *out_drifted those that drifted.
 * Profiling t's columns is spread over the thread pool.
 */
int mon_drift_table(const profile *ref, const ds_table *t, const drift_opts *o,
		    const char *const *only, size_t n_only, json_t **out, size_t *out_tested,
		    size_t *out_drifted);

/*
 * Whether a logged version label v is a registry version number (into
 * *n), not the 12 hex digits of a bundle's digest that a server of a
 * bundle file logs (which may all be decimal digits).
 */
bool mon_registry_number(const char *v, int64_t *n);

/* One drift result as the report's JSON object (a new reference, NULL when out of memory). */
json_t *mon_drift_json(const drift_result *r);

/*
 * The window w of model (its newest w->requests answered requests, or
 * those of its time span; of w->version, or of the newest version when
 * NULL) that mon_report reads from the log in dir, for tests and the
 * benchmark: *out (new) is {"version", "ids": [oldest first], "labels":
 * {id: label} of those, "errors": failed requests since its first}.
 * forward reads the whole log oldest first instead of its tail: the
 * reference the tail must equal.
 */
int mon_window_read(const char *dir, const char *model, const mon_window *w, bool forward,
		    json_t **out);

/*
 * The same window's tables as mon_report builds them, for tests: the raw
 * table of columns names (types; n_in) and the outputs named (k), as *out
 * (new) {"version", "requests", "rows", "from", "to", "p50", "p99",
 * "labelled", "raw": {name: [values]}, "P": [n_rows x k], "labels": [per
 * row]}, doubles as exact hex strings ("%a": NaN and the sign of zero
 * kept).
 */
int mon_window_tables(const char *dir, const char *model, const mon_window *w, bool forward,
		      size_t n_in, const char *const *names, const ds_type *types, size_t k,
		      const char *const *outputs, json_t **out);

/*
 * For tests: true takes every window record through jansson instead of
 * the pull scanner (logrec.h), so that both can be compared. Not for use
 * while another thread evaluates a window.
 */
extern bool mon_decode_jansson;

#endif
