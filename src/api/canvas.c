/*
 * The canvas and templates in the public API (sluice/canvas.h): what
 * `sluice init --template`, `sluice canvas check` and `sluice canvas
 * report` do, on top of the canvas module (canvas/canvas.h).
 *
 * check reads the canvas, then looks at the project around it: the
 * pipelines beside it (YAML files with a `steps:` mapping, in its folder
 * and below) say which blocks the project needs, so a block left empty
 * that an evaluate, test or register step would read becomes a warning
 * naming the step's place in its file. The retraining pipeline the canvas
 * names must exist and parse: monitor watch would run it unattended.
 *
 * report finds the evaluate steps of the newest run that has one, reads
 * each report artifact, and weighs it against the canvas (canvas_weigh).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/project.h"
#include "api/templates.h"
#include "canvas/canvas.h"
#include "pipeline/spec.h"

#define SCAN_MAX_DEPTH 3    /* folders below the canvas's */
#define SCAN_MAX_FILES 500  /* YAML files looked at */
#define REPORT_MAX ((size_t)64 << 20)

static int oom(void)
{
	return sl__oom();
}

/* ---- templates ------------------------------------------------------------------- */

int sl_project_init_template(const char *dir, const char *tmpl, char **out_json)
{
	char *root, *state;
	json_t *files, *res;
	int rc;

	sl__err_clear();
	if (out_json)
		*out_json = NULL;
	if (!tmpl)
		tmpl = "blank";
	root = sl__path_abs(dir ? dir : ".");
	state = root ? sl__path_join(root, ".sluice") : NULL;
	files = json_array();
	if (!state || !files) {
		rc = oom();
		goto out;
	}
	/* Before anything is written: a project is never made twice. */
	if (sl__is_dir(state)) {
		rc = sl__err(SL_EEXIST, "%s is already a sluice project", root);
		goto out;
	}
	rc = api_tmpl_write(root, tmpl, !strcmp(tmpl, "blank"), files);
	if (rc == 0)
		rc = sl_project_init(root);
	if (rc == 0) {
		res = json_pack("{s:s, s:s, s:O}", "dir", root, "template", tmpl, "files", files);
		if (!res)
			rc = oom();
		else if (out_json)
			rc = api_dump(res, out_json);
		else
			json_decref(res);
	}
out:
	json_decref(files);
	sl__free(state);
	sl__free(root);
	return rc;
}

/* ---- check: problems, warnings ------------------------------------------------- */

typedef struct checker {
	canvas *cv;
	const char *canvas_name; /* as in messages */
	char *disp_dir;          /* the canvas's folder as messages show it ("" for cwd) */
	json_t *errors, *warnings, *pipelines;
	int bad;                 /* out of memory while building */
	size_t n_files;
	/* What the project's pipelines use, with the first place each is used. */
	bool has_register;
} checker;

static json_t *note_json(const char *file, sl__ypos pos, const char *path, const char *msg)
{
	json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:s}", "file", file, "line", pos.line, "col",
			      pos.col, "path", path, "message", msg);
	return o;
}

static void add(checker *c, json_t *list, const char *file, sl__ypos pos, const char *path,
		const char *fmt, ...) SL__PRINTF(6, 7);

static void add(checker *c, json_t *list, const char *file, sl__ypos pos, const char *path,
		const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (json_array_append_new(list, note_json(file, pos, path, msg)))
		c->bad = 1;
}

/* A path under the canvas's folder as messages show it. */
static char *shown_path(const checker *c, const char *rel)
{
	return *c->disp_dir ? sl__path_join(c->disp_dir, rel) : sl__strdup(rel);
}

/* ---- check: the pipelines beside the canvas ------------------------------------------ */

/* The `with` of a step, and whether it sets key (and not to null). */
static bool with_has(const sl__ynode *step, const char *key)
{
	const sl__ynode *with = sl__ymap_get(step, "with", NULL);
	const sl__ynode *v = with ? sl__ymap_get(with, key, NULL) : NULL;

	return v && v->kind != SL__Y_NULL;
}

/* Warnings for one pipeline's steps against what the canvas leaves empty. */
static void check_steps(checker *c, const char *file, const sl__ynode *steps)
{
	const canvas *cv = c->cv;

	for (size_t i = 0; i < sl__ynode_count(steps); i++) {
		const sl__ynode *key = sl__ymap_key_at(steps, i), *st = sl__ymap_val_at(steps, i);
		const sl__ynode *uses = st->kind == SL__Y_MAP ? sl__ymap_get(st, "uses", NULL) : NULL;
		char path[300];
		if (!uses || uses->kind != SL__Y_STR)
			continue;
		snprintf(path, sizeof path, "steps.%s", key->text);
		if (!strcmp(uses->text, "evaluate")) {
			if (!with_has(st, "cost") && cv->decisions.cost.kind == CANVAS_COST_NONE)
				add(c, c->warnings, file, key->pos, path,
				    "step '%s' (evaluate) has no cost and the canvas's decisions.cost is "
				    "empty: its report prices no mistakes and finds no cheapest "
				    "threshold; fill in decisions.cost",
				    key->text);
			if (!with_has(st, "value") && !cv->decisions.value.given)
				add(c, c->warnings, file, key->pos, path,
				    "step '%s' (evaluate) has no value and the canvas's decisions.value "
				    "is empty: sluice canvas report can state no return on investment",
				    key->text);
			if (!with_has(st, "metric") && !cv->offline.metric.s)
				add(c, c->warnings, file, key->pos, path,
				    "step '%s' (evaluate) has no metric and the canvas's "
				    "offline_evaluation.metric is empty: the verdict uses the task's "
				    "default metric",
				    key->text);
		} else if (!strcmp(uses->text, "test")) {
			if (!with_has(st, "rules") && !cv->offline.min.given)
				add(c, c->warnings, file, key->pos, path,
				    "step '%s' (test) has no rules and the canvas's "
				    "offline_evaluation.min is empty: no minimum holds a model back",
				    key->text);
		} else if (!strcmp(uses->text, "register")) {
			c->has_register = true;
		}
	}
}

/* One YAML file: a pipeline when its top level has a `steps:` mapping. */
static void scan_file(checker *c, const char *path, const char *rel)
{
	sl__yaml_opts yo;
	sl__ydoc *d = NULL;
	const sl__ynode *steps;
	char *shown;
	int rc;

	memset(&yo, 0, sizeof yo);
	yo.name = rel;
	if ((rc = sl__yaml_load_file(path, &yo, &d))) {
		if (rc == SL_ENOMEM)
			c->bad = 1;
		sl__err_clear(); /* not a YAML file sluice reads: none of check's business */
		return;
	}
	steps = sl__ymap_get(sl__ydoc_root(d), "steps", NULL);
	if (steps && steps->kind == SL__Y_MAP) {
		shown = shown_path(c, rel);
		if (!shown || json_array_append_new(c->pipelines, json_string(shown)))
			c->bad = 1;
		else
			check_steps(c, shown, steps);
		sl__free(shown);
	}
	sl__ydoc_free(d);
}

static bool is_yaml(const char *name)
{
	return sl__str_has_suffix(name, ".yaml") || sl__str_has_suffix(name, ".yml");
}

/* The folder and its subfolders, in name order so warnings come out the same every time. */
static void scan_dir(checker *c, const char *dir, const char *rel, int depth)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);

	if (n < 0 && errno == ENOMEM)
		c->bad = 1; /* an unreadable folder is skipped; memory is not optional */

	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char *path = NULL, *sub = NULL;
		struct stat st;
		if (name[0] == '.' || c->n_files >= SCAN_MAX_FILES || c->bad)
			goto next;
		path = sl__path_join(dir, name);
		sub = *rel ? sl__path_join(rel, name) : sl__strdup(name);
		if (!path || !sub) {
			c->bad = 1;
			goto next;
		}
		if (stat(path, &st) != 0)
			goto next;
		if (S_ISDIR(st.st_mode) && depth < SCAN_MAX_DEPTH) {
			scan_dir(c, path, sub, depth + 1);
		} else if (S_ISREG(st.st_mode) && is_yaml(name) && (size_t)st.st_size <= SL__YAML_MAX_FILE &&
			   !(depth == 0 && (!strcmp(name, "canvas.yaml") || !strcmp(name, "sluice.yaml")))) {
			c->n_files++;
			scan_file(c, path, sub);
		}
next:
		sl__free(path);
		sl__free(sub);
		free(names[i]);
	}
	free(names);
}

/* building_models.pipeline: it must exist and parse, since nobody watches it run. */
static void check_retrain_pipeline(checker *c)
{
	const canvas *cv = c->cv;
	const char *path = cv->building.pipeline_path;
	sl__buf b;
	spec *sp = NULL;
	char *dir, *shown;
	int rc;

	if (!path)
		return;
	if (!sl__is_file(path)) {
		add(c, c->errors, c->canvas_name, cv->building.pipeline.pos, "building_models.pipeline",
		    "building_models.pipeline: there is no file '%s' (paths are relative to the "
		    "canvas's folder)",
		    cv->building.pipeline.s);
		return;
	}
	/* Beside the canvas: already scanned. Elsewhere: scan it too. */
	shown = cv->building.pipeline.s[0] == '/' || !strncmp(cv->building.pipeline.s, "../", 3)
			? sl__strdup(cv->building.pipeline.s)
			: NULL;
	if (shown)
		scan_file(c, path, shown);
	sl__free(shown);
	if ((rc = sl__read_file(path, SL__YAML_MAX_FILE, &b))) {
		if (rc == SL_ENOMEM)
			c->bad = 1;
		else
			add(c, c->errors, c->canvas_name, cv->building.pipeline.pos,
			    "building_models.pipeline", "building_models.pipeline: %s", sl_errmsg());
		return;
	}
	dir = sl__path_dir(path);
	shown = shown_path(c, cv->building.pipeline.s);
	if (!dir || !shown) {
		c->bad = 1;
	} else if ((rc = spec_parse_string(b.data ? b.data : "", b.len, shown, dir, NULL, 0, &sp))) {
		if (rc == SL_ENOMEM)
			c->bad = 1;
		else
			add(c, c->errors, c->canvas_name, cv->building.pipeline.pos,
			    "building_models.pipeline", "building_models.pipeline does not parse: %s",
			    sl_errmsg());
	}
	spec_free(sp);
	sl__free(dir);
	sl__free(shown);
	sl__buf_free(&b);
}

/* Warnings among the canvas's own fields, and against the pipelines' needs. */
static void check_consistency(checker *c)
{
	const canvas *cv = c->cv;
	const char *f = c->canvas_name;
	unsigned on = cv->building.retrain_on;

	if (on && !cv->building.pipeline.s)
		add(c, c->warnings, f, cv->building.retrain_on_pos, "building_models.retrain_on",
		    "building_models.retrain_on lists triggers but building_models.pipeline is "
		    "empty: monitor watch has no pipeline to run");
	if ((on & CANVAS_ON_CADENCE) && !cv->building.cadence.s)
		add(c, c->warnings, f, cv->building.retrain_on_pos, "building_models.retrain_on",
		    "building_models.retrain_on lists cadence but building_models.cadence is empty: "
		    "give a cron expression, e.g. '0 3 * * 1'");
	if (cv->building.cadence.s && !(on & CANVAS_ON_CADENCE))
		add(c, c->warnings, f, cv->building.cadence.pos, "building_models.cadence",
		    "building_models.cadence is set but retrain_on does not list cadence: it "
		    "triggers nothing");
	if ((on & CANVAS_ON_DECAY) && !cv->offline.min.given)
		add(c, c->warnings, f, cv->building.retrain_on_pos, "building_models.retrain_on",
		    "building_models.retrain_on lists decay, which is the live %s missing "
		    "offline_evaluation.min; set metric and min",
		    cv->offline.metric.s ? cv->offline.metric.s : "metric");
	if (cv->building.auto_promote && !cv->offline.min.given)
		add(c, c->warnings, f, cv->building.auto_promote_pos, "building_models.auto_promote",
		    "building_models.auto_promote is true but offline_evaluation.min is empty: a "
		    "retrained model is promoted with no minimum from the canvas");
	if (c->has_register && !cv->predictions.latency_p99_ms.given)
		add(c, c->warnings, f, cv->blocks[CANVAS_MAKING_PREDICTIONS].pos,
		    "making_predictions.latency_p99_ms",
		    "a pipeline registers models but making_predictions.latency_p99_ms is empty: "
		    "no latency gate and no serving alert hold them to a budget");
	if (c->has_register && cv->blocks[CANVAS_LIVE_MONITORING].empty)
		add(c, c->warnings, f, cv->blocks[CANVAS_LIVE_MONITORING].pos, "live_monitoring",
		    "a pipeline registers models but live_monitoring is empty: monitoring uses its "
		    "defaults (windows of %d requests, drift when half the columns drift) and raises "
		    "no alerts",
		    CANVAS_DEFAULT_WINDOW);

	/* The description of the task against the fields that depend on it. */
	const json_t *pt = cv->blocks[CANVAS_PREDICTION_TASK].json;
	const char *type = json_string_value(json_object_get(pt, "type"));
	unsigned want = !type                                ? 0
			: !strcmp(type, "classification")    ? CANVAS_T_CLASS
			: !strcmp(type, "regression")        ? CANVAS_T_REG
			: !strncmp(type, "forecast", 8)      ? CANVAS_T_FORECAST
			: !strncmp(type, "anomal", 6)        ? CANVAS_T_ANOMALY
							     : 0;
	if (want && cv->offline.info && !(cv->offline.info->tasks & want))
		add(c, c->warnings, f, cv->offline.metric.pos, "offline_evaluation.metric",
		    "offline_evaluation.metric %s does not apply to prediction_task.type %s",
		    cv->offline.metric.s, type);
	bool numbers_cost = cv->decisions.cost.kind == CANVAS_COST_OVER_UNDER;
	if (want && cv->decisions.cost.kind != CANVAS_COST_NONE &&
	    numbers_cost != !!(want & (CANVAS_T_REG | CANVAS_T_FORECAST)))
		add(c, c->warnings, f, cv->decisions.cost.pos, "decisions.cost",
		    "decisions.cost %s, but prediction_task.type is %s",
		    numbers_cost ? "prices numbers ({over, under})" : "prices classes", type);
}

/* ---- check: what each block drives ---------------------------------------------- */

static void utc(int64_t t, char *buf, size_t size)
{
	int64_t y;
	int m, d;

	cron_civil_from_days(t / 86400, &y, &m, &d);
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:00Z", (long long)y, m, d,
		 (int)(t % 86400 / 3600), (int)(t % 3600 / 60));
}

static const char *g(double v, char *buf, size_t size)
{
	snprintf(buf, size, "%g", v);
	return buf;
}

static int drive(json_t *arr, const char *block, const char *fields, bool set, const char *summary,
		 const char *drives, const char *effect)
{
	json_t *consumers = json_array(), *o;
	char list[128], *save = NULL;

	snprintf(list, sizeof list, "%s", drives);
	for (char *t = strtok_r(list, ",", &save); consumers && t; t = strtok_r(NULL, ",", &save))
		if (json_array_append_new(consumers, json_string(t))) {
			json_decref(consumers);
			consumers = NULL;
		}
	o = consumers ? json_pack("{s:s, s:s, s:b, s:s, s:o, s:s}", "block", block, "fields", fields,
				  "set", set, "summary", summary, "drives", consumers, "effect",
				  effect)
		      : NULL;
	return o && json_array_append_new(arr, o) == 0 ? 0 : oom();
}

static void cost_words(const canvas_cost *cc, sl__buf *b)
{
	const json_t *cs = cc->spec;
	const char *key;
	const json_t *v;
	size_t i = 0;

	switch (cc->kind) {
	case CANVAS_COST_NONE:
		sl__buf_puts(b, "no cost");
		return;
	case CANVAS_COST_MATRIX:
		sl__buf_printf(b, "a %zu x %zu cost matrix in class order", cc->k, cc->k);
		return;
	case CANVAS_COST_OVER_UNDER:
		sl__buf_printf(b, "%g per unit over, %g per unit under", cc->over, cc->under);
		return;
	case CANVAS_COST_OUTCOMES:
		sl__buf_puts(b, "cost by outcome: ");
		json_object_foreach((json_t *)cs, key, v) {
			if (!strcmp(key, "nothing"))
				continue;
			sl__buf_printf(b, "%s%s %g", i++ ? ", " : "", key, json_number_value(v));
		}
		return;
	case CANVAS_COST_LABELS:
		sl__buf_printf(b, "costs by class label (%zu actual classes)", cc->k);
		return;
	}
}

/*
 * ops: sluice.yaml's monitoring.alert beside the canvas (NULL when it has
 * none), which the loop applies with the canvas's rules.
 */
static int drives_json(const canvas *cv, const api_settings *ops, json_t *arr)
{
	char n1[32], n2[32];
	sl__buf b;
	int rc = 0;

	sl__buf_init(&b, 4096);
	/* offline_evaluation */
	if (cv->offline.metric.s && cv->offline.min.given)
		sl__buf_printf(&b, "%s %s %s%s", cv->offline.metric.s,
			       cv->offline.info->direction < 0 ? "at most" : "at least",
			       g(cv->offline.min.v, n1, sizeof n1),
			       cv->offline.info->direction < 0 ? " (lower is better)" : "");
	else if (cv->offline.metric.s)
		sl__buf_printf(&b, "%s, no minimum", cv->offline.metric.s);
	else
		sl__buf_puts(&b, "not set: evaluate judges by the task's default metric");
	rc |= drive(arr, "offline_evaluation", "metric, min", cv->offline.metric.s != NULL, b.data,
		    "test,evaluate",
		    "test: a model that misses the minimum fails its gate; evaluate: the metric of "
		    "the verdict");
	/* decisions */
	sl__buf_reset(&b);
	cost_words(&cv->decisions.cost, &b);
	if (cv->decisions.value.given)
		sl__buf_printf(&b, "; %s per correct decision", g(cv->decisions.value.v, n1, sizeof n1));
	else
		sl__buf_puts(&b, "; no value per decision");
	rc |= drive(arr, "decisions", "cost, value",
		    cv->decisions.cost.kind != CANVAS_COST_NONE || cv->decisions.value.given, b.data,
		    "evaluate,canvas report",
		    "evaluate: what the model's mistakes cost against the baseline's, and the "
		    "cheapest threshold; canvas report: the return on investment");
	/* making_predictions */
	sl__buf_reset(&b);
	if (cv->predictions.latency_p99_ms.given)
		sl__buf_printf(&b, "p99 latency at most %s ms",
			       g(cv->predictions.latency_p99_ms.v, n1, sizeof n1));
	else
		sl__buf_puts(&b, "no latency budget");
	rc |= drive(arr, "making_predictions", "latency_p99_ms", cv->predictions.latency_p99_ms.given,
		    b.data, "test,serving",
		    "test: the latency gate; serving: an alert when live p99 latency passes it");
	/* building_models */
	sl__buf_reset(&b);
	if (cv->building.retrain_on) {
		static const char *const trig[] = {"drift", "decay", "cadence"};
		size_t k = 0, n = 0;
		for (size_t i = 0; i < 3; i++)
			n += (cv->building.retrain_on >> i) & 1u;
		sl__buf_printf(&b, "retrain with %s on ",
			       cv->building.pipeline.s ? cv->building.pipeline.s : "(no pipeline)");
		for (size_t i = 0; i < 3; i++)
			if ((cv->building.retrain_on >> i) & 1u)
				sl__buf_printf(&b, "%s%s", k++ ? (k == n ? " and " : ", ") : "", trig[i]);
	} else {
		sl__buf_puts(&b, "no automatic retraining");
	}
	if (cv->building.cadence.s) {
		int64_t t;
		if (canvas_next_retrain(cv, (int64_t)time(NULL), &t) == 0) {
			utc(t, n1, sizeof n1);
			n1[10] = ' ';
			n1[16] = '\0'; /* "2026-12-07 03:00" */
			sl__buf_printf(&b, "; cadence '%s', next %s UTC", cv->building.cadence.s, n1);
		}
	}
	sl__buf_printf(&b, "; %s", cv->building.auto_promote
					   ? "a retrained model that passes its gates is promoted"
					   : "a human promotes retrained models");
	rc |= drive(arr, "building_models", "pipeline, retrain_on, cadence, auto_promote",
		    cv->building.retrain_on != 0 || cv->building.pipeline.s, b.data, "monitor watch",
		    "monitor watch: when to run the retraining pipeline, and whether its model "
		    "replaces production");
	/* live_monitoring */
	sl__buf_reset(&b);
	sl__buf_printf(&b, "windows of %s requests", g(cv->monitoring.window.v, n1, sizeof n1));
	if (cv->monitoring.n_metrics) {
		sl__buf_puts(&b, "; tracks ");
		for (size_t i = 0; i < cv->monitoring.n_metrics; i++)
			sl__buf_printf(&b, "%s%s", i ? ", " : "", cv->monitoring.metrics[i]);
	}
	sl__buf_printf(&b, "; drift when %s%% of the columns drift (PSI %s)",
		       g(cv->monitoring.drift_share.v * 100, n1, sizeof n1),
		       g(cv->monitoring.drift.psi_threshold, n2, sizeof n2));
	if (cv->monitoring.n_alerts)
		sl__buf_printf(&b, "; %zu alert rule%s", cv->monitoring.n_alerts,
			       cv->monitoring.n_alerts == 1 ? "" : "s");
	else
		sl__buf_puts(&b, "; no alert rules");
	if (ops && ops->n_alerts) {
		/* The loop's rules are both files' (rules.h, invariant 5). */
		size_t over = 0;
		for (size_t i = 0; i < cv->monitoring.n_alerts; i++) {
			char a[96], o[96];
			const char *name = canvas_alert_name(&cv->monitoring.alerts[i], a, sizeof a);
			size_t j;
			for (j = 0; j < ops->n_alerts &&
				    strcmp(name, canvas_alert_name(&ops->alerts[j], o, sizeof o));
			     j++)
				;
			over += j < ops->n_alerts;
		}
		sl__buf_printf(&b, ", and %zu in sluice.yaml monitoring.alert", ops->n_alerts);
		if (over)
			sl__buf_printf(&b, " (replacing %zu of the canvas's by name)", over);
	}
	rc |= drive(arr, "live_monitoring", "window, metrics, drift, alert",
		    !cv->blocks[CANVAS_LIVE_MONITORING].empty, b.data, "monitoring",
		    "monitoring: drift reports and live metrics per window, the drift trigger, and "
		    "the alerts");
	sl__buf_free(&b);
	return rc ? oom() : 0;
}

/* The next three cadence times, for the JSON. */
static json_t *next_times(const canvas *cv)
{
	json_t *a = json_array();
	int64_t t = (int64_t)time(NULL);
	char buf[32];

	for (int i = 0; a && cv->building.cadence.s && i < 3; i++) {
		if (canvas_next_retrain(cv, t, &t))
			break;
		utc(t, buf, sizeof buf);
		if (json_array_append_new(a, json_string(buf))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int sl_canvas_check(const char *path, char **out_json)
{
	canvas_problem *probs = NULL;
	size_t n = 0;
	checker c;
	json_t *res = NULL, *drives = NULL, *typed = NULL, *filled = NULL, *empty = NULL;
	char *name = NULL;
	int rc;

	sl__err_clear();
	if (!path || !out_json)
		return sl__err(SL_EINVAL, "sl_canvas_check: path and out_json are required");
	*out_json = NULL;
	memset(&c, 0, sizeof c);
	if ((rc = canvas_check_file(path, &c.cv, &probs, &n)))
		return rc;
	c.errors = json_array();
	c.warnings = json_array();
	c.pipelines = json_array();
	drives = json_array();
	filled = json_array();
	empty = json_array();
	if (!c.errors || !c.warnings || !c.pipelines || !drives || !filled || !empty) {
		rc = oom();
		goto out;
	}
	/* The name the problems carry: the canvas's as the module shows it. */
	if (c.cv) {
		c.canvas_name = c.cv->file;
	} else {
		name = sl__strdup(path);
		c.canvas_name = name;
	}
	c.disp_dir = c.canvas_name ? sl__path_dir(c.canvas_name) : NULL;
	if (!c.canvas_name || !c.disp_dir) {
		rc = oom();
		goto out;
	}
	if (!strcmp(c.disp_dir, ".")) /* "canvas.yaml": pipelines are shown as "train.yaml" */
		c.disp_dir[0] = '\0';
	for (size_t i = 0; i < n; i++)
		add(&c, c.errors, c.canvas_name, probs[i].pos, probs[i].path, "%s", probs[i].msg);
	if (c.cv) {
		scan_dir(&c, c.cv->dir, "", 0);
		check_retrain_pipeline(&c);
		check_consistency(&c);
		for (int b = 0; b < CANVAS_N_BLOCKS; b++)
			if (!canvas_block_acted_on((canvas_block_id)b) &&
			    json_array_append_new(c.cv->blocks[b].empty ? empty : filled,
						  json_string(canvas_block_name((canvas_block_id)b))))
				c.bad = 1;
		/* sluice.yaml beside the canvas, for its alert rules; its own errors are
		 * reported by every command that opens the project. */
		api_settings set;
		char *state = sl__path_join(c.cv->dir, ".sluice");
		bool have_set = state && api_settings_load(c.cv->dir, state, &set) == 0;
		sl__free(state);
		sl__err_clear();
		rc = drives_json(c.cv, have_set ? &set : NULL, drives);
		if (have_set)
			api_settings_free(&set);
		if (rc || (rc = canvas_json(c.cv, &typed)))
			goto out;
		json_t *next = next_times(c.cv);
		json_t *bm = json_object_get(typed, "building_models");
		if (!next || json_object_set_new(json_object_get(bm, "cadence"), "next", next))
			c.bad = 1;
	}
	if (c.bad) {
		rc = oom();
		goto out;
	}
	res = json_pack("{s:s, s:b, s:O, s:O, s:O, s:{s:O, s:O}, s:O, s:O?}", "file", c.canvas_name,
			"valid", json_array_size(c.errors) == 0, "errors", c.errors, "warnings",
			c.warnings, "drives", drives, "descriptive", "filled", filled, "empty", empty,
			"pipelines", c.pipelines, "canvas", typed);
	rc = res ? api_dump(res, out_json) : oom();
out:
	json_decref(typed);
	json_decref(drives);
	json_decref(filled);
	json_decref(empty);
	json_decref(c.errors);
	json_decref(c.warnings);
	json_decref(c.pipelines);
	sl__free(c.disp_dir);
	sl__free(name);
	sl__free(probs);
	canvas_free(c.cv);
	return rc;
}

/* ---- report -------------------------------------------------------------------- */

static int project_fail(sl_project *p, int rc)
{
	if (p && rc)
		snprintf(p->errmsg, sizeof p->errmsg, "%s", *sl_errmsg() ? sl_errmsg() : sl_strerror(rc));
	return rc;
}

/* Reads one report artifact and weighs it. */
static int weigh_step(sl_project *p, const canvas *cv, const json_t *st, json_t *evals)
{
	const char *id = json_string_value(json_object_get(json_object_get(st, "outputs"), "report"));
	const char *step = json_string_value(json_object_get(st, "name"));
	char *path = NULL;
	json_t *rep = NULL, *w = NULL;
	json_error_t je;
	bool nomem = false;
	sl__buf b;
	int rc;

	if (!id)
		return 0;
	sl__buf_init(&b, 0);
	if ((rc = sl_artifact_path(p, id, &path)) || (rc = sl__read_file(path, REPORT_MAX, &b)))
		goto out;
	rep = sl__json_loadb(b.data ? b.data : "", b.len, 0, &je, &nomem);
	if (!rep) {
		rc = nomem ? SL_ENOMEM
			   : sl__err(SL_ECORRUPT, "the report of step '%s' (%.12s) is not JSON: %s",
				     step, id, je.text);
		goto out;
	}
	if ((rc = canvas_weigh(cv, rep, &w))) {
		rc = sl__err_prefix(rc, "step '%s' (%.12s)", step, id);
		goto out;
	}
	if (json_object_set_new(w, "step", json_string(step)) ||
	    json_object_set_new(w, "report", json_string(id)) || json_array_append(evals, w))
		rc = oom();
out:
	json_decref(w);
	json_decref(rep);
	sl__buf_free(&b);
	sl__free(path);
	return rc;
}

/* The evaluation that nets the most (else saves the most), or NULL. */
static const char *best_of(const json_t *evals)
{
	const char *best = NULL;
	double top = -INFINITY;
	size_t i;
	const json_t *e;

	json_array_foreach(evals, i, e) {
		const json_t *v = json_object_get(e, "value"), *c = json_object_get(e, "cost");
		double score = json_is_object(v)
				       ? json_number_value(json_object_get(json_object_get(v, "model"),
									   "net_per_decision"))
			       : json_is_object(c) ? -json_number_value(json_object_get(c, "model"))
						   : -INFINITY;
		if (score > top) {
			top = score;
			best = json_string_value(json_object_get(e, "step"));
		}
	}
	return best;
}

int sl_canvas_report(sl_project *p, const char *run, const char *step, char **out_json)
{
	char id[STORE_ID_SIZE], *path = NULL;
	canvas *cv = NULL;
	json_t *rj = NULL, *evals = NULL, *res;
	const json_t *st;
	size_t i;
	int rc;

	sl__err_clear();
	if (!p || !out_json)
		return sl__err(SL_EINVAL, "sl_canvas_report: project and out_json are required");
	*out_json = NULL;
	p->errmsg[0] = '\0';
	path = sl__path_join(p->root, "canvas.yaml");
	if (!path)
		return project_fail(p, oom());
	if ((rc = canvas_load(path, &cv)))
		goto out;
	if (run)
		rc = store_run_resolve(p->st, run, id);
	else if ((rc = store_run_latest_with(p->st, "uses:evaluate", id)) == SL_ENOENT)
		rc = sl__err(SL_ENOENT, "no evaluate step has completed in this project yet: add one "
					"to a pipeline (docs/steps/evaluate.md) and run it");
	if (rc || (rc = store_run_json(p->st, id, &rj)))
		goto out;
	if (!(evals = json_array())) {
		rc = oom();
		goto out;
	}
	json_array_foreach(json_object_get(rj, "steps"), i, st) {
		const char *kind = json_string_value(json_object_get(st, "kind"));
		const char *status = json_string_value(json_object_get(st, "status"));
		const char *name = json_string_value(json_object_get(st, "name"));
		if (!kind || strcmp(kind, "uses:evaluate") || !status ||
		    (strcmp(status, ST_COMPLETED) && strcmp(status, ST_CACHED)))
			continue;
		if (step && (!name || strcmp(name, step)))
			continue;
		if ((rc = weigh_step(p, cv, st, evals)))
			goto out;
	}
	if (!json_array_size(evals)) {
		rc = step ? sl__err(SL_ENOENT, "run %.12s has no completed evaluate step '%s'", id, step)
			  : sl__err(SL_ENOENT, "run %.12s has no completed evaluate step", id);
		goto out;
	}
	res = json_pack("{s:s, s:s, s:O?, s:O, s:s?}", "canvas", cv->file, "run", id, "pipeline",
			json_object_get(rj, "pipeline"), "evaluations", evals, "best", best_of(evals));
	rc = res ? api_dump(res, out_json) : oom();
out:
	json_decref(evals);
	json_decref(rj);
	canvas_free(cv);
	sl__free(path);
	return project_fail(p, rc);
}
