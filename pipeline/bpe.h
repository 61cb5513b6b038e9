/* bpe: a byte-level BPE tokenizer that gives the same ids as Hugging Face `tokenizers` for a
 * tokenizer.json (BPE model, Split/ByteLevel pre-tokenizers, NFC-family normalizers, added
 * tokens) and as `tiktoken` for .tiktoken rank files (cl100k, o200k, r50k, p50k patterns).
 * Not thread-safe: one handle per thread (it keeps scratch buffers and a word cache). */
#ifndef CURATE_BPE_H
#define CURATE_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct bpe;

/* Growable id array, reused between calls (the caller owns v and frees it). */
struct bpe_ids {
	uint32_t *v;
	size_t n, cap;
};
void bpe_ids_release(struct bpe_ids *ids);

/* Loads path: a tokenizer.json (detected by its content starting with '{') or a .tiktoken
 * file (base64 token, space, rank per line). For .tiktoken files the split pattern and
 * special tokens come from `encoding` (cl100k_base, o200k_base, r50k_base, p50k_base), or,
 * when encoding is NULL or "", from the file name containing one of those names.
 * NULL with err_set naming the file and what is wrong. Free with bpe_free. */
struct bpe *bpe_load(const char *path, const char *encoding);
/* The same from bytes in memory (name is used in messages and for the encoding guess). */
struct bpe *bpe_load_mem(const char *data, size_t len, const char *name, const char *encoding);
void bpe_free(struct bpe *b); /* NULL is a no-op */

/* Appends the ids of text to out. Invalid UTF-8 is first replaced by U+FFFD per maximal
 * subpart (as a JavaScript string of the same bytes would hold it). tokenizer.json: added
 * tokens found in the text become their ids (as HF `encode` does); .tiktoken: special
 * tokens are plain text (tiktoken's encode_ordinary). Returns 0 (never fails on input). */
int bpe_encode(struct bpe *b, const char *text, size_t len, struct bpe_ids *out);
/* The first max ids bpe_encode would append, without encoding the rest of the text: text
 * is split as a whole, pieces after the max-th id are never merged, and a single piece far
 * longer than the ids still needed (over 64 bytes per id) is cut first, so a 100 MB one-word
 * document costs what its first max ids cost. Equal to bpe_encode then truncating, except
 * in the last ids of such a cut piece. */
int bpe_encode_max(struct bpe *b, const char *text, size_t len, size_t max,
		   struct bpe_ids *out);
/* Bytes this handle gave to BPE merging so far (a measure of the work done). */
uint64_t bpe_merged_bytes(const struct bpe *b);
/* Appends the bytes of ids to out; -1 with err_set on an id outside the vocabulary. */
int bpe_decode(const struct bpe *b, const uint32_t *ids, size_t n, struct buf *out);

/* The id of a token given as its text (special, added or ordinary), or -1. */
int64_t bpe_token_id(const struct bpe *b, const char *token);
/* One more than the largest id. */
uint32_t bpe_vocab_size(const struct bpe *b);

#endif
