/* category: the site category of a page (documentation, blog, forum, qa, other) by ordered
 * rules over its URL and page signals, so later stages can apply per-category thresholds.
 * A rule is "CATEGORY:FIELD:GLOB": FIELD is url, generator (<meta name=generator>), schema
 * (the first schema.org itemtype) or og_type (<meta property=og:type>); GLOB is an fnmatch
 * pattern, case-insensitive, where * also matches '/'. The first matching rule wins. */
#ifndef CURATE_WEB_CATEGORY_H
#define CURATE_WEB_CATEGORY_H

#include <stddef.h>

struct category_rules;
struct html_page;

/* The user's rules, tried in order before the built-in ones (if builtin). NULL with err_set
 * naming the rule if one is malformed. */
struct category_rules *category_rules_new(const char *const *rules, size_t n, int builtin);
void category_rules_free(struct category_rules *c); /* NULL is a no-op */

/* The category of a page: one of "documentation", "blog", "forum", "qa", "other". */
const char *category_of(const struct category_rules *c, const char *url,
			const struct html_page *pg);

/* The built-in rules, NULL-terminated (for docs and tests). */
extern const char *const category_builtin[];

#endif
