/*
 * Open Inference Protocol (KServe V2) REST: the inference request and
 * response (codec.h). The request
 *
 *   {"id": "42", "parameters": {"explain": true},
 *    "inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1.5, 2]},
 *               {"name": "c", "shape": [2, 1], "datatype": "BYTES", "data": [["a"], ["b"]]}],
 *    "outputs": [{"name": "predict_proba"}]}
 *
 * carries either one input per raw column of the model (shape [n] or
 * [n, 1]), or a single input of shape [n, k] whose k columns follow the
 * model's inputs in order. Members may come in any order, so each input
 * object is read in two passes: its members first (the position of "data"
 * noted, its end found by its brackets alone), then its data, checked and
 * converted, once name, shape and datatype say how to read it. The common
 * request, one [n, k] numeric tensor whose data comes after its name,
 * shape and datatype, has its data read in the first pass instead
 * (read_matrix_now), and layout() keeps it when it would have read it so.
 * The data may be nested as the shape says or flat (the protocol allows
 * both); either way there must be exactly as many values as the shape.
 * A forecaster (serve_sig.fc_h >= 0) takes its key columns only, or no
 * input, and parameters.horizon; forecast.c expands and answers it.
 */
#include <math.h>
#include <string.h>

#include "serve/codec.h"

typedef enum dtkind { DT_BOOL, DT_UINT, DT_INT, DT_FP, DT_BYTES } dtkind;

#define MAX_RANK 8

typedef struct v2_input {
	const char *name; /* decoded */
	size_t name_len;
	uint64_t shape[MAX_RANK];
	int rank;         /* -1 when absent */
	const char *dt;   /* decoded datatype */
	size_t dt_len;
	dtkind kind;
	const char *data; /* where the data value starts, or NULL */
	bool read;        /* its data read in the first pass (read_matrix_now) */
} v2_input;

/* The request being read, for read_matrix_now (layout()'s work, early). */
typedef struct v2_ctx {
	const serve_sig *s;
	const char *body;
	size_t len;
	serve_arena *a;
	v2_request *out;
} v2_ctx;

static bool read_matrix_now(const v2_ctx *x, jscan *js, size_t idx, v2_input *in);

static int malformed(const jscan *js)
{
	char where[64];

	return sl__err(SL_EPARSE, "malformed JSON at %s: %s", jscan_where(js, where, sizeof where),
		       js->err);
}

static bool dt_parse(const char *s, size_t n, dtkind *out)
{
	static const struct {
		const char *name;
		dtkind kind;
	} types[] = {
		/* The common ones first. */
		{"FP64", DT_FP},     {"FP32", DT_FP},    {"INT64", DT_INT},   {"BYTES", DT_BYTES},
		{"BOOL", DT_BOOL},   {"UINT8", DT_UINT}, {"UINT16", DT_UINT}, {"UINT32", DT_UINT},
		{"UINT64", DT_UINT}, {"INT8", DT_INT},   {"INT16", DT_INT},   {"INT32", DT_INT},
		{"FP16", DT_FP},
	};
	for (size_t i = 0; i < SL__ARRAY_LEN(types); i++)
		if (strlen(types[i].name) == n && !memcmp(types[i].name, s, n)) {
			*out = types[i].kind;
			return true;
		}
	return false;
}

/* Can a tensor of this datatype carry a column of type t? */
static bool dt_fits(dtkind k, ds_type t)
{
	switch (t) {
	case DS_FLOAT64:
	case DS_INT64:
		return k == DT_UINT || k == DT_INT || k == DT_FP;
	case DS_BOOL:
		return k == DT_BOOL;
	default:
		return k == DT_BYTES;
	}
}

static const char *type_word(ds_type t)
{
	return t == DS_TIMESTAMP ? "BYTES (an ISO 8601 time stamp)" : serve_v2_datatype(t);
}

/* A decoded copy of a string value in the arena. */
static const char *decoded(const jval *v, serve_arena *a, size_t *len)
{
	char *d;

	if (!v->esc) {
		*len = v->len;
		return v->s;
	}
	if (!(d = serve_arena_alloc(a, v->len + 1)))
		return NULL;
	*len = jscan_unescape(v, d);
	return d;
}

static int read_input(jscan *js, size_t idx, const v2_ctx *x, v2_input *in)
{
	serve_arena *a = x->a;
	bool first = true;
	jval k, v;
	int r;

	memset(in, 0, sizeof *in);
	in->rank = -1;
	if (jscan_value(js, &v) != J_OBJ) {
		if (js->err)
			return malformed(js);
		return sl__err(SL_EINVAL, "inputs[%zu] must be an object", idx);
	}
	while ((r = jscan_key(js, &first, &k)) > 0) {
		if (jscan_eq(&k, "name") || jscan_eq(&k, "datatype")) {
			bool is_name = jscan_eq(&k, "name");
			const char *s;
			size_t n;
			/* Given (again) after the data: it is read in the second pass. */
			in->read = false;
			if (jscan_value(js, &v) != J_STR) {
				if (js->err)
					return malformed(js);
				return sl__err(SL_EINVAL, "inputs[%zu].%s must be a string", idx,
					       is_name ? "name" : "datatype");
			}
			if (!(s = decoded(&v, a, &n)))
				return sl__oom();
			if (is_name) {
				in->name = s;
				in->name_len = n;
			} else {
				in->dt = s;
				in->dt_len = n;
			}
		} else if (jscan_eq(&k, "shape")) {
			bool f2 = true;
			in->rank = 0;
			in->read = false;
			if (jscan_value(js, &v) != J_ARR) {
				if (js->err)
					return malformed(js);
				return sl__err(SL_EINVAL, "inputs[%zu].shape must be an array", idx);
			}
			for (;;) {
				/* Plain numbers (nearly every shape) read inline. */
				const char *at, *q = jscan_next_plain(js, f2, &at, &v.num);
				if (q) {
					js->p = q;
					f2 = false;
				} else if ((r = jscan_next_num(js, &f2, &v)) <= 0) {
					break;
				} else if (r == 2) {
					v.num = -1; /* not a number: an error below */
					jscan_value(js, &v);
				}
				if (v.num < 0 || v.num != floor(v.num) || v.num > 4e18) {
					if (js->err)
						return malformed(js);
					return sl__err(SL_EINVAL,
						       "inputs[%zu].shape must hold non-negative integers",
						       idx);
				}
				if (in->rank == MAX_RANK)
					return sl__err(SL_EINVAL, "inputs[%zu].shape has more than %d dimensions",
						       idx, MAX_RANK);
				in->shape[in->rank++] = (uint64_t)v.num;
			}
			if (r < 0)
				return malformed(js);
		} else if (jscan_eq(&k, "data")) {
			while (js->p < js->end && (*js->p == ' ' || *js->p == '\n' || *js->p == '\r' ||
						   *js->p == '\t'))
				js->p++;
			in->data = js->p;
			if ((in->read = read_matrix_now(x, js, idx, in)))
				continue;
			/* Found by its brackets only: layout() reads it, checking
			 * it then, and v2_parse checks it when layout() does not. */
			if (jscan_skip_brackets(js))
				return malformed(js);
		} else if (jscan_skip(js)) {
			return malformed(js);
		}
	}
	if (r < 0)
		return malformed(js);
	if (!in->name)
		return sl__err(SL_EINVAL, "inputs[%zu] has no \"name\"", idx);
	if (in->rank < 0)
		return sl__err(SL_EINVAL, "inputs[%zu] '%.*s' has no \"shape\"", idx,
			       (int)in->name_len, in->name);
	if (!in->dt)
		return sl__err(SL_EINVAL, "inputs[%zu] '%.*s' has no \"datatype\"", idx,
			       (int)in->name_len, in->name);
	/* One read in the first pass has its kind (and no other datatype). */
	if (!in->read && !dt_parse(in->dt, in->dt_len, &in->kind))
		return sl__err(SL_EINVAL,
			       "inputs[%zu] '%.*s': unknown datatype '%.*s' (BOOL, INT8..INT64, "
			       "UINT8..UINT64, FP16, FP32, FP64 or BYTES)",
			       idx, (int)in->name_len, in->name, (int)in->dt_len, in->dt);
	if (!in->data)
		return sl__err(SL_EINVAL, "inputs[%zu] '%.*s' has no \"data\"", idx,
			       (int)in->name_len, in->name);
	return 0;
}

/* Where the values of one input go. */
typedef struct fill {
	serve_batch *b;
	const serve_sig *s;
	serve_arena *a;
	const v2_input *in;
	size_t idx;   /* position in inputs[] */
	long col;     /* the column (per-column layout), or -1: [n, k] */
	size_t total; /* values the shape promises */
	size_t count; /* values seen */
	size_t row, cell; /* where the next value goes (cell: its column in [n, k]) */
	bool plain;   /* a float tensor: plain_run reads its numbers */
} fill;

static int value(jscan *js, fill *f, const jval *v)
{
	size_t i, j;

	if (f->count == f->total)
		return sl__err(SL_EINVAL, "inputs[%zu] '%.*s': data holds more than the %zu values of its shape",
			       f->idx, (int)f->in->name_len, f->in->name, f->total);
	i = f->row;
	j = f->col >= 0 ? (size_t)f->col : f->cell;
	/* Integer tensors hold integers. */
	if (v->t == J_NUM && (f->in->kind == DT_INT || f->in->kind == DT_UINT) &&
	    (v->num != floor(v->num) || (f->in->kind == DT_UINT && v->num < 0)))
		return sl__err(SL_EINVAL, "inputs[%zu] '%.*s': %.*s in a %.*s tensor", f->idx,
			       (int)f->in->name_len, f->in->name, (int)v->len, v->s,
			       (int)f->in->dt_len, f->in->dt);
	if (serve_batch_set(f->b, f->s, i, j, v, f->a)) {
		if (f->col >= 0)
			return sl__err_prefix(SL_EINVAL, "inputs[%zu] '%.*s', row %zu", f->idx,
					      (int)f->in->name_len, f->in->name, i);
		return sl__err_prefix(SL_EINVAL, "inputs[%zu] '%.*s', row %zu, column '%s'", f->idx,
				      (int)f->in->name_len, f->in->name, i, f->s->in_names[j]);
	}
	(void)js;
	f->count++;
	if (f->col >= 0 || ++f->cell == f->b->k) {
		f->cell = 0;
		f->row++;
	}
	return 0;
}

/* White space from p (rare between numbers): out of line, so that the
 * loops below keep their registers for the numbers. */
static __attribute__((noinline, cold)) const char *ws_skip(const char *p, const char *end)
{
	while (p < end && jscan__ws(*p))
		p++;
	return p;
}

/* Where plain_cells reads: the text up to end, at p, its bytes readable
 * while p <= lim, an offset in the body an address less org. */
typedef struct window {
	const char *p, *end;
	uintptr_t lim, org;
} window;

/* The text's last bytes from p, copied into tail (2 * JSCAN__PLAIN_READ
 * bytes) with zeros after them, for the reader to read ahead. */
static __attribute__((noinline, cold)) window tail_window(const char *p, const char *end,
							    const char *src, char *tail)
{
	size_t len = (size_t)(end - p);
	window w;

	memset(tail, 0, 2 * JSCAN__PLAIN_READ);
	memcpy(tail, p, len);
	w.p = tail;
	w.end = tail + len;
	w.lim = (uintptr_t)tail + JSCAN__PLAIN_READ;
	w.org = (uintptr_t)tail - (uintptr_t)(p - src);
	return w;
}

/* The cells a run of plain numbers goes into (plain_cells). */
typedef struct cells {
	expr_value *cell, *stop; /* the next cell; where the row or the run ends */
	uint32_t *span;          /* the next cell's span */
	const ds_type *t;        /* its column's type */
	const ds_type *types;    /* the columns' types */
	size_t k, left;          /* columns; values after the row's (matrix) */
} cells;

/* Past the cell just stored: false when the run has no more cells. */
static inline __attribute__((always_inline)) bool next_cell(cells *c, const bool matrix)
{
	const size_t step = matrix ? 1 : c->k;
	size_t n;

	c->span += 2 * step;
	if (matrix)
		c->t++;
	if ((c->cell += step) != c->stop)
		return true;
	if (!matrix || !c->left)
		return false;
	/* The next row, from its first column. */
	c->t = c->types;
	n = c->k < c->left ? c->k : c->left;
	c->stop = c->cell + n;
	c->left -= n;
	return true;
}

/*
 * A run of plain numbers into float and integer cells, stored as value()
 * stores them (an integer cell takes an integral number): the common data
 * of a numeric model, read without a call or a jval per value. Stops
 * before anything else (the end of the array, another kind of value or
 * number, a cell of another type, the shape's last value), which walk()
 * then reads and checks.
 *
 * The reader reads ahead of a number (jscan__num): the body's last bytes
 * are read from a zero-padded copy of them, made once (tail_window).
 *
 * matrix is a constant where this is inlined (plain_run), so that each
 * loop keeps no more than it needs in registers: a matrix row's cells are
 * next to each other, of the columns' types in turn, and are read a row at
 * a time up to stop (the row's end or the shape's last value); a column's
 * are a row apart, all of one type, and stop at the shape's last.
 */
static inline __attribute__((always_inline)) void plain_cells(jscan *js, bool *first, fill *f,
							      const bool matrix)
{
	serve_batch *b = f->b;
	const size_t k = b->k, step = matrix ? 1 : k;
	const size_t j0 = matrix ? f->cell : (size_t)f->col, c0 = f->row * k + j0;
	expr_value *const cell0 = b->v + c0;
	cells c = {cell0, NULL, b->span + 2 * c0, f->s->in_types + j0, f->s->in_types, k,
		   f->total - f->count};
	char tail[2 * JSCAN__PLAIN_READ];
	const char *src = b->src;
	window w = {js->p, js->end, (uintptr_t)js->end - JSCAN__PLAIN_READ, (uintptr_t)src};
	bool more = true;
	size_t n;

	/* Nested data's outer level: an array comes first, no number. */
	if (js->err || !c.left || (*first && w.p < w.end && *w.p == '['))
		return;
	if (!*first) {
		w.p = ws_skip(w.p, w.end);
		if (w.p == w.end || *w.p != ',')
			return;
		w.p++;
	}
	if (matrix) {
		n = k - j0 < c.left ? k - j0 : c.left;
		c.stop = c.cell + n;
		c.left -= n;
	} else {
		c.stop = c.cell + c.left * k;
	}
	/* w.p is at a number, or white space before it. */
	while (more) {
		jscan_plain r;
		if (__builtin_expect((uintptr_t)w.p > w.lim, 0)) {
			if (w.end != js->end)
				break; /* not reached: the copy has room after its text */
			w = tail_window(w.p, w.end, src, tail);
		}
		if (!(r = jscan__num(w.p)).q) {
			/* White space before a number: past it, and again. */
			if (!jscan__ws(*w.p))
				break;
			w.p = ws_skip(w.p, w.end);
			continue;
		}
		if (__builtin_expect(*c.t == DS_FLOAT64, 1)) {
			*c.cell = (expr_value){.f = r.d};
		} else {
			/* Integral and below 10^15: exact, as bundle_coerce reads
			 * it. A longer one (plain numbers have up to 19 digits,
			 * rounded) is left to value(), which reads its text. */
			int64_t i;
			if (*c.t != DS_INT64 || !(r.d > -1e15 && r.d < 1e15))
				break;
			i = (int64_t)r.d;
			if ((double)i != r.d)
				break;
			*c.cell = (expr_value){.i = i};
		}
		c.span[0] = (uint32_t)((uintptr_t)w.p - w.org);
		c.span[1] = (uint32_t)(r.q - w.p);
		if (!next_cell(&c, matrix))
			break;
		/*
		 * What follows is nearly always a short number after ", " into a
		 * float cell: read here, where nothing is called, so that the
		 * loop's pointers stay in registers (a call would have them
		 * saved around it). Anything else goes round the loop above.
		 */
		for (;;) {
			const char *p;
			if (__builtin_expect(*r.q != ',', 0)) {
				w.p = ws_skip(r.q, w.end);
				if (w.p == w.end || *w.p != ',')
					more = false;
				else
					w.p++;
				break;
			}
			/* ", " as most writers put it, without a loop. */
			w.p = p = r.q + 1 + (r.q[1] == ' ');
			if ((uintptr_t)p > w.lim || *c.t != DS_FLOAT64 || !(r = jscan__short(p)).q)
				break;
			*c.cell = (expr_value){.f = r.d};
			c.span[0] = (uint32_t)((uintptr_t)p - w.org);
			c.span[1] = (uint32_t)(r.q - p);
			if (!next_cell(&c, matrix)) {
				more = false;
				break;
			}
		}
	}
	if (c.cell == cell0)
		return;
	n = (size_t)(c.cell - cell0) / step;
	/* Given back after the last number: its span says where. */
	c.span -= 2 * step;
	js->p = src + c.span[0] + c.span[1];
	*first = false;
	f->count += n;
	if (matrix) {
		f->row = (c0 + n) / k;
		f->cell = (c0 + n) % k;
	} else {
		f->row += n;
	}
}

static void plain_run(jscan *js, bool *first, fill *f)
{
	if (f->col < 0)
		plain_cells(js, first, f, true);
	else
		plain_cells(js, first, f, false);
}

/* The values of a data array, nested at most depth levels. */
static int walk(jscan *js, fill *f, int depth)
{
	bool first = true;
	jval v;
	int r;

	for (;;) {
		if (f->plain)
			plain_run(js, &first, f);
		if ((r = jscan_next_num(js, &first, &v)) <= 0)
			break;
		jtok t = r == 1 ? J_NUM : jscan_value(js, &v);
		if (t == J_ERR)
			return malformed(js);
		if (t == J_ARR) {
			if (depth <= 1)
				return sl__err(SL_EINVAL, "inputs[%zu] '%.*s': data nested deeper than its shape",
					       f->idx, (int)f->in->name_len, f->in->name);
			if ((r = walk(js, f, depth - 1)))
				return r;
		} else if (t == J_OBJ) {
			return sl__err(SL_EINVAL, "inputs[%zu] '%.*s': data holds an object",
				       f->idx, (int)f->in->name_len, f->in->name);
		} else if ((r = value(js, f, &v))) {
			return r;
		}
	}
	return r < 0 ? malformed(js) : 0;
}

static int read_data(fill *f, const char *body, size_t len)
{
	jscan js;
	jval v;
	int rc;

	jscan_init(&js, body, len);
	js.p = f->in->data;
	if (jscan_value(&js, &v) != J_ARR) {
		if (js.err)
			return malformed(&js);
		return sl__err(SL_EINVAL, "inputs[%zu] '%.*s': data must be an array", f->idx,
			       (int)f->in->name_len, f->in->name);
	}
	if ((rc = walk(&js, f, f->in->rank > 0 ? f->in->rank : 1)))
		return rc;
	if (f->count != f->total)
		return sl__err(SL_EINVAL, "inputs[%zu] '%.*s': data holds %zu values, its shape %zu",
			       f->idx, (int)f->in->name_len, f->in->name, f->count, f->total);
	return 0;
}

/*
 * The common request, a single [n, k] tensor holding every column with its
 * data after its name, shape and datatype, read in the first pass: the data
 * is then read once, not skipped by its brackets and read again (about a
 * tenth of a one-row request's reading). True when it was: js is past the
 * data, out->batch holds it as layout() would have it, and layout() checks
 * what it checks and keeps it (nin 1, no column of that name) or fails.
 * False, js untouched, when this is not that request (as far as the first
 * pass can tell) or the data is not all right: then the two passes read it
 * as ever, and report what they report.
 */
static bool read_matrix_now(const v2_ctx *x, jscan *js, size_t idx, v2_input *in)
{
	const serve_sig *s = x->s;
	serve_batch *b = &x->out->batch;
	dtkind kind;
	size_t n;
	jscan js2;
	jval v;
	fill f;

	if (idx != 0 || s->fc_h >= 0 || !s->all_numeric || !in->name || !in->dt ||
	    in->rank != 2 || in->shape[1] != s->n_in || !s->n_in ||
	    !dt_parse(in->dt, in->dt_len, &kind) || (kind != DT_FP && kind != DT_INT && kind != DT_UINT) ||
	    serve_sig_find(s, in->name, in->name_len) >= 0)
		return false;
	n = in->shape[0];
	/* As layout() sizes it, after the same check. */
	if (n > x->len / 2 / s->n_in + 1)
		return false;
	b->n = n;
	b->k = s->n_in;
	b->src = x->body;
	b->src_len = x->len;
	b->v = serve_arena_alloc(x->a, (n * b->k + 1) * sizeof *b->v);
	b->span = serve_arena_alloc(x->a, (2 * n * b->k + 1) * sizeof *b->span);
	if (!b->v || !b->span)
		return false;
	in->kind = kind;
	f = (fill){.b = b, .s = s, .a = x->a, .in = in, .idx = idx, .col = -1,
		   .total = n * b->k, .plain = kind == DT_FP};
	js2 = *js;
	if (jscan_value(&js2, &v) != J_ARR || walk(&js2, &f, 2) || f.count != f.total)
		return false;
	js->p = js2.p;
	return true;
}

static int read_outputs(jscan *js, const serve_sig *s, v2_request *out)
{
	bool first = true;
	size_t idx = 0;
	jval v, k;
	int r;

	out->want = 0;
	if (jscan_value(js, &v) != J_ARR) {
		if (js->err)
			return malformed(js);
		return sl__err(SL_EINVAL, "\"outputs\" must be an array");
	}
	while ((r = jscan_more(js, &first)) > 0) {
		bool f2 = true, named = false;
		if (jscan_value(js, &v) != J_OBJ) {
			if (js->err)
				return malformed(js);
			return sl__err(SL_EINVAL, "outputs[%zu] must be an object", idx);
		}
		while ((r = jscan_key(js, &f2, &k)) > 0) {
			size_t i;
			if (!jscan_eq(&k, "name")) {
				if (jscan_skip(js))
					return malformed(js);
				continue;
			}
			if (jscan_value(js, &v) != J_STR) {
				if (js->err)
					return malformed(js);
				return sl__err(SL_EINVAL, "outputs[%zu].name must be a string", idx);
			}
			named = true;
			for (i = 0; i < s->n_outs; i++)
				if (jscan_eq(&v, s->outs[i].name))
					break;
			if (i < s->n_outs) {
				out->want |= 1u << i;
			} else if (jscan_eq(&v, "contributions") && s->groups) {
				out->want |= 1u << SERVE_MAX_OUTPUTS;
				out->explain = true;
			} else {
				sl__buf names;
				sl__buf_init(&names, 4096);
				for (i = 0; i < s->n_outs; i++)
					sl__buf_printf(&names, "%s%s", i ? ", " : "", s->outs[i].name);
				if (s->groups)
					sl__buf_puts(&names, ", contributions");
				r = sl__err(SL_EINVAL, "outputs[%zu]: the model has no output '%.*s' (it has %s)",
					    idx, (int)(v.len > 64 ? 64 : v.len), v.s,
					    names.data ? names.data : "");
				sl__buf_free(&names);
				return r;
			}
		}
		if (r < 0)
			return malformed(js);
		if (!named)
			return sl__err(SL_EINVAL, "outputs[%zu] has no \"name\"", idx);
		idx++;
	}
	return r < 0 ? malformed(js) : 0;
}

static int read_parameters(jscan *js, const serve_sig *s, v2_request *out)
{
	bool first = true;
	jval k, v;
	int r;

	if (jscan_value(js, &v) != J_OBJ) {
		if (js->err)
			return malformed(js);
		return sl__err(SL_EINVAL, "\"parameters\" must be an object");
	}
	while ((r = jscan_key(js, &first, &k)) > 0) {
		if (jscan_eq(&k, "horizon") && s->fc_h >= 0) {
			if (jscan_value(js, &v) != J_NUM || v.num < 1 || v.num != floor(v.num)) {
				if (js->err)
					return malformed(js);
				return sl__err(SL_EINVAL,
					       "parameters.horizon must be a whole number of steps "
					       "from 1 to the model's %zu",
					       s->fc.horizon);
			}
			out->horizon = v.num > 1e9 ? (size_t)1e9 : (size_t)v.num;
			continue;
		}
		if (!jscan_eq(&k, "explain")) {
			if (jscan_skip(js))
				return malformed(js);
			continue;
		}
		jscan_value(js, &v);
		if (v.t != J_TRUE && v.t != J_FALSE) {
			if (js->err)
				return malformed(js);
			return sl__err(SL_EINVAL, "parameters.explain must be true or false");
		}
		if (v.t == J_TRUE)
			out->explain = true;
	}
	return r < 0 ? malformed(js) : 0;
}

static int missing_input(const serve_sig *s, size_t j)
{
	return sl__err(SL_EINVAL,
		       "missing input '%s' (give one input per column of the model, or one input "
		       "of shape [n, %zu] with the columns in order)",
		       s->in_names[j], s->n_in);
}

static int layout(const serve_sig *s, const char *body, size_t len, v2_input *ins, size_t nin,
		  serve_arena *a, v2_request *out)
{
	serve_batch *b = &out->batch;
	long *col = serve_arena_alloc(a, (nin + 1) * sizeof *col);
	uint8_t *seen = serve_arena_calloc(a, s->n_in + 1);
	bool matrix = false;
	size_t n = 0;
	int rc;

	if (!col || !seen)
		return sl__oom();
	for (size_t i = 0; i < nin; i++) {
		/* One read in the first pass names no column (nor was renamed). */
		col[i] = ins[i].read ? -1 : serve_sig_find(s, ins[i].name, ins[i].name_len);
		if (s->fc_h >= 0 && col[i] == s->fc_h)
			return sl__err(SL_EINVAL,
				       "inputs[%zu] 'h': a forecaster is asked for its next "
				       "parameters.horizon steps (1..%zu, all when left out), not "
				       "for single steps",
				       i, s->fc.horizon);
	}
	/* A forecaster's inputs are its key columns only, one per column. */
	if (nin == 1 && col[0] < 0 && s->fc_h < 0) {
		matrix = true;
	} else {
		for (size_t i = 0; i < nin; i++) {
			if (col[i] >= 0)
				continue;
			if (s->fc_h >= 0)
				return sl__err(SL_EINVAL,
					       "inputs[%zu] '%.*s' is not a key column of the forecaster "
					       "(%s)",
					       i, (int)ins[i].name_len, ins[i].name,
					       s->fc.nby ? "send its key columns, one input each, as the "
							   "model's metadata lists them"
							 : "it forecasts one series: send no inputs");
			return sl__err(SL_EINVAL,
				       "inputs[%zu] '%.*s' is not an input of the model (give one input "
				       "per column: %s%s%s, ...; or one input of shape [n, %zu])",
				       i, (int)ins[i].name_len, ins[i].name, s->in_names[0],
				       s->n_in > 1 ? ", " : "", s->n_in > 1 ? s->in_names[1] : "",
				       s->n_in);
		}
	}
	if (matrix) {
		v2_input *in = &ins[0];
		bool mixed = s->any_text;
		/* A numeric tensor for numeric columns fits them all (dt_fits). */
		bool all_fit = s->all_numeric &&
			       (in->kind == DT_UINT || in->kind == DT_INT || in->kind == DT_FP);
		if (in->rank != 2 || in->shape[1] != s->n_in)
			return sl__err(SL_EINVAL,
				       "inputs[0] '%.*s' is not an input of the model; a single input "
				       "holding every column must have shape [n, %zu]",
				       (int)in->name_len, in->name, s->n_in);
		for (size_t j = 0; !all_fit && j < s->n_in; j++)
			if (!dt_fits(in->kind, s->in_types[j]) && !(mixed && in->kind == DT_BYTES))
				return sl__err(SL_EINVAL,
					       "inputs[0] '%.*s': datatype %.*s cannot carry column '%s' "
					       "(%s)%s",
					       (int)in->name_len, in->name, (int)in->dt_len, in->dt,
					       s->in_names[j], type_word(s->in_types[j]),
					       mixed ? "; send BYTES, or one input per column" : "");
		n = in->shape[0];
	} else {
		for (size_t i = 0; i < nin; i++) {
			v2_input *in = &ins[i];
			size_t j = (size_t)col[i];
			if (seen[j])
				return sl__err(SL_EINVAL, "inputs[%zu]: input '%s' is given twice", i,
					       s->in_names[j]);
			seen[j] = 1;
			if (in->rank < 1 || in->rank > 2 || (in->rank == 2 && in->shape[1] != 1))
				return sl__err(SL_EINVAL,
					       "inputs[%zu] '%s': shape must be [n] or [n, 1] (one column)",
					       i, s->in_names[j]);
			if (i > 0 && in->shape[0] != n)
				return sl__err(SL_EINVAL,
					       "inputs[%zu] '%s' has %llu rows, inputs[0] '%s' %zu", i,
					       s->in_names[j], (unsigned long long)in->shape[0],
					       s->in_names[col[0]], n);
			n = in->shape[0];
			if (!dt_fits(in->kind, s->in_types[j]))
				return sl__err(SL_EINVAL,
					       "inputs[%zu] '%s': datatype %.*s, but the model takes %s",
					       i, s->in_names[j], (int)in->dt_len, in->dt,
					       type_word(s->in_types[j]));
		}
		/* A column that decides nothing (an id, the training target the
		 * transform saw) may be left out, as `sluice predict` allows: it
		 * reads as missing. seen 2 marks it for the fill below. */
		for (size_t j = 0; j < s->n_in; j++) {
			if (seen[j])
				continue;
			if (bundle_input_needed(s->b, j) && (long)j != s->fc_h)
				return missing_input(s, j);
			seen[j] = 2;
		}
	}
	/* A forecaster of one series is asked with no input at all. */
	if (s->fc_h >= 0 && nin == 0)
		n = 1;
	/* Every value takes at least two bytes of the body ("0,"): a shape
	 * promising more cannot be honest, and must not size an allocation. */
	if (s->n_in && n > len / 2 / s->n_in + 1)
		return sl__err(SL_EINVAL, "the shape promises %zu rows, more than the body can hold", n);
	/* Read in the first pass, as the checks above have it. */
	if (matrix && ins[0].read)
		return 0;
	b->n = n;
	b->k = s->n_in;
	b->src = body;
	b->src_len = len;
	b->v = serve_arena_alloc(a, (n * b->k + 1) * sizeof *b->v);
	b->span = serve_arena_alloc(a, (2 * n * b->k + 1) * sizeof *b->span);
	if (!b->v || !b->span)
		return sl__oom();
	for (size_t j = 0; !matrix && j < s->n_in; j++) {
		if (seen[j] != 2)
			continue;
		bundle_scalar none = {.kind = BV_NULL};
		for (size_t i = 0; i < n; i++) {
			size_t c = i * b->k + j;
			if (bundle_coerce(s->in_types[j], &none, &b->v[c]))
				return SL_EINVAL;
			b->span[2 * c] = b->span[2 * c + 1] = 0;
		}
	}
	for (size_t i = 0; i < nin; i++) {
		fill f = {.b = b, .s = s, .a = a, .in = &ins[i], .idx = i,
			  .col = matrix ? -1 : col[i], .total = matrix ? n * b->k : n,
			  .plain = ins[i].kind == DT_FP};
		if ((rc = read_data(&f, body, len)))
			return rc;
	}
	return 0;
}

int v2_parse(const serve_sig *s, const char *body, size_t len, serve_arena *a, v2_request *out)
{
	v2_input *ins = NULL;
	size_t nin = 0, cap = 0;
	bool first = true, have_inputs = false;
	const v2_ctx x = {s, body, len, a, out};
	jscan js;
	jval k, v;
	int r;

	memset(out, 0, sizeof *out);
	out->want = (1u << s->n_outs) - 1;
	jscan_init(&js, body, len);
	if (jscan_value(&js, &v) != J_OBJ) {
		if (js.err)
			return malformed(&js);
		return sl__err(SL_EINVAL, "the request must be a JSON object");
	}
	while ((r = jscan_key(&js, &first, &k)) > 0) {
		int rc = 0;
		if (jscan_eq(&k, "id")) {
			if (jscan_value(&js, &v) != J_STR) {
				if (js.err)
					return malformed(&js);
				return sl__err(SL_EINVAL, "\"id\" must be a string");
			}
			out->id = v.s - 1;
			out->id_len = v.len + 2;
		} else if (jscan_eq(&k, "parameters")) {
			rc = read_parameters(&js, s, out);
		} else if (jscan_eq(&k, "outputs")) {
			rc = read_outputs(&js, s, out);
		} else if (jscan_eq(&k, "inputs")) {
			bool f2 = true;
			have_inputs = true;
			if (jscan_value(&js, &v) != J_ARR) {
				if (js.err)
					return malformed(&js);
				return sl__err(SL_EINVAL, "\"inputs\" must be an array");
			}
			while ((r = jscan_more(&js, &f2)) > 0) {
				if (nin == cap) {
					size_t nc = cap ? cap * 2 : 16;
					v2_input *ni = serve_arena_alloc(a, nc * sizeof *ni);
					if (!ni)
						return sl__oom();
					if (nin)
						memcpy(ni, ins, nin * sizeof *ni);
					ins = ni;
					cap = nc;
				}
				if ((rc = read_input(&js, nin, &x, &ins[nin])))
					return rc;
				nin++;
			}
			if (r < 0)
				return malformed(&js);
		} else if (jscan_skip(&js)) {
			return malformed(&js);
		}
		if (rc)
			return rc;
	}
	if (r < 0 || jscan_end(&js))
		return malformed(&js);
	if ((!have_inputs || nin == 0) && s->fc_h < 0)
		return sl__err(SL_EINVAL, "the request has no \"inputs\"");
	if ((r = layout(s, body, len, ins, nin, a, out))) {
		/* A body that is not JSON says so first, as when every value
		 * was checked in the first pass. */
		for (size_t i = 0; i < nin && r != SL_ENOMEM; i++) {
			jscan_init(&js, body, len);
			js.p = ins[i].data;
			if (jscan_skip(&js))
				return malformed(&js);
		}
		return r;
	}
	return s->fc_h >= 0 ? serve_fc_expand(s, a, out) : 0;
}

/* ---- the response ---------------------------------------------------------------------- */

/* "shape":[n,d2,d3] (d2, d3 when not 0) and what follows it, in one piece. */
static int put_shape_then(sl__buf *b, size_t n, size_t d2, size_t d3, const char *then)
{
	char t[128], *p = t;
	const size_t dims[3] = {n, d2, d3};

	memcpy(p, "\"shape\":[", 9);
	p += 9;
	for (int i = 0; i < 3 && (i == 0 || dims[i]); i++) {
		char d[24], *e = d + sizeof d, *q = e;
		size_t v = dims[i];
		if (i)
			*p++ = ',';
		do {
			*--q = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		memcpy(p, q, (size_t)(e - q));
		p += e - q;
	}
	*p++ = ']';
	p = stpcpy(p, then);
	return serve_put(b, t, (size_t)(p - t));
}

static int put_shape(sl__buf *b, size_t n, size_t d2, size_t d3)
{
	return put_shape_then(b, n, d2, d3, "");
}

int v2_put_output_head(sl__buf *b, const serve_output *o)
{
	return serve_put(b, o->v2_head, o->v2_head_len);
}

static int put_output(sl__buf *b, const serve_sig *s, const serve_output *o, serve_result *res,
		      serve_arena *a)
{
	size_t n = res->n;
	int rc;

	/* One row, the usual request: the opening as built at load. */
	if (n == 1) {
		rc = serve_put(b, o->v2_head, o->v2_head1_len);
	} else {
		rc = v2_put_output_head(b, o);
		if (!rc)
			rc = put_shape_then(b, n, o->kind == SO_PROBA ? s->k : 0, 0, ",\"data\":[");
	}
	for (size_t i = 0; !rc && i < n; i++) {
		if (i)
			rc = serve_lit(b, ",");
		if (rc)
			break;
		switch (o->kind) {
		case SO_LABEL:
			rc = serve_put(b, s->class_json[res->label[i]], s->class_json_len[res->label[i]]);
			break;
		case SO_PROBA:
			for (size_t c = 0; !rc && c < s->k; c++) {
				if (c)
					rc = serve_lit(b, ",");
				if (!rc)
					rc = serve_put_out(b, res, i, c, a);
			}
			break;
		default:
			if (!strcmp(o->datatype, "INT64")) {
				double x = res->out[i * s->k + o->col];
				rc = isfinite(x) ? serve_put_u64(b, (uint64_t)(x != 0))
						 : serve_lit(b, "null");
			} else {
				rc = serve_put_out(b, res, i, o->col, a);
			}
			break;
		}
	}
	return rc ? rc : serve_lit(b, "]}");
}

static int put_contrib(sl__buf *b, const serve_sig *s, const serve_result *res)
{
	size_t w = s->p + 1, n = res->n * res->groups * w;
	int rc = serve_lit(b, "{\"name\":\"contributions\",\"datatype\":\"FP64\",");

	if (!rc)
		rc = res->groups > 1 ? put_shape(b, res->n, res->groups, w) : put_shape(b, res->n, w, 0);
	if (!rc)
		rc = serve_lit(b, ",\"parameters\":{\"features\":");
	if (!rc)
		rc = serve_put_jstr(b, s->features_param, strlen(s->features_param));
	if (!rc)
		rc = serve_lit(b, "},\"data\":[");
	for (size_t i = 0; !rc && i < n; i++) {
		if (i)
			rc = serve_lit(b, ",");
		if (!rc)
			rc = serve_put_f64(b, res->contrib[i]);
	}
	return rc ? rc : serve_lit(b, "]}");
}

static int put_id(sl__buf *out, const v2_request *req, const char *request_id)
{
	return req->id ? serve_put(out, req->id, req->id_len)
		       : serve_put_jstr(out, request_id, strlen(request_id));
}

int v2_put_response_head(sl__buf *out, const char *name, const char *version,
			 const v2_request *req, const char *request_id)
{
	int rc = serve_lit(out, "{\"model_name\":");

	if (!rc)
		rc = serve_put_jstr(out, name, strlen(name));
	if (!rc)
		rc = serve_lit(out, ",\"model_version\":");
	if (!rc)
		rc = serve_put_jstr(out, version, strlen(version));
	if (!rc)
		rc = serve_lit(out, ",\"id\":");
	return rc ? rc : put_id(out, req, request_id);
}

int v2_encode(const serve_sig *s, const char *name, const char *version, const v2_request *req,
	      const char *request_id, serve_result *res, serve_arena *a, sl__buf *out)
{
	bool first = true;
	int rc;

	if (s->fc_h >= 0)
		return serve_fc_encode(s, name, version, req, request_id, res, a, out);
	/* The head built at load for this name and version, else written now. */
	if (s->v2_head && name == s->v2_head_name && version == s->v2_head_version) {
		rc = serve_put(out, s->v2_head, s->v2_head_len);
		if (!rc)
			rc = put_id(out, req, request_id);
	} else {
		rc = v2_put_response_head(out, name, version, req, request_id);
	}
	if (!rc)
		rc = serve_lit(out, ",\"outputs\":[");
	for (size_t i = 0; !rc && i < s->n_outs; i++) {
		if (!(req->want & (1u << i)))
			continue;
		if (!first)
			rc = serve_lit(out, ",");
		first = false;
		if (!rc)
			rc = put_output(out, s, &s->outs[i], res, a);
	}
	if (!rc && res->contrib) {
		if (!first)
			rc = serve_lit(out, ",");
		if (!rc)
			rc = put_contrib(out, s, res);
	}
	return rc ? rc : serve_lit(out, "]}");
}
