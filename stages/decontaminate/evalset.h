/* evalset: the evaluation sets that the decontaminate stage checks documents against. Loads
 * benchmark files (JSONL with chosen fields, or plain text) into one n-gram index, keeping
 * each item's benchmark and id for the report. Any malformed file is an error naming
 * FILE:LINE: running against part of an evaluation set would pass leaks silently. */
#ifndef CURATE_EVALSET_H
#define CURATE_EVALSET_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum evalset_unit {
	EVALSET_FILE,  /* a plain text file is one item */
	EVALSET_BLOCK, /* each blank-line-separated block is one item */
	EVALSET_LINE,  /* each non-blank line is one item */
};

struct evalset_opts {
	unsigned n;                    /* words per n-gram */
	const char *const *fields;     /* JSONL fields used when a spec names none */
	size_t nfields;
	const char *const *id_fields;  /* JSONL fields giving the item id, first present wins */
	size_t nid_fields;
	enum evalset_unit unit;        /* how plain text files split into items */
};

struct evalset;

struct evalset *evalset_new(const struct evalset_opts *o); /* o's lists must outlive it */
void evalset_free(struct evalset *es); /* NULL is a no-op */

/* Splits "NAME=PATH[:FIELD,FIELD...]" (see docs/decontaminate.md). Returns 0 and malloc'd
 * strings (*fields NULL when no ':' part is given), or -1 with err_set. */
int evalset_parse_spec(const char *spec, char **name, char **path, char **fields);
/* Loads one spec's file (plain, .gz or .zst). 0, or -1 with err_set "FILE:LINE: what". */
int evalset_load(struct evalset *es, const char *spec);
/* Builds the n-gram table once everything is loaded. */
void evalset_build(struct evalset *es);

size_t evalset_benchmarks(const struct evalset *es);
const char *evalset_benchmark_name(const struct evalset *es, size_t b);
size_t evalset_benchmark_items(const struct evalset *es, size_t b);
size_t evalset_benchmark_short(const struct evalset *es, size_t b); /* < n words */
size_t evalset_items(const struct evalset *es);
size_t evalset_grams(const struct evalset *es);
size_t evalset_bytes(const struct evalset *es);

/* What a check found: valid until the next check or evalset_free. */
struct evalset_hit {
	const char *benchmark;
	const char *reason;  /* "contaminated:<benchmark>" */
	const char *item;    /* the item's id */
	const char *ngram;   /* the first matching n-gram, normalized words */
	size_t offset;       /* its byte offset in the checked text */
	uint32_t matches;    /* distinct matching n-grams, counted up to the threshold */
};

/* Checks text: returns 1 and fills hit when at least `threshold` distinct n-grams of the
 * evaluation sets occur in it, else 0. The hit's strings live in hit_buf (reused). */
int evalset_check(const struct evalset *es, const char *text, size_t len, uint32_t threshold,
		  struct evalset_hit *hit, struct buf *hit_buf);

#endif
