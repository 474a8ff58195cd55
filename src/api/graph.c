/*
 * A pipeline file's graph (sluice.h: sl_pipeline_graph): its steps and
 * which steps each consumes from, as the spec parser and the DAG builder
 * see them. What the web UI draws a run with before its steps have run:
 * a run's record holds only the steps that started, and their edges only
 * once artifacts exist.
 */
#include <string.h>

#include "api/project.h"
#include "pipeline/spec.h"

static const char *kind_name(const spec_step *st)
{
	switch (st->kind) {
	case SPEC_USES:
		return "uses";
	case SPEC_RUN:
		return "run";
	default:
		return "plugin";
	}
}

static json_t *names(const spec *sp, const size_t *idx, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(sp->steps[idx[i]].name))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *step_json(const spec *sp, const spec_step *st)
{
	json_t *outs = json_array(), *o;

	for (size_t i = 0; outs && i < st->n_outputs; i++)
		if (json_array_append_new(outs, json_string(st->outputs[i]))) {
			json_decref(outs);
			outs = NULL;
		}
	if (!outs)
		return NULL;
	o = json_pack("{s:s, s:s, s:s?, s:o?, s:o?, s:o}", "name", st->name, "kind", kind_name(st),
		      "uses", st->kind == SPEC_USES ? st->uses : NULL, "needs",
		      names(sp, st->upstream, st->n_upstream), "feeds",
		      names(sp, st->downstream, st->n_downstream), "outputs", outs);
	return o;
}

int sl_pipeline_graph(const char *file, char **out_json)
{
	spec *sp = NULL;
	json_t *j, *steps;
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!file || !out_json)
		return sl__err(SL_EINVAL, "sl_pipeline_graph: bad arguments");
	sl__err_clear();
	if ((rc = spec_parse_file(file, NULL, 0, &sp)))
		return rc;
	if (!(steps = json_array())) {
		spec_free(sp);
		return sl__oom();
	}
	for (size_t k = 0; k < sp->n_steps; k++) {
		/* File order is kept in "steps"; "order" is a topological one. */
		json_t *st = step_json(sp, &sp->steps[k]);
		if (!st || json_array_append_new(steps, st)) {
			json_decref(steps);
			spec_free(sp);
			return sl__oom();
		}
	}
	j = json_pack("{s:s, s:s, s:o}", "name", sp->name ? sp->name : "", "file", sp->path, "steps",
		      steps);
	spec_free(sp);
	if (!j)
		return sl__oom();
	return api_dump(j, out_json);
}
