/* test_bpe: the BPE tokenizer (bpe.c) against a naive reference merge written here (lowest
 * rank, leftmost, one step at a time) on random merge tables and strings, the loaders'
 * handling of tokenizer.json features (ignore_merges, added tokens, NFC, invalid UTF-8) and
 * of .tiktoken files, their errors, and Megatron .bin/.idx files written and read back
 * byte for byte (megatron.c). Parity with the real references is tests/parity/. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "megatron.h"
#include "util.h"

static char tmpdir[PATH_MAX];

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/curate-test-bpe-XXXXXX", base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) { return remove_tree(tmpdir); }

/* GPT-2's byte-to-unicode map: the string a tokenizer.json uses for byte c. */
static void byte_char(int c, char out[4])
{
	int n = 0, cp = c;
	if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174)) {
		for (int k = 0; k < c; k++)
			n += !((k >= 33 && k <= 126) || (k >= 161 && k <= 172) || k >= 174);
		cp = 256 + n;
	}
	if (cp < 0x80) {
		out[0] = (char)cp, out[1] = 0;
	} else {
		out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), out[2] = 0;
	}
}

/* A test vocabulary: the 256 bytes, then tokens made by merges over the letters a, b, c. */
struct model {
	char tok[600][64];
	int ntok;
	int rank[600][600]; /* merge rank of (left, right), -1 for none */
	int made[600][600];
	int nmerges;
};

static void model_build(struct model *m, unsigned seed, int nmerges)
{
	memset(m, 0, sizeof *m);
	memset(m->rank, 0xff, sizeof m->rank);
	for (int c = 0; c < 256; c++)
		m->tok[c][0] = (char)c, m->tok[c][1] = 0;
	m->tok[0][0] = 0;
	m->ntok = 256;
	srand(seed);
	while (m->nmerges < nmerges) {
		/* letters and tokens made of letters only */
		int pool[600], np = 0;
		for (int i = 'a'; i <= 'c'; i++)
			pool[np++] = i;
		for (int i = 256; i < m->ntok; i++)
			pool[np++] = i;
		int l = pool[rand() % np], r = pool[rand() % np];
		if (strlen(m->tok[l]) + strlen(m->tok[r]) > 12 || m->rank[l][r] >= 0)
			continue;
		char joined[64];
		snprintf(joined, sizeof joined, "%s%s", m->tok[l], m->tok[r]);
		int exists = -1;
		for (int i = 256; i < m->ntok; i++)
			if (!strcmp(m->tok[i], joined))
				exists = i;
		int id = exists >= 0 ? exists : m->ntok++;
		strcpy(m->tok[id], joined);
		m->rank[l][r] = m->nmerges++;
		m->made[l][r] = id;
	}
}

static char *model_json(const struct model *m, int ignore_merges, const char *extra_pre)
{
	json_t *vocab = json_object(), *merges = json_array();
	for (int i = 0; i < m->ntok; i++) {
		char s[256] = "", ch[4];
		if (i < 256) {
			byte_char(i, ch);
			strcpy(s, ch);
		} else {
			strcpy(s, m->tok[i]); /* letters map to themselves */
		}
		json_object_set_new(vocab, s, json_integer(i));
	}
	for (int r = 0; r < m->nmerges; r++)
		for (int a = 0; a < m->ntok; a++)
			for (int b = 0; b < m->ntok; b++)
				if (m->rank[a][b] == r) {
					char s[160];
					snprintf(s, sizeof s, "%s %s", m->tok[a], m->tok[b]);
					json_array_append_new(merges, json_string(s));
				}
	json_t *pre = json_pack("{s:s,s:b,s:b}", "type", "ByteLevel", "add_prefix_space", 0,
				"use_regex", 0);
	json_t *root = json_pack("{s:{s:s,s:o,s:o,s:b},s:o,s:[]}", "model", "type", "BPE", "vocab",
				 vocab, "merges", merges, "ignore_merges", ignore_merges,
				 "pre_tokenizer", pre, "added_tokens");
	if (extra_pre)
		json_object_set_new(root, "normalizer", json_pack("{s:s}", "type", extra_pre));
	char *s = json_dumps(root, 0);
	json_decref(root);
	return s;
}

/* The naive reference: merge the lowest-ranked adjacent pair, leftmost first, until none. */
static size_t naive(const struct model *m, const char *s, size_t n, uint32_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)s[i];
	for (;;) {
		int best = INT_MAX;
		size_t at = 0;
		for (size_t i = 0; i + 1 < n; i++) {
			int r = out[i] < 600 && out[i + 1] < 600 ? m->rank[out[i]][out[i + 1]] : -1;
			if (r >= 0 && r < best)
				best = r, at = i;
		}
		if (best == INT_MAX)
			return n;
		out[at] = (uint32_t)m->made[out[at]][out[at + 1]];
		memmove(out + at + 1, out + at + 2, (n - at - 2) * sizeof *out);
		n--;
	}
}

static struct bpe *load_str(const char *s, const char *name, const char *enc)
{
	struct bpe *b = bpe_load_mem(s, strlen(s), name, enc);
	if (!b)
		fprintf(stderr, "load: %s\n", err_get());
	return b;
}

static void test_merges_match_naive(void **state)
{
	static struct model m;
	for (unsigned seed = 1; seed <= 4; seed++) {
		model_build(&m, seed, 200);
		char *js = model_json(&m, 0, NULL);
		struct bpe *b = load_str(js, "t.json", NULL);
		assert_non_null(b);
		struct bpe_ids ids = {0};
		uint32_t ref[3000];
		char text[3000];
		for (int round = 0; round < 200; round++) {
			size_t n = round < 190 ? (size_t)(rand() % 60) : 2999;
			for (size_t i = 0; i < n; i++)
				text[i] = (char)("abc"[rand() % 3]);
			ids.n = 0;
			bpe_encode(b, text, n, &ids);
			size_t rn = naive(&m, text, n, ref);
			assert_int_equal(ids.n, rn);
			assert_memory_equal(ids.v, ref, rn * sizeof *ref);
		}
		bpe_ids_release(&ids);
		bpe_free(b);
		free(js);
	}
}

static void test_ignore_merges_and_long_runs(void **state)
{
	static struct model m;
	model_build(&m, 9, 40);
	/* a token that no merge makes: only ignore_merges emits it whole */
	strcpy(m.tok[m.ntok], "cbacba");
	int whole = m.ntok++;
	for (int ig = 0; ig <= 1; ig++) {
		char *js = model_json(&m, ig, NULL);
		struct bpe *b = load_str(js, "t.json", NULL);
		assert_non_null(b);
		struct bpe_ids ids = {0};
		bpe_encode(b, "cbacba", 6, &ids);
		if (ig)
			assert_true(ids.n == 1 && ids.v[0] == (uint32_t)whole);
		else
			assert_true(ids.n >= 1 && ids.v[0] != (uint32_t)whole);
		/* a megabyte of one letter with no split: the heap merge stays fast and exact */
		size_t n = 1 << 20;
		char *run = xmalloc(n);
		memset(run, 'a', n);
		ids.n = 0;
		bpe_encode(b, run, n, &ids);
		struct buf back = BUF_INIT;
		assert_int_equal(bpe_decode(b, ids.v, ids.n, &back), 0);
		assert_int_equal(back.len, n);
		assert_memory_equal(back.p, run, n);
		buf_release(&back);
		free(run);
		bpe_ids_release(&ids);
		bpe_free(b);
		free(js);
	}
}

static void test_added_nfc_invalid(void **state)
{
	static struct model m;
	model_build(&m, 3, 10);
	char *js = model_json(&m, 0, "NFC");
	json_t *root = json_loads(js, 0, NULL);
	json_t *added = json_object_get(root, "added_tokens");
	json_array_append_new(added, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", 1000, "content",
					       "<s>", "single_word", 0, "lstrip", 0, "rstrip", 0,
					       "normalized", 0, "special", 1));
	json_array_append_new(added, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", 1001, "content",
					       "<s>x", "single_word", 0, "lstrip", 0, "rstrip", 0,
					       "normalized", 0, "special", 1));
	char *js2 = json_dumps(root, 0);
	struct bpe *b = load_str(js2, "t.json", NULL);
	assert_non_null(b);
	assert_int_equal(bpe_token_id(b, "<s>x"), 1001);
	assert_int_equal(bpe_vocab_size(b), 1002);
	struct bpe_ids ids = {0};
	/* leftmost-longest added tokens split the text first */
	bpe_encode(b, "<s>x<s>", 7, &ids);
	assert_int_equal(ids.n, 2);
	assert_int_equal(ids.v[0], 1001);
	assert_int_equal(ids.v[1], 1000);
	/* NFC: e + combining acute is é (C3 A9) */
	ids.n = 0;
	bpe_encode(b, "e\xcc\x81", 3, &ids);
	assert_int_equal(ids.n, 2);
	assert_true(ids.v[0] == 0xc3 && ids.v[1] == 0xa9);
	/* invalid UTF-8: each maximal subpart becomes U+FFFD (EF BF BD) */
	ids.n = 0;
	bpe_encode(b, "\xff\xe2\x82", 3, &ids);
	assert_int_equal(ids.n, 6);
	assert_true(ids.v[0] == 0xef && ids.v[1] == 0xbf && ids.v[2] == 0xbd && ids.v[3] == 0xef);
	/* decoding an id outside the vocabulary is an error that names it */
	uint32_t badid = 5000;
	struct buf out = BUF_INIT;
	assert_int_equal(bpe_decode(b, &badid, 1, &out), -1);
	assert_non_null(strstr(err_get(), "5000"));
	buf_release(&out);
	bpe_ids_release(&ids);
	bpe_free(b);
	json_decref(root);
	free(js), free(js2);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64(const unsigned char *s, size_t n, struct buf *o)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		buf_putc(o, B64[w >> 18 & 63]);
		buf_putc(o, B64[w >> 12 & 63]);
		buf_putc(o, i + 1 < n ? B64[w >> 6 & 63] : '=');
		buf_putc(o, i + 2 < n ? B64[w & 63] : '=');
	}
}

static void test_tiktoken(void **state)
{
	struct buf f = BUF_INIT;
	for (int c = 0; c < 256; c++) {
		unsigned char ch = (unsigned char)c;
		b64(&ch, 1, &f);
		buf_printf(&f, " %d\n", c);
	}
	const char *extra[] = {"ab", "abc", " a", "cd"};
	for (int i = 0; i < 4; i++) {
		b64((const unsigned char *)extra[i], strlen(extra[i]), &f);
		buf_printf(&f, " %d\n", 256 + i);
	}
	struct bpe *b = load_str(f.p, "mini.tiktoken", "r50k_base");
	assert_non_null(b);
	struct bpe_ids ids = {0};
	bpe_encode(b, "abc abd", 7, &ids);
	/* pieces "abc" (a whole token) and " abd", where "ab" (256) ranks before " a" (258) */
	assert_int_equal(ids.n, 4);
	uint32_t want[] = {257, ' ', 256, 'd'};
	assert_memory_equal(ids.v, want, sizeof want);
	bpe_ids_release(&ids);
	assert_int_equal(bpe_token_id(b, "<|endoftext|>"), 50256);
	assert_int_equal(bpe_vocab_size(b), 50257);
	bpe_free(b);
	/* no encoding given and none in the name: the error says which to choose */
	assert_null(bpe_load_mem(f.p, f.len, "mystery.tiktoken", NULL));
	assert_non_null(strstr(err_get(), "cl100k_base"));
	/* a malformed line is named by its number */
	buf_puts(&f, "!!! 999\n");
	assert_null(bpe_load_mem(f.p, f.len, "x.tiktoken", "cl100k_base"));
	assert_non_null(strstr(err_get(), "x.tiktoken:261:"));
	/* a file without ranks (empty or blank lines) is not a tokenizer of specials alone */
	assert_null(bpe_load_mem("", 0, "empty.tiktoken", "r50k_base"));
	assert_non_null(strstr(err_get(), "empty.tiktoken: no 'BASE64 RANK' lines"));
	assert_null(bpe_load_mem("\n\r\n", 3, "blank.tiktoken", "r50k_base"));
	assert_non_null(strstr(err_get(), "blank.tiktoken: no 'BASE64 RANK' lines"));
	buf_release(&f);
}

static void test_megatron_roundtrip(void **state)
{
	char *prefix = xasprintf("%s/m16", tmpdir);
	struct megatron_writer *w = megatron_writer_open(prefix, megatron_dtype_for_vocab(50000));
	assert_non_null(w);
	uint32_t d0[] = {1, 2, 3}, d2[] = {65535};
	assert_int_equal(megatron_writer_add(w, d0, 3), 0);
	assert_int_equal(megatron_writer_add(w, NULL, 0), 0);
	assert_int_equal(megatron_writer_add(w, d2, 1), 0);
	uint32_t big = 70000;
	assert_int_equal(megatron_writer_add(w, &big, 1), -1); /* does not fit uint16 */
	struct megatron_info info;
	assert_int_equal(megatron_writer_close(w, &info), 0);
	assert_int_equal(info.docs, 3);
	assert_int_equal(info.tokens, 4);
	/* the exact index bytes of Megatron's format */
	struct buf ix = BUF_INIT;
	char *ipath = xasprintf("%s.idx", prefix);
	assert_int_equal(read_file(ipath, &ix), 0);
	assert_int_equal(ix.len, 34 + 3 * 4 + 3 * 8 + 4 * 8);
	assert_memory_equal(ix.p, "MMIDIDX\0\0\1\0\0\0\0\0\0\0\x08\3\0\0\0\0\0\0\0\4\0\0\0\0\0\0\0", 34);
	const unsigned char *p = (const unsigned char *)ix.p + 34;
	assert_true(p[0] == 3 && p[4] == 0 && p[8] == 1);          /* lengths */
	assert_true(p[12] == 0 && p[20] == 6 && p[28] == 6);       /* byte pointers */
	assert_true(p[36] == 0 && p[44] == 1 && p[52] == 2 && p[60] == 3); /* document indices */
	struct megatron_reader *r = megatron_open(prefix);
	assert_non_null(r);
	assert_int_equal(megatron_docs(r), 3);
	assert_int_equal(megatron_tokens(r), 4);
	struct bpe_ids ids = {0};
	assert_int_equal(megatron_read_doc(r, 0, &ids), 0);
	assert_true(ids.n == 3 && ids.v[2] == 3);
	assert_int_equal(megatron_read_doc(r, 2, &ids), 0);
	assert_true(ids.n == 1 && ids.v[0] == 65535);
	assert_int_equal(megatron_read_doc(r, 3, &ids), -1);
	megatron_close(r);
	/* a damaged index is refused with the file named */
	ix.p[0] = 'X';
	assert_int_equal(write_file_atomic(ipath, ix.p, ix.len), 0);
	assert_null(megatron_open(prefix));
	assert_non_null(strstr(err_get(), "m16.idx"));
	ix.p[0] = 'M';
	assert_int_equal(write_file_atomic(ipath, ix.p, ix.len - 8), 0);
	assert_null(megatron_open(prefix));
	/* int32 for a large vocabulary */
	char *p32 = xasprintf("%s/m32", tmpdir);
	w = megatron_writer_open(p32, megatron_dtype_for_vocab(151000));
	assert_int_equal(megatron_writer_add(w, &big, 1), 0);
	assert_int_equal(megatron_writer_close(w, &info), 0);
	r = megatron_open(p32);
	assert_non_null(r);
	assert_int_equal(megatron_dtype(r), MEGATRON_INT32);
	assert_int_equal(megatron_read_doc(r, 0, &ids), 0);
	assert_int_equal(ids.v[0], 70000);
	megatron_close(r);
	bpe_ids_release(&ids);
	buf_release(&ix);
	free(prefix), free(ipath), free(p32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merges_match_naive),
		cmocka_unit_test(test_ignore_merges_and_long_runs),
		cmocka_unit_test(test_added_nfc_invalid),
		cmocka_unit_test(test_tiktoken),
		cmocka_unit_test(test_megatron_roundtrip),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
