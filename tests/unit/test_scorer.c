/* test_scorer: the scorer's building blocks. The threaded GEMM against a double-precision
 * loop on awkward sizes, bit-identical for any thread count; bf16/f16 conversions; the
 * safetensors validator and config.json checks, with messages that name the problem; the
 * FLOP count of the 1.3B preset. The whole forward is checked against PyTorch in
 * tests/e2e/scorer_parity.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "safetensors.h"
#include "scorer.h"
#include "util.h"

static const struct scorer_config tiny = {.vocab = 8, .hidden = 8, .layers = 1, .heads = 2,
					  .kv_heads = 1, .head_dim = 4, .ffn = 8, .max_pos = 64,
					  .eps = 1e-5, .theta = 1e4};

static struct cpu_model *bare_model(int threads)
{
	return cpu_model_new(&tiny, NULL, xcalloc(1, sizeof(struct scorer_layer)), NULL, NULL,
			     threads, 4);
}

static float frand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(*s >> 40) / (double)(1 << 24) - 0.5);
}

static void gemm_matches_reference(void **state)
{
	static const size_t shapes[][3] = {{1, 1, 1}, {5, 7, 13}, {4, 4, 8}, {67, 35, 130},
					   {130, 70, 64}, {3, 33, 7}};
	struct cpu_model *m1 = bare_model(1), *m3 = bare_model(3);
	uint64_t s = 1;
	for (size_t c = 0; c < ARRAY_LEN(shapes); c++) {
		size_t M = shapes[c][0], N = shapes[c][1], K = shapes[c][2];
		float *x = xmalloc(M * K * 4), *w = xmalloc(N * K * 4);
		float *y1 = xmalloc(M * N * 4), *y3 = xmalloc(M * N * 4);
		for (size_t i = 0; i < M * K; i++)
			x[i] = frand(&s);
		for (size_t i = 0; i < N * K; i++)
			w[i] = frand(&s);
		cpu_gemm(m1, x, w, y1, M, N, K);
		cpu_gemm(m3, x, w, y3, M, N, K);
		assert_memory_equal(y1, y3, M * N * 4); /* thread count never changes a bit */
		for (size_t i = 0; i < M; i++)
			for (size_t j = 0; j < N; j++) {
				double ref = 0;
				for (size_t k = 0; k < K; k++)
					ref += (double)x[i * K + k] * w[j * K + k];
				assert_true(fabs(y1[i * N + j] - ref) <= 1e-5 * (1 + fabs(ref)));
			}
		free(x), free(w), free(y1), free(y3);
	}
	cpu_model_free(m1);
	cpu_model_free(m3);
}

static void conversions(void **state)
{
	/* bf16 0x3f80 = 1.0, 0xc040 = -3.0; f16 0x3c00 = 1.0, 0x0001 = 2^-24, 0x7c00 = inf */
	unsigned char bf[] = {0x80, 0x3f, 0x40, 0xc0}, hf[] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0x7c};
	float out[3];
	st_to_f32(ST_BF16, bf, 2, out);
	assert_true(out[0] == 1.0f && out[1] == -3.0f);
	st_to_f32(ST_F16, hf, 3, out);
	assert_true(out[0] == 1.0f && out[1] == ldexpf(1, -24) && isinf(out[2]));
	/* round to nearest even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 */
	assert_int_equal(st_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80);
	assert_int_equal(st_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82);
	assert_true(st_f32_to_bf16(NAN) & 0x7f);
}

/* A safetensors image of one header and n data bytes. */
static struct buf image(const char *header, size_t n)
{
	struct buf b = BUF_INIT;
	uint64_t len = strlen(header);
	unsigned char l8[8];
	for (int i = 0; i < 8; i++)
		l8[i] = (unsigned char)(len >> (8 * i));
	buf_append(&b, l8, 8);
	buf_puts(&b, header);
	for (size_t i = 0; i < n; i++)
		buf_putc(&b, 0);
	return b;
}

static void expect_error(const char *header, size_t n, const char *msg)
{
	struct buf b = image(header, n);
	struct st_set *s = st_parse_mem(b.p, b.len, "x.safetensors");
	if (s || !strstr(err_get(), msg))
		fail_msg("header %s: got '%s', want '%s'", header, s ? "accepted" : err_get(), msg);
	buf_release(&b);
}

static void safetensors_validation(void **state)
{
	struct buf b = image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
			     "\"__metadata__\":{\"format\":\"pt\"}}", 16);
	struct st_set *s = st_parse_mem(b.p, b.len, "x.safetensors");
	assert_non_null(s);
	assert_int_equal(st_count(s), 1);
	assert_int_equal(st_find(s, "a")->shape[1], 2);
	assert_null(st_find(s, "b"));
	st_free(s);
	buf_release(&b);
	expect_error("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
		     "tensor 'a': dtype I64 is not supported");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
		     "8 bytes for 3 elements of F32");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
		     "outside the 8 data bytes");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
		     "overlap");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
		     "bad shape dimension 0");
	expect_error("[1,2]", 0, "header is not a JSON object");
	expect_error("{\"a\":1}", 0, "needs dtype, shape and data_offsets");
	assert_null(st_parse_mem("\1\0\0", 3, "short.safetensors"));
	assert_non_null(strstr(err_get(), "short.safetensors: 3 bytes"));
}

static int parse(const char *json, struct scorer_config *c)
{
	return scorer_parse_config(json, strlen(json), "config.json", c);
}

static void config_checks(void **state)
{
	struct scorer_config c;
	assert_int_equal(parse("{\"vocab_size\":10,\"hidden_size\":64,\"num_hidden_layers\":2,"
			       "\"num_attention_heads\":4,\"intermediate_size\":100}", &c), 0);
	assert_int_equal(c.kv_heads, 4);
	assert_int_equal(c.head_dim, 16);
	assert_int_equal(c.bos_id, -1);
	assert_true(c.rope_type == ROPE_NONE && c.theta == 10000 && !c.tied);
	assert_int_equal(parse("{\"vocab_size\":10,\"num_hidden_layers\":2}", &c), -1);
	assert_string_equal(err_get(), "config.json: \"hidden_size\" is missing");
	assert_int_equal(parse("{\"vocab_size\":10,\"hidden_size\":64,\"num_hidden_layers\":2,"
			       "\"num_attention_heads\":4,\"num_key_value_heads\":3,"
			       "\"intermediate_size\":100}", &c), -1);
	assert_non_null(strstr(err_get(), "multiple of key/value heads"));
	assert_int_equal(parse("{\"vocab_size\":10,\"hidden_size\":64,\"num_hidden_layers\":2,"
			       "\"num_attention_heads\":4,\"intermediate_size\":100,"
			       "\"rope_scaling\":{\"type\":\"yarn\",\"factor\":2}}", &c), -1);
	assert_non_null(strstr(err_get(), "\"yarn\" is not supported"));
	assert_int_equal(parse("{\"model_type\":\"mistral\"}", &c), -1);
	assert_non_null(strstr(err_get(), "only \"llama\""));
	assert_int_equal(parse("{\"num_labels\":3}", &c), -1);
	assert_non_null(strstr(err_get(), "one label"));
	assert_int_equal(parse("{\"vocab_size\":", &c), -1);
	assert_non_null(strstr(err_get(), "config.json:1:"));
}

static void flops_of_1_3b(void **state)
{
	struct scorer_config c = {.vocab = 32000, .hidden = 2048, .layers = 24, .heads = 16,
				  .kv_heads = 16, .head_dim = 128, .ffn = 5504};
	/* 24 layers x (4 H^2 + 3 H F) = 1.214e9 non-embedding weights: 2 FLOPs each per token */
	double w = 24.0 * (4.0 * 2048 * 2048 + 3.0 * 2048 * 5504);
	double f = scorer_flops(&c, 2048);
	assert_true(f > 2 * w * 2048 && f < 2.3 * w * 2048);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gemm_matches_reference),
		cmocka_unit_test(conversions),
		cmocka_unit_test(safetensors_validation),
		cmocka_unit_test(config_checks),
		cmocka_unit_test(flops_of_1_3b),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
