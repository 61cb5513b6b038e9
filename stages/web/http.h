/* http: the HTTP response stored in a WARC response record: status line, the headers a page
 * needs (type, charset, encodings), and the body with its transfer and content encodings
 * undone. Requests, redirects and caching are not its business. */
#ifndef CURATE_WEB_HTTP_H
#define CURATE_WEB_HTTP_H

#include <stddef.h>

#include "util.h"

struct http_response {
	int status;
	char mime[64];     /* Content-Type without parameters, lowercased; "" if absent */
	char charset[40];  /* its charset parameter, lowercased; "" if absent */
	char content_encoding[32];  /* lowercased; "" if absent */
	int chunked;       /* Transfer-Encoding: chunked */
	const char *body;  /* into the block given to http_parse */
	size_t body_len;
};

/* Parses an HTTP/1.x response head at the start of p (n bytes). 0, or -1 if p is no response
 * (err_set says why). */
int http_parse(const char *p, size_t n, struct http_response *h);

/* The body as the server meant it: de-chunked (a body that does not parse as chunks is taken
 * as it is, as warcio does) and gunzipped or inflated per Content-Encoding (identity, gzip,
 * x-gzip, deflate; a body that is not compressed although the header says so is taken as it
 * is, since crawlers often store it decoded). At most cap bytes. Returns 0, or -1 with
 * *reason: "unsupported_encoding" (br, compress, ...), "bad_encoding" (a corrupt stream),
 * "too_large". *p and *n point at the result, which may be the input or out's bytes. */
int http_decode_body(const struct http_response *h, struct buf *out, struct buf *tmp, size_t cap,
		     const char **p, size_t *n, const char **reason);

/* Copies the value of parameter `name` (e.g. "charset") from a header value such as
 * "text/html; charset=UTF-8" into out, lowercased and unquoted; "" if absent. */
void http_param(const char *value, size_t vlen, const char *name, char *out, size_t outlen);

#endif
