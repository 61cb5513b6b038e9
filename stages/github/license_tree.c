/* github/license_tree: licence files of a tree by directory (license_tree.h). */
#include <stdlib.h>
#include <string.h>

#include "license_tree.h"

/* 1 if the expression already holds id as one of its AND terms. */
static int has_term(const char *expr, const char *id)
{
	size_t k = strlen(id);
	for (const char *p = expr; (p = strstr(p, id)); p += k)
		if ((p == expr || p[-1] == ' ') && (p[k] == 0 || p[k] == ' '))
			return 1;
	return 0;
}

void gh_lic_tree_add(struct gh_lic_tree *t, const char *path, const char *id)
{
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) : 0;
	struct gh_lic_dir *d = NULL;
	for (size_t i = 0; i < t->n && !d; i++)
		if (strlen(t->d[i].dir) == dl && !strncmp(t->d[i].dir, path, dl))
			d = &t->d[i];
	if (!d) {
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 4;
			t->d = xrealloc(t->d, t->cap * sizeof *t->d);
		}
		d = &t->d[t->n++];
		*d = (struct gh_lic_dir){.dir = xstrndup(path, dl)};
	}
	char *s = d->sources ? xasprintf("%s, %s", d->sources, path) : xstrdup(path);
	free(d->sources);
	d->sources = s;
	if (!id) {
		d->unknown = 1;
		return;
	}
	if (d->expr && has_term(d->expr, id))
		return;
	char *e = d->expr ? xasprintf("%s AND %s", d->expr, id) : xstrdup(id);
	free(d->expr);
	d->expr = e;
}

const struct gh_lic_dir *gh_lic_tree_for(const struct gh_lic_tree *t, const char *path)
{
	const struct gh_lic_dir *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < t->n; i++) {
		size_t dl = strlen(t->d[i].dir);
		int above = dl == 0 || (!strncmp(path, t->d[i].dir, dl) && path[dl] == '/');
		if (above && (!best || dl > best_len))
			best = &t->d[i], best_len = dl;
	}
	return best;
}

void gh_lic_tree_release(struct gh_lic_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->d[i].dir);
		free(t->d[i].expr);
		free(t->d[i].sources);
	}
	free(t->d);
	*t = (struct gh_lic_tree){0};
}
