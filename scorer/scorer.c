/* scorer: config.json parsing and validation, the checkpoint's tensor names and shapes, and
 * the handle that scores on the CPU (cpu.c) or the GPU (scorer_cuda.cu, when built). Both
 * paths apply a head of K rows to the last token's final hidden state: score.weight (K = 1),
 * or the chosen rows of lm_head.weight or the tied embedding (scorer_open_lm). */
#include "scorer.h"

#include <dlfcn.h>
#include <jansson.h>
#include <limits.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpu.h"
#include "par.h"
#include "safetensors.h"
#include "scorer_cuda.h"
#include "util.h"

struct scorer {
	struct scorer_config c;
	struct scorer_params p;
	struct cpu_model *cpu;
	struct cuda_model *gpu;
	char device[160];
};

struct scorer_params scorer_default_params(void)
{
	return (struct scorer_params){SCORER_AUTO, 0, -1, 2048};
}

/* An integer field: required, or def when absent (def < 0 means required). */
static int get_int(json_t *j, const char *key, int64_t def, int64_t *out, const char *name)
{
	json_t *v = json_object_get(j, key);
	if (!v || json_is_null(v)) {
		if (def < 0) {
			err_set("%s: \"%s\" is missing", name, key);
			return -1;
		}
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > ((json_int_t)1 << 31)) {
		err_set("%s: \"%s\" must be a non-negative integer", name, key);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int get_num(json_t *j, const char *key, double def, double *out, const char *name)
{
	json_t *v = json_object_get(j, key);
	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_number(v) || !(json_number_value(v) > 0)) {
		err_set("%s: \"%s\" must be a positive number", name, key);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

static int parse_rope_scaling(json_t *rs, const char *name, struct scorer_config *c)
{
	c->rope_type = ROPE_NONE;
	if (!rs || json_is_null(rs))
		return 0;
	const char *t = json_string_value(json_object_get(rs, "rope_type"));
	if (!t)
		t = json_string_value(json_object_get(rs, "type"));
	if (!json_is_object(rs) || !t) {
		err_set("%s: \"rope_scaling\" must be null or an object with \"rope_type\"", name);
		return -1;
	}
	if (!strcmp(t, "default"))
		return 0;
	if (get_num(rs, "factor", -1, &c->rope_factor, name) < 0 || c->rope_factor <= 0) {
		err_set("%s: rope_scaling \"%s\" needs a positive \"factor\"", name, t);
		return -1;
	}
	if (!strcmp(t, "linear"))
		c->rope_type = ROPE_LINEAR;
	else if (!strcmp(t, "dynamic"))
		c->rope_type = ROPE_DYNAMIC;
	else if (!strcmp(t, "llama3")) {
		c->rope_type = ROPE_LLAMA3;
		if (get_num(rs, "low_freq_factor", 1, &c->low_freq_factor, name) < 0 ||
		    get_num(rs, "high_freq_factor", 4, &c->high_freq_factor, name) < 0 ||
		    get_int(rs, "original_max_position_embeddings", 8192, &c->rope_orig_max_pos,
			    name) < 0)
			return -1;
		if (c->high_freq_factor <= c->low_freq_factor) {
			err_set("%s: rope_scaling: high_freq_factor must exceed low_freq_factor", name);
			return -1;
		}
	} else {
		err_set("%s: rope_scaling type \"%s\" is not supported (linear, dynamic, llama3)",
			name, t);
		return -1;
	}
	return 0;
}

/* RoPE as transformers 4 writes it (top-level "rope_theta" and "rope_scaling") or as
 * transformers 5 does ("rope_parameters": {"rope_type", "rope_theta", "factor", ...}). */
static int parse_rope(json_t *j, const char *name, struct scorer_config *c)
{
	json_t *rp = json_object_get(j, "rope_parameters");
	if (!rp || json_is_null(rp)) {
		if (get_num(j, "rope_theta", 10000, &c->theta, name) < 0)
			return -1;
		return parse_rope_scaling(json_object_get(j, "rope_scaling"), name, c);
	}
	if (!json_is_object(rp)) {
		err_set("%s: \"rope_parameters\" must be an object", name);
		return -1;
	}
	double top;
	if (get_num(j, "rope_theta", 10000, &top, name) < 0 ||
	    get_num(rp, "rope_theta", top, &c->theta, name) < 0)
		return -1;
	return parse_rope_scaling(rp, name, c);
}

/* Fields that would change the equations we implement must have their Llama values; a
 * regression scorer (lm false) has one label. */
static int check_variant(json_t *j, const char *name, bool lm, struct scorer_config *c)
{
	const char *mt = json_string_value(json_object_get(j, "model_type"));
	c->arch = mt && !strcmp(mt, "qwen2") ? ARCH_QWEN2 : ARCH_LLAMA;
	if (mt && strcmp(mt, "llama") && c->arch != ARCH_QWEN2) {
		err_set("%s: model_type \"%s\" (only \"llama\" and \"qwen2\" are supported)", name,
			mt);
		return -1;
	}
	const char *act = json_string_value(json_object_get(j, "hidden_act"));
	if (act && strcmp(act, "silu")) {
		err_set("%s: hidden_act \"%s\" (only \"silu\" is supported)", name, act);
		return -1;
	}
	if (json_is_true(json_object_get(j, "attention_bias")) ||
	    json_is_true(json_object_get(j, "mlp_bias"))) {
		err_set("%s: attention_bias / mlp_bias are not supported", name);
		return -1;
	}
	/* Qwen2 always has q, k and v biases; its sliding window is off in every released
	 * checkpoint, and attention over a window is not what we compute */
	c->qkv_bias = c->arch == ARCH_QWEN2;
	if (c->arch == ARCH_QWEN2 && json_is_true(json_object_get(j, "use_sliding_window"))) {
		err_set("%s: use_sliding_window is not supported", name);
		return -1;
	}
	json_t *nl = json_object_get(j, "num_labels"), *labels = json_object_get(j, "id2label");
	if (!lm && ((nl && json_integer_value(nl) != 1) ||
		    (json_is_object(labels) && json_object_size(labels) != 1))) {
		err_set("%s: a regression scorer has one label (num_labels / id2label)", name);
		return -1;
	}
	return 0;
}

static int parse_config(const char *text, size_t len, const char *name, bool lm,
			struct scorer_config *c)
{
	memset(c, 0, sizeof *c);
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je);
	if (!json_is_object(j)) {
		err_set("%s:%d: %s", name, j ? 1 : je.line, j ? "not a JSON object" : je.text);
		json_decref(j);
		return -1;
	}
	int rc = -1;
	if (check_variant(j, name, lm, c) < 0 || get_int(j, "vocab_size", -1, &c->vocab, name) < 0 ||
	    get_int(j, "hidden_size", -1, &c->hidden, name) < 0 ||
	    get_int(j, "num_hidden_layers", -1, &c->layers, name) < 0 ||
	    get_int(j, "num_attention_heads", -1, &c->heads, name) < 0 ||
	    get_int(j, "intermediate_size", -1, &c->ffn, name) < 0 ||
	    get_int(j, "num_key_value_heads", c->heads, &c->kv_heads, name) < 0 ||
	    get_int(j, "max_position_embeddings", 2048, &c->max_pos, name) < 0 ||
	    get_num(j, "rms_norm_eps", 1e-6, &c->eps, name) < 0 ||
	    parse_rope(j, name, c) < 0)
		goto out;
	if (!c->vocab || !c->hidden || !c->layers || !c->heads || !c->kv_heads || !c->ffn) {
		err_set("%s: vocab_size, hidden_size, num_hidden_layers, num_attention_heads, "
			"num_key_value_heads and intermediate_size must be positive", name);
		goto out;
	}
	if (get_int(j, "head_dim", c->hidden / c->heads, &c->head_dim, name) < 0)
		goto out;
	if (c->heads % c->kv_heads || c->head_dim < 2 || c->head_dim % 2 ||
	    (!json_object_get(j, "head_dim") && c->hidden % c->heads)) {
		err_set("%s: heads (%lld) must be a multiple of key/value heads (%lld) and the head "
			"size (%lld) even", name, (long long)c->heads, (long long)c->kv_heads,
			(long long)c->head_dim);
		goto out;
	}
	json_t *tie = json_object_get(j, "tie_word_embeddings"), *bos = json_object_get(j, "bos_token_id");
	c->tied = json_is_true(tie);
	c->bos_id = -1;
	if (bos && !json_is_null(bos)) {
		/* a bos the embedding has no row for would read past it: an error, not ignored */
		if (!json_is_integer(bos) || json_integer_value(bos) < 0 ||
		    json_integer_value(bos) >= c->vocab) {
			err_set("%s: bos_token_id must be an id below vocab_size (%lld) or null", name,
				(long long)c->vocab);
			goto out;
		}
		c->bos_id = json_integer_value(bos);
	}
	if (c->arch == ARCH_QWEN2) /* its tokenizer prepends nothing (add_bos_token false) */
		c->bos_id = -1;
	c->outputs = 1;
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int scorer_parse_config(const char *text, size_t len, const char *name, struct scorer_config *c)
{
	return parse_config(text, len, name, false, c);
}

void scorer_rope_freqs(const struct scorer_config *c, size_t n, double *inv_freq)
{
	size_t half = (size_t)c->head_dim / 2;
	double dim = (double)c->head_dim, base = c->theta;
	if (c->rope_type == ROPE_DYNAMIC && (double)n > (double)c->max_pos)
		base *= pow(c->rope_factor * (double)n / (double)c->max_pos - (c->rope_factor - 1),
			    dim / (dim - 2));
	for (size_t i = 0; i < half; i++) {
		double f = 1.0 / pow(base, (double)(2 * i) / dim);
		if (c->rope_type == ROPE_LINEAR)
			f /= c->rope_factor;
		else if (c->rope_type == ROPE_LLAMA3) {
			double old = (double)c->rope_orig_max_pos, wl = 2 * M_PI / f;
			double lo = old / c->low_freq_factor, hi = old / c->high_freq_factor;
			if (wl > lo)
				f /= c->rope_factor;
			else if (wl >= hi) {
				double s = (old / wl - c->low_freq_factor) /
					   (c->high_freq_factor - c->low_freq_factor);
				f = (1 - s) * f / c->rope_factor + s * f;
			}
		}
		inv_freq[i] = f;
	}
}

double scorer_flops(const struct scorer_config *c, size_t n)
{
	double H = (double)c->hidden, q = (double)(c->heads * c->head_dim);
	double kv = (double)(c->kv_heads * c->head_dim), F = (double)c->ffn;
	double per_layer = H * q * 2 + H * kv * 2 + 3 * H * F;
	double matmul = 2 * per_layer * (double)c->layers * (double)n;
	/* causal attention: QK^T and PV over (n+1)/2 keys on average */
	double attn = 4 * q * (double)c->layers * (double)n * (double)(n + 1) / 2;
	return matmul + attn + 2 * H;
}

/* ---- tensors ---- */

struct want {
	const char *name;
	int64_t d0, d1; /* d1 < 0: a vector */
	float **dst;
};

/* The tensor w names, with the shape it wants; NULL with err_set. */
static const struct st_tensor *find_shaped(const struct st_set *st, const char *dir,
					   const struct want *w)
{
	const struct st_tensor *t = st_find(st, w->name);
	if (!t) {
		err_set("%s: tensor '%s' is missing", dir, w->name);
		return NULL;
	}
	int nd = w->d1 < 0 ? 1 : 2;
	if (t->ndim != nd || t->shape[0] != w->d0 || (nd == 2 && t->shape[1] != w->d1)) {
		char got[96] = "", want[48];
		for (int d = 0; d < t->ndim; d++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "",
				 (long long)t->shape[d]);
		if (nd == 2)
			snprintf(want, sizeof want, "%lld, %lld", (long long)w->d0, (long long)w->d1);
		else
			snprintf(want, sizeof want, "%lld", (long long)w->d0);
		err_set("%s: tensor '%s' has shape [%s], config.json implies [%s]", t->file,
			w->name, got, want);
		return NULL;
	}
	return t;
}

/* The tensor w names, checked and converted to fp32 into *w->dst. */
static int take(const struct st_set *st, const char *dir, const struct want *w)
{
	const struct st_tensor *t = find_shaped(st, dir, w);
	if (!t)
		return -1;
	size_t n = (size_t)w->d0 * (size_t)(w->d1 < 0 ? 1 : w->d1);
	*w->dst = xmalloc(n * sizeof(float));
	st_to_f32(t->dtype, t->data, n, *w->dst);
	return 0;
}

/* Rows rows[0..nrows) of the matrix w names, checked and converted to fp32 into *w->dst
 * ([nrows][d1]); the other rows are never converted. Every row must be < d0. */
static int take_rows(const struct st_set *st, const char *dir, const struct want *w,
		     const uint32_t *rows, size_t nrows)
{
	const struct st_tensor *t = find_shaped(st, dir, w);
	if (!t)
		return -1;
	size_t cols = (size_t)w->d1, row_bytes = cols * st_dtype_size(t->dtype);
	*w->dst = xmalloc(nrows * cols * sizeof(float));
	for (size_t i = 0; i < nrows; i++)
		st_to_f32(t->dtype, (const char *)t->data + rows[i] * row_bytes, cols,
			  *w->dst + i * cols);
	return 0;
}

/* Every tensor of the checkpoint must be one we use, or one HF also ignores (the other
 * head: lm_head.weight in a classifier, score.weight in a causal LM). */
int scorer_check_names(const struct st_set *st, const struct scorer_config *c, const char *dir,
		       bool lm)
{
	for (size_t i = 0; i < st_count(st); i++) {
		const char *n = st_at(st, i)->name;
		int ok = !strcmp(n, "model.embed_tokens.weight") || !strcmp(n, "model.norm.weight") ||
			 !strcmp(n, "score.weight") || !strcmp(n, "lm_head.weight") ||
			 strstr(n, "rotary_emb.inv_freq");
		long long l;
		char rest[64];
		if (!ok && sscanf(n, "model.layers.%lld.%63s", &l, rest) == 2 && l >= 0 &&
		    l < c->layers) {
			static const char *parts[] = {
				"self_attn.q_proj.weight", "self_attn.k_proj.weight",
				"self_attn.v_proj.weight", "self_attn.o_proj.weight",
				"mlp.gate_proj.weight",    "mlp.up_proj.weight",
				"mlp.down_proj.weight",    "input_layernorm.weight",
				"post_attention_layernorm.weight"};
			static const char *biases[] = {"self_attn.q_proj.bias", "self_attn.k_proj.bias",
						       "self_attn.v_proj.bias"};
			for (size_t k = 0; k < ARRAY_LEN(parts); k++)
				ok |= !strcmp(rest, parts[k]);
			for (size_t k = 0; c->qkv_bias && k < ARRAY_LEN(biases); k++)
				ok |= !strcmp(rest, biases[k]);
		}
		if (!ok) {
			err_set("%s: unexpected tensor '%s' in %s (not part of a %s with %lld layers)",
				dir, n, st_at(st, i)->file,
				c->arch == ARCH_QWEN2
					? (lm ? "Qwen2ForCausalLM" : "Qwen2ForSequenceClassification")
					: (lm ? "LlamaForCausalLM" : "LlamaForSequenceClassification"),
				(long long)c->layers);
			return -1;
		}
	}
	return 0;
}

/* fp32 copies of every weight, for the CPU path (which keeps them) or the GPU upload; head
 * is [c->outputs][H]. */
struct host_weights {
	float *embed, *norm, *head;
	struct scorer_layer *layers;
};

static void host_weights_release(struct host_weights *w, int64_t nlayers)
{
	for (int64_t l = 0; w->layers && l < nlayers; l++) {
		struct scorer_layer *L = &w->layers[l];
		free(L->attn_norm), free(L->wq), free(L->wk), free(L->wv), free(L->wo);
		free(L->mlp_norm), free(L->wgate), free(L->wup), free(L->wdown);
		free(L->bq), free(L->bk), free(L->bv);
	}
	free(w->layers), free(w->embed), free(w->norm), free(w->head);
	memset(w, 0, sizeof *w);
}

/* The LM head: rows tokens[0..c->outputs) of the tied embedding (already in hw->embed) or
 * of lm_head.weight. */
static int load_lm_head(const struct st_set *st, const struct scorer_config *c,
			const char *dir, const uint32_t *tokens, struct host_weights *hw)
{
	size_t H = (size_t)c->hidden, K = (size_t)c->outputs;
	if (c->tied) {
		hw->head = xmalloc(K * H * sizeof(float));
		for (size_t k = 0; k < K; k++)
			memcpy(hw->head + k * H, hw->embed + tokens[k] * H, H * sizeof(float));
		return 0;
	}
	if (!st_find(st, "lm_head.weight")) {
		char *w = xasprintf("%s/model.safetensors", dir);
		if (!file_exists(w))
			free(w), w = xasprintf("%s/model.safetensors.index.json", dir);
		err_set("%s: no tensor 'lm_head.weight', and %s/config.json does not tie the word "
			"embeddings (\"tie_word_embeddings\" is not true): the checkpoint has no "
			"LM head", w, dir);
		free(w);
		return -1;
	}
	struct want w = {"lm_head.weight", c->vocab, c->hidden, &hw->head};
	return take_rows(st, dir, &w, tokens, K);
}

/* tokens: the LM head's rows (c->outputs of them), or NULL for score.weight */
static int load_f32(const struct st_set *st, const struct scorer_config *c, const char *dir,
		    const uint32_t *tokens, struct host_weights *hw)
{
	int64_t H = c->hidden, V = c->vocab, F = c->ffn, q = c->heads * c->head_dim;
	int64_t kv = c->kv_heads * c->head_dim;
	hw->layers = xcalloc((size_t)c->layers, sizeof *hw->layers);
	struct want top[] = {{"model.embed_tokens.weight", V, H, &hw->embed},
			     {"model.norm.weight", H, -1, &hw->norm},
			     {"score.weight", 1, H, &hw->head}};
	size_t ntop = tokens ? 2 : 3; /* the last is a regression scorer's head */
	int rc = 0;
	for (size_t i = 0; i < ntop && !rc; i++)
		rc = take(st, dir, &top[i]);
	if (!rc && tokens)
		rc = load_lm_head(st, c, dir, tokens, hw);
	for (int64_t l = 0; l < c->layers && !rc; l++) {
		struct scorer_layer *L = &hw->layers[l];
		struct want w[] = {
			{"input_layernorm.weight", H, -1, &L->attn_norm},
			{"self_attn.q_proj.weight", q, H, &L->wq},
			{"self_attn.k_proj.weight", kv, H, &L->wk},
			{"self_attn.v_proj.weight", kv, H, &L->wv},
			{"self_attn.o_proj.weight", H, q, &L->wo},
			{"post_attention_layernorm.weight", H, -1, &L->mlp_norm},
			{"mlp.gate_proj.weight", F, H, &L->wgate},
			{"mlp.up_proj.weight", F, H, &L->wup},
			{"mlp.down_proj.weight", H, F, &L->wdown},
			{"self_attn.q_proj.bias", q, -1, &L->bq},
			{"self_attn.k_proj.bias", kv, -1, &L->bk},
			{"self_attn.v_proj.bias", kv, -1, &L->bv},
		};
		size_t nw = ARRAY_LEN(w) - (c->qkv_bias ? 0 : 3);
		for (size_t i = 0; i < nw && !rc; i++) {
			char full[128];
			snprintf(full, sizeof full, "model.layers.%lld.%s", (long long)l, w[i].name);
			w[i].name = full;
			rc = take(st, dir, &w[i]);
		}
	}
	if (rc)
		host_weights_release(hw, c->layers);
	return rc;
}

/* ---- the GPU library, opened on first use ---- */

static struct {
	int tried;
	void *lib;
	cuda_available_fn available;
	cuda_model_new_fn model_new;
	cuda_model_free_fn model_free;
	cuda_model_score_fn model_score;
	char why[512];
} cuda;

/* $CURATE_CUDA_LIB, else libcurate-cuda.so beside the running binary. */
static void cuda_open(void)
{
	if (cuda.tried)
		return;
	cuda.tried = 1;
	char path[PATH_MAX + 32] = "";
	const char *env = getenv("CURATE_CUDA_LIB");
	if (env && *env)
		snprintf(path, sizeof path, "%s", env);
	else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			slash[1] = 0;
		snprintf(path, sizeof path, "%s%s", exe, CURATE_CUDA_LIB);
	}
	if (!file_exists(path)) {
		snprintf(cuda.why, sizeof cuda.why,
			 "this build has no CUDA path (%s is missing: nvcc was not found when it "
			 "was built)", path);
		return;
	}
	cuda.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (cuda.lib) {
		cuda.available = (cuda_available_fn)dlsym(cuda.lib, "curate_cuda_available");
		cuda.model_new = (cuda_model_new_fn)dlsym(cuda.lib, "curate_cuda_model_new");
		cuda.model_free = (cuda_model_free_fn)dlsym(cuda.lib, "curate_cuda_model_free");
		cuda.model_score = (cuda_model_score_fn)dlsym(cuda.lib, "curate_cuda_model_score");
	}
	if (!cuda.lib || !cuda.available || !cuda.model_new || !cuda.model_free ||
	    !cuda.model_score) {
		snprintf(cuda.why, sizeof cuda.why, "%s: %s", path, dlerror());
		cuda.available = NULL;
		return;
	}
	if (!cuda.available(cuda.why, sizeof cuda.why))
		cuda.available = NULL;
}

void *scorer_cuda_symbol(const char *name, char *why, size_t whylen)
{
	cuda_open();
	void *f = cuda.available ? dlsym(cuda.lib, name) : NULL;
	if (!f)
		snprintf(why, whylen, "%s", cuda.available ? "the CUDA library has no " : cuda.why);
	if (!f && cuda.available)
		snprintf(why + strlen(why), whylen - strlen(why), "%s", name);
	return f;
}

/* Whether the library applies scorer_layer's q/k/v biases (it says so by a symbol). */
static int cuda_has_bias(void)
{
	return cuda.available && dlsym(cuda.lib, "curate_cuda_qkv_bias") != NULL;
}

static int cuda_usable(void)
{
	cuda_open();
	return cuda.available != NULL;
}

int scorer_checkpoint_signature(const char *dir, struct buf *sig)
{
	static const char *const hashed[] = {"config.json", "tokenizer.json"};
	static const char *const stamped[] = {"model.safetensors", "model.safetensors.index.json"};
	for (size_t i = 0; *dir && i < ARRAY_LEN(hashed); i++) {
		char *path = xasprintf("%s/%s", dir, hashed[i]), hex[SHA256_HEX] = "";
		if (file_exists(path) && sha256_file_hex(path, hex) < 0) {
			free(path);
			return -1;
		}
		buf_printf(sig, "%s %s\n", hashed[i], hex);
		free(path);
	}
	for (size_t i = 0; *dir && i < ARRAY_LEN(stamped); i++) {
		char *path = xasprintf("%s/%s", dir, stamped[i]);
		struct stat sb;
		if (stat(path, &sb) == 0)
			buf_printf(sig, "%s %lld %lld.%09ld\n", stamped[i], (long long)sb.st_size,
				   (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
		free(path);
	}
	return 0;
}

int scorer_read_config(const char *dir, bool lm, struct scorer_config *c)
{
	char *path = xasprintf("%s/config.json", dir);
	struct buf b = BUF_INIT;
	int rc = read_file(path, &b);
	if (!rc)
		rc = parse_config(b.p ? b.p : "", b.len, path, lm, c);
	buf_release(&b);
	free(path);
	return rc;
}

/* The chosen tokens must be inside the vocabulary (config.json's, which every shape check
 * uses). */
static int check_tokens(const char *dir, const struct scorer_config *c, const uint32_t *tokens,
			size_t ntokens)
{
	if (!ntokens || !tokens) {
		err_set("%s: no tokens chosen for the LM head", dir);
		return -1;
	}
	for (size_t k = 0; k < ntokens; k++)
		if (tokens[k] >= (uint64_t)c->vocab) {
			err_set("%s/config.json: chosen token id %u outside the vocabulary of %lld",
				dir, tokens[k], (long long)c->vocab);
			return -1;
		}
	return 0;
}

/* lm false: a regression scorer (score.weight); true: a causal LM's rows tokens[0..ntokens) */
static struct scorer *open_checkpoint(const char *dir, const struct scorer_params *p, bool lm,
				      const uint32_t *tokens, size_t ntokens)
{
	struct scorer *s = xcalloc(1, sizeof *s);
	s->p = p ? *p : scorer_default_params();
	if (!s->p.max_tokens)
		s->p.max_tokens = 2048;
	struct st_set *st = NULL;
	if (scorer_read_config(dir, lm, &s->c) < 0 ||
	    (lm && check_tokens(dir, &s->c, tokens, ntokens) < 0) || !(st = st_open_dir(dir)) ||
	    scorer_check_names(st, &s->c, dir, lm) < 0)
		goto fail;
	if (lm)
		s->c.outputs = (int64_t)ntokens;
	int want_gpu = s->p.device != SCORER_CPU && cuda_usable();
	if (want_gpu && s->c.qkv_bias && !cuda_has_bias()) {
		if (s->p.device == SCORER_CUDA) {
			err_set("%s: --device cuda, but this CUDA library has no q/k/v biases (qwen2)",
				dir);
			goto fail;
		}
		want_gpu = 0;
	}
	if (s->p.device == SCORER_CUDA && !want_gpu) {
		err_set("%s: --device cuda, but %s", dir, cuda.why);
		goto fail;
	}
	struct host_weights hw = {0};
	if (load_f32(st, &s->c, dir, lm ? tokens : NULL, &hw) < 0)
		goto fail;
	if (want_gpu) {
		char err[512] = "";
		int gpu = s->p.gpu >= 0 ? s->p.gpu : par_local_rank();
		s->gpu = cuda.model_new(&s->c, hw.embed, hw.layers, hw.norm, hw.head, gpu,
					s->p.max_tokens, s->device, sizeof s->device, err,
					sizeof err);
		host_weights_release(&hw, s->c.layers);
		if (!s->gpu) {
			err_set("%s: %s", dir, err);
			goto fail;
		}
	} else {
		s->cpu = cpu_model_new(&s->c, hw.embed, hw.layers, hw.norm, hw.head, s->p.threads,
				       s->p.max_tokens);
		snprintf(s->device, sizeof s->device, "cpu (%d threads)", cpu_model_threads(s->cpu));
	}
	st_free(st); /* the weights were copied or uploaded */
	return s;
fail:
	st_free(st);
	scorer_free(s);
	return NULL;
}

struct scorer *scorer_open(const char *dir, const struct scorer_params *p)
{
	return open_checkpoint(dir, p, false, NULL, 0);
}

struct scorer *scorer_open_lm(const char *dir, const struct scorer_params *p,
			      const uint32_t *tokens, size_t ntokens)
{
	return open_checkpoint(dir, p, true, tokens, ntokens);
}

void scorer_free(struct scorer *s)
{
	if (!s)
		return;
	cpu_model_free(s->cpu);
	if (s->gpu)
		cuda.model_free(s->gpu);
	free(s);
}

const struct scorer_config *scorer_get_config(const struct scorer *s) { return &s->c; }
const char *scorer_device_name(const struct scorer *s) { return s->device; }
bool scorer_on_gpu(const struct scorer *s) { return s->gpu != NULL; }
size_t scorer_outputs(const struct scorer *s) { return (size_t)s->c.outputs; }

int scorer_score(struct scorer *s, const uint32_t *const *ids, const size_t *lens, size_t n,
		 float *out)
{
	for (size_t i = 0; i < n; i++) {
		if (!lens[i] || lens[i] > s->p.max_tokens) {
			err_set("sequence %zu: %zu tokens (1 to %zu)", i, lens[i], s->p.max_tokens);
			return -1;
		}
		for (size_t t = 0; t < lens[i]; t++)
			if (ids[i][t] >= (uint64_t)s->c.vocab) {
				err_set("sequence %zu: token id %u outside the vocabulary of %lld", i,
					ids[i][t], (long long)s->c.vocab);
				return -1;
			}
	}
	if (s->gpu) {
		char err[512] = "";
		if (cuda.model_score(s->gpu, ids, lens, n, out, err, sizeof err) < 0) {
			err_set("%s", err);
			return -1;
		}
		return 0;
	}
	size_t K = (size_t)s->c.outputs;
	for (size_t i = 0; i < n; i++)
		cpu_model_score(s->cpu, ids[i], lens[i], out + i * K);
	return 0;
}
