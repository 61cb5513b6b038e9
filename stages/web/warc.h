/* warc: a streaming reader of WARC files (ISO 28500, WARC/1.0 and 1.1), plain or gzip with one
 * member per record (or one member for the whole file). It hands out one record at a time and
 * survives bad input: garbage between records, a wrong Content-Length, a truncated file, a
 * corrupt gzip member; each is reported as a skipped stretch with a reason, and reading goes on
 * at the next record. It knows nothing about HTTP or HTML. */
#ifndef CURATE_WEB_WARC_H
#define CURATE_WEB_WARC_H

#include <stdint.h>
#include <stdio.h>

struct warc_reader;

/* One record. Strings are NUL-terminated and empty when the header lacks the field; every
 * pointer stays valid until the next warc_next or warc_close. */
struct warc_record {
	uint64_t offset;        /* of its "WARC/" line in the uncompressed stream */
	const char *type;       /* WARC-Type: "response", "request", "resource", ... */
	const char *record_id;  /* WARC-Record-ID, without the angle brackets */
	const char *date;       /* WARC-Date */
	const char *target_uri; /* WARC-Target-URI, without angle brackets (old wget adds them) */
	const char *content_type; /* Content-Type of the block */
	const char *block;      /* Content-Length bytes */
	uint64_t length;
};

/* Reads f (not closed by the reader); name is for messages. Gzip is detected by content.
 * max_block: records whose block is longer are skipped unread (reason too_large). */
struct warc_reader *warc_open(FILE *f, const char *name, uint64_t max_block);
void warc_close(struct warc_reader *r); /* NULL is a no-op */

enum warc_result {
	WARC_END = 0,    /* no more records */
	WARC_RECORD = 1, /* *rec holds a record */
	WARC_SKIP = 2,   /* a stretch was skipped: *reason and *bytes say why and how much */
	WARC_ERROR = -1, /* the file cannot be read (I/O error): err_set */
};

/* The next record or skipped stretch. Reasons: garbage (bytes that are no record),
 * bad_header (no parsable WARC header or Content-Length), bad_length (the block does not end
 * where Content-Length says), truncated (the file ends inside a record), corrupt_gzip (the
 * record lies in a damaged gzip member), too_large. For a skip, rec->offset says where and
 * rec->type, when the header was read, what kind of record was lost. */
int warc_next(struct warc_reader *r, struct warc_record *rec, const char **reason,
	      uint64_t *bytes);

/* Compressed bytes read so far (the file's size at the end). */
uint64_t warc_raw_bytes(const struct warc_reader *r);
/* Whether the input is gzip. */
int warc_is_gzip(const struct warc_reader *r);

#endif
