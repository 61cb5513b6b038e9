/* scorer_cuda: the scorer's GPU path. bf16 weights, cuBLASLt GEMMs with fp32 accumulation
 * (the residual stream stays fp32 and the o/down projections add into it through beta=1),
 * fused kernels for RMSNorm, RoPE, SwiGLU and the score head, and a flash-style attention
 * over variable-length packed sequences (online softmax, no padded n x n matrix). Sequences
 * are sorted by length and packed into batches of at most `pack_tokens` tokens.
 * Built into libcurate-cuda.so, which curate dlopens (scorer_cuda.h).
 * UNVERIFIED ON HARDWARE: written and compiled without a GPU; tests/e2e/scorer_cuda.sh
 * checks it against the CPU path where a GPU exists. */
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

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

/* CUDA failures inside the library abort with file:line, as the project's check macros do */
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

typedef __nv_bfloat16 bf16;

enum { ATT_TQ = 64, ATT_TK = 32, HD_MAX = 256 };

struct cuda_layer {
	float *attn_norm, *mlp_norm;
	bf16 *wqkv, *wo, *wgu, *wdown; /* q, k, v rows stacked; gate and up rows stacked */
};

struct cuda_model {
	struct scorer_config c;
	int dev;
	size_t max_tokens, pack_tokens;
	bf16 *embed;
	float *norm, *head;
	std::vector<cuda_layer> layers;
	cublasLtHandle_t lt;
	void *workspace;
	size_t workspace_size;
	cudaStream_t stream;
	/* activations for pack_tokens tokens */
	float *h, *scores;
	bf16 *x, *qkv, *att, *gu, *act;
	int *ids, *seq_of, *pos_of, *cu, *last;
};

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

/* One block per token: fp32 sum of squares, then the weighted bf16 output. */
__global__ void k_rmsnorm(const float *in, const float *w, bf16 *out, int H, float eps)
{
	__shared__ float part[32];
	const float *x = in + (size_t)blockIdx.x * H;
	float s = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		s += x[i] * x[i];
	for (int o = 16; o; o >>= 1)
		s += __shfl_xor_sync(0xffffffff, s, o);
	if ((threadIdx.x & 31) == 0)
		part[threadIdx.x >> 5] = s;
	__syncthreads();
	if (threadIdx.x < 32) {
		s = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0;
		for (int o = 16; o; o >>= 1)
			s += __shfl_xor_sync(0xffffffff, s, o);
		if (threadIdx.x == 0)
			part[0] = rsqrtf(s / H + eps);
	}
	__syncthreads();
	float r = part[0];
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

/* In place on the q and k parts of the packed qkv rows; positions restart per sequence. */
__global__ void k_rope(bf16 *qkv, const int *pos_of, const int *seq_of, const int *cu,
		       rope_params p, int nh, int nkv)
{
	int t = blockIdx.x, half = p.head_dim / 2, width = (nh + 2 * nkv) * p.head_dim;
	int n = cu[seq_of[t] + 1] - cu[seq_of[t]], pos = pos_of[t];
	for (int j = threadIdx.x; j < (nh + nkv) * half; j += blockDim.x) {
		int head = j / half, i = j % half;
		double a = (double)pos * rope_freq(p, i, n);
		float c = (float)cos(a), s = (float)sin(a);
		bf16 *v = qkv + (size_t)t * width + head * p.head_dim;
		float x0 = __bfloat162float(v[i]), x1 = __bfloat162float(v[i + half]);
		v[i] = __float2bfloat16(x0 * c - x1 * s);
		v[i + half] = __float2bfloat16(x1 * c + x0 * s);
	}
}

/* Flash-style causal attention over packed sequences: a block handles ATT_TQ queries of one
 * head of one sequence (one thread per query) and streams keys and values through shared
 * memory in tiles, keeping a running max and sum (online softmax). */
__global__ void k_attention(const bf16 *qkv, bf16 *out, const int *cu, int nseq, int nh,
			    int nkv, int hd, float scale)
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

/* silu(gate) * up, gate and up side by side in each row. */
__global__ void k_swiglu(const bf16 *gu, bf16 *act, int F, size_t total)
{
	for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total;
	     e += (size_t)gridDim.x * blockDim.x) {
		size_t t = e / F, i = e % F;
		float g = __bfloat162float(gu[t * 2 * F + i]), u = __bfloat162float(gu[t * 2 * F + F + i]);
		act[e] = __float2bfloat16(g / (1.0f + __expf(-g)) * u);
	}
}

/* Final RMSNorm of each sequence's last token and the dot with the score head. */
__global__ void k_head(const float *h, const int *last, const float *norm, const float *head,
		       float *scores, int H, float eps)
{
	__shared__ float part[32];
	const float *x = h + (size_t)last[blockIdx.x] * H;
	float ss = 0, dot = 0;
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		ss += x[i] * x[i];
	for (int o = 16; o; o >>= 1)
		ss += __shfl_xor_sync(0xffffffff, ss, o);
	if ((threadIdx.x & 31) == 0)
		part[threadIdx.x >> 5] = ss;
	__syncthreads();
	ss = 0;
	for (int w = 0; w < (int)(blockDim.x >> 5); w++)
		ss += part[w];
	float r = rsqrtf(ss / H + eps);
	__syncthreads();
	for (int i = threadIdx.x; i < H; i += blockDim.x)
		dot += norm[i] * (x[i] * r) * head[i];
	for (int o = 16; o; o >>= 1)
		dot += __shfl_xor_sync(0xffffffff, dot, o);
	if ((threadIdx.x & 31) == 0)
		part[threadIdx.x >> 5] = dot;
	__syncthreads();
	if (threadIdx.x == 0) {
		float s = 0;
		for (int w = 0; w < (int)(blockDim.x >> 5); w++)
			s += part[w];
		scores[blockIdx.x] = s;
	}
}

/* ---- cuBLASLt: Y[T][N] (+)= X[T][K] . W[N][K]^T, row-major, fp32 accumulation ---- */

static void gemm(cuda_model *m, const bf16 *x, const bf16 *w, void *y, int T, int N, int K,
		 bool f32_out_accumulate)
{
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t a, b, c;
	cublasOperation_t tr = CUBLAS_OP_T, nt = CUBLAS_OP_N;
	cudaDataType_t ct = f32_out_accumulate ? CUDA_R_32F : CUDA_R_16BF;
	LT_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &tr, sizeof tr));
	LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt));
	LT_CHECK(cublasLtMatrixLayoutCreate(&a, CUDA_R_16BF, K, N, K));
	LT_CHECK(cublasLtMatrixLayoutCreate(&b, CUDA_R_16BF, K, T, K));
	LT_CHECK(cublasLtMatrixLayoutCreate(&c, ct, N, T, N));
	float alpha = 1, beta = f32_out_accumulate ? 1 : 0;
	LT_CHECK(cublasLtMatmul(m->lt, op, &alpha, w, a, x, b, &beta, y, c, y, c, NULL,
				m->workspace, m->workspace_size, m->stream));
	cublasLtMatrixLayoutDestroy(a), cublasLtMatrixLayoutDestroy(b), cublasLtMatrixLayoutDestroy(c);
	cublasLtMatmulDescDestroy(op);
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
	snprintf(name, namelen, "cuda:%d (%s)", m->dev, prop.name);
	m->max_tokens = max_tokens;
	m->pack_tokens = std::max<size_t>(max_tokens, 16384);
	CUDA_CHECK(cudaStreamCreate(&m->stream));
	LT_CHECK(cublasLtCreate(&m->lt));
	m->workspace_size = 32u << 20;
	CUDA_CHECK(cudaMalloc(&m->workspace, m->workspace_size));
	size_t H = c->hidden, F = c->ffn, q = c->heads * c->head_dim, kv = c->kv_heads * c->head_dim;
	m->embed = upload_bf16({{embed, (size_t)c->vocab * H}});
	m->norm = upload_f32(norm, H);
	m->head = upload_f32(head, H);
	for (long long l = 0; l < c->layers; l++) {
		const scorer_layer &W = layers[l];
		cuda_layer L;
		L.attn_norm = upload_f32(W.attn_norm, H);
		L.mlp_norm = upload_f32(W.mlp_norm, H);
		L.wqkv = upload_bf16({{W.wq, q * H}, {W.wk, kv * H}, {W.wv, kv * H}});
		L.wo = upload_bf16({{W.wo, H * q}});
		L.wgu = upload_bf16({{W.wgate, F * H}, {W.wup, F * H}});
		L.wdown = upload_bf16({{W.wdown, H * F}});
		m->layers.push_back(L);
	}
	size_t T = m->pack_tokens, hd = c->head_dim;
	size_t qkvw = (c->heads + 2 * c->kv_heads) * hd;
	CUDA_CHECK(cudaMalloc(&m->h, T * H * 4));
	CUDA_CHECK(cudaMalloc(&m->x, T * H * 2));
	CUDA_CHECK(cudaMalloc(&m->qkv, T * qkvw * 2));
	CUDA_CHECK(cudaMalloc(&m->att, T * c->heads * hd * 2));
	CUDA_CHECK(cudaMalloc(&m->gu, T * 2 * F * 2));
	CUDA_CHECK(cudaMalloc(&m->act, T * F * 2));
	CUDA_CHECK(cudaMalloc(&m->ids, T * 4));
	CUDA_CHECK(cudaMalloc(&m->seq_of, T * 4));
	CUDA_CHECK(cudaMalloc(&m->pos_of, T * 4));
	CUDA_CHECK(cudaMalloc(&m->cu, (T + 1) * 4));
	CUDA_CHECK(cudaMalloc(&m->last, T * 4));
	CUDA_CHECK(cudaMalloc(&m->scores, T * 4));
	return m;
}

extern "C" void curate_cuda_model_free(struct cuda_model *m)
{
	if (!m)
		return;
	cudaSetDevice(m->dev);
	for (auto &L : m->layers) {
		cudaFree(L.attn_norm), cudaFree(L.mlp_norm), cudaFree(L.wqkv), cudaFree(L.wo);
		cudaFree(L.wgu), cudaFree(L.wdown);
	}
	cudaFree(m->embed), cudaFree(m->norm), cudaFree(m->head), cudaFree(m->workspace);
	cudaFree(m->h), cudaFree(m->x), cudaFree(m->qkv), cudaFree(m->att), cudaFree(m->gu);
	cudaFree(m->act), cudaFree(m->ids), cudaFree(m->seq_of), cudaFree(m->pos_of);
	cudaFree(m->cu), cudaFree(m->last), cudaFree(m->scores);
	cublasLtDestroy(m->lt);
	cudaStreamDestroy(m->stream);
	delete m;
}

/* ---- the forward pass of one packed batch ---- */

static void forward(cuda_model *m, const std::vector<int> &ids, const std::vector<int> &cu,
		    float *out)
{
	const scorer_config &c = m->c;
	int T = (int)ids.size(), nseq = (int)cu.size() - 1, H = (int)c.hidden, F = (int)c.ffn;
	int hd = (int)c.head_dim, nh = (int)c.heads, nkv = (int)c.kv_heads;
	std::vector<int> seq_of(T), pos_of(T), last(nseq);
	for (int s = 0; s < nseq; s++) {
		for (int t = cu[s]; t < cu[s + 1]; t++)
			seq_of[t] = s, pos_of[t] = t - cu[s];
		last[s] = cu[s + 1] - 1;
	}
	cudaStream_t st = m->stream;
	CUDA_CHECK(cudaMemcpyAsync(m->ids, ids.data(), T * 4, cudaMemcpyHostToDevice, st));
	CUDA_CHECK(cudaMemcpyAsync(m->seq_of, seq_of.data(), T * 4, cudaMemcpyHostToDevice, st));
	CUDA_CHECK(cudaMemcpyAsync(m->pos_of, pos_of.data(), T * 4, cudaMemcpyHostToDevice, st));
	CUDA_CHECK(cudaMemcpyAsync(m->cu, cu.data(), (nseq + 1) * 4, cudaMemcpyHostToDevice, st));
	CUDA_CHECK(cudaMemcpyAsync(m->last, last.data(), nseq * 4, cudaMemcpyHostToDevice, st));
	rope_params rp = {(int)c.rope_type, hd, (int)c.max_pos, (int)c.rope_orig_max_pos,
			  c.theta, c.rope_factor, c.low_freq_factor, c.high_freq_factor};
	int maxlen = 0;
	for (int s = 0; s < nseq; s++)
		maxlen = std::max(maxlen, cu[s + 1] - cu[s]);
	k_embed<<<T, 256, 0, st>>>(m->ids, m->embed, m->h, H, T);
	int qkvw = (nh + 2 * nkv) * hd;
	size_t smem = 2 * ATT_TK * hd * sizeof(float);
	for (auto &L : m->layers) {
		k_rmsnorm<<<T, 256, 0, st>>>(m->h, L.attn_norm, m->x, H, (float)c.eps);
		gemm(m, m->x, L.wqkv, m->qkv, T, qkvw, H, false);
		k_rope<<<T, 128, 0, st>>>(m->qkv, m->pos_of, m->seq_of, m->cu, rp, nh, nkv);
		dim3 grid((maxlen + ATT_TQ - 1) / ATT_TQ, nh, nseq);
		k_attention<<<grid, ATT_TQ, smem, st>>>(m->qkv, m->att, m->cu, nseq, nh, nkv, hd,
							1.0f / sqrtf((float)hd));
		gemm(m, m->att, L.wo, m->h, T, H, nh * hd, true);
		k_rmsnorm<<<T, 256, 0, st>>>(m->h, L.mlp_norm, m->x, H, (float)c.eps);
		gemm(m, m->x, L.wgu, m->gu, T, 2 * F, H, false);
		k_swiglu<<<1024, 256, 0, st>>>(m->gu, m->act, F, (size_t)T * F);
		gemm(m, m->act, L.wdown, m->h, T, H, F, true);
	}
	k_head<<<nseq, 256, 0, st>>>(m->h, m->last, m->norm, m->head, m->scores, H, (float)c.eps);
	CUDA_CHECK(cudaGetLastError());
	CUDA_CHECK(cudaMemcpyAsync(out, m->scores, nseq * 4, cudaMemcpyDeviceToHost, st));
	CUDA_CHECK(cudaStreamSynchronize(st));
}

extern "C" int curate_cuda_model_score(struct cuda_model *m, const uint32_t *const *ids,
				       const size_t *lens, size_t n, float *out, char *err,
				       size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (lens[i] > m->pack_tokens) {
			snprintf(err, errlen, "sequence of %zu tokens exceeds %zu", lens[i],
				 m->pack_tokens);
			return -1;
		}
	CUDA_CHECK(cudaSetDevice(m->dev));
	/* longest first, so a batch holds sequences of similar length */
	std::vector<size_t> order(n);
	std::iota(order.begin(), order.end(), 0);
	std::stable_sort(order.begin(), order.end(),
			 [&](size_t a, size_t b) { return lens[a] > lens[b]; });
	std::vector<int> batch_ids, cu{0};
	std::vector<size_t> members;
	std::vector<float> res;
	auto run = [&]() {
		if (members.empty())
			return;
		res.resize(members.size());
		forward(m, batch_ids, cu, res.data());
		for (size_t i = 0; i < members.size(); i++)
			out[members[i]] = res[i];
		batch_ids.clear(), cu.assign(1, 0), members.clear();
	};
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		if (batch_ids.size() + lens[i] > m->pack_tokens)
			run();
		batch_ids.insert(batch_ids.end(), ids[i], ids[i] + lens[i]);
		cu.push_back((int)batch_ids.size());
		members.push_back(i);
	}
	run();
	return 0;
}
