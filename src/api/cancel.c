/*
 * Cancellation tokens (sluice.h): an eventfd and a flag. A request writes
 * the eventfd, which wakes a run blocked in its wait (the orchestrator polls
 * the descriptor together with its steps), and sets the flag the run looks
 * at between steps. Both are async-signal-safe, so a signal handler may
 * request, and thread-safe, so another thread may.
 *
 * Invariant: the descriptor stays readable from the first request until
 * sl_cancel_reset, so every run sharing the token sees it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api/project.h"

struct sl_cancel {
	int fd;
	int requested; /* accessed atomically */
};

int sl_cancel_create(sl_cancel **out)
{
	sl_cancel *c;

	sl__err_clear();
	if (!out)
		return sl__err(SL_EINVAL, "sl_cancel_create: out is NULL");
	*out = NULL;
	c = sl__calloc(1, sizeof *c);
	if (!c)
		return sl__err(SL_ENOMEM, "out of memory");
	c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->fd < 0) {
		int e = errno;
		sl__free(c);
		return sl__err(SL_ESYS, "eventfd: %s", strerror(e));
	}
	*out = c;
	return 0;
}

void sl_cancel_destroy(sl_cancel *c)
{
	if (!c)
		return;
	close(c->fd);
	sl__free(c);
}

void sl_cancel_request(sl_cancel *c)
{
	uint64_t one = 1;
	int saved = errno; /* a signal handler must not change errno */

	if (!c)
		return;
	__atomic_store_n(&c->requested, 1, __ATOMIC_RELEASE);
	/* Fails only when the counter would overflow, and it is readable then. */
	ssize_t n = write(c->fd, &one, sizeof one);
	(void)n;
	errno = saved;
}

int sl_cancel_requested(const sl_cancel *c)
{
	return c ? __atomic_load_n(&c->requested, __ATOMIC_ACQUIRE) : 0;
}

void sl_cancel_reset(sl_cancel *c)
{
	uint64_t v;

	if (!c)
		return;
	__atomic_store_n(&c->requested, 0, __ATOMIC_RELEASE);
	while (read(c->fd, &v, sizeof v) == (ssize_t)sizeof v)
		;
}

int sl_cancel_fd(const sl_cancel *c)
{
	return c ? c->fd : -1;
}

/* For the api's run: the flag beside the descriptor. */
const int *api_cancel_flag(const sl_cancel *c)
{
	return c ? &c->requested : NULL;
}
