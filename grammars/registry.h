/* registry: the Tree-sitter grammars built into curate (grammars/manifest.tsv, compiled by
 * grammars/build.sh) and the lookups from a language name, an alias, or a file name or
 * extension to a grammar. Holds no parser state; stages/syntax.c parses. */
#ifndef CURATE_GRAMMARS_REGISTRY_H
#define CURATE_GRAMMARS_REGISTRY_H

#include <stddef.h>
#include <tree_sitter/api.h>

/* One manifest row. Lists are space-separated strings, "" when empty. Static storage. */
struct grammar {
	const char *name;       /* "python": the name in metadata.lang and in stats */
	const char *package;    /* npm NAME@VERSION it was built from */
	const char *aliases;    /* other names accepted for it ("py python3") */
	const char *extensions; /* ".py .pyi" */
	const char *filenames;  /* "SConstruct" */
	const TSLanguage *(*language)(void);
};

size_t grammar_count(void);
const struct grammar *grammar_at(size_t i); /* in manifest order */

/* By name or alias, ASCII case-insensitive; NULL if none. */
const struct grammar *grammar_find(const char *name);
/* By the file name of path (after the last '/' or ':'): an exact file name first, then the
 * extension (case-sensitive, then lower-cased: ".PY" finds python); NULL if none. */
const struct grammar *grammar_for_path(const char *path);
/* The grammar's TSLanguage, or NULL with err_set when its ABI is not one this runtime
 * reads (TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION..TREE_SITTER_LANGUAGE_VERSION). */
const TSLanguage *grammar_language(const struct grammar *g);

#endif
