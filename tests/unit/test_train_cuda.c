/* test_train_cuda: the CUDA training engine (scorer/train_cuda.cu) on the CUDA emulator
 * (libcurate-cuda-emu.so, tests/cuda_emu/; beside this binary's build folder, or at
 * $CURATE_TRAIN_CUDA_LIB) against the CPU engine (train_cpu.c), on tiny random models: GQA
 * with qwen2's biases at head size 16, MHA at 64 with dynamic RoPE, MQA at 16 with llama3
 * RoPE. Checked: predictions, every tensor's gradient and features() within the bf16
 * tolerance; AdamW on the same gradients as the CPU's to fp32 rounding; three training steps
 * within Adam's bound; recompute on and off to the bit; several packs against one within fp32
 * accumulation; the same bits with the emulator's threads and blocks in forward, reverse and
 * random order (each in a child process: the emulator reads its order once); grad_sq; errors.
 * Everything is seeded: no result depends on chance. docs/scorer-train-cuda.md. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train.h"
#include "util.h"

/* bf16 tolerance, relative to each tensor's largest |cpu| value: weights and activations in
 * bf16 (8 bits of mantissa) through two layers; measured worst 1.9e-2 (gradients), 1.1e-2
 * (predictions), 5e-3 (features); docs/scorer-train-cuda.md */
#define TOL_BF16 4e-2
#define TOL_FP32 1e-5 /* the same sums in another grouping */
#define LR 1e-3

struct shape {
	const char *name;
	int64_t vocab, hidden, layers, heads, kv_heads, head_dim, ffn, max_pos;
	bool bias;
	int rope; /* ROPE_NONE, ROPE_DYNAMIC, ROPE_LLAMA3 */
};

static const struct shape shapes[] = {
	{"gqa-hd16-qwen2", 97, 64, 2, 4, 2, 16, 80, 2048, true, ROPE_NONE},
	{"mha-hd64-dynamic", 64, 128, 2, 2, 2, 64, 96, 32, false, ROPE_DYNAMIC},
	{"mqa-hd16-llama3", 80, 64, 1, 4, 1, 16, 72, 64, false, ROPE_LLAMA3},
	{"gqa-hd128", 72, 256, 1, 4, 2, 128, 160, 256, false, ROPE_NONE}, /* the 1.3b preset's */
};

/* lengths across the attention's tiles of 16 keys and 64 queries */
static const size_t lens[] = {1, 7, 33, 64, 65, 90};
#define NSEQ ARRAY_LEN(lens)
#define MAX_TOKENS 96

static const struct train_engine_ops *cuda_ops;

struct model {
	struct scorer_config c;
	struct train_layout L;
	float *params;
	uint32_t *ids[NSEQ];
	float targets[NSEQ];
	struct train_batch b;
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
	return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
	double u1 = uniform(s), u2 = uniform(s);
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* weights as tests/parity/scorer_ref.py draws them (larger than HF's so every term matters) */
static void model_init(struct model *m, const struct shape *sh, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	struct scorer_config *c = &m->c;
	c->vocab = sh->vocab, c->hidden = sh->hidden, c->layers = sh->layers, c->heads = sh->heads;
	c->kv_heads = sh->kv_heads, c->head_dim = sh->head_dim, c->ffn = sh->ffn;
	c->max_pos = sh->max_pos, c->eps = 1e-5, c->theta = 10000, c->bos_id = -1, c->outputs = 1;
	c->rope_type = sh->rope, c->rope_factor = sh->rope == ROPE_DYNAMIC ? 2.0 : 8.0;
	c->low_freq_factor = 1, c->high_freq_factor = 4, c->rope_orig_max_pos = 32;
	c->arch = sh->bias ? ARCH_QWEN2 : ARCH_LLAMA, c->qkv_bias = sh->bias;
	train_layout_init(&m->L, c);
	m->params = xmalloc(m->L.total * sizeof(float));
	uint64_t s = seed;
	for (size_t k = 0; k < m->L.n; k++) {
		const struct train_param *p = &m->L.v[k];
		bool norm = strstr(p->name, "norm") != NULL, bias = strstr(p->name, "bias") != NULL;
		double sc = p->d1 && p->off != m->L.embed ? 1 / sqrt((double)p->d1) : 1;
		for (size_t i = 0; i < p->n; i++)
			m->params[p->off + i] = (float)(norm ? 1 + 0.1 * normal(&s)
						       : bias ? 0.5 * normal(&s)
							      : sc * normal(&s));
	}
	for (size_t i = 0; i < NSEQ; i++) {
		m->ids[i] = xmalloc(lens[i] * sizeof(uint32_t));
		for (size_t t = 0; t < lens[i]; t++)
			m->ids[i][t] = (uint32_t)(rng_next(&s) % (uint64_t)c->vocab);
		m->targets[i] = (float)uniform(&s);
	}
	m->b = (struct train_batch){(const uint32_t *const *)m->ids, lens, m->targets, NSEQ};
}

static void model_release(struct model *m)
{
	for (size_t i = 0; i < NSEQ; i++)
		free(m->ids[i]);
	free(m->params);
	train_layout_release(&m->L);
}

static char last_desc[160]; /* what the last engine() said it runs on */

static struct train_engine *engine(const struct train_engine_ops *ops, const struct model *m,
				   size_t micro, int recompute)
{
	struct train_engine_opts o = {2, 0, MAX_TOKENS, micro, recompute};
	char err[256] = "";
	struct train_engine *e = ops->create(&m->c, &m->L, m->params, &o, last_desc,
					     sizeof last_desc, err, sizeof err);
	if (!e)
		fail_msg("%s create: %s", ops->name, err);
	return e;
}

static void accumulate(const struct train_engine_ops *ops, struct train_engine *e,
		       const struct model *m, float *preds)
{
	char err[256] = "";
	if (ops->accumulate(e, &m->b, 1.0f / NSEQ, preds, err, sizeof err))
		fail_msg("%s accumulate: %s", ops->name, err);
}

static float *grads(const struct train_engine_ops *ops, struct train_engine *e,
		    const struct model *m)
{
	float *g = xmalloc(m->L.total * sizeof(float));
	char err[256];
	assert_int_equal(ops->get_grads(e, g, err, sizeof err), 0);
	return g;
}

/* The worst over the tensors of max |a - b| / max |b|; names the worst tensor in *worst. */
static double tensor_err(const struct model *m, const float *a, const float *b, const char **worst)
{
	double w = 0;
	for (size_t k = 0; k < m->L.n; k++) {
		const struct train_param *p = &m->L.v[k];
		double d = 0, ref = 1e-30;
		for (size_t i = 0; i < p->n; i++) {
			d = fmax(d, fabs((double)a[p->off + i] - b[p->off + i]));
			ref = fmax(ref, fabs((double)b[p->off + i]));
		}
		if (!(d / ref <= w)) /* (a NaN is the worst) */
			w = d / ref, *worst = p->name;
	}
	return w;
}

/* the largest |a - b| relative to max(|b|, 1) */
static double value_err(const float *a, const float *b, size_t n)
{
	double w = 0;
	for (size_t i = 0; i < n; i++) {
		double r = fabs((double)a[i] - b[i]) / fmax(fabs((double)b[i]), 1);
		w = r <= w ? w : r;
	}
	return w;
}

static void check(double err, double tol, const char *shape, const char *what, const char *where)
{
	printf("%-18s %-28s %.2e%s%s\n", shape, what, err, where ? " at " : "", where ? where : "");
	if (!(err <= tol))
		fail_msg("%s: %s: error %.3e > %.1e%s%s", shape, what, err, tol, where ? " at " : "",
			 where ? where : "");
}

/* ---- thread order: every result to the bit in forward, reverse and random order ---- */

/* What the order check compares: predictions and the gradient of two packs, grad_sq, the
 * weights after a step, the predictions after it, features; appended to out. */
static void scenario(const struct model *m, float **out, size_t *n)
{
	size_t total = m->L.total, H = (size_t)m->c.hidden;
	*n = 3 * NSEQ + 2 * total + NSEQ * H + 2;
	float *o = *out = xcalloc(*n, sizeof(float));
	struct train_engine *e = engine(cuda_ops, m, 100, 0);
	char err[256];
	accumulate(cuda_ops, e, m, o);
	assert_int_equal(cuda_ops->get_grads(e, o + NSEQ, err, sizeof err), 0);
	double sq = cuda_ops->grad_sq(e);
	memcpy(o + NSEQ + total, &sq, sizeof sq);
	struct adamw_step s = {LR, 0.9, 0.999, 1e-8, 0.1, 1, 1};
	assert_int_equal(cuda_ops->step(e, &s, err, sizeof err), 0);
	assert_int_equal(cuda_ops->get_state(e, o + NSEQ + total + 2, NULL, NULL, err, sizeof err), 0);
	accumulate(cuda_ops, e, m, o + NSEQ + 2 * total + 2);
	assert_int_equal(cuda_ops->features(e, (const uint32_t *const *)m->ids, lens, NSEQ,
					    o + 2 * NSEQ + 2 * total + 2, err, sizeof err), 0);
	cuda_ops->destroy(e);
}

/* runs scenario() in a child with CURATE_CUDA_EMU_ORDER=order (the emulator reads it at its
 * first launch, so this process must not have launched anything yet) */
static float *scenario_in_child(const char *order, const struct model *m, size_t *n)
{
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		setenv("CURATE_CUDA_EMU_ORDER", order, 1);
		setenv("CURATE_CUDA_EMU_SEED", "7", 1);
		float *out;
		size_t k;
		scenario(m, &out, &k);
		ssize_t w = write(fd[1], out, k * sizeof(float));
		_exit(w == (ssize_t)(k * sizeof(float)) ? 0 : 1);
	}
	close(fd[1]);
	size_t cap = 1 << 20, got = 0;
	char *buf = xmalloc(cap);
	for (ssize_t r; (r = read(fd[0], buf + got, cap - got)) > 0;)
		if ((got += (size_t)r) == cap)
			buf = xrealloc(buf, cap *= 2);
	close(fd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("the %s-order child failed (status %d)", order, st);
	*n = got / sizeof(float);
	return (float *)buf;
}

static void thread_order_changes_no_bit(void **state)
{
	static const size_t which[] = {0, 1}; /* head sizes 16 and 64 (128 runs the same template) */
	for (size_t w = 0; w < ARRAY_LEN(which); w++) {
		size_t k = which[w];
		struct model m;
		model_init(&m, &shapes[k], 11 + k);
		size_t nf, nr, nx;
		float *f = scenario_in_child("forward", &m, &nf);
		float *r = scenario_in_child("reverse", &m, &nr);
		float *x = scenario_in_child("random", &m, &nx);
		assert_true(nf > 0 && nf == nr && nf == nx);
		for (size_t i = 0; i < nf; i++)
			assert_false(isnan(f[i]));
		assert_memory_equal(f, r, nf * sizeof(float));
		assert_memory_equal(f, x, nf * sizeof(float));
		printf("%-18s forward, reverse, random thread order: the same %zu values\n",
		       shapes[k].name, nf);
		free(f), free(r), free(x);
		model_release(&m);
	}
}

/* recompute -1 (auto): every layer's activations kept where the device has room for them and
 * 2 GiB more, else recomputed; the emulator's memory is CURATE_CUDA_EMU_MEM bytes. The
 * results are the same bits either way (recompute_changes_no_bit). */
static void recompute_auto_by_memory(void **state)
{
	struct model m;
	model_init(&m, &shapes[1], 81);
	struct train_engine *e = engine(cuda_ops, &m, 0, -1);
	if (!strstr(last_desc, "emulator")) { /* a real GPU (scripts/gpu/run.sh): its own memory */
		cuda_ops->destroy(e);
		model_release(&m);
		skip();
	}
	assert_null(strstr(last_desc, "recomputation")); /* 80 GiB */
	cuda_ops->destroy(e);
	setenv("CURATE_CUDA_EMU_MEM", "2147483648", 1); /* 2 GiB: no room beside the headroom */
	e = engine(cuda_ops, &m, 0, -1);
	assert_non_null(strstr(last_desc, "recomputation"));
	printf("%-18s recompute auto: off at 80 GiB, on at 2 GiB (%s)\n", shapes[1].name, last_desc);
	cuda_ops->destroy(e);
	setenv("CURATE_CUDA_EMU_MEM", "100000000", 1); /* too little even to recompute */
	struct train_engine_opts o = {2, 0, MAX_TOKENS, 0, -1};
	char err[256] = "";
	assert_null(cuda_ops->create(&m.c, &m.L, m.params, &o, last_desc, sizeof last_desc, err,
				     sizeof err));
	assert_non_null(strstr(err, "out of device memory"));
	unsetenv("CURATE_CUDA_EMU_MEM");
	model_release(&m);
}

/* ---- against the CPU engine ---- */

static void gradients_match_cpu(void **state)
{
	for (size_t k = 0; k < ARRAY_LEN(shapes); k++) {
		struct model m;
		model_init(&m, &shapes[k], 21 + k);
		const char *name = shapes[k].name, *where = NULL;
		struct train_engine *cpu = engine(&train_cpu_ops, &m, 0, 0);
		struct train_engine *gpu = engine(cuda_ops, &m, 0, 0);
		float pc[NSEQ], pg[NSEQ];
		accumulate(&train_cpu_ops, cpu, &m, pc);
		accumulate(cuda_ops, gpu, &m, pg);
		check(value_err(pg, pc, NSEQ), TOL_BF16, name, "predictions", NULL);
		float *gc = grads(&train_cpu_ops, cpu, &m), *gg = grads(cuda_ops, gpu, &m);
		check(tensor_err(&m, gg, gc, &where), TOL_BF16, name, "gradients (worst tensor)", where);
		size_t H = (size_t)m.c.hidden;
		float *fc = xmalloc(NSEQ * H * 4), *fg = xmalloc(NSEQ * H * 4);
		char err[256];
		assert_int_equal(train_cpu_ops.features(cpu, (const uint32_t *const *)m.ids, lens, NSEQ,
							fc, err, sizeof err), 0);
		assert_int_equal(cuda_ops->features(gpu, (const uint32_t *const *)m.ids, lens, NSEQ, fg,
						    err, sizeof err), 0);
		double fw = 0, fmaxv = 0;
		for (size_t i = 0; i < NSEQ * H; i++)
			fw = fmax(fw, fabs((double)fg[i] - fc[i])), fmaxv = fmax(fmaxv, fabs((double)fc[i]));
		check(fw / fmaxv, TOL_BF16, name, "features", NULL);
		/* grad_sq: the sum of squares of what get_grads gives, in some order */
		double sq = 0, got = cuda_ops->grad_sq(gpu);
		for (size_t i = 0; i < m.L.total; i++)
			sq += (double)gg[i] * gg[i];
		check(fabs(got - sq) / sq, 1e-12, name, "grad_sq", NULL);
		assert_true(cuda_ops->grad_sq(gpu) == got);
		free(fc), free(fg), free(gc), free(gg);
		train_cpu_ops.destroy(cpu), cuda_ops->destroy(gpu);
		model_release(&m);
	}
}

/* The tensor-core attention (the default for head sizes 16, 32, 64 and 128) against the
 * scalar kernels (CURATE_CUDA_ATTENTION=reference): the same predictions and gradients within
 * the bf16 tolerance; each engine says which it runs. */
static void tensor_cores_match_scalar(void **state)
{
	for (size_t k = 0; k < ARRAY_LEN(shapes); k++) {
		struct model m;
		model_init(&m, &shapes[k], 41 + k);
		const char *name = shapes[k].name, *where = NULL;
		setenv("CURATE_CUDA_ATTENTION", "reference", 1);
		struct train_engine *ref = engine(cuda_ops, &m, 0, 0);
		assert_non_null(strstr(last_desc, "scalar attention"));
		unsetenv("CURATE_CUDA_ATTENTION");
		struct train_engine *tc = engine(cuda_ops, &m, 0, 0);
		assert_non_null(strstr(last_desc, "tensor-core attention"));
		float pr[NSEQ], pt[NSEQ];
		accumulate(cuda_ops, ref, &m, pr);
		accumulate(cuda_ops, tc, &m, pt);
		check(value_err(pt, pr, NSEQ), TOL_BF16, name, "tensor cores: predictions", NULL);
		float *gr = grads(cuda_ops, ref, &m), *gt = grads(cuda_ops, tc, &m);
		check(tensor_err(&m, gt, gr, &where), TOL_BF16, name, "tensor cores: gradients", where);
		free(gr), free(gt);
		cuda_ops->destroy(ref), cuda_ops->destroy(tc);
		model_release(&m);
	}
}

/* The same gradients into both engines: AdamW's weights and moments to fp32 rounding. */
static void adamw_matches_cpu(void **state)
{
	struct model m;
	model_init(&m, &shapes[0], 31);
	struct train_engine *cpu = engine(&train_cpu_ops, &m, 0, 0), *gpu = engine(cuda_ops, &m, 0, 0);
	size_t n = m.L.total;
	float *g = xmalloc(n * 4), *w[2], *mo[2], *v[2];
	uint64_t s = 5;
	char err[256];
	for (int t = 1; t <= 3; t++) {
		for (size_t i = 0; i < n; i++)
			g[i] = (float)(1e-2 * normal(&s));
		struct adamw_step st = {LR, 0.9, 0.95, 1e-8, 0.1, t == 2 ? 0.5 : 1, t};
		assert_int_equal(train_cpu_ops.set_grads(cpu, g, err, sizeof err), 0);
		assert_int_equal(cuda_ops->set_grads(gpu, g, err, sizeof err), 0);
		assert_int_equal(train_cpu_ops.step(cpu, &st, err, sizeof err), 0);
		assert_int_equal(cuda_ops->step(gpu, &st, err, sizeof err), 0);
	}
	for (int k = 0; k < 2; k++) {
		const struct train_engine_ops *ops = k ? cuda_ops : &train_cpu_ops;
		w[k] = xmalloc(n * 4), mo[k] = xmalloc(n * 4), v[k] = xmalloc(n * 4);
		assert_int_equal(ops->get_state(k ? gpu : cpu, w[k], mo[k], v[k], err, sizeof err), 0);
	}
	const char *where = NULL;
	check(tensor_err(&m, w[1], w[0], &where), 1e-6, shapes[0].name, "AdamW weights", where);
	check(tensor_err(&m, mo[1], mo[0], &where), 1e-6, shapes[0].name, "AdamW first moment", where);
	check(tensor_err(&m, v[1], v[0], &where), 1e-6, shapes[0].name, "AdamW second moment", where);
	/* the step zeroed the gradient */
	float *gz = grads(cuda_ops, gpu, &m);
	for (size_t i = 0; i < n; i++)
		assert_true(gz[i] == 0);
	/* set_state back to the start: the first accumulate again gives the start's predictions */
	struct train_engine *fresh = engine(cuda_ops, &m, 0, 0);
	float p0[NSEQ], p1[NSEQ];
	accumulate(cuda_ops, fresh, &m, p0);
	assert_int_equal(cuda_ops->set_state(gpu, m.params, NULL, NULL, err, sizeof err), 0);
	accumulate(cuda_ops, gpu, &m, p1);
	assert_memory_equal(p0, p1, sizeof p0);
	for (int k = 0; k < 2; k++)
		free(w[k]), free(mo[k]), free(v[k]);
	free(g), free(gz);
	train_cpu_ops.destroy(cpu), cuda_ops->destroy(gpu), cuda_ops->destroy(fresh);
	model_release(&m);
}

/* Three steps of accumulate and AdamW in each engine. Adam's update is at most about lr a
 * step whatever the gradient's size, so where a bf16 gradient has the other sign than the
 * CPU's (near zero) a weight moves up to 2 lr apart a step: 3 steps, 7 lr. */
static void training_steps_match_cpu(void **state)
{
	for (size_t k = 0; k < 2; k++) {
		struct model m;
		model_init(&m, &shapes[k], 41 + k);
		struct train_engine *cpu = engine(&train_cpu_ops, &m, 0, 0);
		struct train_engine *gpu = engine(cuda_ops, &m, 0, 1);
		float pc[NSEQ], pg[NSEQ];
		char err[256];
		for (int t = 1; t <= 3; t++) {
			struct adamw_step st = {LR, 0.9, 0.999, 1e-8, 0.1, 1, t};
			accumulate(&train_cpu_ops, cpu, &m, pc), accumulate(cuda_ops, gpu, &m, pg);
			assert_int_equal(train_cpu_ops.step(cpu, &st, err, sizeof err), 0);
			assert_int_equal(cuda_ops->step(gpu, &st, err, sizeof err), 0);
		}
		size_t n = m.L.total;
		float *wc = xmalloc(n * 4), *wg = xmalloc(n * 4);
		assert_int_equal(train_cpu_ops.get_state(cpu, wc, NULL, NULL, err, sizeof err), 0);
		assert_int_equal(cuda_ops->get_state(gpu, wg, NULL, NULL, err, sizeof err), 0);
		double d = 0, moved = 0;
		for (size_t i = 0; i < n; i++)
			d = fmax(d, fabs((double)wg[i] - wc[i])),
			moved = fmax(moved, fabs((double)wc[i] - m.params[i]));
		check(d / LR, 7, shapes[k].name, "3 steps: weights (in lr)", NULL);
		assert_true(moved > 2 * LR); /* the steps did move the weights */
		accumulate(&train_cpu_ops, cpu, &m, pc), accumulate(cuda_ops, gpu, &m, pg);
		check(value_err(pg, pc, NSEQ), TOL_BF16, shapes[k].name, "3 steps: predictions", NULL);
		free(wc), free(wg);
		train_cpu_ops.destroy(cpu), cuda_ops->destroy(gpu);
		model_release(&m);
	}
}

/* ---- the CUDA engine with itself ---- */

static void recompute_changes_no_bit(void **state)
{
	for (size_t k = 0; k < ARRAY_LEN(shapes); k++) {
		struct model m;
		model_init(&m, &shapes[k], 51 + k);
		struct train_engine *a = engine(cuda_ops, &m, 0, 0), *b = engine(cuda_ops, &m, 0, 1);
		float pa[NSEQ], pb[NSEQ];
		accumulate(cuda_ops, a, &m, pa), accumulate(cuda_ops, b, &m, pb);
		assert_memory_equal(pa, pb, sizeof pa);
		float *ga = grads(cuda_ops, a, &m), *gb = grads(cuda_ops, b, &m);
		assert_memory_equal(ga, gb, m.L.total * sizeof(float));
		printf("%-18s recompute on and off: the same predictions and gradient\n", shapes[k].name);
		free(ga), free(gb);
		cuda_ops->destroy(a), cuda_ops->destroy(b);
		model_release(&m);
	}
}

/* micro_tokens 70: packs {90} (longer than 70: alone), {65}, {64}, {33, 7, 1} against one pack
 * of all 260 tokens */
static void packs_match_one_pack(void **state)
{
	for (size_t k = 0; k < ARRAY_LEN(shapes); k++) {
		struct model m;
		model_init(&m, &shapes[k], 61 + k);
		struct train_engine *one = engine(cuda_ops, &m, 0, 0), *many = engine(cuda_ops, &m, 70, 1);
		float p1[NSEQ], pn[NSEQ];
		accumulate(cuda_ops, one, &m, p1), accumulate(cuda_ops, many, &m, pn);
		check(value_err(pn, p1, NSEQ), TOL_FP32, shapes[k].name, "packs: predictions", NULL);
		float *g1 = grads(cuda_ops, one, &m), *gn = grads(cuda_ops, many, &m);
		const char *where = NULL;
		check(tensor_err(&m, gn, g1, &where), TOL_FP32, shapes[k].name, "packs: gradients", where);
		free(g1), free(gn);
		cuda_ops->destroy(one), cuda_ops->destroy(many);
		model_release(&m);
	}
}

static void refuses_bad_input(void **state)
{
	struct model m;
	model_init(&m, &shapes[0], 71);
	struct train_engine *e = engine(cuda_ops, &m, 0, 0);
	char err[256] = "";
	float preds[NSEQ], feat[64];
	uint32_t toolong[MAX_TOKENS + 1] = {0}, bad[2] = {3, (uint32_t)m.c.vocab};
	const uint32_t *ids1[1] = {toolong}, *ids2[1] = {bad};
	size_t n1[1] = {MAX_TOKENS + 1}, n2[1] = {2}, n0[1] = {0};
	float y[1] = {0.5f};
	struct train_batch b1 = {ids1, n1, y, 1}, b2 = {ids2, n2, y, 1}, b0 = {ids1, n0, y, 1};
	assert_int_equal(cuda_ops->accumulate(e, &b1, 1, preds, err, sizeof err), -1);
	assert_non_null(strstr(err, "97 tokens"));
	assert_int_equal(cuda_ops->accumulate(e, &b0, 1, preds, err, sizeof err), -1);
	assert_int_equal(cuda_ops->features(e, ids2, n2, 1, feat, err, sizeof err), -1);
	assert_non_null(strstr(err, "outside the vocabulary"));
	assert_int_equal(cuda_ops->accumulate(e, &b2, 1, preds, err, sizeof err), -1);
	/* nothing was accumulated by the refused batches */
	float *g = grads(cuda_ops, e, &m);
	for (size_t i = 0; i < m.L.total; i++)
		assert_true(g[i] == 0);
	free(g);
	cuda_ops->destroy(e);
	model_release(&m);
}

/* the emulated library: $CURATE_TRAIN_CUDA_LIB, else ../libcurate-cuda-emu.so from here */
static const struct train_engine_ops *load_ops(void)
{
	char path[PATH_MAX + 64];
	const char *env = getenv("CURATE_TRAIN_CUDA_LIB");
	if (env)
		snprintf(path, sizeof path, "%s", env);
	else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n <= 0)
			return NULL;
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		*slash = 0;
		snprintf(path, sizeof path, "%s/../libcurate-cuda-emu.so", exe);
	}
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "test_train_cuda: %s\n", dlerror());
		return NULL;
	}
	return dlsym(lib, CURATE_CUDA_TRAIN_OPS);
}

int main(void)
{
	cuda_ops = load_ops();
	if (!cuda_ops) {
		fprintf(stderr, "test_train_cuda: no %s in the emulated CUDA library\n", CURATE_CUDA_TRAIN_OPS);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		/* first: the children must start before this process launches a kernel */
		cmocka_unit_test(thread_order_changes_no_bit),
		cmocka_unit_test(gradients_match_cpu),
		cmocka_unit_test(tensor_cores_match_scalar),
		cmocka_unit_test(adamw_matches_cpu),
		cmocka_unit_test(training_steps_match_cpu),
		cmocka_unit_test(recompute_changes_no_bit),
		cmocka_unit_test(recompute_auto_by_memory),
		cmocka_unit_test(packs_match_one_pack),
		cmocka_unit_test(refuses_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
