/*
 * sluice.yaml: the project's stack settings (DESIGN: "Stack settings in
 * sluice.yaml's stack: block").
 *
 *   stack:
 *     metadata: sqlite:.sluice/meta.db   the store; a relative sqlite path is
 *                                        relative to the project folder
 *     orchestrator: local                a name from the orchestrator registry
 *                                        (orch.h): local today
 *     slurm: { partition, account }      for the slurm orchestrator
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

static int read_json(const json_t *cfg, const sl__ypmap *pm, const char *file, const char *root,
		     const char *state, api_settings *out)
{
	static const char *const top[] = {"stack"};
	static const char *const stack_keys[] = {"metadata", "orchestrator", "slurm"};
	static const char *const slurm_keys[] = {"partition", "account"};
	const json_t *stack, *slurm;
	const char *v, *ignored;
	int rc;

	if (!json_is_object(cfg))
		return settings_err(SL_EINVAL, file, pm, "", false,
				    "expected a mapping with a 'stack' block, not %s", sl__json_kind(cfg));
	if ((rc = settings_keys(file, pm, cfg, "", top, SL__ARRAY_LEN(top))))
		return rc;
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
				    "stack.slurm must be a mapping {partition, account}, not %s",
				    sl__json_kind(slurm));
	if (json_is_object(slurm) &&
	    ((rc = settings_keys(file, pm, slurm, "stack.slurm", slurm_keys, SL__ARRAY_LEN(slurm_keys))) ||
	     (rc = want_string(file, pm, slurm, "stack.slurm", "partition", "a partition name",
			       &ignored)) ||
	     (rc = want_string(file, pm, slurm, "stack.slurm", "account", "an account name", &ignored))))
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
	/* DESIGN: the environment's SLUICE_STORE overrides the file's. */
	if (getenv("SLUICE_STORE") && *getenv("SLUICE_STORE"))
		v = getenv("SLUICE_STORE");
	if (v && !*v)
		return settings_err(SL_EINVAL, file, pm, "stack.metadata", false,
				    "stack.metadata must not be empty");
	/* A relative sqlite path is relative to the project folder. */
	if (v && sl__str_has_prefix(v, "sqlite:") && v[7] != '/')
		out->store_url = sl__asprintf("sqlite:%s/%s", root, v + 7);
	else if (v)
		out->store_url = sl__strdup(v);
	else
		out->store_url = sl__asprintf("sqlite:%s/meta.db", state);
	return out->store_url ? 0 : sl__err(SL_ENOMEM, "out of memory");
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
	if ((rc = sl__yaml_parse_json(text, len, &yo, 0, &cfg, &pm)))
		return rc;
	rc = read_json(cfg, pm, name, root, state, out);
	json_decref(cfg);
	sl__ypmap_free(pm);
	if (rc) {
		sl__free(out->store_url);
		out->store_url = NULL;
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
