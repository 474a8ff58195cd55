/*
 * The YAML loader (yamltree.h): libyaml's event stream becomes a tree of nodes
 * that keep their position (libyaml's document API would do the same but
 * cannot reject duplicate keys or bound aliases), scalars are resolved by
 * the core schema as they arrive, and subtrees convert to JSON with an
 * optional map from JSON paths back to positions.
 *
 *   yaml_parser_parse --event--> on_event --> frames (open collections)
 *        |                          |             |  complete: weigh, check keys,
 *        | error                    |             v  register anchor, attach
 *        v                          +-------> tree (arena) --sl__yaml_json--> json_t
 *   yaml_failure: tab? indentation? else libyaml's words     \--> sl__ypmap
 *
 * The invariants are the numbered design notes in yamltree.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "strtab.h"
#include "yamltree.h"

/* ---- arena ------------------------------------------------------------------ */

typedef struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	max_align_t data[];
} arena_blk;

typedef struct arena {
	arena_blk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	arena_blk *b = a->head;
	void *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 32768;
		b = sl__malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		if (a->head && n > 16384) {
			/* A big allocation gets its own block behind the current one
			 * so the current block's free space is not wasted. */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

static char *arena_strndup(arena *a, const char *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void arena_free(arena *a)
{
	for (arena_blk *b = a->head, *next; b; b = next) {
		next = b->next;
		sl__free(b);
	}
	a->head = NULL;
}

/* ---- documents and errors ---------------------------------------------------- */

struct sl__ydoc {
	char *name;
	arena mem;
	sl__ynode *root;
	int code;
	size_t budget; /* JSON values still allowed (alias expansion bound) */
	int rc;
	sl__ypos epos;
	char emsg[SL__YAML_MSG_MAX];
};

int (sl__ydoc_fail)(sl__ydoc *d, sl__ypos pos, const char *fmt, ...)
{
	va_list ap;

	if (d->rc)
		return d->rc;
	d->rc = d->code;
	d->epos = pos;
	va_start(ap, fmt);
	vsnprintf(d->emsg, sizeof d->emsg, fmt, ap);
	va_end(ap);
	return d->rc;
}

int sl__ydoc_oom(sl__ydoc *d)
{
	if (!d->rc) {
		d->rc = SL_ENOMEM;
		snprintf(d->emsg, sizeof d->emsg, "out of memory");
	}
	return d->rc;
}

int sl__ydoc_rc(const sl__ydoc *d)
{
	return d->rc;
}

sl__ypos sl__ydoc_errpos(const sl__ydoc *d)
{
	return d->epos;
}

const char *sl__ydoc_errmsg(const sl__ydoc *d)
{
	return d->emsg;
}

void sl__ydoc_clear(sl__ydoc *d)
{
	d->rc = 0;
	d->emsg[0] = '\0';
	d->epos = (sl__ypos){0, 0};
}

int sl__ydoc_raise(const sl__ydoc *d)
{
	if (!d->rc)
		return 0;
	if (d->rc == SL_ENOMEM || d->epos.line <= 0)
		return sl__err(d->rc, "%s: %s", d->name, d->emsg);
	return sl__err(d->rc, "%s:%d:%d: %s", d->name, d->epos.line, d->epos.col, d->emsg);
}

int (sl__yaml_err_at)(int code, const char *file, sl__ypos pos, const char *fmt, ...)
{
	char msg[SL__YAML_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (pos.line <= 0)
		return sl__err(code, "%s: %s", file, msg);
	return sl__err(code, "%s:%d:%d: %s", file, pos.line, pos.col, msg);
}

void sl__ydoc_free(sl__ydoc *d)
{
	if (!d)
		return;
	arena_free(&d->mem);
	sl__free(d->name);
	sl__free(d);
}

const sl__ynode *sl__ydoc_root(const sl__ydoc *d)
{
	return d ? d->root : NULL;
}

const char *sl__ydoc_name(const sl__ydoc *d)
{
	return d->name;
}

/* ---- scalars: the core schema --------------------------------------------------- */

static bool all_in(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

static bool is_null_text(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int bool_text(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	return -1;
}

/* 1: an int, 0: not an int, -1: an int that does not fit in 64 bits. */
static int int_text(const char *s, int64_t *out)
{
	const char *digits = s;
	int base = 10;
	char *end;

	if (s[0] == '0' && s[1] == 'o') {
		base = 8;
		digits = s + 2;
		if (!all_in(digits, "01234567"))
			return 0;
	} else if (s[0] == '0' && s[1] == 'x') {
		base = 16;
		digits = s + 2;
		if (!all_in(digits, "0123456789abcdefABCDEF"))
			return 0;
	} else if (!all_in(s + (*s == '-' || *s == '+'), "0123456789")) {
		return 0;
	}
	errno = 0;
	if (base == 10) {
		long long v = strtoll(digits, &end, 10);
		if (errno == ERANGE)
			return -1;
		*out = (int64_t)v;
	} else {
		unsigned long long u = strtoull(digits, &end, base);
		if (errno == ERANGE || u > (unsigned long long)INT64_MAX)
			return -1;
		*out = (int64_t)u;
	}
	return 1;
}

static bool float_text(const char *s, double *out)
{
	const char *p = s + (*s == '-' || *s == '+');
	bool digits = false;

	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
		*out = *s == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (p == s && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
		*out = NAN;
		return true;
	}
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return false;
	*out = strtod(s, NULL);
	return true;
}

int sl__yaml_resolve(const char *text, sl__ynode *out)
{
	int r;

	out->kind = SL__Y_STR;
	/* Most scalars are names and commands: no null, bool or number starts
	 * with anything but these, so the rest are strings at once. */
	if (*text && !strchr("~nNtTfF0123456789+-.", *text))
		return 0;
	if (is_null_text(text)) {
		out->kind = SL__Y_NULL;
		return 0;
	}
	if ((r = bool_text(text)) >= 0) {
		out->kind = SL__Y_BOOL;
		out->b = r == 1;
		return 0;
	}
	if ((r = int_text(text, &out->i)) != 0) {
		if (r < 0)
			return -1;
		out->kind = SL__Y_INT;
		out->d = (double)out->i;
		return 0;
	}
	if (float_text(text, &out->d))
		out->kind = SL__Y_FLOAT;
	return 0;
}

/* Explicit tags we understand; anything else is rejected. */
typedef enum ytag { YT_NONE, YT_STR, YT_INT, YT_FLOAT, YT_BOOL, YT_NULL, YT_NONSPECIFIC } ytag;

/*
 * Resolves scalar n (text set) written plain or with tag. A key that does
 * not resolve stays a string; a value is an error. Returns 0 or the
 * document's code.
 */
static int resolve_node(sl__ydoc *d, sl__ynode *n, ytag tag, bool plain, bool is_key)
{
	sl__ynode v;
	int r;

	n->kind = SL__Y_STR;
	if (tag == YT_STR || tag == YT_NONSPECIFIC || (!plain && tag == YT_NONE))
		return 0;
	memset(&v, 0, sizeof v);
	r = sl__yaml_resolve(n->text, &v);
	switch (tag) {
	case YT_NONE:
		if (r < 0) {
			if (is_key)
				return 0;
			return sl__ydoc_fail(d, n->pos, "integer '%.100s' is out of range", n->text);
		}
		break;
	case YT_NULL:
		if (v.kind != SL__Y_NULL)
			return sl__ydoc_fail(d, n->pos, "'%.100s' is not null", n->text);
		break;
	case YT_BOOL:
		if (v.kind != SL__Y_BOOL)
			return sl__ydoc_fail(d, n->pos, "'%.100s' is not a boolean (true or false)",
					     n->text);
		break;
	case YT_INT:
		if (r < 0)
			return sl__ydoc_fail(d, n->pos, "integer '%.100s' is out of range", n->text);
		if (v.kind != SL__Y_INT)
			return sl__ydoc_fail(d, n->pos, "'%.100s' is not an integer", n->text);
		break;
	default: /* YT_FLOAT */
		if (v.kind == SL__Y_INT || r < 0) {
			v.kind = SL__Y_FLOAT;
			v.d = strtod(n->text, NULL);
		}
		if (v.kind != SL__Y_FLOAT)
			return sl__ydoc_fail(d, n->pos, "'%.100s' is not a number", n->text);
		break;
	}
	n->kind = v.kind;
	n->b = v.b;
	n->i = v.i;
	n->d = v.d;
	return 0;
}

const char *sl__ynode_kind_name(const sl__ynode *n)
{
	switch (n->kind) {
	case SL__Y_NULL:
		return "null";
	case SL__Y_BOOL:
		return "a boolean";
	case SL__Y_INT:
		return "an integer";
	case SL__Y_FLOAT:
		return "a number";
	case SL__Y_STR:
		return "a string";
	case SL__Y_SEQ:
		return "a sequence";
	default:
		return "a mapping";
	}
}

/* ---- parse state -------------------------------------------------------------- */

typedef struct frame {
	sl__ynode *node;
	size_t base;        /* index into kids where this collection's children start */
	const char *anchor; /* registered when the collection is complete */
} frame;

typedef struct parser {
	sl__ydoc *d;
	const char *text;
	size_t len;
	const char *what;
	size_t max_nodes;
	size_t n_nodes;
	sl__ynode **kids;
	size_t n_kids, cap_kids;
	frame frames[SL__YAML_MAX_DEPTH + 1];
	size_t depth;
	sl__strtab anchors;
	sl__ynode **anchor_nodes;
	size_t n_anchor_nodes, cap_anchor_nodes;
	int docs;
	/* The block collection most recently closed, for indentation messages. */
	sl__ypos closed;
} parser;

/* Number of UTF-8 characters in s[0..n). */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

static sl__ypos mark_pos(yaml_mark_t m)
{
	sl__ypos p;

	p.line = m.line >= (size_t)INT32_MAX ? INT32_MAX : (int)m.line + 1;
	p.col = m.column >= (size_t)INT32_MAX ? INT32_MAX : (int)m.column + 1;
	return p;
}

static sl__ynode *new_node(parser *p, sl__ykind kind, yaml_mark_t start)
{
	sl__ynode *n;

	if (p->n_nodes >= p->max_nodes) {
		sl__ydoc_fail(p->d, mark_pos(start), "too many YAML nodes (the limit is %zu)",
			      p->max_nodes);
		return NULL;
	}
	n = arena_alloc(&p->d->mem, sizeof *n);
	if (!n) {
		sl__ydoc_oom(p->d);
		return NULL;
	}
	memset(n, 0, sizeof *n);
	n->kind = kind;
	n->pos = mark_pos(start);
	n->weight = 1;
	p->n_nodes++;
	return n;
}

static int push_kid(parser *p, sl__ynode *n)
{
	if (p->n_kids == p->cap_kids) {
		size_t cap = p->cap_kids ? p->cap_kids * 2 : 64;
		sl__ynode **k = sl__reallocarray(p->kids, cap, sizeof *k);
		if (!k)
			return sl__ydoc_oom(p->d);
		p->kids = k;
		p->cap_kids = cap;
	}
	p->kids[p->n_kids++] = n;
	return 0;
}

static int register_anchor(parser *p, const char *name, sl__ynode *n)
{
	if (p->n_anchor_nodes == p->cap_anchor_nodes) {
		size_t cap = p->cap_anchor_nodes ? p->cap_anchor_nodes * 2 : 16;
		sl__ynode **a = sl__reallocarray(p->anchor_nodes, cap, sizeof *a);
		if (!a)
			return sl__ydoc_oom(p->d);
		p->anchor_nodes = a;
		p->cap_anchor_nodes = cap;
	}
	/* A redefined anchor replaces the old one for later aliases (YAML). */
	if (sl__strtab_put(&p->anchors, name, p->n_anchor_nodes, NULL) < 0)
		return sl__ydoc_oom(p->d);
	p->anchor_nodes[p->n_anchor_nodes++] = n;
	return 0;
}

static int parse_tag(parser *p, const yaml_char_t *tag, bool scalar, yaml_mark_t m, ytag *out)
{
	static const struct {
		const char *name;
		ytag tag;
	} known[] = {
		{YAML_STR_TAG, YT_STR},     {YAML_INT_TAG, YT_INT},   {YAML_FLOAT_TAG, YT_FLOAT},
		{YAML_BOOL_TAG, YT_BOOL},   {YAML_NULL_TAG, YT_NULL},
	};
	const char *t = (const char *)tag;

	*out = YT_NONE;
	if (!t)
		return 0;
	if (!strcmp(t, "!")) {
		*out = YT_NONSPECIFIC;
		return 0;
	}
	if (scalar) {
		for (size_t i = 0; i < SL__ARRAY_LEN(known); i++) {
			if (!strcmp(t, known[i].name)) {
				*out = known[i].tag;
				return 0;
			}
		}
	} else if (!strcmp(t, YAML_SEQ_TAG) || !strcmp(t, YAML_MAP_TAG)) {
		return 0;
	}
	return sl__ydoc_fail(p->d, mark_pos(m), "unsupported YAML tag '%.100s'", t);
}

/* Adds a finished node to its parent (or makes it the root). */
static int attach(parser *p, sl__ynode *n)
{
	if (p->depth == 0) {
		p->d->root = n;
		return 0;
	}
	return push_kid(p, n);
}

/* True when the next node attached to the open collection is a mapping key. */
static bool next_is_key(const parser *p)
{
	const frame *f;

	if (p->depth == 0)
		return false;
	f = &p->frames[p->depth - 1];
	return f->node->kind == SL__Y_MAP && (p->n_kids - f->base) % 2 == 0;
}

static int check_map_keys(parser *p, const sl__ynode *m)
{
	size_t pairs = m->n / 2;
	sl__strtab seen = {0};
	int rc = 0;

	for (size_t i = 0; i < m->n; i += 2) {
		const sl__ynode *k = m->kids[i];
		if (!sl__ynode_is_scalar(k))
			return sl__ydoc_fail(p->d, k->pos, "mapping keys must be scalars, not %s",
					     sl__ynode_kind_name(k));
		if (k->plain && !strcmp(k->text, "<<"))
			return sl__ydoc_fail(p->d, k->pos, "merge keys ('<<') are not supported");
	}
	if (pairs <= 16) {
		for (size_t i = 2; i < m->n; i += 2)
			for (size_t j = 0; j < i; j += 2)
				if (!strcmp(m->kids[i]->text, m->kids[j]->text))
					return sl__ydoc_fail(p->d, m->kids[i]->pos,
							     "duplicate key '%.200s' (first defined at "
							     "line %d, column %d)",
							     m->kids[i]->text, m->kids[j]->pos.line,
							     m->kids[j]->pos.col);
		return 0;
	}
	for (size_t i = 0; i < m->n && !rc; i += 2) {
		size_t first;
		int r = sl__strtab_put(&seen, m->kids[i]->text, i, &first);
		if (r < 0)
			rc = sl__ydoc_oom(p->d);
		else if (r == 1)
			rc = sl__ydoc_fail(p->d, m->kids[i]->pos,
					   "duplicate key '%.200s' (first defined at line %d, column %d)",
					   m->kids[i]->text, m->kids[first]->pos.line,
					   m->kids[first]->pos.col);
	}
	sl__strtab_free(&seen);
	return rc;
}

static int on_scalar(parser *p, yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	yaml_scalar_style_t st = ev->data.scalar.style;
	bool plain, key = next_is_key(p);
	sl__ynode *n;
	ytag tag;

	if (parse_tag(p, ev->data.scalar.tag, true, ev->start_mark, &tag))
		return p->d->rc;
	if (memchr(v, '\0', len))
		return sl__ydoc_fail(p->d, mark_pos(ev->start_mark),
				     "NUL characters are not allowed in strings");
	if (!(n = new_node(p, SL__Y_STR, ev->start_mark)))
		return p->d->rc;
	if (!(n->text = arena_strndup(&p->d->mem, v, len)))
		return sl__ydoc_oom(p->d);
	n->len = len;
	plain = ev->data.scalar.plain_implicit && st == YAML_PLAIN_SCALAR_STYLE;
	n->plain = plain && tag == YT_NONE;
	if (ev->start_mark.line == ev->end_mark.line &&
	    (st == YAML_PLAIN_SCALAR_STYLE || st == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	     st == YAML_DOUBLE_QUOTED_SCALAR_STYLE)) {
		size_t lead = st == YAML_PLAIN_SCALAR_STYLE ? 0 : 1;
		/* Escapes and doubled quotes always make the source longer than
		 * the value, so equal lengths mean none were used. */
		if (utf8_chars(v, len) + 2 * lead == ev->end_mark.index - ev->start_mark.index &&
		    !ev->data.scalar.tag) {
			n->exact = true;
			n->lead = (unsigned char)lead;
		}
	}
	if (resolve_node(p->d, n, tag, plain, key))
		return p->d->rc;
	if (ev->data.scalar.anchor) {
		/* The anchor name must outlive the event. */
		const char *a = (const char *)ev->data.scalar.anchor;
		if (!(a = arena_strndup(&p->d->mem, a, strlen(a))))
			return sl__ydoc_oom(p->d);
		if (register_anchor(p, a, n))
			return p->d->rc;
	}
	return attach(p, n);
}

static int on_collection_end(parser *p)
{
	frame *f;
	sl__ynode *n;

	/* libyaml balances start and end events, so the start pushed this frame. */
	SL__ASSERT(p->depth > 0 && p->frames[p->depth - 1].node);
	f = &p->frames[--p->depth];
	n = f->node;
	n->n = p->n_kids - f->base;
	if (n->n) {
		if (n->n > SIZE_MAX / sizeof *n->kids ||
		    !(n->kids = arena_alloc(&p->d->mem, n->n * sizeof *n->kids)))
			return sl__ydoc_oom(p->d);
		memcpy(n->kids, p->kids + f->base, n->n * sizeof *n->kids);
	}
	p->n_kids = f->base;
	if (!n->flow)
		p->closed = n->pos;
	/* Weighing each node as it completes catches an alias bomb here, in
	 * time proportional to the file, before anything expands it. */
	for (size_t i = 0; i < n->n; i++) {
		n->weight += n->kids[i]->weight;
		if (n->weight > p->max_nodes)
			return sl__ydoc_fail(p->d, n->pos, "too many values once aliases are expanded "
							   "(the limit is %zu)",
					     p->max_nodes);
	}
	if (n->kind == SL__Y_MAP && check_map_keys(p, n))
		return p->d->rc;
	if (f->anchor && register_anchor(p, f->anchor, n))
		return p->d->rc;
	return attach(p, n);
}

/* Handles one event. */
static int on_event(parser *p, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++p->docs > 1)
			return sl__ydoc_fail(p->d, mark_pos(ev->start_mark),
					     "only one YAML document is allowed in %s", p->what);
		return 0;
	case YAML_ALIAS_EVENT: {
		size_t idx;
		const char *a = (const char *)ev->data.alias.anchor;
		if (p->n_nodes >= p->max_nodes)
			return sl__ydoc_fail(p->d, mark_pos(ev->start_mark),
					     "too many YAML nodes (the limit is %zu)", p->max_nodes);
		p->n_nodes++;
		/* Anchors are registered only when their node is complete, so an
		 * alias can never point at one of its own ancestors. */
		if (!sl__strtab_get(&p->anchors, a, &idx))
			return sl__ydoc_fail(p->d, mark_pos(ev->start_mark),
					     "unknown or recursive alias '*%.100s'", a);
		SL__ASSERT(idx < p->n_anchor_nodes); /* register_anchor keeps them in step */
		return attach(p, p->anchor_nodes[idx]);
	}
	case YAML_SCALAR_EVENT:
		return on_scalar(p, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		const yaml_char_t *t = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
		const yaml_char_t *a = map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
		sl__ynode *n;
		ytag tag;
		frame *f;
		if (p->depth >= SL__YAML_MAX_DEPTH)
			return sl__ydoc_fail(p->d, mark_pos(ev->start_mark),
					     "nesting deeper than %d levels", SL__YAML_MAX_DEPTH);
		if (parse_tag(p, t, false, ev->start_mark, &tag))
			return p->d->rc;
		if (!(n = new_node(p, map ? SL__Y_MAP : SL__Y_SEQ, ev->start_mark)))
			return p->d->rc;
		n->flow = map ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
			      : ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
		f = &p->frames[p->depth++];
		f->node = n;
		f->base = p->n_kids;
		f->anchor = NULL;
		if (a && !(f->anchor = arena_strndup(&p->d->mem, (const char *)a, strlen((const char *)a))))
			return sl__ydoc_oom(p->d);
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_collection_end(p);
	default:
		return 0;
	}
}

/* ---- syntax errors that say how to fix them (design note 5) --------------------- */

/* Start of line `line` (1-based) in text, or NULL past the end. */
static const char *line_start(const char *text, size_t len, int line)
{
	const char *s = text, *end = text + len;

	for (int l = 1; l < line; l++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			return NULL;
		s = nl + 1;
	}
	return s;
}

/* Indentation (leading spaces) of the line starting at s; -1 when the line
 * is blank or a comment, so it says nothing about structure. */
static int indent_of(const char *s, const char *end)
{
	const char *q = s;

	while (q < end && *q == ' ')
		q++;
	if (q >= end || *q == '\n' || *q == '\r' || *q == '#')
		return -1;
	return (int)(q - s);
}

/* The first key-like word on a line (for messages), into buf. */
static const char *line_word(const char *s, const char *end, char *buf, size_t size)
{
	size_t n = 0;

	while (s < end && (*s == ' ' || *s == '-' || *s == '{' || *s == '['))
		s++;
	while (s < end && n + 1 < size && *s != ':' && *s != '\n' && *s != '\r' && *s != ' ')
		buf[n++] = *s++;
	buf[n] = '\0';
	return buf;
}

/* A tab in the leading white space of line `line`: its column, else 0. */
static int indent_tab(const char *text, size_t len, int line)
{
	const char *s = line_start(text, len, line), *end = text + len;

	for (const char *q = s; q && q < end && (*q == ' ' || *q == '\t'); q++)
		if (*q == '\t')
			return (int)(q - s) + 1;
	return 0;
}

static const char *spaces(int n)
{
	return n == 1 ? "space" : "spaces";
}

/* The previous line that says something about structure, or NULL. */
static const char *prev_content(const char *text, const char *ls, const char *end)
{
	while (ls > text) {
		const char *s = ls - 1;
		while (s > text && s[-1] != '\n')
			s--;
		if (indent_of(s, end) >= 0)
			return s;
		ls = s;
	}
	return NULL;
}

/* The smallest indentation the file uses: its indentation step. */
static int indent_step(const char *text, const char *end)
{
	int step = 0;

	for (const char *s = text; s && s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		int i = indent_of(s, end);
		if (i > 0 && (step == 0 || i < step))
			step = i;
		s = nl ? nl + 1 : NULL;
	}
	return step;
}

/*
 * "mapping values are not allowed in this context" on a line whose key
 * continues the plain value of the key on the line before: that line is
 * indented more than the key above it, so libyaml read it as part of the
 * value and only choked at its ':', a line late. Either the key above is
 * under-indented or this line is over-indented. When the key above is the
 * first of its mapping (so it set the mapping's indentation), the lines
 * that follow, or the file's indentation step, tell which; the message
 * names that line.
 */
static bool continued_key(parser *p, sl__ypos at)
{
	const char *end = p->text + p->len, *ls, *ks, *ps;
	int ind, kind, parent = -1, next = -1, step, kline;
	bool key_wrong = false;
	char w1[64], w2[64];

	ls = line_start(p->text, p->len, at.line);
	if (!ls || (ind = indent_of(ls, end)) < 0 || !(ks = prev_content(p->text, ls, end)) ||
	    (kind = indent_of(ks, end)) < 0 || kind >= ind)
		return false;
	/* The line above must be KEY: VALUE with a plain value on it. */
	{
		const char *nl = memchr(ks, '\n', (size_t)(end - ks)), *le = nl ? nl : end;
		const char *colon = ks + kind;
		while (colon < le && !(colon[0] == ':' && (colon + 1 == le || colon[1] == ' ')))
			colon++;
		if (colon >= le || colon + 1 >= le)
			return false;
		for (const char *q = colon + 1; q < le; q++)
			if (*q != ' ' && (*q == '|' || *q == '>' || *q == '[' || *q == '{' || *q == '#' ||
					  *q == '"' || *q == '\''))
				return false;
			else if (*q != ' ')
				break;
	}
	kline = at.line;
	for (const char *q = ks; q < ls; q++)
		if (*q == '\n')
			kline--;
	if ((ps = prev_content(p->text, ks, end)))
		parent = indent_of(ps, end);
	if (parent < kind) {
		/* The key above is the first of its mapping: who is wrong? */
		for (const char *s = ls, *nl; (nl = memchr(s, '\n', (size_t)(end - s))) != NULL;) {
			s = nl + 1;
			if ((next = indent_of(s, end)) >= 0 && next <= ind)
				break;
			next = -1;
		}
		step = indent_step(p->text, end);
		key_wrong = next == ind ||
			    (parent >= 0 && step > 0 && ind - parent == step && kind - parent != step);
	}
	line_word(ks, end, w1, sizeof w1);
	line_word(ls, end, w2, sizeof w2);
	if (key_wrong)
		return sl__ydoc_fail(p->d, (sl__ypos){kline, kind + 1},
				     "bad indentation: '%s' is indented %d %s but the keys after it "
				     "(line %d) are indented %d, so '%s' is read as part of the value "
				     "of '%s'; indent the keys of one mapping alike",
				     w1, kind, spaces(kind), at.line, ind, w2, w1) != 0;
	return sl__ydoc_fail(p->d, (sl__ypos){at.line, ind + 1},
			     "bad indentation: '%s' is indented %d %s, more than '%s' on line %d "
			     "(%d), so it is read as part of the value of '%s'; indent it like '%s'",
			     w2, ind, spaces(ind), w1, kline, kind, w1, w1) != 0;
}

/*
 * "did not find expected key" (or '-' indicator) at a line whose
 * indentation lines up with no open block: name the indentations it could
 * have had.
 */
static bool misaligned_line(parser *p, sl__ypos at)
{
	const char *end = p->text + p->len, *ls = line_start(p->text, p->len, at.line);
	int ind, below = -1, above = -1, below_line = 0, above_line = 0;
	char w[64];

	if (!ls || (ind = indent_of(ls, end)) < 0 || at.col != ind + 1)
		return false;
	for (size_t k = 0; k <= p->depth; k++) {
		sl__ypos c;
		if (k < p->depth) {
			if (p->frames[k].node->flow)
				return false;
			c = p->frames[k].node->pos;
		} else {
			c = p->closed;
		}
		if (c.line <= 0)
			continue;
		if (c.col - 1 < ind && c.col - 1 > below) {
			below = c.col - 1;
			below_line = c.line;
		} else if (c.col - 1 > ind && (above < 0 || c.col - 1 < above)) {
			above = c.col - 1;
			above_line = c.line;
		}
	}
	if (below < 0 && above < 0)
		return false;
	line_word(ls, end, w, sizeof w);
	if (above >= 0 && below >= 0)
		return sl__ydoc_fail(p->d, at,
				     "bad indentation: '%s' is indented %d %s, which lines up with no "
				     "mapping around it: the keys at line %d are indented %d and those "
				     "at line %d are indented %d",
				     w, ind, spaces(ind), above_line, above, below_line, below) != 0;
	return sl__ydoc_fail(p->d, at,
			     "bad indentation: '%s' is indented %d %s, which lines up with no "
			     "mapping around it: the keys at line %d are indented %d",
			     w, ind, spaces(ind), above >= 0 ? above_line : below_line, above >= 0 ? above : below) != 0;
}

static int yaml_failure(parser *p, const yaml_parser_t *yp)
{
	const char *problem = yp->problem ? yp->problem : "syntax error";
	sl__ypos pos;
	int tab;

	if (yp->error == YAML_MEMORY_ERROR)
		return sl__ydoc_oom(p->d);
	if (yp->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		size_t off = yp->problem_offset < p->len ? yp->problem_offset : p->len;
		size_t ls = 0;
		int line = 1;
		for (size_t i = 0; i < off; i++) {
			if (p->text[i] == '\n') {
				line++;
				ls = i + 1;
			}
		}
		pos.line = line;
		pos.col = (int)utf8_chars(p->text + ls, off - ls) + 1;
		if (yp->problem_value >= 0)
			return sl__ydoc_fail(p->d, pos, "invalid YAML: %s (byte 0x%02x)",
					     yp->problem ? yp->problem : "unreadable input",
					     (unsigned)yp->problem_value & 0xffu);
		return sl__ydoc_fail(p->d, pos, "invalid YAML: %s",
				     yp->problem ? yp->problem : "unreadable input");
	}
	pos = mark_pos(yp->problem_mark);
	if ((tab = indent_tab(p->text, p->len, pos.line)) > 0)
		return sl__ydoc_fail(p->d, (sl__ypos){pos.line, tab},
				     "tab used for indentation; use spaces");
	if (yp->problem_mark.index < p->len && p->text[yp->problem_mark.index] == '\t')
		return sl__ydoc_fail(p->d, pos, "tab character where YAML allows none; use spaces");
	if (!strcmp(problem, "mapping values are not allowed in this context") &&
	    continued_key(p, pos))
		return p->d->rc;
	if ((!strcmp(problem, "did not find expected key") ||
	     !strcmp(problem, "did not find expected '-' indicator")) &&
	    misaligned_line(p, pos))
		return p->d->rc;
	if (yp->context)
		return sl__ydoc_fail(p->d, pos, "invalid YAML: %s (%s started at line %d, column %d)",
				     problem, yp->context, mark_pos(yp->context_mark).line,
				     mark_pos(yp->context_mark).col);
	return sl__ydoc_fail(p->d, pos, "invalid YAML: %s", problem);
}

/* ---- entry points --------------------------------------------------------------- */

int sl__yaml_parse(const char *text, size_t len, const sl__yaml_opts *opts, sl__ydoc **out)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	parser p;
	sl__ydoc *d;
	bool done = false;
	int rc;

	*out = NULL;
	if (opts && opts->err)
		memset(opts->err, 0, sizeof *opts->err);
	if (!(d = sl__calloc(1, sizeof *d)) ||
	    !(d->name = sl__strdup(opts && opts->name ? opts->name : "<string>"))) {
		sl__free(d);
		if (opts && opts->err) {
			opts->err->rc = SL_ENOMEM;
			snprintf(opts->err->msg, sizeof opts->err->msg, "out of memory");
		}
		return sl__err(SL_ENOMEM, "out of memory");
	}
	d->code = opts && opts->code ? opts->code : SL_EPARSE;
	d->budget = opts && opts->max_nodes ? opts->max_nodes : SL__YAML_MAX_NODES;
	memset(&p, 0, sizeof p);
	p.d = d;
	p.text = text;
	p.len = len;
	p.what = opts && opts->what ? opts->what : "a YAML file";
	p.max_nodes = d->budget;
	if (!yaml_parser_initialize(&yp)) {
		sl__ydoc_oom(d);
	} else {
		yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
		while (!done && !d->rc) {
			if (!yaml_parser_parse(&yp, &ev)) {
				yaml_failure(&p, &yp);
				break;
			}
			done = ev.type == YAML_STREAM_END_EVENT;
			on_event(&p, &ev);
			yaml_event_delete(&ev);
		}
		yaml_parser_delete(&yp);
	}
	/* Frames left open after an error are simply abandoned: their nodes
	 * live in the arena. */
	sl__free(p.kids);
	sl__free(p.anchor_nodes);
	sl__strtab_free(&p.anchors);
	if ((rc = d->rc)) {
		if (opts && opts->err) {
			opts->err->rc = rc;
			opts->err->pos = d->epos;
			snprintf(opts->err->msg, sizeof opts->err->msg, "%s", d->emsg);
		}
		sl__ydoc_raise(d);
		sl__ydoc_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int sl__yaml_load_file(const char *path, const sl__yaml_opts *opts, sl__ydoc **out)
{
	sl__yaml_opts o;
	sl__buf b;
	int rc;

	*out = NULL;
	if (opts)
		o = *opts;
	else
		memset(&o, 0, sizeof o);
	if (!o.name)
		o.name = path;
	rc = sl__read_file(path, SL__YAML_MAX_FILE, &b);
	if (rc == SL_ENOMEM)
		return sl__err(rc, "%s: out of memory", o.name);
	if (rc == SL_ELIMIT)
		return sl__err(o.code ? o.code : SL_EPARSE, "%s: larger than the limit of %zu MiB",
			       o.name, SL__YAML_MAX_FILE >> 20);
	if (rc)
		return rc;
	rc = sl__yaml_parse(b.data ? b.data : "", b.len, &o, out);
	sl__buf_free(&b);
	return rc;
}

/* ---- reading the tree ------------------------------------------------------------ */

const sl__ynode *sl__ymap_get(const sl__ynode *m, const char *key, const sl__ynode **out_key)
{
	if (out_key)
		*out_key = NULL;
	if (!m || m->kind != SL__Y_MAP)
		return NULL;
	for (size_t i = 0; i < m->n; i += 2) {
		if (!strcmp(m->kids[i]->text, key)) {
			if (out_key)
				*out_key = m->kids[i];
			return m->kids[i + 1];
		}
	}
	return NULL;
}

sl__ypos sl__ynode_pos_at(const sl__ynode *n, size_t off)
{
	sl__ypos pos = n->pos;

	if (n->exact && n->text && off <= n->len)
		pos.col += n->lead + (int)utf8_chars(n->text, off);
	return pos;
}

/* ---- paths ------------------------------------------------------------------------- */

bool sl__ypath_plain(const char *k)
{
	if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_'))
		return false;
	for (k++; *k; k++)
		if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return false;
	return true;
}

int sl__ypath_key(sl__buf *b, const char *key)
{
	int rc = 0;

	if (sl__ypath_plain(key))
		return b->len ? sl__buf_printf(b, ".%s", key) : sl__buf_puts(b, key);
	rc = sl__buf_puts(b, "[\"");
	for (const char *k = key; !rc && *k; k++) {
		if (*k == '"' || *k == '\\')
			rc = sl__buf_putc(b, '\\');
		if (!rc)
			rc = sl__buf_putc(b, *k);
	}
	return rc ? rc : sl__buf_puts(b, "\"]");
}

int sl__ypath_index(sl__buf *b, size_t i)
{
	char tmp[24], *p = tmp + sizeof tmp;

	/* By hand: this runs for every item converted with positions. */
	*--p = ']';
	do
		*--p = (char)('0' + i % 10);
	while ((i /= 10) != 0);
	*--p = '[';
	return sl__buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

/*
 * One component of a path: a key (unescaped into key, up to size - 1
 * bytes) or an index. Returns the rest of the path, or NULL when the path
 * is malformed or exhausted.
 */
typedef struct ycomp {
	bool is_index;
	size_t index;
	char key[256];
} ycomp;

static const char *path_next(const char *s, ycomp *c)
{
	size_t n = 0;

	if (!s || !*s)
		return NULL;
	if (*s == '.')
		s++;
	if (s[0] == '[' && s[1] == '"') {
		s += 2;
		while (*s && *s != '"') {
			if (*s == '\\' && s[1])
				s++;
			if (n + 1 < sizeof c->key)
				c->key[n++] = *s;
			s++;
		}
		if (s[0] != '"' || s[1] != ']')
			return NULL;
		c->key[n] = '\0';
		c->is_index = false;
		return s + 2;
	}
	if (*s == '[') {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s + 1, &end, 10);
		if (end == s + 1 || *end != ']' || errno)
			return NULL;
		c->is_index = true;
		c->index = (size_t)v;
		return end + 1;
	}
	while (*s && *s != '.' && *s != '[') {
		if (n + 1 < sizeof c->key)
			c->key[n++] = *s;
		s++;
	}
	if (!n)
		return NULL;
	c->key[n] = '\0';
	c->is_index = false;
	return s;
}

json_t *sl__ypath_json(const json_t *root, const char *path)
{
	const json_t *v = root;
	ycomp c;

	for (const char *s = path; v && s && *s;) {
		if (!(s = path_next(s, &c)))
			return NULL;
		if (c.is_index)
			v = json_is_array(v) ? json_array_get(v, c.index) : NULL;
		else
			v = json_is_object(v) ? json_object_get(v, c.key) : NULL;
	}
	return (json_t *)v;
}

const sl__ynode *sl__ynode_at(const sl__ynode *n, const char *path)
{
	ycomp c;

	for (const char *s = path; n && s && *s;) {
		if (!(s = path_next(s, &c)))
			return NULL;
		if (c.is_index)
			n = n->kind == SL__Y_SEQ && c.index < n->n ? n->kids[c.index] : NULL;
		else
			n = sl__ymap_get(n, c.key, NULL);
	}
	return n;
}

/* ---- position maps ------------------------------------------------------------------- */

struct sl__ypmap {
	arena mem;        /* paths and literals */
	sl__strtab index; /* path -> entry */
	sl__yloc *locs;
	size_t n, cap;
};

int sl__ypmap_new(sl__ypmap **out)
{
	*out = sl__calloc(1, sizeof **out);
	return *out ? 0 : sl__err(SL_ENOMEM, "out of memory");
}

void sl__ypmap_free(sl__ypmap *m)
{
	if (!m)
		return;
	arena_free(&m->mem);
	sl__strtab_free(&m->index);
	sl__free(m->locs);
	sl__free(m);
}

size_t sl__ypmap_count(const sl__ypmap *m)
{
	return m ? m->n : 0;
}

static int pmap_put(sl__ypmap *m, const char *path, size_t plen, const sl__ynode *n,
		    const sl__ynode *key)
{
	sl__yloc *l;
	char *p;
	int r;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		sl__yloc *locs = sl__reallocarray(m->locs, cap, sizeof *locs);
		if (!locs)
			return SL_ENOMEM;
		m->locs = locs;
		m->cap = cap;
	}
	if (!(p = arena_strndup(&m->mem, path, plen)))
		return SL_ENOMEM;
	l = &m->locs[m->n];
	memset(l, 0, sizeof *l);
	l->pos = n->pos;
	if (key)
		l->key = key->pos;
	l->exact = n->exact;
	l->lead = n->lead;
	if (n->plain && (n->kind == SL__Y_INT || n->kind == SL__Y_FLOAT || n->kind == SL__Y_BOOL ||
			 n->kind == SL__Y_NULL) &&
	    !(l->literal = arena_strndup(&m->mem, n->text, n->len)))
		return SL_ENOMEM;
	/* An alias expanded twice records the same path once (the first). */
	r = sl__strtab_put(&m->index, p, m->n, NULL);
	if (r < 0)
		return SL_ENOMEM;
	if (r == 0)
		m->n++;
	return 0;
}

long sl__ypmap_find(const sl__ypmap *m, const char *path, sl__yloc *out)
{
	char buf[1024];
	size_t ends[SL__YAML_MAX_DEPTH * 2 + 2], n_ends = 0, idx;
	const char *s = path;
	ycomp c;

	if (!m)
		return -1;
	/* The end offset of every component prefix, shortest first. */
	ends[n_ends++] = 0;
	while (s && *s && n_ends < SL__ARRAY_LEN(ends)) {
		s = path_next(s, &c);
		if (s)
			ends[n_ends++] = (size_t)(s - path);
	}
	for (size_t k = n_ends; k-- > 0;) {
		if (ends[k] >= sizeof buf)
			continue;
		memcpy(buf, path, ends[k]);
		buf[ends[k]] = '\0';
		if (sl__strtab_get(&m->index, buf, &idx)) {
			if (out)
				*out = m->locs[idx];
			return (long)ends[k];
		}
	}
	return -1;
}

/* ---- tree -> JSON ------------------------------------------------------------------- */

const char *sl__json_kind(const json_t *v)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a sequence";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

typedef struct conv {
	sl__ydoc *d;
	const sl__yjson *o;
	sl__buf path;
} conv;

static json_t *default_scalar(conv *c, const sl__ynode *n)
{
	switch (n->kind) {
	case SL__Y_NULL:
		return json_null();
	case SL__Y_BOOL:
		return json_boolean(n->b);
	case SL__Y_INT:
		return json_integer((json_int_t)n->i);
	case SL__Y_FLOAT:
		if (isfinite(n->d))
			return json_real(n->d);
		if (c->o->flags & SL__YJSON_NONFINITE_TEXT)
			return json_string(isnan(n->d) ? "NaN" : n->d > 0 ? "Inf" : "-Inf");
		sl__ydoc_fail(c->d, n->pos,
			      "'%.100s' is %s, which cannot be used here (infinite and NaN numbers "
			      "have no JSON form); quote it for a string",
			      n->text, isnan(n->d) ? "not a number" : "infinite");
		return NULL;
	default:
		return json_stringn(n->text, n->len);
	}
}

static int conv_node(conv *c, const sl__ynode *n, const sl__ynode *key, int depth, json_t **out)
{
	sl__ydoc *d = c->d;
	size_t mark = c->path.len;
	json_t *j = NULL;
	int rc;

	*out = NULL;
	if (d->budget == 0)
		return sl__ydoc_fail(d, n->pos, "document expands to too many values (aliases?)");
	d->budget--;
	if (depth > SL__YAML_MAX_DEPTH)
		return sl__ydoc_fail(d, n->pos, "nesting deeper than %d levels (aliases?)",
				     SL__YAML_MAX_DEPTH);
	if (c->o->pmap && pmap_put(c->o->pmap, c->path.data ? c->path.data : "", c->path.len, n, key))
		return sl__ydoc_oom(d);
	if (sl__ynode_is_scalar(n)) {
		if (c->o->scalar) {
			rc = c->o->scalar(c->o->arg, d, n, c->path.data ? c->path.data : "", &j);
			if (rc < 0)
				return d->rc ? d->rc : sl__ydoc_oom(d);
			if (rc > 0) {
				*out = j;
				return j ? 0 : sl__ydoc_oom(d);
			}
		}
		if (!(j = default_scalar(c, n)))
			return d->rc ? d->rc : sl__ydoc_oom(d);
		*out = j;
		return 0;
	}
	if (!(j = n->kind == SL__Y_MAP ? json_object() : json_array()))
		return sl__ydoc_oom(d);
	for (size_t i = 0; i < n->n; i += n->kind == SL__Y_MAP ? 2 : 1) {
		const sl__ynode *k = n->kind == SL__Y_MAP ? n->kids[i] : NULL;
		const sl__ynode *v = k ? n->kids[i + 1] : n->kids[i];
		json_t *jv;
		rc = k ? sl__ypath_key(&c->path, k->text) : sl__ypath_index(&c->path, i);
		if (rc) {
			json_decref(j);
			return sl__ydoc_oom(d);
		}
		rc = conv_node(c, v, k, depth + 1, &jv);
		c->path.len = mark;
		if (c->path.data)
			c->path.data[mark] = '\0';
		if (rc || (k ? json_object_set_new(j, k->text, jv) : json_array_append_new(j, jv))) {
			json_decref(j);
			return d->rc ? d->rc : sl__ydoc_oom(d);
		}
	}
	*out = j;
	return 0;
}

int sl__yaml_json(sl__ydoc *d, const sl__ynode *n, const sl__yjson *o, json_t **out)
{
	static const sl__yjson none;
	conv c;
	int rc;

	*out = NULL;
	c.d = d;
	c.o = o ? o : &none;
	sl__buf_init(&c.path, 0);
	if (c.o->root && *c.o->root && sl__buf_puts(&c.path, c.o->root)) {
		sl__buf_free(&c.path);
		return sl__ydoc_oom(d);
	}
	rc = conv_node(&c, n, NULL, 0, out);
	sl__buf_free(&c.path);
	return rc;
}

/* Converts d's whole document (an empty object when it has none). */
int sl__ydoc_json(sl__ydoc *d, unsigned flags, json_t **out_json, sl__ypmap **out_pmap)
{
	sl__ypmap *pm = NULL;
	sl__yjson o;
	int rc = 0;

	if (out_pmap && (rc = sl__ypmap_new(&pm)))
		return rc;
	memset(&o, 0, sizeof o);
	o.flags = flags;
	o.pmap = pm;
	if (!d->root)
		rc = (*out_json = json_object()) ? 0 : sl__err(SL_ENOMEM, "out of memory");
	else if (sl__yaml_json(d, d->root, &o, out_json))
		rc = sl__ydoc_raise(d);
	if (rc) {
		sl__ypmap_free(pm);
		return rc;
	}
	if (out_pmap)
		*out_pmap = pm;
	return 0;
}

int sl__yaml_parse_json(const char *text, size_t len, const sl__yaml_opts *opts, unsigned flags,
			json_t **out_json, sl__ypmap **out_pmap)
{
	sl__ydoc *d = NULL;
	int rc;

	*out_json = NULL;
	if (out_pmap)
		*out_pmap = NULL;
	if ((rc = sl__yaml_parse(text, len, opts, &d)))
		return rc;
	rc = sl__ydoc_json(d, flags, out_json, out_pmap);
	sl__ydoc_free(d);
	return rc;
}

int sl__yaml_load_json(const char *path, unsigned flags, json_t **out_json, sl__ypmap **out_pmap)
{
	sl__ydoc *d = NULL;
	int rc;

	*out_json = NULL;
	if (out_pmap)
		*out_pmap = NULL;
	if ((rc = sl__yaml_load_file(path, NULL, &d)))
		return rc;
	rc = sl__ydoc_json(d, flags, out_json, out_pmap);
	sl__ydoc_free(d);
	return rc;
}
