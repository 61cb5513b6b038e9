/* fuzz_html: any bytes as a page body: charset detection and transcoding must give valid
 * UTF-8, and extraction from it must give valid UTF-8 text with consistent counts (words as
 * counted, languages sorted and unique, no more languages than code blocks). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "web/charset.h"
#include "web/html.h"

static void check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_html: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct charset_conv *cs;
	static struct html_page pg;
	static struct buf utf8;
	if (!cs) {
		cs = charset_conv_new();
		html_page_init(&pg);
	}
	/* the first byte picks an HTTP charset label, as a header would give it */
	static const char *const hdr[] = {"", "utf-8", "iso-8859-1", "shift_jis", "utf-16", "x-bogus",
					  "windows-1251", "gb2312"};
	const char *label = size ? hdr[data[0] % 8] : "";
	char charset[40];
	charset_detect(cs, (const char *)data, size, label, charset, sizeof charset);
	buf_reset(&utf8);
	long bad = charset_to_utf8(cs, (const char *)data, size, charset, &utf8);
	check(bad >= 0, "detected charset cannot convert");
	const char *p = utf8.p ? utf8.p : "";
	check(utf8_invalid_count(p, utf8.len) == 0, "transcoding gave invalid UTF-8");
	for (int boiler = 0; boiler < 2; boiler++) {
		if (html_extract(p, utf8.len, boiler, &pg) < 0)
			continue;
		check(utf8_invalid_count(pg.text.p, pg.text.len) == 0, "text is not valid UTF-8");
		unsigned words = 0;
		for (size_t i = 0; i < pg.text.len; i++)
			words += !isspace((unsigned char)pg.text.p[i]) &&
				 (i == 0 || isspace((unsigned char)pg.text.p[i - 1]));
		check(words == pg.words, "word count");
		check(pg.nlangs <= pg.code_blocks, "more languages than code blocks");
		for (unsigned i = 1; i < pg.nlangs; i++)
			check(strcmp(pg.langs[i - 1], pg.langs[i]) < 0, "languages not sorted and unique");
	}
	return 0;
}
