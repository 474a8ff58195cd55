/*
 * The dataset file format: writer and mmap reader.
 *
 * A dataset file is a little-endian image that a reader maps and uses in
 * place. Every section starts at a multiple of 64 bytes (cache-line and
 * SIMD friendly; any typed pointer into it is aligned) and all padding is
 * zero, so the same table always gives the same bytes: there are no
 * timestamps, no host data, nothing uninitialised.
 *
 *   offset 0    header, 64 bytes
 *                 0  magic     8 bytes  "SLUICEDS"
 *                 8  version   u32      1
 *                12  ncols     u32
 *                16  nrows     u64
 *                24  file_size u64      the whole file, so truncation is seen
 *                32  dir_off   u64      64: the column directory follows
 *                40  names_off u64
 *                48  names_size u64
 *                56  meta_hash u64      checksum64 of bytes 0..55, the
 *                                       directory and the names section
 *   dir_off     column directory: ncols entries of 128 bytes
 *                 0  type           u32  1 int64, 2 float64, 3 bool, 4 string, 5 timestamp
 *                 4  flags          u32  0
 *                 8  name_off       u64  into the names section
 *                16  name_len       u64  (the name is followed by a NUL)
 *                24  null_count     u64
 *                32  validity_off   u64  0 when null_count is 0
 *                40  validity_size  u64  ceil(nrows / 8) when present
 *                48  data_off       u64
 *                56  data_size      u64  nrows * width (8, 8, 1, 4, 8)
 *                64  dict_count     u64  string columns: distinct values
 *                72  dict_offs_off  u64  u64[dict_count + 1] byte offsets
 *                80  dict_offs_size u64
 *                88  dict_bytes_off u64  entries, each followed by a NUL
 *                96  dict_bytes_size u64
 *               104  data_hash      u64  checksum64 chained over the column's
 *                                        validity, data, dict offsets and
 *                                        dict bytes (exact sizes, in order)
 *               112  reserved       16 bytes, zero
 *   names_off   the column names, each NUL-terminated
 *   then        per column in order: validity bitmap (if any), values;
 *   then        per string column in order: dictionary offsets, dictionary
 *               bytes. Every section 64-aligned. (Fixed-size sections come
 *               first so a writer can place them before the dictionaries'
 *               sizes are known.)
 *
 * Validity bit i (LSB first) is set when row i has a value; a null row's
 * value slot is zero. Codes of string rows index the dictionary; a null
 * row's code is 0.
 *
 * Trust: ds_open() validates everything an accessor relies on (magic,
 * version, size, metadata checksum, bounds and alignment of every section,
 * monotonic NUL-terminated dictionary entries, codes below dict_count, bools
 * 0 or 1, null counts) so that a damaged file is SL_ECORRUPT naming the file
 * and never a crash. Checking the data checksums reads every byte; it is
 * what DS_OPEN_VERIFY and ds_verify() add. The artifact store hashes files
 * with SHA-256 anyway, which catches corruption at rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the dataset format is little-endian; a big-endian port needs byte swapping here"
#endif

#define MAGIC "SLUICEDS"
#define VERSION 1u
#define HDR_SIZE 64
#define DIR_ENTRY 128
#define ALIGN 64

/* ---- checksum ---------------------------------------------------------------- */

/*
 * The format's checksum: a folded-multiply hash, each 16-byte block mixed
 * into the state by a 64x64->128 multiply whose halves are xored; it
 * streams at several GB/s. It is part of the format: every version 1 file
 * holds values of this exact function, so it must never change (another
 * function would be another format version). That is why it is not the
 * library's general hash (sl__hash64, XXH3), which is free to change with
 * the library. Not cryptographic; content addressing uses SHA-256.
 */
#define K0 0xa0761d6478bd642full
#define K1 0xe7037ed1a0b428dbull
#define K2 0x8ebc6af09c88c6e3ull

static inline uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t fold(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t checksum64(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ fold(seed ^ K0, (uint64_t)n ^ K1);
	uint64_t a, b;

	if (n >= 64) {
		/* Four independent lanes so the multiplies overlap. */
		uint64_t l0 = h, l1 = h ^ K1, l2 = h ^ K2, l3 = h ^ K0;
		while (n >= 64) {
			l0 = fold(rd64(p) ^ K0, rd64(p + 8) ^ l0);
			l1 = fold(rd64(p + 16) ^ K1, rd64(p + 24) ^ l1);
			l2 = fold(rd64(p + 32) ^ K2, rd64(p + 40) ^ l2);
			l3 = fold(rd64(p + 48) ^ K0, rd64(p + 56) ^ l3);
			p += 64;
			n -= 64;
		}
		h = fold(l0 ^ l2, l1 ^ l3 ^ K1);
	}
	while (n >= 16) {
		h = fold(rd64(p) ^ K1, rd64(p + 8) ^ h);
		p += 16;
		n -= 16;
	}
	if (n >= 8) {
		a = rd64(p);
		b = rd64(p + n - 8);
	} else if (n >= 4) {
		uint32_t x, y;
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		a = x;
		b = y;
	} else if (n > 0) {
		a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
		b = 0;
	} else {
		a = b = 0;
	}
	h = fold(a ^ K1 ^ (uint64_t)n, b ^ h);
	return fold(h ^ K2, h ^ K0);
}

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* ---- writer ----------------------------------------------------------------- */

/* Where each column's sections go. */
typedef struct col_layout {
	ds_type type;
	size_t nulls;
	size_t dict_n;
	size_t valid_off, valid_size;
	size_t data_off, data_size;
	size_t offs_off, offs_size;
	size_t bytes_off, bytes_size;
	uint64_t hash;        /* chained over the sections written so far */
	const uint8_t *valid; /* image mode: the sections to copy at the end */
	const void *data;
} col_layout;

/*
 * A dataset being written. The layout puts the fixed-size sections (every
 * column's validity and values) first: their offsets depend only on the row
 * count, the types and which columns have nulls, so columns can be written,
 * by several threads, as soon as each is ready, while string dictionaries
 * are still being built. Dictionaries, header and directory follow at the
 * end. The same contents give the same bytes whichever order columns come.
 */
struct ds_stream {
	char *path, *tmp;
	int fd;               /* -1 in image mode */
	size_t nrows, ncols;
	char **names;
	col_layout *cols;
	size_t names_off, names_size, meta_size, fixed_end;
};

static const uint64_t zero_off = 0;

void ds_stream_abort(ds_stream *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->tmp);
	}
	for (size_t j = 0; s->names && j < s->ncols; j++)
		sl__free(s->names[j]);
	sl__free(s->names);
	sl__free(s->cols);
	sl__free(s->tmp);
	sl__free(s->path);
	sl__free(s);
}

int ds_stream_open(const char *path, size_t nrows, size_t ncols, const char *const *names,
		   const ds_type *types, const size_t *nulls, ds_stream **out_s)
{
	ds_stream *s;
	size_t pos, nb = 0;
	char rnd[9];
	int rc = 0;

	*out_s = NULL;
	if (ncols > UINT32_MAX / DIR_ENTRY)
		return sl__err(SL_ELIMIT, "too many columns (%zu)", ncols);
	if (nrows > SIZE_MAX / 16)
		return sl__err(SL_ELIMIT, "too many rows (%zu)", nrows);
	s = sl__calloc(1, sizeof *s);
	if (!s)
		return sl__err(SL_ENOMEM, "out of memory");
	s->fd = -1;
	s->nrows = nrows;
	s->ncols = ncols;
	s->names = sl__calloc(ncols ? ncols : 1, sizeof *s->names);
	s->cols = sl__calloc(ncols ? ncols : 1, sizeof *s->cols);
	if (!s->names || !s->cols) {
		ds_stream_abort(s);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t j = 0; j < ncols; j++) {
		if (!(s->names[j] = sl__strdup(names[j]))) {
			ds_stream_abort(s);
			return sl__err(SL_ENOMEM, "out of memory");
		}
		nb += strlen(names[j]) + 1;
	}
	s->names_off = HDR_SIZE + ncols * DIR_ENTRY;
	s->names_size = nb;
	pos = s->meta_size = align_up(s->names_off + nb);
	for (size_t j = 0; j < ncols; j++) {
		col_layout *cl = &s->cols[j];
		cl->type = types[j];
		cl->nulls = nulls[j];
		if (cl->nulls) {
			cl->valid_off = pos;
			cl->valid_size = (nrows + 7) / 8;
			pos = align_up(pos + cl->valid_size);
		}
		cl->data_off = pos;
		cl->data_size = nrows * ds_type_width(cl->type);
		pos = align_up(pos + cl->data_size);
	}
	s->fixed_end = pos;
	if (path) {
		sl__random_hex(rnd, 8);
		s->path = sl__strdup(path);
		s->tmp = sl__asprintf("%s.tmp-%s", path, rnd);
		if (!s->path || !s->tmp) {
			ds_stream_abort(s);
			return sl__err(SL_ENOMEM, "out of memory");
		}
		s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (s->fd < 0) {
			rc = sl__err(SL_EIO, "%s: create: %s", s->tmp, strerror(errno));
			ds_stream_abort(s);
			return rc;
		}
	}
	*out_s = s;
	return 0;
}

static int pwrite_all(ds_stream *s, const void *p, size_t len, size_t off)
{
	const char *c = p;

	while (len) {
		ssize_t n = pwrite(s->fd, c, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sl__err(SL_EIO, "%s: write: %s", s->tmp, strerror(errno));
		}
		c += n;
		off += (size_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Starts the disk writes of [from, to) without waiting for them. The
 * commit's fsync still waits for every byte; it only finds most of them
 * already on their way, instead of the whole file at once at the end, so
 * the device works while the rest of the dataset is still being built.
 * Advice only: an error here would show again at the fsync.
 */
static void start_writeback(const ds_stream *s, size_t from, size_t to)
{
#ifdef SYNC_FILE_RANGE_WRITE
	if (to > from)
		(void)sync_file_range(s->fd, (off_t)from, (off_t)(to - from), SYNC_FILE_RANGE_WRITE);
#else
	(void)s;
	(void)from;
	(void)to;
#endif
}

int ds_stream_column(ds_stream *s, size_t j, const uint8_t *valid, const void *data)
{
	col_layout *cl = &s->cols[j];
	uint64_t h = 0;
	int rc;

	if (cl->valid_size) {
		h = checksum64(valid, cl->valid_size, h);
		cl->valid = valid;
	}
	h = checksum64(cl->data_size ? data : (const void *)&zero_off, cl->data_size, h);
	cl->data = data;
	cl->hash = h;
	if (s->fd < 0)
		return 0;
	if (cl->valid_size && (rc = pwrite_all(s, valid, cl->valid_size, cl->valid_off)))
		return rc;
	if (cl->data_size && (rc = pwrite_all(s, data, cl->data_size, cl->data_off)))
		return rc;
	start_writeback(s, cl->valid_size ? cl->valid_off : cl->data_off,
			cl->data_off + cl->data_size);
	return 0;
}

/* The header, directory and names, once every offset and hash is known. */
static uint8_t *build_meta(const ds_stream *s, size_t size)
{
	uint8_t *m = sl__calloc(s->meta_size, 1);
	size_t noff = 0;

	if (!m)
		return NULL;
	memcpy(m, MAGIC, 8);
	put32(m + 8, VERSION);
	put32(m + 12, (uint32_t)s->ncols);
	put64(m + 16, s->nrows);
	put64(m + 24, size);
	put64(m + 32, HDR_SIZE);
	put64(m + 40, s->names_off);
	put64(m + 48, s->names_size);
	for (size_t j = 0; j < s->ncols; j++) {
		const col_layout *cl = &s->cols[j];
		uint8_t *e = m + HDR_SIZE + j * DIR_ENTRY;
		size_t nl = strlen(s->names[j]);
		put32(e, (uint32_t)cl->type);
		put64(e + 8, noff);
		put64(e + 16, nl);
		put64(e + 24, cl->nulls);
		put64(e + 32, cl->valid_off);
		put64(e + 40, cl->valid_size);
		put64(e + 48, cl->data_off);
		put64(e + 56, cl->data_size);
		put64(e + 64, cl->dict_n);
		put64(e + 72, cl->offs_off);
		put64(e + 80, cl->offs_size);
		put64(e + 88, cl->bytes_off);
		put64(e + 96, cl->bytes_size);
		put64(e + 104, cl->hash);
		memcpy(m + s->names_off + noff, s->names[j], nl + 1);
		noff += nl + 1;
	}
	uint64_t mh = checksum64(m, 56, 0);
	mh = checksum64(m + HDR_SIZE, s->meta_size - HDR_SIZE, mh);
	put64(m + 56, mh);
	return m;
}

int ds_stream_finish(ds_stream *s, const ds_dict *const *dicts, uint8_t **out_image,
		     size_t *out_size)
{
	size_t pos = s->fixed_end;
	uint8_t *meta = NULL, *img = NULL;
	int rc = 0;

	for (size_t j = 0; j < s->ncols; j++) {
		col_layout *cl = &s->cols[j];
		const ds_dict *d = dicts ? dicts[j] : NULL;
		if (cl->type != DS_STRING)
			continue;
		cl->dict_n = d ? d->n : 0;
		cl->offs_off = pos;
		cl->offs_size = (cl->dict_n + 1) * 8;
		pos = align_up(pos + cl->offs_size);
		cl->bytes_off = pos;
		cl->bytes_size = d ? d->len : 0;
		pos = align_up(pos + cl->bytes_size);
		cl->hash = checksum64(cl->dict_n ? (const void *)d->offs : (const void *)&zero_off,
				     cl->offs_size, cl->hash);
		cl->hash = checksum64(cl->bytes_size ? d->bytes : "", cl->bytes_size, cl->hash);
	}
	meta = build_meta(s, pos);
	if (!meta) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto done;
	}
	if (s->fd < 0) {
		/* Image mode (no path at open): everything is copied now, and
		 * the caller passed somewhere to put it. */
		SL__ASSERT(out_image && out_size);
		img = sl__calloc(pos, 1);
		if (!img) {
			rc = sl__err(SL_ENOMEM, "out of memory for a %zu-byte dataset", pos);
			goto done;
		}
		memcpy(img, meta, s->meta_size);
		for (size_t j = 0; j < s->ncols; j++) {
			const col_layout *cl = &s->cols[j];
			const ds_dict *d = dicts ? dicts[j] : NULL;
			if (cl->valid_size)
				memcpy(img + cl->valid_off, cl->valid, cl->valid_size);
			if (cl->data_size)
				memcpy(img + cl->data_off, cl->data, cl->data_size);
			if (cl->type == DS_STRING && cl->dict_n) {
				memcpy(img + cl->offs_off, d->offs, cl->offs_size);
				memcpy(img + cl->bytes_off, d->bytes, cl->bytes_size);
			}
		}
		*out_image = img;
		*out_size = pos;
		img = NULL;
		goto done;
	}
	/* The size first: padding and any gap are the zeros of the extension. */
	if (ftruncate(s->fd, (off_t)pos) != 0) {
		rc = sl__err(SL_EIO, "%s: truncate: %s", s->tmp, strerror(errno));
		goto done;
	}
	for (size_t j = 0; rc == 0 && j < s->ncols; j++) {
		const col_layout *cl = &s->cols[j];
		const ds_dict *d = dicts ? dicts[j] : NULL;
		if (cl->type != DS_STRING)
			continue;
		rc = pwrite_all(s, cl->dict_n ? (const void *)d->offs : &zero_off, cl->offs_size, cl->offs_off);
		if (rc == 0 && cl->bytes_size)
			rc = pwrite_all(s, d->bytes, cl->bytes_size, cl->bytes_off);
		if (rc == 0)
			start_writeback(s, cl->offs_off, cl->bytes_off + cl->bytes_size);
	}
	if (rc == 0)
		rc = pwrite_all(s, meta, s->meta_size, 0);
	if (rc == 0 && close(s->fd) != 0)
		rc = sl__err(SL_EIO, "%s: close: %s", s->tmp, strerror(errno));
	if (rc == 0) {
		s->fd = -1;
		rc = sl__commit_file(s->tmp, s->path);
		if (rc)
			unlink(s->tmp);
	}
done:
	sl__free(meta);
	sl__free(img);
	ds_stream_abort(s);
	return rc;
}

/* Opens a stream for a builder's columns (all the same length). */
static int stream_builder(const ds_builder *b, const char *path, ds_stream **out_s)
{
	const char **names = sl__calloc(b->n + 1, sizeof *names);
	ds_type *types = sl__calloc(b->n + 1, sizeof *types);
	size_t *nulls = sl__calloc(b->n + 1, sizeof *nulls);
	int rc;

	*out_s = NULL;
	if (!names || !types || !nulls) {
		rc = sl__err(SL_ENOMEM, "out of memory");
	} else {
		for (size_t j = 0; j < b->n; j++) {
			names[j] = b->cols[j].name;
			types[j] = b->cols[j].type;
			nulls[j] = b->cols[j].nulls;
		}
		rc = ds_stream_open(path, b->n ? b->cols[0].len : 0, b->n, names, types, nulls, out_s);
		for (size_t j = 0; rc == 0 && j < b->n; j++)
			rc = ds_stream_column(*out_s, j, b->cols[j].valid, b->cols[j].data);
	}
	sl__free(names);
	sl__free(types);
	sl__free(nulls);
	return rc;
}

static int finish_builder(const ds_builder *b, ds_stream *s, uint8_t **out_image, size_t *out_size)
{
	const ds_dict **dicts = sl__calloc(b->n + 1, sizeof *dicts);

	if (!dicts) {
		ds_stream_abort(s);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t j = 0; j < b->n; j++)
		dicts[j] = &b->cols[j].dict;
	int rc = ds_stream_finish(s, dicts, out_image, out_size);
	sl__free(dicts);
	return rc;
}

int ds_format_image(const ds_builder *b, uint8_t **out_image, size_t *out_size)
{
	ds_stream *s;
	int rc = stream_builder(b, NULL, &s);

	*out_image = NULL;
	if (rc) {
		ds_stream_abort(s);
		return rc;
	}
	return finish_builder(b, s, out_image, out_size);
}

int ds_format_write(const ds_builder *b, const char *path)
{
	ds_stream *s;
	int rc = stream_builder(b, path, &s);

	if (rc) {
		ds_stream_abort(s);
		return rc;
	}
	return finish_builder(b, s, NULL, NULL);
}

/* ---- reader ----------------------------------------------------------------- */

typedef struct ds_tcol {
	const char *name;
	ds_type type;
	size_t nulls;
	const uint8_t *valid;
	const void *data;
	size_t dict_n;
	const uint64_t *dict_offs;
	const char *dict_bytes;
	/* For checksum verification. */
	size_t valid_size, data_size, offs_size, bytes_size;
	uint64_t hash;
} ds_tcol;

struct ds_table {
	const uint8_t *base;
	size_t size;
	bool mapped;
	char *name;
	size_t nrow, ncol;
	ds_tcol *cols;
};

static int corrupt(const char *name, const char *what)
{
	return sl__err(SL_ECORRUPT, "%s: not a valid dataset: %s", name, what);
}

/* True when [off, off+size) lies inside the file and off is aligned. */
static bool section_ok(const ds_table *t, uint64_t off, uint64_t size)
{
	return off % ALIGN == 0 && off <= t->size && size <= t->size - off;
}

/*
 * Checks the 64-byte header h of a file of size bytes: magic, version, size,
 * the directory's and names' bounds. *meta_end gets where the bytes the
 * header checksum covers end (the directory and names, aligned).
 */
static int check_header(const char *name, const uint8_t *h, size_t size, uint32_t *out_ncols,
			uint64_t *out_nrows, uint64_t *out_names_off, uint64_t *out_names_size,
			size_t *meta_end)
{
	uint64_t nrows, fsize, dir_off, names_off, names_size;
	uint32_t ncols;

	if (size < HDR_SIZE || memcmp(h, MAGIC, 8) != 0)
		return corrupt(name, size < 8 ? "file too short" : "bad magic");
	if (get32(h + 8) != VERSION)
		return sl__err(SL_ECORRUPT, "%s: dataset format version %u is not supported (this is %u)",
			       name, get32(h + 8), VERSION);
	ncols = get32(h + 12);
	nrows = get64(h + 16);
	fsize = get64(h + 24);
	dir_off = get64(h + 32);
	names_off = get64(h + 40);
	names_size = get64(h + 48);
	if (fsize != size)
		return sl__err(SL_ECORRUPT, "%s: truncated or extended dataset (%zu bytes, header says %llu)",
			       name, size, (unsigned long long)fsize);
	if (dir_off != HDR_SIZE || names_off != HDR_SIZE + (uint64_t)ncols * DIR_ENTRY ||
	    names_size > size || names_off > size - names_size)
		return corrupt(name, "bad directory bounds");
	if (nrows > size) /* every row takes at least one byte per column */
		if (ncols)
			return corrupt(name, "row count larger than the file");
	if (align_up(names_off + names_size) > size)
		return corrupt(name, "header checksum mismatch");
	*out_ncols = ncols;
	*out_nrows = nrows;
	*out_names_off = names_off;
	*out_names_size = names_size;
	*meta_end = align_up(names_off + names_size);
	return 0;
}

/* The header checksum over meta[0 .. meta_end): the header, directory and names. */
static int check_meta(const char *name, const uint8_t *meta, size_t meta_end)
{
	uint64_t mh = checksum64(meta, 56, 0);

	mh = checksum64(meta + HDR_SIZE, meta_end - HDR_SIZE, mh);
	if (mh != get64(meta + 56))
		return corrupt(name, "header checksum mismatch");
	return 0;
}

/* The name and type of directory entry e, checked against the names section. */
static int dir_name_type(const char *name, const uint8_t *e, const char *names, size_t names_size,
			 const char **out_name, ds_type *out_type)
{
	uint32_t type = get32(e);
	uint64_t name_off = get64(e + 8), name_len = get64(e + 16);

	if (type < DS_INT64 || type > DS_TYPE_MAX)
		return corrupt(name, "unknown column type");
	if (name_off >= names_size || name_len >= names_size - name_off ||
	    names[name_off + name_len] != '\0' || strlen(names + name_off) != name_len)
		return corrupt(name, "bad column name");
	*out_type = (ds_type)type;
	*out_name = names + name_off;
	return 0;
}

static int parse_column(ds_table *t, size_t j, const uint8_t *e, const char *names,
			size_t names_size)
{
	ds_tcol *c = &t->cols[j];
	uint64_t nulls = get64(e + 24);
	uint64_t voff = get64(e + 32), vsize = get64(e + 40);
	uint64_t doff = get64(e + 48), dsize = get64(e + 56);
	uint64_t dn = get64(e + 64);
	uint64_t ooff = get64(e + 72), osize = get64(e + 80);
	uint64_t boff = get64(e + 88), bsize = get64(e + 96);
	char what[96];
	int rc = dir_name_type(t->name, e, names, names_size, &c->name, &c->type);

	if (rc)
		return rc;
	snprintf(what, sizeof what, "column %zu: bad section bounds", j);
	if (!section_ok(t, doff, dsize) || dsize != t->nrow * ds_type_width(c->type))
		return corrupt(t->name, what);
	c->data = t->base + doff;
	c->data_size = dsize;
	if (nulls > t->nrow)
		return corrupt(t->name, what);
	c->nulls = nulls;
	if (nulls) {
		if (!section_ok(t, voff, vsize) || vsize != (t->nrow + 7) / 8)
			return corrupt(t->name, what);
		c->valid = t->base + voff;
		c->valid_size = vsize;
		size_t set = 0;
		for (size_t i = 0; i < t->nrow / 8; i++)
			set += (size_t)__builtin_popcount(c->valid[i]);
		for (size_t i = t->nrow / 8 * 8; i < t->nrow; i++)
			set += ds_bit_get(c->valid, i);
		if (set != t->nrow - nulls)
			return corrupt(t->name, "null count disagrees with the validity bitmap");
	} else if (voff || vsize) {
		return corrupt(t->name, what);
	}
	if (c->type == DS_STRING) {
		if (dn > UINT32_MAX || !section_ok(t, ooff, osize) || osize != (dn + 1) * 8 ||
		    !section_ok(t, boff, bsize))
			return corrupt(t->name, what);
		c->dict_n = dn;
		/* section_ok checked the 64-byte alignment (the base is page aligned). */
		c->dict_offs = (const uint64_t *)(const void *)(t->base + ooff);
		c->dict_bytes = (const char *)t->base + boff;
		c->offs_size = osize;
		c->bytes_size = bsize;
		if (c->dict_offs[0] != 0 || c->dict_offs[dn] != bsize)
			return corrupt(t->name, "bad dictionary offsets");
		for (size_t k = 0; k < dn; k++) {
			uint64_t a = c->dict_offs[k], z = c->dict_offs[k + 1];
			if (z <= a || z > bsize || c->dict_bytes[z - 1] != '\0')
				return corrupt(t->name, "bad dictionary entry");
		}
		const uint32_t *codes = c->data;
		uint32_t bad = 0;
		if (dn == 0) {
			if (nulls != t->nrow)
				return corrupt(t->name, "string rows without a dictionary");
		} else if (!c->valid) {
			uint32_t mx = 0;
			for (size_t i = 0; i < t->nrow; i++)
				mx = codes[i] > mx ? codes[i] : mx;
			bad = mx >= dn;
		} else {
			for (size_t i = 0; i < t->nrow; i++)
				bad |= codes[i] >= dn;
		}
		if (bad)
			return corrupt(t->name, "string code outside the dictionary");
	} else if (dn || ooff || osize || boff || bsize) {
		return corrupt(t->name, what);
	}
	if (c->type == DS_BOOL) {
		const uint8_t *v = c->data;
		uint8_t acc = 0;
		for (size_t i = 0; i < t->nrow; i++)
			acc |= v[i];
		if (acc > 1)
			return corrupt(t->name, "bool value other than 0 or 1");
	}
	c->hash = get64(e + 104);
	return 0;
}

static int parse_image(ds_table *t)
{
	const uint8_t *h = t->base;
	uint64_t nrows, names_off, names_size;
	uint32_t ncols;
	size_t meta_end;
	int rc;

	if ((rc = check_header(t->name, h, t->size, &ncols, &nrows, &names_off, &names_size,
			       &meta_end)) ||
	    (rc = check_meta(t->name, h, meta_end)))
		return rc;
	t->nrow = nrows;
	t->ncol = ncols;
	t->cols = sl__calloc(ncols ? ncols : 1, sizeof *t->cols);
	if (!t->cols)
		return sl__err(SL_ENOMEM, "out of memory");
	for (size_t j = 0; j < ncols && rc == 0; j++)
		rc = parse_column(t, j, h + HDR_SIZE + j * DIR_ENTRY, (const char *)h + names_off,
				  names_size);
	return rc;
}

static ds_table *table_new(const char *name)
{
	ds_table *t = sl__calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->name = sl__strdup(name);
	if (!t->name) {
		sl__free(t);
		return NULL;
	}
	return t;
}

int ds_table_from_image(uint8_t *image, size_t size, const char *name, ds_table **out_t)
{
	ds_table *t = table_new(name);
	int rc;

	*out_t = NULL;
	if (!t) {
		sl__free(image);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	t->base = image;
	t->size = size;
	rc = parse_image(t);
	if (rc) {
		ds_close(t);
		return rc;
	}
	*out_t = t;
	return 0;
}

int ds_open(const char *path, unsigned flags, ds_table **out_t)
{
	struct stat st;
	ds_table *t;
	int fd, rc;

	*out_t = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl__err(errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = sl__err(SL_EIO, "%s: stat: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sl__err(SL_EINVAL, "%s: not a regular file", path);
	}
	if ((size_t)st.st_size < HDR_SIZE) {
		close(fd);
		return corrupt(path, "file too short for a header");
	}
	t = table_new(path);
	if (!t) {
		close(fd);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		ds_close(t);
		return sl__err(SL_EIO, "%s: mmap: %s", path, strerror(errno));
	}
	t->base = m;
	t->size = (size_t)st.st_size;
	t->mapped = true;
	rc = parse_image(t);
	if (rc == 0 && (flags & DS_OPEN_VERIFY))
		rc = ds_verify(t);
	if (rc) {
		ds_close(t);
		return rc;
	}
	*out_t = t;
	return 0;
}

int ds_verify(const ds_table *t)
{
	for (size_t j = 0; j < t->ncol; j++) {
		const ds_tcol *c = &t->cols[j];
		uint64_t h = 0;
		if (c->valid)
			h = checksum64(c->valid, c->valid_size, h);
		h = checksum64(c->data, c->data_size, h);
		if (c->type == DS_STRING) {
			h = checksum64(c->dict_offs, c->offs_size, h);
			h = checksum64(c->dict_bytes, c->bytes_size, h);
		}
		if (h != c->hash)
			return sl__err(SL_ECORRUPT, "%s: checksum mismatch in column '%s'", t->name, c->name);
	}
	return 0;
}

void ds_close(ds_table *t)
{
	if (!t)
		return;
	if (t->base) {
		if (t->mapped)
			munmap((void *)t->base, t->size);
		else
			sl__free((void *)t->base);
	}
	sl__free(t->cols);
	sl__free(t->name);
	sl__free(t);
}

bool ds_is_dataset(const char *path)
{
	char magic[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = read(fd, magic, 8) == 8 && memcmp(magic, MAGIC, 8) == 0;
	close(fd);
	return ok;
}

/* Reads size bytes at offset 0 of fd (a regular file at least that long). */
static int read_prefix(int fd, const char *path, uint8_t *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? sl__err(SL_EIO, "%s: %s", path, strerror(errno))
				     : corrupt(path, "file shorter than its header says");
		got += (size_t)n;
	}
	return 0;
}

int ds_read_columns(const char *path, ds_columns *out)
{
	uint8_t hdr[HDR_SIZE], *meta = NULL;
	uint64_t nrows, names_off, names_size;
	uint32_t ncols = 0;
	size_t meta_end;
	struct stat st;
	int fd, rc;

	memset(out, 0, sizeof *out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl__err(errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0)
		rc = sl__err(SL_EIO, "%s: stat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = sl__err(SL_EINVAL, "%s: not a regular file", path);
	else if ((size_t)st.st_size < HDR_SIZE)
		rc = corrupt(path, "file too short for a header");
	else if ((rc = read_prefix(fd, path, hdr, HDR_SIZE)) == 0 &&
		 (rc = check_header(path, hdr, (size_t)st.st_size, &ncols, &nrows, &names_off,
				    &names_size, &meta_end)) == 0) {
		/* The header, the directory and the names: what its checksum covers. */
		meta = sl__malloc(meta_end);
		rc = meta ? read_prefix(fd, path, meta, meta_end) : sl__oom();
	}
	close(fd);
	if (rc == 0)
		rc = check_meta(path, meta, meta_end);
	if (rc == 0) {
		out->meta = meta;
		out->names = sl__calloc((size_t)ncols + 1, sizeof *out->names);
		out->types = sl__calloc((size_t)ncols + 1, sizeof *out->types);
		rc = out->names && out->types ? 0 : sl__oom();
	}
	for (size_t j = 0; rc == 0 && j < ncols; j++)
		rc = dir_name_type(path, meta + HDR_SIZE + j * DIR_ENTRY,
				   (const char *)meta + names_off, names_size, &out->names[j],
				   &out->types[j]);
	if (rc) {
		if (!out->meta)
			sl__free(meta);
		ds_columns_free(out);
		return rc;
	}
	out->n = ncols;
	return 0;
}

void ds_columns_free(ds_columns *c)
{
	sl__free(c->names);
	sl__free(c->types);
	sl__free(c->meta);
	memset(c, 0, sizeof *c);
}

int ds_table_write(const ds_table *t, const char *path)
{
	return sl__write_atomic(path, t->base, t->size);
}

/* ---- accessors -------------------------------------------------------------- */

size_t ds_nrow(const ds_table *t)
{
	return t->nrow;
}

size_t ds_ncol(const ds_table *t)
{
	return t->ncol;
}

const char *ds_col_name(const ds_table *t, size_t j)
{
	return t->cols[j].name;
}

ds_type ds_col_type(const ds_table *t, size_t j)
{
	return t->cols[j].type;
}

int ds_col_find(const ds_table *t, const char *name, size_t *out_j)
{
	for (size_t j = 0; j < t->ncol; j++) {
		if (!strcmp(t->cols[j].name, name)) {
			*out_j = j;
			return 0;
		}
	}
	return sl__err(SL_ENOENT, "no column named '%s'", name);
}

size_t ds_col_nulls(const ds_table *t, size_t j)
{
	return t->cols[j].nulls;
}

const uint8_t *ds_col_validity(const ds_table *t, size_t j)
{
	return t->cols[j].valid;
}

const int64_t *ds_col_i64(const ds_table *t, size_t j)
{
	ds_type ty = t->cols[j].type;

	return ty == DS_INT64 || ty == DS_TIMESTAMP ? t->cols[j].data : NULL;
}

const double *ds_col_f64(const ds_table *t, size_t j)
{
	return t->cols[j].type == DS_FLOAT64 ? t->cols[j].data : NULL;
}

const uint8_t *ds_col_bool(const ds_table *t, size_t j)
{
	return t->cols[j].type == DS_BOOL ? t->cols[j].data : NULL;
}

const uint32_t *ds_col_codes(const ds_table *t, size_t j)
{
	return t->cols[j].type == DS_STRING ? t->cols[j].data : NULL;
}

size_t ds_dict_size(const ds_table *t, size_t j)
{
	return t->cols[j].dict_n;
}

const char *ds_dict_str(const ds_table *t, size_t j, uint32_t code, size_t *out_len)
{
	const ds_tcol *c = &t->cols[j];

	if (code >= c->dict_n) {
		if (out_len)
			*out_len = 0;
		return NULL;
	}
	if (out_len)
		*out_len = (size_t)(c->dict_offs[code + 1] - c->dict_offs[code] - 1);
	return c->dict_bytes + c->dict_offs[code];
}

const char *ds_col_str(const ds_table *t, size_t j, size_t i, size_t *out_len)
{
	const ds_tcol *c = &t->cols[j];

	if (c->type != DS_STRING || i >= t->nrow || !ds_valid(c->valid, i)) {
		if (out_len)
			*out_len = 0;
		return NULL;
	}
	return ds_dict_str(t, j, ((const uint32_t *)c->data)[i], out_len);
}

bool ds_get_f64(const ds_table *t, size_t j, size_t i, double *out)
{
	const ds_tcol *c = &t->cols[j];

	if (i >= t->nrow || !ds_valid(c->valid, i))
		return false;
	switch (c->type) {
	case DS_INT64:
	case DS_TIMESTAMP:
		*out = (double)((const int64_t *)c->data)[i];
		return true;
	case DS_FLOAT64:
		*out = ((const double *)c->data)[i];
		return true;
	case DS_BOOL:
		*out = ((const uint8_t *)c->data)[i];
		return true;
	case DS_STRING:
		break;
	}
	return false;
}
