/* cuda_emu: cublasLtMatmul as cuBLASLt documents it, not as the caller may expect it:
 * D = alpha op(A) op(B) + beta C, each matrix column-major (element (r, c) at r + c ld) with
 * the rows, columns and leading dimension of its layout; op(X) = X or X^T from TRANSA and
 * TRANSB; op(A) m x k, op(B) k x n, C and D m x n. fp32 products and sums (k in order),
 * alpha and beta fp32 from host pointers, C not read when beta is 0, D rounded to its type.
 * In place (C == D) needs equal C and D layouts; D may not overlap A or B, nor C elsewhere.
 * Shapes that do not fit, or types cuBLASLt has no kernel for, fail as cuBLASLt fails them;
 * a matrix that does not lie inside one cudaMalloc allocation aborts with a message. */
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cublasLt.h"
#include "cuda_bf16.h"
#include "emu.h"

#pragma GCC visibility push(hidden)

struct cuda_emu_lt {
	int unused;
};
struct cuda_emu_lt_desc {
	cublasComputeType_t compute;
	cudaDataType_t scale;
	int32_t ta, tb;
};
struct cuda_emu_lt_layout {
	cudaDataType type;
	uint64_t rows, cols;
	int64_t ld;
};
struct cuda_emu_lt_pref {
	uint64_t max_workspace;
	uint32_t align[4]; /* the least alignment of A, B, C and D in bytes (cuBLASLt's default 256) */
};

static const uint64_t ALGO_TAG = 0x63757261746545ull; /* data[0] of the one algorithm */

static size_t type_size(cudaDataType t) { return t == CUDA_R_32F ? 4 : 2; }
static const char *type_name(cudaDataType t)
{
	return t == CUDA_R_32F ? "fp32" : t == CUDA_R_16BF ? "bf16" : "fp16";
}

/* the shape of op(A) op(B): 0, or why cuBLASLt would refuse it */
static cublasStatus_t shape(cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a,
			    cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
			    cublasLtMatrixLayout_t d, uint64_t *m, uint64_t *n, uint64_t *k)
{
	if (!op || !a || !b || !c || !d)
		return CUBLAS_STATUS_INVALID_VALUE;
	if ((op->compute != CUBLAS_COMPUTE_32F && op->compute != CUBLAS_COMPUTE_32F_PEDANTIC) ||
	    op->scale != CUDA_R_32F)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	/* the type combinations cuBLASLt runs with fp32 compute and scale */
	bool types = a->type == b->type && c->type == d->type &&
		     (c->type == CUDA_R_32F || c->type == a->type);
	if (!types)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	*m = op->ta ? a->cols : a->rows, *k = op->ta ? a->rows : a->cols;
	uint64_t kb = op->tb ? b->cols : b->rows;
	*n = op->tb ? b->rows : b->cols;
	if (kb != *k || c->rows != *m || c->cols != *n || d->rows != *m || d->cols != *n)
		return CUBLAS_STATUS_INVALID_VALUE;
	for (cublasLtMatrixLayout_t l : {a, b, c, d})
		if (!l->rows || !l->cols || l->ld < (int64_t)l->rows)
			return CUBLAS_STATUS_INVALID_VALUE;
	return CUBLAS_STATUS_SUCCESS;
}

static size_t extent(cublasLtMatrixLayout_t l)
{
	return ((l->cols - 1) * (size_t)l->ld + l->rows) * type_size(l->type);
}

static bool overlap(const void *p, size_t n, const void *q, size_t m)
{
	return (const char *)p < (const char *)q + m && (const char *)q < (const char *)p + n;
}

static float load(const void *p, cudaDataType t, size_t i)
{
	if (t == CUDA_R_32F)
		return ((const float *)p)[i];
	return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
	*h = new cuda_emu_lt();
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t h)
{
	delete h;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute,
					cudaDataType_t scale)
{
	*d = new cuda_emu_lt_desc{compute, scale, CUBLAS_OP_N, CUBLAS_OP_N};
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
	delete d;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
					      cublasLtMatmulDescAttributes_t attr, const void *buf,
					      size_t size)
{
	if (size != 4)
		return CUBLAS_STATUS_INVALID_VALUE;
	int32_t v;
	memcpy(&v, buf, 4);
	switch (attr) {
	case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE: d->compute = (cublasComputeType_t)v; break;
	case CUBLASLT_MATMUL_DESC_SCALE_TYPE: d->scale = (cudaDataType_t)v; break;
	case CUBLASLT_MATMUL_DESC_TRANSA:
	case CUBLASLT_MATMUL_DESC_TRANSB:
		if (v != CUBLAS_OP_N && v != CUBLAS_OP_T && v != CUBLAS_OP_C)
			return CUBLAS_STATUS_INVALID_VALUE;
		(attr == CUBLASLT_MATMUL_DESC_TRANSA ? d->ta : d->tb) = v != CUBLAS_OP_N;
		break;
	case CUBLASLT_MATMUL_DESC_POINTER_MODE: /* only host pointers are emulated */
	case CUBLASLT_MATMUL_DESC_TRANSC:	/* only N is supported by cuBLASLt */
		return v == 0 ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
	case CUBLASLT_MATMUL_DESC_EPILOGUE: /* only the default (1) is emulated */
		return v == 1 ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
	default:
		fprintf(stderr, "cuda_emu: cublasLtMatmulDescSetAttribute: attribute %d is not emulated\n", (int)attr);
		return CUBLAS_STATUS_NOT_SUPPORTED;
	}
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type,
					  uint64_t rows, uint64_t cols, int64_t ld)
{
	if (type != CUDA_R_32F && type != CUDA_R_16BF) {
		fprintf(stderr, "cuda_emu: cublasLtMatrixLayoutCreate: type %d is not emulated\n", (int)type);
		return CUBLAS_STATUS_NOT_SUPPORTED;
	}
	*l = new cuda_emu_lt_layout{type, rows, cols, ld};
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l)
{
	delete l;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p)
{
	*p = new cuda_emu_lt_pref{0, {256, 256, 256, 256}};
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p)
{
	delete p;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
						    cublasLtMatmulPreferenceAttributes_t attr,
						    const void *buf, size_t size)
{
	if (attr >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES &&
	    attr <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES) { /* uint32_t */
		if (size != 4)
			return CUBLAS_STATUS_INVALID_VALUE;
		memcpy(&p->align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, 4);
		return CUBLAS_STATUS_SUCCESS;
	}
	if (attr != CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
		fprintf(stderr, "cuda_emu: cublasLtMatmulPreferenceSetAttribute: attribute %d is not emulated\n", (int)attr);
		return CUBLAS_STATUS_NOT_SUPPORTED;
	}
	if (size != 8)
		return CUBLAS_STATUS_INVALID_VALUE;
	memcpy(&p->max_workspace, buf, 8);
	return CUBLAS_STATUS_SUCCESS;
}

/* one algorithm for every shape; it needs no workspace; data[1] is its split-K count,
 * data[2..5] the alignments of A, B, C and D it was chosen for (as a real algorithm may use
 * vector loads that need them) */
static cublasLtMatmulAlgo_t the_algo(const uint32_t align[4])
{
	cublasLtMatmulAlgo_t a = {};
	a.data[0] = ALGO_TAG, a.data[1] = 1;
	for (int i = 0; i < 4; i++)
		a.data[2 + i] = align[i] ? align[i] : 1;
	return a;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t op,
					      cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
					      cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
					      cublasLtMatmulPreference_t pref, int requested,
					      cublasLtMatmulHeuristicResult_t results[], int *count)
{
	uint64_t m, n, k;
	if (!h || !pref || requested < 1 || !results || !count)
		return CUBLAS_STATUS_INVALID_VALUE;
	cublasStatus_t s = shape(op, a, b, c, d, &m, &n, &k);
	if (s != CUBLAS_STATUS_SUCCESS)
		return s;
	memset(&results[0], 0, sizeof results[0]);
	results[0].algo = the_algo(pref->align);
	results[0].workspaceSize = 0;
	results[0].state = CUBLAS_STATUS_SUCCESS;
	results[0].wavesCount = 1;
	*count = 1;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t h, cublasLtMatmulDesc_t op,
				       cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
				       cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
				       const cublasLtMatmulAlgo_t *algo,
				       cublasLtMatmulHeuristicResult_t *result)
{
	uint64_t m, n, k;
	if (!h || !algo || algo->data[0] != ALGO_TAG || !result)
		return CUBLAS_STATUS_INVALID_VALUE;
	cublasStatus_t s = shape(op, a, b, c, d, &m, &n, &k);
	if (s != CUBLAS_STATUS_SUCCESS)
		return s;
	memset(result, 0, sizeof *result);
	result->algo = *algo;
	result->state = CUBLAS_STATUS_SUCCESS;
	result->wavesCount = 1;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoConfigSetAttribute(cublasLtMatmulAlgo_t *algo,
						    cublasLtMatmulAlgoConfigAttributes_t attr,
						    const void *buf, size_t size)
{
	if (!algo || algo->data[0] != ALGO_TAG)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (attr != CUBLASLT_ALGO_CONFIG_SPLITK_NUM) {
		fprintf(stderr, "cuda_emu: cublasLtMatmulAlgoConfigSetAttribute: attribute %d is not emulated\n", (int)attr);
		return CUBLAS_STATUS_NOT_SUPPORTED;
	}
	int32_t v;
	if (size != 4)
		return CUBLAS_STATUS_INVALID_VALUE;
	memcpy(&v, buf, 4);
	if (v < 1)
		return CUBLAS_STATUS_INVALID_VALUE;
	algo->data[1] = (uint64_t)v;
	return CUBLAS_STATUS_SUCCESS;
}

/* out[i + j m] = a_i . b_j for rows i0..i0+3 of op(A) and columns j0, j0+1 of op(B), k
 * contiguous in both: eight partial sums over k, added in order, then the tail; the same
 * order for every element whatever the tile or the batch (and in both clones) */
typedef float v8 __attribute__((vector_size(32)));
__attribute__((target_clones("avx2", "default"))) static void
dots(const float *a, const float *b, uint64_t m, uint64_t n, uint64_t k, uint64_t i0, uint64_t j0,
     float *out)
{
	const float *x[4], *y[2];
	for (int r = 0; r < 4; r++)
		x[r] = a + std::min(i0 + r, m - 1) * k; /* past the edge: a row again, unused */
	for (int c = 0; c < 2; c++)
		y[c] = b + std::min(j0 + c, n - 1) * k;
	v8 acc[4][2] = {};
	uint64_t p = 0;
	for (; p + 8 <= k; p += 8) {
		v8 u[4], v[2];
		for (int r = 0; r < 4; r++)
			memcpy(&u[r], x[r] + p, 32);
		for (int c = 0; c < 2; c++)
			memcpy(&v[c], y[c] + p, 32);
		for (int r = 0; r < 4; r++)
			for (int c = 0; c < 2; c++)
				acc[r][c] += u[r] * v[c];
	}
	for (int r = 0; r < 4 && i0 + r < m; r++)
		for (int c = 0; c < 2 && j0 + c < n; c++) {
			float sum = 0;
			for (int l = 0; l < 8; l++)
				sum += acc[r][c][l];
			for (uint64_t q = p; q < k; q++)
				sum += x[r][q] * y[c][q];
			out[i0 + r + (j0 + c) * m] = sum;
		}
}

/* a matrix's memory must lie inside one allocation: a wrong leading dimension or shape
 * usually does not */
static void check_matrix(const char *name, const void *p, cublasLtMatrixLayout_t l)
{
	if (!cuda_emu::device_range(p, extent(l)))
		cuda_emu::fail("cublasLtMatmul: %s (%s, %llu x %llu column-major, ld %lld: %zu bytes) at %p is not inside one cudaMalloc allocation",
			       name, type_name(l->type), (unsigned long long)l->rows,
			       (unsigned long long)l->cols, (long long)l->ld, extent(l), p);
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t op, const void *alpha,
			      const void *A, cublasLtMatrixLayout_t Adesc, const void *B,
			      cublasLtMatrixLayout_t Bdesc, const void *beta, const void *C,
			      cublasLtMatrixLayout_t Cdesc, void *D, cublasLtMatrixLayout_t Ddesc,
			      const cublasLtMatmulAlgo_t *algo, void *workspace, size_t workspace_size,
			      cudaStream_t st)
{
	uint64_t m, n, k;
	if (!h || !alpha || !beta)
		return CUBLAS_STATUS_INVALID_VALUE;
	if (algo && algo->data[0] != ALGO_TAG)
		return CUBLAS_STATUS_INVALID_VALUE;
	cublasStatus_t s = shape(op, Adesc, Bdesc, Cdesc, Ddesc, &m, &n, &k);
	if (s != CUBLAS_STATUS_SUCCESS)
		return s;
	if (!cuda_emu::live_stream(st))
		cuda_emu::fail("cublasLtMatmul on stream %p, which is not a live stream", (void *)st);
	if (workspace_size && !cuda_emu::device_range(workspace, workspace_size))
		cuda_emu::fail("cublasLtMatmul: workspace %p of %zu bytes is not inside one cudaMalloc allocation",
			       workspace, workspace_size);
	float al, be;
	memcpy(&al, alpha, 4), memcpy(&be, beta, 4);
	check_matrix("A", A, Adesc), check_matrix("B", B, Bdesc), check_matrix("D", D, Ddesc);
	if (be != 0)
		check_matrix("C", C, Cdesc);
	const void *ptr[4] = {A, B, be != 0 ? C : nullptr, D};
	for (int i = 0; algo && i < 4; i++)
		if (ptr[i] && (uintptr_t)ptr[i] % algo->data[2 + i]) {
			fprintf(stderr, "cuda_emu: cublasLtMatmul: %c at %p is not %llu-byte aligned, as the algorithm's preference said\n",
				"ABCD"[i], ptr[i], (unsigned long long)algo->data[2 + i]);
			return CUBLAS_STATUS_NOT_SUPPORTED;
		}
	size_t nd = extent(Ddesc);
	if (overlap(D, nd, A, extent(Adesc)) || overlap(D, nd, B, extent(Bdesc)))
		cuda_emu::fail("cublasLtMatmul: D overlaps A or B");
	if (C == D && (Cdesc->type != Ddesc->type || Cdesc->ld != Ddesc->ld))
		return CUBLAS_STATUS_INVALID_VALUE; /* in place needs equal layouts */
	if (C != D && be != 0 && overlap(C, extent(Cdesc), D, nd))
		cuda_emu::fail("cublasLtMatmul: C and D overlap without being the same matrix");

	/* op(A) row by row and op(B) column by column, k contiguous, in fp32 */
	std::vector<float> a(m * k), b(n * k);
	for (uint64_t i = 0; i < m; i++)
		for (uint64_t p = 0; p < k; p++)
			a[i * k + p] = load(A, Adesc->type, op->ta ? p + i * Adesc->ld : i + p * Adesc->ld);
	for (uint64_t j = 0; j < n; j++)
		for (uint64_t p = 0; p < k; p++)
			b[j * k + p] = load(B, Bdesc->type, op->tb ? j + p * Bdesc->ld : p + j * Bdesc->ld);
	float *out = new float[m * n];
	for (uint64_t j = 0; j < n; j += 2)
		for (uint64_t i = 0; i < m; i += 4)
			dots(a.data(), b.data(), m, n, k, i, j, out);
	for (uint64_t j = 0; j < n; j++)
		for (uint64_t i = 0; i < m; i++) {
			size_t at = i + j * Ddesc->ld;
			float r = al * out[i + j * m];
			if (be != 0)
				r += be * load(C, Cdesc->type, i + j * Cdesc->ld);
			if (Ddesc->type == CUDA_R_32F)
				((float *)D)[at] = r;
			else
				((__nv_bfloat16 *)D)[at] = __float2bfloat16(r);
		}
	delete[] out;
	return CUBLAS_STATUS_SUCCESS;
}

#pragma GCC visibility pop
