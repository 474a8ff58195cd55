/*
 * The step graph of a parsed pipeline: who feeds whom, an execution order,
 * and cycle detection.
 *
 * Edges run from a producing step to the step consuming one of its outputs.
 * The order is Kahn's algorithm with a min-heap of ready step indices, so
 * among steps that could run next the one written first in the file comes
 * first: the order is deterministic and reads like the file. Everything is
 * O((steps + inputs) log steps); a 10k-step chain costs nothing noticeable.
 *
 * When Kahn's algorithm stalls, every step left has an unfinished upstream
 * step that is also left. Walking upstream from any of them must therefore
 * revisit a step, and the walk between the two visits is a real cycle, which
 * is what the message names (not just "some steps form a cycle").
 */
#include <stdio.h>
#include <string.h>

#include "pipeline/dag_heap.h"
#include "pipeline/spec.h"

/* Distinct upstream steps of every step, in the order their inputs list them. */
static int link_upstream(spec *s, size_t *stamp)
{
	for (size_t i = 0; i < s->n_steps; i++)
		stamp[i] = SIZE_MAX;
	for (size_t i = 0; i < s->n_steps; i++) {
		spec_step *st = &s->steps[i];
		if (!st->n_inputs)
			continue;
		if (!(st->upstream = sl__calloc(st->n_inputs, sizeof *st->upstream)))
			return SL_ENOMEM;
		for (size_t k = 0; k < st->n_inputs; k++) {
			size_t u = st->inputs[k].step_index;
			if (st->inputs[k].ref != SPEC_REF_STEP)
				continue; /* from outside the pipeline: no edge in the DAG */
			if (stamp[u] != i) {
				stamp[u] = i;
				st->upstream[st->n_upstream++] = u;
			}
		}
	}
	return 0;
}

/* Downstream lists, each in ascending step order. count is scratch. */
static int link_downstream(spec *s, size_t *count)
{
	memset(count, 0, s->n_steps * sizeof *count);
	for (size_t i = 0; i < s->n_steps; i++)
		for (size_t k = 0; k < s->steps[i].n_upstream; k++)
			count[s->steps[i].upstream[k]]++;
	for (size_t i = 0; i < s->n_steps; i++)
		if (count[i] && !(s->steps[i].downstream = sl__calloc(count[i], sizeof(size_t))))
			return SL_ENOMEM;
	for (size_t i = 0; i < s->n_steps; i++) {
		for (size_t k = 0; k < s->steps[i].n_upstream; k++) {
			spec_step *u = &s->steps[s->steps[i].upstream[k]];
			u->downstream[u->n_downstream++] = i;
		}
	}
	return 0;
}

/*
 * Names one cycle among the steps Kahn's algorithm could not order (those
 * with indeg > 0). path and at are scratch arrays of n_steps entries.
 */
static int report_cycle(const spec *s, const size_t *indeg, size_t *path, size_t *at,
			spec_pos *out_pos, char *msg, size_t msg_size)
{
	size_t n = s->n_steps, len = 0, cur = SIZE_MAX, first;

	for (size_t i = 0; i < n && cur == SIZE_MAX; i++)
		if (indeg[i])
			cur = i;
	for (size_t i = 0; i < n; i++)
		at[i] = SIZE_MAX;
	for (;;) {
		size_t next = SIZE_MAX;
		at[cur] = len;
		path[len++] = cur;
		for (size_t k = 0; k < s->steps[cur].n_upstream && next == SIZE_MAX; k++)
			if (indeg[s->steps[cur].upstream[k]])
				next = s->steps[cur].upstream[k];
		/* Cannot happen (see the file comment), but never loop forever. */
		if (next == SIZE_MAX || len > n)
			return SL_ESPEC;
		if (at[next] != SIZE_MAX) {
			first = at[next];
			break;
		}
		cur = next;
	}

	/* path[first..len) walks upstream; reverse it into data-flow order,
	 * starting with the step written first in the file. */
	size_t m = len - first, start = 0;
	size_t *cyc = path + first;
	for (size_t a = 0, b = m - 1; a < b; a++, b--) {
		size_t t = cyc[a];
		cyc[a] = cyc[b];
		cyc[b] = t;
	}
	for (size_t k = 1; k < m; k++)
		if (cyc[k] < cyc[start])
			start = k;

	size_t head = cyc[start], prev = cyc[(start + m - 1) % m];
	const spec_step *hs = &s->steps[head];
	*out_pos = hs->pos;
	for (size_t k = 0; k < hs->n_inputs; k++) {
		if (hs->inputs[k].ref == SPEC_REF_STEP && hs->inputs[k].step_index == prev) {
			*out_pos = hs->inputs[k].pos;
			break;
		}
	}

	/* Long cycles are abbreviated so the message stays readable. */
	size_t used = (size_t)snprintf(msg, msg_size, "cycle:");
	for (size_t k = 0; k <= m && used < msg_size; k++) {
		const char *name = s->steps[cyc[(start + k) % m]].name;
		if (m > 10 && k == 5) {
			used += (size_t)snprintf(msg + used, msg_size - used, " -> ...");
			k = m - 4;
			name = s->steps[cyc[(start + k) % m]].name;
		}
		used += (size_t)snprintf(msg + used, msg_size - used, "%s%s", k ? " -> " : " ", name);
	}
	if (m > 10 && used < msg_size)
		snprintf(msg + used, msg_size - used, " (%zu steps)", m);
	return SL_ESPEC;
}

int dag_build(spec *s, spec_pos *out_pos, char *msg, size_t msg_size)
{
	size_t n = s->n_steps, done = 0;
	size_t *indeg = NULL, *scratch = NULL;
	dag_heap h = {NULL, 0};
	int rc = SL_ENOMEM;

	if (n == 0)
		return 0;
	indeg = sl__calloc(n, sizeof *indeg);
	scratch = sl__calloc(n, sizeof *scratch);
	h.v = sl__calloc(n, sizeof *h.v);
	if (!indeg || !scratch || !h.v || !(s->order = sl__calloc(n, sizeof *s->order)))
		goto out;
	if (link_upstream(s, scratch) || link_downstream(s, scratch))
		goto out;

	for (size_t i = 0; i < n; i++) {
		indeg[i] = s->steps[i].n_upstream;
		if (!indeg[i])
			dag_heap_push(&h, i);
	}
	while (h.n) {
		size_t i = dag_heap_pop(&h);
		s->order[done++] = i;
		for (size_t k = 0; k < s->steps[i].n_downstream; k++) {
			size_t d = s->steps[i].downstream[k];
			if (--indeg[d] == 0)
				dag_heap_push(&h, d);
		}
	}
	rc = 0;
	if (done < n)
		rc = report_cycle(s, indeg, scratch, h.v, out_pos, msg, msg_size);
out:
	sl__free(indeg);
	sl__free(scratch);
	sl__free(h.v);
	return rc;
}
