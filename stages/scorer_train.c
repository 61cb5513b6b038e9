/* scorer-train: the middle of the model-centric loop (docs/scorer-train.md). A side stage:
 * it reads the oracle's label shards (its `input`) and writes a trained scorer checkpoint to
 * <workdir>/scorer-train/model, which the quality stage scores with when quality.model is
 * empty. Its fingerprint holds its options, the base checkpoint and the labels' manifest, so
 * new labels or options retrain and quality (whose signature stamps the model's files)
 * rescores. `curate scorer train` runs the same trainer (scorer/train.c) outside a pipeline,
 * with these same options as KEY=VALUE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "scorer.h"
#include "par.h"
#include "stages.h"
#include "train.h"

const struct opt_def scorer_train_opts[] = {
	{"input", OPT_STR, "oracle", 0, 0, NULL,
	 "The stage whose label shards train the scorer (records with id, text and score)."},
	{"base", OPT_STR, "", 0, 0, NULL,
	 "The base checkpoint: a Hugging Face LlamaForCausalLM, LlamaForSequenceClassification, "
	 "Qwen2ForCausalLM or Qwen2ForSequenceClassification directory with tokenizer.json. "
	 "Required."},
	{"mode", OPT_ENUM, "full", 0, 0, "full|head",
	 "full: fine-tune every weight with AdamW on MSE (the report's recipe); head: keep the "
	 "body frozen and fit the head by ridge regression on its last-token features."},
	{"epochs", OPT_INT, "1", 1, 1000, NULL, "Passes over the training split (the report: 1)."},
	{"lr", OPT_FLOAT, "2e-5", 0, 10, NULL, "full: the peak learning rate."},
	{"schedule", OPT_ENUM, "cosine", 0, 0, "cosine|linear|constant",
	 "full: the decay after warmup, down to min_lr_ratio * lr at the last step."},
	{"min_lr_ratio", OPT_FLOAT, "0.1", 0, 1, NULL, "full: the last step's rate over lr."},
	{"warmup", OPT_FLOAT, "0.03", 0, 1, NULL,
	 "full: the fraction of the steps over which the rate rises linearly to lr."},
	{"weight_decay", OPT_FLOAT, "0.01", 0, 10, NULL,
	 "full: AdamW's decoupled weight decay, on matrices and embeddings (not norms, biases)."},
	{"beta1", OPT_FLOAT, "0.9", 0, 1, NULL, "full: AdamW's first-moment decay."},
	{"beta2", OPT_FLOAT, "0.999", 0, 1, NULL, "full: AdamW's second-moment decay."},
	{"eps", OPT_FLOAT, "1e-8", 0, 1, NULL, "full: AdamW's epsilon."},
	{"max_grad_norm", OPT_FLOAT, "1.0", 0, 1e30, NULL,
	 "full: clip the gradient to this L2 norm over all weights (0: no clipping)."},
	{"batch_tokens", OPT_INT, "16384", 1, 1LL << 40, NULL,
	 "full: tokens of one micro-batch over all ranks: sequences, packed without padding, are "
	 "added in order while they fit (at least one)."},
	{"grad_accum", OPT_INT, "1", 1, 1 << 20, NULL,
	 "full: micro-batches per optimizer step (the loss is the step's mean)."},
	{"max_tokens", OPT_INT, "2048", 1, 1048576, NULL,
	 "Documents are truncated to their first max_tokens tokens, as the quality stage does."},
	{"add_bos", OPT_BOOL, "true", 0, 0, NULL,
	 "Prepend the base's bos_token_id, as the quality stage's add_bos does."},
	{"val_fraction", OPT_FLOAT, "0.05", 0, 1, NULL,
	 "The held-out share, chosen by a seeded hash of each id (the same for any file layout)."},
	{"seed", OPT_INT, "0", 0, 1LL << 62, NULL,
	 "Seeds the split, the shuffle and a new head's initialisation."},
	{"shuffle", OPT_BOOL, "true", 0, 0, NULL,
	 "Shuffle the training split each epoch (seeded); false: the input order."},
	{"eval_every", OPT_INT, "0", 0, 1LL << 40, NULL,
	 "full: also evaluate on the held-out split every this many steps (0: at the end only)."},
	{"checkpoint_every", OPT_INT, "100", 0, 1LL << 40, NULL,
	 "full: save the training state every this many steps, and at the end; a rerun resumes "
	 "from the last one to the same result."},
	{"log_every", OPT_INT, "10", 0, 1LL << 40, NULL, "Log a progress line every N steps."},
	{"ridge", OPT_FLOAT, "1e-3", 0, 1e6, NULL,
	 "head: the L2 penalty, relative to the mean squared feature norm over hidden_size."},
	{"head_init_std", OPT_FLOAT, "0", 0, 10, NULL,
	 "full: the std of a new head (a causal LM base has none); 0: the base's "
	 "initializer_range, else 0.02."},
	{"bottom_fraction", OPT_FLOAT, "0.1", 0, 1, NULL,
	 "The validation F1 is of the decision \"in the bottom fraction\" (the report drops 10%)."},
	{"score_field", OPT_STR, "score", 0, 0, NULL,
	 "The label's field with the target (the oracle's score is its rating over 10)."},
	{"score_scale", OPT_FLOAT, "1", 1e-9, 1e9, NULL,
	 "Targets are score_field / score_scale and must fall in [0, 1] (10 for a 0-10 rating)."},
	{"pretokenized", OPT_BOOL, "false", 0, 0, NULL,
	 "Records carry token ids in \"ids\" instead of \"text\" (no tokenizer needed)."},
	{"dtype", OPT_ENUM, "f32", 0, 0, "f32|bf16", "The output checkpoint's weights."},
	{"device", OPT_ENUM, "auto", 0, 0, "auto|cpu|cuda",
	 "auto: the rank's GPU when the CUDA training engine is built and a GPU is present."},
	{"threads", OPT_INT, "0", 0, 4096, NULL,
	 "CPU threads per rank; 0: the online CPUs divided by the ranks on the node."},
	{"micro_tokens", OPT_INT, "16384", 1, 1LL << 40, NULL,
	 "CUDA: the most tokens one forward and backward pass packs; more are accumulated."},
	{"recompute", OPT_ENUM, "auto", 0, 0, "auto|on|off",
	 "Keep only each layer's input and recompute the rest in the backward pass; auto: on the "
	 "CPU when a sequence's activations would pass 4 GiB, on a GPU when every layer's would "
	 "not fit in its free memory with 2 GiB to spare. The result is the same either way."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static int train_run(struct stage_run *run, const struct task_list *in)
{
	const char *base = config_str(run->cfg, "scorer-train.base");
	if (!*base) {
		err_set("scorer-train.base: no base checkpoint given");
		log_error("stage scorer-train: %s", err_get());
		return -1;
	}
	const char **labels = xcalloc(in->n + 1, sizeof *labels);
	for (size_t i = 0; i < in->n; i++)
		labels[i] = in->v[i].arg.p;
	char *out = xasprintf("%s/model", run->dir);
	/* the state of another configuration is the old run's: start over (run by hand, the
	 * trainer would refuse it) */
	struct train_io io = {base, out, labels, in->n, NULL, run->force, true};
	int rc = scorer_train(run->cfg, &io);
	if (rc < 0)
		log_error("stage scorer-train: %s", err_get());
	static const char *const names[] = {"config.json", "model.safetensors", "metrics.json",
					    "tokenizer.json"};
	struct stage_file f[ARRAY_LEN(names)];
	size_t nf = 0;
	for (size_t i = 0; !rc && run->rank == 0 && i < ARRAY_LEN(names); i++) {
		char *p = xasprintf("%s/%s", out, names[i]);
		struct stat sb;
		if (stat(p, &sb) == 0) {
			memset(&f[nf], 0, sizeof f[nf]);
			snprintf(f[nf].name, sizeof f[nf].name, "model/%s", names[i]);
			f[nf].bytes = (uint64_t)sb.st_size, f[nf].records = 1;
			if (sha256_file_hex(p, f[nf].sha256) < 0)
				rc = -1;
			nf++;
		}
		free(p);
	}
	if (!rc && run->rank == 0) {
		struct stats st;
		stats_init(&st);
		stats_count(&st, "labels", (uint64_t)in->n);
		rc = stage_write_part_files(run, 0, f, nf, &st, 0);
		stats_release(&st);
	}
	run->out_shards = 1;
	free(labels), free(out);
	return par_all_ok(rc == 0) ? 0 : -1;
}

static int train_signature(struct stage_run *run, struct buf *sig)
{
	return scorer_checkpoint_signature(config_str(run->cfg, "scorer-train.base"), sig);
}

/* how it runs, never what it gives (checkpoint_every: a resumed run ends where an
 * uninterrupted one does; recompute: the same sums) */
static const char *const train_runtime[] = {"threads", "micro_tokens", "recompute",
					    "checkpoint_every", "log_every", NULL};

const struct stage_def stage_scorer_train = {
	.name = "scorer-train",
	.kind = STAGE_GLOBAL,
	.summary = "fine-tune the quality scorer on the oracle's ratings (AdamW, or a ridge head)",
	.opts = scorer_train_opts,
	.version = 1,
	.runtime_opts = train_runtime,
	.side = true,
	.signature = train_signature,
	.run = train_run,
};
