/*
 * Store ops: changes to the metadata store that a step asks for, applied in
 * the same transaction as the step's completion. A step never touches the
 * store itself (it runs in another process, maybe on another machine); it
 * leaves a list of ops in its work folder (workdir/store_ops.json, written
 * by step_store_op() for built-ins), and the scheduler hands them to
 * store_steprun_finish. So "register this bundle as model spam, alias
 * staging" happens if and only if the step that asked for it completed, and
 * a kill -9 in between leaves neither.
 *
 *   [ {"op": "tag", "on": "output.model", "key": "stage", "value": "candidate"},
 *     {"op": "register", "on": "input.bundle", "name": "spam", "alias": "staging",
 *      "verdict": "passed", "algorithm": "gbdt", "metrics": {"roc_auc": 0.97}} ]
 *
 * Invariants:
 *
 *  1. Only ops in the table below exist. Each is checked twice: its shape
 *     (store_ops_check: known op, known fields, right types, required
 *     fields) before the transaction opens, and its meaning (the artifact it
 *     names exists) by its apply function inside the transaction, where a
 *     failure rolls the completion back.
 *  2. An op names what it changes relative to the step run: "run",
 *     "step_run", "input.NAME" or "output.NAME". It cannot reach another
 *     run's records.
 *  3. Ops apply in list order, after the step's artifacts, edges and metrics
 *     are in, so an op may refer to the step's own outputs.
 *
 * Adding an op: write its apply function (portable SQL through Q(), see
 * store.c's notes; new tables come with a migration in store.c), describe
 * its fields in an op_field list, and add one line to `ops` below. Its
 * fields are validated for you; resolve artifact references with
 * resolve_target(). A built-in step asks for it with step_store_op().
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define STORE_OPS_MAX 1000 /* per step run */

typedef enum opf_type {
	OPF_STRING,      /* a string */
	OPF_STRING_NULL, /* a string or null */
	OPF_INT,         /* an integer */
	OPF_NUMBER,      /* any number */
	OPF_BOOL,        /* true or false */
	OPF_OBJECT,      /* a JSON object */
	OPF_TARGET       /* "run", "step_run", "input.NAME" or "output.NAME" */
} opf_type;

typedef struct op_field {
	const char *name;
	opf_type type;
	bool required;
} op_field;

typedef struct op_def {
	const char *name;
	const op_field *fields; /* terminated by name == NULL */
	int (*apply)(store *s, const store_steprun *sr, const json_t *op);
} op_def;

/* What an OPF_TARGET names: an entity kind ("run", "step_run", "artifact") and id. */
typedef struct op_target {
	const char *entity;
	char id[SL__HASH_HEX_SIZE];
} op_target;

/* The run of a step run (sr->run_id may be NULL when only finishing it). */
static int steprun_run(store *s, const store_steprun *sr, char out[STORE_ID_SIZE])
{
	st_one_str o = {0};
	sq_val p[] = {S(sr->id)};
	int rc;

	if (sr->run_id) {
		snprintf(out, STORE_ID_SIZE, "%s", sr->run_id);
		return 0;
	}
	rc = Q(s, "SELECT run_id FROM step_runs WHERE id = ?", p, st_row_one_str, &o);
	if (rc == 0 && (o.nomem || !o.v))
		rc = o.nomem ? sl__err(SL_ENOMEM, "out of memory") : sl__err(SL_ENOENT, "no step run %s", sr->id);
	if (rc == 0)
		snprintf(out, STORE_ID_SIZE, "%s", o.v);
	sl__free(o.v);
	return rc;
}

/* Resolves an OPF_TARGET value (shape already checked) inside the transaction. */
static int resolve_target(store *s, const store_steprun *sr, const char *ref, op_target *t)
{
	const char *dot = strchr(ref, '.');
	st_one_str o = {0};
	int rc;

	if (!strcmp(ref, "run")) {
		t->entity = "run";
		return steprun_run(s, sr, t->id);
	}
	if (!strcmp(ref, "step_run")) {
		t->entity = "step_run";
		snprintf(t->id, sizeof t->id, "%s", sr->id);
		return 0;
	}
	{
		bool in = !strncmp(ref, "input.", 6);
		sq_val p[] = {S(sr->id), S(in ? "in" : "out"), S(dot + 1)};
		rc = Q(s,
		       "SELECT artifact FROM edges WHERE step_run = ? AND direction = ? AND name = ?",
		       p, st_row_one_str, &o);
		if (rc == 0 && o.nomem)
			rc = sl__err(SL_ENOMEM, "out of memory");
		else if (rc == 0 && !o.v)
			rc = sl__err(SL_ENOENT, "the step run has no %s '%s'", in ? "input" : "output",
				     dot + 1);
	}
	if (rc == 0) {
		t->entity = "artifact";
		snprintf(t->id, sizeof t->id, "%s", o.v);
	}
	sl__free(o.v);
	return rc;
}

/* ---- the ops ----------------------------------------------------------------------- */

static const op_field tag_fields[] = {
	{"on", OPF_TARGET, true},
	{"key", OPF_STRING, true},
	{"value", OPF_STRING_NULL, true},
	{NULL, OPF_STRING, false},
};

/* Sets a tag on the run, the step run or one of its artifacts; a null value removes it. */
static int apply_tag(store *s, const store_steprun *sr, const json_t *op)
{
	const char *key = json_string_value(json_object_get(op, "key"));
	const char *value = json_string_value(json_object_get(op, "value"));
	op_target t;
	int rc = resolve_target(s, sr, json_string_value(json_object_get(op, "on")), &t);

	if (rc)
		return rc;
	if (value) {
		sq_val p[] = {S(t.entity), S(t.id), S(key), S(value)};
		return Q(s,
			 "INSERT INTO tags (entity, entity_id, tag, value) VALUES (?, ?, ?, ?) "
			 "ON CONFLICT (entity, entity_id, tag) DO UPDATE SET value = excluded.value",
			 p, NULL, NULL);
	}
	{
		sq_val p[] = {S(t.entity), S(t.id), S(key)};
		return Q(s, "DELETE FROM tags WHERE entity = ? AND entity_id = ? AND tag = ?", p,
			 NULL, NULL);
	}
}

static const op_field register_fields[] = {
	{"on", OPF_TARGET, true},
	{"name", OPF_STRING, true},
	{"alias", OPF_STRING_NULL, false},
	{"verdict", OPF_STRING, true},
	{"algorithm", OPF_STRING_NULL, false},
	{"metrics", OPF_OBJECT, false},
	{"reason", OPF_STRING_NULL, false},
	{NULL, OPF_STRING, false},
};

/*
 * Registers the bundle `on` names as the next version of model `name` (the
 * model registry, store_registry.c), recorded as made by this step run in
 * its run; with `alias`, moves the alias to it, which only a verdict of
 * passed may ask for.
 */
static int apply_register(store *s, const store_steprun *sr, const json_t *op)
{
	const char *on = json_string_value(json_object_get(op, "on"));
	json_t *metrics = json_object_get(op, "metrics");
	char run[STORE_ID_SIZE];
	char *mtext = NULL;
	op_target t;
	int rc = resolve_target(s, sr, on, &t);

	if (rc == 0 && strcmp(t.entity, "artifact") != 0)
		rc = sl__err(SL_EINVAL, "'on' must name the bundle (input.NAME or output.NAME), not %s",
			     on);
	if (rc == 0)
		rc = steprun_run(s, sr, run);
	if (rc == 0 && metrics && !(mtext = sl__json_dumps(metrics, JSON_COMPACT | JSON_SORT_KEYS)))
		rc = SL_ENOMEM; /* sl__json_dumps said why */
	if (rc == 0) {
		store_version_new v = {
			.model = json_string_value(json_object_get(op, "name")),
			.bundle = t.id,
			.run_id = run,
			.algorithm = json_string_value(json_object_get(op, "algorithm")),
			.metrics_json = mtext,
			.verdict = json_string_value(json_object_get(op, "verdict")),
			.alias = json_string_value(json_object_get(op, "alias")),
			.move = {.reason = json_string_value(json_object_get(op, "reason")),
				 .step_run = sr->id},
		};
		rc = st_model_register(s, &v, NULL, NULL);
	}
	sl__free(mtext);
	return rc;
}

static const op_def ops[] = {
	{"register", register_fields, apply_register},
	{"tag", tag_fields, apply_tag},
};

/* ---- checking and applying --------------------------------------------------------- */

static const op_def *find_op(const char *name)
{
	for (size_t i = 0; i < SL__ARRAY_LEN(ops); i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}

static const char *type_name(opf_type t)
{
	switch (t) {
	case OPF_STRING:
		return "a string";
	case OPF_STRING_NULL:
		return "a string or null";
	case OPF_INT:
		return "an integer";
	case OPF_NUMBER:
		return "a number";
	case OPF_BOOL:
		return "true or false";
	case OPF_OBJECT:
		return "an object";
	case OPF_TARGET:
		return "\"run\", \"step_run\", \"input.NAME\" or \"output.NAME\"";
	}
	return "?";
}

static bool valid_target(const char *s)
{
	const char *name;

	if (!strcmp(s, "run") || !strcmp(s, "step_run"))
		return true;
	if (!strncmp(s, "input.", 6))
		name = s + 6;
	else if (!strncmp(s, "output.", 7))
		name = s + 7;
	else
		return false;
	return *name != '\0';
}

static bool field_ok(opf_type t, const json_t *v)
{
	switch (t) {
	case OPF_STRING:
		return json_is_string(v);
	case OPF_STRING_NULL:
		return json_is_string(v) || json_is_null(v);
	case OPF_INT:
		return json_is_integer(v);
	case OPF_NUMBER:
		return json_is_number(v);
	case OPF_BOOL:
		return json_is_boolean(v);
	case OPF_OBJECT:
		return json_is_object(v);
	case OPF_TARGET:
		return json_is_string(v) && valid_target(json_string_value(v));
	}
	return false;
}

/* "a, b, c": the fields of def, for a message. */
static void field_list(const op_def *def, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const op_field *f = def->fields; f->name && n < size; f++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", f->name);
}

/* "tag, ...": every op, for a message. */
static void op_names(char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < SL__ARRAY_LEN(ops) && n < size; k++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", k ? ", " : "", ops[k].name);
}

static int check_one(const json_t *op, size_t i)
{
	const char *name = json_string_value(json_object_get(op, "op"));
	const op_def *def;
	const char *key;
	json_t *v;
	char list[256];

	if (!json_is_object(op))
		return sl__err(SL_EINVAL, "store op %zu: expected an object with an \"op\"", i + 1);
	if (!name) {
		char known[256];
		op_names(known, sizeof known);
		return sl__err(SL_EINVAL, "store op %zu: \"op\" must name the operation (one of: %s)",
			       i + 1, known);
	}
	if (!(def = find_op(name))) {
		char known[256];
		op_names(known, sizeof known);
		return sl__err(SL_EINVAL, "store op %zu: unknown op '%s' (known: %s)", i + 1, name,
			       known);
	}
	field_list(def, list, sizeof list);
	json_object_foreach((json_t *)op, key, v) {
		const op_field *f;
		if (!strcmp(key, "op"))
			continue;
		for (f = def->fields; f->name; f++)
			if (!strcmp(f->name, key))
				break;
		if (!f->name)
			return sl__err(SL_EINVAL, "store op %zu (%s): unknown field '%s' (fields: %s)",
				       i + 1, name, key, list);
		if (!field_ok(f->type, v))
			return sl__err(SL_EINVAL, "store op %zu (%s): '%s' must be %s", i + 1, name,
				       key, type_name(f->type));
	}
	for (const op_field *f = def->fields; f->name; f++)
		if (f->required && !json_object_get(op, f->name))
			return sl__err(SL_EINVAL, "store op %zu (%s): '%s' is missing (fields: %s)",
				       i + 1, name, f->name, list);
	return 0;
}

int store_ops_check(const json_t *ops_arr)
{
	size_t i;
	json_t *op;
	int rc;

	if (!json_is_array(ops_arr))
		return sl__err(SL_EINVAL, "store ops must be a JSON array of objects");
	if (json_array_size(ops_arr) > STORE_OPS_MAX)
		return sl__err(SL_ELIMIT, "%zu store ops; a step may ask for at most %d",
			       json_array_size(ops_arr), STORE_OPS_MAX);
	json_array_foreach(ops_arr, i, op) {
		if ((rc = check_one(op, i)) != 0)
			return rc;
	}
	return 0;
}

int st_ops_apply(store *s, const store_steprun *sr, const json_t *ops_arr)
{
	size_t i;
	json_t *op;

	json_array_foreach(ops_arr, i, op) {
		const char *name = json_string_value(json_object_get(op, "op"));
		const op_def *def = name ? find_op(name) : NULL;
		int rc;

		if (!def) /* store_ops_check ran first; only a caller skipping it gets here */
			return sl__err(SL_EINVAL, "store op %zu: unknown op", i + 1);
		rc = def->apply(s, sr, op);
		if (rc)
			return sl__err_prefix(rc, "store op %zu (%s)", i + 1, name);
	}
	return 0;
}
