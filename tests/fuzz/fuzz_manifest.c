/* fuzz_manifest: libFuzzer target for the reader of a stage's manifest.json, which plans the
 * next stage (one task per listed shard) and which `curate inspect` follows. The input is
 * the manifest text. An accepted manifest must give a plan that stays in the stage's
 * directory: plain, unique file names, 64-digit hex checksums, no more shards than
 * shard_count; a refused one must say why, naming the file, and leave nothing behind. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"
#include "util.h"

static const char path[] = "fuzz/manifest.json";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m;
	if (manifest_parse((const char *)data, size, path, &m) < 0) {
		if (strncmp(err_get(), path, strlen(path)) || m.nshards || m.shards || m.stage)
			abort();
		return 0;
	}
	if (!m.stage || !*m.stage || strlen(m.fingerprint) != 64 || m.nshards > m.shard_count)
		abort();
	for (size_t i = 0; i < m.nshards; i++) {
		const struct manifest_shard *s = &m.shards[i];
		if (!*s->name || strchr(s->name, '/') || !strcmp(s->name, ".") ||
		    !strcmp(s->name, "..") || strlen(s->sha256) != 64 ||
		    strspn(s->sha256, "0123456789abcdef") != 64)
			abort();
		for (size_t k = 0; k < i; k++)
			if (!strcmp(m.shards[k].name, s->name))
				abort();
	}
	manifest_release(&m);
	if (m.nshards || m.shards || m.stage)
		abort();
	return 0;
}
