/* util: allocation that cannot fail silently, growable byte buffers with a cap, the
 * thread-local error message that library code sets, file helpers (atomic write, mkdir -p)
 * and SHA-256 helpers over OpenSSL EVP. No policy lives here. */
#ifndef CURATE_UTIL_H
#define CURATE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Abort with file:line; for broken invariants and out-of-memory only. */
#define DIE(...) util_die(__FILE__, __LINE__, __VA_ARGS__)
void util_die(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* The value of a base64 digit (RFC 4648; url: the base64url alphabet, - and _ for + and /),
 * or -1 for any other character. */
int b64_digit(int c, int url);
/* 1 if s equals one of the n strings of list. */
int str_listed(const char *s, const char *const *list, size_t n);
/* Returns a malloc'd formatted string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last error of library code on this thread. Functions that return a negative code set
 * it; callers print it. The message names the file and place where one is known. */
void err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_get(void);

/* A growable byte buffer. p is always NUL-terminated (p[len] == 0) once anything was
 * appended, so text can be used as a C string where it holds no NUL. The buffer owns p. */
struct buf {
	char *p;
	size_t len, cap;
};
#define BUF_INIT {NULL, 0, 0}
void buf_grow(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_set(struct buf *b, const void *data, size_t n);
void buf_reset(struct buf *b); /* len = 0, keeps memory */
void buf_release(struct buf *b); /* frees memory; b is empty and reusable */
/* Hands p to the caller (who frees it) and leaves b empty. Never NULL. */
char *buf_detach(struct buf *b, size_t *len);

/* Whether s ends with suffix (an equal string does). */
static inline int str_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* Files. All return 0 or -1 with err_set naming the path. */
/* Writes all n bytes to fd, retrying short writes and EINTR; path is for the message. */
int write_all(int fd, const void *data, size_t n, const char *path);
int mkdir_p(const char *path);
/* Writes data to path.tmp, fsyncs, renames over path, fsyncs the directory. */
int write_file_atomic(const char *path, const void *data, size_t n);
/* Reads a whole file into b (replacing its content). */
int read_file(const char *path, struct buf *b);
int file_exists(const char *path);
/* fsync of the directory holding path, so a rename is durable. */
int fsync_dir_of(const char *path);
/* Removes a file or a whole directory tree; missing is not an error. */
int remove_tree(const char *path);

/* SHA-256 (OpenSSL EVP). */
#define SHA256_LEN 32
#define SHA256_HEX 65
void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN]);
void sha256_hexstr(const unsigned char d[SHA256_LEN], char out[SHA256_HEX]);
/* Incremental hashing; ctx is an EVP_MD_CTX. */
typedef struct evp_md_ctx_st sha256_ctx;
sha256_ctx *sha256_new(void);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final_hex(sha256_ctx *c, char out[SHA256_HEX]); /* also frees c */
int sha256_file_hex(const char *path, char out[SHA256_HEX]);

/* Big-endian integers of `bytes` bytes (1..8) in exchange keys, so that memcmp order is
 * numeric order. */
static inline void be_put(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint64_t be_get(const void *p, int bytes)
{
	const unsigned char *b = (const unsigned char *)p;
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | b[i];
	return v;
}

/* The next value of a splitmix64 stream whose state is *s. */
static inline uint64_t splitmix64_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A seeded 64-bit hash of bytes: FNV-1a from the offset basis xor seed, then splitmix64's
 * finalizer. Stable across machines and releases: sample and shuffle orders depend on it. */
uint64_t hash64_seeded(uint64_t seed, const void *data, size_t n);

/* Sizes like "512MiB", "4G", "1000" into bytes; -1 on a malformed string. */
int parse_size(const char *s, uint64_t *out);
/* Human-readable bytes into out ("1.5 GiB"). */
void format_size(uint64_t n, char *out, size_t outlen);
double now_seconds(void); /* monotonic clock */
double cpu_seconds(void); /* CPU time of the whole process, every thread */

#endif
