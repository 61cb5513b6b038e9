/* github/deps: import extraction by a line scanner per language (no parser: an import in a
 * comment or string may count, which only adds an edge), resolution against the repository's
 * own paths, a stable topological order and the packing of documents. */
#include <stdlib.h>
#include <string.h>

#include "github/deps.h"
#include "util.h"

/* ---- the path index ---- */

struct ent {
	const char *key; /* basename */
	size_t idx;
};

struct index {
	const struct gh_file *f;
	size_t n;
	struct ent *base; /* by basename, then index */
	char **dirs;      /* unique directories, sorted */
	size_t ndirs;
	struct gh_edge *e;
	size_t ne, cap;
	size_t from; /* the file being scanned */
};

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *dir_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? xstrndup(p, (size_t)(s - p)) : xstrdup("");
}

static void index_init(struct index *x, const struct gh_file *f, size_t n)
{
	*x = (struct index){.f = f, .n = n};
	x->base = xmalloc((n ? n : 1) * sizeof *x->base);
	x->dirs = xmalloc((n ? n : 1) * sizeof *x->dirs);
	for (size_t i = 0; i < n; i++) {
		x->base[i] = (struct ent){basename_of(f[i].path), i};
		x->dirs[i] = dir_of(f[i].path);
	}
	qsort(x->base, n, sizeof *x->base, ent_cmp);
	qsort(x->dirs, n, sizeof *x->dirs, str_cmp);
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w && !strcmp(x->dirs[w - 1], x->dirs[i]))
			free(x->dirs[i]);
		else
			x->dirs[w++] = x->dirs[i];
	}
	x->ndirs = w;
}

static void index_release(struct index *x)
{
	for (size_t i = 0; i < x->ndirs; i++)
		free(x->dirs[i]);
	free(x->dirs);
	free(x->base);
}

/* Exact path lookup; files are sorted by path. */
static long find_exact(const struct index *x, const char *p)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(x->f[mid].path, p);
		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* 1 if path is suf or ends with "/suf". */
static int ends_with_part(const char *path, const char *suf)
{
	size_t n = strlen(path), m = strlen(suf);
	if (n < m || strcmp(path + n - m, suf))
		return 0;
	return n == m || path[n - m - 1] == '/';
}

/* The file whose path ends with suf at a component boundary: the shortest, then the first. */
static long find_suffix(const struct index *x, const char *suf)
{
	const char *b = basename_of(suf);
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(x->base[mid].key, b) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	long best = -1;
	for (size_t i = lo; i < x->n && !strcmp(x->base[i].key, b); i++) {
		const char *p = x->f[x->base[i].idx].path;
		if (ends_with_part(p, suf) &&
		    (best < 0 || strlen(p) < strlen(x->f[best].path)))
			best = (long)x->base[i].idx;
	}
	return best;
}

static void add_edge(struct index *x, long to)
{
	if (to < 0 || (size_t)to == x->from)
		return;
	if (x->ne == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 64;
		x->e = xrealloc(x->e, x->cap * sizeof *x->e);
	}
	x->e[x->ne++] = (struct gh_edge){x->from, (size_t)to};
}

/* Files directly in dir (exact) whose name ends with ext, except names ending with skip. */
static void add_dir(struct index *x, const char *dir, const char *ext, const char *skip)
{
	for (size_t i = 0; i < x->n; i++) {
		const char *p = x->f[i].path;
		size_t dl = strlen(dir);
		const char *rest = p;
		if (dl) {
			if (strncmp(p, dir, dl) || p[dl] != '/')
				continue;
			rest = p + dl + 1;
		}
		size_t rl = strlen(rest), el = strlen(ext), sl = skip ? strlen(skip) : 0;
		if (strchr(rest, '/') || rl < el || strcmp(rest + rl - el, ext))
			continue;
		if (skip && rl >= sl && !strcmp(rest + rl - sl, skip))
			continue;
		add_edge(x, (long)i);
	}
}

/* Joins dir and rel, resolving "." and ".."; NULL if it leaves the repository. */
static char *join_norm(const char *dir, const char *rel)
{
	char *all = *dir ? xasprintf("%s/%s", dir, rel) : xstrdup(rel);
	char **part = xmalloc((strlen(all) + 1) * sizeof *part);
	size_t np = 0;
	for (char *save, *t = strtok_r(all, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			if (!np) {
				free(part);
				free(all);
				return NULL;
			}
			np--;
			continue;
		}
		part[np++] = t;
	}
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < np; i++) {
		if (i)
			buf_putc(&b, '/');
		buf_puts(&b, part[i]);
	}
	free(part);
	free(all);
	return b.p ? buf_detach(&b, NULL) : xstrdup("");
}

/* ---- scanning helpers ---- */

struct line {
	const char *p;
	size_t n;
};

/* Next line with leading blanks skipped; 0 at the end. */
static int next_line(const char **cur, const char *end, struct line *l)
{
	const char *p = *cur;
	if (p >= end)
		return 0;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *e = nl ? nl : end;
	*cur = nl ? nl + 1 : end;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*l = (struct line){p, (size_t)(e - p)};
	return 1;
}

static int starts(const struct line *l, const char *w)
{
	size_t m = strlen(w);
	return l->n >= m && !memcmp(l->p, w, m);
}

static int is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || (unsigned char)c >= 0x80;
}

/* ---- Python ---- */

/* DIR/NAME + file_ext, else DIR/NAME + dir_file (a package's or module's own file); DIR may
 * be empty. */
static long find_module(struct index *x, const char *dir, const char *name, const char *file_ext,
			const char *dir_file)
{
	const char *sep = *dir ? "/" : "";
	char *a = xasprintf("%s%s%s%s", dir, sep, name, file_ext);
	char *b = xasprintf("%s%s%s%s", dir, sep, name, dir_file);
	long r = find_exact(x, a);
	if (r < 0)
		r = find_exact(x, b);
	free(a);
	free(b);
	return r;
}

static long py_try(struct index *x, const char *base_dir, const char *mod_path)
{
	return find_module(x, base_dir, mod_path, ".py", "/__init__.py");
}

/* module: dotted, maybe with leading dots (relative). */
static void py_resolve(struct index *x, const char *module)
{
	size_t dots = 0;
	while (module[dots] == '.')
		dots++;
	char *m = xstrdup(module + dots);
	for (char *p = m; *p; p++)
		if (*p == '.')
			*p = '/';
	char *dir = dir_of(x->f[x->from].path);
	long r = -1;
	if (dots) {
		for (size_t k = 1; k < dots; k++) {
			char *up = dir_of(dir);
			int top = !*dir;
			free(dir);
			dir = up;
			if (top)
				goto out;
		}
		if (*m)
			r = py_try(x, dir, m);
		else {
			char *init = *dir ? xasprintf("%s/__init__.py", dir) : xstrdup("__init__.py");
			r = find_exact(x, init);
			free(init);
		}
	} else if (*m) {
		r = py_try(x, "", m);
		if (r < 0)
			r = py_try(x, dir, m);
		if (r < 0) {
			char *a = xasprintf("%s.py", m), *b = xasprintf("%s/__init__.py", m);
			r = find_suffix(x, a);
			if (r < 0)
				r = find_suffix(x, b);
			free(a);
			free(b);
		}
	}
	add_edge(x, r);
out:
	free(dir);
	free(m);
}

/* Copies the dotted name at *p (letters, digits, _, .) into out; advances *p. */
static size_t take_dotted(const char **p, const char *end, char *out, size_t cap)
{
	size_t n = 0;
	while (*p < end && (is_ident(**p) || **p == '.')) {
		if (n + 1 < cap)
			out[n++] = **p;
		(*p)++;
	}
	out[n] = 0;
	return n;
}

static void skip_blank(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '(' || **p == ')'))
		(*p)++;
}

static void scan_python(struct index *x, const char *t, size_t len)
{
	const char *cur = t, *end = t + len;
	struct line l;
	char mod[512], name[256];
	while (next_line(&cur, end, &l)) {
		const char *p = l.p, *e = l.p + l.n;
		if (starts(&l, "import ")) {
			p += 7;
			while (p < e) {
				skip_blank(&p, e);
				if (take_dotted(&p, e, mod, sizeof mod))
					py_resolve(x, mod);
				while (p < e && *p != ',')
					p++; /* " as name" */
				if (p < e)
					p++;
			}
		} else if (starts(&l, "from ")) {
			p += 5;
			skip_blank(&p, e);
			if (!take_dotted(&p, e, mod, sizeof mod))
				continue;
			skip_blank(&p, e);
			if (e - p < 7 || memcmp(p, "import ", 7))
				continue;
			py_resolve(x, mod);
			p += 7;
			while (p < e) {
				skip_blank(&p, e);
				if (take_dotted(&p, e, name, sizeof name) && strcmp(name, "*")) {
					char *sub = xasprintf("%s%s%s", mod,
							      mod[strlen(mod) - 1] == '.' ? "" : ".", name);
					py_resolve(x, sub);
					free(sub);
				}
				while (p < e && *p != ',')
					p++;
				if (p < e)
					p++;
			}
		}
	}
}

/* ---- Java ---- */

static void java_resolve(struct index *x, char *name)
{
	size_t n = strlen(name);
	if (n > 2 && !strcmp(name + n - 2, ".*")) {
		name[n - 2] = 0;
		for (char *p = name; *p; p++)
			if (*p == '.')
				*p = '/';
		for (size_t i = 0; i < x->ndirs; i++)
			if (ends_with_part(x->dirs[i], name))
				add_dir(x, x->dirs[i], ".java", NULL);
		return;
	}
	for (int tries = 0; tries < 2; tries++) {
		char *path = xasprintf("%s.java", name);
		for (char *p = path; *p; p++)
			if (*p == '.' && strcmp(p, ".java"))
				*p = '/';
		long r = find_suffix(x, path);
		free(path);
		if (r >= 0) {
			add_edge(x, r);
			return;
		}
		char *dot = strrchr(name, '.'); /* a static member or a nested class */
		if (!dot)
			return;
		*dot = 0;
	}
}

static void scan_java(struct index *x, const char *t, size_t len)
{
	const char *cur = t, *end = t + len;
	struct line l;
	char name[512];
	while (next_line(&cur, end, &l)) {
		if (!starts(&l, "import "))
			continue;
		const char *p = l.p + 7, *e = l.p + l.n;
		skip_blank(&p, e);
		if (e - p > 7 && !memcmp(p, "static ", 7))
			p += 7;
		skip_blank(&p, e);
		size_t n = 0;
		while (p < e && (is_ident(*p) || *p == '.' || *p == '*') && n + 1 < sizeof name)
			name[n++] = *p++;
		name[n] = 0;
		if (n)
			java_resolve(x, name);
	}
}

/* ---- C, C++, CUDA, Objective-C ---- */

static void scan_c(struct index *x, const char *t, size_t len)
{
	const char *cur = t, *end = t + len;
	struct line l;
	char *dir = dir_of(x->f[x->from].path);
	while (next_line(&cur, end, &l)) {
		if (!l.n || l.p[0] != '#')
			continue;
		const char *p = l.p + 1, *e = l.p + l.n;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (e - p >= 7 && !memcmp(p, "include", 7))
			p += 7;
		else if (e - p >= 6 && !memcmp(p, "import", 6))
			p += 6;
		else
			continue;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= e || (*p != '"' && *p != '<'))
			continue;
		char close = *p == '"' ? '"' : '>';
		const char *s = ++p;
		while (p < e && *p != close)
			p++;
		if (p >= e || p == s)
			continue;
		char *inc = xstrndup(s, (size_t)(p - s));
		char *rel = join_norm(dir, inc);
		long r = rel ? find_exact(x, rel) : -1;
		if (r < 0)
			r = find_exact(x, inc);
		if (r < 0 && !strstr(inc, ".."))
			r = find_suffix(x, inc);
		add_edge(x, r);
		free(rel);
		free(inc);
	}
	free(dir);
}

/* ---- JavaScript, TypeScript ---- */

static void js_resolve(struct index *x, const char *dir, const char *spec)
{
	static const char *const ext[] = {".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".d.ts", ".vue"};
	char *base = join_norm(dir, spec);
	if (!base)
		return;
	long r = find_exact(x, base);
	size_t bl = strlen(base);
	if (r < 0 && bl > 3 && !strcmp(base + bl - 3, ".js")) { /* TypeScript's "./a.js" is a.ts */
		char *ts = xasprintf("%.*s.ts", (int)(bl - 3), base);
		char *tsx = xasprintf("%.*s.tsx", (int)(bl - 3), base);
		r = find_exact(x, ts);
		if (r < 0)
			r = find_exact(x, tsx);
		free(ts);
		free(tsx);
	}
	for (size_t i = 0; r < 0 && i < 2 * ARRAY_LEN(ext); i++) {
		char *c = i < ARRAY_LEN(ext) ? xasprintf("%s%s", base, ext[i])
					     : xasprintf("%s%sindex%s", base, *base ? "/" : "",
							 ext[i - ARRAY_LEN(ext)]);
		r = find_exact(x, c);
		free(c);
	}
	add_edge(x, r);
	free(base);
}

/* 1 if the word w ends just before p (after blanks), as a whole word. */
static int word_before(const char *start, const char *p, const char *w)
{
	while (p > start && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n' || p[-1] == '\r'))
		p--;
	size_t m = strlen(w);
	if ((size_t)(p - start) < m || memcmp(p - m, w, m))
		return 0;
	return p - m == start || !is_ident(p[-(long)m - 1]);
}

static void scan_js(struct index *x, const char *t, size_t len)
{
	char *dir = dir_of(x->f[x->from].path);
	const char *end = t + len;
	for (const char *p = t; p + 2 < end; p++) {
		if ((*p != '\'' && *p != '"' && *p != '`') || p[1] != '.')
			continue;
		if (p[2] != '/' && !(p + 3 < end && p[2] == '.' && p[3] == '/'))
			continue;
		const char *b = p;
		while (b > t && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		int ok;
		if (b > t && b[-1] == '(')
			ok = word_before(t, b - 1, "require") || word_before(t, b - 1, "import");
		else
			ok = word_before(t, p, "from") || word_before(t, p, "import");
		const char *q = p + 1;
		while (q < end && *q != *p && *q != '\n')
			q++;
		if (ok && q < end && *q == *p) {
			char *spec = xstrndup(p + 1, (size_t)(q - p - 1));
			js_resolve(x, dir, spec);
			free(spec);
		}
		p = q < end ? q : end - 1;
	}
	free(dir);
}

/* ---- Go ---- */

struct gomod {
	char *module, *dir;
};

static void go_resolve(struct index *x, const struct gomod *mods, size_t nmods, const char *imp)
{
	const struct gomod *best = NULL;
	for (size_t i = 0; i < nmods; i++) {
		size_t m = strlen(mods[i].module);
		if (!strncmp(imp, mods[i].module, m) && (imp[m] == 0 || imp[m] == '/') &&
		    (!best || m > strlen(best->module)))
			best = &mods[i];
	}
	if (best) {
		const char *rest = imp + strlen(best->module);
		rest += *rest == '/';
		char *dir = *best->dir && *rest ? xasprintf("%s/%s", best->dir, rest)
						: xstrdup(*best->dir ? best->dir : rest);
		add_dir(x, dir, ".go", "_test.go");
		free(dir);
		return;
	}
	if (!strchr(imp, '/'))
		return; /* the standard library */
	for (size_t i = 0; i < x->ndirs; i++)
		if (ends_with_part(x->dirs[i], imp))
			add_dir(x, x->dirs[i], ".go", "_test.go");
}

static void go_import_line(struct index *x, const struct gomod *mods, size_t nmods,
			   const char *p, const char *e)
{
	const char *q = memchr(p, '"', (size_t)(e - p));
	if (!q)
		return;
	const char *r = memchr(q + 1, '"', (size_t)(e - q - 1));
	if (!r || r == q + 1)
		return;
	char *imp = xstrndup(q + 1, (size_t)(r - q - 1));
	go_resolve(x, mods, nmods, imp);
	free(imp);
}

static void scan_go(struct index *x, const struct gomod *mods, size_t nmods, const char *t,
		    size_t len)
{
	const char *cur = t, *end = t + len;
	struct line l;
	int block = 0;
	while (next_line(&cur, end, &l)) {
		const char *e = l.p + l.n;
		if (block) {
			if (l.n && l.p[0] == ')')
				block = 0;
			else
				go_import_line(x, mods, nmods, l.p, e);
		} else if (starts(&l, "import")) {
			const char *p = l.p + 6;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			if (p < e && *p == '(')
				block = 1;
			else
				go_import_line(x, mods, nmods, p, e);
		} else if (starts(&l, "func ") || starts(&l, "type ") || starts(&l, "var ")) {
			break; /* imports come first in Go */
		}
	}
}

static size_t go_modules(const struct gh_file *f, size_t n, struct gomod **out)
{
	size_t k = 0;
	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(basename_of(f[i].path), "go.mod"))
			continue;
		const char *cur = f[i].text, *end = f[i].text + f[i].len;
		struct line l;
		while (next_line(&cur, end, &l)) {
			if (!starts(&l, "module "))
				continue;
			const char *p = l.p + 7, *e = l.p + l.n;
			while (p < e && (*p == ' ' || *p == '"'))
				p++;
			const char *s = p;
			while (p < e && *p != ' ' && *p != '"')
				p++;
			while (p > s && p[-1] == '"')
				p--;
			if (p == s)
				break;
			*out = xrealloc(*out, (k + 1) * sizeof **out);
			(*out)[k++] = (struct gomod){xstrndup(s, (size_t)(p - s)), dir_of(f[i].path)};
			break;
		}
	}
	return k;
}

/* ---- Rust ---- */

static long rs_module(struct index *x, const char *moddir, const char *name)
{
	return find_module(x, moddir, name, ".rs", "/mod.rs");
}

/* The directory holding the child modules of the current file. */
static char *rs_moddir(const char *path)
{
	const char *b = basename_of(path);
	char *dir = dir_of(path);
	if (!strcmp(b, "mod.rs") || !strcmp(b, "lib.rs") || !strcmp(b, "main.rs"))
		return dir;
	char *r = *dir ? xasprintf("%s/%.*s", dir, (int)(strlen(b) - 3), b)
		       : xasprintf("%.*s", (int)(strlen(b) - 3), b);
	free(dir);
	return r;
}

/* The nearest ancestor directory with lib.rs or main.rs, or NULL. */
static char *rs_crate_root(struct index *x, const char *path)
{
	char *dir = dir_of(path);
	for (;;) {
		char *lib = *dir ? xasprintf("%s/lib.rs", dir) : xstrdup("lib.rs");
		char *mn = *dir ? xasprintf("%s/main.rs", dir) : xstrdup("main.rs");
		int found = find_exact(x, lib) >= 0 || find_exact(x, mn) >= 0;
		free(lib);
		free(mn);
		if (found)
			return dir;
		if (!*dir)
			break;
		char *up = dir_of(dir);
		free(dir);
		dir = up;
	}
	free(dir);
	return NULL;
}

static void scan_rust(struct index *x, const char *t, size_t len)
{
	const char *path = x->f[x->from].path;
	char *moddir = rs_moddir(path), *root = NULL;
	int root_done = 0;
	const char *cur = t, *end = t + len;
	struct line l;
	char a[256], b[256];
	while (next_line(&cur, end, &l)) {
		const char *p = l.p, *e = l.p + l.n;
		if (starts(&l, "pub(")) {
			p = memchr(p, ')', (size_t)(e - p));
			if (!p)
				continue;
			p++;
			while (p < e && *p == ' ')
				p++;
		} else if (starts(&l, "pub ")) {
			p += 4;
		}
		if (e - p > 4 && !memcmp(p, "mod ", 4)) {
			p += 4;
			size_t n = 0;
			while (p < e && is_ident(*p) && n + 1 < sizeof a)
				a[n++] = *p++;
			a[n] = 0;
			if (n && p < e && *p == ';')
				add_edge(x, rs_module(x, moddir, a));
		} else if (e - p > 11 && !memcmp(p, "use crate::", 11)) {
			p += 11;
			size_t n = 0, m = 0;
			while (p < e && is_ident(*p) && n + 1 < sizeof a)
				a[n++] = *p++;
			a[n] = 0;
			if (e - p > 2 && p[0] == ':' && p[1] == ':')
				for (p += 2; p < e && is_ident(*p) && m + 1 < sizeof b;)
					b[m++] = *p++;
			b[m] = 0;
			if (!n)
				continue;
			if (!root_done) {
				root = rs_crate_root(x, path);
				root_done = 1;
			}
			if (!root)
				continue;
			long r = -1;
			if (m) {
				char *sub = *root ? xasprintf("%s/%s", root, a) : xstrdup(a);
				r = rs_module(x, sub, b);
				free(sub);
			}
			if (r < 0)
				r = rs_module(x, root, a);
			add_edge(x, r);
		}
	}
	free(moddir);
	free(root);
}

/* ---- edges ---- */

static int edge_cmp(const void *a, const void *b)
{
	const struct gh_edge *x = a, *y = b;
	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return (x->to > y->to) - (x->to < y->to);
}

static int lang_is(const char *l, const char *a)
{
	return l && !strcmp(l, a);
}

size_t gh_deps_edges(const struct gh_file *f, size_t n, struct gh_edge **edges)
{
	struct index x;
	index_init(&x, f, n);
	struct gomod *mods;
	size_t nmods = go_modules(f, n, &mods);
	for (size_t i = 0; i < n; i++) {
		const char *l = f[i].lang;
		x.from = i;
		if (lang_is(l, "python"))
			scan_python(&x, f[i].text, f[i].len);
		else if (lang_is(l, "java"))
			scan_java(&x, f[i].text, f[i].len);
		else if (lang_is(l, "c") || lang_is(l, "cpp") || lang_is(l, "cuda") ||
			 lang_is(l, "objc"))
			scan_c(&x, f[i].text, f[i].len);
		else if (lang_is(l, "javascript") || lang_is(l, "typescript") ||
			 lang_is(l, "tsx") || lang_is(l, "vue"))
			scan_js(&x, f[i].text, f[i].len);
		else if (lang_is(l, "go"))
			scan_go(&x, mods, nmods, f[i].text, f[i].len);
		else if (lang_is(l, "rust"))
			scan_rust(&x, f[i].text, f[i].len);
	}
	for (size_t i = 0; i < nmods; i++) {
		free(mods[i].module);
		free(mods[i].dir);
	}
	free(mods);
	index_release(&x);
	/* edges only between files that go into documents */
	size_t w = 0;
	for (size_t i = 0; i < x.ne; i++)
		if (f[x.e[i].from].lang && f[x.e[i].to].lang)
			x.e[w++] = x.e[i];
	if (w)
		qsort(x.e, w, sizeof *x.e, edge_cmp);
	size_t u = 0;
	for (size_t i = 0; i < w; i++)
		if (!u || edge_cmp(&x.e[u - 1], &x.e[i]))
			x.e[u++] = x.e[i];
	*edges = x.e;
	return u;
}

/* ---- order and packing ---- */

int gh_deps_shuffled(const char *lang)
{
	return lang_is(lang, "html") || lang_is(lang, "sql") || lang_is(lang, "shell");
}

static size_t uf_find(size_t *parent, size_t i)
{
	while (parent[i] != i)
		i = parent[i] = parent[parent[i]];
	return i;
}

/* Kahn's algorithm over the files in graph[] (flags): a file comes after the files it
 * imports; among ready files the first by path. A cycle is broken by taking, among the
 * files left, the one with the fewest unmet imports (then the first by path). */
static size_t topo_order(size_t n, const unsigned char *graph, const struct gh_edge *e,
			 size_t ne, size_t *out)
{
	size_t *unmet = xcalloc(n ? n : 1, sizeof *unmet);
	size_t *rstart = xcalloc(n + 1, sizeof *rstart), *rev = xmalloc((ne ? ne : 1) * sizeof *rev);
	unsigned char *done = xcalloc(n ? n : 1, 1);
	for (size_t i = 0; i < ne; i++) {
		unmet[e[i].from]++;
		rstart[e[i].to + 1]++;
	}
	for (size_t i = 0; i < n; i++)
		rstart[i + 1] += rstart[i];
	size_t *fill = xmalloc((n + 1) * sizeof *fill);
	memcpy(fill, rstart, (n + 1) * sizeof *fill);
	for (size_t i = 0; i < ne; i++)
		rev[fill[e[i].to]++] = e[i].from;
	free(fill);
	/* a min-heap of ready indices: index order is path order */
	size_t *heap = xmalloc((n ? n : 1) * sizeof *heap), nh = 0, k = 0, left = 0;
	for (size_t i = 0; i < n; i++)
		left += graph[i] != 0;
#define HEAP_PUSH(v)                                                                       \
	do {                                                                               \
		size_t c_ = nh++;                                                          \
		heap[c_] = (v);                                                            \
		while (c_ && heap[(c_ - 1) / 2] > heap[c_]) {                              \
			size_t t_ = heap[c_]; heap[c_] = heap[(c_ - 1) / 2];               \
			heap[(c_ - 1) / 2] = t_; c_ = (c_ - 1) / 2;                        \
		}                                                                          \
	} while (0)
	for (size_t i = 0; i < n; i++)
		if (graph[i] && !unmet[i])
			HEAP_PUSH(i);
	while (left) {
		size_t v;
		if (nh) {
			v = heap[0];
			heap[0] = heap[--nh];
			for (size_t c = 0;;) {
				size_t l = 2 * c + 1, r = l + 1, m = c;
				if (l < nh && heap[l] < heap[m])
					m = l;
				if (r < nh && heap[r] < heap[m])
					m = r;
				if (m == c)
					break;
				size_t t = heap[c];
				heap[c] = heap[m];
				heap[m] = t;
				c = m;
			}
			if (done[v])
				continue;
		} else {
			v = n;
			for (size_t i = 0; i < n; i++)
				if (graph[i] && !done[i] && (v == n || unmet[i] < unmet[v]))
					v = i;
		}
		done[v] = 1;
		out[k++] = v;
		left--;
		for (size_t j = rstart[v]; j < rstart[v + 1]; j++) {
			size_t u = rev[j];
			if (unmet[u] && --unmet[u] == 0 && !done[u])
				HEAP_PUSH(u);
		}
	}
#undef HEAP_PUSH
	free(heap);
	free(done);
	free(rev);
	free(rstart);
	free(unmet);
	return k;
}

struct packer {
	struct gh_repo_docs *d;
	const struct gh_file *f;
	uint64_t max, cur;
	size_t header, path_times;
};

/* A file's share of a document: its text, its header with the path, a final newline. */
static uint64_t file_bytes(const struct packer *p, size_t i)
{
	return p->f[i].len + p->header + p->path_times * strlen(p->f[i].path) + 1;
}

static void pack_close(struct packer *p)
{
	struct gh_repo_docs *d = p->d;
	if (d->norder && (!d->ndocs || d->doc_end[d->ndocs - 1] < d->norder))
		d->doc_end[d->ndocs++] = d->norder;
	p->cur = 0;
}

/* Appends a run of files that should stay together when they fit: a new document starts
 * when the run does not fit into the current one; a run larger than the limit is cut in
 * its own order. */
static void pack_run(struct packer *p, const size_t *run, size_t nrun)
{
	uint64_t total = 0;
	for (size_t i = 0; i < nrun; i++)
		total += file_bytes(p, run[i]);
	if (p->max && p->cur && p->cur + total > p->max)
		pack_close(p);
	for (size_t i = 0; i < nrun; i++) {
		uint64_t sz = file_bytes(p, run[i]);
		if (p->max && p->cur && p->cur + sz > p->max)
			pack_close(p);
		p->d->order[p->d->norder++] = run[i];
		p->cur += sz;
	}
}

struct pair {
	size_t root, pos;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->root != y->root)
		return x->root < y->root ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

void gh_deps_plan(const struct gh_file *f, size_t n, uint64_t max_bytes, size_t header_bytes,
		  size_t path_times, uint64_t seed, const char *repo, struct gh_repo_docs *out)
{
	*out = (struct gh_repo_docs){0};
	out->order = xmalloc((n ? n : 1) * sizeof *out->order);
	out->doc_end = xmalloc((n ? n : 1) * sizeof *out->doc_end);
	struct gh_edge *e;
	size_t ne = gh_deps_edges(f, n, &e);
	unsigned char *graph = xcalloc(n ? n : 1, 1);
	size_t *parent = xmalloc((n ? n : 1) * sizeof *parent);
	for (size_t i = 0; i < n; i++) {
		graph[i] = f[i].lang && !gh_deps_shuffled(f[i].lang);
		parent[i] = i;
	}
	for (size_t i = 0; i < ne; i++) {
		size_t a = uf_find(parent, e[i].from), b = uf_find(parent, e[i].to);
		if (a != b) /* the smaller index is the root: the component's first path */
			parent[a > b ? a : b] = a < b ? a : b;
	}
	size_t *topo = xmalloc((n ? n : 1) * sizeof *topo);
	size_t nt = topo_order(n, graph, e, ne, topo);
	/* components in order of their first path, each in topological order */
	struct pair *pr = xmalloc((nt ? nt : 1) * sizeof *pr);
	for (size_t i = 0; i < nt; i++)
		pr[i] = (struct pair){uf_find(parent, topo[i]), i};
	qsort(pr, nt, sizeof *pr, pair_cmp);
	size_t *run = xmalloc((n ? n : 1) * sizeof *run);
	struct packer p = {out, f, max_bytes, 0, header_bytes, path_times};
	for (size_t i = 0, j; i < nt; i = j) {
		size_t nr = 0;
		for (j = i; j < nt && pr[j].root == pr[i].root; j++)
			run[nr++] = topo[pr[j].pos];
		pack_run(&p, run, nr);
	}
	free(pr);
	/* the shuffled languages: one run in a random order seeded by seed and the repository */
	size_t nr = 0;
	for (size_t i = 0; i < n; i++)
		if (f[i].lang && gh_deps_shuffled(f[i].lang))
			run[nr++] = i;
	unsigned char h[SHA256_LEN];
	sha256(repo, strlen(repo), h);
	uint64_t s = seed ^ be_get(h, 8);
	for (size_t i = nr; i > 1; i--) {
		size_t j = (size_t)(splitmix64_next(&s) % i);
		size_t t = run[i - 1];
		run[i - 1] = run[j];
		run[j] = t;
	}
	pack_run(&p, run, nr);
	pack_close(&p);
	free(run);
	free(topo);
	free(parent);
	free(graph);
	free(e);
}

void gh_repo_docs_release(struct gh_repo_docs *d)
{
	free(d->order);
	free(d->doc_end);
	*d = (struct gh_repo_docs){0};
}
