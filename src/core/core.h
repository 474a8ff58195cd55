/*
 * Internal core utilities shared by every subsystem: error reporting,
 * allocation (with a fault-injection hook for tests), growable buffers with a
 * hard maximum, SHA-256, file I/O with atomic replacement, time and ids.
 *
 * Internal names carry the sl__ prefix (as libuv's uv__): they are not part of
 * the public API and are hidden in the shared library.
 */
#ifndef SLUICE_CORE_H
#define SLUICE_CORE_H

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sluice/error.h"

#if defined(__GNUC__)
#define SL__PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SL__UNUSED __attribute__((unused))
#else
#define SL__PRINTF(f, a)
#define SL__UNUSED
#endif

#define SL__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A macro's value as a string literal ("[1, " SL__STR(MAX) "]"). */
#define SL__STR_(x) #x
#define SL__STR(x) SL__STR_(x)
#define SL__ERRMSG_MAX 1024

/* ---- errors -------------------------------------------------------------- */

/*
 * Records a formatted message as this thread's last error and returns code,
 * so that a failure path reads `return sl__err(SL_EINVAL, "...", ...);`.
 */
int sl__err(int code, const char *fmt, ...) SL__PRINTF(2, 3);

/* Prefixes this thread's last error message with "prefix: ". Returns code. */
int sl__err_prefix(int code, const char *fmt, ...) SL__PRINTF(2, 3);

/*
 * Error codes are negative, and sl__err, sl__err_prefix and the wrappers that
 * call them return the code they are given. The static analyzer reads one
 * file at a time and does not follow variadic calls, so it would take
 * `if ((rc = f(&out))) return rc;` as if a failure could return 0 and then
 * report `out` (set only on success) as used uninitialised. SL__ERR_CODE(call)
 * states the invariant to the analyzer (a statement expression, so that it
 * holds however deep the call); in compiled code it is just (call).
 */
#ifdef __clang_analyzer__
#define SL__ERR_CODE(call)                       \
	__extension__({                          \
		int sl__code_ = (call);          \
		if (sl__code_ >= 0)              \
			__builtin_unreachable(); \
		sl__code_;                       \
	})
#else
#define SL__ERR_CODE(call) (call)
#endif
#define sl__err(...) SL__ERR_CODE(sl__err(__VA_ARGS__))
#define sl__err_prefix(...) SL__ERR_CODE(sl__err_prefix(__VA_ARGS__))

/*
 * An invariant kept elsewhere (by the caller, or by the code that built a
 * structure). Checked by assert() in debug builds; stated directly to the
 * static analyzer, which runs with NDEBUG and cannot see it.
 */
#ifdef __clang_analyzer__
#define SL__ASSERT(c) ((c) ? (void)0 : __builtin_unreachable())
#else
#define SL__ASSERT(c) assert(c)
#endif

/*
 * The one out-of-memory report: sets the message "out of memory" and
 * returns SL_ENOMEM, for `return sl__oom();` wherever an allocation failed
 * and the caller has nothing more specific to say.
 */
int sl__oom(void);
#define sl__oom() SL__ERR_CODE(sl__oom())

/* Clears this thread's last error. */
void sl__err_clear(void);

/* ---- allocation -----------------------------------------------------------
 *
 * All library allocations go through these so that tests can fail the Nth
 * allocation (sl__alloc_fail_after) and prove that out-of-memory is handled as
 * an ordinary error. They never abort.
 */
void *sl__malloc(size_t n);
void *sl__calloc(size_t count, size_t size);
void *sl__realloc(void *p, size_t n);
/* realloc of count*size with overflow check. */
void *sl__reallocarray(void *p, size_t count, size_t size);
void sl__free(void *p);
char *sl__strdup(const char *s);
char *sl__strndup(const char *s, size_t n);
/* A newly allocated formatted string, or NULL on failure. */
char *sl__asprintf(const char *fmt, ...) SL__PRINTF(1, 2);
/*
 * Test hook: the next n allocations succeed, the following ones fail; -1
 * disables. Both hooks reset the count of injected failures.
 */
void sl__alloc_fail_after(long n);
/*
 * Test hook: only allocation number n (counting from 0) fails; those before
 * and after it succeed. A caller that ignores one failed allocation then
 * carries on and succeeds with something missing, which a test comparing
 * the result against a reference catches (sl__alloc_fail_after cannot: every
 * later allocation fails too, so some later check reports an error).
 */
void sl__alloc_fail_nth(long n);
/*
 * Allocations failed on purpose since the last sl__alloc_fail_after: a
 * fault-injection test asserts it is non-zero when it expects an error
 * (else the error did not come from the injection) and zero on the run
 * that proves success once injection stops.
 */
unsigned long sl__alloc_failures(void);
/*
 * For code that calls a library which allocates through sl__malloc but
 * reports an allocation failure as something else (jansson's parser says
 * "string expected" when it could not allocate the string): take a mark
 * before the call and, when it fails, ask whether an allocation of this
 * thread failed since. Counts injected and real failures alike.
 */
unsigned long sl__alloc_mark(void);
bool sl__alloc_failed_since(unsigned long mark);
/*
 * Holds fault injection off on this thread (nested: each true needs a
 * false), around third-party code that cannot survive a failed allocation
 * (jansson's parser, see json.c). Real failures still happen and count.
 */
void sl__alloc_inject_hold(bool hold);
/*
 * Asks the kernel for transparent huge pages over the page-aligned interior
 * of a large array (where THP is in madvise mode): filling a 150 MB column
 * then costs hundreds of page faults instead of tens of thousands, and
 * random probes of a big hash table miss the TLB less. Advice only.
 */
void sl__advise_huge(void *p, size_t n);

/* ---- growable buffer --------------------------------------------------------
 *
 * data is always NUL-terminated (when non-NULL) so a buffer can be used as a
 * C string. Growth past max fails with SL_ELIMIT instead of eating memory.
 */
typedef struct sl__buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
} sl__buf;

#define SL__BUF_DEFAULT_MAX ((size_t)1 << 30)

void sl__buf_init(sl__buf *b, size_t max); /* max 0 means SL__BUF_DEFAULT_MAX */
int sl__buf_reserve(sl__buf *b, size_t extra);
int sl__buf_append(sl__buf *b, const void *p, size_t n);
int sl__buf_puts(sl__buf *b, const char *s);
int sl__buf_putc(sl__buf *b, char c);
int sl__buf_printf(sl__buf *b, const char *fmt, ...) SL__PRINTF(2, 3);
int sl__buf_vprintf(sl__buf *b, const char *fmt, va_list ap) SL__PRINTF(2, 0);
void sl__buf_reset(sl__buf *b); /* len = 0, keeps memory */
/* Hands the data to the caller (who frees it with sl__free) and resets b. */
char *sl__buf_detach(sl__buf *b);
void sl__buf_free(sl__buf *b);

/* ---- SHA-256 (OpenSSL) ------------------------------------------------------ */

#define SL__HASH_HEX_LEN 64
#define SL__HASH_HEX_SIZE 65

typedef struct sl__sha256 {
	void *ctx; /* EVP_MD_CTX */
} sl__sha256;

int sl__sha256_init(sl__sha256 *h);
int sl__sha256_update(sl__sha256 *h, const void *p, size_t n);
/* Writes 64 lowercase hex digits and a NUL; frees the context. */
int sl__sha256_final(sl__sha256 *h, char out[SL__HASH_HEX_SIZE]);
/* Frees the context without a result (after an error). Accepts a zeroed h. */
void sl__sha256_abort(sl__sha256 *h);
int sl__sha256_hex(const void *p, size_t n, char out[SL__HASH_HEX_SIZE]);
/* Hashes a file's contents; *out_size (may be NULL) receives its size. */
int sl__sha256_file(const char *path, char out[SL__HASH_HEX_SIZE], uint64_t *out_size);

/* ---- non-cryptographic hashing (xxHash's XXH3) -------------------------------
 *
 * The one hash of hash tables, dictionaries and caches: fast on short keys
 * and well mixed in every bit, so a table may use the low bits for the slot
 * and others for a tag. Not for anything an attacker must not forge and
 * not for anything stored: a value that gets written to disk, or that
 * decides a user-visible result, must use a function frozen for that
 * purpose (the dataset file's checksum, wrangle's hashing-trick buckets).
 */
/* XXH3_64bits of p[0..n). */
uint64_t sl__hash64(const void *p, size_t n);
/* XXH3_64bits_withSeed: independent hash functions for different seeds. */
uint64_t sl__hash64_seed(const void *p, size_t n, uint64_t seed);

/* ---- files ------------------------------------------------------------------ */

/*
 * Replaces path with data atomically: writes a temp file beside it, fsyncs it,
 * renames it over path and fsyncs the directory. A crash at any point leaves
 * either the old or the new contents, never a mix.
 */
int sl__write_atomic(const char *path, const void *data, size_t len);
/* Makes a written temp file durable and renames it to path (same as above). */
int sl__commit_file(const char *tmp_path, const char *path);
int sl__fsync_path(const char *path);
int sl__fsync_dir_of(const char *path);
/* Reads a whole file into out (initialised by the callee); SL_ELIMIT past max. */
int sl__read_file(const char *path, size_t max, sl__buf *out);
int sl__mkdir_p(const char *path, mode_t mode);
int sl__rm_rf(const char *path);
bool sl__is_dir(const char *path);
bool sl__is_file(const char *path);
/* A newly allocated "dir/name". */
char *sl__path_join(const char *dir, const char *name);
/* A newly allocated absolute, normalised form of path (need not exist). */
char *sl__path_abs(const char *path);
/* The same, returning a code: SL_EIO (with a message saying so) when the
 * working directory is gone, SL_ENOMEM otherwise. Entry points use it so
 * that a removed folder is not reported as running out of memory. */
int sl__path_abs_checked(const char *path, char **out);
/* A newly allocated directory part of path ("." when none). */
char *sl__path_dir(const char *path);
/* Copies src to dst atomically (temp + fsync + rename). */
int sl__copy_file(const char *src, const char *dst);

/* ---- time and ids ----------------------------------------------------------- */

int64_t sl__now_ms(void);       /* wall clock, milliseconds since the epoch */
double sl__mono_sec(void);      /* monotonic clock, seconds */
/* Names the calling thread (at most 15 bytes shown), so that per-thread CPU
 * in /proc/PID/task/TID/comm, top -H and perf says whose it is. */
void sl__thread_name(const char *name);
/* Makes the calling thread a background one: the given nice, and runs of
 * at most 0.1 ms at a time where the kernel supports a custom slice. */
void sl__thread_background(int nice);
/* Writes n random lowercase hex digits and a NUL into out (size n + 1);
 * on failure out is the empty string. */
int sl__random_hex(char *out, size_t n);
/* The name of the account running this process (for "who did it" records). */
void sl__user_name(char *out, size_t size);
/* Formats ms since the epoch as "2026-11-26T14:40:00.123Z" into out (>= 32 bytes). */
void sl__fmt_time(int64_t ms, char *out, size_t size);

/* ---- strings ---------------------------------------------------------------- */

bool sl__str_has_prefix(const char *s, const char *prefix);
bool sl__str_has_suffix(const char *s, const char *suffix);
/* Parses a whole string as a number; false when anything is left over. */
bool sl__parse_i64(const char *s, int64_t *out);
bool sl__parse_f64(const char *s, double *out);

/* ---- UTF-8 (utf8.c) ------------------------------------------------------------ */

/*
 * Checks UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF). Returns
 * len when valid, else the offset of the first bad byte.
 */
size_t sl__utf8_check(const char *s, size_t len);
/*
 * Text that passes sl__utf8_check: *out_clean is NULL when s already does
 * (use s as is), else a copy (sl__free) with each byte that starts no valid
 * sequence replaced by '?'. 0, or SL_ENOMEM.
 */
int sl__utf8_clean(const char *s, char **out_clean);

/* ---- connection strings (conninfo.c) ----------------------------------------- */

/*
 * A copy of a PostgreSQL connection URL or key=value string with its
 * password replaced by "***", for messages and logs. Newly allocated
 * (sl__free), or NULL when out of memory.
 */
char *sl__pg_redact(const char *conninfo);
/* Appends msg to b with its line breaks and tabs folded to single spaces. */
void sl__fold_lines(sl__buf *b, const char *msg);

/* ---- "did you mean" (suggest.c) ----------------------------------------------- */

/* Optimal string alignment distance; SIZE_MAX when either is over 64 bytes. */
size_t sl__edit_distance(const char *a, const char *b);
/* The candidate closest to word when it is close enough to be a typo, else NULL. */
const char *sl__suggest(const char *word, const char *const *cands, size_t n);
/*
 * Every close candidate, best first, into out (up to max; borrowed from
 * cands). NULL candidates and word itself are skipped. Returns the count.
 */
size_t sl__suggest_all(const char *word, const char *const *cands, size_t n, const char **out,
		       size_t max);
/*
 * Writes "did you mean 'a'?" or "did you mean 'a', 'b' or 'c'?" into buf,
 * or "" when nothing is close; returns whether anything was.
 */
bool sl__did_you_mean(char *buf, size_t size, const char *word, const char *const *cands, size_t n);

/* ---- JSON (jansson) ------------------------------------------------------------- */

#include <jansson.h>

/*
 * json_object_set_new and json_array_append_new that report failure: v is
 * consumed either way and may be NULL (a constructor that failed), so
 * `if ((rc = sl__json_set(o, "k", json_real(x))))` checks both steps.
 * Returns 0 or SL_ENOMEM (sl__oom's message).
 */
int sl__json_set(json_t *o, const char *key, json_t *v);
int sl__json_push(json_t *a, json_t *v);
/* json_object_set (v borrowed, may be NULL): 0 or SL_ENOMEM. */
int sl__json_set_ref(json_t *o, const char *key, json_t *v);

/*
 * json_dumps for every JSON text the library writes: NULL (SL_ENOMEM, or
 * SL_EINVAL for a value jansson cannot encode) rather than the damaged text
 * jansson's encoder returns when an allocation fails inside it (json.c).
 * Free the text with sl__free.
 */
char *sl__json_dumps(const json_t *j, size_t flags);

/* Whether jansson allocates through sl__malloc (json.c; for tests). */
bool sl__json_alloc_installed(void);
/*
 * json_loadb and json_load_file, for every JSON text the library reads:
 * NULL on failure, and then *out_oom tells an allocation failure (which
 * jansson may report as a syntax error) from a fault in the text, which e
 * describes as jansson's own loaders do. flags as jansson's.
 */
json_t *sl__json_loadb(const char *buf, size_t len, size_t flags, json_error_t *e, bool *out_oom);
json_t *sl__json_load_file(const char *path, size_t flags, json_error_t *e, bool *out_oom);

/* ---- YAML ---------------------------------------------------------------------- */

/* YAML files: see yamltree.h (the loader, its tree and JSON with positions). */

#endif
