/*
 * Decoding a window's answered requests (logrec.h): the writer's shape by
 * the pull scanner into one block, anything else by jansson.
 *
 *   {"id":"..","time":"..","model":"..","version":"..","endpoint":"..",
 *    "status":200,"latency_us":N,"rows":R,
 *    "inputs":[[v,..n_in],..R],"outputs":[[v,..n_out],..R]}
 *
 * The scan collects cells in the scratch (spans into the line), then one
 * allocation takes the struct, the cells, the outputs and the strings'
 * bytes. Where the scan meets something outside that shape it gives up
 * and the line goes through jansson and ilog_expand_with, as every line
 * did before: the result is the same either way (logrec.h, invariant 1),
 * which tests/unit/test_monitor_tail.c checks on random logs.
 */
#include <math.h>
#include <string.h>

#include "core.h"
#include "dataset/dataset.h"
#include "monitor/logrec.h"
#include "serve/jscan.h"
#include "serve/log.h"

void lrec_unref(lrec *r)
{
	if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	json_decref(r->json);
	json_decref(r->schema);
	sl__free(r);
}

void lrec_scratch_free(lrec_scratch *sc)
{
	sl__free(sc->v);
	sl__free(sc->o);
	json_decref(sc->schema);
	memset(sc, 0, sizeof *sc);
}

int64_t lrec_json_ms(const json_t *rec)
{
	const char *t = json_string_value(json_object_get(rec, "time"));
	int64_t us;

	if (!t || !ds_parse_timestamp(t, strlen(t), &us))
		return -1;
	return us / 1000;
}

lrec *lrec_from_json(json_t *rec)
{
	lrec *r = sl__calloc(1, sizeof *r);

	if (!r) {
		json_decref(rec);
		return NULL;
	}
	atomic_init(&r->refs, 1);
	r->json = rec;
	r->id = json_string_value(json_object_get(rec, "id"));
	r->t_ms = lrec_json_ms(rec);
	return r;
}

/* Distinct string names, as ilog_expand_with's columns need them to mean one thing each. */
static bool names_ok(const json_t *names, size_t *n)
{
	*n = json_array_size(names);
	if (!json_is_array(names))
		return false;
	for (size_t i = 0; i < *n; i++) {
		const char *a = json_string_value(json_array_get(names, i));
		if (!a)
			return false;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(a, json_string_value(json_array_get(names, j))))
				return false;
	}
	return true;
}

static bool schema_check(lrec_scratch *sc, json_t *schema)
{
	if (schema != sc->schema) {
		json_decref(sc->schema);
		/* Held, so that a new schema cannot take the old one's address. */
		sc->schema = json_incref(schema);
		sc->schema_ok = names_ok(json_object_get(schema, "inputs"), &sc->n_in) &&
				names_ok(json_object_get(schema, "outputs"), &sc->n_out);
	}
	return sc->schema_ok;
}

/* An integer's text (no fraction, no exponent) of at most 18 digits as jansson's json_integer reads it. */
static bool int_text(const jval *v, int64_t *out)
{
	const char *p = v->s, *end = v->s + v->len;
	bool neg = *p == '-';
	int64_t x = 0;

	p += neg;
	if (end - p > 18)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		x = x * 10 + (*p - '0');
	}
	*out = neg ? -x : x;
	return true;
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 256;
	void *g;

	if (need < 1)
		need = 1; /* never a null buffer to offset */
	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	if (!(g = sl__reallocarray(*p, c, size)))
		return false;
	*p = g;
	*cap = c;
	return true;
}

/* One row of n scalars into dst (cells) or od (doubles): 1 ok, 0 another shape, -1 out of memory. */
static int scan_row(jscan *s, size_t n, lrec_val *dst, double *od, size_t *str_bytes)
{
	bool first = true;
	size_t k = 0;
	jval v;
	int more;

	if (jscan_value(s, &v) != J_ARR)
		return 0;
	while ((more = jscan_more(s, &first)) > 0) {
		jtok t = jscan_value(s, &v);
		lrec_val c = {0};
		if (k == n || t == J_ERR || t == J_OBJ || t == J_ARR || (t == J_STR && v.esc))
			return 0;
		switch (t) {
		case J_STR:
			c.kind = LREC_STR;
			c.u.s = v.s;
			c.len = (uint32_t)v.len;
			if (v.len > UINT32_MAX)
				return 0;
			*str_bytes += v.len;
			break;
		case J_NUM:
			if (int_text(&v, &c.u.i)) {
				c.kind = LREC_INT;
			} else {
				/* jansson refuses a real that overflows: the line is skipped there. */
				bool has_frac = memchr(v.s, '.', v.len) || memchr(v.s, 'e', v.len) ||
						memchr(v.s, 'E', v.len);
				if (!has_frac || isinf(v.num))
					return 0;
				c.kind = LREC_REAL;
				c.u.f = v.num;
			}
			break;
		case J_TRUE:
			c.kind = LREC_TRUE;
			break;
		case J_FALSE:
			c.kind = LREC_FALSE;
			break;
		default:
			c.kind = LREC_NULL;
			break;
		}
		if (dst)
			dst[k] = c;
		else
			od[k] = c.kind == LREC_INT ? (double)c.u.i : c.kind == LREC_REAL ? c.u.f : NAN;
		k++;
	}
	return more == 0 && k == n;
}

/* The rows of "inputs" or "outputs" (n values each) into the scratch: their count, or -1 (another shape) / -2 (memory). */
static long scan_rows(jscan *s, lrec_scratch *sc, size_t n, bool inputs, size_t *str_bytes)
{
	bool first = true;
	size_t rows = 0;
	jval v;
	int more, r;

	if (jscan_value(s, &v) != J_ARR)
		return -1;
	while ((more = jscan_more(s, &first)) > 0) {
		bool ok = inputs ? grow((void **)&sc->v, &sc->cap_v, (rows + 1) * n, sizeof *sc->v)
				 : grow((void **)&sc->o, &sc->cap_o, (rows + 1) * n, sizeof *sc->o);
		if (!ok)
			return -2;
		r = inputs ? scan_row(s, n, sc->v + rows * n, NULL, str_bytes)
			   : scan_row(s, n, NULL, sc->o + rows * n, str_bytes);
		if (r <= 0)
			return -1;
		rows++;
	}
	return more == 0 ? (long)rows : -1;
}

enum { K_ID, K_TIME, K_MODEL, K_VERSION, K_ENDPOINT, K_STATUS, K_LATENCY, K_ROWS, K_INPUTS, K_OUTPUTS, K_N };
static const char *const keys[K_N] = {"id",	"time",	      "model", "version", "endpoint",
				      "status", "latency_us", "rows",  "inputs",  "outputs"};

/* The writer's shape into *out: 0 done, 1 another shape (the jansson path decides), or SL_ENOMEM. */
static int decode_fast(const char *line, size_t len, json_t *schema, lrec_scratch *sc, lrec **out)
{
	jscan s;
	jval k, v, id = {0}, tm = {0};
	bool first = true, seen[K_N] = {false};
	int64_t latency = 0, rows = -1;
	long in_rows = -1, out_rows = -1;
	size_t str_bytes = 0;
	int more;

	*out = NULL;
	if (!schema_check(sc, schema))
		return 1;
	jscan_init(&s, line, len);
	if (jscan_value(&s, &v) != J_OBJ)
		return 1;
	while ((more = jscan_key(&s, &first, &k)) > 0) {
		size_t which = 0;
		while (which < K_N && !jscan_eq(&k, keys[which]))
			which++;
		if (which == K_N || seen[which] || k.esc)
			return 1;
		seen[which] = true;
		if (which == K_INPUTS || which == K_OUTPUTS) {
			long n = scan_rows(&s, sc, which == K_INPUTS ? sc->n_in : sc->n_out, which == K_INPUTS,
					   &str_bytes);
			if (n == -2)
				return sl__oom();
			if (n < 0)
				return 1;
			*(which == K_INPUTS ? &in_rows : &out_rows) = n;
			continue;
		}
		jtok t = jscan_value(&s, &v);
		if (t == J_ERR || t == J_OBJ || t == J_ARR || (t == J_STR && v.esc) ||
		    (t == J_NUM && isinf(v.num)))
			return 1;
		if (which == K_ID) {
			if (t != J_STR)
				return 1;
			id = v;
		} else if (which == K_TIME) {
			if (t != J_STR)
				return 1;
			tm = v;
		} else if ((which == K_MODEL || which == K_VERSION) && t != J_STR) {
			return 1; /* ilog_expand_with needs both */
		} else if (which == K_LATENCY || which == K_ROWS) {
			int64_t x;
			if (t != J_NUM || !int_text(&v, &x))
				return 1;
			*(which == K_LATENCY ? &latency : &rows) = x;
		}
	}
	if (more < 0 || jscan_end(&s) || s.err || !seen[K_ID] || !seen[K_TIME] || !seen[K_MODEL] ||
	    !seen[K_VERSION] || rows < 0 ||
	    in_rows != rows || out_rows != rows)
		return 1;

	/* One block: the struct, cells, outputs, then the strings' bytes. */
	size_t n_cells = (size_t)rows * sc->n_in, n_outs = (size_t)rows * sc->n_out;
	size_t size = sizeof(lrec) + n_cells * sizeof(lrec_val) + n_outs * sizeof(double) + id.len + 1 +
		      str_bytes;
	lrec *r = sl__malloc(size);
	if (!r)
		return sl__oom();
	memset(r, 0, sizeof *r);
	lrec_val *cells = (lrec_val *)(r + 1);
	double *outs = (double *)(cells + n_cells);
	char *str = (char *)(outs + n_outs);
	atomic_init(&r->refs, 1);
	r->schema = json_incref(schema);
	r->rows = (size_t)rows;
	r->n_in = sc->n_in;
	r->n_out = sc->n_out;
	r->latency_us = latency;
	r->in = cells;
	r->out = outs;
	int64_t us;
	r->t_ms = !tm.esc && ds_parse_timestamp(tm.s, tm.len, &us) ? us / 1000 : -1;
	memcpy(str, id.s, id.len);
	str[id.len] = 0;
	r->id = str;
	str += id.len + 1;
	if (n_outs)
		memcpy(outs, sc->o, n_outs * sizeof *outs);
	for (size_t i = 0; i < n_cells; i++) {
		cells[i] = sc->v[i];
		if (cells[i].kind == LREC_STR) {
			memcpy(str, cells[i].u.s, cells[i].len);
			cells[i].u.s = str;
			str += cells[i].len;
		}
	}
	*out = r;
	return 0;
}

int lrec_decode(const char *line, size_t len, json_t *schema, lrec_scratch *sc, bool fast,
		lrec **out)
{
	json_t *rec;
	bool oom = false;
	int rc;

	*out = NULL;
	if (fast && (rc = decode_fast(line, len, schema, sc, out)) <= 0)
		return rc;
	if (!(rec = sl__json_loadb(line, len, 0, NULL, &oom)))
		return oom ? sl__oom() : 0;
	if (ilog_expand_with(schema, rec) || !json_is_object(json_object_get(rec, "inputs"))) {
		sl__err_clear();
		json_decref(rec);
		return 0;
	}
	return (*out = lrec_from_json(rec)) ? 0 : sl__oom();
}
