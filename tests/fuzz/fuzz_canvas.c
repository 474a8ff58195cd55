/*
 * libFuzzer target for canvas.yaml and the cron parser: every input is
 * checked as a canvas (all problems collected, the typed values turned to
 * JSON, the evaluation weighed against a fixed report, every position
 * looked up), and its first line parsed as a cron expression whose next
 * firings are computed. Nothing may crash, leak or hang, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canvas/canvas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cron(const char *text, size_t size)
{
	char line[256];
	size_t n = 0;
	cron_expr e;
	int64_t t = 0;

	while (n < size && n < sizeof line - 1 && text[n] != '\n' && text[n] != '\0') {
		line[n] = text[n];
		n++;
	}
	line[n] = '\0';
	if (cron_parse(line, &e, NULL))
		return;
	/* Invariant 1 of cron.h: a parsed expression fires, and at a time it matches. */
	for (int i = 0; i < 3; i++) {
		if (cron_next(&e, t, &t) || !cron_matches(&e, t))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char report[] =
		"{\"kind\": \"evaluation_report\", \"rows\": 10, \"model\": {\"task\": \"binary\"},"
		" \"main_metric\": {\"name\": \"roc_auc\", \"higher_is_better\": true},"
		" \"metrics\": {\"roc_auc\": 0.9, \"accuracy\": 0.8}, \"baseline\": {\"roc_auc\": 0.5,"
		" \"accuracy\": 0.6}, \"cost\": {\"model\": {\"per_row\": 0.2}, \"baseline\": "
		"{\"per_row\": 0.5}}}";
	const char *text = (const char *)data;
	canvas_problem *p = NULL;
	canvas *cv = NULL;
	size_t n = 0;

	cron(text, size);
	if (canvas_check(text, size, "canvas.yaml", "/p", &cv, &p, &n) == 0 && cv) {
		json_t *j = NULL, *rep = json_loads(report, 0, NULL), *w = NULL;
		char where[64];
		(void)canvas_json(cv, &j);
		(void)canvas_weigh(cv, rep, &w);
		for (size_t i = 0; i < n; i++) {
			canvas_where(cv, p[i].pos, where, sizeof where);
			(void)canvas_pos(cv, p[i].path);
		}
		json_decref(w);
		json_decref(rep);
		json_decref(j);
	}
	sl__free(p);
	canvas_free(cv);
	return 0;
}
