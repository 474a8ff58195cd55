/*
 * Internal structures of the CSV reader, shared by csv.c (the driver: files,
 * headers, phases, merge) and csv_chunk.c (tokenizer and per-chunk typed
 * parsing). See csv.c for the dialect and the design.
 */
#ifndef SLUICE_DATASET_CSV_INT_H
#define SLUICE_DATASET_CSV_INT_H

#include <pthread.h>

#include "dataset/internal.h"
#include "pool.h"

#define CSV_MAX_THREADS SL__MAX_THREADS
#define CSV_NONE 0 /* a chunk column that has seen only nulls */

/* One field of the row being parsed. */
enum { F_QUOTED = 1, F_ESCAPED = 2 };

typedef struct csv_field {
	const char *p; /* content (inside the quotes when quoted) */
	size_t len;
	unsigned flags;
} csv_field;

typedef struct csv_row {
	csv_field *f;
	size_t n;          /* fields found (may exceed cap: only cap are kept) */
	size_t cap;
	const char *start; /* first byte of the row */
	const char *end;   /* end of its content (before CR LF) */
	const char *next;  /* where the next row starts */
	const char *err_pos;  /* first problem, or NULL */
	char err[160];
	bool fatal;        /* an unterminated quote */
} csv_row;

/* Settings shared by every chunk of a read. */
typedef struct csv_conf {
	char delim;
	size_t ncols;
	size_t max_field;
	const char *const *nulls;
	size_t n_nulls;
	size_t *null_lens_each;
	uint64_t null_lens; /* bit k set when some marker has length k (< 64) */
	bool long_null;     /* some marker is 64 bytes or longer */
	ds_type *override;  /* per column: a fixed type, or CSV_NONE */
	char **names;
	ds_on_error on_error;
	bool quote_literal; /* a quote inside an unquoted field is data */
	bool special[256]; /* bytes that end an unquoted field: delimiter, CR, LF, and
			    * the quote unless quote_literal */
} csv_conf;

typedef struct csv_ccol {
	int type; /* CSV_NONE or a ds_type */
	uint64_t *data; /* the chunk's slots in the column's array (csv.c) */
	uint8_t *valid; /* NULL until the first null */
	size_t nulls;
	/* A string column whose values are mostly distinct goes raw: its dict
	 * then holds every row's value in row order, duplicates included, with
	 * no lookup table (see csv_chunk.c). */
	bool raw;
	bool merged; /* the slots hold codes of the column's dictionary (csv.c) */
	ds_dict dict;
} csv_ccol;

typedef struct csv_bad {
	uint64_t ordinal; /* index among the chunk's rows, bad ones included */
	uint64_t line, col;
	const char *raw;
	size_t raw_len;
	size_t msg_off; /* into the chunk's msgs buffer */
} csv_bad;

typedef struct csv_chunk {
	size_t src;       /* index of the source */
	const char *name; /* its name */
	const char *base, *limit; /* the source's data and end */
	const char *nom_start, *nom_end;
	bool first;       /* first chunk of its source: starts at nom_start */
	bool drop;        /* the source is a file mapping whose pages may be dropped */
	int fd;           /* the file, read with pread by the count phase, or -1 */
	size_t quotes, newlines;  /* counted in nom range */
	bool inq;         /* quote parity at nom_start */
	uint64_t line0;   /* line number at nom_start */
	size_t slot0, slotcap; /* the chunk's rows in the column arrays */
	/* filled by the parse */
	const char *start;
	uint64_t start_line;
	size_t nrows, rowcap;
	csv_ccol *cols;
	csv_bad *bad;
	size_t nbad, badcap;
	uint64_t ordinals; /* rows tokenized, bad ones included */
	sl__buf msgs;
	int rc;           /* SL_ENOMEM etc., or SL_EPARSE for a row error in fail mode */
	char *fatal;      /* the error message when the chunk stopped the read */
	/* line cursor for error positions */
	const char *lpos, *lstart;
	uint64_t lno;
} csv_chunk;

/* Scratch memory of one worker. */
typedef struct csv_worker {
	csv_row row, row2;
	char *scratch;
	size_t scratch_cap;
	union {
		int64_t i;
		double f;
	} *vals;
	size_t nvals;
	size_t *hint_n, *hint_bytes; /* per column: the dictionary of the worker's last chunk */
	bool *hint_raw;              /* per column: whether that chunk's column went raw */
} csv_worker;

typedef struct csv_reader {
	csv_conf conf;
	csv_chunk *chunks;
	size_t nchunks;
	csv_worker workers[CSV_MAX_THREADS];
	size_t fail_at; /* atomic: lowest chunk that failed (fail mode), or SIZE_MAX */
	int *final_type; /* per column, after the parse */
	uint64_t **slots; /* per column: 8-byte value slots for every chunk */
	/* String columns are merged while later chunks still parse (csv.c). */
	pthread_mutex_t pre_lock;
	bool pre_init;
	bool *parsed;      /* per chunk (atomic): its parse is over */
	size_t pre_next;   /* (atomic) the first chunk not merged early */
	bool *pre_stop;    /* per column: a chunk of another type came first */
	ds_dict *pre_dict; /* per column: the dictionary so far */
	uint32_t *pre_map;
	size_t pre_mapcap;
	int pre_rc;
	size_t pre_col;    /* the column pre_rc is about */
} csv_reader;

void csv_drop_pages(const char *p, size_t n);

/*
 * A chunk's string column goes raw (csv_ccol.raw) when, at its
 * csv_raw_probe-th row, more than csv_raw_permille thousandths of its
 * non-null values are distinct. The result never depends on these (the
 * tests change them to force either mode); they are not changed while a
 * read runs.
 */
extern size_t csv_raw_probe;
extern unsigned csv_raw_permille;

/*
 * Tokenizes the row starting at p (< limit) into r. Returns false at a
 * blank line that is skipped (r->next is set). On a problem r->err_pos and
 * r->err are set and r->next is still the start of the next row (by quote
 * parity); r->fatal marks an unterminated quote.
 */
bool csv_tokenize(const csv_conf *c, const char *p, const char *limit, csv_row *r);
/* Unescaped text of a field with doubled quotes; uses the worker's scratch. */
int csv_field_unescape(csv_worker *w, const csv_field *f, const char **out_p, size_t *out_len);

/* Unescaped text of a field (in place unless it has doubled quotes). */
static inline int csv_field_text(csv_worker *w, const csv_field *f, const char **out_p,
				 size_t *out_len)
{
	if (!(f->flags & F_ESCAPED)) {
		*out_p = f->p;
		*out_len = f->len;
		return 0;
	}
	return csv_field_unescape(w, f, out_p, out_len);
}
int csv_row_reserve(csv_row *r, size_t n);

void csv_count_chunk(csv_chunk *ch, csv_worker *w);
void csv_parse_chunk(csv_reader *rd, csv_chunk *ch, size_t index, csv_worker *w);
void csv_convert_chunk(csv_reader *rd, csv_chunk *ch, csv_worker *w);
void csv_chunk_free(csv_chunk *ch, size_t ncols);

/* The join of two types in the widening lattice. */
int csv_join(int a, int b);

#endif
