/*
 * What the server serves and for how long (server.h): model sources, the
 * loading and warming of versions, hot reload, and the lifetime of a
 * version once another has replaced it.
 *
 *   reload thread, every reload period, per model:
 *     poll the source --unchanged--> nothing
 *          | a new ref
 *     load the bundle, build its serve_sig and metadata, warm it
 *          | failed: count it, report it, keep serving the old one
 *     publish: cur = new (one atomic store; the next request sees it)
 *     retire the old one: wait until no worker's hazard names it, free it
 *
 * A request never waits for a load: it reads `cur` and announces what it
 * read in its hazard slot (serve_acquire), so the swap costs requests
 * nothing and none fails across it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/server.h"


void serve_event(sl_server *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!s->o.on_event)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->o.on_event(s->o.event_ud, line);
}

/* ---- the file source ---------------------------------------------------------------- */

typedef struct file_source {
	serve_source base;
	char *path;
	struct stat last;
	bool have_last;
} file_source;

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int file_poll(serve_source *src, bool force, bool *changed, serve_ref *out)
{
	file_source *f = (file_source *)src;
	struct stat st;

	*changed = false;
	if (stat(f->path, &st))
		return sl__err(errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", f->path,
			       strerror(errno));
	if (!force && f->have_last && same_file(&st, &f->last))
		return 0;
	f->last = st;
	f->have_last = true;
	memset(out, 0, sizeof *out);
	if (!(out->path = sl__strdup(f->path)))
		return sl__oom();
	*changed = true;
	return 0;
}

static void file_free(serve_source *src)
{
	file_source *f = (file_source *)src;

	sl__free(f->path);
	sl__free(f->base.name);
	sl__free(f);
}

static const serve_source_ops file_ops = {"file", file_poll, file_free};

/* ---- the registry source -------------------------------------------------------------- */

/*
 * A registered model's version behind a reference (NAME@production,
 * NAME@3, NAME@latest), followed through the public registry API:
 *
 *   every period:  sl_model_changes --same count--> nothing (one indexed read)
 *                        | moved
 *                  sl_model_resolve --same version--> nothing (a tag, another alias)
 *                        | another version
 *                  sl_model_path (the bundle, its hash checked) --> the new ref
 *
 * Invariants:
 *  1. The source has a project handle of its own, so a store connection of
 *     its own (SQLite or PostgreSQL), used only by the thread that polls:
 *     the start thread for the first load, then the reload thread alone
 *     (serve_source_ops: one thread at a time). Request threads never touch
 *     the store, and the caller's project may be closed once the server
 *     has started.
 *  2. A change count is answered once: when what it leads to fails (an
 *     alias removed, a damaged bundle), the failure is reported and counted
 *     once, and the next move (or a forced reload) tries again. Only a
 *     failure to read the count itself (the store unreachable) is retried
 *     every period.
 *  3. The label a version is served under is its registry version number,
 *     read in the same call that found the bundle: never a number that
 *     belongs to another bundle.
 */
typedef struct registry_source {
	serve_source base;
	sl_project *p;
	char *ref;          /* NAME@REF, REF defaulting to production */
	long long changes;  /* the model's change count last answered */
	bool seen;          /* changes holds one */
	long long version;  /* the version last handed to the server, 0 before */
} registry_source;

static int registry_poll(serve_source *src, bool force, bool *changed, serve_ref *out)
{
	registry_source *r = (registry_source *)src;
	long long changes, version;
	char *path = NULL;
	int rc;

	*changed = false;
	if ((rc = sl_model_changes(r->p, r->base.name, &changes)))
		return rc;
	if (!force && r->seen && changes == r->changes)
		return 0;
	r->changes = changes; /* invariant 2 */
	r->seen = true;
	if ((rc = sl_model_resolve(r->p, r->ref, &version)))
		return rc;
	if (!force && version == r->version)
		return 0;
	if ((rc = sl_model_path(r->p, r->ref, &path, &version)))
		return rc;
	memset(out, 0, sizeof *out);
	snprintf(out->version, sizeof out->version, "%lld", version);
	out->path = path; /* sl_free and sl__free are one allocator */
	r->version = version;
	*changed = true;
	return 0;
}

static void registry_free(serve_source *src)
{
	registry_source *r = (registry_source *)src;

	sl_project_close(r->p);
	sl__free(r->ref);
	sl__free(r->base.name);
	sl__free(r);
}

static const serve_source_ops registry_ops = {"registry", registry_poll, registry_free};

/* A registry source for NAME[@REF] (name_len bytes of name, checked by the caller). */
static int registry_open(sl_project *p, const char *spec, size_t name_len, serve_source **out)
{
	registry_source *r;
	int rc;

	if (!p)
		return sl__err(SL_EINVAL,
			       "--model %s: no such file, and no sluice project here whose registry "
			       "could hold a model of that name (run sluice serve inside the project, "
			       "or set SLUICE_HOME)",
			       spec);
	if (!(r = sl__calloc(1, sizeof *r)))
		return sl__oom();
	r->base.ops = &registry_ops;
	r->base.name = sl__strndup(spec, name_len);
	r->ref = spec[name_len] ? sl__strdup(spec) : sl__asprintf("%s@production", spec);
	if (!r->base.name || !r->ref) {
		registry_free(&r->base);
		return sl__oom();
	}
	r->base.ref = r->ref + name_len + 1;
	/* Invariant 1: a handle (and store connection) of the source's own. */
	if ((rc = sl_project_open(sl_project_root(p), &r->p))) {
		registry_free(&r->base);
		return sl__err_prefix(rc, "--model %s", spec);
	}
	*out = &r->base;
	return 0;
}

/* Model names go into URLs and metric labels: keep them plain. */
static bool good_name(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* The manifest's "name", else the file name without its extension. */
static char *name_of(const char *path)
{
	const char *base = strrchr(path, '/'), *dot;
	mfile *f;
	char *name = NULL;

	if (mfile_open(path, &f) == 0) {
		const char *n = json_string_value(json_object_get(mfile_manifest(f), "name"));
		if (n && good_name(n, strlen(n)))
			name = sl__strdup(n);
		mfile_close(f);
		if (name)
			return name;
	}
	sl__err_clear();
	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	return sl__strndup(base, dot && dot > base ? (size_t)(dot - base) : strlen(base));
}

int serve_source_open(sl_project *p, const char *spec, serve_source **out)
{
	const char *eq = strchr(spec, '=');
	file_source *f;
	char *name;

	*out = NULL;
	if (!eq && !sl__is_file(spec)) {
		const char *at = strchr(spec, '@');
		size_t n = at ? (size_t)(at - spec) : strlen(spec);
		if (!good_name(spec, n))
			return sl__err(SL_ENOENT, "--model %s: no such file", spec);
		return registry_open(p, spec, n, out);
	}
	if (eq) {
		if (!good_name(spec, (size_t)(eq - spec)))
			return sl__err(SL_EINVAL,
				       "--model %s: the name before '=' must be 1 to 64 letters, digits, "
				       "'_', '-' or '.'",
				       spec);
		if (!sl__is_file(eq + 1))
			return sl__err(SL_ENOENT, "--model %s: no such file: %s", spec, eq + 1);
		name = sl__strndup(spec, (size_t)(eq - spec));
	} else {
		name = name_of(spec);
		if (name && !good_name(name, strlen(name))) {
			sl__free(name);
			return sl__err(SL_EINVAL,
				       "--model %s: the file name is no usable model name; give one with "
				       "--model NAME=%s",
				       spec, spec);
		}
	}
	f = sl__calloc(1, sizeof *f);
	if (!name || !f || !(f->path = sl__path_abs(eq ? eq + 1 : spec))) {
		sl__free(name);
		if (f)
			sl__free(f->path);
		sl__free(f);
		return sl__oom();
	}
	f->base.ops = &file_ops;
	f->base.name = name;
	f->base.ref = f->path;
	*out = &f->base;
	return 0;
}

void serve_source_free(serve_source *s)
{
	if (s)
		s->ops->free(s);
}

/* ---- versions ------------------------------------------------------------------------- */

static void free_version(serve_version *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < SERVE_MAX_WORKERS; i++)
		bundle_row_free(atomic_load(&v->rows[i]));
	serve_sig_free(&v->sig);
	bundle_close(v->b);
	sl__free(v->meta);
	sl__free(v->log_schema);
	sl__free(v->label);
	sl__free(v->path);
	sl__free(v);
}

static int load_version(serve_model *m, const serve_ref *ref, serve_version **out)
{
	serve_version *v = sl__calloc(1, sizeof *v);
	char digest[65];
	int rc;

	*out = NULL;
	if (!v || !(v->path = sl__strdup(ref->path))) {
		sl__free(v);
		return sl__oom();
	}
	v->model = m;
	if ((rc = bundle_open(ref->path, BUNDLE_ROWS, &v->b)))
		goto fail;
	if (ref->version[0]) {
		v->label = sl__strdup(ref->version);
	} else {
		mfile_digest_hex(bundle_model(v->b)->file, digest);
		v->label = sl__strndup(digest, 12);
	}
	if (!v->label) {
		rc = sl__oom();
		goto fail;
	}
	if ((rc = serve_sig_build(v->b, &v->sig)) || (rc = serve_sig_v2_head(&v->sig, m->name, v->label)))
		goto fail;
	if ((rc = bundle_warm(v->b))) {
		rc = sl__err_prefix(rc, "%s: warming (one prediction) failed", ref->path);
		goto fail;
	}
	if (!(v->meta = serve_sig_metadata(&v->sig, m->name, v->label, NULL, 0))) {
		rc = sl__oom();
		goto fail;
	}
	v->meta_len = strlen(v->meta);
	if (!(v->log_schema = serve_log_schema(&v->sig, m->name, v->label))) {
		rc = sl__oom();
		goto fail;
	}
	v->log_schema_len = strlen(v->log_schema);
	v->loaded_ms = sl__now_ms();
	*out = v;
	return 0;
fail:
	free_version(v);
	return rc;
}

/* Publishes v's stats (once the version is certain to be served). */
static int attach_stats(sl_server *s, serve_version *v)
{
	v->st = serve_stats_new(s, v->model->name, v->label, &v->sig);
	return v->st ? 0 : sl__oom();
}

serve_version *serve_acquire(serve_worker *w, serve_model *m)
{
	serve_version *v, *again;

	/* Announce, then check that what was announced is still current:
	 * the retirer swaps first and reads hazards after, so either it sees
	 * this hazard or this loop sees the new version (both seq_cst). */
	v = atomic_load(&m->cur);
	for (;;) {
		atomic_store(&w->hazard, v);
		again = atomic_load(&m->cur);
		if (again == v)
			return v;
		v = again;
	}
}

void serve_release(serve_worker *w)
{
	atomic_store_explicit(&w->hazard, NULL, memory_order_release);
}

bundle_row *serve_row(serve_version *v, serve_worker *w)
{
	bundle_row *r = atomic_load_explicit(&v->rows[w->id], memory_order_acquire);

	if (!r && bundle_row_new(v->b, &r) == 0)
		atomic_store_explicit(&v->rows[w->id], r, memory_order_release);
	return r;
}

/* Frees old once no request uses it (invariant 1 of server.h). */
static void retire(sl_server *s, serve_version *old)
{
	for (;;) {
		bool used = false;
		int n = atomic_load(&s->n_workers);
		for (int i = 0; i < n && !used; i++) {
			serve_worker *w = atomic_load(&s->workers[i]);
			used = w && atomic_load(&w->hazard) == old;
		}
		if (!used)
			break;
		usleep(500);
	}
	free_version(old);
}

serve_model *serve_find_model(sl_server *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->n_models; i++) {
		serve_model *m = s->models[i];
		if (strlen(m->name) == len && !memcmp(m->name, name, len))
			return m;
	}
	return NULL;
}

/* ---- loading and reloading ------------------------------------------------------------------ */

/* Reports a failed poll or load once per distinct message (not every period). */
static void failed_attempt(sl_server *s, serve_model *m, const char *what)
{
	serve_version *cur = atomic_load(&m->cur);
	const char *msg = sl_errmsg();

	atomic_fetch_add(&m->failures, 1);
	if (!strcmp(m->last_error, msg))
		return;
	snprintf(m->last_error, sizeof m->last_error, "%s", msg);
	serve_event(s, "%s: %s: %s; still serving version %s", m->name, what, m->last_error,
		    cur ? cur->label : "(none)");
}

/*
 * One reload attempt for m: poll, and when the source names something new,
 * load it, warm it, publish it and retire what it replaces. Runs on the
 * reload thread (or at start, before any request).
 */
static int reload_model(sl_server *s, serve_model *m, bool force)
{
	serve_version *v = NULL, *old;
	serve_ref ref;
	bool changed = false;
	int rc;

	memset(&ref, 0, sizeof ref);
	if ((rc = m->src->ops->poll(m->src, force, &changed, &ref))) {
		if (rc == SL_ECORRUPT)
			failed_attempt(s, m, "the new version failed to load");
		else if (rc == SL_ENOENT && !force && m->src->ops == &file_ops)
			failed_attempt(s, m, "the model's file is gone");
		else
			failed_attempt(s, m, "cannot check for a new version");
		return rc;
	}
	if (!changed)
		return 0;
	rc = load_version(m, &ref, &v);
	sl__free(ref.path);
	if (rc) {
		failed_attempt(s, m, "the new version failed to load");
		return rc;
	}
	old = atomic_load(&m->cur);
	if (old && !strcmp(old->label, v->label)) {
		/* The same model under a new file: nothing to swap. */
		free_version(v);
		m->last_error[0] = 0;
		return 0;
	}
	if ((rc = attach_stats(s, v))) {
		free_version(v);
		failed_attempt(s, m, "the new version failed to load");
		return rc;
	}
	atomic_store(&m->cur, v);
	atomic_fetch_add(&m->loads, 1);
	m->last_error[0] = 0;
	if (old) {
		serve_event(s, "%s: now serving version %s (was %s)", m->name, v->label, old->label);
		retire(s, old);
	}
	return 0;
}

int serve_models_load(sl_server *s, sl_project *p)
{
	s->models = sl__calloc(s->o.n_models ? s->o.n_models : 1, sizeof *s->models);
	if (!s->models)
		return sl__oom();
	for (size_t i = 0; i < s->o.n_models; i++) {
		serve_model *m = sl__calloc(1, sizeof *m);
		serve_version *v;
		int rc;
		if (!m)
			return sl__oom();
		s->models[s->n_models++] = m;
		pthread_mutex_init(&m->live_mu, NULL);
		if ((rc = serve_source_open(p, s->o.models[i], &m->src)))
			return rc;
		if (!(m->name = sl__strdup(m->src->name)))
			return sl__oom();
		if ((rc = reload_model(s, m, true)))
			return sl__err_prefix(rc, "--model %s", s->o.models[i]);
		v = atomic_load(&m->cur);
		if (m->src->ops == &registry_ops)
			serve_event(s, "%s: serving version %s, %s in the registry (%s, %s)", m->name,
				    v->label, ((registry_source *)m->src)->ref,
				    bundle_model(v->b)->ops->algorithm, ml_task_name(v->sig.task));
		else
			serve_event(s, "%s: serving version %s from %s (%s, %s)", m->name, v->label,
				    v->path, bundle_model(v->b)->ops->algorithm,
				    ml_task_name(v->sig.task));
	}
	return 0;
}

static void *reloader_main(void *arg)
{
	sl_server *s = arg;

	sl__thread_name("sl-reload");
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		bool any_now = false;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(s->o.reload_ms % 1000) * 1000000L;
		ts.tv_sec += (time_t)(s->o.reload_ms / 1000) + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		for (size_t i = 0; i < s->n_models; i++)
			any_now |= s->models[i]->reload_now;
		if (!any_now)
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (s->stop)
			break;
		for (size_t i = 0; i < s->n_models; i++) {
			serve_model *m = s->models[i];
			bool force = m->reload_now;
			int rc;
			m->reload_now = false;
			pthread_mutex_unlock(&s->mu);
			rc = reload_model(s, m, force);
			pthread_mutex_lock(&s->mu);
			if (force) {
				m->reload_rc = rc;
				m->reload_gen++;
				pthread_cond_broadcast(&s->reload_done);
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int serve_reloader_start(sl_server *s)
{
	if (pthread_create(&s->reloader, NULL, reloader_main, s))
		return sl__err(SL_ESYS, "cannot start the reload thread");
	return 0;
}

void serve_reloader_stop(sl_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_cond_broadcast(&s->reload_done);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->reloader, NULL);
}

int serve_reload_now(sl_server *s, serve_model *m, unsigned timeout_ms, char *msg, size_t size)
{
	struct timespec ts;
	uint64_t gen;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&s->mu);
	gen = m->reload_gen;
	m->reload_now = true;
	pthread_cond_broadcast(&s->cv);
	while (m->reload_gen == gen && !s->stop && rc == 0)
		rc = pthread_cond_timedwait(&s->reload_done, &s->mu, &ts);
	if (m->reload_gen != gen) {
		rc = m->reload_rc;
		snprintf(msg, size, "%s", rc ? m->last_error : "");
	} else {
		rc = SL_EBUSY;
		snprintf(msg, size, "the reload did not finish within %u ms", timeout_ms);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void serve_models_free(sl_server *s)
{
	for (size_t i = 0; i < s->n_models; i++) {
		serve_model *m = s->models[i];
		if (!m)
			continue;
		free_version(atomic_load(&m->cur));
		serve_source_free(m->src);
		pthread_mutex_destroy(&m->live_mu);
		sl__free(m->name);
		sl__free(m);
	}
	sl__free(s->models);
	s->models = NULL;
	s->n_models = 0;
}
