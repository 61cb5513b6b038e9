/* scorer_cuda: the scorer's GPU path. bf16 weights, cuBLASLt GEMMs with fp32 accumulation
 * (the residual stream stays fp32 and the o/down projections add into it through beta=1) and
 * one pinned algorithm per shape, fused kernels for RMSNorm, RoPE (with qwen2's q/k/v biases),
 * SwiGLU and the head (its K rows: the score, or an LM's chosen logits), and a tensor-core
 * flash-style attention over variable-length packed sequences (online softmax, no padded
 * n x n matrix; a scalar reference kernel beside it). Sequences are sorted by length and
 * packed into batches of at most `pack_tokens` tokens; two batches are in flight at once,
 * each on its own stream, while the host packs the next.
 * Built into libcurate-cuda.so, which curate dlopens (scorer_cuda.h).
 * UNVERIFIED ON HARDWARE: written and compiled without a GPU (no session so far had one);
 * tests/e2e/scorer_cuda.sh and scripts/gpu/run.sh check it where a GPU exists. */
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <utility>
#include <vector>

extern "C" {
#include "scorer.h"
#include "scorer_cuda.h"
}

#include "cuda_check.h"
#include "flash.cuh"

enum { ATT_TQ = 64, ATT_TK = 32, HD_MAX = 256 };

struct cuda_layer {
	float *attn_norm, *mlp_norm;
	float *bqkv; /* the q, k and v biases stacked (qwen2), else NULL */
	bf16 *wqkv, *wo, *wgu, *wdown; /* q, k, v rows stacked; gate and up rows stacked */
};

/* One batch in flight: its stream, activations, cuBLASLt workspace, and pinned host buffers
 * for the batch's token ids and layout (one upload) and for its scores (one download). The
 * host packs the next batch into another slot while this one runs. */
enum { NSLOT = 2 };
struct slot {
	cudaStream_t st;
	cudaEvent_t done;
	void *workspace;
	float *h, *scores; /* scores: [nseq][c.outputs] */
	float2 *rope;
	bf16 *x, *qkv, *att, *gu, *act;
	int *meta, *host_meta; /* ids[T], seq_of[T], pos_of[T], cu[nseq + 1], last[nseq] */
	float *host_scores;
	std::vector<size_t> members; /* the inputs this batch scores, in order */
	bool busy;
};

/* one cuBLASLt algorithm chosen for one GEMM shape (see gemm()) */
struct gemm_plan {
	int N, K;
	bool f32, pinned;
	cublasLtMatmulAlgo_t algo;
};

struct cuda_model {
	struct scorer_config c;
	int dev;
	int attn; /* enum attn_kind */
	size_t max_tokens, pack_tokens, workspace_size, flash_smem;
	bf16 *embed;
	float *norm, *head;
	std::vector<cuda_layer> layers;
	cublasLtHandle_t lt;
	std::vector<gemm_plan> plans;        /* one pinned algorithm per GEMM shape */
	bool invariant;			     /* every shape pinned: scores do not depend on batching */
	slot slots[NSLOT];
};

/* scorer.c gives a qwen2 checkpoint (q, k and v biases) to this library only when it says it
 * applies them, by this symbol */
extern "C" {
int curate_cuda_qkv_bias = 1;
}

extern "C" int curate_cuda_available(char *why, size_t whylen)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n == 0) {
		snprintf(why, whylen, "no CUDA device (%s)",
			 e != cudaSuccess ? cudaGetErrorString(e) : "none found");
		return 0;
	}
	return 1;
}

/* ---- kernels ---- */

__global__ void k_embed(const int *ids, const bf16 *embed, float *h, int H, int T)
{
	int t = blockIdx.x;
	if (t >= T)
		return;
	const bf16 *row = embed + (size_t)ids[t] * H;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		h[(size_t)t * H + i] = __bfloat162float(row[i]);
}

/* The sum of v over the block, the same value in every thread (each adds the warps' partial
 * sums in warp order); part: 32 floats of shared memory, free again on return. */
__device__ float block_sum(float v, float *part)
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

/* One block per token: fp32 sum of squares, then the weighted bf16 output. */
__global__ void k_rmsnorm(const float *in, const float *w, bf16 *out, int H, float eps)
{
	__shared__ float part[32];
	const float *x = in + (size_t)blockIdx.x * H;
	float s = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		s += x[i] * x[i];
	float r = rsqrtf(block_sum(s, part) / H + eps);
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		out[(size_t)blockIdx.x * H + i] = __float2bfloat16(w[i] * (x[i] * r));
}

struct rope_params {
	int type, head_dim, max_pos, orig_max_pos;
	double theta, factor, lo, hi;
};

__device__ double rope_freq(const rope_params &p, int i, int n)
{
	double dim = p.head_dim, base = p.theta;
	if (p.type == 2 /* dynamic */ && n > p.max_pos)
		base *= pow(p.factor * n / p.max_pos - (p.factor - 1), dim / (dim - 2));
	double f = 1.0 / pow(base, 2.0 * i / dim);
	if (p.type == 1)
		f /= p.factor;
	else if (p.type == 3) {
		double old = p.orig_max_pos, wl = 2 * M_PI / f;
		if (wl > old / p.lo)
			f /= p.factor;
		else if (wl >= old / p.hi) {
			double s = (old / wl - p.lo) / (p.hi - p.lo);
			f = (1 - s) * f / p.factor + s * f;
		}
	}
	return f;
}

/* cos and sin of each token's angles, once per batch (the layers share them), computed as the
 * CPU path does: the angle in double, then rounded to float. */
__global__ void k_rope_table(float2 *cs, const int *pos_of, const int *seq_of, const int *cu,
			     rope_params p)
{
	int t = blockIdx.x, half = p.head_dim / 2;
	int n = cu[seq_of[t] + 1] - cu[seq_of[t]], pos = pos_of[t];
	for (int i = threadIdx.x; i < half; i += blockDim.x) {
		double a = (double)pos * rope_freq(p, i, n);
		cs[(size_t)t * half + i] = make_float2((float)cos(a), (float)sin(a));
	}
}

/* In place on the packed qkv rows: the q, k and v biases added first when there are any
 * (qwen2; bias is the three stacked, NULL otherwise), then RoPE on the q and k parts. */
__global__ void k_rope(bf16 *qkv, const float2 *cs, const float *bias, int hd, int nh, int nkv)
{
	int t = blockIdx.x, half = hd / 2, width = (nh + 2 * nkv) * hd;
	for (int j = threadIdx.x; j < (nh + nkv) * half; j += blockDim.x) {
		int head = j / half, i = j % half;
		float2 r = cs[(size_t)t * half + i];
		bf16 *v = qkv + (size_t)t * width + head * hd;
		float x0 = __bfloat162float(v[i]), x1 = __bfloat162float(v[i + half]);
		if (bias)
			x0 += bias[head * hd + i], x1 += bias[head * hd + i + half];
		v[i] = __float2bfloat16(x0 * r.x - x1 * r.y);
		v[i + half] = __float2bfloat16(x1 * r.x + x0 * r.y);
	}
	for (int j = (nh + nkv) * hd + threadIdx.x; bias && j < width; j += blockDim.x) {
		bf16 *v = qkv + (size_t)t * width + j;
		*v = __float2bfloat16(__bfloat162float(*v) + bias[j]);
	}
}

/* The reference attention (CURATE_CUDA_ATTENTION=reference): scalar fp32, one thread per
 * query, keys and values streamed through shared memory with an online softmax. Slow; kept
 * as the plainest statement of the equations, to check the tensor-core kernel against. */
__global__ void k_attention_ref(const bf16 *qkv, bf16 *out, const int *cu, int nh, int nkv,
				int hd, float scale)
{
	extern __shared__ float kv[]; /* ATT_TK keys then ATT_TK values, hd floats each */
	int s = blockIdx.z, h = blockIdx.y, kvh = h / (nh / nkv);
	int start = cu[s], n = cu[s + 1] - start;
	int q0 = blockIdx.x * ATT_TQ;
	if (q0 >= n)
		return;
	int qi = q0 + threadIdx.x, width = (nh + 2 * nkv) * hd;
	bool live = qi < n;
	float q[HD_MAX], o[HD_MAX], m = -INFINITY, l = 0;
	for (int d = 0; d < hd; d++) {
		q[d] = live ? __bfloat162float(qkv[(size_t)(start + qi) * width + h * hd + d]) * scale : 0;
		o[d] = 0;
	}
	int kend = min(n, q0 + ATT_TQ); /* causal: no key beyond the block's last query */
	for (int k0 = 0; k0 < kend; k0 += ATT_TK) {
		__syncthreads();
		for (int e = threadIdx.x; e < ATT_TK * hd; e += blockDim.x) {
			int r = e / hd, d = e % hd, kj = k0 + r;
			size_t row = (size_t)(start + kj) * width;
			kv[e] = kj < n ? __bfloat162float(qkv[row + (nh + kvh) * hd + d]) : 0;
			kv[ATT_TK * hd + e] = kj < n ? __bfloat162float(qkv[row + (nh + nkv + kvh) * hd + d]) : 0;
		}
		__syncthreads();
		if (!live)
			continue;
		for (int r = 0; r < ATT_TK && k0 + r <= qi; r++) {
			float x = 0;
			for (int d = 0; d < hd; d++)
				x += q[d] * kv[r * hd + d];
			float mn = fmaxf(m, x), a = __expf(m - mn), b = __expf(x - mn);
			l = l * a + b;
			for (int d = 0; d < hd; d++)
				o[d] = o[d] * a + b * kv[ATT_TK * hd + r * hd + d];
			m = mn;
		}
	}
	if (live)
		for (int d = 0; d < hd; d++)
			out[(size_t)(start + qi) * nh * hd + h * hd + d] = __float2bfloat16(o[d] / l);
}

/* The tensor-core attention (flash.cuh) for scoring: no log-sum-exp kept */
template <int HD>
__global__ void __launch_bounds__(FA_WARPS * 32)
	k_flash(const bf16 *qkv, bf16 *out, const int *cu, int nh, int nkv, int hd_rt, float scale)
{
	extern __shared__ __align__(128) unsigned char fa_smem[];
	fa_forward<HD>(fa_smem, qkv, out, NULL, cu, nh, nkv, hd_rt, scale);
}

/* silu(gate) * up, gate and up side by side in each row: a block row per token, 8 values per
 * thread with 16-byte loads when the rows allow it. */
__global__ void k_swiglu(const bf16 *gu, bf16 *act, int F)
{
	int t = blockIdx.x, i = (blockIdx.y * blockDim.x + threadIdx.x) * 8;
	if (i >= F)
		return;
	const bf16 *g = gu + (size_t)t * 2 * F + i, *u = g + F;
	bf16 *o = act + (size_t)t * F + i;
	if (F % 8 == 0) {
		uint4 gv = *(const uint4 *)g, uv = *(const uint4 *)u, ov;
		const bf16 *gp = (const bf16 *)&gv, *up = (const bf16 *)&uv;
		bf16 *op = (bf16 *)&ov;
#pragma unroll
		for (int k = 0; k < 8; k++) {
			float x = __bfloat162float(gp[k]);
			op[k] = __float2bfloat16(x / (1.0f + __expf(-x)) * __bfloat162float(up[k]));
		}
		*(uint4 *)o = ov;
		return;
	}
	for (int k = 0; k < 8 && i + k < F; k++) {
		float x = __bfloat162float(g[k]);
		o[k] = __float2bfloat16(x / (1.0f + __expf(-x)) * __bfloat162float(u[k]));
	}
}

/* Final RMSNorm of each sequence's last token and the dot with each of the head's K rows
 * (score.weight, or the chosen rows of an LM head): scores[seq * K + k]. */
__global__ void k_head(const float *h, const int *last, const float *norm, const float *head,
		       float *scores, int H, int K, float eps)
{
	__shared__ float part[32];
	const float *x = h + (size_t)last[blockIdx.x] * H;
	float ss = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		ss += x[i] * x[i];
	float r = rsqrtf(block_sum(ss, part) / H + eps);
	for (int k = 0; k < K; k++) {
		const float *row = head + (size_t)k * H;
		float dot = 0;
		for (int i = threadIdx.x; i < H; i += blockDim.x)
			dot += norm[i] * (x[i] * r) * row[i];
		dot = block_sum(dot, part);
		if (threadIdx.x == 0)
			scores[(size_t)blockIdx.x * K + k] = dot;
	}
}

/* ---- cuBLASLt: Y[T][N] (+)= X[T][K] . W[N][K]^T, row-major, fp32 accumulation ----
 * Each of the four shapes of a layer gets one algorithm, chosen once for the largest batch
 * and with split-K off, and keeps it for every batch size: then a row's result does not
 * depend on which other sequences share its batch, so scores do not depend on the number of
 * ranks or the batch size. Where cuBLASLt refuses the pinned algorithm, it chooses per call. */

struct gemm_desc {
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t a, b, c;
};

static gemm_desc gemm_desc_new(int T, int N, int K, bool f32)
{
	gemm_desc d;
	cublasOperation_t tr = CUBLAS_OP_T, nt = CUBLAS_OP_N;
	LT_CHECK(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	LT_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &tr, sizeof tr));
	LT_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt));
	LT_CHECK(cublasLtMatrixLayoutCreate(&d.a, CUDA_R_16BF, K, N, K));
	LT_CHECK(cublasLtMatrixLayoutCreate(&d.b, CUDA_R_16BF, K, T, K));
	LT_CHECK(cublasLtMatrixLayoutCreate(&d.c, f32 ? CUDA_R_32F : CUDA_R_16BF, N, T, N));
	return d;
}

static void gemm_desc_free(gemm_desc &d)
{
	cublasLtMatrixLayoutDestroy(d.a), cublasLtMatrixLayoutDestroy(d.b);
	cublasLtMatrixLayoutDestroy(d.c), cublasLtMatmulDescDestroy(d.op);
}

static bool algo_fits(cuda_model *m, const cublasLtMatmulAlgo_t &algo, int T, int N, int K,
		      bool f32)
{
	gemm_desc d = gemm_desc_new(T, N, K, f32);
	cublasLtMatmulHeuristicResult_t r;
	bool ok = cublasLtMatmulAlgoCheck(m->lt, d.op, d.a, d.b, d.c, d.c, &algo, &r) ==
			  CUBLAS_STATUS_SUCCESS &&
		  r.workspaceSize <= m->workspace_size;
	gemm_desc_free(d);
	return ok;
}

static void gemm_plan_add(cuda_model *m, int N, int K, bool f32)
{
	gemm_plan p = {N, K, f32, false, {}};
	int T = (int)m->pack_tokens, count = 0;
	gemm_desc d = gemm_desc_new(T, N, K, f32);
	cublasLtMatmulPreference_t pref;
	LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
	LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
						      &m->workspace_size, sizeof m->workspace_size));
	cublasLtMatmulHeuristicResult_t r;
	if (cublasLtMatmulAlgoGetHeuristic(m->lt, d.op, d.a, d.b, d.c, d.c, pref, 1, &r, &count) ==
		    CUBLAS_STATUS_SUCCESS &&
	    count > 0) {
		p.algo = r.algo;
		int one = 1;
		p.pinned = cublasLtMatmulAlgoConfigSetAttribute(&p.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM,
								 &one, sizeof one) ==
				   CUBLAS_STATUS_SUCCESS &&
			   algo_fits(m, p.algo, T, N, K, f32) && algo_fits(m, p.algo, 1, N, K, f32);
	}
	cublasLtMatmulPreferenceDestroy(pref);
	gemm_desc_free(d);
	m->plans.push_back(p);
}

static void gemm(cuda_model *m, slot &sl, const bf16 *x, const bf16 *w, void *y, int T, int N,
		 int K, bool f32_out_accumulate)
{
	const cublasLtMatmulAlgo_t *algo = NULL;
	for (const gemm_plan &p : m->plans)
		if (p.N == N && p.K == K && p.f32 == f32_out_accumulate && p.pinned)
			algo = &p.algo;
	gemm_desc d = gemm_desc_new(T, N, K, f32_out_accumulate);
	float alpha = 1, beta = f32_out_accumulate ? 1 : 0;
	LT_CHECK(cublasLtMatmul(m->lt, d.op, &alpha, w, d.a, x, d.b, &beta, y, d.c, y, d.c, algo,
				sl.workspace, m->workspace_size, sl.st));
	gemm_desc_free(d);
}

/* ---- loading ---- */

/* Host fp32 rows to device bf16 (round to nearest even), several arrays stacked. */
static bf16 *upload_bf16(std::initializer_list<std::pair<const float *, size_t>> parts)
{
	size_t n = 0, off = 0;
	for (auto &p : parts)
		n += p.second;
	std::vector<bf16> h(n);
	for (auto &p : parts)
		for (size_t i = 0; i < p.second; i++)
			h[off++] = __float2bfloat16_rn(p.first[i]);
	bf16 *d;
	CUDA_CHECK(cudaMalloc(&d, n * 2));
	CUDA_CHECK(cudaMemcpy(d, h.data(), n * 2, cudaMemcpyHostToDevice));
	return d;
}

static float *upload_f32(const float *p, size_t n)
{
	float *d;
	CUDA_CHECK(cudaMalloc(&d, n * 4));
	CUDA_CHECK(cudaMemcpy(d, p, n * 4, cudaMemcpyHostToDevice));
	return d;
}

static void slot_init(cuda_model *m, slot &sl)
{
	const scorer_config &c = m->c;
	size_t T = m->pack_tokens, H = c.hidden, F = c.ffn, hd = c.head_dim;
	size_t qkvw = (c.heads + 2 * c.kv_heads) * hd;
	CUDA_CHECK(cudaStreamCreateWithFlags(&sl.st, cudaStreamNonBlocking));
	CUDA_CHECK(cudaEventCreateWithFlags(&sl.done, cudaEventDisableTiming));
	CUDA_CHECK(cudaMalloc(&sl.workspace, m->workspace_size));
	CUDA_CHECK(cudaMalloc(&sl.h, T * H * 4));
	CUDA_CHECK(cudaMalloc(&sl.x, T * H * 2));
	CUDA_CHECK(cudaMalloc(&sl.qkv, T * qkvw * 2));
	CUDA_CHECK(cudaMalloc(&sl.att, T * c.heads * hd * 2));
	CUDA_CHECK(cudaMalloc(&sl.gu, T * 2 * F * 2));
	CUDA_CHECK(cudaMalloc(&sl.act, T * F * 2));
	CUDA_CHECK(cudaMalloc(&sl.rope, T * (hd / 2) * sizeof(float2)));
	CUDA_CHECK(cudaMalloc(&sl.meta, (5 * T + 1) * 4));
	CUDA_CHECK(cudaMalloc(&sl.scores, T * c.outputs * 4));
	CUDA_CHECK(cudaMallocHost(&sl.host_meta, (5 * T + 1) * 4));
	CUDA_CHECK(cudaMallocHost(&sl.host_scores, T * c.outputs * 4));
	sl.busy = false;
}

static void slot_free(slot &sl)
{
	cudaFree(sl.workspace), cudaFree(sl.h), cudaFree(sl.x), cudaFree(sl.qkv), cudaFree(sl.att);
	cudaFree(sl.gu), cudaFree(sl.act), cudaFree(sl.rope), cudaFree(sl.meta), cudaFree(sl.scores);
	cudaFreeHost(sl.host_meta), cudaFreeHost(sl.host_scores);
	cudaEventDestroy(sl.done);
	cudaStreamDestroy(sl.st);
}

/* Which attention kernel: CURATE_CUDA_ATTENTION=reference (scalar), smem (tensor cores, the
 * output in shared memory) or auto (default: tensor cores with the output in registers for
 * head sizes 64 and 128, in shared memory for other multiples of 16, else the reference). The
 * tensor-core kernels also need their shared memory to fit. */
enum attn_kind { ATTN_REFERENCE, ATTN_SMEM, ATTN_REG64, ATTN_REG128 };
static const char *const attn_names[] = {"reference", "tensor-core (shared-memory output)",
					 "tensor-core (register output)",
					 "tensor-core (register output)"};

static attn_kind choose_attention(const scorer_config &c, const cudaDeviceProp &prop,
				  size_t *smem)
{
	const char *e = getenv("CURATE_CUDA_ATTENTION");
	*smem = fa_layout_of((int)c.head_dim).total;
	if ((e && !strcmp(e, "reference")) || c.head_dim % 16 || *smem > prop.sharedMemPerBlockOptin)
		return ATTN_REFERENCE;
	CUDA_CHECK(cudaFuncSetAttribute(k_flash<0>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					(int)*smem));
	CUDA_CHECK(cudaFuncSetAttribute(k_flash<64>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					(int)fa_layout_of(64).total));
	CUDA_CHECK(cudaFuncSetAttribute(k_flash<128>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					(int)fa_layout_of(128).total));
	if (e && !strcmp(e, "smem"))
		return ATTN_SMEM;
	return c.head_dim == 64 ? ATTN_REG64 : c.head_dim == 128 ? ATTN_REG128 : ATTN_SMEM;
}

extern "C" struct cuda_model *curate_cuda_model_new(const struct scorer_config *c,
						    const float *embed,
						    const struct scorer_layer *layers,
						    const float *norm, const float *head, int gpu,
						    size_t max_tokens, char *name, size_t namelen,
						    char *err, size_t errlen)
{
	if (c->head_dim > HD_MAX) {
		snprintf(err, errlen, "head_dim %lld exceeds the CUDA attention kernel's %d",
			 (long long)c->head_dim, HD_MAX);
		return NULL;
	}
	int count = 0;
	CUDA_CHECK(cudaGetDeviceCount(&count));
	cuda_model *m = new cuda_model();
	m->c = *c;
	m->dev = gpu % count;
	CUDA_CHECK(cudaSetDevice(m->dev));
	cudaDeviceProp prop;
	CUDA_CHECK(cudaGetDeviceProperties(&prop, m->dev));
	m->attn = choose_attention(*c, prop, &m->flash_smem);
	/* the reference kernel's tiles pass the default 48 KiB for head sizes over 192 */
	CUDA_CHECK(cudaFuncSetAttribute(k_attention_ref, cudaFuncAttributeMaxDynamicSharedMemorySize,
					(int)(2 * ATT_TK * HD_MAX * sizeof(float))));
	m->max_tokens = max_tokens;
	m->pack_tokens = std::max<size_t>(max_tokens, 16384);
	m->workspace_size = 32u << 20;
	LT_CHECK(cublasLtCreate(&m->lt));
	size_t H = c->hidden, F = c->ffn, q = c->heads * c->head_dim, kv = c->kv_heads * c->head_dim;
	m->embed = upload_bf16({{embed, (size_t)c->vocab * H}});
	m->norm = upload_f32(norm, H);
	m->head = upload_f32(head, c->outputs * H);
	for (long long l = 0; l < c->layers; l++) {
		const scorer_layer &W = layers[l];
		cuda_layer L;
		L.attn_norm = upload_f32(W.attn_norm, H);
		L.mlp_norm = upload_f32(W.mlp_norm, H);
		L.bqkv = NULL;
		if (c->qkv_bias) {
			std::vector<float> b(W.bq, W.bq + q);
			b.insert(b.end(), W.bk, W.bk + kv);
			b.insert(b.end(), W.bv, W.bv + kv);
			L.bqkv = upload_f32(b.data(), b.size());
		}
		L.wqkv = upload_bf16({{W.wq, q * H}, {W.wk, kv * H}, {W.wv, kv * H}});
		L.wo = upload_bf16({{W.wo, H * q}});
		L.wgu = upload_bf16({{W.wgate, F * H}, {W.wup, F * H}});
		L.wdown = upload_bf16({{W.wdown, H * F}});
		m->layers.push_back(L);
	}
	for (slot &sl : m->slots)
		slot_init(m, sl);
	int Q = (int)q, KV = (int)kv;
	gemm_plan_add(m, Q + 2 * KV, (int)H, false);
	gemm_plan_add(m, (int)H, Q, true);
	gemm_plan_add(m, 2 * (int)F, (int)H, false);
	gemm_plan_add(m, (int)H, (int)F, true);
	m->invariant = std::all_of(m->plans.begin(), m->plans.end(),
				   [](const gemm_plan &p) { return p.pinned; });
	snprintf(name, namelen, "cuda:%d (%s, %s attention, %s GEMMs)", m->dev, prop.name,
		 attn_names[m->attn],
		 m->invariant ? "pinned" : "per-call");
	return m;
}

extern "C" void curate_cuda_model_free(struct cuda_model *m)
{
	if (!m)
		return;
	cudaSetDevice(m->dev);
	cudaDeviceSynchronize();
	for (auto &L : m->layers) {
		cudaFree(L.attn_norm), cudaFree(L.mlp_norm), cudaFree(L.bqkv), cudaFree(L.wqkv);
		cudaFree(L.wo), cudaFree(L.wgu), cudaFree(L.wdown);
	}
	cudaFree(m->embed), cudaFree(m->norm), cudaFree(m->head);
	for (slot &sl : m->slots)
		slot_free(sl);
	cublasLtDestroy(m->lt);
	delete m;
}

/* ---- the forward pass of one packed batch, queued on its slot's stream ---- */

static void forward(cuda_model *m, slot &sl, int T, int nseq, int maxlen)
{
	const scorer_config &c = m->c;
	int H = (int)c.hidden, F = (int)c.ffn, hd = (int)c.head_dim, nh = (int)c.heads;
	int nkv = (int)c.kv_heads, qkvw = (nh + 2 * nkv) * hd;
	cudaStream_t st = sl.st;
	size_t meta = (size_t)3 * T + 2 * nseq + 1;
	CUDA_CHECK(cudaMemcpyAsync(sl.meta, sl.host_meta, meta * 4, cudaMemcpyHostToDevice, st));
	const int *ids = sl.meta, *seq_of = ids + T, *pos_of = seq_of + T, *cu = pos_of + T;
	const int *last = cu + nseq + 1;
	rope_params rp = {(int)c.rope_type, hd, (int)c.max_pos, (int)c.rope_orig_max_pos,
			  c.theta, c.rope_factor, c.low_freq_factor, c.high_freq_factor};
	float scale = 1.0f / sqrtf((float)hd);
	k_embed<<<T, 256, 0, st>>>(ids, m->embed, sl.h, H, T);
	k_rope_table<<<T, 64, 0, st>>>(sl.rope, pos_of, seq_of, cu, rp);
	for (auto &L : m->layers) {
		k_rmsnorm<<<T, 256, 0, st>>>(sl.h, L.attn_norm, sl.x, H, (float)c.eps);
		gemm(m, sl, sl.x, L.wqkv, sl.qkv, T, qkvw, H, false);
		k_rope<<<T, 128, 0, st>>>(sl.qkv, sl.rope, L.bqkv, hd, nh, nkv);
		dim3 grid((maxlen + FA_BQ - 1) / FA_BQ, nh, nseq), rgrid((maxlen + ATT_TQ - 1) / ATT_TQ, nh, nseq);
		const int FW = FA_WARPS * 32;
		switch (m->attn) {
		case ATTN_REG64:
			k_flash<64><<<grid, FW, m->flash_smem, st>>>(sl.qkv, sl.att, cu, nh, nkv, hd, scale);
			break;
		case ATTN_REG128:
			k_flash<128><<<grid, FW, m->flash_smem, st>>>(sl.qkv, sl.att, cu, nh, nkv, hd, scale);
			break;
		case ATTN_SMEM:
			k_flash<0><<<grid, FW, m->flash_smem, st>>>(sl.qkv, sl.att, cu, nh, nkv, hd, scale);
			break;
		default:
			k_attention_ref<<<rgrid, ATT_TQ, 2 * ATT_TK * hd * sizeof(float), st>>>(
				sl.qkv, sl.att, cu, nh, nkv, hd, scale);
		}
		gemm(m, sl, sl.att, L.wo, sl.h, T, H, nh * hd, true);
		k_rmsnorm<<<T, 256, 0, st>>>(sl.h, L.mlp_norm, sl.x, H, (float)c.eps);
		gemm(m, sl, sl.x, L.wgu, sl.gu, T, 2 * F, H, false);
		k_swiglu<<<dim3(T, (F / 8 + 256) / 256), 256, 0, st>>>(sl.gu, sl.act, F);
		gemm(m, sl, sl.act, L.wdown, sl.h, T, H, F, true);
	}
	int K = (int)c.outputs;
	k_head<<<nseq, 256, 0, st>>>(sl.h, last, m->norm, m->head, sl.scores, H, K, (float)c.eps);
	CUDA_CHECK(cudaGetLastError());
	CUDA_CHECK(cudaMemcpyAsync(sl.host_scores, sl.scores, (size_t)nseq * K * 4,
				   cudaMemcpyDeviceToHost, st));
	CUDA_CHECK(cudaEventRecord(sl.done, st));
	sl.busy = true;
}

/* Waits for the slot's batch and hands its K scores per sequence out; the slot's pinned
 * buffers are free after. */
static void collect(slot &sl, size_t K, float *out)
{
	if (!sl.busy)
		return;
	CUDA_CHECK(cudaEventSynchronize(sl.done));
	for (size_t i = 0; i < sl.members.size(); i++)
		std::copy(sl.host_scores + i * K, sl.host_scores + (i + 1) * K,
			  out + sl.members[i] * K);
	sl.members.clear();
	sl.busy = false;
}

extern "C" int curate_cuda_model_score(struct cuda_model *m, const uint32_t *const *ids,
				       const size_t *lens, size_t n, float *out, char *err,
				       size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (lens[i] > m->pack_tokens || lens[i] == 0) {
			snprintf(err, errlen, "sequence of %zu tokens (1 to %zu can be scored)",
				 lens[i], m->pack_tokens);
			return -1;
		}
	CUDA_CHECK(cudaSetDevice(m->dev));
	/* longest first, so a batch holds sequences of similar length */
	std::vector<size_t> order(n);
	std::iota(order.begin(), order.end(), 0);
	std::stable_sort(order.begin(), order.end(),
			 [&](size_t a, size_t b) { return lens[a] > lens[b]; });
	int next = 0;
	for (size_t k = 0; k < n;) {
		slot &sl = m->slots[next];
		next = (next + 1) % NSLOT;
		collect(sl, (size_t)m->c.outputs, out);
		/* pack the batch straight into the slot's pinned buffer: ids first, then the
		 * per-token sequence and position, then cu and last once the count is known */
		int T = 0, *h = sl.host_meta;
		size_t first = k;
		std::vector<int> cu{0};
		/* (a grid's z, one per sequence, stops at 65535) */
		while (k < n && (size_t)T + lens[order[k]] <= m->pack_tokens && k - first < 65535) {
			size_t i = order[k++];
			for (size_t t = 0; t < lens[i]; t++)
				h[T + t] = (int)ids[i][t];
			T += (int)lens[i];
			cu.push_back(T);
			sl.members.push_back(i);
		}
		int nseq = (int)(k - first), maxlen = (int)lens[order[first]];
		int *seq_of = h + T, *pos_of = seq_of + T, *hcu = pos_of + T, *last = hcu + nseq + 1;
		for (int s = 0; s < nseq; s++) {
			for (int t = cu[s]; t < cu[s + 1]; t++)
				seq_of[t] = s, pos_of[t] = t - cu[s];
			last[s] = cu[s + 1] - 1;
		}
		std::copy(cu.begin(), cu.end(), hcu);
		forward(m, sl, T, nseq, maxlen);
	}
	for (slot &sl : m->slots)
		collect(sl, (size_t)m->c.outputs, out);
	return 0;
}
