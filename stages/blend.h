/* blend: the pretraining phases of the config as data blends a trainer reads. Each phase
 * names tokenize groups with a weight (or target tokens, or epochs over the group), a
 * context length and, where it differs from the group's, a FIM rate (tokenize then builds
 * that group again at the rate, as the dataset "GROUP.fimRATE"). Once tokenize is complete,
 * <workdir>/blends/PHASE.megatron (Megatron-LM --data-path / --data-args-path),
 * PHASE.nemo.yaml (NeMo model.data.data_prefix) and PHASE.json (everything, for people and
 * NeMo 2's PreTrainingDataModule(paths=...)) are written. See docs/tokenize.md. */
#ifndef CURATE_BLEND_H
#define CURATE_BLEND_H

#include <stddef.h>

#include "cli.h"
#include "config.h"

/* The "phases" config section. */
extern const struct opt_def blend_phase_opts[];

/* A group at another FIM rate than its own, which some phase asks for. */
struct blend_variant {
	char *group;
	double fim_rate;
};
/* The variants the phases ask for, sorted and unique. */
void blend_variants(const struct config *cfg, struct blend_variant **v, size_t *n);
void blend_variants_free(struct blend_variant *v, size_t n);
/* "code.fim0.1": the dataset of group at rate. */
void blend_variant_name(const char *group, double rate, char *out, size_t len);
/* The FIM rate group g is tokenized with (its own option, else tokenize.fim.rate). */
double tokenize_group_fim_rate(const struct config *cfg, const char *g);

/* The phases' entries as the config gives them (one of weight, tokens, epochs each; no
 * mix of weights with amounts; at least one group): one line per problem to why, and
 * their count. The groups' datasets are checked when the blends are written. */
int blend_check(const struct config *cfg, struct buf *why);

/* Writes the blend files of every phase from the tokenize output's group.json files and
 * removes those of phases no longer configured. 0, or -1 with err_set naming the phase. */
int blend_write(const struct config *cfg, const char *workdir);

/* `curate tokens info DIR`: every dataset under a tokenize directory (or one group). */
int blend_tokens_info_dir(const char *dir);

#endif
