/*
 * A binary min-heap of step indices, shared by the DAG's order (dag.c) and
 * the scheduler's ready steps (sched.c): among steps available at once, the
 * one written first in the file comes first. The caller owns the storage
 * and sizes it for every step (each step is pushed at most once), so a push
 * cannot fail.
 */
#ifndef SLUICE_DAG_HEAP_H
#define SLUICE_DAG_HEAP_H

#include <stddef.h>

typedef struct dag_heap {
	size_t *v;
	size_t n;
} dag_heap;

static inline void dag_heap_push(dag_heap *h, size_t x)
{
	size_t i = h->n++;

	while (i > 0 && h->v[(i - 1) / 2] > x) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

/* The smallest index; the heap must not be empty. */
static inline size_t dag_heap_pop(dag_heap *h)
{
	size_t top = h->v[0], last = h->v[--h->n], i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1] < h->v[c])
			c++;
		if (h->v[c] >= last)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

#endif
