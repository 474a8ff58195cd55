/*
 * Team access: users, roles, bearer tokens and the audit trail, for the
 * servers (`sluice serve`, `sluice ui`) and for `sluice users` / `sluice
 * audit` through the public API (include/sluice/access.h). Prefix access_.
 *
 *   request --Authorization: Bearer T--> access_gate(a, header, perm)
 *                                          | access_authenticate: SHA-256(T)
 *                                          |   looked up in users (or the
 *                                          |   server's --token-file token)
 *                                          | access_check(role, perm): the
 *                                          |   one table in access.c
 *                                          v
 *                          0 (user, role) | 401 | 403 | 503, with a message
 *   the handler does the write, then access_audit(a, &record) (any outcome)
 *
 * Invariants:
 *  1. A token exists in plain text only twice: in the answer of
 *     access_token_new (printed once by `sluice users token`) and in the
 *     request that presents it. The store holds SHA-256(token) only; a
 *     presented token is hashed and the hash looked up, so a rotated token's
 *     old value no longer matches anything the moment the rotation commits.
 *  2. Roles map to permissions in one table (access.c, documented in
 *     docs/security.md); nothing else decides what a role may do.
 *  3. The audit log is append-only: records are inserted with a sequence
 *     number taken inside the write transaction and never updated or
 *     deleted by sluice.
 *  4. An access handle may be shared by a server's threads: it owns its own
 *     store connection (whose calls are serialized) and nothing else that
 *     changes after access_open.
 */
#ifndef SLUICE_ACCESS_ACCESS_H
#define SLUICE_ACCESS_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/sluice.h"

#define ACCESS_NAME_MAX 64   /* a user name: [A-Za-z0-9._-], starts alphanumeric */
#define ACCESS_TOKEN_PREFIX "slt_"
#define ACCESS_TOKEN_LEN 68  /* "slt_" and 64 hex digits (256 random bits) */
#define ACCESS_REQUEST_MAX 2048 /* bytes of a request summary kept in the audit log */

/* ---- roles and permissions --------------------------------------------------------- */

/* The roles, in the order of the permission table's columns. */
typedef enum access_role {
	ACCESS_DATA_SCIENTIST,
	ACCESS_DATA_ENGINEER,
	ACCESS_ML_ENGINEER,
	ACCESS_PRODUCT_ENGINEER,
	ACCESS_SRE,
	ACCESS_ADMIN,
	ACCESS_N_ROLES
} access_role;

/* What a request may ask for; each name is the one docs/security.md uses. */
typedef enum access_perm {
	PERM_READ,               /* "read": every page, listing and GET of the API, /metrics */
	PERM_INFER,              /* "infer": inference, when the server asks a token for it */
	PERM_RUN,                /* "run": start a pipeline run */
	PERM_REGISTER,           /* "register": register a model version */
	PERM_PROMOTE,            /* "promote": move an alias other than production */
	PERM_PROMOTE_PRODUCTION, /* "promote.production": move the production alias */
	PERM_ROLLBACK,           /* "rollback": roll an alias back */
	PERM_TAG,                /* "tag": set or remove a model version's tag */
	PERM_DELETE,             /* "delete": delete a model version */
	PERM_ALERT_ACK,          /* "alert.ack": acknowledge an alert */
	PERM_FEEDBACK,           /* "feedback": send ground truth to a served model */
	PERM_RELOAD,             /* "reload": make a server reload a model */
	PERM_USERS,              /* "users": add and remove users, make their tokens */
	ACCESS_N_PERMS
} access_perm;

/* "data_scientist", ...; NULL past the end. Static strings. */
const char *access_role_name(access_role r);
const char *access_perm_name(access_perm p);
/* The role a name spells; SL_EINVAL naming the roles (and a near miss) otherwise. */
int access_role_parse(const char *name, access_role *out);
/* The permission a name spells; SL_EINVAL otherwise. */
int access_perm_parse(const char *name, access_perm *out);
/* Whether role may do perm: the one table (invariant 2). False for bad values. */
bool access_check(access_role role, access_perm perm);
/* The permission moving alias needs: promote.production for "production", else promote. */
access_perm access_promote_perm(const char *alias);
/* Checks a user name; SL_EINVAL saying what is wrong. */
int access_check_name(const char *name);

/* ---- tokens --------------------------------------------------------------------------- */

/*
 * A new token: ACCESS_TOKEN_PREFIX and 64 hex digits from getrandom(2),
 * into out (ACCESS_TOKEN_LEN + 1 bytes), and its hash (64 hex digits and a
 * NUL) into hash. SL_ESYS when the system has no randomness to give.
 */
int access_token_new(char out[ACCESS_TOKEN_LEN + 1], char hash[65]);
/* SHA-256 of a presented token, as 64 lowercase hex digits and a NUL. */
int access_token_hash(const char *token, size_t len, char hash[65]);
/* Compares a and b (n bytes each) in time that does not depend on where they differ. */
bool access_equal(const void *a, const void *b, size_t n);

/* ---- the handle ----------------------------------------------------------------------------- */

typedef struct access_ctx access_ctx;

/* Who a request is (filled by access_authenticate / access_gate). */
typedef struct access_user {
	char name[ACCESS_NAME_MAX + 1];
	access_role role;
} access_user;

/*
 * Opens the users and the audit log of project p (its metadata store, on
 * a connection of the handle's own: p may be closed afterwards). p may be
 * NULL: then only a service token authenticates and audit records are not
 * kept (a server of model files outside any project). service_token (may be
 * NULL) is the token of `sluice serve --token-file`: it authenticates as the
 * user "token-file" with the admin role. *out: access_close.
 */
int access_open(sl_project *p, const char *service_token, access_ctx **out);
void access_close(access_ctx *a); /* accepts NULL */
/* Whether anyone can authenticate: a service token, or a user with a token. */
int access_any_credential(access_ctx *a, bool *out);

/*
 * Who the value of an Authorization header is ("Bearer TOKEN", the scheme
 * in any case; NULL when the request had none). Returns 0 with *out set,
 * SL_ENOENT with a message fit for a 401 answer (no header, another scheme,
 * an unknown or rotated token), or a store failure (SL_ESTORE ...).
 */
int access_authenticate(access_ctx *a, const char *authorization, access_user *out);

/*
 * The whole check of a protected request: authenticate, then access_check.
 * Returns 0 (allowed; *out is the user), or the HTTP status to answer, 401
 * (no or bad token), 403 (the role may not do perm) or 503 (the store
 * failed), with a one-line message in msg ("role data_scientist may not
 * promote.production: ..."). The caller answers {"error": msg}, adding
 * WWW-Authenticate: Bearer to a 401, and audits a refused write too.
 */
int access_gate(access_ctx *a, const char *authorization, access_perm perm, access_user *out,
		char *msg, size_t size);

/* ---- the audit log --------------------------------------------------------------------------- */

/* One record; every string is borrowed for the call. */
typedef struct access_audit_rec {
	const char *who;     /* the user; NULL: "anonymous" */
	const char *role;    /* the user's role name; NULL: none (the CLI, anonymous) */
	const char *via;     /* "server", "ui", "cli" */
	const char *action;  /* what was asked: "models.promote", "feedback", "users.token" */
	const char *target;  /* what it touched: "spam@production", "user:alice"; may be NULL */
	const char *request; /* a summary ("POST /v2/models/m/feedback" and the body's start);
			      * kept up to ACCESS_REQUEST_MAX bytes, invalid UTF-8 replaced */
	const char *outcome; /* "ok", "denied" (403), "unauthenticated" (401), "failed" */
	int status;          /* the HTTP status, or the CLI's exit status */
	const char *detail;  /* the error message, or NULL */
} access_audit_rec;

/*
 * Appends r to the audit log, stamped with the time (invariant 3). A
 * handle opened without a project keeps nothing and returns 0.
 */
int access_audit(access_ctx *a, const access_audit_rec *r);
/* The same into project p's store, through its own handle (a server holding p). */
int access_audit_project(sl_project *p, const access_audit_rec *r);

/* Which endpoints of a server ask for a token (`--no-auth`, `--auth inference`). */
typedef struct access_policy {
	bool off;       /* --no-auth: nothing asks (loopback addresses only) */
	bool inference; /* --auth inference: inference asks too */
} access_policy;

/* The classes of endpoints a policy speaks of. */
typedef enum access_class {
	ACCESS_HEALTH,    /* liveness and readiness: never asks */
	ACCESS_INFERENCE, /* scoring and the model metadata a client reads first */
	ACCESS_PROTECTED  /* everything else: the UI, its API, /metrics, every write */
} access_class;

/*
 * Sets pol from the options: auth is NULL (the default) or "inference";
 * no_auth is refused (SL_EINVAL) unless host is a loopback address.
 */
int access_policy_set(access_policy *pol, const char *host, bool no_auth, const char *auth);
/* Whether an endpoint of class c needs a token under pol. */
bool access_policy_asks(const access_policy *pol, access_class c);
/*
 * Whether host (NULL: 127.0.0.1) is 127.0.0.1, ::1 (in any spelling) or
 * localhost: another 127.x address counts as exposed.
 */
bool access_loopback(const char *host);

#endif
