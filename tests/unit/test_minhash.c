/* test_minhash: MinHash signatures. The estimate of Jaccard similarity must be close to the
 * exact value on random sets with known overlap, without bias; equal shingle sets must give
 * equal signatures whatever their order, repeats or the text's whitespace; the hash family
 * is pinned by golden values so a change cannot slip by without a stage version bump. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minhash.h"
#include "util.h"

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct minhash *make(unsigned nh, unsigned n, enum minhash_shingle sh, uint64_t seed)
{
	struct minhash_params p = {nh, n, sh, seed};
	struct minhash *m = minhash_new(&p);
	assert_non_null(m);
	return m;
}

/* Sets A and B of random 64-bit elements with |A n B| = common, |A \ B| = |B \ A| = only. */
static double estimate(struct minhash *m, unsigned nh, uint64_t *seed, unsigned common,
		       unsigned only)
{
	uint32_t *a = xmalloc(nh * 4), *b = xmalloc(nh * 4);
	minhash_sig_init(m, a);
	minhash_sig_init(m, b);
	for (unsigned i = 0; i < common; i++) {
		uint64_t x = splitmix(seed);
		minhash_sig_add(m, x, a);
		minhash_sig_add(m, x, b);
	}
	for (unsigned i = 0; i < only; i++) {
		minhash_sig_add(m, splitmix(seed), a);
		minhash_sig_add(m, splitmix(seed), b);
	}
	double e = minhash_similarity(a, b, nh);
	free(a), free(b);
	return e;
}

static void test_estimate_close_to_exact(void **state)
{
	(void)state;
	const unsigned nh = 256;
	struct minhash *m = make(nh, 5, MINHASH_WORD, 7);
	uint64_t seed = 1;
	const double js[] = {0.1, 0.3, 0.5, 0.7, 0.85, 0.95};
	for (size_t j = 0; j < ARRAY_LEN(js); j++) {
		/* J = c / (c + 2o) with c + 2o = 400 */
		unsigned c = (unsigned)lround(js[j] * 400), o = (400 - c) / 2;
		double exact = (double)c / (c + 2 * o), sum = 0, sd = sqrt(exact * (1 - exact) / nh);
		const int trials = 40;
		for (int t = 0; t < trials; t++) {
			double e = estimate(m, nh, &seed, c, o);
			sum += e;
			/* each estimate within 5 standard deviations (binomial) */
			assert_true(fabs(e - exact) <= 5 * sd + 1e-9);
		}
		/* the mean of 40 within 4 standard errors: no bias */
		assert_true(fabs(sum / trials - exact) <= 4 * sd / sqrt(trials) + 1e-9);
	}
	minhash_free(m);
}

static void test_equal_sets_equal_signatures(void **state)
{
	(void)state;
	struct minhash *m = make(112, 5, MINHASH_WORD, 1);
	uint32_t a[112], b[112], c[112];
	const char *t1 = "int main(int argc, char **argv) { return argc + 1; }";
	const char *t2 = "int  main ( int argc,\n\tchar** argv ){\r\n return argc+1 ;}\n";
	assert_int_equal(minhash_signature(m, t1, strlen(t1), a), 5);
	assert_int_equal(minhash_signature(m, t2, strlen(t2), b), 5);
	assert_memory_equal(a, b, sizeof a);
	/* order and repeats of shingle hashes do not matter */
	uint64_t xs[50], s = 3;
	for (int i = 0; i < 50; i++)
		xs[i] = splitmix(&s);
	minhash_sig_init(m, b), minhash_sig_init(m, c);
	for (int i = 0; i < 50; i++)
		minhash_sig_add(m, xs[i], b);
	for (int i = 49; i >= 0; i--)
		minhash_sig_add(m, xs[i], c), minhash_sig_add(m, xs[i], c);
	assert_memory_equal(b, c, sizeof b);
	/* a changed word changes the signature; word order matters */
	const char *t3 = "int main(int argc, char **argv) { return argc + 2; }";
	minhash_signature(m, t3, strlen(t3), c);
	assert_true(memcmp(a, c, sizeof a) != 0);
	assert_true(minhash_similarity(a, c, 112) > 0.3);
	minhash_free(m);
}

static void test_short_and_empty(void **state)
{
	(void)state;
	struct minhash *m = make(16, 5, MINHASH_WORD, 1);
	uint32_t a[16], ones[16];
	memset(ones, 0xff, sizeof ones);
	assert_int_equal(minhash_signature(m, "", 0, a), 0);
	assert_memory_equal(a, ones, sizeof a);
	assert_int_equal(minhash_signature(m, " {}; ", 5, a), 0);
	assert_int_equal(minhash_signature(m, "two words", 9, a), 1);
	assert_true(memcmp(a, ones, sizeof a) != 0);
	minhash_free(m);

	m = make(16, 3, MINHASH_CHAR, 1);
	uint32_t b[16];
	assert_int_equal(minhash_signature(m, "abcde", 5, a), 3);
	/* whitespace runs are one space, ends trimmed */
	assert_int_equal(minhash_signature(m, "  ab \n\t cd ", 11, b), 3);
	assert_int_equal(minhash_signature(m, "ab cd", 5, a), 3);
	assert_memory_equal(a, b, sizeof a);
	/* code points, not bytes: "é" is one character */
	assert_int_equal(minhash_signature(m, "\xc3\xa9t\xc3\xa9s", 6, a), 2);
	assert_int_equal(minhash_signature(m, "ab", 2, a), 1);
	minhash_free(m);
}

static void test_seed_and_golden(void **state)
{
	(void)state;
	/* pinned: a change here changes every dedup-near result (bump the stage version) */
	assert_true(minhash_hash_bytes("hello", 5) == 0xacac876e0bd0d454ULL ||
		    (printf("hash_bytes(hello) = 0x%016llxULL\n",
			    (unsigned long long)minhash_hash_bytes("hello", 5)), 0));
	struct minhash *m1 = make(8, 2, MINHASH_WORD, 1), *m2 = make(8, 2, MINHASH_WORD, 2);
	uint32_t a[8], b[8];
	minhash_signature(m1, "alpha beta gamma", 16, a);
	assert_int_equal(a[0], 472490802u);
	minhash_signature(m2, "alpha beta gamma", 16, b);
	assert_true(memcmp(a, b, sizeof a) != 0);
	minhash_free(m1), minhash_free(m2);
	struct minhash_params bad = {0, 5, MINHASH_WORD, 1};
	assert_null(minhash_new(&bad));
}

/* Word shingles depend on the words only, not on what separates them: random texts (words
 * of ASCII letters, digits, '_' and bytes >= 0x80, of 1 to 150 bytes, so that words cross the
 * scanner's 64-byte blocks; separators of punctuation, blanks and control bytes, NUL
 * included) sign the same as their words joined by single spaces, at every length, and with
 * unigrams give one shingle a word. */
static void test_words_whatever_separates_them(void **state)
{
	(void)state;
	static const char sep[] = " \t\n\r.,;:(){}[]<>=+-*/&|!?\"'`~@#$%^\\\x01\x7f";
	static const char wb[] = "abcxyzABCXYZ0189_\x80\xc3\xa9\xff";
	struct minhash *m = make(32, 3, MINHASH_WORD, 7), *m1 = make(8, 1, MINHASH_WORD, 7);
	uint64_t seed = 42;
	struct buf text = BUF_INIT, canon = BUF_INIT;
	uint32_t a[32], b[32];
	for (int round = 0; round < 300; round++) {
		buf_reset(&text), buf_reset(&canon);
		int words = (int)(splitmix(&seed) % 40);
		if (splitmix(&seed) % 2)
			buf_putc(&text, sep[splitmix(&seed) % (sizeof sep - 1)]);
		for (int w = 0; w < words; w++) {
			size_t len = 1 + splitmix(&seed) % (w % 7 == 3 ? 150 : 9);
			for (size_t i = 0; i < len; i++) {
				char c = wb[splitmix(&seed) % (sizeof wb - 1)];
				buf_putc(&text, c), buf_putc(&canon, c);
			}
			size_t ns = 1 + splitmix(&seed) % 70;
			for (size_t i = 0; i < ns && (w + 1 < words || splitmix(&seed) % 2); i++)
				buf_putc(&text, i % 5 == 4 ? 0 : sep[splitmix(&seed) % (sizeof sep - 1)]);
			if (w + 1 < words)
				buf_putc(&canon, ' ');
		}
		size_t na = minhash_signature(m, text.p ? text.p : "", text.len, a);
		size_t nb = minhash_signature(m, canon.p ? canon.p : "", canon.len, b);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, sizeof a);
		/* unigrams: one shingle a word, so the scanner's word count is the test's */
		size_t n1 = minhash_signature(m1, text.p ? text.p : "", text.len, a);
		assert_int_equal(n1, (size_t)words);
	}
	buf_release(&text), buf_release(&canon);
	minhash_free(m), minhash_free(m1);
}

static void test_s_curve(void **state)
{
	(void)state;
	/* 1 - (1 - s^r)^b, checked against values computed by hand */
	assert_true(fabs(minhash_lsh_probability(0.85, 14, 8) - 0.98837) < 1e-4);
	assert_true(fabs(minhash_lsh_probability(0.5, 14, 8) - 0.05332) < 1e-4);
	assert_true(fabs(minhash_lsh_probability(0.85, 20, 13) - 0.92402) < 1e-4);
	assert_true(fabs(minhash_lsh_probability(0.5, 20, 13) - 0.00244) < 1e-4);
	assert_true(minhash_lsh_probability(1, 3, 3) == 1 && minhash_lsh_probability(0, 3, 3) == 0);
}

/* Bench mode (scripts/bench/dedup.sh): `test_minhash --bench < list of files` reads the
 * files into memory, then prints the best MB/s of 3 passes of dedup-exact's hash (sha256)
 * and of MinHash signatures (112 hashes, word 5-grams; and character 5-grams), one core. */
static int bench(void)
{
	struct buf *files = NULL;
	size_t n = 0, total = 0;
	char path[4096];
	while (fgets(path, sizeof path, stdin)) {
		path[strcspn(path, "\n")] = 0;
		files = xrealloc(files, (n + 1) * sizeof *files);
		files[n] = (struct buf)BUF_INIT;
		if (read_file(path, &files[n]) == 0)
			total += files[n++].len;
	}
	struct minhash *w = make(112, 5, MINHASH_WORD, 1), *c = make(112, 5, MINHASH_CHAR, 1);
	double best[3] = {1e9, 1e9, 1e9};
	uint32_t sig[112];
	unsigned char d[SHA256_LEN];
	for (int pass = 0; pass < 3; pass++) {
		double t0 = now_seconds();
		for (size_t i = 0; i < n; i++)
			sha256(files[i].p ? files[i].p : "", files[i].len, d);
		double t1 = now_seconds();
		for (size_t i = 0; i < n; i++)
			minhash_signature(w, files[i].p ? files[i].p : "", files[i].len, sig);
		double t2 = now_seconds();
		for (size_t i = 0; i < n; i++)
			minhash_signature(c, files[i].p ? files[i].p : "", files[i].len, sig);
		double t3 = now_seconds(), t[3] = {t1 - t0, t2 - t1, t3 - t2};
		for (int k = 0; k < 3; k++)
			best[k] = t[k] < best[k] ? t[k] : best[k];
	}
	printf("files %zu bytes %zu sha256_s %.4f minhash_word_s %.4f minhash_char_s %.4f\n", n,
	       total, best[0], best[1], best[2]);
	for (size_t i = 0; i < n; i++)
		buf_release(&files[i]);
	free(files);
	minhash_free(w), minhash_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return bench();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_estimate_close_to_exact),
		cmocka_unit_test(test_equal_sets_equal_signatures),
		cmocka_unit_test(test_short_and_empty),
		cmocka_unit_test(test_seed_and_golden),
		cmocka_unit_test(test_s_curve),
		cmocka_unit_test(test_words_whatever_separates_them),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
