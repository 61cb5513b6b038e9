/* train_cpu: the CPU training engine, fp32 on a thread pool. One sequence at a time: the
 * forward pass keeps what the backward pass needs (every layer's activations, or with
 * recompute only each layer's input), then the backward pass adds the sequence's gradient
 * into the flat gradient array. The forward is the scorer's own (scorer/cpu.c's GEMM,
 * cpu_rmsnorm, cpu_rope and cpu_attend), so a trained checkpoint scores what the
 * trainer predicted. Every sum runs in one order whatever the thread count: the GEMMs give
 * each output to one thread, attention's key and value gradients are summed per head and
 * then over the heads of a group in order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "train.h"
#include "util.h"

/* One layer's activations for a sequence of up to T tokens. */
struct act {
	float *hin;     /* [T][H] the layer's input (the residual stream) */
	float *r1, *r2; /* [T] the two RMSNorms' 1/rms */
	float *x1, *x2; /* [T][H] their outputs */
	float *q, *k, *v; /* [T][qn], [T][kvn] after bias and RoPE */
	float *lse;     /* [heads][T] log-sum-exp of each query's scores */
	float *att;     /* [T][qn] attention output, o_proj's input */
	float *hmid;    /* [T][H] the residual after attention */
	float *g, *u, *a; /* [T][F] gate, up, silu(gate) * up */
};

struct train_engine {
	struct scorer_config c;
	const struct train_layout *L;
	struct cpu_pool *pool;
	float *w, *g, *m, *v;
	size_t T; /* max tokens */
	int recompute;
	struct act *acts; /* c.layers of them, or one with recompute */
	float *hins;      /* recompute: [layers][T][H] each layer's input */
	float *h;         /* [T][H] the running residual */
	float *feat, rf;  /* [H] the last token's final-normed state, its 1/rms */
	/* backward scratch */
	float *dh, *dx, *dq, *dk, *dv, *datt, *dg, *du, *tr, *dkh, *dvh;
	float *cosv, *sinv, *scratch;
	double *inv_freq;
};

static size_t qdim(const struct scorer_config *c) { return (size_t)(c->heads * c->head_dim); }
static size_t kvdim(const struct scorer_config *c) { return (size_t)(c->kv_heads * c->head_dim); }

static float *falloc(size_t n) { return xcalloc(n ? n : 1, sizeof(float)); }

static void act_alloc(struct act *A, const struct scorer_config *c, size_t T, bool own_hin)
{
	size_t H = (size_t)c->hidden, F = (size_t)c->ffn;
	A->hin = own_hin ? falloc(T * H) : NULL;
	A->r1 = falloc(T), A->r2 = falloc(T);
	A->x1 = falloc(T * H), A->x2 = falloc(T * H), A->hmid = falloc(T * H);
	A->q = falloc(T * qdim(c)), A->att = falloc(T * qdim(c));
	A->k = falloc(T * kvdim(c)), A->v = falloc(T * kvdim(c));
	A->lse = falloc(T * (size_t)c->heads);
	A->g = falloc(T * F), A->u = falloc(T * F), A->a = falloc(T * F);
}

static void act_free(struct act *A, bool own_hin)
{
	if (own_hin)
		free(A->hin);
	free(A->r1), free(A->r2), free(A->x1), free(A->x2), free(A->hmid), free(A->q);
	free(A->att), free(A->k), free(A->v), free(A->lse), free(A->g), free(A->u), free(A->a);
}

static struct train_engine *cpu_create(const struct scorer_config *c, const struct train_layout *L,
				       const float *params, const struct train_engine_opts *o,
				       char *desc, size_t desclen, char *err, size_t errlen)
{
	struct train_engine *e = xcalloc(1, sizeof *e);
	e->c = *c, e->L = L, e->T = o->max_tokens, e->recompute = o->recompute;
	e->pool = cpu_pool_new(o->threads);
	size_t n = L->total, T = e->T, H = (size_t)c->hidden, F = (size_t)c->ffn;
	size_t nl = (size_t)c->layers, hd = (size_t)c->head_dim, nh = (size_t)c->heads;
	e->w = falloc(n), e->g = falloc(n); /* m and v at the first step: a gradient alone
						* (dump_grads, head mode) needs no optimizer state */
	memcpy(e->w, params, n * sizeof(float));
	size_t nacts = e->recompute ? 1 : nl;
	e->acts = xcalloc(nacts, sizeof *e->acts);
	for (size_t l = 0; l < nacts; l++)
		act_alloc(&e->acts[l], c, T, !e->recompute);
	if (e->recompute)
		e->hins = falloc(nl * T * H);
	e->h = falloc(T * H), e->feat = falloc(H);
	size_t wide = H > qdim(c) ? H : qdim(c);
	e->dh = falloc(T * H), e->dx = falloc(T * wide), e->dq = falloc(T * qdim(c));
	e->dk = falloc(T * kvdim(c)), e->dv = falloc(T * kvdim(c)), e->datt = falloc(T * qdim(c));
	e->dg = falloc(T * F), e->du = falloc(T * F);
	e->tr = falloc(T * (F > wide ? F : wide));
	e->dkh = falloc(nh * T * hd), e->dvh = falloc(nh * T * hd);
	e->cosv = falloc(T * hd / 2), e->sinv = falloc(T * hd / 2);
	e->scratch = falloc((size_t)cpu_pool_size(e->pool) * T);
	e->inv_freq = xcalloc(hd / 2 + 1, sizeof(double));
	snprintf(desc, desclen, "cpu (%d threads)", cpu_pool_size(e->pool));
	return e;
}

static void cpu_destroy(struct train_engine *e)
{
	if (!e)
		return;
	size_t nacts = e->recompute ? 1 : (size_t)e->c.layers;
	for (size_t l = 0; l < nacts; l++)
		act_free(&e->acts[l], !e->recompute);
	free(e->acts), free(e->hins), free(e->h), free(e->feat);
	free(e->w), free(e->g), free(e->m), free(e->v);
	free(e->dh), free(e->dx), free(e->dq), free(e->dk), free(e->dv), free(e->datt);
	free(e->dg), free(e->du), free(e->tr), free(e->dkh), free(e->dvh);
	free(e->cosv), free(e->sinv), free(e->scratch), free(e->inv_freq);
	cpu_pool_free(e->pool);
	free(e);
}

/* ---- the forward pass, keeping activations ---- */

struct attn_job {
	struct train_engine *e;
	struct act *A;
	size_t T;
};

/* One (head, query) task, as the scorer's attention, also keeping the log-sum-exp. */
static void attn_fwd_task(void *ctx, size_t task, int tid)
{
	const struct attn_job *j = ctx;
	const struct scorer_config *c = &j->e->c;
	size_t nh = (size_t)c->heads, nkv = (size_t)c->kv_heads, hd = (size_t)c->head_dim;
	size_t h = task % nh, t = task / nh, kvh = h / (nh / nkv);
	j->A->lse[h * j->e->T + t] =
		cpu_attend(j->A->q + (t * nh + h) * hd, j->A->k + kvh * hd, j->A->v + kvh * hd, t,
			   nkv * hd, hd, j->e->scratch + (size_t)tid * j->e->T,
			   j->A->att + (t * nh + h) * hd);
}

static const float *P(const struct train_engine *e, size_t off)
{
	return off == NO_PARAM ? NULL : e->w + off;
}

static void add_bias(float *y, const float *b, size_t T, size_t n)
{
	for (size_t t = 0; t < T; t++)
		for (size_t i = 0; i < n; i++)
			y[t * n + i] += b[i];
}

/* Layer l on A->hin (T tokens): fills A and leaves the layer's output in e->h. */
static void layer_fwd(struct train_engine *e, size_t l, struct act *A, size_t T)
{
	const struct scorer_config *c = &e->c;
	const struct train_layer_off *o = &e->L->layer[l];
	size_t H = (size_t)c->hidden, F = (size_t)c->ffn, hd = (size_t)c->head_dim;
	size_t qn = qdim(c), kvn = kvdim(c);
	for (size_t t = 0; t < T; t++)
		A->r1[t] = cpu_rmsnorm(A->x1 + t * H, A->hin + t * H, P(e, o->attn_norm), H, c->eps);
	cpu_gemm_nt(e->pool, A->x1, P(e, o->wq), A->q, T, qn, H);
	cpu_gemm_nt(e->pool, A->x1, P(e, o->wk), A->k, T, kvn, H);
	cpu_gemm_nt(e->pool, A->x1, P(e, o->wv), A->v, T, kvn, H);
	if (o->bq != NO_PARAM) {
		add_bias(A->q, P(e, o->bq), T, qn);
		add_bias(A->k, P(e, o->bk), T, kvn);
		add_bias(A->v, P(e, o->bv), T, kvn);
	}
	cpu_rope(A->q, T, (size_t)c->heads, hd, e->cosv, e->sinv, 1);
	cpu_rope(A->k, T, (size_t)c->kv_heads, hd, e->cosv, e->sinv, 1);
	struct attn_job j = {e, A, T};
	cpu_pool_run(e->pool, attn_fwd_task, &j, T * (size_t)c->heads);
	cpu_gemm_nt(e->pool, A->att, P(e, o->wo), e->dx, T, H, qn);
	for (size_t i = 0; i < T * H; i++)
		A->hmid[i] = A->hin[i] + e->dx[i];
	for (size_t t = 0; t < T; t++)
		A->r2[t] = cpu_rmsnorm(A->x2 + t * H, A->hmid + t * H, P(e, o->mlp_norm), H, c->eps);
	cpu_gemm_nt(e->pool, A->x2, P(e, o->wgate), A->g, T, F, H);
	cpu_gemm_nt(e->pool, A->x2, P(e, o->wup), A->u, T, F, H);
	for (size_t i = 0; i < T * F; i++) /* SwiGLU, as scorer/cpu.c writes it */
		A->a[i] = A->g[i] / (1.0f + expf(-A->g[i])) * A->u[i];
	cpu_gemm_nt(e->pool, A->a, P(e, o->wdown), e->dx, T, H, F);
	for (size_t i = 0; i < T * H; i++)
		e->h[i] = A->hmid[i] + e->dx[i];
}

static struct act *layer_act(struct train_engine *e, size_t l)
{
	struct act *A = &e->acts[e->recompute ? 0 : l];
	if (e->recompute)
		A->hin = e->hins + l * e->T * (size_t)e->c.hidden;
	return A;
}

/* The whole forward of one sequence: e->feat (and e->rf) and the prediction. */
static float forward(struct train_engine *e, const uint32_t *ids, size_t T)
{
	const struct scorer_config *c = &e->c;
	size_t H = (size_t)c->hidden;
	for (size_t t = 0; t < T; t++)
		memcpy(e->h + t * H, e->w + e->L->embed + (size_t)ids[t] * H, H * sizeof(float));
	cpu_rope_table(&e->c, T, e->inv_freq, e->cosv, e->sinv);
	for (size_t l = 0; l < (size_t)c->layers; l++) {
		struct act *A = layer_act(e, l);
		memcpy(A->hin, e->h, T * H * sizeof(float));
		layer_fwd(e, l, A, T);
	}
	e->rf = cpu_rmsnorm(e->feat, e->h + (T - 1) * H, e->w + e->L->norm, H, c->eps);
	return cpu_dot(e->feat, e->w + e->L->head, H);
}

/* ---- the backward pass ---- */

/* y[n][T] = x[T][n]^T */
static void transpose(float *y, const float *x, size_t T, size_t n)
{
	for (size_t t = 0; t < T; t++)
		for (size_t i = 0; i < n; i++)
			y[i * T + t] = x[t * n + i];
}

/* gW[n][k] += dy[T][n]^T . x[T][k] */
static void grad_w(struct train_engine *e, size_t woff, const float *dy, const float *x,
		   size_t T, size_t n, size_t k)
{
	transpose(e->tr, dy, T, n);
	cpu_gemm_nn(e->pool, e->tr, x, e->g + woff, n, k, T, true);
}

/* RMSNorm backward for T rows: dx (+)= d/dx of y = w * x * r given dy; gw += dy * x * r. */
static void rmsnorm_bwd(struct train_engine *e, float *dx, const float *dy, const float *x,
			const float *r, size_t woff, size_t T, size_t n, bool acc)
{
	const float *w = e->w + woff;
	float *gw = e->g + woff;
	for (size_t t = 0; t < T; t++) {
		const float *xt = x + t * n, *dyt = dy + t * n;
		float rt = r[t], s = 0;
		for (size_t i = 0; i < n; i++) {
			gw[i] += dyt[i] * (xt[i] * rt);
			s += w[i] * dyt[i] * xt[i];
		}
		float k = rt * rt * rt * s / (float)n;
		for (size_t i = 0; i < n; i++) {
			float d = rt * w[i] * dyt[i] - xt[i] * k;
			dx[t * n + i] = acc ? dx[t * n + i] + d : d;
		}
	}
}

struct attn_bwd_job {
	struct train_engine *e;
	const struct act *A;
	size_t T;
};

/* Query head h over every query: dq of its queries, and its share of dk and dv into the
 * head's own rows of dkh and dvh (summed over the group's heads afterwards, in order). */
static void attn_bwd_task(void *ctx, size_t h, int tid)
{
	const struct attn_bwd_job *j = ctx;
	struct train_engine *e = j->e;
	const struct act *A = j->A;
	const struct scorer_config *c = &e->c;
	size_t nh = (size_t)c->heads, nkv = (size_t)c->kv_heads, hd = (size_t)c->head_dim, T = j->T;
	size_t kvh = h / (nh / nkv);
	float scale = 1.0f / sqrtf((float)hd);
	float *dkh = e->dkh + h * e->T * hd, *dvh = e->dvh + h * e->T * hd;
	memset(dkh, 0, T * hd * sizeof(float));
	memset(dvh, 0, T * hd * sizeof(float));
	for (size_t t = 0; t < T; t++) {
		const float *q = A->q + (t * nh + h) * hd, *o = A->att + (t * nh + h) * hd;
		const float *dout = e->datt + (t * nh + h) * hd;
		float *dq = e->dq + (t * nh + h) * hd, lse = A->lse[h * e->T + t];
		float D = cpu_dot(dout, o, hd);
		memset(dq, 0, hd * sizeof(float));
		for (size_t s = 0; s <= t; s++) {
			const float *k = A->k + (s * nkv + kvh) * hd, *v = A->v + (s * nkv + kvh) * hd;
			float p = expf(cpu_dot(q, k, hd) * scale - lse);
			float ds = p * (cpu_dot(dout, v, hd) - D) * scale;
			float *dk = dkh + s * hd, *dv = dvh + s * hd;
			for (size_t i = 0; i < hd; i++) {
				dq[i] += ds * k[i];
				dk[i] += ds * q[i];
				dv[i] += p * dout[i];
			}
		}
	}
}

/* Backward of layer l: e->dh holds d/d(layer output) and becomes d/d(layer input). */
static void layer_bwd(struct train_engine *e, size_t l, const struct act *A, size_t T)
{
	const struct scorer_config *c = &e->c;
	const struct train_layer_off *o = &e->L->layer[l];
	size_t H = (size_t)c->hidden, F = (size_t)c->ffn, hd = (size_t)c->head_dim;
	size_t qn = qdim(c), kvn = kvdim(c), nh = (size_t)c->heads, nkv = (size_t)c->kv_heads;
	/* MLP: h = hmid + down(a) */
	grad_w(e, o->wdown, e->dh, A->a, T, H, F);
	cpu_gemm_nn(e->pool, e->dh, P(e, o->wdown), e->dg, T, F, H, false); /* da into dg */
	for (size_t i = 0; i < T * F; i++) {
		float g = A->g[i], sg = 1.0f / (1.0f + expf(-g)), da = e->dg[i];
		e->du[i] = da * (g * sg);
		e->dg[i] = da * A->u[i] * sg * (1.0f + g * (1.0f - sg));
	}
	grad_w(e, o->wgate, e->dg, A->x2, T, F, H);
	grad_w(e, o->wup, e->du, A->x2, T, F, H);
	cpu_gemm_nn(e->pool, e->dg, P(e, o->wgate), e->dx, T, H, F, false);
	cpu_gemm_nn(e->pool, e->du, P(e, o->wup), e->dx, T, H, F, true);
	rmsnorm_bwd(e, e->dh, e->dx, A->hmid, A->r2, o->mlp_norm, T, H, true);
	/* attention: hmid = hin + o_proj(att) */
	grad_w(e, o->wo, e->dh, A->att, T, H, qn);
	cpu_gemm_nn(e->pool, e->dh, P(e, o->wo), e->datt, T, qn, H, false);
	struct attn_bwd_job j = {e, A, T};
	cpu_pool_run(e->pool, attn_bwd_task, &j, nh);
	size_t group = nh / nkv;
	for (size_t s = 0; s < T; s++)
		for (size_t kh = 0; kh < nkv; kh++) {
			float *dk = e->dk + (s * nkv + kh) * hd, *dv = e->dv + (s * nkv + kh) * hd;
			memset(dk, 0, hd * sizeof(float));
			memset(dv, 0, hd * sizeof(float));
			for (size_t h = kh * group; h < (kh + 1) * group; h++)
				for (size_t i = 0; i < hd; i++) {
					dk[i] += e->dkh[(h * e->T + s) * hd + i];
					dv[i] += e->dvh[(h * e->T + s) * hd + i];
				}
		}
	cpu_rope(e->dq, T, nh, hd, e->cosv, e->sinv, -1);
	cpu_rope(e->dk, T, nkv, hd, e->cosv, e->sinv, -1);
	if (o->bq != NO_PARAM)
		for (size_t t = 0; t < T; t++) {
			for (size_t i = 0; i < qn; i++)
				e->g[o->bq + i] += e->dq[t * qn + i];
			for (size_t i = 0; i < kvn; i++) {
				e->g[o->bk + i] += e->dk[t * kvn + i];
				e->g[o->bv + i] += e->dv[t * kvn + i];
			}
		}
	grad_w(e, o->wq, e->dq, A->x1, T, qn, H);
	grad_w(e, o->wk, e->dk, A->x1, T, kvn, H);
	grad_w(e, o->wv, e->dv, A->x1, T, kvn, H);
	cpu_gemm_nn(e->pool, e->dq, P(e, o->wq), e->dx, T, H, qn, false);
	cpu_gemm_nn(e->pool, e->dk, P(e, o->wk), e->dx, T, H, kvn, true);
	cpu_gemm_nn(e->pool, e->dv, P(e, o->wv), e->dx, T, H, kvn, true);
	rmsnorm_bwd(e, e->dh, e->dx, A->hin, A->r1, o->attn_norm, T, H, true);
}

/* d/dw of dpred * pred for the sequence forward() just ran, added into e->g. */
static void backward(struct train_engine *e, const uint32_t *ids, size_t T, float dpred)
{
	const struct scorer_config *c = &e->c;
	size_t H = (size_t)c->hidden;
	const float *head = e->w + e->L->head;
	float *dfeat = e->dx;
	for (size_t i = 0; i < H; i++) {
		e->g[e->L->head + i] += dpred * e->feat[i];
		dfeat[i] = dpred * head[i];
	}
	memset(e->dh, 0, T * H * sizeof(float));
	/* the final norm of the last token; its input is the last layer's output, e->h */
	rmsnorm_bwd(e, e->dh + (T - 1) * H, dfeat, e->h + (T - 1) * H, &e->rf, e->L->norm, 1, H,
		    false);
	for (size_t l = (size_t)c->layers; l-- > 0;) {
		struct act *A = layer_act(e, l);
		if (e->recompute) /* the layer again from its input: e->h is scratch by now */
			layer_fwd(e, l, A, T);
		layer_bwd(e, l, A, T);
	}
	for (size_t t = 0; t < T; t++) {
		float *ge = e->g + e->L->embed + (size_t)ids[t] * H;
		for (size_t i = 0; i < H; i++)
			ge[i] += e->dh[t * H + i];
	}
}

static int check_len(const struct train_engine *e, size_t n, char *err, size_t errlen)
{
	if (n && n <= e->T)
		return 0;
	snprintf(err, errlen, "a sequence of %zu tokens (1 to %zu)", n, e->T);
	return -1;
}

static int cpu_accumulate(struct train_engine *e, const struct train_batch *b, float scale,
			  float *preds, char *err, size_t errlen)
{
	for (size_t i = 0; i < b->n; i++) {
		if (check_len(e, b->lens[i], err, errlen) < 0)
			return -1;
		float p = forward(e, b->ids[i], b->lens[i]);
		preds[i] = p;
		backward(e, b->ids[i], b->lens[i], scale * 2.0f * (p - b->targets[i]));
	}
	return 0;
}

static int cpu_features(struct train_engine *e, const uint32_t *const *ids, const size_t *lens,
			size_t n, float *feat, char *err, size_t errlen)
{
	size_t H = (size_t)e->c.hidden;
	for (size_t i = 0; i < n; i++) {
		if (check_len(e, lens[i], err, errlen) < 0)
			return -1;
		forward(e, ids[i], lens[i]);
		memcpy(feat + i * H, e->feat, H * sizeof(float));
	}
	return 0;
}

static int cpu_get_grads(struct train_engine *e, float *g, char *err, size_t errlen)
{
	memcpy(g, e->g, e->L->total * sizeof(float));
	return 0;
}

static int cpu_set_grads(struct train_engine *e, const float *g, char *err, size_t errlen)
{
	memcpy(e->g, g, e->L->total * sizeof(float));
	return 0;
}

/* Partial sums over fixed blocks, then the blocks in order: one order for any thread count. */
enum { SQ_BLOCK = 1 << 16 };

struct sq_job {
	const float *g;
	size_t n;
	double *part;
};

static void sq_task(void *ctx, size_t b, int tid)
{
	const struct sq_job *j = ctx;
	size_t i0 = b * SQ_BLOCK, i1 = i0 + SQ_BLOCK < j->n ? i0 + SQ_BLOCK : j->n;
	double s = 0;
	for (size_t i = i0; i < i1; i++)
		s += (double)j->g[i] * j->g[i];
	j->part[b] = s;
}

static double cpu_grad_sq(struct train_engine *e)
{
	size_t nb = (e->L->total + SQ_BLOCK - 1) / SQ_BLOCK;
	struct sq_job j = {e->g, e->L->total, xcalloc(nb + 1, sizeof(double))};
	cpu_pool_run(e->pool, sq_task, &j, nb);
	double s = 0;
	for (size_t b = 0; b < nb; b++)
		s += j.part[b];
	free(j.part);
	return s;
}

struct adam_job {
	struct train_engine *e;
	const struct adamw_step *s;
};

/* torch.optim.AdamW's single-tensor update, in fp32, for tensor k of the layout. */
static void adam_task(void *ctx, size_t k, int tid)
{
	const struct adam_job *j = ctx;
	struct train_engine *e = j->e;
	const struct adamw_step *s = j->s;
	const struct train_param *p = &e->L->v[k];
	float lr = (float)s->lr, b1 = (float)s->beta1, b2 = (float)s->beta2, eps = (float)s->eps;
	float decay = p->decay ? 1.0f - (float)(s->lr * s->weight_decay) : 1.0f;
	float bc1 = 1.0f - powf(b1, (float)s->t), bc2 = 1.0f - powf(b2, (float)s->t);
	float step = lr / bc1, bc2s = sqrtf(bc2), gs = (float)s->grad_scale;
	float *w = e->w + p->off, *g = e->g + p->off, *m = e->m + p->off, *v = e->v + p->off;
	for (size_t i = 0; i < p->n; i++) {
		float gi = g[i] * gs;
		w[i] *= decay;
		m[i] = m[i] * b1 + gi * (1.0f - b1);
		v[i] = v[i] * b2 + gi * gi * (1.0f - b2);
		w[i] -= step * m[i] / (sqrtf(v[i]) / bc2s + eps);
		g[i] = 0;
	}
}

static void alloc_moments(struct train_engine *e)
{
	if (!e->m)
		e->m = falloc(e->L->total), e->v = falloc(e->L->total);
}

static int cpu_step(struct train_engine *e, const struct adamw_step *s, char *err, size_t errlen)
{
	alloc_moments(e);
	struct adam_job j = {e, s};
	cpu_pool_run(e->pool, adam_task, &j, e->L->n);
	return 0;
}

static int cpu_get_state(struct train_engine *e, float *params, float *m, float *v, char *err,
			 size_t errlen)
{
	size_t n = e->L->total * sizeof(float);
	memcpy(params, e->w, n);
	if (m)
		alloc_moments(e), memcpy(m, e->m, n), memcpy(v, e->v, n);
	return 0;
}

static int cpu_set_state(struct train_engine *e, const float *params, const float *m,
			 const float *v, char *err, size_t errlen)
{
	size_t n = e->L->total * sizeof(float);
	memcpy(e->w, params, n);
	if (m)
		alloc_moments(e), memcpy(e->m, m, n), memcpy(e->v, v, n);
	return 0;
}

const struct train_engine_ops train_cpu_ops = {
	.name = "cpu",
	.create = cpu_create,
	.destroy = cpu_destroy,
	.accumulate = cpu_accumulate,
	.features = cpu_features,
	.get_grads = cpu_get_grads,
	.set_grads = cpu_set_grads,
	.grad_sq = cpu_grad_sq,
	.step = cpu_step,
	.get_state = cpu_get_state,
	.set_state = cpu_set_state,
};
