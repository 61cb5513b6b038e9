/* web/fence: Markdown code fences (CommonMark's backtick fences), which crawl-web writes
 * around the code blocks of a page: langid and web-filter read the prose outside them. */
#ifndef CURATE_WEB_FENCE_H
#define CURATE_WEB_FENCE_H

#include <stddef.h>

struct md_fences {
	size_t open; /* backticks of the fence open now, 0 outside */
};

/* 1 if the line p[0, n) (without its newline) belongs to a fence, its opening and closing
 * lines included, updating f. A fence opens with three or more backticks after up to three
 * spaces and closes with as many or more and only blanks after; an unclosed one runs to the
 * end of the text, as in CommonMark. */
int md_fence_line(struct md_fences *f, const char *p, size_t n);

#endif
