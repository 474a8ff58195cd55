/*
 * The error table and the per-thread last-error message.
 *
 * The message lives in thread-local storage so that two threads (the
 * server's workers, a scheduler and its collector) never see each other's
 * failures. Formatting into it never allocates, so reporting out-of-memory
 * cannot itself fail.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

static _Thread_local char last_msg[SL__ERRMSG_MAX];

const char *sl_strerror(int code)
{
	switch (code) {
#define SL__ERR_STR(name, value, msg) \
	case value:                     \
		return msg;
		SL_ERRNO_MAP(SL__ERR_STR)
#undef SL__ERR_STR
	}
	return "unknown error";
}

const char *sl_err_name(int code)
{
	switch (code) {
#define SL__ERR_NAME(name, value, msg) \
	case value:                      \
		return "SL_" #name;
		SL_ERRNO_MAP(SL__ERR_NAME)
#undef SL__ERR_NAME
	}
	return "SL_EUNKNOWN";
}

const char *sl_errmsg(void)
{
	return last_msg;
}

/* The names are parenthesised so that the analyzer-only macros in core.h
 * do not expand here. */
int (sl__err)(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof last_msg, fmt, ap);
	va_end(ap);
	return code;
}

int (sl__err_prefix)(int code, const char *fmt, ...)
{
	char prefix[SL__ERRMSG_MAX];
	char old[SL__ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, last_msg, sizeof old);
	if (old[0] == '\0')
		snprintf(last_msg, sizeof last_msg, "%s: %s", prefix, sl_strerror(code));
	else
		snprintf(last_msg, sizeof last_msg, "%s: %s", prefix, old);
	return code;
}

int (sl__oom)(void)
{
	return (sl__err)(SL_ENOMEM, "out of memory");
}

void sl__err_clear(void)
{
	last_msg[0] = '\0';
}

void sl_free(void *p)
{
	sl__free(p);
}
