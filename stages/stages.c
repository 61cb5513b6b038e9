/* The stage table, in pipeline order. Adding a stage: write stages/NAME.c defining a
 * struct stage_def, declare it in stages.h and list it here (docs/architecture.md). */
#include "blend.h"
#include "stages.h"

const struct stage_def *const stage_table[] = {
	&stage_import,
	&stage_crawl_github,
	&stage_crawl_web,
	&stage_langid,
	&stage_web_filter,
	&stage_redact,
	&stage_dedup_exact,
	&stage_dedup_near,
	&stage_syntax,
	&stage_relevance,
	&stage_oracle,
	&stage_scorer_train,
	&stage_quality,
	&stage_decontaminate,
	&stage_filter,
	&stage_reshard,
	&stage_tokenize,
};
const size_t stage_count = sizeof stage_table / sizeof stage_table[0];

const struct config_section stage_extra_sections[] = {
	{"phases", blend_phase_opts,
	 "Pretraining phases: each is a blend of tokenize groups with weights, a context length "
	 "and FIM rates, written as Megatron-LM and NeMo blend files under <workdir>/blends/ "
	 "once tokenize is complete (docs/tokenize.md)"},
};
const size_t stage_extra_count = sizeof stage_extra_sections / sizeof stage_extra_sections[0];
