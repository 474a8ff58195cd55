/*
 * The sectioned model file: one file holding a JSON manifest and named
 * binary sections, read with mmap and checked with SHA-256. Trained models
 * (`model` artifacts) and deployable bundles are both written in it; the
 * manifest's "kind" says which. Prefix mfile_.
 *
 *   offset  size  field
 *        0     8  magic "SLUICEMF"
 *        8     4  format version (u32, little-endian)
 *       12     4  number of sections n (u32)
 *       16     8  total length of the file in bytes, digest included (u64)
 *       24     8  manifest offset (u64)
 *       32     8  manifest length (u64)
 *       40  40*n  section table: name (24 bytes, NUL-padded), offset (u64),
 *                 length (u64)
 *        .     .  manifest: canonical JSON text
 *        .     .  sections, each starting on a 64-byte boundary (so arrays
 *                 of doubles or tree nodes can be used in place, aligned)
 *   len-32    32  SHA-256 of every byte before it
 *
 * Invariants the reader establishes before handing anything out:
 *  1. The file is at least as long as the header says (else "truncated"),
 *     and its digest matches (else "damaged": a flipped byte).
 *  2. The version is one this build reads (else "written by a newer
 *     sluice"), checked before the digest so that the message is the
 *     useful one.
 *  3. Every section and the manifest lie inside the file, sections are
 *     64-byte aligned and their names are unique and NUL-terminated; the
 *     manifest is a JSON object.
 * So a section pointer is always safe to read for its length; what the
 * bytes mean is checked by the model family that reads them.
 *
 * Numbers in sections are little-endian; a big-endian host refuses the
 * file rather than misread it.
 */
#ifndef SLUICE_MFILE_H
#define SLUICE_MFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MFILE_MAGIC "SLUICEMF"
#define MFILE_VERSION 1u
#define MFILE_NAME_MAX 24 /* section name bytes, NUL included */
#define MFILE_ALIGN 64

/* ---- writing ----------------------------------------------------------- */

typedef struct mfile_writer mfile_writer;

int mfile_writer_new(mfile_writer **out);
void mfile_writer_free(mfile_writer *w); /* accepts NULL */

/*
 * Adds a section. The bytes are copied, so the caller may free data at
 * once. Names are at most MFILE_NAME_MAX-1 bytes and unique (SL_EEXIST).
 */
int mfile_add(mfile_writer *w, const char *name, const void *data, size_t len);

/*
 * Writes the file to path atomically (temp file, fsync, rename) with the
 * manifest (an object; borrowed) dumped canonically. The writer stays
 * usable, so the same sections can be written again with another manifest.
 */
int mfile_write(mfile_writer *w, const json_t *manifest, const char *path);

/* ---- reading ----------------------------------------------------------- */

typedef struct mfile mfile;

/*
 * Maps path and checks it (invariants 1-3). *out owns the mapping; close it
 * with mfile_close(). Errors name the file and what is wrong with it:
 * SL_ECORRUPT (truncated, damaged, malformed), SL_EUNSUP (newer version),
 * SL_ENOENT, SL_EIO.
 */
int mfile_open(const char *path, mfile **out);
/* The same over bytes the caller keeps alive (tests, fuzzing); name is for messages. */
int mfile_open_mem(const void *data, size_t len, const char *name, mfile **out);
void mfile_close(mfile *f); /* accepts NULL */

/* True when the file at path starts with MFILE_MAGIC (cheap; no checks). */
int mfile_is_mfile(const char *path);

/* The manifest (borrowed; lives as long as f). */
const json_t *mfile_manifest(const mfile *f);
/* The name the file was opened under, for messages. */
const char *mfile_name(const mfile *f);
/*
 * The file's SHA-256 (its last 32 bytes, checked at open) as 64 hex digits
 * and a NUL: what the file is, whatever its name (a server names the
 * version of a model file it serves by it).
 */
void mfile_digest_hex(const mfile *f, char out[65]);
/*
 * The same read from the file at path without opening it as a model (no
 * checks but the magic): what a server names it by, for a reader that
 * only wants to recognise it (lineage). false when it is no model file.
 */
bool mfile_digest_of(const char *path, char out[65]);

/*
 * Finds section name: *out_data points into the mapping (64-byte aligned),
 * *out_len is its length. SL_ECORRUPT naming the file and section when it
 * is missing (a model file without a section its family needs is damaged).
 */
int mfile_section(const mfile *f, const char *name, const void **out_data, size_t *out_len);
/* The same, SL_ENOENT without a message when the section is optional. */
int mfile_section_opt(const mfile *f, const char *name, const void **out_data, size_t *out_len);

/* The sections in file order, for copying a file's sections into another. */
size_t mfile_n_sections(const mfile *f);
void mfile_section_at(const mfile *f, size_t i, const char **out_name, const void **out_data,
		      size_t *out_len);

/*
 * A section read as an array of count elements of size bytes each:
 * SL_ECORRUPT when its length is not exactly count * size.
 */
int mfile_array(const mfile *f, const char *name, size_t size, size_t count,
		const void **out_data);

#endif
