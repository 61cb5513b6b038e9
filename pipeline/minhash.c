/* minhash: shingling, the hash family and the LSH S-curve (see minhash.h). The inner loop
 * updates all k minima for one shingle; it is written in 8-lane blocks so the compiler
 * vectorizes it, with AVX2 and AVX-512 clones chosen at run time where the CPU has them. */
#include "minhash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

struct minhash {
	struct minhash_params p;
	unsigned padded; /* num_hashes rounded up to a multiple of 8 */
	uint32_t *a, *b, *c;
};

/* murmur3's 64-bit finalizer: every input bit reaches every output bit */
static inline uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33, h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33, h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/* n <= 8 bytes as a little-endian word, so hashes are the same on every host */
static inline uint64_t load_le(const unsigned char *p, size_t n)
{
	uint64_t w = 0;
	if (n == 8) {
		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		return w;
	}
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

uint64_t minhash_hash_bytes(const void *p, size_t n)
{
	const unsigned char *u = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
	for (; n >= 8; u += 8, n -= 8)
		h = (h ^ load_le(u, 8)) * 0xbf58476d1ce4e5b9ull, h ^= h >> 31;
	if (n)
		h = (h ^ load_le(u, n)) * 0x94d049bb133111ebull, h ^= h >> 29;
	return fmix64(h);
}

struct minhash *minhash_new(const struct minhash_params *p)
{
	if (p->num_hashes < 1 || p->num_hashes > MINHASH_MAX_HASHES || p->ngram < 1 ||
	    p->ngram > MINHASH_MAX_NGRAM) {
		err_set("minhash: num_hashes must be 1..%d and ngram 1..%d", MINHASH_MAX_HASHES,
			MINHASH_MAX_NGRAM);
		return NULL;
	}
	struct minhash *m = xcalloc(1, sizeof *m);
	m->p = *p;
	m->padded = (p->num_hashes + 7) & ~7u;
	m->a = xcalloc(m->padded, sizeof *m->a);
	m->b = xcalloc(m->padded, sizeof *m->b);
	m->c = xcalloc(m->padded, sizeof *m->c);
	uint64_t s = p->seed;
	for (unsigned i = 0; i < p->num_hashes; i++) {
		uint64_t r = splitmix64_next(&s);
		m->a[i] = (uint32_t)r | 1u;
		m->b[i] = (uint32_t)(r >> 32) | 1u;
		m->c[i] = (uint32_t)splitmix64_next(&s);
	}
	return m;
}

void minhash_free(struct minhash *m)
{
	if (!m)
		return;
	free(m->a), free(m->b), free(m->c);
	free(m);
}

unsigned minhash_num_hashes(const struct minhash *m) { return m->p.num_hashes; }

/* Shingle hashes are gathered in batches; for each block of eight hash functions the batch
 * then runs with the eight minima held in one register, so the only dependency between
 * shingles is one unsigned min. AVX2 where the CPU has it (checked at run time), plain C
 * elsewhere; both give the same values. The padding lanes compute values nobody reads. */
#define BATCH 256

static void sig_update_c(const struct minhash *m, uint32_t *restrict sig,
			 const uint64_t *restrict x, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		uint32_t lo = (uint32_t)x[k], hi = (uint32_t)(x[k] >> 32);
		for (unsigned i = 0; i < m->padded; i++) {
			uint32_t v = m->a[i] * lo + m->b[i] * hi + m->c[i];
			sig[i] = v < sig[i] ? v : sig[i];
		}
	}
}

#if defined(__x86_64__)
/* One block of eight hash functions over the batch. */
__attribute__((target("avx2"))) static inline void
block_avx2(const struct minhash *m, uint32_t *restrict sig, const uint64_t *restrict x,
	   size_t n, unsigned i)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(m->a + i));
	__m256i b = _mm256_loadu_si256((const __m256i *)(m->b + i));
	__m256i c = _mm256_loadu_si256((const __m256i *)(m->c + i));
	__m256i s = _mm256_loadu_si256((const __m256i *)(sig + i));
	for (size_t k = 0; k < n; k++) {
		__m256i lo = _mm256_set1_epi32((int)(uint32_t)x[k]);
		__m256i hi = _mm256_set1_epi32((int)(uint32_t)(x[k] >> 32));
		__m256i v = _mm256_add_epi32(_mm256_mullo_epi32(a, lo), _mm256_mullo_epi32(b, hi));
		s = _mm256_min_epu32(s, _mm256_add_epi32(v, c));
	}
	_mm256_storeu_si256((__m256i *)(sig + i), s);
}

__attribute__((target("avx2"))) static void
sig_update_avx2(const struct minhash *m, uint32_t *restrict sig, const uint64_t *restrict x,
		size_t n)
{
	for (unsigned i = 0; i < m->padded; i += 8)
		block_avx2(m, sig, x, n, i);
}

/* The same with sixteen lanes a block (the last eight lanes, if any, as in AVX2). */
__attribute__((target("avx512f,avx2"))) static void
sig_update_avx512(const struct minhash *m, uint32_t *restrict sig, const uint64_t *restrict x,
		  size_t n)
{
	unsigned i = 0;
	for (; i + 16 <= m->padded; i += 16) {
		__m512i a = _mm512_loadu_si512((const void *)(m->a + i));
		__m512i b = _mm512_loadu_si512((const void *)(m->b + i));
		__m512i c = _mm512_loadu_si512((const void *)(m->c + i));
		__m512i s = _mm512_loadu_si512((const void *)(sig + i));
		for (size_t k = 0; k < n; k++) {
			__m512i lo = _mm512_set1_epi32((int)(uint32_t)x[k]);
			__m512i hi = _mm512_set1_epi32((int)(uint32_t)(x[k] >> 32));
			__m512i v = _mm512_add_epi32(_mm512_mullo_epi32(a, lo),
						     _mm512_mullo_epi32(b, hi));
			s = _mm512_min_epu32(s, _mm512_add_epi32(v, c));
		}
		_mm512_storeu_si512((void *)(sig + i), s);
	}
	if (i < m->padded)
		block_avx2(m, sig, x, n, i);
}

static void sig_update(const struct minhash *m, uint32_t *sig, const uint64_t *x, size_t n)
{
	typedef void update_fn(const struct minhash *, uint32_t *, const uint64_t *, size_t);
	static update_fn *fn;
	if (!fn)
		fn = __builtin_cpu_supports("avx512f") ? sig_update_avx512
		     : __builtin_cpu_supports("avx2")  ? sig_update_avx2
							: sig_update_c;
	fn(m, sig, x, n);
}
#else
#define sig_update sig_update_c
#endif

/* Collects shingle hashes and flushes them into a padded signature. */
struct batch {
	const struct minhash *m;
	uint32_t *sig;
	uint64_t x[BATCH];
	size_t n, total;
};

static inline void batch_add(struct batch *b, uint64_t x)
{
	b->x[b->n++] = x;
	b->total++;
	if (b->n == BATCH)
		sig_update(b->m, b->sig, b->x, b->n), b->n = 0;
}

static void batch_flush(struct batch *b)
{
	if (b->n)
		sig_update(b->m, b->sig, b->x, b->n), b->n = 0;
}

void minhash_sig_init(const struct minhash *m, uint32_t *sig)
{
	memset(sig, 0xff, m->p.num_hashes * sizeof *sig);
}

void minhash_sig_add(const struct minhash *m, uint64_t x, uint32_t *sig)
{
	uint32_t tmp[MINHASH_MAX_HASHES];
	memset(tmp, 0xff, m->padded * sizeof *tmp);
	memcpy(tmp, sig, m->p.num_hashes * sizeof *sig);
	sig_update(m, tmp, &x, 1);
	memcpy(sig, tmp, m->p.num_hashes * sizeof *sig);
}

/* The shingle of the last n word hashes ending at ring[end] (a ring of MINHASH_MAX_NGRAM):
 * each word rotated by its position, so order matters, then mixed. */
static uint64_t combine(const uint64_t *ring, unsigned end, unsigned n)
{
	uint64_t h = 0x27d4eb2f165667c5ull ^ n;
	for (unsigned j = 0; j < n; j++) {
		uint64_t w = ring[(end + MINHASH_MAX_NGRAM - n + 1 + j) % MINHASH_MAX_NGRAM];
		unsigned r = (7 * j) & 63;
		h ^= r ? (w << r) | (w >> (64 - r)) : w;
	}
	return fmix64(h);
}

/* minhash_hash_bytes of a word s[0, n) whose buffer holds at least 8 bytes from s (avail):
 * a short word's bytes come from one unaligned load, masked, instead of a byte loop. */
static inline uint64_t word_hash(const unsigned char *s, size_t n, size_t avail)
{
	if (n >= 8 || avail < 8)
		return minhash_hash_bytes(s, n);
	uint64_t w = load_le(s, 8) & ((1ull << (8 * n)) - 1);
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
	h = (h ^ w) * 0x94d049bb133111ebull, h ^= h >> 29;
	return fmix64(h);
}

/* Words are runs of letters, digits, '_' and bytes >= 0x80. Bit i of word_mask is set when
 * s[i] is a word byte, for i < 64. SSE2 where there is x86-64 (always), a
 * byte loop elsewhere: finding words with masks and bit scans, rather than a branch a byte,
 * takes the tokenizer off the mispredicted path. */
#if defined(__x86_64__)
static inline uint64_t word_mask(const unsigned char *s)
{
	const __m128i lo_a = _mm_set1_epi8('a' - 1), hi_z = _mm_set1_epi8('z' + 1);
	const __m128i lo_0 = _mm_set1_epi8('0' - 1), hi_9 = _mm_set1_epi8('9' + 1);
	const __m128i us = _mm_set1_epi8('_'), case_bit = _mm_set1_epi8(0x20);
	uint64_t m = 0;
	for (int k = 0; k < 4; k++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + 16 * k));
		__m128i y = _mm_or_si128(x, case_bit); /* letters of either case to lower case */
		__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(y, lo_a), _mm_cmplt_epi8(y, hi_z));
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, lo_0), _mm_cmplt_epi8(x, hi_9));
		__m128i w = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(x, us));
		/* the sign bit is set for bytes >= 0x80, which are word bytes too */
		m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_or_si128(w, x)) << (16 * k);
	}
	return m;
}
#else
static inline int word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

static inline uint64_t word_mask(const unsigned char *s)
{
	uint64_t m = 0;
	for (int i = 0; i < 64; i++)
		m |= (uint64_t)word_byte(s[i]) << i;
	return m;
}
#endif

struct words {
	struct batch *b;
	uint64_t ring[MINHASH_MAX_NGRAM];
	size_t count;
	unsigned n;
};

static inline void add_word(struct words *w, const unsigned char *p, size_t n, size_t avail)
{
	unsigned at = (unsigned)(w->count % MINHASH_MAX_NGRAM);
	w->ring[at] = word_hash(p, n, avail);
	if (++w->count >= w->n)
		batch_add(w->b, combine(w->ring, at, w->n));
}

static void word_shingles(const char *text, size_t len, struct batch *b)
{
	const unsigned char *s = (const unsigned char *)text;
	struct words w = {.b = b, .n = b->m->p.ngram};
	unsigned char tail[64];
	uint64_t carry = 0; /* 1 when the byte before the block is a word byte */
	size_t start = 0;   /* where the word in progress starts */
	for (size_t base = 0; base < len; base += 64) {
		uint64_t m;
		if (len - base >= 64) {
			m = word_mask(s + base);
		} else { /* the last block, padded with non-word bytes */
			memset(tail, ' ', sizeof tail);
			memcpy(tail, s + base, len - base);
			m = word_mask(tail);
		}
		uint64_t prev = m << 1 | carry;
		uint64_t starts = m & ~prev, ends = ~m & prev;
		carry = m >> 63;
		while (starts | ends) {
			uint64_t bits = starts | ends, low = bits & -bits;
			size_t at = base + (size_t)__builtin_ctzll(bits);
			if (starts & low) {
				start = at;
				starts ^= low;
			} else {
				add_word(&w, s + start, at - start, len - start);
				ends ^= low;
			}
		}
	}
	if (carry) /* a word runs to the end of the text */
		add_word(&w, s + start, len - start, len - start);
	if (w.count > 0 && w.count < w.n)
		batch_add(b, combine(w.ring, (unsigned)(w.count - 1), (unsigned)w.count));
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Character n-grams over code points of the text with each whitespace run made one space
 * and the ends trimmed. */
static void char_shingles(const char *text, size_t len, struct batch *b)
{
	struct buf t = BUF_INIT;
	size_t i = 0;
	while (i < len && is_space((unsigned char)text[i]))
		i++;
	for (; i < len; i++) {
		if (is_space((unsigned char)text[i])) {
			while (i + 1 < len && is_space((unsigned char)text[i + 1]))
				i++;
			if (i + 1 < len)
				buf_putc(&t, ' ');
		} else {
			buf_putc(&t, text[i]);
		}
	}
	/* a ring of the byte offsets where the last n + 1 code points start */
	size_t starts[MINHASH_MAX_NGRAM + 1], cps = 0;
	unsigned n = b->m->p.ngram, rn = MINHASH_MAX_NGRAM + 1;
	for (size_t k = 0; k <= t.len; k++) {
		if (k < t.len && ((unsigned char)t.p[k] & 0xc0) == 0x80)
			continue;
		if (cps >= n) {
			size_t from = starts[(cps - n) % rn];
			batch_add(b, minhash_hash_bytes(t.p + from, k - from));
		}
		if (k < t.len)
			starts[cps++ % rn] = k;
	}
	if (cps > 0 && cps < n)
		batch_add(b, minhash_hash_bytes(t.p, t.len));
	buf_release(&t);
}

size_t minhash_signature(const struct minhash *m, const char *text, size_t len, uint32_t *sig)
{
	uint32_t tmp[MINHASH_MAX_HASHES];
	memset(tmp, 0xff, m->padded * sizeof *tmp);
	struct batch b = {.m = m, .sig = tmp};
	if (m->p.shingle == MINHASH_CHAR)
		char_shingles(text, len, &b);
	else
		word_shingles(text, len, &b);
	batch_flush(&b);
	memcpy(sig, tmp, m->p.num_hashes * sizeof *sig);
	return b.total;
}
double minhash_similarity(const uint32_t *a, const uint32_t *b, unsigned n)
{
	unsigned eq = 0;
	for (unsigned i = 0; i < n; i++)
		eq += a[i] == b[i];
	return n ? (double)eq / n : 0;
}

double minhash_lsh_probability(double s, unsigned bands, unsigned rows)
{
	return 1 - pow(1 - pow(s, rows), bands);
}
