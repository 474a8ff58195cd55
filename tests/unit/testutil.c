/*
 * Shared test helpers (see testutil.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "testutil.h"

const char *tu_tmpdir(void)
{
	static char path[512];
	const char *base = getenv("TMPDIR");

	snprintf(path, sizeof path, "%s/sluice-test-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(path));
	return path;
}

void tu_rmdir(const char *dir)
{
	assert_int_equal(sl__rm_rf(dir), 0);
}

void tu_write(const char *path, const char *contents)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(contents, 1, strlen(contents), f), strlen(contents));
	assert_int_equal(fclose(f), 0);
}

char *tu_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}
