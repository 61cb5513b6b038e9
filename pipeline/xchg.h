/* xchg: the all-to-all exchange of keyed records that global stages (dedup, quantiles,
 * tokenization) are built on. Each rank puts (key, value) records addressed to a rank; the
 * collective xchg_finish moves them in rounds of bounded size, and each rank then reads the
 * records it owns in sorted (key, value) order, so the result never depends on arrival order
 * or rank count. Past the memory budget, outgoing records and received runs are spilled to
 * disk as sorted runs and merged on read; a killed run's spills are removed by the next
 * (xchg_remove_stale). */
#ifndef CURATE_XCHG_H
#define CURATE_XCHG_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

struct xchg;

/* budget: bytes of memory this rank may hold for the exchange (buffers and runs together;
 * at least 64 KiB). spill_dir: where runs go (created if missing; files removed on free).
 * NULL with err_set on failure. Collective over comm. */
struct xchg *xchg_new(MPI_Comm comm, uint64_t budget, const char *spill_dir);

/* The owner rank of a key under the default placement: a stable hash of the key bytes
 * modulo nranks (the same on every machine and rank count). */
int xchg_owner(const void *key, size_t klen, int nranks);

/* Queues one record for rank dest (0 <= dest < size). Local only: ranks may put different
 * numbers of records. Keys up to 64 KiB, values up to 1 GiB. 0, or -1 with err_set
 * (spill I/O failure). */
int xchg_put(struct xchg *x, int dest, const void *key, size_t klen, const void *val,
	     size_t vlen);

/* Records equal in key and value to one already delivered are dropped: xchg_next then reads
 * a set. Repeats go as early as the sorting finds them (runs are written without them), so
 * a sender's repeats cost less memory and disk. Local; call before the first put. */
void xchg_set_unique(struct xchg *x);

/* Makes a finished exchange empty and ready for puts again, as xchg_new would, but keeping
 * its receive area (up to half the budget), so a loop of exchanges (rounds of connected
 * components) does not fault in fresh memory each time. Records not read are dropped, the
 * stats start again, the budget and xchg_set_unique stay. Local, but every rank must reuse
 * the exchange before its next xchg_finish. */
void xchg_reuse(struct xchg *x);

/* Collective: exchanges everything put on every rank, in rounds, and prepares the sorted
 * read. Call once, after the last put. 0, or -1 with err_set. */
int xchg_finish(struct xchg *x);

/* Next record owned by this rank in ascending order of key bytes (memcmp, shorter first on
 * a common prefix), then value bytes. Pointers stay valid until the next call.
 * 1 with a record, 0 at the end, -1 on error. */
int xchg_next(struct xchg *x, const void **key, size_t *klen, const void **val, size_t *vlen);

/* Counters for stats and tests. */
struct xchg_stats {
	uint64_t sent_records, sent_bytes, recv_records, recv_bytes;
	uint64_t rounds, spilled_runs, spilled_bytes;
	uint64_t peak_bytes; /* largest memory held at once by the exchange */
};
void xchg_get_stats(const struct xchg *x, struct xchg_stats *st);

void xchg_free(struct xchg *x); /* NULL is a no-op; removes spill files */

/* Removes what killed runs left in spill_dir: curate's spill directories (xchg-* by their
 * name pattern; nothing else is touched) of processes on this host that are gone, and with
 * all set every one but this process's, for a directory no live run can be using (the
 * workdir's own tmp/ under the workdir lock). Returns how many were removed; *bytes gets
 * their size. */
int xchg_remove_stale(const char *spill_dir, int all, uint64_t *bytes);

#endif
