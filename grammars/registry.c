/* registry: lookups over the language table that grammars/build.sh generates from
 * grammars/manifest.tsv (grammar_table, linked from libcurate-grammars.a). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "registry.h"
#include "util.h"

extern const struct grammar grammar_table[];
extern const size_t grammar_table_len;

size_t grammar_count(void) { return grammar_table_len; }

const struct grammar *grammar_at(size_t i)
{
	return i < grammar_table_len ? &grammar_table[i] : NULL;
}

/* 1 when word (n bytes) is one of the space-separated items of list. */
static int in_list(const char *list, const char *word, size_t n, int nocase)
{
	const char *p = list;
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !(nocase ? strncasecmp(p, word, n) : strncmp(p, word, n)))
			return 1;
		p = e ? e + 1 : p + len;
	}
	return 0;
}

const struct grammar *grammar_find(const char *name)
{
	if (!name || !*name)
		return NULL;
	size_t n = strlen(name);
	for (size_t i = 0; i < grammar_table_len; i++)
		if (!strcasecmp(grammar_table[i].name, name))
			return &grammar_table[i];
	for (size_t i = 0; i < grammar_table_len; i++)
		if (in_list(grammar_table[i].aliases, name, n, 1))
			return &grammar_table[i];
	return NULL;
}

static const struct grammar *by_ext(const char *ext, size_t n, int nocase)
{
	for (size_t i = 0; i < grammar_table_len; i++)
		if (in_list(grammar_table[i].extensions, ext, n, nocase))
			return &grammar_table[i];
	return NULL;
}

const struct grammar *grammar_for_path(const char *path)
{
	if (!path)
		return NULL;
	const char *base = path;
	for (const char *p = path; *p; p++)
		if (*p == '/' || *p == ':' || *p == '\\')
			base = p + 1;
	size_t n = strlen(base);
	if (!n)
		return NULL;
	for (size_t i = 0; i < grammar_table_len; i++)
		if (in_list(grammar_table[i].filenames, base, n, 0))
			return &grammar_table[i];
	const char *dot = strrchr(base, '.');
	if (!dot || dot == base) /* ".bashrc" is a name, not an extension */
		return NULL;
	size_t en = n - (size_t)(dot - base);
	const struct grammar *g = by_ext(dot, en, 0);
	return g ? g : by_ext(dot, en, 1);
}

const TSLanguage *grammar_language(const struct grammar *g)
{
	const TSLanguage *l = g->language();
	uint32_t v = ts_language_version(l);
	if (v < TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION || v > TREE_SITTER_LANGUAGE_VERSION) {
		err_set("grammar %s (%s): ABI %u, this libtree-sitter reads %d-%d", g->name,
			g->package, v, TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION,
			TREE_SITTER_LANGUAGE_VERSION);
		return NULL;
	}
	return l;
}
