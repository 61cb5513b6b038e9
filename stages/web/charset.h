/* charset: which character set a page is in (byte-order mark, HTTP header, <meta>, then a
 * guess) and its transcoding to UTF-8 with iconv. Names follow the WHATWG Encoding Standard
 * where it differs from IANA (iso-8859-1 and us-ascii mean windows-1252). */
#ifndef CURATE_WEB_CHARSET_H
#define CURATE_WEB_CHARSET_H

#include <stddef.h>

#include "util.h"

struct charset_conv;

struct charset_conv *charset_conv_new(void);
void charset_conv_free(struct charset_conv *c); /* NULL is a no-op */

/* The charset of body: a BOM wins, then http_charset (the header's parameter, may be ""),
 * then a <meta> in the first 4 KiB, then "utf-8" if the bytes are valid UTF-8, else
 * "windows-1252". Writes the canonical lowercase name to out and returns where it came from:
 * "bom", "http", "meta" or "guess". Names iconv does not know are skipped. */
const char *charset_detect(struct charset_conv *c, const char *body, size_t n,
			   const char *http_charset, char *out, size_t outlen);

/* Appends body, in charset, to out as UTF-8 (a BOM is dropped). Bytes that are invalid in
 * the charset become U+FFFD; returns how many, or -1 if iconv cannot convert from charset. */
long charset_to_utf8(struct charset_conv *c, const char *body, size_t n, const char *charset,
		     struct buf *out);

/* The canonical name of a charset label ("latin1" -> "windows-1252"), lowercase, into out;
 * 0, or -1 if iconv does not support it. */
int charset_canonical(struct charset_conv *c, const char *label, char *out, size_t outlen);

#endif
