/* cuda_emu: __nv_bfloat16 and its conversions, bit for bit as cuda_bf16.hpp defines them:
 * float to bf16 rounds to nearest even, any NaN becomes 0x7fff; bf16 to float is exact. */
#ifndef CUDA_EMU_BF16_H
#define CUDA_EMU_BF16_H

#include <cstring>

#include "cuda_runtime.h"

struct __nv_bfloat16_raw {
	unsigned short x;
};

static inline unsigned short cuda_emu_f2bf(float f)
{
	unsigned x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return 0x7fff;
	unsigned short r = (unsigned short)(x >> 16);
	unsigned rem = x << 16;
	if (rem > 0x80000000u || (rem == 0x80000000u && (r & 1)))
		r++;
	return r;
}

static inline float cuda_emu_bf2f(unsigned short b)
{
	unsigned x = (unsigned)b << 16;
	float f;
	memcpy(&f, &x, 4);
	return f;
}

/* may_alias: kernels move bf16 rows through uint4, which nvcc allows */
struct __attribute__((aligned(2), may_alias)) __nv_bfloat16 {
	unsigned short __x;
	__nv_bfloat16() = default;
	__nv_bfloat16(const __nv_bfloat16_raw &r) : __x(r.x) {}
	__nv_bfloat16(float f) : __x(cuda_emu_f2bf(f)) {}
	operator float() const { return cuda_emu_bf2f(__x); }
	operator __nv_bfloat16_raw() const { return {__x}; }
};

static inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16_raw{cuda_emu_f2bf(f)}; }
static inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
static inline float __bfloat162float(__nv_bfloat16 b) { return cuda_emu_bf2f(b.__x); }
static inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.__x; }
static inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return __nv_bfloat16_raw{u}; }

#endif
