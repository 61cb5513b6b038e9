/* near_files: dedup-near's files of an input shard's signatures (its phase "signatures",
 * docs/dedup.md), and the readers its streaming passes look documents up with:
 *   sig: slot r (4 x num_hashes bytes at r x that) is record r's signature, u32 LE; zeros
 *        for a record without one;
 *   key: per record with a signature, [record u32 BE][level u8][keep key length u32 BE]
 *        [keep key], in record order.
 * A document is named by its 8-byte document key, [shard u32 BE][record u32 BE]. Lookups come
 * from sorted exchanges, so in document-key order: near_keys_find reads forward, passing over
 * what it does not need, and near_sigs_get reads a window ahead when the next slot is near
 * and the one slot when it is far. Damaged or short files give an error naming the file and
 * the record, never a read past what the file holds. */
#ifndef CURATE_STAGES_NEAR_FILES_H
#define CURATE_STAGES_NEAR_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define NEAR_DK 8
#define NEAR_KEY_MIN 23        /* the shortest keep key: an empty id */
#define NEAR_KEY_MAX (1 << 20) /* a longer one is a damaged record */

/* The path of shard's file ext (caller frees). */
typedef char *(*near_path_fn)(const void *ctx, size_t shard, const char *ext);

struct near_sigs {
	near_path_fn path_of;
	const void *ctx;
	size_t sl, shard; /* a slot's bytes; the open shard, SIZE_MAX for none */
	int fd;
	char *path;
	unsigned char *win; /* bytes [off, off + len) of the file */
	uint64_t off;
	size_t len;
};

void near_sigs_open(struct near_sigs *s, near_path_fn path_of, const void *ctx, unsigned nh);
void near_sigs_close(struct near_sigs *s);
/* Document dk's signature, valid until the next call; lookups may come in any order. 0, or
 * -1 with err_set. */
int near_sigs_get(struct near_sigs *s, const void *dk, const unsigned char **sig);

struct near_keys {
	near_path_fn path_of;
	const void *ctx;
	size_t shard;
	int fd;
	char *path;
	struct buf b; /* bytes read, [pos, b.len) not yet taken */
	size_t pos;
	const char *kk; /* the current record's keep key, in b */
	size_t kl;
	uint64_t at; /* its record number, UINT64_MAX when none is read */
	int level;
};

void near_keys_open(struct near_keys *c, near_path_fn path_of, const void *ctx);
void near_keys_close(struct near_keys *c);
/* Opens shard's key file for near_keys_next. 0, or -1 with err_set. */
int near_keys_shard(struct near_keys *c, size_t shard);
/* The next record of the open file: its number in c->at, level and keep key (c->kk, c->kl,
 * valid until the next call). 1, 0 at the end, -1 on a damaged or truncated record. */
int near_keys_next(struct near_keys *c);
/* Document dk's keep key, which must not come before the last one found; valid until the
 * next call. 0, or -1 with err_set. */
int near_keys_find(struct near_keys *c, const void *dk, const void **kk, size_t *kl);

#endif
