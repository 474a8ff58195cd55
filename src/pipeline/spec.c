/*
 * The pipeline file parser and validator (the format is described in
 * spec.h and, for users, in docs/pipeline.md).
 *
 * The file is read by the YAML loader (yamltree.h), which gives a tree whose
 * nodes keep their position and whose scalars are already typed by the
 * YAML 1.2 core schema. The tree is then read into a `spec`: keys are
 * checked against fixed tables, ${params.X} is substituted, options of
 * built-in steps are checked against the step's schema (steps/opts.c)
 * and input references are resolved. dag.c then orders the steps and
 * rejects cycles.
 *
 *   text --sl__yaml_parse--> tree --read_spec--> spec --dag_build--> order
 *                                      |  with: --sl__yaml_json--> JSON + position map
 *                                      |                  \--step_opts_check--> problem at a path
 *                                      v                                  |
 *                                 FILE:LINE:COL  <----- position map -----+
 *
 * Design notes (invariants kept here):
 *
 *   1. The first error wins: errors are recorded on the YAML document
 *      (one position and message; later calls are ignored), so unwinding
 *      code can report freely. The public message "FILE:LINE:COL: text" is
 *      formatted once, at the end.
 *   2. The tree is freed before the parse returns; the spec owns plain
 *      sl__malloc copies and, per step, the position map of its `with`
 *      (positions only), so nothing in a spec points into the tree.
 *   3. Hostile input is bounded by the loader (its design note 3) and the
 *      conversion of `with` to JSON draws on the document's value budget.
 *   4. Nothing is quadratic: step names, parameters and positions are found
 *      through hash tables.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/spec.h"
#include "strtab.h"

#define SPEC_MSG_MAX SL__YAML_MSG_MAX

/* ---- small helpers --------------------------------------------------------- */

/* Step and parameter names: [A-Za-z_][A-Za-z0-9_-]*, a path's plain names. */
static bool is_name(const char *s)
{
	return sl__ypath_plain(s);
}

/* Output, input and environment names: [A-Za-z_][A-Za-z0-9_]* (they become
 * parts of environment variable names, where '-' is not allowed). */
static bool is_ident_n(const char *s, size_t n)
{
	if (n == 0 || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool is_ident(const char *s)
{
	return is_ident_n(s, strlen(s));
}

/* Hands over b's text as a new string ("" when nothing was written), or NULL
 * when out of memory (b is freed either way). */
static char *buf_take(sl__buf *b)
{
	if (!b->data) {
		if (sl__buf_reserve(b, 0))
			return NULL;
		b->data[0] = '\0';
	}
	return sl__buf_detach(b);
}

/* Shortest text that reads back as d, keeping a '.' so it still looks like
 * a float ("1.0", not "1"). */
static void fmt_real(double d, char *buf, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".eEn"))
		strncat(buf, ".0", size - strlen(buf) - 1);
}

/* A parameter's value as it appears inside a string. */
static int render_json(const json_t *v, sl__buf *b)
{
	char tmp[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return sl__buf_puts(b, json_string_value(v));
	case JSON_INTEGER:
		return sl__buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		fmt_real(json_real_value(v), tmp, sizeof tmp);
		return sl__buf_puts(b, tmp);
	case JSON_TRUE:
		return sl__buf_puts(b, "true");
	case JSON_FALSE:
		return sl__buf_puts(b, "false");
	default:
		return 0; /* null renders as nothing */
	}
}

/* ---- parse state ------------------------------------------------------------ */

typedef struct parser {
	const char *disp; /* the file name used in messages */
	sl__ydoc *d;      /* the file: its tree and the error state (note 1) */
	spec *s;
	sl__strtab steps;  /* step name -> index */
	sl__strtab params; /* parameter name -> index */
	spec_pos params_pos;
} parser;

typedef struct spec_full {
	spec pub;
	char *disp;           /* the file name as given, for messages */
	sl__strtab index;     /* step name -> index, for spec_step_index */
	sl__ypmap **with_pos; /* per step: positions inside `with` (NULL when none) */
	spec_pos *with_key;   /* per step: the `with` key, else the step's uses/run key */
} spec_full;

static int fail(parser *p, spec_pos pos, const char *fmt, ...) SL__PRINTF(3, 4);

static int fail(parser *p, spec_pos pos, const char *fmt, ...)
{
	char msg[SPEC_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return sl__ydoc_fail(p->d, pos, "%s", msg);
}
/* fail returns the document's code, which is only ever negative: see SL__ERR_CODE. */
#define fail(...) SL__ERR_CODE(fail(__VA_ARGS__))

static int oom(parser *p)
{
	return sl__ydoc_oom(p->d);
}

static int prc(const parser *p)
{
	return sl__ydoc_rc(p->d);
}

/* " (did you mean 'x'?)" into buf, or "" when nothing is close. */
static const char *dym(char *buf, size_t size, const char *word, const char *const *cands, size_t n)
{
	char inner[400];

	buf[0] = '\0';
	if (sl__did_you_mean(inner, sizeof inner, word, cands, n))
		snprintf(buf, size, " (%s)", inner);
	return buf;
}

/* JSON of one scalar node (no substitution); errors are recorded on p. */
static json_t *scalar_json(parser *p, const sl__ynode *n)
{
	json_t *j = NULL;

	if (sl__yaml_json(p->d, n, NULL, &j))
		return NULL;
	return j;
}

/* ---- substitution ----------------------------------------------------------- */

/*
 * What ${...} may refer to while reading one step. NULL lists mean "no
 * checking" (used for text that belongs to no step).
 */
typedef struct subst_env {
	parser *p;
	const sl__ynode *inputs;     /* the step's `inputs` mapping, or NULL */
	const char *const *outputs; /* the step's output names */
	size_t n_outputs;
	const char *step;           /* for messages */
} subst_env;

static bool io_declared(const subst_env *e, bool input, const char *name, size_t len)
{
	if (input) {
		for (size_t i = 0; e->inputs && i < e->inputs->n; i += 2) {
			const char *k = e->inputs->kids[i]->text;
			if (strlen(k) == len && !memcmp(k, name, len))
				return true;
		}
		return false;
	}
	for (size_t i = 0; i < e->n_outputs; i++)
		if (strlen(e->outputs[i]) == len && !memcmp(e->outputs[i], name, len))
			return true;
	return false;
}

/*
 * Substitutes ${params.X} in scalar n's text and checks ${inputs.X} and
 * ${outputs.X} against e. *out_str receives the new text (sl__malloc). When
 * the whole text is one ${params.X} and out_exact is not NULL, *out_exact
 * receives a copy of the parameter's value instead (keeping its type).
 */
static int subst_params(parser *p, const sl__ynode *n, const subst_env *e, char **out_str,
			json_t **out_exact)
{
	const char *t = n->text;
	sl__buf b;
	size_t i = 0;

	*out_str = NULL;
	if (out_exact)
		*out_exact = NULL;
	sl__buf_init(&b, 0);
	while (t[i]) {
		const char *dollar = strstr(t + i, "${");
		if (!dollar) {
			if (sl__buf_puts(&b, t + i))
				goto nomem;
			break;
		}
		size_t at = (size_t)(dollar - t);
		if (sl__buf_append(&b, t + i, at - i))
			goto nomem;
		const char *close = strchr(dollar + 2, '}');
		if (!close) {
			fail(p, sl__ynode_pos_at(n, at), "unterminated '${' (a substitution is "
							 "${params.NAME}, ${inputs.NAME} or "
							 "${outputs.NAME})");
			goto error;
		}
		const char *body = dollar + 2;
		size_t blen = (size_t)(close - body);
		const char *dot = memchr(body, '.', blen);
		size_t end = (size_t)(close - t) + 1;
		if (!dot || !is_ident_n(body, (size_t)(dot - body))) {
			/* ${HOME}, ${1}, ${x:-y}: the shell's business. */
			if (sl__buf_append(&b, dollar, end - at))
				goto nomem;
			i = end;
			continue;
		}
		size_t nslen = (size_t)(dot - body);
		const char *name = dot + 1;
		size_t nlen = blen - nslen - 1;
		char nm[128];
		snprintf(nm, sizeof nm, "%.*s", (int)(nlen < 120 ? nlen : 120), name);
		if (nslen == 6 && !memcmp(body, "params", 6)) {
			size_t idx;
			if (nlen >= sizeof nm || !sl__strtab_get(&p->params, nm, &idx)) {
				const char *names[256];
				size_t k, nn = 0;
				char sug[450];
				for (k = 0; k < p->s->n_params && nn < SL__ARRAY_LEN(names); k++)
					names[nn++] = p->s->params[k].name;
				fail(p, sl__ynode_pos_at(n, at), "unknown parameter '%s' in '${params.%s}'%s", nm,
				     nm,
				     *dym(sug, sizeof sug, nm, names, nn) ? sug
				     : p->s->n_params			   ? ""
									   : " (the file declares no params)");
				goto error;
			}
			const json_t *v = p->s->params[idx].value;
			if (out_exact && at == 0 && end == n->len) {
				sl__buf_free(&b);
				if (!(*out_exact = json_copy((json_t *)v)))
					return oom(p);
				return 0;
			}
			if (render_json(v, &b))
				goto nomem;
		} else if ((nslen == 6 && !memcmp(body, "inputs", 6)) ||
			   (nslen == 7 && !memcmp(body, "outputs", 7))) {
			bool input = nslen == 6;
			if (e && !io_declared(e, input, name, nlen)) {
				sl__buf list;
				sl__buf_init(&list, 400);
				if (input) {
					for (size_t k = 0; e->inputs && k < e->inputs->n; k += 2)
						sl__buf_printf(&list, "%s%s", k ? ", " : "", e->inputs->kids[k]->text);
				} else {
					for (size_t k = 0; k < e->n_outputs; k++)
						sl__buf_printf(&list, "%s%s", k ? ", " : "", e->outputs[k]);
				}
				fail(p, sl__ynode_pos_at(n, at), "step '%s' has no %s '%s' in '${%s.%s}' (%s: %s)",
				     e->step, input ? "input" : "output", nm, input ? "inputs" : "outputs", nm,
				     input ? "its inputs" : "its outputs", list.len ? list.data : "none");
				sl__buf_free(&list);
				goto error;
			}
			/* Replaced when the step runs (spec_subst_io). */
			if (sl__buf_append(&b, dollar, end - at))
				goto nomem;
		} else {
			fail(p, sl__ynode_pos_at(n, at),
			     "unknown namespace '%.*s' in '${%.*s}' (use params, inputs or outputs)",
			     (int)(nslen < 60 ? nslen : 60), body, (int)(blen < 100 ? blen : 100), body);
			goto error;
		}
		i = end;
	}
	if (!(*out_str = buf_take(&b)))
		goto nomem;
	return 0;
nomem:
	oom(p);
error:
	sl__buf_free(&b);
	return prc(p);
}

/*
 * The loader's scalar hook while converting a step's `with`: strings get
 * ${params.X} substituted (a value that is exactly one ${params.X} takes
 * the parameter's type); other scalars convert as usual.
 */
static int with_scalar(void *arg, sl__ydoc *d, const sl__ynode *n, const char *path, json_t **out)
{
	const subst_env *e = arg;
	json_t *exact;
	char *str;

	(void)d;
	(void)path;
	if (n->kind != SL__Y_STR)
		return 0;
	if (subst_params(e->p, n, e, &str, &exact))
		return -1;
	if (exact) {
		*out = exact;
		return 1;
	}
	*out = json_string(str);
	sl__free(str);
	return *out ? 1 : -1;
}

/* ---- reading helpers ---------------------------------------------------------- */

/* Rejects a key of m that is not in keys[], suggesting the closest. */
static int check_keys(parser *p, const sl__ynode *m, const char *const *keys, size_t n_keys,
		      const char *where)
{
	for (size_t i = 0; i < m->n; i += 2) {
		const char *k = m->kids[i]->text;
		bool ok = false;
		char sug[450];

		for (size_t j = 0; j < n_keys && !ok; j++)
			ok = !strcmp(k, keys[j]);
		if (ok)
			continue;
		if (*dym(sug, sizeof sug, k, keys, n_keys))
			return fail(p, m->kids[i]->pos, "unknown key '%.100s' in %s%s", k, where, sug);
		sl__buf list;
		sl__buf_init(&list, 400);
		for (size_t j = 0; j < n_keys; j++)
			sl__buf_printf(&list, "%s%s", j ? ", " : "", keys[j]);
		fail(p, m->kids[i]->pos, "unknown key '%.100s' in %s (valid keys: %s)", k, where,
		     list.data ? list.data : "");
		sl__buf_free(&list);
		return prc(p);
	}
	return 0;
}

static int want_map(parser *p, const sl__ynode *n, const char *what)
{
	if (n->kind != SL__Y_MAP)
		return fail(p, n->pos, "%s must be a mapping, not %s", what, sl__ynode_kind_name(n));
	return 0;
}

/* A scalar's text as a new string (strings, numbers and booleans alike). */
static int want_text(parser *p, const sl__ynode *n, const char *what, char **out)
{
	*out = NULL;
	if (!sl__ynode_is_scalar(n) || sl__ynode_is_null(n))
		return fail(p, n->pos, "%s must be a string, not %s", what, sl__ynode_kind_name(n));
	if (!(*out = sl__strdup(n->text)))
		return oom(p);
	return 0;
}

/* ---- params and overrides ------------------------------------------------------ */

static int read_params(parser *p, const sl__ynode *m)
{
	spec *s = p->s;

	if (sl__ynode_is_null(m))
		return 0;
	if (want_map(p, m, "'params'"))
		return prc(p);
	if (m->n == 0)
		return 0;
	if (!(s->params = sl__calloc(m->n / 2, sizeof *s->params)))
		return oom(p);
	for (size_t i = 0; i < m->n; i += 2) {
		const sl__ynode *k = m->kids[i], *v = m->kids[i + 1];
		spec_param *pm = &s->params[s->n_params];

		if (!is_name(k->text))
			return fail(p, k->pos, "parameter name '%.100s' is not valid (letters, digits, '_' "
					       "and '-', not starting with a digit)",
				    k->text);
		if (!sl__ynode_is_scalar(v))
			return fail(p, v->pos, "parameter '%s' must be a scalar, not %s", k->text,
				    sl__ynode_kind_name(v));
		if (!(pm->value = scalar_json(p, v)))
			return prc(p);
		if (!(pm->name = sl__strdup(k->text))) {
			json_decref(pm->value);
			pm->value = NULL;
			return oom(p);
		}
		pm->pos = v->pos;
		s->n_params++;
		if (sl__strtab_put(&p->params, pm->name, s->n_params - 1, NULL) < 0)
			return oom(p);
	}
	return 0;
}

static int apply_override(parser *p, const char *ov)
{
	const char *eq = strchr(ov, '=');
	spec *s = p->s;
	char name[128];
	size_t idx;

	if (!eq || eq == ov)
		return fail(p, p->params_pos, "-p %.100s: expected NAME=VALUE", ov);
	snprintf(name, sizeof name, "%.*s", (int)((size_t)(eq - ov) < 120 ? (size_t)(eq - ov) : 120), ov);
	if ((size_t)(eq - ov) >= 120 || !sl__strtab_get(&p->params, name, &idx)) {
		const char *names[256];
		size_t nn = 0;
		char sug[450];
		sl__buf list;
		sl__buf_init(&list, 400);
		for (size_t k = 0; k < s->n_params; k++) {
			if (nn < SL__ARRAY_LEN(names))
				names[nn++] = s->params[k].name;
			sl__buf_printf(&list, "%s%s", k ? ", " : "", s->params[k].name);
		}
		if (*dym(sug, sizeof sug, name, names, nn))
			fail(p, p->params_pos, "-p %s: no parameter '%s' is declared%s", name, name, sug);
		else
			fail(p, p->params_pos, "-p %s: no parameter '%s' is declared (declared: %s)", name,
			     name, list.len ? list.data : "none");
		sl__buf_free(&list);
		return prc(p);
	}

	/* The value is read as YAML, so quoting works as in the file. */
	const char *val = eq + 1;
	sl__yaml_opts yo;
	sl__yerr ye;
	sl__ydoc *vd = NULL;
	const sl__ynode *root;
	json_t *j = NULL;
	int rc;

	memset(&yo, 0, sizeof yo);
	yo.name = "-p";
	yo.code = SL_ESPEC;
	yo.err = &ye;
	if ((rc = sl__yaml_parse(val, strlen(val), &yo, &vd))) {
		if (rc == SL_ENOMEM)
			return oom(p);
		return fail(p, p->params_pos, "-p %s: bad value: %s", name, ye.msg);
	}
	root = sl__ydoc_root(vd);
	if (!root) {
		j = json_null();
	} else if (!sl__ynode_is_scalar(root)) {
		fail(p, p->params_pos, "-p %s: the value must be a scalar, not %s", name,
		     sl__ynode_kind_name(root));
	} else if (sl__yaml_json(vd, root, NULL, &j)) {
		if (sl__ydoc_rc(vd) == SL_ENOMEM)
			oom(p);
		else
			fail(p, p->params_pos, "-p %s: bad value: %s", name, sl__ydoc_errmsg(vd));
	}
	sl__ydoc_free(vd);
	if (prc(p)) {
		json_decref(j);
		return prc(p);
	}
	if (!j)
		return oom(p);
	json_decref(s->params[idx].value);
	s->params[idx].value = j;
	return 0;
}

/* ---- options of built-in steps ---------------------------------------------------- */

/*
 * Where path (inside step idx's `with`; "" for the block, "with." allowed
 * in front) was written: the value, or its key when at_key, or a character
 * inside it (inner > 0) when the value is a one-line scalar. A path that
 * was not written (a default, a missing key) falls back to the nearest
 * enclosing value that was; the block itself, to the `with` key (or the
 * step's uses/run key when it has none). Returns true when the position is
 * the block's.
 */
static bool locate(const spec_full *f, size_t idx, const char *path, bool at_key, int inner,
		   spec_pos *out)
{
	const sl__ypmap *pm = f->with_pos ? f->with_pos[idx] : NULL;
	sl__yloc loc;
	long m;

	*out = f->with_key ? f->with_key[idx] : f->pub.steps[idx].pos;
	if (!strcmp(path, "with"))
		path = "";
	else if (sl__str_has_prefix(path, "with.") || sl__str_has_prefix(path, "with["))
		path += path[4] == '.' ? 5 : 4;
	if (!*path || !pm || (m = sl__ypmap_find(pm, path, &loc)) <= 0)
		return true;
	if ((size_t)m == strlen(path) && at_key && loc.key.line > 0) {
		*out = loc.key;
	} else {
		*out = loc.pos;
		if ((size_t)m == strlen(path) && inner > 0 && loc.exact)
			out->col += loc.lead + inner - 1;
	}
	return false;
}

static int read_builtin_with(parser *p, size_t idx, const sl__ynode *with, const subst_env *e)
{
	spec_full *f = (spec_full *)p->s;
	spec_step *st = &p->s->steps[idx];
	const char *names[64];
	step_problem pb;
	spec_pos pos;
	size_t n_in = 0;
	int rc;

	if (with) {
		sl__yjson o;
		memset(&o, 0, sizeof o);
		o.pmap = f->with_pos[idx];
		o.scalar = with_scalar;
		o.arg = (void *)e;
		if (sl__yaml_json(p->d, with, &o, &st->with))
			return prc(p);
	} else if (!(st->with = json_object())) {
		return oom(p);
	}
	for (size_t k = 0; k < st->n_inputs && n_in < SL__ARRAY_LEN(names); k++)
		names[n_in++] = st->inputs[k].name;
	rc = step_opts_check(st->def, st->with, f->with_pos[idx], names, n_in, &pb);
	if (rc == SL_ENOMEM)
		return oom(p);
	if (!rc)
		return 0;
	if (locate(f, idx, pb.path, pb.at_key, pb.inner, &pos))
		return fail(p, pos, "step '%s': %s", st->name, pb.msg);
	return fail(p, pos, "%s", pb.msg);
}

/* ---- steps ------------------------------------------------------------------------ */

static const char *const step_keys[] = {"uses",  "run",     "plugin",    "with",
					"inputs", "outputs", "deps",     "env",
					"cache", "timeout", "resources", "description"};

static bool input_optional(const step_def *def, const char *name)
{
	for (const step_port *q = def->inputs; q && q->name; q++)
		if (!strcmp(q->name, name))
			return q->optional;
	return true;
}

static int read_inputs(parser *p, spec_step *st, const sl__ynode *in, const sl__ynode *in_key,
		       const sl__ynode *step_key)
{
	if (!in || sl__ynode_is_null(in))
		goto check_required;
	if (want_map(p, in, "'inputs'"))
		return prc(p);
	if (in->n && !(st->inputs = sl__calloc(in->n / 2, sizeof *st->inputs)))
		return oom(p);
	for (size_t i = 0; i < in->n; i += 2) {
		const sl__ynode *k = in->kids[i], *v = in->kids[i + 1];
		spec_input *inp = &st->inputs[st->n_inputs];
		const char *dot;

		if (!is_ident(k->text))
			return fail(p, k->pos, "input name '%.100s' is not an identifier "
					       "([A-Za-z_][A-Za-z0-9_]*)",
				    k->text);
		if (st->def) {
			const step_port *port = NULL;
			const char *names[64];
			size_t nn = 0;
			char sug[450];
			sl__buf list;
			for (const step_port *q = st->def->inputs; q && q->name && !port; q++)
				if (!strcmp(q->name, k->text))
					port = q;
			if (!port) {
				sl__buf_init(&list, 400);
				for (const step_port *q = st->def->inputs; q && q->name; q++) {
					if (nn < SL__ARRAY_LEN(names))
						names[nn++] = q->name;
					sl__buf_printf(&list, "%s%s", q == st->def->inputs ? "" : ", ", q->name);
				}
				if (*dym(sug, sizeof sug, k->text, names, nn))
					fail(p, k->pos, "%s has no input '%.100s'%s", st->def->name, k->text,
					     sug);
				else if (list.len)
					fail(p, k->pos, "%s has no input '%.100s' (its inputs: %s)",
					     st->def->name, k->text, list.data);
				else
					fail(p, k->pos, "%s takes no inputs", st->def->name);
				sl__buf_free(&list);
				return prc(p);
			}
		}
		if (!sl__ynode_is_scalar(v) || sl__ynode_is_null(v))
			return fail(p, v->pos, "input '%s' must be a reference STEP.OUTPUT, not %s", k->text,
				    sl__ynode_kind_name(v));
		{
			/*
			 * run:, artifact: and model: name things outside the pipeline.
			 * They may take ${params.X} (artifact:${params.train_data}?,
			 * model:${params.model}@production?), so a caller such as the
			 * monitoring loop can say which; a STEP.OUTPUT may not, the
			 * graph being fixed by the file.
			 */
			char msg[600], *text = NULL;
			int r;
			inp->pos = v->pos;
			inp->step_index = SIZE_MAX;
			st->n_inputs++;
			if (!(inp->name = sl__strdup(k->text)))
				return oom(p);
			if (strstr(v->text, "${") && subst_params(p, v, NULL, &text, NULL))
				return prc(p);
			r = spec_ref_parse(text ? text : v->text, inp, msg, sizeof msg);
			if (r == 0 && text && strcmp(text, v->text)) {
				sl__free(text);
				return fail(p, v->pos,
					    "input '%s': '%.100s' takes ${params.X} only in a run:, "
					    "artifact: or model: reference, not in STEP.OUTPUT",
					    k->text, v->text);
			}
			sl__free(text);
			if (r < 0)
				return fail(p, v->pos, "input '%s': %s", k->text, msg);
			if (r > 0) {
				if (inp->optional && st->def && !input_optional(st->def, k->text))
					return fail(p, v->pos,
						    "input '%s' of %s is required, so it cannot be an optional "
						    "reference ('?'): the step cannot run without it",
						    k->text, st->def->name);
				continue;
			}
			st->n_inputs--;
			sl__free(inp->name);
			inp->name = NULL;
		}
		if (strchr(v->text, '?'))
			return fail(p, v->pos, "input '%s': '%.100s' cannot be optional: a trailing '?' "
					       "is for run:, artifact: and model: references",
				    k->text, v->text);
		dot = strchr(v->text, '.');
		if (!dot || !is_ident(dot + 1) || (size_t)(dot - v->text) >= 4096) {
			return fail(p, v->pos, "input '%s': '%.100s' is not a reference of the form "
					       "STEP.OUTPUT",
				    k->text, v->text);
		}
		inp->step = sl__strndup(v->text, (size_t)(dot - v->text));
		inp->output = sl__strdup(dot + 1);
		inp->name = sl__strdup(k->text);
		inp->pos = v->pos;
		st->n_inputs++;
		if (!inp->step || !inp->output || !inp->name)
			return oom(p);
		if (!is_name(inp->step))
			return fail(p, v->pos, "input '%s': '%.100s' is not a reference of the form "
					       "STEP.OUTPUT",
				    k->text, v->text);
	}
check_required:
	for (const step_port *q = st->def ? st->def->inputs : NULL; q && q->name; q++) {
		bool have = false;
		if (q->optional)
			continue;
		for (size_t i = 0; i < st->n_inputs && !have; i++)
			have = !strcmp(st->inputs[i].name, q->name);
		if (!have)
			return fail(p, in_key ? in_key->pos : step_key->pos,
				    "step '%s': %s needs input '%s' (%s)", st->name, st->def->name, q->name,
				    q->type ? q->type : "artifact");
	}
	return 0;
}

static int read_outputs(parser *p, spec_step *st, const sl__ynode *out)
{
	if (!out || sl__ynode_is_null(out))
		return 0;
	if (out->kind != SL__Y_SEQ)
		return fail(p, out->pos, "'outputs' must be a sequence of names, not %s",
			    sl__ynode_kind_name(out));
	if (out->n && !(st->outputs = sl__calloc(out->n, sizeof *st->outputs)))
		return oom(p);
	for (size_t i = 0; i < out->n; i++) {
		const sl__ynode *o = out->kids[i];
		bool scalar = sl__ynode_is_scalar(o);
		if (!scalar || !is_ident(o->text))
			return fail(p, o->pos, "output name %s%.100s%s is not an identifier "
					       "([A-Za-z_][A-Za-z0-9_]*)",
				    scalar ? "'" : "", scalar ? o->text : sl__ynode_kind_name(o),
				    scalar ? "'" : "");
		for (size_t k = 0; k < st->n_outputs; k++)
			if (!strcmp(st->outputs[k], o->text))
				return fail(p, o->pos, "duplicate output '%s'", o->text);
		if (!(st->outputs[st->n_outputs] = sl__strdup(o->text)))
			return oom(p);
		st->n_outputs++;
	}
	return 0;
}

static int read_env(parser *p, spec_step *st, const sl__ynode *env, const subst_env *e)
{
	if (!env || sl__ynode_is_null(env))
		return 0;
	if (want_map(p, env, "'env'"))
		return prc(p);
	if (!(st->env = json_object()))
		return oom(p);
	for (size_t i = 0; i < env->n; i += 2) {
		const sl__ynode *k = env->kids[i], *v = env->kids[i + 1];
		char *str;
		json_t *j;
		if (!is_ident(k->text))
			return fail(p, k->pos, "environment variable name '%.100s' is not valid "
					       "([A-Za-z_][A-Za-z0-9_]*)",
				    k->text);
		if (!sl__ynode_is_scalar(v))
			return fail(p, v->pos, "env '%s' must be a scalar, not %s", k->text,
				    sl__ynode_kind_name(v));
		if (sl__ynode_is_null(v)) {
			str = sl__strdup("");
			if (!str)
				return oom(p);
		} else if (subst_params(p, v, e, &str, NULL)) {
			return prc(p);
		}
		j = json_string(str);
		sl__free(str);
		if (!j || json_object_set_new(st->env, k->text, j))
			return oom(p);
	}
	return 0;
}

static int read_deps(parser *p, spec_step *st, const sl__ynode *deps, const subst_env *e)
{
	if (!deps || sl__ynode_is_null(deps))
		return 0;
	if (sl__ynode_is_scalar(deps)) {
		/* One file needs no brackets. */
		if (!(st->deps = sl__calloc(1, sizeof *st->deps)))
			return oom(p);
		if (subst_params(p, deps, e, &st->deps[0], NULL))
			return prc(p);
		st->n_deps = 1;
		return 0;
	}
	if (deps->kind != SL__Y_SEQ)
		return fail(p, deps->pos, "'deps' must be a sequence of file names, not %s",
			    sl__ynode_kind_name(deps));
	if (deps->n && !(st->deps = sl__calloc(deps->n, sizeof *st->deps)))
		return oom(p);
	for (size_t i = 0; i < deps->n; i++) {
		const sl__ynode *d = deps->kids[i];
		if (!sl__ynode_is_scalar(d) || sl__ynode_is_null(d))
			return fail(p, d->pos, "'deps' items must be file names, not %s",
				    sl__ynode_kind_name(d));
		if (subst_params(p, d, e, &st->deps[i], NULL))
			return prc(p);
		st->n_deps++;
	}
	return 0;
}

static int read_plugin(parser *p, spec_step *st, const sl__ynode *v)
{
	const char *colon;

	if (want_text(p, v, "'plugin'", &st->plugin))
		return prc(p);
	colon = strrchr(st->plugin, ':');
	if (!colon || colon == st->plugin || !is_ident(colon + 1))
		return fail(p, v->pos, "'plugin' must be LIBRARY:FUNCTION (for example "
				       "plugins/libmine.so:my_step), not '%.100s'",
			    st->plugin);
	return 0;
}

/* ---- resources ---------------------------------------------------------------------- */

#define RES_MAX_CPUS 4096
#define RES_MAX_GPUS 1024
#define RES_MAX_TIME (366.0 * 86400)
#define RES_MAX_MEMORY ((uint64_t)1 << 60)

/* A resource value: a scalar, with ${params.X} substituted (keeping its type). */
static json_t *resource_json(parser *p, const sl__ynode *v, const subst_env *e)
{
	sl__yjson o;
	json_t *j = NULL;

	if (!sl__ynode_is_scalar(v)) {
		fail(p, v->pos, "resources: a value must be a scalar, not %s", sl__ynode_kind_name(v));
		return NULL;
	}
	memset(&o, 0, sizeof o);
	o.scalar = with_scalar;
	o.arg = (void *)e;
	if (sl__yaml_json(p->d, v, &o, &j))
		return NULL;
	return j;
}

/* "512M", "4G", "1.5GiB", "100KB": bytes, or 0 when not a size. */
static uint64_t parse_memory(const char *s)
{
	static const char units[] = "KMGT";
	const char *u;
	char *end;
	double x, scale = 1;

	errno = 0;
	x = strtod(s, &end);
	if (end == s || errno || !(x > 0) || *s == '-' || *s == '+')
		return 0;
	if (!*end || !(u = strchr(units, *end >= 'a' ? *end - 32 : *end)))
		return 0;
	for (const char *k = units; k <= u; k++)
		scale *= 1024;
	end++;
	if (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "b"))
		end += strlen(end);
	if (*end || x * scale > (double)RES_MAX_MEMORY)
		return 0;
	return (uint64_t)ceil(x * scale);
}

/* "90", "90s", "30m", "2h", "1d", "1:30:00": seconds, or -1 when not a time. */
static double parse_time(const char *s)
{
	unsigned h, m, sec;
	int used = 0;
	char *end;
	double x;

	if (sscanf(s, "%u:%2u:%2u%n", &h, &m, &sec, &used) == 3 && !s[used] && m < 60 && sec < 60)
		return (double)h * 3600 + m * 60 + sec;
	errno = 0;
	x = strtod(s, &end);
	if (end == s || errno || !(x > 0) || !isfinite(x))
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		return x;
	if (!strcmp(end, "m"))
		return x * 60;
	if (!strcmp(end, "h"))
		return x * 3600;
	if (!strcmp(end, "d"))
		return x * 86400;
	return -1;
}

const char *const spec_resource_keys[SPEC_RESOURCE_KEYS] = {"cpus", "memory", "time", "gpus"};

int spec_resource_set(spec_resources *r, const char *k, const json_t *j, char *why, size_t size)
{
	const char *s = json_string_value(j);
	char shown[120];

	if (s)
		snprintf(shown, sizeof shown, "'%.100s'", s);
	else if (json_is_integer(j))
		snprintf(shown, sizeof shown, "%lld", (long long)json_integer_value(j));
	else if (json_is_real(j))
		snprintf(shown, sizeof shown, "%g", json_real_value(j));
	else
		snprintf(shown, sizeof shown, "%s", json_is_boolean(j) ? "a boolean" : "null");
	if (!strcmp(k, "cpus") || !strcmp(k, "gpus")) {
		bool cpus = k[0] == 'c';
		long long lo = cpus ? 1 : 0, hi = cpus ? RES_MAX_CPUS : RES_MAX_GPUS;
		long long n = -1;
		if (json_is_integer(j))
			n = (long long)json_integer_value(j);
		else if (s && *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 9)
			n = atoll(s);
		if (n < lo || n > hi) {
			snprintf(why, size, "'%s' must be a whole number from %lld to %lld, not %s", k,
				 lo, hi, shown);
			return SL_EINVAL;
		}
		if (cpus)
			r->cpus = (int)n;
		else
			r->gpus = (int)n;
	} else if (!strcmp(k, "memory")) {
		uint64_t b = s ? parse_memory(s) : 0;
		if (!b) {
			snprintf(why, size, "'memory' must be a size with a unit, such as 512M or 4G "
					    "(K, M, G, T: powers of 1024), not %s",
				 shown);
			return SL_EINVAL;
		}
		r->memory = b;
	} else if (!strcmp(k, "time")) {
		double t = json_is_number(j) ? json_number_value(j) : s ? parse_time(s) : -1;
		if (!(t > 0 && t <= RES_MAX_TIME)) {
			snprintf(why, size, "'time' must be a duration above 0 and at most 366 days: "
					    "seconds (90), 90s, 30m, 2h, 1d or H:MM:SS (1:30:00), not %s",
				 shown);
			return SL_EINVAL;
		}
		r->time = t;
	} else {
		snprintf(why, size, "unknown resource '%s' (known: cpus, memory, time, gpus)", k);
		return SL_EINVAL;
	}
	return 0;
}

static int read_resources(parser *p, spec_step *st, const sl__ynode *m, const subst_env *e)
{
	spec_resources *r = &st->resources;

	if (!m || sl__ynode_is_null(m))
		return 0;
	if (want_map(p, m, "'resources'") ||
	    check_keys(p, m, spec_resource_keys, SPEC_RESOURCE_KEYS, "'resources'"))
		return prc(p);
	for (size_t i = 0; i < m->n; i += 2) {
		const char *k = m->kids[i]->text;
		const sl__ynode *v = m->kids[i + 1];
		char why[256];
		json_t *j;
		int bad;

		if (sl__ynode_is_null(v))
			continue;
		if (!(j = resource_json(p, v, e)))
			return prc(p);
		bad = spec_resource_set(r, k, j, why, sizeof why);
		json_decref(j);
		if (bad)
			return fail(p, v->pos, "resources: %s", why);
	}
	return 0;
}

static int read_step(parser *p, size_t idx, const sl__ynode *key, const sl__ynode *m)
{
	spec_full *f = (spec_full *)p->s;
	spec_step *st = &p->s->steps[idx];
	const sl__ynode *kind_key = NULL, *kind_val = NULL;
	const sl__ynode *with_key = NULL, *in_key = NULL, *out_key = NULL;
	const sl__ynode *with, *in, *out, *v;
	subst_env e;
	int kinds = 0;

	st->pos = key->pos;
	st->cache = true;
	f->with_key[idx] = key->pos;
	if (!(st->name = sl__strdup(key->text)))
		return oom(p);
	if (!is_name(key->text))
		return fail(p, key->pos, "step name '%.100s' is not valid (letters, digits, '_' and '-', "
					 "not starting with a digit)",
			    key->text);
	if (m->kind != SL__Y_MAP)
		return fail(p, m->pos, "step '%s' must be a mapping with 'uses', 'run' or 'plugin', not %s",
			    st->name, sl__ynode_kind_name(m));
	if (check_keys(p, m, step_keys, SL__ARRAY_LEN(step_keys), "a step"))
		return prc(p);

	/* Exactly one of uses/run/plugin, reported at the second one given. */
	for (size_t i = 0; i < m->n; i += 2) {
		const char *k = m->kids[i]->text;
		if (strcmp(k, "uses") && strcmp(k, "run") && strcmp(k, "plugin"))
			continue;
		if (++kinds > 1)
			return fail(p, m->kids[i]->pos, "step '%s' has both '%s' and '%s' (a step is "
							"exactly one of uses, run or plugin)",
				    st->name, kind_key->text, k);
		kind_key = m->kids[i];
		kind_val = m->kids[i + 1];
	}
	if (!kind_key)
		return fail(p, key->pos, "step '%s' needs one of 'uses', 'run' or 'plugin'", st->name);

	with = sl__ymap_get(m, "with", &with_key);
	in = sl__ymap_get(m, "inputs", &in_key);
	out = sl__ymap_get(m, "outputs", &out_key);
	f->with_key[idx] = with_key ? with_key->pos : kind_key->pos;
	if (!strcmp(kind_key->text, "uses")) {
		st->kind = SPEC_USES;
		if (want_text(p, kind_val, "'uses'", &st->uses))
			return prc(p);
		if (!(st->def = step_find(st->uses))) {
			size_t n_all;
			const step_def *const *all = step_all(&n_all);
			const char *names[128];
			size_t nn = 0;
			char sug[450];
			for (size_t i = 0; i < n_all && nn < SL__ARRAY_LEN(names); i++)
				names[nn++] = all[i]->name;
			if (sl__did_you_mean(sug, sizeof sug, st->uses, names, nn))
				return fail(p, kind_val->pos, "unknown built-in step '%.100s' (%s `sluice "
							      "steps` lists them all)",
					    st->uses, sug);
			return fail(p, kind_val->pos, "unknown built-in step '%.100s' (`sluice steps` "
						      "lists them)",
				    st->uses);
		}
		if (out_key) {
			sl__buf list;
			sl__buf_init(&list, 400);
			for (const step_port *q = st->def->outputs; q && q->name; q++)
				sl__buf_printf(&list, "%s%s", q == st->def->outputs ? "" : ", ", q->name);
			fail(p, out_key->pos, "step '%s': 'outputs' cannot be given to a 'uses:' step; "
					      "%s's outputs are: %s",
			     st->name, st->def->name, list.len ? list.data : "none");
			sl__buf_free(&list);
			return prc(p);
		}
		size_t n = 0;
		for (const step_port *q = st->def->outputs; q && q->name; q++)
			n++;
		if (n && !(st->outputs = sl__calloc(n, sizeof *st->outputs)))
			return oom(p);
		for (const step_port *q = st->def->outputs; q && q->name; q++)
			if (!(st->outputs[st->n_outputs++] = sl__strdup(q->name)))
				return oom(p);
	} else if (!strcmp(kind_key->text, "run")) {
		st->kind = SPEC_RUN;
		if (!sl__ynode_is_scalar(kind_val) || sl__ynode_is_null(kind_val))
			return fail(p, kind_val->pos, "'run' must be a command (a string), not %s",
				    sl__ynode_kind_name(kind_val));
		if (read_outputs(p, st, out))
			return prc(p);
	} else {
		st->kind = SPEC_PLUGIN;
		if (read_plugin(p, st, kind_val) || read_outputs(p, st, out))
			return prc(p);
	}
	if (read_inputs(p, st, in, in_key, key))
		return prc(p);

	e.p = p;
	e.inputs = in && in->kind == SL__Y_MAP ? in : NULL;
	e.outputs = (const char *const *)st->outputs;
	e.n_outputs = st->n_outputs;
	e.step = st->name;
	if (st->kind == SPEC_RUN && subst_params(p, kind_val, &e, &st->run, NULL))
		return prc(p);

	if (with && !sl__ynode_is_null(with) && want_map(p, with, "'with'"))
		return prc(p);
	if (with && sl__ynode_is_null(with))
		with = NULL;
	if (with && sl__ypmap_new(&f->with_pos[idx]))
		return oom(p);
	if (st->kind == SPEC_USES) {
		if (read_builtin_with(p, idx, with, &e))
			return prc(p);
	} else if (with) {
		sl__yjson o;
		memset(&o, 0, sizeof o);
		o.pmap = f->with_pos[idx];
		o.scalar = with_scalar;
		o.arg = &e;
		if (sl__yaml_json(p->d, with, &o, &st->with))
			return prc(p);
	} else if (!(st->with = json_object())) {
		return oom(p);
	}
	if (read_env(p, st, sl__ymap_get(m, "env", NULL), &e) ||
	    read_deps(p, st, sl__ymap_get(m, "deps", NULL), &e) ||
	    read_resources(p, st, sl__ymap_get(m, "resources", NULL), &e))
		return prc(p);
	if ((v = sl__ymap_get(m, "cache", NULL))) {
		if (v->kind != SL__Y_BOOL)
			return fail(p, v->pos, "'cache' must be true or false");
		st->cache = v->b;
	}
	if ((v = sl__ymap_get(m, "timeout", NULL))) {
		double t = v->kind == SL__Y_INT || v->kind == SL__Y_FLOAT ? v->d : -1;
		/* A week bounds it: beyond that a number is a mistake, not a limit. */
		if (!(t > 0 && t <= 7 * 86400))
			return fail(p, v->pos, "'timeout' must be a number of seconds above 0 "
					       "(at most 604800)");
		st->timeout = t;
	}
	if ((v = sl__ymap_get(m, "description", NULL)) && !sl__ynode_is_null(v) &&
	    want_text(p, v, "'description'", &st->description))
		return prc(p);
	return 0;
}

/* Resolves every input reference to a step index (needs all steps read). */
static int resolve_inputs(parser *p)
{
	spec *s = p->s;
	const char **names = sl__calloc(s->n_steps + 1, sizeof *names);
	int rc = 0;

	if (!names)
		return oom(p);
	for (size_t q = 0; q < s->n_steps; q++)
		names[q] = s->steps[q].name;
	for (size_t i = 0; i < s->n_steps && !rc; i++) {
		spec_step *st = &s->steps[i];
		for (size_t k = 0; k < st->n_inputs && !rc; k++) {
			spec_input *in = &st->inputs[k];
			char sug[450];
			size_t j;
			if (in->ref != SPEC_REF_STEP)
				continue; /* outside the pipeline: resolved when the run starts */
			if (!sl__strtab_get(&p->steps, in->step, &j)) {
				rc = fail(p, in->pos, "input '%s' refers to a missing step '%s'%s", in->name,
					  in->step, dym(sug, sizeof sug, in->step, names, s->n_steps));
				break;
			}
			if (j == i) {
				rc = fail(p, in->pos, "step '%s' cannot consume its own output '%s'",
					  st->name, in->output);
				break;
			}
			in->step_index = j;
			const spec_step *src = &s->steps[j];
			bool found = false;
			for (size_t q = 0; q < src->n_outputs && !found; q++)
				found = !strcmp(src->outputs[q], in->output);
			if (found)
				continue;
			sl__buf list;
			sl__buf_init(&list, 400);
			for (size_t q = 0; q < src->n_outputs; q++)
				sl__buf_printf(&list, "%s%s", q ? ", " : "", src->outputs[q]);
			if (!src->n_outputs)
				rc = fail(p, in->pos, "input '%s': step '%s' has no outputs (declare them "
						      "with 'outputs:')",
					  in->name, src->name);
			else if (sl__did_you_mean(sug, sizeof sug, in->output,
						  (const char *const *)src->outputs, src->n_outputs))
				rc = fail(p, in->pos, "input '%s': step '%s' has no output '%s' (%s it "
						      "has: %s)",
					  in->name, src->name, in->output, sug, list.data);
			else
				rc = fail(p, in->pos, "input '%s': step '%s' has no output '%s' (it has: %s)",
					  in->name, src->name, in->output, list.data);
			sl__buf_free(&list);
		}
	}
	sl__free(names);
	return rc;
}

/* The default pipeline name: the file name without directory and extension. */
static char *default_name(const char *disp)
{
	const char *base = strrchr(disp, '/');
	size_t n;

	base = base ? base + 1 : disp;
	n = strlen(base);
	if (sl__str_has_suffix(base, ".yaml"))
		n -= 5;
	else if (sl__str_has_suffix(base, ".yml"))
		n -= 4;
	if (n == 0 || base[0] == '<')
		return sl__strdup("pipeline");
	return sl__strndup(base, n);
}

static const char *const top_keys[] = {"name", "description", "params", "steps"};

static int read_spec(parser *p, const sl__ynode *root, const char *const *overrides, size_t n_ov)
{
	spec_full *f = (spec_full *)p->s;
	spec *s = p->s;
	const sl__ynode *steps, *steps_key = NULL, *v, *params_key = NULL;

	if (!root)
		return fail(p, (spec_pos){1, 1}, "the pipeline file is empty (it needs 'steps')");
	if (root->kind != SL__Y_MAP)
		return fail(p, root->pos, "a pipeline file must be a mapping with 'steps', not %s",
			    sl__ynode_kind_name(root));
	if (check_keys(p, root, top_keys, SL__ARRAY_LEN(top_keys), "the pipeline file"))
		return prc(p);
	if ((v = sl__ymap_get(root, "name", NULL))) {
		if (want_text(p, v, "'name'", &s->name))
			return prc(p);
		if (!*s->name)
			return fail(p, v->pos, "'name' must not be empty");
	} else if (!(s->name = default_name(p->disp))) {
		return oom(p);
	}
	if ((v = sl__ymap_get(root, "description", NULL)) && !sl__ynode_is_null(v) &&
	    want_text(p, v, "'description'", &s->description))
		return prc(p);

	p->params_pos = root->pos;
	if ((v = sl__ymap_get(root, "params", &params_key))) {
		p->params_pos = params_key->pos;
		if (read_params(p, v))
			return prc(p);
	}
	for (size_t i = 0; i < n_ov; i++)
		if (apply_override(p, overrides[i]))
			return prc(p);

	steps = sl__ymap_get(root, "steps", &steps_key);
	if (!steps)
		return fail(p, root->pos, "missing 'steps' (a mapping of step names to steps)");
	if (sl__ynode_is_null(steps) || (steps->kind == SL__Y_MAP && steps->n == 0))
		return fail(p, steps_key->pos, "'steps' is empty: a pipeline needs at least one step");
	if (want_map(p, steps, "'steps'"))
		return prc(p);
	if (!(s->steps = sl__calloc(steps->n / 2, sizeof *s->steps)) ||
	    !(f->with_pos = sl__calloc(steps->n / 2, sizeof *f->with_pos)) ||
	    !(f->with_key = sl__calloc(steps->n / 2, sizeof *f->with_key)))
		return oom(p);
	/* Names first, so that any error message can already look steps up. */
	for (size_t i = 0; i < steps->n; i += 2)
		if (sl__strtab_put(&p->steps, steps->kids[i]->text, i / 2, NULL) < 0)
			return oom(p);
	for (size_t i = 0; i < steps->n; i += 2) {
		s->n_steps++;
		if (read_step(p, i / 2, steps->kids[i], steps->kids[i + 1]))
			return prc(p);
	}
	return resolve_inputs(p);
}

/* ---- public entry points ------------------------------------------------------------ */

/* Frees what one step owns (not the step itself). */
static void step_free(spec_step *st)
{
	sl__free(st->name);
	sl__free(st->uses);
	sl__free(st->run);
	sl__free(st->plugin);
	json_decref(st->with);
	for (size_t k = 0; k < st->n_inputs; k++) {
		sl__free(st->inputs[k].name);
		sl__free(st->inputs[k].step);
		sl__free(st->inputs[k].output);
		sl__free(st->inputs[k].text);
		sl__free(st->inputs[k].target);
		sl__free(st->inputs[k].version);
	}
	sl__free(st->inputs);
	for (size_t k = 0; k < st->n_outputs; k++)
		sl__free(st->outputs[k]);
	sl__free(st->outputs);
	for (size_t k = 0; k < st->n_deps; k++)
		sl__free(st->deps[k]);
	sl__free(st->deps);
	json_decref(st->env);
	sl__free(st->description);
	sl__free(st->upstream);
	sl__free(st->downstream);
}

void spec_free(spec *s)
{
	spec_full *f = (spec_full *)s;

	if (!s)
		return;
	for (size_t i = 0; i < s->n_params; i++) {
		sl__free(s->params[i].name);
		json_decref(s->params[i].value);
	}
	sl__free(s->params);
	for (size_t i = 0; i < s->n_steps; i++) {
		step_free(&s->steps[i]);
		if (f->with_pos)
			sl__ypmap_free(f->with_pos[i]);
	}
	sl__free(f->with_pos);
	sl__free(f->with_key);
	sl__free(s->steps);
	sl__free(s->order);
	sl__free(s->path);
	sl__free(s->dir);
	sl__free(s->name);
	sl__free(s->description);
	sl__free(f->disp);
	sl__strtab_free(&f->index);
	sl__free(f);
}

int spec_parse_string(const char *text, size_t len, const char *display_name, const char *dir,
		      const char *const *overrides, size_t n_overrides, spec **out)
{
	sl__yaml_opts yo;
	spec_full *f;
	parser p;
	int rc;

	if (out)
		*out = NULL;
	if (!text || !out || (n_overrides && !overrides))
		return sl__err(SL_EINVAL, "spec_parse_string: invalid arguments");
	if (!display_name)
		display_name = "<string>";
	memset(&yo, 0, sizeof yo);
	yo.name = display_name;
	yo.what = "a pipeline file";
	yo.code = SL_ESPEC;
	if ((rc = sl__yaml_parse(text, len, &yo, &p.d)))
		return rc;
	if (!(f = sl__calloc(1, sizeof *f))) {
		sl__ydoc_free(p.d);
		return sl__err(SL_ENOMEM, "%s: out of memory", display_name);
	}
	p.disp = display_name;
	p.s = &f->pub;
	memset(&p.steps, 0, sizeof p.steps);
	memset(&p.params, 0, sizeof p.params);
	p.params_pos = (spec_pos){1, 1};
	if (!(f->pub.path = sl__strdup("<string>")) || !(f->disp = sl__strdup(display_name)) ||
	    !(f->pub.dir = sl__path_abs(dir ? dir : ".")) ||
	    sl__sha256_hex(text, len, f->pub.sha256))
		oom(&p);
	if (!prc(&p) && !read_spec(&p, sl__ydoc_root(p.d), overrides, n_overrides)) {
		spec_pos pos;
		char msg[SPEC_MSG_MAX];
		rc = dag_build(&f->pub, &pos, msg, sizeof msg);
		if (rc == SL_ESPEC)
			fail(&p, pos, "%s", msg);
		else if (rc)
			oom(&p);
	}
	sl__strtab_free(&p.params);
	/* The name table becomes the spec's index (its keys are the steps' own
	 * names, which live as long as the spec), once keys are repointed. */
	sl__strtab_free(&p.steps);
	for (size_t i = 0; i < f->pub.n_steps && !prc(&p); i++)
		if (sl__strtab_put(&f->index, f->pub.steps[i].name, i, NULL) < 0)
			oom(&p);
	if ((rc = prc(&p))) {
		sl__ydoc_raise(p.d);
		sl__ydoc_free(p.d);
		spec_free(&f->pub);
		return rc;
	}
	sl__ydoc_free(p.d);
	*out = &f->pub;
	return 0;
}

int spec_parse_file(const char *path, const char *const *overrides, size_t n_overrides,
		    spec **out)
{
	sl__buf b;
	char *abs, *dir;
	int rc;

	if (out)
		*out = NULL;
	if (!path || !out)
		return sl__err(SL_EINVAL, "spec_parse_file: invalid arguments");
	rc = sl__read_file(path, SL__YAML_MAX_FILE, &b);
	if (rc)
		return rc == SL_ENOMEM ? sl__err(rc, "%s: out of memory", path) : rc;
	abs = sl__path_abs(path);
	dir = abs ? sl__path_dir(abs) : NULL;
	if (!dir) {
		sl__free(abs);
		sl__buf_free(&b);
		return sl__err(SL_ENOMEM, "%s: out of memory", path);
	}
	rc = spec_parse_string(b.data ? b.data : "", b.len, path, dir, overrides, n_overrides, out);
	sl__buf_free(&b);
	sl__free(dir);
	if (rc) {
		sl__free(abs);
		return rc;
	}
	sl__free((*out)->path);
	(*out)->path = abs;
	return 0;
}

long spec_step_index(const spec *s, const char *name)
{
	const spec_full *f = (const spec_full *)s;
	size_t i;

	if (!s || !name || !sl__strtab_get(&f->index, name, &i))
		return -1;
	return (long)i;
}

const char *spec_display_name(const spec *s)
{
	const spec_full *f = (const spec_full *)s;

	return s ? f->disp : NULL;
}

int spec_with_pos(const spec *s, size_t step, const char *json_path, spec_pos *out)
{
	const spec_full *f = (const spec_full *)s;

	if (!s || step >= s->n_steps || !json_path || !out)
		return sl__err(SL_EINVAL, "spec_with_pos: invalid arguments");
	locate(f, step, json_path, false, 0, out);
	return 0;
}

/*
 * A step may name an option its short form did not write: wrangle's
 * {filter: "x > 0"} is {op: filter, expr: "x > 0"}, and its errors say
 * "with.ops[1].expr" (or "with.ops[1].columns[2]", an item of it). When the
 * path's last key is missing but its parent is a one-key mapping, that
 * key's value is the one meant.
 */
static void shorthand_path(const json_t *with, char *path, size_t size)
{
	const char *body = path + 4 + (path[4] == '.');
	char *dot = strrchr(path, '.'), *items;
	const json_t *parent;
	sl__buf b;

	if (sl__ypath_json(with, body) || !dot || dot < body || strchr(dot, '"'))
		return;
	/* The items after the key ("[2]") stay as they are. */
	items = strchr(dot, '[');
	*dot = '\0';
	parent = sl__ypath_json(with, body);
	if (json_is_object(parent) && json_object_size(parent) == 1) {
		sl__buf_init(&b, size - 1);
		if (!sl__buf_puts(&b, path) &&
		    !sl__ypath_key(&b, json_object_iter_key(json_object_iter((json_t *)parent))) &&
		    !sl__buf_puts(&b, items ? items : "") && b.len < size) {
			memcpy(path, b.data, b.len + 1);
			sl__buf_free(&b);
			return;
		}
		sl__buf_free(&b);
	}
	*dot = '.';
}

/*
 * A message starting with a path into `with` ("with.ops[3].columns: ...",
 * perhaps "with.rules[0].when:1:7: ..." from an expression) gets the
 * file's position in front.
 */
char *spec_locate_msg(const spec *s, size_t step, const char *msg)
{
	const spec_full *f = (const spec_full *)s;
	char path[256];
	const char *rest, *colon;
	size_t n;
	long line = 0, col = 0;
	int used = 0;
	spec_pos pos;

	if (!s || step >= s->n_steps || !msg)
		return NULL;
	if (!sl__str_has_prefix(msg, "with.") && !sl__str_has_prefix(msg, "with[") &&
	    !sl__str_has_prefix(msg, "with:"))
		return sl__strdup(msg);
	/* The path ends at the first ':' outside ["..."]. */
	for (colon = msg; *colon && *colon != ':' && *colon != ' '; colon++)
		if (colon[0] == '[' && colon[1] == '"')
			for (colon += 2; *colon && *colon != '"'; colon++)
				if (*colon == '\\' && colon[1])
					colon++;
	if (*colon != ':' || (n = (size_t)(colon - msg)) >= sizeof path)
		return sl__strdup(msg);
	memcpy(path, msg, n);
	path[n] = '\0';
	shorthand_path(s->steps[step].with, path, sizeof path);
	rest = colon;
	if (sscanf(rest, ":%ld:%ld:%n", &line, &col, &used) == 2 && used > 0)
		rest += used;
	else
		line = col = 0;
	if (!locate(f, step, path, false, 0, &pos) && line == 1 && col > 0) {
		/* An expression's column: characters from the value's start. */
		const json_t *v = sl__ypath_json(s->steps[step].with, path + 4 + (path[4] == '.'));
		const char *t = json_string_value(v);
		size_t chars = 0;
		for (size_t i = 0; t && i < (size_t)col - 1 && t[i]; i++)
			chars += ((unsigned char)t[i] & 0xC0) != 0x80;
		locate(f, step, path, false, (int)chars + 1, &pos);
		return sl__asprintf("%s:%d:%d: %s:%s", f->disp, pos.line, pos.col, path, rest);
	}
	return sl__asprintf("%s:%d:%d: %s", f->disp, pos.line, pos.col, msg);
}

static int sort_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *sorted_string_array(char **items, size_t n)
{
	const char **copy = n ? sl__calloc(n, sizeof *copy) : NULL;
	json_t *arr = json_array();

	if (!arr || (n && !copy))
		goto error;
	if (n) {
		memcpy(copy, items, n * sizeof *copy);
		/* Order does not change what a step does, so it must not change
		 * its key. */
		qsort(copy, n, sizeof *copy, sort_strings);
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, json_string(copy[i])))
			goto error;
	sl__free(copy);
	return arr;
error:
	sl__free(copy);
	json_decref(arr);
	return NULL;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of obj whose top-level keys are in sorted order (values shared). */
static json_t *with_sorted_top(json_t *obj)
{
	size_t n = json_object_size(obj), k = 0;
	const char **keys;
	const char *key;
	json_t *v, *out = json_object();

	if (!out || n == 0)
		return out;
	keys = sl__calloc(n, sizeof *keys);
	if (!keys) {
		json_decref(out);
		return NULL;
	}
	json_object_foreach(obj, key, v)
		keys[k++] = key;
	qsort(keys, n, sizeof *keys, cmp_key);
	for (k = 0; k < n; k++) {
		if (json_object_set(out, keys[k], json_object_get(obj, keys[k]))) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	sl__free(keys);
	return out;
}

char *spec_step_canonical(const spec *s, size_t i)
{
	const spec_step *st;
	json_t *o, *in;
	char *text = NULL, *dumped;
	int bad = 0;

	if (!s || i >= s->n_steps) {
		sl__err(SL_EINVAL, "spec_step_canonical: no step %zu", i);
		return NULL;
	}
	st = &s->steps[i];
	if (!(o = json_object()))
		goto nomem;
	static const char *const kinds[] = {"uses", "run", "plugin"};
	const char *what = st->kind == SPEC_USES ? st->uses : st->kind == SPEC_RUN ? st->run : st->plugin;
	/*
	 * Keys are inserted in sorted order and dumped in insertion order, with
	 * every map sorted by key except inside option values: there order can
	 * mean something (wrangle's `derive: {b: ..., a: ...}` makes columns in
	 * that order), so two orders must not share a cache entry. Option names,
	 * env, inputs, outputs and deps have no meaningful order.
	 */
	json_t *inputs_sorted = NULL;
	bad |= json_object_set_new(o, "deps", sorted_string_array(st->deps, st->n_deps));
	bad |= json_object_set_new(o, "env", st->env ? with_sorted_top(st->env) : json_object());
	bad |= !(in = json_object());
	for (size_t k = 0; in && k < st->n_inputs; k++) {
		const spec_input *inp = &st->inputs[k];
		/* A reference outside the pipeline as written: what it resolves to
		 * enters the cache key with the input's artifact id. */
		char *ref = inp->ref == SPEC_REF_STEP
				    ? sl__asprintf("%s.%s", inp->step, inp->output)
				    : sl__asprintf("%s%s", inp->text, inp->optional ? "?" : "");
		bad |= !ref || json_object_set_new(in, st->inputs[k].name, json_string(ref));
		sl__free(ref);
	}
	inputs_sorted = with_sorted_top(in);
	json_decref(in);
	bad |= json_object_set_new(o, "inputs", inputs_sorted);
	bad |= json_object_set_new(o, "kind", json_string(kinds[st->kind]));
	bad |= json_object_set_new(o, "outputs", sorted_string_array(st->outputs, st->n_outputs));
	bad |= json_object_set_new(o, kinds[st->kind], json_string(what));
	bad |= json_object_set_new(o, "with", st->with ? with_sorted_top(st->with) : json_object());
	if (bad)
		goto nomem;
	dumped = sl__json_dumps(o, JSON_COMPACT);
	if (!dumped)
		goto nomem;
	/* Copied so that the caller frees with sl__free like everything else. */
	text = sl__strdup(dumped);
	free(dumped);
	if (!text)
		goto nomem;
	json_decref(o);
	return text;
nomem:
	json_decref(o);
	sl__err(SL_ENOMEM, "out of memory");
	return NULL;
}

static const char *lookup_io(const char *name, size_t len, const char *const *names,
			     const char *const *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], name, len))
			return vals[i];
	return NULL;
}

char *spec_subst_io(const char *text, const char *const *in_names, const char *const *in_vals,
		    size_t n_in, const char *const *out_names, const char *const *out_vals,
		    size_t n_out)
{
	sl__buf b;
	const char *t = text;
	char *r;

	if (!text) {
		sl__err(SL_EINVAL, "spec_subst_io: no text");
		return NULL;
	}
	sl__buf_init(&b, 0);
	for (;;) {
		const char *d = strstr(t, "${");
		const char *close, *val;
		bool input;

		if (!d) {
			if (sl__buf_puts(&b, t))
				goto nomem;
			break;
		}
		if (sl__buf_append(&b, t, (size_t)(d - t)))
			goto nomem;
		close = strchr(d + 2, '}');
		input = sl__str_has_prefix(d + 2, "inputs.");
		if (!close || (!input && !sl__str_has_prefix(d + 2, "outputs."))) {
			/* Not ours (the parser has already vetted the text): copy. */
			if (sl__buf_append(&b, d, 2))
				goto nomem;
			t = d + 2;
			continue;
		}
		const char *name = d + 2 + (input ? 7 : 8);
		size_t len = (size_t)(close - name);
		val = input ? lookup_io(name, len, in_names, in_vals, n_in)
			    : lookup_io(name, len, out_names, out_vals, n_out);
		if (!val) {
			sl__err(SL_EINVAL, "no %s '%.*s' to substitute for '%.*s'",
				input ? "input" : "output", (int)(len < 100 ? len : 100), name,
				(int)((size_t)(close - d + 1) < 120 ? (size_t)(close - d + 1) : 120), d);
			sl__buf_free(&b);
			return NULL;
		}
		if (sl__buf_puts(&b, val))
			goto nomem;
		t = close + 1;
	}
	if ((r = buf_take(&b)))
		return r;
nomem:
	sl__buf_free(&b);
	sl__err(SL_ENOMEM, "out of memory");
	return NULL;
}

/* ---- steps added by the scheduler --------------------------------------------------- */

int spec_steps_append(spec *s, size_t n, size_t like)
{
	spec_full *f = (spec_full *)s;
	size_t total = s->n_steps + n;
	spec_step *steps;

	if (!s || like >= s->n_steps || total < n)
		return sl__err(SL_EINVAL, "spec_steps_append: invalid arguments");
	steps = sl__reallocarray(s->steps, total + 1, sizeof *steps);
	if (!steps)
		return sl__oom();
	s->steps = steps;
	if (f->with_pos) {
		sl__ypmap **wp = sl__reallocarray(f->with_pos, total + 1, sizeof *wp);
		if (!wp)
			return sl__oom();
		f->with_pos = wp;
		for (size_t i = s->n_steps; i < total; i++)
			wp[i] = NULL;
	}
	if (f->with_key) {
		spec_pos *wk = sl__reallocarray(f->with_key, total + 1, sizeof *wk);
		if (!wk)
			return sl__oom();
		f->with_key = wk;
		for (size_t i = s->n_steps; i < total; i++)
			wk[i] = wk[like];
	}
	memset(&s->steps[s->n_steps], 0, n * sizeof *s->steps);
	for (size_t i = s->n_steps; i < total; i++)
		s->steps[i].pos = s->steps[like].pos;
	s->n_steps = total;
	return 0;
}

/* Drops indices >= n from a list of step indices, in place. */
static void drop_indices(size_t *v, size_t *len, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < *len; i++)
		if (v[i] < n)
			v[k++] = v[i];
	*len = k;
}

void spec_steps_truncate(spec *s, size_t n)
{
	spec_full *f = (spec_full *)s;

	if (!s || n >= s->n_steps)
		return;
	for (size_t i = n; i < s->n_steps; i++) {
		step_free(&s->steps[i]);
		if (f->with_pos)
			sl__ypmap_free(f->with_pos[i]);
	}
	s->n_steps = n;
	for (size_t i = 0; i < n; i++) {
		drop_indices(s->steps[i].upstream, &s->steps[i].n_upstream, n);
		drop_indices(s->steps[i].downstream, &s->steps[i].n_downstream, n);
	}
}
