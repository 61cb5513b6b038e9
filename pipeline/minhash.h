/* minhash: MinHash signatures of documents for near-duplicate detection, and the LSH
 * S-curve. Shingles are word n-grams (words: maximal runs of ASCII letters, digits, '_' and
 * bytes >= 0x80, case kept) or character n-grams (code points, whitespace runs as one space).
 * Each shingle is hashed once to 64 bits; the k "permutations" are the family documented at
 * minhash_new, with coefficients drawn from the seed only, so signatures never depend on
 * ranks, hosts or input order. It knows nothing of shards or bands. */
#ifndef CURATE_MINHASH_H
#define CURATE_MINHASH_H

#include <stddef.h>
#include <stdint.h>

#define MINHASH_MAX_NGRAM 64
#define MINHASH_MAX_HASHES 4096

enum minhash_shingle { MINHASH_WORD, MINHASH_CHAR };

struct minhash_params {
	unsigned num_hashes; /* 1..MINHASH_MAX_HASHES */
	unsigned ngram;      /* 1..MINHASH_MAX_NGRAM */
	enum minhash_shingle shingle;
	uint64_t seed;
};

struct minhash;

/* The family: shingle hash x (64 bits) split into lo = x mod 2^32, hi = x >> 32; hash i is
 * h_i(x) = (a_i * lo + b_i * hi + c_i) mod 2^32 with a_i, b_i odd and c_i drawn from
 * splitmix64(seed). Signature entry i is the minimum of h_i over the document's shingles.
 * NULL with err_set on bad parameters. Free with minhash_free. */
struct minhash *minhash_new(const struct minhash_params *p);
void minhash_free(struct minhash *m); /* NULL is a no-op */
unsigned minhash_num_hashes(const struct minhash *m);

/* Fills sig (num_hashes entries) with the signature of text; returns the number of shingles
 * seen (with repeats). A text with fewer than ngram words (characters) but at least one is
 * one shingle of all of them; a text with none has 0 shingles and sig all 0xffffffff. */
size_t minhash_signature(const struct minhash *m, const char *text, size_t len, uint32_t *sig);

/* The building blocks, for tests: a fresh signature, and one shingle hash added to it. */
void minhash_sig_init(const struct minhash *m, uint32_t *sig);
void minhash_sig_add(const struct minhash *m, uint64_t shingle_hash, uint32_t *sig);

/* The 64-bit hash of a byte string used for words and character shingles. */
uint64_t minhash_hash_bytes(const void *p, size_t n);

/* The fraction of equal entries: the estimate of the Jaccard similarity. */
double minhash_similarity(const uint32_t *a, const uint32_t *b, unsigned n);

/* The LSH S-curve: probability that two documents of Jaccard similarity s share at least
 * one of `bands` bands of `rows` rows, 1 - (1 - s^rows)^bands. */
double minhash_lsh_probability(double s, unsigned bands, unsigned rows);

#endif
