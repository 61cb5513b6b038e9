/* safetensors: reads Hugging Face safetensors files by memory-mapping them, and sharded
 * checkpoints through model.safetensors.index.json. The header is validated in full (dtype,
 * shape, offsets inside the file, sizes that match the shape, no overlaps) before any tensor
 * is touched; it does not convert or copy tensor data (see scorer.c for that). */
#ifndef CURATE_SAFETENSORS_H
#define CURATE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

enum st_dtype { ST_F32, ST_F16, ST_BF16 };

#define ST_MAX_DIMS 4

struct st_tensor {
	char *name;
	enum st_dtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	const void *data; /* inside the mapping of its file */
	size_t nbytes;
	const char *file; /* the file it lives in (owned by the set) */
};

/* A set of tensors from one file or a sharded checkpoint. */
struct st_set;

/* Parses a safetensors image in memory (8-byte header length, JSON header, data). The
 * tensors point into data, which must outlive the set; name is used in messages. NULL with
 * err_set naming the file and what is wrong. Free with st_free. */
struct st_set *st_parse_mem(const void *data, size_t len, const char *name);
/* Opens a checkpoint directory: model.safetensors, or model.safetensors.index.json and the
 * shard files it names. Files are mapped read-only. NULL with err_set. */
struct st_set *st_open_dir(const char *dir);
void st_free(struct st_set *s); /* NULL is a no-op; unmaps the files */

size_t st_count(const struct st_set *s);
const struct st_tensor *st_at(const struct st_set *s, size_t i);
const struct st_tensor *st_find(const struct st_set *s, const char *name); /* or NULL */

const char *st_dtype_name(enum st_dtype t);
size_t st_dtype_size(enum st_dtype t);
/* Converts n elements of src (in dtype t) to fp32. */
void st_to_f32(enum st_dtype t, const void *src, size_t n, float *dst);
/* bf16 with round-to-nearest-even (NaN kept a NaN). */
uint16_t st_f32_to_bf16(float f);

/* Writes a safetensors file atomically; tensors' data/nbytes give the bytes, names and
 * shapes the header. 0, or -1 with err_set. */
int st_write(const char *path, const struct st_tensor *t, size_t n);

#endif
