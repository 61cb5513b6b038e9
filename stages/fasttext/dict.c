/* dict: fastText's dictionary: its hash (FNV-1a over signed chars), its tokens (split on
 * ASCII whitespace and NUL, "</s>" for a newline), character n-grams and word n-grams hashed
 * into buckets, and building the vocabulary from a training file. Lookup uses our own
 * table; ids and rows are fastText's, which is what the model files hold. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ft_internal.h"

uint32_t ft_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint32_t)(int32_t)(int8_t)s[i]; /* fastText hashes signed chars */
		h *= 16777619u;
	}
	return h;
}

void ft_dict_init(struct ft_dict *d, const struct ft_args *a)
{
	memset(d, 0, sizeof *d);
	d->pruneidx_size = -1;
	d->label = a->label ? a->label : "__label__";
	d->minn = a->minn, d->maxn = a->maxn, d->word_ngrams = a->word_ngrams;
	d->bucket = a->bucket;
}

void ft_dict_release(struct ft_dict *d)
{
	for (int32_t i = 0; i < d->size; i++) {
		free(d->words[i].word);
		free(d->words[i].sub);
	}
	free(d->words);
	free(d->table);
	free(d->prune);
	free(d->ptab);
	free(d->pbits);
	memset(d, 0, sizeof *d);
}

static int32_t slot_of(const struct ft_dict *d, const char *w, size_t n, uint32_t h)
{
	uint32_t i = h & d->tmask;
	for (;;) {
		int32_t id = d->table[i];
		if (id < 0)
			return (int32_t)i;
		const struct ft_entry *e = &d->words[id];
		if (e->hash == h && !strncmp(e->word, w, n) && !e->word[n])
			return (int32_t)i;
		i = (i + 1) & d->tmask;
	}
}

int32_t ft_dict_find(const struct ft_dict *d, const char *w, size_t n, uint32_t h)
{
	return d->table ? d->table[slot_of(d, w, n, h)] : -1;
}

/* An open-addressing table of a power of two slots, at least 2 want + 1, every byte 0xff
 * (empty slots read -1); old is freed. */
static void *table_new(void *old, size_t want, size_t slot, uint32_t *mask)
{
	size_t cap = 16;
	while (cap < 2 * want + 1)
		cap *= 2;
	free(old);
	void *t = xmalloc(cap * slot);
	memset(t, 0xff, cap * slot);
	*mask = (uint32_t)(cap - 1);
	return t;
}

void ft_dict_index(struct ft_dict *d)
{
	d->table = table_new(d->table, (size_t)d->size, sizeof *d->table, &d->tmask);
	for (int32_t i = 0; i < d->size; i++) {
		struct ft_entry *e = &d->words[i];
		e->hash = ft_hash(e->word, strlen(e->word));
		d->table[slot_of(d, e->word, strlen(e->word), e->hash)] = i;
	}
}

/* The prune map as an open-addressing table (bucket -> row), built from the pairs in file
 * order so a repeated bucket takes its last row, as fastText's unordered_map assignment does,
 * and a bit per bucket in front of it: every n-gram of every word is looked up here, most
 * are not kept, and the bits of 2M buckets stay in cache where the table would not. (A
 * binary search over the pairs was two thirds of predict's time on lid.176.ftz.) */
static uint32_t prune_slot(const struct ft_dict *d, int32_t id)
{
	uint32_t i = (uint32_t)id * 2654435761u;
	for (i = (i ^ i >> 15) & d->pmask;; i = (i + 1) & d->pmask)
		if (d->ptab[i][0] == id || d->ptab[i][0] < 0)
			return i;
}

void ft_dict_prune_index(struct ft_dict *d)
{
	size_t n = d->pruneidx_size > 0 ? (size_t)d->pruneidx_size : 0;
	d->ptab = table_new(d->ptab, n, sizeof *d->ptab, &d->pmask);
	free(d->pbits);
	d->pbits = xcalloc((size_t)(d->bucket > 0 ? d->bucket : 0) / 64 + 1, sizeof *d->pbits);
	for (size_t i = 0; i < n; i++) {
		int32_t b = d->prune[i][0];
		uint32_t s = prune_slot(d, b);
		d->ptab[s][0] = b, d->ptab[s][1] = d->prune[i][1];
		if (b >= 0 && b < d->bucket)
			d->pbits[b / 64] |= 1ull << (b % 64);
	}
}

/* fastText's pushHash: bucket id -> input row, through the prune map of a pruned model. */
static void push_hash(const struct ft_dict *d, int32_t **v, size_t *n, size_t *cap, int32_t id)
{
	if (d->pruneidx_size == 0 || id < 0)
		return;
	if (d->pruneidx_size > 0) {
		if (id >= d->bucket || !(d->pbits[id / 64] >> (id % 64) & 1))
			return;
		const int32_t *p = d->ptab[prune_slot(d, id)];
		if (p[0] < 0)
			return;
		id = p[1];
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = d->nwords + id;
}

/* Character n-grams of "<word>" (UTF-8 aware: n counts characters), as computeSubwords. */
static void char_ngrams(const struct ft_dict *d, const char *w, size_t len, int32_t **v,
			size_t *n, size_t *cap)
{
	if (d->maxn <= 0 || d->bucket <= 0)
		return;
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)w[i] & 0xC0) == 0x80)
			continue;
		/* FNV-1a is sequential: the hash of w[i..j) is extended as j grows, one n-gram
		 * at a time, instead of rehashing each n-gram from its start */
		size_t j = i;
		uint32_t h = ft_hash("", 0);
		for (int k = 1; j < len && k <= d->maxn; k++) {
			do {
				h = (h ^ (uint32_t)(int32_t)(int8_t)w[j]) * 16777619u;
				j++;
			} while (j < len && ((unsigned char)w[j] & 0xC0) == 0x80);
			if (k >= d->minn && !(k == 1 && (i == 0 || j == len)))
				push_hash(d, v, n, cap, (int32_t)(h % (uint32_t)d->bucket));
		}
	}
}

static void subwords_of(const struct ft_dict *d, const char *w, size_t len, int32_t **v,
			size_t *n, size_t *cap)
{
	char stack[256];
	char *b = len + 2 <= sizeof stack ? stack : xmalloc(len + 2);
	b[0] = '<';
	memcpy(b + 1, w, len);
	b[len + 1] = '>';
	char_ngrams(d, b, len + 2, v, n, cap);
	if (b != stack)
		free(b);
}

void ft_dict_subwords(struct ft_dict *d)
{
	for (int32_t i = 0; i < d->size; i++) {
		struct ft_entry *e = &d->words[i];
		size_t n = 1, cap = 4;
		int32_t *v = xmalloc(cap * sizeof *v);
		v[0] = i;
		if (strcmp(e->word, FT_EOS))
			subwords_of(d, e->word, strlen(e->word), &v, &n, &cap);
		free(e->sub);
		e->sub = v;
		e->nsub = (int32_t)n;
	}
}

static int is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || !c;
}

/* fastText's readWord over text[*pos..n): the next token, "</s>" for a newline. */
static int read_word(const char *text, size_t n, size_t *pos, const char **w, size_t *len)
{
	size_t i = *pos;
	while (i < n && is_space(text[i])) {
		if (text[i] == '\n') {
			*w = FT_EOS, *len = 4, *pos = i + 1;
			return 1;
		}
		i++;
	}
	size_t start = i;
	while (i < n && !is_space(text[i]))
		i++;
	*pos = i; /* a newline after the word stays for the next call */
	*w = text + start, *len = i - start;
	return i > start;
}

void ft_state_ids_push(struct ft_state *s, int32_t id)
{
	if (s->nids == s->capids) {
		s->capids = s->capids ? s->capids * 2 : 256;
		s->ids = xrealloc(s->ids, s->capids * sizeof *s->ids);
	}
	s->ids[s->nids++] = id;
}

static void push_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = x;
}

/* Word n-grams over the line's word hashes (sign-extended as fastText's int32 vector). */
static void word_ngrams(const struct ft_dict *d, struct ft_state *s)
{
	if (d->bucket <= 0 || d->word_ngrams <= 1)
		return;
	for (size_t i = 0; i < s->nhashes; i++) {
		uint64_t h = (uint64_t)(int64_t)(int32_t)s->hashes[i];
		for (size_t j = i + 1; j < s->nhashes && j < i + (size_t)d->word_ngrams; j++) {
			h = h * 116049371u + (uint64_t)(int64_t)(int32_t)s->hashes[j];
			push_hash(d, &s->ids, &s->nids, &s->capids,
				  (int32_t)(h % (uint64_t)d->bucket));
		}
	}
}

static int is_label(const struct ft_dict *d, const char *w, size_t len)
{
	size_t l = strlen(d->label);
	return len >= l && !memcmp(w, d->label, l);
}

int64_t ft_dict_line(const struct ft_dict *d, struct ft_state *s, const char *text, size_t n,
		     size_t *used)
{
	s->nids = s->nlabels = s->nhashes = 0;
	size_t pos = 0;
	int64_t ntokens = 0;
	const char *w;
	size_t len;
	while (read_word(text, n, &pos, &w, &len)) {
		uint32_t h = ft_hash(w, len);
		int32_t wid = ft_dict_find(d, w, len, h);
		int type = wid < 0 ? (is_label(d, w, len) ? FT_LABEL : FT_WORD) : d->words[wid].type;
		ntokens++;
		int eos = len == 4 && !memcmp(w, FT_EOS, 4);
		if (type == FT_WORD) {
			if (wid >= 0) {
				for (int32_t i = 0; i < d->words[wid].nsub; i++)
					ft_state_ids_push(s, d->words[wid].sub[i]);
			} else if (!eos) {
				subwords_of(d, w, len, &s->ids, &s->nids, &s->capids);
			}
			push_u32(&s->hashes, &s->nhashes, &s->caphashes, h);
		} else if (wid >= 0) {
			if (s->nlabels == s->caplabels) {
				s->caplabels = s->caplabels ? s->caplabels * 2 : 16;
				s->labels = xrealloc(s->labels, s->caplabels * sizeof *s->labels);
			}
			s->labels[s->nlabels++] = wid - d->nwords;
		}
		if (eos)
			break;
	}
	word_ngrams(d, s);
	*used = pos;
	return ntokens;
}

/* Vocabulary building: add, threshold. */
static void dict_add(struct ft_dict *d, const char *w, size_t len)
{
	uint32_t h = ft_hash(w, len);
	d->ntokens++;
	int32_t slot = slot_of(d, w, len, h);
	if (d->table[slot] >= 0) {
		d->words[d->table[slot]].count++;
		return;
	}
	if (d->size == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 1024;
		d->words = xrealloc(d->words, (size_t)d->cap * sizeof *d->words);
	}
	struct ft_entry *e = &d->words[d->size];
	memset(e, 0, sizeof *e);
	e->word = xstrndup(w, len);
	e->count = 1;
	e->hash = h;
	e->type = is_label(d, w, len) ? FT_LABEL : FT_WORD;
	d->table[slot] = d->size++;
	if ((size_t)d->size * 2 + 1 > (size_t)d->tmask + 1)
		ft_dict_index(d);
}

/* fastText sorts its vocabulary by type, then count descending, with std::sort, and the order
 * that leaves equal counts in is the row order of its model: ft_sort follows it. */
static bool entry_less(const void *pa, const void *pb, const void *ctx)
{
	const struct ft_entry *a = pa, *b = pb;
	(void)ctx;
	if (a->type != b->type)
		return a->type < b->type;
	return a->count > b->count;
}

static void dict_threshold(struct ft_dict *d, int64_t t, int64_t tl)
{
	ft_sort(d->words, d->size, sizeof *d->words, entry_less, NULL);
	int32_t k = 0;
	d->nwords = d->nlabels = 0;
	for (int32_t i = 0; i < d->size; i++) {
		struct ft_entry *e = &d->words[i];
		if ((e->type == FT_WORD && e->count < t) || (e->type == FT_LABEL && e->count < tl)) {
			free(e->word);
			continue;
		}
		d->words[k++] = *e;
		d->nwords += e->type == FT_WORD;
		d->nlabels += e->type == FT_LABEL;
	}
	d->size = k;
	ft_dict_index(d);
}

int ft_dict_build(struct ft_dict *d, const char *path, int min_count, int min_count_label,
		  int verbose)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set("%s: %s", path, strerror(errno));
		return -1;
	}
	d->table = table_new(d->table, 1024, sizeof *d->table, &d->tmask);
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int64_t min_threshold = 1;
	while ((got = getline(&line, &cap, f)) > 0) {
		size_t pos = 0, len;
		const char *w;
		while (read_word(line, (size_t)got, &pos, &w, &len)) {
			dict_add(d, w, len);
			if (d->size > 22500000) { /* fastText's 0.75 * MAX_VOCAB_SIZE guard */
				min_threshold++;
				dict_threshold(d, min_threshold, min_threshold);
			}
		}
	}
	free(line);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		err_set("%s: read error", path);
		return -1;
	}
	dict_threshold(d, min_count, min_count_label);
	ft_dict_subwords(d);
	if (verbose > 0)
		fprintf(stderr, "Read %lldM words\nNumber of words:  %d\nNumber of labels: %d\n",
			(long long)(d->ntokens / 1000000), d->nwords, d->nlabels);
	if (d->size == 0) {
		err_set("%s: empty vocabulary; try a smaller -minCount value", path);
		return -1;
	}
	return 0;
}
