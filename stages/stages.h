/* The stages curate knows, each defined in its own file of this folder. */
#ifndef CURATE_STAGES_H
#define CURATE_STAGES_H

#include "stage.h"

extern const struct stage_def stage_import;
extern const struct stage_def stage_crawl_github;
extern const struct stage_def stage_crawl_web;
extern const struct stage_def stage_langid;
extern const struct stage_def stage_web_filter;
extern const struct stage_def stage_redact;
extern const struct stage_def stage_dedup_exact;
extern const struct stage_def stage_dedup_near;
extern const struct stage_def stage_syntax;
extern const struct stage_def stage_relevance;
extern const struct stage_def stage_oracle;
extern const struct stage_def stage_scorer_train;
extern const struct stage_def stage_quality;
extern const struct stage_def stage_decontaminate;
extern const struct stage_def stage_filter;
extern const struct stage_def stage_reshard;
extern const struct stage_def stage_tokenize;

/* Checks what the config names for the stages of list (stages/check.c): options that must
 * be set, inputs that must exist, constraints between options. Appends one line per problem
 * to why ("FILE:LINE: key: what"); returns how many. Cheap: run before any stage starts. */
int stage_check_config(const struct config *cfg, const char *const *list, size_t n,
		       struct buf *why);
/* tokenize's part of it: group_by, the groups' names and rules, the phases. */
int tokenize_check(const struct config *cfg, struct buf *why);

#endif
