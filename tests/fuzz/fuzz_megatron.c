/* fuzz_megatron: libFuzzer target for the Megatron indexed-dataset reader. The input is
 * split in two: its first 4 bytes are the little-endian length L of the .idx part (cut to
 * what follows), the next L bytes are PREFIX.idx and the rest PREFIX.bin, written to a
 * private temporary directory. An accepted dataset must read back whole: every document in
 * range reads, with lengths that add up to the token count and ids within the dtype, and
 * the first id past the end is refused. Errors are fine; crashes and leaks are not. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "megatron.h"
#include "util.h"

static char *dir, *prefix, *idx, *bin;

static void cleanup(void)
{
	unlink(idx);
	unlink(bin);
	rmdir(dir);
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/fuzz_megatron.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpl))
		abort();
	dir = tmpl;
	prefix = xasprintf("%s/m", dir);
	idx = xasprintf("%s.idx", prefix);
	bin = xasprintf("%s.bin", prefix);
	atexit(cleanup);
}

static void put(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bpe_ids ids;
	if (!dir)
		setup();
	size_t ilen = 0;
	if (size >= 4) {
		ilen = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
		       (size_t)data[3] << 24;
		data += 4, size -= 4;
	}
	if (ilen > size)
		ilen = size;
	put(idx, data, ilen);
	put(bin, data + ilen, size - ilen);

	struct megatron_reader *r = megatron_open(prefix);
	if (!r) {
		if (!strstr(err_get(), prefix))
			abort(); /* the error must name the file */
		return 0;
	}
	int dtype = megatron_dtype(r);
	uint64_t width = dtype == MEGATRON_UINT16 ? 2 : 4, docs = megatron_docs(r), sum = 0;
	if ((dtype != MEGATRON_UINT16 && dtype != MEGATRON_INT32) ||
	    megatron_tokens(r) * width != size - ilen)
		abort();
	for (uint64_t i = 0; i < docs; i++) {
		if (megatron_read_doc(r, i, &ids) < 0)
			abort(); /* an accepted index promised this document */
		sum += ids.n;
		for (size_t k = 0; k < ids.n && width == 2; k++)
			if (ids.v[k] > 0xffff)
				abort();
	}
	if (sum != megatron_tokens(r) || megatron_read_doc(r, docs, &ids) == 0 || ids.n)
		abort();
	megatron_close(r);
	return 0;
}
