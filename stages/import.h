/* import: how the import stage maps one JSONL record onto curate's schema (stages/import.c),
 * shared with its fuzz target. */
#ifndef CURATE_IMPORT_H
#define CURATE_IMPORT_H

#include <stdint.h>

#include "doc.h"

/* The record fields to read (dotted paths reach into objects: meta.id), and the source of
 * records that name none: the import.fields.* and import.source options. */
struct import_fields {
	const char *id, *text, *source, *meta, *default_source;
};

/* Maps JSON line `lineno` of path onto d: 1 when it is a record with a text, 0 when it is
 * to be dropped, with *reason ("bad_json", "no_text") and err_set naming path and line. */
int import_map_record(const struct import_fields *f, const char *path, uint64_t lineno,
		      const char *line, size_t len, struct doc *d, const char **reason);

/* What import.invalid_utf8=repair mends in a JSONL line before it is mapped, since jansson
 * turns such lines down: each invalid UTF-8 sequence becomes U+FFFD (as utf8_repair does)
 * and each lone surrogate escape (a \ud800 without its low half, as Python's json.dumps
 * writes for such strings) becomes \ufffd. Appends the repaired line to out, or only counts
 * when out is NULL; returns the number of repairs (0: the line needs none). */
size_t import_repair_line(struct buf *out, const char *line, size_t len);

#endif
