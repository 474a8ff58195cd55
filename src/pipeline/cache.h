/*
 * Step cache keys.
 *
 *   key = SHA-256( "sluice-cache-v1"
 *                  canonical JSON of the step's resolved definition
 *                  built-in name@version | "run" | plugin library contents
 *                  each input, by name: NAME=ARTIFACT-ID
 *                  each file named by a path option or deps:, by path: PATH=SHA-256 )
 *
 * so a hit means: same definition, same code, same inputs, same files read.
 * Input and file hashes are content hashes, so touching a file without
 * changing it keeps the cache, and two steps fed identical data share it.
 */
#ifndef SLUICE_CACHE_H
#define SLUICE_CACHE_H

#include "pipeline/spec.h"

int cache_key(const spec *sp, size_t step, const char *const *in_names,
	      const char *const *in_ids, size_t n_in, char out[SL__HASH_HEX_SIZE]);

#endif
