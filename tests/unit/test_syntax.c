/* Unit tests of the grammar registry and the syntax checker: every manifest grammar loads and
 * tells its valid snippet from its broken one (tests/data/syntax/{ok,bad}/LANG), lookups by
 * name, alias and file name, error positions, and pathological inputs under a time limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registry.h"
#include "syntax.h"
#include "util.h"

static struct syntax_result check_text(const char *lang, const char *text, size_t n,
				       uint64_t timeout_us)
{
	const struct grammar *g = grammar_find(lang);
	assert_non_null(g);
	struct syntax_checker *c = syntax_checker_new(timeout_us);
	struct syntax_result r;
	assert_int_equal(syntax_check(c, g, text, n, &r), 0);
	syntax_checker_free(c);
	return r;
}

static void test_registry_loads_every_grammar(void **state)
{
	assert_true(grammar_count() >= 40);
	for (size_t i = 0; i < grammar_count(); i++) {
		const struct grammar *g = grammar_at(i);
		if (!grammar_language(g))
			fail_msg("%s", err_get());
		assert_ptr_equal(grammar_find(g->name), g);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(grammar_at(j)->name, g->name);
	}
	assert_null(grammar_at(grammar_count()));
}

static void test_registry_lookups(void **state)
{
	assert_string_equal(grammar_find("Python")->name, "python");
	assert_string_equal(grammar_find("c++")->name, "cpp");
	assert_string_equal(grammar_find("CSharp")->name, "c_sharp");
	assert_string_equal(grammar_find("ts")->name, "typescript");
	assert_null(grammar_find("perl"));
	assert_null(grammar_find(""));
	assert_string_equal(grammar_for_path("a/b/x.py")->name, "python");
	assert_string_equal(grammar_for_path("gh:o/r:src/main.rs")->name, "rust");
	assert_string_equal(grammar_for_path("X.PY")->name, "python");
	assert_string_equal(grammar_for_path("proj/Makefile")->name, "make");
	assert_string_equal(grammar_for_path("web/app.tsx")->name, "tsx");
	assert_string_equal(grammar_for_path("lib/a.mli")->name, "ocaml_interface");
	assert_string_equal(grammar_for_path("include/stdio.h")->name, "c");
	assert_null(grammar_for_path("README"));
	assert_null(grammar_for_path("home/.bashrc"));
	assert_null(grammar_for_path("x.pl"));
	assert_null(grammar_for_path("dir/"));
}

/* Markdown has no syntax errors (CommonMark gives every input a meaning), so its grammars
 * never report one: their "broken" snippet is junk that must still parse clean. */
static int accepts_everything(const char *lang)
{
	return !strcmp(lang, "markdown") || !strcmp(lang, "markdown_inline");
}

/* The snippet pair of every grammar: a missing file fails, so the manifest cannot grow
 * without its tests. */
static void test_snippets_every_grammar(void **state)
{
	struct syntax_checker *c = syntax_checker_new(5000000);
	struct buf b = BUF_INIT;
	int bad = 0;
	for (size_t i = 0; i < grammar_count(); i++) {
		const struct grammar *g = grammar_at(i);
		struct syntax_result ok, ko;
		char *p = xasprintf("tests/data/syntax/ok/%s", g->name);
		if (read_file(p, &b) < 0)
			fail_msg("%s", err_get());
		assert_int_equal(syntax_check(c, g, b.p, b.len, &ok), 0);
		free(p);
		p = xasprintf("tests/data/syntax/bad/%s", g->name);
		if (read_file(p, &b) < 0)
			fail_msg("%s", err_get());
		assert_int_equal(syntax_check(c, g, b.p, b.len, &ko), 0);
		free(p);
		printf("%-16s valid: %s; broken: %llu errors, %llu missing, first at %u:%u\n",
		       g->name, ok.status == SYNTAX_OK ? "ok" : "ERRORS",
		       (unsigned long long)ko.errors, (unsigned long long)ko.missing, ko.line,
		       ko.column);
		enum syntax_status want = accepts_everything(g->name) ? SYNTAX_OK : SYNTAX_ERRORS;
		if (ok.status != SYNTAX_OK || ko.status != want) {
			printf("  ^ %s: wrong verdict\n", g->name);
			bad++;
		}
	}
	buf_release(&b);
	syntax_checker_free(c);
	assert_int_equal(bad, 0);
}

static void test_first_error_position(void **state)
{
	/* a missing ';' is a MISSING node where the statement should have ended */
	const char *src = "int f(void)\n{\n\treturn 0\n}\n";
	struct syntax_result r = check_text("c", src, strlen(src), 0);
	assert_int_equal(r.status, SYNTAX_ERRORS);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.missing, 1);
	assert_int_equal(r.error_bytes, 1);
	assert_string_equal(r.missing_what, ";");
	assert_int_equal(r.line, 3);
	assert_int_equal(r.column, 10);
	/* stray tokens are an ERROR node covering their bytes */
	const char *py = "x = 1\ny = 2 3 4 )\n";
	r = check_text("python", py, strlen(py), 0);
	assert_int_equal(r.status, SYNTAX_ERRORS);
	assert_true(r.errors >= 1);
	assert_int_equal(r.line, 2);
	assert_true(r.error_bytes > 0 && r.error_bytes <= strlen(py));
	assert_null(r.missing_what);
	/* text with NUL bytes and invalid UTF-8 parses without crashing */
	const char nul[] = "x = 1\0\xff\xfe y";
	r = check_text("python", nul, sizeof nul - 1, 0);
	assert_int_equal(r.status, SYNTAX_ERRORS);
	r = check_text("json", "", 0, 0);
	assert_int_equal(r.status, SYNTAX_OK);
}

/* A checker reused across languages and after timeouts gives the same verdicts. The Dart
 * grammar never ends on this input (found by fuzz_syntax); the second parse after such a
 * timeout crashed libtree-sitter 0.20.7 when the parser was only reset. */
static void test_reuse_after_timeout(void **state)
{
	/* limits that stopped it at points where 0.20.7 faulted (fault or timeout: no crash) */
	static const uint64_t limits[] = {10000, 50000, 100000, 150000, 200000};
	for (size_t i = 0; i < ARRAY_LEN(limits); i++) {
		struct syntax_checker *t = syntax_checker_new(limits[i]);
		struct syntax_result q;
		static const char in[] = "\ncpp\nx= temploaA \0- f() {t\x10 rdtuzn }\n";
		assert_int_equal(syntax_check(t, grammar_find("dart"), in, sizeof in - 1, &q), 0);
		assert_true(q.status == SYNTAX_TIMEOUT || q.status == SYNTAX_FAULT);
		printf("dart loop, limit %llu us: %s\n", (unsigned long long)limits[i],
		       q.status == SYNTAX_FAULT ? "parser fault caught" : "timeout");
		syntax_checker_free(t);
	}
	static const char loop[] = "\ncpp\nx= temploaA \0- f() {t\x10 rdtuzn }\n";
	const char *ok = "x = [1, 2]\n", *js = "let x = [1, 2];\n";
	struct syntax_checker *c = syntax_checker_new(200000);
	struct syntax_result r;
	for (int k = 0; k < 3; k++) {
		assert_int_equal(syntax_check(c, grammar_find("dart"), loop, sizeof loop - 1, &r), 0);
		assert_true(r.status == SYNTAX_TIMEOUT || r.status == SYNTAX_FAULT);
		assert_int_equal(syntax_check(c, grammar_find("python"), ok, strlen(ok), &r), 0);
		assert_int_equal(r.status, SYNTAX_OK);
		assert_int_equal(syntax_check(c, grammar_find("javascript"), js, strlen(js), &r), 0);
		assert_int_equal(r.status, SYNTAX_OK);
	}
	syntax_checker_free(c);
	/* a limit of 1 us stops a 4 MB parse at once */
	c = syntax_checker_new(1);
	size_t n = 4 << 20;
	char *big = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = "a+"[i & 1];
	assert_int_equal(syntax_check(c, grammar_find("python"), big, n, &r), 0);
	assert_int_equal(r.status, SYNTAX_TIMEOUT);
	syntax_checker_free(c);
	free(big);
}

/* A 50 MB single line stops at the time limit, not after parsing it all. */
static void test_huge_line_times_out(void **state)
{
	size_t n = 50u << 20;
	char *line = xmalloc(n);
	memset(line, '[', n);
	uint64_t limit_us = 500000;
	double t0 = now_seconds();
	struct syntax_result r = check_text("json", line, n, limit_us);
	double dt = now_seconds() - t0;
	printf("50 MB line: status %d after %.2fs (limit %.2fs)\n", r.status, dt,
	       limit_us / 1e6);
	assert_int_equal(r.status, SYNTAX_TIMEOUT);
	/* the limit is checked every few parser steps: generous slack for ASan and a busy CI */
	assert_true(dt < 10.0);
	free(line);
}

/* Deep nesting is handled without recursion: no stack overflow, a clean verdict. */
static void test_deep_nesting(void **state)
{
	size_t depth = 100000;
	struct buf b = BUF_INIT;
	buf_puts(&b, "x = ");
	for (size_t i = 0; i < depth; i++)
		buf_putc(&b, '(');
	buf_putc(&b, '1');
	for (size_t i = 0; i < depth; i++)
		buf_putc(&b, ')');
	buf_putc(&b, '\n');
	double t0 = now_seconds();
	struct syntax_result r = check_text("python", b.p, b.len, 20000000);
	printf("python nesting %zu deep: status %d in %.2fs\n", depth, r.status,
	       now_seconds() - t0);
	assert_int_equal(r.status, SYNTAX_OK);
	b.p[b.len - 2] = ' '; /* one ')' short */
	r = check_text("python", b.p, b.len, 20000000);
	assert_int_equal(r.status, SYNTAX_ERRORS);
	buf_release(&b);
}

static int same(const struct syntax_result *a, const struct syntax_result *b)
{
	return a->status == b->status && a->errors == b->errors && a->missing == b->missing &&
	       a->error_bytes == b->error_bytes && a->line == b->line && a->column == b->column;
}

/* A reused parser must judge a text as a fresh one does, whatever it parsed before: the
 * Swift scanner keeps an unterminated raw string's '#' count across parses (fuzz_syntax
 * found it), which would make verdicts depend on which rank saw which files first. */
static void test_no_state_between_texts(void **state)
{
	const char *before[] = {"let a = #\"x \\#(y\n", "let b = ##\"p \\##(q\n"};
	const char *text = "let s = \"a\" + \"b\"\nlet t = ##\"c\"##\nprint(s)\n";
	const struct grammar *g = grammar_find("swift");
	struct syntax_checker *fresh = syntax_checker_new(0), *reused = syntax_checker_new(0);
	struct syntax_result want, got;
	assert_int_equal(syntax_check(fresh, g, text, strlen(text), &want), 0);
	for (size_t i = 0; i < ARRAY_LEN(before); i++) {
		assert_int_equal(syntax_check(reused, g, before[i], strlen(before[i]), &got), 0);
		assert_int_equal(syntax_check(reused, g, text, strlen(text), &got), 0);
		assert_true(same(&want, &got));
	}
	/* every grammar: its valid snippet after its broken one, as if fresh */
	struct buf ok = BUF_INIT, bad = BUF_INIT;
	for (size_t i = 0; i < grammar_count(); i++) {
		g = grammar_at(i);
		char *p = xasprintf("tests/data/syntax/ok/%s", g->name);
		char *q = xasprintf("tests/data/syntax/bad/%s", g->name);
		assert_int_equal(read_file(p, &ok), 0);
		assert_int_equal(read_file(q, &bad), 0);
		struct syntax_checker *f = syntax_checker_new(0);
		assert_int_equal(syntax_check(f, g, bad.p, bad.len, &want), 0);
		syntax_checker_free(f);
		assert_int_equal(syntax_check(reused, g, ok.p, ok.len, &got), 0);
		assert_int_equal(syntax_check(reused, g, bad.p, bad.len, &got), 0);
		if (!same(&want, &got))
			fail_msg("%s: the broken snippet after the valid one differs", g->name);
		free(p), free(q);
	}
	buf_release(&ok), buf_release(&bad);
	syntax_checker_free(fresh);
	syntax_checker_free(reused);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_loads_every_grammar),
		cmocka_unit_test(test_registry_lookups),
		cmocka_unit_test(test_snippets_every_grammar),
		cmocka_unit_test(test_first_error_position),
		cmocka_unit_test(test_reuse_after_timeout),
		cmocka_unit_test(test_huge_line_times_out),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_no_state_between_texts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
