/* train_cuda: the CUDA training engine (train.h's operations, curate_cuda_train_ops), built
 * into libcurate-cuda.so beside scorer_cuda.cu. fp32 master weights, gradient and AdamW
 * moments on the device, bf16 copies of the matrices and bf16 activations; cuBLASLt GEMMs
 * (fp32 accumulation) for the forward pass and both backward products (dX = dY W and
 * dW += dY^T X, the latter accumulating into the fp32 gradient in place); fused kernels for
 * RMSNorm, RoPE (with qwen2's biases), SwiGLU and the head, forward and backward; a
 * variable-length causal attention that saves each query's log-sum-exp, and two backward
 * kernels (dq per query; dk and dv per key, the heads of a GQA group in order). Sequences are
 * packed without padding into packs of at most micro_tokens tokens, gradients summed over the
 * packs. Deterministic by construction: no atomics, every sum has one order whatever the
 * execution order of threads and blocks (column sums over fixed chunks of rows, then the
 * chunks in order). docs/scorer-train-cuda.md has the layout, precision and limits.
 * UNVERIFIED ON HARDWARE: written without a GPU and checked on tests/cuda_emu/ against
 * train_cpu.c (tests/unit/test_train_cuda.c). */
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <tuple>
#include <utility>
#include <vector>

extern "C" {
#include "scorer.h"
#include "train.h"
}

#include "cuda_check.h"
#include "flash.cuh"

typedef __nv_bfloat16 tc_bf16;

/* TC_ROWS: queries (or keys) per attention block, one per thread; TC_TK, TC_TQ: the key and
 * query tiles staged in shared memory; TC_CHUNK: rows per partial of a column sum */
enum { TC_HD_MAX = 256, TC_ROWS = 64, TC_TK = 16, TC_TQ = 16, TC_CHUNK = 256, TC_SQ = 1 << 16 };
/* recompute auto: what must stay free on the device besides the engine's own buffers */
static const size_t TC_HEADROOM = (size_t)2 << 30;

/* ---- kernels ---- */

/* The sum of v over the block in every thread: a shuffle tree per warp, then the warps'
 * sums in warp order; part: 32 floats of shared memory. */
static __device__ float tc_block_sum(float v, float *part)
{
	for (int o = 16; o; o >>= 1)
		v += __shfl_xor_sync(0xffffffff, v, o);
	if ((threadIdx.x & 31) == 0)
		part[threadIdx.x >> 5] = v;
	__syncthreads();
	float s = 0;
	for (int w = 0; w < (int)(blockDim.x >> 5); w++)
		s += part[w];
	__syncthreads();
	return s;
}

static __global__ void k_tc_embed(const int *ids, const float *embed, float *h, int H)
{
	const float *row = embed + (size_t)ids[blockIdx.x] * H;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		h[(size_t)blockIdx.x * H + i] = row[i];
}

/* cos and sin of each token's angles: the angle in double, then rounded, as train_cpu.c */
static __global__ void k_tc_rope_table(float2 *cs, const int *pos_of, const int *seq_of,
				       const double *inv, int half)
{
	int t = blockIdx.x;
	const double *f = inv + (size_t)seq_of[t] * half;
	for (int i = threadIdx.x; i < half; i += blockDim.x) {
		double a = (double)pos_of[t] * f[i];
		cs[(size_t)t * half + i] = make_float2((float)cos(a), (float)sin(a));
	}
}

/* One block per token: out = w * x / rms(x) in bf16, and 1/rms kept for the backward. */
static __global__ void k_tc_rmsnorm(const float *in, const float *w, tc_bf16 *out, float *rstd,
				    int H, float eps)
{
	__shared__ float part[32];
	const float *x = in + (size_t)blockIdx.x * H;
	float s = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		s += x[i] * x[i];
	float r = 1.0f / sqrtf(tc_block_sum(s, part) / H + eps);
	if (threadIdx.x == 0)
		rstd[blockIdx.x] = r;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		out[(size_t)blockIdx.x * H + i] = __float2bfloat16(w[i] * (x[i] * r));
}

/* In place on a token's qkv row: the biases (qwen2; NULL otherwise), then RoPE on q and k. */
static __global__ void k_tc_bias_rope(tc_bf16 *qkv, const float2 *cs, const float *bq,
				      const float *bk, const float *bv, int hd, int nh, int nkv)
{
	int t = blockIdx.x, half = hd / 2, qn = nh * hd, kvn = nkv * hd, width = qn + 2 * kvn;
	tc_bf16 *row = qkv + (size_t)t * width;
	for (int j = threadIdx.x; j < (nh + nkv) * half; j += blockDim.x) {
		int c0 = j / half * hd + j % half, c1 = c0 + half;
		float2 r = cs[(size_t)t * half + j % half];
		float x0 = __bfloat162float(row[c0]), x1 = __bfloat162float(row[c1]);
		if (bq) /* both columns in the same head: both in q or both in k */
			x0 += c0 < qn ? bq[c0] : bk[c0 - qn], x1 += c1 < qn ? bq[c1] : bk[c1 - qn];
		row[c0] = __float2bfloat16(x0 * r.x - x1 * r.y);
		row[c1] = __float2bfloat16(x1 * r.x + x0 * r.y);
	}
	for (int j = threadIdx.x; bv && j < kvn; j += blockDim.x)
		row[qn + kvn + j] = __float2bfloat16(__bfloat162float(row[qn + kvn + j]) + bv[j]);
}

/* The one dot product every attention kernel uses, so that the backward's scores are the
 * forward's to the bit */
static __device__ inline float tc_dot(const float *a, const float *b, int hd)
{
	float s = 0;
	for (int d = 0; d < hd; d++)
		s += a[d] * b[d];
	return s;
}

/* Causal attention of packed sequences (cu: their starts): a block takes TC_ROWS queries of
 * one head of one sequence, a thread one query; keys and values stream through shared memory
 * in tiles of TC_TK with an online softmax. out [T][nh*hd] bf16; lse [T][nh]. */
static __global__ void __launch_bounds__(TC_ROWS)
	k_tc_attn_fwd(const tc_bf16 *qkv, tc_bf16 *out, float *lse, const int *cu, int nh, int nkv,
		      int hd, float scale)
{
	extern __shared__ float tc_kv[]; /* TC_TK keys, then TC_TK values, hd floats each */
	int s = blockIdx.z, h = blockIdx.y, kvh = h / (nh / nkv);
	int start = cu[s], n = cu[s + 1] - start, q0 = blockIdx.x * TC_ROWS;
	if (q0 >= n)
		return;
	int qi = q0 + threadIdx.x, width = (nh + 2 * nkv) * hd;
	bool live = qi < n;
	float q[TC_HD_MAX], o[TC_HD_MAX], m = -INFINITY, l = 0;
	for (int d = 0; d < hd; d++) {
		q[d] = live ? __bfloat162float(qkv[(size_t)(start + qi) * width + h * hd + d]) * scale : 0;
		o[d] = 0;
	}
	int kend = min(n, q0 + TC_ROWS); /* no key beyond the block's last query */
	for (int k0 = 0; k0 < kend; k0 += TC_TK) {
		__syncthreads(); /* every thread is done with the last tile */
		for (int e = threadIdx.x; e < TC_TK * hd; e += blockDim.x) {
			int kj = k0 + e / hd, d = e % hd;
			size_t row = (size_t)(start + kj) * width;
			tc_kv[e] = kj < n ? __bfloat162float(qkv[row + (nh + kvh) * hd + d]) : 0;
			tc_kv[TC_TK * hd + e] =
				kj < n ? __bfloat162float(qkv[row + (nh + nkv + kvh) * hd + d]) : 0;
		}
		__syncthreads();
		if (!live)
			continue;
		for (int r = 0; r < TC_TK && k0 + r <= qi; r++) {
			float x = tc_dot(q, tc_kv + r * hd, hd);
			float mn = fmaxf(m, x), a = expf(m - mn), b = expf(x - mn);
			const float *v = tc_kv + (TC_TK + r) * hd;
			l = l * a + b;
			for (int d = 0; d < hd; d++)
				o[d] = o[d] * a + b * v[d];
			m = mn;
		}
	}
	if (!live)
		return;
	for (int d = 0; d < hd; d++)
		out[(size_t)(start + qi) * nh * hd + h * hd + d] = __float2bfloat16(o[d] / l);
	lse[(size_t)(start + qi) * nh + h] = m + logf(l);
}

/* silu(gate) * up, gate and up side by side in each row of gu; a block per token */
static __global__ void k_tc_swiglu(const tc_bf16 *gu, tc_bf16 *act, int F)
{
	const tc_bf16 *g = gu + (size_t)blockIdx.x * 2 * F, *u = g + F;
	for (int i = threadIdx.x; i < F; i += blockDim.x) {
		float x = __bfloat162float(g[i]);
		act[(size_t)blockIdx.x * F + i] =
			__float2bfloat16(x / (1.0f + expf(-x)) * __bfloat162float(u[i]));
	}
}

/* A block per sequence: the final RMSNorm of its last token, the prediction head . that, and
 * (feat not NULL) the normed state itself. */
static __global__ void k_tc_head_fwd(const float *h, const int *last, const float *norm,
				     const float *head, float *pred, float *rstd, float *feat, int H,
				     float eps)
{
	__shared__ float part[32];
	const float *x = h + (size_t)last[blockIdx.x] * H;
	float ss = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		ss += x[i] * x[i];
	float r = 1.0f / sqrtf(tc_block_sum(ss, part) / H + eps), dot = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x) {
		float y = norm[i] * (x[i] * r);
		dot += y * head[i];
		if (feat)
			feat[(size_t)blockIdx.x * H + i] = y;
	}
	dot = tc_block_sum(dot, part);
	if (threadIdx.x == 0)
		pred[blockIdx.x] = dot, rstd[blockIdx.x] = r;
}

/* The loss's gradient into the last token's row of dh (fp32, and its bf16 copy dhb): dpred =
 * scale * 2 (pred - y), through the head and the final RMSNorm. dh is zero elsewhere. */
static __global__ void k_tc_head_bwd(const float *h, const int *last, const float *norm,
				     const float *head, const float *pred, const float *target,
				     const float *rstd, float scale, float *dpred, float *dh,
				     tc_bf16 *dhb, int H)
{
	__shared__ float part[32];
	size_t row = (size_t)last[blockIdx.x] * H;
	const float *x = h + row;
	float dp = scale * 2.0f * (pred[blockIdx.x] - target[blockIdx.x]), r = rstd[blockIdx.x], s = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		s += norm[i] * (dp * head[i]) * x[i];
	float k = r * r * r * tc_block_sum(s, part) / H;
	for (int i = threadIdx.x; i < H; i += blockDim.x) {
		float d = r * norm[i] * (dp * head[i]) - x[i] * k;
		dh[row + i] = d, dhb[row + i] = __float2bfloat16(d);
	}
	if (threadIdx.x == 0)
		dpred[blockIdx.x] = dp;
}

/* ---- column sums: out[i] += sum over rows r of f(r, i), in one order: chunks of TC_CHUNK
 * rows summed by one thread each, then the chunks in order ---- */

/* RMSNorm's weight: dy * x / rms */
struct tc_norm_term {
	const float *dy, *x, *r;
	int H;
	__device__ float operator()(int t, int i) const
	{
		return dy[(size_t)t * H + i] * (x[(size_t)t * H + i] * r[t]);
	}
};
/* a bias: columns col.. of an fp32 gradient with ld columns a row */
struct tc_col_term {
	const float *m;
	int ld, col;
	__device__ float operator()(int t, int i) const { return m[(size_t)t * ld + col + i]; }
};
/* over sequences: the head's weight (dpred * w * x / rms) or, with w the head, the final
 * norm's (dpred * head * x / rms) */
struct tc_last_term {
	const float *h, *r, *dpred, *w;
	const int *last;
	int H;
	__device__ float operator()(int s, int i) const
	{
		return dpred[s] * w[i] * (h[(size_t)last[s] * H + i] * r[s]);
	}
};

template <class F>
static __global__ void k_tc_colsum_part(F f, int rows, int cols, float *part)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x, r0 = blockIdx.y * TC_CHUNK;
	if (i >= cols)
		return;
	int r1 = min(rows, r0 + TC_CHUNK);
	float s = 0;
	for (int r = r0; r < r1; r++)
		s += f(r, i);
	part[(size_t)blockIdx.y * cols + i] = s;
}

static __global__ void k_tc_colsum_add(const float *part, int chunks, int cols, float *out)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= cols)
		return;
	float s = 0;
	for (int c = 0; c < chunks; c++)
		s += part[(size_t)c * cols + i];
	out[i] += s;
}

/* RMSNorm backward, a block per token: dres += d/dx of y = w * x * r given dy, and its bf16
 * copy into dresb (the next GEMMs' input). */
static __global__ void k_tc_rmsnorm_bwd(const float *xin, const float *w, const float *rstd,
					const float *dyin, float *dres, tc_bf16 *dresb, int H)
{
	__shared__ float part[32];
	size_t row = (size_t)blockIdx.x * H;
	const float *x = xin + row, *dy = dyin + row;
	float r = rstd[blockIdx.x], s = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		s += w[i] * dy[i] * x[i];
	float k = r * r * r * tc_block_sum(s, part) / H;
	for (int i = threadIdx.x; i < H; i += blockDim.x) {
		float d = dres[row + i] + (r * w[i] * dy[i] - x[i] * k);
		dres[row + i] = d, dresb[row + i] = __float2bfloat16(d);
	}
}

/* SwiGLU backward, a block per token: dact (fp32) to dgate and dup side by side (bf16) */
static __global__ void k_tc_swiglu_bwd(const tc_bf16 *gu, const float *dact, tc_bf16 *dgu, int F)
{
	size_t row = (size_t)blockIdx.x * 2 * F;
	for (int i = threadIdx.x; i < F; i += blockDim.x) {
		float g = __bfloat162float(gu[row + i]), u = __bfloat162float(gu[row + F + i]);
		float sg = 1.0f / (1.0f + expf(-g)), da = dact[(size_t)blockIdx.x * F + i];
		dgu[row + i] = __float2bfloat16(da * u * sg * (1.0f + g * (1.0f - sg)));
		dgu[row + F + i] = __float2bfloat16(da * (g * sg));
	}
}

/* D[t][h] = dO . O over the head's hd values (the softmax backward's row term) */
static __global__ void k_tc_attn_rowdot(const float *dout, const tc_bf16 *att, float *D, int rows,
					int hd)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= rows)
		return;
	float s = 0;
	for (int d = 0; d < hd; d++)
		s += dout[(size_t)i * hd + d] * __bfloat162float(att[(size_t)i * hd + d]);
	D[i] = s;
}

/* dq of each query (a thread each, TC_ROWS a block), keys and values in tiles as in the
 * forward: dq = scale sum_j p_ij (dO_i . v_j - D_i) k_j, into the q columns of dqkv (fp32). */
static __global__ void __launch_bounds__(TC_ROWS)
	k_tc_attn_dq(const tc_bf16 *qkv, const float *dout, const float *lse, const float *D,
		     float *dqkv, const int *cu, int nh, int nkv, int hd, float scale)
{
	extern __shared__ float tc_dq_kv[]; /* TC_TK keys, then TC_TK values */
	int s = blockIdx.z, h = blockIdx.y, kvh = h / (nh / nkv);
	int start = cu[s], n = cu[s + 1] - start, q0 = blockIdx.x * TC_ROWS;
	if (q0 >= n)
		return;
	int qi = q0 + threadIdx.x, width = (nh + 2 * nkv) * hd;
	bool live = qi < n;
	size_t at = (size_t)(start + qi) * nh + h;
	float q[TC_HD_MAX], g[TC_HD_MAX], dq[TC_HD_MAX];
	float L = live ? lse[at] : 0, Di = live ? D[at] : 0;
	for (int d = 0; d < hd; d++) {
		q[d] = live ? __bfloat162float(qkv[(size_t)(start + qi) * width + h * hd + d]) * scale : 0;
		g[d] = live ? dout[at * hd + d] : 0;
		dq[d] = 0;
	}
	int kend = min(n, q0 + TC_ROWS);
	for (int k0 = 0; k0 < kend; k0 += TC_TK) {
		__syncthreads();
		for (int e = threadIdx.x; e < TC_TK * hd; e += blockDim.x) {
			int kj = k0 + e / hd, d = e % hd;
			size_t row = (size_t)(start + kj) * width;
			tc_dq_kv[e] = kj < n ? __bfloat162float(qkv[row + (nh + kvh) * hd + d]) : 0;
			tc_dq_kv[TC_TK * hd + e] =
				kj < n ? __bfloat162float(qkv[row + (nh + nkv + kvh) * hd + d]) : 0;
		}
		__syncthreads();
		if (!live)
			continue;
		for (int r = 0; r < TC_TK && k0 + r <= qi; r++) {
			const float *k = tc_dq_kv + r * hd, *v = tc_dq_kv + (TC_TK + r) * hd;
			float p = expf(tc_dot(q, k, hd) - L);
			float ds = p * (tc_dot(g, v, hd) - Di);
			for (int d = 0; d < hd; d++)
				dq[d] += ds * k[d];
		}
	}
	if (live)
		for (int d = 0; d < hd; d++)
			dqkv[(size_t)(start + qi) * width + h * hd + d] = dq[d] * scale;
}

/* dk and dv of each key (a thread each, TC_ROWS a block) of kv head blockIdx.y: over the
 * group's query heads in order, and their queries at or after the key in tiles of TC_TQ
 * (scaled queries, output gradients, lse and D in shared memory). No atomics: each key's
 * sums belong to one thread. */
static __global__ void __launch_bounds__(TC_ROWS)
	k_tc_attn_dkv(const tc_bf16 *qkv, const float *dout, const float *lse, const float *D,
		      float *dqkv, const int *cu, int nh, int nkv, int hd, float scale)
{
	extern __shared__ float tc_dkv_q[];
	float *Qs = tc_dkv_q, *Gs = Qs + TC_TQ * hd, *Ls = Gs + TC_TQ * hd, *Ds = Ls + TC_TQ;
	int s = blockIdx.z, kvh = blockIdx.y, group = nh / nkv;
	int start = cu[s], n = cu[s + 1] - start, j0 = blockIdx.x * TC_ROWS;
	if (j0 >= n)
		return;
	int kj = j0 + threadIdx.x, width = (nh + 2 * nkv) * hd;
	bool live = kj < n;
	float k[TC_HD_MAX], v[TC_HD_MAX], dk[TC_HD_MAX], dv[TC_HD_MAX];
	for (int d = 0; d < hd; d++) {
		size_t row = (size_t)(start + kj) * width;
		k[d] = live ? __bfloat162float(qkv[row + (nh + kvh) * hd + d]) : 0;
		v[d] = live ? __bfloat162float(qkv[row + (nh + nkv + kvh) * hd + d]) : 0;
		dk[d] = dv[d] = 0;
	}
	for (int hh = 0; hh < group; hh++) {
		int h = kvh * group + hh;
		for (int i0 = j0; i0 < n; i0 += TC_TQ) {
			__syncthreads();
			for (int e = threadIdx.x; e < TC_TQ * hd; e += blockDim.x) {
				int qi = i0 + e / hd, d = e % hd;
				size_t at = (size_t)(start + qi) * nh + h;
				Qs[e] = qi < n ? __bfloat162float(qkv[(size_t)(start + qi) * width + h * hd + d]) * scale : 0;
				Gs[e] = qi < n ? dout[at * hd + d] : 0;
			}
			for (int r = threadIdx.x; r < TC_TQ; r += blockDim.x) {
				int qi = i0 + r;
				size_t at = (size_t)(start + qi) * nh + h;
				Ls[r] = qi < n ? lse[at] : 0, Ds[r] = qi < n ? D[at] : 0;
			}
			__syncthreads();
			if (!live)
				continue;
			for (int r = 0; r < TC_TQ && i0 + r < n; r++) {
				if (i0 + r < kj)
					continue; /* a query before the key does not see it */
				const float *q = Qs + r * hd, *g = Gs + r * hd;
				float p = expf(tc_dot(q, k, hd) - Ls[r]);
				float ds = p * (tc_dot(g, v, hd) - Ds[r]);
				for (int d = 0; d < hd; d++)
					dk[d] += ds * q[d], dv[d] += p * g[d];
			}
		}
	}
	if (!live)
		return;
	size_t row = (size_t)(start + kj) * width;
	for (int d = 0; d < hd; d++) {
		dqkv[row + (nh + kvh) * hd + d] = dk[d];
		dqkv[row + (nh + nkv + kvh) * hd + d] = dv[d];
	}
}

/* ---- tensor-core attention backward ----
 * The forward is flash.cuh's (k_tc_flash_fwd below keeps each query's log-sum-exp). The
 * backward recomputes P = exp(scale Q K^T - lse) tile by tile with the forward's WMMA
 * products and never holds an n x n matrix. Two kernels, as the scalar ones, so that no sum
 * needs an atomic: k_tc_flash_dq (a block per 64 queries of one head: dS = P (dO V^T - D),
 * dQ = scale dS K over the key tiles at or before the block's queries) and k_tc_flash_dkv (a
 * block per 64 keys of one kv head: dV = P^T dO and dK = scale dS^T Q over the group's query
 * heads in order and, for each, the query tiles at or after the keys). Each warp owns 16 rows
 * and keeps their gradient in WMMA accumulators (HD / 16 fragments, or two sets in dkv);
 * P and dS go through shared memory in bf16, dO in bf16 (its fp32 copy stays for D). Rows,
 * strides and alignment as flash.cuh's (every region a multiple of 32 bytes). */
struct fb_layout {
	int ldh, lds, ldp, ldo;
	size_t q, g, k, v, ls, ds; /* byte offsets of the block's regions */
	size_t w, wsize, total;	   /* the warps' regions: the first, and each one's size */
};

/* A warp's region: S (16 x 64 fp32), which then holds dP, and P and dS (16 x 64 bf16): about
 * 9 KiB, so that two blocks fit an H100's SM at head size 128 (104 KiB each). After the last
 * tile the warps stage their output rows (16 x ldo floats each) where the Q and dO tiles were. */
__host__ __device__ inline fb_layout fb_layout_of(int hd)
{
	fb_layout L;
	L.ldh = hd + 8, L.lds = FA_BK + 4, L.ldp = FA_BK + 8, L.ldo = hd + 4;
	size_t tile = (size_t)64 * L.ldh * 2;
	L.q = 0, L.g = L.q + tile, L.k = L.g + tile, L.v = L.k + tile;
	L.ls = L.v + tile, L.ds = L.ls + 64 * 4, L.w = L.ds + 64 * 4;
	L.wsize = (size_t)16 * L.lds * 4 + (size_t)2 * 16 * L.ldp * 2;
	L.total = L.w + FA_WARPS * L.wsize;
	return L;
}

/* the three areas of warp w's region, and its staging area */
struct fb_warp {
	float *s, *stage;
	bf16 *p, *ds;
};

static __device__ inline fb_warp fb_warp_of(unsigned char *sm, const fb_layout &L, int w)
{
	fb_warp a;
	a.s = (float *)(sm + L.w + w * L.wsize);
	a.p = (bf16 *)(a.s + 16 * L.lds);
	a.ds = a.p + 16 * L.ldp;
	a.stage = (float *)(sm + L.q) + w * 16 * L.ldo; /* 64 x ldo floats fit in the Q and dO tiles */
	return a;
}

/* acc[i] += A B[:, 16 i : 16 i + 16], A: 16 x 64 bf16 (stride ldp), B: 64 x HD bf16 (ldh) */
template <int HD>
static __device__ void fb_ab(wmma::fragment<wmma::accumulator, 16, 16, 16, float> *acc,
			     const bf16 *A, int ldp, const bf16 *B, int ldh)
{
	for (int i = 0; i < HD / 16; i++)
		for (int kc = 0; kc < FA_BK; kc += 16) {
			wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a;
			wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> b;
			wmma::load_matrix_sync(a, A + kc, ldp);
			wmma::load_matrix_sync(b, B + kc * ldh + i * 16, ldh);
			wmma::mma_sync(acc[i], a, b, acc[i]);
		}
}

/* The warp's 16 rows of acc times mul into dst rows [r0, r0 + 16) (those below n) at column
 * col of rows of width floats, through the warp's staging area stage (16 x ldo fp32) */
template <int HD>
static __device__ void fb_store(const wmma::fragment<wmma::accumulator, 16, 16, 16, float> *acc,
				float *stage, int ldo, float mul, float *dst, int start, int n,
				int r0, int width, int col)
{
	__syncwarp(); /* the staging area's last readers are done */
	for (int i = 0; i < HD / 16; i++)
		wmma::store_matrix_sync(stage + i * 16, acc[i], ldo, wmma::mem_row_major);
	__syncwarp();
	for (int e = threadIdx.x & 31; e < 16 * HD; e += 32) {
		int r = e / HD, d = e % HD;
		if (r0 + r < n)
			dst[(size_t)(start + r0 + r) * width + col + d] = stage[r * ldo + d] * mul;
	}
}

template <int HD>
static __global__ void __launch_bounds__(FA_WARPS * 32)
	k_tc_flash_fwd(const tc_bf16 *qkv, tc_bf16 *out, float *lse, const int *cu, int nh, int nkv,
		       float scale)
{
	extern __shared__ __align__(128) unsigned char tc_fa_smem[];
	fa_forward<HD>(tc_fa_smem, qkv, out, lse, cu, nh, nkv, HD, scale);
}

/* dq of 64 queries of head blockIdx.y (the last query tile first: it has the most keys) */
template <int HD>
static __global__ void __launch_bounds__(FA_WARPS * 32)
	k_tc_flash_dq(const tc_bf16 *qkv, const tc_bf16 *dob, const float *lse, const float *D,
		      float *dqkv, const int *cu, int nh, int nkv, float scale)
{
	extern __shared__ __align__(128) unsigned char tc_dq_smem[];
	const fb_layout L = fb_layout_of(HD);
	int s = blockIdx.z, h = blockIdx.y, kvh = h / (nh / nkv);
	int start = cu[s], n = cu[s + 1] - start, q0 = (gridDim.x - 1 - blockIdx.x) * FA_BQ;
	if (q0 >= n)
		return;
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, width = (nh + 2 * nkv) * HD;
	unsigned char *sm = tc_dq_smem;
	bf16 *Qs = (bf16 *)(sm + L.q), *Gs = (bf16 *)(sm + L.g), *Ks = (bf16 *)(sm + L.k);
	bf16 *Vs = (bf16 *)(sm + L.v);
	fb_warp W = fb_warp_of(sm, L, warp);
	float *Ss = W.s; /* S, then dP */
	bf16 *DSs = W.ds;
	fa_load_tile(Qs, L.ldh, qkv, start, n, q0, FA_BQ, width, h * HD, HD);
	fa_load_tile(Gs, L.ldh, dob, start, n, q0, FA_BQ, nh * HD, h * HD, HD);
	int r = lane >> 1, half = lane & 1, wq0 = q0 + warp * 16, qrow = wq0 + r;
	bool rowlive = qrow < n;
	float Lr = rowlive ? lse[(size_t)(start + qrow) * nh + h] : 0;
	float Dr = rowlive ? D[(size_t)(start + qrow) * nh + h] : 0;
	wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[HD / 16];
	for (int i = 0; i < HD / 16; i++)
		wmma::fill_fragment(acc[i], 0.0f);
	int kend = min(n, q0 + FA_BQ);
	for (int k0 = 0; k0 < kend; k0 += FA_BK) {
		__syncthreads();
		fa_load_tile(Ks, L.ldh, qkv, start, n, k0, FA_BK, width, (nh + kvh) * HD, HD);
		fa_load_tile(Vs, L.ldh, qkv, start, n, k0, FA_BK, width, (nh + nkv + kvh) * HD, HD);
		__syncthreads();
		if (wq0 >= n || k0 > wq0 + 15)
			continue;
		fa_abt(Ss, L.lds, Qs + warp * 16 * L.ldh, Ks, L.ldh, HD);
		__syncwarp();
		float p[FA_BK / 2]; /* this lane's half row of P */
		const float *row = Ss + r * L.lds + half * (FA_BK / 2);
#pragma unroll
		for (int c = 0; c < FA_BK / 2; c++) {
			int key = k0 + half * (FA_BK / 2) + c;
			p[c] = rowlive && key <= qrow ? __expf(row[c] * scale - Lr) : 0.0f;
		}
		__syncwarp();
		fa_abt(Ss, L.lds, Gs + warp * 16 * L.ldh, Vs, L.ldh, HD); /* dP */
		__syncwarp();
#pragma unroll
		for (int c = 0; c < FA_BK / 2; c++)
			DSs[r * L.ldp + half * (FA_BK / 2) + c] = __float2bfloat16(p[c] * (row[c] - Dr));
		__syncwarp();
		fb_ab<HD>(acc, DSs, L.ldp, Ks, L.ldh);
	}
	__syncthreads(); /* the Q and dO tiles become the staging areas */
	if (wq0 < n)
		fb_store<HD>(acc, W.stage, L.ldo, scale, dqkv, start, n, wq0, width, h * HD);
}

/* dk and dv of 64 keys of kv head blockIdx.y: over the group's query heads in order, and for
 * each the query tiles from the keys' own on */
template <int HD>
static __global__ void __launch_bounds__(FA_WARPS * 32)
	k_tc_flash_dkv(const tc_bf16 *qkv, const tc_bf16 *dob, const float *lse, const float *D,
		       float *dqkv, const int *cu, int nh, int nkv, float scale)
{
	extern __shared__ __align__(128) unsigned char tc_dkv_smem[];
	const fb_layout L = fb_layout_of(HD);
	int s = blockIdx.z, kvh = blockIdx.y, group = nh / nkv;
	int start = cu[s], n = cu[s + 1] - start, j0 = blockIdx.x * FA_BK;
	if (j0 >= n)
		return;
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, width = (nh + 2 * nkv) * HD;
	unsigned char *sm = tc_dkv_smem;
	bf16 *Qs = (bf16 *)(sm + L.q), *Gs = (bf16 *)(sm + L.g), *Ks = (bf16 *)(sm + L.k);
	bf16 *Vs = (bf16 *)(sm + L.v);
	float *Ls = (float *)(sm + L.ls), *Ds = (float *)(sm + L.ds);
	fb_warp W = fb_warp_of(sm, L, warp);
	float *St = W.s;	      /* S^T (keys x queries), then dP^T */
	bf16 *PTb = W.p, *DSb = W.ds; /* P^T and dS^T in bf16 */
	fa_load_tile(Ks, L.ldh, qkv, start, n, j0, FA_BK, width, (nh + kvh) * HD, HD);
	fa_load_tile(Vs, L.ldh, qkv, start, n, j0, FA_BK, width, (nh + nkv + kvh) * HD, HD);
	int r = lane >> 1, half = lane & 1, wk0 = j0 + warp * 16, key = wk0 + r;
	wmma::fragment<wmma::accumulator, 16, 16, 16, float> dk[HD / 16], dv[HD / 16];
	for (int i = 0; i < HD / 16; i++)
		wmma::fill_fragment(dk[i], 0.0f), wmma::fill_fragment(dv[i], 0.0f);
	const float *row = St + r * L.lds + half * (FA_BQ / 2);
	for (int hh = 0; hh < group; hh++) {
		int h = kvh * group + hh;
		for (int i0 = j0; i0 < n; i0 += FA_BQ) {
			__syncthreads(); /* every warp is done with the last query tile */
			fa_load_tile(Qs, L.ldh, qkv, start, n, i0, FA_BQ, width, h * HD, HD);
			fa_load_tile(Gs, L.ldh, dob, start, n, i0, FA_BQ, nh * HD, h * HD, HD);
			for (int c = threadIdx.x; c < FA_BQ; c += blockDim.x) {
				size_t at = (size_t)(start + i0 + c) * nh + h;
				Ls[c] = i0 + c < n ? lse[at] : 0, Ds[c] = i0 + c < n ? D[at] : 0;
			}
			__syncthreads();
			if (wk0 >= n)
				continue;
			fa_abt(St, L.lds, Ks + warp * 16 * L.ldh, Qs, L.ldh, HD);
			__syncwarp();
			for (int c = 0; c < FA_BQ / 2; c++) {
				int col = half * (FA_BQ / 2) + c, qi = i0 + col;
				bool see = key < n && qi < n && qi >= key;
				float p = see ? __expf(row[c] * scale - Ls[col]) : 0.0f;
				PTb[r * L.ldp + col] = __float2bfloat16(p);
			}
			__syncwarp();
			fa_abt(St, L.lds, Vs + warp * 16 * L.ldh, Gs, L.ldh, HD); /* dP^T */
			__syncwarp();
			/* dS^T from the bf16 P^T just written (fp32 P in registers would cost HD 128
			 * 32 more registers a thread: spills) */
			for (int c = 0; c < FA_BQ / 2; c++) {
				int col = half * (FA_BQ / 2) + c;
				float p = __bfloat162float(PTb[r * L.ldp + col]);
				DSb[r * L.ldp + col] = __float2bfloat16(p * (row[c] - Ds[col]));
			}
			__syncwarp();
			fb_ab<HD>(dv, PTb, L.ldp, Gs, L.ldh);
			fb_ab<HD>(dk, DSb, L.ldp, Qs, L.ldh);
		}
	}
	__syncthreads(); /* the Q and dO tiles become the staging areas */
	if (wk0 >= n)
		return;
	fb_store<HD>(dk, W.stage, L.ldo, scale, dqkv, start, n, wk0, width, (nh + kvh) * HD);
	fb_store<HD>(dv, W.stage, L.ldo, 1.0f, dqkv, start, n, wk0, width, (nh + nkv + kvh) * HD);
}

/* RoPE backward (the rotation by minus the angle) on the q and k columns of dqkv, in place in
 * fp32 (the bias gradients sum those), and the whole row in bf16 into out (the GEMMs' input). */
static __global__ void k_tc_rope_bwd(float *dqkv, tc_bf16 *out, const float2 *cs, int hd, int nh,
				     int nkv)
{
	int t = blockIdx.x, half = hd / 2, width = (nh + 2 * nkv) * hd;
	float *row = dqkv + (size_t)t * width;
	tc_bf16 *orow = out + (size_t)t * width;
	for (int j = threadIdx.x; j < (nh + nkv) * half; j += blockDim.x) {
		int c0 = j / half * hd + j % half, c1 = c0 + half;
		float2 r = cs[(size_t)t * half + j % half];
		float d0 = row[c0], d1 = row[c1];
		float n0 = d0 * r.x + d1 * r.y, n1 = d1 * r.x - d0 * r.y;
		row[c0] = n0, row[c1] = n1;
		orow[c0] = __float2bfloat16(n0), orow[c1] = __float2bfloat16(n1);
	}
	for (int j = (nh + nkv) * hd + threadIdx.x; j < width; j += blockDim.x)
		orow[j] = __float2bfloat16(row[j]);
}

/* The embedding's gradient: a block per distinct token id of the pack, each column summed
 * over the id's positions in order (upos[ustart[b]..ustart[b+1])). */
static __global__ void k_tc_embed_bwd(const float *dh, const int *uid, const int *ustart,
				      const int *upos, float *gembed, int H)
{
	int b = blockIdx.x;
	float *g = gembed + (size_t)uid[b] * H;
	for (int i = threadIdx.x; i < H; i += blockDim.x) {
		float s = 0;
		for (int p = ustart[b]; p < ustart[b + 1]; p++)
			s += dh[(size_t)upos[p] * H + i];
		g[i] += s;
	}
}

/* torch.optim.AdamW's update of n weights, as train_cpu.c computes it; the gradient zeroed */
static __global__ void k_tc_adamw(float *w, float *g, float *m, float *v, size_t n, float decay,
				  float b1, float b2, float eps, float step, float bc2s, float gs)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	float gi = g[i] * gs, wi = w[i] * decay;
	float mi = m[i] * b1 + gi * (1.0f - b1), vi = v[i] * b2 + gi * gi * (1.0f - b2);
	w[i] = wi - step * mi / (sqrtf(vi) / bc2s + eps);
	m[i] = mi, v[i] = vi, g[i] = 0;
}

static __global__ void k_tc_to_bf16(const float *src, tc_bf16 *dst, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		dst[i] = __float2bfloat16(src[i]);
}

/* The squared sum of each TC_SQ-element chunk in fp64: each thread's strided share in order,
 * then thread 0 adds the 256 shares in order. */
static __global__ void k_tc_sq(const float *g, size_t n, double *part)
{
	__shared__ double sh[256];
	size_t i0 = (size_t)blockIdx.x * TC_SQ, i1 = i0 + TC_SQ < n ? i0 + TC_SQ : n;
	double s = 0;
	for (size_t i = i0 + threadIdx.x; i < i1; i += blockDim.x)
		s += (double)g[i] * g[i];
	sh[threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.x == 0) {
		double t = 0;
		for (int k = 0; k < (int)blockDim.x; k++)
			t += sh[k];
		part[blockIdx.x] = t;
	}
}

/* ---- the engine ---- */

struct tc_weights { /* the bf16 copies the GEMMs read */
	tc_bf16 *wqkv, *wo, *wgu, *wdown; /* q, k, v rows stacked; gate and up rows stacked */
};

struct tc_acts { /* what one layer's backward needs of its forward */
	tc_bf16 *x1, *qkv, *att, *x2, *gu, *act;
	float *r1, *r2, *lse, *hmid;
};

struct tc_algo {
	bool have;
	cublasLtMatmulAlgo_t algo;
};

/* one packed forward/backward: the sequences (indices into the batch) and their token count */
struct tc_pack {
	std::vector<size_t> members;
	int T, maxlen;
};

struct train_engine {
	scorer_config c;
	std::vector<train_param> params;
	std::vector<train_layer_off> off;
	size_t total, embed, norm, head;
	int dev, recompute;
	int attn_hd; /* the tensor-core attention's head size (16, 32, 64, 128), or 0: the scalar kernels */
	size_t fa_smem, fb_smem; /* their shared memory: forward, backward */
	bool sizing;		 /* tc_alloc counts into sized instead of allocating */
	size_t sized;
	size_t max_tokens, micro; /* micro: a pack's tokens, unless one sequence is longer */
	size_t P;		  /* the most tokens a pack holds: the larger of the two */
	cudaStream_t st;
	cublasLtHandle_t lt;
	void *ws;
	size_t ws_size;
	std::map<std::vector<int64_t>, tc_algo> algos; /* one cuBLASLt algorithm per problem */
	std::vector<void *> allocs;			/* every cudaMalloc, freed by destroy */
	float *w, *g, *m, *v;				/* the flat fp32 arrays of train_layout */
	std::vector<tc_weights> lw;
	std::vector<tc_acts> acts; /* one per layer, or one with recompute */
	float *hs;		   /* [layers + 1][P][H]: each layer's input, then the output */
	/* the pack's layout */
	int *ids, *seq_of, *pos_of, *cu, *last, *uid, *ustart, *upos;
	int n_uid; /* distinct token ids of the pack */
	float *tgt, *pred, *dpred, *rstdf, *feat;
	double *inv, *sqpart;
	float2 *cs;
	/* backward scratch */
	float *dh, *dx, *dwide, *D, *dqkv, *part;
	tc_bf16 *dhb, *dgu, *dqkvb, *dob; /* dob: the attention output's gradient in bf16 */
	std::vector<double> inv_base; /* inverse frequencies where they do not depend on length */
};

/* ---- attention: the tensor-core kernels or the scalar ones ---- */

/* CURATE_CUDA_ATTENTION=reference: the scalar kernels; otherwise (auto) the tensor-core ones
 * for head sizes 16, 32, 64 and 128 where their shared memory fits, else the scalar ones */
template <int HD>
static bool tc_attn_setup(train_engine *e, const cudaDeviceProp &prop)
{
	e->fa_smem = fa_layout_of(HD).total, e->fb_smem = fb_layout_of(HD).total;
	if (std::max(e->fa_smem, e->fb_smem) > prop.sharedMemPerBlockOptin)
		return false;
	CUDA_CHECK(cudaFuncSetAttribute(k_tc_flash_fwd<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					(int)e->fa_smem));
	CUDA_CHECK(cudaFuncSetAttribute(k_tc_flash_dq<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					(int)e->fb_smem));
	CUDA_CHECK(cudaFuncSetAttribute(k_tc_flash_dkv<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					(int)e->fb_smem));
	e->attn_hd = HD;
	return true;
}

static void tc_choose_attention(train_engine *e, const cudaDeviceProp &prop)
{
	const char *env = getenv("CURATE_CUDA_ATTENTION");
	e->attn_hd = 0;
	if (env && !strcmp(env, "reference"))
		return;
	switch (e->c.head_dim) {
	case 16: tc_attn_setup<16>(e, prop); break;
	case 32: tc_attn_setup<32>(e, prop); break;
	case 64: tc_attn_setup<64>(e, prop); break;
	case 128: tc_attn_setup<128>(e, prop); break;
	}
}

template <int HD>
static void tc_flash_fwd(train_engine *e, tc_acts &A, const tc_pack &p, float scale)
{
	const scorer_config &c = e->c;
	dim3 grid((p.maxlen + FA_BQ - 1) / FA_BQ, (unsigned)c.heads, (unsigned)p.members.size());
	k_tc_flash_fwd<HD><<<grid, FA_WARPS * 32, e->fa_smem, e->st>>>(
		A.qkv, A.att, A.lse, e->cu, (int)c.heads, (int)c.kv_heads, scale);
}

template <int HD>
static void tc_flash_bwd(train_engine *e, tc_acts &A, const tc_pack &p, float scale)
{
	const scorer_config &c = e->c;
	int nh = (int)c.heads, nkv = (int)c.kv_heads;
	unsigned tiles = (unsigned)((p.maxlen + FA_BQ - 1) / FA_BQ), ns = (unsigned)p.members.size();
	size_t n = (size_t)p.T * nh * HD;
	k_tc_to_bf16<<<(unsigned)((n + 255) / 256), 256, 0, e->st>>>(e->dwide, e->dob, n);
	k_tc_flash_dq<HD><<<dim3(tiles, nh, ns), FA_WARPS * 32, e->fb_smem, e->st>>>(
		A.qkv, e->dob, A.lse, e->D, e->dqkv, e->cu, nh, nkv, scale);
	k_tc_flash_dkv<HD><<<dim3(tiles, nkv, ns), FA_WARPS * 32, e->fb_smem, e->st>>>(
		A.qkv, e->dob, A.lse, e->D, e->dqkv, e->cu, nh, nkv, scale);
}

/* out and lse of the pack's attention from A.qkv (after RoPE) */
static void tc_attn_fwd(train_engine *e, tc_acts &A, const tc_pack &p, float scale)
{
	const scorer_config &c = e->c;
	int nh = (int)c.heads, nkv = (int)c.kv_heads, hd = (int)c.head_dim;
	switch (e->attn_hd) {
	case 16: tc_flash_fwd<16>(e, A, p, scale); return;
	case 32: tc_flash_fwd<32>(e, A, p, scale); return;
	case 64: tc_flash_fwd<64>(e, A, p, scale); return;
	case 128: tc_flash_fwd<128>(e, A, p, scale); return;
	}
	dim3 grid((p.maxlen + TC_ROWS - 1) / TC_ROWS, nh, (unsigned)p.members.size());
	k_tc_attn_fwd<<<grid, TC_ROWS, 2 * TC_TK * hd * sizeof(float), e->st>>>(
		A.qkv, A.att, A.lse, e->cu, nh, nkv, hd, scale);
}

/* dq, dk and dv into e->dqkv (fp32) from the output's gradient e->dwide and e->D */
static void tc_attn_bwd(train_engine *e, tc_acts &A, const tc_pack &p, float scale)
{
	const scorer_config &c = e->c;
	int nh = (int)c.heads, nkv = (int)c.kv_heads, hd = (int)c.head_dim;
	switch (e->attn_hd) {
	case 16: tc_flash_bwd<16>(e, A, p, scale); return;
	case 32: tc_flash_bwd<32>(e, A, p, scale); return;
	case 64: tc_flash_bwd<64>(e, A, p, scale); return;
	case 128: tc_flash_bwd<128>(e, A, p, scale); return;
	}
	unsigned tiles = (unsigned)((p.maxlen + TC_ROWS - 1) / TC_ROWS), ns = (unsigned)p.members.size();
	k_tc_attn_dq<<<dim3(tiles, nh, ns), TC_ROWS, 2 * TC_TK * hd * sizeof(float), e->st>>>(
		A.qkv, e->dwide, A.lse, e->D, e->dqkv, e->cu, nh, nkv, hd, scale);
	k_tc_attn_dkv<<<dim3(tiles, nkv, ns), TC_ROWS, (2 * TC_TQ * hd + 2 * TC_TQ) * sizeof(float),
			e->st>>>(A.qkv, e->dwide, A.lse, e->D, e->dqkv, e->cu, nh, nkv, hd, scale);
}

static size_t tc_qn(const train_engine *e) { return (size_t)(e->c.heads * e->c.head_dim); }
static size_t tc_kvn(const train_engine *e) { return (size_t)(e->c.kv_heads * e->c.head_dim); }
static float *tc_hs(train_engine *e, size_t l) { return e->hs + l * e->P * (size_t)e->c.hidden; }

/* threads for a block that walks a row of n values */
static int tc_threads(size_t n) { return (int)std::min<size_t>(256, (n + 31) / 32 * 32); }

/* scorer_rope_freqs (scorer.c) again: this library cannot call into curate */
static void tc_rope_freqs(const scorer_config &c, size_t n, double *inv)
{
	size_t half = (size_t)c.head_dim / 2;
	double dim = (double)c.head_dim, base = c.theta;
	if (c.rope_type == scorer_config::ROPE_DYNAMIC && (double)n > (double)c.max_pos)
		base *= pow(c.rope_factor * (double)n / (double)c.max_pos - (c.rope_factor - 1),
			    dim / (dim - 2));
	for (size_t i = 0; i < half; i++) {
		double f = 1.0 / pow(base, (double)(2 * i) / dim);
		if (c.rope_type == scorer_config::ROPE_LINEAR)
			f /= c.rope_factor;
		else if (c.rope_type == scorer_config::ROPE_LLAMA3) {
			double old = (double)c.rope_orig_max_pos, wl = 2 * M_PI / f;
			double lo = old / c.low_freq_factor, hi = old / c.high_freq_factor;
			if (wl > lo)
				f /= c.rope_factor;
			else if (wl >= hi) {
				double s = (old / wl - c.low_freq_factor) /
					   (c.high_freq_factor - c.low_freq_factor);
				f = (1 - s) * f / c.rope_factor + s * f;
			}
		}
		inv[i] = f;
	}
}

/* ---- cuBLASLt ----
 * A column-major view (rows, cols, ld) of a matrix, as cuBLASLt sees it: a row-major [R][C]
 * array with row stride ld is the column-major C x R matrix of leading dimension ld. */
struct tc_mat {
	const void *p;
	cudaDataType t;
	uint64_t rows, cols;
	int64_t ld;
};

static uint32_t tc_align(const void *p)
{
	uint32_t a = 256;
	while (a > 1 && (uintptr_t)p % a)
		a /= 2;
	return a;
}

/* The algorithm of one problem (shapes, types, transposes, alignments, beta): cuBLASLt's first
 * heuristic answer with split-K off, chosen once and kept, so a problem always runs the same
 * code and gives the same bits. */
static const cublasLtMatmulAlgo_t *tc_algo_for(train_engine *e, const std::vector<int64_t> &key,
					       cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a,
					       cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t d,
					       const uint32_t align[3])
{
	auto it = e->algos.find(key);
	if (it == e->algos.end()) {
		tc_algo x = {false, {}};
		cublasLtMatmulPreference_t pref;
		LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
		LT_CHECK(cublasLtMatmulPreferenceSetAttribute(
			pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &e->ws_size, sizeof e->ws_size));
		const cublasLtMatmulPreferenceAttributes_t attrs[4] = {
			CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
			CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
		const uint32_t al[4] = {align[0], align[1], align[2], align[2]};
		for (int k = 0; k < 4; k++)
			LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attrs[k], &al[k], sizeof al[k]));
		cublasLtMatmulHeuristicResult_t r;
		int count = 0;
		if (cublasLtMatmulAlgoGetHeuristic(e->lt, op, a, b, d, d, pref, 1, &r, &count) ==
			    CUBLAS_STATUS_SUCCESS &&
		    count > 0) {
			x.have = true, x.algo = r.algo;
			cublasLtMatmulAlgo_t one = r.algo;
			int32_t splitk = 1;
			cublasLtMatmulHeuristicResult_t chk;
			if (cublasLtMatmulAlgoConfigSetAttribute(&one, CUBLASLT_ALGO_CONFIG_SPLITK_NUM,
								 &splitk, sizeof splitk) ==
				    CUBLAS_STATUS_SUCCESS &&
			    cublasLtMatmulAlgoCheck(e->lt, op, a, b, d, d, &one, &chk) ==
				    CUBLAS_STATUS_SUCCESS &&
			    chk.workspaceSize <= e->ws_size)
				x.algo = one;
		}
		cublasLtMatmulPreferenceDestroy(pref);
		it = e->algos.emplace(key, x).first;
	}
	return it->second.have ? &it->second.algo : NULL;
}

/* D = op(A) op(B) + beta D, fp32 compute, in place (C is D) */
static void tc_matmul(train_engine *e, bool ta, tc_mat A, bool tb, tc_mat B, tc_mat D, float beta)
{
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t a, b, d;
	int32_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
	LT_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
	LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
	LT_CHECK(cublasLtMatrixLayoutCreate(&a, A.t, A.rows, A.cols, A.ld));
	LT_CHECK(cublasLtMatrixLayoutCreate(&b, B.t, B.rows, B.cols, B.ld));
	LT_CHECK(cublasLtMatrixLayoutCreate(&d, D.t, D.rows, D.cols, D.ld));
	uint32_t align[3] = {tc_align(A.p), tc_align(B.p), tc_align(D.p)};
	std::vector<int64_t> key = {ta, tb, (int64_t)A.t, (int64_t)A.rows, (int64_t)A.cols, A.ld,
				    (int64_t)B.t, (int64_t)B.rows, (int64_t)B.cols, B.ld,
				    (int64_t)D.t, (int64_t)D.rows, (int64_t)D.cols, D.ld,
				    beta != 0, align[0], align[1], align[2]};
	const cublasLtMatmulAlgo_t *algo = tc_algo_for(e, key, op, a, b, d, align);
	float alpha = 1;
	LT_CHECK(cublasLtMatmul(e->lt, op, &alpha, A.p, a, B.p, b, &beta, D.p, d, (void *)D.p, d,
				   algo, e->ws, e->ws_size, e->st));
	cublasLtMatrixLayoutDestroy(a), cublasLtMatrixLayoutDestroy(b);
	cublasLtMatrixLayoutDestroy(d), cublasLtMatmulDescDestroy(op);
}

/* y[T][N] (ld ldy; bf16 or fp32, + y when acc) = x[T][K] (ld ldx) . w[N][K]^T */
static void tc_mm_fwd(train_engine *e, const tc_bf16 *x, int ldx, const tc_bf16 *w, void *y,
		      cudaDataType ty, int ldy, int T, int N, int K, bool acc)
{
	tc_matmul(e, true, {w, CUDA_R_16BF, (uint64_t)K, (uint64_t)N, K}, false,
		  {x, CUDA_R_16BF, (uint64_t)K, (uint64_t)T, ldx}, {y, ty, (uint64_t)N, (uint64_t)T, ldy},
		  acc ? 1.0f : 0.0f);
}

/* dx[T][K] (fp32) = dy[T][N] (ld lddy) . w[N][K] */
static void tc_mm_dx(train_engine *e, const tc_bf16 *dy, int lddy, const tc_bf16 *w, float *dx,
		     int T, int N, int K)
{
	tc_matmul(e, false, {w, CUDA_R_16BF, (uint64_t)K, (uint64_t)N, K}, false,
		  {dy, CUDA_R_16BF, (uint64_t)N, (uint64_t)T, lddy},
		  {dx, CUDA_R_32F, (uint64_t)K, (uint64_t)T, K}, 0.0f);
}

/* gw[N][K] (fp32) += dy[T][N]^T (ld lddy) . x[T][K] (ld ldx) */
static void tc_mm_dw(train_engine *e, const tc_bf16 *dy, int lddy, const tc_bf16 *x, int ldx,
		     float *gw, int T, int N, int K)
{
	tc_matmul(e, false, {x, CUDA_R_16BF, (uint64_t)K, (uint64_t)T, ldx}, true,
		  {dy, CUDA_R_16BF, (uint64_t)N, (uint64_t)T, lddy},
		  {gw, CUDA_R_32F, (uint64_t)K, (uint64_t)N, K}, 1.0f);
}

template <class F> static void tc_colsum(train_engine *e, F f, int rows, int cols, float *out)
{
	int chunks = (rows + TC_CHUNK - 1) / TC_CHUNK, nt = tc_threads((size_t)cols);
	dim3 grid((cols + nt - 1) / nt, chunks);
	k_tc_colsum_part<F><<<grid, nt, 0, e->st>>>(f, rows, cols, e->part);
	k_tc_colsum_add<<<(cols + nt - 1) / nt, nt, 0, e->st>>>(e->part, chunks, cols, out);
}

/* ---- creation ---- */

template <class T> static bool tc_alloc(train_engine *e, T **p, size_t n)
{
	*p = NULL;
	if (e->sizing) { /* tc_bytes: only counted */
		e->sized += (n ? n : 1) * sizeof(T);
		return true;
	}
	if (cudaMalloc((void **)p, (n ? n : 1) * sizeof(T)) != cudaSuccess) {
		cudaGetLastError(); /* (clears the error) */
		return false;
	}
	e->allocs.push_back(*p);
	return true;
}

static void tc_destroy(train_engine *e)
{
	if (!e)
		return;
	cudaSetDevice(e->dev);
	cudaStreamSynchronize(e->st);
	for (void *p : e->allocs)
		cudaFree(p);
	if (e->lt)
		cublasLtDestroy(e->lt);
	if (e->st)
		cudaStreamDestroy(e->st);
	delete e;
}

/* the bf16 copies from the fp32 weights */
static void tc_refresh(train_engine *e)
{
	size_t H = (size_t)e->c.hidden, F = (size_t)e->c.ffn, q = tc_qn(e), kv = tc_kvn(e);
	auto conv = [&](size_t off, tc_bf16 *dst, size_t n) {
		k_tc_to_bf16<<<(unsigned)((n + 255) / 256), 256, 0, e->st>>>(e->w + off, dst, n);
	};
	for (size_t l = 0; l < e->off.size(); l++) {
		const train_layer_off &o = e->off[l];
		tc_weights &W = e->lw[l];
		conv(o.wq, W.wqkv, q * H), conv(o.wk, W.wqkv + q * H, kv * H);
		conv(o.wv, W.wqkv + (q + kv) * H, kv * H), conv(o.wo, W.wo, H * q);
		conv(o.wgate, W.wgu, F * H), conv(o.wup, W.wgu + F * H, F * H);
		conv(o.wdown, W.wdown, H * F);
	}
}

static bool tc_alloc_all(train_engine *e)
{
	const scorer_config &c = e->c;
	size_t P = e->P, H = (size_t)c.hidden, F = (size_t)c.ffn, q = tc_qn(e), kv = tc_kvn(e);
	size_t nl = (size_t)c.layers, nh = (size_t)c.heads, half = (size_t)c.head_dim / 2;
	size_t qkvw = q + 2 * kv, wide = std::max(F, q), cols = std::max(H, q);
	bool ok = tc_alloc(e, &e->w, e->total) && tc_alloc(e, &e->g, e->total) &&
		  tc_alloc(e, &e->m, e->total) && tc_alloc(e, &e->v, e->total) &&
		  tc_alloc(e, &e->hs, (nl + 1) * P * H);
	e->lw.resize(nl);
	for (size_t l = 0; ok && l < nl; l++) {
		tc_weights &W = e->lw[l];
		ok = tc_alloc(e, &W.wqkv, qkvw * H) && tc_alloc(e, &W.wo, H * q) &&
		     tc_alloc(e, &W.wgu, 2 * F * H) && tc_alloc(e, &W.wdown, H * F);
	}
	e->acts.resize(e->recompute ? 1 : nl);
	for (size_t l = 0; ok && l < e->acts.size(); l++) {
		tc_acts &A = e->acts[l];
		ok = tc_alloc(e, &A.x1, P * H) && tc_alloc(e, &A.qkv, P * qkvw) &&
		     tc_alloc(e, &A.att, P * q) && tc_alloc(e, &A.x2, P * H) &&
		     tc_alloc(e, &A.gu, P * 2 * F) && tc_alloc(e, &A.act, P * F) &&
		     tc_alloc(e, &A.r1, P) && tc_alloc(e, &A.r2, P) && tc_alloc(e, &A.lse, P * nh) &&
		     tc_alloc(e, &A.hmid, P * H);
	}
	return ok && tc_alloc(e, &e->ids, P) && tc_alloc(e, &e->seq_of, P) &&
	       tc_alloc(e, &e->pos_of, P) && tc_alloc(e, &e->cu, P + 1) && tc_alloc(e, &e->last, P) &&
	       tc_alloc(e, &e->uid, P) && tc_alloc(e, &e->ustart, P + 1) && tc_alloc(e, &e->upos, P) &&
	       tc_alloc(e, &e->tgt, P) && tc_alloc(e, &e->pred, P) && tc_alloc(e, &e->dpred, P) &&
	       tc_alloc(e, &e->rstdf, P) && tc_alloc(e, &e->feat, P * H) &&
	       tc_alloc(e, &e->inv, P * half) && tc_alloc(e, &e->cs, P * half) &&
	       tc_alloc(e, &e->sqpart, (e->total + TC_SQ - 1) / TC_SQ) && tc_alloc(e, &e->dh, P * H) &&
	       tc_alloc(e, &e->dx, P * H) && tc_alloc(e, &e->dwide, P * wide) &&
	       tc_alloc(e, &e->D, P * nh) && tc_alloc(e, &e->dqkv, P * qkvw) &&
	       tc_alloc(e, &e->part, (P + TC_CHUNK - 1) / TC_CHUNK * cols) &&
	       tc_alloc(e, &e->dhb, P * H) && tc_alloc(e, &e->dgu, P * 2 * F) &&
	       tc_alloc(e, &e->dqkvb, P * qkvw) && (!e->attn_hd || tc_alloc(e, &e->dob, P * q)) &&
	       tc_alloc(e, (char **)&e->ws, e->ws_size);
}

/* the device memory tc_alloc_all would take with the engine's recompute setting */
static size_t tc_bytes(train_engine *e)
{
	e->sizing = true, e->sized = 0;
	tc_alloc_all(e);
	e->sizing = false, e->lw.clear(), e->acts.clear();
	return e->sized;
}

static train_engine *tc_create(const scorer_config *c, const train_layout *L, const float *params,
			       const train_engine_opts *o, char *desc, size_t desclen, char *err,
			       size_t errlen)
{
	if (c->head_dim <= 0 || c->head_dim % 2 || c->head_dim > TC_HD_MAX || c->kv_heads <= 0 ||
	    c->heads % c->kv_heads || c->outputs != 1) {
		snprintf(err, errlen,
			 "the CUDA trainer takes even head sizes up to %d, heads a multiple of the "
			 "kv heads and one output (head_dim %lld, %lld heads, %lld kv heads, %lld outputs)",
			 TC_HD_MAX, (long long)c->head_dim, (long long)c->heads,
			 (long long)c->kv_heads, (long long)c->outputs);
		return NULL;
	}
	if (o->max_tokens == 0 || o->max_tokens > 0x7fffffff) {
		snprintf(err, errlen, "max_tokens %zu (1 to 2^31 - 1)", o->max_tokens);
		return NULL;
	}
	int count = 0;
	cudaError_t ce = cudaGetDeviceCount(&count);
	if (ce != cudaSuccess || count == 0) {
		snprintf(err, errlen, "no CUDA device (%s)",
			 ce != cudaSuccess ? cudaGetErrorString(ce) : "none found");
		return NULL;
	}
	train_engine *e = new train_engine();
	e->c = *c;
	e->params.assign(L->v, L->v + L->n);
	e->off.assign(L->layer, L->layer + c->layers);
	e->total = L->total, e->embed = L->embed, e->norm = L->norm, e->head = L->head;
	e->dev = ((o->gpu % count) + count) % count;
	e->recompute = o->recompute > 0;
	e->max_tokens = o->max_tokens;
	e->micro = std::min<size_t>(o->micro_tokens ? o->micro_tokens : 16384, 0x7fffffff);
	e->P = std::max(e->micro, e->max_tokens);
	e->ws_size = 32u << 20;
	CUDA_CHECK(cudaSetDevice(e->dev));
	cudaDeviceProp prop;
	CUDA_CHECK(cudaGetDeviceProperties(&prop, e->dev));
	CUDA_CHECK(cudaStreamCreateWithFlags(&e->st, cudaStreamNonBlocking));
	LT_CHECK(cublasLtCreate(&e->lt));
	tc_choose_attention(e, prop);
	if (o->recompute < 0) {
		/* auto: every layer's activations where they fit with TC_HEADROOM to spare, else
		 * one set recomputed per layer (the same bits either way) */
		size_t free_b = 0, total_b = 0;
		CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
		e->recompute = tc_bytes(e) + TC_HEADROOM > free_b;
	}
	if (!tc_alloc_all(e)) {
		snprintf(err, errlen, "cuda:%d (%s): out of device memory for %zu tokens a pack%s",
			 e->dev, prop.name, e->P, e->recompute ? "" : " (recompute would need less)");
		tc_destroy(e);
		return NULL;
	}
	size_t n = e->total * sizeof(float);
	CUDA_CHECK(cudaMemcpyAsync(e->w, params, n, cudaMemcpyHostToDevice, e->st));
	CUDA_CHECK(cudaMemsetAsync(e->g, 0, n, e->st));
	CUDA_CHECK(cudaMemsetAsync(e->m, 0, n, e->st));
	CUDA_CHECK(cudaMemsetAsync(e->v, 0, n, e->st));
	tc_refresh(e);
	e->inv_base.resize((size_t)c->head_dim / 2);
	tc_rope_freqs(e->c, 1, e->inv_base.data());
	CUDA_CHECK(cudaStreamSynchronize(e->st));
	snprintf(desc, desclen, "cuda:%d (%s, %s attention%s)", e->dev, prop.name,
		 e->attn_hd ? "tensor-core" : "scalar", e->recompute ? ", recomputation" : "");
	return e;
}

/* ---- packing ---- */

/* ids in range and lengths 1..max_tokens; then the packs, longest sequences first, each of at
 * most micro tokens or else one sequence (and of at most 65535 sequences, a grid's z) */
static int tc_plan(train_engine *e, const uint32_t *const *ids, const size_t *lens, size_t n,
		   std::vector<tc_pack> &packs, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (lens[i] == 0 || lens[i] > e->max_tokens) {
			snprintf(err, errlen, "a sequence of %zu tokens (1 to %zu)", lens[i], e->max_tokens);
			return -1;
		}
		for (size_t t = 0; t < lens[i]; t++)
			if (ids[i][t] >= (uint64_t)e->c.vocab) {
				snprintf(err, errlen, "token id %u outside the vocabulary of %lld",
					 ids[i][t], (long long)e->c.vocab);
				return -1;
			}
	}
	std::vector<size_t> order(n);
	std::iota(order.begin(), order.end(), 0);
	std::stable_sort(order.begin(), order.end(),
			 [&](size_t a, size_t b) { return lens[a] > lens[b]; });
	for (size_t k = 0; k < n;) {
		tc_pack p;
		p.T = 0, p.maxlen = (int)lens[order[k]];
		while (k < n && (p.members.empty() || (size_t)p.T + lens[order[k]] <= e->micro) &&
		       p.members.size() < 65535) {
			p.T += (int)lens[order[k]];
			p.members.push_back(order[k++]);
		}
		packs.push_back(std::move(p));
	}
	return 0;
}

template <class T> static void tc_up(train_engine *e, T *dst, const std::vector<T> &src)
{
	if (!src.empty())
		CUDA_CHECK(cudaMemcpyAsync(dst, src.data(), src.size() * sizeof(T),
					 cudaMemcpyHostToDevice, e->st));
}

/* The pack's layout to the device: token ids, sequence and position of each token, starts,
 * last tokens, RoPE frequencies per sequence; with grad, the targets and the tokens grouped
 * by id for the embedding's gradient. */
static void tc_upload(train_engine *e, const tc_pack &p, const uint32_t *const *ids,
		      const size_t *lens, const float *targets, bool grad)
{
	size_t half = (size_t)e->c.head_dim / 2, ns = p.members.size();
	std::vector<int> hid, seq, pos, cu{0}, last;
	std::vector<double> inv(ns * half);
	for (size_t s = 0; s < ns; s++) {
		size_t i = p.members[s], n = lens[i];
		for (size_t t = 0; t < n; t++)
			hid.push_back((int)ids[i][t]), seq.push_back((int)s), pos.push_back((int)t);
		cu.push_back(cu.back() + (int)n);
		last.push_back(cu.back() - 1);
		if (e->c.rope_type == scorer_config::ROPE_DYNAMIC && n > (size_t)e->c.max_pos)
			tc_rope_freqs(e->c, n, inv.data() + s * half);
		else
			std::copy(e->inv_base.begin(), e->inv_base.end(), inv.begin() + s * half);
	}
	tc_up(e, e->ids, hid), tc_up(e, e->seq_of, seq), tc_up(e, e->pos_of, pos);
	tc_up(e, e->cu, cu), tc_up(e, e->last, last), tc_up(e, e->inv, inv);
	k_tc_rope_table<<<p.T, tc_threads(half), 0, e->st>>>(e->cs, e->pos_of, e->seq_of, e->inv,
							      (int)half);
	if (!grad)
		return;
	std::vector<float> tg(ns);
	for (size_t s = 0; s < ns; s++)
		tg[s] = targets[p.members[s]];
	std::vector<int> by(p.T), uid, ustart, upos(p.T);
	std::iota(by.begin(), by.end(), 0);
	std::stable_sort(by.begin(), by.end(), [&](int a, int b) { return hid[a] < hid[b]; });
	for (int k = 0; k < p.T; k++) {
		if (k == 0 || hid[by[k]] != hid[by[k - 1]])
			uid.push_back(hid[by[k]]), ustart.push_back(k);
		upos[k] = by[k];
	}
	ustart.push_back(p.T);
	e->n_uid = (int)uid.size();
	tc_up(e, e->tgt, tg), tc_up(e, e->uid, uid), tc_up(e, e->ustart, ustart), tc_up(e, e->upos, upos);
}

/* ---- forward and backward of a pack ---- */

/* Layer l from its input hs[l] into A; out: also the output hs[l + 1] (a recomputation in
 * the backward pass does not need it). */
static void tc_layer_fwd(train_engine *e, size_t l, tc_acts &A, const tc_pack &p, bool out)
{
	const scorer_config &c = e->c;
	const train_layer_off &o = e->off[l];
	const tc_weights &W = e->lw[l];
	int T = p.T, H = (int)c.hidden, F = (int)c.ffn, hd = (int)c.head_dim, nh = (int)c.heads;
	int nkv = (int)c.kv_heads, q = nh * hd, qkvw = q + 2 * nkv * hd, nt = tc_threads((size_t)H);
	float *hin = tc_hs(e, l), eps = (float)c.eps, scale = 1.0f / sqrtf((float)hd);
	cudaStream_t st = e->st;
	k_tc_rmsnorm<<<T, nt, 0, st>>>(hin, e->w + o.attn_norm, A.x1, A.r1, H, eps);
	tc_mm_fwd(e, A.x1, H, W.wqkv, A.qkv, CUDA_R_16BF, qkvw, T, qkvw, H, false);
	bool b = o.bq != NO_PARAM;
	k_tc_bias_rope<<<T, tc_threads((size_t)(nh + nkv) * hd / 2), 0, st>>>(
		A.qkv, e->cs, b ? e->w + o.bq : NULL, b ? e->w + o.bk : NULL, b ? e->w + o.bv : NULL,
		hd, nh, nkv);
	tc_attn_fwd(e, A, p, scale);
	CUDA_CHECK(cudaMemcpyAsync(A.hmid, hin, (size_t)T * H * 4, cudaMemcpyDeviceToDevice, st));
	tc_mm_fwd(e, A.att, q, W.wo, A.hmid, CUDA_R_32F, H, T, H, q, true);
	k_tc_rmsnorm<<<T, nt, 0, st>>>(A.hmid, e->w + o.mlp_norm, A.x2, A.r2, H, eps);
	tc_mm_fwd(e, A.x2, H, W.wgu, A.gu, CUDA_R_16BF, 2 * F, T, 2 * F, H, false);
	k_tc_swiglu<<<T, tc_threads((size_t)F), 0, st>>>(A.gu, A.act, F);
	if (!out)
		return;
	float *hout = tc_hs(e, l + 1);
	CUDA_CHECK(cudaMemcpyAsync(hout, A.hmid, (size_t)T * H * 4, cudaMemcpyDeviceToDevice, st));
	tc_mm_fwd(e, A.act, F, W.wdown, hout, CUDA_R_32F, H, T, H, F, true);
}

static tc_acts &tc_acts_of(train_engine *e, size_t l) { return e->acts[e->recompute ? 0 : l]; }

/* Embedding, every layer, and the head: pred and rstdf of each sequence (feat: the normed
 * states too). save: each layer's activations into its own tc_acts (unless recompute). */
static void tc_forward(train_engine *e, const tc_pack &p, bool save, float *feat)
{
	const scorer_config &c = e->c;
	int H = (int)c.hidden, nt = tc_threads((size_t)H), ns = (int)p.members.size();
	k_tc_embed<<<p.T, nt, 0, e->st>>>(e->ids, e->w + e->embed, tc_hs(e, 0), H);
	for (size_t l = 0; l < (size_t)c.layers; l++)
		tc_layer_fwd(e, l, save ? tc_acts_of(e, l) : e->acts[0], p, true);
	k_tc_head_fwd<<<ns, nt, 0, e->st>>>(tc_hs(e, (size_t)c.layers), e->last, e->w + e->norm,
					    e->w + e->head, e->pred, e->rstdf, feat, H, (float)c.eps);
}

/* Layer l's backward: e->dh (and dhb) hold d/d(output) and become d/d(input); the weights'
 * gradients are added into e->g. */
static void tc_layer_bwd(train_engine *e, size_t l, tc_acts &A, const tc_pack &p)
{
	const scorer_config &c = e->c;
	const train_layer_off &o = e->off[l];
	const tc_weights &W = e->lw[l];
	int T = p.T, H = (int)c.hidden, F = (int)c.ffn, hd = (int)c.head_dim, nh = (int)c.heads;
	int nkv = (int)c.kv_heads, q = nh * hd, kv = nkv * hd, qkvw = q + 2 * kv;
	int nt = tc_threads((size_t)H);
	float *hin = tc_hs(e, l), scale = 1.0f / sqrtf((float)hd);
	cudaStream_t st = e->st;
	/* MLP: out = hmid + down(silu(gate) * up) */
	tc_mm_dx(e, e->dhb, H, W.wdown, e->dwide, T, H, F);
	tc_mm_dw(e, e->dhb, H, A.act, F, e->g + o.wdown, T, H, F);
	k_tc_swiglu_bwd<<<T, tc_threads((size_t)F), 0, st>>>(A.gu, e->dwide, e->dgu, F);
	tc_mm_dx(e, e->dgu, 2 * F, W.wgu, e->dx, T, 2 * F, H);
	tc_mm_dw(e, e->dgu, 2 * F, A.x2, H, e->g + o.wgate, T, F, H);
	tc_mm_dw(e, e->dgu + F, 2 * F, A.x2, H, e->g + o.wup, T, F, H);
	tc_colsum(e, tc_norm_term{e->dx, A.hmid, A.r2, H}, T, H, e->g + o.mlp_norm);
	k_tc_rmsnorm_bwd<<<T, nt, 0, st>>>(A.hmid, e->w + o.mlp_norm, A.r2, e->dx, e->dh, e->dhb, H);
	/* attention: hmid = in + o_proj(attention(rope(qkv(norm(in))))) */
	tc_mm_dx(e, e->dhb, H, W.wo, e->dwide, T, H, q);
	tc_mm_dw(e, e->dhb, H, A.att, q, e->g + o.wo, T, H, q);
	k_tc_attn_rowdot<<<(T * nh + 127) / 128, 128, 0, st>>>(e->dwide, A.att, e->D, T * nh, hd);
	tc_attn_bwd(e, A, p, scale);
	k_tc_rope_bwd<<<T, tc_threads((size_t)(nh + nkv) * hd / 2), 0, st>>>(e->dqkv, e->dqkvb, e->cs,
									      hd, nh, nkv);
	if (o.bq != NO_PARAM) {
		tc_colsum(e, tc_col_term{e->dqkv, qkvw, 0}, T, q, e->g + o.bq);
		tc_colsum(e, tc_col_term{e->dqkv, qkvw, q}, T, kv, e->g + o.bk);
		tc_colsum(e, tc_col_term{e->dqkv, qkvw, q + kv}, T, kv, e->g + o.bv);
	}
	tc_mm_dx(e, e->dqkvb, qkvw, W.wqkv, e->dx, T, qkvw, H);
	tc_mm_dw(e, e->dqkvb, qkvw, A.x1, H, e->g + o.wq, T, q, H);
	tc_mm_dw(e, e->dqkvb + q, qkvw, A.x1, H, e->g + o.wk, T, kv, H);
	tc_mm_dw(e, e->dqkvb + q + kv, qkvw, A.x1, H, e->g + o.wv, T, kv, H);
	tc_colsum(e, tc_norm_term{e->dx, hin, A.r1, H}, T, H, e->g + o.attn_norm);
	k_tc_rmsnorm_bwd<<<T, nt, 0, st>>>(hin, e->w + o.attn_norm, A.r1, e->dx, e->dh, e->dhb, H);
}

static void tc_backward(train_engine *e, const tc_pack &p, float scale)
{
	const scorer_config &c = e->c;
	int H = (int)c.hidden, nt = tc_threads((size_t)H), ns = (int)p.members.size();
	size_t L = (size_t)c.layers;
	float *hl = tc_hs(e, L);
	CUDA_CHECK(cudaMemsetAsync(e->dh, 0, (size_t)p.T * H * sizeof(float), e->st));
	CUDA_CHECK(cudaMemsetAsync(e->dhb, 0, (size_t)p.T * H * sizeof(tc_bf16), e->st));
	k_tc_head_bwd<<<ns, nt, 0, e->st>>>(hl, e->last, e->w + e->norm, e->w + e->head, e->pred,
					    e->tgt, e->rstdf, scale, e->dpred, e->dh, e->dhb, H);
	tc_colsum(e, tc_last_term{hl, e->rstdf, e->dpred, e->w + e->norm, e->last, H}, ns, H,
		  e->g + e->head);
	tc_colsum(e, tc_last_term{hl, e->rstdf, e->dpred, e->w + e->head, e->last, H}, ns, H,
		  e->g + e->norm);
	for (size_t l = L; l-- > 0;) {
		tc_acts &A = tc_acts_of(e, l);
		if (e->recompute) /* the same kernels on the same input: the same bits */
			tc_layer_fwd(e, l, A, p, false);
		tc_layer_bwd(e, l, A, p);
	}
	/* one block per distinct id: at most T */
	k_tc_embed_bwd<<<(unsigned)e->n_uid, nt, 0, e->st>>>(e->dh, e->uid, e->ustart, e->upos,
							     e->g + e->embed, H);
}

/* ---- the operations ---- */

static int tc_accumulate(train_engine *e, const train_batch *b, float scale, float *preds,
			 char *err, size_t errlen)
{
	CUDA_CHECK(cudaSetDevice(e->dev));
	std::vector<tc_pack> packs;
	if (tc_plan(e, b->ids, b->lens, b->n, packs, err, errlen) < 0)
		return -1;
	std::vector<float> hp;
	for (const tc_pack &p : packs) {
		tc_upload(e, p, b->ids, b->lens, b->targets, true);
		tc_forward(e, p, true, NULL);
		tc_backward(e, p, scale);
		hp.resize(p.members.size());
		CUDA_CHECK(cudaMemcpyAsync(hp.data(), e->pred, hp.size() * 4, cudaMemcpyDeviceToHost, e->st));
		CUDA_CHECK(cudaStreamSynchronize(e->st));
		for (size_t s = 0; s < hp.size(); s++)
			preds[p.members[s]] = hp[s];
	}
	return 0;
}

static int tc_features(train_engine *e, const uint32_t *const *ids, const size_t *lens, size_t n,
		       float *feat, char *err, size_t errlen)
{
	CUDA_CHECK(cudaSetDevice(e->dev));
	std::vector<tc_pack> packs;
	if (tc_plan(e, ids, lens, n, packs, err, errlen) < 0)
		return -1;
	size_t H = (size_t)e->c.hidden;
	std::vector<float> hf;
	for (const tc_pack &p : packs) {
		tc_upload(e, p, ids, lens, NULL, false);
		tc_forward(e, p, false, e->feat);
		hf.resize(p.members.size() * H);
		CUDA_CHECK(cudaMemcpyAsync(hf.data(), e->feat, hf.size() * 4, cudaMemcpyDeviceToHost, e->st));
		CUDA_CHECK(cudaStreamSynchronize(e->st));
		for (size_t s = 0; s < p.members.size(); s++)
			std::copy(hf.begin() + s * H, hf.begin() + (s + 1) * H, feat + p.members[s] * H);
	}
	return 0;
}

static void tc_copy(train_engine *e, void *dst, const void *src, size_t n, cudaMemcpyKind kind)
{
	CUDA_CHECK(cudaSetDevice(e->dev));
	CUDA_CHECK(cudaMemcpyAsync(dst, src, n, kind, e->st));
	CUDA_CHECK(cudaStreamSynchronize(e->st));
}

static int tc_get_grads(train_engine *e, float *g, char *err, size_t errlen)
{
	tc_copy(e, g, e->g, e->total * 4, cudaMemcpyDeviceToHost);
	return 0;
}

static int tc_set_grads(train_engine *e, const float *g, char *err, size_t errlen)
{
	tc_copy(e, e->g, g, e->total * 4, cudaMemcpyHostToDevice);
	return 0;
}

static double tc_grad_sq(train_engine *e)
{
	CUDA_CHECK(cudaSetDevice(e->dev));
	size_t nb = (e->total + TC_SQ - 1) / TC_SQ;
	std::vector<double> part(nb);
	k_tc_sq<<<(unsigned)nb, 256, 0, e->st>>>(e->g, e->total, e->sqpart);
	CUDA_CHECK(cudaMemcpyAsync(part.data(), e->sqpart, nb * 8, cudaMemcpyDeviceToHost, e->st));
	CUDA_CHECK(cudaStreamSynchronize(e->st));
	double s = 0;
	for (double x : part)
		s += x;
	return s;
}

static int tc_step(train_engine *e, const adamw_step *s, char *err, size_t errlen)
{
	CUDA_CHECK(cudaSetDevice(e->dev));
	/* the scalars as train_cpu.c computes them, in fp32 */
	float lr = (float)s->lr, b1 = (float)s->beta1, b2 = (float)s->beta2, eps = (float)s->eps;
	float bc1 = 1.0f - powf(b1, (float)s->t), bc2 = 1.0f - powf(b2, (float)s->t);
	float step = lr / bc1, bc2s = sqrtf(bc2), gs = (float)s->grad_scale;
	for (const train_param &p : e->params) {
		float decay = p.decay ? 1.0f - (float)(s->lr * s->weight_decay) : 1.0f;
		if (p.n)
			k_tc_adamw<<<(unsigned)((p.n + 255) / 256), 256, 0, e->st>>>(
				e->w + p.off, e->g + p.off, e->m + p.off, e->v + p.off, p.n, decay, b1,
				b2, eps, step, bc2s, gs);
	}
	CUDA_CHECK(cudaMemsetAsync(e->g, 0, e->total * 4, e->st)); /* (any gap between tensors) */
	tc_refresh(e);
	CUDA_CHECK(cudaStreamSynchronize(e->st));
	return 0;
}

static int tc_get_state(train_engine *e, float *params, float *m, float *v, char *err,
			size_t errlen)
{
	size_t n = e->total * 4;
	tc_copy(e, params, e->w, n, cudaMemcpyDeviceToHost);
	if (m)
		tc_copy(e, m, e->m, n, cudaMemcpyDeviceToHost), tc_copy(e, v, e->v, n, cudaMemcpyDeviceToHost);
	return 0;
}

static int tc_set_state(train_engine *e, const float *params, const float *m, const float *v,
			char *err, size_t errlen)
{
	size_t n = e->total * 4;
	tc_copy(e, e->w, params, n, cudaMemcpyHostToDevice);
	if (m)
		tc_copy(e, e->m, m, n, cudaMemcpyHostToDevice), tc_copy(e, e->v, v, n, cudaMemcpyHostToDevice);
	tc_refresh(e);
	CUDA_CHECK(cudaStreamSynchronize(e->st));
	return 0;
}

/* (a const at namespace scope is internal unless declared extern) */
extern "C" const struct train_engine_ops curate_cuda_train_ops = {
	"cuda",	      tc_create,  tc_destroy, tc_accumulate, tc_features, tc_get_grads,
	tc_set_grads, tc_grad_sq, tc_step,    tc_get_state,  tc_set_state,
};
