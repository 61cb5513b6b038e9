/* test_dedup_near: dedup-near on real code with planted near-duplicates, run alone and under
 * mpiexec -n 2 and 3. Each Python standard-library module gets one variant (whitespace
 * changes, reordered lines, edited words, deleted lines, at graded strengths); the test
 * computes the exact Jaccard similarity of each pair's word 5-gram sets itself (strings,
 * no hashing) and checks, under the default options: recall >= 0.95 over pairs with
 * J >= 0.85 and a false-positive rate <= 0.05 over pairs with J <= 0.5. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "par.h"
#include "shard.h"
#include "stage.h"
#include "util.h"

#define NGRAM 5
#define PYDIR "/usr/lib/python3.11"

static int rank;
static char *dir;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unit(uint64_t *s) { return (splitmix(s) >> 11) * (1.0 / 9007199254740992.0); }

/* ---- exact Jaccard of word 5-gram sets, independent of pipeline/minhash.c ---- */

static int wordc(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted distinct n-grams of text, each the words joined by '\x01'. */
static char **shingles(const char *t, size_t *count)
{
	size_t nw = 0, cap = 64;
	char **w = xmalloc(cap * sizeof *w);
	for (size_t i = 0; t[i];) {
		if (!wordc((unsigned char)t[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (t[j] && wordc((unsigned char)t[j]))
			j++;
		if (nw == cap)
			w = xrealloc(w, (cap *= 2) * sizeof *w);
		w[nw++] = xstrndup(t + i, j - i);
		i = j;
	}
	size_t ns = nw >= NGRAM ? nw - NGRAM + 1 : nw > 0;
	char **s = xmalloc((ns + 1) * sizeof *s);
	for (size_t i = 0; i < ns; i++) {
		struct buf b = BUF_INIT;
		for (size_t k = i; k < i + NGRAM && k < nw; k++)
			buf_puts(&b, w[k]), buf_putc(&b, '\x01');
		s[i] = buf_detach(&b, NULL);
	}
	for (size_t i = 0; i < nw; i++)
		free(w[i]);
	free(w);
	qsort(s, ns, sizeof *s, cmpstr);
	size_t u = 0;
	for (size_t i = 0; i < ns; i++) {
		if (u && !strcmp(s[u - 1], s[i]))
			free(s[i]);
		else
			s[u++] = s[i];
	}
	*count = u;
	return s;
}

static double jaccard(const char *a, const char *b)
{
	size_t na, nb, i = 0, j = 0, both = 0;
	char **sa = shingles(a, &na), **sb = shingles(b, &nb);
	while (i < na && j < nb) {
		int c = strcmp(sa[i], sb[j]);
		both += c == 0;
		i += c <= 0, j += c >= 0;
	}
	for (i = 0; i < na; i++)
		free(sa[i]);
	for (j = 0; j < nb; j++)
		free(sb[j]);
	free(sa), free(sb);
	return na + nb - both ? (double)both / (double)(na + nb - both) : 1;
}

/* ---- planted variants ---- */

/* Lines of text as an array of malloc'd strings with their '\n'. */
static char **lines_of(const char *t, size_t *n)
{
	size_t cap = 64;
	char **l = xmalloc(cap * sizeof *l);
	*n = 0;
	for (const char *p = t; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
		if (*n == cap)
			l = xrealloc(l, (cap *= 2) * sizeof *l);
		l[(*n)++] = xstrndup(p, len);
		p += len;
	}
	return l;
}

static void variant(const char *t, int kind, double strength, uint64_t *rng, struct buf *out)
{
	size_t n;
	char **l = lines_of(t, &n);
	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		size_t k = kind == 1 ? (i + n / 3) % n : i; /* 1: the first third moved to the end */
		const char *s = l[k];
		if (kind == 0) { /* indentation by tabs, CRLF line ends, trailing spaces */
			while (s[0] == ' ' && s[1] == ' ' && s[2] == ' ' && s[3] == ' ')
				buf_putc(out, '\t'), s += 4;
			size_t len = strlen(s);
			int nl = len && s[len - 1] == '\n';
			buf_append(out, s, len - nl);
			if (nl)
				buf_puts(out, "  \r\n");
		} else if (kind == 3 && unit(rng) < strength) { /* 3: lines deleted */
			continue;
		} else if (kind == 2) { /* 2: words replaced */
			for (size_t j = 0; s[j];) {
				size_t e = j;
				while (s[e] && wordc((unsigned char)s[e]))
					e++;
				if (e > j && unit(rng) < strength)
					buf_printf(out, "zq%llu", (unsigned long long)(splitmix(rng) % 100000));
				else
					buf_append(out, s + j, e > j ? e - j : 1);
				j = e > j ? e : j + 1;
			}
		} else {
			buf_puts(out, s);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

struct pair {
	char *a, *b; /* ids */
	double j;
};

static int cmpname(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes corpus.jsonl (bases and variants, interleaved) and returns the planted pairs. */
static struct pair *make_corpus(const char *path, size_t *npairs)
{
	DIR *d = opendir(PYDIR);
	if (!d)
		return NULL;
	char **names = NULL;
	size_t nn = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 3 && !strcmp(e->d_name + len - 3, ".py")) {
			names = xrealloc(names, (nn + 1) * sizeof *names);
			names[nn++] = xstrdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, nn, sizeof *names, cmpname);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	struct pair *pairs = xcalloc(nn + 1, sizeof *pairs);
	size_t np = 0;
	struct buf text = BUF_INIT, var = BUF_INIT;
	uint64_t rng = 12345;
	for (size_t i = 0; i < nn && np < 150; i++) {
		char *p = xasprintf("%s/%s", PYDIR, names[i]);
		struct stat st;
		if (stat(p, &st) || st.st_size < 3000 || st.st_size > 40000 || read_file(p, &text)) {
			free(p);
			continue;
		}
		free(p);
		int kind = (int)(np % 4);
		/* graded strengths spread the similarities from 1 down to about 0.2 */
		double strength = kind == 2 ? 0.004 + 0.25 * unit(&rng) : 0.02 + 0.7 * unit(&rng);
		variant(text.p, kind, strength, &rng, &var);
		pairs[np].a = xasprintf("base/%s", names[i]);
		pairs[np].b = xasprintf("variant/%s", names[i]);
		pairs[np].j = jaccard(text.p, var.p);
		json_t *ja = json_pack("{s:s,s:s%}", "id", pairs[np].a, "text", text.p, text.len);
		json_t *jb = json_pack("{s:s,s:s%}", "id", pairs[np].b, "text", var.p, var.len);
		char *la = json_dumps(ja, JSON_COMPACT), *lb = json_dumps(jb, JSON_COMPACT);
		fprintf(f, "%s\n%s\n", la, lb);
		free(la), free(lb);
		json_decref(ja), json_decref(jb);
		np++;
	}
	fclose(f);
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	buf_release(&text), buf_release(&var);
	*npairs = np;
	return pairs;
}

/* ---- reading the result ---- */

struct idmap {
	char **id, **cluster;
	size_t n;
};

static void read_clusters(const char *sdir, struct idmap *m)
{
	DIR *d = opendir(sdir);
	assert_non_null(d);
	struct dirent *e;
	struct doc doc;
	doc_init(&doc);
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "part-", 5))
			continue;
		char *p = xasprintf("%s/%s", sdir, e->d_name);
		struct shard_reader *r = shard_reader_open(p, NULL);
		assert_non_null(r);
		while (shard_reader_next(r, &doc) == 1) {
			const char *c = json_string_value(json_object_get(doc.meta, "cluster_id"));
			assert_non_null(c);
			m->id = xrealloc(m->id, (m->n + 1) * sizeof *m->id);
			m->cluster = xrealloc(m->cluster, (m->n + 1) * sizeof *m->cluster);
			m->id[m->n] = xstrndup(doc.id.p, doc.id.len);
			m->cluster[m->n++] = xstrdup(c);
		}
		shard_reader_close(r);
		free(p);
	}
	closedir(d);
	doc_release(&doc);
}

static const char *cluster_of(const struct idmap *m, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->id[i], id))
			return m->cluster[i];
	fail_msg("document %s missing from the output", id);
	return NULL;
}

static int run_stages(const char *work, const char *corpus)
{
	size_t ns;
	const struct config_section *sec = stage_config_sections(&ns);
	char *ov[] = {xasprintf("workdir=%s", work), xstrdup("stages=[import,dedup-near]"),
		      xasprintf("import.paths=[%s]", corpus), xstrdup("import.shards=3"),
		      xstrdup("log_level=warn")};
	struct config *cfg = config_load(NULL, sec, ns, ov, ARRAY_LEN(ov));
	int rc = -1;
	if (cfg) {
		log_max_level = LOG_WARN;
		struct stage_opts o = {0};
		rc = stage_execute(stage_find("import"), cfg, &o);
		if (!rc)
			rc = stage_execute(stage_find("dedup-near"), cfg, &o);
	}
	config_free(cfg);
	for (size_t i = 0; i < ARRAY_LEN(ov); i++)
		free(ov[i]);
	return rc;
}

static void test_planted_pairs(void **state)
{
	(void)state;
	char *corpus = xasprintf("%s/corpus.jsonl", dir), *work = xasprintf("%s/work", dir);
	struct pair *pairs = NULL;
	size_t np = 0;
	int have = 1;
	if (rank == 0)
		have = (pairs = make_corpus(corpus, &np)) != NULL && np >= 100;
	if (!par_all_ok(have)) {
		free(corpus), free(work);
		skip(); /* no Python standard library on this machine */
	}
	int rc = run_stages(work, corpus);
	assert_int_equal(rc, 0);
	if (rank == 0) {
		struct idmap m = {0};
		char *out = xasprintf("%s/dedup-near", work), *rej = xasprintf("%s/rejected", out);
		read_clusters(out, &m);
		read_clusters(rej, &m);
		size_t hi = 0, hi_found = 0, lo = 0, lo_found = 0;
		for (size_t i = 0; i < np; i++) {
			int same = !strcmp(cluster_of(&m, pairs[i].a), cluster_of(&m, pairs[i].b));
			if (pairs[i].j >= 0.85)
				hi++, hi_found += same;
			else if (pairs[i].j <= 0.5)
				lo++, lo_found += same;
		}
		printf("planted pairs: %zu; J >= 0.85: %zu, recall %.3f; J <= 0.5: %zu, false "
		       "positives %.3f\n", np, hi, hi ? (double)hi_found / hi : 0, lo,
		       lo ? (double)lo_found / lo : 0);
		assert_true(hi >= 40 && lo >= 25);
		assert_true(hi_found >= 0.95 * hi);
		assert_true(lo_found <= 0.05 * lo);
		for (size_t i = 0; i < m.n; i++)
			free(m.id[i]), free(m.cluster[i]);
		free(m.id), free(m.cluster);
		for (size_t i = 0; i < np; i++)
			free(pairs[i].a), free(pairs[i].b);
		free(pairs);
		free(out), free(rej);
	}
	free(corpus), free(work);
}

int main(int argc, char **argv)
{
	par_init(&argc, &argv);
	log_init(par_rank(), par_size());
	rank = par_rank();
	size_t len = 0;
	if (rank == 0) {
		const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		dir = xasprintf("%s/curate-test-dedup-near-%ld", tmp, (long)getpid());
		len = strlen(dir) + 1;
		mkdir_p(dir);
	}
	par_bcast_bytes(&dir, &len);
	if (rank != 0) {
		char *xml = xasprintf("%s/cmocka-rank-%d.xml", dir, rank);
		setenv("CMOCKA_XML_FILE", xml, 1);
		free(xml);
		cmocka_set_message_output(CM_OUTPUT_XML);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_planted_pairs),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL), any = 0;
	MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	par_barrier();
	if (rank == 0)
		remove_tree(dir);
	free(dir);
	par_finalize();
	return any ? 1 : 0;
}
