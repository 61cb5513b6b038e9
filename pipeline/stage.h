/* stage: the stage contract and the driver that runs a stage on every rank: fingerprints,
 * skipping what is up to date, resuming finished shards, scheduling the rest, writing shards
 * atomically with a part record each, and the manifest and stats once all are done.
 * docs/architecture.md explains the contract and how to add a stage. */
#ifndef CURATE_STAGE_H
#define CURATE_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "doc.h"
#include "shard.h"
#include "stats.h"

struct progress;

enum stage_kind {
	STAGE_SOURCE, /* creates documents from outside inputs: plan() + produce() */
	STAGE_MAP,    /* per document, shard i in -> shard i out: map() */
	STAGE_GLOBAL, /* needs all ranks to exchange data: run() */
};

/* One unit of work: the output shard `index`. */
struct task {
	uint32_t index;
	uint64_t size;  /* estimated work in bytes, for scheduling and progress */
	struct buf arg; /* stage-defined bytes (source: what to read; map: input shard path) */
	char input_sha256[SHA256_HEX]; /* map: the input shard's checksum, "" if unknown */
};

struct task_list {
	struct task *v;
	size_t n, cap;
};
struct task *task_list_add(struct task_list *l, uint64_t size);
void task_list_release(struct task_list *l);

/* A source's plan: its inputs, in a stable order, cut into `shards` contiguous runs of about
 * equal weight, one task each (fewer when there are fewer inputs, one when there are none),
 * none of them empty. task_runs_init adds the tasks; task_runs_next gives each input's task,
 * in order (all `inputs` of them). */
struct task_runs {
	struct task_list *l;
	uint64_t shards, total, before;
	uint64_t inputs, seen, prev; /* inputs in all, given so far, the last one's shard */
};
void task_runs_init(struct task_runs *r, struct task_list *l, uint64_t shards, size_t inputs,
		    uint64_t total_weight);
struct task *task_runs_next(struct task_runs *r, uint64_t weight);

/* What a stage sees while it runs on one rank. */
struct stage_run {
	const struct stage_def *def;
	const struct config *cfg;
	const char *workdir;
	char *dir;       /* <workdir>/<stage> */
	char *input_dir; /* the upstream stage's dir (map, global), else NULL */
	const char *fingerprint; /* the stage's, while it runs */
	int rank, nranks;
	void *state; /* the stage's own, set by setup */
	uint32_t out_shards; /* global: how many shards run() wrote */
	bool force;          /* --force: nothing of an earlier run is reused */
	struct progress *progress; /* while tasks run */
	struct stats *stats; /* the running task's stats (map, produce), else NULL */
	json_t *stats_objects; /* what stage_stats_object attached, for stats.json */
	const unsigned char *parts_done; /* global with resume_parts: per input shard */
	size_t nparts;
};

/* Where produce() and the map driver put documents. */
struct emit;
/* Keeps d: written to the output shard and counted. 0 or -1 (write error, err_set). */
int emit_keep(struct emit *e, const struct doc *d);
/* Drops d (may be NULL when no document could be formed) under reason, counting bytes;
 * with keep_rejected the document goes to rejected/ with metadata.drop_reason. */
int emit_drop(struct emit *e, struct doc *d, const char *reason, uint64_t bytes);
/* Counts one input document of `bytes` bytes (for docs_in/bytes_in and progress). */
void emit_input(struct emit *e, uint64_t bytes);
/* The stats of the shard being made, for map() to count into (named counters); valid
 * during map() and produce(), NULL otherwise. */
struct stats *stage_stats(struct stage_run *run);
/* Attaches obj under name to the stage's stats.json, beside the driver's counts (taking the
 * caller's reference, as json_object_set_new does): for what a global stage knows whole only
 * after its collectives, such as the quality histogram. Rank 0's objects are written, in
 * name order, so they must not depend on the rank count. The same name again replaces the
 * object; a name the driver writes itself (docs_in, counters, stage, ...) aborts. */
void stage_stats_object(struct stage_run *run, const char *name, json_t *obj);

struct stage_def {
	const char *name;
	enum stage_kind kind;
	const char *summary; /* one line for --help */
	const struct opt_def *opts; /* the stage's config section, {NULL}-terminated */
	/* Bump when the output changes for the same config and input, so rebuilds happen. */
	unsigned version;
	/* Options that change how the stage runs but never its output (threads, batch sizes),
	 * NULL-terminated: left out of the fingerprint, so changing one reruns nothing. */
	const char *const *runtime_opts;
	/* A side stage writes no documents (the oracle's labels): it reads the stage its `input`
	 * option names (which must exist; "" is the stage before it in `stages`), and the stage
	 * after it in `stages` reads what it read. */
	bool side;

	/* source: runs on rank 0 only; lists tasks and appends to sig whatever identifies the
	 * inputs (paths, sizes, mtimes) so a change of input reruns the stage. */
	int (*plan)(struct stage_run *run, struct task_list *tasks, struct buf *sig);
	/* source: produces the documents of one task. */
	int (*produce)(struct stage_run *run, const struct task *t, struct emit *e);

	/* optional, any kind: appends to sig what else defines the output besides the config
	 * section and the upstream stage, e.g. the SHA-256 of files an option names, so that a
	 * changed file reruns the stage. Runs on rank 0 while planning. */
	int (*signature)(struct stage_run *run, struct buf *sig);

	/* per rank, before and after the tasks; either may be NULL */
	int (*setup)(struct stage_run *run);
	void (*teardown)(struct stage_run *run);
	/* map: 1 keeps d (possibly changed), 0 drops it (set *reason), -1 fails the shard. */
	int (*map)(struct stage_run *run, struct doc *d, const char **reason);

	/* global: its output shard i is made from input shard i alone, given what the
	 * fingerprint fixes (quality, dedup-exact: the decisions are a function of all inputs
	 * and the config), so a rerun with the same fingerprint keeps the parts a killed run
	 * finished: stage_part_done says which, and run() skips writing them. */
	bool resume_parts;
	/* global: the whole stage; writes its shards with stage_write_part. */
	int (*run)(struct stage_run *run, const struct task_list *inputs);
	/* optional: on rank 0 once the stage is complete, whether it ran or was up to date:
	 * writes what derives from the output and options outside the fingerprint (tokenize's
	 * blend files). 0, or -1 with err_set (the stage then fails). */
	int (*finish)(struct stage_run *run);
};

/* The table of stages, in pipeline order (stages/stages.c). */
extern const struct stage_def *const stage_table[];
extern const size_t stage_count;
/* Config sections that are no stage (tokenize's "phases"), after the stages'. */
extern const struct config_section stage_extra_sections[];
extern const size_t stage_extra_count;
const struct stage_def *stage_find(const char *name);

/* The config sections: globals, then one per stage. */
const struct config_section *stage_config_sections(size_t *n);

struct stage_opts {
	bool force; /* rerun from scratch even if up to date, redoing finished shards */
};

/* Graceful stop. SIGTERM (what Slurm sends before the time limit) and SIGINT, once
 * stage_catch_stop has run, ask the run to stop: no rank starts another shard, a shard in
 * progress of a map or source stage is abandoned (nothing of it is written), finished shards
 * stay for the rerun, and the stage fails with a line saying how to resume. A global stage
 * runs to its end (its collectives cannot stop halfway on one rank), and no stage starts
 * after it. A second signal, or grace seconds without the stop done, ends the process at
 * once (its lock released). */
void stage_catch_stop(double grace);
/* Collective: 1 if a stop was asked on any rank. */
int stage_stop_anywhere(void);
/* Local: whether a stop was asked on this rank (a global stage's loops look between shards
 * and end early; then stage_stop_anywhere agrees). */
int stage_stop_requested(void);
/* Tests only: CURATE_TEST_SHARD_DELAY seconds of waiting before a shard (on the rank
 * CURATE_TEST_SLOW_RANK names, when set); cut short by a stop. */
void stage_test_delay(int rank);
/* The same with CURATE_TEST_PART_DELAY, before each output part a global stage's writing
 * pass makes (quality, dedup-exact, dedup-near) and each round of dedup-near's components,
 * so that a test can kill a run there. */
void stage_test_part_delay(int rank);
/* Rank 0: the shard queue that stage_progress_add (between documents) answers requests of,
 * or NULL for none. */
struct task_queue;
void stage_queue_serving(struct task_queue *q);

/* Global stages with resume_parts: whether output shard index is finished and kept from an
 * earlier run with the same fingerprint (nothing to write). */
bool stage_part_done(const struct stage_run *run, uint32_t index);

/* Runs one stage on every rank (collective). 0 when the stage is complete (run or up to
 * date), -1 if any shard failed (the failures are logged; a rerun redoes only them). */
int stage_execute(const struct stage_def *def, const struct config *cfg,
		  const struct stage_opts *opts);

/* For global stages: the part of shard `index` is complete; records it for the manifest. */
int stage_write_part(struct stage_run *run, uint32_t index, const struct shard_info *info,
		     const struct shard_info *rejected, const struct stats *st, double seconds);

/* A stage output that is not a JSONL shard (token shards): recorded in the part record and
 * the manifest's "files" with its size and SHA-256, and checked on disk like a shard. */
struct stage_file {
	char name[96]; /* relative to the stage directory */
	uint64_t bytes, records;
	char sha256[SHA256_HEX];
};
/* Whether name is a stage_file name: plain, or one subdirectory level ("code/part-00000.bin"). */
int stage_file_name_ok(const char *name);
/* For global stages whose part `index` is a set of files instead of a JSONL shard. */
int stage_write_part_files(struct stage_run *run, uint32_t index, const struct stage_file *files,
			   size_t nfiles, const struct stats *st, double seconds);

enum stage_state { STATE_MISSING, STATE_PARTIAL, STATE_STALE, STATE_DONE, STATE_UNCHECKED };
/* With it set, stage_status checks every output's SHA-256 too (curate status --verify). */
extern bool verify_outputs;
/* What `curate status` shows: collective; fills done/total shards and, on rank 0, appends
 * to why (may be NULL) what a run would redo and why: what changed since the last run, the
 * outputs that are missing or damaged (checked on disk: every listed file at its size, and
 * its SHA-256 with verify_outputs). DONE: complete and intact; PARTIAL: some shards (or,
 * for a global stage, total 0: an interrupted run); STALE: outdated; UNCHECKED: complete
 * on disk but the plan cannot be made (why says what is missing). */
enum stage_state stage_status(const struct stage_def *def, const struct config *cfg,
			      uint32_t *done, uint32_t *total, struct buf *why);

/* For global stages: reads every record of the input shards this rank owns (owner[i] ==
 * its rank), in order, checking checksums when verify_inputs is set, and calls fn with the
 * parsed document, its JSON line (without '\n'), the input shard's index and the record's
 * 0-based place in it; fn returns 0, or -1 (with err_set) to stop. Counts each document on the
 * progress line when one is running. 0, or -1 with err_set naming the shard and record. */
typedef int (*stage_scan_fn)(const struct doc *d, const char *line, size_t len, uint32_t shard,
			     uint64_t ord, void *ud);
int stage_scan_inputs(struct stage_run *run, const struct task_list *in, const int *owner,
		      stage_scan_fn fn, void *ud);

/* The stage whose output name reads: the one before it in the configured `stages` list
 * (side stages skipped; a side stage's own `input` option first), or NULL. */
const char *stage_upstream(const struct config *cfg, const char *name);

/* Where a stage spills: the `tmpdir` option, or <workdir>/tmp. Caller frees. */
char *stage_tmpdir(const struct stage_run *run);
char *stage_spill_dir(const struct config *cfg); /* the same, from the config alone */

/* Progress of a global stage's own loops: counts one input document (collective
 * stage_progress_begin/_end bracket the loop on every rank). */
void stage_progress_begin(struct stage_run *run, uint64_t total_bytes);
void stage_progress_add(struct stage_run *run, uint64_t docs, uint64_t bytes);
void stage_progress_end(struct stage_run *run);

/* A finished stage's manifest.json as the next stage (and `curate inspect`) reads it: the
 * JSONL shards it lists, in order. */
struct manifest_shard {
	char *name; /* a file name in the stage's directory */
	char sha256[SHA256_HEX];
	uint64_t records, bytes, raw_bytes;
};
struct manifest {
	char *stage;
	char fingerprint[SHA256_HEX];
	uint64_t shard_count;
	struct manifest_shard *shards;
	size_t nshards;
};
/* Parses the text of a manifest (path names it in errors). Every field the plan uses is
 * checked: the stage's name and fingerprint, a plain, unique file name, a SHA-256 and
 * non-negative counts for each shard, and a shard_count that matches the list. 0, or -1
 * with err_set naming the file and the place; m is then empty. */
int manifest_parse(const char *text, size_t len, const char *path, struct manifest *m);
int manifest_load(const char *path, struct manifest *m); /* read_file + manifest_parse */
void manifest_release(struct manifest *m);

/* File names. */
char *stage_shard_path(const char *dir, uint32_t index);    /* dir/part-NNNNN.jsonl.zst */

#endif
