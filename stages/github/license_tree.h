/* github/license_tree: which licence each path of a repository's tree falls under, from the
 * licence files the tree holds. A file is under the licence files of the deepest directory
 * above it that has any (the root's cover the whole tree unless a subdirectory brings its
 * own, as in monorepos and vendored libraries). Several licence files in one directory make
 * one expression of their distinct ids joined by AND: curate cannot tell dual licensing
 * (LICENSE-MIT and LICENSE-APACHE, where OR holds) from licences of different parts, so it
 * assumes the stricter reading. */
#ifndef CURATE_GH_LICENSE_TREE_H
#define CURATE_GH_LICENSE_TREE_H

#include <stddef.h>

#include "util.h"

struct gh_lic_dir {
	char *dir;     /* "" for the root, else "a/b" */
	char *expr;    /* the SPDX expression, NULL when no licence file of it was identified */
	char *sources; /* the licence files' paths, ", "-separated, in tree order */
	int unknown;   /* some licence file of it was not identified */
};

struct gh_lic_tree {
	struct gh_lic_dir *d;
	size_t n, cap;
};

/* Adds the licence file at path (tree order), identified as id (NULL: not identified). */
void gh_lic_tree_add(struct gh_lic_tree *t, const char *path, const char *id);
/* The entry covering path, or NULL when no directory above it has a licence file. */
const struct gh_lic_dir *gh_lic_tree_for(const struct gh_lic_tree *t, const char *path);
void gh_lic_tree_release(struct gh_lic_tree *t);

#endif
