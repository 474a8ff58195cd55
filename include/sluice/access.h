/*
 * sluice team access: users with roles, their bearer tokens, and the
 * append-only audit log (docs/security.md). What `sluice users` and
 * `sluice audit` are built on; the servers check tokens against the same
 * tables.
 *
 *   sl_user_add(p, "alice", "ml_engineer");
 *   char *token;
 *   sl_user_token(p, "alice", &token);   // shown once, stored hashed
 *   ... give the token to alice ...
 *   sl_free(token);
 *
 * Users and the audit log live in the project's metadata store, so a team
 * sharing a PostgreSQL store shares them too.
 */
#ifndef SLUICE_ACCESS_H
#define SLUICE_ACCESS_H

#include <stddef.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_project sl_project;

/*
 * Adds user name with role (data_scientist, data_engineer, ml_engineer,
 * product_engineer, sre, admin). SL_EEXIST when the name is taken,
 * SL_EINVAL for a bad name or an unknown role. The user has no token until
 * sl_user_token makes one.
 */
SL_EXPORT int sl_user_add(sl_project *p, const char *name, const char *role);
/* Removes a user; its token stops working at once. SL_ENOENT when unknown. */
SL_EXPORT int sl_user_remove(sl_project *p, const char *name);
/*
 * Makes a new bearer token for user name, replacing (rotating) the one it
 * had: the old token stops working when this returns. *out_token (sl_free)
 * is the only copy there is: the store keeps its SHA-256.
 */
SL_EXPORT int sl_user_token(sl_project *p, const char *name, char **out_token);
/*
 * The users, by name: a JSON array of {"name", "role", "created",
 * "created_by", "token": true|false, "token_created"} (never a token or its
 * hash).
 */
SL_EXPORT int sl_users_list(sl_project *p, char **out_json);
/*
 * The roles and what each may do: {"permissions": [names], "roles":
 * {"ml_engineer": [permission names], ...}}: the table docs/security.md shows.
 */
SL_EXPORT int sl_roles(char **out_json);

/* One audit record (strings borrowed for the call). */
typedef struct sl_audit_entry {
	const char *who;     /* NULL: the account running this process */
	const char *role;    /* NULL: none */
	const char *via;     /* NULL: "cli" */
	const char *action;  /* required: "models.promote", "users.add" ... */
	const char *target;  /* what it touched, or NULL */
	const char *request; /* a summary of what was asked, or NULL */
	const char *outcome; /* NULL: "ok"; or "denied", "unauthenticated", "failed" */
	int status;          /* exit or HTTP status */
	const char *detail;  /* an error message, or NULL */
} sl_audit_entry;

/* Appends e to the project's audit log (append-only: nothing edits or removes a record). */
SL_EXPORT int sl_audit_append(sl_project *p, const sl_audit_entry *e);

typedef struct sl_audit_filter {
	const char *who;     /* NULL: anyone */
	const char *action;  /* an action, or its prefix ending in '.' ("models."); NULL: any */
	const char *target;  /* exact, or a prefix ending in '*'; NULL: any */
	const char *outcome; /* NULL: any */
	const char *since;   /* ISO 8601 times (or dates), NULL: unbounded */
	const char *until;
	long long before;    /* records with seq below this (paging back); 0: from the newest */
	size_t limit;        /* at most this many, the newest first; 0: 100 */
} sl_audit_filter;

/*
 * The matching records, newest first: {"records": [{"seq", "at", "who",
 * "role", "via", "action", "target", "request", "outcome", "status",
 * "detail"}], "next": SEQ or null}. Pass "next" as f->before for the page
 * after.
 */
SL_EXPORT int sl_audit_query(sl_project *p, const sl_audit_filter *f, char **out_json);

#ifdef __cplusplus
}
#endif
#endif
