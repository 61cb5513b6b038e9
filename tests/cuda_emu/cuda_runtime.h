/* cuda_emu: the part of the CUDA runtime and of the kernel language that scorer/scorer_cuda.cu
 * and scorer/train_cuda.cu use, for g++ on a machine without CUDA. Kernels are plain
 * functions; launch.sed turns `k<<<grid, block, smem, stream>>>(args)` into
 * cuda_emu::launch(), which runs the grid on the CPU (one block at a time, the block's threads
 * as fibers, emu.cc). Device memory is host memory, streams and events are synchronous. See docs/scorer.md, "The CUDA emulator". */
#ifndef CUDA_EMU_RUNTIME_H
#define CUDA_EMU_RUNTIME_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

/* ---- the kernel language ---- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static /* one block runs at a time, so a static is the block's */
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...) /* launch.sed turns it into a check at the kernel's entry */
#define __restrict__ __restrict

struct uint3 { unsigned x, y, z; };
struct dim3 {
	unsigned x, y, z;
	constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
	constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
/* the vector types: their CUDA alignment, and may_alias because kernels read bf16 rows
 * through them (16-byte loads), which nvcc allows */
struct __attribute__((aligned(8), may_alias)) float2 { float x, y; };
struct __attribute__((aligned(16), may_alias)) float4 { float x, y, z, w; };
struct __attribute__((aligned(8), may_alias)) uint2 { unsigned x, y; };
struct __attribute__((aligned(16), may_alias)) uint4 { unsigned x, y, z, w; };
struct __attribute__((aligned(16), may_alias)) int4 { int x, y, z, w; };
static inline float2 make_float2(float x, float y) { return {x, y}; }
static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
static inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
static inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

enum { warpSize = 32 };

/* math: what CUDA declares for host and device; the fast intrinsics are the precise ones */
#define __expf expf /* (glibc declares its own __expf and __logf) */
#define __logf logf
static inline float __fdividef(float a, float b) { return a / b; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
static inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }

/* ---- the runtime API ---- */
typedef enum cudaError {
	cudaSuccess = 0,
	cudaErrorInvalidValue = 1,
	cudaErrorMemoryAllocation = 2,
	cudaErrorInvalidConfiguration = 9,
	cudaErrorInvalidDevicePointer = 17,
	cudaErrorInvalidMemcpyDirection = 21,
	cudaErrorNoDevice = 100,
	cudaErrorInvalidDevice = 101,
	cudaErrorInvalidResourceHandle = 400,
} cudaError_t;
enum cudaMemcpyKind {
	cudaMemcpyHostToHost = 0,
	cudaMemcpyHostToDevice = 1,
	cudaMemcpyDeviceToHost = 2,
	cudaMemcpyDeviceToDevice = 3,
	cudaMemcpyDefault = 4,
};
enum cudaFuncAttribute {
	cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
	cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00

typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;
namespace cuda_emu {
struct config {
	dim3 grid, block;
	size_t smem;
	cudaStream_t st;
};
} // namespace cuda_emu

struct cudaDeviceProp {
	char name[256];
	size_t totalGlobalMem, sharedMemPerBlock, sharedMemPerBlockOptin, sharedMemPerMultiprocessor;
	int regsPerBlock, warpSize, maxThreadsPerBlock, maxThreadsDim[3], maxGridSize[3];
	int multiProcessorCount, major, minor, maxThreadsPerMultiProcessor, l2CacheSize;
	int clockRate, memoryClockRate, memoryBusWidth;
};

#pragma GCC visibility push(hidden) /* (calls inside the library need no PLT) */

/* the built-in variables: set by the scheduler before it resumes a thread; kernels read
 * them after every barrier again because the barriers are calls the compiler cannot see */
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

/* ---- barriers and warp collectives (emu.cc) ----
 * __syncthreads waits for every live thread of the block, all at the same line and the same
 * count of barriers passed; a warp operation waits for every live lane named in its mask,
 * which must name the caller and be the same in all of them. Threads that returned count as
 * arrived (sm_70 and later). The macros pass the line, for the error messages. */
namespace cuda_emu {
enum warp_op { OP_SYNCWARP, OP_SHFL, OP_SHFL_UP, OP_SHFL_DOWN, OP_SHFL_XOR, OP_VOTE, OP_MMA };
void syncthreads(int line);
unsigned long long warp_collective(int line, warp_op op, unsigned mask, unsigned long long v,
				   int arg, int width);
void launch_bounds(int max_threads, int min_blocks = 0, int max_cluster = 0);
void *dynamic_smem();
void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

template <typename T>
static inline T shfl(int line, warp_op op, unsigned mask, T var, int arg, int width = 32)
{
	static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shfl of this type");
	unsigned long long u = 0;
	memcpy(&u, &var, sizeof var);
	u = warp_collective(line, op, mask, u, arg, width);
	memcpy(&var, &u, sizeof var);
	return var;
}
/* __syncwarp(mask = all): the line, then the call with CUDA's own default */
struct site {
	int line;
	void syncwarp(unsigned mask = 0xffffffffu) { warp_collective(line, OP_SYNCWARP, mask, 0, 0, 32); }
};
/* kind 0: the ballot; 1: any; 2: all (of the mask's lanes that have not returned) */
static inline unsigned vote(int line, unsigned mask, int pred, int kind)
{
	return (unsigned)warp_collective(line, OP_VOTE, mask, pred != 0, kind, 32);
}
} // namespace cuda_emu

#define __syncthreads() cuda_emu::syncthreads(__LINE__)
#define __syncwarp(...) cuda_emu::site{__LINE__}.syncwarp(__VA_ARGS__)
#define __shfl_sync(m, ...) cuda_emu::shfl(__LINE__, cuda_emu::OP_SHFL, m, __VA_ARGS__)
#define __shfl_up_sync(m, ...) cuda_emu::shfl(__LINE__, cuda_emu::OP_SHFL_UP, m, __VA_ARGS__)
#define __shfl_down_sync(m, ...) cuda_emu::shfl(__LINE__, cuda_emu::OP_SHFL_DOWN, m, __VA_ARGS__)
#define __shfl_xor_sync(m, ...) cuda_emu::shfl(__LINE__, cuda_emu::OP_SHFL_XOR, m, __VA_ARGS__)
#define __ballot_sync(m, p) cuda_emu::vote(__LINE__, m, p, 0)
#define __any_sync(m, p) ((int)cuda_emu::vote(__LINE__, m, p, 1))
#define __all_sync(m, p) ((int)cuda_emu::vote(__LINE__, m, p, 2))

const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaGetDevice(int *dev);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaMalloc(void **p, size_t n);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b);
cudaError_t cudaMallocHost(void **p, size_t n, unsigned flags = 0);
cudaError_t cudaHostAlloc(void **p, size_t n, unsigned flags);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind,
			    cudaStream_t st = 0);
cudaError_t cudaMemset(void *p, int v, size_t n);
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t st = 0);
cudaError_t cudaStreamCreate(cudaStream_t *st);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t st);
cudaError_t cudaStreamSynchronize(cudaStream_t st);
cudaError_t cudaEventCreate(cudaEvent_t *ev);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *ev, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t ev);
cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t st = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t ev);
cudaError_t cudaStreamWaitEvent(cudaStream_t st, cudaEvent_t ev, unsigned flags = 0);

template <class T> static inline cudaError_t cudaMalloc(T **p, size_t n)
{
	return cudaMalloc((void **)(void *)p, n);
}
template <class T> static inline cudaError_t cudaMallocHost(T **p, size_t n, unsigned flags = 0)
{
	return cudaMallocHost((void **)(void *)p, n, flags);
}

/* ---- kernel launches (what launch.sed makes of <<<...>>>) ---- */
namespace cuda_emu {
cudaError_t func_set_attribute(const void *fn, cudaFuncAttribute attr, int value);

static inline config make_config(dim3 grid, dim3 block, size_t smem = 0, cudaStream_t st = 0)
{
	return {grid, block, smem, st};
}
/* runs body(ctx) as every thread of every block of the grid */
void run_grid(const char *name, const void *fn, const config &c, void (*body)(void *), void *ctx);

template <typename... P, typename... A>
void launch(const char *name, void (*k)(P...), const config &c, A &&...a)
{
	static_assert(sizeof...(P) == sizeof...(A), "a kernel launch with the wrong number of arguments");
	/* the arguments are converted once, as a launch copies them to the device */
	struct frame {
		void (*k)(P...);
		std::tuple<typename std::decay<P>::type...> args;
	} f{k, std::tuple<typename std::decay<P>::type...>(std::forward<A>(a)...)};
	run_grid(name, (const void *)k, c,
		 [](void *p) {
			 frame *fr = (frame *)p;
			 auto args = fr->args; /* each thread its own copy of the parameters */
			 std::apply(fr->k, args);
		 },
		 &f);
}
} // namespace cuda_emu

template <class T> static inline cudaError_t cudaFuncSetAttribute(T *fn, cudaFuncAttribute attr, int value)
{
	return cuda_emu::func_set_attribute((const void *)fn, attr, value);
}

#pragma GCC visibility pop

#endif
