/* xchg: the bounded-memory all-to-all exchange of keyed records (contract in xchg.h, protocol
 * in docs/exchange.md). Puts fill per-destination buffers that spill to one segmented file;
 * xchg_finish moves the bytes in rounds of Alltoall + Alltoallv; each rank sorts what arrives
 * into runs, and xchg_next merges the runs with a binary heap. */
#include "xchg.h"

#include "par.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A record on the wire and on disk: u32 klen, u32 vlen (little-endian), key, value. */
#define HDR 8
#define MAX_KEY ((size_t)64 << 10)
#define MAX_VAL ((size_t)1 << 30)
#define MIN_BUDGET ((uint64_t)64 << 10)
#define MIN_CHUNK ((size_t)4 << 10)
/* A round sends at most a chunk, or one record, to each rank: both stay below INT_MAX. */
#define MAX_CHUNK ((size_t)1 << 30)
#define MIN_READBUF ((size_t)4 << 10)
#define MAX_READBUF ((size_t)1 << 20)
#define MAX_FANIN 256 /* run files open at once, well under the usual 1024 descriptors */
#define RUN_WRITEBUF (1 << 16)
#define PREFETCH 16 /* records ahead in sorted order, whose bytes are fetched early */

/* A sort key for one received record: 16 bytes of it, big-endian and zero-padded, decide
 * most comparisons without touching the record (sort_area says which bytes). */
struct ent {
	uint64_t w[2];
	size_t off;
};

/* Accounted bytes per received record until it is sorted: its index entry plus the scratch
 * array of the radix sort. */
#define IDX_COST (2 * sizeof(struct ent))

struct seg {
	uint64_t off, len; /* one destination's bytes in the outgoing spill file */
};

struct dest {
	struct buf mem; /* records not yet spilled; [mpos, len) not yet sent */
	size_t mpos;
	struct seg *seg; /* spilled bytes, in file order; seg_pos of seg[seg_i] already sent */
	size_t nseg, segcap, seg_i;
	uint64_t seg_pos;
};

/* One sorted input of a merge: a run file or the in-memory remainder. */
struct src {
	int fd;       /* -1 for the remainder */
	unsigned run; /* for messages */
	struct buf b; /* bytes read; [pos, b.len) not yet taken */
	size_t pos;
	const char *rec; /* current record, framed */
	const char *area;
	const struct ent *ent;
	size_t i, n;
};

struct merge {
	struct src *src;
	size_t nsrc, *heap, nheap;
	int popped; /* heap[0]'s record was handed out; advance it on the next call */
	int unique; /* pass over records equal to the last one handed out, kept in last */
	struct buf last;
};

struct xchg {
	MPI_Comm comm;
	int rank, nranks;
	size_t budget, chunk;
	char *dir, *spill_path;
	char *spill_err; /* a failed spill leaves the file unusable: finish then fails with this */
	int spill_fd;
	uint64_t spill_size;

	struct dest *dest;
	size_t out_held; /* capacity of every dest.mem */
	struct buf staging;
	int64_t *cnt_out, *cnt_in; /* per rank: bytes, records, flag (1 more, 2 failed) */
	MPI_Count *scount, *rcount;
	MPI_Aint *sdispl, *rdispl;

	struct buf area; /* received records, unsorted */
	size_t area_nrec;
	struct ent *idx; /* the sorted remainder, once finished */
	size_t nidx;
	int unique; /* xchg_set_unique */
	unsigned *runs, next_run;
	size_t nruns, runcap;
	size_t readbuf; /* capacity of the merge readers */
	struct merge m;
	int finished, failed;
	struct xchg_stats st;
};

static unsigned xchg_serial; /* names each exchange's spill directory within the process */

/* Spill directories are named xchg-RANK-PID-SERIAL-HOST (before the host was added:
 * xchg-RANK-PID-SERIAL), so that a later run can tell its own leftovers from those of a
 * live process. */
#define HOST_MAX 65

/* This host's name as it goes into a file name: [A-Za-z0-9.-], others as '_'. */
static void spill_host(char out[HOST_MAX])
{
	if (gethostname(out, HOST_MAX) < 0 || !out[0])
		snprintf(out, HOST_MAX, "unknown");
	out[HOST_MAX - 1] = 0;
	for (char *p = out; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			*p = '_';
}

/* Skips one field of digits and the '-' after it (or the end); NULL if there is none. */
static const char *digits(const char *p, long *v)
{
	if (!isdigit((unsigned char)*p))
		return NULL;
	*v = strtol(p, (char **)&p, 10);
	return *p == '-' ? p + 1 : *p ? NULL : p;
}

/* Parses a spill directory's name: 1 with its PID and host ("" in the old form), 0 when it
 * is no spill directory of curate's. */
static int spill_name(const char *name, long *pid, char host[HOST_MAX])
{
	long rank, serial;
	const char *p = strncmp(name, "xchg-", 5) ? NULL : name + 5;
	if (!(p = p ? digits(p, &rank) : NULL) || !*p || !(p = digits(p, pid)) || !*p ||
	    !(p = digits(p, &serial)) || *pid <= 0)
		return 0;
	if (strlen(p) >= HOST_MAX || (p[-1] == '-' && !*p))
		return 0;
	snprintf(host, HOST_MAX, "%s", p);
	return 1;
}

/* The bytes of the files directly in dir (a spill directory holds no subdirectories). */
static uint64_t tree_bytes(const char *dir)
{
	uint64_t n = 0;
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		struct stat st;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		if (!lstat(p, &st) && S_ISREG(st.st_mode))
			n += (uint64_t)st.st_size;
		free(p);
	}
	if (d)
		closedir(d);
	return n;
}

int xchg_remove_stale(const char *spill_dir, int all, uint64_t *bytes)
{
	*bytes = 0;
	DIR *d = opendir(spill_dir);
	if (!d)
		return 0;
	char me[HOST_MAX], host[HOST_MAX];
	spill_host(me);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		long pid;
		if (!spill_name(e->d_name, &pid, host) || pid == (long)getpid())
			continue;
		/* the same host and no such process: surely dead; otherwise only when told */
		int dead = !strcmp(host, me) && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
		if (!all && !dead)
			continue;
		char *path = xasprintf("%s/%s", spill_dir, e->d_name);
		*bytes += tree_bytes(path);
		if (remove_tree(path) == 0)
			n++;
		free(path);
	}
	closedir(d);
	return n;
}

static uint32_t get32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static void put32(char *p, uint32_t v)
{
	unsigned char *u = (unsigned char *)p;
	u[0] = v & 0xff;
	u[1] = (v >> 8) & 0xff;
	u[2] = (v >> 16) & 0xff;
	u[3] = v >> 24;
}

static size_t rec_size(const char *p) { return HDR + (size_t)get32(p) + get32(p + 4); }

static int frame_ok(const char *p) { return get32(p) <= MAX_KEY && get32(p + 4) <= MAX_VAL; }

/* memcmp order, shorter first on a common prefix. */
static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);
	if (c)
		return c;
	return (na > nb) - (na < nb);
}

static int rec_cmp(const char *a, const char *b)
{
	size_t ka = get32(a), kb = get32(b);
	int c = cmp_bytes(a + HDR, ka, b + HDR, kb);
	if (c)
		return c;
	return cmp_bytes(a + HDR + ka, get32(a + 4), b + HDR + kb, get32(b + 4));
}

static uint64_t load64le(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/* Bytes are read as little-endian words whatever the host, so placement is portable. */
static uint64_t key_hash(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0xc2b2ae3d27d4eb4fULL);
	for (; n >= 8; n -= 8, p += 8)
		h = (h ^ mix64(load64le(p))) * 0x9fb21c651e98df25ULL;
	uint64_t tail = 0;
	for (size_t i = 0; i < n; i++)
		tail |= (uint64_t)p[i] << (8 * i);
	return mix64((h ^ mix64(tail)) * 0x9fb21c651e98df25ULL);
}

int xchg_owner(const void *key, size_t klen, int nranks)
{
	if (nranks <= 1)
		return 0;
	return (int)(key_hash(key, klen) % (uint64_t)nranks);
}

/* Everything the exchange holds in memory, as accounted against the budget. */
static size_t held(const struct xchg *x)
{
	return x->out_held + x->staging.cap + x->area.cap + IDX_COST * x->area_nrec + x->readbuf;
}

static void note_peak(struct xchg *x)
{
	if (held(x) > x->st.peak_bytes)
		x->st.peak_bytes = held(x);
}

/* Makes room for n more bytes: geometric growth capped at limit, unless n alone needs more.
 * struct buf is used as a plain holder here (no NUL) so capacity is under our control.
 * Returns the capacity added. */
static size_t reserve(struct buf *b, size_t n, size_t limit)
{
	size_t need = b->len + n, old = b->cap;
	if (need <= b->cap && b->p)
		return 0;
	size_t cap = b->cap * 2 < limit ? b->cap * 2 : limit;
	if (cap < need)
		cap = need;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
	return cap - old;
}

static int pread_all(int fd, void *data, size_t n, uint64_t off, const char *path)
{
	char *p = data;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err_set("%s: read failed: %s", path, r ? strerror(errno) : "unexpected end");
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

struct xchg *xchg_new(MPI_Comm comm, uint64_t budget, const char *spill_dir)
{
	struct xchg *x = xcalloc(1, sizeof *x);
	x->comm = comm;
	x->spill_fd = -1;
	MPI_CHECK(MPI_Comm_rank(comm, &x->rank));
	MPI_CHECK(MPI_Comm_size(comm, &x->nranks));
	/* The smallest budget everywhere, so no rank sends more per round than any can take. */
	uint64_t want = budget < MIN_BUDGET ? MIN_BUDGET : budget, b = 0;
	MPI_CHECK(MPI_Allreduce(&want, &b, 1, MPI_UINT64_T, MPI_MIN, comm));
	x->budget = b > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)b;
	x->chunk = x->budget / 4 / (size_t)x->nranks;
	x->chunk = x->chunk < MIN_CHUNK ? MIN_CHUNK : x->chunk > MAX_CHUNK ? MAX_CHUNK : x->chunk;

	if (!spill_dir)
		spill_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char host[HOST_MAX];
	spill_host(host);
	x->dir = xasprintf("%s/xchg-%d-%ld-%u-%s", spill_dir, x->rank, (long)getpid(),
			   xchg_serial++, host);
	x->spill_path = xasprintf("%s/out", x->dir);
	int ok = mkdir_p(x->dir) == 0, all = 0;
	MPI_CHECK(MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm));
	if (!all) {
		if (ok)
			err_set("xchg: another rank could not create its spill directory");
		xchg_free(x);
		return NULL;
	}
	size_t n = (size_t)x->nranks;
	x->dest = xcalloc(n, sizeof *x->dest);
	x->cnt_out = xcalloc(3 * n, sizeof *x->cnt_out);
	x->cnt_in = xcalloc(3 * n, sizeof *x->cnt_in);
	x->scount = xcalloc(n, sizeof *x->scount);
	x->rcount = xcalloc(n, sizeof *x->rcount);
	x->sdispl = xcalloc(n, sizeof *x->sdispl);
	x->rdispl = xcalloc(n, sizeof *x->rdispl);
	return x;
}

/* ---- put: per-destination buffers and the outgoing spill file ---- */

static void add_seg(struct dest *t, uint64_t off, uint64_t len)
{
	if (t->nseg && t->seg[t->nseg - 1].off + t->seg[t->nseg - 1].len == off) {
		t->seg[t->nseg - 1].len += len;
		return;
	}
	if (t->nseg == t->segcap) {
		t->segcap = t->segcap ? 2 * t->segcap : 4;
		t->seg = xrealloc(t->seg, t->segcap * sizeof *t->seg);
	}
	t->seg[t->nseg++] = (struct seg){off, len};
}

/* Appends bytes to the spill file (created on first use); the caller records the segment. */
static int spill_append(struct xchg *x, const void *p, size_t n)
{
	if (x->spill_err) {
		err_set("%s", x->spill_err);
		return -1;
	}
	if (x->spill_fd < 0)
		x->spill_fd = open(x->spill_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (x->spill_fd < 0)
		err_set("%s: cannot create: %s", x->spill_path, strerror(errno));
	if (x->spill_fd < 0 || (n && write_all(x->spill_fd, p, n, x->spill_path))) {
		x->spill_err = xstrdup(err_get());
		return -1;
	}
	x->spill_size += n;
	x->st.spilled_bytes += n;
	return 0;
}

/* Frees the outgoing buffers' memory; they must be empty. */
static void out_release(struct xchg *x)
{
	for (int d = 0; d < x->nranks; d++) {
		buf_release(&x->dest[d].mem);
		x->dest[d].mpos = 0;
	}
	x->out_held = 0;
}

/* Gives back the capacity the outgoing buffers do not use: geometric growth leaves up to
 * half of each one empty. */
static void out_shrink(struct xchg *x)
{
	for (int d = 0; d < x->nranks; d++) {
		struct buf *b = &x->dest[d].mem;
		if (b->cap == b->len)
			continue;
		x->out_held -= b->cap - b->len;
		if (!b->len) {
			buf_release(b);
			continue;
		}
		b->p = xrealloc(b->p, b->len);
		b->cap = b->len;
	}
}

/* Moves every buffered record to disk, one segment per destination. The buffers keep their
 * memory, so refilling them costs no page faults. */
static int spill_out(struct xchg *x)
{
	uint64_t before = x->spill_size;
	for (int d = 0; d < x->nranks; d++) {
		struct dest *t = &x->dest[d];
		size_t n = t->mem.len - t->mpos;
		uint64_t off = x->spill_size;
		if (n && spill_append(x, t->mem.p + t->mpos, n))
			return -1;
		if (n)
			add_seg(t, off, n);
		t->mem.len = t->mpos = 0;
	}
	x->st.spilled_runs += x->spill_size > before;
	return 0;
}

/* A record over a quarter of the budget goes straight to disk instead of through a buffer. */
static int spill_record(struct xchg *x, int dest, const char *hdr, const void *key,
			size_t klen, const void *val, size_t vlen)
{
	uint64_t off = x->spill_size;
	if (spill_append(x, hdr, HDR) || spill_append(x, key, klen) || spill_append(x, val, vlen))
		return -1;
	add_seg(&x->dest[dest], off, HDR + klen + vlen);
	x->st.spilled_runs++;
	return 0;
}

static int flush_area(struct xchg *x);

/* A record for this rank goes straight into the receive area, as if it had arrived: no
 * staging, no copy by MPI. The area may hold half the budget while puts go on (the other
 * half is the outgoing buffers'); past that it is sorted into a run on disk. */
static int put_self(struct xchg *x, const char *hdr, const void *key, size_t klen,
		    const void *val, size_t vlen)
{
	size_t n = HDR + klen + vlen, half = x->budget / 2;
	size_t need = x->area.len + n > x->area.cap ? x->area.len + n : x->area.cap;
	if (x->area_nrec && need + IDX_COST * (x->area_nrec + 1) > half) {
		if (flush_area(x)) {
			if (!x->spill_err) /* finish fails too, should the caller go on */
				x->spill_err = xstrdup(err_get());
			return -1;
		}
		buf_release(&x->area); /* it grows again with the next run's index */
	}
	size_t idx = IDX_COST * (x->area_nrec + 1);
	reserve(&x->area, n, half > idx ? half - idx : 0);
	note_peak(x);
	char *p = x->area.p + x->area.len;
	memcpy(p, hdr, HDR);
	if (klen)
		memcpy(p + HDR, key, klen);
	if (vlen)
		memcpy(p + HDR + klen, val, vlen);
	x->area.len += n;
	x->area_nrec++;
	x->st.recv_records++;
	x->st.recv_bytes += n;
	return 0;
}

int xchg_put(struct xchg *x, int dest, const void *key, size_t klen, const void *val,
	     size_t vlen)
{
	if (x->finished || dest < 0 || dest >= x->nranks || klen > MAX_KEY || vlen > MAX_VAL) {
		err_set("xchg_put: %s (dest %d of %d, key %zu bytes, value %zu bytes)",
			x->finished ? "the exchange is finished" : "bad record", dest, x->nranks,
			klen, vlen);
		return -1;
	}
	char hdr[HDR];
	put32(hdr, (uint32_t)klen);
	put32(hdr + 4, (uint32_t)vlen);
	size_t n = HDR + klen + vlen;
	x->st.sent_records++;
	x->st.sent_bytes += n;
	if (n > x->budget / 4)
		return spill_record(x, dest, hdr, key, klen, val, vlen);
	if (dest == x->rank)
		return put_self(x, hdr, key, klen, val, vlen);

	/* Spill before growing past half the budget; the other half is for receiving. When
	 * the buffers kept from the last spill leave no room to grow, they are freed too. */
	struct buf *b = &x->dest[dest].mem;
	size_t half = x->budget / 2;
	if (b->len + n > b->cap && x->out_held + (b->len + n - b->cap) > half) {
		if (spill_out(x))
			return -1;
		if (n > b->cap && x->out_held + (n - b->cap) > half)
			out_release(x);
	}
	x->out_held += reserve(b, n, half - (x->out_held - b->cap));
	note_peak(x);
	char *p = b->p + b->len;
	memcpy(p, hdr, HDR);
	if (klen)
		memcpy(p + HDR, key, klen);
	if (vlen)
		memcpy(p + HDR + klen, val, vlen);
	b->len += n;
	return 0;
}

/* ---- sorted runs ---- */

/* The words of a record's sort key: the first 16 bytes of its key, or, when every record
 * being sorted has a key of the same length, of its key followed by its value. Zero-padded,
 * they order records as rec_cmp does wherever they differ: a key that runs out first is a
 * prefix of the other there (padding sorts first, as the shorter does), and with keys of one
 * length, key then value bytes is rec_cmp's order. Equal words leave it to rec_cmp. */
static void ent_words(struct ent *e, const char *rec, int joined)
{
	size_t kl = get32(rec), n = joined ? kl + get32(rec + 4) : kl;
	const unsigned char *p = (const unsigned char *)rec + HDR;
	unsigned char b[16] = {0};
	memcpy(b, p, n < 16 ? n : 16);
	uint64_t w[2];
	memcpy(w, b, 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	w[0] = __builtin_bswap64(w[0]), w[1] = __builtin_bswap64(w[1]);
#endif
	e->w[0] = w[0], e->w[1] = w[1];
}

static int ent_cmp(const void *pa, const void *pb, void *area)
{
	const struct ent *a = pa, *b = pb;
	if (a->w[0] != b->w[0])
		return a->w[0] < b->w[0] ? -1 : 1;
	if (a->w[1] != b->w[1])
		return a->w[1] < b->w[1] ? -1 : 1;
	return area ? rec_cmp((const char *)area + a->off, (const char *)area + b->off) : 0;
}

/* area NULL: the words hold whole records, and equal words are equal records. */
static int ent_less(const struct ent *a, const struct ent *b, const char *area)
{
	if (a->w[0] != b->w[0])
		return a->w[0] < b->w[0];
	if (a->w[1] != b->w[1])
		return a->w[1] < b->w[1];
	return area && rec_cmp(area + a->off, area + b->off) < 0;
}

static void ent_swap(struct ent *a, struct ent *b)
{
	struct ent t = *a;
	*a = *b;
	*b = t;
}

/* Quicksort (median of three, insertion sort below 16) of a bucket, which is small after
 * the radix pass; past a depth limit the rest goes to qsort_r, so no input is quadratic. */
static void ent_qsort(struct ent *e, size_t n, const char *area, int depth)
{
	while (n > 16) {
		if (depth-- == 0) {
			qsort_r(e, n, sizeof *e, ent_cmp, (void *)area);
			return;
		}
		struct ent *m = e + n / 2, *l = e + n - 1;
		if (ent_less(m, e, area))
			ent_swap(m, e);
		if (ent_less(l, m, area)) {
			ent_swap(l, m);
			if (ent_less(m, e, area))
				ent_swap(m, e);
		}
		struct ent p = *m;
		size_t i = 0, j = n - 1;
		for (;;) {
			while (ent_less(&e[i], &p, area))
				i++;
			while (ent_less(&p, &e[j], area))
				j--;
			if (i >= j)
				break;
			ent_swap(&e[i++], &e[j--]);
		}
		/* [0, j] <= p <= [j + 1, n): recurse into the smaller side */
		if (j + 1 < n - j - 1) {
			ent_qsort(e, j + 1, area, depth);
			e += j + 1, n -= j + 1;
		} else {
			ent_qsort(e + j + 1, n - j - 1, area, depth);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j && ent_less(&e[j], &e[j - 1], area); j--)
			ent_swap(&e[j], &e[j - 1]);
}

/* The byte d of the words (0 the most significant of w[0]), and two from there. */
static unsigned ent_byte(const struct ent *e, int d)
{
	return (unsigned)(e->w[d / 8] >> (56 - 8 * (d % 8))) & 0xff;
}

static unsigned ent_digit(const struct ent *e, int d)
{
	return ent_byte(e, d) << 8 | (d < 15 ? ent_byte(e, d + 1) : 0);
}

/* One radix pass on the first 16 bits of the words that are not the same in every entry
 * (a key's constant tag, a shard number's high bytes), which cuts the array into buckets
 * small enough for the cache; each bucket is then sorted by comparison. Returns the sorted
 * array (e or a new one: the other is freed). */
static struct ent *radix_sort(struct ent *e, size_t n, const char *area)
{
	int d = 0;
	for (; d < 16; d++) {
		unsigned first = ent_byte(&e[0], d);
		size_t i = 1;
		while (i < n && ent_byte(&e[i], d) == first)
			i++;
		if (i < n)
			break;
	}
	if (d == 16) { /* all words equal */
		ent_qsort(e, n, area, 64);
		return e;
	}
	size_t *pos = xcalloc(65537, sizeof *pos);
	for (size_t i = 0; i < n; i++)
		pos[ent_digit(&e[i], d) + 1]++;
	for (size_t v = 1; v <= 65536; v++)
		pos[v] += pos[v - 1];
	struct ent *out = xmalloc(n * sizeof *out);
	size_t *at = xmalloc(65536 * sizeof *at);
	memcpy(at, pos, 65536 * sizeof *at);
	for (size_t i = 0; i < n; i++)
		out[at[ent_digit(&e[i], d)]++] = e[i];
	free(e), free(at);
	for (size_t v = 0; v < 65536; v++)
		if (pos[v + 1] - pos[v] > 1)
			ent_qsort(out + pos[v], pos[v + 1] - pos[v], area, 64);
	free(pos);
	return out;
}

/* Sorts an array of offsets into the receive area, not the bytes; *n gets its length,
 * which is less than the records' with unique set (equal records once). Caller frees. */
static struct ent *sort_area(struct xchg *x, size_t *np)
{
	size_t n = x->area_nrec, off = 0;
	struct ent *e = xmalloc((n ? n : 1) * sizeof *e);
	int joined = 1, whole = 1;
	for (size_t i = 0; i < n; i++) {
		const char *r = x->area.p + off;
		joined &= get32(r) == get32(x->area.p);
		whole &= get32(r + 4) == get32(x->area.p + 4);
		e[i].off = off;
		off += rec_size(r);
	}
	whole = whole && joined && n && get32(x->area.p) + get32(x->area.p + 4) <= 16;
	for (size_t i = 0; i < n; i++)
		ent_words(&e[i], x->area.p + e[i].off, joined);
	const char *area = whole ? NULL : x->area.p; /* NULL: no ties to break */
	if (n < 256)
		ent_qsort(e, n, area, 64);
	else
		e = radix_sort(e, n, area);
	size_t m = n;
	if (x->unique && n) {
		m = 1;
		for (size_t i = 1; i < n; i++)
			if (ent_cmp(&e[i], &e[m - 1], x->area.p))
				e[m++] = e[i];
	}
	*np = m;
	return e;
}

static char *run_path(const struct xchg *x, unsigned id)
{
	return xasprintf("%s/run-%u", x->dir, id);
}

static FILE *run_create(struct xchg *x, unsigned *id)
{
	*id = x->next_run++;
	char *path = run_path(x, *id);
	FILE *f = fopen(path, "wbe");
	if (!f)
		err_set("%s: cannot create: %s", path, strerror(errno));
	else
		setvbuf(f, NULL, _IOFBF, RUN_WRITEBUF);
	free(path);
	return f;
}

/* Closes a run being written; on success it joins the list of runs to merge. failed: an
 * error (already reported) happened while producing it, so it is dropped. */
static int run_close(struct xchg *x, FILE *f, unsigned id, int failed)
{
	int werr = ferror(f);
	errno = 0;
	werr = fclose(f) || werr;
	char *path = run_path(x, id);
	if (werr && !failed)
		err_set("%s: write failed: %s", path, strerror(errno ? errno : EIO));
	if (werr || failed) {
		unlink(path);
		free(path);
		return -1;
	}
	free(path);
	if (x->nruns == x->runcap) {
		x->runcap = x->runcap ? 2 * x->runcap : 16;
		x->runs = xrealloc(x->runs, x->runcap * sizeof *x->runs);
	}
	x->runs[x->nruns++] = id;
	return 0;
}

/* Writes the receive area as one sorted run and empties it (keeping its capacity). */
static int flush_area(struct xchg *x)
{
	unsigned id;
	FILE *f = run_create(x, &id);
	if (!f)
		return -1;
	size_t n;
	struct ent *e = sort_area(x, &n);
	for (size_t i = 0; i < n; i++) {
		/* the records are read in sorted order, all over the area: fetch ahead */
		if (i + PREFETCH < n)
			__builtin_prefetch(x->area.p + e[i + PREFETCH].off);
		const char *rec = x->area.p + e[i].off;
		if (fwrite_unlocked(rec, 1, rec_size(rec), f) != rec_size(rec))
			break; /* ferror(f) is set; run_close reports it */
	}
	free(e);
	if (run_close(x, f, id, 0))
		return -1;
	x->st.spilled_runs++;
	x->st.spilled_bytes += x->area.len;
	x->area.len = 0;
	x->area_nrec = 0;
	return 0;
}

/* ---- rounds ---- */

/* Bytes at the start of p[0, n) that form whole records; counts them into *recs. */
static size_t whole_records(const char *p, size_t n, uint64_t *recs)
{
	size_t off = 0;
	while (n - off >= HDR && n - off >= rec_size(p + off)) {
		off += rec_size(p + off);
		(*recs)++;
	}
	return off;
}

static char *stage(struct xchg *x, size_t n)
{
	reserve(&x->staging, n, (size_t)x->nranks * x->chunk);
	return x->staging.p + x->staging.len;
}

/* Stages whole records from dest's current spill segment, up to room bytes (at least one
 * record when first). *got is 0 when the next record does not fit. */
static int take_seg(struct xchg *x, struct dest *t, size_t room, int first, size_t *got,
		    uint64_t *recs)
{
	const struct seg *s = &t->seg[t->seg_i];
	uint64_t off = s->off + t->seg_pos, avail = s->len - t->seg_pos;
	char hdr[HDR];
	*got = 0;
	if (pread_all(x->spill_fd, hdr, HDR, off, x->spill_path))
		return -1;
	size_t n = rec_size(hdr);
	if (!frame_ok(hdr) || n > avail) {
		err_set("%s: corrupt record at offset %llu", x->spill_path,
			(unsigned long long)off);
		return -1;
	}
	if (n > room && !first)
		return 0;
	size_t want = avail < room ? (size_t)avail : room;
	want = want < n ? n : want;
	char *p = stage(x, want);
	if (pread_all(x->spill_fd, p, want, off, x->spill_path))
		return -1;
	*got = whole_records(p, want, recs);
	x->staging.len += *got;
	t->seg_pos += *got;
	if (t->seg_pos == s->len) {
		t->seg_i++;
		t->seg_pos = 0;
	}
	return 0;
}

/* Stages whole records from dest's memory buffer; frees the buffer once it is all sent. */
static void take_mem(struct xchg *x, struct dest *t, size_t room, int first, uint64_t *recs)
{
	size_t end = t->mpos;
	while (end < t->mem.len) {
		size_t n = rec_size(t->mem.p + end);
		if (end - t->mpos + n > room && !(first && end == t->mpos))
			break;
		end += n;
		(*recs)++;
	}
	if (end > t->mpos) {
		memcpy(stage(x, end - t->mpos), t->mem.p + t->mpos, end - t->mpos);
		x->staging.len += end - t->mpos;
	}
	t->mpos = end;
	if (t->mpos == t->mem.len && t->mem.cap) {
		x->out_held -= t->mem.cap;
		buf_release(&t->mem);
		t->mpos = 0;
	}
}

/* Stages this round's records for rank d: up to a chunk, spilled ones first. */
static int take(struct xchg *x, int d, uint64_t *recs)
{
	struct dest *t = &x->dest[d];
	size_t taken = 0, got;
	while (t->seg_i < t->nseg) {
		if (taken >= x->chunk)
			return 0;
		if (take_seg(x, t, x->chunk - taken, taken == 0, &got, recs))
			return -1;
		if (!got)
			return 0;
		taken += got;
	}
	take_mem(x, t, taken < x->chunk ? x->chunk - taken : 0, taken == 0, recs);
	return 0;
}

static int pending(const struct xchg *x)
{
	for (int d = 0; d < x->nranks; d++)
		if (x->dest[d].seg_i < x->dest[d].nseg || x->dest[d].mpos < x->dest[d].mem.len)
			return 1;
	return 0;
}

/* Fills the send side of a round and the per-rank header: bytes, records, flag. */
static void stage_round(struct xchg *x, int *bad)
{
	x->staging.len = 0;
	stage(x, 0);
	for (int d = 0; d < x->nranks; d++) {
		uint64_t recs = 0;
		x->sdispl[d] = (MPI_Aint)x->staging.len;
		if (!*bad && take(x, d, &recs))
			*bad = 1;
		x->scount[d] = (MPI_Count)(x->staging.len - (size_t)x->sdispl[d]);
		x->cnt_out[3 * d] = (int64_t)x->scount[d];
		x->cnt_out[3 * d + 1] = (int64_t)recs;
	}
	int flag = *bad ? 2 : pending(x);
	for (int d = 0; d < x->nranks; d++)
		x->cnt_out[3 * d + 2] = flag;
}

/* Checks that what arrived from each rank is whole records, as many as announced. */
static int check_arrival(struct xchg *x)
{
	for (int s = 0; s < x->nranks; s++) {
		const char *p = x->area.p + x->rdispl[s];
		size_t n = (size_t)x->rcount[s], off = 0;
		uint64_t recs = 0;
		while (n - off >= HDR && frame_ok(p + off) && n - off >= rec_size(p + off)) {
			off += rec_size(p + off);
			recs++;
		}
		if (off != n || recs != (uint64_t)x->cnt_in[3 * s + 1]) {
			err_set("xchg: malformed data from rank %d", s);
			return -1;
		}
	}
	return 0;
}

/* Makes room in the receive area for a round: a sorted run goes to disk first when holding
 * the incoming bytes (and their future index) would pass the budget. */
static void make_room(struct xchg *x, size_t bytes, uint64_t recs, int *bad)
{
	size_t grow = x->area.len + bytes > x->area.cap ? x->area.len + bytes - x->area.cap : 0;
	if (x->area_nrec && held(x) + grow + IDX_COST * recs > x->budget && flush_area(x))
		*bad = 1;
	/* an emptied area keeps its capacity (a rank's own records filled it while puts went
	 * on), which may be more than this round may hold: then it is made again to measure */
	if (!x->area_nrec && x->area.cap > bytes && held(x) + IDX_COST * recs > x->budget)
		buf_release(&x->area);
	size_t other = held(x) - x->area.cap + IDX_COST * recs;
	reserve(&x->area, bytes, x->budget > other ? x->budget - other : 0);
	size_t off = x->area.len;
	for (int s = 0; s < x->nranks; s++) {
		x->rcount[s] = (MPI_Count)x->cnt_in[3 * s];
		x->rdispl[s] = (MPI_Aint)off;
		off += (size_t)x->rcount[s];
	}
}

/* One round. 1 if any rank has more to send, 0 when all are done, -1 if a rank failed. */
static int xchg_round(struct xchg *x, int *bad)
{
	stage_round(x, bad);
	MPI_CHECK(MPI_Alltoall(x->cnt_out, 3, MPI_INT64_T, x->cnt_in, 3, MPI_INT64_T, x->comm));
	size_t bytes = 0;
	uint64_t recs = 0;
	int status = 0;
	for (int s = 0; s < x->nranks; s++) {
		bytes += (size_t)x->cnt_in[3 * s];
		recs += (uint64_t)x->cnt_in[3 * s + 1];
		status = x->cnt_in[3 * s + 2] > status ? (int)x->cnt_in[3 * s + 2] : status;
	}
	make_room(x, bytes, recs, bad);
	note_peak(x);
	MPI_CHECK(MPI_Alltoallv_c(x->staging.p, x->scount, x->sdispl, MPI_BYTE, x->area.p,
				  x->rcount, x->rdispl, MPI_BYTE, x->comm));
	if (!*bad && check_arrival(x))
		*bad = 1;
	if (!*bad) { /* a failing rank drops what arrives: it is never parsed again */
		x->area.len += bytes;
		x->area_nrec += recs;
		x->st.recv_bytes += bytes;
		x->st.recv_records += recs;
	}
	x->st.rounds++;
	note_peak(x);
	return status == 2 ? -1 : status;
}

/* The send side is done after the last round: free its memory and its file. */
static void release_send(struct xchg *x)
{
	for (int d = 0; d < x->nranks && x->dest; d++) {
		buf_release(&x->dest[d].mem);
		free(x->dest[d].seg);
		x->dest[d].seg = NULL;
		x->dest[d].nseg = x->dest[d].seg_i = x->dest[d].segcap = 0;
		x->dest[d].seg_pos = 0;
	}
	x->out_held = 0;
	buf_release(&x->staging);
	if (x->spill_fd >= 0) {
		close(x->spill_fd);
		unlink(x->spill_path);
		x->spill_fd = -1;
	}
}

/* ---- merge ---- */

static int src_fill(struct xchg *x, struct src *s, size_t n)
{
	if (s->b.len - s->pos >= n)
		return 0;
	if (s->pos) { /* only the unread tail moves; the last record handed out is spent */
		memmove(s->b.p, s->b.p + s->pos, s->b.len - s->pos);
		s->b.len -= s->pos;
		s->pos = 0;
	}
	if (n > s->b.cap) {
		x->readbuf += reserve(&s->b, n - s->b.len, n);
		note_peak(x);
	}
	while (s->b.len < n) {
		ssize_t r = read(s->fd, s->b.p + s->b.len, s->b.cap - s->b.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set("%s/run-%u: read failed: %s", x->dir, s->run, strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		s->b.len += (size_t)r;
	}
	return 0;
}

/* Moves a source to its next record. 1, 0 at its end, -1 on error. */
static int src_next(struct xchg *x, struct src *s)
{
	if (s->fd < 0) {
		if (s->i == s->n)
			return 0;
		if (s->i + PREFETCH < s->n)
			__builtin_prefetch(s->area + s->ent[s->i + PREFETCH].off);
		s->rec = s->area + s->ent[s->i++].off;
		return 1;
	}
	if (src_fill(x, s, HDR))
		return -1;
	size_t avail = s->b.len - s->pos, n = 0;
	if (!avail)
		return 0;
	if (avail >= HDR && frame_ok(s->b.p + s->pos)) {
		n = rec_size(s->b.p + s->pos);
		if (src_fill(x, s, n))
			return -1;
	}
	if (!n || s->b.len - s->pos < n) {
		err_set("%s/run-%u: truncated or corrupt run", x->dir, s->run);
		return -1;
	}
	s->rec = s->b.p + s->pos;
	s->pos += n;
	return 1;
}

static int heap_less(const struct merge *m, size_t a, size_t b)
{
	return rec_cmp(m->src[m->heap[a]].rec, m->src[m->heap[b]].rec) < 0;
}

static void heap_swap(struct merge *m, size_t a, size_t b)
{
	size_t t = m->heap[a];
	m->heap[a] = m->heap[b];
	m->heap[b] = t;
}

static void sift_up(struct merge *m, size_t i)
{
	while (i && heap_less(m, i, (i - 1) / 2)) {
		heap_swap(m, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void sift_down(struct merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		if (l < m->nheap && heap_less(m, l, min))
			min = l;
		if (r < m->nheap && heap_less(m, r, min))
			min = r;
		if (min == i)
			return;
		heap_swap(m, i, min);
		i = min;
	}
}

static void merge_close(struct xchg *x, struct merge *m)
{
	for (size_t i = 0; i < m->nsrc; i++) {
		if (m->src[i].fd >= 0)
			close(m->src[i].fd);
		x->readbuf -= m->src[i].b.cap;
		buf_release(&m->src[i].b);
	}
	free(m->src);
	free(m->heap);
	buf_release(&m->last);
	memset(m, 0, sizeof *m);
}

/* Opens a merge over runs[0, n) with a read buffer of rb bytes each, plus the sorted
 * in-memory remainder when there is one. */
static int merge_open(struct xchg *x, struct merge *m, size_t n, size_t rb, int with_mem)
{
	m->src = xcalloc(n + 1, sizeof *m->src);
	m->heap = xcalloc(n + 1, sizeof *m->heap);
	m->unique = x->unique;
	for (size_t i = 0; i < n; i++) {
		struct src *s = &m->src[m->nsrc++];
		char *path = run_path(x, x->runs[i]);
		s->run = x->runs[i];
		s->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			err_set("%s: cannot open: %s", path, strerror(errno));
		free(path);
		if (s->fd < 0)
			return -1;
		x->readbuf += reserve(&s->b, rb, rb);
	}
	if (with_mem) {
		struct src *s = &m->src[m->nsrc++];
		*s = (struct src){.fd = -1, .area = x->area.p, .ent = x->idx, .n = x->nidx};
	}
	note_peak(x);
	for (size_t i = 0; i < m->nsrc; i++) {
		int r = src_next(x, &m->src[i]);
		if (r < 0)
			return -1;
		if (r) {
			m->heap[m->nheap] = i;
			sift_up(m, m->nheap++);
		}
	}
	return 0;
}

/* The smallest record left, valid until the next call. 1, 0 at the end, -1 on error. */
static int merge_next(struct xchg *x, struct merge *m, const char **rec)
{
	for (;;) {
		if (m->popped) {
			m->popped = 0;
			int r = src_next(x, &m->src[m->heap[0]]);
			if (r < 0)
				return -1;
			if (!r)
				m->heap[0] = m->heap[--m->nheap];
			if (m->nheap)
				sift_down(m, 0);
		}
		if (!m->nheap)
			return 0;
		*rec = m->src[m->heap[0]].rec;
		m->popped = 1;
		/* each source is a set already, so only a merge of several has repeats */
		if (!m->unique || m->nsrc < 2)
			return 1;
		if (m->last.len == rec_size(*rec) && !memcmp(m->last.p, *rec, m->last.len))
			continue;
		buf_set(&m->last, *rec, rec_size(*rec));
		return 1;
	}
}

/* Memory for merge readers: what the budget leaves after the in-memory remainder. */
static size_t read_budget(const struct xchg *x)
{
	size_t h = held(x);
	return x->budget > h + MIN_READBUF * 2 ? x->budget - h : MIN_READBUF * 2;
}

static size_t fan_in(const struct xchg *x)
{
	size_t f = read_budget(x) / MIN_READBUF;
	return f < 2 ? 2 : f > MAX_FANIN ? MAX_FANIN : f;
}

static size_t readbuf_size(const struct xchg *x, size_t n)
{
	size_t rb = read_budget(x) / (n ? n : 1);
	return rb < MIN_READBUF ? MIN_READBUF : rb > MAX_READBUF ? MAX_READBUF : rb;
}

/* One intermediate pass: the k oldest runs become one new run at the end of the list. */
static int merge_runs(struct xchg *x, size_t k)
{
	struct merge m = {0};
	unsigned id;
	FILE *f = NULL;
	const char *rec;
	int r = merge_open(x, &m, k, readbuf_size(x, k), 0);
	if (!r && !(f = run_create(x, &id)))
		r = -1;
	while (!r && (r = merge_next(x, &m, &rec)) == 1) {
		r = 0;
		if (fwrite(rec, 1, rec_size(rec), f) != rec_size(rec))
			break; /* ferror(f) is set; run_close reports it */
	}
	merge_close(x, &m);
	if (f && run_close(x, f, id, r != 0))
		r = -1;
	if (r)
		return -1;
	for (size_t i = 0; i < k; i++) {
		char *path = run_path(x, x->runs[i]);
		unlink(path);
		free(path);
	}
	x->nruns -= k;
	memmove(x->runs, x->runs + k, x->nruns * sizeof *x->runs);
	return 0;
}

/* After the last round: sort the remainder and open the final merge within the budget. */
static int prepare_read(struct xchg *x)
{
	/* With runs on disk, keep at most half the budget in memory so readers get the rest. */
	if (x->nruns && x->area_nrec && held(x) > x->budget / 2 && flush_area(x))
		return -1;
	if (!x->area_nrec)
		buf_release(&x->area);
	while (x->nruns > fan_in(x))
		if (merge_runs(x, fan_in(x)))
			return -1;
	if (x->area_nrec)
		x->idx = sort_area(x, &x->nidx);
	return merge_open(x, &x->m, x->nruns, readbuf_size(x, x->nruns), x->area_nrec > 0);
}

int xchg_finish(struct xchg *x)
{
	if (x->finished) {
		err_set("xchg_finish: called twice");
		return -1;
	}
	x->finished = 1;
	/* Rounds hold a quarter of the budget staged and need half to receive into, so at
	 * most a quarter may stay in outgoing buffers. Their empty capacity goes first: spilling
	 * records that fit would write them out and read them back for nothing. */
	if (x->out_held > x->budget / 4)
		out_shrink(x);
	if (x->out_held > x->budget / 4 && spill_out(x) == 0)
		out_release(x);
	int bad = x->spill_err != NULL, r;
	if (bad) /* also when a put failed earlier and the caller went on */
		err_set("%s", x->spill_err);
	do
		r = xchg_round(x, &bad);
	while (r == 1);
	release_send(x);
	if (r < 0 && !bad)
		err_set("xchg: another rank failed during the exchange");
	int ok = r == 0 && !bad && prepare_read(x) == 0, all = 0;
	/* Every rank returns the same, so callers never wait in a collective for a failed one. */
	MPI_CHECK(MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, x->comm));
	if (ok && !all)
		err_set("xchg: another rank failed to finish the exchange");
	x->failed = !all;
	return all ? 0 : -1;
}

int xchg_next(struct xchg *x, const void **key, size_t *klen, const void **val, size_t *vlen)
{
	if (!x->finished || x->failed) {
		err_set("xchg_next: the exchange is %s", x->failed ? "failed" : "not finished");
		return -1;
	}
	const char *rec;
	int r = merge_next(x, &x->m, &rec);
	if (r == 1) {
		*klen = get32(rec);
		*vlen = get32(rec + 4);
		*key = rec + HDR;
		*val = rec + HDR + *klen;
	}
	return r;
}

void xchg_get_stats(const struct xchg *x, struct xchg_stats *st) { *st = x->st; }

void xchg_set_unique(struct xchg *x) { x->unique = 1; }

void xchg_reuse(struct xchg *x)
{
	merge_close(x, &x->m);
	free(x->idx);
	x->idx = NULL;
	x->nidx = 0;
	for (size_t i = 0; i < x->nruns; i++) {
		char *path = run_path(x, x->runs[i]);
		unlink(path);
		free(path);
	}
	x->nruns = 0;
	release_send(x);
	x->spill_size = 0;
	free(x->spill_err);
	x->spill_err = NULL;
	/* the receive area stays, if the puts may fill it (half the budget) */
	x->area.len = 0;
	x->area_nrec = 0;
	if (x->area.cap > x->budget / 2)
		buf_release(&x->area);
	x->finished = x->failed = 0;
	memset(&x->st, 0, sizeof x->st);
	note_peak(x);
}

void xchg_free(struct xchg *x)
{
	if (!x)
		return;
	merge_close(x, &x->m);
	release_send(x);
	free(x->dest);
	buf_release(&x->area);
	free(x->idx);
	free(x->runs);
	free(x->cnt_out);
	free(x->cnt_in);
	free(x->scount);
	free(x->rcount);
	free(x->sdispl);
	free(x->rdispl);
	remove_tree(x->dir);
	free(x->spill_err);
	free(x->dir);
	free(x->spill_path);
	free(x);
}
