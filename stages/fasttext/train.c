/* train: fastText's supervised training (Hogwild SGD over threads, each reading its own slice
 * of the file, learning rate decaying linearly with the tokens processed), its options, and
 * writing the .bin and .vec files fastText writes. Thread timing changes the result in the
 * last bits as it does in fastText; -thread 1 is reproducible. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ft_internal.h"

void ft_args_default(struct ft_args *a)
{
	*a = (struct ft_args){
		.label = "__label__", .lr = 0.1, .t = 1e-4, .lr_update_rate = 100, .dim = 100,
		.ws = 5, .epoch = 5, .min_count = 1, .min_count_label = 0, .neg = 5,
		.word_ngrams = 1, .bucket = 2000000, .minn = 0, .maxn = 0, .thread = 12,
		.verbose = 2, .seed = 0, .loss = FT_LOSS_SOFTMAX,
	};
}

static int parse_num(const char *name, const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno || end == v || *end || !(x >= lo && x <= hi)) {
		err_set("-%s: expected a number in [%g, %g], got '%s'", name, lo, hi, v);
		return -1;
	}
	*out = x;
	return 0;
}

static int set_loss(struct ft_args *a, const char *v)
{
	if (!strcmp(v, "softmax"))
		a->loss = FT_LOSS_SOFTMAX;
	else if (!strcmp(v, "hs"))
		a->loss = FT_LOSS_HS;
	else if (!strcmp(v, "ova") || !strcmp(v, "one-vs-all"))
		a->loss = FT_LOSS_OVA;
	else if (!strcmp(v, "ns"))
		a->loss = FT_LOSS_NS;
	else {
		err_set("-loss: '%s' is not one of softmax, hs, ns, ova", v);
		return -1;
	}
	return 0;
}

int ft_args_parse(struct ft_args *a, int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t off;
		double lo, hi;
	} ints[] = {
#define I(n, f, lo, hi) {n, offsetof(struct ft_args, f), lo, hi}
		I("lrUpdateRate", lr_update_rate, 1, 1e9), I("dim", dim, 1, 65536),
		I("ws", ws, 1, 1e6), I("epoch", epoch, 1, 1e6), I("minCount", min_count, 0, 1e9),
		I("minCountLabel", min_count_label, 0, 1e9), I("neg", neg, 0, 1e6),
		I("wordNgrams", word_ngrams, 1, 100), I("bucket", bucket, 0, 2e9),
		I("minn", minn, 0, 100), I("maxn", maxn, 0, 100), I("thread", thread, 1, 1024),
		I("verbose", verbose, 0, 10), I("seed", seed, -2e9, 2e9),
#undef I
	};
	for (int i = 0; i < argc; i += 2) {
		const char *k = argv[i];
		if (k[0] != '-' || i + 1 >= argc) {
			err_set("'%s': expected '-option value' pairs", k);
			return -1;
		}
		const char *v = argv[i + 1], *name = k + 1;
		double x;
		if (!strcmp(name, "input"))
			a->input = v;
		else if (!strcmp(name, "output"))
			a->output = v;
		else if (!strcmp(name, "label"))
			a->label = v;
		else if (!strcmp(name, "loss")) {
			if (set_loss(a, v))
				return -1;
		} else if (!strcmp(name, "lr") || !strcmp(name, "t")) {
			if (parse_num(name, v, 0, 1e6, &x))
				return -1;
			/* fastText reads both with std::stof: a float, widened */
			*(name[0] == 'l' ? &a->lr : &a->t) = (float)x;
		} else {
			size_t j = 0;
			while (j < ARRAY_LEN(ints) && strcmp(ints[j].name, name))
				j++;
			if (j == ARRAY_LEN(ints)) {
				err_set("unknown option '%s'", k);
				return -1;
			}
			if (parse_num(name, v, ints[j].lo, ints[j].hi, &x))
				return -1;
			*(int *)((char *)a + ints[j].off) = (int)x;
		}
	}
	if (!a->input || !a->output) {
		err_set("-input and -output are required");
		return -1;
	}
	if (a->word_ngrams <= 1 && a->maxn == 0)
		a->bucket = 0; /* fastText: no n-grams, no buckets */
	return 0;
}

/* NegativeSamplingLoss's table: label i fills a share of 10^7 slots proportional to the
 * square root of its count, with fastText's float arithmetic deciding each share's size. */
static int negatives_table(struct ft_model *m)
{
	const struct ft_dict *d = &m->dict;
	float z = 0.0f;
	for (int32_t i = 0; i < d->nlabels; i++)
		z = (float)((double)z + pow((double)d->words[d->nwords + i].count, 0.5));
	size_t n = 0, cap = 1 << 20;
	int32_t *t = xmalloc(cap * sizeof *t);
	for (int32_t i = 0; i < d->nlabels; i++) {
		float c = (float)pow((double)d->words[d->nwords + i].count, 0.5);
		float bound = c * 10000000.0f / z;
		for (size_t j = 0; (float)j < bound; j++) {
			if (n == cap)
				t = xrealloc(t, (cap *= 2) * sizeof *t);
			t[n++] = i;
		}
	}
	free(m->negatives);
	m->negatives = t, m->nnegatives = n;
	/* a negative must differ from the target: fastText would redraw forever */
	for (size_t i = 1; i < n; i++)
		if (t[i] != t[0])
			return 0;
	err_set("-loss ns needs two labels or more with a nonzero count");
	return -1;
}

struct trainer {
	struct ft_model *m;
	const struct ft_args *a;
	int64_t ntokens, file_size;
	int64_t token_count; /* shared, atomic */
	double loss;
	int error;
};

struct worker {
	struct trainer *tr;
	int id;
	pthread_t th;
};

static float bin_logistic(struct ft_model *m, struct ft_state *s, int32_t row, bool pos, float lr)
{
	float score = ft_sigmoid(m, ft_dot(&m->out, s->hidden, row));
	float alpha = lr * ((float)pos - score);
	ft_add_row(&m->out, s->grad, row, alpha, true);
	float *w = m->out.owned + (int64_t)row * m->args.dim;
	for (int j = 0; j < m->args.dim; j++)
		w[j] += alpha * s->hidden[j];
	return pos ? -ft_log(m, score) : -ft_log(m, (float)(1.0 - (double)score));
}

static float softmax_forward(struct ft_model *m, struct ft_state *s, int32_t target, float lr)
{
	ft_softmax_output(m, s);
	for (int32_t i = 0; i < m->dict.nlabels; i++) {
		float label = i == target ? 1.0f : 0.0f;
		float alpha = lr * (label - s->output[i]);
		ft_add_row(&m->out, s->grad, i, alpha, true);
		float *w = m->out.owned + (int64_t)i * m->args.dim;
		for (int j = 0; j < m->args.dim; j++)
			w[j] += alpha * s->hidden[j];
	}
	return -ft_log(m, s->output[target]);
}

/* The positive label, then -neg negatives drawn from the table, never the label itself. */
static float ns_forward(struct ft_model *m, struct ft_state *s, int32_t target, float lr)
{
	float loss = bin_logistic(m, s, target, true, lr);
	for (int n = 0; n < m->args.neg; n++) {
		int32_t neg;
		do
			neg = m->negatives[ft_uniform(&s->rng, (uint64_t)m->nnegatives)];
		while (neg == target);
		loss += bin_logistic(m, s, neg, false, lr);
	}
	return loss;
}

static void update(struct ft_model *m, struct ft_state *s, float lr)
{
	if (!s->nlabels || !s->nids)
		return;
	ft_hidden(m, s);
	memset(s->grad, 0, (size_t)m->args.dim * sizeof *s->grad);
	float loss = 0;
	if (m->args.loss == FT_LOSS_OVA) {
		for (int32_t i = 0; i < m->dict.nlabels; i++) {
			bool match = false;
			for (size_t j = 0; j < s->nlabels; j++)
				match |= s->labels[j] == i;
			loss += bin_logistic(m, s, i, match, lr);
		}
	} else {
		/* one of the line's labels at random from the thread's own generator (a draw
		 * even for one label, as fastText's uniform_int_distribution) */
		int32_t target = s->labels[ft_uniform(&s->rng, s->nlabels)];
		if (m->args.loss == FT_LOSS_HS)
			for (int32_t i = 0; i < m->pathlen[target]; i++)
				loss += bin_logistic(m, s, m->paths[target][i], m->codes[target][i], lr);
		else if (m->args.loss == FT_LOSS_NS)
			loss = ns_forward(m, s, target, lr);
		else
			loss = softmax_forward(m, s, target, lr);
	}
	s->loss += loss;
	s->nexamples++;
	float inv = (float)(1.0 / (double)s->nids);
	for (int j = 0; j < m->args.dim; j++)
		s->grad[j] *= inv;
	for (size_t i = 0; i < s->nids; i++) {
		float *w = m->in.owned + (int64_t)s->ids[i] * m->args.dim;
		for (int j = 0; j < m->args.dim; j++)
			w[j] += 1.0f * s->grad[j];
	}
}

static void *train_thread(void *arg)
{
	struct worker *w = arg;
	struct trainer *tr = w->tr;
	struct ft_model *m = tr->m;
	FILE *f = fopen(tr->a->input, "rb");
	if (!f) {
		__atomic_store_n(&tr->error, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	fseeko(f, (off_t)(w->id * tr->file_size / tr->a->thread), SEEK_SET);
	struct ft_state *s = ft_state_new(m);
	s->rng = ft_minstd_seed((int64_t)w->id + tr->a->seed);
	const int64_t total = (int64_t)tr->a->epoch * tr->ntokens;
	int64_t local = 0;
	char *line = NULL;
	size_t cap = 0;
	while (__atomic_load_n(&tr->token_count, __ATOMIC_RELAXED) < total) {
		int64_t done = __atomic_load_n(&tr->token_count, __ATOMIC_RELAXED);
		float progress = (float)done / (float)total;
		float lr = (float)(tr->a->lr * (1.0 - progress));
		ssize_t got = getline(&line, &cap, f);
		if (got <= 0) { /* fastText starts over at the end of the file */
			clearerr(f);
			fseeko(f, 0, SEEK_SET);
			got = 0;
		}
		size_t used;
		local += ft_dict_line(&m->dict, s, line ? line : "", (size_t)got, &used);
		update(m, s, lr);
		if (local > tr->a->lr_update_rate) {
			__atomic_add_fetch(&tr->token_count, local, __ATOMIC_RELAXED);
			local = 0;
		}
	}
	if (w->id == 0)
		tr->loss = s->nexamples ? s->loss / (double)s->nexamples : 0;
	free(line);
	fclose(f);
	ft_state_free(s);
	return NULL;
}

/* fastText 0.9.2's DenseMatrix::uniform, as it is: -thread blocks of a tenth of the matrix,
 * block b drawn from minstd_rand(b + seed) over [-a, a] with a = float(1 / dim); whatever no
 * block reaches stays zero (with one thread, nine tenths of the rows, most n-gram buckets
 * among them). A model trained with the same options then starts where fastText's does. */
static void init_matrices(struct ft_model *m)
{
	int64_t dim = m->args.dim, rows = (int64_t)m->dict.nwords + m->args.bucket;
	int64_t total = rows * dim, block = total / 10;
	m->in = (struct ft_matrix){.m = rows, .n = dim};
	m->in.owned = xcalloc((size_t)total, sizeof(float));
	m->in.data = m->in.owned;
	double lim = (float)(1.0 / (double)dim);
	for (int b = 0; b < m->args.thread; b++) {
		uint32_t rng = ft_minstd_seed((int64_t)b + m->args.seed);
		for (int64_t i = block * b; i < total && i < block * (b + 1); i++)
			m->in.owned[i] = (float)(ft_canonical(&rng) * (lim - -lim) + -lim);
	}
	m->out = (struct ft_matrix){.m = m->dict.nlabels, .n = dim};
	m->out.owned = xcalloc((size_t)(m->dict.nlabels * dim), sizeof(float));
	m->out.data = m->out.owned;
}

/* Hogwild threads over a->input, updating m's owned dense matrices in place. */
int ft_train_model(struct ft_model *m, const struct ft_args *a)
{
	ft_model_tables(m);
	if (a->loss == FT_LOSS_HS && !m->tree && ft_model_build_tree(m))
		return -1;
	if (a->loss == FT_LOSS_NS && negatives_table(m))
		return -1;
	FILE *f = fopen(a->input, "rb");
	if (!f || fseeko(f, 0, SEEK_END)) {
		err_set("%s: %s", a->input, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	struct trainer tr = {m, a, m->dict.ntokens, (int64_t)ftello(f), 0, 0, 0};
	fclose(f);
	struct worker *w = xcalloc((size_t)a->thread, sizeof *w);
	double t0 = now_seconds();
	for (int i = 0; i < a->thread; i++) {
		w[i] = (struct worker){&tr, i, 0};
		if (pthread_create(&w[i].th, NULL, train_thread, &w[i]))
			DIE("pthread_create failed");
	}
	for (int i = 0; i < a->thread; i++)
		pthread_join(w[i].th, NULL);
	free(w);
	double secs = now_seconds() - t0;
	if (tr.error) {
		err_set("%s: cannot be read by the training threads", a->input);
		return -1;
	}
	if (a->verbose > 1)
		fprintf(stderr, "\rProgress: 100.0%% words/sec/thread: %7.0f lr:  0.000000 avg.loss: "
				"%10.6f ETA:   0h 0m 0s\n",
			(double)tr.token_count / (secs > 0 ? secs : 1e-9) / a->thread, tr.loss);
	return 0;
}

int ft_train(const struct ft_args *a, struct ft_model **out)
{
	struct ft_model *m = xcalloc(1, sizeof *m);
	m->args = *a;
	m->kind = FT_MODEL_SUP;
	m->version = FT_VERSION;
	ft_dict_init(&m->dict, a);
	if (ft_dict_build(&m->dict, a->input, a->min_count, a->min_count_label, a->verbose))
		goto fail;
	if (!m->dict.nlabels) {
		err_set("%s: no labels (a line's labels start with '%s')", a->input, m->dict.label);
		goto fail;
	}
	init_matrices(m);
	if (ft_train_model(m, a))
		goto fail;
	*out = m;
	return 0;
fail:
	ft_model_free(m);
	return -1;
}

/* .bin writing: the layout ft_model_parse reads. */
static void put(FILE *f, const void *p, size_t n) { fwrite(p, 1, n, f); }
static void put32(FILE *f, int32_t v) { put(f, &v, 4); }
static void put64(FILE *f, int64_t v) { put(f, &v, 8); }

static void put_pq(FILE *f, const struct ft_pq *pq)
{
	put32(f, pq->dim), put32(f, pq->nsubq), put32(f, pq->dsub), put32(f, pq->lastdsub);
	put(f, (const void *)pq->centroids, (size_t)pq->dim * 256 * sizeof(float));
}

/* DenseMatrix::save, or QuantMatrix::save: qnorm flag, shape, codes, quantizer(s). */
static void put_matrix(FILE *f, const struct ft_matrix *a)
{
	if (a->quant)
		fputc(a->qnorm, f);
	put64(f, a->m), put64(f, a->n);
	if (!a->quant) {
		for (int64_t r = 0; r < a->m; r++)
			put(f, (const void *)(a->data + r * a->n), (size_t)a->n * sizeof(float));
		return;
	}
	put32(f, (int32_t)(a->m * a->pq.nsubq));
	put(f, a->codes, (size_t)(a->m * a->pq.nsubq));
	put_pq(f, &a->pq);
	if (a->qnorm) {
		put(f, a->norm_codes, (size_t)a->m);
		put_pq(f, &a->npq);
	}
}

int ft_model_save(const struct ft_model *m, const char *path)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		err_set("%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	const struct ft_args *a = &m->args;
	const struct ft_dict *d = &m->dict;
	int32_t hdr[] = {FT_MAGIC, FT_VERSION, a->dim, a->ws, a->epoch, a->min_count, a->neg,
			 a->word_ngrams, (int32_t)a->loss, FT_MODEL_SUP, a->bucket, a->minn,
			 a->maxn, a->lr_update_rate};
	put(f, hdr, sizeof hdr);
	put(f, &a->t, 8);
	put32(f, d->size), put32(f, d->nwords), put32(f, d->nlabels);
	put64(f, d->ntokens), put64(f, d->pruneidx_size);
	for (int32_t i = 0; i < d->size; i++) {
		put(f, d->words[i].word, strlen(d->words[i].word) + 1);
		put64(f, d->words[i].count);
		put(f, &d->words[i].type, 1);
	}
	for (int64_t i = 0; i < d->pruneidx_size; i++)
		put32(f, d->prune[i][0]), put32(f, d->prune[i][1]);
	fputc(m->in.quant, f);
	put_matrix(f, &m->in);
	fputc(m->qout, f);
	put_matrix(f, &m->out);
	int bad = ferror(f) | fflush(f) | fsync(fileno(f));
	bad |= fclose(f);
	if (bad || rename(tmp, path)) {
		err_set("%s: write failed: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int ft_model_save_vectors(const struct ft_model *m, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		err_set("%s: %s", path, strerror(errno));
		return -1;
	}
	int dim = m->args.dim;
	float *v = xmalloc((size_t)dim * sizeof *v);
	fprintf(f, "%d %d\n", m->dict.nwords, dim);
	for (int32_t i = 0; i < m->dict.nwords; i++) {
		const struct ft_entry *e = &m->dict.words[i];
		memset(v, 0, (size_t)dim * sizeof *v);
		for (int32_t k = 0; k < e->nsub; k++)
			ft_add_row(&m->in, v, e->sub[k], 0, false);
		float inv = (float)(1.0 / (double)e->nsub);
		fprintf(f, "%s ", e->word);
		for (int j = 0; j < dim; j++)
			fprintf(f, "%.5g ", (double)(v[j] * inv));
		fputc('\n', f);
	}
	free(v);
	if (fclose(f)) {
		err_set("%s: write failed", path);
		return -1;
	}
	return 0;
}
