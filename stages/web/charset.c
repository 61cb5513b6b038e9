/* charset: detection and transcoding to UTF-8 (charset.h). iconv descriptors are cached per
 * charset in the conv handle, since opening one costs more than converting a page. */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "doc.h"
#include "http.h"

#define CACHE 8

struct charset_conv {
	struct {
		char name[40];
		iconv_t cd; /* (iconv_t)-1: known unsupported */
	} cache[CACHE];
	unsigned next;
};

struct charset_conv *charset_conv_new(void) { return xcalloc(1, sizeof(struct charset_conv)); }

void charset_conv_free(struct charset_conv *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < CACHE; i++)
		if (c->cache[i].name[0] && c->cache[i].cd != (iconv_t)-1)
			iconv_close(c->cache[i].cd);
	free(c);
}

/* WHATWG labels whose meaning differs from iconv's, and spellings iconv lacks. */
static const char *const ALIASES[][2] = {
	{"utf8", "utf-8"}, {"unicode-1-1-utf-8", "utf-8"}, {"iso-8859-1", "windows-1252"},
	{"iso8859-1", "windows-1252"}, {"latin1", "windows-1252"}, {"l1", "windows-1252"},
	{"us-ascii", "windows-1252"}, {"ascii", "windows-1252"}, {"cp1252", "windows-1252"},
	{"x-cp1252", "windows-1252"}, {"iso-8859-9", "windows-1254"}, {"latin5", "windows-1254"},
	{"iso-8859-11", "windows-874"}, {"tis-620", "windows-874"}, {"gb2312", "gbk"},
	{"x-gbk", "gbk"}, {"gb_2312-80", "gbk"}, {"x-sjis", "shift_jis"}, {"shift-jis", "shift_jis"},
	{"sjis", "shift_jis"}, {"ms_kanji", "shift_jis"}, {"windows-31j", "shift_jis"},
	{"x-euc-jp", "euc-jp"}, {"ks_c_5601-1987", "euc-kr"}, {"windows-949", "euc-kr"},
	{"big5-hkscs", "big5-hkscs"}, {"x-mac-roman", "macintosh"}, {"koi8r", "koi8-r"},
	/* a page that says utf-16 in its own bytes cannot be utf-16 (WHATWG) */
	{"utf-16", "utf-8"}, {"utf-16le", "utf-8"}, {"utf-16be", "utf-8"},
};

static iconv_t open_cd(struct charset_conv *c, const char *name)
{
	for (unsigned i = 0; i < CACHE; i++)
		if (c->cache[i].name[0] && !strcmp(c->cache[i].name, name))
			return c->cache[i].cd;
	unsigned k = c->next++ % CACHE;
	if (c->cache[k].name[0] && c->cache[k].cd != (iconv_t)-1)
		iconv_close(c->cache[k].cd);
	snprintf(c->cache[k].name, sizeof c->cache[k].name, "%s", name);
	c->cache[k].cd = iconv_open("UTF-8", name);
	return c->cache[k].cd;
}

int charset_canonical(struct charset_conv *c, const char *label, char *out, size_t outlen)
{
	char low[40];
	size_t n = 0;
	for (; label[n] && n + 1 < sizeof low; n++)
		low[n] = (char)tolower((unsigned char)label[n]);
	low[n] = 0;
	if (!n || label[n])
		return -1;
	const char *name = low;
	for (size_t i = 0; i < ARRAY_LEN(ALIASES); i++)
		if (!strcmp(low, ALIASES[i][0]))
			name = ALIASES[i][1];
	for (const char *s = name; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.:", *s))
			return -1;
	if (strcmp(name, "utf-8") && open_cd(c, name) == (iconv_t)-1)
		return -1;
	snprintf(out, outlen, "%s", name);
	return 0;
}

/* The charset a <meta> declares in the first 4 KiB: <meta charset=X> or
 * <meta http-equiv=Content-Type content="text/html; charset=X">. */
static void meta_charset(const char *p, size_t n, char *out, size_t outlen)
{
	out[0] = 0;
	if (n > 4096)
		n = 4096;
	for (const char *m = p; (m = memmem(m, (size_t)(p + n - m), "<", 1)); m++) {
		if ((size_t)(p + n - m) < 6 || strncasecmp(m, "<meta", 5) ||
		    isalnum((unsigned char)m[5]))
			continue;
		const char *end = memchr(m, '>', (size_t)(p + n - m));
		if (!end)
			return;
		http_param(m + 5, (size_t)(end - m - 5), "charset", out, outlen);
		if (out[0])
			return;
	}
}

const char *charset_detect(struct charset_conv *c, const char *body, size_t n,
			   const char *http_charset, char *out, size_t outlen)
{
	const unsigned char *b = (const unsigned char *)body;
	if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf) {
		snprintf(out, outlen, "utf-8");
		return "bom";
	}
	if (n >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff))) {
		snprintf(out, outlen, b[0] == 0xff ? "utf-16le" : "utf-16be");
		return "bom";
	}
	if (http_charset && *http_charset && charset_canonical(c, http_charset, out, outlen) == 0)
		return "http";
	char meta[40];
	meta_charset(body, n, meta, sizeof meta);
	if (meta[0] && charset_canonical(c, meta, out, outlen) == 0)
		return "meta";
	snprintf(out, outlen, utf8_invalid_count(body, n) ? "windows-1252" : "utf-8");
	return "guess";
}

long charset_to_utf8(struct charset_conv *c, const char *body, size_t n, const char *charset,
		     struct buf *out)
{
	const unsigned char *b = (const unsigned char *)body;
	if (!strcmp(charset, "utf-8")) {
		if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
			body += 3, n -= 3;
		size_t before = out->len;
		if (!utf8_invalid_count(body, n)) {
			buf_append(out, body, n);
			return 0;
		}
		out->len = before;
		return (long)utf8_repair(out, body, n);
	}
	iconv_t cd = open_cd(c, charset);
	if (cd == (iconv_t)-1)
		return -1;
	if (n >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff)) &&
	    !strncmp(charset, "utf-16", 6))
		body += 2, n -= 2;
	iconv(cd, NULL, NULL, NULL, NULL);
	long bad = 0;
	char *in = (char *)body;
	size_t left = n;
	while (left) {
		buf_grow(out, left * 2 + 16);
		char *o = out->p + out->len;
		size_t room = out->cap - out->len - 1;
		size_t rc = iconv(cd, &in, &left, &o, &room);
		out->len = (size_t)(o - out->p);
		if (rc != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or a sequence cut at the end: one replacement character, one byte on */
		buf_append(out, "\xef\xbf\xbd", 3);
		in++;
		left--;
		bad++;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	buf_grow(out, 1);
	out->p[out->len] = 0;
	return bad;
}
