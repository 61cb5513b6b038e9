/* github/bm25: term hashing, per-document term counts, and scoring by binary search of each
 * query term in each document (snapshots are thousands of files, queries a few words). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "github/bm25.h"
#include "util.h"

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Calls back each term's hash; FNV-1a over the lower-cased bytes. */
static size_t terms(const char *t, size_t n, uint64_t **out)
{
	size_t k = 0, cap = 0;
	*out = NULL;
	for (size_t i = 0; i < n;) {
		if (!is_alnum((unsigned char)t[i])) {
			i++;
			continue;
		}
		size_t s = i;
		uint64_t h = 0xcbf29ce484222325ULL;
		for (; i < n && is_alnum((unsigned char)t[i]); i++) {
			unsigned char c = (unsigned char)t[i];
			h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 0x100000001b3ULL;
		}
		if (i - s < 2 || i - s > 64)
			continue;
		if (k == cap) {
			cap = cap ? 2 * cap : 256;
			*out = xrealloc(*out, cap * sizeof **out);
		}
		(*out)[k++] = h;
	}
	return k;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

void gh_bm25_doc_build(struct gh_bm25_doc *d, const char *text, size_t n)
{
	uint64_t *h;
	size_t k = terms(text, n, &h);
	if (k)
		qsort(h, k, sizeof *h, u64_cmp);
	*d = (struct gh_bm25_doc){.len = k};
	d->term = xmalloc((k ? k : 1) * sizeof *d->term);
	d->tf = xmalloc((k ? k : 1) * sizeof *d->tf);
	for (size_t i = 0; i < k; i++) {
		if (d->nterms && d->term[d->nterms - 1] == h[i]) {
			d->tf[d->nterms - 1]++;
			continue;
		}
		d->term[d->nterms] = h[i];
		d->tf[d->nterms++] = 1;
	}
	free(h);
}

void gh_bm25_doc_release(struct gh_bm25_doc *d)
{
	free(d->term);
	free(d->tf);
	*d = (struct gh_bm25_doc){0};
}

size_t gh_bm25_doc_bytes(const struct gh_bm25_doc *d)
{
	return sizeof *d + d->nterms * (sizeof *d->term + sizeof *d->tf);
}

static uint32_t tf_of(const struct gh_bm25_doc *d, uint64_t t)
{
	size_t lo = 0, hi = d->nterms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->term[mid] == t)
			return d->tf[mid];
		if (d->term[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

struct scored {
	double s;
	size_t i;
};

static int scored_cmp(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->s != y->s)
		return x->s > y->s ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

size_t gh_bm25_top(const struct gh_bm25_doc *const *docs, size_t n, const char *query,
		   size_t qlen, size_t k, double k1, double b, size_t *idx, double *score)
{
	uint64_t *q;
	size_t nq = terms(query, qlen, &q);
	if (nq)
		qsort(q, nq, sizeof *q, u64_cmp);
	size_t u = 0;
	for (size_t i = 0; i < nq; i++)
		if (!u || q[u - 1] != q[i])
			q[u++] = q[i];
	double avgdl = 0;
	for (size_t i = 0; i < n; i++)
		avgdl += (double)docs[i]->len;
	avgdl = n ? avgdl / (double)n : 0;
	struct scored *s = xcalloc(n ? n : 1, sizeof *s);
	uint32_t *tf = xmalloc((n ? n : 1) * sizeof *tf);
	for (size_t i = 0; i < n; i++)
		s[i].i = i;
	for (size_t j = 0; j < u; j++) {
		size_t df = 0;
		for (size_t i = 0; i < n; i++)
			df += (tf[i] = tf_of(docs[i], q[j])) != 0;
		if (!df)
			continue;
		double idf = log(1.0 + ((double)n - (double)df + 0.5) / ((double)df + 0.5));
		for (size_t i = 0; i < n; i++) {
			if (!tf[i])
				continue;
			double norm = avgdl > 0 ? (double)docs[i]->len / avgdl : 0;
			s[i].s += idf * tf[i] * (k1 + 1) / (tf[i] + k1 * (1 - b + b * norm));
		}
	}
	qsort(s, n, sizeof *s, scored_cmp);
	size_t m = 0;
	for (; m < k && m < n && s[m].s > 0; m++) {
		idx[m] = s[m].i;
		if (score)
			score[m] = s[m].s;
	}
	free(tf);
	free(s);
	free(q);
	return m;
}
