/*
 * The public API of the model registry (sluice.h): the boundary through
 * which `sluice models`, `sluice predict NAME@REF` and a model server reach
 * store_registry.c. Each function checks its arguments, splits a
 * NAME@REF reference, calls the store, and keeps the message on the
 * project handle (api_fail).
 */
#include <stdio.h>
#include <string.h>

#include "api/project.h"
#include "artifact/artifact.h"

#define REF_BUF (STORE_NAME_MAX * 2 + 2)

/* A reference that must name a version: NAME@REF. */
static int split_version_ref(const char *ref, char *buf, const char **name, const char **r)
{
	int rc = store_model_ref_split(ref, buf, REF_BUF, name, r);

	if (rc == 0 && !*r)
		rc = sl__err(SL_EINVAL,
			     "'%s' names a model, not a version: write NAME@VERSION, NAME@ALIAS or "
			     "NAME@latest",
			     ref);
	return rc;
}

int sl_models_list(sl_project *p, char **out_json)
{
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_models_list: bad arguments");
	return api_fail(p, store_models_text(p->st, out_json));
}

int sl_model_show_newest(sl_project *p, const char *ref, size_t newest, char **out_json)
{
	char buf[REF_BUF];
	const char *name, *r;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_model_show: bad arguments");
	/* Written as text by the store: no objects built and dumped (50 ms at
	 * 10,000 versions). */
	rc = store_model_ref_split(ref, buf, sizeof buf, &name, &r);
	if (rc == 0)
		rc = store_model_text(p->st, name, r, newest, out_json);
	return api_fail(p, rc);
}

int sl_model_show(sl_project *p, const char *ref, char **out_json)
{
	return sl_model_show_newest(p, ref, 0, out_json);
}

int sl_models_search(sl_project *p, const char *key, const char *value, char **out_json)
{
	if (!p || !key || !*key || !out_json)
		return sl__err(SL_EINVAL, "sl_models_search: bad arguments");
	return api_fail(p, store_model_search_text(p->st, key, value, out_json));
}

static store_move move_of(const sl_move_opts *o)
{
	return (store_move){.reason = o ? o->reason : NULL, .force = o && o->force,
			    .who = o ? o->who : NULL};
}

/* A record handed out, or dropped when the caller does not want it. */
static int give(json_t *j, char **out_json)
{
	if (!out_json) {
		json_decref(j);
		return 0;
	}
	return api_dump(j, out_json);
}

int sl_model_promote(sl_project *p, const char *name, const char *version, const char *alias,
		     const sl_move_opts *o, char **out_json)
{
	store_move m = move_of(o);
	json_t *j = NULL;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !name || !version || !alias)
		return sl__err(SL_EINVAL, "sl_model_promote: bad arguments");
	rc = store_model_promote(p->st, name, version, alias, &m, &j);
	return api_fail(p, rc ? rc : give(j, out_json));
}

int sl_model_rollback(sl_project *p, const char *name, const char *alias, const sl_move_opts *o,
		      char **out_json)
{
	store_move m = move_of(o);
	json_t *j = NULL;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !name || !alias)
		return sl__err(SL_EINVAL, "sl_model_rollback: bad arguments");
	rc = store_model_rollback(p->st, name, alias, &m, &j);
	return api_fail(p, rc ? rc : give(j, out_json));
}

int sl_model_history(sl_project *p, const char *name, const char *alias, char **out_json)
{
	json_t *j;
	int rc;

	if (!p || !name || !out_json)
		return sl__err(SL_EINVAL, "sl_model_history: bad arguments");
	rc = store_model_history_json(p->st, name, alias, &j);
	return api_fail(p, rc ? rc : api_dump(j, out_json));
}

int sl_model_tag(sl_project *p, const char *ref, const char *key, const char *value)
{
	char buf[REF_BUF];
	const char *name, *r;
	int rc;

	if (!p || !key)
		return sl__err(SL_EINVAL, "sl_model_tag: bad arguments");
	rc = split_version_ref(ref, buf, &name, &r);
	if (rc == 0)
		rc = store_model_tag(p->st, name, r, key, value);
	return api_fail(p, rc);
}

int sl_model_delete(sl_project *p, const char *ref)
{
	char buf[REF_BUF];
	const char *name, *r;
	int rc;

	if (!p)
		return sl__err(SL_EINVAL, "sl_model_delete: bad arguments");
	rc = split_version_ref(ref, buf, &name, &r);
	if (rc == 0)
		rc = store_model_delete(p->st, name, r);
	return api_fail(p, rc);
}

int sl_model_path(sl_project *p, const char *ref, char **out_path, long long *out_version)
{
	char buf[REF_BUF];
	const char *name, *r;
	store_model_ref mr;
	int rc;

	if (out_path)
		*out_path = NULL;
	if (!p || !out_path)
		return sl__err(SL_EINVAL, "sl_model_path: bad arguments");
	rc = split_version_ref(ref, buf, &name, &r);
	if (rc == 0)
		rc = store_model_resolve(p->st, name, r, &mr);
	if (rc == 0 && (rc = art_verify(p->art_root, mr.bundle)) != 0)
		rc = sl__err_prefix(rc, "the bundle of version %lld of model '%s'",
				    (long long)mr.version, name);
	if (rc == 0 && !(*out_path = art_path(p->art_root, mr.bundle)))
		rc = sl__oom();
	if (rc == 0 && out_version)
		*out_version = mr.version;
	return api_fail(p, rc);
}

int sl_model_resolve(sl_project *p, const char *ref, long long *out_version)
{
	char buf[REF_BUF];
	const char *name, *r;
	store_model_ref mr;
	int rc;

	if (!p || !out_version)
		return sl__err(SL_EINVAL, "sl_model_resolve: bad arguments");
	rc = split_version_ref(ref, buf, &name, &r);
	if (rc == 0)
		rc = store_model_resolve(p->st, name, r, &mr);
	if (rc == 0)
		*out_version = mr.version;
	return api_fail(p, rc);
}

int sl_model_changes(sl_project *p, const char *name, long long *out)
{
	int64_t n = 0;
	int rc;

	if (!p || !name || !out)
		return sl__err(SL_EINVAL, "sl_model_changes: bad arguments");
	rc = store_model_changes(p->st, name, &n);
	if (rc == 0)
		*out = (long long)n;
	return api_fail(p, rc);
}

int api_artifact_ref(sl_project *p, const char *ref, char out_id[SL__HASH_HEX_SIZE])
{
	char buf[REF_BUF];
	const char *name, *r;
	store_model_ref mr;
	int rc;

	if (!ref || !strchr(ref, '@'))
		return store_artifact_resolve(p->st, ref, out_id);
	rc = split_version_ref(ref, buf, &name, &r);
	if (rc == 0)
		rc = store_model_resolve(p->st, name, r, &mr);
	if (rc == 0)
		memcpy(out_id, mr.bundle, SL__HASH_HEX_SIZE);
	return rc;
}
