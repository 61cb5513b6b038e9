/* scorer: the quality scorer, a Llama model with a one-label regression head laid out as a
 * Hugging Face LlamaForSequenceClassification checkpoint (config.json, safetensors, and the
 * tokenizer.json beside them). One handle scores token sequences on the CPU (fp32, threads)
 * or on a GPU (bf16, scorer_cuda.cu) when one is built in and present. The same forward
 * pass also serves a LlamaForCausalLM checkpoint (scorer_open_lm), whose outputs are the
 * next-token logits of a few chosen tokens. A handle is used by one thread at a time. */
#ifndef CURATE_SCORER_H
#define CURATE_SCORER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* The model's shape, from config.json. */
struct scorer_config {
	int64_t vocab, hidden, layers, heads, kv_heads, head_dim, ffn, max_pos;
	double eps, theta;
	/* rope_scaling: none, linear, dynamic or llama3 */
	enum { ROPE_NONE, ROPE_LINEAR, ROPE_DYNAMIC, ROPE_LLAMA3 } rope_type;
	double rope_factor, low_freq_factor, high_freq_factor;
	int64_t rope_orig_max_pos;
	bool tied;
	int64_t bos_id; /* -1 if the config has none (and for qwen2, whose tokenizer adds none) */
	/* model_type: llama, or qwen2 (Qwen2.5-Coder), whose q, k and v projections have biases */
	enum { ARCH_LLAMA, ARCH_QWEN2 } arch;
	bool qkv_bias;
	/* not from config.json: the head's rows, the outputs per sequence (1: score.weight;
	 * scorer_open_lm: the chosen tokens) */
	int64_t outputs;
};

enum scorer_device { SCORER_AUTO, SCORER_CPU, SCORER_CUDA };

struct scorer_params {
	enum scorer_device device;
	int threads;       /* CPU threads; 0: all online CPUs */
	int gpu;           /* CUDA device index; -1: from the node-local rank */
	size_t max_tokens; /* longest sequence scored; longer ones are truncated by the caller */
};
struct scorer_params scorer_default_params(void);

struct scorer;

/* Opens the checkpoint directory dir: parses and validates config.json, maps the tensors and
 * checks every name and shape. NULL with err_set naming the file and what is wrong. With
 * SCORER_AUTO the GPU is used when one is present, else the CPU (scorer_device_name says
 * which). Free with scorer_free. */
struct scorer *scorer_open(const char *dir, const struct scorer_params *p);
/* Opens a LlamaForCausalLM checkpoint dir (or any Llama-shaped one) for the next-token
 * logits of tokens[0..ntokens) only: the head is their rows of lm_head.weight, or of
 * model.embed_tokens.weight when config.json has "tie_word_embeddings": true (as HF ties
 * them; a lm_head.weight beside a tied embedding is then unused); no full vocabulary
 * projection. The caller keeps tokens. NULL with err_set naming the file and what is wrong:
 * a checkpoint with neither lm_head.weight nor a tied embedding, no tokens, a token id
 * outside the vocabulary, or anything scorer_open refuses. Free with scorer_free. */
struct scorer *scorer_open_lm(const char *dir, const struct scorer_params *p,
			      const uint32_t *tokens, size_t ntokens);
void scorer_free(struct scorer *s); /* NULL is a no-op */
/* Outputs per sequence: 1 for a regression scorer, ntokens for scorer_open_lm. */
size_t scorer_outputs(const struct scorer *s);

const struct scorer_config *scorer_get_config(const struct scorer *s);
/* "cpu (N threads)" or "cuda:K (NAME)"; owned by the scorer. */
const char *scorer_device_name(const struct scorer *s);
bool scorer_on_gpu(const struct scorer *s);

/* Scores n sequences: out[i * K + k], K = scorer_outputs(s), is row k of the head applied to
 * the last token's final hidden state of ids[i][0..lens[i]) (every length 1..max_tokens):
 * the score, or the logit of the k-th chosen token. out holds n * K floats, written by the
 * call. 0, or -1 with err_set. */
int scorer_score(struct scorer *s, const uint32_t *const *ids, const size_t *lens, size_t n,
		 float *out);

/* Parses a config.json text (name for messages) into c, for a regression scorer (one label;
 * c->outputs = 1). 0 or -1 with err_set. */
int scorer_parse_config(const char *text, size_t len, const char *name, struct scorer_config *c);

/* Appends what identifies checkpoint dir's output to sig: the SHA-256 of config.json and
 * tokenizer.json, the size and mtime of the weights (hashing gigabytes per plan is too
 * slow). For stage signatures (quality, scorer-train). 0 or -1 with err_set. */
struct buf;
int scorer_checkpoint_signature(const char *dir, struct buf *sig);

/* dir/config.json into c: a regression scorer's (lm false: one label), or any Llama-shaped
 * one's (lm true). 0 or -1 with err_set naming the file. */
int scorer_read_config(const char *dir, bool lm, struct scorer_config *c);
/* Whether every tensor of st is one of c's (or a head HF ignores: lm_head.weight beside
 * score.weight, or score.weight with lm); -1 with err_set naming the first that is not. */
struct st_set;
int scorer_check_names(const struct st_set *st, const struct scorer_config *c, const char *dir,
		       bool lm);
/* j as indented JSON with a final newline, written atomically; 0 or -1 with err_set. */
struct json_t;
int scorer_write_json(const char *path, struct json_t *j);
/* A normal(0, 1) draw (Box-Muller over splitmix64), the one `scorer init` uses. */
double scorer_rng_normal(uint64_t *state);

/* Non-embedding parameters and forward FLOPs of one sequence of n tokens (matmuls and
 * causal attention), for tokens/s and MFU reports. */
double scorer_flops(const struct scorer_config *c, size_t n);

/* The head scorer_init_checkpoint writes: score.weight [1,H] (LlamaForSequenceClassification),
 * lm_head.weight [vocab,H] (LlamaForCausalLM), or none with "tie_word_embeddings": true
 * (LlamaForCausalLM tied to its embedding). */
enum scorer_head { SCORER_HEAD_SCORE, SCORER_HEAD_LM, SCORER_HEAD_TIED };

/* `scorer init`: a randomly initialised checkpoint of preset "tiny" or "1.3b" in dir, with
 * tokenizer.json copied from tokenizer (its vocabulary sets the embedding size). dtype is
 * "f32" or "bf16". 0 or -1 with err_set. */
int scorer_init_checkpoint(const char *dir, const char *preset, uint64_t seed,
			   const char *tokenizer, const char *dtype, enum scorer_head head);

/* The `curate scorer` command: init, score, bench. */
extern const struct cli_opt scorer_cmd_opts[];
int scorer_cmd(const struct cli_cmd *cmd, struct cli_args *a);

/* ---- internals shared by the CPU and CUDA paths ---- */

/* fp32 weights of one layer (row-major [out][in], as PyTorch stores them); the biases of q,
 * k and v are NULL unless c->qkv_bias. */
struct scorer_layer {
	float *attn_norm, *wq, *wk, *wv, *wo, *mlp_norm, *wgate, *wup, *wdown;
	float *bq, *bk, *bv;
};

/* The handle of the GPU library's symbol name (libcurate-cuda.so, opened on first use), or
 * NULL with the reason in why. */
void *scorer_cuda_symbol(const char *name, char *why, size_t whylen);

/* RoPE inverse frequencies for a sequence of n tokens (head_dim/2 values); dynamic scaling
 * depends on n. */
void scorer_rope_freqs(const struct scorer_config *c, size_t n, double *inv_freq);

#endif
