/* fuzz_doc: doc_parse must accept exactly what jansson accepts as a document line, with the
 * same values (its fast path is checked against jansson alone); what it accepts must
 * serialize to a line that parses to the same document and serializes to the same bytes;
 * and the escaper's output for any bytes must read back as utf8_repair's copy of them. */
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

/* jansson alone on a document line: the root object, or NULL where doc_parse must fail. */
static json_t *ref_parse(const uint8_t *data, size_t size)
{
	json_error_t e;
	json_t *root = json_loadb((const char *)data, size, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES,
				 &e);
	json_t *src = json_object_get(root, "source"), *meta = json_object_get(root, "metadata");

	if (root && json_is_object(root) && json_is_string(json_object_get(root, "id")) &&
	    json_is_string(json_object_get(root, "text")) &&
	    (!src || json_is_null(src) || json_is_string(src)) &&
	    (!meta || json_is_null(meta) || json_is_object(meta)))
		return root;
	json_decref(root);
	return NULL;
}

static int same_str(const struct buf *b, json_t *s)
{
	size_t n = json_is_string(s) ? json_string_length(s) : 0;
	return b->len == n && (!n || !memcmp(b->p, json_string_value(s), n));
}

static int own_key(const char *k, size_t n)
{
	return (n == 2 && !memcmp(k, "id", 2)) || (n == 4 && !memcmp(k, "text", 4)) ||
	       (n == 6 && !memcmp(k, "source", 6)) || (n == 8 && !memcmp(k, "metadata", 8));
}

/* d against jansson's root: the same fields, the extra ones in the same order. */
static void check_ref(const struct doc *d, json_t *root)
{
	json_t *meta = json_object_get(root, "metadata");

	check(same_str(&d->id, json_object_get(root, "id")) &&
		      same_str(&d->text, json_object_get(root, "text")) &&
		      same_str(&d->source, json_object_get(root, "source")),
	      "id, text or source differ from jansson's");
	check(json_is_object(meta) ? json_equal(meta, d->meta) : !json_object_size(d->meta),
	      "metadata differs from jansson's");
	void *mine = json_object_iter(d->extra);
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
		const char *k = json_object_iter_key(it);
		size_t kl = json_object_iter_key_len(it);
		if (own_key(k, kl))
			continue;
		check(mine && json_object_iter_key_len(mine) == kl &&
			      !memcmp(json_object_iter_key(mine), k, kl) &&
			      json_equal(json_object_iter_value(mine), json_object_iter_value(it)),
		      "extra fields differ from jansson's");
		mine = json_object_iter_next(d->extra, mine);
	}
	check(!mine, "more extra fields than jansson has");
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
	json_t *root = ref_parse(data, size);
	int rc = doc_parse(&d1, (const char *)data, size);
	check(rc == (root ? 0 : -1), root ? "doc_parse rejects what jansson accepts"
					  : "doc_parse accepts what jansson rejects");
	if (rc) {
		json_decref(root);
		return 0;
	}
	check_ref(&d1, root);
	json_decref(root);
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
