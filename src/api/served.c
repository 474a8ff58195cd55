/*
 * Where a model's lineage ends: the requests its versions answered, from
 * the project's inference log (serve/logsum.h). The store's lineage walk
 * stops at the registry (a bundle "registered as spam version 3"); the
 * log is not the store's, so the serving half joins here, in the API,
 * for `sluice artifacts lineage` and `sluice models show NAME@VERSION`.
 *
 * A bundle reaches the log two ways, and both are looked for:
 *   registered   served as NAME[@REF]: logged as NAME, version "3"
 *   as a file    served by path: logged under any name, its version the
 *                first 12 hex digits of the digest the model file ends
 *                with (mfile_digest_of; not the artifact id, which hashes
 *                the digest too)
 *
 * Invariant: one pass over the log per call, whatever the number of
 * nodes and versions, and never more than SERVE_SUM_BUDGET bytes of it
 * (the answer says "since" when the budget cut it).
 */
#include <stdio.h>
#include <string.h>

#include "api/project.h"
#include "artifact/artifact.h"
#include "model/mfile.h"
#include "serve/logsum.h"

#define FILE_VERSION_LEN 12

typedef struct keys {
	serve_sumkey *v;
	char **own; /* the version strings made here */
	size_t n, cap;
} keys;

static int key_add(keys *k, const char *model, const char *version, bool own)
{
	char *copy = NULL;

	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->v[i].version, version) &&
		    (model ? k->v[i].model && !strcmp(k->v[i].model, model) : !k->v[i].model))
			return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 8;
		serve_sumkey *v = sl__reallocarray(k->v, cap, sizeof *v);
		char **o = v ? sl__reallocarray(k->own, cap, sizeof *o) : NULL;
		if (v)
			k->v = v;
		if (!o)
			return sl__oom();
		k->own = o;
		k->cap = cap;
	}
	if (own && !(copy = sl__strdup(version)))
		return sl__oom();
	k->own[k->n] = copy;
	k->v[k->n++] = (serve_sumkey){model, copy ? copy : version};
	return 0;
}

static void keys_free(keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		sl__free(k->own[i]);
	sl__free(k->own);
	sl__free(k->v);
}

/*
 * The version a server names the model file of artifact id by, into
 * versions (id -> version) when the node is a model or bundle (by type, or
 * registered) whose file is still there and is a model file.
 */
static int file_version(sl_project *p, json_t *node, const char *id, json_t *versions)
{
	const char *type = json_string_value(json_object_get(node, "type"));
	char digest[65], *path;
	bool ok;

	if (!id || !(json_array_size(json_object_get(node, "models")) ||
		     (type && (!strcmp(type, "bundle") || !strcmp(type, "model")))))
		return 0;
	if (!(path = art_path(p->art_root, id)))
		return 0; /* not an id an artifact file can have */
	ok = mfile_digest_of(path, digest);
	sl__free(path);
	if (!ok)
		return 0;
	digest[FILE_VERSION_LEN] = 0;
	return json_object_set_new(versions, id, json_string(digest)) ? sl__oom() : 0;
}

/* The keys of a lineage node and its descendants (descendants/outputs). */
static int collect(sl_project *p, json_t *node, keys *k, json_t *versions)
{
	const char *id = json_string_value(json_object_get(node, "id"));
	json_t *m, *kids;
	size_t i;
	int rc = file_version(p, node, id, versions);

	if (rc == 0 && id && json_object_get(versions, id))
		rc = key_add(k, NULL, json_string_value(json_object_get(versions, id)), true);
	json_array_foreach(json_object_get(node, "models"), i, m) {
		char v[32];
		const char *name = json_string_value(json_object_get(m, "name"));
		if (rc || !name)
			break;
		snprintf(v, sizeof v, "%lld", (long long)json_integer_value(json_object_get(m, "version")));
		rc = key_add(k, name, v, true);
	}
	kids = json_object_get(node, json_object_get(node, "descendants") ? "descendants" : "outputs");
	json_array_foreach(kids, i, m) {
		if (rc)
			break;
		rc = collect(p, m, k, versions);
	}
	return rc;
}

/* e with how to list its requests added (a new reference), or NULL. */
static json_t *with_logs(json_t *e)
{
	json_t *o = json_deep_copy(e);
	char *cmd = o ? sl__asprintf("sluice logs --model %s --version %s",
				     json_string_value(json_object_get(e, "model")),
				     json_string_value(json_object_get(e, "version")))
		      : NULL;

	if (!cmd || json_object_set_new(o, "logs", json_string(cmd))) {
		sl__free(cmd);
		json_decref(o);
		return NULL;
	}
	sl__free(cmd);
	return o;
}

/* node.served: the entries of the summary that are this node's versions. */
static int attach(json_t *node, json_t *served, json_t *versions)
{
	const char *id = json_string_value(json_object_get(node, "id"));
	const char *fv = id ? json_string_value(json_object_get(versions, id)) : NULL;
	json_t *arr = json_array(), *e, *m, *kids;
	size_t i, j;
	int rc = 0;

	if (!arr)
		return sl__oom();
	json_array_foreach(served, i, e) {
		const char *em = json_string_value(json_object_get(e, "model"));
		const char *ev = json_string_value(json_object_get(e, "version"));
		bool mine = fv && !strcmp(fv, ev);
		json_array_foreach(json_object_get(node, "models"), j, m) {
			char v[32];
			snprintf(v, sizeof v, "%lld",
				 (long long)json_integer_value(json_object_get(m, "version")));
			mine |= !strcmp(v, ev) &&
				!strcmp(json_string_value(json_object_get(m, "name")) ?: "", em);
		}
		if (mine && json_array_append_new(arr, with_logs(e))) {
			rc = sl__oom();
			break;
		}
	}
	if (rc == 0 && json_array_size(arr) && json_object_set(node, "served", arr))
		rc = sl__oom();
	json_decref(arr);
	kids = json_object_get(node, json_object_get(node, "descendants") ? "descendants" : "outputs");
	json_array_foreach(kids, i, m) {
		if (rc)
			break;
		rc = attach(m, served, versions);
	}
	return rc;
}

/* {complete, since, segments, bytes}: how much of the log a summary read. */
static json_t *log_extent(json_t *sum)
{
	return json_pack("{s:O, s:O, s:O, s:O}", "complete", json_object_get(sum, "complete"),
			 "since", json_object_get(sum, "since"), "segments",
			 json_object_get(sum, "segments"), "bytes", json_object_get(sum, "bytes"));
}

int api_lineage_served(sl_project *p, json_t *lineage)
{
	keys k = {0};
	json_t *sum = NULL, *ext, *versions = json_object();
	char *dir;
	int rc = versions ? collect(p, lineage, &k, versions) : sl__oom();

	if (rc || k.n == 0) {
		json_decref(versions);
		keys_free(&k);
		return rc;
	}
	if (rc == 0 && !(dir = sl__path_join(p->state, "inference")))
		rc = sl__oom();
	else if (rc == 0) {
		rc = serve_log_summary(dir, 0, k.v, k.n, &sum);
		sl__free(dir);
		if (rc && rc != SL_ENOMEM) {
			/* A log that cannot be read leaves the store's lineage standing. */
			ext = json_pack("{s:s}", "error", sl_errmsg());
			rc = !ext || json_object_set_new(lineage, "serving_log", ext) ? sl__oom() : 0;
			json_decref(versions);
			keys_free(&k);
			return rc;
		}
	}
	if (rc == 0)
		rc = attach(lineage, json_object_get(sum, "served"), versions);
	if (rc == 0 && (!(ext = log_extent(sum)) || json_object_set_new(lineage, "serving_log", ext)))
		rc = sl__oom();
	json_decref(versions);
	json_decref(sum);
	keys_free(&k);
	return rc;
}

int sl_model_served(sl_project *p, const char *ref, char **out_json)
{
	long long version;
	char v[32], name[STORE_NAME_MAX + 1];
	const char *at;
	serve_sumkey key = {name, v};
	json_t *sum = NULL, *res = NULL, *e;
	char *dir;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !ref || !out_json)
		return sl__err(SL_EINVAL, "sl_model_served: bad arguments");
	if (!(at = strchr(ref, '@')) || (size_t)(at - ref) > STORE_NAME_MAX)
		return api_fail(p, sl__err(SL_EINVAL, "'%s' names no version: write NAME@VERSION, "
						      "NAME@ALIAS or NAME@latest",
					   ref));
	if ((rc = sl_model_resolve(p, ref, &version)))
		return rc;
	snprintf(name, sizeof name, "%.*s", (int)(at - ref), ref);
	snprintf(v, sizeof v, "%lld", version);
	if (!(dir = sl__path_join(p->state, "inference")))
		return api_fail(p, sl__oom());
	rc = serve_log_summary(dir, 0, &key, 1, &sum);
	sl__free(dir);
	if (rc == 0) {
		e = json_array_get(json_object_get(sum, "served"), 0);
		res = e ? with_logs(e) : NULL;
		if (!res || json_object_set_new(res, "log", log_extent(sum)))
			rc = sl__oom();
	}
	json_decref(sum);
	if (rc) {
		json_decref(res);
		return api_fail(p, rc);
	}
	return api_fail(p, api_dump(res, out_json));
}
