/*
 * The public API's project handle (sluice.h): finding a project, creating
 * one, and the thin boundary through which the CLI reaches the pipeline
 * engine and the stores. Each public function checks its arguments, calls
 * into the subsystems, and on failure copies the thread's last error into
 * the handle so sl_project_errmsg() keeps it until the next call.
 *
 * Project layout:
 *
 *   sluice.yaml            stack settings (orchestrator, metadata store)
 *   canvas.yaml            the ML canvas
 *   .sluice/meta.db        the SQLite metadata store (unless sluice.yaml names another)
 *   .sluice/artifacts/     the content-addressed artifact store
 *   .sluice/logs/RUN/STEP.log
 *   .sluice/tmp/STEP-RUN/  a step's work folder, while it runs
 *   .sluice/tmp/RUN/       a run's outputs before they move into artifacts/
 *                          (same filesystem, so the move is a rename)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/project.h"
#include "api/templates.h"
#include "artifact/artifact.h"
#include "pipeline/sched.h"

const char *sl_version(void)
{
	return SLUICE_VERSION;
}

int api_fail(sl_project *p, int rc)
{
	if (p && rc)
		snprintf(p->errmsg, sizeof p->errmsg, "%s", *sl_errmsg() ? sl_errmsg() : sl_strerror(rc));
	return rc;
}

static const char sluice_yaml[] =
	"# sluice stack settings: where steps run and where state lives.\n"
	"# Paths are relative to this file's folder.\n"
	"stack:\n"
	"  orchestrator: local              # local: child processes on this machine\n"
	"  metadata: sqlite:.sluice/meta.db # the metadata store\n";

static int write_if_absent(const char *dir, const char *name, const char *text)
{
	char *path = sl__path_join(dir, name);
	int rc = 0;

	if (!path)
		return sl__err(SL_ENOMEM, "out of memory");
	if (!sl__is_file(path))
		rc = sl__write_atomic(path, text, strlen(text));
	sl__free(path);
	return rc;
}

static int make_layout(const char *state)
{
	static const char *const subdirs[] = {"artifacts", "logs", "tmp"};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < SL__ARRAY_LEN(subdirs); i++) {
		char *d = sl__path_join(state, subdirs[i]);
		rc = d ? sl__mkdir_p(d, 0755) : sl__err(SL_ENOMEM, "out of memory");
		sl__free(d);
	}
	return rc;
}

int sl_project_init(const char *dir)
{
	char *root, *state = NULL, *db = NULL;
	store *st = NULL;
	int rc;

	sl__err_clear();
	if ((rc = sl__path_abs_checked(dir ? dir : ".", &root)))
		return rc;
	state = sl__path_join(root, ".sluice");
	/* The store the project will use: SLUICE_STORE's (its schema is made
	 * now, so a bad URL is found now), or the default SQLite file. */
	if (getenv("SLUICE_STORE") && *getenv("SLUICE_STORE"))
		db = sl__strdup(getenv("SLUICE_STORE"));
	else
		db = state ? sl__asprintf("sqlite:%s/meta.db", state) : NULL;
	if (!state || !db) {
		rc = sl__err(SL_ENOMEM, "out of memory");
		goto out;
	}
	if (sl__is_dir(state)) {
		rc = sl__err(SL_EEXIST, "%s is already a sluice project", root);
		goto out;
	}
	rc = sl__mkdir_p(root, 0755);
	if (rc == 0)
		rc = make_layout(state);
	if (rc == 0 && (rc = store_open(db, &st)) != 0)
		rc = sl__err_prefix(rc, "opening the metadata store");
	if (rc == 0)
		rc = write_if_absent(root, "sluice.yaml", sluice_yaml);
	if (rc == 0)
		rc = api_tmpl_write(root, "blank", true, NULL); /* canvas.yaml, commented */
out:
	store_close(st);
	sl__free(db);
	sl__free(state);
	sl__free(root);
	return rc;
}

/* Reads sluice.yaml's stack block; absent keys keep their defaults. */
static int read_settings(sl_project *p)
{
	return api_settings_load(p->root, p->state, &p->set);
}

int sl_project_open(const char *start_dir, sl_project **out)
{
	const char *home = getenv("SLUICE_HOME");
	sl_project *p;
	char *dir;
	int rc;

	sl__err_clear();
	if (!out)
		return sl__err(SL_EINVAL, "sl_project_open: out is NULL");
	*out = NULL;
	if ((rc = sl__path_abs_checked(home && *home ? home : start_dir ? start_dir : ".", &dir)))
		return rc;
	/* Walk up to the first folder holding .sluice/, as git finds .git. */
	for (;;) {
		char *state = sl__path_join(dir, ".sluice");
		bool found = state && sl__is_dir(state);
		sl__free(state);
		if (found)
			break;
		if ((home && *home) || !strcmp(dir, "/")) {
			rc = sl__err(SL_ENOENT, "not in a sluice project (no .sluice/ in %s%s); "
						"run 'sluice init' first",
				     home && *home ? home : "this folder",
				     home && *home ? "" : " or any parent");
			sl__free(dir);
			return rc;
		}
		char *up = sl__path_dir(dir);
		sl__free(dir);
		if (!up)
			return sl__err(SL_ENOMEM, "out of memory");
		dir = up;
	}
	p = sl__calloc(1, sizeof *p);
	if (!p) {
		sl__free(dir);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	p->root = dir;
	p->state = sl__path_join(dir, ".sluice");
	p->art_root = p->state ? sl__path_join(p->state, "artifacts") : NULL;
	if (!p->state || !p->art_root) {
		sl_project_close(p);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	rc = make_layout(p->state);
	if (rc == 0)
		rc = read_settings(p);
	if (rc == 0 && (rc = store_open(p->set.store_url, &p->st)) != 0)
		rc = sl__err_prefix(rc, "opening the metadata store named by %s", p->set.store_from);
	if (rc) {
		sl_project_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

void sl_project_close(sl_project *p)
{
	if (!p)
		return;
	store_close(p->st);
	api_settings_free(&p->set);
	sl__free(p->art_root);
	sl__free(p->state);
	sl__free(p->root);
	sl__free(p);
}

const char *sl_project_errmsg(const sl_project *p)
{
	return p ? p->errmsg : sl_errmsg();
}

const char *sl_project_root(const sl_project *p)
{
	return p ? p->root : NULL;
}

/*
 * Removes step work folders (.sluice/tmp/STEP-RUN) and output folders
 * (.sluice/tmp/RUN) left behind by a run that died. A folder is removed when
 * its step run or run has ended, or when no record of that id exists and the
 * folder is over an hour old: another `sluice run` creates the folder just
 * before it records the step run, so a young folder without a record may be
 * in use.
 */
static void sweep_workdirs(sl_project *p)
{
	char *tmp = sl__path_join(p->state, "tmp");
	time_t now = time(NULL);
	struct dirent *e;
	DIR *d;

	d = tmp ? opendir(tmp) : NULL;
	while (d && (e = readdir(d)) != NULL) {
		char *status = NULL, *path;
		struct stat st;
		bool remove;

		if (e->d_name[0] == '.')
			continue;
		path = sl__path_join(tmp, e->d_name);
		if (!path)
			break;
		int rc = store_steprun_status(p->st, e->d_name, &status);
		if (rc == SL_ENOENT)
			rc = store_run_status(p->st, e->d_name, &status);
		if (rc == 0)
			remove = strcmp(status, ST_RUNNING) != 0 && strcmp(status, ST_PENDING) != 0;
		else
			remove = rc == SL_ENOENT && stat(path, &st) == 0 && now - st.st_mtime > 3600;
		if (remove)
			sl__rm_rf(path);
		sl__free(status);
		sl__free(path);
	}
	if (d)
		closedir(d);
	sl__free(tmp);
	sl__err_clear();
}

int sl_run(sl_project *p, const char *pipeline_file, const sl_run_opts *opts, char **out_run_id)
{
	sched_env env;
	spec *sp = NULL;
	char host[256] = "";
	int rc;

	sl__err_clear();
	if (out_run_id)
		*out_run_id = NULL;
	if (!p || !pipeline_file)
		return sl__err(SL_EINVAL, "sl_run: project and pipeline file are required");
	p->errmsg[0] = '\0';
	rc = spec_parse_file(pipeline_file, opts ? opts->params : NULL, opts ? opts->n_params : 0,
			     &sp);
	if (rc)
		return api_fail(p, rc);
	/* Runs whose driver died (kill -9, power loss) would stay "running", and
	 * their steps' processes may still be about. A failure here is not this
	 * run's: it is reported by the next recovery, and this run goes on. */
	if (gethostname(host, sizeof host - 1) == 0)
		orch_recover(p->st, host, NULL);
	sweep_workdirs(p);
	sl__err_clear();
	env.state_dir = p->state;
	env.art_root = p->art_root;
	env.st = p->st;
	env.orch = p->set.orch;
	env.slurm = p->set.has_slurm ? &p->set.slurm : NULL;
	env.cancel_fd = opts && opts->cancel_token ? sl_cancel_fd(opts->cancel_token) : -1;
	env.cancel_flag = opts ? api_cancel_flag(opts->cancel_token) : NULL;
	rc = sched_run(&env, sp, opts, out_run_id);
	spec_free(sp);
	return api_fail(p, rc);
}

int api_dump(json_t *j, char **out_json)
{
	char *s = sl__json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return sl__err(SL_ENOMEM, "out of memory");
	/* Hand out memory that sl_free releases. */
	*out_json = sl__strdup(s);
	free(s);
	return *out_json ? 0 : sl__err(SL_ENOMEM, "out of memory");
}

int sl_runs_list(sl_project *p, int limit, char **out_json)
{
	json_t *j;
	int rc;

	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_runs_list: bad arguments");
	rc = store_runs_json(p->st, limit, &j);
	return api_fail(p, rc ? rc : api_dump(j, out_json));
}

int sl_run_show(sl_project *p, const char *run, char **out_json)
{
	char id[STORE_ID_SIZE];
	json_t *j;
	int rc;

	if (!p || !run || !out_json)
		return sl__err(SL_EINVAL, "sl_run_show: bad arguments");
	rc = store_run_resolve(p->st, run, id);
	if (rc == 0)
		rc = store_run_json(p->st, id, &j);
	return api_fail(p, rc ? rc : api_dump(j, out_json));
}

/* Hands the caller the run's head as text before its first step. */
typedef struct steps_ctx {
	sl_step_view_fn fn;
	void *ud;
	json_t *head;
	char **out_text;
	int rc;
} steps_ctx;

static int head_text(steps_ctx *c)
{
	char *s;

	if (!c->out_text || *c->out_text || !c->head)
		return 0;
	s = json_dumps(c->head, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	*c->out_text = s ? sl__strdup(s) : NULL;
	free(s);
	return *c->out_text ? 0 : sl__err(SL_ENOMEM, "out of memory");
}

static int steps_tramp(void *ud, const sl_step_view *v)
{
	steps_ctx *c = ud;
	int rc = head_text(c);

	return rc ? rc : c->fn(c->ud, v);
}

int sl_run_steps(sl_project *p, const char *run, sl_step_view_fn fn, void *ud,
		 char **out_run_json)
{
	steps_ctx c = {.fn = fn, .ud = ud, .out_text = out_run_json};
	int rc;

	if (out_run_json)
		*out_run_json = NULL;
	if (!p || !run || !fn)
		return sl__err(SL_EINVAL, "sl_run_steps: bad arguments");
	rc = store_run_steps(p->st, run, steps_tramp, &c, &c.head);
	if (rc == 0)
		rc = head_text(&c); /* a run without steps */
	json_decref(c.head);
	if (rc && out_run_json) {
		sl__free(*out_run_json);
		*out_run_json = NULL;
	}
	return api_fail(p, rc);
}

int sl_run_log_find(sl_project *p, const char *run, const char *step, char **out_path,
		    char **out_run)
{
	char id[STORE_ID_SIZE];
	char *rel = NULL, *from = NULL;
	int rc;

	if (out_path)
		*out_path = NULL;
	if (out_run)
		*out_run = NULL;
	if (!p || !run || !step || !out_path)
		return sl__err(SL_EINVAL, "sl_run_log_find: bad arguments");
	rc = store_run_resolve(p->st, run, id);
	if (rc == 0)
		rc = store_steprun_log(p->st, id, step, &rel, &from);
	if (rc == 0 && !(*out_path = sl__path_join(p->state, rel)))
		rc = sl__err(SL_ENOMEM, "out of memory");
	if (rc == 0 && out_run && from) {
		*out_run = sl__strdup(from);
		if (!*out_run) {
			sl__free(*out_path);
			*out_path = NULL;
			rc = sl__err(SL_ENOMEM, "out of memory");
		}
	}
	sl__free(rel);
	sl__free(from);
	return api_fail(p, rc);
}

int sl_run_log_path(sl_project *p, const char *run, const char *step, char **out_path)
{
	return sl_run_log_find(p, run, step, out_path, NULL);
}

int sl_task_exec(const char *task_path)
{
	orch_task_file *f = NULL;
	int rc;

	sl__err_clear();
	if (!task_path)
		return 2;
	rc = orch_task_load(task_path, &f);
	if (rc)
		return 2;
	rc = orch_exec_task(&f->t);
	orch_task_file_free(f);
	return rc;
}

int sl_artifacts_list(sl_project *p, int limit, const char *type, char **out_json)
{
	json_t *j;
	int rc;

	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_artifacts_list: bad arguments");
	rc = store_artifacts_json(p->st, limit, type, &j);
	return api_fail(p, rc ? rc : api_dump(j, out_json));
}

int sl_artifact_show(sl_project *p, const char *id, int head_rows, char **out_json)
{
	char full[SL__HASH_HEX_SIZE];
	json_t *j = NULL;
	int rc;

	if (!p || !id || !out_json)
		return sl__err(SL_EINVAL, "sl_artifact_show: bad arguments");
	rc = api_artifact_ref(p, id, full);
	if (rc == 0)
		rc = store_artifact_json(p->st, full, &j);
	if (rc == 0)
		rc = api_describe_content(p, full, j, head_rows);
	if (rc) {
		json_decref(j);
		return api_fail(p, rc);
	}
	return api_fail(p, api_dump(j, out_json));
}

int sl_artifact_lineage(sl_project *p, const char *id, char **out_json)
{
	char full[SL__HASH_HEX_SIZE];
	json_t *j;
	int rc;

	if (!p || !id || !out_json)
		return sl__err(SL_EINVAL, "sl_artifact_lineage: bad arguments");
	rc = api_artifact_ref(p, id, full);
	if (rc == 0)
		rc = store_lineage_json(p->st, full, 64, &j);
	if (rc == 0 && (rc = api_lineage_served(p, j)) != 0)
		json_decref(j);
	return api_fail(p, rc ? rc : api_dump(j, out_json));
}

int sl_artifact_path(sl_project *p, const char *id, char **out_path)
{
	char full[SL__HASH_HEX_SIZE];
	int rc;

	if (!p || !id || !out_path)
		return sl__err(SL_EINVAL, "sl_artifact_path: bad arguments");
	*out_path = NULL;
	rc = api_artifact_ref(p, id, full);
	if (rc == 0)
		rc = art_verify(p->art_root, full);
	if (rc == 0) {
		*out_path = art_path(p->art_root, full);
		if (!*out_path)
			rc = sl__err(SL_ENOMEM, "out of memory");
	}
	return api_fail(p, rc);
}

int sl_artifact_export(sl_project *p, const char *id, const char *format, const char *out_path)
{
	char *src = NULL;
	int rc;

	if (!p || !id || !out_path)
		return sl__err(SL_EINVAL, "sl_artifact_export: bad arguments");
	rc = sl_artifact_path(p, id, &src);
	if (rc)
		return rc;
	if (!format || !strcmp(format, "raw"))
		rc = sl__copy_file(src, out_path);
	else
		rc = api_export_content(src, format, out_path);
	sl__free(src);
	return api_fail(p, rc);
}

int sl_store_migrate(sl_project *p, const char *to_url, char **out_json)
{
	store_copy_count counts[STORE_COPY_TABLES];
	store_proc *running = NULL;
	size_t n_running = 0;
	store *dst = NULL;
	char host[256] = "", *from = NULL, *to = NULL;
	json_t *j = NULL, *tabs;
	int rc;

	sl__err_clear();
	if (out_json)
		*out_json = NULL;
	if (!p || !to_url || !*to_url || !out_json)
		return sl__err(SL_EINVAL, "sl_store_migrate: project, target and output are required");
	p->errmsg[0] = '\0';
	if (!strcmp(to_url, p->set.store_url))
		return api_fail(p, sl__err(SL_EINVAL, "the target is the project's own store"));
	/* A run going on would be copied half done: dead ones are ended first. */
	if (gethostname(host, sizeof host - 1) == 0)
		orch_recover(p->st, host, NULL);
	sl__err_clear();
	rc = store_runs_running(p->st, NULL, &running, &n_running);
	if (rc == 0 && n_running)
		rc = sl__err(SL_EBUSY, "run %s is still running; migrate when no run is going on",
			     running[0].id);
	sl__free(running);
	if (rc == 0 && (rc = store_open(to_url, &dst)) != 0)
		rc = sl__err_prefix(rc, "opening the target store");
	if (rc == 0)
		rc = store_copy(p->st, dst, counts, SL__ARRAY_LEN(counts));
	store_close(dst);
	if (rc)
		return api_fail(p, rc);
	from = sl__pg_redact(p->set.store_url);
	to = sl__pg_redact(to_url);
	j = json_object();
	tabs = json_array();
	if (!from || !to || !j || !tabs || json_object_set_new(j, "from", json_string(from)) ||
	    json_object_set_new(j, "to", json_string(to)) || json_object_set(j, "tables", tabs) ||
	    json_object_set_new(j, "verified", json_true()))
		rc = sl__oom();
	for (size_t i = 0; rc == 0 && i < SL__ARRAY_LEN(counts) && counts[i].table[0]; i++) {
		json_t *t = json_pack("{s:s, s:I, s:I, s:I}", "table", counts[i].table, "source",
				      (json_int_t)counts[i].source, "copied",
				      (json_int_t)counts[i].copied, "present",
				      (json_int_t)counts[i].present);
		if (!t || json_array_append_new(tabs, t))
			rc = sl__oom();
	}
	json_decref(tabs);
	sl__free(from);
	sl__free(to);
	if (rc) {
		json_decref(j);
		return api_fail(p, rc);
	}
	return api_fail(p, api_dump(j, out_json));
}

int sl_steps_list(char **out_json)
{
	size_t n;
	const step_def *const *all = step_all(&n);
	json_t *arr = json_array();

	if (!out_json)
		return sl__err(SL_EINVAL, "sl_steps_list: out_json is NULL");
	for (size_t i = 0; arr && i < n; i++) {
		json_t *d;
		if (step_def_json(all[i], &d) || json_array_append_new(arr, d)) {
			json_decref(arr);
			return sl__err(SL_ENOMEM, "out of memory");
		}
	}
	if (!arr)
		return sl__err(SL_ENOMEM, "out of memory");
	return api_dump(arr, out_json);
}
