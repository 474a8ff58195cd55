/*
 * The model registry in the metadata store: version numbers from 1 that are
 * never reused (also after a delete), aliases only for passing verdicts,
 * promotion rules, the append-only alias history and rollbacks as a stack,
 * deletes refused behind an alias, tags and their search, the change
 * counter, registration as a store op in a step's completion, the JSON
 * views, and two processes promoting at once (both moves recorded, the
 * history a consistent chain).
 *
 * Children made with fork() never use cmocka's asserts; they exit non-zero
 * and print sl_errmsg().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/project.h"
#include "artifact/artifact.h"
#include "core.h"
#include "store/store.h"
#include "testutil.h"

typedef struct fixture {
	char *dir;
	char *db;
	store *s;
	char bundles[6][SL__HASH_HEX_SIZE];
} fixture;

static store *open_db(const char *db)
{
	char target[600];
	store *s = NULL;

	snprintf(target, sizeof target, "sqlite:%s", db);
	if (store_open(target, &s) != 0)
		fail_msg("store_open: %s", sl_errmsg());
	return s;
}

/* Six bundle artifacts made by one step run, so versions have something to point at. */
static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	store_run r = {.id = "run1", .pipeline = "spam-train", .started_ms = 1000};
	store_steprun sr = {.id = "sr-pkg", .run_id = "run1", .step = "package", .kind = "uses:package",
			    .status = ST_RUNNING, .exit_code = -1, .started_ms = 1000};
	store_artifact arts[6];
	store_io outs[6];
	static const char *const names[6] = {"b0", "b1", "b2", "b3", "b4", "b5"};

	assert_non_null(f);
	f->dir = strdup(tu_tmpdir());
	f->db = tu_path(f->dir, "meta.db");
	f->s = open_db(f->db);
	assert_int_equal(store_run_create(f->s, &r), 0);
	assert_int_equal(store_steprun_create(f->s, &sr, NULL, 0), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(sl__sha256_hex(names[i], 2, f->bundles[i]), 0);
		arts[i] = (store_artifact){.type = "bundle", .size = 10};
		outs[i] = (store_io){.name = names[i], .artifact_id = f->bundles[i]};
	}
	sr.status = ST_COMPLETED;
	sr.exit_code = 0;
	store_result res = {.arts = arts, .outputs = outs, .n_outputs = 6};
	assert_int_equal(store_steprun_finish(f->s, &sr, &res), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	store_close(f->s);
	tu_rmdir(f->dir);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

static int64_t reg(fixture *f, const char *model, int bundle, const char *verdict,
		   const char *alias)
{
	store_version_new v = {.model = model, .bundle = f->bundles[bundle], .run_id = "run1",
			       .algorithm = "gbdt", .metrics_json = "{\"roc_auc\": 0.97}",
			       .verdict = verdict, .alias = alias, .move = {.who = "tester"}};
	int64_t version = 0;

	if (store_model_register(f->s, &v, &version, NULL) != 0)
		fail_msg("register %s: %s", model, sl_errmsg());
	return version;
}

static int64_t alias_of(fixture *f, const char *model, const char *alias)
{
	store_model_ref r;

	if (store_model_resolve(f->s, model, alias, &r) != 0)
		return -1;
	return r.version;
}

static json_t *history(fixture *f, const char *model, const char *alias)
{
	json_t *h = NULL;

	if (store_model_history_json(f->s, model, alias, &h) != 0)
		fail_msg("history: %s", sl_errmsg());
	return h;
}

static int64_t hint(json_t *rec, const char *key)
{
	return json_integer_value(json_object_get(rec, key));
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_versions_never_reused(void **state)
{
	fixture *f = *state;
	bool reused = true;
	int64_t v = 0;

	assert_int_equal(reg(f, "spam", 0, VERDICT_PASSED, NULL), 1);
	assert_int_equal(reg(f, "spam", 1, VERDICT_PASSED, NULL), 2);
	/* The newest version's bundle again: no copy, the same version. */
	store_version_new again = {.model = "spam", .bundle = f->bundles[1], .verdict = VERDICT_PASSED};
	assert_int_equal(store_model_register(f->s, &again, &v, &reused), 0);
	assert_int_equal(v, 2);
	assert_true(reused);
	assert_int_equal(reg(f, "spam", 2, VERDICT_PASSED, NULL), 3);
	/* An older bundle again is a new version: a later run made it again. */
	assert_int_equal(reg(f, "spam", 0, VERDICT_PASSED, NULL), 4);

	/* Deleting the newest leaves a gap that is never filled. */
	assert_int_equal(store_model_delete(f->s, "spam", "4"), 0);
	assert_int_equal(store_model_delete(f->s, "spam", "3"), 0);
	assert_int_equal(reg(f, "spam", 3, VERDICT_PASSED, NULL), 5);
	assert_int_equal(store_model_resolve(f->s, "spam", "4", &(store_model_ref){0}), SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "was deleted"));
	assert_int_equal(store_model_resolve(f->s, "spam", "9", &(store_model_ref){0}), SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "the newest is 5"));
	assert_int_equal(alias_of(f, "spam", "latest"), 5);

	/* Another model counts on its own. */
	assert_int_equal(reg(f, "fraud", 4, VERDICT_NONE, NULL), 1);

	/* A bundle the store does not hold is refused. */
	store_version_new ghost = {.model = "spam", .verdict = VERDICT_PASSED,
				   .bundle = "0000000000000000000000000000000000000000000000000000000000000000"};
	assert_int_equal(store_model_register(f->s, &ghost, NULL, NULL), SL_ENOENT);
}

static void test_aliases_need_passed_verdict(void **state)
{
	fixture *f = *state;
	store_version_new v = {.model = "spam", .bundle = f->bundles[0], .verdict = VERDICT_FAILED,
			       .alias = "production"};
	json_t *h;

	assert_int_equal(store_model_register(f->s, &v, NULL, NULL), SL_EGATE);
	assert_non_null(strstr(sl_errmsg(), "only given to a bundle whose verdict is passed"));
	v.verdict = VERDICT_NONE;
	assert_int_equal(store_model_register(f->s, &v, NULL, NULL), SL_EGATE);
	/* Nothing was registered by the refusals. */
	assert_int_equal(store_model_resolve(f->s, "spam", "latest", &(store_model_ref){0}),
			 SL_ENOENT);

	assert_int_equal(reg(f, "spam", 0, VERDICT_PASSED, "production"), 1);
	assert_int_equal(alias_of(f, "spam", "production"), 1);
	h = history(f, "spam", NULL);
	assert_int_equal(json_array_size(h), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "kind")),
			    "register");
	assert_true(json_is_null(json_object_get(json_array_get(h, 0), "from")));
	assert_int_equal(hint(json_array_get(h, 0), "to"), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "who")),
			    "tester");
	json_decref(h);

	/* Bad names are refused before anything is written. */
	v.verdict = VERDICT_PASSED;
	v.alias = "3";
	assert_int_equal(store_model_register(f->s, &v, NULL, NULL), SL_EINVAL);
	v.alias = "latest";
	assert_int_equal(store_model_register(f->s, &v, NULL, NULL), SL_EINVAL);
	v.alias = NULL;
	v.model = "no spaces";
	assert_int_equal(store_model_register(f->s, &v, NULL, NULL), SL_EINVAL);
	v.model = "spam";
	v.verdict = "maybe";
	assert_int_equal(store_model_register(f->s, &v, NULL, NULL), SL_EINVAL);
}

static void test_promote_rules(void **state)
{
	fixture *f = *state;
	store_move m = {.who = "alice"};
	json_t *rec = NULL, *h;

	reg(f, "spam", 0, VERDICT_PASSED, "production");
	reg(f, "spam", 1, VERDICT_FAILED, NULL);
	reg(f, "spam", 2, VERDICT_PASSED, NULL);

	/* A failed verdict needs --force, and --force needs a reason. */
	assert_int_equal(store_model_promote(f->s, "spam", "2", "production", &m, &rec), SL_EGATE);
	assert_null(rec);
	assert_non_null(strstr(sl_errmsg(), "--force"));
	m.force = true;
	assert_int_equal(store_model_promote(f->s, "spam", "2", "production", &m, &rec), SL_EINVAL);
	m.reason = "hotfix: the new tokenizer";
	assert_int_equal(store_model_promote(f->s, "spam", "2", "production", &m, &rec), 0);
	assert_true(json_is_true(json_object_get(rec, "forced")));
	assert_int_equal(hint(rec, "from"), 1);
	assert_int_equal(hint(rec, "to"), 2);
	assert_string_equal(json_string_value(json_object_get(rec, "reason")), m.reason);
	assert_string_equal(json_string_value(json_object_get(rec, "who")), "alice");
	json_decref(rec);

	/* Promoting where it already points records nothing. */
	m = (store_move){.who = "bob"};
	assert_int_equal(store_model_promote(f->s, "spam", "3", "staging", &m, NULL), 0);
	assert_int_equal(store_model_promote(f->s, "spam", "staging", "staging", &m, &rec), 0);
	assert_true(json_is_false(json_object_get(rec, "moved")));
	json_decref(rec);
	/* An alias as the version: what staging holds goes to production. */
	assert_int_equal(store_model_promote(f->s, "spam", "staging", "production", &m, &rec), 0);
	assert_false(json_is_true(json_object_get(rec, "forced")));
	json_decref(rec);
	assert_int_equal(alias_of(f, "spam", "production"), 3);
	h = history(f, "spam", "production");
	assert_int_equal(json_array_size(h), 3);
	json_decref(h);

	/* Unknown things are ENOENT and say what exists. */
	assert_int_equal(store_model_promote(f->s, "spma", "1", "production", &m, NULL), SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "did you mean 'spam'"));
	assert_int_equal(store_model_promote(f->s, "spam", "7", "production", &m, NULL), SL_ENOENT);
	assert_int_equal(store_model_promote(f->s, "spam", "prod", "x", &m, NULL), SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "did you mean 'production'"));
	assert_int_equal(store_model_resolve(f->s, "spam", "champion", &(store_model_ref){0}),
			 SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "no alias 'champion'"));
}

/* Snapshot of the history as text, to prove old records never change. */
static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(s);
	return s;
}

static void test_history_append_only_and_rollback(void **state)
{
	fixture *f = *state;
	store_move m = {.who = "ops"};
	json_t *h, *rec = NULL;
	char *before, *after;

	reg(f, "spam", 0, VERDICT_PASSED, "production"); /* #1: none -> 1 */
	reg(f, "spam", 1, VERDICT_PASSED, NULL);
	reg(f, "spam", 2, VERDICT_PASSED, NULL);
	assert_int_equal(store_model_promote(f->s, "spam", "2", "production", &m, NULL), 0);
	assert_int_equal(store_model_promote(f->s, "spam", "3", "production", &m, NULL), 0);
	h = history(f, "spam", "production");
	before = dump(h);
	json_decref(h);

	/* Rollbacks walk back one move at a time: 3 -> 2 -> 1 -> removed. */
	assert_int_equal(store_model_rollback(f->s, "spam", "production", &m, &rec), 0);
	assert_string_equal(json_string_value(json_object_get(rec, "kind")), "rollback");
	assert_int_equal(hint(rec, "from"), 3);
	assert_int_equal(hint(rec, "to"), 2);
	assert_true(hint(rec, "undoes") > 0);
	assert_non_null(strstr(json_string_value(json_object_get(rec, "reason")), "rollback of move"));
	json_decref(rec);
	assert_int_equal(alias_of(f, "spam", "production"), 2);
	assert_int_equal(store_model_rollback(f->s, "spam", "production", &m, NULL), 0);
	assert_int_equal(alias_of(f, "spam", "production"), 1);
	/* A new move after rollbacks is undone first. */
	assert_int_equal(store_model_promote(f->s, "spam", "3", "production", &m, NULL), 0);
	assert_int_equal(store_model_rollback(f->s, "spam", "production", &m, NULL), 0);
	assert_int_equal(alias_of(f, "spam", "production"), 1);
	/* The first move made the alias: undoing it removes the alias. */
	assert_int_equal(store_model_rollback(f->s, "spam", "production", &m, &rec), 0);
	assert_true(json_is_null(json_object_get(rec, "to")));
	json_decref(rec);
	assert_int_equal(alias_of(f, "spam", "production"), -1);
	assert_int_equal(store_model_rollback(f->s, "spam", "production", &m, NULL), SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "no move left"));
	assert_int_equal(store_model_rollback(f->s, "spam", "staging", &m, NULL), SL_ENOENT);

	/* Every earlier record is unchanged; the new ones came after, in order. */
	h = history(f, "spam", "production");
	assert_int_equal(json_array_size(h), 3 + 5);
	{
		json_t *first = json_array();
		for (size_t i = 0; i < 3; i++)
			json_array_append(first, json_array_get(h, i));
		after = dump(first);
		json_decref(first);
	}
	assert_string_equal(before, after);
	for (size_t i = 1; i < json_array_size(h); i++) {
		json_t *a = json_array_get(h, i - 1), *b = json_array_get(h, i);
		assert_true(hint(b, "seq") > hint(a, "seq"));
		/* A chain: each move starts where the one before ended. */
		assert_true(json_equal(json_object_get(b, "from"), json_object_get(a, "to")));
	}
	json_decref(h);
	free(before);
	free(after);
}

static void test_delete_refused_behind_alias(void **state)
{
	fixture *f = *state;
	store_move m = {0};

	reg(f, "spam", 0, VERDICT_PASSED, "production");
	reg(f, "spam", 1, VERDICT_PASSED, NULL);
	assert_int_equal(store_model_tag(f->s, "spam", "1", "team", "mail"), 0);
	assert_int_equal(store_model_delete(f->s, "spam", "1"), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "behind alias 'production'"));
	assert_int_equal(store_model_delete(f->s, "spam", "production"), SL_EINVAL);
	assert_int_equal(store_model_promote(f->s, "spam", "2", "production", &m, NULL), 0);
	assert_int_equal(store_model_delete(f->s, "spam", "1"), 0);
	assert_int_equal(store_model_delete(f->s, "spam", "1"), SL_ENOENT);
	/* Rolling back onto the deleted version is refused, naming it. */
	assert_int_equal(store_model_rollback(f->s, "spam", "production", &m, NULL), SL_ENOENT);
	assert_non_null(strstr(sl_errmsg(), "deleted"));
	assert_int_equal(alias_of(f, "spam", "production"), 2);
}

static void test_tags_and_search(void **state)
{
	fixture *f = *state;
	json_t *r = NULL;

	reg(f, "spam", 0, VERDICT_PASSED, NULL);
	reg(f, "spam", 1, VERDICT_PASSED, NULL);
	reg(f, "fraud", 2, VERDICT_PASSED, NULL);
	assert_int_equal(store_model_tag(f->s, "spam", "1", "dataset", "2026-10"), 0);
	assert_int_equal(store_model_tag(f->s, "spam", "2", "dataset", "2026-11"), 0);
	assert_int_equal(store_model_tag(f->s, "spam", "2", "owner", "mail-team"), 0);
	assert_int_equal(store_model_tag(f->s, "fraud", "latest", "dataset", "2026-11"), 0);
	/* Setting again replaces. */
	assert_int_equal(store_model_tag(f->s, "spam", "2", "owner", "ml-team"), 0);

	assert_int_equal(store_model_search_json(f->s, "dataset", "2026-11", &r), 0);
	assert_int_equal(json_array_size(r), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "name")), "fraud");
	assert_int_equal(hint(json_array_get(r, 1), "version"), 2);
	/* Each hit carries all its tags. */
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(r, 1), "tags"), "owner")),
			    "ml-team");
	json_decref(r);
	assert_int_equal(store_model_search_json(f->s, "dataset", NULL, &r), 0);
	assert_int_equal(json_array_size(r), 3);
	json_decref(r);

	assert_int_equal(store_model_tag(f->s, "spam", "2", "dataset", NULL), 0);
	assert_int_equal(store_model_search_json(f->s, "dataset", "2026-11", &r), 0);
	assert_int_equal(json_array_size(r), 1);
	json_decref(r);
	assert_int_equal(store_model_search_json(f->s, "nothing", NULL, &r), 0);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);

	assert_int_equal(store_model_tag(f->s, "spam", "1", "a=b", "x"), SL_EINVAL);
	assert_int_equal(store_model_tag(f->s, "spam", "9", "k", "x"), SL_ENOENT);
}

static void test_changes_counter(void **state)
{
	fixture *f = *state;
	store_move m = {0};
	int64_t a = 0, b = 0, c = 0;

	assert_int_equal(store_model_changes(f->s, "spam", &a), SL_ENOENT);
	reg(f, "spam", 0, VERDICT_PASSED, "production");
	assert_int_equal(store_model_changes(f->s, "spam", &a), 0);
	reg(f, "spam", 1, VERDICT_PASSED, NULL);
	assert_int_equal(store_model_changes(f->s, "spam", &b), 0);
	assert_true(b > a);
	assert_int_equal(store_model_promote(f->s, "spam", "2", "production", &m, NULL), 0);
	assert_int_equal(store_model_changes(f->s, "spam", &c), 0);
	assert_true(c > b);
	/* A failed write changes nothing. */
	assert_int_equal(store_model_delete(f->s, "spam", "2"), SL_EINVAL);
	assert_int_equal(store_model_changes(f->s, "spam", &a), 0);
	assert_int_equal(a, c);
}

static void test_register_as_store_op(void **state)
{
	fixture *f = *state;
	store_steprun sr = {.id = "sr-reg", .run_id = "run1", .step = "register",
			    .kind = "uses:register", .status = ST_RUNNING, .exit_code = -1,
			    .started_ms = 2000};
	store_io in = {.name = "bundle", .artifact_id = f->bundles[2]};
	json_t *ops = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:f}}]", "op", "register", "on",
				"input.bundle", "name", "spam", "alias", "staging", "verdict",
				"passed", "algorithm", "logistic", "metrics", "accuracy", 0.91);
	json_t *bad = json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "op", "register", "on", "input.bundle",
				"name", "spam", "alias", "production", "verdict", "failed");
	json_t *m = NULL, *v;
	store_result res = {.ops = ops};

	assert_int_equal(store_steprun_create(f->s, &sr, &in, 1), 0);
	sr.status = ST_COMPLETED;
	sr.exit_code = 0;
	/* An alias for a failed verdict fails the whole completion. */
	res.ops = bad;
	assert_int_equal(store_steprun_finish(f->s, &sr, &res), SL_EGATE);
	assert_int_equal(store_model_changes(f->s, "spam", &(int64_t){0}), SL_ENOENT);
	/* A malformed op is caught by the check. */
	json_object_set_new(json_array_get(bad, 0), "metrics", json_string("x"));
	assert_int_equal(store_ops_check(bad), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "'metrics' must be an object"));

	res.ops = ops;
	assert_int_equal(store_steprun_finish(f->s, &sr, &res), 0);
	assert_int_equal(store_model_json(f->s, "spam", NULL, &m), 0);
	assert_int_equal(hint(json_object_get(m, "aliases"), "staging"), 1);
	v = json_array_get(json_object_get(m, "versions"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "bundle")), f->bundles[2]);
	assert_string_equal(json_string_value(json_object_get(v, "run")), "run1");
	assert_string_equal(json_string_value(json_object_get(v, "algorithm")), "logistic");
	assert_string_equal(json_string_value(json_object_get(v, "verdict")), "passed");
	assert_string_equal(json_string_value(json_object_get(v, "step_run")), "sr-reg");
	assert_true(json_real_value(json_object_get(json_object_get(v, "metrics"), "accuracy")) > 0.9);
	/* The alias move names the run that made it. */
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(m, "history"), 0), "run")),
			    "run1");
	json_decref(m);
	json_decref(ops);
	json_decref(bad);
}

static void test_json_views(void **state)
{
	fixture *f = *state;
	store_move mv = {0};
	json_t *l = NULL, *m = NULL, *v;

	reg(f, "spam", 0, VERDICT_PASSED, "production");
	reg(f, "spam", 1, VERDICT_FAILED, NULL);
	reg(f, "spam", 2, VERDICT_PASSED, "staging");
	reg(f, "ads", 3, VERDICT_NONE, NULL);
	assert_int_equal(store_model_promote(f->s, "spam", "3", "champion", &mv, NULL), 0);
	assert_int_equal(store_model_tag(f->s, "spam", "3", "k", "v"), 0);

	assert_int_equal(store_models_json(f->s, &l), 0);
	assert_int_equal(json_array_size(l), 2);
	v = json_array_get(l, 1);
	assert_string_equal(json_string_value(json_object_get(v, "name")), "spam");
	assert_int_equal(hint(v, "versions"), 3);
	assert_int_equal(hint(v, "latest"), 3);
	assert_int_equal(hint(json_object_get(v, "aliases"), "production"), 1);
	assert_int_equal(hint(json_object_get(v, "aliases"), "champion"), 3);
	json_decref(l);

	/* The DESIGN shape: name, aliases, versions, history. */
	assert_int_equal(store_model_json(f->s, "spam", NULL, &m), 0);
	assert_int_equal(json_array_size(json_object_get(m, "versions")), 3);
	assert_int_equal(json_array_size(json_object_get(m, "history")), 3);
	v = json_array_get(json_object_get(m, "versions"), 2);
	for (const char *const *k = (const char *const[]){"version", "bundle", "run", "created",
							   "algorithm", "metrics", "verdict", NULL};
	     *k; k++)
		assert_non_null(json_object_get(v, *k));
	assert_int_equal(json_array_size(json_object_get(v, "aliases")), 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "tags"), "k")), "v");
	v = json_array_get(json_object_get(m, "history"), 0);
	for (const char *const *k = (const char *const[]){"alias", "from", "to", "at", "reason", NULL};
	     *k; k++)
		assert_non_null(json_object_get(v, *k));
	json_decref(m);

	/* With a reference: that version and the moves that touched it. */
	assert_int_equal(store_model_json(f->s, "spam", "staging", &m), 0);
	assert_int_equal(hint(m, "version"), 3);
	assert_int_equal(json_array_size(json_object_get(m, "versions")), 1);
	assert_int_equal(json_array_size(json_object_get(m, "history")), 2);
	assert_int_equal(json_object_size(json_object_get(m, "aliases")), 3);
	json_decref(m);
	assert_int_equal(store_model_json(f->s, "nope", NULL, &m), SL_ENOENT);
	assert_int_equal(store_model_json(f->s, "spam", "9", &m), SL_ENOENT);
}

static void test_ref_split(void **state)
{
	char buf[STORE_NAME_MAX * 2 + 2];
	const char *name, *ref;

	(void)state;
	assert_int_equal(store_model_ref_split("spam@production", buf, sizeof buf, &name, &ref), 0);
	assert_string_equal(name, "spam");
	assert_string_equal(ref, "production");
	assert_int_equal(store_model_ref_split("spam", buf, sizeof buf, &name, &ref), 0);
	assert_null(ref);
	assert_int_equal(store_model_ref_split("spam@", buf, sizeof buf, &name, &ref), SL_EINVAL);
	assert_int_equal(store_model_ref_split("a@b@c", buf, sizeof buf, &name, &ref), SL_EINVAL);
	assert_int_equal(store_model_ref_split("s/p@1", buf, sizeof buf, &name, &ref), SL_EINVAL);
	assert_int_equal(store_model_ref_split("", buf, sizeof buf, &name, &ref), SL_EINVAL);
}

/* ---- two processes promoting at once ------------------------------------------------- */

#define PROMOTERS 2
#define PROMOTIONS 25

/* Promotes alias production to `version`, then alternately to 3, many times. */
static int promoter(const char *db, int gate, const char *first, const char *other)
{
	char c;
	store *s = NULL;
	char target[600];
	store_move m = {.who = "ci"};

	snprintf(target, sizeof target, "sqlite:%s", db);
	if (store_open(target, &s) != 0) {
		fprintf(stderr, "child: %s\n", sl_errmsg());
		return 1;
	}
	if (read(gate, &c, 1) < 0) /* returns when the parent closes the pipe */
		return 1;
	for (int i = 0; i < PROMOTIONS; i++) {
		if (store_model_promote(s, "spam", i % 2 ? other : first, "production", &m, NULL)) {
			fprintf(stderr, "child: %s\n", sl_errmsg());
			store_close(s);
			return 1;
		}
	}
	store_close(s);
	return 0;
}

static void test_concurrent_promotions(void **state)
{
	fixture *f = *state;
	static const char *const first[PROMOTERS] = {"2", "3"};
	pid_t pids[PROMOTERS];
	int gate[2];
	json_t *h;
	size_t n;

	reg(f, "spam", 0, VERDICT_PASSED, "production");
	reg(f, "spam", 1, VERDICT_PASSED, NULL);
	reg(f, "spam", 2, VERDICT_PASSED, NULL);
	reg(f, "spam", 3, VERDICT_PASSED, NULL);
	assert_int_equal(pipe(gate), 0);
	for (int i = 0; i < PROMOTERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(gate[1]);
			_exit(promoter(f->db, gate[0], first[i], "4"));
		}
	}
	close(gate[0]);
	close(gate[1]); /* both start together */
	for (int i = 0; i < PROMOTERS; i++) {
		int status = 0;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/*
	 * Each process's first promotion moves the alias off version 1 or off
	 * the other's version: both first moves are recorded. Throughout, each
	 * record starts where the previous one ended, and the alias is where the
	 * last record put it: one of them won, and no move was lost.
	 */
	h = history(f, "spam", "production");
	n = json_array_size(h);
	assert_true(n >= 3);
	assert_int_equal(hint(json_array_get(h, 1), "from"), 1);
	for (size_t i = 2; i < n; i++)
		assert_int_equal(hint(json_array_get(h, i), "from"),
				 hint(json_array_get(h, i - 1), "to"));
	{
		bool saw2 = false, saw3 = false;
		for (size_t i = 1; i < n; i++) {
			saw2 |= hint(json_array_get(h, i), "to") == 2;
			saw3 |= hint(json_array_get(h, i), "to") == 3;
		}
		assert_true(saw2 && saw3);
	}
	assert_int_equal(alias_of(f, "spam", "production"), hint(json_array_get(h, n - 1), "to"));
	json_decref(h);
}

/* sl_model_path: the verified bundle file behind a reference, what predict and export load. */
static void test_public_path(void **state)
{
	fixture *f = *state;
	char *proj = tu_path(f->dir, "proj"), *path = NULL;
	char id[SL__HASH_HEX_SIZE];
	sl_project *p = NULL;
	long long version = 0, changes = 0;
	static const char bytes[] = "a bundle's bytes";

	assert_int_equal(sl_project_init(proj), 0);
	assert_int_equal(sl_project_open(proj, &p), 0);
	assert_int_equal(art_put_buf(p->art_root, bytes, sizeof bytes, id), 0);
	{
		store_run r = {.id = "r1", .pipeline = "x"};
		store_steprun sr = {.id = "s1", .run_id = "r1", .step = "package", .status = ST_COMPLETED,
				    .exit_code = 0};
		store_artifact a = {.type = "bundle", .size = sizeof bytes};
		store_io o = {"bundle", id};
		store_result res = {.arts = &a, .outputs = &o, .n_outputs = 1};
		store_version_new v = {.model = "spam", .bundle = id, .verdict = VERDICT_PASSED,
				       .alias = "production"};
		assert_int_equal(store_run_create(p->st, &r), 0);
		assert_int_equal(store_steprun_record(p->st, &sr, NULL, 0, &res), 0);
		assert_int_equal(store_model_register(p->st, &v, NULL, NULL), 0);
	}
	assert_int_equal(sl_model_path(p, "spam@production", &path, &version), 0);
	assert_int_equal(version, 1);
	assert_non_null(strstr(path, id + 2));
	sl_free(path);
	assert_int_equal(sl_model_path(p, "spam", &path, NULL), SL_EINVAL);
	assert_non_null(strstr(sl_project_errmsg(p), "names a model, not a version"));
	assert_int_equal(sl_model_path(p, "spam@staging", &path, NULL), SL_ENOENT);
	assert_null(path);
	assert_int_equal(sl_model_changes(p, "spam", &changes), 0);
	assert_true(changes >= 1);
	/* sl_model_resolve: the version alone, what a server asks when the count moved. */
	version = 0;
	assert_int_equal(sl_model_resolve(p, "spam@production", &version), 0);
	assert_int_equal(version, 1);
	assert_int_equal(sl_model_resolve(p, "spam@latest", &version), 0);
	assert_int_equal(version, 1);
	assert_int_equal(sl_model_resolve(p, "spam@2", &version), SL_ENOENT);
	assert_non_null(strstr(sl_project_errmsg(p),
			       "model 'spam' has no version 2 (the newest is 1); its aliases: production=1"));
	assert_int_equal(sl_model_resolve(p, "spam", &version), SL_EINVAL);
	{
		/* A tag moves the count, not the version behind the alias. */
		long long before = changes;
		assert_int_equal(sl_model_tag(p, "spam@1", "owner", "ml"), 0);
		assert_int_equal(sl_model_changes(p, "spam", &changes), 0);
		assert_true(changes > before);
		assert_int_equal(sl_model_resolve(p, "spam@production", &version), 0);
		assert_int_equal(version, 1);
	}
	/* A damaged file is refused, naming the version. */
	{
		char *file = art_path(p->art_root, id);
		chmod(file, 0644);
		tu_write(file, "changed");
		sl__free(file);
	}
	assert_int_equal(sl_model_path(p, "spam@1", &path, NULL), SL_ECORRUPT);
	assert_non_null(strstr(sl_project_errmsg(p), "version 1 of model 'spam'"));
	sl_project_close(p);
	free(proj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_versions_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases_need_passed_verdict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promote_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_append_only_and_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_refused_behind_alias, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags_and_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_counter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_as_store_op, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_views, setup, teardown),
		cmocka_unit_test(test_ref_split),
		cmocka_unit_test_setup_teardown(test_concurrent_promotions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_path, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
