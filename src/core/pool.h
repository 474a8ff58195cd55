/*
 * The one thread pool of sluice: the CSV reader, training, permutation
 * importance and batch scoring all run their parallel loops through
 * sl__parallel_for.
 *
 * Workers are started once, on first use, and then sleep until a loop needs
 * them, so a loop costs a wake-up, not a pthread_create per thread: GBDT
 * runs thousands of short loops (one per tree node) and would otherwise
 * spend its time starting threads.
 *
 * Invariants:
 *  1. The caller is worker 0 and always works; a loop therefore finishes
 *     even if no worker thread could be started.
 *  2. One loop runs on the pool at a time. A loop started while another
 *     runs (another thread of a server, or a loop nested inside a loop's
 *     body) runs on its caller alone: never a deadlock, never more threads
 *     than cores.
 *  3. Items are handed out in order from a shared counter; `worker`
 *     (< threads) names the thread, for per-thread scratch memory. Work
 *     must not depend on which worker ran an item if the result is to be
 *     deterministic.
 *  4. A forked child starts with an empty pool (pthread_atfork).
 */
#ifndef SLUICE_POOL_H
#define SLUICE_POOL_H

#include <stddef.h>

#define SL__MAX_THREADS 64

/* CPUs the calling thread may run on (its affinity mask; at least 1). */
unsigned sl__ncpu(void);
/* asked, or sl__ncpu() when 0; at most SL__MAX_THREADS. */
unsigned sl__thread_count(unsigned asked);

typedef void (*sl__for_fn)(void *ctx, size_t i, unsigned worker);
typedef void (*sl__range_fn)(void *ctx, size_t lo, size_t hi, unsigned worker);

/*
 * Runs fn(ctx, i, worker) for every i in [0, n) on up to threads threads
 * (0: one per CPU) and returns when all have run.
 */
void sl__parallel_for(unsigned threads, size_t n, sl__for_fn fn, void *ctx);

/*
 * Runs fn(ctx, lo, hi, worker) over [0, n) cut into consecutive ranges of
 * about grain items (the last may be shorter), for loops whose items are
 * too cheap to hand out one at a time.
 */
void sl__parallel_range(unsigned threads, size_t n, size_t grain, sl__range_fn fn, void *ctx);

#endif
