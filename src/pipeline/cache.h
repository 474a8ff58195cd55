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

/* The files a key hashed (path options' files, deps:), relative to the pipeline. */
typedef struct cache_file {
	char *path;
	char sha256[SL__HASH_HEX_SIZE];
} cache_file;

typedef struct cache_files {
	cache_file *v;
	size_t n, cap;
} cache_files;

/*
 * cache_key, also listing in *files (when not NULL; appended to, freed with
 * cache_files_free) every file it hashed: the step's sources, which the
 * scheduler records as the roots of lineage.
 */
int cache_key_files(const spec *sp, size_t step, const char *const *in_names,
		    const char *const *in_ids, size_t n_in, cache_files *files,
		    char out[SL__HASH_HEX_SIZE]);
void cache_files_free(cache_files *files);

#endif
