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
#include <fcntl.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <zlib.h>

#include "log.h"
#include "stages.h"
#include "web/category.h"
#include "web/charset.h"
#include "web/html.h"
#include "web/http.h"
#include "web/warc.h"
#include "http.h"

static const struct opt_def web_opts[] = {
	{"paths", OPT_LIST, "[]", 0, 0, NULL,
	 "WARC files (.warc, .warc.gz) as local paths or http(s) URLs, directories (searched for "
	 "them) and list files, local or URLs, plain or .gz (.txt, .list, .paths: one path or URL "
	 "per line, relative to base_url when set, else to the list's folder; # comments)."},
	{"base_url", OPT_STR, "", 0, 0, NULL,
	 "What the relative lines of list files are relative to, e.g. "
	 "https://data.commoncrawl.org/ for a snapshot's warc.paths.gz."},
	{"slice", OPT_STR, "", 0, 0, NULL,
	 "The share of the inputs (in listing order) this config reads, START:STOP:STEP as in "
	 "Python (0:1000 the first thousand, ::10 every tenth, 3::10 every tenth from the fourth); "
	 "\"\": all."},
	{"head", OPT_BOOL, "true", 0, 0, NULL,
	 "HEAD every URL while planning: sizes to balance shards, and ETag / Last-Modified in the "
	 "stage's signature, so a changed remote file reruns its shard."},
	{"max_connections", OPT_INT, "8", 1, 1024, NULL,
	 "Connections per rank (the plan's HEAD requests in flight; a rank reads one file at a "
	 "time)."},
	{"max_rps", OPT_FLOAT, "10", 0, 1e6, NULL,
	 "Requests per second to one host, per rank (0: no cap). Common Crawl asks for politeness."},
	{"timeout", OPT_FLOAT, "120", 1, 86400, NULL,
	 "Seconds without a byte before a transfer counts as stalled (and is resumed)."},
	{"retries", OPT_INT, "10", 0, 1000, NULL,
	 "Failures in a row (429, 5xx, stalls, dropped connections) before a file is given up."},
	{"backoff", OPT_FLOAT, "1", 0, 3600, NULL,
	 "Seconds before the first retry, doubling after (with jitter; Retry-After honoured)."},
	{"backoff_max", OPT_FLOAT, "120", 0, 86400, NULL, "The cap of the doubling."},
	{"cache_dir", OPT_STR, "", 0, 0, NULL,
	 "Keep downloaded WARC files here (complete ones only), so a rerun or another workdir "
	 "reads them locally; \"\": no cache."},
	{"cache_max", OPT_SIZE, "0", 0, 1e18, NULL,
	 "The cache's size cap: the least recently used files go beyond it (0: no cap)."},
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
	char *path; /* or URL */
	uint64_t size;
	int64_t mtime_ns;
	char *identity; /* a URL's "ETAG LAST-MODIFIED" from HEAD, or NULL */
};

static int is_url(const char *p) { return !strncmp(p, "http://", 7) || !strncmp(p, "https://", 8); }

static struct http_stream_opts stream_opts(const struct config *cfg)
{
	return (struct http_stream_opts){
		.stall_s = config_float(cfg, "crawl-web.timeout"),
		.connect_timeout_s = 30,
		.retries = (int)config_int(cfg, "crawl-web.retries"),
		.backoff_s = config_float(cfg, "crawl-web.backoff"),
		.backoff_max_s = config_float(cfg, "crawl-web.backoff_max"),
		.max_rps = config_float(cfg, "crawl-web.max_rps"),
	};
}

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
	static const char *const ext[] = {".txt", ".list", ".paths", ".txt.gz", ".list.gz",
					  ".paths.gz"};
	return has_ext(name, ext, ARRAY_LEN(ext));
}

static void push_input(struct inputs *in, struct input v)
{
	if (in->n == in->cap) {
		in->cap = in->cap ? 2 * in->cap : 64;
		in->v = xrealloc(in->v, in->cap * sizeof *in->v);
	}
	in->v[in->n++] = v;
}

static int add_input(struct inputs *in, const char *path)
{
	if (is_url(path)) { /* its size comes from a HEAD, if asked */
		push_input(in, (struct input){xstrdup(path), 0, 0, NULL});
		return 0;
	}
	struct stat st;
	if (stat(path, &st) || !S_ISREG(st.st_mode)) {
		err_set("crawl-web.paths: %s: %s", path, errno ? strerror(errno) : "not a file");
		return -1;
	}
	push_input(in, (struct input){xstrdup(path), (uint64_t)st.st_size,
				      (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
				      NULL});
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

/* The bytes of a list file, local or a URL, gunzipped when they are gzip. */
static int read_list(const char *list, const struct config *cfg, struct buf *out)
{
	struct buf raw = BUF_INIT;
	int rc = 0;
	if (is_url(list)) {
		struct http_stream_opts o = stream_opts(cfg);
		struct http_stream *hs = http_stream_open(list, &o);
		char chunk[65536];
		size_t n;
		while (hs && (n = fread(chunk, 1, sizeof chunk, hs->f)) > 0)
			buf_append(&raw, chunk, n);
		if (!hs || ferror(hs->f)) {
			err_set("crawl-web.paths: %s", hs ? hs->error.p : err_get());
			rc = -1;
		}
		http_stream_close(hs);
	} else {
		rc = read_file(list, &raw);
	}
	if (!rc && raw.len >= 2 && (unsigned char)raw.p[0] == 0x1f && (unsigned char)raw.p[1] == 0x8b) {
		z_stream z = {0};
		inflateInit2(&z, 16 + MAX_WBITS);
		z.next_in = (Bytef *)raw.p;
		z.avail_in = (uInt)raw.len;
		int zr = Z_OK;
		while (zr == Z_OK) {
			buf_grow(out, 1 << 16);
			z.next_out = (Bytef *)out->p + out->len;
			z.avail_out = (uInt)(out->cap - out->len - 1);
			zr = inflate(&z, Z_NO_FLUSH);
			out->len = out->cap - 1 - z.avail_out;
			if (zr == Z_STREAM_END && z.avail_in) /* another gzip member */
				zr = inflateReset(&z);
		}
		inflateEnd(&z);
		if (zr != Z_STREAM_END) {
			err_set("crawl-web.paths: %s: not a whole gzip file (%s)", list,
				z.msg ? z.msg : "truncated");
			rc = -1;
		}
		buf_putc(out, 0);
		out->len--;
	} else if (!rc) {
		buf_set(out, raw.p ? raw.p : "", raw.len);
	}
	buf_release(&raw);
	return rc;
}

/* A list line that is a path or URL, relative to base (a URL or folder) unless absolute;
 * NULL when the line is not one (control characters, spaces, a malformed URL). */
static char *list_entry(const char *line, const char *base)
{
	for (const char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == ' ' || *c == 0x7f)
			return NULL;
	char *p;
	if (is_url(line) || *line == '/')
		p = xstrdup(line);
	else
		p = xasprintf("%s%s%s", base, str_ends_with(base, "/") ? "" : "/", line);
	if (is_url(p)) {
		CURLU *u = curl_url();
		int ok = curl_url_set(u, CURLUPART_URL, p, 0) == CURLUE_OK;
		curl_url_cleanup(u);
		if (!ok) {
			free(p);
			return NULL;
		}
	}
	return p;
}

static int add_list(struct inputs *in, const char *list, const struct config *cfg)
{
	struct buf b = BUF_INIT;
	if (read_list(list, cfg, &b) < 0)
		return -1;
	const char *slash = strrchr(list, '/');
	const char *base_url = config_str(cfg, "crawl-web.base_url");
	char *base = *base_url ? xstrdup(base_url)
		     : slash      ? xstrndup(list, (size_t)(slash - list))
				  : xstrdup(".");
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
		char *p = list_entry(line, base);
		if (!p) {
			err_set("%s:%d: not a path or URL: \"%.80s\"", list, lineno, line);
			rc = -1;
		} else if (add_input(in, p) < 0) {
			err_set("%s:%d: %s: %s", list, lineno, p, strerror(errno ? errno : ENOENT));
			rc = -1;
		}
		free(p);
	}
	free(base);
	buf_release(&b);
	return rc;
}

/* Keeps the inputs START:STOP:STEP selects (Python's slice, non-negative bounds). */
static int apply_slice(struct inputs *in, const char *spec)
{
	if (!*spec)
		return 0;
	long long v[3] = {0, -1, 1};
	const char *p = spec;
	for (int k = 0; k < 3; k++) {
		char *end;
		if (*p && *p != ':') {
			v[k] = strtoll(p, &end, 10);
			if (end == p || v[k] < (k == 2 ? 1 : 0))
				goto bad;
			p = end;
		}
		if (k < 2 && *p == ':')
			p++;
		else if (*p)
			goto bad;
		else
			break;
	}
	if (*p)
		goto bad;
	size_t m = 0;
	for (size_t i = 0; i < in->n; i++) {
		int keep = (long long)i >= v[0] && (v[1] < 0 || (long long)i < v[1]) &&
			   ((long long)i - v[0]) % v[2] == 0;
		if (keep)
			in->v[m++] = in->v[i];
		else
			free(in->v[i].path);
	}
	in->n = m;
	return 0;
bad:
	err_set("crawl-web.slice: \"%s\" is not START:STOP:STEP (non-negative numbers, STEP at "
		"least 1; e.g. 0:1000, ::10, 3::10)", spec);
	return -1;
}

/* HEAD of the URLs among the inputs: their sizes, and what identifies their content. */
static int head_urls(struct inputs *in, const struct config *cfg, struct buf *sig)
{
	size_t n = 0;
	const char **urls = xcalloc(in->n + 1, sizeof *urls);
	size_t *which = xcalloc(in->n + 1, sizeof *which);
	for (size_t i = 0; i < in->n; i++)
		if (is_url(in->v[i].path))
			which[n] = i, urls[n++] = in->v[i].path;
	struct http_head *h = xcalloc(n + 1, sizeof *h);
	struct http_stream_opts so = stream_opts(cfg);
	struct http_policy p = {(int)config_int(cfg, "crawl-web.max_connections"), so.stall_s,
				so.connect_timeout_s, so.retries, so.backoff_s, so.backoff_max_s,
				0, so.max_rps};
	int rc = n ? http_head_all(&p, urls, n, h) : 0;
	for (size_t k = 0; k < n && !rc; k++) {
		struct input *v = &in->v[which[k]];
		if (h[k].status == 200 && h[k].length >= 0)
			v->size = (uint64_t)h[k].length;
		else if (h[k].status)
			log_warn("crawl-web: HEAD %s: HTTP %ld", v->path, h[k].status);
		else
			log_warn("crawl-web: HEAD %s: %s", v->path, h[k].error);
		buf_printf(sig, "head %s %ld %lld %s %s\n", v->path, h[k].status,
			   (long long)h[k].length, h[k].etag, h[k].last_modified);
		v->identity = xasprintf("%s %s", h[k].etag, h[k].last_modified);
	}
	free(urls), free(which), free(h);
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
		if (is_url(paths[i])) {
			rc = is_list_name(paths[i]) ? add_list(&in, paths[i], run->cfg)
						    : add_input(&in, paths[i]);
		} else if (stat(paths[i], &st)) {
			err_set("crawl-web.paths: %s: %s", paths[i], strerror(errno));
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = add_dir(&in, paths[i]);
		} else if (is_list_name(paths[i])) {
			rc = add_list(&in, paths[i], run->cfg);
		} else {
			rc = add_input(&in, paths[i]);
		}
	}
	if (!rc)
		rc = apply_slice(&in, config_str(run->cfg, "crawl-web.slice"));
	if (!rc && config_bool(run->cfg, "crawl-web.head"))
		rc = head_urls(&in, run->cfg, sig);
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
			if (in.v[i].identity)
				buf_printf(&t->arg, "\n%s", in.v[i].identity);
			buf_putc(&t->arg, 0);
			t->size += in.v[i].size;
			buf_printf(sig, "%s %llu %lld\n", in.v[i].path, (unsigned long long)in.v[i].size,
				   (long long)in.v[i].mtime_ns);
		}
		free(in.v[i].path);
		free(in.v[i].identity);
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
	struct http_stream_opts net; /* remote inputs */
	const char *cache_dir;
	uint64_t cache_max;
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
	w->net = stream_opts(run->cfg);
	w->cache_dir = config_str(run->cfg, "crawl-web.cache_dir");
	w->cache_max = config_size(run->cfg, "crawl-web.cache_max");
	if (*w->cache_dir && mkdir_p(w->cache_dir) < 0)
		return -1;
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
	const char *identity; /* a URL's ETag and Last-Modified from the plan's HEAD, or "" */
	struct http_stream *hs; /* when the input is remote */
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

/* The cache's file for a remote input: named by the SHA-256 of the URL and the plan's
 * ETag / Last-Modified, so a changed file is never read from the cache. */
static char *cache_path(const struct reading *rd)
{
	unsigned char d[SHA256_LEN];
	char hex[SHA256_HEX];
	char *key = xasprintf("%s\n%s", rd->path, rd->identity);
	sha256(key, strlen(key), d);
	sha256_hexstr(d, hex);
	free(key);
	return xasprintf("%s/%s.warc", rd->w->cache_dir, hex);
}

static int by_mtime(const void *a, const void *b)
{
	const struct input *x = a, *y = b;
	return x->mtime_ns < y->mtime_ns ? -1 : x->mtime_ns > y->mtime_ns;
}

/* Removes the least recently used cache files until the cache fits its cap. */
static void cache_trim(const struct web *w)
{
	struct inputs in = {0};
	DIR *d = opendir(w->cache_dir);
	struct dirent *e;
	uint64_t total = 0;
	while (d && (e = readdir(d))) {
		char *p = xasprintf("%s/%s", w->cache_dir, e->d_name);
		struct stat st;
		if (str_ends_with(e->d_name, ".warc") && !stat(p, &st) && S_ISREG(st.st_mode)) {
			push_input(&in, (struct input){p, (uint64_t)st.st_size,
						       (int64_t)st.st_mtim.tv_sec * 1000000000 +
							       st.st_mtim.tv_nsec,
						       NULL});
			total += (uint64_t)st.st_size;
		} else {
			free(p);
		}
	}
	if (d)
		closedir(d);
	if (in.n)
		qsort(in.v, in.n, sizeof *in.v, by_mtime);
	for (size_t i = 0; i < in.n; i++) {
		if (total > w->cache_max && i + 1 < in.n && !unlink(in.v[i].path))
			total -= in.v[i].size; /* the newest, just read, stays */
		free(in.v[i].path);
	}
	free(in.v);
}

/* Opens the input: a local file, a cached copy of a URL, or the URL itself as a stream.
 * NULL when it cannot be read at all (logged and counted). */
static FILE *open_input(struct reading *rd, char **cached)
{
	*cached = NULL;
	if (!is_url(rd->path)) {
		FILE *f = fopen(rd->path, "rb");
		if (!f) {
			log_warn("crawl-web: %s: cannot open: %s; skipped", rd->path, strerror(errno));
			emit_input(rd->e, 0);
			emit_drop(rd->e, NULL, "unreadable", 0);
		}
		return f;
	}
	struct http_stream_opts o = rd->w->net;
	if (*rd->w->cache_dir) {
		*cached = cache_path(rd);
		FILE *f = fopen(*cached, "rb");
		if (f) {
			utimensat(AT_FDCWD, *cached, NULL, 0); /* recently used */
			stats_count(rd->st, "crawl-web.cache_hits", 1);
			free(*cached);
			*cached = NULL;
			return f;
		}
		o.cache_path = *cached;
	}
	rd->hs = http_stream_open(rd->path, &o);
	if (!rd->hs) {
		log_warn("crawl-web: %s; skipped", err_get());
		emit_input(rd->e, 0);
		emit_drop(rd->e, NULL, "fetch_failed", 0);
		free(*cached);
		*cached = NULL;
		return NULL;
	}
	return rd->hs->f;
}

/* After a remote input: its counters, and the cache's cap. */
static void close_input(struct reading *rd, FILE *f, char *cached)
{
	if (!rd->hs) {
		fclose(f);
		return;
	}
	stats_count(rd->st, "crawl-web.http_bytes", rd->hs->received);
	stats_count(rd->st, "crawl-web.http_resumes", (uint64_t)rd->hs->resumes);
	stats_count(rd->st, "crawl-web.http_retries", (uint64_t)rd->hs->retries);
	stats_count(rd->st, "crawl-web.http_wait_ms", (uint64_t)(rd->hs->wait_s * 1000));
	http_stream_close(rd->hs);
	rd->hs = NULL;
	if (cached && rd->w->cache_max && file_exists(cached))
		cache_trim(rd->w);
	free(cached);
}

static int read_warc(struct reading *rd)
{
	char *cached;
	FILE *f = open_input(rd, &cached);
	if (!f)
		return 0;
	struct warc_reader *r = warc_open(f, rd->path, rd->w->max_page);
	struct warc_record rec;
	const char *reason;
	uint64_t bytes;
	int rc = 0, got;
	double t0 = html_cpu_seconds(), t_extract = 0; /* CPU time: see html_cpu_seconds */
	while (!rc && (got = warc_next(r, &rec, &reason, &bytes)) != WARC_END) {
		if (got == WARC_ERROR) {
			/* a remote file's own failure says more than the reader's */
			int trunc = rd->hs && rd->hs->truncated;
			log_warn("crawl-web: %s; the records before it are kept",
				 rd->hs && rd->hs->error.len ? rd->hs->error.p : err_get());
			emit_input(rd->e, 0);
			rc = emit_drop(rd->e, NULL, trunc ? "truncated" : "read_error", 0);
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
	close_input(rd, f, cached);
	return rc;
}

static int web_produce(struct stage_run *run, const struct task *t, struct emit *e)
{
	struct reading rd = {.w = run->state, .e = e, .st = stage_stats(run)};
	int rc = 0;
	for (const char *p = t->arg.p, *end = t->arg.p + t->arg.len; p < end && !rc;
	     p += strlen(p) + 1) {
		/* "PATH" or "URL\nETAG LAST-MODIFIED" */
		const char *nl = strchr(p, '\n');
		char *path = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
		rd.path = path;
		rd.identity = nl ? nl + 1 : "";
		rc = read_warc(&rd);
		free(path);
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
