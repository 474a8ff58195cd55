/*
 * The public face of the library's "did you mean" rule (core suggest.c),
 * so that the command's own messages (a mistyped flag) suggest exactly as
 * the library's do.
 */
#include "sluice/sluice.h"
#include "core.h"

const char *sl_suggest(const char *word, const char *const *cands, size_t n)
{
	if (!word || (n && !cands))
		return NULL;
	return sl__suggest(word, cands, n);
}
