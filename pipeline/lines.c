/* lines: see lines.h. Raw bytes come in with read(2) in 1 MiB chunks (less for a small
 * file), hashed as they come, are decompressed into one growable buffer, and lines are
 * handed out as pointers into it: a line is never copied, only a partial one moved down. */
#include "lines.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define RAW_CHUNK (1 << 20)
/* A line longer than this is an error rather than a reason to exhaust memory (a
 * decompression bomb without newlines would otherwise take it all). */
#define LINE_MAX_BYTES ((size_t)1 << 31)

enum kind { KIND_PLAIN, KIND_GZIP, KIND_ZSTD };

struct lines {
	char *path;
	int fd;
	enum kind kind;

	char *buf;               /* decompressed bytes */
	size_t cap, pos, scan, end; /* [pos, end) not yet handed out; no '\n' in [pos, scan) */
	int data_eof;            /* no more decompressed bytes will come */

	unsigned char *raw;      /* compressed input (gzip, zstd) */
	size_t raw_cap;
	int raw_eof;
	ZSTD_DCtx *zd;
	ZSTD_inBuffer zin;
	z_stream z;
	int z_live;              /* inflateInit2 done */
	int member_open;         /* inside a gzip member or zstd frame: EOF now is truncation */

	sha256_ctx *sha;
	char sha_hex[SHA256_HEX];
	int sha_done;

	uint64_t lineno, line_off, next_off, raw_bytes;
	char *failure;           /* the first error, repeated on later calls */
};

static int fail(struct lines *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records an error at the line being read: "PATH: line N (byte offset O): what". */
static int fail(struct lines *r, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	free(r->failure);
	r->failure = xasprintf("%s: line %llu (byte offset %llu): %s", r->path,
			       (unsigned long long)r->lineno + 1,
			       (unsigned long long)r->next_off, what);
	err_set("%s", r->failure);
	return -1;
}

/* Reads up to n raw bytes; 0 at end of file. Hashes and counts what it got. */
static ssize_t read_raw(struct lines *r, void *dst, size_t n)
{
	ssize_t got;

	do
		got = read(r->fd, dst, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return fail(r, "read error: %s", strerror(errno));
	if (r->sha)
		sha256_update(r->sha, dst, (size_t)got);
	r->raw_bytes += (uint64_t)got;
	return got;
}

/* Makes at least half the buffer free after end: moves the pending partial line to the
 * front, and doubles the buffer only when that line fills more than half of it. */
static int make_room(struct lines *r)
{
	size_t pending = r->end - r->pos;

	if (r->cap - r->end >= r->cap / 2)
		return 0;
	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, pending);
		r->scan -= r->pos;
		r->end = pending;
		r->pos = 0;
	}
	if (r->cap - r->end >= r->cap / 2)
		return 0;
	if (r->cap >= LINE_MAX_BYTES)
		return fail(r, "line longer than %zu bytes", r->cap / 2);
	r->cap *= 2;
	r->buf = xrealloc(r->buf, r->cap);
	return 0;
}

static int fill_plain(struct lines *r)
{
	ssize_t got = read_raw(r, r->buf + r->end, r->cap - r->end);

	if (got < 0)
		return -1;
	if (!got)
		r->data_eof = 1;
	r->end += (size_t)got;
	return 0;
}

/* Reads the next chunk of compressed input; sets raw_eof at the end of the file. */
static ssize_t refill_raw(struct lines *r)
{
	ssize_t got = read_raw(r, r->raw, r->raw_cap);

	if (!got)
		r->raw_eof = 1;
	return got;
}

/* Decompresses until some output appears or the stream ends. ZSTD_decompressStream walks
 * from one frame into the next by itself; it returns 0 exactly at a frame's end. */
static int fill_zstd(struct lines *r)
{
	for (;;) {
		if (r->zin.pos == r->zin.size && !r->raw_eof) {
			ssize_t got = refill_raw(r);
			if (got < 0)
				return -1;
			r->zin = (ZSTD_inBuffer){r->raw, (size_t)got, 0};
		}
		if (r->zin.pos == r->zin.size && r->raw_eof && !r->member_open) {
			r->data_eof = 1;
			return 0;
		}
		size_t in0 = r->zin.pos;
		ZSTD_outBuffer out = {r->buf, r->cap, r->end};
		size_t ret = ZSTD_decompressStream(r->zd, &out, &r->zin);
		if (ZSTD_isError(ret))
			return fail(r, "zstd: %s", ZSTD_getErrorName(ret));
		int progress = out.pos > r->end || r->zin.pos > in0;
		if (ret == 0)
			r->member_open = 0;
		else if (progress)
			r->member_open = 1;
		if (out.pos > r->end) {
			r->end = out.pos;
			return 0;
		}
		if (progress || (r->zin.pos == r->zin.size && !r->raw_eof))
			continue;
		if (r->zin.pos == r->zin.size)
			return fail(r, "truncated zstd stream");
		return fail(r, "zstd: decoder made no progress");
	}
}

/* The same for gzip; inflate stops at each member's end, and windowBits 15+32 makes it
 * take the next member's header after inflateReset. */
static int fill_gzip(struct lines *r)
{
	for (;;) {
		if (!r->z.avail_in && !r->raw_eof) {
			ssize_t got = refill_raw(r);
			if (got < 0)
				return -1;
			r->z.next_in = r->raw;
			r->z.avail_in = (uInt)got;
		}
		if (!r->z.avail_in && r->raw_eof) {
			if (r->member_open)
				return fail(r, "truncated gzip member");
			r->data_eof = 1;
			return 0;
		}
		size_t room = r->cap - r->end;
		r->z.next_out = (Bytef *)r->buf + r->end;
		r->z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
		uInt out0 = r->z.avail_out, in0 = r->z.avail_in;
		int ret = inflate(&r->z, Z_NO_FLUSH);
		size_t made = out0 - r->z.avail_out;
		r->end += made;
		if (ret == Z_STREAM_END) {
			r->member_open = 0;
			if (inflateReset(&r->z) != Z_OK)
				return fail(r, "gzip: inflateReset failed");
		} else if (ret == Z_OK) {
			r->member_open = 1;
		} else if (ret != Z_BUF_ERROR) {
			return fail(r, "gzip: %s", r->z.msg ? r->z.msg : zError(ret));
		} else if (r->z.avail_in == in0 && in0) {
			return fail(r, "gzip: inflate made no progress");
		}
		if (made)
			return 0;
	}
}

static int fill(struct lines *r)
{
	if (make_room(r) < 0)
		return -1;
	switch (r->kind) {
	case KIND_GZIP:
		return fill_gzip(r);
	case KIND_ZSTD:
		return fill_zstd(r);
	default:
		return fill_plain(r);
	}
}

static int emit(struct lines *r, const char **line, size_t *len, size_t n, size_t step)
{
	*line = r->buf + r->pos;
	*len = n;
	r->lineno++;
	r->line_off = r->next_off;
	r->next_off += step;
	r->pos += step;
	r->scan = r->pos;
	return 1;
}

static int finish(struct lines *r)
{
	if (r->sha) {
		sha256_final_hex(r->sha, r->sha_hex);
		r->sha = NULL;
		r->sha_done = 1;
	}
	return 0;
}

int lines_next(struct lines *r, const char **line, size_t *len)
{
	if (r->failure) {
		err_set("%s", r->failure);
		return -1;
	}
	for (;;) {
		if (r->scan < r->end) {
			char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
			if (nl) {
				size_t n = (size_t)(nl - (r->buf + r->pos));
				return emit(r, line, len, n, n + 1);
			}
			r->scan = r->end;
		}
		if (r->data_eof) {
			if (r->pos == r->end)
				return finish(r);
			return emit(r, line, len, r->end - r->pos, r->end - r->pos);
		}
		if (fill(r) < 0)
			return -1;
	}
}

/* The read size: a small file gets a small buffer, so that opening many of them (or one
 * file many times over, as the fuzzer does) stays cheap. */
static size_t chunk_for(int fd)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size >= RAW_CHUNK)
		return RAW_CHUNK;
	return st.st_size < 4096 ? 4096 : (size_t)st.st_size + 1;
}

/* Reads until the magic bytes can be told (or the file ends) and sets up the decoder. */
static int detect(struct lines *r)
{
	static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	size_t have = 0;

	r->raw_cap = chunk_for(r->fd);
	r->raw = xmalloc(r->raw_cap);
	while (have < 4) {
		ssize_t got = read_raw(r, r->raw + have, r->raw_cap - have);
		if (got < 0)
			return -1;
		if (!got) {
			r->raw_eof = 1;
			break;
		}
		have += (size_t)got;
	}
	if (have >= 4 && !memcmp(r->raw, zstd_magic, 4)) {
		r->kind = KIND_ZSTD;
		r->zd = ZSTD_createDCtx();
		if (!r->zd)
			DIE("ZSTD_createDCtx failed");
		r->zin = (ZSTD_inBuffer){r->raw, have, 0};
	} else if (have >= 2 && r->raw[0] == 0x1f && r->raw[1] == 0x8b) {
		r->kind = KIND_GZIP;
		if (inflateInit2(&r->z, 15 + 32) != Z_OK)
			DIE("inflateInit2 failed");
		r->z_live = 1;
		r->z.next_in = r->raw;
		r->z.avail_in = (uInt)have;
	} else {
		/* plain text: what was read is already data, so the chunk becomes the buffer */
		r->kind = KIND_PLAIN;
		r->buf = (char *)r->raw;
		r->raw = NULL;
		r->cap = r->raw_cap;
		r->end = have;
		r->data_eof = r->raw_eof;
		return 0;
	}
	/* decompressed data is larger; it still starts small for a small file */
	r->cap = r->raw_cap < RAW_CHUNK ? 4 * r->raw_cap : RAW_CHUNK;
	r->buf = xmalloc(r->cap);
	return 0;
}

struct lines *lines_open(const char *path, int hash)
{
	int fd = 0;

	if (strcmp(path, "-")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err_set("%s: cannot open: %s", path, strerror(errno));
			return NULL;
		}
	}
	struct lines *r = xcalloc(1, sizeof *r);
	r->path = xstrdup(path);
	r->fd = fd;
	if (hash)
		r->sha = sha256_new();
	if (detect(r) < 0) {
		lines_close(r);
		return NULL;
	}
	return r;
}

uint64_t lines_lineno(const struct lines *r) { return r->lineno; }
uint64_t lines_offset(const struct lines *r) { return r->line_off; }
uint64_t lines_raw_bytes(const struct lines *r) { return r->raw_bytes; }
const char *lines_sha256(const struct lines *r) { return r->sha_done ? r->sha_hex : NULL; }
const char *lines_path(const struct lines *r) { return r->path; }

void lines_close(struct lines *r)
{
	if (!r)
		return;
	if (r->fd > 0)
		close(r->fd);
	if (r->sha) /* the only way to free an unfinished hash */
		sha256_final_hex(r->sha, r->sha_hex);
	if (r->zd)
		ZSTD_freeDCtx(r->zd);
	if (r->z_live)
		inflateEnd(&r->z);
	free(r->raw);
	free(r->buf);
	free(r->failure);
	free(r->path);
	free(r);
}
