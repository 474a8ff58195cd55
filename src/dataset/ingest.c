/*
 * What the ingest steps share beyond the readers: expanding a path option
 * that may be a glob into a sorted file list, and writing the rejects file
 * of quarantined rows.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/internal.h"

static int by_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ds_paths_free(char **paths, size_t n)
{
	if (!paths)
		return;
	for (size_t i = 0; i < n; i++)
		sl__free(paths[i]);
	sl__free(paths);
}

int ds_glob(const char *pattern, char ***out_paths, size_t *out_n)
{
	glob_t g;
	char **paths;
	size_t n = 0;
	int grc;

	*out_paths = NULL;
	*out_n = 0;
	if (!strpbrk(pattern, "*?[")) {
		if (!sl__is_file(pattern))
			return sl__err(SL_ENOENT, "%s: no such file", pattern);
		paths = sl__calloc(1, sizeof *paths);
		if (!paths || !(paths[0] = sl__strdup(pattern))) {
			sl__free(paths);
			return sl__err(SL_ENOMEM, "out of memory");
		}
		*out_paths = paths;
		*out_n = 1;
		return 0;
	}
	grc = glob(pattern, GLOB_ERR | GLOB_NOSORT, NULL, &g);
	if (grc == GLOB_NOMATCH)
		return sl__err(SL_ENOENT, "%s: no file matches the pattern", pattern);
	if (grc != 0)
		return sl__err(grc == GLOB_NOSPACE ? SL_ENOMEM : SL_EIO, "%s: cannot expand the pattern",
			       pattern);
	paths = sl__calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof *paths);
	if (!paths) {
		globfree(&g);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (!sl__is_file(g.gl_pathv[i]))
			continue; /* directories that match are not inputs */
		if (!(paths[n++] = sl__strdup(g.gl_pathv[i]))) {
			globfree(&g);
			ds_paths_free(paths, n);
			return sl__err(SL_ENOMEM, "out of memory");
		}
	}
	globfree(&g);
	if (n == 0) {
		sl__free(paths);
		return sl__err(SL_ENOENT, "%s: no file matches the pattern", pattern);
	}
	qsort(paths, n, sizeof *paths, by_bytes);
	*out_paths = paths;
	*out_n = n;
	return 0;
}

struct ds_rejects {
	FILE *f;
	char *tmp;
	char *path;
	uint64_t count;
};

static void put_field(FILE *f, const char *s, size_t len)
{
	putc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			putc('"', f);
		putc(s[i], f);
	}
	putc('"', f);
}

int ds_rejects_open(const char *path, ds_rejects **out_r)
{
	ds_rejects *r = sl__calloc(1, sizeof *r);
	char rnd[9];

	*out_r = NULL;
	if (!r)
		return sl__err(SL_ENOMEM, "out of memory");
	sl__random_hex(rnd, 8);
	r->path = sl__strdup(path);
	r->tmp = sl__asprintf("%s.tmp-%s", path, rnd);
	if (!r->path || !r->tmp) {
		ds_rejects_close(r, false);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	r->f = fopen(r->tmp, "wbx");
	if (!r->f) {
		int rc = sl__err(SL_EIO, "%s: create: %s", r->tmp, strerror(errno));
		ds_rejects_close(r, false);
		return rc;
	}
	fputs("file,line,column,reason,raw\n", r->f);
	*out_r = r;
	return 0;
}

int ds_rejects_add(void *arg, const char *file, uint64_t line, uint64_t col, const char *reason,
		   const char *raw, size_t raw_len)
{
	ds_rejects *r = arg;

	put_field(r->f, file, strlen(file));
	fprintf(r->f, ",%llu,%llu,", (unsigned long long)line, (unsigned long long)col);
	put_field(r->f, reason, strlen(reason));
	putc(',', r->f);
	put_field(r->f, raw, raw_len);
	putc('\n', r->f);
	r->count++;
	if (ferror(r->f))
		return sl__err(SL_EIO, "%s: write failed", r->tmp);
	return 0;
}

uint64_t ds_rejects_count(const ds_rejects *r)
{
	return r->count;
}

int ds_rejects_close(ds_rejects *r, bool commit)
{
	int rc = 0;

	if (!r)
		return 0;
	if (r->f) {
		SL__ASSERT(r->tmp); /* the file is opened only once its name is made */
		if (ferror(r->f))
			rc = sl__err(SL_EIO, "%s: write failed", r->tmp);
		if (fclose(r->f) != 0 && rc == 0)
			rc = sl__err(SL_EIO, "%s: close: %s", r->tmp, strerror(errno));
		if (rc == 0 && commit)
			rc = sl__commit_file(r->tmp, r->path);
		if (rc || !commit)
			unlink(r->tmp);
	}
	sl__free(r->tmp);
	sl__free(r->path);
	sl__free(r);
	return rc;
}
