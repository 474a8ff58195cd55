/*
 * MLflow's scoring protocol for POST /invocations (codec.h), as MLflow 2's
 * scoring server defines it. A JSON body is an object with exactly one of
 *
 *   dataframe_split    {"columns": [...], "data": [[...], ...], "index": [...]}
 *   dataframe_records  [{"col": value, ...}, ...]
 *   instances          rows: objects as in dataframe_records, arrays in
 *                      column order, or bare values for a one-input model
 *   inputs             columns {"col": [values...]} (or one value each), or
 *                      rows as in instances
 *
 * ("params" and other keys are ignored, as MLflow does); a text/csv body is
 * a header row naming the columns and one row per record. Columns the
 * model does not take are ignored; a column it takes that is missing is an
 * error naming it. In records, a key absent from one record is a missing
 * value for that row. The answer is {"predictions": [...]}: the class
 * label for classifiers, the first output otherwise.
 *
 * Each format is read in two passes over its part of the body: one to count
 * the rows (so the batch is sized once), one to type the values.
 *
 * Invariants:
 *  1. Errors are told in one order whatever path read the body: not JSON
 *     outside the format's value, no format or two; then the value not
 *     JSON; then what reading it found (mlflow__parse_checked). The fast
 *     path, one format read where it is met, hands every failure to it.
 *  2. dataframe_split's "columns" served from a serve_colcache give the map
 *     reading the names gives: an entry is the exact bytes of an array that
 *     was read whole and gave every input once, for one serve_sig.id.
 *  3. A row's numbers have strtod's values, whichever reader read them
 *     (V2's inline reader, jscan__plain and jscan__short, or jscan_value).
 */
#include <math.h>
#include <string.h>

#include "dataset/csv_int.h"
#include "serve/codec.h"


static int malformed(const jscan *js)
{
	char where[64];

	return sl__err(SL_EPARSE, "malformed JSON at %s: %s", jscan_where(js, where, sizeof where),
		       js->err);
}

#define FORMATS "dataframe_split, dataframe_records, instances or inputs"

/*
 * The batch's cells, each missing until set; or, with full, left as they
 * are for a reader that sets every cell of every row it reads (and fails
 * when a row is short), which spares clearing them.
 */
static int alloc_batch(const serve_sig *s, size_t n, bool spans, bool full, const char *src,
		       size_t src_len, serve_arena *a, serve_batch *b)
{
	void *(*alloc)(serve_arena *, size_t) = full ? serve_arena_alloc : serve_arena_calloc;

	b->n = n;
	b->k = s->n_in;
	b->src = src;
	b->src_len = src_len;
	b->v = alloc(a, (n * b->k + 1) * sizeof *b->v);
	b->span = spans ? alloc(a, (2 * n * b->k + 1) * sizeof *b->span) : NULL;
	if (!b->v || (spans && !b->span))
		return sl__oom();
	/* A value a record leaves out is missing (its span length 0 logs null). */
	for (size_t i = 0; !full && i < n * b->k; i++)
		b->v[i].null = true;
	return 0;
}

/*
 * Counts the elements of the array starting at the scanner (consumed),
 * passing each by its brackets: every caller reads the array again,
 * checking it, or mlflow__parse_checked checks it when the read fails.
 */
static int count_array(jscan *js, const char *what, size_t *out)
{
	bool first = true;
	jval v;
	int r;

	*out = 0;
	if (jscan_value(js, &v) != J_ARR) {
		if (js->err)
			return malformed(js);
		return sl__err(SL_EINVAL, "%s must be an array", what);
	}
	while ((r = jscan_more(js, &first)) > 0) {
		if (jscan_skip_brackets(js))
			return malformed(js);
		(*out)++;
	}
	return r < 0 ? malformed(js) : 0;
}

static int missing_column(const serve_sig *s, const char *where, size_t j)
{
	return sl__err(SL_EINVAL, "%s: missing column '%s' (the model takes %zu columns: %s%s%s)",
		       where, s->in_names[j], s->n_in, s->in_names[0], s->n_in > 1 ? ", " : "",
		       s->n_in > 2 ? "..." : s->n_in > 1 ? s->in_names[1] : "");
}

/* Sets cell (i, j) from v with the path of the value in messages. */
static int set(serve_batch *b, const serve_sig *s, size_t i, size_t j, const jval *v,
	       serve_arena *a, const char *where)
{
	if (serve_batch_set(b, s, i, j, v, a))
		return sl__err_prefix(SL_EINVAL, "%s[%zu] '%s'", where, i, s->in_names[j]);
	return 0;
}

/* One record (an object keyed by column) into row i; seen counts columns. */
static int record(jscan *js, const serve_sig *s, serve_batch *b, size_t i, size_t *seen,
		  serve_arena *a, const char *where)
{
	bool first = true;
	jval k, v;
	int r;

	if (jscan_value(js, &v) != J_OBJ) {
		if (js->err)
			return malformed(js);
		return sl__err(SL_EINVAL, "%s[%zu] must be an object of column values", where, i);
	}
	while ((r = jscan_key(js, &first, &k)) > 0) {
		char buf[256];
		const char *name = k.s;
		size_t len = k.len;
		long j;
		if (k.esc) {
			if (k.len > sizeof buf) {
				if (jscan_skip(js))
					return malformed(js);
				continue;
			}
			len = jscan_unescape(&k, buf);
			name = buf;
		}
		j = serve_sig_find(s, name, len);
		if (j < 0) {
			if (jscan_skip(js))
				return malformed(js);
			continue;
		}
		if (jscan_value(js, &v) == J_ERR)
			return malformed(js);
		if (set(b, s, i, (size_t)j, &v, a, where))
			return SL_EINVAL;
		seen[j]++;
	}
	return r < 0 ? malformed(js) : 0;
}

/* One row given as an array of values in column order. */
static int positional(jscan *js, const serve_sig *s, serve_batch *b, size_t i, serve_arena *a,
		      const char *where)
{
	bool first = true;
	size_t j = 0;
	jval v;
	int r;

	if (jscan_value(js, &v) != J_ARR) {
		if (js->err)
			return malformed(js);
		return sl__err(SL_EINVAL, "%s[%zu] must be an array of %zu values", where, i, s->n_in);
	}
	while ((r = jscan_more(js, &first)) > 0) {
		if (jscan_value(js, &v) == J_ERR)
			return malformed(js);
		if (j >= s->n_in)
			return sl__err(SL_EINVAL, "%s[%zu] has more than the model's %zu columns", where,
				       i, s->n_in);
		if (set(b, s, i, j, &v, a, where))
			return SL_EINVAL;
		j++;
	}
	if (r < 0)
		return malformed(js);
	if (j != s->n_in)
		return sl__err(SL_EINVAL, "%s[%zu] has %zu values, the model takes %zu columns (%s, ...)",
			       where, i, j, s->n_in, s->in_names[0]);
	return 0;
}

/* Rows as an array of records, of positional arrays or of bare values. */
static int rows(jscan *js, const serve_sig *s, serve_arena *a, const char *where,
		serve_batch *out)
{
	jscan save = *js;
	size_t n, *seen;
	bool first = true;
	jtok kind = 0;
	jval v;
	int r, rc;

	if ((rc = count_array(js, where, &n)))
		return rc;
	if ((rc = alloc_batch(s, n, true, false, js->base, (size_t)(js->end - js->base), a, out)))
		return rc;
	if (!(seen = serve_arena_calloc(a, (s->n_in + 1) * sizeof *seen)))
		return sl__oom();
	*js = save;
	jscan_value(js, &v);
	for (size_t i = 0; (r = jscan_more(js, &first)) > 0; i++) {
		jscan peek = *js;
		jtok t = jscan_value(&peek, &v);
		if (t == J_ERR)
			return malformed(&peek);
		if (t != J_OBJ && t != J_ARR)
			t = J_NUM; /* any bare value */
		if (i == 0)
			kind = t;
		else if (t != kind)
			return sl__err(SL_EINVAL, "%s[%zu]: rows must all be objects, all arrays or all "
					      "single values",
				       where, i);
		if (t == J_OBJ) {
			rc = record(js, s, out, i, seen, a, where);
		} else if (t == J_ARR) {
			rc = positional(js, s, out, i, a, where);
		} else {
			if (s->n_in != 1)
				return sl__err(SL_EINVAL,
					       "%s[%zu] is a single value, but the model takes %zu "
					       "columns (send objects keyed by column)",
					       where, i, s->n_in);
			jscan_value(js, &v);
			rc = set(out, s, i, 0, &v, a, where);
		}
		if (rc)
			return rc;
	}
	if (r < 0)
		return malformed(js);
	if (kind == J_OBJ)
		for (size_t j = 0; j < s->n_in; j++)
			if (!seen[j])
				return missing_column(s, where, j);
	return 0;
}

/* ---- dataframe_split's columns, remembered (serve_colcache) ---------------------------- */

void serve_colcache_free(serve_colcache *c)
{
	for (size_t i = 0; i < SERVE_COLMAPS; i++) {
		sl__free(c->e[i].text);
		sl__free(c->e[i].map);
	}
	memset(c, 0, sizeof *c);
}

/*
 * The entry for s whose array is the text at p, or NULL. The text was a
 * whole array, read and checked when it was kept, so the same bytes here
 * are that array again, ending where it ended: one comparison decides.
 */
static serve_colmap *colmap_hit(serve_colcache *cc, const serve_sig *s, const char *p,
				const char *end)
{
	if (!cc || !s->id)
		return NULL;
	for (size_t i = 0; i < SERVE_COLMAPS; i++) {
		serve_colmap *e = &cc->e[i];
		if (e->sig == s->id && (size_t)(end - p) >= e->len && !memcmp(p, e->text, e->len)) {
			e->used = ++cc->clock;
			cc->hits++;
			return e;
		}
	}
	cc->misses++;
	return NULL;
}

/* Keeps text (len bytes) and its map of width elements for s, in s's entry
 * or the least recently used one. Not kept when too long or out of memory:
 * the next request reads its names again. */
static void colmap_keep(serve_colcache *cc, const serve_sig *s, const char *text, size_t len,
			const long *map, size_t width)
{
	serve_colmap *e = &cc->e[0];

	if (!s->id || len > SERVE_COLMAP_MAX)
		return;
	for (size_t i = 0; i < SERVE_COLMAPS; i++) {
		if (cc->e[i].sig == s->id) {
			e = &cc->e[i];
			break;
		}
		if (cc->e[i].used < e->used)
			e = &cc->e[i];
	}
	e->sig = 0;
	if (len > e->text_cap) {
		char *t = sl__realloc(e->text, len);
		if (!t)
			return;
		e->text = t;
		e->text_cap = len;
	}
	if (width > e->map_cap) {
		long *m = sl__reallocarray(e->map, width + 1, sizeof *m);
		if (!m)
			return;
		e->map = m;
		e->map_cap = width;
	}
	memcpy(e->text, text, len);
	memcpy(e->map, map, width * sizeof *map);
	e->len = len;
	e->width = width;
	e->sig = s->id;
	e->used = ++cc->clock;
}

/*
 * dataframe_split's "columns" read name by name into a map from element
 * to raw input, counting in seen; the array is kept in cc when it gives
 * every input once and was the only "columns" so far (fresh).
 */
static int split_columns(jscan *js, const serve_sig *s, serve_colcache *cc, bool fresh,
			 serve_arena *a, size_t *seen, long **out_map, size_t *out_width)
{
	jscan save = *js;
	const char *text;
	bool f2 = true, all = fresh;
	size_t c = 0, width;
	long *map;
	jval v;
	int r, rc;

	if ((rc = count_array(js, "dataframe_split.columns", &width)))
		return rc;
	if (!(map = serve_arena_alloc(a, (width + 1) * sizeof *map)))
		return sl__oom();
	*js = save;
	jscan_value(js, &v);
	text = v.s;
	while ((r = jscan_more(js, &f2)) > 0) {
		char buf[256];
		size_t len;
		if (jscan_value(js, &v) != J_STR) {
			if (js->err)
				return malformed(js);
			return sl__err(SL_EINVAL, "dataframe_split.columns[%zu] must be a string", c);
		}
		map[c] = -1;
		if (v.len <= sizeof buf) {
			len = jscan_unescape(&v, buf);
			map[c] = serve_sig_find(s, buf, len);
		}
		if (map[c] >= 0 && seen[map[c]]++)
			return sl__err(SL_EINVAL, "dataframe_split.columns: '%s' is given twice",
				       s->in_names[map[c]]);
		c++;
	}
	if (r < 0)
		return malformed(js);
	for (size_t j = 0; all && j < s->n_in; j++)
		all = seen[j] == 1;
	if (all && cc)
		colmap_keep(cc, s, text, (size_t)(js->p - text), map, width);
	*out_map = map;
	*out_width = width;
	return 0;
}

/*
 * One row of "data" into row i through map. Its plain numbers are read
 * inline (jscan__plain: strtod's values, the reader V2 uses) and a float
 * cell is stored where its number is read, as serve_batch_set stores it;
 * anything else goes through jscan_more and jscan_value. The reader reads
 * up to JSCAN__PLAIN_READ bytes ahead: the body's last bytes are read from
 * a zero-padded copy made once, not once a number as jscan_next_plain
 * would (a row's last numbers are the body's last bytes).
 */
static int split_row(jscan *d, const serve_sig *s, const long *map, size_t width, bool have_cols,
		     size_t i, serve_arena *a, serve_batch *out)
{
	char tail[2 * JSCAN__PLAIN_READ];
	/* p points into buf, the body or tail; its offset in the body is
	 * off + (p - buf). */
	const char *buf = d->base, *p, *end = d->end, *rend = d->end;
	const ds_type *types = s->in_types;
	expr_value *row = out->v + i * out->k;
	uint32_t *span = out->span + 2 * i * out->k;
	/* A number's offset in the body is its address less org. */
	uintptr_t org = (uintptr_t)d->base;
	size_t off = 0, c = 0;
	bool f2 = true;
	jval v;
	int r = 0;

	if (jscan_value(d, &v) != J_ARR) {
		if (d->err)
			return malformed(d);
		return sl__err(SL_EINVAL, "dataframe_split.data[%zu] must be an array", i);
	}
	p = d->p;
	for (;;) {
		jscan_plain n;
		long j;
		if (rend - p < JSCAN__PLAIN_READ && buf == d->base) {
			size_t left = (size_t)(end - p);
			memset(tail, 0, sizeof tail);
			memcpy(tail, p, left);
			off = (size_t)(p - d->base);
			org = (uintptr_t)tail - off;
			buf = p = tail;
			end = tail + left;
			rend = tail + sizeof tail;
		}
		n = jscan__plain(p, end, rend, f2);
		if (n.q) {
			p = n.q;
			f2 = false;
			if (c < width && (j = map[c]) >= 0) {
				size_t at = (uintptr_t)n.at - org, len = (size_t)(n.q - n.at);
				if (types[j] == DS_FLOAT64) {
					row[j] = (expr_value){.f = n.d};
					span[2 * j] = (uint32_t)at;
					span[2 * j + 1] = (uint32_t)len;
				} else {
					v = (jval){.t = J_NUM, .s = d->base + at, .len = len, .num = n.d};
					if (set(out, s, i, (size_t)j, &v, a, "dataframe_split.data"))
						return SL_EINVAL;
				}
			}
			c++;
			/*
			 * What follows is nearly always ", " and a short number
			 * into a float cell: read here without the general
			 * reader's steps (jscan__short is what it would use).
			 * Anything else goes round the loop above.
			 */
			while (*p == ',' && c < width && (j = map[c]) >= 0 && types[j] == DS_FLOAT64) {
				const char *q = p + 1 + (p[1] == ' ');
				if (rend - q < JSCAN__PLAIN_READ || !(n = jscan__short(q)).q)
					break;
				row[j] = (expr_value){.f = n.d};
				span[2 * j] = (uint32_t)((uintptr_t)q - org);
				span[2 * j + 1] = (uint32_t)(n.q - q);
				p = n.q;
				c++;
			}
			continue;
		}
		d->p = d->base + off + (p - buf);
		if ((r = jscan_more(d, &f2)) <= 0)
			break;
		if (jscan_value(d, &v) == J_ERR)
			return malformed(d);
		p = buf + (size_t)(d->p - d->base) - off;
		if (c < width && map[c] >= 0 &&
		    set(out, s, i, (size_t)map[c], &v, a, "dataframe_split.data"))
			return SL_EINVAL;
		c++;
	}
	if (r < 0)
		return malformed(d);
	if (c != width)
		return sl__err(SL_EINVAL, "dataframe_split.data[%zu] has %zu values, %s %zu", i, c,
			       have_cols ? "columns has" : "the model takes", width);
	return 0;
}

static int dataframe_split(jscan *js, const serve_sig *s, serve_colcache *cc, serve_arena *a,
			   serve_batch *out)
{
	const char *data = NULL;
	long *map = NULL;
	size_t width = s->n_in, n = 0, *seen;
	/* cached: map and width came from cc, seen is not filled. */
	bool first = true, have_cols = false, cached = false;
	/* Two "columns" together give every input, the last one alone the
	 * map: the cells of the others are missing (null), not set. */
	bool twice = false;
	jval k, v;
	int r, rc;

	if (jscan_value(js, &v) != J_OBJ) {
		if (js->err)
			return malformed(js);
		return sl__err(SL_EINVAL, "dataframe_split must be an object with \"columns\" and "
					  "\"data\"");
	}
	if (!(seen = serve_arena_calloc(a, (s->n_in + 1) * sizeof *seen)))
		return sl__oom();
	while ((r = jscan_key(js, &first, &k)) > 0) {
		if (jscan_eq(&k, "columns")) {
			const char *p = js->p;
			serve_colmap *e;
			while (p < js->end && jscan__ws(*p))
				p++;
			if (!have_cols && (e = colmap_hit(cc, s, p, js->end))) {
				map = e->map;
				width = e->width;
				js->p = p + e->len;
				have_cols = cached = true;
				continue;
			}
			/* "columns" again: what the first gave counts. */
			twice |= have_cols;
			if (cached)
				for (size_t c = 0; c < width; c++)
					if (map[c] >= 0)
						seen[map[c]]++;
			cached = false;
			if ((rc = split_columns(js, s, cc, !have_cols, a, seen, &map, &width)))
				return rc;
			have_cols = true;
		} else if (jscan_eq(&k, "data")) {
			jscan save = *js;
			if ((rc = count_array(js, "dataframe_split.data", &n)))
				return rc;
			data = save.p;
		} else if (jscan_skip(js)) {
			return malformed(js);
		}
	}
	if (r < 0)
		return malformed(js);
	if (!data)
		return sl__err(SL_EINVAL, "dataframe_split has no \"data\"");
	if (have_cols) {
		/* A kept array gives every column. */
		for (size_t j = 0; !cached && j < s->n_in; j++)
			if (!seen[j])
				return missing_column(s, "dataframe_split.columns", j);
	} else {
		/* Without column names the values follow the model's columns. */
		if (!(map = serve_arena_alloc(a, (width + 1) * sizeof *map)))
			return sl__oom();
		for (size_t j = 0; j < width; j++)
			map[j] = (long)j;
	}
	/* With one "columns" (or none) every input has a column in map, and
	 * every row every column (split_row): every cell is set, so none is
	 * cleared first. */
	if ((rc = alloc_batch(s, n, true, !twice, js->base, (size_t)(js->end - js->base), a, out)))
		return rc;
	{
		jscan d;
		bool f1 = true;
		size_t i = 0;
		jscan_init(&d, js->base, (size_t)(js->end - js->base));
		d.p = data;
		jscan_value(&d, &v);
		for (; (r = jscan_more(&d, &f1)) > 0; i++) {
			/* Counted by brackets, read checked: the counts agree on
			 * JSON, and a row more or less is never used. */
			if (i == n) {
				jscan_fail(&d, "more rows than counted");
				return malformed(&d);
			}
			if ((rc = split_row(&d, s, map, width, have_cols, i, a, out)))
				return rc;
		}
		if (r < 0)
			return malformed(&d);
		if (i != n) {
			jscan_fail(&d, "fewer rows than counted");
			return malformed(&d);
		}
	}
	return 0;
}

/* "inputs" as columns: {"col": [values...] or value}. */
static int columns(jscan *js, const serve_sig *s, serve_arena *a, serve_batch *out)
{
	jscan save = *js;
	bool first = true;
	size_t n = SIZE_MAX, *seen;
	jval k, v;
	int r, rc;

	/* Pass 1: the row count, which every column must agree on. */
	jscan_value(js, &v);
	while ((r = jscan_key(js, &first, &k)) > 0) {
		jscan at = *js;
		size_t m = 1;
		if (jscan_value(&at, &v) == J_ARR) {
			if ((rc = count_array(js, "inputs", &m)))
				return rc;
		} else if (jscan_skip(js)) {
			return malformed(js);
		}
		if (n != SIZE_MAX && m != n)
			return sl__err(SL_EINVAL, "inputs: column '%.*s' has %zu values, others %zu",
				       (int)(k.len > 64 ? 64 : k.len), k.s, m, n);
		n = m;
	}
	if (r < 0)
		return malformed(js);
	if (n == SIZE_MAX)
		n = 0;
	if ((rc = alloc_batch(s, n, true, false, js->base, (size_t)(js->end - js->base), a, out)))
		return rc;
	if (!(seen = serve_arena_calloc(a, (s->n_in + 1) * sizeof *seen)))
		return sl__oom();
	*js = save;
	first = true;
	jscan_value(js, &v);
	while ((r = jscan_key(js, &first, &k)) > 0) {
		char buf[256];
		size_t len;
		long j = -1;
		if (k.len <= sizeof buf) {
			len = jscan_unescape(&k, buf);
			j = serve_sig_find(s, buf, len);
		}
		if (j < 0) {
			if (jscan_skip(js))
				return malformed(js);
			continue;
		}
		seen[j]++;
		if (jscan_value(js, &v) == J_ARR) {
			bool f2 = true;
			for (size_t i = 0; (r = jscan_more(js, &f2)) > 0; i++) {
				if (jscan_value(js, &v) == J_ERR)
					return malformed(js);
				if (set(out, s, i, (size_t)j, &v, a, "inputs"))
					return SL_EINVAL;
			}
			if (r < 0)
				return malformed(js);
		} else if (v.t == J_ERR) {
			return malformed(js);
		} else if (set(out, s, 0, (size_t)j, &v, a, "inputs")) {
			return SL_EINVAL;
		}
	}
	if (r < 0)
		return malformed(js);
	for (size_t j = 0; j < s->n_in; j++)
		if (!seen[j])
			return missing_column(s, "inputs", j);
	return 0;
}

/* Reads the value of the format `which` (mlflow_parse_json's). */
static int format(jscan *js, int which, const serve_sig *s, serve_colcache *cc, serve_arena *a,
		  serve_batch *out)
{
	jval v;

	switch (which) {
	case 0:
		return dataframe_split(js, s, cc, a, out);
	case 1:
		return rows(js, s, a, "dataframe_records", out);
	case 2:
		return rows(js, s, a, "instances", out);
	default: {
		jscan peek = *js;
		jtok t = jscan_value(&peek, &v);
		if (t == J_OBJ)
			return columns(js, s, a, out);
		if (t == J_ARR)
			return rows(js, s, a, "inputs", out);
		if (peek.err)
			return malformed(&peek);
		return sl__err(SL_EINVAL, "inputs must be an object of columns or an array of rows");
	}
	}
}

static const char *const formats[] = {"dataframe_split", "dataframe_records", "instances",
				      "inputs"};

/* Which format key k names, or -1. */
static int format_of(const jval *k)
{
	for (int i = 0; i < 4; i++)
		if (jscan_eq(k, formats[i]))
			return i;
	return -1;
}

/*
 * The errors in the order a client is told them: the body is not JSON
 * outside the format's value, or has no format or two; then the format's
 * value is not JSON; then what its reading found. The body is passed once
 * with the format's value skipped by its brackets, then the value is read.
 */
int mlflow__parse_checked(const serve_sig *s, const char *body, size_t len, serve_colcache *cc,
			  serve_arena *a, serve_batch *out)
{
	const char *at = NULL;
	int which = -1, r;
	bool first = true;
	jscan js;
	jval k, v;

	memset(out, 0, sizeof *out);
	jscan_init(&js, body, len);
	if (jscan_value(&js, &v) != J_OBJ) {
		if (js.err)
			return malformed(&js);
		return sl__err(SL_EINVAL, "the input must be a JSON object with exactly one of " FORMATS
					  " (received %s)",
			       v.t == J_ARR ? "a list" : "a single value");
	}
	while ((r = jscan_key(&js, &first, &k)) > 0) {
		int f = format_of(&k);
		if (f >= 0) {
			if (which >= 0)
				return sl__err(SL_EINVAL, "the input must have exactly one of " FORMATS
							  " (received %s and %s)",
					       formats[which], formats[f]);
			which = f;
			while (js.p < js.end && jscan__ws(*js.p))
				js.p++;
			at = js.p;
		}
		/* The format's value is read again below, checked. */
		if (f >= 0 ? jscan_skip_brackets(&js) : jscan_skip(&js))
			return malformed(&js);
	}
	if (r < 0 || jscan_end(&js))
		return malformed(&js);
	if (which < 0)
		return sl__err(SL_EINVAL, "the input must have exactly one of " FORMATS);
	jscan_init(&js, body, len);
	js.p = at;
	if ((r = format(&js, which, s, cc, a, out)) && r != SL_ENOMEM) {
		/* A body that is not JSON says so first, as when every value
		 * was checked in the first pass. */
		jscan_init(&js, body, len);
		js.p = at;
		if (jscan_skip(&js))
			return malformed(&js);
	}
	return r;
}

/*
 * The common body, one format and nothing wrong, in one pass: the format's
 * value is read where it is met, the rest of the body checked after it.
 * Anything else (an error of any kind, a second format) is left to
 * mlflow__parse_checked, which tells it as it always has: a value read
 * without error is valid JSON, so up to where this pass gave up, the
 * checked reading finds what it found.
 */
int mlflow_parse_json(const serve_sig *s, const char *body, size_t len, serve_colcache *cc,
		      serve_arena *a, serve_batch *out)
{
	int which = -1, r;
	bool first = true;
	jscan js;
	jval k, v;

	memset(out, 0, sizeof *out);
	jscan_init(&js, body, len);
	if (jscan_value(&js, &v) != J_OBJ)
		return mlflow__parse_checked(s, body, len, cc, a, out);
	while ((r = jscan_key(&js, &first, &k)) > 0) {
		int f = format_of(&k);
		if (f >= 0) {
			if (which >= 0 || format(&js, f, s, cc, a, out))
				return mlflow__parse_checked(s, body, len, cc, a, out);
			which = f;
		} else if (jscan_skip(&js)) {
			break;
		}
	}
	if (r < 0 || which < 0 || jscan_end(&js))
		return mlflow__parse_checked(s, body, len, cc, a, out);
	return 0;
}


/* ---- CSV ---------------------------------------------------------------------------------- */

/* The next record's fields into r; false at the end of the body. */
static int next_row(const csv_conf *c, const char **pos, const char *end, csv_row *r, bool *got)
{
	int rc;

	*got = false;
	while (*pos < end) {
		if (!csv_tokenize(c, *pos, end, r)) {
			*pos = r->next; /* an empty line */
			continue;
		}
		if (r->n > r->cap) {
			if ((rc = csv_row_reserve(r, r->n)))
				return rc;
			csv_tokenize(c, *pos, end, r);
		}
		*pos = r->next;
		*got = true;
		return 0;
	}
	return 0;
}

/* A field's text, with doubled quotes undone into the arena. */
static const char *field(const csv_field *f, serve_arena *a, size_t *len)
{
	char *d;
	size_t n = 0;

	if (!(f->flags & F_ESCAPED)) {
		*len = f->len;
		return f->p;
	}
	if (!(d = serve_arena_alloc(a, f->len + 1)))
		return NULL;
	for (size_t i = 0; i < f->len; i++) {
		d[n++] = f->p[i];
		if (f->p[i] == '"')
			i++;
	}
	*len = n;
	return d;
}

int mlflow_parse_csv(const serve_sig *s, const char *body, size_t len, serve_arena *a,
		     serve_batch *out)
{
	csv_conf c;
	csv_row r;
	const char *pos = body, *end = body + len;
	long *map = NULL;
	size_t width, n = 0;
	bool got;
	int rc;

	memset(out, 0, sizeof *out);
	memset(&c, 0, sizeof c);
	memset(&r, 0, sizeof r);
	c.delim = ',';
	c.ncols = 2; /* empty lines are skipped */
	c.max_field = DS_DEFAULT_MAX_FIELD;
	c.special[(unsigned char)','] = c.special['"'] = c.special['\n'] = c.special['\r'] = true;
	if ((rc = csv_row_reserve(&r, 64)))
		return rc;
	/* Pass 1: the header and the number of records. */
	if ((rc = next_row(&c, &pos, end, &r, &got)))
		goto out;
	if (!got) {
		rc = sl__err(SL_EINVAL, "the CSV body is empty (a header row naming the columns "
					"is expected)");
		goto out;
	}
	if (r.err_pos || r.fatal) {
		rc = sl__err(SL_EPARSE, "CSV header: %s", r.err);
		goto out;
	}
	width = r.n;
	if (!(map = serve_arena_alloc(a, (width + 1) * sizeof *map))) {
		rc = sl__oom();
		goto out;
	}
	{
		size_t *seen = serve_arena_calloc(a, (s->n_in + 1) * sizeof *seen);
		if (!seen) {
			rc = sl__oom();
			goto out;
		}
		for (size_t f = 0; f < width; f++) {
			size_t flen;
			const char *name = field(&r.f[f], a, &flen);
			if (!name) {
				rc = sl__oom();
				goto out;
			}
			map[f] = serve_sig_find(s, name, flen);
			if (map[f] >= 0 && seen[map[f]]++) {
				rc = sl__err(SL_EINVAL, "CSV header: column '%s' is given twice",
					     s->in_names[map[f]]);
				goto out;
			}
		}
		for (size_t j = 0; j < s->n_in; j++)
			if (!seen[j]) {
				rc = missing_column(s, "CSV header", j);
				goto out;
			}
	}
	{
		const char *p2 = pos;
		for (;;) {
			if ((rc = next_row(&c, &p2, end, &r, &got)))
				goto out;
			if (!got)
				break;
			n++;
		}
	}
	if ((rc = alloc_batch(s, n, false, false, body, 0, a, out)))
		goto out;
	/* Pass 2: the values, typed by parsing each as its column's type. */
	for (size_t i = 0; i < n; i++) {
		if ((rc = next_row(&c, &pos, end, &r, &got)))
			goto out;
		if (r.err_pos || r.fatal) {
			rc = sl__err(SL_EPARSE, "CSV record %zu: %s", i + 1, r.err);
			goto out;
		}
		if (r.n != width) {
			rc = sl__err(SL_EINVAL, "CSV record %zu has %zu fields, the header %zu", i + 1,
				     r.n, width);
			goto out;
		}
		for (size_t f = 0; f < width; f++) {
			bundle_scalar sc = {.kind = BV_TEXT};
			if (map[f] < 0)
				continue;
			if (!(sc.s = field(&r.f[f], a, &sc.len))) {
				rc = sl__oom();
				goto out;
			}
			/* A quoted field is text as written, never a null marker. */
			if ((r.f[f].flags & F_QUOTED) && s->in_types[map[f]] == DS_STRING)
				sc.kind = BV_STRING;
			if (bundle_coerce(s->in_types[map[f]], &sc, &out->v[i * out->k + (size_t)map[f]])) {
				rc = sl__err_prefix(SL_EINVAL, "CSV record %zu, column '%s'", i + 1,
						    s->in_names[map[f]]);
				goto out;
			}
		}
	}
out:
	sl__free(r.f);
	return rc;
}

/* ---- the response ---------------------------------------------------------------------------- */

int mlflow_encode(const serve_sig *s, serve_result *res, serve_arena *a, sl__buf *out)
{
	const serve_output *o = &s->outs[0];
	int rc = serve_lit(out, "{\"predictions\":[");

	for (size_t i = 0; !rc && i < res->n; i++) {
		if (i)
			rc = serve_lit(out, ",");
		if (rc)
			break;
		if (o->kind == SO_LABEL) {
			rc = serve_put(out, s->class_json[res->label[i]], s->class_json_len[res->label[i]]);
		} else if (!strcmp(o->datatype, "INT64")) {
			double x = res->out[i * s->k + o->col];
			rc = isfinite(x) ? serve_put_u64(out, (uint64_t)(x != 0)) : serve_lit(out, "null");
		} else {
			rc = serve_put_out(out, res, i, o->col, a);
		}
	}
	return rc ? rc : serve_lit(out, "]}");
}
