/* fuzz_doc: any input doc_parse accepts must serialize to a line that parses again to the
 * same document and serializes to the same bytes; and the escaper's output for arbitrary
 * bytes must be a JSON string jansson reads back as utf8_repair's copy of them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

static void check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_doc: %s (%s)\n", what, err_get());
	abort();
}

static void fuzz_escape(const char *s, size_t n)
{
	static struct buf esc, rep;
	json_error_t e;

	buf_reset(&esc);
	buf_reset(&rep);
	size_t bad = json_escape(&esc, s, n);
	check(utf8_repair(&rep, s, n) == bad, "json_escape and utf8_repair count differently");
	check(utf8_invalid_count(s, n) == bad, "utf8_invalid_count disagrees");
	json_t *j = json_loadb(esc.p, esc.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	check(j != NULL, "escaped string is not valid JSON");
	check(json_string_length(j) == rep.len &&
		      !memcmp(json_string_value(j), rep.p, rep.len),
	      "escaped string does not read back as the repaired input");
	json_decref(j);
}

static int same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->p, b->p, a->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct doc d1, d2;
	static struct buf a, b;
	static int ready;

	if (!ready) {
		doc_init(&d1);
		doc_init(&d2);
		ready = 1;
	}
	fuzz_escape((const char *)data, size);
	if (doc_parse(&d1, (const char *)data, size))
		return 0;
	buf_reset(&a);
	/* jansson accepted it, so it held valid UTF-8: nothing to repair */
	check(doc_serialize(&d1, &a) == 0, "valid input needed UTF-8 repair");
	check(doc_parse(&d2, a.p, a.len) == 0, "serialized line does not parse");
	check(same(&d1.id, &d2.id) && same(&d1.text, &d2.text) && same(&d1.source, &d2.source),
	      "id, text or source changed in a round trip");
	check(json_equal(d1.meta, d2.meta) && json_equal(d1.extra, d2.extra),
	      "metadata or extra fields changed in a round trip");
	buf_reset(&b);
	doc_serialize(&d2, &b);
	check(same(&a, &b), "re-serialization differs");
	return 0;
}
