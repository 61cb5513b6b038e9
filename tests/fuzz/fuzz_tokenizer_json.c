/* fuzz_tokenizer_json: libFuzzer target for the tokenizer loaders (bpe_load_mem): input that
 * starts with '{' is a tokenizer.json, anything else a .tiktoken rank file (r50k pattern).
 * A loaded tokenizer encodes a fixed text and the input itself, and every id it gives must
 * decode (normalizers and U+FFFD repair change bytes, so no round trip is asserted). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bpe *b = bpe_load_mem((const char *)data, size, "fuzz.json", "r50k_base");
	if (!b)
		return 0;
	static const char sample[] = "Hello, world! int main() { return 0; }\n\t  \xc3\xa9\xff";
	struct bpe_ids ids = {0};
	struct buf back = BUF_INIT;
	bpe_encode(b, sample, sizeof sample - 1, &ids);
	bpe_decode(b, ids.v, ids.n, &back);
	ids.n = 0;
	buf_reset(&back);
	bpe_encode(b, (const char *)data, size, &ids);
	if (bpe_decode(b, ids.v, ids.n, &back) < 0)
		abort(); /* encode gave an id decode does not know */
	bpe_ids_release(&ids);
	buf_release(&back);
	bpe_free(b);
	return 0;
}
