/*
 * File helpers. The one that matters is sl__write_atomic: every file sluice
 * writes that somebody else may read (artifacts, manifests, schemas, configs)
 * goes through temp file + fsync + rename + fsync of the directory, so a
 * crash or kill -9 leaves the old version or the new one, never a torn file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

static int write_all(int fd, const void *data, size_t len, const char *path)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sl__err(SL_EIO, "%s: write: %s", path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sl__fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return sl__err(SL_EIO, "%s: open: %s", path, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = sl__err(SL_EIO, "%s: fsync: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int sl__fsync_dir_of(const char *path)
{
	char *dir = sl__path_dir(path);
	int rc;

	if (!dir)
		return sl__oom();
	rc = sl__fsync_path(dir);
	sl__free(dir);
	return rc;
}

int sl__commit_file(const char *tmp_path, const char *path)
{
	int rc = sl__fsync_path(tmp_path);

	if (rc)
		return rc;
	if (rename(tmp_path, path) != 0)
		return sl__err(SL_EIO, "rename %s -> %s: %s", tmp_path, path, strerror(errno));
	return sl__fsync_dir_of(path);
}

int sl__write_atomic(const char *path, const void *data, size_t len)
{
	char rnd[9];
	char *tmp;
	int fd, rc;

	sl__random_hex(rnd, 8);
	tmp = sl__asprintf("%s.tmp-%s", path, rnd);
	if (!tmp)
		return sl__oom();
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = sl__err(SL_EIO, "%s: create: %s", tmp, strerror(errno));
		sl__free(tmp);
		return rc;
	}
	rc = write_all(fd, data, len, tmp);
	if (rc == 0 && fsync(fd) != 0)
		rc = sl__err(SL_EIO, "%s: fsync: %s", tmp, strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = sl__err(SL_EIO, "%s: close: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, path) != 0)
		rc = sl__err(SL_EIO, "rename %s -> %s: %s", tmp, path, strerror(errno));
	if (rc == 0)
		rc = sl__fsync_dir_of(path);
	else
		unlink(tmp);
	sl__free(tmp);
	return rc;
}

int sl__read_file(const char *path, size_t max, sl__buf *out)
{
	char chunk[65536];
	int fd, rc = 0;

	sl__buf_init(out, max);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl__err(errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = sl__err(SL_EIO, "%s: read: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		rc = sl__buf_append(out, chunk, (size_t)n);
		if (rc) {
			if (rc == SL_ELIMIT)
				sl__err(rc, "%s: larger than the limit of %zu bytes", path, out->max);
			break;
		}
	}
	close(fd);
	if (rc)
		sl__buf_free(out);
	else if (!out->data)
		rc = sl__buf_reserve(out, 0), out->data[0] = '\0';
	return rc;
}

int sl__mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof tmp)
		return sl__err(SL_EINVAL, "bad directory path '%s'", path);
	/* Usually only the last component is missing (a step's work folder):
	 * one mkdir instead of one per component. */
	if (mkdir(path, mode) == 0)
		return 0;
	if (errno == EEXIST && sl__is_dir(path))
		return 0;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return sl__err(SL_EIO, "mkdir %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return sl__err(SL_EIO, "mkdir %s: %s", tmp, strerror(errno));
	if (!sl__is_dir(tmp))
		return sl__err(SL_EIO, "%s exists and is not a directory", tmp);
	return 0;
}

int sl__rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : sl__err(SL_EIO, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) != 0 && errno != ENOENT)
			return sl__err(SL_EIO, "unlink %s: %s", path, strerror(errno));
		return 0;
	}
	d = opendir(path);
	if (!d)
		return sl__err(SL_EIO, "opendir %s: %s", path, strerror(errno));
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *sub = sl__path_join(path, e->d_name);
		if (!sub) {
			rc = sl__oom();
			break;
		}
		rc = sl__rm_rf(sub);
		sl__free(sub);
	}
	closedir(d);
	if (rc == 0 && rmdir(path) != 0 && errno != ENOENT)
		rc = sl__err(SL_EIO, "rmdir %s: %s", path, strerror(errno));
	return rc;
}

bool sl__is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool sl__is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *sl__path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	if (name[0] == '/')
		return sl__strdup(name);
	if (n && dir[n - 1] == '/')
		return sl__asprintf("%s%s", dir, name);
	return sl__asprintf("%s/%s", dir, name);
}

char *sl__path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return sl__strdup(".");
	if (slash == path)
		return sl__strdup("/");
	return sl__strndup(path, (size_t)(slash - path));
}

int sl__path_abs_checked(const char *path, char **out)
{
	char cwd[PATH_MAX];

	*out = NULL;
	if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
		return sl__err(SL_EIO, "cannot read the current folder (%s): was it removed?",
			       strerror(errno));
	*out = sl__path_abs(path);
	return *out ? 0 : sl__oom();
}

char *sl__path_abs(const char *path)
{
	char cwd[PATH_MAX];
	char *joined, *out;
	size_t n = 0;

	if (path[0] == '/') {
		joined = sl__strdup(path);
	} else {
		if (!getcwd(cwd, sizeof cwd))
			return NULL;
		joined = sl__path_join(cwd, path);
	}
	if (!joined)
		return NULL;
	out = sl__malloc(strlen(joined) + 2);
	if (!out) {
		sl__free(joined);
		return NULL;
	}
	/* Normalise "//", "/./" and "/../" lexically, as realpath would without
	 * requiring the path to exist. */
	for (char *p = joined; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 1 && p[0] == '.') {
			/* skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else {
			out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	sl__free(joined);
	return out;
}

int sl__copy_file(const char *src, const char *dst)
{
	char buf[1 << 16];
	char rnd[9];
	char *tmp;
	int in, out, rc = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return sl__err(errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", src, strerror(errno));
	sl__random_hex(rnd, 8);
	tmp = sl__asprintf("%s.tmp-%s", dst, rnd);
	if (!tmp) {
		close(in);
		return sl__oom();
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = sl__err(SL_EIO, "%s: create: %s", tmp, strerror(errno));
		goto done;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = sl__err(SL_EIO, "%s: read: %s", src, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		rc = write_all(out, buf, (size_t)n, tmp);
		if (rc)
			break;
	}
	if (close(out) != 0 && rc == 0)
		rc = sl__err(SL_EIO, "%s: close: %s", tmp, strerror(errno));
	if (rc == 0)
		rc = sl__commit_file(tmp, dst);
	if (rc)
		unlink(tmp);
done:
	close(in);
	sl__free(tmp);
	return rc;
}
