/* test_license: the licence identifier against Debian's /usr/share/common-licenses texts and
 * SPDX's own texts, each also rewrapped, re-spaced, with CRLF ends, another copyright line,
 * Markdown headings and a few words changed; close licences told apart (BSD-2/3-Clause, MIT
 * and MIT-0, Apache-2.0 with and without its appendix); prose that is no licence; SPDX
 * header lines, expression kinds and licence file names. The SPDX list is spdx-full.json
 * from $CURATE_SPDX_JSON or scripts/spdx.sh (npm); without it the text tests skip.
 * `test_license --identify FILE...` (or `-` for paths on stdin) prints FILE, id or "none"
 * and score per file, for tests/e2e/license.sh and docs/license.md's measurements. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "github/license.h"
#include "util.h"

static struct lic_db *db;

/* The SPDX list's path: $CURATE_SPDX_JSON, else what scripts/spdx.sh prints; NULL if none. */
static const char *spdx_json(void)
{
	static char path[4096];
	const char *env = getenv("CURATE_SPDX_JSON");
	if (env && *env)
		return env;
	FILE *p = popen("bash scripts/spdx.sh 2>/dev/null", "r");
	if (!p)
		return NULL;
	int ok = fgets(path, sizeof path, p) != NULL;
	if (pclose(p) != 0 || !ok)
		return NULL;
	path[strcspn(path, "\n")] = 0;
	return path;
}

static int load_db(void **state)
{
	(void)state;
	const char *p = spdx_json();
	db = p ? lic_db_load(p) : NULL;
	if (p && !db)
		fprintf(stderr, "test_license: %s\n", err_get());
	return 0;
}

static int free_db(void **state)
{
	(void)state;
	lic_db_free(db);
	return 0;
}

#define NEED_DB()                                                                          \
	do {                                                                               \
		if (!db) {                                                                 \
			print_message("no SPDX list (set CURATE_SPDX_JSON or let npm fetch "   \
				      "it: scripts/spdx.sh); skipped\n");                      \
			skip();                                                            \
		}                                                                          \
	} while (0)

/* ---- text variants ---- */

static void v_spaces(const struct buf *in, struct buf *out)
{
	buf_puts(out, "   ");
	for (size_t i = 0; i < in->len; i++) {
		if (in->p[i] == ' ')
			buf_puts(out, " \t  ");
		else if (in->p[i] == '\n')
			buf_puts(out, "  \n\t ");
		else
			buf_putc(out, in->p[i]);
	}
}

/* Paragraphs (blank-line separated) refilled to lines of at most width columns. */
static void v_rewrap(const struct buf *in, struct buf *out, size_t width)
{
	size_t col = 0;
	for (size_t i = 0; i < in->len;) {
		if (in->p[i] == '\n' && i + 1 < in->len && in->p[i + 1] == '\n') {
			buf_puts(out, "\n\n");
			col = 0;
			while (i < in->len && in->p[i] == '\n')
				i++;
			continue;
		}
		if (isspace((unsigned char)in->p[i])) {
			i++;
			continue;
		}
		size_t e = i;
		while (e < in->len && !isspace((unsigned char)in->p[e]))
			e++;
		if (col && col + 1 + (e - i) > width) {
			buf_putc(out, '\n');
			col = 0;
		} else if (col) {
			buf_putc(out, ' ');
			col++;
		}
		buf_append(out, in->p + i, e - i);
		col += e - i;
		i = e;
	}
}

static void v_crlf(const struct buf *in, struct buf *out)
{
	for (size_t i = 0; i < in->len; i++) {
		if (in->p[i] == '\n')
			buf_putc(out, '\r');
		buf_putc(out, in->p[i]);
	}
}

/* Another holder: copyright lines replaced, and one more added on top. */
static void v_copyright(const struct buf *in, struct buf *out)
{
	buf_puts(out, "Copyright (c) 2019-2024 Jane Q. Hacker <jane@example.org>\n"
		      "All rights reserved.\n\n");
	for (size_t i = 0; i < in->len;) {
		size_t e = i;
		while (e < in->len && in->p[e] != '\n')
			e++;
		size_t s = i;
		while (s < e && isspace((unsigned char)in->p[s]))
			s++;
		if (e - s > 10 && !strncasecmp(in->p + s, "copyright ", 10))
			buf_puts(out, "Copyright (C) 2001, 2003 Some Other Holder, Ltd.");
		else
			buf_append(out, in->p + i, e - i);
		if (e < in->len)
			buf_putc(out, '\n');
		i = e + 1;
	}
}

/* The first line a "#" heading, other upper-case lines "##" headings, a rule under the first. */
static void v_markdown(const struct buf *in, struct buf *out)
{
	int first = 1;
	for (size_t i = 0; i < in->len;) {
		size_t e = i;
		while (e < in->len && in->p[e] != '\n')
			e++;
		int upper = e > i, letters = 0;
		for (size_t k = i; k < e; k++) {
			upper &= !islower((unsigned char)in->p[k]);
			letters += isalpha((unsigned char)in->p[k]) != 0;
		}
		if (first && letters)
			buf_puts(out, "# ");
		else if (upper && letters > 3)
			buf_puts(out, "## ");
		buf_append(out, in->p + i, e - i);
		buf_putc(out, '\n');
		if (first && letters) {
			buf_puts(out, "\n---\n");
			first = 0;
		}
		i = e + 1;
	}
}

/* One word in every 60 replaced by another. */
static void v_words(const struct buf *in, struct buf *out)
{
	size_t w = 0;
	for (size_t i = 0; i < in->len;) {
		if (!isalpha((unsigned char)in->p[i])) {
			buf_putc(out, in->p[i++]);
			continue;
		}
		size_t e = i;
		while (e < in->len && isalpha((unsigned char)in->p[e]))
			e++;
		if (++w % 60 == 30)
			buf_puts(out, "banana");
		else
			buf_append(out, in->p + i, e - i);
		i = e;
	}
}

enum { V_ORIG, V_SPACES, V_WRAP, V_CRLF, V_COPY, V_MD, V_WORDS, NVARIANTS };
static const char *const vname[] = {"as is", "spaces", "rewrapped at 60", "CRLF",
				    "copyright changed", "markdown", "words changed"};

static void variant(int v, const struct buf *in, struct buf *out)
{
	buf_reset(out);
	switch (v) {
	case V_ORIG: buf_append(out, in->p, in->len); break;
	case V_SPACES: v_spaces(in, out); break;
	case V_WRAP: v_rewrap(in, out, 60); break;
	case V_CRLF: v_crlf(in, out); break;
	case V_COPY: v_copyright(in, out); break;
	case V_MD: v_markdown(in, out); break;
	case V_WORDS: v_words(in, out); break;
	}
	buf_putc(out, 0);
	out->len--;
}

/* Every variant of text is identified as want; returns the lowest score. */
static double expect_all(const char *name, const struct buf *text, const char *want)
{
	struct buf v = BUF_INIT;
	double low = 2;
	for (int k = 0; k < NVARIANTS; k++) {
		variant(k, text, &v);
		double sc;
		const char *got = lic_identify(db, v.p, v.len, &sc);
		if (!got || strcmp(got, want))
			fail_msg("%s (%s): got %s (score %.3f), want %s", name, vname[k],
				 got ? got : "none", sc, want);
		low = sc < low ? sc : low;
	}
	buf_release(&v);
	return low;
}

/* ---- tests ---- */

static void test_debian_texts(void **state)
{
	(void)state;
	NEED_DB();
	/* Debian's Artistic is the Artistic License as Perl ships it: SPDX's Artistic-1.0-Perl
	 * word for word (1.000); Artistic-1.0 (0.846) lacks Perl's clause 8 on aggregation with
	 * a commercial distribution and the longer clause 7 */
	static const char *const cases[][2] = {
		{"Apache-2.0", "Apache-2.0"},	  {"Artistic", "Artistic-1.0-Perl"},
		{"BSD", "BSD-3-Clause"},	  {"CC0-1.0", "CC0-1.0"},
		{"GFDL-1.2", "GFDL-1.2-only"},	  {"GFDL-1.3", "GFDL-1.3-only"},
		{"GPL-1", "GPL-1.0-only"},	  {"GPL-2", "GPL-2.0-only"},
		{"GPL-3", "GPL-3.0-only"},	  {"LGPL-2", "LGPL-2.0-only"},
		{"LGPL-2.1", "LGPL-2.1-only"},	  {"LGPL-3", "LGPL-3.0-only"},
		{"MPL-1.1", "MPL-1.1"},		  {"MPL-2.0", "MPL-2.0"},
	};
	struct buf t = BUF_INIT;
	int seen = 0;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char path[256];
		snprintf(path, sizeof path, "/usr/share/common-licenses/%s", cases[i][0]);
		if (read_file(path, &t) < 0) {
			print_message("%s missing\n", path);
			continue;
		}
		seen++;
		double low = expect_all(cases[i][0], &t, cases[i][1]);
		print_message("%-10s -> %-18s lowest score %.3f\n", cases[i][0], cases[i][1], low);
	}
	buf_release(&t);
	if (!seen)
		skip(); /* no Debian texts on this machine */
}

/* SPDX's own text of id, its <placeholders> filled with another holder. */
static int spdx_text(const char *id, struct buf *out)
{
	buf_reset(out);
	const char *p = spdx_json();
	json_t *j = p ? json_load_file(p, 0, NULL) : NULL;
	const char *s = json_string_value(json_object_get(json_object_get(j, id), "licenseText"));
	for (; s && *s; s++) {
		const char *e = *s == '<' ? strchr(s, '>') : NULL;
		if (e && e - s < 40 && !memchr(s, '\n', (size_t)(e - s))) {
			buf_puts(out, "2021 Example Corp.");
			s = e;
			continue;
		}
		buf_putc(out, *s);
	}
	json_decref(j);
	return out->len ? 0 : -1;
}

static void test_spdx_texts(void **state)
{
	(void)state;
	NEED_DB();
	/* close pairs: BSD-2 is BSD-3 less a clause, MIT-0 is MIT less its condition, 0BSD
	 * is ISC less its condition, X11 is MIT plus an advertising clause */
	static const char *const ids[] = {"MIT", "BSD-2-Clause", "BSD-3-Clause", "MIT-0", "ISC",
					  "0BSD", "Zlib", "X11", "Unlicense", "BSL-1.0",
					  "Apache-2.0", "PostgreSQL", "WTFPL", "EPL-2.0"};
	struct buf t = BUF_INIT;
	for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
		assert_int_equal(spdx_text(ids[i], &t), 0);
		double low = expect_all(ids[i], &t, ids[i]);
		print_message("%-12s lowest score %.3f\n", ids[i], low);
	}
	buf_release(&t);
}

/* Apache-2.0 without its how-to-apply appendix is still Apache-2.0, not Pixar's licence
 * (Apache-2.0's terms, no appendix, a changed trademark clause). */
static void test_apache_appendix(void **state)
{
	(void)state;
	NEED_DB();
	struct buf t = BUF_INIT;
	if (read_file("/usr/share/common-licenses/Apache-2.0", &t) < 0)
		assert_int_equal(spdx_text("Apache-2.0", &t), 0);
	const char *end = strstr(t.p, "END OF TERMS AND CONDITIONS");
	assert_non_null(end);
	t.len = (size_t)(end - t.p) + 27;
	t.p[t.len] = 0;
	expect_all("Apache-2.0 without appendix", &t, "Apache-2.0");
	buf_release(&t);
}

static void test_not_licences(void **state)
{
	(void)state;
	NEED_DB();
	static const char *const texts[] = {
		"",
		"MIT",
		"This project is licensed under the MIT License - see the LICENSE file for "
		"details.",
		"# curate\n\ncurate builds code pretraining corpora the way the Seed-Coder report "
		"describes: crawl GitHub repositories and Common Crawl, deduplicate exactly and "
		"approximately, drop files that do not parse, keep code-relevant web pages, score "
		"quality with a built-in model, and write token shards a trainer reads as they "
		"are. It is written in C, runs as MPI ranks, and is driven by one YAML config.\n",
		"#include <stdio.h>\n\nint main(void)\n{\n\tprintf(\"hello, world\\n\");\n"
		"\treturn 0;\n}\n",
		"Copyright (c) 2024 Jane Doe\nAll rights reserved.\n",
	};
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		double sc = -1;
		const char *got = lic_identify(db, texts[i], strlen(texts[i]), &sc);
		if (got)
			fail_msg("text %zu: got %s (%.3f), want none", i, got, sc);
		assert_true(sc >= 0 && sc < 0.5);
	}
	/* bytes that are no UTF-8, and a text longer than what is read */
	char junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 131 + 7);
	assert_null(lic_identify(db, junk, sizeof junk, NULL));
	struct buf big = BUF_INIT, mit = BUF_INIT;
	assert_int_equal(spdx_text("MIT", &mit), 0);
	buf_append(&big, mit.p, mit.len);
	for (size_t i = 0; big.len < LIC_MAX_TEXT + 1000; i++)
		buf_printf(&big, " filler%zu", i);
	double sc;
	assert_null(lic_identify(db, big.p, big.len, &sc)); /* MIT drowned in the first 256 KB */
	buf_release(&big);
	buf_release(&mit);
}

static void test_load_errors(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_license.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *p = xasprintf("%s/bad.json", dir);
	assert_null(lic_db_load("/nonexistent/spdx-full.json"));
	assert_non_null(strstr(err_get(), "/nonexistent/spdx-full.json"));
	static const char *const bad[][2] = {
		{"{\"MIT\": ", "bad.json:1:"},
		{"[1, 2]", "expected an object of SPDX ids"},
		{"{\"MIT\": {\"name\": \"MIT License\"}}", "no licence texts"},
		{"{\"GPL-2.0\": {\"licenseText\": \"deprecated ids are left out\"}}",
		 "no licence texts"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(write_file_atomic(p, bad[i][0], strlen(bad[i][0])), 0);
		assert_null(lic_db_load(p));
		if (!strstr(err_get(), bad[i][1]) || !strstr(err_get(), p))
			fail_msg("case %zu: %s", i, err_get());
	}
	const char *mem = "{\"MIT\": [}";
	assert_null(lic_db_parse(mem, strlen(mem), "the built-in list"));
	assert_non_null(strstr(err_get(), "the built-in list:1:"));
	/* a list of two: the ids sharing a text resolve to the "-only" one */
	const char *two = "{\"GPL-2.0-or-later\": {\"licenseText\": \"one two three four\"},"
			  " \"GPL-2.0-only\": {\"licenseText\": \"one two three four\"},"
			  " \"MIT\": {\"licenseText\": \"five six seven eight\"}}";
	assert_int_equal(write_file_atomic(p, two, strlen(two)), 0);
	struct lic_db *d = lic_db_parse(two, strlen(two), "two");
	assert_non_null(d);
	assert_int_equal(lic_db_count(d), 2);
	lic_db_free(d);
	d = lic_db_load(p);
	assert_non_null(d);
	assert_int_equal(lic_db_count(d), 2);
	double sc;
	assert_string_equal(lic_identify(d, "One, two; THREE four.", 21, &sc), "GPL-2.0-only");
	assert_true(sc == 1.0);
	assert_string_equal(lic_identify(d, "five six seven eight", 20, NULL), "MIT");
	lic_db_free(d);
	lic_db_free(NULL);
	remove_tree(dir);
	free(p);
}

static void test_normalization(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_license.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *p = xasprintf("%s/n.json", dir);
	const char *list = "{\"X\": {\"licenseText\": \"Copyright (c) <year> <owner>\\n\\n"
			   "1. The licence is granted \\u201cas is\\u201d, see "
			   "https://example.org/x\\n(b) whilst the author's "
			   "name—and all rights reserved—stays.\"}}";
	assert_int_equal(write_file_atomic(p, list, strlen(list)), 0);
	struct lic_db *d = lic_db_load(p);
	assert_non_null(d);
	/* other copyright, quotes, dashes, http, spelling, list markers, case, spacing */
	const char *same = "© 2020 Someone Else\nCOPYRIGHT 1999 Other\n(c) 2001 Third\n"
			   "  * The LICENSE   is granted \"as is\",\r\nsee http://example.org/x\n"
			   "iv) while the author's name - and - stays.";
	double sc;
	assert_string_equal(lic_identify(d, same, strlen(same), &sc), "X");
	assert_true(sc == 1.0);
	/* "copyright notice" in the middle of a text is not a copyright line */
	const char *notice = "copyright notice the licence is granted as is see https "
			     "example org x whilst the author s name and stays";
	lic_identify(d, notice, strlen(notice), &sc);
	assert_true(sc < 1.0 && sc > 0.85);
	lic_db_free(d);
	remove_tree(dir);
	free(p);
}

static void test_spdx_header(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"/* SPDX-License-Identifier: MIT */\n#include <stdio.h>\n", "MIT"},
		{"#!/bin/sh\n# SPDX-License-Identifier: Apache-2.0 OR MIT\necho\n",
		 "Apache-2.0 OR MIT"},
		{"// SPDX-License-Identifier: GPL-2.0-or-later\n", "GPL-2.0-or-later"},
		{"<!-- SPDX-License-Identifier: CC-BY-4.0 -->\n<html>", "CC-BY-4.0"},
		{"-- spdx-license-identifier:   (MIT  OR\tApache-2.0)  \r\n",
		 "(MIT OR Apache-2.0)"},
		{"(* SPDX-License-Identifier: LGPL-2.1-only WITH OCaml-LGPL-linking-exception *)",
		 "LGPL-2.1-only WITH OCaml-LGPL-linking-exception"},
		{" * SPDX-License-Identifier:\n * SPDX-License-Identifier: BSD-3-Clause\n",
		 "BSD-3-Clause"},
		{"int x;\n", NULL},
		{"", NULL},
	};
	struct buf ids = BUF_INIT;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int found = lic_spdx_header(cases[i][0], strlen(cases[i][0]), &ids);
		if (!cases[i][1]) {
			assert_int_equal(found, 0);
			assert_int_equal(ids.len, 0);
			continue;
		}
		assert_int_equal(found, 1);
		assert_string_equal(ids.p, cases[i][1]);
	}
	/* only the first 50 lines are read */
	struct buf t = BUF_INIT;
	for (int i = 0; i < 50; i++)
		buf_puts(&t, "line\n");
	buf_puts(&t, "// SPDX-License-Identifier: MIT\n");
	assert_int_equal(lic_spdx_header(t.p, t.len, &ids), 0);
	assert_int_equal(lic_spdx_header(t.p + 5, t.len - 5, &ids), 1);
	buf_release(&t);
	buf_release(&ids);
}

static void test_type(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{NULL, "unknown"},
		{"", "unknown"},
		{"  ", "unknown"},
		{"NOASSERTION", "unknown"},
		{"MIT", "permissive"},
		{"mit", "permissive"},
		{"GPL-3.0-only", "copyleft"},
		{"LicenseRef-proprietary", "copyleft"}, /* identified, not permissive */
		{"Apache-2.0 OR MIT", "permissive"},
		{"GPL-2.0-only OR MIT", "permissive"},
		{"GPL-2.0-only AND MIT", "copyleft"},
		{"MIT AND BSD-3-Clause", "permissive"},
		{"Apache-2.0 WITH LLVM-exception", "permissive"},
		{"GPL-2.0-only WITH Linux-syscall-note", "copyleft"},
		{"(MIT OR GPL-2.0-only) AND Zlib", "permissive"},
		{"(MIT AND GPL-2.0-only) OR LGPL-2.1-only", "copyleft"},
		{"GPL-2.0-only AND MIT OR Zlib", "permissive"}, /* AND binds tighter than OR */
		{"MIT and (ISC or GPL-3.0-only)", "permissive"},
		{"MIT AND", "unknown"},
		{"(MIT", "unknown"},
		{"MIT OR OR ISC", "unknown"},
		{"MIT ISC", "unknown"},
		{"MIT WITH", "unknown"},
		{"()", "unknown"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *got = lic_type(cases[i][0], lic_default_permissive, SIZE_MAX);
		if (strcmp(got, cases[i][1]))
			fail_msg("'%s': got %s, want %s", cases[i][0] ? cases[i][0] : "(null)", got,
				 cases[i][1]);
	}
	static const char *const mine[] = {"Foo-1.0", "Zlib"};
	assert_string_equal(lic_type("foo-1.0", mine, 2), "permissive");
	assert_string_equal(lic_type("Zlib", mine, 1), "copyleft");
	assert_string_equal(lic_type("MIT", NULL, 0), "copyleft");
	for (const char *const *p = lic_default_permissive; *p; p++)
		assert_string_equal(lic_type(*p, lic_default_permissive, SIZE_MAX), "permissive");
}

static void test_license_paths(void **state)
{
	(void)state;
	static const char *const yes[] = {
		"LICENSE", "a/b/LICENSE.md", "COPYING", "COPYING.LESSER", "licence.txt",
		"UNLICENSE", "LICENSE-MIT", "LICENSE-APACHE", "MIT-LICENSE", "COPYRIGHT",
		"x/COPYING3", "LICENSE_1_0.txt", "LICENSES/MIT.txt", "src/LICENSES/Apache-2.0.txt",
		"License.rst", "LICENSE.mit", "COPYING.LIB", "license.html", "LICENSE-2.0.txt",
		"docs/Licenses.md",
	};
	static const char *const no[] = {
		"license.c", "src/license.py", "licenses.go", "README.md", "LICENSE.json",
		"mylicense", "LICENSES/tool.c", "unlicensed.txt", "", "dir/", "licensed/x.txt",
		"x/.txt", "copyingfiles.txt", "license.cpp.txt.c",
	};
	for (size_t i = 0; i < ARRAY_LEN(yes); i++)
		if (!lic_is_license_path(yes[i]))
			fail_msg("%s: not taken for a licence file", yes[i]);
	for (size_t i = 0; i < ARRAY_LEN(no); i++)
		if (lic_is_license_path(no[i]))
			fail_msg("%s: taken for a licence file", no[i]);
}

/* --identify: one line per file, then the counts and the time per file on stderr. */
static int identify_files(int argc, char **argv)
{
	const char *p = spdx_json();
	double t0 = now_seconds();
	struct lic_db *d = p ? lic_db_load(p) : NULL;
	if (!d) {
		fprintf(stderr, "test_license: %s\n",
			p ? err_get() : "no SPDX list (scripts/spdx.sh)");
		return 1;
	}
	double t1 = now_seconds(), busy = 0;
	size_t files = 0, named = 0;
	struct buf text = BUF_INIT;
	char line[4096];
	for (int i = 0; i < argc; i++) {
		int from_stdin = !strcmp(argv[i], "-");
		while (from_stdin ? fgets(line, sizeof line, stdin) != NULL : 1) {
			const char *path = from_stdin ? line : argv[i];
			line[strcspn(line, "\n")] = 0;
			if (read_file(path, &text) < 0) {
				fprintf(stderr, "test_license: %s\n", err_get());
			} else {
				double s = now_seconds(), sc;
				const char *id =
					lic_identify(d, text.p ? text.p : "", text.len, &sc);
				busy += now_seconds() - s;
				files++;
				named += id != NULL;
				printf("%s\t%s\t%.3f\n", path, id ? id : "none", sc);
			}
			if (!from_stdin)
				break;
		}
	}
	fprintf(stderr, "%zu files, %zu identified; load %.0f ms (%zu texts); %.3f ms per file\n",
		files, named, (t1 - t0) * 1e3, lic_db_count(d), files ? busy * 1e3 / files : 0.0);
	buf_release(&text);
	lic_db_free(d);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--identify"))
		return identify_files(argc - 2, argv + 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debian_texts),   cmocka_unit_test(test_spdx_texts),
		cmocka_unit_test(test_apache_appendix), cmocka_unit_test(test_not_licences),
		cmocka_unit_test(test_load_errors),    cmocka_unit_test(test_normalization),
		cmocka_unit_test(test_spdx_header),    cmocka_unit_test(test_type),
		cmocka_unit_test(test_license_paths),
	};
	return cmocka_run_group_tests(tests, load_db, free_db);
}
