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

/* "did you mean 'x'?; NOUN: a, b, c" for a message, from a one-column query. */
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
	best = sl__suggest(word, ptrs, l.n);
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

typedef struct model_row {
	bool found;
	int64_t changes;
	int64_t last_version;
} model_row;

static int row_model(void *ud, int ncol, const sq_val *c)
{
	model_row *m = ud;

	if (ncol < 2)
		return 0;
	m->found = true;
	m->changes = c[0].type == SQ_INT ? c[0].i : 0;
	m->last_version = c[1].type == SQ_INT ? c[1].i : 0;
	return 0;
}

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
		rc = Q(s, "SELECT changes, last_version FROM models WHERE name = ?", p, row_model, out);
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

	if (Q(s, "SELECT last_version FROM models WHERE name = ?", p, st_row_one_i64, &last) ||
	    Q(s, "SELECT MAX(version) FROM model_versions WHERE model = ?", p, st_row_one_i64,
	      &newest))
		sl__err_clear();
	if (last.found && version >= 1 && version <= last.v)
		return sl__err(SL_ENOENT, "version %lld of model '%s' was deleted",
			       (long long)version, name);
	if (newest.found && !newest.null)
		return sl__err(SL_ENOENT, "model '%s' has no version %lld (the newest is %lld)", name,
			       (long long)version, (long long)newest.v);
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
	version = reused ? newest.version : mr.last_version + 1;
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
				 .seq = mr.changes, .kind = "register", .m = &v->move};
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
				 .seq = mr->changes, .kind = "promote", .forced = forced, .m = a->m};
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

typedef struct undo_row {
	bool found;
	int64_t seq, from, to;
	bool from_null, to_null;
} undo_row;

static int row_undo(void *ud, int ncol, const sq_val *c)
{
	undo_row *u = ud;

	if (u->found || ncol < 3)
		return 0;
	u->found = true;
	u->seq = c[0].type == SQ_INT ? c[0].i : 0;
	u->from_null = c[1].type != SQ_INT;
	u->from = u->from_null ? 0 : c[1].i;
	u->to_null = c[2].type != SQ_INT;
	u->to = u->to_null ? 0 : c[2].i;
	return 0;
}

typedef struct rollback_arg {
	const char *name, *alias;
	const store_move *m;
	json_t **out;
} rollback_arg;

static int do_rollback(store *s, const model_row *mr, void *arg)
{
	rollback_arg *a = arg;
	undo_row u = {0};
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
		       p, row_undo, &u);
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
	if (u.to_null ? cur.found : (!cur.found || cur.v != u.to))
		return sl__err(SL_ESTORE,
			       "alias '%s' of model '%s' does not point where its history says "
			       "(move %lld); promote it explicitly instead",
			       a->alias, a->name, (long long)u.seq);
	if (!u.from_null) {
		ver_row v;
		if ((rc = get_version(s, a->name, u.from, &v)) != 0)
			return rc;
		if (!v.found)
			return sl__err(SL_ENOENT,
				       "alias '%s' of model '%s' was on version %lld before, which was "
				       "deleted; promote another version instead",
				       a->alias, a->name, (long long)u.from);
	}
	m = a->m ? *a->m : (store_move){0};
	if (!m.reason || !*m.reason) {
		snprintf(reason, sizeof reason, "rollback of move %lld", (long long)u.seq);
		m.reason = reason;
	}
	{
		alias_move mv = {.name = a->name, .alias = a->alias, .to = u.from_null ? 0 : u.from,
				 .seq = mr->changes, .kind = "rollback", .undoes = u.seq, .m = &m};
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

static const jv_field models_view[] = {
	{"name", JV_STR, 0, 0, NULL},
	{"versions", JV_INT, 1, 0, NULL},
	{"latest", JV_INT, 2, 0, NULL},
	{"aliases", JV_OBJECT, 0, 0, NULL},
	{"created", JV_TIME, 3, 0, NULL},
	{"updated", JV_TIME, 4, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

/* Rows (key, name, value) into index[key][field][name] = value (an integer). */
typedef struct into_ctx {
	json_t *index;
	const char *field;
	bool text_value; /* the value column is text, else an integer */
} into_ctx;

static int row_into(void *ud, int ncol, const sq_val *c)
{
	into_ctx *x = ud;
	json_t *obj, *dst, *v;

	if (ncol < 3 || c[0].type != SQ_TEXT || c[1].type != SQ_TEXT)
		return 0;
	if (!(obj = json_object_get(x->index, c[0].s)) || !(dst = json_object_get(obj, x->field)))
		return 0;
	v = x->text_value ? st_j_str(&c[2]) : json_integer(c[2].type == SQ_INT ? c[2].i : 0);
	if (!v || st_jset(dst, c[1].s, v))
		return st_nomem_json();
	return 0;
}

int store_models_json(store *s, json_t **out)
{
	jv_ctx x = {.fields = models_view, .dedup_col = -1, .index_col = 0};
	into_ctx al;
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_models_json: invalid argument");
	*out = NULL;
	x.arr = json_array();
	x.index = json_object();
	if (!x.arr || !x.index) {
		json_decref(x.arr);
		json_decref(x.index);
		return st_nomem_json();
	}
	al = (into_ctx){.index = x.index, .field = "aliases"};
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0)
		rc = Q0(s,
			"SELECT m.name, (SELECT COUNT(*) FROM model_versions v WHERE v.model = m.name), "
			"(SELECT MAX(v.version) FROM model_versions v WHERE v.model = m.name), "
			"m.created_ms, m.updated_ms FROM models m ORDER BY m.name",
			st_row_view, &x);
	if (rc == 0)
		rc = Q0(s, "SELECT model, alias, version FROM model_aliases ORDER BY model, alias",
			row_into, &al);
	rc = st_end(s, rc);
	st_unlock(s);
	json_decref(x.index);
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return 0;
}

static const jv_field model_view[] = {
	{"name", JV_STR, 0, 0, NULL},
	{"aliases", JV_OBJECT, 0, 0, NULL},
	{"versions", JV_ARRAY, 0, 0, NULL},
	{"history", JV_ARRAY, 0, 0, NULL},
	{"created", JV_TIME, 1, 0, NULL},
	{"updated", JV_TIME, 2, 0, NULL},
	{"last_version", JV_INT, 3, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

/* Columns: 0 version, 1 bundle, 2 run, 3 created, 4 algorithm, 5 metrics, 6 verdict,
 * 7 created_by, 8 step_run, 9 the version as text (the index key). */
static const jv_field version_view[] = {
	{"version", JV_INT, 0, 0, NULL},
	{"bundle", JV_STR, 1, 0, NULL},
	{"run", JV_STR, 2, 0, NULL},
	{"created", JV_TIME, 3, 0, NULL},
	{"algorithm", JV_STR, 4, 0, NULL},
	{"metrics", JV_JSON_OBJ, 5, 0, NULL},
	{"verdict", JV_STR, 6, 0, NULL},
	{"aliases", JV_ARRAY, 0, 0, NULL},
	{"tags", JV_OBJECT, 0, 0, NULL},
	{"created_by", JV_STR, 7, 0, NULL},
	{"step_run", JV_STR, 8, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

#define VERSION_COLS                                                                         \
	"version, bundle, run_id, created_ms, algorithm, metrics, verdict, created_by, "       \
	"step_run, CAST(version AS TEXT) FROM model_versions "

/* Each alias of the model into its version's "aliases" list. */
static int aliases_into_versions(json_t *aliases, json_t *index)
{
	const char *alias;
	json_t *v;

	json_object_foreach(aliases, alias, v) {
		char key[32];
		json_t *ver, *list;
		snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		ver = json_object_get(index, key);
		list = ver ? json_object_get(ver, "aliases") : NULL;
		if (list && json_array_append_new(list, json_string(alias)))
			return st_nomem_json();
	}
	return 0;
}

/* The model view's parts (store locked, inside a read transaction). */
static int model_parts(store *s, const char *name, const store_model_ref *r, json_t *m)
{
	jv_ctx vx = {.fields = version_view, .dedup_col = -1, .index_col = 9};
	jv_ctx hx = {.fields = history_view, .dedup_col = -1};
	into_ctx al = {.field = "aliases"};
	into_ctx tg = {.field = "tags", .text_value = true};
	json_t *holder = json_object(), *index = json_object();
	sq_val p1[] = {S(name)};
	int rc;

	vx.arr = json_object_get(m, "versions");
	vx.index = index;
	hx.arr = json_object_get(m, "history");
	al.index = holder;
	tg.index = index;
	if (!holder || !index || json_object_set(holder, name, m)) {
		json_decref(holder);
		json_decref(index);
		return st_nomem_json();
	}
	rc = Q(s, "SELECT model, alias, version FROM model_aliases WHERE model = ? ORDER BY alias",
	       p1, row_into, &al);
	if (rc == 0 && r) {
		sq_val p[] = {S(name), SQ_I(r->version)};
		rc = Q(s, "SELECT " VERSION_COLS "WHERE model = ? AND version = ?", p, st_row_view,
		       &vx);
		if (rc == 0)
			rc = Q(s,
			       "SELECT CAST(version AS TEXT), tag, value FROM model_tags "
			       "WHERE model = ? AND version = ? ORDER BY tag",
			       p, row_into, &tg);
		if (rc == 0) {
			sq_val q[] = {S(name), SQ_I(r->version), SQ_I(r->version)};
			rc = Q(s,
			       "SELECT " HISTORY_COLS "WHERE h.model = ? AND "
			       "(h.from_version = ? OR h.to_version = ?) ORDER BY h.seq",
			       q, st_row_view, &hx);
		}
	} else if (rc == 0) {
		rc = Q(s, "SELECT " VERSION_COLS "WHERE model = ? ORDER BY version", p1, st_row_view,
		       &vx);
		if (rc == 0)
			rc = Q(s,
			       "SELECT CAST(version AS TEXT), tag, value FROM model_tags "
			       "WHERE model = ? ORDER BY version, tag",
			       p1, row_into, &tg);
		if (rc == 0)
			rc = Q(s, "SELECT " HISTORY_COLS "WHERE h.model = ? ORDER BY h.seq", p1,
			       st_row_view, &hx);
	}
	if (rc == 0)
		rc = aliases_into_versions(json_object_get(m, "aliases"), index);
	json_decref(holder);
	json_decref(index);
	return rc;
}

int store_model_json(store *s, const char *name, const char *ref, json_t **out)
{
	jv_ctx mx = {.fields = model_view, .dedup_col = -1};
	store_model_ref r;
	int rc;

	if (!s || !out)
		return sl__err(SL_EINVAL, "store_model_json: invalid argument");
	*out = NULL;
	if ((rc = store_check_model_name(name)) != 0)
		return rc;
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0) {
		sq_val p[] = {S(name)};
		rc = Q(s, "SELECT name, created_ms, updated_ms, last_version FROM models WHERE name = ?",
		       p, st_row_view, &mx);
		if (rc == 0 && !mx.obj)
			rc = no_model(s, name);
	}
	if (rc == 0 && ref)
		rc = ref_version(s, name, ref, &r);
	if (rc == 0)
		rc = model_parts(s, name, ref ? &r : NULL, mx.obj);
	if (rc == 0 && ref && st_jset(mx.obj, "version", json_integer(r.version)))
		rc = st_nomem_json();
	rc = st_end(s, rc);
	st_unlock(s);
	if (rc) {
		json_decref(mx.obj);
		return rc;
	}
	*out = mx.obj;
	return 0;
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

/* Columns: 0 model, 1 version, 2 bundle, 3 created, 4 verdict, 5 "model@version". */
static const jv_field search_view[] = {
	{"name", JV_STR, 0, 0, NULL},
	{"version", JV_INT, 1, 0, NULL},
	{"bundle", JV_STR, 2, 0, NULL},
	{"created", JV_TIME, 3, 0, NULL},
	{"verdict", JV_STR, 4, 0, NULL},
	{"tags", JV_OBJECT, 0, 0, NULL},
	{NULL, JV_STR, 0, 0, NULL},
};

int store_model_search_json(store *s, const char *key, const char *value, json_t **out)
{
	jv_ctx x = {.fields = search_view, .dedup_col = -1, .index_col = 5};
	into_ctx tg = {.field = "tags", .text_value = true};
	int rc;

	if (!s || !key || !out)
		return sl__err(SL_EINVAL, "store_model_search_json: invalid argument");
	*out = NULL;
	x.arr = json_array();
	x.index = json_object();
	tg.index = x.index;
	if (!x.arr || !x.index) {
		json_decref(x.arr);
		json_decref(x.index);
		return st_nomem_json();
	}
	/* The tag index (tag, value) finds the versions; their other tags follow.
	 * Two spellings rather than "? IS NULL": PostgreSQL cannot type a
	 * parameter that is only compared with NULL. */
	st_lock(s);
	rc = st_begin(s, false);
	if (rc == 0) {
		sq_val p[] = {S(key), S(value)};
		int np = value ? 2 : 1;
		rc = s->drv->exec(s->conn,
				  value ? "SELECT v.model, v.version, v.bundle, v.created_ms, v.verdict, "
					  "v.model || '@' || CAST(v.version AS TEXT) FROM model_tags t "
					  "JOIN model_versions v ON v.model = t.model AND v.version = t.version "
					  "WHERE t.tag = ? AND t.value = ? ORDER BY v.model, v.version"
					: "SELECT v.model, v.version, v.bundle, v.created_ms, v.verdict, "
					  "v.model || '@' || CAST(v.version AS TEXT) FROM model_tags t "
					  "JOIN model_versions v ON v.model = t.model AND v.version = t.version "
					  "WHERE t.tag = ? ORDER BY v.model, v.version",
				  np, p, st_row_view, &x);
		if (rc == 0)
			rc = s->drv->exec(s->conn,
					  value ? "SELECT t2.model || '@' || CAST(t2.version AS TEXT), t2.tag, "
						  "t2.value FROM model_tags t JOIN model_tags t2 "
						  "ON t2.model = t.model AND t2.version = t.version "
						  "WHERE t.tag = ? AND t.value = ?"
						: "SELECT t2.model || '@' || CAST(t2.version AS TEXT), t2.tag, "
						  "t2.value FROM model_tags t JOIN model_tags t2 "
						  "ON t2.model = t.model AND t2.version = t.version "
						  "WHERE t.tag = ?",
					  np, p, row_into, &tg);
	}
	rc = st_end(s, rc);
	st_unlock(s);
	json_decref(x.index);
	if (rc) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return 0;
}
