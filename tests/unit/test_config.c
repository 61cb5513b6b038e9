/* test_config: the YAML loader against a small table of every option type: defaults, file
 * values, every kind of error with its exact place, overrides, and that what config_show and
 * config_write_defaults print loads back to the same values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

static const struct opt_def global_opts[] = {
	{"workdir", OPT_STR, "work", 0, 0, NULL, "Where runs keep their state."},
	{"verbose", OPT_BOOL, "false", 0, 0, NULL, "Log more."},
	{0},
};

static const struct opt_def import_opts[] = {
	{"shards", OPT_INT, "4", 1, 10, NULL, "Number of shards."},
	{"ratio", OPT_FLOAT, "0.5", 0, 1, NULL, "Share of documents kept."},
	{"block", OPT_SIZE, "64KiB", 1024, 1048576, NULL, "Read block size."},
	{"mode", OPT_ENUM, "fast", 0, 0, "fast|slow|auto", "How hard to try."},
	{"fields.text", OPT_STR, "text", 0, 0, NULL, "Field holding the text."},
	{"tags", OPT_LIST, "[a, b]", 0, 0, NULL, "Tags to add."},
	{"fields.id", OPT_STR, "", 0, 0, NULL, "Field holding the id.\nEmpty: none."},
	{"offset", OPT_INT, "-3", 0, 0, NULL, "Unbounded."},
	{0},
};

static const struct opt_def export_opts[] = {
	{"format", OPT_ENUM, "jsonl", 0, 0, "jsonl|parquet", "Output format."},
	{"exclude", OPT_LIST, "[]", 0, 0, NULL, "Fields left out."},
	{"strict", OPT_BOOL, "true", 0, 0, NULL, "Fail on bad records."},
	{0},
};

static const struct config_section sections[] = {
	{NULL, global_opts, "Global options."},
	{"import", import_opts, "Reading the input."},
	{"export", export_opts, "Writing the output."},
};

static char tmpdir[] = "/tmp/test_config.XXXXXX";
static char path[512];

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	return remove_tree(tmpdir);
}

/* Writes text to a file in the temp dir and returns its path (valid until the next call). */
static const char *yaml_file(const char *text)
{
	static int n;
	snprintf(path, sizeof path, "%s/c%d.yaml", tmpdir, n++);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static struct config *load_text(const char *text)
{
	return config_load(yaml_file(text), sections, ARRAY_LEN(sections), NULL, 0);
}

/* Expects the load to fail with a message holding each of the given parts. The load runs
 * first, so that at() names the file it wrote. */
#define assert_err(load, ...)                                                              \
	do {                                                                               \
		struct config *c_ = (load);                                                \
		assert_err_parts(c_, (const char *[]){__VA_ARGS__, NULL});                 \
	} while (0)
static void assert_err_parts(struct config *cfg, const char **parts)
{
	if (cfg) {
		config_free(cfg);
		fail_msg("load succeeded, expected an error with '%s'", parts[0]);
	}
	for (; *parts; parts++)
		if (!strstr(err_get(), *parts))
			fail_msg("error '%s' lacks '%s'", err_get(), *parts);
}

/* "FILE:LINE: " of the last written file, for exact message checks. */
static const char *at(int line)
{
	static char s[600];
	snprintf(s, sizeof s, "%s:%d: ", path, line);
	return s;
}

static const char *at_col(int line, int col)
{
	static char s[600];
	snprintf(s, sizeof s, "%s:%d:%d: ", path, line, col);
	return s;
}

static struct config *load_over(const char *file, char *const *ov, size_t n)
{
	return config_load(file, sections, ARRAY_LEN(sections), ov, n);
}

static void test_defaults(void **state)
{
	struct config *cfg = load_over(NULL, NULL, 0);
	const char *const *items;
	assert_non_null(cfg);
	assert_null(config_path(cfg));
	assert_string_equal(config_str(cfg, "workdir"), "work");
	assert_false(config_bool(cfg, "verbose"));
	assert_int_equal(config_int(cfg, "import.shards"), 4);
	assert_true(config_float(cfg, "import.ratio") == 0.5);
	assert_int_equal(config_size(cfg, "import.block"), 65536);
	assert_string_equal(config_str(cfg, "import.mode"), "fast");
	assert_string_equal(config_str(cfg, "import.fields.text"), "text");
	assert_string_equal(config_str(cfg, "import.fields.id"), "");
	assert_int_equal(config_int(cfg, "import.offset"), -3);
	assert_int_equal(config_list(cfg, "import.tags", &items), 2);
	assert_string_equal(items[0], "a");
	assert_string_equal(items[1], "b");
	assert_int_equal(config_list(cfg, "export.exclude", &items), 0);
	assert_non_null(items);
	assert_true(config_bool(cfg, "export.strict"));
	assert_string_equal(config_origin(cfg, "import.shards"), "default");
	config_free(cfg);
}

static void test_empty_files(void **state)
{
	static const char *const texts[] = {"", "# only a comment\n\n# and another\n", "---\n",
					    "import:\n# nothing set\nexport: ~\n"};
	char want[SHA256_HEX], got[SHA256_HEX];
	struct config *def = load_over(NULL, NULL, 0);
	config_section_hash(def, "import", want);
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		struct config *cfg = load_text(texts[i]);
		assert_non_null(cfg);
		config_section_hash(cfg, "import", got);
		assert_string_equal(got, want);
		assert_string_equal(config_origin(cfg, "import.shards"), "default");
		config_free(cfg);
	}
	config_free(def);
}

static void test_file_values(void **state)
{
	const char *const *items;
	struct config *cfg = load_text("workdir: /data/run\n"
				       "verbose: yes\n"
				       "import:\n"
				       "  shards: 10\n"
				       "  ratio: 0.25\n"
				       "  block: 512KiB\n"
				       "  mode: auto\n"
				       "  tags: [x, 'y z', \"q,r\"]\n"
				       "  offset: -9223372036854775808\n"
				       "export:\n"
				       "  exclude:\n"
				       "    - meta\n"
				       "  strict: OFF\n");
	assert_non_null(cfg);
	assert_string_equal(config_path(cfg), path);
	assert_string_equal(config_str(cfg, "workdir"), "/data/run");
	assert_true(config_bool(cfg, "verbose"));
	assert_int_equal(config_int(cfg, "import.shards"), 10);
	assert_true(config_float(cfg, "import.ratio") == 0.25);
	assert_int_equal(config_size(cfg, "import.block"), 512 * 1024);
	assert_string_equal(config_str(cfg, "import.mode"), "auto");
	assert_int_equal(config_list(cfg, "import.tags", &items), 3);
	assert_string_equal(items[1], "y z");
	assert_string_equal(items[2], "q,r");
	assert_null(items[3]);
	assert_true(config_int(cfg, "import.offset") == INT64_MIN);
	assert_int_equal(config_list(cfg, "export.exclude", &items), 1);
	assert_string_equal(items[0], "meta");
	assert_false(config_bool(cfg, "export.strict"));
	char want[600];
	snprintf(want, sizeof want, "%s:4", path);
	assert_string_equal(config_origin(cfg, "import.shards"), want);
	assert_string_equal(config_origin(cfg, "import.fields.text"), "default");
	config_free(cfg);
}

static void test_list_scalars(void **state)
{
	const char *const *items;
	struct config *cfg = load_text("import:\n  tags: solo\nexport:\n  exclude:\n");
	assert_non_null(cfg);
	assert_int_equal(config_list(cfg, "import.tags", &items), 1);
	assert_string_equal(items[0], "solo");
	assert_int_equal(config_list(cfg, "export.exclude", &items), 0);
	config_free(cfg);
}

static void test_nested_keys(void **state)
{
	struct config *cfg = load_text("import:\n  fields:\n    text: body\n");
	assert_non_null(cfg);
	assert_string_equal(config_str(cfg, "import.fields.text"), "body");
	assert_string_equal(config_str(cfg, "import.fields.id"), "");
	config_free(cfg);
	cfg = load_text("import: {fields: {id: doc_id, text: t}}\n");
	assert_non_null(cfg);
	assert_string_equal(config_str(cfg, "import.fields.id"), "doc_id");
	config_free(cfg);
	assert_err(load_text("import:\n  fields: body\n"), at(2), "import.fields: expected a mapping");
}

static void test_unknown_key(void **state)
{
	assert_err(load_text("import:\n  shards: 2\n  shard: 3\n"), at(3),
		   "import.shard: unknown key (did you mean 'import.shards'?)");
	assert_err(load_text("import:\n  fields:\n    txt: body\n"), at(3),
		   "import.fields.txt: unknown key (did you mean 'import.fields.text'?)");
	assert_err(load_text("import:\n  feilds:\n    text: body\n"), at(2),
		   "import.feilds: unknown key (did you mean 'import.fields'?)");
	assert_err(load_text("wrkdir: x\n"), at(1), "wrkdir: unknown key (did you mean 'workdir'?)");
	assert_err(load_text("import:\n  completely_else: 1\n"), at(2),
		   "import.completely_else: unknown key");
	assert_null(strstr(err_get(), "did you mean"));
}

static void test_unknown_section(void **state)
{
	assert_err(load_text("verbose: true\nimprt:\n  shards: 3\n"), at(2),
		   "imprt: unknown section (did you mean 'import'?)");
	assert_err(load_text("zzzzzzzz:\n  a: 1\n"), at(1), "zzzzzzzz: unknown section");
	assert_null(strstr(err_get(), "did you mean"));
	assert_err(load_text("import: 3\n"), at(1), "import: expected a mapping, got a scalar");
	assert_err(load_text("- a\n- b\n"), at(1), "top level: expected a mapping");
}

static void test_bad_type(void **state)
{
	assert_err(load_text("import:\n  shards: abc\n"), at(2),
		   "import.shards: expected an integer, got 'abc'");
	assert_err(load_text("import:\n  shards: 4x\n"), "expected an integer, got '4x'");
	assert_err(load_text("import:\n  shards: 0x4\n"), "expected an integer, got '0x4'");
	assert_err(load_text("import:\n  shards: 99999999999999999999\n"), at(2),
		   "import.shards: 99999999999999999999 is out of range for a 64-bit integer");
	assert_err(load_text("import:\n  shards: [1]\n"), "import.shards: expected an integer, got a list");
	assert_err(load_text("verbose: maybe\n"), at(1), "verbose: expected true or false, got 'maybe'");
	assert_err(load_text("import:\n  ratio: half\n"), "import.ratio: expected a number, got 'half'");
	assert_err(load_text("import:\n  ratio: .nan\n"), "import.ratio: expected a number");
	assert_err(load_text("import:\n  ratio: nan\n"), "import.ratio: expected a number");
	assert_err(load_text("import:\n  block: 12XB\n"), at(2), "import.block: expected a size", "'12XB'");
	assert_err(load_text("import:\n  block: nan\n"), "import.block: expected a size");
	assert_err(load_text("import:\n  tags: {a: 1}\n"), at(2), "import.tags: expected a list, got a mapping");
	assert_err(load_text("import:\n  tags:\n    - a\n    - [b]\n"), at(4),
		   "import.tags: expected a list of strings");
	assert_err(load_text("workdir: {a: b}\n"), "workdir: expected a string, got a mapping");
	assert_err(load_text("workdir: \"a\\0b\"\n"), "workdir: a NUL byte");
}

static void test_bounds(void **state)
{
	assert_err(load_text("import:\n  shards: 12\n"), at(2), "import.shards: 12 is above the maximum 10");
	assert_err(load_text("import:\n  shards: 0\n"), at(2), "import.shards: 0 is below the minimum 1");
	assert_err(load_text("import:\n  ratio: 1.5\n"), "import.ratio: 1.5 is above the maximum 1");
	assert_err(load_text("import:\n  ratio: -0.1\n"), "import.ratio: -0.1 is below the minimum 0");
	assert_err(load_text("import:\n  block: 2MiB\n"), "import.block: 2MiB is above the maximum 1MiB");
	assert_err(load_text("import:\n  block: 100\n"), "import.block: 100 is below the minimum 1KiB");
	struct config *cfg = load_text("import:\n  shards: 1\n  ratio: 1\n  block: 1MiB\n  offset: -99999\n");
	assert_non_null(cfg); /* inclusive bounds; min == max means unbounded */
	assert_int_equal(config_int(cfg, "import.shards"), 1);
	assert_int_equal(config_size(cfg, "import.block"), 1048576);
	assert_int_equal(config_int(cfg, "import.offset"), -99999);
	config_free(cfg);
}

static void test_enum(void **state)
{
	assert_err(load_text("import:\n  mode: turbo\n"), at(2),
		   "import.mode: 'turbo' is not one of: fast, slow, auto");
	assert_err(load_text("import:\n  mode: Fast\n"), "'Fast' is not one of");
	assert_err(load_text("import:\n  mode: [fast]\n"), "import.mode: expected one of: fast, slow, auto, got a list");
}

static void test_duplicate_key(void **state)
{
	assert_err(load_text("import:\n  shards: 2\n  shards: 3\n"), at(3),
		   "import.shards: duplicate key (first at line 2)");
	assert_err(load_text("import:\n  shards: 2\nverbose: true\nimport:\n  ratio: 0.1\n"), at(4),
		   "import: duplicate key (first at line 1)");
	assert_err(load_text("import:\n  fields:\n    text: a\n  fields:\n    id: b\n"), at(4),
		   "import.fields: duplicate key");
}

static void test_syntax_error(void **state)
{
	assert_err(load_text("import:\n  shards: 2\n ratio: 3\n"), at_col(3, 2),
		   "YAML syntax error: did not find expected key");
	assert_err(load_text("import:\n  shards: [1, 2\n\nverbose: true\n"), at_col(4, 8),
		   "YAML syntax error: did not find expected ',' or ']'");
	assert_err(load_text("a: 'unterminated\n"), "YAML syntax error: found unexpected end of stream");
	assert_err(load_text("import: {}\n---\nverbose: true\n"), at(3), "one YAML document");
	assert_err(load_text("import: {}\n---\nverbose: [\n"), "YAML syntax error");
	assert_err(load_text("a: *nope\n"), at_col(1, 4), "YAML syntax error: found undefined alias");
	assert_err(load_text("verbose: true\nworkdir: \"\xff\"\n"), at_col(2, 11),
		   "YAML syntax error: invalid leading UTF-8 octet");
	assert_err(load_text("? [a, b]\n: c\n"), at(1), "top level: a key must be a plain string");
}

static void test_missing_file(void **state)
{
	char p[600];
	snprintf(p, sizeof p, "%s/absent.yaml", tmpdir);
	assert_err(load_over(p, NULL, 0), p, ": cannot open: No such file or directory");
	assert_err(load_over(tmpdir, NULL, 0), ": cannot open: Is a directory");
}

static void test_overrides(void **state)
{
	char *ov[] = {
		"import.shards=7", "verbose=on", "import.ratio=1e-1", "import.block=2KiB",
		"import.mode=slow", "import.fields.text=the body = text", "workdir=", "export.strict=FALSE",
		"import.shards=8",
	};
	const char *const *items;
	const char *file = yaml_file("import:\n  shards: 2\n  tags: [p]\n");
	struct config *cfg = load_over(file, ov, ARRAY_LEN(ov));
	assert_non_null(cfg);
	assert_int_equal(config_int(cfg, "import.shards"), 8); /* the last override wins */
	assert_true(config_bool(cfg, "verbose"));
	assert_true(config_float(cfg, "import.ratio") == 0.1);
	assert_int_equal(config_size(cfg, "import.block"), 2048);
	assert_string_equal(config_str(cfg, "import.mode"), "slow");
	assert_string_equal(config_str(cfg, "import.fields.text"), "the body = text");
	assert_string_equal(config_str(cfg, "workdir"), "");
	assert_false(config_bool(cfg, "export.strict"));
	assert_string_equal(config_origin(cfg, "import.shards"), "command line");
	assert_int_equal(config_list(cfg, "import.tags", &items), 1); /* from the file */
	config_free(cfg);
}

static void test_list_override(void **state)
{
	const char *const *items;
	char *flow[] = {"import.tags=[x, \"y,z\", 'w v']"};
	struct config *cfg = load_over(NULL, flow, 1);
	assert_non_null(cfg);
	assert_int_equal(config_list(cfg, "import.tags", &items), 3);
	assert_string_equal(items[0], "x");
	assert_string_equal(items[1], "y,z");
	assert_string_equal(items[2], "w v");
	config_free(cfg);

	char *comma[] = {"import.tags= x, y ,z"};
	cfg = load_over(NULL, comma, 1);
	assert_non_null(cfg);
	assert_int_equal(config_list(cfg, "import.tags", &items), 3);
	assert_string_equal(items[0], "x");
	assert_string_equal(items[1], "y");
	assert_string_equal(items[2], "z");
	config_free(cfg);

	char *empty[] = {"import.tags=", "export.exclude=[]"};
	cfg = load_over(NULL, empty, 2);
	assert_non_null(cfg);
	assert_int_equal(config_list(cfg, "import.tags", &items), 0);
	assert_int_equal(config_list(cfg, "export.exclude", &items), 0);
	config_free(cfg);
}

static void test_override_errors(void **state)
{
	static const struct {
		const char *arg, *msg;
	} cases[] = {
		{"import.shards", "command line: import.shards: expected key=value"},
		{"=3", "command line: =3: expected key=value"},
		{"import.shard=3", "command line: import.shard: unknown key (did you mean 'import.shards'?)"},
		{"import.shards=three", "command line: import.shards: expected an integer, got 'three'"},
		{"import.shards= 3", "expected an integer, got ' 3'"},
		{"import.shards=11", "command line: import.shards: 11 is above the maximum 10"},
		{"import.offset=9223372036854775808", "is out of range for a 64-bit integer"},
		{"import.offset=-9223372036854775809", "is out of range for a 64-bit integer"},
		{"import.ratio=inf", "command line: import.ratio: expected a number, got 'inf'"},
		{"import.ratio=nan", "expected a number, got 'nan'"},
		{"import.ratio=0.5x", "expected a number, got '0.5x'"},
		{"import.ratio=1e999", "expected a number"},
		{"import.block=1PB", "command line: import.block: expected a size"},
		{"import.block=2GiB", "import.block: 2GiB is above the maximum 1MiB"},
		{"import.mode=none", "command line: import.mode: 'none' is not one of: fast, slow, auto"},
		{"verbose=2", "command line: verbose: expected true or false, got '2'"},
		{"import.tags=[a, b", "command line: import.tags: expected a list"},
		{"import.tags=[a, [b]]", "expected a list of strings"},
		{"import.tags=a,,b", "empty item"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *ov[] = {(char *)cases[i].arg};
		assert_err(load_over(NULL, ov, 1), cases[i].msg);
	}
	char *ok[] = {"import.offset=+9223372036854775807", "import.shards=+2"};
	struct config *cfg = load_over(NULL, ok, 2);
	assert_non_null(cfg);
	assert_true(config_int(cfg, "import.offset") == INT64_MAX);
	assert_int_equal(config_int(cfg, "import.shards"), 2);
	config_free(cfg);
}

static void all_hashes(const struct config *cfg, char h[3][SHA256_HEX])
{
	config_section_hash(cfg, NULL, h[0]);
	config_section_hash(cfg, "import", h[1]);
	config_section_hash(cfg, "export", h[2]);
}

/* Prints cfg with config_show, loads the output back and compares every section's hash. */
static void assert_show_reloads(const struct config *cfg, bool with_origin)
{
	char a[3][SHA256_HEX], b[3][SHA256_HEX];
	snprintf(path, sizeof path, "%s/show.yaml", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	config_show(cfg, f, with_origin);
	fclose(f);
	struct config *back = load_over(path, NULL, 0);
	if (!back)
		fail_msg("show output does not load: %s", err_get());
	all_hashes(cfg, a);
	all_hashes(back, b);
	for (int i = 0; i < 3; i++)
		assert_string_equal(a[i], b[i]);
	config_free(back);
}

static void test_show_reloads(void **state)
{
	char *ov[] = {
		"workdir=",
		"import.fields.text=say \"hi\": a\\b\n\ttab # not a comment",
		"import.fields.id=true",
		"import.tags=[\"\", '123', 'a, b', \"x\\u0001y\", 'é', '- dash', null]",
		"export.exclude=[]",
		"import.ratio=0.1",
		"import.block=1000001",
		"import.offset=-9223372036854775808",
	};
	struct config *cfg = load_over(NULL, ov, ARRAY_LEN(ov));
	if (!cfg)
		fail_msg("%s", err_get());
	assert_show_reloads(cfg, false);
	assert_show_reloads(cfg, true);
	config_free(cfg);

	cfg = load_over(NULL, NULL, 0);
	assert_show_reloads(cfg, false);
	config_free(cfg);

	const char *file = yaml_file("import:\n  shards: 3\n");
	char *one[] = {"verbose=true"};
	cfg = load_over(file, one, 1);
	assert_non_null(cfg);
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	config_show(cfg, m, true);
	fclose(m);
	char want[700];
	snprintf(want, sizeof want, "  shards: 3  # %s:2\n", file);
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "verbose: true  # command line\n"));
	assert_non_null(strstr(text, "workdir: work  # default\n"));
	assert_non_null(strstr(text, "import:\n  shards: 3"));
	assert_non_null(strstr(text, "  fields:\n    text: text  # default\n    id: \"\"  # default\n"));
	assert_non_null(strstr(text, "  tags: [a, b]  # default\n"));
	assert_true(strstr(text, "workdir") < strstr(text, "import:"));
	assert_true(strstr(text, "import:") < strstr(text, "export:"));
	free(text);
	config_free(cfg);
}

static void test_write_defaults(void **state)
{
	char a[3][SHA256_HEX], b[3][SHA256_HEX];
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	config_write_defaults(sections, ARRAY_LEN(sections), m);
	fclose(m);
	assert_non_null(strstr(text, "# Reading the input.\nimport:\n"));
	assert_non_null(strstr(text, "  # Number of shards.\n  # type: int, 1..10\n  shards: 4\n"));
	assert_non_null(strstr(text, "  # type: float, 0..1\n  ratio: 0.5\n"));
	assert_non_null(strstr(text, "  # type: size, 1KiB..1MiB\n  block: 64KiB\n"));
	assert_non_null(strstr(text, "  # one of: fast|slow|auto\n  mode: fast\n"));
	assert_non_null(strstr(text, "    # Field holding the id.\n    # Empty: none.\n    # type: string\n    id: \"\"\n"));
	assert_non_null(strstr(text, "  # type: int\n  offset: -3\n"));
	assert_non_null(strstr(text, "# type: list of strings\n  exclude: []\n"));

	struct config *back = load_text(text);
	if (!back)
		fail_msg("defaults do not load: %s", err_get());
	struct config *def = load_over(NULL, NULL, 0);
	all_hashes(def, a);
	all_hashes(back, b);
	for (int i = 0; i < 3; i++)
		assert_string_equal(a[i], b[i]);
	config_free(back);
	config_free(def);
	free(text);
}

static void test_section_hash(void **state)
{
	char base[3][SHA256_HEX], h[3][SHA256_HEX];
	struct config *cfg = load_over(NULL, NULL, 0);
	all_hashes(cfg, base);
	config_free(cfg);

	/* The same values written out explicitly hash the same. */
	cfg = load_text("import:\n  shards: 4\n  tags: [a, b]\n  block: 65536\n");
	assert_non_null(cfg);
	all_hashes(cfg, h);
	assert_string_equal(h[1], base[1]);
	config_free(cfg);

	char *one[] = {"import.ratio=0.75"};
	cfg = load_over(NULL, one, 1);
	all_hashes(cfg, h);
	assert_string_not_equal(h[1], base[1]);
	assert_string_equal(h[0], base[0]);
	assert_string_equal(h[2], base[2]);
	config_free(cfg);

	/* Lists with the same characters but other items must differ. */
	char *l1[] = {"import.tags=[\"a,b\"]"}, *l2[] = {"import.tags=a,b"};
	char *l3[] = {"import.tags=[\"a\\\",\\\"b\"]"};
	char x[SHA256_HEX], y[SHA256_HEX], z[SHA256_HEX];
	cfg = load_over(NULL, l1, 1);
	config_section_hash(cfg, "import", x);
	config_free(cfg);
	cfg = load_over(NULL, l2, 1);
	config_section_hash(cfg, "import", y);
	config_free(cfg);
	cfg = load_over(NULL, l3, 1);
	config_section_hash(cfg, "import", z);
	config_free(cfg);
	assert_string_not_equal(x, y);
	assert_string_not_equal(y, z);
	assert_string_not_equal(x, z);
	assert_int_equal(strlen(x), 64);
}

/* Runs fn in a child and expects it to abort, as a programming error must. */
static void assert_aborts(void (*fn)(const struct config *), const struct config *cfg)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		fn(cfg);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void get_undeclared(const struct config *cfg) { config_int(cfg, "import.nope"); }
static void get_wrong_type(const struct config *cfg) { config_int(cfg, "import.ratio"); }
static void get_str_of_list(const struct config *cfg) { config_str(cfg, "import.tags"); }
static void hash_unknown(const struct config *cfg)
{
	char h[SHA256_HEX];
	config_section_hash(cfg, "nope", h);
}

static void test_getters_abort(void **state)
{
	struct config *cfg = load_over(NULL, NULL, 0);
	assert_aborts(get_undeclared, cfg);
	assert_aborts(get_wrong_type, cfg);
	assert_aborts(get_str_of_list, cfg);
	assert_aborts(hash_unknown, cfg);
	config_free(cfg);
}

/* Options under names the user chooses: "groups.*.rate" and "phases.*.groups.*.weight". */
static const struct opt_def named_opts[] = {
	{"rate", OPT_FLOAT, "0.5", 0, 1, NULL, "Default rate."},
	{"groups.*.rate", OPT_FLOAT, "0.5", 0, 1, NULL, "A group's rate."},
	{"groups.*.match", OPT_LIST, "[]", 0, 0, NULL, "A group's rules."},
	{"phases.*.seq", OPT_INT, "8192", 1, 1e6, NULL, "A phase's context."},
	{"phases.*.groups.*.weight", OPT_FLOAT, "0", 0, 1e9, NULL, "A group's weight."},
	{0},
};
static const struct config_section named_sections[] = {
	{NULL, global_opts, "Global options."},
	{"tok", named_opts, "Named things."},
};

static void test_named_options(void **state)
{
	(void)state;
	const char *text = "tok:\n"
			   "  groups:\n"
			   "    code: {rate: 0.1, match: [source=github]}\n"
			   "    web: {}\n"
			   "  phases:\n"
			   "    p1:\n"
			   "      groups: {code: {weight: 2}, web: {weight: 1}}\n";
	char *ov[] = {"tok.groups.docs.rate=1", "tok.phases.p2.seq=32768"};
	struct config *cfg = config_load(yaml_file(text), named_sections,
					 ARRAY_LEN(named_sections), ov, 2);
	assert_non_null(cfg);
	char **names;
	assert_int_equal(config_names(cfg, "tok.groups", &names), 3);
	assert_string_equal(names[0], "code");
	assert_string_equal(names[1], "web");
	assert_string_equal(names[2], "docs");
	assert_null(names[3]);
	config_names_free(names);
	assert_true(config_float(cfg, "tok.groups.code.rate") == 0.1);
	assert_true(config_float(cfg, "tok.groups.web.rate") == 0.5);
	assert_string_equal(config_origin(cfg, "tok.groups.web.rate"), "default");
	assert_true(config_float(cfg, "tok.groups.docs.rate") == 1);
	const char *const *items;
	assert_int_equal(config_list(cfg, "tok.groups.code.match", &items), 1);
	assert_string_equal(items[0], "source=github");
	assert_int_equal(config_names(cfg, "tok.phases", &names), 2);
	assert_string_equal(names[1], "p2");
	config_names_free(names);
	assert_int_equal(config_names(cfg, "tok.phases.p1.groups", &names), 2);
	config_names_free(names);
	assert_int_equal(config_names(cfg, "tok.phases.p2.groups", &names), 0);
	config_names_free(names);
	assert_int_equal(config_int(cfg, "tok.phases.p1.seq"), 8192);
	assert_int_equal(config_int(cfg, "tok.phases.p2.seq"), 32768);
	assert_true(config_float(cfg, "tok.phases.p1.groups.code.weight") == 2);
	/* "tok" has no names (its "rate" is an option), nor has "tok.groups.code" */
	assert_int_equal(config_names(cfg, "tok", &names), 0);
	config_names_free(names);
	/* what show prints loads back to the same values */
	char *shown = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&shown, &len);
	config_show(cfg, f, false);
	fclose(f);
	/* unset named options are not shown (printing a default would set it); a group with
	 * none set still is */
	assert_non_null(strstr(shown, "    web: {}\n"));
	assert_null(strstr(shown, "groups.web.rate"));
	assert_null(strstr(shown, "seq: 8192"));
	struct config *again = config_load(yaml_file(shown), named_sections,
					   ARRAY_LEN(named_sections), NULL, 0);
	assert_non_null(again);
	struct buf a = BUF_INIT, b = BUF_INIT;
	config_section_text(cfg, "tok", &a);
	config_section_text(again, "tok", &b);
	assert_string_equal(a.p, b.p);
	assert_non_null(strstr(a.p, "groups.docs.rate=1\n"));
	buf_release(&a), buf_release(&b);
	free(shown);
	config_free(again);
	config_free(cfg);
	/* errors name the place; a name cannot hold a dot; unknown leaves are unknown */
	assert_err(config_load(yaml_file("tok:\n  groups:\n    code:\n      rate: 2\n"),
			       named_sections, ARRAY_LEN(named_sections), NULL, 0),
		   at(4), "tok.groups.code.rate");
	assert_err(config_load(yaml_file("tok:\n  groups:\n    code:\n      rat: 1\n"),
			       named_sections, ARRAY_LEN(named_sections), NULL, 0),
		   at(4), "tok.groups.code.rat: unknown key");
	char *bad[] = {"tok.groups.a.b.rate=1"};
	assert_err(config_load(NULL, named_sections, ARRAY_LEN(named_sections), bad, 1),
		   "command line: tok.groups.a.b.rate: unknown key");
	/* the documented defaults show a pattern as comments and load back */
	f = open_memstream(&shown, &len);
	config_write_defaults(named_sections, ARRAY_LEN(named_sections), f);
	fclose(f);
	assert_non_null(strstr(shown, "# groups.NAME.rate: 0.5"));
	assert_non_null(strstr(shown, "# phases.NAME.groups.NAME.weight: 0"));
	again = config_load(yaml_file(shown), named_sections, ARRAY_LEN(named_sections), NULL, 0);
	assert_non_null(again);
	assert_int_equal(config_names(again, "tok.groups", &names), 0);
	config_names_free(names);
	config_free(again);
	free(shown);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_files),
		cmocka_unit_test(test_file_values),
		cmocka_unit_test(test_list_scalars),
		cmocka_unit_test(test_nested_keys),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_list_override),
		cmocka_unit_test(test_override_errors),
		cmocka_unit_test(test_show_reloads),
		cmocka_unit_test(test_write_defaults),
		cmocka_unit_test(test_section_hash),
		cmocka_unit_test(test_getters_abort),
		cmocka_unit_test(test_named_options),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
