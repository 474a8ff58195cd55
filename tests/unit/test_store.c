/*
 * The metadata store: schema migration and reopening, the run and step-run
 * lifecycle, artifact deduplication, cache lookups, id resolution, lineage,
 * the JSON views, what recovery after a dead driver reads, several processes
 * writing one database at once, kill -9 in the middle of writing, and
 * allocation failures. Also prints the cost of recording a step run.
 *
 * Children made with fork() never use cmocka's asserts (they would report
 * into the parent's output); they exit non-zero and print sl_errmsg().
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "pipeline/orch.h"
#include "store/store.h"
#include "store/store_int.h"
#include "testutil.h"

/*
 * target is what store_open takes; db is what the backend's driver opens
 * (the SQLite file, or the same URL on PostgreSQL, see tu_store_target).
 */
typedef struct fixture {
	char *dir;
	char *target;
	const char *db;
	const store_driver *drv;
	bool pg;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	f->dir = strdup(tu_tmpdir());
	f->target = tu_store_target(f->dir);
	f->pg = tu_store_pg();
	f->drv = f->pg ? &store_pg_driver : &store_sqlite_driver;
	f->db = f->pg ? f->target : f->target + strlen("sqlite:");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	tu_store_drop(f->target);
	tu_rmdir(f->dir);
	free(f->dir);
	free(f->target);
	free(f);
	return 0;
}

static store *open_store(const fixture *f)
{
	store *s = NULL;

	if (store_open(f->target, &s) != 0)
		fail_msg("store_open: %s", sl_errmsg());
	return s;
}

/* A deterministic artifact id: the SHA-256 of a label. */
static void art(const char *label, char out[SL__HASH_HEX_SIZE])
{
	assert_int_equal(sl__sha256_hex(label, strlen(label), out), 0);
}

/* ---- raw SQL through the driver, for checks the API does not expose ---------------- */

static int row_i64(void *ud, int ncol, const sq_val *c)
{
	if (ncol > 0 && c[0].type == SQ_INT)
		*(int64_t *)ud = c[0].i;
	return 0;
}

static int row_text(void *ud, int ncol, const sq_val *c)
{
	if (ncol > 0 && c[0].type == SQ_TEXT)
		snprintf(ud, 64, "%s", c[0].s);
	return 0;
}

static int64_t raw_int(const fixture *f, const char *sql)
{
	void *conn = NULL;
	int64_t v = -1;

	if (f->drv->open(f->db, &conn) != 0)
		fail_msg("open %s: %s", f->db, sl_errmsg());
	if (f->drv->exec(conn, sql, 0, NULL, row_i64, &v) != 0)
		fail_msg("%s: %s", sql, sl_errmsg());
	f->drv->close(conn);
	return v;
}

static void raw_exec(const fixture *f, const char *sql)
{
	void *conn = NULL;

	if (f->drv->open(f->db, &conn) != 0)
		fail_msg("open %s: %s", f->db, sl_errmsg());
	if (f->drv->exec(conn, sql, 0, NULL, NULL, NULL) != 0)
		fail_msg("%s: %s", sql, sl_errmsg());
	f->drv->close(conn);
}

/*
 * SQLite checks its file; PostgreSQL keeps its own pages sound, so there
 * the check is that every reference resolves (the schema's foreign keys,
 * counted by hand so a lapse in declaring one would show).
 */
static void assert_integrity(const fixture *f)
{
	void *conn = NULL;
	char res[64] = "";

	if (f->pg) {
		assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM step_runs sr LEFT JOIN runs r ON "
					    "r.id = sr.run_id WHERE r.id IS NULL"),
				 0);
		assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM edges e LEFT JOIN artifacts a ON "
					    "a.id = e.artifact WHERE a.id IS NULL"),
				 0);
		return;
	}
	assert_int_equal(store_sqlite_driver.open(f->db, &conn), 0);
	assert_int_equal(store_sqlite_driver.exec(conn, "PRAGMA integrity_check", 0, NULL,
						  row_text, res),
			 0);
	store_sqlite_driver.close(conn);
	assert_string_equal(res, "ok");
}

/* ---- small builders ---------------------------------------------------------------- */

/* store_steprun_finish with the parts of a result as separate arguments. */
static int fin(store *s, const store_steprun *sr, const store_artifact *arts,
	       const store_io *outs, size_t n_outs, const store_metric *m, size_t n_m)
{
	store_result res = {.arts = arts, .outputs = outs, .n_outputs = n_outs, .metrics = m,
			    .n_metrics = n_m};
	return store_steprun_finish(s, sr, &res);
}

static void new_run(store *s, const char *id, int64_t started, int64_t pid, const char *host)
{
	store_run r = {.id = id,
		       .pipeline = "spam-train",
		       .file = "/proj/train.yaml",
		       .params_json = "{\"seed\": 42}",
		       .orchestrator = "local",
		       .pid = pid,
		       .host = host,
		       .started_ms = started};

	if (store_run_create(s, &r) != 0)
		fail_msg("store_run_create %s: %s", id, sl_errmsg());
}

static store_steprun steprun(const char *id, const char *run, const char *step, const char *status,
			     int64_t t)
{
	store_steprun sr = {.id = id,
			    .run_id = run,
			    .step = step,
			    .kind = "run",
			    .status = status,
			    .exit_code = -1,
			    .started_ms = t};
	return sr;
}

/*
 * Records a whole step run: created running with inputs, finished completed
 * with one output artifact per (name, id) pair.
 */
static void record(store *s, const char *id, const char *run, const char *step, int64_t t,
		   const char *key, const store_io *in, size_t n_in, const store_io *out,
		   size_t n_out)
{
	store_steprun sr = steprun(id, run, step, ST_RUNNING, t);
	store_artifact arts[8];

	assert_true(n_out <= 8);
	sr.cache_key = key;
	if (store_steprun_create(s, &sr, in, n_in) != 0)
		fail_msg("create %s: %s", id, sl_errmsg());
	for (size_t i = 0; i < n_out; i++)
		arts[i] = (store_artifact){.type = "dataset", .size = 100 + i, .created_ms = t + 1,
					   .meta_json = "{\"rows\": 10}"};
	sr.status = ST_COMPLETED;
	sr.exit_code = 0;
	sr.ended_ms = t + 5;
	sr.log_path = "logs/x.log";
	if (fin(s, &sr, arts, out, n_out, NULL, 0) != 0)
		fail_msg("finish %s: %s", id, sl_errmsg());
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_open_migrate_reopen(void **state)
{
	fixture *f = *state;
	char *junk = tu_path(f->dir, "junk.db");
	store *s = open_store(f);
	int v = store_schema_version(s);

	assert_true(v >= 3);
	store_close(s);
	s = open_store(f);
	assert_int_equal(store_schema_version(s), v);
	store_close(s);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version"), v);
	if (f->pg) {
		/* Every text column sorts byte-wise, whatever the database's collation. */
		assert_true(raw_int(f, "SELECT COUNT(*) FROM information_schema.columns WHERE "
				       "table_schema = 'public' AND data_type = 'text'") > 20);
		assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM information_schema.columns WHERE "
					    "table_schema = 'public' AND data_type = 'text' AND "
					    "collation_name IS DISTINCT FROM 'C'"),
				 0);
		assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM pg_database WHERE datname = "
					    "current_database() AND datcollate = 'C'"),
				 0);
	} else {
		void *conn = NULL;
		char mode[64] = "";
		/* A bare path works too, and reopening applied nothing twice. */
		assert_int_equal(store_open(f->db, &s), 0);
		store_close(s);
		assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version"), v);
		assert_int_equal(store_sqlite_driver.open(f->db, &conn), 0);
		assert_int_equal(store_sqlite_driver.exec(conn, "PRAGMA journal_mode", 0, NULL,
							  row_text, mode),
				 0);
		store_sqlite_driver.close(conn);
		assert_string_equal(mode, "wal");
	}
	store_close(NULL);

	/* Refusals, each with a message. */
	assert_int_equal(store_open("sqlite:/nonexistent/dir/meta.db", &s), SL_ESTORE);
	assert_null(s);
	assert_non_null(strstr(sl_errmsg(), "unable to open"));
	assert_int_equal(store_open("mysql://localhost/x", &s), SL_EUNSUP);
	assert_non_null(strstr(sl_errmsg(), "postgresql://"));
	assert_int_equal(store_open("postgresql://", &s), SL_EINVAL);
	assert_int_equal(store_open("", &s), SL_EINVAL);
	tu_write(junk, "this is not a database, it is a long enough text file to be checked....");
	assert_int_equal(store_open(junk, &s), SL_ECORRUPT);
	assert_non_null(strstr(sl_errmsg(), "not a database"));

	/* A database written by a newer sluice is refused, not mangled. */
	raw_exec(f, "INSERT INTO schema_version (version, applied_ms) VALUES (999, 0)");
	assert_int_equal(store_open(f->target, &s), SL_EUNSUP);
	assert_non_null(strstr(sl_errmsg(), "999"));
	free(junk);
}

static void test_run_lifecycle(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char a[SL__HASH_HEX_SIZE], b[SL__HASH_HEX_SIZE], missing[SL__HASH_HEX_SIZE];
	store_io out_a = {"data", a}, in_a = {"data", a}, out_b = {"model", b};
	store_io bad_in = {"data", missing};
	store_metric m[2] = {{"accuracy", 0.93}, {"loss", 0.25}};
	store_artifact art_b = {.type = "model", .size = 7, .meta_json = "{\"algo\": \"logistic\"}"};
	store_steprun sr;
	json_t *j, *steps, *st;
	char *log = NULL;

	art("a", a);
	art("b", b);
	art("missing", missing);
	new_run(s, "run1", 1000, getpid(), "h");
	assert_int_equal(store_run_create(s, &(store_run){.id = "run1", .pipeline = "p"}), SL_EEXIST);
	assert_int_equal(store_run_create(s, &(store_run){.id = "run2", .pipeline = "p",
							  .params_json = "[1"}),
			 SL_EINVAL);

	record(s, "sr1", "run1", "ingest", 1000, NULL, NULL, 0, &out_a, 1);

	/* Step 2 goes pending -> running -> completed with a model and metrics. */
	sr = steprun("sr2", "run1", "train", ST_PENDING, 0);
	assert_int_equal(store_steprun_create(s, &sr, &in_a, 1), 0);
	assert_int_equal(store_steprun_set_status(s, "sr2", ST_RUNNING, 0, NULL, NULL), 0);
	sr.status = ST_COMPLETED;
	sr.exit_code = 0;
	sr.started_ms = 1010;
	sr.ended_ms = 1100;
	sr.log_path = "logs/run1/train.log";
	assert_int_equal(fin(s, &sr, &art_b, &out_b, 1, m, 2), 0);

	/* A third step is skipped; an input that is not in the store is refused. */
	sr = steprun("sr3", "run1", "report", ST_PENDING, 0);
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
	assert_int_equal(store_steprun_set_status(s, "sr3", ST_SKIPPED, 1200, "upstream failed", NULL), 0);
	sr = steprun("sr4", "run1", "bad", ST_RUNNING, 1000);
	assert_int_equal(store_steprun_create(s, &sr, &bad_in, 1), SL_ESTORE);
	assert_non_null(strstr(sl_errmsg(), "must be in the store"));
	assert_non_null(strcasestr(sl_errmsg(), "FOREIGN KEY"));
	sr = steprun("sr5", "nope", "x", ST_RUNNING, 1000);
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), SL_ESTORE);
	sr = steprun("sr6", "run1", "x", "exploded", 1000);
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), SL_EINVAL);
	assert_int_equal(store_steprun_set_status(s, "nope", ST_CANCELLED, 1, NULL, NULL), SL_ENOENT);
	assert_int_equal(store_run_finish(s, "nope", ST_FAILED, 1), SL_ENOENT);
	assert_int_equal(store_run_finish(s, "run1", "weird", 1), SL_EINVAL);

	/* While running, ended and duration are null. */
	assert_int_equal(store_run_json(s, "run1", &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "running");
	assert_true(json_is_null(json_object_get(j, "ended")));
	assert_true(json_is_null(json_object_get(j, "duration_ms")));
	json_decref(j);

	assert_int_equal(store_run_finish(s, "run1", ST_COMPLETED, 1300), 0);
	assert_int_equal(store_run_json(s, "run1", &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "completed");
	assert_int_equal(json_integer_value(json_object_get(j, "duration_ms")), 300);
	assert_string_equal(json_string_value(json_object_get(j, "ended")),
			    "1970-01-01T00:00:01.300Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "params"), "seed")),
			 42);
	steps = json_object_get(j, "steps");
	assert_int_equal(json_array_size(steps), 3);
	st = json_array_get(steps, 1);
	assert_string_equal(json_string_value(json_object_get(st, "name")), "train");
	assert_string_equal(json_string_value(json_object_get(st, "status")), "completed");
	assert_int_equal(json_integer_value(json_object_get(st, "exit_code")), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "duration_ms")), 90);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "inputs"), "data")),
			    a);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(st, "outputs"), "model")), b);
	assert_true(json_real_value(json_object_get(json_object_get(st, "metrics"), "accuracy")) ==
		    0.93);
	st = json_array_get(steps, 2);
	assert_string_equal(json_string_value(json_object_get(st, "status")), "skipped");
	assert_string_equal(json_string_value(json_object_get(st, "error")), "upstream failed");
	assert_true(json_is_null(json_object_get(st, "exit_code")));
	json_decref(j);

	assert_int_equal(store_steprun_log(s, "run1", "train", &log, NULL), 0);
	assert_string_equal(log, "logs/run1/train.log");
	sl__free(log);
	assert_int_equal(store_steprun_log(s, "run1", "report", &log, NULL), SL_ENOENT);
	assert_int_equal(store_steprun_log(s, "run1", "nosuch", &log, NULL), SL_ENOENT);
	assert_null(log);
	store_close(s);
}

static void test_finish_dedup(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char x[SL__HASH_HEX_SIZE];
	store_io out = {"data", x};
	json_t *j;

	art("same-content", x);
	new_run(s, "r1", 1000, getpid(), "h");
	new_run(s, "r2", 2000, getpid(), "h");
	record(s, "first", "r1", "ingest", 1000, NULL, NULL, 0, &out, 1);
	record(s, "second", "r2", "ingest", 2000, NULL, NULL, 0, &out, 1);

	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM artifacts"), 1);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM edges WHERE direction = 'out'"), 2);
	assert_int_equal(store_artifact_json(s, x, &j), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "producer"), "step_run")),
		"first");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "producer"), "output")), "data");
	json_decref(j);

	/* Finishing twice is harmless: the output edge is replaced, not duplicated. */
	{
		store_steprun sr = steprun("second", "r2", "ingest", ST_COMPLETED, 2000);
		sr.ended_ms = 2010;
		assert_int_equal(fin(s, &sr, NULL, &out, 1, NULL, 0), 0);
	}
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM edges WHERE direction = 'out'"), 2);
	store_close(s);
}

static void test_cache_lookup(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char k[SL__HASH_HEX_SIZE], a1[SL__HASH_HEX_SIZE], a2[SL__HASH_HEX_SIZE],
		a3[SL__HASH_HEX_SIZE];
	store_io o1 = {"model", a1}, o2 = {"model", a2}, o3 = {"model", a3};
	store_io *outs = NULL;
	size_t n = 0;
	char *from = NULL;
	store_steprun sr;

	art("key", k);
	art("a1", a1);
	art("a2", a2);
	art("a3", a3);
	new_run(s, "r1", 1000, getpid(), "h");
	assert_int_equal(store_cache_lookup(s, k, &from, &outs, &n), SL_ENOENT);
	assert_null(from);

	record(s, "old", "r1", "train", 1000, k, NULL, 0, &o1, 1);
	record(s, "new", "r1", "train2", 2000, k, NULL, 0, &o2, 1);
	assert_int_equal(store_cache_lookup(s, k, &from, &outs, &n), 0);
	assert_string_equal(from, "new");
	assert_int_equal(n, 1);
	assert_string_equal(outs[0].name, "model");
	assert_string_equal(outs[0].artifact_id, a2);
	sl__free(from);
	store_io_free(outs, n);

	/* A newer failed step run with the same key never hits. */
	sr = steprun("failed", "r1", "train3", ST_RUNNING, 3000);
	sr.cache_key = k;
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
	sr.status = ST_FAILED;
	sr.exit_code = 1;
	sr.ended_ms = 3100;
	sr.error = "exit status 1";
	{
		store_artifact a = {.type = "file", .size = 1};
		assert_int_equal(fin(s, &sr, &a, &o3, 1, NULL, 0), 0);
	}
	/* Nor does one still running. */
	sr = steprun("running", "r1", "train4", ST_RUNNING, 4000);
	sr.cache_key = k;
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
	assert_int_equal(store_cache_lookup(s, k, &from, &outs, &n), 0);
	assert_string_equal(from, "new");
	assert_string_equal(outs[0].artifact_id, a2);
	sl__free(from);
	store_io_free(outs, n);

	/* A cache hit recorded in one finish call (never created) points at the original. */
	sr = steprun("hit", "r1", "train5", ST_CACHED, 5000);
	sr.cache_key = k;
	sr.cache_hit = true;
	sr.cached_from = "new";
	sr.ended_ms = 5000;
	assert_int_equal(fin(s, &sr, NULL, &o2, 1, NULL, 0), 0);
	assert_int_equal(store_cache_lookup(s, k, &from, &outs, &n), 0);
	assert_string_equal(from, "new");
	assert_int_equal(n, 1);
	sl__free(from);
	store_io_free(outs, n);
	assert_int_equal(store_cache_lookup(s, "", &from, &outs, &n), SL_EINVAL);
	store_close(s);
}

static void test_resolve(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char id[STORE_ID_SIZE], aid[SL__HASH_HEX_SIZE];
	char x1[SL__HASH_HEX_SIZE], x2[SL__HASH_HEX_SIZE], x3[SL__HASH_HEX_SIZE];
	store_io outs[3] = {{"a", x1}, {"b", x2}, {"c", x3}};

	assert_int_equal(store_run_resolve(s, "latest", id), SL_ENOENT);
	new_run(s, "abc123", 5000, getpid(), "h");
	new_run(s, "abc456", 5000, getpid(), "h"); /* same millisecond: creation order decides */
	new_run(s, "abd000", 4000, getpid(), "h");
	assert_int_equal(store_run_resolve(s, "latest", id), 0);
	assert_string_equal(id, "abc456");
	assert_int_equal(store_run_resolve(s, "abc1", id), 0);
	assert_string_equal(id, "abc123");
	assert_int_equal(store_run_resolve(s, "abd", id), 0);
	assert_string_equal(id, "abd000");
	assert_int_equal(store_run_resolve(s, "abc", id), SL_EAMBIG);
	assert_non_null(strstr(sl_errmsg(), "abc123"));
	assert_non_null(strstr(sl_errmsg(), "abc456"));
	assert_int_equal(store_run_resolve(s, "zzz", id), SL_ENOENT);
	assert_int_equal(store_run_resolve(s, "", id), SL_EINVAL);

	memset(x1, 0, sizeof x1);
	snprintf(x1, sizeof x1, "%s", "beef0000000000000000000000000000000000000000000000000000000000a1");
	snprintf(x2, sizeof x2, "%s", "beef0000000000000000000000000000000000000000000000000000000000b2");
	snprintf(x3, sizeof x3, "%s", "beefc00000000000000000000000000000000000000000000000000000000000");
	record(s, "sr", "abc123", "ingest", 5000, NULL, NULL, 0, outs, 3);
	assert_int_equal(store_artifact_resolve(s, "beef", aid), SL_EAMBIG);
	assert_non_null(strstr(sl_errmsg(), x1));
	assert_non_null(strstr(sl_errmsg(), x2));
	assert_non_null(strstr(sl_errmsg(), x3));
	assert_int_equal(store_artifact_resolve(s, "beefc", aid), 0);
	assert_string_equal(aid, x3);
	assert_int_equal(store_artifact_resolve(s, "BEEF0000000000000000000000000000000000000000000000000000000000A1", aid), 0);
	assert_string_equal(aid, x1);
	assert_int_equal(store_artifact_resolve(s, "bee", aid), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "4 to 64"));
	assert_int_equal(store_artifact_resolve(s, "beeg", aid), SL_EINVAL);
	assert_int_equal(store_artifact_resolve(s, "dead", aid), SL_ENOENT);
	store_close(s);
}

static const char *jget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/*
 * The diamond: A makes a; B and C each consume a and make b and c; D
 * consumes b and c and makes d.
 */
static void test_lineage_diamond(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char a[SL__HASH_HEX_SIZE], b[SL__HASH_HEX_SIZE], c[SL__HASH_HEX_SIZE],
		d[SL__HASH_HEX_SIZE];
	store_io oa = {"data", a}, ib = {"x", a}, ob = {"left", b}, ic = {"x", a},
		 oc = {"right", c}, od = {"out", d};
	store_io id[2] = {{"l", b}, {"r", c}};
	json_t *j, *anc, *desc, *nb, *nc, *na;

	art("a", a);
	art("b", b);
	art("c", c);
	art("d", d);
	new_run(s, "run", 1000, getpid(), "h");
	record(s, "sA", "run", "A", 1000, NULL, NULL, 0, &oa, 1);
	record(s, "sB", "run", "B", 1010, NULL, &ib, 1, &ob, 1);
	record(s, "sC", "run", "C", 1020, NULL, &ic, 1, &oc, 1);
	record(s, "sD", "run", "D", 1030, NULL, id, 2, &od, 1);

	assert_int_equal(store_lineage_json(s, d, 0, &j), 0);
	assert_string_equal(jget(j, "id"), d);
	assert_string_equal(jget(j, "type"), "dataset");
	assert_string_equal(jget(json_object_get(j, "producer"), "step"), "D");
	anc = json_object_get(j, "ancestors");
	assert_int_equal(json_array_size(anc), 2);
	nb = json_array_get(anc, 0);
	nc = json_array_get(anc, 1);
	assert_string_equal(jget(nb, "id"), b);
	assert_string_equal(jget(nb, "step"), "B");
	assert_string_equal(jget(nb, "run"), "run");
	assert_string_equal(jget(nb, "input"), "l");
	na = json_array_get(json_object_get(nb, "inputs"), 0);
	assert_string_equal(jget(na, "id"), a);
	assert_string_equal(jget(na, "step"), "A");
	assert_int_equal(json_array_size(json_object_get(na, "inputs")), 0);
	assert_string_equal(jget(nc, "id"), c);
	na = json_array_get(json_object_get(nc, "inputs"), 0);
	assert_string_equal(jget(na, "id"), a);
	assert_true(json_is_true(json_object_get(na, "repeated")));
	assert_null(json_object_get(na, "inputs"));
	assert_int_equal(json_array_size(json_object_get(j, "descendants")), 0);
	json_decref(j);

	/* From the source downwards; the prefix form of the id is accepted too. */
	{
		char pre[9];
		memcpy(pre, a, 8);
		pre[8] = '\0';
		assert_int_equal(store_lineage_json(s, pre, 0, &j), 0);
	}
	assert_int_equal(json_array_size(json_object_get(j, "ancestors")), 0);
	desc = json_object_get(j, "descendants");
	assert_int_equal(json_array_size(desc), 2);
	nb = json_array_get(desc, 0);
	assert_string_equal(jget(nb, "id"), b);
	assert_string_equal(jget(nb, "step"), "B");
	assert_string_equal(jget(nb, "output"), "left");
	assert_string_equal(jget(json_array_get(json_object_get(nb, "outputs"), 0), "id"), d);
	nc = json_array_get(desc, 1);
	assert_true(json_is_true(
		json_object_get(json_array_get(json_object_get(nc, "outputs"), 0), "repeated")));
	json_decref(j);

	/* Depth 1: direct inputs only, marked as not expanded. */
	assert_int_equal(store_lineage_json(s, d, 1, &j), 0);
	nb = json_array_get(json_object_get(j, "ancestors"), 0);
	assert_true(json_is_true(json_object_get(nb, "truncated")));
	assert_null(json_object_get(nb, "inputs"));
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	assert_int_equal(store_lineage_json(s, "0000", 0, &j), SL_ENOENT);
	store_close(s);
}

/*
 * A pass-through: B hands its input on unchanged (validate's data). The
 * artifact stays A's, B shows up as the step it passed through (via) and as
 * a use, never as its maker, and A's file is the root of the ancestry.
 */
static void test_lineage_pass_through(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char x[SL__HASH_HEX_SIZE], p[SL__HASH_HEX_SIZE], t[SL__HASH_HEX_SIZE], h[SL__HASH_HEX_SIZE];
	store_io ox = {"data", x}, ib = {"data", x, "sA", NULL}, ob[2] = {{"data", x}, {"profile", p}};
	store_io ic = {"data", x, "sB", NULL}, oc = {"train", t};
	store_file file = {"data/emails.csv", h};
	store_steprun sr;
	json_t *j, *n, *via;

	art("x", x);
	art("p", p);
	art("t", t);
	art("file", h);
	new_run(s, "run", 1000, getpid(), "h");
	sr = steprun("sA", "run", "ingest", ST_RUNNING, 1000);
	sr.files = &file;
	sr.n_files = 1;
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
	sr.status = ST_COMPLETED;
	sr.exit_code = 0;
	{
		store_artifact a = {.type = "dataset", .size = 1};
		assert_int_equal(fin(s, &sr, &a, &ox, 1, NULL, 0), 0);
	}
	record(s, "sB", "run", "check", 1010, NULL, &ib, 1, ob, 2);
	record(s, "sC", "run", "split", 1020, NULL, &ic, 1, &oc, 1);

	assert_int_equal(store_lineage_json(s, t, 0, &j), 0);
	n = json_array_get(json_object_get(j, "ancestors"), 0);
	assert_string_equal(jget(n, "id"), x);
	assert_string_equal(jget(n, "step"), "ingest");
	assert_string_equal(jget(n, "output"), "data");
	via = json_object_get(n, "via");
	assert_int_equal(json_array_size(via), 1);
	assert_string_equal(jget(json_array_get(via, 0), "step"), "check");
	assert_string_equal(jget(json_array_get(json_object_get(n, "sources"), 0), "path"),
			    "data/emails.csv");
	assert_string_equal(jget(json_array_get(json_object_get(n, "sources"), 0), "sha256"), h);
	json_decref(j);

	assert_int_equal(store_lineage_json(s, x, 0, &j), 0);
	assert_string_equal(jget(json_array_get(json_object_get(j, "uses"), 0), "step"), "check");
	assert_string_equal(jget(json_array_get(json_object_get(j, "uses"), 0), "passed_on_as"),
			    "data");
	/* Made from it: check's profile and split's train; never x itself. */
	assert_int_equal(json_array_size(json_object_get(j, "descendants")), 2);
	assert_string_equal(jget(json_array_get(json_object_get(j, "descendants"), 0), "id"), p);
	assert_string_equal(jget(json_array_get(json_object_get(j, "descendants"), 1), "output"),
			    "train");
	json_decref(j);
	store_close(s);
}

/* store_gc_remove's callback: counts, and fails for one id. */
typedef struct gc_probe {
	int calls;
	const char *fail_for;
} gc_probe;

static int gc_remove_cb(void *ud, const char *id)
{
	gc_probe *g = ud;

	g->calls++;
	if (g->fail_for && !strcmp(id, g->fail_for))
		return sl__err(SL_EIO, "cannot remove it");
	return 0;
}

static bool in_live(char (*live)[SL__HASH_HEX_SIZE], size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(live[i], id))
			return true;
	return false;
}

/*
 * The live set (the newest runs of a pipeline, registered bundles and their
 * ancestors, young artifacts) and the removal that decides again under the
 * lock: a use since the gc began, a registration meanwhile, a young row, a
 * file without a row while a run is running all keep the artifact.
 */
static void test_gc_recheck(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char a[SL__HASH_HEX_SIZE], b[SL__HASH_HEX_SIZE], c[SL__HASH_HEX_SIZE], d[SL__HASH_HEX_SIZE],
		e[SL__HASH_HEX_SIZE], m[SL__HASH_HEX_SIZE];
	store_io oa = {"data", a}, ob = {"data", b}, oc[2] = {{"c", c}, {"m", m}}, im = {"data", a};
	char(*live)[SL__HASH_HEX_SIZE] = NULL;
	size_t n_live = 0;
	gc_probe probe = {0};
	store_gc_check ck = {.remove = gc_remove_cb, .ud = &probe};
	const char *why;
	bool removed;
	int64_t now = sl__now_ms();

	art("gc-a", a);
	art("gc-b", b);
	art("gc-c", c);
	art("gc-d", d);
	art("gc-e", e);
	art("gc-m", m);
	new_run(s, "r1", 1000, getpid(), "h");
	record(s, "s1", "r1", "ingest", 1000, NULL, NULL, 0, &oa, 1);
	record(s, "s1m", "r1", "train", 1001, NULL, &im, 1, oc, 2);
	assert_int_equal(store_run_finish(s, "r1", ST_COMPLETED, 1100), 0);
	new_run(s, "r2", 2000, getpid(), "h");
	record(s, "s2", "r2", "ingest", 2000, NULL, NULL, 0, &ob, 1);
	assert_int_equal(store_run_finish(s, "r2", ST_COMPLETED, 2100), 0);
	/* m is registered: it and a, the input of its maker, stay. */
	{
		store_version_new v = {.model = "spam", .bundle = m, .verdict = VERDICT_NONE};
		assert_int_equal(store_model_register(s, &v, NULL, NULL), 0);
	}
	assert_int_equal(store_gc_live(s, 1, now - 1000, &live, &n_live), 0);
	assert_true(in_live(live, n_live, b));  /* the newest run */
	assert_true(in_live(live, n_live, m));  /* registered */
	assert_true(in_live(live, n_live, a));  /* its ancestor */
	assert_false(in_live(live, n_live, c)); /* an output of an old run */
	sl__free(live);
	assert_int_equal(store_gc_live(s, 0, now, &live, &n_live), SL_EINVAL);

	ck.since_ms = now;
	ck.young_ms = now - 1000;
	/* c goes: its file through the callback, its row stays, marked. */
	assert_int_equal(store_gc_remove(s, c, &ck, &removed, &why), 0);
	assert_true(removed);
	assert_int_equal(probe.calls, 1);
	{
		json_t *j = NULL;
		assert_int_equal(store_artifact_json(s, c, &j), 0);
		json_decref(j);
	}
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM artifacts WHERE removed_ms IS NOT NULL"), 1);

	/* A run that started after the gc began uses an old artifact: it stays. */
	art("gc-c2", c);
	new_run(s, "r3", now + 5, getpid(), "h");
	{
		store_io in = {"x", b};
		store_steprun sr = steprun("s3", "r3", "use", ST_RUNNING, now + 5);
		assert_int_equal(store_steprun_create(s, &sr, &in, 1), 0);
	}
	probe.calls = 0;
	assert_int_equal(store_gc_remove(s, b, &ck, &removed, &why), 0);
	assert_false(removed);
	assert_non_null(strstr(why, "used by a run"));
	/* A file without a row is not removed while a run is running ... */
	assert_int_equal(store_gc_remove(s, e, &ck, &removed, &why), 0);
	assert_false(removed);
	assert_non_null(strstr(why, "run is running"));
	assert_int_equal(probe.calls, 0);
	assert_int_equal(store_run_finish(s, "r3", ST_COMPLETED, now + 10), 0);
	/* ... and is once none is; b stays: r3 ended after the gc began. */
	assert_int_equal(store_gc_remove(s, e, &ck, &removed, &why), 0);
	assert_true(removed);
	assert_int_equal(store_gc_remove(s, b, &ck, &removed, &why), 0);
	assert_false(removed);
	/* Registered meanwhile, or younger than the grace period: stays. */
	assert_int_equal(store_gc_remove(s, m, &ck, &removed, &why), 0);
	assert_false(removed);
	assert_non_null(strstr(why, "registered"));
	{
		store_artifact art_d = {.type = "file", .size = 1, .created_ms = now};
		store_io od = {"out", d};
		store_steprun sr = steprun("s4", "r2", "late", ST_COMPLETED, 2050);
		store_result res = {.arts = &art_d, .outputs = &od, .n_outputs = 1};
		sr.ended_ms = 2060;
		assert_int_equal(store_steprun_record(s, &sr, NULL, 0, &res), 0);
	}
	assert_int_equal(store_gc_remove(s, d, &ck, &removed, &why), 0);
	assert_false(removed);
	assert_non_null(strstr(why, "younger"));
	/* A file that cannot be removed leaves its row as it was. */
	ck.young_ms = now + 1000;
	ck.since_ms = now + 1000;
	probe.fail_for = d;
	assert_int_equal(store_gc_remove(s, d, &ck, &removed, &why), SL_EIO);
	assert_false(removed);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM artifacts WHERE removed_ms IS NOT NULL"), 1);
	store_close(s);
}

/*
 * The text writer of large views against the object path it replaces:
 * times as sl__fmt_time writes them (any day since 1970, leap years),
 * strings as jansson reads them back (quotes, controls, UTF-8, and invalid
 * bytes as st_j_text has them).
 */
static void test_text_writer(void **state)
{
	static const int64_t fixed[] = {0, 1, 999, 1000, 86399999, 951782400000, 951868799999,
					4102444800000, 1796040953785, 253402300799999};
	static const char *const strs[] = {"plain", "a \"quote\" and \\", "tab\there\nline",
					   "\x01\x1f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
					   "bad \xff byte \xc3", ""};
	sl__buf b;
	uint64_t x = 88172645463325252ull;

	(void)state;
	sl__buf_init(&b, 0);
	for (int i = 0; i < 20000; i++) {
		char want[64], got[64];
		int64_t ms;
		if (i < (int)SL__ARRAY_LEN(fixed)) {
			ms = fixed[i];
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			ms = (int64_t)(x % 253402300799999ull);
		}
		sl__buf_reset(&b);
		assert_int_equal(st_jw_time(&b, ms), 0);
		sl__fmt_time(ms, want, sizeof want);
		snprintf(got, sizeof got, "%.*s", (int)b.len - 2, b.data + 1);
		if (strcmp(want, got) != 0)
			fail_msg("%lld: %s, not %s", (long long)ms, got, want);
	}
	for (size_t i = 0; i < SL__ARRAY_LEN(strs); i++) {
		json_t *j, *k = st_j_text(strs[i]);
		sl__buf_reset(&b);
		assert_int_equal(st_jw_str(&b, strs[i]), 0);
		j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
		if (!j || !json_equal(j, k))
			fail_msg("string %zu: %.*s", i, (int)b.len, b.data);
		json_decref(j);
		json_decref(k);
	}
	sl__buf_reset(&b);
	assert_int_equal(st_jw_str(&b, NULL), 0);
	assert_int_equal(memcmp(b.data, "null", 4), 0);
	sl__buf_free(&b);
}

static void assert_keys(json_t *o, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(o, keys[i]))
			fail_msg("JSON object lacks \"%s\"", keys[i]);
}

static void test_json_shapes(void **state)
{
	static const char *const runs_keys[] = {"run",	   "pipeline",	  "status",
						"started", "ended",	  "duration_ms",
						"steps",   "cached",	  "failed"};
	static const char *const run_keys[] = {"run",	"pipeline",    "file",
					       "status", "started",    "ended",
					       "duration_ms", "params", "orchestrator",
					       "steps"};
	static const char *const step_keys[] = {
		"name",	 "kind",	"status",    "cache_hit", "cached_from", "exit_code",
		"started", "ended",	"duration_ms", "cache_key", "log",	   "error",
		"inputs",  "outputs", "metrics"};
	static const char *const art_keys[] = {"id", "type", "size", "created", "producer", "meta"};
	static const char *const art1_keys[] = {"id",	"type",	    "size", "created",
						"meta", "producer", "consumers", "tags"};
	fixture *f = *state;
	store *s = open_store(f);
	char a[SL__HASH_HEX_SIZE], m[SL__HASH_HEX_SIZE], k[SL__HASH_HEX_SIZE];
	store_io oa = {"data", a}, ia = {"train", a}, om = {"model", m};
	store_steprun sr;
	json_t *j, *e;

	art("a", a);
	art("m", m);
	art("k", k);
	new_run(s, "r1", 1000, getpid(), "h");
	new_run(s, "r2", 2000, getpid(), "h");
	record(s, "s1", "r1", "ingest", 1000, k, NULL, 0, &oa, 1);
	record(s, "s2", "r1", "train", 1100, NULL, &ia, 1, &om, 1);
	sr = steprun("s3", "r2", "ingest", ST_CACHED, 2000);
	sr.cache_hit = true;
	sr.cached_from = "s1";
	sr.ended_ms = 2000;
	assert_int_equal(fin(s, &sr, NULL, &oa, 1, NULL, 0), 0);
	sr = steprun("s4", "r2", "train", ST_RUNNING, 2001);
	assert_int_equal(store_steprun_create(s, &sr, &ia, 1), 0);
	assert_int_equal(store_steprun_set_status(s, "s4", ST_FAILED, 2500, "boom", NULL), 0);
	assert_int_equal(store_run_finish(s, "r2", ST_FAILED, 2600), 0);
	assert_int_equal(store_tag_set(s, "artifact", a, "stage", "raw"), 0);
	assert_int_equal(store_tag_set(s, "artifact", a, "stage", "clean"), 0);
	assert_int_equal(store_tag_set(s, "artifact", a, "gone", "x"), 0);
	assert_int_equal(store_tag_set(s, "artifact", a, "gone", NULL), 0);
	assert_int_equal(store_tag_set(s, "", a, "k", "v"), SL_EINVAL);

	assert_int_equal(store_runs_json(s, 0, &j), 0);
	assert_int_equal(json_array_size(j), 2);
	e = json_array_get(j, 0); /* newest first */
	assert_keys(e, runs_keys, SL__ARRAY_LEN(runs_keys));
	assert_string_equal(jget(e, "run"), "r2");
	assert_string_equal(jget(e, "status"), "failed");
	assert_int_equal(json_integer_value(json_object_get(e, "steps")), 2);
	assert_int_equal(json_integer_value(json_object_get(e, "cached")), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "duration_ms")), 600);
	e = json_array_get(j, 1);
	assert_string_equal(jget(e, "run"), "r1");
	assert_true(json_is_null(json_object_get(e, "ended")));
	json_decref(j);
	assert_int_equal(store_runs_json(s, 1, &j), 0);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);

	assert_int_equal(store_run_json(s, "latest", &j), 0);
	assert_keys(j, run_keys, SL__ARRAY_LEN(run_keys));
	assert_string_equal(jget(j, "run"), "r2");
	assert_string_equal(jget(j, "file"), "/proj/train.yaml");
	assert_string_equal(jget(j, "orchestrator"), "local");
	e = json_array_get(json_object_get(j, "steps"), 0);
	assert_keys(e, step_keys, SL__ARRAY_LEN(step_keys));
	assert_string_equal(jget(e, "status"), "cached");
	assert_true(json_is_true(json_object_get(e, "cache_hit")));
	assert_string_equal(jget(e, "cached_from"), "s1");
	assert_string_equal(jget(json_object_get(e, "outputs"), "data"), a);
	e = json_array_get(json_object_get(j, "steps"), 1);
	assert_string_equal(jget(e, "status"), "failed");
	assert_string_equal(jget(e, "error"), "boom");
	json_decref(j);
	{
		char *dump;
		assert_int_equal(store_run_json(s, "r1", &j), 0);
		dump = json_dumps(j, JSON_COMPACT);
		assert_non_null(strstr(dump, "\"cache_key\":\""));
		assert_non_null(strstr(dump, "\"started\":\"1970-01-01T00:00:01.000Z\""));
		free(dump);
		json_decref(j);
	}
	assert_int_equal(store_run_json(s, "nope", &j), SL_ENOENT);
	assert_null(j);

	assert_int_equal(store_artifacts_json(s, 0, NULL, &j), 0);
	assert_int_equal(json_array_size(j), 2);
	e = json_array_get(j, 0);
	assert_keys(e, art_keys, SL__ARRAY_LEN(art_keys));
	assert_string_equal(jget(e, "id"), m); /* newest first */
	assert_string_equal(jget(json_object_get(e, "producer"), "step"), "train");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "meta"), "rows")), 10);
	json_decref(j);
	assert_int_equal(store_artifacts_json(s, 0, "model", &j), 0);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	assert_int_equal(store_artifacts_json(s, 1, "dataset", &j), 0);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);

	assert_int_equal(store_artifact_json(s, a, &j), 0);
	assert_keys(j, art1_keys, SL__ARRAY_LEN(art1_keys));
	assert_string_equal(jget(json_object_get(j, "producer"), "run"), "r1");
	assert_string_equal(jget(json_object_get(j, "producer"), "step_run"), "s1");
	e = json_object_get(j, "consumers");
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(jget(json_array_get(e, 0), "step_run"), "s2");
	assert_string_equal(jget(json_array_get(e, 0), "input"), "train");
	assert_string_equal(jget(json_array_get(e, 1), "run"), "r2");
	assert_string_equal(jget(json_object_get(j, "tags"), "stage"), "clean");
	assert_null(json_object_get(json_object_get(j, "tags"), "gone"));
	json_decref(j);
	store_close(s);
}

/*
 * What recovery after a dead driver reads and writes. The store records
 * process facts and never judges them (test_orch checks the judging).
 */
static void test_recovery_facts(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	store_proc *l = NULL;
	size_t n = 0;
	store_steprun sr;
	store_run r = {.id = "dead", .pipeline = "p", .pid = 4242, .pid_start = 777, .host = "h1",
		       .orchestrator = "local", .started_ms = 1000};
	json_t *j, *steps;

	assert_int_equal(store_run_create(s, &r), 0);
	new_run(s, "other", 1000, 99, "h2");
	new_run(s, "done", 1000, 99, "h1");
	assert_int_equal(store_run_finish(s, "done", ST_COMPLETED, 2000), 0);
	sr = steprun("d1", "dead", "running-step", ST_RUNNING, 1000);
	sr.pid = 5151;
	sr.pid_start = 888;
	sr.job_id = "job-7";
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
	sr = steprun("d2", "dead", "pending-step", ST_PENDING, 0);
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
	sr = steprun("d3", "dead", "done-step", ST_RUNNING, 1000);
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
	assert_int_equal(store_steprun_set_status(s, "d3", ST_SKIPPED, 1001, NULL, RS_UPSTREAM), 0);

	/* Only this host's running runs, with what was recorded of their driver. */
	assert_int_equal(store_runs_running(s, "h1", &l, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].id, "dead");
	assert_int_equal(l[0].pid, 4242);
	assert_int_equal(l[0].pid_start, 777);
	assert_string_equal(l[0].orchestrator, "local");
	sl__free(l);
	assert_int_equal(store_steps_running(s, "dead", &l, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].id, "d1");
	assert_int_equal(l[0].pid, 5151);
	assert_int_equal(l[0].pid_start, 888);
	assert_string_equal(l[0].job_id, "job-7");
	sl__free(l);

	assert_int_equal(store_run_mark_lost(s, "dead", "the driver is gone"), 0);
	assert_int_equal(store_run_json(s, "dead", &j), 0);
	assert_string_equal(jget(j, "status"), "failed");
	assert_false(json_is_null(json_object_get(j, "ended")));
	steps = json_object_get(j, "steps");
	assert_string_equal(jget(json_array_get(steps, 0), "status"), "failed");
	assert_string_equal(jget(json_array_get(steps, 0), "reason"), "interrupted");
	assert_string_equal(jget(json_array_get(steps, 0), "error"), "the driver is gone");
	assert_string_equal(jget(json_array_get(steps, 0), "job_id"), "job-7");
	assert_string_equal(jget(json_array_get(steps, 1), "status"), "cancelled");
	assert_string_equal(jget(json_array_get(steps, 2), "status"), "skipped");
	assert_string_equal(jget(json_array_get(steps, 2), "reason"), "upstream");
	json_decref(j);
	/* Marking again changes nothing; another host's run is untouched. */
	assert_int_equal(store_run_mark_lost(s, "dead", "again"), 0);
	assert_int_equal(store_runs_running(s, "h1", &l, &n), 0);
	assert_int_equal(n, 0);
	sl__free(l);
	assert_int_equal(store_runs_running(s, "h2", &l, &n), 0);
	assert_int_equal(n, 1);
	sl__free(l);
	assert_int_equal(store_steprun_set_status(s, "d1", ST_FAILED, 1, NULL, "weird"), SL_EINVAL);
	store_close(s);
}

/* ---- ordering and conflicts ----------------------------------------------------------- */

typedef struct order_seen {
	char names[8][16];
	size_t n;
	char metrics[8][16];
	size_t n_metrics;
} order_seen;

static int see_order(void *ud, const sl_step_view *v)
{
	order_seen *o = ud;

	for (size_t i = 0; i < v->n_outputs && o->n < 8; i++)
		snprintf(o->names[o->n++], sizeof o->names[0], "%s", v->output_names[i]);
	for (size_t i = 0; i < v->n_metrics && o->n_metrics < 8; i++)
		snprintf(o->metrics[o->n_metrics++], sizeof o->metrics[0], "%s", v->metric_names[i]);
	return 0;
}

/*
 * Names and ids compare byte by byte on every backend (store.c, note 9):
 * in ASCII "B" < "Z" < "_x" < "a", where a linguistic collation (the PostgreSQL
 * variant's databases use ICU en-US) would say "a" < "B" < "_x"... and would
 * find both "Ab" and "ab" between "A" and "B".
 */
static void test_byte_order(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char ids[4][SL__HASH_HEX_SIZE], out[STORE_ID_SIZE];
	store_io outs[4] = {{"a", ids[0]}, {"B", ids[1]}, {"_x", ids[2]}, {"Z", ids[3]}};
	store_artifact arts[4];
	store_metric m[3] = {{"recall", 1}, {"F1", 2}, {"_n", 3}};
	store_steprun sr;
	order_seen seen = {0};

	for (int i = 0; i < 4; i++) {
		art(outs[i].name, ids[i]);
		arts[i] = (store_artifact){.type = "file", .size = 1};
	}
	new_run(s, "Ab1", 1000, getpid(), "h");
	new_run(s, "ab1", 1000, getpid(), "h");
	sr = steprun("s1", "Ab1", "step", ST_RUNNING, 1000);
	assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
	sr.status = ST_COMPLETED;
	sr.exit_code = 0;
	sr.ended_ms = 1001;
	assert_int_equal(fin(s, &sr, arts, outs, 4, m, 3), 0);
	assert_int_equal(store_run_steps(s, "Ab1", see_order, &seen, NULL), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.names[0], "B");
	assert_string_equal(seen.names[1], "Z");
	assert_string_equal(seen.names[2], "_x");
	assert_string_equal(seen.names[3], "a");
	assert_int_equal(seen.n_metrics, 3);
	assert_string_equal(seen.metrics[0], "F1");
	assert_string_equal(seen.metrics[1], "_n");
	assert_string_equal(seen.metrics[2], "recall");
	/* Text that is not UTF-8 (a command's error output) is stored with '?' for each
	 * byte that starts no valid sequence, the same on both backends. */
	{
		json_t *j;
		sr = steprun("s2", "ab1", "bad", ST_RUNNING, 1000);
		assert_int_equal(store_steprun_create(s, &sr, NULL, 0), 0);
		assert_int_equal(store_steprun_set_status(s, "s2", ST_FAILED, 1001,
							  "caf\xc3\xa9 \xff\xfeoops \xed\xa0\x80",
							  RS_ERROR),
				 0);
		assert_int_equal(store_run_json(s, "ab1", &j), 0);
		assert_string_equal(jget(json_array_get(json_object_get(j, "steps"), 0), "error"),
				    "caf\xc3\xa9 ??oops ???");
		json_decref(j);
	}
	/* A prefix is matched by bytes: "A" finds only "Ab1". */
	assert_int_equal(store_run_resolve(s, "A", out), 0);
	assert_string_equal(out, "Ab1");
	assert_int_equal(store_run_resolve(s, "a", out), 0);
	assert_string_equal(out, "ab1");
	store_close(s);
}

/*
 * A transaction that meets a serialization failure or a deadlock is run
 * again whole (store.c, note 8). A trigger makes the server report each
 * the first two times a tag is written: a sequence counts the attempts,
 * since a sequence advances even in a transaction that rolls back.
 */
static void test_conflict_retried(void **state)
{
	fixture *f = *state;
	store *s;
	json_t *j;

	if (!f->pg) {
		/* SQLite's writers queue on its lock; no conflict reaches the store. */
		assert_null(store_sqlite_driver.conflict);
		return;
	}
	s = open_store(f);
	raw_exec(f, "CREATE SEQUENCE attempts");
	raw_exec(f, "CREATE FUNCTION fail_twice() RETURNS trigger LANGUAGE plpgsql AS $$ "
		    "DECLARE n BIGINT := nextval('attempts'); BEGIN "
		    "IF n = 1 THEN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END IF; "
		    "IF n = 2 THEN RAISE EXCEPTION 'injected' USING ERRCODE = '40P01'; END IF; "
		    "RETURN NEW; END $$");
	raw_exec(f, "CREATE TRIGGER conflicts BEFORE INSERT ON tags FOR EACH ROW "
		    "EXECUTE FUNCTION fail_twice()");
	assert_int_equal(store_tag_set(s, "run", "r", "k", "v"), 0);
	assert_int_equal(raw_int(f, "SELECT last_value FROM attempts"), 3);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM tags"), 1);

	/* Inside a batch the conflict is the caller's: the batch's work would be lost. */
	raw_exec(f, "ALTER SEQUENCE attempts RESTART WITH 1");
	assert_int_equal(store_batch_begin(s), 0);
	assert_int_equal(store_tag_set(s, "run", "r", "k2", "v"), SL_EBUSY);
	assert_non_null(strstr(sl_errmsg(), "40001"));
	assert_int_equal(store_batch_end(s), 0);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM tags"), 1);

	/* A writer that never gets through is given up on with the server's word. */
	raw_exec(f, "CREATE OR REPLACE FUNCTION fail_twice() RETURNS trigger LANGUAGE plpgsql AS $$ "
		    "BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '23514'; END $$");
	assert_int_equal(store_tag_set(s, "run", "r", "k3", "v"), SL_ESTORE);
	assert_non_null(strstr(sl_errmsg(), "SQLSTATE 23514"));
	assert_int_equal(store_run_json(s, "latest", &j), SL_ENOENT);
	store_close(s);
}

/* ---- copying a history ------------------------------------------------------------------ */

static int row_names(void *ud, int ncol, const sq_val *c)
{
	char *buf = ud;

	if (ncol > 0 && c[0].type == SQ_TEXT)
		snprintf(buf + strlen(buf), 1024 - strlen(buf), "%s ", c[0].s);
	return 0;
}

/*
 * store_copy copies every table of the schema (a table a migration adds
 * without a line in store_copy.c's list fails here), into a store that may
 * already hold other history, whole, once: a second copy adds nothing.
 */
static void test_copy(void **state)
{
	fixture *f = *state;
	char *src_dir = strdup(tu_tmpdir()), src_target[600], *src_db, a[SL__HASH_HEX_SIZE];
	char schema[1024] = "";
	const char *names[STORE_COPY_TABLES];
	store_copy_count counts[STORE_COPY_TABLES];
	store *src, *dst = open_store(f);
	store_io oa = {"data", a}, ia = {"in", a};
	store_metric m = {"loss", 0, (double[]){0.5, 0.25}, 2};
	store_steprun sr;
	size_t n = store_copy_tables(names, SL__ARRAY_LEN(names));
	void *conn = NULL;
	json_t *j;

	snprintf(src_target, sizeof src_target, "sqlite:%s/src.db", src_dir);
	src_db = src_target + strlen("sqlite:");
	assert_int_equal(store_open(src_target, &src), 0);
	assert_int_equal(store_sqlite_driver.open(src_db, &conn), 0);
	assert_int_equal(store_sqlite_driver.exec(conn,
						  "SELECT name FROM sqlite_master WHERE type = 'table' "
						  "AND name <> 'schema_version' ORDER BY name",
						  0, NULL, row_names, schema),
			 0);
	store_sqlite_driver.close(conn);
	{
		/* The copy list, sorted the same way. */
		const char *sorted[STORE_COPY_TABLES];
		char buf[1024] = "";
		memcpy(sorted, names, n * sizeof *names);
		for (size_t i = 0; i < n; i++)
			for (size_t k = i + 1; k < n; k++)
				if (strcmp(sorted[k], sorted[i]) < 0) {
					const char *t = sorted[i];
					sorted[i] = sorted[k];
					sorted[k] = t;
				}
		for (size_t i = 0; i < n; i++)
			snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s ", sorted[i]);
		assert_string_equal(buf, schema);
	}

	/* A history in src, and one of another project already in dst. */
	art("a", a);
	new_run(src, "r1", 1000, getpid(), "h");
	record(src, "s1", "r1", "make", 1000, a, NULL, 0, &oa, 1);
	sr = steprun("s2", "r1", "use", ST_RUNNING, 1100);
	assert_int_equal(store_steprun_create(src, &sr, &ia, 1), 0);
	sr.status = ST_FAILED;
	sr.exit_code = 1;
	sr.error = "boom";
	sr.reason = RS_ERROR;
	assert_int_equal(fin(src, &sr, NULL, NULL, 0, &m, 1), 0);
	assert_int_equal(store_run_finish(src, "r1", ST_FAILED, 1200), 0);
	new_run(src, "r2", 2000, getpid(), "h");
	sr = steprun("s3", "r2", "make", ST_CACHED, 2000);
	sr.cache_hit = true;
	sr.cached_from = "s1";
	sr.ended_ms = 2000;
	assert_int_equal(fin(src, &sr, NULL, &oa, 1, NULL, 0), 0);
	assert_int_equal(store_run_finish(src, "r2", ST_COMPLETED, 2100), 0);
	assert_int_equal(store_tag_set(src, "artifact", a, "stage", "raw"), 0);
	new_run(dst, "theirs", 5000, getpid(), "h");
	record(dst, "t1", "theirs", "make", 5000, a, NULL, 0, &oa, 1);

	assert_int_equal(store_copy(src, dst, counts, SL__ARRAY_LEN(counts)), 0);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(counts[i].table, names[i]);
		assert_int_equal(counts[i].copied + counts[i].present, counts[i].source);
		if (!strcmp(names[i], "runs"))
			assert_true(counts[i].source == 2 && counts[i].copied == 2);
		if (!strcmp(names[i], "artifacts")) /* the same content the other project made */
			assert_true(counts[i].source == 1 && counts[i].present == 1);
		if (!strcmp(names[i], "metric_history"))
			assert_int_equal(counts[i].copied, 2);
	}
	/* Copied runs sort after the target's own, in their own order. */
	assert_int_equal(store_runs_json(dst, 0, &j), 0);
	assert_int_equal(json_array_size(j), 3);
	json_decref(j);
	assert_int_equal(raw_int(f, "SELECT seq FROM runs WHERE id = 'r2'"),
			 raw_int(f, "SELECT seq FROM runs WHERE id = 'r1'") + 1);
	assert_true(raw_int(f, "SELECT seq FROM runs WHERE id = 'r1'") >
		    raw_int(f, "SELECT seq FROM runs WHERE id = 'theirs'"));
	assert_int_equal(store_run_json(dst, "r2", &j), 0);
	assert_string_equal(jget(json_array_get(json_object_get(j, "steps"), 0), "cached_from_run"),
			    "r1");
	json_decref(j);

	/* Again: everything is there already. */
	assert_int_equal(store_copy(src, dst, counts, SL__ARRAY_LEN(counts)), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(counts[i].copied, 0);
	assert_int_equal(store_copy(src, src, counts, SL__ARRAY_LEN(counts)), SL_EINVAL);
	store_close(src);
	store_close(dst);
	tu_rmdir(src_dir);
	free(src_dir);
}

/* ---- several processes ------------------------------------------------------------- */

#define CONC_PROCS 4
#define CONC_RUNS 4
#define CONC_STEPS 50 /* per run: CONC_RUNS * CONC_STEPS = 200 step runs per process */

static int conc_child(const char *db, int who, int gate)
{
	char shared[SL__HASH_HEX_SIZE], prev[SL__HASH_HEX_SIZE], cur[SL__HASH_HEX_SIZE];
	char label[64], rid[STORE_ID_SIZE], sid[STORE_ID_SIZE];
	store *s = NULL;
	char c;

	if (read(gate, &c, 1) < 0) /* returns 0 when the parent opens the gate */
		return 9;
	sl__sha256_hex("shared", 6, shared);
	if (store_open(db, &s) != 0) {
		fprintf(stderr, "child %d: open: %s\n", who, sl_errmsg());
		return 1;
	}
	for (int r = 0; r < CONC_RUNS; r++) {
		store_run run = {.id = rid, .pipeline = "conc", .params_json = "{}",
				 .orchestrator = "local", .pid = getpid(), .host = "h",
				 .started_ms = sl__now_ms()};

		snprintf(rid, sizeof rid, "c%d-r%d", who, r);
		if (store_run_create(s, &run) != 0)
			goto fail;
		for (int k = 0; k < CONC_STEPS; k++) {
			store_steprun sr = {.id = sid, .run_id = rid, .step = label, .kind = "run",
					    .status = ST_RUNNING, .exit_code = -1,
					    .started_ms = sl__now_ms()};
			store_io in = {"data", prev};
			store_io outs[2] = {{"data", cur}, {"shared", shared}};
			store_artifact arts[2] = {
				{.type = "dataset", .size = (uint64_t)k, .meta_json = "{\"k\": 1}"},
				{.type = "file", .size = 6}};
			store_metric m = {"k", (double)k};

			snprintf(sid, sizeof sid, "c%d-r%d-s%d", who, r, k);
			snprintf(label, sizeof label, "step%d", k);
			sl__sha256_hex(sid, strlen(sid), cur);
			if (store_steprun_create(s, &sr, k ? &in : NULL, k ? 1 : 0) != 0)
				goto fail;
			sr.status = ST_COMPLETED;
			sr.exit_code = 0;
			sr.ended_ms = sl__now_ms();
			if (fin(s, &sr, arts, outs, 2, &m, 1) != 0)
				goto fail;
			memcpy(prev, cur, sizeof prev);
		}
		if (store_run_finish(s, rid, ST_COMPLETED, sl__now_ms()) != 0)
			goto fail;
	}
	store_close(s);
	return 0;
fail:
	fprintf(stderr, "child %d: %s (%s)\n", who, sl_errmsg(), sl_err_name(SL_EBUSY));
	store_close(s);
	return 2;
}

static void test_concurrent_writers(void **state)
{
	fixture *f = *state;
	pid_t pids[CONC_PROCS];
	int gate[2];
	store *s;

	/* The database does not exist yet: the children also race to create and migrate it. */
	assert_int_equal(pipe(gate), 0);
	fflush(NULL);
	for (int i = 0; i < CONC_PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(gate[1]);
			_exit(conc_child(f->target, i, gate[0]));
		}
	}
	close(gate[0]);
	close(gate[1]); /* all start together */
	for (int i = 0; i < CONC_PROCS; i++) {
		int status = 0;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM schema_version"),
			 (s = open_store(f), store_schema_version(s)));
	store_close(s);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM runs WHERE status = 'completed'"),
			 CONC_PROCS * CONC_RUNS);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM step_runs WHERE status = 'completed'"),
			 CONC_PROCS * CONC_RUNS * CONC_STEPS);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM artifacts"),
			 CONC_PROCS * CONC_RUNS * CONC_STEPS + 1);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM edges WHERE direction = 'out'"),
			 2 * CONC_PROCS * CONC_RUNS * CONC_STEPS);
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM edges WHERE direction = 'in'"),
			 CONC_PROCS * CONC_RUNS * (CONC_STEPS - 1));
	assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM metrics"),
			 CONC_PROCS * CONC_RUNS * CONC_STEPS);
	assert_int_equal(raw_int(f, "SELECT COUNT(DISTINCT seq) FROM runs"),
			 CONC_PROCS * CONC_RUNS);
	assert_integrity(f);
}

/* Writes step runs with three outputs each until killed. */
static void writer_forever(const char *db)
{
	char rid[STORE_ID_SIZE], sid[STORE_ID_SIZE];
	char ids[3][SL__HASH_HEX_SIZE];
	store *s = NULL;

	if (store_open(db, &s) != 0)
		_exit(1);
	snprintf(rid, sizeof rid, "k%d", (int)getpid());
	{
		store_run run = {.id = rid, .pipeline = "kill", .pid = getpid(), .host = "h",
				 .started_ms = sl__now_ms()};
		if (store_run_create(s, &run) != 0)
			_exit(2);
	}
	for (long k = 0;; k++) {
		store_steprun sr = {.id = sid, .run_id = rid, .step = "s", .status = ST_RUNNING,
				    .exit_code = -1, .started_ms = sl__now_ms()};
		store_io outs[3] = {{"a", ids[0]}, {"b", ids[1]}, {"c", ids[2]}};
		store_artifact arts[3] = {{.type = "file", .size = 1},
					  {.type = "file", .size = 2},
					  {.type = "file", .size = 3}};
		store_metric m[2] = {{"x", 1}, {"y", 2}};

		snprintf(sid, sizeof sid, "k%d-%ld", (int)getpid(), k);
		for (int i = 0; i < 3; i++) {
			char label[64];
			snprintf(label, sizeof label, "%s/%d", sid, i);
			sl__sha256_hex(label, strlen(label), ids[i]);
		}
		if (store_steprun_create(s, &sr, NULL, 0) != 0)
			_exit(3);
		sr.status = ST_COMPLETED;
		sr.exit_code = 0;
		sr.ended_ms = sl__now_ms();
		if (fin(s, &sr, arts, outs, 3, m, 2) != 0)
			_exit(4);
	}
}

static void test_kill9_mid_write(void **state)
{
	fixture *f = *state;
	store *s = open_store(f); /* create the schema before the writers start */

	store_close(s);
	for (int round = 0; round < 3; round++) {
		int64_t before = raw_int(f, "SELECT COUNT(*) FROM step_runs"), now = before;
		int status = 0, n = 0;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			writer_forever(f->target);
		/* Let it get well into its stride, then kill it at an arbitrary point. */
		for (int i = 0; i < 1000 && now < before + 40 + 30 * round; i++) {
			usleep(5000);
			now = raw_int(f, "SELECT COUNT(*) FROM step_runs");
		}
		usleep((useconds_t)(1000 + 1700 * round));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		s = open_store(f);
		assert_int_equal(orch_recover(s, "h", &n), 0);
		assert_int_equal(n, 1);
		store_close(s);
		assert_integrity(f);
		assert_true(raw_int(f, "SELECT COUNT(*) FROM step_runs") > before);
		/* No completed step run lacks any of its outputs or metrics. */
		assert_int_equal(raw_int(f,
					 "SELECT COUNT(*) FROM step_runs sr WHERE status = 'completed' "
					 "AND ((SELECT COUNT(*) FROM edges e JOIN artifacts a ON "
					 "a.id = e.artifact WHERE e.step_run = sr.id AND "
					 "e.direction = 'out') <> 3 OR (SELECT COUNT(*) FROM "
					 "metrics m WHERE m.step_run = sr.id) <> 2)"),
				 0);
		/* And nothing else was left behind: no outputs on an unfinished step run. */
		assert_int_equal(raw_int(f,
					 "SELECT COUNT(*) FROM edges e JOIN step_runs sr ON "
					 "sr.id = e.step_run WHERE sr.status <> 'completed'"),
				 0);
		assert_int_equal(raw_int(f, "SELECT COUNT(*) FROM step_runs WHERE status = 'running'"),
				 0);
	}
}

/* Prints (does not assert) what recording one step run costs. */
static void test_timing(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char prev[SL__HASH_HEX_SIZE], cur[SL__HASH_HEX_SIZE], key[SL__HASH_HEX_SIZE];
	char sid[STORE_ID_SIZE], *from = NULL;
	store_io *outs = NULL;
	size_t n = 0;
	double t0, t1, t2;
	const int N = 1000;

	new_run(s, "timing", sl__now_ms(), getpid(), "h");
	t0 = sl__mono_sec();
	for (int k = 0; k < N; k++) {
		store_steprun sr = steprun(sid, "timing", "step", ST_RUNNING, sl__now_ms());
		store_io in = {"data", prev}, out = {"data", cur};
		store_artifact a = {.type = "dataset", .size = 10, .meta_json = "{\"rows\": 3}"};
		store_metric m = {"loss", 0.5};

		snprintf(sid, sizeof sid, "t%d", k);
		sl__sha256_hex(sid, strlen(sid), cur);
		sr.cache_key = cur;
		assert_int_equal(store_steprun_create(s, &sr, k ? &in : NULL, k ? 1 : 0), 0);
		sr.status = ST_COMPLETED;
		sr.exit_code = 0;
		sr.ended_ms = sl__now_ms();
		assert_int_equal(fin(s, &sr, &a, &out, 1, &m, 1), 0);
		memcpy(prev, cur, sizeof prev);
	}
	t1 = sl__mono_sec();
	for (int k = 0; k < N; k++) {
		snprintf(sid, sizeof sid, "t%d", k);
		sl__sha256_hex(sid, strlen(sid), key);
		assert_int_equal(store_cache_lookup(s, key, &from, &outs, &n), 0);
		sl__free(from);
		store_io_free(outs, n);
	}
	t2 = sl__mono_sec();

	/* A cached rerun of 100 steps: lookup, record the hit, finish it with the reused outputs. */
	new_run(s, "rerun", sl__now_ms(), getpid(), "h");
	for (int k = 0; k < 100; k++) {
		char rid[STORE_ID_SIZE];
		store_steprun sr;
		store_io in = {"data", prev};

		snprintf(sid, sizeof sid, "t%d", k);
		sl__sha256_hex(sid, strlen(sid), key);
		assert_int_equal(store_cache_lookup(s, key, &from, &outs, &n), 0);
		snprintf(rid, sizeof rid, "re%d", k);
		sr = steprun(rid, "rerun", "step", ST_RUNNING, sl__now_ms());
		sr.cache_key = key;
		assert_int_equal(store_steprun_create(s, &sr, k ? &in : NULL, k ? 1 : 0), 0);
		sr.status = ST_CACHED;
		sr.cache_hit = true;
		sr.cached_from = from;
		sr.ended_ms = sr.started_ms;
		assert_int_equal(fin(s, &sr, NULL, outs, n, NULL, 0), 0);
		memcpy(prev, outs[0].artifact_id, sizeof prev);
		sl__free(from);
		store_io_free(outs, n);
	}
	printf("store: %d steprun create+finish pairs in %.1f ms (%.1f us per pair); "
	       "%d cache lookups in %.1f ms (%.1f us each); "
	       "cached rerun of 100 steps (lookup+create+finish) in %.1f ms\n",
	       N, (t1 - t0) * 1e3, (t1 - t0) * 1e6 / N, N, (t2 - t1) * 1e3, (t2 - t1) * 1e6 / N,
	       (sl__mono_sec() - t2) * 1e3);
	store_close(s);
}

/* Every allocation the store makes may fail; the result is an error, never a crash. */
static void test_alloc_failures(void **state)
{
	fixture *f = *state;
	store *s = open_store(f);
	char a[SL__HASH_HEX_SIZE], k[SL__HASH_HEX_SIZE];
	store_io oa = {"data", a}, ia = {"in", a};
	tu_oom o = {0};

	art("a", a);
	art("k", k);
	new_run(s, "r", 1000, getpid(), "h");
	record(s, "s1", "r", "ingest", 1000, k, NULL, 0, &oa, 1);
	record(s, "s2", "r", "use", 1100, NULL, &ia, 1, NULL, 0);
	store_close(s);
	for (long i = 0; i < 10000 && !o.done; i++) {
		store *t = NULL;
		char *from = NULL, *log = NULL;
		store_io *outs = NULL;
		size_t n = 0;
		int rc;

		tu_oom_begin(&o, i);
		rc = store_open(f->target, &t);
		if (rc == 0)
			rc = store_cache_lookup(t, k, &from, &outs, &n);
		if (rc == 0)
			rc = store_steprun_log(t, "r", "ingest", &log, NULL);
		tu_oom_end(&o, rc);
		if (rc == 0)
			assert_int_equal(n, 1); /* the cache hit is whole */
		else
			assert_int_equal(rc, SL_ENOMEM);
		sl__free(from);
		sl__free(log);
		store_io_free(outs, n);
		store_close(t);
	}
	tu_oom_check(&o, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_migrate_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finish_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lineage_diamond, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lineage_pass_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_recheck, setup, teardown),
		cmocka_unit_test(test_text_writer),
		cmocka_unit_test_setup_teardown(test_json_shapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_facts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_mid_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
