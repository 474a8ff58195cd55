/*
 * The CSV reader: RFC 4180 text to a typed, columnar builder, in parallel.
 *
 * Dialect.
 *   - Fields are separated by one delimiter byte and rows end with LF or
 *     CRLF (a lone CR is data). The last row may lack its terminator.
 *   - A field that starts with a double quote is quoted: it ends at the next
 *     quote not doubled, may contain delimiters, CR and LF, and "" stands for
 *     one quote. A quoted field must be followed by a delimiter or the end
 *     of the row. A quote inside an unquoted field is an error, or data
 *     with quote_literal (then files are not cut into chunks: see
 *     invariant 1).
 *   - A UTF-8 byte order mark at the start of a file is skipped. All text
 *     must be valid UTF-8.
 *   - Blank lines are skipped when there is more than one column (with one
 *     column a blank line is a row whose value is empty, i.e. null).
 *   - An unquoted field equal to a null marker is null; a quoted field never
 *     is, so "" is an empty string while an empty unquoted field is null.
 *
 * Types. Each column starts untyped and widens as values arrive:
 * int64 -> float64 -> string; bool (true/false) and timestamp (ISO 8601)
 * widen to string when anything else appears. A number written with a
 * leading zero ("08123", not "0" or "0.5") is text: ZIP codes and account
 * numbers survive. A column with no value at all is a string column.
 * Overrides fix a column's type, and a value that does not parse as it is a
 * bad row.
 *
 * Bad rows (wrong field count, quote misuse, invalid UTF-8, a field larger
 * than max_field_size, a value against an override) fail the read, or are
 * skipped, counted and handed to the reject callback (skip and quarantine
 * alike: the caller decides what to keep of them).
 * A quote left open at the end of a file swallows every row after it, so it
 * always fails the read, naming where it opened.
 *
 * Parallelism. The input (mmapped) is cut into chunks of up to 2 MiB; four
 * phases run over them with a small pool of threads:
 *
 *     count     per chunk: quotes and newlines (pread,    (parallel)
 *       |       SSE2); prefix sums give each chunk its quote parity, its
 *       |       first line number and its value slots (one per line)
 *     parse     per chunk: find the first row that starts  (parallel)
 *       |       in it (the first LF outside quotes, by parity), parse rows
 *       |       starting before its end into its slots of each column's
 *       |       array, typed per chunk, with chunk-local dictionaries
 *       |       (or raw lists of mostly distinct values); as chunks end,
 *       |       their string columns are merged in order into the
 *       |       columns' dictionaries, overlapping the parse of others
 *     convert   per chunk: widen to the types agreed       (parallel)
 *       |       over all chunks
 *     merge     per column: compact the slots in place,    (parallel over
 *               narrow them, merge dictionaries in chunk    columns)
 *               order, hand the array to the builder
 *
 * Invariants that make the chunks agree with a sequential read:
 *   1. Quote parity decides structure. The tokenizer treats every quote as a
 *      toggle, also when it reports an error and skips to the end of a bad
 *      row, so a row boundary is exactly an LF at even parity, which is what
 *      the chunk-start search finds.
 *   2. A chunk owns the rows that start in [its nominal start, its nominal
 *      end); a row may run past the end (the input is bounded by the file,
 *      not by the chunk).
 *   3. Dictionaries are in order of first appearance within a chunk (a raw
 *      one lists every value in row order, which interns the same way) and
 *      chunks are merged in order, during the parse or after it, so the
 *      result is the same as a sequential read: the output does not depend
 *      on the thread count, the chunk size, or which chunks went raw or
 *      were merged early.
 *   4. Null detection does not depend on types, so when a chunk column is
 *      rescanned as strings its validity stays as it was.
 *
 * Memory: the input is mapped; the count phase reads it with pread and the
 * parse drops a chunk's pages (MADV_DONTNEED) once parsed, so the input
 * does not stay resident (a string rescan faults pages back in). Values are
 * written once, into slots that the merge compacts in place and the builder
 * adopts, so memory peaks at about the dataset plus the chunk dictionaries
 * not yet merged (1.5x the dataset on the ingest benchmark).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/csv_int.h"

const char *const ds_default_null_values[] = {"", "NA", "N/A", "NULL", "null"};
const size_t ds_n_default_null_values = SL__ARRAY_LEN(ds_default_null_values);

/* ---- mapping files ------------------------------------------------------------ */

int ds_map_file(const char *path, ds_source *out)
{
	struct stat st;
	int fd;

	memset(out, 0, sizeof *out);
	out->name = path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl__err(errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sl__err(SL_EIO, "%s: not a regular file", path);
	}
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			int rc = sl__err(SL_EIO, "%s: mmap: %s", path, strerror(errno));
			close(fd);
			return rc;
		}
		out->data = m;
		out->len = (size_t)st.st_size;
	}
	close(fd);
	return 0;
}

void ds_unmap_file(ds_source *src)
{
	if (src->data && src->len)
		munmap((void *)src->data, src->len);
	src->data = NULL;
	src->len = 0;
}

/* Drops the resident pages wholly inside [p, p+n) of a mapped file. */
void csv_drop_pages(const char *p, size_t n)
{
	uintptr_t page = 4096, a = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t z = ((uintptr_t)p + n) & ~(page - 1);

	if (z > a)
		madvise((void *)a, z - a, MADV_DONTNEED);
}

/* ---- the driver ----------------------------------------------------------------- */

typedef struct src_info {
	const char *data_start; /* after the BOM and the header */
	uint64_t data_line;     /* line number at data_start */
} src_info;

static const char *skip_bom(const ds_source *s)
{
	if (s->len >= 3 && memcmp(s->data, "\xef\xbb\xbf", 3) == 0)
		return s->data + 3;
	return s->data;
}

/* Tokenizes a header (or first) row with room for any number of fields. */
static int header_row(const csv_conf *c, const ds_source *s, const char *p, csv_row *r,
		      uint64_t *out_lines)
{
	const char *limit = s->data + s->len;
	int rc;

	for (;;) {
		csv_tokenize(c, p, limit, r);
		if (r->n <= r->cap)
			break;
		if ((rc = csv_row_reserve(r, r->n)))
			return rc;
	}
	if (r->err_pos) {
		uint64_t line = 1, col;
		const char *ls = p;
		for (const char *q = p; q < r->err_pos; q++)
			if (*q == '\n') {
				line++;
				ls = q + 1;
			}
		col = (uint64_t)(r->err_pos - ls) + 1;
		return sl__err(SL_EPARSE, "%s:%llu:%llu: %s", s->name, (unsigned long long)line,
			       (unsigned long long)col, r->err);
	}
	*out_lines = 1;
	for (const char *q = p; q < r->next; q++)
		*out_lines += *q == '\n';
	return 0;
}

static void conf_free(csv_conf *c)
{
	if (c->names)
		for (size_t j = 0; j < c->ncols; j++)
			sl__free(c->names[j]);
	sl__free(c->names);
	sl__free(c->override);
	sl__free(c->null_lens_each);
}

/* Reads the header of every source; fills names, ncols and each data start. */
static int read_headers(csv_conf *c, const ds_source *src, size_t n, const ds_ingest_opts *opt,
			src_info *info)
{
	csv_row r = {0};
	csv_worker w = {0};
	int rc = 0;

	for (size_t s = 0; s < n && rc == 0; s++) {
		uint64_t lines = 0;
		if (src[s].len == 0 || !src[s].data ||
		    (src[s].len == 3 && skip_bom(&src[s]) != src[s].data)) {
			rc = sl__err(SL_EPARSE, "%s: empty file (expected %s)", src[s].name,
				     opt->no_header ? "at least one row" : "a header row");
			break;
		}
		const char *p = skip_bom(&src[s]);
		if (opt->no_header && s > 0) {
			info[s].data_start = p;
			info[s].data_line = 1;
			continue;
		}
		size_t save = c->ncols;
		c->ncols = 0; /* no blank-line skipping for the first row */
		rc = header_row(c, &src[s], p, &r, &lines);
		c->ncols = save;
		if (rc)
			break;
		if (opt->no_header) {
			/* The first row only gives the column count. */
			info[s].data_start = p;
			info[s].data_line = 1;
			c->ncols = r.n;
			if (opt->n_names && opt->n_names != r.n) {
				rc = sl__err(SL_EINVAL, "%s: %zu column names given but the first row has %zu fields",
					     src[s].name, opt->n_names, r.n);
				break;
			}
			c->names = sl__calloc(r.n, sizeof *c->names);
			if (!c->names) {
				rc = sl__err(SL_ENOMEM, "out of memory");
				break;
			}
			for (size_t j = 0; j < r.n; j++) {
				c->names[j] = opt->n_names ? sl__strdup(opt->names[j])
							   : sl__asprintf("c%zu", j + 1);
				if (!c->names[j])
					rc = sl__err(SL_ENOMEM, "out of memory");
			}
			continue;
		}
		info[s].data_start = r.next;
		info[s].data_line = lines;
		if (s == 0) {
			c->ncols = r.n;
			c->names = sl__calloc(r.n, sizeof *c->names);
			if (!c->names) {
				rc = sl__err(SL_ENOMEM, "out of memory");
				break;
			}
			for (size_t j = 0; j < r.n && rc == 0; j++) {
				const char *t;
				size_t len;
				if ((rc = csv_field_text(&w, &r.f[j], &t, &len)))
					break;
				c->names[j] = len ? sl__strndup(t, len) : sl__asprintf("c%zu", j + 1);
				if (!c->names[j])
					rc = sl__err(SL_ENOMEM, "out of memory");
				for (size_t k = 0; rc == 0 && c->names[j] && k < j; k++)
					if (!strcmp(c->names[k], c->names[j]))
						rc = sl__err(SL_EPARSE, "%s:1: duplicate column name '%s'",
							     src[s].name, c->names[j]);
			}
			continue;
		}
		if (r.n != c->ncols) {
			rc = sl__err(SL_EPARSE, "%s:1: the header has %zu columns but %s has %zu; "
				     "all files must have the same columns",
				     src[s].name, r.n, src[0].name, c->ncols);
			break;
		}
		for (size_t j = 0; j < r.n && rc == 0; j++) {
			const char *t;
			size_t len;
			if ((rc = csv_field_text(&w, &r.f[j], &t, &len)))
				break;
			char gen[32];
			snprintf(gen, sizeof gen, "c%zu", j + 1);
			if (len == 0) {
				t = gen;
				len = strlen(gen);
			}
			if (strlen(c->names[j]) != len || memcmp(c->names[j], t, len) != 0)
				rc = sl__err(SL_EPARSE, "%s:1: column %zu is '%.*s' but '%s' in %s; "
					     "all files must have the same columns",
					     src[s].name, j + 1, (int)len, t, c->names[j], src[0].name);
		}
	}
	sl__free(r.f);
	sl__free(w.scratch);
	return rc;
}

static int setup_conf(csv_conf *c, const ds_ingest_opts *opt)
{
	const char *const *nulls = opt->null_values ? opt->null_values : ds_default_null_values;
	size_t nn = opt->null_values ? opt->n_null_values : ds_n_default_null_values;

	c->delim = opt->delimiter ? opt->delimiter : ',';
	if (c->delim == '"' || c->delim == '\n' || c->delim == '\r')
		return sl__err(SL_EINVAL, "the delimiter cannot be a quote, CR or LF");
	c->max_field = opt->max_field_size ? opt->max_field_size : DS_DEFAULT_MAX_FIELD;
	c->on_error = opt->on_error;
	c->nulls = nulls;
	c->n_nulls = nn;
	c->null_lens_each = sl__calloc(nn ? nn : 1, sizeof(size_t));
	if (!c->null_lens_each)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t k = 0; k < nn; k++) {
		size_t len = strlen(nulls[k]);
		c->null_lens_each[k] = len;
		if (len < 64)
			c->null_lens |= (uint64_t)1 << len;
		else
			c->long_null = true;
	}
	c->quote_literal = opt->quote_literal;
	c->special[(unsigned char)c->delim] = true;
	c->special['\n'] = true;
	c->special['\r'] = true;
	c->special['"'] = !c->quote_literal;
	return 0;
}

static int setup_overrides(csv_conf *c, const ds_ingest_opts *opt)
{
	c->override = sl__calloc(c->ncols ? c->ncols : 1, sizeof *c->override);
	if (!c->override)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t k = 0; k < opt->n_types; k++) {
		size_t j = 0;
		while (j < c->ncols && strcmp(c->names[j], opt->type_cols[k]))
			j++;
		if (j == c->ncols)
			return sl__err(SL_EINVAL, "types: no column named '%s'", opt->type_cols[k]);
		if (opt->types[k] < DS_INT64 || opt->types[k] > DS_TYPE_MAX)
			return sl__err(SL_EINVAL, "types: bad type for column '%s'", opt->type_cols[k]);
		c->override[j] = opt->types[k];
	}
	return 0;
}

static void count_fn(void *ctx, size_t i, unsigned worker)
{
	csv_reader *rd = ctx;

	csv_count_chunk(&rd->chunks[i], &rd->workers[worker]);
}

/*
 * Interns the entries of chunk dictionary d, in order, into gd (map[k]
 * gets entry k's code). Most lookups in a large gd miss the cache three
 * times in a row: the slot, then for a string seen before its offset, then
 * its bytes. The loop fetches each a few entries ahead once the one before
 * it has arrived: the slot 24 entries ahead; 12 ahead, when that slot
 * (now in cache) holds an entry of the same hash, its offset; 6 ahead its
 * bytes. Only the home slot is looked at, which is where most entries are.
 */
static int intern_entries(ds_dict *gd, const ds_dict *d, uint32_t *map)
{
	for (size_t k = 0; k < d->n; k++) {
		size_t len;
		const char *e = ds_dict_entry(d, (uint32_t)k, &len);
		int rc;
		if (gd->idx.cap) {
			uint32_t id;
			if (k + 24 < d->n)
				sl__hmap_prefetch(&gd->idx, d->hashes[k + 24]);
			if (k + 12 < d->n && (id = sl__hmap_home_id(&gd->idx, d->hashes[k + 12])) != SL__HMAP_NONE)
				__builtin_prefetch(&gd->offs[id]);
			if (k + 6 < d->n && (id = sl__hmap_home_id(&gd->idx, d->hashes[k + 6])) != SL__HMAP_NONE)
				__builtin_prefetch(gd->bytes + gd->offs[id]);
		}
		if ((rc = ds_dict_intern_h32(gd, e, len, d->hashes[k], &map[k])))
			return rc;
	}
	return 0;
}

/*
 * Merges chunk i's string columns into the columns' dictionaries (under
 * pre_lock, chunks in order): their codes in the slots become the final
 * ones and the chunk dictionaries are freed. This is the work merge_fn
 * would do later, done on the way so that it overlaps the parse of other
 * chunks instead of leaving threads idle at the end while one interns a
 * large dictionary. A column stops at its first chunk of another type
 * (that chunk is converted to strings after the parse); merge_fn does the
 * rest. The result is the same whichever chunks were merged early.
 */
static int premerge_chunk(csv_reader *rd, size_t i)
{
	csv_chunk *ch = &rd->chunks[i];
	int rc;

	for (size_t j = 0; j < rd->conf.ncols; j++) {
		csv_ccol *col = &ch->cols[j];
		ds_dict *gd = &rd->pre_dict[j];
		const ds_dict *d = &col->dict;
		if (rd->pre_stop[j] || ch->nrows == 0 || col->type == CSV_NONE)
			continue;
		if (col->type != DS_STRING) {
			rd->pre_stop[j] = true;
			continue;
		}
		if (d->n > rd->pre_mapcap) {
			uint32_t *nm = sl__reallocarray(rd->pre_map, d->n, sizeof *nm);
			if (!nm) {
				rd->pre_col = j;
				return SL_ENOMEM;
			}
			rd->pre_map = nm;
			rd->pre_mapcap = d->n;
		}
		/* A column of mostly distinct values will have about as many
		 * in the next chunks: size its table for up to 64 of them at
		 * once rather than regrow it. Only a hint: on failure the
		 * dictionary grows as it goes. */
		if (gd->n == 0 && col->raw) {
			size_t ahead = rd->nchunks - i < 64 ? rd->nchunks - i : 64;
			if (d->n <= DS_DICT_MAX / 2 / ahead && d->len <= ((size_t)1 << 30) / ahead)
				(void)ds_dict_reserve(gd, d->n * ahead, d->len * ahead);
		}
		if ((rc = intern_entries(gd, d, rd->pre_map))) {
			rd->pre_col = j;
			return rc;
		}
		for (size_t r = 0; r < ch->nrows; r++)
			if ((!col->valid || ds_bit_get(col->valid, r)) && col->data[r] < d->n)
				col->data[r] = rd->pre_map[col->data[r]];
		ds_dict_free(&col->dict);
		col->merged = true;
	}
	return 0;
}

static void parse_fn(void *ctx, size_t i, unsigned worker)
{
	csv_reader *rd = ctx;
	size_t next;

	csv_parse_chunk(rd, &rd->chunks[i], i, &rd->workers[worker]);
	__atomic_store_n(&rd->parsed[i], true, __ATOMIC_RELEASE);
	/* Whoever holds the lock merges every parsed chunk in order; a chunk
	 * that finishes meanwhile is taken by the next one to try (or by
	 * merge_fn). */
	while ((next = __atomic_load_n(&rd->pre_next, __ATOMIC_ACQUIRE)) < rd->nchunks &&
	       __atomic_load_n(&rd->parsed[next], __ATOMIC_ACQUIRE) &&
	       pthread_mutex_trylock(&rd->pre_lock) == 0) {
		for (next = rd->pre_next; rd->pre_rc == 0 && next < rd->nchunks &&
					  __atomic_load_n(&rd->parsed[next], __ATOMIC_ACQUIRE);
		     next++) {
			if (rd->chunks[next].rc) {
				rd->pre_rc = rd->chunks[next].rc; /* the read fails: stop */
				break;
			}
			rd->pre_rc = premerge_chunk(rd, next);
		}
		__atomic_store_n(&rd->pre_next, rd->pre_rc ? rd->nchunks : next, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&rd->pre_lock);
	}
}

static void convert_fn(void *ctx, size_t i, unsigned worker)
{
	csv_reader *rd = ctx;

	csv_convert_chunk(rd, &rd->chunks[i], &rd->workers[worker]);
}

/* Cuts every source's data into chunks. */
static int make_chunks(csv_reader *rd, const ds_source *src, const int *fds, size_t n,
		       const src_info *info, size_t chunk)
{
	size_t total = 0;

	for (size_t s = 0; s < n; s++) {
		size_t len = (size_t)(src[s].data + src[s].len - info[s].data_start);
		total += len / chunk + 1;
	}
	rd->chunks = sl__calloc(total, sizeof *rd->chunks);
	if (!rd->chunks)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t s = 0; s < n; s++) {
		const char *p = info[s].data_start, *limit = src[s].data + src[s].len;
		bool first = true;
		do {
			csv_chunk *ch = &rd->chunks[rd->nchunks++];
			size_t left = (size_t)(limit - p);
			ch->src = s;
			ch->name = src[s].name;
			ch->base = src[s].data;
			ch->limit = limit;
			ch->nom_start = p;
			ch->nom_end = p + (left < chunk ? left : chunk);
			ch->first = first;
			ch->drop = fds && fds[s] >= 0;
			ch->fd = fds ? fds[s] : -1;
			first = false;
			p = ch->nom_end;
		} while (p < limit);
	}
	return 0;
}

typedef struct merge_job {
	csv_reader *rd;
	ds_builder *b;
	size_t rows;
	int *rc;        /* per column */
	ds_stream *out; /* the dataset file being written, or NULL */
	size_t *order;  /* columns by decreasing merge work */
	size_t *work;
} merge_job;

/*
 * Compacts column j in place and hands it to the builder. The chunks'
 * slots sit in one array at slot0 (>= the chunk's first row number, see
 * read_csv), 8 bytes each; they move down to their rows and narrow to the
 * final width (8, 1 or 4 bytes), front to back, so no slot is overwritten
 * before it is read. String codes are remapped to the column dictionary,
 * which merges the chunks' dictionaries in order (invariant 3). The array
 * is then shrunk and adopted by the builder: the values are never copied
 * to a second buffer.
 */
static void merge_fn(void *ctx, size_t item, unsigned worker)
{
	merge_job *m = ctx;
	size_t j = m->order[item];
	csv_reader *rd = m->rd;
	int final = rd->final_type[j];
	size_t w = ds_type_width((ds_type)final), at = 0, nulls = 0, mapcap = 0;
	uint8_t *base = (uint8_t *)rd->slots[j], *valid = NULL;
	uint32_t *map = NULL;
	bool any_null = false;
	ds_dict dict;
	int rc = 0;

	(void)worker;
	/* The chunks merged during the parse are in it already. */
	dict = rd->pre_dict[j];
	ds_dict_init(&rd->pre_dict[j]);
	for (size_t i = 0; i < rd->nchunks; i++) {
		const csv_ccol *col = &rd->chunks[i].cols[j];
		if (rd->chunks[i].nrows && (col->nulls || col->type == CSV_NONE))
			any_null = true;
	}
	if (any_null && !(valid = sl__calloc((m->rows + 7) / 8 + 1, 1)))
		rc = sl__err(SL_ENOMEM, "out of memory");
	if (rc == 0 && final == DS_STRING) {
		/* Room for every chunk's dictionary at once: no regrowth. */
		size_t entries = 0, bytes = 0;
		for (size_t i = 0; i < rd->nchunks; i++) {
			entries += rd->chunks[i].cols[j].dict.n;
			bytes += rd->chunks[i].cols[j].dict.len;
		}
		rc = ds_dict_reserve(&dict, entries, bytes);
	}
	for (size_t i = 0; rc == 0 && i < rd->nchunks; i++) {
		csv_chunk *ch = &rd->chunks[i];
		csv_ccol *col = &ch->cols[j];
		const uint8_t *src = (const uint8_t *)col->data;
		size_t n = ch->nrows;
		bool none = col->type == CSV_NONE;
		if (n == 0)
			continue;
		switch (final) {
		case DS_BOOL:
			for (size_t r = 0; r < n; r++)
				base[at + r] = none ? 0 : src[r * 8]; /* the low byte (little-endian) */
			break;
		case DS_STRING:
			if (!none && !col->merged) {
				const ds_dict *d = &col->dict;
				if (d->n > mapcap) {
					uint32_t *nm = sl__reallocarray(map, d->n, sizeof *map);
					if (!nm) {
						rc = sl__err(SL_ENOMEM, "out of memory");
						break;
					}
					map = nm;
					mapcap = d->n;
				}
				/* Every entry of a chunk dictionary is used by a row, in
				 * order of first use: interning them in order gives the
				 * column's order of first appearance. */
				rc = intern_entries(&dict, d, map);
			}
			for (size_t r = 0; rc == 0 && r < n; r++) {
				uint64_t v;
				uint32_t code = 0;
				memcpy(&v, src + r * 8, 8);
				if (none || (col->valid && !ds_bit_get(col->valid, r)))
					code = 0;
				else if (col->merged)
					code = (uint32_t)v;
				else if (v < mapcap)
					code = map[v];
				memcpy(base + (at + r) * 4, &code, 4);
			}
			break;
		default: /* int64, float64, timestamp: same width */
			if (none)
				memset(base + at * 8, 0, n * 8);
			else
				memmove(base + at * 8, src, n * 8);
		}
		if (rc)
			break;
		if (valid) {
			if (none) {
				nulls += n; /* calloc left the bits clear */
			} else if (col->valid) {
				ds_bits_copy(valid, at, col->valid, n);
				nulls += col->nulls;
			} else {
				for (size_t r = 0; r < n; r++)
					ds_bit_set(valid, at + r);
			}
		}
		sl__free(col->valid);
		ds_dict_free(&col->dict);
		col->valid = NULL;
		at += n;
	}
	if (rc == 0) {
		/* Shrinking returns the slack (narrow types leave most of it). */
		size_t bytes = at * w;
		void *data = sl__realloc(base, bytes ? bytes : 1);
		rd->slots[j] = NULL;
		rc = ds_builder_adopt(m->b, j, data ? data : base, at, valid, nulls,
				      final == DS_STRING ? &dict : NULL);
		valid = NULL;
		/* The lookup table is rebuilt if anyone appends again. */
		ds_dict_drop_index(&m->b->cols[j].dict);
		if (rc == 0 && m->out)
			rc = ds_stream_column(m->out, j, m->b->cols[j].valid, m->b->cols[j].data);
	}
	sl__free(valid);
	sl__free(map);
	ds_dict_free(&dict);
	m->rc[j] = rc;
}

/*
 * Builds the dataset from the chunks; columns are independent, so they are
 * merged in parallel. With out_path the file is written as columns
 * complete: a thread that finishes the numeric columns writes them while
 * another is still merging a large dictionary.
 */
static int merge(csv_reader *rd, ds_builder *b, unsigned threads, const char *out_path,
		 uint64_t *out_rows)
{
	const csv_conf *c = &rd->conf;
	merge_job m = {rd, b, 0, NULL, NULL, NULL, NULL};
	ds_type *types = NULL;
	size_t *nulls = NULL;
	const ds_dict **dicts = NULL;
	int rc = 0;

	for (size_t i = 0; i < rd->nchunks; i++)
		m.rows += rd->chunks[i].nrows;
	for (size_t j = 0; j < c->ncols; j++)
		if ((rc = ds_builder_add_col(b, c->names[j], (ds_type)rd->final_type[j], NULL)))
			return rc;
	m.rc = sl__calloc(c->ncols + 1, sizeof *m.rc);
	types = sl__calloc(c->ncols + 1, sizeof *types);
	nulls = sl__calloc(c->ncols + 1, sizeof *nulls);
	dicts = sl__calloc(c->ncols + 1, sizeof *dicts);
	m.order = sl__calloc(c->ncols + 1, sizeof *m.order);
	m.work = sl__calloc(c->ncols + 1, sizeof *m.work);
	if (!m.rc || !types || !nulls || !dicts || !m.order || !m.work) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto done;
	}
	/* The longest merges (big dictionaries) start first, so the other
	 * threads are not left idle waiting for one at the end. */
	for (size_t j = 0; j < c->ncols; j++) {
		m.order[j] = j;
		m.work[j] = m.rows;
		for (size_t i = 0; rd->final_type[j] == DS_STRING && i < rd->nchunks; i++)
			m.work[j] += rd->chunks[i].cols[j].dict.n * 8;
	}
	for (size_t a = 1; a < c->ncols; a++) /* insertion sort: stable, small n */
		for (size_t k = a; k > 0 && m.work[m.order[k]] > m.work[m.order[k - 1]]; k--) {
			size_t t = m.order[k];
			m.order[k] = m.order[k - 1];
			m.order[k - 1] = t;
		}
	if (out_path) {
		/* Null counts are known before the merge: the file's fixed
		 * sections can be laid out now. */
		for (size_t j = 0; j < c->ncols; j++) {
			types[j] = (ds_type)rd->final_type[j];
			for (size_t i = 0; i < rd->nchunks; i++) {
				const csv_ccol *col = &rd->chunks[i].cols[j];
				if (rd->chunks[i].nrows)
					nulls[j] += col->type == CSV_NONE ? rd->chunks[i].nrows : col->nulls;
			}
		}
		if ((rc = ds_stream_open(out_path, m.rows, c->ncols, (const char *const *)c->names,
					 types, nulls, &m.out)))
			goto done;
	}
	sl__parallel_for(threads, c->ncols, merge_fn, &m);
	for (size_t j = 0; rc == 0 && j < c->ncols; j++)
		if (m.rc[j])
			rc = sl__err(m.rc[j], "column '%s': %s", c->names[j],
				     m.rc[j] == SL_ENOMEM ? "out of memory merging" : "cannot write");
	if (rc == 0 && m.out) {
		for (size_t j = 0; j < c->ncols; j++)
			dicts[j] = &b->cols[j].dict;
		rc = ds_stream_finish(m.out, dicts, NULL, NULL);
		m.out = NULL;
	}
	*out_rows = m.rows;
done:
	ds_stream_abort(m.out);
	sl__free(m.rc);
	sl__free(m.order);
	sl__free(m.work);
	sl__free(types);
	sl__free(nulls);
	sl__free(dicts);
	return rc;
}

static int read_csv(const ds_source *src, const int *fds, size_t n, const ds_ingest_opts *opt,
		    ds_builder **out_b, ds_ingest_stats *out_stats)
{
	static const ds_ingest_opts defaults;
	csv_reader *rd;
	src_info *info = NULL;
	ds_builder *b = NULL;
	ds_ingest_stats st = {0};
	unsigned threads;
	size_t total = 0, chunk;
	int rc;

	*out_b = NULL;
	if (!opt)
		opt = &defaults;
	if (n == 0)
		return sl__err(SL_EINVAL, "no input files");
	rd = sl__calloc(1, sizeof *rd);
	info = sl__calloc(n, sizeof *info);
	if (!rd || !info) {
		sl__free(rd);
		sl__free(info);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	rd->fail_at = SIZE_MAX;
	if ((rc = setup_conf(&rd->conf, opt)) || (rc = read_headers(&rd->conf, src, n, opt, info)) ||
	    (rc = setup_overrides(&rd->conf, opt)))
		goto done;

	threads = sl__thread_count(opt->threads);
	for (size_t s = 0; s < n; s++)
		total += src[s].len;
	chunk = opt->chunk_size;
	if (rd->conf.quote_literal) {
		/* A literal quote breaks invariant 1: quote parity no longer
		 * tells where a row starts, so no chunk may start inside a
		 * file. Files are still parsed in parallel, one per thread. */
		chunk = SIZE_MAX;
	} else if (!chunk) {
		/* Enough chunks to balance the threads, and small enough that a
		 * chunk's dictionaries stay in cache (measured: 2 MiB beats 8). */
		chunk = total / ((size_t)threads * 32);
		chunk = chunk < ((size_t)256 << 10) ? (size_t)256 << 10 : chunk;
		chunk = chunk > ((size_t)2 << 20) ? (size_t)2 << 20 : chunk;
	}
	if ((rc = make_chunks(rd, src, fds, n, info, chunk)))
		goto done;
	for (unsigned t = 0; t < threads; t++) {
		csv_worker *w = &rd->workers[t];
		w->vals = sl__calloc(rd->conf.ncols + 1, sizeof *w->vals);
		w->hint_n = sl__calloc(rd->conf.ncols + 1, sizeof *w->hint_n);
		w->hint_bytes = sl__calloc(rd->conf.ncols + 1, sizeof *w->hint_bytes);
		w->hint_raw = sl__calloc(rd->conf.ncols + 1, sizeof *w->hint_raw);
		if (!w->vals || !w->hint_n || !w->hint_bytes || !w->hint_raw) {
			rc = sl__err(SL_ENOMEM, "out of memory");
			goto done;
		}
		if ((rc = csv_row_reserve(&w->row, rd->conf.ncols + 1)) ||
		    (rc = csv_row_reserve(&w->row2, rd->conf.ncols + 1)))
			goto done;
	}

	/* Phase 1: counts, then quote parity and line numbers by prefix sums. */
	sl__parallel_for(threads, rd->nchunks, count_fn, rd);
	for (size_t i = 0, q = 0, nl = 0; i < rd->nchunks; i++) {
		csv_chunk *ch = &rd->chunks[i];
		if (ch->first) {
			q = 0;
			nl = info[ch->src].data_line;
		}
		ch->inq = q & 1;
		ch->line0 = nl;
		q += ch->quotes;
		nl += ch->newlines;
	}

	/*
	 * Value slots. A chunk holds at most (its newlines + 1) rows: every row
	 * but a file's first starts right after a newline, at a position in
	 * [nom_start - 1, nom_end - 1). So chunk i may use the slots
	 * [slot0, slot0 + newlines + 1) of one array per column, slot0 being
	 * the sum of the earlier chunks' bounds, which is never less than the
	 * chunk's first row number. The merge compacts in place.
	 */
	size_t bound = 0;
	for (size_t i = 0; i < rd->nchunks; i++) {
		rd->chunks[i].slot0 = bound;
		rd->chunks[i].slotcap = rd->chunks[i].newlines + 1;
		bound += rd->chunks[i].slotcap;
	}
	rd->slots = sl__calloc(rd->conf.ncols + 1, sizeof *rd->slots);
	if (!rd->slots) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t j = 0; j < rd->conf.ncols; j++) {
		if (bound > SIZE_MAX / 8 || !(rd->slots[j] = sl__malloc(bound * 8))) {
			rc = sl__err(SL_ENOMEM, "out of memory for %zu rows", bound);
			goto done;
		}
		/* No huge-page advice here: measured, it made runs slower and
		 * less steady (a 2 MiB page is zeroed in one fault, and the
		 * slots of sparse chunks would round up to whole huge pages). */
	}

	/* Phase 2: parse (and merge string columns early, see parse_fn). */
	rd->parsed = sl__calloc(rd->nchunks + 1, sizeof *rd->parsed);
	rd->pre_stop = sl__calloc(rd->conf.ncols + 1, sizeof *rd->pre_stop);
	rd->pre_dict = sl__calloc(rd->conf.ncols + 1, sizeof *rd->pre_dict);
	if (!rd->parsed || !rd->pre_stop || !rd->pre_dict || pthread_mutex_init(&rd->pre_lock, NULL)) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto done;
	}
	rd->pre_init = true;
	sl__parallel_for(threads, rd->nchunks, parse_fn, rd);
	for (size_t i = 0; i < rd->nchunks; i++) {
		csv_chunk *ch = &rd->chunks[i];
		if (ch->rc == SL_EPARSE && ch->fatal) {
			rc = sl__err(SL_EPARSE, "%s", ch->fatal);
			goto done;
		}
		if (ch->rc) {
			rc = ch->rc;
			goto done;
		}
	}
	if (rd->pre_rc) {
		/* The message was set on the thread that failed. */
		rc = sl__err(rd->pre_rc, "column '%s': %s", rd->conf.names[rd->pre_col],
			     rd->pre_rc == SL_ELIMIT ? "more distinct strings than a dictionary holds"
						     : "out of memory merging");
		goto done;
	}

	/* Phase 3: agree on types and convert. */
	rd->final_type = sl__calloc(rd->conf.ncols + 1, sizeof *rd->final_type);
	if (!rd->final_type) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t j = 0; j < rd->conf.ncols; j++) {
		int t = rd->conf.override[j];
		for (size_t i = 0; t != DS_STRING && rd->conf.override[j] == CSV_NONE &&
				   i < rd->nchunks; i++)
			if (rd->chunks[i].nrows)
				t = csv_join(t, rd->chunks[i].cols[j].type);
		rd->final_type[j] = t == CSV_NONE ? DS_STRING : t;
	}
	sl__parallel_for(threads, rd->nchunks, convert_fn, rd);
	for (size_t i = 0; i < rd->nchunks; i++)
		if ((rc = rd->chunks[i].rc))
			goto done;

	/* Phase 4: rejects in file order, then the columns. */
	for (size_t i = 0; i < rd->nchunks; i++) {
		csv_chunk *ch = &rd->chunks[i];
		st.rows_rejected += ch->nbad;
		if (opt->on_error == DS_ON_ERROR_FAIL || !opt->reject)
			continue;
		for (size_t k = 0; k < ch->nbad; k++) {
			const csv_bad *bd = &ch->bad[k];
			rc = opt->reject(opt->reject_arg, ch->name, bd->line, bd->col,
					 ch->msgs.data + bd->msg_off, bd->raw, bd->raw_len);
			if (rc)
				goto done;
		}
	}
	if ((rc = ds_builder_new(&b)) || (rc = merge(rd, b, threads, opt->out_path, &st.rows)))
		goto done;
	st.bytes = total;
	st.files = n;

done:
	for (size_t i = 0; i < rd->nchunks; i++)
		csv_chunk_free(&rd->chunks[i], rd->conf.ncols);
	for (unsigned t = 0; t < CSV_MAX_THREADS; t++) {
		sl__free(rd->workers[t].row.f);
		sl__free(rd->workers[t].row2.f);
		sl__free(rd->workers[t].scratch);
		sl__free(rd->workers[t].vals);
		sl__free(rd->workers[t].hint_n);
		sl__free(rd->workers[t].hint_bytes);
		sl__free(rd->workers[t].hint_raw);
	}
	for (size_t j = 0; rd->slots && j < rd->conf.ncols; j++)
		sl__free(rd->slots[j]);
	sl__free(rd->slots);
	for (size_t j = 0; rd->pre_dict && j < rd->conf.ncols; j++)
		ds_dict_free(&rd->pre_dict[j]);
	sl__free(rd->pre_dict);
	sl__free(rd->pre_stop);
	sl__free(rd->pre_map);
	sl__free(rd->parsed);
	if (rd->pre_init)
		pthread_mutex_destroy(&rd->pre_lock);
	sl__free(rd->chunks);
	sl__free(rd->final_type);
	conf_free(&rd->conf);
	sl__free(rd);
	sl__free(info);
	if (rc) {
		ds_builder_free(b);
		return rc;
	}
	*out_b = b;
	if (out_stats)
		*out_stats = st;
	return 0;
}

/*
 * Sources in another encoding (opt->encoding): each is transcoded to UTF-8
 * in memory (transcode.c) and read from there, so the parse is the same as
 * for UTF-8; only memory differs (the UTF-8 copies live until the read
 * ends). A mapped file's pages are dropped once transcoded.
 */
static int read_transcoded(const ds_source *in, bool mapped, size_t n, const ds_ingest_opts *opt,
			   ds_builder **out_b, ds_ingest_stats *out_stats)
{
	ds_source *src = sl__calloc(n ? n : 1, sizeof *src);
	uint64_t bytes = 0;
	int rc = 0;

	*out_b = NULL;
	if (!src)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *text = NULL;
		size_t len = 0;
		rc = ds_transcode(in[i].name, in[i].data, in[i].len, opt->encoding, &text, &len);
		if (mapped && in[i].len)
			csv_drop_pages(in[i].data, in[i].len);
		src[i] = (ds_source){in[i].name, text, len};
		bytes += in[i].len;
	}
	if (rc == 0)
		rc = read_csv(src, NULL, n, opt, out_b, out_stats);
	for (size_t i = 0; i < n; i++)
		sl__free((char *)src[i].data);
	sl__free(src);
	/* Input bytes are the files' own, not their UTF-8 size. */
	if (rc == 0 && out_stats)
		out_stats->bytes = bytes;
	return rc;
}

int ds_csv_read_sources(const ds_source *src, size_t n, const ds_ingest_opts *opt,
			ds_builder **out_b, ds_ingest_stats *out_stats)
{
	if (opt && !ds_encoding_is_utf8(opt->encoding))
		return read_transcoded(src, false, n, opt, out_b, out_stats);
	return read_csv(src, NULL, n, opt, out_b, out_stats);
}

int ds_csv_read_files(const char *const *paths, size_t n, const ds_ingest_opts *opt,
		      ds_builder **out_b, ds_ingest_stats *out_stats)
{
	ds_source *src;
	int *fds;
	int rc = 0;

	*out_b = NULL;
	src = sl__calloc(n ? n : 1, sizeof *src);
	fds = sl__calloc(n ? n : 1, sizeof *fds);
	if (!src || !fds) {
		sl__free(src);
		sl__free(fds);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = ds_map_file(paths[i], &src[i]);
		if (rc == 0)
			fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
	}
	if (rc == 0 && opt && !ds_encoding_is_utf8(opt->encoding))
		rc = read_transcoded(src, true, n, opt, out_b, out_stats);
	else if (rc == 0)
		rc = read_csv(src, fds, n, opt, out_b, out_stats);
	for (size_t i = 0; i < n; i++) {
		ds_unmap_file(&src[i]);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	sl__free(src);
	sl__free(fds);
	return rc;
}
