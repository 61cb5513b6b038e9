/* test_xchg: the all-to-all exchange, run alone and under mpiexec -n 2 and 3. Every record
 * must reach its owner exactly once, in sorted order, within the memory budget, and the global
 * sorted result must not depend on the rank count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "par.h"
#include "util.h"
#include "xchg.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rank, nranks;
static char *spill_dir;

/* Checks are counted, not asserted, until every rank is past the test's collectives: a rank
 * that jumped out of a test early would leave the others waiting forever. */
static int fails;
#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fails++;                                                           \
			fprintf(stderr, "rank %d: %s:%d: check failed: %s\n", rank,        \
				__FILE__, __LINE__, #cond);                                \
		}                                                                          \
	} while (0)

/* Ends a test on every rank alike: it fails everywhere if it failed anywhere. */
static void all_ranks_pass(void)
{
	uint64_t total = par_sum_u64((uint64_t)fails);
	fails = 0;
	assert_int_equal(total, 0);
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *u = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ u[i]) * 0x100000001b3ULL;
	return h;
}

/* A record's hash, with the lengths in so ("ab", "c") and ("a", "bc") differ. */
static uint64_t rec_hash(const void *k, size_t kl, const void *v, size_t vl)
{
	uint64_t h = 0xcbf29ce484222325ULL, n[2] = {kl, vl};
	h = fnv(h, n, sizeof n);
	h = fnv(h, k, kl);
	return fnv(h, v, vl);
}

static int bytes_cmp(const void *a, size_t na, const void *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);
	return c ? c : (na > nb) - (na < nb);
}

/* What a rank sent or received: count, an order-free checksum, and an ordered stream hash. */
struct tally {
	uint64_t count, sum, stream;
};

static void tally_add(struct tally *t, const void *k, size_t kl, const void *v, size_t vl)
{
	uint64_t h = rec_hash(k, kl, v, vl);
	t->count++;
	t->sum += h;
	t->stream = (t->stream ^ h) * 0x100000001b3ULL;
}

static struct xchg *new_xchg(MPI_Comm comm, uint64_t budget)
{
	struct xchg *x = xchg_new(comm, budget, spill_dir);
	if (!x)
		fail_msg("xchg_new: %s", err_get());
	return x;
}

static void put(struct xchg *x, MPI_Comm comm, const void *k, size_t kl, const void *v,
		size_t vl, struct tally *sent)
{
	int n;
	MPI_Comm_size(comm, &n);
	CHECK(xchg_put(x, xchg_owner(k, kl, n), k, kl, v, vl) == 0);
	tally_add(sent, k, kl, v, vl);
}

/* Puts n records with random keys of [kmin, kmax] bytes and values of [vmin, vmax] bytes. */
static void put_random(struct xchg *x, MPI_Comm comm, uint64_t seed, size_t n, size_t kmin,
		       size_t kmax, size_t vmin, size_t vmax, struct tally *sent)
{
	unsigned char k[512], v[512];
	for (size_t i = 0; i < n; i++) {
		size_t kl = kmin + splitmix(&seed) % (kmax - kmin + 1);
		size_t vl = vmin + splitmix(&seed) % (vmax - vmin + 1);
		for (size_t j = 0; j < kl; j++)
			k[j] = (unsigned char)splitmix(&seed);
		for (size_t j = 0; j < vl; j++)
			v[j] = (unsigned char)(j + kl);
		put(x, comm, k, kl, v, vl, sent);
	}
}

static uint64_t drained_repeats; /* records equal to the one before, in the last drain */

/* Reads everything this rank owns, checking order and ownership; stream holds the bytes
 * when asked (wire format) for a later global comparison. */
static void drain(struct xchg *x, MPI_Comm comm, struct tally *got, struct buf *stream)
{
	int me, n, r;
	MPI_Comm_rank(comm, &me);
	MPI_Comm_size(comm, &n);
	struct buf prev_k = BUF_INIT, prev_v = BUF_INIT;
	const void *k, *v;
	size_t kl, vl;
	int have_prev = 0, order_ok = 1, owner_ok = 1;
	drained_repeats = 0;
	while ((r = xchg_next(x, &k, &kl, &v, &vl)) == 1) {
		if (have_prev) {
			int c = bytes_cmp(prev_k.p, prev_k.len, k, kl);
			int cv = c ? 0 : bytes_cmp(prev_v.p, prev_v.len, v, vl);
			order_ok &= c < 0 || (c == 0 && cv <= 0);
			drained_repeats += c == 0 && cv == 0;
		}
		owner_ok &= xchg_owner(k, kl, n) == me;
		buf_set(&prev_k, k, kl);
		buf_set(&prev_v, v, vl);
		have_prev = 1;
		tally_add(got, k, kl, v, vl);
		if (stream) {
			uint32_t len[2] = {(uint32_t)kl, (uint32_t)vl};
			buf_append(stream, len, sizeof len);
			buf_append(stream, k, kl);
			buf_append(stream, v, vl);
		}
	}
	CHECK(r == 0);
	CHECK(order_ok);
	CHECK(owner_ok);
	CHECK(xchg_next(x, &k, &kl, &v, &vl) == 0); /* the end stays the end */
	buf_release(&prev_k);
	buf_release(&prev_v);
}

/* Finishes, drains and checks that what was sent on all ranks is what was received. */
static void finish_and_check(struct xchg *x, const struct tally *sent, struct xchg_stats *st)
{
	struct tally got = {0};
	int rc = xchg_finish(x);
	CHECK(rc == 0);
	if (rc)
		fprintf(stderr, "rank %d: xchg_finish: %s\n", rank, err_get());
	else
		drain(x, MPI_COMM_WORLD, &got, NULL);
	CHECK(par_sum_u64(sent->count) == par_sum_u64(got.count));
	CHECK(par_sum_u64(sent->sum) == par_sum_u64(got.sum));
	xchg_get_stats(x, st);
	CHECK(st->sent_records == sent->count);
	CHECK(st->recv_records == got.count);
	CHECK(par_sum_u64(st->sent_bytes) == par_sum_u64(st->recv_bytes));
}

static void test_basic(void **state)
{
	struct xchg *x = new_xchg(MPI_COMM_WORLD, 16 << 20);
	struct tally sent = {0};
	struct xchg_stats st;
	put_random(x, MPI_COMM_WORLD, 1000 + (uint64_t)rank, 20000, 1, 40, 0, 64, &sent);
	finish_and_check(x, &sent, &st);
	CHECK(st.spilled_runs == 0);
	CHECK(st.spilled_bytes == 0);
	CHECK(st.peak_bytes > 0 && st.peak_bytes <= 16 << 20);
	xchg_free(x);
	all_ranks_pass();
}

/* 200k records through 64 KiB: outgoing buffers spill, received runs go to disk and are
 * merged in more than one pass. */
static void test_tiny_budget(void **state)
{
	const uint64_t budget = 64 << 10;
	struct xchg *x = new_xchg(MPI_COMM_WORLD, budget);
	struct tally sent = {0};
	struct xchg_stats st;
	put_random(x, MPI_COMM_WORLD, 2000 + (uint64_t)rank, 200000 / (size_t)nranks, 4, 24, 0,
		   24, &sent);
	finish_and_check(x, &sent, &st);
	CHECK(st.spilled_runs > 0);
	/* All but what fits in memory went to disk at least once on the receiving side (a
	 * rank's records to itself go there directly, never through the sending side). */
	CHECK(st.spilled_bytes + 2 * budget >= st.recv_bytes);
	CHECK(st.peak_bytes <= budget + (budget >> 4)); /* slack: whole records per round */
	CHECK(nranks == 1 || st.rounds > 1);
	xchg_free(x);
	all_ranks_pass();
}

/* Records that fit in a quarter of the budget are sent from memory, never spilled, even when
 * the buffer's doubling left its capacity above that quarter: 3000 records of 72 bytes
 * (216000) grow the buffer to 294912 bytes, over 1 MiB / 4. */
static void test_fits_without_spill(void **state)
{
	struct xchg *x = new_xchg(MPI_COMM_SELF, 1 << 20);
	unsigned char k[8], v[56] = {0};
	uint64_t seed = 5000 + (uint64_t)rank;
	for (int i = 0; i < 3000; i++) {
		uint64_t r = splitmix(&seed);
		memcpy(k, &r, sizeof k);
		CHECK(xchg_put(x, 0, k, sizeof k, v, sizeof v) == 0);
	}
	CHECK(xchg_finish(x) == 0);
	const void *kp, *vp;
	size_t kl, vl, n = 0;
	while (xchg_next(x, &kp, &kl, &vp, &vl) == 1)
		n++;
	struct xchg_stats st;
	xchg_get_stats(x, &st);
	CHECK(n == 3000);
	CHECK(st.spilled_bytes == 0);
	CHECK(st.peak_bytes <= 1 << 20);
	xchg_free(x);
	all_ranks_pass();
}

/* Rank 0 puts nothing; then nobody puts anything at all. */
static void test_idle_ranks(void **state)
{
	struct xchg *x = new_xchg(MPI_COMM_WORLD, 1 << 20);
	struct tally sent = {0};
	struct xchg_stats st;
	if (rank != 0)
		put_random(x, MPI_COMM_WORLD, 3000 + (uint64_t)rank, 5000, 1, 16, 1, 16, &sent);
	finish_and_check(x, &sent, &st);
	xchg_free(x);

	x = new_xchg(MPI_COMM_WORLD, 1 << 20);
	memset(&sent, 0, sizeof sent);
	finish_and_check(x, &sent, &st);
	CHECK(st.recv_records == 0);
	CHECK(st.rounds == 1);
	xchg_free(x);
	all_ranks_pass();
}

/* Keys of 0 to 300 bytes (the empty key too), empty values, and every record twice: the
 * duplicates must all come back. */
static void test_empty_values_and_duplicates(void **state)
{
	struct xchg *x = new_xchg(MPI_COMM_WORLD, 64 << 10);
	struct tally sent = {0};
	struct xchg_stats st;
	uint64_t seed = 4000 + (uint64_t)rank;
	unsigned char k[300] = {0};
	for (int i = 0; i < 3000; i++) {
		size_t kl = splitmix(&seed) % (i < 100 ? 3 : sizeof k + 1);
		for (size_t j = 0; j < kl; j++)
			k[j] = (unsigned char)(i % 7 == 0 ? 'a' : splitmix(&seed));
		put(x, MPI_COMM_WORLD, k, kl, NULL, 0, &sent);
		put(x, MPI_COMM_WORLD, k, kl, "", 0, &sent);
	}
	/* The same key with different values, from every rank. */
	for (int i = 0; i < 50; i++)
		put(x, MPI_COMM_WORLD, "shared", 6, &i, sizeof i, &sent);
	finish_and_check(x, &sent, &st);
	xchg_free(x);
	all_ranks_pass();
}

/* The sort's three ways, each past the radix threshold and in runs under a small budget as
 * well as in memory: records of one key and value length that fit its 16-byte words (equal
 * words are equal records), keys of one length with values whose words tie (zero bytes
 * against padding), and keys of many lengths that share prefixes and trailing zeros. The
 * order is checked against plain byte comparison in drain. */
static void test_sort_paths(void **state)
{
	static const uint64_t budgets[] = {64 << 10, 64 << 20};
	for (int b = 0; b < 2; b++)
		for (int kind = 0; kind < 3; kind++) {
			struct xchg *x = new_xchg(MPI_COMM_WORLD, budgets[b]);
			struct tally sent = {0};
			struct xchg_stats st;
			uint64_t seed = 7000 + 10 * (uint64_t)kind + (uint64_t)rank;
			unsigned char k[40] = {0}, v[16] = {0};
			for (int i = 0; i < 20000; i++) {
				uint64_t r = splitmix(&seed);
				size_t kl = 8, vl = 8;
				memset(k, 0, sizeof k), memset(v, 0, sizeof v);
				if (kind == 0) { /* shard-like keys: high bytes zero, repeats */
					k[7] = (unsigned char)(r % 50), k[6] = (unsigned char)(r >> 8) % 3;
					v[7] = (unsigned char)(r >> 16) % 7;
				} else if (kind == 1) {
					kl = 12, vl = (r >> 8) % 6;
					k[11] = (unsigned char)(r % 5);
					v[0] = 'a', v[2] = (unsigned char)((r >> 16) % 2);
				} else {
					kl = (r >> 4) % 24;
					memset(k, 'p', kl > 10 ? 10 : kl); /* a shared prefix, then zeros */
					if (kl > 17)
						k[kl - 1] = (unsigned char)(r >> 12) % 3;
					vl = (r >> 20) % 3;
				}
				put(x, MPI_COMM_WORLD, k, kl, v, vl, &sent);
			}
			finish_and_check(x, &sent, &st);
			if (b == 0)
				CHECK(st.spilled_runs > 0);
			xchg_free(x);
		}
	all_ranks_pass();
}

/* xchg_set_unique: every rank puts the same records, each three times; the ranks receive
 * each once, in order, in memory and through runs. */
static void test_unique(void **state)
{
	static const uint64_t budgets[] = {64 << 10, 64 << 20};
	for (int b = 0; b < 2; b++)
		for (int kind = 0; kind < 2; kind++) {
			struct xchg *x = new_xchg(MPI_COMM_WORLD, budgets[b]);
			xchg_set_unique(x);
			enum { N = 9000 };
			uint64_t got = 0;
			for (int rep = 0; rep < 3; rep++) {
				uint64_t seed = 9000 + (uint64_t)kind; /* the same on every rank */
				for (int i = 0; i < N; i++) {
					unsigned char k[8], v[20];
					uint64_t r = splitmix(&seed);
					memcpy(k, &r, 8);
					size_t vl = kind ? 4 + (size_t)(r % 17) : 8;
					memset(v, (int)(r >> 8), sizeof v);
					CHECK(xchg_put(x, xchg_owner(k, 8, nranks), k, 8, v, vl) == 0);
				}
			}
			CHECK(xchg_finish(x) == 0);
			struct tally t = {0};
			drain(x, MPI_COMM_WORLD, &t, NULL);
			got = t.count;
			CHECK(drained_repeats == 0);
			CHECK(par_sum_u64(got) == N);
			xchg_free(x);
		}
	all_ranks_pass();
}

/* xchg_reuse: one exchange serves rounds in turn, each round's records all there and
 * only them, in memory and spilling, including a round read only in part and one with
 * nothing put. */
static void test_reuse(void **state)
{
	static const uint64_t budgets[] = {64 << 10, 64 << 20};
	for (int b = 0; b < 2; b++) {
		struct xchg *x = new_xchg(MPI_COMM_WORLD, budgets[b]);
		for (int round = 0; round < 5; round++) {
			struct tally sent = {0};
			struct xchg_stats st;
			size_t n = round == 3 ? 0 : 3000 + 1000 * (size_t)round;
			put_random(x, MPI_COMM_WORLD, 100 * (uint64_t)round + (uint64_t)rank, n, 1, 24,
				   0, 40, &sent);
			if (round == 1) { /* read a few, then reuse: the rest must not leak on */
				CHECK(xchg_finish(x) == 0);
				const void *k, *v;
				size_t kl, vl;
				for (int i = 0; i < 10; i++)
					CHECK(xchg_next(x, &k, &kl, &v, &vl) == 1);
			} else {
				finish_and_check(x, &sent, &st);
				CHECK(st.sent_records == n);
			}
			xchg_reuse(x);
		}
		xchg_free(x);
	}
	all_ranks_pass();
}

/* Values larger than a round's chunk, in memory (100 KiB, 300 KiB) and straight from the
 * spill file (4 MiB), arrive whole. */
static void test_big_values(void **state)
{
	struct xchg *x = new_xchg(MPI_COMM_WORLD, 1 << 20);
	struct tally sent = {0};
	struct xchg_stats st;
	static const size_t sizes[] = {4 << 20, 100 << 10, 300 << 10, 4 << 20};
	char *v = xmalloc(4 << 20);
	for (size_t i = 0; i < (4 << 20); i++)
		v[i] = (char)(i * 31 + (i >> 12));
	put_random(x, MPI_COMM_WORLD, 5000 + (uint64_t)rank, 2000, 1, 32, 0, 32, &sent);
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "big-%d-%zu", rank, i);
		if (rank == 0 || i == 0)
			put(x, MPI_COMM_WORLD, key, (size_t)kl, v, sizes[i], &sent);
	}
	finish_and_check(x, &sent, &st);
	free(v);
	xchg_free(x);
	all_ranks_pass();
}

/* Rank r puts records r, r + n, ... of one global set of 6000 (with repeats); returns the
 * order-dependent hash of the globally sorted result, gathered at rank 0 of comm. */
static void put_global_set(struct xchg *x, MPI_Comm comm, struct tally *sent)
{
	int me, n;
	MPI_Comm_rank(comm, &me);
	MPI_Comm_size(comm, &n);
	for (int i = me; i < 6000; i += n) {
		uint64_t s = (uint64_t)(i % 4500), kb[5], vb[8];
		size_t kl = 1 + splitmix(&s) % 40, vl = splitmix(&s) % 64;
		for (size_t j = 0; j < 5; j++)
			kb[j] = splitmix(&s);
		for (size_t j = 0; j < 8; j++)
			vb[j] = splitmix(&s) ^ (uint64_t)(i % 3);
		put(x, comm, kb, kl, vb, vl, sent);
	}
}

struct rec {
	const char *k, *v;
	uint32_t kl, vl;
};

static int rec_order(const void *pa, const void *pb)
{
	const struct rec *a = pa, *b = pb;
	int c = bytes_cmp(a->k, a->kl, b->k, b->kl);
	return c ? c : bytes_cmp(a->v, a->vl, b->v, b->vl);
}

/* The hash of every rank's records merged into one sorted stream (at rank 0). */
static uint64_t global_stream_hash(const struct buf *mine)
{
	int len = (int)mine->len, *lens = NULL, *displs = NULL, total = 0;
	char *all = NULL;
	if (rank == 0) {
		lens = xcalloc((size_t)nranks, sizeof *lens);
		displs = xcalloc((size_t)nranks, sizeof *displs);
	}
	MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
	for (int r = 0; rank == 0 && r < nranks; r++) {
		displs[r] = total;
		total += lens[r];
	}
	if (rank == 0)
		all = xmalloc((size_t)total + 1);
	MPI_Gatherv(mine->p ? mine->p : "", len, MPI_BYTE, all, lens, displs, MPI_BYTE, 0,
		    MPI_COMM_WORLD);
	struct tally t = {0};
	if (rank == 0) {
		size_t n = 0, cap = 1024;
		struct rec *recs = xmalloc(cap * sizeof *recs);
		for (size_t off = 0; off < (size_t)total; n++) {
			if (n == cap)
				recs = xrealloc(recs, (cap *= 2) * sizeof *recs);
			memcpy(&recs[n].kl, all + off, 4);
			memcpy(&recs[n].vl, all + off + 4, 4);
			recs[n].k = all + off + 8;
			recs[n].v = recs[n].k + recs[n].kl;
			off += 8 + recs[n].kl + recs[n].vl;
		}
		qsort(recs, n, sizeof *recs, rec_order);
		for (size_t i = 0; i < n; i++)
			tally_add(&t, recs[i].k, recs[i].kl, recs[i].v, recs[i].vl);
		free(recs);
	}
	free(all);
	free(lens);
	free(displs);
	MPI_Bcast(&t.stream, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
	return t.stream;
}

/* The globally sorted result over all ranks equals the sorted stream of one rank alone
 * (MPI_COMM_SELF), whatever the number of ranks: so it is the same for -n 1, 2 and 3. */
static void test_rank_count_independence(void **state)
{
	struct tally sent = {0}, got = {0}, alone_sent = {0}, alone = {0};
	struct buf mine = BUF_INIT;
	struct xchg *x = new_xchg(MPI_COMM_WORLD, 64 << 10);
	put_global_set(x, MPI_COMM_WORLD, &sent);
	CHECK(xchg_finish(x) == 0);
	drain(x, MPI_COMM_WORLD, &got, &mine);
	xchg_free(x);
	uint64_t world = global_stream_hash(&mine);

	x = new_xchg(MPI_COMM_SELF, 64 << 10);
	put_global_set(x, MPI_COMM_SELF, &alone_sent);
	CHECK(xchg_finish(x) == 0);
	drain(x, MPI_COMM_SELF, &alone, NULL);
	xchg_free(x);

	CHECK(alone.count == 6000);
	CHECK(par_sum_u64(got.count) == 6000);
	CHECK(world == alone.stream);
	CHECK(par_sum_u64(got.sum) == alone.sum);
	buf_release(&mine);
	all_ranks_pass();
}

static void test_bad_calls(void **state)
{
	struct xchg *x = new_xchg(MPI_COMM_WORLD, 0); /* raised to the 64 KiB minimum */
	static char big_key[(64 << 10) + 1];
	const void *k, *v;
	size_t kl, vl;
	CHECK(xchg_next(x, &k, &kl, &v, &vl) == -1);
	CHECK(xchg_put(x, -1, "k", 1, "v", 1) == -1);
	CHECK(xchg_put(x, nranks, "k", 1, "v", 1) == -1);
	CHECK(xchg_put(x, 0, big_key, sizeof big_key, "v", 1) == -1);
	CHECK(strstr(err_get(), "bad record") != NULL);
	CHECK(xchg_put(x, xchg_owner(big_key, sizeof big_key - 1, nranks), big_key,
		       sizeof big_key - 1, "v", 1) == 0);
	CHECK(xchg_finish(x) == 0);
	CHECK(xchg_put(x, 0, "k", 1, "v", 1) == -1);
	CHECK(xchg_finish(x) == -1);
	struct tally got = {0};
	drain(x, MPI_COMM_WORLD, &got, NULL);
	CHECK(par_sum_u64(got.count) == (uint64_t)nranks);
	xchg_free(x);
	xchg_free(NULL);
	all_ranks_pass();
}

/* Placement is a fixed function of the key bytes: these values must never change. */
static void test_owner(void **state)
{
	int count[4] = {0};
	for (uint64_t i = 0; i < 4000; i++)
		count[xchg_owner(&i, sizeof i, 4)]++;
	for (int b = 0; b < 4; b++)
		CHECK(count[b] > 800 && count[b] < 1200);
	CHECK(xchg_owner("abc", 3, 1) == 0);
	CHECK(xchg_owner("", 0, 1000) == 562);
	CHECK(xchg_owner("abc", 3, 1000) == 773);
	CHECK(xchg_owner("0123456789abcdef0123", 20, 1000) == 64);
	all_ranks_pass();
}

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Spill files exist while the exchange lives and are all gone after xchg_free. */
static void test_spill_cleanup(void **state)
{
	struct xchg *x = new_xchg(MPI_COMM_WORLD, 64 << 10);
	struct tally sent = {0};
	put_random(x, MPI_COMM_WORLD, 6000 + (uint64_t)rank, 20000, 8, 8, 8, 8, &sent);
	CHECK(xchg_finish(x) == 0);
	par_barrier();
	CHECK(dir_entries(spill_dir) == nranks);
	par_barrier();
	xchg_free(x);
	par_barrier();
	CHECK(dir_entries(spill_dir) == 0);
	all_ranks_pass();
}

/* Removes rank 0's spill directory from under its exchange, so its spills fail. */
static void break_rank0_spill_dir(void)
{
	DIR *d = opendir(spill_dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (strncmp(e->d_name, "xchg-0-", 7))
			continue;
		char *path = xasprintf("%s/%s", spill_dir, e->d_name);
		remove_tree(path);
		free(path);
	}
	if (d)
		closedir(d);
}

/* A spill failure on one rank fails xchg_finish on every rank, and none hangs, even when
 * the caller ignored the failed puts and went on. */
static void test_failure_is_collective(void **state)
{
	struct xchg *x = new_xchg(MPI_COMM_WORLD, 64 << 10);
	if (rank == 0)
		break_rank0_spill_dir();
	uint64_t seed = 7000 + (uint64_t)rank;
	int put_failed = 0;
	for (int i = 0; i < 20000; i++) {
		uint64_t k = splitmix(&seed);
		put_failed |= xchg_put(x, xchg_owner(&k, sizeof k, nranks), &k, sizeof k, "v", 1);
	}
	CHECK(put_failed == (rank == 0 ? -1 : 0));
	CHECK(xchg_finish(x) == -1);
	CHECK(strstr(err_get(), rank == 0 ? "cannot create" : "another rank") != NULL);
	const void *k, *v;
	size_t kl, vl;
	CHECK(xchg_next(x, &k, &kl, &v, &vl) == -1);
	xchg_free(x);
	all_ranks_pass();
}

int main(int argc, char **argv)
{
	par_init(&argc, &argv);
	rank = par_rank();
	nranks = par_size();
	char *dir = NULL;
	size_t len = 0;
	if (rank == 0) {
		const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		dir = xasprintf("%s/curate-test-xchg-%ld", tmp, (long)getpid());
		len = strlen(dir) + 1;
	}
	par_bcast_bytes(&dir, &len);
	spill_dir = dir;
	/* One cmocka report, rank 0's: the others write theirs as XML into the spill directory
	 * (removed at the end), and stderr stays open for CHECK and sanitizer reports. */
	if (rank != 0) {
		char *xml = xasprintf("%s/cmocka-rank-%d.xml", spill_dir, rank);
		setenv("CMOCKA_XML_FILE", xml, 1);
		free(xml);
		cmocka_set_message_output(CM_OUTPUT_XML);
	}

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_tiny_budget),
		cmocka_unit_test(test_fits_without_spill),
		cmocka_unit_test(test_idle_ranks),
		cmocka_unit_test(test_empty_values_and_duplicates),
		cmocka_unit_test(test_big_values),
		cmocka_unit_test(test_sort_paths),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_rank_count_independence),
		cmocka_unit_test(test_bad_calls),
		cmocka_unit_test(test_spill_cleanup),
		cmocka_unit_test(test_failure_is_collective),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	int any = 0;
	MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	par_barrier();
	if (rank == 0)
		remove_tree(spill_dir);
	free(spill_dir);
	par_finalize();
	return any ? 1 : 0;
}
