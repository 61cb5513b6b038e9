/* doc: one document record and its JSON line form, the Dolma-compatible schema of
 * docs/formats.md: {"id","text","source","metadata":{...}} plus any other top-level fields
 * kept as they came. Text may hold any bytes, NUL included; JSON output is always valid
 * UTF-8 (invalid sequences become U+FFFD and are counted). */
#ifndef CURATE_DOC_H
#define CURATE_DOC_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

struct doc {
	struct buf id;
	struct buf text;   /* may contain NUL bytes; text.len is authoritative */
	struct buf source; /* "github", "repo", "commit", "web", "import", ... */
	json_t *meta;      /* object, owned; never NULL after doc_init */
	json_t *extra;     /* other top-level fields (Dolma "added", "created", ...), owned */
};

void doc_init(struct doc *d);
void doc_reset(struct doc *d);   /* empty, keeps buffers for reuse */
void doc_release(struct doc *d); /* frees everything; doc_init again to reuse */

/* Parses one JSON line (without or with its trailing newline). "id" and "text" must be
 * strings, "source" a string if present, "metadata" an object if present. Returns 0, or -1
 * with err_set saying what is wrong (the caller adds file and line). */
int doc_parse(struct doc *d, const char *line, size_t len);

/* Appends the JSON line of d, ending in '\n', to out. Field order: id, text, source,
 * metadata, then extra. Returns the number of invalid UTF-8 sequences replaced by U+FFFD
 * in id, text and source (0 for valid input, which round-trips byte for byte). */
size_t doc_serialize(const struct doc *d, struct buf *out);

/* Appends s as a JSON string literal with quotes; returns invalid sequences replaced. */
size_t json_escape(struct buf *out, const char *s, size_t n);
/* Number of invalid UTF-8 sequences in s (0 if valid). */
size_t utf8_invalid_count(const char *s, size_t n);
/* Copies s to out replacing each invalid sequence by U+FFFD; returns the count replaced. */
size_t utf8_repair(struct buf *out, const char *s, size_t n);

#endif
