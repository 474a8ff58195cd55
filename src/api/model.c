/*
 * The public model API (sluice/model.h): argument checks at the boundary,
 * then the ml layer. The public sl_model is the internal ml_model.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"
#include "model/export_c.h"
#include "model/score.h"
#include "sluice/model.h"

int sl_model_load(const char *path, sl_model **out)
{
	if (!out)
		return sl__err(SL_EINVAL, "sl_model_load: out is NULL");
	*out = NULL;
	if (!path)
		return sl__err(SL_EINVAL, "sl_model_load: path is NULL");
	return ml_model_load(path, out);
}

void sl_model_free(sl_model *m)
{
	ml_model_free(m);
}

const char *sl_model_algorithm(const sl_model *m)
{
	return m ? m->ops->algorithm : NULL;
}

const char *sl_model_task(const sl_model *m)
{
	return m ? ml_task_name(m->sig.task) : NULL;
}

size_t sl_model_n_inputs(const sl_model *m)
{
	return m ? m->sig.n_features : 0;
}

const char *sl_model_input_name(const sl_model *m, size_t j)
{
	return m && j < m->sig.n_features ? m->sig.features[j].name : NULL;
}

const char *sl_model_input_type(const sl_model *m, size_t j)
{
	return m && j < m->sig.n_features ? ds_type_name(m->sig.features[j].type) : NULL;
}

int sl_model_input_code(const sl_model *m, size_t j, const char *value, double *out_code)
{
	long c;

	if (!m || !value || !out_code)
		return sl__err(SL_EINVAL, "sl_model_input_code: NULL argument");
	if (j >= m->sig.n_features || m->sig.features[j].type != DS_STRING)
		return sl__err(SL_EINVAL, "input %zu is not a string column", j);
	c = ml_signature_code(&m->sig, j, value, strlen(value));
	*out_code = c < 0 ? NAN : (double)c;
	return 0;
}

size_t sl_model_n_outputs(const sl_model *m)
{
	return m ? m->sig.n_outputs : 0;
}

const char *sl_model_output_name(const sl_model *m, size_t k)
{
	return m && k < m->sig.n_outputs ? m->sig.outputs[k] : NULL;
}

size_t sl_model_n_classes(const sl_model *m)
{
	return m ? m->sig.n_classes : 0;
}

const char *sl_model_class(const sl_model *m, size_t k)
{
	return m && k < m->sig.n_classes ? m->sig.classes[k] : NULL;
}

static int check_shape(const sl_model *m, const void *rows, size_t nrow, size_t ncol,
		       const double *out, size_t out_len, size_t per_row, const char *fn)
{
	if (!m || (!rows && nrow) || (!out && nrow))
		return sl__err(SL_EINVAL, "%s: NULL argument", fn);
	if (ncol != m->sig.n_features)
		return sl__err(SL_EINVAL, "%s: %zu columns given; the model takes %zu", fn, ncol,
			       m->sig.n_features);
	if (per_row && nrow > out_len / per_row)
		return sl__err(SL_EINVAL, "%s: out holds %zu values; %zu rows need %zu", fn,
			       out_len, nrow, nrow * per_row);
	return 0;
}

int sl_model_predict(const sl_model *m, const double *rows, size_t nrow, size_t ncol, double *out,
		     size_t out_len)
{
	int rc = check_shape(m, rows, nrow, ncol, out, out_len, m ? m->sig.n_outputs : 0,
			     "sl_model_predict");

	return rc ? rc : ml_model_predict(m, rows, nrow, out);
}

size_t sl_model_explain_groups(const sl_model *m)
{
	if (!m || !m->ops->explain)
		return 0;
	return m->ops->explain_groups ? m->ops->explain_groups(m) : 1;
}

int sl_model_explain(const sl_model *m, const double *rows, size_t nrow, size_t ncol, double *out,
		     size_t out_len)
{
	size_t groups = sl_model_explain_groups(m);
	int rc;

	if (m && !m->ops->explain)
		return sl__err(SL_EUNSUP, "%s models have no per-feature explanations",
			       m->ops->algorithm);
	rc = check_shape(m, rows, nrow, ncol, out, out_len, groups * (ncol + 1),
			 "sl_model_explain");
	return rc ? rc : m->ops->explain(m, rows, nrow, out);
}

int sl_model_describe(const sl_model *m, char **out_json)
{
	json_t *sig = NULL, *o;
	int rc;

	if (!m || !out_json)
		return sl__err(SL_EINVAL, "sl_model_describe: NULL argument");
	*out_json = NULL;
	if (m->file) {
		o = json_deep_copy(mfile_manifest(m->file));
	} else {
		if ((rc = ml_signature_to_json(&m->sig, &sig)))
			return rc;
		o = json_pack("{s:s, s:s, s:O, s:O, s:O}", "algorithm", m->ops->algorithm, "task",
			      ml_task_name(m->sig.task), "signature", sig, "params", m->params,
			      "info", m->info);
		json_decref(sig);
	}
	if (o) {
		char *s = sl__json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
		/* Hand out memory that sl_free releases. */
		*out_json = s ? sl__strdup(s) : NULL;
		free(s);
	}
	json_decref(o);
	return *out_json ? 0 : sl__err(SL_ENOMEM, "out of memory");
}

int sl_predict_file(const char *model_path, const char *in_path, const char *out_path,
		    const sl_predict_opts *opts, sl_predict_stats *out_stats)
{
	sl_predict_opts none = {0};
	score_stats st = {0, 0, NULL};
	int rc;

	if (!model_path || !in_path || !out_path)
		return sl__err(SL_EINVAL, "sl_predict_file: NULL path");
	opts = opts ? opts : &none;
	rc = score_file(model_path, in_path, opts->input_format, out_path, opts->output_format,
			opts->explain != 0, &st);
	if (rc == 0 && out_stats) {
		out_stats->rows = st.rows;
		out_stats->rejected = st.rejected;
	}
	return rc;
}

int sl_model_export_from(const char *model_path, const char *source, const char *format,
			 const char *out_path)
{
	if (!model_path || !format || !out_path)
		return sl__err(SL_EINVAL, "sl_model_export: NULL argument");
	if (strcmp(format, "c"))
		return sl__err(SL_EINVAL, "export format '%s': the one there is is c", format);
	return export_c_file(model_path, source, out_path);
}

int sl_model_export(const char *model_path, const char *format, const char *out_path)
{
	return sl_model_export_from(model_path, NULL, format, out_path);
}
