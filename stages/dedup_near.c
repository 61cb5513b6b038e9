/* dedup-near: MinHash LSH near-duplicate removal across ranks. Each document's signature
 * goes to a phase file and never crosses the network; documents with equal signatures are
 * grouped, and each group's first document is cut into bands; equal bands (same level) make
 * candidate pairs at the band's owner rank; with check_jaccard each pair's estimated
 * similarity (full signatures, read where the documents live) must reach the threshold; the
 * surviving edges go through distributed connected components (alternating large-star and
 * small-star, O(log n) rounds whatever the diameter, no rank holding all edges, a checkpoint
 * a round); one document per component is kept by the keep rule. Exchanges carry 8-byte
 * document keys. docs/dedup.md explains choices and defaults. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup.h"
#include "log.h"
#include "minhash.h"
#include "near_files.h"
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
	 "members in document order (input shard, then record): every pair of a bucket of up to check_window + 1 members, so "
	 "that no similar pair is lost because the first member was dissimilar; in larger "
	 "buckets each member against those first ones. 1: a star from the first member."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* A document in every exchange after the signatures: [shard u32 BE][record u32 BE]. It sorts
 * in the order the shards are read, and its node lives at the rank that rewrites the shard,
 * which reads the document's signature and keep key from the shard's phase file when a
 * decision needs them: only these 8 bytes cross the network for a band, a pair or an edge. */
enum { DK = NEAR_DK };

enum { N_TOTALS = 4 }; /* same_signature, candidate_pairs, pairs_checked, below the threshold */

struct near {
	struct minhash *mh;
	unsigned nh, bands, rows;
	int check;
	double threshold;
	uint32_t *sig;
	struct buf key, val; /* a bucket's band key; a keep key being made */
	unsigned char (*win)[DK]; /* the bucket's first members (its hubs), check_window at most */
	size_t window, nwin;
	struct xchg *g, *x; /* groups of equal signatures, band keys */
	struct phase *ph; /* the signatures */
	uint64_t slot_shard, slots; /* the shard being signed, its slots written */
	uint64_t same; /* documents linked to an equal signature's group */
	uint64_t totals[N_TOTALS]; /* same, candidates, checked, below: over all ranks */
	int restored; /* the components started from a checkpoint */
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

static uint32_t dk_shard(const void *dk) { return (uint32_t)be_get(dk, 4); }

/* The rank that owns a document's node: the one that rewrites its shard. */
static int owner_of(struct dedup *d, const void *dk)
{
	return d->owner[dk_shard(dk)];
}

/* The phase files' name for shard i (near_path_fn). */
static char *phase_file(const void *ph, size_t shard, const char *ext)
{
	return phase_path(ph, shard, ext);
}

static void sigs_open(struct near_sigs *s, struct near *nr)
{
	near_sigs_open(s, phase_file, nr->ph, nr->nh);
}

static void keys_open(struct near_keys *c, struct near *nr)
{
	near_keys_open(c, phase_file, nr->ph);
}

/* ---- phase 1: signatures, groups of equal ones, band keys ---- */

/* Documents whose signatures are equal (copies, and texts with the same shingles: another
 * indentation or punctuation) are one node for LSH: a group record, keyed by a 128-bit hash
 * of level and signature, carries the document key and its band keys to the group's owner.
 * There the group's first document (in document-key order) puts the band keys, and each of
 * the others gets an edge to it: its estimated similarity is 1, which passes any check. So
 * n equal documents cost n - 1 edges instead of n - 1 bucket members in every band.
 * A band key is a 64-bit hash of the level, the band's number and its rows: equal rows
 * collide by design, unequal ones with probability 2^-64 (and the check would catch those);
 * 8 bytes, as a document key, so that the exchange sorts by 16 bytes alone. */
static int put_doc(struct dedup *d, struct near *nr, int level, const unsigned char *dk,
		   const unsigned char *sig)
{
	unsigned char v[DK + 8 * MINHASH_MAX_HASHES], k[16], rows[3 + 4 * MINHASH_MAX_HASHES];
	size_t rl = 4 * (size_t)nr->rows, band_bytes = rl * nr->bands;
	memcpy(v, dk, DK);
	rows[0] = (unsigned char)level;
	for (unsigned b = 0; b < nr->bands; b++) {
		be_put(rows + 1, b, 2);
		memcpy(rows + 3, sig + rl * b, rl);
		be_put(v + DK + 8 * b, minhash_hash_bytes(rows, 3 + rl), 8);
	}
	/* the group key: two hashes of [tag][level][band keys][the entries after the bands],
	 * tags 'A' and 'B'; equal band keys are equal rows but for 2^-64 a band */
	static unsigned char g[2 + 12 * MINHASH_MAX_HASHES]; /* bands <= num_hashes */
	size_t gl = 2 + 8 * (size_t)nr->bands + (4 * (size_t)nr->nh - band_bytes);
	g[1] = (unsigned char)level;
	memcpy(g + 2, v + DK, 8 * (size_t)nr->bands);
	memcpy(g + 2 + 8 * (size_t)nr->bands, sig + band_bytes, 4 * (size_t)nr->nh - band_bytes);
	g[0] = 'A';
	be_put(k, minhash_hash_bytes(g, gl), 8);
	g[0] = 'B';
	be_put(k + 8, minhash_hash_bytes(g, gl), 8);
	return xchg_put(nr->g, xchg_owner(k, sizeof k, d->run->nranks), k, sizeof k, v,
			DK + 8 * (size_t)nr->bands);
}

static int doc_key(unsigned char dk[DK], uint32_t shard, uint64_t record, const char *path)
{
	if (record > UINT32_MAX) {
		err_set("%s: more than 2^32 records in one shard: split it (reshard)", path);
		return -1;
	}
	be_put(dk, shard, 4);
	be_put(dk + 4, record, 4);
	return 0;
}

/* A document's signature and keep key into the shard's phase files (struct sigs), and its
 * group record. A rerun puts the same records from the files without reading or hashing the
 * shard again. */
static int put_bands(struct dedup *d, struct doc *doc, void *arg)
{
	struct near *nr = arg;
	if (!minhash_signature(nr->mh, doc->text.p ? doc->text.p : "", doc->text.len, nr->sig))
		return 0; /* nothing to compare: a cluster of its own */
	unsigned char dk[DK], h[9], w[4 * MINHASH_MAX_HASHES];
	size_t sl = 4 * (size_t)nr->nh;
	if (doc_key(dk, d->shard, d->record, d->out_path[0]) < 0)
		return -1;
	buf_reset(&nr->val);
	dedup_keep_key(&nr->val, doc, d->shard, d->record, 0);
	int level = dedup_level(d, doc);
	for (unsigned i = 0; i < nr->nh; i++)
		put_le32(w + 4 * i, nr->sig[i]);
	/* the slots of the records before without a signature (or bad) stay zero */
	if (nr->slot_shard != d->shard)
		nr->slot_shard = d->shard, nr->slots = 0;
	int ok = 1;
	static const unsigned char zero[4 * MINHASH_MAX_HASHES];
	for (; ok && nr->slots < d->record; nr->slots++)
		ok = fwrite(zero, 1, sl, d->out[0]) == sl;
	nr->slots++;
	if (!ok || fwrite(w, 1, sl, d->out[0]) != sl) {
		err_set("%s: %s", d->out_path[0], strerror(errno));
		return -1;
	}
	be_put(h, d->record, 4);
	h[4] = (unsigned char)level;
	be_put(h + 5, nr->val.len, 4);
	if (fwrite(h, 1, sizeof h, d->out[1]) != sizeof h ||
	    fwrite(nr->val.p, 1, nr->val.len, d->out[1]) != nr->val.len) {
		err_set("%s: %s", d->out_path[1], strerror(errno));
		return -1;
	}
	return put_doc(d, nr, level, dk, w);
}

/* A reused shard: its documents' group records from the kept files. */
static int replay(struct dedup *d, struct near *nr, size_t i)
{
	struct near_keys c;
	struct near_sigs g;
	keys_open(&c, nr);
	sigs_open(&g, nr);
	int rc = near_keys_shard(&c, i);
	while (!rc && (rc = near_keys_next(&c)) == 1) {
		unsigned char dk[DK];
		const unsigned char *sig;
		rc = doc_key(dk, (uint32_t)i, c.at, c.path) < 0 || near_sigs_get(&g, dk, &sig) < 0 ||
				     put_doc(d, nr, c.level, dk, sig) < 0
			     ? -1
			     : 0;
	}
	near_keys_close(&c);
	near_sigs_close(&g);
	return rc;
}

/* ---- edges ---- */

/* The record u -> v at u's owner, keyed by u. */
static int put_link(struct dedup *d, struct xchg *x, const void *u, const void *v)
{
	return xchg_put(x, owner_of(d, u), u, DK, v, DK);
}

static int put_edge(struct dedup *d, struct xchg *cc, const void *u, const void *v)
{
	if (put_link(d, cc, u, v) < 0)
		return -1;
	return put_link(d, cc, v, u);
}

/* At a group's owner: its first document puts its band keys, and the others link to it
 * (in cc, finished by the components). */
static int groups(struct dedup *d, struct near *nr, struct xchg *cc)
{
	const void *k, *v;
	size_t kl, vl, want = DK + 8 * (size_t)nr->bands;
	unsigned char key[16], first[DK];
	int got, any = 0;
	while ((got = xchg_next(nr->g, &k, &kl, &v, &vl)) == 1) {
		const unsigned char *vv = v;
		if (kl != sizeof key || vl != want) {
			err_set("dedup-near: a group record of %zu + %zu bytes", kl, vl);
			return -1;
		}
		if (any && !memcmp(key, k, sizeof key)) {
			nr->same++;
			if (put_edge(d, cc, first, vv) < 0)
				return -1;
			continue;
		}
		any = 1;
		memcpy(key, k, sizeof key);
		memcpy(first, vv, DK);
		for (unsigned b = 0; b < nr->bands; b++) {
			const unsigned char *bk = vv + DK + 8 * b;
			if (xchg_put(nr->x, xchg_owner(bk, 8, d->run->nranks), bk, 8, vv, DK) < 0)
				return -1;
		}
	}
	return got;
}

/* Buckets, runs of equal band keys, their members in document-key order. Without the check,
 * each member is linked to the first (a star: the component is the same as with every pair,
 * and its diameter 2). With it, a pair is an edge only if it passes, so a star would lose the
 * pairs of members that are similar to each other but not to the first. So each member is
 * paired with the bucket's first check_window members, its hubs: every pair of a bucket of
 * up to check_window + 1 members, and in larger ones every member against each hub, which
 * keeps the component's diameter small and the pairs at most check_window a member. A pair
 * (hub, member) goes to the hub's owner, which holds the hub's signature. */
static int buckets(struct dedup *d, struct near *nr, struct xchg *out)
{
	const void *k, *v;
	size_t kl, vl;
	int got;
	buf_reset(&nr->key);
	while ((got = xchg_next(nr->x, &k, &kl, &v, &vl)) == 1) {
		if (vl != DK) {
			err_set("dedup-near: a band record of %zu bytes", vl);
			return -1;
		}
		if (nr->key.len != kl || memcmp(nr->key.p, k, kl)) {
			buf_set(&nr->key, k, kl);
			nr->nwin = 0;
		} else {
			size_t hubs = nr->check ? nr->nwin : 1;
			for (size_t i = 0; i < hubs; i++) {
				nr->candidates++;
				int rc = nr->check ? put_link(d, out, nr->win[i], v)
						   : put_edge(d, out, nr->win[i], v);
				if (rc < 0)
					return -1;
			}
		}
		if (nr->nwin < (nr->check ? nr->window : 1))
			memcpy(nr->win[nr->nwin++], v, DK);
	}
	return got;
}

/* Check, first hop: at u's owner each distinct pair (u, v) takes u's signature, read from
 * the phase file, to v's owner. */
static int check_forward(struct dedup *d, struct near *nr, struct xchg *in, struct xchg *out)
{
	const void *k, *v;
	const unsigned char *sig;
	size_t kl, vl, sl = 4 * (size_t)nr->nh;
	int got, first = 1;
	struct near_sigs c;
	sigs_open(&c, nr);
	unsigned char *val = xmalloc(DK + sl); /* [u][u's signature] */
	/* the pairs are a set (xchg_set_unique): a pair from several bands comes once */
	while ((got = xchg_next(in, &k, &kl, &v, &vl)) == 1) {
		if (first || memcmp(val, k, DK)) {
			if (near_sigs_get(&c, k, &sig) < 0) {
				got = -1;
				break;
			}
			memcpy(val, k, DK);
			memcpy(val + DK, sig, sl);
			first = 0;
		}
		if (xchg_put(out, owner_of(d, v), v, DK, val, DK + sl) < 0) {
			got = -1;
			break;
		}
	}
	near_sigs_close(&c);
	free(val);
	return got;
}

/* Check, second hop: at v's owner, compare the signatures; pairs that pass become edges. */
static int check_compare(struct dedup *d, struct near *nr, struct xchg *in, struct xchg *cc)
{
	const void *k, *v;
	const unsigned char *sig = NULL;
	size_t kl, vl, sl = 4 * (size_t)nr->nh;
	unsigned char cur[DK];
	int got, first = 1;
	struct near_sigs c;
	sigs_open(&c, nr);
	while ((got = xchg_next(in, &k, &kl, &v, &vl)) == 1) {
		const unsigned char *vv = v;
		if (vl != DK + sl) {
			err_set("dedup-near: a pair record of %zu bytes", vl);
			got = -1;
			break;
		}
		if (first || memcmp(cur, k, DK)) {
			if (near_sigs_get(&c, k, &sig) < 0) {
				got = -1;
				break;
			}
			memcpy(cur, k, DK);
			first = 0;
		}
		nr->checked++;
		unsigned eq = 0;
		for (size_t i = 0; i < sl; i += 4)
			eq += !memcmp(vv + DK + i, sig + i, 4);
		if (eq < nr->threshold * nr->nh - 1e-9) {
			nr->below++;
			continue;
		}
		if (put_edge(d, cc, vv, k) < 0) {
			got = -1;
			break;
		}
	}
	near_sigs_close(&c);
	return got;
}

/* ---- components checkpoints: a rerun starts from the last round every rank finished ----
 *
 * Large-star reads all of a round's edges that a rank holds; it also writes them, 16 bytes
 * each, to <stage>/.phases/components/rank-K-of-N.round-R.edges, and once it has read them
 * all, commits them with a record (.json: the stage's fingerprint, R, N, the count and
 * SHA-256 of the file, and the totals so far). A rank keeps its last two rounds, since a kill
 * may land when some ranks have committed a round and others not. A rerun with the same
 * fingerprint and rank count takes the last round that every rank holds intact, puts its
 * edges back into the exchange and goes on from there: the bands, pairs, check and earlier
 * rounds are not run again. Nodes live at the rank that rewrites their shard, a function of
 * the shard sizes and the rank count, so the records are where they were. */

struct ckpt {
	char *dir, *path, *tmp; /* the round being written */
	FILE *f;
	sha256_ctx *sha;
	unsigned char buf[1 << 16];
	size_t used;
	uint64_t records, round;
};

static char *ckpt_name(const struct dedup *d, const char *dir, uint64_t round, const char *ext)
{
	return xasprintf("%s/rank-%d-of-%d.round-%llu.%s", dir, d->run->rank, d->run->nranks,
			 (unsigned long long)round, ext);
}

static char *ckpt_dir(const struct dedup *d)
{
	return xasprintf("%s/.phases/components", d->run->dir);
}

/* Starts writing round's edges (a failure only logs: a checkpoint is not needed to go on). */
static void ckpt_begin(struct dedup *d, struct ckpt *c, uint64_t round)
{
	memset(c, 0, sizeof *c);
	c->round = round;
	c->dir = ckpt_dir(d);
	c->path = ckpt_name(d, c->dir, round, "edges");
	c->tmp = xasprintf("%s.tmp", c->path);
	if (mkdir_p(c->dir) == 0 && (c->f = fopen(c->tmp, "wb")))
		c->sha = sha256_new();
	else
		log_warn("stage dedup-near: %s: %s (no checkpoint of round %llu)", c->tmp,
			 strerror(errno), (unsigned long long)round);
}

static void ckpt_flush(struct ckpt *c)
{
	if (c->f && c->used) {
		sha256_update(c->sha, c->buf, c->used);
		if (fwrite(c->buf, 1, c->used, c->f) != c->used)
			clearerr(c->f), fclose(c->f), c->f = NULL, unlink(c->tmp);
	}
	c->used = 0;
}

static void ckpt_add(struct ckpt *c, const void *k, const void *w)
{
	if (!c->f)
		return;
	if (c->used + 2 * DK > sizeof c->buf)
		ckpt_flush(c);
	memcpy(c->buf + c->used, k, DK);
	memcpy(c->buf + c->used + DK, w, DK);
	c->used += 2 * DK;
	c->records++;
}

static json_t *u64_array(const uint64_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

/* Commits the round written (ok: large-star read all of it), and drops the round before the
 * last. The record holds what the stats need of the rounds before. */
static void ckpt_end(struct dedup *d, struct near *nr, struct ckpt *c, int ok)
{
	ckpt_flush(c);
	char hex[SHA256_HEX] = "";
	if (c->sha)
		sha256_final_hex(c->sha, hex);
	int good = c->f && ok;
	if (c->f) {
		good = good && fflush(c->f) == 0 && fsync(fileno(c->f)) == 0;
		good = fclose(c->f) == 0 && good;
	}
	good = good && rename(c->tmp, c->path) == 0;
	if (good) {
		json_t *r = json_pack("{s:s,s:I,s:i,s:i,s:I,s:s,s:o,s:o,s:o}", "fingerprint",
				      d->run->fingerprint, "round", (json_int_t)c->round, "rank",
				      d->run->rank, "ranks", d->run->nranks, "records",
				      (json_int_t)c->records, "sha256", hex, "totals",
				      u64_array(nr->totals, N_TOTALS), "round_records",
				      u64_array(nr->round_records, c->round), "round_bytes",
				      u64_array(nr->round_bytes, c->round));
		char *text = json_dumps(r, JSON_COMPACT), *jp = ckpt_name(d, c->dir, c->round, "json");
		good = write_file_atomic(jp, text, strlen(text)) == 0;
		if (!good)
			log_warn("stage dedup-near: %s", err_get());
		free(text), free(jp);
		json_decref(r);
	}
	if (!good)
		unlink(c->tmp);
	if (good && c->round >= 2) {
		char *old = ckpt_name(d, c->dir, c->round - 2, "json");
		unlink(old);
		free(old);
		old = ckpt_name(d, c->dir, c->round - 2, "edges");
		unlink(old);
		free(old);
	}
	free(c->dir), free(c->path), free(c->tmp);
	memset(c, 0, sizeof *c);
}

/* Whether this rank holds round's checkpoint intact, with this run's fingerprint; r gets its
 * record. */
static int ckpt_valid(struct dedup *d, const char *dir, uint64_t round, json_t **r)
{
	char *jp = ckpt_name(d, dir, round, "json"), *ep = ckpt_name(d, dir, round, "edges");
	struct buf b = BUF_INIT;
	*r = read_file(jp, &b) == 0 ? json_loads(b.p, 0, NULL) : NULL;
	char hex[SHA256_HEX];
	const char *fp = json_string_value(json_object_get(*r, "fingerprint"));
	const char *sha = json_string_value(json_object_get(*r, "sha256"));
	int ok = *r && fp && sha && !strcmp(fp, d->run->fingerprint) &&
		 json_integer_value(json_object_get(*r, "round")) == (json_int_t)round &&
		 json_integer_value(json_object_get(*r, "ranks")) == d->run->nranks &&
		 sha256_file_hex(ep, hex) == 0 && !strcmp(hex, sha);
	if (!ok && *r)
		log_warn("stage dedup-near: %s: does not match its edges or this run; not used", jp);
	if (!ok)
		json_decref(*r), *r = NULL;
	buf_release(&b);
	free(jp), free(ep);
	return ok;
}

/* The rounds this rank has records of, the last two: *hi and *lo (UINT64_MAX for none). */
static void ckpt_rounds(struct dedup *d, const char *dir, uint64_t *hi, uint64_t *lo)
{
	*hi = *lo = UINT64_MAX;
	char *prefix = xasprintf("rank-%d-of-%d.round-", d->run->rank, d->run->nranks);
	DIR *dd = opendir(dir);
	for (struct dirent *e; dd && (e = readdir(dd));) {
		size_t pl = strlen(prefix);
		if (strncmp(e->d_name, prefix, pl) || !str_ends_with(e->d_name, ".json"))
			continue;
		char *end;
		unsigned long long r = strtoull(e->d_name + pl, &end, 10);
		if (strcmp(end, ".json"))
			continue;
		if (*hi == UINT64_MAX || r > *hi)
			*lo = *hi, *hi = r;
		else if (*lo == UINT64_MAX || r > *lo)
			*lo = r;
	}
	if (dd)
		closedir(dd);
	free(prefix);
}

/* Collective: with the signatures all reused, finds the last round every rank holds intact
 * and puts its edges into cc; 1 when it did (nr->rounds, totals and the rounds' stats are
 * restored), 0 when the stage starts from the bands, -1 on an error. */
static int ckpt_restore(struct dedup *d, struct near *nr, struct xchg *cc, int reused_all)
{
	char *dir = ckpt_dir(d);
	uint64_t hi, lo, want;
	if (d->run->force && d->run->rank == 0)
		remove_tree(dir);
	MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
	ckpt_rounds(d, dir, &hi, &lo);
	/* the newest round that every rank has a record of: each keeps its last two */
	int any = reused_all && hi != UINT64_MAX;
	uint64_t mine = any ? hi : 0, low;
	MPI_CHECK(MPI_Allreduce(&mine, &low, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD));
	json_t *r = NULL;
	int have = any && (low == hi || low == lo) && ckpt_valid(d, dir, low, &r);
	if (!par_all_ok(have)) {
		json_decref(r);
		free(dir);
		return 0;
	}
	want = low;
	char *ep = ckpt_name(d, dir, want, "edges");
	struct buf b = BUF_INIT;
	int ok = read_file(ep, &b) == 0 && b.len % (2 * DK) == 0;
	for (size_t i = 0; ok && i < b.len; i += 2 * DK)
		ok = owner_of(d, b.p + i) == d->run->rank &&
		     xchg_put(cc, d->run->rank, b.p + i, DK, b.p + i + DK, DK) == 0;
	json_t *tot = json_object_get(r, "totals"), *rr = json_object_get(r, "round_records"),
	       *rb = json_object_get(r, "round_bytes");
	ok = ok && json_array_size(tot) == N_TOTALS && json_array_size(rr) == want &&
	     json_array_size(rb) == want;
	if (ok) {
		for (size_t i = 0; i < N_TOTALS; i++)
			nr->totals[i] = (uint64_t)json_integer_value(json_array_get(tot, i));
		nr->round_records = xrealloc(nr->round_records, (want + 1) * sizeof(uint64_t));
		nr->round_bytes = xrealloc(nr->round_bytes, (want + 1) * sizeof(uint64_t));
		for (size_t i = 0; i < want; i++) {
			nr->round_records[i] = (uint64_t)json_integer_value(json_array_get(rr, i));
			nr->round_bytes[i] = (uint64_t)json_integer_value(json_array_get(rb, i));
		}
		nr->rounds = want;
	} else {
		err_set("%s: cannot be read back (%s)", ep, err_get());
	}
	if (d->run->rank == 0 && ok)
		log_info("stage dedup-near: components restart from round %llu, kept by a killed "
			 "run: bands, pairs and the check are not run again",
			 (unsigned long long)want);
	buf_release(&b);
	json_decref(r);
	free(ep), free(dir);
	return par_all_ok(ok) ? 1 : -1;
}

/* ---- connected components: alternating large-star and small-star ---- */

/* Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii, "Connected Components in MapReduce
 * and Beyond" (2014), as GraphFrames runs it: two exchanges a round, O(log n) rounds in
 * practice whatever a component's diameter (tests/e2e/dedup_chain.sh: chains of thousands).
 * Nodes are document keys, compared as the exchange sorts them, so a node's neighbours
 * arrive smallest first and a component ends as a star around its smallest document key. */

static int less(const void *a, const void *b) { return memcmp(a, b, DK) < 0; }

/* The directed record u -> w at u's owner, counted for the round's stats. */
static int put_arc(struct dedup *d, struct near *nr, struct xchg *x, const void *u,
		   const void *w)
{
	nr->step_records++;
	nr->step_bytes += 2 * DK;
	return put_link(d, x, u, w);
}

static int arc_ok(size_t kl, size_t vl)
{
	if (kl == DK && vl == DK)
		return 1;
	err_set("dedup-near: an edge record of %zu + %zu bytes", kl, vl);
	return 0;
}

/* Large-star over cur (each node with all its neighbours): with m the smallest of u and its
 * neighbours, every neighbour w > u gets the edge (w, m), put at w alone (small-star reads
 * a node with its smaller neighbours). *bad counts the nodes that keep the graph from being a
 * forest of stars around their smallest nodes: those with a smaller and a larger neighbour,
 * or with two smaller ones. With none, this step changed nothing: cur was that forest, and
 * next holds each leaf with its centre. Edge exchanges are sets (edge_xchg), so each
 * neighbour comes once, here and in small-star. */
static int large_star(struct dedup *d, struct near *nr, struct xchg *cur, struct xchg *next,
		      uint64_t *bad, struct ckpt *ck)
{
	unsigned char u[DK], m[DK];
	uint64_t lower = 0, upper = 0;
	const void *k, *w;
	size_t kl, wl;
	int got, any = 0;
	while ((got = xchg_next(cur, &k, &kl, &w, &wl)) == 1) {
		if (!arc_ok(kl, wl))
			return -1;
		ckpt_add(ck, k, w);
		if (!any || memcmp(u, k, DK)) {
			*bad += (lower && upper) || lower >= 2;
			lower = upper = 0;
			memcpy(u, k, DK);
			memcpy(m, less(u, w) ? u : w, DK); /* the first neighbour is the smallest */
			any = 1;
		}
		if (!less(u, w)) {
			lower++;
			continue;
		}
		upper++;
		if (put_arc(d, nr, next, w, m) < 0)
			return -1;
	}
	if (any)
		*bad += (lower && upper) || lower >= 2;
	return got;
}

/* Small-star over cur (each node with its smaller neighbours): with m the smallest of them,
 * the node and each other smaller neighbour get the edge to m, put both ways (large-star's
 * input). */
static int small_star(struct dedup *d, struct near *nr, struct xchg *cur, struct xchg *next)
{
	unsigned char u[DK], m[DK];
	const void *k, *w;
	size_t kl, wl;
	int got, any = 0;
	while ((got = xchg_next(cur, &k, &kl, &w, &wl)) == 1) {
		if (!arc_ok(kl, wl))
			return -1;
		const void *a = w;
		if (!any || memcmp(u, k, DK)) {
			memcpy(u, k, DK);
			memcpy(m, w, DK); /* the smallest comes first */
			a = u;            /* the edge (u, m) */
			any = 1;
		}
		if (put_arc(d, nr, next, a, m) < 0 || put_arc(d, nr, next, m, a) < 0)
			return -1;
	}
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

/* An exchange of edges, which arrive as a set: the same edge comes from several buckets,
 * and the star steps put some twice. */
static struct xchg *edge_xchg(struct dedup *d, unsigned share)
{
	struct xchg *x = dedup_xchg(d, share);
	if (x)
		xchg_set_unique(x);
	return x;
}

/* After a step read *cc into *next: next becomes the current one, and the one read is kept
 * for reuse, but for the first (the edges' exchange, with its own share of the budget). */
static void step_done(struct xchg **cc, struct xchg **next, struct xchg **spare, int *first)
{
	if (*first) {
		xchg_free(*cc);
		*first = 0;
	} else {
		xchg_reuse(*cc);
		*spare = *cc;
	}
	*cc = *next;
	*next = NULL;
}

enum { MAX_ROUNDS = 1000 }; /* 2^1000 nodes: a round count past it is a bug */

/* Alternates the two until large-star finds a forest of stars; *cc (the edges, both ways,
 * being put) ends holding each leaf with its centre, finished. Collective. */
static int components(struct dedup *d, struct near *nr, struct xchg **cc, int ok)
{
	/* a round's exchange, once read, is the one after next: its memory is reused */
	struct xchg *spare = NULL, *next = NULL;
	int first = 1, rc = -1;
	for (;;) {
		if (xchg_finish(*cc) < 0 || !par_all_ok(ok))
			goto out;
		if (!nr->restored && nr->rounds == 0) { /* the counts of the edges, for the stats */
			uint64_t v[N_TOTALS] = {nr->same, nr->candidates, nr->checked, nr->below};
			MPI_CHECK(MPI_Allreduce(v, nr->totals, N_TOTALS, MPI_UINT64_T, MPI_SUM,
						MPI_COMM_WORLD));
		}
		dedup_phase(d, nr->rounds ? "exchange_small_star" : "exchange_edges");
		log_debug("stage dedup-near: components round %llu at %.1fs",
			  (unsigned long long)nr->rounds, now_seconds() - nr->t0);
		stage_test_part_delay(d->run->rank); /* tests: a kill lands here */
		if (!(next = spare ? spare : edge_xchg(d, 2)))
			goto out;
		spare = NULL;
		uint64_t bad = 0;
		struct ckpt ck;
		ckpt_begin(d, &ck, nr->rounds);
		ok = large_star(d, nr, *cc, next, &bad, &ck) == 0;
		ckpt_end(d, nr, &ck, ok);
		step_done(cc, &next, &spare, &first);
		uint64_t total = par_sum_u64(bad);
		dedup_phase(d, "large_star");
		if (xchg_finish(*cc) < 0 || !par_all_ok(ok))
			goto out;
		dedup_phase(d, "exchange_large_star");
		if (total == 0) {
			round_done(nr);
			nr->rounds++;
			rc = 0;
			goto out;
		}
		if (nr->rounds + 1 >= MAX_ROUNDS) {
			err_set("dedup-near: components did not converge in %d rounds", MAX_ROUNDS);
			goto out;
		}
		if (!(next = spare ? spare : edge_xchg(d, 2)))
			goto out;
		spare = NULL;
		ok = small_star(d, nr, *cc, next) == 0;
		step_done(cc, &next, &spare, &first);
		round_done(nr);
		nr->rounds++;
		dedup_phase(d, "small_star");
	}
out:
	xchg_free(spare);
	return rc;
}

/* Members to their component's centre (its smallest document key), at the centre's owner:
 * each leaf's keep key, read from the phase file here at the leaf's owner. */
static int cc_collect(struct dedup *d, struct near *nr, struct xchg *cur, struct xchg *out)
{
	const void *k, *v, *kk;
	size_t kl, vl, kkl;
	int got;
	struct near_keys c;
	keys_open(&c, nr);
	while ((got = xchg_next(cur, &k, &kl, &v, &vl)) == 1) {
		if (!arc_ok(kl, vl) || near_keys_find(&c, k, &kk, &kkl) < 0 ||
		    xchg_put(out, owner_of(d, v), v, DK, kk, kkl) < 0) {
			got = -1;
			break;
		}
	}
	near_keys_close(&c);
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

/* At a centre's owner: the centre's keep key (from the phase file) and its leaves' (sorted)
 * make the component; its smallest keep key is the kept document. */
static int clusters(struct dedup *d, struct near *nr, struct xchg *in, struct xchg *dec)
{
	struct group g = {BUF_INIT, NULL, 0, d->budget / 8, d->tmpdir};
	struct buf label = BUF_INIT, id = BUF_INIT, tmp = BUF_INIT, last = BUF_INIT;
	const void *k, *v, *kk;
	size_t kl, vl, kkl;
	unsigned char centre[DK];
	int got, any = 0;
	struct near_keys c;
	keys_open(&c, nr);
	while ((got = xchg_next(in, &k, &kl, &v, &vl)) == 1) {
		if (kl != DK) {
			err_set("dedup-near: a member record keyed by %zu bytes", kl);
			got = -1;
			break;
		}
		if (!any || memcmp(centre, k, DK)) {
			if (group_flush(d, &g, &label, dec, &id, &tmp) < 0 ||
			    near_keys_find(&c, k, &kk, &kkl) < 0 || group_add(&g, kk, kkl) < 0) {
				got = -1;
				break;
			}
			memcpy(centre, k, DK);
			any = 1;
			buf_set(&label, kk, kkl);
			buf_reset(&last);
		} else if (last.len == vl && !memcmp(last.p, v, vl)) {
			continue; /* the same leaf twice */
		}
		buf_set(&last, v, vl);
		int cmp = memcmp(v, label.p, vl < label.len ? vl : label.len);
		if (cmp < 0 || (cmp == 0 && vl < label.len))
			buf_set(&label, v, vl);
		if (group_add(&g, v, vl) < 0) {
			got = -1;
			break;
		}
	}
	if (got == 0 && group_flush(d, &g, &label, dec, &id, &tmp) < 0)
		got = -1;
	if (g.f)
		fclose(g.f);
	near_keys_close(&c);
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
	nr->slot_shard = UINT64_MAX;
	return nr->mh ? 0 : -1;
}

/* The signatures per input shard, a phase: a killed run makes only the missing ones, and
 * the group records of the shards it makes. *reused_all: none was made. */
static int signatures(struct dedup *d, struct near *nr, struct phase **ph, int *reused_all)
{
	static const char *const exts[] = {"sig", "key", NULL};
	static const struct phase_def sigs = {"signatures", exts, false, NULL, NULL};
	struct stage_run *run = d->run;
	nr->ph = *ph = phase_open(run, d->in, &sigs, run->fingerprint);
	struct dedup_job job = {d, exts, put_bands, nr};
	int ok = *ph && phase_run(*ph, dedup_phase_shard, &job) == 0;
	*reused_all = ok;
	for (size_t i = 0; ok && i < d->in->n; i++)
		*reused_all &= phase_reused(*ph, i);
	return ok ? 0 : -1;
}

/* Groups and bands (and signatures) to candidate edges in *cc; collective. ok: whether the
 * signatures were made on this rank. */
static int find_edges(struct dedup *d, struct near *nr, struct xchg **cc, int ok)
{
	struct stage_run *run = d->run;
	struct phase *ph = nr->ph;
	for (size_t i = 0; ok && i < d->in->n; i++)
		if (phase_reused(ph, i) && phase_owner(ph, i) == run->rank &&
		    replay(d, nr, i) < 0) {
			log_error("stage dedup-near: %s", err_get());
			ok = 0;
		}
	dedup_phase(d, "read_minhash");
	log_debug("stage dedup-near: signatures at %.1fs", now_seconds() - nr->t0);
	if (xchg_finish(nr->g) < 0 || !par_all_ok(ok))
		return -1;
	dedup_phase(d, "exchange_groups");
	ok = groups(d, nr, *cc) == 0;
	xchg_free(nr->g), nr->g = NULL;
	dedup_phase(d, "group_signatures");
	if (xchg_finish(nr->x) < 0 || !par_all_ok(ok))
		return -1;
	dedup_phase(d, "exchange_bands");
	log_debug("stage dedup-near: band keys exchanged at %.1fs", now_seconds() - nr->t0);
	struct xchg *x2 = dedup_xchg(d, 4);
	if (!x2)
		return -1;
	xchg_set_unique(x2); /* a pair repeats in every band it shares */
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
	/* at most budget in all: the groups (1/4) are read while the bands (1/2) and the first
	 * edges (1/4) are put, and the bands while the pairs (1/4) are */
	if (near_setup(run, &nr) < 0 || !(nr.g = dedup_xchg(&d, 4)) ||
	    !(nr.x = dedup_xchg(&d, 2)) || !(cc = edge_xchg(&d, 4)))
		goto out;
	int reused_all = 0, ok = signatures(&d, &nr, &ph, &reused_all) == 0;
	nr.restored = ckpt_restore(&d, &nr, cc, ok && reused_all);
	if (nr.restored < 0)
		goto out;
	if (nr.restored)
		dedup_phase(&d, "restore_components");
	else
		ok = find_edges(&d, &nr, &cc, ok) == 0;
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
	stats_count(&extra, "same_signature", nr.totals[0]);
	stats_count(&extra, "candidate_pairs", nr.totals[1]);
	stats_count(&extra, "pairs_checked", nr.totals[2]);
	stats_count(&extra, "pairs_below_threshold", nr.totals[3]);
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
	if (rc == 0 && run->rank == 0) { /* done: the rounds' checkpoints are not needed */
		char *dir = ckpt_dir(&d);
		remove_tree(dir);
		free(dir);
	}
	if (rc < 0)
		log_error("stage dedup-near: %s", err_get());
	xchg_free(nr.g), xchg_free(nr.x), xchg_free(cc), xchg_free(fin), xchg_free(dec);
	minhash_free(nr.mh);
	free(nr.sig);
	free(nr.round_records), free(nr.round_bytes);
	free(nr.win);
	buf_release(&nr.key), buf_release(&nr.val);
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
	.version = 3, /* 2: with the check, pairs within a bucket's window, not a star; 3: compact
		       * document keys, a bucket's hubs its first members in (shard, record)
		       * order */
	.run = near_run,
};
