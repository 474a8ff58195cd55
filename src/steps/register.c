/*
 * register: adds a bundle to the model registry as the next version of a
 * model, and moves an alias to it when its gates passed.
 *
 *   bundle --open, read the manifest--> name, verdict, algorithm, metrics
 *          --store op "register"------> applied by the scheduler in this
 *                                       step run's completion transaction
 *
 * The step runs in its own process and never touches the store: it asks
 * for the registration with a store op (step_store_op), so a version exists
 * if and only if the step completed (store_ops.c).
 *
 * Invariants:
 *  1. Only a bundle whose verdict is passed gets the alias. A failed or
 *     missing verdict is still registered, without the alias, and the step
 *     says so in its log and its note: the registry keeps a record of what
 *     was tried, and `sluice models promote --force --reason` can still
 *     deploy it knowingly. (The store refuses an alias for such a verdict
 *     too, whoever asks.)
 *  2. What is registered opens as a bundle (digest, format, the transform
 *     producing the model's inputs): the registry never points at a file a
 *     server would refuse.
 *  3. Registering the bundle the newest version already has adds no
 *     version (store_model_register), so a rerun without the cache does
 *     not pile up copies; a cached rerun registers nothing at all.
 */
#include <string.h>

#include "model/bundle.h"
#include "model/mfile.h"
#include "steps/step.h"
#include "store/store.h"

static const step_opt opts[] = {
	{.name = "name", .type = OPT_STRING, .len = "[1, 64]",
	 .help = "the model's registered name (default: the name the bundle was packaged under)"},
	{.name = "alias", .type = OPT_STRING, .len = "[1, 64]",
	 .help = "an alias to move to the new version (production, staging, champion ...), "
		 "only when its verdict is passed"},
	{.name = "reason", .type = OPT_STRING,
	 .help = "why, recorded with the alias move (default: none)"},
	{.name = NULL},
};

static const step_port inputs[] = {
	{"bundle", "bundle", false, "the bundle to register (the package step's output)"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{NULL, NULL, false, NULL},
};

static int check(const step_check *c)
{
	const char *name = json_string_value(json_object_get(c->with, "name"));
	const char *alias = json_string_value(json_object_get(c->with, "alias"));

	if (name && store_check_model_name(name) != 0)
		return step_check_fail(c, "name", "%s", sl_errmsg());
	if (alias && store_check_alias_name(alias) != 0)
		return step_check_fail(c, "alias", "%s", sl_errmsg());
	return 0;
}

/*
 * The verdict a bundle's manifest records: "passed", "failed" or "none"
 * (absent). The test step writes it as an object whose "passed" is a
 * boolean; a "status" or "verdict" string saying passed or failed is read
 * the same way, and a bare string too.
 */
static const char *manifest_verdict(const json_t *man)
{
	const json_t *v = json_object_get(man, "verdict");
	const char *text = NULL;

	if (!v || json_is_null(v))
		return VERDICT_NONE;
	if (json_is_boolean(json_object_get(v, "passed")))
		return json_is_true(json_object_get(v, "passed")) ? VERDICT_PASSED : VERDICT_FAILED;
	if (json_is_string(v))
		text = json_string_value(v);
	else if (json_is_string(json_object_get(v, "status")))
		text = json_string_value(json_object_get(v, "status"));
	else if (json_is_string(json_object_get(v, "verdict")))
		text = json_string_value(json_object_get(v, "verdict"));
	if (text && !strcmp(text, VERDICT_PASSED))
		return VERDICT_PASSED;
	/* A verdict that does not say it passed did not pass. */
	return VERDICT_FAILED;
}

/* The manifest's metrics: only numbers, as the registry shows them. */
static json_t *number_metrics(const json_t *man)
{
	const json_t *m = json_object_get(man, "metrics");
	json_t *out = json_object();
	const char *k;
	json_t *v;

	if (!out || !json_is_object(m))
		return out;
	json_object_foreach((json_t *)m, k, v) {
		if (json_is_number(v) && json_object_set(out, k, v) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static int run(step_ctx *ctx)
{
	const char *path = step_input(ctx, "bundle");
	const char *name = step_opt_str(ctx, "name");
	const char *alias = step_opt_str(ctx, "alias");
	const char *reason = step_opt_str(ctx, "reason");
	const json_t *man;
	const char *verdict, *algorithm, *kind;
	json_t *op = NULL, *metrics = NULL;
	bundle *b = NULL;
	int rc;

	/* Invariant 2: what is registered can be served. */
	if ((rc = bundle_open(path, 0, &b)) != 0)
		return step_fail(ctx, rc == SL_ENOMEM ? rc : SL_EINPUT, "input 'bundle': %s",
				 sl_errmsg());
	man = bundle_manifest(b);
	kind = json_string_value(json_object_get(man, "kind"));
	if (!kind || strcmp(kind, "bundle") != 0) {
		bundle_close(b);
		return step_fail(ctx, SL_EINPUT,
				 "input 'bundle' is a model file, not a bundle; make one with the "
				 "package step (it adds the transform, metrics and verdict)");
	}
	if (!name)
		name = json_string_value(json_object_get(man, "name"));
	if (!name) {
		bundle_close(b);
		return step_fail(ctx, SL_EINPUT,
				 "the bundle was packaged without a name: give register with.name");
	}
	if (store_check_model_name(name) != 0) {
		rc = step_fail(ctx, SL_EINPUT, "the bundle's name cannot be registered: %s; give "
					       "register with.name",
			       sl_errmsg());
		bundle_close(b);
		return rc;
	}
	verdict = manifest_verdict(man);
	algorithm = json_string_value(json_object_get(man, "algorithm"));
	if (alias && strcmp(verdict, VERDICT_PASSED) != 0) {
		/* Invariant 1. */
		step_log(ctx, "verdict %s: registering model '%s' without alias '%s' (only a "
			      "bundle whose verdict is passed gets an alias)",
			 verdict, name, alias);
		step_note(ctx, "verdict %s: registered without alias '%s'", verdict, alias);
		alias = NULL;
	}
	metrics = number_metrics(man);
	op = json_object();
	if (!metrics || !op ||
	    json_object_set_new(op, "op", json_string("register")) ||
	    json_object_set_new(op, "on", json_string("input.bundle")) ||
	    json_object_set_new(op, "name", json_string(name)) ||
	    json_object_set_new(op, "alias", alias ? json_string(alias) : json_null()) ||
	    json_object_set_new(op, "verdict", json_string(verdict)) ||
	    json_object_set_new(op, "algorithm", algorithm ? json_string(algorithm) : json_null()) ||
	    json_object_set(op, "metrics", metrics) ||
	    json_object_set_new(op, "reason", reason ? json_string(reason) : json_null())) {
		json_decref(op);
		json_decref(metrics);
		bundle_close(b);
		return step_fail(ctx, SL_ENOMEM, "out of memory");
	}
	step_log(ctx, "registering the bundle as model '%s' (algorithm %s, verdict %s)%s%s", name,
		 algorithm ? algorithm : "unknown", verdict, alias ? ", alias " : "",
		 alias ? alias : "");
	step_store_op(ctx, op);
	json_decref(metrics);
	bundle_close(b);
	return 0;
}

const step_def step_register = {
	.name = "register",
	.version = 1,
	.summary = "add a bundle to the model registry as a new version; move an alias to it "
		   "when its verdict passed",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
};
