/* util: see util.h. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void util_die(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "curate: fatal at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		DIE("out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		DIE("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		DIE("out of memory reallocating %zu bytes", n);
	return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

int b64_digit(int c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	return c == (url ? '_' : '/') ? 63 : -1;
}

int str_listed(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

char *xasprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b, NULL);
}

static _Thread_local char err_msg[2048];

/* Formats into a scratch buffer first: callers often wrap the last error, passing err_get()
 * as an argument, and vsnprintf into the buffer it reads from is undefined. */
void err_set(const char *fmt, ...)
{
	char tmp[sizeof err_msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	memcpy(err_msg, tmp, sizeof err_msg);
}

const char *err_get(void) { return err_msg[0] ? err_msg : "unknown error"; }

void buf_grow(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1) {
		if (cap > SIZE_MAX / 2)
			DIE("buffer size overflow");
		cap *= 2;
	}
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
}

void buf_puts(struct buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_putc(struct buf *b, char c)
{
	buf_grow(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = 0;
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		DIE("bad format string");
	buf_grow(b, (size_t)n);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void buf_set(struct buf *b, const void *data, size_t n)
{
	b->len = 0;
	buf_append(b, data, n);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

void buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *buf_detach(struct buf *b, size_t *len)
{
	if (!b->p)
		buf_grow(b, 0);
	b->p[b->len] = 0;
	char *p = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

int mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0777) && errno != EEXIST) {
			err_set("%s: cannot create directory: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = 0;
	if (mkdir(p, 0777) && errno != EEXIST) {
		err_set("%s: cannot create directory: %s", p, strerror(errno));
		rc = -1;
	}
	free(p);
	return rc;
}

int fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	free(copy);
	if (fd < 0)
		return 0; /* nothing to sync */
	fsync(fd);
	close(fd);
	return 0;
}

int write_all(int fd, const void *data, size_t n, const char *path)
{
	const char *p = data;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err_set("%s: write failed: %s", path, strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t n)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0) {
		err_set("%s: cannot create: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (write_all(fd, data, n, tmp)) {
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	if (fsync(fd) || close(fd) || rename(tmp, path)) {
		err_set("%s: cannot commit: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return fsync_dir_of(path);
}

int read_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf_reset(b);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		err_set("%s: read error", path);
		return -1;
	}
	if (!b->p)
		buf_grow(b, 0), b->p[0] = 0;
	return 0;
}

int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *sub = xasprintf("%s/%s", path, e->d_name);
		rc |= remove_tree(sub);
		free(sub);
	}
	closedir(d);
	return rc | rmdir(path);
}

void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
	unsigned int len = 0;
	if (!EVP_Digest(data, n, out, &len, EVP_sha256(), NULL))
		DIE("EVP_Digest failed");
}

void sha256_hexstr(const unsigned char d[SHA256_LEN], char out[SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = 0;
}

sha256_ctx *sha256_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		DIE("EVP_DigestInit failed");
	return c;
}

void sha256_update(sha256_ctx *c, const void *data, size_t n)
{
	if (n && !EVP_DigestUpdate(c, data, n))
		DIE("EVP_DigestUpdate failed");
}

void sha256_final_hex(sha256_ctx *c, char out[SHA256_HEX])
{
	unsigned char d[SHA256_LEN];
	unsigned int len = 0;
	if (!EVP_DigestFinal_ex(c, d, &len))
		DIE("EVP_DigestFinal failed");
	EVP_MD_CTX_free(c);
	sha256_hexstr(d, out);
}

int sha256_file_hex(const char *path, char out[SHA256_HEX])
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	sha256_ctx *c = sha256_new();
	static _Thread_local char chunk[1 << 16];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		sha256_update(c, chunk, n);
	int bad = ferror(f);
	fclose(f);
	sha256_final_hex(c, out);
	if (bad) {
		err_set("%s: read error", path);
		return -1;
	}
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
		{"", 1}, {"B", 1}, {"K", 1e3}, {"KB", 1e3}, {"KiB", 1024.0},
		{"M", 1e6}, {"MB", 1e6}, {"MiB", 1048576.0}, {"G", 1e9}, {"GB", 1e9},
		{"GiB", 1073741824.0}, {"T", 1e12}, {"TB", 1e12}, {"TiB", 1099511627776.0},
	};
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (!strcmp(end, units[i].suffix)) {
			double bytes = v * units[i].mult;
			if (bytes > 1.8e19)
				return -1;
			*out = (uint64_t)bytes;
			return 0;
		}
	}
	return -1;
}

void format_size(uint64_t n, char *out, size_t outlen)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_LEN(unit))
		v /= 1024, u++;
	if (u == 0)
		snprintf(out, outlen, "%llu B", (unsigned long long)n);
	else
		snprintf(out, outlen, "%.1f %s", v, unit[u]);
}

double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

uint64_t hash64_seeded(uint64_t seed, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27, h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
