/*
 * What an artifact's bytes say, for `sluice artifacts show` and `export`:
 * the type-specific view of a stored file.
 */
#include <string.h>

#include "api/project.h"
#include "artifact/artifact.h"
#include "dataset/dataset.h"
#include "ml/eval.h"
#include "ml/tune_html.h"
#include "model/mfile.h"

/* A short text file is shown inline; anything else only by size and type. */
static json_t *text_preview(const char *path)
{
	enum { PREVIEW = 2048 };
	sl__buf b;
	json_t *j;

	if (sl__read_file(path, 64u << 20, &b) != 0)
		return NULL;
	size_t n = b.len < PREVIEW ? b.len : PREVIEW;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b.data[i];
		if (c == 0 || (c < 32 && c != '\n' && c != '\r' && c != '\t')) {
			sl__buf_free(&b);
			return NULL;
		}
	}
	/* Do not cut a UTF-8 sequence in half at the preview's end. */
	while (n < b.len && n > 0 && ((unsigned char)b.data[n] & 0xC0) == 0x80)
		n--;
	/* NULL when the bytes are not UTF-8: binary, shown by size only. */
	j = json_stringn(b.data, n);
	sl__buf_free(&b);
	return j;
}

/*
 * A model file's summary from its manifest: what it is, what it reads and
 * predicts, how it was trained and how it scored. The sections are not
 * read; a file the reader refuses shows by size only.
 */
static json_t *model_summary(const char *path)
{
	static const char *const keys[] = {"kind", "algorithm", "task", "params"};
	const json_t *man, *sig, *in, *v;
	json_t *o, *names;
	mfile *f;
	size_t i;

	if (mfile_open(path, &f) != 0)
		return NULL;
	man = mfile_manifest(f);
	sig = json_object_get(man, "signature");
	o = json_object();
	names = json_array();
	for (i = 0; o && i < SL__ARRAY_LEN(keys); i++)
		if ((v = json_object_get(man, keys[i])))
			json_object_set(o, keys[i], (json_t *)v);
	json_array_foreach(json_object_get(sig, "inputs"), i, in)
		json_array_append(names, json_object_get(in, "name"));
	if (o) {
		json_object_set(o, "target", json_object_get(json_object_get(sig, "target"), "name"));
		json_object_set_new(o, "inputs", names);
		json_object_set(o, "outputs", json_object_get(sig, "outputs"));
		if ((v = json_object_get(json_object_get(man, "info"), "scores")))
			json_object_set(o, "scores", (json_t *)v);
	} else {
		json_decref(names);
	}
	mfile_close(f);
	return o;
}

int api_describe_content(sl_project *p, const char *id, json_t *obj, int head_rows)
{
	char *path = art_path(p->art_root, id);
	int rc;

	if (!path)
		return sl__err(SL_ENOMEM, "out of memory");
	rc = art_verify(p->art_root, id);
	if (rc == 0 && ds_is_dataset(path)) {
		json_t *ds = NULL;
		rc = ds_describe_json(path, head_rows > 0 ? (size_t)head_rows : 0, &ds);
		if (rc == 0)
			json_object_set_new(obj, "dataset", ds);
	} else if (rc == 0 && mfile_is_mfile(path)) {
		json_t *m = model_summary(path);
		if (m)
			json_object_set_new(obj, "model", m);
	} else if (rc == 0) {
		json_t *prev = text_preview(path);
		if (prev)
			json_object_set_new(obj, "preview", prev);
	}
	json_object_set_new(obj, "verified", json_boolean(rc == 0));
	sl__free(path);
	return rc == SL_ENOENT || rc == SL_ECORRUPT ? 0 : rc;
}

/* An evaluation report (JSON) rendered as its HTML page. */
static int export_report_html(const char *src, const char *out_path)
{
	json_t *rep = json_load_file(src, 0, NULL);
	char *html = NULL;
	int rc;

	if (!ml_report_is(rep) && !ml_tune_report_is(rep)) {
		json_decref(rep);
		return sl__err(SL_EINVAL, "--format html applies to evaluation reports and tune "
					  "reports (the report output of an evaluate or a tune step); "
					  "this artifact is not one");
	}
	rc = ml_tune_report_is(rep) ? ml_tune_report_html(rep, &html) : ml_report_html(rep, &html);
	json_decref(rep);
	if (rc == 0)
		rc = sl__write_atomic(out_path, html, strlen(html));
	sl__free(html);
	return rc;
}

int api_export_content(const char *src, const char *format, const char *out_path)
{
	if (!strcmp(format, "html"))
		return export_report_html(src, out_path);
	if (ds_is_dataset(src))
		return ds_export(src, format, out_path);
	return sl__err(SL_EINVAL, "--format %s applies to dataset artifacts; this one is a file "
				  "(export it without --format)", format);
}
