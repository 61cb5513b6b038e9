/* stl: the parts of libstdc++ whose exact behaviour shows in fastText's output, followed step
 * by step so that curate's models and predictions are fastText's to the bit: minstd_rand and
 * the distributions over it (initial weights, label and negative draws, quantizer samples),
 * std::shuffle (GCC 11 and later, Debian's fasttext among the programs built so), std::sort
 * (the vocabulary's and selectEmbeddings' orders among equal keys) and the heap algorithms
 * (the order of equal scores in predictions). docs/fasttext.md. */
#include <math.h>
#include <string.h>

#include "ft_internal.h"

/* std::minstd_rand, seeded with s converted to its 64-bit result type and reduced */
uint32_t ft_minstd_seed(int64_t s)
{
	uint32_t x = (uint32_t)((uint64_t)s % 2147483647u);
	return x ? x : 1;
}

uint32_t ft_minstd(uint32_t *s)
{
	*s = (uint32_t)((uint64_t)*s * 48271u % 2147483647u);
	return *s;
}

/* generate_canonical<double, 53>: two draws, (x1 - 1) + (x2 - 1) r over r^2 */
double ft_canonical(uint32_t *s)
{
	const double r = 2147483646.0;
	double sum = (double)(ft_minstd(s) - 1) + (double)(ft_minstd(s) - 1) * r;
	double v = sum / (r * r);
	return v >= 1.0 ? nextafter(1.0, 0.0) : v;
}

/* uniform_int_distribution(0, n - 1): the generator's range [1, 2^31 - 2] is cut to a
 * multiple of n and divided down; one draw at least, even when n is 1. */
uint64_t ft_uniform(uint32_t *s, uint64_t n)
{
	const uint64_t range = 2147483645u, scaling = range / n, past = n * scaling;
	uint64_t r;
	do
		r = ft_minstd(s) - 1u;
	while (r >= past);
	return r / scaling;
}

/* std::shuffle: when n * n fits the generator's range, positions come two at a time from one
 * draw over (i + 1)(i + 2) values, after a first single swap when n is even; otherwise one
 * uniform_int_distribution(0, i) draw per position. */
void ft_shuffle(int32_t *v, int32_t n, uint32_t *rng)
{
	const uint64_t range = 2147483645u; /* minstd_rand's max - min */
	int32_t t;
#define SWAP(i, j) (t = v[i], v[i] = v[j], v[j] = t)
	if (n < 2)
		return;
	if (range / (uint64_t)n >= (uint64_t)n) {
		int32_t i = 1;
		if (n % 2 == 0) {
			int32_t j = (int32_t)ft_uniform(rng, 2);
			SWAP(1, j);
			i = 2;
		}
		for (; i < n; i += 2) {
			uint64_t b = (uint64_t)i + 1, x = ft_uniform(rng, b * (b + 1));
			int32_t j1 = (int32_t)(x / (b + 1)), j2 = (int32_t)(x % (b + 1));
			SWAP(i, j1);
			SWAP(i + 1, j2);
		}
	} else {
		for (int32_t i = 1; i < n; i++) {
			int32_t j = (int32_t)ft_uniform(rng, (uint64_t)i + 1);
			SWAP(i, j);
		}
	}
#undef SWAP
}

/* The algorithms below move elements of `size` bytes (at most FT_STL_MAX) and compare with
 * less(a, b, ctx), C++'s comp(a, b). */
enum { FT_STL_MAX = 64 };
#define AT(i) (base + (size_t)(i) * size)

static void move(char *base, size_t size, long to, long from)
{
	memcpy(AT(to), AT(from), size);
}

/* __push_heap: x rises from the hole towards top while its parent is less */
static void push_hole(char *base, size_t size, ft_less less, const void *ctx, long hole, long top,
		      const void *x)
{
	long parent = (hole - 1) / 2;
	while (hole > top && less(AT(parent), x, ctx)) {
		move(base, size, hole, parent);
		hole = parent;
		parent = (hole - 1) / 2;
	}
	memcpy(AT(hole), x, size);
}

/* __adjust_heap: the hole sinks to a leaf along the greater child, then x rises */
static void adjust(char *base, size_t size, ft_less less, const void *ctx, long hole, long len,
		   const void *x)
{
	long top = hole, child = hole;
	while (child < (len - 1) / 2) {
		child = 2 * (child + 1);
		if (less(AT(child), AT(child - 1), ctx))
			child--;
		move(base, size, hole, child);
		hole = child;
	}
	if ((len & 1) == 0 && child == (len - 2) / 2) {
		child = 2 * (child + 1);
		move(base, size, hole, child - 1);
		hole = child - 1;
	}
	push_hole(base, size, less, ctx, hole, top, x);
}

void ft_push_heap(void *v, long n, size_t size, ft_less less, const void *ctx)
{
	char *base = v, x[FT_STL_MAX];
	memcpy(x, AT(n - 1), size);
	push_hole(base, size, less, ctx, n - 1, 0, x);
}

void ft_pop_heap(void *v, long n, size_t size, ft_less less, const void *ctx)
{
	char *base = v, x[FT_STL_MAX];
	if (n < 2)
		return;
	memcpy(x, AT(n - 1), size);
	move(base, size, n - 1, 0);
	adjust(base, size, less, ctx, 0, n - 1, x);
}

void ft_sort_heap(void *v, long n, size_t size, ft_less less, const void *ctx)
{
	for (long len = n; len > 1; len--)
		ft_pop_heap(v, len, size, less, ctx);
}

static void make_heap(char *base, long n, size_t size, ft_less less, const void *ctx)
{
	char x[FT_STL_MAX];
	for (long parent = (n - 2) / 2; n > 1 && parent >= 0; parent--) {
		memcpy(x, AT(parent), size);
		adjust(base, size, less, ctx, parent, n, x);
	}
}

static void swap(char *base, size_t size, long i, long j)
{
	char t[FT_STL_MAX];
	memcpy(t, AT(i), size);
	move(base, size, i, j);
	memcpy(AT(j), t, size);
}

/* __introsort_loop: median-of-three quicksort down to runs of 16, heapsort past a depth of
 * 2 floor(log2 n) */
static void introsort(char *base, size_t size, ft_less less, const void *ctx, long first,
		      long last, int depth)
{
	while (last - first > 16) {
		if (depth-- == 0) {
			make_heap(AT(first), last - first, size, less, ctx);
			ft_sort_heap(AT(first), last - first, size, less, ctx);
			return;
		}
		/* __move_median_to_first: the median of [first + 1], the middle, [last - 1] */
		long a = first + 1, b = first + (last - first) / 2, c = last - 1, m;
		if (less(AT(a), AT(b), ctx))
			m = less(AT(b), AT(c), ctx) ? b : less(AT(a), AT(c), ctx) ? c : a;
		else
			m = less(AT(a), AT(c), ctx) ? a : less(AT(b), AT(c), ctx) ? c : b;
		swap(base, size, first, m);
		long lo = first + 1, hi = last; /* __unguarded_partition around [first] */
		for (;;) {
			while (less(AT(lo), AT(first), ctx))
				lo++;
			hi--;
			while (less(AT(first), AT(hi), ctx))
				hi--;
			if (lo >= hi)
				break;
			swap(base, size, lo, hi);
			lo++;
		}
		introsort(base, size, less, ctx, lo, last, depth);
		last = lo;
	}
}

void ft_sort(void *v, long n, size_t size, ft_less less, const void *ctx)
{
	char *base = v, x[FT_STL_MAX];
	if (n < 2)
		return;
	introsort(base, size, less, ctx, 0, n, 2 * (63 - __builtin_clzl((unsigned long)n)));
	/* __final_insertion_sort: a guarded insertion over the first 16, unguarded after */
	for (long i = 1; i < n; i++) {
		long j = i;
		memcpy(x, AT(i), size);
		if (i < 16 && less(x, AT(0), ctx)) {
			memmove(AT(1), AT(0), (size_t)i * size);
			j = 0;
		} else {
			for (; less(x, AT(j - 1), ctx); j--)
				move(base, size, j, j - 1);
		}
		memcpy(AT(j), x, size);
	}
}
