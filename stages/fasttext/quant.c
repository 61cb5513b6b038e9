/* quant: fastText's `quantize`: optional pruning of the input rows to the -cutoff largest
 * norms (with the dictionary's prune map), optional retraining of the pruned model, then
 * product quantization (k-means, 256 centroids per sub-vector) of the input matrix, and of
 * the output matrix with -qout, norms quantized apart with -qnorm. docs/fasttext.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ft_internal.h"

/* fastText's ProductQuantizer constants. */
enum { KSUB = 256, NITER = 25, MAX_POINTS = 256 * KSUB, PQ_SEED = 1234 };
static const float PQ_EPS = 1e-7f;

void ft_quant_args_default(struct ft_quant_args *q)
{
	/* quantize parses its options over Args' defaults, not supervised's */
	*q = (struct ft_quant_args){.lr = 0.05, .epoch = 5, .thread = 12, .verbose = 2,
				    .dsub = 2};
}

int ft_quant_args_parse(struct ft_quant_args *q, int argc, char **argv)
{
	ft_quant_args_default(q);
	for (int i = 0; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool *flag = !strcmp(k, "-qnorm") ? &q->qnorm : !strcmp(k, "-qout") ? &q->qout
			   : !strcmp(k, "-retrain") ? &q->retrain : NULL;
		struct {
			const char *name;
			int *p;
			long lo, hi;
		} ints[] = {{"-epoch", &q->epoch, 1, 1000000}, {"-cutoff", &q->cutoff, 0, INT32_MAX},
			    {"-dsub", &q->dsub, 1, 65536}, {"-thread", &q->thread, 1, 1024},
			    {"-verbose", &q->verbose, 0, 10}};
		size_t j = 0;
		while (j < ARRAY_LEN(ints) && strcmp(ints[j].name, k))
			j++;
		char *end = NULL;
		if (flag) { /* fastText's flags take no value */
			*flag = true;
			continue;
		}
		if (!v) {
			err_set("'%s': expected '-option value' pairs", k);
			return -1;
		}
		i++;
		if (!strcmp(k, "-output"))
			q->output = v;
		else if (!strcmp(k, "-input"))
			q->input = v;
		else if (!strcmp(k, "-lr")) {
			q->lr = (float)strtod(v, &end); /* std::stof, as fastText */
			if (*end || !(q->lr > 0 && q->lr <= 1e6)) {
				err_set("-lr: expected a positive number, got '%s'", v);
				return -1;
			}
		} else if (j < ARRAY_LEN(ints)) {
			long x = strtol(v, &end, 10);
			if (*end || end == v || x < ints[j].lo || x > ints[j].hi) {
				err_set("%s: expected an integer in [%ld, %ld], got '%s'", k,
					ints[j].lo, ints[j].hi, v);
				return -1;
			}
			*ints[j].p = (int)x;
		} else {
			err_set("unknown option '%s'", k);
			return -1;
		}
	}
	if (!q->output) {
		err_set("-output PREFIX is required (PREFIX.bin is read, PREFIX.ftz written)");
		return -1;
	}
	return 0;
}

/* Centroids by dimension (ct[k * 256 + j] = centroid j's k-th value), so the distances to
 * all 256 are computed side by side in vector registers. */
static void transpose(const float *c, int32_t d, float *ct)
{
	for (int j = 0; j < KSUB; j++)
		for (int32_t k = 0; k < d; k++)
			ct[k * KSUB + j] = c[j * d + k];
}

/* The nearest centroid: assign_centroid's first j with a distance strictly below all before
 * it, so centroid 0 when its distance is NaN, and NaN distances never win. Each distance is
 * summed in float over the dimensions in order, as distL2. The minimum is kept per lane of
 * a block and the lanes reduced at the end: the minimum of the non-NaN values does not
 * depend on the order, and one chain of 256 dependent comparisons was most of quantize. */
typedef float v4f __attribute__((vector_size(16)));
typedef float v4fu __attribute__((vector_size(16), aligned(4))); /* an unaligned load */

static uint8_t nearest(const float *x, const float *ct, int32_t d)
{
	enum { JB = 16 }; /* centroids per block, their sums in four vector registers */
	float dist[KSUB], lane[JB], min;
	for (int j = 0; j < JB; j++)
		lane[j] = INFINITY;
	for (int j0 = 0; j0 < KSUB; j0 += JB) {
		v4f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
		for (int32_t k = 0; k < d; k++) {
			const v4fu *row = (const v4fu *)(ct + k * KSUB + j0);
			v4f t0 = x[k] - row[0], t1 = x[k] - row[1], t2 = x[k] - row[2],
			    t3 = x[k] - row[3];
			a0 += t0 * t0, a1 += t1 * t1, a2 += t2 * t2, a3 += t3 * t3;
		}
		memcpy(dist + j0, &a0, sizeof a0), memcpy(dist + j0 + 4, &a1, sizeof a1);
		memcpy(dist + j0 + 8, &a2, sizeof a2), memcpy(dist + j0 + 12, &a3, sizeof a3);
		for (int j = 0; j < JB; j++)
			lane[j] = dist[j0 + j] < lane[j] ? dist[j0 + j] : lane[j];
	}
	if (isnan(dist[0]))
		return 0;
	min = lane[0];
	for (int j = 1; j < JB; j++)
		min = lane[j] < min ? lane[j] : min;
	for (int j = 0; j < KSUB; j++)
		if (dist[j] == min)
			return (uint8_t)j;
	return 0; /* not reached: dist[0] is a number, so min is one of the distances */
}

/* MStep: means of the assigned points; an empty centroid splits a populous one (chosen at
 * random by size) into two copies pushed eps apart. */
static void mstep(const float *x, float *c, const uint8_t *codes, int32_t d, int32_t n,
		  uint32_t *rng)
{
	int32_t nelts[KSUB] = {0};
	memset(c, 0, sizeof(float) * (size_t)(d * KSUB));
	for (int32_t i = 0; i < n; i++) {
		for (int32_t j = 0; j < d; j++)
			c[codes[i] * d + j] += x[(int64_t)i * d + j];
		nelts[codes[i]]++;
	}
	for (int k = 0; k < KSUB; k++)
		for (int32_t j = 0; nelts[k] && j < d; j++)
			c[k * d + j] /= (float)nelts[k];
	for (int k = 0; k < KSUB; k++) {
		if (nelts[k])
			continue;
		int m = 0;
		while (ft_canonical(rng) * (n - KSUB) >= nelts[m] - 1)
			m = (m + 1) % KSUB;
		memcpy(c + k * d, c + m * d, sizeof(float) * (size_t)d);
		for (int32_t j = 0; j < d; j++) {
			int sign = (j % 2) * 2 - 1;
			c[k * d + j] += (float)sign * PQ_EPS;
			c[m * d + j] -= (float)sign * PQ_EPS;
		}
		nelts[k] = nelts[m] / 2;
		nelts[m] -= nelts[k];
	}
}

static void kmeans(const float *x, float *c, int32_t n, int32_t d, uint32_t *rng)
{
	int32_t *perm = xmalloc((size_t)n * sizeof *perm);
	for (int32_t i = 0; i < n; i++)
		perm[i] = i;
	ft_shuffle(perm, n, rng);
	for (int i = 0; i < KSUB; i++)
		memcpy(c + i * d, x + (int64_t)perm[i] * d, sizeof(float) * (size_t)d);
	free(perm);
	uint8_t *codes = xmalloc((size_t)n);
	float *ct = xmalloc(sizeof(float) * (size_t)(d * KSUB));
	for (int it = 0; it < NITER; it++) {
		transpose(c, d, ct);
		for (int32_t i = 0; i < n; i++)
			codes[i] = nearest(x + (int64_t)i * d, ct, d);
		mstep(x, c, codes, d, n, rng);
	}
	free(codes), free(ct);
}

/* ProductQuantizer: dim split into sub-vectors of dsub (the last one shorter if dim is not a
 * multiple), each trained on at most 65536 rows drawn at random, then every row coded. */
static int pq_build(struct ft_pq *pq, float **cent, const float *x, int64_t rows, int32_t dim,
		    int32_t dsub, uint8_t **codes)
{
	if (rows < KSUB) {
		err_set("matrix too small for quantization: %lld rows, at least %d needed",
			(long long)rows, KSUB);
		return -1;
	}
	pq->dim = dim, pq->dsub = dsub, pq->nsubq = dim / dsub, pq->lastdsub = dim % dsub;
	if (pq->lastdsub == 0)
		pq->lastdsub = dsub;
	else
		pq->nsubq++;
	if (rows * pq->nsubq > INT32_MAX) { /* the file's code count is an int32 */
		err_set("%lld rows of %d codes are too many for one .ftz", (long long)rows,
			pq->nsubq);
		return -1;
	}
	float *c = *cent = xmalloc(sizeof(float) * (size_t)dim * KSUB);
	pq->centroids = c;
	uint32_t rng = PQ_SEED;
	int32_t n = rows > INT32_MAX ? INT32_MAX : (int32_t)rows;
	int32_t np = n < MAX_POINTS ? n : MAX_POINTS;
	int32_t *perm = xmalloc((size_t)n * sizeof *perm);
	for (int32_t i = 0; i < n; i++)
		perm[i] = i;
	float *slice = xmalloc(sizeof(float) * (size_t)np * (size_t)dsub);
	for (int32_t m = 0; m < pq->nsubq; m++) {
		int32_t d = m == pq->nsubq - 1 ? pq->lastdsub : dsub;
		if (np != n)
			ft_shuffle(perm, n, &rng);
		for (int32_t j = 0; j < np; j++)
			memcpy(slice + (int64_t)j * d, x + (int64_t)perm[j] * dim + m * dsub,
			       sizeof(float) * (size_t)d);
		kmeans(slice, c + (int64_t)m * KSUB * dsub, np, d, &rng);
	}
	free(slice), free(perm);
	uint8_t *code = *codes = xmalloc((size_t)(rows * pq->nsubq));
	float *ct = xmalloc(sizeof(float) * (size_t)(dsub * KSUB));
	for (int32_t m = 0; m < pq->nsubq; m++) {
		int32_t d = m == pq->nsubq - 1 ? pq->lastdsub : dsub;
		transpose(c + (int64_t)m * KSUB * dsub, d, ct);
		for (int64_t i = 0; i < rows; i++)
			code[i * pq->nsubq + m] = nearest(x + i * dim + m * dsub, ct, d);
	}
	free(ct);
	return 0;
}

/* l2NormRow: squares of float products summed in double, then the square root. A NaN
 * weight fails (fastText: "Encountered NaN.") rather than poison k-means. */
static int row_l2(const float *r, int64_t n, int64_t row, float *out)
{
	double s = 0.0;
	for (int64_t j = 0; j < n; j++)
		s += r[j] * r[j];
	if (isnan(s)) {
		err_set("row %lld of the matrix has NaN weights", (long long)row);
		return -1;
	}
	*out = (float)sqrt(s);
	return 0;
}

/* QuantMatrix: replaces a's dense rows (owned floats) by codes; with qnorm the rows are
 * divided by their norms first and the norms get a one-dimensional quantizer of their own. */
static int quantize_matrix(struct ft_matrix *a, int32_t dsub, bool qnorm)
{
	float *x = a->owned;
	if (qnorm) {
		float *norms = xmalloc(sizeof(float) * (size_t)a->m);
		for (int64_t i = 0; i < a->m; i++) {
			float *r = x + i * a->n;
			if (row_l2(r, a->n, i, &norms[i])) {
				free(norms);
				return -1;
			}
			for (int64_t j = 0; norms[i] != 0 && j < a->n; j++)
				r[j] /= norms[i];
		}
		uint8_t *nc;
		float *ncent;
		int rc = pq_build(&a->npq, &ncent, norms, a->m, 1, 1, &nc);
		free(norms);
		if (rc)
			return -1;
		a->norm_codes = a->own_ncodes = nc, a->own_ncent = ncent;
	}
	uint8_t *codes;
	float *cent;
	if (pq_build(&a->pq, &cent, x, a->m, (int32_t)a->n, dsub, &codes))
		return -1;
	a->codes = a->own_codes = codes, a->own_cent = cent;
	a->quant = true, a->qnorm = qnorm;
	free(a->owned);
	a->owned = NULL, a->data = NULL;
	return 0;
}

/* A dense copy of a matrix that may live in the read-only map. */
static void own_matrix(struct ft_matrix *a)
{
	size_t n = (size_t)(a->m * a->n);
	float *v = xmalloc((n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = a->data[i];
	if (a->owned != v)
		free(a->owned);
	a->owned = v, a->data = v;
}

/* selectEmbeddings' order, by its std::sort: the end-of-line word first, then larger norms */
struct by_norm {
	const float *norm;
	int32_t eos;
};

static bool norm_less(const void *pa, const void *pb, const void *ctx)
{
	const struct by_norm *c = ctx;
	int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
	return a == c->eos || (b != c->eos && c->norm[a] > c->norm[b]);
}

static int row_cmp(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Dictionary::prune: the kept words in id order, then the labels; kept n-gram rows in norm
 * order, each bucket mapped to its new row. Returns the new matrix's row order. */
static int32_t *prune_dict(struct ft_dict *d, const int32_t *keep, int32_t n, int32_t *rows)
{
	int32_t *words = xmalloc(((size_t)n + 1) * sizeof *words), nw = 0, ng = 0;
	for (int32_t i = 0; i < n; i++)
		if (keep[i] < d->nwords)
			words[nw++] = keep[i];
	qsort(words, (size_t)nw, sizeof *words, row_cmp);
	int32_t *order = xmalloc(((size_t)n + 1) * sizeof *order);
	memcpy(order, words, (size_t)nw * sizeof *order);
	free(d->prune);
	d->prune = xmalloc(((size_t)n + 1) * sizeof *d->prune);
	for (int32_t i = 0; i < n; i++)
		if (keep[i] >= d->nwords) {
			d->prune[ng][0] = keep[i] - d->nwords, d->prune[ng][1] = ng;
			order[nw + ng++] = keep[i];
		}
	d->pruneidx_size = ng;
	int32_t j = 0, w = 0;
	for (int32_t i = 0; i < d->size; i++) {
		bool kept = d->words[i].type == FT_LABEL || (w < nw && words[w] == i);
		if (kept) {
			w += d->words[i].type == FT_WORD;
			d->words[j++] = d->words[i];
		} else {
			free(d->words[i].word), free(d->words[i].sub);
		}
	}
	d->nwords = nw, d->size = j;
	free(words);
	ft_dict_index(d);
	ft_dict_prune_index(d);
	ft_dict_subwords(d);
	*rows = nw + ng;
	return order;
}

/* -cutoff: keep the input rows of the largest norms (and the end-of-line word). */
static int prune_rows(struct ft_model *m, int32_t cutoff)
{
	struct ft_matrix *in = &m->in;
	float *norm = xmalloc((size_t)in->m * sizeof *norm);
	int32_t *keep = xmalloc((size_t)in->m * sizeof *keep), rows;
	for (int64_t i = 0; i < in->m; i++) {
		keep[i] = (int32_t)i;
		if (row_l2(in->owned + i * in->n, in->n, i, &norm[i])) {
			free(norm), free(keep);
			return -1;
		}
	}
	struct by_norm by = {norm, ft_dict_find(&m->dict, FT_EOS, 4, ft_hash(FT_EOS, 4))};
	ft_sort(keep, (long)in->m, sizeof *keep, norm_less, &by);
	free(norm);
	int32_t *order = prune_dict(&m->dict, keep, cutoff, &rows);
	float *x = xmalloc(sizeof(float) * (size_t)rows * (size_t)in->n);
	for (int32_t i = 0; i < rows; i++)
		memcpy(x + (int64_t)i * in->n, in->owned + (int64_t)order[i] * in->n,
		       sizeof(float) * (size_t)in->n);
	free(order), free(keep), free(in->owned);
	in->owned = x, in->data = x, in->m = rows;
	return 0;
}

int ft_quantize(struct ft_model *m, const struct ft_quant_args *q)
{
	if (m->in.quant) {
		err_set("the model is already quantized");
		return -1;
	}
	if (q->dsub < 1) { /* above dim is one sub-vector of dim, as in fastText */
		err_set("-dsub %d: expected a positive size", q->dsub);
		return -1;
	}
	if (q->retrain && q->cutoff > 0 && !q->input) {
		err_set("-retrain needs -input FILE");
		return -1;
	}
	own_matrix(&m->in);
	own_matrix(&m->out);
	if (q->cutoff > 0 && q->cutoff < m->in.m) {
		if (prune_rows(m, q->cutoff))
			return -1;
		if (q->retrain) {
			m->args.input = q->input, m->args.epoch = q->epoch, m->args.lr = q->lr;
			m->args.thread = q->thread, m->args.verbose = q->verbose;
			if (ft_train_model(m, &m->args))
				return -1;
		}
	}
	if (quantize_matrix(&m->in, q->dsub, q->qnorm))
		return -1;
	m->qout = q->qout;
	if (q->qout && quantize_matrix(&m->out, 2, q->qnorm)) /* fastText: dsub 2 for output */
		return -1;
	return 0;
}
