/* fuzz_warc: the WARC reader over any bytes (plain or gzip) must end, move forward at every
 * step, hand out records whose block has its Content-Length and respects the cap, and leave
 * HTTP parsing and decoding of response blocks safe. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/http.h"
#include "web/warc.h"

static void check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_warc: %s\n", what);
	abort();
}

static void read_all(const uint8_t *data, size_t size, uint64_t cap)
{
	static struct buf out, tmp;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return;
	struct warc_reader *r = warc_open(f, "fuzz", cap);
	struct warc_record rec;
	const char *reason;
	uint64_t bytes, steps = 0, last = 0;
	int rc, first = 1;
	while ((rc = warc_next(r, &rec, &reason, &bytes)) != WARC_END) {
		check(rc != WARC_ERROR, "I/O error on memory");
		/* every step consumes input: gzip expands at most ~1032x, so this bounds the loop */
		check(++steps <= 4 * (size + 1) * 1100, "no progress");
		if (rc == WARC_SKIP) {
			check(reason && *reason, "skip without reason");
			continue;
		}
		check(first || rec.offset > last, "records out of order");
		first = 0;
		last = rec.offset;
		check(rec.block != NULL && rec.length <= cap, "record block missing or above the cap");
		if (!strcmp(rec.type, "response")) {
			struct http_response h;
			const char *p;
			size_t n;
			if (http_parse(rec.block, (size_t)rec.length, &h) == 0) {
				check(h.body >= rec.block && h.body + h.body_len <= rec.block + rec.length,
				      "HTTP body outside the block");
				if (http_decode_body(&h, &out, &tmp, 1 << 16, &p, &n, &reason) == 0)
					check(n <= 1 << 16, "decoded body above the cap");
			}
		}
	}
	warc_close(r);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_all(data, size, 1 << 20);
	read_all(data, size, 64); /* the too_large path */
	return 0;
}
