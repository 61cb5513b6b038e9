/* cpu: the CPU forward pass of the scorer in fp32: a small thread pool, a blocked GEMM and
 * the Llama layer operations. Every output element is computed by one thread in a fixed
 * order, so scores do not depend on the thread count. */
#ifndef CURATE_SCORER_CPU_H
#define CURATE_SCORER_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scorer.h"

struct cpu_model;

/* A pool of threads, the caller working as thread 0. */
struct cpu_pool;
typedef void (*cpu_task_fn)(void *ctx, size_t task, int tid);
struct cpu_pool *cpu_pool_new(int threads); /* 0: all online CPUs */
void cpu_pool_free(struct cpu_pool *p);     /* NULL is a no-op */
int cpu_pool_size(const struct cpu_pool *p);
/* fn(ctx, t, tid) for every t < ntasks, spread over the threads; returns when all are done. */
void cpu_pool_run(struct cpu_pool *p, cpu_task_fn fn, void *ctx, size_t ntasks);
/* y[m][n] = x[m][k] . w[n][k]^T (w as PyTorch stores a weight: [out][in]) */
void cpu_gemm_nt(struct cpu_pool *p, const float *x, const float *w, float *y, size_t m,
		 size_t n, size_t k);
/* y[m][n] = a[m][k] . b[k][n], or y += that with acc; each element summed over k in order,
 * by one thread, so results do not depend on the thread count. */
void cpu_gemm_nn(struct cpu_pool *p, const float *a, const float *b, float *y, size_t m,
		 size_t n, size_t k, bool acc);
/* x . w over k floats, in the GEMM's lane order */
float cpu_dot(const float *x, const float *w, size_t k);

/* The layer operations the scorer's forward and the trainer's share, so that both compute
 * the same bits. RMSNorm as HF computes it (w * (x * rsqrt(mean(x^2) + eps)), fp32); returns
 * the 1/rms it applied. */
float cpu_rmsnorm(float *out, const float *in, const float *w, size_t n, double eps);
/* HF's rotate_half RoPE of T tokens of nheads heads of size hd, in place, with tables
 * [T][hd/2]; sign -1 rotates back (the backward pass of the rotation). */
void cpu_rope(float *v, size_t T, size_t nheads, size_t hd, const float *cosv, const float *sinv,
	      float sign);
/* c's RoPE tables for a sequence of T tokens; inv_freq: hd/2 doubles of scratch. */
void cpu_rope_table(const struct scorer_config *c, size_t T, double *inv_freq, float *cosv,
		    float *sinv);
/* Causal attention of query q (hd floats) over keys and values 0..t, rows stride floats
 * apart: the softmax-weighted values into o; returns the log-sum-exp of the scaled scores.
 * sc: t + 1 floats of scratch. */
float cpu_attend(const float *q, const float *k, const float *v, size_t t, size_t stride,
		 size_t hd, float *sc, float *o);

/* Takes the fp32 weights (the model owns them afterwards and frees them): embed [vocab][H],
 * layers, final norm [H], head [c->outputs][H]. threads 0: all online CPUs. */
struct cpu_model *cpu_model_new(const struct scorer_config *c, float *embed,
				struct scorer_layer *layers, float *norm, float *head, int threads,
				size_t max_tokens);
void cpu_model_free(struct cpu_model *m); /* NULL is a no-op */
int cpu_model_threads(const struct cpu_model *m);

/* The head's c->outputs values for one sequence (1 <= n <= max_tokens, ids < vocab) into
 * out: each row of the head dotted with the final-normed hidden state of the last token. */
void cpu_model_score(struct cpu_model *m, const uint32_t *ids, size_t n, float *out);

/* y[m][n] = x[m][k] . w[n][k]^T with the model's threads (exposed for the unit test). */
void cpu_gemm(struct cpu_model *m, const float *x, const float *w, float *y, size_t rows,
	      size_t n, size_t k);

#endif
