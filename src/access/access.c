/*
 * Team access (access.h): the role table, tokens, who a request is, the
 * audit log's front, and which endpoints ask for a token.
 *
 * Design notes:
 *  1. The permission table below is the only place a role's rights are
 *     written (access.h, invariant 2); docs/security.md shows the same
 *     table and a unit test holds the two together.
 *  2. A presented token is hashed and its hash looked up through the
 *     users' unique index. The lookup's timing can only tell an attacker
 *     about hashes of tokens they chose, which says nothing of a stored
 *     hash's preimage; the comparison with the service token, a secret
 *     held in memory, is done over the hashes in constant time.
 *  3. Tokens carry a fixed prefix ("slt_"), so a secret scanner can find
 *     one pasted where it should not be, and a value of another shape is
 *     refused before any hashing or lookup.
 *  4. Every check is a fresh lookup, no cache: a rotated or removed token
 *     is refused by the next request. A lookup is one indexed read of the
 *     store (microseconds on SQLite); only writes, reads of the UI's API
 *     and, with --auth inference, scoring pay it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "access/access.h"
#include "api/project.h"
#include "store/store.h"

#define SERVICE_USER "token-file"

/* ---- roles and permissions (design note 1) ------------------------------------------ */

static const char *const role_names[ACCESS_N_ROLES] = {
	"data_scientist", "data_engineer", "ml_engineer", "product_engineer", "sre", "admin",
};

/*
 * Who may do what. One row per permission, one column per role in the
 * order of role_names: x grants, . refuses.
 *
 *                                          ds de ml pe sre admin
 */
static const struct {
	const char *name;
	const char grant[ACCESS_N_ROLES + 1];
} perms[ACCESS_N_PERMS] = {
	[PERM_READ] = {"read", "xxxxxx"},
	[PERM_INFER] = {"infer", "xxxxxx"},
	[PERM_RUN] = {"run", "xxx..x"},
	[PERM_REGISTER] = {"register", "x.x..x"},
	[PERM_PROMOTE] = {"promote", "x.x..x"},
	[PERM_PROMOTE_PRODUCTION] = {"promote.production", "..x..x"},
	[PERM_ROLLBACK] = {"rollback", "..x.xx"},
	[PERM_TAG] = {"tag", "x.x..x"},
	[PERM_DELETE] = {"delete", "..x..x"},
	[PERM_ALERT_ACK] = {"alert.ack", "..x.xx"},
	[PERM_FEEDBACK] = {"feedback", "..xxxx"},
	[PERM_RELOAD] = {"reload", "..x.xx"},
	[PERM_USERS] = {"users", ".....x"},
};

const char *access_role_name(access_role r)
{
	return (unsigned)r < ACCESS_N_ROLES ? role_names[r] : NULL;
}

const char *access_perm_name(access_perm p)
{
	return (unsigned)p < ACCESS_N_PERMS ? perms[p].name : NULL;
}

int access_role_parse(const char *name, access_role *out)
{
	const char *near;

	for (int r = 0; name && r < ACCESS_N_ROLES; r++)
		if (!strcmp(name, role_names[r])) {
			*out = (access_role)r;
			return 0;
		}
	near = name ? sl__suggest(name, role_names, ACCESS_N_ROLES) : NULL;
	if (near)
		return sl__err(SL_EINVAL, "unknown role '%s' (did you mean '%s'?)", name, near);
	return sl__err(SL_EINVAL,
		       "unknown role '%s': the roles are data_scientist, data_engineer, "
		       "ml_engineer, product_engineer, sre and admin",
		       name ? name : "");
}

int access_perm_parse(const char *name, access_perm *out)
{
	for (int p = 0; name && p < ACCESS_N_PERMS; p++)
		if (!strcmp(name, perms[p].name)) {
			*out = (access_perm)p;
			return 0;
		}
	return sl__err(SL_EINVAL, "unknown permission '%s'", name ? name : "");
}

bool access_check(access_role role, access_perm perm)
{
	if ((unsigned)role >= ACCESS_N_ROLES || (unsigned)perm >= ACCESS_N_PERMS)
		return false;
	return perms[perm].grant[role] == 'x';
}

access_perm access_promote_perm(const char *alias)
{
	return alias && !strcmp(alias, "production") ? PERM_PROMOTE_PRODUCTION : PERM_PROMOTE;
}

int access_check_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return sl__err(SL_EINVAL, "a user name is empty");
	if (n > ACCESS_NAME_MAX)
		return sl__err(SL_EINVAL, "user name '%.20s...' is longer than %d characters", name,
			       ACCESS_NAME_MAX);
	if (!isalnum((unsigned char)name[0]))
		return sl__err(SL_EINVAL, "user name '%s' must start with a letter or a digit", name);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return sl__err(SL_EINVAL,
				       "user name '%s': character %zu is not a letter, a digit, "
				       "'.', '_' or '-'",
				       name, i + 1);
	}
	if (!strcmp(name, SERVICE_USER))
		return sl__err(SL_EINVAL,
			       "user name '%s' is reserved for the token of `sluice serve --token-file`",
			       name);
	return 0;
}

/* ---- tokens ----------------------------------------------------------------------------------- */

bool access_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(x[i] ^ y[i]);
	return d == 0;
}

int access_token_hash(const char *token, size_t len, char hash[65])
{
	return sl__sha256_hex(token, len, hash);
}

int access_token_new(char out[ACCESS_TOKEN_LEN + 1], char hash[65])
{
	size_t np = strlen(ACCESS_TOKEN_PREFIX);
	int rc;

	memcpy(out, ACCESS_TOKEN_PREFIX, np);
	/* 64 hex digits: 256 bits from getrandom(2). */
	if ((rc = sl__random_hex(out + np, ACCESS_TOKEN_LEN - np)))
		return rc;
	return access_token_hash(out, ACCESS_TOKEN_LEN, hash);
}

/* Whether the text has a token's shape (design note 3). */
static bool token_shaped(const char *t, size_t n)
{
	size_t np = strlen(ACCESS_TOKEN_PREFIX);

	if (n != ACCESS_TOKEN_LEN || memcmp(t, ACCESS_TOKEN_PREFIX, np))
		return false;
	for (size_t i = np; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return true;
}

/* ---- the handle ------------------------------------------------------------------------------- */

struct access_ctx {
	store *st;           /* NULL: no project */
	bool has_service;
	char service_hash[65];
};

int access_open(sl_project *p, const char *service_token, access_ctx **out)
{
	access_ctx *a;
	int rc = 0;

	if (!out)
		return sl__err(SL_EINVAL, "access_open: out is NULL");
	*out = NULL;
	if (!(a = sl__calloc(1, sizeof *a)))
		return sl__oom();
	if (service_token && *service_token) {
		a->has_service = true;
		rc = access_token_hash(service_token, strlen(service_token), a->service_hash);
	}
	if (rc == 0 && p)
		rc = store_open(p->set.store_url, &a->st);
	if (rc) {
		access_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void access_close(access_ctx *a)
{
	if (!a)
		return;
	store_close(a->st);
	sl__free(a);
}

int access_any_credential(access_ctx *a, bool *out)
{
	int64_t n = 0;
	int rc = 0;

	if (!a || !out)
		return sl__err(SL_EINVAL, "access_any_credential: bad arguments");
	if (!a->has_service && a->st)
		rc = store_users_with_token(a->st, &n);
	*out = a->has_service || n > 0;
	return rc;
}

int access_authenticate(access_ctx *a, const char *authorization, access_user *out)
{
	const char *t;
	size_t n;
	char hash[65], name[STORE_NAME_MAX + 1], role[STORE_ROLE_MAX + 1];
	bool found = false;
	int rc;

	if (!a || !out)
		return sl__err(SL_EINVAL, "access_authenticate: bad arguments");
	memset(out, 0, sizeof *out);
	if (!authorization || !*authorization)
		return sl__err(SL_ENOENT, "this endpoint needs 'Authorization: Bearer TOKEN' "
					  "(`sluice users token NAME` makes a token)");
	if (strncasecmp(authorization, "Bearer ", 7))
		return sl__err(SL_ENOENT, "the Authorization header must be 'Bearer TOKEN'");
	t = authorization + 7;
	while (*t == ' ')
		t++;
	n = strlen(t);
	while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	if (n == 0 || n > 4096)
		return sl__err(SL_ENOENT, "the Authorization header must be 'Bearer TOKEN'");
	if ((rc = access_token_hash(t, n, hash)))
		return rc;
	/* The service token first, compared in constant time (design note 2). */
	if (a->has_service && access_equal(hash, a->service_hash, 64)) {
		snprintf(out->name, sizeof out->name, "%s", SERVICE_USER);
		out->role = ACCESS_ADMIN;
		return 0;
	}
	if (a->st && token_shaped(t, n)) {
		if ((rc = store_user_by_token(a->st, hash, name, role, &found)))
			return rc;
		if (found && access_role_parse(role, &out->role) != 0)
			return sl__err(SL_ENOENT, "user '%s' has the unknown role '%s' (a store of a "
						  "newer sluice?)",
				       name, role);
	}
	if (!found)
		return sl__err(SL_ENOENT, "the token is not valid: unknown, rotated, or its user was "
					  "removed");
	snprintf(out->name, sizeof out->name, "%s", name);
	return 0;
}

int access_gate(access_ctx *a, const char *authorization, access_perm perm, access_user *out,
		char *msg, size_t size)
{
	int rc = access_authenticate(a, authorization, out);

	if (rc == SL_ENOENT || rc == SL_EINVAL) {
		snprintf(msg, size, "%s", sl_errmsg());
		return 401;
	}
	if (rc) {
		snprintf(msg, size, "the users cannot be read: %s", sl_errmsg());
		return 503;
	}
	if (!access_check(out->role, perm)) {
		snprintf(msg, size, "user '%s' (role %s) may not %s: docs/security.md lists what each "
				    "role may do",
			 out->name, access_role_name(out->role), access_perm_name(perm));
		return 403;
	}
	return 0;
}

/* ---- the audit log ---------------------------------------------------------------------------- */

/* The request summary: at most ACCESS_REQUEST_MAX bytes, valid UTF-8 (a cut sequence dropped). */
static int summary(const char *req, char **out)
{
	size_t n = strlen(req), ok;
	char *cut, *clean = NULL;
	int rc;

	if (n > ACCESS_REQUEST_MAX)
		n = ACCESS_REQUEST_MAX;
	if (!(cut = sl__strndup(req, n)))
		return sl__oom();
	/* A multi-byte character cut at the end is dropped, not turned into '?'. */
	ok = sl__utf8_check(cut, n);
	if (ok < n && n == ACCESS_REQUEST_MAX && n - ok < 4 && (unsigned char)cut[ok] >= 0xc0)
		cut[ok] = 0;
	if ((rc = sl__utf8_clean(cut, &clean))) {
		sl__free(cut);
		return rc;
	}
	if (clean) {
		sl__free(cut);
		cut = clean;
	}
	*out = cut;
	return 0;
}

/* One record into st (the handle's store, or a project's). */
static int audit_into(store *st, const access_audit_rec *r)
{
	char *req = NULL;
	store_audit sa;
	int rc;

	if (r->request && (rc = summary(r->request, &req)))
		return rc;
	sa = (store_audit){.who = r->who && *r->who ? r->who : "anonymous",
			   .role = r->role,
			   .via = r->via && *r->via ? r->via : "server",
			   .action = r->action,
			   .target = r->target,
			   .request = req,
			   .outcome = r->outcome && *r->outcome ? r->outcome : "ok",
			   .detail = r->detail,
			   .status = r->status};
	rc = store_audit_append(st, &sa);
	sl__free(req);
	return rc;
}

int access_audit(access_ctx *a, const access_audit_rec *r)
{
	if (!a || !r || !r->action)
		return sl__err(SL_EINVAL, "access_audit: bad arguments");
	return a->st ? audit_into(a->st, r) : 0;
}

int access_audit_project(sl_project *p, const access_audit_rec *r)
{
	if (!p || !r || !r->action)
		return sl__err(SL_EINVAL, "access_audit_project: bad arguments");
	return audit_into(p->st, r);
}

/* ---- which endpoints ask ------------------------------------------------------------------------ */

bool access_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;

	/* The addresses a default setup binds, exactly: another 127.x address
	 * counts as exposed, as serving has always treated it (a container's
	 * published port can land on one), and it lets a test on one machine
	 * stand for an exposed server. */
	if (!host || !strcmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return ntohl(v4.s_addr) == INADDR_LOOPBACK;
	if (inet_pton(AF_INET6, host, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6);
	return false;
}

int access_policy_set(access_policy *pol, const char *host, bool no_auth, const char *auth)
{
	if (!pol)
		return sl__err(SL_EINVAL, "access_policy_set: pol is NULL");
	memset(pol, 0, sizeof *pol);
	if (auth && strcmp(auth, "inference"))
		return sl__err(SL_EINVAL, "--auth '%s': the one value is 'inference' (inference asks "
					  "for a token too)",
			       auth);
	if (no_auth && auth)
		return sl__err(SL_EINVAL, "--no-auth and --auth inference contradict each other");
	if (no_auth && !access_loopback(host))
		return sl__err(SL_EINVAL,
			       "--no-auth is refused on %s, which is not a loopback address: a server "
			       "others can reach asks for tokens (sluice users token NAME)",
			       host);
	pol->off = no_auth;
	pol->inference = auth != NULL;
	return 0;
}

bool access_policy_asks(const access_policy *pol, access_class c)
{
	if (!pol || pol->off || c == ACCESS_HEALTH)
		return false;
	return c == ACCESS_PROTECTED || pol->inference;
}
