/*
 * Team access: the role table (and docs/security.md showing the same one),
 * token making, hashing and rotation, who a header is, the server policy,
 * and the audit log's records, filters and pages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "testutil.h"

typedef struct fx {
	const char *dir;
	sl_project *p;
	access_ctx *a;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	char *proj;

	f->dir = tu_tmpdir();
	proj = tu_path(f->dir, "proj");
	assert_int_equal(sl_project_init(proj), 0);
	assert_int_equal(sl_project_open(proj, &f->p), 0);
	assert_int_equal(access_open(f->p, NULL, &f->a), 0);
	free(proj);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	access_close(f->a);
	sl_project_close(f->p);
	tu_rmdir(f->dir);
	free(f);
	return 0;
}

static char *bearer(const char *token)
{
	static char h[128];
	snprintf(h, sizeof h, "Bearer %s", token);
	return h;
}

/* ---- the table ----------------------------------------------------------------------- */

static void test_role_table(void **state)
{
	access_role r;
	access_perm k;

	(void)state;
	/* The examples the issue gives, and the table's edges. */
	assert_true(access_check(ACCESS_ML_ENGINEER, PERM_PROMOTE_PRODUCTION));
	assert_true(access_check(ACCESS_DATA_SCIENTIST, PERM_RUN));
	assert_true(access_check(ACCESS_DATA_SCIENTIST, PERM_REGISTER));
	assert_true(access_check(ACCESS_DATA_SCIENTIST, PERM_PROMOTE));
	assert_false(access_check(ACCESS_DATA_SCIENTIST, PERM_PROMOTE_PRODUCTION));
	assert_true(access_check(ACCESS_SRE, PERM_ROLLBACK));
	assert_true(access_check(ACCESS_SRE, PERM_ALERT_ACK));
	assert_false(access_check(ACCESS_SRE, PERM_PROMOTE));
	assert_false(access_check(ACCESS_PRODUCT_ENGINEER, PERM_RUN));
	for (int i = 0; i < ACCESS_N_ROLES; i++) {
		assert_true(access_check((access_role)i, PERM_READ));
		assert_int_equal(access_check((access_role)i, PERM_USERS), i == ACCESS_ADMIN);
		/* Names round-trip. */
		assert_int_equal(access_role_parse(access_role_name((access_role)i), &r), 0);
		assert_int_equal(r, i);
	}
	/* The admin may do everything. */
	for (int i = 0; i < ACCESS_N_PERMS; i++) {
		assert_true(access_check(ACCESS_ADMIN, (access_perm)i));
		assert_int_equal(access_perm_parse(access_perm_name((access_perm)i), &k), 0);
		assert_int_equal(k, i);
	}
	/* Out of range is refused, never read past the table. */
	assert_false(access_check(ACCESS_N_ROLES, PERM_READ));
	assert_false(access_check(ACCESS_ADMIN, ACCESS_N_PERMS));
	assert_false(access_check((access_role)-1, PERM_READ));
	assert_int_equal(access_promote_perm("production"), PERM_PROMOTE_PRODUCTION);
	assert_int_equal(access_promote_perm("staging"), PERM_PROMOTE);
	assert_int_equal(access_role_parse("ml_enginer", &r), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "did you mean 'ml_engineer'"));
	assert_int_equal(access_role_parse("wizard", &r), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "data_scientist"));
}

/* docs/security.md shows the table: every permission row, every role column, the same marks. */
static void test_docs_table_matches(void **state)
{
	char *path = tu_path(SLUICE_SOURCE_DIR, "docs/security.md");
	size_t len;
	char *doc = (char *)tu_read(path, &len);
	int rows = 0;
	char *line, *save = NULL;

	(void)state;
	doc = realloc(doc, len + 1);
	doc[len] = 0;
	for (line = strtok_r(doc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64], *cell, *cs = NULL;
		access_perm k;
		int col = 0;
		if (sscanf(line, "| `%63[a-z._]` |", name) != 1 || access_perm_parse(name, &k))
			continue;
		rows++;
		strtok_r(line, "|", &cs); /* the permission */
		while ((cell = strtok_r(NULL, "|", &cs)) && col < ACCESS_N_ROLES) {
			bool yes = strstr(cell, "yes") != NULL;
			if (yes != access_check((access_role)col, k))
				fail_msg("docs/security.md: %s for %s says %s, the code says %s", name,
					 access_role_name((access_role)col), yes ? "yes" : "no",
					 yes ? "no" : "yes");
			col++;
		}
		assert_int_equal(col, ACCESS_N_ROLES);
	}
	assert_int_equal(rows, ACCESS_N_PERMS);
	free(doc);
	free(path);
}

/* ---- tokens -------------------------------------------------------------------------- */

static void test_tokens_and_hashes(void **state)
{
	char t1[ACCESS_TOKEN_LEN + 1], t2[ACCESS_TOKEN_LEN + 1], h1[65], h2[65], h[65];

	(void)state;
	assert_int_equal(access_token_new(t1, h1), 0);
	assert_int_equal(access_token_new(t2, h2), 0);
	assert_int_equal(strlen(t1), ACCESS_TOKEN_LEN);
	assert_memory_equal(t1, ACCESS_TOKEN_PREFIX, strlen(ACCESS_TOKEN_PREFIX));
	assert_string_not_equal(t1, t2);
	assert_string_not_equal(h1, h2);
	/* The hash is SHA-256 of the token text (the known answer for "abc"). */
	assert_int_equal(access_token_hash(t1, strlen(t1), h), 0);
	assert_string_equal(h, h1);
	assert_int_equal(access_token_hash("abc", 3, h), 0);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(access_equal("abcd", "abcd", 4));
	assert_false(access_equal("abcd", "abce", 4));
	assert_false(access_equal("xbcd", "abcd", 4));
	assert_true(access_equal("", "", 0));
}

static void test_rotation(void **state)
{
	fx *f = *state;
	char *t1 = NULL, *t2 = NULL;
	access_user u;

	assert_int_equal(sl_user_add(f->p, "alice", "ml_engineer"), 0);
	assert_int_equal(sl_user_add(f->p, "alice", "sre"), SL_EEXIST);
	assert_int_equal(sl_user_add(f->p, "bob", "wizard"), SL_EINVAL);
	assert_int_equal(sl_user_add(f->p, "-bob", "sre"), SL_EINVAL);
	assert_int_equal(sl_user_add(f->p, "bob smith", "sre"), SL_EINVAL);
	assert_int_equal(sl_user_add(f->p, "token-file", "sre"), SL_EINVAL);
	/* No token yet: nobody authenticates. */
	{
		bool any = true;
		assert_int_equal(access_any_credential(f->a, &any), 0);
		assert_false(any);
	}
	assert_int_equal(sl_user_token(f->p, "alice", &t1), 0);
	assert_int_equal(access_authenticate(f->a, bearer(t1), &u), 0);
	assert_string_equal(u.name, "alice");
	assert_int_equal(u.role, ACCESS_ML_ENGINEER);
	/* The scheme in any case, spaces around the token. */
	{
		char h[160];
		snprintf(h, sizeof h, "bearer   %s  ", t1);
		assert_int_equal(access_authenticate(f->a, h, &u), 0);
	}
	/* Rotation: the old value is refused at once, the new one works. */
	assert_int_equal(sl_user_token(f->p, "alice", &t2), 0);
	assert_string_not_equal(t1, t2);
	assert_int_equal(access_authenticate(f->a, bearer(t1), &u), SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "rotated"));
	assert_int_equal(access_authenticate(f->a, bearer(t2), &u), 0);
	/* Near misses: one digit changed, cut short, another scheme, none. */
	{
		char bad[ACCESS_TOKEN_LEN + 1];
		snprintf(bad, sizeof bad, "%s", t2);
		bad[10] = bad[10] == 'a' ? 'b' : 'a';
		assert_int_equal(access_authenticate(f->a, bearer(bad), &u), SL_ENOENT);
		bad[ACCESS_TOKEN_LEN - 1] = 0;
		assert_int_equal(access_authenticate(f->a, bearer(bad), &u), SL_ENOENT);
	}
	assert_int_equal(access_authenticate(f->a, "Basic YWxpY2U6eA==", &u), SL_ENOENT);
	assert_int_equal(access_authenticate(f->a, NULL, &u), SL_ENOENT);
	assert_int_equal(access_authenticate(f->a, "Bearer ", &u), SL_ENOENT);
	/* Removing the user ends its token. */
	assert_int_equal(sl_user_remove(f->p, "alice"), 0);
	assert_int_equal(access_authenticate(f->a, bearer(t2), &u), SL_ENOENT);
	assert_int_equal(sl_user_remove(f->p, "alice"), SL_ENOENT);
	sl_free(t1);
	sl_free(t2);
	t1 = (char *)"not reset";
	assert_int_equal(sl_user_token(f->p, "alice", &t1), SL_ENOENT);
	assert_null(t1);
}

/* The store holds the hash, never the token (access.h, invariant 1). */
static void test_token_never_stored(void **state)
{
	fx *f = *state;
	char *t = NULL, *list = NULL, h[65], *db = NULL;
	unsigned char *bytes;
	size_t len;

	assert_int_equal(sl_user_add(f->p, "carol", "sre"), 0);
	assert_int_equal(sl_user_token(f->p, "carol", &t), 0);
	assert_int_equal(access_token_hash(t, strlen(t), h), 0);
	assert_int_equal(sl_users_list(f->p, &list), 0);
	assert_null(strstr(list, t));
	assert_null(strstr(list, h));
	assert_non_null(strstr(list, "\"token\": true"));
	/* The database files, WAL included, after a checkpoint-free write. */
	for (int i = 0; i < 2; i++) {
		char name[64];
		snprintf(name, sizeof name, "proj/.sluice/%s", i ? "meta.db-wal" : "meta.db");
		db = tu_path(f->dir, name);
		FILE *fp = fopen(db, "rb");
		if (fp) {
			fclose(fp);
			bytes = tu_read(db, &len);
			assert_null(memmem(bytes, len, t + 4, 32));
			free(bytes);
		}
		free(db);
	}
	sl_free(list);
	sl_free(t);
}

static void test_gate(void **state)
{
	fx *f = *state;
	char *ds = NULL, *sre = NULL, msg[512];
	access_user u;

	assert_int_equal(sl_user_add(f->p, "dana", "data_scientist"), 0);
	assert_int_equal(sl_user_add(f->p, "sam", "sre"), 0);
	assert_int_equal(sl_user_token(f->p, "dana", &ds), 0);
	assert_int_equal(sl_user_token(f->p, "sam", &sre), 0);
	assert_int_equal(access_gate(f->a, NULL, PERM_READ, &u, msg, sizeof msg), 401);
	assert_non_null(strstr(msg, "Bearer"));
	assert_int_equal(access_gate(f->a, bearer(ds), PERM_PROMOTE, &u, msg, sizeof msg), 0);
	assert_int_equal(access_gate(f->a, bearer(ds), PERM_PROMOTE_PRODUCTION, &u, msg, sizeof msg),
			 403);
	assert_non_null(strstr(msg, "data_scientist"));
	assert_non_null(strstr(msg, "promote.production"));
	assert_int_equal(access_gate(f->a, bearer(sre), PERM_ROLLBACK, &u, msg, sizeof msg), 0);
	assert_string_equal(u.name, "sam");
	assert_int_equal(access_gate(f->a, bearer(sre), PERM_RUN, &u, msg, sizeof msg), 403);
	sl_free(ds);
	sl_free(sre);
}

/* A server's --token-file token: the user "token-file", admin; compared as a hash. */
static void test_service_token(void **state)
{
	access_ctx *a = NULL;
	access_user u;
	bool any = false;

	(void)state;
	assert_int_equal(access_open(NULL, "s3cret", &a), 0);
	assert_int_equal(access_any_credential(a, &any), 0);
	assert_true(any);
	assert_int_equal(access_authenticate(a, "Bearer s3cret", &u), 0);
	assert_string_equal(u.name, "token-file");
	assert_int_equal(u.role, ACCESS_ADMIN);
	assert_int_equal(access_authenticate(a, "Bearer s3cret2", &u), SL_ENOENT);
	assert_int_equal(access_authenticate(a, "Bearer s3cre", &u), SL_ENOENT);
	/* Without a project nothing is kept, and that is not an error. */
	assert_int_equal(access_audit(a, &(access_audit_rec){.action = "serve.reload"}), 0);
	access_close(a);
	access_close(NULL);
}

static void test_policy(void **state)
{
	access_policy pol;

	(void)state;
	assert_true(access_loopback("127.0.0.1"));
	assert_false(access_loopback("127.0.0.2"));
	assert_true(access_loopback("0:0::1"));
	assert_true(access_loopback("::1"));
	assert_true(access_loopback("localhost"));
	assert_true(access_loopback(NULL));
	assert_false(access_loopback("0.0.0.0"));
	assert_false(access_loopback("::"));
	assert_false(access_loopback("10.1.2.3"));
	assert_false(access_loopback("example.org"));
	assert_int_equal(access_policy_set(&pol, "0.0.0.0", true, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "not a loopback"));
	assert_int_equal(access_policy_set(&pol, "127.0.0.1", true, "inference"), SL_EINVAL);
	assert_int_equal(access_policy_set(&pol, "127.0.0.1", false, "everything"), SL_EINVAL);
	assert_int_equal(access_policy_set(&pol, "127.0.0.1", true, NULL), 0);
	assert_false(access_policy_asks(&pol, ACCESS_PROTECTED));
	assert_int_equal(access_policy_set(&pol, "0.0.0.0", false, NULL), 0);
	assert_false(access_policy_asks(&pol, ACCESS_HEALTH));
	assert_false(access_policy_asks(&pol, ACCESS_INFERENCE));
	assert_true(access_policy_asks(&pol, ACCESS_PROTECTED));
	assert_int_equal(access_policy_set(&pol, "0.0.0.0", false, "inference"), 0);
	assert_false(access_policy_asks(&pol, ACCESS_HEALTH));
	assert_true(access_policy_asks(&pol, ACCESS_INFERENCE));
}

/* ---- the audit log ------------------------------------------------------------------------ */

static json_t *query(sl_project *p, const sl_audit_filter *flt)
{
	char *text = NULL;
	json_t *j;

	assert_int_equal(sl_audit_query(p, flt, &text), 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	sl_free(text);
	return j;
}

static void test_audit(void **state)
{
	fx *f = *state;
	char big[3000];
	json_t *j, *recs;
	long long next;
	int seen = 0;

	/* 25 records: three users, two kinds of action. */
	for (int i = 0; i < 25; i++) {
		char target[32], who[16];
		snprintf(target, sizeof target, "m%d@production", i % 5);
		snprintf(who, sizeof who, "u%d", i % 3);
		access_audit_rec r = {.who = who,
				      .role = "ml_engineer",
				      .via = "server",
				      .action = i % 2 ? "models.promote" : "serve.feedback",
				      .target = target,
				      .request = "POST /x {}",
				      .outcome = i % 4 ? "ok" : "denied",
				      .status = i % 4 ? 200 : 403};
		assert_int_equal(access_audit(f->a, &r), 0);
	}
	/* Pages walk back without gaps or repeats. */
	next = 0;
	do {
		json_t *r;
		size_t i;
		j = query(f->p, &(sl_audit_filter){.limit = 7, .before = next});
		recs = json_object_get(j, "records");
		json_array_foreach(recs, i, r) {
			assert_int_equal(json_integer_value(json_object_get(r, "seq")), 25 - seen);
			seen++;
		}
		next = json_is_integer(json_object_get(j, "next"))
			       ? json_integer_value(json_object_get(j, "next"))
			       : 0;
		json_decref(j);
	} while (next);
	assert_int_equal(seen, 25);
	/* Filters: by who, by action prefix, by target prefix, by outcome. */
	j = query(f->p, &(sl_audit_filter){.who = "u1", .limit = 100});
	assert_int_equal(json_array_size(json_object_get(j, "records")), 8);
	json_decref(j);
	j = query(f->p, &(sl_audit_filter){.action = "models.", .limit = 100});
	assert_int_equal(json_array_size(json_object_get(j, "records")), 12);
	json_decref(j);
	j = query(f->p, &(sl_audit_filter){.action = "models", .limit = 100});
	assert_int_equal(json_array_size(json_object_get(j, "records")), 0);
	json_decref(j);
	j = query(f->p, &(sl_audit_filter){.target = "m2@*", .limit = 100});
	assert_int_equal(json_array_size(json_object_get(j, "records")), 5);
	json_decref(j);
	j = query(f->p, &(sl_audit_filter){.outcome = "denied", .since = "2000-01-01", .limit = 100});
	recs = json_object_get(j, "records");
	assert_int_equal(json_array_size(recs), 7);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 0), "status")), 403);
	json_decref(j);
	j = query(f->p, &(sl_audit_filter){.until = "2000-01-01", .limit = 100});
	assert_int_equal(json_array_size(json_object_get(j, "records")), 0);
	json_decref(j);
	{
		char *text = NULL;
		assert_int_equal(sl_audit_query(f->p, &(sl_audit_filter){.since = "yesterday"}, &text),
				 SL_EINVAL);
		assert_int_equal(sl_audit_query(f->p, &(sl_audit_filter){.limit = 20000}, &text),
				 SL_EINVAL);
	}
	/* A long request is cut at ACCESS_REQUEST_MAX bytes without splitting a
	 * character; invalid UTF-8 becomes '?'. */
	memset(big, 'a', sizeof big);
	memcpy(big + ACCESS_REQUEST_MAX - 1, "\xc3\xa9", 2);
	big[sizeof big - 1] = 0;
	assert_int_equal(access_audit(f->a, &(access_audit_rec){.action = "x", .request = big}), 0);
	assert_int_equal(access_audit(f->a, &(access_audit_rec){.action = "x", .request = "\xff!"}),
			 0);
	j = query(f->p, &(sl_audit_filter){.action = "x", .limit = 2});
	recs = json_object_get(j, "records");
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "request")),
			    "?!");
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "who")),
			    "anonymous");
	assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(recs, 1), "request"))),
			 ACCESS_REQUEST_MAX - 1);
	json_decref(j);
	/* The command line's records: the OS account, via cli. */
	assert_int_equal(sl_audit_append(f->p, &(sl_audit_entry){.action = "users.add"}), 0);
	j = query(f->p, &(sl_audit_filter){.limit = 1});
	recs = json_object_get(j, "records");
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "via")), "cli");
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "outcome")),
			    "ok");
	json_decref(j);
	assert_int_equal(sl_audit_append(f->p, &(sl_audit_entry){0}), SL_EINVAL);
}

static void test_roles_json(void **state)
{
	char *text = NULL;
	json_t *j, *ml;

	(void)state;
	assert_int_equal(sl_roles(&text), 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "permissions")), ACCESS_N_PERMS);
	ml = json_object_get(json_object_get(j, "roles"), "data_scientist");
	assert_non_null(ml);
	for (size_t i = 0; i < json_array_size(ml); i++)
		assert_string_not_equal(json_string_value(json_array_get(ml, i)), "promote.production");
	json_decref(j);
	sl_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_table),
		cmocka_unit_test(test_docs_table_matches),
		cmocka_unit_test(test_tokens_and_hashes),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_never_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gate, setup, teardown),
		cmocka_unit_test(test_service_token),
		cmocka_unit_test(test_policy),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test(test_roles_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
