/* The oracle's prompt templates: the shipped ones (the .txt files of stages/oracle/templates/, pulled into
 * the binary) or a user's file, and rendering a document into one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "oracle.h"
#include "par.h"

/* the build runs from the repository root (Makefile), so the paths are relative to it */
#define EMBED(sym, file)                                                                   \
	__asm__(".pushsection .rodata\n" #sym ":\n.incbin \"" file "\"\n.byte 0\n"          \
		".popsection\n");                                                          \
	extern const char sym[]
EMBED(oracle_tpl_code_quality, "stages/oracle/templates/code-quality.txt");
EMBED(oracle_tpl_web_relevance, "stages/oracle/templates/web-relevance.txt");
EMBED(oracle_tpl_web_quality, "stages/oracle/templates/web-quality.txt");

const char *const oracle_template_names[] = {"code-quality", "web-relevance", "web-quality",
					     NULL};
static const char *const texts[] = {oracle_tpl_code_quality, oracle_tpl_web_relevance,
				    oracle_tpl_web_quality};

const char *oracle_template_builtin(const char *name)
{
	for (size_t i = 0; oracle_template_names[i]; i++)
		if (!strcmp(oracle_template_names[i], name))
			return texts[i];
	return NULL;
}

int oracle_template_load(const char *spec, const char *kind, struct oracle_template *t)
{
	memset(t, 0, sizeof *t);
	const char *text = oracle_template_builtin(spec);
	struct buf b = BUF_INIT;
	if (!text) {
		if (!strchr(spec, '/') && !str_ends_with(spec, ".txt")) {
			err_set("oracle.template: \"%s\" is neither a shipped template (code-quality, "
				"web-relevance, web-quality) nor a file path", spec);
			return -1;
		}
		if (read_file(spec, &b) < 0)
			return -1;
		if (!b.p || memchr(b.p, 0, b.len)) {
			err_set("%s: the template is empty or holds a NUL byte", spec);
			buf_release(&b);
			return -1;
		}
		text = b.p;
	}
	if (!strstr(text, "{content}")) {
		err_set("%s: the template has no {content} slot, so the document would never reach "
			"the model", spec);
		buf_release(&b);
		return -1;
	}
	const char *base = strrchr(spec, '/');
	base = base ? base + 1 : spec;
	t->name = xstrdup(base);
	if (str_ends_with(t->name, ".txt"))
		t->name[strlen(t->name) - 4] = 0;
	t->text = b.p ? buf_detach(&b, NULL) : xstrdup(text);
	unsigned char d[SHA256_LEN];
	sha256(t->text, strlen(t->text), d);
	sha256_hexstr(d, t->sha256);
	t->web = !strcmp(kind, "web") || (!strcmp(kind, "auto") && !strncmp(t->name, "web-", 4));
	return 0;
}

void oracle_template_release(struct oracle_template *t)
{
	free(t->name);
	free(t->text);
	memset(t, 0, sizeof *t);
}

/* The longest prefix of s[0..n) of at most max bytes that ends on a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t k = max;
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k;
}

void oracle_render(const struct oracle_template *t, const struct oracle_slots *s,
		   size_t max_bytes, const char *marker, struct buf *out)
{
	buf_reset(out);
	buf_puts(out, ""); /* a NUL-terminated empty text even for an empty template */
	const char *p = t->text;
	while (*p) {
		const char *open = strchr(p, '{');
		if (!open) {
			buf_puts(out, p);
			break;
		}
		buf_append(out, p, (size_t)(open - p));
		p = open;
		const char *v = NULL;
		size_t vn = 0, skip = 0;
		if (!strncmp(p, "{content}", 9)) {
			vn = utf8_cut(s->content, s->content_len, max_bytes);
			buf_append(out, s->content, vn);
			if (vn < s->content_len)
				buf_puts(out, marker);
			p += 9;
			continue;
		}
		if (!strncmp(p, "{language}", 10))
			v = s->language, skip = 10;
		else if (!strncmp(p, "{url}", 5))
			v = s->url, skip = 5;
		else if (!strncmp(p, "{category}", 10))
			v = s->category, skip = 10;
		if (!skip) { /* a brace of the template's own text */
			buf_putc(out, '{');
			p++;
			continue;
		}
		vn = v ? strlen(v) : 0;
		buf_append(out, v ? v : "", vn);
		p += skip;
	}
}

int oracle_template_cmd(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (par_rank() != 0)
		return 0;
	if (a->npos == 0) {
		for (size_t i = 0; oracle_template_names[i]; i++)
			printf("%s\n", oracle_template_names[i]);
		return 0;
	}
	const char *t = a->npos == 1 ? oracle_template_builtin(a->pos[0]) : NULL;
	if (!t) {
		fprintf(stderr, "curate oracle-template: %s is not a shipped template (%s)\n",
			a->npos == 1 ? a->pos[0] : "one NAME", "curate oracle-template lists them");
		return 2;
	}
	fputs(t, stdout);
	return 0;
}
