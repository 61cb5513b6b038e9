/* shard: document shards, zstd-compressed JSONL written atomically (temporary name, fsync,
 * rename) with the SHA-256 and record count a manifest records, and read back by streaming
 * with the checksum verified at the end. Memory is bounded by the largest record. */
#ifndef CURATE_SHARD_H
#define CURATE_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "doc.h"

struct shard_info {
	char sha256[SHA256_HEX]; /* of the compressed file */
	uint64_t records;
	uint64_t bytes;     /* compressed file size */
	uint64_t raw_bytes; /* uncompressed JSONL bytes */
	uint64_t utf8_repaired; /* invalid UTF-8 sequences replaced while writing */
};

struct shard_writer;

/* Starts path (written as path.tmp.PID until shard_writer_close). level is the zstd level.
 * NULL with err_set on failure. Frames carry zstd content checksums. */
struct shard_writer *shard_writer_open(const char *path, int level);
/* From now on, records keep their id, source and metadata and get metadata.text_bytes
 * instead of their text: rejected shards kept for audit (keep_rejected) without
 * keep_rejected_text. */
void shard_writer_ids_only(struct shard_writer *w, bool on);
int shard_writer_put(struct shard_writer *w, const struct doc *d);
/* A line already in JSON form, ending in '\n'. */
int shard_writer_put_line(struct shard_writer *w, const char *line, size_t len);
uint64_t shard_writer_records(const struct shard_writer *w);
/* Finishes the frame, fsyncs, renames to the final path, fsyncs the directory, and fills
 * info. Frees w in every case; -1 with err_set on failure (the temporary file is removed). */
int shard_writer_close(struct shard_writer *w, struct shard_info *info);
/* Drops the temporary file and frees w; NULL is a no-op. */
void shard_writer_abort(struct shard_writer *w);

struct shard_reader;

/* Opens a shard. If expect_sha256 is given, the SHA-256 of the file is checked when the end
 * is reached and a mismatch is an error. NULL with err_set on failure. */
struct shard_reader *shard_reader_open(const char *path, const char *expect_sha256);
/* Next record into d: 1 with a record, 0 at the end (checksum good), -1 on error with
 * err_set naming the path, the record number and byte offset: a bad JSON line, a truncated
 * or corrupt zstd stream, or a checksum mismatch. */
int shard_reader_next(struct shard_reader *r, struct doc *d);
/* The same, giving the raw JSON line (without '\n') instead of parsing it. */
int shard_reader_next_line(struct shard_reader *r, const char **line, size_t *len);
uint64_t shard_reader_records(const struct shard_reader *r); /* records read so far */
void shard_reader_close(struct shard_reader *r); /* NULL is a no-op */

#endif
