/*
 * What happens inside a step's process (see orch.h), wherever it runs: the
 * body of `sluice step-exec TASK.json`. A command step becomes /bin/sh -c
 * COMMAND with the step's inputs, outputs and parameters in its
 * environment; a built-in or plugin step is a function call whose metrics,
 * output metadata, store ops, failure message and reason are left as files
 * in the workdir for the scheduler to collect.
 *
 * Invariants:
 *
 *  1. The task's environment is built in one place (orch_task_env), used
 *     both here and by the local orchestrator, which starts a command step's
 *     shell itself: a step sees the same variables however it is started.
 *  2. A built-in step runs only at the version its task was made for: the
 *     version is part of the cache key, so running another would record
 *     outputs under a key that does not describe them.
 *  3. Result files are plain writes, without fsync or rename: the scheduler
 *     reads them after the process has ended, and a step killed while
 *     writing them has failed anyway.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/orch.h"
#include "sluice/plugin.h"

extern char **environ;

/* ---- the environment ---------------------------------------------------------------- */

typedef struct envb {
	char **v;    /* "NAME=value" strings we allocated */
	size_t n, cap;
	bool nomem;
} envb;

static void env_add(envb *e, char *kv)
{
	if (!kv || e->nomem) {
		e->nomem = true;
		sl__free(kv);
		return;
	}
	if (e->n + 1 >= e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 32;
		char **v = sl__reallocarray(e->v, cap, sizeof *v);
		if (!v) {
			e->nomem = true;
			sl__free(kv);
			return;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

/* SLUICE_<PREFIX>_<NAME in upper case, '-' as '_'>=value */
static void env_io(envb *e, const char *prefix, const char *name, const char *value)
{
	char key[256];
	size_t n = (size_t)snprintf(key, sizeof key, "SLUICE_%s_", prefix);

	for (const char *p = name; *p && n + 1 < sizeof key; p++)
		key[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	key[n] = '\0';
	env_add(e, sl__asprintf("%s=%s", key, value));
}

/* The length of NAME in "NAME=value". */
static size_t name_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : strlen(kv);
}

char **orch_task_env(const orch_task *t, char *const *base)
{
	envb e = {0};
	const char *key;
	json_t *v;
	char **out;
	size_t n_base = 0, k = 0;

	/* The marker of the task's processes (orch_proc.c) and its identity. */
	env_add(&e, sl__asprintf("SLUICE_STEP_RUN=%s", t->steprun_id));
	env_add(&e, sl__asprintf("SLUICE_RUN=%s", t->run_id));
	env_add(&e, sl__asprintf("SLUICE_STEP=%s", t->step));
	env_add(&e, sl__asprintf("SLUICE_WORKDIR=%s", t->workdir));
	if (t->kind == SPEC_RUN) {
		for (size_t i = 0; i < t->n_inputs; i++)
			env_io(&e, "INPUT", t->input_names[i], t->input_paths[i]);
		for (size_t i = 0; i < t->n_outputs; i++)
			env_io(&e, "OUTPUT", t->output_names[i], t->output_paths[i]);
		json_object_foreach(t->params, key, v) {
			char *dumped = NULL;
			const char *val = json_is_string(v) ? json_string_value(v)
					  : json_is_null(v) ? ""
							    : (dumped = sl__json_dumps(v, JSON_ENCODE_ANY |
											 JSON_COMPACT));
			if (val)
				env_io(&e, "PARAM", key, val);
			else
				e.nomem = true;
			free(dumped);
		}
		/* A command step's `with:` reaches it as one JSON object. */
		if (t->with && json_object_size(t->with)) {
			char *w = sl__json_dumps(t->with, JSON_COMPACT);
			env_add(&e, w ? sl__asprintf("SLUICE_WITH=%s", w) : NULL);
			free(w);
		}
		json_object_foreach(t->env, key, v) {
			if (json_is_string(v))
				env_add(&e, sl__asprintf("%s=%s", key, json_string_value(v)));
		}
	}
	if (e.nomem) {
		orch_env_free(e.v);
		sl__err(SL_ENOMEM, "out of memory building a step's environment");
		return NULL;
	}
	/* Base entries first, unless one of ours sets the same name. */
	for (char *const *p = base; p && *p; p++)
		n_base++;
	out = sl__calloc(n_base + e.n + 1, sizeof *out);
	if (!out) {
		orch_env_free(e.v);
		sl__err(SL_ENOMEM, "out of memory building a step's environment");
		return NULL;
	}
	for (char *const *p = base; p && *p; p++) {
		size_t len = name_len(*p);
		bool overridden = false;
		for (size_t i = 0; i < e.n && !overridden; i++)
			overridden = name_len(e.v[i]) == len && !strncmp(e.v[i], *p, len);
		if (overridden)
			continue;
		if (!(out[k++] = sl__strdup(*p))) {
			orch_env_free(out);
			orch_env_free(e.v);
			sl__err(SL_ENOMEM, "out of memory building a step's environment");
			return NULL;
		}
	}
	for (size_t i = 0; i < e.n; i++)
		out[k++] = e.v[i];
	out[k] = NULL;
	sl__free(e.v); /* its strings now belong to out */
	return out;
}

void orch_env_free(char **env)
{
	if (!env)
		return;
	for (char **p = env; *p; p++)
		sl__free(*p);
	sl__free(env);
}

/* ---- result files ------------------------------------------------------------------- */

static void write_plain(const char *workdir, const char *name, const char *text)
{
	char *path = sl__path_join(workdir, name);
	size_t len = strlen(text), done = 0;
	int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;

	while (fd >= 0 && done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	sl__free(path);
}

static void write_json(const char *workdir, const char *name, json_t *obj)
{
	char *s = sl__json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);

	if (s)
		write_plain(workdir, name, s);
	free(s);
}

/* Why a step that returned code failed, as recorded (store.h's RS_*). */
static const char *reason_for(int code)
{
	switch (code) {
	case SL_EGATE:
		return RS_GATE;
	case SL_EINPUT:
	case SL_ENOENT: /* a file the step was told to read is not there */
		return RS_INPUT;
	default:
		return RS_ERROR;
	}
}

static void write_failure(const char *workdir, const char *msg, int code)
{
	write_plain(workdir, "error.txt", msg);
	write_plain(workdir, "reason", reason_for(code));
}

/* ---- the three kinds of step -------------------------------------------------------- */

static int exec_command(const orch_task *t)
{
	char **env = orch_task_env(t, environ);

	if (!env) {
		write_failure(t->workdir, "out of memory building the step's environment", SL_ENOMEM);
		return 1;
	}
	if (chdir(t->pipeline_dir) != 0) {
		fprintf(stderr, "sluice: cannot enter %s: %s\n", t->pipeline_dir, strerror(errno));
		orch_env_free(env);
		return 126;
	}
	execle("/bin/sh", "sh", "-c", t->command, (char *)NULL, env);
	fprintf(stderr, "sluice: cannot run /bin/sh: %s\n", strerror(errno));
	orch_env_free(env);
	return 127;
}

static int exec_function(const orch_task *t, const step_def *def, int (*fn)(step_ctx *))
{
	step_ctx ctx;
	int rc;

	memset(&ctx, 0, sizeof ctx);
	ctx.def = def;
	ctx.step_name = t->step;
	ctx.run_id = t->run_id;
	ctx.pipeline_name = t->pipeline;
	ctx.pipeline_sha256 = t->pipeline_sha256;
	ctx.pipeline_dir = t->pipeline_dir;
	ctx.workdir = t->workdir;
	ctx.with = t->with;
	ctx.n_inputs = t->n_inputs;
	ctx.input_names = t->input_names;
	ctx.input_paths = t->input_paths;
	ctx.input_ids = t->input_ids;
	ctx.n_outputs = t->n_outputs;
	ctx.output_names = t->output_names;
	ctx.output_paths = t->output_paths;
	ctx.metrics = json_object();
	ctx.out_meta = json_object();
	ctx.store_ops = json_array();
	ctx.log = stderr;
	if (!ctx.metrics || !ctx.out_meta || !ctx.store_ops) {
		json_decref(ctx.metrics);
		json_decref(ctx.out_meta);
		json_decref(ctx.store_ops);
		write_failure(t->workdir, "out of memory", SL_ENOMEM);
		return 1;
	}
	sl__err_clear();
	rc = step_call(&ctx, fn);
	fflush(stdout);
	fflush(stderr);
	if (rc) {
		const char *msg = sl_errmsg();
		char fallback[64];
		if (!*msg) {
			snprintf(fallback, sizeof fallback, "failed: %s", sl_strerror(rc));
			msg = fallback;
		}
		write_failure(t->workdir, msg, rc);
	}
	/* Written on failure too: a failed step keeps what it measured. */
	if (json_object_size(ctx.metrics))
		write_json(t->workdir, "metrics.json", ctx.metrics);
	if (json_object_size(ctx.out_meta))
		write_json(t->workdir, "meta.json", ctx.out_meta);
	if (rc == 0 && json_array_size(ctx.store_ops))
		write_json(t->workdir, "store_ops.json", ctx.store_ops);
	json_decref(ctx.metrics);
	json_decref(ctx.out_meta);
	json_decref(ctx.store_ops);
	return rc ? 1 : 0;
}

static int exec_builtin(const orch_task *t)
{
	const step_def *def = step_find(t->uses);
	char msg[SL__ERRMSG_MAX];

	if (!def) {
		snprintf(msg, sizeof msg, "this sluice has no built-in step '%s'", t->uses);
		write_failure(t->workdir, msg, SL_EUNSUP);
		return 1;
	}
	if (def->version != t->uses_version) { /* invariant 2 */
		snprintf(msg, sizeof msg,
			 "this sluice runs version %d of step '%s'; the task was made for version %d "
			 "(the sluice executable changed during the run)",
			 def->version, t->uses, t->uses_version);
		write_failure(t->workdir, msg, SL_EUNSUP);
		return 1;
	}
	return exec_function(t, def, def->run);
}

static int exec_plugin(const orch_task *t)
{
	char *spec_text = sl__strdup(t->plugin);
	char *colon, *lib;
	void *handle, *sym;
	char msg[SL__ERRMSG_MAX];
	int rc;

	if (!spec_text)
		return 1;
	colon = strrchr(spec_text, ':');
	if (!colon) {
		write_failure(t->workdir, "plugin must be LIBRARY:FUNCTION", SL_ESTEP);
		sl__free(spec_text);
		return 1;
	}
	*colon = '\0';
	lib = sl__path_join(t->pipeline_dir, spec_text);
	handle = lib ? dlopen(lib, RTLD_NOW | RTLD_LOCAL) : NULL;
	if (!handle) {
		snprintf(msg, sizeof msg, "cannot load plugin %s: %s", lib ? lib : spec_text,
			 dlerror());
		write_failure(t->workdir, msg, SL_ESTEP);
		sl__free(lib);
		sl__free(spec_text);
		return 1;
	}
	sym = dlsym(handle, colon + 1);
	if (!sym) {
		snprintf(msg, sizeof msg, "plugin %s has no function %s", lib, colon + 1);
		write_failure(t->workdir, msg, SL_ESTEP);
		rc = 1;
	} else {
		sl_plugin_fn fn;
		/* POSIX guarantees function pointers round-trip through dlsym's void *. */
		memcpy(&fn, &sym, sizeof fn);
		rc = exec_function(t, NULL, (int (*)(step_ctx *))fn);
	}
	dlclose(handle);
	sl__free(lib);
	sl__free(spec_text);
	return rc;
}

static int redirect_log(const char *log_path)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || null < 0) {
		if (fd >= 0)
			close(fd);
		if (null >= 0)
			close(null);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if (dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
		close(fd);
		close(null);
		return -1;
	}
	close(null);
	close(fd);
	return 0;
}

int orch_exec_task(const orch_task *t)
{
	if (redirect_log(t->log_path) != 0) {
		write_failure(t->workdir, "cannot open the step's log file", SL_EIO);
		return 1;
	}
	switch (t->kind) {
	case SPEC_RUN:
		return exec_command(t);
	case SPEC_USES:
		return exec_builtin(t);
	case SPEC_PLUGIN:
		return exec_plugin(t);
	}
	return 1;
}

/* ---- the plugin API (sluice/plugin.h) ------------------------------------------ */

const char *sl_step_input(const sl_step_ctx *ctx, const char *name)
{
	return ctx && name ? step_input(ctx, name) : NULL;
}

const char *sl_step_output(const sl_step_ctx *ctx, const char *name)
{
	return ctx && name ? step_output(ctx, name) : NULL;
}

const char *sl_step_option(const sl_step_ctx *ctx, const char *name)
{
	static _Thread_local char text[256];
	json_t *v;

	if (!ctx || !name)
		return NULL;
	v = json_object_get(ctx->with, name);
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(text, sizeof text, "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(text, sizeof text, "%s", json_is_true(v) ? "true" : "false");
	else
		return NULL;
	return text;
}

void sl_step_metric(sl_step_ctx *ctx, const char *name, double value)
{
	if (ctx && name)
		step_metric(ctx, name, value);
}

int sl_step_fail(sl_step_ctx *ctx, const char *message)
{
	return step_fail(ctx, SL_ESTEP, "%s", message ? message : "failed");
}
