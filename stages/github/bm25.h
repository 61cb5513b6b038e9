/* github/bm25: Okapi BM25 retrieval of the files of a snapshot against a commit message, for
 * the context of commit documents. Terms are runs of ASCII letters and digits, lower-cased,
 * 2 to 64 bytes, kept as 64-bit hashes with their counts; a document's index is built once
 * and reused across commits (the caller caches it by blob id). */
#ifndef CURATE_GH_BM25_H
#define CURATE_GH_BM25_H

#include <stddef.h>
#include <stdint.h>

struct gh_bm25_doc {
	uint64_t *term; /* sorted, unique */
	uint32_t *tf;
	size_t nterms;
	uint64_t len; /* tokens */
};

/* Indexes text; d is overwritten (release it first if it held an index). */
void gh_bm25_doc_build(struct gh_bm25_doc *d, const char *text, size_t n);
void gh_bm25_doc_release(struct gh_bm25_doc *d);
/* Bytes of memory the index holds, for cache budgets. */
size_t gh_bm25_doc_bytes(const struct gh_bm25_doc *d);

/* The k best documents for query (each distinct query term counted once): indices into
 * docs in descending score, ties to the smaller index; documents scoring 0 are left out.
 * IDF is ln(1 + (N - df + 0.5) / (df + 0.5)) (Lucene's, never negative). Returns how many
 * were written to idx (and score, if not NULL). */
size_t gh_bm25_top(const struct gh_bm25_doc *const *docs, size_t n, const char *query,
		   size_t qlen, size_t k, double k1, double b, size_t *idx, double *score);

#endif
