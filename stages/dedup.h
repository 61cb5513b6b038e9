/* dedup: what dedup-exact and dedup-near share. Both read the input shards the scheduler
 * gives this rank, send keys to owner ranks through xchg, decide there, route decisions back
 * to the rank that owns each shard, and rewrite every input shard 1:1 without the dropped
 * documents. A document is named by its keep key, which sorts in keep-rule order. */
#ifndef CURATE_STAGES_DEDUP_H
#define CURATE_STAGES_DEDUP_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "stage.h"
#include "xchg.h"

/* Both stages put these options first in their tables. */
#define DEDUP_COMMON_OPTS                                                                  \
	{"repo_sources", OPT_LIST, "[repo]", 0, 0, NULL,                                   \
	 "Sources whose documents are repository-level (whole repositories); every other "  \
	 "source is file-level. A document is only compared with documents of its own "     \
	 "level."}

#define DEDUP_MAX_PHASES 24
#define DEDUP_MAX_FILES 2

struct dedup {
	struct stage_run *run;
	const struct task_list *in;
	int *owner;          /* the rank that reads and rewrites input shard i */
	const char *const *repo_sources;
	size_t nrepo;
	uint64_t budget;     /* memory_budget */
	char *tmpdir;
	uint32_t shard;      /* while reading and rewriting: the current shard and record */
	uint64_t record;
	/* per-phase wall and CPU seconds of this rank (dedup_phase), and the phase clock */
	const char *phase_name[DEDUP_MAX_PHASES];
	double phase_wall[DEDUP_MAX_PHASES], phase_cpu[DEDUP_MAX_PHASES];
	unsigned nphases;
	double mark_wall, mark_cpu;
	double commit_wall; /* of rewrite: closing shards (fsync, rename) and part records */
	/* in a phase (dedup_phase_shard): the shard's phase files, one per ext of the job, and
	 * their names, for messages */
	FILE *out[DEDUP_MAX_FILES];
	char *out_path[DEDUP_MAX_FILES];
};

void dedup_init(struct dedup *d, struct stage_run *run, const struct task_list *in);
void dedup_release(struct dedup *d);

/* Ends the phase running since dedup_init or the last call and names it: its wall and CPU
 * seconds on this rank go to stats.json as phase_seconds (dedup_phases_report). A name
 * already used adds to that phase (a loop's rounds), which keeps its first place. Every rank
 * must name the same phases in the same order. Wall time in a collective phase includes
 * waiting for the slowest rank, so comparing ranks shows load imbalance; CPU time shows
 * work (and busy polling while waiting). */
void dedup_phase(struct dedup *d, const char *name);
/* Gathers every rank's phases and attaches them to the stage's stats. Collective. */
void dedup_phases_report(struct dedup *d);

/* 1 for a repository-level document, 0 for a file-level one. */
int dedup_level(const struct dedup *d, const struct doc *doc);

/* The keep key of doc at (shard, record), appended to out:
 * [licence rank u8][~stars u64 BE][id with 0x00 -> 0x00 0xff][0x00 0x00][shard u32 BE]
 * [record u64 BE]. memcmp order is the keep rule: with prefer_permissive, a document whose
 * metadata.license_type is "permissive" first (rank 0, else 1; without it every rank is 0);
 * then most stars (metadata.stars, missing or not a number = 0), then the smallest id
 * bytewise, then the smallest (shard, record). */
void dedup_keep_key(struct buf *out, const struct doc *doc, uint32_t shard, uint64_t record,
		    int prefer_permissive);
/* The id inside a keep key, unescaped, into out (replacing it); its shard and record. */
void dedup_key_id(const void *key, size_t n, struct buf *out);
void dedup_key_place(const void *key, size_t n, uint32_t *shard, uint64_t *record);

/* A new exchange with budget/share of the memory budget (at least 64 KiB), spilling to the
 * stage's tmpdir. Collective. NULL with err_set. */
struct xchg *dedup_xchg(struct dedup *d, unsigned share);

/* Reads input shard i (whichever rank owns it), calling fn for each document (d->shard and
 * d->record say where it is). A record that does not parse is logged with its file and
 * number and skipped (rewrite counts it as bad_record). No progress begin or end: a phase's
 * loop brackets it. Ends early, -1, when a stop is asked; else 0 or -1. */
typedef int (*dedup_doc_fn)(struct dedup *d, struct doc *doc, void *arg);
int dedup_read_shard(struct dedup *d, size_t i, dedup_doc_fn fn, void *arg);

/* A phase's work on input shard i (a phase_fn, with a struct dedup_job as ud): reads the
 * shard with fn, which writes what a rerun needs to d->out[k], the shard's phase file of
 * exts[k] (NULL-terminated, at most DEDUP_MAX_FILES); the record keeps the shard's record
 * count. */
struct phase;
struct dedup_job {
	struct dedup *d;
	const char *const *exts;
	dedup_doc_fn fn;
	void *arg;
};
int dedup_phase_shard(struct phase *ph, size_t i, json_t **info, void *job);

/* Queues a decision about (shard, record) for the rank that owns the shard. */
int dedup_decide(struct dedup *d, struct xchg *x, uint32_t shard, uint64_t record,
		 const void *val, size_t vlen);

/* Rewrites every input shard this rank owns into the output shard of the same index,
 * merging the decisions (finished exchange of dedup_decide records). fn sees each document
 * with its decision (NULL when none) and returns 1 to keep it or 0 to drop it (*reason
 * set); it may change metadata and count in st. Writes rejected/ with keep_rejected and
 * reports each shard with stage_write_part; extra (may be NULL) is merged into the stats of
 * shard 0. A shard stage_part_done names is not written again (its decisions are passed
 * over). Ends, -1, when a stop is asked. Sets run->out_shards. 0 or -1. */
typedef int (*dedup_apply_fn)(struct dedup *d, struct doc *doc, const void *val, size_t vlen,
			      const char **reason, struct stats *st, void *arg);
int dedup_rewrite(struct dedup *d, struct xchg *decisions, dedup_apply_fn fn, void *arg,
		  const struct stats *extra);

#endif
