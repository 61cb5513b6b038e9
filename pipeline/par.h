/* par: the MPI layer every command runs on. Run alone a command is one rank (MPICH singleton);
 * under mpiexec or srun it is N. MPI calls go through MPI_CHECK, which aborts with file:line. */
#ifndef CURATE_PAR_H
#define CURATE_PAR_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#define MPI_CHECK(call)                                                                    \
	do {                                                                               \
		int mpi_rc_ = (call);                                                      \
		if (mpi_rc_ != MPI_SUCCESS)                                                \
			par_fail(__FILE__, __LINE__, #call, mpi_rc_);                      \
	} while (0)

void par_fail(const char *file, int line, const char *what, int rc) __attribute__((noreturn));

void par_init(int *argc, char ***argv);
void par_finalize(void);
int par_rank(void);
int par_size(void);
/* The rank within this node (for one GPU per rank); 0 when alone. */
int par_local_rank(void);
/* The ranks on this node, this one included; 1 when alone. */
int par_local_size(void);
/* This rank's share of the node's online CPUs (at least 1), for thread counts. */
int par_cpu_share(void);
void par_barrier(void);
/* Aborts every rank with an exit code; for a failure one rank cannot recover from. */
void par_abort(int code) __attribute__((noreturn));

/* Collective helpers on MPI_COMM_WORLD. */
int par_all_ok(int ok); /* logical AND of ok over ranks */
uint64_t par_sum_u64(uint64_t v);
double par_max_double(double v);
/* Rank 0's buffer of len bytes to every rank; others receive into a malloc'd buffer
 * (caller frees) through *data and *len. */
void par_bcast_bytes(char **data, size_t *len);
/* Every rank's len bytes, concatenated in rank order, into out on every rank. */
struct buf;
void par_allgather_bytes(const char *data, size_t len, struct buf *out);

/* In-place sums over ranks of n floats (doubles), the same on every rank, in an order fixed
 * by the rank count alone (a ring: reduce-scatter, then all-gather), so a training step
 * gives the same bits on every run; MPI_Allreduce promises no order. */
void par_allreduce_sum_f32(float *v, size_t n);
void par_allreduce_sum_f64(double *v, size_t n);

#endif
