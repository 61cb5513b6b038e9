/* init: `scorer init` writes a randomly initialised LlamaForSequenceClassification checkpoint
 * (config.json, model.safetensors, tokenizer.json) of a named preset, initialised as HF does
 * (normal(0, 0.02) matrices, unit norms), for tests and benchmarks; or a LlamaForCausalLM of
 * the same shape, with lm_head.weight or tied to its embedding. Not a trainer. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "safetensors.h"
#include "scorer.h"
#include "util.h"

struct preset {
	const char *name;
	int64_t hidden, layers, heads, kv_heads, ffn, max_pos;
	double eps;
};

/* 1.3b: the report's Llama-2-structured scorer (hidden 2048, 24 layers, 16 heads, FFN 5504) */
static const struct preset presets[] = {
	{"tiny", 64, 2, 4, 2, 128, 2048, 1e-5},
	{"1.3b", 2048, 24, 16, 16, 5504, 4096, 1e-5},
};

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r) { return splitmix64_next(&r->s); }

/* Box-Muller over 53-bit uniforms in (0, 1]. */
static double rng_normal(struct rng *r)
{
	double u1 = ((double)(rng_next(r) >> 11) + 1) / 9007199254740992.0;
	double u2 = (double)(rng_next(r) >> 11) / 9007199254740992.0;
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

double scorer_rng_normal(uint64_t *state)
{
	struct rng r = {*state};
	double x = rng_normal(&r);
	*state = r.s;
	return x;
}

struct out_tensors {
	struct st_tensor *v;
	size_t n;
	int bf16;
	struct rng rng;
};

/* Adds a tensor: std > 0 draws normal(0, std), else all ones. */
static void add(struct out_tensors *o, const char *name, int64_t d0, int64_t d1, double std)
{
	size_t n = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
	struct st_tensor *t = &o->v[o->n++];
	memset(t, 0, sizeof *t);
	t->name = xstrdup(name);
	t->dtype = o->bf16 ? ST_BF16 : ST_F32;
	t->ndim = d1 > 0 ? 2 : 1;
	t->shape[0] = d0, t->shape[1] = d1;
	t->nbytes = n * st_dtype_size(t->dtype);
	void *data = xmalloc(t->nbytes);
	for (size_t i = 0; i < n; i++) {
		float f = std > 0 ? (float)(std * rng_normal(&o->rng)) : 1.0f;
		if (o->bf16)
			((uint16_t *)data)[i] = st_f32_to_bf16(f);
		else
			((float *)data)[i] = f;
	}
	t->data = data;
}

static json_t *config_json(const struct preset *p, int64_t vocab, int64_t bos, int bf16,
			   enum scorer_head head)
{
	json_t *j = json_pack(
		"{s:[s],s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:n,s:b,s:b,s:b,s:s,s:f,"
		"s:{s:s},s:{s:i},s:s,s:s}",
		"architectures", "LlamaForSequenceClassification", "model_type", "llama",
		"vocab_size", (json_int_t)vocab, "hidden_size", (json_int_t)p->hidden,
		"num_hidden_layers", (json_int_t)p->layers, "num_attention_heads",
		(json_int_t)p->heads, "num_key_value_heads", (json_int_t)p->kv_heads, "head_dim",
		(json_int_t)(p->hidden / p->heads), "intermediate_size", (json_int_t)p->ffn,
		"max_position_embeddings", (json_int_t)p->max_pos, "rms_norm_eps", p->eps,
		"rope_theta", 10000.0, "rope_scaling", "tie_word_embeddings", 0, "attention_bias",
		0, "mlp_bias", 0, "hidden_act", "silu", "initializer_range", 0.02, "id2label", "0",
		"LABEL_0", "label2id", "LABEL_0", 0, "problem_type", "regression", "torch_dtype",
		bf16 ? "bfloat16" : "float32");
	json_object_set_new(j, "bos_token_id", bos >= 0 ? json_integer(bos) : json_null());
	if (head != SCORER_HEAD_SCORE) { /* a causal LM: no labels */
		json_object_set_new(j, "architectures", json_pack("[s]", "LlamaForCausalLM"));
		json_object_set_new(j, "tie_word_embeddings", json_boolean(head == SCORER_HEAD_TIED));
		json_object_del(j, "id2label"), json_object_del(j, "label2id");
		json_object_del(j, "problem_type");
	}
	return j;
}

int scorer_write_json(const char *path, json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2));
	struct buf b = BUF_INIT;
	buf_puts(&b, text);
	buf_putc(&b, '\n');
	int rc = write_file_atomic(path, b.p, b.len);
	free(text);
	buf_release(&b);
	return rc;
}

static int write_weights(const char *dir, const struct preset *p, int64_t V, uint64_t seed,
			 int bf16, enum scorer_head head)
{
	int64_t H = p->hidden, F = p->ffn, hd = H / p->heads, kv = p->kv_heads * hd;
	struct out_tensors o = {xcalloc((size_t)(3 + 9 * p->layers), sizeof(struct st_tensor)), 0,
				bf16, {seed}};
	add(&o, "model.embed_tokens.weight", V, H, 0.02);
	char name[96];
	for (int64_t l = 0; l < p->layers; l++) {
#define LAYER(part, d0, d1, std)                                                           \
	snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, part);           \
	add(&o, name, d0, d1, std)
		LAYER("input_layernorm.weight", H, 0, 0);
		LAYER("self_attn.q_proj.weight", H, H, 0.02);
		LAYER("self_attn.k_proj.weight", kv, H, 0.02);
		LAYER("self_attn.v_proj.weight", kv, H, 0.02);
		LAYER("self_attn.o_proj.weight", H, H, 0.02);
		LAYER("post_attention_layernorm.weight", H, 0, 0);
		LAYER("mlp.gate_proj.weight", F, H, 0.02);
		LAYER("mlp.up_proj.weight", F, H, 0.02);
		LAYER("mlp.down_proj.weight", H, F, 0.02);
#undef LAYER
	}
	add(&o, "model.norm.weight", H, 0, 0);
	if (head == SCORER_HEAD_SCORE)
		add(&o, "score.weight", 1, H, 0.02);
	else if (head == SCORER_HEAD_LM)
		add(&o, "lm_head.weight", V, H, 0.02);
	char *path = xasprintf("%s/model.safetensors", dir);
	int rc = st_write(path, o.v, o.n);
	free(path);
	for (size_t i = 0; i < o.n; i++)
		free(o.v[i].name), free((void *)o.v[i].data);
	free(o.v);
	return rc;
}

/* The BOS token when the tokenizer declares one as a special added token (Llama's
 * <|begin_of_text|> or <s>), else -1: an ordinary vocabulary entry "<s>" is not a BOS. */
static int64_t special_bos(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL), *t;
	size_t i;
	int64_t bos = -1;
	json_array_foreach(json_object_get(j, "added_tokens"), i, t) {
		const char *c = json_string_value(json_object_get(t, "content"));
		if (c && json_is_true(json_object_get(t, "special")) &&
		    (!strcmp(c, "<|begin_of_text|>") || !strcmp(c, "<s>")))
			bos = json_integer_value(json_object_get(t, "id"));
	}
	json_decref(j);
	return bos;
}

int scorer_init_checkpoint(const char *dir, const char *preset, uint64_t seed,
			   const char *tokenizer, const char *dtype, enum scorer_head head)
{
	const struct preset *p = NULL;
	for (size_t i = 0; i < ARRAY_LEN(presets); i++)
		if (!strcmp(presets[i].name, preset))
			p = &presets[i];
	if (!p) {
		err_set("unknown preset '%s' (tiny or 1.3b)", preset);
		return -1;
	}
	if (strcmp(dtype, "f32") && strcmp(dtype, "bf16")) {
		err_set("unknown dtype '%s' (f32 or bf16)", dtype);
		return -1;
	}
	struct buf tok = BUF_INIT;
	if (read_file(tokenizer, &tok) < 0)
		return -1;
	struct bpe *b = bpe_load_mem(tok.p ? tok.p : "", tok.len, tokenizer, NULL);
	if (!b) {
		buf_release(&tok);
		return -1;
	}
	int64_t V = bpe_vocab_size(b), bos = special_bos(tok.p, tok.len);
	bpe_free(b);
	int bf16 = !strcmp(dtype, "bf16");
	char *tpath = xasprintf("%s/tokenizer.json", dir), *cpath = xasprintf("%s/config.json", dir);
	json_t *cj = config_json(p, V, bos, bf16, head);
	int rc = mkdir_p(dir);
	if (!rc)
		rc = write_file_atomic(tpath, tok.p, tok.len);
	if (!rc)
		rc = scorer_write_json(cpath, cj);
	if (!rc)
		rc = write_weights(dir, p, V, seed, bf16, head);
	json_decref(cj);
	free(tpath), free(cpath);
	buf_release(&tok);
	return rc;
}
