/* eio: a test fault injector, not part of curate. LD_PRELOAD it and every open(), openat(),
 * fopen() (and their 64-bit and fortified variants) of a path containing the string in
 * CURATE_FAULT_EIO fails with EIO, or with the errno CURATE_FAULT_ERRNO names (EIO, ENOENT,
 * EACCES or a number): a disk or network filesystem failing, a file deleted or made
 * unreadable between plan and produce, all deterministic. With CURATE_FAULT_AFTER=N such an
 * open() succeeds instead, and read(2) on the descriptor fails with that errno once N bytes
 * have been read: an I/O error in the middle of a file. Other paths go to libc untouched.
 * For single-threaded callers (the descriptor table is not locked), as curate's import is.
 * tests/e2e/ops_import.sh builds it: cc -shared -fPIC -o eio.so tests/fault/eio.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f)
		abort(); /* a libc without it cannot have called us through it */
	return f;
}

/* The errno to fail path with, or 0 to let it through. */
static int fault(const char *path)
{
	const char *match = getenv("CURATE_FAULT_EIO"), *e = getenv("CURATE_FAULT_ERRNO");

	if (!path || !match || !*match || !strstr(path, match))
		return 0;
	if (!e || !*e || !strcmp(e, "EIO"))
		return EIO;
	if (!strcmp(e, "ENOENT"))
		return ENOENT;
	if (!strcmp(e, "EACCES"))
		return EACCES;
	return atoi(e) > 0 ? atoi(e) : EIO;
}

/* Descriptors opened under CURATE_FAULT_AFTER, each with the bytes it may still read. */
struct faulty {
	int fd, err;
	long left;
};
static struct faulty faulty[64];
static int nfaulty;

static int find_faulty(int fd)
{
	for (int i = 0; i < nfaulty; i++)
		if (faulty[i].fd == fd)
			return i;
	return -1;
}

/* Before an open of path: -1 to fail it (errno set), else the errno its reads are to fail
 * with later (0: none). */
static int before_open(const char *path)
{
	int err = fault(path);
	const char *after = getenv("CURATE_FAULT_AFTER");

	if (err && (!after || !*after)) {
		errno = err;
		return -1;
	}
	return err;
}

static int after_open(int err, int fd)
{
	if (err && fd >= 0 && nfaulty < (int)(sizeof faulty / sizeof *faulty))
		faulty[nfaulty++] = (struct faulty){fd, err, atol(getenv("CURATE_FAULT_AFTER"))};
	return fd;
}

ssize_t read(int fd, void *buf, size_t n)
{
	int i = find_faulty(fd);

	if (i >= 0 && faulty[i].left <= 0) {
		errno = faulty[i].err;
		return -1;
	}
	if (i >= 0 && (long)n > faulty[i].left)
		n = (size_t)faulty[i].left;
	ssize_t got = ((ssize_t(*)(int, void *, size_t))next("read"))(fd, buf, n);
	if (i >= 0 && got > 0)
		faulty[i].left -= got;
	return got;
}

int close(int fd)
{
	int i = find_faulty(fd);

	if (i >= 0)
		faulty[i] = faulty[--nfaulty];
	return ((int (*)(int))next("close"))(fd);
}

/* The mode argument exists only when the flags create a file. */
#define MODE_ARG(flags, mode)                                                                \
	do {                                                                                 \
		if ((flags) & (O_CREAT | O_TMPFILE)) {                                       \
			va_list ap;                                                          \
			va_start(ap, flags);                                                 \
			mode = va_arg(ap, mode_t);                                           \
			va_end(ap);                                                          \
		}                                                                            \
	} while (0)

typedef int open_fn(const char *, int, ...);
typedef int openat_fn(int, const char *, int, ...);
typedef int open2_fn(const char *, int);
typedef int openat2_fn(int, const char *, int);

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	int err = before_open(path);
	return err < 0 ? -1 : after_open(err, ((open_fn *)next("open"))(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	int err = before_open(path);
	return err < 0 ? -1 : after_open(err, ((open_fn *)next("open64"))(path, flags, mode));
}

int openat(int dir, const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	int err = before_open(path);
	return err < 0 ? -1
		       : after_open(err, ((openat_fn *)next("openat"))(dir, path, flags, mode));
}

int openat64(int dir, const char *path, int flags, ...)
{
	mode_t mode = 0;
	MODE_ARG(flags, mode);
	int err = before_open(path);
	return err < 0 ? -1
		       : after_open(err, ((openat_fn *)next("openat64"))(dir, path, flags, mode));
}

/* what _FORTIFY_SOURCE builds call when the flags are not a constant */
int __open_2(const char *path, int flags)
{
	int err = before_open(path);
	return err < 0 ? -1 : after_open(err, ((open2_fn *)next("__open_2"))(path, flags));
}

int __open64_2(const char *path, int flags)
{
	int err = before_open(path);
	return err < 0 ? -1 : after_open(err, ((open2_fn *)next("__open64_2"))(path, flags));
}

int __openat_2(int dir, const char *path, int flags)
{
	int err = before_open(path);
	return err < 0 ? -1 : after_open(err, ((openat2_fn *)next("__openat_2"))(dir, path, flags));
}

int __openat64_2(int dir, const char *path, int flags)
{
	int err = before_open(path);
	return err < 0 ? -1
		       : after_open(err, ((openat2_fn *)next("__openat64_2"))(dir, path, flags));
}

/* stdio's own reads do not come through read() above: fopen only ever fails */
FILE *fopen(const char *path, const char *how)
{
	int err = fault(path);
	if (err) {
		errno = err;
		return NULL;
	}
	return ((FILE * (*)(const char *, const char *)) next("fopen"))(path, how);
}

FILE *fopen64(const char *path, const char *how)
{
	int err = fault(path);
	if (err) {
		errno = err;
		return NULL;
	}
	return ((FILE * (*)(const char *, const char *)) next("fopen64"))(path, how);
}
