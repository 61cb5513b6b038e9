/* scorer_cuda: the interface of the GPU path, built by the Makefile into
 * libcurate-cuda.so (the .cu files of scorer/) when nvcc is found, and opened with dlopen only when a
 * scorer wants a GPU, so that curate itself starts without loading the CUDA libraries and
 * runs where they are absent. Weights arrive as fp32 host arrays and become bf16 on the
 * device. Errors come back as text in err. */
#ifndef CURATE_SCORER_CUDA_H
#define CURATE_SCORER_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct scorer_config;
struct scorer_layer;
struct cuda_model;

/* The file name dlopen looks for beside the curate binary (or at $CURATE_CUDA_LIB). */
#define CURATE_CUDA_LIB "libcurate-cuda.so"

/* 1 when a CUDA device is usable, else 0 with the reason in why. */
typedef int (*cuda_available_fn)(char *why, size_t whylen);
/* Uploads the weights to device gpu (modulo the device count) and fills name with
 * "cuda:K (DEVICE)"; the caller keeps the host arrays. head is [c->outputs][H] (the rows of
 * the head: score.weight, or an LM head's chosen rows). NULL with err on failure. */
typedef struct cuda_model *(*cuda_model_new_fn)(const struct scorer_config *c,
						 const float *embed,
						 const struct scorer_layer *layers,
						 const float *norm, const float *head, int gpu,
						 size_t max_tokens, char *name, size_t namelen,
						 char *err, size_t errlen);
typedef void (*cuda_model_free_fn)(struct cuda_model *m);
/* Scores n sequences (sorted by length and packed inside) into out[n][c->outputs]; 0, or -1
 * with err. */
typedef int (*cuda_model_score_fn)(struct cuda_model *m, const uint32_t *const *ids,
				   const size_t *lens, size_t n, float *out, char *err,
				   size_t errlen);

int curate_cuda_available(char *why, size_t whylen);
struct cuda_model *curate_cuda_model_new(const struct scorer_config *c, const float *embed,
					 const struct scorer_layer *layers, const float *norm,
					 const float *head, int gpu, size_t max_tokens, char *name,
					 size_t namelen, char *err, size_t errlen);
void curate_cuda_model_free(struct cuda_model *m);
int curate_cuda_model_score(struct cuda_model *m, const uint32_t *const *ids, const size_t *lens,
			    size_t n, float *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
