/*
 * split: divides a dataset into `train`, `valid` and `test`.
 *
 *   method: random       rows are shuffled and cut in the given fractions
 *   method: stratified   each class of column `by` is shuffled and cut on its
 *                        own, so every split keeps the class proportions
 *   method: time         rows are ordered by column `by`; the oldest
 *                        fraction is train, then valid, then test
 *   method: group        whole groups (equal values of `by`) are shuffled
 *                        and dealt out, so no group is in two splits
 *
 * Invariants, whatever the method:
 *
 *   1. Every input row is in exactly one output.
 *   2. Within each output, rows keep their input order.
 *   3. Each output has the input's schema, also when it has no rows.
 *   4. The outputs depend only on the input's contents and the options:
 *      the shuffles draw from sluice's one seeded generator (rng.h,
 *      seeded with `seed`), integer arithmetic decides every count, and
 *      ties are broken by row number, so the same input gives
 *      byte-identical outputs on any machine. The tests pin the rows of
 *      known splits: a change of generator must not move a user's rows.
 *
 * Counts: a whole of n rows is shared by largest remainder: split k first
 * gets floor(n * f_k), and the rows left over go one each to the splits
 * with the largest fractional parts (ties to the earlier split). Splits
 * whose fraction is 0 get nothing. random applies this to all rows,
 * stratified to each class, and additionally makes sure each split with a
 * fraction above 0 gets at least one row of every class that has at least
 * as many rows as there are such splits (taking one from the largest
 * share). time moves each cut forward past rows equal to the last one
 * before it, so no time value is in two splits. group targets the same
 * counts in rows, and gives each group (in shuffled order) to the split
 * whose share contains the group's middle row.
 *
 * Two fractions [a, b] mean train and test; valid is then empty.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"
#include "rng.h"
#include "sort.h"
#include "dataset/keys.h"
#include "steps/step.h"

#define NSPLIT 3
#define FRACTION_TOLERANCE 1e-9
/* Per-class metrics and log lines stop here; wider columns are not classes. */
#define MAX_CLASS_METRICS 32
#define MAX_CLASS_LOG 50

static const char *const split_names[NSPLIT] = {"train", "valid", "test"};

enum method { M_RANDOM, M_STRATIFIED, M_TIME, M_GROUP };

static const char *const method_names[] = {"random", "stratified", "time", "group"};

static const step_opt fraction = {.type = OPT_NUMBER, .range = "[0, 1]"};

static const step_opt opts[] = {
	{.name = "method", .type = OPT_STRING, .def = "random",
	 .choices = "random stratified time group", .help = "how rows are dealt out (below)"},
	{.name = "by", .type = OPT_STRING, .len = "[1,)", .columns_of = "data",
	 .help = "the column: the class (stratified), the time (time) or the group key (group)"},
	{.name = "fractions", .type = OPT_LIST, .def = "[0.7, 0.15, 0.15]", .len = "[2, 3]",
	 .item = &fraction,
	 .help = "shares of train, valid and test, summing to 1; two numbers mean train and test"},
	{.name = "seed", .type = OPT_INT, .def = "0",
	 .help = "seed of the shuffle: the same seed gives the same split"},
	{.name = NULL},
};

static const step_rule rules[] = {
	{.kind = RULE_REQUIRES, .names = "by", .when = "method=stratified|time|group",
	 .why = "the column to stratify, order or group by"},
	{.kind = RULE_FORBIDS, .names = "by", .when = "method=random",
	 .why = "random does not use a column; did you mean method: stratified, time or group?"},
	{.kind = RULE_END},
};

/* The fractions share all rows: they sum to 1. */
static int check(const step_check *c)
{
	const json_t *fr = json_object_get(c->with, "fractions"), *it;
	double sum = 0;
	size_t i;

	json_array_foreach (fr, i, it)
		sum += json_number_value(it);
	if (fr && fabs(sum - 1.0) > FRACTION_TOLERANCE)
		return step_check_fail(c, "fractions", "the fractions sum to %.12g, not 1", sum);
	return 0;
}

static const step_port inputs[] = {
	{"data", "dataset", false, "the rows to split"},
	{NULL, NULL, false, NULL},
};

static const step_port outputs[] = {
	{"train", "dataset", false, "the training rows"},
	{"valid", "dataset", false, "the validation rows (empty with two fractions)"},
	{"test", "dataset", false, "the test rows"},
	{NULL, NULL, false, NULL},
};

/* ---- counts ------------------------------------------------------------- */

/* Shares n among the splits by largest remainder (fractions sum to 1). */
static void apportion(size_t n, const double f[NSPLIT], size_t out[NSPLIT])
{
	double rem[NSPLIT];
	size_t total = 0, left;

	for (int k = 0; k < NSPLIT; k++) {
		double q = (double)n * f[k], fl = floor(q);
		out[k] = fl > (double)n ? n : (size_t)fl;
		rem[k] = q - fl;
		total += out[k];
	}
	/* Rounding can only make the floors overshoot when the fractions sum
	 * to slightly more than 1; take the excess back from the largest. */
	while (total > n) {
		int big = 0;
		for (int k = 1; k < NSPLIT; k++)
			if (out[k] > out[big])
				big = k;
		out[big]--;
		total--;
	}
	for (left = n - total; left > 0;) {
		int best = -1;
		for (int k = 0; k < NSPLIT; k++)
			if (f[k] > 0 && rem[k] >= 0 && (best < 0 || rem[k] > rem[best]))
				best = k;
		if (best < 0) {
			/* Every split took one already (only possible through
			 * rounding): start another round. */
			for (int k = 0; k < NSPLIT; k++)
				rem[k] = f[k] > 0 ? 0 : -1;
			continue;
		}
		out[best]++;
		rem[best] = -1;
		left--;
	}
}

/*
 * For stratification: when a class has at least as many rows as there are
 * splits with a share, gives each such split at least one of its rows.
 */
static void ensure_each(size_t n, const double f[NSPLIT], size_t c[NSPLIT])
{
	size_t want = 0;

	for (int k = 0; k < NSPLIT; k++)
		want += f[k] > 0;
	if (n < want)
		return;
	for (int k = 0; k < NSPLIT; k++) {
		int big = 0;
		if (f[k] <= 0 || c[k] > 0)
			continue;
		for (int m = 1; m < NSPLIT; m++)
			if (c[m] > c[big])
				big = m;
		/* n >= want rows over fewer than want non-empty splits: the
		 * largest has at least two, so it stays non-empty. */
		c[big]--;
		c[k]++;
	}
}

/* ---- options -------------------------------------------------------------- */

typedef struct split_opts {
	enum method method;
	const char *by;
	double f[NSPLIT];
	size_t nf;
	int64_t seed;
} split_opts;

/* The parser checked the options against the schema, rules and check(). */
static void parse_opts(step_ctx *ctx, split_opts *o)
{
	const char *m = step_opt_str(ctx, "method");
	json_t *fr = step_opt_json(ctx, "fractions"), *it;
	double v[NSPLIT] = {0}, sum = 0;
	size_t i;

	memset(o, 0, sizeof *o);
	for (i = 0; m && i < SL__ARRAY_LEN(method_names); i++)
		if (!strcmp(m, method_names[i]))
			break;
	o->method = m && i < SL__ARRAY_LEN(method_names) ? (enum method)i : M_RANDOM;
	o->by = step_opt_str(ctx, "by");
	o->seed = step_opt_int(ctx, "seed", 0);
	o->nf = json_array_size(fr);
	if (o->nf != 2 && o->nf != 3) {
		o->f[0] = 0.7;
		o->f[1] = o->f[2] = 0.15;
		o->nf = 3;
		return;
	}
	json_array_foreach (fr, i, it) {
		v[i] = json_number_value(it);
		sum += v[i];
	}
	if (o->nf == 2) {
		o->f[0] = v[0];
		o->f[1] = 0;
		o->f[2] = v[1];
	} else {
		memcpy(o->f, v, sizeof o->f);
	}
	/* Normalised, so that the counts share exactly the rows there are. */
	for (int k = 0; k < NSPLIT; k++)
		o->f[k] /= sum;
}

/* Finds column `by` in t, failing with the list of columns there are. */
static int find_by(step_ctx *ctx, const ds_table *t, const char *by, size_t *out_j)
{
	sl__buf cols;

	if (ds_col_find(t, by, out_j) == 0)
		return 0;
	sl__buf_init(&cols, 4096);
	for (size_t j = 0; j < ds_ncol(t); j++)
		if (sl__buf_printf(&cols, "%s%s", j ? ", " : "", ds_col_name(t, j)))
			break;
	step_fail(ctx, SL_ENOENT, "with.by: no column '%s' in the input (columns: %s)", by,
		  cols.data ? cols.data : "none");
	sl__buf_free(&cols);
	return SL_ENOENT;
}

/* ---- the methods: each fills which[i] with row i's split ----------------------- */

typedef struct split_job {
	step_ctx *ctx;
	const split_opts *o;
	const ds_table *t;
	size_t n;
	uint8_t *which;
	sl__rng r;
} split_job;

/* Deals rows a[0..m) (shuffled here) to the splits in counts c. */
static void deal(split_job *s, size_t *a, size_t m, const size_t c[NSPLIT])
{
	size_t at = 0;

	sl__rng_shuffle(&s->r, a, m);
	for (int k = 0; k < NSPLIT; k++)
		for (size_t e = at + c[k]; at < e; at++)
			s->which[a[at]] = (uint8_t)k;
}

static int split_random(split_job *s)
{
	size_t *a = sl__malloc((s->n ? s->n : 1) * sizeof *a), c[NSPLIT];

	if (!a)
		return step_oom(s->ctx);
	for (size_t i = 0; i < s->n; i++)
		a[i] = i;
	apportion(s->n, s->o->f, c);
	deal(s, a, s->n, c);
	sl__free(a);
	return 0;
}

static int check_no_nulls(split_job *s, size_t j, const char *role)
{
	const uint8_t *valid = ds_col_validity(s->t, j);
	size_t nulls = ds_col_nulls(s->t, j), first = 0;

	if (!nulls)
		return 0;
	while (first < s->n && ds_valid(valid, first))
		first++;
	return step_fail(s->ctx, SL_EINVAL,
			 "with.by: the %s column '%s' has %zu null%s (the first in row %zu); label, "
			 "impute or filter them out before splitting",
			 role, ds_col_name(s->t, j), nulls, nulls == 1 ? "" : "s", first + 1);
}

static int split_stratified(split_job *s, size_t j)
{
	keys *k = NULL;
	size_t ncls, *start = NULL, *rows = NULL, *fill = NULL, *cls_counts = NULL;
	const uint32_t *ids;
	const size_t *sizes;
	int rc;

	if ((rc = check_no_nulls(s, j, "class")))
		return rc;
	if ((rc = keys_build(s->t, j, &k)))
		return step_fail(s->ctx, rc, "with.by: %s", sl_errmsg());
	ncls = keys_count(k);
	ids = keys_ids(k);
	sizes = keys_sizes(k);
	/* Rows grouped by class, each group in row order (a counting sort),
	 * then shuffled and dealt class by class in order of first appearance. */
	start = sl__calloc(ncls + 1, sizeof *start);
	fill = sl__calloc(ncls + 1, sizeof *fill);
	rows = sl__malloc((s->n ? s->n : 1) * sizeof *rows);
	cls_counts = sl__calloc((ncls ? ncls : 1) * NSPLIT, sizeof *cls_counts);
	if (!start || !fill || !rows || !cls_counts) {
		rc = step_oom(s->ctx);
		goto done;
	}
	for (size_t c = 0; c < ncls; c++)
		start[c + 1] = start[c] + sizes[c];
	for (size_t i = 0; i < s->n; i++)
		rows[start[ids[i]] + fill[ids[i]]++] = i;
	for (size_t c = 0; c < ncls; c++) {
		size_t *cnt = &cls_counts[c * NSPLIT];
		apportion(sizes[c], s->o->f, cnt);
		ensure_each(sizes[c], s->o->f, cnt);
		deal(s, rows + start[c], sizes[c], cnt);
	}

	step_metric(s->ctx, "classes", (double)ncls);
	for (size_t c = 0; c < ncls; c++) {
		const size_t *cnt = &cls_counts[c * NSPLIT];
		char label[64];
		keys_text(k, (uint32_t)c, label, sizeof label);
		if (c < MAX_CLASS_METRICS)
			for (int sp = 0; sp < NSPLIT; sp++) {
				char name[80];
				snprintf(name, sizeof name, "rows_%s.%s", split_names[sp], label);
				step_metric(s->ctx, name, (double)cnt[sp]);
			}
		if (c < MAX_CLASS_LOG)
			step_log(s->ctx, "class %s: %zu rows -> train %zu, valid %zu, test %zu", label,
				 sizes[c], cnt[0], cnt[1], cnt[2]);
		else if (c == MAX_CLASS_LOG)
			step_log(s->ctx, "... and %zu more classes", ncls - MAX_CLASS_LOG);
	}
	rc = 0;
done:
	sl__free(start);
	sl__free(fill);
	sl__free(rows);
	sl__free(cls_counts);
	keys_free(k);
	return rc;
}

/* Moves a cut forward past rows whose time equals the row before the cut. */
static size_t extend_cut(const uint64_t *key, size_t n, size_t cut)
{
	while (cut > 0 && cut < n && key[cut] == key[cut - 1])
		cut++;
	return cut;
}

static void time_text(const ds_table *t, size_t j, size_t i, char *buf, size_t size)
{
	char tmp[DS_TS_BUF > DS_F64_BUF ? DS_TS_BUF : DS_F64_BUF];

	switch (ds_col_type(t, j)) {
	case DS_TIMESTAMP:
		ds_format_timestamp(ds_col_i64(t, j)[i], tmp);
		snprintf(buf, size, "%s", tmp);
		break;
	case DS_FLOAT64:
		ds_format_f64(ds_col_f64(t, j)[i], tmp);
		snprintf(buf, size, "%s", tmp);
		break;
	default:
		snprintf(buf, size, "%" PRId64, ds_col_i64(t, j)[i]);
		break;
	}
}

static int split_time(split_job *s, size_t j)
{
	ds_type type = ds_col_type(s->t, j);
	uint64_t *key = NULL;
	size_t *row = NULL, c[NSPLIT], cut[NSPLIT + 1];
	int rc;

	if (type != DS_TIMESTAMP && type != DS_INT64 && type != DS_FLOAT64)
		return step_fail(s->ctx, SL_EINVAL,
				 "with.by: the time column '%s' is %s; it must be a timestamp or a "
				 "number (cast it with wrangle first)",
				 s->o->by, ds_type_name(type));
	if ((rc = check_no_nulls(s, j, "time")))
		return rc;
	/* Rows in time order: each row's time as an order-preserving key,
	 * radix sorted with the row number as payload; the sort is stable, so
	 * equal times stay in row order. */
	key = sl__malloc((s->n ? s->n : 1) * sizeof *key);
	row = sl__malloc((s->n ? s->n : 1) * sizeof *row);
	if (!key || !row) {
		rc = step_oom(s->ctx);
		goto done;
	}
	for (size_t i = 0; i < s->n; i++) {
		row[i] = i;
		if (type == DS_FLOAT64) {
			double d = ds_col_f64(s->t, j)[i];
			if (isnan(d)) {
				rc = step_fail(s->ctx, SL_EINVAL, "with.by: the time column '%s' is NaN in row %zu",
					       s->o->by, i + 1);
				goto done;
			}
			key[i] = sl__key_f64(d);
		} else {
			key[i] = sl__key_i64(ds_col_i64(s->t, j)[i]);
		}
	}
	if ((rc = sl__radix_sort_u64(key, row, s->n))) {
		rc = step_oom(s->ctx);
		goto done;
	}
	apportion(s->n, s->o->f, c);
	/* Cut k + 1 is where the first k + 1 shares end, moved forward past
	 * ties and never before the previous cut. */
	cut[0] = 0;
	for (size_t k = 0, target = 0; k < NSPLIT; k++) {
		target += c[k];
		cut[k + 1] = k + 1 == NSPLIT ? s->n
					     : extend_cut(key, s->n, target < cut[k] ? cut[k] : target);
	}
	for (int k = 0; k < NSPLIT; k++) {
		char lo[48], hi[48];
		for (size_t p = cut[k]; p < cut[k + 1]; p++)
			s->which[row[p]] = (uint8_t)k;
		if (cut[k] == cut[k + 1])
			continue;
		time_text(s->t, j, row[cut[k]], lo, sizeof lo);
		time_text(s->t, j, row[cut[k + 1] - 1], hi, sizeof hi);
		step_log(s->ctx, "%s: %s from %s to %s", split_names[k], s->o->by, lo, hi);
	}
done:
	sl__free(key);
	sl__free(row);
	return rc;
}

static int split_group(split_job *s, size_t j)
{
	keys *k = NULL;
	size_t ng, *order = NULL, *gsplit = NULL, c[NSPLIT], cum[NSPLIT], groups[NSPLIT] = {0};
	size_t before = 0;
	const uint32_t *ids;
	const size_t *sizes;
	int rc, last = 0;

	if ((rc = check_no_nulls(s, j, "group")))
		return rc;
	if ((rc = keys_build(s->t, j, &k)))
		return step_fail(s->ctx, rc, "with.by: %s", sl_errmsg());
	ng = keys_count(k);
	ids = keys_ids(k);
	sizes = keys_sizes(k);
	order = sl__malloc((ng ? ng : 1) * sizeof *order);
	gsplit = sl__malloc((ng ? ng : 1) * sizeof *gsplit);
	if (!order || !gsplit) {
		rc = step_oom(s->ctx);
		goto done;
	}
	apportion(s->n, s->o->f, c);
	for (int sp = 0; sp < NSPLIT; sp++) {
		cum[sp] = (sp ? cum[sp - 1] : 0) + c[sp];
		if (s->o->f[sp] > 0)
			last = sp;
	}
	for (size_t g = 0; g < ng; g++)
		order[g] = g;
	sl__rng_shuffle(&s->r, order, ng);
	/* A group goes where its middle row falls among the target counts:
	 * rows before it plus half its size, compared in doubled units. */
	for (size_t p = 0; p < ng; p++) {
		size_t g = order[p], mid2 = 2 * before + sizes[g];
		int sp = 0;
		while (sp < last && mid2 >= 2 * cum[sp])
			sp++;
		gsplit[g] = (size_t)sp;
		groups[sp]++;
		before += sizes[g];
	}
	for (size_t i = 0; i < s->n; i++)
		s->which[i] = (uint8_t)gsplit[ids[i]];
	step_metric(s->ctx, "groups", (double)ng);
	for (int sp = 0; sp < NSPLIT; sp++) {
		char name[32];
		snprintf(name, sizeof name, "groups_%s", split_names[sp]);
		step_metric(s->ctx, name, (double)groups[sp]);
	}
	step_log(s->ctx, "%zu groups of '%s': train %zu, valid %zu, test %zu", ng, s->o->by,
		 groups[0], groups[1], groups[2]);
	rc = 0;
done:
	sl__free(order);
	sl__free(gsplit);
	keys_free(k);
	return rc;
}

/* ---- output ---------------------------------------------------------------- */

/* Writes the rows of split sp, in input order, to its output path. */
static int write_split(split_job *s, int sp, size_t *rows, size_t *out_n)
{
	const char *path = step_output(s->ctx, split_names[sp]);
	ds_builder *b = NULL;
	size_t m = 0;
	int rc;

	if (!path)
		return step_fail(s->ctx, SL_EINVAL, "no path for output '%s'", split_names[sp]);
	for (size_t i = 0; i < s->n; i++)
		if (s->which[i] == sp)
			rows[m++] = i;
	*out_n = m;
	if ((rc = ds_builder_new(&b)))
		return step_fail(s->ctx, rc, "%s", sl_errmsg());
	for (size_t j = 0; j < ds_ncol(s->t) && !rc; j++)
		rc = ds_builder_add_col(b, ds_col_name(s->t, j), ds_col_type(s->t, j), NULL);
	for (size_t j = 0; j < ds_ncol(s->t) && !rc; j++)
		rc = ds_append_from(b, j, s->t, j, rows, m);
	if (!rc)
		rc = ds_builder_write(b, path);
	if (rc)
		step_fail(s->ctx, rc, "writing output '%s': %s", split_names[sp], sl_errmsg());
	ds_builder_free(b);
	return rc;
}

static int run(step_ctx *ctx)
{
	const char *in = step_input(ctx, "data");
	split_opts o;
	split_job s;
	ds_table *t = NULL;
	size_t *rows = NULL, by_j = 0, counts[NSPLIT] = {0};
	int rc;

	memset(&s, 0, sizeof s);
	parse_opts(ctx, &o);
	if (!in)
		return step_fail(ctx, SL_EINVAL, "input 'data' is missing");
	if ((rc = ds_open(in, 0, &t)))
		return step_fail(ctx, rc, "input 'data': %s", sl_errmsg());
	if (o.by && (rc = find_by(ctx, t, o.by, &by_j)))
		goto done;

	s.ctx = ctx;
	s.o = &o;
	s.t = t;
	s.n = ds_nrow(t);
	sl__rng_seed(&s.r, (uint64_t)o.seed);
	s.which = sl__calloc(s.n ? s.n : 1, 1);
	rows = sl__malloc((s.n ? s.n : 1) * sizeof *rows);
	if (!s.which || !rows) {
		rc = step_oom(ctx);
		goto done;
	}
	switch (o.method) {
	case M_RANDOM:
		rc = split_random(&s);
		break;
	case M_STRATIFIED:
		rc = split_stratified(&s, by_j);
		break;
	case M_TIME:
		rc = split_time(&s, by_j);
		break;
	case M_GROUP:
		rc = split_group(&s, by_j);
		break;
	}
	for (int sp = 0; sp < NSPLIT && !rc; sp++)
		rc = write_split(&s, sp, rows, &counts[sp]);
	if (rc)
		goto done;

	step_metric(ctx, "rows", (double)s.n);
	step_metric(ctx, "rows_train", (double)counts[0]);
	step_metric(ctx, "rows_valid", (double)counts[1]);
	step_metric(ctx, "rows_test", (double)counts[2]);
	step_log(ctx, "%s split%s%s%s of %zu rows (seed %" PRId64 "): train %zu, valid %zu, test %zu%s",
		 method_names[o.method], o.by ? " by '" : "", o.by ? o.by : "", o.by ? "'" : "", s.n,
		 o.seed, counts[0], counts[1], counts[2],
		 o.nf == 2 ? " (two fractions: valid is empty)" : "");
done:
	sl__free(s.which);
	sl__free(rows);
	ds_close(t);
	return rc;
}

const step_def step_split = {
	.name = "split",
	.version = 1,
	.summary = "divide a dataset into train, valid and test (random, stratified, time, group)",
	.opts = opts,
	.rules = rules,
	.inputs = inputs,
	.outputs = outputs,
	.run = run,
	.check = check,
};
