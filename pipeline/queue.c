/* queue: a shard queue over MPI point-to-point messages (queue.h). Its own communicator,
 * so its messages never meet another module's. */
#include "queue.h"

#include <mpi.h>
#include <stdlib.h>

#include "par.h"
#include "util.h"

enum { TAG_ASK = 1, TAG_GIVE = 2 };
enum { ASK_NEXT = 0, ASK_BYE = 1 };

struct task_queue {
	MPI_Comm comm;
	int rank, size;
	size_t n, next; /* rank 0: tasks handed out so far */
	int stopped;    /* rank 0: a stop was asked here; hand out nothing more */
	int byes;       /* rank 0: ranks that said goodbye */
};

struct task_queue *queue_open(size_t n)
{
	struct task_queue *q = xcalloc(1, sizeof *q);
	MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &q->comm));
	MPI_CHECK(MPI_Comm_rank(q->comm, &q->rank));
	MPI_CHECK(MPI_Comm_size(q->comm, &q->size));
	q->n = n;
	return q;
}

/* Rank 0: the next task, or -1. */
static long take(struct task_queue *q)
{
	return q->stopped || q->next >= q->n ? -1 : (long)q->next++;
}

/* Rank 0: one request from src. */
static void answer(struct task_queue *q, int src, int ask)
{
	if (ask == ASK_BYE) {
		q->byes++;
		return;
	}
	long t = take(q);
	MPI_CHECK(MPI_Send(&t, 1, MPI_LONG, src, TAG_GIVE, q->comm));
}

void queue_serve(struct task_queue *q)
{
	if (!q || q->rank != 0)
		return;
	for (;;) {
		int flag, ask;
		MPI_Status st;
		MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, TAG_ASK, q->comm, &flag, &st));
		if (!flag)
			return;
		MPI_CHECK(MPI_Recv(&ask, 1, MPI_INT, st.MPI_SOURCE, TAG_ASK, q->comm,
				   MPI_STATUS_IGNORE));
		answer(q, st.MPI_SOURCE, ask);
	}
}

long queue_next(struct task_queue *q, int stop)
{
	if (q->rank == 0) {
		q->stopped |= stop;
		queue_serve(q);
		return take(q);
	}
	if (stop)
		return -1;
	int ask = ASK_NEXT;
	long t;
	MPI_CHECK(MPI_Send(&ask, 1, MPI_INT, 0, TAG_ASK, q->comm));
	MPI_CHECK(MPI_Recv(&t, 1, MPI_LONG, 0, TAG_GIVE, q->comm, MPI_STATUS_IGNORE));
	return t;
}

void queue_close(struct task_queue *q)
{
	if (q->rank == 0) {
		while (q->byes < q->size - 1) {
			int ask;
			MPI_Status st;
			MPI_CHECK(MPI_Recv(&ask, 1, MPI_INT, MPI_ANY_SOURCE, TAG_ASK, q->comm, &st));
			answer(q, st.MPI_SOURCE, ask);
		}
	} else {
		int bye = ASK_BYE;
		MPI_CHECK(MPI_Send(&bye, 1, MPI_INT, 0, TAG_ASK, q->comm));
	}
	MPI_CHECK(MPI_Comm_free(&q->comm));
	free(q);
}
