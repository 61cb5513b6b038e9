/* par: see par.h. */
#include "par.h"

#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int rank_, size_, local_rank_, local_size_;

void par_fail(const char *file, int line, const char *what, int rc)
{
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;
	MPI_Error_string(rc, msg, &len);
	fprintf(stderr, "curate: MPI failure at %s:%d: %s: %s\n", file, line, what, msg);
	MPI_Abort(MPI_COMM_WORLD, 3);
	abort();
}

void par_init(int *argc, char ***argv)
{
	int inited = 0;
	MPI_Initialized(&inited);
	if (!inited)
		MPI_CHECK(MPI_Init(argc, argv));
	MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
	MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
	MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
	MPI_Comm node;
	MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL,
				      &node));
	MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
	MPI_CHECK(MPI_Comm_size(node, &local_size_));
	MPI_CHECK(MPI_Comm_free(&node));
}

void par_finalize(void)
{
	int fin = 0;
	MPI_Finalized(&fin);
	if (!fin)
		MPI_Finalize();
}

int par_rank(void) { return rank_; }
int par_size(void) { return size_; }
int par_local_rank(void) { return local_rank_; }
int par_local_size(void) { return local_size_; }

int par_cpu_share(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	return ncpu / local_size_ > 1 ? (int)(ncpu / local_size_) : 1;
}
void par_barrier(void) { MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

void par_abort(int code)
{
	fflush(stdout);
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, code);
	exit(code);
}

int par_all_ok(int ok)
{
	int in = ok ? 1 : 0, out = 0;
	MPI_CHECK(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
	/* a healthy rank that logs why the stage stopped says whose failure it was, not
	 * "unknown error" */
	if (in && !out && size_ > 1)
		err_set("another rank failed (its error is logged above)");
	return out;
}

uint64_t par_sum_u64(uint64_t v)
{
	uint64_t out = 0;
	MPI_CHECK(MPI_Allreduce(&v, &out, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
	return out;
}

double par_max_double(double v)
{
	double out = 0;
	MPI_CHECK(MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
	return out;
}

void par_bcast_bytes(char **data, size_t *len)
{
	uint64_t n = rank_ == 0 ? *len : 0;
	MPI_CHECK(MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));
	if (rank_ != 0) {
		*data = xmalloc(n + 1);
		(*data)[n] = 0;
		*len = n;
	}
	/* in pieces below INT_MAX */
	for (uint64_t off = 0; off < n; off += 1u << 30) {
		uint64_t part = n - off < (1u << 30) ? n - off : (1u << 30);
		MPI_CHECK(MPI_Bcast(*data + off, (int)part, MPI_BYTE, 0, MPI_COMM_WORLD));
	}
}

void par_allgather_bytes(const char *data, size_t len, struct buf *out)
{
	int n = size_, mine = (int)len;
	if (len > INT_MAX)
		DIE("par_allgather_bytes: %zu bytes from one rank", len);
	int *lens = xmalloc((size_t)n * sizeof *lens), *offs = xmalloc((size_t)n * sizeof *offs);
	MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, lens, 1, MPI_INT, MPI_COMM_WORLD));
	long long total = 0;
	for (int r = 0; r < n; r++) {
		offs[r] = (int)total;
		total += lens[r];
	}
	if (total > INT_MAX)
		DIE("par_allgather_bytes: %lld bytes in all", total);
	buf_reset(out);
	buf_grow(out, (size_t)total + 1);
	MPI_CHECK(MPI_Allgatherv(data, mine, MPI_BYTE, out->p, lens, offs, MPI_BYTE,
				 MPI_COMM_WORLD));
	out->len = (size_t)total;
	out->p[total] = 0;
	free(lens), free(offs);
}

/* The ring: P chunks; in P-1 steps each rank adds the chunk its left neighbour sends into
 * its own and passes it on, so rank r ends with the whole sum of chunk r+1; then P-1 steps
 * pass the sums around. A chunk travels in pieces of at most 1 GiB (MPI counts are ints);
 * both neighbours know its length, so the pieces match. */
static void sendrecv_big(const char *send, size_t sbytes, int to, char *recv, size_t rbytes,
			 int from, int tag)
{
	const size_t piece = (size_t)1 << 30;
	for (size_t off = 0; off < sbytes || off < rbytes; off += piece) {
		int sn = off < sbytes ? (int)(sbytes - off < piece ? sbytes - off : piece) : 0;
		int rn = off < rbytes ? (int)(rbytes - off < piece ? rbytes - off : piece) : 0;
		MPI_CHECK(MPI_Sendrecv(send + (off < sbytes ? off : 0), sn, MPI_BYTE, to, tag,
				       recv + (off < rbytes ? off : 0), rn, MPI_BYTE, from, tag,
				       MPI_COMM_WORLD, MPI_STATUS_IGNORE));
	}
}

static void ring_allreduce(void *v, size_t n, size_t elem, int dbl)
{
	int P = size_, r = rank_;
	if (P == 1 || n == 0)
		return;
	size_t chunk = (n + (size_t)P - 1) / (size_t)P;
	char *tmp = xmalloc(chunk * elem), *base = v;
	int to = (r + 1) % P, from = (r + P - 1) % P;
#define CHUNK_AT(c) ((size_t)(c) * chunk < n ? (size_t)(c) * chunk : n)
#define CHUNK_LEN(c) (CHUNK_AT((c) + 1) - CHUNK_AT(c))
	for (int s = 0; s < P - 1; s++) {
		int out = ((r - s) % P + P) % P, in = ((r - s - 1) % P + P) % P;
		size_t lo = CHUNK_AT(in), len = CHUNK_LEN(in);
		sendrecv_big(base + CHUNK_AT(out) * elem, CHUNK_LEN(out) * elem, to, tmp, len * elem,
			     from, 78);
		if (dbl)
			for (size_t i = 0; i < len; i++)
				((double *)v)[lo + i] += ((double *)tmp)[i];
		else
			for (size_t i = 0; i < len; i++)
				((float *)v)[lo + i] += ((float *)tmp)[i];
	}
	for (int s = 0; s < P - 1; s++) {
		int out = ((r + 1 - s) % P + P) % P, in = ((r - s) % P + P) % P;
		sendrecv_big(base + CHUNK_AT(out) * elem, CHUNK_LEN(out) * elem, to,
			     base + CHUNK_AT(in) * elem, CHUNK_LEN(in) * elem, from, 79);
	}
#undef CHUNK_AT
#undef CHUNK_LEN
	free(tmp);
}

void par_allreduce_sum_f32(float *v, size_t n) { ring_allreduce(v, n, sizeof(float), 0); }

void par_allreduce_sum_f64(double *v, size_t n) { ring_allreduce(v, n, sizeof(double), 1); }
