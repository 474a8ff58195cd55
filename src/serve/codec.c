/*
 * What the protocol codecs share (codec.h): the per-request arena, the
 * model's serving description (serve_sig), batches, scoring, JSON writing
 * and the inference log's record.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "serve/codec.h"


/* ---- arena ------------------------------------------------------------------------ */

void *serve_arena_alloc(serve_arena *a, size_t n)
{
	char *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + 15) & ~(size_t)15;
	if (a->used + n > a->cap) {
		size_t want = a->cap ? a->cap * 2 : 16384;
		char *nb;
		while (want < n)
			want *= 2;
		nb = sl__malloc(want);
		if (!nb)
			return NULL;
		if (a->block) {
			if (a->n_old == a->cap_old) {
				size_t c = a->cap_old ? a->cap_old * 2 : 8;
				char **o = sl__reallocarray(a->old, c, sizeof *o);
				if (!o) {
					sl__free(nb);
					return NULL;
				}
				a->old = o;
				a->cap_old = c;
			}
			a->old[a->n_old++] = a->block;
		}
		a->block = nb;
		a->cap = want;
		a->used = 0;
	}
	p = a->block + a->used;
	a->used += n;
	a->peak += n;
	return p;
}

void *serve_arena_calloc(serve_arena *a, size_t n)
{
	void *p = serve_arena_alloc(a, n);

	if (p)
		memset(p, 0, n);
	return p;
}

void serve_arena_reset(serve_arena *a)
{
	for (size_t i = 0; i < a->n_old; i++)
		sl__free(a->old[i]);
	/* A request that outgrew the block gets one block of its size next
	 * time, so a steady load settles on one block and no allocation. */
	if (a->n_old && a->peak > a->cap) {
		char *nb = sl__malloc(a->peak);
		if (nb) {
			sl__free(a->block);
			a->block = nb;
			a->cap = a->peak;
		}
	}
	/* A huge one-off request does not pin its memory for ever. */
	if (a->cap > ((size_t)64 << 20) && a->peak < a->cap / 8) {
		sl__free(a->block);
		a->block = NULL;
		a->cap = 0;
	}
	a->n_old = 0;
	a->used = 0;
	a->peak = 0;
}

void serve_arena_free(serve_arena *a)
{
	serve_arena_reset(a);
	sl__free(a->block);
	sl__free(a->old);
	memset(a, 0, sizeof *a);
}

/* ---- JSON writing -------------------------------------------------------------------- */

int serve_puts(sl__buf *b, const char *s)
{
	return serve_put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t k = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;

	if (k == 0 || k > n || s[0] > 0xF4)
		return 0;
	return sl__utf8_check((const char *)s, k) == k ? k : 0;
}

/*
 * Whether none of s[0..n) needs an escape in a JSON string (jscan_plain_char
 * of each: 0x20 to 0x7f but '"' and '\\'). Ids, names and versions,
 * checked for every request: sixteen bytes at a time with SSE2 (as signed
 * bytes, those below 0x20 and those from 0x80 are both below 0x20), else
 * eight at a time, where a byte below 0x20 or equal to one of the two
 * shows as a borrow into its top bit and a byte from 0x80 by its top bit.
 */
static inline bool all_plain(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t bad = 0;
	size_t i = 0;

#ifdef __SSE2__
	if (n >= 16) {
		const __m128i lo = _mm_set1_epi8(0x20), qt = _mm_set1_epi8('"'),
			      bs = _mm_set1_epi8('\\');
		__m128i acc = _mm_setzero_si128();
		for (;; i += 16) {
			__m128i x;
			if (i + 16 > n)
				i = n - 16; /* the last sixteen, overlapping */
			x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			acc = _mm_or_si128(acc, _mm_or_si128(_mm_cmplt_epi8(x, lo),
							     _mm_or_si128(_mm_cmpeq_epi8(x, qt),
									  _mm_cmpeq_epi8(x, bs))));
			if (i + 16 >= n)
				break;
		}
		return _mm_movemask_epi8(acc) == 0;
	}
#endif
	if (n < 8) {
		for (; i < n; i++)
			if (!jscan_plain_char[(unsigned char)s[i]])
				return false;
		return true;
	}
	for (;; i += 8) {
		uint64_t x, q, bs;
		if (i + 8 > n)
			i = n - 8; /* the last eight, overlapping */
		memcpy(&x, s + i, 8);
		q = x ^ (ones * '"');
		bs = x ^ (ones * '\\');
		bad |= x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
		if (i + 8 >= n)
			break;
	}
	return !(bad & high);
}

int serve_put_jstr(sl__buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	int rc;

	/* Nothing to escape (ids, names, most strings): one copy. */
	if (n + 2 < b->cap - b->len && all_plain(str, n)) {
		char *d = b->data + b->len;
		d[0] = '"';
		memcpy(d + 1, str, n);
		d[n + 1] = '"';
		d[n + 2] = 0;
		b->len += n + 2;
		return 0;
	}
	if ((rc = serve_lit(b, "\"")))
		return rc;
	while (i < n) {
		size_t j = i;
		unsigned char c;
		while (j < n && jscan_plain_char[s[j]])
			j++;
		if (j > i && (rc = serve_put(b, (const char *)s + i, j - i)))
			return rc;
		i = j;
		if (i >= n)
			break;
		c = s[i];
		if (c >= 0x80) {
			size_t k = utf8_seq(s + i, n - i);
			/* Text quoted from a request may be cut inside a
			 * character or not be UTF-8 at all: the output stays
			 * valid JSON either way. */
			rc = k ? serve_put(b, (const char *)s + i, k) : serve_lit(b, "\\ufffd");
			i += k ? k : 1;
		} else if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			rc = serve_put(b, e, 2);
			i++;
		} else {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			if (c == '\n')
				rc = serve_lit(b, "\\n");
			else if (c == '\t')
				rc = serve_lit(b, "\\t");
			else if (c == '\r')
				rc = serve_lit(b, "\\r");
			else
				rc = serve_put(b, e, 6);
			i++;
		}
		if (rc)
			return rc;
	}
	return serve_lit(b, "\"");
}

int serve_put_f64(sl__buf *b, double v)
{
	char buf[DS_F64_BUF];

	if (!isfinite(v))
		return serve_lit(b, "null");
	return serve_put(b, buf, ds_format_f64(v, buf));
}

int serve_put_u64(sl__buf *b, uint64_t v)
{
	char buf[24], *p = buf + sizeof buf;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return serve_put(b, p, (size_t)(buf + sizeof buf - p));
}

#define TXT_W 32 /* room for one formatted double (DS_F64_BUF) */

int serve_put_out(sl__buf *b, serve_result *res, size_t i, size_t k, serve_arena *a)
{
	size_t idx = i * res->k + k;
	double v = res->out[idx];

	const char *t;
	size_t n;

	if (!res->txt) {
		/* The texts and their lengths in one piece, the lengths zeroed. */
		size_t cells = res->n * res->k;
		if (cells > SIZE_MAX / (TXT_W + sizeof *res->len))
			return sl__oom();
		res->txt = serve_arena_alloc(a, cells * (TXT_W + sizeof *res->len));
		if (!res->txt)
			return sl__oom();
		res->len = (uint32_t *)(void *)(res->txt + cells * TXT_W);
		memset(res->len, 0, cells * sizeof *res->len);
	}
	if (!isfinite(v))
		return serve_lit(b, "null");
	if (!res->len[idx])
		res->len[idx] = (uint32_t)ds_format_f64(v, res->txt + idx * TXT_W);
	t = res->txt + idx * TXT_W;
	n = res->len[idx];
	/* The slot is TXT_W bytes whatever the text's length: with that much
	 * room, two 16-byte moves instead of a call to copy n. */
	if (b->len + TXT_W < b->cap) {
		memcpy(b->data + b->len, t, 16);
		memcpy(b->data + b->len + 16, t + 16, 16);
		b->len += n;
		b->data[b->len] = 0;
		return 0;
	}
	return serve_put(b, t, n);
}

int serve_put_cell(sl__buf *b, const serve_batch *in, const serve_sig *s, size_t i, size_t j)
{
	size_t c = i * in->k + j;
	const expr_value *e = &in->v[c];
	char buf[DS_TS_BUF + 2];

	if (in->span && in->span[2 * c + 1])
		return serve_put(b, in->src + in->span[2 * c], in->span[2 * c + 1]);
	if (e->null)
		return serve_lit(b, "null");
	switch (s->in_types[j]) {
	case DS_FLOAT64:
		return serve_put_f64(b, e->f);
	case DS_INT64: {
		int n = snprintf(buf, sizeof buf, "%lld", (long long)e->i);
		return serve_put(b, buf, (size_t)n);
	}
	case DS_BOOL:
		return e->i ? serve_lit(b, "true") : serve_lit(b, "false");
	case DS_TIMESTAMP: {
		size_t n = ds_format_timestamp(e->i, buf + 1);
		buf[0] = '"';
		buf[n + 1] = '"';
		return serve_put(b, buf, n + 2);
	}
	case DS_STRING:
		return serve_put_jstr(b, e->s, e->len);
	}
	return serve_lit(b, "null");
}

/* ---- the serving signature --------------------------------------------------------------- */

/* The name being looked up, for the index's equality test. */
typedef struct name_key {
	const serve_sig *s;
	const char *name;
	size_t len;
} name_key;

static bool name_eq(const void *ctx, uint32_t id)
{
	const name_key *k = ctx;

	return k->s->in_len[id] == k->len && !memcmp(k->s->in_names[id], k->name, k->len);
}

long serve_sig_find(const serve_sig *s, const char *name, size_t len)
{
	name_key k = {s, name, len};
	uint32_t id = sl__hmap_find(&s->ix, sl__hmap_tag(sl__hash64(name, len)), name_eq, &k);

	return id == SL__HMAP_NONE ? -1 : (long)id;
}

const char *serve_v2_datatype(ds_type t)
{
	switch (t) {
	case DS_FLOAT64:
		return "FP64";
	case DS_INT64:
		return "INT64";
	case DS_BOOL:
		return "BOOL";
	default:
		return "BYTES";
	}
}

/* "\"name\":" with the name escaped, newly allocated. */
static char *json_key(const char *name)
{
	sl__buf b;

	sl__buf_init(&b, 0);
	if (serve_put_jstr(&b, name, strlen(name)) || serve_put(&b, ":", 1)) {
		sl__buf_free(&b);
		return NULL;
	}
	return sl__buf_detach(&b);
}

int serve_sig_add_out(serve_sig *s, const char *name, const char *dt, serve_okind kind, size_t col)
{
	serve_output *o = &s->outs[s->n_outs];
	sl__buf h;

	if (s->n_outs == SERVE_MAX_OUTPUTS)
		return sl__err(SL_EUNSUP, "a model with more than %d outputs", SERVE_MAX_OUTPUTS);
	sl__buf_init(&h, 0);
	if (!(o->name = sl__strdup(name)) || serve_lit(&h, "{\"name\":") ||
	    serve_put_jstr(&h, name, strlen(name)) || serve_lit(&h, ",\"datatype\":\"") ||
	    serve_puts(&h, dt) || serve_lit(&h, "\",")) {
		sl__free(o->name);
		o->name = NULL;
		sl__buf_free(&h);
		return sl__oom();
	}
	o->v2_head_len = h.len;
	if ((kind == SO_PROBA ? sl__buf_printf(&h, "\"shape\":[1,%zu]", s->k)
			      : serve_lit(&h, "\"shape\":[1]")) ||
	    serve_lit(&h, ",\"data\":[")) {
		sl__free(o->name);
		o->name = NULL;
		sl__buf_free(&h);
		return sl__oom();
	}
	o->v2_head1_len = h.len;
	o->v2_head = sl__buf_detach(&h);
	o->datatype = dt;
	o->kind = kind;
	o->col = col;
	s->n_outs++;
	return 0;
}

int serve_sig_v2_head(serve_sig *s, const char *name, const char *version)
{
	sl__buf h, l;

	sl__buf_init(&h, 0);
	sl__buf_init(&l, 0);
	if (serve_lit(&h, "{\"model_name\":") || serve_put_jstr(&h, name, strlen(name)) ||
	    serve_lit(&h, ",\"model_version\":") || serve_put_jstr(&h, version, strlen(version)) ||
	    serve_lit(&h, ",\"id\":") || serve_lit(&l, "\",\"model\":") ||
	    serve_put_jstr(&l, name, strlen(name)) || serve_lit(&l, ",\"version\":") ||
	    serve_put_jstr(&l, version, strlen(version)) || serve_lit(&l, ",\"endpoint\":\"")) {
		sl__buf_free(&h);
		sl__buf_free(&l);
		return sl__oom();
	}
	sl__free(s->v2_head);
	sl__free(s->log_head);
	s->v2_head_len = h.len;
	s->v2_head = sl__buf_detach(&h);
	s->log_head_len = l.len;
	s->log_head = sl__buf_detach(&l);
	s->v2_head_name = name;
	s->v2_head_version = version;
	return 0;
}

static int build_outputs(serve_sig *s)
{
	const ml_signature *sig = &s->m->sig;
	int rc = 0;

	switch (sig->task) {
	case ML_BINARY:
	case ML_MULTICLASS:
		switch (sig->target_type) {
		case DS_INT64:
			s->label_type = "INT64";
			break;
		case DS_BOOL:
			s->label_type = "BOOL";
			break;
		case DS_FLOAT64:
			s->label_type = "FP64";
			break;
		default:
			s->label_type = "BYTES";
			break;
		}
		if ((rc = serve_sig_add_out(s, "predict", s->label_type, SO_LABEL, 0)) ||
		    (rc = serve_sig_add_out(s, "predict_proba", "FP64", SO_PROBA, 0)))
			return rc;
		s->class_json = sl__calloc(sig->n_classes, sizeof *s->class_json);
		s->class_json_len = sl__calloc(sig->n_classes, sizeof *s->class_json_len);
		if (!s->class_json || !s->class_json_len)
			return sl__oom();
		for (size_t c = 0; c < sig->n_classes; c++) {
			if (!strcmp(s->label_type, "BYTES")) {
				sl__buf b;
				sl__buf_init(&b, 0);
				if (serve_put_jstr(&b, sig->classes[c], strlen(sig->classes[c]))) {
					sl__buf_free(&b);
					return sl__oom();
				}
				s->class_json[c] = sl__buf_detach(&b);
			} else {
				s->class_json[c] = sl__strdup(sig->classes[c]);
			}
			if (!s->class_json[c])
				return sl__oom();
			s->class_json_len[c] = strlen(s->class_json[c]);
		}
		return 0;
	case ML_ANOMALY:
		if ((rc = serve_sig_add_out(s, "predict", "INT64", SO_COLUMN, 1)) ||
		    (rc = serve_sig_add_out(s, "score", "FP64", SO_COLUMN, 0)))
			return rc;
		return 0;
	case ML_FORECAST:
		return serve_fc_sig(s);
	default:
		if ((rc = serve_sig_add_out(s, "predict", "FP64", SO_COLUMN, 0)))
			return rc;
		for (size_t k = 1; k < sig->n_outputs; k++)
			if ((rc = serve_sig_add_out(s, sig->outputs[k], "FP64", SO_COLUMN, k)))
				return rc;
		return 0;
	}
}

int serve_sig_build(const bundle *b, serve_sig *s)
{
	static _Atomic uint64_t last_id;
	const ml_model *m = bundle_model(b);
	sl__buf fb;
	int rc;

	memset(s, 0, sizeof *s);
	s->id = atomic_fetch_add(&last_id, 1) + 1;
	s->b = b;
	s->m = m;
	s->task = m->sig.task;
	s->fc_h = -1;
	s->n_in = bundle_n_inputs(b);
	s->p = m->sig.n_features;
	s->k = m->sig.n_outputs;
	s->groups = m->ops->explain && m->ops->explain_groups ? m->ops->explain_groups(m) : 0;
	s->in_names = sl__calloc(s->n_in + 1, sizeof *s->in_names);
	s->in_len = sl__calloc(s->n_in + 1, sizeof *s->in_len);
	s->in_types = sl__calloc(s->n_in + 1, sizeof *s->in_types);
	s->in_keys = sl__calloc(s->n_in + 1, sizeof *s->in_keys);
	s->in_key_len = sl__calloc(s->n_in + 1, sizeof *s->in_key_len);
	s->out_keys = sl__calloc(s->k + 1, sizeof *s->out_keys);
	s->out_key_len = sl__calloc(s->k + 1, sizeof *s->out_key_len);
	sl__hmap_init(&s->ix);
	if (!s->in_names || !s->in_len || !s->in_types || !s->in_keys || !s->out_keys ||
	    !s->in_key_len || !s->out_key_len) {
		rc = sl__oom();
		goto fail;
	}
	if ((rc = sl__hmap_reserve(&s->ix, s->n_in)))
		goto fail;
	s->all_numeric = true;
	for (size_t j = 0; j < s->n_in; j++) {
		s->in_names[j] = bundle_input_name(b, j);
		s->in_len[j] = strlen(s->in_names[j]);
		s->in_types[j] = bundle_input_type(b, j);
		if (s->in_types[j] == DS_STRING || s->in_types[j] == DS_TIMESTAMP)
			s->any_text = true;
		if (s->in_types[j] != DS_FLOAT64 && s->in_types[j] != DS_INT64)
			s->all_numeric = false;
		if (!(s->in_keys[j] = json_key(s->in_names[j]))) {
			rc = sl__oom();
			goto fail;
		}
		s->in_key_len[j] = strlen(s->in_keys[j]);
		/* Input names are distinct (the bundle's schema). */
		sl__hmap_add_distinct(&s->ix, sl__hmap_tag(sl__hash64(s->in_names[j], s->in_len[j])),
				      (uint32_t)j);
	}
	for (size_t k = 0; k < s->k; k++) {
		if (!(s->out_keys[k] = json_key(m->sig.outputs[k]))) {
			rc = sl__oom();
			goto fail;
		}
		s->out_key_len[k] = strlen(s->out_keys[k]);
	}
	if ((rc = build_outputs(s)))
		goto fail;
	sl__buf_init(&fb, 0);
	for (size_t j = 0; j < s->p; j++)
		if (sl__buf_printf(&fb, "%s,", m->sig.features[j].name)) {
			sl__buf_free(&fb);
			rc = sl__oom();
			goto fail;
		}
	if (sl__buf_puts(&fb, "base_value")) {
		sl__buf_free(&fb);
		rc = sl__oom();
		goto fail;
	}
	s->features_param = sl__buf_detach(&fb);
	return 0;
fail:
	serve_sig_free(s);
	return rc;
}

void serve_sig_free(serve_sig *s)
{
	for (size_t j = 0; s->in_keys && j < s->n_in; j++)
		sl__free(s->in_keys[j]);
	for (size_t k = 0; s->out_keys && k < s->k; k++)
		sl__free(s->out_keys[k]);
	for (size_t i = 0; i < s->n_outs; i++) {
		sl__free(s->outs[i].name);
		sl__free(s->outs[i].v2_head);
	}
	sl__free(s->v2_head);
	sl__free(s->log_head);
	if (s->class_json)
		for (size_t c = 0; c < s->m->sig.n_classes; c++)
			sl__free(s->class_json[c]);
	sl__free(s->class_json);
	sl__free(s->class_json_len);
	sl__free(s->in_names);
	sl__free(s->in_len);
	sl__free(s->in_types);
	sl__free(s->in_keys);
	sl__free(s->in_key_len);
	sl__free(s->out_keys);
	sl__free(s->out_key_len);
	sl__hmap_free(&s->ix);
	sl__free(s->features_param);
	memset(s, 0, sizeof *s);
}

char *serve_sig_metadata(const serve_sig *s, const char *name, const char *version,
			 const char *const *versions, size_t n_versions)
{
	const ml_signature *sig = &s->m->sig;
	json_t *o = json_object(), *ins = json_array(), *outs = json_array(), *vs = json_array();
	json_t *params;
	char *copy = NULL;

	if (!o || !ins || !outs || !vs)
		goto done;
	if (versions)
		for (size_t i = 0; i < n_versions; i++)
			json_array_append_new(vs, json_string(versions[i]));
	else
		json_array_append_new(vs, json_string(version));
	/* A forecaster is asked for its series (the key columns) and answers
	 * a row of `horizon` values per series; h is the server's to fill. */
	for (size_t j = 0; j < s->n_in; j++)
		if ((long)j != s->fc_h)
			json_array_append_new(ins, json_pack("{s:s, s:s, s:[i]}", "name",
							     s->in_names[j], "datatype",
							     serve_v2_datatype(s->in_types[j]),
							     "shape", -1));
	for (size_t i = 0; i < s->n_outs; i++) {
		const serve_output *so = &s->outs[i];
		json_t *shape = so->kind == SO_PROBA ? json_pack("[i, i]", -1, (int)sig->n_classes)
				: s->fc_h >= 0 && s->fc.nby ? json_pack("[i, i]", -1, -1)
							     : json_pack("[i]", -1);
		json_array_append_new(outs, json_pack("{s:s, s:s, s:o}", "name", so->name, "datatype",
						      so->datatype, "shape", shape));
	}
	if (s->groups) {
		json_t *shape = s->groups > 1 ? json_pack("[i, i, i]", -1, (int)s->groups,
							  (int)(s->p + 1))
					      : json_pack("[i, i]", -1, (int)(s->p + 1));
		json_array_append_new(outs, json_pack("{s:s, s:s, s:o}", "name", "contributions",
						      "datatype", "FP64", "shape", shape));
	}
	params = json_pack("{s:s, s:s, s:s}", "algorithm", s->m->ops->algorithm, "task",
			   ml_task_name(sig->task), "version", version);
	if (params && s->fc_h >= 0)
		json_object_set_new(params, "horizon", json_integer((json_int_t)s->fc.horizon));
	if (params && sig->n_classes) {
		json_t *cl = json_array();
		for (size_t c = 0; c < sig->n_classes; c++)
			json_array_append_new(cl, json_string(sig->classes[c]));
		json_object_set_new(params, "classes", cl);
	}
	json_object_set_new(o, "name", json_string(name));
	json_object_set(o, "versions", vs);
	json_object_set_new(o, "platform", json_string("sluice"));
	json_object_set(o, "inputs", ins);
	json_object_set(o, "outputs", outs);
	if (params)
		json_object_set_new(o, "parameters", params);
	copy = sl__json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
done:
	json_decref(o);
	json_decref(ins);
	json_decref(outs);
	json_decref(vs);
	if (!copy)
		sl__oom();
	return copy;
}

/* ---- batches -------------------------------------------------------------------------------- */

int serve_batch_set_any(serve_batch *b, const serve_sig *s, size_t i, size_t j, const jval *v,
			serve_arena *a)
{
	size_t c = i * b->k + j;
	bundle_scalar sc;

	memset(&sc, 0, sizeof sc);
	switch (v->t) {
	case J_NULL:
		sc.kind = BV_NULL;
		break;
	case J_NUM:
		sc.kind = BV_NUMBER;
		sc.num = v->num;
		sc.s = v->s;
		sc.len = v->len;
		break;
	case J_STR:
		sc.kind = BV_STRING;
		if (v->esc) {
			char *d = serve_arena_alloc(a, v->len + 1);
			if (!d)
				return sl__oom();
			sc.len = jscan_unescape(v, d);
			sc.s = d;
		} else {
			sc.s = v->s;
			sc.len = v->len;
		}
		break;
	case J_TRUE:
	case J_FALSE:
		sc.kind = BV_BOOL;
		sc.b = v->t == J_TRUE;
		break;
	default:
		return sl__err(SL_EINVAL, "expected a single value, got %s",
			       v->t == J_OBJ ? "an object" : "an array");
	}
	if (bundle_coerce(s->in_types[j], &sc, &b->v[c]))
		return SL_EINVAL;
	if (b->span) {
		size_t off = (size_t)(v->s - b->src), len = v->len;
		if (v->t == J_STR) {
			off--;
			len += 2;
		}
		b->span[2 * c] = (uint32_t)off;
		b->span[2 * c + 1] = (uint32_t)len;
	}
	return 0;
}

/* ---- scoring ----------------------------------------------------------------------------------- */

int serve_score(const serve_sig *s, bundle_row *r, const serve_batch *in, bool explain,
		serve_arena *a, serve_result *res)
{
	size_t n = in->n;
	double *X;
	int rc;

	memset(res, 0, sizeof *res);
	res->n = n;
	res->k = s->k;
	res->p = s->p;
	if (explain && !s->groups)
		return sl__err(SL_EUNSUP, "%s models have no explanations (\"explain\": true)",
			       s->m->ops->algorithm);
	X = serve_arena_alloc(a, (n * s->p + 1) * sizeof *X);
	res->out = serve_arena_alloc(a, (n * s->k + 1) * sizeof *res->out);
	if (!X || !res->out)
		return sl__oom();
	for (size_t i = 0; i < n; i++) {
		rc = bundle_code_values(s->b, r, in->v + i * in->k, X + i * s->p);
		if (rc == TRANSFORM_REJECTED) {
			res->rejected = i;
			return rc;
		}
		if (rc)
			return sl__err_prefix(rc, "row %zu", i);
	}
	if (n && (rc = ml_model_predict(s->m, X, n, res->out)))
		return rc;
	res->X = X;
	if (ml_task_is_classifier(s->task)) {
		res->label = serve_arena_alloc(a, (n + 1) * sizeof *res->label);
		if (!res->label)
			return sl__oom();
		/* Binary: as the bundle's evaluation decided (bundle_threshold). */
		double thr = bundle_threshold(s->b);
		for (size_t i = 0; i < n; i++) {
			const double *pr = res->out + i * s->k;
			uint32_t best = 0;
			if (s->k == 2) {
				res->label[i] = pr[1] >= thr ? 1 : 0;
				continue;
			}
			for (size_t c = 1; c < s->k; c++)
				if (pr[c] > pr[best])
					best = (uint32_t)c;
			res->label[i] = best;
		}
	}
	if (explain) {
		res->groups = s->groups;
		res->contrib = serve_arena_alloc(a, (n * s->groups * (s->p + 1) + 1) * sizeof(double));
		if (!res->contrib)
			return sl__oom();
		if (n && (rc = s->m->ops->explain(s->m, X, n, res->contrib)))
			return rc;
	}
	return 0;
}

/* ---- the log record ---------------------------------------------------------------------------- */

/* "2026-11-30T11:22:33.123Z" with the date and time of day computed once a second per thread. */
static size_t fmt_time(int64_t ms, char *out)
{
	static _Thread_local int64_t cached_sec = -1;
	static _Thread_local char cached[24];
	int64_t sec = ms / 1000;
	int frac = (int)(ms % 1000);

	if (sec != cached_sec) {
		time_t t = (time_t)sec;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = sec;
	}
	memcpy(out, cached, 19);
	out[19] = '.';
	out[20] = (char)('0' + frac / 100);
	out[21] = (char)('0' + frac / 10 % 10);
	out[22] = (char)('0' + frac % 10);
	out[23] = 'Z';
	return 24;
}

/*
 * Writing the record. It runs for every request, so its pieces go into
 * room reserved once (an upper bound of the whole record but the
 * inputs, which reserve their own), each with one bounds check and a copy
 * the compiler inlines; the buffer is terminated at the end. A piece that
 * does not fit (a string needing escapes longer than its estimate, a huge
 * error body) takes the buffer's ordinary path.
 */
#if defined(__GNUC__)
#define REC_INLINE static inline __attribute__((always_inline))
#else
#define REC_INLINE static inline
#endif

REC_INLINE void copy_short(char *d, const char *s, size_t n)
{
	/* The texts of numbers are 1 to 24 bytes: two overlapping loads and
	 * stores for 4 to 16 of them, three bytes for 1 to 3, libc beyond. */
	if (n > 16) {
		memcpy(d, s, n);
	} else if (n >= 8) {
		uint64_t x, y;
		memcpy(&x, s, 8);
		memcpy(&y, s + n - 8, 8);
		memcpy(d, &x, 8);
		memcpy(d + n - 8, &y, 8);
	} else if (n >= 4) {
		uint32_t x, y;
		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n) {
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}

/* Appends n bytes without terminating the buffer (the record does it once).
 * Always inline: most pieces are literals, whose copies then fold into a
 * move or two (out of line, each piece cost a call and copy_short's tests). */
REC_INLINE int rec_put(sl__buf *b, const char *s, size_t n)
{
	if (b->len + n < b->cap) {
		copy_short(b->data + b->len, s, n);
		b->len += n;
		return 0;
	}
	return sl__buf_append(b, s, n);
}

#define rec_lit(b, lit) rec_put((b), "" lit, sizeof(lit) - 1)

static inline int rec_u64(sl__buf *b, uint64_t v)
{
	char buf[24], *p = buf + sizeof buf;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return rec_put(b, p, (size_t)(buf + sizeof buf - p));
}

/* A JSON string: copied between quotes when nothing in it needs an escape
 * (ids, model names and versions, almost always), else serve_put_jstr. */
static int rec_jstr(sl__buf *b, const char *s, size_t n)
{
	if (b->len + n + 2 >= b->cap || !all_plain(s, n))
		return serve_put_jstr(b, s, n);
	b->data[b->len] = '"';
	copy_short(b->data + b->len + 1, s, n);
	b->data[b->len + n + 1] = '"';
	b->len += n + 2;
	return 0;
}

/*
 * The length of a row's text when the client sent it as the record writes
 * it: its values one after another in the schema's order, each right
 * after a comma (a row of a matrix without spaces, the usual one-row
 * request). The record then copies the row at once, the same bytes as
 * value by value. 0 when not (spaces, another order, a value filled in).
 */
static size_t row_run(const uint32_t *sp, size_t k, const char *src)
{
	uint32_t end;

	if (!k || !sp[1])
		return 0;
	end = sp[0] + sp[1];
	for (size_t j = 1; j < k; j++) {
		if (sp[2 * j] != end + 1 || !sp[2 * j + 1] || src[end] != ',')
			return 0;
		end = sp[2 * j] + sp[2 * j + 1];
	}
	return end - sp[0];
}

/*
 * The inputs, row by row in the schema's column order ([[v,v,...],...]).
 * Values with their request text (JSON bodies) are copied in one pass:
 * this runs for every request, once per value.
 */
static int put_inputs(sl__buf *b, const serve_sig *s, const serve_batch *in)
{
	size_t cells = in->n * in->k, src_len;
	ptrdiff_t last;
	const char *src;
	char *p, *end;
	int rc;

	if (!in->span) {
		rc = rec_lit(b, "[");
		for (size_t i = 0; !rc && i < in->n; i++) {
			rc = i ? rec_lit(b, ",[") : rec_lit(b, "[");
			for (size_t j = 0; !rc && j < in->k; j++) {
				if (j)
					rc = rec_lit(b, ",");
				if (!rc)
					rc = serve_put_cell(b, in, s, i, j);
			}
			if (!rc)
				rc = rec_lit(b, "]");
		}
		return rc ? rc : rec_lit(b, "]");
	}
	/* Room for eight bytes a value to start with, then checked a run of
	 * values at a time (below): a guess rather than a pass to measure
	 * them, which cost as much as the copy. */
	if ((rc = sl__buf_reserve(b, 8 * cells + 3 * in->n + 16)))
		return rc;
	/* In locals: the byte stores below could alias the batch's fields. */
	src = in->src;
	src_len = in->src_len;
	last = (ptrdiff_t)src_len - 32; /* the last offset with 32 bytes of src from it */
	p = b->data + b->len;
	end = b->data + b->cap;
	*p++ = '[';
	for (size_t i = 0; i < in->n; i++) {
		const uint32_t *sp = in->span + 2 * i * in->k;
		size_t run = row_run(sp, in->k, in->src);
		*p++ = '[';
		if (run) {
			if ((size_t)(end - p) < run + 12) {
				b->len = (size_t)(p - b->data);
				if ((rc = sl__buf_reserve(b, run + 12 + 8 * (cells - i * in->k))))
					return rc;
				p = b->data + b->len;
				end = b->data + b->cap;
			}
			memcpy(p, in->src + sp[0], run);
			p += run;
			*p++ = ',';
		}
		for (size_t j = 0; !run && j < in->k;) {
			size_t len = 0, off = 0, room = (size_t)(end - p), lim;
			/* As many values as the room holds at 33 bytes each (the
			 * fast copy's 32 and a comma), with 8 to spare for the
			 * brackets after the row: one check per run of them. */
			if (room < 33 + 8) {
				size_t more = in->k - j < 64 ? in->k - j : 64;
				b->len = (size_t)(p - b->data);
				if ((rc = sl__buf_reserve(b, 33 * more + 8 + 8 * (cells - i * in->k - j))))
					return rc;
				p = b->data + b->len;
				end = b->data + b->cap;
				room = (size_t)(end - p);
			}
			lim = j + (room - 8) / 33;
			if (lim > in->k)
				lim = in->k;
			/* A value of 1 to 32 bytes with 32 of src from its start
			 * (all but the body's last few): two 16-byte copies, the
			 * bytes past it overwritten next. */
			for (; j < lim; j++) {
				len = sp[2 * j + 1];
				off = sp[2 * j];
				if (len - 1 >= 32 || (ptrdiff_t)off > last)
					break;
				memcpy(p, src + off, 16);
				memcpy(p + 16, src + off + 16, 16);
				p[len] = ',';
				p += len + 1;
			}
			if (j == lim)
				continue;
			/* Any other value: checked and copied on its own. */
			if ((size_t)(end - p) < len + 36) {
				b->len = (size_t)(p - b->data);
				if ((rc = sl__buf_reserve(b, len + 36 + 8 * (cells - i * in->k - j))))
					return rc;
				p = b->data + b->len;
				end = b->data + b->cap;
			}
			if (len) {
				copy_short(p, in->src + off, len);
				p += len;
			} else {
				memcpy(p, "null", 4);
				p += 4;
			}
			*p++ = ',';
			j++;
		}
		/* The last value's comma ends the row. */
		if (in->k)
			p[-1] = ']';
		else
			*p++ = ']';
		*p++ = ',';
	}
	if (in->n)
		p[-1] = ']';
	else
		*p++ = ']';
	b->len = (size_t)(p - b->data);
	return 0;
}

/* The outputs, row by row: the label first for classifiers, then every model output. */
static int put_outputs(sl__buf *b, const serve_sig *s, serve_result *res, serve_arena *a)
{
	int rc = rec_lit(b, ",\"outputs\":[");

	for (size_t i = 0; !rc && i < res->n; i++) {
		rc = i ? rec_lit(b, ",[") : rec_lit(b, "[");
		if (!rc && res->label) {
			rc = rec_put(b, s->class_json[res->label[i]], s->class_json_len[res->label[i]]);
			if (!rc)
				rc = rec_lit(b, ",");
		}
		for (size_t k = 0; !rc && k < s->k; k++) {
			if (k)
				rc = rec_lit(b, ",");
			if (!rc)
				rc = serve_put_out(b, res, i, k, a);
		}
		if (!rc)
			rc = rec_lit(b, "]");
	}
	return rc ? rc : rec_lit(b, "]");
}

char *serve_log_schema(const serve_sig *s, const char *model, const char *version)
{
	sl__buf b;
	int rc;

	sl__buf_init(&b, 0);
	rc = serve_lit(&b, "{\"schema\":1,\"model\":");
	if (!rc)
		rc = serve_put_jstr(&b, model, strlen(model));
	if (!rc)
		rc = serve_lit(&b, ",\"version\":");
	if (!rc)
		rc = serve_put_jstr(&b, version, strlen(version));
	if (!rc)
		rc = serve_lit(&b, ",\"inputs\":[");
	for (size_t j = 0; !rc && j < s->n_in; j++) {
		if (j)
			rc = serve_lit(&b, ",");
		if (!rc)
			rc = serve_put_jstr(&b, s->in_names[j], s->in_len[j]);
	}
	if (!rc)
		rc = serve_lit(&b, "],\"outputs\":[");
	if (!rc && ml_task_is_classifier(s->task))
		rc = serve_lit(&b, "\"predict\",");
	for (size_t k = 0; !rc && k < s->k; k++) {
		const char *name = s->m->sig.outputs[k];
		if (k)
			rc = serve_lit(&b, ",");
		if (!rc)
			rc = serve_put_jstr(&b, name, strlen(name));
	}
	if (!rc)
		rc = serve_lit(&b, "]}\n");
	if (rc) {
		sl__buf_free(&b);
		return NULL;
	}
	return sl__buf_detach(&b);
}

int serve_log_record(const serve_logrec *r, serve_arena *a, sl__buf *b)
{
	/* The model and version as the version's signature wrote them once. */
	const serve_sig *hs = r->sig && r->sig->log_head && r->model == r->sig->v2_head_name &&
				      r->version == r->sig->v2_head_version
			      ? r->sig
			      : NULL;
	size_t id_len = strlen(r->id), m_len = r->model && !hs ? strlen(r->model) : 0;
	size_t v_len = r->version && !hs ? strlen(r->version) : 0, e_len = strlen(r->endpoint);
	char tbuf[32];
	int rc;

	/* Room for the header and the outputs (literals, three numbers, the
	 * strings, about 48 bytes per output value); only a hint: what does
	 * not fit grows the buffer, and its limit is checked there. */
	if (sl__buf_reserve(b, 256 + id_len + m_len + v_len + e_len + (hs ? hs->log_head_len : 0) +
				   (r->res && r->sig ? r->res->n * (r->sig->k + 1) * 48 : 0)))
		sl__err_clear();
	rc = rec_lit(b, "{\"id\":");
	if (!rc)
		rc = rec_jstr(b, r->id, id_len);
	if (!rc)
		rc = rec_lit(b, ",\"time\":\"");
	if (!rc)
		rc = rec_put(b, tbuf, fmt_time(r->time_ms, tbuf));
	if (!rc && hs) {
		rc = rec_put(b, hs->log_head, hs->log_head_len);
	} else {
		if (!rc)
			rc = rec_lit(b, "\",\"model\":");
		if (!rc)
			rc = r->model ? rec_jstr(b, r->model, m_len) : rec_lit(b, "null");
		if (!rc)
			rc = rec_lit(b, ",\"version\":");
		if (!rc)
			rc = r->version ? rec_jstr(b, r->version, v_len) : rec_lit(b, "null");
		if (!rc)
			rc = rec_lit(b, ",\"endpoint\":\"");
	}
	if (!rc)
		rc = rec_put(b, r->endpoint, e_len);
	if (!rc)
		rc = rec_lit(b, "\",\"status\":");
	if (!rc)
		rc = rec_u64(b, (uint64_t)r->status);
	if (!rc)
		rc = rec_lit(b, ",\"latency_us\":");
	if (!rc)
		rc = rec_u64(b, r->latency_us);
	if (!rc && r->batch && r->sig) {
		const serve_batch *in = r->batch;
		rc = rec_lit(b, ",\"rows\":");
		if (!rc)
			rc = rec_u64(b, in->n);
		if (!rc)
			rc = rec_lit(b, ",\"inputs\":");
		if (!rc)
			rc = put_inputs(b, r->sig, in);
		if (!rc && r->res)
			rc = put_outputs(b, r->sig, r->res, a);
	}
	if (!rc && r->error) {
		rc = rec_lit(b, ",\"error\":");
		if (!rc)
			rc = serve_put_jstr(b, r->error, strlen(r->error));
	}
	if (!rc && r->error && r->body) {
		size_t n = r->body_len < r->body_max ? r->body_len : r->body_max;
		rc = rec_lit(b, ",\"body\":");
		if (!rc)
			rc = serve_put_jstr(b, r->body, n);
		if (!rc && n < r->body_len)
			rc = rec_lit(b, ",\"body_truncated\":true");
	}
	if (!rc)
		rc = rec_lit(b, "}\n");
	if (!rc)
		b->data[b->len] = 0;
	return rc;
}
