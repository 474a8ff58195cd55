/*
 * The monitoring loop's decisions (monitor/rules.h) and records
 * (store_monitor.c): alert rules and their de-duplication window by
 * window, trigger latches and coalescing, cron schedules against a
 * minute-by-minute scan, the run's parameters, and the store's events,
 * state and claims (also on PostgreSQL: ctest's unit/test_monitor_loop@postgresql).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/project.h"
#include "canvas/canvas.h"
#include "canvas/cron.h"
#include "core.h"
#include "monitor/rules.h"
#include "store/store.h"
#include "testutil.h"

static json_t *report(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

static store_mon_state fresh(void)
{
	store_mon_state st;

	memset(&st, 0, sizeof st);
	st.value = NAN;
	return st;
}

/* ---- reading a report ---------------------------------------------------------------- */

static void test_report_values(void **state)
{
	json_t *r = report("{\"dataset_drift\": true, \"drift_share\": 0.4,"
			   " \"window\": {\"requests\": 200, \"errors\": 3, \"latency_p99_us\": 2500,"
			   "   \"from\": \"2026-11-30T10:00:00Z\", \"to\": \"2026-11-30T11:00:00Z\"},"
			   " \"live\": {\"labelled\": 50, \"accuracy\": 0.8, \"auc\": null},"
			   " \"estimated\": {\"auc\": {\"value\": 0.71, \"lower\": 0.6, \"upper\": 0.8},"
			   "   \"f1\": {\"value\": null}}}");
	const char *basis = NULL;
	char buf[64];
	double v;

	(void)state;
	assert_true(mon_report_value(r, "drift_share", &v, &basis));
	assert_true(v == 0.4 && !strcmp(basis, "report"));
	assert_true(mon_report_value(r, "dataset_drift", &v, NULL) && v == 1);
	assert_true(mon_report_value(r, "error_rate", &v, &basis));
	assert_true(fabs(v - 0.015) < 1e-12 && !strcmp(basis, "window"));
	assert_true(mon_report_value(r, "latency_p99_ms", &v, NULL) && v == 2.5);
	assert_false(mon_report_value(r, "latency_p50_ms", &v, NULL));
	assert_true(mon_report_value(r, "accuracy", &v, &basis));
	assert_true(v == 0.8 && !strcmp(basis, "live"));
	/* Live AUC is null (one class so far): the estimate stands in, by its value. */
	assert_true(mon_report_value(r, "roc_auc", &v, &basis));
	assert_true(v == 0.71 && !strcmp(basis, "estimated"));
	assert_false(mon_report_value(r, "f1", &v, NULL));
	assert_false(mon_report_value(r, "rmse", &v, NULL));
	assert_false(mon_report_value(NULL, "rmse", &v, NULL));
	assert_string_equal(mon_window_key(r, buf, sizeof buf), "2026-11-30T11:00:00Z");
	json_decref(r);
	r = report("{\"window\": {\"requests\": 5}}");
	assert_null(mon_window_key(r, buf, sizeof buf));
	json_decref(r);
	r = report("{\"window\": {\"to\": 1764500000000}}");
	assert_string_equal(mon_window_key(r, buf, sizeof buf), "1764500000000");
	json_decref(r);
}

/* ---- alert rules ----------------------------------------------------------------------- */

/* The actions of a rule over a sequence of windows, as a string of letters. */
static void steps(const canvas_alert *r, const double *vals, size_t n, const char *want)
{
	store_mon_state st = fresh();
	char got[64], key[16];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, "w%zu", i);
		mon_action a = mon_rule_step(r, vals[i], key, (int64_t)i * 1000, &st);
		got[k++] = "-FRX"[a];
	}
	got[k] = '\0';
	assert_string_equal(got, want);
}

static void test_rule_dedup(void **state)
{
	canvas_alert slow = {.metric = "latency_p99_ms", .above = true, .threshold = 20, .windows = 3};
	canvas_alert decay = {.metric = "roc_auc", .above = false, .threshold = 0.9, .windows = 1};
	double lat[] = {25, 30, 10, 25, 25, 25, 26, 27, 5, 21, 22, 23};
	double auc[] = {0.95, 0.85, 0.84, 0.86, NAN, 0.8, 0.91, 0.9, 0.89};

	(void)state;
	/* Three windows in a row fire it; a good window in between starts over;
	 * while it holds it repeats (de-duplicated); a good window resolves it. */
	steps(&slow, lat, SL__ARRAY_LEN(lat), "-----FRRX--F");
	/* An unmeasured window (NaN) neither resolves nor counts; exactly at the
	 * bound is not below it. */
	steps(&decay, auc, SL__ARRAY_LEN(auc), "-FRRRRX-F");
}

static void test_rule_same_window(void **state)
{
	canvas_alert r = {.metric = "error_rate", .above = true, .threshold = 0.01, .windows = 2};
	store_mon_state st = fresh();

	(void)state;
	/* The same window evaluated again is not a second window in a row. */
	assert_int_equal(mon_rule_step(&r, 0.5, "a", 1, &st), MON_NONE);
	assert_int_equal(mon_rule_step(&r, 0.5, "a", 2, &st), MON_NONE);
	assert_int_equal(mon_rule_step(&r, 0.5, "a", 3, &st), MON_NONE);
	assert_int_equal(st.streak, 1);
	assert_int_equal(mon_rule_step(&r, 0.5, "b", 4, &st), MON_FIRE);
	assert_int_equal(mon_rule_step(&r, 0.5, "b", 5, &st), MON_REPEAT);
	assert_true(st.active && st.fired == 1 && st.since_ms == 4);
	/* Without a window key every evaluation counts. */
	st = fresh();
	assert_int_equal(mon_rule_step(&r, 0.5, NULL, 1, &st), MON_NONE);
	assert_int_equal(mon_rule_step(&r, 0.5, NULL, 2, &st), MON_FIRE);
	assert_int_equal(mon_rule_step(&r, 0.0, NULL, 3, &st), MON_RESOLVE);
	assert_false(st.active);
	assert_int_equal(st.fired, 1);
}

static void test_rule_name(void **state)
{
	canvas_alert a = {.metric = "error_rate", .above = true, .threshold = 0.01};
	char buf[64];

	(void)state;
	assert_string_equal(canvas_alert_name(&a, buf, sizeof buf), "error_rate>0.01");
	a.above = false;
	assert_string_equal(canvas_alert_name(&a, buf, sizeof buf), "error_rate<0.01");
	a.name = "failing";
	assert_string_equal(canvas_alert_name(&a, buf, sizeof buf), "failing");
	assert_string_equal(mon_action_name(MON_RESOLVE), "resolve");
}

/* sluice.yaml's rules first; a canvas rule of the same name is overridden; model scopes. */
static void test_rules_combined(void **state)
{
	const canvas_alert ops[] = {
		{.metric = "latency_p99_ms", .above = true, .threshold = 40, .name = "slow"},
		{.metric = "error_rate", .above = true, .threshold = 0.01, .model = "spam"},
		{.metric = "drift_share", .above = true, .threshold = 0.2, .name = "drifting",
		 .model = "sales"},
	};
	const canvas_alert cv[] = {
		{.metric = "latency_p99_ms", .above = true, .threshold = 20, .name = "slow"},
		{.metric = "drift_share", .above = true, .threshold = 0.3, .name = "drifting"},
		{.metric = "roc_auc", .above = false, .threshold = 0.9, .model = "sales"},
		{.metric = "error_rate", .above = true, .threshold = 0.01},
	};
	const canvas_alert **got = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(mon_rules_for(ops, 3, cv, 4, "spam", &got, &n), 0);
	/* slow (sluice.yaml's), error_rate>0.01 (sluice.yaml's, overriding the canvas's),
	 * drifting (the canvas's: sluice.yaml's watches sales only). */
	assert_int_equal(n, 3);
	assert_ptr_equal(got[0], &ops[0]);
	assert_ptr_equal(got[1], &ops[1]);
	assert_ptr_equal(got[2], &cv[1]);
	sl__free(got);
	assert_int_equal(mon_rules_for(ops, 3, cv, 4, "sales", &got, &n), 0);
	assert_int_equal(n, 4);
	assert_ptr_equal(got[0], &ops[0]);
	assert_ptr_equal(got[1], &ops[2]);
	assert_ptr_equal(got[2], &cv[2]);
	assert_ptr_equal(got[3], &cv[3]);
	sl__free(got);
	assert_int_equal(mon_rules_for(NULL, 0, cv, 4, "other", &got, &n), 0);
	assert_int_equal(n, 3);
	sl__free(got);
}

/* ---- triggers ------------------------------------------------------------------------- */

static unsigned judge(mon_trigger_in *in, store_mon_state *d, store_mon_state *y, json_t **ev)
{
	unsigned fired = 0;

	assert_int_equal(mon_triggers(in, 1000, d, y, &fired, ev), 0);
	return fired;
}

static void test_triggers_coalesce_and_latch(void **state)
{
	json_t *drifted = report("{\"dataset_drift\": true, \"drift_share\": 0.6,"
				 " \"window\": {\"to\": \"t1\"},"
				 " \"features\": [{\"name\": \"a\", \"test\": \"ks\", \"statistic\": 0.3,"
				 "   \"p_value\": 0.001, \"drift\": true},"
				 "  {\"name\": \"b\", \"test\": \"ks\", \"drift\": false}],"
				 " \"live\": {\"auc\": 0.8}}");
	json_t *calm = report("{\"dataset_drift\": false, \"live\": {\"auc\": 0.97}}");
	store_mon_state d = fresh(), y = fresh();
	mon_trigger_in in = {.retrain_on = CANVAS_ON_DRIFT | CANVAS_ON_DECAY | CANVAS_ON_CADENCE,
			     .report = drifted, .version = "1", .metric = "roc_auc", .direction = 1,
			     .min = 0.9, .has_min = true, .cadence_due = true, .cadence = "0 3 * * 1",
			     .due_s = cron_days_from_civil(2026, 11, 30) * 86400 + 3 * 3600};
	json_t *ev = NULL;
	char names[64];
	unsigned f;

	(void)state;
	/* Three triggers at once: one run, named by all three in a fixed order. */
	f = judge(&in, &d, &y, &ev);
	assert_int_equal(f, CANVAS_ON_DRIFT | CANVAS_ON_DECAY | CANVAS_ON_CADENCE);
	assert_string_equal(mon_trigger_names(f, names, sizeof names), "drift+decay+cadence");
	/* The evidence names the drifted feature only, and the decayed metric's numbers. */
	json_t *feats = json_object_get(json_object_get(ev, "drift"), "features");
	assert_int_equal(json_array_size(feats), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(feats, 0), "name")), "a");
	assert_true(json_real_value(json_object_get(json_object_get(ev, "decay"), "value")) == 0.8);
	assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "decay"), "basis")),
			    "live");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "cadence"), "due")),
			    "2026-11-30T03:00:00.000Z");
	json_decref(ev);

	/* The same conditions on the same version: latched, nothing fires, the
	 * evidence says why. */
	in.cadence_due = false;
	f = judge(&in, &d, &y, &ev);
	assert_int_equal(f, 0);
	assert_true(json_is_true(json_object_get(json_object_get(ev, "drift"), "latched")));
	json_decref(ev);

	/* Production moved on (a new version): the conditions count again. */
	in.version = "2";
	f = judge(&in, &d, &y, &ev);
	assert_int_equal(f, CANVAS_ON_DRIFT | CANVAS_ON_DECAY);
	json_decref(ev);

	/* The conditions clear, then return on the same version: they fire again. */
	in.report = calm;
	assert_int_equal(judge(&in, &d, &y, &ev), 0);
	assert_int_equal(json_object_size(ev), 0);
	json_decref(ev);
	in.report = drifted;
	assert_int_equal(judge(&in, &d, &y, &ev), CANVAS_ON_DRIFT | CANVAS_ON_DECAY);
	json_decref(ev);
	assert_int_equal(d.fired, 3);

	/* Only the triggers retrain_on names; no report: only the cadence. */
	in.retrain_on = CANVAS_ON_CADENCE;
	in.cadence_due = true;
	in.report = NULL;
	assert_int_equal(judge(&in, &d, &y, &ev), CANVAS_ON_CADENCE);
	json_decref(ev);
	in.retrain_on = CANVAS_ON_DRIFT;
	in.report = drifted;
	in.version = "3";
	assert_int_equal(judge(&in, &d, &y, &ev), CANVAS_ON_DRIFT);
	json_decref(ev);
	assert_string_equal(mon_trigger_names(0, names, sizeof names), "");
	json_decref(drifted);
	json_decref(calm);
}

static void test_trigger_retry(void **state)
{
	json_t *drifted = report("{\"dataset_drift\": true}");
	store_mon_state d = fresh(), y = fresh();
	mon_trigger_in in = {.retrain_on = CANVAS_ON_DRIFT, .report = drifted, .version = "1",
			     .window = "w1"};
	json_t *ev = NULL;

	(void)state;
	assert_int_equal(judge(&in, &d, &y, &ev), CANVAS_ON_DRIFT);
	json_decref(ev);
	/* The run failed: not again on the window that fired... */
	mon_trigger_retry(&d);
	assert_int_equal(judge(&in, &d, &y, &ev), 0);
	json_decref(ev);
	/* ...but on the next one. */
	in.window = "w2";
	assert_int_equal(judge(&in, &d, &y, &ev), CANVAS_ON_DRIFT);
	json_decref(ev);
	/* A refused run (no retry) stays latched on newer windows too. */
	in.window = "w3";
	assert_int_equal(judge(&in, &d, &y, &ev), 0);
	json_decref(ev);
	json_decref(drifted);
}

static void test_decay_direction(void **state)
{
	json_t *r = report("{\"live\": {\"rmse\": 12.0}}");
	store_mon_state d = fresh(), y = fresh();
	mon_trigger_in in = {.retrain_on = CANVAS_ON_DECAY, .report = r, .version = "1",
			     .metric = "rmse", .direction = -1, .min = 10, .has_min = true};
	json_t *ev = NULL;

	(void)state;
	/* Lower is better: the bound is the most allowed. */
	assert_int_equal(judge(&in, &d, &y, &ev), CANVAS_ON_DECAY);
	assert_true(json_real_value(json_object_get(json_object_get(ev, "decay"), "max")) == 10);
	json_decref(ev);
	in.min = 15;
	in.version = "2";
	assert_int_equal(judge(&in, &d, &y, &ev), 0);
	json_decref(ev);
	/* Without a bound there is no decay. */
	in.has_min = false;
	in.min = 5;
	assert_int_equal(judge(&in, &d, &y, &ev), 0);
	json_decref(ev);
	json_decref(r);
}

/* ---- the run's parameters ---------------------------------------------------------------- */

static void test_run_params(void **state)
{
	json_t *r = report("{\"window\": {\"from\": \"2026-11-30T10:00:00Z\", \"to\": 1764500000000}}");
	json_t *lin = report("{\"training\": {\"train\": \"a1b2\", \"valid\": \"c3d4\"}, "
			     "\"test\": \"e5f6\", \"datasets\": [\"a1b2\"]}");
	const char *declared[] = {"since", "model", "seed", "trigger"};
	const char *out[MON_RUN_PARAMS_MAX];
	char buf[MON_RUN_PARAMS_MAX][160];
	size_t n;

	(void)state;
	n = mon_run_params(r, lin, "spam", "3", "drift+decay", declared, SL__ARRAY_LEN(declared), out,
			   buf);
	/* Only what the pipeline declares (an undeclared -p is an error there). */
	assert_int_equal(n, 3);
	assert_string_equal(out[0], "model=spam");
	assert_string_equal(out[1], "trigger=drift+decay");
	assert_string_equal(out[2], "since=2026-11-30T10:00:00Z");
	const char *all[] = {"model", "version", "trigger", "since", "until", "train_data",
			     "valid_data", "test_data"};
	n = mon_run_params(r, lin, "spam", "3", "cadence", all, SL__ARRAY_LEN(all), out, buf);
	assert_int_equal(n, 8);
	assert_string_equal(out[1], "version=3");
	assert_string_equal(out[4], "until=2025-11-30T10:53:20.000Z");
	/* Production's data, from its bundle's lineage. */
	assert_string_equal(out[5], "train_data=a1b2");
	assert_string_equal(out[6], "valid_data=c3d4");
	assert_string_equal(out[7], "test_data=e5f6");
	/* No report (no traffic yet): no bounds; no lineage (an older bundle): no data. */
	n = mon_run_params(NULL, NULL, "spam", "3", "cadence", all, SL__ARRAY_LEN(all), out, buf);
	assert_int_equal(n, 3);
	json_decref(lin);
	json_decref(r);
}

/* ---- schedules ----------------------------------------------------------------------------- */

static void test_cron_due(void **state)
{
	cron_expr e;
	cron_error err;
	int64_t at = 0, t0 = cron_days_from_civil(2026, 11, 30) * 86400; /* a Monday, 00:00 UTC */

	(void)state;
	assert_int_equal(cron_parse("0 3 * * 1", &e, &err), 0);
	/* Never looked at: not due, whatever the time. */
	assert_false(mon_cron_due(&e, 0, t0 + 4 * 3600, &at));
	/* Looked at 02:59, now 03:00: due at 03:00. */
	assert_true(mon_cron_due(&e, t0 + 2 * 3600 + 59 * 60, t0 + 3 * 3600, &at));
	assert_true(at == t0 + 3 * 3600);
	/* Looked at 03:00 exactly: the firing is past; not again until next Monday. */
	assert_false(mon_cron_due(&e, t0 + 3 * 3600, t0 + 3 * 3600 + 59, &at));
	assert_false(mon_cron_due(&e, t0 + 3 * 3600, t0 + 7 * 86400 + 3 * 3600 - 1, &at));
	/* A watcher down for three weeks fires once, for the first missed time. */
	assert_true(mon_cron_due(&e, t0 + 3 * 3600, t0 + 21 * 86400 + 4 * 3600, &at));
	assert_true(at == t0 + 7 * 86400 + 3 * 3600);
	/* Against a minute-by-minute scan over a day of every-20-minutes. */
	assert_int_equal(cron_parse("*/20 * * * *", &e, &err), 0);
	int fired = 0;
	for (int64_t m = 1; m <= 24 * 60; m++) {
		bool due = mon_cron_due(&e, t0 + (m - 1) * 60, t0 + m * 60, &at);
		assert_true(due == cron_matches(&e, t0 + m * 60));
		fired += due;
	}
	assert_int_equal(fired, 72);
	assert_false(mon_cron_due(&e, t0 + 60, t0 + 60, &at));
}

/* ---- sluice.yaml and canvas.yaml ------------------------------------------------------- */

static void test_settings(void **state)
{
	static const char good[] = "monitoring:\n"
				   "  interval: 30\n"
				   "  notify: { command: ./page.sh, webhook: 'https://h.example/x' }\n"
				   "  alert:\n"
				   "    - {name: slow, metric: latency_p99_ms, above: 50, for: 2,\n"
				   "       severity: critical, model: spam, webhook: 'http://h/x'}\n"
				   "    - {metric: error_rate, above: 0.01}\n"
				   "schedules:\n"
				   "  nightly: { cron: '0 2 * * *', pipeline: refresh.yaml,\n"
				   "             params: { days: 7, tag: x } }\n"
				   "  hourly: { cron: '@hourly', pipeline: /abs/h.yaml }\n";
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"monitoring:\n  intervall: 3\n",
		 "sluice.yaml:2:3: unknown key 'intervall' in monitoring (did you mean 'interval'?)"},
		{"monitoring:\n  interval: 0\n", "sluice.yaml:2:13: monitoring.interval is seconds"},
		{"monitoring:\n  notify: { webhook: ftp://x }\n",
		 "sluice.yaml:2:22: monitoring.notify.webhook must be an http:// or https:// URL"},
		{"schedules:\n  n: { cron: '0 25 * * *', pipeline: p.yaml }\n",
		 "sluice.yaml:2:14: schedules.n.cron: "},
		{"schedules:\n  n: { cron: '@daily' }\n",
		 "sluice.yaml:2:3: schedules.n needs cron (when, in UTC) and pipeline"},
		{"schedules: [a]\n", "sluice.yaml:1:12: schedules must be a mapping"},
		/* monitoring.alert: the canvas's checks, at sluice.yaml's places */
		{"monitoring:\n  alert: {metric: f1}\n",
		 "sluice.yaml:2:10: monitoring.alert must be a list of rules"},
		{"monitoring:\n  alert:\n    - {metric: latency_p99, above: 1}\n",
		 "sluice.yaml:3:16: monitoring.alert[0].metric: unknown metric 'latency_p99' (did you "
		 "mean 'latency_p99_ms'?)"},
		{"monitoring:\n  alert:\n    - {metric: f1, below: 0.8, severity: loud}\n",
		 "sluice.yaml:3:42: monitoring.alert[0].severity is warning or critical"},
		{"monitoring:\n  alert:\n    - {metric: f1, below: 0.8, webhook: 'ftp://x'}\n",
		 "sluice.yaml:3:41: monitoring.alert[0].webhook must be an http:// or https:// URL"},
		{"monitoring:\n  alert:\n    - {metric: f1, below: 0.8, modle: spam}\n",
		 "sluice.yaml:3:32: unknown key 'modle' in an alert rule (did you mean 'model'?)"},
		{"monitoring:\n  alert:\n    - {name: a, metric: f1, below: 0.8}\n"
		 "    - {name: a, metric: f1, below: 0.7}\n",
		 "sluice.yaml:4:7: monitoring.alert[1]: another rule (line 3) is called 'a'"},
	};
	api_settings set;

	(void)state;
	assert_int_equal(api_settings_parse(good, strlen(good), "sluice.yaml", "/p", "/p/.sluice",
					    &set),
			 0);
	assert_int_equal(set.mon_interval_s, 30);
	assert_string_equal(set.notify_command, "./page.sh");
	assert_string_equal(set.notify_webhook, "https://h.example/x");
	assert_int_equal(set.n_schedules, 2);
	assert_string_equal(set.schedules[0].name, "nightly");
	assert_string_equal(set.schedules[0].pipeline, "/p/refresh.yaml");
	assert_int_equal(set.schedules[0].n_params, 2);
	assert_string_equal(set.schedules[0].params[0], "days=7");
	assert_string_equal(set.schedules[0].params[1], "tag=x");
	assert_true(set.schedules[0].cron.hour == 1u << 2);
	assert_string_equal(set.schedules[1].pipeline, "/abs/h.yaml");
	assert_int_equal(set.schedules[1].n_params, 0);
	assert_int_equal(set.n_alerts, 2);
	assert_string_equal(set.alerts[0].name, "slow");
	assert_string_equal(set.alerts[0].metric, "latency_p99_ms");
	assert_true(set.alerts[0].above);
	assert_true(set.alerts[0].threshold == 50);
	assert_int_equal(set.alerts[0].windows, 2);
	assert_int_equal(set.alerts[0].severity, CANVAS_CRITICAL);
	assert_string_equal(set.alerts[0].model, "spam");
	assert_string_equal(set.alerts[0].webhook, "http://h/x");
	assert_int_equal(set.alerts[0].pos.line, 5);
	assert_null(set.alerts[1].name);
	assert_null(set.alerts[1].model);
	api_settings_free(&set);
	for (size_t i = 0; i < SL__ARRAY_LEN(bad); i++) {
		int rc = api_settings_parse(bad[i].text, strlen(bad[i].text), "sluice.yaml", "/p",
					    "/p/.sluice", &set);
		if (rc != SL_EINVAL || !strstr(sl_errmsg(), bad[i].want))
			fail_msg("case %zu: rc %d, message '%s', wanted '%s'", i, rc, sl_errmsg(),
				 bad[i].want);
		assert_null(set.schedules);
		assert_null(set.alerts);
	}
}

static void test_canvas_delivery(void **state)
{
	static const char good[] = "live_monitoring:\n"
				   "  alert:\n"
				   "    - {metric: error_rate, above: 0.1, command: 'echo x',\n"
				   "       webhook: 'http://127.0.0.1:9/h'}\n";
	static const char bad[] = "live_monitoring:\n"
				  "  alert:\n"
				  "    - {metric: error_rate, above: 0.1, webhook: 'mailto:a@b'}\n";
	canvas *cv = NULL;

	(void)state;
	assert_int_equal(canvas_parse(good, strlen(good), "canvas.yaml", "/p", &cv), 0);
	assert_int_equal(cv->monitoring.n_alerts, 1);
	assert_string_equal(cv->monitoring.alerts[0].command, "echo x");
	assert_string_equal(cv->monitoring.alerts[0].webhook, "http://127.0.0.1:9/h");
	canvas_free(cv);
	assert_int_equal(canvas_parse(bad, strlen(bad), "canvas.yaml", "/p", &cv), SL_EINVAL);
	assert_non_null(strstr(sl_errmsg(), "canvas.yaml:3:"));
	assert_non_null(strstr(sl_errmsg(), "webhook must be an http:// or https:// URL"));
}

/* ---- the store ------------------------------------------------------------------------------ */

typedef struct fix {
	char *dir, *target;
	store *s;
} fix;

static int setup(void **state)
{
	fix *f = calloc(1, sizeof *f);

	f->dir = strdup(tu_tmpdir());
	f->target = tu_store_target(f->dir);
	if (store_open(f->target, &f->s) != 0)
		fail_msg("store_open: %s", sl_errmsg());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fix *f = *state;

	store_close(f->s);
	tu_store_drop(f->target);
	free(f->target);
	tu_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void test_store_events(void **state)
{
	fix *f = *state;
	store_mon_event e = {.at_ms = 1764500000000, .kind = "trigger", .model = "spam",
			     .detail_json = "{\"triggers\":\"drift\"}"};
	store_mon_filter flt = {0};
	json_t *j = NULL;
	int64_t seq = 0;

	assert_int_equal(store_mon_event_add(f->s, &e, &seq), 0);
	assert_int_equal(seq, 1);
	e.kind = "retrain";
	e.run = "3f2a9c1b7e20";
	e.detail_json = NULL;
	e.at_ms = 0;
	assert_int_equal(store_mon_event_add(f->s, &e, &seq), 0);
	assert_int_equal(seq, 2);
	e.kind = "alert";
	e.model = "other";
	e.run = NULL;
	assert_int_equal(store_mon_event_add(f->s, &e, NULL), 0);
	/* Bad events are refused, naming what is wrong. */
	e.detail_json = "[1]";
	assert_int_equal(store_mon_event_add(f->s, &e, NULL), SL_EINVAL);
	e.detail_json = NULL;
	e.kind = "";
	assert_int_equal(store_mon_event_add(f->s, &e, NULL), SL_EINVAL);
	e.kind = "alert";
	e.model = "bad name";
	assert_int_equal(store_mon_event_add(f->s, &e, NULL), SL_EINVAL);

	assert_int_equal(store_mon_events_json(f->s, &flt, &j), 0);
	assert_int_equal(json_array_size(j), 3);
	json_t *first = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(first, "at")), "2025-11-30T10:53:20.000Z");
	assert_string_equal(json_string_value(json_object_get(first, "kind")), "trigger");
	assert_string_equal(json_string_value(json_object_get(json_object_get(first, "detail"), "triggers")),
			    "drift");
	assert_true(json_is_null(json_object_get(first, "run")));
	/* No detail reads as {}. */
	assert_true(json_is_object(json_object_get(json_array_get(j, 1), "detail")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "run")),
			    "3f2a9c1b7e20");
	json_decref(j);
	flt.model = "spam";
	assert_int_equal(store_mon_events_json(f->s, &flt, &j), 0);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	flt.kind = "retrain";
	assert_int_equal(store_mon_events_json(f->s, &flt, &j), 0);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	/* The newest N, still oldest first. */
	memset(&flt, 0, sizeof flt);
	flt.limit = 2;
	assert_int_equal(store_mon_events_json(f->s, &flt, &j), 0);
	assert_int_equal(json_array_size(j), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "seq")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "seq")), 3);
	json_decref(j);
	flt.limit = 0;
	flt.since_ms = 1764500000001;
	assert_int_equal(store_mon_events_json(f->s, &flt, &j), 0);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
}

static void test_store_state(void **state)
{
	fix *f = *state;
	store_mon_state st, got;

	assert_int_equal(store_mon_state_get(f->s, "spam", "alert:slow", &got), 0);
	assert_false(got.found);
	assert_true(isnan(got.value));
	st = fresh();
	snprintf(st.model, sizeof st.model, "spam");
	snprintf(st.name, sizeof st.name, "alert:slow");
	st.active = true;
	st.streak = 3;
	snprintf(st.window, sizeof st.window, "2026-11-30T11:00:00Z");
	st.since_ms = 5;
	st.updated_ms = 6;
	st.fired = 2;
	st.value = 25.5;
	snprintf(st.note, sizeof st.note, "v1");
	assert_int_equal(store_mon_state_put(f->s, &st), 0);
	assert_int_equal(store_mon_state_get(f->s, "spam", "alert:slow", &got), 0);
	assert_true(got.found && got.active && got.streak == 3 && got.since_ms == 5 &&
		    got.updated_ms == 6 && got.fired == 2 && got.value == 25.5);
	assert_string_equal(got.window, "2026-11-30T11:00:00Z");
	assert_string_equal(got.note, "v1");
	/* A put replaces the whole row. */
	st.active = false;
	st.value = NAN;
	st.note[0] = '\0';
	assert_int_equal(store_mon_state_put(f->s, &st), 0);
	assert_int_equal(store_mon_state_get(f->s, "spam", "alert:slow", &got), 0);
	assert_false(got.active);
	assert_true(isnan(got.value));
	assert_string_equal(got.note, "");
	/* The project's own state (model ""), and bad keys. */
	snprintf(st.model, sizeof st.model, "%s", "");
	assert_int_equal(store_mon_state_put(f->s, &st), 0);
	assert_int_equal(store_mon_state_get(f->s, "", "alert:slow", &got), 0);
	assert_true(got.found);
	assert_int_equal(store_mon_state_get(f->s, "spam", "", &got), SL_EINVAL);
	assert_int_equal(store_mon_state_get(f->s, "no/such", "x", &got), SL_EINVAL);
}

static void test_store_claim(void **state)
{
	fix *f = *state;
	char holder[STORE_MON_NOTE_MAX];
	bool got = false;
	store_run r = {.id = "run0000001", .pipeline = "retrain", .file = "/p/retrain.yaml",
		       .params_json = "{}", .orchestrator = "local", .pid = 1, .host = "h",
		       .started_ms = 100};

	/* The first asker gets it; a second (another watcher) does not, and learns who has it. */
	assert_int_equal(store_mon_claim(f->s, "spam", "retrain", "watch A", 1000, 0, &got, holder), 0);
	assert_true(got);
	assert_int_equal(store_mon_claim(f->s, "spam", "retrain", "watch B", 1001, 0, &got, holder), 0);
	assert_false(got);
	assert_string_equal(holder, "watch A");
	/* Another model's claim is its own. */
	assert_int_equal(store_mon_claim(f->s, "price", "retrain", "watch B", 1001, 0, &got, NULL), 0);
	assert_true(got);
	/* The holder's run is recorded; while it runs the claim holds. */
	assert_int_equal(store_run_create(f->s, &r), 0);
	assert_int_equal(store_mon_claim_note(f->s, "spam", "retrain", "watch A", "run0000001"), 0);
	assert_int_equal(store_mon_claim(f->s, "spam", "retrain", "watch B", 2000, 0, &got, holder), 0);
	assert_false(got);
	assert_string_equal(holder, "watch A (run run0000001)");
	/* Only the holder changes it. */
	assert_int_equal(store_mon_claim_note(f->s, "spam", "retrain", "watch B", NULL), 0);
	assert_int_equal(store_mon_claim(f->s, "spam", "retrain", "watch B", 2001, 0, &got, NULL), 0);
	assert_false(got);
	/* A holder that died: its run ended (recovery marked it), the claim is free. */
	assert_int_equal(store_run_finish(f->s, "run0000001", ST_FAILED, 3000), 0);
	assert_int_equal(store_mon_claim(f->s, "spam", "retrain", "watch B", 3001, 0, &got, NULL), 0);
	assert_true(got);
	/* Released, it is free at once; held and stale, it is taken over. */
	assert_int_equal(store_mon_claim_note(f->s, "spam", "retrain", "watch B", NULL), 0);
	assert_int_equal(store_mon_claim(f->s, "spam", "retrain", "watch A", 3002, 0, &got, NULL), 0);
	assert_true(got);
	assert_int_equal(store_mon_claim(f->s, "spam", "retrain", "watch B", 3003, 10000, &got, NULL), 0);
	assert_false(got);
	assert_int_equal(store_mon_claim(f->s, "spam", "retrain", "watch B", 20000, 10000, &got, NULL), 0);
	assert_true(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_values),
		cmocka_unit_test(test_rule_dedup),
		cmocka_unit_test(test_rule_same_window),
		cmocka_unit_test(test_rule_name),
		cmocka_unit_test(test_rules_combined),
		cmocka_unit_test(test_triggers_coalesce_and_latch),
		cmocka_unit_test(test_trigger_retry),
		cmocka_unit_test(test_decay_direction),
		cmocka_unit_test(test_run_params),
		cmocka_unit_test(test_cron_due),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_canvas_delivery),
		cmocka_unit_test_setup_teardown(test_store_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
