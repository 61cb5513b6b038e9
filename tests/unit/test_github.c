/* test_github: the parts of crawl-github that need no repository: the language table
 * (lookups and malformed tables), the file filters, import resolution per language on small
 * in-memory trees whose graph the test knows, the stable order, cycle rule, seeded shuffle
 * and size split of repository documents, and BM25: scores worked out by hand, and random
 * corpora scored against the npm package okapibm25 (scripts/okapibm25.sh fetches it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "github/bm25.h"
#include "github/deps.h"
#include "github/filter.h"
#include "github/lang.h"
#include "github/repo.h"

static void test_lang_builtin(void **state)
{
	(void)state;
	struct gh_langs *t = gh_langs_builtin();
	assert_int_equal(gh_langs_count(t), 89);
	static const char *const cases[][2] = {
		{"src/a.py", "python"},        {"A.PY", "python"},
		{"x/Makefile", "makefile"},    {"types.d.ts", "typescript"},
		{"CMakeLists.txt", "cmake"},   {".emacs", "emacs_lisp"},
		{"a/b/foo.h", "c"},            {"k.hpp", "cpp"},
		{"Dockerfile", "dockerfile"},  {"x.tsx", "tsx"},
		{"lib.rs", "rust"},            {"main.go", "go"},
		{"x.unknown", NULL},           {"README", NULL},
		{"dir.py/file", NULL},         {"archive.tar.gz", NULL},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *got = gh_langs_lookup(t, cases[i][0]);
		if (cases[i][1])
			assert_string_equal(got, cases[i][1]);
		else
			assert_null(got);
	}
	gh_langs_free(t);
}

static void test_lang_table_errors(void **state)
{
	(void)state;
	static const char *const bad[][2] = {
		{"a\t.x\n", "t:1: expected 3"},
		{"# c\na\tx\t-\n", "t:2: extension 'x' must start"},
		{"a\t.x\t-\na\t.y\t-\n", "t:2: language 'a' listed twice"},
		{"a b\t.x\t-\n", "t:1: the language name"},
		{"a\t.x\t-\textra\n", "t:1: expected 3"},
		{"# nothing\n", "t: no languages"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_null(gh_langs_parse(bad[i][0], strlen(bad[i][0]), "t"));
		assert_non_null(strstr(err_get(), bad[i][1]));
	}
	/* an extension listed twice belongs to its first language; file names beat it */
	const char *ok = "one\t.x .Y\t-\ntwo\t.x\tspecial.x\n";
	struct gh_langs *t = gh_langs_parse(ok, strlen(ok), "t");
	assert_non_null(t);
	assert_string_equal(gh_langs_lookup(t, "a.x"), "one");
	assert_string_equal(gh_langs_lookup(t, "a.y"), "one");
	assert_string_equal(gh_langs_lookup(t, "d/special.x"), "two");
	gh_langs_free(t);
}

static const char *const vendor[] = {"vendor", "node_modules"};
static const char *const locks[] = {"yarn.lock"};
static const char *const gen[] = {"*_pb2.py"};
static const char *const marks[] = {"DO NOT EDIT"};

static struct gh_filter filter(void)
{
	return (struct gh_filter){1000, 100, 50, true, vendor, 2, locks, 1, gen, 1, marks, 1};
}

static const char *content(struct gh_filter *f, const char *lang, const char *s, size_t n,
			   struct buf *b, const char **enc)
{
	buf_set(b, s, n);
	return gh_filter_content(f, lang, b, enc);
}

static void test_filters(void **state)
{
	(void)state;
	struct gh_filter f = filter();
	assert_string_equal(gh_filter_path(&f, "a/vendor/b.go"), "vendored");
	assert_string_equal(gh_filter_path(&f, "node_modules/x.js"), "vendored");
	assert_null(gh_filter_path(&f, "vendor.go"));   /* a file, not a directory */
	assert_null(gh_filter_path(&f, "myvendor/x.go"));
	assert_string_equal(gh_filter_path(&f, "web/yarn.lock"), "lock_file");
	assert_string_equal(gh_filter_path(&f, "p/m_pb2.py"), "generated");
	assert_string_equal(gh_filter_path(&f, "s/app.min.js"), "minified");
	assert_null(gh_filter_path(&f, "src/main.c"));

	struct buf b = BUF_INIT;
	const char *enc;
	assert_string_equal(content(&f, "c", "", 0, &b, &enc), "empty");
	const char lfs[] = "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 3\n";
	assert_string_equal(content(&f, "c", lfs, sizeof lfs - 1, &b, &enc), "lfs_pointer");
	assert_string_equal(content(&f, "c", "ab\0cd", 5, &b, &enc), "binary");
	assert_string_equal(content(&f, "go", "// DO NOT EDIT\npackage x\n", 25, &b, &enc),
			    "generated");
	char line[200];
	memset(line, 'x', sizeof line);
	assert_string_equal(content(&f, "python", line, sizeof line, &b, &enc), "long_line");
	/* mean line 60 > 50 in JavaScript: minified; the same text in C only has short lines */
	char js[122];
	memset(js, 'a', sizeof js);
	js[60] = '\n';
	js[121] = '\n';
	assert_string_equal(content(&f, "javascript", js, sizeof js, &b, &enc), "minified");
	assert_null(content(&f, "c", js, sizeof js, &b, &enc));
	assert_null(enc);
	/* Windows-1252 and UTF-16 become UTF-8 */
	assert_null(content(&f, "c", "caf\xe9 \x80\n", 7, &b, &enc));
	assert_string_equal(enc, "windows-1252");
	assert_string_equal(b.p, "caf\xc3\xa9 \xe2\x82\xac\n");
	assert_null(content(&f, "c", "\xff\xfeh\0i\0\n\0", 8, &b, &enc));
	assert_string_equal(enc, "utf-16le");
	assert_string_equal(b.p, "hi\n");
	assert_null(content(&f, "c", "\xfe\xff\0h\0i", 6, &b, &enc));
	assert_string_equal(enc, "utf-16be");
	assert_string_equal(b.p, "hi");
	/* 0x81 is undefined in Windows-1252: ISO-8859-1 takes it */
	assert_null(content(&f, "c", "a\x81z", 3, &b, &enc));
	assert_string_equal(enc, "iso-8859-1");
	f.transcode = false;
	assert_string_equal(content(&f, "c", "caf\xe9", 4, &b, &enc), "invalid_encoding");
	buf_release(&b);
}

/* Builds a file list (sorted by the caller) and compares its edges with want, written as
 * "from>to" lines. */
static void check_edges(const struct gh_file *f, size_t n, const char *want)
{
	struct gh_edge *e;
	size_t ne = gh_deps_edges(f, n, &e);
	struct buf got = BUF_INIT;
	for (size_t i = 0; i < ne; i++)
		buf_printf(&got, "%s>%s\n", f[e[i].from].path, f[e[i].to].path);
	assert_string_equal(got.p ? got.p : "", want);
	buf_release(&got);
	free(e);
}

#define FILE_(p, l, t) {p, l, t, sizeof t - 1}

static void test_python_edges(void **state)
{
	(void)state;
	const struct gh_file f[] = {
		FILE_("pkg/__init__.py", "python", "from .sub import deep\n"),
		FILE_("pkg/sub/__init__.py", "python", "x = 1\n"),
		FILE_("pkg/sub/deep.py", "python", "from ... import top\nfrom ..other import *\n"),
		FILE_("pkg/other.py", "python", "import os, pkg.sub as s\n"),
		FILE_("top.py", "python", "import pkg.other\nimport missing\n"),
	};
	/* the caller sorts by path: do it here */
	struct gh_file s[] = {f[0], f[3], f[1], f[2], f[4]};
	check_edges(s, 5,
		    "pkg/__init__.py>pkg/sub/__init__.py\n"
		    "pkg/__init__.py>pkg/sub/deep.py\n"
		    "pkg/other.py>pkg/sub/__init__.py\n"
		    "pkg/sub/deep.py>pkg/other.py\n"
		    "pkg/sub/deep.py>top.py\n"
		    "top.py>pkg/other.py\n");
}

static void test_other_language_edges(void **state)
{
	(void)state;
	const struct gh_file java[] = {
		FILE_("src/a/A.java", "java", "import static b.B.helper;\nimport b.c.*;\n"),
		FILE_("src/b/B.java", "java", "import java.util.List;\n"),
		FILE_("src/b/c/C1.java", "java", "class C1 {}\n"),
		FILE_("src/b/c/C2.java", "java", "class C2 {}\n"),
	};
	check_edges(java, 4, "src/a/A.java>src/b/B.java\nsrc/a/A.java>src/b/c/C1.java\n"
			     "src/a/A.java>src/b/c/C2.java\n");
	const struct gh_file c[] = {
		FILE_("inc/proj/api.h", "c", "#include <stdio.h>\n"),
		FILE_("src/impl.c", "c", "# include \"../inc/proj/api.h\"\n#include <proj/api.h>\n"
					 "#include \"impl.h\"\n"),
		FILE_("src/impl.h", "cpp", "#pragma once\n"),
	};
	check_edges(c, 3, "src/impl.c>inc/proj/api.h\nsrc/impl.c>src/impl.h\n");
	const struct gh_file js[] = {
		FILE_("app.ts", "typescript",
		      "import a from './lib';\nexport * from \"./b.js\";\nconst z = 'x./y';\n"
		      "const r = require ( '../out' );\nimport('./c');\n"),
		FILE_("b.ts", "typescript", "export const b = 1;\n"),
		FILE_("c.jsx", "javascript", "import React from 'react';\n"),
		FILE_("lib/index.js", "javascript", "module.exports = {};\n"),
	};
	check_edges(js, 4, "app.ts>b.ts\napp.ts>c.jsx\napp.ts>lib/index.js\n");
	/* no go.mod: an import path resolves by its directory suffix; the stdlib never */
	const struct gh_file go[] = {
		FILE_("cmd/main.go", "go", "package main\nimport (\n\tf \"fmt\"\n\t\"github.com/o/r/util\"\n)\n"),
		FILE_("util/a.go", "go", "package util\n"),
		FILE_("util/a_test.go", "go", "package util\n"),
		FILE_("util/b.go", "go", "package util\nimport \"os\"\n"),
	};
	check_edges(go, 4, "");
	const struct gh_file go2[] = {
		FILE_("go.mod", NULL, "module github.com/o/r\n"),
		FILE_("cmd/main.go", "go", "package main\nimport (\n\tf \"fmt\"\n\t\"github.com/o/r/util\"\n)\n"),
		FILE_("util/a.go", "go", "package util\n"),
		FILE_("util/a_test.go", "go", "package util\n"),
		FILE_("util/b.go", "go", "package util\nimport \"os\"\n"),
	};
	struct gh_file go2s[] = {go2[1], go2[0], go2[2], go2[3], go2[4]};
	check_edges(go2s, 5, "cmd/main.go>util/a.go\ncmd/main.go>util/b.go\n");
	const struct gh_file rs[] = {
		FILE_("src/a/b.rs", "rust", "use crate::c::D;\n"),
		FILE_("src/a/mod.rs", "rust", "pub(crate) mod b;\nmod inline { }\n"),
		FILE_("src/c.rs", "rust", "pub struct D;\n"),
		FILE_("src/main.rs", "rust", "mod a;\nmod c;\nuse std::io;\n"),
	};
	check_edges(rs, 4, "src/a/b.rs>src/c.rs\nsrc/a/mod.rs>src/a/b.rs\nsrc/main.rs>src/a/mod.rs\n"
			   "src/main.rs>src/c.rs\n");
}

static void plan_paths(const struct gh_file *f, size_t n, uint64_t max, uint64_t seed,
		       struct buf *out)
{
	struct gh_repo_docs d;
	gh_deps_plan(f, n, max, 1, 1, seed, "o/r", &d);
	buf_reset(out);
	for (size_t k = 0, i = 0; k < d.ndocs; k++) {
		for (; i < d.doc_end[k]; i++)
			buf_printf(out, "%s ", f[d.order[i]].path);
		buf_puts(out, "| ");
	}
	gh_repo_docs_release(&d);
}

static void test_order_and_split(void **state)
{
	(void)state;
	/* a -> b -> c -> a is a cycle; d imports a and b. Each of a, b, c has one unmet
	 * import, so the first path (a) breaks the cycle; then c (its import a is met), b, d.
	 * x.c stands alone; y.txt has no language and stays out. */
	const struct gh_file f[] = {
		FILE_("a.py", "python", "import b\n"),
		FILE_("b.py", "python", "import c\n"),
		FILE_("c.py", "python", "import a\n"),
		FILE_("d.py", "python", "import a\nimport b\n"),
		FILE_("s1.sh", "shell", "echo 1\n"),
		FILE_("s2.sql", "sql", "select 1;\n"),
		FILE_("s3.html", "html", "<p>\n"),
		FILE_("x.c", "c", "int x;\n"),
		FILE_("y.txt", NULL, "not code\n"),
	};
	struct buf a = BUF_INIT, b = BUF_INIT;
	plan_paths(f, 9, 0, 0, &a);
	/* a first (cycle rule), then c (imports a), then b (imports c), then d */
	assert_non_null(strstr(a.p, "a.py c.py b.py d.py x.c "));
	assert_null(strstr(a.p, "y.txt"));
	assert_int_equal(strchr(a.p, '|') - a.p, (long)strlen(a.p) - 2); /* one document */
	plan_paths(f, 9, 0, 0, &b);
	assert_string_equal(a.p, b.p); /* the shuffle is seeded */
	int differs = 0;
	for (uint64_t s = 1; s < 8 && !differs; s++) {
		plan_paths(f, 9, 0, s, &b);
		differs = strcmp(a.p, b.p) != 0;
		assert_non_null(strstr(b.p, "a.py c.py b.py d.py x.c "));
	}
	assert_true(differs);
	/* the cycle rule prefers fewer unmet imports over the path: m imports n and z (2 unmet),
	 * n and z import m (1 each), so n goes first though m sorts before it */
	const struct gh_file g[] = {
		FILE_("m.py", "python", "import n\nimport z\n"),
		FILE_("n.py", "python", "import m\n"),
		FILE_("z.py", "python", "import m\n"),
	};
	plan_paths(g, 3, 0, 0, &a);
	assert_string_equal(a.p, "n.py m.py z.py | ");
	/* a file counts text + 1 (header) + path + 1: a.py, b.py, c.py 15, d.py 24, x.c 12.
	 * Under 16 bytes each file is alone, in the same order */
	plan_paths(f, 9, 16, 0, &b);
	assert_non_null(strstr(b.p, "a.py | c.py | b.py | d.py | x.c | "));
	/* under 40: the component (69 bytes) is cut in its order, a+c (30), b+d (39); x.c
	 * does not fit after d and starts a document */
	plan_paths(f, 9, 40, 0, &b);
	assert_non_null(strstr(b.p, "a.py c.py | b.py d.py | x.c "));
	buf_release(&a);
	buf_release(&b);
}

static void test_bm25_by_hand(void **state)
{
	(void)state;
	static const char *const text[] = {"Apple banana", "apple APPLE cherry", "cherry a b"};
	struct gh_bm25_doc d[3];
	const struct gh_bm25_doc *p[3];
	for (int i = 0; i < 3; i++) {
		gh_bm25_doc_build(&d[i], text[i], strlen(text[i]));
		p[i] = &d[i];
	}
	assert_int_equal(d[2].len, 1); /* one-letter words are not terms */
	size_t idx[3];
	double sc[3];
	/* N=3, df(apple)=2: idf = ln(1 + 1.5/2.5) = ln 1.6; lengths 2, 3, 1, avgdl 2.
	 * doc1: tf 2: idf*2*2.2/(2 + 1.2*(0.25 + 0.75*1.5)) = idf*4.4/3.65
	 * doc0: tf 1: idf*2.2/(1 + 1.2*(0.25 + 0.75*1)) = idf */
	assert_int_equal(gh_bm25_top(p, 3, "apples? apple!", 14, 5, 1.2, 0.75, idx, sc), 2);
	assert_int_equal(idx[0], 1);
	assert_int_equal(idx[1], 0);
	assert_true(fabs(sc[0] - log(1.6) * 4.4 / 3.65) < 1e-12);
	assert_true(fabs(sc[1] - log(1.6)) < 1e-12);
	/* ties go to the smaller index; k caps the count; no match: none */
	assert_int_equal(gh_bm25_top(p, 3, "cherry", 6, 1, 1.2, 0.0, idx, sc), 1);
	assert_int_equal(idx[0], 1);
	assert_int_equal(gh_bm25_top(p, 3, "durian", 6, 5, 1.2, 0.75, idx, NULL), 0);
	for (int i = 0; i < 3; i++)
		gh_bm25_doc_release(&d[i]);
}

/* Random documents over a vocabulary of fixed-width words (so that the reference's substring
 * counts are word counts), scored by okapibm25@1.4.1 (npm, run by node) and by ours. */
static void test_bm25_parity(void **state)
{
	(void)state;
	FILE *p = popen("bash scripts/okapibm25.sh 2>/dev/null", "r");
	char ref[4096] = "";
	if (!p || !fgets(ref, sizeof ref, p) || pclose(p) != 0) {
		print_message("okapibm25 not available (npm); parity not checked\n");
		skip();
	}
	ref[strcspn(ref, "\n")] = 0;
	enum { NDOCS = 40, NQ = 12 };
	uint64_t rng = 42;
	struct buf in = BUF_INIT;
	struct buf text[NDOCS];
	struct gh_bm25_doc d[NDOCS];
	const struct gh_bm25_doc *pd[NDOCS];
	char queries[NQ][64];
	buf_puts(&in, "{\"docs\":[");
	for (int i = 0; i < NDOCS; i++) {
		text[i] = (struct buf)BUF_INIT;
		int len = 1 + (int)((rng = rng * 6364136223846793005ULL + 1) >> 33) % 60;
		for (int w = 0; w < len; w++) {
			rng = rng * 6364136223846793005ULL + 1;
			buf_printf(&text[i], "%sw%02d", w ? " " : "", (int)((rng >> 33) % 30));
		}
		gh_bm25_doc_build(&d[i], text[i].p, text[i].len);
		pd[i] = &d[i];
		buf_printf(&in, "%s\"%s\"", i ? "," : "", text[i].p);
	}
	buf_puts(&in, "],\"queries\":[");
	for (int q = 0; q < NQ; q++) {
		int n = 1 + q % 4, used[30] = {0};
		queries[q][0] = 0;
		buf_printf(&in, "%s[", q ? "," : "");
		for (int k = 0; k < n; k++) {
			int w;
			do {
				rng = rng * 6364136223846793005ULL + 1;
				w = (int)((rng >> 33) % 30);
			} while (used[w]);
			used[w] = 1;
			char word[8];
			snprintf(word, sizeof word, "w%02d", w);
			strcat(queries[q], k ? " " : "");
			strcat(queries[q], word);
			buf_printf(&in, "%s\"%s\"", k ? "," : "", word);
		}
		buf_puts(&in, "]");
	}
	buf_puts(&in, "]}");
	char path[] = "/tmp/test_github_bm25.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, in.p, in.len), (ssize_t)in.len);
	close(fd);
	char *cmd = xasprintf("node -e 'const m = require(process.argv[1]), B = m.default || m;"
			      " const j = JSON.parse(require(\"fs\").readFileSync(process.argv[2]));"
			      " for (const q of j.queries) console.log(B(j.docs, q).map(x => x.toPrecision(17)).join(\" \"))'"
			      " '%s' '%s'", ref, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (int q = 0; q < NQ; q++) {
		double want[NDOCS];
		for (int i = 0; i < NDOCS; i++)
			assert_int_equal(fscanf(p, "%lf", &want[i]), 1);
		size_t idx[NDOCS];
		double got[NDOCS];
		size_t m = gh_bm25_top(pd, NDOCS, queries[q], strlen(queries[q]), NDOCS, 1.2, 0.75,
				       idx, got);
		size_t positive = 0;
		for (int i = 0; i < NDOCS; i++)
			positive += want[i] > 0;
		assert_true(positive > 0); /* the comparison below means something */
		assert_int_equal(m, positive);
		for (size_t r = 0; r < m; r++) {
			assert_true(fabs(got[r] - want[idx[r]]) < 1e-9 * (1 + want[idx[r]]));
			if (r) /* descending, ties by index */
				assert_true(got[r - 1] > got[r] ||
					    (got[r - 1] == got[r] && idx[r - 1] < idx[r]));
		}
	}
	assert_int_equal(pclose(p), 0);
	unlink(path);
	free(cmd);
	buf_release(&in);
	for (int i = 0; i < NDOCS; i++) {
		buf_release(&text[i]);
		gh_bm25_doc_release(&d[i]);
	}
}

static void test_repo_list_line(void **state)
{
	(void)state;
	struct gh_repo r;
	const char *l = "{\"url\":\"https://github.com/o/r.git\",\"stars\":12,\"forks\":3.0}";
	assert_int_equal(gh_repo_parse(l, strlen(l), &r), 0);
	assert_string_equal(r.name, "o/r");
	assert_string_equal(r.ref, "HEAD");
	assert_int_equal(r.stars, 12);
	assert_int_equal(r.forks, 3);
	gh_repo_release(&r);
	l = "{\"url\":\"git@github.com:o/r.git\",\"name\":\"x/y\",\"ref\":\"dev\"}";
	assert_int_equal(gh_repo_parse(l, strlen(l), &r), 0);
	assert_string_equal(r.name, "x/y");
	assert_string_equal(r.ref, "dev");
	gh_repo_release(&r);
	static const char *const bad[][2] = {
		{"{\"url\":\"a\",\"path\":\"b\"}", "exactly one"},
		{"{\"stars\":1}", "exactly one"},
		{"{\"path\":\"/p\",\"stars\":-1}", "'stars' must be a number"},
		{"{\"path\":\"\"}", "'path' must be a non-empty"},
		{"{\"url\":\"ftp://x/y\"}", "is not https"},
		{"[1]", "not a JSON object"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(gh_repo_parse(bad[i][0], strlen(bad[i][0]), &r), -1);
		assert_non_null(strstr(err_get(), bad[i][1]));
		gh_repo_release(&r);
	}
	char *n = gh_repo_name("/srv/git/team/proj.git/");
	assert_string_equal(n, "team/proj");
	free(n);
	n = gh_repo_name("proj");
	assert_string_equal(n, "proj");
	free(n);
}

/* Paths that are not UTF-8 are shown as git -c core.quotePath=true ls-files prints them (the
 * expected strings are git 2.39's output for these file names); UTF-8 paths are kept. */
static void test_path_shown(void **state)
{
	struct buf t = BUF_INIT;
	const char *plain = "src/ok-\303\251.go";
	assert_ptr_equal(gh_path_shown(plain, &t), plain);
	assert_string_equal(gh_path_shown("caf\351.go", &t), "\"caf\\351.go\"");
	assert_string_equal(gh_path_shown("a\tb\377", &t), "\"a\\tb\\377\"");
	assert_string_equal(gh_path_shown("q\"\351\\x\177", &t), "\"q\\\"\\351\\\\x\\177\"");
	assert_string_equal(gh_path_shown("a\tb", &t), "\"a\\tb\"");          /* control byte */
	assert_string_equal(gh_path_shown("ok-\303\251\377", &t), "\"ok-\\303\\251\\377\"");
	buf_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lang_builtin),
		cmocka_unit_test(test_lang_table_errors),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_python_edges),
		cmocka_unit_test(test_other_language_edges),
		cmocka_unit_test(test_order_and_split),
		cmocka_unit_test(test_bm25_by_hand),
		cmocka_unit_test(test_bm25_parity),
		cmocka_unit_test(test_repo_list_line),
		cmocka_unit_test(test_path_shown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
