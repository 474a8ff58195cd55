/*
 * sluice error codes.
 *
 * Every public function returns 0 on success or one of the negative codes
 * below. Codes are generated from one X-macro table so that the enum,
 * sl_strerror() and sl_err_name() can never disagree. Codes are only ever
 * appended: a number, once shipped, keeps its meaning forever.
 *
 * The detailed message of the last failure (which file, which line, which
 * field) is kept per thread and read with sl_errmsg(); handles that outlive a
 * call also keep a copy (sl_project_errmsg()).
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SL_EXPORT __attribute__((visibility("default")))
#else
#define SL_EXPORT
#endif

/* X(name, value, message) */
#define SL_ERRNO_MAP(X)                                                  \
	X(OK, 0, "success")                                              \
	X(ENOMEM, -1, "out of memory")                                   \
	X(EINVAL, -2, "invalid argument")                                \
	X(EIO, -3, "input/output error")                                 \
	X(ENOENT, -4, "not found")                                       \
	X(EEXIST, -5, "already exists")                                  \
	X(ECORRUPT, -6, "data is corrupt")                               \
	X(ESPEC, -7, "invalid pipeline file")                            \
	X(ESTORE, -8, "metadata store error")                            \
	X(ELIMIT, -9, "size limit exceeded")                             \
	X(EAMBIG, -10, "ambiguous identifier")                           \
	X(ESTEP, -11, "a step failed")                                   \
	X(ECANCEL, -12, "cancelled")                                     \
	X(EPARSE, -13, "malformed input data")                           \
	X(EUNSUP, -14, "not supported")                                  \
	X(ESYS, -15, "system call failed")                               \
	X(EBUSY, -16, "resource busy")                                   \
	X(EGATE, -17, "a gate failed")                                   \
	X(EINPUT, -18, "bad input")

enum sl_errno {
#define SL__ERR_ENUM(name, value, msg) SL_##name = (value),
	SL_ERRNO_MAP(SL__ERR_ENUM)
#undef SL__ERR_ENUM
};

/* A static message describing code, never NULL. */
SL_EXPORT const char *sl_strerror(int code);

/* The code's symbolic name ("SL_ENOENT"), never NULL. */
SL_EXPORT const char *sl_err_name(int code);

/*
 * The detailed message of the last failure on this thread, or "" when none.
 * Valid until the next sluice call on the same thread.
 */
SL_EXPORT const char *sl_errmsg(void);

/* Frees memory that a sluice function handed to the caller. Accepts NULL. */
SL_EXPORT void sl_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
