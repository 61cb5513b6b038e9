/* train: fine-tuning the quality scorer on rated documents (`curate scorer train`,
 * docs/scorer-train.md). Every trainable weight lives in one flat fp32 array laid out by
 * train_layout; the gradient, AdamW's two moments and the checkpoints use the same layout.
 * An engine (train_cpu.c on CPU threads, train_cuda.cu on a GPU) holds the weights and runs
 * the forward and backward passes and the optimizer step; train.c drives it: data, split,
 * batches, schedule, the all-reduce across ranks, checkpoints and metrics. */
#ifndef CURATE_TRAIN_H
#define CURATE_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "scorer.h"

/* One tensor of the flat array: its Hugging Face name, shape (d1 0: a vector) and place. */
struct train_param {
	char name[80];
	int64_t d0, d1;
	size_t off, n;
	bool decay; /* AdamW's weight decay applies (matrices; never norms or biases) */
};

/* Where each weight of layer l starts in the flat array; NO_PARAM for absent biases. */
#define NO_PARAM ((size_t)-1)
struct train_layer_off {
	size_t attn_norm, wq, bq, wk, bk, wv, bv, wo, mlp_norm, wgate, wup, wdown;
};

struct train_layout {
	struct train_param *v;
	size_t n, total;
	size_t embed, norm, head; /* head: score.weight [1][H] */
	struct train_layer_off *layer;
};
/* The layout of c's weights, in checkpoint order: embed, each layer's, final norm, head. */
void train_layout_init(struct train_layout *L, const struct scorer_config *c);
void train_layout_release(struct train_layout *L);

/* A batch: n sequences of token ids with their targets in [0, 1]. */
struct train_batch {
	const uint32_t *const *ids;
	const size_t *lens;
	const float *targets;
	size_t n;
};

/* One AdamW step (PyTorch's torch.optim.AdamW): t counts from 1; the gradient is first
 * multiplied by grad_scale (the clipping coefficient, 1 when not clipped). */
struct adamw_step {
	double lr, beta1, beta2, eps, weight_decay, grad_scale;
	int64_t t;
};

struct train_engine_opts {
	int threads;       /* CPU threads, 0: all */
	int gpu;           /* CUDA device index */
	size_t max_tokens; /* the longest sequence */
	size_t micro_tokens; /* the most tokens one forward/backward packs (CUDA) */
	int recompute;     /* 1: keep only each layer's input, recompute the rest in backward;
			    * -1: the engine decides by its memory (the CUDA engine: on when
			    * every layer's activations would not fit); the bits are the same */
};

struct train_engine;

/* The operations every engine provides. Errors come back as text in err. The gradient is
 * held by the engine, zero after create and after each step. */
struct train_engine_ops {
	const char *name; /* "cpu" or "cuda" */
	/* A copy of params (L->total floats) with zero AdamW moments. */
	struct train_engine *(*create)(const struct scorer_config *c, const struct train_layout *L,
				       const float *params, const struct train_engine_opts *o,
				       char *desc, size_t desclen, char *err, size_t errlen);
	void (*destroy)(struct train_engine *e);
	/* Forward and backward over the batch: gradient += scale * d/dw sum_i (pred_i - y_i)^2;
	 * preds[i] the predictions (before the update). Deterministic for a given batch. */
	int (*accumulate)(struct train_engine *e, const struct train_batch *b, float scale,
			  float *preds, char *err, size_t errlen);
	/* The final-normed hidden state of each sequence's last token, feat[n][H]: what the
	 * head multiplies. No gradient. */
	int (*features)(struct train_engine *e, const uint32_t *const *ids, const size_t *lens,
			size_t n, float *feat, char *err, size_t errlen);
	/* The gradient out to, and in from, a host array of L->total floats (the all-reduce). */
	int (*get_grads)(struct train_engine *e, float *g, char *err, size_t errlen);
	int (*set_grads)(struct train_engine *e, const float *g, char *err, size_t errlen);
	/* The gradient's squared L2 norm, summed in a fixed order. */
	double (*grad_sq)(struct train_engine *e);
	/* One AdamW step of every weight (decay where L says), then the gradient is zeroed. */
	int (*step)(struct train_engine *e, const struct adamw_step *s, char *err, size_t errlen);
	/* The weights and both moments to / from host arrays of L->total floats (checkpoints);
	 * NULL m and v: the weights only. */
	int (*get_state)(struct train_engine *e, float *params, float *m, float *v, char *err,
			 size_t errlen);
	int (*set_state)(struct train_engine *e, const float *params, const float *m,
			 const float *v, char *err, size_t errlen);
};

extern const struct train_engine_ops train_cpu_ops;

/* The CUDA engine, in libcurate-cuda.so (scorer/train_cuda.cu): its table of operations,
 * looked up with dlsym by this name. */
#define CURATE_CUDA_TRAIN_OPS "curate_cuda_train_ops"

/* One label record (a JSON line) as scorer train reads it: LABEL_OK with the id, the text (or
 * with pretokenized the "ids" array) and the target score_field / scale in [0, 1] in out;
 * else why says what is wrong. out->j holds the parsed line: train_label_release frees it. */
#include <jansson.h>
enum train_label_kind { LABEL_OK, LABEL_NO_SCORE, LABEL_MALFORMED, LABEL_OUT_OF_RANGE };
struct train_label {
	json_t *j;
	const char *id, *text;
	size_t text_len;
	json_t *ids;
	double target;
};
enum train_label_kind train_label_parse(const char *line, size_t len, const char *score_field,
				       double scale, bool pretokenized, struct train_label *out,
				       char *why, size_t whylen);
void train_label_release(struct train_label *l);

/* What one training run reads and writes. */
struct train_io {
	const char *base; /* the base checkpoint directory */
	const char *out;  /* the output directory (its checkpoint/ holds the training state) */
	const char *const *labels; /* label files (JSONL, plain or .zst), read in this order */
	size_t nlabels;
	const char *dump_grads; /* tests: write the first step's gradient here and stop */
	bool restart;           /* start over even if out/checkpoint has a resumable state */
	bool stale_restarts;    /* a state of other options starts over (else: an error) */
};
/* Trains with the options of cfg's scorer-train section (collective: every rank calls it).
 * 0, or -1 with err_set. */
int scorer_train(const struct config *cfg, const struct train_io *io);
/* The scorer-train section's options (stages/scorer_train.c), for `curate scorer train`. */
extern const struct opt_def scorer_train_opts[];

#endif
