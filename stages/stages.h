/* The stages curate knows, each defined in its own file of this folder. */
#ifndef CURATE_STAGES_H
#define CURATE_STAGES_H

#include "stage.h"

extern const struct stage_def stage_import;
extern const struct stage_def stage_filter;
extern const struct stage_def stage_reshard;

#endif
