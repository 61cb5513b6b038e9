/* near_files: dedup-near's per-shard signature and keep key files, read by document key
 * (near_files.h). */
#include "near_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SIG_WINDOW = 1 << 18 };

void near_sigs_open(struct near_sigs *s, near_path_fn path_of, const void *ctx, unsigned nh)
{
	*s = (struct near_sigs){path_of, ctx, 4 * (size_t)nh, SIZE_MAX, -1, NULL, NULL, 0, 0};
	s->win = xmalloc(SIG_WINDOW > s->sl ? SIG_WINDOW : s->sl);
}

void near_sigs_close(struct near_sigs *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->path), free(s->win);
}

/* Document dk's signature, valid until the next call: 0, or -1 with err_set. */
int near_sigs_get(struct near_sigs *s, const void *dk, const unsigned char **sig)
{
	size_t shard = (size_t)be_get(dk, 4);
	uint64_t at = be_get((const char *)dk + 4, 4) * s->sl;
	if (shard != s->shard) {
		if (s->fd >= 0)
			close(s->fd);
		free(s->path);
		s->path = s->path_of(s->ctx, shard, "sig");
		s->shard = shard;
		s->len = 0;
		if ((s->fd = open(s->path, O_RDONLY | O_CLOEXEC)) < 0) {
			err_set("%s: %s", s->path, strerror(errno));
			s->shard = SIZE_MAX;
			return -1;
		}
	}
	if (at < s->off || at + s->sl > s->off + s->len) {
		uint64_t end = s->off + s->len;
		size_t want = at >= end && at - end < SIG_WINDOW && SIG_WINDOW > s->sl ? SIG_WINDOW
											: s->sl;
		ssize_t n;
		do
			n = pread(s->fd, s->win, want, (off_t)at);
		while (n < 0 && errno == EINTR);
		if (n < (ssize_t)s->sl) {
			err_set("%s: no signature of record %llu%s%s", s->path,
				(unsigned long long)(at / s->sl) + 1, n < 0 ? ": " : "",
				n < 0 ? strerror(errno) : "");
			s->len = 0;
			return -1;
		}
		s->off = at, s->len = (size_t)n;
	}
	*sig = s->win + (at - s->off);
	return 0;
}

enum { KEYS_READ = 1 << 20 };

void near_keys_open(struct near_keys *c, near_path_fn path_of, const void *ctx)
{
	*c = (struct near_keys){.path_of = path_of, .ctx = ctx, .shard = SIZE_MAX, .fd = -1,
				.at = UINT64_MAX};
}

void near_keys_close(struct near_keys *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	buf_release(&c->b);
}

int near_keys_shard(struct near_keys *c, size_t shard)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	c->path = c->path_of(c->ctx, shard, "key");
	c->shard = shard;
	c->at = UINT64_MAX;
	c->b.len = c->pos = 0;
	if ((c->fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0) {
		err_set("%s: %s", c->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Makes n bytes from pos available, reading more (1 MiB at a time) as needed: 1, or 0 when
 * the file ends first, -1 on an error. Pointers into b move. */
static int keys_fill(struct near_keys *c, size_t n)
{
	if (c->b.len - c->pos >= n)
		return 1;
	if (c->pos) { /* only the unread tail moves */
		if (c->b.len > c->pos)
			memmove(c->b.p, c->b.p + c->pos, c->b.len - c->pos);
		c->b.len -= c->pos;
		c->pos = 0;
	}
	buf_grow(&c->b, (n > KEYS_READ ? n : KEYS_READ));
	while (c->b.len < n) {
		ssize_t r = read(c->fd, c->b.p + c->b.len, c->b.cap - 1 - c->b.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set("%s: %s", c->path, strerror(errno));
			return -1;
		}
		if (r == 0)
			return 0;
		c->b.len += (size_t)r;
	}
	return 1;
}

/* The next record of the open file (its keep key in c->kk): 1, 0 at the end, -1 on a
 * damaged one. */
int near_keys_next(struct near_keys *c)
{
	int got = keys_fill(c, 9);
	if (got <= 0)
		return got < 0 || c->b.len - c->pos == 0 ? got : (err_set("%s: truncated", c->path), -1);
	const unsigned char *h = (const unsigned char *)c->b.p + c->pos;
	uint64_t rec = be_get(h, 4), kl = be_get(h + 5, 4);
	if (kl < NEAR_KEY_MIN || kl > NEAR_KEY_MAX || (c->at != UINT64_MAX && rec <= c->at) ||
	    keys_fill(c, 9 + kl) != 1) {
		err_set("%s: a damaged record after record %llu", c->path,
			(unsigned long long)(c->at == UINT64_MAX ? 0 : c->at + 1));
		return -1;
	}
	h = (const unsigned char *)c->b.p + c->pos;
	c->at = rec;
	c->level = h[4];
	c->kk = (const char *)h + 9;
	c->kl = kl;
	c->pos += 9 + kl;
	return 1;
}

/* Document dk's keep key, which must not come before the last one found; valid until the
 * next call. 0, or -1 with err_set. */
int near_keys_find(struct near_keys *c, const void *dk, const void **kk, size_t *kl)
{
	size_t shard = (size_t)be_get(dk, 4);
	uint64_t record = be_get((const char *)dk + 4, 4);
	if (shard != c->shard) {
		if (c->shard != SIZE_MAX && shard < c->shard) {
			err_set("dedup-near: keep key lookups out of order (shard %zu after %zu)",
				shard, c->shard);
			return -1;
		}
		if (near_keys_shard(c, shard) < 0)
			return -1;
	}
	int got = 1;
	while ((c->at == UINT64_MAX || c->at < record) && (got = near_keys_next(c)) == 1)
		;
	if (got < 0)
		return -1;
	if (!got || c->at != record) {
		err_set("%s: no keep key of record %llu", c->path, (unsigned long long)record + 1);
		return -1;
	}
	*kk = c->kk, *kl = c->kl;
	return 0;
}
