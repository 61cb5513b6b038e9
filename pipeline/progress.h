/* progress: rank 0 shows docs/s, MB/s and ETA for the running stage; on a terminal a line
 * refreshed in place every second, in a batch log one line per interval. Other ranks send
 * their counts to rank 0 with small non-blocking messages at most once per interval. */
#ifndef CURATE_PROGRESS_H
#define CURATE_PROGRESS_H

#include <stdint.h>

struct progress;

/* Collective. total_bytes is the work of the whole stage (all ranks), 0 if unknown;
 * interval is the seconds between lines in a batch log. */
struct progress *progress_new(const char *stage, uint64_t total_bytes, double interval);
/* Counts work done by this rank; cheap enough to call per document. */
void progress_add(struct progress *p, uint64_t docs, uint64_t bytes);
/* Up to PROGRESS_EXTRA more counters shown after the rates ("1234 tokens in"): named on
 * every rank right after progress_new (the names must outlive p; NULL hides one), counted
 * with progress_add_extra. */
#define PROGRESS_EXTRA 3
void progress_extra_names(struct progress *p, const char *const names[PROGRESS_EXTRA]);
void progress_add_extra(struct progress *p, int i, uint64_t v);
/* The ETA and the share done count documents out of this total instead of bytes. */
void progress_total_docs(struct progress *p, uint64_t docs);
/* Collective: collects the last counts, prints the final line, frees p. */
void progress_finish(struct progress *p);

#endif
