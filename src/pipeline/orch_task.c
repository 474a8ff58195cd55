/*
 * task.json: a step's task, self-contained, as the scheduler hands it to
 * whatever runs it (orch.h). The same file runs a step on this machine and,
 * through a cluster orchestrator, as a batch job elsewhere; so it holds
 * every fact the step needs and nothing that only makes sense inside the
 * driver (no pointers, no open descriptors).
 *
 *   { "format": 1,
 *     "run_id": "...", "step_run_id": "...", "pipeline": "spam-train", "step": "split",
 *     "pipeline_sha256": "64 hex",                 optional: the file's text, for lineage
 *     "kind": "uses" | "run" | "plugin",
 *     "uses": "split", "uses_version": 1,          kind uses
 *     "command": "python3 x.py ...",               kind run (${inputs/outputs} substituted)
 *     "plugin": "lib/libx.so:fn",                  kind plugin
 *     "with": {...}, "params": {...}, "env": {...} | null,
 *     "inputs":  [ {"name": "data", "path": "/abs/...", "artifact": "64 hex"} ],
 *     "outputs": [ {"name": "train", "path": "/abs/.../out/train"} ],
 *     "pipeline_dir": "/abs", "workdir": "/abs/.sluice/tmp/ID",
 *     "log": "/abs/.sluice/logs/RUN/split.log",
 *     "timeout": 0, "resources": {"cpus": 0, "memory": 0, "time": 0, "gpus": 0} }
 *
 * Invariants: a reader rejects a format it does not know and any missing
 * or mistyped field, naming the file and the field; fields may be added
 * (a newer reader ignores nothing it needs, an older one ignores the rest).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/orch.h"

static const char *const kind_names[] = {[SPEC_USES] = "uses", [SPEC_RUN] = "run",
					 [SPEC_PLUGIN] = "plugin"};

/* Adds key: v (stealing v); non-zero when v is NULL or the set failed. */
static int put(json_t *o, const char *key, json_t *v)
{
	return !v || json_object_set_new(o, key, v) != 0;
}

static json_t *task_json(const orch_task *t)
{
	json_t *o = json_object(), *ins = json_array(), *outs = json_array(), *res = json_object();
	int bad = !o || !ins || !outs || !res;

	for (size_t i = 0; !bad && i < t->n_inputs; i++)
		bad |= json_array_append_new(
			ins, json_pack("{s:s, s:s, s:s?}", "name", t->input_names[i], "path",
				       t->input_paths[i], "artifact",
				       t->input_ids ? t->input_ids[i] : NULL)) != 0;
	for (size_t i = 0; !bad && i < t->n_outputs; i++)
		bad |= json_array_append_new(outs, json_pack("{s:s, s:s}", "name", t->output_names[i],
							     "path", t->output_paths[i])) != 0;
	if (!bad) {
		bad |= put(res, "cpus", json_integer(t->resources.cpus));
		bad |= put(res, "memory", json_integer((json_int_t)t->resources.memory));
		bad |= put(res, "time", json_real(t->resources.time));
		bad |= put(res, "gpus", json_integer(t->resources.gpus));
	}
	if (bad) {
		json_decref(o);
		json_decref(ins);
		json_decref(outs);
		json_decref(res);
		return NULL;
	}
	bad |= put(o, "format", json_integer(ORCH_TASK_FORMAT));
	bad |= put(o, "run_id", json_string(t->run_id));
	bad |= put(o, "step_run_id", json_string(t->steprun_id));
	bad |= put(o, "pipeline", json_string(t->pipeline));
	if (t->pipeline_sha256)
		bad |= put(o, "pipeline_sha256", json_string(t->pipeline_sha256));
	bad |= put(o, "step", json_string(t->step));
	bad |= put(o, "kind", json_string(kind_names[t->kind]));
	if (t->kind == SPEC_USES) {
		bad |= put(o, "uses", json_string(t->uses));
		bad |= put(o, "uses_version", json_integer(t->uses_version));
	} else if (t->kind == SPEC_RUN) {
		bad |= put(o, "command", json_string(t->command));
	} else {
		bad |= put(o, "plugin", json_string(t->plugin));
	}
	bad |= put(o, "with", t->with ? json_incref(t->with) : json_object());
	bad |= put(o, "params", t->params ? json_incref(t->params) : json_object());
	bad |= put(o, "env", t->env ? json_incref(t->env) : json_null());
	bad |= put(o, "inputs", ins);
	bad |= put(o, "outputs", outs);
	bad |= put(o, "pipeline_dir", json_string(t->pipeline_dir));
	bad |= put(o, "workdir", json_string(t->workdir));
	bad |= put(o, "log", json_string(t->log_path));
	bad |= put(o, "timeout", json_real(t->timeout));
	bad |= put(o, "resources", res);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int orch_task_save(const orch_task *t)
{
	json_t *o = task_json(t);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t len, done = 0;
	int fd, rc = 0;

	json_decref(o);
	if (!text)
		return sl__err(SL_ENOMEM, "out of memory writing a task");
	/* Read only by the task it describes, after this returns: no rename,
	 * no fsync (a crash loses the task along with the file). */
	fd = open(t->task_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = sl__err(SL_EIO, "%s: %s", t->task_path, strerror(errno));
		free(text);
		return rc;
	}
	len = strlen(text);
	while (rc == 0 && done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = sl__err(SL_EIO, "%s: write: %s", t->task_path, strerror(errno));
		else
			done += (size_t)n;
	}
	if (close(fd) != 0 && rc == 0)
		rc = sl__err(SL_EIO, "%s: close: %s", t->task_path, strerror(errno));
	free(text);
	return rc;
}

/* ---- reading --------------------------------------------------------------------- */

typedef struct reader {
	const char *path;
	json_t *root;
	int rc;
} reader;

static const char *need_str(reader *r, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s && r->rc == 0)
		r->rc = sl__err(SL_EPARSE, "%s: field '%s' must be a string", r->path, key);
	return s;
}

static json_t *need_obj(reader *r, json_t *o, const char *key, bool nullable)
{
	json_t *v = json_object_get(o, key);

	if (nullable && json_is_null(v))
		return NULL;
	if (!json_is_object(v) && r->rc == 0)
		r->rc = sl__err(SL_EPARSE, "%s: field '%s' must be an object", r->path, key);
	return json_is_object(v) ? v : NULL;
}

static double need_num(reader *r, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v) && r->rc == 0)
		r->rc = sl__err(SL_EPARSE, "%s: field '%s' must be a number", r->path, key);
	return json_number_value(v);
}

/* Fills names[i], paths[i] (and ids[i] when ids) from an array of {name, path[, artifact]}. */
static size_t read_ports(reader *r, const char *key, const char **names, const char **paths,
			 const char **ids)
{
	json_t *arr = json_object_get(r->root, key), *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		char what[64];
		snprintf(what, sizeof what, "%s[%zu]", key, i);
		if (!json_is_object(e)) {
			if (r->rc == 0)
				r->rc = sl__err(SL_EPARSE, "%s: %s must be an object", r->path, what);
			return 0;
		}
		names[i] = need_str(r, e, "name");
		paths[i] = need_str(r, e, "path");
		if (ids)
			ids[i] = json_string_value(json_object_get(e, "artifact"));
		if (r->rc)
			return 0;
	}
	return json_array_size(arr);
}

int orch_task_load(const char *path, orch_task_file **out)
{
	json_error_t jerr;
	reader r = {.path = path};
	orch_task_file *f;
	orch_task *t;
	const char *kind;
	json_t *res;
	size_t n_in, n_out;

	*out = NULL;
	r.root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!r.root)
		return sl__err(errno == ENOENT && jerr.line < 0 ? SL_ENOENT : SL_EPARSE,
			       "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	if (!json_is_object(r.root)) {
		json_decref(r.root);
		return sl__err(SL_EPARSE, "%s: a task is a JSON object", path);
	}
	if (json_integer_value(json_object_get(r.root, "format")) != ORCH_TASK_FORMAT) {
		json_decref(r.root);
		return sl__err(SL_EUNSUP, "%s: task format %lld is not the %d this sluice runs", path,
			       (long long)json_integer_value(json_object_get(r.root, "format")),
			       ORCH_TASK_FORMAT);
	}
	if (!json_is_array(json_object_get(r.root, "inputs")) ||
	    !json_is_array(json_object_get(r.root, "outputs"))) {
		json_decref(r.root);
		return sl__err(SL_EPARSE, "%s: fields 'inputs' and 'outputs' must be arrays", path);
	}
	n_in = json_array_size(json_object_get(r.root, "inputs"));
	n_out = json_array_size(json_object_get(r.root, "outputs"));
	f = sl__calloc(1, sizeof *f);
	if (f)
		f->arrays = sl__calloc(3 * n_in + 2 * n_out + 1, sizeof *f->arrays);
	if (!f || !f->arrays) {
		sl__free(f);
		json_decref(r.root);
		return sl__err(SL_ENOMEM, "out of memory reading %s", path);
	}
	f->root = r.root;
	t = &f->t;
	t->run_id = need_str(&r, r.root, "run_id");
	t->steprun_id = need_str(&r, r.root, "step_run_id");
	t->pipeline = need_str(&r, r.root, "pipeline");
	t->pipeline_sha256 = json_string_value(json_object_get(r.root, "pipeline_sha256"));
	t->step = need_str(&r, r.root, "step");
	kind = need_str(&r, r.root, "kind");
	if (kind && !strcmp(kind, "uses")) {
		t->kind = SPEC_USES;
		t->uses = need_str(&r, r.root, "uses");
		t->uses_version = (int)need_num(&r, r.root, "uses_version");
	} else if (kind && !strcmp(kind, "run")) {
		t->kind = SPEC_RUN;
		t->command = need_str(&r, r.root, "command");
	} else if (kind && !strcmp(kind, "plugin")) {
		t->kind = SPEC_PLUGIN;
		t->plugin = need_str(&r, r.root, "plugin");
	} else if (kind && r.rc == 0) {
		r.rc = sl__err(SL_EPARSE, "%s: kind '%s' is not uses, run or plugin", path, kind);
	}
	t->with = need_obj(&r, r.root, "with", false);
	t->params = need_obj(&r, r.root, "params", false);
	t->env = need_obj(&r, r.root, "env", true);
	t->pipeline_dir = need_str(&r, r.root, "pipeline_dir");
	t->workdir = need_str(&r, r.root, "workdir");
	t->log_path = need_str(&r, r.root, "log");
	t->timeout = need_num(&r, r.root, "timeout");
	t->task_path = path;
	res = need_obj(&r, r.root, "resources", false);
	if (res) {
		t->resources.cpus = (int)json_integer_value(json_object_get(res, "cpus"));
		t->resources.memory = (uint64_t)json_integer_value(json_object_get(res, "memory"));
		t->resources.time = json_number_value(json_object_get(res, "time"));
		t->resources.gpus = (int)json_integer_value(json_object_get(res, "gpus"));
	}
	{
		const char **in_names = f->arrays, **in_paths = in_names + n_in,
			   **in_ids = in_paths + n_in, **out_names = in_ids + n_in,
			   **out_paths = out_names + n_out;
		t->n_inputs = read_ports(&r, "inputs", in_names, in_paths, in_ids);
		t->n_outputs = read_ports(&r, "outputs", out_names, out_paths, NULL);
		t->input_names = in_names;
		t->input_paths = in_paths;
		t->input_ids = in_ids;
		t->output_names = out_names;
		t->output_paths = out_paths;
	}
	if (r.rc) {
		orch_task_file_free(f);
		return r.rc;
	}
	*out = f;
	return 0;
}

void orch_task_file_free(orch_task_file *f)
{
	if (!f)
		return;
	json_decref(f->root);
	sl__free(f->arrays);
	sl__free(f);
}
