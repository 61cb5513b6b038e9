/* ngram: see ngram.h. Items live in one buffer of normalized words ("w1 w2 ... "); the
 * table holds, per distinct n-gram, 32 bits of its fingerprint and the byte offset where it
 * starts in that buffer (8 bytes a slot, linear probing, load at most 0.7). A scan rolls a
 * polynomial fingerprint over the document's words, so it costs one probe per word, and
 * allocates nothing. */
#include "ngram.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY UINT32_MAX /* no match (lookup's answer) */
#define TEXT_LIMIT ((size_t)UINT32_MAX - 1) /* offsets + 1 fit in u32 */

struct slot {
	uint32_t tag; /* the fingerprint's high 32 bits: most misses end here */
	uint32_t pos1; /* 1 + byte offset of the n-gram's first word in text; 0: empty, so a
			* fresh table is calloc's zero pages rather than a memset */
};

struct ngram_index {
	unsigned n;
	struct buf text;        /* the normalized words of every item, each followed by ' ' */
	uint32_t *item_start;   /* byte offset of each item in text */
	uint32_t *item_words;
	size_t nitems, items_cap;
	struct slot *slots;
	size_t mask, ngrams;
	uint64_t base_n;        /* B^n, to roll the oldest word out */
};

static unsigned char word_byte[256], lower_byte[256];

static void tables_init(void)
{
	if (lower_byte['a'])
		return;
	for (int c = 0; c < 256; c++) {
		word_byte[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			       (c >= 'A' && c <= 'Z') || c >= 0x80;
		lower_byte[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
}

/* splitmix64's finalizer: FNV and the polynomial are weak in their low bits alone */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define ROLL_BASE 0x9e3779b97f4a7c15ULL

size_t ngram_normalize(struct buf *out, const char *text, size_t len)
{
	tables_init();
	const unsigned char *t = (const unsigned char *)text;
	size_t words = 0, i = 0;
	buf_grow(out, len + 1);
	while (i < len) {
		while (i < len && !word_byte[t[i]])
			i++;
		if (i == len)
			break;
		while (i < len && word_byte[t[i]])
			out->p[out->len++] = (char)lower_byte[t[i++]];
		out->p[out->len++] = ' ';
		words++;
	}
	out->p[out->len] = 0;
	return words;
}

struct ngram_index *ngram_index_new(unsigned n)
{
	if (n < 1 || n > NGRAM_MAX_N)
		DIE("ngram_index_new: n = %u out of 1..%d", n, NGRAM_MAX_N);
	tables_init();
	struct ngram_index *ix = xcalloc(1, sizeof *ix);
	ix->n = n;
	ix->base_n = 1;
	for (unsigned i = 0; i < n; i++)
		ix->base_n *= ROLL_BASE;
	return ix;
}

void ngram_index_free(struct ngram_index *ix)
{
	if (!ix)
		return;
	buf_release(&ix->text);
	free(ix->item_start);
	free(ix->item_words);
	free(ix->slots);
	free(ix);
}

int64_t ngram_index_add(struct ngram_index *ix, const char *text, size_t len)
{
	if (ix->slots)
		DIE("ngram_index_add after ngram_index_build");
	/* normalized text is at most len + 1 bytes */
	if (len + 1 > TEXT_LIMIT - ix->text.len) {
		err_set("evaluation items exceed the n-gram index's limit of 4 GiB of words");
		return -1;
	}
	if (ix->nitems == ix->items_cap) {
		ix->items_cap = ix->items_cap ? 2 * ix->items_cap : 64;
		ix->item_start = xrealloc(ix->item_start, ix->items_cap * sizeof(uint32_t));
		ix->item_words = xrealloc(ix->item_words, ix->items_cap * sizeof(uint32_t));
	}
	ix->item_start[ix->nitems] = (uint32_t)ix->text.len;
	size_t words = ngram_normalize(&ix->text, text, len);
	ix->item_words[ix->nitems] = (uint32_t)(words > UINT32_MAX ? UINT32_MAX : words);
	return (int64_t)ix->nitems++;
}

static inline uint64_t word_hash(const unsigned char *p, size_t len)
{
	uint64_t h = FNV_OFFSET;
	for (size_t i = 0; i < len; i++)
		h = (h ^ lower_byte[p[i]]) * FNV_PRIME;
	return mix64(h);
}

/* Inserts the n-gram at text[pos, pos+glen) unless the same words are already there. */
static void insert(struct ngram_index *ix, uint64_t key, uint32_t pos, size_t glen)
{
	const char *t = ix->text.p;
	uint32_t tag = (uint32_t)(key >> 32);
	for (size_t i = key & ix->mask;; i = (i + 1) & ix->mask) {
		struct slot *s = &ix->slots[i];
		if (!s->pos1) {
			s->tag = tag, s->pos1 = pos + 1;
			ix->ngrams++;
			return;
		}
		/* equal bytes ending at a word's end: the same n words (first item keeps it) */
		uint32_t p = s->pos1 - 1;
		if (s->tag == tag && !memcmp(t + p, t + pos, glen) && t[p + glen] == ' ')
			return;
	}
}

/* Grams waiting to be inserted, their slots prefetched (the table outgrows the caches). */
#define BATCH 64
struct pending {
	uint64_t key[BATCH];
	uint32_t pos[BATCH], len[BATCH];
	size_t n;
};

static void flush(struct ngram_index *ix, struct pending *q)
{
	for (size_t j = 0; j < q->n; j++)
		insert(ix, q->key[j], q->pos[j], q->len[j]);
	q->n = 0;
}

static void push(struct ngram_index *ix, struct pending *q, uint64_t key, uint32_t pos,
		 uint32_t len)
{
	__builtin_prefetch(&ix->slots[key & ix->mask]);
	q->key[q->n] = key, q->pos[q->n] = pos, q->len[q->n] = len;
	if (++q->n == BATCH)
		flush(ix, q);
}

/* The n-grams of one item, rolled over its normalized words. */
static void insert_item(struct ngram_index *ix, struct pending *q, size_t item)
{
	unsigned n = ix->n;
	uint64_t w[NGRAM_MAX_N], f = 0;
	uint32_t start[NGRAM_MAX_N];
	const unsigned char *t = (const unsigned char *)ix->text.p;
	size_t p = ix->item_start[item];
	size_t end = item + 1 < ix->nitems ? ix->item_start[item + 1] : ix->text.len;
	for (size_t k = 0; p < end; k++) {
		const unsigned char *sp = memchr(t + p, ' ', end - p);
		size_t wl = (size_t)(sp - (t + p));
		unsigned r = (unsigned)(k % n);
		uint64_t h = word_hash(t + p, wl);
		f = f * ROLL_BASE + h - (k >= n ? w[r] * ix->base_n : 0);
		w[r] = h, start[r] = (uint32_t)p;
		p += wl + 1;
		if (k + 1 >= n) {
			uint32_t gs = start[(k + 1) % n];
			push(ix, q, mix64(f), gs, (uint32_t)(p - 1 - gs));
		}
	}
}

void ngram_index_build(struct ngram_index *ix)
{
	size_t total = 0;
	for (size_t i = 0; i < ix->nitems; i++)
		total += ix->item_words[i] >= ix->n ? ix->item_words[i] - ix->n + 1 : 0;
	size_t cap = 1024;
	while (cap * 7 < total * 10)
		cap *= 2;
	ix->mask = cap - 1;
	ix->slots = xcalloc(cap, sizeof *ix->slots);
	if (!ix->text.p)
		buf_grow(&ix->text, 1);
	/* batches keep the first-item-wins order: grams are inserted in the order they come */
	struct pending q = {.n = 0};
	for (size_t i = 0; i < ix->nitems; i++)
		if (ix->item_words[i] >= ix->n)
			insert_item(ix, &q, i);
	flush(ix, &q);
}

size_t ngram_index_items(const struct ngram_index *ix) { return ix->nitems; }
size_t ngram_index_item_words(const struct ngram_index *ix, size_t item)
{
	return ix->item_words[item];
}
size_t ngram_index_grams(const struct ngram_index *ix) { return ix->ngrams; }

size_t ngram_index_bytes(const struct ngram_index *ix)
{
	return sizeof *ix + ix->text.cap + 2 * ix->items_cap * sizeof(uint32_t) +
	       (ix->slots ? (ix->mask + 1) * sizeof *ix->slots : 0);
}

/* The item holding byte offset pos: the last item starting at or before it. */
static uint32_t item_of(const struct ngram_index *ix, uint32_t pos)
{
	size_t lo = 0, hi = ix->nitems;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->item_start[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	/* empty items share their start with the next one; the gram is in the last of them */
	return (uint32_t)lo;
}

/* A document word: where it is and its hash. */
struct dword {
	size_t start, len;
	uint64_t h;
};

/* The document's n words w[0..n) against the words at pos. */
static bool same_words(const struct ngram_index *ix, const unsigned char *text,
		       const struct dword *w, uint32_t pos)
{
	const unsigned char *p = (const unsigned char *)ix->text.p + pos;
	for (unsigned j = 0; j < ix->n; j++) {
		const unsigned char *s = text + w[j].start;
		size_t l = w[j].len;
		for (size_t b = 0; b < l; b++)
			if (lower_byte[s[b]] != p[b])
				return false;
		if (p[l] != ' ')
			return false;
		p += l + 1;
	}
	return true;
}

/* The verified slot of the n-gram w[0..n), or EMPTY. */
static uint32_t lookup(const struct ngram_index *ix, uint64_t key, const unsigned char *text,
		       const struct dword *w)
{
	uint32_t tag = (uint32_t)(key >> 32);
	for (size_t i = key & ix->mask;; i = (i + 1) & ix->mask) {
		const struct slot *s = &ix->slots[i];
		if (!s->pos1)
			return EMPTY;
		if (s->tag == tag && same_words(ix, text, w, s->pos1 - 1))
			return s->pos1 - 1;
	}
}

static bool seen_before(const uint32_t *seen, uint32_t n, uint32_t pos)
{
	for (uint32_t i = 0; i < n; i++)
		if (seen[i] == pos)
			return true;
	return false;
}

/* Up to max words of text from *i on into w; returns how many. */
static size_t next_words(const unsigned char *t, size_t len, size_t *i, struct dword *w,
			 size_t max)
{
	size_t k = 0, p = *i;
	while (k < max) {
		while (p < len && !word_byte[t[p]])
			p++;
		if (p == len)
			break;
		size_t s = p;
		uint64_t h = FNV_OFFSET;
		while (p < len && word_byte[t[p]])
			h = (h ^ lower_byte[t[p++]]) * FNV_PRIME;
		w[k++] = (struct dword){s, p - s, mix64(h)};
	}
	*i = p;
	return k;
}

/* Words are taken a batch at a time and every slot of the batch is prefetched before
 * any is probed: the table is far larger than the caches, so this overlaps the misses. */

uint32_t ngram_index_scan(const struct ngram_index *ix, const char *text, size_t len,
			  uint32_t limit, struct ngram_match *m)
{
	if (!ix->ngrams)
		return 0;
	limit = limit < 1 ? 1 : limit > NGRAM_SCAN_LIMIT_MAX ? NGRAM_SCAN_LIMIT_MAX : limit;
	const unsigned char *t = (const unsigned char *)text;
	unsigned n = ix->n;
	struct dword w[NGRAM_MAX_N + BATCH];
	uint64_t key[BATCH], f = 0;
	uint32_t seen[NGRAM_SCAN_LIMIT_MAX], count = 0;
	size_t i = 0, have = 0, total = 0; /* words in w; words so far */
	for (;;) {
		size_t got = next_words(t, len, &i, w + have, BATCH);
		if (!got)
			break;
		/* key[j] is the n-gram ending at word have + j, when it has n words */
		for (size_t j = 0; j < got; j++) {
			size_t at = have + j;
			f = f * ROLL_BASE + w[at].h - (total + j >= n ? w[at - n].h * ix->base_n : 0);
			key[j] = mix64(f);
			__builtin_prefetch(&ix->slots[key[j] & ix->mask]);
		}
		for (size_t j = 0; j < got; j++) {
			if (total + j + 1 < n)
				continue;
			const struct dword *g = w + have + j + 1 - n;
			uint32_t pos = lookup(ix, key[j], t, g);
			if (pos == EMPTY || seen_before(seen, count, pos))
				continue;
			if (!count) {
				m->item = item_of(ix, pos);
				m->gram = pos;
				m->offset = g[0].start;
				m->length = g[n - 1].start + g[n - 1].len - g[0].start;
			}
			seen[count++] = pos;
			if (count >= limit)
				goto done;
		}
		total += got;
		have += got;
		/* keep the last n words: the oldest rolls out, the rest start the next n-grams */
		size_t keep = have < n ? have : n;
		memmove(w, w + have - keep, keep * sizeof *w);
		have = keep;
	}
done:
	if (count)
		m->count = count;
	return count;
}

void ngram_index_gram_text(const struct ngram_index *ix, uint32_t gram, struct buf *out)
{
	const char *p = ix->text.p + gram, *e = p;
	for (unsigned j = 0; j < ix->n; j++)
		e = strchr(e, ' ') + 1;
	buf_append(out, p, (size_t)(e - p - 1));
}
