/* dedup-near: MinHash LSH near-duplicate removal across ranks. Each document's signature
 * is cut into bands; equal bands (same level) make candidate pairs at the band's owner rank;
 * with check_jaccard each pair's estimated similarity (full signatures) must reach the
 * threshold; the surviving edges go through distributed connected components (alternating
 * large-star and small-star, O(log n) rounds whatever the diameter, no rank holding all
 * edges); one document per component is kept by the keep rule. docs/dedup.md explains
 * choices and defaults. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup.h"
#include "log.h"
#include "minhash.h"
#include "par.h"
#include "phase.h"
#include "stages.h"

static const struct opt_def dedup_near_opts[] = {
	DEDUP_COMMON_OPTS,
	{"shingle", OPT_ENUM, "word", 0, 0, "word|char",
	 "Shingles: word n-grams (words are runs of letters, digits, '_' and non-ASCII bytes) "
	 "or character n-grams (code points, whitespace runs as one space)."},
	{"ngram", OPT_INT, "5", 1, 64, NULL, "n of the n-grams."},
	{"num_hashes", OPT_INT, "112", 1, 4096, NULL,
	 "MinHash signature length; bands x rows of it are used for LSH, all for the check."},
	{"bands", OPT_INT, "14", 1, 4096, NULL, "LSH bands."},
	{"rows", OPT_INT, "8", 1, 4096, NULL, "Rows (hashes) per band."},
	{"seed", OPT_INT, "1", 0, 9e15, NULL,
	 "Seed of the hash family; results depend on it, never on the rank count."},
	{"check_jaccard", OPT_BOOL, "true", 0, 0, NULL,
	 "Keep a candidate pair only if its estimated Jaccard similarity (the fraction of equal "
	 "signature entries) reaches threshold; drops LSH false positives."},
	{"threshold", OPT_FLOAT, "0.7", 0, 1, NULL, "Jaccard threshold of check_jaccard."},
	{"check_window", OPT_INT, "2", 1, 4096, NULL,
	 "With check_jaccard, each member of a bucket is paired with the bucket's first this many "
	 "members in keep order: every pair of a bucket of up to check_window + 1 members, so "
	 "that no similar pair is lost because the first member was dissimilar; in larger "
	 "buckets each member against those first ones. 1: a star from the first member."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

enum { T_SIG = 0, T_LINK = 1 }; /* first byte of values keyed by node */
enum { F_MSG = 0, F_OWN = 1 };  /* last byte of label values */

struct near {
	struct minhash *mh;
	unsigned nh, bands, rows;
	int check;
	double threshold;
	uint32_t *sig;
	struct buf key, val, a, b, c, nk; /* nk: a node key being put */
	struct buf *win; /* the bucket's first members (its hubs), check_window at most */
	size_t window, nwin;
	struct xchg *x;
	uint64_t candidates, checked, below, rounds;
	uint64_t step_records, step_bytes;    /* of the components round running */
	uint64_t *round_records, *round_bytes; /* per round, over all ranks */
	double t0; /* for the debug log of phase times */
};

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static int owner_of(struct dedup *d, const void *node, size_t n)
{
	return xchg_owner(node, n, d->run->nranks);
}

/* Exchanges keyed by node key it as [hash of the keep key u64 BE][keep key]: what follows
 * only groups a node's records, never needs nodes in keep order, and keep keys share long
 * prefixes (licence rank, stars, an id's path), so the hash lets the sort decide by its
 * first 8 bytes instead of comparing whole keys. A node's records still sort by value. */
enum { NODE_HASH = 8 };

static const struct buf *node_key(struct buf *out, const void *u, size_t ul)
{
	unsigned char h[NODE_HASH];
	be_put(h, minhash_hash_bytes(u, ul), NODE_HASH);
	buf_set(out, h, NODE_HASH);
	buf_append(out, u, ul);
	return out;
}

/* The keep key in a node key. */
static const void *node_of(const void *k, size_t kl, size_t *ul)
{
	*ul = kl - NODE_HASH;
	return (const char *)k + NODE_HASH;
}

/* ---- phase 1: signatures and band keys ---- */

/* A document's band keys (and, with the check, its signature) into the exchange, from its
 * keep key (nr->val), level and signature (nr->sig). */
static int put_doc(struct dedup *d, struct near *nr, int level)
{
	/* a band key carries a 64-bit hash of its rows: equal rows collide by design, unequal
	 * ones with probability 2^-64 (and the check would catch those) */
	unsigned char k[12], rows[4 * MINHASH_MAX_HASHES];
	k[0] = 'b';
	k[1] = (unsigned char)level;
	for (unsigned b = 0; b < nr->bands; b++) {
		for (unsigned r = 0; r < nr->rows; r++)
			put_le32(rows + 4 * r, nr->sig[b * nr->rows + r]);
		be_put(k + 2, b, 2);
		be_put(k + 4, minhash_hash_bytes(rows, 4 * (size_t)nr->rows), 8);
		if (xchg_put(nr->x, xchg_owner(k, sizeof k, d->run->nranks), k, sizeof k,
			     nr->val.p, nr->val.len) < 0)
			return -1;
	}
	if (!nr->check)
		return 0;
	buf_reset(&nr->key);
	buf_putc(&nr->key, 's');
	buf_append(&nr->key, nr->val.p, nr->val.len);
	buf_reset(&nr->a);
	buf_putc(&nr->a, T_SIG);
	for (unsigned i = 0; i < nr->nh; i++) {
		unsigned char w[4];
		put_le32(w, nr->sig[i]);
		buf_append(&nr->a, w, 4);
	}
	return xchg_put(nr->x, owner_of(d, nr->val.p, nr->val.len), nr->key.p, nr->key.len,
			nr->a.p, nr->a.len);
}

/* The phase file of an input shard: per document with a signature, [level u8][keep key
 * length u32 BE][keep key][signature, num_hashes u32 LE], so that a rerun puts the same
 * records without reading or hashing the shard again. */
static int put_bands(struct dedup *d, struct doc *doc, void *arg)
{
	struct near *nr = arg;
	if (!minhash_signature(nr->mh, doc->text.p ? doc->text.p : "", doc->text.len, nr->sig))
		return 0; /* nothing to compare: a cluster of its own */
	buf_reset(&nr->val);
	dedup_keep_key(&nr->val, doc, d->shard, d->record, 0);
	int level = dedup_level(d, doc);
	unsigned char h[5], w[4 * MINHASH_MAX_HASHES];
	h[0] = (unsigned char)level;
	be_put(h + 1, nr->val.len, 4);
	for (unsigned i = 0; i < nr->nh; i++)
		put_le32(w + 4 * i, nr->sig[i]);
	if (fwrite(h, 5, 1, d->out) != 1 || fwrite(nr->val.p, 1, nr->val.len, d->out) != nr->val.len ||
	    fwrite(w, 4, nr->nh, d->out) != nr->nh) {
		err_set("%s: %s", d->out_path, strerror(errno));
		return -1;
	}
	return put_doc(d, nr, level);
}

/* A reused shard: its documents' records from the kept signatures. */
static int replay(struct dedup *d, struct near *nr, struct phase *ph, size_t i)
{
	char *path = phase_path(ph, i, "sig");
	struct buf b = BUF_INIT;
	int rc = read_file(path, &b);
	size_t sl = 4 * (size_t)nr->nh;
	for (size_t p = 0; !rc && p < b.len;) {
		const unsigned char *r = (const unsigned char *)b.p + p;
		uint64_t kl = b.len - p >= 5 ? be_get(r + 1, 4) : 0;
		if (b.len - p < 5 || kl > b.len - p - 5 || sl > b.len - p - 5 - kl) {
			err_set("%s: offset %zu: a truncated record", path, p);
			rc = -1;
			break;
		}
		buf_set(&nr->val, r + 5, kl);
		for (unsigned h = 0; h < nr->nh; h++) {
			const unsigned char *q = r + 5 + kl + 4 * h;
			nr->sig[h] = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
				     (uint32_t)q[3] << 24;
		}
		rc = put_doc(d, nr, r[0]);
		p += 5 + kl + sl;
	}
	buf_release(&b);
	free(path);
	return rc;
}

/* ---- edges ---- */

/* The record u -> v at u's owner, keyed by u's node key. */
static int put_link(struct dedup *d, struct near *nr, struct xchg *x, const void *u, size_t ul,
		    const void *v, size_t vl)
{
	buf_reset(&nr->c);
	buf_putc(&nr->c, T_LINK);
	buf_append(&nr->c, v, vl);
	const struct buf *k = node_key(&nr->nk, u, ul);
	return xchg_put(x, owner_of(d, u, ul), k->p, k->len, nr->c.p, nr->c.len);
}

static int put_edge(struct dedup *d, struct near *nr, struct xchg *cc, const void *u, size_t ul,
		    const void *v, size_t vl)
{
	if (put_link(d, nr, cc, u, ul, v, vl) < 0)
		return -1;
	return put_link(d, nr, cc, v, vl, u, ul);
}

/* Buckets, runs of equal band keys, their members in keep order. Without the check, each
 * member is linked to the first (a star: the component is the same as with every pair, and
 * its diameter 2). With it, a pair is an edge only if it passes, so a star would lose the
 * pairs of members that are similar to each other but not to the first. So each member is
 * paired with the bucket's first check_window members, its hubs: every pair of a bucket of
 * up to check_window + 1 members, and in larger ones every member against each hub, which
 * keeps the component's diameter small (a chain of neighbours would make it the bucket's
 * size, and label propagation's rounds with it) and the pairs at most check_window a member.
 * Signatures ('s' keys, sorted after all bands) pass on to the check. */
static int buckets(struct dedup *d, struct near *nr, struct xchg *out)
{
	const void *k, *v;
	size_t kl, vl;
	int got;
	buf_reset(&nr->key);
	while ((got = xchg_next(nr->x, &k, &kl, &v, &vl)) == 1) {
		const char *kk = k;
		if (kk[0] == 's') {
			const struct buf *nk = node_key(&nr->nk, kk + 1, kl - 1);
			if (xchg_put(out, d->run->rank, nk->p, nk->len, v, vl) < 0)
				return -1;
			continue;
		}
		if (nr->key.len != kl || memcmp(nr->key.p, k, kl)) {
			buf_set(&nr->key, k, kl);
			nr->nwin = 0;
		} else {
			size_t hubs = nr->check ? nr->nwin : 1;
			for (size_t i = 0; i < hubs; i++) {
				nr->candidates++;
				int rc = nr->check
						 ? put_link(d, nr, out, nr->win[i].p, nr->win[i].len, v, vl)
						 : put_edge(d, nr, out, nr->win[i].p, nr->win[i].len, v, vl);
				if (rc < 0)
					return -1;
			}
		}
		if (nr->nwin < (nr->check ? nr->window : 1))
			buf_set(&nr->win[nr->nwin++], v, vl);
	}
	return got;
}

/* Check, first hop: at u's owner each distinct pair (u, v) takes u's signature to v. */
static int check_forward(struct dedup *d, struct near *nr, struct xchg *in, struct xchg *out)
{
	const void *k, *v;
	size_t kl, vl;
	int got;
	buf_reset(&nr->key);
	buf_reset(&nr->b);
	while ((got = xchg_next(in, &k, &kl, &v, &vl)) == 1) {
		const unsigned char *vv = v;
		if (nr->key.len != kl || memcmp(nr->key.p, k, kl)) {
			buf_set(&nr->key, k, kl);
			buf_reset(&nr->b);
			if (vv[0] != T_SIG || vl != 1 + 4 * (size_t)nr->nh) {
				err_set("dedup-near: a node without its signature");
				return -1;
			}
			buf_set(&nr->a, v, vl); /* [T_SIG][sig] */
			if (xchg_put(out, d->run->rank, k, kl, v, vl) < 0)
				return -1;
			continue;
		}
		if (nr->b.len == vl && !memcmp(nr->b.p, v, vl))
			continue; /* the same pair from another band */
		buf_set(&nr->b, v, vl);
		size_t ul;
		const void *u = node_of(k, kl, &ul);
		buf_reset(&nr->c);
		buf_putc(&nr->c, T_LINK);
		buf_append(&nr->c, nr->a.p + 1, nr->a.len - 1);
		buf_append(&nr->c, u, ul);
		const struct buf *nk = node_key(&nr->nk, vv + 1, vl - 1);
		if (xchg_put(out, owner_of(d, vv + 1, vl - 1), nk->p, nk->len, nr->c.p, nr->c.len) < 0)
			return -1;
	}
	return got;
}

/* Check, second hop: at v's owner, compare the signatures; pairs that pass become edges. */
static int check_compare(struct dedup *d, struct near *nr, struct xchg *in, struct xchg *cc)
{
	const void *k, *v;
	size_t kl, vl, sl = 4 * (size_t)nr->nh;
	int got;
	buf_reset(&nr->key);
	while ((got = xchg_next(in, &k, &kl, &v, &vl)) == 1) {
		const unsigned char *vv = v;
		if (nr->key.len != kl || memcmp(nr->key.p, k, kl)) {
			buf_set(&nr->key, k, kl);
			if (vv[0] != T_SIG || vl != 1 + sl) {
				err_set("dedup-near: a node without its signature");
				return -1;
			}
			buf_set(&nr->a, vv + 1, vl - 1); /* a node's own signature sorts first */
			continue;
		}
		nr->checked++;
		unsigned eq = 0;
		for (size_t i = 0; i < sl; i += 4)
			eq += !memcmp(vv + 1 + i, nr->a.p + i, 4);
		if (eq < nr->threshold * nr->nh - 1e-9) {
			nr->below++;
			continue;
		}
		size_t ul;
		const void *u = node_of(k, kl, &ul);
		if (put_edge(d, nr, cc, vv + 1 + sl, vl - 1 - sl, u, ul) < 0)
			return -1;
	}
	return got;
}

/* ---- connected components: alternating large-star and small-star ---- */

/* Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii, "Connected Components in MapReduce
 * and Beyond" (2014), as GraphFrames runs it: two exchanges a round, O(log n) rounds in
 * practice whatever a component's diameter (tests/e2e/dedup_chain.sh: chains of thousands).
 * Nodes are keep keys, compared as the exchange sorts them, so a node's neighbours arrive
 * smallest first and a component ends as a star around its smallest keep key. */

static int less(const struct buf *a, const void *b, size_t bl)
{
	int c = memcmp(a->p, b, a->len < bl ? a->len : bl);
	return c < 0 || (c == 0 && a->len < bl);
}

/* The directed record u -> w at u's owner, counted for the round's stats. */
static int put_arc(struct dedup *d, struct near *nr, struct xchg *x, const void *u, size_t ul,
		   const void *w, size_t wl)
{
	nr->step_records++;
	nr->step_bytes += ul + wl + 1;
	return put_link(d, nr, x, u, ul, w, wl);
}

/* Large-star over cur (each node with all its neighbours): with m the smallest of u and its
 * neighbours, every neighbour w > u gets the edge (w, m), put at w alone (small-star reads
 * a node with its smaller neighbours). *bad counts the nodes that keep the graph from being a
 * forest of stars around their smallest nodes: those with a smaller and a larger neighbour,
 * or with two smaller ones. With none, this step changed nothing: cur was that forest, and
 * next holds each leaf with its centre. */
static int large_star(struct dedup *d, struct near *nr, struct xchg *cur, struct xchg *next,
		      uint64_t *bad)
{
	struct buf u = BUF_INIT, m = BUF_INIT, last = BUF_INIT;
	uint64_t lower = 0, upper = 0;
	const void *k, *v;
	size_t kl, vl;
	int got;
	while ((got = xchg_next(cur, &k, &kl, &v, &vl)) == 1) {
		const unsigned char *w = (const unsigned char *)v + 1;
		size_t wl = vl - 1;
		size_t nl;
		const void *n = node_of(k, kl, &nl);
		if (u.len != nl || memcmp(u.p, n, nl)) {
			*bad += (lower && upper) || lower >= 2;
			lower = upper = 0;
			buf_set(&u, n, nl);
			/* the first neighbour is the smallest */
			if (less(&u, w, wl))
				buf_set(&m, n, nl);
			else
				buf_set(&m, w, wl);
		} else if (last.len == wl && !memcmp(last.p, w, wl)) {
			continue; /* the same edge twice */
		}
		buf_set(&last, w, wl);
		if (!less(&u, w, wl)) {
			lower++;
			continue;
		}
		upper++;
		if (put_arc(d, nr, next, w, wl, m.p, m.len) < 0) {
			got = -1;
			break;
		}
	}
	if (u.len)
		*bad += (lower && upper) || lower >= 2;
	buf_release(&u), buf_release(&m), buf_release(&last);
	return got;
}

/* Small-star over cur (each node with its smaller neighbours): with m the smallest of them,
 * the node and each other smaller neighbour get the edge to m, put both ways (large-star's
 * input). */
static int small_star(struct dedup *d, struct near *nr, struct xchg *cur, struct xchg *next)
{
	struct buf u = BUF_INIT, m = BUF_INIT, last = BUF_INIT;
	const void *k, *v;
	size_t kl, vl;
	int got;
	while ((got = xchg_next(cur, &k, &kl, &v, &vl)) == 1) {
		const unsigned char *w = (const unsigned char *)v + 1;
		size_t wl = vl - 1;
		const void *a = w;
		size_t al = wl, nl;
		const void *n = node_of(k, kl, &nl);
		if (u.len != nl || memcmp(u.p, n, nl)) {
			buf_set(&u, n, nl);
			buf_set(&m, w, wl); /* the smallest comes first */
			a = u.p, al = u.len; /* the edge (u, m) */
		} else if (last.len == wl && !memcmp(last.p, w, wl)) {
			continue;
		}
		buf_set(&last, w, wl);
		if (put_arc(d, nr, next, a, al, m.p, m.len) < 0 ||
		    put_arc(d, nr, next, m.p, m.len, a, al) < 0) {
			got = -1;
			break;
		}
	}
	buf_release(&u), buf_release(&m), buf_release(&last);
	return got;
}

/* The round's records and bytes, summed over ranks, for stats.json (collective). */
static void round_done(struct near *nr)
{
	uint64_t v[2] = {nr->step_records, nr->step_bytes}, s[2];
	MPI_CHECK(MPI_Allreduce(v, s, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
	nr->round_records = xrealloc(nr->round_records, (nr->rounds + 1) * sizeof *nr->round_records);
	nr->round_bytes = xrealloc(nr->round_bytes, (nr->rounds + 1) * sizeof *nr->round_bytes);
	nr->round_records[nr->rounds] = s[0];
	nr->round_bytes[nr->rounds] = s[1];
	nr->step_records = nr->step_bytes = 0;
}

enum { MAX_ROUNDS = 1000 }; /* 2^1000 nodes: a round count past it is a bug */

/* Alternates the two until large-star finds a forest of stars; *cc (the edges, both ways,
 * being put) ends holding each leaf with its centre, finished. Collective. */
static int components(struct dedup *d, struct near *nr, struct xchg **cc, int ok)
{
	for (;;) {
		if (xchg_finish(*cc) < 0 || !par_all_ok(ok))
			return -1;
		dedup_phase(d, nr->rounds ? "exchange_small_star" : "exchange_edges");
		log_debug("stage dedup-near: components round %llu at %.1fs",
			  (unsigned long long)nr->rounds, now_seconds() - nr->t0);
		stage_test_part_delay(d->run->rank); /* tests: a kill lands here */
		struct xchg *next = dedup_xchg(d, 2);
		if (!next)
			return -1;
		uint64_t bad = 0;
		ok = large_star(d, nr, *cc, next, &bad) == 0;
		xchg_free(*cc);
		*cc = next;
		uint64_t total = par_sum_u64(bad);
		dedup_phase(d, "large_star");
		if (xchg_finish(*cc) < 0 || !par_all_ok(ok))
			return -1;
		dedup_phase(d, "exchange_large_star");
		if (total == 0) {
			round_done(nr);
			nr->rounds++;
			return 0;
		}
		if (nr->rounds + 1 >= MAX_ROUNDS) {
			err_set("dedup-near: components did not converge in %d rounds", MAX_ROUNDS);
			return -1;
		}
		if (!(next = dedup_xchg(d, 2)))
			return -1;
		ok = small_star(d, nr, *cc, next) == 0;
		xchg_free(*cc);
		*cc = next;
		round_done(nr);
		nr->rounds++;
		dedup_phase(d, "small_star");
	}
}

/* Members to their component's owner, keyed by its smallest node: each leaf, and the centre
 * (once per leaf; clusters() passes over repeats). */
static int cc_collect(struct dedup *d, struct near *nr, struct xchg *cur, struct xchg *out)
{
	const void *k, *v;
	size_t kl, vl;
	int got;
	while ((got = xchg_next(cur, &k, &kl, &v, &vl)) == 1) {
		const unsigned char *c = (const unsigned char *)v + 1;
		size_t ll;
		const void *leaf = node_of(k, kl, &ll);
		int dest = owner_of(d, c, vl - 1);
		const struct buf *nk = node_key(&nr->nk, c, vl - 1);
		if (xchg_put(out, dest, nk->p, nk->len, leaf, ll) < 0 ||
		    xchg_put(out, dest, nk->p, nk->len, c, vl - 1) < 0)
			return -1;
	}
	return got;
}

/* ---- decisions ---- */

/* The members of one component, held in memory up to a limit and then in a file. */
struct group {
	struct buf mem;
	FILE *f;
	uint64_t n, limit;
	const char *dir;
};

static int group_add(struct group *g, const void *v, size_t vl)
{
	uint32_t l = (uint32_t)vl;
	if (!g->f && g->mem.len + vl + 4 > g->limit) {
		char *path = xasprintf("%s/dedup-group-%ld", g->dir, (long)getpid());
		if (mkdir_p(g->dir) < 0 || !(g->f = fopen(path, "w+b"))) {
			err_set("%s: cannot create: %m", path);
			free(path);
			return -1;
		}
		unlink(path);
		free(path);
	}
	g->n++;
	if (!g->f) {
		buf_append(&g->mem, &l, 4);
		buf_append(&g->mem, v, vl);
		return 0;
	}
	if (g->mem.len && fwrite(g->mem.p, 1, g->mem.len, g->f) != g->mem.len)
		goto fail;
	buf_reset(&g->mem);
	if (fwrite(&l, 4, 1, g->f) != 1 || fwrite(v, 1, vl, g->f) != vl)
		goto fail;
	return 0;
fail:
	err_set("%s: write failed: %m", g->dir);
	return -1;
}

/* Sends every member its decision: [keep][size u64 BE][cluster id]. */
static int group_flush(struct dedup *d, struct group *g, const struct buf *label,
		       struct xchg *dec, struct buf *id, struct buf *tmp)
{
	if (!g->n)
		return 0;
	dedup_key_id(label->p, label->len, id);
	unsigned char head[9];
	be_put(head + 1, g->n, 8);
	if (g->f && (fflush(g->f) || fseek(g->f, 0, SEEK_SET))) {
		err_set("%s: rewinding a spilled cluster failed: %m", g->dir);
		return -1;
	}
	size_t off = 0;
	int rc = 0;
	for (uint64_t i = 0; i < g->n && !rc; i++) {
		uint32_t l;
		const char *m;
		if (g->f) {
			buf_grow(tmp, sizeof l);
			if (fread(&l, 4, 1, g->f) != 1 || (buf_grow(tmp, l), 0) ||
			    fread(tmp->p, 1, l, g->f) != l) {
				err_set("%s: reading a spilled cluster failed", g->dir);
				return -1;
			}
			m = tmp->p;
		} else {
			memcpy(&l, g->mem.p + off, 4);
			m = g->mem.p + off + 4;
			off += 4 + l;
		}
		head[0] = l == label->len && !memcmp(m, label->p, l);
		struct buf val = BUF_INIT;
		buf_append(&val, head, 9);
		buf_append(&val, id->p, id->len);
		uint32_t s;
		uint64_t r;
		dedup_key_place(m, l, &s, &r);
		rc = dedup_decide(d, dec, s, r, val.p, val.len);
		buf_release(&val);
	}
	if (g->f)
		fclose(g->f), g->f = NULL;
	buf_reset(&g->mem);
	g->n = 0;
	return rc;
}

static int clusters(struct dedup *d, struct near *nr, struct xchg *in, struct xchg *dec)
{
	struct group g = {BUF_INIT, NULL, 0, d->budget / 8, d->tmpdir};
	struct buf label = BUF_INIT, id = BUF_INIT, tmp = BUF_INIT, last = BUF_INIT;
	const void *k, *v;
	size_t kl, vl;
	int got;
	while ((got = xchg_next(in, &k, &kl, &v, &vl)) == 1) {
		size_t ll;
		const void *lab = node_of(k, kl, &ll);
		if (label.len != ll || memcmp(label.p, lab, ll)) {
			if (group_flush(d, &g, &label, dec, &id, &tmp) < 0) {
				got = -1;
				break;
			}
			buf_set(&label, lab, ll);
			buf_reset(&last);
		} else if (last.len == vl && !memcmp(last.p, v, vl)) {
			continue; /* the centre, from another leaf */
		}
		buf_set(&last, v, vl);
		if (group_add(&g, v, vl) < 0) {
			got = -1;
			break;
		}
	}
	if (got == 0 && group_flush(d, &g, &label, dec, &id, &tmp) < 0)
		got = -1;
	if (g.f)
		fclose(g.f);
	buf_release(&g.mem), buf_release(&label), buf_release(&id), buf_release(&tmp);
	buf_release(&last);
	return got;
}

/* ---- phase 3 ---- */

static void count_cluster(struct stats *st, uint64_t size)
{
	char name[64];
	uint64_t hi = 2;
	while (hi < size)
		hi *= 2;
	if (hi == 2)
		snprintf(name, sizeof name, "cluster_size_2");
	else
		snprintf(name, sizeof name, "cluster_size_%llu_%llu",
			 (unsigned long long)(hi / 2 + 1), (unsigned long long)hi);
	stats_count(st, name, 1);
	stats_count(st, "clusters", 1);
}

static int apply(struct dedup *d, struct doc *doc, const void *val, size_t vlen,
		 const char **reason, struct stats *st, void *arg)
{
	if (!val) {
		json_object_set_new(doc->meta, "cluster_id", json_stringn(doc->id.p, doc->id.len));
		json_object_set_new(doc->meta, "cluster_size", json_integer(1));
		return 1;
	}
	const unsigned char *v = val;
	uint64_t size = be_get(v + 1, 8);
	json_t *cid = json_stringn((const char *)v + 9, vlen - 9);
	if (cid)
		json_object_set_new(doc->meta, "cluster_id", cid);
	json_object_set_new(doc->meta, "cluster_size", json_integer((json_int_t)size));
	if (v[0]) {
		count_cluster(st, size);
		return 1;
	}
	*reason = "near_duplicate";
	return 0;
}

/* ---- the stage ---- */

static int near_setup(struct stage_run *run, struct near *nr)
{
	const struct config *c = run->cfg;
	nr->nh = (unsigned)config_int(c, "dedup-near.num_hashes");
	nr->bands = (unsigned)config_int(c, "dedup-near.bands");
	nr->rows = (unsigned)config_int(c, "dedup-near.rows");
	nr->check = config_bool(c, "dedup-near.check_jaccard");
	nr->threshold = config_float(c, "dedup-near.threshold");
	nr->window = (size_t)config_int(c, "dedup-near.check_window");
	nr->win = xcalloc(nr->window, sizeof *nr->win);
	if ((uint64_t)nr->bands * nr->rows > nr->nh) {
		err_set("dedup-near: bands x rows (%u x %u) is more than num_hashes (%u)",
			nr->bands, nr->rows, nr->nh);
		return -1;
	}
	struct minhash_params p = {
		nr->nh, (unsigned)config_int(c, "dedup-near.ngram"),
		strcmp(config_str(c, "dedup-near.shingle"), "char") ? MINHASH_WORD : MINHASH_CHAR,
		(uint64_t)config_int(c, "dedup-near.seed")};
	nr->mh = minhash_new(&p);
	nr->sig = xcalloc(nr->nh, sizeof *nr->sig);
	return nr->mh ? 0 : -1;
}

/* Bands (and signatures) to candidate edges in *cc; collective. */
static int find_edges(struct dedup *d, struct near *nr, struct xchg **cc, struct phase **ph)
{
	/* signatures per input shard are a phase: a killed run makes only the missing ones */
	static const char *const exts[] = {"sig", NULL};
	static const struct phase_def sigs = {"signatures", exts, false, NULL, NULL};
	struct stage_run *run = d->run;
	*ph = phase_open(run, d->in, &sigs, run->fingerprint);
	struct dedup_job job = {d, "sig", put_bands, nr};
	int ok = *ph && phase_run(*ph, dedup_phase_shard, &job) == 0;
	for (size_t i = 0; ok && i < d->in->n; i++)
		if (phase_reused(*ph, i) && phase_owner(*ph, i) == run->rank &&
		    replay(d, nr, *ph, i) < 0) {
			log_error("stage dedup-near: %s", err_get());
			ok = 0;
		}
	dedup_phase(d, "read_minhash");
	log_debug("stage dedup-near: signatures at %.1fs", now_seconds() - nr->t0);
	if (xchg_finish(nr->x) < 0 || !par_all_ok(ok))
		return -1;
	dedup_phase(d, "exchange_bands");
	log_debug("stage dedup-near: band keys exchanged at %.1fs", now_seconds() - nr->t0);
	struct xchg *x2 = dedup_xchg(d, 2);
	if (!x2)
		return -1;
	ok = buckets(d, nr, nr->check ? x2 : *cc) == 0;
	xchg_free(nr->x), nr->x = NULL;
	dedup_phase(d, "bucket_pairs");
	if (!nr->check) {
		xchg_free(x2);
		return ok ? 0 : -1; /* components() finishes *cc with the ok check */
	}
	struct xchg *x3 = NULL;
	if (xchg_finish(x2) < 0 || !par_all_ok(ok) || !(x3 = dedup_xchg(d, 2)))
		goto fail;
	dedup_phase(d, "exchange_pairs");
	log_debug("stage dedup-near: pairs exchanged at %.1fs", now_seconds() - nr->t0);
	ok = check_forward(d, nr, x2, x3) == 0;
	xchg_free(x2), x2 = NULL;
	dedup_phase(d, "join_signatures");
	if (xchg_finish(x3) < 0 || !par_all_ok(ok))
		goto fail;
	dedup_phase(d, "exchange_signatures");
	log_debug("stage dedup-near: signatures joined at %.1fs", now_seconds() - nr->t0);
	ok = check_compare(d, nr, x3, *cc) == 0;
	xchg_free(x3);
	dedup_phase(d, "check_pairs");
	return ok ? 0 : -1;
fail:
	xchg_free(x2), xchg_free(x3);
	return -1;
}

static int near_run(struct stage_run *run, const struct task_list *in)
{
	struct dedup d;
	dedup_init(&d, run, in);
	struct near nr = {.t0 = now_seconds()};
	struct xchg *cc = NULL, *fin = NULL, *dec = NULL;
	struct phase *ph = NULL;
	struct stats extra;
	stats_init(&extra);
	int rc = -1;
	if (near_setup(run, &nr) < 0 || !(nr.x = dedup_xchg(&d, 2)) ||
	    !(cc = dedup_xchg(&d, 2)))
		goto out;
	int ok = find_edges(&d, &nr, &cc, &ph) == 0;
	if (components(&d, &nr, &cc, ok) < 0 || !(fin = dedup_xchg(&d, 2)))
		goto out;
	ok = cc_collect(&d, &nr, cc, fin) == 0;
	xchg_free(cc), cc = NULL;
	dedup_phase(&d, "collect_members");
	if (xchg_finish(fin) < 0 || !par_all_ok(ok) || !(dec = dedup_xchg(&d, 2)))
		goto out;
	dedup_phase(&d, "exchange_members");
	log_debug("stage dedup-near: components done at %.1fs", now_seconds() - nr.t0);
	ok = clusters(&d, &nr, fin, dec) == 0;
	xchg_free(fin), fin = NULL;
	dedup_phase(&d, "decide_clusters");
	if (xchg_finish(dec) < 0 || !par_all_ok(ok))
		goto out;
	stats_count(&extra, "candidate_pairs", par_sum_u64(nr.candidates));
	stats_count(&extra, "pairs_checked", par_sum_u64(nr.checked));
	stats_count(&extra, "pairs_below_threshold", par_sum_u64(nr.below));
	stats_count(&extra, "components_rounds", nr.rounds);
	log_info("stage dedup-near: %llu candidate pairs, %llu checked, %llu below the "
		 "threshold, components in %llu rounds",
		 (unsigned long long)stats_counter(&extra, "candidate_pairs"),
		 (unsigned long long)stats_counter(&extra, "pairs_checked"),
		 (unsigned long long)stats_counter(&extra, "pairs_below_threshold"),
		 (unsigned long long)nr.rounds);
	json_t *rr = json_array(), *rb = json_array();
	for (uint64_t r = 0; r < nr.rounds; r++) {
		json_array_append_new(rr, json_integer((json_int_t)nr.round_records[r]));
		json_array_append_new(rb, json_integer((json_int_t)nr.round_bytes[r]));
	}
	stage_stats_object(run, "components", json_pack("{s:s,s:I,s:o,s:o}", "algorithm",
			   "large-star/small-star", "rounds", (json_int_t)nr.rounds, "records", rr,
			   "bytes", rb));
	log_debug("stage dedup-near: decisions exchanged at %.1fs", now_seconds() - nr.t0);
	dedup_phase(&d, "exchange_decisions");
	rc = dedup_rewrite(&d, dec, apply, &nr, &extra);
	dedup_phase(&d, "rewrite");
	if (stage_stop_anywhere() && run->rank == 0)
		log_warn("stage dedup-near: stopped on request (SIGTERM or SIGINT) while rewriting: "
			 "run the same command again to resume");
	if (par_all_ok(rc == 0))
		dedup_phases_report(&d);
	else
		rc = -1;
out:
	phase_close(ph, rc == 0);
	if (rc < 0)
		log_error("stage dedup-near: %s", err_get());
	xchg_free(nr.x), xchg_free(cc), xchg_free(fin), xchg_free(dec);
	minhash_free(nr.mh);
	free(nr.sig);
	free(nr.round_records), free(nr.round_bytes);
	for (size_t i = 0; i < nr.window; i++)
		buf_release(&nr.win[i]);
	free(nr.win);
	buf_release(&nr.key), buf_release(&nr.val), buf_release(&nr.a), buf_release(&nr.b),
		buf_release(&nr.c), buf_release(&nr.nk);
	stats_release(&extra);
	dedup_release(&d);
	return rc;
}

const struct stage_def stage_dedup_near = {
	.name = "dedup-near",
	.kind = STAGE_GLOBAL,
	.summary = "drop near duplicates: MinHash LSH, Jaccard check, connected components "
		   "across ranks; keep one per cluster",
	.opts = dedup_near_opts,
	.version = 2, /* 2: with the check, pairs within a bucket's window, not a star */
	.run = near_run,
};
