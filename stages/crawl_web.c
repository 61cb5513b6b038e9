/* crawl-web: the web source stage. Streams WARC / WARC.gz files (Common Crawl, wget, warcio),
 * keeps HTML responses with status 200, undoes HTTP encodings, transcodes to UTF-8, and
 * extracts each page's text by rules with code blocks fenced verbatim (stages/web/). Pages
 * without code markup are kept as candidates for the relevance stage. Fetching WARCs from the
 * network is not its job: give it local paths or list files of paths. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "stages.h"
#include "web/category.h"
#include "web/charset.h"
#include "web/html.h"
#include "web/http.h"
#include "web/warc.h"

static const struct opt_def web_opts[] = {
	{"paths", OPT_LIST, "[]", 0, 0, NULL,
	 "WARC files (.warc, .warc.gz), directories (searched for them) and list files (.txt, "
	 ".list, .paths: one path per line, relative to the list's folder, # comments)."},
	{"shards", OPT_INT, "16", 1, 1000000, NULL,
	 "Output shards (contiguous runs of WARC files by size; a file is never split)."},
	{"max_page_size", OPT_SIZE, "5MiB", 1024, 1e12, NULL,
	 "Records whose block, or pages whose decoded body, is larger are dropped (too_large)."},
	{"min_words", OPT_INT, "10", 0, 1e9, NULL,
	 "Drop pages whose extracted text has fewer words (reason too_few_words)."},
	{"content_types", OPT_LIST, "[text/html, application/xhtml+xml]", 0, 0, NULL,
	 "MIME types read as HTML; other responses are dropped (not_html). A response without "
	 "Content-Type is HTML if it starts like HTML."},
	{"code_only", OPT_BOOL, "false", 0, 0, NULL,
	 "Drop pages without code blocks (no_code_markup) instead of keeping them as candidates "
	 "for the relevance classifier (metadata.has_code_markup=false)."},
	{"boilerplate", OPT_BOOL, "true", 0, 0, NULL,
	 "Leave out navigation, site headers and footers, sidebars, cookie banners and the like."},
	{"category_rules", OPT_LIST, "[]", 0, 0, NULL,
	 "Site category rules CATEGORY:FIELD:GLOB tried before the built-in ones; CATEGORY is "
	 "documentation|blog|forum|qa|other, FIELD url|generator|schema|og_type (docs/crawl-web.md)."},
	{"builtin_category_rules", OPT_BOOL, "true", 0, 0, NULL,
	 "Use the built-in category rules after category_rules."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* ---- planning on rank 0 ---- */

struct input {
	char *path;
	uint64_t size;
	int64_t mtime_ns;
};

struct inputs {
	struct input *v;
	size_t n, cap;
};

/* A name longer than one of the extensions and ending with it (".warc" alone is no WARC). */
static int has_ext(const char *name, const char *const *ext, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(name) > strlen(ext[i]) && str_ends_with(name, ext[i]))
			return 1;
	return 0;
}

static int is_warc_name(const char *name)
{
	static const char *const ext[] = {".warc", ".warc.gz"};
	return has_ext(name, ext, ARRAY_LEN(ext));
}

static int is_list_name(const char *name)
{
	static const char *const ext[] = {".txt", ".list", ".paths"};
	return has_ext(name, ext, ARRAY_LEN(ext));
}

static int add_input(struct inputs *in, const char *path)
{
	struct stat st;
	if (stat(path, &st) || !S_ISREG(st.st_mode)) {
		err_set("crawl-web.paths: %s: %s", path, errno ? strerror(errno) : "not a file");
		return -1;
	}
	if (in->n == in->cap) {
		in->cap = in->cap ? 2 * in->cap : 64;
		in->v = xrealloc(in->v, in->cap * sizeof *in->v);
	}
	in->v[in->n++] = (struct input){xstrdup(path), (uint64_t)st.st_size,
					(int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name); /* bytewise: the same on every machine */
}

static int add_dir(struct inputs *in, const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, by_name);
	if (n < 0) {
		err_set("crawl-web.paths: %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (!rc && name[0] != '.') {
			char *p = xasprintf("%s/%s", dir, name);
			struct stat st;
			if (!stat(p, &st) && S_ISDIR(st.st_mode))
				rc = add_dir(in, p);
			else if (is_warc_name(name))
				rc = add_input(in, p);
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static int add_list(struct inputs *in, const char *list)
{
	struct buf b = BUF_INIT;
	if (read_file(list, &b) < 0)
		return -1;
	const char *slash = strrchr(list, '/');
	char *dir = slash ? xstrndup(list, (size_t)(slash - list)) : xstrdup(".");
	int rc = 0, lineno = 0;
	for (char *line = b.p, *next; line && *line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = 0;
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		char *p = *line == '/' ? xstrdup(line) : xasprintf("%s/%s", dir, line);
		if (add_input(in, p) < 0) {
			err_set("%s:%d: %s: %s", list, lineno, p, strerror(errno ? errno : ENOENT));
			rc = -1;
		}
		free(p);
	}
	free(dir);
	buf_release(&b);
	return rc;
}

static int web_plan(struct stage_run *run, struct task_list *tasks, struct buf *sig)
{
	const char *const *paths;
	size_t np = config_list(run->cfg, "crawl-web.paths", &paths);
	if (!np) {
		err_set("crawl-web.paths is empty: name at least one WARC file, folder or list (%s)",
			config_origin(run->cfg, "crawl-web.paths"));
		return -1;
	}
	struct inputs in = {0};
	int rc = 0;
	for (size_t i = 0; i < np && !rc; i++) {
		struct stat st;
		if (stat(paths[i], &st)) {
			err_set("crawl-web.paths: %s: %s", paths[i], strerror(errno));
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = add_dir(&in, paths[i]);
		} else if (is_list_name(paths[i])) {
			rc = add_list(&in, paths[i]);
		} else {
			rc = add_input(&in, paths[i]);
		}
	}
	uint64_t total = 0;
	for (size_t i = 0; i < in.n; i++)
		total += in.v[i].size + 256;
	struct task_runs runs = {0};
	if (!rc)
		task_runs_init(&runs, tasks, (uint64_t)config_int(run->cfg, "crawl-web.shards"),
			       in.n, total);
	for (size_t i = 0; i < in.n; i++) {
		if (!rc) {
			struct task *t = task_runs_next(&runs, in.v[i].size + 256);
			buf_puts(&t->arg, in.v[i].path);
			buf_putc(&t->arg, 0);
			t->size += in.v[i].size;
			buf_printf(sig, "%s %llu %lld\n", in.v[i].path, (unsigned long long)in.v[i].size,
				   (long long)in.v[i].mtime_ns);
		}
		free(in.v[i].path);
	}
	free(in.v);
	if (!rc)
		log_info("crawl-web: %zu WARC files (%.1f MB) in %llu shards", in.n,
			 (double)total / 1e6, (unsigned long long)runs.shards);
	return rc;
}

/* ---- producing documents ---- */

struct web {
	struct charset_conv *cs;
	struct category_rules *cats;
	const char *const *types;
	size_t ntypes;
	uint64_t max_page;
	int64_t min_words;
	int code_only, boilerplate;
	struct html_page pg;
	struct buf decoded, dechunked, utf8;
	struct doc d;
};

static int web_setup(struct stage_run *run)
{
	const char *const *rules;
	size_t nrules = config_list(run->cfg, "crawl-web.category_rules", &rules);
	struct category_rules *cats =
		category_rules_new(rules, nrules, config_bool(run->cfg, "crawl-web.builtin_category_rules"));
	if (!cats)
		return -1;
	struct web *w = xcalloc(1, sizeof *w);
	w->cats = cats;
	w->cs = charset_conv_new();
	w->ntypes = config_list(run->cfg, "crawl-web.content_types", &w->types);
	w->max_page = config_size(run->cfg, "crawl-web.max_page_size");
	w->min_words = config_int(run->cfg, "crawl-web.min_words");
	w->code_only = config_bool(run->cfg, "crawl-web.code_only");
	w->boilerplate = config_bool(run->cfg, "crawl-web.boilerplate");
	html_init();
	html_page_init(&w->pg);
	doc_init(&w->d);
	run->state = w;
	return 0;
}

static void web_teardown(struct stage_run *run)
{
	struct web *w = run->state;
	if (!w)
		return;
	charset_conv_free(w->cs);
	category_rules_free(w->cats);
	html_page_release(&w->pg);
	buf_release(&w->decoded);
	buf_release(&w->dechunked);
	buf_release(&w->utf8);
	doc_release(&w->d);
	free(w);
	run->state = NULL;
}

/* One file being read: where documents go and how many warnings were printed. */
struct reading {
	struct web *w;
	struct emit *e;
	struct stats *st;
	const char *path;
	unsigned warnings;
};

#define MAX_WARNINGS 20 /* per shard; stats.json holds the counts */

static void warn_at(struct reading *rd, uint64_t offset, const char *what, const char *detail)
{
	if (rd->warnings++ < MAX_WARNINGS)
		log_warn("crawl-web: %s: offset %llu: %s%s%s; skipped", rd->path,
			 (unsigned long long)offset, what, *detail ? ": " : "", detail);
	else if (rd->warnings == MAX_WARNINGS + 1)
		log_warn("crawl-web: more bad records in this shard; see stats.json for the counts");
}

static void count(struct reading *rd, const char *prefix, const char *name)
{
	char key[96];
	snprintf(key, sizeof key, "crawl-web.%s%s", prefix, *name ? name : "none");
	stats_count(rd->st, key, 1);
}

static int is_html_type(const struct web *w, const char *mime, const char *body, size_t n)
{
	if (!*mime) { /* no header: sniff as browsers do */
		size_t i = 0;
		while (i < n && i < 512 && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' ||
					    body[i] == '\t'))
			i++;
		return n - i > 5 && (!strncasecmp(body + i, "<!doctype html", n - i < 14 ? n - i : 14) ||
				     !strncasecmp(body + i, "<html", 5));
	}
	for (size_t i = 0; i < w->ntypes; i++)
		if (!strcasecmp(mime, w->types[i]))
			return 1;
	return 0;
}

/* Metadata of the kept (or rejected) page. */
static void page_meta(struct reading *rd, const struct warc_record *rec, const char *mime,
		      const char *charset, long replaced)
{
	struct web *w = rd->w;
	json_t *m = w->d.meta;
	json_object_set_new(m, "url", json_string(rec->target_uri));
	json_object_set_new(m, "warc_record_id", json_string(rec->record_id));
	json_object_set_new(m, "warc_date", json_string(rec->date));
	json_object_set_new(m, "content_type", json_string(mime));
	json_object_set_new(m, "charset", json_string(charset));
	json_object_set_new(m, "category", json_string(category_of(w->cats, rec->target_uri, &w->pg)));
	json_object_set_new(m, "has_code_markup", json_boolean(w->pg.code_blocks > 0));
	json_object_set_new(m, "code_blocks", json_integer(w->pg.code_blocks));
	json_t *langs = json_array();
	for (unsigned i = 0; i < w->pg.nlangs; i++)
		json_array_append_new(langs, json_string(w->pg.langs[i]));
	json_object_set_new(m, "code_languages", langs);
	json_object_set_new(m, "title", json_stringn(w->pg.title.p ? w->pg.title.p : "", w->pg.title.len));
	json_object_set_new(m, "words", json_integer(w->pg.words));
	json_object_set_new(m, "warc_file", json_string(rd->path));
	json_object_set_new(m, "warc_offset", json_integer((json_int_t)rec->offset));
	if (replaced)
		json_object_set_new(m, "invalid_chars", json_integer(replaced));
}

/* A page's body (HTTP already undone) through charset and HTML into a document. */
static int page(struct reading *rd, const struct warc_record *rec, const char *mime,
		const char *http_charset, const char *body, size_t n)
{
	struct web *w = rd->w;
	char charset[40];
	const char *from = charset_detect(w->cs, body, n, http_charset, charset, sizeof charset);
	count(rd, "charset_from.", from);
	buf_reset(&w->utf8);
	long replaced = charset_to_utf8(w->cs, body, n, charset, &w->utf8);
	if (replaced < 0) {
		warn_at(rd, rec->offset, "cannot convert from charset", charset);
		return emit_drop(rd->e, NULL, "bad_charset", n);
	}
	int rc = html_extract(w->utf8.p ? w->utf8.p : "", w->utf8.len, w->boilerplate, &w->pg);
	stats_count(rd->st, "crawl-web.html_parse_us", (uint64_t)(w->pg.parse_seconds * 1e6));
	if (rc < 0) {
		warn_at(rd, rec->offset, "HTML", err_get());
		return emit_drop(rd->e, NULL, "html_error", n);
	}
	struct doc *d = &w->d;
	doc_reset(d);
	if (*rec->record_id)
		buf_puts(&d->id, rec->record_id);
	else
		buf_printf(&d->id, "%s:%llu", rd->path, (unsigned long long)rec->offset);
	buf_set(&d->text, w->pg.text.p, w->pg.text.len);
	buf_puts(&d->source, "web");
	page_meta(rd, rec, mime, charset, replaced);
	if (w->pg.words < (uint64_t)w->min_words)
		return emit_drop(rd->e, d, "too_few_words", n);
	if (w->code_only && !w->pg.code_blocks)
		return emit_drop(rd->e, d, "no_code_markup", n);
	if (w->pg.code_blocks)
		stats_count(rd->st, "crawl-web.code_pages", 1);
	count(rd, "category.", json_string_value(json_object_get(d->meta, "category")));
	return emit_keep(rd->e, d);
}

/* A response or resource record. */
static int record(struct reading *rd, const struct warc_record *rec)
{
	struct web *w = rd->w;
	emit_input(rd->e, rec->length);
	struct http_response h;
	const char *mime = "";
	const char *body = rec->block;
	size_t n = (size_t)rec->length;
	if (!strcmp(rec->type, "response")) {
		if (http_parse(rec->block, n, &h) < 0) {
			warn_at(rd, rec->offset, "not an HTTP response", err_get());
			return emit_drop(rd->e, NULL, "bad_http", rec->length);
		}
		if (h.status != 200)
			return emit_drop(rd->e, NULL, "http_status", rec->length);
		mime = h.mime;
		if (!is_html_type(w, mime, h.body, h.body_len))
			return emit_drop(rd->e, NULL, "not_html", rec->length);
		const char *reason = NULL;
		if (http_decode_body(&h, &w->decoded, &w->dechunked, w->max_page, &body, &n, &reason) < 0) {
			if (strcmp(reason, "too_large"))
				warn_at(rd, rec->offset, reason, h.content_encoding);
			return emit_drop(rd->e, NULL, reason, rec->length);
		}
		return page(rd, rec, mime, h.charset, body, n);
	}
	/* resource: the block is the document, typed by the WARC header */
	char type[64], cs[40];
	const char *semi = strchr(rec->content_type, ';');
	size_t tl = semi ? (size_t)(semi - rec->content_type) : strlen(rec->content_type);
	snprintf(type, sizeof type, "%.*s", (int)(tl < 63 ? tl : 63), rec->content_type);
	http_param(rec->content_type, strlen(rec->content_type), "charset", cs, sizeof cs);
	if (!is_html_type(w, type, body, n))
		return emit_drop(rd->e, NULL, "not_html", rec->length);
	return page(rd, rec, type, cs, body, n);
}

/* Says in words what a skipped stretch was; offsets of .gz files are uncompressed ones. */
static void warn_skip(struct reading *rd, const struct warc_reader *r,
		      const struct warc_record *rec, const char *reason, uint64_t bytes)
{
	char what[160];
	const char *kind = *rec->type ? rec->type : "unknown";
	if (!strcmp(reason, "garbage"))
		snprintf(what, sizeof what, "%llu bytes that are no WARC record (garbage)",
			 (unsigned long long)bytes);
	else if (!strcmp(reason, "bad_length"))
		snprintf(what, sizeof what, "%s record: Content-Length %llu does not end at a record "
			 "boundary (bad_length)", kind, (unsigned long long)rec->length);
	else if (!strcmp(reason, "bad_header"))
		snprintf(what, sizeof what, "no valid WARC header: Content-Length missing or malformed, "
			 "or no blank line within 64 KiB (bad_header)");
	else if (!strcmp(reason, "truncated"))
		snprintf(what, sizeof what, "%s record: the file ends inside it (truncated)", kind);
	else
		snprintf(what, sizeof what, "%s record lies in a damaged gzip member: bad deflate data "
			 "or CRC (corrupt_gzip)", kind);
	if (rd->warnings++ < MAX_WARNINGS)
		log_warn("crawl-web: %s: %soffset %llu: %s; skipped", rd->path,
			 warc_is_gzip(r) ? "uncompressed " : "", (unsigned long long)rec->offset, what);
	else if (rd->warnings == MAX_WARNINGS + 1)
		log_warn("crawl-web: more bad records in this shard; see stats.json for the counts");
}

static int read_warc(struct reading *rd)
{
	FILE *f = fopen(rd->path, "rb");
	if (!f) {
		log_warn("crawl-web: %s: cannot open: %s; skipped", rd->path, strerror(errno));
		emit_input(rd->e, 0);
		return emit_drop(rd->e, NULL, "unreadable", 0);
	}
	struct warc_reader *r = warc_open(f, rd->path, rd->w->max_page);
	struct warc_record rec;
	const char *reason;
	uint64_t bytes;
	int rc = 0, got;
	double t0 = html_cpu_seconds(), t_extract = 0; /* CPU time: see html_cpu_seconds */
	while (!rc && (got = warc_next(r, &rec, &reason, &bytes)) != WARC_END) {
		if (got == WARC_ERROR) {
			log_warn("crawl-web: %s; the records before it are kept", err_get());
			emit_input(rd->e, 0);
			rc = emit_drop(rd->e, NULL, "read_error", 0);
			break;
		}
		if (got == WARC_SKIP) {
			if (strcmp(reason, "too_large"))
				warn_skip(rd, r, &rec, reason, bytes);
			emit_input(rd->e, bytes);
			rc = emit_drop(rd->e, NULL, reason, bytes);
			continue;
		}
		static const char *const types[] = {"warcinfo", "response", "resource", "request",
						    "metadata", "revisit", "conversion", "continuation"};
		const char *ty = "other";
		for (size_t i = 0; i < ARRAY_LEN(types); i++)
			if (!strcmp(rec.type, types[i]))
				ty = types[i];
		count(rd, "records.", ty); /* named from a fixed list: input cannot add counters */
		if (strcmp(rec.type, "response") && strcmp(rec.type, "resource"))
			continue; /* requests, metadata, warcinfo, revisits: no page */
		double t = html_cpu_seconds();
		rc = record(rd, &rec);
		t_extract += html_cpu_seconds() - t;
	}
	double total = html_cpu_seconds() - t0;
	stats_count(rd->st, "crawl-web.read_us", (uint64_t)((total - t_extract) * 1e6));
	stats_count(rd->st, "crawl-web.extract_us", (uint64_t)(t_extract * 1e6));
	stats_count(rd->st, "crawl-web.raw_bytes", warc_raw_bytes(r));
	warc_close(r);
	fclose(f);
	return rc;
}

static int web_produce(struct stage_run *run, const struct task *t, struct emit *e)
{
	struct reading rd = {.w = run->state, .e = e, .st = stage_stats(run)};
	int rc = 0;
	for (const char *p = t->arg.p, *end = t->arg.p + t->arg.len; p < end && !rc;
	     p += strlen(p) + 1) {
		rd.path = p;
		rc = read_warc(&rd);
	}
	return rc;
}

const struct stage_def stage_crawl_web = {
	.name = "crawl-web",
	.kind = STAGE_SOURCE,
	.summary = "read WARC / WARC.gz files: HTML pages as text with code blocks fenced, by rules",
	.opts = web_opts,
	.version = 1,
	.plan = web_plan,
	.produce = web_produce,
	.setup = web_setup,
	.teardown = web_teardown,
};
