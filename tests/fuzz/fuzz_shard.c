/* fuzz_shard: arbitrary bytes as a shard file (plain, gzip or zstd by their magic): the line
 * reader and the shard reader must reach the end or fail cleanly, never crash or hang. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"
#include "shard.h"

static const char *scratch(void)
{
	static char path[512];

	if (!path[0]) {
		const char *dir = getenv("TMPDIR");
		snprintf(path, sizeof path, "%s/curate-fuzz-shard-%d", dir ? dir : "/tmp",
			 (int)getpid());
	}
	return path;
}

static int put(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return -1;
	while (size) {
		ssize_t w = write(fd, data, size);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		data += w;
		size -= (size_t)w;
	}
	return close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct doc d;
	static int ready;
	const char *path = scratch(), *line;
	char sha[SHA256_HEX] = "";
	size_t len;
	int rc;

	if (!ready) {
		doc_init(&d);
		ready = 1;
	}
	if (put(path, data, size))
		abort();

	struct lines *l = lines_open(path, 1);
	if (!l)
		abort();
	while ((rc = lines_next(l, &line, &len)) == 1)
		;
	if (rc == 0)
		memcpy(sha, lines_sha256(l), SHA256_HEX);
	lines_close(l);

	/* with the true sum when the file reads to the end, so the check must pass */
	struct shard_reader *r = shard_reader_open(path, sha[0] ? sha : NULL);
	if (!r)
		abort();
	while ((rc = shard_reader_next(r, &d)) == 1)
		;
	if (rc == 0 && !sha[0])
		abort(); /* the lines reader failed where the shard reader did not */
	shard_reader_close(r);
	unlink(path);
	return 0;
}
