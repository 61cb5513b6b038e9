/* import: the source stage for corpora a user already has. A directory tree becomes one
 * document per file; JSONL files (plain, .gz, .zst) from datatrove, Dolma or The Stack dumps
 * become one document per line with their field names mapped onto curate's schema.
 * Rank 0 lists the inputs; each output shard is a contiguous run of them by size. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import.h"
#include "lines.h"
#include "log.h"
#include "stages.h"

static const struct opt_def import_opts[] = {
	{"paths", OPT_LIST, "[]", 0, 0, NULL,
	 "Directories (one document per file) and JSONL files (.jsonl, .jsonl.gz, .jsonl.zst)."},
	{"format", OPT_ENUM, "auto", 0, 0, "auto|tree|jsonl",
	 "auto: directories are trees, files named *.jsonl[.gz|.zst] or *.json.gz are JSONL; "
	 "tree: every file is a document; jsonl: every file found is JSONL."},
	{"shards", OPT_INT, "16", 1, 1000000, NULL,
	 "Output shards (contiguous runs of input files by size; a JSONL file is never split)."},
	{"source", OPT_STR, "import", 0, 0, NULL,
	 "The source field of documents from trees, and of JSONL records without one."},
	{"include", OPT_LIST, "[]", 0, 0, NULL,
	 "Glob patterns; if any, only files matching one are read. A pattern without '/' "
	 "matches a file name, one with '/' the path relative to its root."},
	{"exclude", OPT_LIST, "[.git, .hg, .svn, __pycache__, node_modules]", 0, 0, NULL,
	 "Glob patterns of files and directories to skip (same matching as include)."},
	{"max_file_size", OPT_SIZE, "10MiB", 0, 1e13, NULL,
	 "Tree files larger than this are dropped (reason too_large)."},
	{"skip_binary", OPT_BOOL, "true", 0, 0, NULL,
	 "Drop tree files with a NUL byte in their first 8000 bytes (reason binary), as git does."},
	{"invalid_utf8", OPT_ENUM, "repair", 0, 0, "repair|drop",
	 "Text that is not valid UTF-8: repair (each bad sequence becomes U+FFFD, counted in "
	 "metadata.invalid_utf8) or drop (reason invalid_utf8)."},
	{"follow_symlinks", OPT_BOOL, "false", 0, 0, NULL,
	 "Read symbolic links to files (links to directories are never followed)."},
	{"fields.id", OPT_STR, "id", 0, 0, NULL,
	 "JSONL field holding the id (dots reach into objects: meta.id). Without one the id is "
	 "PATH:LINE."},
	{"fields.text", OPT_STR, "text", 0, 0, NULL,
	 "JSONL field holding the text (The Stack: content)."},
	{"fields.source", OPT_STR, "source", 0, 0, NULL, "JSONL field holding the source."},
	{"fields.metadata", OPT_STR, "metadata", 0, 0, NULL,
	 "JSONL object field merged into metadata. Every other top-level field goes into "
	 "metadata under its own name."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

enum { KIND_TREE = 't', KIND_JSONL = 'j' };

/* ---- planning on rank 0 ---- */

struct entry {
	char kind;
	unsigned root;
	char *rel;
	uint64_t size;
	int64_t mtime_ns;
};

struct walk {
	const char *format;
	const char *const *include, *const *exclude;
	size_t ninclude, nexclude;
	int follow;
	struct entry *v;
	size_t n, cap;
	size_t special; /* FIFOs, sockets, devices seen and skipped */
};

static int is_jsonl_name(const char *name)
{
	static const char *const ext[] = {".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.zstd",
					  ".json.gz", ".json.zst", ".ndjson", ".ndjson.gz"};
	size_t n = strlen(name);
	for (size_t i = 0; i < ARRAY_LEN(ext); i++) {
		size_t m = strlen(ext[i]);
		if (n > m && !strcmp(name + n - m, ext[i]))
			return 1;
	}
	return 0;
}

static int matches(const char *rel, const char *name, const char *const *pats, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *subject = strchr(pats[i], '/') ? rel : name;
		if (!fnmatch(pats[i], subject, 0))
			return 1;
	}
	return 0;
}

static void add_entry(struct walk *w, char kind, unsigned root, const char *rel,
		      const struct stat *st)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->v = xrealloc(w->v, w->cap * sizeof *w->v);
	}
	w->v[w->n++] = (struct entry){kind, root, xstrdup(rel), (uint64_t)st->st_size,
				      (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec};
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name); /* bytewise: the same on every machine */
}

static void walk_dir(struct walk *w, unsigned root, const char *top, const char *rel)
{
	char *dir = *rel ? xasprintf("%s/%s", top, rel) : xstrdup(top);
	struct dirent **names;
	int n = scandir(dir, &names, NULL, by_name);
	if (n < 0) {
		log_warn("import: %s: cannot read directory: %s; skipped", dir, strerror(errno));
		free(dir);
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (!strcmp(name, ".") || !strcmp(name, "..") ||
		    matches(rel, name, w->exclude, w->nexclude))
			goto next;
		char *sub = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
		char *full = xasprintf("%s/%s", dir, name);
		struct stat st;
		if (lstat(full, &st))
			goto skip;
		if (S_ISLNK(st.st_mode) && (!w->follow || stat(full, &st) || !S_ISREG(st.st_mode)))
			goto skip;
		if (S_ISDIR(st.st_mode)) {
			walk_dir(w, root, top, sub);
		} else if (S_ISREG(st.st_mode)) {
			int jsonl = !strcmp(w->format, "jsonl") ? 1 : 0;
			if (jsonl && !is_jsonl_name(name))
				goto skip;
			if (w->ninclude && !matches(sub, name, w->include, w->ninclude))
				goto skip;
			add_entry(w, jsonl ? KIND_JSONL : KIND_TREE, root, sub, &st);
		} else {
			w->special++; /* opening a FIFO would block for ever */
		}
	skip:
		free(sub);
		free(full);
	next:
		free(names[i]);
	}
	free(names);
	free(dir);
}

static void walk_release(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].rel);
	free(w->v);
}

static const char *file_kind(mode_t m)
{
	return S_ISFIFO(m) ? "a named pipe" : S_ISSOCK(m) ? "a socket" :
	       S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" :
	       "not a regular file";
}

static int import_plan(struct stage_run *run, struct task_list *tasks, struct buf *sig)
{
	struct walk w = {.format = config_str(run->cfg, "import.format")};
	w.ninclude = config_list(run->cfg, "import.include", &w.include);
	w.nexclude = config_list(run->cfg, "import.exclude", &w.exclude);
	w.follow = config_bool(run->cfg, "import.follow_symlinks");
	const char *const *roots;
	size_t nroots = config_list(run->cfg, "import.paths", &roots);
	if (!nroots) {
		err_set("import.paths is empty: name at least one directory or JSONL file (%s)",
			config_origin(run->cfg, "import.paths"));
		return -1;
	}
	for (unsigned r = 0; r < nroots; r++) {
		struct stat st;
		if (stat(roots[r], &st)) {
			err_set("import.paths: %s: %s", roots[r], strerror(errno));
			walk_release(&w);
			return -1;
		}
		if (S_ISDIR(st.st_mode)) {
			walk_dir(&w, r, roots[r], "");
		} else if (!S_ISREG(st.st_mode)) {
			/* a FIFO would block the shard for ever, a device never end */
			err_set("import.paths: %s is %s: name directories and regular files only",
				roots[r], file_kind(st.st_mode));
			walk_release(&w);
			return -1;
		} else {
			int jsonl = !strcmp(w.format, "jsonl") ||
				    (!strcmp(w.format, "auto") && is_jsonl_name(roots[r]));
			add_entry(&w, jsonl ? KIND_JSONL : KIND_TREE, r, "", &st);
		}
	}
	if (w.special)
		log_warn("import: %zu named pipes, sockets or devices under import.paths skipped",
			 w.special);
	if (!w.n)
		log_warn("import: no input files found under import.paths");

	/* contiguous runs by weight; a per-file overhead keeps empty files from piling up */
	uint64_t total = 0;
	for (size_t i = 0; i < w.n; i++)
		total += w.v[i].size + 256;
	struct task_runs runs;
	task_runs_init(&runs, tasks, (uint64_t)config_int(run->cfg, "import.shards"), w.n, total);
	for (size_t i = 0; i < w.n; i++) {
		struct entry *e = &w.v[i];
		struct task *t = task_runs_next(&runs, e->size + 256);
		buf_printf(&t->arg, "%c\t%u\t%s", e->kind, e->root, e->rel);
		buf_putc(&t->arg, 0);
		t->size += e->size;
		buf_printf(sig, "%c %u %s %llu %lld\n", e->kind, e->root, e->rel,
			   (unsigned long long)e->size, (long long)e->mtime_ns);
		free(e->rel);
	}
	for (size_t r = 0; r < nroots; r++)
		buf_printf(sig, "root %zu %s\n", r, roots[r]);
	free(w.v);
	log_info("import: %zu files (%.1f MB) in %llu shards", w.n, (double)total / 1e6,
		 (unsigned long long)runs.shards);
	return 0;
}

/* ---- producing documents ---- */

/* What is wrong with a file is a drop (too_large, binary, invalid_utf8, bad_json, a damaged
 * compressed stream); what is wrong with reading it (EIO, a directory renamed away,
 * permissions, a file gone since the plan) fails the shard, so that a rerun reads it: a drop
 * would lose it for good, as a rerun skips a stage that ended done. */

struct importer {
	struct emit *e;
	struct stats *st; /* the shard's: repairs made here count in utf8_repaired */
	struct doc d;
	struct buf fix; /* a repaired text or line */
	const char *const *roots;
	struct import_fields f; /* f.default_source: the source of tree documents too */
	uint64_t max_size;
	int skip_binary, drop_invalid;
	unsigned warnings;
};

#define MAX_WARNINGS 20 /* per shard; the counts in stats.json hold the rest */

static void warn_limited(struct importer *im, const char *what)
{
	if (im->warnings++ < MAX_WARNINGS)
		log_warn("import: %s; skipped", what);
	else if (im->warnings == MAX_WARNINGS + 1)
		log_warn("import: more bad records in this shard; see stats.json for the counts");
}

/* Sets the shard's error for a failed read of path; errno says why. */
static int input_error(const char *path, const char *what)
{
	err_set("%s: %s: %s", path, what, strerror(errno));
	return -1;
}

/* A listed file that is no longer a regular file has changed since the plan. */
static int not_regular(const char *path, mode_t mode)
{
	err_set("%s: is %s now, not the regular file the plan listed", path, file_kind(mode));
	return -1;
}

/* Counts n repairs in the document being kept: in metadata.invalid_utf8, and in the
 * stage's utf8_repaired, where the shard writer counts the repairs it makes itself. */
static void count_repairs(struct importer *im, size_t n)
{
	json_object_set_new(im->d.meta, "invalid_utf8", json_integer((json_int_t)n));
	stats_count(im->st, "utf8_repaired", n);
}

/* Applies the UTF-8 policy to a tree file's text: 1 keep, 0 dropped. The text is repaired
 * here rather than when written so that bytes_out counts the bytes the shard holds. */
static int check_utf8(struct importer *im, uint64_t bytes)
{
	struct doc *d = &im->d;
	size_t bad = utf8_invalid_count(d->text.p, d->text.len);
	if (!bad)
		return 1;
	if (im->drop_invalid) {
		emit_drop(im->e, NULL, "invalid_utf8", bytes);
		return 0;
	}
	buf_reset(&im->fix);
	utf8_repair(&im->fix, d->text.p, d->text.len);
	struct buf t = d->text;
	d->text = im->fix;
	im->fix = t;
	count_repairs(im, bad);
	return 1;
}

static int read_whole(int fd, struct buf *b, uint64_t size)
{
	buf_reset(b);
	buf_grow(b, size);
	for (;;) {
		buf_grow(b, 65536);
		ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->p[b->len] = 0;
	return 0;
}

static int import_file(struct importer *im, const char *path, const char *name)
{
	struct doc *d = &im->d;
	struct stat st;
	/* O_NONBLOCK: a file replaced by a FIFO since the plan must not block the open */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return input_error(path, "cannot open");
	if (fstat(fd, &st)) {
		input_error(path, "cannot stat");
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return not_regular(path, st.st_mode);
	}
	uint64_t size = (uint64_t)st.st_size;
	emit_input(im->e, size);
	if (size > im->max_size) {
		close(fd);
		return emit_drop(im->e, NULL, "too_large", size);
	}
	doc_reset(d);
	if (read_whole(fd, &d->text, size) < 0) {
		input_error(path, "read error");
		close(fd);
		return -1;
	}
	close(fd);
	buf_set(&d->id, path, strlen(path));
	buf_set(&d->source, im->f.default_source, strlen(im->f.default_source));
	json_object_set_new(d->meta, "path", json_string_nocheck(name));
	if (im->skip_binary &&
	    memchr(d->text.p, 0, d->text.len < 8000 ? d->text.len : 8000))
		return emit_drop(im->e, d, "binary", size);
	if (!check_utf8(im, size))
		return 0;
	return emit_keep(im->e, d);
}

/* json_object_get along a dotted path. */
static json_t *get_path(json_t *o, const char *path)
{
	const char *dot;
	while (o && (dot = strchr(path, '.'))) {
		char key[256];
		size_t n = (size_t)(dot - path);
		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return o ? json_object_get(o, path) : NULL;
}

static int is_mapped(const struct import_fields *f, const char *key)
{
	return !strcmp(key, f->id) || !strcmp(key, f->text) || !strcmp(key, f->source) ||
	       !strcmp(key, f->meta);
}

int import_map_record(const struct import_fields *f, const char *path, uint64_t lineno,
		      const char *line, size_t len, struct doc *d, const char **reason)
{
	json_error_t err;
	json_t *j = json_loadb(line, len, JSON_ALLOW_NUL, &err);
	if (!j || !json_is_object(j)) {
		err_set("%s:%llu: not a JSON object%s%s", path, (unsigned long long)lineno,
			j ? "" : ": ", j ? "" : err.text);
		json_decref(j);
		*reason = "bad_json";
		return 0;
	}
	json_t *text = get_path(j, f->text);
	if (!json_is_string(text)) {
		err_set("%s:%llu: field '%s' is missing or not a string", path,
			(unsigned long long)lineno, f->text);
		json_decref(j);
		*reason = "no_text";
		return 0;
	}
	doc_reset(d);
	buf_set(&d->text, json_string_value(text), json_string_length(text));
	json_t *id = get_path(j, f->id);
	if (json_is_string(id))
		buf_set(&d->id, json_string_value(id), json_string_length(id));
	else if (json_is_integer(id))
		buf_printf(&d->id, "%lld", (long long)json_integer_value(id));
	else
		buf_printf(&d->id, "%s:%llu", path, (unsigned long long)lineno);
	json_t *src = get_path(j, f->source);
	if (json_is_string(src)) /* by length: a \u0000 inside is kept, as in text and id */
		buf_set(&d->source, json_string_value(src), json_string_length(src));
	else
		buf_set(&d->source, f->default_source, strlen(f->default_source));
	json_t *meta = get_path(j, f->meta);
	if (json_is_object(meta))
		json_object_update(d->meta, meta);
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v) {
		if (!is_mapped(f, key) && !json_object_get(d->meta, key))
			json_object_set(d->meta, key, v);
	}
	json_decref(j);
	return 1;
}

/* The code unit of the \uXXXX escape at p, or -1 if none is there. */
static long escape_u(const char *p, const char *end)
{
	long v = 0;

	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		int c = (unsigned char)p[i], lc = c | 0x20;
		if (c >= '0' && c <= '9')
			v = v << 4 | (c - '0');
		else if (lc >= 'a' && lc <= 'f') /* only A-F and a-f land here */
			v = v << 4 | (lc - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/* How many bytes of the escape at p (a backslash) stay as they are; 0 for a lone surrogate.
 * Any other escape keeps its backslash and the ASCII char after it, so that \\ud800 stays a
 * backslash and text; a non-ASCII byte after it is left to the UTF-8 repair. */
static size_t escape_keep(const char *p, const char *end)
{
	long u = escape_u(p, end);
	if (u >= 0xd800 && u <= 0xdbff) {
		long lo = escape_u(p + 6, end);
		return lo >= 0xdc00 && lo <= 0xdfff ? 12 : 0;
	}
	if (u >= 0xdc00 && u <= 0xdfff)
		return 0;
	if (u >= 0)
		return 6;
	return end - p >= 2 && (unsigned char)p[1] < 0x80 ? 2 : 1;
}

/* Both repairs touch disjoint bytes (UTF-8 repair only non-ASCII ones, escapes are ASCII),
 * so one pass over the runs between backslashes does both. */
size_t import_repair_line(struct buf *out, const char *line, size_t len)
{
	const char *p = line, *end = line + len;
	size_t bad = 0;

	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = (size_t)((bs ? bs : end) - p);
		bad += out ? utf8_repair(out, p, run) : utf8_invalid_count(p, run);
		if (!bs)
			break;
		size_t k = escape_keep(bs, end);
		if (out)
			buf_append(out, k ? bs : "\\ufffd", k ? k : 6);
		bad += !k;
		p = bs + (k ? k : 6);
	}
	return bad;
}

static int import_record(struct importer *im, const char *path, uint64_t lineno,
			 const char *line, size_t len)
{
	const char *reason;
	uint64_t bytes = len;
	emit_input(im->e, bytes);
	/* jansson turns down invalid UTF-8 and lone surrogates: the policy decides first */
	size_t bad = import_repair_line(NULL, line, len);
	if (bad && im->drop_invalid)
		return emit_drop(im->e, NULL, "invalid_utf8", bytes);
	if (bad) {
		buf_reset(&im->fix);
		import_repair_line(&im->fix, line, len);
		line = im->fix.p;
		len = im->fix.len;
	}
	if (!import_map_record(&im->f, path, lineno, line, len, &im->d, &reason)) {
		warn_limited(im, err_get());
		return emit_drop(im->e, NULL, reason, bytes);
	}
	if (bad)
		count_repairs(im, bad);
	return emit_keep(im->e, &im->d);
}

/* lines reports a failed read(2) and damaged content alike, as "PATH: line N (byte offset
 * O): what"; only its read failures say "read error" (pipeline/lines.c, read_raw). */
static int is_read_failure(const char *msg)
{
	return strstr(msg, "): read error: ") != NULL;
}

static int import_jsonl(struct importer *im, const char *path)
{
	struct stat st;
	/* lines_open would block on a FIFO that replaced a listed file */
	if (stat(path, &st))
		return input_error(path, "cannot stat");
	if (!S_ISREG(st.st_mode))
		return not_regular(path, st.st_mode);
	struct lines *r = lines_open(path, 0);
	if (!r)
		return -1; /* err_set names the file and the errno: a failed open or read */
	const char *line;
	size_t len;
	int rc;
	while ((rc = lines_next(r, &line, &len)) == 1) {
		if (len == 0 || (len == 1 && line[0] == '\r'))
			continue;
		if (import_record(im, path, lines_lineno(r), line, len) < 0) {
			lines_close(r);
			return -1;
		}
	}
	if (rc < 0 && is_read_failure(err_get())) {
		lines_close(r);
		return -1;
	}
	if (rc < 0) {
		/* damaged content (a truncated or corrupt stream): what came before it is kept,
		 * the rest of the file is one input dropped, so that in - out = dropped */
		log_warn("import: %s; the records before it are kept", err_get());
		emit_input(im->e, 0);
		emit_drop(im->e, NULL, "read_error", 0);
	}
	lines_close(r);
	return 0;
}

static int import_produce(struct stage_run *run, const struct task *t, struct emit *e)
{
	struct importer im = {.e = e, .st = stage_stats(run)};
	doc_init(&im.d);
	config_list(run->cfg, "import.paths", &im.roots);
	im.f.default_source = config_str(run->cfg, "import.source");
	im.f.id = config_str(run->cfg, "import.fields.id");
	im.f.text = config_str(run->cfg, "import.fields.text");
	im.f.source = config_str(run->cfg, "import.fields.source");
	im.f.meta = config_str(run->cfg, "import.fields.metadata");
	im.max_size = config_size(run->cfg, "import.max_file_size");
	im.skip_binary = config_bool(run->cfg, "import.skip_binary");
	im.drop_invalid = !strcmp(config_str(run->cfg, "import.invalid_utf8"), "drop");

	int rc = 0;
	for (const char *p = t->arg.p, *end = t->arg.p + t->arg.len; p < end && !rc;
	     p += strlen(p) + 1) {
		char kind = p[0];
		char *tab;
		unsigned root = (unsigned)strtoul(p + 2, &tab, 10);
		const char *rel = tab + 1;
		char *path = *rel ? xasprintf("%s/%s", im.roots[root], rel) : xstrdup(im.roots[root]);
		const char *name = *rel ? rel : (strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		rc = kind == KIND_JSONL ? import_jsonl(&im, path) : import_file(&im, path, name);
		free(path);
	}
	doc_release(&im.d);
	buf_release(&im.fix);
	return rc;
}

const struct stage_def stage_import = {
	.name = "import",
	.kind = STAGE_SOURCE,
	.summary = "read existing corpora: directory trees and JSONL / JSONL.gz / JSONL.zst files",
	.opts = import_opts,
	.version = 2, /* 2: JSONL lines with invalid UTF-8 repaired, not dropped */
	.plan = import_plan,
	.produce = import_produce,
};
