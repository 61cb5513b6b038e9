/* cpu: the scorer's fp32 forward pass on CPU threads (pthreads). The GEMM multiplies by
 * weights stored [out][in] so both operands stream along k; lanes of 8 accumulate in a fixed
 * order whatever the tiling, so results are the same for any thread count. */
#include "cpu.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* ---- thread pool: the caller works as thread 0 ---- */

typedef cpu_task_fn pool_fn;

struct cpu_pool {
	int n;
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	uint64_t gen;
	int busy, stop;
	pool_fn fn;
	void *ctx;
	size_t ntasks;
	atomic_size_t next;
};

struct worker_arg {
	struct cpu_pool *p;
	int tid;
};

static void pool_drain(struct cpu_pool *p, int tid)
{
	size_t t;
	while ((t = atomic_fetch_add(&p->next, 1)) < p->ntasks)
		p->fn(p->ctx, t, tid);
}

static void *pool_main(void *arg)
{
	struct worker_arg *w = arg;
	struct cpu_pool *p = w->p;
	uint64_t seen = 0;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->gen == seen && !p->stop)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		pool_drain(p, w->tid);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
	free(w);
	return NULL;
}

static void pool_init(struct cpu_pool *p, int n)
{
	memset(p, 0, sizeof *p);
	p->n = n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	p->th = xcalloc((size_t)n, sizeof *p->th);
	for (int i = 1; i < n; i++) {
		struct worker_arg *w = xmalloc(sizeof *w);
		*w = (struct worker_arg){p, i};
		if (pthread_create(&p->th[i], NULL, pool_main, w))
			DIE("pthread_create failed");
	}
}

void cpu_pool_run(struct cpu_pool *p, pool_fn fn, void *ctx, size_t ntasks)
{
	if (p->n == 1 || ntasks == 1) {
		for (size_t t = 0; t < ntasks; t++)
			fn(ctx, t, 0);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn, p->ctx = ctx, p->ntasks = ntasks;
	atomic_store(&p->next, 0);
	p->busy = p->n - 1;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	pool_drain(p, 0);
	pthread_mutex_lock(&p->mu);
	while (p->busy)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

static void pool_release(struct cpu_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	free(p->th);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
}

struct cpu_pool *cpu_pool_new(int threads)
{
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (int)n : 1;
	}
	struct cpu_pool *p = xmalloc(sizeof *p);
	pool_init(p, threads);
	return p;
}

void cpu_pool_free(struct cpu_pool *p)
{
	if (p) {
		pool_release(p);
		free(p);
	}
}

int cpu_pool_size(const struct cpu_pool *p) { return p->n; }

/* ---- GEMM ---- */

typedef float v8f __attribute__((vector_size(32)));
/* the same vector with 4-byte alignment: a plain dereference is an unaligned load */
typedef float v8fu __attribute__((vector_size(32), aligned(4)));
#define LOAD8(p) (*(const v8fu *)(p))

/* The one reduction order every kernel uses: lanes in order, then the tail. */
static inline float finish(const v8f *acc, const float *x, const float *w, size_t k8, size_t k)
{
	float s = 0;
	for (int l = 0; l < 8; l++)
		s += (*acc)[l];
	for (size_t i = k8; i < k; i++)
		s += x[i] * w[i];
	return s;
}

/* 2 rows of x by 4 rows of w: 8 accumulators, 2 x and 1 w vector fit the 16 registers. */
__attribute__((target_clones("avx2", "default"))) static void
kernel2x4(const float *x, size_t ldx, const float *w, size_t ldw, float *y, size_t ldy, size_t k)
{
	size_t k8 = k & ~(size_t)7;
	const float *x0 = x, *x1 = x + ldx;
	const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
	v8f a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0}, a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0};
	for (size_t p = 0; p < k8; p += 8) {
		v8f u = LOAD8(x0 + p), v = LOAD8(x1 + p), c;
		c = LOAD8(w0 + p), a00 += u * c, a10 += v * c;
		c = LOAD8(w1 + p), a01 += u * c, a11 += v * c;
		c = LOAD8(w2 + p), a02 += u * c, a12 += v * c;
		c = LOAD8(w3 + p), a03 += u * c, a13 += v * c;
	}
	y[0] = finish(&a00, x0, w0, k8, k), y[1] = finish(&a01, x0, w1, k8, k);
	y[2] = finish(&a02, x0, w2, k8, k), y[3] = finish(&a03, x0, w3, k8, k);
	y[ldy] = finish(&a10, x1, w0, k8, k), y[ldy + 1] = finish(&a11, x1, w1, k8, k);
	y[ldy + 2] = finish(&a12, x1, w2, k8, k), y[ldy + 3] = finish(&a13, x1, w3, k8, k);
}

__attribute__((target_clones("avx2", "default"))) static float dot1(const float *x,
								    const float *w, size_t k)
{
	size_t k8 = k & ~(size_t)7;
	v8f acc = {0};
	for (size_t p = 0; p < k8; p += 8)
		acc += LOAD8(x + p) * LOAD8(w + p);
	return finish(&acc, x, w, k8, k);
}

/* exported without clones: clang gives a cloned function of external linkage no resolver */
float cpu_dot(const float *x, const float *w, size_t k) { return dot1(x, w, k); }

struct gemm_job {
	const float *x, *w;
	float *y;
	size_t m, n, k, mtiles, ntiles;
};

enum { GEMM_MB = 64, GEMM_NB = 32 };

static void gemm_task(void *ctx, size_t task, int tid)
{
	const struct gemm_job *g = ctx;
	size_t i0 = (task % g->mtiles) * GEMM_MB, j0 = (task / g->mtiles) * GEMM_NB;
	size_t i1 = i0 + GEMM_MB < g->m ? i0 + GEMM_MB : g->m;
	size_t j1 = j0 + GEMM_NB < g->n ? j0 + GEMM_NB : g->n;
	size_t k = g->k;
	for (size_t i = i0; i < i1; i += 2) {
		for (size_t j = j0; j < j1; j += 4) {
			if (i + 2 <= i1 && j + 4 <= j1) {
				kernel2x4(g->x + i * k, k, g->w + j * k, k, g->y + i * g->n + j, g->n,
					  k);
				continue;
			}
			for (size_t a = i; a < i + 2 && a < i1; a++)
				for (size_t b = j; b < j + 4 && b < j1; b++)
					g->y[a * g->n + b] = dot1(g->x + a * k, g->w + b * k, k);
		}
	}
}

static void gemm_nt(struct cpu_pool *p, const float *x, const float *w, float *y, size_t rows,
		    size_t n, size_t k)
{
	struct gemm_job g = {x, w, y, rows, n, k, (rows + GEMM_MB - 1) / GEMM_MB,
			     (n + GEMM_NB - 1) / GEMM_NB};
	cpu_pool_run(p, gemm_task, &g, g.mtiles * g.ntiles);
}

void cpu_gemm_nt(struct cpu_pool *p, const float *x, const float *w, float *y, size_t rows,
		 size_t n, size_t k)
{
	gemm_nt(p, x, w, y, rows, n, k);
}

/* y[4][16] (+)= a[4][k] . b[k][16]: 8 accumulators, each element summed over k in order (as
 * the edge code does, so a tile's shape never changes a result). */
__attribute__((target_clones("avx2", "default"))) static void
kernel_nn4x16(const float *a, size_t lda, const float *b, size_t ldb, float *y, size_t ldy,
	      size_t k, bool acc)
{
	v8f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
	for (size_t p = 0; p < k; p++) {
		v8f b0 = LOAD8(b + p * ldb), b1 = LOAD8(b + p * ldb + 8), x;
		x = (v8f){0} + a[p], c00 += x * b0, c01 += x * b1;
		x = (v8f){0} + a[lda + p], c10 += x * b0, c11 += x * b1;
		x = (v8f){0} + a[2 * lda + p], c20 += x * b0, c21 += x * b1;
		x = (v8f){0} + a[3 * lda + p], c30 += x * b0, c31 += x * b1;
	}
	v8f *out[8] = {&c00, &c01, &c10, &c11, &c20, &c21, &c30, &c31};
	for (int r = 0; r < 4; r++)
		for (int h = 0; h < 2; h++)
			for (int l = 0; l < 8; l++) {
				float *d = y + (size_t)r * ldy + (size_t)h * 8 + (size_t)l;
				*d = acc ? *d + (*out[r * 2 + h])[l] : (*out[r * 2 + h])[l];
			}
}

struct nn_job {
	const float *a, *b;
	float *y;
	size_t m, n, k, mtiles;
	bool acc;
};

enum { NN_MB = 64, NN_NB = 64 };

static void nn_task(void *ctx, size_t task, int tid)
{
	const struct nn_job *g = ctx;
	size_t i0 = (task % g->mtiles) * NN_MB, j0 = (task / g->mtiles) * NN_NB;
	size_t i1 = i0 + NN_MB < g->m ? i0 + NN_MB : g->m;
	size_t j1 = j0 + NN_NB < g->n ? j0 + NN_NB : g->n;
	for (size_t i = i0; i < i1; i += 4)
		for (size_t j = j0; j < j1; j += 16) {
			if (i + 4 <= i1 && j + 16 <= j1) {
				kernel_nn4x16(g->a + i * g->k, g->k, g->b + j, g->n, g->y + i * g->n + j,
					      g->n, g->k, g->acc);
				continue;
			}
			for (size_t r = i; r < i + 4 && r < i1; r++)
				for (size_t c = j; c < j + 16 && c < j1; c++) {
					float s = 0;
					for (size_t p = 0; p < g->k; p++)
						s += g->a[r * g->k + p] * g->b[p * g->n + c];
					g->y[r * g->n + c] = g->acc ? g->y[r * g->n + c] + s : s;
				}
		}
}

void cpu_gemm_nn(struct cpu_pool *p, const float *a, const float *b, float *y, size_t m,
		 size_t n, size_t k, bool acc)
{
	struct nn_job g = {a, b, y, m, n, k, (m + NN_MB - 1) / NN_MB, acc};
	cpu_pool_run(p, nn_task, &g, g.mtiles * ((n + NN_NB - 1) / NN_NB));
}

/* ---- the model ---- */

struct cpu_model {
	struct scorer_config c;
	float *embed, *norm, *head; /* head: [c.outputs][H] */
	struct scorer_layer *layers;
	struct cpu_pool pool;
	size_t max_tokens;
	float *h, *x, *q, *kk, *v, *att, *g, *u, *scratch; /* activations, [max_tokens][...] */
	float *cosv, *sinv; /* [max_tokens][head_dim/2] */
	double *inv_freq;
};

static void gemm_run(struct cpu_model *m, const float *x, const float *w, float *y, size_t rows,
		     size_t n, size_t k)
{
	gemm_nt(&m->pool, x, w, y, rows, n, k);
}

void cpu_gemm(struct cpu_model *m, const float *x, const float *w, float *y, size_t rows,
	      size_t n, size_t k)
{
	gemm_run(m, x, w, y, rows, n, k);
}

struct cpu_model *cpu_model_new(const struct scorer_config *c, float *embed,
				struct scorer_layer *layers, float *norm, float *head, int threads,
				size_t max_tokens)
{
	struct cpu_model *m = xcalloc(1, sizeof *m);
	m->c = *c;
	m->embed = embed, m->layers = layers, m->norm = norm, m->head = head;
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (int)n : 1;
	}
	pool_init(&m->pool, threads);
	m->max_tokens = max_tokens;
	size_t T = max_tokens, H = (size_t)c->hidden, hd = (size_t)c->head_dim;
	size_t qn = (size_t)c->heads * hd, kvn = (size_t)c->kv_heads * hd, F = (size_t)c->ffn;
	m->h = xmalloc(T * H * sizeof(float));
	m->x = xmalloc(T * (H > qn ? H : qn) * sizeof(float));
	m->q = xmalloc(T * qn * sizeof(float));
	m->kk = xmalloc(T * kvn * sizeof(float));
	m->v = xmalloc(T * kvn * sizeof(float));
	m->att = xmalloc(T * qn * sizeof(float));
	m->g = xmalloc(T * F * sizeof(float));
	m->u = xmalloc(T * F * sizeof(float));
	m->scratch = xmalloc((size_t)threads * T * sizeof(float));
	m->cosv = xmalloc(T * (hd / 2) * sizeof(float));
	m->sinv = xmalloc(T * (hd / 2) * sizeof(float));
	m->inv_freq = xmalloc((hd / 2) * sizeof(double));
	return m;
}

void cpu_model_free(struct cpu_model *m)
{
	if (!m)
		return;
	pool_release(&m->pool);
	for (int64_t l = 0; l < m->c.layers; l++) {
		struct scorer_layer *L = &m->layers[l];
		free(L->attn_norm), free(L->wq), free(L->wk), free(L->wv), free(L->wo);
		free(L->mlp_norm), free(L->wgate), free(L->wup), free(L->wdown);
		free(L->bq), free(L->bk), free(L->bv);
	}
	free(m->layers);
	free(m->embed), free(m->norm), free(m->head);
	free(m->h), free(m->x), free(m->q), free(m->kk), free(m->v), free(m->att);
	free(m->g), free(m->u), free(m->scratch), free(m->cosv), free(m->sinv), free(m->inv_freq);
	free(m);
}

int cpu_model_threads(const struct cpu_model *m) { return m->pool.n; }

float cpu_rmsnorm(float *out, const float *in, const float *w, size_t n, double eps)
{
	float ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += in[i] * in[i];
	float r = 1.0f / sqrtf(ss / (float)n + (float)eps);
	for (size_t i = 0; i < n; i++)
		out[i] = w[i] * (in[i] * r);
	return r;
}

void cpu_rope(float *v, size_t T, size_t nheads, size_t hd, const float *cosv, const float *sinv,
	      float sign)
{
	size_t half = hd / 2;
	for (size_t t = 0; t < T; t++)
		for (size_t h = 0; h < nheads; h++) {
			float *p = v + (t * nheads + h) * hd;
			const float *c = cosv + t * half, *s = sinv + t * half;
			for (size_t i = 0; i < half; i++) {
				float a = p[i], b = p[i + half], si = sign * s[i];
				p[i] = a * c[i] - b * si;
				p[i + half] = b * c[i] + a * si;
			}
		}
}

void cpu_rope_table(const struct scorer_config *c, size_t T, double *inv_freq, float *cosv,
		    float *sinv)
{
	size_t half = (size_t)c->head_dim / 2;
	scorer_rope_freqs(c, T, inv_freq);
	for (size_t t = 0; t < T; t++)
		for (size_t i = 0; i < half; i++) {
			double a = (double)t * inv_freq[i];
			cosv[t * half + i] = (float)cos(a);
			sinv[t * half + i] = (float)sin(a);
		}
}

float cpu_attend(const float *q, const float *k, const float *v, size_t t, size_t stride,
		 size_t hd, float *sc, float *o)
{
	float scale = 1.0f / sqrtf((float)hd), mx = -INFINITY, sum = 0;
	for (size_t s = 0; s <= t; s++) {
		sc[s] = dot1(q, k + s * stride, hd) * scale;
		mx = sc[s] > mx ? sc[s] : mx;
	}
	for (size_t s = 0; s <= t; s++)
		sc[s] = expf(sc[s] - mx), sum += sc[s];
	memset(o, 0, hd * sizeof *o);
	for (size_t s = 0; s <= t; s++) {
		const float *vs = v + s * stride;
		float p = sc[s] / sum;
		for (size_t i = 0; i < hd; i++)
			o[i] += p * vs[i];
	}
	return mx + logf(sum);
}

struct attn_job {
	struct cpu_model *m;
	size_t T;
};

/* One (head, query) task: causal softmax over the keys up to the query. */
static void attn_task(void *ctx, size_t task, int tid)
{
	const struct attn_job *a = ctx;
	const struct scorer_config *c = &a->m->c;
	size_t nh = (size_t)c->heads, nkv = (size_t)c->kv_heads, hd = (size_t)c->head_dim;
	size_t h = task % nh, t = task / nh, kvh = h / (nh / nkv);
	cpu_attend(a->m->q + (t * nh + h) * hd, a->m->kk + kvh * hd, a->m->v + kvh * hd, t,
		   nkv * hd, hd, a->m->scratch + (size_t)tid * a->m->max_tokens,
		   a->m->att + (t * nh + h) * hd);
}

static void layer_forward(struct cpu_model *m, const struct scorer_layer *L, size_t T)
{
	const struct scorer_config *c = &m->c;
	size_t H = (size_t)c->hidden, hd = (size_t)c->head_dim, F = (size_t)c->ffn;
	size_t qn = (size_t)c->heads * hd, kvn = (size_t)c->kv_heads * hd;
	for (size_t t = 0; t < T; t++)
		cpu_rmsnorm(m->x + t * H, m->h + t * H, L->attn_norm, H, c->eps);
	gemm_run(m, m->x, L->wq, m->q, T, qn, H);
	gemm_run(m, m->x, L->wk, m->kk, T, kvn, H);
	gemm_run(m, m->x, L->wv, m->v, T, kvn, H);
	if (L->bq) /* qwen2 */
		for (size_t t = 0; t < T; t++) {
			for (size_t i = 0; i < qn; i++)
				m->q[t * qn + i] += L->bq[i];
			for (size_t i = 0; i < kvn; i++)
				m->kk[t * kvn + i] += L->bk[i], m->v[t * kvn + i] += L->bv[i];
		}
	cpu_rope(m->q, T, (size_t)c->heads, hd, m->cosv, m->sinv, 1);
	cpu_rope(m->kk, T, (size_t)c->kv_heads, hd, m->cosv, m->sinv, 1);
	struct attn_job aj = {m, T};
	cpu_pool_run(&m->pool, attn_task, &aj, T * (size_t)c->heads);
	gemm_run(m, m->att, L->wo, m->x, T, H, qn);
	for (size_t i = 0; i < T * H; i++)
		m->h[i] += m->x[i];
	for (size_t t = 0; t < T; t++)
		cpu_rmsnorm(m->x + t * H, m->h + t * H, L->mlp_norm, H, c->eps);
	gemm_run(m, m->x, L->wgate, m->g, T, F, H);
	gemm_run(m, m->x, L->wup, m->u, T, F, H);
	for (size_t i = 0; i < T * F; i++) /* SwiGLU: silu(gate) * up */
		m->g[i] = m->g[i] / (1.0f + expf(-m->g[i])) * m->u[i];
	gemm_run(m, m->g, L->wdown, m->x, T, H, F);
	for (size_t i = 0; i < T * H; i++)
		m->h[i] += m->x[i];
}

void cpu_model_score(struct cpu_model *m, const uint32_t *ids, size_t n, float *out)
{
	const struct scorer_config *c = &m->c;
	size_t H = (size_t)c->hidden;
	for (size_t t = 0; t < n; t++)
		memcpy(m->h + t * H, m->embed + (size_t)ids[t] * H, H * sizeof(float));
	cpu_rope_table(&m->c, n, m->inv_freq, m->cosv, m->sinv);
	for (int64_t l = 0; l < c->layers; l++)
		layer_forward(m, &m->layers[l], n);
	float *last = m->x;
	cpu_rmsnorm(last, m->h + (n - 1) * H, m->norm, H, c->eps);
	for (int64_t k = 0; k < c->outputs; k++)
		out[k] = dot1(last, m->head + (size_t)k * H, H);
}
