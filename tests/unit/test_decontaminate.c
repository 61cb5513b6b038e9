/* test_decontaminate: the word n-gram index (ngram.c) checked against a brute-force
 * reference on random texts, its tokenization rule, thresholds and first-item ownership, and
 * the evaluation set loader (evalset.c): spec syntax, JSONL fields and ids, plain text units,
 * and the FILE:LINE errors that make a bad evaluation file fatal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decontaminate/evalset.h"
#include "ngram.h"
#include "util.h"

static char tmpdir[PATH_MAX];

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/curate-test-decon-XXXXXX", base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) { return remove_tree(tmpdir); }

/* Writes a file in the test directory; returns its path (caller frees). */
static char *put(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void assert_err_has(const char *part)
{
	if (!strstr(err_get(), part))
		fail_msg("error \"%s\" lacks \"%s\"", err_get(), part);
}

static void test_normalize(void **state)
{
	struct buf b = BUF_INIT;
	const char *s = "  Hello, World_42!\tcaf\xc3\xa9 X-ray\n";
	assert_int_equal(ngram_normalize(&b, s, strlen(s)), 6);
	assert_string_equal(b.p, "hello world 42 caf\xc3\xa9 x ray ");
	buf_reset(&b);
	assert_int_equal(ngram_normalize(&b, "(){} ;", 6), 0);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static const char *fox = "the quick brown fox jumps over the lazy dog and runs far away";

static struct ngram_index *index_of(unsigned n, const char *const *items, size_t k)
{
	struct ngram_index *ix = ngram_index_new(n);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(ngram_index_add(ix, items[i], strlen(items[i])), (int64_t)i);
	ngram_index_build(ix);
	return ix;
}

static uint32_t scan(const struct ngram_index *ix, const char *doc, uint32_t limit,
		     struct ngram_match *m)
{
	memset(m, 0xee, sizeof *m);
	return ngram_index_scan(ix, doc, strlen(doc), limit, m);
}

static void test_scan_rules(void **state)
{
	const char *items[] = {fox};
	struct ngram_index *ix = index_of(10, items, 1);
	struct ngram_match m;
	assert_int_equal(ngram_index_grams(ix), 4); /* 13 words */
	/* case, punctuation and layout do not matter */
	const char *doc = "x = 1\n# The QUICK brown_fox\n\tjumps(over, the);\n  lazy.dog() and\n";
	assert_int_equal(scan(ix, doc, 1, &m), 1);
	assert_int_equal(m.offset, strlen("x = 1\n# "));
	assert_int_equal(m.length, strlen("The QUICK brown_fox\n\tjumps(over, the);\n  lazy.dog() and"));
	assert_int_equal(m.item, 0);
	struct buf g = BUF_INIT;
	ngram_index_gram_text(ix, m.gram, &g);
	assert_string_equal(g.p, "the quick brown fox jumps over the lazy dog and");
	buf_release(&g);
	/* 9 shared words, twice, are not a match; nor are word fragments */
	assert_int_equal(scan(ix, "the quick brown fox jumps over the lazy dog; "
				  "quick brown fox jumps over the lazy dog and", 1, &m), 0);
	assert_int_equal(scan(ix, "the quick brown fox jumps over the lazy dogs and runs", 1, &m),
			 0);
	assert_int_equal(scan(ix, "", 1, &m), 0);
	/* every distinct n-gram counts once, up to the limit */
	char *twice = xasprintf("%s. %s", fox, fox);
	assert_int_equal(scan(ix, twice, 1000, &m), 4);
	assert_int_equal(scan(ix, twice, 3, &m), 3);
	assert_int_equal(m.count, 3);
	assert_int_equal(m.offset, 0);
	free(twice);
	ngram_index_free(ix);
}

static void test_short_and_shared_items(void **state)
{
	const char *items[] = {"one two three", "", "a b c d e f g", "x a b c d e f g y"};
	struct ngram_index *ix = index_of(5, items, 4);
	struct ngram_match m;
	assert_int_equal(ngram_index_items(ix), 4);
	assert_int_equal(ngram_index_item_words(ix, 0), 3);
	assert_int_equal(ngram_index_item_words(ix, 1), 0);
	/* "a b c d e", "b c d e f", "c d e f g" are shared: the first item has them */
	assert_int_equal(ngram_index_grams(ix), 3 + 2);
	assert_int_equal(scan(ix, "one two three", 1, &m), 0);
	assert_int_equal(scan(ix, "q b c d e f q", 1, &m), 1);
	assert_int_equal(m.item, 2);
	assert_int_equal(scan(ix, "e f g y", 1, &m), 0);
	assert_int_equal(scan(ix, "d e f g y", 1, &m), 1);
	assert_int_equal(m.item, 3);
	ngram_index_free(ix);
	/* an empty index matches nothing */
	ix = index_of(10, NULL, 0);
	assert_int_equal(scan(ix, fox, 1, &m), 0);
	ngram_index_free(ix);
}

/* ---- brute-force reference: all n-grams as strings, compared one by one ---- */

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Random text over a tiny vocabulary, with random case and separators. */
static void random_text(struct buf *b, size_t words)
{
	static const char *vocab[] = {"if", "x", "return", "def", "Foo", "foo", "0", "\xc3\xa9t\xc3\xa9"};
	static const char *sep[] = {" ", "\n", "(", ", ", "\t\t", "_", "::"};
	buf_reset(b);
	for (size_t i = 0; i < words; i++) {
		const char *w = vocab[rnd(ARRAY_LEN(vocab))];
		for (const char *p = w; *p; p++)
			buf_putc(b, rnd(3) == 0 && *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p);
		buf_puts(b, sep[rnd(ARRAY_LEN(sep))]);
	}
}

/* The normalized words of text as an array of strings into words (caller frees each). */
static size_t split_words(const char *text, char ***words)
{
	struct buf b = BUF_INIT;
	size_t n = ngram_normalize(&b, text, strlen(text));
	*words = xcalloc(n + 1, sizeof **words);
	char *save, *p = b.p ? b.p : (char *)"";
	size_t k = 0;
	for (char *w = strtok_r(p, " ", &save); w; w = strtok_r(NULL, " ", &save))
		(*words)[k++] = xstrdup(w);
	buf_release(&b);
	assert_int_equal(k, n);
	return n;
}

static int same_gram(char **a, char **b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(a[i], b[i]))
			return 0;
	return 1;
}

static void test_against_brute_force(void **state)
{
	struct buf item_text[6], doc = BUF_INIT;
	for (int round = 0; round < 300; round++) {
		unsigned n = 1 + rnd(5), nitems = 1 + rnd(6);
		char **iw[6];
		size_t inw[6];
		struct ngram_index *ix = ngram_index_new(n);
		for (unsigned i = 0; i < nitems; i++) {
			item_text[i] = (struct buf)BUF_INIT;
			random_text(&item_text[i], rnd(12));
			ngram_index_add(ix, item_text[i].p ? item_text[i].p : "", item_text[i].len);
			inw[i] = split_words(item_text[i].p ? item_text[i].p : "", &iw[i]);
		}
		ngram_index_build(ix);
		random_text(&doc, rnd(200)); /* crosses the scan's batches of 64 words */
		char **dw;
		size_t dn = split_words(doc.p ? doc.p : "", &dw);
		/* reference: distinct doc n-grams present in some item; the first one's item */
		uint32_t count = 0, first_item = UINT32_MAX;
		size_t first_pos = 0;
		for (size_t p = 0; p + n <= dn; p++) {
			int dup = 0;
			for (size_t q = 0; q < p && !dup; q++)
				dup = same_gram(dw + p, dw + q, n);
			uint32_t owner = UINT32_MAX;
			for (unsigned i = 0; i < nitems && owner == UINT32_MAX; i++)
				for (size_t q = 0; q + n <= inw[i] && owner == UINT32_MAX; q++)
					if (same_gram(dw + p, iw[i] + q, n))
						owner = i;
			if (owner == UINT32_MAX)
				continue;
			/* a repeat of an earlier matching gram is not counted again */
			if (dup)
				continue;
			if (!count++)
				first_item = owner, first_pos = p;
		}
		struct ngram_match m;
		uint32_t got = ngram_index_scan(ix, doc.p ? doc.p : "", doc.len, 1024, &m);
		if (got != count)
			fail_msg("round %d (n=%u): scan found %u n-grams, reference %u; doc \"%s\"",
				 round, n, got, count, doc.p);
		if (count) {
			assert_int_equal(m.item, first_item);
			/* the reported offset starts the reference's first matching word */
			struct buf pre = BUF_INIT;
			size_t before = ngram_normalize(&pre, doc.p, m.offset);
			buf_release(&pre);
			assert_int_equal(before, first_pos);
		}
		for (size_t i = 0; i < dn; i++)
			free(dw[i]);
		free(dw);
		for (unsigned i = 0; i < nitems; i++) {
			for (size_t k = 0; k < inw[i]; k++)
				free(iw[i][k]);
			free(iw[i]);
			buf_release(&item_text[i]);
		}
		ngram_index_free(ix);
	}
	buf_release(&doc);
}

/* ---- evaluation sets ---- */

static const char *default_fields[] = {"prompt", "canonical_solution", "test"};
static const char *id_fields[] = {"task_id", "id"};

static struct evalset *new_set(enum evalset_unit unit)
{
	struct evalset_opts o = {10, default_fields, 3, id_fields, 2, unit};
	return evalset_new(&o);
}

static void test_spec(void **state)
{
	char *name, *path, *fields;
	assert_int_equal(evalset_parse_spec("he=/a/b.jsonl:prompt,test", &name, &path, &fields), 0);
	assert_string_equal(name, "he");
	assert_string_equal(path, "/a/b.jsonl");
	assert_string_equal(fields, "prompt,test");
	free(name), free(path), free(fields);
	/* a path with ':' ends the spec with ':' (no fields: the defaults) */
	assert_int_equal(evalset_parse_spec("x=/a:b/c.txt:", &name, &path, &fields), 0);
	assert_string_equal(path, "/a:b/c.txt");
	assert_string_equal(fields, "");
	free(name), free(path), free(fields);
	assert_int_equal(evalset_parse_spec("m.b-p_2=c.txt", &name, &path, &fields), 0);
	assert_null(fields);
	free(name), free(path), free(fields);
	assert_int_equal(evalset_parse_spec("/no/name.jsonl", &name, &path, &fields), -1);
	assert_err_has("NAME=PATH");
	assert_int_equal(evalset_parse_spec("bad name=x", &name, &path, &fields), -1);
	assert_err_has("the name must be");
	assert_int_equal(evalset_parse_spec("a=", &name, &path, &fields), -1);
	assert_err_has("the path is empty");
}

static const char *he_items =
	"{\"task_id\": \"HumanEval/7\", \"prompt\": \"def f(x):\\n    \\\"\\\"\\\"Return x "
	"doubled and then increased by one, as an integer.\\\"\\\"\\\"\\n\", "
	"\"canonical_solution\": \"    return 2 * x + 1\\n\", \"test\": null}\n"
	"\n"
	"{\"id\": 42, \"prompt\": \"Alpha beta gamma delta epsilon zeta eta theta iota kappa\","
	" \"entry_point\": \"f\"}\n"
	"{\"test\": [\"assert one two three four\", \"assert five six seven eight nine\"]}\n";

static void test_load_jsonl(void **state)
{
	char *p = put("he.jsonl", he_items);
	char *spec = xasprintf("he=%s", p);
	struct evalset *es = new_set(EVALSET_FILE);
	assert_int_equal(evalset_load(es, spec), 0);
	evalset_build(es);
	assert_int_equal(evalset_items(es), 3);
	assert_int_equal(evalset_benchmarks(es), 1);
	assert_string_equal(evalset_benchmark_name(es, 0), "he");
	assert_int_equal(evalset_benchmark_short(es, 0), 0);
	struct evalset_hit h;
	struct buf hb = BUF_INIT;
	/* the prompt and solution are one word stream: an n-gram may span them */
	const char *doc = "/* and then increased by one, as an integer. */ return 2*x + 1;";
	assert_int_equal(evalset_check(es, doc, strlen(doc), 1, &h, &hb), 1);
	assert_string_equal(h.benchmark, "he");
	assert_string_equal(h.reason, "contaminated:he");
	assert_string_equal(h.item, "HumanEval/7");
	assert_string_equal(h.ngram, "and then increased by one as an integer return 2");
	assert_int_equal(h.offset, 3);
	assert_int_equal(h.matches, 1);
	assert_int_equal(evalset_check(es, doc, strlen(doc), 3, &h, &hb), 1);
	assert_int_equal(h.matches, 3);
	assert_int_equal(evalset_check(es, doc, strlen(doc), 4, &h, &hb), 0);
	doc = "ALPHA beta gamma delta epsilon zeta eta theta iota kappa";
	assert_int_equal(evalset_check(es, doc, strlen(doc), 1, &h, &hb), 1);
	assert_string_equal(h.item, "42"); /* an integer id */
	/* array elements are lines of one item; no id field: line:N */
	doc = "assert one two three four\nassert five six seven eight";
	assert_int_equal(evalset_check(es, doc, strlen(doc), 1, &h, &hb), 1);
	assert_string_equal(h.item, "line:4");
	buf_release(&hb);
	evalset_free(es);
	free(spec);

	/* the spec's own fields replace the defaults */
	spec = xasprintf("he=%s:entry_point,prompt", p);
	es = new_set(EVALSET_FILE);
	assert_int_equal(evalset_load(es, spec), -1);
	assert_err_has(":4: the record has none of the fields entry_point, prompt");
	evalset_free(es);
	free(spec), free(p);
}

/* Loads text as the file name under spec "b=PATH[suffix]"; expects failure naming what. */
static void expect_error(const char *name, const char *text, const char *suffix,
			 const char *what)
{
	char *p = put(name, text);
	char *spec = xasprintf("b=%s%s", p, suffix);
	struct evalset *es = new_set(EVALSET_FILE);
	if (evalset_load(es, spec) == 0)
		fail_msg("%s loaded without error", name);
	char *want = what[0] == ':' ? xasprintf("%s%s", p, what) : xstrdup(what);
	assert_err_has(want);
	free(want);
	evalset_free(es);
	free(spec), free(p);
}

static void test_load_errors(void **state)
{
	expect_error("bad.jsonl", "{\"prompt\": \"ok\"}\n\n{\"prompt\": \n", "",
		     ":3: invalid JSON at column");
	expect_error("array.jsonl", "[1, 2]\n", "", ":1: the record is not a JSON object");
	expect_error("num.jsonl", "{\"prompt\": 7}\n", "",
		     ":1: field \"prompt\" is not a string or an array of strings");
	expect_error("arr.jsonl", "{\"test\": [\"a\", 3]}\n", "",
		     ":1: field \"test\": element 1 is not a string");
	expect_error("none.jsonl", "{\"question\": \"q\"}\n", "",
		     ":1: the record has none of the fields prompt, canonical_solution, test");
	expect_error("empty.jsonl", "\n  \n", "", ": no evaluation items in the file");
	expect_error("empty.txt", "", "", ": no evaluation items in the file");
	expect_error("plain.txt", "some words\n", ":prompt", "fields are given but");
	expect_error("trunc.jsonl.gz", "not gzip at all, but named .gz", "", "invalid JSON");
	struct evalset *es = new_set(EVALSET_FILE);
	char *spec = xasprintf("b=%s/missing.jsonl", tmpdir);
	assert_int_equal(evalset_load(es, spec), -1);
	assert_err_has("missing.jsonl");
	free(spec);
	evalset_free(es);
}

static void test_text_units(void **state)
{
	char *p = put("items.txt", "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10\n"
				   "v1 v2 v3 v4 v5 v6 v7 v8 v9 v10\n"
				   "  \n"
				   "u1 u2 u3 u4 u5\nu6 u7 u8 u9 u10\n");
	char *spec = xasprintf("t=%s", p);
	const char *doc = "u1 u2 u3 u4 u5 u6 u7 u8 u9 u10 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10";
	struct {
		enum evalset_unit unit;
		size_t items;
		const char *first_item;
	} cases[] = {
		{EVALSET_FILE, 1, p}, {EVALSET_BLOCK, 2, "line:4"}, {EVALSET_LINE, 4, "line:1"}};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct evalset *es = new_set(cases[i].unit);
		assert_int_equal(evalset_load(es, spec), 0);
		evalset_build(es);
		assert_int_equal(evalset_items(es), cases[i].items);
		struct evalset_hit h;
		struct buf hb = BUF_INIT;
		assert_int_equal(evalset_check(es, doc, strlen(doc), 1, &h, &hb), 1);
		/* by lines, "u1..u5" and "u6..u10" are two short items: w1..w10 matches first */
		assert_string_equal(h.item, cases[i].first_item);
		assert_int_equal(h.offset, cases[i].unit == EVALSET_LINE ? 31 : 0);
		if (cases[i].unit == EVALSET_LINE)
			assert_int_equal(evalset_benchmark_short(es, 0), 2);
		buf_release(&hb);
		evalset_free(es);
	}
	free(spec), free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_scan_rules),
		cmocka_unit_test(test_short_and_shared_items),
		cmocka_unit_test(test_against_brute_force),
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_load_jsonl),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_text_units),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
