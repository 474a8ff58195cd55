/*
 * Runs side by side (sl_runs_compare's JSON) as one HTML page
 * (compare_html.c), in the style of the report pages (html.h). Prefix
 * ml_compare_.
 */
#ifndef SLUICE_ML_COMPARE_HTML_H
#define SLUICE_ML_COMPARE_HTML_H

#include <jansson.h>

#include "core.h"

/* The page; *out is the caller's (sl__free). */
int ml_compare_html(const json_t *cmp, char **out);

#endif
