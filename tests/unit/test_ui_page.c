/*
 * The pages of the listings the web UI asks for (sl_runs_page,
 * sl_artifacts_page, sl_models_page, sl_model_show_page, and the monitoring
 * page's sl_monitor_models_page, sl_monitor_page, sl_monitor_events_page)
 * at 10,000 runs and 10,000 model versions: every page walked covers every
 * row once in order, totals count what matches, filters and searches are
 * exact (a search for '%' or '_' finds those characters, not everything),
 * and bad windows are refused. An alert is acknowledged once, and only an
 * alert.
 * Runs against PostgreSQL too (SLUICE_TEST_PG_URL_FILE), as the store
 * tests do, with 1,000 of each.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/project.h"
#include "core.h"
#include "store/store.h"
#include "testutil.h"

/*
 * 10,000 of each on SQLite; PostgreSQL, whose every statement is a round
 * trip, is filled with 1,000 to stay within the test's time: there the
 * point is that the same SQL pages the same way.
 */
static long n_runs = 10000, n_versions = 10000;

typedef struct fixture {
	char *dir;
	char *target;
	sl_project *p;
} fixture;

/* ---- filling the store ------------------------------------------------------------------- */

static void run_id(long i, char out[16])
{
	snprintf(out, 16, "r%05ld", i);
}

/*
 * Runs r00000 .. r09999 started a second apart (r09999 newest), of
 * pipelines alpha (even) and beta (odd); every tenth failed, every
 * hundredth still running; the first 20 with three step runs each. One more
 * run, "zz%_x" of pipeline "a%b_c", is the newest of all.
 */
static void fill_runs(store *s)
{
	char id[16], sr[32];

	assert_int_equal(store_batch_begin(s), 0);
	for (long i = 0; i < n_runs; i++) {
		store_run r = {.id = id, .pipeline = i % 2 ? "beta" : "alpha", .file = "/p/x.yaml",
			       .params_json = "{}", .orchestrator = "local", .host = "h",
			       .started_ms = 1000000 + i * 1000};
		run_id(i, id);
		assert_int_equal(store_run_create(s, &r), 0);
		for (int k = 0; i < 20 && k < 3; k++) {
			store_steprun st = {.run_id = id, .step = k == 0 ? "ingest" : k == 1 ? "split" : "train",
					    .kind = "run", .status = k == 1 ? ST_CACHED : ST_COMPLETED,
					    .cache_hit = k == 1, .exit_code = 0,
					    .started_ms = r.started_ms + k, .ended_ms = r.started_ms + k + 1};
			snprintf(sr, sizeof sr, "%s-%d", id, k);
			st.id = sr;
			assert_int_equal(store_steprun_record(s, &st, NULL, 0, NULL), 0);
		}
		if (i % 100 == 0)
			continue;
		assert_int_equal(store_run_finish(s, id, i % 10 == 0 ? ST_FAILED : ST_COMPLETED,
						  r.started_ms + 500),
				 0);
	}
	{
		store_run r = {.id = "zz%_x", .pipeline = "a%b_c", .file = "/p/y.yaml", .params_json = "{}",
			       .orchestrator = "local", .host = "h",
			       .started_ms = 1000000 + (int64_t)n_runs * 1000};
		assert_int_equal(store_run_create(s, &r), 0);
	}
	assert_int_equal(store_batch_end(s), 0);
}

/* Two bundles made by one step run, registered alternately: each registration is a version. */
static void fill_versions(store *s)
{
	char a[SL__HASH_HEX_SIZE], b[SL__HASH_HEX_SIZE];
	store_artifact arts[2] = {{.type = "bundle", .size = 10, .created_ms = 5},
				  {.type = "bundle", .size = 11, .created_ms = 6}};
	store_io outs[2] = {{.name = "a", .artifact_id = a}, {.name = "b", .artifact_id = b}};
	store_steprun st = {.id = "pkg", .run_id = "r00001", .step = "package", .kind = "run",
			    .status = ST_COMPLETED, .exit_code = 0, .started_ms = 5, .ended_ms = 6};
	store_result res = {.arts = arts, .outputs = outs, .n_outputs = 2};

	assert_int_equal(sl__sha256_hex("bundle a", 8, a), 0);
	assert_int_equal(sl__sha256_hex("bundle b", 8, b), 0);
	assert_int_equal(store_steprun_record(s, &st, NULL, 0, &res), 0);
	assert_int_equal(store_batch_begin(s), 0);
	for (long v = 1; v <= n_versions; v++) {
		store_version_new nv = {.model = "spam", .bundle = v % 2 ? a : b,
					.metrics_json = "{\"auc\": 0.9}", .verdict = VERDICT_PASSED,
					.alias = v % 1000 == 0 ? "production" : NULL};
		int64_t got = 0;
		assert_int_equal(store_model_register(s, &nv, &got, NULL), 0);
		assert_int_equal(got, v);
	}
	assert_int_equal(store_batch_end(s), 0);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	if (tu_store_pg())
		n_runs = n_versions = 1000;
	f->dir = strdup(tu_tmpdir());
	f->target = tu_store_target(f->dir);
	setenv("SLUICE_STORE", f->target, 1);
	assert_int_equal(sl_project_init(f->dir), 0);
	if (sl_project_open(f->dir, &f->p))
		fail_msg("open: %s", sl_errmsg());
	fill_runs(f->p->st);
	fill_versions(f->p->st);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	sl_project_close(f->p);
	tu_store_drop(f->target);
	tu_rmdir(f->dir);
	unsetenv("SLUICE_STORE");
	free(f->dir);
	free(f->target);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static json_t *runs_page(sl_project *p, const sl_page_opts *o)
{
	char *text = NULL;
	json_t *j;

	if (sl_runs_page(p, o, &text))
		fail_msg("sl_runs_page: %s", sl_project_errmsg(p));
	j = json_loads(text, 0, NULL);
	sl_free(text);
	assert_non_null(j);
	return j;
}

static long long total_of(const json_t *j)
{
	return json_integer_value(json_object_get(j, "total"));
}

static size_t count_of(const json_t *j)
{
	return json_array_size(json_object_get(j, "items"));
}

static const char *item_str(const json_t *j, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), i), key));
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* Pages of 1000 walk all 10,001 runs once, newest first, and agree with the total. */
static void test_runs_walk(void **state)
{
	fixture *f = *state;
	sl_page_opts o = {.limit = 1000};
	char want[16];
	long seen = 0;

	for (o.offset = 0; o.offset < n_runs + 1000; o.offset += o.limit) {
		json_t *j = runs_page(f->p, &o);
		assert_int_equal(total_of(j), n_runs + 1);
		for (size_t i = 0; i < count_of(j); i++, seen++) {
			if (seen == 0) {
				assert_string_equal(item_str(j, i, "run"), "zz%_x");
				continue;
			}
			run_id(n_runs - seen, want);
			assert_string_equal(item_str(j, i, "run"), want);
		}
		json_decref(j);
	}
	assert_int_equal(seen, n_runs + 1);
}

/* The default page is 50; past the end a page is empty but keeps its total. */
static void test_runs_window(void **state)
{
	fixture *f = *state;
	sl_page_opts o = {0};
	json_t *j = runs_page(f->p, &o);
	char *text = NULL;

	assert_int_equal(count_of(j), 50);
	assert_int_equal(json_integer_value(json_object_get(j, "limit")), 50);
	json_decref(j);
	o.offset = n_runs + 1;
	j = runs_page(f->p, &o);
	assert_int_equal(count_of(j), 0);
	assert_int_equal(total_of(j), n_runs + 1);
	json_decref(j);
	/* The oldest run, with its steps counted as the runs view counts them. */
	o.offset = n_runs;
	o.limit = 5;
	j = runs_page(f->p, &o);
	assert_int_equal(count_of(j), 1);
	assert_string_equal(item_str(j, 0, "run"), "r00000");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "steps")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "cached")), 1);
	json_decref(j);
	o.limit = 1001;
	assert_int_equal(sl_runs_page(f->p, &o, &text), SL_EINVAL);
	assert_null(text);
	assert_non_null(strstr(sl_project_errmsg(f->p), "at most 1000"));
}

static void test_runs_filters(void **state)
{
	fixture *f = *state;
	sl_page_opts o = {.limit = 10, .pipeline = "alpha"};
	json_t *j = runs_page(f->p, &o);

	assert_int_equal(total_of(j), n_runs / 2);
	for (size_t i = 0; i < count_of(j); i++)
		assert_string_equal(item_str(j, i, "pipeline"), "alpha");
	json_decref(j);
	/* Every tenth failed but the hundredths, still running: 900 of them. */
	o.pipeline = NULL;
	o.status = "failed";
	j = runs_page(f->p, &o);
	assert_int_equal(total_of(j), n_runs / 10 - n_runs / 100);
	{
		char want[16];
		run_id(n_runs - 10, want);
		assert_string_equal(item_str(j, 0, "run"), want);
	}
	json_decref(j);
	o.status = "running";
	o.pipeline = "beta"; /* the hundredths are even: none is beta's */
	j = runs_page(f->p, &o);
	assert_int_equal(total_of(j), 0);
	json_decref(j);
	/* An empty filter is no filter. */
	o.status = "";
	o.pipeline = "";
	j = runs_page(f->p, &o);
	assert_int_equal(total_of(j), n_runs + 1);
	json_decref(j);
}

/* A search is a literal substring: '%' and '_' are characters, not wildcards. */
static void test_runs_search(void **state)
{
	fixture *f = *state;
	char ten[16];
	sl_page_opts o = {.limit = 10, .search = ten};
	json_t *j;

	/* The ids of the last ten runs share all but their last digit. */
	run_id(n_runs - 1, ten);
	ten[strlen(ten) - 1] = 0;
	j = runs_page(f->p, &o);
	assert_int_equal(total_of(j), 10);
	json_decref(j);
	o.search = "%";
	j = runs_page(f->p, &o);
	assert_int_equal(total_of(j), 1);
	assert_string_equal(item_str(j, 0, "run"), "zz%_x");
	json_decref(j);
	o.search = "_";
	j = runs_page(f->p, &o);
	assert_int_equal(total_of(j), 1);
	json_decref(j);
	o.search = "b_c"; /* in the pipeline's name */
	j = runs_page(f->p, &o);
	assert_int_equal(total_of(j), 1);
	json_decref(j);
	o.search = "\\";
	j = runs_page(f->p, &o);
	assert_int_equal(total_of(j), 0);
	json_decref(j);
}

/* Pages of versions, newest page first, each listed oldest first. */
static void test_versions_page(void **state)
{
	fixture *f = *state;
	sl_page_opts o = {.limit = 20};
	char *text = NULL;
	json_t *j, *vs;

	assert_int_equal(sl_model_show_page(f->p, "spam", &o, &text), 0);
	j = json_loads(text, 0, NULL);
	sl_free(text);
	assert_non_null(j);
	vs = json_object_get(j, "versions");
	assert_int_equal(json_array_size(vs), 20);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(vs, 0), "version")), n_versions - 19);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(vs, 19), "version")), n_versions);
	assert_int_equal(json_integer_value(json_object_get(j, "versions_total")), n_versions);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "aliases"), "production")), n_versions);
	json_decref(j);
	/* The last page is short; one past it is empty. */
	o.offset = n_versions - 10;
	assert_int_equal(sl_model_show_page(f->p, "spam", &o, &text), 0);
	j = json_loads(text, 0, NULL);
	sl_free(text);
	vs = json_object_get(j, "versions");
	assert_int_equal(json_array_size(vs), 10);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(vs, 0), "version")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "offset")), n_versions - 10);
	json_decref(j);
	o.offset = n_versions;
	assert_int_equal(sl_model_show_page(f->p, "spam", &o, &text), 0);
	j = json_loads(text, 0, NULL);
	sl_free(text);
	assert_int_equal(json_array_size(json_object_get(j, "versions")), 0);
	json_decref(j);
	assert_int_equal(sl_model_show_page(f->p, "nope", &o, &text), SL_ENOENT);
}

static void test_artifacts_page(void **state)
{
	fixture *f = *state;
	sl_page_opts o = {.limit = 1, .type = "bundle"};
	char *text = NULL;
	json_t *j;

	assert_int_equal(sl_artifacts_page(f->p, &o, &text), 0);
	j = json_loads(text, 0, NULL);
	sl_free(text);
	assert_int_equal(total_of(j), 2);
	assert_int_equal(count_of(j), 1);
	assert_string_equal(item_str(j, 0, "type"), "bundle");
	json_decref(j);
	o.type = NULL;
	o.search = "package"; /* the producing step */
	assert_int_equal(sl_artifacts_page(f->p, &o, &text), 0);
	j = json_loads(text, 0, NULL);
	sl_free(text);
	assert_int_equal(total_of(j), 2);
	json_decref(j);
}

/* The page a call answered: page_of(sl_..._page(..., &text), &text). */
static json_t *page_of(int rc, char **text)
{
	json_t *j;

	assert_int_equal(rc, 0);
	j = json_loads(*text, 0, NULL);
	sl_free(*text);
	*text = NULL;
	assert_non_null(j);
	return j;
}

/* Models by name, a page of them, a literal search ('_' is no wildcard); the version counts. */
static void test_models_page(void **state)
{
	fixture *f = *state;
	char a[SL__HASH_HEX_SIZE];
	sl_page_opts o = {.limit = 1, .offset = 2};
	char *text = NULL;
	json_t *j;

	assert_int_equal(sl__sha256_hex("bundle a", 8, a), 0);
	for (int i = 0; i < 2; i++) {
		store_version_new nv = {.model = i ? "other" : "m_x", .bundle = a,
					.metrics_json = "{}", .verdict = VERDICT_PASSED};
		assert_int_equal(store_model_register(f->p->st, &nv, NULL, NULL), 0);
	}
	j = page_of(sl_models_page(f->p, &o, &text), &text);
	assert_int_equal(total_of(j), 3);
	assert_int_equal(count_of(j), 1);
	assert_string_equal(item_str(j, 0, "name"), "spam");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "versions")),
			 n_versions);
	json_decref(j);
	o = (sl_page_opts){.search = "_"};
	j = page_of(sl_models_page(f->p, &o, &text), &text);
	assert_int_equal(total_of(j), 1);
	assert_string_equal(item_str(j, 0, "name"), "m_x");
	json_decref(j);
	o = (sl_page_opts){.limit = 1001};
	assert_int_equal(sl_models_page(f->p, &o, &text), SL_EINVAL);
}

/* Five windows of "spam" (drift.a.statistic = its number), three events. */
static void fill_monitoring(store *s, int64_t seqs[3])
{
	const char *names[] = {"drift.a.statistic", "requests"};
	const char *kinds[] = {"alert", "error", "alert"};

	for (int i = 1; i <= 5; i++) {
		char report[64];
		double vals[] = {i, 100};
		store_monitor_window w = {.model = "spam", .version = "1", .at_ms = 1000 * i,
					  .requests = 100, .report = report};
		snprintf(report, sizeof report, "{\"model\": \"spam\", \"n\": %d}", i);
		assert_int_equal(store_monitor_add(s, &w, names, vals, 2, NULL), 0);
	}
	for (int i = 0; i < 3; i++) {
		store_mon_event e = {.kind = kinds[i], .model = "spam", .detail_json = "{}"};
		assert_int_equal(store_mon_event_add(s, &e, &seqs[i]), 0);
	}
}

static void test_monitoring_pages(void **state)
{
	fixture *f = *state;
	sl_page_opts o = {.limit = 2};
	sl_events_filter ef = {.model = "spam", .kind = "alert"};
	int64_t seq[3];
	char *text = NULL;
	json_t *j, *items;

	fill_monitoring(f->p->st, seq);
	/* The newest two windows, oldest first, with the newest's report. */
	j = page_of(sl_monitor_page(f->p, "spam", &o, &text), &text);
	items = json_object_get(j, "items");
	assert_int_equal(total_of(j), 5);
	assert_int_equal(json_array_size(items), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "seq")), 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "seq")), 5);
	assert_true(json_real_value(json_object_get(json_object_get(json_array_get(items, 1), "values"),
						    "drift.a.statistic")) == 5.0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "report"), "n")), 5);
	json_decref(j);
	o.offset = 4;
	j = page_of(sl_monitor_page(f->p, "spam", &o, &text), &text);
	assert_int_equal(count_of(j), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "report"), "n")), 1);
	json_decref(j);
	o.offset = 5;
	j = page_of(sl_monitor_page(f->p, "spam", &o, &text), &text);
	assert_int_equal(count_of(j), 0);
	assert_true(json_is_null(json_object_get(j, "report")));
	json_decref(j);

	/* Events: newest first, filtered in the query. */
	o = (sl_page_opts){.limit = 1};
	j = page_of(sl_monitor_events_page(f->p, &ef, &o, &text), &text);
	assert_int_equal(total_of(j), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "seq")),
			 seq[2]);
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(j, "items"), 0), "ack")));
	json_decref(j);
	ef.since = "yesterday";
	assert_int_equal(sl_monitor_events_page(f->p, &ef, &o, &text), SL_EINVAL);

	/* An alert is acknowledged once; another kind, or no event, not at all. */
	j = page_of(sl_monitor_ack(f->p, seq[0], "sam", "on it", &text), &text);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "ack"), "by")), "sam");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "ack"), "note")), "on it");
	json_decref(j);
	assert_int_equal(sl_monitor_ack(f->p, seq[0], "kim", NULL, NULL), SL_EEXIST);
	assert_non_null(strstr(sl_project_errmsg(f->p), "sam"));
	assert_int_equal(sl_monitor_ack(f->p, seq[1], "sam", NULL, NULL), SL_EINVAL);
	assert_int_equal(sl_monitor_ack(f->p, 99999, "sam", NULL, NULL), SL_ENOENT);
	assert_int_equal(sl_monitor_ack(f->p, 0, "sam", NULL, NULL), SL_EINVAL);

	/* The monitored models count the alerts and those still open. */
	o = (sl_page_opts){0};
	j = page_of(sl_monitor_models_page(f->p, &o, &text), &text);
	assert_int_equal(total_of(j), 1);
	items = json_array_get(json_object_get(j, "items"), 0);
	assert_string_equal(json_string_value(json_object_get(items, "model")), "spam");
	assert_int_equal(json_integer_value(json_object_get(items, "windows")), 5);
	assert_int_equal(json_integer_value(json_object_get(items, "alerts")), 2);
	assert_int_equal(json_integer_value(json_object_get(items, "unacknowledged")), 1);
	json_decref(j);
	o.search = "_";
	j = page_of(sl_monitor_models_page(f->p, &o, &text), &text);
	assert_int_equal(total_of(j), 0);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_walk),    cmocka_unit_test(test_runs_window),
		cmocka_unit_test(test_runs_filters), cmocka_unit_test(test_runs_search),
		cmocka_unit_test(test_versions_page), cmocka_unit_test(test_artifacts_page),
		cmocka_unit_test(test_models_page),   cmocka_unit_test(test_monitoring_pages),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
