/* github/repo: one line of the repository list (JSONL): where the repository is (url:
 * https, ssh or file://; or path: a local clone or bare repository), its name, and what the
 * list says about it (stars, forks, license, ref). Parsing only; cloning is the stage's. */
#ifndef CURATE_GH_REPO_H
#define CURATE_GH_REPO_H

#include <stddef.h>
#include <stdint.h>

struct gh_repo {
	char *name;    /* "owner/repo": the name field, else from the url or path */
	char *url;     /* NULL when path is given */
	char *path;    /* NULL when url is given */
	char *license; /* NULL if not given */
	char *ref;     /* "HEAD" unless given */
	int64_t stars, forks; /* 0 if not given */
};

/* Parses one JSON line into r (which the caller releases in every case). -1 with err_set
 * saying what is wrong (the caller adds file and line). */
int gh_repo_parse(const char *line, size_t len, struct gh_repo *r);
void gh_repo_release(struct gh_repo *r);
/* "owner/repo" from a url or path: its last two components without ".git"; one component
 * alone if there is one. Caller frees. */
char *gh_repo_name(const char *where);

#endif
