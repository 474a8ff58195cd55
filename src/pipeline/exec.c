/*
 * What happens inside a step's process (see orch.h): the common part of
 * every orchestrator. A command step becomes /bin/sh -c COMMAND with the
 * step's inputs, outputs and parameters in its environment; a built-in or
 * plugin step is a function call whose metrics, output metadata and failure
 * message are left as files in the workdir for the scheduler to collect.
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

/* SLUICE_<PREFIX>_<NAME in upper case, '-' as '_'>=value */
static void set_env(const char *prefix, const char *name, const char *value)
{
	char key[256];
	size_t n = (size_t)snprintf(key, sizeof key, "SLUICE_%s_", prefix);

	for (const char *p = name; *p && n + 1 < sizeof key; p++)
		key[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	key[n] = '\0';
	setenv(key, value, 1);
}

static int redirect_log(const char *log_path)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (null >= 0) {
		dup2(null, 0);
		close(null);
	}
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	return 0;
}

static void write_text(const char *workdir, const char *name, const char *text)
{
	char *path = sl__path_join(workdir, name);

	if (path)
		sl__write_atomic(path, text, strlen(text));
	sl__free(path);
}

static void write_json(const char *workdir, const char *name, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);

	if (s)
		write_text(workdir, name, s);
	free(s);
}

static int exec_command(const orch_task *t)
{
	const spec_step *st = t->step;
	const char *key;
	json_t *v;
	char *scalar;

	for (size_t i = 0; i < t->n_inputs; i++)
		set_env("INPUT", t->input_names[i], t->input_paths[i]);
	for (size_t i = 0; i < t->n_outputs; i++)
		set_env("OUTPUT", t->output_names[i], t->output_paths[i]);
	for (size_t i = 0; i < t->sp->n_params; i++) {
		v = t->sp->params[i].value;
		scalar = json_is_string(v) ? strdup(json_string_value(v))
					   : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (scalar)
			set_env("PARAM", t->sp->params[i].name, json_is_null(v) ? "" : scalar);
		free(scalar);
	}
	/* A command step's `with:` reaches it as one JSON object. */
	if (st->with && json_object_size(st->with)) {
		char *w = json_dumps(st->with, JSON_COMPACT);
		if (w)
			setenv("SLUICE_WITH", w, 1);
		free(w);
	}
	setenv("SLUICE_STEP", st->name, 1);
	setenv("SLUICE_STEP_RUN", t->steprun_id, 1);
	setenv("SLUICE_WORKDIR", t->workdir, 1);
	if (st->env) {
		json_object_foreach(st->env, key, v) {
			if (json_is_string(v))
				setenv(key, json_string_value(v), 1);
		}
	}
	/* Commands run in the pipeline file's folder, as make runs in the
	 * Makefile's: relative paths in a pipeline mean the same everywhere. */
	if (chdir(t->sp->dir) != 0) {
		fprintf(stderr, "sluice: cannot enter %s: %s\n", t->sp->dir, strerror(errno));
		return 126;
	}
	execl("/bin/sh", "sh", "-c", t->command, (char *)NULL);
	fprintf(stderr, "sluice: cannot run /bin/sh: %s\n", strerror(errno));
	return 127;
}

static int exec_function(const orch_task *t, int (*fn)(step_ctx *))
{
	step_ctx ctx;
	int rc;

	memset(&ctx, 0, sizeof ctx);
	ctx.def = t->step->def;
	ctx.step_name = t->step->name;
	ctx.pipeline_dir = t->sp->dir;
	ctx.workdir = t->workdir;
	ctx.with = t->step->with;
	ctx.n_inputs = t->n_inputs;
	ctx.input_names = t->input_names;
	ctx.input_paths = t->input_paths;
	ctx.n_outputs = t->n_outputs;
	ctx.output_names = t->output_names;
	ctx.output_paths = t->output_paths;
	ctx.metrics = json_object();
	ctx.out_meta = json_object();
	ctx.log = stderr;
	if (!ctx.metrics || !ctx.out_meta) {
		write_text(t->workdir, "error.txt", "out of memory");
		return 1;
	}
	sl__err_clear();
	rc = fn(&ctx);
	fflush(stdout);
	fflush(stderr);
	if (rc) {
		const char *msg = sl_errmsg();
		char fallback[64];
		char *placed;
		if (!*msg) {
			snprintf(fallback, sizeof fallback, "failed: %s", sl_strerror(rc));
			msg = fallback;
		}
		/* "with.ops[3].columns: ..." is about the file: say where in it. */
		placed = spec_locate_msg(t->sp, (size_t)(t->step - t->sp->steps), msg);
		write_text(t->workdir, "error.txt", placed ? placed : msg);
		sl__free(placed);
	}
	write_json(t->workdir, "metrics.json", ctx.metrics);
	write_json(t->workdir, "meta.json", ctx.out_meta);
	json_decref(ctx.metrics);
	json_decref(ctx.out_meta);
	return rc ? 1 : 0;
}

static int exec_plugin(const orch_task *t)
{
	char *spec_text = sl__strdup(t->step->plugin);
	char *colon, *lib;
	void *handle, *sym;
	int rc;

	if (!spec_text)
		return 1;
	colon = strrchr(spec_text, ':');
	if (!colon) {
		write_text(t->workdir, "error.txt", "plugin must be LIBRARY:FUNCTION");
		sl__free(spec_text);
		return 1;
	}
	*colon = '\0';
	lib = sl__path_join(t->sp->dir, spec_text);
	handle = lib ? dlopen(lib, RTLD_NOW | RTLD_LOCAL) : NULL;
	if (!handle) {
		char msg[SL__ERRMSG_MAX];
		snprintf(msg, sizeof msg, "cannot load plugin %s: %s", lib ? lib : spec_text,
			 dlerror());
		write_text(t->workdir, "error.txt", msg);
		sl__free(lib);
		sl__free(spec_text);
		return 1;
	}
	sym = dlsym(handle, colon + 1);
	if (!sym) {
		char msg[SL__ERRMSG_MAX];
		snprintf(msg, sizeof msg, "plugin %s has no function %s", lib, colon + 1);
		write_text(t->workdir, "error.txt", msg);
		rc = 1;
	} else {
		sl_plugin_fn fn;
		/* POSIX guarantees function pointers round-trip through dlsym's void *. */
		memcpy(&fn, &sym, sizeof fn);
		rc = exec_function(t, (int (*)(step_ctx *))fn);
	}
	sl__free(lib);
	sl__free(spec_text);
	return rc;
}

int orch_exec_task(const orch_task *t)
{
	if (redirect_log(t->log_path) != 0) {
		write_text(t->workdir, "error.txt", "cannot open the step's log file");
		return 1;
	}
	switch (t->step->kind) {
	case SPEC_RUN:
		return exec_command(t);
	case SPEC_USES:
		return exec_function(t, t->step->def->run);
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
