/* github/commit: history statistics, and one document per non-merge commit. BM25 indexes
 * of snapshot blobs are cached by blob id across the commits of a repository, since most
 * blobs do not change from one commit to the next. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "github/bm25.h"
#include "github/commit.h"
#include "log.h"

/* ---- tree listing ---- */

struct walk {
	struct gh_entry *v;
	size_t n, cap, skipped;
};

static int walk_cb(const char *root, const git_tree_entry *te, void *payload)
{
	struct walk *w = payload;
	git_filemode_t m = git_tree_entry_filemode(te);
	if (m == GIT_FILEMODE_TREE)
		return 0;
	if (m != GIT_FILEMODE_BLOB && m != GIT_FILEMODE_BLOB_EXECUTABLE) {
		w->skipped++; /* symbolic links and submodules */
		return 0;
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->v = xrealloc(w->v, w->cap * sizeof *w->v);
	}
	w->v[w->n++] = (struct gh_entry){xasprintf("%s%s", root, git_tree_entry_name(te)),
					 *git_tree_entry_id(te), m};
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gh_entry *)a)->path, ((const struct gh_entry *)b)->path);
}

void gh_entries_free(struct gh_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

int gh_tree_files(git_tree *tree, struct gh_entry **out, size_t *n, size_t *skipped)
{
	struct walk w = {0};
	if (tree && git_tree_walk(tree, GIT_TREEWALK_PRE, walk_cb, &w)) {
		const git_error *e = git_error_last();
		err_set("reading the tree: %s", e ? e->message : "unknown error");
		gh_entries_free(w.v, w.n);
		return -1;
	}
	if (w.n)
		qsort(w.v, w.n, sizeof *w.v, entry_cmp);
	*out = w.v;
	*n = w.n;
	if (skipped)
		*skipped = w.skipped;
	return 0;
}

static const char *git_msg(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown error";
}

int gh_history(git_repository *repo, const git_oid *head, struct gh_history *h)
{
	*h = (struct gh_history){0};
	git_revwalk *w = NULL;
	git_oid id;
	int rc = -1;
	if (git_revwalk_new(&w, repo) || git_revwalk_push(w, head))
		goto out;
	int r;
	while (!(r = git_revwalk_next(&id, w))) {
		git_commit *c;
		if (git_commit_lookup(&c, repo, &id))
			goto out;
		int64_t t = (int64_t)git_commit_time(c);
		if (!h->commits || t < h->first)
			h->first = t;
		if (!h->commits || t > h->last)
			h->last = t;
		h->commits++;
		git_commit_free(c);
	}
	rc = r == GIT_ITEROVER ? 0 : -1;
out:
	if (rc)
		err_set("walking the history: %s", git_msg());
	git_revwalk_free(w);
	return rc;
}

/* ---- the BM25 cache ----
 * Ownership: the cache owns every index; a commit's context borrows pointers to them for the
 * span of one gh_bm25_top call. An index lives in its own allocation, so growing the table
 * moves only pointers, and the cache is trimmed to its budget only between commits
 * (cache_trim, before a context is built), never while a context holds borrowed indexes. The
 * budget is therefore exceeded by at most one snapshot's indexes, which one query needs at
 * once anyway. */

struct cached {
	git_oid id;
	int used;
	struct gh_bm25_doc *d; /* NULL: not retrievable (binary, too large, not code) */
};

struct cache {
	struct cached *v;
	size_t cap, n, bytes, budget;
	uint64_t trims; /* times the cache was emptied for its budget */
};

static void cache_clear(struct cache *c)
{
	for (size_t i = 0; i < c->cap; i++)
		if (c->v[i].used && c->v[i].d) {
			gh_bm25_doc_release(c->v[i].d);
			free(c->v[i].d);
		}
	if (c->v)
		memset(c->v, 0, c->cap * sizeof *c->v);
	c->n = c->bytes = 0;
}

/* Between commits only: empties the cache when it holds more than its budget. */
static void cache_trim(struct cache *c)
{
	if (c->bytes > c->budget) {
		cache_clear(c);
		c->trims++;
	}
}

static struct cached *cache_slot(struct cache *c, const git_oid *id)
{
	if (2 * (c->n + 1) > c->cap) {
		struct cache old = *c;
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->v = xcalloc(c->cap, sizeof *c->v);
		c->n = 0;
		for (size_t i = 0; i < old.cap; i++) {
			if (!old.v[i].used)
				continue;
			struct cached *s = cache_slot(c, &old.v[i].id);
			*s = old.v[i];
			c->n++;
		}
		free(old.v);
	}
	size_t i = (size_t)be_get(id->id, 8) & (c->cap - 1);
	while (c->v[i].used && git_oid_cmp(&c->v[i].id, id))
		i = (i + 1) & (c->cap - 1);
	return &c->v[i];
}

/* ---- one commit ---- */

struct ctx {
	git_repository *repo;
	const struct gh_commit_opts *o;
	const char *name;
	const json_t *meta;
	struct emit *e;
	struct stats *st;
	struct cache cache;
	struct buf text;
	struct buf shown, msg; /* a path as documents show it; the message in UTF-8 */
};

/* A path as documents show it (gh_path_shown); valid until the next call. */
static const char *shown(struct ctx *c, const char *path)
{
	return gh_path_shown(path, &c->shown);
}

static void section(struct buf *b, const char *tag, const char *path, const char *body,
		    size_t n)
{
	if (path)
		buf_printf(b, "<%s path=\"%s\">\n", tag, path);
	else
		buf_printf(b, "<%s>\n", tag);
	buf_append(b, body, n);
	if (n && body[n - 1] != '\n')
		buf_putc(b, '\n');
}

static int read_blob(git_repository *r, const git_oid *id, git_blob **out)
{
	if (git_blob_lookup(out, r, id)) {
		err_set("reading blob %s: %s", git_oid_tostr_s(id), git_msg());
		return -1;
	}
	return 0;
}

static int in_sorted(char *const *v, size_t n, const char *s)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid], s);
		if (!c)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_readme(const char *path)
{
	if (strchr(path, '/'))
		return 0;
	static const char r[] = "readme";
	for (size_t i = 0; i < sizeof r - 1; i++)
		if (tolower((unsigned char)path[i]) != r[i])
			return 0;
	return 1;
}

/* The BM25 index of a snapshot blob, built on first use; owned by the cache and valid until
 * the next cache_trim. NULL when not retrievable. */
static const struct gh_bm25_doc *indexed(struct ctx *c, const struct gh_entry *en)
{
	struct cached *s = cache_slot(&c->cache, &en->id);
	if (s->used)
		return s->d;
	*s = (struct cached){.id = en->id, .used = 1};
	c->cache.n++;
	git_blob *b;
	if (read_blob(c->repo, &en->id, &b))
		return NULL;
	/* retrievable: what would be a file document (size, content rules) */
	struct buf t = BUF_INIT;
	const char *enc;
	buf_set(&t, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
	if (t.len <= c->o->max_file_size &&
	    !gh_filter_content(c->o->filter, gh_langs_lookup(c->o->langs, en->path), &t, &enc)) {
		/* the path's words count as the file's, so a message naming a file finds it */
		struct buf d = BUF_INIT;
		buf_puts(&d, en->path);
		buf_putc(&d, '\n');
		buf_append(&d, t.p, t.len);
		struct gh_bm25_doc *x = xmalloc(sizeof *x);
		gh_bm25_doc_build(x, d.p, d.len);
		buf_release(&d);
		s->d = x; /* s is still this entry's slot: nothing above touched the table */
		c->cache.bytes += gh_bm25_doc_bytes(x);
	}
	buf_release(&t);
	git_blob_free(b);
	return s->d;
}

/* README, directory tree and retrieved files of the snapshot, into c->text. */
static int context(struct ctx *c, const struct gh_entry *snap, size_t ns, char *const *changed,
		   size_t nchanged, const char *msg, json_t *retrieved)
{
	for (size_t i = 0; i < ns; i++) {
		if (!is_readme(snap[i].path))
			continue;
		git_blob *b;
		if (read_blob(c->repo, &snap[i].id, &b))
			return -1;
		size_t n = (size_t)git_blob_rawsize(b);
		section(&c->text, "readme", shown(c, snap[i].path), git_blob_rawcontent(b),
			n < c->o->readme_max ? n : c->o->readme_max);
		git_blob_free(b);
		break;
	}
	if (ns) {
		buf_puts(&c->text, "<directory_tree>\n");
		for (size_t i = 0; i < ns && (int64_t)i < c->o->tree_max; i++)
			buf_printf(&c->text, "%s\n", shown(c, snap[i].path));
		if ((int64_t)ns > c->o->tree_max)
			buf_printf(&c->text, "... %zu more files\n", ns - (size_t)c->o->tree_max);
	}
	cache_trim(&c->cache); /* no index is borrowed yet: the one safe point to evict */
	const struct gh_bm25_doc **docs = xmalloc((ns ? ns : 1) * sizeof *docs);
	size_t *who = xmalloc((ns ? ns : 1) * sizeof *who), nd = 0;
	for (size_t i = 0; i < ns; i++) {
		if (is_readme(snap[i].path) || in_sorted(changed, nchanged, snap[i].path) ||
		    !gh_langs_lookup(c->o->langs, snap[i].path) ||
		    gh_filter_path(c->o->filter, snap[i].path))
			continue;
		const struct gh_bm25_doc *d = indexed(c, &snap[i]);
		if (d) {
			docs[nd] = d;
			who[nd++] = i;
		}
	}
	size_t k = (size_t)c->o->retrieve, *top = xmalloc((k ? k : 1) * sizeof *top);
	size_t m = gh_bm25_top(docs, nd, msg, strlen(msg), k, c->o->k1, c->o->b, top, NULL);
	int rc = 0;
	for (size_t i = 0; i < m && !rc; i++) {
		const struct gh_entry *en = &snap[who[top[i]]];
		git_blob *b;
		if ((rc = read_blob(c->repo, &en->id, &b)))
			break;
		section(&c->text, "retrieved", shown(c, en->path), git_blob_rawcontent(b),
			(size_t)git_blob_rawsize(b));
		json_array_append_new(retrieved, json_string(shown(c, en->path)));
		git_blob_free(b);
	}
	free(top);
	free(who);
	free(docs);
	return rc;
}

/* The commit message in UTF-8: transcoded from the encoding its header names (git's
 * i18n.commitEncoding), as `git log` shows it; bytes that are still not UTF-8 are replaced
 * when the document is written (counted as utf8_repaired). */
static const char *message(struct ctx *c, git_commit *cm)
{
	const char *msg = git_commit_message(cm), *enc = git_commit_message_encoding(cm);
	if (!enc || !strcasecmp(enc, "UTF-8") || !strcasecmp(enc, "UTF8"))
		return msg;
	if (gh_to_utf8(enc, msg, strlen(msg), &c->msg)) {
		stats_count(c->st, "commit_message_encoding_unknown", 1);
		return msg;
	}
	return c->msg.p;
}

static char status_letter(git_delta_t s)
{
	switch (s) {
	case GIT_DELTA_ADDED: return 'A';
	case GIT_DELTA_DELETED: return 'D';
	case GIT_DELTA_RENAMED: return 'R';
	case GIT_DELTA_COPIED: return 'C';
	case GIT_DELTA_TYPECHANGE: return 'T';
	default: return 'M';
	}
}

static int one_commit(struct ctx *c, git_commit *cm)
{
	git_commit *parent = NULL;
	git_tree *ptree = NULL, *tree = NULL;
	git_diff *diff = NULL;
	git_buf patch = {0};
	struct gh_entry *snap = NULL;
	size_t ns = 0, nchanged = 0;
	char **changed = NULL;
	json_t *paths = json_array(), *retrieved = json_array();
	int rc = -1;
	if ((git_commit_parentcount(cm) && git_commit_parent(&parent, cm, 0)) ||
	    (parent && git_commit_tree(&ptree, parent)) || git_commit_tree(&tree, cm) ||
	    git_diff_tree_to_tree(&diff, c->repo, ptree, tree, NULL) ||
	    git_diff_to_buf(&patch, diff, GIT_DIFF_FORMAT_PATCH)) {
		err_set("commit %s: %s", git_oid_tostr_s(git_commit_id(cm)), git_msg());
		goto out;
	}
	size_t nd = git_diff_num_deltas(diff);
	changed = xmalloc((nd ? nd : 1) * sizeof *changed);
	uint64_t size = patch.size;
	for (size_t i = 0; i < nd; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *p = d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path;
		json_array_append_new(paths, json_string(shown(c, p)));
		if (d->status != GIT_DELTA_ADDED) {
			changed[nchanged++] = xstrdup(d->old_file.path);
			size += d->old_file.size;
		}
	}
	qsort(changed, nchanged, sizeof *changed, str_cmp);
	emit_input(c->e, size);
	if (size > c->o->max_bytes) {
		rc = emit_drop(c->e, NULL, "commit_too_large", size);
		goto out;
	}
	if (gh_tree_files(ptree, &snap, &ns, NULL))
		goto out;
	const char *msg = message(c, cm);
	buf_reset(&c->text);
	if (context(c, snap, ns, changed, nchanged, msg, retrieved))
		goto out;
	section(&c->text, "commit_message", NULL, msg, strlen(msg));
	for (size_t i = 0; i < nd; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		if (d->status == GIT_DELTA_ADDED)
			continue;
		git_blob *b;
		if (read_blob(c->repo, &d->old_file.id, &b))
			goto out;
		const char *p = git_blob_rawcontent(b);
		size_t n = (size_t)git_blob_rawsize(b);
		if (n && memchr(p, 0, n < 8000 ? n : 8000))
			section(&c->text, "before", shown(c, d->old_file.path), "(binary)\n", 9);
		else
			section(&c->text, "before", shown(c, d->old_file.path), p, n);
		git_blob_free(b);
	}
	buf_puts(&c->text, "<changed_paths>\n");
	for (size_t i = 0; i < nd; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *p = d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path;
		buf_printf(&c->text, "%c %s\n", status_letter(d->status), shown(c, p));
	}
	section(&c->text, "patch", NULL, patch.ptr ? patch.ptr : "", patch.size);

	struct doc doc;
	doc_init(&doc);
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof hex, git_commit_id(cm));
	buf_printf(&doc.id, "gh-commit:%s:%s", c->name, hex);
	buf_set(&doc.text, c->text.p, c->text.len);
	buf_puts(&doc.source, "commit");
	json_object_update(doc.meta, (json_t *)c->meta);
	json_object_set_new(doc.meta, "commit", json_string(hex));
	json_object_set_new(doc.meta, "parent",
			    parent ? json_string(git_oid_tostr_s(git_commit_id(parent))) : json_null());
	json_object_set_new(doc.meta, "merge", json_false());
	json_object_set_new(doc.meta, "time", json_integer((json_int_t)git_commit_time(cm)));
	json_object_set(doc.meta, "changed_paths", paths);
	json_object_set(doc.meta, "retrieved", retrieved);
	rc = emit_keep(c->e, &doc);
	doc_release(&doc);
out:
	json_decref(paths);
	json_decref(retrieved);
	for (size_t i = 0; i < nchanged; i++)
		free(changed[i]);
	free(changed);
	gh_entries_free(snap, ns);
	git_buf_dispose(&patch);
	git_diff_free(diff);
	git_tree_free(tree);
	git_tree_free(ptree);
	git_commit_free(parent);
	return rc;
}

int gh_commit_docs(git_repository *repo, const git_oid *head, const struct gh_commit_opts *o,
		   const char *repo_name, const json_t *base_meta, struct emit *e,
		   struct stats *st)
{
	struct ctx c = {repo, o, repo_name, base_meta, e, st, {.budget = o->cache_budget}, BUF_INIT,
			BUF_INIT, BUF_INIT};
	git_revwalk *w = NULL;
	git_oid id;
	int rc = -1, r = 0;
	int64_t done = 0;
	if (git_revwalk_new(&w, repo) ||
	    git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) ||
	    git_revwalk_push(w, head)) {
		err_set("walking the history: %s", git_msg());
		goto out;
	}
	while (done < o->max_commits && !(r = git_revwalk_next(&id, w))) {
		git_commit *cm;
		if (git_commit_lookup(&cm, repo, &id)) {
			err_set("commit %s: %s", git_oid_tostr_s(&id), git_msg());
			goto out;
		}
		if (git_commit_parentcount(cm) > 1) {
			stats_count(st, "merge_commits_skipped", 1);
			git_commit_free(cm);
			continue;
		}
		int k = one_commit(&c, cm);
		git_commit_free(cm);
		if (k)
			goto out;
		done++;
	}
	if (done < o->max_commits && r != GIT_ITEROVER) {
		err_set("walking the history: %s", git_msg());
		goto out;
	}
	rc = 0;
out:
	if (c.cache.trims)
		stats_count(st, "commit_cache_trims", c.cache.trims);
	cache_clear(&c.cache);
	free(c.cache.v);
	buf_release(&c.text);
	buf_release(&c.shown);
	buf_release(&c.msg);
	git_revwalk_free(w);
	return rc;
}
