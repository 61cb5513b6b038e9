/* fuzz_near_files: dedup-near's per-shard files read back from any bytes. The input's first
 * byte picks the signature length (1..16 hashes), the rest is both the key file and the
 * signature file of shard 0. Reading the key file must end, hand out records in increasing
 * order with keep keys of an allowed length inside what was read, and stop at damage with an
 * error; lookups by document key (some taken from the input) must either find a record or
 * fail cleanly, and a signature handed out lies inside the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "near_files.h"

static char path[64];

static void check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_near_files: %s\n", what);
	abort();
}

static char *path_of(const void *ctx, size_t shard, const char *ext)
{
	(void)ctx, (void)ext;
	return shard == 0 ? xstrdup(path) : xasprintf("%s.missing-%zu", path, shard);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (!path[0])
		snprintf(path, sizeof path, "/tmp/fuzz_near_files.%ld", (long)getpid());
	unsigned nh = 1 + data[0] % 16;
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	size_t body = size - 1;

	/* the key file, record by record */
	struct near_keys k;
	near_keys_open(&k, path_of, NULL);
	check(near_keys_shard(&k, 0) == 0, "cannot open the file just written");
	uint64_t last = 0, n = 0;
	int rc;
	while ((rc = near_keys_next(&k)) == 1) {
		check(n == 0 || k.at > last, "records out of order");
		check(k.kl >= NEAR_KEY_MIN && k.kl <= NEAR_KEY_MAX, "keep key length out of range");
		check(k.kk >= k.b.p && k.kk + k.kl <= k.b.p + k.b.len, "keep key outside the buffer");
		check(++n <= body / (9 + NEAR_KEY_MIN) + 1, "more records than the bytes hold");
		last = k.at;
	}
	check(rc == 0 || rc == -1, "bad return");
	near_keys_close(&k);

	/* lookups by document key: record numbers from the input, in increasing order */
	near_keys_open(&k, path_of, NULL);
	struct near_sigs s;
	near_sigs_open(&s, path_of, NULL, nh);
	uint32_t rec = 0;
	for (size_t i = 1; i + 2 <= size && i < 64; i += 2) {
		rec += (uint32_t)data[i] | (uint32_t)data[i + 1] << 8;
		unsigned char dk[NEAR_DK];
		be_put(dk, i % 17 == 0 ? 1 : 0, 4); /* now and then a shard with no file */
		be_put(dk + 4, rec, 4);
		const void *kk;
		size_t kl;
		if (near_keys_find(&k, dk, &kk, &kl) == 0)
			check(kl >= NEAR_KEY_MIN && kl <= NEAR_KEY_MAX, "found keep key out of range");
		const unsigned char *sig;
		if (near_sigs_get(&s, dk, &sig) == 0) {
			uint64_t at = (uint64_t)rec * 4 * nh;
			check(at + 4 * nh <= body, "a signature past the end of the file");
			check(!memcmp(sig, data + 1 + at, 4 * nh), "a signature that is not the file's");
		}
		if (i % 17 == 0) { /* the lookups of a shard start again after another shard */
			near_keys_close(&k);
			near_keys_open(&k, path_of, NULL);
		}
	}
	near_keys_close(&k);
	near_sigs_close(&s);
	unlink(path);
	return 0;
}
