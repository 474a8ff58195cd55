/*
 * The public serving API (sluice/serve.h): option checks and defaults, the
 * project's place for the inference log (.sluice/inference/), and the
 * server's start. The server itself is src/serve/.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/project.h"
#include "pool.h"
#include "serve/logtable.h"
#include "serve/server.h"
#include "monitor/live.h"

void sl_serve_opts_init(sl_serve_opts *o)
{
	memset(o, 0, sizeof *o);
	o->host = "127.0.0.1";
	o->port = 8080;
	/* One request thread per core the server may run on: under taskset
	 * or a cpuset, more would queue behind each other on the same cores. */
	o->threads = sl__ncpu();
	if (o->threads > SERVE_MAX_WORKERS - 2)
		o->threads = SERVE_MAX_WORKERS - 2;
	o->max_body = (size_t)16 << 20;
	o->max_connections = 1024;
	o->header_timeout_s = 10;
	o->request_timeout_s = 30;
	o->log_durability = "write";
	o->log_policy = "block";
	o->log_segment_bytes = (uint64_t)64 << 20;
	o->log_segment_s = 3600;
	o->log_max_body = (size_t)64 << 10;
	o->reload_ms = 250;
	o->feedback_window = 65536;
	o->drift_interval_s = 60;
}

/* The project's inference log directory (newly allocated). */
static char *project_log_dir(sl_project *p)
{
	return sl__path_join(p->state, "inference");
}

/* A secret read from a file, trailing white space dropped. */
static int read_secret(const char *path, const char *what, char **out)
{
	sl__buf b;
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = sl__read_file(path, 1 << 16, &b)))
		return sl__err_prefix(rc, "%s %s", what, path);
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
			 b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t'))
		b.data[--b.len] = 0;
	if (!b.len) {
		sl__buf_free(&b);
		return sl__err(SL_EINVAL, "%s %s is empty", what, path);
	}
	if (stat(path, &st) == 0 && (st.st_mode & 004) && !strcmp(what, "--token-file")) {
		sl__buf_free(&b);
		return sl__err(SL_EINVAL, "--token-file %s can be read by anyone (chmod 600 it)", path);
	}
	*out = sl__buf_detach(&b);
	return 0;
}

static int check(const sl_serve_opts *o)
{
	if (!o->n_models && !o->ui)
		return sl__err(SL_EINVAL, "nothing to serve: give at least one --model");
	if (!o->threads || o->threads > SERVE_MAX_WORKERS - 2)
		return sl__err(SL_EINVAL, "--threads must be between 1 and %d", SERVE_MAX_WORKERS - 2);
	if (!o->max_body)
		return sl__err(SL_EINVAL, "--max-body must be at least 1 byte");
	if (o->max_body > (size_t)1 << 31)
		return sl__err(SL_EINVAL, "--max-body is at most 2 GiB");
	if (!o->max_connections)
		return sl__err(SL_EINVAL, "--max-connections must be at least 1");
	if (!o->header_timeout_s || !o->request_timeout_s)
		return sl__err(SL_EINVAL, "timeouts must be at least 1 second");
	if (!o->reload_ms)
		return sl__err(SL_EINVAL, "--reload-ms must be at least 1");
	if (o->port > 65535)
		return sl__err(SL_EINVAL, "--port must be at most 65535");
	if (!!o->tls_cert != !!o->tls_key)
		return sl__err(SL_EINVAL, "TLS needs both --tls-cert and --tls-key");
	if (o->log_durability && strcmp(o->log_durability, "write") &&
	    strcmp(o->log_durability, "fsync") && strcmp(o->log_durability, "off"))
		return sl__err(SL_EINVAL, "--log-durability must be write, fsync or off, not '%s'",
			       o->log_durability);
	if (o->log_policy && strcmp(o->log_policy, "block") && strcmp(o->log_policy, "drop"))
		return sl__err(SL_EINVAL, "--log-policy must be block or drop, not '%s'", o->log_policy);
	return 0;
}

static int start(sl_project *p, const sl_serve_opts *o, sl_server *s)
{
	const char *host = o->host ? o->host : "127.0.0.1";
	int rc;

	s->o = *o;
	s->o.models = NULL;
	s->o.n_models = 0;
	s->listen_fd = -1;
	s->start_mono = sl__mono_sec();
	if (!(s->host = sl__strdup(host)))
		return sl__oom();
	/* The model specs are the caller's: keep copies for the sources. */
	s->o.models = sl__calloc(o->n_models, sizeof *s->o.models);
	if (!s->o.models)
		return sl__oom();
	for (size_t i = 0; i < o->n_models; i++) {
		char *c = sl__strdup(o->models[i]);
		if (!c)
			return sl__oom();
		((char **)s->o.models)[i] = c;
		s->o.n_models++;
	}
	if ((rc = sl__random_hex(s->instance, 8)))
		return rc;
	if (o->ui && !p)
		return sl__err(SL_EINVAL, "the web UI shows a project: run it inside one (sluice init)");
	if (o->ui && !(s->ui_root = sl__strdup(sl_project_root(p))))
		return sl__oom();
	if ((rc = access_policy_set(&s->pol, host, o->no_auth, o->auth)))
		return rc;
	{
		char *token = NULL;
		bool any = false;
		if (o->token_file && (rc = read_secret(o->token_file, "--token-file", &token)))
			return rc;
		rc = access_open(p, token, &s->acc);
		if (token)
			explicit_bzero(token, strlen(token));
		sl__free(token);
		if (rc == 0 && !s->pol.off)
			rc = access_any_credential(s->acc, &any);
		if (rc)
			return rc;
		/* A server others can reach that nobody could use the protected
		 * endpoints of is a mistake; on loopback it may wait for a token. */
		if (!s->pol.off && !any && !access_loopback(host))
			return sl__err(SL_EINVAL,
				       "--host %s exposes the server beyond this machine and nobody "
				       "has a token for its protected endpoints (/metrics, feedback, "
				       "reload): give --token-file FILE holding a bearer token, or "
				       "make users' tokens (sluice users add NAME --role ROLE; sluice "
				       "users token NAME)",
				       host);
		/* Checked per request, so a token made later works at once. */
		if (!s->pol.off && !any && s->o.on_event)
			s->o.on_event(s->o.event_ud,
				      "nobody has a token yet: /metrics, feedback and reload answer "
				      "401 until `sluice users token NAME` makes one (or start with "
				      "--no-auth)");
	}
	if (o->tls_cert && ((rc = read_secret(o->tls_cert, "--tls-cert", &s->tls_cert_pem)) ||
			    (rc = read_secret(o->tls_key, "--tls-key", &s->tls_key_pem))))
		return rc;
	/* Stats for requests that name no served model. */
	if (!(s->nomodel = serve_stats_new(s, NULL, NULL, NULL)))
		return sl__oom();
	if ((rc = serve_models_load(s, p)))
		return rc;
	if (p && o->drift_interval_s) {
		/* The canvas's drift thresholds and window for the gauges; a canvas
		 * that does not check is the canvas's problem, not serving's. */
		mon_env env;
		if (api_monitor_env(p, &env, &s->mon_cv))
			serve_event(s, "monitoring with the default thresholds: %s", sl_errmsg());
	}
	s->log_off = o->log_durability && !strcmp(o->log_durability, "off");
	if (o->log_dir)
		s->log_dir = sl__path_abs(o->log_dir);
	else if (p)
		s->log_dir = project_log_dir(p);
	else if (!s->log_off)
		return sl__err(SL_EINVAL, "no project here to keep the inference log in: run "
					  "'sluice init', or give --log-dir DIR");
	if (!s->log_off) {
		ilog_opts lo = {.dir = s->log_dir,
				.durability = o->log_durability && !strcmp(o->log_durability, "fsync")
						      ? ILOG_FSYNC
						      : ILOG_WRITE,
				.policy = o->log_policy && !strcmp(o->log_policy, "drop") ? ILOG_DROP
											    : ILOG_BLOCK,
				.segment_bytes = o->log_segment_bytes,
				.segment_ms = (int64_t)o->log_segment_s * 1000,
				.retention_ms = (int64_t)o->log_retention_s * 1000};
		if (!s->log_dir)
			return sl__oom();
		if ((rc = ilog_open(&lo, &s->log)))
			return rc;
	}
	return serve_start(s);
}

int sl_server_start(sl_project *p, const sl_serve_opts *o, sl_server **out)
{
	sl_server *s;
	int rc;

	sl__err_clear();
	if (!o || !out)
		return sl__err(SL_EINVAL, "sl_server_start: NULL argument");
	*out = NULL;
	if ((rc = check(o)))
		return rc;
	s = sl__calloc(1, sizeof *s);
	if (!s)
		return sl__oom();
	pthread_mutex_init(&s->conns_mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->stats_mu, NULL);
	pthread_mutex_init(&s->mon_mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->reload_done, NULL);
	if ((rc = start(p, o, s))) {
		char msg[SL__ERRMSG_MAX];
		snprintf(msg, sizeof msg, "%s", sl_errmsg());
		sl_server_free(s);
		sl__err(rc, "%s", msg);
		return rc;
	}
	*out = s;
	return 0;
}

/* ---- the inference log ---------------------------------------------------------------- */

static char *logs_dir(sl_project *p, const sl_logs_filter *f)
{
	if (f->log_dir)
		return sl__path_abs(f->log_dir);
	if (!p) {
		sl__err(SL_EINVAL, "no project: give the log directory");
		return NULL;
	}
	return project_log_dir(p);
}

int sl_logs_query(sl_project *p, const sl_logs_filter *f, char **out_json)
{
	serve_logq q;
	json_t *arr = NULL;
	char *dir;
	int rc;

	sl__err_clear();
	if (!f || !out_json)
		return sl__err(SL_EINVAL, "sl_logs_query: NULL argument");
	*out_json = NULL;
	if ((rc = serve_logq_from(f, "--", &q)))
		return rc;
	if (!(dir = logs_dir(p, f)))
		return *sl_errmsg() ? SL_EINVAL : sl__oom();
	rc = serve_logs_query(dir, &q, &arr);
	sl__free(dir);
	if (rc)
		return rc;
	*out_json = sl__json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(arr);
	return *out_json ? 0 : sl__oom();
}

int sl_logs_export(sl_project *p, const sl_logs_filter *f, const char *format, const char *out_path)
{
	serve_logq q;
	ds_builder *b = NULL;
	ds_table *t = NULL;
	size_t rows;
	char *dir;
	int rc;

	sl__err_clear();
	if (!f || !format || !out_path)
		return sl__err(SL_EINVAL, "sl_logs_export: NULL argument");
	if (!f->model)
		return sl__err(SL_EINVAL, "exporting the log needs a model (--model NAME)");
	if (strcmp(format, "csv") && strcmp(format, "jsonl"))
		return sl__err(SL_EINVAL, "--format must be csv or jsonl, not '%s'", format);
	if ((rc = serve_logq_from(f, "--", &q)))
		return rc;
	if (!(dir = logs_dir(p, f)))
		return *sl_errmsg() ? SL_EINVAL : sl__oom();
	rc = serve_log_table(dir, &q, SERVE_TABLE_EXPORT, false, &b, &rows);
	sl__free(dir);
	if (rc == 0)
		rc = ds_builder_finish(b, &t);
	if (rc == 0)
		rc = ds_export_table(t, format, out_path);
	ds_close(t);
	ds_builder_free(b);
	return rc;
}
