/* github/filter: the file rules. Names and markers come from the config; the thresholds
 * follow what The Stack and linguist use (long lines, mean line length of minified code). */
#include <errno.h>
#include <fnmatch.h>
#include <iconv.h>
#include <string.h>

#include "doc.h"
#include "github/filter.h"

static int listed(const char *s, size_t n, const char *const *v, size_t nv)
{
	for (size_t i = 0; i < nv; i++)
		if (strlen(v[i]) == n && !memcmp(v[i], s, n))
			return 1;
	return 0;
}

const char *gh_filter_path(const struct gh_filter *f, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (const char *p = path, *s; (s = strchr(p, '/')); p = s + 1)
		if (listed(p, (size_t)(s - p), f->vendor_dirs, f->nvendor))
			return "vendored";
	if (listed(base, strlen(base), f->lock_files, f->nlock))
		return "lock_file";
	for (size_t i = 0; i < f->ngen; i++)
		if (!fnmatch(f->generated_names[i], base, 0))
			return "generated";
	if (str_ends_with(base, ".min.js") || str_ends_with(base, ".min.css") ||
	    str_ends_with(base, "-min.js") || str_ends_with(base, ".min.mjs"))
		return "minified";
	return NULL;
}

int gh_to_utf8(const char *from, const char *in, size_t n, struct buf *out)
{
	iconv_t cd = iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1)
		return -1;
	buf_reset(out);
	buf_grow(out, n * 2 + 16);
	char *ip = (char *)in;
	size_t left = n;
	int rc = 0;
	while (left) {
		buf_grow(out, left * 3 + 16);
		char *op = out->p + out->len;
		size_t room = out->cap - out->len - 1;
		size_t r = iconv(cd, &ip, &left, &op, &room);
		out->len = (size_t)(op - out->p);
		if (r == (size_t)-1 && errno != E2BIG) {
			rc = -1;
			break;
		}
	}
	if (out->p)
		out->p[out->len] = 0;
	iconv_close(cd);
	return rc;
}

const char *gh_transcode(struct buf *text)
{
	struct buf out = BUF_INIT;
	const unsigned char *u = (const unsigned char *)text->p;
	const char *enc = NULL;
	if (text->len >= 2 && u[0] == 0xff && u[1] == 0xfe &&
	    !gh_to_utf8("UTF-16LE", text->p + 2, text->len - 2, &out))
		enc = "utf-16le";
	else if (text->len >= 2 && u[0] == 0xfe && u[1] == 0xff &&
		 !gh_to_utf8("UTF-16BE", text->p + 2, text->len - 2, &out))
		enc = "utf-16be";
	else if (!gh_to_utf8("WINDOWS-1252", text->p, text->len, &out))
		enc = "windows-1252";
	else if (!gh_to_utf8("ISO-8859-1", text->p, text->len, &out))
		enc = "iso-8859-1";
	if (!enc)
		DIE("ISO-8859-1 cannot fail to decode");
	buf_release(text);
	*text = out;
	return enc;
}

static int is_utf16_bom(const struct buf *t)
{
	const unsigned char *u = (const unsigned char *)t->p;
	return t->len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff));
}

/* The longest line and the mean line length, in bytes. */
static void line_lengths(const char *p, size_t n, size_t *longest, size_t *mean)
{
	size_t best = 0, lines = 0;
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		best = len > best ? len : best;
		lines++;
		p = nl ? nl + 1 : end;
	}
	*longest = best;
	*mean = lines ? n / lines : 0;
}

static int minifiable(const char *lang)
{
	return lang && (!strcmp(lang, "javascript") || !strcmp(lang, "css") ||
			!strcmp(lang, "json") || !strcmp(lang, "typescript"));
}

const char *gh_filter_content(const struct gh_filter *f, const char *lang, struct buf *text,
			      const char **encoding)
{
	*encoding = NULL;
	if (!text->len)
		return "empty";
	static const char lfs[] = "version https://git-lfs.github.com/spec/v1\n";
	if (text->len < 1024 && text->len >= sizeof lfs - 1 && !memcmp(text->p, lfs, sizeof lfs - 1))
		return "lfs_pointer";
	size_t head = text->len < 8000 ? text->len : 8000;
	int utf16 = is_utf16_bom(text);
	if (!utf16 && memchr(text->p, 0, head))
		return "binary";
	if (utf16 || utf8_invalid_count(text->p, text->len)) {
		if (!f->transcode)
			return "invalid_encoding";
		*encoding = gh_transcode(text);
		if (memchr(text->p, 0, text->len < 8000 ? text->len : 8000))
			return "binary";
	}
	size_t look = text->len < 1024 ? text->len : 1024;
	for (size_t i = 0; i < f->nmark; i++)
		if (memmem(text->p, look, f->generated_markers[i], strlen(f->generated_markers[i])))
			return "generated";
	size_t longest, mean;
	line_lengths(text->p, text->len, &longest, &mean);
	if (minifiable(lang) && f->minified_avg_line && mean > f->minified_avg_line)
		return "minified";
	if (f->max_line && longest > f->max_line)
		return "long_line";
	return NULL;
}

const char *gh_path_shown(const char *path, struct buf *tmp)
{
	size_t n = strlen(path);
	int plain = !utf8_invalid_count(path, n);
	for (size_t i = 0; i < n && plain; i++)
		plain = (unsigned char)path[i] >= 0x20 && path[i] != 0x7f;
	if (plain)
		return path;
	static const char shortc[] = "abtnvfr"; /* \a .. \r, bytes 7 to 13 */
	buf_reset(tmp);
	buf_putc(tmp, '"');
	for (const unsigned char *u = (const unsigned char *)path; *u; u++) {
		if (*u == '"' || *u == '\\') {
			buf_putc(tmp, '\\');
			buf_putc(tmp, (char)*u);
		} else if (*u >= 0x07 && *u <= 0x0d) {
			buf_putc(tmp, '\\');
			buf_putc(tmp, shortc[*u - 0x07]);
		} else if (*u < 0x20 || *u >= 0x7f) {
			buf_printf(tmp, "\\%03o", *u);
		} else {
			buf_putc(tmp, (char)*u);
		}
	}
	buf_putc(tmp, '"');
	return tmp->p;
}
