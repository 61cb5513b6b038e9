/* The oracle's `builtin` engine: "let the code model curate data for itself" without a
 * server. A Llama-architecture causal LM (a Hugging Face LlamaForCausalLM directory) runs
 * through curate's own forward pass (scorer/, CPU fp32 or CUDA bf16); the prompt is wrapped in
 * a chat template whose assistant turn is opened on "Rating: [[", and the rating is read from
 * the next-token distribution restricted to the tokens "0".."10" (only their rows of lm_head
 * are computed): its mean (the rating), its mode and its entropy. Nothing is generated. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "log.h"
#include "oracle.h"
#include "par.h"
#include "scorer.h"

/* the assistant turn is opened on this, after the template */
#define RATING_OPEN "Rating: [["

static const struct {
	const char *name, *text;
} presets[] = {
	{"chatml", "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"},
	{"llama3", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|>"
		   "<|start_header_id|>assistant<|end_header_id|>\n\n"},
};

struct builtin {
	struct oracle_engine e;
	struct scorer *s;
	struct bpe *bpe;
	char *before, *after; /* the chat template around {prompt}, RATING_OPEN appended */
	uint32_t tokens[11];
	int values[11]; /* the rating each token stands for */
	size_t ntokens, context, batch;
	char *model;
};

static void builtin_free(struct oracle_engine *oe)
{
	struct builtin *b = (struct builtin *)oe;
	scorer_free(b->s);
	bpe_free(b->bpe);
	free(b->before), free(b->after), free(b->model);
	buf_release(&b->e.identity);
	free(b);
}

/* The digit distribution of one sequence's logits. */
static void distribution(const struct builtin *b, const float *logit, struct oracle_answer *a)
{
	double mx = -INFINITY, z = 0, p[11];
	for (size_t i = 0; i < b->ntokens; i++)
		if (logit[i] > mx)
			mx = logit[i];
	for (size_t i = 0; i < b->ntokens; i++)
		z += p[i] = exp((double)logit[i] - mx);
	double mean = 0, ent = 0, best = -1;
	for (size_t i = 0; i < b->ntokens; i++) {
		p[i] /= z;
		a->probs[b->values[i]] += p[i];
		mean += p[i] * b->values[i];
		if (p[i] > 0)
			ent -= p[i] * log(p[i]);
		if (p[i] > best)
			best = p[i], a->mode = b->values[i];
	}
	a->expected = mean;
	a->entropy = ent;
}

static int builtin_answer(struct oracle_engine *oe, struct oracle_item *const *items, size_t n,
			  struct oracle_cache *cache, struct stats *st)
{
	struct builtin *b = (struct builtin *)oe;
	struct bpe_ids *ids = xcalloc(b->batch, sizeof *ids);
	const uint32_t **ptr = xcalloc(b->batch, sizeof *ptr);
	size_t *lens = xcalloc(b->batch, sizeof *lens);
	struct oracle_item **which = xcalloc(b->batch, sizeof *which);
	float *out = xcalloc(b->batch * b->ntokens, sizeof *out);
	struct buf text = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		size_t m = 0;
		for (; i < n && m < b->batch; i++) {
			struct oracle_item *it = items[i];
			oracle_answer_release(&it->a);
			it->a.model = xstrdup(b->model);
			buf_set(&text, b->before, strlen(b->before));
			buf_append(&text, it->prompt, it->prompt_len);
			buf_puts(&text, b->after);
			ids[m].n = 0;
			if (bpe_encode(b->bpe, text.p, text.len, &ids[m]) < 0) {
				rc = -1;
				break;
			}
			it->a.prompt_tokens = (int64_t)ids[m].n;
			if (ids[m].n > b->context || !ids[m].n) {
				/* too long for the model's context: counted as truncated */
				it->a.finish = xstrdup("length");
				stats_count(st, "answered", 1);
				if (oracle_cache_put(cache, it->key, &it->a) < 0)
					rc = -1;
				continue;
			}
			ptr[m] = ids[m].v, lens[m] = ids[m].n, which[m++] = it;
		}
		if (rc || !m)
			continue;
		if (scorer_score(b->s, ptr, lens, m, out) < 0) {
			rc = -1;
			break;
		}
		for (size_t k = 0; k < m && !rc; k++) {
			struct oracle_answer *a = &which[k]->a;
			a->finish = xstrdup("stop");
			distribution(b, out + k * b->ntokens, a);
			stats_count(st, "answered", 1);
			stats_count(st, "prompt_tokens", (uint64_t)a->prompt_tokens);
			progress_add_extra(b->e.progress, 0, (uint64_t)a->prompt_tokens);
			progress_add(b->e.progress, 1, which[k]->prompt_len);
			if (oracle_cache_put(cache, which[k]->key, a) < 0)
				rc = -1;
		}
	}
	for (size_t k = 0; k < b->batch; k++)
		bpe_ids_release(&ids[k]);
	free(ids), free(ptr), free(lens), free(which), free(out);
	buf_release(&text);
	return rc;
}

/* The chat template: a preset's name or a text with {prompt}. */
static int split_template(struct builtin *b, const char *spec)
{
	const char *t = spec;
	for (size_t i = 0; i < ARRAY_LEN(presets); i++)
		if (!strcmp(spec, presets[i].name))
			t = presets[i].text;
	const char *slot = strstr(t, "{prompt}");
	if (!slot) {
		err_set("oracle.chat_template: \"%s\" is neither a preset (chatml, llama3) nor a "
			"text with a {prompt} slot", spec);
		return -1;
	}
	b->before = xstrndup(t, (size_t)(slot - t));
	b->after = xasprintf("%s%s", slot + 8, RATING_OPEN);
	return 0;
}

/* The vocabulary's tokens for "0".."10" (each must be one token; "10" is used when the
 * vocabulary has it). */
static int digit_tokens(struct builtin *b, const char *tok_path)
{
	for (int v = 0; v <= 10; v++) {
		char s[4];
		snprintf(s, sizeof s, "%d", v);
		int64_t id = bpe_token_id(b->bpe, s);
		if (id < 0 && v < 10) {
			err_set("%s: the digit \"%s\" is not a token of the vocabulary, so the rating "
				"cannot be read from one next-token distribution", tok_path, s);
			return -1;
		}
		if (id >= 0) {
			b->tokens[b->ntokens] = (uint32_t)id;
			b->values[b->ntokens++] = v;
		}
	}
	return 0;
}

struct oracle_engine *oracle_builtin_new(const struct config *cfg, int rank)
{
	const char *dir = config_str(cfg, "oracle.model");
	if (!*dir) {
		err_set("oracle.model: name the checkpoint directory of the builtin engine");
		return NULL;
	}
	struct builtin *b = xcalloc(1, sizeof *b);
	b->e.name = "builtin";
	b->e.answer = builtin_answer;
	b->e.free = builtin_free;
	b->context = (size_t)config_int(cfg, "oracle.context");
	b->batch = 8;
	const char *base = strrchr(dir, '/');
	b->model = xstrdup(base && base[1] ? base + 1 : dir);
	char *tok = xasprintf("%s/tokenizer.json", dir);
	int ok = split_template(b, config_str(cfg, "oracle.chat_template")) == 0 &&
		 (b->bpe = bpe_load(tok, NULL)) && digit_tokens(b, tok) == 0;
	free(tok);
	if (ok) {
		struct scorer_params p = scorer_default_params();
		const char *dev = config_str(cfg, "oracle.device");
		p.device = !strcmp(dev, "cpu") ? SCORER_CPU : !strcmp(dev, "cuda") ? SCORER_CUDA : SCORER_AUTO;
		p.max_tokens = b->context;
		p.threads = (int)config_int(cfg, "oracle.threads");
		if (!p.threads) /* share the node's CPUs among its ranks */
			p.threads = par_cpu_share();
		b->s = scorer_open_lm(dir, &p, b->tokens, b->ntokens);
		ok = b->s != NULL;
	}
	if (!ok) {
		builtin_free(&b->e);
		return NULL;
	}
	if (rank == 0)
		log_info("stage oracle: builtin engine %s on %s", dir, scorer_device_name(b->s));
	char *cp = xasprintf("%s/config.json", dir), h[SHA256_HEX] = "";
	sha256_file_hex(cp, h);
	free(cp);
	buf_printf(&b->e.identity, "builtin\nconfig=%s\nbefore=%s\nafter=%s\n", h, b->before,
		   b->after);
	return &b->e;
}
