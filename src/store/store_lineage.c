/*
 * Lineage walks (store.h): an artifact's ancestors and descendants as
 * trees that read as what happened.
 *
 * Artifacts are content-addressed, so one artifact can come out of several
 * step runs: the step that made it, and steps that passed it on unchanged
 * (validate's `data`, a wrangle applying a given transform hands the
 * transform on), and identical runs served from the cache. The walk keeps
 * them apart:
 *
 *   maker       the step run that produced the artifact without having it
 *               as an input (an artifact's recorded producer is its first
 *               maker); a cache hit is credited to the step run that
 *               computed it (cached_from)
 *   passed on   a step run that has the artifact as an input and as an
 *               output: listed under "via" (upwards: between the maker and
 *               the consumer, found by following edges.via) or "uses"
 *               (downwards), never as a maker, so nothing is its own
 *               descendant
 *   source      the files the maker read (step_files, hashed for its cache
 *               key): the roots of an ingest's ancestry
 *
 *   ancestors:   node = {id, type, step, run, step_run, input, output, via?,
 *                        ref?, sources?, inputs: [nodes]}
 *                  step/run/step_run: the maker; input: the consumer's port;
 *                  output: the maker's port (train, valid, test ...);
 *                  via: [{step, run, step_run, output}] maker -> consumer;
 *                  ref: the reference it came through (model:spam@production)
 *   descendants: node = {id, type, step, run, step_run, input, output,
 *                        uses?, models?, outputs: [nodes]}
 *                  uses: [{step, run, step_run, input, passed_on_as}]: steps
 *                  that consumed it and made nothing new of it
 *
 * Invariants: each artifact is expanded once per direction (a later
 * occurrence is marked "repeated"), so a walk ends even if identical
 * content closes a cycle; depth, node count and the length of a via chain
 * are bounded and a node left unexpanded says "truncated"; the whole walk
 * reads one snapshot.
 *
 * Beyond step runs, lineage_exts add what else refers to an artifact
 * downstream: the registry's versions of a bundle now; the inference log's
 * requests of those versions are the next such function.
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define LINEAGE_DEFAULT_DEPTH 32
#define LINEAGE_MAX_DEPTH 256
#define LINEAGE_MAX_NODES 10000
#define LINEAGE_MAX_VIA 64

typedef struct lineage {
	store *s;
	json_t *seen;
	int max_depth;
	size_t nodes;
	bool truncated;
} lineage;

/* ---- small queries ---------------------------------------------------------------- */

/* A step run's step, run and (for a cache hit) the step run that computed it. */
typedef struct sr_info {
	bool found;
	char id[STORE_ID_SIZE];
	char step[256];
	char run[STORE_ID_SIZE];
	char from[STORE_ID_SIZE];
} sr_info;

static int row_sr_info(void *ud, int ncol, const sq_val *c)
{
	sr_info *i = ud;

	if (i->found || ncol < 4)
		return 0;
	i->found = true;
	snprintf(i->id, sizeof i->id, "%s", c[0].type == SQ_TEXT ? c[0].s : "");
	snprintf(i->step, sizeof i->step, "%s", c[1].type == SQ_TEXT ? c[1].s : "");
	snprintf(i->run, sizeof i->run, "%s", c[2].type == SQ_TEXT ? c[2].s : "");
	snprintf(i->from, sizeof i->from, "%s", c[3].type == SQ_TEXT ? c[3].s : "");
	return 0;
}

static int steprun_info(store *s, const char *id, sr_info *out)
{
	sq_val p[] = {S(id)};

	memset(out, 0, sizeof *out);
	return Q(s, "SELECT id, step, run_id, cached_from FROM step_runs WHERE id = ?", p,
		 row_sr_info, out);
}

/* The step run that computed what step run id stands for (itself, or its cached_from). */
static int computing(store *s, const char *id, sr_info *out)
{
	char from[STORE_ID_SIZE];
	int rc = steprun_info(s, id, out);

	if (rc == 0 && out->found && out->from[0]) {
		memcpy(from, out->from, sizeof from); /* steprun_info clears out first */
		rc = steprun_info(s, from, out);
	}
	return rc;
}

/* The name of an edge of step run sr in direction dir holding artifact id, or "". */
static int edge_name(store *s, const char *sr, const char *dir, const char *id, st_one_str *out)
{
	sq_val p[] = {S(sr), S(dir), S(id)};

	memset(out, 0, sizeof *out);
	return Q(s,
		 "SELECT name FROM edges WHERE step_run = ? AND direction = ? AND artifact = ? "
		 "ORDER BY name LIMIT 1",
		 p, st_row_one_str, out);
}

static int jset_str(json_t *o, const char *key, const char *v)
{
	return st_jset(o, key, v && *v ? st_j_text(v) : json_null());
}

/* Rows (path, sha256) into the array ud. */
static int row_source(void *ud, int ncol, const sq_val *c)
{
	json_t *o;

	if (ncol < 2)
		return 0;
	o = json_object();
	if (!o || st_jset(o, "path", st_j_str(&c[0])) || st_jset(o, "sha256", st_j_str(&c[1])) ||
	    json_array_append_new(ud, o))
		return st_nomem_json();
	return 0;
}

/*
 * node.sources: the files maker read, with their hashes; for a step run
 * recorded before files were, the artifact's own "source" metadata (an
 * ingest's path) without a hash.
 */
static int add_sources(store *s, const char *maker, const json_t *meta, json_t *node)
{
	json_t *arr = json_array();
	sq_val p[] = {S(maker)};
	int rc;

	if (!arr)
		return st_nomem_json();
	rc = Q(s, "SELECT path, sha256 FROM step_files WHERE step_run = ? ORDER BY path", p,
	       row_source, arr);
	if (rc == 0 && !json_array_size(arr) && json_is_string(json_object_get(meta, "source"))) {
		json_t *o = json_pack("{s:O, s:n}", "path", json_object_get(meta, "source"), "sha256");
		if (!o || json_array_append_new(arr, o))
			rc = st_nomem_json();
	}
	if (rc == 0 && json_array_size(arr)) {
		rc = st_jset(node, "sources", arr) ? st_nomem_json() : 0;
		arr = NULL;
	}
	json_decref(arr);
	return rc;
}

/* ---- upwards ---------------------------------------------------------------------- */

typedef struct in_row {
	char id[SL__HASH_HEX_SIZE];
	char name[256];
	char via[STORE_ID_SIZE];
	char ref[512];
	char type[64];
	char producer[STORE_ID_SIZE];
	char *meta; /* sl__free */
} in_row;

typedef struct in_list {
	in_row *v;
	size_t n, cap;
	int rc;
} in_list;

/* Columns: artifact, name, via, ref, type, producer, meta. */
static int row_in(void *ud, int ncol, const sq_val *c)
{
	in_list *l = ud;
	in_row *r;

	if (ncol < 7 || c[0].type != SQ_TEXT)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		in_row *v = sl__reallocarray(l->v, cap, sizeof *v);
		if (!v)
			return l->rc = st_nomem_json();
		l->v = v;
		l->cap = cap;
	}
	r = &l->v[l->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", c[0].s);
	snprintf(r->name, sizeof r->name, "%s", c[1].type == SQ_TEXT ? c[1].s : "");
	snprintf(r->via, sizeof r->via, "%s", c[2].type == SQ_TEXT ? c[2].s : "");
	snprintf(r->ref, sizeof r->ref, "%s", c[3].type == SQ_TEXT ? c[3].s : "");
	snprintf(r->type, sizeof r->type, "%s", c[4].type == SQ_TEXT ? c[4].s : "");
	snprintf(r->producer, sizeof r->producer, "%s", c[5].type == SQ_TEXT ? c[5].s : "");
	if (c[6].type == SQ_TEXT && !(r->meta = sl__strdup(c[6].s)))
		return l->rc = st_nomem_json();
	return 0;
}

static void in_list_free(in_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		sl__free(l->v[i].meta);
	sl__free(l->v);
}

/*
 * Follows an input back to its maker: from the step run it came from (via),
 * through every step run that had it as an input too (passed it on), to
 * the one that made it. Appends the pass-throughs to chain (maker first)
 * and fills *maker; without via information, the artifact's producer.
 */
static int find_maker(store *s, const in_row *in, json_t *chain, sr_info *maker, bool *cut)
{
	char cur[STORE_ID_SIZE];
	int rc = 0;

	snprintf(cur, sizeof cur, "%s", in->via);
	for (int hops = 0; cur[0]; hops++) {
		st_one_str pass = {0};
		sq_val p[] = {S(cur), S(in->id)};
		sr_info i;
		json_t *o;

		if (hops == LINEAGE_MAX_VIA) {
			*cut = true;
			break;
		}
		rc = Q(s,
		       "SELECT via FROM edges WHERE step_run = ? AND direction = 'in' AND artifact = ? "
		       "ORDER BY name LIMIT 1",
		       p, st_row_one_str, &pass);
		if (rc || pass.nomem) {
			sl__free(pass.v);
			return rc ? rc : st_nomem_json();
		}
		if (!pass.found)
			return computing(s, cur, maker); /* cur made it */
		/* cur passed it on: note it, and go to where cur got it from. */
		if ((rc = steprun_info(s, cur, &i)) == 0) {
			st_one_str out;
			rc = edge_name(s, cur, "out", in->id, &out);
			o = json_object();
			if (rc == 0 && (!o || jset_str(o, "step", i.step) || jset_str(o, "run", i.run) ||
					jset_str(o, "step_run", cur) || jset_str(o, "output", out.v) ||
					json_array_insert_new(chain, 0, o)))
				rc = st_nomem_json();
			sl__free(out.v);
		}
		snprintf(cur, sizeof cur, "%s", pass.v ? pass.v : "");
		sl__free(pass.v);
		if (rc)
			return rc;
	}
	memset(maker, 0, sizeof *maker);
	return in->producer[0] ? computing(s, in->producer, maker) : 0;
}

static int walk_up(lineage *L, const char *steprun, int depth, json_t **out);

/* One ancestor node for input in of a step run, expanded. */
static int up_node(lineage *L, const in_row *in, int depth, json_t *arr)
{
	json_t *node = json_object(), *via = json_array(), *meta, *kids = NULL;
	sr_info maker = {0};
	st_one_str out = {0};
	bool cut = false;
	int rc;

	if (!node || !via) {
		json_decref(node);
		json_decref(via);
		return st_nomem_json();
	}
	rc = find_maker(L->s, in, via, &maker, &cut);
	if (rc == 0 && maker.found)
		rc = edge_name(L->s, maker.id, "out", in->id, &out);
	if (rc == 0 && (jset_str(node, "id", in->id) || jset_str(node, "type", in->type) ||
			jset_str(node, "step", maker.step) || jset_str(node, "run", maker.run) ||
			jset_str(node, "step_run", maker.id) || jset_str(node, "input", in->name) ||
			jset_str(node, "output", out.v)))
		rc = st_nomem_json();
	sl__free(out.v);
	if (rc == 0 && json_array_size(via) && st_jset(node, "via", json_incref(via)))
		rc = st_nomem_json();
	if (rc == 0 && in->ref[0] && jset_str(node, "ref", in->ref))
		rc = st_nomem_json();
	if (rc == 0 && cut && st_jset(node, "truncated", json_true()))
		rc = st_nomem_json();
	json_decref(via);
	{
		/* Metadata that does not parse just has no source in it. */
		bool oom = false;
		meta = in->meta ? sl__json_loadb(in->meta, strlen(in->meta), 0, NULL, &oom) : NULL;
		if (oom && rc == 0)
			rc = sl__oom();
	}
	if (rc == 0 && maker.found)
		rc = add_sources(L->s, maker.id, meta, node);
	json_decref(meta);
	if (rc == 0 && json_array_append(arr, node))
		rc = st_nomem_json();
	if (rc) {
		json_decref(node);
		return rc;
	}
	/* Expand: once per artifact, within the bounds. */
	L->nodes++;
	if (json_object_get(L->seen, in->id)) {
		rc = st_jset(node, "repeated", json_true()) ? st_nomem_json() : 0;
	} else if (json_object_set_new(L->seen, in->id, json_true())) {
		rc = st_nomem_json();
	} else if (!maker.found) {
		rc = st_jset(node, "inputs", json_array()) ? st_nomem_json() : 0; /* imported */
	} else if (depth >= L->max_depth || L->nodes >= LINEAGE_MAX_NODES) {
		L->truncated = true;
		rc = st_jset(node, "truncated", json_true()) ? st_nomem_json() : 0;
	} else if ((rc = walk_up(L, maker.id, depth + 1, &kids)) == 0) {
		rc = st_jset(node, "inputs", kids) ? st_nomem_json() : 0;
	}
	json_decref(node);
	return rc;
}

/* The inputs of step run steprun, each with its maker and how it came. */
static int walk_up(lineage *L, const char *steprun, int depth, json_t **out)
{
	in_list l = {0};
	json_t *arr = json_array();
	sq_val p[] = {S(steprun)};
	int rc;

	*out = NULL;
	if (!arr)
		return st_nomem_json();
	rc = Q(L->s,
	       "SELECT e.artifact, e.name, e.via, e.ref, a.type, a.producer, a.meta FROM edges e "
	       "JOIN artifacts a ON a.id = e.artifact "
	       "WHERE e.step_run = ? AND e.direction = 'in' ORDER BY e.name",
	       p, row_in, &l);
	if (rc == 0)
		rc = l.rc;
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rc = up_node(L, &l.v[i], depth, arr);
	in_list_free(&l);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* ---- downwards -------------------------------------------------------------------- */

/* Registered versions whose bundle an artifact is: where a model's lineage goes on. */
static int row_version(void *ud, int ncol, const sq_val *c)
{
	json_t *o;

	if (ncol < 2)
		return 0;
	o = json_object();
	if (!o || st_jset(o, "name", st_j_str(&c[0])) ||
	    st_jset(o, "version", json_integer(c[1].type == SQ_INT ? c[1].i : 0)) ||
	    json_array_append_new(ud, o))
		return st_nomem_json();
	return 0;
}

static int lin_models(store *s, const char *artifact, json_t *node)
{
	json_t *arr = json_array();
	sq_val p[] = {S(artifact)};
	int rc;

	if (!arr)
		return st_nomem_json();
	rc = Q(s, "SELECT model, version FROM model_versions WHERE bundle = ? ORDER BY model, version",
	       p, row_version, arr);
	if (rc == 0 && json_array_size(arr)) {
		rc = st_jset(node, "models", arr) ? st_nomem_json() : 0;
		arr = NULL;
	}
	json_decref(arr);
	return rc;
}

/*
 * What refers to an artifact downstream beyond step runs, each adding a key
 * of its own to the node when it has something. A model server's inference
 * log joins here with a function listing the requests the versions of a
 * bundle answered.
 */
typedef int (*lineage_ext_fn)(store *s, const char *artifact, json_t *node);
static const lineage_ext_fn lineage_exts[] = {lin_models};

static int add_exts(store *s, const char *artifact, json_t *node)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < SL__ARRAY_LEN(lineage_exts); i++)
		rc = lineage_exts[i](s, artifact, node);
	return rc;
}

/*
 * Columns: consumer step run, step, run, input name, out name, out artifact,
 * out type, whether that output is one of the consumer's inputs.
 */
typedef struct down_ctx {
	const char *parent;
	json_t *nodes, *uses;
	char last_sr[STORE_ID_SIZE];
	bool last_made;   /* the current consumer made something new */
	char passed[256]; /* the current consumer's output name that is the parent, or "" */
	char step[256], run[STORE_ID_SIZE], input[256];
} down_ctx;

static bool has_id(json_t *arr, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(json_object_get(v, "id"));
		if (s && !strcmp(s, id))
			return true;
	}
	return false;
}

/* The consumer whose rows just ended is a use when it made nothing new or passed it on. */
static int flush_use(down_ctx *x)
{
	json_t *o;

	if (!x->last_sr[0] || (x->last_made && !x->passed[0]))
		return 0;
	o = json_object();
	if (!o || jset_str(o, "step", x->step) || jset_str(o, "run", x->run) ||
	    jset_str(o, "step_run", x->last_sr) || jset_str(o, "input", x->input) ||
	    jset_str(o, "passed_on_as", x->passed) || json_array_append_new(x->uses, o))
		return st_nomem_json();
	return 0;
}

static int row_down(void *ud, int ncol, const sq_val *c)
{
	down_ctx *x = ud;
	const char *sr, *out_id;
	int rc;

	if (ncol < 8 || c[0].type != SQ_TEXT)
		return 0;
	sr = c[0].s;
	if (strcmp(sr, x->last_sr) != 0) {
		if ((rc = flush_use(x)) != 0)
			return rc;
		snprintf(x->last_sr, sizeof x->last_sr, "%s", sr);
		snprintf(x->step, sizeof x->step, "%s", c[1].type == SQ_TEXT ? c[1].s : "");
		snprintf(x->run, sizeof x->run, "%s", c[2].type == SQ_TEXT ? c[2].s : "");
		snprintf(x->input, sizeof x->input, "%s", c[3].type == SQ_TEXT ? c[3].s : "");
		x->last_made = false;
		x->passed[0] = '\0';
	}
	if (c[5].type != SQ_TEXT)
		return 0; /* a consumer without outputs */
	out_id = c[5].s;
	if (c[7].type == SQ_INT && c[7].i) {
		/* One of the consumer's inputs, handed on: this one, or another. */
		if (!strcmp(out_id, x->parent))
			snprintf(x->passed, sizeof x->passed, "%s", c[4].type == SQ_TEXT ? c[4].s : "");
		return 0;
	}
	x->last_made = true;
	if (has_id(x->nodes, out_id))
		return 0; /* one node per artifact among siblings */
	{
		json_t *o = json_object();
		if (!o || jset_str(o, "id", out_id) || st_jset(o, "type", st_j_str(&c[6])) ||
		    jset_str(o, "step", x->step) || jset_str(o, "run", x->run) ||
		    jset_str(o, "step_run", sr) || jset_str(o, "input", x->input) ||
		    st_jset(o, "output", st_j_str(&c[4])) || json_array_append_new(x->nodes, o))
			return st_nomem_json();
	}
	return 0;
}

/*
 * The consumers of artifact id: what they made of it (nodes) and, in
 * *uses, the ones that made nothing new of it. Cache hits are left out:
 * what they stand for is their original's, which is listed.
 */
static int consumers(store *s, const char *id, json_t *nodes, json_t *uses)
{
	down_ctx x = {.parent = id, .nodes = nodes, .uses = uses};
	sq_val p[] = {S(id)};
	int rc = Q(s,
		   "SELECT c.id, c.step, c.run_id, i.name, o.name, o.artifact, a.type, "
		   "CASE WHEN EXISTS (SELECT 1 FROM edges i2 WHERE i2.step_run = c.id AND "
		   "i2.direction = 'in' AND i2.artifact = o.artifact) THEN 1 ELSE 0 END FROM edges i "
		   "JOIN step_runs c ON c.id = i.step_run "
		   "LEFT JOIN edges o ON o.step_run = c.id AND o.direction = 'out' "
		   "LEFT JOIN artifacts a ON a.id = o.artifact "
		   "WHERE i.artifact = ? AND i.direction = 'in' AND c.cached_from IS NULL "
		   "ORDER BY c.started_ms, c.seq, c.id, o.name",
		   p, row_down, &x);

	return rc ? rc : flush_use(&x);
}

/* Uses and extensions of artifact id into node, and its made-from-it nodes into *out. */
static int walk_down(lineage *L, const char *id, json_t *node, int depth, json_t **out)
{
	json_t *arr = json_array(), *uses = json_array(), *kid;
	size_t i;
	int rc;

	*out = NULL;
	if (!arr || !uses) {
		json_decref(arr);
		json_decref(uses);
		return st_nomem_json();
	}
	rc = consumers(L->s, id, arr, uses);
	if (rc == 0 && json_array_size(uses) && st_jset(node, "uses", json_incref(uses)))
		rc = st_nomem_json();
	if (rc == 0)
		rc = add_exts(L->s, id, node);
	json_decref(uses);
	L->nodes += json_array_size(arr);
	json_array_foreach(arr, i, kid) {
		const char *kid_id = json_string_value(json_object_get(kid, "id"));
		json_t *grand = NULL;

		if (rc)
			break;
		if (json_object_get(L->seen, kid_id)) {
			rc = st_jset(kid, "repeated", json_true()) ? st_nomem_json() : 0;
		} else if (json_object_set_new(L->seen, kid_id, json_true())) {
			rc = st_nomem_json();
		} else if (depth >= L->max_depth || L->nodes >= LINEAGE_MAX_NODES) {
			L->truncated = true;
			rc = st_jset(kid, "truncated", json_true()) ? st_nomem_json() : 0;
		} else if ((rc = walk_down(L, kid_id, kid, depth + 1, &grand)) == 0) {
			rc = st_jset(kid, "outputs", grand) ? st_nomem_json() : 0;
		}
	}
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* ---- the walk ----------------------------------------------------------------------- */

int store_lineage_json(store *s, const char *artifact_id, int max_depth, json_t **out)
{
	char id[SL__HASH_HEX_SIZE];
	lineage L = {.s = s};
	json_t *a = NULL, *res = NULL, *anc = NULL, *desc = NULL;
	const char *producer;
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_lineage_json: invalid argument");
	*out = NULL;
	L.max_depth = max_depth <= 0 ? LINEAGE_DEFAULT_DEPTH
		      : max_depth > LINEAGE_MAX_DEPTH ? LINEAGE_MAX_DEPTH
						      : max_depth;
	st_lock(s);
	rc = st_artifact_id_arg(s, artifact_id, id);
	if (rc) {
		st_unlock(s);
		return rc;
	}
	if (!(res = json_object()) || !(L.seen = json_object())) {
		st_unlock(s);
		json_decref(res);
		return st_nomem_json();
	}
	rc = st_begin(s, false);
	if (rc == 0)
		rc = st_artifact_row(s, id, &a);
	if (rc == 0) {
		json_t *prod = json_object_get(a, "producer");
		int bad = 0;
		producer = json_string_value(json_object_get(prod, "step_run"));
		bad |= st_jset(res, "id", json_string(id));
		bad |= st_jset(res, "type", json_incref(json_object_get(a, "type")));
		bad |= st_jset(res, "producer", json_incref(prod));
		bad |= json_object_set_new(L.seen, id, json_true());
		rc = bad ? st_nomem_json() : 0;
		if (rc == 0 && producer)
			rc = add_sources(s, producer, json_object_get(a, "meta"), res);
		if (rc == 0 && producer)
			rc = walk_up(&L, producer, 1, &anc);
		else if (rc == 0 && !(anc = json_array()))
			rc = st_nomem_json();
	}
	if (rc == 0) {
		json_object_clear(L.seen);
		L.nodes = 0;
		if (json_object_set_new(L.seen, id, json_true()))
			rc = st_nomem_json();
		else
			rc = walk_down(&L, id, res, 1, &desc);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0) {
		int bad = st_jset(res, "ancestors", anc);
		bad |= st_jset(res, "descendants", desc);
		anc = desc = NULL;
		if (L.truncated)
			bad |= st_jset(res, "truncated", json_true());
		if (bad)
			rc = st_nomem_json();
	}
	json_decref(L.seen);
	json_decref(anc);
	json_decref(desc);
	json_decref(a);
	if (rc) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}
