/* category: ordered glob rules over the URL and page signals (category.h). The built-in rules
 * name the big Q&A and forum hosts and the URL shapes and generators of documentation and
 * blog software; users put their own first. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "category.h"
#include "html.h"
#include "util.h"

enum field { F_URL, F_GENERATOR, F_SCHEMA, F_OG_TYPE };

struct rule {
	const char *category; /* one of CATEGORIES */
	enum field field;
	char *glob;
};

struct category_rules {
	struct rule *v;
	size_t n;
};

static const char *const CATEGORIES[] = {"documentation", "blog", "forum", "qa", "other"};
static const char *const FIELDS[] = {"url", "generator", "schema", "og_type"};

const char *const category_builtin[] = {
	/* Q&A and forum hosts first: their URLs also look like docs or blogs */
	"qa:url:*://stackoverflow.com/*", "qa:url:*://*.stackexchange.com/*",
	"qa:url:*://stackexchange.com/*", "qa:url:*://superuser.com/*",
	"qa:url:*://serverfault.com/*", "qa:url:*://askubuntu.com/*",
	"qa:url:*://mathoverflow.net/*", "qa:url:*://*quora.com/*", "qa:url:*/questions/*",
	"qa:url:*/question/*", "qa:url:*://answers.*", "qa:url:*/answers/*",
	"forum:url:*://*forum*", "forum:url:*://discuss.*", "forum:url:*://*discourse*",
	"forum:url:*/viewtopic.php*", "forum:url:*/showthread.php*", "forum:url:*/thread/*",
	"forum:url:*/threads/*", "forum:url:*/t/*/[0-9]*", "forum:url:*://*reddit.com/*",
	"forum:url:*/topic/*", "forum:url:*://groups.google.com/*", "forum:url:*/pipermail/*",
	"forum:url:*://lists.*", "forum:url:*/mailing-list*", "forum:url:*/community/*",
	"documentation:url:*://docs.*", "documentation:url:*://*.readthedocs.io/*",
	"documentation:url:*://*.readthedocs.org/*", "documentation:url:*/docs/*",
	"documentation:url:*/doc/*", "documentation:url:*/documentation/*",
	"documentation:url:*/reference/*", "documentation:url:*/manual/*",
	"documentation:url:*/man/*", "documentation:url:*/api/*", "documentation:url:*/apidocs/*",
	"documentation:url:*/javadoc/*", "documentation:url:*/guide/*",
	"documentation:url:*/guides/*", "documentation:url:*/tutorial*",
	"documentation:url:*/handbook/*", "documentation:url:*://developer.*",
	"documentation:url:*://developers.*", "documentation:url:*://devdocs.*",
	"documentation:url:*://man7.org/*", "documentation:url:*://pkg.go.dev/*",
	"documentation:url:*://docs.rs/*", "documentation:url:*cppreference.com/*",
	"documentation:url:*/man[0-9]/*", "documentation:url:*.[1-9].html",
	"blog:url:*://*blog*", "blog:url:*://medium.com/*", "blog:url:*://*.medium.com/*",
	"blog:url:*://dev.to/*", "blog:url:*://*.substack.com/*", "blog:url:*://*.wordpress.com/*",
	"blog:url:*://*.blogspot.*", "blog:url:*/[12][0-9][0-9][0-9]/[01][0-9]/*",
	"blog:url:*/posts/*", "blog:url:*/post/*", "blog:url:*/articles/*", "blog:url:*/article/*",
	"blog:url:*/news/*",
	/* then what the page says of itself */
	"qa:schema:*QAPage*", "forum:schema:*DiscussionForumPosting*",
	"forum:generator:*phpBB*", "forum:generator:*vBulletin*", "forum:generator:*Discourse*",
	"forum:generator:*XenForo*", "forum:generator:*Invision*", "forum:generator:*MyBB*",
	"forum:generator:*Simple Machines*", "forum:generator:*Flarum*",
	"documentation:generator:*Sphinx*", "documentation:generator:*MkDocs*",
	"documentation:generator:*Docusaurus*", "documentation:generator:*Doxygen*",
	"documentation:generator:*javadoc*", "documentation:generator:*GitBook*",
	"documentation:generator:*VuePress*", "documentation:generator:*VitePress*",
	"documentation:generator:*AsciiDoc*", "documentation:generator:*rustdoc*",
	"documentation:generator:*pdoc*", "documentation:generator:*DocBook*",
	"documentation:generator:*texi2html*", "documentation:generator:*makeinfo*",
	"documentation:schema:*TechArticle*", "documentation:schema:*APIReference*",
	"blog:generator:*WordPress*", "blog:generator:*Blogger*", "blog:generator:*Ghost*",
	"blog:generator:*Jekyll*", "blog:generator:*Hexo*", "blog:generator:*Hugo*",
	"blog:generator:*Pelican*", "blog:schema:*BlogPosting*", "blog:og_type:article",
	NULL,
};

static int add_rule(struct category_rules *c, const char *text)
{
	const char *a = strchr(text, ':'), *b = a ? strchr(a + 1, ':') : NULL;
	if (!b || b[1] == 0) {
		err_set("category rule '%s': expected CATEGORY:FIELD:GLOB", text);
		return -1;
	}
	struct rule r = {0};
	for (size_t i = 0; i < ARRAY_LEN(CATEGORIES); i++)
		if ((size_t)(a - text) == strlen(CATEGORIES[i]) && !strncmp(text, CATEGORIES[i], (size_t)(a - text)))
			r.category = CATEGORIES[i];
	if (!r.category) {
		err_set("category rule '%s': unknown category (documentation|blog|forum|qa|other)", text);
		return -1;
	}
	size_t fl = (size_t)(b - a - 1);
	size_t f = 0;
	while (f < ARRAY_LEN(FIELDS) && !(strlen(FIELDS[f]) == fl && !strncmp(a + 1, FIELDS[f], fl)))
		f++;
	if (f == ARRAY_LEN(FIELDS)) {
		err_set("category rule '%s': unknown field (url|generator|schema|og_type)", text);
		return -1;
	}
	r.field = (enum field)f;
	r.glob = xstrdup(b + 1);
	c->v = xrealloc(c->v, (c->n + 1) * sizeof *c->v);
	c->v[c->n++] = r;
	return 0;
}

struct category_rules *category_rules_new(const char *const *rules, size_t n, int builtin)
{
	struct category_rules *c = xcalloc(1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		if (add_rule(c, rules[i]) < 0) {
			category_rules_free(c);
			return NULL;
		}
	for (size_t i = 0; builtin && category_builtin[i]; i++)
		if (add_rule(c, category_builtin[i]) < 0)
			DIE("built-in category rule: %s", err_get());
	return c;
}

void category_rules_free(struct category_rules *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].glob);
	free(c->v);
	free(c);
}

const char *category_of(const struct category_rules *c, const char *url,
			const struct html_page *pg)
{
	const char *values[] = {url, pg->generator, pg->schema, pg->og_type};
	for (size_t i = 0; i < c->n; i++) {
		const char *v = values[c->v[i].field];
		if (*v && !fnmatch(c->v[i].glob, v, FNM_CASEFOLD))
			return c->v[i].category;
	}
	return "other";
}
