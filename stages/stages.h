/* The stages curate knows, each defined in its own file of this folder. */
#ifndef CURATE_STAGES_H
#define CURATE_STAGES_H

#include "stage.h"

extern const struct stage_def stage_import;
extern const struct stage_def stage_crawl_github;
extern const struct stage_def stage_crawl_web;
extern const struct stage_def stage_dedup_exact;
extern const struct stage_def stage_dedup_near;
extern const struct stage_def stage_syntax;
extern const struct stage_def stage_relevance;
extern const struct stage_def stage_oracle;
extern const struct stage_def stage_quality;
extern const struct stage_def stage_decontaminate;
extern const struct stage_def stage_filter;
extern const struct stage_def stage_reshard;
extern const struct stage_def stage_tokenize;

#endif
