/*
 * The tune step's report (steps/tune.c writes it; docs/steps/tune.md has
 * its shape) as one HTML page (tune_html.c). Prefix ml_tune_.
 */
#ifndef SLUICE_ML_TUNE_HTML_H
#define SLUICE_ML_TUNE_HTML_H

#include <stdbool.h>

#include <jansson.h>

#include "core.h"

#define ML_TUNE_REPORT_KIND "sluice.tune_report"

/* True when j is a tune report (its "kind"). */
bool ml_tune_report_is(const json_t *j);
/* The page; *out is the caller's (sl__free). */
int ml_tune_report_html(const json_t *rep, char **out);

#endif
