/*
 * package: the deployable bundle (model/bundle.h). One file holding the
 * model's sections and a manifest with everything a registry, a server
 * and an auditor ask of a version:
 *
 *   model ---------+
 *   transform? ----+--> bundle_write --> bundle: format versions, signature,
 *   report? -------+    (manifest)       algorithm and hyperparameters, the
 *   verdict? ------+                     fitted transform, metrics, verdict,
 *                                        lineage
 *
 * Manifest fields this step adds (docs/steps/package.md has the shape):
 *   "name"          with.name, else the pipeline's name
 *   "metrics"       the report's flat metrics ({} without a report)
 *   "main_metric"   the report's main metric name, when there is a report
 *   "verdict"       "passed", "failed" or "none" (no verdict connected)
 *   "gate"          the verdict artifact's checks, when there is one
 *   "lineage"       {"run", "pipeline", "pipeline_sha256", "datasets": [ids],
 *                    "training": {"train", "valid"}, "test", "model",
 *                    "transform", "report", "verdict": artifact ids,
 *                    "sluice_version"}
 * The model's sections are copied, its "monitoring" one too (the training
 * profile and calibration live monitoring compares with, monitor/reference.h).
 *
 * The datasets are the model's training and validation sets (train.* records
 * them in the model, lineage.datasets) and the report's test set (evaluate
 * records it, lineage.test), by artifact id, so a registered version leads
 * back to its data without the metadata store.
 *
 * Invariant: the bundle is written only when it opens as a bundle (the
 * transform makes every model input; bundle_write checks), and it is
 * written once, atomically.
 */
#include <stdlib.h>
#include <string.h>

#include "ml/eval.h"
#include "model/bundle.h"
#include "monitor/reference.h"
#include "steps/step.h"

static const step_opt opts[] = {
	{.name = "name", .type = OPT_STRING, .len = "[1,)",
	 .help = "the bundle's name (default: the pipeline's name)"},
	{.name = NULL},
};

static const step_port inputs[] = {
	{"model", "model", false, "the trained model (a train.* output)"},
	{"transform", "transform", true,
	 "the fitted wrangle transform the model's inputs came out of, applied before predicting"},
	{"report", "report", true, "the evaluation report: its metrics go into the manifest"},
	{"verdict", "verdict", true, "the gate's verdict (test): passed or failed"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"bundle", "bundle", false, "the deployable model: one checked, mmap-able file"},
	{NULL, NULL, false, NULL},
};

static int read_json(step_ctx *ctx, const char *port, json_t **out)
{
	const char *path = step_input(ctx, port);
	json_error_t err;
	bool oom = false;

	*out = NULL;
	if (!path)
		return 0;
	if (!(*out = sl__json_load_file(path, 0, &err, &oom)))
		return oom ? step_oom(ctx)
			   : step_fail(ctx, SL_EINVAL, "%s: not JSON (%s, line %d)", port, err.text,
				       err.line);
	return 0;
}

/* Adds id under key of obj when known. */
static int put_id(json_t *obj, const char *key, const char *id)
{
	return id ? json_object_set_new(obj, key, json_string(id)) : 0;
}

/* Appends id to the array unless it is there already. */
static int add_dataset(json_t *a, const json_t *id)
{
	const json_t *v;
	size_t i;

	if (!json_is_string(id))
		return 0;
	json_array_foreach(a, i, v)
		if (json_equal(v, id))
			return 0;
	return json_array_append(a, (json_t *)id);
}

static json_t *lineage(step_ctx *ctx, const json_t *model_man, const json_t *rep)
{
	json_t *lin = json_object(), *ds = json_array(), *v;
	const json_t *mlin = json_object_get(json_object_get(model_man, "lineage"), "datasets");
	const char *key;
	bool bad = !lin || !ds;

	json_object_foreach((json_t *)mlin, key, v)
		bad = bad || add_dataset(ds, v);
	/* Which dataset played which part in training, as train.* recorded it. */
	if (json_is_object(mlin))
		bad = bad || json_object_set(lin, "training", (json_t *)mlin);
	bad = bad || add_dataset(ds, json_object_get(json_object_get(rep, "lineage"), "test"));
	/* The test set by name too: a retraining run gets it as test_data (monitoring.md). */
	if (json_is_string(json_object_get(json_object_get(rep, "lineage"), "test")))
		bad = bad || json_object_set(lin, "test",
					     json_object_get(json_object_get(rep, "lineage"), "test"));
	bad = bad || json_object_set(lin, "datasets", ds) ||
	      put_id(lin, "run", ctx->run_id) || put_id(lin, "pipeline", ctx->pipeline_name) ||
	      put_id(lin, "pipeline_sha256", ctx->pipeline_sha256) ||
	      put_id(lin, "model", step_input_id(ctx, "model")) ||
	      put_id(lin, "transform", step_input_id(ctx, "transform")) ||
	      put_id(lin, "report", step_input_id(ctx, "report")) ||
	      put_id(lin, "verdict", step_input_id(ctx, "verdict")) ||
	      json_object_set_new(lin, "sluice_version", json_string(SLUICE_VERSION));
	json_decref(ds);
	if (bad) {
		json_decref(lin);
		return NULL;
	}
	return lin;
}

/*
 * A binary model's report decided at a threshold (evaluate's `threshold`,
 * chosen by the costs with `threshold: cost`): the bundle keeps it, so
 * serving and batch scoring decide as the evaluation and the gate judged.
 * Only a threshold on the second class's probability is kept, the class
 * the bundle's readers decide on; a report with another positive class
 * leaves the bundle at 0.5 and the log says so. Returns 0 or SL_ENOMEM.
 */
static int put_threshold(step_ctx *ctx, json_t *extra, const json_t *rep)
{
	const json_t *m = json_object_get(rep, "model"), *t = json_object_get(m, "threshold");
	const char *task = json_string_value(json_object_get(m, "task"));
	const char *pos = json_string_value(json_object_get(m, "positive"));
	const char *second = json_string_value(json_array_get(json_object_get(m, "classes"), 1));

	if (!task || strcmp(task, "binary") || !json_is_number(t))
		return 0;
	if (!pos || !second || strcmp(pos, second)) {
		step_log(ctx, "note: the report decided for class '%s' at threshold %g; the bundle "
			      "decides on the second class's probability at 0.5",
			 pos ? pos : "?", json_number_value(t));
		return 0;
	}
	step_log(ctx, "threshold %g: the bundle decides '%s' when its probability reaches it, as "
		      "the evaluation did",
		 json_number_value(t), pos);
	return json_object_set(extra, "threshold", (json_t *)t) ? SL_ENOMEM : 0;
}

static int run(step_ctx *ctx)
{
	const char *model = step_input(ctx, "model"), *tf = step_input(ctx, "transform");
	const char *out = step_output(ctx, "bundle");
	const char *name = step_opt_str(ctx, "name");
	json_t *rep = NULL, *ver = NULL, *extra = NULL, *lin = NULL, *metrics, *meta;
	const char *verdict = "none";
	mfile *f = NULL;
	bundle *b = NULL;
	int rc;

	if ((rc = read_json(ctx, "report", &rep)) || (rc = read_json(ctx, "verdict", &ver)))
		goto out;
	if (rep && !ml_report_is(rep)) {
		rc = step_fail(ctx, SL_EINVAL, "report: not an evaluation report (connect the report "
					       "output of an evaluate step)");
		goto out;
	}
	if (ver) {
		verdict = json_string_value(json_object_get(ver, "verdict"));
		const char *kind = json_string_value(json_object_get(ver, "kind"));
		if (!kind || strcmp(kind, "verdict") || !verdict ||
		    (strcmp(verdict, "passed") && strcmp(verdict, "failed"))) {
			rc = step_fail(ctx, SL_EINVAL, "verdict: not a verdict (connect the verdict "
						       "output of a test step)");
			goto out;
		}
	}
	if ((rc = mfile_open(model, &f))) {
		rc = step_fail(ctx, rc, "model: %s", sl_errmsg());
		goto out;
	}
	if (!(lin = lineage(ctx, mfile_manifest(f), rep))) {
		rc = step_oom(ctx);
		goto out;
	}
	if (!name)
		name = ctx->pipeline_name ? ctx->pipeline_name : ctx->step_name;
	metrics = rep && json_is_object(json_object_get(rep, "metrics"))
			  ? json_incref(json_object_get(rep, "metrics"))
			  : json_object();
	extra = json_pack("{s:s, s:o, s:s, s:O}", "name", name, "metrics", metrics, "verdict",
			  verdict, "lineage", lin);
	if (extra && rep && json_object_get(json_object_get(rep, "main_metric"), "name") &&
	    json_object_set(extra, "main_metric",
			    json_object_get(json_object_get(rep, "main_metric"), "name")))
		rc = SL_ENOMEM;
	if (extra && ver && !rc)
		rc = json_object_set_new(extra, "gate",
					 json_pack("{s:O?, s:O?, s:O?}", "checks",
						   json_object_get(ver, "rules"), "failed",
						   json_object_get(ver, "failed"), "latency",
						   json_object_get(ver, "latency")))
			     ? SL_ENOMEM
			     : 0;
	if (extra && !rc)
		rc = put_threshold(ctx, extra, rep);
	if (!extra || rc) {
		rc = step_oom(ctx);
		goto out;
	}
	if ((rc = bundle_write(model, tf, extra, out))) {
		rc = step_fail(ctx, rc, "%s", sl_errmsg());
		goto out;
	}
	if ((rc = bundle_open(out, 0, &b))) {
		rc = step_fail(ctx, rc, "the bundle written: %s", sl_errmsg());
		goto out;
	}
	{
		bundle *rows = NULL;
		/* A transform with lag or rolling scores tables (batch) but not one
		 * row at a time: say so now rather than when it is served. */
		if (bundle_open(out, BUNDLE_ROWS, &rows) != 0)
			step_log(ctx, "note: %s; the bundle scores tables (sluice predict) but a "
				      "server cannot score single rows with it",
				 sl_errmsg());
		bundle_close(rows);
	}
	/* The monitoring reference travels in the model (train.* makes it,
	 * monitor/reference.h); a bundle without one cannot be monitored. */
	if (!mref_present(bundle_model(b)->file))
		step_log(ctx, "note: the model carries no monitoring reference (trained by an older "
			      "sluice): `sluice monitor` cannot compare its traffic until it is "
			      "retrained");
	step_log(ctx, "bundle '%s': %s %s model, %zu raw inputs, verdict %s", name,
		 bundle_model(b)->ops->algorithm, ml_task_name(bundle_model(b)->sig.task),
		 bundle_n_inputs(b), verdict);
	meta = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "algorithm",
			 bundle_model(b)->ops->algorithm, "task",
			 ml_task_name(bundle_model(b)->sig.task), "verdict", verdict);
	if (meta)
		step_output_meta(ctx, "bundle", meta);
	step_note(ctx, "verdict %s", verdict);
out:
	bundle_close(b);
	mfile_close(f);
	json_decref(rep);
	json_decref(ver);
	json_decref(extra);
	json_decref(lin);
	return rc;
}

const step_def step_package = {
	.name = "package",
	.version = 2, /* 2: the report's binary threshold kept */
	.summary = "the deployable bundle: model, fitted transform, metrics, verdict and "
		   "lineage in one checked file",
	.opts = opts,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
};
