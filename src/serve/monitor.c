/*
 * Live monitoring's gauges in /metrics: a thread of the server evaluates
 * each served model's newest window (monitor/live.h) every
 * drift_interval_s seconds, off the request path, and keeps the rendered
 * exposition text; /metrics copies it under a mutex. Requests never wait
 * for an evaluation, and an evaluation reads the log as any reader does
 * (the open segment through the page cache), so serving does not notice
 * it beyond the CPU it takes. With the monitoring loop in the same server
 * (serve --monitor), a window the loop evaluated within the interval is
 * not evaluated again: its report is taken (live.h, mon_report_recent),
 * which halves what monitoring costs when both run.
 *
 * Which bundle is the reference: the version serving now, pinned with a
 * worker hazard (server.h, invariant 1) while its path and label are
 * copied. A file replaced between that copy and the evaluation is read as
 * the new file; the window is still the old version's requests, and the
 * next evaluation sets it right.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor/live.h"
#include "serve/server.h"

/* A Prometheus label value: backslash, quote and newline escaped. */
static int put_label(sl__buf *o, const char *v)
{
	int rc = 0;

	for (; v && *v && !rc; v++) {
		if (*v == '\\')
			rc = sl__buf_puts(o, "\\\\");
		else if (*v == '"')
			rc = sl__buf_puts(o, "\\\"");
		else if (*v == '\n')
			rc = sl__buf_puts(o, "\\n");
		else
			rc = sl__buf_printf(o, "%c", *v);
	}
	return rc;
}

static void put_value(sl__buf *o, double v)
{
	if (isnan(v))
		sl__buf_puts(o, " NaN\n");
	else if (isinf(v))
		sl__buf_puts(o, v > 0 ? " +Inf\n" : " -Inf\n");
	else
		sl__buf_printf(o, " %.17g\n", v);
}

static double dnum(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One gauge line: NAME{model="..",version=".."[,KEY=".."]} VALUE. */
static void gauge(sl__buf *o, const char *name, const char *model, const char *version,
		  const char *key, const char *kval, const char *key2, const char *kval2, double v)
{
	sl__buf_printf(o, "%s{model=\"", name);
	put_label(o, model);
	sl__buf_puts(o, "\",version=\"");
	put_label(o, version);
	if (key) {
		sl__buf_printf(o, "\",%s=\"", key);
		put_label(o, kval);
	}
	if (key2) {
		sl__buf_printf(o, "\",%s=\"", key2);
		put_label(o, kval2);
	}
	sl__buf_puts(o, "\"}");
	put_value(o, v);
}

/*
 * The samples of one metric family of one report into o. Families are
 * written one after the other, each with its HELP and TYPE first: the
 * text format wants a family's samples in one group.
 */
static void report_gauges(sl__buf *o, const json_t *rep, const char *family)
{
	const char *model = json_string_value(json_object_get(rep, "model"));
	const char *version = json_string_value(json_object_get(rep, "served_as"));
	const json_t *f, *v;
	const char *k;
	size_t i;

	if (!strcmp(family, "sluice_monitor_window_requests")) {
		gauge(o, family, model, version, NULL, NULL, NULL, NULL,
		      dnum(json_object_get(json_object_get(rep, "window"), "requests")));
	} else if (!strcmp(family, "sluice_monitor_dataset_drift")) {
		gauge(o, family, model, version, NULL, NULL, NULL, NULL,
		      json_is_true(json_object_get(rep, "dataset_drift")));
	} else if (!strcmp(family, "sluice_monitor_drift_share")) {
		gauge(o, family, model, version, NULL, NULL, NULL, NULL,
		      dnum(json_object_get(rep, "drift_share")));
	} else if (!strcmp(family, "sluice_monitor_prediction_drift_statistic")) {
		f = json_object_get(rep, "prediction_drift");
		if (json_is_object(f))
			gauge(o, family, model, version, "test",
			      json_string_value(json_object_get(f, "test")), NULL, NULL,
			      dnum(json_object_get(f, "statistic")));
	} else if (!strcmp(family, "sluice_monitor_live_metric")) {
		json_object_foreach((json_t *)json_object_get(rep, "live"), k, v)
			if (json_is_number(v) && strcmp(k, "labelled"))
				gauge(o, family, model, version, "metric", k, NULL, NULL, dnum(v));
	} else if (!strcmp(family, "sluice_monitor_estimated_metric")) {
		static const char *const bounds[] = {"value", "lower", "upper"};
		json_object_foreach((json_t *)json_object_get(rep, "estimated"), k, v) {
			if (!json_is_object(v) || !json_object_get(v, "value"))
				continue;
			for (size_t b = 0; b < 3; b++)
				gauge(o, family, model, version, "metric", k, "bound", bounds[b],
				      dnum(json_object_get(v, bounds[b])));
		}
	} else {
		/* The per-feature families. */
		json_array_foreach(json_object_get(rep, "features"), i, f) {
			const char *name = json_string_value(json_object_get(f, "name"));
			const char *test = json_string_value(json_object_get(f, "test"));
			if (!strcmp(family, "sluice_monitor_drift_statistic"))
				gauge(o, family, model, version, "feature", name, "test", test,
				      dnum(json_object_get(f, "statistic")));
			else if (!strcmp(family, "sluice_monitor_drift_p_value") &&
				 json_is_number(json_object_get(f, "p_value")))
				gauge(o, family, model, version, "feature", name, "test", test,
				      dnum(json_object_get(f, "p_value")));
			else if (!strcmp(family, "sluice_monitor_drift_psi"))
				gauge(o, family, model, version, "feature", name, NULL, NULL,
				      dnum(json_object_get(f, "psi")));
			else if (!strcmp(family, "sluice_monitor_drift_detected"))
				gauge(o, family, model, version, "feature", name, NULL, NULL,
				      json_is_true(json_object_get(f, "drift")));
		}
	}
}

static const struct {
	const char *family, *help;
} families[] = {
	{"sluice_monitor_window_requests", "Requests in the last evaluated monitoring window."},
	{"sluice_monitor_dataset_drift",
	 "1 when the share of drifted features reached the threshold in the last window."},
	{"sluice_monitor_drift_share", "Share of features that drifted in the last window."},
	{"sluice_monitor_drift_statistic", "The deciding drift test's statistic per feature."},
	{"sluice_monitor_drift_p_value", "The p-value of a p-value drift test per feature."},
	{"sluice_monitor_drift_psi", "Population stability index per feature."},
	{"sluice_monitor_drift_detected", "1 when the feature drifted in the last window."},
	{"sluice_monitor_prediction_drift_statistic", "Drift of the model's output."},
	{"sluice_monitor_live_metric",
	 "A metric realised on the window's requests that have feedback labels."},
	{"sluice_monitor_estimated_metric",
	 "A metric estimated without labels (CBPE) over the window, with its 95% band."},
};

/* Evaluates every served model once and swaps in the new gauges. */
static void evaluate(sl_server *s, serve_worker *w)
{
	json_t **reps = sl__calloc(s->n_models ? s->n_models : 1, sizeof *reps);
	mon_env env = {.log_dir = s->log_dir, .cv = s->mon_cv};
	sl__buf o;

	if (!reps)
		return;
	for (size_t i = 0; i < s->n_models; i++) {
		serve_model *m = s->models[i];
		serve_version *v = serve_acquire(w, m);
		char *path = v ? sl__strdup(v->path) : NULL, *label = v ? sl__strdup(v->label) : NULL;
		serve_release(w);
		if (path && label) {
			mon_window win = {.requests = s->o.drift_window, .version = label,
					  .bundle_path = path};
			/* The monitoring loop's report of the same window, when it
			 * made one within the interval (live.h), else our own. */
			int rc = mon_report_recent(&env, m->name, &win,
						   (int64_t)s->o.drift_interval_s * 1000, &reps[i]);
			if (rc == SL_ENOENT)
				rc = mon_report(&env, m->name, &win, &reps[i]);
			/* A model nobody asked yet is no news; anything else is said
			 * once, not every period. */
			if (rc && rc != SL_ENOENT && strcmp(m->mon_error, sl_errmsg())) {
				snprintf(m->mon_error, sizeof m->mon_error, "%s", sl_errmsg());
				serve_event(s, "%s: monitoring: %s", m->name, m->mon_error);
			} else if (rc == 0) {
				m->mon_error[0] = 0;
			}
		}
		sl__free(path);
		sl__free(label);
	}
	sl__buf_init(&o, 0);
	for (size_t f = 0; f < SL__ARRAY_LEN(families); f++) {
		bool any = false;
		for (size_t i = 0; i < s->n_models; i++)
			any = any || reps[i];
		if (!any)
			break;
		sl__buf_printf(&o, "# HELP %s %s\n# TYPE %s gauge\n", families[f].family,
			       families[f].help, families[f].family);
		for (size_t i = 0; i < s->n_models; i++)
			if (reps[i])
				report_gauges(&o, reps[i], families[f].family);
	}
	for (size_t i = 0; i < s->n_models; i++)
		json_decref(reps[i]);
	sl__free(reps);
	pthread_mutex_lock(&s->mon_mu);
	sl__free(s->mon_text);
	s->mon_text = o.data ? sl__buf_detach(&o) : NULL;
	pthread_mutex_unlock(&s->mon_mu);
	sl__buf_free(&o);
}

static void *monitor_main(void *arg)
{
	sl_server *s = arg;
	serve_worker *w = serve_worker_self(s);

	sl__thread_name("sl-drift");
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)s->o.drift_interval_s;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->mu);
		if (w)
			evaluate(s, w);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int serve_monitor_start(sl_server *s)
{
	if (!s->o.drift_interval_s || s->log_off || !s->log_dir)
		return 0;
	if (pthread_create(&s->monitor, NULL, monitor_main, s))
		return sl__err(SL_ESYS, "cannot start the monitoring thread");
	s->monitor_started = true;
	return 0;
}

void serve_monitor_stop(sl_server *s)
{
	if (!s->monitor_started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->monitor, NULL);
	s->monitor_started = false;
}

int serve_monitor_metrics(sl_server *s, sl__buf *o)
{
	int rc = 0;

	pthread_mutex_lock(&s->mon_mu);
	if (s->mon_text)
		rc = sl__buf_puts(o, s->mon_text);
	pthread_mutex_unlock(&s->mon_mu);
	return rc;
}
