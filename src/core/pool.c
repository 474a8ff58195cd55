/*
 * A persistent pool of worker threads behind sl__parallel_for (see pool.h
 * for the invariants it keeps).
 *
 *   caller                              worker k (1 <= k < threads)
 *   ------                              --------
 *   lock call_mu (or run alone)         sleep on `wake` until gen changes
 *   publish job, gen++, broadcast  -->  job still published and k < threads:
 *   run items as worker 0                 joined++ (under mu), run items,
 *   withdraw the job (cur = NULL)         finished++, signal `done`
 *   wait on `done` until every     <--
 *     worker that joined finished
 *   unlock call_mu
 *
 * The job lives on the caller's stack, so the caller waits for every worker
 * that joined it; but a worker that had not woken up by the time the caller
 * ran out of items finds the job withdrawn and does not join. On a busy
 * machine, where a woken worker may wait a whole time slice for a core, a
 * loop then costs what its items cost, not a scheduling delay.
 *
 * Both sides spin for up to SPIN_NS before they sleep: a worker after its
 * loop, for the next one (GBDT starts one every few hundred microseconds,
 * and waking a sleeping thread -- on a virtual machine, a halted virtual
 * CPU -- cost about 100 us a loop, more than a small loop's items); the
 * caller, for workers still on their last item. The spin yields the core
 * every few turns, so on a busy machine it gives way to other work, and it
 * ends on its own: an idle pool sleeps. gen and finished are written under
 * mu with atomic stores and read atomically by the spinning side.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "pool.h"

typedef struct job {
	sl__for_fn fn;
	void *ctx;
	size_t n;
	size_t next;       /* atomic: next item to hand out */
	unsigned threads;  /* workers 1..threads-1 may take part */
	unsigned long joined;   /* workers that took the job (under mu) */
	unsigned long finished; /* of those, done (written under mu, atomically) */
} job;

static struct pool {
	pthread_mutex_t call_mu; /* held by the loop that owns the pool */
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_cond_t done;
	unsigned started; /* worker threads alive: ids 1..started */
	unsigned long gen;
	job *cur;
	/* The generation each worker was started in: a worker started for a
	 * loop must not take that loop's gen++ as already seen. */
	unsigned long born[SL__MAX_THREADS];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	  PTHREAD_COND_INITIALIZER, 0, 0, NULL, {0}};

/* How long a thread spins for the next loop (or the last worker) before it sleeps. */
#define SPIN_NS 200000

static _Thread_local bool in_loop; /* this thread is running a loop's items */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/*
 * The CPUs this thread may run on (taskset, a container's cpuset), not the
 * machine's: threads beyond them only take turns on the same cores, and a
 * request thread waiting its turn behind another is a latency spike (with
 * a pool of one per online core under `taskset -c 1`, two request threads
 * shared one core). Online CPUs when the mask cannot be read.
 */
unsigned sl__ncpu(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1u : (unsigned)n;
}

unsigned sl__thread_count(unsigned asked)
{
	unsigned n = asked ? asked : sl__ncpu();

	return n > SL__MAX_THREADS ? SL__MAX_THREADS : n;
}

static void run_items(job *j, unsigned worker)
{
	bool outer = in_loop;

	in_loop = true;
	for (;;) {
		size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (i >= j->n)
			break;
		j->fn(j->ctx, i, worker);
	}
	in_loop = outer;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Spins until *p differs from old (true) or SPIN_NS have passed (false). */
static bool spin_while(const unsigned long *p, unsigned long old)
{
	uint64_t start = 0;

	for (unsigned i = 1;; i++) {
		if (__atomic_load_n(p, __ATOMIC_ACQUIRE) != old)
			return true;
		cpu_relax();
		if (i % 64 == 0) {
			uint64_t t = now_ns();
			if (!start)
				start = t;
			else if (t - start > SPIN_NS)
				return false;
			sched_yield(); /* a busy machine's other threads come first */
		}
	}
}

static void *worker_main(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	unsigned long seen;

	sl__thread_name("sl-pool");
	pthread_mutex_lock(&pool.mu);
	seen = pool.born[id];
	for (;;) {
		job *j;
		if (pool.gen == seen) {
			pthread_mutex_unlock(&pool.mu);
			spin_while(&pool.gen, seen);
			pthread_mutex_lock(&pool.mu);
		}
		while (pool.gen == seen)
			pthread_cond_wait(&pool.wake, &pool.mu);
		seen = pool.gen;
		j = pool.cur;
		if (!j || id >= j->threads)
			continue; /* withdrawn already, or not invited */
		j->joined++;
		pthread_mutex_unlock(&pool.mu);
		run_items(j, id);
		pthread_mutex_lock(&pool.mu);
		if (__atomic_add_fetch(&j->finished, 1, __ATOMIC_RELEASE) == j->joined)
			pthread_cond_signal(&pool.done);
	}
	return NULL;
}

/* A forked child has none of the parent's threads: start over. */
static void atfork_child(void)
{
	pthread_mutex_init(&pool.call_mu, NULL);
	pthread_mutex_init(&pool.mu, NULL);
	pthread_cond_init(&pool.wake, NULL);
	pthread_cond_init(&pool.done, NULL);
	pool.started = 0;
	pool.cur = NULL;
	in_loop = false;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

/* Starts workers up to id want-1 (under mu); returns how many exist. */
static unsigned grow(unsigned want)
{
	while (pool.started + 1 < want) {
		pthread_t t;
		pthread_attr_t attr;
		int rc;

		pool.born[pool.started + 1] = pool.gen;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, worker_main, (void *)(uintptr_t)(pool.started + 1));
		pthread_attr_destroy(&attr);
		if (rc != 0)
			break; /* fewer threads; the caller still works (invariant 1) */
		pool.started++;
	}
	return pool.started + 1;
}

void sl__parallel_for(unsigned threads, size_t n, sl__for_fn fn, void *ctx)
{
	job j = {fn, ctx, n, 0, 1, 0, 0};

	threads = sl__thread_count(threads);
	if ((size_t)threads > n)
		threads = (unsigned)n;
	if (threads <= 1 || in_loop || pthread_mutex_trylock(&pool.call_mu) != 0) {
		run_items(&j, 0);
		return;
	}
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&pool.mu);
	threads = grow(threads) < threads ? pool.started + 1 : threads;
	j.threads = threads;
	pool.cur = &j;
	__atomic_store_n(&pool.gen, pool.gen + 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&pool.wake);
	pthread_mutex_unlock(&pool.mu);

	run_items(&j, 0);

	pthread_mutex_lock(&pool.mu);
	pool.cur = NULL; /* every item is taken: no one joins from now on */
	if (j.finished < j.joined) {
		/* joined is final now; a worker touches j only under mu, so
		 * taking mu again below waits out its last access. */
		unsigned long done = j.finished, joined = j.joined;
		pthread_mutex_unlock(&pool.mu);
		while (done < joined && spin_while(&j.finished, done))
			done = __atomic_load_n(&j.finished, __ATOMIC_ACQUIRE);
		pthread_mutex_lock(&pool.mu);
	}
	while (j.finished < j.joined)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
	pthread_mutex_unlock(&pool.call_mu);
}

typedef struct range_job {
	sl__range_fn fn;
	void *ctx;
	size_t n, grain;
} range_job;

static void range_item(void *ctx, size_t i, unsigned worker)
{
	range_job *r = ctx;
	size_t lo = i * r->grain, hi = lo + r->grain;

	r->fn(r->ctx, lo, hi < r->n ? hi : r->n, worker);
}

void sl__parallel_range(unsigned threads, size_t n, size_t grain, sl__range_fn fn, void *ctx)
{
	range_job r = {fn, ctx, n, grain ? grain : 1};

	if (n == 0)
		return;
	sl__parallel_for(threads, (n + r.grain - 1) / r.grain, range_item, &r);
}
