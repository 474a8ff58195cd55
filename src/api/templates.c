/*
 * Project templates (templates.h): checking that a template can be laid
 * down, then writing its files.
 *
 * Invariants:
 *   1. Without keep, every target is checked before the first is written,
 *      so a template never writes over a file that was there: it fails
 *      naming the file, having written nothing.
 *   2. Each file is decompressed whole, its size checked against the one
 *      recorded at build time, and written atomically (sl__write_atomic).
 */
#include <stdio.h>
#include <string.h>

#include <zstd.h>

#include "api/templates.h"
#include "core.h"

/* The templates' names (their files are in api_tmpl_files). */
static const char *const templates[] = {"blank", "forecast", "spam"};

static int unknown(const char *name)
{
	char dym[300];

	sl__did_you_mean(dym, sizeof dym, name, templates, SL__ARRAY_LEN(templates));
	return sl__err(SL_EINVAL, "unknown template '%.80s'%s%s%s (one of blank, forecast, spam)",
		       name, *dym ? " (" : "", dym, *dym ? ")" : "");
}

int api_tmpl_read(const api_tmpl_file *f, char **out)
{
	char *buf = sl__malloc(f->size + 1);
	size_t n;

	*out = NULL;
	if (!buf)
		return sl__oom();
	n = ZSTD_decompress(buf, f->size, f->data, f->stored);
	if (ZSTD_isError(n) || n != f->size) {
		sl__free(buf);
		return sl__err(SL_ECORRUPT, "template %s: %s does not decompress (%s)", f->tmpl, f->path,
			       ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* Writes one file under root, making its folders. */
static int write_one(const char *root, const api_tmpl_file *f)
{
	char *path = sl__path_join(root, f->path), *dir = NULL, *text = NULL;
	int rc;

	if (!path || !(dir = sl__path_dir(path))) {
		rc = sl__oom();
		goto out;
	}
	if ((rc = sl__mkdir_p(dir, 0755)) == 0 && (rc = api_tmpl_read(f, &text)) == 0)
		rc = sl__write_atomic(path, text, f->size);
out:
	sl__free(text);
	sl__free(dir);
	sl__free(path);
	return rc;
}

int api_tmpl_write(const char *root, const char *name, bool keep, json_t *written)
{
	bool found = false;
	int rc;

	for (size_t i = 0; i < SL__ARRAY_LEN(templates) && !found; i++)
		found = !strcmp(templates[i], name);
	if (!found)
		return unknown(name);
	/* Invariant 1: look before writing anything. */
	for (size_t i = 0; !keep && i < api_tmpl_n_files; i++) {
		const api_tmpl_file *f = &api_tmpl_files[i];
		char *path;
		if (strcmp(f->tmpl, name))
			continue;
		if (!(path = sl__path_join(root, f->path)))
			return sl__oom();
		bool exists = sl__is_file(path) || sl__is_dir(path);
		if (exists)
			rc = sl__err(SL_EEXIST, "%s already exists; the %s template writes a whole "
						"project: start it in an empty or new folder",
				     path, name);
		sl__free(path);
		if (exists)
			return rc;
	}
	if ((rc = sl__mkdir_p(root, 0755)))
		return rc;
	for (size_t i = 0; i < api_tmpl_n_files; i++) {
		const api_tmpl_file *f = &api_tmpl_files[i];
		char *path;
		if (strcmp(f->tmpl, name))
			continue;
		if (keep) {
			if (!(path = sl__path_join(root, f->path)))
				return sl__oom();
			bool exists = sl__is_file(path);
			sl__free(path);
			if (exists)
				continue;
		}
		if ((rc = write_one(root, f)))
			return rc;
		if (written && json_array_append_new(written, json_string(f->path)))
			return sl__oom();
	}
	return 0;
}
