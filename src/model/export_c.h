/*
 * Export of a model to one dependency-free C99 file (export_c.c has the
 * file's shape and the contract of model_predict). Prefix export_.
 */
#ifndef SLUICE_MODEL_EXPORT_C_H
#define SLUICE_MODEL_EXPORT_C_H

#include "model/bundle.h"

/*
 * The C file of bundle b (source names it in the file's comment) as a new
 * string (*out_text, freed with sl__free). SL_EUNSUP naming what has no C
 * form: a family without an exporter, a transform operation that needs
 * the text of a string or other rows (lag, rolling).
 */
int export_c(const bundle *b, const char *source, char **out_text);
/*
 * The same from a bundle or model file to out_path (written atomically).
 * source is what the user named it by (NAME@REF and its version), NULL
 * for the file's name; the comment adds the file's artifact id.
 */
int export_c_file(const char *model_path, const char *source, const char *out_path);

#endif
