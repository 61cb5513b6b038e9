/* test_shard: the document JSON form (doc.c), the line reader over plain, gzip and zstd
 * files (lines.c) and shards written and read back (shard.c), including corrupt,
 * truncated and tampered shards. Files go to a fresh temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "doc.h"
#include "lines.h"
#include "shard.h"
#include "util.h"

static char tmpdir[PATH_MAX];

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/curate-test-shard-XXXXXX", base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return remove_tree(tmpdir);
}

/* A path in the test directory; the caller frees it. */
static char *tpath(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void put_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* Number of entries in the test directory whose name contains part. */
static int count_names(const char *part)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		n += strstr(e->d_name, part) != NULL;
	closedir(d);
	return n;
}

static void assert_err_has(const char *part)
{
	if (!strstr(err_get(), part))
		fail_msg("error \"%s\" lacks \"%s\"", err_get(), part);
}

/* Parses line and serializes it again into out (reset first). */
static void reserialize(const char *line, struct buf *out)
{
	struct doc d;
	doc_init(&d);
	if (doc_parse(&d, line, strlen(line)))
		fail_msg("parse failed: %s (line %s)", err_get(), line);
	buf_reset(out);
	assert_int_equal(doc_serialize(&d, out), 0);
	doc_release(&d);
}

/* ---- doc ---- */

static void test_doc_roundtrip(void **state)
{
	static const char *lines[] = {
		"{\"id\":\"a\",\"text\":\"hello\",\"source\":\"web\",\"metadata\":{}}\n",
		("{\"id\":\"x\\u0000y\",\"text\":\"l1\\nl2\\t\\\"q\\\" b\\\\s / \xc3\xbc "
		 "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \x7f \\u0001\\u001f\\b\\f\\r\","
		 "\"source\":\"\",\"metadata\":{\"lang\":\"en\",\"score\":0.5,\"n\":-3,"
		 "\"tags\":[\"a\",\"b\"],\"nested\":{\"k\":null,\"t\":true,\"f\":false}}}\n"),
		("{\"id\":\"b\",\"text\":\"\",\"source\":\"github\",\"metadata\":{\"path\":\"src/x.c\"},"
		 "\"added\":\"2024-01-01\",\"created\":\"2023\",\"attributes\":{\"k\":[1,2]}}\n"),
		"{\"id\":\"\",\"text\":\"\",\"source\":\"\",\"metadata\":{}}\n",
	};
	struct buf out = BUF_INIT;

	for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
		reserialize(lines[i], &out);
		assert_string_equal(out.p, lines[i]);
		/* without its newline the line parses the same */
		struct doc d;
		doc_init(&d);
		assert_int_equal(doc_parse(&d, lines[i], strlen(lines[i]) - 1), 0);
		buf_reset(&out);
		doc_serialize(&d, &out);
		assert_string_equal(out.p, lines[i]);
		doc_release(&d);
	}
	buf_release(&out);
}

static void test_doc_normalizes(void **state)
{
	struct buf out = BUF_INIT;

	/* fields reordered, source and metadata added, escapes made canonical */
	reserialize("{ \"text\" : \"t\\u00e9\\/\", \"added\": 1, \"id\": \"i\", \"z\": [1, {\"b\": 2}] }",
		    &out);
	assert_string_equal(out.p, "{\"id\":\"i\",\"text\":\"t\xc3\xa9/\",\"source\":\"\","
				   "\"metadata\":{},\"added\":1,\"z\":[1,{\"b\":2}]}\n");
	/* null source and metadata count as absent */
	reserialize("{\"id\":\"i\",\"text\":\"t\",\"source\":null,\"metadata\":null}", &out);
	assert_string_equal(out.p,
			    "{\"id\":\"i\",\"text\":\"t\",\"source\":\"\",\"metadata\":{}}\n");
	buf_release(&out);
}

static void test_doc_fields(void **state)
{
	static const char line[] = "{\"text\":\"t\",\"added\":\"2024\",\"id\":\"i\","
				   "\"metadata\":{\"a\":1,\"b\":{\"c\":\"d\"}},\"z\":[1],"
				   "\"source\":\"s\"}";
	struct doc d;
	struct buf out = BUF_INIT;

	doc_init(&d);
	assert_int_equal(doc_parse(&d, line, sizeof line - 1), 0);
	assert_string_equal(d.id.p, "i");
	assert_string_equal(d.text.p, "t");
	assert_string_equal(d.source.p, "s");
	assert_int_equal(json_integer_value(json_object_get(d.meta, "a")), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(d.meta, "b"), "c")),
			    "d");
	assert_int_equal(json_object_size(d.extra), 2);
	void *it = json_object_iter(d.extra);
	assert_string_equal(json_object_iter_key(it), "added");
	it = json_object_iter_next(d.extra, it);
	assert_string_equal(json_object_iter_key(it), "z");

	/* a caller's stray copy of an own field in extra is not written twice */
	json_object_set_new(d.extra, "id", json_string("dup"));
	doc_serialize(&d, &out);
	assert_string_equal(out.p, "{\"id\":\"i\",\"text\":\"t\",\"source\":\"s\","
				   "\"metadata\":{\"a\":1,\"b\":{\"c\":\"d\"}},"
				   "\"added\":\"2024\",\"z\":[1]}\n");

	/* reset empties everything; the empty doc still has the full schema */
	doc_reset(&d);
	buf_reset(&out);
	doc_serialize(&d, &out);
	assert_string_equal(out.p, "{\"id\":\"\",\"text\":\"\",\"source\":\"\",\"metadata\":{}}\n");
	doc_release(&d);
	buf_release(&out);
}

static void test_doc_nul_text(void **state)
{
	static const char line[] = "{\"id\":\"n\",\"text\":\"a\\u0000b\\u0000\"}";
	struct doc d;

	doc_init(&d);
	assert_int_equal(doc_parse(&d, line, sizeof line - 1), 0);
	assert_int_equal(d.text.len, 4);
	assert_memory_equal(d.text.p, "a\0b\0", 4);
	doc_release(&d);
}

static void test_doc_escapes_controls(void **state)
{
	static const char expect[] =
		"\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
		"\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
		"\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\x7f\"";
	char text[36];
	struct buf out = BUF_INIT;
	struct doc d;

	for (int i = 0; i < 32; i++)
		text[i] = (char)i;
	memcpy(text + 32, "\"\\/\x7f", 4);
	assert_int_equal(json_escape(&out, text, sizeof text), 0);
	assert_string_equal(out.p, expect);

	/* inside a whole line, jansson reads back exactly the bytes that went in */
	doc_init(&d);
	buf_set(&d.id, "c", 1);
	buf_set(&d.text, text, sizeof text);
	buf_reset(&out);
	doc_serialize(&d, &out);
	json_error_t e;
	json_t *j = json_loadb(out.p, out.len, JSON_ALLOW_NUL, &e);
	assert_non_null(j);
	json_t *t = json_object_get(j, "text");
	assert_int_equal(json_string_length(t), sizeof text);
	assert_memory_equal(json_string_value(t), text, sizeof text);
	json_decref(j);
	doc_release(&d);
	buf_release(&out);
}

#define FFFD "\xef\xbf\xbd"

static void test_doc_invalid_utf8(void **state)
{
	static const struct {
		const char *in, *out;
		size_t bad;
	} cases[] = {
		{"\x80", FFFD, 1},                          /* lone continuation */
		{"a\x80\xbf" "b", "a" FFFD FFFD "b", 2},    /* two of them */
		{"a\xe2\x82", "a" FFFD, 1},                 /* truncated at the end */
		{"\xe2\x82z", FFFD "z", 1},                 /* truncated mid-string */
		{"\xf0\x9f\x98", FFFD, 1},                  /* truncated 4-byte */
		{"\xc0\xaf", FFFD FFFD, 2},                 /* overlong '/' */
		{"\xe0\x80\xaf", FFFD FFFD FFFD, 3},        /* overlong, 3 bytes */
		{"\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD, 4}, /* overlong, 4 bytes */
		{"\xed\xa0\x80", FFFD FFFD FFFD, 3},        /* surrogate D800 */
		{"\xed\xbf\xbf", FFFD FFFD FFFD, 3},        /* surrogate DFFF */
		{"\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD, 4}, /* U+110000 */
		{"\xf5\x80", FFFD FFFD, 2},                 /* never a lead byte */
		{"\xff" "x\xfe", FFFD "x" FFFD, 2},
		{"ok \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xed\x9f\xbf",
		 "ok \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xed\x9f\xbf", 0},
	};
	struct buf out = BUF_INIT, want = BUF_INIT;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *in = cases[i].in;
		size_t n = strlen(in);
		assert_int_equal(utf8_invalid_count(in, n), cases[i].bad);
		buf_reset(&out);
		assert_int_equal(utf8_repair(&out, in, n), cases[i].bad);
		assert_string_equal(out.p, cases[i].out);
		buf_reset(&out);
		assert_int_equal(json_escape(&out, in, n), cases[i].bad);
		buf_reset(&want);
		buf_printf(&want, "\"%s\"", cases[i].out);
		assert_string_equal(out.p, want.p);

		/* the repaired line is valid JSON, and the count reaches the caller */
		struct doc d;
		doc_init(&d);
		buf_set(&d.id, in, n);
		buf_set(&d.text, in, n);
		buf_set(&d.source, "s", 1);
		buf_reset(&out);
		assert_int_equal(doc_serialize(&d, &out), 2 * cases[i].bad);
		json_error_t e;
		json_t *j = json_loadb(out.p, out.len, 0, &e);
		if (!j)
			fail_msg("case %zu: jansson: %s", i, e.text);
		assert_string_equal(json_string_value(json_object_get(j, "text")), cases[i].out);
		json_decref(j);
		doc_release(&d);
	}
	buf_release(&out);
	buf_release(&want);
}

/* Random bytes, biased towards the interesting ones, across the escaper's 64 KiB slices:
 * what jansson reads back must be what utf8_repair makes of the input. */
static void test_doc_escape_random(void **state)
{
	static const unsigned char pick[] = {
		'a', 'b', ' ', '\n', '"', '\\', 0, 0x1f, 0x7f, 0x80, 0xbf, 0xc2, 0xe0, 0xed,
		0xf0, 0xf4, 0xff, 0xa0, 0x9f, 0x90, 0x8f,
	};
	size_t n = 300000;
	char *s = xmalloc(n);
	struct buf out = BUF_INIT, rep = BUF_INIT;

	srand(7);
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < n; i++) {
			int r = rand();
			s[i] = (char)(round == 0 || r % 4 ? 'a' + r % 26 : pick[(r >> 4) % sizeof pick]);
		}
		buf_reset(&out);
		buf_reset(&rep);
		size_t bad = json_escape(&out, s, n);
		assert_int_equal(utf8_repair(&rep, s, n), bad);
		assert_int_equal(utf8_invalid_count(s, n), bad);
		if (round == 0)
			assert_int_equal(bad, 0);
		json_error_t e;
		json_t *j = json_loadb(out.p, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
		if (!j)
			fail_msg("round %d: jansson: %s at %d", round, e.text, e.position);
		assert_int_equal(json_string_length(j), rep.len);
		assert_memory_equal(json_string_value(j), rep.p, rep.len);
		json_decref(j);
	}
	free(s);
	buf_release(&out);
	buf_release(&rep);
}

static void test_doc_errors(void **state)
{
	static const struct {
		const char *line, *err;
	} cases[] = {
		{"{\"text\":\"x\"}", "\"id\" is missing or not a string"},
		{"{\"id\":5,\"text\":\"x\"}", "\"id\" is missing or not a string"},
		{"{\"id\":\"a\"}", "\"text\" is missing or not a string"},
		{"{\"id\":\"a\",\"text\":[]}", "\"text\" is missing or not a string"},
		{"{\"id\":\"a\",\"text\":\"x\",\"metadata\":[1]}", "\"metadata\" is not an object"},
		{"{\"id\":\"a\",\"text\":\"x\",\"metadata\":\"m\"}", "\"metadata\" is not an object"},
		{"{\"id\":\"a\",\"text\":\"x\",\"source\":3}", "\"source\" is not a string"},
		{"[1,2]", "must be a JSON object"},
		{"{\"id\":\"a\",\"text\":\"x\"", "invalid JSON at column"},
		{"{\"id\":\"a\",\"text\":\"x\"} trailing", "invalid JSON at column"},
		{"{\"id\":\"a\",\"id\":\"b\",\"text\":\"x\"}", "duplicate"},
		{"{\"id\":\"a\",\"text\":\"\xff\"}", "invalid JSON"},
		{"", "invalid JSON"},
	};
	struct doc d;

	doc_init(&d);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		err_set("none");
		assert_int_equal(doc_parse(&d, cases[i].line, strlen(cases[i].line)), -1);
		assert_err_has(cases[i].err);
	}
	err_set("none");
	assert_int_equal(doc_parse(&d, "{\"id\":1}", 8), -1);
	assert_string_equal(err_get(), "\"id\" is missing or not a string");
	doc_release(&d);
}

/* What jansson alone makes of a line, the behaviour doc_parse's fast path must match:
 * NULL where a document line is rejected, else the root object. */
static json_t *ref_parse(const char *line, size_t len)
{
	json_error_t e;
	json_t *root = json_loadb(line, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
	json_t *src = json_object_get(root, "source"), *meta = json_object_get(root, "metadata");

	if (root && json_is_object(root) && json_is_string(json_object_get(root, "id")) &&
	    json_is_string(json_object_get(root, "text")) &&
	    (!src || json_is_null(src) || json_is_string(src)) &&
	    (!meta || json_is_null(meta) || json_is_object(meta)))
		return root;
	json_decref(root);
	return NULL;
}

static int same_str(const struct buf *b, json_t *s)
{
	const char *v = json_is_string(s) ? json_string_value(s) : "";
	size_t n = json_is_string(s) ? json_string_length(s) : 0;
	return b->len == n && (!n || !memcmp(b->p, v, n));
}

/* Does d hold what jansson read from the line (root)? Extra fields in the same order. */
static int same_as_ref(const struct doc *d, json_t *root)
{
	json_t *meta = json_object_get(root, "metadata");
	if (!same_str(&d->id, json_object_get(root, "id")) ||
	    !same_str(&d->text, json_object_get(root, "text")) ||
	    !same_str(&d->source, json_object_get(root, "source")))
		return 0;
	if (json_is_object(meta) ? !json_equal(meta, d->meta) : json_object_size(d->meta))
		return 0;
	void *mine = json_object_iter(d->extra);
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
		const char *k = json_object_iter_key(it);
		size_t kl = json_object_iter_key_len(it);
		if (!strcmp(k, "id") || !strcmp(k, "text") || !strcmp(k, "source") ||
		    !strcmp(k, "metadata")) /* jansson keys hold no NUL */
			continue;
		if (!mine || json_object_iter_key_len(mine) != kl ||
		    memcmp(json_object_iter_key(mine), k, kl) ||
		    !json_equal(json_object_iter_value(mine), json_object_iter_value(it)))
			return 0;
		mine = json_object_iter_next(d->extra, mine);
	}
	return mine == NULL;
}

/* Lines aimed at the edges of doc_parse's own parser: each must be accepted or rejected
 * exactly as jansson does, with the same values. */
static void test_doc_matches_jansson(void **state)
{
	static const char *lines[] = {
		"{\"\\u0069d\":\"a\",\"text\":\"b\"}",
		"{\"id\":\"a\",\"text\":\"\\ud83d\\ude00 \\u00e9 \\/ \\u0000 \\u0041\\u00FF\"}",
		"{\"id\":\"a\",\"text\":\"\\ud83d\"}",
		"{\"id\":\"a\",\"text\":\"\\ude00\"}",
		"{\"id\":\"a\",\"text\":\"\\ud83d\\u0041\"}",
		"{\"id\":\"a\",\"text\":\"\\u12\"}",
		"{\"id\":\"a\",\"text\":\"\\u12g4\"}",
		"{\"id\":\"a\",\"text\":\"\\x\"}",
		"{\"id\":\"a\",\"text\":\"b\\\\\"}",
		"{\"id\":\"a\",\"text\":\"b\\\\\\\"c\\\\\\\\\"}",
		"{\"id\":\"a\",\"text\":\"tab\there\"}",
		"{\"id\":\"a\",\"text\":\"\xc0\xaf\"}",
		"{\"id\":\"a\",\"text\":\"x\x7f\xf4\x8f\xbf\xbf\"}",
		"{\"id\":\"a\",\"text\":\"x\",\"k\":1,\"k\":2}",
		"{\"id\":\"a\",\"text\":\"x\",\"\\u0000\":1}",
		"{\"id\":\"a\",\"text\":\"x\",\"k\\u00e9y\":1,\"s\":\"\\u0000\"}",
		(" \r\n\t{ \"id\" : \"a\" , \"text\" : \"b\" , \"metadata\" : { \"x\" : \"}\\\"]\" } ,"
		 " \"n\" : -1.5e3 , \"t\" : true , \"a\" : [ ] , \"o\" : {} } \n"),
		"{\"id\":\"a\",\"text\":\"b\"}x",
		"{\"id\":\"a\",\"text\":\"b\"}\n\n",
		"{\"id\":\"a\",\"text\":\"b\",\"n\":1 2}",
		"{\"id\":\"a\",\"text\":\"b\",\"n\":01}",
		"{\"id\":\"a\",\"text\":\"b\",\"n\":-}",
		"{\"id\":\"a\",\"text\":\"b\",\"n\":tru}",
		"{\"id\":\"a\",\"text\":\"b\",\"n\":true1}",
		"{\"id\":\"a\",\"text\":\"b\",\"n\":1\"x\":2}",
		"{\"id\":\"a\",\"text\":\"b\",\"n\":12345678901234567890}",
		"{\"id\":\"a\",\"text\":\"b\",\"n\":1.0,\"e\":1E+2,\"m\":-0,\"f\":0.1e-5}",
		"{\"id\":\"a\",\"text\":\"b\",\"source\":null,\"metadata\":null}",
		"{\"id\":\"a\",\"text\":\"b\",\"source\":nul}",
		"{\"id\":\"a\",\"text\":\"b\",\"metadata\":\"x\"}",
		"{\"id\":\"a\",\"text\":\"b\",\"metadata\":{\"a\":[1,{\"b\":null}]},\"x\":[1,}",
		"{\"id\":\"a\",\"text\":\"x\",}",
		"{\"id\":\"a\" \"text\":\"x\"}",
		"{\"id\":\"a\",\"text\":\"x\"",
		"{\"id\":\"a\",\"text\":\"x",
		"{\"id\":\"a\",\"text\":\"x\",\"z\":\"\\ud800\"}",
		"{\"metadata\":{},\"id\":\"a\",\"metadata\":{},\"text\":\"\"}",
		"{\"id\":\"a\",\"id\":\"a\",\"text\":\"\"}",
		"{\"id\":\"a\",\"text\":\"x\",\"e\":{\"a\":1,\"a\":2}}",
		"{\"id\":null,\"text\":\"x\"}",
		"{\"text\":\"x\"}",
		"{}",
		"{",
		"[]",
		"",
	};
	struct doc d;
	struct buf a = BUF_INIT, b = BUF_INIT;

	doc_init(&d);
	for (size_t i = 0; i < ARRAY_LEN(lines) + 3; i++) {
		struct buf gen = BUF_INIT;
		const char *line = i < ARRAY_LEN(lines) ? lines[i] : NULL;
		if (!line) { /* a long key, and nesting near jansson's depth limit */
			size_t depth = i == ARRAY_LEN(lines) ? 3 : JSON_PARSER_MAX_DEPTH - i % 2;
			buf_puts(&gen, "{\"id\":\"a\",\"text\":\"b\",\"");
			for (int k = 0; k < 300; k++)
				buf_putc(&gen, (char)('a' + k % 26));
			buf_puts(&gen, "\":1,\"deep\":");
			for (size_t k = 0; k < depth; k++)
				buf_putc(&gen, '[');
			for (size_t k = 0; k < depth; k++)
				buf_putc(&gen, ']');
			buf_puts(&gen, ",\"last\":0}");
			line = gen.p;
		}
		size_t len = strlen(line);
		json_t *root = ref_parse(line, len);
		int rc = doc_parse(&d, line, len);
		if (rc != (root ? 0 : -1))
			fail_msg("line %zu: doc_parse %d, jansson %s: %s", i, rc,
				 root ? "accepts" : "rejects", line);
		if (root && !same_as_ref(&d, root))
			fail_msg("line %zu: fields differ from jansson's: %s", i, line);
		if (root) { /* and the canonical form is a fixed point */
			buf_reset(&a);
			doc_serialize(&d, &a);
			assert_int_equal(doc_parse(&d, a.p, a.len), 0);
			buf_reset(&b);
			doc_serialize(&d, &b);
			assert_string_equal(a.p, b.p);
		}
		json_decref(root);
		buf_release(&gen);
	}
	doc_release(&d);
	buf_release(&a);
	buf_release(&b);
}

/* ---- lines ---- */

/* Reads every line of path and checks them against want (n lines), then the end. */
static void expect_lines(const char *path, const char **want, size_t n)
{
	struct lines *r = lines_open(path, 1);
	const char *line;
	size_t len;
	uint64_t off = 0;

	if (!r)
		fail_msg("lines_open: %s", err_get());
	for (size_t i = 0; i < n; i++) {
		int rc = lines_next(r, &line, &len);
		if (rc != 1)
			fail_msg("line %zu: rc %d: %s", i + 1, rc, err_get());
		assert_int_equal(len, strlen(want[i]));
		assert_memory_equal(line, want[i], len);
		assert_int_equal(lines_lineno(r), i + 1);
		assert_int_equal(lines_offset(r), off);
		off += len + 1;
	}
	assert_int_equal(lines_next(r, &line, &len), 0);
	assert_int_equal(lines_next(r, &line, &len), 0);
	assert_int_equal(lines_raw_bytes(r), file_size(path));
	char sha[SHA256_HEX];
	assert_int_equal(sha256_file_hex(path, sha), 0);
	assert_string_equal(lines_sha256(r), sha);
	assert_string_equal(lines_path(r), path);
	lines_close(r);
}

/* err_set may wrap the last error: err_set("...: %s", err_get()) */
static void test_err_wraps_itself(void **state)
{
	(void)state;
	err_set("%s: cannot open: %s", "/no/such.jsonl", "No such file or directory");
	err_set("crawl-github.repos: %s", err_get());
	assert_string_equal(err_get(),
			    "crawl-github.repos: /no/such.jsonl: cannot open: No such file or directory");
	struct lines *l = lines_open("/no/such/dir/x.jsonl", 0);
	assert_null(l);
	err_set("list: %s (line %d)", err_get(), 3);
	assert_non_null(strstr(err_get(), "list: /no/such/dir/x.jsonl: cannot open: "));
	assert_non_null(strstr(err_get(), " (line 3)"));
}

static void test_lines_plain(void **state)
{
	static const char data[] = "a\nbb\n\nccc\r\nlast without newline";
	static const char *want[] = {"a", "bb", "", "ccc\r", "last without newline"};
	char *p = tpath("plain.txt");

	put_file(p, data, sizeof data - 1);
	expect_lines(p, want, ARRAY_LEN(want));
	put_file(p, "", 0);
	expect_lines(p, NULL, 0);
	put_file(p, "ab", 2);
	expect_lines(p, (const char *[]){"ab"}, 1);
	put_file(p, "\n", 1);
	expect_lines(p, (const char *[]){""}, 1);
	free(p);
}

/* Lines far longer than the 1 MiB buffer, and many short ones across chunk edges. */
static void test_lines_long(void **state)
{
	size_t big = 5u << 20;
	char *p = tpath("long.txt"), *data = xmalloc(big + 4096);
	size_t n = 0;

	memset(data, 'x', big);
	n = big;
	data[n++] = '\n';
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(data + n, "%d\n", i);
	put_file(p, data, n);

	struct lines *r = lines_open(p, 0);
	const char *line;
	size_t len;
	assert_non_null(r);
	assert_int_equal(lines_next(r, &line, &len), 1);
	assert_int_equal(len, big);
	assert_true(line[0] == 'x' && line[big - 1] == 'x');
	for (int i = 0; i < 300; i++) {
		char want[16];
		assert_int_equal(lines_next(r, &line, &len), 1);
		assert_int_equal(len, (size_t)sprintf(want, "%d", i));
		assert_memory_equal(line, want, len);
	}
	assert_int_equal(lines_next(r, &line, &len), 0);
	assert_null(lines_sha256(r)); /* not asked for */
	lines_close(r);
	free(data);
	free(p);
}

static void test_lines_gzip_members(void **state)
{
	static const char *want[] = {"one", "two", "three", "four"};
	char *p = tpath("two.gz");
	gzFile g = gzopen(p, "wb");

	assert_non_null(g);
	gzputs(g, "one\ntwo\n");
	gzclose(g);
	g = gzopen(p, "ab");
	assert_non_null(g);
	gzputs(g, "three\nfour");
	gzclose(g);
	expect_lines(p, want, ARRAY_LEN(want));
	free(p);
}

static void test_lines_gzip_truncated(void **state)
{
	char *p = tpath("trunc.gz");
	gzFile g = gzopen(p, "wb");
	const char *line;
	size_t len;
	int rc;

	assert_non_null(g);
	for (int i = 0; i < 1000; i++)
		gzprintf(g, "line %d\n", i);
	gzclose(g);
	assert_int_equal(truncate(p, (off_t)file_size(p) - 6), 0); /* into the trailer */
	struct lines *r = lines_open(p, 0);
	assert_non_null(r);
	while ((rc = lines_next(r, &line, &len)) == 1)
		;
	assert_int_equal(rc, -1);
	assert_err_has(p);
	assert_err_has("truncated gzip member");
	assert_int_equal(lines_next(r, &line, &len), -1); /* and it stays failed */
	lines_close(r);
	free(p);
}

static void put_zstd(const char *path, const char **frames, size_t n, size_t cut)
{
	struct buf all = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(frames[i]), bound = ZSTD_compressBound(len);
		buf_grow(&all, bound);
		size_t z = ZSTD_compress(all.p + all.len, bound, frames[i], len, 3);
		assert_false(ZSTD_isError(z));
		all.len += z;
	}
	put_file(path, all.p, all.len - cut);
	buf_release(&all);
}

static void test_lines_zstd_frames(void **state)
{
	static const char *frames[] = {"alpha\nbe", "", "ta\ngamma\n", "delta"};
	static const char *want[] = {"alpha", "beta", "gamma", "delta"};
	char *p = tpath("multi.zst");
	const char *line;
	size_t len;
	int rc;

	put_zstd(p, frames, ARRAY_LEN(frames), 0);
	expect_lines(p, want, ARRAY_LEN(want));

	put_zstd(p, frames, ARRAY_LEN(frames), 3); /* the last frame loses its end */
	struct lines *r = lines_open(p, 1);
	assert_non_null(r);
	while ((rc = lines_next(r, &line, &len)) == 1)
		;
	assert_int_equal(rc, -1);
	assert_err_has(p);
	assert_err_has("truncated zstd stream");
	assert_null(lines_sha256(r));
	lines_close(r);
	free(p);
}

static void test_lines_missing(void **state)
{
	char *p = tpath("no-such-file");
	assert_null(lines_open(p, 0));
	assert_err_has(p);
	free(p);
}

/* ---- shard ---- */

static void set_doc(struct doc *d, const char *id, const char *text, size_t len)
{
	doc_reset(d);
	buf_set(&d->id, id, strlen(id));
	buf_set(&d->text, text, len);
	buf_set(&d->source, "test", 4);
}

/* Closes w, checks info against the file on disk and that no temporary is left. */
static void close_checked(struct shard_writer *w, const char *path, struct shard_info *info)
{
	char sha[SHA256_HEX];

	if (shard_writer_close(w, info))
		fail_msg("close: %s", err_get());
	assert_int_equal(sha256_file_hex(path, sha), 0);
	assert_string_equal(info->sha256, sha);
	assert_int_equal(info->bytes, file_size(path));
	assert_int_equal(count_names(".tmp."), 0);
}

static void test_shard_empty(void **state)
{
	char *p = tpath("empty.jsonl.zst");
	struct shard_info info;
	struct doc d;
	struct shard_writer *w = shard_writer_open(p, 3);

	assert_non_null(w);
	assert_int_equal(count_names(".tmp."), 1);
	close_checked(w, p, &info);
	assert_int_equal(info.records, 0);
	assert_int_equal(info.raw_bytes, 0);
	assert_true(info.bytes > 0); /* a frame, even of nothing */

	struct shard_reader *r = shard_reader_open(p, info.sha256);
	assert_non_null(r);
	doc_init(&d);
	assert_int_equal(shard_reader_next(r, &d), 0);
	assert_int_equal(shard_reader_records(r), 0);
	shard_reader_close(r);
	doc_release(&d);
	unlink(p);
	free(p);
}

/* Odd records: empty text, embedded NULs, invalid UTF-8 (repaired), a 50 MB text. */
static void test_shard_odd_records(void **state)
{
	size_t big = 50u << 20;
	char *p = tpath("odd.jsonl.zst"), *text = xmalloc(big);
	struct shard_info info;
	struct doc d, got;

	for (size_t i = 0; i < big; i++)
		text[i] = i % 81 == 80 ? '\n' : (char)('a' + i % 26);
	doc_init(&d);
	doc_init(&got);
	struct shard_writer *w = shard_writer_open(p, 1);
	assert_non_null(w);
	set_doc(&d, "empty", "", 0);
	assert_int_equal(shard_writer_put(w, &d), 0);
	set_doc(&d, "nul", "a\0b\0\0c", 6);
	json_object_set_new(d.meta, "k", json_string("v"));
	assert_int_equal(shard_writer_put(w, &d), 0);
	set_doc(&d, "bad", "x\xffy", 3);
	assert_int_equal(shard_writer_put(w, &d), 0);
	set_doc(&d, "big", text, big);
	assert_int_equal(shard_writer_put(w, &d), 0);
	assert_int_equal(shard_writer_records(w), 4);
	close_checked(w, p, &info);
	assert_int_equal(info.records, 4);
	assert_int_equal(info.utf8_repaired, 1);
	assert_true(info.raw_bytes > big);

	struct shard_reader *r = shard_reader_open(p, info.sha256);
	assert_non_null(r);
	assert_int_equal(shard_reader_next(r, &got), 1);
	assert_string_equal(got.id.p, "empty");
	assert_int_equal(got.text.len, 0);
	assert_string_equal(got.source.p, "test");
	assert_int_equal(shard_reader_next(r, &got), 1);
	assert_int_equal(got.text.len, 6);
	assert_memory_equal(got.text.p, "a\0b\0\0c", 6);
	assert_string_equal(json_string_value(json_object_get(got.meta, "k")), "v");
	assert_int_equal(shard_reader_next(r, &got), 1);
	assert_string_equal(got.text.p, "x" FFFD "y");
	assert_int_equal(json_object_size(got.meta), 0); /* nothing left from the last doc */
	assert_int_equal(shard_reader_next(r, &got), 1);
	assert_int_equal(got.text.len, big);
	assert_memory_equal(got.text.p, text, big);
	assert_int_equal(shard_reader_next(r, &got), 0);
	assert_int_equal(shard_reader_records(r), 4);
	shard_reader_close(r);
	doc_release(&d);
	doc_release(&got);
	free(text);
	unlink(p);
	free(p);
}

/* Writes n small records to path; fills info. */
static void write_many(const char *path, int n, struct shard_info *info, uint64_t *raw)
{
	struct buf line = BUF_INIT;
	struct doc d;
	char id[32], text[128];

	doc_init(&d);
	*raw = 0;
	struct shard_writer *w = shard_writer_open(path, 3);
	assert_non_null(w);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof id, "doc-%d", i);
		int len = snprintf(text, sizeof text, "text number %d\n\tsays \"%x\"", i, i * 7919);
		set_doc(&d, id, text, (size_t)len);
		json_object_set_new(d.meta, "i", json_integer(i));
		assert_int_equal(shard_writer_put(w, &d), 0);
		buf_reset(&line);
		doc_serialize(&d, &line);
		*raw += line.len;
	}
	close_checked(w, path, info);
	assert_int_equal(info->records, (uint64_t)n);
	assert_int_equal(info->raw_bytes, *raw);
	doc_release(&d);
	buf_release(&line);
}

static void test_shard_many(void **state)
{
	char *p = tpath("many.jsonl.zst");
	struct shard_info info;
	uint64_t raw;
	struct doc d;
	char want[128];

	write_many(p, 10000, &info, &raw);
	doc_init(&d);
	struct shard_reader *r = shard_reader_open(p, info.sha256);
	assert_non_null(r);
	for (int i = 0; i < 10000; i++) {
		int rc = shard_reader_next(r, &d);
		if (rc != 1)
			fail_msg("record %d: rc %d: %s", i + 1, rc, err_get());
		snprintf(want, sizeof want, "doc-%d", i);
		assert_string_equal(d.id.p, want);
		snprintf(want, sizeof want, "text number %d\n\tsays \"%x\"", i, i * 7919);
		assert_string_equal(d.text.p, want);
		assert_int_equal(json_integer_value(json_object_get(d.meta, "i")), i);
	}
	assert_int_equal(shard_reader_next(r, &d), 0);
	assert_int_equal(shard_reader_records(r), 10000);
	shard_reader_close(r);

	/* raw lines come back exactly as the writer made them */
	r = shard_reader_open(p, NULL);
	const char *line;
	size_t len, total = 0;
	while (shard_reader_next_line(r, &line, &len) == 1)
		total += len + 1;
	assert_int_equal(total, raw);
	shard_reader_close(r);
	doc_release(&d);
	unlink(p);
	free(p);
}

static void test_shard_put_line(void **state)
{
	static const char good[] = "{\"id\":\"a\",\"text\":\"x\"}\n";
	char *p = tpath("lines.jsonl.zst");
	struct shard_info info;
	struct doc d;
	char where[64];

	struct shard_writer *w = shard_writer_open(p, 3);
	assert_non_null(w);
	assert_int_equal(shard_writer_put_line(w, good, sizeof good - 1), 0);
	assert_int_equal(shard_writer_put_line(w, "{}", 2), -1); /* no newline */
	assert_int_equal(shard_writer_put_line(w, "{}\n{}\n", 6), -1); /* two lines */
	assert_int_equal(shard_writer_put_line(w, "", 0), -1);
	assert_int_equal(shard_writer_put_line(w, "{bad}\n", 6), 0);
	close_checked(w, p, &info);
	assert_int_equal(info.records, 2);

	doc_init(&d);
	struct shard_reader *r = shard_reader_open(p, NULL);
	assert_int_equal(shard_reader_next(r, &d), 1);
	assert_int_equal(shard_reader_next(r, &d), -1);
	assert_err_has(p);
	snprintf(where, sizeof where, ": record 2 (byte offset %zu): invalid JSON at column",
		 sizeof good - 1);
	assert_err_has(where);
	shard_reader_close(r);
	doc_release(&d);
	unlink(p);
	free(p);
}

static void test_shard_abort(void **state)
{
	char *p = tpath("aborted.jsonl.zst");
	struct doc d;

	doc_init(&d);
	set_doc(&d, "a", "b", 1);
	struct shard_writer *w = shard_writer_open(p, 3);
	assert_non_null(w);
	assert_int_equal(shard_writer_put(w, &d), 0);
	shard_writer_abort(w);
	shard_writer_abort(NULL);
	assert_false(file_exists(p));
	assert_int_equal(count_names("aborted"), 0);
	doc_release(&d);
	free(p);

	p = tpath("no-such-dir/x.zst");
	assert_null(shard_writer_open(p, 3));
	assert_err_has("no-such-dir/x.zst.tmp.");
	free(p);
}

/* Reads path to the end; returns the last rc (0 or -1). */
static int read_all(const char *path, const char *sha)
{
	struct shard_reader *r = shard_reader_open(path, sha);
	struct doc d;
	int rc;

	if (!r)
		return -1;
	doc_init(&d);
	while ((rc = shard_reader_next(r, &d)) == 1)
		;
	shard_reader_close(r);
	doc_release(&d);
	return rc;
}

static void test_shard_corrupt(void **state)
{
	char *p = tpath("corrupt.jsonl.zst");
	struct shard_info info;
	uint64_t raw;

	write_many(p, 10000, &info, &raw);
	struct buf b = BUF_INIT;
	assert_int_equal(read_file(p, &b), 0);
	b.p[b.len / 2] ^= 0x20;
	put_file(p, b.p, b.len);
	assert_int_equal(read_all(p, info.sha256), -1);
	assert_err_has(p);
	/* without a manifest sum the zstd frame checksum still catches it */
	assert_int_equal(read_all(p, NULL), -1);
	assert_err_has(p);
	buf_release(&b);
	unlink(p);
	free(p);
}

static void test_shard_truncated(void **state)
{
	char *p = tpath("short.jsonl.zst");
	struct shard_info info;
	uint64_t raw;

	write_many(p, 10000, &info, &raw);
	uint64_t size = file_size(p);
	assert_int_equal(truncate(p, (off_t)size - 2), 0); /* into the frame checksum */
	assert_int_equal(read_all(p, NULL), -1);
	assert_err_has(p);
	assert_err_has("truncated zstd stream");
	assert_int_equal(truncate(p, (off_t)size / 2), 0);
	assert_int_equal(read_all(p, info.sha256), -1);
	assert_err_has(p);
	unlink(p);
	free(p);
}

static void test_shard_wrong_sum(void **state)
{
	char *p = tpath("tampered.jsonl.zst");
	struct shard_info info;
	uint64_t raw;
	char upper[SHA256_HEX], want[256];
	const char *zero = "0000000000000000000000000000000000000000000000000000000000000000";

	write_many(p, 100, &info, &raw);
	assert_int_equal(read_all(p, zero), -1);
	snprintf(want, sizeof want, "%s: checksum mismatch: manifest says %s, file has %s", p,
		 zero, info.sha256);
	assert_err_has(want);
	assert_err_has("(corrupt or modified shard)");
	for (int i = 0; i < SHA256_HEX; i++)
		upper[i] = (char)(info.sha256[i] >= 'a' ? info.sha256[i] - 32 : info.sha256[i]);
	assert_int_equal(read_all(p, upper), 0);
	assert_int_equal(read_all(p, info.sha256), 0);
	unlink(p);
	free(p);

	p = tpath("absent.jsonl.zst");
	assert_int_equal(read_all(p, NULL), -1);
	assert_err_has(p);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc_roundtrip),
		cmocka_unit_test(test_doc_normalizes),
		cmocka_unit_test(test_doc_fields),
		cmocka_unit_test(test_doc_nul_text),
		cmocka_unit_test(test_doc_escapes_controls),
		cmocka_unit_test(test_doc_invalid_utf8),
		cmocka_unit_test(test_doc_escape_random),
		cmocka_unit_test(test_doc_errors),
		cmocka_unit_test(test_doc_matches_jansson),
		cmocka_unit_test(test_err_wraps_itself),
		cmocka_unit_test(test_lines_plain),
		cmocka_unit_test(test_lines_long),
		cmocka_unit_test(test_lines_gzip_members),
		cmocka_unit_test(test_lines_gzip_truncated),
		cmocka_unit_test(test_lines_zstd_frames),
		cmocka_unit_test(test_lines_missing),
		cmocka_unit_test(test_shard_empty),
		cmocka_unit_test(test_shard_odd_records),
		cmocka_unit_test(test_shard_many),
		cmocka_unit_test(test_shard_put_line),
		cmocka_unit_test(test_shard_abort),
		cmocka_unit_test(test_shard_corrupt),
		cmocka_unit_test(test_shard_truncated),
		cmocka_unit_test(test_shard_wrong_sum),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
