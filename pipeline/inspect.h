/* inspect: what `curate inspect` prints about shards: some records, counts, and a summary of
 * the metadata fields (how many documents have each, their types, top values or ranges). */
#ifndef CURATE_INSPECT_H
#define CURATE_INSPECT_H

#include <stdio.h>

struct inspect_opts {
	long records; /* how many records to print */
	int raw;      /* print them as whole JSON lines */
};

/* PATH is a shard or a stage directory (whose manifest checksums are verified). Returns 0,
 * or -1 after printing the error (a corrupt shard, a missing path) to stderr. */
int inspect_path(const char *path, const struct inspect_opts *o, FILE *out);

#endif
