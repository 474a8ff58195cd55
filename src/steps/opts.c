/*
 * Checking a step's options against its schema (step.h: step_opt,
 * step_rule, step_variant), and describing the schema for `sluice steps`.
 *
 * The checker works on JSON, the form `with` has everywhere (the parser's
 * result, a command step's SLUICE_WITH, tune's templates), and names every
 * problem by its path inside `with`; the parser maps the path to
 * FILE:LINE:COL through the position map of the file (yamltree.h). Order of
 * work for one mapping:
 *
 *   1. every given key, in file order: unknown keys are errors (with a
 *      suggestion); each value is coerced to its type and checked against
 *      its constraints, recursively for lists and mappings;
 *   2. required keys that are missing;
 *   3. the mapping's rules, on what was given (and defaults for `when`);
 *   4. at the top level only: defaults are filled in and def->check runs.
 *
 * Invariants: the first problem wins and stops the check; a value is only
 * replaced by its coerced form, never removed, except top-level nulls
 * (an explicit null means "not set": the default applies); nested defaults
 * are not written, so what a step reads in a nested mapping is what the
 * file says.
 *
 * Column names (step_columns_check) are the one thing the file alone
 * cannot settle: they are checked against the inputs' columns once the
 * inputs exist, before the step runs, with the same paths.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/expr.h"
#include "steps/step.h"
#include "yamltree.h"

/* ---- intervals: "[0, 1]", "(0,)", "[1,)" ----------------------------------------- */

typedef struct ivl {
	bool has_lo, has_hi, lo_open, hi_open;
	double lo, hi;
} ivl;

static const char *skip_ws(const char *s)
{
	while (*s == ' ')
		s++;
	return s;
}

/* Parses an interval; false when malformed (a bug in a step's table, which
 * the registry test catches). */
static bool ivl_parse(const char *s, ivl *out)
{
	char *end;

	memset(out, 0, sizeof *out);
	s = skip_ws(s);
	if (*s != '[' && *s != '(')
		return false;
	out->lo_open = *s++ == '(';
	s = skip_ws(s);
	if (*s != ',') {
		out->lo = strtod(s, &end);
		if (end == s)
			return false;
		out->has_lo = true;
		s = skip_ws(end);
	}
	if (*s++ != ',')
		return false;
	s = skip_ws(s);
	if (*s != ']' && *s != ')') {
		out->hi = strtod(s, &end);
		if (end == s)
			return false;
		out->has_hi = true;
		s = skip_ws(end);
	}
	if (*s != ']' && *s != ')')
		return false;
	out->hi_open = *s++ == ')';
	return *skip_ws(s) == '\0' && (!out->has_lo || !out->has_hi || out->lo <= out->hi);
}

static bool ivl_has(const ivl *v, double x)
{
	if (isnan(x))
		return false;
	if (v->has_lo && (v->lo_open ? !(x > v->lo) : !(x >= v->lo)))
		return false;
	if (v->has_hi && (v->hi_open ? !(x < v->hi) : !(x <= v->hi)))
		return false;
	return true;
}

/* "in (0, 1]", "above 0", "at least 1", "at most 10", "below 1", "any". */
static void ivl_words(const ivl *v, char *buf, size_t size)
{
	if (v->has_lo && v->has_hi)
		snprintf(buf, size, "in %c%.15g, %.15g%c", v->lo_open ? '(' : '[', v->lo, v->hi,
			 v->hi_open ? ')' : ']');
	else if (v->has_lo)
		snprintf(buf, size, "%s %.15g", v->lo_open ? "above" : "at least", v->lo);
	else if (v->has_hi)
		snprintf(buf, size, "%s %.15g", v->hi_open ? "below" : "at most", v->hi);
	else
		snprintf(buf, size, "any");
}

/* Words for a length interval of what: "not empty", "2 or 3 items", "at most 5 items". */
static void len_words(const ivl *v, const char *unit, char *buf, size_t size)
{
	if (v->has_lo && !v->has_hi && v->lo == 1 && !v->lo_open)
		snprintf(buf, size, "not empty");
	else if (v->has_lo && v->has_hi && v->lo == v->hi)
		snprintf(buf, size, "exactly %.15g %s", v->lo, unit);
	else if (v->has_lo && v->has_hi && v->hi == v->lo + 1 && !v->lo_open && !v->hi_open)
		snprintf(buf, size, "%.15g or %.15g %s", v->lo, v->hi, unit);
	else if (v->has_lo && v->has_hi)
		snprintf(buf, size, "%.15g to %.15g %s", v->lo, v->hi, unit);
	else if (v->has_lo)
		snprintf(buf, size, "at least %.15g %s", v->lo + (v->lo_open ? 1 : 0), unit);
	else if (v->has_hi)
		snprintf(buf, size, "at most %.15g %s", v->hi - (v->hi_open ? 1 : 0), unit);
	else
		snprintf(buf, size, "any number of %s", unit);
}

/* ---- choices: "a b|alias c" ----------------------------------------------------------- */

#define MAX_CHOICES 64

typedef struct choice_list {
	char buf[1024];
	const char *names[MAX_CHOICES]; /* every name, aliases included */
	bool alias[MAX_CHOICES];
	size_t n;
} choice_list;

static void choices_split(const char *choices, choice_list *cl)
{
	size_t used = 0;
	const char *s = choices;

	cl->n = 0;
	while (*s && cl->n < MAX_CHOICES) {
		size_t l;
		bool alias = false;
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		for (;;) {
			l = strcspn(s, " |");
			if (!l || used + l + 1 > sizeof cl->buf || cl->n >= MAX_CHOICES)
				return;
			memcpy(cl->buf + used, s, l);
			cl->buf[used + l] = '\0';
			cl->names[cl->n] = cl->buf + used;
			cl->alias[cl->n++] = alias;
			used += l + 1;
			s += l;
			if (*s != '|')
				break;
			s++;
			alias = true;
		}
	}
}

static bool choices_has(const choice_list *cl, const char *v)
{
	for (size_t k = 0; k < cl->n; k++)
		if (!strcmp(cl->names[k], v))
			return true;
	return false;
}

/* "a, b or c" (without aliases). */
static int choices_words(const choice_list *cl, sl__buf *b)
{
	size_t shown = 0, total = 0;
	int rc = 0;

	for (size_t k = 0; k < cl->n; k++)
		total += !cl->alias[k];
	for (size_t k = 0; k < cl->n && !rc; k++) {
		if (cl->alias[k])
			continue;
		rc = sl__buf_printf(b, "%s%s", shown == 0 ? "" : shown + 1 == total ? " or " : ", ",
				    cl->names[k]);
		shown++;
	}
	return rc;
}

/* ---- the checking context -------------------------------------------------------- */

typedef struct vctx {
	const step_def *def;
	const sl__ypmap *src;
	step_problem *pb;
	sl__buf path;
	int rc;
} vctx;

static int problem(vctx *c, bool at_key, const char *fmt, ...) SL__PRINTF(3, 4);

static int problem(vctx *c, bool at_key, const char *fmt, ...)
{
	va_list ap;

	if (c->rc)
		return c->rc;
	snprintf(c->pb->path, sizeof c->pb->path, "%s", c->path.data ? c->path.data : "");
	c->pb->at_key = at_key;
	c->pb->inner = 0;
	va_start(ap, fmt);
	vsnprintf(c->pb->msg, sizeof c->pb->msg, fmt, ap);
	va_end(ap);
	c->rc = SL_EINVAL;
	return c->rc;
}
#define problem(...) SL__ERR_CODE(problem(__VA_ARGS__))

static int oom(vctx *c)
{
	if (!c->rc) {
		snprintf(c->pb->msg, sizeof c->pb->msg, "out of memory");
		c->pb->path[0] = '\0';
		c->rc = SL_ENOMEM;
	}
	return c->rc;
}

static const char *cpath(const vctx *c)
{
	return c->path.data && c->path.len ? c->path.data : "";
}

/* Pushes a key or index onto the path; returns the length to pop back to. */
static size_t push_key(vctx *c, const char *key)
{
	size_t mark = c->path.len;

	if (sl__ypath_key(&c->path, key))
		oom(c);
	return mark;
}

static size_t push_index(vctx *c, size_t i)
{
	size_t mark = c->path.len;

	if (sl__ypath_index(&c->path, i))
		oom(c);
	return mark;
}

static void pop(vctx *c, size_t mark)
{
	c->path.len = mark;
	if (c->path.data)
		c->path.data[mark] = '\0';
}

/* The literal text of the plain scalar at the current path, or NULL. */
static const char *literal(const vctx *c)
{
	sl__yloc loc;
	const char *p = cpath(c);

	if (c->src && sl__ypmap_find(c->src, p, &loc) == (long)strlen(p))
		return loc.literal;
	return NULL;
}

static const char *type_words(step_opt_type t)
{
	switch (t) {
	case OPT_STRING:
		return "a string";
	case OPT_INT:
		return "an integer";
	case OPT_NUMBER:
		return "a number";
	case OPT_BOOL:
		return "a boolean (true or false)";
	case OPT_LIST:
		return "a sequence";
	case OPT_MAP:
		return "a mapping";
	case OPT_PATH:
		return "a path (a string)";
	case OPT_STRING_LIST:
		return "a string or a sequence of strings";
	case OPT_SCALAR:
		return "a single value (a string, number or boolean)";
	case OPT_EXPR:
		return "an expression (a string)";
	default:
		return "any value";
	}
}


/* "option 'PATH' of STEP", the subject of most messages. */
static const char *subject(const vctx *c, char *buf, size_t size)
{
	snprintf(buf, size, "option '%s' of %s", cpath(c), c->def->name);
	return buf;
}

/* Text of a scalar for a string option: as written when literal, else rendered. */
static json_t *as_text(const vctx *c, const json_t *v)
{
	const char *lit = literal(c);
	char tmp[64];

	if (lit)
		return json_string(lit);
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(tmp, sizeof tmp, "%.*g", prec, json_real_value(v));
			if (strtod(tmp, NULL) == json_real_value(v))
				break;
		}
		break;
	case JSON_TRUE:
		return json_string("true");
	case JSON_FALSE:
		return json_string("false");
	default:
		return NULL;
	}
	return json_string(tmp);
}

/* ---- values ---------------------------------------------------------------------- */

static int check_value(vctx *c, const step_opt *o, json_t **v);
static int check_map(vctx *c, const step_opt *fields, const step_rule *rules, json_t *m,
		     const char *tag);
static int check_variant(vctx *c, const step_opt *o, json_t *m);

static int wrong_type(vctx *c, const step_opt *o, const json_t *v)
{
	char s[400];

	if (json_is_string(v))
		return problem(c, false, "%s must be %s, not '%.100s'", subject(c, s, sizeof s),
			       type_words(o->type), json_string_value(v));
	return problem(c, false, "%s must be %s, not %s", subject(c, s, sizeof s), type_words(o->type),
		       sl__json_kind(v));
}

/* Replaces *v by nv (owned), or fails for out of memory. */
static int replace(vctx *c, json_t **v, json_t *nv)
{
	if (!nv)
		return oom(c);
	json_decref(*v);
	*v = nv;
	return 0;
}

static int check_choice(vctx *c, const step_opt *o, const char *s)
{
	choice_list cl;
	char subj[400], dym[300];
	sl__buf b;
	int rc;

	choices_split(o->choices, &cl);
	if (choices_has(&cl, s))
		return 0;
	sl__buf_init(&b, 0);
	choices_words(&cl, &b);
	sl__did_you_mean(dym, sizeof dym, s, cl.names, cl.n);
	rc = problem(c, false, "%s must be one of %s, not '%.100s'%s%s%s", subject(c, subj, sizeof subj),
		     b.data ? b.data : "", s, dym[0] ? " (" : "", dym, dym[0] ? ")" : "");
	sl__buf_free(&b);
	return rc;
}

static int check_range(vctx *c, const step_opt *o, double x)
{
	char subj[400], words[128], num[64];
	ivl r;

	if (!o->range || !ivl_parse(o->range, &r) || ivl_has(&r, x))
		return 0;
	ivl_words(&r, words, sizeof words);
	snprintf(num, sizeof num, "%.17g", x);
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(num, sizeof num, "%.*g", prec, x);
		if (strtod(num, NULL) == x)
			break;
	}
	return problem(c, false, "%s must be %s, not %s", subject(c, subj, sizeof subj), words, num);
}

static int check_len(vctx *c, const step_opt *o, size_t n, const char *unit)
{
	char subj[400], words[128];
	ivl r;

	if (!o->len || !ivl_parse(o->len, &r) || ivl_has(&r, (double)n))
		return 0;
	len_words(&r, unit, words, sizeof words);
	if (!strcmp(words, "not empty"))
		return problem(c, false, "%s must not be empty", subject(c, subj, sizeof subj));
	return problem(c, false, "%s must have %s, not %zu", subject(c, subj, sizeof subj), words, n);
}

/* An expression's syntax; its error's LINE:COL becomes an inner position. */
static int check_expr(vctx *c, const char *text)
{
	const char *where = cpath(c);
	const char *msg, *p;
	size_t wl = strlen(where);
	long line = 0, col = 0;
	int rc;

	if ((rc = expr_check_syntax(text, where)) == 0)
		return 0;
	if (rc == SL_ENOMEM)
		return oom(c);
	msg = sl_errmsg();
	p = !strncmp(msg, where, wl) ? msg + wl : msg;
	if (sscanf(p, ":%ld:%ld: ", &line, &col) == 2) {
		p = strchr(p + 1, ':');
		p = p ? strchr(p + 1, ':') : NULL;
		p = p ? p + 2 : msg;
	} else {
		p = msg;
	}
	rc = problem(c, false, "%s", p);
	if (line == 1 && col > 0) {
		/* expr counts bytes; positions count characters. */
		size_t chars = 0, off = (size_t)col - 1;
		for (size_t i = 0; i < off && text[i]; i++)
			chars += ((unsigned char)text[i] & 0xC0) != 0x80;
		c->pb->inner = (int)chars + 1;
	}
	return rc;
}

/* Does alternative a accept the kind of value v (before coercion)? */
static bool alt_fits(const step_opt *a, const json_t *v)
{
	switch (a->type) {
	case OPT_STRING:
	case OPT_PATH:
	case OPT_EXPR:
		return json_is_string(v);
	case OPT_INT:
		return json_is_integer(v);
	case OPT_NUMBER:
		return json_is_number(v);
	case OPT_BOOL:
		return json_is_boolean(v);
	case OPT_LIST:
		return json_is_array(v);
	case OPT_MAP:
		return json_is_object(v);
	case OPT_STRING_LIST:
		return json_is_string(v) || json_is_array(v);
	case OPT_SCALAR:
		return !json_is_object(v) && !json_is_array(v);
	default:
		return true;
	}
}

static int check_alts(vctx *c, const step_opt *o, json_t **v)
{
	char subj[400];
	sl__buf b;
	size_t n = 0;
	int rc;

	for (const step_opt *a = o->alts; a->help; a++)
		if (alt_fits(a, *v))
			return check_value(c, a, v);
	for (const step_opt *a = o->alts; a->help; a++)
		n++;
	sl__buf_init(&b, 0);
	for (size_t k = 0; k < n; k++)
		sl__buf_printf(&b, "%s%s", k == 0 ? "" : k + 1 == n ? " or " : ", ", o->alts[k].help);
	rc = problem(c, false, "%s must be %s, not %s", subject(c, subj, sizeof subj),
		     b.data ? b.data : "", sl__json_kind(*v));
	sl__buf_free(&b);
	return rc;
}

static int check_items(vctx *c, const step_opt *o, json_t *arr)
{
	size_t k;
	json_t *it;

	json_array_foreach (arr, k, it) {
		size_t mark = push_index(c, k);
		json_t *nv = json_incref(it);
		if (c->rc || check_value(c, o->item, &nv)) {
			json_decref(nv);
			return c->rc;
		}
		if (nv != it && json_array_set_new(arr, k, nv))
			return oom(c);
		if (nv == it)
			json_decref(nv);
		pop(c, mark);
	}
	return 0;
}

static int check_unique(vctx *c, json_t *arr)
{
	size_t n = json_array_size(arr);

	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (json_equal(json_array_get(arr, i), json_array_get(arr, j))) {
				size_t mark = push_index(c, i);
				const json_t *x = json_array_get(arr, i);
				int rc = json_is_string(x)
						 ? problem(c, false, "'%.100s' is listed twice (items %zu and %zu)",
							   json_string_value(x), j, i)
						 : problem(c, false, "item %zu repeats item %zu", i, j);
				pop(c, mark);
				return rc;
			}
	return 0;
}

/*
 * Coerces *v (owned; may be replaced) to o's type and checks its
 * constraints. A JSON null is "not set" and passes (the caller decides
 * about required options), except where a string with choices lists the
 * null's literal text ("on_error: null").
 */
static int check_value(vctx *c, const step_opt *o, json_t **v)
{
	json_t *j = *v;
	char subj[400];
	const char *lit;

	if (c->rc)
		return c->rc;
	if (o->alts && !json_is_null(j))
		return check_alts(c, o, v);
	if (json_is_null(j)) {
		choice_list cl;
		if (o->type != OPT_STRING || !o->choices || !(lit = literal(c)))
			return 0;
		choices_split(o->choices, &cl);
		if (!choices_has(&cl, lit))
			return 0;
		return replace(c, v, json_string(lit));
	}
	switch (o->type) {
	case OPT_ANY:
		return 0;
	case OPT_STRING:
	case OPT_EXPR:
		if (!json_is_string(j)) {
			if (json_is_object(j) || json_is_array(j))
				return wrong_type(c, o, j);
			if (replace(c, v, as_text(c, j)))
				return c->rc;
			j = *v;
		}
		if (o->choices && check_choice(c, o, json_string_value(j)))
			return c->rc;
		if (check_len(c, o, json_string_length(j), "characters"))
			return c->rc;
		if (o->type == OPT_EXPR && check_expr(c, json_string_value(j)))
			return c->rc;
		return 0;
	case OPT_PATH:
		if (!json_is_string(j))
			return wrong_type(c, o, j);
		if (!*json_string_value(j))
			return problem(c, false, "%s must not be empty", subject(c, subj, sizeof subj));
		return 0;
	case OPT_INT:
		if (json_is_real(j)) {
			double d = json_real_value(j);
			if (!(d == floor(d) && d >= -9.2e18 && d <= 9.2e18))
				return wrong_type(c, o, j);
			if (replace(c, v, json_integer((json_int_t)d)))
				return c->rc;
		} else if (json_is_string(j)) {
			sl__ynode r;
			memset(&r, 0, sizeof r);
			if (sl__yaml_resolve(json_string_value(j), &r) || r.kind != SL__Y_INT)
				return wrong_type(c, o, j);
			if (replace(c, v, json_integer((json_int_t)r.i)))
				return c->rc;
		} else if (!json_is_integer(j)) {
			return wrong_type(c, o, j);
		}
		return check_range(c, o, (double)json_integer_value(*v));
	case OPT_NUMBER:
		/* Always a real, so that 5 and 5.0 give the same cache key. */
		if (json_is_integer(j)) {
			if (replace(c, v, json_real((double)json_integer_value(j))))
				return c->rc;
		} else if (json_is_string(j)) {
			sl__ynode r;
			memset(&r, 0, sizeof r);
			if (sl__yaml_resolve(json_string_value(j), &r) ||
			    (r.kind != SL__Y_INT && r.kind != SL__Y_FLOAT) || !isfinite(r.d))
				return wrong_type(c, o, j);
			if (replace(c, v, json_real(r.d)))
				return c->rc;
		} else if (!json_is_real(j)) {
			return wrong_type(c, o, j);
		}
		return check_range(c, o, json_real_value(*v));
	case OPT_BOOL:
		if (json_is_string(j)) {
			sl__ynode r;
			memset(&r, 0, sizeof r);
			if (sl__yaml_resolve(json_string_value(j), &r) || r.kind != SL__Y_BOOL)
				return wrong_type(c, o, j);
			return replace(c, v, json_boolean(r.b));
		}
		return json_is_boolean(j) ? 0 : wrong_type(c, o, j);
	case OPT_SCALAR:
		return json_is_object(j) || json_is_array(j) ? wrong_type(c, o, j) : 0;
	case OPT_STRING_LIST:
		if (json_is_string(j)) {
			if (o->item && check_value(c, o->item, v))
				return c->rc;
			return check_len(c, o, 1, "items");
		}
		if (!json_is_array(j))
			return wrong_type(c, o, j);
		for (size_t k = 0; k < json_array_size(j); k++) {
			json_t *it = json_array_get(j, k);
			size_t mark = push_index(c, k);
			if (c->rc)
				return c->rc;
			if (!json_is_string(it)) {
				/* A plain number, boolean or null keeps its text. */
				const char *l = json_is_object(it) || json_is_array(it) ? NULL : literal(c);
				if (!l) {
					char whole[300];
					size_t at = mark;
					/* The subject is the list; the position, the item. */
					snprintf(whole, sizeof whole, "%.*s", (int)at, cpath(c));
					return problem(c, false, "option '%s' of %s must be %s; item %zu is %s",
						       whole, c->def->name, type_words(o->type), k,
						       sl__json_kind(it));
				}
				if (json_array_set_new(j, k, json_string(l)))
					return oom(c);
			}
			pop(c, mark);
		}
		if (check_len(c, o, json_array_size(j), "items"))
			return c->rc;
		if (o->item && check_items(c, o, j))
			return c->rc;
		return o->unique ? check_unique(c, j) : 0;
	case OPT_LIST:
		if (!json_is_array(j))
			return wrong_type(c, o, j);
		if (check_len(c, o, json_array_size(j), "items"))
			return c->rc;
		if (o->item && check_items(c, o, j))
			return c->rc;
		return o->unique ? check_unique(c, j) : 0;
	case OPT_MAP:
		if (!json_is_object(j))
			return wrong_type(c, o, j);
		if (check_len(c, o, json_object_size(j), "entries"))
			return c->rc;
		if (o->variants)
			return check_variant(c, o, j);
		if (o->fields)
			return check_map(c, o->fields, o->rules, j, NULL);
		if (o->item) {
			const char *key;
			json_t *x;
			void *it;
			for (it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
				size_t mark;
				json_t *nv;
				key = json_object_iter_key(it);
				x = json_object_iter_value(it);
				mark = push_key(c, key);
				nv = json_incref(x);
				if (c->rc || check_value(c, o->item, &nv)) {
					json_decref(nv);
					return c->rc;
				}
				if (nv != x && json_object_iter_set_new(j, it, nv))
					return oom(c);
				if (nv == x)
					json_decref(nv);
				pop(c, mark);
			}
		}
		return 0;
	}
	return 0;
}

/* ---- mappings, rules and variants ---------------------------------------------- */

static const step_opt *find_field(const step_opt *fields, const char *name)
{
	for (const step_opt *f = fields; f && f->name; f++)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

static bool given(const json_t *m, const char *name)
{
	const json_t *v = json_object_get(m, name);

	return v && !json_is_null(v);
}

/* The value of name for a `when` test: given, else the default's text. */
static bool value_is(const json_t *m, const step_opt *fields, const char *name, const char *vals)
{
	const json_t *v = json_object_get(m, name);
	const char *s = NULL;
	char tmp[64];
	choice_list cl;

	if (v && !json_is_null(v)) {
		if (json_is_string(v))
			s = json_string_value(v);
		else if (json_is_boolean(v))
			s = json_is_true(v) ? "true" : "false";
		else if (json_is_integer(v))
			snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v)), s = tmp;
	} else {
		const step_opt *f = find_field(fields, name);
		s = f ? f->def : NULL;
	}
	if (!s)
		return false;
	choices_split(vals, &cl);
	return choices_has(&cl, s);
}

/* Splits space-separated names into out (pointers into buf). */
static size_t split_names(const char *names, char *buf, size_t size, const char **out, size_t max)
{
	size_t n = 0;

	snprintf(buf, size, "%s", names);
	for (char *s = strtok(buf, " "); s && n < max; s = strtok(NULL, " "))
		out[n++] = s;
	return n;
}

/* "a, b or c" of names. */
static void names_words(const char *const *names, size_t n, const char *last, char *buf,
			size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < n && used < size; k++)
		used += (size_t)snprintf(buf + used, size - used, "%s'%s'",
					 k == 0 ? "" : k + 1 == n ? last : ", ", names[k]);
}

/* Records a rule's problem at key (NULL: the mapping itself), with its why. */
static int rule_problem(vctx *c, const char *key, bool at_key, const char *msg, const char *why)
{
	size_t mark = key ? push_key(c, key) : c->path.len;
	int rc = problem(c, at_key, "%s%s%s%s", msg, why ? " (" : "", why ? why : "", why ? ")" : "");

	pop(c, mark);
	return rc;
}

static int check_rules(vctx *c, const step_opt *fields, const step_rule *rules, const json_t *m)
{
	for (const step_rule *r = rules; r && r->kind != RULE_END; r++) {
		char buf[256], wbuf[128], words[300], cond[160], msg[600];
		const char *names[16], *when = NULL, *vals = NULL;
		size_t n = split_names(r->names, buf, sizeof buf, names, SL__ARRAY_LEN(names));
		size_t count = 0, first = 0, second = 0;
		bool holds = true;

		for (size_t k = 0; k < n; k++) {
			if (!given(m, names[k]))
				continue;
			if (count == 0)
				first = k;
			else if (count == 1)
				second = k;
			count++;
		}
		cond[0] = '\0';
		if (r->when) {
			char *eq;
			snprintf(wbuf, sizeof wbuf, "%s", r->when);
			when = wbuf;
			if ((eq = strchr(wbuf, '='))) {
				const char *now;
				*eq = '\0';
				vals = eq + 1;
				holds = value_is(m, fields, when, vals);
				now = json_string_value(json_object_get(m, when));
				if (!now) {
					const step_opt *f = find_field(fields, when);
					now = f && f->def ? f->def : vals;
				}
				snprintf(cond, sizeof cond, "%s %s", when, now);
			} else {
				holds = given(m, when);
				snprintf(cond, sizeof cond, "'%s'", when);
			}
		}
		switch (r->kind) {
		case RULE_ONE_OF:
		case RULE_ANY_OF:
			if (count == 0) {
				names_words(names, n, " or ", words, sizeof words);
				snprintf(msg, sizeof msg, "give %s%s",
					 r->kind == RULE_ONE_OF ? "one of " : "at least one of ", words);
				return rule_problem(c, NULL, false, msg, r->why);
			}
			if (r->kind == RULE_ANY_OF)
				break;
			/* A ONE_OF is also EXCLUSIVE. */
			__attribute__((fallthrough));
		case RULE_EXCLUSIVE:
			if (count > 1) {
				names_words(names, n, " and ", words, sizeof words);
				snprintf(msg, sizeof msg, "'%s' cannot be given with '%s' (give only one of %s%s%s)",
					 names[second], names[first], words, r->why ? ": " : "",
					 r->why ? r->why : "");
				return rule_problem(c, names[second], true, msg, NULL);
			}
			break;
		case RULE_REQUIRES:
			for (size_t k = 0; holds && k < n; k++) {
				if (given(m, names[k]))
					continue;
				if (vals)
					snprintf(msg, sizeof msg, "%s needs option '%s'", cond, names[k]);
				else if (when)
					snprintf(msg, sizeof msg, "%s needs option '%s' too", cond, names[k]);
				else
					snprintf(msg, sizeof msg, "option '%s' is required", names[k]);
				/* Point at the option that asks for it, when it is written. */
				return rule_problem(c, when && given(m, when) ? when : NULL, false, msg,
						    r->why);
			}
			break;
		case RULE_FORBIDS:
			for (size_t k = 0; holds && k < n; k++) {
				if (!given(m, names[k]))
					continue;
				if (vals)
					snprintf(msg, sizeof msg, "'%s' cannot be given with %s", names[k], cond);
				else if (when)
					snprintf(msg, sizeof msg, "'%s' cannot be given with %s", names[k], cond);
				else
					snprintf(msg, sizeof msg, "'%s' cannot be given here", names[k]);
				return rule_problem(c, names[k], true, msg, r->why);
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

/* "its options: a, b, c" for unknown-key messages. */
static void field_list(const step_opt *fields, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const step_opt *f = fields; f && f->name && used < size; f++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", f == fields ? "" : ", ",
					 f->name);
}

/*
 * An unknown key of mapping m (at the current path), named with the mapping:
 * "for STEP" at the top, "in PATH of STEP" below, "in op NAME (PATH) of
 * STEP" for a tagged mapping. Formatted only here, off the common path.
 */
static int unknown_key(vctx *c, const step_opt *fields, const char *key, const json_t *m,
		       const char *tag)
{
	const char *names[128];
	size_t n = 0;
	char dym[300], list[600], what[400];
	const char *tv = tag ? json_string_value(json_object_get(m, tag)) : NULL;
	size_t mark;
	int rc;

	if (tv)
		snprintf(what, sizeof what, "in %s %s (%s) of %s", tag, tv, cpath(c), c->def->name);
	else if (c->path.len)
		snprintf(what, sizeof what, "in %s of %s", cpath(c), c->def->name);
	else
		snprintf(what, sizeof what, "for %s", c->def->name);
	mark = push_key(c, key);
	for (const step_opt *f = fields; f && f->name && n < SL__ARRAY_LEN(names); f++)
		names[n++] = f->name;
	sl__did_you_mean(dym, sizeof dym, key, names, n);
	field_list(fields, list, sizeof list);
	if (dym[0])
		rc = problem(c, true, "unknown option '%.100s' %s (%s)", key, what, dym);
	else
		rc = problem(c, true, "unknown option '%.100s' %s (its options: %s)", key, what,
			     list[0] ? list : "none");
	pop(c, mark);
	return rc;
}

/* Finds a variant by name or alias. */
static const step_variant *find_variant(const step_variant *vs, const char *name)
{
	for (const step_variant *v = vs; v->name; v++) {
		choice_list cl;
		choices_split(v->name, &cl);
		if (choices_has(&cl, name))
			return v;
	}
	return NULL;
}

/* Every variant's name and aliases, as a choice list (for messages). */
static void variant_names(const step_variant *vs, choice_list *cl)
{
	char all[sizeof cl->buf];
	size_t used = 0;

	all[0] = '\0';
	for (const step_variant *v = vs; v->name && used < sizeof all; v++)
		used += (size_t)snprintf(all + used, sizeof all - used, "%s%s", used ? " " : "",
					 v->name);
	choices_split(all, cl);
}

/* "unknown op 'x'; did you mean 'y'? (one of a, b or c)" at the current path. */
static int unknown_variant(vctx *c, const step_opt *o, const char *name, bool at_key)
{
	choice_list cl;
	char dym[300];
	sl__buf list;
	int rc;

	variant_names(o->variants, &cl);
	sl__did_you_mean(dym, sizeof dym, name, cl.names, cl.n);
	sl__buf_init(&list, 0);
	choices_words(&cl, &list);
	rc = problem(c, at_key, "unknown %s '%.100s'%s%s (one of %s)", o->tag, name, dym[0] ? "; " : "",
		     dym, list.data ? list.data : "");
	sl__buf_free(&list);
	return rc;
}

/*
 * A tagged mapping: {TAG: NAME, ...} or the short form {NAME: VALUE}
 * picks its variant, which is then checked as a mapping.
 */
static int check_variant(vctx *c, const step_opt *o, json_t *m)
{
	const char *tag = o->tag;
	const json_t *tv = json_object_get(m, tag);
	const step_variant *var;
	size_t mark;
	int rc;

	if (tv) {
		var = json_is_string(tv) ? find_variant(o->variants, json_string_value(tv)) : NULL;
		if (var)
			return check_map(c, var->fields, var->rules, m, tag);
		mark = push_key(c, tag);
		if (!json_is_string(tv))
			rc = problem(c, false, "'%s' must name %s, not %s", tag,
				     o->help ? o->help : "a variant", sl__json_kind(tv));
		else
			rc = unknown_variant(c, o, json_string_value(tv), false);
		pop(c, mark);
		return rc;
	}
	if (json_object_size(m) == 1) {
		void *it = json_object_iter(m);
		const char *key = json_object_iter_key(it);
		json_t *x = json_object_iter_value(it), *nv;
		const step_opt *f;

		mark = push_key(c, key);
		if (!(var = find_variant(o->variants, key)) || !var->shorthand) {
			rc = var ? problem(c, true, "%s %s has no short form; write {%s: %s, ...}", tag, key,
					   tag, key)
				 : unknown_variant(c, o, key, true);
			pop(c, mark);
			return rc;
		}
		/* The short form sets the variant's main option. */
		f = find_field(var->fields, var->shorthand);
		nv = json_incref(x);
		if (check_value(c, f, &nv) ||
		    (json_is_null(nv) && problem(c, false, "%s %s needs a value (%s)", tag, key,
						  f->help ? f->help : type_words(f->type)))) {
			json_decref(nv);
			return c->rc;
		}
		if (nv != x && json_object_iter_set_new(m, it, nv))
			return oom(c);
		if (nv == x)
			json_decref(nv);
		pop(c, mark);
		/* Any other required option needs the long form. */
		for (const step_opt *g = var->fields; g && g->name; g++)
			if (g->required && g != f)
				return problem(c, false, "%s %s needs option '%s' (%s); use the long form "
							 "{%s: %s, %s: ...}",
					       tag, key, g->name, g->help ? g->help : "", tag, key, g->name);
		return 0;
	}
	return problem(c, false, "missing '%s': name %s as {%s: NAME, ...}", tag,
		       o->help ? o->help : "the variant", tag);
}

/*
 * Checks mapping m against fields and rules (steps 1-3 of the file
 * comment). tag, for a tagged mapping, is the key naming its variant: not
 * a field, and named in messages.
 */
static int check_map(vctx *c, const step_opt *fields, const step_rule *rules, json_t *m,
		     const char *tag)
{
	char subj[400];
	void *it;

	if (c->rc)
		return c->rc;
	for (it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
		const char *key = json_object_iter_key(it);
		json_t *x = json_object_iter_value(it), *nv;
		const step_opt *f = find_field(fields, key);
		size_t mark;

		if (!f) {
			if (tag && !strcmp(key, tag))
				continue;
			return unknown_key(c, fields, key, m, tag);
		}
		mark = push_key(c, key);
		nv = json_incref(x);
		if (c->rc || check_value(c, f, &nv)) {
			json_decref(nv);
			return c->rc;
		}
		if (json_is_null(nv) && f->required) {
			json_decref(nv);
			return problem(c, false, "%s is required and cannot be null",
				       subject(c, subj, sizeof subj));
		}
		if (nv != x && json_object_iter_set_new(m, it, nv))
			return oom(c);
		if (nv == x)
			json_decref(nv);
		pop(c, mark);
	}
	for (const step_opt *f = fields; f && f->name; f++) {
		if (!f->required || given(m, f->name))
			continue;
		if (c->path.len)
			return problem(c, false, "%s needs option '%s' (%s)", cpath(c), f->name,
				       f->help ? f->help : type_words(f->type));
		return problem(c, false, "missing required option '%s' of %s (%s)", f->name,
			       c->def->name, f->help ? f->help : type_words(f->type));
	}
	return check_rules(c, fields, rules, m);
}

/* ---- the top level ------------------------------------------------------------------ */

/* The option's default (YAML text in the step's table) as checked JSON. */
static int default_value(vctx *c, const step_opt *o, json_t **out)
{
	sl__ydoc *d = NULL;
	sl__yaml_opts yo;
	int rc;

	*out = NULL;
	memset(&yo, 0, sizeof yo);
	yo.name = o->name;
	if ((rc = sl__yaml_parse(o->def, strlen(o->def), &yo, &d)) == 0) {
		if (!sl__ydoc_root(d))
			*out = json_null();
		else if (sl__yaml_json(d, sl__ydoc_root(d), NULL, out))
			rc = sl__ydoc_raise(d);
	}
	sl__ydoc_free(d);
	if (rc == SL_ENOMEM || (!rc && !*out))
		return oom(c);
	if (rc)
		return problem(c, false, "built-in step %s has a bad default for option '%s': %s",
			       c->def->name, o->name, sl_errmsg());
	if (check_value(c, o, out)) {
		char msg[sizeof c->pb->msg];
		snprintf(msg, sizeof msg, "%s", c->pb->msg);
		snprintf(c->pb->msg, sizeof c->pb->msg,
			 "built-in step %s has a bad default for option '%s': %s", c->def->name,
			 o->name, msg);
		json_decref(*out);
		*out = NULL;
		return c->rc;
	}
	return 0;
}

int (step_check_fail)(const step_check *c, const char *path, const char *fmt, ...)
{
	va_list ap;

	snprintf(c->problem->path, sizeof c->problem->path, "%s", path ? path : "");
	c->problem->at_key = false;
	c->problem->inner = 0;
	va_start(ap, fmt);
	vsnprintf(c->problem->msg, sizeof c->problem->msg, fmt, ap);
	va_end(ap);
	return SL_EINVAL;
}

bool step_check_has_input(const step_check *c, const char *name)
{
	for (size_t i = 0; i < c->n_inputs; i++)
		if (!strcmp(c->inputs[i], name))
			return true;
	return false;
}

int step_opts_check(const step_def *def, json_t *with, const sl__ypmap *src,
		    const char *const *inputs, size_t n_inputs, step_problem *pb)
{
	vctx c;
	const char *key;
	json_t *v;
	void *tmp;

	memset(pb, 0, sizeof *pb);
	if (!def || !json_is_object(with)) {
		snprintf(pb->msg, sizeof pb->msg, "the options must be a mapping");
		return SL_EINVAL;
	}
	memset(&c, 0, sizeof c);
	c.def = def;
	c.src = src;
	c.pb = pb;
	sl__buf_init(&c.path, 4096);
	if (check_map(&c, def->opts, def->rules, with, NULL))
		goto out;
	/* An explicit null means "not set": the default applies. */
	json_object_foreach_safe (with, tmp, key, v)
		if (json_is_null(v))
			json_object_del(with, key);
	for (const step_opt *o = def->opts; o && o->name; o++) {
		json_t *d;
		size_t mark;
		if (json_object_get(with, o->name) || !o->def)
			continue;
		mark = push_key(&c, o->name);
		if (c.rc || default_value(&c, o, &d))
			goto out;
		pop(&c, mark);
		if (json_is_null(d)) {
			json_decref(d);
			continue;
		}
		if (json_object_set_new(with, o->name, d)) {
			oom(&c);
			goto out;
		}
	}
	if (def->check) {
		step_check ck = {def, with, inputs, n_inputs, pb};
		int rc = def->check(&ck);
		if (rc)
			c.rc = rc == SL_ENOMEM ? oom(&c) : SL_EINVAL;
	}
out:
	sl__buf_free(&c.path);
	return c.rc;
}

/* ---- describing the schema ------------------------------------------------------------- */

static const char *const type_names[] = {
	[OPT_STRING] = "string",  [OPT_INT] = "int",       [OPT_NUMBER] = "number",
	[OPT_BOOL] = "bool",      [OPT_LIST] = "list",     [OPT_MAP] = "map",
	[OPT_ANY] = "any",        [OPT_PATH] = "path",     [OPT_STRING_LIST] = "string or list",
	[OPT_SCALAR] = "scalar",  [OPT_EXPR] = "expression",
};

int step_opt_describe(const step_opt *o, sl__buf *b)
{
	size_t start = b->len;
	char words[160];
	int rc = 0;
	ivl r;

#define SEP() (b->len > start ? "; " : "")
	if (o->choices) {
		choice_list cl;
		choices_split(o->choices, &cl);
		rc = sl__buf_printf(b, "%sone of ", SEP());
		if (!rc)
			rc = choices_words(&cl, b);
	}
	if (!rc && o->range && ivl_parse(o->range, &r)) {
		ivl_words(&r, words, sizeof words);
		rc = sl__buf_printf(b, "%s%s", SEP(), words);
	}
	if (!rc && o->len && ivl_parse(o->len, &r)) {
		len_words(&r, o->type == OPT_STRING || o->type == OPT_PATH || o->type == OPT_EXPR
				      ? "characters"
			  : o->type == OPT_MAP ? "entries"
					       : "items",
			  words, sizeof words);
		rc = sl__buf_printf(b, "%s%s", SEP(), words);
	}
	if (!rc && o->unique)
		rc = sl__buf_printf(b, "%sno item twice", SEP());
	if (!rc && o->columns_of)
		rc = sl__buf_printf(b, "%s%s of input '%s'", SEP(),
				    o->type == OPT_STRING ? "a column" : "columns", o->columns_of);
	if (!rc && o->item && !o->item->fields && !o->item->variants &&
	    (o->type == OPT_LIST || o->type == OPT_STRING_LIST || o->type == OPT_MAP)) {
		size_t mark = b->len;
		rc = sl__buf_printf(b, "%seach %s %s", SEP(), o->type == OPT_MAP ? "value" : "item",
				    type_names[o->item->type]);
		if (!rc) {
			size_t before = b->len;
			rc = sl__buf_puts(b, " ");
			if (!rc)
				rc = step_opt_describe(o->item, b);
			if (!rc && b->len == before + 1) {
				b->len = before;
				b->data[before] = '\0';
			}
		}
		(void)mark;
	}
	if (!rc && o->alts) {
		size_t n = 0;
		for (const step_opt *a = o->alts; a->help; a++)
			n++;
		for (size_t k = 0; k < n && !rc; k++)
			rc = sl__buf_printf(b, "%s%s", k == 0 ? SEP() : k + 1 == n ? " or " : ", ",
					    o->alts[k].help);
	}
#undef SEP
	return rc;
}

static json_t *rules_json(const step_rule *rules)
{
	static const char *const kinds[] = {
		[RULE_ONE_OF] = "one_of",       [RULE_ANY_OF] = "any_of",
		[RULE_EXCLUSIVE] = "exclusive", [RULE_REQUIRES] = "requires",
		[RULE_FORBIDS] = "forbids",
	};
	json_t *a = json_array();

	for (const step_rule *r = rules; a && r && r->kind != RULE_END; r++) {
		char buf[256];
		const char *names[16];
		size_t n = split_names(r->names, buf, sizeof buf, names, SL__ARRAY_LEN(names));
		json_t *o = json_object(), *l = json_array();
		for (size_t k = 0; l && k < n; k++)
			json_array_append_new(l, json_string(names[k]));
		if (!o || !l || json_object_set_new(o, "kind", json_string(kinds[r->kind])) ||
		    json_object_set_new(o, "options", l) ||
		    (r->when && json_object_set_new(o, "when", json_string(r->when))) ||
		    (r->why && json_object_set_new(o, "why", json_string(r->why))) ||
		    json_array_append_new(a, o)) {
			json_decref(o);
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *opts_json(const step_opt *opts, int depth);

static json_t *opt_json(const step_opt *o, int depth)
{
	json_t *j = json_object();
	sl__buf b;
	int bad = 0;

	if (!j || depth > 8)
		return j;
	if (o->name)
		bad |= json_object_set_new(j, "name", json_string(o->name));
	bad |= json_object_set_new(j, "type", json_string(type_names[o->type]));
	bad |= json_object_set_new(j, "required", json_boolean(o->required));
	if (o->def)
		bad |= json_object_set_new(j, "default", json_string(o->def));
	if (o->help)
		bad |= json_object_set_new(j, "help", json_string(o->help));
	if (o->choices) {
		choice_list cl;
		json_t *l = json_array(), *al = json_object();
		choices_split(o->choices, &cl);
		for (size_t k = 0; l && al && k < cl.n; k++) {
			if (!cl.alias[k]) {
				json_array_append_new(l, json_string(cl.names[k]));
				continue;
			}
			/* An alias stands for the nearest name before it. */
			size_t q = k;
			while (q > 0 && cl.alias[q])
				q--;
			json_object_set_new(al, cl.names[k], json_string(cl.names[q]));
		}
		bad |= json_object_set_new(j, "choices", l);
		if (json_object_size(al))
			bad |= json_object_set_new(j, "aliases", al);
		else
			json_decref(al);
	}
	if (o->range)
		bad |= json_object_set_new(j, "range", json_string(o->range));
	if (o->len)
		bad |= json_object_set_new(j, "length", json_string(o->len));
	if (o->unique)
		bad |= json_object_set_new(j, "unique", json_true());
	sl__buf_init(&b, 0);
	if (step_opt_describe(o, &b) == 0 && b.len)
		bad |= json_object_set_new(j, "constraints", json_string(b.data));
	sl__buf_free(&b);
	if (o->item)
		bad |= json_object_set_new(j, "items", opt_json(o->item, depth + 1));
	if (o->fields)
		bad |= json_object_set_new(j, "fields", opts_json(o->fields, depth + 1));
	if (o->rules)
		bad |= json_object_set_new(j, "rules", rules_json(o->rules));
	if (o->alts) {
		json_t *l = json_array();
		for (const step_opt *a = o->alts; l && a->help; a++)
			json_array_append_new(l, opt_json(a, depth + 1));
		bad |= json_object_set_new(j, "alternatives", l);
	}
	if (o->variants) {
		json_t *l = json_array();
		bad |= json_object_set_new(j, "tag", json_string(o->tag));
		for (const step_variant *v = o->variants; l && v->name; v++) {
			json_t *vj = json_object();
			choice_list cl;
			choices_split(v->name, &cl);
			if (!vj)
				continue;
			json_object_set_new(vj, "name", json_string(cl.n ? cl.names[0] : v->name));
			if (cl.n > 1) {
				json_t *al = json_array();
				for (size_t k = 1; al && k < cl.n; k++)
					json_array_append_new(al, json_string(cl.names[k]));
				json_object_set_new(vj, "aliases", al);
			}
			if (v->shorthand)
				json_object_set_new(vj, "shorthand", json_string(v->shorthand));
			if (v->help)
				json_object_set_new(vj, "help", json_string(v->help));
			json_object_set_new(vj, "fields", opts_json(v->fields, depth + 1));
			if (v->rules)
				json_object_set_new(vj, "rules", rules_json(v->rules));
			json_array_append_new(l, vj);
		}
		bad |= json_object_set_new(j, "variants", l);
	}
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *opts_json(const step_opt *opts, int depth)
{
	json_t *a = json_array();

	for (const step_opt *o = opts; a && o && o->name; o++) {
		json_t *j = opt_json(o, depth);
		if (!j || json_array_append_new(a, j)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int step_def_json(const step_def *d, json_t **out)
{
	json_t *j = json_object(), *ins = json_array(), *outs = json_array();
	int bad = !j || !ins || !outs;

	*out = NULL;
	for (const step_port *q = d->inputs; !bad && q && q->name; q++)
		bad |= json_array_append_new(ins, json_pack("{s:s, s:s, s:b, s:s?}", "name", q->name,
							    "type", q->type, "optional", q->optional,
							    "help", q->help));
	for (const step_port *q = d->outputs; !bad && q && q->name; q++)
		bad |= json_array_append_new(outs, json_pack("{s:s, s:s, s:s?}", "name", q->name,
							     "type", q->type, "help", q->help));
	if (!bad) {
		bad |= json_object_set_new(j, "name", json_string(d->name));
		bad |= json_object_set_new(j, "version", json_integer(d->version));
		if (d->summary)
			bad |= json_object_set_new(j, "summary", json_string(d->summary));
		bad |= json_object_set_new(j, "options", opts_json(d->opts, 0));
		if (d->rules)
			bad |= json_object_set_new(j, "rules", rules_json(d->rules));
		bad |= json_object_set_new(j, "inputs", ins);
		bad |= json_object_set_new(j, "outputs", outs);
		ins = outs = NULL;
	}
	json_decref(ins);
	json_decref(outs);
	if (bad) {
		json_decref(j);
		return sl__err(SL_ENOMEM, "out of memory");
	}
	*out = j;
	return 0;
}

/* ---- checking the tables themselves ------------------------------------------------------ */

typedef struct lint {
	const step_def *def;
	char *msg;
	size_t size;
} lint;

static int lint_fail(lint *l, const char *where, const char *fmt, ...) SL__PRINTF(3, 4);

static int lint_fail(lint *l, const char *where, const char *fmt, ...)
{
	char m[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	snprintf(l->msg, l->size, "%s: %s: %s", l->def->name, where, m);
	return SL_EINVAL;
}

static int lint_opt(lint *l, const step_opt *o, const char *where, int depth);

static int lint_fields(lint *l, const step_opt *fields, const step_rule *rules, const char *where,
		       int depth)
{
	for (const step_opt *f = fields; f && f->name; f++) {
		char w[300];
		snprintf(w, sizeof w, "%s%s%s", where, *where ? "." : "", f->name);
		if (!f->help)
			return lint_fail(l, w, "no help text");
		for (const step_opt *g = fields; g < f; g++)
			if (!strcmp(g->name, f->name))
				return lint_fail(l, w, "listed twice");
		if (lint_opt(l, f, w, depth + 1))
			return SL_EINVAL;
	}
	for (const step_rule *r = rules; r && r->kind != RULE_END; r++) {
		char buf[256], wbuf[128];
		const char *names[16];
		size_t n = split_names(r->names ? r->names : "", buf, sizeof buf, names, 16);
		if (r->kind < RULE_ONE_OF || r->kind > RULE_FORBIDS || n == 0)
			return lint_fail(l, where, "a rule without a kind or names");
		for (size_t k = 0; k < n; k++)
			if (!find_field(fields, names[k]))
				return lint_fail(l, where, "a rule names '%s', which is not an option", names[k]);
		if ((r->kind == RULE_REQUIRES || r->kind == RULE_FORBIDS) && r->when) {
			const step_opt *f;
			char *eq;
			snprintf(wbuf, sizeof wbuf, "%s", r->when);
			if ((eq = strchr(wbuf, '=')))
				*eq++ = '\0';
			if (!(f = find_field(fields, wbuf)))
				return lint_fail(l, where, "a rule's when names '%s', which is not an option",
						 wbuf);
			if (eq && f->choices) {
				choice_list cl, want;
				choices_split(f->choices, &cl);
				choices_split(eq, &want);
				for (size_t k = 0; k < want.n; k++)
					if (!choices_has(&cl, want.names[k]))
						return lint_fail(l, where, "a rule's when value '%s' is not a "
									   "choice of '%s'",
								 want.names[k], wbuf);
			}
		}
	}
	return 0;
}

static int lint_opt(lint *l, const step_opt *o, const char *where, int depth)
{
	ivl r;

	if (depth > 8)
		return lint_fail(l, where, "nested too deeply");
	if (o->range && (!ivl_parse(o->range, &r) || (o->type != OPT_INT && o->type != OPT_NUMBER)))
		return lint_fail(l, where, "bad range '%s' (or not a number)", o->range);
	if (o->len && !ivl_parse(o->len, &r))
		return lint_fail(l, where, "bad len '%s'", o->len);
	if (o->choices) {
		choice_list cl;
		if (o->type != OPT_STRING)
			return lint_fail(l, where, "choices on a non-string option");
		choices_split(o->choices, &cl);
		if (!cl.n || cl.alias[0])
			return lint_fail(l, where, "bad choices '%s'", o->choices);
	}
	if (o->item && lint_opt(l, o->item, where, depth + 1))
		return SL_EINVAL;
	if (o->columns_of) {
		const step_port *p = l->def->inputs;
		while (p && p->name && strcmp(p->name, o->columns_of))
			p++;
		if (depth != 1 || (o->type != OPT_STRING && o->type != OPT_STRING_LIST))
			return lint_fail(l, where, "columns_of on an option that is not a top-level "
						   "string or string list");
		if (!p || !p->name || strcmp(p->type, "dataset"))
			return lint_fail(l, where, "columns_of names '%s', which is not a dataset input",
					 o->columns_of);
	}
	if ((o->fields || o->variants) && o->type != OPT_MAP)
		return lint_fail(l, where, "fields or variants on a non-mapping");
	if (o->fields && lint_fields(l, o->fields, o->rules, where, depth))
		return SL_EINVAL;
	if (o->variants) {
		if (!o->tag)
			return lint_fail(l, where, "variants without a tag");
		for (const step_variant *v = o->variants; v->name; v++) {
			char w[300];
			snprintf(w, sizeof w, "%s(%s)", where, v->name);
			if (!v->help)
				return lint_fail(l, w, "no help text");
			if (v->shorthand && !find_field(v->fields, v->shorthand))
				return lint_fail(l, w, "shorthand '%s' is not an option", v->shorthand);
			for (const step_variant *u = o->variants; u < v; u++) {
				choice_list a, b;
				choices_split(u->name, &a);
				choices_split(v->name, &b);
				for (size_t k = 0; k < b.n; k++)
					if (choices_has(&a, b.names[k]))
						return lint_fail(l, w, "name '%s' used twice", b.names[k]);
			}
			if (lint_fields(l, v->fields, v->rules, w, depth))
				return SL_EINVAL;
		}
	}
	for (const step_opt *a = o->alts; a && a->help; a++)
		if (lint_opt(l, a, where, depth + 1))
			return SL_EINVAL;
	if (o->def) {
		/* The default must pass the option's own checks. */
		vctx c;
		step_problem pb;
		json_t *d = NULL;
		memset(&c, 0, sizeof c);
		c.def = l->def;
		c.pb = &pb;
		sl__buf_init(&c.path, 4096);
		if (sl__buf_puts(&c.path, where) || default_value(&c, o, &d)) {
			int rc = c.rc == SL_ENOMEM || !c.rc ? SL_ENOMEM : SL_EINVAL;
			sl__buf_free(&c.path);
			if (rc == SL_ENOMEM)
				return sl__err(SL_ENOMEM, "out of memory");
			return lint_fail(l, where, "%s", pb.msg);
		}
		json_decref(d);
		sl__buf_free(&c.path);
	}
	return 0;
}

int step_def_lint(const step_def *d, char *msg, size_t size)
{
	lint l = {d, msg, size};

	if (size)
		msg[0] = '\0';
	return lint_fields(&l, d->opts, d->rules, "", 0);
}

/* ---- column names, before a run ---------------------------------------------------------- */

bool step_names_columns(const step_def *def)
{
	if (def->precheck)
		return true;
	for (const step_opt *o = def->opts; o && o->name; o++)
		if (o->columns_of)
			return true;
	return false;
}

/*
 * "with.PATH: unknown column 'x'; did you mean 'y'?", or the columns there
 * are when none is close.
 */
static int unknown_column(const char *path, const char *name, const step_columns *in)
{
	const char *sug = sl__suggest(name, in->names, in->n);
	sl__buf cols;
	int rc;

	if (sug)
		return sl__err(SL_EINVAL, "with.%s: unknown column '%s'; did you mean '%s'?", path, name,
			       sug);
	sl__buf_init(&cols, 1024);
	for (size_t j = 0; j < in->n && cols.len < 900; j++)
		if (sl__buf_printf(&cols, "%s%s", j ? ", " : "", in->names[j]))
			break;
	rc = sl__err(SL_EINVAL, "with.%s: unknown column '%s' (input '%s' has %s%s)", path, name,
		     in->input, in->n ? "" : "no columns", cols.data ? cols.data : "");
	sl__buf_free(&cols);
	return rc;
}

static bool has_column(const step_columns *in, const char *name)
{
	for (size_t j = 0; j < in->n; j++)
		if (!strcmp(in->names[j], name))
			return true;
	return false;
}

int step_columns_check(const step_def *def, const json_t *with, const step_columns *in,
		       size_t n)
{
	for (const step_opt *o = def->opts; o && o->name; o++) {
		const step_columns *c = NULL;
		const json_t *v = json_object_get(with, o->name);
		char path[300];

		for (size_t k = 0; o->columns_of && k < n && !c; k++)
			if (in[k].known && !strcmp(in[k].input, o->columns_of))
				c = &in[k];
		if (!c || !v)
			continue;
		if (json_is_string(v)) {
			if (!has_column(c, json_string_value(v))) {
				snprintf(path, sizeof path, "%s", o->name);
				return unknown_column(path, json_string_value(v), c);
			}
			continue;
		}
		for (size_t k = 0; k < json_array_size(v); k++) {
			const char *name = json_string_value(json_array_get(v, k));
			if (name && !has_column(c, name)) {
				snprintf(path, sizeof path, "%s[%zu]", o->name, k);
				return unknown_column(path, name, c);
			}
		}
	}
	return def->precheck ? def->precheck(with, in, n) : 0;
}
