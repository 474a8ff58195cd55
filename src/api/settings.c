/*
 * sluice.yaml: the project's stack settings (DESIGN: "Stack settings in
 * sluice.yaml's stack: block").
 *
 *   stack:
 *     metadata: sqlite:.sluice/meta.db   the store; a relative sqlite path is
 *                                        relative to the project folder; or
 *                                        postgresql://USER@HOST:PORT/DB
 *     orchestrator: local                a name from the orchestrator registry
 *                                        (orch.h): local or slurm
 *     slurm:                             for the slurm orchestrator
 *       partition: gpu                   sbatch --partition
 *       account: ml-team                 --account
 *       qos: normal                      --qos
 *       resources: { cpus: 1, memory: 2G, time: 1h, gpus: 0 }
 *                                        what a step that does not say asks for
 *       options: ["--constraint=avx2"]   more sbatch options, as written
 *
 *   monitoring:                        the monitoring loop (sluice monitor watch)
 *     interval: 60                       seconds between its evaluations
 *     notify: { command: CMD, webhook: URL }
 *                                        where an alert rule without its own
 *                                        command or webhook is sent
 *     alert:                             alert rules, in canvas.yaml's shape
 *       - {name: slow, metric: latency_p99_ms, above: 50, model: spam}
 *                                        checked by the canvas's own check
 *                                        (canvas_alerts_check); `model`
 *                                        scopes a rule to one model. Both
 *                                        files' rules apply; this file's
 *                                        overrides the canvas's rule of the
 *                                        same name (rules.h, invariant 5)
 *   schedules:                           pipelines the loop runs on a cron
 *     nightly: { cron: "0 2 * * *", pipeline: refresh.yaml, params: { k: v } }
 *
 * The file is read by the YAML loader, so its errors have the same form as
 * a pipeline file's: "sluice.yaml:LINE:COL: message", at the offending key
 * or value. Unknown keys are errors (with a suggestion): a misspelt setting
 * silently ignored would point the project at the wrong store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/project.h"
#include "pipeline/orch.h"
#include "yamltree.h"

/* The error at the value (or key) of path in the file. */
static int settings_err(int code, const char *file, const sl__ypmap *pm, const char *path,
			bool at_key, const char *fmt, ...) SL__PRINTF(6, 7);

static int settings_err(int code, const char *file, const sl__ypmap *pm, const char *path,
			bool at_key, const char *fmt, ...)
{
	sl__yloc loc;
	char msg[SL__ERRMSG_MAX];
	va_list ap;

	memset(&loc, 0, sizeof loc);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sl__ypmap_find(pm, path, &loc);
	return sl__yaml_err_at(code, file, at_key && loc.key.line ? loc.key : loc.pos, "%s", msg);
}

/* Rejects keys of obj (at path) that are not in keys, suggesting the closest. */
static int settings_keys(const char *file, const sl__ypmap *pm, const json_t *obj,
			 const char *path, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		char sug[300];
		sl__buf where;
		bool ok = false;
		int rc;
		for (size_t i = 0; i < n && !ok; i++)
			ok = !strcmp(k, keys[i]);
		if (ok)
			continue;
		sl__buf_init(&where, 0);
		if (sl__buf_puts(&where, path) || sl__ypath_key(&where, k)) {
			sl__buf_free(&where);
			return sl__err(SL_ENOMEM, "out of memory");
		}
		sl__did_you_mean(sug, sizeof sug, k, keys, n);
		rc = settings_err(SL_EINVAL, file, pm, where.data, true, "unknown key '%s'%s%s%s%s%s", k,
				  *path ? " in " : "", path, sug[0] ? " (" : "", sug, sug[0] ? ")" : "");
		sl__buf_free(&where);
		return rc;
	}
	return 0;
}

/* A string setting, or NULL when absent or null; an error otherwise. */
static int want_string(const char *file, const sl__ypmap *pm, const json_t *obj, const char *path,
		       const char *key, const char *what, const char **out)
{
	const json_t *x = json_object_get(obj, key);
	char full[128];

	*out = NULL;
	if (!x || json_is_null(x))
		return 0;
	snprintf(full, sizeof full, "%s.%s", path, key);
	if (!json_is_string(x))
		return settings_err(SL_EINVAL, file, pm, full, false, "%s must be %s, not %s", full, what,
				    sl__json_kind(x));
	*out = json_string_value(x);
	return 0;
}

/* sbatch options sluice sets itself, and so may not be given in stack.slurm.options. */
static const char *const own_options[] = {
	"--output", "-o", "--error", "-e", "--wrap", "--parsable", "--job-name", "-J",
	"--dependency", "-d", "--wait", "-W", "--array", "-a", "--chdir", "-D", "--comment",
	"--open-mode", "--requeue", "--no-requeue", "--export",
};

/* Reads stack.slurm into out->slurm; its strings are copied into one block. */
static int read_slurm(const char *file, const sl__ypmap *pm, const json_t *slurm,
		      api_settings *out)
{
	static const char *const slurm_keys[] = {"partition", "account", "qos", "resources",
						 "options"};
	const char *part, *acct, *qos;
	const json_t *res = json_object_get(slurm, "resources");
	const json_t *opts = json_object_get(slurm, "options");
	size_t n_opts = json_is_array(opts) ? json_array_size(opts) : 0, need = 0;
	const char *k;
	json_t *v;
	char *mem, *w;
	const char **list;
	int rc;

	if ((rc = settings_keys(file, pm, slurm, "stack.slurm", slurm_keys,
				SL__ARRAY_LEN(slurm_keys))) ||
	    (rc = want_string(file, pm, slurm, "stack.slurm", "partition", "a partition name",
			      &part)) ||
	    (rc = want_string(file, pm, slurm, "stack.slurm", "account", "an account name", &acct)) ||
	    (rc = want_string(file, pm, slurm, "stack.slurm", "qos", "a QOS name", &qos)))
		return rc;
	if (res && !json_is_null(res) && !json_is_object(res))
		return settings_err(SL_EINVAL, file, pm, "stack.slurm.resources", false,
				    "stack.slurm.resources must be a mapping {cpus, memory, time, gpus}, "
				    "not %s",
				    sl__json_kind(res));
	if (json_is_object(res) &&
	    (rc = settings_keys(file, pm, res, "stack.slurm.resources", spec_resource_keys,
				SPEC_RESOURCE_KEYS)))
		return rc;
	json_object_foreach((json_t *)res, k, v) {
		char why[256], where[96];
		if (json_is_null(v))
			continue;
		snprintf(where, sizeof where, "stack.slurm.resources.%s", k);
		if (spec_resource_set(&out->slurm.defaults, k, v, why, sizeof why))
			return settings_err(SL_EINVAL, file, pm, where, false, "%s: %s", where, why);
	}
	if (opts && !json_is_null(opts) && !json_is_array(opts))
		return settings_err(SL_EINVAL, file, pm, "stack.slurm.options", false,
				    "stack.slurm.options must be a list of sbatch options, not %s",
				    sl__json_kind(opts));
	for (size_t i = 0; i < n_opts; i++) {
		const char *o = json_string_value(json_array_get(opts, i));
		char where[64];
		size_t name = o ? strcspn(o, "=") : 0;
		snprintf(where, sizeof where, "stack.slurm.options[%zu]", i);
		if (!o || o[0] != '-')
			return settings_err(SL_EINVAL, file, pm, where, false,
					    "%s must be an sbatch option such as \"--constraint=avx2\"",
					    where);
		for (size_t j = 0; j < SL__ARRAY_LEN(own_options); j++)
			if (strlen(own_options[j]) == name && !strncmp(o, own_options[j], name))
				return settings_err(SL_EINVAL, file, pm, where, false,
						    "%s: sluice sets %s itself for every step", where,
						    own_options[j]);
		need += strlen(o) + 1;
	}
	need += (part ? strlen(part) + 1 : 0) + (acct ? strlen(acct) + 1 : 0) +
		(qos ? strlen(qos) + 1 : 0);
	/* One block: the option pointers, then every string. */
	mem = sl__calloc(1, (n_opts + 1) * sizeof *list + need + 1);
	if (!mem)
		return sl__oom();
	list = (const char **)(void *)mem;
	w = mem + (n_opts + 1) * sizeof *list;
#define KEEP(dst, src)                                    \
	do {                                              \
		if (src) {                                \
			size_t len_ = strlen(src) + 1;    \
			memcpy(w, src, len_);             \
			(dst) = w;                        \
			w += len_;                        \
		}                                         \
	} while (0)
	KEEP(out->slurm.partition, part);
	KEEP(out->slurm.account, acct);
	KEEP(out->slurm.qos, qos);
	for (size_t i = 0; i < n_opts; i++)
		KEEP(list[i], json_string_value(json_array_get(opts, i)));
#undef KEEP
	out->slurm.options = list;
	out->slurm.n_options = n_opts;
	out->slurm_mem = mem;
	out->has_slurm = true;
	return 0;
}

/*
 * monitoring.alert: the canvas's check of a rule list, on the file's tree
 * (out->doc), the first problem raised as this file's error.
 */
static int read_alerts(const char *file, api_settings *out)
{
	const sl__ynode *n = sl__ynode_at(sl__ydoc_root(out->doc), "monitoring.alert");
	canvas_problem *probs = NULL;
	size_t np = 0;
	int rc;

	if (!n || n->kind == SL__Y_NULL)
		return 0;
	if ((rc = canvas_alerts_check(n, "monitoring.alert", &out->alerts, &out->n_alerts, &probs,
				      &np)))
		return rc;
	if (np)
		rc = probs[0].pos.line > 0 ? sl__yaml_err_at(SL_EINVAL, file, probs[0].pos, "%s",
							     probs[0].msg)
					   : sl__err(SL_EINVAL, "%s: %s", file, probs[0].msg);
	sl__free(probs);
	return rc;
}

/* monitoring: {interval, notify: {command, webhook}, alert: [rule...]} */
static int read_monitoring(const char *file, const sl__ypmap *pm, const json_t *m,
			   api_settings *out)
{
	static const char *const keys[] = {"interval", "notify", "alert"};
	static const char *const notify_keys[] = {"command", "webhook"};
	const json_t *iv = json_object_get(m, "interval"), *nt = json_object_get(m, "notify");
	int rc;

	if ((rc = settings_keys(file, pm, m, "monitoring", keys, SL__ARRAY_LEN(keys))) ||
	    (rc = read_alerts(file, out)))
		return rc;
	if (iv && !json_is_null(iv)) {
		if (!json_is_integer(iv) || json_integer_value(iv) < 1 ||
		    json_integer_value(iv) > 604800)
			return settings_err(SL_EINVAL, file, pm, "monitoring.interval", false,
					    "monitoring.interval is seconds between evaluations, 1 to "
					    "604800, not %s",
					    sl__json_kind(iv));
		out->mon_interval_s = (unsigned)json_integer_value(iv);
	}
	if (!nt || json_is_null(nt))
		return 0;
	if (!json_is_object(nt))
		return settings_err(SL_EINVAL, file, pm, "monitoring.notify", false,
				    "monitoring.notify must be a mapping {command, webhook}, not %s",
				    sl__json_kind(nt));
	if ((rc = settings_keys(file, pm, nt, "monitoring.notify", notify_keys,
				SL__ARRAY_LEN(notify_keys))) ||
	    (rc = want_string(file, pm, nt, "monitoring.notify", "command", "a shell command",
			      &out->notify_command)) ||
	    (rc = want_string(file, pm, nt, "monitoring.notify", "webhook", "an http(s) URL",
			      &out->notify_webhook)))
		return rc;
	if (out->notify_webhook && !sl__str_has_prefix(out->notify_webhook, "http://") &&
	    !sl__str_has_prefix(out->notify_webhook, "https://"))
		return settings_err(SL_EINVAL, file, pm, "monitoring.notify.webhook", false,
				    "monitoring.notify.webhook must be an http:// or https:// URL, not "
				    "'%.80s'",
				    out->notify_webhook);
	return 0;
}

/* One schedule: {cron, pipeline, params}; its strings point into the file's JSON. */
static int read_schedule(const char *file, const sl__ypmap *pm, const char *root,
			 const char *name, const json_t *v, api_schedule *out)
{
	static const char *const keys[] = {"cron", "pipeline", "params"};
	const json_t *params;
	const char *k, *cron, *pipe;
	json_t *pv;
	cron_error ce;
	sl__buf path;
	int rc;

	sl__buf_init(&path, 0);
	if (sl__buf_puts(&path, "schedules") || sl__ypath_key(&path, name)) {
		sl__buf_free(&path);
		return sl__oom();
	}
	if (!json_is_object(v)) {
		rc = settings_err(SL_EINVAL, file, pm, path.data, false,
				  "%s must be a mapping {cron, pipeline, params}, not %s", path.data,
				  sl__json_kind(v));
		goto out;
	}
	if ((rc = settings_keys(file, pm, v, path.data, keys, SL__ARRAY_LEN(keys))) ||
	    (rc = want_string(file, pm, v, path.data, "cron", "a cron expression", &cron)) ||
	    (rc = want_string(file, pm, v, path.data, "pipeline", "a pipeline file", &pipe)))
		goto out;
	if (!cron || !pipe) {
		rc = settings_err(SL_EINVAL, file, pm, path.data, true,
				  "%s needs cron (when, in UTC) and pipeline (what to run)", path.data);
		goto out;
	}
	out->name = name;
	out->cron_text = cron;
	if (cron_parse(cron, &out->cron, &ce) != 0) {
		char at[200];
		snprintf(at, sizeof at, "%s.cron", path.data);
		rc = settings_err(SL_EINVAL, file, pm, at, false, "%s: %s", at, ce.msg);
		goto out;
	}
	out->pipeline = pipe[0] == '/' ? sl__strdup(pipe) : sl__path_join(root, pipe);
	if (!out->pipeline) {
		rc = sl__oom();
		goto out;
	}
	params = json_object_get(v, "params");
	if (params && !json_is_null(params) && !json_is_object(params)) {
		char at[200];
		snprintf(at, sizeof at, "%s.params", path.data);
		rc = settings_err(SL_EINVAL, file, pm, at, false,
				  "%s must be a mapping of parameter values, not %s", at,
				  sl__json_kind(params));
		goto out;
	}
	if (json_object_size(params)) {
		char **list = sl__calloc(json_object_size(params), sizeof *list);
		size_t n = 0;
		if (!list) {
			rc = sl__oom();
			goto out;
		}
		out->params = (const char *const *)list;
		json_object_foreach((json_t *)params, k, pv) {
			char *text = json_is_string(pv) ? sl__strdup(json_string_value(pv))
							: sl__json_dumps(pv, JSON_ENCODE_ANY);
			list[n] = text ? sl__asprintf("%s=%s", k, text) : NULL;
			sl__free(text);
			if (!list[n]) {
				rc = sl__oom();
				goto out;
			}
			out->n_params = ++n;
		}
	}
out:
	sl__buf_free(&path);
	return rc;
}

static int read_schedules(const char *file, const sl__ypmap *pm, const char *root,
			  const json_t *sch, api_settings *out)
{
	const char *k;
	json_t *v;
	int rc;

	if (!json_is_object(sch))
		return settings_err(SL_EINVAL, file, pm, "schedules", false,
				    "schedules must be a mapping NAME: {cron, pipeline, params}, not %s",
				    sl__json_kind(sch));
	if (!json_object_size(sch))
		return 0;
	out->schedules = sl__calloc(json_object_size(sch), sizeof *out->schedules);
	if (!out->schedules)
		return sl__oom();
	json_object_foreach((json_t *)sch, k, v) {
		api_schedule *s = &out->schedules[out->n_schedules++];
		if ((rc = read_schedule(file, pm, root, k, v, s)))
			return rc;
	}
	return 0;
}

static int read_json(const json_t *cfg, const sl__ypmap *pm, const char *file, const char *root,
		     const char *state, api_settings *out)
{
	static const char *const top[] = {"stack", "monitoring", "schedules"};
	static const char *const stack_keys[] = {"metadata", "orchestrator", "slurm"};
	const json_t *stack, *slurm;
	const char *v, *env;
	int rc;

	if (!json_is_object(cfg))
		return settings_err(SL_EINVAL, file, pm, "", false,
				    "expected a mapping with a 'stack' block, not %s", sl__json_kind(cfg));
	if ((rc = settings_keys(file, pm, cfg, "", top, SL__ARRAY_LEN(top))))
		return rc;
	if (json_object_get(cfg, "monitoring") || json_object_get(cfg, "schedules")) {
		/* The strings of both blocks point into the file's JSON, kept. */
		const json_t *m = json_object_get(cfg, "monitoring"), *sch = json_object_get(cfg,
											"schedules");
		out->mon_json = json_incref((json_t *)cfg);
		if (m && !json_is_null(m) && !json_is_object(m))
			return settings_err(SL_EINVAL, file, pm, "monitoring", false,
					    "'monitoring' must be a mapping {interval, notify, alert}, "
					    "not %s",
					    sl__json_kind(m));
		if (json_is_object(m) && (rc = read_monitoring(file, pm, m, out)))
			return rc;
		if (sch && !json_is_null(sch) && (rc = read_schedules(file, pm, root, sch, out)))
			return rc;
	}
	stack = json_object_get(cfg, "stack");
	if (stack && !json_is_null(stack) && !json_is_object(stack))
		return settings_err(SL_EINVAL, file, pm, "stack", false, "'stack' must be a mapping, not %s",
				    sl__json_kind(stack));
	if (json_is_object(stack) &&
	    (rc = settings_keys(file, pm, stack, "stack", stack_keys, SL__ARRAY_LEN(stack_keys))))
		return rc;
	slurm = json_object_get(stack, "slurm");
	if (slurm && !json_is_null(slurm) && !json_is_object(slurm))
		return settings_err(SL_EINVAL, file, pm, "stack.slurm", false,
				    "stack.slurm must be a mapping {partition, account, qos, resources, "
				    "options}, not %s",
				    sl__json_kind(slurm));
	if (json_is_object(slurm) && (rc = read_slurm(file, pm, slurm, out)))
		return rc;
	if ((rc = want_string(file, pm, stack, "stack", "orchestrator", "an orchestrator's name", &v)))
		return rc;
	out->orch = orch_find(v ? v : "local");
	if (!out->orch) {
		/* The names come from the registry of orchestrators (orch.h). */
		const char *names[16];
		size_t n = orch_all(names, SL__ARRAY_LEN(names));
		char known[256], sug[300];
		orch_names(known, sizeof known);
		sl__did_you_mean(sug, sizeof sug, v, names, n);
		return settings_err(SL_EUNSUP, file, pm, "stack.orchestrator", false,
				    "stack.orchestrator '%s' is not available (available: %s%s%s)", v,
				    known, sug[0] ? "; " : "", sug);
	}
	if ((rc = want_string(file, pm, stack, "stack", "metadata",
			      "a store URL (sqlite:PATH or postgresql://...)", &v)))
		return rc;
	if (v && !*v)
		return settings_err(SL_EINVAL, file, pm, "stack.metadata", false,
				    "stack.metadata must not be empty");
	out->store_from = v ? "sluice.yaml's stack.metadata" : "the default store";
	/* DESIGN: the environment's SLUICE_STORE overrides the file's. */
	env = getenv("SLUICE_STORE");
	if (env && *env) {
		v = env;
		out->store_from = "SLUICE_STORE";
	}
	/* A relative sqlite path is relative to the project folder. */
	if (v && sl__str_has_prefix(v, "sqlite:") && v[7] != '/')
		out->store_url = sl__asprintf("sqlite:%s/%s", root, v + 7);
	else if (v)
		out->store_url = sl__strdup(v);
	else
		out->store_url = sl__asprintf("sqlite:%s/meta.db", state);
	return out->store_url ? 0 : sl__oom();
}

void api_settings_free(api_settings *s)
{
	if (!s)
		return;
	sl__free(s->store_url);
	sl__free(s->slurm_mem);
	for (size_t i = 0; i < s->n_schedules; i++) {
		for (size_t j = 0; j < s->schedules[i].n_params; j++)
			sl__free((char *)s->schedules[i].params[j]);
		sl__free((void *)s->schedules[i].params);
		sl__free((char *)s->schedules[i].pipeline);
	}
	sl__free(s->schedules);
	json_decref(s->mon_json);
	sl__free(s->alerts);
	sl__ydoc_free(s->doc);
	memset(s, 0, sizeof *s);
}

int api_settings_parse(const char *text, size_t len, const char *name, const char *root,
		       const char *state, api_settings *out)
{
	sl__yaml_opts yo;
	sl__ypmap *pm = NULL;
	json_t *cfg = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	memset(&yo, 0, sizeof yo);
	yo.name = name;
	yo.code = SL_EINVAL;
	/* The tree is kept while monitoring.alert's rules point into it. */
	if ((rc = sl__yaml_parse(text, len, &yo, &out->doc)))
		return rc;
	if ((rc = sl__ydoc_json(out->doc, 0, &cfg, &pm)) == 0)
		rc = read_json(cfg, pm, name, root, state, out);
	json_decref(cfg);
	sl__ypmap_free(pm);
	if (rc)
		api_settings_free(out);
	else if (!out->n_alerts) {
		sl__ydoc_free(out->doc);
		out->doc = NULL;
	}
	return rc;
}

int api_settings_load(const char *root, const char *state, api_settings *out)
{
	char *path = sl__path_join(root, "sluice.yaml");
	sl__buf b;
	int rc;

	memset(out, 0, sizeof *out);
	if (!path)
		return sl__err(SL_ENOMEM, "out of memory");
	if (!sl__is_file(path)) {
		sl__free(path);
		return api_settings_parse("", 0, "sluice.yaml", root, state, out);
	}
	rc = sl__read_file(path, SL__YAML_MAX_FILE, &b);
	if (rc == 0) {
		rc = api_settings_parse(b.data ? b.data : "", b.len, path, root, state, out);
		sl__buf_free(&b);
	}
	sl__free(path);
	return rc;
}
