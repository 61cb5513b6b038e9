/* tokenize: the commands around the tokenize stage: `curate tokenizer encode|decode` and
 * `curate tokens info|decode` (entries in pipeline/main.c's fixed command table). */
#ifndef CURATE_TOKENIZE_H
#define CURATE_TOKENIZE_H

#include "cli.h"

extern const struct cli_opt tokenize_tokenizer_opts[];
extern const struct cli_opt tokenize_tokens_opts[];
int tokenize_cmd_tokenizer(const struct cli_cmd *cmd, struct cli_args *a);
int tokenize_cmd_tokens(const struct cli_cmd *cmd, struct cli_args *a);

#endif
