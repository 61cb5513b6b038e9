/* github/lang: the language of a file from its name and extension, by the table in
 * stages/github/langs.tsv (89 languages, in the manner of GitHub linguist: a file name rule
 * wins, then the longest matching extension). The table is built into the binary; another
 * one can be loaded at start. No content heuristics: an ambiguous extension has one owner. */
#ifndef CURATE_GH_LANG_H
#define CURATE_GH_LANG_H

#include <stddef.h>

struct gh_langs;

/* Parses a table (text of n bytes; name is for messages). NULL with err_set
 * "NAME:LINE: what is wrong" on a malformed line. Caller frees with gh_langs_free. */
struct gh_langs *gh_langs_parse(const char *text, size_t n, const char *name);
/* The built-in table (langs.tsv compiled in). Caller frees. */
struct gh_langs *gh_langs_builtin(void);
/* The built-in table's text (n bytes), for fingerprints. */
const char *gh_langs_builtin_text(size_t *n);
/* Loads a table from a file. NULL with err_set. */
struct gh_langs *gh_langs_load(const char *path);
void gh_langs_free(struct gh_langs *t); /* NULL is a no-op */

/* The language of path (only its last component is looked at), or NULL. The string is
 * owned by the table. */
const char *gh_langs_lookup(const struct gh_langs *t, const char *path);
/* Number of languages, and the i-th name in table order. */
size_t gh_langs_count(const struct gh_langs *t);
const char *gh_langs_name(const struct gh_langs *t, size_t i);

#endif
