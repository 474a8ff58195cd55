/*
 * The public API of team access (include/sluice/access.h): the boundary
 * through which `sluice users` and `sluice audit` reach the users and the
 * audit log of the project's store. Names and roles are checked by
 * src/access (the one role table); tokens are made there and only their
 * hash is handed to the store.
 */
#include <stdio.h>
#include <string.h>

#include "access/access.h"
#include "api/project.h"
#include "dataset/dataset.h"

#define AUDIT_DEFAULT_LIMIT 100
#define AUDIT_MAX_LIMIT 10000

int sl_user_add(sl_project *p, const char *name, const char *role)
{
	access_role r;
	int rc;

	if (!p)
		return sl__err(SL_EINVAL, "sl_user_add: project is NULL");
	rc = access_check_name(name);
	if (rc == 0)
		rc = access_role_parse(role, &r);
	if (rc == 0)
		rc = store_user_add(p->st, name, access_role_name(r), NULL);
	return api_fail(p, rc);
}

int sl_user_remove(sl_project *p, const char *name)
{
	if (!p || !name)
		return sl__err(SL_EINVAL, "sl_user_remove: bad arguments");
	return api_fail(p, store_user_remove(p->st, name));
}

int sl_user_token(sl_project *p, const char *name, char **out_token)
{
	char token[ACCESS_TOKEN_LEN + 1], hash[65];
	int rc;

	if (out_token)
		*out_token = NULL;
	if (!p || !name || !out_token)
		return sl__err(SL_EINVAL, "sl_user_token: bad arguments");
	rc = access_token_new(token, hash);
	if (rc == 0)
		rc = store_user_set_token(p->st, name, hash);
	if (rc == 0 && !(*out_token = sl__strdup(token)))
		rc = sl__oom();
	/* The caller's copy is the only one left (access.h, invariant 1). */
	explicit_bzero(token, sizeof token);
	return api_fail(p, rc);
}

int sl_users_list(sl_project *p, char **out_json)
{
	json_t *j = NULL;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_users_list: bad arguments");
	rc = store_users_json(p->st, &j);
	return api_fail(p, rc ? rc : api_dump(j, out_json));
}

int sl_roles(char **out_json)
{
	json_t *o = json_object(), *names = json_array(), *roles = json_object();
	int bad = !o || !names || !roles;

	if (!out_json) {
		json_decref(o);
		json_decref(names);
		json_decref(roles);
		return sl__err(SL_EINVAL, "sl_roles: out_json is NULL");
	}
	*out_json = NULL;
	for (int k = 0; !bad && k < ACCESS_N_PERMS; k++)
		bad = json_array_append_new(names, json_string(access_perm_name((access_perm)k)));
	for (int r = 0; !bad && r < ACCESS_N_ROLES; r++) {
		json_t *granted = json_array();
		bad = !granted;
		for (int k = 0; !bad && k < ACCESS_N_PERMS; k++)
			if (access_check((access_role)r, (access_perm)k))
				bad = json_array_append_new(granted,
							    json_string(access_perm_name((access_perm)k)));
		if (bad || json_object_set_new(roles, access_role_name((access_role)r), granted))
			bad = 1;
	}
	if (!bad)
		bad = json_object_set_new(o, "permissions", names);
	else
		json_decref(names);
	if (!bad)
		bad = json_object_set_new(o, "roles", roles);
	else
		json_decref(roles);
	if (bad) {
		json_decref(o);
		return sl__oom();
	}
	return api_dump(o, out_json);
}

int sl_audit_append(sl_project *p, const sl_audit_entry *e)
{
	char who[128];
	access_audit_rec r;

	if (!p || !e || !e->action || !*e->action)
		return sl__err(SL_EINVAL, "sl_audit_append: bad arguments");
	if (e->who && *e->who)
		snprintf(who, sizeof who, "%s", e->who);
	else
		sl__user_name(who, sizeof who);
	r = (access_audit_rec){.who = who,
			       .role = e->role,
			       .via = e->via ? e->via : "cli",
			       .action = e->action,
			       .target = e->target,
			       .request = e->request,
			       .outcome = e->outcome,
			       .status = e->status,
			       .detail = e->detail};
	return api_fail(p, access_audit_project(p, &r));
}

static int parse_time(const char *what, const char *text, bool end, int64_t *out)
{
	int64_t us;
	size_t n = strlen(text);

	if (!ds_parse_timestamp(text, n, &us))
		return sl__err(SL_EINVAL,
			       "--%s '%s' is not an ISO 8601 time (2026-11-30 or 2026-11-30T12:00:00Z)",
			       what, text);
	*out = us / 1000;
	/* A date alone as the end of a range means the whole of that day. */
	if (end && n == 10)
		*out += 86400 * 1000 - 1;
	return 0;
}

int sl_audit_query(sl_project *p, const sl_audit_filter *f, char **out_json)
{
	store_audit_filter sf;
	json_t *j = NULL;
	int rc = 0;

	if (out_json)
		*out_json = NULL;
	if (!p || !f || !out_json)
		return sl__err(SL_EINVAL, "sl_audit_query: bad arguments");
	if (f->limit > AUDIT_MAX_LIMIT)
		return api_fail(p, sl__err(SL_EINVAL, "--limit %zu: at most %d records a page",
					   f->limit, AUDIT_MAX_LIMIT));
	if (f->before < 0)
		return api_fail(p, sl__err(SL_EINVAL, "--before %lld: a record number is positive",
					   f->before));
	sf = (store_audit_filter){.who = f->who,
				  .action = f->action,
				  .target = f->target,
				  .outcome = f->outcome,
				  .before = f->before,
				  .limit = f->limit ? (int64_t)f->limit : AUDIT_DEFAULT_LIMIT};
	if (f->since)
		rc = parse_time("since", f->since, false, &sf.since_ms);
	if (rc == 0 && f->until)
		rc = parse_time("until", f->until, true, &sf.until_ms);
	if (rc == 0)
		rc = store_audit_json(p->st, &sf, &j);
	return api_fail(p, rc ? rc : api_dump(j, out_json));
}
