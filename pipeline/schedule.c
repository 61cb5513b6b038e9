/* schedule: LPT (longest processing time first) over a binary heap of rank loads; within 4/3 of
 * the optimal makespan, which is what a static plan can promise. */
#include "schedule.h"

#include <stdlib.h>

#include "util.h"

struct load {
	uint64_t load;
	int rank;
};

static int load_less(const struct load *a, const struct load *b)
{
	return a->load < b->load || (a->load == b->load && a->rank < b->rank);
}

static void sift_down(struct load *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && load_less(&h[l], &h[m]))
			m = l;
		if (r < n && load_less(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		struct load t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static const uint64_t *sort_sizes;

static int by_size_desc(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	if (sort_sizes[i] != sort_sizes[j])
		return sort_sizes[i] > sort_sizes[j] ? -1 : 1;
	return i < j ? -1 : i > j;
}

void schedule_order(const uint64_t *sizes, size_t n, size_t *order)
{
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_sizes = sizes;
	qsort(order, n, sizeof *order, by_size_desc);
}

uint64_t schedule_assign(const uint64_t *sizes, size_t n, int nranks, int *owner)
{
	size_t *order = xmalloc((n + 1) * sizeof *order);
	schedule_order(sizes, n, order);

	struct load *heap = xmalloc((size_t)nranks * sizeof *heap);
	for (int r = 0; r < nranks; r++)
		heap[r] = (struct load){0, r};
	uint64_t makespan = 0;
	for (size_t k = 0; k < n; k++) {
		size_t t = order[k];
		owner[t] = heap[0].rank;
		/* every task costs at least 1 so empty shards still spread out */
		heap[0].load += sizes[t] ? sizes[t] : 1;
		if (heap[0].load > makespan)
			makespan = heap[0].load;
		sift_down(heap, (size_t)nranks, 0);
	}
	free(heap);
	free(order);
	return makespan;
}
