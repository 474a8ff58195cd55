/*
 * Cache key computation (see cache.h for the definition).
 *
 * Fields are separated by NUL bytes, which cannot occur inside any of them,
 * so no two different field lists hash the same text. Paths enter the key
 * relative to the pipeline's folder, so moving a project keeps its cache.
 */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cache.h"

static int feed(sl__sha256 *h, const char *s)
{
	return sl__sha256_update(h, s, strlen(s) + 1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cache_files_free(cache_files *files)
{
	if (!files)
		return;
	for (size_t i = 0; i < files->n; i++)
		sl__free(files->v[i].path);
	sl__free(files->v);
	memset(files, 0, sizeof *files);
}

static int add_file(cache_files *files, const char *path, const char *hex)
{
	if (!files)
		return 0;
	for (size_t i = 0; i < files->n; i++)
		if (!strcmp(files->v[i].path, path))
			return 0; /* named twice (a path option and deps:) */
	if (files->n == files->cap) {
		size_t cap = files->cap ? files->cap * 2 : 4;
		cache_file *v = sl__reallocarray(files->v, cap, sizeof *v);
		if (!v)
			return sl__oom();
		files->v = v;
		files->cap = cap;
	}
	if (!(files->v[files->n].path = sl__strdup(path)))
		return sl__oom();
	memcpy(files->v[files->n++].sha256, hex, SL__HASH_HEX_SIZE);
	return 0;
}

/* Hashes every file matching pattern (relative to dir), in sorted order. */
static int feed_files(sl__sha256 *h, const char *dir, const char *pattern, cache_files *files)
{
	char *abs = sl__path_join(dir, pattern);
	size_t skip = pattern[0] == '/' ? 0 : strlen(dir) + 1;
	char hex[SL__HASH_HEX_SIZE];
	glob_t g;
	int rc, grc;

	if (!abs)
		return sl__err(SL_ENOMEM, "out of memory");
	grc = glob(abs, GLOB_NOSORT, NULL, &g);
	sl__free(abs);
	if (grc == GLOB_NOMATCH) {
		/* The step itself will fail and say so; the key must still differ
		 * from the key of a run where the file existed. */
		rc = feed(h, "missing");
		return rc ? rc : feed(h, pattern);
	}
	if (grc != 0)
		return sl__err(SL_EIO, "cannot expand '%s'", pattern);
	qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str);
	rc = 0;
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
		const char *p = g.gl_pathv[i];
		rc = sl__sha256_file(p, hex, NULL);
		if (rc == 0)
			rc = feed(h, strlen(p) > skip ? p + skip : p);
		if (rc == 0)
			rc = feed(h, hex);
		if (rc == 0)
			rc = add_file(files, strlen(p) > skip ? p + skip : p, hex);
	}
	globfree(&g);
	return rc;
}

static int feed_path_option(sl__sha256 *h, const char *dir, json_t *v, cache_files *files)
{
	size_t i;
	json_t *e;
	int rc = 0;

	if (json_is_string(v))
		return feed_files(h, dir, json_string_value(v), files);
	json_array_foreach(v, i, e) {
		if (json_is_string(e))
			rc = feed_files(h, dir, json_string_value(e), files);
		if (rc)
			return rc;
	}
	return 0;
}

int cache_key(const spec *sp, size_t step, const char *const *in_names,
	      const char *const *in_ids, size_t n_in, char out[SL__HASH_HEX_SIZE])
{
	return cache_key_files(sp, step, in_names, in_ids, n_in, NULL, out);
}

int cache_key_files(const spec *sp, size_t step, const char *const *in_names,
		    const char *const *in_ids, size_t n_in, cache_files *files,
		    char out[SL__HASH_HEX_SIZE])
{
	const spec_step *st = &sp->steps[step];
	char *canon = spec_step_canonical(sp, step);
	size_t *order = NULL;
	char hex[SL__HASH_HEX_SIZE];
	char ver[64];
	sl__sha256 h;
	int rc;

	if (!canon)
		return sl__err(SL_ENOMEM, "out of memory");
	rc = sl__sha256_init(&h);
	if (rc) {
		sl__free(canon);
		return rc;
	}
	rc = feed(&h, "sluice-cache-v1");
	if (rc == 0)
		rc = feed(&h, canon);
	sl__free(canon);

	if (rc == 0) {
		switch (st->kind) {
		case SPEC_USES:
			snprintf(ver, sizeof ver, "@%d", st->def->version);
			rc = feed(&h, st->def->name);
			if (rc == 0)
				rc = feed(&h, ver);
			/* Files a built-in reads through path options. */
			for (const step_opt *o = st->def->opts; rc == 0 && o && o->name; o++) {
				if (o->type == OPT_PATH)
					rc = feed_path_option(&h, sp->dir, json_object_get(st->with, o->name),
							      files);
			}
			break;
		case SPEC_RUN:
			rc = feed(&h, "run");
			break;
		case SPEC_PLUGIN: {
			/* The plugin's code is part of the step: hash the library. */
			char *lib = sl__strdup(st->plugin);
			char *colon = lib ? strrchr(lib, ':') : NULL;
			if (!lib)
				rc = sl__err(SL_ENOMEM, "out of memory");
			else {
				if (colon)
					*colon = '\0';
				rc = feed(&h, "plugin");
				if (rc == 0)
					rc = feed_files(&h, sp->dir, lib, NULL);
			}
			sl__free(lib);
			break;
		}
		}
	}

	/* Inputs in name order, so the order in the file does not matter. */
	if (rc == 0 && n_in) {
		order = sl__calloc(n_in, sizeof *order);
		if (!order)
			rc = sl__err(SL_ENOMEM, "out of memory");
		for (size_t i = 0; rc == 0 && i < n_in; i++) {
			size_t j = i;
			while (j > 0 && strcmp(in_names[order[j - 1]], in_names[i]) > 0) {
				order[j] = order[j - 1];
				j--;
			}
			order[j] = i;
		}
		for (size_t i = 0; rc == 0 && i < n_in; i++) {
			rc = feed(&h, in_names[order[i]]);
			if (rc == 0)
				rc = feed(&h, in_ids[order[i]]);
		}
		sl__free(order);
	}
	for (size_t i = 0; rc == 0 && i < st->n_deps; i++)
		rc = feed_files(&h, sp->dir, st->deps[i], files);

	if (rc) {
		sl__sha256_abort(&h);
		return rc;
	}
	rc = sl__sha256_final(&h, hex);
	if (rc == 0)
		memcpy(out, hex, SL__HASH_HEX_SIZE);
	return rc;
}
