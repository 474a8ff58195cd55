/*
 * Writing a step as a C function in a shared library (`plugin:` steps).
 *
 *   steps:
 *     score:
 *       plugin: ./libmysteps.so:score_step
 *       inputs: { data: ingest.data }
 *       outputs: [scores]
 *       with: { threshold: 0.5 }
 *
 * sluice loads the library in the step's own process and calls
 *
 *   int score_step(sl_step_ctx *ctx);
 *
 * which returns 0 on success. Inputs are read-only files; each declared
 * output must be written to the path sl_step_output() gives. Build the
 * library with -fPIC -shared against this header; the sluice binary exports
 * these functions, so the library needs no link flags for them.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct step_ctx sl_step_ctx;
typedef int (*sl_plugin_fn)(sl_step_ctx *ctx);

/* Path of input name, or NULL. */
SL_EXPORT const char *sl_step_input(const sl_step_ctx *ctx, const char *name);
/* Path where output name must be written, or NULL when not declared. */
SL_EXPORT const char *sl_step_output(const sl_step_ctx *ctx, const char *name);
/* Option `with.NAME` as a string (strings as is, numbers and booleans
 * formatted), or NULL when absent. Valid during the call. */
SL_EXPORT const char *sl_step_option(const sl_step_ctx *ctx, const char *name);
/* Records a metric of this step run. */
SL_EXPORT void sl_step_metric(sl_step_ctx *ctx, const char *name, double value);
/*
 * Sets the failure message shown by `sluice runs show`; returns SL_ESTEP.
 * The code the step function returns says why it failed: SL_EGATE when a
 * check failed (reason gate), SL_EINPUT when a file it was told to read is
 * missing or unusable (reason input, the run exits 2), anything else an
 * error: `sl_step_fail(ctx, "auc 0.6 < 0.8"); return SL_EGATE;`
 */
SL_EXPORT int sl_step_fail(sl_step_ctx *ctx, const char *message);

#ifdef __cplusplus
}
#endif
#endif
