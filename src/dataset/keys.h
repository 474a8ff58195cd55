/*
 * Distinct values of one dataset column, for the steps that group or match
 * rows by value: split (classes, groups), label (joining on a key, counting
 * label balance). Prefix keys_.
 *
 * keys_build() gives every row of the column a dense id, numbered in order
 * of first appearance, so that anything iterating over ids is deterministic
 * and independent of hashing. Equal values get equal ids; for float columns
 * -0.0 equals 0.0 and every NaN equals every other NaN (one class, one
 * group). Null rows get KEYS_NONE.
 *
 * keys_match() looks up the rows of another column of the same type (from
 * any table) among the built keys. Strings are compared by their bytes, not
 * by dictionary codes, so two datasets with different dictionaries match.
 */
#ifndef SLUICE_DATASET_KEYS_H
#define SLUICE_DATASET_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "dataset/dataset.h"

#define KEYS_NONE UINT32_MAX

typedef struct keys keys;

/*
 * Builds the keys of column j of t. The table must outlive the result (it is
 * read again by keys_match and keys_text). *out_k is freed with keys_free.
 */
int keys_build(const ds_table *t, size_t j, keys **out_k);
void keys_free(keys *k); /* accepts NULL */

/* Number of distinct non-null values. */
size_t keys_count(const keys *k);
/* Rows that are null. */
size_t keys_nulls(const keys *k);
/* Per row of the column: the value's id, or KEYS_NONE for null. Borrowed. */
const uint32_t *keys_ids(const keys *k);
/* Per id: the number of rows holding that value. Borrowed. */
const size_t *keys_sizes(const keys *k);
/* The first row holding value id. */
size_t keys_first_row(const keys *k, uint32_t id);

/*
 * For every row i of column j2 of t2, writes into out_ids[i] the id of the
 * equal key, or KEYS_NONE when there is none or the row is null. The column
 * must have the key column's type (SL_EINVAL naming both otherwise).
 * out_ids holds ds_nrow(t2) entries.
 */
int keys_match(const keys *k, const ds_table *t2, size_t j2, uint32_t *out_ids);

/*
 * Writes the value of key id as text ("spam", "42", "0.5", "true",
 * "2024-05-01T00:00:00Z") into buf, truncated to size - 1 bytes and
 * NUL-terminated. Returns the untruncated length.
 */
size_t keys_text(const keys *k, uint32_t id, char *buf, size_t size);

#endif
