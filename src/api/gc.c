/*
 * `sluice artifacts gc` (sl_artifacts_gc): removes the artifact files that
 * nothing references any more, while runs may be working.
 *
 *   1. recover runs whose driver died (they would otherwise look running
 *      and hold their files forever)
 *   2. read the live set from the store (store_gc.c: registered bundles and
 *      their ancestors, the newest runs of each pipeline, running runs,
 *      young artifacts)
 *   3. walk .sluice/artifacts/xx/...: every file not live and older than
 *      the grace period is a candidate
 *   4. each candidate is checked again and removed under the store's write
 *      lock (store_gc_remove), so a run that started using it meanwhile
 *      keeps it
 *
 * The metadata (rows, lineage) stays: only files go, and a row says when its
 * file went. With dry_run nothing is removed and the candidates are listed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/project.h"
#include "artifact/artifact.h"

#define GC_KEEP_RUNS 5
#define GC_GRACE_SEC 3600.0

typedef struct gc_run {
	sl_project *p;
	const sl_gc_opts *o;
	char (*live)[SL__HASH_HEX_SIZE];
	size_t n_live;
	store_gc_check ck;
	json_t *removed, *would, *skipped;
	uint64_t freed;
	size_t kept;
} gc_run;

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool is_live(const gc_run *g, const char *id)
{
	return bsearch(id, g->live, g->n_live, sizeof *g->live, cmp_id) != NULL;
}

static int remove_file(void *ud, const char *id)
{
	gc_run *g = ud;
	char *path = art_path(g->p->art_root, id);
	int rc = 0;

	if (!path)
		return sl__oom();
	if (unlink(path) != 0 && errno != ENOENT)
		rc = sl__err(SL_EIO, "cannot remove %s: %s", path, strerror(errno));
	sl__free(path);
	return rc;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

/* {id, type, size} of a file, typed from its row when it has one. */
static json_t *entry(gc_run *g, const char *id, uint64_t size)
{
	json_t *row = NULL, *o;

	if (store_gc_info(g->p->st, id, &row) != 0)
		sl__err_clear();
	o = json_pack("{s:s, s:O?, s:I}", "id", id, "type", json_object_get(row, "type"), "size",
		      (json_int_t)size);
	json_decref(row);
	return o;
}

/* One stored file: kept, listed (dry run) or removed. */
static int one_file(gc_run *g, const char *id, const struct stat *st)
{
	bool removed;
	const char *why;
	json_t *e;
	int rc;

	if (is_live(g, id) || (int64_t)st->st_mtime * 1000 >= g->ck.young_ms) {
		g->kept++;
		return 0;
	}
	if (g->o->dry_run) {
		if (!(e = entry(g, id, (uint64_t)st->st_size)) || json_array_append_new(g->would, e))
			return sl__oom();
		g->freed += (uint64_t)st->st_size;
		return 0;
	}
	e = entry(g, id, (uint64_t)st->st_size);
	if (!e)
		return sl__oom();
	rc = store_gc_remove(g->p->st, id, &g->ck, &removed, &why);
	if (rc) {
		json_decref(e);
		return rc;
	}
	if (removed) {
		g->freed += (uint64_t)st->st_size;
		return json_array_append_new(g->removed, e) ? sl__oom() : 0;
	}
	g->kept++;
	if (json_object_set_new(e, "why", json_string(why)) || json_array_append_new(g->skipped, e))
		return sl__oom();
	return 0;
}

/* Every file under the artifact store's fan-out folders. */
static int walk(gc_run *g)
{
	DIR *top = opendir(g->p->art_root);
	struct dirent *d;
	int rc = 0;

	if (!top)
		return errno == ENOENT ? 0
				       : sl__err(SL_EIO, "cannot read %s: %s", g->p->art_root,
						 strerror(errno));
	while (rc == 0 && (d = readdir(top)) != NULL) {
		char *sub;
		DIR *dd;
		struct dirent *f;

		if (strlen(d->d_name) != 2 || !all_hex(d->d_name, 2))
			continue;
		if (!(sub = sl__path_join(g->p->art_root, d->d_name))) {
			rc = sl__oom();
			break;
		}
		dd = opendir(sub);
		while (rc == 0 && dd && (f = readdir(dd)) != NULL) {
			char id[SL__HASH_HEX_SIZE], *path;
			struct stat st;
			/* Only finished files are named by a hash; anything else is not ours. */
			if (strlen(f->d_name) != SL__HASH_HEX_LEN - 2 ||
			    !all_hex(f->d_name, SL__HASH_HEX_LEN - 2))
				continue;
			snprintf(id, sizeof id, "%s%s", d->d_name, f->d_name);
			if (!(path = sl__path_join(sub, f->d_name))) {
				rc = sl__oom();
				break;
			}
			if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
				rc = one_file(g, id, &st);
			sl__free(path);
		}
		if (dd)
			closedir(dd);
		sl__free(sub);
	}
	closedir(top);
	return rc;
}

int sl_artifacts_gc(sl_project *p, const sl_gc_opts *o, char **out_json)
{
	sl_gc_opts def = {0};
	gc_run g = {0};
	char host[256] = "";
	double grace;
	int keep, rc;
	json_t *res = NULL;

	if (out_json)
		*out_json = NULL;
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_artifacts_gc: bad arguments");
	if (!o)
		o = &def;
	keep = o->keep_runs > 0 ? o->keep_runs : GC_KEEP_RUNS;
	grace = o->grace_seconds >= 0 ? o->grace_seconds : GC_GRACE_SEC;
	g.p = p;
	g.o = o;
	g.ck.since_ms = sl__now_ms();
	g.ck.young_ms = g.ck.since_ms - (int64_t)(grace * 1000);
	g.ck.remove = remove_file;
	g.ck.ud = &g;
	/* A dead run would look running and keep everything it touched. */
	if (gethostname(host, sizeof host - 1) == 0 && orch_recover(p->st, host, NULL) != 0)
		sl__err_clear();
	g.removed = json_array();
	g.would = json_array();
	g.skipped = json_array();
	if (!g.removed || !g.would || !g.skipped) {
		rc = sl__oom();
		goto out;
	}
	rc = store_gc_live(p->st, keep, g.ck.young_ms, &g.live, &g.n_live);
	if (rc)
		goto out;
	/* Sorted here too: a backend's collation need not be strcmp's. */
	qsort(g.live, g.n_live, sizeof *g.live, cmp_id);
	rc = walk(&g);
	if (rc)
		goto out;
	res = json_pack("{s:b, s:O, s:O, s:O, s:I, s:I, s:i, s:f}", "dry_run", o->dry_run != 0,
			"removed", g.removed, "would_remove", g.would, "kept_but_unreferenced",
			g.skipped, "kept", (json_int_t)g.kept, "freed_bytes", (json_int_t)g.freed,
			"keep_runs", keep, "grace_seconds", grace);
	rc = res ? api_dump(res, out_json) : sl__oom();
out:
	json_decref(g.removed);
	json_decref(g.would);
	json_decref(g.skipped);
	sl__free(g.live);
	return api_fail(p, rc);
}
