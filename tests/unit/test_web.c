/* Tests of the crawl-web modules on inputs built in memory: the WARC reader's record framing
 * and recovery (LF-only headers, padding, garbage, wrong lengths, gzip members damaged or
 * cut), HTTP heads and encodings, charset detection and transcoding, the HTML rules, class
 * hints for languages, and category rules. The real files are in tests/e2e/crawl_web*.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "web/category.h"
#include "web/charset.h"
#include "web/html.h"
#include "web/http.h"
#include "web/warc.h"

/* ---- WARC ---- */

static void record(struct buf *b, const char *type, const char *id, const char *block, long delta)
{
	buf_printf(b, "WARC/1.0\r\nWARC-Type: %s\r\nWARC-Record-ID: <%s>\r\n"
		      "WARC-Target-URI: http://x.test/%s\r\nContent-Length: %ld\r\n\r\n%s\r\n\r\n",
		   type, id, id, (long)strlen(block) + delta, block);
}

static void gzip_append(struct buf *out, const char *p, size_t n)
{
	z_stream z = {0};
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	buf_grow(out, deflateBound(&z, n) + 32);
	z.next_in = (unsigned char *)p;
	z.avail_in = (uInt)n;
	z.next_out = (unsigned char *)out->p + out->len;
	z.avail_out = (uInt)(out->cap - out->len - 1);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	out->len = out->cap - 1 - z.avail_out;
	deflateEnd(&z);
}

/* Reads everything; writes "type:id" for records and "!reason" for skips, space-separated. */
static void read_all(const struct buf *in, uint64_t max_block, char *out, size_t outlen)
{
	FILE *f = fmemopen(in->p, in->len, "rb");
	assert_non_null(f);
	struct warc_reader *r = warc_open(f, "mem", max_block);
	struct warc_record rec;
	const char *reason;
	uint64_t bytes;
	int rc;
	out[0] = 0;
	while ((rc = warc_next(r, &rec, &reason, &bytes)) != WARC_END) {
		assert_int_not_equal(rc, WARC_ERROR);
		size_t k = strlen(out);
		if (rc == WARC_SKIP)
			snprintf(out + k, outlen - k, "%s!%s", k ? " " : "", reason);
		else
			snprintf(out + k, outlen - k, "%s%s:%s", k ? " " : "", rec.type, rec.record_id);
	}
	warc_close(r);
	fclose(f);
}

static void test_warc_plain_and_padding(void **state)
{
	struct buf b = BUF_INIT;
	char got[512];
	record(&b, "warcinfo", "a", "x: y", 0);
	buf_puts(&b, "\r\n\r\n"); /* extra blank lines are padding */
	record(&b, "response", "b", "HTTP/1.1 200 OK\r\n\r\nhi", 0);
	/* LF-only header lines, as some writers produce */
	buf_puts(&b, "WARC/1.1\nWARC-Type: request\nWARC-Record-ID: <c>\nContent-Length: 3\n\nGET\n\n");
	read_all(&b, 1 << 20, got, sizeof got);
	assert_string_equal(got, "warcinfo:a response:b request:c");
	buf_release(&b);
}

static void test_warc_recovery(void **state)
{
	struct buf b = BUF_INIT;
	char got[512];
	record(&b, "response", "a", "one", 0);
	buf_puts(&b, "junk junk junk\n");
	record(&b, "response", "b", "two two", 8); /* too long: ends inside c */
	record(&b, "response", "c", "three", 0);
	record(&b, "response", "d", "four", -2); /* too short */
	buf_puts(&b, "WARC/1.0\r\nWARC-Type: response\r\nContent-Length: x1\r\n\r\nbody\r\n\r\n");
	record(&b, "response", "e", "five", 0);
	record(&b, "response", "f", "0123456789abcdefghijkl", 0); /* above the cap */
	record(&b, "response", "g", "seven", 0);
	buf_puts(&b, "WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 500\r\n\r\ncut short");
	read_all(&b, 20, got, sizeof got);
	assert_string_equal(got, "response:a !garbage !bad_length response:c !bad_length !bad_header "
				 "response:e !too_large response:g !truncated");
	buf_release(&b);
}

static void test_warc_gzip_members(void **state)
{
	struct buf one = BUF_INIT, gz = BUF_INIT, bad = BUF_INIT;
	char got[512];
	const char *ids[] = {"a", "b", "c", "d"};
	size_t start[5];
	for (int i = 0; i < 4; i++) {
		buf_reset(&one);
		record(&one, "response", ids[i], "some payload that compresses a little a little", 0);
		start[i] = gz.len;
		gzip_append(&gz, one.p, one.len);
	}
	start[4] = gz.len;
	read_all(&gz, 1 << 20, got, sizeof got);
	assert_string_equal(got, "response:a response:b response:c response:d");

	/* a flipped byte inside member b: b lost, c and d read */
	buf_set(&bad, gz.p, gz.len);
	bad.p[(start[1] + start[2]) / 2] ^= 0x40;
	read_all(&bad, 1 << 20, got, sizeof got);
	assert_string_equal(got, "response:a !corrupt_gzip response:c response:d");

	/* a broken CRC at the end of member c (the data inflates fine) */
	buf_set(&bad, gz.p, gz.len);
	bad.p[start[3] - 8] ^= 1;
	read_all(&bad, 1 << 20, got, sizeof got);
	assert_string_equal(got, "response:a response:b !corrupt_gzip response:d");

	/* bytes between members, then a file cut inside member d */
	buf_set(&bad, gz.p, start[2]);
	buf_puts(&bad, "not gzip at all");
	buf_append(&bad, gz.p + start[2], start[4] - start[2] - 20);
	read_all(&bad, 1 << 20, got, sizeof got);
	assert_string_equal(got, "response:a response:b response:c !truncated");
	buf_release(&one);
	buf_release(&gz);
	buf_release(&bad);
}

/* ---- HTTP ---- */

static void test_http(void **state)
{
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: Text/HTML; Charset=\"ISO-8859-1\"\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
	struct http_response h;
	assert_int_equal(http_parse(resp, strlen(resp), &h), 0);
	assert_int_equal(h.status, 200);
	assert_string_equal(h.mime, "text/html");
	assert_string_equal(h.charset, "iso-8859-1");
	assert_true(h.chunked);
	struct buf out = BUF_INIT, tmp = BUF_INIT;
	const char *p, *reason = NULL;
	size_t n;
	assert_int_equal(http_decode_body(&h, &out, &tmp, 1 << 20, &p, &n, &reason), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(p, "hello world", 11);

	/* gzip content encoding; and one stored already decoded despite its header */
	struct buf raw = BUF_INIT;
	buf_puts(&raw, "HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n");
	gzip_append(&raw, "<p>zipped</p>", 13);
	assert_int_equal(http_parse(raw.p, raw.len, &h), 0);
	assert_int_equal(http_decode_body(&h, &out, &tmp, 1 << 20, &p, &n, &reason), 0);
	assert_int_equal(n, 13);
	assert_memory_equal(p, "<p>zipped</p>", 13);
	assert_int_equal(http_decode_body(&h, &out, &tmp, 5, &p, &n, &reason), -1);
	assert_string_equal(reason, "too_large");
	const char *plain = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n<p>as is</p>";
	assert_int_equal(http_parse(plain, strlen(plain), &h), 0);
	assert_int_equal(http_decode_body(&h, &out, &tmp, 1 << 20, &p, &n, &reason), 0);
	assert_int_equal(n, 12);
	const char *br = "HTTP/1.1 404 Not Found\r\nContent-Encoding: br\r\n\r\nxx";
	assert_int_equal(http_parse(br, strlen(br), &h), 0);
	assert_int_equal(h.status, 404);
	assert_int_equal(http_decode_body(&h, &out, &tmp, 1 << 20, &p, &n, &reason), -1);
	assert_string_equal(reason, "unsupported_encoding");
	assert_int_equal(http_parse("GET / HTTP/1.1\r\n\r\n", 18, &h), -1);
	buf_release(&out);
	buf_release(&tmp);
	buf_release(&raw);
}

/* ---- charsets ---- */

static void detect(struct charset_conv *c, const char *body, size_t n, const char *hdr,
		   const char *want, const char *want_from)
{
	char cs[40];
	if (n == 0)
		n = strlen(body);
	const char *from = charset_detect(c, body, n, hdr, cs, sizeof cs);
	assert_string_equal(cs, want);
	assert_string_equal(from, want_from);
}

static void test_charset(void **state)
{
	struct charset_conv *c = charset_conv_new();
	detect(c, "\xef\xbb\xbf<p>x", 7, "iso-8859-1", "utf-8", "bom");
	detect(c, "\xff\xfe<\0p\0", 6, "", "utf-16le", "bom");
	detect(c, "<p>x", 0, "Latin1", "windows-1252", "http");
	detect(c, "<META HTTP-EQUIV=Content-Type CONTENT='text/html; charset=Shift_JIS'>", 0, "",
	       "shift_jis", "meta");
	detect(c, "<meta charset=\"gb2312\" />", 0, "", "gbk", "meta");
	detect(c, "<meta charset=\"utf-16\">", 0, "", "utf-8", "meta"); /* WHATWG */
	detect(c, "<meta charset=\"no-such-set\"><p>caf\xc3\xa9", 0, "bogus", "utf-8", "guess");
	detect(c, "<p>caf\xe9", 0, "", "windows-1252", "guess");

	struct buf out = BUF_INIT;
	assert_int_equal(charset_to_utf8(c, "caf\xe9 \x80", 6, "windows-1252", &out), 0);
	assert_string_equal(out.p, "caf\xc3\xa9 \xe2\x82\xac");
	buf_reset(&out);
	assert_int_equal(charset_to_utf8(c, "\x93\xfa\x96\x7b", 4, "shift_jis", &out), 0);
	assert_string_equal(out.p, "\xe6\x97\xa5\xe6\x9c\xac"); /* 日本 */
	buf_reset(&out);
	assert_int_equal(charset_to_utf8(c, "\xff\xfe" "a\0\xe9\0", 6, "utf-16le", &out), 0);
	assert_string_equal(out.p, "a\xc3\xa9");
	buf_reset(&out);
	/* each invalid byte becomes U+FFFD and the rest converts */
	assert_int_equal(charset_to_utf8(c, "a\x82\xff" "b", 4, "shift_jis", &out), 2);
	assert_string_equal(out.p, "a\xef\xbf\xbd\xef\xbf\xbd" "b");
	buf_reset(&out);
	assert_int_equal(charset_to_utf8(c, "ok\xc3", 3, "utf-8", &out), 1);
	assert_string_equal(out.p, "ok\xef\xbf\xbd");
	buf_release(&out);
	charset_conv_free(c);
}

/* ---- HTML ---- */

static void extract(const char *html, struct html_page *pg)
{
	assert_int_equal(html_extract(html, strlen(html), 1, pg), 0);
}

static void test_html_rules(void **state)
{
	struct html_page pg;
	html_page_init(&pg);
	extract("<html><head><title> A \n title </title><script>SCRIPT</script></head><body>"
		"<nav>NAV</nav><div id='cookie-banner'>COOKIE</div><p>One  two<br>three"
		"&nbsp;four &amp; <code>x\n y</code>.</p><span hidden>HIDDEN</span>"
		"<ul><li>a</li><li>b</li></ul><table><tr><td>c1</td><td>c2</td></tr></table>"
		"<footer>FOOT</footer></body></html>", &pg);
	assert_string_equal(pg.text.p, "One two\nthree four & `x y`.\n\na\nb\n\nc1 c2");
	assert_string_equal(pg.title.p, "A title");
	assert_int_equal(pg.code_blocks, 0);
	assert_int_equal(pg.inline_code, 1);
	assert_int_equal(pg.words, 11);

	/* code blocks: verbatim, first newline and gutters dropped, fence longer than ``` inside */
	extract("<p>Before</p><pre>\n  indented\r\n\ttab &lt;b&gt;</pre><pre class='brush: py;'>x ```` y</pre>"
		"<code>a<br>b</code><pre>   \n</pre>", &pg);
	assert_string_equal(pg.text.p, "Before\n\n```\n  indented\n\ttab <b>\n```\n\n"
				       "`````python\nx ```` y\n`````\n\n```\na\nb\n```");
	assert_int_equal(pg.code_blocks, 3);
	assert_int_equal(pg.nlangs, 1);
	assert_string_equal(pg.langs[0], "python");

	/* boilerplate off keeps the navigation */
	assert_int_equal(html_extract("<nav>menu here</nav><p>x</p>", 28, 0, &pg), 0);
	assert_string_equal(pg.text.p, "menu here\n\nx");
	/* broken markup still gives its text */
	extract("<div><p>unclosed <b>bold <pre>code</div></p>", &pg);
	assert_int_equal(pg.code_blocks, 1);
	assert_non_null(strstr(pg.text.p, "unclosed bold"));
	extract("<html><head><meta name='generator' content='WordPress 6.4'>"
		"<meta property='og:type' content='article'></head>"
		"<body itemscope itemtype='https://schema.org/QAPage'>q</body></html>", &pg);
	assert_string_equal(pg.generator, "WordPress 6.4");
	assert_string_equal(pg.og_type, "article");
	assert_string_equal(pg.schema, "https://schema.org/QAPage");
	html_page_release(&pg);
}

static void lang(const char *cls, const char *want)
{
	char out[32];
	html_lang_from_class(cls, out, sizeof out);
	assert_string_equal(out, want);
}

static void test_lang_hints(void **state)
{
	lang("language-py", "python");
	lang("lang-js prettyprint", "javascript");
	lang("highlight-source-c++", "cpp");
	lang("brush: ruby;", "ruby");
	lang("sourceCode haskell", "haskell");
	lang("hljs ts", "typescript");
	lang("syntaxhighlighter sh", "bash");
	lang("highlight-default notranslate", "");
	lang("python", "python");
	lang("wide dark", "");
	lang("language-plaintext", "");
	lang("language-<script>", "");
}

/* ---- categories ---- */

static void test_categories(void **state)
{
	struct html_page pg;
	html_page_init(&pg);
	const char *rules[] = {"blog:url:*://example.org/notes/*", "forum:generator:MyForum*"};
	struct category_rules *c = category_rules_new(rules, 2, 1);
	assert_non_null(c);
	assert_string_equal(category_of(c, "https://stackoverflow.com/questions/1/x", &pg), "qa");
	assert_string_equal(category_of(c, "https://docs.python.org/3/library/os.html", &pg),
			    "documentation");
	assert_string_equal(category_of(c, "https://example.org/notes/a", &pg), "blog");
	assert_string_equal(category_of(c, "https://discuss.python.org/t/topic/123", &pg), "forum");
	assert_string_equal(category_of(c, "https://x.dev/2021/03/post-title", &pg), "blog");
	assert_string_equal(category_of(c, "https://x.dev/about", &pg), "other");
	snprintf(pg.generator, sizeof pg.generator, "Sphinx 7.1");
	assert_string_equal(category_of(c, "https://x.dev/about", &pg), "documentation");
	snprintf(pg.generator, sizeof pg.generator, "MyForum 2");
	assert_string_equal(category_of(c, "https://x.dev/about", &pg), "forum");
	category_rules_free(c);
	const char *bad[] = {"news:url:*"};
	assert_null(category_rules_new(bad, 1, 0));
	assert_non_null(strstr(err_get(), "unknown category"));
	const char *bad2[] = {"blog:title:*"};
	assert_null(category_rules_new(bad2, 1, 0));
	assert_non_null(strstr(err_get(), "unknown field"));
	html_page_release(&pg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_warc_plain_and_padding),
		cmocka_unit_test(test_warc_recovery),
		cmocka_unit_test(test_warc_gzip_members),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_html_rules),
		cmocka_unit_test(test_lang_hints),
		cmocka_unit_test(test_categories),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
