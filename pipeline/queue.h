/* queue: the shards of a map or source stage handed to ranks as they ask, so that a slow or
 * busy rank takes fewer and does not set the stage's pace (the static plan gives each rank
 * its share up front). Rank 0 keeps the counter and answers the others' point-to-point
 * requests whenever it looks (queue_serve, called between documents) and, once its own work
 * is done, until every rank has said goodbye. Which rank makes a shard changes from run to
 * run; a shard's bytes do not, so outputs stay the same for any rank count and any order. */
#ifndef CURATE_QUEUE_H
#define CURATE_QUEUE_H

#include <stddef.h>

struct task_queue;

/* A queue of the tasks 0..n-1, handed out in that order. Collective. */
struct task_queue *queue_open(size_t n);
/* The next task for this rank, or -1 when there are none left (or a stop was asked on rank
 * 0, or stop is set here). */
long queue_next(struct task_queue *q, int stop);
/* Rank 0: answers the requests waiting now (a no-op elsewhere, or when there are none). */
void queue_serve(struct task_queue *q);
/* Collective: rank 0 answers until every other rank is done; then frees q. */
void queue_close(struct task_queue *q);

#endif
