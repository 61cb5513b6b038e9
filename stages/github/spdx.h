/* github/spdx: the SPDX licence texts built into curate, npm spdx-license-list 6.12.0's
 * spdx-full.json, which the build fetches and pins (scripts/spdx.sh) and pulls into the
 * binary with .incbin, as the language table is: a cluster node needs no network or cache to
 * identify licences. */
#ifndef CURATE_GH_SPDX_H
#define CURATE_GH_SPDX_H

#include "license.h"

/* The built-in texts, indexed (each call builds a new index: a rank keeps one). */
struct lic_db *lic_db_builtin(void);
/* What the built-in texts are, for a stage's signature: "spdx-license-list 6.12.0 <sha256>". */
const char *lic_builtin_version(void);

#endif
