/* github/deps: repository-level documents. Finds the imports and includes of each file that
 * resolve to another file of the same repository (Python, Java, C, C++, CUDA, Objective-C,
 * JavaScript, TypeScript, Go, Rust), orders files so that a file's dependencies come first
 * (cycles broken by a stable rule), groups them by connected component, puts HTML, SQL and
 * shell files in a seeded random order, and packs it all into documents under a size limit.
 * Works on text in memory; reading the repository is the caller's business. */
#ifndef CURATE_GH_DEPS_H
#define CURATE_GH_DEPS_H

#include <stddef.h>
#include <stdint.h>

struct gh_file {
	const char *path; /* repository-relative, '/'-separated */
	const char *lang; /* metadata.lang, or NULL */
	const char *text;
	size_t len;
};

struct gh_edge {
	size_t from, to; /* files[from] imports files[to] */
};

/* The resolved dependency edges of files (which must be sorted by path, bytewise, with no
 * duplicate), sorted by (from, to) without duplicates or self-edges. *edges is malloc'd;
 * caller frees. Returns the count. */
size_t gh_deps_edges(const struct gh_file *files, size_t n, struct gh_edge **edges);

/* The documents of a repository: order[] lists file indices in document order and
 * doc_end[d] is one past the last position of document d in order[]. */
struct gh_repo_docs {
	size_t *order, norder;
	size_t *doc_end, ndocs;
};

/* Plans the documents. max_bytes bounds a document's text, counting for each file its
 * length, header_bytes, path_times times its path's length and a newline (a single larger
 * file is a document alone); 0 means no limit. seed and repo
 * seed the random order of the shuffled languages. Files with lang NULL are left out. */
void gh_deps_plan(const struct gh_file *files, size_t n, uint64_t max_bytes,
		  size_t header_bytes, size_t path_times, uint64_t seed, const char *repo, struct gh_repo_docs *out);
void gh_repo_docs_release(struct gh_repo_docs *d);

/* 1 for languages placed in random order (html, sql, shell), else 0. */
int gh_deps_shuffled(const char *lang);

#endif
