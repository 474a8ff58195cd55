/*
 * jansson, the JSON library, wired to sluice's allocator.
 *
 * Every JSON value the library builds is allocated through sl__malloc, so
 * the fault-injection tests reach JSON code paths (a failed json_object()
 * or json_object_set_new()) like any other. The switch happens once, in a
 * constructor that runs when the library (static or shared) is loaded,
 * before any JSON value exists, rather than in each entry point: tests and
 * plugins call internal functions directly, and an entry point that forgot
 * the call would silently leave JSON untested.
 *
 * Invariants:
 *  1. Swapping allocators is safe at any moment, because sl__malloc is
 *     malloc and sl__free is free (plus the test hook): a value allocated
 *     before the switch may be freed after it, by either side.
 *  2. A process that installed its own jansson allocator before loading
 *     sluice keeps it: only jansson's defaults (malloc, free) are replaced.
 *  3. jansson's parser is run with injection held off (sl__alloc_inject_hold).
 *     jansson 2.14 ignores a failed append to the token it is saving and
 *     then asserts, in lex_unget_unsave, that the byte it pops back is the
 *     one it saved: an allocation failure mid-token aborts the process.
 *     Failing allocations there would test jansson, not sluice; what is
 *     tested is that sluice turns a load that failed for lack of memory
 *     (counted by sl__alloc_failed_since, since jansson may call it a syntax
 *     error) into SL_ENOMEM.
 *  4. jansson 2.14's encoder ignores a failed append when it writes an
 *     object's key and carries on, so json_dumps can return a text with a
 *     key missing (invalid JSON) after an allocation failed. sl__json_dumps
 *     checks whether any allocation failed during the call and discards
 *     the text if one did: a file sluice writes is whole or not written.
 */
#include <stdlib.h>

#include "core.h"

static void *json_alloc(size_t n)
{
	return sl__malloc(n);
}

static void json_release(void *p)
{
	sl__free(p);
}

__attribute__((constructor)) static void json_use_sl_alloc(void)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;

	json_get_alloc_funcs(&m, &f);
	if (m == malloc && f == free)
		json_set_alloc_funcs(json_alloc, json_release);
}

bool sl__json_alloc_installed(void)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;

	json_get_alloc_funcs(&m, &f);
	return m == json_alloc && f == json_release;
}

json_t *sl__json_loadb(const char *buf, size_t len, size_t flags, json_error_t *e, bool *out_oom)
{
	unsigned long mark = sl__alloc_mark();
	json_t *j;

	sl__alloc_inject_hold(true);
	j = json_loadb(buf, len, flags, e);
	sl__alloc_inject_hold(false);
	*out_oom = !j && sl__alloc_failed_since(mark);
	return j;
}

json_t *sl__json_load_file(const char *path, size_t flags, json_error_t *e, bool *out_oom)
{
	unsigned long mark = sl__alloc_mark();
	json_t *j;

	sl__alloc_inject_hold(true);
	j = json_load_file(path, flags, e);
	sl__alloc_inject_hold(false);
	*out_oom = !j && sl__alloc_failed_since(mark);
	return j;
}

int sl__json_set(json_t *o, const char *key, json_t *v)
{
	/* jansson decrefs v on failure, NULL included. */
	return json_object_set_new(o, key, v) ? sl__oom() : 0;
}

int sl__json_push(json_t *a, json_t *v)
{
	return json_array_append_new(a, v) ? sl__oom() : 0;
}

int sl__json_set_ref(json_t *o, const char *key, json_t *v)
{
	return json_object_set(o, key, v) ? sl__oom() : 0;
}

char *sl__json_dumps(const json_t *j, size_t flags)
{
	unsigned long mark = sl__alloc_mark();
	char *s = json_dumps(j, flags);

	if (sl__alloc_failed_since(mark)) {
		sl__free(s);
		sl__oom();
		return NULL;
	}
	if (!s)
		sl__err(SL_EINVAL, "the value cannot be written as JSON");
	return s;
}
