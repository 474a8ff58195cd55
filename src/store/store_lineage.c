/*
 * Lineage walks (store.h): an artifact's ancestors and descendants as trees.
 *
 * Invariants: each artifact is expanded once per direction, so a walk ends
 * even if identical content produced by two steps closes a cycle; depth and
 * node count are bounded (LINEAGE_MAX_DEPTH, LINEAGE_MAX_NODES) and a node
 * left unexpanded says so; the whole walk reads one snapshot.
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define LINEAGE_DEFAULT_DEPTH 32
#define LINEAGE_MAX_DEPTH 256
#define LINEAGE_MAX_NODES 10000

/*
 * A lineage walk. Ancestors: an artifact's producer step run, the artifacts
 * that step run consumed, their producers, and so on. Descendants: the step
 * runs that consumed the artifact, the artifacts they produced, and so on.
 * Each artifact is expanded once per direction ("seen"); a later occurrence
 * is emitted with "repeated": true and no children, which also stops cycles
 * (possible in principle, since identical content produced by two steps
 * shares one id). Depth and the total node count are bounded; a node left
 * unexpanded because of a bound carries "truncated": true.
 */
typedef struct lineage {
	store *s;
	json_t *seen;
	int max_depth;
	size_t nodes;
	bool truncated;
} lineage;

static int lin_walk(lineage *L, bool up, const char *key, int depth, json_t **out);

/* Expands each node of arr (or marks it repeated / truncated). */
static int lin_expand(lineage *L, bool up, json_t *arr, int depth)
{
	size_t i;
	json_t *node;

	json_array_foreach(arr, i, node)
	{
		const char *id = json_string_value(json_object_get(node, "id"));
		const char *next = up ? json_string_value(json_object_get(node, "step_run")) : id;
		json_t *kids = NULL;
		int rc;

		if (!id) /* the node was built without its id: out of memory */
			return st_nomem_json();
		if (json_object_get(L->seen, id)) {
			if (st_jset(node, "repeated", json_true()))
				return st_nomem_json();
			continue;
		}
		if (json_object_set_new(L->seen, id, json_true()))
			return st_nomem_json();
		if (up && !next)
			kids = json_array(); /* no recorded producer: a source */
		else if (depth >= L->max_depth || L->nodes >= LINEAGE_MAX_NODES) {
			L->truncated = true;
			if (st_jset(node, "truncated", json_true()))
				return st_nomem_json();
			continue;
		} else if ((rc = lin_walk(L, up, next, depth + 1, &kids)) != 0)
			return rc;
		if (st_jset(node, up ? "inputs" : "outputs", kids))
			return st_nomem_json();
	}
	return 0;
}

/*
 * Up: the inputs of step run key, as nodes whose step/run are each input's
 * producer. Down: the outputs of every step run that consumed artifact key.
 */
static int lin_walk(lineage *L, bool up, const char *key, int depth, json_t **out)
{
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if (!arr)
		return st_nomem_json();
	rc = st_lineage_rows(L->s, up, key, arr);
	if (rc == 0) {
		L->nodes += json_array_size(arr);
		rc = lin_expand(L, up, arr, depth);
	}
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

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
	rc = st_begin(s, false);
	if (rc == 0)
		rc = st_artifact_row(s, id, &a);
	if (rc == 0) {
		json_t *prod = json_object_get(a, "producer");
		producer = json_string_value(json_object_get(prod, "step_run"));
		if (!(L.seen = json_object()) || json_object_set_new(L.seen, id, json_true()))
			rc = st_nomem_json();
		else if (producer)
			rc = lin_walk(&L, true, producer, 1, &anc);
		else if (!(anc = json_array()))
			rc = st_nomem_json();
	}
	if (rc == 0) {
		json_object_clear(L.seen);
		if (json_object_set_new(L.seen, id, json_true()))
			rc = st_nomem_json();
		else
			rc = lin_walk(&L, false, id, 1, &desc);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0) {
		int bad = 0;
		res = json_object();
		bad |= st_jset(res, "id", json_string(id));
		bad |= st_jset(res, "type", json_incref(json_object_get(a, "type")));
		bad |= st_jset(res, "producer", json_incref(json_object_get(a, "producer")));
		bad |= st_jset(res, "ancestors", anc);
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

