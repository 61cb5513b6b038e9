/* train: `curate scorer train` and the scorer-train stage (docs/scorer-train.md). Reads rated
 * documents, tokenizes them as the quality stage does, holds out a split by id hash, and
 * fine-tunes a Llama or Qwen2 checkpoint into a one-label regression scorer: every weight
 * with AdamW on MSE (mode full, the report's recipe), or only the head by ridge regression on
 * the frozen body's last-token features (mode head). Every rank holds the whole model and
 * computes the gradient of its share of each batch; the gradients are summed in a ring of
 * fixed order, so a run gives the same bits every time for its rank count. Rank 0 writes
 * checkpoints, from which a killed run resumes to the same result, and the output: a
 * ...ForSequenceClassification checkpoint that the quality stage and transformers load. */
#include "train.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpe.h"
#include "config.h"
#include "cpu.h"
#include "log.h"
#include "par.h"
#include "safetensors.h"
#include "shard.h"
#include "util.h"

/* ---- the layout ---- */

static size_t add_param(struct train_layout *L, size_t *cap, const char *name, int64_t d0,
			int64_t d1, bool decay)
{
	if (L->n == *cap)
		L->v = xrealloc(L->v, (*cap = *cap ? 2 * *cap : 64) * sizeof *L->v);
	struct train_param *p = &L->v[L->n++];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	p->d0 = d0, p->d1 = d1, p->decay = decay;
	p->off = L->total, p->n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
	L->total += p->n;
	return p->off;
}

void train_layout_init(struct train_layout *L, const struct scorer_config *c)
{
	memset(L, 0, sizeof *L);
	size_t cap = 0;
	int64_t H = c->hidden, F = c->ffn, q = c->heads * c->head_dim, kv = c->kv_heads * c->head_dim;
	L->layer = xcalloc((size_t)c->layers, sizeof *L->layer);
	L->embed = add_param(L, &cap, "model.embed_tokens.weight", c->vocab, H, true);
	char name[80];
	for (int64_t l = 0; l < c->layers; l++) {
		struct train_layer_off *o = &L->layer[l];
#define P(field, part, d0, d1, decay)                                                       \
	(snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, part),           \
	 o->field = add_param(L, &cap, name, d0, d1, decay))
		P(attn_norm, "input_layernorm.weight", H, 0, false);
		P(wq, "self_attn.q_proj.weight", q, H, true);
		P(wk, "self_attn.k_proj.weight", kv, H, true);
		P(wv, "self_attn.v_proj.weight", kv, H, true);
		o->bq = o->bk = o->bv = NO_PARAM;
		if (c->qkv_bias) {
			P(bq, "self_attn.q_proj.bias", q, 0, false);
			P(bk, "self_attn.k_proj.bias", kv, 0, false);
			P(bv, "self_attn.v_proj.bias", kv, 0, false);
		}
		P(wo, "self_attn.o_proj.weight", H, q, true);
		P(mlp_norm, "post_attention_layernorm.weight", H, 0, false);
		P(wgate, "mlp.gate_proj.weight", F, H, true);
		P(wup, "mlp.up_proj.weight", F, H, true);
		P(wdown, "mlp.down_proj.weight", H, F, true);
#undef P
	}
	L->norm = add_param(L, &cap, "model.norm.weight", H, 0, false);
	L->head = add_param(L, &cap, "score.weight", 1, H, true);
}

void train_layout_release(struct train_layout *L)
{
	free(L->v), free(L->layer);
	memset(L, 0, sizeof *L);
}

/* ---- options ---- */

struct topts {
	enum { MODE_FULL, MODE_HEAD } mode;
	int64_t epochs, batch_tokens, grad_accum, max_tokens, eval_every, ckpt_every, log_every;
	int64_t micro_tokens, threads;
	double lr, min_lr_ratio, warmup, weight_decay, beta1, beta2, eps, max_grad_norm;
	double val_fraction, ridge, bottom_fraction, score_scale, head_std;
	enum { SCHED_COSINE, SCHED_LINEAR, SCHED_CONSTANT } schedule;
	const char *score_field, *device, *recompute, *dtype;
	bool add_bos, shuffle, pretokenized;
	uint64_t seed;
};

static void read_opts(const struct config *cfg, struct topts *o)
{
#define S(k) "scorer-train." k
	o->mode = strcmp(config_str(cfg, S("mode")), "head") ? MODE_FULL : MODE_HEAD;
	o->epochs = config_int(cfg, S("epochs"));
	o->batch_tokens = config_int(cfg, S("batch_tokens"));
	o->grad_accum = config_int(cfg, S("grad_accum"));
	o->max_tokens = config_int(cfg, S("max_tokens"));
	o->eval_every = config_int(cfg, S("eval_every"));
	o->ckpt_every = config_int(cfg, S("checkpoint_every"));
	o->log_every = config_int(cfg, S("log_every"));
	o->micro_tokens = config_int(cfg, S("micro_tokens"));
	o->threads = config_int(cfg, S("threads"));
	o->lr = config_float(cfg, S("lr"));
	o->min_lr_ratio = config_float(cfg, S("min_lr_ratio"));
	o->warmup = config_float(cfg, S("warmup"));
	o->weight_decay = config_float(cfg, S("weight_decay"));
	o->beta1 = config_float(cfg, S("beta1"));
	o->beta2 = config_float(cfg, S("beta2"));
	o->eps = config_float(cfg, S("eps"));
	o->max_grad_norm = config_float(cfg, S("max_grad_norm"));
	o->val_fraction = config_float(cfg, S("val_fraction"));
	o->ridge = config_float(cfg, S("ridge"));
	o->bottom_fraction = config_float(cfg, S("bottom_fraction"));
	o->score_scale = config_float(cfg, S("score_scale"));
	o->head_std = config_float(cfg, S("head_init_std"));
	const char *sc = config_str(cfg, S("schedule"));
	o->schedule = !strcmp(sc, "cosine") ? SCHED_COSINE
		      : !strcmp(sc, "linear") ? SCHED_LINEAR
					      : SCHED_CONSTANT;
	o->score_field = config_str(cfg, S("score_field"));
	o->device = config_str(cfg, S("device"));
	o->recompute = config_str(cfg, S("recompute"));
	o->dtype = config_str(cfg, S("dtype"));
	o->add_bos = config_bool(cfg, S("add_bos"));
	o->shuffle = config_bool(cfg, S("shuffle"));
	o->pretokenized = config_bool(cfg, S("pretokenized"));
	o->seed = (uint64_t)config_int(cfg, S("seed"));
#undef S
}

/* ---- labels ---- */

struct sample {
	char *id;
	uint32_t *ids;
	size_t n;
	float y;
	bool val;
};

struct dataset {
	struct sample *v;
	size_t n, cap;
	uint64_t records, bad, no_score, empty;
	char first_bad[512];
};

static void note_bad(struct dataset *d, const char *path, uint64_t line, const char *what)
{
	d->bad++;
	if (d->bad <= 5)
		log_warn("scorer train: %s:%llu: %s (record skipped)", path, (unsigned long long)line,
			 what);
	if (!d->first_bad[0])
		snprintf(d->first_bad, sizeof d->first_bad, "%s:%llu: %s", path,
			 (unsigned long long)line, what);
}

/* "ids": [n, ...] of a pretokenized record into s; -1 on a value that is no token id. */
static int take_ids(json_t *a, int64_t vocab, size_t max, struct sample *s)
{
	size_t n = json_array_size(a), i;
	json_t *x;
	s->ids = xmalloc((n ? n : 1) * sizeof *s->ids);
	s->n = 0;
	json_array_foreach(a, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= vocab)
			return -1;
		if (s->n < max)
			s->ids[s->n++] = (uint32_t)json_integer_value(x);
	}
	return 0;
}

/* One label file (JSONL, plain or zstd): records with id, text (or ids when pretokenized)
 * and a score. A record without them is counted and skipped with a warning naming it; a
 * score outside [0, 1] after score_scale is an error, since it means the wrong scale. */
enum train_label_kind train_label_parse(const char *line, size_t len, const char *score_field,
				       double scale, bool pretokenized, struct train_label *out,
				       char *why, size_t whylen)
{
	memset(out, 0, sizeof *out);
	json_error_t je;
	json_t *j = out->j = json_loadb(line, len, 0, &je);
	json_t *id = json_object_get(j, "id"), *text = json_object_get(j, "text");
	json_t *sc = json_object_get(j, score_field);
	out->ids = json_object_get(j, "ids");
	if (!json_is_object(j)) {
		snprintf(why, whylen, "%s", j ? "not a JSON object" : je.text);
		return LABEL_MALFORMED;
	}
	if (!json_is_string(id)) {
		snprintf(why, whylen, "no \"id\" string");
		return LABEL_MALFORMED;
	}
	if (pretokenized ? !json_is_array(out->ids) : !json_is_string(text)) {
		snprintf(why, whylen, "%s", pretokenized ? "no \"ids\" array (pretokenized)"
							  : "no \"text\" string");
		return LABEL_MALFORMED;
	}
	if (json_is_null(sc))
		return LABEL_NO_SCORE; /* the oracle's rejected answers carry score null */
	if (!json_is_number(sc)) {
		snprintf(why, whylen, "no \"%s\" number", score_field);
		return LABEL_MALFORMED;
	}
	double y = json_number_value(sc) / scale;
	if (!(y >= 0 && y <= 1)) {
		snprintf(why, whylen, "%s %g is outside [0, 1]%s", score_field, json_number_value(sc),
			 scale == 1 && y <= 10 ? " (a 0-10 rating? the scorer is fitted on [0, 1]: "
						 "set score_scale=10, or use the oracle's \"score\")"
					       : " after score_scale");
		return LABEL_OUT_OF_RANGE;
	}
	out->id = json_string_value(id);
	out->text = json_string_value(text);
	out->text_len = json_string_length(text);
	out->target = y;
	return LABEL_OK;
}

void train_label_release(struct train_label *l)
{
	json_decref(l->j);
	memset(l, 0, sizeof *l);
}

static int read_labels(const char *path, const struct topts *o, struct bpe *tok, int64_t bos,
		       int64_t vocab, struct dataset *d)
{
	struct shard_reader *r = shard_reader_open(path, NULL);
	if (!r)
		return -1;
	const char *line;
	size_t len;
	int got, rc = 0;
	struct bpe_ids ids = {0};
	while ((got = shard_reader_next_line(r, &line, &len)) == 1) {
		uint64_t ln = shard_reader_records(r);
		d->records++;
		struct train_label lb;
		char why[512];
		enum train_label_kind k = train_label_parse(line, len, o->score_field, o->score_scale,
							    o->pretokenized, &lb, why, sizeof why);
		if (k == LABEL_MALFORMED) {
			note_bad(d, path, ln, why);
		} else if (k == LABEL_NO_SCORE) {
			d->no_score++;
		} else if (k == LABEL_OUT_OF_RANGE) {
			err_set("%s:%llu: %s", path, (unsigned long long)ln, why);
			train_label_release(&lb);
			rc = -1;
			break;
		} else {
			struct sample s = {0};
			s.y = (float)lb.target;
			if (o->pretokenized) {
				if (take_ids(lb.ids, vocab, (size_t)o->max_tokens, &s) < 0) {
					free(s.ids);
					note_bad(d, path, ln, "\"ids\" holds a value that is no token id");
					train_label_release(&lb);
					continue;
				}
			} else {
				ids.n = 0;
				if (bos >= 0) {
					ids.v = xrealloc(ids.v, (ids.cap = ids.cap ? ids.cap : 16) *
									sizeof *ids.v);
					ids.v[ids.n++] = (uint32_t)bos;
				}
				size_t start = ids.n;
				bpe_encode_max(tok, lb.text, lb.text_len,
					       (size_t)o->max_tokens > start ? (size_t)o->max_tokens - start
									     : 0,
					       &ids);
				s.n = ids.n;
				s.ids = xmalloc((ids.n ? ids.n : 1) * sizeof *ids.v);
				memcpy(s.ids, ids.v, ids.n * sizeof *ids.v);
			}
			if (!s.n) {
				d->empty++;
				free(s.ids);
			} else {
				s.id = xstrdup(lb.id);
				if (d->n == d->cap)
					d->v = xrealloc(d->v, (d->cap = d->cap ? 2 * d->cap : 1024) *
								     sizeof *d->v);
				d->v[d->n++] = s;
			}
		}
		train_label_release(&lb);
	}
	free(ids.v);
	if (got < 0)
		rc = -1;
	shard_reader_close(r);
	return rc;
}

/* ---- checkpoints in and out ---- */

struct base {
	struct scorer_config c;
	json_t *config; /* the base's config.json, the output's starting point */
};

/* The base checkpoint's weights into params (L's layout); a missing score.weight is drawn
 * from normal(0, std), seeded. */
static int load_base(const char *dir, const struct train_layout *L, const struct topts *o,
		     struct base *b, float *params)
{
	struct st_set *st = st_open_dir(dir);
	if (!st || scorer_check_names(st, &b->c, dir, true) < 0) {
		st_free(st);
		return -1;
	}
	for (size_t i = 0; i < L->n; i++) {
		const struct train_param *p = &L->v[i];
		const struct st_tensor *t = st_find(st, p->name);
		if (!t && i == L->n - 1) { /* score.weight: a causal LM has none */
			double std = o->head_std > 0 ? o->head_std : 0.02;
			json_t *ir = json_object_get(b->config, "initializer_range");
			if (o->head_std <= 0 && json_is_number(ir))
				std = json_number_value(ir);
			uint64_t rs = o->seed ^ 0x68656164ull; /* "head" */
			for (size_t k = 0; k < p->n; k++)
				params[p->off + k] = (float)(std * scorer_rng_normal(&rs));
			log_info("scorer train: %s has no score.weight: a new head from normal(0, %g), "
				 "seed %llu", dir, std, (unsigned long long)o->seed);
			continue;
		}
		if (!t) {
			err_set("%s: tensor '%s' is missing", dir, p->name);
			st_free(st);
			return -1;
		}
		int nd = p->d1 ? 2 : 1;
		if (t->ndim != nd || t->shape[0] != p->d0 || (nd == 2 && t->shape[1] != p->d1)) {
			err_set("%s: tensor '%s' has another shape than config.json implies ([%lld, "
				"%lld])", t->file, p->name, (long long)p->d0, (long long)p->d1);
			st_free(st);
			return -1;
		}
		st_to_f32(t->dtype, t->data, p->n, params + p->off);
	}
	st_free(st);
	return 0;
}

static int read_base(const char *dir, struct base *b)
{
	memset(b, 0, sizeof *b);
	char *path = xasprintf("%s/config.json", dir);
	struct buf t = BUF_INIT;
	int rc = read_file(path, &t);
	if (!rc)
		rc = scorer_read_config(dir, true, &b->c);
	if (!rc) {
		b->config = json_loadb(t.p, t.len, 0, NULL);
		json_t *arch = json_array_get(json_object_get(b->config, "architectures"), 0);
		const char *a = json_string_value(arch);
		static const char *const ok[] = {"LlamaForCausalLM", "LlamaForSequenceClassification",
						 "Qwen2ForCausalLM", "Qwen2ForSequenceClassification"};
		bool known = !arch;
		for (size_t i = 0; a && i < ARRAY_LEN(ok); i++)
			known |= !strcmp(a, ok[i]);
		json_t *nl = json_object_get(b->config, "num_labels");
		json_t *labels = json_object_get(b->config, "id2label");
		bool seqcls = a && strstr(a, "ForSequenceClassification");
		if (!known) {
			err_set("%s: architecture \"%s\" is not supported (LlamaForCausalLM, "
				"LlamaForSequenceClassification, Qwen2ForCausalLM, "
				"Qwen2ForSequenceClassification)", path, a ? a : "?");
			rc = -1;
		} else if (seqcls && ((nl && json_integer_value(nl) != 1) ||
				      (json_is_object(labels) && json_object_size(labels) != 1))) {
			err_set("%s: a classifier of %lld labels: the scorer regresses one", path,
				nl ? (long long)json_integer_value(nl)
				   : (long long)json_object_size(labels));
			rc = -1;
		}
	}
	buf_release(&t);
	free(path);
	return rc;
}

/* The output's config.json: the base's, as a one-label regression classifier. */
static json_t *out_config(const struct base *b, const char *dtype)
{
	json_t *j = json_deep_copy(b->config);
	bool qwen = b->c.arch == ARCH_QWEN2;
	json_object_set_new(j, "architectures",
			    json_pack("[s]", qwen ? "Qwen2ForSequenceClassification"
						  : "LlamaForSequenceClassification"));
	json_object_set_new(j, "num_labels", json_integer(1));
	json_object_set_new(j, "id2label", json_pack("{s:s}", "0", "LABEL_0"));
	json_object_set_new(j, "label2id", json_pack("{s:i}", "LABEL_0", 0));
	json_object_set_new(j, "problem_type", json_string("regression"));
	json_object_set_new(j, "torch_dtype", json_string(strcmp(dtype, "bf16") ? "float32"
										 : "bfloat16"));
	/* HF scores the last token that is not padding: a pad id is required for batches */
	json_t *pad = json_object_get(j, "pad_token_id"), *eos = json_object_get(j, "eos_token_id");
	if (!json_is_integer(pad)) {
		json_t *e = json_is_array(eos) ? json_array_get(eos, 0) : eos;
		json_object_set_new(j, "pad_token_id",
				    json_integer(json_is_integer(e) ? json_integer_value(e) : 0));
	}
	return j;
}

/* params (or the gradient) as safetensors, every tensor of L, f32 or bf16 */
static int write_tensors(const char *path, const struct train_layout *L, const float *params,
			 bool bf16)
{
	struct st_tensor *t = xcalloc(L->n, sizeof *t);
	uint16_t *half = bf16 ? xmalloc(L->total * sizeof *half) : NULL;
	for (size_t i = 0; half && i < L->total; i++)
		half[i] = st_f32_to_bf16(params[i]);
	for (size_t i = 0; i < L->n; i++) {
		const struct train_param *p = &L->v[i];
		t[i].name = (char *)p->name;
		t[i].dtype = bf16 ? ST_BF16 : ST_F32;
		t[i].ndim = p->d1 ? 2 : 1;
		t[i].shape[0] = p->d0, t[i].shape[1] = p->d1;
		t[i].nbytes = p->n * (bf16 ? 2 : 4);
		t[i].data = bf16 ? (const void *)(half + p->off) : (const void *)(params + p->off);
	}
	int rc = st_write(path, t, L->n);
	free(t), free(half);
	return rc;
}

static int copy_file(const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	int rc = read_file(from, &b);
	if (!rc)
		rc = write_file_atomic(to, b.p ? b.p : "", b.len);
	buf_release(&b);
	return rc;
}

/* The training state: a JSON header (fingerprint, step, curve) then weights and moments. */
#define STATE_MAGIC "curate-train-1\n"

static int save_state(const char *path, json_t *meta, const float *w, const float *m,
		      const float *v, size_t n)
{
	char *text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
	struct buf h = BUF_INIT;
	buf_puts(&h, STATE_MAGIC);
	buf_printf(&h, "%zu\n%s\n", strlen(text), text);
	while (h.len % 64)
		buf_putc(&h, ' ');
	free(text);
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = fd < 0 ? -1 : 0;
	if (fd < 0)
		err_set("%s: %s", tmp, strerror(errno));
	if (!rc)
		rc = write_all(fd, h.p, h.len, tmp);
	const float *arr[3] = {w, m, v};
	for (int k = 0; k < 3 && !rc; k++)
		rc = write_all(fd, arr[k], n * sizeof(float), tmp);
	if (!rc && fsync(fd) < 0) {
		err_set("%s: fsync: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	if (!rc && rename(tmp, path) < 0) {
		err_set("%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (!rc)
		rc = fsync_dir_of(path);
	buf_release(&h);
	free(tmp);
	return rc;
}

/* 1 with the state loaded (meta: its header), 0 when there is no file, -1 on a damaged one. */
static int load_state(const char *path, json_t **meta, float *w, float *m, float *v, size_t n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	char magic[sizeof STATE_MAGIC] = "";
	size_t jl = 0;
	int rc = -1;
	if (fread(magic, 1, sizeof STATE_MAGIC - 1, f) == sizeof STATE_MAGIC - 1 &&
	    !strcmp(magic, STATE_MAGIC) && fscanf(f, "%zu", &jl) == 1 && fgetc(f) == '\n' &&
	    jl < ((size_t)1 << 30)) {
		char *text = xmalloc(jl + 1);
		if (fread(text, 1, jl, f) == jl) {
			text[jl] = 0;
			*meta = json_loads(text, 0, NULL);
		}
		free(text);
		size_t hl = sizeof STATE_MAGIC - 1;
		char digits[32];
		hl += (size_t)snprintf(digits, sizeof digits, "%zu\n", jl) + jl + 1;
		hl = (hl + 63) / 64 * 64;
		float *arr[3] = {w, m, v};
		if (*meta && fseek(f, (long)hl, SEEK_SET) == 0) {
			rc = 1;
			for (int k = 0; k < 3 && rc == 1; k++)
				if (fread(arr[k], sizeof(float), n, f) != n)
					rc = -1;
		}
	}
	if (rc < 0) {
		err_set("%s: a damaged or truncated training checkpoint (remove it to start over)",
			path);
		json_decref(*meta);
		*meta = NULL;
	}
	fclose(f);
	return rc;
}

/* ---- metrics ---- */

static int cmp_f64_idx(const void *a, const void *b, void *ud)
{
	const double *v = ud;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	return v[i] < v[j] ? -1 : v[i] > v[j] ? 1 : (i > j) - (i < j);
}

/* Ranks 1..n with ties averaged (Spearman's). */
static void ranks(const double *v, size_t n, double *r)
{
	size_t *ix = xmalloc((n + 1) * sizeof *ix);
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof *ix, cmp_f64_idx, (void *)v);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[ix[j + 1]] == v[ix[i]])
			j++;
		for (size_t k = i; k <= j; k++)
			r[ix[k]] = (double)(i + j) / 2 + 1;
		i = j + 1;
	}
	free(ix);
}

static double pearson(const double *a, const double *b, size_t n)
{
	double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
	for (size_t i = 0; i < n; i++)
		ma += a[i], mb += b[i];
	ma /= (double)n, mb /= (double)n;
	for (size_t i = 0; i < n; i++) {
		sab += (a[i] - ma) * (b[i] - mb);
		saa += (a[i] - ma) * (a[i] - ma);
		sbb += (b[i] - mb) * (b[i] - mb);
	}
	return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

/* The k = ceil(frac * n) lowest of v (ties by index) as a 0/1 mask. */
static void bottom(const double *v, size_t n, double frac, unsigned char *mask, size_t *k)
{
	size_t *ix = xmalloc((n + 1) * sizeof *ix);
	for (size_t i = 0; i < n; i++)
		ix[i] = i, mask[i] = 0;
	qsort_r(ix, n, sizeof *ix, cmp_f64_idx, (void *)v);
	*k = (size_t)ceil(frac * (double)n);
	for (size_t i = 0; i < *k && i < n; i++)
		mask[ix[i]] = 1;
	free(ix);
}

/* Validation figures of predictions p against targets y (both [0, 1]); mean_y is the
 * training targets' mean, the constant predictor's value. */
static json_t *metrics(const float *p, const float *y, size_t n, double mean_y, double frac)
{
	if (!n)
		return json_pack("{s:i}", "n", 0);
	double *pp = xmalloc(n * sizeof *pp), *yy = xmalloc(n * sizeof *yy);
	double *rp = xmalloc(n * sizeof *rp), *ry = xmalloc(n * sizeof *ry);
	double mse = 0, mae = 0, cmae = 0;
	for (size_t i = 0; i < n; i++) {
		pp[i] = p[i], yy[i] = y[i];
		mse += (pp[i] - yy[i]) * (pp[i] - yy[i]);
		mae += fabs(pp[i] - yy[i]);
		cmae += fabs(mean_y - yy[i]);
	}
	ranks(pp, n, rp), ranks(yy, n, ry);
	unsigned char *bp = xmalloc(n), *by = xmalloc(n);
	size_t kp, ky, both = 0;
	bottom(pp, n, frac, bp, &kp), bottom(yy, n, frac, by, &ky);
	for (size_t i = 0; i < n; i++)
		both += bp[i] && by[i];
	double f1 = kp + ky ? 2.0 * (double)both / (double)(kp + ky) : 0;
	json_t *j = json_pack("{s:I,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t)n, "mse",
			      mse / (double)n, "mae10", 10 * mae / (double)n, "constant_mae10",
			      10 * cmae / (double)n, "spearman", pearson(rp, ry, n), "f1_bottom", f1);
	free(pp), free(yy), free(rp), free(ry), free(bp), free(by);
	return j;
}

/* ---- the plan: epochs of shuffled samples cut into micro-batches and steps ---- */

struct plan {
	size_t *order; /* sample indices, all epochs one after another */
	size_t *micro; /* micro-batch m is order[micro[m] .. micro[m+1]) */
	size_t nmicro;
	size_t *step; /* step s is micro-batches step[s] .. step[s+1] */
	size_t nsteps;
};

static void make_plan(const struct dataset *d, const size_t *train, size_t ntrain,
		      const struct topts *o, struct plan *p)
{
	memset(p, 0, sizeof *p);
	size_t total = ntrain * (size_t)o->epochs;
	p->order = xmalloc((total + 1) * sizeof *p->order);
	p->micro = xmalloc((total + 2) * sizeof *p->micro);
	p->step = xmalloc((total + 2) * sizeof *p->step);
	size_t k = 0;
	for (int64_t e = 0; e < o->epochs; e++) {
		size_t *ord = p->order + k, first_micro = p->nmicro;
		memcpy(ord, train, ntrain * sizeof *ord);
		uint64_t rs = o->seed * 0x100000001b3ull + (uint64_t)e + 1;
		for (size_t i = ntrain; o->shuffle && i > 1; i--) { /* Fisher-Yates */
			size_t j = (size_t)(splitmix64_next(&rs) % i), t = ord[i - 1];
			ord[i - 1] = ord[j], ord[j] = t;
		}
		for (size_t i = 0; i < ntrain;) { /* micro-batches of at most batch_tokens */
			p->micro[p->nmicro++] = k + i;
			size_t tokens = d->v[ord[i]].n;
			for (i++; i < ntrain && tokens + d->v[ord[i]].n <= (size_t)o->batch_tokens; i++)
				tokens += d->v[ord[i]].n;
		}
		for (size_t m = first_micro; m < p->nmicro; m += (size_t)o->grad_accum)
			p->step[p->nsteps++] = m;
		k += ntrain;
	}
	p->micro[p->nmicro] = k;
	p->step[p->nsteps] = p->nmicro;
}

static void plan_release(struct plan *p)
{
	free(p->order), free(p->micro), free(p->step);
}

static double lr_at(const struct topts *o, size_t step, size_t nsteps)
{
	size_t warm = o->warmup > 0 ? (size_t)ceil(o->warmup * (double)nsteps) : 0;
	if (step < warm)
		return o->lr * (double)(step + 1) / (double)warm;
	if (o->schedule == SCHED_CONSTANT || nsteps <= warm + 1)
		return o->lr;
	double x = (double)(step - warm) / (double)(nsteps - warm - 1), f;
	f = o->schedule == SCHED_COSINE ? 0.5 * (1 + cos(M_PI * x)) : 1 - x;
	return o->lr * (o->min_lr_ratio + (1 - o->min_lr_ratio) * f);
}

/* ---- the run ---- */

struct trainer {
	const struct topts *o;
	const struct train_engine_ops *ops;
	struct train_engine *e;
	struct scorer_config c;
	struct train_layout L;
	struct dataset d;
	size_t *train, ntrain, *val, nval;
	double mean_y;
	int rank, nranks;
	char err[512];
};

/* This rank's sequences of order[lo..hi): each to the rank with the fewest tokens so far
 * (ties: the lowest), so the split depends only on the batch and the rank count. */
static size_t my_share(const struct trainer *t, const size_t *order, size_t lo, size_t hi,
		       size_t *mine)
{
	size_t *load = xcalloc((size_t)t->nranks, sizeof *load), n = 0;
	for (size_t i = lo; i < hi; i++) {
		int best = 0;
		for (int r = 1; r < t->nranks; r++)
			if (load[r] < load[best])
				best = r;
		load[best] += t->d.v[order[i]].n;
		if (best == t->rank)
			mine[n++] = order[i];
	}
	free(load);
	return n;
}

/* The values of every rank's n[r] floats, concatenated in rank order. */
static float *gather_f32(const float *v, size_t n, size_t *total)
{
	struct buf b = BUF_INIT;
	par_allgather_bytes((const char *)v, n * sizeof(float), &b);
	*total = b.len / sizeof(float);
	float *out = xmalloc(b.len + sizeof(float));
	memcpy(out, b.p, b.len);
	buf_release(&b);
	return out;
}

/* Predictions (or features) of samples idx[0..n), computed by the ranks in turn (sample i by
 * rank i mod P) and gathered: feat[n][H] on every rank. */
static int features_of(struct trainer *t, const size_t *idx, size_t n, float *feat)
{
	size_t H = (size_t)t->c.hidden, mine = 0;
	for (size_t i = (size_t)t->rank; i < n; i += (size_t)t->nranks)
		mine++;
	const uint32_t **ids = xcalloc(mine + 1, sizeof *ids);
	size_t *lens = xcalloc(mine + 1, sizeof *lens), k = 0;
	for (size_t i = (size_t)t->rank; i < n; i += (size_t)t->nranks, k++)
		ids[k] = t->d.v[idx[i]].ids, lens[k] = t->d.v[idx[i]].n;
	float *f = xmalloc((mine * H + 1) * sizeof *f);
	int ok = t->ops->features(t->e, ids, lens, mine, f, t->err, sizeof t->err) == 0;
	if (!par_all_ok(ok)) {
		free(ids), free(lens), free(f);
		err_set("features: %s", ok ? "failed on another rank" : t->err);
		return -1;
	}
	size_t total;
	float *all = gather_f32(f, mine * H, &total);
	/* rank r's k-th is sample r + k P; ranks come in order */
	size_t pos = 0;
	for (int r = 0; r < t->nranks; r++)
		for (size_t i = (size_t)r; i < n; i += (size_t)t->nranks, pos++)
			memcpy(feat + i * H, all + pos * H, H * sizeof(float));
	free(ids), free(lens), free(f), free(all);
	return 0;
}

/* Validation metrics with the head; the predictions stay in *preds when it is given. */
static json_t *evaluate(struct trainer *t, const float *head, float **preds)
{
	size_t H = (size_t)t->c.hidden, n = t->nval;
	float *feat = xmalloc((n * H + 1) * sizeof *feat), *p = xmalloc((n + 1) * sizeof *p);
	float *y = xmalloc((n + 1) * sizeof *y);
	json_t *j = NULL;
	if (features_of(t, t->val, n, feat) == 0) {
		for (size_t i = 0; i < n; i++)
			p[i] = cpu_dot(feat + i * H, head, H), y[i] = t->d.v[t->val[i]].y;
		j = metrics(p, y, n, t->mean_y, t->o->bottom_fraction);
	}
	free(feat), free(y);
	if (preds)
		*preds = p;
	else
		free(p);
	return j;
}

/* Cholesky solve of (A + lambda I) x = b, A symmetric positive semidefinite [n][n] (overwritten). */
static int solve_spd(double *A, double *b, size_t n, double lambda)
{
	for (size_t i = 0; i < n; i++)
		A[i * n + i] += lambda;
	for (size_t j = 0; j < n; j++) {
		double s = A[j * n + j];
		for (size_t k = 0; k < j; k++)
			s -= A[j * n + k] * A[j * n + k];
		if (!(s > 0))
			return -1;
		double d = sqrt(s);
		A[j * n + j] = d;
		for (size_t i = j + 1; i < n; i++) {
			double x = A[i * n + j];
			for (size_t k = 0; k < j; k++)
				x -= A[i * n + k] * A[j * n + k];
			A[i * n + j] = x / d;
		}
	}
	for (size_t i = 0; i < n; i++) { /* L z = b */
		double x = b[i];
		for (size_t k = 0; k < i; k++)
			x -= A[i * n + k] * b[k];
		b[i] = x / A[i * n + i];
	}
	for (size_t i = n; i-- > 0;) { /* L^T x = z */
		double x = b[i];
		for (size_t k = i + 1; k < n; k++)
			x -= A[k * n + i] * b[k];
		b[i] = x / A[i * n + i];
	}
	return 0;
}

/* mode head: the head that minimises the mean squared error on the training features plus
 * ridge * (trace / H) * |w|^2, in closed form. The features of a sample come from the rank
 * that computes them; X^T X and X^T y are summed over the ranks in the ring's order. */
static int fit_head(struct trainer *t, float *head)
{
	size_t H = (size_t)t->c.hidden, n = t->ntrain, mine = 0;
	for (size_t i = (size_t)t->rank; i < n; i += (size_t)t->nranks)
		mine++;
	const uint32_t **ids = xcalloc(mine + 1, sizeof *ids);
	size_t *lens = xcalloc(mine + 1, sizeof *lens), k = 0;
	for (size_t i = (size_t)t->rank; i < n; i += (size_t)t->nranks, k++)
		ids[k] = t->d.v[t->train[i]].ids, lens[k] = t->d.v[t->train[i]].n;
	double *A = xcalloc(H * H + H, sizeof *A), *b = A + H * H;
	float *f = xmalloc(H * sizeof *f);
	int ok = 1;
	/* one sequence at a time: the features of a large split need not fit in memory */
	k = 0;
	for (size_t i = (size_t)t->rank; i < n && ok; i += (size_t)t->nranks, k++) {
		ok = t->ops->features(t->e, &ids[k], &lens[k], 1, f, t->err, sizeof t->err) == 0;
		double y = t->d.v[t->train[i]].y;
		for (size_t r = 0; ok && r < H; r++) {
			b[r] += f[r] * y;
			for (size_t c = 0; c <= r; c++)
				A[r * H + c] += (double)f[r] * f[c];
		}
	}
	free(ids), free(lens), free(f);
	if (!par_all_ok(ok)) {
		err_set("features: %s", ok ? "failed on another rank" : t->err);
		free(A);
		return -1;
	}
	par_allreduce_sum_f64(A, H * H + H);
	double tr = 0;
	for (size_t r = 0; r < H; r++) {
		for (size_t c = 0; c < r; c++)
			A[c * H + r] = A[r * H + c];
		tr += A[r * H + r];
	}
	for (size_t i = 0; i < H * H + H; i++)
		A[i] /= (double)n;
	double lambda = t->o->ridge * (tr / (double)n) / (double)H;
	int rc = solve_spd(A, b, H, lambda > 0 ? lambda : 1e-12);
	if (rc < 0)
		err_set("ridge: the features' Gram matrix is not positive definite; raise ridge");
	for (size_t r = 0; !rc && r < H; r++)
		head[r] = (float)b[r];
	free(A);
	return rc;
}

/* What makes a run's result: options (not the runtime ones), the base and the labels. */
static void fingerprint(const struct config *cfg, const char *base, const struct train_io *io,
			char out[SHA256_HEX])
{
	struct buf s = BUF_INIT, sec = BUF_INIT;
	config_section_text(cfg, "scorer-train", &sec);
	static const char *const runtime[] = {"threads=", "micro_tokens=", "recompute=",
					      "checkpoint_every=", "log_every=", "device=",
					      "base=", "input=", "dtype="};
	for (const char *p = sec.p ? sec.p : "", *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		bool skip = false;
		for (size_t i = 0; i < ARRAY_LEN(runtime); i++)
			skip |= !strncmp(p, runtime[i], strlen(runtime[i]));
		if (!skip)
			buf_append(&s, p, (size_t)(nl - p + 1));
	}
	char hex[SHA256_HEX] = "";
	char *cj = xasprintf("%s/config.json", base);
	sha256_file_hex(cj, hex);
	buf_printf(&s, "base config %s\n", hex);
	free(cj);
	static const char *const weights[] = {"model.safetensors", "model.safetensors.index.json"};
	for (size_t i = 0; i < ARRAY_LEN(weights); i++) {
		char *w = xasprintf("%s/%s", base, weights[i]);
		struct stat sb;
		if (stat(w, &sb) == 0)
			buf_printf(&s, "%s %lld %lld\n", weights[i], (long long)sb.st_size,
				   (long long)sb.st_mtim.tv_sec);
		free(w);
	}
	for (size_t i = 0; i < io->nlabels; i++) {
		struct stat sb;
		if (stat(io->labels[i], &sb) == 0)
			buf_printf(&s, "labels %s %lld %lld\n", io->labels[i], (long long)sb.st_size,
				   (long long)sb.st_mtim.tv_sec);
	}
	unsigned char d[SHA256_LEN];
	sha256(s.p, s.len, d);
	sha256_hexstr(d, out);
	buf_release(&s), buf_release(&sec);
}

/* ---- the run ---- */

static const struct train_engine_ops *pick_engine(const struct topts *o, char *why, size_t n)
{
	if (!strcmp(o->device, "cpu"))
		return &train_cpu_ops;
	const struct train_engine_ops *ops = scorer_cuda_symbol(CURATE_CUDA_TRAIN_OPS, why, n);
	if (ops || !strcmp(o->device, "cuda"))
		return ops;
	return &train_cpu_ops;
}

/* Activations one sequence of max_tokens keeps in every layer, in bytes (fp32). */
static double act_bytes(const struct scorer_config *c, size_t T)
{
	double H = (double)c->hidden, q = (double)(c->heads * c->head_dim);
	double kv = (double)(c->kv_heads * c->head_dim), F = (double)c->ffn;
	return 4.0 * (double)T * (double)c->layers * (4 * H + 2 * q + 2 * kv + 3 * F);
}

static void stats_line(const struct dataset *d, struct buf *b)
{
	buf_printf(b, "%llu records: %zu usable, %llu without a usable score (null), %llu with "
		      "no tokens, %llu malformed",
		   (unsigned long long)d->records, d->n, (unsigned long long)d->no_score,
		   (unsigned long long)d->empty, (unsigned long long)d->bad);
	if (d->first_bad[0])
		buf_printf(b, " (first: %s)", d->first_bad);
}

static int write_output(struct trainer *t, const struct train_io *io, const struct base *b,
			const float *params, json_t *metrics_json)
{
	if (t->rank != 0)
		return 0;
	int rc = mkdir_p(io->out);
	char *p = xasprintf("%s/config.json", io->out);
	json_t *cj = out_config(b, t->o->dtype);
	if (!rc)
		rc = scorer_write_json(p, cj);
	json_decref(cj);
	free(p);
	p = xasprintf("%s/model.safetensors", io->out);
	if (!rc)
		rc = write_tensors(p, &t->L, params, !strcmp(t->o->dtype, "bf16"));
	free(p);
	static const char *const tok[] = {"tokenizer.json", "tokenizer_config.json",
					  "special_tokens_map.json", "vocab.json", "merges.txt",
					  "generation_config.json"};
	for (size_t i = 0; !rc && i < ARRAY_LEN(tok); i++) {
		char *from = xasprintf("%s/%s", io->base, tok[i]), *to = xasprintf("%s/%s", io->out, tok[i]);
		if (file_exists(from))
			rc = copy_file(from, to);
		free(from), free(to);
	}
	p = xasprintf("%s/metrics.json", io->out);
	if (!rc)
		rc = scorer_write_json(p, metrics_json);
	free(p);
	return rc;
}

static void test_delay(void)
{
	const char *ms = getenv("CURATE_TEST_STEP_DELAY_MS");
	if (ms && atoi(ms) > 0) {
		struct timespec ts = {atoi(ms) / 1000, (long)(atoi(ms) % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Mode full: the optimizer steps from `from` to the plan's end. */
static int run_full(struct trainer *t, const struct train_io *io, const struct plan *pl,
		    size_t from, json_t *curve, json_t *evals, const char *fp, float *params,
		    double *step_seconds)
{
	const struct topts *o = t->o;
	size_t total = t->L.total, most = 0;
	for (size_t m = 0; m < pl->nmicro; m++)
		most = pl->micro[m + 1] - pl->micro[m] > most ? pl->micro[m + 1] - pl->micro[m] : most;
	size_t *mine = xmalloc((most + 1) * sizeof *mine);
	const uint32_t **ids = xcalloc(most + 1, sizeof *ids);
	size_t *lens = xcalloc(most + 1, sizeof *lens);
	float *y = xcalloc(most + 1, sizeof *y), *preds = xcalloc(most + 1, sizeof *preds);
	float *grad = t->nranks > 1 || io->dump_grads ? xmalloc(total * sizeof *grad) : NULL;
	char *state = xasprintf("%s/checkpoint/state.bin", io->out);
	double t0 = now_seconds(), aside = 0; /* aside: evaluations and checkpoints */
	uint64_t tokens_run = 0;
	int rc = 0;
	for (size_t s = from; s < pl->nsteps && !rc; s++) {
		size_t lo = pl->micro[pl->step[s]], hi = pl->micro[pl->step[s + 1]];
		float scale = 1.0f / (float)(hi - lo);
		double loss = 0;
		uint64_t tokens = 0;
		int ok = 1;
		for (size_t m = pl->step[s]; m < pl->step[s + 1] && ok; m++) {
			size_t n = my_share(t, pl->order, pl->micro[m], pl->micro[m + 1], mine);
			for (size_t i = 0; i < n; i++) {
				const struct sample *x = &t->d.v[mine[i]];
				ids[i] = x->ids, lens[i] = x->n, y[i] = x->y;
			}
			struct train_batch b = {ids, lens, y, n};
			ok = t->ops->accumulate(t->e, &b, scale, preds, t->err, sizeof t->err) == 0;
			for (size_t i = 0; ok && i < n; i++)
				loss += ((double)preds[i] - y[i]) * ((double)preds[i] - y[i]);
			for (size_t i = pl->micro[m]; i < pl->micro[m + 1]; i++)
				tokens += t->d.v[pl->order[i]].n;
		}
		if (!par_all_ok(ok)) {
			err_set("step %zu: %s", s + 1, ok ? "failed on another rank" : t->err);
			rc = -1;
			break;
		}
		if (t->nranks > 1) {
			double part[1] = {loss};
			par_allreduce_sum_f64(part, 1);
			loss = part[0];
			if (t->ops->get_grads(t->e, grad, t->err, sizeof t->err) < 0)
				DIE("step %zu: %s", s + 1, t->err);
			par_allreduce_sum_f32(grad, total);
			if (t->ops->set_grads(t->e, grad, t->err, sizeof t->err) < 0)
				DIE("step %zu: %s", s + 1, t->err);
		}
		if (io->dump_grads) {
			if (t->rank == 0)
				log_info("scorer train: the gradient of %llu tokens in %.3f s (%.1f "
					 "tokens/s)", (unsigned long long)tokens, now_seconds() - t0,
					 (double)tokens / (now_seconds() - t0));
			if (t->ops->get_grads(t->e, grad, t->err, sizeof t->err) < 0)
				DIE("%s", t->err);
			if (t->rank == 0)
				rc = write_tensors(io->dump_grads, &t->L, grad, false);
			break;
		}
		double gn = sqrt(t->ops->grad_sq(t->e));
		double coef = o->max_grad_norm > 0 ? o->max_grad_norm / (gn + 1e-6) : 1;
		double lr = lr_at(o, s, pl->nsteps);
		struct adamw_step as = {lr, o->beta1, o->beta2, o->eps, o->weight_decay,
					coef < 1 ? coef : 1, (int64_t)s + 1};
		if (t->ops->step(t->e, &as, t->err, sizeof t->err) < 0) {
			err_set("step %zu: %s", s + 1, t->err);
			rc = -1;
			break;
		}
		tokens_run += tokens;
		json_array_append_new(curve, json_pack("{s:I,s:f,s:f,s:f,s:I}", "step",
						       (json_int_t)s + 1, "lr", lr, "loss",
						       loss / (double)(hi - lo), "grad_norm", gn,
						       "tokens", (json_int_t)tokens));
		double dt = now_seconds() - t0 - aside;
		if (t->rank == 0 && (o->log_every && ((s + 1) % (size_t)o->log_every == 0 ||
						      s + 1 == pl->nsteps)))
			log_info("scorer train: step %zu/%zu loss %.5f lr %.3g grad_norm %.4f "
				 "%.0f tokens/s", s + 1, pl->nsteps, loss / (double)(hi - lo), lr, gn,
				 dt > 0 ? (double)tokens_run / dt : 0);
		bool last = s + 1 == pl->nsteps;
		double ta = now_seconds(); /* evaluating and saving: not the steps' time */
		if (!last && o->eval_every && (s + 1) % (size_t)o->eval_every == 0 && t->nval) {
			if (t->ops->get_state(t->e, params, NULL, NULL, t->err, sizeof t->err) < 0)
				DIE("%s", t->err);
			json_t *ev = evaluate(t, params + t->L.head, NULL);
			if (!ev) {
				rc = -1;
				break;
			}
			json_object_set_new(ev, "step", json_integer((json_int_t)s + 1));
			if (t->rank == 0)
				log_info("scorer train: step %zu validation: mae10 %.4f spearman %.4f",
					 s + 1, json_real_value(json_object_get(ev, "mae10")),
					 json_real_value(json_object_get(ev, "spearman")));
			json_array_append_new(evals, ev);
		}
		if (last || (o->ckpt_every && (s + 1) % (size_t)o->ckpt_every == 0)) {
			float *m = xmalloc(total * sizeof *m), *v = xmalloc(total * sizeof *v);
			if (t->ops->get_state(t->e, params, m, v, t->err, sizeof t->err) < 0)
				DIE("%s", t->err);
			json_t *meta = json_pack("{s:s,s:I,s:I,s:O,s:O}", "fingerprint", fp, "step",
						 (json_int_t)s + 1, "steps", (json_int_t)pl->nsteps,
						 "curve", curve, "evals", evals);
			if (t->rank == 0)
				rc = save_state(state, meta, params, m, v, total);
			json_decref(meta);
			free(m), free(v);
			if (!par_all_ok(rc == 0) && !rc) {
				err_set("rank 0 could not write %s", state);
				rc = -1;
			}
		}
		aside += now_seconds() - ta;
		test_delay();
	}
	*step_seconds = now_seconds() - t0 - aside;
	free(mine), free(ids), free(lens), free(y), free(preds), free(grad), free(state);
	return rc;
}

int scorer_train(const struct config *cfg, const struct train_io *io)
{
	struct topts o;
	read_opts(cfg, &o);
	struct trainer t = {.o = &o, .rank = par_rank(), .nranks = par_size()};
	struct base b;
	struct bpe *tok = NULL;
	float *params = NULL;
	json_t *curve = json_array(), *evals = json_array(), *meta = NULL;
	struct plan pl = {0};
	int rc = -1;
	if (read_base(io->base, &b) < 0)
		goto out;
	t.c = b.c;
	if (!o.pretokenized) {
		char *tp = xasprintf("%s/tokenizer.json", io->base);
		if (!file_exists(tp))
			err_set("%s: no tokenizer.json: the labels are text, and the base's tokenizer "
				"is what the scorer reads them with (copy it beside the weights)", io->base);
		else
			tok = bpe_load(tp, NULL);
		free(tp);
		if (!tok)
			goto out;
	}
	double t_start = now_seconds();
	int64_t bos = o.add_bos ? t.c.bos_id : -1;
	for (size_t i = 0; i < io->nlabels; i++)
		if (read_labels(io->labels[i], &o, tok, bos, t.c.vocab, &t.d) < 0)
			goto out;
	struct buf line = BUF_INIT;
	stats_line(&t.d, &line);
	if (!t.d.n) {
		err_set("no usable labels in %zu file%s: %s", io->nlabels, io->nlabels == 1 ? "" : "s",
			line.p);
		buf_release(&line);
		goto out;
	}
	if (t.rank == 0)
		log_info("scorer train: %s", line.p);
	buf_release(&line);
	/* the held-out split, by a hash of the id: the same for any file layout and rank count */
	t.train = xmalloc(t.d.n * sizeof *t.train), t.val = xmalloc(t.d.n * sizeof *t.val);
	double sum_y = 0;
	uint64_t train_tokens = 0;
	for (size_t i = 0; i < t.d.n; i++) {
		struct sample *x = &t.d.v[i];
		uint64_t h = hash64_seeded(o.seed ^ 0x73706c6974ull, x->id, strlen(x->id)); /* "split" */
		x->val = (double)(h >> 11) / 9007199254740992.0 < o.val_fraction;
		if (x->val)
			t.val[t.nval++] = i;
		else
			t.train[t.ntrain++] = i, sum_y += x->y, train_tokens += x->n;
	}
	if (!t.ntrain) {
		err_set("every one of the %zu labels fell in the held-out split (val_fraction %g)",
			t.d.n, o.val_fraction);
		goto out;
	}
	t.mean_y = sum_y / (double)t.ntrain;
	train_layout_init(&t.L, &t.c);
	params = xmalloc(t.L.total * sizeof *params);
	if (load_base(io->base, &t.L, &o, &b, params) < 0)
		goto out;
	char why[512] = "";
	t.ops = pick_engine(&o, why, sizeof why);
	if (!t.ops) {
		err_set("device cuda: %s", why);
		goto out;
	}
	struct train_engine_opts eo = {(int)(o.threads ? o.threads : par_cpu_share()),
				       par_local_rank(), (size_t)o.max_tokens,
				       (size_t)o.micro_tokens, 0};
	/* auto: the CUDA engine measures its device; the CPU engine when a sequence's activations
	 * would pass 4 GiB */
	eo.recompute = !strcmp(o.recompute, "on") ? 1
		       : strcmp(o.recompute, "auto")	  ? 0
		       : t.ops != &train_cpu_ops	  ? -1
							  : act_bytes(&t.c, (size_t)o.max_tokens) >
							  (double)(4ull << 30);
	char desc[160] = "";
	t.e = t.ops->create(&t.c, &t.L, params, &eo, desc, sizeof desc, t.err, sizeof t.err);
	if (!par_all_ok(t.e != NULL)) {
		err_set("%s: %s", t.ops->name, t.e ? "failed on another rank" : t.err);
		goto out;
	}
	if (t.rank == 0)
		log_info("scorer train: %s mode, %zu train and %zu held-out samples (%llu tokens), "
			 "%lld parameters, on %s%s, %d rank%s", o.mode == MODE_HEAD ? "head" : "full",
			 t.ntrain, t.nval, (unsigned long long)train_tokens, (long long)t.L.total,
			 desc, eo.recompute == 1 ? " with recomputation" : "", t.nranks,
			 t.nranks == 1 ? "" : "s");
	char fp[SHA256_HEX];
	fingerprint(cfg, io->base, io, fp);
	size_t from = 0;
	double step_secs = 0;
	make_plan(&t.d, t.train, t.ntrain, &o, &pl);
	if (o.mode == MODE_FULL) {
		char *dir = xasprintf("%s/checkpoint", io->out), *state = xasprintf("%s/state.bin", dir);
		int made = t.rank == 0 ? mkdir_p(dir) : 0;
		if (!par_all_ok(made == 0)) {
			free(dir), free(state);
			goto out;
		}
		float *m = NULL, *v = NULL;
		int got = 0;
		if (!io->restart && !io->dump_grads) {
			m = xmalloc(t.L.total * sizeof *m), v = xmalloc(t.L.total * sizeof *v);
			got = load_state(state, &meta, params, m, v, t.L.total);
		}
		if (got > 0) {
			const char *was = json_string_value(json_object_get(meta, "fingerprint"));
			if ((!was || strcmp(was, fp)) && io->stale_restarts) {
				if (t.rank == 0)
					log_info("scorer train: %s is a state of other options, base or "
						 "labels: starting over", state);
			} else if (!was || strcmp(was, fp)) {
				err_set("%s: a training state of other options, base or labels: set "
					"restart (--restart) to start over, or restore them", state);
				got = -1;
			} else {
				from = (size_t)json_integer_value(json_object_get(meta, "step"));
				json_array_extend(curve, json_object_get(meta, "curve"));
				json_array_extend(evals, json_object_get(meta, "evals"));
				if (t.ops->set_state(t.e, params, m, v, t.err, sizeof t.err) < 0) {
					err_set("%s", t.err);
					got = -1;
				}
				if (t.rank == 0)
					log_info("scorer train: resuming from %s at step %zu of %zu",
						 state, from, pl.nsteps);
			}
		}
		free(m), free(v), free(dir), free(state);
		if (!par_all_ok(got >= 0))
			goto out;
		if (from > pl.nsteps)
			from = pl.nsteps;
		if (run_full(&t, io, &pl, from, curve, evals, fp, params, &step_secs) < 0)
			goto out;
		if (io->dump_grads) {
			rc = 0;
			goto out;
		}
		if (t.ops->get_state(t.e, params, NULL, NULL, t.err, sizeof t.err) < 0)
			DIE("%s", t.err);
	} else {
		if (fit_head(&t, params + t.L.head) < 0)
			goto out;
		if (t.ops->set_state(t.e, params, NULL, NULL, t.err, sizeof t.err) < 0)
			DIE("%s", t.err);
	}
	float *vp = NULL;
	json_t *final = t.nval ? evaluate(&t, params + t.L.head, &vp) : json_pack("{s:i}", "n", 0);
	if (!final)
		goto out;
	double secs = now_seconds() - t_start;
	size_t nsteps = o.mode == MODE_FULL ? pl.nsteps : 0;
	json_t *mj = json_pack(
		"{s:s,s:s,s:s,s:i,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:I,s:I,s:I,s:O,s:O,s:O,s:f,s:s}",
		"mode", o.mode == MODE_HEAD ? "head" : "full", "base", io->base, "device", desc,
		"ranks", t.nranks, "samples", "records", (json_int_t)t.d.records, "train",
		(json_int_t)t.ntrain, "val", (json_int_t)t.nval, "no_score",
		(json_int_t)t.d.no_score, "empty", (json_int_t)t.d.empty, "malformed",
		(json_int_t)t.d.bad, "train_tokens", (json_int_t)train_tokens, "steps",
		(json_int_t)nsteps, "epochs", (json_int_t)o.epochs, "curve", curve, "evals", evals,
		"final", final, "seconds", secs, "fingerprint", fp);
	/* tokens_per_s: of this run's steps alone (not loading, tokenizing or evaluating) */
	uint64_t tokens_run = 0;
	for (size_t i = 0; i < json_array_size(curve); i++)
		if ((size_t)json_integer_value(json_object_get(json_array_get(curve, i), "step")) > from)
			tokens_run += (uint64_t)json_integer_value(
				json_object_get(json_array_get(curve, i), "tokens"));
	json_object_set_new(mj, "step_seconds", json_real(step_secs));
	json_object_set_new(mj, "tokens_per_s",
			    json_real(step_secs > 0 ? (double)tokens_run / step_secs : 0));
	json_decref(final);
	if (t.rank == 0 && !t.nval)
		log_info("scorer train: no held-out split (val_fraction %g); %s written",
			 o.val_fraction, io->out);
	else if (t.rank == 0)
		log_info("scorer train: held-out mae10 %.4f (constant predictor %.4f), spearman "
			 "%.4f, f1 of the bottom %g %.4f; %s written",
			 json_real_value(json_object_get(json_object_get(mj, "final"), "mae10")),
			 json_real_value(json_object_get(json_object_get(mj, "final"), "constant_mae10")),
			 json_real_value(json_object_get(json_object_get(mj, "final"), "spearman")),
			 o.bottom_fraction,
			 json_real_value(json_object_get(json_object_get(mj, "final"), "f1_bottom")),
			 io->out);
	int wrc = write_output(&t, io, &b, params, mj);
	if (!wrc && t.rank == 0 && t.nval) { /* what a user checks the scorer against */
		struct buf pb = BUF_INIT;
		for (size_t i = 0; i < t.nval; i++) {
			json_t *r = json_pack("{s:s,s:f,s:f}", "id", t.d.v[t.val[i]].id, "score",
					      (double)t.d.v[t.val[i]].y, "prediction", (double)vp[i]);
			char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
			buf_puts(&pb, text), buf_putc(&pb, '\n');
			free(text), json_decref(r);
		}
		char *pp = xasprintf("%s/val_predictions.jsonl", io->out);
		wrc = write_file_atomic(pp, pb.p, pb.len);
		free(pp), buf_release(&pb);
	}
	free(vp);
	json_decref(mj);
	rc = par_all_ok(wrc == 0) ? 0 : -1;
	if (rc && !wrc)
		err_set("rank 0 could not write %s", io->out);
out:
	if (t.e)
		t.ops->destroy(t.e);
	for (size_t i = 0; i < t.d.n; i++)
		free(t.d.v[i].id), free(t.d.v[i].ids);
	free(t.d.v), free(t.train), free(t.val), free(params);
	plan_release(&pl);
	train_layout_release(&t.L);
	json_decref(b.config), json_decref(curve), json_decref(evals), json_decref(meta);
	bpe_free(tok);
	return rc;
}
