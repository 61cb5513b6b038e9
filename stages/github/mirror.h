/* github/mirror: what crawl-github's plan needs of each repository list entry: a bare mirror
 * of a remote repository in a cache (cloned once, fetched again when asked) and the commit its
 * ref names. Many entries are done at once on a small pool of threads; every result lands in
 * its own entry, so nothing depends on the order in which fetches end. No logging here: the
 * caller reports results in input order. */
#ifndef CURATE_GH_MIRROR_H
#define CURATE_GH_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "github/repo.h"

struct gh_mirror_job {
	const struct gh_repo *repo; /* in; NULL: nothing to do (an entry that did not parse) */
	/* out, all owned by the job */
	char *gitdir;     /* the repository read: the mirror, or repo->path */
	char commit[41];  /* hex id of the commit at repo->ref */
	uint64_t weight;  /* 64 KiB plus the size of its packs: the work it needs, roughly */
	const char *error; /* NULL, "clone_failed" or "bad_repository" */
	char *message;    /* with error, what went wrong (the name first), else NULL */
	char *warning;    /* a refetch that failed, so the cached mirror was used; or NULL */
};

/* Does every job: mirrors (repo->url) into cache, fetching an existing mirror again when
 * fetch is set, and resolves repo->ref. Up to `threads` jobs run at once (libgit2 must be
 * initialised); jobs on one mirror run one after another in input order, as a serial run
 * would do them, so the results are the same for any thread count. */
void gh_mirror_run(struct gh_mirror_job *jobs, size_t n, const char *cache, int fetch,
		   int threads);
void gh_mirror_job_release(struct gh_mirror_job *j);

/* The last libgit2 error message of the calling thread. */
const char *gh_git_msg(void);

#endif
