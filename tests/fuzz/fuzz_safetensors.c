/* fuzz_safetensors: libFuzzer target for the checkpoint loaders: input starting with '{' is
 * a config.json (scorer_parse_config), anything else a safetensors image (st_parse_mem).
 * Every tensor of an accepted image must lie inside the input with the size its shape and
 * dtype imply, and converting it must not read outside. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "scorer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && data[0] == '{') {
		struct scorer_config c;
		if (scorer_parse_config((const char *)data, size, "fuzz/config.json", &c) == 0 &&
		    (c.heads % c.kv_heads || c.head_dim % 2 || c.head_dim < 2))
			abort(); /* validation let a shape through that the forward cannot run */
		return 0;
	}
	struct st_set *s = st_parse_mem(data, size, "fuzz.safetensors");
	if (!s)
		return 0;
	for (size_t i = 0; i < st_count(s); i++) {
		const struct st_tensor *t = st_at(s, i);
		const uint8_t *p = t->data;
		uint64_t n = 1;
		for (int d = 0; d < t->ndim; d++)
			n *= (uint64_t)t->shape[d];
		if (p < data || p + t->nbytes > data + size || n * st_dtype_size(t->dtype) != t->nbytes)
			abort();
		float tmp[16];
		st_to_f32(t->dtype, t->data, n < 16 ? (size_t)n : 16, tmp);
		if (st_find(s, t->name) == NULL)
			abort();
	}
	st_free(s);
	return 0;
}
