/* megatron: the .bin/.idx writer and reader. The writer streams tokens to .bin and keeps
 * only one int32 length per document in memory; the reader loads the index and reads a
 * document's tokens with pread. Little-endian throughout, as numpy writes it on x86/ARM. */
#include "megatron.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpe.h"

static const char MAGIC[9] = "MMIDIDX\0";

int megatron_dtype_for_vocab(uint32_t vocab_size)
{
	return vocab_size < 65500 ? MEGATRON_UINT16 : MEGATRON_INT32;
}

struct megatron_writer {
	char *prefix, *bin_tmp, *idx_tmp;
	int fd, dtype;
	struct buf out;      /* pending .bin bytes */
	int32_t *lens;
	size_t ndocs, cap;
	uint64_t tokens;
	sha256_ctx *bin_sha;
};

struct megatron_writer *megatron_writer_open(const char *prefix, int dtype)
{
	struct megatron_writer *w = xcalloc(1, sizeof *w);
	w->prefix = xstrdup(prefix);
	w->bin_tmp = xasprintf("%s.bin.tmp.%d", prefix, (int)getpid());
	w->idx_tmp = xasprintf("%s.idx.tmp.%d", prefix, (int)getpid());
	w->dtype = dtype;
	w->fd = open(w->bin_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		err_set("%s: %s", w->bin_tmp, strerror(errno));
		free(w->prefix), free(w->bin_tmp), free(w->idx_tmp), free(w);
		return NULL;
	}
	w->bin_sha = sha256_new();
	return w;
}

static int flush_bin(struct megatron_writer *w)
{
	if (!w->out.len)
		return 0;
	sha256_update(w->bin_sha, w->out.p, w->out.len);
	int rc = write_all(w->fd, w->out.p, w->out.len, w->bin_tmp);
	buf_reset(&w->out);
	return rc;
}

int megatron_writer_add(struct megatron_writer *w, const uint32_t *ids, size_t n)
{
	if (n > INT32_MAX) {
		err_set("%s: a document of %zu tokens exceeds Megatron's int32 length", w->prefix, n);
		return -1;
	}
	if (w->ndocs == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 1024;
		w->lens = xrealloc(w->lens, w->cap * sizeof *w->lens);
	}
	size_t width = w->dtype == MEGATRON_UINT16 ? 2 : 4;
	buf_grow(&w->out, n * width);
	unsigned char *o = (unsigned char *)w->out.p + w->out.len;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = ids[i];
		if (width == 2 ? v > 0xffff : v > INT32_MAX) {
			err_set("%s: token id %u does not fit the index dtype", w->prefix, v);
			return -1;
		}
		for (size_t k = 0; k < width; k++)
			*o++ = (unsigned char)(v >> (8 * k));
	}
	w->out.len += n * width;
	w->lens[w->ndocs++] = (int32_t)n;
	w->tokens += n;
	return w->out.len >= (1u << 20) ? flush_bin(w) : 0;
}

static void put_le(struct buf *b, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		buf_putc(b, (char)(v >> (8 * i)));
}

/* The index: header, counts, lengths, pointers, document indices [0, 1, ..., n]. */
static void build_index(const struct megatron_writer *w, struct buf *b)
{
	size_t width = w->dtype == MEGATRON_UINT16 ? 2 : 4;
	buf_append(b, MAGIC, 9);
	put_le(b, 1, 8);
	put_le(b, (uint64_t)w->dtype, 1);
	put_le(b, w->ndocs, 8);
	put_le(b, w->ndocs + 1, 8);
	for (size_t i = 0; i < w->ndocs; i++)
		put_le(b, (uint32_t)w->lens[i], 4);
	uint64_t ptr = 0;
	for (size_t i = 0; i < w->ndocs; i++, ptr += (uint64_t)w->lens[i - 1] * width)
		put_le(b, ptr, 8);
	for (size_t i = 0; i <= w->ndocs; i++)
		put_le(b, i, 8);
}

static void writer_free(struct megatron_writer *w)
{
	buf_release(&w->out);
	free(w->lens), free(w->prefix), free(w->bin_tmp), free(w->idx_tmp);
	free(w);
}

int megatron_writer_close(struct megatron_writer *w, struct megatron_info *info)
{
	memset(info, 0, sizeof *info);
	char *bin = xasprintf("%s.bin", w->prefix), *idx = xasprintf("%s.idx", w->prefix);
	struct buf ix = BUF_INIT;
	int rc = flush_bin(w);
	sha256_final_hex(w->bin_sha, info->bin_sha256);
	w->bin_sha = NULL;
	if (!rc && fsync(w->fd) < 0) {
		err_set("%s: fsync: %s", w->bin_tmp, strerror(errno));
		rc = -1;
	}
	close(w->fd);
	w->fd = -1;
	if (!rc) {
		build_index(w, &ix);
		unsigned char d[SHA256_LEN];
		sha256(ix.p, ix.len, d);
		sha256_hexstr(d, info->idx_sha256);
		/* .bin first: an .idx on disk means its .bin is complete */
		if (rename(w->bin_tmp, bin) < 0) {
			err_set("%s: rename: %s", bin, strerror(errno));
			rc = -1;
		} else {
			rc = write_file_atomic(idx, ix.p, ix.len);
		}
	}
	if (!rc) {
		info->docs = w->ndocs;
		info->tokens = w->tokens;
		info->bin_bytes = w->tokens * (w->dtype == MEGATRON_UINT16 ? 2 : 4);
		info->idx_bytes = ix.len;
	} else {
		unlink(w->bin_tmp);
	}
	buf_release(&ix);
	free(bin), free(idx);
	writer_free(w);
	return rc;
}

void megatron_writer_abort(struct megatron_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->bin_sha) {
		char tmp[SHA256_HEX];
		sha256_final_hex(w->bin_sha, tmp);
	}
	unlink(w->bin_tmp);
	writer_free(w);
}

/* ---- reader ---- */

struct megatron_reader {
	char *bin_path;
	int fd, dtype;
	uint64_t nseq, tokens;
	int32_t *lens;
	int64_t *ptrs;
	struct buf raw;
};

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int check_index(struct megatron_reader *r, const char *idx, const unsigned char *p,
		       size_t n, uint64_t bin_size)
{
	if (n < 34 || memcmp(p, MAGIC, 9)) {
		err_set("%s: not a Megatron index (no MMIDIDX header)", idx);
		return -1;
	}
	if (get_le(p + 9, 8) != 1) {
		err_set("%s: offset 9: version %llu, expected 1", idx,
			(unsigned long long)get_le(p + 9, 8));
		return -1;
	}
	r->dtype = p[17];
	if (r->dtype != MEGATRON_UINT16 && r->dtype != MEGATRON_INT32) {
		err_set("%s: offset 17: dtype code %d (only 8 uint16 and 4 int32 hold tokens)",
			idx, r->dtype);
		return -1;
	}
	uint64_t nseq = get_le(p + 18, 8), ndoc = get_le(p + 26, 8);
	if (nseq > n / 20 || ndoc > n / 8 || 34 + nseq * 12 + ndoc * 8 != n || ndoc < 1) {
		err_set("%s: offset 18: %llu sequences and %llu documents do not fit %zu bytes",
			idx, (unsigned long long)nseq, (unsigned long long)ndoc, n);
		return -1;
	}
	r->nseq = nseq;
	r->lens = xmalloc((nseq + 1) * sizeof *r->lens);
	r->ptrs = xmalloc((nseq + 1) * sizeof *r->ptrs);
	uint64_t width = r->dtype == MEGATRON_UINT16 ? 2 : 4, ptr = 0;
	const unsigned char *lp = p + 34, *pp = lp + nseq * 4, *dp = pp + nseq * 8;
	for (uint64_t i = 0; i < nseq; i++) {
		r->lens[i] = (int32_t)get_le(lp + 4 * i, 4);
		r->ptrs[i] = (int64_t)get_le(pp + 8 * i, 8);
		if (r->lens[i] < 0 || (uint64_t)r->ptrs[i] != ptr) {
			err_set("%s: sequence %llu: length %d or pointer %lld is inconsistent", idx,
				(unsigned long long)i, r->lens[i], (long long)r->ptrs[i]);
			return -1;
		}
		ptr += (uint64_t)r->lens[i] * width;
	}
	if (ptr != bin_size) {
		err_set("%s: the index covers %llu bytes but %s has %llu", idx,
			(unsigned long long)ptr, r->bin_path, (unsigned long long)bin_size);
		return -1;
	}
	for (uint64_t i = 0; i < ndoc; i++) {
		uint64_t d = get_le(dp + 8 * i, 8), prev = i ? get_le(dp + 8 * (i - 1), 8) : 0;
		if ((i == 0 && d != 0) || d < prev || d > nseq || (i == ndoc - 1 && d != nseq)) {
			err_set("%s: document index %llu (%llu) is out of order or range", idx,
				(unsigned long long)i, (unsigned long long)d);
			return -1;
		}
	}
	r->tokens = ptr / width;
	return 0;
}

struct megatron_reader *megatron_open(const char *prefix)
{
	struct megatron_reader *r = xcalloc(1, sizeof *r);
	char *idx = xasprintf("%s.idx", prefix);
	r->bin_path = xasprintf("%s.bin", prefix);
	r->fd = open(r->bin_path, O_RDONLY | O_CLOEXEC);
	struct buf b = BUF_INIT;
	struct stat st;
	int rc = -1;
	if (r->fd < 0 || fstat(r->fd, &st) < 0)
		err_set("%s: %s", r->bin_path, strerror(errno));
	else if (read_file(idx, &b) == 0)
		rc = check_index(r, idx, (const unsigned char *)(b.p ? b.p : ""), b.len,
				 (uint64_t)st.st_size);
	buf_release(&b);
	free(idx);
	if (rc < 0) {
		megatron_close(r);
		return NULL;
	}
	return r;
}

uint64_t megatron_docs(const struct megatron_reader *r) { return r->nseq; }
uint64_t megatron_tokens(const struct megatron_reader *r) { return r->tokens; }
int megatron_dtype(const struct megatron_reader *r) { return r->dtype; }

int megatron_read_doc(struct megatron_reader *r, uint64_t i, struct bpe_ids *out)
{
	out->n = 0;
	if (i >= r->nseq) {
		err_set("%s: document %llu is out of range (%llu documents)", r->bin_path,
			(unsigned long long)i, (unsigned long long)r->nseq);
		return -1;
	}
	size_t width = r->dtype == MEGATRON_UINT16 ? 2 : 4, n = (size_t)r->lens[i];
	buf_reset(&r->raw);
	buf_grow(&r->raw, n * width);
	ssize_t got = pread(r->fd, r->raw.p, n * width, (off_t)r->ptrs[i]);
	if (got < 0 || (size_t)got != n * width) {
		err_set("%s: short read of document %llu", r->bin_path, (unsigned long long)i);
		return -1;
	}
	if (out->cap < n + 1) {
		out->cap = n + 1;
		out->v = xrealloc(out->v, out->cap * sizeof *out->v);
	}
	const unsigned char *p = (const unsigned char *)r->raw.p;
	for (size_t k = 0; k < n; k++)
		out->v[k] = (uint32_t)get_le(p + k * width, (int)width);
	out->n = n;
	return 0;
}

void megatron_close(struct megatron_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->lens), free(r->ptrs), free(r->bin_path);
	buf_release(&r->raw);
	free(r);
}
