/* html: rule-based extraction over libxml2's HTML tree (html.h). One walk in document order
 * builds the text; at a code element it walks that subtree once more in verbatim mode and
 * writes it as a block, never entering it as prose. Whitespace in prose is collapsed, never
 * inside code. */
#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "html.h"

#define MAX_DEPTH 400 /* deeper subtrees are read as flat text: broken pages nest without end */

void html_page_init(struct html_page *pg) { memset(pg, 0, sizeof *pg); }

void html_page_release(struct html_page *pg)
{
	buf_release(&pg->text);
	buf_release(&pg->title);
}

double html_cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int inited;

void html_init(void)
{
	if (inited)
		return;
	xmlInitParser();
	inited = 1;
}

/* ---- languages ---- */

static const char *const LANG_ALIAS[][2] = {
	{"py", "python"}, {"py3", "python"}, {"python3", "python"}, {"python2", "python"},
	{"pycon", "python"}, {"ipython", "python"}, {"js", "javascript"}, {"node", "javascript"},
	{"nodejs", "javascript"}, {"ecmascript", "javascript"}, {"mjs", "javascript"},
	{"ts", "typescript"}, {"sh", "bash"}, {"shell", "bash"}, {"zsh", "bash"},
	{"shellscript", "bash"}, {"c++", "cpp"}, {"cxx", "cpp"}, {"hpp", "cpp"}, {"cc", "cpp"},
	{"cs", "csharp"}, {"c#", "csharp"}, {"rb", "ruby"}, {"rs", "rust"}, {"golang", "go"},
	{"kt", "kotlin"}, {"yml", "yaml"}, {"md", "markdown"}, {"html5", "html"},
	{"xhtml", "html"}, {"htm", "html"}, {"objc", "objectivec"}, {"objective-c", "objectivec"},
	{"ps1", "powershell"}, {"posh", "powershell"}, {"tex", "latex"}, {"docker", "dockerfile"},
	{"make", "makefile"}, {"mk", "makefile"}, {"pl", "perl"}, {"hs", "haskell"},
	{"ex", "elixir"}, {"exs", "elixir"}, {"erl", "erlang"}, {"clj", "clojure"},
	{"f#", "fsharp"}, {"fs", "fsharp"}, {"vb.net", "vbnet"}, {"jl", "julia"}, {"ml", "ocaml"},
	{"patch", "diff"}, {"udiff", "diff"}, {"proto", "protobuf"}, {"sol", "solidity"},
	{"plpgsql", "sql"}, {"mysql", "sql"}, {"postgresql", "sql"}, {"psql", "sql"},
	{"tsql", "sql"}, {"coffee", "coffeescript"}, {"console", "shell-session"},
	{"shell-session", "shell-session"}, {"bat", "batch"}, {"cmd", "batch"},
};

/* Names a bare class token may be taken for (<code class="python">). */
static const char *const LANG_KNOWN[] = {
	"python", "javascript", "java", "c", "cpp", "csharp", "go", "rust", "ruby", "php",
	"bash", "sql", "html", "css", "xml", "json", "yaml", "typescript", "kotlin", "swift",
	"scala", "perl", "lua", "haskell", "powershell", "makefile", "dockerfile", "markdown",
	"latex", "matlab", "objectivec", "dart", "elixir", "erlang", "clojure", "groovy", "julia",
	"ocaml", "fsharp", "vbnet", "diff", "ini", "toml", "nginx", "graphql", "protobuf",
	"solidity", "zig", "fortran", "cobol", "nasm", "verilog", "vhdl", "tcl", "lisp", "scheme",
	"racket", "coffeescript", "less", "scss", "sass", "jsx", "tsx", "vue", "cmake", "r",
	"shell-session", "batch", "asm", "apache", "awk", "sed", "prolog", "haxe", "d", "nim",
};

/* Hints that name no language. */
static const char *const LANG_NONE[] = {
	"text", "plain", "plaintext", "txt", "none", "nohighlight", "no-highlight", "default",
	"code", "source", "output", "raw", "notranslate", "auto", "highlight", "literal-block",
	"nolang", "unknown", "generic",
};

/* Normalizes a candidate name into out; 0 if it names a language. */
static int lang_normalize(const char *s, size_t n, char *out, size_t outlen)
{
	char low[40];
	while (n && strchr(";:,\"'", s[n - 1]))
		n--;
	if (!n || n >= sizeof low || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		low[i] = (char)tolower((unsigned char)s[i]);
		if (!isalnum((unsigned char)low[i]) && !strchr("+#._-", low[i]))
			return -1;
	}
	low[n] = 0;
	const char *name = low;
	for (size_t i = 0; i < ARRAY_LEN(LANG_ALIAS); i++)
		if (!strcmp(low, LANG_ALIAS[i][0]))
			name = LANG_ALIAS[i][1];
	if (str_listed(name, LANG_NONE, ARRAY_LEN(LANG_NONE)) || isdigit((unsigned char)name[0]))
		return -1;
	snprintf(out, outlen, "%s", name);
	return 0;
}

static const char *const LANG_PREFIX[] = {"language-", "lang-", "highlight-source-",
					  "highlight-", "brush:", "syntax-", "code-"};
/* Tokens after which the next token is the language (pandoc, SyntaxHighlighter, hljs). */
static const char *const LANG_LEADER[] = {"sourcecode", "syntaxhighlighter", "hljs", "brush:"};

void html_lang_from_class(const char *cls, char *out, size_t outlen)
{
	out[0] = 0;
	char prev[24] = "";
	for (const char *p = cls; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		const char *t = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		size_t n = (size_t)(p - t);
		if (!n)
			break;
		for (size_t i = 0; i < ARRAY_LEN(LANG_PREFIX); i++) {
			size_t k = strlen(LANG_PREFIX[i]);
			if (n > k && !strncasecmp(t, LANG_PREFIX[i], k) &&
			    !lang_normalize(t + k, n - k, out, outlen))
				return;
		}
		if (str_listed(prev, LANG_LEADER, ARRAY_LEN(LANG_LEADER)) &&
		    !lang_normalize(t, n, out, outlen))
			return;
		char tok[40];
		if (!lang_normalize(t, n, tok, sizeof tok) && str_listed(tok, LANG_KNOWN, ARRAY_LEN(LANG_KNOWN))) {
			snprintf(out, outlen, "%s", tok);
			return;
		}
		snprintf(prev, sizeof prev, "%.*s", (int)(n < 23 ? n : 23), t);
		for (char *c = prev; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
}

/* ---- node helpers ---- */

static int is(const xmlNode *n, const char *tag)
{
	return n->type == XML_ELEMENT_NODE && !strcasecmp((const char *)n->name, tag);
}

static int is_any(const xmlNode *n, const char *const *tags, size_t k)
{
	if (n->type != XML_ELEMENT_NODE)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (!strcasecmp((const char *)n->name, tags[i]))
			return 1;
	return 0;
}

/* An attribute value; "" if absent. Valid until attr_free. */
static char *attr(const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	return v ? (char *)v : NULL;
}

static void attr_copy(const xmlNode *n, const char *name, char *out, size_t outlen)
{
	char *v = attr(n, name);
	snprintf(out, outlen, "%s", v ? v : "");
	xmlFree(v);
}

/* Whether a whitespace-separated token of s equals one in words, or contains one of subs. */
static int class_hit(const char *s, const char *const *words, size_t nw, const char *const *subs,
		     size_t ns)
{
	for (const char *p = s; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		const char *t = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		size_t n = (size_t)(p - t);
		if (!n)
			break;
		for (size_t i = 0; i < nw; i++)
			if (strlen(words[i]) == n && !strncasecmp(t, words[i], n))
				return 1;
		for (size_t i = 0; i < ns; i++) {
			size_t k = strlen(subs[i]);
			for (size_t j = 0; j + k <= n; j++)
				if (!strncasecmp(t + j, subs[i], k))
					return 1;
		}
	}
	return 0;
}

static int has_class(const xmlNode *n, const char *const *words, size_t nw, const char *const *subs,
		     size_t ns)
{
	char *c = attr(n, "class");
	int hit = c && class_hit(c, words, nw, subs, ns);
	xmlFree(c);
	return hit;
}

static const char *const SKIP_TAGS[] = {
	"script", "style", "noscript", "template", "svg", "math", "canvas", "iframe", "object",
	"embed", "head", "select", "option", "button", "input", "textarea", "audio", "video",
	"map", "link", "meta",
};
static const char *const BOILER_TAGS[] = {"nav", "aside", "footer", "menu", "dialog"};
static const char *const BOILER_WORDS[] = {
	"nav", "navbar", "navigation", "menu", "menubar", "sidebar", "footer", "site-footer",
	"site-header", "masthead", "breadcrumb", "breadcrumbs", "cookie", "cookies", "banner",
	"advert", "advertisement", "ads", "ad", "share", "sharing", "social", "related",
	"related-posts", "skip-link", "pagination", "pager", "toc", "newsletter", "subscribe",
	"popup", "modal", "login", "signup",
};
static const char *const BOILER_SUBS[] = {"sidebar", "navbar", "breadcrumb", "cookie", "advert"};
static const char *const BOILER_ROLES[] = {"navigation", "banner", "contentinfo", "complementary",
					  "search", "menu", "menubar"};
static const char *const LINE_NUMBER_WORDS[] = {"gutter", "linenos", "linenodiv", "lineno",
					       "line-numbers", "blob-num", "hljs-ln-numbers",
					       "line-number", "ln-num", "lnt"};
static const char *const BLOCK_TAGS[] = {
	"p", "div", "section", "article", "main", "header", "h1", "h2", "h3", "h4", "h5", "h6",
	"ul", "ol", "dl", "dt", "dd", "table", "blockquote", "figure", "figcaption", "hr",
	"address", "details", "summary", "form", "fieldset", "center", "body", "caption",
	"thead", "tbody", "tfoot", "legend",
};
static const char *const LINE_TAGS[] = {"li", "tr", "br", "option"};

static int inside(const xmlNode *n, const char *const *tags, size_t k)
{
	for (const xmlNode *a = n->parent; a; a = a->parent)
		if (is_any(a, tags, k))
			return 1;
	return 0;
}

static int is_boilerplate(const xmlNode *n)
{
	static const char *const content[] = {"html", "body", "main", "article", "pre", "code"};
	if (is_any(n, content, ARRAY_LEN(content)))
		return 0;
	if (is_any(n, BOILER_TAGS, ARRAY_LEN(BOILER_TAGS)))
		return 1;
	static const char *const holders[] = {"article", "main", "section"};
	if (is(n, "header") && !inside(n, holders, ARRAY_LEN(holders)))
		return 1;
	char *role = attr(n, "role"), *cls = attr(n, "class"), *id = attr(n, "id");
	int hit = (role && str_listed(role, BOILER_ROLES, ARRAY_LEN(BOILER_ROLES))) ||
		  (cls && class_hit(cls, BOILER_WORDS, ARRAY_LEN(BOILER_WORDS), BOILER_SUBS,
				    ARRAY_LEN(BOILER_SUBS))) ||
		  (id && class_hit(id, BOILER_WORDS, ARRAY_LEN(BOILER_WORDS), BOILER_SUBS,
				   ARRAY_LEN(BOILER_SUBS)));
	xmlFree(role);
	xmlFree(cls);
	xmlFree(id);
	return hit;
}

static int is_hidden(const xmlNode *n)
{
	if (xmlHasProp(n, (const xmlChar *)"hidden"))
		return 1;
	char *aria = attr(n, "aria-hidden"), *style = attr(n, "style");
	int hit = aria && !strcasecmp(aria, "true");
	if (!hit && style) {
		char *d = style;
		for (const char *s = style; *s; s++) /* "display: none" and "display:none" alike */
			if (!isspace((unsigned char)*s))
				*d++ = (char)tolower((unsigned char)*s);
		*d = 0;
		hit = strstr(style, "display:none") != NULL;
	}
	xmlFree(aria);
	xmlFree(style);
	return hit;
}

/* ---- the text being built ---- */

enum { GAP_NONE, GAP_SPACE, GAP_LINE, GAP_PARA };

struct walker {
	struct html_page *pg;
	int boilerplate;
	int gap;
	int verbatim;    /* walking a code element: its text as it is shown, into code */
	struct buf code; /* scratch for one code block */
};

static void want_gap(struct walker *w, int gap)
{
	if (gap > w->gap)
		w->gap = gap;
}

static void flush_gap(struct walker *w)
{
	struct buf *b = &w->pg->text;
	if (b->len && w->gap)
		buf_puts(b, w->gap == GAP_SPACE ? " " : w->gap == GAP_LINE ? "\n" : "\n\n");
	w->gap = GAP_NONE;
}

/* Prose: runs of whitespace (NBSP included) become one gap. */
static void put_text(struct walker *w, const char *s)
{
	struct buf *b = &w->pg->text;
	while (*s) {
		unsigned char c = (unsigned char)*s;
		if (isspace(c) || (c == 0xc2 && (unsigned char)s[1] == 0xa0)) {
			want_gap(w, GAP_SPACE);
			s += c == 0xc2 ? 2 : 1;
			continue;
		}
		const char *e = s;
		while (*e && !isspace((unsigned char)*e) &&
		       !((unsigned char)*e == 0xc2 && (unsigned char)e[1] == 0xa0))
			e++;
		flush_gap(w);
		buf_append(b, s, (size_t)(e - s));
		s = e;
	}
}

/* ---- code ---- */

static int is_line_number(const xmlNode *n)
{
	return has_class(n, LINE_NUMBER_WORDS, ARRAY_LEN(LINE_NUMBER_WORDS), NULL, 0);
}

static int ends_line(const xmlNode *n)
{
	static const char *const line_words[] = {"line", "code-line", "ace_line", "cm-line"};
	return is(n, "tr") || is(n, "li") ||
	       (is(n, "div") && has_class(n, line_words, ARRAY_LEN(line_words), NULL, 0));
}

static void walk(struct walker *w, const xmlNode *n, int depth);

/* The text of a code subtree as it is shown, into w->code: text nodes as they are, <br> and
 * line elements as newlines, line-number gutters left out. */
static void code_text(struct walker *w, const xmlNode *n)
{
	buf_reset(&w->code);
	w->verbatim = 1;
	walk(w, n, 0);
	w->verbatim = 0;
}

/* Code as written: CRLF and CR become LF, NBSP a space; blank lines at either end and
 * trailing whitespace are trimmed; indentation stays. */
static void tidy_code(struct buf *b)
{
	if (!b->len)
		return;
	size_t k = 0;
	for (size_t i = 0; i < b->len; i++) {
		char c = b->p[i];
		if (c == '\r') {
			if (i + 1 < b->len && b->p[i + 1] == '\n')
				continue;
			c = '\n';
		} else if ((unsigned char)c == 0xc2 && i + 1 < b->len && (unsigned char)b->p[i + 1] == 0xa0) {
			i++;
			c = ' ';
		}
		b->p[k++] = c;
	}
	size_t start = 0;
	for (size_t i = 0; i < k; i++) { /* leading blank lines */
		if (b->p[i] == '\n')
			start = i + 1;
		else if (!isspace((unsigned char)b->p[i]))
			break;
	}
	while (k > start && isspace((unsigned char)b->p[k - 1]))
		k--;
	memmove(b->p, b->p + start, k - start);
	b->len = k - start;
	b->p[b->len] = 0;
}

static void add_lang(struct html_page *pg, const char *lang)
{
	unsigned i = 0;
	while (i < pg->nlangs && strcmp(pg->langs[i], lang) < 0)
		i++;
	if ((i < pg->nlangs && !strcmp(pg->langs[i], lang)) || pg->nlangs == HTML_MAX_LANGS)
		return;
	memmove(pg->langs[i + 1], pg->langs[i], (pg->nlangs - i) * sizeof pg->langs[0]);
	snprintf(pg->langs[i], sizeof pg->langs[i], "%s", lang);
	pg->nlangs++;
}

static int lang_of_node(const xmlNode *n, char *out, size_t outlen)
{
	static const char *const data[] = {"data-lang", "data-language", "lang-hint"};
	char *v = attr(n, "class");
	if (v)
		html_lang_from_class(v, out, outlen);
	xmlFree(v);
	for (size_t i = 0; !out[0] && i < ARRAY_LEN(data); i++) {
		if ((v = attr(n, data[i])) && lang_normalize(v, strlen(v), out, outlen))
			out[0] = 0;
		xmlFree(v);
	}
	return out[0] != 0;
}

/* The language a code element's classes name: its own, its <code> child's, or up to three
 * ancestors' (Sphinx puts it on a wrapping div). */
static void code_lang(const xmlNode *n, char *out, size_t outlen)
{
	out[0] = 0;
	if (lang_of_node(n, out, outlen))
		return;
	for (const xmlNode *c = n->children; c; c = c->next)
		if (is(c, "code") && lang_of_node(c, out, outlen))
			return;
	const xmlNode *a = n->parent;
	for (int i = 0; i < 3 && a && a->type == XML_ELEMENT_NODE; i++, a = a->parent)
		if (lang_of_node(a, out, outlen))
			return;
}

/* A fence longer than any run of backticks in the code. */
static void put_fence(struct buf *b, const struct buf *code)
{
	size_t run = 0, longest = 0;
	for (size_t i = 0; i < code->len; i++) {
		run = code->p[i] == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	for (size_t i = 0; i < (longest >= 3 ? longest + 1 : 3); i++)
		buf_putc(b, '`');
}

static void emit_code_block(struct walker *w, const xmlNode *n)
{
	code_text(w, n);
	tidy_code(&w->code);
	if (!w->code.len)
		return;
	char lang[32];
	code_lang(n, lang, sizeof lang);
	struct buf *b = &w->pg->text;
	want_gap(w, GAP_PARA);
	flush_gap(w);
	put_fence(b, &w->code);
	buf_puts(b, lang);
	buf_putc(b, '\n');
	buf_append(b, w->code.p, w->code.len);
	buf_putc(b, '\n');
	put_fence(b, &w->code);
	want_gap(w, GAP_PARA);
	w->pg->code_blocks++;
	if (lang[0])
		add_lang(w->pg, lang);
}

static int has_descendant(const xmlNode *n, const char *tag, int depth)
{
	for (const xmlNode *c = n->children; c && depth < MAX_DEPTH; c = c->next)
		if (is(c, tag) || has_descendant(c, tag, depth + 1))
			return 1;
	return 0;
}

/* A highlighter's container without a <pre> inside (SyntaxHighlighter, GitHub's tables). */
static int is_code_container(const xmlNode *n)
{
	static const char *const words[] = {"syntaxhighlighter", "highlight", "codehilite",
					    "code-block", "sourcecode", "blob-wrapper"};
	static const char *const tags[] = {"div", "table", "figure"};
	return is_any(n, tags, ARRAY_LEN(tags)) && has_class(n, words, ARRAY_LEN(words), NULL, 0) &&
	       !has_descendant(n, "pre", 0);
}

/* A <code> outside <pre>: a block when it breaks lines with <br> (as browsers render it),
 * else inline code in backticks with its whitespace collapsed like the prose around it. */
static void emit_inline_code(struct walker *w, const xmlNode *n)
{
	if (has_descendant(n, "br", 0)) {
		emit_code_block(w, n);
		return;
	}
	code_text(w, n);
	size_t k = 0;
	for (size_t i = 0; i < w->code.len; i++) {
		int sp = isspace((unsigned char)w->code.p[i]);
		if (sp && (k == 0 || w->code.p[k - 1] == ' '))
			continue;
		w->code.p[k++] = sp ? ' ' : w->code.p[i];
	}
	while (k && w->code.p[k - 1] == ' ')
		k--;
	w->code.len = k;
	if (!k)
		return;
	flush_gap(w);
	buf_putc(&w->pg->text, '`');
	buf_append(&w->pg->text, w->code.p, w->code.len);
	buf_putc(&w->pg->text, '`');
	w->pg->inline_code++;
}

/* ---- the walk ---- */

/* Left out of prose and code alike: scripts and the like, line-number gutters (numbers, not
 * text); of prose also what is hidden and, when asked, boilerplate. */
static int left_out(const struct walker *w, const xmlNode *n)
{
	if (is_any(n, SKIP_TAGS, ARRAY_LEN(SKIP_TAGS)) || is_line_number(n))
		return 1;
	return !w->verbatim && (is_hidden(n) || (w->boilerplate && is_boilerplate(n)));
}

/* Prose only: a code element written whole; 0 for any other element. */
static int code_element(struct walker *w, const xmlNode *n)
{
	if (is(n, "pre") || is_code_container(n))
		emit_code_block(w, n);
	else if (is(n, "code"))
		emit_inline_code(w, n);
	else
		return 0;
	return 1;
}

/* The gaps an element puts in prose before and after its content: a paragraph around a
 * block, a line break around a line, a space before a table cell. */
static void element_gaps(const xmlNode *n, int *before, int *after)
{
	*before = *after = GAP_NONE;
	if (is_any(n, BLOCK_TAGS, ARRAY_LEN(BLOCK_TAGS)))
		*before = *after = GAP_PARA;
	else if (is_any(n, LINE_TAGS, ARRAY_LEN(LINE_TAGS)))
		*before = *after = GAP_LINE;
	else if (is(n, "td") || is(n, "th"))
		*before = GAP_SPACE;
}

static void walk_element(struct walker *w, const xmlNode *n, int depth)
{
	if (left_out(w, n))
		return;
	if (is(n, "br")) {
		if (w->verbatim)
			buf_putc(&w->code, '\n');
		else
			want_gap(w, GAP_LINE);
		return;
	}
	if (!w->verbatim && code_element(w, n))
		return;
	int before = GAP_NONE, after = GAP_NONE;
	if (!w->verbatim)
		element_gaps(n, &before, &after);
	want_gap(w, before);
	if (depth < MAX_DEPTH)
		walk(w, n, depth + 1);
	want_gap(w, after);
	struct buf *code = &w->code;
	if (w->verbatim && ends_line(n) && code->len && code->p[code->len - 1] != '\n')
		buf_putc(code, '\n');
}

static void walk(struct walker *w, const xmlNode *n, int depth)
{
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			if (c->content && w->verbatim)
				buf_puts(&w->code, (const char *)c->content);
			else if (c->content)
				put_text(w, (const char *)c->content);
		} else if (c->type == XML_ELEMENT_NODE) {
			walk_element(w, c, depth);
		}
	}
}

/* Title and the signals of html_page from <head> and the schema.org type anywhere. */
static void read_signals(struct html_page *pg, const xmlNode *n, int depth)
{
	for (const xmlNode *c = n->children; c && depth < MAX_DEPTH; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is(c, "title") && !pg->title.len) {
			xmlChar *t = xmlNodeGetContent(c);
			if (t) { /* collapsed like prose: the walker writes into tmp.text */
				struct html_page tmp = {.text = pg->title};
				struct walker tw = {.pg = &tmp};
				put_text(&tw, (const char *)t);
				pg->title = tmp.text;
				xmlFree(t);
			}
		} else if (is(c, "meta")) {
			char name[64], prop[64];
			attr_copy(c, "name", name, sizeof name);
			attr_copy(c, "property", prop, sizeof prop);
			if (!strcasecmp(name, "generator") && !pg->generator[0])
				attr_copy(c, "content", pg->generator, sizeof pg->generator);
			if (!strcasecmp(prop, "og:type") && !pg->og_type[0])
				attr_copy(c, "content", pg->og_type, sizeof pg->og_type);
		}
		if (!pg->schema[0] && xmlHasProp(c, (const xmlChar *)"itemtype"))
			attr_copy(c, "itemtype", pg->schema, sizeof pg->schema);
		read_signals(pg, c, depth + 1);
	}
}

static unsigned count_words(const struct buf *b)
{
	unsigned n = 0;
	int in = 0;
	for (size_t i = 0; i < b->len; i++) {
		int sp = isspace((unsigned char)b->p[i]);
		n += !sp && !in;
		in = !sp;
	}
	return n;
}

int html_extract(const char *p, size_t n, int boilerplate, struct html_page *pg)
{
	html_init();
	buf_reset(&pg->text);
	buf_reset(&pg->title);
	pg->code_blocks = pg->inline_code = pg->words = pg->nlangs = 0;
	pg->generator[0] = pg->og_type[0] = pg->schema[0] = 0;
	pg->parse_seconds = 0;
	if (n > 0x7fffffff) {
		err_set("page larger than 2 GiB");
		return -1;
	}
	double t0 = html_cpu_seconds();
	htmlDocPtr doc = htmlReadMemory(p, (int)n, NULL, "UTF-8",
					HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
						HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
						HTML_PARSE_COMPACT);
	pg->parse_seconds = html_cpu_seconds() - t0;
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root) {
		xmlFreeDoc(doc);
		err_set("the HTML parser found no document");
		return -1;
	}
	read_signals(pg, (xmlNode *)doc, 0);
	struct walker w = {.pg = pg, .boilerplate = boilerplate};
	walk(&w, (xmlNode *)doc, 0);
	buf_release(&w.code);
	xmlFreeDoc(doc);
	if (!pg->text.p)
		buf_puts(&pg->text, "");
	pg->words = count_words(&pg->text);
	return 0;
}
