/* megatron: Megatron-LM indexed datasets (.bin raw token ids + .idx with the MMIDIDX header,
 * version 1, dtype code, sequence and document counts, int32 lengths, int64 byte pointers,
 * int64 document indices), one sequence per document, as megatron/core/datasets/
 * indexed_dataset.py writes and reads them. Written atomically (temporary names, fsync,
 * rename); read back with every field checked against the file sizes. */
#ifndef CURATE_MEGATRON_H
#define CURATE_MEGATRON_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum { MEGATRON_INT32 = 4, MEGATRON_UINT16 = 8 };

/* Megatron's rule: uint16 when the vocabulary has fewer than 65500 ids, else int32. */
int megatron_dtype_for_vocab(uint32_t vocab_size);

struct megatron_info {
	uint64_t docs, tokens;
	uint64_t bin_bytes, idx_bytes;
	char bin_sha256[SHA256_HEX], idx_sha256[SHA256_HEX];
};

struct megatron_writer;
/* Starts PREFIX.bin and PREFIX.idx (as temporary files until close). NULL with err_set. */
struct megatron_writer *megatron_writer_open(const char *prefix, int dtype);
/* Appends one document of n ids. -1 with err_set (write error, id out of the dtype's range,
 * a document longer than INT32_MAX tokens). */
int megatron_writer_add(struct megatron_writer *w, const uint32_t *ids, size_t n);
/* Writes the index, fsyncs, renames both files in place and fills info; frees w. */
int megatron_writer_close(struct megatron_writer *w, struct megatron_info *info);
void megatron_writer_abort(struct megatron_writer *w); /* removes the temporaries; NULL ok */

struct megatron_reader;
/* Opens PREFIX.idx and PREFIX.bin and checks the header, counts, pointers and sizes.
 * NULL with err_set naming the file and the field that is wrong. */
struct megatron_reader *megatron_open(const char *prefix);
uint64_t megatron_docs(const struct megatron_reader *r);
uint64_t megatron_tokens(const struct megatron_reader *r);
int megatron_dtype(const struct megatron_reader *r);
/* Document i's ids into out (replacing its content, out->v owned by the caller). */
struct bpe_ids;
int megatron_read_doc(struct megatron_reader *r, uint64_t i, struct bpe_ids *out);
void megatron_close(struct megatron_reader *r); /* NULL is a no-op */

#endif
