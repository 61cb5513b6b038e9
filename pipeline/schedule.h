/* schedule: hands tasks (output shards) to ranks with balanced load. Every rank computes the
 * same plan from the same sizes (longest processing time first), so no coordinator is needed
 * and the plan never depends on timing. */
#ifndef CURATE_SCHEDULE_H
#define CURATE_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

/* owner[i] receives the rank that runs task i. Tasks are taken by decreasing size (ties by
 * index) and each goes to the least-loaded rank so far (ties by rank). Returns the largest
 * load of any rank, the plan's makespan in size units. */
uint64_t schedule_assign(const uint64_t *sizes, size_t n, int nranks, int *owner);
/* order[0..n) receives the task indices by decreasing size, ties by index: the order in which
 * schedule_assign places tasks, and the shard queue hands them out. */
void schedule_order(const uint64_t *sizes, size_t n, size_t *order);

#endif
