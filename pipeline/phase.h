/* phase: resume inside a global stage. A global stage's work per input shard (quality's
 * scores, dedup-exact's hashes, tokenize's token files) is a phase: each input shard's files
 * are written under <stage>/.phases/<phase>/ and committed by a record, in-NNNNN.json, that
 * names the phase's fingerprint, the input shard's SHA-256, every file's size and SHA-256,
 * and what the stage wants to keep beside them (its counts). A rerun checks every record
 * against the files (checksums, spread over the ranks), reuses the shards that match and
 * redoes the rest; the collective parts that follow (quantiles, exchanges) start again from
 * the phase's files. Shards are handed out by the shard queue (schedule: queue) or the static
 * plan, so a slow rank takes fewer; a stop (SIGTERM) ends the phase between shards.
 * docs/architecture.md has the contract. */
#ifndef CURATE_PHASE_H
#define CURATE_PHASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "stage.h"

struct phase;

/* The phase's description: its name (a directory name), the extensions of the files it
 * writes per input shard, and whether they stay once the stage is complete (keep: quality's
 * scores, so that a change of thresholds re-decides without scoring; not kept: tokenize's
 * token files, which are as large as its output). */
struct phase_def {
	const char *name;
	const char *const *exts; /* NULL-terminated; at most 8 */
	bool keep;
	/* optional: whether a checked record's info still holds for this run (tokenize: the
	 * datasets it wrote to are the ones it would write to now); 1 yes, 0 redo it */
	int (*accept)(json_t *info, size_t index, void *ud);
	void *ud;
};

/* Collective. Opens the phase of the running global stage over its input shards in. sig (on
 * rank 0; the others' is ignored) is what the phase's files depend on besides the input
 * shard's bytes, e.g. the model's checksums and the options that matter to this phase only:
 * the fingerprint is made from it, the stage's name and version and the phase's name. def is
 * copied; its strings, exts and ud must outlive the phase. With
 * run->force nothing is reused. Checks every record and agrees on which shards are done;
 * removes everything else in the phase's directory (a killed run's temporary files,
 * damaged or outdated shards). NULL with err_set (the directory cannot be made). */
struct phase *phase_open(struct stage_run *run, const struct task_list *in,
			 const struct phase_def *def, const char *sig);

/* The work of one input shard: writes each of the phase's files at phase_tmp_path(ph, i,
 * ext) and returns 0 with *info set to what the record keeps (an object, taken; NULL for
 * none), or -1 with err_set (nothing is committed; the error is logged; the rank goes on with
 * other shards), or -2 when this rank cannot do any (its scorer did not load): it takes no
 * more, and the other ranks take the rest. */
typedef int (*phase_fn)(struct phase *ph, size_t i, json_t **info, void *ud);
/* Collective. Runs fn for every shard not done, each on the rank that takes it, and commits
 * each one that succeeds (its files renamed into place, then its record written: the commit
 * point). A stop asked on any rank ends the phase between shards (a shard in progress ends
 * at the next phase_stopping check, uncommitted). 0 when every shard is done; -1 when one
 * failed or a stop was asked (then the stage must fail: what was committed is kept). */
int phase_run(struct phase *ph, phase_fn fn, void *ud);

/* Inside fn: whether a stop was asked (a long shard may end early; return -1). */
int phase_stopping(void);
/* Inside fn: counts n units of work (documents) done for the stats. */
void phase_count(struct phase *ph, uint64_t n);

/* Paths of shard i's file ext: where fn writes it, and where it is once committed. Caller
 * frees. */
char *phase_tmp_path(const struct phase *ph, size_t i, const char *ext);
char *phase_path(const struct phase *ph, size_t i, const char *ext);
/* After phase_run: shard i's info as its record keeps it (a new reference, NULL for none or
 * an unreadable record, with err_set). */
json_t *phase_info(const struct phase *ph, size_t i);
/* After phase_run: whether shard i was reused from an earlier run. */
bool phase_reused(const struct phase *ph, size_t i);
/* After phase_run: the rank that holds shard i for what follows: the rank that made it in
 * this run (it may still hold it in memory), or, for a reused shard, one given by the static
 * plan over the reused shards. The same on every rank. */
int phase_owner(const struct phase *ph, size_t i);

/* Local (any rank may call it on any path, NULL too). Rank 0 adds the phase's counts to
 * stats.json ("phases": shards, reused, redone, damaged, work, seconds, as phase_run summed
 * them over the ranks) and logs them; with complete set (the stage is done on every rank)
 * and the phase not kept, removes its files. Frees ph. */
void phase_close(struct phase *ph, bool complete);

#endif
