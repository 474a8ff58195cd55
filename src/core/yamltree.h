/*
 * The YAML loader: every YAML file sluice reads (pipeline files, sluice.yaml,
 * canvas.yaml, validation schemas) goes through it, so they share one
 * scalar resolver, one set of limits and one form of error,
 * "FILE:LINE:COL: message" (1-based; columns count characters).
 *
 * A file becomes a tree of nodes that keep their position; a consumer reads
 * the tree directly (lookups, iteration, kinds) or converts a subtree to
 * JSON, optionally recording where each JSON path came from:
 *
 *   text --sl__yaml_parse--> sl__ydoc (tree) --sl__yaml_json--> json_t
 *                                                   \--> sl__ypmap: "ops[3].columns" -> 12:9
 *
 * Scalars resolve by the YAML 1.2 core schema, everywhere the same:
 *
 *   null      ~, null, Null, NULL, empty        (yes/no/on/off are strings)
 *   bool      true, True, TRUE, false, False, FALSE
 *   int       [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+    (012 is 12, not octal)
 *   float     [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?, [-+]?.inf, .nan
 *   string    anything else, and every quoted scalar
 *
 * Explicit tags !!str, !!int, !!float, !!bool, !!null and the non-specific
 * "!" (a string) are understood; any other tag is an error. Infinity and
 * NaN are ordinary FLOAT nodes in the tree; JSON cannot hold them, so the
 * conversion rejects them with a positioned error unless the caller asks
 * for the text forms "Inf", "-Inf" and "NaN" (the convention of profile and
 * schema artifacts), where the consumer gives them a meaning (a schema's
 * `max: .inf` is "no upper bound").
 *
 * Design notes (invariants kept here):
 *
 *   1. The first error wins: a document records one position and message
 *      and later failures are ignored, so unwinding code reports freely.
 *      Consumers record their own errors on the document the same way
 *      (sl__ydoc_fail), so a file's errors all read alike.
 *   2. The tree lives in an arena owned by the document and freed in one
 *      go; nodes are immutable once the parse returns.
 *   3. Hostile input is bounded: nesting deeper than SL__YAML_MAX_DEPTH and
 *      more than max_nodes nodes are rejected while parsing, and an alias is
 *      a pointer to an already complete node (never a copy, never an
 *      ancestor), so "billion laughs" costs nothing until converted to
 *      JSON, where the count of produced values is bounded as well.
 *   4. Nothing is quadratic: anchors, duplicate keys in large mappings and
 *      position maps go through hash tables.
 *   5. libyaml's syntax errors are rewritten where they are known to
 *      mislead: a tab in indentation and a key indented unlike its siblings
 *      are reported at the line that is wrong, saying what is wrong with it.
 */
#ifndef SLUICE_YAMLTREE_H
#define SLUICE_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"

#define SL__YAML_MAX_DEPTH 64
#define SL__YAML_MAX_NODES 1000000
#define SL__YAML_MAX_FILE ((size_t)16 << 20)
#define SL__YAML_MSG_MAX 900

typedef struct sl__ypos {
	int line; /* 1-based; 0 when unknown */
	int col;  /* 1-based, in characters */
} sl__ypos;

typedef enum sl__ykind {
	SL__Y_NULL,
	SL__Y_BOOL,
	SL__Y_INT,
	SL__Y_FLOAT,
	SL__Y_STR,
	SL__Y_SEQ,
	SL__Y_MAP
} sl__ykind;

/*
 * A node. Read-only for consumers; owned by its document. Mapping keys are
 * scalar nodes too (with positions); a key whose text does not resolve (an
 * integer too large) is kept as a string, since a key is used by its text.
 */
typedef struct sl__ynode sl__ynode;
struct sl__ynode {
	sl__ykind kind;
	sl__ypos pos;      /* where the node starts: its first character (a quote,
			    * '[', '{'; a block mapping at its first key, a block
			    * sequence at its first '-') */
	bool plain;        /* scalars: unquoted and untagged (resolved by the schema) */
	bool exact;        /* scalars: written on one line without escapes, so the
			    * character at offset k sits at column pos.col + lead + k */
	bool flow;         /* collections: written as [...] or {...} */
	unsigned char lead; /* exact scalars: 1 for a quote, else 0 */
	const char *text;  /* scalars: the value's text, NUL-terminated (also for numbers) */
	size_t len;        /* bytes of text */
	bool b;            /* SL__Y_BOOL */
	int64_t i;         /* SL__Y_INT */
	double d;          /* SL__Y_FLOAT (also SL__Y_INT, converted) */
	sl__ynode **kids;  /* SEQ: the items; MAP: key, value, key, value ... */
	size_t n;          /* number of kids */
	size_t weight;     /* values in the subtree once aliases are expanded */
};

typedef struct sl__ydoc sl__ydoc;

/* A parse failure, for callers that rewrite the message (-p NAME=VALUE). */
typedef struct sl__yerr {
	int rc;
	sl__ypos pos;
	char msg[SL__YAML_MSG_MAX];
} sl__yerr;

typedef struct sl__yaml_opts {
	const char *name;  /* the file name in messages ("<string>" when NULL) */
	const char *what;  /* "a pipeline file": names the file in some messages */
	int code;          /* the error code of bad input (default SL_EPARSE) */
	size_t max_nodes;  /* default SL__YAML_MAX_NODES */
	sl__yerr *err;     /* when not NULL, receives a failure's parts */
} sl__yaml_opts;

/*
 * Parses one YAML document (an empty stream gives a NULL root; a second
 * document is an error). opts may be NULL. On failure returns the error
 * code with sl_errmsg() "NAME:LINE:COL: message" and *out NULL; otherwise
 * the caller owns *out (free with sl__ydoc_free).
 */
int sl__yaml_parse(const char *text, size_t len, const sl__yaml_opts *opts, sl__ydoc **out);
/* The same for a file (at most SL__YAML_MAX_FILE bytes); NAME defaults to path. */
int sl__yaml_load_file(const char *path, const sl__yaml_opts *opts, sl__ydoc **out);
void sl__ydoc_free(sl__ydoc *d); /* accepts NULL */

const sl__ynode *sl__ydoc_root(const sl__ydoc *d);
const char *sl__ydoc_name(const sl__ydoc *d);

/*
 * Records an error at pos (the first one wins, design note 1) and returns
 * the document's error code; sl__ydoc_oom records "out of memory".
 */
int sl__ydoc_fail(sl__ydoc *d, sl__ypos pos, const char *fmt, ...) SL__PRINTF(3, 4);
#define sl__ydoc_fail(...) SL__ERR_CODE(sl__ydoc_fail(__VA_ARGS__))
int sl__ydoc_oom(sl__ydoc *d);
/* The recorded error: 0 when none. */
int sl__ydoc_rc(const sl__ydoc *d);
sl__ypos sl__ydoc_errpos(const sl__ydoc *d);
const char *sl__ydoc_errmsg(const sl__ydoc *d);
/* Sets sl_errmsg() to "NAME:LINE:COL: message" (or "NAME: out of memory") and returns rc. */
int sl__ydoc_raise(const sl__ydoc *d);
/* Clears the recorded error (after a consumer handled it). */
void sl__ydoc_clear(sl__ydoc *d);

/* ---- reading the tree ------------------------------------------------------- */

/* "null", "a boolean", "an integer", "a number", "a string", "a sequence", "a mapping". */
const char *sl__ynode_kind_name(const sl__ynode *n);
static inline bool sl__ynode_is_null(const sl__ynode *n)
{
	return n->kind == SL__Y_NULL;
}
static inline bool sl__ynode_is_scalar(const sl__ynode *n)
{
	return n->kind != SL__Y_SEQ && n->kind != SL__Y_MAP;
}
/* Items of a sequence, or pairs of a mapping. */
static inline size_t sl__ynode_count(const sl__ynode *n)
{
	return n->kind == SL__Y_MAP ? n->n / 2 : n->kind == SL__Y_SEQ ? n->n : 0;
}
static inline const sl__ynode *sl__yseq_at(const sl__ynode *s, size_t i)
{
	return s->kids[i];
}
static inline const sl__ynode *sl__ymap_key_at(const sl__ynode *m, size_t i)
{
	return m->kids[2 * i];
}
static inline const sl__ynode *sl__ymap_val_at(const sl__ynode *m, size_t i)
{
	return m->kids[2 * i + 1];
}
/* The value under key in mapping m (NULL when absent or m is not a mapping);
 * *out_key (may be NULL) receives the key node. */
const sl__ynode *sl__ymap_get(const sl__ynode *m, const char *key, const sl__ynode **out_key);
/* The position of byte offset off inside scalar n (its start when not exact). */
sl__ypos sl__ynode_pos_at(const sl__ynode *n, size_t off);
/* The node at a path ("a.b[2]['odd key']") below n, or NULL. */
const sl__ynode *sl__ynode_at(const sl__ynode *n, const char *path);

/*
 * Resolves a plain scalar's text by the core schema (the table above).
 * kind and the value fields of out are set (text fields are not). Returns
 * 0, or -1 when the text is an integer that does not fit in 64 bits.
 */
int sl__yaml_resolve(const char *text, sl__ynode *out);

/* ---- paths ------------------------------------------------------------------ *
 *
 * A path names a value below a root the way JSONPath and jq do: keys joined
 * by '.', items as [N] (0-based), and keys that are not plain names
 * ([A-Za-z_][A-Za-z0-9_-]*) written ["quoted"] with \" and \\ escaped:
 * ops[3].columns, types["unit price"]. The empty path is the root.
 */
int sl__ypath_key(sl__buf *b, const char *key);    /* appends one key */
/* True for a plain name, [A-Za-z_][A-Za-z0-9_-]*, written without quotes in a path. */
bool sl__ypath_plain(const char *key);
int sl__ypath_index(sl__buf *b, size_t i);         /* appends [i] */
/* The JSON value at path below root (borrowed), or NULL. */
json_t *sl__ypath_json(const json_t *root, const char *path);

/* ---- JSON with positions ------------------------------------------------------ */

/*
 * Where the value at a path was written: its position, its key's position
 * (inside a mapping), and for plain scalars that resolved to a number,
 * boolean or null the text as written (so "version: 1.10" can stay "1.10"
 * where a string is wanted).
 */
typedef struct sl__yloc {
	sl__ypos pos;
	sl__ypos key;        /* {0, 0} for items and the root */
	bool exact;          /* see sl__ynode */
	unsigned char lead;
	const char *literal; /* owned by the map, or NULL */
} sl__yloc;

typedef struct sl__ypmap sl__ypmap;

int sl__ypmap_new(sl__ypmap **out);
void sl__ypmap_free(sl__ypmap *m); /* accepts NULL */
/*
 * The location of path, or of its longest recorded prefix (so an error
 * about a missing key points at the mapping that lacks it). Returns the
 * number of bytes of path matched (strlen(path) for an exact match), or -1
 * when nothing, not even the root, is recorded.
 */
long sl__ypmap_find(const sl__ypmap *m, const char *path, sl__yloc *out);
/* Number of recorded paths. */
size_t sl__ypmap_count(const sl__ypmap *m);

/* Conversion flags. */
#define SL__YJSON_NONFINITE_TEXT 1u /* .inf, -.inf, .nan become "Inf", "-Inf", "NaN" */

/*
 * Called for every scalar before it is converted: returns 1 with *out set
 * when it produced the value itself, 0 to let the default conversion run,
 * or a negative code after recording an error on the document.
 */
typedef int (*sl__yscalar_fn)(void *arg, sl__ydoc *d, const sl__ynode *n, const char *path,
			       json_t **out);

typedef struct sl__yjson {
	unsigned flags;
	const char *root;   /* the path of n itself ("" when NULL) */
	sl__ypmap *pmap;    /* when not NULL, receives every value's location */
	sl__yscalar_fn scalar;
	void *arg;
} sl__yjson;

/*
 * Converts the subtree n of d to JSON (*out owned by the caller). Mapping
 * keys become object keys by their text. The number of values produced
 * over the document's lifetime is bounded (aliases). o may be NULL. On
 * failure the error is recorded on d and returned; *out is NULL.
 */
int sl__yaml_json(sl__ydoc *d, const sl__ynode *n, const sl__yjson *o, json_t **out);

/*
 * Parses text as JSON in one call, for files read as a whole (sluice.yaml,
 * canvas.yaml, schemas): *out_json (an empty object for an empty document)
 * and, when out_pmap is not NULL, the positions. opts as for
 * sl__yaml_parse, flags as for sl__yaml_json. Errors are "NAME:LINE:COL:
 * ..." with opts' code (SL_EPARSE by default); *out_json and *out_pmap are
 * NULL then. The caller owns both.
 */
int sl__yaml_parse_json(const char *text, size_t len, const sl__yaml_opts *opts, unsigned flags,
			json_t **out_json, sl__ypmap **out_pmap);
/*
 * The whole document d as JSON, as sl__yaml_parse_json gives it, for a
 * caller that keeps the tree too (sluice.yaml's alert rules are checked on
 * the tree). Errors are raised ("NAME:LINE:COL: ...").
 */
int sl__ydoc_json(sl__ydoc *d, unsigned flags, json_t **out_json, sl__ypmap **out_pmap);
/* The same for a file (canvas.yaml's load path); NAME is path. */
int sl__yaml_load_json(const char *path, unsigned flags, json_t **out_json, sl__ypmap **out_pmap);

/* "a mapping", "a sequence", "a string", "an integer", "a number", "a boolean",
 * "null" ("nothing" for NULL): a JSON value's kind in messages. */
const char *sl__json_kind(const json_t *v);

/* "FILE:LINE:COL: message" as this thread's error, for consumers of a pmap. */
int sl__yaml_err_at(int code, const char *file, sl__ypos pos, const char *fmt, ...)
	SL__PRINTF(4, 5);
#define sl__yaml_err_at(...) SL__ERR_CODE(sl__yaml_err_at(__VA_ARGS__))

#endif
