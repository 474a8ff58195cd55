/*
 * The content-addressed artifact store: immutable files named by the SHA-256
 * of their contents, under ROOT/ab/cdef... (the first two hex digits fan the
 * files out over 256 directories, as git does).
 *
 * Invariants:
 *  1. A file at ROOT/xx/yyyy... always has contents hashing to xxyyyy...: it
 *     is written to a temp file, fsynced, then renamed into place.
 *  2. Putting contents that already exist writes nothing (deduplication).
 *  3. Readers that need integrity call art_verify, which rehashes; a
 *     mismatch is SL_ECORRUPT naming the artifact.
 */
#ifndef SLUICE_ARTIFACT_H
#define SLUICE_ARTIFACT_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

/*
 * Moves (rename when on the same filesystem, copy otherwise) the finished
 * file src into the store. Writes the id into out_id and the size into
 * *out_size. src no longer exists afterwards on success.
 */
int art_put_file(const char *root, const char *src, char out_id[SL__HASH_HEX_SIZE],
		 uint64_t *out_size);
/* Stores a buffer. */
int art_put_buf(const char *root, const void *data, size_t len, char out_id[SL__HASH_HEX_SIZE]);
/* A newly allocated path of the artifact's file (whether it exists or not). */
char *art_path(const char *root, const char *id);
bool art_exists(const char *root, const char *id);
/* Rehashes the file: 0, SL_ENOENT (missing) or SL_ECORRUPT (mismatch). */
int art_verify(const char *root, const char *id);

#endif
