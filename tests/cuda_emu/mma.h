/* cuda_emu: nvcuda::wmma. A fragment is spread over the warp's lanes as on the hardware:
 * element e of the tile (row-major in its logical shape: A is M x K, B is K x N, the
 * accumulator M x N) belongs to lane e % 32, as x[e / 32], so num_elements is 8 for 16x16
 * tiles, as on sm_80. Loads and stores take ldm and the layout as the CUDA C Programming
 * Guide defines them (ldm: elements between consecutive rows for row-major, columns for
 * column-major; the pointer 256-bit aligned, ldm a multiple of 16 bytes), each lane its own
 * elements, and are not barriers: a lane reads memory when it runs, so a missing __syncwarp
 * before a load shows. mma_sync (mma.sync.aligned) is a warp collective, as it is on the
 * hardware: the lanes' parts meet, bf16 products and fp32 sums in k order (emu.cc). */
#ifndef CUDA_EMU_MMA_H
#define CUDA_EMU_MMA_H

#include "cuda_bf16.h"
#include "cuda_runtime.h"

#pragma GCC visibility push(hidden)
namespace cuda_emu {
extern int lane; /* of the running thread */
/* checks a fragment load or store (alignment, ldm, a whole warp) and counts it for the lane */
void wmma_access(const void *p, unsigned ldm, size_t elem, const char *what);
void wmma_count(const char *what);
/* d = a b + c over the warp: a M x K, b K x N, c and d M x N, each lane's part */
void mma_bf16(float *d, const unsigned short *a, const unsigned short *b, const float *c, int M,
	      int N, int K);
} // namespace cuda_emu
#pragma GCC visibility pop

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K> struct shape_of;
template <int M, int N, int K> struct shape_of<matrix_a, M, N, K> { enum { rows = M, cols = K }; };
template <int M, int N, int K> struct shape_of<matrix_b, M, N, K> { enum { rows = K, cols = N }; };
template <int M, int N, int K> struct shape_of<accumulator, M, N, K> { enum { rows = M, cols = N }; };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
public:
	enum { rows = shape_of<Use, M, N, K>::rows, cols = shape_of<Use, M, N, K>::cols };
	enum { num_elements = rows * cols / 32 };
	typedef T element_type;
	typedef T storage_element_type;
	T x[num_elements];
};

template <typename Use, int M, int N, int K, typename T, typename L>
inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, const T &v)
{
	cuda_emu::wmma_count("fill_fragment");
	for (int i = 0; i < f.num_elements; i++)
		f.x[i] = v;
}

/* where the lane's element i of a rows x cols tile lies, at stride ldm */
inline size_t wmma_at(int i, unsigned ldm, int cols, bool row)
{
	int e = cuda_emu::lane + 32 * i, r = e / cols, c = e % cols;
	return row ? (size_t)r * ldm + c : (size_t)c * ldm + r;
}
template <typename T>
inline void wmma_load(T *dst, const T *p, unsigned ldm, int rows, int cols, bool row)
{
	for (int i = 0; i < rows * cols / 32; i++)
		dst[i] = p[wmma_at(i, ldm, cols, row)];
}

template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, row_major> &f, const T *p, unsigned ldm)
{
	cuda_emu::wmma_access(p, ldm, sizeof(T), "load_matrix_sync");
	wmma_load(f.x, p, ldm, f.rows, f.cols, true);
}
template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, col_major> &f, const T *p, unsigned ldm)
{
	cuda_emu::wmma_access(p, ldm, sizeof(T), "load_matrix_sync");
	wmma_load(f.x, p, ldm, f.rows, f.cols, false);
}
template <int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T> &f, const T *p, unsigned ldm,
			     layout_t layout)
{
	cuda_emu::wmma_access(p, ldm, sizeof(T), "load_matrix_sync");
	wmma_load(f.x, p, ldm, f.rows, f.cols, layout == mem_row_major);
}
template <int M, int N, int K, typename T>
inline void store_matrix_sync(T *p, const fragment<accumulator, M, N, K, T> &f, unsigned ldm,
			      layout_t layout)
{
	cuda_emu::wmma_access(p, ldm, sizeof(T), "store_matrix_sync");
	for (int i = 0; i < f.num_elements; i++)
		p[wmma_at(i, ldm, f.cols, layout == mem_row_major)] = f.x[i];
}

template <int M, int N, int K, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, M, N, K, float> &d,
		     const fragment<matrix_a, M, N, K, __nv_bfloat16, LA> &a,
		     const fragment<matrix_b, M, N, K, __nv_bfloat16, LB> &b,
		     const fragment<accumulator, M, N, K, float> &c, bool satf = false)
{
	static_assert(K == 16 && M * N == 256 && (M == 16 || M == 32 || M == 8),
		      "bf16 WMMA shapes are 16x16x16, 32x8x16 and 8x32x16");
	cuda_emu::wmma_count("mma_sync");
	cuda_emu::mma_bf16(d.x, (const unsigned short *)a.x, (const unsigned short *)b.x, c.x, M, N, K);
	if (satf)
		for (float &v : d.x)
			v = std::isnan(v) ? 0.0f : std::isinf(v) ? std::copysign(3.40282347e38f, v) : v;
}
} // namespace wmma
} // namespace nvcuda

#endif
