/*
 * Helpers shared by unit tests: a fresh temporary directory per test and
 * small file utilities. Each test binary is its own process (ctest), so a
 * crash in one cannot hide failures in another.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Creates a new empty directory under $TMPDIR (or /tmp); returns a static path. */
const char *tu_tmpdir(void);
/* Removes the directory made by tu_tmpdir (call in teardown). */
void tu_rmdir(const char *dir);
/* Writes a file (creating it) with the given contents; asserts success. */
void tu_write(const char *path, const char *contents);
/* A newly allocated (malloc) "dir/name". */
char *tu_path(const char *dir, const char *name);

#endif
