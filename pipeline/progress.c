/* progress: see progress.h. Messages go over a private communicator so none can leak into
 * the next stage; progress_finish receives every rank's last report before returning. */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "par.h"
#include "util.h"

enum { TAG_COUNTS = 1, TAG_DONE = 2 };

struct progress {
	MPI_Comm comm;
	int rank, nranks, tty;
	char stage[64];
	uint64_t total, docs, bytes;     /* rank 0: global; others: unsent deltas */
	uint64_t extra[PROGRESS_EXTRA];  /* the same, for the named extra counters */
	const char *extra_name[PROGRESS_EXTRA];
	uint64_t total_docs;             /* when set, the ETA counts documents */
	uint64_t sent[2 + PROGRESS_EXTRA]; /* others: buffer of the message in flight */
	MPI_Request req;
	double start, last_print, last_send, interval;
	unsigned ticks;
};

struct progress *progress_new(const char *stage, uint64_t total_bytes, double interval)
{
	struct progress *p = xcalloc(1, sizeof *p);
	MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &p->comm));
	MPI_CHECK(MPI_Comm_rank(p->comm, &p->rank));
	MPI_CHECK(MPI_Comm_size(p->comm, &p->nranks));
	snprintf(p->stage, sizeof p->stage, "%s", stage);
	p->total = total_bytes;
	p->tty = isatty(STDERR_FILENO);
	p->interval = p->tty ? 1.0 : (interval > 0 ? interval : 10.0);
	p->start = p->last_print = p->last_send = now_seconds();
	p->req = MPI_REQUEST_NULL;
	return p;
}

void progress_extra_names(struct progress *p, const char *const names[PROGRESS_EXTRA])
{
	for (int i = 0; i < PROGRESS_EXTRA; i++)
		p->extra_name[i] = names[i];
}

void progress_total_docs(struct progress *p, uint64_t docs) { p->total_docs = docs; }

void progress_add_extra(struct progress *p, int i, uint64_t v) { p->extra[i] += v; }

static void print_line(struct progress *p, double now, int final)
{
	double dt = now - p->start > 1e-9 ? now - p->start : 1e-9;
	char done[32], eta[32] = "";
	format_size(p->bytes, done, sizeof done);
	/* the share done, by documents when their total is known, else by bytes */
	uint64_t total = p->total_docs ? p->total_docs : p->total;
	uint64_t sofar = p->total_docs ? p->docs : p->bytes;
	if (total && sofar && !final) {
		double left = (double)(total > sofar ? total - sofar : 0) * dt / (double)sofar;
		snprintf(eta, sizeof eta, ", ETA %.0fs", left);
	}
	char pct[16] = "";
	if (total && !final)
		snprintf(pct, sizeof pct, " %5.1f%%", 100.0 * (double)sofar / (double)total);
	char extra[160] = "";
	for (int i = 0, n = 0; i < PROGRESS_EXTRA; i++)
		if (p->extra_name[i])
			n += snprintf(extra + n, sizeof extra - (size_t)n, ", %llu %s",
				      (unsigned long long)p->extra[i], p->extra_name[i]);
	fprintf(stderr, "%s%s:%s %llu docs, %s, %.0f docs/s, %.2f MB/s%s%s%s",
		p->tty ? "\r\033[K" : "", p->stage, pct, (unsigned long long)p->docs, done,
		(double)p->docs / dt, (double)p->bytes / dt / 1e6, extra, eta,
		p->tty && !final ? "" : "\n");
	fflush(stderr);
}

/* Rank 0 adds another rank's report. */
static void take(struct progress *p, const uint64_t *c)
{
	p->docs += c[0];
	p->bytes += c[1];
	for (int i = 0; i < PROGRESS_EXTRA; i++)
		p->extra[i] += c[2 + i];
}

static void drain(struct progress *p)
{
	for (;;) {
		int flag = 0;
		MPI_Status st;
		MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, TAG_COUNTS, p->comm, &flag, &st));
		if (!flag)
			return;
		uint64_t c[2 + PROGRESS_EXTRA];
		MPI_CHECK(MPI_Recv(c, 2 + PROGRESS_EXTRA, MPI_UINT64_T, st.MPI_SOURCE, TAG_COUNTS,
				   p->comm, MPI_STATUS_IGNORE));
		take(p, c);
	}
}

static void send_counts(struct progress *p, int tag)
{
	MPI_CHECK(MPI_Wait(&p->req, MPI_STATUS_IGNORE));
	p->sent[0] = p->docs;
	p->sent[1] = p->bytes;
	p->docs = p->bytes = 0;
	for (int i = 0; i < PROGRESS_EXTRA; i++)
		p->sent[2 + i] = p->extra[i], p->extra[i] = 0;
	int n = 2 + PROGRESS_EXTRA;
	if (tag == TAG_DONE)
		MPI_CHECK(MPI_Send(p->sent, n, MPI_UINT64_T, 0, tag, p->comm));
	else
		MPI_CHECK(MPI_Isend(p->sent, n, MPI_UINT64_T, 0, tag, p->comm, &p->req));
}

void progress_add(struct progress *p, uint64_t docs, uint64_t bytes)
{
	p->docs += docs;
	p->bytes += bytes;
	if (++p->ticks % 64 && bytes < (1u << 20))
		return; /* look at the clock only now and then */
	double now = now_seconds();
	if (p->rank == 0) {
		if (p->nranks > 1)
			drain(p);
		if (now - p->last_print >= p->interval) {
			print_line(p, now, 0);
			p->last_print = now;
		}
	} else if (now - p->last_send >= p->interval / 2) {
		int done = 1;
		MPI_CHECK(MPI_Test(&p->req, &done, MPI_STATUS_IGNORE));
		if (done) {
			send_counts(p, TAG_COUNTS);
			p->last_send = now;
		}
	}
}

void progress_finish(struct progress *p)
{
	if (p->rank == 0) {
		for (int pending = p->nranks - 1; pending > 0;) {
			uint64_t c[2 + PROGRESS_EXTRA];
			MPI_Status st;
			MPI_CHECK(MPI_Recv(c, 2 + PROGRESS_EXTRA, MPI_UINT64_T, MPI_ANY_SOURCE,
					   MPI_ANY_TAG, p->comm, &st));
			take(p, c);
			if (st.MPI_TAG == TAG_DONE)
				pending--;
		}
		print_line(p, now_seconds(), 1);
	} else {
		send_counts(p, TAG_DONE);
	}
	MPI_CHECK(MPI_Comm_free(&p->comm));
	free(p);
}
