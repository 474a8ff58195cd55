/*
 * The inference log: one JSON line per request (codec.h's record),
 * appended to segment files. Prefix ilog_.
 *
 *   DIR/20261130T112233.041-1f3a9c0b-000001.jsonl       the open segment (one
 *                                                        per server, locked)
 *   DIR/20261130T102233.907-1f3a9c0b-000000.jsonl.zst   closed, compressed
 *   DIR/1f3a9c0b.jsonl.new                              the server's next segment,
 *                                                        made ahead: no records,
 *                                                        readers skip it
 *
 * Names sort oldest first: UTC start to the millisecond, the server's
 * instance, its segment number.
 *
 * Durability (ilog_append returns when it holds):
 *   ILOG_WRITE  the record is in the operating system's page cache: a
 *               kill -9 of the server loses nothing appended;
 *   ILOG_FSYNC  the segment has been fdatasync'ed past the record (group
 *               commit: one sync covers every record copied before it
 *               began): a power loss loses nothing appended.
 *
 * Appending is a copy into a shared mapping of the segment, not a system
 * call: the segment grows in chunks (chunk_bytes, preallocated with
 * fallocate so that a full disk is an error at rotation, never a SIGBUS),
 * each mapped MAP_SHARED; an append reserves its bytes with one atomic add
 * and copies them. Stores to a shared file mapping are the page cache's
 * the moment they are made, which is what ILOG_WRITE promises, and threads
 * never wait for each other except at a chunk's end. There the thread
 * whose record did not fit rotates: it closes the chunk to new
 * reservations, waits for the copies in flight, maps the next chunk right
 * after the last record and publishes it; meanwhile the others wait (the
 * backpressure) or, with ILOG_DROP, count their record as dropped.
 *
 * A maintenance thread rotates the segment by age (appends rotate it by
 * size), compresses closed segments with zstd (at the lowest CPU
 * priority, so serving goes first), and removes closed segments older
 * than the retention (compressed or, when compression is behind, not). A
 * segment is closed when no server holds its lock, so segments a killed
 * server left behind are compressed by the next one.
 *
 * Invariants:
 *  1. Records reach the file whole, one after another without gaps while
 *     the server lives; a record's bytes are all written before its
 *     append returns.
 *  2. After a crash a segment may end with zero bytes (preallocated, never
 *     written) and hold, where a copy was cut, a record's beginning
 *     followed by zeros. No appended record is among them (its append had
 *     not returned); readers take as records only text that follows a line
 *     end, a NUL or the file's start and ends with a line end.
 */
#ifndef SLUICE_ILOG_H
#define SLUICE_ILOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum ilog_durability { ILOG_WRITE = 1, ILOG_FSYNC = 2 } ilog_durability;
typedef enum ilog_policy { ILOG_BLOCK = 0, ILOG_DROP = 1 } ilog_policy;

typedef struct ilog_opts {
	const char *dir;
	ilog_durability durability;
	ilog_policy policy;
	uint64_t segment_bytes; /* 0: 64 MiB */
	int64_t segment_ms;     /* 0: one hour */
	int64_t retention_ms;   /* 0: keep every segment */
	int zstd_level;         /* 0: 1 */
	int64_t maint_ms;       /* maintenance period; 0: one second */
	size_t chunk_bytes;     /* mapped at a time; 0: 4 MiB (rounded to pages) */
	unsigned test_rotate_delay_ms; /* tests: a rotation sleeps this long */
	unsigned test_prep_delay_ms;   /* tests: each piece of a preparation sleeps this long */
	bool test_no_ahead;            /* tests: the helper makes no next segment ready */
} ilog_opts;

/* Rotation times (ilog_stats.rot_hist): 4 us, 8 us, ... 4 ms, longer. */
#define ILOG_ROT_BUCKETS 12
#define ILOG_ROT_US(b) ((uint64_t)4 << (b))

typedef struct ilog_stats {
	uint64_t written;      /* records in the log */
	uint64_t dropped;      /* records dropped by ILOG_DROP */
	uint64_t failed;       /* records that could not be written (no room) */
	uint64_t fsynced;      /* records made durable by fdatasync */
	uint64_t fsyncs;       /* group commits */
	uint64_t waiting;      /* appends waiting for a rotation now */
	bool rotating;         /* a rotation is under way */
	uint64_t rotations;    /* chunks mapped */
	uint64_t prepared;     /* bytes of segment put in the page cache ahead of their chunk */
	uint64_t reused;       /* bytes of a compressed segment freed right before a preparation */
	uint64_t prep_writes;  /* the helper's writes of zeros doing it */
	uint64_t segments, compressed, removed;
	uint64_t seg_ready;    /* segments swapped in as the helper had made them ready */
	uint64_t seg_unready;  /* segments the rotation made or finished itself (helper behind) */
	bool next_ready;       /* the next segment is made and its first chunk prepared, now */
	/* Time the rotating thread spent in a rotation, [0] for a chunk that
	 * followed one of the same segment, [1] for a new segment's first:
	 * a count per bucket (not cumulative; bucket b holds rotations of at
	 * most ILOG_ROT_US(b) microseconds, the last the longer ones) and
	 * their sum. */
	uint64_t rot_hist[2][ILOG_ROT_BUCKETS];
	uint64_t rot_ns[2];
} ilog_stats;

typedef struct ilog ilog;

/* ilog_append's result when ILOG_DROP dropped the record. */
#define ILOG_DROPPED 1
/* The most one of the helper's writes of zeros covers (log.c, prepare). */
#define ILOG_PREP_PIECE ((size_t)128 << 10)

/* Creates dir if needed and opens a new segment. */
int ilog_open(const ilog_opts *o, ilog **out);
/*
 * rec (len bytes) is one record ending with a newline, without NUL bytes.
 * Returns 0 (invariant 1 holds and the durability level too),
 * ILOG_DROPPED, or SL_EIO when no room could be made for it (a full disk:
 * the message says so; later appends try again).
 */
int ilog_append(ilog *l, const char *rec, size_t len);
/*
 * The same for a record that needs a schema record before it in its
 * segment (a served version's, codec.h): when *gen does not name the
 * segment the record lands in, prefix (plen bytes, one record) is written
 * right before it, in the same reservation, and *gen is updated. *gen
 * starts at 0 and belongs to the caller (one per schema).
 */
int ilog_append_with(ilog *l, const char *prefix, size_t plen, _Atomic uint64_t *gen,
		     const char *rec, size_t len);
void ilog_stats_get(ilog *l, ilog_stats *out);
/* Syncs and closes the segment (cut to its records), stops the maintenance thread. */
int ilog_close(ilog *l); /* accepts NULL */

/* ---- reading (logread.c) -------------------------------------------------------------- */

/*
 * Calls fn for each record (a NUL-terminated JSON line without its newline)
 * of every segment in dir, oldest segment first, while fn returns 0 (a
 * positive return stops early and is returned; negative is an error).
 * since_ms / until_ms (0: unbounded) skip whole segments that cannot hold
 * records of that time; filtering records is fn's job. Schema records are
 * not passed on: they are kept in sch, for ilog_expand. Text a crash cut
 * is skipped (invariant 2).
 */
typedef struct ilog_schemas ilog_schemas;
typedef int (*ilog_record_fn)(void *ud, const char *line, size_t len, const ilog_schemas *sch);
int ilog_scan(const char *dir, int64_t since_ms, int64_t until_ms, ilog_record_fn fn, void *ud);
/* What a segment or record function returns to pass the rest of a segment by, or to end the scan. */
#define ILOG_SKIP 1
#define ILOG_STOP 2
/*
 * Newest record first, for readers of the log's tail whose cost must
 * follow what they read, not the log: segments newest first (by name),
 * each read from its end backwards (an open segment with pread, a chunk at
 * a time from its last line end; a compressed one decompressed whole).
 * Before each segment seg_fn gets what is known of it without reading it
 * and returns 0 to read it, ILOG_SKIP or ILOG_STOP; fn gets each record
 * (NUL-terminated, valid during the call; schema records are not passed)
 * and returns 0 for the next older one, ILOG_SKIP to leave the segment,
 * ILOG_STOP or an error to end the scan (then returned).
 * ilog_rseg_schema gives, during fn, the schema record (codec.h) of a
 * version in the record's segment, found by reading the segment forward
 * from its start up to the record, once per segment and version.
 *
 * Record times: a writer takes a record's time right before it reserves
 * the record's room (server.c, feedback.c), so within one segment a record
 * is at most ILOG_ORDER_SLACK_MS newer than any written after it (a
 * thread descheduled, or waiting for a rotation, in between): once a
 * record older than T - ILOG_ORDER_SLACK_MS is met, every record before
 * it in its segment is older than T. And a segment's records are all
 * older than the start (in its name) of its server's next segment, which
 * opens once the old one takes no more reservations: closed_ms.
 */
#define ILOG_ORDER_SLACK_MS 1000
typedef struct ilog_seginfo {
	const char *name;      /* the file's name (.jsonl, or .jsonl.zst) */
	bool zst;
	int64_t start_ms;      /* the start its name carries, to the second (as ilog_scan) */
	int64_t last_write_ms; /* mtime, rounded up (a live server's mapping may leave it behind) */
	int64_t closed_ms;     /* every record is older than this; 0: not known */
	/* The same for every segment of one scan: */
	uint64_t listing;      /* a hash of the listing (the names: a name is never reused) */
	size_t n_plain;        /* segments not compressed (open, or closed and waiting) */
	bool one_writer;       /* every one of them is the newest segment's server's */
	int fd;                /* the file, open during seg_fn (which may dup it) */
	/*
	 * seg_fn may set this to a descriptor of the same segment's plain text
	 * that it kept from an earlier scan (a dup of fd then), to have it read
	 * instead of the compressed copy: a server's closed segment is cut to
	 * its records, compressed, and then unlinked, so the kept file is the
	 * text the copy holds, without decompressing it all. It is used only
	 * when its size is the copy's content size; the scan does not close
	 * it. -1: read the file.
	 */
	int read_fd;
} ilog_seginfo;
typedef struct ilog_rseg ilog_rseg;
typedef int (*ilog_rseg_fn)(void *ud, ilog_seginfo *si);
typedef int (*ilog_rrec_fn)(void *ud, const char *line, size_t len, ilog_rseg *seg);
int ilog_scan_rev(const char *dir, ilog_rseg_fn seg_fn, ilog_rrec_fn fn, void *ud);

#include <jansson.h>

/* The schema record of model@version in seg before the record fn has
 * (borrowed, valid until fn returns), NULL when there is none; 0 or an error. */
int ilog_rseg_schema(ilog_rseg *seg, const char *model, const char *version, json_t **out);
/* Where the record fn has starts in its segment, and whether a record cut
 * by a NUL (log.h, invariant 2; or a copy still under way) was met in the
 * segment so far. */
uint64_t ilog_rseg_pos(const ilog_rseg *seg);
bool ilog_rseg_cut(const ilog_rseg *seg);

/*
 * How far back a reader with budget bytes of log text to read gets: the
 * newest segments whose text fits, at least one (a compressed segment's
 * text counted as ILOG_ZST_RATIO times its size, zstd's usual ratio on the
 * log's JSON). *since_ms is the start time of the oldest of them, 0 when
 * every segment fits; *n_segs and *bytes (of text) what is read. An absent
 * directory is an empty log.
 */
#define ILOG_ZST_RATIO 8
int ilog_budget(const char *dir, uint64_t budget, int64_t *since_ms, size_t *n_segs,
		uint64_t *bytes);

#include <jansson.h>

/*
 * Rewrites a parsed request record's inputs and outputs, arrays of rows
 * as written, into objects of named columns ({"make": [v, ...], ...}) with
 * the names of the record's schema. Records without them are left alone.
 * 0, or SL_ECORRUPT when no schema of the record's version was seen or the
 * rows do not fit it.
 */
int ilog_expand(const ilog_schemas *sch, json_t *rec);
/* The same with the record's schema record in hand (ilog_rseg_schema). */
int ilog_expand_with(const json_t *schema, json_t *rec);

#endif
