/*
 * The inference log's writer (log.h): group commit by whichever appending
 * thread finds no write in progress, segments, and a maintenance thread
 * that rotates by age, compresses and applies retention.
 *
 * Why no dedicated writer thread: with the default durability every
 * response waits until its record has been written, so a writer thread
 * would cost each request two thread switches (hand the record over, be
 * woken when it is written) on a machine whose cores are busy serving.
 * Letting the appender write is the same group commit without the
 * switches: batches still form under load, because records arriving
 * during a write wait for the next one (measured: bench/serve.sh).
 *
 *   append: lock, copy into `pend`, then until my record is done:
 *     no writer?  become it: swap pend <-> fly, unlock, write(fly) [+ fdatasync],
 *                 rotate if the segment is full, lock, mark the batch done,
 *                 wake everyone
 *     else        wait for the batch in flight to finish
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <zstd.h>

#include "core.h"
#include "serve/log.h"

typedef struct fail_range {
	uint64_t lo, hi;
} fail_range;

struct ilog {
	ilog_opts o;
	char *dir;
	char instance[9];
	uint64_t seg_seq;
	/* The open segment: touched only by the thread holding the writer role. */
	int fd;
	char *seg_path;
	uint64_t seg_bytes;
	int64_t seg_start_ms;

	pthread_mutex_t mu;
	pthread_cond_t done_cv;  /* a batch finished, or the writer role was freed */
	pthread_cond_t space_cv; /* the pending batch was taken */
	pthread_cond_t maint_cv;
	char *pend, *fly;
	size_t pend_len, pend_cap, fly_cap;
	uint64_t pend_recs;
	uint64_t seq_app;  /* the last record appended */
	uint64_t seq_done; /* every record up to this one is written or failed */
	bool writing;
	fail_range *fails;
	size_t n_fails, cap_fails;
	ilog_stats st;
	bool stop;
	bool maint_started;
	pthread_t maint;
};

static int sys_err(const char *what, const char *path)
{
	return sl__err(SL_EIO, "%s %s: %s", what, path, strerror(errno));
}

/* ---- segments ------------------------------------------------------------------------ */

static int open_segment(ilog *l)
{
	char name[64], stamp[32];
	time_t t;
	struct tm tm;
	char *path;
	int fd;

	l->seg_start_ms = sl__now_ms();
	t = (time_t)(l->seg_start_ms / 1000);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
	snprintf(name, sizeof name, "%s-%s-%06llu.jsonl", stamp, l->instance,
		 (unsigned long long)l->seg_seq++);
	if (!(path = sl__path_join(l->dir, name)))
		return sl__err(SL_ENOMEM, "out of memory");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		int rc = sys_err("cannot create the log segment", path);
		sl__free(path);
		return rc;
	}
	/* The lock says "open": nobody compresses a segment a live server holds. */
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int rc = sys_err("cannot lock the log segment", path);
		close(fd);
		unlink(path);
		sl__free(path);
		return rc;
	}
	if (l->o.durability == ILOG_FSYNC)
		sl__fsync_dir_of(path);
	l->fd = fd;
	sl__free(l->seg_path);
	l->seg_path = path;
	l->seg_bytes = 0;
	return 0;
}

/* Closes the open segment and opens the next (the caller holds the writer role). */
static int rotate(ilog *l)
{
	int old = l->fd, rc;

	if (l->o.durability == ILOG_FSYNC && fdatasync(old))
		return sys_err("cannot sync the log segment", l->seg_path);
	if ((rc = open_segment(l))) {
		l->fd = old; /* keep appending to the old one */
		return rc;
	}
	close(old); /* drops its lock: maintenance may compress it now */
	pthread_mutex_lock(&l->mu);
	l->st.segments++;
	pthread_cond_signal(&l->maint_cv);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

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

/* ---- group commit ---------------------------------------------------------------------- */

static bool failed(const ilog *l, uint64_t seq)
{
	for (size_t i = 0; i < l->n_fails; i++)
		if (seq >= l->fails[i].lo && seq <= l->fails[i].hi)
			return true;
	return false;
}

/* Called with mu held and the writer role free; returns with mu held. */
static void lead(ilog *l)
{
	uint64_t lo = l->seq_done + 1, hi = l->seq_app, recs = l->pend_recs;
	size_t n = l->pend_len;
	bool fsync_mode = l->o.durability == ILOG_FSYNC;
	char *t;
	int rc = 0, err = 0;

	l->writing = true;
	t = l->fly;
	l->fly = l->pend;
	l->pend = t;
	{
		size_t c = l->fly_cap;
		l->fly_cap = l->pend_cap;
		l->pend_cap = c;
	}
	l->pend_len = 0;
	l->pend_recs = 0;
	pthread_cond_broadcast(&l->space_cv);
	pthread_mutex_unlock(&l->mu);

	if (l->o.test_write_delay_ms)
		usleep(l->o.test_write_delay_ms * 1000u);
	if (write_all(l->fd, l->fly, n)) {
		err = errno;
		rc = -1;
	} else if (fsync_mode && fdatasync(l->fd)) {
		err = errno;
		rc = -1;
	}
	if (rc == 0) {
		l->seg_bytes += n;
		if (l->seg_bytes >= l->o.segment_bytes)
			rotate(l); /* a failure keeps the full segment: records are not lost */
	}

	pthread_mutex_lock(&l->mu);
	if (rc) {
		if (l->n_fails == l->cap_fails) {
			size_t c = l->cap_fails ? l->cap_fails * 2 : 8;
			fail_range *f = sl__reallocarray(l->fails, c, sizeof *f);
			if (f) {
				l->fails = f;
				l->cap_fails = c;
			}
		}
		if (l->n_fails < l->cap_fails)
			l->fails[l->n_fails++] = (fail_range){lo, hi};
		else
			l->fails[l->n_fails - 1].hi = hi; /* widen the last: still exact for these */
		l->st.failed += recs;
		(void)err;
	} else {
		l->st.written += recs;
		l->st.bytes += n;
		l->st.writes++;
		if (fsync_mode) {
			l->st.fsynced += recs;
			l->st.fsyncs++;
		}
	}
	l->seq_done = hi;
	l->writing = false;
	pthread_cond_broadcast(&l->done_cv);
}

int ilog_append(ilog *l, const char *rec, size_t len)
{
	uint64_t my;
	int rc = 0;

	pthread_mutex_lock(&l->mu);
	while (l->pend_len > 0 && l->pend_len + len > l->o.queue_bytes) {
		if (l->o.policy == ILOG_DROP) {
			l->st.dropped++;
			pthread_mutex_unlock(&l->mu);
			return ILOG_DROPPED;
		}
		pthread_cond_wait(&l->space_cv, &l->mu);
	}
	if (l->pend_len + len > l->pend_cap) {
		/* One record larger than the queue goes alone. */
		char *p = sl__realloc(l->pend, l->pend_len + len);
		if (!p) {
			pthread_mutex_unlock(&l->mu);
			return sl__err(SL_ENOMEM, "out of memory queueing a log record");
		}
		l->pend = p;
		l->pend_cap = l->pend_len + len;
	}
	memcpy(l->pend + l->pend_len, rec, len);
	l->pend_len += len;
	l->pend_recs++;
	my = ++l->seq_app;
	l->st.appended++;
	while (l->seq_done < my) {
		if (!l->writing)
			lead(l);
		else
			pthread_cond_wait(&l->done_cv, &l->mu);
	}
	if (l->n_fails && failed(l, my))
		rc = sl__err(SL_EIO, "the inference log could not be written to %s", l->dir);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void ilog_stats_get(ilog *l, ilog_stats *out)
{
	pthread_mutex_lock(&l->mu);
	*out = l->st;
	out->queue_records = l->pend_recs;
	out->queue_bytes = l->pend_len;
	pthread_mutex_unlock(&l->mu);
}

/* ---- maintenance ------------------------------------------------------------------------ */

/* Takes the writer role from the maintenance thread (waits for a write in flight). */
static void take_role(ilog *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->writing)
		pthread_cond_wait(&l->done_cv, &l->mu);
	l->writing = true;
	pthread_mutex_unlock(&l->mu);
}

static void give_role(ilog *l)
{
	pthread_mutex_lock(&l->mu);
	l->writing = false;
	pthread_cond_broadcast(&l->done_cv);
	pthread_mutex_unlock(&l->mu);
}

/* Compresses path (a closed .jsonl, locked by fd) to path.zst, then removes it. */
static int compress_segment(ilog *l, const char *path, int fd)
{
	size_t in_cap = ZSTD_CStreamInSize(), out_cap = ZSTD_CStreamOutSize();
	char *in = sl__malloc(in_cap), *outb = sl__malloc(out_cap);
	char *dst = sl__asprintf("%s.zst", path), *tmp = sl__asprintf("%s.zst.tmp", path);
	ZSTD_CCtx *cx = ZSTD_createCCtx();
	struct stat st;
	int out = -1, rc = 0;

	if (!in || !outb || !dst || !tmp || !cx) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto done;
	}
	if (fstat(fd, &st)) {
		rc = sys_err("cannot stat", path);
		goto done;
	}
	ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, l->o.zstd_level);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = sys_err("cannot create", tmp);
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, in, in_cap);
		ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
		ZSTD_inBuffer ib = {in, n > 0 ? (size_t)n : 0, 0};
		bool finished = false;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = sys_err("cannot read", path);
			goto done;
		}
		do {
			ZSTD_outBuffer ob = {outb, out_cap, 0};
			size_t left = ZSTD_compressStream2(cx, &ob, &ib, mode);
			if (ZSTD_isError(left)) {
				rc = sl__err(SL_EIO, "zstd: %s", ZSTD_getErrorName(left));
				goto done;
			}
			if (write_all(out, outb, ob.pos)) {
				rc = sys_err("cannot write", tmp);
				goto done;
			}
			finished = mode == ZSTD_e_end ? left == 0 : ib.pos == ib.size;
		} while (!finished);
		if (n == 0)
			break;
	}
	if (fsync(out)) {
		rc = sys_err("cannot sync", tmp);
		goto done;
	}
	close(out);
	out = -1;
	if (rename(tmp, dst)) {
		rc = sys_err("cannot rename", tmp);
		goto done;
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
	l->st.compressed++;
	pthread_mutex_unlock(&l->mu);
done:
	if (out >= 0) {
		close(out);
		unlink(tmp);
	}
	ZSTD_freeCCtx(cx);
	sl__free(in);
	sl__free(outb);
	sl__free(dst);
	sl__free(tmp);
	return rc;
}

/* One closed segment compressed per call (so stopping stays prompt); retention. */
static void sweep(ilog *l)
{
	DIR *d = opendir(l->dir);
	struct dirent *e;
	int64_t now = sl__now_ms();
	bool did = false;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *path;
		if (sl__str_has_suffix(e->d_name, ".jsonl") && !did) {
			int fd;
			struct stat st;
			if (!(path = sl__path_join(l->dir, e->d_name)))
				continue;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			/* A live writer holds its segment's lock (ours included). */
			if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
				if (fstat(fd, &st) == 0 && st.st_size == 0)
					unlink(path);
				else
					compress_segment(l, path, fd);
				did = true;
			}
			if (fd >= 0)
				close(fd);
			sl__free(path);
		} else if (l->o.retention_ms > 0 && sl__str_has_suffix(e->d_name, ".jsonl.zst")) {
			struct stat st;
			if (!(path = sl__path_join(l->dir, e->d_name)))
				continue;
			if (stat(path, &st) == 0 &&
			    (int64_t)st.st_mtime * 1000 < now - l->o.retention_ms && unlink(path) == 0) {
				pthread_mutex_lock(&l->mu);
				l->st.removed++;
				pthread_mutex_unlock(&l->mu);
			}
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

	/* Compression yields to serving. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct timespec ts;
		int64_t due;
		clock_gettime(CLOCK_REALTIME, &ts);
		due = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + l->o.maint_ms;
		ts.tv_sec = (time_t)(due / 1000);
		ts.tv_nsec = (long)(due % 1000) * 1000000;
		pthread_cond_timedwait(&l->maint_cv, &l->mu, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		take_role(l);
		if (sl__now_ms() - l->seg_start_ms >= l->o.segment_ms) {
			if (l->seg_bytes > 0)
				rotate(l);
			else
				l->seg_start_ms = sl__now_ms();
		}
		give_role(l);
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
	int rc;

	*out = NULL;
	if (!l)
		return sl__err(SL_ENOMEM, "out of memory");
	l->o = *o;
	if (!l->o.queue_bytes)
		l->o.queue_bytes = (size_t)8 << 20;
	if (!l->o.segment_bytes)
		l->o.segment_bytes = (uint64_t)64 << 20;
	if (!l->o.segment_ms)
		l->o.segment_ms = 3600 * 1000;
	if (!l->o.zstd_level)
		l->o.zstd_level = 3;
	if (!l->o.maint_ms)
		l->o.maint_ms = 1000;
	if (!l->o.durability)
		l->o.durability = ILOG_WRITE;
	l->fd = -1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->done_cv, NULL);
	pthread_cond_init(&l->space_cv, NULL);
	pthread_cond_init(&l->maint_cv, NULL);
	if (!(l->dir = sl__strdup(o->dir))) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = sl__mkdir_p(l->dir, 0755)))
		goto fail;
	if ((rc = sl__random_hex(l->instance, 8)))
		goto fail;
	l->pend_cap = l->fly_cap = l->o.queue_bytes < 65536 ? l->o.queue_bytes : 65536;
	l->pend = sl__malloc(l->pend_cap);
	l->fly = sl__malloc(l->fly_cap);
	if (!l->pend || !l->fly) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = open_segment(l)))
		goto fail;
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
	int rc = 0;

	if (!l)
		return 0;
	if (l->maint_started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_broadcast(&l->maint_cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->maint, NULL);
	}
	/* Whatever is pending goes out before the segment closes. */
	pthread_mutex_lock(&l->mu);
	while (l->writing || l->pend_len) {
		if (!l->writing)
			lead(l);
		else
			pthread_cond_wait(&l->done_cv, &l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	if (l->fd >= 0) {
		if (fdatasync(l->fd))
			rc = sys_err("cannot sync the log segment", l->seg_path);
		else if (l->seg_bytes == 0)
			unlink(l->seg_path);
		close(l->fd);
	}
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->done_cv);
	pthread_cond_destroy(&l->space_cv);
	pthread_cond_destroy(&l->maint_cv);
	sl__free(l->pend);
	sl__free(l->fly);
	sl__free(l->fails);
	sl__free(l->seg_path);
	sl__free(l->dir);
	sl__free(l);
	return rc;
}
