/*
 * The server's counters and their Prometheus exposition (server.h).
 *
 * Each worker counts into its own slot of a version's stats (a cache line
 * of its own), with relaxed atomic loads and stores: one writer per slot,
 * so a count is never lost and the hot path takes no lock and shares no
 * cache line. /metrics sums the slots. A version's stats stay in the
 * server's list after the version is retired, so counters only grow.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "serve/server.h"

/* Bumps a counter that only the calling worker writes. */
#define BUMP(x, d) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (d), __ATOMIC_RELAXED)
#define READ(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static const int codes[SERVE_CODES] = {200, 400, 401, 403, 404, 405, 408,
				       413, 415, 422, 429, 500, 503, 0};
/* Latency bucket bounds in microseconds (the last is +Inf). */
static const uint64_t lat_us[SERVE_LAT_BUCKETS - 1] = {
	25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
static const double proba_b[SERVE_PRED_BUCKETS - 1] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1};
static const double value_b[SERVE_PRED_BUCKETS - 1] = {-1000, -100, -10, -1, 0, 1, 10, 100, 1000, 10000};

static void add_f64(double *x, double d)
{
	double v;

	__atomic_load(x, &v, __ATOMIC_RELAXED);
	v += d;
	__atomic_store(x, &v, __ATOMIC_RELAXED);
}

static double read_f64(double *x)
{
	double v;

	__atomic_load(x, &v, __ATOMIC_RELAXED);
	return v;
}

static size_t code_index(int code)
{
	for (size_t i = 0; i + 1 < SERVE_CODES; i++)
		if (codes[i] == code)
			return i;
	return SERVE_CODES - 1;
}

serve_vstats *serve_stats_new(sl_server *s, const char *model, const char *version,
			      const serve_sig *sig)
{
	/* Workers' slots start on cache lines of their own. */
	char *mem;
	serve_vstats *st;

	/* A version served again (a file swapped back) counts on where it
	 * left off: one series per model and version. */
	pthread_mutex_lock(&s->stats_mu);
	for (st = s->stats; st; st = st->next)
		if (model && st->model && version && st->version && !strcmp(st->model, model) &&
		    !strcmp(st->version, version))
			break;
	pthread_mutex_unlock(&s->stats_mu);
	if (st)
		return st;
	if (!(mem = sl__calloc(1, sizeof(serve_vstats) + 64)))
		return NULL;
	st = (serve_vstats *)(void *)(mem + (64 - (uintptr_t)mem % 64) % 64);
	st->mem = mem;
	if ((model && !(st->model = sl__strdup(model))) ||
	    (version && !(st->version = sl__strdup(version))))
		goto fail;
	if (sig && ml_task_is_classifier(sig->task)) {
		const ml_signature *ms = &sig->m->sig;
		st->proba = true;
		st->n_classes = ms->n_classes;
		st->classes = sl__calloc(ms->n_classes, sizeof *st->classes);
		st->class_counts = sl__calloc(SERVE_MAX_WORKERS * ms->n_classes, sizeof(uint64_t));
		if (!st->classes || !st->class_counts)
			goto fail;
		for (size_t c = 0; c < ms->n_classes; c++)
			if (!(st->classes[c] = sl__strdup(ms->classes[c])))
				goto fail;
	}
	pthread_mutex_lock(&s->stats_mu);
	st->next = s->stats;
	s->stats = st;
	pthread_mutex_unlock(&s->stats_mu);
	return st;
fail:
	for (size_t c = 0; st->classes && c < st->n_classes; c++)
		sl__free(st->classes[c]);
	sl__free(st->classes);
	sl__free(st->class_counts);
	sl__free(st->model);
	sl__free(st->version);
	sl__free(st->mem);
	return NULL;
}

void serve_stats_free(sl_server *s)
{
	serve_vstats *st = s->stats, *next;

	for (; st; st = next) {
		next = st->next;
		for (size_t c = 0; c < st->n_classes; c++)
			sl__free(st->classes[c]);
		sl__free(st->classes);
		sl__free(st->class_counts);
		sl__free(st->model);
		sl__free(st->version);
		sl__free(st->mem);
	}
	s->stats = NULL;
}

void serve_count(serve_worker *w, serve_vstats *st, int code, uint64_t latency_us,
		 const serve_result *res)
{
	serve_wstats *ws = &st->w[w->id];
	size_t b = 0;

	BUMP(ws->req[code_index(code)], 1);
	while (b + 1 < SERVE_LAT_BUCKETS && latency_us > lat_us[b])
		b++;
	BUMP(ws->lat[b], 1);
	BUMP(ws->lat_sum_us, latency_us);
	if (!res || !res->out)
		return;
	for (size_t i = 0; i < res->n; i++) {
		double v = res->out[i * res->k];
		const double *bounds = st->proba ? proba_b : value_b;
		if (!isfinite(v))
			continue;
		b = 0;
		while (b + 1 < SERVE_PRED_BUCKETS && v > bounds[b])
			b++;
		BUMP(ws->pred[b], 1);
		add_f64(&ws->pred_sum, v);
		BUMP(ws->pred_n, 1);
		if (res->label && st->class_counts)
			BUMP(st->class_counts[(size_t)w->id * st->n_classes + res->label[i]], 1);
	}
}

/* ---- exposition --------------------------------------------------------------------- */

/* A label value with Prometheus's escapes. */
static void put_label(sl__buf *o, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			sl__buf_putc(o, '\\');
		if (*v == '\n') {
			sl__buf_puts(o, "\\n");
			continue;
		}
		sl__buf_putc(o, *v);
	}
}

static void labels(sl__buf *o, const serve_vstats *st)
{
	sl__buf_puts(o, "model=\"");
	put_label(o, st->model);
	sl__buf_puts(o, "\",version=\"");
	put_label(o, st->version);
	sl__buf_puts(o, "\"");
}

static void put_num(sl__buf *o, double v)
{
	char buf[DS_F64_BUF];

	if (isnan(v))
		sl__buf_puts(o, "NaN");
	else if (isinf(v))
		sl__buf_puts(o, v > 0 ? "+Inf" : "-Inf");
	else {
		ds_format_f64(v, buf);
		sl__buf_puts(o, buf);
	}
}

static void help(sl__buf *o, const char *name, const char *type, const char *text)
{
	sl__buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void requests(sl_server *s, sl__buf *o)
{
	help(o, "sluice_requests_total", "counter",
	     "Requests answered, by model, version and HTTP status code.");
	for (serve_vstats *st = s->stats; st; st = st->next)
		for (size_t c = 0; c < SERVE_CODES; c++) {
			uint64_t n = 0;
			for (int w = 0; w < SERVE_MAX_WORKERS; w++)
				n += READ(st->w[w].req[c]);
			if (!n)
				continue;
			sl__buf_puts(o, "sluice_requests_total{");
			labels(o, st);
			if (codes[c])
				sl__buf_printf(o, ",code=\"%d\"} %llu\n", codes[c], (unsigned long long)n);
			else
				sl__buf_printf(o, ",code=\"other\"} %llu\n", (unsigned long long)n);
		}
	help(o, "sluice_request_duration_seconds", "histogram",
	     "Time from a request's headers to its response being queued (parse, score, log).");
	for (serve_vstats *st = s->stats; st; st = st->next) {
		uint64_t cum = 0, sum = 0;
		for (int w = 0; w < SERVE_MAX_WORKERS; w++)
			sum += READ(st->w[w].lat_sum_us);
		for (size_t b = 0; b < SERVE_LAT_BUCKETS; b++) {
			for (int w = 0; w < SERVE_MAX_WORKERS; w++)
				cum += READ(st->w[w].lat[b]);
			sl__buf_puts(o, "sluice_request_duration_seconds_bucket{");
			labels(o, st);
			if (b + 1 < SERVE_LAT_BUCKETS)
				sl__buf_printf(o, ",le=\"%g\"} %llu\n", (double)lat_us[b] / 1e6,
					       (unsigned long long)cum);
			else
				sl__buf_printf(o, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		sl__buf_puts(o, "sluice_request_duration_seconds_sum{");
		labels(o, st);
		sl__buf_puts(o, "} ");
		put_num(o, (double)sum / 1e6);
		sl__buf_puts(o, "\nsluice_request_duration_seconds_count{");
		labels(o, st);
		sl__buf_printf(o, "} %llu\n", (unsigned long long)cum);
	}
}

static void predictions(sl_server *s, sl__buf *o)
{
	help(o, "sluice_prediction", "histogram",
	     "The first output of each scored row: a probability for classifiers, the value otherwise.");
	for (serve_vstats *st = s->stats; st; st = st->next) {
		uint64_t cum = 0, n = 0;
		double sum = 0;
		if (!st->model)
			continue;
		for (int w = 0; w < SERVE_MAX_WORKERS; w++) {
			n += READ(st->w[w].pred_n);
			sum += read_f64(&st->w[w].pred_sum);
		}
		for (size_t b = 0; b < SERVE_PRED_BUCKETS; b++) {
			for (int w = 0; w < SERVE_MAX_WORKERS; w++)
				cum += READ(st->w[w].pred[b]);
			sl__buf_puts(o, "sluice_prediction_bucket{");
			labels(o, st);
			sl__buf_puts(o, ",le=\"");
			if (b + 1 < SERVE_PRED_BUCKETS)
				put_num(o, st->proba ? proba_b[b] : value_b[b]);
			else
				sl__buf_puts(o, "+Inf");
			sl__buf_printf(o, "\"} %llu\n", (unsigned long long)cum);
		}
		sl__buf_puts(o, "sluice_prediction_sum{");
		labels(o, st);
		sl__buf_puts(o, "} ");
		put_num(o, sum);
		sl__buf_puts(o, "\nsluice_prediction_count{");
		labels(o, st);
		sl__buf_printf(o, "} %llu\n", (unsigned long long)n);
	}
	help(o, "sluice_predicted_class_total", "counter", "Rows predicted as each class.");
	for (serve_vstats *st = s->stats; st; st = st->next)
		for (size_t c = 0; c < st->n_classes; c++) {
			uint64_t n = 0;
			for (int w = 0; w < SERVE_MAX_WORKERS; w++)
				n += READ(st->class_counts[(size_t)w * st->n_classes + c]);
			sl__buf_puts(o, "sluice_predicted_class_total{");
			labels(o, st);
			sl__buf_puts(o, ",class=\"");
			put_label(o, st->classes[c]);
			sl__buf_printf(o, "\"} %llu\n", (unsigned long long)n);
		}
}

/*
 * A served model's labels: model="NAME", and when another served model has
 * the same name (--model spam --model spam@staging), ref="REF" too (the
 * registry reference's REF, or the file's path), so no two series of a
 * family have one label set.
 */
static void model_labels(sl_server *s, const serve_model *m, sl__buf *o)
{
	bool shared = false;

	for (size_t i = 0; i < s->n_models && !shared; i++)
		shared = s->models[i] != m && !strcmp(s->models[i]->name, m->name);
	sl__buf_puts(o, "model=\"");
	put_label(o, m->name);
	if (shared) {
		sl__buf_puts(o, "\",ref=\"");
		put_label(o, m->src->ref);
	}
	sl__buf_putc(o, '"');
}

/* One series of a per-model family: NAME{labels[,extra]} (the value follows). */
static void model_series(sl_server *s, const serve_model *m, sl__buf *o, const char *family,
			 const char *extra_name, const char *extra_value)
{
	sl__buf_puts(o, family);
	sl__buf_putc(o, '{');
	model_labels(s, m, o);
	if (extra_name) {
		sl__buf_printf(o, ",%s=\"", extra_name);
		put_label(o, extra_value);
		sl__buf_putc(o, '"');
	}
	sl__buf_puts(o, "} ");
}

static void models(sl_server *s, serve_worker *w, sl__buf *o)
{
	help(o, "sluice_model_loads_total", "counter", "Versions of a model loaded and swapped in.");
	for (size_t i = 0; i < s->n_models; i++) {
		model_series(s, s->models[i], o, "sluice_model_loads_total", NULL, NULL);
		sl__buf_printf(o, "%llu\n", (unsigned long long)atomic_load(&s->models[i]->loads));
	}
	help(o, "sluice_model_load_failures_total", "counter",
	     "Versions that failed to load (the previous one kept serving).");
	for (size_t i = 0; i < s->n_models; i++) {
		model_series(s, s->models[i], o, "sluice_model_load_failures_total", NULL, NULL);
		sl__buf_printf(o, "%llu\n", (unsigned long long)atomic_load(&s->models[i]->failures));
	}
	help(o, "sluice_model_info", "gauge", "The version each model serves now (value 1).");
	for (size_t i = 0; i < s->n_models; i++) {
		serve_model *m = s->models[i];
		serve_version *v = serve_acquire(w, m);
		if (v) {
			model_series(s, m, o, "sluice_model_info", "version", v->label);
			sl__buf_puts(o, "1\n");
		}
		serve_release(w);
	}
	help(o, "sluice_feedback_labels_total", "counter", "Labels accepted by the feedback endpoint.");
	for (size_t i = 0; i < s->n_models; i++) {
		serve_model *m = s->models[i];
		pthread_mutex_lock(&m->live_mu);
		model_series(s, m, o, "sluice_feedback_labels_total", NULL, NULL);
		sl__buf_printf(o, "%llu\n", (unsigned long long)m->feedback_n);
		pthread_mutex_unlock(&m->live_mu);
	}
	help(o, "sluice_live_metric", "gauge",
	     "Over the latest feedback labels (at most 1000): accuracy for classifiers, mean "
	     "absolute error otherwise.");
	for (size_t i = 0; i < s->n_models; i++) {
		serve_model *m = s->models[i];
		serve_version *v = serve_acquire(w, m);
		const char *name = v && ml_task_is_classifier(v->sig.task) ? "accuracy" : "mae";
		serve_release(w);
		pthread_mutex_lock(&m->live_mu);
		if (m->live_n) {
			model_series(s, m, o, "sluice_live_metric", "metric", name);
			put_num(o, m->live_sum / (double)m->live_n);
			sl__buf_putc(o, '\n');
			model_series(s, m, o, "sluice_live_window", NULL, NULL);
			sl__buf_printf(o, "%zu\n", m->live_n);
		}
		pthread_mutex_unlock(&m->live_mu);
	}
}

int serve_metrics(sl_server *s, serve_worker *w, sl__buf *o)
{
	uint64_t inflight = 0;
	int nw = atomic_load(&s->n_workers);

	pthread_mutex_lock(&s->stats_mu);
	requests(s, o);
	predictions(s, o);
	pthread_mutex_unlock(&s->stats_mu);
	models(s, w, o);
	for (int i = 0; i < nw; i++) {
		serve_worker *x = atomic_load(&s->workers[i]);
		if (x)
			inflight += atomic_load(&x->started) - atomic_load(&x->finished);
	}
	help(o, "sluice_requests_in_flight", "gauge", "Requests received and not yet answered.");
	sl__buf_printf(o, "sluice_requests_in_flight %llu\n", (unsigned long long)inflight);
	/* How the connections' load falls on the request threads: a thread
	 * far behind the others is a core left idle. (The monitor's thread
	 * has a worker too, and never a request.) */
	help(o, "sluice_thread_requests_total", "counter",
	     "Requests taken by each request thread (numbered in the order of their first).");
	for (int i = 0; i < nw; i++) {
		serve_worker *x = atomic_load(&s->workers[i]);
		uint64_t n = x ? atomic_load(&x->started) : 0;
		if (n)
			sl__buf_printf(o, "sluice_thread_requests_total{thread=\"%d\"} %llu\n", x->id,
				       (unsigned long long)n);
	}
	if (s->log) {
		ilog_stats st;
		ilog_stats_get(s->log, &st);
		help(o, "sluice_log_queue_depth", "gauge",
		     "Requests whose log record waits for the next log chunk to be mapped.");
		sl__buf_printf(o, "sluice_log_queue_depth %llu\n", (unsigned long long)st.waiting);
		help(o, "sluice_log_records_written_total", "counter", "Log records written.");
		sl__buf_printf(o, "sluice_log_records_written_total %llu\n", (unsigned long long)st.written);
		help(o, "sluice_log_records_dropped_total", "counter",
		     "Log records dropped because the queue was full (--log-policy drop).");
		sl__buf_printf(o, "sluice_log_records_dropped_total %llu\n", (unsigned long long)st.dropped);
		help(o, "sluice_log_records_failed_total", "counter",
		     "Log records that found no room (a full disk); their requests got 503.");
		sl__buf_printf(o, "sluice_log_records_failed_total %llu\n", (unsigned long long)st.failed);
		help(o, "sluice_log_records_fsynced_total", "counter",
		     "Log records made durable by fdatasync (--log-durability fsync).");
		sl__buf_printf(o, "sluice_log_records_fsynced_total %llu\n", (unsigned long long)st.fsynced);
		help(o, "sluice_log_chunks_total", "counter", "Log chunks mapped (each a few MiB of records).");
		sl__buf_printf(o, "sluice_log_chunks_total %llu\n", (unsigned long long)st.rotations);
		help(o, "sluice_log_segments_ready_total", "counter",
		     "Log segments swapped in ready-made (file and first chunk prepared ahead).");
		sl__buf_printf(o, "sluice_log_segments_ready_total %llu\n", (unsigned long long)st.seg_ready);
		help(o, "sluice_log_segments_unready_total", "counter",
		     "Log segments the rotation had to make or finish itself while requests waited.");
		sl__buf_printf(o, "sluice_log_segments_unready_total %llu\n", (unsigned long long)st.seg_unready);
		help(o, "sluice_log_rotation_seconds", "histogram",
		     "Time a request (or the age rotation) spent mapping the next log chunk, "
		     "kind=\"segment\" when it was a new segment's first.");
		for (int k = 0; k < 2; k++) {
			const char *kind = k ? "segment" : "chunk";
			uint64_t cum = 0;
			for (int b = 0; b < ILOG_ROT_BUCKETS; b++) {
				cum += st.rot_hist[k][b];
				if (b + 1 < ILOG_ROT_BUCKETS)
					sl__buf_printf(o, "sluice_log_rotation_seconds_bucket{kind=\"%s\",le=\"%g\"} %llu\n",
						       kind, (double)ILOG_ROT_US(b) / 1e6, (unsigned long long)cum);
				else
					sl__buf_printf(o, "sluice_log_rotation_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n",
						       kind, (unsigned long long)cum);
			}
			sl__buf_printf(o, "sluice_log_rotation_seconds_sum{kind=\"%s\"} ", kind);
			put_num(o, (double)st.rot_ns[k] / 1e9);
			sl__buf_printf(o, "\nsluice_log_rotation_seconds_count{kind=\"%s\"} %llu\n", kind,
				       (unsigned long long)cum);
		}
		help(o, "sluice_log_fsyncs_total", "counter", "fdatasync calls, each a group commit.");
		sl__buf_printf(o, "sluice_log_fsyncs_total %llu\n", (unsigned long long)st.fsyncs);
		help(o, "sluice_log_segments_closed_total", "counter", "Log segments closed.");
		sl__buf_printf(o, "sluice_log_segments_closed_total %llu\n", (unsigned long long)st.segments);
	}
	serve_monitor_metrics(s, o);
	help(o, "sluice_uptime_seconds", "gauge", "Seconds since the server started.");
	sl__buf_puts(o, "sluice_uptime_seconds ");
	put_num(o, floor((sl__mono_sec() - s->start_mono) * 1000) / 1000);
	sl__buf_puts(o, "\n");
	return o->data ? 0 : sl__oom();
}
