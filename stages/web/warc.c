/* warc: the streaming WARC reader (warc.h). Two layers: a byte source that inflates gzip
 * member after member and remembers where in the output a member was damaged (so a record is
 * never trusted across a bad CRC or a resynchronisation), and a record parser over a sliding
 * buffer that can step back into a block to find the next record after a wrong length. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "util.h"
#include "warc.h"

#define IN_SIZE 65536
#define MAX_HEADER (64 * 1024)
#define MAX_DAMAGE 32

/* A stretch of output [lo, hi] that cannot be trusted; the stream resumes at hi. */
struct damage {
	uint64_t lo, hi;
	const char *why;
};

struct warc_reader {
	FILE *f;
	const char *name;
	uint64_t max_block;
	int gz, in_member, src_eof, io_error;
	z_stream z;
	unsigned char *in;
	uint64_t raw;
	struct buf ob;  /* decoded bytes; ob.p[0] is stream offset base */
	size_t pos;     /* parse position in ob */
	uint64_t base;
	uint64_t member_start;
	struct damage dmg[MAX_DAMAGE];
	size_t ndmg;
	struct buf hdr; /* the current record's header, split into NUL-terminated fields */
	int quiet;      /* the next skipped stretch belongs to the previous error, not garbage */
};

static uint64_t out_total(const struct warc_reader *r) { return r->base + r->ob.len; }

static void add_damage(struct warc_reader *r, uint64_t lo, const char *why)
{
	if (r->ndmg == MAX_DAMAGE) {
		memmove(r->dmg, r->dmg + 1, (MAX_DAMAGE - 1) * sizeof *r->dmg);
		r->ndmg--;
	}
	r->dmg[r->ndmg++] = (struct damage){lo, out_total(r), why};
}

/* ---- the byte source ---- */

/* Makes at least k compressed bytes available if the file has them; returns avail_in. */
static size_t need_in(struct warc_reader *r, size_t k)
{
	while (r->z.avail_in < k && !r->src_eof) {
		memmove(r->in, r->z.next_in, r->z.avail_in);
		r->z.next_in = r->in;
		size_t n = fread(r->in + r->z.avail_in, 1, IN_SIZE - r->z.avail_in, r->f);
		if (n == 0) {
			if (ferror(r->f))
				r->io_error = errno ? errno : EIO;
			r->src_eof = 1;
		}
		r->z.avail_in += (uInt)n;
		r->raw += n;
	}
	return r->z.avail_in;
}

/* At a member boundary: skips to the next gzip magic. Bytes skipped leave a seam in the
 * output that no record may span. Returns 0 at the end of the file. */
static int next_member(struct warc_reader *r)
{
	int skipped = 0;
	for (;;) {
		size_t n = need_in(r, 3);
		if (n == 0)
			return 0;
		const unsigned char *p = r->z.next_in;
		size_t i = 0;
		while (i + 2 < n && !(p[i] == 0x1f && p[i + 1] == 0x8b && p[i + 2] == 8))
			i++;
		if (i + 2 < n) {
			r->z.next_in += i;
			r->z.avail_in -= (uInt)i;
			if (i || skipped)
				add_damage(r, out_total(r), "corrupt_gzip");
			inflateReset(&r->z);
			r->in_member = 1;
			r->member_start = out_total(r);
			return 1;
		}
		/* no magic here: keep the last two bytes, which may start one */
		size_t drop = n > 2 ? n - 2 : n;
		if (r->src_eof)
			drop = n;
		r->z.next_in += drop;
		r->z.avail_in -= (uInt)drop;
		skipped = 1;
		if (r->src_eof && r->z.avail_in == 0) {
			add_damage(r, out_total(r), "corrupt_gzip");
			return 0;
		}
	}
}

/* Appends decoded bytes to ob. 1 when some were added, 0 at the end, -1 on I/O error. */
static int read_more(struct warc_reader *r)
{
	buf_grow(&r->ob, IN_SIZE);
	if (!r->gz) {
		size_t n = fread(r->ob.p + r->ob.len, 1, r->ob.cap - r->ob.len - 1, r->f);
		r->raw += n;
		r->ob.len += n;
		r->ob.p[r->ob.len] = 0;
		if (n)
			return 1;
		if (ferror(r->f)) {
			r->io_error = errno ? errno : EIO;
			return -1;
		}
		return 0;
	}
	for (;;) {
		if (r->io_error)
			return -1;
		if (!r->in_member && !next_member(r))
			return r->io_error ? -1 : 0;
		if (need_in(r, 1) == 0) {
			if (r->io_error)
				return -1;
			add_damage(r, r->member_start, "truncated");
			r->in_member = 0;
			return 0;
		}
		r->z.next_out = (unsigned char *)r->ob.p + r->ob.len;
		r->z.avail_out = (uInt)(r->ob.cap - r->ob.len - 1);
		uInt before = r->z.avail_out;
		int rc = inflate(&r->z, Z_NO_FLUSH);
		size_t got = before - r->z.avail_out;
		r->ob.len += got;
		r->ob.p[r->ob.len] = 0;
		/* no progress with input and room left would loop forever: call it corrupt */
		int stuck = rc == Z_BUF_ERROR && !got && r->z.avail_in && r->z.avail_out;
		if (rc == Z_STREAM_END) {
			r->in_member = 0;
		} else if (stuck || (rc != Z_OK && rc != Z_BUF_ERROR)) {
			/* a bad member: distrust all it gave, look for the next one */
			add_damage(r, r->member_start, "corrupt_gzip");
			r->in_member = 0;
			if (r->z.avail_in) {
				r->z.next_in++;
				r->z.avail_in--;
			}
		}
		if (got)
			return 1;
	}
}

/* Makes want bytes available from pos, or as many as the stream has; returns how many. */
static size_t fill(struct warc_reader *r, size_t want)
{
	if (r->pos && (r->pos >= r->ob.len / 2 || r->ob.len - r->pos < want)) {
		memmove(r->ob.p, r->ob.p + r->pos, r->ob.len - r->pos);
		r->ob.len -= r->pos;
		r->base += r->pos;
		r->pos = 0;
	}
	while (r->ob.len - r->pos < want) {
		int rc = read_more(r);
		if (rc <= 0)
			break;
	}
	return r->ob.len - r->pos;
}

/* ---- the record parser ---- */

struct warc_reader *warc_open(FILE *f, const char *name, uint64_t max_block)
{
	struct warc_reader *r = xcalloc(1, sizeof *r);
	r->f = f;
	r->name = name;
	r->max_block = max_block;
	r->in = xmalloc(IN_SIZE);
	size_t n = fread(r->in, 1, IN_SIZE, f);
	if (n == 0 && ferror(f))
		r->io_error = errno ? errno : EIO;
	r->raw = n;
	r->gz = n >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
	if (r->gz) {
		r->z.next_in = r->in;
		r->z.avail_in = (uInt)n;
		if (inflateInit2(&r->z, 15 + 16) != Z_OK)
			DIE("zlib: inflateInit2 failed");
	} else {
		buf_append(&r->ob, r->in, n);
	}
	return r;
}

void warc_close(struct warc_reader *r)
{
	if (!r)
		return;
	if (r->gz)
		inflateEnd(&r->z);
	free(r->in);
	buf_release(&r->ob);
	buf_release(&r->hdr);
	free(r);
}

uint64_t warc_raw_bytes(const struct warc_reader *r) { return r->raw; }
int warc_is_gzip(const struct warc_reader *r) { return r->gz; }

static const char WARC_MAGIC[] = "WARC/1.";
#define MAGIC_LEN 7

/* Moves pos to the next line that starts a record; returns the bytes passed over that are not
 * blank-line padding. At the end of input pos is ob.len. */
static uint64_t seek_record(struct warc_reader *r)
{
	uint64_t skipped = 0;
	for (;;) {
		size_t n = fill(r, MAGIC_LEN);
		const char *p = r->ob.p + r->pos;
		if (n >= MAGIC_LEN && !memcmp(p, WARC_MAGIC, MAGIC_LEN))
			return skipped;
		if (!skipped && n && (*p == '\r' || *p == '\n')) {
			r->pos++; /* blank lines between records are padding, not garbage */
			continue;
		}
		n = fill(r, 65536); /* scanning: look at a larger window */
		p = r->ob.p + r->pos;
		const char *hit = n > 1 ? memmem(p + 1, n - 1, "\nWARC/1.", MAGIC_LEN + 1) : NULL;
		size_t step = hit ? (size_t)(hit + 1 - p) : n > MAGIC_LEN ? n - MAGIC_LEN : n;
		skipped += step;
		r->pos += step;
		if (hit || n <= MAGIC_LEN) /* a record, or the end of the input */
			return skipped;
	}
}

/* The blank line ending a header that starts at pos: offset just past it, relative to pos,
 * or 0 if there is none within MAX_HEADER (or the input ends first). */
static size_t header_end(struct warc_reader *r)
{
	size_t from = 0, want = 4096;
	for (;;) {
		size_t n = fill(r, want);
		const char *p = r->ob.p + r->pos;
		for (size_t i = from; i < n; i++) {
			if (p[i] != '\n')
				continue;
			if (i + 1 < n && p[i + 1] == '\n')
				return i + 2;
			if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
				return i + 3;
		}
		if (n >= MAX_HEADER || n < want)
			return 0;
		from = n - 2;
		want = n + 4096;
	}
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

static const char *unbracket(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s[n - 1] = 0;
		return s + 1;
	}
	return s;
}

/* Splits the header at pos (hlen bytes) into rec's fields; -1 if it has no valid
 * Content-Length. */
static int parse_header(struct warc_reader *r, size_t hlen, struct warc_record *rec)
{
	buf_set(&r->hdr, r->ob.p + r->pos, hlen);
	rec->type = rec->record_id = rec->date = rec->target_uri = rec->content_type = "";
	int have_length = 0;
	char *line = r->hdr.p, *end = r->hdr.p + r->hdr.len;
	line = memchr(line, '\n', (size_t)(end - line)) + 1; /* past "WARC/1.x" */
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			break;
		*nl = 0;
		char *colon = strchr(line, ':');
		if (colon) {
			*colon = 0;
			char *v = trim(colon + 1);
			if (!strcasecmp(line, "WARC-Type"))
				rec->type = v;
			else if (!strcasecmp(line, "WARC-Record-ID"))
				rec->record_id = unbracket(v);
			else if (!strcasecmp(line, "WARC-Date"))
				rec->date = v;
			else if (!strcasecmp(line, "WARC-Target-URI"))
				rec->target_uri = unbracket(v);
			else if (!strcasecmp(line, "Content-Type"))
				rec->content_type = v;
			else if (!strcasecmp(line, "Content-Length")) {
				char *e;
				errno = 0;
				unsigned long long cl = strtoull(v, &e, 10);
				have_length = *v >= '0' && *v <= '9' && !*e && !errno;
				rec->length = cl;
			}
		}
		line = nl + 1;
	}
	return have_length ? 0 : -1;
}

/* The first damage overlapping [lo, hi) of the stream, or NULL. A seam (lo == hi) only
 * breaks what spans it. */
static const struct damage *damaged(const struct warc_reader *r, uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < r->ndmg; i++) {
		const struct damage *d = &r->dmg[i];
		if (d->lo == d->hi ? lo < d->lo && d->lo < hi : lo < d->hi && d->lo < hi)
			return d;
	}
	return NULL;
}

static void forget_damage(struct warc_reader *r)
{
	uint64_t here = r->base + r->pos;
	size_t k = 0;
	for (size_t i = 0; i < r->ndmg; i++)
		if (r->dmg[i].hi >= here)
			r->dmg[k++] = r->dmg[i];
	r->ndmg = k;
}

/* Continues after a broken record at stream offset `resume` (if still buffered), or
 * just past its start; what follows up to the next record is part of this error. */
static void resync(struct warc_reader *r, uint64_t start, uint64_t resume)
{
	uint64_t to = resume > start ? resume : start + 1;
	if (to > out_total(r))
		to = out_total(r);
	if (to < r->base)
		to = r->base;
	r->pos = (size_t)(to - r->base);
	r->quiet = 1;
}

static int skip(const char **reason, const char *why, uint64_t *bytes, uint64_t n)
{
	*reason = why;
	*bytes = n;
	return WARC_SKIP;
}

/* Passes over a block too large to hold; the trailer is checked as usual by the caller. */
static int skip_block(struct warc_reader *r, uint64_t left)
{
	while (left) {
		size_t n = fill(r, 1);
		if (!n)
			return -1;
		size_t take = n < left ? n : (size_t)left;
		r->pos += take;
		left -= take;
	}
	return 0;
}

/* After a block: the standard CRLF CRLF, or some CR/LF padding and then another record or the
 * end (the caller has filled 4 + MAGIC_LEN bytes past pos). Moves pos past the padding. */
static int trailer_ok(struct warc_reader *r)
{
	size_t n = r->ob.len - r->pos; /* the caller filled: moving the buffer now would stale rec */
	const char *p = r->ob.p + r->pos;
	size_t k = 0;
	while (k < n && k < 4 && (p[k] == '\r' || p[k] == '\n'))
		k++;
	int ok = k == n || (k == 4 && !memcmp(p, "\r\n\r\n", 4)) ||
		 (n - k >= MAGIC_LEN && !memcmp(p + k, WARC_MAGIC, MAGIC_LEN));
	if (ok)
		r->pos += k;
	return ok;
}

static int read_error(struct warc_reader *r)
{
	err_set("%s: read error: %s", r->name, strerror(r->io_error));
	return WARC_ERROR;
}

int warc_next(struct warc_reader *r, struct warc_record *rec, const char **reason,
	      uint64_t *bytes)
{
	memset(rec, 0, sizeof *rec);
	rec->type = rec->record_id = rec->date = rec->target_uri = rec->content_type = "";
	forget_damage(r);
	uint64_t garbage = seek_record(r);
	if (r->io_error)
		return read_error(r);
	int quiet = r->quiet;
	r->quiet = 0;
	if (garbage && !quiet) {
		rec->offset = r->base + r->pos - garbage;
		return skip(reason, "garbage", bytes, garbage);
	}
	if (r->pos == r->ob.len)
		return WARC_END;

	uint64_t start = r->base + r->pos;
	rec->offset = start;
	size_t hlen = header_end(r);
	if (!hlen) {
		size_t n = r->ob.len - r->pos;
		if (n < MAX_HEADER) { /* the input ended inside the header */
			if (r->io_error) /* or could not be read: not a truncated file */
				return read_error(r);
			r->pos = r->ob.len;
			const struct damage *d = damaged(r, start, out_total(r) + 1);
			return skip(reason, d ? d->why : "truncated", bytes, n);
		}
		resync(r, start, 0);
		return skip(reason, "bad_header", bytes, n);
	}
	if (parse_header(r, hlen, rec) < 0) {
		resync(r, start, 0);
		return skip(reason, "bad_header", bytes, hlen);
	}
	uint64_t end = start + hlen + rec->length;

	if (rec->length > r->max_block) {
		r->pos += hlen;
		int full = skip_block(r, rec->length) == 0;
		const struct damage *d = damaged(r, start, end);
		if (d || !full) {
			resync(r, start, d ? d->hi : out_total(r));
			return skip(reason, d ? d->why : "truncated", bytes, rec->length);
		}
		fill(r, 4 + MAGIC_LEN);
		if (!trailer_ok(r))
			r->quiet = 1;
		return skip(reason, "too_large", bytes, rec->length);
	}
	/* the block, its trailer and the next magic: decoding that far checks this member's CRC */
	size_t have = fill(r, hlen + (size_t)rec->length + 4 + MAGIC_LEN);
	start = r->base + r->pos; /* fill may have moved the buffer */
	const struct damage *d = damaged(r, start, end);
	if (d) {
		resync(r, start, d->hi);
		return skip(reason, d->why, bytes, rec->length);
	}
	if (have < hlen + rec->length) {
		if (r->io_error)
			return read_error(r);
		r->pos = r->ob.len;
		return skip(reason, "truncated", bytes, have - hlen);
	}
	size_t block = r->pos + hlen;
	r->pos = block + (size_t)rec->length;
	if (!trailer_ok(r)) {
		/* the length is wrong: look for the next record from inside this block */
		r->pos = block;
		r->quiet = 1;
		return skip(reason, "bad_length", bytes, rec->length);
	}
	rec->block = r->ob.p + block;
	return WARC_RECORD;
}
