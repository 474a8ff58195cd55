/*
 * The pipeline file parser and validator (the format is described in
 * spec.h and, for users, in docs/pipeline.md).
 *
 * Parsing happens in two stages. First libyaml's event stream is turned into
 * a small tree of nodes that keep their line and column (libyaml's document
 * API would do the same but cannot reject duplicate keys or bound aliases).
 * Then the tree is read into a `spec`: keys are checked against fixed
 * tables, scalars become typed JSON (YAML 1.2 core schema), options of
 * built-in steps are checked and coerced against the step's schema,
 * ${params.X} is substituted, and input references are resolved. dag.c then
 * orders the steps and rejects cycles.
 *
 * Design notes (invariants kept here):
 *
 *   1. The first error wins: fail() records one position and message and
 *      later calls are ignored, so unwinding code can report freely. The
 *      public message "FILE:LINE:COL: text" is formatted once, at the end.
 *   2. The tree lives in an arena freed in one go; the spec owns plain
 *      sl__malloc copies, so nothing in a spec points into the tree.
 *   3. Hostile input is bounded: nesting deeper than SPEC_MAX_DEPTH and more
 *      than SPEC_MAX_NODES tree nodes are rejected while parsing, and an
 *      alias is a pointer to an already complete node (never a copy, never
 *      an ancestor), so "billion laughs" costs nothing until it is turned
 *      into JSON, where the count of produced values is bounded as well.
 *   4. Nothing in the hot path is quadratic: step names, parameters and
 *      anchors are found through hash tables, and duplicate keys in large
 *      mappings are detected with one too.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "pipeline/spec.h"

#define SPEC_MAX_DEPTH 64
#define SPEC_MAX_NODES 1000000
#define SPEC_MAX_FILE ((size_t)16 << 20)
#define SPEC_MSG_MAX 900

/* ---- small helpers --------------------------------------------------------- */

/* Step and parameter names: [A-Za-z_][A-Za-z0-9_-]*. */
static bool is_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* Output, input and environment names: [A-Za-z_][A-Za-z0-9_]* (they become
 * parts of environment variable names, where '-' is not allowed). */
static bool is_ident_n(const char *s, size_t n)
{
	if (n == 0 || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool is_ident(const char *s)
{
	return is_ident_n(s, strlen(s));
}

/* Number of UTF-8 characters in s[0..n), for columns (libyaml counts
 * characters, not bytes). */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/*
 * Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions, so "inptus" is one edit from "inputs"). Only used to
 * suggest a name after an error, so long strings simply do not match.
 */
static size_t edit_distance(const char *a, const char *b)
{
	enum { MAXL = 64 };
	size_t la = strlen(a), lb = strlen(b);
	size_t d[MAXL + 1][MAXL + 1];

	if (la > MAXL || lb > MAXL)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The suggestion engine: feed candidates, then read best. */
typedef struct suggest {
	const char *word;
	const char *best;
	size_t dist;
} suggest;

static void suggest_init(suggest *sg, const char *word)
{
	sg->word = word;
	sg->best = NULL;
	sg->dist = SIZE_MAX;
}

static void suggest_add(suggest *sg, const char *cand)
{
	size_t d = edit_distance(sg->word, cand);
	size_t lc = strlen(cand);
	/* Close enough to be a typo: at most 2 edits, and fewer edits than the
	 * candidate has characters (so "x" does not suggest "y"). */
	size_t limit = lc <= 3 ? 1 : 2;

	if (d <= limit && d < sg->dist) {
		sg->best = cand;
		sg->dist = d;
	}
}

/* Hands over b's text as a new string ("" when nothing was written), or NULL
 * when out of memory (b is freed either way). */
static char *buf_take(sl__buf *b)
{
	if (!b->data) {
		if (sl__buf_reserve(b, 0))
			return NULL;
		b->data[0] = '\0';
	}
	return sl__buf_detach(b);
}

/* ---- hash table: string -> index ------------------------------------------ */

/*
 * Open addressing with linear probing; keys are borrowed (they must outlive
 * the table). Used for step names, parameters, anchors and duplicate keys.
 */
typedef struct strtab {
	const char **keys;
	size_t *vals;
	size_t cap; /* a power of two, or 0 */
	size_t n;
} strtab;

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void strtab_free(strtab *t)
{
	sl__free(t->keys);
	sl__free(t->vals);
	memset(t, 0, sizeof *t);
}

static int strtab_grow(strtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	const char **keys;
	size_t *vals;

	if (cap > SIZE_MAX / sizeof *vals / 2)
		return SL_ENOMEM;
	keys = sl__calloc(cap, sizeof *keys);
	vals = sl__calloc(cap, sizeof *vals);
	if (!keys || !vals) {
		sl__free(keys);
		sl__free(vals);
		return SL_ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->keys[i])
			continue;
		size_t j = (size_t)str_hash(t->keys[i]) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = t->keys[i];
		vals[j] = t->vals[i];
	}
	sl__free(t->keys);
	sl__free(t->vals);
	t->keys = keys;
	t->vals = vals;
	t->cap = cap;
	return 0;
}

static bool strtab_get(const strtab *t, const char *key, size_t *out)
{
	if (!t->cap)
		return false;
	for (size_t j = (size_t)str_hash(key) & (t->cap - 1); t->keys[j]; j = (j + 1) & (t->cap - 1)) {
		if (!strcmp(t->keys[j], key)) {
			if (out)
				*out = t->vals[j];
			return true;
		}
	}
	return false;
}

/*
 * Sets key to val. *out_old receives the previous value and the return is 1
 * when the key was present (the value is replaced); 0 when added.
 */
static int strtab_put(strtab *t, const char *key, size_t val, size_t *out_old)
{
	size_t j;

	if ((t->n + 1) * 4 > t->cap * 3 && strtab_grow(t))
		return SL_ENOMEM;
	for (j = (size_t)str_hash(key) & (t->cap - 1); t->keys[j]; j = (j + 1) & (t->cap - 1)) {
		if (!strcmp(t->keys[j], key)) {
			if (out_old)
				*out_old = t->vals[j];
			t->vals[j] = val;
			return 1;
		}
	}
	t->keys[j] = key;
	t->vals[j] = val;
	t->n++;
	return 0;
}

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
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

static void arena_free(arena *a)
{
	for (arena_blk *b = a->head, *next; b; b = next) {
		next = b->next;
		sl__free(b);
	}
	a->head = NULL;
}

/* ---- the YAML tree ---------------------------------------------------------- */

typedef enum yn_type { YN_SCALAR, YN_SEQ, YN_MAP } yn_type;

/* Explicit tags we understand; anything else is rejected. */
typedef enum yn_tag { YT_NONE, YT_STR, YT_INT, YT_FLOAT, YT_BOOL, YT_NULL } yn_tag;

typedef struct ynode ynode;
struct ynode {
	yn_type type;
	yn_tag tag;
	bool plain;   /* a plain (unquoted, untagged) scalar: resolved by the core schema */
	bool exact;   /* the scalar's text sits on one source line as written, so a
		       * character offset into it is a column offset */
	int lead;     /* columns between pos and the text (1 for a quote) */
	spec_pos pos; /* where the node starts */
	const char *text; /* scalars: NUL-terminated; len excludes the NUL */
	size_t len;
	ynode **kids; /* sequences: items; mappings: key, value, key, value ... */
	size_t n;     /* number of kids */
	size_t weight; /* values in the node once aliases are expanded */
};

/* What a scalar resolves to. */
typedef enum sv_kind { SV_STR, SV_INT, SV_REAL, SV_BOOL, SV_NULL } sv_kind;

typedef struct scalar_val {
	sv_kind kind;
	long long i;
	double d;
	bool b;
} scalar_val;

/* ---- parse state ------------------------------------------------------------ */

typedef struct frame {
	ynode *node;
	size_t base;       /* index into kids where this collection's children start */
	const char *anchor; /* registered when the collection is complete */
} frame;

typedef struct parser {
	const char *disp; /* the file name used in messages */
	arena mem;

	/* error state: the first failure wins */
	int rc;
	spec_pos epos;
	char emsg[SPEC_MSG_MAX];

	/* tree building */
	size_t n_nodes;
	ynode **kids;
	size_t n_kids, cap_kids;
	frame frames[SPEC_MAX_DEPTH + 1];
	size_t depth;
	strtab anchors;
	ynode **anchor_nodes;
	size_t n_anchor_nodes, cap_anchor_nodes;

	/* reading */
	size_t json_budget; /* JSON values still allowed (alias expansion bound) */
	spec *s;
	strtab steps;  /* step name -> index */
	strtab params; /* parameter name -> index */
	spec_pos params_pos;
} parser;

typedef struct spec_full {
	spec pub;
	strtab index; /* step name -> index, for spec_step_index */
} spec_full;

static spec_pos mark_pos(yaml_mark_t m)
{
	spec_pos p;

	p.line = m.line >= (size_t)INT32_MAX ? INT32_MAX : (int)m.line + 1;
	p.col = m.column >= (size_t)INT32_MAX ? INT32_MAX : (int)m.column + 1;
	return p;
}

static int fail(parser *p, spec_pos pos, const char *fmt, ...) SL__PRINTF(3, 4);

static int fail(parser *p, spec_pos pos, const char *fmt, ...)
{
	va_list ap;

	if (p->rc)
		return p->rc;
	p->rc = SL_ESPEC;
	p->epos = pos;
	va_start(ap, fmt);
	vsnprintf(p->emsg, sizeof p->emsg, fmt, ap);
	va_end(ap);
	return SL_ESPEC;
}
/* fail returns p->rc, which is only ever set to a (negative) code: see SL__ERR_CODE. */
#define fail(...) SL__ERR_CODE(fail(__VA_ARGS__))

static int oom(parser *p)
{
	if (!p->rc) {
		p->rc = SL_ENOMEM;
		snprintf(p->emsg, sizeof p->emsg, "out of memory");
	}
	return p->rc;
}

static const char *node_kind(const ynode *n);

/* ---- events -> tree --------------------------------------------------------- */

static ynode *new_node(parser *p, yn_type type, yaml_mark_t start)
{
	ynode *n;

	if (p->n_nodes >= SPEC_MAX_NODES) {
		fail(p, mark_pos(start), "too many YAML nodes (the limit is %d)", SPEC_MAX_NODES);
		return NULL;
	}
	n = arena_alloc(&p->mem, sizeof *n);
	if (!n) {
		oom(p);
		return NULL;
	}
	memset(n, 0, sizeof *n);
	n->type = type;
	n->pos = mark_pos(start);
	n->weight = 1;
	p->n_nodes++;
	return n;
}

static int push_kid(parser *p, ynode *n)
{
	if (p->n_kids == p->cap_kids) {
		size_t cap = p->cap_kids ? p->cap_kids * 2 : 64;
		ynode **k = sl__reallocarray(p->kids, cap, sizeof *k);
		if (!k)
			return oom(p);
		p->kids = k;
		p->cap_kids = cap;
	}
	p->kids[p->n_kids++] = n;
	return 0;
}

static const char *arena_strndup(parser *p, const char *s, size_t n)
{
	char *d = arena_alloc(&p->mem, n + 1);

	if (!d) {
		oom(p);
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int register_anchor(parser *p, const char *name, ynode *n)
{
	int rc;

	if (p->n_anchor_nodes == p->cap_anchor_nodes) {
		size_t cap = p->cap_anchor_nodes ? p->cap_anchor_nodes * 2 : 16;
		ynode **a = sl__reallocarray(p->anchor_nodes, cap, sizeof *a);
		if (!a)
			return oom(p);
		p->anchor_nodes = a;
		p->cap_anchor_nodes = cap;
	}
	/* A redefined anchor replaces the old one for later aliases (YAML). */
	rc = strtab_put(&p->anchors, name, p->n_anchor_nodes, NULL);
	if (rc < 0)
		return oom(p);
	p->anchor_nodes[p->n_anchor_nodes++] = n;
	return 0;
}

static int parse_tag(parser *p, const yaml_char_t *tag, bool scalar, yaml_mark_t m, yn_tag *out)
{
	const char *t = (const char *)tag;

	*out = YT_NONE;
	if (!t || !strcmp(t, "!"))
		return 0;
	if (scalar) {
		static const struct {
			const char *name;
			yn_tag tag;
		} known[] = {
			{YAML_STR_TAG, YT_STR},     {YAML_INT_TAG, YT_INT},
			{YAML_FLOAT_TAG, YT_FLOAT}, {YAML_BOOL_TAG, YT_BOOL},
			{YAML_NULL_TAG, YT_NULL},
		};
		for (size_t i = 0; i < SL__ARRAY_LEN(known); i++) {
			if (!strcmp(t, known[i].name)) {
				*out = known[i].tag;
				return 0;
			}
		}
	} else if (!strcmp(t, YAML_SEQ_TAG) || !strcmp(t, YAML_MAP_TAG)) {
		return 0;
	}
	return fail(p, mark_pos(m), "unsupported YAML tag '%.100s'", t);
}

/* Adds a finished node to its parent (or makes it the root). */
static int attach(parser *p, ynode *n, ynode **root)
{
	if (p->depth == 0) {
		*root = n;
		return 0;
	}
	return push_kid(p, n);
}

static int check_map_keys(parser *p, ynode *m)
{
	size_t pairs = m->n / 2;
	int rc = 0;

	for (size_t i = 0; i < m->n; i += 2) {
		const ynode *k = m->kids[i];
		if (k->type != YN_SCALAR)
			return fail(p, k->pos, "mapping keys must be scalars, not %s", node_kind(k));
		if (k->plain && !strcmp(k->text, "<<"))
			return fail(p, k->pos, "merge keys ('<<') are not supported");
	}
	if (pairs <= 16) {
		for (size_t i = 2; i < m->n; i += 2)
			for (size_t j = 0; j < i; j += 2)
				if (!strcmp(m->kids[i]->text, m->kids[j]->text))
					return fail(p, m->kids[i]->pos,
						    "duplicate key '%.200s' (first defined at line %d, column %d)",
						    m->kids[i]->text, m->kids[j]->pos.line, m->kids[j]->pos.col);
		return 0;
	}
	strtab seen = {0};
	for (size_t i = 0; i < m->n && !rc; i += 2) {
		size_t first;
		int r = strtab_put(&seen, m->kids[i]->text, i, &first);
		if (r < 0)
			rc = oom(p);
		else if (r == 1)
			rc = fail(p, m->kids[i]->pos,
				  "duplicate key '%.200s' (first defined at line %d, column %d)",
				  m->kids[i]->text, m->kids[first]->pos.line, m->kids[first]->pos.col);
	}
	strtab_free(&seen);
	return rc;
}

static int yaml_failure(parser *p, const yaml_parser_t *yp, const char *text, size_t len)
{
	spec_pos pos;

	if (yp->error == YAML_MEMORY_ERROR)
		return oom(p);
	if (yp->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		size_t off = yp->problem_offset < len ? yp->problem_offset : len;
		size_t line_start = 0;
		int line = 1;
		for (size_t i = 0; i < off; i++) {
			if (text[i] == '\n') {
				line++;
				line_start = i + 1;
			}
		}
		pos.line = line;
		pos.col = (int)utf8_chars(text + line_start, off - line_start) + 1;
		if (yp->problem_value >= 0)
			return fail(p, pos, "invalid YAML: %s (byte 0x%02x)",
				    yp->problem ? yp->problem : "unreadable input",
				    (unsigned)yp->problem_value & 0xffu);
		return fail(p, pos, "invalid YAML: %s", yp->problem ? yp->problem : "unreadable input");
	}
	pos = mark_pos(yp->problem_mark);
	if (yp->context)
		return fail(p, pos, "invalid YAML: %s (%s started at line %d, column %d)",
			    yp->problem ? yp->problem : "syntax error", yp->context,
			    mark_pos(yp->context_mark).line, mark_pos(yp->context_mark).col);
	return fail(p, pos, "invalid YAML: %s", yp->problem ? yp->problem : "syntax error");
}

/* Handles one event; *done is set at the end of the stream. */
static int on_event(parser *p, yaml_event_t *ev, ynode **root, int *docs)
{
	ynode *n;
	yn_tag tag;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return fail(p, mark_pos(ev->start_mark),
				    "only one YAML document is allowed in a pipeline file");
		return 0;
	case YAML_ALIAS_EVENT: {
		size_t idx;
		const char *a = (const char *)ev->data.alias.anchor;
		if (p->n_nodes >= SPEC_MAX_NODES)
			return fail(p, mark_pos(ev->start_mark), "too many YAML nodes (the limit is %d)",
				    SPEC_MAX_NODES);
		p->n_nodes++;
		/* Anchors are registered only when their node is complete, so an
		 * alias can never point at one of its own ancestors. */
		if (!strtab_get(&p->anchors, a, &idx))
			return fail(p, mark_pos(ev->start_mark), "unknown or recursive alias '*%.100s'", a);
		SL__ASSERT(idx < p->n_anchor_nodes); /* register_anchor keeps them in step */
		return attach(p, p->anchor_nodes[idx], root);
	}
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)ev->data.scalar.value;
		size_t len = ev->data.scalar.length;
		yaml_scalar_style_t st = ev->data.scalar.style;
		if (parse_tag(p, ev->data.scalar.tag, true, ev->start_mark, &tag))
			return p->rc;
		if (memchr(v, '\0', len))
			return fail(p, mark_pos(ev->start_mark), "NUL characters are not allowed in strings");
		if (!(n = new_node(p, YN_SCALAR, ev->start_mark)))
			return p->rc;
		if (!(n->text = arena_strndup(p, v, len)))
			return p->rc;
		n->len = len;
		n->tag = tag;
		n->plain = ev->data.scalar.plain_implicit && st == YAML_PLAIN_SCALAR_STYLE && tag == YT_NONE;
		if (ev->data.scalar.tag && !strcmp((const char *)ev->data.scalar.tag, "!"))
			n->plain = false;
		if (ev->start_mark.line == ev->end_mark.line &&
		    (st == YAML_PLAIN_SCALAR_STYLE || st == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		     st == YAML_DOUBLE_QUOTED_SCALAR_STYLE)) {
			size_t lead = st == YAML_PLAIN_SCALAR_STYLE ? 0 : 1;
			/* Escapes and doubled quotes always make the source longer
			 * than the value, so equal lengths mean none were used. */
			if (utf8_chars(v, len) + 2 * lead == ev->end_mark.index - ev->start_mark.index &&
			    !ev->data.scalar.tag) {
				n->exact = true;
				n->lead = (int)lead;
			}
		}
		if (ev->data.scalar.anchor) {
			/* The anchor name must outlive the event. */
			const char *a = (const char *)ev->data.scalar.anchor;
			if (!(a = arena_strndup(p, a, strlen(a))) || register_anchor(p, a, n))
				return p->rc;
		}
		return attach(p, n, root);
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		const yaml_char_t *t = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
		const yaml_char_t *a = map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
		if (p->depth >= SPEC_MAX_DEPTH)
			return fail(p, mark_pos(ev->start_mark), "nesting deeper than %d levels",
				    SPEC_MAX_DEPTH);
		if (parse_tag(p, t, false, ev->start_mark, &tag))
			return p->rc;
		if (!(n = new_node(p, map ? YN_MAP : YN_SEQ, ev->start_mark)))
			return p->rc;
		frame *f = &p->frames[p->depth++];
		f->node = n;
		f->base = p->n_kids;
		f->anchor = NULL;
		if (a && !(f->anchor = arena_strndup(p, (const char *)a, strlen((const char *)a))))
			return p->rc;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		/* libyaml balances start and end events, so the start pushed this frame. */
		SL__ASSERT(p->depth > 0 && p->frames[p->depth - 1].node);
		frame *f = &p->frames[--p->depth];
		n = f->node;
		n->n = p->n_kids - f->base;
		if (n->n) {
			n->kids = arena_alloc(&p->mem, n->n * sizeof *n->kids);
			if (!n->kids)
				return oom(p);
			memcpy(n->kids, p->kids + f->base, n->n * sizeof *n->kids);
		}
		p->n_kids = f->base;
		/* Weighing each node as it completes catches an alias bomb here,
		 * in time proportional to the file, before anything expands it. */
		for (size_t i = 0; i < n->n; i++) {
			n->weight += n->kids[i]->weight;
			if (n->weight > SPEC_MAX_NODES)
				return fail(p, n->pos, "too many values once aliases are expanded "
						       "(the limit is %d)",
					    SPEC_MAX_NODES);
		}
		if (n->type == YN_MAP && check_map_keys(p, n))
			return p->rc;
		if (f->anchor && register_anchor(p, f->anchor, n))
			return p->rc;
		return attach(p, n, root);
	}
	default:
		return 0;
	}
}

/*
 * Parses text into a tree. *out_root is NULL for an empty stream. Messages
 * are recorded in p (with positions relative to text).
 */
static int tree_parse(parser *p, const char *text, size_t len, ynode **out_root)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	int docs = 0;
	bool done = false;

	*out_root = NULL;
	if (!yaml_parser_initialize(&yp))
		return oom(p);
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	while (!done && !p->rc) {
		if (!yaml_parser_parse(&yp, &ev)) {
			yaml_failure(p, &yp, text, len);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		on_event(p, &ev, out_root, &docs);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	/* Frames left open after an error are simply abandoned: their nodes
	 * live in the arena. */
	p->depth = 0;
	p->n_kids = 0;
	if (p->rc)
		*out_root = NULL;
	return p->rc;
}

/* ---- scalars ---------------------------------------------------------------- */

static bool all_in(const char *s, size_t n, const char *set)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr(set, s[i]) || !s[i])
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

/* YAML 1.2 core: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. 1: int, 0: not an
 * int, -1: an int that does not fit in 64 bits. */
static int int_text(const char *s, long long *out)
{
	const char *digits = s;
	int base = 10;
	char *end;

	if (s[0] == '0' && s[1] == 'o') {
		base = 8;
		digits = s + 2;
		if (!all_in(digits, strlen(digits), "01234567"))
			return 0;
	} else if (s[0] == '0' && s[1] == 'x') {
		base = 16;
		digits = s + 2;
		if (!all_in(digits, strlen(digits), "0123456789abcdefABCDEF"))
			return 0;
	} else {
		const char *d = s + (*s == '-' || *s == '+');
		if (!all_in(d, strlen(d), "0123456789"))
			return 0;
	}
	errno = 0;
	if (base == 10) {
		*out = strtoll(digits, &end, 10);
		if (errno == ERANGE)
			return -1;
	} else {
		unsigned long long u = strtoull(digits, &end, base);
		if (errno == ERANGE || u > (unsigned long long)INT64_MAX)
			return -1;
		*out = (long long)u;
	}
	return 1;
}

/* YAML 1.2 core floats, including .inf and .nan. */
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

/*
 * Resolves scalar text by the YAML 1.2 core schema (or an explicit tag).
 * Non-finite numbers resolve but are rejected here, because JSON (and so
 * the cache key and every step's options) cannot carry them.
 */
static int resolve_text(parser *p, spec_pos pos, const char *text, bool plain, yn_tag tag,
			scalar_val *out)
{
	int r;

	memset(out, 0, sizeof *out);
	out->kind = SV_STR;
	if (!plain && tag == YT_NONE)
		return 0;
	switch (tag) {
	case YT_STR:
		return 0;
	case YT_NULL:
		if (!is_null_text(text))
			return fail(p, pos, "'%.100s' is not null", text);
		out->kind = SV_NULL;
		return 0;
	case YT_BOOL:
		if ((r = bool_text(text)) < 0)
			return fail(p, pos, "'%.100s' is not a boolean (true or false)", text);
		out->kind = SV_BOOL;
		out->b = r == 1;
		return 0;
	default:
		break;
	}
	if (tag == YT_NONE) {
		if (is_null_text(text)) {
			out->kind = SV_NULL;
			return 0;
		}
		if ((r = bool_text(text)) >= 0) {
			out->kind = SV_BOOL;
			out->b = r == 1;
			return 0;
		}
	}
	if (tag != YT_FLOAT) {
		r = int_text(text, &out->i);
		if (r < 0)
			return fail(p, pos, "integer '%.100s' is out of range", text);
		if (r > 0) {
			out->kind = SV_INT;
			return 0;
		}
	}
	if (float_text(text, &out->d) || (tag == YT_FLOAT && int_text(text, &out->i) > 0 &&
					  (out->d = (double)out->i, true))) {
		if (!isfinite(out->d))
			return fail(p, pos, "'%.100s': infinite and NaN numbers cannot be used "
					    "(JSON cannot represent them); quote it for a string",
				    text);
		out->kind = SV_REAL;
		return 0;
	}
	if (tag == YT_INT)
		return fail(p, pos, "'%.100s' is not an integer", text);
	if (tag == YT_FLOAT)
		return fail(p, pos, "'%.100s' is not a number", text);
	return 0;
}

static int resolve(parser *p, const ynode *n, scalar_val *out)
{
	return resolve_text(p, n->pos, n->text, n->plain, n->tag, out);
}

static const char *node_kind(const ynode *n)
{
	if (n->type == YN_MAP)
		return "a mapping";
	if (n->type == YN_SEQ)
		return "a sequence";
	if (n->tag == YT_NONE && !n->plain)
		return "a string";
	/* Errors are not expected here: this only names things for messages. */
	if (is_null_text(n->text) && (n->plain || n->tag == YT_NULL))
		return "null";
	if (bool_text(n->text) >= 0 && (n->plain || n->tag == YT_BOOL))
		return "a boolean";
	long long i;
	double d;
	if (n->tag == YT_STR)
		return "a string";
	if (int_text(n->text, &i) != 0)
		return "an integer";
	if (float_text(n->text, &d))
		return "a number";
	return "a string";
}

static bool is_null_node(const ynode *n)
{
	return n->type == YN_SCALAR && (n->plain || n->tag == YT_NULL) && is_null_text(n->text);
}

static json_t *scalar_json(const scalar_val *v, const char *text)
{
	switch (v->kind) {
	case SV_INT:
		return json_integer(v->i);
	case SV_REAL:
		return json_real(v->d);
	case SV_BOOL:
		return json_boolean(v->b);
	case SV_NULL:
		return json_null();
	default:
		return json_string(text);
	}
}

/* Shortest text that reads back as d, keeping a '.' so it still looks like
 * a float ("1.0", not "1"). */
static void fmt_real(double d, char *buf, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".eEn"))
		strncat(buf, ".0", size - strlen(buf) - 1);
}

/* A parameter's value as it appears inside a string. */
static int render_json(const json_t *v, sl__buf *b)
{
	char tmp[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return sl__buf_puts(b, json_string_value(v));
	case JSON_INTEGER:
		return sl__buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		fmt_real(json_real_value(v), tmp, sizeof tmp);
		return sl__buf_puts(b, tmp);
	case JSON_TRUE:
		return sl__buf_puts(b, "true");
	case JSON_FALSE:
		return sl__buf_puts(b, "false");
	default:
		return 0; /* null renders as nothing */
	}
}

/* ---- substitution ----------------------------------------------------------- */

/*
 * What ${...} may refer to while reading one step. NULL lists mean "no
 * checking" (used for text that belongs to no step).
 */
typedef struct subst_env {
	const ynode *inputs;       /* the step's `inputs` mapping, or NULL */
	const char *const *outputs; /* the step's output names */
	size_t n_outputs;
	const char *step;           /* for messages */
} subst_env;

/* Position of byte offset off inside scalar n. */
static spec_pos pos_in(const ynode *n, size_t off)
{
	spec_pos pos = n->pos;

	if (n->exact)
		pos.col += n->lead + (int)utf8_chars(n->text, off);
	return pos;
}

static bool io_declared(const subst_env *e, bool input, const char *name, size_t len)
{
	if (input) {
		for (size_t i = 0; e->inputs && i < e->inputs->n; i += 2) {
			const char *k = e->inputs->kids[i]->text;
			if (strlen(k) == len && !memcmp(k, name, len))
				return true;
		}
		return false;
	}
	for (size_t i = 0; i < e->n_outputs; i++)
		if (strlen(e->outputs[i]) == len && !memcmp(e->outputs[i], name, len))
			return true;
	return false;
}

/*
 * Substitutes ${params.X} in scalar n's text and checks ${inputs.X} and
 * ${outputs.X} against e. *out_str receives the new text (sl__malloc). When
 * the whole text is one ${params.X} and out_exact is not NULL, *out_exact
 * receives a copy of the parameter's value instead (keeping its type).
 */
static int subst_params(parser *p, const ynode *n, const subst_env *e, char **out_str,
			json_t **out_exact)
{
	const char *t = n->text;
	sl__buf b;
	size_t i = 0;

	*out_str = NULL;
	if (out_exact)
		*out_exact = NULL;
	sl__buf_init(&b, 0);
	while (t[i]) {
		const char *dollar = strstr(t + i, "${");
		if (!dollar) {
			if (sl__buf_puts(&b, t + i))
				goto nomem;
			break;
		}
		size_t at = (size_t)(dollar - t);
		if (sl__buf_append(&b, t + i, at - i))
			goto nomem;
		const char *close = strchr(dollar + 2, '}');
		if (!close) {
			fail(p, pos_in(n, at), "unterminated '${' (a substitution is ${params.NAME}, "
					       "${inputs.NAME} or ${outputs.NAME})");
			goto error;
		}
		const char *body = dollar + 2;
		size_t blen = (size_t)(close - body);
		const char *dot = memchr(body, '.', blen);
		size_t end = (size_t)(close - t) + 1;
		if (!dot || !is_ident_n(body, (size_t)(dot - body))) {
			/* ${HOME}, ${1}, ${x:-y}: the shell's business. */
			if (sl__buf_append(&b, dollar, end - at))
				goto nomem;
			i = end;
			continue;
		}
		size_t nslen = (size_t)(dot - body);
		const char *name = dot + 1;
		size_t nlen = blen - nslen - 1;
		char nm[128];
		snprintf(nm, sizeof nm, "%.*s", (int)(nlen < 120 ? nlen : 120), name);
		if (nslen == 6 && !memcmp(body, "params", 6)) {
			size_t idx;
			if (nlen >= sizeof nm || !strtab_get(&p->params, nm, &idx)) {
				suggest sg;
				suggest_init(&sg, nm);
				for (size_t k = 0; k < p->s->n_params; k++)
					suggest_add(&sg, p->s->params[k].name);
				if (sg.best)
					fail(p, pos_in(n, at), "unknown parameter '%s' in '${params.%s}' (did you mean '%s'?)",
					     nm, nm, sg.best);
				else
					fail(p, pos_in(n, at), "unknown parameter '%s' in '${params.%s}'%s", nm,
					     nm, p->s->n_params ? "" : " (the file declares no params)");
				goto error;
			}
			const json_t *v = p->s->params[idx].value;
			if (out_exact && at == 0 && end == n->len) {
				sl__buf_free(&b);
				if (!(*out_exact = json_copy((json_t *)v)))
					return oom(p);
				return 0;
			}
			if (render_json(v, &b))
				goto nomem;
		} else if ((nslen == 6 && !memcmp(body, "inputs", 6)) ||
			   (nslen == 7 && !memcmp(body, "outputs", 7))) {
			bool input = nslen == 6;
			if (e && !io_declared(e, input, name, nlen)) {
				sl__buf list;
				sl__buf_init(&list, 400);
				if (input) {
					for (size_t k = 0; e->inputs && k < e->inputs->n; k += 2)
						sl__buf_printf(&list, "%s%s", k ? ", " : "", e->inputs->kids[k]->text);
				} else {
					for (size_t k = 0; k < e->n_outputs; k++)
						sl__buf_printf(&list, "%s%s", k ? ", " : "", e->outputs[k]);
				}
				fail(p, pos_in(n, at), "step '%s' has no %s '%s' in '${%s.%s}' (%s: %s)", e->step,
				     input ? "input" : "output", nm, input ? "inputs" : "outputs", nm,
				     input ? "its inputs" : "its outputs", list.len ? list.data : "none");
				sl__buf_free(&list);
				goto error;
			}
			/* Replaced when the step runs (spec_subst_io). */
			if (sl__buf_append(&b, dollar, end - at))
				goto nomem;
		} else {
			fail(p, pos_in(n, at), "unknown namespace '%.*s' in '${%.*s}' (use params, inputs or outputs)",
			     (int)(nslen < 60 ? nslen : 60), body, (int)(blen < 100 ? blen : 100), body);
			goto error;
		}
		i = end;
	}
	if (!(*out_str = buf_take(&b)))
		goto nomem;
	return 0;
nomem:
	oom(p);
error:
	sl__buf_free(&b);
	return p->rc;
}

/* ---- tree -> JSON ----------------------------------------------------------- */

/*
 * Converts a node to JSON. subst: substitute ${params.X} in strings (and
 * check ${inputs/outputs.X} against e). The number of values produced is
 * bounded by p->json_budget, which is what defuses alias bombs.
 */
static int to_json(parser *p, const ynode *n, int depth, bool subst, const subst_env *e,
		   json_t **out)
{
	json_t *j = NULL;

	*out = NULL;
	if (p->json_budget == 0)
		return fail(p, n->pos, "document expands to too many values (aliases?)");
	p->json_budget--;
	if (depth > SPEC_MAX_DEPTH)
		return fail(p, n->pos, "nesting deeper than %d levels (aliases?)", SPEC_MAX_DEPTH);
	if (n->type == YN_SCALAR) {
		scalar_val v;
		if (resolve(p, n, &v))
			return p->rc;
		if (v.kind == SV_STR && subst) {
			char *str;
			json_t *exact;
			if (subst_params(p, n, e, &str, &exact))
				return p->rc;
			if (exact) {
				*out = exact;
				return 0;
			}
			j = json_string(str);
			sl__free(str);
		} else {
			j = scalar_json(&v, n->text);
		}
		if (!j)
			return oom(p);
		*out = j;
		return 0;
	}
	j = n->type == YN_MAP ? json_object() : json_array();
	if (!j)
		return oom(p);
	if (n->type == YN_SEQ) {
		for (size_t i = 0; i < n->n; i++) {
			json_t *v;
			if (to_json(p, n->kids[i], depth + 1, subst, e, &v) || json_array_append_new(j, v))
				goto error;
		}
	} else {
		for (size_t i = 0; i < n->n; i += 2) {
			json_t *v;
			if (to_json(p, n->kids[i + 1], depth + 1, subst, e, &v) ||
			    json_object_set_new(j, n->kids[i]->text, v))
				goto error;
		}
	}
	*out = j;
	return 0;
error:
	json_decref(j);
	return p->rc ? p->rc : oom(p);
}

/* ---- reading helpers ---------------------------------------------------------- */

static const ynode *map_get(const ynode *m, const char *key, const ynode **out_key)
{
	for (size_t i = 0; i < m->n; i += 2) {
		if (!strcmp(m->kids[i]->text, key)) {
			if (out_key)
				*out_key = m->kids[i];
			return m->kids[i + 1];
		}
	}
	return NULL;
}

/* Rejects a key of m that is not in keys[], suggesting the closest. */
static int check_keys(parser *p, const ynode *m, const char *const *keys, size_t n_keys,
		      const char *where)
{
	for (size_t i = 0; i < m->n; i += 2) {
		const char *k = m->kids[i]->text;
		bool ok = false;
		suggest sg;

		for (size_t j = 0; j < n_keys && !ok; j++)
			ok = !strcmp(k, keys[j]);
		if (ok)
			continue;
		suggest_init(&sg, k);
		for (size_t j = 0; j < n_keys; j++)
			suggest_add(&sg, keys[j]);
		if (sg.best)
			return fail(p, m->kids[i]->pos, "unknown key '%.100s' in %s (did you mean '%s'?)", k,
				    where, sg.best);
		sl__buf list;
		sl__buf_init(&list, 400);
		for (size_t j = 0; j < n_keys; j++)
			sl__buf_printf(&list, "%s%s", j ? ", " : "", keys[j]);
		fail(p, m->kids[i]->pos, "unknown key '%.100s' in %s (valid keys: %s)", k, where,
		     list.data ? list.data : "");
		sl__buf_free(&list);
		return p->rc;
	}
	return 0;
}

static int want_map(parser *p, const ynode *n, const char *what)
{
	if (n->type != YN_MAP)
		return fail(p, n->pos, "%s must be a mapping, not %s", what, node_kind(n));
	return 0;
}

/* A scalar's text as a new string (strings, numbers and booleans alike). */
static int want_text(parser *p, const ynode *n, const char *what, char **out)
{
	*out = NULL;
	if (n->type != YN_SCALAR || is_null_node(n))
		return fail(p, n->pos, "%s must be a string, not %s", what, node_kind(n));
	if (!(*out = sl__strdup(n->text)))
		return oom(p);
	return 0;
}

/* ---- params and overrides ------------------------------------------------------ */

static int read_params(parser *p, const ynode *m)
{
	spec *s = p->s;

	if (is_null_node(m))
		return 0;
	if (want_map(p, m, "'params'"))
		return p->rc;
	if (m->n == 0)
		return 0;
	if (!(s->params = sl__calloc(m->n / 2, sizeof *s->params)))
		return oom(p);
	for (size_t i = 0; i < m->n; i += 2) {
		const ynode *k = m->kids[i], *v = m->kids[i + 1];
		spec_param *pm = &s->params[s->n_params];
		scalar_val sv;

		if (!is_name(k->text))
			return fail(p, k->pos, "parameter name '%.100s' is not valid (letters, digits, '_' "
					       "and '-', not starting with a digit)",
				    k->text);
		if (v->type != YN_SCALAR)
			return fail(p, v->pos, "parameter '%s' must be a scalar, not %s", k->text,
				    node_kind(v));
		if (resolve(p, v, &sv))
			return p->rc;
		if (!(pm->name = sl__strdup(k->text)) || !(pm->value = scalar_json(&sv, v->text))) {
			sl__free(pm->name);
			pm->name = NULL;
			return oom(p);
		}
		pm->pos = v->pos;
		s->n_params++;
		if (strtab_put(&p->params, pm->name, s->n_params - 1, NULL) < 0)
			return oom(p);
	}
	return 0;
}

static int apply_override(parser *p, const char *ov)
{
	const char *eq = strchr(ov, '=');
	spec *s = p->s;
	char name[128];
	size_t idx;

	if (!eq || eq == ov)
		return fail(p, p->params_pos, "-p %.100s: expected NAME=VALUE", ov);
	snprintf(name, sizeof name, "%.*s", (int)((size_t)(eq - ov) < 120 ? (size_t)(eq - ov) : 120), ov);
	if ((size_t)(eq - ov) >= 120 || !strtab_get(&p->params, name, &idx)) {
		suggest sg;
		sl__buf list;
		suggest_init(&sg, name);
		sl__buf_init(&list, 400);
		for (size_t k = 0; k < s->n_params; k++) {
			suggest_add(&sg, s->params[k].name);
			sl__buf_printf(&list, "%s%s", k ? ", " : "", s->params[k].name);
		}
		if (sg.best)
			fail(p, p->params_pos, "-p %s: no parameter '%s' is declared (did you mean '%s'?)",
			     name, name, sg.best);
		else
			fail(p, p->params_pos, "-p %s: no parameter '%s' is declared (declared: %s)", name,
			     name, list.len ? list.data : "none");
		sl__buf_free(&list);
		return p->rc;
	}

	/* The value is read as YAML, so quoting works as in the file. */
	const char *val = eq + 1;
	ynode *root;
	scalar_val sv = {0};
	json_t *j;
	if (tree_parse(p, val, strlen(val), &root)) {
		if (p->rc == SL_ESPEC) {
			char msg[SPEC_MSG_MAX];
			snprintf(msg, sizeof msg, "%s", p->emsg);
			snprintf(p->emsg, sizeof p->emsg, "-p %s: bad value: %s", name, msg);
			p->epos = p->params_pos;
		}
		return p->rc;
	}
	if (!root) {
		sv.kind = SV_NULL;
	} else if (root->type != YN_SCALAR) {
		return fail(p, p->params_pos, "-p %s: the value must be a scalar, not %s", name,
			    node_kind(root));
	} else if (resolve(p, root, &sv)) {
		char msg[SPEC_MSG_MAX];
		snprintf(msg, sizeof msg, "%s", p->emsg);
		snprintf(p->emsg, sizeof p->emsg, "-p %s: bad value: %s", name, msg);
		p->epos = p->params_pos;
		return p->rc;
	}
	if (!(j = scalar_json(&sv, root ? root->text : "")))
		return oom(p);
	json_decref(s->params[idx].value);
	s->params[idx].value = j;
	return 0;
}

/* ---- options of built-in steps --------------------------------------------------- */

static const char *opt_type_name(step_opt_type t)
{
	switch (t) {
	case OPT_STRING:
		return "a string";
	case OPT_INT:
		return "an integer";
	case OPT_NUMBER:
		return "a number";
	case OPT_BOOL:
		return "a boolean (true or false)";
	case OPT_LIST:
		return "a sequence";
	case OPT_MAP:
		return "a mapping";
	case OPT_PATH:
		return "a path (a string)";
	case OPT_STRING_LIST:
		return "a string or a sequence of strings";
	default:
		return "any value";
	}
}

static const char *json_kind(const json_t *v)
{
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

/*
 * Coerces *v (owned; may be replaced) to the option's type. Strings are read
 * as the YAML core schema would read them unquoted ("42" -> 42 for an int
 * option); numbers and booleans given to string options keep their source
 * text when written literally (so `version: 1.10` stays "1.10").
 */
static int coerce(parser *p, const step_def *def, const step_opt *o, const ynode *src, json_t **v)
{
	json_t *j = *v, *nj = NULL;
	spec_pos pos = src ? src->pos : (spec_pos){1, 1};
	bool literal = src && src->type == YN_SCALAR && src->plain && !strstr(src->text, "${");

	if (json_is_null(j) || o->type == OPT_ANY)
		return 0;
	switch (o->type) {
	case OPT_STRING:
		if (json_is_string(j))
			return 0;
		if (json_is_object(j) || json_is_array(j))
			break;
		if (literal) {
			nj = json_string(src->text);
		} else {
			sl__buf b;
			sl__buf_init(&b, 0);
			char *str = render_json(j, &b) == 0 ? buf_take(&b) : NULL;
			nj = str ? json_string(str) : NULL;
			sl__free(str);
			sl__buf_free(&b);
		}
		goto replace;
	case OPT_PATH:
		if (!json_is_string(j))
			break;
		if (!*json_string_value(j))
			return fail(p, pos, "option '%s' of %s must not be empty", o->name, def->name);
		return 0;
	case OPT_INT:
		if (json_is_integer(j))
			return 0;
		if (json_is_real(j)) {
			double d = json_real_value(j);
			if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
				nj = json_integer((json_int_t)d);
				goto replace;
			}
			break;
		}
		if (json_is_string(j)) {
			long long i;
			if (int_text(json_string_value(j), &i) == 1) {
				nj = json_integer(i);
				goto replace;
			}
		}
		break;
	case OPT_NUMBER:
		/* Always a real, so that 5 and 5.0 give the same cache key. */
		if (json_is_real(j))
			return 0;
		if (json_is_integer(j)) {
			nj = json_real((double)json_integer_value(j));
			goto replace;
		}
		if (json_is_string(j)) {
			double d;
			long long i;
			const char *t = json_string_value(j);
			if (int_text(t, &i) == 1) {
				nj = json_real((double)i);
				goto replace;
			}
			if (float_text(t, &d) && isfinite(d)) {
				nj = json_real(d);
				goto replace;
			}
		}
		break;
	case OPT_BOOL:
		if (json_is_boolean(j))
			return 0;
		if (json_is_string(j) && bool_text(json_string_value(j)) >= 0) {
			nj = json_boolean(bool_text(json_string_value(j)) == 1);
			goto replace;
		}
		break;
	case OPT_LIST:
		if (json_is_array(j))
			return 0;
		break;
	case OPT_MAP:
		if (json_is_object(j))
			return 0;
		break;
	case OPT_STRING_LIST:
		if (json_is_string(j))
			return 0;
		if (json_is_array(j)) {
			size_t k;
			json_t *it;
			json_array_foreach (j, k, it) {
				const ynode *isrc = src && src->type == YN_SEQ && k < src->n ? src->kids[k] : NULL;
				if (json_is_string(it))
					continue;
				if (isrc && isrc->type == YN_SCALAR && isrc->plain && !json_is_null(it) &&
				    !json_is_object(it) && !json_is_array(it)) {
					json_t *s2 = json_string(isrc->text);
					if (!s2 || json_array_set_new(j, k, s2))
						return oom(p);
					continue;
				}
				return fail(p, isrc ? isrc->pos : pos,
					    "option '%s' of %s must be %s; item %zu is %s", o->name, def->name,
					    opt_type_name(o->type), k + 1, json_kind(it));
			}
			return 0;
		}
		break;
	default:
		return 0;
	}
	if (json_is_string(j))
		return fail(p, pos, "option '%s' of %s must be %s, not '%.100s'", o->name, def->name,
			    opt_type_name(o->type), json_string_value(j));
	return fail(p, pos, "option '%s' of %s must be %s, not %s", o->name, def->name,
		    opt_type_name(o->type), json_kind(j));
replace:
	if (!nj)
		return oom(p);
	json_decref(j);
	*v = nj;
	return 0;
}

int spec_opt_coerce(const step_def *def, const step_opt *opt, json_t **value)
{
	parser p;

	if (!def || !opt || !value || !*value)
		return sl__err(SL_EINVAL, "spec_opt_coerce: invalid arguments");
	memset(&p, 0, sizeof p);
	if (coerce(&p, def, opt, NULL, value))
		return sl__err(p.rc, "%s", p.emsg);
	return 0;
}

/* The option's default (YAML text in the step table) as JSON. */
static int opt_default(parser *p, const step_def *def, const step_opt *o, spec_pos where,
		       json_t **out)
{
	ynode *root;
	parser sub;
	int rc;

	*out = NULL;
	/* A fresh parser keeps the caller's error state and arena untouched. */
	memset(&sub, 0, sizeof sub);
	sub.disp = def->name;
	sub.json_budget = 10000;
	sub.s = p->s;
	rc = tree_parse(&sub, o->def, strlen(o->def), &root);
	if (!rc) {
		if (!root)
			*out = json_null();
		else
			rc = to_json(&sub, root, 0, false, NULL, out);
		if (!rc && !*out)
			rc = oom(&sub);
	}
	if (!rc)
		rc = coerce(&sub, def, o, root, out);
	if (rc) {
		json_decref(*out);
		*out = NULL;
		if (rc == SL_ENOMEM)
			oom(p);
		else
			fail(p, where, "built-in step %s has a bad default for option '%s': %s", def->name,
			     o->name, sub.emsg);
	}
	arena_free(&sub.mem);
	strtab_free(&sub.anchors);
	sl__free(sub.kids);
	sl__free(sub.anchor_nodes);
	return p->rc;
}

static int read_builtin_with(parser *p, spec_step *st, const ynode *with, const ynode *with_key,
			     const ynode *uses_key, const subst_env *e)
{
	const step_def *def = st->def;

	for (size_t i = 0; with && i < with->n; i += 2) {
		const ynode *k = with->kids[i], *v = with->kids[i + 1];
		const step_opt *o = step_find_opt(def, k->text);
		json_t *j;

		if (!o) {
			suggest sg;
			sl__buf list;
			suggest_init(&sg, k->text);
			sl__buf_init(&list, 600);
			for (const step_opt *q = def->opts; q && q->name; q++) {
				suggest_add(&sg, q->name);
				sl__buf_printf(&list, "%s%s", q == def->opts ? "" : ", ", q->name);
			}
			if (sg.best)
				fail(p, k->pos, "unknown option '%.100s' for %s (did you mean '%s'?)", k->text,
				     def->name, sg.best);
			else
				fail(p, k->pos, "unknown option '%.100s' for %s (its options: %s)", k->text,
				     def->name, list.len ? list.data : "none");
			sl__buf_free(&list);
			return p->rc;
		}
		if (to_json(p, v, 1, true, e, &j))
			return p->rc;
		if (coerce(p, def, o, v, &j)) {
			json_decref(j);
			return p->rc;
		}
		if (json_is_null(j) && o->required) {
			json_decref(j);
			return fail(p, v->pos, "option '%s' of %s is required and cannot be null", o->name,
				    def->name);
		}
		if (json_is_null(j)) {
			/* An explicit null means "not set": the default applies. */
			json_decref(j);
			continue;
		}
		if (json_object_set_new(st->with, o->name, j))
			return oom(p);
	}
	for (const step_opt *o = def->opts; o && o->name; o++) {
		json_t *j;
		if (json_object_get(st->with, o->name))
			continue;
		if (o->required)
			return fail(p, with_key ? with_key->pos : uses_key->pos,
				    "step '%s': missing required option '%s' of %s (%s)", st->name, o->name,
				    def->name, o->help ? o->help : opt_type_name(o->type));
		if (!o->def)
			continue;
		if (opt_default(p, def, o, uses_key->pos, &j))
			return p->rc;
		if (json_is_null(j)) {
			json_decref(j);
			continue;
		}
		if (json_object_set_new(st->with, o->name, j))
			return oom(p);
	}
	if (def->check) {
		char msg[512] = "";
		if (def->check(st->with, msg, sizeof msg) != 0)
			return fail(p, with_key ? with_key->pos : uses_key->pos, "step '%s': %s", st->name,
				    msg[0] ? msg : "invalid options");
	}
	return 0;
}

/* ---- steps ------------------------------------------------------------------------ */

static const char *const step_keys[] = {"uses", "run",   "plugin", "with",  "inputs",
					"outputs", "deps", "env",  "cache", "timeout", "description"};

static int read_inputs(parser *p, spec_step *st, const ynode *in, const ynode *in_key,
		       const ynode *step_key)
{
	if (!in || is_null_node(in))
		goto check_required;
	if (want_map(p, in, "'inputs'"))
		return p->rc;
	if (in->n && !(st->inputs = sl__calloc(in->n / 2, sizeof *st->inputs)))
		return oom(p);
	for (size_t i = 0; i < in->n; i += 2) {
		const ynode *k = in->kids[i], *v = in->kids[i + 1];
		spec_input *inp = &st->inputs[st->n_inputs];
		const char *dot;

		if (!is_ident(k->text))
			return fail(p, k->pos, "input name '%.100s' is not an identifier "
					       "([A-Za-z_][A-Za-z0-9_]*)",
				    k->text);
		if (st->def) {
			const step_port *port = NULL;
			suggest sg;
			sl__buf list;
			for (const step_port *q = st->def->inputs; q && q->name && !port; q++)
				if (!strcmp(q->name, k->text))
					port = q;
			if (!port) {
				suggest_init(&sg, k->text);
				sl__buf_init(&list, 400);
				for (const step_port *q = st->def->inputs; q && q->name; q++) {
					suggest_add(&sg, q->name);
					sl__buf_printf(&list, "%s%s", q == st->def->inputs ? "" : ", ", q->name);
				}
				if (sg.best)
					fail(p, k->pos, "%s has no input '%.100s' (did you mean '%s'?)",
					     st->def->name, k->text, sg.best);
				else if (list.len)
					fail(p, k->pos, "%s has no input '%.100s' (its inputs: %s)",
					     st->def->name, k->text, list.data);
				else
					fail(p, k->pos, "%s takes no inputs", st->def->name);
				sl__buf_free(&list);
				return p->rc;
			}
		}
		if (v->type != YN_SCALAR || is_null_node(v))
			return fail(p, v->pos, "input '%s' must be a reference STEP.OUTPUT, not %s", k->text,
				    node_kind(v));
		dot = strchr(v->text, '.');
		if (!dot || !is_ident(dot + 1) || (size_t)(dot - v->text) >= 4096) {
			return fail(p, v->pos, "input '%s': '%.100s' is not a reference of the form "
					       "STEP.OUTPUT",
				    k->text, v->text);
		}
		inp->step = sl__strndup(v->text, (size_t)(dot - v->text));
		inp->output = sl__strdup(dot + 1);
		inp->name = sl__strdup(k->text);
		inp->pos = v->pos;
		st->n_inputs++;
		if (!inp->step || !inp->output || !inp->name)
			return oom(p);
		if (!is_name(inp->step))
			return fail(p, v->pos, "input '%s': '%.100s' is not a reference of the form "
					       "STEP.OUTPUT",
				    k->text, v->text);
	}
check_required:
	for (const step_port *q = st->def ? st->def->inputs : NULL; q && q->name; q++) {
		bool have = false;
		if (q->optional)
			continue;
		for (size_t i = 0; i < st->n_inputs && !have; i++)
			have = !strcmp(st->inputs[i].name, q->name);
		if (!have)
			return fail(p, in_key ? in_key->pos : step_key->pos,
				    "step '%s': %s needs input '%s' (%s)", st->name, st->def->name, q->name,
				    q->type ? q->type : "artifact");
	}
	return 0;
}

static int read_outputs(parser *p, spec_step *st, const ynode *out)
{
	if (!out || is_null_node(out))
		return 0;
	if (out->type != YN_SEQ)
		return fail(p, out->pos, "'outputs' must be a sequence of names, not %s", node_kind(out));
	if (out->n && !(st->outputs = sl__calloc(out->n, sizeof *st->outputs)))
		return oom(p);
	for (size_t i = 0; i < out->n; i++) {
		const ynode *o = out->kids[i];
		if (o->type != YN_SCALAR || !is_ident(o->text))
			return fail(p, o->pos, "output name %s%.100s%s is not an identifier "
					       "([A-Za-z_][A-Za-z0-9_]*)",
				    o->type == YN_SCALAR ? "'" : "", o->type == YN_SCALAR ? o->text : node_kind(o),
				    o->type == YN_SCALAR ? "'" : "");
		for (size_t k = 0; k < st->n_outputs; k++)
			if (!strcmp(st->outputs[k], o->text))
				return fail(p, o->pos, "duplicate output '%s'", o->text);
		if (!(st->outputs[st->n_outputs] = sl__strdup(o->text)))
			return oom(p);
		st->n_outputs++;
	}
	return 0;
}

static int read_env(parser *p, spec_step *st, const ynode *env, const subst_env *e)
{
	if (!env || is_null_node(env))
		return 0;
	if (want_map(p, env, "'env'"))
		return p->rc;
	if (!(st->env = json_object()))
		return oom(p);
	for (size_t i = 0; i < env->n; i += 2) {
		const ynode *k = env->kids[i], *v = env->kids[i + 1];
		char *str;
		json_t *j;
		if (!is_ident(k->text))
			return fail(p, k->pos, "environment variable name '%.100s' is not valid "
					       "([A-Za-z_][A-Za-z0-9_]*)",
				    k->text);
		if (v->type != YN_SCALAR)
			return fail(p, v->pos, "env '%s' must be a scalar, not %s", k->text, node_kind(v));
		if (is_null_node(v)) {
			str = sl__strdup("");
			if (!str)
				return oom(p);
		} else if (subst_params(p, v, e, &str, NULL)) {
			return p->rc;
		}
		j = json_string(str);
		sl__free(str);
		if (!j || json_object_set_new(st->env, k->text, j))
			return oom(p);
	}
	return 0;
}

static int read_deps(parser *p, spec_step *st, const ynode *deps, const subst_env *e)
{
	if (!deps || is_null_node(deps))
		return 0;
	if (deps->type == YN_SCALAR) {
		/* One file needs no brackets. */
		if (!(st->deps = sl__calloc(1, sizeof *st->deps)))
			return oom(p);
		if (subst_params(p, deps, e, &st->deps[0], NULL))
			return p->rc;
		st->n_deps = 1;
		return 0;
	}
	if (deps->type != YN_SEQ)
		return fail(p, deps->pos, "'deps' must be a sequence of file names, not %s",
			    node_kind(deps));
	if (deps->n && !(st->deps = sl__calloc(deps->n, sizeof *st->deps)))
		return oom(p);
	for (size_t i = 0; i < deps->n; i++) {
		const ynode *d = deps->kids[i];
		if (d->type != YN_SCALAR || is_null_node(d))
			return fail(p, d->pos, "'deps' items must be file names, not %s", node_kind(d));
		if (subst_params(p, d, e, &st->deps[i], NULL))
			return p->rc;
		st->n_deps++;
	}
	return 0;
}

static int read_plugin(parser *p, spec_step *st, const ynode *v)
{
	const char *colon;

	if (want_text(p, v, "'plugin'", &st->plugin))
		return p->rc;
	colon = strrchr(st->plugin, ':');
	if (!colon || colon == st->plugin || !is_ident(colon + 1))
		return fail(p, v->pos, "'plugin' must be LIBRARY:FUNCTION (for example "
				       "plugins/libmine.so:my_step), not '%.100s'",
			    st->plugin);
	return 0;
}

static int read_step(parser *p, size_t idx, const ynode *key, const ynode *m)
{
	spec_step *st = &p->s->steps[idx];
	const ynode *kind_key = NULL, *kind_val = NULL;
	const ynode *with_key = NULL, *in_key = NULL, *out_key = NULL;
	const ynode *with, *in, *out, *v;
	subst_env e;
	int kinds = 0;

	st->pos = key->pos;
	st->cache = true;
	if (!(st->name = sl__strdup(key->text)))
		return oom(p);
	if (!is_name(key->text))
		return fail(p, key->pos, "step name '%.100s' is not valid (letters, digits, '_' and '-', "
					 "not starting with a digit)",
			    key->text);
	if (m->type != YN_MAP)
		return fail(p, m->pos, "step '%s' must be a mapping with 'uses', 'run' or 'plugin', not %s",
			    st->name, node_kind(m));
	if (check_keys(p, m, step_keys, SL__ARRAY_LEN(step_keys), "a step"))
		return p->rc;

	/* Exactly one of uses/run/plugin, reported at the second one given. */
	for (size_t i = 0; i < m->n; i += 2) {
		const char *k = m->kids[i]->text;
		if (strcmp(k, "uses") && strcmp(k, "run") && strcmp(k, "plugin"))
			continue;
		if (++kinds > 1)
			return fail(p, m->kids[i]->pos, "step '%s' has both '%s' and '%s' (a step is "
							"exactly one of uses, run or plugin)",
				    st->name, kind_key->text, k);
		kind_key = m->kids[i];
		kind_val = m->kids[i + 1];
	}
	if (!kind_key)
		return fail(p, key->pos, "step '%s' needs one of 'uses', 'run' or 'plugin'", st->name);

	with = map_get(m, "with", &with_key);
	in = map_get(m, "inputs", &in_key);
	out = map_get(m, "outputs", &out_key);
	if (!strcmp(kind_key->text, "uses")) {
		st->kind = SPEC_USES;
		if (want_text(p, kind_val, "'uses'", &st->uses))
			return p->rc;
		if (!(st->def = step_find(st->uses))) {
			size_t n_all;
			const step_def *const *all = step_all(&n_all);
			suggest sg;
			suggest_init(&sg, st->uses);
			for (size_t i = 0; i < n_all; i++)
				suggest_add(&sg, all[i]->name);
			if (sg.best)
				return fail(p, kind_val->pos, "unknown built-in step '%.100s' (did you mean '%s'?)",
					    st->uses, sg.best);
			return fail(p, kind_val->pos, "unknown built-in step '%.100s' (see `sluice help "
						      "steps`)",
				    st->uses);
		}
		if (out_key) {
			sl__buf list;
			sl__buf_init(&list, 400);
			for (const step_port *q = st->def->outputs; q && q->name; q++)
				sl__buf_printf(&list, "%s%s", q == st->def->outputs ? "" : ", ", q->name);
			fail(p, out_key->pos, "step '%s': 'outputs' cannot be given to a 'uses:' step; "
					      "%s's outputs are: %s",
			     st->name, st->def->name, list.len ? list.data : "none");
			sl__buf_free(&list);
			return p->rc;
		}
		size_t n = 0;
		for (const step_port *q = st->def->outputs; q && q->name; q++)
			n++;
		if (n && !(st->outputs = sl__calloc(n, sizeof *st->outputs)))
			return oom(p);
		for (const step_port *q = st->def->outputs; q && q->name; q++)
			if (!(st->outputs[st->n_outputs++] = sl__strdup(q->name)))
				return oom(p);
	} else if (!strcmp(kind_key->text, "run")) {
		st->kind = SPEC_RUN;
		if (kind_val->type != YN_SCALAR || is_null_node(kind_val))
			return fail(p, kind_val->pos, "'run' must be a command (a string), not %s",
				    node_kind(kind_val));
		if (read_outputs(p, st, out))
			return p->rc;
	} else {
		st->kind = SPEC_PLUGIN;
		if (read_plugin(p, st, kind_val) || read_outputs(p, st, out))
			return p->rc;
	}
	if (read_inputs(p, st, in, in_key, key))
		return p->rc;

	e.inputs = in && in->type == YN_MAP ? in : NULL;
	e.outputs = (const char *const *)st->outputs;
	e.n_outputs = st->n_outputs;
	e.step = st->name;
	if (st->kind == SPEC_RUN && subst_params(p, kind_val, &e, &st->run, NULL))
		return p->rc;

	if (!(st->with = json_object()))
		return oom(p);
	if (with && !is_null_node(with) && want_map(p, with, "'with'"))
		return p->rc;
	if (with && is_null_node(with))
		with = NULL;
	if (st->kind == SPEC_USES) {
		if (read_builtin_with(p, st, with, with_key, kind_key, &e))
			return p->rc;
	} else if (with) {
		json_decref(st->with);
		st->with = NULL;
		if (to_json(p, with, 1, true, &e, &st->with))
			return p->rc;
	}
	if (read_env(p, st, map_get(m, "env", NULL), &e) ||
	    read_deps(p, st, map_get(m, "deps", NULL), &e))
		return p->rc;
	if ((v = map_get(m, "cache", NULL))) {
		scalar_val sv;
		if (v->type != YN_SCALAR || resolve(p, v, &sv) || sv.kind != SV_BOOL)
			return fail(p, v->pos, "'cache' must be true or false");
		st->cache = sv.b;
	}
	if ((v = map_get(m, "timeout", NULL))) {
		scalar_val sv;
		double t = -1;
		if (v->type == YN_SCALAR && !resolve(p, v, &sv))
			t = sv.kind == SV_INT ? (double)sv.i : sv.kind == SV_REAL ? sv.d : -1;
		/* A week bounds it: beyond that a number is a mistake, not a limit. */
		if (!(t > 0 && t <= 7 * 86400))
			return fail(p, v->pos, "'timeout' must be a number of seconds above 0 "
					       "(at most 604800)");
		st->timeout = t;
	}
	if ((v = map_get(m, "description", NULL)) && !is_null_node(v) &&
	    want_text(p, v, "'description'", &st->description))
		return p->rc;
	return 0;
}

/* Resolves every input reference to a step index (needs all steps read). */
static int resolve_inputs(parser *p)
{
	spec *s = p->s;

	for (size_t i = 0; i < s->n_steps; i++) {
		spec_step *st = &s->steps[i];
		for (size_t k = 0; k < st->n_inputs; k++) {
			spec_input *in = &st->inputs[k];
			size_t j;
			if (!strtab_get(&p->steps, in->step, &j)) {
				suggest sg;
				suggest_init(&sg, in->step);
				for (size_t q = 0; q < s->n_steps; q++)
					suggest_add(&sg, s->steps[q].name);
				if (sg.best)
					return fail(p, in->pos, "input '%s' refers to a missing step '%s' (did you "
								"mean '%s'?)",
						    in->name, in->step, sg.best);
				return fail(p, in->pos, "input '%s' refers to a missing step '%s'", in->name,
					    in->step);
			}
			if (j == i)
				return fail(p, in->pos, "step '%s' cannot consume its own output '%s'",
					    st->name, in->output);
			in->step_index = j;
			const spec_step *src = &s->steps[j];
			bool found = false;
			for (size_t q = 0; q < src->n_outputs && !found; q++)
				found = !strcmp(src->outputs[q], in->output);
			if (found)
				continue;
			sl__buf list;
			suggest sg;
			suggest_init(&sg, in->output);
			sl__buf_init(&list, 400);
			for (size_t q = 0; q < src->n_outputs; q++) {
				suggest_add(&sg, src->outputs[q]);
				sl__buf_printf(&list, "%s%s", q ? ", " : "", src->outputs[q]);
			}
			if (!src->n_outputs)
				fail(p, in->pos, "input '%s': step '%s' has no outputs (declare them with "
						 "'outputs:')",
				     in->name, src->name);
			else if (sg.best)
				fail(p, in->pos, "input '%s': step '%s' has no output '%s' (did you mean '%s'? "
						 "it has: %s)",
				     in->name, src->name, in->output, sg.best, list.data);
			else
				fail(p, in->pos, "input '%s': step '%s' has no output '%s' (it has: %s)",
				     in->name, src->name, in->output, list.data);
			sl__buf_free(&list);
			return p->rc;
		}
	}
	return 0;
}

/* The default pipeline name: the file name without directory and extension. */
static char *default_name(const char *disp)
{
	const char *base = strrchr(disp, '/');
	size_t n;

	base = base ? base + 1 : disp;
	n = strlen(base);
	if (sl__str_has_suffix(base, ".yaml"))
		n -= 5;
	else if (sl__str_has_suffix(base, ".yml"))
		n -= 4;
	if (n == 0 || base[0] == '<')
		return sl__strdup("pipeline");
	return sl__strndup(base, n);
}

static const char *const top_keys[] = {"name", "description", "params", "steps"};

static int read_spec(parser *p, const ynode *root, const char *const *overrides, size_t n_ov)
{
	spec *s = p->s;
	const ynode *steps, *steps_key = NULL, *v, *params_key = NULL;

	if (!root)
		return fail(p, (spec_pos){1, 1}, "the pipeline file is empty (it needs 'steps')");
	if (root->type != YN_MAP)
		return fail(p, root->pos, "a pipeline file must be a mapping with 'steps', not %s",
			    node_kind(root));
	if (check_keys(p, root, top_keys, SL__ARRAY_LEN(top_keys), "the pipeline file"))
		return p->rc;
	if ((v = map_get(root, "name", NULL))) {
		if (want_text(p, v, "'name'", &s->name))
			return p->rc;
		if (!*s->name)
			return fail(p, v->pos, "'name' must not be empty");
	} else if (!(s->name = default_name(p->disp))) {
		return oom(p);
	}
	if ((v = map_get(root, "description", NULL)) && !is_null_node(v) &&
	    want_text(p, v, "'description'", &s->description))
		return p->rc;

	p->params_pos = root->pos;
	if ((v = map_get(root, "params", &params_key))) {
		p->params_pos = params_key->pos;
		if (read_params(p, v))
			return p->rc;
	}
	for (size_t i = 0; i < n_ov; i++)
		if (apply_override(p, overrides[i]))
			return p->rc;

	steps = map_get(root, "steps", &steps_key);
	if (!steps)
		return fail(p, root->pos, "missing 'steps' (a mapping of step names to steps)");
	if (is_null_node(steps) || (steps->type == YN_MAP && steps->n == 0))
		return fail(p, steps_key->pos, "'steps' is empty: a pipeline needs at least one step");
	if (want_map(p, steps, "'steps'"))
		return p->rc;
	if (!(s->steps = sl__calloc(steps->n / 2, sizeof *s->steps)))
		return oom(p);
	/* Names first, so that any error message can already look steps up. */
	for (size_t i = 0; i < steps->n; i += 2)
		if (strtab_put(&p->steps, steps->kids[i]->text, i / 2, NULL) < 0)
			return oom(p);
	for (size_t i = 0; i < steps->n; i += 2) {
		s->n_steps++;
		if (read_step(p, i / 2, steps->kids[i], steps->kids[i + 1]))
			return p->rc;
	}
	return resolve_inputs(p);
}

/* ---- public entry points ------------------------------------------------------------ */

void spec_free(spec *s)
{
	spec_full *f = (spec_full *)s;

	if (!s)
		return;
	for (size_t i = 0; i < s->n_params; i++) {
		sl__free(s->params[i].name);
		json_decref(s->params[i].value);
	}
	sl__free(s->params);
	for (size_t i = 0; i < s->n_steps; i++) {
		spec_step *st = &s->steps[i];
		sl__free(st->name);
		sl__free(st->uses);
		sl__free(st->run);
		sl__free(st->plugin);
		json_decref(st->with);
		for (size_t k = 0; k < st->n_inputs; k++) {
			sl__free(st->inputs[k].name);
			sl__free(st->inputs[k].step);
			sl__free(st->inputs[k].output);
		}
		sl__free(st->inputs);
		for (size_t k = 0; k < st->n_outputs; k++)
			sl__free(st->outputs[k]);
		sl__free(st->outputs);
		for (size_t k = 0; k < st->n_deps; k++)
			sl__free(st->deps[k]);
		sl__free(st->deps);
		json_decref(st->env);
		sl__free(st->description);
		sl__free(st->upstream);
		sl__free(st->downstream);
	}
	sl__free(s->steps);
	sl__free(s->order);
	sl__free(s->path);
	sl__free(s->dir);
	sl__free(s->name);
	sl__free(s->description);
	strtab_free(&f->index);
	sl__free(f);
}

int spec_parse_string(const char *text, size_t len, const char *display_name, const char *dir,
		      const char *const *overrides, size_t n_overrides, spec **out)
{
	spec_full *f;
	parser p;
	ynode *root = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!text || !out || (n_overrides && !overrides))
		return sl__err(SL_EINVAL, "spec_parse_string: invalid arguments");
	if (!display_name)
		display_name = "<string>";
	if (!(f = sl__calloc(1, sizeof *f)))
		return sl__err(SL_ENOMEM, "out of memory");
	memset(&p, 0, sizeof p);
	p.disp = display_name;
	p.s = &f->pub;
	p.json_budget = SPEC_MAX_NODES;
	if (!(f->pub.path = sl__strdup("<string>")) || !(f->pub.dir = sl__path_abs(dir ? dir : ".")))
		oom(&p);
	if (!p.rc && !tree_parse(&p, text, len, &root) && !read_spec(&p, root, overrides, n_overrides)) {
		rc = dag_build(&f->pub, &p.epos, p.emsg, sizeof p.emsg);
		if (rc == SL_ESPEC)
			p.rc = rc;
		else if (rc)
			oom(&p);
	}

	arena_free(&p.mem);
	sl__free(p.kids);
	sl__free(p.anchor_nodes);
	strtab_free(&p.anchors);
	strtab_free(&p.params);
	/* The name table becomes the spec's index (its keys are the steps' own
	 * names, which live as long as the spec), once keys are repointed. */
	if (!p.rc) {
		strtab_free(&p.steps);
		for (size_t i = 0; i < f->pub.n_steps && !p.rc; i++)
			if (strtab_put(&f->index, f->pub.steps[i].name, i, NULL) < 0)
				oom(&p);
	}
	strtab_free(&p.steps);
	rc = p.rc;
	if (rc) {
		spec_free(&f->pub);
		if (rc == SL_ESPEC)
			return sl__err(SL_ESPEC, "%s:%d:%d: %s", display_name, p.epos.line, p.epos.col,
				       p.emsg);
		return sl__err(rc, "%s: %s", display_name, p.emsg);
	}
	*out = &f->pub;
	return 0;
}

int spec_parse_file(const char *path, const char *const *overrides, size_t n_overrides,
		    spec **out)
{
	sl__buf b;
	char *abs, *dir;
	int rc;

	if (out)
		*out = NULL;
	if (!path || !out)
		return sl__err(SL_EINVAL, "spec_parse_file: invalid arguments");
	rc = sl__read_file(path, SPEC_MAX_FILE, &b);
	if (rc)
		return rc == SL_ENOMEM ? sl__err(rc, "%s: out of memory", path) : rc;
	abs = sl__path_abs(path);
	dir = abs ? sl__path_dir(abs) : NULL;
	if (!dir) {
		sl__free(abs);
		sl__buf_free(&b);
		return sl__err(SL_ENOMEM, "%s: out of memory", path);
	}
	rc = spec_parse_string(b.data, b.len, path, dir, overrides, n_overrides, out);
	sl__buf_free(&b);
	sl__free(dir);
	if (rc) {
		sl__free(abs);
		return rc;
	}
	sl__free((*out)->path);
	(*out)->path = abs;
	return 0;
}

long spec_step_index(const spec *s, const char *name)
{
	const spec_full *f = (const spec_full *)s;
	size_t i;

	if (!s || !name || !strtab_get(&f->index, name, &i))
		return -1;
	return (long)i;
}

static int sort_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *sorted_string_array(char **items, size_t n)
{
	const char **copy = n ? sl__calloc(n, sizeof *copy) : NULL;
	json_t *arr = json_array();

	if (!arr || (n && !copy))
		goto error;
	if (n) {
		memcpy(copy, items, n * sizeof *copy);
		/* Order does not change what a step does, so it must not change
		 * its key. */
		qsort(copy, n, sizeof *copy, sort_strings);
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, json_string(copy[i])))
			goto error;
	sl__free(copy);
	return arr;
error:
	sl__free(copy);
	json_decref(arr);
	return NULL;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of obj whose top-level keys are in sorted order (values shared). */
static json_t *with_sorted_top(json_t *obj)
{
	size_t n = json_object_size(obj), k = 0;
	const char **keys;
	const char *key;
	json_t *v, *out = json_object();

	if (!out || n == 0)
		return out;
	keys = sl__calloc(n, sizeof *keys);
	if (!keys) {
		json_decref(out);
		return NULL;
	}
	json_object_foreach(obj, key, v)
		keys[k++] = key;
	qsort(keys, n, sizeof *keys, cmp_key);
	for (k = 0; k < n; k++) {
		if (json_object_set(out, keys[k], json_object_get(obj, keys[k]))) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	sl__free(keys);
	return out;
}

char *spec_step_canonical(const spec *s, size_t i)
{
	const spec_step *st;
	json_t *o, *in;
	char *text = NULL, *dumped;
	int bad = 0;

	if (!s || i >= s->n_steps) {
		sl__err(SL_EINVAL, "spec_step_canonical: no step %zu", i);
		return NULL;
	}
	st = &s->steps[i];
	if (!(o = json_object()))
		goto nomem;
	static const char *const kinds[] = {"uses", "run", "plugin"};
	const char *what = st->kind == SPEC_USES ? st->uses : st->kind == SPEC_RUN ? st->run : st->plugin;
	/*
	 * Keys are inserted in sorted order and dumped in insertion order, with
	 * every map sorted by key except inside option values: there order can
	 * mean something (wrangle's `derive: {b: ..., a: ...}` makes columns in
	 * that order), so two orders must not share a cache entry. Option names,
	 * env, inputs, outputs and deps have no meaningful order.
	 */
	json_t *inputs_sorted = NULL;
	bad |= json_object_set_new(o, "deps", sorted_string_array(st->deps, st->n_deps));
	bad |= json_object_set_new(o, "env", st->env ? with_sorted_top(st->env) : json_object());
	bad |= !(in = json_object());
	for (size_t k = 0; in && k < st->n_inputs; k++) {
		char *ref = sl__asprintf("%s.%s", st->inputs[k].step, st->inputs[k].output);
		bad |= !ref || json_object_set_new(in, st->inputs[k].name, json_string(ref));
		sl__free(ref);
	}
	inputs_sorted = with_sorted_top(in);
	json_decref(in);
	bad |= json_object_set_new(o, "inputs", inputs_sorted);
	bad |= json_object_set_new(o, "kind", json_string(kinds[st->kind]));
	bad |= json_object_set_new(o, "outputs", sorted_string_array(st->outputs, st->n_outputs));
	bad |= json_object_set_new(o, kinds[st->kind], json_string(what));
	bad |= json_object_set_new(o, "with", st->with ? with_sorted_top(st->with) : json_object());
	if (bad)
		goto nomem;
	dumped = json_dumps(o, JSON_COMPACT);
	if (!dumped)
		goto nomem;
	/* Copied so that the caller frees with sl__free like everything else. */
	text = sl__strdup(dumped);
	free(dumped);
	if (!text)
		goto nomem;
	json_decref(o);
	return text;
nomem:
	json_decref(o);
	sl__err(SL_ENOMEM, "out of memory");
	return NULL;
}

static const char *lookup_io(const char *name, size_t len, const char *const *names,
			     const char *const *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], name, len))
			return vals[i];
	return NULL;
}

char *spec_subst_io(const char *text, const char *const *in_names, const char *const *in_vals,
		    size_t n_in, const char *const *out_names, const char *const *out_vals,
		    size_t n_out)
{
	sl__buf b;
	const char *t = text;
	char *r;

	if (!text) {
		sl__err(SL_EINVAL, "spec_subst_io: no text");
		return NULL;
	}
	sl__buf_init(&b, 0);
	for (;;) {
		const char *d = strstr(t, "${");
		const char *close, *val;
		bool input;

		if (!d) {
			if (sl__buf_puts(&b, t))
				goto nomem;
			break;
		}
		if (sl__buf_append(&b, t, (size_t)(d - t)))
			goto nomem;
		close = strchr(d + 2, '}');
		input = sl__str_has_prefix(d + 2, "inputs.");
		if (!close || (!input && !sl__str_has_prefix(d + 2, "outputs."))) {
			/* Not ours (the parser has already vetted the text): copy. */
			if (sl__buf_append(&b, d, 2))
				goto nomem;
			t = d + 2;
			continue;
		}
		const char *name = d + 2 + (input ? 7 : 8);
		size_t len = (size_t)(close - name);
		val = input ? lookup_io(name, len, in_names, in_vals, n_in)
			    : lookup_io(name, len, out_names, out_vals, n_out);
		if (!val) {
			sl__err(SL_EINVAL, "no %s '%.*s' to substitute for '%.*s'",
				input ? "input" : "output", (int)(len < 100 ? len : 100), name,
				(int)((size_t)(close - d + 1) < 120 ? (size_t)(close - d + 1) : 120), d);
			sl__buf_free(&b);
			return NULL;
		}
		if (sl__buf_puts(&b, val))
			goto nomem;
		t = close + 1;
	}
	if ((r = buf_take(&b)))
		return r;
nomem:
	sl__buf_free(&b);
	sl__err(SL_ENOMEM, "out of memory");
	return NULL;
}
