/*
 * The content-addressed artifact store: immutable files named by the SHA-256
 * of their contents, under ROOT/ab/cdef... (the first two hex digits fan the
 * files out over 256 directories, as git does).
 *
 * Invariants:
 *  1. A file at ROOT/xx/yyyy... always has contents hashing to xxyyyy...: it
 *     is hashed, then renamed into place, and made durable (fsync of the
 *     file, then of its directory) before the put returns -- or, for
 *     art_put_file_deferred, by a later art_sync. A power failure before
 *     that sync may leave such a file short; invariant 3 catches it.
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
/*
 * art_put_file without waiting for the disk: the file is in place when this
 * returns, durable once art_sync(ids) has returned. The scheduler puts each
 * step's outputs this way and syncs them all when the run ends, so a chain
 * of steps does not wait for two fsyncs per step.
 */
int art_put_file_deferred(const char *root, const char *src, char out_id[SL__HASH_HEX_SIZE],
			  uint64_t *out_size);
/* Makes the given artifacts durable: each file, then each directory once. */
int art_sync(const char *root, const char *const *ids, size_t n);
/* Stores a buffer. */
int art_put_buf(const char *root, const void *data, size_t len, char out_id[SL__HASH_HEX_SIZE]);
/* A newly allocated path of the artifact's file (whether it exists or not). */
char *art_path(const char *root, const char *id);
bool art_exists(const char *root, const char *id);
/* Rehashes the file: 0, SL_ENOENT (missing) or SL_ECORRUPT (mismatch). */
int art_verify(const char *root, const char *id);

#endif
