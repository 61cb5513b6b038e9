/* ft_internal: the structures shared by the fastText modules (dictionary, matrices, model,
 * training). Not part of the API: stages use fasttext.h. Layouts follow fastText 0.9.2's
 * files and arithmetic; see docs/fasttext.md for where each rule comes from. */
#ifndef CURATE_FT_INTERNAL_H
#define CURATE_FT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "fasttext.h"
#include "util.h"

#define FT_MAGIC 793712314
#define FT_VERSION 12
#define FT_EOS "</s>"

/* A float that may sit at any address: a .bin's matrix is used in place from the map, and
 * the dictionary's strings before it leave it unaligned. */
typedef float ft_ufloat __attribute__((aligned(1)));

enum ft_entry_type { FT_WORD = 0, FT_LABEL = 1 };

struct ft_entry {
	char *word;
	int64_t count;
	uint32_t hash;
	int8_t type;
	int32_t *sub; /* the word's id, then its character n-gram rows */
	int32_t nsub;
};

struct ft_dict {
	struct ft_entry *words; /* words first, then labels */
	int32_t size, nwords, nlabels, cap;
	int64_t ntokens, pruneidx_size; /* -1: not pruned */
	int32_t *table;                 /* open addressing, -1 empty; capacity tmask + 1 */
	uint32_t tmask;
	int32_t (*prune)[2]; /* (hash bucket, row) pairs in file order when pruned */
	int32_t (*ptab)[2];  /* the same pairs hashed by bucket (ft_dict_prune_index) */
	uint32_t pmask;
	uint64_t *pbits; /* a bit per bucket: set when the bucket is in the prune map */
	const char *label;   /* label prefix */
	int minn, maxn, word_ngrams, bucket;
};

/* fastText's product quantizer: 256 centroids per sub-vector. */
struct ft_pq {
	int32_t dim, nsubq, dsub, lastdsub;
	const ft_ufloat *centroids;
};

struct ft_matrix {
	int64_t m, n;
	bool quant, qnorm;
	ft_ufloat *data; /* dense: m x n, row-major (in the map, or owned when trained) */
	float *owned;
	const uint8_t *codes, *norm_codes;
	struct ft_pq pq, npq;
	uint8_t *own_codes, *own_ncodes; /* quantized by ft_quantize (else in the map) */
	float *own_cent, *own_ncent;
};

struct ft_model {
	struct ft_args args;
	enum ft_model_kind kind;
	int version;
	struct ft_dict dict;
	struct ft_matrix in, out;
	bool qout;
	/* HS: the Huffman tree over label counts */
	struct ft_node {
		int32_t parent, left, right;
		int64_t count;
		bool binary;
	} *tree;
	int32_t **paths;
	bool **codes;
	int32_t *pathlen;
	float t_sigmoid[513], t_log[513];
	int32_t *negatives; /* -loss ns training: label ids, by square root of count */
	size_t nnegatives;
	void *map; /* the mapped file, if opened from a path */
	size_t map_size;
};

struct ft_state {
	float *hidden, *grad, *output;
	int32_t *ids, *labels;
	uint32_t *hashes;
	size_t nids, capids, nlabels, caplabels, nhashes, caphashes;
	uint32_t rng;
	double loss;
	int64_t nexamples;
	/* k-best heap of prediction */
	struct ft_pred *heap;
	int nheap;
};

/* dictionary (dict.c) */
uint32_t ft_hash(const char *s, size_t n);
void ft_dict_init(struct ft_dict *d, const struct ft_args *a);
void ft_dict_release(struct ft_dict *d);
int32_t ft_dict_find(const struct ft_dict *d, const char *w, size_t n, uint32_t h);
void ft_dict_index(struct ft_dict *d);   /* rebuilds the table from words */
void ft_dict_subwords(struct ft_dict *d); /* each word's n-gram rows */
void ft_dict_prune_index(struct ft_dict *d); /* the lookup table of d->prune */
/* Tokens of one line (up to and including the first newline) of text: the input rows in
 * s->ids, label ids in s->labels. Returns the tokens read; *used is how many bytes. */
int64_t ft_dict_line(const struct ft_dict *d, struct ft_state *s, const char *text, size_t n,
		     size_t *used);
/* Builds the dictionary from a training file as fastText's readFromFile does. */
int ft_dict_build(struct ft_dict *d, const char *path, int min_count, int min_count_label,
		  int verbose);

/* model (model.c) */
void ft_model_tables(struct ft_model *m);
int ft_model_build_tree(struct ft_model *m);
float ft_dot(const struct ft_matrix *a, const float *v, int64_t row);
void ft_add_row(const struct ft_matrix *a, float *v, int64_t row, float scale, bool scaled);
void ft_hidden(const struct ft_model *m, struct ft_state *s);
float ft_sigmoid(const struct ft_model *m, float x);
float ft_log(const struct ft_model *m, float x);
void ft_softmax_output(const struct ft_model *m, struct ft_state *s);
void ft_state_ids_push(struct ft_state *s, int32_t id);

/* libstdc++ as fastText's binary runs it (stl.c) */
uint32_t ft_minstd_seed(int64_t s);          /* the state minstd_rand(s) starts from */
uint32_t ft_minstd(uint32_t *s);             /* std::minstd_rand */
double ft_canonical(uint32_t *s);            /* uniform_real_distribution<double>(0, 1) */
uint64_t ft_uniform(uint32_t *s, uint64_t n); /* uniform_int_distribution(0, n - 1) */
void ft_shuffle(int32_t *v, int32_t n, uint32_t *rng); /* std::shuffle */
/* comp(a, b) of the C++ algorithms; elements of at most 64 bytes */
typedef bool (*ft_less)(const void *a, const void *b, const void *ctx);
void ft_sort(void *v, long n, size_t size, ft_less less, const void *ctx); /* std::sort */
void ft_push_heap(void *v, long n, size_t size, ft_less less, const void *ctx);
void ft_pop_heap(void *v, long n, size_t size, ft_less less, const void *ctx);
void ft_sort_heap(void *v, long n, size_t size, ft_less less, const void *ctx);

/* training (train.c) */
/* Trains m (dense matrices owned by m, dictionary built) on a->input: ft_train's threads. */
int ft_train_model(struct ft_model *m, const struct ft_args *a);

#endif
