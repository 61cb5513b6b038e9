/* fuzz_syntax: any bytes, parsed by any grammar (Tree-sitter parsers and their hand-written C
 * scanners read untrusted files), must give a consistent verdict: counts that match the
 * status, an error place inside the text, and the same result from a reused parser.
 * Input: "LANG\nTEXT" for a grammar name, else byte 0 picks the grammar and TEXT follows. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syntax.h"
#include "util.h"

static void check(int ok, const char *what, const struct grammar *g)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_syntax: %s: %s (%s)\n", g->name, what, err_get());
	abort();
}

static const struct grammar *pick(const uint8_t *data, size_t size, size_t *skip)
{
	const uint8_t *nl = memchr(data, '\n', size < 32 ? size : 32);
	if (nl) {
		char name[33];
		memcpy(name, data, (size_t)(nl - data));
		name[nl - data] = 0;
		const struct grammar *g = grammar_find(name);
		if (g) {
			*skip = (size_t)(nl - data) + 1;
			return g;
		}
	}
	*skip = 1;
	return grammar_at(data[0] % grammar_count());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct syntax_checker *c;
	if (!c)
		c = syntax_checker_new(2000000); /* a pathological input ends as a timeout */
	if (size < 1)
		return 0;
	size_t skip;
	const struct grammar *g = pick(data, size, &skip);
	const char *text = (const char *)data + skip;
	size_t n = size - skip;
	struct syntax_result a, b;
	check(syntax_check(c, g, text, n, &a) == 0, "syntax_check failed", g);
	if (a.status == SYNTAX_TIMEOUT || a.status == SYNTAX_FAULT)
		return 0;
	check((a.status == SYNTAX_OK) == (a.errors + a.missing == 0), "status and counts differ", g);
	check(a.error_bytes <= n + a.missing, "more error bytes than text", g);
	if (a.status == SYNTAX_ERRORS)
		check(a.line >= 1 && a.column >= 1, "error place missing", g);
	check(syntax_check(c, g, text, n, &b) == 0, "second parse failed", g);
	if (b.status == SYNTAX_OK || b.status == SYNTAX_ERRORS)
		check(a.status == b.status && a.errors == b.errors && a.missing == b.missing &&
			      a.error_bytes == b.error_bytes && a.line == b.line &&
			      a.column == b.column,
		      "a reused parser disagrees with itself", g);
	return 0;
}
