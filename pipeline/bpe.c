/* bpe: byte-level BPE with the exact behaviour of HF tokenizers (tokenizer.json) and tiktoken
 * (.tiktoken): added-token split, normalizer, regex pre-tokenization (PCRE2 JIT), BPE merges
 * by rank with a heap (O(n log n) on any piece) and a direct-mapped word cache. Vocabularies
 * are held as raw bytes; the GPT-2 byte-to-unicode mapping is undone at load time. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "bpe.h"

#include <jansson.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "doc.h"

#define MAX_SPLITS 4
#define CACHE_SLOTS (1u << 16)
#define CACHE_BYTES 30
#define CACHE_IDS 7

/* The standard tiktoken patterns (tiktoken's openai_public.py). */
static const char PAT_R50K[] =
	"'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char PAT_CL100K[] =
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
	"?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_O200K[] =
	"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
	"[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| "
	"?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* GPT-2's pattern, used by a ByteLevel pre-tokenizer with use_regex. */
static const char PAT_GPT2[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct special {
	const char *text;
	uint32_t id;
};
struct encoding {
	const char *name;
	const char *pattern;
	struct special sp[6];
};
static const struct encoding encodings[] = {
	{"cl100k_base", PAT_CL100K,
	 {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259},
	  {"<|fim_suffix|>", 100260}, {"<|endofprompt|>", 100276}, {NULL, 0}}},
	{"o200k_base", PAT_O200K, {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}, {NULL, 0}}},
	{"p50k_base", PAT_R50K, {{"<|endoftext|>", 50256}, {NULL, 0}}},
	{"r50k_base", PAT_R50K, {{"<|endoftext|>", 50256}, {NULL, 0}}},
	{"gpt2", PAT_R50K, {{"<|endoftext|>", 50256}, {NULL, 0}}},
};

struct added {
	char *text;
	size_t len;
	uint32_t id;
};

struct split {
	pcre2_code *re;
	bool keep_gaps; /* HF Split keeps unmatched text as pieces; tiktoken drops it */
};

struct cache_slot {
	uint8_t len, nids;
	char bytes[CACHE_BYTES];
	uint32_t ids[CACHE_IDS];
};

struct bpe {
	char *name;
	/* bpe_encode_max: stop once out holds stop_at ids (0: never); bytes given to BPE */
	size_t stop_at;
	uint64_t merged_bytes;
	bool tiktoken, ignore_merges, prefix_space;
	int norm; /* utf8proc options, 0 for none */
	/* id -> bytes */
	uint32_t nids;
	uint64_t *off;
	uint32_t *len;
	struct buf arena;
	/* bytes -> id: open addressing, slot holds id + 1 */
	uint32_t *tab;
	uint64_t tab_mask;
	/* (left id, right id) -> rank, new id */
	uint64_t *pkey;
	uint32_t *prank, *pnew;
	uint64_t pmask;
	uint32_t byte_id[256];
	struct added *added;
	size_t nadded;
	unsigned char added_first[256];
	struct split splits[MAX_SPLITS];
	int nsplits;
	int bl_level; /* the split level where ByteLevel starts */
	pcre2_match_data *md;
	struct cache_slot *cache;
	/* scratch */
	struct buf valid, normed, pre;
	uint32_t *sid, *sprev, *snext;
	uint64_t *heap;
	size_t scap;
};

void bpe_ids_release(struct bpe_ids *ids)
{
	free(ids->v);
	ids->v = NULL;
	ids->n = ids->cap = 0;
}

static inline void ids_push(struct bpe_ids *o, uint32_t id)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 256;
		o->v = xrealloc(o->v, o->cap * sizeof *o->v);
	}
	o->v[o->n++] = id;
}

static inline uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33, x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33, x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* ---- vocabulary ---- */

static void vocab_init(struct bpe *b, uint32_t n)
{
	b->nids = n;
	b->off = xcalloc(n + 1, sizeof *b->off);
	b->len = xcalloc(n + 1, sizeof *b->len);
	uint64_t cap = 16;
	while (cap < (uint64_t)n * 2 + 16)
		cap <<= 1;
	b->tab = xcalloc(cap, sizeof *b->tab);
	b->tab_mask = cap - 1;
	for (int i = 0; i < 256; i++)
		b->byte_id[i] = UINT32_MAX;
}

static int64_t vocab_find(const struct bpe *b, const void *s, size_t n)
{
	for (uint64_t h = hash_bytes(s, n) & b->tab_mask;; h = (h + 1) & b->tab_mask) {
		uint32_t v = b->tab[h];
		if (!v)
			return -1;
		v--;
		if (b->len[v] == n && !memcmp(b->arena.p + b->off[v], s, n))
			return v;
	}
}

/* Sets id's bytes; returns -1 if the id is taken or the bytes are already another id's. */
static int vocab_set(struct bpe *b, uint32_t id, const void *s, size_t n)
{
	if (id >= b->nids || b->len[id] || b->off[id])
		return -1;
	if (vocab_find(b, s, n) >= 0)
		return -1;
	buf_putc(&b->arena, 0); /* so a set id never has offset 0 */
	b->off[id] = b->arena.len;
	buf_append(&b->arena, s, n);
	b->len[id] = (uint32_t)n;
	uint64_t h = hash_bytes(s, n) & b->tab_mask;
	while (b->tab[h])
		h = (h + 1) & b->tab_mask;
	b->tab[h] = id + 1;
	if (n == 1)
		b->byte_id[*(const unsigned char *)s] = id;
	return 0;
}

static void pairs_init(struct bpe *b, size_t n)
{
	uint64_t cap = 16;
	while (cap < n * 2 + 16)
		cap <<= 1;
	b->pkey = xmalloc(cap * sizeof *b->pkey);
	memset(b->pkey, 0xff, cap * sizeof *b->pkey);
	b->prank = xmalloc(cap * sizeof *b->prank);
	b->pnew = xmalloc(cap * sizeof *b->pnew);
	b->pmask = cap - 1;
}

/* A later merge of the same pair replaces an earlier one, as HF's map collect does. */
static void pairs_set(struct bpe *b, uint32_t l, uint32_t r, uint32_t rank, uint32_t id)
{
	uint64_t k = (uint64_t)l << 32 | r;
	uint64_t h = hash_u64(k) & b->pmask;
	while (b->pkey[h] != UINT64_MAX && b->pkey[h] != k)
		h = (h + 1) & b->pmask;
	b->pkey[h] = k;
	b->prank[h] = rank;
	b->pnew[h] = id;
}

static inline int pairs_get(const struct bpe *b, uint32_t l, uint32_t r, uint32_t *rank,
			    uint32_t *id)
{
	uint64_t k = (uint64_t)l << 32 | r;
	for (uint64_t h = hash_u64(k) & b->pmask;; h = (h + 1) & b->pmask) {
		if (b->pkey[h] == k) {
			*rank = b->prank[h];
			*id = b->pnew[h];
			return 1;
		}
		if (b->pkey[h] == UINT64_MAX)
			return 0;
	}
}

/* ---- regex ---- */

static int split_add(struct bpe *b, const char *pattern, bool keep_gaps)
{
	if (b->nsplits == MAX_SPLITS) {
		err_set("%s: more than %d split patterns", b->name, MAX_SPLITS);
		return -1;
	}
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				       PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		err_set("%s: split pattern at offset %zu: %s", b->name, (size_t)eo, (char *)msg);
		return -1;
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if absent */
	b->splits[b->nsplits].re = re;
	b->splits[b->nsplits++].keep_gaps = keep_gaps;
	return 0;
}

/* ---- tiktoken files ---- */

/* Decodes standard base64 (with padding) into out; -1 if malformed. */
static int b64_decode(const char *s, size_t n, struct buf *out)
{
	buf_reset(out);
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			v[k] = s[i + k] == '=' && i + 4 == n && k >= 2 ? (pad++, 0) : b64_digit(s[i + k], 0);
			if (v[k] < 0 || (pad && s[i + k] != '='))
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		char o[3] = {(char)(w >> 16), (char)(w >> 8), (char)w};
		buf_append(out, o, (size_t)(3 - pad));
	}
	buf_putc(out, 0);
	out->len--;
	return 0;
}

static const struct encoding *encoding_for(const char *name, const char *want)
{
	for (size_t i = 0; i < ARRAY_LEN(encodings); i++) {
		if (want && *want ? !strcmp(want, encodings[i].name)
				  : strstr(name, encodings[i].name) != NULL)
			return &encodings[i];
	}
	return NULL;
}

/* Every split of a token into two tokens is a merge of rank = the token's rank: this is
 * exactly tiktoken's rule (merge the adjacent pair whose concatenation ranks lowest). */
static void tiktoken_pairs(struct bpe *b, uint32_t nranks)
{
	size_t npairs = 0;
	for (uint32_t id = 0; id < nranks; id++)
		npairs += b->len[id] > 1 ? b->len[id] - 1 : 0;
	pairs_init(b, npairs);
	for (uint32_t id = 0; id < nranks; id++) {
		const char *s = b->arena.p + b->off[id];
		for (uint32_t k = 1; k < b->len[id]; k++) {
			int64_t l = vocab_find(b, s, k), r = vocab_find(b, s + k, b->len[id] - k);
			if (l >= 0 && r >= 0)
				pairs_set(b, (uint32_t)l, (uint32_t)r, id, id);
		}
	}
}

static int load_tiktoken(struct bpe *b, const char *data, size_t len, const char *encoding)
{
	const struct encoding *enc = encoding_for(b->name, encoding);
	if (!enc && encoding && *encoding) {
		err_set("%s: unknown tiktoken encoding '%s' (choose one of cl100k_base, o200k_base, "
			"p50k_base, r50k_base)", b->name, encoding);
		return -1;
	}
	if (!enc) {
		err_set("%s: the file name does not say which tiktoken encoding this is: name the "
			"file after it (cl100k_base.tiktoken, ...) or give it with tokenize.encoding "
			"(or -e): cl100k_base, o200k_base, p50k_base or r50k_base", b->name);
		return -1;
	}
	uint32_t maxid = 0, lines = 0, ranks = 0;
	for (size_t i = 0; i < len; i++)
		lines += data[i] == '\n';
	lines++;
	uint32_t cap = lines;
	for (const struct special *sp = enc->sp; sp->text; sp++)
		cap = sp->id + 1 > cap ? sp->id + 1 : cap;
	vocab_init(b, cap);
	struct buf tok = BUF_INIT;
	size_t pos = 0, lineno = 0;
	while (pos < len) {
		const char *line = data + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + 1;
		lineno++;
		if (n && line[n - 1] == '\r')
			n--;
		if (!n)
			continue;
		const char *sp = memchr(line, ' ', n);
		char *end;
		unsigned long rank = sp ? strtoul(sp + 1, &end, 10) : 0;
		if (!sp || end != line + n || sp + 1 == end || rank >= cap ||
		    b64_decode(line, (size_t)(sp - line), &tok) < 0 || !tok.len ||
		    vocab_set(b, (uint32_t)rank, tok.p, tok.len) < 0) {
			err_set("%s:%zu: expected 'BASE64 RANK' with a new token and rank", b->name,
				lineno);
			buf_release(&tok);
			return -1;
		}
		maxid = (uint32_t)rank > maxid ? (uint32_t)rank : maxid;
		ranks++;
	}
	buf_release(&tok);
	if (!ranks) {
		err_set("%s: no 'BASE64 RANK' lines: an empty rank file", b->name);
		return -1;
	}
	tiktoken_pairs(b, maxid + 1);
	for (const struct special *sp = enc->sp; sp->text; sp++) {
		if (vocab_set(b, sp->id, sp->text, strlen(sp->text)) < 0) {
			err_set("%s: special token %s (id %u) collides with the ranks", b->name,
				sp->text, sp->id);
			return -1;
		}
	}
	b->tiktoken = b->ignore_merges = true;
	return split_add(b, enc->pattern, false);
}

/* ---- tokenizer.json ---- */

/* GPT-2's byte-to-unicode map, inverted: code point -> byte, -1 for others. */
static void byte_level_inverse(int inv[324])
{
	for (int i = 0; i < 324; i++)
		inv[i] = -1;
	int extra = 0;
	for (int c = 0; c < 256; c++) {
		int kept = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174;
		inv[kept ? c : 256 + extra++] = c;
	}
}

/* A byte-level token string to raw bytes; -1 if a character is outside the map. */
static int unbyte(const int inv[324], const char *s, size_t n, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < n;) {
		int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
						      (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0 || cp >= 324 || inv[cp] < 0)
			return -1;
		buf_putc(out, (char)inv[cp]);
		i += (size_t)k;
	}
	return 0;
}

static int load_normalizer(struct bpe *b, json_t *n)
{
	if (!n || json_is_null(n))
		return 0;
	const char *t = json_string_value(json_object_get(n, "type"));
	if (t && !strcmp(t, "Sequence")) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(n, "normalizers"), i, e)
			if (load_normalizer(b, e) < 0)
				return -1;
		return 0;
	}
	int opt = !t ? -1 : !strcmp(t, "NFC") ? UTF8PROC_COMPOSE
		  : !strcmp(t, "NFD")	      ? UTF8PROC_DECOMPOSE
		  : !strcmp(t, "NFKC")	      ? UTF8PROC_COMPOSE | UTF8PROC_COMPAT
		  : !strcmp(t, "NFKD")	      ? UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT
					      : -1;
	if (opt < 0 || b->norm) {
		err_set("%s: normalizer %s is not supported (NFC, NFD, NFKC or NFKD, one of them)",
			b->name, t ? t : "(no type)");
		return -1;
	}
	b->norm = opt | UTF8PROC_STABLE;
	return 0;
}

static int load_pretok(struct bpe *b, json_t *p, bool *byte_level)
{
	const char *t = json_string_value(json_object_get(p, "type"));
	if (t && !strcmp(t, "Sequence")) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(p, "pretokenizers"), i, e)
			if (load_pretok(b, e, byte_level) < 0)
				return -1;
		return 0;
	}
	if (t && !strcmp(t, "Split")) {
		json_t *pat = json_object_get(p, "pattern");
		const char *re = json_string_value(json_object_get(pat, "Regex"));
		const char *beh = json_string_value(json_object_get(p, "behavior"));
		if (!re || !beh || strcmp(beh, "Isolated") || json_is_true(json_object_get(p, "invert"))) {
			err_set("%s: only Split with a Regex pattern, behavior Isolated, not "
				"inverted is supported", b->name);
			return -1;
		}
		if (*byte_level) {
			err_set("%s: a Split after ByteLevel is not supported", b->name);
			return -1;
		}
		return split_add(b, re, true);
	}
	if (t && !strcmp(t, "ByteLevel")) {
		*byte_level = true;
		b->bl_level = b->nsplits;
		b->prefix_space = json_is_true(json_object_get(p, "add_prefix_space"));
		json_t *ur = json_object_get(p, "use_regex");
		if (!ur || json_is_true(ur))
			return split_add(b, PAT_GPT2, true);
		return 0;
	}
	err_set("%s: pre-tokenizer %s is not supported (Split, ByteLevel, Sequence)", b->name,
		t ? t : "(no type)");
	return -1;
}

static int load_vocab(struct bpe *b, json_t *model, json_t *added, const int inv[324])
{
	json_t *vocab = json_object_get(model, "vocab");
	if (!json_is_object(vocab)) {
		err_set("%s: model.vocab is not an object", b->name);
		return -1;
	}
	uint32_t cap = 0;
	const char *k;
	json_t *v;
	json_object_foreach(vocab, k, v) {
		json_int_t id = json_integer_value(v);
		if (!json_is_integer(v) || id < 0 || id >= INT32_MAX) {
			err_set("%s: model.vocab[\"%s\"]: id is not an integer in range", b->name, k);
			return -1;
		}
		cap = (uint32_t)id + 1 > cap ? (uint32_t)id + 1 : cap;
	}
	size_t i;
	json_array_foreach(added, i, v) {
		json_int_t id = json_integer_value(json_object_get(v, "id"));
		if (id >= 0 && id < INT32_MAX)
			cap = (uint32_t)id + 1 > cap ? (uint32_t)id + 1 : cap;
	}
	vocab_init(b, cap);
	struct buf raw = BUF_INIT;
	int rc = 0;
	json_object_foreach(vocab, k, v) {
		if (unbyte(inv, k, strlen(k), &raw) < 0 || !raw.len ||
		    vocab_set(b, (uint32_t)json_integer_value(v), raw.p, raw.len) < 0) {
			err_set("%s: model.vocab[\"%s\"]: not a byte-level token, or a duplicate",
				b->name, k);
			rc = -1;
			break;
		}
	}
	buf_release(&raw);
	return rc;
}

static int load_merges(struct bpe *b, json_t *merges, const int inv[324])
{
	if (!json_is_array(merges)) {
		err_set("%s: model.merges is not an array", b->name);
		return -1;
	}
	pairs_init(b, json_array_size(merges));
	struct buf l = BUF_INIT, r = BUF_INIT, both = BUF_INIT;
	size_t i;
	json_t *m;
	int rc = 0;
	json_array_foreach(merges, i, m) {
		const char *a = NULL, *c = NULL;
		size_t al = 0, cl = 0;
		if (json_is_string(m)) {
			const char *s = json_string_value(m), *sp = strchr(s, ' ');
			if (sp)
				a = s, al = (size_t)(sp - s), c = sp + 1, cl = strlen(sp + 1);
		} else if (json_is_array(m) && json_array_size(m) == 2) {
			a = json_string_value(json_array_get(m, 0));
			c = json_string_value(json_array_get(m, 1));
			al = a ? strlen(a) : 0, cl = c ? strlen(c) : 0;
		}
		int64_t li = -1, ri = -1, ni = -1;
		if (a && c && !unbyte(inv, a, al, &l) && !unbyte(inv, c, cl, &r)) {
			li = vocab_find(b, l.p, l.len), ri = vocab_find(b, r.p, r.len);
			buf_set(&both, l.p, l.len);
			buf_append(&both, r.p, r.len);
			ni = vocab_find(b, both.p, both.len);
		}
		if (li < 0 || ri < 0 || ni < 0) {
			err_set("%s: model.merges[%zu]: not two tokens whose join is in the vocab",
				b->name, i);
			rc = -1;
			break;
		}
		pairs_set(b, (uint32_t)li, (uint32_t)ri, (uint32_t)i, (uint32_t)ni);
	}
	buf_release(&l), buf_release(&r), buf_release(&both);
	return rc;
}

static int cmp_added(const void *x, const void *y)
{
	const struct added *a = x, *c = y;
	return a->len != c->len ? (a->len < c->len ? 1 : -1) : (a->id > c->id) - (a->id < c->id);
}

static int load_added(struct bpe *b, json_t *added)
{
	size_t i;
	json_t *v;
	b->added = xcalloc(json_array_size(added) + 1, sizeof *b->added);
	json_array_foreach(added, i, v) {
		const char *s = json_string_value(json_object_get(v, "content"));
		json_t *id = json_object_get(v, "id");
		if (!s || !*s || !json_is_integer(id) || json_integer_value(id) < 0) {
			err_set("%s: added_tokens[%zu]: needs a content string and an id", b->name, i);
			return -1;
		}
		if (json_is_true(json_object_get(v, "lstrip")) ||
		    json_is_true(json_object_get(v, "rstrip")) ||
		    json_is_true(json_object_get(v, "single_word")) ||
		    json_is_true(json_object_get(v, "normalized"))) {
			err_set("%s: added_tokens[%zu] (%s): lstrip, rstrip, single_word and "
				"normalized are not supported", b->name, i, s);
			return -1;
		}
		uint32_t n = (uint32_t)json_integer_value(id);
		int64_t have = vocab_find(b, s, strlen(s));
		if (have >= 0 && have != n) {
			err_set("%s: added_tokens[%zu] (%s): id %u but the vocab has %lld", b->name, i,
				s, n, (long long)have);
			return -1;
		}
		if (have < 0 && vocab_set(b, n, s, strlen(s)) < 0) {
			err_set("%s: added_tokens[%zu] (%s): id %u is taken", b->name, i, s, n);
			return -1;
		}
		b->added[b->nadded++] = (struct added){xstrdup(s), strlen(s), n};
		b->added_first[(unsigned char)s[0]] = 1;
	}
	/* longest first: HF matches added tokens leftmost-longest */
	qsort(b->added, b->nadded, sizeof *b->added, cmp_added);
	return 0;
}

static int load_json_tok(struct bpe *b, const char *data, size_t len)
{
	json_error_t je;
	json_t *root = json_loadb(data, len, 0, &je);
	if (!root) {
		err_set("%s:%d:%d: %s", b->name, je.line, je.column, je.text);
		return -1;
	}
	int rc = -1, inv[324];
	byte_level_inverse(inv);
	bool byte_level = false;
	json_t *model = json_object_get(root, "model"), *added = json_object_get(root, "added_tokens");
	const char *type = json_string_value(json_object_get(model, "type"));
	if (!json_is_object(model) || (type && strcmp(type, "BPE"))) {
		err_set("%s: model is not a BPE model", b->name);
		goto out;
	}
	if (json_is_true(json_object_get(model, "byte_fallback")) ||
	    (json_is_string(json_object_get(model, "continuing_subword_prefix")) &&
	     *json_string_value(json_object_get(model, "continuing_subword_prefix"))) ||
	    (json_is_string(json_object_get(model, "end_of_word_suffix")) &&
	     *json_string_value(json_object_get(model, "end_of_word_suffix")))) {
		err_set("%s: byte_fallback and subword prefixes/suffixes are not byte-level BPE",
			b->name);
		goto out;
	}
	b->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
	if (load_vocab(b, model, added, inv) < 0 || load_merges(b, json_object_get(model, "merges"), inv) < 0 ||
	    load_added(b, added) < 0 || load_normalizer(b, json_object_get(root, "normalizer")) < 0)
		goto out;
	json_t *pre = json_object_get(root, "pre_tokenizer");
	if (!json_is_object(pre) || load_pretok(b, pre, &byte_level) < 0) {
		if (!json_is_object(pre))
			err_set("%s: no pre_tokenizer: not a byte-level BPE", b->name);
		goto out;
	}
	if (!byte_level) {
		err_set("%s: no ByteLevel pre-tokenizer: not a byte-level BPE", b->name);
		goto out;
	}
	for (int c = 0; c < 256; c++) {
		if (b->byte_id[c] == UINT32_MAX) {
			err_set("%s: the vocab lacks the single byte 0x%02x", b->name, c);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

struct bpe *bpe_load_mem(const char *data, size_t len, const char *name, const char *encoding)
{
	struct bpe *b = xcalloc(1, sizeof *b);
	b->name = xstrdup(name);
	size_t i = 0;
	while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r'))
		i++;
	int rc = i < len && data[i] == '{' ? load_json_tok(b, data, len)
					   : load_tiktoken(b, data, len, encoding);
	if (rc < 0) {
		bpe_free(b);
		return NULL;
	}
	if (b->tiktoken) {
		for (int c = 0; c < 256; c++) {
			if (b->byte_id[c] == UINT32_MAX) {
				err_set("%s: the ranks lack the single byte 0x%02x", name, c);
				bpe_free(b);
				return NULL;
			}
		}
	}
	b->md = pcre2_match_data_create(1, NULL);
	b->cache = xcalloc(CACHE_SLOTS, sizeof *b->cache);
	return b;
}

struct bpe *bpe_load(const char *path, const char *encoding)
{
	struct buf data = BUF_INIT;
	if (read_file(path, &data) < 0)
		return NULL;
	struct bpe *b = bpe_load_mem(data.p ? data.p : "", data.len, path, encoding);
	buf_release(&data);
	return b;
}

void bpe_free(struct bpe *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->nsplits; i++)
		pcre2_code_free(b->splits[i].re);
	pcre2_match_data_free(b->md);
	for (size_t i = 0; i < b->nadded; i++)
		free(b->added[i].text);
	free(b->added);
	free(b->off), free(b->len), free(b->tab);
	free(b->pkey), free(b->prank), free(b->pnew);
	buf_release(&b->arena);
	buf_release(&b->valid), buf_release(&b->normed), buf_release(&b->pre);
	free(b->sid), free(b->sprev), free(b->snext), free(b->heap);
	free(b->cache);
	free(b->name);
	free(b);
}

/* ---- encoding ---- */

static inline void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
	size_t i = (*n)++;
	while (i && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static inline uint64_t heap_pop(uint64_t *h, size_t *n)
{
	uint64_t top = h[0], v = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
	return top;
}

static void scratch_reserve(struct bpe *b, size_t n)
{
	if (n <= b->scap)
		return;
	b->scap = n * 2;
	b->sid = xrealloc(b->sid, b->scap * sizeof *b->sid);
	b->sprev = xrealloc(b->sprev, b->scap * sizeof *b->sprev);
	b->snext = xrealloc(b->snext, b->scap * sizeof *b->snext);
	b->heap = xrealloc(b->heap, b->scap * 2 * sizeof *b->heap);
}

static inline void push_pair(struct bpe *b, size_t *nh, uint32_t pos)
{
	uint32_t rank, id, nx = b->snext[pos];
	if (nx != UINT32_MAX && pairs_get(b, b->sid[pos], b->sid[nx], &rank, &id))
		heap_push(b->heap, nh, (uint64_t)rank << 32 | pos);
}

/* Merges the bytes of one piece: lowest rank first, leftmost on ties (HF's heap order and
 * tiktoken's scan pick the same pair). Symbols are a linked list over byte positions. */
static void merge_word(struct bpe *b, const unsigned char *s, size_t n, struct bpe_ids *out)
{
	scratch_reserve(b, n);
	size_t nh = 0;
	for (size_t i = 0; i < n; i++) {
		b->sid[i] = b->byte_id[s[i]];
		b->sprev[i] = i ? (uint32_t)i - 1 : UINT32_MAX;
		b->snext[i] = i + 1 < n ? (uint32_t)i + 1 : UINT32_MAX;
	}
	for (size_t i = 0; i + 1 < n; i++)
		push_pair(b, &nh, (uint32_t)i);
	while (nh) {
		uint64_t top = heap_pop(b->heap, &nh);
		uint32_t pos = (uint32_t)top, rank = (uint32_t)(top >> 32), r2, id;
		uint32_t nx = b->snext[pos];
		/* stale entries: the symbol died, or its pair is not this merge any more */
		if (b->sid[pos] == UINT32_MAX || nx == UINT32_MAX ||
		    !pairs_get(b, b->sid[pos], b->sid[nx], &r2, &id) || r2 != rank)
			continue;
		b->sid[pos] = id;
		b->sid[nx] = UINT32_MAX;
		uint32_t nn = b->snext[nx];
		b->snext[pos] = nn;
		if (nn != UINT32_MAX)
			b->sprev[nn] = pos;
		if (b->sprev[pos] != UINT32_MAX)
			push_pair(b, &nh, b->sprev[pos]);
		push_pair(b, &nh, pos);
	}
	for (uint32_t i = 0; i != UINT32_MAX; i = b->snext[i])
		ids_push(out, b->sid[i]);
}

static void encode_piece(struct bpe *b, const char *s, size_t n, struct bpe_ids *out)
{
	if (!n)
		return;
	if (n == 1) {
		ids_push(out, b->byte_id[(unsigned char)s[0]]);
		return;
	}
	struct cache_slot *c = NULL;
	if (n <= CACHE_BYTES) {
		c = &b->cache[hash_bytes(s, n) & (CACHE_SLOTS - 1)];
		if (c->len == n && !memcmp(c->bytes, s, n)) {
			for (int i = 0; i < c->nids; i++)
				ids_push(out, c->ids[i]);
			return;
		}
	}
	size_t start = out->n;
	int64_t whole = b->ignore_merges ? vocab_find(b, s, n) : -1;
	if (whole >= 0)
		ids_push(out, (uint32_t)whole);
	else
		merge_word(b, (const unsigned char *)s, n, out);
	if (c && out->n - start <= CACHE_IDS) {
		c->len = (uint8_t)n;
		c->nids = (uint8_t)(out->n - start);
		memcpy(c->bytes, s, n);
		memcpy(c->ids, out->v + start, c->nids * sizeof *c->ids);
	}
}

static void split_level(struct bpe *b, int level, const char *s, size_t n, struct bpe_ids *out)
{
	if (level == b->bl_level && b->prefix_space && n && s[0] != ' ') {
		/* HF ByteLevel(add_prefix_space) prepends a space to each piece it is given,
		 * before its own regex (if any) splits it */
		buf_set(&b->pre, " ", 1);
		buf_append(&b->pre, s, n);
		s = b->pre.p, n = b->pre.len;
	}
	if (b->stop_at && out->n >= b->stop_at)
		return;
	if (level == b->nsplits) {
		if (b->stop_at) {
			/* a truncating caller needs at most `room` ids: a piece longer than 64
			 * bytes per id (a megabyte of one letter) is cut at a character, as no
			 * token of a vocabulary here is that long on average */
			size_t room = b->stop_at - out->n, cap = room > 64 ? room * 64 : 4096;
			if (n > cap) {
				n = cap;
				while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
					n--;
			}
		}
		b->merged_bytes += n;
		encode_piece(b, s, n, out);
		return;
	}
	const struct split *sp = &b->splits[level];
	size_t pos = 0;
	while (pos < n) {
		int rc = pcre2_jit_match(sp->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, b->md,
					 NULL);
		if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) /* no JIT, or its stack ran out */
			rc = pcre2_match(sp->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, b->md,
					 NULL);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) { /* a resource limit: keep the text as one piece, never drop it */
			split_level(b, level + 1, s + pos, n - pos, out);
			return;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(b->md);
		size_t ms = ov[0], me = ov[1];
		if (me == ms) { /* empty match: step one character */
			size_t k = ms + 1;
			while (k < n && ((unsigned char)s[k] & 0xc0) == 0x80)
				k++;
			if (sp->keep_gaps && k > pos)
				split_level(b, level + 1, s + pos, k - pos, out);
			pos = k;
			continue;
		}
		if (sp->keep_gaps && ms > pos)
			split_level(b, level + 1, s + pos, ms - pos, out);
		split_level(b, level + 1, s + ms, me - ms, out);
		pos = me;
	}
	if (sp->keep_gaps && pos < n)
		split_level(b, level + 1, s + pos, n - pos, out);
}

/* One stretch of text between added tokens: normalize, split, merge. */
static void encode_segment(struct bpe *b, const char *s, size_t n, struct bpe_ids *out)
{
	if (b->norm) {
		size_t i = 0;
		while (i < n && (unsigned char)s[i] < 0xcc) /* below U+0300 nothing changes */
			i++;
		if (i < n) {
			utf8proc_uint8_t *o = NULL;
			utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)s,
							  (utf8proc_ssize_t)n, &o, b->norm);
			if (k >= 0) {
				buf_set(&b->normed, o, (size_t)k);
				free(o);
				s = b->normed.p, n = b->normed.len;
			}
		}
	}
	split_level(b, 0, s, n, out);
}

int bpe_encode(struct bpe *b, const char *text, size_t len, struct bpe_ids *out)
{
	if (utf8_invalid_count(text, len)) {
		buf_reset(&b->valid);
		utf8_repair(&b->valid, text, len);
		text = b->valid.p, len = b->valid.len;
	}
	size_t seg = 0;
	for (size_t i = 0; b->nadded && i < len; i++) {
		if (b->stop_at && out->n >= b->stop_at)
			return 0;
		if (!b->added_first[(unsigned char)text[i]])
			continue;
		for (size_t k = 0; k < b->nadded; k++) {
			const struct added *a = &b->added[k];
			if (a->len <= len - i && !memcmp(text + i, a->text, a->len)) {
				encode_segment(b, text + seg, i - seg, out);
				ids_push(out, a->id);
				i += a->len - 1;
				seg = i + 1;
				break;
			}
		}
	}
	encode_segment(b, text + seg, len - seg, out);
	return 0;
}

int bpe_encode_max(struct bpe *b, const char *text, size_t len, size_t max,
		   struct bpe_ids *out)
{
	size_t start = out->n;
	if (!max)
		return 0;
	b->stop_at = start + max;
	bpe_encode(b, text, len, out);
	b->stop_at = 0;
	if (out->n > start + max)
		out->n = start + max;
	return 0;
}

uint64_t bpe_merged_bytes(const struct bpe *b) { return b->merged_bytes; }

int bpe_decode(const struct bpe *b, const uint32_t *ids, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] >= b->nids || !b->off[ids[i]]) {
			err_set("token id %u at position %zu is not in the vocabulary of %s", ids[i], i,
				b->name);
			return -1;
		}
		buf_append(out, b->arena.p + b->off[ids[i]], b->len[ids[i]]);
	}
	return 0;
}

int64_t bpe_token_id(const struct bpe *b, const char *token)
{
	return vocab_find(b, token, strlen(token));
}

uint32_t bpe_vocab_size(const struct bpe *b) { return b->nids; }
