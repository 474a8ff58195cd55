/*
 * A small YAML-to-JSON loader for configuration files (sluice.yaml,
 * canvas.yaml, schema files): YAML 1.2 core-schema scalars become typed JSON
 * values, quoted scalars stay strings. Errors name FILE:LINE:COL. The
 * pipeline parser has its own loader because it must keep every node's
 * position for later validation messages.
 */
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "core.h"

#define MAX_DEPTH 64


json_t *sl__yaml_scalar(const char *text, size_t len, bool quoted)
{
	int64_t i;
	double d;

	if (quoted)
		return json_stringn(text, len);
	if (len == 0 || !strcmp(text, "~") || !strcmp(text, "null") || !strcmp(text, "Null") ||
	    !strcmp(text, "NULL"))
		return json_null();
	if (!strcmp(text, "true") || !strcmp(text, "True") || !strcmp(text, "TRUE"))
		return json_true();
	if (!strcmp(text, "false") || !strcmp(text, "False") || !strcmp(text, "FALSE"))
		return json_false();
	if (sl__parse_i64(text, &i))
		return json_integer((json_int_t)i);
	if (!strcmp(text, ".inf") || !strcmp(text, ".Inf") || !strcmp(text, "+.inf"))
		return json_real(1e308 * 10);
	if (!strcmp(text, "-.inf") || !strcmp(text, "-.Inf"))
		return json_real(-1e308 * 10);
	if (strspn(text, "0123456789+-.eE") == len && sl__parse_f64(text, &d))
		return json_real(d);
	return json_stringn(text, len);
}

static json_t *load_node(yaml_document_t *doc, yaml_node_t *node, int depth, const char *file,
			 int *rc)
{
	json_t *out = NULL;

	if (depth > MAX_DEPTH) {
		*rc = sl__err(SL_EPARSE, "%s:%zu:%zu: nesting deeper than %d levels", file,
			      node->start_mark.line + 1, node->start_mark.column + 1, MAX_DEPTH);
		return NULL;
	}
	switch (node->type) {
	case YAML_SCALAR_NODE:
		out = sl__yaml_scalar((const char *)node->data.scalar.value, node->data.scalar.length,
				      node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE);
		break;
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     out && it < node->data.sequence.items.top; it++) {
			json_t *v = load_node(doc, yaml_document_get_node(doc, *it), depth + 1, file, rc);
			if (!v) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, v);
		}
		break;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     out && p < node->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE) {
				*rc = sl__err(SL_EPARSE, "%s:%zu:%zu: mapping keys must be scalars", file,
					      k ? k->start_mark.line + 1 : 0,
					      k ? k->start_mark.column + 1 : 0);
				json_decref(out);
				return NULL;
			}
			const char *key = (const char *)k->data.scalar.value;
			if (json_object_get(out, key)) {
				*rc = sl__err(SL_EPARSE, "%s:%zu:%zu: duplicate key '%s'", file,
					      k->start_mark.line + 1, k->start_mark.column + 1, key);
				json_decref(out);
				return NULL;
			}
			json_t *v = load_node(doc, yaml_document_get_node(doc, p->value), depth + 1,
					      file, rc);
			if (!v) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, key, v);
		}
		break;
	default:
		out = json_null();
	}
	if (!out && *rc == 0)
		*rc = sl__err(SL_ENOMEM, "out of memory");
	return out;
}

int sl__yaml_load_file(const char *path, json_t **out)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f;
	int rc = 0;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return sl__err(SL_ENOENT, "%s: cannot open", path);
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = sl__err(SL_EPARSE, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
			     parser.problem_mark.column + 1,
			     parser.problem ? parser.problem : "invalid YAML");
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		*out = root ? load_node(&doc, root, 0, path, &rc) : json_object();
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}
