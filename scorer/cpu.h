/* cpu: the CPU forward pass of the scorer in fp32: a small thread pool, a blocked GEMM and
 * the Llama layer operations. Every output element is computed by one thread in a fixed
 * order, so scores do not depend on the thread count. */
#ifndef CURATE_SCORER_CPU_H
#define CURATE_SCORER_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "scorer.h"

struct cpu_model;

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
