/* cuda_emu: what the emulator's own files share (not for the emulated .cu). */
#ifndef CUDA_EMU_EMU_H
#define CUDA_EMU_EMU_H

#include "cuda_runtime.h"

#pragma GCC visibility push(hidden)
namespace cuda_emu {
bool device_range(const void *p, size_t n); /* [p, p + n) inside one cudaMalloc allocation */
bool live_stream(cudaStream_t st);	    /* 0 or a stream not yet destroyed */
} // namespace cuda_emu
#pragma GCC visibility pop

#endif
