/* fuzz_report: libFuzzer target for the report's reading of a stage's stats.json and
 * manifest.json. The input is stats.json, or "STATS\n--\nMANIFEST" to fuzz both; the stage
 * is dedup-near in a scratch workdir, so the cluster, drop, token-file and language paths
 * all see the bytes. The report must be written (a bad file is a note) or fail cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

static char *dir, *stage, *stats, *manifest, *out;

static void cleanup(void) { remove_tree(dir); }

static void setup(void)
{
	char tmpl[] = "/tmp/fuzz_report.XXXXXX";
	dir = xstrdup(mkdtemp(tmpl));
	stage = xasprintf("%s/dedup-near", dir);
	mkdir_p(stage);
	stats = xasprintf("%s/stats.json", stage);
	manifest = xasprintf("%s/manifest.json", stage);
	out = xasprintf("%s/report.html", dir);
	atexit(cleanup);
}

static const char default_manifest[] =
	"{\"stage\":\"dedup-near\",\"shard_count\":1,\"shards\":[{\"name\":\"part-00000.jsonl.zst\"}],"
	"\"files\":[{\"name\":\"part-00000.idx\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir)
		setup();
	const char *sep = memmem(data, size, "\n--\n", 4);
	size_t slen = sep ? (size_t)(sep - (const char *)data) : size;
	write_file_atomic(stats, data, slen);
	if (sep)
		write_file_atomic(manifest, sep + 4, size - slen - 4);
	else
		write_file_atomic(manifest, default_manifest, strlen(default_manifest));
	size_t n;
	if (report_write(dir, out, 1, &n) < 0 && n)
		abort(); /* with a stage read, only a write error may fail */
	return 0;
}
