/*
 * Project templates (`sluice init --template NAME`): whole projects built
 * into the library. Prefix api_tmpl_.
 *
 *   blank      canvas.yaml with the ten blocks, commented, to fill in
 *              (what a plain `sluice init` writes)
 *   spam       examples/spam: spam detection on UCI Spambase
 *   forecast   examples/sales: monthly sales forecasting
 *
 * The files are taken from the repository at build time (CMakeLists.txt
 * lists them; cmake/embed.c compresses them into api_tmpl_files), so the
 * templates are the examples byte for byte and the binary needs no
 * repository at run time.
 */
#ifndef SLUICE_API_TEMPLATES_H
#define SLUICE_API_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct api_tmpl_file {
	const char *tmpl;           /* the template's name */
	const char *path;           /* where it goes in the project, relative */
	size_t size;                /* its size */
	size_t stored;              /* bytes of data: one zstd frame */
	const unsigned char *data;
} api_tmpl_file;

/* Generated at build time: every template's files, template by template. */
extern const api_tmpl_file api_tmpl_files[];
extern const size_t api_tmpl_n_files;

/*
 * Writes template name's files into root (made if missing). With keep, a
 * file that exists is left as it is; without, any existing file is an
 * error (SL_EEXIST, naming it) and nothing is written. The paths written
 * are appended to written (may be NULL). SL_EINVAL for an unknown name,
 * with a suggestion.
 */
int api_tmpl_write(const char *root, const char *name, bool keep, json_t *written);

/* One template file's contents, decompressed (*out: sl__free; NUL-terminated). */
int api_tmpl_read(const api_tmpl_file *f, char **out);

#endif
