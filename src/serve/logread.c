/*
 * Reading the inference log (log.h's ilog_scan): every segment of a
 * directory, open (.jsonl) or compressed (.jsonl.zst), oldest first, record
 * by record; or newest segment first (ilog_scan_back), for readers that
 * want the log's tail and stop once they have it. The reader runs beside a live server: a segment compressed
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
	json_t *ins = json_object_get(rec, "inputs"), *outs = json_object_get(rec, "outputs");
	const char *m = json_string_value(json_object_get(rec, "model"));
	const char *v = json_string_value(json_object_get(rec, "version"));
	json_t *schema, *ci = NULL, *co = NULL;
	char key[512];

	if (!json_is_array(ins) && !json_is_array(outs))
		return 0;
	if (!m || !v || schema_key(m, v, key, sizeof key) ||
	    !(schema = json_object_get(sch->by_key, key)))
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

/*
 * Both scans: oldest segment first skipping those outside [since, until],
 * or newest first as seg_fn (non-NULL) decides (log.h).
 */
static int scan(const char *dir, int64_t since_ms, int64_t until_ms, ilog_segment_fn seg_fn,
		ilog_record_fn fn, void *ud)
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
	for (size_t k = 0; k < n && rc == 0; k++) {
		size_t i = seg_fn ? n - 1 - k : k;
		char *path = NULL;
		struct stat st;
		int fd, want = 0;
		if (superseded(segs, n, i) || (until_ms && name_time(segs[i].name) > until_ms))
			continue;
		if ((rc = open_seg(dir, &segs[i], &path, &st, &fd)) || fd < 0) {
			sl__free(path);
			continue;
		}
		if (seg_fn)
			want = seg_fn(ud, (int64_t)st.st_mtime * 1000 + 999);
		else if (since_ms && (int64_t)st.st_mtime * 1000 + 999 < since_ms)
			want = ILOG_SKIP; /* last written before since: holds nothing newer */
		if (want == 0) {
			sl__buf_reset(&acc);
			rc = segs[i].zst ? read_zst(fd, path, fn, ud, &sch, &acc)
					 : read_plain(fd, path, fn, ud, &sch, &acc);
		} else if (want != ILOG_SKIP) {
			rc = want;
		}
		close(fd);
		sl__free(path);
	}
	if (seg_fn && rc >= 0) {
		int end = seg_fn(ud, -1);
		if (end < 0)
			rc = end;
	}
	sl__buf_free(&acc);
	json_decref(sch.by_key);
	segs_free(segs, n);
	return rc;
}

int ilog_scan(const char *dir, int64_t since_ms, int64_t until_ms, ilog_record_fn fn, void *ud)
{
	return scan(dir, since_ms, until_ms, NULL, fn, ud);
}

int ilog_scan_back(const char *dir, ilog_segment_fn seg_fn, ilog_record_fn fn, void *ud)
{
	return seg_fn ? scan(dir, 0, 0, seg_fn, fn, ud)
		      : sl__err(SL_EINVAL, "ilog_scan_back: no segment function");
}
