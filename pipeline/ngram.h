/* ngram: word n-grams and an index of them for overlap checks (decontamination). Words are
 * maximal runs of ASCII letters and digits or bytes >= 0x80, ASCII lowercased; everything
 * else separates. The index keeps 64-bit n-gram fingerprints in an open-addressing table and
 * verifies every fingerprint hit word by word, so a hash collision never reports a match.
 * It knows nothing of benchmarks: items are numbered in the order they are added. */
#ifndef CURATE_NGRAM_H
#define CURATE_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define NGRAM_MAX_N 64
#define NGRAM_SCAN_LIMIT_MAX 1024 /* a scan's limit is capped here */

/* Appends the words of text to out, lowercased, each followed by one space; returns the
 * number of words. */
size_t ngram_normalize(struct buf *out, const char *text, size_t len);

struct ngram_index;

/* A new empty index of word n-grams; 1 <= n <= NGRAM_MAX_N. Free with ngram_index_free. */
struct ngram_index *ngram_index_new(unsigned n);
void ngram_index_free(struct ngram_index *ix); /* NULL is a no-op */

/* Adds one item; returns its number (0, 1, ... in order), or -1 with err_set when the
 * index would pass its 4 GiB limit of normalized text. Items shorter than n words are kept
 * (numbered) but can never match. Call before ngram_index_build only. */
int64_t ngram_index_add(struct ngram_index *ix, const char *text, size_t len);
/* Builds the table; an n-gram shared by several items belongs to the first that has it. */
void ngram_index_build(struct ngram_index *ix);

size_t ngram_index_items(const struct ngram_index *ix);
size_t ngram_index_item_words(const struct ngram_index *ix, size_t item);
size_t ngram_index_grams(const struct ngram_index *ix); /* distinct n-grams in the table */
size_t ngram_index_bytes(const struct ngram_index *ix); /* memory held */

/* The first match of a scan and how many distinct n-grams matched. */
struct ngram_match {
	uint32_t item;   /* the item the first matching n-gram belongs to */
	uint32_t gram;   /* its place in the index, for ngram_index_gram_text */
	size_t offset;   /* byte range of that n-gram in the scanned text */
	size_t length;
	uint32_t count;  /* distinct matching n-grams, counted up to the scan's limit */
};

/* Scans text for n-grams of the index, in text order, stopping once `limit` (>= 1)
 * distinct ones matched. Returns the count (0: none; *m is then untouched). Reentrant:
 * allocates nothing, so ranks and threads can share one built index. */
uint32_t ngram_index_scan(const struct ngram_index *ix, const char *text, size_t len,
			  uint32_t limit, struct ngram_match *m);
/* Appends the normalized words of a matched n-gram ("w1 w2 ... wn") to out. */
void ngram_index_gram_text(const struct ngram_index *ix, uint32_t gram, struct buf *out);

#endif
