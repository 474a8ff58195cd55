/*
 * The CSV tokenizer and the typed parse of one chunk (see csv.c for the
 * dialect, the phases and the invariants they keep).
 *
 * A row is parsed in two steps so that a bad row leaves no trace: first it
 * is tokenized into fields and every structural check is made (field count,
 * quotes, UTF-8, field size, values of overridden columns); only a row that
 * passes is stored. Storing cannot fail except for lack of memory, because a
 * column without an override widens instead of rejecting a value.
 *
 * Widening within a chunk: int64 -> float64 converts the stored values in
 * place; anything -> string rescans the chunk's earlier rows from the input
 * (the original text is needed: "007" must stay "007"), skipping the rows
 * recorded as bad, which are recognised by their ordinal.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dataset/csv_int.h"

#define ROWCAP0 1024
#define DROP_EVERY ((size_t)4 << 20)

/*
 * Raw string columns. A chunk dictionary pays off when values repeat; when
 * nearly every value is distinct (free text, identifiers), interning each
 * one into it is a lookup that almost always misses, and the merge interns
 * every entry again into the column's dictionary. So once a chunk has seen
 * csv_raw_probe rows, a string column with more than csv_raw_permille
 * thousandths of distinct values stops looking values up: each further
 * value is appended to the dictionary as a new entry (with its hash), in
 * row order. The merge interns a chunk's entries in order into the column
 * dictionary; the entries of a raw dictionary still list the chunk's
 * values in the order of first use (with repeats, which map to the code
 * their first use got), so the column's codes come out the same either way.
 */
size_t csv_raw_probe = 2048;
unsigned csv_raw_permille = 800;

/* ---- tokenizer ------------------------------------------------------------------ */

static void row_err(csv_row *r, const char *pos, const char *fmt, ...) SL__PRINTF(3, 4);

static void row_err(csv_row *r, const char *pos, const char *fmt, ...)
{
	va_list ap;

	if (r->err_pos)
		return;
	r->err_pos = pos;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
}

static void row_fatal(csv_row *r, const char *pos, const char *limit, bool stray)
{
	r->err_pos = pos;
	r->fatal = true;
	snprintf(r->err, sizeof r->err, "%s",
		 stray ? "quote inside an unquoted field, never closed (it runs to the end of the "
			 "file): quote the whole field, or set quote_in_field: literal"
		       : "unterminated quote (it runs to the end of the file)");
	r->end = limit;
	r->next = limit;
}

int csv_row_reserve(csv_row *r, size_t n)
{
	csv_field *f;

	if (n <= r->cap)
		return 0;
	f = sl__reallocarray(r->f, n, sizeof *f);
	if (!f)
		return sl__err(SL_ENOMEM, "out of memory");
	r->f = f;
	r->cap = n;
	return 0;
}

static inline void push(csv_row *r, const char *p, size_t len, unsigned flags)
{
	if (r->n < r->cap) {
		r->f[r->n].p = p;
		r->f[r->n].len = len;
		r->f[r->n].flags = flags;
	}
	r->n++;
}

/*
 * Skips to the end of a bad row by quote parity (invariant 1): pos is at a
 * quote that opens (a stray one) or at a byte after a closing quote.
 */
static bool skip_rest(csv_row *r, const char *pos, const char *limit)
{
	const char *stray = *pos == '"' ? pos : NULL, *open = NULL;

	for (; pos < limit; pos++) {
		if (*pos == '"') {
			open = open ? NULL : pos;
		} else if (*pos == '\n' && !open) {
			r->end = pos > r->start && pos[-1] == '\r' ? pos - 1 : pos;
			r->next = pos + 1;
			return true;
		}
	}
	if (open) {
		row_fatal(r, open, limit, open == stray);
		return true;
	}
	r->end = limit;
	r->next = limit;
	return true;
}

bool csv_tokenize(const csv_conf *c, const char *p, const char *limit, csv_row *r)
{
	const char *pos = p;
	const char delim = c->delim;

	r->start = p;
	r->n = 0;
	r->err_pos = NULL;
	r->fatal = false;
	if (c->ncols > 1) {
		if (*pos == '\n') {
			r->end = pos;
			r->next = pos + 1;
			return false;
		}
		if (*pos == '\r' && pos + 1 < limit && pos[1] == '\n') {
			r->end = pos;
			r->next = pos + 2;
			return false;
		}
	}
	for (;;) {
		const char *fp;
		size_t flen;
		unsigned flags = 0;

		if (pos < limit && *pos == '"') {
			const char *q = pos + 1, *close;
			flags = F_QUOTED;
			for (;;) {
				close = memchr(q, '"', (size_t)(limit - q));
				if (!close) {
					row_fatal(r, pos, limit, false);
					return true;
				}
				if (close + 1 < limit && close[1] == '"') {
					flags |= F_ESCAPED;
					q = close + 2;
					continue;
				}
				break;
			}
			fp = pos + 1;
			flen = (size_t)(close - fp);
			size_t bad = sl__utf8_check(fp, flen);
			if (bad != flen)
				row_err(r, fp + bad, "invalid UTF-8");
			pos = close + 1;
			if (pos < limit && *pos != delim && *pos != '\n' &&
			    !(*pos == '\r' && (pos + 1 == limit || pos[1] == '\n'))) {
				row_err(r, pos, "unexpected character after a closing quote");
				if (!c->quote_literal) {
					push(r, fp, flen, flags);
					return skip_rest(r, pos, limit);
				}
				/* Quotes are data after a field's start: the rest of
				 * the field reads as unquoted text, and the row ends
				 * where such a field would end. */
				while (pos < limit && *pos != delim && *pos != '\n' &&
				       !(*pos == '\r' && (pos + 1 == limit || pos[1] == '\n')))
					pos++;
			}
		} else {
			unsigned char acc = 0;
			fp = pos;
#if defined(__SSE2__)
			/* Sixteen bytes at a time while none is special: compare
			 * with the four special bytes at once; the high bits of
			 * the skipped bytes feed the UTF-8 check. */
			{
				const __m128i vd = _mm_set1_epi8(delim), vq = _mm_set1_epi8('"');
				const __m128i vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
				while (limit - pos >= 16) {
					__m128i v = _mm_loadu_si128((const __m128i *)(const void *)pos);
					__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vd), _mm_cmpeq_epi8(v, vq)),
								 _mm_or_si128(_mm_cmpeq_epi8(v, vn), _mm_cmpeq_epi8(v, vr)));
					unsigned bits = (unsigned)_mm_movemask_epi8(m);
					unsigned high = (unsigned)_mm_movemask_epi8(v);
					if (bits == 0) {
						acc |= high ? 0x80 : 0;
						pos += 16;
						continue;
					}
					unsigned k = (unsigned)__builtin_ctz(bits);
					acc |= (high & ((1u << k) - 1)) ? 0x80 : 0;
					pos += k;
					break;
				}
			}
#endif
			while (pos < limit) {
				unsigned char ch = (unsigned char)*pos;
				if (c->special[ch]) {
					/* A CR is a terminator only before LF or at the very end. */
					if (ch != '\r' || pos + 1 == limit || pos[1] == '\n')
						break;
				}
				acc |= ch;
				pos++;
			}
			flen = (size_t)(pos - fp);
			if (acc & 0x80) {
				size_t bad = sl__utf8_check(fp, flen);
				if (bad != flen)
					row_err(r, fp + bad, "invalid UTF-8");
			}
			if (pos < limit && *pos == '"') {
				row_err(r, pos, "quote inside an unquoted field (quote the whole field, "
						"or set quote_in_field: literal)");
				push(r, fp, flen, flags);
				return skip_rest(r, pos, limit);
			}
		}
		if (flen > c->max_field)
			row_err(r, fp, "field of %zu bytes is larger than max_field_size (%zu)", flen,
				c->max_field);
		push(r, fp, flen, flags);
		if (pos >= limit) {
			r->end = limit;
			r->next = limit;
			return true;
		}
		if (*pos == delim) {
			pos++;
			continue;
		}
		r->end = pos;
		if (*pos == '\r')
			pos++;
		if (pos < limit)
			pos++;
		r->next = pos;
		return true;
	}
}

int csv_field_unescape(csv_worker *w, const csv_field *f, const char **out_p, size_t *out_len)
{
	char *d;

	if (f->len > w->scratch_cap) {
		char *s = sl__realloc(w->scratch, f->len);
		if (!s)
			return sl__err(SL_ENOMEM, "out of memory");
		w->scratch = s;
		w->scratch_cap = f->len;
	}
	d = w->scratch;
	for (size_t i = 0; i < f->len; i++) {
		*d++ = f->p[i];
		if (f->p[i] == '"')
			i++; /* the second of a doubled quote */
	}
	*out_p = w->scratch;
	*out_len = (size_t)(d - w->scratch);
	return 0;
}

/* ---- types -------------------------------------------------------------------- */

int csv_join(int a, int b)
{
	if (a == b || b == CSV_NONE)
		return a;
	if (a == CSV_NONE)
		return b;
	if ((a == DS_INT64 && b == DS_FLOAT64) || (a == DS_FLOAT64 && b == DS_INT64))
		return DS_FLOAT64;
	return DS_STRING;
}

/*
 * True when a number's text starts with a zero that a number would lose:
 * "08123", "-007", "00.5" (not "0", "0.5", "-0.25", "0e3"). Such a column is
 * text (ZIP codes, account numbers, product codes), so inference keeps it a
 * string; an explicit type in `types` still reads it as a number.
 */
static inline bool lead_zero(const char *p, size_t len)
{
	size_t k;

	/* Most numbers start with 1-9, and '+', '-', '.' sort below '0'. */
	if (len < 2 || (unsigned char)*p > '0')
		return false;
	k = *p == '-' || *p == '+';
	return len > k + 1 && p[k] == '0' && (unsigned char)(p[k + 1] - '0') < 10;
}

static int classify(const char *p, size_t len)
{
	int64_t i;
	double d;
	bool b;

	if (lead_zero(p, len))
		return DS_STRING;
	if (ds_parse_i64(p, len, &i))
		return DS_INT64;
	if (ds_parse_f64(p, len, &d))
		return DS_FLOAT64;
	if (ds_parse_bool(p, len, &b))
		return DS_BOOL;
	if (len >= 10 && ds_parse_timestamp(p, len, &i))
		return DS_TIMESTAMP;
	return DS_STRING;
}

static inline bool is_null(const csv_conf *c, const char *p, size_t len)
{
	if (len < 64 ? !((c->null_lens >> len) & 1) : !c->long_null)
		return false;
	/* The first byte rules out most candidates without a call ("47" is
	 * not "NA", "true" not "NULL"). */
	for (size_t k = 0; k < c->n_nulls; k++)
		if (c->null_lens_each[k] == len && (len == 0 || c->nulls[k][0] == p[0]) &&
		    memcmp(c->nulls[k], p, len) == 0)
			return true;
	return false;
}

/* Parses a value of an overridden column; false when it is not of that type. */
static bool parse_as(ds_type t, const char *p, size_t len, int64_t *iv, double *fv)
{
	bool b;

	switch (t) {
	case DS_INT64:
		return ds_parse_i64(p, len, iv);
	case DS_FLOAT64:
		return ds_parse_f64(p, len, fv);
	case DS_BOOL:
		if (len == 1 && (*p == '0' || *p == '1')) {
			*iv = *p == '1';
			return true;
		}
		if (!ds_parse_bool(p, len, &b))
			return false;
		*iv = b;
		return true;
	case DS_TIMESTAMP:
		return ds_parse_timestamp(p, len, iv);
	case DS_STRING:
		return true;
	}
	return false;
}

/* ---- counting ------------------------------------------------------------------ */

static void count_bytes(const unsigned char *p, size_t n, size_t *out_q, size_t *out_nl)
{
	size_t q = 0, nl = 0, i = 0;

#if defined(__SSE2__)
	/* 16 bytes at a time: each match subtracts -1 from a byte counter;
	 * every 255 blocks the counters are summed (psadbw) before they wrap. */
	const __m128i vq = _mm_set1_epi8('"'), vn = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
	while (i + 16 <= n) {
		__m128i cq = zero, cn = zero;
		for (int k = 0; k < 255 && i + 16 <= n; k++, i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
			cq = _mm_sub_epi8(cq, _mm_cmpeq_epi8(v, vq));
			cn = _mm_sub_epi8(cn, _mm_cmpeq_epi8(v, vn));
		}
		__m128i sq = _mm_sad_epu8(cq, zero), sn = _mm_sad_epu8(cn, zero);
		q += (size_t)_mm_cvtsi128_si32(sq) + (size_t)_mm_extract_epi16(sq, 4);
		nl += (size_t)_mm_cvtsi128_si32(sn) + (size_t)_mm_extract_epi16(sn, 4);
	}
#endif
	for (; i < n; i++) {
		q += p[i] == '"';
		nl += p[i] == '\n';
	}
	*out_q += q;
	*out_nl += nl;
}

#define COUNT_BLOCK ((size_t)256 << 10)

/* The worker's scratch buffer, grown to COUNT_BLOCK bytes. */
static bool count_buffer(csv_worker *w)
{
	char *p;

	if (w->scratch_cap >= COUNT_BLOCK)
		return true;
	p = sl__realloc(w->scratch, COUNT_BLOCK);
	if (!p)
		return false; /* the mapping serves instead */
	w->scratch = p;
	w->scratch_cap = COUNT_BLOCK;
	return true;
}

void csv_count_chunk(csv_chunk *ch, csv_worker *w)
{
	size_t n = (size_t)(ch->nom_end - ch->nom_start), off = 0;

	ch->quotes = 0;
	ch->newlines = 0;
	/* A file is read with pread into a small buffer rather than through
	 * the mapping: touching the mapping would fault every page in now and
	 * again in the parse, or keep the whole input resident. */
	if (ch->fd >= 0 && count_buffer(w)) {
		off_t base = (off_t)(ch->nom_start - ch->base);
		while (off < n) {
			size_t k = n - off < COUNT_BLOCK ? n - off : COUNT_BLOCK;
			ssize_t got = pread(ch->fd, w->scratch, k, base + (off_t)off);
			if (got <= 0)
				break; /* fall back to the mapping for the rest */
			count_bytes((const unsigned char *)w->scratch, (size_t)got, &ch->quotes, &ch->newlines);
			off += (size_t)got;
		}
	}
	if (off < n) {
		count_bytes((const unsigned char *)ch->nom_start + off, n - off, &ch->quotes, &ch->newlines);
		if (ch->drop)
			csv_drop_pages(ch->nom_start + off, n - off);
	}
}

/* ---- chunk columns ---------------------------------------------------------------- */

/* Grows the chunk's validity bitmaps (values live in fixed slots). */
static int grow_rows(csv_chunk *ch, size_t ncols)
{
	size_t nc = ch->rowcap ? ch->rowcap * 2 : ROWCAP0;

	for (size_t j = 0; j < ncols; j++) {
		csv_ccol *col = &ch->cols[j];
		if (col->valid) {
			uint8_t *v = sl__realloc(col->valid, (nc + 7) / 8);
			if (!v)
				return sl__err(SL_ENOMEM, "out of memory");
			memset(v + (ch->rowcap + 7) / 8, 0, (nc + 7) / 8 - (ch->rowcap + 7) / 8);
			col->valid = v;
		}
	}
	ch->rowcap = nc;
	return 0;
}

/* Allocates a column's bitmap: rows [0, r) valid unless the column is untyped. */
static int need_valid(csv_chunk *ch, csv_ccol *col, size_t r)
{
	if (col->valid)
		return 0;
	col->valid = sl__calloc((ch->rowcap + 7) / 8 + 1, 1);
	if (!col->valid)
		return sl__err(SL_ENOMEM, "out of memory");
	if (col->type != CSV_NONE)
		for (size_t i = 0; i < r; i++)
			ds_bit_set(col->valid, i);
	return 0;
}

/* Gives an untyped column (all rows so far null) a type; its slots so far are zeroed. */
static void set_type(csv_ccol *col, int type, size_t r)
{
	memset(col->data, 0, r * sizeof(uint64_t));
	col->type = type;
}

static void to_f64(csv_ccol *col, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double d = (double)(int64_t)col->data[i];
		memcpy(&col->data[i], &d, 8);
	}
	col->type = DS_FLOAT64;
}

/*
 * Rescans rows [0, upto) of the chunk and turns columns cols[0..n) into
 * string columns holding their original text (invariant 4: validity stays).
 */
static int rescan_strings(const csv_conf *c, csv_chunk *ch, csv_worker *w, const size_t *cols,
			  size_t n, size_t upto)
{
	ds_dict dicts[CSV_MAX_THREADS];
	const char *p = ch->start;
	size_t r = 0, bi = 0;
	uint64_t ord = 0;
	int rc = 0;

	if (n > CSV_MAX_THREADS) {
		/* Bounded stack arrays: convert in batches. */
		rc = rescan_strings(c, ch, w, cols, CSV_MAX_THREADS, upto);
		return rc ? rc : rescan_strings(c, ch, w, cols + CSV_MAX_THREADS, n - CSV_MAX_THREADS, upto);
	}
	for (size_t k = 0; k < n; k++)
		ds_dict_init(&dicts[k]);
	/* The codes overwrite the old values in place: the text comes from the
	 * input, not from the slots. */
	while (rc == 0 && r < upto) {
		bool isrow = csv_tokenize(c, p, ch->limit, &w->row2);
		p = w->row2.next;
		if (!isrow)
			continue;
		if (bi < ch->nbad && ch->bad[bi].ordinal == ord) {
			bi++;
			ord++;
			continue;
		}
		ord++;
		for (size_t k = 0; rc == 0 && k < n; k++) {
			csv_ccol *col = &ch->cols[cols[k]];
			const char *s = NULL;
			size_t len = 0;
			uint32_t code = 0;
			if (!col->valid || ds_bit_get(col->valid, r)) {
				rc = csv_field_text(w, &w->row2.f[cols[k]], &s, &len);
				if (rc == 0)
					rc = ds_dict_intern(&dicts[k], s, len, &code);
			}
			col->data[r] = code;
		}
		r++;
	}
	for (size_t k = 0; k < n; k++) {
		csv_ccol *col = &ch->cols[cols[k]];
		ds_dict_free(&col->dict);
		col->dict = dicts[k];
		ds_dict_drop_index(&col->dict);
		col->type = DS_STRING; /* on failure the chunk (and the read) fails anyway */
	}
	return rc;
}

/* Stores field f as row r of column j, widening the column when needed. */
static int store(const csv_conf *c, csv_chunk *ch, csv_worker *w, size_t j, size_t r)
{
	csv_ccol *col = &ch->cols[j];
	const csv_field *f = &w->row.f[j];
	const char *s = NULL;
	size_t len = 0;
	int64_t iv;
	double dv;
	bool bv;
	uint32_t code;
	int rc, cls;

	if (!(f->flags & F_QUOTED) && is_null(c, f->p, f->len)) {
		if ((rc = need_valid(ch, col, r)))
			return rc;
		ds_bit_clear(col->valid, r);
		col->nulls++;
		col->data[r] = 0;
		return 0;
	}
	if (col->valid)
		ds_bit_set(col->valid, r);
	if (c->override[j] != CSV_NONE) {
		/* Parsed and checked before the row was accepted. */
		switch (col->type) {
		case DS_INT64:
		case DS_TIMESTAMP:
			col->data[r] = (uint64_t)w->vals[j].i;
			return 0;
		case DS_FLOAT64:
			memcpy(&col->data[r], &w->vals[j].f, 8);
			return 0;
		case DS_BOOL:
			col->data[r] = (uint64_t)w->vals[j].i;
			return 0;
		default:
			break;
		}
	}
	if ((rc = csv_field_text(w, f, &s, &len)))
		return rc;
	for (;;) {
		switch (col->type) {
		case DS_INT64:
			if (ds_parse_i64(s, len, &iv) && !lead_zero(s, len)) {
				col->data[r] = (uint64_t)iv;
				return 0;
			}
			break;
		case DS_FLOAT64:
			if (ds_parse_f64(s, len, &dv) && !lead_zero(s, len)) {
				memcpy(&col->data[r], &dv, 8);
				return 0;
			}
			break;
		case DS_BOOL:
			if (ds_parse_bool(s, len, &bv)) {
				col->data[r] = bv;
				return 0;
			}
			break;
		case DS_TIMESTAMP:
			if (ds_parse_timestamp(s, len, &iv)) {
				col->data[r] = (uint64_t)iv;
				return 0;
			}
			break;
		case DS_STRING:
			rc = col->raw ? ds_dict_append_h(&col->dict, s, len, sl__hash64(s, len), &code)
				      : ds_dict_intern(&col->dict, s, len, &code);
			if (rc)
				return rc;
			col->data[r] = code;
			return 0;
		default: /* CSV_NONE */
			set_type(col, classify(s, len), r);
			if (col->valid)
				ds_bit_set(col->valid, r);
			continue;
		}
		cls = csv_join(col->type, classify(s, len));
		if (cls == DS_FLOAT64) {
			to_f64(col, r);
		} else {
			if ((rc = rescan_strings(c, ch, w, &j, 1, r)))
				return rc;
			/* The rescan used the scratch buffer. */
			if ((rc = csv_field_text(w, f, &s, &len)))
				return rc;
		}
	}
}

/* Turns the chunk's mostly distinct string columns raw (see csv_raw_probe). */
static void go_raw(csv_chunk *ch, size_t ncols)
{
	for (size_t j = 0; j < ncols; j++) {
		csv_ccol *col = &ch->cols[j];
		size_t values = ch->nrows - col->nulls;
		if (col->type == DS_STRING && !col->raw &&
		    col->dict.n * 1000 > (size_t)csv_raw_permille * values) {
			col->raw = true;
			ds_dict_drop_index(&col->dict);
		}
	}
}

/* Advances the chunk's line cursor to pos and gives pos's line and column. */
static void locate(csv_chunk *ch, const char *pos, uint64_t *line, uint64_t *col)
{
	const char *q = ch->lpos;

	while (q < pos) {
		const char *nl = memchr(q, '\n', (size_t)(pos - q));
		if (!nl)
			break;
		ch->lno++;
		ch->lstart = nl + 1;
		q = nl + 1;
	}
	ch->lpos = pos;
	*line = ch->lno;
	*col = (uint64_t)(pos - ch->lstart) + 1;
}

/* Checks a tokenized row; returns true when it may be stored. */
static bool check_row(const csv_conf *c, csv_worker *w)
{
	csv_row *r = &w->row;

	if (r->err_pos)
		return false;
	if (r->n != c->ncols) {
		const char *pos = r->end;
		if (r->n > c->ncols) {
			const csv_field *f = &r->f[c->ncols];
			pos = f->flags & F_QUOTED ? f->p - 1 : f->p;
		}
		row_err(r, pos, "expected %zu fields, found %zu", c->ncols, r->n);
		return false;
	}
	for (size_t j = 0; j < c->ncols; j++) {
		const csv_field *f = &r->f[j];
		const char *s = NULL;
		size_t len = 0;
		if (c->override[j] == CSV_NONE || c->override[j] == DS_STRING)
			continue;
		if (!(f->flags & F_QUOTED) && is_null(c, f->p, f->len))
			continue;
		if (csv_field_text(w, f, &s, &len))
			return false;
		if (!parse_as(c->override[j], s, len, &w->vals[j].i, &w->vals[j].f)) {
			row_err(r, f->flags & F_QUOTED ? f->p - 1 : f->p,
				"column '%s': '%.*s%s' is not a valid %s (the column's type is set in types)",
				c->names[j], (int)(len > 40 ? 40 : len), s, len > 40 ? "..." : "",
				ds_type_name(c->override[j]));
			return false;
		}
	}
	return true;
}

/*
 * Maps the pages of [p, p+n) in one call instead of one fault per page as
 * the values are stored: the fresh pages of the value slots are most of
 * the parse's page faults, and each costs a trap and a lock round trip.
 * The bytes are untouched (a page shared with the next chunk is safe).
 * Advice only: where the kernel lacks it, the faults happen as before.
 */
static void prefault(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t page = 4096, a = (uintptr_t)p & ~(page - 1);
	uintptr_t z = ((uintptr_t)p + n + page - 1) & ~(page - 1);

	if (n >= ((size_t)64 << 10))
		(void)madvise((void *)a, z - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)n;
#endif
}

void csv_parse_chunk(csv_reader *rd, csv_chunk *ch, size_t index, csv_worker *w)
{
	const csv_conf *c = &rd->conf;
	const char *p, *dropped;
	uint64_t line, col;

	/* Find the first row that starts in the chunk (invariants 1 and 2). */
	p = ch->nom_start;
	if (!ch->first && !(p[-1] == '\n' && !ch->inq)) {
		bool inq = ch->inq;
		for (; p < ch->limit; p++) {
			if (*p == '"') {
				inq = !inq;
			} else if (*p == '\n' && !inq) {
				p++;
				break;
			}
		}
	}
	ch->start = p;
	ch->start_line = ch->line0;
	for (const char *q = ch->nom_start; q < p && (q = memchr(q, '\n', (size_t)(p - q))); q++)
		ch->start_line++;
	ch->lpos = ch->lstart = p;
	ch->lno = ch->start_line;
	dropped = p;

	ch->cols = sl__calloc(c->ncols ? c->ncols : 1, sizeof *ch->cols);
	if (!ch->cols) {
		ch->rc = sl__err(SL_ENOMEM, "out of memory");
		return;
	}
	for (size_t j = 0; j < c->ncols; j++) {
		ds_dict_init(&ch->cols[j].dict);
		ch->cols[j].data = rd->slots[j] + ch->slot0;
		prefault(ch->cols[j].data, ch->slotcap * sizeof(uint64_t));
		/* Chunks are alike: size the dictionary as the worker's last one
		 * ended, so it does not regrow from nothing (content is unaffected). */
		if (w->hint_n && w->hint_n[j]) {
			ds_dict *d = &ch->cols[j].dict;
			/* A column that went raw will likely do so again: its lookup
			 * table would only be built to be dropped. */
			ch->rc = w->hint_raw[j] ? ds_dict_reserve_storage(d, w->hint_n[j], w->hint_bytes[j])
						: ds_dict_reserve(d, w->hint_n[j], w->hint_bytes[j]);
			if (ch->rc)
				return;
			prefault(d->bytes, d->cap);
			prefault(d->offs, d->ncap * sizeof *d->offs);
		}
		if (c->override[j] != CSV_NONE)
			ch->cols[j].type = c->override[j];
	}
	sl__buf_init(&ch->msgs, 0);

	while (p < ch->nom_end && p < ch->limit) {
		if (c->on_error == DS_ON_ERROR_FAIL &&
		    __atomic_load_n(&rd->fail_at, __ATOMIC_RELAXED) < index)
			break; /* an earlier chunk failed: this one's result is moot */
		bool isrow = csv_tokenize(c, p, ch->limit, &w->row);
		const char *next = w->row.next;
		if (!isrow) {
			p = next;
			continue;
		}
		uint64_t ord = ch->ordinals++;
		if (!check_row(c, w)) {
			locate(ch, w->row.err_pos, &line, &col);
			if (w->row.fatal || c->on_error == DS_ON_ERROR_FAIL) {
				ch->fatal = sl__asprintf("%s:%llu:%llu: %s", ch->name, (unsigned long long)line,
							 (unsigned long long)col, w->row.err);
				ch->rc = ch->fatal ? SL_EPARSE : SL_ENOMEM;
				size_t cur = __atomic_load_n(&rd->fail_at, __ATOMIC_RELAXED);
				while (index < cur &&
				       !__atomic_compare_exchange_n(&rd->fail_at, &cur, index, false,
								    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
					;
				break;
			}
			if (ch->nbad == ch->badcap) {
				size_t nc = ch->badcap ? ch->badcap * 2 : 16;
				csv_bad *nb = sl__reallocarray(ch->bad, nc, sizeof *nb);
				if (!nb) {
					ch->rc = sl__err(SL_ENOMEM, "out of memory");
					break;
				}
				ch->bad = nb;
				ch->badcap = nc;
			}
			csv_bad *b = &ch->bad[ch->nbad++];
			b->ordinal = ord;
			b->line = line;
			b->col = col;
			b->raw = w->row.start;
			b->raw_len = (size_t)(w->row.end - w->row.start);
			b->msg_off = ch->msgs.len;
			if ((ch->rc = sl__buf_append(&ch->msgs, w->row.err, strlen(w->row.err) + 1)))
				break;
			p = next;
			continue;
		}
		if (ch->nrows == ch->rowcap && (ch->rc = grow_rows(ch, c->ncols)))
			break;
		if (ch->nrows == ch->slotcap) {
			/* Cannot happen (see csv.c on slots); checked all the same. */
			ch->rc = sl__err(SL_ECORRUPT, "%s: more rows than lines in a chunk", ch->name);
			break;
		}
		for (size_t j = 0; j < c->ncols; j++)
			if ((ch->rc = store(c, ch, w, j, ch->nrows)))
				break;
		if (ch->rc)
			break;
		ch->nrows++;
		if (ch->nrows == csv_raw_probe)
			go_raw(ch, c->ncols);
		p = next;
		if (ch->drop && (size_t)(w->row.start - dropped) >= DROP_EVERY) {
			csv_drop_pages(dropped, (size_t)(w->row.start - dropped));
			dropped = w->row.start;
		}
	}
	if (ch->drop && p > dropped)
		csv_drop_pages(dropped, (size_t)(p - dropped));
	for (size_t j = 0; w->hint_n && j < c->ncols; j++) {
		w->hint_n[j] = ch->cols[j].dict.n;
		w->hint_bytes[j] = ch->cols[j].dict.len;
		w->hint_raw[j] = ch->cols[j].raw;
	}
	/* Slots are reserved one per line; fields with many line breaks leave
	 * most of a chunk's slots unused. Any of them faulted in (whole huge
	 * pages) are given back, so such input costs address space, not memory. */
	if (ch->slotcap - ch->nrows >= ((size_t)1 << 17))
		for (size_t j = 0; j < c->ncols; j++)
			csv_drop_pages((const char *)(ch->cols[j].data + ch->nrows),
				       (ch->slotcap - ch->nrows) * sizeof(uint64_t));
}

void csv_convert_chunk(csv_reader *rd, csv_chunk *ch, csv_worker *w)
{
	size_t *strs = NULL, ns = 0;

	if (ch->rc)
		return;
	strs = sl__calloc(rd->conf.ncols ? rd->conf.ncols : 1, sizeof *strs);
	if (!strs) {
		ch->rc = sl__err(SL_ENOMEM, "out of memory");
		return;
	}
	for (size_t j = 0; j < rd->conf.ncols; j++) {
		csv_ccol *col = &ch->cols[j];
		int final = rd->final_type[j];
		if (col->type == final || col->type == CSV_NONE)
			continue;
		if (col->type == DS_INT64 && final == DS_FLOAT64)
			to_f64(col, ch->nrows);
		else
			strs[ns++] = j;
	}
	/* Dictionaries are complete: their lookup tables go before the merge. */
	for (size_t j = 0; j < rd->conf.ncols; j++)
		if (ch->cols[j].type == DS_STRING && rd->final_type[j] == DS_STRING)
			ds_dict_drop_index(&ch->cols[j].dict);
	if (ns && ch->nrows) {
		ch->rc = rescan_strings(&rd->conf, ch, w, strs, ns, ch->nrows);
		if (ch->drop && ch->nom_end > ch->start)
			csv_drop_pages(ch->start, (size_t)(ch->nom_end - ch->start));
	}
	sl__free(strs);
}

void csv_chunk_free(csv_chunk *ch, size_t ncols)
{
	if (ch->cols) {
		for (size_t j = 0; j < ncols; j++) {
			sl__free(ch->cols[j].valid);
			ds_dict_free(&ch->cols[j].dict);
		}
	}
	sl__free(ch->cols);
	sl__free(ch->bad);
	sl__buf_free(&ch->msgs);
	sl__free(ch->fatal);
	ch->cols = NULL;
	ch->bad = NULL;
	ch->fatal = NULL;
}
