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
/* Collective: collects the last counts, prints the final line, frees p. */
void progress_finish(struct progress *p);

#endif
