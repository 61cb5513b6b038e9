/* fuzz_config: libFuzzer target for the YAML config loader. The input is the config file;
 * its first line also serves as one key=value override, so the override parser is fuzzed
 * too. On success the config is printed and hashed, which walks every stored value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

static const struct opt_def global_opts[] = {
	{"workdir", OPT_STR, "work", 0, 0, NULL, "State directory."},
	{"verbose", OPT_BOOL, "false", 0, 0, NULL, "Log more."},
	{"log.level", OPT_ENUM, "info", 0, 0, "error|warn|info|debug", "Log level."},
	{0},
};

static const struct opt_def import_opts[] = {
	{"shards", OPT_INT, "4", 1, 4096, NULL, "Shards."},
	{"ratio", OPT_FLOAT, "0.5", 0, 1, NULL, "Share kept."},
	{"block", OPT_SIZE, "64KiB", 1024, 1073741824.0, NULL, "Block size."},
	{"fields.text", OPT_STR, "text", 0, 0, NULL, "Text field."},
	{"fields.meta.id", OPT_STR, "", 0, 0, NULL, "Id field."},
	{"tags", OPT_LIST, "[a, b]", 0, 0, NULL, "Tags."},
	{"offset", OPT_INT, "0", 0, 0, NULL, "Unbounded."},
	{0},
};

static const struct opt_def export_opts[] = {
	{"format", OPT_ENUM, "jsonl", 0, 0, "jsonl|parquet", "Format."},
	{"exclude", OPT_LIST, "[]", 0, 0, NULL, "Fields left out."},
	{0},
};

static const struct config_section sections[] = {
	{NULL, global_opts, "Global."},
	{"import", import_opts, "Input."},
	{"export", export_opts, "Output."},
};

static void exercise(struct config *cfg, FILE *sink)
{
	char h[SHA256_HEX];
	config_section_hash(cfg, NULL, h);
	config_section_hash(cfg, "import", h);
	config_section_hash(cfg, "export", h);
	config_show(cfg, sink, true);
	config_free(cfg);
}

static char path[64];

static void remove_input(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink) {
		snprintf(path, sizeof path, "/tmp/fuzz_config.%d.yaml", (int)getpid());
		sink = fopen("/dev/null", "w");
		if (!sink)
			abort();
		atexit(remove_input);
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);

	struct config *cfg = config_load(path, sections, ARRAY_LEN(sections), NULL, 0);
	if (cfg)
		exercise(cfg, sink);

	/* The first line, cut at a NUL, as an override on top of the defaults. */
	size_t n = 0;
	while (n < size && data[n] != '\n' && data[n])
		n++;
	char *arg = xstrndup((const char *)data, n);
	cfg = config_load(NULL, sections, ARRAY_LEN(sections), &arg, 1);
	if (cfg)
		exercise(cfg, sink);
	free(arg);
	return 0;
}
