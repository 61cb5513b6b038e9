/* cuda_check: the CUDA libraries' failure checks of scorer_cuda.cu and train_cuda.cu. A CUDA
 * or cuBLASLt failure inside the library aborts with file:line, as the project's check macros
 * do; user errors come back in the callers' err buffers instead. Include after the CUDA
 * headers. */
#ifndef CURATE_CUDA_CHECK_H
#define CURATE_CUDA_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CUDA_CHECK(call)                                                                   \
	do {                                                                               \
		cudaError_t e_ = (call);                                                   \
		if (e_ != cudaSuccess) {                                                   \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,     \
				cudaGetErrorString(e_));                                   \
			abort();                                                           \
		}                                                                          \
	} while (0)
#define LT_CHECK(call)                                                                     \
	do {                                                                               \
		cublasStatus_t s_ = (call);                                                \
		if (s_ != CUBLAS_STATUS_SUCCESS) {                                         \
			fprintf(stderr, "%s:%d: %s: cuBLASLt status %d\n", __FILE__, __LINE__, \
				#call, (int)s_);                                           \
			abort();                                                           \
		}                                                                          \
	} while (0)

#endif
