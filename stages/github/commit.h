/* github/commit: the commit documents of one repository, framed as code-change prediction
 * (docs/crawl-github.md has the template): the message, the context of the pre-commit
 * snapshot (README, directory tree, the top files by BM25 against the message), the
 * pre-commit content of the changed files, then the changed paths and the patch. Also the
 * tree listing the stage uses for file documents. */
#ifndef CURATE_GH_COMMIT_H
#define CURATE_GH_COMMIT_H

#include <git2.h>
#include <stdbool.h>
#include <stdint.h>

#include "github/filter.h"
#include "github/lang.h"
#include "stage.h"

/* A blob of a tree, by path. */
struct gh_entry {
	char *path;
	git_oid id;
	git_filemode_t mode;
};

/* Lists the blobs of tree (regular and executable files; links and submodules are counted
 * in *skipped if not NULL) sorted by path bytewise. 0, or -1 with err_set. Caller frees
 * with gh_entries_free. */
int gh_tree_files(git_tree *tree, struct gh_entry **out, size_t *n, size_t *skipped);
void gh_entries_free(struct gh_entry *v, size_t n);

/* What the activity thresholds look at, from the history reachable from head. */
struct gh_history {
	uint64_t commits;
	int64_t first, last; /* commit times, seconds */
};
int gh_history(git_repository *repo, const git_oid *head, struct gh_history *h);

struct gh_commit_opts {
	int64_t max_commits;    /* per repository, the newest non-merge commits */
	uint64_t max_bytes;     /* patch plus pre-commit contents; larger: commit_too_large */
	uint64_t max_file_size; /* snapshot files larger than this are not retrieved */
	uint64_t readme_max;    /* README bytes kept */
	int64_t tree_max;       /* directory tree lines kept */
	int64_t retrieve;       /* top-k files by BM25 */
	double k1, b;
	uint64_t cache_budget;  /* bytes of BM25 indexes kept across commits */
	const struct gh_langs *langs;
	const struct gh_filter *filter; /* files its path rules drop are not retrieved */
};

/* The metadata every document of the repository carries (repo, stars, ...): copied in. */
int gh_commit_docs(git_repository *repo, const git_oid *head, const struct gh_commit_opts *o,
		   const char *repo_name, const json_t *base_meta, struct emit *e,
		   struct stats *st);

#endif
