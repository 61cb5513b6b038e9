/* github/license: which licence a repository's licence file holds, as an SPDX id, by matching
 * its normalized text against the SPDX licence texts (npm spdx-license-list, scripts/spdx.sh);
 * SPDX-License-Identifier lines of source files; and whether an expression is permissive.
 * It identifies one licence per file: a file holding several licences gets the dominant one
 * or none. docs/license.md has the normalization, the score and the measurements. */
#ifndef CURATE_GH_LICENSE_H
#define CURATE_GH_LICENSE_H

#include <stddef.h>

#include "util.h"

/* The least score lic_identify accepts: licence texts with a changed copyright line, rewrapped
 * or with a few words changed score 0.85 and above; prose that merely mentions a licence stays
 * under 0.5 (docs/license.md). */
#define LIC_MIN_SCORE 0.70
/* Bytes of a file that are read; licence files are a few tens of KB. */
#define LIC_MAX_TEXT (256 * 1024)

struct lic_db;

/* Loads full_json (spdx-license-list's spdx-full.json: an object of id -> {licenseText, ...})
 * and indexes every licence that SPDX has not deprecated. NULL with err_set naming the file
 * when it cannot be read or holds no licence. Free with lic_db_free (NULL is a no-op). */
struct lic_db *lic_db_load(const char *full_json);
/* The same from the list's len bytes at json (a copy built into the binary); name is the
 * list's in messages. */
struct lic_db *lic_db_parse(const char *json, size_t len, const char *name);
void lic_db_free(struct lic_db *db);
/* Distinct licence texts indexed (ids sharing a text count once). */
size_t lic_db_count(const struct lic_db *db);

/* The SPDX id of the licence text (the first LIC_MAX_TEXT bytes of text) is closest to, or
 * NULL when none scores LIC_MIN_SCORE. The score is the Dice coefficient of the two sets of
 * word 3-grams (1.0: the same text after normalization); *score (if not NULL) gets the best
 * score even when NULL is returned. Ids sharing one text resolve to the "-only" id, then the
 * shortest: a licence text alone grants no "or any later version". The string belongs to
 * db. Safe to call from several threads on one db. */
const char *lic_identify(const struct lic_db *db, const char *text, size_t len, double *score);

/* The expression of the first "SPDX-License-Identifier:" line among the first 50 lines of a
 * source file, into ids (replacing its content): spaces collapsed, a trailing comment closer
 * (C's star-slash, HTML's "-->", ...) removed. Returns 1 when found, else 0 (ids empty). */
int lic_spdx_header(const char *text, size_t len, struct buf *ids);

/* "permissive" when the SPDX expression is satisfied by permissive licences alone (every id of
 * an AND, one alternative of an OR; an exception after WITH only adds permissions, so it is
 * the licence's kind), "copyleft" when it is a valid expression that is not (The Stack v2's
 * "non-permissive": any identified licence outside the list, weak copyleft and proprietary
 * included), "unknown" when NULL, empty, NOASSERTION/NONE or malformed. Ids are compared
 * without regard to case; permissive holds n ids, or stops earlier at a NULL entry (so
 * lic_default_permissive can be passed with n = SIZE_MAX). */
const char *lic_type(const char *spdx_expr, const char *const *permissive, size_t n);
/* Common permissive SPDX ids, NULL-terminated. */
extern const char *const lic_default_permissive[];

/* Whether path names a licence file (any directory, case ignored): LICENSE, LICENCE, COPYING,
 * COPYRIGHT, UNLICENSE, with a text extension (.md, .txt, .rst, ...) or a suffix such as
 * LICENSE-MIT, COPYING.LESSER, COPYING3, MIT-LICENSE; and any text file in a LICENSES/
 * directory (REUSE). Source files such as license.c or license.py are not. */
int lic_is_license_path(const char *path);

#endif
