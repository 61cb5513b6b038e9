/* stats: what a stage counts: documents and bytes in and out, drops by reason, and named
 * counters. Kept per output shard, merged in shard order into the stage's stats.json, so the
 * totals are the same for any rank count and across a resumed run. */
#ifndef CURATE_STATS_H
#define CURATE_STATS_H

#include <jansson.h>
#include <stdint.h>

struct stat_count {
	char *name;
	uint64_t docs, bytes;
};

struct stats {
	uint64_t docs_in, bytes_in, docs_out, bytes_out;
	struct stat_count *drops; /* by reason, in first-seen order */
	size_t ndrops;
	struct stat_count *counters; /* named counters; bytes unused unless set */
	size_t ncounters;
};

void stats_init(struct stats *s);
void stats_release(struct stats *s);
void stats_drop(struct stats *s, const char *reason, uint64_t bytes);
void stats_count(struct stats *s, const char *name, uint64_t n);
uint64_t stats_drop_docs(const struct stats *s, const char *reason); /* 0 if none */
uint64_t stats_counter(const struct stats *s, const char *name);
void stats_merge(struct stats *into, const struct stats *from);
/* New JSON object: {"docs_in":..,"bytes_in":..,"docs_out":..,"bytes_out":..,
 * "drops":{reason:{"docs":..,"bytes":..}},"counters":{name:n}}; reasons sorted by name. */
json_t *stats_to_json(const struct stats *s);
/* Adds the counts of a stats_to_json object to s; -1 if the object is malformed. */
int stats_from_json(struct stats *s, const json_t *j);

#endif
