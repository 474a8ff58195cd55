/*
 * libFuzzer target for the YAML loader and the files read through it
 * other than pipelines (fuzz_spec.c has those): every input is read as a
 * generic document (canvas.yaml's path: the tree, lookups by path, JSON
 * with positions in both non-finite modes), as a validation schema, and
 * as sluice.yaml. Nothing may crash, leak or hang, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/project.h"
#include "monitor/schema.h"
#include "yamltree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every node and asks the position map about every path it made. */
static void walk(const sl__ynode *n, int depth)
{
	if (!n || depth > SL__YAML_MAX_DEPTH + 1)
		return;
	(void)sl__ynode_kind_name(n);
	if (sl__ynode_is_scalar(n)) {
		(void)sl__ynode_pos_at(n, n->len / 2);
		return;
	}
	for (size_t i = 0; i < sl__ynode_count(n); i++) {
		if (n->kind == SL__Y_MAP) {
			const sl__ynode *k = sl__ymap_key_at(n, i);
			if (sl__ymap_get(n, k->text, NULL) == NULL)
				abort(); /* every key finds a value */
			walk(sl__ymap_val_at(n, i), depth + 1);
		} else {
			walk(sl__yseq_at(n, i), depth + 1);
		}
	}
}

static void generic(const char *text, size_t size, unsigned flags)
{
	static const char *const paths[] = {"", "a", "a.b", "a[0]", "[0]", "a[\"x.y\"].c", "a[99999999999999999999]", "a[\"", "..", "a..b"};
	sl__yaml_opts yo;
	sl__ydoc *d = NULL;
	sl__ypmap *pm = NULL;
	sl__yjson o;
	json_t *j = NULL;

	memset(&yo, 0, sizeof yo);
	yo.name = "canvas.yaml";
	if (sl__yaml_parse(text, size, &yo, &d))
		return;
	walk(sl__ydoc_root(d), 0);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		(void)sl__ynode_at(sl__ydoc_root(d), paths[i]);
	if (sl__ydoc_root(d) && sl__ypmap_new(&pm) == 0) {
		memset(&o, 0, sizeof o);
		o.flags = flags;
		o.pmap = pm;
		if (sl__yaml_json(d, sl__ydoc_root(d), &o, &j) == 0) {
			for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
				sl__yloc loc;
				(void)sl__ypath_json(j, paths[i]);
				(void)sl__ypmap_find(pm, paths[i], &loc);
			}
		}
	}
	json_decref(j);
	sl__ypmap_free(pm);
	sl__ydoc_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	api_settings set;
	schema *s = NULL;

	generic(text, size, 0);
	generic(text, size, SL__YJSON_NONFINITE_TEXT);
	if (schema_parse_yaml(text, size, "schema.yaml", SCHEMA_ERROR, &s) == 0)
		schema_free(s);
	if (api_settings_parse(text, size, "sluice.yaml", "/p", "/p/.sluice", &set) == 0)
		api_settings_free(&set);
	return 0;
}
