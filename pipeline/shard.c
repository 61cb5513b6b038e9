/* shard: see shard.h. The writer streams records through one zstd context into a 1 MiB
 * output buffer that is hashed and written as it fills, so the checksum costs no second
 * read of the file. The reader is the lines reader plus doc_parse. */
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zstd.h>

#include "lines.h"

#define OUT_CHUNK (1 << 20)

struct shard_writer {
	char *path, *tmp;
	int fd;
	char *failure;      /* the first error; the writer refuses more work after it */
	ZSTD_CCtx *cc;
	ZSTD_outBuffer out; /* out.pos bytes wait to be written */
	sha256_ctx *sha;
	struct buf line;    /* serialization buffer, reused for every record */
	uint64_t records, raw_bytes, bytes, repaired;
	bool ids_only;      /* a rejected shard without texts (shard_writer_ids_only) */
	struct doc stub;
};

/* Keeps the message just set with err_set so close can repeat it. */
static int wfail(struct shard_writer *w)
{
	if (!w->failure)
		w->failure = xstrdup(err_get());
	return -1;
}

static int flush_out(struct shard_writer *w)
{
	if (!w->out.pos)
		return 0;
	sha256_update(w->sha, w->out.dst, w->out.pos);
	if (write_all(w->fd, w->out.dst, w->out.pos, w->tmp))
		return wfail(w);
	w->bytes += w->out.pos;
	w->out.pos = 0;
	return 0;
}

/* Feeds n bytes to zstd (mode ZSTD_e_end also finishes the frame). */
static int compress(struct shard_writer *w, const void *src, size_t n, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = {src, n, 0};

	for (;;) {
		size_t left = ZSTD_compressStream2(w->cc, &w->out, &in, mode);
		if (ZSTD_isError(left)) {
			err_set("%s: zstd: %s", w->tmp, ZSTD_getErrorName(left));
			return wfail(w);
		}
		if (w->out.pos == w->out.size && flush_out(w))
			return -1;
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

struct shard_writer *shard_writer_open(const char *path, int level)
{
	struct shard_writer *w = xcalloc(1, sizeof *w);
	size_t rc;

	w->path = xstrdup(path);
	w->tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	w->cc = ZSTD_createCCtx();
	if (!w->cc)
		DIE("ZSTD_createCCtx failed");
	rc = ZSTD_CCtx_setParameter(w->cc, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(w->cc, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(rc)) {
		err_set("%s: zstd level %d: %s", path, level, ZSTD_getErrorName(rc));
		goto fail;
	}
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (w->fd < 0) {
		err_set("%s: cannot create: %s", w->tmp, strerror(errno));
		goto fail;
	}
	w->out = (ZSTD_outBuffer){xmalloc(OUT_CHUNK), OUT_CHUNK, 0};
	w->sha = sha256_new();
	return w;
fail:
	ZSTD_freeCCtx(w->cc);
	free(w->tmp);
	free(w->path);
	free(w);
	return NULL;
}

int shard_writer_put_line(struct shard_writer *w, const char *line, size_t len)
{
	if (w->failure) {
		err_set("%s", w->failure);
		return -1;
	}
	/* a record is exactly one line, or the manifest's record count would be wrong */
	const char *nl = len ? memchr(line, '\n', len) : NULL;
	if (!nl || nl != line + len - 1) {
		err_set("%s: record %llu: a line must end in its only newline", w->tmp,
			(unsigned long long)w->records + 1);
		return -1;
	}
	if (compress(w, line, len, ZSTD_e_continue))
		return -1;
	w->records++;
	w->raw_bytes += len;
	return 0;
}

void shard_writer_ids_only(struct shard_writer *w, bool on)
{
	if (w && on && !w->ids_only)
		doc_init(&w->stub);
	if (w)
		w->ids_only = on;
}

int shard_writer_put(struct shard_writer *w, const struct doc *d)
{
	if (w->ids_only) {
		/* id, source, metadata (drop_reason and all) and the text's length; no text */
		doc_reset(&w->stub);
		buf_set(&w->stub.id, d->id.p ? d->id.p : "", d->id.len);
		buf_set(&w->stub.source, d->source.p ? d->source.p : "", d->source.len);
		json_object_update(w->stub.meta, d->meta);
		json_object_set_new(w->stub.meta, "text_bytes", json_integer((json_int_t)d->text.len));
		buf_set(&w->stub.text, "", 0);
		d = &w->stub;
	}
	buf_reset(&w->line);
	w->repaired += doc_serialize(d, &w->line);
	return shard_writer_put_line(w, w->line.p, w->line.len);
}

uint64_t shard_writer_records(const struct shard_writer *w) { return w->records; }

static void writer_free(struct shard_writer *w)
{
	if (w->sha) { /* finishing is the only way to free the hash */
		char dummy[SHA256_HEX];
		sha256_final_hex(w->sha, dummy);
	}
	if (w->fd >= 0)
		close(w->fd);
	ZSTD_freeCCtx(w->cc);
	free(w->out.dst);
	buf_release(&w->line);
	if (w->ids_only)
		doc_release(&w->stub);
	free(w->failure);
	free(w->tmp);
	free(w->path);
	free(w);
}

static int commit(struct shard_writer *w)
{
	if (compress(w, NULL, 0, ZSTD_e_end) || flush_out(w))
		return -1;
	int bad = fsync(w->fd), why = errno;
	if (close(w->fd) && !bad)
		bad = 1, why = errno;
	w->fd = -1;
	if (bad) {
		err_set("%s: cannot write: %s", w->tmp, strerror(why));
		return -1;
	}
	if (rename(w->tmp, w->path)) {
		err_set("%s: cannot rename into place: %s", w->path, strerror(errno));
		return -1;
	}
	return fsync_dir_of(w->path);
}

int shard_writer_close(struct shard_writer *w, struct shard_info *info)
{
	int rc;

	if (w->failure) {
		err_set("%s", w->failure);
		rc = -1;
	} else {
		rc = commit(w);
	}
	if (rc) {
		unlink(w->tmp);
	} else if (info) {
		sha256_final_hex(w->sha, info->sha256);
		w->sha = NULL;
		info->records = w->records;
		info->bytes = w->bytes;
		info->raw_bytes = w->raw_bytes;
		info->utf8_repaired = w->repaired;
	}
	writer_free(w);
	return rc;
}

void shard_writer_abort(struct shard_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	unlink(w->tmp);
	writer_free(w);
}

struct shard_reader {
	struct lines *l;
	char *expect;
	uint64_t records;
};

struct shard_reader *shard_reader_open(const char *path, const char *expect_sha256)
{
	struct lines *l = lines_open(path, expect_sha256 != NULL);

	if (!l)
		return NULL;
	struct shard_reader *r = xcalloc(1, sizeof *r);
	r->l = l;
	r->expect = expect_sha256 ? xstrdup(expect_sha256) : NULL;
	return r;
}

/* At the end: the whole file went through the hash, so compare with the manifest. */
static int check_sum(struct shard_reader *r)
{
	const char *got = lines_sha256(r->l);

	if (!r->expect || !strcasecmp(got, r->expect))
		return 0;
	err_set("%s: checksum mismatch: manifest says %s, file has %s "
		"(corrupt or modified shard)", lines_path(r->l), r->expect, got);
	return -1;
}

int shard_reader_next_line(struct shard_reader *r, const char **line, size_t *len)
{
	int rc = lines_next(r->l, line, len);

	if (rc == 1)
		r->records++;
	else if (rc == 0)
		rc = check_sum(r);
	return rc;
}

int shard_reader_next(struct shard_reader *r, struct doc *d)
{
	const char *line;
	size_t len;
	int rc = shard_reader_next_line(r, &line, &len);

	if (rc != 1)
		return rc;
	if (doc_parse(d, line, len)) {
		char *why = xstrdup(err_get());
		err_set("%s: record %llu (byte offset %llu): %s", lines_path(r->l),
			(unsigned long long)r->records,
			(unsigned long long)lines_offset(r->l), why);
		free(why);
		return -1;
	}
	return 1;
}

uint64_t shard_reader_records(const struct shard_reader *r) { return r->records; }

void shard_reader_close(struct shard_reader *r)
{
	if (!r)
		return;
	lines_close(r->l);
	free(r->expect);
	free(r);
}
