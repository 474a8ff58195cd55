/*
 * Reading the inference log (log.h's ilog_scan): every segment of a
 * directory, open (.jsonl) or compressed (.jsonl.zst), oldest first, record
 * by record; or newest record first (ilog_scan_rev), for readers that want
 * the log's tail and stop once they have it: an open segment is read from
 * its end backwards, a chunk at a time, so that such a reader's cost
 * follows what it reads, not the segment's size. The reader runs beside a
 * live server: a segment compressed
 * while the reader lists the directory is read once (the compressed copy is
 * preferred when both names are seen), and the open segment's last line is
 * read only once its newline has been written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "core.h"
#include "serve/log.h"

/* Schema records seen so far: "MODEL\x1fVERSION" -> the record. */
struct ilog_schemas {
	json_t *by_key;
};

static int schema_key(const char *model, const char *version, char *buf, size_t size)
{
	return snprintf(buf, size, "%s\x1f%s", model, version) < (int)size ? 0 : -1;
}

static void keep_schema(ilog_schemas *sch, const char *line, size_t len)
{
	bool oom = false;
	json_t *rec = sl__json_loadb(line, len, 0, NULL, &oom);
	const char *m = json_string_value(json_object_get(rec, "model"));
	const char *v = json_string_value(json_object_get(rec, "version"));
	char key[512];

	if (m && v && json_is_array(json_object_get(rec, "inputs")) &&
	    json_is_array(json_object_get(rec, "outputs")) && !schema_key(m, v, key, sizeof key))
		json_object_set(sch->by_key, key, rec);
	json_decref(rec);
}

/* rows (an array of arrays) as columns named by names; NULL when they do not fit. */
static json_t *columns(json_t *rows, json_t *names)
{
	json_t *cols = json_object();
	size_t n = json_array_size(names), i, j;
	json_t *row, *name;

	if (!cols)
		return NULL;
	json_array_foreach(names, j, name) {
		json_t *col = json_array();
		if (!col || !json_is_string(name) || json_object_set_new(cols, json_string_value(name), col))
			goto bad;
	}
	json_array_foreach(rows, i, row) {
		if (!json_is_array(row) || json_array_size(row) != n)
			goto bad;
		for (j = 0; j < n; j++)
			json_array_append(json_object_get(cols, json_string_value(json_array_get(names, j))),
					  json_array_get(row, j));
	}
	return cols;
bad:
	json_decref(cols);
	return NULL;
}

int ilog_expand(const ilog_schemas *sch, json_t *rec)
{
	const char *m = json_string_value(json_object_get(rec, "model"));
	const char *v = json_string_value(json_object_get(rec, "version"));
	char key[512];

	if (!m || !v || schema_key(m, v, key, sizeof key))
		return ilog_expand_with(NULL, rec);
	return ilog_expand_with(json_object_get(sch->by_key, key), rec);
}

int ilog_expand_with(const json_t *schema, json_t *rec)
{
	json_t *ins = json_object_get(rec, "inputs"), *outs = json_object_get(rec, "outputs");
	const char *m = json_string_value(json_object_get(rec, "model"));
	const char *v = json_string_value(json_object_get(rec, "version"));
	json_t *ci = NULL, *co = NULL;

	if (!json_is_array(ins) && !json_is_array(outs))
		return 0;
	if (!m || !v || !schema)
		return sl__err(SL_ECORRUPT, "a log record of %s@%s has no schema record before it",
			       m ? m : "?", v ? v : "?");
	if (json_is_array(ins) && !(ci = columns(ins, json_object_get(schema, "inputs"))))
		return sl__err(SL_ECORRUPT, "a log record of %s@%s does not fit its schema", m, v);
	if (json_is_array(outs) && !(co = columns(outs, json_object_get(schema, "outputs")))) {
		json_decref(ci);
		return sl__err(SL_ECORRUPT, "a log record of %s@%s does not fit its schema", m, v);
	}
	if (ci)
		json_object_set_new(rec, "inputs", ci);
	if (co)
		json_object_set_new(rec, "outputs", co);
	return 0;
}

typedef struct seg {
	char *name;
	bool zst;
	uint64_t size; /* listed with sizes: the text it holds, about (ilog_budget) */
} seg;

static int cmp_seg(const void *a, const void *b)
{
	return strcmp(((const seg *)a)->name, ((const seg *)b)->name);
}

static void segs_free(seg *segs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sl__free(segs[i].name);
	sl__free(segs);
}

/*
 * The segment files of an open directory, sorted by name (oldest first),
 * into *out (segs_free); with sized, each with its size, a compressed one's
 * counted ILOG_ZST_RATIO times (what reading costs is the text: a streamed
 * frame does not say how much it holds). A file gone meanwhile is left out.
 */
static int list_segs(DIR *d, bool sized, seg **out, size_t *out_n)
{
	struct dirent *e;
	seg *segs = NULL;
	size_t n = 0, cap = 0;

	while ((e = readdir(d))) {
		bool zst = sl__str_has_suffix(e->d_name, ".jsonl.zst");
		struct stat st;
		if (!zst && !sl__str_has_suffix(e->d_name, ".jsonl"))
			continue;
		if (sized && fstatat(dirfd(d), e->d_name, &st, 0) != 0)
			continue; /* removed by retention meanwhile */
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			seg *s = sl__reallocarray(segs, c, sizeof *s);
			if (!s) {
				segs_free(segs, n);
				return sl__oom();
			}
			segs = s;
			cap = c;
		}
		if (!(segs[n].name = sl__strdup(e->d_name))) {
			segs_free(segs, n);
			return sl__oom();
		}
		segs[n].zst = zst;
		segs[n].size = sized ? (uint64_t)st.st_size * (zst ? ILOG_ZST_RATIO : 1) : 0;
		n++;
	}
	if (n)
		qsort(segs, n, sizeof *segs, cmp_seg);
	*out = segs;
	*out_n = n;
	return 0;
}


/* The start time a segment's name carries ("20261130T112233-..."), in ms; 0 when unreadable. */
static int64_t name_time(const char *name)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (strlen(name) < 15 || name[8] != 'T')
		return 0;
	if (sscanf(name, "%4d%2d%2dT%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000;
}

/*
 * Feeds the records of acc to fn and returns (in *consumed) how many bytes
 * were used. A record is text that follows a line end, a NUL or the start
 * and ends with a line end; text cut by a NUL is what a crash left of an
 * unanswered request (log.h, invariant 2) and is skipped.
 */
static int lines(sl__buf *acc, ilog_record_fn fn, void *ud, ilog_schemas *sch, size_t *consumed)
{
	size_t start = 0;

	/* memchr and memrchr rather than a loop over the bytes: this is every
	 * reader's inner loop, and records are hundreds of bytes long. */
	while (start < acc->len) {
		char *nl = memchr(acc->data + start, '\n', acc->len - start);
		char *z = memrchr(acc->data + start, 0, (nl ? (size_t)(nl - acc->data) : acc->len) - start);
		size_t i;
		if (z)
			start = (size_t)(z - acc->data) + 1; /* a record a crash cut ends there */
		if (!nl)
			break;
		i = (size_t)(nl - acc->data);
		*nl = 0;
		if (i > start && !strncmp(acc->data + start, "{\"schema\":", 10)) {
			keep_schema(sch, acc->data + start, i - start);
		} else if (i > start) {
			int rc = fn(ud, acc->data + start, i - start, sch);
			if (rc) {
				*nl = '\n';
				*consumed = i + 1;
				return rc;
			}
		}
		*nl = '\n';
		start = i + 1;
	}
	*consumed = start;
	return 0;
}

static void drop_front(sl__buf *acc, size_t n)
{
	memmove(acc->data, acc->data + n, acc->len - n);
	acc->len -= n;
	if (acc->data)
		acc->data[acc->len] = 0;
}

static int read_plain(int fd, const char *path, ilog_record_fn fn, void *ud, ilog_schemas *sch,
		      sl__buf *acc)
{
	char buf[1 << 16];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		size_t used;
		int rc;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sl__err(SL_EIO, "cannot read %s: %s", path, strerror(errno));
		}
		if (n == 0)
			return 0; /* a last line without newline is not a record (log.h) */
		if ((rc = sl__buf_append(acc, buf, (size_t)n)))
			return rc;
		if ((rc = lines(acc, fn, ud, sch, &used)))
			return rc;
		drop_front(acc, used);
	}
}

static int read_zst(int fd, const char *path, ilog_record_fn fn, void *ud, ilog_schemas *sch,
		    sl__buf *acc)
{
	size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
	char *in = sl__malloc(in_cap), *out = sl__malloc(out_cap);
	ZSTD_DCtx *dx = ZSTD_createDCtx();
	int rc = 0;

	if (!in || !out || !dx) {
		rc = sl__oom();
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, in, in_cap);
		ZSTD_inBuffer ib = {in, n > 0 ? (size_t)n : 0, 0};
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = sl__err(SL_EIO, "cannot read %s: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = {out, out_cap, 0};
			size_t r = ZSTD_decompressStream(dx, &ob, &ib), used;
			if (ZSTD_isError(r)) {
				rc = sl__err(SL_ECORRUPT, "%s: %s", path, ZSTD_getErrorName(r));
				goto done;
			}
			if ((rc = sl__buf_append(acc, out, ob.pos)))
				goto done;
			if ((rc = lines(acc, fn, ud, sch, &used)))
				goto done;
			drop_front(acc, used);
		}
	}
done:
	ZSTD_freeDCtx(dx);
	sl__free(in);
	sl__free(out);
	return rc;
}

int ilog_budget(const char *dir, uint64_t budget, int64_t *since_ms, size_t *n_segs,
		uint64_t *bytes)
{
	DIR *d = opendir(dir);
	seg *segs = NULL;
	size_t n = 0;
	int rc;

	*since_ms = 0;
	*n_segs = 0;
	*bytes = 0;
	if (!d)
		return errno == ENOENT ? 0
				       : sl__err(SL_EIO, "cannot read the log directory %s: %s", dir,
						 strerror(errno));
	rc = list_segs(d, true, &segs, &n);
	closedir(d);
	/* Newest first, while the budget lasts; the newest is always read. */
	for (size_t i = n; rc == 0 && i-- > 0;) {
		if (*n_segs && *bytes + segs[i].size > budget) {
			*since_ms = name_time(segs[i + 1].name);
			break;
		}
		*bytes += segs[i].size;
		(*n_segs)++;
	}
	segs_free(segs, n);
	return rc;
}

/*
 * Opens a segment (the compressed copy when it was compressed since the
 * listing, which sg then says) into *fd and stats it; *fd is -1 when the
 * segment is gone (retention). 0 or an error; *path is the caller's.
 */
static int open_seg(const char *dir, seg *sg, char **path, struct stat *st, int *fd)
{
	*fd = -1;
	if (!(*path = sl__path_join(dir, sg->name)))
		return sl__oom();
	*fd = open(*path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 && !sg->zst && errno == ENOENT) {
		char *z = sl__asprintf("%s.zst", *path);
		sl__free(*path);
		*path = z;
		if (!z)
			return sl__oom();
		*fd = open(z, O_RDONLY | O_CLOEXEC);
		sg->zst = true;
	}
	if (*fd < 0)
		return errno == ENOENT ? 0 /* removed by retention meanwhile: fine */
				       : sl__err(SL_EIO, "cannot open %s: %s", *path, strerror(errno));
	if (fstat(*fd, st) != 0)
		memset(st, 0, sizeof *st);
	return 0;
}

/* "X.jsonl" sorts right before "X.jsonl.zst": the same segment caught in
 * the middle of its compression, read once (as the compressed copy). */
static bool superseded(const seg *segs, size_t n, size_t i)
{
	return !segs[i].zst && i + 1 < n && segs[i + 1].zst &&
	       strlen(segs[i + 1].name) == strlen(segs[i].name) + 4 &&
	       !strncmp(segs[i + 1].name, segs[i].name, strlen(segs[i].name));
}

/* Lists dir's segments into *segs; 1 when dir does not exist (an empty log). */
static int list_dir(const char *dir, seg **segs, size_t *n)
{
	DIR *d = opendir(dir);
	int rc;

	*segs = NULL;
	*n = 0;
	if (!d) {
		if (errno == ENOENT)
			return 1; /* no server has logged here yet */
		return sl__err(SL_EIO, "cannot read the log directory %s: %s", dir, strerror(errno));
	}
	rc = list_segs(d, false, segs, n);
	closedir(d);
	return rc;
}

int ilog_scan(const char *dir, int64_t since_ms, int64_t until_ms, ilog_record_fn fn, void *ud)
{
	ilog_schemas sch = {NULL};
	seg *segs = NULL;
	size_t n = 0;
	sl__buf acc;
	int rc;

	if ((rc = list_dir(dir, &segs, &n)))
		return rc > 0 ? 0 : rc;
	sl__buf_init(&acc, (size_t)1 << 30);
	if (!(sch.by_key = json_object()))
		rc = sl__oom();
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path = NULL;
		struct stat st;
		int fd;
		if (superseded(segs, n, i) || (until_ms && name_time(segs[i].name) > until_ms))
			continue;
		if ((rc = open_seg(dir, &segs[i], &path, &st, &fd)) || fd < 0) {
			sl__free(path);
			continue;
		}
		/* Last written before since: holds nothing newer. */
		if (!since_ms || (int64_t)st.st_mtime * 1000 + 999 >= since_ms) {
			sl__buf_reset(&acc);
			rc = segs[i].zst ? read_zst(fd, path, fn, ud, &sch, &acc)
					 : read_plain(fd, path, fn, ud, &sch, &acc);
		}
		close(fd);
		sl__free(path);
	}
	sl__buf_free(&acc);
	json_decref(sch.by_key);
	segs_free(segs, n);
	return rc;
}

/* ---- newest record first (ilog_scan_rev) ---------------------------------------------- */

/*
 * One segment being read backwards. text holds bytes [lo, lo + text.len)
 * of the segment: all of a compressed one (lo 0), a window of an open one
 * that grows towards the start as older records are asked for.
 */
struct ilog_rseg {
	const char *path;
	int fd;             /* a plain segment's, else -1 */
	sl__buf text;
	uint64_t lo;
	uint64_t pos;       /* the offset of the record fn has */
	bool cut;           /* a record cut by a NUL was met */
	ilog_schemas sch;   /* schema records found reading forward from the start */
	uint64_t sch_off;   /* how far that reading got */
	sl__buf fwd;        /* its buffer (plain segments) */
};

#define REV_CHUNK ((size_t)1 << 18)

static int noop_line(void *ud, const char *line, size_t len, const ilog_schemas *sch)
{
	(void)ud, (void)line, (void)len, (void)sch;
	return 0;
}

int ilog_rseg_schema(ilog_rseg *s, const char *model, const char *version, json_t **out)
{
	char key[512], buf[1 << 16];
	int rc;

	*out = NULL;
	if (schema_key(model, version, key, sizeof key))
		return 0;
	/* Forward from where the last look stopped, up to the record (a
	 * version's schema record comes before its first record in a
	 * segment): every record of the segment asks at most once per
	 * version, and usually finds it in the segment's first lines. */
	while (!(*out = json_object_get(s->sch.by_key, key)) && s->sch_off < s->pos) {
		size_t used, n = (size_t)(s->pos - s->sch_off);
		if (s->fd < 0) {
			/* Decompressed text, all in memory: one pass over it. */
			sl__buf view = {s->text.data + s->sch_off, n, n, n};
			if ((rc = lines(&view, noop_line, NULL, &s->sch, &used)))
				return rc;
			s->sch_off = s->pos;
			continue;
		}
		/* Never past the record: what follows it is not "before" it. */
		uint64_t at = s->sch_off + s->fwd.len;
		n = at < s->pos ? (size_t)(s->pos - at) : 0;
		if (n == 0) {
			s->sch_off = s->pos; /* every line before the record was looked at */
			break;
		}
		ssize_t got = pread(s->fd, buf, n < sizeof buf ? n : sizeof buf, (off_t)at);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? sl__err(SL_EIO, "cannot read %s: %s", s->path, strerror(errno)) : 0;
		if ((rc = sl__buf_append(&s->fwd, buf, (size_t)got)) ||
		    (rc = lines(&s->fwd, noop_line, NULL, &s->sch, &used)))
			return rc;
		drop_front(&s->fwd, used);
		s->sch_off += used;
	}
	return 0;
}

/*
 * Reads n more bytes of a plain segment, before lo, keeping the first keep
 * bytes of text after them. Bytes a concurrent truncation took (only the
 * zeros after a closed segment's records) read as zeros.
 */
static int rev_more(ilog_rseg *s, size_t keep)
{
	size_t n = s->lo < REV_CHUNK ? (size_t)s->lo : REV_CHUNK, got = 0;
	int rc;

	s->text.len = keep;
	if ((rc = sl__buf_reserve(&s->text, n)))
		return rc;
	memmove(s->text.data + n, s->text.data, keep);
	while (got < n) {
		ssize_t r = pread(s->fd, s->text.data + got, n - got, (off_t)(s->lo - n + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sl__err(SL_EIO, "cannot read %s: %s", s->path, strerror(errno));
		if (r == 0) {
			memset(s->text.data + got, 0, n - got);
			break;
		}
		got += (size_t)r;
	}
	s->lo -= n;
	s->text.len = n + keep;
	return 0;
}

/*
 * The records of s newest first (the same text lines() takes as records,
 * log.h invariant 2). 0 when the segment is done (or fn left it),
 * ILOG_STOP or an error.
 */
static int rev_records(ilog_rseg *s, ilog_rrec_fn fn, void *ud)
{
	uint64_t end = 0; /* just past the newline ending the next record, once found */
	bool have_end = false;
	int rc;

	for (;;) {
		size_t lim = have_end ? (size_t)(end - 1 - s->lo) : s->text.len;
		char *nl = lim ? memrchr(s->text.data, '\n', lim) : NULL;
		if (!nl && s->lo > 0) {
			/* Before the last line end nothing is kept: what follows it
			 * is a line being written, or zeros. */
			if ((rc = rev_more(s, have_end ? (size_t)(end - s->lo) : 0)))
				return rc;
			continue;
		}
		if (!have_end) {
			if (!nl)
				return 0; /* no whole record */
			end = s->lo + (uint64_t)(nl - s->text.data) + 1;
			have_end = true;
			continue;
		}
		size_t start = nl ? (size_t)(nl - s->text.data) + 1 : 0, stop = lim;
		char *z = stop > start ? memrchr(s->text.data + start, 0, stop - start) : NULL;
		if (z) {
			start = (size_t)(z - s->text.data) + 1; /* a record a crash cut ends there */
			s->cut = true;
		}
		if (stop > start && strncmp(s->text.data + start, "{\"schema\":", 10)) {
			s->pos = s->lo + start;
			s->text.data[stop] = 0;
			rc = fn(ud, s->text.data + start, stop - start, s);
			s->text.data[stop] = '\n';
			if (rc)
				return rc == ILOG_SKIP ? 0 : rc;
		}
		if (!nl)
			return 0;
		end = s->lo + (uint64_t)(nl - s->text.data) + 1;
	}
}

/* All of a compressed segment's text into out. */
static int zst_all(int fd, const char *path, sl__buf *out)
{
	size_t in_cap = ZSTD_DStreamInSize();
	char *in = sl__malloc(in_cap);
	ZSTD_DCtx *dx = ZSTD_createDCtx();
	int rc = 0;

	if (!in || !dx) {
		rc = sl__oom();
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, in, in_cap);
		ZSTD_inBuffer ib = {in, n > 0 ? (size_t)n : 0, 0};
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sl__err(SL_EIO, "cannot read %s: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		while (ib.pos < ib.size) {
			if ((rc = sl__buf_reserve(out, ZSTD_DStreamOutSize())))
				goto done;
			ZSTD_outBuffer ob = {out->data + out->len, out->cap - out->len - 1, 0};
			size_t r = ZSTD_decompressStream(dx, &ob, &ib);
			if (ZSTD_isError(r)) {
				rc = sl__err(SL_ECORRUPT, "%s: %s", path, ZSTD_getErrorName(r));
				goto done;
			}
			out->len += ob.pos;
		}
	}
done:
	ZSTD_freeDCtx(dx);
	sl__free(in);
	return rc;
}

/* The instance part of a segment's name ("1f3a9c0b"), into *at and *len; false when none. */
static bool instance_of(const char *name, const char **at, size_t *len)
{
	const char *a = strchr(name, '-'), *b = a ? strchr(a + 1, '-') : NULL;

	if (!b)
		return false;
	*at = a + 1;
	*len = (size_t)(b - a - 1);
	return true;
}

/* The start a segment's name carries, to the millisecond; 0 when unreadable. */
static int64_t name_ms(const char *name)
{
	int64_t t = name_time(name);
	unsigned ms;

	if (t && name[15] == '.' && sscanf(name + 16, "%3u", &ms) == 1)
		t += ms;
	return t;
}

/* When the server that wrote segment i opened its next one (log.h), or 0. */
static int64_t closed_at(const seg *segs, size_t n, size_t i)
{
	const char *ia, *ib;
	size_t la, lb;

	if (!instance_of(segs[i].name, &ia, &la))
		return 0;
	for (size_t j = i + 1; j < n; j++) {
		if (!strncmp(segs[j].name, segs[i].name, strlen(segs[i].name)))
			continue; /* its own compressed copy */
		if (instance_of(segs[j].name, &ib, &lb) && la == lb && !memcmp(ia, ib, la))
			return name_ms(segs[j].name);
	}
	return 0;
}

/*
 * Whether kept (seg_fn's read_fd) may stand for segment fd: the compressed
 * copy's content size (zstd's frame header: the compressor pledges it) is
 * kept's size; a plain segment must be the same file.
 */
static bool kept_is(int kept, int fd, bool zst)
{
	struct stat a, b;

	if (fstat(kept, &a) || fstat(fd, &b))
		return false;
	if (!zst)
		return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	char hdr[18]; /* a frame header's most (ZSTD_FRAMEHEADERSIZE_MAX, not public) */
	ssize_t n = pread(fd, hdr, sizeof hdr, 0);
	unsigned long long size = n > 0 ? ZSTD_getFrameContentSize(hdr, (size_t)n) : ZSTD_CONTENTSIZE_ERROR;
	return size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN &&
	       size == (unsigned long long)a.st_size;
}

uint64_t ilog_rseg_pos(const ilog_rseg *s)
{
	return s->pos;
}

bool ilog_rseg_cut(const ilog_rseg *s)
{
	return s->cut;
}

int ilog_scan_rev(const char *dir, ilog_rseg_fn seg_fn, ilog_rrec_fn fn, void *ud)
{
	seg *segs = NULL;
	size_t n = 0, n_plain = 0;
	uint64_t listing = 0;
	ilog_rseg s;
	int rc;

	if (!seg_fn || !fn)
		return sl__err(SL_EINVAL, "ilog_scan_rev: no segment or record function");
	if ((rc = list_dir(dir, &segs, &n)))
		return rc > 0 ? 0 : rc;
	const char *inst = NULL, *ia;
	size_t inst_len = 0, la;
	bool one_writer = true;
	if (n && !instance_of(segs[n - 1].name, &inst, &inst_len))
		one_writer = false;
	for (size_t i = 0; i < n; i++) {
		listing = sl__hash64_seed(segs[i].name, strlen(segs[i].name) + 1, listing);
		if (!segs[i].zst && !superseded(segs, n, i)) {
			n_plain++;
			if (!instance_of(segs[i].name, &ia, &la) || la != inst_len || memcmp(ia, inst, la))
				one_writer = false;
		}
	}
	memset(&s, 0, sizeof s);
	sl__buf_init(&s.text, 0);
	sl__buf_init(&s.fwd, 0);
	for (size_t k = 0; k < n && rc == 0; k++) {
		size_t i = n - 1 - k;
		char *path = NULL;
		struct stat st;
		int fd, want;
		if (superseded(segs, n, i))
			continue;
		if ((rc = open_seg(dir, &segs[i], &path, &st, &fd)) || fd < 0) {
			sl__free(path);
			continue;
		}
		ilog_seginfo si = {.name = segs[i].name,
				   .zst = segs[i].zst,
				   .start_ms = name_time(segs[i].name),
				   .last_write_ms = (int64_t)st.st_mtime * 1000 + 999,
				   .closed_ms = closed_at(segs, n, i),
				   .listing = listing,
				   .n_plain = n_plain,
				   .one_writer = one_writer,
				   .fd = fd,
				   .read_fd = -1};
		want = seg_fn(ud, &si);
		if (want == 0 && (s.sch.by_key = json_object())) {
			s.path = path;
			s.pos = s.sch_off = s.lo = 0;
			s.cut = false;
			sl__buf_reset(&s.text);
			sl__buf_reset(&s.fwd);
			struct stat ks;
			if (si.read_fd >= 0 && kept_is(si.read_fd, fd, segs[i].zst) &&
			    fstat(si.read_fd, &ks) == 0) {
				s.fd = si.read_fd;
				s.lo = (uint64_t)ks.st_size;
			} else if (segs[i].zst) {
				s.fd = -1;
				rc = zst_all(fd, path, &s.text);
			} else {
				s.fd = fd;
				s.lo = (uint64_t)st.st_size;
			}
			if (rc == 0)
				rc = rev_records(&s, fn, ud);
			json_decref(s.sch.by_key);
			s.sch.by_key = NULL;
		} else if (want == 0) {
			rc = sl__oom();
		} else if (want != ILOG_SKIP) {
			rc = want;
		}
		close(fd);
		sl__free(path);
	}
	sl__buf_free(&s.text);
	sl__buf_free(&s.fwd);
	segs_free(segs, n);
	return rc;
}
