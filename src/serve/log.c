/*
 * The inference log's writer (log.h): records copied into shared mappings
 * of the open segment, chunk after chunk; group commit for ILOG_FSYNC; a
 * maintenance thread that rotates by age, compresses and applies retention.
 *
 * Why a mapping and not write(2): with the default durability every
 * response waits until its record has reached the operating system. A
 * write(2) per request (or a hand-over to a writer thread and back) cost
 * a fifth of the server's CPU per request on a one-row request
 * (bench/serve.sh, measured in CPU time per request); a copy into a
 * MAP_SHARED page is in the page cache when the copy ends, with one
 * page fault per page instead of one system call per record.
 *
 *   append:  c = cur; c->writers++; c still cur?  (else undo and retry)
 *            off = c->next += len; fits? copy; c->writers--; done
 *            else c->writers--; rotate(c)
 *   rotate:  (one thread; the others wait, or drop under ILOG_DROP)
 *            c->next = CLOSED  (no new reservation succeeds)
 *            wait for c->writers == 0  (the copies in flight end)
 *            data end = the end of c's last record
 *            [segment full or old: take the next segment the helper made
 *             ready (made and prepared here if it is not), name it, and
 *             hand the closed one to the helper]
 *            fallocate and map the next chunk at the data end; cur = it
 *            the helper: populate it, then cut and close the closed
 *            segment, write zeros after the chunk (below), make the
 *            next segment ready
 *
 *   segment files, by name:
 *     INSTANCE.jsonl.new   the next one, made ready by the helper: locked,
 *                          its first chunk prepared; no records
 *     START-INSTANCE-SEQ.jsonl       renamed so at the rotation; open,
 *                                    locked; then closed (cut, unlocked)
 *     START-INSTANCE-SEQ.jsonl.zst   compressed by maintenance
 *
 * Invariants (besides log.h's):
 *  1. A thread touches a chunk's next or its memory only between raising
 *     its writers count and lowering it, and only after seeing the chunk
 *     current with the count raised; a chunk is unmapped only once it is
 *     not current and its count is zero. Chunk structs are reused round a
 *     small ring and never freed before the log, so a thread that read an
 *     old `cur` touches valid memory (and finds it not current).
 *  2. The open file, its descriptor and data end change only in a
 *     rotation (one at a time: `rotating`), and in fsync mode only under
 *     sync_mu, after the rotation synced the closed file past every
 *     record copied (no group commit running), so a group commit always
 *     syncs the file holding the records it covers.
 *  3. Zeros are written into the open segment (a preparation) only past
 *     the end of the current chunk, where no reservation reaches, and
 *     only while no rotation runs: a rotation first stops the preparation
 *     under way (it ends at its next piece) and drops the one queued, and
 *     queues the next once its chunk is published. So no record is ever
 *     overwritten by zeros, and a preparation always writes to the file
 *     it was queued for.
 *  4. The spare is a compressed segment already unlinked: no reader or
 *     server can reach it, nothing but the helper writes to it (it only
 *     cuts it shorter, before a preparation), and whoever takes it from
 *     l->spare (under mu) owns its descriptor until it puts it back or
 *     closes it.
 *  5. No record is ever copied into a segment before it has its name
 *     (.jsonl): the next segment (l->next) is made and prepared under
 *     next_path, a name readers skip, locked from its creation on, and is
 *     named by the rotation that swaps it in, after the chunk before it
 *     is drained and before its first chunk is published. Only the helper
 *     writes to it before, between raising next.running and lowering it
 *     (under mu), starting only while no rotation runs; the segment
 *     rotation that takes it first stops that (next_cancel: at its next
 *     piece), and owns it once it cleared l->next. At close an unnamed
 *     next segment is removed; one a crash leaves is unlocked and holds no
 *     records, and a sweep removes it (after a minute). A closed segment
 *     handed to the helper (l->retired) stays locked, so uncompressed,
 *     until it is cut to its records; readers skip the zeros past them
 *     meanwhile (log.h).
 *
 * Preparing the pages. Each chunk's pages must be in the page cache and
 * mapped writable before requests copy into them, or every 4 KiB page of
 * records costs its request a page fault. Faulting fallocated (unwritten)
 * blocks in, even from the helper with MADV_POPULATE_WRITE, costs a fault
 * per page that converts its block (about 4 ms of CPU per 4 MiB chunk
 * here), and leaves small pages that cost as much again to write back and
 * truncate. Writing zeros with pwritev puts the same range in the page
 * cache as large folios in about a sixth of the CPU, and a write fault
 * then maps a whole folio. So while requests fill a chunk the helper
 * writes zeros over the range after it (one chunk's worth); the rotation
 * maps the next chunk over that range and the helper's MADV_POPULATE_WRITE
 * of it is then cheap. A new segment's first chunk is a short one (256
 * KiB), prepared with the segment by the helper ahead of the rotation
 * (by the rotation itself, while the others wait, when the helper is
 * behind: counted in seg_unready). The cost: the open segment's file
 * reaches up to two chunks past its data end (zeros readers skip, cut at
 * close), the next segment waits with its 256 KiB of zeros, and the zeros
 * reach the disk if written back before the records (as the faulted pages
 * did).
 *
 * Why ahead. A segment rotation made the file (open, lock, rename: 90
 * us), wrote the first chunk's zeros (75 us) and cut and closed the full
 * segment (20-60 us, 2-5 ms when the kernel was writing it back), every
 * other request waiting, once a second under load. Now it names what the
 * helper made ready (a rename, 25-60 us) and maps; the helper cuts and
 * closes the closed segment between its other work. On one
 * core at 30,000 records a second (bench/log_rotate.sh), a segment
 * rotation's median went from 512 to 128 us, a chunk rotation's being
 * 64 us.
 *
 * Reusing pages. Those zeros cost the page cache new pages, and new pages
 * can cost far more than writing them: on a virtual machine that hands
 * memory free for a few seconds back to its host, the first write to a
 * page the host must supply again cost 10 ms of CPU per 4 MiB chunk here,
 * against 1 ms for pages freed just before. Closed segments free their
 * pages in bulk when compressed, seconds before the next ones need them.
 * So once the maintenance thread has compressed a segment of this server,
 * it unlinks it but keeps it open as the spare, and before each
 * preparation the helper cuts as much off the spare's end as it is about
 * to write: the pages it frees are the ones the preparation then takes.
 * The spare is invisible to readers (no name) and to other servers, goes
 * with the process, and is closed at once when a chunk finds the disk full
 * or after SPARE_MS, when the rate is too low for its pages to matter.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <zstd.h>

#include "core.h"
#include "serve/log.h"

#define RING 8
/* A new segment's first chunk, prepared by the rotation itself. */
#define FIRST_CHUNK ((size_t)256 << 10)
#define CLOSED ((uint64_t)1 << 62)
/* Text per zstd frame of a compressed segment (compress_segment). */
#define ZST_FRAME ((size_t)128 << 10)
/* The helper's other pieces of work, a step aside after each (step_aside):
 * each took 0.05-0.2 ms of CPU in the kernel, where a whole chunk's took
 * 0.2-0.8 ms (cutting the spare), 0.1-0.4 ms (unmapping) and now and then
 * 1.5 ms (page tables, 512 KiB at a time). */
#define SPARE_PIECE ((uint64_t)ILOG_PREP_PIECE * 4)
#define POPULATE_PIECE ILOG_PREP_PIECE
#define UNMAP_PIECE (ILOG_PREP_PIECE * 4)
/* A spare unused for this long is freed (see "Reusing pages"). */
#define SPARE_MS 30000

typedef struct chunk {
	_Atomic uint64_t next;  /* bytes reserved from base */
	_Atomic int writers;    /* copies in progress (invariant 1) */
	char *map;              /* the mapping, page aligned */
	size_t map_len;
	char *base;             /* where reservations start: file offset `start` */
	uint64_t start;
	uint64_t cap;
	uint64_t seg_gen;       /* which segment the chunk belongs to */
	bool drained;           /* closed and its copies done: end is known */
	uint64_t end;           /* (rotating thread only) */
} chunk;

struct ilog {
	ilog_opts o;
	char *dir;
	char instance[9];
	size_t page;
	/* The open segment (invariant 2). */
	int fd;
	char *seg_path;
	uint64_t seg_seq;
	uint64_t seg_gen;       /* counts segments opened, from 1 */
	uint64_t seg_end;       /* data end of the segment, as of the last rotation */
	int64_t seg_start_ms;
	/* Chunks. */
	_Atomic(chunk *) cur;
	chunk ring[RING];
	unsigned ring_pos;
	pthread_mutex_t mu;     /* rotating, waiting, stats below */
	pthread_cond_t rotated;
	bool rotating;
	uint64_t waiting;
	uint64_t dropped, failed, rotations, segments, compressed, removed;
	uint64_t rot_hist[2][ILOG_ROT_BUCKETS], rot_ns[2];
	_Atomic uint64_t written;
	/* Group commit (ILOG_FSYNC). */
	pthread_mutex_t sync_mu;
	pthread_cond_t synced_cv;
	uint64_t copied, synced, fsyncs;
	bool syncing;
	/* The helper: prefaults the current chunk, unmaps retired ones,
	 * prepares the range the next chunk will map. */
	pthread_cond_t help_cv;
	chunk *prefault;         /* a new chunk to prefault (under mu) */
	struct unmap {
		char *map;
		size_t len;
	} unmaps[RING];          /* retired mappings (under mu) */
	size_t n_unmaps;
	bool help_started;
	pthread_t help;
	/* The range after the current chunk, prepared by the helper (under mu;
	 * invariant 3). */
	struct prep {
		uint64_t from, to;   /* file offsets in the open segment */
		int fd;
		bool queued, running;
	} prep;
	_Atomic bool prep_cancel;
	uint64_t prep_gen, prep_done; /* the open segment is prepared up to prep_done
				       * when prep_gen is its seg_gen */
	pthread_cond_t prep_cv;  /* a preparation stopped */
	uint64_t prepared;       /* bytes prepared (stats) */
	/* A compressed segment of ours, unlinked but still open, whose pages
	 * the helper frees a chunk at a time right before each preparation
	 * (under mu; "Reusing pages" above). */
	struct spare {
		int fd;
		uint64_t size;
		int64_t since_ms;
	} spare;
	uint64_t reused;         /* bytes of spare freed before a preparation (stats) */
	/* The next segment, made and prepared ahead by the helper under the
	 * name next_path (under mu; invariant 5). */
	struct next_seg {
		int fd;              /* -1: none made */
		uint64_t done;       /* prepared from its start */
		bool wanted;         /* the helper is to make or finish it */
		bool running;        /* the helper is at it */
	} next;
	_Atomic bool next_cancel;
	char *next_path;         /* DIR/INSTANCE.jsonl.new */
	uint64_t seg_ready, seg_unready; /* new segments found ready, or not (stats) */
	/* Closed segments the helper is to cut and close (under mu). */
	struct retired {
		int fd;
		char *path;
		uint64_t end;
	} retired[RING];
	size_t n_retired;
	_Atomic uint64_t prep_writes; /* the helper's writes of zeros (stats) */
	/* Maintenance. */
	pthread_cond_t maint_cv;
	bool stop;
	bool maint_started;
	pthread_t maint;
};

static int sys_err(const char *what, const char *path)
{
	return sl__err(SL_EIO, "%s %s: %s", what, path, strerror(errno));
}

/* ---- segment files ---------------------------------------------------------------- */

/*
 * Creates the next segment under l->next_path, locked, and gives its
 * descriptor. Made under that name and locked before it gets its own: a
 * sweep (ours or another server's) takes an unlocked segment for a closed
 * one, and would compress or remove it under the writer; readers take
 * only .jsonl and .jsonl.zst names, so they never see a segment that is
 * still being made.
 */
static int make_segment(ilog *l, int *out)
{
	int fd = open(l->next_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	*out = -1;
	if (fd < 0)
		return sys_err("cannot create the log segment", l->next_path);
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int rc = sys_err("cannot lock the log segment", l->next_path);
		unlink(l->next_path);
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/* A new segment's first chunk: short, so that preparing it costs little. */
static size_t first_chunk(const ilog *l)
{
	return l->o.chunk_bytes < FIRST_CHUNK ? l->o.chunk_bytes : FIRST_CHUNK;
}

/* Drops a segment made (or made ready) and never named. */
static void unmake_segment(ilog *l, int fd)
{
	unlink(l->next_path);
	close(fd);
}

/*
 * Gives the segment made under l->next_path (fd) its name, which carries
 * the time now: the rotation's, after the last reservation in the segment
 * before it (log.h's closed_ms). Its time of last change is set to now as
 * well: readers skip a segment last written before what they look for,
 * and the helper may have made it long ago.
 */
static int name_segment(ilog *l, int fd, char **path_out)
{
	char name[64], stamp[32];
	int64_t now = sl__now_ms();
	time_t t = (time_t)(now / 1000);
	struct tm tm;
	char *path;

	*path_out = NULL;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
	/* Milliseconds in the name: readers take the segments in name order
	 * as oldest first, and two servers started in one second would
	 * otherwise be ordered by their random instance. */
	snprintf(name, sizeof name, "%s.%03d-%s-%06llu.jsonl", stamp, (int)(now % 1000),
		 l->instance, (unsigned long long)l->seg_seq++);
	if (!(path = sl__path_join(l->dir, name)))
		return sl__oom();
	if (rename(l->next_path, path)) {
		int rc = sys_err("cannot name the log segment", path);
		sl__free(path);
		return rc;
	}
	futimens(fd, NULL);
	if (l->o.durability == ILOG_FSYNC)
		sl__fsync_dir_of(path);
	l->seg_start_ms = now;
	*path_out = path;
	return 0;
}

/*
 * Cuts a closed segment to its records (end bytes), syncs it (fsync mode)
 * and closes it, which drops its lock: maintenance may compress it then.
 * Takes fd and path. The cut frees up to two chunks of zeros in one call:
 * 20-60 us of CPU, about one piece of a preparation, so the helper does
 * not split it (it waits longer when the kernel is writing the segment
 * back, but asleep, not holding the core).
 */
static int finish_segment(ilog *l, int fd, char *path, uint64_t end)
{
	int rc = 0;

	if (ftruncate(fd, (off_t)end))
		rc = sys_err("cannot cut the log segment", path);
	if (l->o.durability == ILOG_FSYNC && fdatasync(fd) && !rc)
		rc = sys_err("cannot sync the log segment", path);
	if (end == 0)
		unlink(path);
	close(fd);
	sl__free(path);
	pthread_mutex_lock(&l->mu);
	l->segments++;
	pthread_cond_signal(&l->maint_cv);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* ---- chunks -------------------------------------------------------------------------- */

/*
 * Puts [from, to) of the segment fd in the page cache as written zeros:
 * blocks allocated, then zeros written with pwritev. A page the kernel
 * made this way takes no page fault per 4 KiB page when mapped and
 * written: a write fault maps the whole (large) folio, where faulting in
 * fallocated, unwritten blocks cost a fault per page, each converting
 * its block (about four times the CPU for a chunk, plus as much again to
 * write back and truncate the small pages). Stops early when
 * l->prep_cancel is set. Returns the bytes prepared from `from`.
 *
 * Written ILOG_PREP_PIECE at a time: a thread woken on the helper's core
 * gets it, if at all, between two calls (a kernel without full preemption,
 * as here, need not switch inside one), and a 1 MiB write took 0.25-0.3
 * ms. Beside a writer of 4 MiB every 0.1 s, a thread sleeping 0.1 ms in a
 * loop woke over 0.5 ms late 1.7% of the time with 1 MiB writes, 0.7-1.4%
 * with 128 KiB ones and 0.9-1.3% with no writer (bench/prep_wake.sh, a
 * loaded machine). The extra calls cost nothing measurable (32 a chunk,
 * not 4), and a rotation stopping a preparation waits for one piece, not
 * 1 MiB.
 */

/*
 * Leaves the core to the request threads for 0.1 ms, between two pieces of
 * the helper's work (a write of zeros, a 512 KiB page-table fill) and two
 * of the compressor's frames. Pieces alone were not enough: a request
 * thread kept busy by its connections never sleeps, so it never wakes to
 * preempt anything, and the scheduler switches a running thread only at a
 * tick (4 ms at 250 Hz) whatever its nice or slice. So the helper did a
 * chunk's preparation (1-3 ms) and the compressor a 1 MiB frame (1.7 ms)
 * in one run each while every connection of a server pinned to one core
 * waited: wrk's p99 with 8 connections was 1.4-3.2 ms, against 0.9-1.3 ms
 * stepping aside (four pairs on one core, a different row per request).
 * It costs the two threads some 20% more CPU of their own (their caches
 * are cold after each step), about 0.2 us a request. The helper is woken
 * promptly because its slice is short (sl__thread_background); the
 * compressor, at nice 19, takes whatever turn it gets.
 */
static void step_aside(void)
{
	struct timespec ts = {0, 100 * 1000};

	nanosleep(&ts, NULL);
}

static uint64_t prepare(ilog *l, int fd, uint64_t from, uint64_t to, _Atomic bool *cancel)
{
	/* Never written: reading it maps the zero page. */
	static char zeros[1 << 16];
	struct iovec iov[ILOG_PREP_PIECE / sizeof zeros];
	uint64_t at = from;

	if (to <= from || posix_fallocate(fd, (off_t)from, (off_t)(to - from)))
		return 0;
	while (at < to && !(cancel && atomic_load(cancel))) {
		uint64_t left = to - at, piece = 0;
		int k = 0;
		ssize_t w;
		for (; k < (int)(sizeof iov / sizeof *iov) && piece < left; k++) {
			size_t m = left - piece < sizeof zeros ? (size_t)(left - piece) : sizeof zeros;
			iov[k] = (struct iovec){zeros, m};
			piece += m;
		}
		if (cancel && l->o.test_prep_delay_ms)
			usleep(l->o.test_prep_delay_ms * 1000u);
		w = pwritev(fd, iov, k, (off_t)at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		at += (uint64_t)w;
		if (cancel) {
			atomic_fetch_add_explicit(&l->prep_writes, 1, memory_order_relaxed);
			step_aside();
		}
	}
	return at - from;
}

/* ---- the spare (see "Reusing pages") ------------------------------------------------- */

/* Makes fd (a compressed segment of ours, size bytes, unlinked) the spare;
 * an older one is freed at once. Takes fd. */
static void keep_spare(ilog *l, int fd, uint64_t size)
{
	struct spare old;

	pthread_mutex_lock(&l->mu);
	old = l->spare;
	l->spare = (struct spare){.fd = fd, .size = size, .since_ms = sl__now_ms()};
	pthread_mutex_unlock(&l->mu);
	if (old.fd >= 0)
		close(old.fd);
}

/* Frees the spare's pages and blocks at once; whether there was one. */
static bool drop_spare(ilog *l)
{
	struct spare s;

	pthread_mutex_lock(&l->mu);
	s = l->spare;
	l->spare = (struct spare){.fd = -1};
	pthread_mutex_unlock(&l->mu);
	if (s.fd < 0)
		return false;
	close(s.fd);
	return true;
}

/*
 * Cuts up to n bytes off the spare's end (the helper, right before it
 * writes n bytes of zeros, under mu, which it drops meanwhile): the pages
 * freed are at hand for the preparation's. In pieces, stepping aside
 * between them, as the preparation writes: one cut of a whole chunk took
 * 0.2-0.8 ms of CPU in the kernel, every request on the core waiting.
 * Stops early, keeping the rest, when cancel is set (a rotation is
 * waiting for the preparation this serves).
 */
static void use_spare(ilog *l, uint64_t n, _Atomic bool *cancel)
{
	struct spare s = l->spare;
	uint64_t cut = 0;

	if (s.fd < 0)
		return;
	l->spare = (struct spare){.fd = -1};
	pthread_mutex_unlock(&l->mu);
	if (n > s.size)
		n = s.size;
	while (cut < n && !atomic_load(cancel)) {
		uint64_t m = n - cut < SPARE_PIECE ? n - cut : SPARE_PIECE;
		if (cut)
			step_aside();
		if (ftruncate(s.fd, (off_t)(s.size - cut - m))) {
			/* Cannot cut it: let it go whole. */
			cut = s.size;
			break;
		}
		cut += m;
	}
	s.size -= cut;
	pthread_mutex_lock(&l->mu);
	l->reused += cut;
	if (s.size && l->spare.fd < 0) {
		l->spare = s;
		s.fd = -1;
	}
	pthread_mutex_unlock(&l->mu);
	if (s.fd >= 0)
		close(s.fd);
	pthread_mutex_lock(&l->mu);
}

/* Maps a chunk of size bytes, or need if more, at the segment's data end into c. */
static int map_chunk(ilog *l, chunk *c, size_t need, size_t size)
{
	uint64_t start = l->seg_end, map_off = start / l->page * l->page;
	size_t cap = size > need ? size : need;
	char *map;
	int err;

	cap = (cap + l->page - 1) / l->page * l->page;
	/* Blocks first: a full disk fails here, not as a SIGBUS in a copy.
	 * The spare's blocks are given back before that counts as full. */
	err = posix_fallocate(l->fd, (off_t)start, (off_t)cap);
	if (err == ENOSPC && drop_spare(l))
		err = posix_fallocate(l->fd, (off_t)start, (off_t)cap);
	if (err) {
		errno = err;
		return sys_err("no room for the inference log in", l->seg_path);
	}
	map = mmap(NULL, (size_t)(start - map_off) + cap, PROT_READ | PROT_WRITE, MAP_SHARED,
		   l->fd, (off_t)map_off);
	if (map == MAP_FAILED)
		return sys_err("cannot map the log segment", l->seg_path);
	c->map = map;
	c->map_len = (size_t)(start - map_off) + cap;
	c->base = map + (start - map_off);
	c->start = start;
	c->cap = cap;
	c->seg_gen = l->seg_gen;
	c->drained = false;
	atomic_store(&c->next, 0);
	return 0;
}

/*
 * Closes chunk c to reservations, waits for its copies in flight and
 * returns the file offset where its last record ends (once per chunk; the
 * rotating thread only).
 */
static uint64_t drain(chunk *c)
{
	uint64_t reserved, end;

	if (c->drained)
		return c->start + c->end;
	reserved = atomic_exchange(&c->next, CLOSED);
	while (atomic_load(&c->writers))
		sched_yield();
	if (reserved <= c->cap) {
		end = reserved;
	} else {
		/* The reservation that failed left nothing: the data ends at
		 * the last line end before it (records are never split). */
		end = c->cap;
		while (end && c->base[end - 1] == 0)
			end--;
	}
	c->end = end;
	c->drained = true;
	return c->start + end;
}

/* The open segment is prepared from its start up to done (under mu, or
 * before the threads start). */
static void set_prepared(ilog *l, uint64_t done)
{
	l->prep_gen = l->seg_gen;
	l->prep_done = done;
	l->prepared += done;
}

/*
 * Queues the preparation of the chunk that will follow c, which has just
 * been published (under mu): the range after c's end, where no record can
 * be until the next rotation (invariant 3), less what is prepared already.
 * Nothing past the segment's size, where the next chunk is in a new file.
 */
static void queue_prep(ilog *l, const chunk *c)
{
	uint64_t from = c->start + c->cap, to = from + l->o.chunk_bytes;

	if (l->prep_gen == c->seg_gen && l->prep_done > from)
		from = l->prep_done;
	if (c->start + c->cap >= l->o.segment_bytes || from >= to)
		return;
	l->prep = (struct prep){.from = from, .to = to, .fd = l->fd, .queued = true};
}

/*
 * Swaps in the next segment (the rotating thread, chunk drained): the one
 * the helper made ready when it did (invariant 5), else one made and
 * prepared here while the others wait; names it and hands the closed one
 * to the helper to cut and close. On failure the open segment stays.
 */
static int next_segment(ilog *l, size_t size)
{
	struct retired old;
	uint64_t done;
	char *path = NULL;
	int fd, rc = 0;

	pthread_mutex_lock(&l->mu);
	/* Whatever the helper has done of it is ours once it stops (at its
	 * next piece). */
	atomic_store(&l->next_cancel, true);
	while (l->next.running)
		pthread_cond_wait(&l->prep_cv, &l->mu);
	atomic_store(&l->next_cancel, false);
	fd = l->next.fd;
	done = fd >= 0 ? l->next.done : 0;
	l->next = (struct next_seg){.fd = -1};
	if (fd >= 0 && done >= size)
		l->seg_ready++;
	else
		l->seg_unready++;
	pthread_mutex_unlock(&l->mu);
	if (fd < 0 && (rc = make_segment(l, &fd)))
		return rc;
	if (done < size)
		done += prepare(l, fd, done, size, NULL);
	old = (struct retired){.fd = l->fd, .path = l->seg_path, .end = l->seg_end};
	if (l->o.durability == ILOG_FSYNC) {
		/* Invariant 2: the records copied so far are in the closed
		 * segment; sync it, and they are synced. */
		pthread_mutex_lock(&l->sync_mu);
		while (l->syncing)
			pthread_cond_wait(&l->synced_cv, &l->sync_mu);
		if (fdatasync(old.fd))
			rc = sys_err("cannot sync the log segment", old.path);
		if (rc == 0) {
			l->synced = l->copied;
			l->fsyncs++;
			pthread_cond_broadcast(&l->synced_cv);
			rc = name_segment(l, fd, &path);
		}
		if (rc == 0)
			l->fd = fd;
		pthread_mutex_unlock(&l->sync_mu);
	} else if ((rc = name_segment(l, fd, &path)) == 0) {
		l->fd = fd;
	}
	if (rc) {
		unmake_segment(l, fd);
		return rc;
	}
	l->seg_path = path;
	l->seg_end = 0;
	l->seg_gen++;
	pthread_mutex_lock(&l->mu);
	set_prepared(l, done);
	l->next.wanted = true;
	if (l->n_retired < RING && l->help_started) {
		l->retired[l->n_retired++] = old;
		old.fd = -1;
	}
	pthread_mutex_unlock(&l->mu);
	/* The records are safe whatever befalls the cut (readers skip
	 * zeros): the rotation goes on. */
	if (old.fd >= 0)
		finish_segment(l, old.fd, old.path, old.end);
	return 0;
}

/* Counts a rotation that took ns, of a new segment or not (under mu). */
static void count_rotation(ilog *l, bool seg, uint64_t ns)
{
	int b = 0;

	while (b + 1 < ILOG_ROT_BUCKETS && ns > ILOG_ROT_US(b) * 1000)
		b++;
	l->rot_hist[seg][b]++;
	l->rot_ns[seg] += ns;
}

/*
 * Replaces chunk c (which has no room for need bytes, or is old) by the
 * next, opening a new segment first when the current one is full or
 * new_file is set. One rotation at a time: others wait, or drop (drop).
 * Returns 0 (try again), ILOG_DROPPED, or an error.
 */
static int rotate(ilog *l, chunk *c, size_t need, bool new_file, bool drop)
{
	chunk *n;
	size_t size = l->o.chunk_bytes;
	double t0 = sl__mono_sec();
	bool seg = false;
	int rc = 0;

	pthread_mutex_lock(&l->mu);
	if (atomic_load(&l->cur) != c) {
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	if (l->rotating) {
		if (drop) {
			l->dropped++;
			pthread_mutex_unlock(&l->mu);
			return ILOG_DROPPED;
		}
		l->waiting++;
		while (l->rotating)
			pthread_cond_wait(&l->rotated, &l->mu);
		l->waiting--;
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	l->rotating = true;
	n = &l->ring[l->ring_pos];
	/* Invariant 3: no preparation writes zeros while the next chunk is
	 * mapped (it may cover the range) or the file changes. A preparation
	 * under way stops at its next piece. */
	l->prep.queued = false;
	atomic_store(&l->prep_cancel, true);
	while (l->prep.running)
		pthread_cond_wait(&l->prep_cv, &l->mu);
	atomic_store(&l->prep_cancel, false);
	pthread_mutex_unlock(&l->mu);

	if (l->o.test_rotate_delay_ms)
		usleep(l->o.test_rotate_delay_ms * 1000u);
	/* A chunk of a segment already left (its successor failed to map)
	 * has no say in the open one's end. */
	if (c && c->seg_gen == l->seg_gen)
		l->seg_end = drain(c);
	else if (c)
		drain(c);
	if (new_file || l->seg_end >= l->o.segment_bytes) {
		seg = true;
		size = first_chunk(l);
		rc = next_segment(l, size);
	}
	if (rc == 0)
		rc = map_chunk(l, n, need, size);
	pthread_mutex_lock(&l->mu);
	if (rc == 0) {
		atomic_store(&l->cur, n);
		l->ring_pos = (l->ring_pos + 1) % RING;
		l->rotations++;
		/* The helper unmaps the old chunk and prefaults the new one,
		 * so that requests neither wait for an unmap nor take a page
		 * fault per page of records. */
		if (c) {
			if (l->n_unmaps < RING && l->help_started)
				l->unmaps[l->n_unmaps++] = (struct unmap){c->map, c->map_len};
			else
				munmap(c->map, c->map_len);
			c->map = NULL;
		}
		l->prefault = n;
		queue_prep(l, n);
	}
	/* Else the old chunk stays current and closed: every append comes
	 * back here and tries again. */
	l->rotating = false;
	pthread_cond_broadcast(&l->rotated);
	pthread_cond_signal(&l->help_cv);
	if (rc == 0)
		count_rotation(l, seg, (uint64_t)((sl__mono_sec() - t0) * 1e9));
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* ---- the helper ----------------------------------------------------------------------------- */

static void *help_main(void *arg)
{
	ilog *l = arg;

	sl__thread_name("sl-log-help");
	sl__thread_background(10);
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct unmap um[RING];
		size_t n = l->n_unmaps;
		char *base = NULL;
		size_t cap = 0;
		if (!n && !l->prefault && l->n_retired) {
			/* A closed segment: cut it to its records and let it go. */
			struct retired r = l->retired[--l->n_retired];
			pthread_mutex_unlock(&l->mu);
			finish_segment(l, r.fd, r.path, r.end);
			pthread_mutex_lock(&l->mu);
			continue;
		}
		if (!n && !l->prefault && l->prep.queued) {
			/* The chunk in use is ready: prepare the next one. */
			struct prep p = l->prep;
			uint64_t done;
			l->prep.queued = false;
			l->prep.running = true;
			use_spare(l, p.to - p.from, &l->prep_cancel);
			pthread_mutex_unlock(&l->mu);
			done = prepare(l, p.fd, p.from, p.to, &l->prep_cancel);
			pthread_mutex_lock(&l->mu);
			l->prep.running = false;
			if (done) {
				l->prep_gen = l->seg_gen;
				l->prep_done = p.from + done;
				l->prepared += done;
			}
			pthread_cond_broadcast(&l->prep_cv);
			continue;
		}
		if (!n && !l->prefault && l->next.wanted && !l->rotating && !l->o.test_no_ahead) {
			/* Then the next segment and its first chunk, so that the
			 * rotation to it only has to name it (invariant 5). */
			struct next_seg x = l->next;
			uint64_t size = first_chunk(l);
			l->next.wanted = false;
			l->next.running = true;
			if (x.done < size)
				use_spare(l, size - x.done, &l->next_cancel);
			pthread_mutex_unlock(&l->mu);
			if (x.fd < 0)
				make_segment(l, &x.fd);
			if (x.fd >= 0 && x.done < size)
				x.done += prepare(l, x.fd, x.done, size, &l->next_cancel);
			pthread_mutex_lock(&l->mu);
			l->next.fd = x.fd;
			l->next.done = x.done;
			l->next.running = false;
			pthread_cond_broadcast(&l->prep_cv);
			continue;
		}
		if (!n && !l->prefault) {
			pthread_cond_wait(&l->help_cv, &l->mu);
			continue;
		}
		memcpy(um, l->unmaps, n * sizeof *um);
		l->n_unmaps = 0;
		if (l->prefault) {
			base = l->prefault->base;
			cap = l->prefault->cap;
			l->prefault = NULL;
		}
		pthread_mutex_unlock(&l->mu);
		/* Writable page tables for the whole chunk, faulted here rather
		 * than in the requests' copies (Linux 5.14 and later; older
		 * kernels refuse and the copies fault as before): few faults
		 * where the range was prepared, one per page where not. Only
		 * this thread unmaps, so the range stays mapped meanwhile. The
		 * chunk is in use already, so this comes before the unmapping. */
		if (base) {
			uintptr_t at = (uintptr_t)base / l->page * l->page;
			uintptr_t end = (uintptr_t)base + cap;
			while (at < end) {
				size_t m = end - at < POPULATE_PIECE ? end - at : POPULATE_PIECE;
				if (madvise((void *)at, m, MADV_POPULATE_WRITE))
					break;
				at += m;
				if (at < end)
					step_aside();
			}
		}
		/* An old chunk's mapping goes in pieces too: unmapping a whole
		 * one (4 MiB of written pages) took 0.1-0.5 ms in the kernel. */
		for (size_t i = 0; i < n; i++) {
			for (size_t off = 0; off < um[i].len; off += UNMAP_PIECE) {
				size_t m = um[i].len - off < UNMAP_PIECE ? um[i].len - off : UNMAP_PIECE;
				step_aside();
				munmap(um[i].map + off, m);
			}
		}
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ---- appending ------------------------------------------------------------------------------ */

static int group_commit(ilog *l)
{
	uint64_t my;
	int rc = 0;

	pthread_mutex_lock(&l->sync_mu);
	my = ++l->copied;
	while (l->synced < my && rc == 0) {
		if (l->syncing) {
			pthread_cond_wait(&l->synced_cv, &l->sync_mu);
			continue;
		}
		/* Lead: one fdatasync for every record copied until now. */
		{
			uint64_t target = l->copied;
			int fd = l->fd;
			l->syncing = true;
			pthread_mutex_unlock(&l->sync_mu);
			if (fdatasync(fd))
				rc = sys_err("cannot sync the log segment", l->dir);
			pthread_mutex_lock(&l->sync_mu);
			l->syncing = false;
			if (rc == 0) {
				l->synced = target;
				l->fsyncs++;
			}
			pthread_cond_broadcast(&l->synced_cv);
		}
	}
	pthread_mutex_unlock(&l->sync_mu);
	return rc;
}

int ilog_append_with(ilog *l, const char *prefix, size_t plen, _Atomic uint64_t *gen,
		     const char *rec, size_t len)
{
	for (;;) {
		chunk *c = atomic_load(&l->cur);
		uint64_t off;
		size_t need, pre;
		int rc;
		atomic_fetch_add(&c->writers, 1);
		if (atomic_load(&l->cur) != c) {
			atomic_fetch_sub(&c->writers, 1);
			continue;
		}
		/* Threads racing to a new segment may each write the schema:
		 * harmless; what matters is that none writes the record
		 * without one before it in the same file. */
		pre = prefix && atomic_load(gen) != c->seg_gen ? plen : 0;
		need = pre + len;
		off = atomic_fetch_add(&c->next, need);
		if (off + need <= c->cap) {
			if (pre)
				memcpy(c->base + off, prefix, pre);
			memcpy(c->base + off + pre, rec, len);
			if (pre)
				atomic_store(gen, c->seg_gen);
			atomic_fetch_sub_explicit(&c->writers, 1, memory_order_release);
			atomic_fetch_add_explicit(&l->written, 1, memory_order_relaxed);
			return l->o.durability == ILOG_FSYNC ? group_commit(l) : 0;
		}
		atomic_fetch_sub(&c->writers, 1);
		if ((rc = rotate(l, c, need, false, l->o.policy == ILOG_DROP))) {
			if (rc < 0) {
				pthread_mutex_lock(&l->mu);
				l->failed++;
				pthread_mutex_unlock(&l->mu);
			}
			return rc;
		}
	}
}

int ilog_append(ilog *l, const char *rec, size_t len)
{
	return ilog_append_with(l, NULL, 0, NULL, rec, len);
}

void ilog_stats_get(ilog *l, ilog_stats *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&l->mu);
	out->dropped = l->dropped;
	out->failed = l->failed;
	out->waiting = l->waiting;
	out->rotating = l->rotating;
	out->rotations = l->rotations;
	out->segments = l->segments;
	out->compressed = l->compressed;
	out->removed = l->removed;
	out->prepared = l->prepared;
	out->reused = l->reused;
	out->prep_writes = atomic_load(&l->prep_writes);
	out->seg_ready = l->seg_ready;
	out->seg_unready = l->seg_unready;
	out->next_ready = l->next.fd >= 0 && l->next.done >= first_chunk(l) && !l->next.running;
	memcpy(out->rot_hist, l->rot_hist, sizeof out->rot_hist);
	memcpy(out->rot_ns, l->rot_ns, sizeof out->rot_ns);
	pthread_mutex_unlock(&l->mu);
	out->written = atomic_load(&l->written);
	pthread_mutex_lock(&l->sync_mu);
	out->fsynced = l->o.durability == ILOG_FSYNC ? l->synced : 0;
	out->fsyncs = l->fsyncs;
	pthread_mutex_unlock(&l->sync_mu);
}

/* ---- maintenance ------------------------------------------------------------------------ */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The end of a closed segment's last record: a crashed server leaves zeros after it. */
static off_t records_end(int fd, off_t size)
{
	char buf[4096];

	while (size > 0) {
		off_t from = size > (off_t)sizeof buf ? size - (off_t)sizeof buf : 0;
		ssize_t n = pread(fd, buf, (size_t)(size - from), from);
		if (n <= 0)
			return size;
		for (ssize_t i = n; i > 0; i--)
			if (buf[i - 1] == '\n')
				return from + i;
		size = from;
	}
	return 0;
}

/*
 * Compresses path (a closed .jsonl, locked by fd, len bytes of records) to
 * path.zst, then removes it. The input is read through a mapping, not
 * copied into a buffer: the segment is in the page cache, and the copy
 * cost about a twentieth of compressing it. (Nothing truncates a closed
 * segment while its lock is held, so the mapping cannot lose its pages.)
 *
 * The output is a sequence of zstd frames of ZST_FRAME bytes of text each,
 * each compressed in one call from the mapping straight into a buffer that
 * holds its worst case. Streaming one frame through ZSTD_compressStream2
 * copies the input into zstd's own window buffer and works it from there:
 * on inference records that took 28% more instructions (18.0 against 14.0
 * a byte) and 12-20% more CPU, for a ratio 0.3% better (8.06 against 8.04
 * times smaller). Readers
 * (logread.c) decompress frames one after another, as `zstd -d` does.
 * Frames of 128 KiB, each followed by a step aside, keep each of the
 * compressor's runs near 0.2-0.4 ms (a run holds up every request on its
 * core: with 256 KiB frames they were 0.5-0.7 ms of CPU on varied
 * records), for a ratio 0.9% lower than 256 KiB frames (7.76 against
 * 7.82 on varied inference records; 1 MiB frames gave 0.7% more again).
 * Streaming a larger frame would not shorten a run: zstd works a whole
 * 128 KiB block at a time.
 *
 * What it costs. With a different row in each request (one-row requests of
 * 57 inputs, 464 bytes a record) compressing takes about 6,600
 * instructions a record, 1 us of CPU in the server, a tenth of the
 * request's own. It follows the text's entropy, not its length: of a
 * record's instructions the 240 bytes of its inputs take 4,200 and the
 * 37 digits of its two probabilities 1,600, while the 160 bytes that
 * repeat from record to record (names, model, endpoint) cost little. zstd's
 * fast match finder hashes each position where no match starts, and every
 * match it finds is a sequence to encode. What was measured (instructions
 * per byte of text by callgrind over 8 MiB of such a segment, ratio over
 * the whole 64 MiB):
 *
 *   level 1, hashLog 12, minMatch 7 (this)        14.2   7.87
 *   level 1, hashLog 12 (minMatch 6)              14.4   7.81
 *   ... hashLog 10, 11, 13                        14.4-14.6   7.78-7.85
 *   ... minMatch 4, 5                             16.6, 15.3   7.10, 7.59
 *   ... targetLength 2, 4, 8 (skips ahead)        12.1, 11.1, 10.1   5.27, 4.93, 4.21
 *   ... windowLog 15, 12                          15.8, 20.8   7.47, 5.83
 *   ... literals left raw (no Huffman coding)     12.9   5.52
 *   ... strategy dfast                            15.9   7.84
 *   ... frames of 128 KiB, 512 KiB, 1 MiB         14.5, 14.1, 14.1   7.75, 7.90, 7.92
 *   levels -1, -3                                 14.2, 13.0   5.74, 5.34
 *   level -1 with Huffman-coded literals          15.4   7.53
 *   our own match finder, matches starting only
 *   after a JSON delimiter (zstd's experimental
 *   sequence producer)                            12.4   7.56
 *
 * No setting is materially cheaper at a ratio near 8: those that cost
 * fewer instructions find fewer matches or leave literals raw, for more disk
 * (35-90%). Timed (CPU time, best of nine, three interleaved rounds),
 * minMatch 7 ran 1-2% faster than 6 and level -1 2% slower than level 1.
 * Our own finder saved 12% of the instructions but ran slower (zstd
 * copies the sequences it is handed into its own form), for a ratio 4%
 * worse, on an interface zstd may still change.
 */
static int compress_segment(ilog *l, const char *path, int fd, off_t len)
{
	size_t out_cap = ZSTD_compressBound(ZST_FRAME);
	char *outb = sl__malloc(out_cap);
	char *dst = sl__asprintf("%s.zst", path), *tmp = sl__asprintf("%s.zst.tmp", path);
	ZSTD_CCtx *cx = ZSTD_createCCtx();
	struct stat st;
	char *in = MAP_FAILED;
	int out = -1, rc = 0;

	if (!outb || !dst || !tmp || !cx) {
		rc = sl__oom();
		goto out;
	}
	if (fstat(fd, &st)) {
		rc = sys_err("cannot stat", path);
		goto out;
	}
	in = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
	if (in == MAP_FAILED) {
		rc = sys_err("cannot map", path);
		goto out;
	}
	madvise(in, (size_t)len, MADV_SEQUENTIAL);
	ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, l->o.zstd_level);
	/* At level 1, a hash table of 4K entries (16 KiB, in the first-level
	 * cache) instead of 8K: inference records compress 11% faster to the
	 * same size (7.9 times smaller), their repeats being near and alike.
	 * And matches of 7 bytes at least, not 6 (level 1's own choice for
	 * inputs of 256 KiB; 7 for the 1 MiB frames of before): 1.8% fewer
	 * instructions and a ratio 0.7% better (7.87 against 7.81), fewer
	 * short matches in the numbers being worth their sequences' cost
	 * (the other options measured are listed above). */
	if (l->o.zstd_level == 1) {
		ZSTD_CCtx_setParameter(cx, ZSTD_c_hashLog, 12);
		ZSTD_CCtx_setParameter(cx, ZSTD_c_minMatch, 7);
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = sys_err("cannot create", tmp);
		goto out;
	}
	for (size_t at = 0, n; at < (size_t)len; at += n) {
		size_t z;
		n = (size_t)len - at < ZST_FRAME ? (size_t)len - at : ZST_FRAME;
		z = ZSTD_compress2(cx, outb, out_cap, in + at, n);
		if (ZSTD_isError(z)) {
			rc = sl__err(SL_EIO, "zstd: %s", ZSTD_getErrorName(z));
			goto out;
		}
		if (write_all(out, outb, z)) {
			rc = sys_err("cannot write", tmp);
			goto out;
		}
		/* The frame's pages leave this process's mapping (they stay
		 * in the page cache): mapped, a whole segment counted in the
		 * server's RSS while it was compressed, 64 MiB by default. */
		madvise(in + at, n, MADV_DONTNEED);
		step_aside();
	}
	if (fsync(out)) {
		rc = sys_err("cannot sync", tmp);
		goto out;
	}
	close(out);
	out = -1;
	if (rename(tmp, dst)) {
		rc = sys_err("cannot rename", tmp);
		goto out;
	}
	/* The compressed segment keeps the time of its last record, which
	 * readers use to skip segments older than a query. */
	{
		struct utimbuf ut = {st.st_atime, st.st_mtime};
		utime(dst, &ut);
	}
	sl__fsync_dir_of(dst);
	unlink(path);
	sl__fsync_dir_of(path);
	pthread_mutex_lock(&l->mu);
	l->compressed++;
	pthread_mutex_unlock(&l->mu);
out:
	if (out >= 0) {
		close(out);
		unlink(tmp);
	}
	if (in != MAP_FAILED)
		munmap(in, (size_t)len);
	ZSTD_freeCCtx(cx);
	sl__free(outb);
	sl__free(dst);
	sl__free(tmp);
	return rc;
}

/* Whether a closed segment's last record (its time of last change) is older than the retention. */
static bool past_retention(const ilog *l, const struct stat *st, int64_t now)
{
	return l->o.retention_ms > 0 && (int64_t)st->st_mtime * 1000 < now - l->o.retention_ms;
}

static void count_removed(ilog *l)
{
	pthread_mutex_lock(&l->mu);
	l->removed++;
	pthread_mutex_unlock(&l->mu);
}

/* One closed segment compressed per call (so stopping stays prompt); retention. */
static void sweep(ilog *l)
{
	DIR *d = opendir(l->dir);
	struct dirent *e;
	int64_t now = sl__now_ms();
	bool did = false;
	char own[16];

	if (!d)
		return;
	snprintf(own, sizeof own, "-%s-", l->instance);
	while ((e = readdir(d))) {
		char *path;
		if (sl__str_has_suffix(e->d_name, ".jsonl.new")) {
			/* A segment a crash caught before it was named: no
			 * records (they go only into named segments), maybe
			 * zeros a helper prepared. A live server's is locked.
			 * A new one is unlocked between its creation and its
			 * lock: only one a minute old is taken for a leftover,
			 * and a young one is not even locked here (else a
			 * rotation's flock failed, and the requests waiting
			 * for it got 503). */
			struct stat st;
			int fd;
			if (!(path = sl__path_join(l->dir, e->d_name)))
				continue;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && fstat(fd, &st) == 0 &&
			    (int64_t)st.st_mtime * 1000 < now - 60 * 1000 &&
			    flock(fd, LOCK_EX | LOCK_NB) == 0)
				unlink(path);
			if (fd >= 0)
				close(fd);
			sl__free(path);
		} else if (sl__str_has_suffix(e->d_name, ".jsonl") && !did) {
			int fd;
			struct stat st;
			/* One of ours: its pages are in the page cache, and can
			 * serve as the spare once it is compressed. */
			bool ours = strstr(e->d_name, own) != NULL;
			if (!(path = sl__path_join(l->dir, e->d_name)))
				continue;
			fd = open(path, (ours ? O_RDWR : O_RDONLY) | O_CLOEXEC);
			/* A live writer holds its segment's lock (ours included). */
			if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0) {
				off_t len = records_end(fd, st.st_size);
				if (len == 0) {
					unlink(path);
				} else if (past_retention(l, &st, now)) {
					/* Compressed, it would go at once: compression
					 * runs only on idle CPU, so under a long peak
					 * a backlog can outlive the retention. */
					if (unlink(path) == 0)
						count_removed(l);
				} else if (compress_segment(l, path, fd, len) == 0 && ours) {
					keep_spare(l, fd, (uint64_t)st.st_size);
					fd = -1;
				}
				did = true;
			}
			if (fd >= 0)
				close(fd);
			sl__free(path);
		} else if (l->o.retention_ms > 0 && sl__str_has_suffix(e->d_name, ".jsonl.zst")) {
			struct stat st;
			if (!(path = sl__path_join(l->dir, e->d_name)))
				continue;
			if (stat(path, &st) == 0 && past_retention(l, &st, now) && unlink(path) == 0)
				count_removed(l);
			sl__free(path);
		}
	}
	closedir(d);
	if (did) {
		/* More may be waiting: come back soon. */
		pthread_mutex_lock(&l->mu);
		pthread_cond_signal(&l->maint_cv);
		pthread_mutex_unlock(&l->mu);
	}
}

static void *maint_main(void *arg)
{
	ilog *l = arg;

	sl__thread_name("sl-log-maint");
	/* Compression yields to serving. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct timespec ts;
		int64_t due;
		chunk *c;
		clock_gettime(CLOCK_REALTIME, &ts);
		due = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + l->o.maint_ms;
		ts.tv_sec = (time_t)(due / 1000);
		ts.tv_nsec = (long)(due % 1000) * 1000000;
		pthread_cond_timedwait(&l->maint_cv, &l->mu, &ts);
		if (l->stop)
			break;
		c = atomic_load(&l->cur);
		/* An old segment with records in it is closed, so that it gets
		 * compressed and the time of a segment's records stays bounded. */
		if (!l->rotating && sl__now_ms() - l->seg_start_ms >= l->o.segment_ms &&
		    (l->seg_end > 0 || atomic_load(&c->next) > 0)) {
			pthread_mutex_unlock(&l->mu);
			rotate(l, c, 0, true, false);
			pthread_mutex_lock(&l->mu);
		}
		if (l->spare.fd >= 0 && sl__now_ms() - l->spare.since_ms >= SPARE_MS) {
			pthread_mutex_unlock(&l->mu);
			drop_spare(l);
			pthread_mutex_lock(&l->mu);
		}
		pthread_mutex_unlock(&l->mu);
		sweep(l);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ---- open and close ----------------------------------------------------------------------- */

int ilog_open(const ilog_opts *o, ilog **out)
{
	ilog *l = sl__calloc(1, sizeof *l);
	long page = sysconf(_SC_PAGESIZE);
	int rc;

	*out = NULL;
	if (!l)
		return sl__oom();
	l->o = *o;
	if (!l->o.segment_bytes)
		l->o.segment_bytes = (uint64_t)64 << 20;
	if (!l->o.segment_ms)
		l->o.segment_ms = 3600 * 1000;
	/* Level 1: closed segments are compressed while the server serves, and
	 * on inference records it runs 1.6x as fast as level 3 (about 700
	 * against 430 MB/s of CPU here) for a better ratio (7.9 against 7.4).
	 * The negative ("fast") levels are no answer: on one-row requests of
	 * 57 inputs, -1 ran 7% and -5 20% faster than level 1 for a ratio of
	 * 5.7 and 4.9 against 7.9, and with a different row in each request
	 * -1 took as many instructions as level 1 (compress_segment). */
	if (!l->o.zstd_level)
		l->o.zstd_level = 1;
	if (!l->o.maint_ms)
		l->o.maint_ms = 1000;
	if (!l->o.durability)
		l->o.durability = ILOG_WRITE;
	if (!l->o.chunk_bytes)
		l->o.chunk_bytes = (size_t)4 << 20;
	l->page = page > 0 ? (size_t)page : 4096;
	l->fd = -1;
	l->spare.fd = -1;
	l->next.fd = -1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->sync_mu, NULL);
	pthread_cond_init(&l->rotated, NULL);
	pthread_cond_init(&l->synced_cv, NULL);
	pthread_cond_init(&l->maint_cv, NULL);
	pthread_cond_init(&l->help_cv, NULL);
	pthread_cond_init(&l->prep_cv, NULL);
	if (!(l->dir = sl__strdup(o->dir))) {
		rc = sl__oom();
		goto fail;
	}
	if ((rc = sl__mkdir_p(l->dir, 0755)) || (rc = sl__random_hex(l->instance, 8)))
		goto fail;
	if (!(l->next_path = sl__asprintf("%s/%s.jsonl.new", l->dir, l->instance))) {
		rc = sl__oom();
		goto fail;
	}
	{
		int fd;
		if ((rc = make_segment(l, &fd)))
			goto fail;
		if ((rc = name_segment(l, fd, &l->seg_path))) {
			unmake_segment(l, fd);
			goto fail;
		}
		l->fd = fd;
		l->seg_gen = 1;
	}
	l->next.wanted = true;
	set_prepared(l, prepare(l, l->fd, 0, l->o.chunk_bytes, NULL));
	if ((rc = map_chunk(l, &l->ring[0], 0, l->o.chunk_bytes)))
		goto fail;
	atomic_store(&l->cur, &l->ring[0]);
	l->ring_pos = 1;
	l->prefault = &l->ring[0];
	queue_prep(l, &l->ring[0]);
	if (pthread_create(&l->help, NULL, help_main, l)) {
		rc = sl__err(SL_ESYS, "cannot start the log's helper thread");
		goto fail;
	}
	l->help_started = true;
	if (pthread_create(&l->maint, NULL, maint_main, l)) {
		rc = sl__err(SL_ESYS, "cannot start the log's maintenance thread");
		goto fail;
	}
	l->maint_started = true;
	*out = l;
	return 0;
fail:
	ilog_close(l);
	return rc;
}

int ilog_close(ilog *l)
{
	chunk *c;
	int rc = 0;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	atomic_store(&l->prep_cancel, true);
	atomic_store(&l->next_cancel, true);
	pthread_cond_broadcast(&l->maint_cv);
	pthread_cond_broadcast(&l->help_cv);
	pthread_mutex_unlock(&l->mu);
	if (l->maint_started)
		pthread_join(l->maint, NULL);
	if (l->help_started)
		pthread_join(l->help, NULL);
	for (size_t i = 0; i < l->n_unmaps; i++)
		munmap(l->unmaps[i].map, l->unmaps[i].len);
	if (l->spare.fd >= 0)
		close(l->spare.fd);
	/* The next segment was never named: it goes with no trace. */
	if (l->next.fd >= 0)
		unmake_segment(l, l->next.fd);
	for (size_t i = 0; i < l->n_retired; i++)
		finish_segment(l, l->retired[i].fd, l->retired[i].path, l->retired[i].end);
	/* No appends run now (the server has stopped): the last chunk's
	 * records end the segment. */
	c = atomic_load(&l->cur);
	if (c && c->map) {
		if (c->seg_gen == l->seg_gen)
			l->seg_end = drain(c);
		munmap(c->map, c->map_len);
		c->map = NULL;
	}
	if (l->fd >= 0) {
		rc = finish_segment(l, l->fd, l->seg_path, l->seg_end);
		l->seg_path = NULL;
	}
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->sync_mu);
	pthread_cond_destroy(&l->rotated);
	pthread_cond_destroy(&l->synced_cv);
	pthread_cond_destroy(&l->maint_cv);
	pthread_cond_destroy(&l->help_cv);
	pthread_cond_destroy(&l->prep_cv);
	sl__free(l->seg_path);
	sl__free(l->next_path);
	sl__free(l->dir);
	sl__free(l);
	return rc;
}
