/*
 * The model registry (store.h): registered names, their versions, aliases
 * and the history of every alias move, tags on versions, and the JSON views
 * `sluice models` prints.
 *
 *   register (step op or call) --> version N+1 (last_version + 1) --+--> alias moved?
 *   promote NAME REF --to A     ----------------------------------->+    history record
 *   rollback NAME [--alias A]   --> undo A's latest move not undone -+    (append-only)
 *   delete NAME@V               --> refused while an alias points at V
 *
 * Design notes:
 *
 *  1. Every write to a model first bumps models.changes (model_lock). That
 *     one UPDATE takes the model row's lock on every backend, so writers of
 *     one model are ordered: on PostgreSQL a second promotion waits for the
 *     first to commit and then reads the alias it left, so both moves are
 *     recorded with the right "from" and the last one wins. On SQLite the
 *     write transaction orders them anyway. The counter is also what a
 *     model server polls to notice an alias move (store_model_changes).
 *  2. Version numbers come from models.last_version, read and raised inside
 *     the locked transaction: never reused, also after a delete, and
 *     (model, version) is the primary key should anything slip past.
 *  3. alias_history rows are inserted, never updated or deleted; a rollback
 *     is a new row naming the move it undoes (undoes), so the history says
 *     what was in production when, and rollbacks form a stack.
 *  4. A history record's seq is the model's change count of the transaction
 *     that wrote it: unique per model and in the order moves happened.
 *  5. An alias never points at a missing version: delete refuses a version
 *     behind an alias, and the foreign key backs that up.
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 4096
#define NAMES_SHOWN 20 /* names listed in a "no such model" message */

/* ---- names ----------------------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int store_check_model_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return sl__err(SL_EINVAL, "a model name is missing");
	if (n > STORE_NAME_MAX)
		return sl__err(SL_EINVAL, "model name '%.40s...' is longer than %d characters", name,
			       STORE_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i]))
			return sl__err(SL_EINVAL,
				       "model name '%s' may hold only letters, digits, '_', '-' and '.'",
				       name);
	if (name[0] == '.' || name[0] == '-')
		return sl__err(SL_EINVAL, "model name '%s' must start with a letter or digit", name);
	return 0;
}

int store_check_alias_name(const char *alias)
{
	size_t n = alias ? strlen(alias) : 0;

	if (n == 0)
		return sl__err(SL_EINVAL, "an alias name is missing");
	if (n > STORE_NAME_MAX)
		return sl__err(SL_EINVAL, "alias '%.40s...' is longer than %d characters", alias,
			       STORE_NAME_MAX);
	if (!((alias[0] >= 'a' && alias[0] <= 'z') || (alias[0] >= 'A' && alias[0] <= 'Z')))
		return sl__err(SL_EINVAL,
			       "alias '%s' must start with a letter (a number names a version)", alias);
	for (size_t i = 0; i < n; i++)
		if (!name_char(alias[i]))
			return sl__err(SL_EINVAL,
				       "alias '%s' may hold only letters, digits, '_', '-' and '.'", alias);
	if (!strcmp(alias, "latest"))
		return sl__err(SL_EINVAL, "'latest' always means the newest version; it cannot be "
					  "an alias");
	return 0;
}

int store_model_ref_split(const char *text, char *buf, size_t size, const char **out_name,
			  const char **out_ref)
{
	const char *at;
	size_t n;

	*out_name = *out_ref = NULL;
	if (!text || !*text)
		return sl__err(SL_EINVAL, "a model reference is missing (NAME@VERSION or NAME@ALIAS)");
	n = strlen(text);
	if (n >= size)
		return sl__err(SL_EINVAL, "model reference '%.40s...' is too long", text);
	memcpy(buf, text, n + 1);
	at = strchr(buf, '@');
	if (at) {
		buf[at - buf] = '\0';
		*out_ref = at + 1;
		if (!**out_ref)
			return sl__err(SL_EINVAL, "'%s' names no version after '@' (NAME@VERSION, "
						  "NAME@ALIAS or NAME@latest)",
				       text);
		if (strchr(*out_ref, '@'))
			return sl__err(SL_EINVAL, "'%s' has more than one '@'", text);
	}
	*out_name = buf;
	return store_check_model_name(buf);
}

/* ---- errors that say what exists ------------------------------------------------ */

typedef struct name_list {
	char names[NAMES_SHOWN][STORE_NAME_MAX + 1];
	size_t n;
	bool more;
} name_list;

static int row_name(void *ud, int ncol, const sq_val *c)
{
	name_list *l = ud;

	if (ncol < 1 || c[0].type != SQ_TEXT)
		return 0;
	if (l->n == NAMES_SHOWN) {
		l->more = true;
		return 0;
	}
	snprintf(l->names[l->n++], sizeof l->names[0], "%s", c[0].s);
	return 0;
}

/*
 * "did you mean 'x'?; NOUN: a, b, c" for a message, from a one-column query
 * (word NULL: no suggestion).
 */
static void known_names(store *s, const char *sql, const char *arg, const char *word,
			const char *noun, char *out, size_t size)
{
	name_list l = {0};
	sq_val p[] = {S(arg)};
	const char *ptrs[NAMES_SHOWN];
	const char *best;
	size_t len = 0;

	out[0] = '\0';
	if ((arg ? Q(s, sql, p, row_name, &l) : Q0(s, sql, row_name, &l)) != 0 || l.n == 0) {
		sl__err_clear();
		return;
	}
	for (size_t i = 0; i < l.n; i++)
		ptrs[i] = l.names[i];
	best = word ? sl__suggest(word, ptrs, l.n) : NULL;
	if (best)
		len += (size_t)snprintf(out + len, size - len, " (did you mean '%s'?)", best);
	if (len < size)
		len += (size_t)snprintf(out + len, size - len, "; %s: ", noun);
	for (size_t i = 0; i < l.n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", l.names[i]);
	if (l.more && len < size)
		snprintf(out + len, size - len, ", ...");
}

static int no_model(store *s, const char *name)
{
	char known[1024];

	known_names(s, "SELECT name FROM models ORDER BY name LIMIT 21", NULL, name,
		    "registered models", known, sizeof known);
	if (!known[0])
		return sl__err(SL_ENOENT, "no model named '%s' is registered (none is yet: a "
					  "pipeline's register step adds them)",
			       name);
	return sl__err(SL_ENOENT, "no model named '%s' is registered%s", name, known);
}

/* ---- locking and resolving (inside a transaction) ------------------------------- */

/* A model's row as model_lock reads it: v[0] changes, v[1] last_version. */
typedef st_i64s model_row;
#define CHANGES(m) ((m)->v[0])
#define LAST_VERSION(m) ((m)->v[1])

/*
 * Bumps the model's change counter, which takes its row lock (design note
 * 1), and reads the row. With create, a missing model is made first.
 */
static int model_lock(store *s, const char *name, bool create, model_row *out)
{
	int64_t now = sl__now_ms();
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (create) {
		sq_val p[] = {S(name), SQ_I(now), SQ_I(now)};
		rc = Q(s,
		       "INSERT INTO models (name, last_version, changes, created_ms, updated_ms) "
		       "VALUES (?, 0, 0, ?, ?) ON CONFLICT (name) DO NOTHING",
		       p, NULL, NULL);
	}
	if (rc == 0) {
		sq_val p[] = {SQ_I(now), S(name)};
		rc = Q(s, "UPDATE models SET changes = changes + 1, updated_ms = ? WHERE name = ?", p,
		       NULL, NULL);
	}
	if (rc == 0) {
		sq_val p[] = {S(name)};
		rc = Q(s, "SELECT changes, last_version FROM models WHERE name = ?", p, st_row_i64s,
		       out);
	}
	if (rc == 0 && !out->found)
		rc = no_model(s, name);
	return rc;
}

typedef struct ver_row {
	bool found;
	int64_t version;
	char bundle[SL__HASH_HEX_SIZE];
	char verdict[8];
} ver_row;

/* Columns: version, bundle, verdict. */
static int row_ver(void *ud, int ncol, const sq_val *c)
{
	ver_row *v = ud;

	if (v->found || ncol < 3)
		return 0;
	v->found = true;
	v->version = c[0].type == SQ_INT ? c[0].i : 0;
	snprintf(v->bundle, sizeof v->bundle, "%s", c[1].type == SQ_TEXT ? c[1].s : "");
	snprintf(v->verdict, sizeof v->verdict, "%s", c[2].type == SQ_TEXT ? c[2].s : "");
	return 0;
}

static int get_version(store *s, const char *name, int64_t version, ver_row *out)
{
	sq_val p[] = {S(name), SQ_I(version)};

	memset(out, 0, sizeof *out);
	return Q(s, "SELECT version, bundle, verdict FROM model_versions WHERE model = ? AND version = ?",
		 p, row_ver, out);
}

/* Why a version number names nothing: never made, or deleted. */
static int no_version(store *s, const char *name, int64_t version)
{
	st_one_i64 last = {0}, newest = {0};
	sq_val p[] = {S(name)};
	char aliases[1024];

	if (Q(s, "SELECT last_version FROM models WHERE name = ?", p, st_row_one_i64, &last) ||
	    Q(s, "SELECT MAX(version) FROM model_versions WHERE model = ?", p, st_row_one_i64,
	      &newest))
		sl__err_clear();
	/* Where the aliases point, the names a user most likely meant. */
	known_names(s,
		    "SELECT alias || '=' || CAST(version AS TEXT) FROM model_aliases WHERE model = ? "
		    "ORDER BY alias",
		    name, NULL, "its aliases", aliases, sizeof aliases);
	if (last.found && version >= 1 && version <= last.v)
		return sl__err(SL_ENOENT, "version %lld of model '%s' was deleted%s",
			       (long long)version, name, aliases);
	if (newest.found && !newest.null)
		return sl__err(SL_ENOENT, "model '%s' has no version %lld (the newest is %lld)%s",
			       name, (long long)version, (long long)newest.v, aliases);
	return sl__err(SL_ENOENT, "model '%s' has no version %lld (it has no versions)", name,
		       (long long)version);
}

/*
 * Resolves ref (digits, "latest" or an alias) to a version of model name,
 * which must exist (store locked, inside a transaction).
 */
static int ref_version(store *s, const char *name, const char *ref, store_model_ref *out)
{
	ver_row v = {0};
	int rc;

	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", name);
	if (!ref || !*ref)
		return sl__err(SL_EINVAL, "model '%s': which version? (NAME@VERSION, NAME@ALIAS or "
					  "NAME@latest)",
			       name);
	if (all_digits(ref)) {
		int64_t n;
		if (!sl__parse_i64(ref, &n) || n < 1)
			return sl__err(SL_EINVAL, "'%s' is not a version number (they start at 1)", ref);
		if ((rc = get_version(s, name, n, &v)) != 0)
			return rc;
		if (!v.found)
			return no_version(s, name, n);
	} else if (!strcmp(ref, "latest")) {
		sq_val p[] = {S(name)};
		rc = Q(s,
		       "SELECT version, bundle, verdict FROM model_versions WHERE model = ? "
		       "ORDER BY version DESC LIMIT 1",
		       p, row_ver, &v);
		if (rc)
			return rc;
		if (!v.found)
			return sl__err(SL_ENOENT, "model '%s' has no versions", name);
	} else {
		sq_val p[] = {S(name), S(ref)};
		rc = Q(s,
		       "SELECT v.version, v.bundle, v.verdict FROM model_aliases a "
		       "JOIN model_versions v ON v.model = a.model AND v.version = a.version "
		       "WHERE a.model = ? AND a.alias = ?",
		       p, row_ver, &v);
		if (rc)
			return rc;
		if (!v.found) {
			char known[1024];
			known_names(s, "SELECT alias FROM model_aliases WHERE model = ? ORDER BY alias",
				    name, ref, "its aliases", known, sizeof known);
			if (store_check_alias_name(ref) != 0)
				return sl__err(SL_EINVAL, "model '%s': '%s' is neither a version number "
							  "nor an alias name",
					       name, ref);
			return sl__err(SL_ENOENT, "model '%s' has no alias '%s'%s", name, ref,
				       known[0] ? known : " (it has no aliases)");
		}
		snprintf(out->alias, sizeof out->alias, "%s", ref);
	}
	out->version = v.version;
	memcpy(out->bundle, v.bundle, sizeof out->bundle);
	memcpy(out->verdict, v.verdict, sizeof out->verdict);
	return 0;
}

/* ---- alias moves ------------------------------------------------------------------ */

/* Columns of a history record, in the order of history_view. */
#define HISTORY_COLS                                                                         \
	"h.seq, h.alias, h.from_version, h.to_version, h.at_ms, h.who, h.reason, h.forced, "   \
	"h.kind, sr.run_id, h.step_run, h.undoes FROM alias_history h "                        \
	"LEFT JOIN step_runs sr ON sr.id = h.step_run "

static const jv_field history_view[] = {
	{"alias", JV_STR, 1, 0, NULL},
	{"from", JV_INT, 2, 0, NULL},
	{"to", JV_INT, 3, 0, NULL},
	{"at", JV_TIME, 4, 0, NULL},
	{"reason", JV_STR, 6, 0, NULL},
	{"who", JV_STR, 5, 0, NULL},
	{"forced", JV_BOOL, 7, 0, NULL},
	{"kind", JV_STR, 8, 0, NULL},
	{"seq", JV_INT, 0, 0, NULL},
	{"run", JV_STR, 9, 0, NULL},
	{"step_run", JV_STR, 10, 0, NULL},
	{"undoes", JV_INT, 11, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

static int record_json(store *s, const char *name, int64_t seq, json_t **out)
{
	jv_ctx x = {.fields = history_view, .dedup_col = -1};
	sq_val p[] = {S(name), SQ_I(seq)};
	int rc = Q(s, "SELECT " HISTORY_COLS "WHERE h.model = ? AND h.seq = ?", p, st_row_view, &x);

	if (rc == 0 && !x.obj)
		rc = sl__err(SL_ESTORE, "the alias move just recorded is missing");
	if (rc) {
		json_decref(x.obj);
		return rc;
	}
	*out = x.obj;
	return 0;
}

typedef struct alias_move {
	const char *name, *alias;
	int64_t to;       /* 0: remove the alias */
	int64_t seq;      /* the model's change count (design note 4) */
	const char *kind; /* register, promote, rollback */
	bool forced;
	int64_t undoes;   /* rollback: the seq of the move undone, else 0 */
	const store_move *m;
} alias_move;

/*
 * Points the alias at mv->to (or removes it) and records the move. When the
 * alias already points there, nothing changes and *out_moved is false.
 */
static int move_alias(store *s, const alias_move *mv, bool *out_moved)
{
	st_one_i64 cur = {0};
	char who[128];
	int rc;

	*out_moved = false;
	{
		sq_val p[] = {S(mv->name), S(mv->alias)};
		rc = Q(s, "SELECT version FROM model_aliases WHERE model = ? AND alias = ?", p,
		       st_row_one_i64, &cur);
	}
	if (rc)
		return rc;
	if ((cur.found && cur.v == mv->to) || (!cur.found && mv->to == 0))
		return 0;
	if (mv->to > 0) {
		sq_val p[] = {S(mv->name), S(mv->alias), SQ_I(mv->to)};
		rc = Q(s,
		       "INSERT INTO model_aliases (model, alias, version) VALUES (?, ?, ?) "
		       "ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version",
		       p, NULL, NULL);
	} else {
		sq_val p[] = {S(mv->name), S(mv->alias)};
		rc = Q(s, "DELETE FROM model_aliases WHERE model = ? AND alias = ?", p, NULL, NULL);
	}
	if (rc)
		return rc;
	if (mv->m && mv->m->who)
		snprintf(who, sizeof who, "%s", mv->m->who);
	else
		sl__user_name(who, sizeof who);
	{
		sq_val p[] = {S(mv->name),
			      SQ_I(mv->seq),
			      S(mv->alias),
			      cur.found ? SQ_I(cur.v) : SQ_NUL,
			      mv->to > 0 ? SQ_I(mv->to) : SQ_NUL,
			      SQ_I(sl__now_ms()),
			      S(who),
			      S(mv->m ? mv->m->reason : NULL),
			      SQ_I(mv->forced ? 1 : 0),
			      S(mv->kind),
			      mv->undoes > 0 ? SQ_I(mv->undoes) : SQ_NUL,
			      S(mv->m ? mv->m->step_run : NULL)};
		rc = Q(s,
		       "INSERT INTO alias_history (model, seq, alias, from_version, to_version, "
		       "at_ms, who, reason, forced, kind, undoes, step_run) "
		       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		       p, NULL, NULL);
	}
	if (rc == 0)
		*out_moved = true;
	return rc;
}

/* {"moved": false, "alias", "to"}: the answer to a move that changed nothing. */
static json_t *unmoved_json(const char *alias, int64_t version)
{
	json_t *o = json_object();

	if (!o || st_jset(o, "moved", json_false()) || st_jset(o, "alias", json_string(alias)) ||
	    st_jset(o, "to", version > 0 ? json_integer(version) : json_null())) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The record of the move just made (moved), or the unmoved answer, into *out. */
static int move_result(store *s, const alias_move *mv, bool moved, json_t **out)
{
	if (!out)
		return 0;
	if (!moved)
		return (*out = unmoved_json(mv->alias, mv->to)) ? 0 : st_nomem_json();
	if (record_json(s, mv->name, mv->seq, out) != 0)
		return SL_ENOMEM;
	return st_jset(*out, "moved", json_true()) ? st_nomem_json() : 0;
}

/* ---- register --------------------------------------------------------------------- */

static int check_verdict(const char *v)
{
	if (v && (!strcmp(v, VERDICT_PASSED) || !strcmp(v, VERDICT_FAILED) ||
		  !strcmp(v, VERDICT_NONE)))
		return 0;
	return sl__err(SL_EINVAL, "verdict '%s' is not passed, failed or none", v ? v : "(null)");
}

int st_model_register(store *s, const store_version_new *v, int64_t *out_version,
		      bool *out_reused)
{
	model_row mr;
	ver_row newest = {0};
	int64_t version;
	bool reused, moved;
	int rc;

	if ((rc = store_check_model_name(v->model)) != 0 || (rc = check_verdict(v->verdict)) != 0 ||
	    (rc = st_check_artifact_id(v->bundle)) != 0 ||
	    (rc = st_check_json_object("version metrics", v->metrics_json)) != 0)
		return rc;
	if (v->alias && (rc = store_check_alias_name(v->alias)) != 0)
		return rc;
	if (v->alias && strcmp(v->verdict, VERDICT_PASSED) != 0)
		return sl__err(SL_EGATE,
			       "model '%s': alias '%s' is only given to a bundle whose verdict is "
			       "passed, and this one's is %s",
			       v->model, v->alias, v->verdict);
	if ((rc = st_must_exist(s, "SELECT 1 FROM artifacts WHERE id = ?", "artifact", v->bundle)))
		return rc;
	if ((rc = model_lock(s, v->model, true, &mr)) != 0)
		return rc;
	{
		sq_val p[] = {S(v->model)};
		rc = Q(s,
		       "SELECT version, bundle, verdict FROM model_versions WHERE model = ? "
		       "ORDER BY version DESC LIMIT 1",
		       p, row_ver, &newest);
	}
	if (rc)
		return rc;
	reused = newest.found && !strcmp(newest.bundle, v->bundle);
	version = reused ? newest.version : LAST_VERSION(&mr) + 1;
	if (!reused) {
		char who[128];
		sq_val up[] = {SQ_I(version), S(v->model)};
		if (v->move.who)
			snprintf(who, sizeof who, "%s", v->move.who);
		else
			sl__user_name(who, sizeof who);
		sq_val ins[] = {S(v->model),	 SQ_I(version),	       S(v->bundle),
				S(v->run_id),	 S(v->move.step_run),  SQ_I(sl__now_ms()),
				S(who),		 S(v->algorithm),      S(v->metrics_json),
				S(v->verdict)};
		rc = Q(s, "UPDATE models SET last_version = ? WHERE name = ?", up, NULL, NULL);
		if (rc == 0)
			rc = Q(s,
			       "INSERT INTO model_versions (model, version, bundle, run_id, step_run, "
			       "created_ms, created_by, algorithm, metrics, verdict) "
			       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       ins, NULL, NULL);
		if (rc)
			return rc;
	}
	if (v->alias) {
		alias_move mv = {.name = v->model, .alias = v->alias, .to = version,
				 .seq = CHANGES(&mr), .kind = "register", .m = &v->move};
		if ((rc = move_alias(s, &mv, &moved)) != 0)
			return rc;
	}
	if (out_version)
		*out_version = version;
	if (out_reused)
		*out_reused = reused;
	return 0;
}

int store_model_register(store *s, const store_version_new *v, int64_t *out_version,
			 bool *out_reused)
{
	int rc;

	if (!s || !v)
		return sl__err(SL_EINVAL, "store_model_register: invalid argument");
	st_lock(s);
	rc = st_begin(s, true);
	if (rc == 0)
		rc = st_model_register(s, v, out_version, out_reused);
	rc = st_end(s, rc);
	st_unlock(s);
	return rc ? sl__err_prefix(rc, "registering model '%s'", v->model ? v->model : "") : 0;
}

/* ---- promote, rollback, delete, tag ------------------------------------------------- */

/* The body of every write below: the model locked, a transaction open. */
typedef int (*model_write_fn)(store *s, const model_row *mr, void *arg);

static int model_write(store *s, const char *name, model_write_fn fn, void *arg)
{
	model_row mr;
	int rc;

	if ((rc = store_check_model_name(name)) != 0)
		return rc;
	st_lock(s);
	rc = st_begin(s, true);
	if (rc == 0)
		rc = model_lock(s, name, false, &mr);
	if (rc == 0)
		rc = fn(s, &mr, arg);
	rc = st_end(s, rc);
	st_unlock(s);
	return rc;
}

typedef struct promote_arg {
	const char *name, *ref, *alias;
	const store_move *m;
	json_t **out;
} promote_arg;

static int do_promote(store *s, const model_row *mr, void *arg)
{
	promote_arg *a = arg;
	store_model_ref r;
	bool forced, moved;
	int rc = ref_version(s, a->name, a->ref, &r);

	if (rc)
		return rc;
	forced = strcmp(r.verdict, VERDICT_PASSED) != 0;
	if (forced && !(a->m && a->m->force))
		return sl__err(SL_EGATE,
			       "version %lld of model '%s' has verdict '%s', not passed; to promote it "
			       "anyway give --force and a --reason, which are recorded",
			       (long long)r.version, a->name, r.verdict);
	{
		alias_move mv = {.name = a->name, .alias = a->alias, .to = r.version,
				 .seq = CHANGES(mr), .kind = "promote", .forced = forced, .m = a->m};
		rc = move_alias(s, &mv, &moved);
		if (rc == 0)
			rc = move_result(s, &mv, moved, a->out);
	}
	return rc;
}

int store_model_promote(store *s, const char *name, const char *ref, const char *alias,
			const store_move *m, json_t **out_record)
{
	promote_arg a = {name, ref, alias, m, out_record};
	int rc;

	if (out_record)
		*out_record = NULL;
	if (!s)
		return sl__err(SL_EINVAL, "store_model_promote: store is NULL");
	if ((rc = store_check_alias_name(alias)) != 0)
		return rc;
	if (m && m->force && (!m->reason || !*m->reason))
		return sl__err(SL_EINVAL, "--force needs a --reason: it is recorded in the alias's "
					  "history");
	rc = model_write(s, name, do_promote, &a);
	if (rc && out_record) {
		json_decref(*out_record);
		*out_record = NULL;
	}
	return rc;
}

typedef struct rollback_arg {
	const char *name, *alias;
	const store_move *m;
	json_t **out;
} rollback_arg;

static int do_rollback(store *s, const model_row *mr, void *arg)
{
	rollback_arg *a = arg;
	st_i64s u = {0}; /* the move to undo: seq, from_version, to_version */
	st_one_i64 cur = {0};
	char reason[256];
	store_move m;
	bool moved;
	int rc;

	{
		/* The newest move that is not itself a rollback and that no rollback
		 * has undone (design note 3): rollbacks form a stack. */
		sq_val p[] = {S(a->name), S(a->alias)};
		rc = Q(s,
		       "SELECT h.seq, h.from_version, h.to_version FROM alias_history h "
		       "WHERE h.model = ? AND h.alias = ? AND h.kind <> 'rollback' AND NOT EXISTS "
		       "(SELECT 1 FROM alias_history r WHERE r.model = h.model AND r.undoes = h.seq) "
		       "ORDER BY h.seq DESC LIMIT 1",
		       p, st_row_i64s, &u);
	}
	if (rc == 0) {
		sq_val p[] = {S(a->name), S(a->alias)};
		rc = Q(s, "SELECT version FROM model_aliases WHERE model = ? AND alias = ?", p,
		       st_row_one_i64, &cur);
	}
	if (rc)
		return rc;
	if (!u.found) {
		st_one_i64 any = {0};
		sq_val p[] = {S(a->name), S(a->alias)};
		if ((rc = Q(s, "SELECT 1 FROM alias_history WHERE model = ? AND alias = ? LIMIT 1", p,
			    st_row_one_i64, &any)) != 0)
			return rc;
		if (!any.found) {
			char known[1024];
			known_names(s, "SELECT alias FROM model_aliases WHERE model = ? ORDER BY alias",
				    a->name, a->alias, "its aliases", known, sizeof known);
			return sl__err(SL_ENOENT, "model '%s' has no alias '%s'%s", a->name, a->alias,
				       known[0] ? known : " (it has no aliases)");
		}
		return sl__err(SL_ENOENT, "alias '%s' of model '%s' has no move left to roll back",
			       a->alias, a->name);
	}
	if (u.null[2] ? cur.found : (!cur.found || cur.v != u.v[2]))
		return sl__err(SL_ESTORE,
			       "alias '%s' of model '%s' does not point where its history says "
			       "(move %lld); promote it explicitly instead",
			       a->alias, a->name, (long long)u.v[0]);
	if (!u.null[1]) {
		ver_row v;
		if ((rc = get_version(s, a->name, u.v[1], &v)) != 0)
			return rc;
		if (!v.found)
			return sl__err(SL_ENOENT,
				       "alias '%s' of model '%s' was on version %lld before, which was "
				       "deleted; promote another version instead",
				       a->alias, a->name, (long long)u.v[1]);
	}
	m = a->m ? *a->m : (store_move){0};
	if (!m.reason || !*m.reason) {
		snprintf(reason, sizeof reason, "rollback of move %lld", (long long)u.v[0]);
		m.reason = reason;
	}
	{
		alias_move mv = {.name = a->name, .alias = a->alias, .to = u.null[1] ? 0 : u.v[1],
				 .seq = CHANGES(mr), .kind = "rollback", .undoes = u.v[0], .m = &m};
		rc = move_alias(s, &mv, &moved);
		if (rc == 0)
			rc = move_result(s, &mv, moved, a->out);
	}
	return rc;
}

int store_model_rollback(store *s, const char *name, const char *alias, const store_move *m,
			 json_t **out_record)
{
	rollback_arg a = {name, alias, m, out_record};
	int rc;

	if (out_record)
		*out_record = NULL;
	if (!s)
		return sl__err(SL_EINVAL, "store_model_rollback: store is NULL");
	if ((rc = store_check_alias_name(alias)) != 0)
		return rc;
	rc = model_write(s, name, do_rollback, &a);
	if (rc && out_record) {
		json_decref(*out_record);
		*out_record = NULL;
	}
	return rc;
}

typedef struct ref_arg {
	const char *name, *ref, *key, *value;
} ref_arg;

static int do_delete(store *s, const model_row *mr, void *arg)
{
	ref_arg *a = arg;
	store_model_ref r;
	name_list l = {0};
	int rc;

	(void)mr;
	if ((rc = ref_version(s, a->name, a->ref, &r)) != 0)
		return rc;
	{
		sq_val p[] = {S(a->name), SQ_I(r.version)};
		rc = Q(s,
		       "SELECT alias FROM model_aliases WHERE model = ? AND version = ? ORDER BY alias",
		       p, row_name, &l);
	}
	if (rc)
		return rc;
	if (l.n)
		return sl__err(SL_EINVAL,
			       "version %lld of model '%s' is behind alias '%s'%s; move the alias "
			       "first (sluice models promote %s VERSION --to %s)",
			       (long long)r.version, a->name, l.names[0], l.n > 1 ? " and others" : "",
			       a->name, l.names[0]);
	{
		sq_val p[] = {S(a->name), SQ_I(r.version)};
		rc = Q(s, "DELETE FROM model_tags WHERE model = ? AND version = ?", p, NULL, NULL);
		if (rc == 0)
			rc = Q(s, "DELETE FROM model_versions WHERE model = ? AND version = ?", p, NULL,
			       NULL);
	}
	return rc;
}

int store_model_delete(store *s, const char *name, const char *ref)
{
	ref_arg a = {name, ref, NULL, NULL};

	if (!s)
		return sl__err(SL_EINVAL, "store_model_delete: store is NULL");
	return model_write(s, name, do_delete, &a);
}

static int do_tag(store *s, const model_row *mr, void *arg)
{
	ref_arg *a = arg;
	store_model_ref r;
	int rc;

	(void)mr;
	if ((rc = ref_version(s, a->name, a->ref, &r)) != 0)
		return rc;
	if (a->value) {
		sq_val p[] = {S(a->name), SQ_I(r.version), S(a->key), S(a->value)};
		return Q(s,
			 "INSERT INTO model_tags (model, version, tag, value) VALUES (?, ?, ?, ?) "
			 "ON CONFLICT (model, version, tag) DO UPDATE SET value = excluded.value",
			 p, NULL, NULL);
	}
	{
		sq_val p[] = {S(a->name), SQ_I(r.version), S(a->key)};
		return Q(s, "DELETE FROM model_tags WHERE model = ? AND version = ? AND tag = ?", p,
			 NULL, NULL);
	}
}

int store_model_tag(store *s, const char *name, const char *ref, const char *key,
		    const char *value)
{
	ref_arg a = {name, ref, key, value};
	size_t n = key ? strlen(key) : 0;

	if (!s)
		return sl__err(SL_EINVAL, "store_model_tag: store is NULL");
	if (n == 0 || n > TAG_KEY_MAX || strchr(key, '='))
		return sl__err(SL_EINVAL, "a tag key is 1 to %d characters without '='", TAG_KEY_MAX);
	if (value && strlen(value) > TAG_VALUE_MAX)
		return sl__err(SL_EINVAL, "tag '%s': a value is at most %d bytes", key, TAG_VALUE_MAX);
	return model_write(s, name, do_tag, &a);
}

/* ---- reads ------------------------------------------------------------------------ */

int store_model_resolve(store *s, const char *name, const char *ref, store_model_ref *out)
{
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_model_resolve: invalid argument");
	if ((rc = store_check_model_name(name)) != 0)
		return rc;
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0) {
		st_one_i64 o = {0};
		sq_val p[] = {S(name)};
		rc = Q(s, "SELECT 1 FROM models WHERE name = ?", p, st_row_one_i64, &o);
		if (rc == 0 && !o.found)
			rc = no_model(s, name);
		if (rc == 0)
			rc = ref_version(s, name, ref, out);
		rc = st_end(s, rc);
	}
	st_unlock(s);
	return rc;
}

int store_model_changes(store *s, const char *name, int64_t *out)
{
	st_one_i64 o = {0};
	sq_val p[] = {S(name)};
	int rc;

	if (!s || !name || !out)
		return sl__err(SL_EINVAL, "store_model_changes: invalid argument");
	st_lock(s);
	rc = Q(s, "SELECT changes FROM models WHERE name = ?", p, st_row_one_i64, &o);
	if (rc == 0 && !o.found)
		rc = no_model(s, name);
	st_unlock(s);
	if (rc == 0)
		*out = o.v;
	return rc;
}

/* ---- JSON views ------------------------------------------------------------------- */

/*
 * Views written as text (st_jw_*), one object per line: a list of 1,000
 * models or the model of 10,000 versions is then printed in a fraction of
 * what building and dumping objects takes.
 *
 * A grouped stream: rows ordered by a group key (the first key_cols
 * columns), each group one object of the table's fields followed by an
 * object (sub_key) of the rows' (name, value) pairs, such as a model's
 * aliases or a version's tags.
 */
typedef struct gstream {
	sl__buf b;       /* the text, owned by the stream until handed out */
	const jv_field *fields;
	int key_cols;
	const char *sub_key;
	int sub_name, sub_value;
	bool sub_int;    /* the values are integers, else text */
	char last[256];  /* the current group's key */
	size_t n;
	bool first_sub;
} gstream;

static int gs_close(gstream *x)
{
	return x->n ? sl__buf_puts(&x->b, "}}") : 0;
}

static int row_gstream(void *ud, int ncol, const sq_val *c)
{
	gstream *x = ud;
	char key[256];
	size_t len = 0;
	int rc = 0;

	if (ncol <= x->sub_value)
		return 0;
	key[0] = '\0';
	for (int k = 0; k < x->key_cols; k++) {
		if (c[k].type == SQ_TEXT)
			len += (size_t)snprintf(key + len, sizeof key - len, "%s\x1f", c[k].s);
		else if (c[k].type == SQ_INT)
			len += (size_t)snprintf(key + len, sizeof key - len, "%lld\x1f", (long long)c[k].i);
		if (len >= sizeof key)
			len = sizeof key - 1;
	}
	if (!x->n || strcmp(key, x->last) != 0) {
		rc = gs_close(x);
		if (rc == 0)
			rc = sl__buf_puts(&x->b, x->n ? ",\n  {" : "\n  {");
		if (rc == 0)
			rc = st_jw_fields(&x->b, x->fields, ncol, c);
		if (rc == 0)
			rc = sl__buf_printf(&x->b, ", \"%s\": {", x->sub_key);
		snprintf(x->last, sizeof x->last, "%s", key);
		x->n++;
		x->first_sub = true;
	}
	if (rc == 0 && c[x->sub_name].type == SQ_TEXT) {
		const sq_val *v = &c[x->sub_value];
		rc = x->first_sub ? 0 : sl__buf_puts(&x->b, ", ");
		if (rc == 0)
			rc = st_jw_str(&x->b, c[x->sub_name].s);
		if (rc == 0)
			rc = sl__buf_puts(&x->b, ": ");
		if (rc == 0 && x->sub_int)
			rc = sl__buf_printf(&x->b, "%lld", (long long)(v->type == SQ_INT ? v->i : 0));
		else if (rc == 0)
			rc = st_jw_str(&x->b, v->type == SQ_TEXT ? v->s : NULL);
		x->first_sub = false;
	}
	return rc;
}

/* Runs a grouped view's query into a JSON array's text (*out, sl__free). */
/* The stream's rows as a JSON array into x->b; the caller holds a read transaction. */
static int gstream_rows(store *s, gstream *x, const char *sql, int np, const sq_val *p)
{
	int rc = sl__buf_putc(&x->b, '[');

	if (rc == 0)
		rc = s->drv->exec(s->conn, sql, np, p, row_gstream, x);
	if (rc == 0)
		rc = gs_close(x);
	if (rc == 0)
		rc = sl__buf_puts(&x->b, x->n ? "\n]" : "]");
	return rc;
}

static int gstream_text(store *s, gstream *x, const char *sql, int np, const sq_val *p,
			char **out)
{
	int rc;

	*out = NULL;
	sl__buf_init(&x->b, 0);
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = gstream_rows(s, x, sql, np, p);
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0 && !(*out = sl__buf_detach(&x->b)))
		rc = sl__oom();
	if (rc)
		sl__buf_free(&x->b);
	return rc;
}

/* A view's text as objects, for callers that want them (tests, the API's users). */
static int text_json(int rc, char *text, json_t **out)
{
	json_error_t e;
	bool oom = false;

	*out = NULL;
	if (rc)
		return rc;
	*out = sl__json_loadb(text, strlen(text), 0, &e, &oom);
	sl__free(text);
	if (!*out)
		return oom ? sl__oom()
			   : sl__err(SL_ESTORE, "a registry view is not JSON: %s (line %d)", e.text,
				     e.line);
	return 0;
}

/* Columns: 0 name, 1 versions, 2 latest, 3 created, 4 updated, 5 alias, 6 its version. */
static const jv_field models_view[] = {
	{"name", JV_STR, 0, 0, NULL},
	{"versions", JV_INT, 1, 0, NULL},
	{"latest", JV_INT, 2, 0, NULL},
	{"created", JV_TIME, 3, 0, NULL},
	{"updated", JV_TIME, 4, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

int store_models_text(store *s, char **out)
{
	gstream x = {.fields = models_view, .key_cols = 1, .sub_key = "aliases", .sub_name = 5,
		     .sub_value = 6, .sub_int = true};

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_models_text: invalid argument");
	return gstream_text(s, &x,
			    "SELECT m.name, (SELECT COUNT(*) FROM model_versions v WHERE v.model = m.name), "
			    "(SELECT MAX(v.version) FROM model_versions v WHERE v.model = m.name), "
			    "m.created_ms, m.updated_ms, a.alias, a.version FROM models m "
			    "LEFT JOIN model_aliases a ON a.model = m.name ORDER BY m.name, a.alias",
			    0, NULL, out);
}

int store_models_page_text(store *s, const char *search, int64_t offset, int64_t limit,
			   char **out)
{
	gstream x = {.fields = models_view, .key_cols = 1, .sub_key = "aliases", .sub_name = 5,
		     .sub_value = 6, .sub_int = true};
	st_one_i64 total = {0};
	char *like = st_like_pattern(search), *items = NULL;
	sl__buf b;
	int rc;

	if (out)
		*out = NULL;
	if (!s || !out || offset < 0 || limit < 1) {
		sl__free(like);
		return sl__err(SL_EINVAL, "store_models_page_text: invalid argument");
	}
	if (search && *search && !like)
		return sl__oom();
	sl__buf_init(&x.b, 0);
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0) {
		sq_val p[] = {S(like), S(like)};
		rc = Q(s,
		       "SELECT COUNT(*) FROM models WHERE (CAST(? AS TEXT) IS NULL OR name LIKE ? "
		       "ESCAPE '\\')",
		       p, st_row_one_i64, &total);
	}
	if (rc == 0) {
		sq_val p[] = {S(like), S(like), SQ_I(limit), SQ_I(offset)};
		rc = gstream_rows(s, &x,
				  "SELECT m.name, (SELECT COUNT(*) FROM model_versions v WHERE v.model = "
				  "m.name), (SELECT MAX(v.version) FROM model_versions v WHERE v.model = "
				  "m.name), m.created_ms, m.updated_ms, a.alias, a.version FROM (SELECT "
				  "name, created_ms, updated_ms FROM models WHERE (CAST(? AS TEXT) IS NULL "
				  "OR name LIKE ? ESCAPE '\\') ORDER BY name LIMIT ? OFFSET ?) m LEFT JOIN "
				  "model_aliases a ON a.model = m.name ORDER BY m.name, a.alias",
				  (int)SL__ARRAY_LEN(p), p);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	sl__free(like);
	if (rc == 0 && !(items = sl__buf_detach(&x.b)))
		rc = sl__oom();
	sl__buf_free(&x.b);
	if (rc)
		return rc;
	sl__buf_init(&b, 0);
	rc = sl__buf_printf(&b, "{\"total\":%lld,\"offset\":%lld,\"limit\":%lld,\"items\":%s}",
			    (long long)total.v, (long long)offset, (long long)limit, items);
	sl__free(items);
	if (rc || !(*out = sl__buf_detach(&b))) {
		sl__buf_free(&b);
		return sl__oom();
	}
	return 0;
}

int store_models_json(store *s, json_t **out)
{
	char *text = NULL;
	int rc;

	if (!out)
		return sl__err(SL_EINVAL, "store_models_json: invalid argument");
	rc = store_models_text(s, &text); /* before text is read */
	return text_json(rc, text, out);
}

/*
 * The model view is written as text (st_jw_*), not built as objects: with
 * 10,000 versions building and dumping objects cost ten times more, and
 * `sluice models show` answers within 50 ms. One object per line.
 */

/* Columns: 0 version, 1 bundle, 2 run, 3 created, 4 algorithm, 5 metrics, 6 verdict,
 * 7 created_by, 8 step_run. "aliases" and "tags" follow these. */
static const jv_field version_view[] = {
	{"version", JV_INT, 0, 0, NULL},
	{"bundle", JV_STR, 1, 0, NULL},
	{"run", JV_STR, 2, 0, NULL},
	{"created", JV_TIME, 3, 0, NULL},
	{"algorithm", JV_STR, 4, 0, NULL},
	{"metrics", JV_JSON_OBJ, 5, 0, NULL},
	{"verdict", JV_STR, 6, 0, NULL},
	{"created_by", JV_STR, 7, 0, NULL},
	{"step_run", JV_STR, 8, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

#define VERSION_COLS                                                                         \
	"version, bundle, run_id, created_ms, algorithm, metrics, verdict, created_by, "       \
	"step_run FROM model_versions "

/*
 * The tags of the versions written, read first in version order and merged
 * into the stream: two scans of primary keys instead of a join that probes
 * the tag index once per version.
 */
typedef struct vtag {
	int64_t version;
	size_t tag, value; /* offsets into the arena */
} vtag;

typedef struct vtags {
	vtag *v;
	size_t n, cap, pos;
	sl__buf arena;
	int rc;
} vtags;

static int row_vtag(void *ud, int ncol, const sq_val *c)
{
	vtags *t = ud;
	vtag *e;

	if (ncol < 3 || c[1].type != SQ_TEXT || c[2].type != SQ_TEXT)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		vtag *v = sl__reallocarray(t->v, cap, sizeof *v);
		if (!v)
			return sl__err(SL_ENOMEM, "out of memory reading tags");
		t->v = v;
		t->cap = cap;
	}
	e = &t->v[t->n++];
	e->version = c[0].type == SQ_INT ? c[0].i : 0;
	e->tag = t->arena.len;
	if (sl__buf_append(&t->arena, c[1].s, strlen(c[1].s) + 1))
		return SL_ENOMEM;
	e->value = t->arena.len;
	return sl__buf_append(&t->arena, c[2].s, strlen(c[2].s) + 1);
}

typedef struct vstream {
	sl__buf *b;
	const json_t *aliases; /* alias -> version */
	vtags *tags;
	bool any;
} vstream;

static int row_vstream(void *ud, int ncol, const sq_val *c)
{
	vstream *x = ud;
	vtags *t = x->tags;
	int64_t v = ncol > 0 && c[0].type == SQ_INT ? c[0].i : 0;
	const char *alias;
	json_t *to;
	bool first = true;
	int rc;

	if (ncol < 9)
		return 0;
	rc = sl__buf_puts(x->b, x->any ? ",\n    {" : "\n    {");
	x->any = true;
	if (rc == 0)
		rc = st_jw_fields(x->b, version_view, ncol, c);
	if (rc == 0)
		rc = sl__buf_puts(x->b, ", \"aliases\": [");
	json_object_foreach((json_t *)x->aliases, alias, to) {
		if (rc || json_integer_value(to) != v)
			continue;
		rc = first ? 0 : sl__buf_puts(x->b, ", ");
		if (rc == 0)
			rc = st_jw_str(x->b, alias);
		first = false;
	}
	if (rc == 0)
		rc = sl__buf_puts(x->b, "], \"tags\": {");
	while (t->pos < t->n && t->v[t->pos].version < v)
		t->pos++;
	for (first = true; rc == 0 && t->pos < t->n && t->v[t->pos].version == v; t->pos++) {
		rc = first ? 0 : sl__buf_puts(x->b, ", ");
		if (rc == 0)
			rc = st_jw_str(x->b, t->arena.data + t->v[t->pos].tag);
		if (rc == 0)
			rc = sl__buf_puts(x->b, ": ");
		if (rc == 0)
			rc = st_jw_str(x->b, t->arena.data + t->v[t->pos].value);
		first = false;
	}
	return rc ? rc : sl__buf_puts(x->b, "}}");
}

typedef struct hstream {
	sl__buf *b;
	size_t n;
} hstream;

static int row_hstream(void *ud, int ncol, const sq_val *c)
{
	hstream *x = ud;
	int rc = sl__buf_puts(x->b, x->n++ ? ",\n    {" : "\n    {");

	if (rc == 0)
		rc = st_jw_fields(x->b, history_view, ncol, c);
	return rc ? rc : sl__buf_putc(x->b, '}');
}

/* Rows (alias, version) into the object ud. */
static int row_alias(void *ud, int ncol, const sq_val *c)
{
	if (ncol < 2 || c[0].type != SQ_TEXT)
		return 0;
	if (st_jset(ud, c[0].s, json_integer(c[1].type == SQ_INT ? c[1].i : 0)))
		return st_nomem_json();
	return 0;
}

/* The model view (store locked, inside a read transaction). */
static int model_text(store *s, const char *name, const char *ref, size_t skip, size_t newest,
		      bool page, sl__buf *b)
{
	st_i64s h = {0}; /* created_ms, updated_ms, last_version */
	store_model_ref r;
	json_t *aliases = json_object();
	st_one_i64 total = {0}, from = {0}, upto = {0};
	vtags tags = {0};
	vstream vx = {.b = b, .tags = &tags};
	hstream hx = {.b = b};
	sq_val p1[] = {S(name)};
	int rc;

	memset(&r, 0, sizeof r);
	vx.aliases = aliases;
	sl__buf_init(&tags.arena, 0);
	if (!aliases)
		return st_nomem_json();
	rc = Q(s, "SELECT created_ms, updated_ms, last_version FROM models WHERE name = ?", p1,
	       st_row_i64s, &h);
	if (rc == 0 && !h.found)
		rc = no_model(s, name);
	if (rc == 0 && ref)
		rc = ref_version(s, name, ref, &r);
	if (rc == 0)
		rc = Q(s, "SELECT alias, version FROM model_aliases WHERE model = ? ORDER BY alias", p1,
		       row_alias, aliases);
	if (rc == 0)
		rc = Q(s, "SELECT COUNT(*) FROM model_versions WHERE model = ?", p1, st_row_one_i64,
		       &total);
	if (rc == 0 && !ref && newest > 0) {
		/* The newest versions after the skip-th newest: from the
		 * (skip+newest)-th newest (or the oldest) up to the skip-th. */
		sq_val p[] = {S(name), SQ_I((int64_t)(skip + newest) - 1)};
		rc = Q(s,
		       "SELECT version FROM model_versions WHERE model = ? ORDER BY version DESC "
		       "LIMIT 1 OFFSET ?",
		       p, st_row_one_i64, &from);
		if (rc == 0 && skip > 0) {
			sq_val q[] = {S(name), SQ_I((int64_t)skip)};
			rc = Q(s,
			       "SELECT version FROM model_versions WHERE model = ? ORDER BY version "
			       "DESC LIMIT 1 OFFSET ?",
			       q, st_row_one_i64, &upto);
		}
	}
	/* The head: the DESIGN fields first. */
	if (rc == 0)
		rc = sl__buf_puts(b, "{\n  \"name\": ");
	if (rc == 0)
		rc = st_jw_str(b, name);
	if (rc == 0)
		rc = sl__buf_puts(b, ",\n  \"aliases\": {");
	{
		const char *alias;
		json_t *v;
		bool first = true;
		json_object_foreach(aliases, alias, v) {
			if (rc)
				break;
			rc = first ? 0 : sl__buf_puts(b, ", ");
			if (rc == 0)
				rc = st_jw_str(b, alias);
			if (rc == 0)
				rc = sl__buf_printf(b, ": %lld", (long long)json_integer_value(v));
			first = false;
		}
	}
	if (rc == 0)
		rc = sl__buf_puts(b, "},\n  \"versions\": [");
	{
		/* One version (a ref), or those from `from` on. */
		int64_t lo = ref ? r.version : from.found ? from.v : 0;
		/* Past the last version (skip too large) the page is empty: hi < lo. */
		int64_t hi = ref ? r.version : skip == 0 ? INT64_MAX : upto.found ? upto.v : -1;
		sq_val p[] = {S(name), SQ_I(lo), SQ_I(hi)};
		if (rc == 0)
			rc = Q(s,
			       "SELECT version, tag, value FROM model_tags WHERE model = ? AND "
			       "version >= ? AND version <= ? ORDER BY version, tag",
			       p, row_vtag, &tags);
		if (rc == 0)
			rc = Q(s,
			       "SELECT " VERSION_COLS "WHERE model = ? AND version >= ? AND version <= ? "
			       "ORDER BY version",
			       p, row_vstream, &vx);
	}
	if (rc == 0)
		rc = sl__buf_puts(b, vx.any ? "\n  ],\n  \"history\": [" : "],\n  \"history\": [");
	if (rc == 0 && ref) {
		sq_val p[] = {S(name), SQ_I(r.version), SQ_I(r.version)};
		rc = Q(s,
		       "SELECT " HISTORY_COLS "WHERE h.model = ? AND "
		       "(h.from_version = ? OR h.to_version = ?) ORDER BY h.seq",
		       p, row_hstream, &hx);
	} else if (rc == 0) {
		rc = Q(s, "SELECT " HISTORY_COLS "WHERE h.model = ? ORDER BY h.seq", p1, row_hstream,
		       &hx);
	}
	if (rc == 0)
		rc = sl__buf_puts(b, hx.n ? "\n  ],\n  \"created\": " : "],\n  \"created\": ");
	if (rc == 0)
		rc = st_jw_time(b, h.v[0]);
	if (rc == 0)
		rc = sl__buf_puts(b, ",\n  \"updated\": ");
	if (rc == 0)
		rc = st_jw_time(b, h.v[1]);
	if (rc == 0)
		rc = sl__buf_printf(b, ",\n  \"last_version\": %lld,\n  \"versions_total\": %lld",
				    (long long)h.v[2], (long long)total.v);
	if (rc == 0 && ref)
		rc = sl__buf_printf(b, ",\n  \"version\": %lld", (long long)r.version);
	if (rc == 0 && page)
		rc = sl__buf_printf(b, ",\n  \"offset\": %zu,\n  \"limit\": %zu", skip, newest);
	if (rc == 0)
		rc = sl__buf_puts(b, "\n}");
	json_decref(aliases);
	sl__free(tags.v);
	sl__buf_free(&tags.arena);
	return rc;
}

static int model_text_out(store *s, const char *name, const char *ref, size_t skip,
			  size_t newest, bool page, char **out)
{
	sl__buf b;
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_model_text: invalid argument");
	*out = NULL;
	if ((rc = store_check_model_name(name)) != 0)
		return rc;
	sl__buf_init(&b, 0);
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = model_text(s, name, ref, skip, newest, page, &b);
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc == 0 && !(*out = sl__buf_detach(&b)))
		rc = sl__oom();
	if (rc)
		sl__buf_free(&b);
	return rc;
}

int store_model_text(store *s, const char *name, const char *ref, size_t newest, char **out)
{
	return model_text_out(s, name, ref, 0, newest, false, out);
}

int store_model_page_text(store *s, const char *name, size_t skip, size_t n, char **out)
{
	if (!n)
		return sl__err(SL_EINVAL, "store_model_page_text: a page holds at least 1 version");
	return model_text_out(s, name, NULL, skip, n, true, out);
}

int store_model_json(store *s, const char *name, const char *ref, json_t **out)
{
	char *text = NULL;
	int rc;

	if (!out)
		return sl__err(SL_EINVAL, "store_model_json: invalid argument");
	rc = store_model_text(s, name, ref, 0, &text); /* before text is read */
	return text_json(rc, text, out);
}

int store_model_history_json(store *s, const char *name, const char *alias, json_t **out)
{
	jv_ctx hx = {.fields = history_view, .dedup_col = -1};
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_model_history_json: invalid argument");
	*out = NULL;
	if ((rc = store_check_model_name(name)) != 0 || (alias && (rc = store_check_alias_name(alias)) != 0))
		return rc;
	if (!(hx.arr = json_array()))
		return st_nomem_json();
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0) {
		st_one_i64 o = {0};
		sq_val p[] = {S(name)};
		rc = Q(s, "SELECT 1 FROM models WHERE name = ?", p, st_row_one_i64, &o);
		if (rc == 0 && !o.found)
			rc = no_model(s, name);
	}
	if (rc == 0 && alias) {
		sq_val p[] = {S(name), S(alias)};
		rc = Q(s, "SELECT " HISTORY_COLS "WHERE h.model = ? AND h.alias = ? ORDER BY h.seq", p,
		       st_row_view, &hx);
	} else if (rc == 0) {
		sq_val p[] = {S(name)};
		rc = Q(s, "SELECT " HISTORY_COLS "WHERE h.model = ? ORDER BY h.seq", p, st_row_view,
		       &hx);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc) {
		json_decref(hx.arr);
		return rc;
	}
	*out = hx.arr;
	return 0;
}

/* Columns: 0 model, 1 version, 2 bundle, 3 created, 4 verdict, 5 tag, 6 value. */
static const jv_field search_view[] = {
	{"name", JV_STR, 0, 0, NULL},
	{"version", JV_INT, 1, 0, NULL},
	{"bundle", JV_STR, 2, 0, NULL},
	{"created", JV_TIME, 3, 0, NULL},
	{"verdict", JV_STR, 4, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

int store_model_search_text(store *s, const char *key, const char *value, char **out)
{
	gstream x = {.fields = search_view, .key_cols = 2, .sub_key = "tags", .sub_name = 5,
		     .sub_value = 6};
	sq_val p[] = {S(key), S(value)};

	if (!s || !key || !out)
		return sl__err(SL_EINVAL, "store_model_search_text: invalid argument");
	/* The tag index (tag, value) finds the versions; each comes with all its
	 * tags. Two spellings rather than "? IS NULL": PostgreSQL cannot type a
	 * parameter that is only compared with NULL. */
	return gstream_text(s, &x,
			    value ? "SELECT v.model, v.version, v.bundle, v.created_ms, v.verdict, t2.tag, "
				    "t2.value FROM model_tags t JOIN model_versions v ON v.model = t.model "
				    "AND v.version = t.version JOIN model_tags t2 ON t2.model = v.model AND "
				    "t2.version = v.version WHERE t.tag = ? AND t.value = ? "
				    "ORDER BY v.model, v.version, t2.tag"
				  : "SELECT v.model, v.version, v.bundle, v.created_ms, v.verdict, t2.tag, "
				    "t2.value FROM model_tags t JOIN model_versions v ON v.model = t.model "
				    "AND v.version = t.version JOIN model_tags t2 ON t2.model = v.model AND "
				    "t2.version = v.version WHERE t.tag = ? "
				    "ORDER BY v.model, v.version, t2.tag",
			    value ? 2 : 1, p, out);
}

int store_model_search_json(store *s, const char *key, const char *value, json_t **out)
{
	char *text = NULL;
	int rc;

	if (!out)
		return sl__err(SL_EINVAL, "store_model_search_json: invalid argument");
	rc = store_model_search_text(s, key, value, &text); /* before text is read */
	return text_json(rc, text, out);
}
