/* http: parsing the response head and undoing transfer and content encodings (http.h). */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "http.h"

static void lower_copy(char *out, size_t outlen, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n && (*s == '"' || *s == '\'') && s[n - 1] == *s && n >= 2)
		s++, n -= 2;
	size_t k = 0;
	for (; k < n && k + 1 < outlen; k++)
		out[k] = (char)tolower((unsigned char)s[k]);
	out[k] = 0;
}

void http_param(const char *value, size_t vlen, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	out[0] = 0;
	for (size_t i = 0; i + nl < vlen; i++) {
		if (strncasecmp(value + i, name, nl))
			continue;
		size_t j = i + nl;
		while (j < vlen && value[j] == ' ')
			j++;
		if (j >= vlen || value[j] != '=' || (i && isalnum((unsigned char)value[i - 1])))
			continue;
		j++;
		while (j < vlen && value[j] == ' ')
			j++;
		size_t e = j;
		if (j < vlen && (value[j] == '"' || value[j] == '\'')) { /* quoted: up to its quote */
			char q = value[j++];
			for (e = j; e < vlen && value[e] != q;)
				e++;
		} else {
			while (e < vlen && !strchr(";, \t>\"'/", value[e]))
				e++;
		}
		lower_copy(out, outlen, value + j, e - j);
		return;
	}
}

int http_parse(const char *p, size_t n, struct http_response *h)
{
	memset(h, 0, sizeof *h);
	if (n < 12 || memcmp(p, "HTTP/", 5)) {
		err_set("no HTTP status line");
		return -1;
	}
	const char *sp = memchr(p, ' ', n < 32 ? n : 32);
	if (!sp || sp + 4 > p + n || !isdigit((unsigned char)sp[1]) ||
	    !isdigit((unsigned char)sp[2]) || !isdigit((unsigned char)sp[3])) {
		err_set("malformed HTTP status line");
		return -1;
	}
	h->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
	const char *line = memchr(sp, '\n', (size_t)(p + n - sp));
	while (line) {
		line++;
		const char *nl = memchr(line, '\n', (size_t)(p + n - line));
		if (!nl)
			break;
		size_t len = (size_t)(nl - line);
		if (len && line[len - 1] == '\r')
			len--;
		if (!len) { /* the blank line: the body follows */
			h->body = nl + 1;
			h->body_len = (size_t)(p + n - h->body);
			return 0;
		}
		const char *colon = memchr(line, ':', len);
		if (colon) {
			size_t kl = (size_t)(colon - line);
			const char *v = colon + 1;
			size_t vl = len - kl - 1;
			if (kl == 12 && !strncasecmp(line, "Content-Type", 12)) {
				const char *semi = memchr(v, ';', vl);
				lower_copy(h->mime, sizeof h->mime, v, semi ? (size_t)(semi - v) : vl);
				http_param(v, vl, "charset", h->charset, sizeof h->charset);
			} else if (kl == 16 && !strncasecmp(line, "Content-Encoding", 16)) {
				lower_copy(h->content_encoding, sizeof h->content_encoding, v, vl);
			} else if (kl == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
				char te[32];
				lower_copy(te, sizeof te, v, vl);
				h->chunked = strstr(te, "chunked") != NULL;
			}
		}
		line = nl;
	}
	/* no blank line: a head without body (some crawlers cut there) */
	h->body = p + n;
	h->body_len = 0;
	return 0;
}

/* Chunked transfer coding into out; -1 if p is not a well-formed chunked body. */
static int dechunk(const char *p, size_t n, struct buf *out, size_t cap)
{
	buf_reset(out);
	size_t i = 0;
	for (;;) {
		size_t size = 0, digits = 0;
		while (i < n && isxdigit((unsigned char)p[i])) {
			int c = tolower((unsigned char)p[i++]);
			size = size * 16 + (size_t)(c <= '9' ? c - '0' : c - 'a' + 10);
			if (++digits > 12)
				return -1;
		}
		if (!digits)
			return -1;
		const char *nl = memchr(p + i, '\n', n - i); /* chunk extensions end at the newline */
		if (!nl)
			return -1;
		i = (size_t)(nl - p) + 1;
		if (size == 0)
			return 0; /* trailers, if any, are not needed */
		if (size > n - i || out->len + size > cap)
			return -1;
		buf_append(out, p + i, size);
		i += size;
		if (i < n && p[i] == '\r')
			i++;
		if (i < n && p[i] == '\n')
			i++;
		if (i >= n)
			return 0; /* a last chunk without its zero chunk: keep what came */
	}
}

/* gzip or zlib or raw deflate into out. 0, -1 corrupt, -2 above cap. */
static int inflate_all(const char *p, size_t n, int window, struct buf *out, size_t cap)
{
	z_stream z = {0};
	if (inflateInit2(&z, window) != Z_OK)
		return -1;
	buf_reset(out);
	z.next_in = (unsigned char *)p;
	z.avail_in = (uInt)n;
	int rc;
	do {
		buf_grow(out, 65536);
		z.next_out = (unsigned char *)out->p + out->len;
		z.avail_out = (uInt)(out->cap - out->len - 1);
		uInt before = z.avail_out;
		rc = inflate(&z, Z_NO_FLUSH);
		out->len += before - z.avail_out;
		if (out->len > cap) {
			inflateEnd(&z);
			return -2;
		}
		/* gzip bodies can hold several members */
		if (rc == Z_STREAM_END && z.avail_in && window > 15 && z.next_in[0] == 0x1f) {
			inflateReset(&z);
			rc = Z_OK;
		}
	} while (rc == Z_OK && (z.avail_in || z.avail_out == 0));
	inflateEnd(&z);
	out->p[out->len] = 0;
	/* a stream cut short still gave its bytes: browsers show them, so do we */
	return rc == Z_STREAM_END || ((rc == Z_OK || rc == Z_BUF_ERROR) && out->len) ? 0 : -1;
}

int http_decode_body(const struct http_response *h, struct buf *out, struct buf *tmp, size_t cap,
		     const char **p, size_t *n, const char **reason)
{
	*p = h->body;
	*n = h->body_len;
	if (h->chunked && dechunk(*p, *n, tmp, cap) == 0) {
		*p = tmp->p ? tmp->p : "";
		*n = tmp->len;
	}
	const char *ce = h->content_encoding;
	if (!*ce || !strcmp(ce, "identity") || !strcmp(ce, "none"))
		goto done;
	int gz = !strcmp(ce, "gzip") || !strcmp(ce, "x-gzip");
	if (!gz && strcmp(ce, "deflate")) {
		*reason = "unsupported_encoding";
		return -1;
	}
	const unsigned char *b = (const unsigned char *)*p;
	/* stored decoded despite the header (Common Crawl does this) */
	if (gz && !(*n >= 2 && b[0] == 0x1f && b[1] == 0x8b))
		goto done;
	/* deflate is zlib-wrapped by the spec, raw by some servers */
	int window = gz ? 15 + 16 : (*n >= 2 && (b[0] & 0x0f) == 8 && (b[0] * 256 + b[1]) % 31 == 0) ? 15 : -15;
	int rc = inflate_all(*p, *n, window, out, cap);
	if (rc < 0) {
		*reason = rc == -2 ? "too_large" : "bad_encoding";
		return -1;
	}
	*p = out->p;
	*n = out->len;
done:
	if (*n > cap) {
		*reason = "too_large";
		return -1;
	}
	return 0;
}
