/* html: the text of an HTML page by rules, with libxml2's HTML parser. Readable text in
 * reading order; code blocks (<pre>, multi-line <code>, highlighter containers) kept verbatim
 * as Markdown fenced blocks with the language their classes name; inline <code> in backticks;
 * scripts, styles, navigation and other boilerplate left out. It also reads the page signals
 * the site categories use (generator, og:type, schema.org type). Input must be UTF-8. */
#ifndef CURATE_WEB_HTML_H
#define CURATE_WEB_HTML_H

#include <stddef.h>

#include "util.h"

#define HTML_MAX_LANGS 16

struct html_page {
	struct buf text;  /* UTF-8 */
	struct buf title;
	unsigned code_blocks, inline_code, words;
	char langs[HTML_MAX_LANGS][32]; /* languages of the code blocks, sorted, unique */
	unsigned nlangs;
	char generator[96], og_type[48], schema[128];
	double parse_seconds; /* CPU time of this call in libxml2's parser alone (benchmark) */
};

void html_page_init(struct html_page *pg);
void html_page_release(struct html_page *pg);

/* CPU seconds of the calling thread: the stage's timing counters use it, so that a loaded
 * machine does not inflate them. */
double html_cpu_seconds(void);

/* Process-wide libxml2 set-up; call once before threads, if any (idempotent). */
void html_init(void);

/* Extracts p (n bytes of UTF-8) into pg, which is reset first. boilerplate: leave out
 * navigation, headers, footers, sidebars and the like (by tag, role and class/id words).
 * Returns 0, or -1 if the parser gave no document (err_set). */
int html_extract(const char *p, size_t n, int boilerplate, struct html_page *pg);

/* A language name from a class hint ("language-py", "brush: js", "sourceCode python"),
 * normalized ("py" -> "python"); "" if none. Exposed for tests. */
void html_lang_from_class(const char *cls, char *out, size_t outlen);

#endif
