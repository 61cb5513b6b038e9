/* report: `curate report WORKDIR [-o FILE]` writes one self-contained HTML page (inline CSS
 * and SVG charts, no scripts, no network) showing what a run did. It reads what the stages
 * left in the workdir and changes nothing there except the report file itself. */
#ifndef CURATE_REPORT_H
#define CURATE_REPORT_H

#include "cli.h"

/* Writes the report of workdir to path; scan_langs reads the last document stage's shards
 * for the languages chart. Stages that cannot be read are named in the report, not errors.
 * 0 (and *nstages, the stages shown), or -1 with err_set when the workdir has no complete
 * stage or the file cannot be written. */
int report_write(const char *workdir, const char *path, int scan_langs, size_t *nstages);

extern const struct cli_opt report_opts[];
int report_cmd(const struct cli_cmd *cmd, struct cli_args *a);

#endif
