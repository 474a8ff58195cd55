/*
 * Shared test helpers (see testutil.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core.h"
#include "dataset/dataset.h"
#include "steps/step.h"
#include "testutil.h"

/* ---- the metadata store under test -------------------------------------------- */

/* The admin URL of the fixture's server (its "postgres" database), or NULL. */
static const char *pg_admin_url(void)
{
	static char url[512];
	const char *file = getenv("SLUICE_TEST_PG_URL_FILE");
	FILE *f;

	if (url[0])
		return url;
	if (!file || !*file)
		return NULL;
	f = fopen(file, "r");
	if (!f)
		fail_msg("SLUICE_TEST_PG_URL_FILE=%s cannot be read: is the pg fixture up?", file);
	if (!fgets(url, sizeof url, f))
		url[0] = '\0';
	fclose(f);
	url[strcspn(url, "\r\n")] = '\0';
	if (!url[0])
		fail_msg("%s holds no URL", file);
	return url;
}

bool tu_store_pg(void)
{
	return pg_admin_url() != NULL;
}

static void pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(pg_admin_url());
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connecting to %s: %s", pg_admin_url(), PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

char *tu_store_target(const char *dir)
{
	static unsigned serial;
	const char *admin = pg_admin_url();
	char name[64], sql[256], *out;
	const char *slash;

	if (!admin) {
		out = malloc(strlen(dir) + 16);
		assert_non_null(out);
		sprintf(out, "sqlite:%s/meta.db", dir);
		return out;
	}
	snprintf(name, sizeof name, "t_%d_%u", (int)getpid(), serial++);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE sluice_template STRATEGY FILE_COPY",
		 name);
	pg_admin(sql);
	slash = strrchr(admin, '/');
	assert_non_null(slash);
	out = malloc((size_t)(slash - admin) + strlen(name) + 2);
	assert_non_null(out);
	sprintf(out, "%.*s/%s", (int)(slash - admin), admin, name);
	return out;
}

void tu_store_drop(const char *target)
{
	char sql[256];
	const char *name;

	if (!target || strncmp(target, "postgresql://", 13) != 0)
		return;
	name = strrchr(target, '/') + 1;
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	pg_admin(sql);
}

/* A new directory under base, in path (each caller's own static buffer). */
static const char *tmpdir_in(char *path, size_t size, const char *base)
{
	snprintf(path, size, "%s/sluice-test-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(path));
	return path;
}

const char *tu_tmpdir(void)
{
	static char path[512];

	return tmpdir_in(path, sizeof path, getenv("TMPDIR"));
}

const char *tu_fast_tmpdir(void)
{
	static char path[512];

	if (access("/dev/shm", W_OK) != 0)
		return tu_tmpdir();
	return tmpdir_in(path, sizeof path, "/dev/shm");
}

void tu_rmdir(const char *dir)
{
	assert_int_equal(sl__rm_rf(dir), 0);
}

void tu_write(const char *path, const char *contents)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(contents, 1, strlen(contents), f), strlen(contents));
	assert_int_equal(fclose(f), 0);
}

char *tu_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* tu_oom_begin_step's N for the next tu_run_step, or -1; what that run injected. */
static long armed = -1;
static bool armed_once;
static unsigned long step_injected;

static void inject(long n, bool once)
{
	if (once)
		sl__alloc_fail_nth(n);
	else
		sl__alloc_fail_after(n);
}

int tu_step_call(struct step_ctx *ctx)
{
	int rc;

	if (armed < 0)
		return step_call(ctx, ctx->def->run);
	inject(armed, armed_once);
	armed = -1;
	rc = step_call(ctx, ctx->def->run);
	step_injected = sl__alloc_failures();
	sl__alloc_fail_after(-1);
	return rc;
}

unsigned char *tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	*len = (size_t)ftell(f);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	b = malloc(*len + 64); /* room for tests that append to a copy */
	assert_non_null(b);
	assert_int_equal(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

int tu_run_step(tu_run *r, const char *name, const char *dir, json_t *with,
		const char *const *in_names, const char *const *in_paths, size_t n_in,
		const char *const *out_names, const char *const *out_paths, size_t n_out)
{
	const step_def *def = step_find(name);
	FILE *log = tmpfile();
	step_ctx ctx;
	size_t n;
	int rc;

	assert_non_null(def);
	assert_non_null(log);
	/* As the parser would: options checked against the schema, defaults filled. */
	{
		step_problem pb;
		rc = step_opts_check(def, with, NULL, in_names, n_in, &pb);
		if (rc) {
			fclose(log);
			r->log[0] = '\0';
			sl__err(rc, "with%s%s: %s", pb.path[0] && pb.path[0] != '[' ? "." : "", pb.path,
				pb.msg);
			return rc;
		}
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.def = def;
	ctx.step_name = name;
	ctx.run_id = r->run_id;
	ctx.pipeline_name = "test";
	ctx.pipeline_sha256 = r->pipeline_sha256;
	ctx.pipeline_dir = dir;
	ctx.workdir = dir;
	ctx.with = with;
	ctx.n_inputs = n_in;
	ctx.input_names = in_names;
	ctx.input_paths = in_paths;
	ctx.input_ids = r->in_ids;
	ctx.n_outputs = n_out;
	ctx.output_names = out_names;
	ctx.output_paths = out_paths;
	json_decref(r->metrics);
	json_decref(r->meta);
	r->metrics = ctx.metrics = json_object();
	r->meta = ctx.out_meta = json_object();
	ctx.log = log;
	sl__err_clear();
	rc = tu_step_call(&ctx);
	rewind(log);
	n = fread(r->log, 1, sizeof r->log - 1, log);
	r->log[n] = '\0';
	fclose(log);
	return rc;
}

void tu_run_free(tu_run *r)
{
	json_decref(r->metrics);
	json_decref(r->meta);
	r->metrics = NULL;
	r->meta = NULL;
}

void tu_oom_begin(tu_oom *o, long n)
{
	o->step = false;
	inject(n, o->once);
}

void tu_oom_begin_step(tu_oom *o, long n)
{
	o->step = true;
	armed = n;
	armed_once = o->once;
	step_injected = 0;
}

bool tu_oom_end(tu_oom *o, int rc)
{
	unsigned long injected = o->step ? step_injected : sl__alloc_failures();

	sl__alloc_fail_after(-1);
	armed = -1;
	o->runs++;
	o->injected += injected;
	if (rc != 0) {
		o->failed++;
		if (injected == 0)
			fail_msg("run %ld failed (%d: %s) with no allocation failure injected", o->runs, rc,
				 sl_errmsg());
	} else if (injected == 0) {
		o->done = true;
	} else {
		o->absorbed++;
	}
	return o->done;
}

void tu_oom_check(const tu_oom *o, long min_failed)
{
	if (getenv("TU_OOM_DEBUG"))
		fprintf(stderr, "oom: %ld runs, %ld failed, %ld absorbed, %lu injected\n", o->runs, o->failed,
			o->absorbed, o->injected);
	if (!o->done)
		fail_msg("no run succeeded once injection stopped (%ld runs)", o->runs);
	if (o->failed < min_failed || o->injected == 0)
		fail_msg("only %ld of %ld runs failed (%lu allocations failed): the injection did not reach the code",
			 o->failed, o->runs, o->injected);
}
/* ---- a customer table (tu_customers) ---- */

static const char *const tu_regions[] = {"north", "south", "east"};
static const char *const tu_tiers[] = {"gold", "silver", "bronze"};

ds_table *tu_customers(size_t n, bool scoring)
{
	ds_builder *b;
	ds_table *t;
	static const char *const cols[] = {"id", "amount", "visits", "region", "tier", "plan",
					   "signup", "vip", "y", "label", "kind"};
	static const ds_type types[] = {DS_INT64, DS_FLOAT64, DS_INT64, DS_STRING, DS_STRING,
					DS_STRING, DS_TIMESTAMP, DS_BOOL, DS_FLOAT64, DS_STRING,
					DS_STRING};

	assert_int_equal(ds_builder_new(&b), 0);
	for (size_t j = 0; j < SL__ARRAY_LEN(cols); j++)
		assert_int_equal(ds_builder_add_col(b, cols[j], types[j], NULL), 0);
	for (size_t i = 0; i < n; i++) {
		double amount = 10 + (double)((i * 37) % 100) + 0.25 * (double)(i % 4);
		int64_t visits = (int64_t)(i % 15);
		const char *region = tu_regions[i % 3], *tier = tu_tiers[(i / 3) % 3];
		const char *plan = i % 2 ? "pro" : "basic";
		int64_t signup = 1704067200000000LL + (int64_t)i * (37 * 3600 + 13 * 60) * 1000000LL;
		bool vip = i % 4 == 0;
		double y = 3 + 0.5 * amount - 2 * (double)visits + (i % 3 == 2 ? 4 : 0) +
			   (i % 2 ? 1.5 : 0) + 0.3 * sin((double)i);
		bool amount_null = false, visits_null = false, region_null = false, vip_null = false;
		if (scoring) {
			visits = (int64_t)((i * 7) % 25) - (i % 19 == 5 ? 30 : 0);
			amount_null = i % 11 == 0;
			if (i % 13 == 0)
				amount = NAN;
			if (i % 17 == 0)
				amount = 1e6;
			visits_null = i % 9 == 0;
			region_null = i % 7 == 0;
			if (i % 5 == 0)
				region = "west";
			if (i % 23 == 4)
				region = "bad";
			vip_null = i % 10 == 3;
			signup += 400LL * 86400000000LL;
		}
		assert_int_equal(ds_append_i64(b, 0, (int64_t)i), 0);
		assert_int_equal(amount_null ? ds_append_null(b, 1) : ds_append_f64(b, 1, amount), 0);
		assert_int_equal(visits_null ? ds_append_null(b, 2) : ds_append_i64(b, 2, visits), 0);
		assert_int_equal(region_null ? ds_append_null(b, 3)
					     : ds_append_str(b, 3, region, strlen(region)),
				 0);
		assert_int_equal(ds_append_str(b, 4, tier, strlen(tier)), 0);
		assert_int_equal(ds_append_str(b, 5, plan, strlen(plan)), 0);
		assert_int_equal(ds_append_i64(b, 6, signup), 0);
		assert_int_equal(vip_null ? ds_append_null(b, 7) : ds_append_bool(b, 7, vip), 0);
		assert_int_equal(ds_append_f64(b, 8, y), 0);
		assert_int_equal(ds_append_str(b, 9, y > 30 ? "yes" : "no", y > 30 ? 3 : 2), 0);
		const char *kind = y < 20 ? "low" : y < 40 ? "mid" : "high";
		assert_int_equal(ds_append_str(b, 10, kind, strlen(kind)), 0);
	}
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	return t;
}

