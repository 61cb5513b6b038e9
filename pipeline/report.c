/* report: the HTML report of a workdir (docs/operations.md shows one). Every chart comes
 * from files the stages already write: stats.json and manifest.json of each complete stage,
 * the metadata of the last document stage's shards (languages) and the .idx of token shards.
 * A stage missing or unreadable is named in the report and skipped; it never fails the rest.
 * Runs on rank 0; the page has no timestamp, so the same workdir gives the same bytes. */
#include "report.h"

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doc.h"
#include "megatron.h"
#include "par.h"
#include "registry.h"
#include "shard.h"
#include "stage.h"
#include "util.h"

const struct cli_opt report_opts[] = {
	{"output", 'o', "FILE", "where to write the report (default: WORKDIR/report.html)"},
	{"no-languages", 0, NULL, "skip reading the last stage's documents for the languages chart"},
	{NULL, 0, NULL, NULL},
};

struct rstage {
	char *name;
	json_t *stats, *manifest;
};

struct report {
	const char *workdir;
	struct rstage *st;
	size_t n, cap;
	struct buf notes; /* <li> items: stages skipped, files that could not be read */
	struct buf html;
};

/* ---- HTML and SVG helpers ---- */

static void put_esc(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '&': buf_puts(b, "&amp;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		default: buf_putc(b, *s);
		}
	}
}

static void note(struct report *r, const char *fmt, const char *a, const char *b)
{
	buf_puts(&r->notes, "<li>");
	char *s = xasprintf(fmt, a, b ? b : "");
	put_esc(&r->notes, s);
	free(s);
	buf_puts(&r->notes, "</li>\n");
}

static void fmt_value(char *out, size_t len, double v, int bytes)
{
	if (bytes)
		format_size((uint64_t)v, out, len);
	else if (v == (double)(uint64_t)v)
		snprintf(out, len, "%" PRIu64, (uint64_t)v);
	else if (v >= 100) /* axis ticks: whole numbers, not 5.03e+04 */
		snprintf(out, len, "%.0f", v);
	else
		snprintf(out, len, "%.3g", v);
}

static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759"};

struct series {
	const char *name;
	const double *v;
};

/* Horizontal bars: one group per label, one bar per series, the value written after it. */
static void svg_hbars(struct buf *b, char **labels, size_t n, const struct series *s,
		      size_t ns, int bytes)
{
	const int lw = 230, bw = 440, rowh = 16, gap = 8;
	double max = 0;
	for (size_t k = 0; k < ns; k++)
		for (size_t i = 0; i < n; i++)
			max = s[k].v[i] > max ? s[k].v[i] : max;
	int h = (int)(n * (ns * rowh + gap)) + 30;
	buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"780\" height=\"%d\" "
		      "font-size=\"12\" font-family=\"sans-serif\">\n", h);
	for (size_t k = 0; k < ns && ns > 1; k++) {
		buf_printf(b, "<rect x=\"%zu\" y=\"4\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			      "<text x=\"%zu\" y=\"14\">", lw + k * 140, palette[k % 4],
			   lw + k * 140 + 16);
		put_esc(b, s[k].name);
		buf_puts(b, "</text>\n");
	}
	for (size_t i = 0; i < n; i++) {
		int y0 = 24 + (int)(i * (ns * rowh + gap));
		buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 6,
			   y0 + (int)(ns * rowh) / 2 + 4);
		put_esc(b, labels[i]);
		buf_puts(b, "</text>\n");
		for (size_t k = 0; k < ns; k++) {
			double w = max > 0 ? s[k].v[i] / max * bw : 0;
			char val[32];
			fmt_value(val, sizeof val, s[k].v[i], bytes);
			buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
				      "fill=\"%s\"><title>%s</title></rect>"
				      "<text x=\"%.1f\" y=\"%d\">%s</text>\n",
				   lw, y0 + (int)k * rowh, w, rowh - 2, palette[k % 4], val,
				   lw + w + 4, y0 + (int)k * rowh + rowh - 4, val);
		}
	}
	buf_puts(b, "</svg>\n");
}

/* Vertical bars over ordered buckets (a histogram), with a y axis from 0 to the maximum. */
static void svg_vbars(struct buf *b, char **labels, const double *v, size_t n,
		      const char *ylabel)
{
	const int x0 = 70, w = 680, y0 = 20, h = 200;
	double max = 0;
	for (size_t i = 0; i < n; i++)
		max = v[i] > max ? v[i] : max;
	buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"780\" height=\"%d\" "
		      "font-size=\"11\" font-family=\"sans-serif\">\n", y0 + h + 60);
	buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>"
		      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n",
		   x0, y0, x0, y0 + h, x0, y0 + h, x0 + w, y0 + h);
	for (int t = 0; t <= 4; t++) {
		char val[32];
		fmt_value(val, sizeof val, max * t / 4, 0);
		int y = y0 + h - h * t / 4;
		buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>"
			      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n",
			   x0 - 4, y + 4, val, x0 + 1, y, x0 + w, y);
	}
	buf_printf(b, "<text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" "
		      "text-anchor=\"middle\">", y0 + h / 2, y0 + h / 2);
	put_esc(b, ylabel);
	buf_puts(b, "</text>\n");
	double slot = n ? (double)w / n : w;
	size_t every = n > 24 ? (n + 23) / 24 : 1; /* labels that do not overlap */
	for (size_t i = 0; i < n; i++) {
		double bh = max > 0 ? v[i] / max * h : 0, x = x0 + i * slot + slot * 0.1;
		char val[32];
		fmt_value(val, sizeof val, v[i], 0);
		buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			      "fill=\"%s\"><title>", x, y0 + h - bh, slot * 0.8, bh, palette[0]);
		put_esc(b, labels[i]);
		buf_printf(b, ": %s</title></rect>\n", val);
		if (i % every)
			continue;
		double cx = x + slot * 0.4;
		buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" "
			      "transform=\"rotate(-35 %.1f %d)\">", cx, y0 + h + 14, cx, y0 + h + 14);
		put_esc(b, labels[i]);
		buf_puts(b, "</text>\n");
	}
	buf_puts(b, "</svg>\n");
}

static void section(struct buf *b, const char *title, const char *text)
{
	buf_puts(b, "<h2>");
	put_esc(b, title);
	buf_puts(b, "</h2>\n<p>");
	put_esc(b, text);
	buf_puts(b, "</p>\n");
}

/* ---- reading the workdir ---- */

static json_t *load(struct report *r, const char *stage, const char *file)
{
	char *p = xasprintf("%s/%s/%s", r->workdir, stage, file);
	json_error_t e;
	json_t *j = json_load_file(p, 0, &e);
	if (!j || !json_is_object(j)) {
		char *why = xasprintf("%s:%d: %s", p, e.line, j ? "not a JSON object" : e.text);
		note(r, "stage %s skipped: %s", stage, why);
		free(why);
		json_decref(j);
		j = NULL;
	}
	free(p);
	return j;
}

static int known(const struct report *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->st[i].name, name))
			return 1;
	return 0;
}

static void add_stage(struct report *r, const char *name)
{
	char *m = xasprintf("%s/%s/manifest.json", r->workdir, name);
	int complete = file_exists(m);
	free(m);
	if (!complete) {
		char *parts = xasprintf("%s/%s/.parts", r->workdir, name);
		if (file_exists(parts))
			note(r, "stage %s is not complete (no manifest.json): not shown%s", name,
			     "");
		free(parts);
		return;
	}
	json_t *man = load(r, name, "manifest.json"), *st = man ? load(r, name, "stats.json") : NULL;
	if (!st) {
		json_decref(man);
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->st = xrealloc(r->st, r->cap * sizeof *r->st);
	}
	r->st[r->n++] = (struct rstage){xstrdup(name), st, man};
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Stages in pipeline order (the stage table), then any other stage folder by name, so a
 * workdir written by a newer curate still shows everything it holds. */
static int collect(struct report *r)
{
	for (size_t i = 0; i < stage_count; i++)
		add_stage(r, stage_table[i]->name);
	DIR *d = opendir(r->workdir);
	if (!d) {
		err_set("%s: cannot read the workdir: %m", r->workdir);
		return -1;
	}
	char **other = NULL;
	size_t no = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || stage_find(e->d_name))
			continue;
		other = xrealloc(other, (no + 1) * sizeof *other);
		other[no++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (no) /* qsort(NULL, 0) is undefined */
		qsort(other, no, sizeof *other, cmp_str);
	for (size_t i = 0; i < no; i++) {
		if (!known(r, other[i]))
			add_stage(r, other[i]);
		free(other[i]);
	}
	free(other);
	if (!r->n) {
		err_set("%s: no complete stage (no <stage>/manifest.json): nothing to report",
			r->workdir);
		return -1;
	}
	return 0;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : 0;
}

/* ---- the sections ---- */

static void summary_table(struct report *r)
{
	struct buf *b = &r->html;
	buf_puts(b, "<table><tr><th>stage</th><th>docs in</th><th>docs out</th><th>dropped</th>"
		    "<th>bytes in</th><th>bytes out</th><th>shards</th><th>ranks</th>"
		    "<th>seconds</th></tr>\n");
	for (size_t i = 0; i < r->n; i++) {
		json_t *s = r->st[i].stats;
		char bi[32], bo[32];
		format_size((uint64_t)num(s, "bytes_in"), bi, sizeof bi);
		format_size((uint64_t)num(s, "bytes_out"), bo, sizeof bo);
		buf_puts(b, "<tr><td>");
		put_esc(b, r->st[i].name);
		buf_printf(b, "</td><td>%.0f</td><td>%.0f</td><td>%.0f</td><td>%s</td><td>%s</td>"
			      "<td>%.0f</td><td>%.0f</td><td>%.1f</td></tr>\n",
			   num(s, "docs_in"), num(s, "docs_out"),
			   num(s, "docs_in") - num(s, "docs_out"), bi, bo,
			   num(r->st[i].manifest, "shard_count"), num(s, "ranks"),
			   num(s, "wall_seconds"));
	}
	buf_puts(b, "</table>\n");
}

static void flow_charts(struct report *r)
{
	char **labels = xcalloc(r->n, sizeof *labels);
	double *v = xcalloc(4 * r->n, sizeof *v);
	for (size_t i = 0; i < r->n; i++) {
		labels[i] = r->st[i].name;
		v[i] = num(r->st[i].stats, "docs_in");
		v[r->n + i] = num(r->st[i].stats, "docs_out");
		v[2 * r->n + i] = num(r->st[i].stats, "bytes_in");
		v[3 * r->n + i] = num(r->st[i].stats, "bytes_out");
	}
	section(&r->html, "Documents through the stages",
		"Documents each stage read and kept, in pipeline order.");
	struct series docs[] = {{"documents in", v}, {"documents out", v + r->n}};
	svg_hbars(&r->html, labels, r->n, docs, 2, 0);
	section(&r->html, "Bytes through the stages", "Text bytes each stage read and kept.");
	struct series bytes[] = {{"bytes in", v + 2 * r->n}, {"bytes out", v + 3 * r->n}};
	svg_hbars(&r->html, labels, r->n, bytes, 2, 1);
	free(labels);
	free(v);
}

static void drop_chart(struct report *r)
{
	char **labels = NULL;
	double *v = NULL;
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++) {
		const char *reason;
		json_t *d;
		json_object_foreach(json_object_get(r->st[i].stats, "drops"), reason, d) {
			labels = xrealloc(labels, (n + 1) * sizeof *labels);
			v = xrealloc(v, (n + 1) * sizeof *v);
			labels[n] = xasprintf("%s: %s", r->st[i].name, reason);
			v[n++] = num(d, "docs");
		}
	}
	section(&r->html, "Drop reasons", "Documents dropped, by stage and reason.");
	if (n) {
		struct series s[] = {{"documents", v}};
		svg_hbars(&r->html, labels, n, s, 1, 0);
	} else {
		buf_puts(&r->html, "<p class=\"none\">No stage dropped a document.</p>\n");
	}
	for (size_t i = 0; i < n; i++)
		free(labels[i]);
	free(labels);
	free(v);
}

struct lang {
	char *name;
	double docs, bytes;
};

static int cmp_lang(const void *a, const void *b)
{
	const struct lang *x = a, *y = b;
	if (x->docs != y->docs)
		return x->docs < y->docs ? 1 : -1;
	return strcmp(x->name, y->name); /* a stable order for ties */
}

/* metadata.lang (or .language), else the language its file name implies, as the syntax
 * stage infers it; else "(.ext)" for the extension, "(none)" without one. */
static const char *doc_lang(const struct doc *d, char *ext, size_t len)
{
	const char *l = json_string_value(json_object_get(d->meta, "lang"));
	if (!l || !*l)
		l = json_string_value(json_object_get(d->meta, "language"));
	if (l && *l)
		return l;
	const char *path = json_string_value(json_object_get(d->meta, "path"));
	const struct grammar *g = path ? grammar_for_path(path) : NULL;
	if (g)
		return g->name;
	const char *base = path ? strrchr(path, '/') : NULL;
	base = base ? base + 1 : path;
	const char *dot = base ? strrchr(base, '.') : NULL;
	if (!dot || dot == base || strlen(dot) > 12)
		return "(none)";
	snprintf(ext, len, "(%s)", dot);
	return ext;
}

/* Counts languages over the shards of stage s; -1 if a shard cannot be read. */
static int count_langs(struct report *r, const struct rstage *s, struct lang **out, size_t *n)
{
	size_t i;
	json_t *sh;
	struct doc d;
	doc_init(&d);
	int rc = 0;
	json_array_foreach(json_object_get(s->manifest, "shards"), i, sh) {
		char *p = xasprintf("%s/%s/%s", r->workdir, s->name,
				    json_string_value(json_object_get(sh, "name")));
		struct shard_reader *rd = shard_reader_open(p, NULL);
		free(p);
		int got;
		while (rd && (got = shard_reader_next(rd, &d)) == 1) {
			char ext[40];
			const char *l = doc_lang(&d, ext, sizeof ext);
			size_t k = 0;
			while (k < *n && strcmp((*out)[k].name, l))
				k++;
			if (k == *n) {
				*out = xrealloc(*out, (*n + 1) * sizeof **out);
				(*out)[(*n)++] = (struct lang){xstrdup(l), 0, 0};
			}
			(*out)[k].docs++;
			(*out)[k].bytes += (double)d.text.len;
		}
		if (!rd || got < 0)
			rc = -1;
		shard_reader_close(rd);
		if (rc)
			break;
	}
	doc_release(&d);
	return rc;
}

static void lang_chart(struct report *r, int scan)
{
	const struct rstage *last = NULL;
	for (size_t i = 0; i < r->n; i++)
		if (json_array_size(json_object_get(r->st[i].manifest, "shards")))
			last = &r->st[i];
	buf_puts(&r->html, "<h2>Languages</h2>\n");
	if (!scan || !last) {
		buf_puts(&r->html, scan ? "<p class=\"none\">No stage holds documents.</p>\n"
					: "<p class=\"none\">Not read (--no-languages).</p>\n");
		return;
	}
	struct lang *l = NULL;
	size_t n = 0;
	if (count_langs(r, last, &l, &n) < 0)
		note(r, "languages: %s (the chart counts the documents read before it)",
		     err_get(), NULL);
	if (n)
		qsort(l, n, sizeof *l, cmp_lang);
	size_t shown = n > 20 ? 20 : n;
	char **labels = xcalloc(shown + 1, sizeof *labels);
	double *v = xcalloc(2 * (shown + 1), sizeof *v);
	for (size_t i = 0; i < n; i++) {
		size_t k = i < shown ? i : shown;
		labels[k] = i < shown ? l[i].name : "other";
		v[k] += l[i].docs;
		v[shown + 1 + k] += l[i].bytes;
	}
	size_t rows = n > shown ? shown + 1 : shown;
	buf_printf(&r->html, "<p>Documents and bytes of the last document stage, <b>%s</b>, "
			     "by metadata.lang, else the language their file name implies "
			     "(as the syntax stage infers it), else (.extension).</p>\n",
		   last->name);
	struct series d[] = {{"documents", v}};
	svg_hbars(&r->html, labels, rows, d, 1, 0);
	struct series by[] = {{"bytes", v + shown + 1}};
	svg_hbars(&r->html, labels, rows, by, 1, 1);
	for (size_t i = 0; i < n; i++)
		free(l[i].name);
	free(l);
	free(labels);
	free(v);
}

struct bucket {
	uint64_t lo, hi;
	double count;
};

static int cmp_bucket(const void *a, const void *b)
{
	const struct bucket *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* "cluster_size_N" or "cluster_size_LO_HI" into lo, hi; -1 for any other name. */
static int parse_bucket(const char *key, uint64_t *lo, uint64_t *hi)
{
	static const char prefix[] = "cluster_size_";
	if (strncmp(key, prefix, sizeof prefix - 1))
		return -1;
	const char *p = key + sizeof prefix - 1;
	char *end;
	if (*p < '0' || *p > '9')
		return -1;
	*lo = *hi = strtoull(p, &end, 10); /* saturates on overflow */
	if (*end == '_' && end[1] >= '0' && end[1] <= '9')
		*hi = strtoull(end + 1, &end, 10);
	return *end ? -1 : 0;
}

/* Stage counters cluster_size_N or cluster_size_LO_HI (dedup-near writes them). */
static void cluster_chart(struct report *r)
{
	int any = 0;
	section(&r->html, "Dedup cluster sizes",
		"Clusters of near duplicates by size (documents per cluster; one is kept).");
	for (size_t i = 0; i < r->n; i++) {
		struct bucket *bk = NULL;
		size_t n = 0;
		const char *key;
		json_t *v;
		json_object_foreach(json_object_get(r->st[i].stats, "counters"), key, v) {
			uint64_t lo, hi;
			if (parse_bucket(key, &lo, &hi) < 0)
				continue;
			bk = xrealloc(bk, (n + 1) * sizeof *bk);
			bk[n++] = (struct bucket){lo, hi, (double)json_integer_value(v)};
		}
		if (!n)
			continue;
		any = 1;
		qsort(bk, n, sizeof *bk, cmp_bucket);
		char **labels = xcalloc(n, sizeof *labels);
		double *c = xcalloc(n, sizeof *c);
		for (size_t k = 0; k < n; k++) {
			labels[k] = bk[k].lo == bk[k].hi
					    ? xasprintf("%" PRIu64, bk[k].lo)
					    : xasprintf("%" PRIu64 "-%" PRIu64, bk[k].lo, bk[k].hi);
			c[k] = bk[k].count;
		}
		buf_printf(&r->html, "<p>Stage <b>%s</b>.</p>\n", r->st[i].name);
		svg_vbars(&r->html, labels, c, n, "clusters");
		for (size_t k = 0; k < n; k++)
			free(labels[k]);
		free(labels), free(c), free(bk);
	}
	if (!any)
		buf_puts(&r->html, "<p class=\"none\">No stage reported cluster sizes.</p>\n");
}

/* "quality_histogram": {"edges": [e0..en], "counts": [c0..cn-1]} in a stage's stats.json. */
static void quality_chart(struct report *r)
{
	int any = 0;
	section(&r->html, "Quality scores", "Documents by quality score.");
	for (size_t i = 0; i < r->n; i++) {
		json_t *h = json_object_get(r->st[i].stats, "quality_histogram");
		if (!h)
			continue;
		json_t *edges = json_object_get(h, "edges"), *counts = json_object_get(h, "counts");
		size_t n = json_array_size(counts);
		if (!n || json_array_size(edges) != n + 1) {
			note(r, "stage %s: quality_histogram needs n counts and n+1 edges%s",
			     r->st[i].name, "");
			continue;
		}
		any = 1;
		char **labels = xcalloc(n, sizeof *labels);
		double *c = xcalloc(n, sizeof *c);
		for (size_t k = 0; k < n; k++) {
			labels[k] = xasprintf("%.2f-%.2f",
					      json_number_value(json_array_get(edges, k)),
					      json_number_value(json_array_get(edges, k + 1)));
			c[k] = json_number_value(json_array_get(counts, k));
		}
		buf_printf(&r->html, "<p>Stage <b>%s</b>.</p>\n", r->st[i].name);
		svg_vbars(&r->html, labels, c, n, "documents");
		for (size_t k = 0; k < n; k++)
			free(labels[k]);
		free(labels), free(c);
	}
	if (!any)
		buf_puts(&r->html, "<p class=\"none\">No stage reported a quality histogram (the "
				   "quality stage did not run in this workdir).</p>\n");
}

/* "ratings_by_lang" / "ratings_by_category": {"python": [n0..n10], ...} in the oracle's
 * stats.json: one histogram of the ratings 0..10 per language or category. */
static void rating_chart(struct report *r)
{
	static const char *const keys[] = {"ratings_by_lang", "ratings_by_category"};
	int any = 0;
	section(&r->html, "Oracle ratings", "The LLM oracle's ratings (0-10) of the sampled "
					    "documents, per language or web category.");
	char *labels[11];
	for (int k = 0; k <= 10; k++)
		labels[k] = xasprintf("%d", k);
	for (size_t i = 0; i < r->n; i++) {
		for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
			json_t *by = json_object_get(r->st[i].stats, keys[k]);
			const char *name;
			json_t *counts;
			json_object_foreach(by, name, counts) {
				if (json_array_size(counts) != 11) {
					note(r, "stage %s: %s needs 11 counts per group", r->st[i].name,
					     keys[k]);
					continue;
				}
				double c[11], total = 0;
				for (size_t b = 0; b < 11; b++)
					total += c[b] = json_number_value(json_array_get(counts, b));
				any = 1;
				buf_printf(&r->html, "<p>Stage <b>%s</b>, ", r->st[i].name);
				put_esc(&r->html, name);
				buf_printf(&r->html, ": %.0f rated.</p>\n", total);
				svg_vbars(&r->html, labels, c, 11, "documents");
			}
		}
	}
	for (int k = 0; k <= 10; k++)
		free(labels[k]);
	if (!any)
		buf_puts(&r->html, "<p class=\"none\">No stage reported oracle ratings (the oracle "
				   "stage did not run in this workdir).</p>\n");
}

/* scorer-train's model/metrics.json: the training loss over the steps (means over at most 60
 * buckets of steps) and the held-out figures after training and at each evaluation. */
static void train_chart(struct report *r)
{
	int any = 0;
	section(&r->html, "Scorer training", "The loss (mean squared error on [0, 1]) over the "
					     "optimizer steps, and the held-out figures.");
	for (size_t i = 0; i < r->n; i++) {
		char *p = xasprintf("%s/%s/model/metrics.json", r->workdir, r->st[i].name);
		int there = file_exists(p);
		free(p);
		json_t *m = there ? load(r, r->st[i].name, "model/metrics.json") : NULL;
		if (!m)
			continue;
		any = 1;
		json_t *curve = json_object_get(m, "curve"), *fin = json_object_get(m, "final");
		json_t *sm = json_object_get(m, "samples");
		buf_printf(&r->html, "<p>Stage <b>%s</b>: mode %s, %lld training and %lld held-out "
				     "documents, %lld steps, %.1f s.</p>\n",
			   r->st[i].name, json_string_value(json_object_get(m, "mode")),
			   (long long)json_integer_value(json_object_get(sm, "train")),
			   (long long)json_integer_value(json_object_get(sm, "val")),
			   (long long)json_integer_value(json_object_get(m, "steps")),
			   num(m, "seconds"));
		size_t n = json_array_size(curve), nb = n < 60 ? n : 60;
		if (nb) {
			char **labels = xcalloc(nb, sizeof *labels);
			double *v = xcalloc(nb, sizeof *v);
			for (size_t b = 0; b < nb; b++) {
				size_t lo = b * n / nb, hi = (b + 1) * n / nb;
				for (size_t k = lo; k < hi; k++)
					v[b] += num(json_array_get(curve, k), "loss") / (double)(hi - lo);
				labels[b] = hi - lo > 1 ? xasprintf("steps %zu-%zu", lo + 1, hi)
							: xasprintf("step %zu", lo + 1);
			}
			svg_vbars(&r->html, labels, v, nb, "training loss");
			for (size_t b = 0; b < nb; b++)
				free(labels[b]);
			free(labels), free(v);
		}
		buf_puts(&r->html, "<table><tr><th>after step</th><th>held-out MAE (0-10)</th>"
				   "<th>constant predictor's MAE</th><th>Spearman</th>"
				   "<th>F1, bottom fraction</th></tr>\n");
		json_t *evals = json_object_get(m, "evals"), *e;
		size_t k;
		json_array_foreach(evals, k, e)
			buf_printf(&r->html, "<tr><td>%lld</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>"
					     "<td>%.3f</td></tr>\n",
				   (long long)json_integer_value(json_object_get(e, "step")),
				   num(e, "mae10"), num(e, "constant_mae10"), num(e, "spearman"),
				   num(e, "f1_bottom"));
		buf_printf(&r->html, "<tr><td>the end</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>"
				     "<td>%.3f</td></tr></table>\n",
			   num(fin, "mae10"), num(fin, "constant_mae10"), num(fin, "spearman"),
			   num(fin, "f1_bottom"));
		json_decref(m);
	}
	if (!any)
		buf_puts(&r->html, "<p class=\"none\">No stage trained a scorer (scorer-train did "
				   "not run in this workdir).</p>\n");
}

/* Token shards: the .idx files a stage's manifest lists, read with the Megatron reader. */
static void token_chart(struct report *r)
{
	int any = 0;
	section(&r->html, "Tokens per shard", "Tokens in each Megatron token shard (.bin/.idx).");
	for (size_t i = 0; i < r->n; i++) {
		char **labels = NULL;
		double *v = NULL, total = 0;
		size_t n = 0, k;
		json_t *f;
		json_array_foreach(json_object_get(r->st[i].manifest, "files"), k, f) {
			const char *name = json_string_value(json_object_get(f, "name"));
			size_t len = name ? strlen(name) : 0;
			if (len < 5 || strcmp(name + len - 4, ".idx"))
				continue;
			char *prefix = xasprintf("%s/%s/%.*s", r->workdir, r->st[i].name,
						 (int)len - 4, name);
			struct megatron_reader *m = megatron_open(prefix);
			free(prefix);
			if (!m) {
				note(r, "tokens: %s%s", err_get(), NULL);
				continue;
			}
			labels = xrealloc(labels, (n + 1) * sizeof *labels);
			v = xrealloc(v, (n + 1) * sizeof *v);
			labels[n] = xstrndup(name, len - 4);
			v[n] = (double)megatron_tokens(m);
			total += v[n++];
			megatron_close(m);
		}
		if (!n)
			continue;
		any = 1;
		buf_printf(&r->html, "<p>Stage <b>%s</b>: %.0f tokens in %zu shards.</p>\n",
			   r->st[i].name, total, n);
		svg_vbars(&r->html, labels, v, n, "tokens");
		for (size_t j = 0; j < n; j++)
			free(labels[j]);
		free(labels), free(v);
	}
	if (!any)
		buf_puts(&r->html, "<p class=\"none\">No token shards in this workdir.</p>\n");
}

static int cmp_desc_value(const void *a, const void *b, void *v)
{
	const double *x = v;
	double p = x[*(const size_t *)a], q = x[*(const size_t *)b];
	return (p < q) - (p > q);
}

/* "groups" in tokenize's stats.json: tokens per group, and per language of each group. */
static void group_chart(struct report *r)
{
	int any = 0;
	section(&r->html, "Tokens per group", "Tokens in each tokenize group (one Megatron "
					      "dataset each), and per language in each group.");
	for (size_t i = 0; i < r->n; i++) {
		json_t *groups = json_object_get(r->st[i].stats, "groups");
		size_t n = json_object_size(groups), k = 0;
		if (!n || (n == 1 && json_object_get(groups, "all") &&
			   json_object_size(json_object_get(json_object_get(groups, "all"),
							    "tokens_by_lang")) <= 1))
			continue;
		any = 1;
		char **labels = xcalloc(n, sizeof *labels);
		double *tok = xcalloc(n, sizeof *tok), *docs = xcalloc(n, sizeof *docs);
		const char *name;
		json_t *g;
		json_object_foreach(groups, name, g) {
			labels[k] = xstrdup(name);
			tok[k] = json_number_value(json_object_get(g, "tokens"));
			docs[k++] = json_number_value(json_object_get(g, "docs"));
		}
		struct series s[2] = {{"tokens", tok}, {"documents", docs}};
		buf_printf(&r->html, "<p>Stage <b>%s</b>: %zu groups.</p>\n", r->st[i].name, n);
		svg_hbars(&r->html, labels, n, s, 2, 0);
		k = 0;
		json_object_foreach(groups, name, g) {
			json_t *by = json_object_get(g, "tokens_by_lang");
			size_t nl = json_object_size(by), j = 0;
			if (nl < 2) {
				k++;
				continue;
			}
			char **ll = xcalloc(nl, sizeof *ll);
			double *lv = xcalloc(nl, sizeof *lv);
			size_t *ord = xcalloc(nl, sizeof *ord);
			const char *lang;
			json_t *c;
			json_object_foreach(by, lang, c) {
				ll[j] = xstrdup(lang);
				lv[j] = json_number_value(c);
				ord[j] = j;
				j++;
			}
			qsort_r(ord, nl, sizeof *ord, cmp_desc_value, lv);
			size_t shown = nl < 20 ? nl : 20;
			char **sl = xcalloc(shown, sizeof *sl);
			double *sv = xcalloc(shown, sizeof *sv);
			for (j = 0; j < shown; j++)
				sl[j] = ll[ord[j]], sv[j] = lv[ord[j]];
			buf_puts(&r->html, "<p>Group <b>");
			put_esc(&r->html, labels[k]);
			buf_printf(&r->html, "</b>: tokens per language (%zu of %zu shown).</p>\n",
				   shown, nl);
			struct series ls = {"tokens", sv};
			svg_hbars(&r->html, sl, shown, &ls, 1, 0);
			for (j = 0; j < nl; j++)
				free(ll[j]);
			free(ll), free(lv), free(ord), free(sl), free(sv);
			k++;
		}
		for (k = 0; k < n; k++)
			free(labels[k]);
		free(labels), free(tok), free(docs);
	}
	if (!any)
		buf_puts(&r->html, "<p class=\"none\">No tokenize groups in this workdir (one "
				   "dataset, or no tokenize stage).</p>\n");
}

static const char style[] =
	"body{font-family:sans-serif;margin:2em auto;max-width:820px;color:#222}"
	"h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}"
	"table{border-collapse:collapse;font-size:.85em}td,th{padding:2px 8px;text-align:right}"
	"td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f4f4f4}"
	".none{color:#777;font-style:italic}";

static void build(struct report *r, int scan_langs)
{
	struct buf *b = &r->html;
	buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		      "<title>curate report</title><style>%s</style></head><body>\n"
		      "<h1>curate report: ", style);
	put_esc(b, r->workdir);
	buf_printf(b, "</h1>\n<p>%zu complete stages. Numbers come from each stage's "
		      "stats.json and manifest.json.</p>\n", r->n);
	summary_table(r);
	flow_charts(r);
	drop_chart(r);
	lang_chart(r, scan_langs);
	cluster_chart(r);
	quality_chart(r);
	rating_chart(r);
	train_chart(r);
	token_chart(r);
	group_chart(r);
	if (r->notes.len) {
		buf_puts(b, "<h2>Notes</h2>\n<ul>\n");
		buf_append(b, r->notes.p, r->notes.len);
		buf_puts(b, "</ul>\n");
	}
	buf_puts(b, "</body></html>\n");
}

int report_write(const char *workdir, const char *path, int scan_langs, size_t *nstages)
{
	struct report r = {workdir, NULL, 0, 0, BUF_INIT, BUF_INIT};
	int rc = collect(&r);
	if (!rc) {
		build(&r, scan_langs);
		rc = write_file_atomic(path, r.html.p, r.html.len);
	}
	*nstages = r.n;
	for (size_t i = 0; i < r.n; i++) {
		free(r.st[i].name);
		json_decref(r.st[i].stats);
		json_decref(r.st[i].manifest);
	}
	free(r.st);
	buf_release(&r.notes);
	buf_release(&r.html);
	return rc;
}

int report_cmd(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (par_rank() != 0)
		return 0;
	if (a->npos != 1) {
		fprintf(stderr, "curate report: expected one WORKDIR; see 'curate report --help'\n");
		return 2;
	}
	const char *out = cli_get(cmd, a, "output");
	char *path = out ? xstrdup(out) : xasprintf("%s/report.html", a->pos[0]);
	size_t n;
	int rc = report_write(a->pos[0], path, !cli_get(cmd, a, "no-languages"), &n);
	if (rc)
		fprintf(stderr, "curate report: %s\n", err_get());
	else
		printf("report: %s (%zu stages)\n", path, n);
	free(path);
	return rc ? 1 : 0;
}
