/*
 * `sluice models export --format c`: a bundle (or a model file) as one
 * dependency-free C99 file that needs only math.h, so a model runs where
 * sluice does not (a device, a database extension, a game). The file
 * defines what DESIGN.md fixes:
 *
 *   const char *const model_columns[];  the raw input columns, in row order
 *   const int model_n_columns;
 *   const char *const model_outputs[];  what model_predict writes, in order
 *   const int model_n_outputs;
 *   int model_predict(const double *row, double *out);
 *
 * and, for the string columns, their dictionaries (model_dictionary,
 * model_dictionary_size): a string is passed as its index there.
 *
 *   row (raw columns as doubles)
 *     |  inputs: NaN = missing; a string code outside the dictionary = a
 *     |  string the model does not know (code -1 inside)
 *     v
 *   the transform's row operations (dataset/transform_c.c)  --> return -1
 *     |                                                        (a filter)
 *     v
 *   binding: each model input from its transform output (a string
 *     |      recoded from the column's dictionary to the model's)
 *     v
 *   the family's sx_model (ml_ops.emit_c)  -->  out
 *
 * Invariants:
 *  1. Every piece mirrors code that predicts in sluice (kern(), the
 *     expression evaluator, bundle's binding, the family's predict), with
 *     the same operations in the same order, so the compiled file agrees
 *     with `sluice predict` (a test compiles it and compares, per family).
 *  2. What cannot be written exactly is refused with a message naming it
 *     (transform_c.h, expr_emit_c); the file is written only when whole.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "model/bundle.h"
#include "model/export_c.h"

/* A transform with no operations over the model's inputs: the raw inputs are the model's. */
static int identity_transform(const ml_signature *sig, transform **out)
{
	json_t *doc = json_pack("{s:s, s:i, s:[], s:[], s:[]}", "format", TRANSFORM_FORMAT, "version",
				TRANSFORM_VERSION, "inputs", "outputs", "ops");
	char *text;
	int rc;

	for (size_t j = 0; doc && j < sig->n_features; j++) {
		json_t *c = json_pack("{s:s, s:s}", "name", sig->features[j].name, "type",
				      ds_type_name(sig->features[j].type));
		if (!c || json_array_append(json_object_get(doc, "inputs"), c) ||
		    json_array_append(json_object_get(doc, "outputs"), c)) {
			json_decref(c);
			json_decref(doc);
			return sl__oom();
		}
		json_decref(c);
	}
	text = doc ? sl__json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return doc ? SL_ENOMEM : sl__oom();
	rc = transform_parse(text, strlen(text), "the model's inputs", out);
	sl__free(text);
	return rc;
}

/* The list of names as a table of string literals. */
static void names_table(sl__cw *w, const char *decl, const char *const *names, size_t n)
{
	sl__cw_printf(w, "%s = {", decl);
	for (size_t i = 0; i < n; i++) {
		sl__cw_puts(w, i ? ",\n\t" : "\n\t");
		sl__cw_string(w, names[i], strlen(names[i]));
	}
	sl__cw_puts(w, n ? "\n};\n" : "0};\n");
}

typedef struct binding {
	size_t slot;
	int dict; /* a string feature: the dictionary of its source column */
} binding;

/* Where each model input comes from: the transform output of the same name. */
static int bind(const ml_model *m, const transform *tf, const transform_c *tc, binding *bd)
{
	const ml_signature *sig = &m->sig;

	for (size_t j = 0; j < sig->n_features; j++) {
		size_t k = 0;
		while (k < transform_n_outputs(tf) &&
		       strcmp(transform_output_name(tf, k), sig->features[j].name))
			k++;
		if (k == transform_n_outputs(tf))
			return sl__err(SL_ECORRUPT, "the model's input '%s' is not made by the transform",
				       sig->features[j].name);
		bd[j].slot = transform_c_out_slot(tc, k);
		bd[j].dict = transform_c_out_dict(tc, k);
		if ((sig->features[j].type == DS_STRING) != (bd[j].dict >= 0))
			return sl__err(SL_ECORRUPT, "the model's input '%s' and the transform's output "
						    "differ in type",
				       sig->features[j].name);
	}
	return 0;
}

static void header(sl__cw *w, const bundle *b, const char *source, const transform *tf)
{
	const ml_model *m = bundle_model(b);
	const json_t *man = bundle_manifest(b);
	const char *name = json_string_value(json_object_get(man, "name"));
	size_t n = transform_n_inputs(tf);

	sl__cw_printf(w, "/*\n * %s%s%s model (%s, %s), exported by sluice %s\n * from %s.\n"
			 " * Generated: edit the pipeline, not this file. C99; needs only math.h (link\n"
			 " * with -lm).\n *\n",
		      name ? "'" : "A", name ? name : "", name ? "': a" : "", m->ops->algorithm,
		      ml_task_name(m->sig.task), SLUICE_VERSION, source);
	sl__cw_puts(w, " * Declarations for the code that calls it:\n"
		       " *   extern const char *const model_columns[];\n"
		       " *   extern const char *const model_column_types[];\n"
		       " *   extern const int model_n_columns;\n"
		       " *   extern const char *const model_outputs[];\n"
		       " *   extern const int model_n_outputs;\n"
		       " *   extern const char *const *const model_dictionary[];\n"
		       " *   extern const int model_dictionary_size[];\n"
		       " *   int model_predict(const double *row, double *out);\n *\n"
		       " * row holds model_n_columns values in model_columns order:\n");
	for (size_t k = 0; k < n; k++)
		sl__cw_printf(w, " *   row[%zu]  %s (%s%s)\n", k, transform_input_name(tf, k),
			      ds_type_name(transform_input_type(tf, k)),
			      bundle_transform(b) && !bundle_input_needed(b, k)
				      ? "; decides nothing: NAN will do"
				      : "");
	sl__cw_puts(w, " * Numbers as they are; bools 0 or 1; timestamps in microseconds since\n"
		       " * 1970-01-01T00:00:00Z; a missing value is NAN (a float NaN counts as\n"
		       " * missing too). A string column takes its value's index in\n"
		       " * model_dictionary[column] (model_dictionary_size[column] entries, found\n"
		       " * with strcmp); any other number (-1) stands for a string the dictionary\n"
		       " * does not hold, which the model treats as one it never saw.\n *\n"
		       " * out receives model_n_outputs values:");
	for (size_t k = 0; k < m->sig.n_outputs; k++)
		sl__cw_printf(w, "%s %s", k ? "," : "", m->sig.outputs[k]);
	sl__cw_puts(w, ".\n * model_predict returns 0, or -1 when the transform rejects the row (a\n"
		       " * filter, or a cast that fails with on_error: fail); out is then untouched.\n"
		       " * It keeps no state: call it from any number of threads.\n */\n"
		       "#include <math.h>\n\n");
}

static void public_tables(sl__cw *w, const ml_model *m, const transform *tf,
			  const transform_c *tc)
{
	size_t n = transform_n_inputs(tf);
	const char **names = sl__calloc(n + 1, sizeof *names), **types = sl__calloc(n + 1, sizeof *types);

	if (!names || !types) {
		w->rc = w->rc ? w->rc : sl__oom();
		sl__free(names);
		sl__free(types);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		names[k] = transform_input_name(tf, k);
		types[k] = ds_type_name(transform_input_type(tf, k));
	}
	names_table(w, "const char *const model_columns[]", names, n);
	names_table(w, "const char *const model_column_types[]", types, n);
	sl__cw_printf(w, "const int model_n_columns = %zu;\n", n);
	names_table(w, "const char *const model_outputs[]", (const char *const *)m->sig.outputs,
		    m->sig.n_outputs);
	sl__cw_printf(w, "const int model_n_outputs = %zu;\n\n", m->sig.n_outputs);
	for (size_t k = 0; k < n; k++) {
		size_t nd = transform_c_dict_size(tc, (int)k);
		if (transform_input_type(tf, k) != DS_STRING)
			continue;
		sl__cw_printf(w, "/* %s */\nstatic const char *const sx_dict%zu[] = {", names[k], k);
		for (size_t i = 0; i < nd; i++) {
			size_t len;
			const char *s = transform_c_dict_str(tc, (int)k, i, &len);
			sl__cw_puts(w, i ? ",\n\t" : "\n\t");
			sl__cw_string(w, s, len);
		}
		sl__cw_puts(w, nd ? "\n};\n" : "0};\n");
	}
	sl__cw_puts(w, "/* The dictionaries of the string columns (0 for the others). */\n"
		       "const char *const *const model_dictionary[] = {");
	for (size_t k = 0; k < n; k++) {
		sl__cw_puts(w, k % 8 ? ", " : k ? ",\n\t" : "\n\t");
		if (transform_input_type(tf, k) == DS_STRING)
			sl__cw_printf(w, "sx_dict%zu", k);
		else
			sl__cw_puts(w, "0");
	}
	sl__cw_puts(w, n ? "\n};\n" : "0};\n");
	sl__cw_puts(w, "const int model_dictionary_size[] = {");
	for (size_t k = 0; k < n; k++)
		sl__cw_printf(w, "%s%zu", k % 12 ? ", " : k ? ",\n\t" : "\n\t",
			      transform_input_type(tf, k) == DS_STRING
				      ? transform_c_dict_size(tc, (int)k)
				      : 0);
	sl__cw_puts(w, n ? "\n};\n\n" : "0};\n\n");
	sl__free(names);
	sl__free(types);
}

int export_c(const bundle *b, const char *source, char **out_text)
{
	const ml_model *m = bundle_model(b);
	const ml_signature *sig = &m->sig;
	transform *own = NULL;
	const transform *tf = bundle_transform(b);
	transform_c *tc = NULL;
	binding *bd = NULL;
	sl__cw file, body, fam, tabs;
	size_t nin, slots, p = sig->n_features;
	bool any_string = false;
	int rc;

	*out_text = NULL;
	if (!m->ops->emit_c)
		return sl__err(SL_EUNSUP, "%s models have no C export", m->ops->algorithm);
	sl__cw_init(&file);
	sl__cw_init(&body);
	sl__cw_init(&fam);
	sl__cw_init(&tabs);
	if (!tf) {
		if ((rc = identity_transform(sig, &own)))
			goto out;
		tf = own;
	}
	nin = transform_n_inputs(tf);
	if ((rc = transform_c_new(tf, &tc)))
		goto out;
	slots = transform_c_n_slots(tc);
	if (!(bd = sl__calloc(p + 1, sizeof *bd))) {
		rc = sl__oom();
		goto out;
	}
	/* The raw inputs into their slots. */
	for (size_t k = 0; k < nin; k++) {
		ds_type t = transform_input_type(tf, k);
		sl__cw_printf(&body, "\tz[%zu] = isnan(row[%zu]);\n", k, k);
		if (t == DS_STRING) {
			any_string = true;
			sl__cw_printf(&body, "\tv[%zu] = z[%zu] ? 0 : sx_code(row[%zu], model_dictionary_size[%zu]);\n",
				      k, k, k, k);
		} else if (t == DS_BOOL) {
			sl__cw_printf(&body, "\tv[%zu] = row[%zu] != 0;\n", k, k);
		} else {
			sl__cw_printf(&body, "\tv[%zu] = row[%zu];\n", k, k);
		}
	}
	if ((rc = transform_c_emit(tc, &body)) || (rc = bind(m, tf, tc, bd)))
		goto out;
	/* The model's inputs; a string is recoded into the model's dictionary. */
	sl__cw_puts(&body, "\t/* the model's inputs */\n");
	for (size_t j = 0; j < p; j++) {
		const ml_feature *f = &sig->features[j];
		if (f->type != DS_STRING) {
			sl__cw_printf(&body, "\tx[%zu] = z[%zu] ? NAN : v[%zu];\n", j, bd[j].slot,
				      bd[j].slot);
			continue;
		}
		/* The model's categories join the column's dictionary (invariant 1 there). */
		for (uint32_t c = 0; c < f->n_dict; c++)
			if (transform_c_code(tc, bd[j].dict, f->dict[c], strlen(f->dict[c])) < 0) {
				rc = sl__oom();
				goto out;
			}
		sl__cw_printf(&body, "\tx[%zu] = z[%zu] || v[%zu] < 0 ? NAN : sx_bind%zu[(int)v[%zu]];\n", j,
			      bd[j].slot, bd[j].slot, j, bd[j].slot);
	}
	if ((rc = m->ops->emit_c(m, &fam)))
		goto out;
	/* Tables indexed by dictionary code, now that the dictionaries are complete. */
	if ((rc = transform_c_tables(tc, &tabs)))
		goto out;
	for (size_t j = 0; j < p; j++) {
		const ml_feature *f = &sig->features[j];
		size_t nd;
		double *map;
		char decl[64];
		if (f->type != DS_STRING)
			continue;
		nd = transform_c_dict_size(tc, bd[j].dict);
		if (!(map = sl__malloc((nd + 1) * sizeof *map))) {
			rc = sl__oom();
			goto out;
		}
		for (size_t i = 0; i < nd; i++) {
			size_t len;
			const char *s = transform_c_dict_str(tc, bd[j].dict, i, &len);
			long code = ml_signature_code(sig, j, s, len);
			map[i] = code < 0 ? NAN : (double)code;
		}
		snprintf(decl, sizeof decl, "static const double sx_bind%zu[]", j);
		sl__cw_doubles(&tabs, decl, map, nd);
		sl__free(map);
	}
	header(&file, b, source, tf);
	public_tables(&file, m, tf, tc);
	if (any_string)
		sl__cw_puts(&file, "/* A string code as the index it is, or -1 when it is none. */\n"
				   "static double sx_code(double x, int n)\n{\n"
				   "\treturn x >= 0 && x < n && x == floor(x) ? x : -1;\n"
				   "}\n\n");
	sl__cw_cat(&file, &tabs);
	sl__cw_puts(&file, "\n");
	sl__cw_cat(&file, &fam);
	sl__cw_printf(&file, "\nint model_predict(const double *row, double *out)\n{\n"
			     "\tdouble v[%zu], x[%zu];\n"
			     "\tunsigned char z[%zu];\n\n",
		      slots ? slots : 1, p ? p : 1, slots ? slots : 1);
	sl__cw_cat(&file, &body);
	sl__cw_puts(&file, "\tsx_model(x, out);\n\treturn 0;\n}\n");
	if ((rc = file.rc))
		goto out;
	*out_text = sl__buf_detach(&file.b);
out:
	transform_c_free(tc);
	transform_free(own);
	sl__free(bd);
	sl__cw_free(&file);
	sl__cw_free(&body);
	sl__cw_free(&fam);
	sl__cw_free(&tabs);
	return rc;
}

int export_c_file(const char *model_path, const char *source, const char *out_path)
{
	bundle *b = NULL;
	char *text = NULL, *from = NULL;
	char id[SL__HASH_HEX_SIZE];
	const char *base = strrchr(model_path, '/');
	int rc;

	if ((rc = bundle_open(model_path, 0, &b)))
		return rc;
	/* The file's SHA-256 is its artifact id: what `sluice artifacts` and the
	 * registry know it by, whatever name it was exported through. */
	if ((rc = sl__sha256_file(model_path, id, NULL)) == 0 &&
	    !(from = sl__asprintf("%s,\n * artifact %s", source ? source : base ? base + 1 : model_path,
				  id)))
		rc = sl__oom();
	if (rc == 0)
		rc = export_c(b, from, &text);
	sl__free(from);
	if (rc && strstr(sl_errmsg(), model_path))
		rc = sl__err_prefix(rc, "cannot export to C");
	else if (rc)
		rc = sl__err_prefix(rc, "%s: cannot export to C", model_path);
	else
		rc = sl__write_atomic(out_path, text, strlen(text));
	sl__free(text);
	bundle_close(b);
	return rc;
}
