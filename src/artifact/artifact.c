/*
 * Content-addressed artifact store (see artifact.h for the invariants).
 *
 * Putting a file hashes it first, then renames it into place: a step's
 * outputs are written into the project's private temp directory, which sits
 * on the same filesystem as the store, so the common case is one rename and
 * no copy. art_put_file fsyncs the file before the rename and the fan-out
 * directory after it, so a crash never leaves a named artifact with partial
 * contents; art_put_file_deferred leaves both fsyncs to art_sync.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact/artifact.h"

char *art_path(const char *root, const char *id)
{
	if (strlen(id) != SL__HASH_HEX_LEN)
		return NULL;
	return sl__asprintf("%s/%.2s/%s", root, id, id + 2);
}

bool art_exists(const char *root, const char *id)
{
	char *p = art_path(root, id);
	bool ok = p && sl__is_file(p);

	sl__free(p);
	return ok;
}

static int put_file(const char *root, const char *src, char out_id[SL__HASH_HEX_SIZE],
		    uint64_t *out_size, bool durable)
{
	char dir[4096];
	char *dst;
	int rc;

	rc = sl__sha256_file(src, out_id, out_size);
	if (rc)
		return rc;
	dst = art_path(root, out_id);
	if (!dst)
		return sl__err(SL_ENOMEM, "out of memory");
	if (sl__is_file(dst)) {
		/* Deduplicated: the same contents are already stored, unless the
		 * stored copy was damaged, in which case the new one replaces it. */
		if (art_verify(root, out_id) == 0) {
			unlink(src);
			sl__free(dst);
			return 0;
		}
		sl__err_clear();
	}
	snprintf(dir, sizeof dir, "%s/%.2s", root, out_id);
	rc = sl__mkdir_p(dir, 0755);
	if (rc == 0) {
		if (chmod(src, 0444) != 0)
			rc = sl__err(SL_EIO, "chmod %s: %s", src, strerror(errno));
	}
	if (rc == 0) {
		bool exdev;
		if (durable) {
			rc = sl__commit_file(src, dst);
			exdev = rc && errno == EXDEV;
		} else if (rename(src, dst) != 0) {
			int e = errno;
			exdev = e == EXDEV;
			if (!exdev)
				rc = sl__err(SL_EIO, "rename %s to %s: %s", src, dst, strerror(e));
		} else {
			exdev = false;
		}
		if (exdev) {
			rc = sl__copy_file(src, dst);
			if (rc == 0)
				unlink(src);
		}
	}
	sl__free(dst);
	return rc;
}

int art_put_file(const char *root, const char *src, char out_id[SL__HASH_HEX_SIZE],
		 uint64_t *out_size)
{
	return put_file(root, src, out_id, out_size, true);
}

int art_put_file_deferred(const char *root, const char *src, char out_id[SL__HASH_HEX_SIZE],
			  uint64_t *out_size)
{
	return put_file(root, src, out_id, out_size, false);
}

int art_sync(const char *root, const char *const *ids, size_t n)
{
	bool dir_done[256] = {false};
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		char *p = art_path(root, ids[i]);
		int r = p ? sl__fsync_path(p) : sl__err(SL_ENOMEM, "out of memory");
		sl__free(p);
		if (r && rc == 0)
			rc = r;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned fan;
		char dir[4096];
		if (sscanf(ids[i], "%2x", &fan) != 1 || dir_done[fan & 0xff])
			continue;
		dir_done[fan & 0xff] = true;
		snprintf(dir, sizeof dir, "%s/%.2s", root, ids[i]);
		int r = sl__fsync_path(dir);
		if (r && rc == 0)
			rc = r;
	}
	return rc;
}

int art_put_buf(const char *root, const void *data, size_t len, char out_id[SL__HASH_HEX_SIZE])
{
	char dir[4096];
	char *dst;
	int rc;

	rc = sl__sha256_hex(data, len, out_id);
	if (rc)
		return rc;
	dst = art_path(root, out_id);
	if (!dst)
		return sl__err(SL_ENOMEM, "out of memory");
	if (sl__is_file(dst) && art_verify(root, out_id) == 0) {
		sl__free(dst);
		return 0;
	}
	snprintf(dir, sizeof dir, "%s/%.2s", root, out_id);
	rc = sl__mkdir_p(dir, 0755);
	if (rc == 0)
		rc = sl__write_atomic(dst, data, len);
	sl__free(dst);
	return rc;
}

int art_verify(const char *root, const char *id)
{
	char got[SL__HASH_HEX_SIZE];
	char *p = art_path(root, id);
	int rc;

	if (!p)
		return sl__err(SL_EINVAL, "'%s' is not an artifact id", id);
	if (!sl__is_file(p)) {
		sl__free(p);
		return sl__err(SL_ENOENT, "artifact %.12s is missing from the store (%s)", id, root);
	}
	rc = sl__sha256_file(p, got, NULL);
	sl__free(p);
	if (rc)
		return sl__err_prefix(rc, "artifact %.12s", id);
	if (strcmp(got, id) != 0)
		return sl__err(SL_ECORRUPT,
			       "artifact %.12s is corrupt: its contents hash to %.12s", id, got);
	return 0;
}
