/* fuzz_import: libFuzzer target for the import stage's mapping of JSONL records (datatrove,
 * Dolma, The Stack dumps) onto curate's schema. Each line of the input is mapped with the
 * default field names and with dotted ones (The Stack's content, meta.id, meta.src); a
 * record that is kept must become a document line that doc_parse reads back with the same
 * id, text, source and metadata, with no byte repaired, as the next stage will read it. A
 * dropped one must say why, naming the file and line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

static const struct import_fields fields[] = {
	{"id", "text", "source", "metadata", "import"},
	{"meta.id", "content", "meta.src", "meta", "the-stack"},
};

static int same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->p, b->p, a->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct doc d, back;
	static struct buf line;
	static int ready;
	if (!ready) {
		doc_init(&d);
		doc_init(&back);
		ready = 1;
	}
	const char *p = (const char *)data, *end = p + size;
	for (uint64_t lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
			const char *reason = NULL;
			if (!import_map_record(&fields[k], "fuzz.jsonl", lineno, p, len, &d,
					       &reason)) {
				if (!reason || strncmp(err_get(), "fuzz.jsonl:", 11))
					abort();
				continue;
			}
			buf_reset(&line);
			if (doc_serialize(&d, &line) != 0)
				abort(); /* jansson's strings are valid UTF-8: nothing to repair */
			if (doc_parse(&back, line.p, line.len) < 0) {
				fprintf(stderr, "unreadable: %s\n%.*s", err_get(), (int)line.len, line.p);
				abort();
			}
			if (!same(&d.id, &back.id) || !same(&d.text, &back.text) ||
			    !same(&d.source, &back.source) || !json_equal(d.meta, back.meta))
				abort();
		}
		p += len + 1;
	}
	return 0;
}
