/* fuzz_github: libFuzzer target for crawl-github's parsers: the input as a language table,
 * each of its lines as a repository-list entry, the text of files in every language whose
 * imports are resolved (paths taken from the input too), the file filters, and BM25 with
 * the input's first line as the query, and the input as a git path shown in documents (always
 * valid UTF-8). Errors are fine; crashes, leaks and UB are not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "github/bm25.h"
#include "github/deps.h"
#include "github/filter.h"
#include "github/lang.h"
#include "github/repo.h"
#include "doc.h"

static const char *const langs[] = {"python", "java", "c", "cpp", "javascript", "typescript",
				    "go", "rust", "shell", "html", NULL};
static const char *const paths[] = {"a/b/main.py", "src/com/x/A.java", "lib/x.c", "inc/x.hpp",
				    "web/index.js", "web/lib/y.ts", "cmd/main.go", "src/lib.rs",
				    "run.sh", "go.mod", "index.html"};

static void lines(const char *s, size_t n)
{
	for (const char *p = s, *end = s + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		struct gh_repo r;
		gh_repo_parse(p, len, &r);
		gh_repo_release(&r);
		p = nl ? nl + 1 : end;
	}
}

static void deps(const char *s, size_t n)
{
	struct gh_file f[ARRAY_LEN(paths) + 1];
	for (size_t i = 0; i < ARRAY_LEN(paths); i++)
		f[i] = (struct gh_file){paths[i], langs[i], s, n};
	/* a path from the input too (first line, no NUL), kept in sorted position */
	size_t k = 0;
	while (k < n && k < 64 && s[k] != '\n' && s[k])
		k++;
	char *p = xstrndup(s, k);
	size_t nf = ARRAY_LEN(paths);
	if (k) {
		size_t at = 0;
		while (at < nf && strcmp(f[at].path, p) < 0)
			at++;
		if (at == nf || strcmp(f[at].path, p)) {
			memmove(&f[at + 1], &f[at], (nf - at) * sizeof *f);
			f[at] = (struct gh_file){p, "python", s, n};
			nf++;
		}
	}
	/* paths must be sorted: sort the fixed ones too (insertion sort, few items) */
	for (size_t i = 1; i < nf; i++)
		for (size_t j = i; j > 0 && strcmp(f[j - 1].path, f[j].path) > 0; j--) {
			struct gh_file t = f[j];
			f[j] = f[j - 1];
			f[j - 1] = t;
		}
	struct gh_repo_docs d;
	gh_deps_plan(f, nf, n ? n / 2 + 1 : 0, 3, 1, n, "o/r", &d);
	if (d.norder > nf)
		abort();
	gh_repo_docs_release(&d);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct gh_langs *t = gh_langs_parse(s, size, "fuzz");
	if (t) {
		for (size_t i = 0; i < gh_langs_count(t); i++)
			gh_langs_lookup(t, gh_langs_name(t, i));
		gh_langs_lookup(t, "a/b.c.d");
		gh_langs_free(t);
	}
	lines(s, size);
	deps(s, size);

	static const char *const v[] = {"vendor"}, *const m[] = {"DO NOT EDIT"}, *const g[] = {"*.pb.go"};
	struct gh_filter f = {1 << 20, 1000, 100, true, v, 1, v, 1, g, 1, m, 1};
	struct buf b = BUF_INIT;
	const char *enc;
	buf_set(&b, s, size);
	gh_filter_content(&f, "javascript", &b, &enc);
	buf_release(&b);

	struct gh_bm25_doc d;
	gh_bm25_doc_build(&d, s, size);
	const struct gh_bm25_doc *p = &d;
	size_t idx;
	size_t q = 0;
	while (q < size && s[q] != '\n')
		q++;
	if (gh_bm25_top(&p, 1, s, q, 1, 1.2, 0.75, &idx, NULL) > 1)
		abort();
	gh_bm25_doc_release(&d);

	/* the input as a path (up to its first NUL): shown as valid UTF-8, quoted when not plain */
	char *path = xstrndup(s, size);
	struct buf tmp = BUF_INIT;
	const char *shown = gh_path_shown(path, &tmp);
	if (utf8_invalid_count(shown, strlen(shown)) || (shown != path && shown[0] != '"'))
		abort();
	buf_release(&tmp);
	free(path);
	return 0;
}
