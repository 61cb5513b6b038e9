/* test_fasttext: the classifier's own rules: fastText's hash over signed chars, its tokens
 * and end of line, training that learns, the .bin round trip, and a loader that rejects
 * every truncation and each corrupted field with a message naming the offset.
 * Parity with Debian's fasttext is tests/e2e/fasttext*.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fasttext/ft_internal.h"

static char dir[64], train_path[96], bin_path[96];

/* Two topics of generated sentences from fixed vocabularies, one label each. */
static void write_training(const char *path)
{
	static const char *code[] = {"int", "return", "void", "struct", "malloc", "printf",
				     "for", "while", "pointer", "compile"};
	static const char *farm[] = {"wheat", "corn", "harvest", "rain", "tonnes", "export",
				     "crop", "farmers", "grain", "acres"};
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	uint32_t s = 12345;
	for (int i = 0; i < 400; i++) {
		const char **v = i % 2 ? farm : code;
		fprintf(f, "__label__%s", i % 2 ? "farm" : "code");
		for (int j = 0; j < 12; j++) {
			s = s * 1103515245u + 12345u;
			fprintf(f, " %s", v[(s >> 16) % 10]);
		}
		fputc('\n', f);
	}
	fclose(f);
}

static struct ft_model *train(enum ft_loss loss)
{
	struct ft_args a;
	ft_args_default(&a);
	char *argv[] = {"-input", train_path, "-output", bin_path, "-dim", "8", "-epoch", "5",
			"-wordNgrams", "2", "-bucket", "1000", "-minn", "2", "-maxn", "3",
			"-thread", "1", "-verbose", "0"};
	assert_int_equal(ft_args_parse(&a, (int)ARRAY_LEN(argv), argv), 0);
	a.loss = loss;
	struct ft_model *m = NULL;
	assert_int_equal(ft_train(&a, &m), 0);
	return m;
}

static int group_setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/test_fasttext.%d", (int)getpid());
	assert_int_equal(mkdir_p(dir), 0);
	snprintf(train_path, sizeof train_path, "%s/train.txt", dir);
	snprintf(bin_path, sizeof bin_path, "%s/m.bin", dir);
	write_training(train_path);
	struct ft_model *m = train(FT_LOSS_SOFTMAX);
	assert_int_equal(ft_model_save(m, bin_path), 0);
	*state = m;
	return 0;
}

static int group_teardown(void **state)
{
	ft_model_free(*state);
	remove_tree(dir);
	return 0;
}

static void test_hash(void **state)
{
	/* values of an independent implementation (Python) of fastText's signed-char FNV-1a */
	assert_int_equal(ft_hash("", 0), 0x811c9dc5u);
	assert_int_equal(ft_hash("a", 1), 0xe40c292cu);
	assert_int_equal(ft_hash("</s>", 4), 0xd79c9359u);
	assert_int_equal(ft_hash("\xc3\xa9t\xc3\xa9", 5), 0x0beea017u);
	assert_int_equal(ft_hash("__label__code", 13), 0x6144a170u);
}

static void test_tokens(void **state)
{
	struct ft_model *m = *state;
	struct ft_state *s = ft_state_new(m);
	const char text[] = "__label__farm  wheat\tcorn\r\0rain\nint return";
	size_t used;
	/* three words, a label and the end of line; the second line is not read */
	int64_t n = ft_dict_line(&m->dict, s, text, sizeof text - 1, &used);
	assert_int_equal(n, 5);
	assert_int_equal(used, strchr(text + 27, '\n') - text + 1);
	assert_int_equal(s->nlabels, 1);
	assert_string_equal(ft_model_label(m, s->labels[0]), "__label__farm");
	assert_int_equal(s->nhashes, 4); /* wheat corn rain </s> */
	assert_int_equal(s->hashes[3], ft_hash("</s>", 4));
	/* an unknown label is neither a label nor a word */
	n = ft_dict_line(&m->dict, s, "__label__nope wheat", 19, &used);
	assert_int_equal(n, 2);
	assert_int_equal(s->nlabels, 0);
	assert_int_equal(s->nhashes, 1);
	ft_state_free(s);
}

/* Share of training lines whose best label is their own. */
static double accuracy(const struct ft_model *m)
{
	FILE *f = fopen(train_path, "r");
	struct ft_meter mt;
	assert_int_equal(ft_test(m, f, 1, 0.0f, &mt), 0);
	fclose(f);
	assert_int_equal(mt.examples, 400);
	return (double)mt.predicted_gold / (double)mt.predicted;
}

static void test_training_learns(void **state)
{
	assert_true(accuracy(*state) > 0.95);
	struct ft_model *hs = train(FT_LOSS_HS), *ova = train(FT_LOSS_OVA);
	assert_true(accuracy(hs) > 0.95);
	assert_true(accuracy(ova) > 0.95);
	/* softmax and hs give a distribution: probabilities sum to one (+1e-5 each) */
	struct ft_state *s = ft_state_new(hs);
	struct ft_pred p[3];
	int n = ft_predict(hs, s, "wheat corn printf\n", 18, -1, 0.0f, p);
	assert_int_equal(n, 2);
	assert_true(fabsf(ft_pred_prob(&p[0]) + ft_pred_prob(&p[1]) - 1.0f) < 1e-4f);
	assert_true(p[0].logp >= p[1].logp);
	ft_state_free(s);
	ft_model_free(hs);
	ft_model_free(ova);
}

static void test_roundtrip(void **state)
{
	struct ft_model *m = *state, *r = ft_model_open(bin_path);
	assert_non_null(r);
	struct ft_state *s1 = ft_state_new(m), *s2 = ft_state_new(r);
	const char *lines[] = {"wheat corn rain\n", "int pointer\n", "unknown words only\n",
			       "\xc3\xa9t\xc3\xa9 harvest\n", "\n"};
	for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
		struct ft_pred a[2], b[2];
		int na = ft_predict(m, s1, lines[i], strlen(lines[i]), 2, 0.0f, a);
		int nb = ft_predict(r, s2, lines[i], strlen(lines[i]), 2, 0.0f, b);
		assert_int_equal(na, nb);
		for (int k = 0; k < na; k++) {
			assert_int_equal(a[k].label, b[k].label);
			assert_true(a[k].logp == b[k].logp);
		}
	}
	ft_state_free(s1);
	ft_state_free(s2);
	ft_model_free(r);
}

static void expect_error(const struct buf *b, const char *what)
{
	struct ft_model *m = ft_model_parse(b->p, b->len, "m.bin");
	if (m)
		fail_msg("accepted a model with %s", what);
	if (!strstr(err_get(), "m.bin: offset "))
		fail_msg("%s: message without offset: %s", what, err_get());
}

static void test_truncations(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(read_file(bin_path, &b), 0);
	/* every prefix through the dictionary and into the matrices, then a stride */
	for (size_t n = 0; n < b.len; n += n < 4096 ? 1 : 509) {
		struct buf p = BUF_INIT;
		buf_set(&p, b.p, n);
		expect_error(&p, "a truncated file");
		buf_release(&p);
	}
	struct ft_model *m = ft_model_parse(b.p, b.len, "m.bin");
	assert_non_null(m);
	ft_model_free(m);
	buf_release(&b);
}

static void corrupt(const struct buf *b, size_t off, int32_t v, const char *what, const char *msg)
{
	struct buf c = BUF_INIT;
	buf_set(&c, b->p, b->len);
	memcpy(c.p + off, &v, 4);
	expect_error(&c, what);
	if (!strstr(err_get(), msg))
		fail_msg("%s: expected '%s' in: %s", what, msg, err_get());
	buf_release(&c);
}

static void test_corrupt_fields(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(read_file(bin_path, &b), 0);
	corrupt(&b, 0, 1234, "a bad magic", "not a fastText model");
	corrupt(&b, 4, 13, "a newer version", "unsupported fastText file version 13");
	corrupt(&b, 8, 0, "dim 0", "dim 0 is out of range");
	corrupt(&b, 32, 9, "an unknown loss", "unknown loss 9");
	corrupt(&b, 36, FT_MODEL_CBOW, "word vectors", "not a supervised classifier");
	corrupt(&b, 40, -5, "negative buckets", "negative bucket count");
	corrupt(&b, 64, 1 << 30, "a huge dictionary", "inconsistent dictionary sizes");
	corrupt(&b, 72, -1, "no labels", "inconsistent dictionary sizes");
	corrupt(&b, 40, 999, "buckets not matching the matrix", "not words + buckets");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_training_learns),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_corrupt_fields),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
