/* github/mirror: bare mirrors in a cache and the commit each list entry names (mirror.h),
 * for many entries at once on a pool of threads. libgit2 is thread-safe with one repository
 * object per thread; the error messages (err_set, git_error_last) are per thread too. */
#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "github/mirror.h"
#include "util.h"

const char *gh_git_msg(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown error";
}

/* The mirror's directory: the name made safe, and a hash of the url so that two urls never
 * share one. */
static char *mirror_path(const char *cache, const struct gh_repo *r)
{
	unsigned char h[SHA256_LEN];
	char hex[SHA256_HEX];
	sha256(r->url, strlen(r->url), h);
	sha256_hexstr(h, hex);
	char *safe = xstrdup(r->name);
	for (char *p = safe; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			*p = '_';
	char *path = xasprintf("%s/%s-%.12s.git", cache, safe, hex);
	free(safe);
	return path;
}

/* Fetches the branches of origin into the mirror under their own names and points HEAD at the
 * remote's default branch. */
static int mirror_fetch(git_repository *repo, const char *url)
{
	git_remote *rem = NULL;
	git_fetch_options fo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	git_buf def = {0};
	int rc = -1;
	if (git_remote_lookup(&rem, repo, "origin")) {
		/* branches only: a tag of a blob or tree breaks libgit2 1.5's negotiation on
		 * the next fetch ("object is not a committish") */
		if (git_remote_create_with_fetchspec(&rem, repo, "origin", url,
						     "+refs/heads/*:refs/heads/*"))
			goto out;
	}
	if (git_remote_connect(rem, GIT_DIRECTION_FETCH, &fo.callbacks, NULL, NULL))
		goto out;
	int has_def = !git_remote_default_branch(&def, rem);
	if (git_remote_download(rem, NULL, &fo) ||
	    git_remote_update_tips(rem, &fo.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL))
		goto out;
	if (has_def && git_repository_set_head(repo, def.ptr))
		goto out;
	rc = 0;
out:
	if (rc)
		err_set("fetching %s: %s", url, gh_git_msg());
	git_buf_dispose(&def);
	if (rem)
		git_remote_disconnect(rem);
	git_remote_free(rem);
	return rc;
}

/* Makes the mirror at gitdir: cloned into a temporary directory, renamed when complete. */
static int mirror_clone(const char *cache, const char *gitdir, const char *url)
{
	git_repository *repo = NULL;
	remove_tree(gitdir); /* a half-made mirror from a killed run */
	if (mkdir_p(cache))
		return -1;
	char *tmp = xasprintf("%s.tmp.%d", gitdir, (int)getpid());
	remove_tree(tmp);
	if (git_repository_init(&repo, tmp, 1)) {
		err_set("%s: %s", tmp, gh_git_msg());
		free(tmp);
		return -1;
	}
	int rc = mirror_fetch(repo, url);
	git_repository_free(repo);
	if (!rc && rename(tmp, gitdir)) {
		err_set("%s: %s", gitdir, strerror(errno));
		rc = -1;
	}
	if (rc)
		remove_tree(tmp);
	free(tmp);
	return rc;
}

/* Opens or clones the mirror of j->repo and fetches it when asked; a failed refetch leaves a
 * warning, the cached copy being a consistent snapshot still. */
static int mirror(struct gh_mirror_job *j, const char *cache, int fetch)
{
	git_repository *repo = NULL;
	if (git_repository_open_bare(&repo, j->gitdir))
		return mirror_clone(cache, j->gitdir, j->repo->url);
	if (fetch && mirror_fetch(repo, j->repo->url))
		j->warning = xasprintf("%s; using the cached mirror %s", err_get(), j->gitdir);
	git_repository_free(repo);
	return 0;
}

/* The packs' size is a cheap stand-in for the work a repository needs. */
static uint64_t pack_weight(git_repository *repo)
{
	char *packs = xasprintf("%s/objects/pack", git_repository_path(repo));
	uint64_t weight = 65536;
	DIR *d = opendir(packs);
	for (struct dirent *de; d && (de = readdir(d));) {
		struct stat st;
		char *p = xasprintf("%s/%s", packs, de->d_name);
		if (!stat(p, &st) && S_ISREG(st.st_mode))
			weight += (uint64_t)st.st_size;
		free(p);
	}
	if (d)
		closedir(d);
	free(packs);
	return weight;
}

/* The commit at ref in j->gitdir, into j->commit and j->weight. */
static int resolve(struct gh_mirror_job *j, const char *ref)
{
	git_repository *repo = NULL;
	git_object *obj = NULL, *c = NULL;
	int rc = -1;
	if (git_repository_open_ext(&repo, j->gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) {
		err_set("cannot open: %s", gh_git_msg());
		goto out;
	}
	if (git_revparse_single(&obj, repo, ref) || git_object_peel(&c, obj, GIT_OBJECT_COMMIT)) {
		err_set("ref '%s': %s", ref, gh_git_msg());
		goto out;
	}
	git_oid_tostr(j->commit, sizeof j->commit, git_object_id(c));
	j->weight = pack_weight(repo);
	rc = 0;
out:
	git_object_free(c);
	git_object_free(obj);
	git_repository_free(repo);
	return rc;
}

static void run_job(struct gh_mirror_job *j, const char *cache, int fetch)
{
	const struct gh_repo *r = j->repo;
	if (r->url && mirror(j, cache, fetch)) {
		j->error = "clone_failed";
		j->message = xasprintf("%s: %s", r->name, err_get());
	} else if (resolve(j, r->ref)) {
		j->error = "bad_repository";
		j->message = xasprintf("%s (%s): %s", r->name, j->gitdir, err_get());
	}
}

/* ---- the pool ---- */

struct pool {
	struct gh_mirror_job *jobs;
	size_t *next;  /* the next job on the same repository, or SIZE_MAX */
	size_t *heads; /* the first job of each repository, in input order */
	size_t nheads, cursor;
	pthread_mutex_t lock;
	const char *cache;
	int fetch;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t h = p->cursor < p->nheads ? p->heads[p->cursor++] : SIZE_MAX;
		pthread_mutex_unlock(&p->lock);
		if (h == SIZE_MAX)
			return NULL;
		for (size_t i = h; i != SIZE_MAX; i = p->next[i])
			run_job(&p->jobs[i], p->cache, p->fetch);
	}
}

struct dir_key {
	const char *gitdir;
	size_t job;
};

static int cmp_dir_key(const void *a, const void *b)
{
	const struct dir_key *x = a, *y = b;
	int c = strcmp(x->gitdir, y->gitdir);
	return c ? c : (x->job > y->job) - (x->job < y->job);
}

/* Chains the jobs that share a git directory (one mirror must not be made twice at once),
 * each chain in input order, and lists the chains' first jobs in input order. */
static void chain_jobs(struct pool *p, size_t n)
{
	struct dir_key *order = xmalloc((n + 1) * sizeof *order);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		p->next[i] = SIZE_MAX;
		if (p->jobs[i].repo)
			order[k++] = (struct dir_key){p->jobs[i].gitdir, i};
	}
	qsort(order, k, sizeof *order, cmp_dir_key);
	unsigned char *later = xcalloc(n + 1, 1);
	for (size_t i = 1; i < k; i++)
		if (!strcmp(order[i].gitdir, order[i - 1].gitdir)) {
			p->next[order[i - 1].job] = order[i].job;
			later[order[i].job] = 1;
		}
	for (size_t i = 0; i < n; i++)
		if (p->jobs[i].repo && !later[i])
			p->heads[p->nheads++] = i;
	free(later);
	free(order);
}

void gh_mirror_run(struct gh_mirror_job *jobs, size_t n, const char *cache, int fetch,
		   int threads)
{
	for (size_t i = 0; i < n; i++)
		if (jobs[i].repo)
			jobs[i].gitdir = jobs[i].repo->url ? mirror_path(cache, jobs[i].repo)
							   : xstrdup(jobs[i].repo->path);
	struct pool p = {.jobs = jobs, .cache = cache, .fetch = fetch};
	p.next = xmalloc((n + 1) * sizeof *p.next);
	p.heads = xmalloc((n + 1) * sizeof *p.heads);
	chain_jobs(&p, n);
	pthread_mutex_init(&p.lock, NULL);
	if (!(git_libgit2_features() & GIT_FEATURE_THREADS))
		threads = 1;
	size_t extra = threads > 1 ? (size_t)threads - 1 : 0, started = 0;
	if (extra > p.nheads)
		extra = p.nheads;
	pthread_t *tid = xmalloc((extra + 1) * sizeof *tid);
	/* the calling thread works too, so a thread that cannot start only slows things */
	while (started < extra && !pthread_create(&tid[started], NULL, worker, &p))
		started++;
	worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&p.lock);
	free(tid);
	free(p.next);
	free(p.heads);
}

void gh_mirror_job_release(struct gh_mirror_job *j)
{
	free(j->gitdir);
	free(j->message);
	free(j->warning);
	*j = (struct gh_mirror_job){0};
}
