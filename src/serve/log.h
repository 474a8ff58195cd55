/*
 * The inference log: one JSON line per request (codec.h's record),
 * appended to segment files and group-committed. Prefix ilog_.
 *
 *   DIR/20261130T112233-1f3a9c0b-000001.jsonl       the open segment (one
 *                                                    per server, locked)
 *   DIR/20261130T102233-1f3a9c0b-000000.jsonl.zst   closed, compressed
 *
 * Durability (ilog_append returns when it holds):
 *   ILOG_WRITE  the record has been handed to the operating system with
 *               write(2): a kill -9 of the server loses nothing appended;
 *   ILOG_FSYNC  the segment has been fdatasync'ed past the record: a power
 *               loss loses nothing appended.
 *
 * Group commit: a thread that appends copies its record into the pending
 * batch (bounded by queue_bytes); if no write is in progress it becomes the
 * writer, takes the whole batch, writes it (and syncs it) without the lock
 * and wakes everyone whose record it carried; records that arrive
 * meanwhile form the next batch. Under load each write(2) and each fsync
 * covers many records; alone, a request pays one write and no thread
 * switch. When the pending batch is full the appender waits (backpressure),
 * or with ILOG_DROP counts the record as dropped and returns at once.
 *
 * A maintenance thread rotates the segment by age (the writer rotates it
 * by size), compresses closed segments with zstd (at the lowest CPU
 * priority, so serving goes first), and removes compressed segments older
 * than the retention. A segment is closed when no server holds its lock,
 * so segments a killed server left behind are compressed by the next one.
 *
 * Invariants:
 *  1. Records reach the file whole and in the order their appends took the
 *     lock; a write error fails exactly the records of that batch (their
 *     appends return SL_EIO), later batches are tried again.
 *  2. A segment's last line may be cut by a crash mid-write; readers skip a
 *     final line without its newline. No appended record is ever in it:
 *     its append had not returned.
 */
#ifndef SLUICE_ILOG_H
#define SLUICE_ILOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum ilog_durability { ILOG_WRITE = 1, ILOG_FSYNC = 2 } ilog_durability;
typedef enum ilog_policy { ILOG_BLOCK = 0, ILOG_DROP = 1 } ilog_policy;

typedef struct ilog_opts {
	const char *dir;
	ilog_durability durability;
	ilog_policy policy;
	size_t queue_bytes;     /* 0: 8 MiB */
	uint64_t segment_bytes; /* 0: 64 MiB */
	int64_t segment_ms;     /* 0: one hour */
	int64_t retention_ms;   /* 0: keep every segment */
	int zstd_level;         /* 0: 3 */
	int64_t maint_ms;       /* maintenance period; 0: one second */
	unsigned test_write_delay_ms; /* tests: the writer sleeps before each write */
} ilog_opts;

typedef struct ilog_stats {
	uint64_t appended;     /* records accepted */
	uint64_t written;      /* records written */
	uint64_t dropped;      /* records dropped by ILOG_DROP */
	uint64_t failed;       /* records whose write failed */
	uint64_t fsynced;      /* records made durable by fdatasync */
	uint64_t writes, fsyncs;
	uint64_t bytes;
	uint64_t queue_records, queue_bytes; /* waiting in the pending batch */
	uint64_t segments, compressed, removed;
} ilog_stats;

typedef struct ilog ilog;

/* ilog_append's result when ILOG_DROP dropped the record. */
#define ILOG_DROPPED 1

/* Creates dir if needed and opens a new segment. */
int ilog_open(const ilog_opts *o, ilog **out);
/* rec (len bytes) is one record ending with a newline. 0, ILOG_DROPPED or an error. */
int ilog_append(ilog *l, const char *rec, size_t len);
void ilog_stats_get(ilog *l, ilog_stats *out);
/* Writes what is pending, syncs and closes the segment, stops the maintenance thread. */
int ilog_close(ilog *l); /* accepts NULL */

/* ---- reading (logread.c) -------------------------------------------------------------- */

/*
 * Calls fn for each record (a NUL-terminated JSON line without its newline)
 * of every segment in dir, oldest segment first, while fn returns 0 (a
 * positive return stops early and is returned; negative is an error).
 * since_ms / until_ms (0: unbounded) skip whole segments that cannot hold
 * records of that time; filtering records is fn's job. A final line
 * without its newline is skipped (invariant 2).
 */
typedef int (*ilog_record_fn)(void *ud, const char *line, size_t len);
int ilog_scan(const char *dir, int64_t since_ms, int64_t until_ms, ilog_record_fn fn, void *ud);

#endif
