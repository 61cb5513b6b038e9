/* cuda_emu: the runtime (device memory, streams, events, the device's properties), kernel
 * launches, and the scheduler that runs a block's threads as fibers.
 *
 * A grid runs one block at a time. The block's threads are fibers, run one after another in
 * index order (CURATE_CUDA_EMU_ORDER=reverse: the other way, blocks too; random: shuffled,
 * with warps held back, seeded by CURATE_CUDA_EMU_SEED), each until it reaches a barrier or
 * returns; a barrier lets its threads on only when every live thread it waits for has
 * arrived, so a missing barrier changes what a thread reads depending on the order.
 * Misuse (a barrier that could deadlock or that threads reach from different lines or
 * iterations, a mask without the caller, too much shared memory, a block larger than
 * __launch_bounds__, misaligned WMMA pointers, divergent WMMA) aborts naming the kernel.
 * Fibers switch with a few instructions on x86-64 (swapcontext makes a system call per
 * switch); elsewhere with ucontext. */
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "cuda_runtime.h"
#include "emu.h"
#include "mma.h"

#if defined(__x86_64__) && !defined(CUDA_EMU_UCONTEXT)
#define EMU_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#endif

#pragma GCC visibility push(hidden)

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

#ifdef EMU_ASM_SWITCH
/* saves the callee-saved registers on the current stack, stores the stack pointer in *save,
 * and continues on the stack `to` (one saved by this function, or a new fiber's) */
extern "C" void cuda_emu_switch(void **save, void *to);
asm(".text\n"
    ".p2align 4\n"
    ".globl cuda_emu_switch\n"
    ".hidden cuda_emu_switch\n"
    ".type cuda_emu_switch, @function\n"
    "cuda_emu_switch:\n"
    "\tpushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n"
    "\tmovq %rsp, (%rdi)\n"
    "\tmovq %rsi, %rsp\n"
    "\tpopq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n"
    "\tret\n"
    ".size cuda_emu_switch, .-cuda_emu_switch\n");
#endif

namespace cuda_emu {

enum { MAX_THREADS = 1024, DEFAULT_SMEM = 48 << 10, OPTIN_SMEM = 232448, CANARY = 64 };
#ifdef EMU_ASAN
static const size_t STACK = 1 << 20; /* ASan's redzones make frames larger */
#else
static const size_t STACK = 256 << 10;
#endif

enum tstate { T_NEW, T_READY, T_BLOCK, T_WARP, T_DONE };

struct thread {
	void *sp;
#ifndef EMU_ASM_SWITCH
	ucontext_t uc;
#endif
	char *stack; /* STACK bytes above a guard page */
	void *fake;  /* ASan's fake stack while switched out */
	uint3 idx;
	int lin, state, line;
	unsigned long long bars; /* __syncthreads passed */
	/* the warp operation it waits at */
	int op, arg, width;
	unsigned mask;
	unsigned long long val, result;
	unsigned long long wmma_ops;
};

static std::mutex mu; /* one launch at a time (the globals above are the running thread's) */
static std::vector<thread> pool;
static int nthreads;
static thread *cur;
int lane;
static const char *kname;
static bool in_kernel, order_read;
static enum { FORWARD, REVERSE, RANDOM } order;
static unsigned long long rng; /* CURATE_CUDA_EMU_SEED, for the random order */
static std::vector<int> perm;
static unsigned long long block_barriers; /* __syncthreads released */
static int delay[32];			  /* passes a warp holds back (random order) */

static unsigned long long next_random()
{
	unsigned long long z = (rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
#ifdef EMU_ASM_SWITCH
static void *sched_sp;
#else
static ucontext_t sched_uc;
#endif
#ifdef EMU_ASAN
static const void *main_bottom;
static size_t main_size;
#endif
static void (*body_fn)(void *);
static void *body_ctx;
static unsigned char *smem;

void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fflush(stdout);
	if (in_kernel && cur)
		fprintf(stderr, "cuda_emu: kernel %s, block (%u,%u,%u), thread (%u,%u,%u): ", kname,
			blockIdx.x, blockIdx.y, blockIdx.z, cur->idx.x, cur->idx.y, cur->idx.z);
	else if (in_kernel)
		fprintf(stderr, "cuda_emu: kernel %s, block (%u,%u,%u): ", kname, blockIdx.x,
			blockIdx.y, blockIdx.z);
	else
		fprintf(stderr, "cuda_emu: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* ---- fibers ---- */

static void to_scheduler(thread *t, bool done)
{
#ifdef EMU_ASAN
	__sanitizer_start_switch_fiber(done ? nullptr : &t->fake, main_bottom, main_size);
#endif
#ifdef EMU_ASM_SWITCH
	cuda_emu_switch(&t->sp, sched_sp);
#else
	swapcontext(&t->uc, &sched_uc);
#endif
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(t->fake, &main_bottom, &main_size);
#endif
}

/* a fiber's first frame: no ASan redzones, since it never returns and its stack is reused */
__attribute__((no_sanitize_address, noinline)) static void fiber_main()
{
	thread *t = cur;
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(nullptr, &main_bottom, &main_size);
#endif
	body_fn(body_ctx);
	t->state = T_DONE;
	to_scheduler(t, true);
	abort(); /* a finished fiber is never resumed */
}

static void resume(thread *t)
{
	if (!t->stack) {
		long page = sysconf(_SC_PAGESIZE);
		char *p = (char *)mmap(nullptr, STACK + page, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			fail("no memory for a thread's stack");
		mprotect(p, page, PROT_NONE); /* an overflow faults instead of corrupting */
		t->stack = p + page;
	}
	if (t->state == T_NEW) {
#ifdef EMU_ASM_SWITCH
		void **sp = (void **)(t->stack + STACK);
		*--sp = nullptr;	   /* fiber_main's return address: keeps the ABI's alignment */
		*--sp = (void *)fiber_main; /* where cuda_emu_switch returns to */
		for (int i = 0; i < 6; i++)
			*--sp = nullptr; /* rbp (0 ends frame-pointer unwinding), rbx, r12-r15 */
		t->sp = sp;
#else
		getcontext(&t->uc);
		t->uc.uc_stack.ss_sp = t->stack;
		t->uc.uc_stack.ss_size = STACK;
		t->uc.uc_link = nullptr;
		makecontext(&t->uc, fiber_main, 0);
#endif
	}
	t->state = T_READY;
	cur = t;
	threadIdx = t->idx;
	lane = t->lin & 31;
#ifdef EMU_ASAN
	void *fake = nullptr;
	__sanitizer_start_switch_fiber(&fake, t->stack, STACK);
#endif
#ifdef EMU_ASM_SWITCH
	cuda_emu_switch(&sched_sp, t->sp);
#else
	swapcontext(&sched_uc, &t->uc);
#endif
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
	cur = nullptr;
}

/* ---- barriers ---- */

static const char *op_name(int op)
{
	static const char *const names[] = {"__syncwarp", "__shfl_sync", "__shfl_up_sync",
					    "__shfl_down_sync", "__shfl_xor_sync", "a vote (__any_sync, __all_sync, __ballot_sync)",
					    "wmma::mma_sync"};
	return names[op];
}

void syncthreads(int line)
{
	thread *t = cur;
	if (!in_kernel || !t)
		fail("__syncthreads outside a kernel");
	t->state = T_BLOCK, t->line = line;
	to_scheduler(t, false);
}

unsigned long long warp_collective(int line, warp_op op, unsigned mask, unsigned long long v, int arg,
				   int width)
{
	thread *t = cur;
	if (!in_kernel || !t)
		fail("%s outside a kernel", op_name(op));
	int lane = t->lin & 31;
	if (!(mask >> lane & 1))
		fail("%s at line %d: the mask 0x%08x does not name the calling lane %d", op_name(op),
		     line, mask, lane);
	if (width < 1 || width > 32 || (width & (width - 1)))
		fail("%s at line %d: width %d is not a power of 2 up to 32", op_name(op), line, width);
	t->op = op, t->mask = mask, t->val = v, t->arg = arg, t->width = width, t->line = line;
	t->state = T_WARP;
	to_scheduler(t, false);
	return t->result;
}

/* what lane l reads in a shuffle (lane l itself where CUDA returns the caller's own value) */
static int shfl_source(const thread &t, int l)
{
	int w = t.width, seg = l & ~(w - 1), src = l;
	switch (t.op) {
	case OP_SHFL: src = seg + (t.arg & (w - 1)); break;
	case OP_SHFL_UP: src = l - t.arg >= seg ? l - t.arg : l; break;
	case OP_SHFL_DOWN: src = l + t.arg < seg + w ? l + t.arg : l; break;
	case OP_SHFL_XOR: src = l ^ t.arg; src = src >= 0 && src < seg + w ? src : l; break;
	}
	return src;
}

static void mma_warp(thread *w);

/* Lets every warp group whose lanes have all arrived (or returned) go on; false if none. */
static bool release_warps()
{
	bool any = false;
	for (int base = 0; base < nthreads; base += 32) {
		int cnt = std::min(32, nthreads - base);
		thread *w = &pool[base];
		unsigned waiting = 0, done = 0, exist = cnt == 32 ? ~0u : (1u << cnt) - 1;
		for (int l = 0; l < cnt; l++)
			waiting |= (unsigned)(w[l].state == T_WARP) << l,
				done |= (unsigned)(w[l].state == T_DONE) << l;
		unsigned todo = waiting;
		while (todo) {
			int l0 = __builtin_ctz(todo);
			const thread &a = w[l0];
			unsigned M = a.mask, group = M & waiting;
			todo &= ~group;
			if (M & ~exist)
				fail("%s at line %d in warp %d: the mask 0x%08x names lanes the block does not have",
				     op_name(a.op), a.line, base / 32, M);
			for (int l = 0; l < 32; l++)
				if (group >> l & 1 && (w[l].mask != M || w[l].op != a.op))
					fail("warp %d: lane %d is at %s (line %d, mask 0x%08x), lane %d at %s (line %d, mask 0x%08x): a warp's lanes must meet at the same operation with the same mask",
					     base / 32, l0, op_name(a.op), a.line, M, l, op_name(w[l].op),
					     w[l].line, w[l].mask);
			if ((group | (M & done)) != M)
				continue; /* some lane is still at __syncthreads */
			if (a.op == OP_MMA && group != M)
				fail("warp %d: wmma::mma_sync after some of its lanes returned", base / 32);
			if (a.op == OP_MMA)
				mma_warp(w);
			unsigned long long ballot = 0;
			if (a.op == OP_VOTE)
				for (int l = 0; l < 32; l++)
					if (group >> l & 1)
						ballot |= (unsigned long long)(w[l].val != 0) << l;
			for (int l = 0; l < 32; l++) {
				if (!(group >> l & 1))
					continue;
				thread &t = w[l];
				if (a.op == OP_VOTE)
					t.result = t.arg == 0 ? ballot : t.arg == 1 ? ballot != 0 : ballot == group;
				else if (a.op != OP_SYNCWARP) {
					int src = shfl_source(t, l);
					if (!(M >> src & 1))
						fail("%s at line %d: lane %d reads lane %d, which the mask 0x%08x does not name",
						     op_name(t.op), t.line, l, src, M);
					if (w[src].state == T_DONE)
						fail("%s at line %d: lane %d reads lane %d, which has returned",
						     op_name(t.op), t.line, l, src);
					t.result = w[src].val;
				}
			}
			for (int l = 0; l < 32; l++)
				if (group >> l & 1)
					w[l].state = T_READY;
			any = true;
		}
	}
	return any;
}

/* Every live thread waits somewhere and no warp group is complete: all at one __syncthreads
 * (then it opens), or a deadlock. */
static void release_block()
{
	const thread *first = nullptr;
	for (int i = 0; i < nthreads; i++) {
		const thread &t = pool[i];
		if (t.state == T_DONE)
			continue;
		if (t.state != T_BLOCK) {
			std::string s;
			for (int j = 0; j < nthreads; j++) {
				const thread &u = pool[j];
				char buf[160];
				snprintf(buf, sizeof buf, "\n  thread %d (warp %d lane %d): %s line %d", j,
					 j / 32, j % 32,
					 u.state == T_DONE	? "returned, "
					 : u.state == T_BLOCK ? "at __syncthreads,"
							      : op_name(u.op),
					 u.line);
				if (u.state != T_DONE && (j < 4 || j % 32 == 0 || (&u == &t)))
					s += buf;
			}
			cur = nullptr;
			fail("deadlock: thread %d waits at %s (line %d, mask 0x%08x), which lanes at __syncthreads or returned never reach; some threads:%s",
			     i, op_name(t.op), t.line, t.mask, s.c_str());
		}
		if (!first)
			first = &t;
		else if (t.line != first->line || t.bars != first->bars)
			fail("threads %d and %d meet at different __syncthreads (line %d, barrier %llu; line %d, barrier %llu): a divergent barrier",
			     first->lin, t.lin, first->line, first->bars, t.line, t.bars);
	}
	for (int i = 0; i < nthreads; i++)
		if (pool[i].state == T_BLOCK)
			pool[i].state = T_READY, pool[i].bars++;
	block_barriers++;
}

static void run_block()
{
	unsigned long long last_barriers = ~0ull;
	for (int i = 0; i < nthreads; i++) {
		thread &t = pool[i];
		t.state = T_NEW, t.lin = i, t.line = 0, t.bars = 0, t.wmma_ops = 0;
		t.idx = {i % blockDim.x, i / blockDim.x % blockDim.y, i / (blockDim.x * blockDim.y)};
	}
	for (;;) {
		/* a pass: every thread that can run runs until it waits or returns, in index
		 * order, the reverse, or (random) a shuffled order in which warps hold back:
		 * for up to 16 passes after the block starts or leaves a __syncthreads, and now
		 * and then for one pass, so that warps drift apart between block barriers */
		unsigned run_warps = ~0u;
		if (order == RANDOM) {
			for (int i = 0; i < nthreads; i++) {
				int j = (int)(next_random() % (unsigned long long)(i + 1));
				perm[i] = perm[j], perm[j] = i;
			}
			if (block_barriers != last_barriers)
				for (int w = 0; w < (nthreads + 31) / 32; w++)
					delay[w] = next_random() % 2 ? (int)(next_random() % 17) : 0;
			last_barriers = block_barriers;
			for (int w = 0; w < (nthreads + 31) / 32; w++)
				if (delay[w] > 0 || next_random() % 8 == 0)
					run_warps &= ~(1u << w), delay[w] -= delay[w] > 0;
		}
		int live = 0, ready = 0;
		for (int k = 0; k < nthreads; k++) {
			int i = order == FORWARD ? k : order == REVERSE ? nthreads - 1 - k : perm[k];
			thread &t = pool[i];
			if ((t.state == T_NEW || t.state == T_READY) && run_warps >> (i / 32 % 32) & 1)
				resume(&t);
			live += t.state != T_DONE;
			ready += t.state == T_NEW || t.state == T_READY;
		}
		if (!live)
			break;
		if (!release_warps() && !ready)
			release_block();
	}
	/* WMMA is warp-wide: every lane of a warp issues the same operations */
	for (int i = 0; i < nthreads; i++)
		if (pool[i].wmma_ops != pool[i & ~31].wmma_ops)
			fail("warp %d: lane %d did %llu WMMA operations, lane 0 %llu: WMMA must be executed by all lanes of a warp",
			     i / 32, i % 32, pool[i].wmma_ops, pool[i & ~31].wmma_ops);
}

/* ---- launches ---- */

static std::map<const void *, int> max_dyn_smem;
static std::set<const void *> streams, events;

static void read_order()
{
	if (order_read)
		return;
	order_read = true;
	const char *e = getenv("CURATE_CUDA_EMU_ORDER"), *seed = getenv("CURATE_CUDA_EMU_SEED");
	if (e && strcmp(e, "forward") && strcmp(e, "reverse") && strcmp(e, "random"))
		fail("CURATE_CUDA_EMU_ORDER=%s: forward, reverse or random", e);
	order = !e || !strcmp(e, "forward") ? FORWARD : !strcmp(e, "reverse") ? REVERSE : RANDOM;
	rng = seed ? strtoull(seed, nullptr, 0) : 1;
}

void launch_bounds(int max_threads, int, int)
{
	if (nthreads > max_threads)
		fail("%d threads per block, but __launch_bounds__ allows %d", nthreads, max_threads);
}

void *dynamic_smem() { return smem; }

cudaError_t func_set_attribute(const void *fn, cudaFuncAttribute attr, int value)
{
	std::lock_guard<std::mutex> lock(mu);
	if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
		if (value < 0 || value > OPTIN_SMEM)
			return cudaErrorInvalidValue;
		max_dyn_smem[fn] = value;
	}
	return cudaSuccess;
}

static void check_stream(cudaStream_t st, const char *what)
{
	if (st && !streams.count(st))
		fail("%s on stream %p, which is not a live stream", what, (void *)st);
}

void run_grid(const char *name, const void *fn, const config &c, void (*body)(void *), void *ctx)
{
	std::lock_guard<std::mutex> lock(mu);
	read_order();
	kname = name;
	check_stream(c.st, name);
	const dim3 &g = c.grid, &b = c.block;
	unsigned long long n = (unsigned long long)b.x * b.y * b.z;
	if (!n || n > MAX_THREADS || b.x > 1024 || b.y > 1024 || b.z > 64 || !g.x || !g.y || !g.z ||
	    g.x > 0x7fffffffu || g.y > 65535 || g.z > 65535)
		fail("kernel %s: invalid launch configuration: grid (%u,%u,%u), block (%u,%u,%u)", name,
		     g.x, g.y, g.z, b.x, b.y, b.z);
	auto it = max_dyn_smem.find(fn);
	size_t allowed = it == max_dyn_smem.end() ? DEFAULT_SMEM : it->second;
	if (c.smem > allowed)
		fail("kernel %s: %zu bytes of dynamic shared memory, but %zu are allowed (%s)", name,
		     c.smem, allowed,
		     it == max_dyn_smem.end() ? "the default; more needs cudaFuncSetAttribute"
					      : "cudaFuncSetAttribute");
	/* exact size under ASan, which then sees any access past it; else canaries around it */
#ifdef EMU_ASAN
	const size_t pad = 0;
#else
	const size_t pad = CANARY;
#endif
	unsigned char *raw = nullptr;
	if (posix_memalign((void **)&raw, 128, c.smem + 2 * pad ? c.smem + 2 * pad : 1))
		fail("no memory for %zu bytes of shared memory", c.smem);
	smem = raw + pad;
	if (pool.size() < n)
		pool.resize(n), perm.resize(n);
	nthreads = (int)n;
	blockDim = b, gridDim = g;
	body_fn = body, body_ctx = ctx;
	in_kernel = true;
	unsigned long long nb = (unsigned long long)g.x * g.y * g.z;
	std::vector<unsigned long long> blocks;
	if (order == RANDOM) {
		blocks.resize(nb);
		for (unsigned long long k = 0; k < nb; k++) {
			unsigned long long j = next_random() % (k + 1);
			blocks[k] = blocks[j], blocks[j] = k;
		}
	}
	for (unsigned long long k = 0; k < nb; k++) {
		unsigned long long i = order == FORWARD ? k : order == REVERSE ? nb - 1 - k : blocks[k];
		blockIdx = {(unsigned)(i % g.x), (unsigned)(i / g.x % g.y), (unsigned)(i / g.x / g.y)};
		/* shared memory starts as NaNs (0xff bytes): a read before any write shows */
		memset(raw, 0xa5, pad), memset(smem, 0xff, c.smem), memset(smem + c.smem, 0xa5, pad);
		run_block();
		for (size_t j = 0; j < pad; j++)
			if (raw[j] != 0xa5 || smem[c.smem + j] != 0xa5)
				fail("wrote outside its %zu bytes of dynamic shared memory", c.smem);
	}
	in_kernel = false;
	free(raw);
	smem = nullptr;
}

/* ---- WMMA ---- */

void wmma_count(const char *what)
{
	thread *t = cur;
	if (!in_kernel || !t)
		fail("wmma::%s outside a kernel", what);
	if ((t->lin | 31) >= nthreads)
		fail("wmma::%s in warp %d, which has only %d threads", what, t->lin / 32, nthreads & 31);
	t->wmma_ops++;
}

void wmma_access(const void *p, unsigned ldm, size_t elem, const char *what)
{
	if ((uintptr_t)p % 32)
		fail("wmma::%s: pointer %p is not 256-bit aligned", what, p);
	if (ldm * elem % 16)
		fail("wmma::%s: ldm %u (of %zu-byte elements) is not a multiple of 16 bytes", what, ldm, elem);
	wmma_count(what);
}

struct mma_args {
	float *d;
	const unsigned short *a, *b;
	const float *c;
	int M, N, K;
};

void mma_bf16(float *d, const unsigned short *a, const unsigned short *b, const float *c, int M,
	      int N, int K)
{
	mma_args x = {d, a, b, c, M, N, K};
	warp_collective(0, OP_MMA, 0xffffffffu, (uintptr_t)&x, 0, 32);
}

/* the warp's mma_sync: the lanes' parts of A, B and C together, D back to them */
static void mma_warp(thread *w)
{
	const mma_args &x0 = *(const mma_args *)w[0].val;
	int M = x0.M, N = x0.N, K = x0.K;
	float a[512], b[512], c[256], d[256];
	for (int l = 0; l < 32; l++) {
		const mma_args &x = *(const mma_args *)w[l].val;
		if (x.M != M || x.N != N || x.K != K)
			fail("warp %d: lanes 0 and %d at mma_sync with different shapes", w[0].lin / 32, l);
		for (int i = 0; i < M * K / 32; i++)
			a[l + 32 * i] = cuda_emu_bf2f(x.a[i]);
		for (int i = 0; i < K * N / 32; i++)
			b[l + 32 * i] = cuda_emu_bf2f(x.b[i]);
		for (int i = 0; i < M * N / 32; i++)
			c[l + 32 * i] = x.c[i];
	}
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			float s = c[i * N + j];
			for (int k = 0; k < K; k++)
				s += a[i * K + k] * b[k * N + j];
			d[i * N + j] = s;
		}
	for (int l = 0; l < 32; l++) {
		const mma_args &x = *(const mma_args *)w[l].val;
		for (int i = 0; i < M * N / 32; i++)
			x.d[i] = d[l + 32 * i];
	}
}

/* ---- memory ---- */

static std::map<uintptr_t, size_t> dev_mem, host_mem;
static size_t dev_used; /* bytes of dev_mem */

/* The emulated device's memory: CURATE_CUDA_EMU_MEM bytes (default 80 GiB, as
 * totalGlobalMem says), read at each call so that a test may change it between engines; a
 * cudaMalloc past it fails as on a full GPU. */
static size_t dev_capacity()
{
	const char *e = getenv("CURATE_CUDA_EMU_MEM");
	return e && *e ? (size_t)strtoull(e, nullptr, 10) : (size_t)80 << 30;
}

/* the allocation holding [p, p + n), if any */
static bool inside(const std::map<uintptr_t, size_t> &m, const void *p, size_t n)
{
	auto it = m.upper_bound((uintptr_t)p);
	if (it == m.begin())
		return false;
	--it;
	return (uintptr_t)p - it->first + n <= it->second;
}

bool device_range(const void *p, size_t n)
{
	std::lock_guard<std::mutex> lock(mu);
	return inside(dev_mem, p, n);
}

bool live_stream(cudaStream_t st)
{
	std::lock_guard<std::mutex> lock(mu);
	return !st || streams.count(st);
}

static int device_count()
{
	const char *e = getenv("CURATE_CUDA_EMU_DEVICES"); /* 0: as a machine without a GPU */
	return e ? atoi(e) : 1;
}

static int current_device;

} // namespace cuda_emu

using namespace cuda_emu;

const char *cudaGetErrorName(cudaError_t e)
{
	switch (e) {
	case cudaSuccess: return "cudaSuccess";
	case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
	case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
	case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
	case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
	case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
	case cudaErrorNoDevice: return "cudaErrorNoDevice";
	case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
	case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
	}
	return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e)
{
	switch (e) {
	case cudaSuccess: return "no error";
	case cudaErrorInvalidValue: return "invalid argument";
	case cudaErrorMemoryAllocation: return "out of memory";
	case cudaErrorInvalidConfiguration: return "invalid configuration argument";
	case cudaErrorInvalidDevicePointer: return "invalid device pointer";
	case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
	case cudaErrorNoDevice: return "no CUDA-capable device is detected";
	case cudaErrorInvalidDevice: return "invalid device ordinal";
	case cudaErrorInvalidResourceHandle: return "invalid resource handle";
	}
	return "unknown error";
}

/* launches abort on every error, so there is never one to report */
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaPeekAtLastError(void) { return cudaSuccess; }

cudaError_t cudaGetDeviceCount(int *n)
{
	*n = device_count();
	return *n > 0 ? cudaSuccess : cudaErrorNoDevice;
}

cudaError_t cudaSetDevice(int dev)
{
	if (dev < 0 || dev >= device_count())
		return cudaErrorInvalidDevice;
	current_device = dev;
	return cudaSuccess;
}

cudaError_t cudaGetDevice(int *dev)
{
	*dev = current_device;
	return cudaSuccess;
}

/* an H100 SXM's numbers */
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev)
{
	if (dev < 0 || dev >= device_count())
		return cudaErrorInvalidDevice;
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "curate CUDA emulator (CPU)");
	p->totalGlobalMem = dev_capacity();
	p->sharedMemPerBlock = DEFAULT_SMEM;
	p->sharedMemPerBlockOptin = OPTIN_SMEM;
	p->sharedMemPerMultiprocessor = 233472;
	p->regsPerBlock = 65536;
	p->warpSize = 32;
	p->maxThreadsPerBlock = MAX_THREADS;
	p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
	p->maxGridSize[0] = 0x7fffffff, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
	p->multiProcessorCount = 132;
	p->major = 9, p->minor = 0;
	p->maxThreadsPerMultiProcessor = 2048;
	p->l2CacheSize = 50 << 20;
	p->clockRate = 1980000, p->memoryClockRate = 2619000, p->memoryBusWidth = 5120;
	return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

/* Device memory is full of NaNs (0xff bytes), as a poison: reading what was never written
 * shows. Under ASan it is malloc'd with the exact size, so that ASan sees any access past it.
 * Otherwise it is a private mapping of a file of 0xff bytes, ending at a guard page (an
 * overrun of more than the 256-byte alignment faults), and pages that no kernel touches cost
 * nothing: the scorer's buffers are sized for its largest batch. */
#ifndef EMU_ASAN
static int poison_fd = -1;
static size_t poison_size;
static std::map<uintptr_t, std::pair<char *, size_t>> mappings; /* pointer: base, length */

static void *map_device(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), use = (n + 255) & ~(size_t)255;
	size_t len = (use + page - 1) / page * page;
	if (len == 0)
		len = page;
	if (poison_fd < 0 && (poison_fd = memfd_create("cuda_emu", MFD_CLOEXEC)) < 0)
		return nullptr;
	if (poison_size < len) {
		static char ff[1 << 16];
		memset(ff, 0xff, sizeof ff);
		if (ftruncate(poison_fd, (off_t)len))
			return nullptr;
		for (size_t o = poison_size; o < len; o += sizeof ff)
			if (pwrite(poison_fd, ff, std::min(sizeof ff, len - o), (off_t)o) < 0)
				return nullptr;
		poison_size = len;
	}
	char *base = (char *)mmap(nullptr, len + page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return nullptr;
	if (mmap(base, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, poison_fd, 0) == MAP_FAILED) {
		munmap(base, len + page);
		return nullptr;
	}
	char *p = base + len - use;
	mappings[(uintptr_t)p] = {base, len + page};
	return p;
}
#endif

cudaError_t cudaMalloc(void **p, size_t n)
{
	if (!p)
		return cudaErrorInvalidValue;
	std::lock_guard<std::mutex> lock(mu);
	if (dev_used > dev_capacity() || n > dev_capacity() - dev_used)
		return cudaErrorMemoryAllocation;
#ifdef EMU_ASAN
	void *q = nullptr;
	if (posix_memalign(&q, 256, n ? n : 1))
		return cudaErrorMemoryAllocation;
	memset(q, 0xff, n);
#else
	void *q = map_device(n);
	if (!q)
		return cudaErrorMemoryAllocation;
#endif
	dev_mem[(uintptr_t)q] = n;
	dev_used += n;
	*p = q;
	return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b)
{
	std::lock_guard<std::mutex> lock(mu);
	size_t cap = dev_capacity();
	*free_b = dev_used < cap ? cap - dev_used : 0, *total_b = cap;
	return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
	if (!p)
		return cudaSuccess;
	std::lock_guard<std::mutex> lock(mu);
	auto at = dev_mem.find((uintptr_t)p);
	if (at == dev_mem.end())
		fail("cudaFree(%p): not a pointer cudaMalloc returned, or freed twice", p);
	dev_used -= at->second;
	dev_mem.erase(at);
#ifdef EMU_ASAN
	free(p);
#else
	auto it = mappings.find((uintptr_t)p);
	munmap(it->second.first, it->second.second);
	mappings.erase(it);
#endif
	return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **p, size_t n, unsigned)
{
	if (!p)
		return cudaErrorInvalidValue;
	void *q = malloc(n ? n : 1);
	if (!q)
		return cudaErrorMemoryAllocation;
	std::lock_guard<std::mutex> lock(mu);
	host_mem[(uintptr_t)q] = n;
	*p = q;
	return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t n, unsigned flags) { return cudaHostAlloc(p, n, flags); }

cudaError_t cudaFreeHost(void *p)
{
	if (!p)
		return cudaSuccess;
	std::lock_guard<std::mutex> lock(mu);
	if (!host_mem.erase((uintptr_t)p))
		fail("cudaFreeHost(%p): not a pointer cudaMallocHost returned, or freed twice", p);
	free(p);
	return cudaSuccess;
}

/* the device side of a copy must lie inside one cudaMalloc allocation */
static cudaError_t copy(void *dst, const void *src, size_t n, cudaMemcpyKind kind, const char *what)
{
	bool dd = kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyHostToDevice;
	bool sd = kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyDeviceToHost;
	if (kind > cudaMemcpyDefault)
		return cudaErrorInvalidMemcpyDirection;
	if ((dd && !device_range(dst, n)) || (sd && !device_range(src, n))) {
		fprintf(stderr, "cuda_emu: %s(%p, %p, %zu, kind %d): the device side is not inside one cudaMalloc allocation\n",
			what, dst, src, n, (int)kind);
		return cudaErrorInvalidValue;
	}
	if (n)
		memmove(dst, src, n);
	return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind)
{
	return copy(dst, src, n, kind, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t st)
{
	if (!live_stream(st))
		return cudaErrorInvalidResourceHandle;
	return copy(dst, src, n, kind, "cudaMemcpyAsync");
}

cudaError_t cudaMemset(void *p, int v, size_t n)
{
	if (!device_range(p, n))
		return cudaErrorInvalidValue;
	memset(p, v, n);
	return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t st)
{
	if (!live_stream(st))
		return cudaErrorInvalidResourceHandle;
	return cudaMemset(p, v, n);
}

/* streams and events: handles only, everything happens at the call */
struct CUstream_st {
	int unused;
};
struct CUevent_st {
	int unused;
};

template <typename T> static cudaError_t handle_new(T **h, std::set<const void *> &live)
{
	*h = new T();
	std::lock_guard<std::mutex> lock(mu);
	live.insert(*h);
	return cudaSuccess;
}

template <typename T> static cudaError_t handle_delete(T *h, std::set<const void *> &live)
{
	std::lock_guard<std::mutex> lock(mu);
	if (!live.erase(h))
		return cudaErrorInvalidResourceHandle;
	delete h;
	return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned) { return handle_new(st, streams); }
cudaError_t cudaStreamCreate(cudaStream_t *st) { return handle_new(st, streams); }
cudaError_t cudaStreamDestroy(cudaStream_t st) { return handle_delete(st, streams); }

cudaError_t cudaStreamSynchronize(cudaStream_t st)
{
	return live_stream(st) ? cudaSuccess : cudaErrorInvalidResourceHandle;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *ev, unsigned) { return handle_new(ev, events); }
cudaError_t cudaEventCreate(cudaEvent_t *ev) { return handle_new(ev, events); }
cudaError_t cudaEventDestroy(cudaEvent_t ev) { return handle_delete(ev, events); }

static bool live_event(cudaEvent_t ev)
{
	std::lock_guard<std::mutex> lock(mu);
	return events.count(ev);
}

cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t st)
{
	return live_event(ev) && live_stream(st) ? cudaSuccess : cudaErrorInvalidResourceHandle;
}

cudaError_t cudaEventSynchronize(cudaEvent_t ev)
{
	return live_event(ev) ? cudaSuccess : cudaErrorInvalidResourceHandle;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t st, cudaEvent_t ev, unsigned)
{
	return live_event(ev) && live_stream(st) ? cudaSuccess : cudaErrorInvalidResourceHandle;
}

#pragma GCC visibility pop
