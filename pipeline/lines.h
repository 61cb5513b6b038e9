/* lines: a streaming line reader over plain, gzip (multi-member) and zstd files, picked by
 * content (magic bytes), not by name. Memory is bounded by the longest line. */
#ifndef CURATE_LINES_H
#define CURATE_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct lines;

/* Opens path ("-" is standard input). NULL with err_set on failure. If hash is nonzero the
 * reader also computes the SHA-256 of the raw (compressed) bytes it reads. */
struct lines *lines_open(const char *path, int hash);
/* Next line without its '\n' (a final line without newline counts). *line stays valid until
 * the next call. Returns 1 with a line, 0 at the end, -1 on a read or decompression error
 * (err_set: "PATH: line N (byte offset O): what"), for example a truncated zstd frame or
 * gzip member, or a zstd frame checksum mismatch. */
int lines_next(struct lines *r, const char **line, size_t *len);
uint64_t lines_lineno(const struct lines *r);  /* 1-based number of the last line read */
uint64_t lines_offset(const struct lines *r);  /* uncompressed byte offset of that line */
uint64_t lines_raw_bytes(const struct lines *r); /* compressed bytes read so far */
/* After lines_next returned 0 and hash was asked: hex SHA-256 of the raw file. */
const char *lines_sha256(const struct lines *r);
const char *lines_path(const struct lines *r);
void lines_close(struct lines *r); /* NULL is a no-op */

#endif
