/*
 * "Did you mean ...?": the closest names to a misspelt one, for every
 * message about an unknown name (options, steps, keys, flags, columns).
 * One policy everywhere, so a typo that is caught in one place is caught
 * in all of them:
 *
 *   - distance is the optimal string alignment distance (Levenshtein plus
 *     adjacent transpositions, so "inptus" is one edit from "inputs");
 *   - a word of fewer than 4 characters may be 1 edit away, of fewer than
 *     8 characters 2 edits, longer words 3 ("validation" -> "validate");
 *   - a candidate is never suggested when the distance is as large as the
 *     candidate itself ("x" does not suggest "y");
 *   - a word that is the family of dotted names matches the whole family
 *     ("ingest" -> ingest.csv, ingest.file, ...), and a word of 3 or more
 *     characters that begins a candidate matches it ("multi" ->
 *     multiclass), both after any closer typo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define SUGGEST_MAXLEN 64

size_t sl__edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[SUGGEST_MAXLEN + 1][SUGGEST_MAXLEN + 1];

	if (la > SUGGEST_MAXLEN || lb > SUGGEST_MAXLEN)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The distance at which cand counts as close to word, or SIZE_MAX. */
static size_t closeness(const char *word, const char *cand)
{
	size_t lw = strlen(word), lc = strlen(cand);
	size_t limit = lw < 4 ? 1 : lw < 8 ? 2 : 3;
	size_t d = sl__edit_distance(word, cand);

	if (d <= limit && d < lc)
		return d;
	if (lw && lc > lw && cand[lw] == '.' && !strncmp(word, cand, lw))
		return limit; /* the family: after every typo match */
	if (lw >= 3 && lc > lw && !strncmp(word, cand, lw))
		return limit; /* a beginning: "multi" -> "multiclass" */
	return SIZE_MAX;
}

const char *sl__suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX;

	for (size_t k = 0; word && k < n; k++) {
		size_t d;
		if (!cands[k] || !strcmp(cands[k], word))
			continue;
		d = closeness(word, cands[k]);
		if (d < bestd) {
			bestd = d;
			best = cands[k];
		}
	}
	return best;
}

typedef struct ranked {
	const char *name;
	size_t d;
} ranked;

static int by_distance(const void *a, const void *b)
{
	const ranked *x = a, *y = b;

	if (x->d != y->d)
		return x->d < y->d ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t sl__suggest_all(const char *word, const char *const *cands, size_t n, const char **out,
		       size_t max)
{
	ranked r[32];
	size_t m = 0, best = SIZE_MAX, kept = 0;

	for (size_t k = 0; word && k < n && m < SL__ARRAY_LEN(r); k++) {
		size_t d;
		bool dup = false;
		if (!cands[k] || !strcmp(cands[k], word) || (d = closeness(word, cands[k])) == SIZE_MAX)
			continue;
		for (size_t q = 0; q < m && !dup; q++)
			dup = !strcmp(r[q].name, cands[k]);
		if (dup)
			continue;
		r[m].name = cands[k];
		r[m].d = d;
		if (d < best)
			best = d;
		m++;
	}
	qsort(r, m, sizeof r[0], by_distance);
	/* A worse match beside a better one is noise, except a family. */
	for (size_t k = 0; k < m && kept < max; k++) {
		bool family = strlen(r[k].name) > strlen(word) && r[k].name[strlen(word)] == '.' &&
			      !strncmp(r[k].name, word, strlen(word));
		if (r[k].d == best || family)
			out[kept++] = r[k].name;
	}
	return kept;
}

bool sl__did_you_mean(char *buf, size_t size, const char *word, const char *const *cands, size_t n)
{
	const char *best[8];
	size_t k = sl__suggest_all(word, cands, n, best, SL__ARRAY_LEN(best));
	size_t used = 0;

	if (size)
		buf[0] = '\0';
	if (!k || !size)
		return false;
	used += (size_t)snprintf(buf, size, "did you mean ");
	for (size_t i = 0; i < k && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s'%s'",
					 i == 0 ? "" : i + 1 == k ? " or " : ", ", best[i]);
	if (used < size)
		snprintf(buf + used, size - used, "?");
	return true;
}
