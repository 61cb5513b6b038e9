/* model: reading fastText .bin/.ftz files (checked field by field, so a malformed or
 * truncated file fails with its offset), the matrix arithmetic of dense and product-quantized
 * matrices, and prediction with softmax, one-vs-all and hierarchical softmax, all in
 * fastText's float32 order of operations. Writing .bin is here too; training is in train.c. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ft_internal.h"

/* A bounds-checked cursor over the file. */
struct rd {
	const uint8_t *p;
	size_t n, off;
	const char *name;
	int bad;
};

static const void *rd_take(struct rd *r, size_t k, const char *what)
{
	if (r->bad)
		return NULL;
	if (k > r->n - r->off) {
		err_set("%s: offset %zu: truncated: %s needs %zu bytes, %zu left", r->name, r->off,
			what, k, r->n - r->off);
		r->bad = 1;
		return NULL;
	}
	const void *p = r->p + r->off;
	r->off += k;
	return p;
}

static int64_t rd_int(struct rd *r, size_t k, const char *what)
{
	const void *p = rd_take(r, k, what);
	if (!p)
		return 0;
	if (k == 1)
		return *(const int8_t *)p;
	if (k == 4) {
		int32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	int64_t v;
	memcpy(&v, p, 8);
	return v;
}

static int rd_fail(struct rd *r, size_t off, const char *fmt, long long v)
{
	if (!r->bad) {
		char msg[200];
		snprintf(msg, sizeof msg, fmt, v);
		err_set("%s: offset %zu: %s", r->name, off, msg);
	}
	r->bad = 1;
	return -1;
}

static int read_args(struct rd *r, struct ft_model *m)
{
	struct ft_args *a = &m->args;
	ft_args_default(a);
	int32_t v[12];
	for (int i = 0; i < 12; i++)
		v[i] = (int32_t)rd_int(r, 4, "args");
	const void *t = rd_take(r, 8, "args.t");
	if (r->bad)
		return -1;
	memcpy(&a->t, t, 8);
	a->dim = v[0], a->ws = v[1], a->epoch = v[2], a->min_count = v[3], a->neg = v[4];
	a->word_ngrams = v[5], a->loss = (enum ft_loss)v[6], m->kind = (enum ft_model_kind)v[7];
	a->bucket = v[8], a->minn = v[9], a->maxn = v[10], a->lr_update_rate = v[11];
	if (a->dim < 1 || a->dim > 1 << 16)
		return rd_fail(r, 8, "dim %lld is out of range [1, 65536]", a->dim);
	if (a->loss < FT_LOSS_HS || a->loss > FT_LOSS_OVA)
		return rd_fail(r, 32, "unknown loss %lld", a->loss);
	if (m->kind != FT_MODEL_SUP)
		return rd_fail(r, 36, "model kind %lld is not a supervised classifier", m->kind);
	if (a->bucket < 0)
		return rd_fail(r, 40, "negative bucket count %lld", a->bucket);
	if (m->version == 11)
		a->maxn = 0; /* fastText: old supervised models have no character n-grams */
	return 0;
}

static int read_dict(struct rd *r, struct ft_model *m)
{
	struct ft_dict *d = &m->dict;
	ft_dict_init(d, &m->args);
	size_t at = r->off;
	int32_t size = (int32_t)rd_int(r, 4, "dict.size");
	d->nwords = (int32_t)rd_int(r, 4, "dict.nwords");
	d->nlabels = (int32_t)rd_int(r, 4, "dict.nlabels");
	d->ntokens = rd_int(r, 8, "dict.ntokens");
	d->pruneidx_size = rd_int(r, 8, "dict.pruneidx_size");
	if (r->bad)
		return -1;
	if (size < 0 || d->nwords < 0 || d->nlabels < 1 || (int64_t)d->nwords + d->nlabels != size)
		return rd_fail(r, at, "inconsistent dictionary sizes (size %lld)", size);
	if ((size_t)size > (r->n - r->off) / 10) /* each entry takes at least 10 bytes */
		return rd_fail(r, at, "dictionary of %lld entries is longer than the file", size);
	d->words = xcalloc((size_t)size + 1, sizeof *d->words);
	for (int32_t i = 0; i < size; i++) {
		const char *s = (const char *)r->p + r->off;
		const char *z = memchr(s, 0, r->n - r->off);
		if (!z)
			return rd_fail(r, r->off, "entry %lld: unterminated word", i);
		struct ft_entry *e = &d->words[i];
		e->word = xstrndup(s, (size_t)(z - s));
		d->size = i + 1;
		r->off += (size_t)(z - s) + 1;
		e->count = rd_int(r, 8, "entry count");
		size_t toff = r->off;
		e->type = (int8_t)rd_int(r, 1, "entry type");
		if (r->bad)
			return -1;
		if (e->type != (i < d->nwords ? FT_WORD : FT_LABEL))
			return rd_fail(r, toff, "entry %lld: wrong type (words come before labels)", i);
		/* hierarchical softmax builds its tree on label counts below 1e15, its sentinel */
		if (e->type == FT_LABEL && (e->count < 0 || e->count >= (int64_t)1e15))
			return rd_fail(r, toff - 8, "label count %lld out of range", e->count);
	}
	if (d->pruneidx_size > 0) {
		if ((uint64_t)d->pruneidx_size > (r->n - r->off) / 8)
			return rd_fail(r, r->off, "prune index of %lld pairs is longer than the file",
				       d->pruneidx_size);
		d->prune = xmalloc((size_t)d->pruneidx_size * sizeof *d->prune);
		for (int64_t i = 0; i < d->pruneidx_size; i++) {
			d->prune[i][0] = (int32_t)rd_int(r, 4, "prune index");
			d->prune[i][1] = (int32_t)rd_int(r, 4, "prune index");
		}
	}
	return r->bad ? -1 : 0;
}

static int read_pq(struct rd *r, struct ft_pq *pq, const char *what)
{
	size_t at = r->off;
	pq->dim = (int32_t)rd_int(r, 4, what);
	pq->nsubq = (int32_t)rd_int(r, 4, what);
	pq->dsub = (int32_t)rd_int(r, 4, what);
	pq->lastdsub = (int32_t)rd_int(r, 4, what);
	if (r->bad)
		return -1;
	if (pq->dim < 1 || pq->nsubq < 1 || pq->dsub < 1 || pq->lastdsub < 1 ||
	    (int64_t)(pq->nsubq - 1) * pq->dsub + pq->lastdsub != pq->dim)
		return rd_fail(r, at, "inconsistent product quantizer (dim %lld)", pq->dim);
	pq->centroids = rd_take(r, (size_t)pq->dim * 256 * sizeof(float), what);
	return r->bad ? -1 : 0;
}

static int read_matrix(struct rd *r, struct ft_matrix *a, bool quant, const char *what)
{
	size_t at = r->off;
	a->quant = quant;
	if (quant)
		a->qnorm = rd_int(r, 1, what) != 0;
	a->m = rd_int(r, 8, what);
	a->n = rd_int(r, 8, what);
	if (r->bad)
		return -1;
	if (a->m < 0 || a->n < 1 || a->n > 1 << 16)
		return rd_fail(r, at, "bad matrix shape (%lld rows)", a->m);
	if (!quant) {
		if ((uint64_t)a->m > (r->n - r->off) / 4 / (uint64_t)a->n)
			return rd_fail(r, at, "matrix of %lld rows is longer than the file", a->m);
		a->data = (ft_ufloat *)rd_take(r, (size_t)(a->m * a->n) * 4, what);
		return r->bad ? -1 : 0;
	}
	int64_t codesize = rd_int(r, 4, what);
	if (r->bad || codesize < 0)
		return rd_fail(r, at, "bad code size %lld", codesize);
	a->codes = rd_take(r, (size_t)codesize, what);
	if (read_pq(r, &a->pq, what))
		return -1;
	if (a->pq.dim != a->n || codesize / a->pq.nsubq < a->m)
		return rd_fail(r, at, "quantized matrix codes do not cover %lld rows", a->m);
	if (a->qnorm) {
		a->norm_codes = rd_take(r, (size_t)a->m, what);
		if (read_pq(r, &a->npq, what))
			return -1;
	}
	return r->bad ? -1 : 0;
}

/* The rows a line can reach must exist: words, and n-gram buckets or pruned rows. */
static int check_shapes(struct rd *r, struct ft_model *m)
{
	const struct ft_dict *d = &m->dict;
	if (m->in.n != m->args.dim || m->out.n != m->args.dim)
		return rd_fail(r, r->off, "matrix width differs from dim %lld", m->args.dim);
	if (m->out.m != d->nlabels)
		return rd_fail(r, r->off, "output matrix has %lld rows, not one per label", m->out.m);
	if (d->pruneidx_size < 0 && m->in.m != (int64_t)d->nwords + m->args.bucket)
		return rd_fail(r, r->off, "input matrix has %lld rows, not words + buckets", m->in.m);
	if (m->in.m < d->nwords)
		return rd_fail(r, r->off, "input matrix has %lld rows, fewer than words", m->in.m);
	for (int64_t i = 0; i < (d->pruneidx_size > 0 ? d->pruneidx_size : 0); i++)
		if (d->prune[i][1] < 0 || d->prune[i][1] >= m->in.m - d->nwords)
			return rd_fail(r, r->off, "prune index row %lld out of range", d->prune[i][1]);
	if (!m->in.quant && d->pruneidx_size >= 0)
		return rd_fail(r, r->off, "pruned dictionary (%lld pairs) with a dense input matrix",
			       d->pruneidx_size);
	return 0;
}

struct ft_model *ft_model_parse(const void *data, size_t size, const char *name)
{
	struct rd r = {data, size, 0, name, 0};
	struct ft_model *m = xcalloc(1, sizeof *m);
	int64_t magic = rd_int(&r, 4, "magic");
	m->version = (int)rd_int(&r, 4, "version");
	if (!r.bad && magic != FT_MAGIC)
		rd_fail(&r, 0, "not a fastText model (magic %lld)", magic);
	if (!r.bad && (m->version < 0 || m->version > FT_VERSION))
		rd_fail(&r, 4, "unsupported fastText file version %lld", m->version);
	if (r.bad || read_args(&r, m) || read_dict(&r, m))
		goto fail;
	bool quant = rd_int(&r, 1, "quant flag") != 0;
	if (r.bad || read_matrix(&r, &m->in, quant, "input matrix"))
		goto fail;
	m->qout = rd_int(&r, 1, "qout flag") != 0;
	if (r.bad || read_matrix(&r, &m->out, quant && m->qout, "output matrix"))
		goto fail;
	if (check_shapes(&r, m))
		goto fail;
	ft_dict_index(&m->dict);
	ft_dict_prune_index(&m->dict);
	ft_dict_subwords(&m->dict);
	ft_model_tables(m);
	if (m->args.loss == FT_LOSS_HS && ft_model_build_tree(m)) {
		err_set("%s: label counts do not form a Huffman tree", name);
		goto fail;
	}
	return m;
fail:
	ft_model_free(m);
	return NULL;
}

struct ft_model *ft_model_open(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		err_set("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err_set("%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	size_t n = (size_t)st.st_size;
	void *map = n ? mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	close(fd);
	if (n && map == MAP_FAILED) {
		err_set("%s: mmap: %s", path, strerror(errno));
		return NULL;
	}
	struct ft_model *m = ft_model_parse(n ? map : "", n, path);
	if (!m) {
		if (n)
			munmap(map, n);
		return NULL;
	}
	m->map = map, m->map_size = n;
	return m;
}

void ft_model_free(struct ft_model *m)
{
	if (!m)
		return;
	for (int32_t i = 0; m->paths && i < m->dict.nlabels; i++)
		free(m->paths[i]), free(m->codes[i]);
	ft_dict_release(&m->dict);
	struct ft_matrix *mat[2] = {&m->in, &m->out};
	for (int i = 0; i < 2; i++) {
		free(mat[i]->owned), free(mat[i]->own_codes), free(mat[i]->own_ncodes);
		free(mat[i]->own_cent), free(mat[i]->own_ncent);
	}
	free(m->tree);
	free(m->paths);
	free(m->codes);
	free(m->pathlen);
	free(m->negatives);
	if (m->map)
		munmap(m->map, m->map_size);
	free(m);
}

/* loss.cc's tables, with its mix of float and double arithmetic. */
void ft_model_tables(struct ft_model *m)
{
	for (int i = 0; i <= 512; i++) {
		float x = (float)(i * 2 * 8) / 512 - 8;
		m->t_sigmoid[i] = (float)(1.0 / (1.0 + (double)expf(-x)));
		float y = (float)(((double)(float)i + 1e-5) / 512);
		m->t_log[i] = logf(y);
	}
}

float ft_sigmoid(const struct ft_model *m, float x)
{
	if (x < -8)
		return 0.0f;
	if (x > 8)
		return 1.0f;
	if (x != x) /* NaN weights: fastText throws; any answer beats undefined behaviour */
		return 0.0f;
	return m->t_sigmoid[(int64_t)((x + 8) * 512 / 8 / 2)];
}

float ft_log(const struct ft_model *m, float x)
{
	if (x > 1.0f)
		return 0.0f;
	if (!(x >= 0.0f))
		return m->t_log[0];
	return m->t_log[(int64_t)(x * 512)];
}

static float std_log(float x) { return (float)log((double)x + 1e-5); }

float ft_pred_prob(const struct ft_pred *p) { return expf(p->logp); }

int ft_model_build_tree(struct ft_model *m)
{
	int32_t osz = m->dict.nlabels, nn = 2 * osz - 1;
	struct ft_node *t = m->tree = xcalloc((size_t)nn, sizeof *t);
	for (int32_t i = 0; i < nn; i++)
		t[i] = (struct ft_node){-1, -1, -1, (int64_t)1e15, false};
	for (int32_t i = 0; i < osz; i++)
		t[i].count = m->dict.words[m->dict.nwords + i].count;
	int32_t leaf = osz - 1, node = osz;
	for (int32_t i = osz; i < nn; i++) {
		int32_t mini[2];
		for (int j = 0; j < 2; j++)
			mini[j] = leaf >= 0 && t[leaf].count < t[node].count ? leaf-- : node++;
		if (mini[0] >= i || mini[1] >= i) {
			err_set("label counts do not form a Huffman tree");
			return -1;
		}
		t[i].left = mini[0], t[i].right = mini[1];
		if (__builtin_add_overflow(t[mini[0]].count, t[mini[1]].count, &t[i].count))
			t[i].count = INT64_MAX;
		t[mini[0]].parent = i, t[mini[1]].parent = i;
		t[mini[1]].binary = true;
	}
	m->paths = xcalloc((size_t)osz, sizeof *m->paths);
	m->codes = xcalloc((size_t)osz, sizeof *m->codes);
	m->pathlen = xcalloc((size_t)osz, sizeof *m->pathlen);
	for (int32_t i = 0; i < osz; i++) {
		int32_t len = 0;
		for (int32_t j = i; t[j].parent != -1; j = t[j].parent)
			len++;
		m->paths[i] = xmalloc((size_t)(len + 1) * sizeof **m->paths);
		m->codes[i] = xmalloc((size_t)(len + 1) * sizeof **m->codes);
		m->pathlen[i] = len;
		len = 0;
		for (int32_t j = i; t[j].parent != -1; j = t[j].parent, len++) {
			m->paths[i][len] = t[j].parent - osz;
			m->codes[i][len] = t[j].binary;
		}
	}
	return 0;
}

/* Matrix arithmetic in fastText's order (float accumulation, no reassociation). */
static const ft_ufloat *centroid(const struct ft_pq *pq, int32_t m, uint8_t i)
{
	if (m == pq->nsubq - 1)
		return &pq->centroids[(int64_t)m * 256 * pq->dsub + i * pq->lastdsub];
	return &pq->centroids[((int64_t)m * 256 + i) * pq->dsub];
}

static inline float row_norm(const struct ft_matrix *a, int64_t row)
{
	/* the norm quantizer has one sub-vector of one dimension: centroid i is float i */
	return a->qnorm ? a->npq.centroids[a->norm_codes[row]] : 1.0f;
}

float ft_dot(const struct ft_matrix *a, const float *v, int64_t row)
{
	if (!a->quant) {
		const ft_ufloat *r = a->data + row * a->n;
		float d = 0.0f;
		for (int64_t j = 0; j < a->n; j++)
			d += r[j] * v[j];
		return d;
	}
	/* mulcode: the sub-vectors in order, the shorter last one apart */
	const struct ft_pq *pq = &a->pq;
	const uint8_t *code = a->codes + (int64_t)pq->nsubq * row;
	int32_t ds = pq->dsub, last = pq->nsubq - 1;
	float res = 0.0f;
	for (int32_t m = 0; m < last; m++) {
		const ft_ufloat *c = pq->centroids + ((int64_t)m * 256 + code[m]) * ds;
		for (int32_t k = 0; k < ds; k++)
			res += v[m * ds + k] * c[k];
	}
	const ft_ufloat *c = centroid(pq, last, code[last]);
	for (int32_t k = 0; k < pq->lastdsub; k++)
		res += v[last * ds + k] * c[k];
	return res * row_norm(a, row);
}

/* v += scale * row (scaled) or v += row, as addRowToVector's two forms. */
void ft_add_row(const struct ft_matrix *a, float *v, int64_t row, float scale, bool scaled)
{
	if (!a->quant) {
		const ft_ufloat *r = a->data + row * a->n;
		if (scaled)
			for (int64_t j = 0; j < a->n; j++)
				v[j] += scale * r[j];
		else
			for (int64_t j = 0; j < a->n; j++)
				v[j] += r[j];
		return;
	}
	/* addcode: every element is updated once, so the order of the sub-vectors is free;
	 * the loop over the full ones is kept free of the last one's test */
	const struct ft_pq *pq = &a->pq;
	const uint8_t *code = a->codes + (int64_t)pq->nsubq * row;
	float alpha = scaled ? scale * row_norm(a, row) : row_norm(a, row);
	int32_t ds = pq->dsub, last = pq->nsubq - 1;
	for (int32_t m = 0; m < last; m++) {
		const ft_ufloat *c = pq->centroids + ((int64_t)m * 256 + code[m]) * ds;
		for (int32_t k = 0; k < ds; k++)
			v[m * ds + k] += alpha * c[k];
	}
	const ft_ufloat *c = centroid(pq, last, code[last]);
	for (int32_t k = 0; k < pq->lastdsub; k++)
		v[last * ds + k] += alpha * c[k];
}

void ft_hidden(const struct ft_model *m, struct ft_state *s)
{
	int dim = m->args.dim;
	memset(s->hidden, 0, (size_t)dim * sizeof *s->hidden);
	for (size_t i = 0; i < s->nids; i++)
		ft_add_row(&m->in, s->hidden, s->ids[i], 0, false);
	float inv = (float)(1.0 / (double)s->nids);
	for (int j = 0; j < dim; j++)
		s->hidden[j] *= inv;
}

void ft_softmax_output(const struct ft_model *m, struct ft_state *s)
{
	int32_t osz = m->dict.nlabels;
	float *o = s->output;
	for (int32_t i = 0; i < osz; i++)
		o[i] = ft_dot(&m->out, s->hidden, i);
	float max = o[0], z = 0.0f;
	for (int32_t i = 0; i < osz; i++)
		max = o[i] > max ? o[i] : max;
	for (int32_t i = 0; i < osz; i++) {
		o[i] = (float)exp((double)(o[i] - max));
		z += o[i];
	}
	for (int32_t i = 0; i < osz; i++)
		o[i] /= z;
}

struct ft_state *ft_state_new(const struct ft_model *m)
{
	struct ft_state *s = xcalloc(1, sizeof *s);
	size_t dim = (size_t)m->args.dim, osz = (size_t)m->dict.nlabels;
	s->hidden = xcalloc(dim, sizeof *s->hidden);
	s->grad = xcalloc(dim, sizeof *s->grad);
	s->output = xcalloc(osz, sizeof *s->output);
	s->heap = xcalloc(osz + 1, sizeof *s->heap);
	return s;
}

void ft_state_free(struct ft_state *s)
{
	if (!s)
		return;
	free(s->hidden), free(s->grad), free(s->output), free(s->heap);
	free(s->ids), free(s->labels), free(s->hashes);
	free(s);
}

/* The k best of findKBest and dfs, kept as fastText keeps them: a vector under push_heap and
 * pop_heap with comparePairs (a.first > b.first: the front is the lowest score kept), put in
 * order by sort_heap. Equal scores are common (ns and ova read sigmoids from a table of 512
 * steps), and they must come out in the order those algorithms leave them, or P@1 and the
 * printed labels differ from fastText's. */
static bool pred_less(const void *a, const void *b, const void *ctx)
{
	(void)ctx;
	return ((const struct ft_pred *)a)->logp > ((const struct ft_pred *)b)->logp;
}

static void heap_offer(struct ft_state *s, int k, float logp, int32_t label)
{
	if (s->nheap == k && logp < s->heap[0].logp)
		return;
	s->heap[s->nheap++] = (struct ft_pred){logp, label};
	ft_push_heap(s->heap, s->nheap, sizeof *s->heap, pred_less, NULL);
	if (s->nheap > k)
		ft_pop_heap(s->heap, s->nheap--, sizeof *s->heap, pred_less, NULL);
}

/* HS: fastText's dfs, with an explicit stack so a deep tree cannot overflow ours. */
static void hs_predict(const struct ft_model *m, struct ft_state *s, int k, float threshold)
{
	int32_t osz = m->dict.nlabels;
	struct item {
		int32_t node;
		float score;
	} *st = xmalloc((size_t)(2 * osz) * sizeof *st);
	int n = 0;
	float lt = std_log(threshold);
	st[n++] = (struct item){2 * osz - 2, 0.0f};
	while (n) {
		struct item it = st[--n];
		if (it.score < lt || (s->nheap == k && it.score < s->heap[0].logp))
			continue;
		const struct ft_node *t = &m->tree[it.node];
		if (t->left == -1 && t->right == -1) {
			heap_offer(s, k, it.score, it.node);
			continue;
		}
		float f = ft_dot(&m->out, s->hidden, it.node - osz);
		f = (float)(1. / (double)(1 + expf(-f)));
		/* the left child is explored first, as in the recursion */
		st[n++] = (struct item){t->right, it.score + std_log(f)};
		st[n++] = (struct item){t->left, it.score + std_log((float)(1.0 - (double)f))};
	}
	free(st);
}

int ft_predict(const struct ft_model *m, struct ft_state *s, const char *text, size_t n, int k,
	       float threshold, struct ft_pred *out)
{
	size_t used;
	ft_dict_line(&m->dict, s, text, n, &used);
	int32_t osz = m->dict.nlabels;
	if (!s->nids || k == 0)
		return 0;
	if (k < 0 || k > osz)
		k = osz;
	ft_hidden(m, s);
	s->nheap = 0;
	if (m->args.loss == FT_LOSS_HS) {
		hs_predict(m, s, k, threshold);
	} else {
		if (m->args.loss == FT_LOSS_SOFTMAX) {
			ft_softmax_output(m, s);
		} else {
			for (int32_t i = 0; i < osz; i++)
				s->output[i] = ft_sigmoid(m, ft_dot(&m->out, s->hidden, i));
		}
		for (int32_t i = 0; i < osz; i++)
			if (!(s->output[i] < threshold))
				heap_offer(s, k, std_log(s->output[i]), i);
	}
	ft_sort_heap(s->heap, s->nheap, sizeof *s->heap, pred_less, NULL);
	memcpy(out, s->heap, (size_t)s->nheap * sizeof *out);
	return s->nheap;
}

int ft_model_dim(const struct ft_model *m) { return m->args.dim; }
int ft_model_nlabels(const struct ft_model *m) { return m->dict.nlabels; }

const char *ft_model_label(const struct ft_model *m, int i)
{
	return i >= 0 && i < m->dict.nlabels ? m->dict.words[m->dict.nwords + i].word : NULL;
}

int ft_model_label_id(const struct ft_model *m, const char *label)
{
	int32_t id = ft_dict_find(&m->dict, label, strlen(label), ft_hash(label, strlen(label)));
	return id >= m->dict.nwords ? id - m->dict.nwords : -1;
}
