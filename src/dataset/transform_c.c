/*
 * A fitted transform's row path as C99 source (transform.h, "C emission"),
 * for `sluice models export --format c`: the same computations as kern()
 * and transform_apply_row() in transform.c, written out for one row.
 *
 * The emitted code works on two arrays that mirror the row workspace of
 * transform.c (note 4 there): double v[] and unsigned char z[], one entry
 * per slot, z set for a null. Raw input k is slot k; a P_PASS output
 * shares its input's slot; every other output has the slot compile_op()
 * gave it. Values are doubles: integers, bools (0/1) and timestamps
 * (microseconds) exactly up to 2^53; a string is a code into the
 * dictionary of the raw input it came from, -1 for a string that
 * dictionary does not hold.
 *
 * Invariants:
 *  1. A dictionary holds every string the transform (and the model, whose
 *     binding adds its own) can tell apart: encode's categories, impute's
 *     fills, the literals expressions compare with. Two strings outside it
 *     are treated alike by every operation here, so code -1 loses nothing.
 *  2. What needs the text itself (text, hashing a string, casts to or
 *     from string, string functions) or other rows (lag, rolling) has no
 *     C form: emission fails with SL_EUNSUP naming the op, never emits an
 *     approximation.
 *  3. Tables that index by dictionary code are written last
 *     (transform_c_tables), when the dictionaries are complete.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "dataset/transform.h"
#include "dataset/transform_int.h"

#define H_DATE 1u  /* sx_date_part */
#define H_HASH 2u  /* sx_fnv_int */

/* A table indexed by one dictionary's codes, written when the dictionaries are complete. */
typedef struct deferred {
	int id;            /* the table is sx_tf<id> */
	int dict;
	const prod *p;     /* its categories map each code */
} deferred;

struct transform_c {
	const transform *tr;
	strmap *dicts;      /* per raw input; used for string inputs */
	int *slot_dict;     /* per slot: the dictionary of a string value, or -1 */
	size_t *out_slot;   /* per output column of the transform */
	deferred *defer;
	size_t n_defer;
	sl__cw tab;         /* tables known at emission */
	unsigned helpers;   /* H_* */
	unsigned expr_needs; /* EXPR_C_* */
	int next_id;
};

int transform_c_new(const transform *tr, transform_c **out)
{
	transform_c *c = sl__calloc(1, sizeof *c);
	size_t nin = tr->in.n;

	*out = NULL;
	if (!c)
		return sl__oom();
	c->tr = tr;
	c->dicts = sl__calloc(nin + 1, sizeof *c->dicts);
	c->slot_dict = sl__malloc((tr->nslots + 1) * sizeof *c->slot_dict);
	c->out_slot = sl__calloc(transform_n_outputs(tr) + 1, sizeof *c->out_slot);
	if (!c->dicts || !c->slot_dict || !c->out_slot) {
		sl__free(c->dicts);
		sl__free(c->slot_dict);
		sl__free(c->out_slot);
		sl__free(c);
		return sl__oom();
	}
	for (size_t k = 0; k < nin; k++)
		tf_strmap_init(&c->dicts[k]);
	for (size_t s = 0; s < tr->nslots; s++)
		c->slot_dict[s] = s < nin && tr->in.c[s].type == DS_STRING ? (int)s : -1;
	sl__cw_init(&c->tab);
	*out = c;
	return 0;
}

void transform_c_free(transform_c *c)
{
	if (!c)
		return;
	for (size_t k = 0; k < c->tr->in.n; k++)
		tf_strmap_free(&c->dicts[k]);
	sl__free(c->dicts);
	sl__free(c->slot_dict);
	sl__free(c->out_slot);
	sl__free(c->defer);
	sl__cw_free(&c->tab);
	sl__free(c);
}

long transform_c_code(transform_c *c, int dict, const char *s, size_t len)
{
	size_t k;

	if (dict < 0 || (size_t)dict >= c->tr->in.n)
		return -1;
	if (tf_strmap_add(&c->dicts[dict], s, len, &k))
		return -1;
	return (long)k;
}

static long code_cb(void *arg, int dict, const char *s, size_t len)
{
	return transform_c_code(arg, dict, s, len);
}

size_t transform_c_dict_size(const transform_c *c, int dict)
{
	return dict >= 0 && (size_t)dict < c->tr->in.n ? c->dicts[dict].n : 0;
}

const char *transform_c_dict_str(const transform_c *c, int dict, size_t i, size_t *len)
{
	*len = c->dicts[dict].len[i];
	return tf_strmap_key(&c->dicts[dict], i);
}

size_t transform_c_n_slots(const transform_c *c)
{
	return c->tr->nslots;
}

size_t transform_c_out_slot(const transform_c *c, size_t k)
{
	return c->out_slot[k];
}

int transform_c_out_dict(const transform_c *c, size_t k)
{
	return c->slot_dict[c->out_slot[k]];
}

/* ---- one producer --------------------------------------------------------------- */

static int unsup(const op *o, const char *what)
{
	return sl__err(SL_EUNSUP, "%s: %s has no C form: %s", o->where, what,
		       "model_predict takes numbers, and strings as dictionary codes");
}

/* Index of a category by the text of a value of an int64 or bool column (tf_cat_key). */
static int emit_lookup_keys(transform_c *c, const prod *p, int id)
{
	int64_t *idx = sl__malloc((p->cats.n + 1) * sizeof *idx);
	double *keys = sl__malloc((p->cats.n + 1) * sizeof *keys);
	size_t n = 0;
	char name[64];

	if (!idx || !keys) {
		sl__free(idx);
		sl__free(keys);
		return sl__oom();
	}
	for (size_t k = 0; k < p->cats.n; k++) {
		const char *s = tf_strmap_key(&p->cats, k);
		size_t len = p->cats.len[k];
		int64_t v;
		char buf[32];
		/* Only a category written as tf_cat_key writes a value can match one. */
		if (p->itype == DS_BOOL) {
			if ((len == 4 && !memcmp(s, "true", 4)) || (len == 5 && !memcmp(s, "false", 5))) {
				keys[n] = len == 4;
				idx[n++] = (int64_t)k;
			}
		} else if (ds_parse_i64(s, len, &v) &&
			   (size_t)snprintf(buf, sizeof buf, "%lld", (long long)v) == len &&
			   !memcmp(buf, s, len)) {
			keys[n] = (double)v;
			idx[n++] = (int64_t)k;
		}
	}
	snprintf(name, sizeof name, "static const double sx_tf%d_key[]", id);
	sl__cw_doubles(&c->tab, name, keys, n);
	snprintf(name, sizeof name, "static const int sx_tf%d_idx[]", id);
	sl__cw_ints(&c->tab, name, idx, n);
	sl__free(idx);
	sl__free(keys);
	return (int)n;
}

/* Writes "int q = <category of slot si>;" for a P_ONEHOT or P_ORDINAL producer. */
static int emit_category(transform_c *c, sl__cw *w, const prod *p, size_t si)
{
	int id = c->next_id++;

	if (p->itype == DS_STRING) {
		deferred *d = sl__reallocarray(c->defer, c->n_defer + 1, sizeof *d);
		if (!d)
			return sl__oom();
		/* Every category gets a code (invariant 1). */
		for (size_t k = 0; k < p->cats.n; k++)
			if (transform_c_code(c, c->slot_dict[si], tf_strmap_key(&p->cats, k),
					     p->cats.len[k]) < 0) {
				c->defer = d;
				return sl__oom();
			}
		c->defer = d;
		c->defer[c->n_defer++] = (deferred){id, c->slot_dict[si], p};
		sl__cw_printf(w, "\t\tint q = v[%zu] >= 0 ? sx_tf%d[(int)v[%zu]] : -1;\n", si, id, si);
		return 0;
	}
	int n = emit_lookup_keys(c, p, id);
	if (n < 0)
		return n;
	sl__cw_printf(w, "\t\tint q = -1;\n"
			 "\t\tfor (int k = 0; k < %d; k++)\n"
			 "\t\t\tif (sx_tf%d_key[k] == v[%zu]) {\n"
			 "\t\t\t\tq = sx_tf%d_idx[k];\n"
			 "\t\t\t\tbreak;\n"
			 "\t\t\t}\n",
		      n, id, si, id);
	return 0;
}

static int emit_cast(const op *o, const prod *p, sl__cw *w, size_t si, size_t so)
{
	ds_type it = p->itype, ot = p->otype;

	if ((it == DS_STRING) != (ot == DS_STRING))
		return unsup(o, "a cast to or from string");
	sl__cw_printf(w, "\tz[%zu] = z[%zu];\n", so, si);
	if (it == ot || ot == DS_FLOAT64 || (it != DS_FLOAT64 && ot != DS_BOOL)) {
		sl__cw_printf(w, "\tv[%zu] = v[%zu];\n", so, si);
	} else if (ot == DS_BOOL) {
		/* From a number: non-zero is true (a NaN is missing here, hence null). */
		sl__cw_printf(w, "\tv[%zu] = v[%zu] != 0;\n", so, si);
	} else {
		/* float64 to an integer: toward zero, out of range is a failed cast. */
		sl__cw_printf(w, "\tif (!z[%zu] && !(v[%zu] >= -9.2e18 && v[%zu] <= 9.2e18)) {\n", si, si,
			      si);
		if (p->fail)
			sl__cw_puts(w, "\t\treturn -1; /* on_error: fail */\n");
		else
			sl__cw_printf(w, "\t\tz[%zu] = 1;\n\t\tv[%zu] = 0;\n", so, so);
		sl__cw_printf(w, "\t} else {\n\t\tv[%zu] = trunc(v[%zu]);\n\t}\n", so, si);
	}
	return 0;
}

/* The first output's slot of p, after checking its outputs' slots follow each other. */
static int out_slots(const op *o, const prod *p, size_t *out)
{
	size_t s0 = o->out.c[p->out0].slot;

	*out = s0;
	for (size_t k = 1; k < p->nout; k++)
		if (o->out.c[p->out0 + k].slot != s0 + k)
			return sl__err(SL_EINVAL, "%s: outputs not in consecutive slots", o->where);
	return 0;
}

static int emit_prod(transform_c *c, const op *o, const prod *p, size_t si, sl__cw *w)
{
	size_t so = 0;
	int rc;

	if ((rc = out_slots(o, p, &so)))
		return rc;
	switch (p->kind) {
	case P_CAST:
		if ((rc = emit_cast(o, p, w, si, so)))
			return rc;
		c->slot_dict[so] = c->slot_dict[si];
		return 0;
	case P_IMPUTE: {
		/* Missing: null, and for floats also NaN and the infinities. */
		if (p->itype == DS_FLOAT64)
			sl__cw_printf(w, "\tif (z[%zu] || !isfinite(v[%zu])) {\n", si, si);
		else
			sl__cw_printf(w, "\tif (z[%zu]) {\n", si);
		sl__cw_printf(w, "\t\tv[%zu] = ", so);
		if (p->fill.null) {
			sl__cw_puts(w, "0");
		} else if (p->otype == DS_STRING) {
			long k = transform_c_code(c, c->slot_dict[si], p->fill.s ? p->fill.s : "",
						  p->fill.len);
			if (k < 0)
				return sl__oom();
			sl__cw_printf(w, "%ld.0", k);
		} else {
			sl__cw_double(w, p->otype == DS_FLOAT64 ? p->fill.f : (double)p->fill.i);
		}
		sl__cw_printf(w, ";\n\t\tz[%zu] = %d;\n\t} else {\n\t\tv[%zu] = v[%zu];\n"
				 "\t\tz[%zu] = 0;\n\t}\n",
			      so, p->fill.null, so, si, so);
		c->slot_dict[so] = c->slot_dict[si];
		return 0;
	}
	case P_CLIP:
		sl__cw_printf(w, "\tz[%zu] = z[%zu];\n\tv[%zu] = ", so, si, so);
		if (p->itype == DS_INT64) {
			sl__cw_printf(w, "v[%zu] < ", si);
			sl__cw_double(w, (double)p->ilo);
			sl__cw_puts(w, " ? ");
			sl__cw_double(w, (double)p->ilo);
			sl__cw_printf(w, " : (v[%zu] > ", si);
			sl__cw_double(w, (double)p->ihi);
			sl__cw_puts(w, " ? ");
			sl__cw_double(w, (double)p->ihi);
			sl__cw_printf(w, " : v[%zu]);\n", si);
		} else {
			sl__cw_printf(w, "isnan(v[%zu]) ? v[%zu] : (v[%zu] < ", si, si, si);
			sl__cw_double(w, p->lo);
			sl__cw_puts(w, " ? ");
			sl__cw_double(w, p->lo);
			sl__cw_printf(w, " : (v[%zu] > ", si);
			sl__cw_double(w, p->hi);
			sl__cw_puts(w, " ? ");
			sl__cw_double(w, p->hi);
			sl__cw_printf(w, " : v[%zu]));\n", si);
		}
		return 0;
	case P_AFFINE:
		sl__cw_printf(w, "\tz[%zu] = z[%zu];\n\tv[%zu] = (v[%zu] - ", so, si, so, si);
		sl__cw_double(w, p->lo);
		sl__cw_puts(w, ") / ");
		sl__cw_double(w, p->hi);
		sl__cw_puts(w, ";\n");
		return 0;
	case P_ONEHOT:
	case P_ORDINAL:
		if (p->kind == P_ONEHOT)
			sl__cw_printf(w, "\tfor (int k = 0; k < %zu; k++) {\n"
					 "\t\tv[%zu + k] = 0;\n"
					 "\t\tz[%zu + k] = 0;\n"
					 "\t}\n",
				      p->nout, so, so);
		else
			sl__cw_printf(w, "\tv[%zu] = 0;\n\tz[%zu] = 1;\n", so, so);
		sl__cw_printf(w, "\tif (!z[%zu]) {\n", si);
		if ((rc = emit_category(c, w, p, si)))
			return rc;
		if (p->kind == P_ONEHOT)
			sl__cw_printf(w, "\t\tif (q >= 0)\n\t\t\tv[%zu + q] = 1;\n\t}\n", so);
		else
			sl__cw_printf(w, "\t\tif (q >= 0) {\n\t\t\tv[%zu] = q;\n\t\t\tz[%zu] = 0;\n"
					 "\t\t}\n\t}\n",
				      so, so);
		return 0;
	case P_HASH:
		if (p->itype == DS_STRING)
			return unsup(o, "hashing strings (encode method: hashing)");
		sl__cw_printf(w, "\tfor (int k = 0; k < %zu; k++) {\n"
				 "\t\tv[%zu + k] = 0;\n"
				 "\t\tz[%zu + k] = 0;\n"
				 "\t}\n",
			      p->nout, so, so);
		if (p->itype == DS_BOOL) {
			/* Two values, two buckets known now. */
			sl__cw_printf(w, "\tif (!z[%zu])\n\t\tv[%zu + (v[%zu] != 0 ? %llu : %llu)] = 1;\n",
				      si, so, si,
				      (unsigned long long)(tf_bucket_hash("true", 4) % p->buckets),
				      (unsigned long long)(tf_bucket_hash("false", 5) % p->buckets));
		} else {
			c->helpers |= H_HASH;
			sl__cw_printf(w, "\tif (!z[%zu])\n\t\tv[%zu + (int)(sx_fnv_int(v[%zu]) %% %lluULL)] = 1;\n",
				      si, so, si, (unsigned long long)p->buckets);
		}
		return 0;
	case P_DATEPART:
		c->helpers |= H_DATE;
		sl__cw_printf(w, "\tz[%zu] = z[%zu];\n"
				 "\tv[%zu] = z[%zu] ? 0 : (double)sx_date_part(v[%zu], %d);\n",
			      so, si, so, si, si, p->mode);
		return 0;
	case P_CYCLIC: {
		/* One-based parts start the cycle at zero. */
		int one = p->mode == D_MONTH || p->mode == D_DAY || p->mode == D_DAYOFYEAR ||
			  p->mode == D_QUARTER;
		c->helpers |= H_DATE;
		sl__cw_printf(w, "\tz[%zu] = z[%zu];\n\tv[%zu] = 0;\n"
				 "\tif (!z[%zu]) {\n"
				 "\t\tlong long d = sx_date_part(v[%zu], %d)%s;\n"
				 "\t\tdouble ang = 2 * SX_TF_PI * (double)d / ",
			      so, si, so, si, si, p->mode, one ? " - 1" : "");
		sl__cw_double(w, tf_date_period[p->mode]);
		sl__cw_printf(w, ";\n\t\tv[%zu] = %s(ang);\n\t}\n", so, p->cos ? "cos" : "sin");
		return 0;
	}
	case P_TEXT:
		return unsup(o, "text (tokens, counts, tf-idf)");
	default:
		return unsup(o, "this operation");
	}
}

/* The expression's column k in C, for a schema column held in slot s. */
static void expr_col(const transform_c *c, expr_c_col *col, size_t s)
{
	snprintf(col->v, sizeof col->v, "v[%zu]", s);
	snprintf(col->z, sizeof col->z, "z[%zu]", s);
	col->dict = c->slot_dict[s];
}

static int emit_filter(transform_c *c, const op *o, const tf_schema *cur, sl__cw *w)
{
	expr_c_col *cols = sl__calloc(cur->n + 1, sizeof *cols);
	int rc;

	if (!cols)
		return sl__oom();
	for (size_t k = 0; k < cur->n; k++)
		expr_col(c, &cols[k], cur->c[k].slot);
	sl__cw_printf(w, "\t/* %s: filter */\n\t{\n\tdouble fv;\n\tint fz;\n", o->where);
	rc = expr_emit_c(o->filter, w, cols, code_cb, c, "fv", "fz", &c->expr_needs);
	sl__cw_puts(w, "\tif (fz || !fv)\n\t\treturn -1;\n\t}\n");
	sl__free(cols);
	return rc;
}

/* Derive: expressions in derivation order, each seeing the columns before it. */
static int emit_derive(transform_c *c, const op *o, const tf_schema *cur, sl__cw *w)
{
	size_t nexpr = 0, width = cur->n;
	size_t *gslot;
	expr_c_col *cols;
	int rc = 0;

	for (size_t q = 0; q < o->np; q++)
		nexpr += o->p[q].kind == P_EXPR;
	gslot = sl__calloc(cur->n + nexpr + 1, sizeof *gslot);
	cols = sl__calloc(cur->n + nexpr + 1, sizeof *cols);
	if (!gslot || !cols) {
		sl__free(gslot);
		sl__free(cols);
		return sl__oom();
	}
	for (size_t k = 0; k < cur->n; k++)
		gslot[k] = cur->c[k].slot;
	for (size_t d = 0; d < nexpr && rc == 0; d++) {
		size_t q = 0;
		while (o->p[q].kind != P_EXPR || o->p[q].in != d)
			q++;
		const prod *p = &o->p[q];
		const tf_scol *oc = &o->out.c[p->out0];
		char ov[32], oz[32];
		for (size_t k = 0; k < width; k++)
			expr_col(c, &cols[k], gslot[k]);
		snprintf(ov, sizeof ov, "v[%zu]", oc->slot);
		snprintf(oz, sizeof oz, "z[%zu]", oc->slot);
		sl__cw_printf(w, "\t/* %s: derive %s */\n", o->where, oc->name);
		if ((rc = expr_emit_c(p->e, w, cols, code_cb, c, ov, oz, &c->expr_needs)))
			break;
		/* Replace in place or append, as transform_apply_row does. */
		size_t at = width;
		for (size_t k = 0; k < cur->n; k++)
			if (!strcmp(cur->c[k].name, oc->name)) {
				at = k;
				break;
			}
		if (at == width)
			at = width++;
		gslot[at] = oc->slot;
	}
	sl__free(gslot);
	sl__free(cols);
	return rc;
}

int transform_c_emit(transform_c *c, sl__cw *w)
{
	const transform *tr = c->tr;
	const tf_schema *cur = &tr->in;
	int rc = 0;

	for (size_t k = 0; k < tr->nops && rc == 0; k++) {
		const op *o = &tr->ops[k];
		if (o->series)
			return sl__err(SL_EUNSUP, "%s: lag and rolling need the series' history, which "
						  "one row does not have: they have no C form",
				       o->where);
		if (o->filter)
			rc = emit_filter(c, o, cur, w);
		else if (tf_op_is_derive(o))
			rc = emit_derive(c, o, cur, w);
		else
			for (size_t q = 0; q < o->np && rc == 0; q++) {
				const prod *p = &o->p[q];
				if (p->kind == P_PASS)
					continue;
				if (q == 0 || o->p[q - 1].kind == P_PASS)
					sl__cw_printf(w, "\t/* %s: %s */\n", o->where,
						      json_string_value(json_object_get(
							      json_array_get(tr->ops_json, k), "op")));
				rc = emit_prod(c, o, p, cur->c[p->in].slot, w);
			}
		cur = &o->out;
	}
	for (size_t k = 0; rc == 0 && k < cur->n; k++)
		c->out_slot[k] = cur->c[k].slot;
	return rc ? rc : w->rc;
}

/* ---- tables and helpers ------------------------------------------------------------ */

static const char date_helper[] =
	"/* The date parts of a time in microseconds since 1970 (proleptic Gregorian, UTC). */\n"
	"static long long sx_date_part(double t, int part)\n{\n"
	"\tlong long us = (long long)t, days = us / 86400000000LL, rem = us % 86400000000LL;\n"
	"\tlong long sod, z, era, doe, yoe, doy, mp, y;\n"
	"\tint m, d;\n\n"
	"\tif (rem < 0) {\n\t\trem += 86400000000LL;\n\t\tdays--;\n\t}\n"
	"\tsod = rem / 1000000;\n"
	"\tz = days + 719468;\n"
	"\tera = (z >= 0 ? z : z - 146096) / 146097;\n"
	"\tdoe = z - era * 146097;\n"
	"\tyoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;\n"
	"\tdoy = doe - (365 * yoe + yoe / 4 - yoe / 100);\n"
	"\tmp = (5 * doy + 2) / 153;\n"
	"\td = (int)(doy - (153 * mp + 2) / 5 + 1);\n"
	"\tm = (int)(mp < 10 ? mp + 3 : mp - 9);\n"
	"\ty = yoe + era * 400 + (m <= 2);\n"
	"\tswitch (part) {\n"
	"\tcase 0: return y;\n"
	"\tcase 1: return (m - 1) / 3 + 1;\n"
	"\tcase 2: return m;\n"
	"\tcase 3: return d;\n"
	"\tcase 4: return ((days % 7) + 7 + 3) % 7; /* Monday = 0 */\n"
	"\tcase 5: {\n"
	"\t\tstatic const int cum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};\n"
	"\t\tint leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;\n"
	"\t\treturn cum[m - 1] + d + (leap && m > 2);\n"
	"\t}\n"
	"\tcase 6: return sod / 3600;\n"
	"\tcase 7: return sod / 60 % 60;\n"
	"\tdefault: return sod % 60;\n"
	"\t}\n"
	"}\n\n";

static const char hash_helper[] =
	"/* FNV-1a of an integer's decimal text: encode's hashing trick. */\n"
	"static unsigned long long sx_fnv_int(double x)\n{\n"
	"\tlong long i = (long long)x;\n"
	"\tunsigned long long u = i < 0 ? 0ULL - (unsigned long long)i : (unsigned long long)i;\n"
	"\tunsigned long long h = 1469598103934665603ULL;\n"
	"\tchar buf[24];\n"
	"\tint n = 0;\n\n"
	"\tdo {\n\t\tbuf[n++] = (char)('0' + u % 10);\n\t\tu /= 10;\n\t} while (u);\n"
	"\tif (i < 0) {\n\t\th ^= (unsigned char)'-';\n\t\th *= 1099511628211ULL;\n\t}\n"
	"\twhile (n--) {\n\t\th ^= (unsigned char)buf[n];\n\t\th *= 1099511628211ULL;\n\t}\n"
	"\treturn h;\n"
	"}\n\n";

static const char round_helper[] =
	"/* round(x, digits) of the expression language. */\n"
	"static double sx_round_digits(double x, double digits)\n{\n"
	"\tlong long d = (long long)digits;\n"
	"\tdouble m, y;\n\n"
	"\tif (d > 300 || d < -300)\n\t\treturn d > 0 ? x : 0 * x;\n"
	"\tm = pow(10.0, (double)d);\n"
	"\ty = round(x * m) / m;\n"
	"\treturn isfinite(y) ? y : x;\n"
	"}\n\n";

int transform_c_tables(transform_c *c, sl__cw *w)
{
	if (c->helpers & (H_DATE))
		sl__cw_puts(w, "#define SX_TF_PI 3.14159265358979323846\n\n");
	if (c->helpers & H_DATE)
		sl__cw_puts(w, date_helper);
	if (c->helpers & H_HASH)
		sl__cw_puts(w, hash_helper);
	if (c->expr_needs & EXPR_C_ROUND)
		sl__cw_puts(w, round_helper);
	sl__cw_cat(w, &c->tab);
	for (size_t k = 0; k < c->n_defer; k++) {
		const deferred *d = &c->defer[k];
		size_t n = transform_c_dict_size(c, d->dict);
		int64_t *m = sl__malloc((n + 1) * sizeof *m);
		char decl[64];
		if (!m)
			return sl__oom();
		for (size_t i = 0; i < n; i++)
			m[i] = tf_strmap_find(&d->p->cats, tf_strmap_key(&c->dicts[d->dict], i),
					      c->dicts[d->dict].len[i]);
		snprintf(decl, sizeof decl, "static const int sx_tf%d[]", d->id);
		sl__cw_ints(w, decl, m, n);
		sl__free(m);
	}
	return w->rc;
}
