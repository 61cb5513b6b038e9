/* flash.cuh: the tensor-core causal attention's forward pass over packed variable-length
 * sequences, shared by the scorer (scorer_cuda.cu, k_flash) and the trainer (train_cuda.cu,
 * which also keeps each query's log-sum-exp for its backward pass). Device code only: each
 * .cu wraps it in a kernel of its own that declares the dynamic shared memory, so that the
 * CUDA emulator's rewrite of those .cu files (tests/cuda_emu/launch.sed) has nothing to do
 * here. */
#ifndef CURATE_FLASH_CUH
#define CURATE_FLASH_CUH

#include <cuda_bf16.h>
#include <mma.h>

typedef __nv_bfloat16 bf16;
using namespace nvcuda;

/* ---- tensor-core attention ----
 * A block takes FA_BQ queries of one head of one sequence; each of its FA_WARPS warps owns 16
 * query rows. Key and value tiles of FA_BK rows are staged in shared memory for the whole
 * block; each warp computes S = Q K^T with bf16 WMMA (fp32 accumulation), updates its rows'
 * running max and sum (two lanes per row), writes P = exp(S - max) as bf16, and adds P V into
 * an fp32 output kept in shared memory (rescaled when the max grows). Only tiles at or below the
 * diagonal are visited, and no n x n matrix exists anywhere. Rows are padded (+8 bf16, +4
 * floats) so that the 8 rows a WMMA load touches fall in different banks; every fragment
 * pointer stays 32-byte aligned, as WMMA requires, because every region is a multiple of 32
 * bytes and head sizes are multiples of 16. */
enum { FA_BQ = 64, FA_BK = 64, FA_WARPS = FA_BQ / 16 };

struct fa_layout {
	int ldh, lds, ldp, ldo;	       /* row strides in elements */
	size_t q, k, v, s, p, o, li, total; /* byte offsets of the regions, and the size */
};

__host__ __device__ inline fa_layout fa_layout_of(int hd)
{
	fa_layout L;
	L.ldh = hd + 8, L.lds = FA_BK + 4, L.ldp = FA_BK + 8, L.ldo = hd + 4;
	L.q = 0;
	L.k = L.q + (size_t)FA_BQ * L.ldh * 2;
	L.v = L.k + (size_t)FA_BK * L.ldh * 2;
	L.s = L.v + (size_t)FA_BK * L.ldh * 2;
	L.p = L.s + (size_t)FA_WARPS * 16 * L.lds * 4;
	L.o = L.p + (size_t)FA_WARPS * 16 * L.ldp * 2;
	L.li = L.o + (size_t)FA_WARPS * 16 * L.ldo * 4;
	L.total = L.li + (size_t)FA_WARPS * 16 * 4;
	return L;
}

/* rows [r0, r0 + rows) of one head's hd columns from the packed qkv rows into shared memory,
 * 16 bytes at a time; rows past the sequence are zero (a NaN there would survive 0 * x) */
static __device__ void fa_load_tile(bf16 *dst, int ld, const bf16 *qkv, int start, int n, int r0,
			     int rows, int width, int col, int hd)
{
	int vec = hd / 8;
	for (int e = threadIdx.x; e < rows * vec; e += blockDim.x) {
		int r = e / vec, c = (e % vec) * 8;
		uint4 v = make_uint4(0, 0, 0, 0);
		if (r0 + r < n)
			v = *(const uint4 *)(qkv + (size_t)(start + r0 + r) * width + col + c);
		*(uint4 *)(dst + r * ld + c) = v;
	}
}

/* C (16 x FA_BK, fp32, row stride ld) = A B^T by WMMA: A 16 rows of a tile, B the FA_BK rows of
 * another, both [row][hd] bf16 with row stride ldh (the forward's S = Q K^T; the backward's
 * products of the same shape, train_cuda.cu) */
static __device__ inline void fa_abt(float *C, int ld, const bf16 *A, const bf16 *B, int ldh,
				     int hd)
{
	for (int j = 0; j < FA_BK / 16; j++) {
		wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
		wmma::fill_fragment(acc, 0.0f);
		for (int kk = 0; kk < hd; kk += 16) {
			wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a;
			wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> b;
			wmma::load_matrix_sync(a, A + kk, ldh);
			wmma::load_matrix_sync(b, B + j * 16 * ldh + kk, ldh);
			wmma::mma_sync(acc, a, b, acc);
		}
		wmma::store_matrix_sync(C + j * 16, acc, ld, wmma::mem_row_major);
	}
}

/* HD = 0: any head size (a multiple of 16), the output accumulated in shared memory.
 * HD = 64 or 128: the output stays in WMMA accumulators in registers across key tiles and
 * goes through shared memory only when some row's max grew (then every row is rescaled there),
 * which after the first tiles is rare: most tiles cost no output traffic at all. */
template <int HD>
__device__ void fa_forward(unsigned char *fa_smem, const bf16 *qkv, bf16 *out, float *lse,
			   const int *cu, int nh, int nkv, int hd_rt, float scale)
{
	const int hd = HD ? HD : hd_rt;
	const fa_layout L = fa_layout_of(hd);
	int s = blockIdx.z, h = blockIdx.y, kvh = h / (nh / nkv);
	int start = cu[s], n = cu[s + 1] - start;
	int q0 = (gridDim.x - 1 - blockIdx.x) * FA_BQ; /* the longest rows of keys first */
	if (q0 >= n)
		return;
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, width = (nh + 2 * nkv) * hd;
	bf16 *Qs = (bf16 *)(fa_smem + L.q), *Ks = (bf16 *)(fa_smem + L.k);
	bf16 *Vs = (bf16 *)(fa_smem + L.v);
	float *Ss = (float *)(fa_smem + L.s) + warp * 16 * L.lds;
	bf16 *Ps = (bf16 *)(fa_smem + L.p) + warp * 16 * L.ldp;
	float *Os = (float *)(fa_smem + L.o) + warp * 16 * L.ldo;
	float *Li = (float *)(fa_smem + L.li) + warp * 16;
	wmma::fragment<wmma::accumulator, 16, 16, 16, float> o[HD ? HD / 16 : 1];
	if (HD)
		for (int i = 0; i < (HD ? HD / 16 : 1); i++)
			wmma::fill_fragment(o[i], 0.0f);

	fa_load_tile(Qs, L.ldh, qkv, start, n, q0, FA_BQ, width, h * hd, hd);
	int r = lane >> 1, half = lane & 1; /* this lane's row of the warp's 16, and its half */
	int wq0 = q0 + warp * 16, qrow = wq0 + r;
	if (!HD) /* the register variant's output starts in its zeroed fragments */
		for (int d = half; d < hd; d += 2)
			Os[r * L.ldo + d] = 0;
	float m = -INFINITY, l = 0;
	int kend = min(n, q0 + FA_BQ); /* causal: no key beyond the block's last query */
	for (int k0 = 0; k0 < kend; k0 += FA_BK) {
		__syncthreads(); /* every warp is done with the last tile */
		fa_load_tile(Ks, L.ldh, qkv, start, n, k0, FA_BK, width, (nh + kvh) * hd, hd);
		fa_load_tile(Vs, L.ldh, qkv, start, n, k0, FA_BK, width, (nh + nkv + kvh) * hd, hd);
		__syncthreads();
		if (wq0 >= n || k0 > wq0 + 15)
			continue; /* no live row in this warp, or every key is in its future */
		fa_abt(Ss, L.lds, Qs + warp * 16 * L.ldh, Ks, L.ldh, hd);
		__syncwarp();
		/* online softmax of row r over this lane's 32 columns, then across the pair */
		float x[FA_BK / 2], mx = -INFINITY;
#pragma unroll
		for (int c = 0; c < FA_BK / 2; c++) {
			int key = k0 + half * (FA_BK / 2) + c;
			x[c] = key <= qrow && key < n ? Ss[r * L.lds + half * (FA_BK / 2) + c] * scale
						      : -INFINITY;
			mx = fmaxf(mx, x[c]);
		}
		mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 1));
		float mn = fmaxf(m, mx), sum = 0;
		float alpha = mn == m ? 1.0f : __expf(m - mn); /* m = -inf: 0 */
#pragma unroll
		for (int c = 0; c < FA_BK / 2; c++) {
			bf16 p = __float2bfloat16(x[c] == -INFINITY ? 0.0f : __expf(x[c] - mn));
			Ps[r * L.ldp + half * (FA_BK / 2) + c] = p;
			sum += __bfloat162float(p); /* the sum of what P V will add */
		}
		sum += __shfl_xor_sync(0xffffffff, sum, 1);
		l = l * alpha + sum, m = mn;
		if (HD) {
			if (__any_sync(0xffffffff, alpha != 1.0f)) { /* rescale through shared memory */
				for (int i = 0; i < (HD ? HD / 16 : 1); i++)
					wmma::store_matrix_sync(Os + i * 16, o[i], L.ldo, wmma::mem_row_major);
				__syncwarp();
				for (int d = half; d < hd; d += 2)
					Os[r * L.ldo + d] *= alpha;
				__syncwarp();
				for (int i = 0; i < (HD ? HD / 16 : 1); i++)
					wmma::load_matrix_sync(o[i], Os + i * 16, L.ldo, wmma::mem_row_major);
			}
			__syncwarp(); /* P is written */
			for (int i = 0; i < (HD ? HD / 16 : 1); i++)
				for (int kc = 0; kc < FA_BK; kc += 16) {
					wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a;
					wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> b;
					wmma::load_matrix_sync(a, Ps + kc, L.ldp);
					wmma::load_matrix_sync(b, Vs + kc * L.ldh + i * 16, L.ldh);
					wmma::mma_sync(o[i], a, b, o[i]);
				}
		} else {
			for (int d = half; d < hd; d += 2)
				Os[r * L.ldo + d] *= alpha;
			__syncwarp();
			for (int dd = 0; dd < hd; dd += 16) {
				wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
				wmma::load_matrix_sync(acc, Os + dd, L.ldo, wmma::mem_row_major);
				for (int kc = 0; kc < FA_BK; kc += 16) {
					wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a;
					wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> b;
					wmma::load_matrix_sync(a, Ps + kc, L.ldp);
					wmma::load_matrix_sync(b, Vs + kc * L.ldh + dd, L.ldh);
					wmma::mma_sync(acc, a, b, acc);
				}
				wmma::store_matrix_sync(Os + dd, acc, L.ldo, wmma::mem_row_major);
			}
		}
		__syncwarp(); /* before the next tile's S and P overwrite what this one read */
	}
	if (wq0 >= n)
		return;
	if (HD)
		for (int i = 0; i < (HD ? HD / 16 : 1); i++)
			wmma::store_matrix_sync(Os + i * 16, o[i], L.ldo, wmma::mem_row_major);
	if (half == 0) {
		Li[r] = 1.0f / l;
		if (lse && qrow < n)
			lse[(size_t)(start + qrow) * nh + h] = m + logf(l);
	}
	__syncwarp();
	for (int e = lane; e < 16 * hd; e += 32) {
		int rr = e / hd, d = e % hd;
		if (wq0 + rr < n)
			out[(size_t)(start + wq0 + rr) * nh * hd + h * hd + d] =
				__float2bfloat16(Os[rr * L.ldo + d] * Li[rr]);
	}
}

#endif
