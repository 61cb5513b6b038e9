/* fasttext: a supervised fastText classifier that reads and writes fastText's own model files
 * (.bin and quantized .ftz) and answers as fastText 0.9.2 does: same tokens, hashing,
 * n-grams, float32 arithmetic and loss tables; trains with softmax, hs, ns and ova losses and
 * quantizes. Unsupervised word vectors (cbow, skipgram) are not here. docs/fasttext.md. */
#ifndef CURATE_FASTTEXT_H
#define CURATE_FASTTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ft_loss { FT_LOSS_HS = 1, FT_LOSS_NS = 2, FT_LOSS_SOFTMAX = 3, FT_LOSS_OVA = 4 };
enum ft_model_kind { FT_MODEL_CBOW = 1, FT_MODEL_SG = 2, FT_MODEL_SUP = 3 };

/* Training options, fastText's names and supervised defaults (ft_args_default). */
struct ft_args {
	const char *input, *output, *label;
	double lr, t;
	int lr_update_rate, dim, ws, epoch, min_count, min_count_label, neg, word_ngrams;
	int bucket, minn, maxn, thread, verbose, seed;
	enum ft_loss loss;
};
void ft_args_default(struct ft_args *a);
/* Parses fastText's "-name value" options (argv without the verb). 0, or -1 with err_set. */
int ft_args_parse(struct ft_args *a, int argc, char **argv);

struct ft_model; /* opaque: args, dictionary, matrices, loss tables */

/* Opens a .bin or .ftz file. A dense input matrix is used in place from a read-only memory
 * map, so processes on one node share its pages. NULL with err_set ("PATH: offset N: what")
 * for a file that is not a supervised fastText model, or is malformed or truncated. */
struct ft_model *ft_model_open(const char *path);
/* Parses a model held in memory (data must outlive the model); name is for messages. */
struct ft_model *ft_model_parse(const void *data, size_t size, const char *name);
void ft_model_free(struct ft_model *m); /* NULL is a no-op */

int ft_model_dim(const struct ft_model *m);
int ft_model_nlabels(const struct ft_model *m);
/* The label string of label id i (owned by the model), e.g. "__label__en". */
const char *ft_model_label(const struct ft_model *m, int i);
/* The label id of a label string, -1 if the model has no such label. */
int ft_model_label_id(const struct ft_model *m, const char *label);

/* One prediction: the log-probability fastText ranks by (log(p + 1e-5)) and the label. */
struct ft_pred {
	float logp;
	int32_t label;
};
/* Probability as fastText prints it: exp of logp. */
float ft_pred_prob(const struct ft_pred *p);

/* Scratch of one predicting thread (hidden vector, outputs, token ids). */
struct ft_state;
struct ft_state *ft_state_new(const struct ft_model *m);
void ft_state_free(struct ft_state *s); /* NULL is a no-op */

/* Predicts for one line of text (tokens end at the first newline, as fastText's getLine;
 * labels in the text are ignored). Up to k best with probability >= threshold, best first,
 * into out (room for k); returns how many. k < 0: every label. */
int ft_predict(const struct ft_model *m, struct ft_state *s, const char *text, size_t n, int k,
	       float threshold, struct ft_pred *out);

/* Trains a supervised model on a->input as fastText does (Hogwild threads); *out is the
 * model. Progress goes to stderr when a->verbose > 1. 0, or -1 with err_set. */
int ft_train(const struct ft_args *a, struct ft_model **out);
/* Writes the model as fastText does: a .bin, or an .ftz once quantized. */
int ft_model_save(const struct ft_model *m, const char *path);

/* Options of fastText's `quantize` (its Args defaults: -lr 0.05 -epoch 5 -thread 12). */
struct ft_quant_args {
	const char *input, *output; /* output: the PREFIX of PREFIX.bin and PREFIX.ftz */
	double lr;
	int epoch, thread, verbose, cutoff, dsub;
	bool qnorm, qout, retrain;
};
void ft_quant_args_default(struct ft_quant_args *q);
/* Parses quantize's options (argv without the verb) over ft_quant_args_default: the flags
 * -qnorm -qout -retrain, "-name value" for -output -input -lr (0, 1e6] -epoch [1, 1e6]
 * -cutoff [0, INT32_MAX] -dsub [1, 65536] -thread [1, 1024] -verbose [0, 10]; -output is
 * required. Strings point into argv. No I/O: 0, or -1 with err_set. */
int ft_quant_args_parse(struct ft_quant_args *q, int argc, char **argv);
/* Quantizes a dense supervised model in memory as fastText's quantize: -cutoff keeps the
 * input rows of largest norm (pruning the dictionary), -retrain then trains on q->input,
 * and product quantization codes the input matrix (and the output with qout). 0, or -1
 * with err_set (for instance a matrix of fewer than 256 rows). */
int ft_quantize(struct ft_model *m, const struct ft_quant_args *q);
/* Writes the word vectors as fastText's .vec text. */
int ft_model_save_vectors(const struct ft_model *m, const char *path);

/* Test metrics of fastText's `test`: examples, and precision/recall at k. */
struct ft_meter {
	uint64_t examples, gold, predicted, predicted_gold;
};
/* Runs fastText's `test` over a stream of labelled lines. */
int ft_test(const struct ft_model *m, FILE *in, int k, float threshold, struct ft_meter *mt);

/* `curate fasttext <verb> ...`: supervised, test, predict, predict-prob, quantize, split-eval. */
struct cli_cmd;
struct cli_args;
int ft_cmd(const struct cli_cmd *cmd, struct cli_args *a);

#endif
