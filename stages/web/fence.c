/* web/fence: Markdown code fences (fence.h). */
#include "fence.h"

/* Backticks a line starts with (after up to 3 spaces), 0 if fewer than 3. */
static size_t fence_len(const char *p, size_t n)
{
	size_t i = 0, k = 0;
	while (i < n && i < 3 && p[i] == ' ')
		i++;
	while (i + k < n && p[i + k] == '`')
		k++;
	return k >= 3 ? k : 0;
}

/* 1 if the line closes a fence of open backticks: at least as many, then only blanks. */
static int closes(const char *p, size_t n, size_t open)
{
	size_t k = fence_len(p, n), i = 0;
	if (k < open)
		return 0;
	while (i < n && p[i] == ' ')
		i++;
	for (i += k; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\f' && p[i] != '\v')
			return 0;
	return 1;
}

int md_fence_line(struct md_fences *f, const char *p, size_t n)
{
	if (f->open) {
		if (closes(p, n, f->open))
			f->open = 0;
		return 1;
	}
	return (f->open = fence_len(p, n)) != 0;
}
