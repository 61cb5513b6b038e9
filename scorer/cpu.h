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
