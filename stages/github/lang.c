/* github/lang: parses the language table and answers lookups by binary search over the
 * sorted file-name and extension keys. The built-in table is langs.tsv, pulled into the
 * object by the assembler so that the binary needs no data file at run time. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "github/lang.h"
#include "util.h"

/* the build runs from the repository root (Makefile), so the path is relative to it */
__asm__(".pushsection .rodata\n"
	"gh_langs_tsv_begin:\n"
	".incbin \"stages/github/langs.tsv\"\n"
	"gh_langs_tsv_end:\n"
	".byte 0\n"
	".popsection\n");
extern const char gh_langs_tsv_begin[], gh_langs_tsv_end[];

struct key {
	char *k;
	unsigned lang; /* index into names */
	unsigned line; /* first listing wins */
};

struct gh_langs {
	char **names;
	size_t nnames;
	struct key *files, *exts;
	size_t nfiles, nexts;
	size_t max_ext; /* longest extension, to bound the lookup */
};

void gh_langs_free(struct gh_langs *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nnames; i++)
		free(t->names[i]);
	for (size_t i = 0; i < t->nfiles; i++)
		free(t->files[i].k);
	for (size_t i = 0; i < t->nexts; i++)
		free(t->exts[i].k);
	free(t->names);
	free(t->files);
	free(t->exts);
	free(t);
}

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorts keys and keeps the first listing of each. */
static void sort_unique(struct key *v, size_t *n)
{
	if (*n)
		qsort(v, *n, sizeof *v, key_cmp);
	size_t w = 0;
	for (size_t i = 0; i < *n; i++) {
		if (w && !strcmp(v[w - 1].k, v[i].k)) {
			free(v[i].k);
			continue;
		}
		v[w++] = v[i];
	}
	*n = w;
}

static void add_key(struct key **v, size_t *n, const char *s, size_t len, unsigned lang,
		    unsigned line, int lower)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	char *k = xstrndup(s, len);
	for (char *p = k; lower && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	(*v)[(*n)++] = (struct key){k, lang, line};
}

/* Splits a field into space-separated words, adding each; "-" is none. 0 or -1. */
static int add_words(struct gh_langs *t, const char *f, size_t len, int ext, unsigned line,
		     const char *name)
{
	if (len == 1 && f[0] == '-')
		return 0;
	const char *end = f + len;
	while (f < end) {
		while (f < end && *f == ' ')
			f++;
		const char *w = f;
		while (f < end && *f != ' ')
			f++;
		if (f == w)
			continue;
		if (ext && (w[0] != '.' || f - w < 2)) {
			err_set("%s:%u: extension '%.*s' must start with a dot", name, line,
				(int)(f - w), w);
			return -1;
		}
		if (ext) {
			add_key(&t->exts, &t->nexts, w, (size_t)(f - w), (unsigned)t->nnames - 1,
				line, 1);
			if ((size_t)(f - w) > t->max_ext)
				t->max_ext = (size_t)(f - w);
		} else {
			add_key(&t->files, &t->nfiles, w, (size_t)(f - w), (unsigned)t->nnames - 1,
				line, 0);
		}
	}
	return 0;
}

static int parse_line(struct gh_langs *t, const char *p, size_t len, unsigned line,
		      const char *name)
{
	const char *f[3];
	size_t fl[3], nf = 0;
	const char *end = p + len, *s = p;
	for (const char *q = p; q <= end && nf < 3; q++) {
		if (q == end || *q == '\t') {
			f[nf] = s;
			fl[nf++] = (size_t)(q - s);
			s = q + 1;
		}
	}
	if (nf != 3 || s <= end) {
		err_set("%s:%u: expected 3 tab-separated fields (lang, extensions, file names)",
			name, line);
		return -1;
	}
	if (!fl[0] || memchr(f[0], ' ', fl[0]) || memchr(f[0], 0, fl[0])) {
		err_set("%s:%u: the language name is empty or has a space", name, line);
		return -1;
	}
	for (size_t i = 0; i < t->nnames; i++)
		if (strlen(t->names[i]) == fl[0] && !memcmp(t->names[i], f[0], fl[0])) {
			err_set("%s:%u: language '%.*s' listed twice", name, line, (int)fl[0], f[0]);
			return -1;
		}
	t->names = xrealloc(t->names, (t->nnames + 1) * sizeof *t->names);
	t->names[t->nnames++] = xstrndup(f[0], fl[0]);
	if (add_words(t, f[1], fl[1], 1, line, name) || add_words(t, f[2], fl[2], 0, line, name))
		return -1;
	return 0;
}

struct gh_langs *gh_langs_parse(const char *text, size_t n, const char *name)
{
	struct gh_langs *t = xcalloc(1, sizeof *t);
	const char *p = text, *end = text + n;
	unsigned line = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		line++;
		if (len && p[len - 1] == '\r')
			len--;
		if (len && p[0] != '#' && memchr(p, 0, len)) {
			err_set("%s:%u: NUL byte in the table", name, line);
			gh_langs_free(t);
			return NULL;
		}
		if (len && p[0] != '#' && parse_line(t, p, len, line, name)) {
			gh_langs_free(t);
			return NULL;
		}
		p = nl ? nl + 1 : end;
	}
	if (!t->nnames) {
		err_set("%s: no languages in the table", name);
		gh_langs_free(t);
		return NULL;
	}
	sort_unique(t->files, &t->nfiles);
	sort_unique(t->exts, &t->nexts);
	return t;
}

struct gh_langs *gh_langs_builtin(void)
{
	struct gh_langs *t = gh_langs_parse(gh_langs_tsv_begin,
					    (size_t)(gh_langs_tsv_end - gh_langs_tsv_begin),
					    "stages/github/langs.tsv");
	if (!t)
		DIE("built-in language table: %s", err_get());
	return t;
}

const char *gh_langs_builtin_text(size_t *n)
{
	*n = (size_t)(gh_langs_tsv_end - gh_langs_tsv_begin);
	return gh_langs_tsv_begin;
}

struct gh_langs *gh_langs_load(const char *path)
{
	struct buf b = BUF_INIT;
	if (read_file(path, &b)) {
		buf_release(&b);
		return NULL;
	}
	struct gh_langs *t = gh_langs_parse(b.p ? b.p : "", b.len, path);
	buf_release(&b);
	return t;
}

static const struct key *find(const struct key *v, size_t n, const char *k)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid].k, k);
		if (!c)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *gh_langs_lookup(const struct gh_langs *t, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const struct key *k = find(t->files, t->nfiles, base);
	if (k)
		return t->names[k->lang];
	/* extensions from the longest (first dot) to the shortest (last dot) */
	char low[64];
	for (const char *d = strchr(base, '.'); d; d = strchr(d + 1, '.')) {
		size_t len = strlen(d);
		if (len > t->max_ext || len >= sizeof low)
			continue;
		for (size_t i = 0; i <= len; i++)
			low[i] = (char)tolower((unsigned char)d[i]);
		if ((k = find(t->exts, t->nexts, low)))
			return t->names[k->lang];
	}
	return NULL;
}

size_t gh_langs_count(const struct gh_langs *t) { return t->nnames; }

const char *gh_langs_name(const struct gh_langs *t, size_t i) { return t->names[i]; }
