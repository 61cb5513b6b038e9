/* doc: one JSON line to a struct doc and back. Every document passes here twice, so the
 * text is unescaped and escaped (UTF-8 checked in the same pass) a word at a time by our
 * own code; jansson parses only the small values and decides every line we turn down. */
#include "doc.h"

#include <string.h>

/* Input is escaped in slices so the output reservation (6 bytes per input byte at worst,
 * for \u00XX) stays small even for a 50 MB text. */
#define ESC_SLICE (64 * 1024)

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* Nonzero if any byte of x is non-ASCII, a control char, '"' or '\\'. The test may flag
 * bytes after the first real hit (borrows), never miss one; callers only use it as a gate. */
static inline uint64_t word_needs_work(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
	uint64_t t = x;
	t |= (x - ONES * 0x20) & ~x;
	t |= (q - ONES) & ~q;
	t |= (b - ONES) & ~b;
	return t & HIGH;
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}

/* 0: copy as is; 1: non-ASCII lead, check UTF-8; else the char after the backslash
 * ('u' for \u00XX). */
static const unsigned char esc_class[256] = {
	['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u',
	[0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u', [0x0f] = 'u', [0x10] = 'u',
	[0x11] = 'u', [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u',
	[0x17] = 'u', [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u',
	[0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u', ['"'] = '"', ['\\'] = '\\',
	[0x80 ... 0xff] = 1,
};

/* Length of the well-formed UTF-8 sequence at p (2..4; p[0] >= 0x80), or minus the length
 * of its maximal ill-formed subpart (Unicode 3.9, Table 3-7), which becomes one U+FFFD.
 * This rejects overlongs, surrogates and code points above U+10FFFF. */
static inline int utf8_seq(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	int need;

	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return -1;
	}
	for (int i = 1; i <= need; i++) {
		if ((size_t)i >= avail || p[i] < lo || p[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* Copies bytes that need nothing from p (up to stop) to *op and returns where the first
 * byte that does is. Eight bytes are stored before they are checked, so *op needs room for
 * 8 bytes whenever 8 remain; the lowest flagged byte of a word is always a true hit, so
 * its position comes straight from the mask on little-endian machines. */
static inline const unsigned char *copy_plain(char **op, const unsigned char *p,
					      const unsigned char *stop)
{
	char *o = *op;

	while (stop - p >= 8) {
		uint64_t x = load64(p), t = word_needs_work(x);
		memcpy(o, &x, 8);
		if (t) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			size_t k = (size_t)__builtin_ctzll(t) >> 3;
			*op = o + k;
			return p + k;
#else
			break;
#endif
		}
		o += 8;
		p += 8;
	}
	while (p < stop && !esc_class[*p])
		*o++ = (char)*p++;
	*op = o;
	return p;
}

/* Copies a UTF-8 sequence of k (2..4) bytes without a libc call. */
static inline char *copy_seq(char *o, const unsigned char *p, int k)
{
	o[0] = (char)p[0];
	o[1] = (char)p[1];
	if (k > 2)
		o[2] = (char)p[2];
	if (k > 3)
		o[3] = (char)p[3];
	return o + k;
}

static const char hexdig[] = "0123456789abcdef";

/* Escapes [p, stop) into o, which has room for 6 bytes per input byte plus 3; a sequence
 * starting before stop may run on up to lim. Returns the new o; *pp and *bad advance. */
static char *escape_slice(char *o, const unsigned char **pp, const unsigned char *stop,
			  const unsigned char *lim, size_t *bad)
{
	const unsigned char *p = *pp;

	while (p < stop) {
		p = copy_plain(&o, p, stop);
		if (p >= stop)
			break;
		unsigned char cls = esc_class[*p];
		if (cls == 1) {
			int k = utf8_seq(p, (size_t)(lim - p));
			if (k > 0) {
				o = copy_seq(o, p, k);
				p += k;
			} else {
				memcpy(o, "\xef\xbf\xbd", 3);
				o += 3;
				p += -k;
				(*bad)++;
			}
		} else if (cls == 'u') {
			memcpy(o, "\\u00", 4);
			o[4] = hexdig[*p >> 4];
			o[5] = hexdig[*p & 15];
			o += 6;
			p++;
		} else {
			o[0] = '\\';
			o[1] = (char)cls;
			o += 2;
			p++;
		}
	}
	*pp = p;
	return o;
}

size_t json_escape(struct buf *out, const char *s, size_t n)
{
	size_t bad = 0;

	buf_putc(out, '"');
	if (!n) { /* s may be NULL then, and NULL + 0 is undefined */
		buf_putc(out, '"');
		return 0;
	}
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		size_t slice = (size_t)(end - p) < ESC_SLICE ? (size_t)(end - p) : ESC_SLICE;
		buf_grow(out, slice * 6 + 8);
		char *o = out->p + out->len;
		o = escape_slice(o, &p, p + slice, end, &bad);
		out->len = (size_t)(o - out->p);
	}
	buf_putc(out, '"');
	return bad;
}

/* Length of the leading run of s that is valid UTF-8 (stops at the first bad sequence). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		while (n - i >= 8 && !(load64(s + i) & HIGH))
			i += 8;
		while (i < n && s[i] < 0x80)
			i++;
		if (i >= n)
			break;
		int k = utf8_seq(s + i, n - i);
		if (k < 0)
			break;
		i += (size_t)k;
	}
	return i;
}

size_t utf8_invalid_count(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, bad = 0;

	if (!n)
		return 0;
	for (;;) {
		i += utf8_valid_prefix(p + i, n - i);
		if (i >= n)
			return bad;
		i += (size_t)-utf8_seq(p + i, n - i);
		bad++;
	}
}

size_t utf8_repair(struct buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, bad = 0;

	buf_grow(out, n);
	if (!n)
		return 0;
	for (;;) {
		size_t run = utf8_valid_prefix(p + i, n - i);
		buf_append(out, p + i, run);
		i += run;
		if (i >= n)
			return bad;
		i += (size_t)-utf8_seq(p + i, n - i);
		buf_append(out, "\xef\xbf\xbd", 3);
		bad++;
	}
}

void doc_init(struct doc *d)
{
	memset(d, 0, sizeof *d);
	d->meta = json_object();
	d->extra = json_object();
	if (!d->meta || !d->extra)
		DIE("out of memory creating JSON objects");
}

/* Empties an object we may share with someone else (a caller may hold a reference). */
static json_t *object_emptied(json_t *o)
{
	if (o && o->refcount == 1 && json_is_object(o)) {
		json_object_clear(o);
		return o;
	}
	json_decref(o);
	o = json_object();
	if (!o)
		DIE("out of memory creating a JSON object");
	return o;
}

void doc_reset(struct doc *d)
{
	buf_reset(&d->id);
	buf_reset(&d->text);
	buf_reset(&d->source);
	d->meta = object_emptied(d->meta);
	d->extra = object_emptied(d->extra);
}

void doc_release(struct doc *d)
{
	buf_release(&d->id);
	buf_release(&d->text);
	buf_release(&d->source);
	json_decref(d->meta);
	json_decref(d->extra);
	d->meta = d->extra = NULL;
}

/* Checks the fields of a parsed line; err_set and -1 if one has the wrong type. A null
 * "source" or "metadata" is taken as absent: some exporters write null for "none". */
static int check_fields(json_t *root)
{
	json_t *v;

	if (!json_is_object(root)) {
		err_set("a document line must be a JSON object");
		return -1;
	}
	if (!json_is_string(json_object_get(root, "id"))) {
		err_set("\"id\" is missing or not a string");
		return -1;
	}
	if (!json_is_string(json_object_get(root, "text"))) {
		err_set("\"text\" is missing or not a string");
		return -1;
	}
	v = json_object_get(root, "source");
	if (v && !json_is_null(v) && !json_is_string(v)) {
		err_set("\"source\" is not a string");
		return -1;
	}
	v = json_object_get(root, "metadata");
	if (v && !json_is_null(v) && !json_is_object(v)) {
		err_set("\"metadata\" is not an object");
		return -1;
	}
	return 0;
}

static void take_string(struct buf *b, json_t *s)
{
	if (json_is_string(s))
		buf_set(b, json_string_value(s), json_string_length(s));
	else
		buf_set(b, "", 0);
}

/* The reference parser: jansson on the whole line. It decides every line the fast path
 * turns down, errors included, so all messages are jansson's. */
static int parse_jansson(struct doc *d, const char *line, size_t len)
{
	json_error_t e;
	json_t *root = json_loadb(line, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);

	if (!root) {
		err_set("invalid JSON at column %d: %s", e.column, e.text);
		return -1;
	}
	if (check_fields(root)) {
		json_decref(root);
		return -1;
	}
	take_string(&d->id, json_object_get(root, "id"));
	take_string(&d->text, json_object_get(root, "text"));
	take_string(&d->source, json_object_get(root, "source"));

	json_t *meta = json_object_get(root, "metadata");
	json_decref(d->meta);
	d->meta = json_is_object(meta) ? json_incref(meta) : json_object();
	if (!d->meta)
		DIE("out of memory creating a JSON object");

	/* What is left of the root, in its original order, is exactly the extra fields, so
	 * keep it rather than copy them into a new object. */
	json_object_del(root, "id");
	json_object_del(root, "text");
	json_object_del(root, "source");
	json_object_del(root, "metadata");
	json_decref(d->extra);
	d->extra = root;
	return 0;
}

/* The fast path. jansson reads a string a byte at a time through several calls (about
 * 60 MB/s), so this parser walks the top-level object itself, decodes id, text and source
 * straight into the doc's buffers with the word-at-a-time scan, and gives jansson only the
 * other values (metadata, extra fields), which are small. It accepts a subset of what
 * jansson accepts, with the same result; on anything else it returns -1 and doc_parse asks
 * jansson, so the fast path never decides an error. */

enum { F_ID = 1, F_TEXT = 2, F_SOURCE = 4, F_META = 8 };
#define KEY_MAX 255 /* longer keys take the jansson path */
/* jansson counts every value, the root object included, against JSON_PARSER_MAX_DEPTH;
 * a value handed over alone starts one level higher, so deep ones go the slow way. */
#define FAST_DEPTH_MAX (JSON_PARSER_MAX_DEPTH - 4)

static inline const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* The closing quote of the string whose body starts at p, or NULL. A quote preceded by an
 * odd run of backslashes is escaped; such a run cannot reach back past p, which is a body
 * start or just after a quote. */
static const char *string_end(const char *p, const char *end)
{
	for (;;) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		if (!q)
			return NULL;
		const char *b = q;
		while (b > p && b[-1] == '\\')
			b--;
		if (!((q - b) & 1))
			return q;
		p = q + 1;
	}
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], lc = c | 0x20;
		if (c >= '0' && c <= '9')
			v = v << 4 | (c - '0');
		else if (lc >= 'a' && lc <= 'f')
			v = v << 4 | (lc - 'a' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static char *put_utf8(char *o, unsigned u)
{
	if (u < 0x80) {
		*o++ = (char)u;
	} else if (u < 0x800) {
		*o++ = (char)(0xc0 | u >> 6);
		*o++ = (char)(0x80 | (u & 0x3f));
	} else if (u < 0x10000) {
		*o++ = (char)(0xe0 | u >> 12);
		*o++ = (char)(0x80 | (u >> 6 & 0x3f));
		*o++ = (char)(0x80 | (u & 0x3f));
	} else {
		*o++ = (char)(0xf0 | u >> 18);
		*o++ = (char)(0x80 | (u >> 12 & 0x3f));
		*o++ = (char)(0x80 | (u >> 6 & 0x3f));
		*o++ = (char)(0x80 | (u & 0x3f));
	}
	return o;
}

/* The code point of the \uXXXX escape at p (a surrogate pair takes two), or -1 for what
 * jansson rejects: bad hex, lone surrogates, and NUL unless allowed. */
static long unescape_u(const unsigned char **pp, const unsigned char *q, int allow_nul)
{
	const unsigned char *p = *pp;
	unsigned u, lo;

	if (q - p < 6 || hex4(p + 2, &u))
		return -1;
	p += 6;
	if (u >= 0xd800 && u <= 0xdbff) {
		if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) ||
		    lo < 0xdc00 || lo > 0xdfff)
			return -1;
		p += 6;
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
	} else if ((u >= 0xdc00 && u <= 0xdfff) || (!u && !allow_nul)) {
		return -1;
	}
	*pp = p;
	return u;
}

/* Decodes the string body [p, q) to o, which has room for q - p bytes (decoding never
 * grows a string). Returns the new end of o, or NULL for anything jansson would reject:
 * raw control chars, bad escapes, invalid UTF-8. */
static char *unescape(char *o, const unsigned char *p, const unsigned char *q, int allow_nul)
{
	static const char simple[256] = {
		['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f',
		['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
	};

	while (p < q) {
		/* o never runs ahead of p, so copy_plain's 8-byte stores stay in the room */
		p = copy_plain(&o, p, q);
		if (p >= q)
			break;
		if (*p >= 0x80) {
			int k = utf8_seq(p, (size_t)(q - p));
			if (k < 0)
				return NULL;
			o = copy_seq(o, p, k);
			p += k;
		} else if (*p != '\\' || q - p < 2) {
			return NULL; /* a raw control char; a bare '"' cannot be before q */
		} else if (simple[p[1]]) {
			*o++ = simple[p[1]];
			p += 2;
		} else if (p[1] == 'u') {
			long u = unescape_u(&p, q, allow_nul);
			if (u < 0)
				return NULL;
			o = put_utf8(o, (unsigned)u);
		} else {
			return NULL;
		}
	}
	return o;
}

/* Parses the string literal at *pp (which starts with '"') into b, replacing its content. */
static int take_literal(struct buf *b, const char **pp, const char *end)
{
	const char *p = *pp + 1, *q = string_end(p, end);

	if (!q)
		return -1;
	buf_grow(b, (size_t)(q - p));
	char *o = unescape(b->p, (const unsigned char *)p, (const unsigned char *)q, 1);
	if (!o)
		return -1;
	b->len = (size_t)(o - b->p);
	b->p[b->len] = 0;
	*pp = q + 1;
	return 0;
}

/* The end of the JSON value at p, found from its brackets and strings alone, or NULL.
 * jansson then checks exactly that slice, so a wrong guess only ever fails. */
static const char *value_end(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	if (*p == '"') {
		const char *q = string_end(p + 1, end);
		return q ? q + 1 : NULL;
	}
	if (*p != '{' && *p != '[') {
		while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
		       *p != '\r' && *p != '\t')
			p++;
		return p;
	}
	size_t depth = 0;
	while (p < end) {
		char c = *p++;
		if (c == '"') {
			const char *q = string_end(p, end);
			if (!q)
				return NULL;
			p = q + 1;
		} else if (c == '{' || c == '[') {
			if (++depth > FAST_DEPTH_MAX)
				return NULL;
		} else if ((c == '}' || c == ']') && --depth == 0) {
			return p;
		}
	}
	return NULL;
}

static int own_field(const char *k, size_t n)
{
	switch (n) {
	case 2:
		return memcmp(k, "id", 2) ? 0 : F_ID;
	case 4:
		return memcmp(k, "text", 4) ? 0 : F_TEXT;
	case 6:
		return memcmp(k, "source", 6) ? 0 : F_SOURCE;
	case 8:
		return memcmp(k, "metadata", 8) ? 0 : F_META;
	}
	return 0;
}

static int is_null(const char *p, const char *ve)
{
	return ve - p == 4 && !memcmp(p, "null", 4);
}

/* One "key": value member at *pp; *seen collects our own fields (a repeat is a duplicate
 * key, which jansson rejects). The metadata object, if any, goes to *meta. */
static int fast_member(struct doc *d, const char **pp, const char *end, unsigned *seen,
		       json_t **meta)
{
	const char *p = *pp, *q;
	char key[KEY_MAX + 1];
	json_error_t e;

	if (p >= end || *p != '"' || !(q = string_end(p + 1, end)) || q - (p + 1) > KEY_MAX)
		return -1;
	char *kend = unescape(key, (const unsigned char *)p + 1, (const unsigned char *)q, 0);
	if (!kend)
		return -1;
	size_t klen = (size_t)(kend - key);
	p = skip_ws(q + 1, end);
	if (p >= end || *p != ':')
		return -1;
	p = skip_ws(p + 1, end);

	int f = own_field(key, klen);
	if (f & *seen)
		return -1;
	*seen |= (unsigned)f;
	if (f == F_ID || f == F_TEXT || f == F_SOURCE) {
		struct buf *b = f == F_ID ? &d->id : f == F_TEXT ? &d->text : &d->source;
		if (p < end && *p == '"') {
			if (take_literal(b, &p, end))
				return -1;
		} else if (f == F_SOURCE && (q = value_end(p, end)) && is_null(p, q)) {
			buf_reset(b);
			p = q;
		} else {
			return -1;
		}
		*pp = p;
		return 0;
	}

	const char *ve = value_end(p, end);
	if (!ve)
		return -1;
	json_t *v = NULL;
	if (!(f == F_META && is_null(p, ve))) {
		v = json_loadb(p, (size_t)(ve - p),
			       JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
		if (!v)
			return -1;
	}
	if (f == F_META) {
		if (v && !json_is_object(v)) {
			json_decref(v);
			return -1;
		}
		*meta = v;
	} else if (json_object_getn(d->extra, key, klen) ||
		   json_object_setn_new_nocheck(d->extra, key, klen, v)) {
		json_decref(v);
		return -1;
	}
	*pp = ve;
	return 0;
}

static int parse_fast(struct doc *d, const char *line, size_t len)
{
	const char *p = line, *end = line + len;
	unsigned seen = 0;
	json_t *meta = NULL;

	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return -1;
	d->extra = object_emptied(d->extra);
	for (p++;;) {
		p = skip_ws(p, end);
		if (fast_member(d, &p, end, &seen, &meta))
			goto fail;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		goto fail;
	}
	if (skip_ws(p + 1, end) != end || !(seen & F_ID) || !(seen & F_TEXT))
		goto fail;
	if (!(seen & F_SOURCE))
		buf_reset(&d->source);
	if (meta) {
		json_decref(d->meta);
		d->meta = meta;
	} else {
		d->meta = object_emptied(d->meta);
	}
	return 0;
fail:
	json_decref(meta);
	return -1;
}

int doc_parse(struct doc *d, const char *line, size_t len)
{
	if (!parse_fast(d, line, len))
		return 0;
	return parse_jansson(d, line, len);
}

static int dump_to_buf(const char *s, size_t n, void *data)
{
	buf_append(data, s, n);
	return 0;
}

/* jansson writes metadata and extra values straight into out. Its escaping matches ours
 * (no '/' escapes, UTF-8 kept); it fails only on values built with the _nocheck calls or
 * cycles, which are programming errors. */
static void dump_value(const json_t *v, struct buf *out)
{
	if (json_dump_callback(v, dump_to_buf, out, JSON_COMPACT | JSON_ENCODE_ANY))
		DIE("cannot serialize a JSON value (invalid UTF-8 or a cycle)");
}

size_t doc_serialize(const struct doc *d, struct buf *out)
{
	size_t bad;

	buf_grow(out, d->id.len + d->text.len + d->source.len + 64);
	buf_append(out, "{\"id\":", 6);
	bad = json_escape(out, d->id.p, d->id.len);
	buf_append(out, ",\"text\":", 8);
	bad += json_escape(out, d->text.p, d->text.len);
	buf_append(out, ",\"source\":", 10);
	bad += json_escape(out, d->source.p, d->source.len);
	buf_append(out, ",\"metadata\":", 12);
	if (d->meta && json_object_size(d->meta))
		dump_value(d->meta, out);
	else
		buf_append(out, "{}", 2);

	json_t *extra = d->extra;
	for (void *it = json_object_iter(extra); it; it = json_object_iter_next(extra, it)) {
		const char *k = json_object_iter_key(it);
		size_t klen = json_object_iter_key_len(it);
		/* a caller may have put one of our own fields here; writing it twice would
		 * make the line unreadable (duplicate keys are rejected on load) */
		if (own_field(k, klen))
			continue;
		buf_putc(out, ',');
		json_escape(out, k, klen);
		buf_putc(out, ':');
		dump_value(json_object_iter_value(it), out);
	}
	buf_append(out, "}\n", 2);
	return bad;
}
