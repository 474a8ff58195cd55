/*
 * The expression language: lexer, parser, type binder and the vectorised
 * evaluator (see expr.h for the contract, docs/steps/wrangle.md for the
 * language).
 *
 * Design notes (invariants the code relies on):
 *
 *  1. The parser emits nodes in postfix order: a node is appended only after
 *     all of its operands, and every subtree is a contiguous run of nodes
 *     ending with its root. Evaluation is therefore a loop over the node
 *     array driving a stack of vectors; a node with k operands finds them in
 *     the top k stack slots and leaves its result in the lowest of them.
 *  2. Binding walks the same array with a stack of node indices, resolves
 *     columns, gives every node its static type and records the deepest
 *     stack the program needs (bounded by EXPR_MAX_STACK), so a workspace is
 *     sized once and evaluation never allocates per row.
 *  3. An int operand that must take part in float arithmetic (1 + 0.5,
 *     if(c, 1, 2.5)) is marked on the operand node (to_f64) and converted
 *     right after that node is evaluated; kernels therefore see operands of
 *     one type.
 *  4. Evaluation never fails on data: every run-time fault is a null value.
 *     Null slots hold unspecified values and are never read as values.
 *  5. Strings made during evaluation (lower, upper) live in the workspace's
 *     arena of fixed blocks, which is reset per chunk or row and keeps its
 *     blocks, so pointers stay valid until the next reset.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "cgen.h"
#include "core.h"
#include "dataset/expr.h"

#define EXPR_MAX_STACK 256
#define EXPR_MAX_ARGS 64
#define ARENA_BLOCK 65536

/* ---- nodes --------------------------------------------------------------- */

enum {
	N_CONST, N_COL, N_NEG, N_NOT, N_ISNULL, N_NOTNULL, N_IN, N_NOTIN,
	N_ADD, N_SUB, N_MUL, N_DIV, N_MOD,
	N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE,
	N_AND, N_OR, N_CALL
};

enum {
	F_ABS, F_LOG, F_EXP, F_SQRT, F_MIN, F_MAX, F_ROUND, F_FLOOR, F_CEIL, F_LEN,
	F_LOWER, F_UPPER, F_CONTAINS, F_STARTSWITH, F_ENDSWITH, F_COALESCE, F_IF
};

static const struct {
	const char *name;
	int min_args, max_args;
} funcs[] = {
	[F_ABS] = {"abs", 1, 1},         [F_LOG] = {"log", 1, 1},
	[F_EXP] = {"exp", 1, 1},         [F_SQRT] = {"sqrt", 1, 1},
	[F_MIN] = {"min", 1, EXPR_MAX_ARGS}, [F_MAX] = {"max", 1, EXPR_MAX_ARGS},
	[F_ROUND] = {"round", 1, 2},     [F_FLOOR] = {"floor", 1, 1},
	[F_CEIL] = {"ceil", 1, 1},       [F_LEN] = {"len", 1, 1},
	[F_LOWER] = {"lower", 1, 1},     [F_UPPER] = {"upper", 1, 1},
	[F_CONTAINS] = {"contains", 2, 2}, [F_STARTSWITH] = {"startswith", 2, 2},
	[F_ENDSWITH] = {"endswith", 2, 2}, [F_COALESCE] = {"coalesce", 1, EXPR_MAX_ARGS},
	[F_IF] = {"if", 3, 3},
};

typedef struct enode {
	uint8_t op;
	uint8_t fn;
	uint8_t to_f64;   /* convert this node's int result to float (note 3) */
	ds_type type;     /* result type after binding */
	ds_type otype;    /* comparisons, in: the operands' common type */
	uint32_t pos;     /* byte offset in the text, for messages */
	uint32_t nargs;
	size_t col;       /* N_COL: schema index */
	char *name;       /* N_COL: the name as written; N_CONST string: the bytes */
	expr_value k;     /* N_CONST */
	ds_type ktype;    /* N_CONST: literal type (EXPR_TNULL for null) */
	size_t lit0, nlit; /* N_IN: range of e->lits */
} enode;

typedef struct lit {
	expr_value v;
	ds_type type;
	char *str;
	uint32_t pos;
} lit;

struct expr {
	char *text;
	char *where;
	enode *nodes;
	size_t n, cap;
	lit *lits;
	size_t nlits, litcap;
	size_t ncol;
	char **colnames; /* ncol entries; non-NULL for the columns used */
	ds_type *coltypes;
	size_t stack;    /* deepest stack the program needs */
	ds_type type;
};

/* ---- errors with positions ------------------------------------------------ */

static int perr(const expr *e, int code, size_t off, const char *fmt, ...) SL__PRINTF(4, 5);

static int perr(const expr *e, int code, size_t off, const char *fmt, ...)
{
	char msg[SL__ERRMSG_MAX];
	size_t line = 1, col = 1;
	va_list ap;

	for (size_t i = 0; i < off && e->text[i]; i++) {
		if (e->text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return sl__err(code, "%s:%zu:%zu: %s", e->where, line, col, msg);
}
/* perr returns its (negative) code: see SL__ERR_CODE. */
#define perr(...) SL__ERR_CODE(perr(__VA_ARGS__))

const char *expr_suggest(const char *name, const char *const *cands, size_t n)
{
	/* One policy for every "did you mean" (core's suggest.c). */
	return sl__suggest(name, cands, n);
}

/* ---- lexer ---------------------------------------------------------------- */

enum {
	T_EOF, T_INT, T_FLOAT, T_STR, T_IDENT, T_QIDENT,
	T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT, T_LP, T_RP, T_LB, T_RB, T_COMMA,
	T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
	T_AND, T_OR, T_NOT, T_IN, T_IS, T_NULL, T_TRUE, T_FALSE
};

typedef struct parser {
	expr *e;
	const char *s;
	size_t len, at;
	int tok;
	size_t tpos, tlen;   /* the current token's bytes */
	char *tstr;          /* T_STR, T_QIDENT, T_IDENT: decoded text (owned) */
	size_t tstrlen;
	int64_t ti;
	double tf;
	int depth;
} parser;

static bool is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_ident_char(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool word_is(const char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && !strncasecmp(s, kw, n);
}

/* Reads a quoted string or backquoted name starting at p->at (the quote). */
static int lex_quoted(parser *p, char q)
{
	sl__buf b;
	size_t i = p->at + 1;

	sl__buf_init(&b, EXPR_MAX_LEN + 1);
	for (;;) {
		if (i >= p->len) {
			sl__buf_free(&b);
			return perr(p->e, SL_EPARSE, p->tpos, "unterminated %s",
				    q == '`' ? "quoted name" : "string");
		}
		char c = p->s[i];
		if (c == q) {
			if (q == '`' && i + 1 < p->len && p->s[i + 1] == '`') {
				i += 2;
				if (sl__buf_putc(&b, '`'))
					goto oom;
				continue;
			}
			i++;
			break;
		}
		if (c == '\\' && q != '`') {
			if (i + 1 >= p->len) {
				sl__buf_free(&b);
				return perr(p->e, SL_EPARSE, p->tpos, "unterminated string");
			}
			char x = p->s[i + 1];
			switch (x) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '0': c = '\0'; break;
			case '\\': case '\'': case '"': c = x; break;
			default:
				sl__buf_free(&b);
				return perr(p->e, SL_EPARSE, i, "unknown escape '\\%c'", x);
			}
			i += 2;
		} else {
			i++;
		}
		if (sl__buf_putc(&b, c))
			goto oom;
	}
	p->tstrlen = b.len;
	p->tstr = b.data ? sl__buf_detach(&b) : sl__strdup("");
	if (!p->tstr)
		return sl__oom();
	p->at = i;
	return 0;
oom:
	sl__buf_free(&b);
	return sl__oom();
}

static int lex(parser *p)
{
	const char *s = p->s;

	sl__free(p->tstr);
	p->tstr = NULL;
	while (p->at < p->len && (s[p->at] == ' ' || s[p->at] == '\t' || s[p->at] == '\n' ||
				  s[p->at] == '\r'))
		p->at++;
	p->tpos = p->at;
	if (p->at >= p->len) {
		p->tok = T_EOF;
		p->tlen = 0;
		return 0;
	}
	unsigned char c = (unsigned char)s[p->at];
	char c2 = p->at + 1 < p->len ? s[p->at + 1] : '\0';
	int rc = 0;

	if ((c >= '0' && c <= '9') || (c == '.' && c2 >= '0' && c2 <= '9')) {
		size_t i = p->at;
		bool isf = false;
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i < p->len && s[i] == '.') {
			isf = true;
			i++;
			while (i < p->len && s[i] >= '0' && s[i] <= '9')
				i++;
		}
		if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
			size_t j = i + 1;
			if (j < p->len && (s[j] == '+' || s[j] == '-'))
				j++;
			if (j < p->len && s[j] >= '0' && s[j] <= '9') {
				isf = true;
				i = j;
				while (i < p->len && s[i] >= '0' && s[i] <= '9')
					i++;
			}
		}
		if (i < p->len && is_ident_char((unsigned char)s[i]))
			return perr(p->e, SL_EPARSE, p->at, "malformed number");
		p->tlen = i - p->at;
		if (!isf) {
			if (!ds_parse_i64(s + p->at, p->tlen, &p->ti))
				return perr(p->e, SL_EPARSE, p->at, "integer literal out of range");
			p->tok = T_INT;
		} else {
			if (!ds_parse_f64(s + p->at, p->tlen, &p->tf))
				return perr(p->e, SL_EPARSE, p->at, "malformed number");
			p->tok = T_FLOAT;
		}
		p->at = i;
		return 0;
	}
	if (is_ident_start(c)) {
		size_t i = p->at;
		while (i < p->len && is_ident_char((unsigned char)s[i]))
			i++;
		p->tlen = i - p->at;
		const char *w = s + p->at;
		if (word_is(w, p->tlen, "and"))
			p->tok = T_AND;
		else if (word_is(w, p->tlen, "or"))
			p->tok = T_OR;
		else if (word_is(w, p->tlen, "not"))
			p->tok = T_NOT;
		else if (word_is(w, p->tlen, "in"))
			p->tok = T_IN;
		else if (word_is(w, p->tlen, "is"))
			p->tok = T_IS;
		else if (word_is(w, p->tlen, "null"))
			p->tok = T_NULL;
		else if (word_is(w, p->tlen, "true"))
			p->tok = T_TRUE;
		else if (word_is(w, p->tlen, "false"))
			p->tok = T_FALSE;
		else {
			p->tok = T_IDENT;
			p->tstr = sl__strndup(w, p->tlen);
			p->tstrlen = p->tlen;
			if (!p->tstr)
				return sl__oom();
		}
		p->at = i;
		return 0;
	}
	if (c == '\'' || c == '"' || c == '`') {
		if ((rc = lex_quoted(p, (char)c)))
			return rc;
		p->tok = c == '`' ? T_QIDENT : T_STR;
		p->tlen = p->at - p->tpos;
		if (c == '`' && p->tstrlen == 0)
			return perr(p->e, SL_EPARSE, p->tpos, "empty quoted name");
		if (c == '`' && memchr(p->tstr, '\0', p->tstrlen))
			return perr(p->e, SL_EPARSE, p->tpos, "NUL byte in a quoted name");
		return 0;
	}
	p->tlen = 1;
	switch (c) {
	case '+': p->tok = T_PLUS; break;
	case '-': p->tok = T_MINUS; break;
	case '*': p->tok = T_STAR; break;
	case '/': p->tok = T_SLASH; break;
	case '%': p->tok = T_PCT; break;
	case '(': p->tok = T_LP; break;
	case ')': p->tok = T_RP; break;
	case '[': p->tok = T_LB; break;
	case ']': p->tok = T_RB; break;
	case ',': p->tok = T_COMMA; break;
	case '=':
		if (c2 != '=')
			return perr(p->e, SL_EPARSE, p->at, "use '==' to compare");
		p->tok = T_EQ;
		p->tlen = 2;
		break;
	case '!':
		if (c2 != '=')
			return perr(p->e, SL_EPARSE, p->at, "use 'not' for negation");
		p->tok = T_NE;
		p->tlen = 2;
		break;
	case '<':
		p->tok = c2 == '=' ? T_LE : T_LT;
		p->tlen = c2 == '=' ? 2 : 1;
		break;
	case '>':
		p->tok = c2 == '=' ? T_GE : T_GT;
		p->tlen = c2 == '=' ? 2 : 1;
		break;
	case '&':
		return perr(p->e, SL_EPARSE, p->at, "use 'and'");
	case '|':
		return perr(p->e, SL_EPARSE, p->at, "use 'or'");
	default:
		if (c < 0x20 || c == 0x7f)
			return perr(p->e, SL_EPARSE, p->at, "unexpected byte 0x%02x", c);
		return perr(p->e, SL_EPARSE, p->at, "unexpected character '%c'", c);
	}
	p->at += p->tlen;
	return 0;
}

/* ---- parser --------------------------------------------------------------- */

static int emit(parser *p, uint8_t op, size_t pos, uint32_t nargs, enode **out)
{
	expr *e = p->e;

	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 16;
		enode *nn = sl__reallocarray(e->nodes, ncap, sizeof *nn);
		if (!nn)
			return sl__oom();
		e->nodes = nn;
		e->cap = ncap;
	}
	enode *n = &e->nodes[e->n++];
	memset(n, 0, sizeof *n);
	n->op = op;
	n->pos = (uint32_t)pos;
	n->nargs = nargs;
	if (out)
		*out = n;
	return 0;
}

static const char *tok_desc(const parser *p)
{
	switch (p->tok) {
	case T_EOF: return "end of expression";
	case T_INT: case T_FLOAT: return "a number";
	case T_STR: return "a string";
	case T_IDENT: case T_QIDENT: return "a name";
	default: return NULL;
	}
}

static int unexpected(parser *p, const char *wanted)
{
	const char *d = tok_desc(p);

	if (d)
		return perr(p->e, SL_EPARSE, p->tpos, "expected %s, found %s", wanted, d);
	return perr(p->e, SL_EPARSE, p->tpos, "expected %s, found '%.*s'", wanted, (int)p->tlen,
		    p->s + p->tpos);
}

static int expect(parser *p, int tok, const char *what)
{
	if (p->tok != tok)
		return unexpected(p, what);
	return lex(p);
}

static int parse_or(parser *p);

static int enter(parser *p)
{
	if (++p->depth > EXPR_MAX_DEPTH)
		return perr(p->e, SL_ELIMIT, p->tpos, "expression nested too deeply (more than %d levels)",
			    EXPR_MAX_DEPTH);
	return 0;
}

/* A literal inside in [...]: number (optionally negated), string, bool, null. */
static int parse_lit(parser *p)
{
	expr *e = p->e;
	lit l;
	bool neg = false;
	int rc;

	memset(&l, 0, sizeof l);
	l.pos = (uint32_t)p->tpos;
	if (p->tok == T_MINUS) {
		neg = true;
		if ((rc = lex(p)))
			return rc;
	}
	switch (p->tok) {
	case T_INT:
		l.type = DS_INT64;
		if (neg && p->ti == INT64_MIN)
			return perr(e, SL_EPARSE, p->tpos, "integer literal out of range");
		l.v.i = neg ? -p->ti : p->ti;
		break;
	case T_FLOAT:
		l.type = DS_FLOAT64;
		l.v.f = neg ? -p->tf : p->tf;
		break;
	case T_STR:
	case T_TRUE:
	case T_FALSE:
	case T_NULL:
		if (neg)
			return unexpected(p, "a number after '-'");
		if (p->tok == T_STR) {
			l.type = DS_STRING;
			l.str = p->tstr;
			l.v.len = p->tstrlen;
			p->tstr = NULL;
		} else if (p->tok == T_NULL) {
			l.type = EXPR_TNULL;
			l.v.null = true;
		} else {
			l.type = DS_BOOL;
			l.v.i = p->tok == T_TRUE;
		}
		break;
	default:
		return unexpected(p, "a literal value");
	}
	if (e->nlits == e->litcap) {
		size_t ncap = e->litcap ? e->litcap * 2 : 8;
		lit *nl = sl__reallocarray(e->lits, ncap, sizeof *nl);
		if (!nl) {
			sl__free(l.str);
			return sl__oom();
		}
		e->lits = nl;
		e->litcap = ncap;
	}
	e->lits[e->nlits++] = l;
	return lex(p);
}

static int parse_primary(parser *p)
{
	expr *e = p->e;
	enode *n;
	size_t pos = p->tpos;
	int rc;

	if ((rc = enter(p)))
		return rc;
	switch (p->tok) {
	case T_INT:
	case T_FLOAT:
	case T_STR:
	case T_TRUE:
	case T_FALSE:
	case T_NULL:
		if ((rc = emit(p, N_CONST, pos, 0, &n)))
			return rc;
		if (p->tok == T_INT) {
			n->ktype = DS_INT64;
			n->k.i = p->ti;
		} else if (p->tok == T_FLOAT) {
			n->ktype = DS_FLOAT64;
			n->k.f = p->tf;
		} else if (p->tok == T_STR) {
			n->ktype = DS_STRING;
			n->name = p->tstr;
			n->k.len = p->tstrlen;
			p->tstr = NULL;
		} else if (p->tok == T_NULL) {
			n->ktype = EXPR_TNULL;
			n->k.null = true;
		} else {
			n->ktype = DS_BOOL;
			n->k.i = p->tok == T_TRUE;
		}
		rc = lex(p);
		break;
	case T_QIDENT:
		if ((rc = emit(p, N_COL, pos, 0, &n)))
			return rc;
		n->name = p->tstr;
		p->tstr = NULL;
		rc = lex(p);
		break;
	case T_IDENT: {
		char *name = p->tstr;
		p->tstr = NULL;
		if ((rc = lex(p))) {
			sl__free(name);
			return rc;
		}
		if (p->tok != T_LP) {
			if ((rc = emit(p, N_COL, pos, 0, &n))) {
				sl__free(name);
				return rc;
			}
			n->name = name;
			break;
		}
		size_t fn = SL__ARRAY_LEN(funcs);
		const char *names[SL__ARRAY_LEN(funcs)];
		for (size_t k = 0; k < SL__ARRAY_LEN(funcs); k++) {
			names[k] = funcs[k].name;
			if (!strcasecmp(name, funcs[k].name))
				fn = k;
		}
		if (fn == SL__ARRAY_LEN(funcs)) {
			const char *s = expr_suggest(name, names, SL__ARRAY_LEN(funcs));
			rc = s ? perr(e, SL_EINVAL, pos, "unknown function '%s'; did you mean '%s'?", name, s)
			       : perr(e, SL_EINVAL, pos, "unknown function '%s'", name);
			sl__free(name);
			return rc;
		}
		sl__free(name);
		if ((rc = lex(p)))
			return rc;
		uint32_t nargs = 0;
		if (p->tok != T_RP) {
			for (;;) {
				if (nargs == EXPR_MAX_ARGS)
					return perr(e, SL_ELIMIT, p->tpos, "too many arguments (at most %d)",
						    EXPR_MAX_ARGS);
				if ((rc = parse_or(p)))
					return rc;
				nargs++;
				if (p->tok != T_COMMA)
					break;
				if ((rc = lex(p)))
					return rc;
			}
		}
		if ((rc = expect(p, T_RP, "',' or ')'")))
			return rc;
		if ((int)nargs < funcs[fn].min_args || (int)nargs > funcs[fn].max_args) {
			if (funcs[fn].min_args == funcs[fn].max_args)
				return perr(e, SL_EINVAL, pos, "%s() takes %d argument%s, not %u",
					    funcs[fn].name, funcs[fn].min_args,
					    funcs[fn].min_args == 1 ? "" : "s", nargs);
			return perr(e, SL_EINVAL, pos, "%s() takes %d to %d arguments, not %u",
				    funcs[fn].name, funcs[fn].min_args, funcs[fn].max_args, nargs);
		}
		if ((rc = emit(p, N_CALL, pos, nargs, &n)))
			return rc;
		n->fn = (uint8_t)fn;
		break;
	}
	case T_LP:
		if ((rc = lex(p)) || (rc = parse_or(p)))
			return rc;
		rc = expect(p, T_RP, "')'");
		break;
	default:
		return unexpected(p, "a value, a name or '('");
	}
	p->depth--;
	return rc;
}

static int parse_unary(parser *p)
{
	size_t pos = p->tpos;
	int rc;

	if (p->tok != T_MINUS)
		return parse_primary(p);
	if ((rc = enter(p)) || (rc = lex(p)))
		return rc;
	/* Fold -literal so that -9223372036854775808 and in [-1] work. */
	if (p->tok == T_INT || p->tok == T_FLOAT) {
		enode *n;
		if (p->tok == T_INT && p->ti == INT64_MIN)
			return perr(p->e, SL_EPARSE, pos, "integer literal out of range");
		if ((rc = emit(p, N_CONST, pos, 0, &n)))
			return rc;
		n->ktype = p->tok == T_INT ? DS_INT64 : DS_FLOAT64;
		n->k.i = -p->ti;
		n->k.f = -p->tf;
		if ((rc = lex(p)))
			return rc;
	} else {
		if ((rc = parse_unary(p)) || (rc = emit(p, N_NEG, pos, 1, NULL)))
			return rc;
	}
	p->depth--;
	return 0;
}

static int parse_binary_level(parser *p, int level);

static int parse_mul(parser *p)
{
	return parse_binary_level(p, 1);
}

static int parse_add(parser *p)
{
	return parse_binary_level(p, 0);
}

/* level 0: + -; level 1: * / %. Left-associative loops, so long sums do not recurse. */
static int parse_binary_level(parser *p, int level)
{
	int rc = level == 0 ? parse_mul(p) : parse_unary(p);

	while (rc == 0) {
		uint8_t op;
		size_t pos = p->tpos;
		if (level == 0 && p->tok == T_PLUS)
			op = N_ADD;
		else if (level == 0 && p->tok == T_MINUS)
			op = N_SUB;
		else if (level == 1 && p->tok == T_STAR)
			op = N_MUL;
		else if (level == 1 && p->tok == T_SLASH)
			op = N_DIV;
		else if (level == 1 && p->tok == T_PCT)
			op = N_MOD;
		else
			break;
		if ((rc = lex(p)))
			break;
		rc = level == 0 ? parse_mul(p) : parse_unary(p);
		if (rc == 0)
			rc = emit(p, op, pos, 2, NULL);
	}
	return rc;
}

static bool is_cmp(int tok)
{
	return tok >= T_EQ && tok <= T_GE;
}

static int parse_cmp(parser *p)
{
	size_t pos;
	int rc = parse_add(p);

	if (rc)
		return rc;
	pos = p->tpos;
	if (is_cmp(p->tok)) {
		static const uint8_t ops[] = {N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE};
		uint8_t op = ops[p->tok - T_EQ];
		if ((rc = lex(p)) || (rc = parse_add(p)) || (rc = emit(p, op, pos, 2, NULL)))
			return rc;
	} else if (p->tok == T_IS) {
		uint8_t op = N_ISNULL;
		if ((rc = lex(p)))
			return rc;
		if (p->tok == T_NOT) {
			op = N_NOTNULL;
			if ((rc = lex(p)))
				return rc;
		}
		if ((rc = expect(p, T_NULL, "'null' after 'is'")) || (rc = emit(p, op, pos, 1, NULL)))
			return rc;
	} else if (p->tok == T_IN || p->tok == T_NOT) {
		uint8_t op = N_IN;
		enode *n;
		size_t lit0 = p->e->nlits;
		if (p->tok == T_NOT) {
			op = N_NOTIN;
			if ((rc = lex(p)))
				return rc;
			if (p->tok != T_IN)
				return unexpected(p, "'in' after 'not'");
		}
		if ((rc = lex(p)) || (rc = expect(p, T_LB, "'[' after 'in'")))
			return rc;
		if (p->tok != T_RB) {
			for (;;) {
				if ((rc = parse_lit(p)))
					return rc;
				if (p->tok != T_COMMA)
					break;
				if ((rc = lex(p)))
					return rc;
			}
		}
		if ((rc = expect(p, T_RB, "',' or ']'")) || (rc = emit(p, op, pos, 1, &n)))
			return rc;
		n->lit0 = lit0;
		n->nlit = p->e->nlits - lit0;
	} else {
		return 0;
	}
	if (is_cmp(p->tok) || p->tok == T_IS || p->tok == T_IN)
		return perr(p->e, SL_EPARSE, p->tpos, "comparisons cannot be chained; use 'and'");
	return 0;
}

static int parse_not(parser *p)
{
	size_t pos = p->tpos;
	int rc;

	if (p->tok != T_NOT)
		return parse_cmp(p);
	if ((rc = enter(p)) || (rc = lex(p)) || (rc = parse_not(p)) ||
	    (rc = emit(p, N_NOT, pos, 1, NULL)))
		return rc;
	p->depth--;
	return 0;
}

static int parse_and(parser *p)
{
	int rc = parse_not(p);

	while (rc == 0 && p->tok == T_AND) {
		size_t pos = p->tpos;
		if ((rc = lex(p)) || (rc = parse_not(p)))
			break;
		rc = emit(p, N_AND, pos, 2, NULL);
	}
	return rc;
}

static int parse_or(parser *p)
{
	int rc;

	if ((rc = enter(p)))
		return rc;
	rc = parse_and(p);
	while (rc == 0 && p->tok == T_OR) {
		size_t pos = p->tpos;
		if ((rc = lex(p)) || (rc = parse_and(p)))
			break;
		rc = emit(p, N_OR, pos, 2, NULL);
	}
	p->depth--;
	return rc;
}

/* ---- binding: names and types -------------------------------------------- */

static const char *tname(ds_type t)
{
	return t == EXPR_TNULL ? "null" : ds_type_name(t);
}

static bool is_num(ds_type t)
{
	return t == DS_INT64 || t == DS_FLOAT64 || t == EXPR_TNULL;
}

/* The common type of a and b for if/coalesce/min/max/comparisons, or false. */
static bool unify(ds_type a, ds_type b, ds_type *out)
{
	if (a == b || b == EXPR_TNULL) {
		*out = a;
		return true;
	}
	if (a == EXPR_TNULL) {
		*out = b;
		return true;
	}
	if ((a == DS_INT64 && b == DS_FLOAT64) || (a == DS_FLOAT64 && b == DS_INT64)) {
		*out = DS_FLOAT64;
		return true;
	}
	return false;
}

/* Converts operand node n to type t (int -> float; string literal -> timestamp). */
static int coerce(expr *e, enode *n, ds_type t)
{
	if (n->type == t || n->type == EXPR_TNULL)
		return 0;
	if (n->type == DS_INT64 && t == DS_FLOAT64) {
		/* A constant is converted now; any other node keeps its own type
		 * (its kernel depends on it) and converts its output (note 3). */
		if (n->op == N_CONST) {
			n->k.f = (double)n->k.i;
			n->ktype = n->type = DS_FLOAT64;
		} else {
			n->to_f64 = 1;
		}
		return 0;
	}
	if (n->type == DS_STRING && t == DS_TIMESTAMP && n->op == N_CONST) {
		int64_t us;
		if (!ds_parse_timestamp(n->name, n->k.len, &us))
			return perr(e, SL_EINVAL, n->pos, "'%s' is not an ISO 8601 timestamp", n->name);
		n->ktype = n->type = DS_TIMESTAMP;
		n->k.i = us;
		return 0;
	}
	return perr(e, SL_EINVAL, n->pos, "expected %s, found %s", tname(t), tname(n->type));
}

/* The common type of two comparison operands, letting a string literal meet a timestamp. */
static int cmp_type(expr *e, enode *parent, enode *a, enode *b)
{
	ds_type t;

	if (a->type == DS_TIMESTAMP && b->type == DS_STRING && b->op == N_CONST)
		t = DS_TIMESTAMP;
	else if (b->type == DS_TIMESTAMP && a->type == DS_STRING && a->op == N_CONST)
		t = DS_TIMESTAMP;
	else if (!unify(a->type, b->type, &t))
		return perr(e, SL_EINVAL, parent->pos, "cannot compare %s with %s", tname(a->type),
			    tname(b->type));
	int rc = coerce(e, a, t);
	if (rc == 0)
		rc = coerce(e, b, t);
	parent->otype = t;
	return rc;
}

static int bind_call(expr *e, enode *n, enode **args)
{
	const char *fname = funcs[n->fn].name;
	ds_type t = EXPR_TNULL;
	int rc;

	switch (n->fn) {
	case F_ABS:
	case F_FLOOR:
	case F_CEIL:
	case F_ROUND:
		SL__ASSERT(n->nargs >= 1); /* the parser checked each function's arity */
		for (uint32_t k = 0; k < n->nargs; k++)
			if (!is_num(args[k]->type))
				return perr(e, SL_EINVAL, args[k]->pos, "%s() needs a number, not %s", fname,
					    tname(args[k]->type));
		if (n->nargs == 2 && args[1]->type == DS_FLOAT64)
			return perr(e, SL_EINVAL, args[1]->pos, "round() digits must be an integer");
		n->type = args[0]->type;
		return 0;
	case F_LOG:
	case F_EXP:
	case F_SQRT:
		SL__ASSERT(n->nargs == 1);
		if (!is_num(args[0]->type))
			return perr(e, SL_EINVAL, args[0]->pos, "%s() needs a number, not %s", fname,
				    tname(args[0]->type));
		n->type = args[0]->type == EXPR_TNULL ? EXPR_TNULL : DS_FLOAT64;
		return coerce(e, args[0], DS_FLOAT64);
	case F_LEN:
	case F_LOWER:
	case F_UPPER:
		SL__ASSERT(n->nargs == 1);
		if (args[0]->type != DS_STRING && args[0]->type != EXPR_TNULL)
			return perr(e, SL_EINVAL, args[0]->pos, "%s() needs a string, not %s", fname,
				    tname(args[0]->type));
		n->type = n->fn == F_LEN ? DS_INT64 : DS_STRING;
		return 0;
	case F_CONTAINS:
	case F_STARTSWITH:
	case F_ENDSWITH:
		SL__ASSERT(n->nargs == 2);
		for (uint32_t k = 0; k < 2; k++)
			if (args[k]->type != DS_STRING && args[k]->type != EXPR_TNULL)
				return perr(e, SL_EINVAL, args[k]->pos, "%s() needs strings, not %s", fname,
					    tname(args[k]->type));
		n->type = DS_BOOL;
		return 0;
	case F_IF:
		SL__ASSERT(n->nargs == 3);
		if (args[0]->type != DS_BOOL && args[0]->type != EXPR_TNULL)
			return perr(e, SL_EINVAL, args[0]->pos, "if() condition must be bool, not %s",
				    tname(args[0]->type));
		args++;
		/* The two branches unify like coalesce's arguments. */
		__attribute__((fallthrough));
	case F_MIN:
	case F_MAX:
	case F_COALESCE: {
		uint32_t na = n->fn == F_IF ? 2 : n->nargs;
		for (uint32_t k = 0; k < na; k++)
			if (!unify(t, args[k]->type, &t))
				return perr(e, SL_EINVAL, args[k]->pos,
					    "%s() arguments must have one type: %s and %s", fname, tname(t),
					    tname(args[k]->type));
		if ((n->fn == F_MIN || n->fn == F_MAX) && t == DS_BOOL)
			return perr(e, SL_EINVAL, n->pos, "%s() needs numbers, strings or timestamps",
				    fname);
		for (uint32_t k = 0; k < na; k++)
			if ((rc = coerce(e, args[k], t)))
				return rc;
		n->type = t;
		return 0;
	}
	}
	return perr(e, SL_EINVAL, n->pos, "unknown function");
}

static int bind(expr *e, const char *const *names, const ds_type *types, size_t ncol)
{
	size_t *st = NULL, sp = 0;
	int rc = 0;

	e->ncol = ncol;
	e->colnames = sl__calloc(ncol ? ncol : 1, sizeof *e->colnames);
	e->coltypes = sl__calloc(ncol ? ncol : 1, sizeof *e->coltypes);
	st = sl__calloc(e->n ? e->n : 1, sizeof *st);
	if (!e->colnames || !e->coltypes || !st) {
		sl__free(st);
		return sl__oom();
	}
	for (size_t i = 0; i < e->n && rc == 0; i++) {
		enode *n = &e->nodes[i];
		enode *args[EXPR_MAX_ARGS];
		for (uint32_t k = 0; k < n->nargs; k++)
			args[k] = &e->nodes[st[sp - n->nargs + k]];
		switch (n->op) {
		case N_CONST:
			n->type = n->ktype;
			if (n->type == DS_STRING)
				n->k.s = n->name;
			break;
		case N_COL: {
			size_t k = 0;
			while (k < ncol && strcmp(names[k], n->name))
				k++;
			if (k == ncol) {
				const char *s = expr_suggest(n->name, names, ncol);
				rc = s ? perr(e, SL_EINVAL, n->pos, "unknown column '%s'; did you mean '%s'?",
					      n->name, s)
				       : perr(e, SL_EINVAL, n->pos, "unknown column '%s'", n->name);
				break;
			}
			n->col = k;
			n->type = types[k];
			if (!e->colnames[k] && !(e->colnames[k] = sl__strdup(names[k])))
				rc = sl__oom();
			e->coltypes[k] = types[k];
			break;
		}
		case N_NEG:
			SL__ASSERT(n->nargs == 1); /* as the parser emitted it */
			if (!is_num(args[0]->type))
				rc = perr(e, SL_EINVAL, n->pos, "cannot negate %s", tname(args[0]->type));
			n->type = args[0]->type;
			break;
		case N_NOT:
			SL__ASSERT(n->nargs == 1);
			if (args[0]->type != DS_BOOL && args[0]->type != EXPR_TNULL)
				rc = perr(e, SL_EINVAL, n->pos, "'not' needs a bool, not %s",
					  tname(args[0]->type));
			n->type = DS_BOOL;
			break;
		case N_ISNULL:
		case N_NOTNULL:
			n->type = DS_BOOL;
			break;
		case N_IN:
		case N_NOTIN: {
			SL__ASSERT(n->nargs == 1);
			ds_type t = args[0]->type;
			for (size_t k = n->lit0; k < n->lit0 + n->nlit && rc == 0; k++) {
				lit *l = &e->lits[k];
				if (t == DS_TIMESTAMP && l->type == DS_STRING) {
					if (!ds_parse_timestamp(l->str, l->v.len, &l->v.i))
						rc = perr(e, SL_EINVAL, l->pos, "'%s' is not an ISO 8601 timestamp",
							  l->str);
					l->type = DS_TIMESTAMP;
				} else if (!unify(t, l->type, &t)) {
					rc = perr(e, SL_EINVAL, l->pos, "cannot compare %s with %s", tname(t),
						  tname(l->type));
				}
			}
			if (rc)
				break;
			for (size_t k = n->lit0; k < n->lit0 + n->nlit; k++) {
				lit *l = &e->lits[k];
				if (l->type == DS_INT64 && t == DS_FLOAT64) {
					l->v.f = (double)l->v.i;
					l->type = DS_FLOAT64;
				}
				if (l->type == DS_STRING)
					l->v.s = l->str;
			}
			n->otype = t;
			n->type = DS_BOOL;
			rc = coerce(e, args[0], t);
			break;
		}
		case N_ADD:
		case N_SUB:
		case N_MUL:
		case N_DIV:
		case N_MOD: {
			static const char *verbs[] = {"add", "subtract", "multiply", "divide", "take the remainder of"};
			ds_type t = EXPR_TNULL;
			SL__ASSERT(n->nargs == 2);
			if (!is_num(args[0]->type) || !is_num(args[1]->type)) {
				rc = perr(e, SL_EINVAL, n->pos, "cannot %s %s and %s", verbs[n->op - N_ADD],
					  tname(args[0]->type), tname(args[1]->type));
				break;
			}
			unify(args[0]->type, args[1]->type, &t);
			if (n->op == N_DIV && t != EXPR_TNULL)
				t = DS_FLOAT64;
			if ((rc = coerce(e, args[0], t == EXPR_TNULL ? args[0]->type : t)) == 0)
				rc = coerce(e, args[1], t == EXPR_TNULL ? args[1]->type : t);
			n->type = t;
			n->otype = t;
			break;
		}
		case N_EQ:
		case N_NE:
		case N_LT:
		case N_LE:
		case N_GT:
		case N_GE:
			SL__ASSERT(n->nargs == 2);
			rc = cmp_type(e, n, args[0], args[1]);
			if (rc == 0 && n->otype == DS_BOOL && n->op != N_EQ && n->op != N_NE)
				rc = perr(e, SL_EINVAL, n->pos, "bools can only be compared with == and !=");
			n->type = DS_BOOL;
			break;
		case N_AND:
		case N_OR:
			SL__ASSERT(n->nargs == 2);
			for (int k = 0; k < 2 && rc == 0; k++)
				if (args[k]->type != DS_BOOL && args[k]->type != EXPR_TNULL)
					rc = perr(e, SL_EINVAL, args[k]->pos, "'%s' needs bools, not %s",
						  n->op == N_AND ? "and" : "or", tname(args[k]->type));
			n->type = DS_BOOL;
			break;
		case N_CALL:
			rc = bind_call(e, n, args);
			break;
		}
		sp -= n->nargs;
		st[sp++] = i;
		if (sp > e->stack)
			e->stack = sp;
	}
	if (rc == 0 && e->stack > EXPR_MAX_STACK)
		rc = perr(e, SL_ELIMIT, 0, "expression too complex (needs more than %d intermediate values)",
			  EXPR_MAX_STACK);
	if (rc == 0)
		e->type = e->nodes[e->n - 1].type;
	sl__free(st);
	return rc;
}

/* ---- compile -------------------------------------------------------------- */

void expr_free(expr *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		sl__free(e->nodes[i].name);
	for (size_t i = 0; i < e->nlits; i++)
		sl__free(e->lits[i].str);
	for (size_t k = 0; e->colnames && k < e->ncol; k++)
		sl__free(e->colnames[k]);
	sl__free(e->colnames);
	sl__free(e->coltypes);
	sl__free(e->nodes);
	sl__free(e->lits);
	sl__free(e->text);
	sl__free(e->where);
	sl__free(e);
}

/* Parses text, and binds it to the schema unless bind_cols is false. */
static int compile(const char *text, const char *where, const char *const *names,
		   const ds_type *types, size_t ncol, bool bind_cols, expr **out)
{
	expr *e;
	parser p;
	size_t len;
	int rc;

	*out = NULL;
	if (!text)
		return sl__err(SL_EINVAL, "%s: no expression", where ? where : "expr");
	len = strlen(text);
	if (len > EXPR_MAX_LEN)
		return sl__err(SL_ELIMIT, "%s: expression longer than %d bytes", where ? where : "expr",
			       EXPR_MAX_LEN);
	if (!(e = sl__calloc(1, sizeof *e)))
		return sl__oom();
	e->text = sl__strdup(text);
	e->where = sl__strdup(where ? where : "expr");
	if (!e->text || !e->where) {
		expr_free(e);
		return sl__oom();
	}
	memset(&p, 0, sizeof p);
	p.e = e;
	p.s = e->text;
	p.len = len;
	rc = lex(&p);
	if (rc == 0 && p.tok == T_EOF)
		rc = perr(e, SL_EPARSE, 0, "empty expression");
	if (rc == 0)
		rc = parse_or(&p);
	if (rc == 0 && p.tok != T_EOF)
		rc = p.tok == T_RP ? perr(e, SL_EPARSE, p.tpos, "unbalanced ')'")
				   : unexpected(&p, "an operator or end of expression");
	sl__free(p.tstr);
	if (rc == 0 && bind_cols)
		rc = bind(e, names, types, ncol);
	if (rc) {
		expr_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

int expr_compile(const char *text, const char *where, const char *const *names,
		 const ds_type *types, size_t ncol, expr **out)
{
	return compile(text, where, names, types, ncol, true, out);
}

int expr_check_syntax(const char *text, const char *where)
{
	expr *e = NULL;
	int rc = compile(text, where, NULL, NULL, 0, false, &e);

	expr_free(e);
	return rc;
}

int expr_compile_table(const char *text, const char *where, const ds_table *t, expr **out)
{
	size_t n = ds_ncol(t);
	const char **names = sl__calloc(n ? n : 1, sizeof *names);
	ds_type *types = sl__calloc(n ? n : 1, sizeof *types);
	int rc;

	*out = NULL;
	if (!names || !types) {
		sl__free(names);
		sl__free(types);
		return sl__oom();
	}
	for (size_t j = 0; j < n; j++) {
		names[j] = ds_col_name(t, j);
		types[j] = ds_col_type(t, j);
	}
	rc = expr_compile(text, where, names, types, n, out);
	sl__free(names);
	sl__free(types);
	return rc;
}

ds_type expr_type(const expr *e)
{
	return e->type;
}

const char *expr_text(const expr *e)
{
	return e->text;
}

size_t expr_ncol(const expr *e)
{
	return e->ncol;
}

bool expr_uses_col(const expr *e, size_t k)
{
	return k < e->ncol && e->colnames[k] != NULL;
}

/* ---- workspace ------------------------------------------------------------ */

typedef struct sv {
	const char *p;
	size_t len;
} sv;

typedef union cell {
	int64_t i;
	double f;
	sv s;
} cell;

typedef struct ablock {
	struct ablock *next;
	size_t cap, used;
	char data[];
} ablock;

struct expr_ws {
	size_t cap;       /* rows per vector */
	size_t depth;     /* stack slots */
	cell *cells;      /* depth * cap */
	uint8_t *ok;      /* depth * cap; 1 = value present */
	ablock *blocks, *cur;
};

static void arena_reset(expr_ws *ws)
{
	for (ablock *b = ws->blocks; b; b = b->next)
		b->used = 0;
	ws->cur = ws->blocks;
}

/* n bytes that stay put until the next reset, or NULL when out of memory. */
static char *arena_alloc(expr_ws *ws, size_t n)
{
	ablock *b = ws->cur, *last = NULL;

	for (; b; b = b->next) {
		if (b->cap - b->used >= n) {
			ws->cur = b;
			b->used += n;
			return b->data + b->used - n;
		}
		last = b;
	}
	size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
	if (!(b = sl__malloc(sizeof *b + cap)))
		return NULL;
	b->next = NULL;
	b->cap = cap;
	b->used = n;
	if (last)
		last->next = b;
	else if (!ws->blocks)
		ws->blocks = b;
	else {
		/* ws->cur was NULL past the end of the chain: append at its tail. */
		ablock *t = ws->blocks;
		while (t->next)
			t = t->next;
		t->next = b;
	}
	ws->cur = b;
	return b->data;
}

static int ws_make(const expr *e, size_t cap, expr_ws **out)
{
	expr_ws *ws = sl__calloc(1, sizeof *ws);
	size_t depth = e->stack ? e->stack : 1;

	*out = NULL;
	if (!ws)
		return sl__oom();
	ws->cap = cap;
	ws->depth = depth;
	ws->cells = sl__reallocarray(NULL, depth * cap, sizeof *ws->cells);
	ws->ok = sl__malloc(depth * cap);
	if (!ws->cells || !ws->ok) {
		expr_ws_free(ws);
		return sl__oom();
	}
	*out = ws;
	return 0;
}

int expr_ws_new(const expr *e, expr_ws **out)
{
	return ws_make(e, 1, out);
}

void expr_ws_free(expr_ws *ws)
{
	if (!ws)
		return;
	for (ablock *b = ws->blocks, *nx; b; b = nx) {
		nx = b->next;
		sl__free(b);
	}
	sl__free(ws->cells);
	sl__free(ws->ok);
	sl__free(ws);
}

/* ---- kernels -------------------------------------------------------------- */

/* Where column values come from: a table chunk or one row. */
typedef struct source {
	const ds_table *t;
	size_t r0;              /* first row of the chunk */
	const expr_value *row;  /* row mode */
	const sv *const *dicts; /* table mode: per schema column, string dictionaries */
} source;

static void load_col(const expr *e, const enode *nd, const source *src, cell *c, uint8_t *ok,
		     size_t n)
{
	ds_type t = e->coltypes[nd->col];

	if (src->row) {
		const expr_value *v = &src->row[nd->col];
		ok[0] = !v->null;
		if (t == DS_FLOAT64)
			c[0].f = v->f;
		else if (t == DS_STRING)
			c[0].s = (sv){v->s ? v->s : "", v->s ? v->len : 0};
		else
			c[0].i = t == DS_BOOL ? (v->i != 0) : v->i;
		return;
	}
	const ds_table *tb = src->t;
	size_t j = nd->col, r0 = src->r0;
	const uint8_t *valid = ds_col_validity(tb, j);
	for (size_t r = 0; r < n; r++)
		ok[r] = ds_valid(valid, r0 + r);
	switch (t) {
	case DS_INT64:
	case DS_TIMESTAMP: {
		const int64_t *x = ds_col_i64(tb, j) + r0;
		for (size_t r = 0; r < n; r++)
			c[r].i = x[r];
		break;
	}
	case DS_FLOAT64: {
		const double *x = ds_col_f64(tb, j) + r0;
		for (size_t r = 0; r < n; r++)
			c[r].f = x[r];
		break;
	}
	case DS_BOOL: {
		const uint8_t *x = ds_col_bool(tb, j) + r0;
		for (size_t r = 0; r < n; r++)
			c[r].i = x[r];
		break;
	}
	case DS_STRING: {
		const uint32_t *x = ds_col_codes(tb, j) + r0;
		const sv *d = src->dicts[j];
		size_t dn = ds_dict_size(tb, j);
		for (size_t r = 0; r < n; r++)
			c[r].s = x[r] < dn ? d[x[r]] : (sv){"", 0};
		break;
	}
	}
}

static int cmp_cells(ds_type t, const cell *a, const cell *b)
{
	switch (t) {
	case DS_FLOAT64:
		return a->f < b->f ? -1 : (a->f > b->f ? 1 : 0);
	case DS_STRING: {
		size_t m = a->s.len < b->s.len ? a->s.len : b->s.len;
		int c = m ? memcmp(a->s.p, b->s.p, m) : 0;
		if (c)
			return c < 0 ? -1 : 1;
		return a->s.len < b->s.len ? -1 : (a->s.len > b->s.len ? 1 : 0);
	}
	default:
		return a->i < b->i ? -1 : (a->i > b->i ? 1 : 0);
	}
}

static bool cells_equal(ds_type t, const cell *a, const cell *b)
{
	if (t == DS_FLOAT64)
		return a->f == b->f;
	if (t == DS_STRING)
		return a->s.len == b->s.len && (a->s.len == 0 || !memcmp(a->s.p, b->s.p, a->s.len));
	return a->i == b->i;
}

static void k_arith(uint8_t op, ds_type t, cell *a, uint8_t *aok, const cell *b,
		    const uint8_t *bok, size_t n)
{
	for (size_t r = 0; r < n; r++)
		aok[r] &= bok[r];
	if (t == DS_FLOAT64) {
		switch (op) {
		case N_ADD: for (size_t r = 0; r < n; r++) a[r].f += b[r].f; break;
		case N_SUB: for (size_t r = 0; r < n; r++) a[r].f -= b[r].f; break;
		case N_MUL: for (size_t r = 0; r < n; r++) a[r].f *= b[r].f; break;
		case N_DIV:
			for (size_t r = 0; r < n; r++) {
				if (b[r].f == 0)
					aok[r] = 0;
				else
					a[r].f /= b[r].f;
			}
			break;
		case N_MOD:
			for (size_t r = 0; r < n; r++) {
				if (b[r].f == 0)
					aok[r] = 0;
				else
					a[r].f = fmod(a[r].f, b[r].f);
			}
			break;
		}
		return;
	}
	for (size_t r = 0; r < n; r++) {
		int64_t x = a[r].i, y = b[r].i, z = 0;
		bool bad;
		switch (op) {
		case N_ADD: bad = __builtin_add_overflow(x, y, &z); break;
		case N_SUB: bad = __builtin_sub_overflow(x, y, &z); break;
		case N_MUL: bad = __builtin_mul_overflow(x, y, &z); break;
		default:
			bad = y == 0;
			z = bad ? 0 : (y == -1 ? 0 : x % y);
			break;
		}
		if (bad)
			aok[r] = 0;
		a[r].i = z;
	}
}

static void k_cmp(uint8_t op, ds_type t, cell *a, uint8_t *aok, const cell *b, const uint8_t *bok,
		  size_t n)
{
	for (size_t r = 0; r < n; r++) {
		int c;
		bool v;
		aok[r] &= bok[r];
		if (!aok[r]) {
			a[r].i = 0;
			continue;
		}
		if (op == N_EQ || op == N_NE) {
			v = cells_equal(t, &a[r], &b[r]);
			a[r].i = op == N_EQ ? v : !v;
			continue;
		}
		c = cmp_cells(t, &a[r], &b[r]);
		if (t == DS_FLOAT64 && (isnan(a[r].f) || isnan(b[r].f))) {
			a[r].i = 0; /* NaN is unordered, as in IEEE 754 */
			continue;
		}
		switch (op) {
		case N_LT: v = c < 0; break;
		case N_LE: v = c <= 0; break;
		case N_GT: v = c > 0; break;
		default: v = c >= 0; break;
		}
		a[r].i = v;
	}
}

static size_t utf8_len(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

static bool has_sub(const sv *h, const sv *nd, int mode)
{
	if (nd->len > h->len)
		return false;
	if (nd->len == 0)
		return true;
	if (mode == F_STARTSWITH)
		return !memcmp(h->p, nd->p, nd->len);
	if (mode == F_ENDSWITH)
		return !memcmp(h->p + h->len - nd->len, nd->p, nd->len);
	return memmem(h->p, h->len, nd->p, nd->len) != NULL;
}

static double round_digits(double x, int64_t d)
{
	if (d > 300 || d < -300)
		return d > 0 ? x : 0 * x;
	double m = pow(10.0, (double)d);
	double y = round(x * m) / m;
	return isfinite(y) ? y : x;
}

static int k_call(const enode *nd, expr_ws *ws, cell **a, uint8_t **ok, size_t n)
{
	cell *r0 = a[0];
	uint8_t *o0 = ok[0];
	ds_type t = nd->type;

	switch (nd->fn) {
	case F_ABS:
		for (size_t r = 0; r < n; r++) {
			if (t == DS_FLOAT64)
				r0[r].f = fabs(r0[r].f);
			else if (r0[r].i == INT64_MIN)
				o0[r] = 0;
			else if (r0[r].i < 0)
				r0[r].i = -r0[r].i;
		}
		break;
	case F_LOG:
		for (size_t r = 0; r < n; r++) {
			if (r0[r].f <= 0)
				o0[r] = 0;
			else
				r0[r].f = log(r0[r].f);
		}
		break;
	case F_EXP:
		for (size_t r = 0; r < n; r++)
			r0[r].f = exp(r0[r].f);
		break;
	case F_SQRT:
		for (size_t r = 0; r < n; r++) {
			if (r0[r].f < 0)
				o0[r] = 0;
			else
				r0[r].f = sqrt(r0[r].f);
		}
		break;
	case F_FLOOR:
	case F_CEIL:
	case F_ROUND:
		if (t != DS_FLOAT64) {
			/* Integers are already whole; round(i, d) with d < 0 rounds to tens, ... */
			if (nd->fn == F_ROUND && nd->nargs == 2) {
				for (size_t r = 0; r < n; r++) {
					o0[r] &= ok[1][r];
					int64_t d = a[1][r].i;
					if (o0[r] && d < 0) {
						double y = round_digits((double)r0[r].i, d);
						if (y >= -9.2e18 && y <= 9.2e18)
							r0[r].i = (int64_t)y;
						else
							o0[r] = 0;
					}
				}
			}
			break;
		}
		for (size_t r = 0; r < n; r++) {
			if (nd->fn == F_FLOOR)
				r0[r].f = floor(r0[r].f);
			else if (nd->fn == F_CEIL)
				r0[r].f = ceil(r0[r].f);
			else if (nd->nargs == 2) {
				o0[r] &= ok[1][r];
				r0[r].f = round_digits(r0[r].f, a[1][r].i);
			} else
				r0[r].f = round(r0[r].f);
		}
		break;
	case F_LEN:
		for (size_t r = 0; r < n; r++)
			r0[r].i = o0[r] ? (int64_t)utf8_len(r0[r].s.p, r0[r].s.len) : 0;
		break;
	case F_LOWER:
	case F_UPPER:
		for (size_t r = 0; r < n; r++) {
			if (!o0[r] || r0[r].s.len == 0)
				continue;
			char *d = arena_alloc(ws, r0[r].s.len);
			if (!d)
				return sl__oom();
			for (size_t i = 0; i < r0[r].s.len; i++) {
				char c = r0[r].s.p[i];
				if (nd->fn == F_LOWER && c >= 'A' && c <= 'Z')
					c = (char)(c + 32);
				else if (nd->fn == F_UPPER && c >= 'a' && c <= 'z')
					c = (char)(c - 32);
				d[i] = c;
			}
			r0[r].s.p = d;
		}
		break;
	case F_CONTAINS:
	case F_STARTSWITH:
	case F_ENDSWITH:
		for (size_t r = 0; r < n; r++) {
			o0[r] &= ok[1][r];
			r0[r].i = o0[r] ? has_sub(&r0[r].s, &a[1][r].s, nd->fn) : 0;
		}
		break;
	case F_COALESCE:
		for (size_t r = 0; r < n; r++) {
			for (uint32_t k = 1; k < nd->nargs && !o0[r]; k++) {
				if (ok[k][r]) {
					r0[r] = a[k][r];
					o0[r] = 1;
				}
			}
		}
		break;
	case F_MIN:
	case F_MAX:
		for (size_t r = 0; r < n; r++) {
			for (uint32_t k = 1; k < nd->nargs; k++) {
				if (!ok[k][r])
					continue;
				int c = o0[r] ? cmp_cells(t, &a[k][r], &r0[r]) : 0;
				bool take = !o0[r] || (nd->fn == F_MIN ? c < 0 : c > 0);
				if (take) {
					r0[r] = a[k][r];
					o0[r] = 1;
				}
			}
		}
		break;
	case F_IF:
		for (size_t r = 0; r < n; r++) {
			bool c = o0[r] && r0[r].i;
			int k = c ? 1 : 2;
			r0[r] = a[k][r];
			o0[r] = ok[k][r];
		}
		break;
	}
	return 0;
}

/*
 * Runs the program over n rows (n <= ws->cap); the result is in stack slot 0.
 */
static int run(const expr *e, expr_ws *ws, const source *src, size_t n)
{
	size_t sp = 0, cap = ws->cap;
	int rc;

	arena_reset(ws);
	for (size_t i = 0; i < e->n; i++) {
		const enode *nd = &e->nodes[i];
		size_t base = sp - nd->nargs;
		cell *a = ws->cells + base * cap;
		uint8_t *aok = ws->ok + base * cap;
		cell *b = a + cap;
		uint8_t *bok = aok + cap;

		switch (nd->op) {
		case N_CONST:
			for (size_t r = 0; r < n; r++) {
				aok[r] = !nd->k.null;
				if (nd->type == DS_FLOAT64)
					a[r].f = nd->k.f;
				else if (nd->type == DS_STRING)
					a[r].s = (sv){nd->k.s, nd->k.len};
				else
					a[r].i = nd->k.i;
			}
			break;
		case N_COL:
			load_col(e, nd, src, a, aok, n);
			break;
		case N_NEG:
			for (size_t r = 0; r < n; r++) {
				if (nd->type == DS_FLOAT64)
					a[r].f = -a[r].f;
				else if (a[r].i == INT64_MIN)
					aok[r] = 0;
				else
					a[r].i = -a[r].i;
			}
			break;
		case N_NOT:
			for (size_t r = 0; r < n; r++)
				a[r].i = !a[r].i;
			break;
		case N_ISNULL:
		case N_NOTNULL:
			for (size_t r = 0; r < n; r++) {
				a[r].i = (nd->op == N_ISNULL) ? !aok[r] : aok[r];
				aok[r] = 1;
			}
			break;
		case N_IN:
		case N_NOTIN:
			for (size_t r = 0; r < n; r++) {
				bool found = false, lnull = false;
				if (!aok[r])
					continue;
				for (size_t k = nd->lit0; k < nd->lit0 + nd->nlit && !found; k++) {
					const lit *l = &e->lits[k];
					if (l->type == EXPR_TNULL) {
						lnull = true;
						continue;
					}
					cell lc;
					if (nd->otype == DS_FLOAT64)
						lc.f = l->v.f;
					else if (nd->otype == DS_STRING)
						lc.s = (sv){l->v.s, l->v.len};
					else
						lc.i = l->v.i;
					found = cells_equal(nd->otype, &a[r], &lc);
				}
				if (!found && lnull)
					aok[r] = 0;
				a[r].i = nd->op == N_IN ? found : !found;
			}
			break;
		case N_ADD:
		case N_SUB:
		case N_MUL:
		case N_DIV:
		case N_MOD:
			if (nd->type == EXPR_TNULL)
				memset(aok, 0, n);
			else
				k_arith(nd->op, nd->otype, a, aok, b, bok, n);
			break;
		case N_EQ:
		case N_NE:
		case N_LT:
		case N_LE:
		case N_GT:
		case N_GE:
			k_cmp(nd->op, nd->otype, a, aok, b, bok, n);
			break;
		case N_AND:
		case N_OR:
			for (size_t r = 0; r < n; r++) {
				bool av = aok[r] && a[r].i, bv = bok[r] && b[r].i;
				bool af = aok[r] && !a[r].i, bf = bok[r] && !b[r].i;
				if (nd->op == N_AND) {
					aok[r] = af || bf || (aok[r] && bok[r]);
					a[r].i = av && bv;
				} else {
					aok[r] = av || bv || (aok[r] && bok[r]);
					a[r].i = av || bv;
				}
			}
			break;
		case N_CALL: {
			cell *args[EXPR_MAX_ARGS];
			uint8_t *oks[EXPR_MAX_ARGS];
			for (uint32_t k = 0; k < nd->nargs; k++) {
				args[k] = a + k * cap;
				oks[k] = aok + k * cap;
			}
			if (nd->type == EXPR_TNULL)
				memset(aok, 0, n);
			else if ((rc = k_call(nd, ws, args, oks, n)))
				return rc;
			break;
		}
		}
		if (nd->to_f64)
			for (size_t r = 0; r < n; r++)
				a[r].f = (double)a[r].i;
		sp = base + 1;
	}
	return 0;
}

int expr_eval_row(const expr *e, expr_ws *ws, const expr_value *row, expr_value *out)
{
	source src = {.row = row};
	int rc;

	if (ws->depth < e->stack)
		return sl__err(SL_EINVAL, "%s: workspace made for another expression", e->where);
	if ((rc = run(e, ws, &src, 1)))
		return rc;
	memset(out, 0, sizeof *out);
	out->null = !ws->ok[0] || e->type == EXPR_TNULL;
	if (out->null)
		return 0;
	if (e->type == DS_FLOAT64)
		out->f = ws->cells[0].f;
	else if (e->type == DS_STRING) {
		out->s = ws->cells[0].s.p;
		out->len = ws->cells[0].s.len;
	} else
		out->i = ws->cells[0].i;
	return 0;
}

/* Checks t against the schema and builds the string dictionaries; then runs chunks. */
typedef int (*chunk_fn)(void *arg, const expr *e, expr_ws *ws, size_t r0, size_t n);

static int eval_table(const expr *e, const ds_table *t, chunk_fn fn, void *arg)
{
	sv **dicts = NULL;
	expr_ws *ws = NULL;
	size_t nrow = ds_nrow(t);
	int rc = 0;

	for (size_t k = 0; k < e->ncol; k++) {
		if (!e->colnames[k])
			continue;
		if (k >= ds_ncol(t) || strcmp(ds_col_name(t, k), e->colnames[k]) ||
		    ds_col_type(t, k) != e->coltypes[k])
			return sl__err(SL_EINVAL, "%s: the table does not have column %zu '%s' of type %s",
				       e->where, k, e->colnames[k], ds_type_name(e->coltypes[k]));
	}
	if (!(dicts = sl__calloc(e->ncol ? e->ncol : 1, sizeof *dicts)))
		return sl__oom();
	for (size_t k = 0; k < e->ncol && rc == 0; k++) {
		if (!e->colnames[k] || e->coltypes[k] != DS_STRING)
			continue;
		size_t dn = ds_dict_size(t, k);
		if (!(dicts[k] = sl__reallocarray(NULL, dn ? dn : 1, sizeof *dicts[k]))) {
			rc = sl__oom();
			break;
		}
		for (size_t c = 0; c < dn; c++)
			dicts[k][c].p = ds_dict_str(t, k, (uint32_t)c, &dicts[k][c].len);
	}
	if (rc == 0)
		rc = ws_make(e, EXPR_CHUNK, &ws);
	for (size_t r0 = 0; rc == 0 && r0 < nrow; r0 += EXPR_CHUNK) {
		size_t n = nrow - r0 < EXPR_CHUNK ? nrow - r0 : EXPR_CHUNK;
		source src = {.t = t, .r0 = r0, .dicts = (const sv *const *)dicts};
		if ((rc = run(e, ws, &src, n)) == 0)
			rc = fn(arg, e, ws, r0, n);
	}
	for (size_t k = 0; k < e->ncol; k++)
		sl__free(dicts[k]);
	sl__free(dicts);
	expr_ws_free(ws);
	return rc;
}

static int mask_chunk(void *arg, const expr *e, expr_ws *ws, size_t r0, size_t n)
{
	uint8_t *out = (uint8_t *)arg + r0;

	(void)e;
	for (size_t r = 0; r < n; r++)
		out[r] = ws->ok[r] && ws->cells[r].i;
	return 0;
}

int expr_eval_mask(const expr *e, const ds_table *t, uint8_t *out)
{
	if (e->type != DS_BOOL && e->type != EXPR_TNULL)
		return sl__err(SL_EINVAL, "%s:1:1: expected a bool expression, found %s", e->where,
			       tname(e->type));
	if (e->type == EXPR_TNULL) {
		memset(out, 0, ds_nrow(t));
		return 0;
	}
	return eval_table(e, t, mask_chunk, out);
}

typedef struct append_arg {
	ds_builder *b;
	size_t j;
} append_arg;

static int append_chunk(void *arg, const expr *e, expr_ws *ws, size_t r0, size_t n)
{
	append_arg *A = arg;
	uint8_t bits[EXPR_CHUNK / 8];
	bool any_null = false;
	int rc = 0;

	(void)r0;
	memset(bits, 0, sizeof bits);
	for (size_t r = 0; r < n; r++) {
		if (ws->ok[r])
			bits[r >> 3] = (uint8_t)(bits[r >> 3] | (1u << (r & 7)));
		else
			any_null = true;
	}
	switch (e->type) {
	case DS_INT64:
	case DS_TIMESTAMP: {
		int64_t v[EXPR_CHUNK];
		for (size_t r = 0; r < n; r++)
			v[r] = ws->cells[r].i;
		return ds_append_i64s(A->b, A->j, v, any_null ? bits : NULL, n);
	}
	case DS_FLOAT64: {
		double v[EXPR_CHUNK];
		for (size_t r = 0; r < n; r++)
			v[r] = ws->cells[r].f;
		return ds_append_f64s(A->b, A->j, v, any_null ? bits : NULL, n);
	}
	case DS_BOOL: {
		uint8_t v[EXPR_CHUNK];
		for (size_t r = 0; r < n; r++)
			v[r] = (uint8_t)(ws->cells[r].i != 0);
		return ds_append_bools(A->b, A->j, v, any_null ? bits : NULL, n);
	}
	case DS_STRING:
		for (size_t r = 0; r < n && rc == 0; r++)
			rc = ws->ok[r] ? ds_append_str(A->b, A->j, ws->cells[r].s.p, ws->cells[r].s.len)
				       : ds_append_null(A->b, A->j);
		return rc;
	}
	return ds_append_nulls(A->b, A->j, n);
}

int expr_eval_append(const expr *e, const ds_table *t, ds_builder *b, size_t j)
{
	append_arg A = {b, j};

	if (e->type == EXPR_TNULL)
		return ds_append_nulls(b, j, ds_nrow(t));
	return eval_table(e, t, append_chunk, &A);
}

/* ---- C emission (expr_emit_c) ----------------------------------------------------- */

/*
 * The emitted code mirrors run() node by node: node i leaves its value in
 * the double t<i> and its null flag in the int n<i>. Integers, bools and
 * timestamps are held as doubles (exact up to 2^53, which the export's
 * documentation states), so an integer overflow is judged on the double
 * result. String values are dictionary codes (expr_c_col.dict), so a
 * string operand is tracked at emission time instead: a literal stays
 * text until a comparison turns it into the other side's code.
 */
typedef struct c_opnd {
	size_t node;       /* its node: t<node>, n<node> */
	bool str_lit;      /* a string literal: no variables, its text in the node */
	int dict;          /* a string column: the dictionary its codes index; else -1 */
} c_opnd;

static int c_unsup(const expr *e, const enode *nd, const char *what)
{
	return perr(e, SL_EUNSUP, nd->pos,
		    "%s has no C form: the export takes string columns as dictionary codes, "
		    "which only == and != against a literal, in, not in and is null can use",
		    what);
}

/* The code of a string literal node in dictionary dict. */
static long c_lit_code(const enode *ln, int dict, expr_c_code_fn code, void *arg)
{
	return code(arg, dict, ln->name ? ln->name : "", ln->k.len);
}

/* The C test of a == b (into out), codes for strings. */
static int c_equal(const expr *e, const enode *nd, const c_opnd *a, const c_opnd *b,
		   expr_c_code_fn code, void *arg, char *out, size_t size)
{
	if (nd->otype != DS_STRING) {
		snprintf(out, size, "(t%zu == t%zu)", a->node, b->node);
		return 0;
	}
	if (a->str_lit && b->str_lit) {
		const enode *x = &e->nodes[a->node], *y = &e->nodes[b->node];
		bool eq = x->k.len == y->k.len && (!x->k.len || !memcmp(x->name, y->name, x->k.len));
		snprintf(out, size, "%d", eq);
		return 0;
	}
	if (!a->str_lit && !b->str_lit)
		return c_unsup(e, nd, "comparing two string columns");
	const c_opnd *col = a->str_lit ? b : a, *sl = a->str_lit ? a : b;
	long k = c_lit_code(&e->nodes[sl->node], col->dict, code, arg);
	if (k < 0)
		return sl__oom();
	snprintf(out, size, "(t%zu == %ld.0)", col->node, k);
	return 0;
}

static void c_value(sl__cw *w, ds_type t, const expr_value *v)
{
	if (t == DS_FLOAT64)
		sl__cw_double(w, v->f);
	else
		sl__cw_double(w, (double)v->i);
}

int expr_emit_c(const expr *e, sl__cw *w, const expr_c_col *cols, expr_c_code_fn code, void *arg,
		const char *out_v, const char *out_z, unsigned *needs)
{
	c_opnd *st = sl__calloc(e->n + 1, sizeof *st);
	size_t sp = 0;
	int rc = 0;

	if (!st)
		return sl__oom();
	sl__cw_puts(w, "\t{\n");
	for (size_t i = 0; i < e->n && rc == 0; i++) {
		const enode *nd = &e->nodes[i];
		c_opnd *a = nd->nargs ? &st[sp - nd->nargs] : NULL;
		c_opnd self = {i, false, -1};
		char eq[96];
		/* A string operand goes no further than what codes can answer. */
		for (uint32_t k = 0; k < nd->nargs && rc == 0; k++) {
			bool str = a[k].str_lit || a[k].dict >= 0;
			bool ok = nd->op == N_EQ || nd->op == N_NE || nd->op == N_IN || nd->op == N_NOTIN ||
				  nd->op == N_ISNULL || nd->op == N_NOTNULL;
			bool order = nd->op == N_LT || nd->op == N_LE || nd->op == N_GT || nd->op == N_GE;
			if (str && !ok)
				rc = nd->op == N_CALL ? c_unsup(e, nd, funcs[nd->fn].name)
				     : order	      ? c_unsup(e, nd, "ordering strings")
						      : c_unsup(e, nd, "this operation on a string");
		}
		if (rc)
			break;
		switch (nd->op) {
		case N_CONST:
			if (nd->type == DS_STRING) {
				self.str_lit = true;
				break;
			}
			sl__cw_printf(w, "\tdouble t%zu = ", i);
			if (nd->type == EXPR_TNULL)
				sl__cw_puts(w, "0");
			else
				c_value(w, nd->type, &nd->k);
			sl__cw_printf(w, "; int n%zu = %d;\n", i, nd->type == EXPR_TNULL || nd->k.null);
			break;
		case N_COL:
			sl__cw_printf(w, "\tdouble t%zu = %s; int n%zu = %s;\n", i, cols[nd->col].v, i,
				      cols[nd->col].z);
			if (nd->type == DS_STRING)
				self.dict = cols[nd->col].dict;
			break;
		case N_NEG:
			sl__cw_printf(w, "\tdouble t%zu = -t%zu; int n%zu = n%zu;\n", i, a[0].node, i,
				      a[0].node);
			break;
		case N_NOT:
			sl__cw_printf(w, "\tdouble t%zu = !t%zu; int n%zu = n%zu;\n", i, a[0].node, i,
				      a[0].node);
			break;
		case N_ISNULL:
		case N_NOTNULL:
			if (a[0].str_lit)
				sl__cw_printf(w, "\tdouble t%zu = %d; int n%zu = 0;\n", i,
					      nd->op == N_NOTNULL, i);
			else
				sl__cw_printf(w, "\tdouble t%zu = %sn%zu; int n%zu = 0;\n", i,
					      nd->op == N_ISNULL ? "" : "!", a[0].node, i);
			break;
		case N_IN:
		case N_NOTIN: {
			bool lnull = false;
			if (a[0].str_lit) {
				rc = c_unsup(e, nd, "a string literal tested with in");
				break;
			}
			sl__cw_printf(w, "\tint f%zu = 0", i);
			for (size_t k = nd->lit0; k < nd->lit0 + nd->nlit; k++) {
				const lit *l = &e->lits[k];
				if (l->type == EXPR_TNULL) {
					lnull = true;
					continue;
				}
				sl__cw_printf(w, " || t%zu == ", a[0].node);
				if (nd->otype == DS_STRING) {
					long c = code(arg, a[0].dict, l->str ? l->str : "", l->v.len);
					if (c < 0) {
						rc = sl__oom();
						break;
					}
					sl__cw_printf(w, "%ld.0", c);
				} else {
					c_value(w, nd->otype, &l->v);
				}
			}
			sl__cw_printf(w, ";\n\tdouble t%zu = %sf%zu; int n%zu = n%zu || (!f%zu && %d);\n",
				      i, nd->op == N_IN ? "" : "!", i, i, a[0].node, i, lnull);
			break;
		}
		case N_ADD:
		case N_SUB:
		case N_MUL:
		case N_DIV:
		case N_MOD: {
			size_t x = a[0].node, y = a[1].node;
			static const char ops[] = "+-*";
			if (nd->type == EXPR_TNULL) {
				sl__cw_printf(w, "\tdouble t%zu = 0; int n%zu = 1;\n", i, i);
			} else if (nd->op == N_DIV) {
				sl__cw_printf(w, "\tint n%zu = n%zu || n%zu || t%zu == 0; double t%zu = "
						 "t%zu == 0 ? 0 : t%zu / t%zu;\n",
					      i, x, y, y, i, y, x, y);
			} else if (nd->op == N_MOD) {
				/* An integer remainder by -1 is 0, as the evaluator has it. */
				sl__cw_printf(w, "\tint n%zu = n%zu || n%zu || t%zu == 0; double t%zu = "
						 "t%zu == 0",
					      i, x, y, y, i, y);
				if (nd->otype != DS_FLOAT64)
					sl__cw_printf(w, " || t%zu == -1", y);
				sl__cw_printf(w, " ? 0 : fmod(t%zu, t%zu);\n", x, y);
			} else {
				sl__cw_printf(w, "\tdouble t%zu = t%zu %c t%zu; int n%zu = n%zu || n%zu", i,
					      x, ops[nd->op - N_ADD], y, i, x, y);
				if (nd->otype != DS_FLOAT64)
					sl__cw_printf(w, " || !(t%zu >= -9223372036854775808.0 && t%zu < "
							 "9223372036854775808.0)",
						      i, i);
				sl__cw_puts(w, ";\n");
			}
			break;
		}
		case N_EQ:
		case N_NE:
		case N_LT:
		case N_LE:
		case N_GT:
		case N_GE: {
			static const char *const cmp[] = {"==", "!=", "<", "<=", ">", ">="};
			char na[32], nb[32];
			if (nd->op == N_EQ || nd->op == N_NE) {
				if ((rc = c_equal(e, nd, &a[0], &a[1], code, arg, eq, sizeof eq)))
					break;
			} else if (nd->otype == DS_STRING) {
				rc = c_unsup(e, nd, "ordering strings");
				break;
			} else {
				snprintf(eq, sizeof eq, "(t%zu %s t%zu)", a[0].node, cmp[nd->op - N_EQ],
					 a[1].node);
			}
			/* A literal is never null and has no variables. */
			if (a[0].str_lit)
				snprintf(na, sizeof na, "0");
			else
				snprintf(na, sizeof na, "n%zu", a[0].node);
			if (a[1].str_lit)
				snprintf(nb, sizeof nb, "0");
			else
				snprintf(nb, sizeof nb, "n%zu", a[1].node);
			sl__cw_printf(w, "\tint n%zu = %s || %s; double t%zu = n%zu ? 0 : %s%s;\n", i, na,
				      nb, i, i, nd->op == N_NE ? "!" : "", eq);
			break;
		}
		case N_AND:
		case N_OR: {
			size_t x = a[0].node, y = a[1].node;
			sl__cw_printf(w, "\tint av%zu = !n%zu && t%zu, bv%zu = !n%zu && t%zu, af%zu = !n%zu && "
					 "!t%zu, bf%zu = !n%zu && !t%zu;\n",
				      i, x, x, i, y, y, i, x, x, i, y, y);
			if (nd->op == N_AND)
				sl__cw_printf(w, "\tint n%zu = !(af%zu || bf%zu || (!n%zu && !n%zu)); double "
						 "t%zu = av%zu && bv%zu;\n",
					      i, i, i, x, y, i, i, i);
			else
				sl__cw_printf(w, "\tint n%zu = !(av%zu || bv%zu || (!n%zu && !n%zu)); double "
						 "t%zu = av%zu || bv%zu;\n",
					      i, i, i, x, y, i, i, i);
			sl__cw_printf(w, "\t(void)af%zu; (void)bf%zu;\n", i, i);
			break;
		}
		case N_CALL:
			if (nd->type == DS_STRING) {
				rc = c_unsup(e, nd, funcs[nd->fn].name);
				break;
			}
			if (nd->type == EXPR_TNULL) {
				sl__cw_printf(w, "\tdouble t%zu = 0; int n%zu = 1;\n", i, i);
				break;
			}
			switch (nd->fn) {
			case F_ABS:
				sl__cw_printf(w, "\tdouble t%zu = fabs(t%zu); int n%zu = n%zu;\n", i,
					      a[0].node, i, a[0].node);
				break;
			case F_LOG:
			case F_SQRT:
				sl__cw_printf(w, "\tint n%zu = n%zu || t%zu %s 0; double t%zu = n%zu ? 0 : "
						 "%s(t%zu);\n",
					      i, a[0].node, a[0].node, nd->fn == F_LOG ? "<=" : "<", i, i,
					      nd->fn == F_LOG ? "log" : "sqrt", a[0].node);
				break;
			case F_EXP:
				sl__cw_printf(w, "\tdouble t%zu = exp(t%zu); int n%zu = n%zu;\n", i,
					      a[0].node, i, a[0].node);
				break;
			case F_FLOOR:
			case F_CEIL:
			case F_ROUND:
				if (nd->fn == F_ROUND && nd->nargs == 2) {
					*needs |= EXPR_C_ROUND;
					if (nd->type == DS_FLOAT64)
						sl__cw_printf(w, "\tint n%zu = n%zu || n%zu; double t%zu = "
								 "sx_round_digits(t%zu, t%zu);\n",
							      i, a[0].node, a[1].node, i, a[0].node,
							      a[1].node);
					else
						sl__cw_printf(w, "\tint n%zu = n%zu || n%zu; double t%zu = "
								 "t%zu;\n"
								 "\tif (!n%zu && t%zu < 0) {\n"
								 "\t\tdouble y = sx_round_digits(t%zu, t%zu);\n"
								 "\t\tif (y >= -9.2e18 && y <= 9.2e18)\n"
								 "\t\t\tt%zu = trunc(y);\n"
								 "\t\telse\n"
								 "\t\t\tn%zu = 1;\n"
								 "\t}\n",
							      i, a[0].node, a[1].node, i, a[0].node, i,
							      a[1].node, a[0].node, a[1].node, i, i);
				} else if (nd->type == DS_FLOAT64) {
					sl__cw_printf(w, "\tdouble t%zu = %s(t%zu); int n%zu = n%zu;\n", i,
						      nd->fn == F_FLOOR ? "floor"
						      : nd->fn == F_CEIL ? "ceil"
									 : "round",
						      a[0].node, i, a[0].node);
				} else {
					sl__cw_printf(w, "\tdouble t%zu = t%zu; int n%zu = n%zu;\n", i,
						      a[0].node, i, a[0].node);
				}
				break;
			case F_COALESCE:
			case F_MIN:
			case F_MAX:
				sl__cw_printf(w, "\tdouble t%zu = t%zu; int n%zu = n%zu;\n", i, a[0].node, i,
					      a[0].node);
				for (uint32_t k = 1; k < nd->nargs; k++) {
					size_t y = a[k].node;
					if (nd->fn == F_COALESCE)
						sl__cw_printf(w, "\tif (n%zu && !n%zu) {\n", i, y);
					else
						sl__cw_printf(w, "\tif (!n%zu && (n%zu || t%zu %s t%zu)) {\n", y,
							      i, y, nd->fn == F_MIN ? "<" : ">", i);
					sl__cw_printf(w, "\t\tt%zu = t%zu;\n\t\tn%zu = 0;\n\t}\n", i, y, i);
				}
				break;
			case F_IF:
				sl__cw_printf(w, "\tint c%zu = !n%zu && t%zu; double t%zu = c%zu ? t%zu : "
						 "t%zu; int n%zu = c%zu ? n%zu : n%zu;\n",
					      i, a[0].node, a[0].node, i, i, a[1].node, a[2].node, i, i,
					      a[1].node, a[2].node);
				break;
			default:
				rc = c_unsup(e, nd, funcs[nd->fn].name);
				break;
			}
			break;
		}
		sp -= nd->nargs;
		st[sp++] = self;
	}
	if (rc == 0 && (st[0].str_lit || st[0].dict >= 0))
		rc = perr(e, SL_EUNSUP, 0,
			  "a string result has no C form (the export takes strings as codes)");
	if (rc == 0) {
		/* Every temporary may go unread (a constant operand of is null ...). */
		for (size_t i = 0; i < e->n; i++)
			if (!(e->nodes[i].op == N_CONST && e->nodes[i].type == DS_STRING))
				sl__cw_printf(w, "\t(void)t%zu; (void)n%zu;\n", i, i);
		sl__cw_printf(w, "\t%s = t%zu;\n\t%s = n%zu || %d;\n", out_v, st[0].node, out_z,
			      st[0].node, e->type == EXPR_TNULL);
	}
	sl__cw_puts(w, "\t}\n");
	sl__free(st);
	return rc ? rc : w->rc;
}
