/*
 * Fuzz target for the CSV reader (and, on one bit of the first byte, the
 * JSON Lines reader).
 *
 * The first two bytes choose the dialect and the mode: delimiter, header,
 * on_error, a type override, a small max_field_size, the chunk size and
 * thread count of the parallel parser, literal quotes and a windows-1252
 * input; the rest is the input. Besides
 * "no crash, no leak, no undefined behaviour", it checks the reader's main
 * invariant: the result never depends on chunking or threads. Every input
 * is read twice, with tiny chunks on several threads and as one chunk on
 * one thread, and the two dataset images must be identical. A successful
 * result is also opened as a table and every value read back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "dataset/dataset.h"

static int ignore(void *arg, const char *file, uint64_t line, uint64_t col, const char *reason,
		  const char *raw, size_t len)
{
	(void)file;
	(void)reason;
	(void)raw;
	(*(uint64_t *)arg) += line + col + len;
	return 0;
}

/* Reads the input; returns the code and the finished table (or NULL). */
static int read_once(const ds_source *src, const ds_ingest_opts *o, bool jsonl, ds_table **out)
{
	ds_builder *b = NULL;
	ds_ingest_stats st;
	int rc = jsonl ? ds_jsonl_read_sources(src, 1, o, &b, &st)
		       : ds_csv_read_sources(src, 1, o, &b, &st);

	*out = NULL;
	if (rc == 0) {
		rc = ds_builder_finish(b, out);
		ds_builder_free(b);
	}
	return rc;
}

static void touch(const ds_table *t)
{
	volatile double sink = 0;

	for (size_t j = 0; j < ds_ncol(t); j++) {
		for (size_t i = 0; i < ds_nrow(t); i++) {
			double d;
			size_t len;
			const char *s = ds_col_str(t, j, i, &len);
			if (s)
				sink += (double)len + (unsigned char)s[len]; /* the NUL */
			else if (ds_get_f64(t, j, i, &d))
				sink += d;
		}
	}
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = {',', ';', '\t', '|'};
	static const char *const override_cols[] = {"a", "c1"};
	static const ds_type override_types[] = {DS_INT64, DS_TIMESTAMP};
	ds_ingest_opts o;
	ds_source src;
	ds_table *t1 = NULL, *t2 = NULL;
	uint64_t seen = 0;
	bool jsonl;
	int rc1, rc2;

	if (size < 2)
		return 0;
	memset(&o, 0, sizeof o);
	o.delimiter = delims[data[0] & 3];
	o.no_header = (data[0] >> 2) & 1;
	o.on_error = (ds_on_error)((data[0] >> 3) % 3);
	o.reject = ignore;
	o.reject_arg = &seen;
	if ((data[0] >> 5) & 1) {
		o.type_cols = override_cols;
		o.types = override_types;
		o.n_types = 2;
	}
	if ((data[0] >> 6) & 1)
		o.max_field_size = 8;
	jsonl = (data[0] >> 7) & 1;
	o.quote_literal = (data[1] >> 6) & 1;
	o.encoding = (data[1] >> 7) & 1 ? "windows-1252" : NULL;
	src.name = "fuzz.csv";
	src.data = (const char *)data + 2;
	src.len = size - 2;

	/* Tiny chunks on several threads... */
	o.chunk_size = (size_t)(data[1] & 15) + 1;
	o.threads = (unsigned)((data[1] >> 4) & 3) + 1;
	rc1 = read_once(&src, &o, jsonl, &t1);
	/* ...and one chunk on one thread must agree. */
	o.chunk_size = (size_t)1 << 30;
	o.threads = 1;
	rc2 = read_once(&src, &o, jsonl, &t2);
	if (rc1 != rc2)
		abort();
	if (rc1 == 0) {
		if (ds_nrow(t1) != ds_nrow(t2) || ds_ncol(t1) != ds_ncol(t2))
			abort();
		touch(t1);
		/* Equal images: write both to memory again through a builder copy
		 * would cost more than comparing values; compare every column. */
		for (size_t j = 0; j < ds_ncol(t1); j++) {
			if (ds_col_type(t1, j) != ds_col_type(t2, j) ||
			    ds_col_nulls(t1, j) != ds_col_nulls(t2, j) ||
			    ds_dict_size(t1, j) != ds_dict_size(t2, j) ||
			    strcmp(ds_col_name(t1, j), ds_col_name(t2, j)))
				abort();
			for (size_t i = 0; i < ds_nrow(t1); i++) {
				double a, b;
				size_t la, lb;
				const char *sa = ds_col_str(t1, j, i, &la), *sb = ds_col_str(t2, j, i, &lb);
				if ((sa == NULL) != (sb == NULL) || (sa && (la != lb || memcmp(sa, sb, la))))
					abort();
				bool ga = ds_get_f64(t1, j, i, &a), gb = ds_get_f64(t2, j, i, &b);
				if (ga != gb || (ga && memcmp(&a, &b, sizeof a)))
					abort();
			}
		}
	}
	ds_close(t1);
	ds_close(t2);
	return 0;
}
